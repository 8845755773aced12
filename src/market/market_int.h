/*
 * market_int.h - private to src/market: store keys, typed state access, the per-msg state
 * context, events and the msg handlers. Pure: nothing here does I/O.
 *
 * Key layout (docs/design.md section 3): one prefix byte, then big-endian fields; addresses
 * are 20 raw bytes. An "order body" is owner(20) dseq(8) gseq(4) oseq(4) = 36 bytes; a "lease
 * body" is an order body followed by the provider (56 bytes).
 */
#ifndef KUMO_MARKET_MARKET_INT_H
#define KUMO_MARKET_MARKET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bank/bank.h"
#include "market/market.h"

/* ---- keys ----------------------------------------------------------------------------------- */

#define KUMO_MARKET_PREFIX_ACCOUNT       KUMO_BANK_PREFIX_ACCOUNT
#define KUMO_MARKET_PREFIX_PROVIDER      0x02u
#define KUMO_MARKET_PREFIX_DEPLOYMENT    0x03u
#define KUMO_MARKET_PREFIX_GROUP         0x04u
#define KUMO_MARKET_PREFIX_ORDER         0x05u
#define KUMO_MARKET_PREFIX_FULFILLMENT   0x06u
#define KUMO_MARKET_PREFIX_LEASE         0x07u
#define KUMO_MARKET_PREFIX_PARAMS        0x08u
#define KUMO_MARKET_PREFIX_GLOBAL        0x09u
#define KUMO_MARKET_PREFIX_VALIDATOR     0x0au
#define KUMO_MARKET_PREFIX_AUDIT         0x0cu /* provider auditor -> ProviderAudit */
#define KUMO_MARKET_PREFIX_GRANT         0x0du /* granter grantee dseq -> Grant */
#define KUMO_MARKET_PREFIX_MATCH         0x20u
#define KUMO_MARKET_PREFIX_STALE         0x21u
#define KUMO_MARKET_PREFIX_CLOSING       0x22u
#define KUMO_MARKET_PREFIX_LEASE_BY_PROV 0x23u
#define KUMO_MARKET_PREFIX_BID_BY_PROV   0x24u
#define KUMO_MARKET_PREFIX_STATE         0x25u

#define KUMO_MARKET_DEP_BODY_BYTES   (KUMO_ADDRESS_BYTES + 8u)
#define KUMO_MARKET_GROUP_BODY_BYTES (KUMO_MARKET_DEP_BODY_BYTES + 4u)
#define KUMO_MARKET_ORDER_BODY_BYTES (KUMO_MARKET_GROUP_BODY_BYTES + 4u)
#define KUMO_MARKET_LEASE_BODY_BYTES (KUMO_MARKET_ORDER_BODY_BYTES + KUMO_ADDRESS_BYTES)
/* The longest key: the stale index of a lease (prefix, stale_height, lease body). */
#define KUMO_MARKET_KEY_BYTES (1u + 8u + KUMO_MARKET_LEASE_BODY_BYTES)
_Static_assert(2u + 1u + KUMO_MARKET_LEASE_BODY_BYTES <= KUMO_MARKET_KEY_BYTES,
               "the state index of a lease fits");

_Static_assert(KUMO_MARKET_KEY_BYTES + 1u <= KUMO_KEY_BYTES_MAX,
               "every market key (and its successor) fits the store's key bound");

typedef struct kumo_market_key {
    uint8_t bytes[KUMO_MARKET_KEY_BYTES];
    uint32_t len;
} kumo_market_key_t;

/* An order id with a fixed-size owner, as keys hold it. */
typedef struct kumo_market_oid {
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    uint32_t gseq;
    uint32_t oseq;
} kumo_market_oid_t;

static inline kumo_bytes_t kumo_market_key_bytes(const kumo_market_key_t *k)
{
    return kumo_bytes_make(k->bytes, k->len);
}

void kumo_market_key_init(kumo_market_key_t *k, uint8_t prefix);
void kumo_market_key_put_u8(kumo_market_key_t *k, uint8_t v);
void kumo_market_key_put_u32(kumo_market_key_t *k, uint32_t v);
void kumo_market_key_put_u64(kumo_market_key_t *k, uint64_t v);
void kumo_market_key_put_addr(kumo_market_key_t *k, const uint8_t *addr);
void kumo_market_key_put_raw(kumo_market_key_t *k, const uint8_t *p, size_t len);
void kumo_market_key_put_order_body(kumo_market_key_t *k, const kumo_market_oid_t *oid);

