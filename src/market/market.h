/*
 * market.h - the deterministic market state machine (the seed's "Distributed Exchange") and
 * Send: providers, deployments, groups, orders, fulfillments, leases, escrow, collateral,
 * params, validators (balances, supply and fees are the bank's, src/bank). Pure: reads and writes
 * state only through kumo_kv_t; no I/O, no clock, no randomness, no floats. Time is block height.
 *
 * Failure contract: a msg that fails returns its KUMO_E* code with a detail and may have
 * written partial state; the caller (chain) wraps every tx in a kv savepoint and rolls it back,
 * so a failed msg changes nothing.
 */
#ifndef KUMO_MARKET_MARKET_H
#define KUMO_MARKET_MARKET_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/core.h"

/* Bids per order that params.max_bids_per_order may allow: SubmitLease, eviction and the
 * facilitator read every bid of an order, so this bounds their work per order. */
#define KUMO_MARKET_BIDS_PER_ORDER_MAX 1024u
/* Groups one deployment may ever hold (a gseq is used once: a name added by UpdateDeployment
 * gets the next one). Bounds the groups an UpdateDeployment visits and the gseq range. */
#define KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX KUMO_DEPLOYMENT_GROUP_LIFE_MAX
/* Ceiling for params.max_wait_blocks: a wait is a few blocks to a few hours, never years. */
#define KUMO_MARKET_WAIT_BLOCKS_MAX 10000000u
/* Ceiling for a deployment's escrow warning threshold (escrow_warn_blocks): months of blocks,
 * never an absurd number that could not mean anything. */
#define KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX 10000000u
/* Bounds of a provider's published offer (ProviderOffer): a unit price per block and a free
 * amount (milli-CPU, bytes, ukumo) that could mean anything stay below these, so products in
 * a quote cannot overflow and absurd values are refused. */
#define KUMO_MARKET_OFFER_PRICE_MAX  1000000000000ull
#define KUMO_MARKET_OFFER_AMOUNT_MAX (1ull << 62)
/* Free GPUs an offer lists: kinds (vendor, model, memory) and GPUs in all, what one provider
 * daemon declares at most (KUMO_PROVIDER_GPU_COUNT_MAX). */
#define KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX 16u
#define KUMO_MARKET_OFFER_GPU_COUNT_MAX      64u
/* Index entries one query page may visit before it returns a partial page and a cursor, so a
 * selective filter over a large index cannot turn one call into a full scan. */
#define KUMO_MARKET_QUERY_SCAN_COUNT_MAX 10000u

/* Receives events, in the order the state changes happen; ev is borrowed for the call. A
 * negative return fails the msg with that code. */
typedef struct kumo_market_events {
    void *ctx;
    int (*emit_cb)(void *ctx, const Kumo__Event *ev, kumo_err_ctx_t *err);
} kumo_market_events_t;

/* Everything a msg needs from the block and tx it runs in. */
typedef struct kumo_market_ctx {
    const kumo_kv_t *kv;
    const Kumo__Params *params;
    uint64_t height;       /* height of the block being applied */
    const uint8_t *signer; /* KUMO_ADDRESS_BYTES: the tx signer (pays the tx fee) */
    /* KUMO_ADDRESS_BYTES: the account on whose behalf the msg runs, which owns what it touches
     * and pays its deposits; NULL: the signer (a plain tx). Every owner check uses it. */
    const uint8_t *principal;
    kumo_market_events_t events; /* emit_cb may be NULL: events dropped */
    uint32_t tx_index;           /* copied into events */
    /* The caller (chain) already checked that the signer may send facilitator msgs (an
     * operator of the active validator set); false: the genesis validator records decide. */
    bool facilitator_authorized;
    uint32_t msg_index;
} kumo_market_ctx_t;

/* Stateless checks of one msg (docs/design.md 3.4): type known (KUMO_EUNKNOWNMSG), required
 * fields present (KUMO_EEMPTY), lengths and counts within limits (KUMO_ELIMIT), addresses 20
 * bytes, versions 32 bytes, ids and counts/prices nonzero, strings UTF-8 (KUMO_EINVAL),
 * duplicates (KUMO_EDUPLICATE), overflowing totals (KUMO_EOVERFLOW). Touches no state. */
KUMO_MUST_USE int kumo_market_msg_validate_basic(const Kumo__Msg *msg, kumo_err_ctx_t *err);

/* True for SubmitLease, SubmitStaleLease, DeploymentClosed (only validator operators may send). */
bool kumo_market_msg_is_facilitator(const Kumo__Msg *msg);

/* Applies one msg at ctx->height on behalf of ctx->principal (the signer when NULL). Runs
 * validate_basic first. Facilitator msgs from a signer that is not a validator operator fail with
 * KUMO_EUNAUTH. Every rule's code is listed in docs/design.md 3.4; stored data that does not decode
 * or contradicts its key is KUMO_ECORRUPT; KUMO_ENOMEM when an allocation fails. On failure the kv
 * may hold partial writes: run it inside a savepoint and roll back. ctx->params must be the stored
 * params. */
