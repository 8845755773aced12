/*
 * localnet.h - a single-process chain over a real LMDB store: genesis, block production with
 * the facilitator's txs first (as a proposer does), commit with the app hash. It drives the
 * scripted demo, the randomized and lifecycle tests and the benchmarks until the node daemon
 * exists; the node reuses the same steps. Not pure (store I/O).
 */
#ifndef KUMO_LOCALNET_LOCALNET_H
#define KUMO_LOCALNET_LOCALNET_H

#include <stdbool.h>
#include <stdint.h>

#include "chain/chain.h"
#include "core/core.h"
#include "store/store.h"

/* Facilitator txs one block may carry. */
#define KUMO_LOCALNET_FACILITATOR_TX_MAX 1024u

typedef struct kumo_localnet kumo_localnet_t;

typedef struct kumo_localnet_cfg {
    const char *dir;      /* store directory */
    bool no_sync;         /* tests and benchmarks only */
    uint32_t msgs_per_tx; /* facilitator msgs per tx; 0 -> 256 */
    /* Signs facilitator txs; must be a genesis validator operator. NULL: no facilitator. */
    const kumo_crypto_keypair_t *facilitator;
} kumo_localnet_cfg_t;

/* Opens the store in cfg->dir. A fresh store is initialised from genesis (required then) and
 * committed as height 0; an existing one resumes at its last committed height and genesis may
 * be NULL. chain_id is the chain's id (the genesis chain_id). */
KUMO_MUST_USE int kumo_localnet_open(const kumo_localnet_cfg_t *cfg,
                                     const char *chain_id,
                                     const Kumo__Genesis *genesis,
                                     kumo_localnet_t **out,
                                     kumo_err_ctx_t *err);
void kumo_localnet_close(kumo_localnet_t *net);

/* Produces and commits the next block: the facilitator's due txs first, then txs. out (free
 * with kumo_chain_block_out_free) holds every tx result, facilitator txs first;
 * *facilitator_tx_count_out (may be NULL) says how many. */
KUMO_MUST_USE int kumo_localnet_block_produce(kumo_localnet_t *net,
                                              const kumo_bytes_t *txs,
                                              size_t tx_count,
                                              kumo_chain_block_out_t *out,
                                              size_t *facilitator_tx_count_out,
                                              kumo_err_ctx_t *err);

uint64_t kumo_localnet_height(const kumo_localnet_t *net);
const uint8_t *kumo_localnet_app_hash(const kumo_localnet_t *net);
const char *kumo_localnet_chain_id(const kumo_localnet_t *net);
kumo_store_t *kumo_localnet_store(kumo_localnet_t *net);

/* A read snapshot of the committed state (end with kumo_store_read_end). */
KUMO_MUST_USE int kumo_localnet_read_begin(kumo_localnet_t *net,
                                           kumo_store_read_t **read_out,
                                           kumo_kv_t *kv_out,
                                           kumo_err_ctx_t *err);

/* The next sequence of addr in committed state (for building txs). */
KUMO_MUST_USE int kumo_localnet_sequence_get(kumo_localnet_t *net,
                                             const uint8_t *addr,
                                             uint64_t *out,
                                             kumo_err_ctx_t *err);

#endif
