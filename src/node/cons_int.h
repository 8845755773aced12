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
#include "node/node_int.h"
#include "p2p/p2p.h"
#include "wal/wal.h"

/* Block sync wire (channel KUMO_P2P_CH_BLOCKSYNC): u8 type || u64 height || for a block: u32
 * len || encoded Block || u32 len || encoded Commit. */
enum {
    NODE_BSYNC_STATUS = 1,   /* "my head is height" */
    NODE_BSYNC_REQUEST = 2,  /* "send me height" */
    NODE_BSYNC_BLOCK = 3,    /* block and commit of height */
    NODE_BSYNC_NO_BLOCK = 4, /* "I do not have height" */
};
/* A block sync message: the channel's limit. */
#define NODE_BSYNC_BYTES_MAX (8u * 1024u * 1024u)
/* Status every this often (and on peer up); a request unanswered this long goes elsewhere. */
#define NODE_BSYNC_STATUS_MS  1000u
#define NODE_BSYNC_REQUEST_MS 3000u
/* A peer this many heights ahead means consensus alone will not catch us up. */
#define NODE_BSYNC_LAG_HEIGHTS 2u
/* One height behind for this long also means it (the peers that decided it moved on and,
 * after a restart, may no longer hold its votes). */
#define NODE_BSYNC_STUCK_MS 3000u
/* WAL record kinds; messages already logged this height are not logged again. */
#define NODE_WAL_MSG 1u
/* Evidence older than this many heights is not included any more. */
#define NODE_EVIDENCE_AGE_MAX 100u
#define NODE_WAL_SEEN_MAX     2048u
/* Room left in a consensus value for the header, commit and evidence. */
#define NODE_CONS_VALUE_MARGIN_BYTES (256u * 1024u)

typedef struct node_peer_height {
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    uint64_t height;
    bool used;
} node_peer_height_t;

/* Consensus messages longer than this travel in parts (parts.c). */
#define NODE_PARTS_BYTES (64u * 1024u)
/* Messages being assembled at once (the oldest is evicted). */
#define NODE_PARTS_SLOTS 4u

typedef struct node_parts_slot {
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    uint32_t total;
    uint32_t have;
    uint8_t *buf;
    uint8_t *seen; /* one byte per part */
    uint64_t stamp;
} node_parts_slot_t;

typedef struct node_cons node_cons_t;
typedef struct node_cons_timer_arg {
    node_cons_t *nc;
    uint32_t id;
} node_cons_timer_arg_t;

struct node_cons {
    kumo_node_t *node;
    struct event_base *base;
    kumo_consensus_cfg_t ccfg;
    kumo_consensus_valset_t genesis_vs; /* priorities of height 1 */
    int32_t self_index;                 /* -1: not a validator (a full node) */
    uint8_t node_ids[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX][KUMO_TLS_NODE_ID_BYTES];
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
    /* Block sync. */
    struct event *status_timer;
    node_peer_height_t peers[KUMO_P2P_PEER_COUNT_MAX];
    bool request_out;
    uint64_t request_height;
    uint64_t request_sent_ms;
    uint8_t request_peer[KUMO_TLS_NODE_ID_BYTES];
    uint64_t synced_blocks;
    uint64_t behind_height; /* our height when a peer was first seen one ahead */
    uint64_t behind_since_ms;
    /* Crash safety: the consensus messages of the current height (received and our own),
     * fsync'd before the engine acts on them, and the last signature's height/round/step. */
    kumo_wal_t *wal;
    uint8_t (*wal_seen)[KUMO_CRYPTO_HASH_BYTES];
    uint32_t wal_seen_count;
    kumo_consensus_signer_state_t signer;
    /* Duplicate votes seen or gossiped, waiting to be put in a block. */
    uint8_t evidence[KUMO_NODE_BLOCK_EVIDENCE_MAX][KUMO_CONSENSUS_EVIDENCE_BYTES];
    kumo_bytes_t evidence_items[KUMO_NODE_BLOCK_EVIDENCE_MAX];
    uint32_t evidence_count;
    char signer_path[KUMO_NODE_PATH_BYTES];
    node_parts_slot_t parts[NODE_PARTS_SLOTS];
    uint64_t parts_stamp;
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
size_t node_parts_size(void);
void node_parts_split(kumo_bytes_t msg, void (*out)(void *ctx, kumo_bytes_t frame), void *ctx);
/* A part frame (first byte 0xff): 0 while incomplete (whole untouched), 0 with the whole
 * message appended to whole when the last part arrived and it hashes right; KUMO_EDECODE for
 * a malformed part or a message that does not hash to its id. */
KUMO_MUST_USE int
node_parts_recv(node_cons_t *nc, kumo_bytes_t frame, kumo_buf_t *whole, kumo_err_ctx_t *err);
void node_parts_free(node_cons_t *nc);

/* ---- bsync.c ---- */
void node_bsync_on_msg(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t msg);
void node_bsync_peer_up(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
void node_bsync_peer_down(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
/* The periodic status broadcast and request retry. */
void node_bsync_tick(node_cons_t *nc);

#endif
