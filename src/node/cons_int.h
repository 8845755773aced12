/*
 * cons_int.h - private to the node: the consensus producer (cons.c) and block sync
 * (bsync.c). With more than one genesis validator the node runs the Tendermint engine
 * (src/consensus) over p2p (src/p2p) instead of the block timer: the proposer's value is the
 * encoded Block it built and executed; every validator executes a proposal once in
 * validate_value and keeps that open store block until the height is decided, so a decided
 * block is committed without executing it again. See docs/design.md, "Consensus in the node".
 */
#ifndef KUMO_NODE_CONS_INT_H
#define KUMO_NODE_CONS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "consensus/consensus.h"
#include "consensus/sync.h"
#include "node/node_int.h"
#include "p2p/p2p.h"
#include "wal/wal.h"

/* Block sync (bsync.c) drives the policy and wire of src/consensus/sync.h on channel
 * KUMO_P2P_CH_BLOCKSYNC, whose limit is this. */
#define NODE_BSYNC_BYTES_MAX (8u * 1024u * 1024u)
/* Status (and the policy's tick) every this often, and on peer up. */
#define NODE_BSYNC_STATUS_MS 1000u
/* Score points a failed claim costs a peer (kumo_p2p_penalize): a timeout may be a slow link,
 * a block it said it lacks or one that does not verify is a lie; a malformed message is a
 * protocol violation. The peer is dropped in every case. */
#define NODE_BSYNC_PENALTY_TIMEOUT_POINTS 20u
#define NODE_BSYNC_PENALTY_LIE_POINTS     100u
/* Serving block sync: each peer gets at most this many blocks a second (a token bucket that
 * holds one second's worth). A syncing node has one request outstanding at a time, so it
 * waits a round trip and an apply per block and stays below this on any real link; a peer
 * asking faster only makes us read the store for it at this rate. */
#define NODE_BSYNC_SERVE_PER_S 100u
/* Requests of one peer waiting for its budget (served in order as it refills). One more is a
 * flood (an honest peer has one outstanding): penalized as a protocol violation, dropped. */
#define NODE_BSYNC_SERVE_QUEUE_MAX 4u
/* How often waiting requests are looked at: one token's time. */
#define NODE_BSYNC_SERVE_TICK_MS (1000u / NODE_BSYNC_SERVE_PER_S)
_Static_assert(NODE_BSYNC_SERVE_TICK_MS > 0, "serve tick");
/* At most one block_sync_peer_failed line per this long (the rest are counted). */
#define NODE_BSYNC_LOG_MS 1000u
/* WAL record kinds; messages already logged this height are not logged again. */
#define NODE_WAL_MSG 1u
/* Evidence older than this many heights is not included any more. */
#define NODE_EVIDENCE_AGE_MAX 100u
/* Room left in a consensus value for the header, commit and evidence. */
#define NODE_CONS_VALUE_MARGIN_BYTES (256u * 1024u)

/* Consensus messages longer than this travel in parts (parts.c). */
#define NODE_PARTS_BYTES (64u * 1024u)
/* The smallest part size a header may name (test builds split at 256 bytes): a vote always
 * travels whole. */
#define NODE_PARTS_BYTES_MIN 256u
_Static_assert(KUMO_CONSENSUS_VOTE_BYTES < NODE_PARTS_BYTES_MIN, "a vote fits one part");
_Static_assert(NODE_PARTS_BYTES_MIN <= NODE_PARTS_BYTES, "part size range");
/* Parts of the largest message at the smallest part size. */
#define NODE_PARTS_COUNT_MAX \
    ((KUMO_CONSENSUS_MSG_BYTES_MAX + NODE_PARTS_BYTES_MIN - 1u) / NODE_PARTS_BYTES_MIN)
/* Merkle proof hashes of one part: a tree of NODE_PARTS_COUNT_MAX leaves is 15 levels deep. */
#define NODE_PARTS_PROOF_COUNT_MAX 24u
_Static_assert(NODE_PARTS_COUNT_MAX < (1u << NODE_PARTS_PROOF_COUNT_MAX), "proof depth");
/* Messages being assembled per sending validator: its current proposal and the one before
 * (a rebroadcast of the previous round, a catch-up answer). A new header from that validator
 * replaces its own oldest, never another sender's. */
#define NODE_PARTS_SENDER_SLOTS 2u
/* Validators a node knows at once: those of the set of head + 1 and of head + 2. */
#define NODE_VALIDATOR_IDS_MAX (2u * KUMO_CONSENSUS_VALIDATOR_COUNT_MAX)
#define NODE_PARTS_SLOT_COUNT  (NODE_VALIDATOR_IDS_MAX * NODE_PARTS_SENDER_SLOTS)
/* Points a peer loses for a part that fails its proof or a header it may not send. */
#define NODE_PARTS_PENALTY 100u
/* Frame tags on the consensus channel (consensus message kinds are 1..3). */
#define NODE_PARTS_TAG_HEADER 0xfeu
#define NODE_PARTS_TAG_PART   0xffu

