/*
 * mempool.h - the node's pool of checked txs waiting for a block (docs/design.md, "Node").
 *
 * Rules on add, in this order (cheap checks before the signature): size (params max_tx_bytes,
 * KUMO_ELIMIT), canonical decode (KUMO_EDECODE/KUMO_EINVAL), duplicate hash (KUMO_EEXIST),
 * stateless checks (kumo_chain_tx_check_basic: KUMO_ECHAINID, msg validity, ...), capacity
 * (total count and bytes: KUMO_ELIMIT), sequence (below the account's: KUMO_ESEQUENCE; equal to
 * a pending one or past the next free one: KUMO_ESEQUENCE naming the expected sequence; the
 * next free one is accepted only while the account has fewer than account_tx_max pending txs
 * and it lies less than future_seq_max past the account's committed sequence: KUMO_ELIMIT),
 * fee (>= min_fee unless a facilitator-only tx of a validator operator: KUMO_EFEE; facilitator
 * msgs from others: KUMO_EUNAUTH), funds (the account's pending fees plus this fee <= balance:
 * KUMO_EFUNDS), signature, verified once here and never again (KUMO_ESIG).
 *
 * So each account's pending txs hold consecutive sequences from its committed sequence on, and
 * they arrived in sequence order: a block that takes txs in arrival order respects every
 * account's sequence order. After each commit, kumo_node_mempool_update drops the txs the
 * block carried and re-checks the rest against the new state.
 *
 * Memory: every entry is allocated on add (through kumo_alloc) and bounded by tx_count_max
 * and bytes_max; the hash tables are allocated once at open. Not thread-safe: loop thread.
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

typedef struct kumo_node_mempool kumo_node_mempool_t;

typedef struct kumo_node_mempool_cfg {
    uint32_t tx_count_max;   /* 1..KUMO_NODE_MEMPOOL_TX_COUNT_MAX */
    uint64_t bytes_max;      /* >= 1 */
    uint32_t account_tx_max; /* >= 1: pending txs per account */
    uint32_t future_seq_max; /* >= 1: how far past the committed sequence a tx may be */
} kumo_node_mempool_cfg_t;

/* The committed state the mempool checks against (the head snapshot). Borrowed per call. */
typedef struct kumo_node_mempool_env {
    const kumo_kv_t *kv;
    const Kumo__Params *params;
    const char *chain_id;
} kumo_node_mempool_env_t;

/* One pending tx. bytes and tx stay valid until the entry leaves the mempool (update,
 * close); tx is decoded and its signature verified, ready for kumo_chain_block_apply's
 * prepared array (copy the struct; the copy borrows). */
typedef struct kumo_node_mempool_entry kumo_node_mempool_entry_t;
kumo_bytes_t kumo_node_mempool_entry_bytes(const kumo_node_mempool_entry_t *entry);
const kumo_chain_tx_t *kumo_node_mempool_entry_tx(const kumo_node_mempool_entry_t *entry);

/* KUMO_EINVAL for a bound out of range, KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_node_mempool_open(const kumo_node_mempool_cfg_t *cfg,
                                         kumo_node_mempool_t **out,
                                         kumo_err_ctx_t *err);
/* Frees every entry; NULL is a no-op. */
void kumo_node_mempool_close(kumo_node_mempool_t *mp);

/* Checks tx against env (rules above) and adds it; hash_out (may be NULL) gets its hash,
 * also on KUMO_EEXIST. On failure nothing changed. */
KUMO_MUST_USE int kumo_node_mempool_add(kumo_node_mempool_t *mp,
                                        const kumo_node_mempool_env_t *env,
                                        kumo_bytes_t tx,
                                        uint8_t hash_out[KUMO_CHAIN_HASH_BYTES],
                                        kumo_err_ctx_t *err);

/* Picks txs for a block in arrival order: first every pending tx of first_signer (may be NULL;
 * the proposer's own account, whose sequences its facilitator txs continue), then the others,
 * stopping at the first tx that would pass count_max txs or bytes_max bytes. Writes up to
 * count_max entries to out and returns how many. O(picked). The entries stay in the pool. */
size_t kumo_node_mempool_select(const kumo_node_mempool_t *mp,
                                const uint8_t *first_signer,
                                size_t count_max,
                                uint64_t bytes_max,
                                const kumo_node_mempool_entry_t **out);

/* After a commit: removes the txs with the given hashes (those the block carried; unknown
 * hashes are ignored), then, unless env is NULL (no snapshot of the new state could be
 * opened; the caller re-checks later with hash_count 0), re-checks every remaining tx against env's
 * new state: txs whose sequence was consumed, that no longer start at the account's sequence, or
 * whose fees the balance no longer covers are dropped (with every later tx of their account, which
 * could no longer apply). Store errors reading an account drop that account's txs (logged by the
 * caller through the return count); returns the number of txs dropped by the re-check. */
size_t kumo_node_mempool_update(kumo_node_mempool_t *mp,
                                const kumo_node_mempool_env_t *env,
                                const uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES],
                                size_t hash_count);

uint64_t kumo_node_mempool_tx_count(const kumo_node_mempool_t *mp);
uint64_t kumo_node_mempool_bytes(const kumo_node_mempool_t *mp);
bool kumo_node_mempool_has(const kumo_node_mempool_t *mp,
                           const uint8_t hash[KUMO_CHAIN_HASH_BYTES]);
/* Pending txs of addr (0 when none). */
/* The pending entry with this hash, or NULL (valid until the next add/update/close). */
const kumo_node_mempool_entry_t *kumo_node_mempool_find(const kumo_node_mempool_t *mp,
                                                        const uint8_t hash[KUMO_CHAIN_HASH_BYTES]);
uint32_t kumo_node_mempool_account_tx_count(const kumo_node_mempool_t *mp,
                                            const uint8_t addr[KUMO_ADDRESS_BYTES]);

#endif