void kumo_market_key_account(kumo_market_key_t *k, const uint8_t *addr);
void kumo_market_key_provider(kumo_market_key_t *k, const uint8_t *addr);
void kumo_market_key_validator(kumo_market_key_t *k, const uint8_t *addr);
void kumo_market_key_params(kumo_market_key_t *k);
void kumo_market_key_global(kumo_market_key_t *k);
void kumo_market_key_deployment(kumo_market_key_t *k, const uint8_t *owner, uint64_t dseq);
void kumo_market_key_group(kumo_market_key_t *k,
                           const uint8_t *owner,
                           uint64_t dseq,
                           uint32_t gseq);
void kumo_market_key_order(kumo_market_key_t *k, const kumo_market_oid_t *oid);
void kumo_market_key_fulfillment(kumo_market_key_t *k,
                                 const kumo_market_oid_t *oid,
                                 const uint8_t *provider);
void kumo_market_key_lease(kumo_market_key_t *k,
                           const kumo_market_oid_t *oid,
                           const uint8_t *provider);
/* 0x20 match_height order_body */
void kumo_market_key_match(kumo_market_key_t *k,
                           uint64_t match_height,
                           const kumo_market_oid_t *oid);
/* 0x21 stale_height lease_body */
void kumo_market_key_stale(kumo_market_key_t *k,
                           uint64_t stale_height,
                           const kumo_market_oid_t *oid,
                           const uint8_t *provider);
/* 0x22 due_height owner dseq */
void kumo_market_key_closing(kumo_market_key_t *k,
                             uint64_t due_height,
                             const uint8_t *owner,
                             uint64_t dseq);
/* 0x23 / 0x24 provider order_body */
void kumo_market_key_lease_by_provider(kumo_market_key_t *k,
                                       const uint8_t *provider,
                                       const kumo_market_oid_t *oid);
void kumo_market_key_bid_by_provider(kumo_market_key_t *k,
                                     const uint8_t *provider,
                                     const kumo_market_oid_t *oid);
/* 0x25 state object_key */
void kumo_market_key_state(kumo_market_key_t *k, uint32_t state, const kumo_market_key_t *obj);

/* 0x0c provider [auditor] (auditor NULL: the prefix of a provider's audits) */
void kumo_market_key_audit(kumo_market_key_t *k, const uint8_t *provider, const uint8_t *auditor);

/* 0x0d granter [grantee dseq] (grantee NULL: the prefix of a granter's grants) */
void kumo_market_key_grant(kumo_market_key_t *k,
                           const uint8_t *granter,
                           const uint8_t *grantee,
                           uint64_t dseq);

/* Reads an order body (36 bytes) into oid. */
void kumo_market_oid_from_body(const uint8_t *body, kumo_market_oid_t *oid);
/* oid from a msg's OrderId; the id must have passed validation (owner of 20 bytes). */
void kumo_market_oid_from_msg(const Kumo__OrderId *id, kumo_market_oid_t *oid);
/* A Kumo__OrderId view of oid (owner borrowed from oid). */
void kumo_market_oid_to_msg(const kumo_market_oid_t *oid, Kumo__OrderId *out);
bool kumo_market_oid_equal(const kumo_market_oid_t *a, const kumo_market_oid_t *b);

/* ---- the per-msg state context -------------------------------------------------------------- */

/* Events name the same addresses over and over (a msg's owner, the providers bidding on an
 * order); their bech32 text is kept for the msg's duration, round-robin. */
#define KUMO_MARKET_ADDR_CACHE_COUNT 16u

typedef struct kumo_market_addr_text {
    bool used;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char text[KUMO_ADDRESS_TEXT_BYTES];
} kumo_market_addr_text_t;

typedef struct kumo_market_st {
    const kumo_kv_t *kv;
    const Kumo__Params *params;
    uint64_t height;
    /* The account on whose behalf the msg runs: it owns what the msg touches and pays its
     * deposits (the tx signer, or a granter under MsgExec). The signer only pays the tx fee. */
    const uint8_t *principal;
    const kumo_market_ctx_t *ctx; /* events and indexes; NULL outside a msg */
    Kumo__Global *global;         /* owned; written back when the msg succeeds */
    kumo_buf_t pack;              /* scratch for packing objects */
    kumo_market_addr_text_t addr_cache[KUMO_MARKET_ADDR_CACHE_COUNT];
    uint32_t addr_cache_next;
} kumo_market_st_t;