/* A message being assembled: opened by a header its sender (a validator) vouched for, filled
 * by parts from anyone whose Merkle proof checks against the header's root. */
typedef struct node_parts_slot {
    bool used;
    uint32_t sender_index;         /* the validator that sent the header */
    kumo_consensus_msg_t proposal; /* the header's signed proposal fields (no value) */
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    uint32_t total_bytes;
    uint32_t part_bytes;
    uint32_t part_count;
    uint32_t have_count;
    uint8_t *buf;
    uint8_t *seen; /* one byte per part */
    uint64_t stamp;
} node_parts_slot_t;

typedef struct node_parts {
    node_parts_slot_t slots[NODE_PARTS_SLOT_COUNT];
    uint64_t stamp;
    uint64_t unknown_count; /* parts dropped: no open header names their root */
} node_parts_t;

/* What a receiver checks headers against. */
typedef struct node_parts_view {
    uint64_t height; /* the engine's height: headers of height and height + 1 are taken */
    const kumo_consensus_valset_t *vs;      /* the set of height */
    const kumo_consensus_valset_t *next_vs; /* the set of height + 1 (NULL: the same) */
    const char *chain_id;
} node_parts_view_t;

/* One peer's block sync serving budget (bsync.c). */
typedef struct node_bsync_server {
    bool used;
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    uint64_t tokens_milli; /* 1000 per block; at most NODE_BSYNC_SERVE_PER_S * 1000 */
    uint64_t refill_ms;    /* when tokens were last topped up */
    uint64_t queue[NODE_BSYNC_SERVE_QUEUE_MAX]; /* requested heights, oldest first */
    uint32_t queue_count;
} node_bsync_server_t;

typedef struct node_cons node_cons_t;
typedef struct node_cons_timer_arg {
    node_cons_t *nc;
    uint32_t id;
} node_cons_timer_arg_t;

struct node_cons {
    kumo_node_t *node;
    struct event_base *base;
    kumo_consensus_cfg_t ccfg;
    /* The sets of head + 1 (with its round-0 priorities: the engine's) and head + 2, read
     * from state at every new head (node_cons_valset_refresh); our index in the first. */
    kumo_consensus_valset_t vs;
    kumo_consensus_valset_t next_vs;
    int32_t self_index; /* -1: not a validator of head + 1 (a full node, or one that left) */
    /* The p2p identities of the validators of both sets (vs's first, in its order): who may
     * open parts slots and whose consensus messages count as a validator's. */
    uint8_t node_ids[NODE_VALIDATOR_IDS_MAX][KUMO_TLS_NODE_ID_BYTES];
    uint32_t node_id_count;
    kumo_consensus_t *engine; /* NULL while syncing or for a full node */
    struct event *timers[KUMO_CONSENSUS_TIMER_COUNT];
    node_cons_timer_arg_t timer_args[KUMO_CONSENSUS_TIMER_COUNT];
    kumo_p2p_t *p2p;
    /* The executed, uncommitted block (our proposal or one we validated). */
    kumo_node_block_t *pending;
    uint8_t pending_id[KUMO_CRYPTO_HASH_BYTES];
    kumo_bytes_t evidence_scratch[KUMO_NODE_BLOCK_EVIDENCE_MAX];
    /* The commit of the head height, put in the next block we propose. */
    Kumo__Commit *last_commit;
    /* Block sync: the policy state and the rate limit of its fault log. */
    struct event *status_timer;
    kumo_consensus_sync_t sync;
    uint64_t bsync_log_ms;
    uint32_t bsync_log_suppressed;
    /* Serving block sync: per-peer budgets and the timer that serves waiting requests. */
    node_bsync_server_t serve[KUMO_P2P_PEER_COUNT_MAX];
    struct event *serve_timer;
    uint64_t serve_flood_total; /* peers dropped for flooding requests */
    /* Crash safety: the consensus messages of the current height the engine keeps (received
     * and our own), fsync'd before it acts on them, and the last signature's
     * height/round/step. */
    kumo_wal_t *wal;
    bool wal_full; /* the last append was refused for the log's size */
    kumo_consensus_signer_state_t signer;
    /* Refused consensus messages already logged, and when (rate limit). */
    kumo_consensus_counters_t refused_logged;
    uint64_t refused_log_ms;
    /* Duplicate votes seen or gossiped, waiting to be put in a block. */
    uint8_t evidence[KUMO_NODE_BLOCK_EVIDENCE_MAX][KUMO_CONSENSUS_EVIDENCE_BYTES];
    kumo_bytes_t evidence_items[KUMO_NODE_BLOCK_EVIDENCE_MAX];
    uint32_t evidence_count;
    /* Of those, the ones our pending proposal carries (io_get_value). */
    kumo_bytes_t evidence_proposed[KUMO_NODE_BLOCK_EVIDENCE_MAX];
    char signer_path[KUMO_NODE_PATH_BYTES];
    /* A descriptor held in reserve for the signer state's write: released for the retry of a
     * write that failed (EMFILE when something else took every descriptor), then taken back. */
    int signer_spare_fd;
    /* A signer-state write failed and its step was skipped: the engine restarts from the WAL
     * (as after a crash) when sign_retry fires, every sign_retry_ms (doubling up to 30 s). */
    bool sign_failed;
    uint32_t sign_retry_ms;
    struct event *sign_retry;
    node_parts_t parts;
    bool stopping;
    bool equivocate; /* test builds only (KUMO_TEST_HOOKS) */
};

