/*
 * mempool.h - the node's pool of checked txs waiting for a block (docs/design.md 6.3): a fee
 * market that spam paying any fee cannot use to starve lease confirmations.
 *
 * Two classes, each with its own capacity (count and bytes), so one can never take the
 * other's room: the lane holds txs whose every msg is a SubmitLeaseConfirmation signed by a
 * provider with live leases (one point read of its record); the general class holds the rest.
 *
 * Rules on add, in this order (cheap checks before the signature): size (params max_tx_bytes,
 * KUMO_ELIMIT), canonical decode (KUMO_EDECODE/KUMO_EINVAL), duplicate hash (KUMO_EEXIST),
 * stateless checks (kumo_chain_tx_check_basic: KUMO_ECHAINID, msg validity, ...), sequence
 * (below the account's: KUMO_ESEQUENCE; equal to a pending one or past the next free one:
 * KUMO_ESEQUENCE naming the expected sequence), account limits (account_tx_max pending txs,
 * account_bytes_max pending bytes, less than future_seq_max past the committed sequence:
 * KUMO_ELIMIT), fee (>= min_fee unless a facilitator-only tx of a validator operator:
 * KUMO_EFEE; facilitator msgs from others: KUMO_EUNAUTH), funds (the account's pending fees
 * plus this fee <= balance: KUMO_EFUNDS), lane share of the account (lane_account_tx_max:
 * KUMO_ELIMIT), room in the tx's class (below), signature, verified once here and never again
 * (KUMO_ESIG).
 *
 * Room: when the class is full, the tx evicts pending txs of its class that pay a strictly
 * lower fee per byte, cheapest first (ties: the latest arrival first), each together with the
 * later txs of its account that depend on it, until it fits. Never evicted for it: its own
 * account's txs, and general txs that a lane tx of their account waits behind. If that cannot
 * make room: KUMO_EFEE when a candidate pays at least as much per byte as the tx (the detail
 * names the fee that would evict the cheapest), else KUMO_ELIMIT. Eviction happens only
 * once every check passed, so a failed add changes nothing.
 *
 * Each account's pending txs hold consecutive sequences from its committed sequence on. After
 * each commit, kumo_node_mempool_update drops the txs the block carried and re-checks the rest
 * against the new state.
 *
 * Memory: every entry is allocated on add (through kumo_alloc) and bounded by the class
 * capacities; the hash tables and heaps are allocated once at open. Not thread-safe: loop
 * thread.
 */
#ifndef KUMO_NODE_MEMPOOL_H
#define KUMO_NODE_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/chain.h"
#include "core/core.h"

/* Bounds a mempool may be configured with: 1M txs is far beyond any block rate we target. */
#define KUMO_NODE_MEMPOOL_TX_COUNT_MAX (1024u * 1024u)
/* Accounts one add may evict from: a max-size tx displaces at most this many small ones. */
#define KUMO_NODE_MEMPOOL_EVICT_ACCOUNT_MAX 512u

typedef struct kumo_node_mempool kumo_node_mempool_t;

/* The classes of pending txs, each with its own capacity. */
typedef enum kumo_node_mempool_class {
    KUMO_NODE_MEMPOOL_GENERAL = 0,
    KUMO_NODE_MEMPOOL_LANE = 1, /* lease confirmations of providers with live leases */
} kumo_node_mempool_class_t;
#define KUMO_NODE_MEMPOOL_CLASS_COUNT 2u

typedef struct kumo_node_mempool_cfg {
    uint32_t tx_count_max;        /* 1..KUMO_NODE_MEMPOOL_TX_COUNT_MAX: general txs */
    uint64_t bytes_max;           /* >= 1: general tx bytes */
    uint32_t account_tx_max;      /* >= 1: pending txs per account */
    uint64_t account_bytes_max;   /* >= 1: pending tx bytes per account */
    uint32_t future_seq_max;      /* >= 1: how far past the committed sequence a tx may be */
    uint32_t lane_tx_count_max;   /* 1..KUMO_NODE_MEMPOOL_TX_COUNT_MAX: lane txs */
    uint64_t lane_bytes_max;      /* >= 1: lane tx bytes */
    uint32_t lane_account_tx_max; /* >= 1: pending lane txs per account */
} kumo_node_mempool_cfg_t;

/* The committed state the mempool checks against (the head snapshot). Borrowed per call. */
typedef struct kumo_node_mempool_env {
    const kumo_kv_t *kv;
    const Kumo__Params *params;
    const char *chain_id;
} kumo_node_mempool_env_t;