/* Loads Global; kumo_market_st_finish writes it back (when rc == 0) and frees everything. */
KUMO_MUST_USE int kumo_market_st_begin(kumo_market_st_t *st,
                                       const kumo_kv_t *kv,
                                       const Kumo__Params *params,
                                       uint64_t height,
                                       const uint8_t *principal,
                                       const kumo_market_ctx_t *ctx,
                                       kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_st_finish(kumo_market_st_t *st, int rc, kumo_err_ctx_t *err);

/* ---- raw kv and generic objects ------------------------------------------------------------- */

KUMO_MUST_USE int kumo_market_kv_get(const kumo_kv_t *kv,
                                     const kumo_market_key_t *k,
                                     kumo_bytes_t *val,
                                     kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_kv_put_empty(const kumo_kv_t *kv, const kumo_market_key_t *k, kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_kv_del(const kumo_kv_t *kv, const kumo_market_key_t *k, kumo_err_ctx_t *err);
/* True when the key exists. */
KUMO_MUST_USE int
kumo_market_kv_has(const kumo_kv_t *kv, const kumo_market_key_t *k, bool *out, kumo_err_ctx_t *err);
/* Decodes stored bytes; any decode failure is KUMO_ECORRUPT. */
KUMO_MUST_USE int kumo_market_obj_decode(const ProtobufCMessageDescriptor *desc,
                                         kumo_bytes_t val,
                                         ProtobufCMessage **out,
                                         kumo_err_ctx_t *err);
/* Gets and decodes; KUMO_ENOTFOUND when absent. */
KUMO_MUST_USE int kumo_market_obj_get(const kumo_kv_t *kv,
                                      const kumo_market_key_t *k,
                                      const ProtobufCMessageDescriptor *desc,
                                      ProtobufCMessage **out,
                                      kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_obj_put(const kumo_kv_t *kv,
                                      kumo_buf_t *pack,
                                      const kumo_market_key_t *k,
                                      const ProtobufCMessage *obj,
                                      kumo_err_ctx_t *err);
void kumo_market_obj_free(void *obj);

/* ---- typed objects (get: KUMO_ENOTFOUND when absent; decode failures KUMO_ECORRUPT) ---------- */

KUMO_MUST_USE int kumo_market_provider_get(const kumo_kv_t *kv,
                                           const uint8_t *addr,
                                           Kumo__Provider **out,
                                           kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_provider_put(kumo_market_st_t *st, const Kumo__Provider *p, kumo_err_ctx_t *err);
/* The deployment of an order or lease, which must exist (KUMO_ECORRUPT if not). */
KUMO_MUST_USE int kumo_market_oid_deployment_load(const kumo_kv_t *kv,
                                                  const kumo_market_oid_t *oid,
                                                  Kumo__Deployment **out,
                                                  kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_get(const kumo_kv_t *kv,
                                             const uint8_t *owner,
                                             uint64_t dseq,
                                             Kumo__Deployment **out,
                                             kumo_err_ctx_t *err);
/* Writes d and moves its state (0x25) and closing (0x22) index entries from what they were for
 * prev_state/prev_unreleased (prev_state 0: a new deployment). */
KUMO_MUST_USE int kumo_market_deployment_put(kumo_market_st_t *st,
                                             const Kumo__Deployment *d,
                                             uint32_t prev_state,
                                             uint32_t prev_unreleased,
                                             kumo_err_ctx_t *err);
/* The first height DeploymentClosed may run for a closing deployment. */
KUMO_MUST_USE int kumo_market_deployment_due_height(const Kumo__Deployment *d,
                                                    uint64_t release_timeout,
                                                    uint64_t *out);
KUMO_MUST_USE int kumo_market_group_get(const kumo_kv_t *kv,
                                        const uint8_t *owner,
                                        uint64_t dseq,
                                        uint32_t gseq,
                                        Kumo__Group **out,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_group_put(kumo_market_st_t *st,
                                        const Kumo__Group *g,
                                        uint32_t prev_state,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_order_get(const kumo_kv_t *kv,
                                        const kumo_market_oid_t *oid,
                                        Kumo__Order **out,
                                        kumo_err_ctx_t *err);
/* Writes o and keeps its state and match (0x20, while open with bids) index entries. */
KUMO_MUST_USE int kumo_market_order_put(kumo_market_st_t *st,
                                        const Kumo__Order *o,
                                        uint32_t prev_state,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_fulfillment_get(const kumo_kv_t *kv,
                                              const kumo_market_oid_t *oid,
                                              const uint8_t *provider,
                                              Kumo__Fulfillment **out,
                                              kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_fulfillment_put(kumo_market_st_t *st,
                                              const Kumo__Fulfillment *f,
                                              uint32_t prev_state,
                                              kumo_err_ctx_t *err);
/* Deletes a fulfillment with its index entries. */
KUMO_MUST_USE int kumo_market_fulfillment_del(kumo_market_st_t *st,
                                              const kumo_market_oid_t *oid,
                                              const uint8_t *provider,
                                              uint32_t state,
                                              kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_lease_get(const kumo_kv_t *kv,
                                        const kumo_market_oid_t *oid,
                                        const uint8_t *provider,
                                        Kumo__Lease **out,
                                        kumo_err_ctx_t *err);
/* Writes l and keeps its state, stale (0x21, while active) and by-provider index entries. */
KUMO_MUST_USE int kumo_market_lease_put(kumo_market_st_t *st,
                                        const Kumo__Lease *l,
                                        uint32_t prev_state,
                                        uint64_t prev_last_confirmed,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_lease_stale_height(const Kumo__Lease *l, uint64_t period, uint64_t *out);

/* Collects the keys (all of the same length key_len) under prefix, at most count_max of them
 * (KUMO_ELIMIT beyond). *keys_out is kumo_alloc'd (free with kumo_free). */
KUMO_MUST_USE int kumo_market_keys_collect(const kumo_kv_t *kv,
                                           kumo_bytes_t prefix,
                                           size_t count_max,
                                           kumo_market_key_t **keys_out,
                                           size_t *count_out,
                                           kumo_err_ctx_t *err);
/* The state index prefix of one deployment's objects: 0x25 state prefix owner dseq. */
void kumo_market_key_state_dep_prefix(
    kumo_market_key_t *k, uint32_t state, uint8_t obj_prefix, const uint8_t *owner, uint64_t dseq);

/* ---- bank ------------------------------------------------------------------------------------ */

/* Moves amount between the Global escrow/collateral totals and balances, checked. */
/* Collateral interest: floor(collateral x rate_ppb x blocks / 1e9), capped at what the supply
 * may still grow by (KUMO_SUPPLY_MAX - supply): minting never makes a settlement, hence a
 * confirmation, fail. */
uint64_t
kumo_market_interest(uint64_t collateral, uint64_t rate_ppb, uint64_t blocks, uint64_t supply);
KUMO_MUST_USE int kumo_market_global_add(uint64_t *total, uint64_t amount, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_global_sub(uint64_t *total, uint64_t amount, kumo_err_ctx_t *err);

/* ---- events ---------------------------------------------------------------------------------- */

typedef struct kumo_market_attr {
    const char *key;
    uint64_t value;
    const char *text; /* when non-NULL, the value is this text instead of the number */
} kumo_market_attr_t;

#define KUMO_MARKET_EVENT_ATTR_COUNT_MAX 6u

bool kumo_market_events_on(const kumo_market_st_t *st);
KUMO_MUST_USE int kumo_market_emit_account(kumo_market_st_t *st,
                                           const char *type,
                                           const uint8_t *addr,
                                           const kumo_market_attr_t *attrs,
                                           size_t attr_count,
                                           kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_emit_provider(kumo_market_st_t *st,
                                            const char *type,
                                            const uint8_t *provider,
                                            const kumo_market_attr_t *attrs,
                                            size_t attr_count,
                                            kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_emit_deployment(kumo_market_st_t *st,
                                              const char *type,
                                              const uint8_t *owner,
                                              uint64_t dseq,
                                              const kumo_market_attr_t *attrs,
                                              size_t attr_count,
                                              kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_emit_group(kumo_market_st_t *st,
                                         const char *type,
                                         const uint8_t *owner,
                                         uint64_t dseq,
                                         uint32_t gseq,
                                         const kumo_market_attr_t *attrs,
                                         size_t attr_count,
                                         kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_emit_order(kumo_market_st_t *st,
                                         const char *type,
                                         const kumo_market_oid_t *oid,
                                         const kumo_market_attr_t *attrs,
                                         size_t attr_count,
                                         kumo_err_ctx_t *err);
/* Fulfillment and lease events (id: order/provider). */
KUMO_MUST_USE int kumo_market_emit_bid(kumo_market_st_t *st,
                                       const char *type,
                                       const kumo_market_oid_t *oid,
                                       const uint8_t *provider,
                                       const kumo_market_attr_t *attrs,
                                       size_t attr_count,
                                       kumo_err_ctx_t *err);

/* ---- shared market logic --------------------------------------------------------------------- */

/* price_total = sum of price x count, collateral_total = sum of collateral x count. */
KUMO_MUST_USE int kumo_market_resources_totals(Kumo__ResourceGroup *const *res,
                                               size_t count,
                                               uint64_t *price_total,
                                               uint64_t *collateral_total,
                                               kumo_err_ctx_t *err);

/* True when bid a (price_total, bid_seq) beats bid b: lower total, ties to the lower seq. */
bool kumo_market_bid_is_better(uint64_t a_price, uint64_t a_seq, uint64_t b_price, uint64_t b_seq);

/* What a scan of an order's fulfillments found. */
typedef struct kumo_market_bids {
    uint32_t open_count;
    bool has_best;
    uint8_t best_provider[KUMO_ADDRESS_BYTES];
    uint64_t best_price;
    uint64_t best_seq;
    bool has_worst;
    uint8_t worst_provider[KUMO_ADDRESS_BYTES];
    uint64_t worst_price;
    uint64_t worst_seq;
    uint64_t worst_collateral;
} kumo_market_bids_t;

/* Whether r lists provider among the providers that may bid (false for NULL or no list). */
bool kumo_market_requirements_list(const Kumo__PlacementRequirements *r, const uint8_t *provider);

/* Whether provider may lease group gseq of deployment d as far as the other groups go: 0, or
 * KUMO_EEXCLUSIVE when another live group of d is exclusive and lists it. Reads nothing
 * unless d has exclusive groups. */
KUMO_MUST_USE int kumo_market_exclusive_check(const kumo_kv_t *kv,
                                              const Kumo__Deployment *d,
                                              uint32_t gseq,
                                              const uint8_t *provider,
                                              kumo_err_ctx_t *err);

/* Scans the open fulfillments of an order (reading only their varint fields). With match the
 * best bid is the best of those that may be matched now: whose provider still meets req (the
 * order's requirements, NULL: none) and is not reserved by another exclusive group
 * (kumo_market_exclusive_check); has_best is false when none may. The count and the worst bid
 * cover every open bid. */
KUMO_MUST_USE int kumo_market_order_bids_scan(const kumo_kv_t *kv,
                                              const kumo_market_oid_t *oid,
                                              bool match,
                                              const Kumo__PlacementRequirements *req,
                                              kumo_market_bids_t *out,
                                              kumo_err_ctx_t *err);

/* Opens order (oid) for group g at st->height + wait_blocks; emits order.created. */
KUMO_MUST_USE int kumo_market_order_open(kumo_market_st_t *st,
                                         const Kumo__Group *g,
                                         uint32_t oseq,
                                         uint64_t wait_blocks,
                                         kumo_err_ctx_t *err);
/* Closes an open order for reason (recorded with the height): every open bid refunded and
 * deleted; emits order.closed. */
KUMO_MUST_USE int kumo_market_order_close(kumo_market_st_t *st,
                                          const kumo_market_oid_t *oid,
                                          Kumo__CloseReason reason,
                                          kumo_err_ctx_t *err);
/* Refunds and deletes every open bid of an order except keep_provider (may be NULL); emits
 * event_type per bid. Adjusts provider open_bid_count and Global.collateral_total; the caller
 * fixes the order's bid_count. */
KUMO_MUST_USE int kumo_market_order_bids_refund(kumo_market_st_t *st,
                                                const kumo_market_oid_t *oid,
                                                const uint8_t *keep_provider,
                                                const char *event_type,
                                                kumo_err_ctx_t *err);
/* Refunds one open bid (collateral back, deleted, provider count -1); emits event_type. */
KUMO_MUST_USE int kumo_market_bid_refund(kumo_market_st_t *st,
                                         const kumo_market_oid_t *oid,
                                         const uint8_t *provider,
                                         uint64_t collateral,
                                         const char *event_type,
                                         kumo_err_ctx_t *err);
/* Adds delta (+1/-1) to a provider's open_bid_count or live_lease_count. */
KUMO_MUST_USE int kumo_market_provider_count_add(kumo_market_st_t *st,
                                                 const uint8_t *provider,
                                                 int bids_delta,
                                                 int leases_delta,
                                                 kumo_err_ctx_t *err);

/* A provider refused one of its leases: live_lease_count -1, refused_lease_count +1. */
KUMO_MUST_USE int kumo_market_provider_lease_refused(kumo_market_st_t *st,
                                                     const uint8_t *provider,
                                                     kumo_err_ctx_t *err);

/* Pays an active lease for the blocks since its last payment, capped by the escrow, and mints
 * its collateral interest; *short_out is set when the escrow could not pay everything. Updates
 * l and d in memory (the caller writes them) and the provider's balance in the store. */
KUMO_MUST_USE int kumo_market_lease_settle(kumo_market_st_t *st,
                                           Kumo__Deployment *d,
                                           Kumo__Lease *l,
                                           bool *short_out,
                                           kumo_err_ctx_t *err);
/* Settles an active lease and moves it to Closing for reason (its deployment d is updated in
 * memory). */
KUMO_MUST_USE int kumo_market_lease_close(kumo_market_st_t *st,
                                          Kumo__Deployment *d,
                                          const kumo_market_oid_t *oid,
                                          const uint8_t *provider,
                                          Kumo__CloseReason reason,
                                          bool *short_out,
                                          kumo_err_ctx_t *err);
/* The provider broke its commitment on its active lease l of the active deployment d (the
 * lease went stale, or its provider closed it): the collateral goes to the tenant, the lease
 * ends (Stale for reason stale, Closed for provider_closed) with the reason, the unreleased
 * and live counts drop, d is written, and the group loses the lease: it waits for a pending
 * re-order, re-orders when it persists, or closes with the same reason. Pays nothing: a caller
 * that pays settles first. Events lease.stale or lease.closed (attrs collateral_to_tenant,
 * reason, and detail when not NULL), then order.created or group.closed. */
KUMO_MUST_USE int kumo_market_lease_forfeit(kumo_market_st_t *st,
                                            Kumo__Deployment *d,
                                            const kumo_market_oid_t *oid,
                                            const uint8_t *provider,
                                            Kumo__Lease *l,
                                            Kumo__CloseReason reason,
                                            const char *detail,
                                            kumo_err_ctx_t *err);
/* Moves an active deployment (in memory, written by this function) to Closing: active leases
 * settled and closing, open orders closed with their bids refunded, groups closed. */
KUMO_MUST_USE int kumo_market_deployment_close(kumo_market_st_t *st,
                                               Kumo__Deployment *d,
                                               Kumo__CloseReason reason,
                                               kumo_err_ctx_t *err);
/* Closes a group for reason (in memory g, written here): its open order closed, its active
 * lease closing, each with the same reason. */
KUMO_MUST_USE int kumo_market_group_close(kumo_market_st_t *st,
                                          Kumo__Deployment *d,
                                          Kumo__Group *g,
                                          Kumo__CloseReason reason,
                                          bool *short_out,
                                          kumo_err_ctx_t *err);

/* The escrow cover of d (loaded) at height; see kumo_market_escrow_cover_get. */
KUMO_MUST_USE int kumo_market_escrow_cover(const kumo_kv_t *kv,
                                           const Kumo__Deployment *d,
                                           uint64_t height,
                                           kumo_market_escrow_cover_t *out,
                                           kumo_err_ctx_t *err);
/* After d's escrow, prices or threshold changed (d in memory, written by the caller, its
 * leases already written): sets d->escrow_low when the escrow covers fewer than
 * escrow_warn_blocks blocks at st->height, emitting deployment.escrow_low only when it becomes
 * low (once per crossing), and clears it when covered again. */
KUMO_MUST_USE int
kumo_market_escrow_watch(kumo_market_st_t *st, Kumo__Deployment *d, kumo_err_ctx_t *err);
/* The threshold a deployment gets when its SubmitDeployment names none:
 * 2 x reconfirmation_period (a provider confirms at least once in that time, so the warning
 * comes before the confirmation that finds the escrow empty), at most the ceiling. */
uint64_t kumo_market_escrow_warn_default(const Kumo__Params *params);

/* ---- msg handlers (validate_basic already passed) -------------------------------------------- */

KUMO_MUST_USE int
kumo_market_send_apply(kumo_market_st_t *st, const Kumo__MsgSend *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_provider_create(kumo_market_st_t *st,
                                              const Kumo__MsgCreateProvider *m,
                                              kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_provider_update(kumo_market_st_t *st,
                                              const Kumo__MsgUpdateProvider *m,
                                              kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_provider_delete(kumo_market_st_t *st, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_submit(kumo_market_st_t *st,
                                                const Kumo__MsgSubmitDeployment *m,
                                                kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_update(kumo_market_st_t *st,
                                                const Kumo__MsgUpdateDeployment *m,
                                                kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_deposit(kumo_market_st_t *st,
                                                 const Kumo__MsgDepositDeployment *m,
                                                 kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_close_apply(kumo_market_st_t *st,
                                                     const Kumo__MsgCloseDeployment *m,
                                                     kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_deployment_closed_apply(kumo_market_st_t *st,
                                                      const Kumo__MsgDeploymentClosed *m,
                                                      kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_fulfillment_submit(kumo_market_st_t *st,
                                                 const Kumo__MsgSubmitFulfillment *m,
                                                 kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_fulfillment_cancel(kumo_market_st_t *st,
                                                 const Kumo__MsgCancelFulfillment *m,
                                                 kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_lease_submit(kumo_market_st_t *st, const Kumo__MsgSubmitLease *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_lease_confirm(kumo_market_st_t *st,
                                            const Kumo__MsgSubmitLeaseConfirmation *m,
                                            kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_lease_stale(kumo_market_st_t *st,
                                          const Kumo__MsgSubmitStaleLease *m,
                                          kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_market_lease_refuse(kumo_market_st_t *st, const Kumo__MsgRefuseLease *m, kumo_err_ctx_t *err);
/* MsgCloseLease (close.c): the signer, the lease's provider, walks away from its active lease. */
KUMO_MUST_USE int kumo_market_lease_provider_close(kumo_market_st_t *st,
                                                   const Kumo__MsgCloseLease *m,
                                                   kumo_err_ctx_t *err);
/* Why the signer has no lease on this order: another provider's (KUMO_EUNAUTH) or none
 * (KUMO_ENOTFOUND). */
KUMO_MUST_USE int kumo_market_lease_missing_err(kumo_market_st_t *st,
                                                const kumo_market_oid_t *oid,
                                                kumo_err_ctx_t *err);

/* ---- provider attributes and audits (audit.c) ---------------------------------------------- */

/* A canonical attribute list: at most KUMO_ATTRIBUTE_COUNT_MAX (KUMO_ELIMIT), keys and values
 * text within their limits (value may be empty), sorted by key (KUMO_EUNSORTED) without
 * repeats (KUMO_EDUPLICATE). what names the list in the detail. */
KUMO_MUST_USE int kumo_market_attrs_check(Kumo__Attribute *const *attrs,
                                          size_t count,
                                          const char *what,
                                          kumo_err_ctx_t *err);
/* A group's requirements (NULL: none): canonical attributes; signed_by lists of at most
 * KUMO_SIGNED_BY_COUNT_MAX addresses each, sorted, unique; neither the requirements nor
 * signed_by present but empty (KUMO_EEMPTY). */
KUMO_MUST_USE int kumo_market_requirements_check(const Kumo__PlacementRequirements *r,
                                                 kumo_err_ctx_t *err);
/* Equal canonical lists (key and value). */
bool kumo_market_attrs_equal(Kumo__Attribute *const *a,
                             size_t a_count,
                             Kumo__Attribute *const *b,
                             size_t b_count);
/* Equal requirements (both NULL counts as equal). */
bool kumo_market_requirements_equal(const Kumo__PlacementRequirements *a,
                                    const Kumo__PlacementRequirements *b);
/* 0 when provider p may bid under r (NULL: always): it declares every required attribute
 * (KUMO_EATTRIBUTE otherwise), every signed_by.all_of auditor and one of any_of (if any) signed
 * all the required attributes for it (KUMO_ESIGNEDBY otherwise). */
KUMO_MUST_USE int kumo_market_requirements_match(const kumo_kv_t *kv,
                                                 const Kumo__PlacementRequirements *r,
                                                 const Kumo__Provider *p,
                                                 kumo_err_ctx_t *err);
/* The same for a provider named by address (which must exist: KUMO_ECORRUPT otherwise). */
KUMO_MUST_USE int kumo_market_requirements_match_addr(const kumo_kv_t *kv,
                                                      const Kumo__PlacementRequirements *r,
                                                      const uint8_t *provider,
                                                      kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_audit_get(const kumo_kv_t *kv,
                                        const uint8_t *provider,
                                        const uint8_t *auditor,
                                        Kumo__ProviderAudit **out,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_audit_sign_validate(const Kumo__MsgSignProviderAttributes *m,
                                                  kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_audit_delete_validate(const Kumo__MsgDeleteProviderAttributes *m,
                                                    kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_audit_sign(kumo_market_st_t *st,
                                         const Kumo__MsgSignProviderAttributes *m,
                                         kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_audit_delete(kumo_market_st_t *st,
                                           const Kumo__MsgDeleteProviderAttributes *m,
                                           kumo_err_ctx_t *err);

/* ---- constrained delegation (grant.c) -------------------------------------------------------- */

/* The grant granter gave grantee for dseq (0: all deployments); KUMO_ENOTFOUND when absent. */
KUMO_MUST_USE int kumo_market_grant_get(const kumo_kv_t *kv,
                                        const uint8_t *granter,
                                        const uint8_t *grantee,
                                        uint64_t dseq,
                                        Kumo__Grant **out,
                                        kumo_err_ctx_t *err);
/* The name of a grantable msg type (a Msg.sum field number) as events show it; NULL for a
 * type no grant may allow. */
const char *kumo_market_grant_msg_type_name(uint32_t msg_type);
KUMO_MUST_USE int kumo_market_grant_validate(const Kumo__MsgGrant *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_market_revoke_validate(const Kumo__MsgRevoke *m, kumo_err_ctx_t *err);
/* Also validates every inner msg; an inner exec is KUMO_EGRANTNESTED, an inner msg of a type no
 * grant may allow KUMO_EGRANTMSG. */
KUMO_MUST_USE int kumo_market_exec_validate(const Kumo__MsgExec *m, kumo_err_ctx_t *err);
/* MsgGrant: writes (or replaces) the principal's grant. */
KUMO_MUST_USE int
kumo_market_grant_apply(kumo_market_st_t *st, const Kumo__MsgGrant *m, kumo_err_ctx_t *err);
/* MsgRevoke: deletes the principal's grant (KUMO_ENOTFOUND when there is none). */
KUMO_MUST_USE int
kumo_market_grant_revoke(kumo_market_st_t *st, const Kumo__MsgRevoke *m, kumo_err_ctx_t *err);
/* MsgExec: runs each inner msg for the granter under the grant that covers it (docs/design.md
 * 3.4). Runs outside any state context: each inner msg opens its own. */
KUMO_MUST_USE int
kumo_market_grant_exec(kumo_market_ctx_t *ctx, const Kumo__MsgExec *m, kumo_err_ctx_t *err);

/* ---- validation shared by msgs and genesis ----------------------------------------------------
 */

KUMO_MUST_USE int kumo_market_provider_fields_validate(const char *host_uri,
                                                       const char *region,
                                                       Kumo__Attribute *const *attrs,
                                                       size_t attr_count,
                                                       const char *root_cert_pem,
                                                       kumo_err_ctx_t *err);
/* A published offer: height 0 (the chain sets it; KUMO_EINVAL), each price at most
 * KUMO_MARKET_OFFER_PRICE_MAX and each free amount at most KUMO_MARKET_OFFER_AMOUNT_MAX
 * (KUMO_ELIMIT). */
KUMO_MUST_USE int kumo_market_offer_validate(const Kumo__ProviderOffer *o, kumo_err_ctx_t *err);
/* True when an UpdateProvider only publishes an offer (every other field empty). */
bool kumo_market_provider_update_is_offer_only(const Kumo__MsgUpdateProvider *m);

/* Equal compute units: cpu, memory, storage and GPUs (count, vendor, model, memory). */
bool kumo_market_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b);

/* Length of a possibly NULL C string (protobuf-c uses "" for empty, hand-built msgs NULL). */
size_t kumo_market_str_len(const char *s, size_t cap);
/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool kumo_market_utf8_is_valid(const char *text, size_t len);
/* A msg string: KUMO_EEMPTY when empty (unless optional), KUMO_ELIMIT past max bytes,
 * KUMO_EINVAL when not UTF-8. */
KUMO_MUST_USE int kumo_market_text_check(
    const char *s, size_t max, bool optional, const char *what, kumo_err_ctx_t *err);

#endif
