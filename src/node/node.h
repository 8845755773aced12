/*
 * node.h - the kumo node: one process holding the chain's store, the mempool and the block
 * producer, on one libevent loop. The HTTP API (src/rpc) and the consensus engine plug
 * into it through this header. Not pure.
 *
 * Threads: every function here runs on the loop thread unless it says otherwise. Read
 * snapshots (kumo_node_read_begin) may be used on any thread.
 *
 * Files under home (kumo init): config.yaml, genesis.json, keyring/ (validator key, 0600),
 * data/ (the LMDB store: state, blocks, results, tx index, all committed atomically per block).
 */
#ifndef KUMO_NODE_NODE_H
#define KUMO_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "chain/chain.h"
#include "core/core.h"
#include "store/store.h"

typedef struct kumo_node kumo_node_t;

/* Node configuration (config.yaml; every field has a documented default). */
typedef struct kumo_node_cfg {
    char home[512];
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    char moniker[64];
    char validator_key[64];               /* keyring name of the validator operator key */
    char rpc_listen[128];                 /* "127.0.0.1:26657" */
    uint32_t block_interval_ms;           /* 1000 */
    uint32_t mempool_tx_count_max;        /* 50000 */
    uint64_t mempool_bytes_max;           /* 64 MiB */
    uint32_t mempool_account_tx_max;      /* 256 pending txs per account */
    uint32_t mempool_future_seq_max;      /* 64: how far past the account sequence a tx may be */
    uint64_t mempool_account_bytes_max;   /* 4 MiB pending per account */
    uint32_t mempool_lane_tx_count_max;   /* 1000 lease confirmation txs (beside the rest) */
    uint64_t mempool_lane_bytes_max;      /* 1 MiB of them */
    uint32_t mempool_lane_account_tx_max; /* 8 pending confirmation txs per provider */
    uint32_t block_tx_count_max;          /* 10000 */
    uint32_t rpc_connection_max;          /* 256 */
    uint32_t rpc_body_bytes_max;          /* 1 MiB */
    uint32_t sse_client_max;              /* 64 */
    uint32_t rpc_connection_per_addr_max; /* 64 open HTTP connections per client address */
    uint32_t rpc_request_timeout_ms;      /* 10000: accept (or previous answer) to request */
    uint32_t sse_output_bytes_max;        /* 4 MiB unsent to one /events client */
    uint32_t sse_stall_timeout_ms;        /* 60000: /events client taking nothing */
    uint32_t rpc_dashboard;               /* 1: serve the dashboard at /ui/; 0: off */
    char log_level[16];                   /* "info" */
    /* Consensus (used when genesis has more than one validator; block_interval_ms is then
     * the wait after each commit, i.e. the block time on a healthy network). */
    char p2p_listen[128];        /* "" (none); testnets use "127.0.0.1:<port>" */
    char persistent_peers[4096]; /* "id@host:port,..." */
    uint32_t timeout_propose_ms; /* 1000 */
    uint32_t timeout_vote_ms;    /* 500 */
    /* Peer slots (src/p2p): persistent peers are exempt from all of these. */
    uint32_t p2p_inbound_count_max;    /* 32 strangers */
    uint32_t p2p_inbound_per_host_max; /* 4 */
    uint32_t p2p_pending_count_max;    /* 32 inbound handshakes */
    uint32_t p2p_pending_per_host_max; /* 8 */
    uint32_t p2p_useful_timeout_ms;    /* 60000 */
    uint32_t p2p_ban_ms;               /* 600000 */
} kumo_node_cfg_t;

