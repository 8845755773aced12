/*
 * node_int.h - private to the node module: the node struct, file helpers, config parsing
 * and rendering, the single-validator producer.
 */
#ifndef KUMO_NODE_NODE_INT_H
#define KUMO_NODE_NODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "keyring/keyring.h"
#include "log/log.h"
#include "node/mempool.h"
#include "node/node.h"
#include "p2p/p2p.h"

/* Paths under a home: home plus a short relative name. */
#define KUMO_NODE_PATH_BYTES 600u
/* Commit listeners at once (node.h). */
#define KUMO_NODE_LISTENER_MAX 16u
/* Facilitator txs per block and msgs per tx: 256 x 256 = 65536 due msgs per block, far more
 * than the market produces in a block interval; the rest wait for the next block. */
#define KUMO_NODE_FACILITATOR_TX_MAX   256u
#define KUMO_NODE_FACILITATOR_MSGS_MAX 256u

_Static_assert(KUMO_NODE_FACILITATOR_TX_MAX < KUMO_BLOCK_TX_COUNT_MAX,
               "facilitator txs leave room in a block");

typedef struct kumo_node_listener {
    kumo_node_commit_cb cb;
    void *ctx;
    uint32_t id; /* 0: free slot */
} kumo_node_listener_t;

struct kumo_node {
    kumo_node_cfg_t cfg;
    struct event_base *base;
    kumo_store_t *store;
    /* A snapshot of the head state, renewed after every commit: the mempool checks against
     * it, so submissions never open their own read txn. */
    kumo_store_read_t *head_read;
    kumo_kv_t head_kv;
    Kumo__Params *params;
    kumo_crypto_keypair_t *validator; /* sodium_malloc'd */
    uint8_t validator_addr[KUMO_ADDRESS_BYTES];
    bool validator_is_operator;
    kumo_node_mempool_t *mempool;
    /* The last commit could not re-check the mempool (no head snapshot): the next refresh
     * that succeeds does it. */
    bool mempool_stale;
    kumo_node_producer_t producer;
    bool producer_started;
    bool producing; /* inside kumo_node_block_produce: re-entry is a bug */

    uint64_t height;
    uint8_t app_hash[KUMO_CHAIN_HASH_BYTES];
    uint8_t block_hash[KUMO_CHAIN_HASH_BYTES];
    uint64_t block_time_ms;
    uint64_t block_duration_us;
    uint64_t txs_committed_total;
    uint64_t txs_rejected_total;
    uint64_t open_orders;
    uint64_t active_leases;

    kumo_node_listener_t listeners[KUMO_NODE_LISTENER_MAX];
    uint32_t listener_id_next;

    /* Consensus: validators in genesis (more than one: the consensus producer), the id
     * (SHA-256 of the encoded Block) of the head block, and the hook that gossips every tx
     * the mempool accepts. */
    uint32_t genesis_validator_count;
    uint8_t last_value_id[KUMO_CHAIN_HASH_BYTES];
    void (*tx_gossip)(void *ctx, kumo_bytes_t tx);
    void *tx_gossip_ctx;
    const kumo_p2p_t *p2p; /* for kumo_node_status_get; NULL without consensus */
};

/* home + "/" + name into out; KUMO_ELIMIT if it does not fit. */
KUMO_MUST_USE int kumo_node_path(const char *home,
                                 const char *name,
                                 char out[KUMO_NODE_PATH_BYTES],
                                 kumo_err_ctx_t *err);
/* True for printable ASCII without '"' and '\\' (safe inside a quoted YAML scalar). */
bool kumo_node_text_is_plain(const char *text);