/* ---- cons.c ---- */
/* A send whose failure (peer gone, queue full) the protocol recovers from by repeating. */
void node_cons_send(node_cons_t *nc,
                    const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                    uint8_t channel,
                    kumo_bytes_t payload);
uint64_t node_cons_now_ms(void);
/* Opens the engine at the node's height + 1 with that height's proposer priorities. */
KUMO_MUST_USE int node_cons_engine_open(node_cons_t *nc, kumo_err_ctx_t *err);
/* Reads the sets of head + 1 and head + 2 from the head's state (after every new head):
 * the engine's set, the known validators' p2p identities, our index. */
KUMO_MUST_USE int node_cons_valset_refresh(node_cons_t *nc, kumo_err_ctx_t *err);
void node_cons_engine_close(node_cons_t *nc);
void node_cons_pending_drop(node_cons_t *nc);
/* A height is committed: its WAL records are no longer needed. */
void node_cons_wal_height_done(node_cons_t *nc);
/* Checks a commit for height against the genesis validator set and value_id: +2/3 of power
 * with valid precommit signatures, no index twice. */
KUMO_MUST_USE int node_cons_commit_verify(const node_cons_t *nc,
                                          const Kumo__Commit *commit,
                                          uint64_t height,
                                          const uint8_t value_id[KUMO_CRYPTO_HASH_BYTES],
                                          kumo_err_ctx_t *err);
/* Evidence (encoded) valid against the validator set and young enough for a block at
 * height. */
KUMO_MUST_USE int node_cons_evidence_check(const node_cons_t *nc,
                                           kumo_bytes_t ev,
                                           uint64_t height,
                                           kumo_err_ctx_t *err);
/* Drops pooled evidence that the block b carries (it is committed now). */
void node_cons_evidence_prune(node_cons_t *nc, const kumo_node_block_t *b);
/* Keeps an unpacked copy of commit_enc as the last commit. */
KUMO_MUST_USE int
node_cons_last_commit_set(node_cons_t *nc, kumo_bytes_t commit_enc, kumo_err_ctx_t *err);

/* ---- parts.c ---- */
/* The part size this node splits at: NODE_PARTS_BYTES (test builds: $KUMO_TEST_PART_BYTES). */
size_t node_parts_size(void);
/* Calls out for each frame of msg: msg itself when it fits part_bytes, otherwise a header
 * (the proposal's signed fields, total and part size, the Merkle root of the parts) and then
 * every part with its Merkle proof. Only a proposal is ever longer than a part. Frames are
 * borrowed for the call. KUMO_ENOMEM (nothing sent: the engine rebroadcasts). */
KUMO_MUST_USE int node_parts_split(kumo_bytes_t msg,
                                   size_t part_bytes,
                                   void (*out)(void *ctx, kumo_bytes_t frame),
                                   void *ctx);
/* A header frame (tag NODE_PARTS_TAG_HEADER) from the validator sender_index (the caller
 * checked the p2p peer is that validator). 0 when a slot is open for it (new or already
 * open) or when it is for another height (ignored). KUMO_EDECODE for bad bytes, KUMO_ELIMIT
 * for sizes out of range, KUMO_EUNAUTH / KUMO_ESIG when no validator signed the proposal,
 * KUMO_ENOMEM. Opening a slot frees slots of heights below view->height and, at the
 * sender's limit, only that sender's oldest slot. */
KUMO_MUST_USE int node_parts_header_recv(node_parts_t *p,
                                         const node_parts_view_t *view,
                                         uint32_t sender_index,
                                         kumo_bytes_t frame,
                                         kumo_err_ctx_t *err);
/* A part frame (tag NODE_PARTS_TAG_PART) from any peer. 0 while incomplete or when no open
 * slot names its root (dropped, counted); 0 with the whole message appended to whole and
 * *sender_out set to the header's sender when this part completed it. KUMO_EDECODE for a
 * malformed part or one that fails its Merkle proof (the frame's sender lied; the slot is
 * untouched); KUMO_EMISMATCH with *sender_out set when the completed message is not the
 * proposal its header named (the header's sender lied; the slot is freed). */
KUMO_MUST_USE int node_parts_part_recv(node_parts_t *p,
                                       kumo_bytes_t frame,
                                       kumo_buf_t *whole,
                                       uint32_t *sender_out,
                                       kumo_err_ctx_t *err);
void node_parts_free(node_parts_t *p);

/* ---- bsync.c ---- */
void node_bsync_on_msg(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t msg);
void node_bsync_peer_up(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
void node_bsync_peer_down(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
/* The periodic status broadcast and request retry. */
void node_bsync_tick(node_cons_t *nc);

#endif