/* Defaults for every field: home and chain_id empty (chain_id then comes from genesis.json),
 * moniker "kumo-node", validator_key "validator", rpc_listen "127.0.0.1:26657",
 * block_interval_ms 1000, mempool_tx_count_max 50000, mempool_bytes_max 64 MiB,
 * mempool_account_tx_max 256, mempool_future_seq_max 64, mempool_account_bytes_max 4 MiB,
 * mempool_lane_tx_count_max 1000, mempool_lane_bytes_max 1 MiB, mempool_lane_account_tx_max 8,
 * block_tx_count_max 10000,
 * rpc_connection_max 256, rpc_body_bytes_max 1 MiB, sse_client_max 64,
 * rpc_connection_per_addr_max 64, rpc_request_timeout_ms 10000, sse_output_bytes_max 4 MiB,
 * sse_stall_timeout_ms 60000, rpc_dashboard 1, log_level "info", and the p2p slot limits of
 * kumo_p2p_cfg_default (32 strangers, 4 per host, 32 pending handshakes, 8 per host, useful
 * within 60 s, bans of 10 min).
 * A block_interval_ms of 0 (only through the struct, not the file) starts no block timer:
 * blocks are then produced only by kumo_node_block_produce (tests). */
void kumo_node_cfg_default(kumo_node_cfg_t *cfg);
/* Checks every field's range (the ranges config.yaml documents): KUMO_EINVAL naming the
 * field. kumo_node_cfg_load and kumo_node_open run it. */
KUMO_MUST_USE int kumo_node_cfg_validate(const kumo_node_cfg_t *cfg, kumo_err_ctx_t *err);
/* Loads home/config.yaml over the defaults. Unknown keys and bad values: KUMO_EDECODE with
 * file, line and key in the detail. */
KUMO_MUST_USE int kumo_node_cfg_load(const char *home, kumo_node_cfg_t *cfg, kumo_err_ctx_t *err);

/* Writes home/config.yaml for cfg (validated), every key commented, atomically. */
KUMO_MUST_USE int
kumo_node_cfg_save(const char *home, const kumo_node_cfg_t *cfg, kumo_err_ctx_t *err);

/* Creates a node home (kumo init): home/keyring with a new validator key named "validator"
 * (0600), home/config.yaml with every default written out and commented, and
 * home/genesis.json for chain_id with that validator (power 10) and its operator account
 * funded with 1e12 ukumo. KUMO_EEXIST if home already holds a config. */
KUMO_MUST_USE int kumo_node_home_init(const char *home,
                                      const char *chain_id,
                                      const char *moniker,
                                      kumo_err_ctx_t *err);
/* Locks home for this process (flock on home/node.lock, exclusive, held while *fd_out is
 * open: the process's lifetime for `kumo node start`) and writes our pid into the file, so
 * that a second node on the same home fails before it opens the store or the WAL. Fails with
 * KUMO_EBUSY naming home and the holder's pid (when the file holds one) if another process
 * holds the lock, KUMO_ENOTFOUND if home does not exist, KUMO_EIO otherwise. */
KUMO_MUST_USE int kumo_node_home_lock(const char *home, int *fd_out, kumo_err_ctx_t *err);
/* Releases the lock (closes fd); -1 is a no-op. */
void kumo_node_home_unlock(int fd);
/* Adds (or tops up) a genesis balance in home/genesis.json before the first start. */
KUMO_MUST_USE int kumo_node_genesis_account_add(const char *home,
                                                const uint8_t addr[KUMO_ADDRESS_BYTES],
                                                uint64_t amount_ukumo,
                                                kumo_err_ctx_t *err);

/* Opens the node in cfg->home on base: the store (initialised from genesis.json when fresh),
 * the validator key, the mempool and the block timer. */
KUMO_MUST_USE int kumo_node_open(const kumo_node_cfg_t *cfg,
                                 struct event_base *base,
                                 kumo_node_t **out,
                                 kumo_err_ctx_t *err);
/* A node in this process without a home, event loop, API or producer: the store in dir,
 * initialised from genesis (chain_id's) when fresh; an existing store resumes at its head and
 * genesis may be NULL (its validator set is then unknown: blocks name no proposer key).
 * validator (copied; NULL: no facilitator) is the proposer and the facilitator.
 * Its blocks are made by kumo_node_block_produce_txs, the path every node block takes
 * (`kumo demo`, the randomized block test and the benchmarks run their blocks through it). */