/* Parses config text (path names it in errors) over *cfg. */
KUMO_MUST_USE int
kumo_node_cfg_parse(const char *path, kumo_bytes_t text, kumo_node_cfg_t *cfg, kumo_err_ctx_t *err);
/* Appends the commented config.yaml for cfg to out. */
KUMO_MUST_USE int
kumo_node_cfg_render(const kumo_node_cfg_t *cfg, kumo_buf_t *out, kumo_err_ctx_t *err);
/* cfg->log_level as a level; KUMO_EINVAL for an unknown name. */
KUMO_MUST_USE int kumo_node_cfg_log_level(const kumo_node_cfg_t *cfg, enum kumo_log_level *out);

/* Loads and parses home/genesis.json. */
KUMO_MUST_USE int
kumo_node_genesis_load(const char *home, Kumo__Genesis **out, kumo_err_ctx_t *err);

/* Re-opens the head snapshot after a commit; on failure logs it and leaves head_read NULL
 * (submissions then retry the open). */
void kumo_node_head_refresh(kumo_node_t *node);
/* Counts objects of one kind in one state through the market's state index (O(count)). */
KUMO_MUST_USE int kumo_node_state_count(const kumo_kv_t *kv,
                                        kumo_market_object_t object,
                                        uint32_t state,
                                        uint64_t *out,
                                        kumo_err_ctx_t *err);
/* Calls every commit listener for height. */
void kumo_node_listeners_call(kumo_node_t *node, uint64_t height);

/* Evidence items a block may carry. */
#define KUMO_NODE_BLOCK_EVIDENCE_MAX KUMO_BLOCK_EVIDENCE_COUNT_MAX

/* The validator set of height (> 0) as of the state kv (an open store block or a snapshot),
 * from the chain's sets per height (kumo_chain_valset_get): the set the block API uses. Empty
 * (count 0) for a chain without validators. */
KUMO_MUST_USE int kumo_node_valset_get(const kumo_node_t *node,
                                       const kumo_kv_t *kv,
                                       uint64_t height,
                                       kumo_consensus_valset_t *out,
                                       kumo_err_ctx_t *err);

/* A block's consensus facts as its header, last commit and evidence give them (borrowed). */
typedef struct kumo_node_block_facts {
    uint64_t height;
    kumo_bytes_t proposer_addr;
    const Kumo__Commit *last_commit; /* NULL: none */
    const kumo_bytes_t *evidence;
    size_t evidence_count;
} kumo_node_block_facts_t;

/* Derives the block info from facts (blockinfo.c): what block execution gives the chain and
 * what kumo_node_block_info_get shows. KUMO_EINVAL for a last commit of another height or
 * naming a validator outside the set, KUMO_ELIMIT / KUMO_EDECODE for evidence. */
KUMO_MUST_USE int kumo_node_block_info_derive(const kumo_node_t *node,
                                              const kumo_kv_t *kv,
                                              const kumo_node_block_facts_t *facts,
                                              kumo_node_block_info_t *out,
                                              kumo_err_ctx_t *err);

/* A block being built or executed: the store block is open (one at a time) until it is
 * finished (committed) or discarded. */
typedef struct kumo_node_block kumo_node_block_t;

/* What consensus adds to a block the node builds. Borrowed until the block is finished. */
typedef struct kumo_node_block_extra {
    const Kumo__Commit *last_commit; /* NULL at height 1 */
    const kumo_bytes_t *evidence;
    size_t evidence_count; /* <= KUMO_NODE_BLOCK_EVIDENCE_MAX */
    uint64_t tx_bytes_max; /* caps params max_block_bytes (a consensus value's size) */
    /* txs_given: these txs (not prepared) follow the facilitator's instead of the mempool's
     * (kumo_node_block_produce_txs). */
    bool txs_given;
    const kumo_bytes_t *txs;
    size_t tx_count;
} kumo_node_block_extra_t;

/* kumo_node_block_produce_txs with a given last commit and evidence (extra->txs_given):
 * builds, applies and commits the block (the randomized block test feeds signers and
 * evidence through it). */
KUMO_MUST_USE int kumo_node_block_produce_given(kumo_node_t *node,
                                                const kumo_node_block_extra_t *extra,
                                                kumo_chain_block_out_t *out,
                                                size_t *facilitator_tx_count_out,
                                                kumo_err_ctx_t *err);