KUMO_MUST_USE int
kumo_market_msg_apply(kumo_market_ctx_t *ctx, const Kumo__Msg *msg, kumo_err_ctx_t *err);

/* Writes the genesis state: params, balances (supply), validators, providers, and Global
 * (next_bid_seq 1). The kv must be empty (KUMO_EEXIST); params are required (KUMO_EEMPTY) and
 * validated. Rejects bad address lengths, zero-power validators, bad provider fields
 * (KUMO_EINVAL/KUMO_EEMPTY/KUMO_ELIMIT), duplicate addresses in a list (KUMO_EDUPLICATE), lists
 * over their limits (KUMO_ELIMIT), a supply that overflows (KUMO_EOVERFLOW). */
KUMO_MUST_USE int
kumo_market_genesis_apply(const kumo_kv_t *kv, const Kumo__Genesis *genesis, kumo_err_ctx_t *err);
/* Default params (docs/design.md 3.6). */
void kumo_market_params_default(Kumo__Params *params);
/* Validates params: periods nonzero, max_tx_bytes 1..KUMO_TX_BYTES_MAX, max_block_bytes from
 * max_tx_bytes to KUMO_BLOCK_BYTES_MAX, max_bids_per_order 1..KUMO_MARKET_BIDS_PER_ORDER_MAX,
 * rate <= 10^9 ppb, max_wait_blocks <= KUMO_MARKET_WAIT_BLOCKS_MAX. NULL is KUMO_EEMPTY. */
KUMO_MUST_USE int kumo_market_params_validate(const Kumo__Params *params, kumo_err_ctx_t *err);

/* The name of a close reason as events and texts show it ("tenant", "insufficient_funds",
 * "manifest_refused", "stale", "group_removed", "replaced", "provider_closed"; "none" for none,
 * "unknown" for a value this build does not know). Never NULL. */
const char *kumo_market_close_reason_name(Kumo__CloseReason reason);

/* ---- reads ---- */