typedef struct kumo_node_local_cfg {
    const char *dir;
    const char *chain_id;
    bool no_sync; /* tests and benchmarks only */
    const kumo_crypto_keypair_t *validator;
} kumo_node_local_cfg_t;
KUMO_MUST_USE int kumo_node_local_open(const kumo_node_local_cfg_t *cfg,
                                       const Kumo__Genesis *genesis,
                                       kumo_node_t **out,
                                       kumo_err_ctx_t *err);
/* The node's store (owned by the node; for benchmarks that time apply alone). */
kumo_store_t *kumo_node_store(kumo_node_t *node);

/* The block producer: what decides when (and, with consensus, which) block is committed. The
 * node owns the producing steps (kumo_node_block_produce: facilitator txs, mempool selection,
 * apply, persistence, commit listeners); a producer only drives them on the loop. The
 * single-validator producer is a libevent timer every block_interval_ms; the consensus engine
 * replaces it with one that commits decided blocks. start runs once from kumo_node_open, stop
 * once from kumo_node_close; neither may call back into the node synchronously. */
typedef struct kumo_node_producer {
    void *ctx;
    int (*start)(void *ctx, kumo_node_t *node, kumo_err_ctx_t *err);
    void (*stop)(void *ctx); /* also frees ctx */
} kumo_node_producer_t;

/* Builds the next block on the head state (the proposer's own pending txs, then its
 * facilitator txs, then the mempool by priority (kumo_node_mempool_select), within
 * block_tx_count_max and params max_block_bytes), applies it, stores block, results and tx index
 * with the state in one commit, updates the mempool and calls the commit listeners. A failure
 * (store errors: KUMO_EIO, KUMO_ECORRUPT, KUMO_ELIMIT for a full map, KUMO_ENOMEM) commits nothing
 * and leaves the node at its height. Loop thread; not from inside a commit listener. */
KUMO_MUST_USE int kumo_node_block_produce(kumo_node_t *node, kumo_err_ctx_t *err);
/* The same block path with the given txs in place of the mempool's: the facilitator's due
 * txs first, then txs in order (bounded only by the chain's block limits). The txs are not
 * prepared: apply decodes and verifies each, so a malformed or badly signed tx is a failed
 * result like in any block. out (free with kumo_chain_block_out_free) holds every tx result,
 * facilitator txs first; *facilitator_tx_count_out (may be NULL) says how many. */
KUMO_MUST_USE int kumo_node_block_produce_txs(kumo_node_t *node,
                                              const kumo_bytes_t *txs,
                                              size_t tx_count,
                                              kumo_chain_block_out_t *out,
                                              size_t *facilitator_tx_count_out,
                                              kumo_err_ctx_t *err);

/* Stops the timer, finishes nothing partial (an uncommitted block is dropped), closes. */
void kumo_node_close(kumo_node_t *node);

typedef struct kumo_node_status {
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    char moniker[64];
    uint64_t height;
    uint8_t app_hash[KUMO_CHAIN_HASH_BYTES];
    uint8_t block_hash[KUMO_CHAIN_HASH_BYTES];
    uint64_t block_time_ms;     /* header time of the last block */
    uint64_t block_duration_us; /* how long the last block took to build and commit */
    uint64_t mempool_tx_count;
    uint64_t mempool_bytes;
    uint64_t mempool_lane_tx_count; /* of mempool_tx_count: lease confirmations */
    uint64_t mempool_evicted_total; /* txs evicted for ones paying more per byte */
    uint64_t txs_committed_total;
    uint64_t txs_rejected_total; /* refused by the mempool */
    uint64_t open_orders;
    uint64_t active_leases;
    uint8_t validator_address[KUMO_ADDRESS_BYTES];
    /* Peer-to-peer (all zero without p2p): connections now, and totals since start. */
    uint32_t p2p_peers;
    uint32_t p2p_strangers;          /* of p2p_peers and handshakes: not persistent peers */
    uint32_t p2p_pending;            /* connections in the handshake */
    uint64_t p2p_refused_total;      /* inbound refused by the caps or a ban */
    uint64_t p2p_evicted_total;      /* pending connections evicted by newer ones */
    uint64_t p2p_idle_dropped_total; /* strangers dropped as not useful in time */
    uint64_t p2p_bans_total;
    uint64_t p2p_disconnects_bad_total; /* dropped for protocol violations or bad messages */
} kumo_node_status_t;