/* One pending tx. bytes and tx stay valid until the entry leaves the mempool (update,
 * eviction by an add, close); tx is decoded and its signature verified, ready for
 * kumo_chain_block_apply's prepared array (copy the struct; the copy borrows). */
typedef struct kumo_node_mempool_entry kumo_node_mempool_entry_t;
kumo_bytes_t kumo_node_mempool_entry_bytes(const kumo_node_mempool_entry_t *entry);
const kumo_chain_tx_t *kumo_node_mempool_entry_tx(const kumo_node_mempool_entry_t *entry);
kumo_node_mempool_class_t kumo_node_mempool_entry_class(const kumo_node_mempool_entry_t *entry);

/* KUMO_EINVAL for a bound out of range, KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_node_mempool_open(const kumo_node_mempool_cfg_t *cfg,
                                         kumo_node_mempool_t **out,
                                         kumo_err_ctx_t *err);
/* Frees every entry; NULL is a no-op. */
void kumo_node_mempool_close(kumo_node_mempool_t *mp);

/* Checks tx against env (rules above), makes room by eviction if needed and adds it; hash_out
 * (may be NULL) gets its hash, also on KUMO_EEXIST. On failure nothing changed. */
KUMO_MUST_USE int kumo_node_mempool_add(kumo_node_mempool_t *mp,
                                        const kumo_node_mempool_env_t *env,
                                        kumo_bytes_t tx,
                                        uint8_t hash_out[KUMO_CHAIN_HASH_BYTES],
                                        kumo_err_ctx_t *err);

/* Picks txs for a block: first every pending tx of first_signer (may be NULL; the proposer's
 * own account, whose sequences its facilitator txs continue) while they fit, then, one account
 * head at a time, accounts that still have lane txs before all others, and among equals the
 * head paying the most per byte (ties: the earliest arrival). An account whose head would pass
 * bytes_max is passed over for this block (its later txs cannot go without it); selection ends
 * at count_max txs. Each account's txs go in sequence order. Writes up to count_max entries to
 * out and returns how many. O(accounts + picked log accounts). The entries stay in the pool.
 * Loop thread (uses scratch space inside mp). */
size_t kumo_node_mempool_select(kumo_node_mempool_t *mp,
                                const uint8_t *first_signer,
                                size_t count_max,
                                uint64_t bytes_max,
                                const kumo_node_mempool_entry_t **out);

/* After a commit: removes the txs with the given hashes (those the block carried; unknown
 * hashes are ignored), then, unless env is NULL (no snapshot of the new state could be
 * opened; the caller re-checks later with hash_count 0), re-checks every remaining tx against
 * env's new state: txs whose sequence was consumed, that no longer start at the account's
 * sequence, or whose fees the balance no longer covers are dropped (with every later tx of
 * their account, which could no longer apply). Store errors reading an account drop that
 * account's txs (logged by the caller through the return count); returns the number of txs
 * dropped by the re-check. A tx keeps the class it was admitted with until it leaves. */
size_t kumo_node_mempool_update(kumo_node_mempool_t *mp,
                                const kumo_node_mempool_env_t *env,
                                const uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES],
                                size_t hash_count);

/* Totals over both classes, and per class. */
uint64_t kumo_node_mempool_tx_count(const kumo_node_mempool_t *mp);
uint64_t kumo_node_mempool_bytes(const kumo_node_mempool_t *mp);
uint64_t kumo_node_mempool_class_tx_count(const kumo_node_mempool_t *mp,
                                          kumo_node_mempool_class_t cls);
/* Txs evicted to make room since open (dependents included). */
uint64_t kumo_node_mempool_evicted_total(const kumo_node_mempool_t *mp);
bool kumo_node_mempool_has(const kumo_node_mempool_t *mp,
                           const uint8_t hash[KUMO_CHAIN_HASH_BYTES]);
/* The pending entry with this hash, or NULL (valid until the next add/update/close). */
const kumo_node_mempool_entry_t *kumo_node_mempool_find(const kumo_node_mempool_t *mp,
                                                        const uint8_t hash[KUMO_CHAIN_HASH_BYTES]);
/* Pending txs of addr (0 when none). */
uint32_t kumo_node_mempool_account_tx_count(const kumo_node_mempool_t *mp,
                                            const uint8_t addr[KUMO_ADDRESS_BYTES]);

#endif