/* Reads state objects; *out freed with kumo_codec_free. KUMO_ENOTFOUND when absent. */
KUMO_MUST_USE int
kumo_market_params_get(const kumo_kv_t *kv, Kumo__Params **out, kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_global_get(const kumo_kv_t *kv, Kumo__Global **out, kumo_err_ctx_t *err);
/* True when addr is a validator operator address in state. */
KUMO_MUST_USE int kumo_market_validator_is_operator(const kumo_kv_t *kv,
                                                    const uint8_t *addr,
                                                    bool *out,
                                                    kumo_err_ctx_t *err);

/* Leases of provider addr that are active or closing but not yet released (the provider's
 * live_lease_count): 0 when addr is no provider. One point read; the mempool uses it to tell
 * confirmations that keep leases alive from any other tx. */
KUMO_MUST_USE int kumo_market_provider_live_lease_count(const kumo_kv_t *kv,
                                                        const uint8_t *addr,
                                                        uint32_t *out,
                                                        kumo_err_ctx_t *err);

/* ---- facilitator (MatchOpenOrders, InvalidateStaleLeases, DeploymentClosed) ---- */

/* Receives a due msg; msg is borrowed for the call. Return 0 to go on, 1 to stop, or a
 * negative code to fail the collection with it. Runs inside a kv scan: must not write. */
typedef int (*kumo_market_msg_cb)(void *cb_ctx, const Kumo__Msg *msg);

/* Produces, from the state, every facilitator msg that is due in a block at height, in this
 * order: a SubmitStaleLease per active lease unconfirmed for more than reconfirmation_period,
 * a SubmitLease per open order whose wait has elapsed and that has bids (naming the best bid by
 * the same rule the msg checks), a DeploymentClosed per closing deployment whose leases are all
 * released or whose release_timeout has passed; each kind in key order (due height first). At
 * most msg_count_max msgs. Every msg is due on this state; one may invalidate a later one
 * (kumo_chain_facilitator_txs_build applies them in order and keeps those that succeed). */
KUMO_MUST_USE int kumo_market_facilitator_collect(const kumo_kv_t *kv,
                                                  uint64_t height,
                                                  uint32_t msg_count_max,
                                                  kumo_market_msg_cb cb,
                                                  void *cb_ctx,
                                                  kumo_err_ctx_t *err);

/* ---- placement requirements ---- */

/* Whether the provider at address provider (KUMO_ADDRESS_BYTES), which declares attrs and has
 * audits (its ProviderAudits, any order), meets a group's requirements r (NULL: always): 0,
 * KUMO_ENOTLISTED (r lists the providers that may bid, not this one), KUMO_EATTRIBUTE (a
 * required attribute is not declared) or KUMO_ESIGNEDBY (a required auditor has not signed
 * them), with the detail naming what is missing. The rule the chain applies to bids
 * (docs/design.md 3.4), for callers that hold copies of the chain's objects (a provider daemon
 * deciding whether to bid, a tenant's quote). Pure. */
KUMO_MUST_USE int kumo_market_requirements_match_list(const Kumo__PlacementRequirements *r,
                                                      const uint8_t *provider,
                                                      Kumo__Attribute *const *attrs,
                                                      size_t attr_count,
                                                      Kumo__ProviderAudit *const *audits,
                                                      size_t audit_count,
                                                      kumo_err_ctx_t *err);

/* ---- queries (paginated, key order) ---- */

typedef enum kumo_market_object {
    KUMO_MARKET_OBJ_ACCOUNT = 1,
    KUMO_MARKET_OBJ_PROVIDER,
    KUMO_MARKET_OBJ_DEPLOYMENT,
    KUMO_MARKET_OBJ_GROUP,
    KUMO_MARKET_OBJ_ORDER,
    KUMO_MARKET_OBJ_FULFILLMENT,
    KUMO_MARKET_OBJ_LEASE,
    KUMO_MARKET_OBJ_VALIDATOR,
    KUMO_MARKET_OBJ_AUDIT, /* ProviderAudit; provider filter: one provider's auditors */
    KUMO_MARKET_OBJ_GRANT, /* Grant; owner filter: the granter; grantee filter */
} kumo_market_object_t;

/* Filters; zero/NULL fields do not filter. state is the object's enum value. */
typedef struct kumo_market_query {
    kumo_market_object_t object;
    const uint8_t *owner;       /* tenant address */
    const uint8_t *provider;    /* provider address */
    const uint8_t *grantee;     /* grants: the grantee (without owner: filtered while scanned) */
    const Kumo__OrderId *order; /* fulfillments/leases of one order */
    uint64_t dseq;              /* with owner: one deployment's groups/orders/leases */
    uint32_t state;
    uint32_t limit;        /* 1..KUMO_QUERY_PAGE_COUNT_MAX */
    kumo_bytes_t page_key; /* opaque cursor from the previous page; empty for the first */
} kumo_market_query_t;

/* Receives each matching object (a Kumo__<Object>, borrowed for the call). Return 0 to go on,
 * 1 to stop (the cursor then points after this object), or a negative code to fail. Runs
 * inside a kv scan: must not write. */
typedef int (*kumo_market_object_cb)(void *cb_ctx, const ProtobufCMessage *obj);

/* Runs a query; next_key_out (cap KUMO_KEY_BYTES_MAX) gets the cursor of the next page, empty
 * when there is none. A page holds at most limit objects and stops early (with a cursor) after
 * KUMO_MARKET_QUERY_SCAN_COUNT_MAX visited entries. Always a prefix scan of the most selective
 * key space: order, provider index, state index, owner (docs/design.md 3.5). A filter the
 * object does not have, dseq without owner, limit 0 or a page key from another query:
 * KUMO_EINVAL; limit over KUMO_QUERY_PAGE_COUNT_MAX: KUMO_ELIMIT. */
KUMO_MUST_USE int kumo_market_query_run(const kumo_kv_t *kv,
                                        const kumo_market_query_t *q,
                                        kumo_market_object_cb cb,
                                        void *cb_ctx,
                                        kumo_buf_t *next_key_out,
                                        kumo_err_ctx_t *err);

/* ---- escrow ---- */

/* How long a deployment's escrow lasts at a height, at the current prices. */
typedef struct kumo_market_escrow_cover {
    uint64_t height;
    uint64_t escrow;          /* in state: what is left after the last payments */
    uint64_t owed;            /* earned by the active leases since their last payment */
    uint64_t left;            /* escrow - owed, at least 0: what the tenant still has */
    uint64_t price_per_block; /* sum of the active leases' price_total */
    uint64_t blocks_covered;  /* left / price_per_block; UINT64_MAX without active leases */
    uint64_t warn_blocks;     /* the deployment's escrow_warn_blocks (0: no warning) */
    uint32_t active_lease_count;
} kumo_market_escrow_cover_t;

/* The escrow cover of deployment owner/dseq at height (the head: payments are lazy, so what
 * the active leases earned up to height is owed). Reads the deployment and its active leases
 * (at most one per group). KUMO_ENOTFOUND when there is no such deployment. */
KUMO_MUST_USE int kumo_market_escrow_cover_get(const kumo_kv_t *kv,
                                               const uint8_t *owner,
                                               uint64_t dseq,
                                               uint64_t height,
                                               kumo_market_escrow_cover_t *out,
                                               kumo_err_ctx_t *err);

/* ---- invariants ---- */

/* Checks, by scanning the whole state: supply == sum of balances + escrow + locked collateral
 * + fee pool; Global totals (escrow, collateral, minted interest) equal their sums; counters
 * (bid_count, open_bid_count, live_lease_count, unreleased_lease_count, group_count) equal
 * what they count; objects agree with each other (open orders under active deployments, an
 * active lease is its group's lease, ...); every index holds exactly the keys its objects
 * imply; every grant is under its key and within its spend limit. KUMO_ECORRUPT with a detail. O(n
 * log n) and memory for the whole state: for tests and audits, never for msgs. */
KUMO_MUST_USE int kumo_market_invariants_check(const kumo_kv_t *kv, kumo_err_ctx_t *err);

#endif
