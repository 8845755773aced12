/*
 * sync.h - block sync as a pure state machine: the wire messages a node exchanges with its
 * peers to fetch decided blocks, and the policy deciding whom to ask for which block, when
 * consensus hands over to block sync and when it takes back over, and which peers failed a
 * claim. Pure: no I/O, no clock, no randomness; the time in monotonic ms and the head
 * height are inputs of every call, and every effect comes back as an action that the driver
 * carries out. src/node/bsync.c drives it over p2p; tests/sim drives it on a virtual network
 * and clock, with a lying peer.
 *
 * The rule: a peer's claim ("my head is height H") never stops consensus by itself. A claim
 * far enough ahead (or one height ahead for long) only makes the node ask for the next block
 * while its engine keeps running. Consensus hands over only on verified progress: a fetched
 * block whose commit the driver checked (+2/3 of the validator set's power precommitted that
 * block at that height). Then, with its engine stopped, the node fetches further blocks only
 * from peers that already delivered verified ones (proven); when none is ahead any more, or
 * the first request fails, consensus takes back over at once. An unproven peer is only ever
 * asked while consensus runs.
 *
 * A peer that does not deliver a block it claimed within KUMO_CONSENSUS_SYNC_REQUEST_MS,
 * answers that it lacks a height it claimed, or delivers a block that does not verify, is
 * reported as a fault (the node penalizes and drops it) and its claims are ignored from then
 * on. A request stays owed when consensus decides its height meanwhile, so a silent liar is
 * caught even on a chain that moves faster than the timeout. One request is outstanding at a
 * time; the peer table has a fixed capacity. See docs/design.md, "Block sync".
 *
 * Not thread-safe: every call runs on the owner's loop thread.
 */
#ifndef KUMO_CONSENSUS_SYNC_H
#define KUMO_CONSENSUS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "core/core.h"

/* ---- wire ---- */

/* Message kinds (the first byte). */
typedef enum kumo_consensus_sync_kind {
    KUMO_CONSENSUS_SYNC_STATUS = 1,   /* "my head is height" */
    KUMO_CONSENSUS_SYNC_REQUEST = 2,  /* "send me the block of height" */
    KUMO_CONSENSUS_SYNC_BLOCK = 3,    /* the block of height and its commit */
    KUMO_CONSENSUS_SYNC_NO_BLOCK = 4, /* "I do not have height" */
} kumo_consensus_sync_kind_t;

/* u8 kind || u64 height: all of STATUS, REQUEST and NO_BLOCK. */
#define KUMO_CONSENSUS_SYNC_HEADER_BYTES 9u
/* An encoded commit: one 64-byte signature and a few bytes of framing per validator of the
 * largest set, with room for the height, round and value id. */
#define KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX (64u * 1024u)
_Static_assert(KUMO_CONSENSUS_VALIDATOR_COUNT_MAX *(KUMO_CRYPTO_SIG_BYTES + 16u) + 256u <=
                   KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX,
               "a commit of the largest validator set fits");
/* A block is a decided consensus value. */
#define KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX KUMO_CONSENSUS_VALUE_BYTES_MAX
/* The largest message: a BLOCK with the largest block and commit. */
#define KUMO_CONSENSUS_SYNC_MSG_BYTES_MAX                                               \
    (KUMO_CONSENSUS_SYNC_HEADER_BYTES + 4u + KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX + 4u + \
     KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX)

/* A decoded message. block and commit borrow from the decoded input (BLOCK only). */
typedef struct kumo_consensus_sync_msg {
    kumo_consensus_sync_kind_t kind;
    uint64_t height;
    kumo_bytes_t block;
    kumo_bytes_t commit;
} kumo_consensus_sync_msg_t;

/* Strict decode of one message: u8 kind || u64 height, and for BLOCK: u32 len || block || u32
 * len || commit. KUMO_EUNKNOWNMSG for an unknown kind; KUMO_EDECODE for short or trailing
 * bytes, height 0 in a REQUEST, BLOCK or NO_BLOCK, or an empty block or commit; KUMO_ELIMIT
 * for a block over BLOCK_BYTES_MAX or a commit over COMMIT_BYTES_MAX. */
KUMO_MUST_USE int
kumo_consensus_sync_msg_decode(kumo_bytes_t in, kumo_consensus_sync_msg_t *m, kumo_err_ctx_t *err);
/* Encoded size of m (which decode would accept). */
size_t kumo_consensus_sync_msg_bytes(const kumo_consensus_sync_msg_t *m);
/* Encodes m into out (cap bytes, KUMO_ELIMIT if too small); sets *len_out. m must be valid
 * (the fields decode would accept): an assertion otherwise. */
KUMO_MUST_USE int kumo_consensus_sync_msg_encode(const kumo_consensus_sync_msg_t *m,
                                                 uint8_t *out,
                                                 size_t cap,
                                                 size_t *len_out);

/* ---- policy ---- */

/* Peers are named by an opaque id of this size (the node uses its p2p node id). */
#define KUMO_CONSENSUS_SYNC_PEER_ID_BYTES 20u
/* Peers tracked at once: the node's p2p peer capacity; statuses of others are ignored. */
#define KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX 64u
/* A peer this many heights ahead means consensus alone will not catch us up. */
#define KUMO_CONSENSUS_SYNC_LAG_HEIGHTS 2u
/* One height behind for this long also means it: the peers that decided that height moved
 * on and, after a restart, may no longer hold its votes. */
#define KUMO_CONSENSUS_SYNC_STUCK_MS 3000u
/* A requested block not delivered within this long is a failed claim. */
#define KUMO_CONSENSUS_SYNC_REQUEST_MS 3000u