void kumo_node_status_get(const kumo_node_t *node, kumo_node_status_t *out);

/* Checks a tx (decode, signature, chain id, fee, sequence within the future window, basic
 * msg validity, size, duplicates by hash) and adds it to the mempool. Error codes are the
 * chain's (KUMO_ESIG, KUMO_ESEQUENCE, KUMO_EFEE, ...) plus KUMO_EEXIST for a duplicate and
 * KUMO_ELIMIT when the mempool or the account's share is full. hash_out gets the tx hash. */
KUMO_MUST_USE int kumo_node_tx_submit(kumo_node_t *node,
                                      kumo_bytes_t tx,
                                      uint8_t hash_out[KUMO_CHAIN_HASH_BYTES],
                                      kumo_err_ctx_t *err);

/* Called on the loop thread after each block commit, in height order. */
typedef void (*kumo_node_commit_cb)(void *ctx, uint64_t height);
/* Registers a commit listener; *id_out identifies it for removal. At most 16 listeners. */
KUMO_MUST_USE int kumo_node_commit_listen(
    kumo_node_t *node, kumo_node_commit_cb cb, void *ctx, uint32_t *id_out, kumo_err_ctx_t *err);
void kumo_node_commit_unlisten(kumo_node_t *node, uint32_t id);

/* A read snapshot of committed state, blocks and results. */
KUMO_MUST_USE int kumo_node_read_begin(kumo_node_t *node,
                                       kumo_store_read_t **read_out,
                                       kumo_kv_t *state_kv_out,
                                       kumo_err_ctx_t *err);

/* Committed block and results at height (encoded Block / BlockResults, appended to out);
 * KUMO_ENOTFOUND past the head. Any thread, with a snapshot. */
KUMO_MUST_USE int
kumo_node_block_get(kumo_store_read_t *read, uint64_t height, kumo_buf_t *out, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_node_results_get(kumo_store_read_t *read,
                                        uint64_t height,
                                        kumo_buf_t *out,
                                        kumo_err_ctx_t *err);
/* What consensus says about a block, as block execution hands it to the chain (docs/design.md,
 * "The block API"): the proposer's consensus key, height - 1's validators with their power and
 * whether each signed the block's last commit (none without a last commit), and the evidence
 * decoded. */
typedef struct kumo_node_block_info {
    bool has_proposer; /* the header's proposer address is in the height's validator set */
    uint8_t proposer[KUMO_CRYPTO_PUBKEY_BYTES];
    kumo_chain_commit_signer_t signers[KUMO_BLOCK_SIGNER_COUNT_MAX];
    size_t signer_count;
    kumo_chain_evidence_t evidence[KUMO_BLOCK_EVIDENCE_COUNT_MAX];
    size_t evidence_count;
} kumo_node_block_info_t;

/* The info of a committed block, with the state snapshot state_kv (kumo_node_read_begin) for
 * the validator sets. KUMO_EDECODE / KUMO_EINVAL / KUMO_ELIMIT for a block whose header,
 * commit or evidence do not fit (never for one this node committed). Any thread. */
KUMO_MUST_USE int kumo_node_block_info_get(const kumo_node_t *node,
                                           const kumo_kv_t *state_kv,
                                           const Kumo__Block *blk,
                                           kumo_node_block_info_t *out,
                                           kumo_err_ctx_t *err);
/* Where a committed tx is; KUMO_ENOTFOUND if not committed. */
KUMO_MUST_USE int kumo_node_tx_locate(kumo_store_read_t *read,
                                      const uint8_t hash[KUMO_CHAIN_HASH_BYTES],
                                      uint64_t *height_out,
                                      uint32_t *index_out,
                                      kumo_err_ctx_t *err);
/* True when a tx with this hash waits in the mempool. */
bool kumo_node_tx_is_pending(const kumo_node_t *node, const uint8_t hash[KUMO_CHAIN_HASH_BYTES]);

#endif