/* Builds the next block on the head state as kumo_node_block_produce does (extra may be
 * NULL), leaving it open. */
KUMO_MUST_USE int kumo_node_block_build(kumo_node_t *node,
                                        const kumo_node_block_extra_t *extra,
                                        kumo_node_block_t **out,
                                        kumo_err_ctx_t *err);
/* How far a proposed block's time may be ahead of the validating node's wall clock: clocks of
 * honest validators (NTP) differ by far less, and the proposer's clock is an input, so a
 * proposer cannot move the chain's time (leases, interest, expiries count from it) far into
 * the future. A validator whose clock is off by more refuses honest proposals (prevotes nil)
 * and follows through block sync, which checks commits instead. */
#define KUMO_NODE_BLOCK_TIME_DRIFT_MS 10000u

/* What a received block's header must say. */
typedef struct kumo_node_header_want {
    const char *chain_id;
    uint64_t height;
    uint64_t parent_time_ms; /* the time may not be earlier */
    const uint8_t *proposer; /* KUMO_ADDRESS_BYTES, or NULL: any (checked by the caller) */
    uint64_t now_ms;         /* local wall clock: time <= now_ms + DRIFT; 0: no upper bound */
} kumo_node_header_want_t;

/* The header rules of a received block: present (KUMO_EDECODE), chain id (KUMO_ECHAINID),
 * height and time bounds (KUMO_EINVAL), a proposer address (KUMO_EDECODE) that is want's
 * (KUMO_EUNAUTH). Consensus proposals give the round's proposer and the clock; block sync
 * gives neither (a +2/3 commit vouches for those blocks, whatever the clock says now). */
KUMO_MUST_USE int kumo_node_block_header_check(const Kumo__BlockHeader *h,
                                               const kumo_node_header_want_t *want,
                                               kumo_err_ctx_t *err);
/* Executes a received encoded Block for the next height and checks that doing so gives
 * exactly its bytes (header hashes, results, app hash): KUMO_EMISMATCH if not, decode and
 * field errors otherwise. The caller checks the proposer, the last commit and the evidence.
 * evidence_scratch has room for KUMO_NODE_BLOCK_EVIDENCE_MAX items and lives as long as the
 * block. On success the block stays open. */
KUMO_MUST_USE int kumo_node_block_execute(kumo_node_t *node,
                                          kumo_bytes_t value,
                                          kumo_bytes_t *evidence_scratch,
                                          kumo_node_block_t **out,
                                          kumo_err_ctx_t *err);
/* The block's evidence items (valid until finish/discard). */
size_t kumo_node_block_evidence(const kumo_node_block_t *b, const kumo_bytes_t **items);
/* The encoded block (valid until finish/discard). */
kumo_bytes_t kumo_node_block_bytes(const kumo_node_block_t *b);
/* Stores the block, its results, tx index and commit_enc (an encoded Commit, or empty) and
 * commits; then the head moves and listeners run. Frees b, also on failure (nothing
 * committed then). */
KUMO_MUST_USE int kumo_node_block_finish(kumo_node_t *node,
                                         kumo_node_block_t *b,
                                         kumo_bytes_t commit_enc,
                                         kumo_err_ctx_t *err);
/* Aborts and frees an open block (NULL is fine). */
void kumo_node_block_discard(kumo_node_t *node, kumo_node_block_t *b);

/* The consensus producer (cons.c): Tendermint over p2p, block sync. */
KUMO_MUST_USE int kumo_node_producer_consensus_make(kumo_node_producer_t *out, kumo_err_ctx_t *err);

/* The single-validator producer: a timer every interval_ms calling kumo_node_block_produce. */
KUMO_MUST_USE int
kumo_node_producer_timer_make(uint32_t interval_ms, kumo_node_producer_t *out, kumo_err_ctx_t *err);

#endif