/* Why a peer is reported. */
typedef enum kumo_consensus_sync_fault {
    KUMO_CONSENSUS_SYNC_FAULT_NONE = 0,
    KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT = 1,  /* claimed a height, did not deliver it in time */
    KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK = 2, /* said it lacks a height it claimed */
    KUMO_CONSENSUS_SYNC_FAULT_INVALID = 3,  /* delivered a block that did not verify or apply */
} kumo_consensus_sync_fault_t;

/* Fault name for logs ("timeout", "no_block", "invalid", "none"). */
const char *kumo_consensus_sync_fault_name(kumo_consensus_sync_fault_t fault);

/* What the driver must do after a call, in this order: report fault_peer (penalize and drop
 * it), stop the engine, apply the block just delivered (on_block only), send the request,
 * start the engine at head + 1. */
typedef struct kumo_consensus_sync_action {
    kumo_consensus_sync_fault_t fault;
    uint8_t fault_peer[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    bool engine_stop;
    bool apply;
    bool request;
    uint8_t request_peer[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    uint64_t request_height;
    bool engine_start;
    uint64_t synced_count; /* with engine_start: blocks applied by this hand-over */
} kumo_consensus_sync_action_t;

typedef struct kumo_consensus_sync_peer {
    uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    uint64_t claim_height; /* its last STATUS */
    uint64_t served_count; /* verified blocks it delivered */
    bool failed;           /* a failed claim: ignored until removed */
    bool used;
} kumo_consensus_sync_peer_t;

typedef struct kumo_consensus_sync_stats {
    uint64_t requests;
    uint64_t blocks_applied;
    uint64_t handovers;
    uint64_t faults[4];        /* by kumo_consensus_sync_fault_t */
    uint64_t statuses_ignored; /* table full or from a failed peer */
} kumo_consensus_sync_stats_t;

/* The whole policy state. A zeroed struct (or kumo_consensus_sync_init) is the start: head
 * 0, consensus running, no peers. */
typedef struct kumo_consensus_sync {
    kumo_consensus_sync_peer_t peers[KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX];
    uint64_t head;
    bool syncing;  /* consensus handed over: the engine is stopped */
    bool applying; /* on_block asked to apply; on_applied not yet called */
    bool request_out;
    uint8_t request_peer[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    uint64_t request_height;
    uint64_t request_deadline_ms;
    bool behind; /* a claim of head + 1 seen since behind_since_ms at this head */
    uint64_t behind_since_ms;
    uint64_t synced_count;
    kumo_consensus_sync_stats_t stats;
} kumo_consensus_sync_t;

/* Starts at head with consensus running. */
void kumo_consensus_sync_init(kumo_consensus_sync_t *s, uint64_t head);
/* Tracks a connected peer. KUMO_ELIMIT when the table is full (its statuses are then
 * ignored); 0 when added or already there. */
KUMO_MUST_USE int kumo_consensus_sync_peer_add(kumo_consensus_sync_t *s,
                                               const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES]);
/* Forgets a peer (disconnected). A request outstanding at it is dropped without a fault:
 * the next tick asks another peer. */
void kumo_consensus_sync_peer_remove(kumo_consensus_sync_t *s,
                                     const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES]);

/* Every call below first takes head (the node's stored height: it may have moved by
 * consensus) and now_ms, then fills *act (zeroed first). */

/* A STATUS: the peer claims height (added if not tracked yet and there is room). */
void kumo_consensus_sync_on_status(kumo_consensus_sync_t *s,
                                   uint64_t head,
                                   uint64_t now_ms,
                                   const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                   uint64_t height,
                                   kumo_consensus_sync_action_t *act);
/* Periodic (about once a second): request timeouts, the stuck rule, resuming. */
void kumo_consensus_sync_on_tick(kumo_consensus_sync_t *s,
                                 uint64_t head,
                                 uint64_t now_ms,
                                 kumo_consensus_sync_action_t *act);
/* Is a BLOCK or NO_BLOCK of height from peer the answer to the outstanding request?
 * Anything else (late after a timeout, never asked for) is to be ignored unverified. */
bool kumo_consensus_sync_answer_is_expected(const kumo_consensus_sync_t *s,
                                            const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                            uint64_t height);
/* The expected BLOCK of height arrived. For height head + 1 the driver verified its commit
 * first: verified gives act->apply (after act->engine_stop if consensus was running) and the
 * driver reports the outcome with on_applied; not verified is a fault. For a height consensus
 * decided meanwhile (height <= head: a stale request) verified is ignored: the peer
 * answered, there is nothing to apply. */
void kumo_consensus_sync_on_block(kumo_consensus_sync_t *s,
                                  uint64_t head,
                                  uint64_t now_ms,
                                  const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                  uint64_t height,
                                  bool verified,
                                  kumo_consensus_sync_action_t *act);
/* The block on_block asked to apply was applied (ok: head is now one higher) or refused
 * (a fault of the peer that delivered it). */
void kumo_consensus_sync_on_applied(kumo_consensus_sync_t *s,
                                    uint64_t head,
                                    uint64_t now_ms,
                                    const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                    bool ok,
                                    kumo_consensus_sync_action_t *act);
/* The expected NO_BLOCK of height arrived: the peer claimed a height it does not serve (a
 * fault, stale request or not). */
void kumo_consensus_sync_on_no_block(kumo_consensus_sync_t *s,
                                     uint64_t head,
                                     uint64_t now_ms,
                                     const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                     uint64_t height,
                                     kumo_consensus_sync_action_t *act);

/* Is consensus handed over to block sync (the engine stopped)? */
bool kumo_consensus_sync_is_syncing(const kumo_consensus_sync_t *s);
/* Tracked peers (used slots). */
uint32_t kumo_consensus_sync_peer_count(const kumo_consensus_sync_t *s);

#endif
