/*
 * sync.c - block sync: the wire codec and the policy state machine of sync.h. The policy
 * decides and the driver acts: whom to ask for the next block, when consensus hands over
 * (only on a verified block), when it takes back over (the first failed request, or nothing
 * left to fetch), and which peer failed a claim. Pure: no I/O, no clock (time and the head
 * height are inputs), no randomness; the node (src/node/bsync.c) and the simulation
 * (tests/sim/test_sim_consensus.c) drive the same code.
 */
#include "consensus/sync.h"

#include <string.h>

/* ---- wire ---- */

static bool sync_kind_is_known(uint8_t kind)
{
    return kind >= KUMO_CONSENSUS_SYNC_STATUS && kind <= KUMO_CONSENSUS_SYNC_NO_BLOCK;
}

static int
sync_msg_decode_block(kumo_reader_t *r, kumo_consensus_sync_msg_t *m, kumo_err_ctx_t *err)
{
    int rc = kumo_reader_read_prefixed(r, KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX, &m->block);
    KUMO_ENSURE(rc != KUMO_ELIMIT, err, KUMO_ELIMIT, "block sync: block over %u bytes",
                KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX);
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "block sync: short block");
    rc = kumo_reader_read_prefixed(r, KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX, &m->commit);
    KUMO_ENSURE(rc != KUMO_ELIMIT, err, KUMO_ELIMIT, "block sync: commit over %u bytes",
                KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX);
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "block sync: short commit");
    KUMO_ENSURE(m->block.len > 0 && m->commit.len > 0, err, KUMO_EDECODE,
                "block sync: empty block or commit");
    return 0;
}

int kumo_consensus_sync_msg_decode(kumo_bytes_t in,
                                   kumo_consensus_sync_msg_t *m,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    KUMO_ASSERT(in.ptr != NULL || in.len == 0);
    memset(m, 0, sizeof(*m));
    kumo_reader_t r;
    kumo_reader_init(&r, in);
    uint8_t kind = 0;
    KUMO_ENSURE(kumo_reader_read_u8(&r, &kind) == 0, err, KUMO_EDECODE, "block sync: empty");
    KUMO_ENSURE(sync_kind_is_known(kind), err, KUMO_EUNKNOWNMSG, "block sync: kind %u", kind);
    m->kind = (kumo_consensus_sync_kind_t)kind;
    KUMO_ENSURE(kumo_reader_read_u64(&r, &m->height) == 0, err, KUMO_EDECODE,
                "block sync: short header");
    /* Heights start at 1: only a STATUS (a node with no block yet) names height 0. */
    KUMO_ENSURE(m->kind == KUMO_CONSENSUS_SYNC_STATUS || m->height > 0, err, KUMO_EDECODE,
                "block sync: height 0");
    if (m->kind == KUMO_CONSENSUS_SYNC_BLOCK) {
        KUMO_GUARD(sync_msg_decode_block(&r, m, err));
    }
    KUMO_ENSURE(kumo_reader_finish(&r) == 0, err, KUMO_EDECODE, "block sync: trailing bytes");
    KUMO_ASSERT(kumo_consensus_sync_msg_bytes(m) == in.len);
    return 0;
}

size_t kumo_consensus_sync_msg_bytes(const kumo_consensus_sync_msg_t *m)
{
    KUMO_ASSERT(sync_kind_is_known((uint8_t)m->kind));
    if (m->kind != KUMO_CONSENSUS_SYNC_BLOCK) {
        return KUMO_CONSENSUS_SYNC_HEADER_BYTES;
    }
    KUMO_ASSERT(m->block.len <= KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX);
    KUMO_ASSERT(m->commit.len <= KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX);
    return KUMO_CONSENSUS_SYNC_HEADER_BYTES + 4u + m->block.len + 4u + m->commit.len;
}

int kumo_consensus_sync_msg_encode(const kumo_consensus_sync_msg_t *m,
                                   uint8_t *out,
                                   size_t cap,
                                   size_t *len_out)
{
    KUMO_ASSERT(m != NULL && out != NULL && len_out != NULL);
    KUMO_ASSERT(m->kind == KUMO_CONSENSUS_SYNC_STATUS || m->height > 0);
    KUMO_ASSERT(m->kind != KUMO_CONSENSUS_SYNC_BLOCK || (m->block.len > 0 && m->commit.len > 0));
    kumo_writer_t w;
    kumo_writer_init(&w, out, cap);
    KUMO_GUARD(kumo_writer_write_u8(&w, (uint8_t)m->kind));
    KUMO_GUARD(kumo_writer_write_u64(&w, m->height));
    if (m->kind == KUMO_CONSENSUS_SYNC_BLOCK) {
        KUMO_GUARD(kumo_writer_write_prefixed(&w, m->block));
        KUMO_GUARD(kumo_writer_write_prefixed(&w, m->commit));
    }
    *len_out = kumo_writer_bytes(&w).len;
    KUMO_ASSERT(*len_out == kumo_consensus_sync_msg_bytes(m));
    return 0;
}

/* ---- policy ---- */

_Static_assert(KUMO_CONSENSUS_SYNC_FAULT_INVALID < 4, "stats.faults has a slot per fault");

const char *kumo_consensus_sync_fault_name(kumo_consensus_sync_fault_t fault)
{
    switch (fault) {
    case KUMO_CONSENSUS_SYNC_FAULT_NONE:
        return "none";
    case KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT:
        return "timeout";
    case KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK:
        return "no_block";
    case KUMO_CONSENSUS_SYNC_FAULT_INVALID:
        return "invalid";
    default:
        KUMO_UNREACHABLE();
    }
}

void kumo_consensus_sync_init(kumo_consensus_sync_t *s, uint64_t head)
{
    KUMO_ASSERT(s != NULL);
    memset(s, 0, sizeof(*s));
    s->head = head;
    KUMO_ASSERT(!s->syncing && !s->request_out);
}

static kumo_consensus_sync_peer_t *
sync_peer_find(kumo_consensus_sync_t *s, const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES])
{
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        kumo_consensus_sync_peer_t *p = &s->peers[i];
        if (p->used && memcmp(p->id, id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES) == 0) {
            return p;
        }
    }
    return NULL;
}

int kumo_consensus_sync_peer_add(kumo_consensus_sync_t *s,
                                 const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES])
{
    KUMO_ASSERT(s != NULL && id != NULL);
    if (sync_peer_find(s, id) != NULL) {
        return 0;
    }
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        kumo_consensus_sync_peer_t *p = &s->peers[i];
        if (!p->used) {
            memset(p, 0, sizeof(*p));
            memcpy(p->id, id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
            p->used = true;
            return 0;
        }
    }
    return KUMO_ELIMIT;
}

static bool sync_is_request_peer(const kumo_consensus_sync_t *s,
                                 const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES])
{
    return s->request_out && memcmp(s->request_peer, id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES) == 0;
}

void kumo_consensus_sync_peer_remove(kumo_consensus_sync_t *s,
                                     const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES])
{
    KUMO_ASSERT(s != NULL && id != NULL);
    KUMO_ASSERT(!s->applying);
    kumo_consensus_sync_peer_t *p = sync_peer_find(s, id);
    if (p != NULL) {
        memset(p, 0, sizeof(*p));
    }
    if (sync_is_request_peer(s, id)) {
        s->request_out = false; /* gone, not lying: the next tick asks another peer */
    }
}

/* Takes the driver's head: consensus may have decided heights since the last call. An
 * outstanding request stays outstanding when consensus passes its height (it is stale then):
 * the peer still owes an answer, so a liar cannot hide its silence behind a moving chain. */
static void sync_head_set(kumo_consensus_sync_t *s, uint64_t head)
{
    KUMO_ASSERT(head >= s->head); /* the node's head only grows within a process */
    if (head != s->head) {
        s->head = head;
        s->behind = false;
    }
    KUMO_ASSERT(!s->request_out || s->request_height <= s->head + 1u);
}

static void sync_begin(kumo_consensus_sync_t *s, uint64_t head, kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(act != NULL);
    memset(act, 0, sizeof(*act));
    sync_head_set(s, head);
}

/* Consensus takes back over. */
static void sync_resume(kumo_consensus_sync_t *s, kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(s->syncing && !s->request_out);
    s->syncing = false;
    act->engine_start = true;
    act->synced_count = s->synced_count;
    s->synced_count = 0;
}

/* A failed claim: the peer is reported and ignored from now on; a failed request while
 * syncing gives consensus back at once (only verified blocks keep it stopped). */
static void sync_fault(kumo_consensus_sync_t *s,
                       const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                       kumo_consensus_sync_fault_t fault,
                       kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(fault != KUMO_CONSENSUS_SYNC_FAULT_NONE &&
                fault <= KUMO_CONSENSUS_SYNC_FAULT_INVALID);
    KUMO_ASSERT(act->fault == KUMO_CONSENSUS_SYNC_FAULT_NONE); /* one per call */
    act->fault = fault;
    memcpy(act->fault_peer, id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    s->stats.faults[fault]++;
    kumo_consensus_sync_peer_t *p = sync_peer_find(s, id);
    if (p != NULL) {
        p->failed = true;
    }
    if (sync_is_request_peer(s, id)) {
        s->request_out = false;
    }
    if (s->syncing) {
        sync_resume(s, act);
    }
}

static bool sync_peer_is_credible(const kumo_consensus_sync_t *s,
                                  const kumo_consensus_sync_peer_t *p)
{
    return p->used && !p->failed && p->claim_height > s->head;
}

/* The peer to ask for head + 1: one that already delivered verified blocks (proven), else
 * (unless proven_only) the one with the lowest claim that covers it (liars tend to claim
 * high; the honest claim the tip), ties to the first slot. NULL when none is ahead. */
static const kumo_consensus_sync_peer_t *sync_pick(const kumo_consensus_sync_t *s, bool proven_only)
{
    const kumo_consensus_sync_peer_t *best = NULL;
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        const kumo_consensus_sync_peer_t *p = &s->peers[i];
        bool proven = p->served_count > 0;
        if (!sync_peer_is_credible(s, p) || (proven_only && !proven)) {
            continue;
        }
        bool best_proven = best != NULL && best->served_count > 0;
        if (best == NULL || (proven && !best_proven) ||
            (proven == best_proven && p->claim_height < best->claim_height)) {
            best = p;
        }
    }
    return best;
}

static uint64_t sync_claim_max(const kumo_consensus_sync_t *s)
{
    uint64_t best = 0;
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        const kumo_consensus_sync_peer_t *p = &s->peers[i];
        if (sync_peer_is_credible(s, p) && p->claim_height > best) {
            best = p->claim_height;
        }
    }
    return best;
}

/* Should consensus, while running, ask for the next block? When a claim is LAG heights
 * ahead, or one height ahead for STUCK_MS. Only the comparison with our head matters, never
 * how far a claim goes: a claim of 2^64 - 1 does what a claim of head + 2 does. */
static bool sync_wants_block(kumo_consensus_sync_t *s, uint64_t now_ms)
{
    uint64_t best = sync_claim_max(s);
    if (best <= s->head) {
        s->behind = false;
        return false;
    }
    if (!s->behind) {
        s->behind = true;
        s->behind_since_ms = now_ms;
    }
    bool far = best - s->head >= KUMO_CONSENSUS_SYNC_LAG_HEIGHTS;
    bool stuck =
        now_ms >= s->behind_since_ms && now_ms - s->behind_since_ms >= KUMO_CONSENSUS_SYNC_STUCK_MS;
    return far || stuck;
}

static void sync_request(kumo_consensus_sync_t *s,
                         const kumo_consensus_sync_peer_t *p,
                         uint64_t now_ms,
                         kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(!s->request_out && sync_peer_is_credible(s, p));
    s->request_out = true;
    memcpy(s->request_peer, p->id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    s->request_height = s->head + 1u;
    s->request_deadline_ms = now_ms <= UINT64_MAX - KUMO_CONSENSUS_SYNC_REQUEST_MS
                                 ? now_ms + KUMO_CONSENSUS_SYNC_REQUEST_MS
                                 : UINT64_MAX;
    s->stats.requests++;
    act->request = true;
    memcpy(act->request_peer, p->id, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    act->request_height = s->request_height;
}

/* After every input: time out the outstanding request, then ask for the next block or give
 * consensus back. While syncing, only proven peers are asked (the engine waits on them); an
 * unproven claim is only ever tried with consensus running, so a liar costs a request, never
 * a stall. */
static void sync_step(kumo_consensus_sync_t *s, uint64_t now_ms, kumo_consensus_sync_action_t *act)
{
    if (s->applying) {
        return;
    }
    if (s->request_out && now_ms >= s->request_deadline_ms) {
        uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
        memcpy(id, s->request_peer, sizeof(id));
        sync_fault(s, id, KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT, act);
    }
    if (s->request_out) {
        return;
    }
    if (s->syncing) {
        const kumo_consensus_sync_peer_t *p = sync_pick(s, true);
        if (p != NULL) {
            sync_request(s, p, now_ms, act);
            return;
        }
        sync_resume(s, act);
    }
    if (sync_wants_block(s, now_ms)) {
        const kumo_consensus_sync_peer_t *p = sync_pick(s, false);
        KUMO_ASSERT(p != NULL); /* sync_wants_block saw a credible claim ahead */
        sync_request(s, p, now_ms, act);
    }
}

void kumo_consensus_sync_on_status(kumo_consensus_sync_t *s,
                                   uint64_t head,
                                   uint64_t now_ms,
                                   const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                   uint64_t height,
                                   kumo_consensus_sync_action_t *act)
{
    sync_begin(s, head, act);
    kumo_consensus_sync_peer_t *p = sync_peer_find(s, id);
    if (p == NULL && kumo_consensus_sync_peer_add(s, id) == 0) {
        p = sync_peer_find(s, id);
    }
    if (p == NULL || p->failed) {
        s->stats.statuses_ignored++;
    } else {
        p->claim_height = height;
    }
    sync_step(s, now_ms, act);
}

void kumo_consensus_sync_on_tick(kumo_consensus_sync_t *s,
                                 uint64_t head,
                                 uint64_t now_ms,
                                 kumo_consensus_sync_action_t *act)
{
    sync_begin(s, head, act);
    sync_step(s, now_ms, act);
}

bool kumo_consensus_sync_answer_is_expected(const kumo_consensus_sync_t *s,
                                            const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                            uint64_t height)
{
    KUMO_ASSERT(s != NULL && id != NULL);
    return !s->applying && sync_is_request_peer(s, id) && s->request_height == height;
}

void kumo_consensus_sync_on_block(kumo_consensus_sync_t *s,
                                  uint64_t head,
                                  uint64_t now_ms,
                                  const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                  uint64_t height,
                                  bool verified,
                                  kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(kumo_consensus_sync_answer_is_expected(s, id, height));
    sync_begin(s, head, act);
    s->request_out = false;
    if (height <= s->head) {
        /* Stale: consensus decided it meanwhile. The peer answered; nothing to apply. */
        sync_step(s, now_ms, act);
        return;
    }
    KUMO_ASSERT(height == s->head + 1u);
    if (!verified) {
        sync_fault(s, id, KUMO_CONSENSUS_SYNC_FAULT_INVALID, act);
        sync_step(s, now_ms, act);
        return;
    }
    /* Verified progress: only now does consensus hand over. */
    if (!s->syncing) {
        s->syncing = true;
        s->synced_count = 0;
        s->stats.handovers++;
        act->engine_stop = true;
    }
    s->applying = true;
    act->apply = true;
}

void kumo_consensus_sync_on_applied(kumo_consensus_sync_t *s,
                                    uint64_t head,
                                    uint64_t now_ms,
                                    const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                    bool ok,
                                    kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(s->applying && s->syncing);
    KUMO_ASSERT(head == s->head + (ok ? 1u : 0u));
    s->applying = false;
    sync_begin(s, head, act);
    if (ok) {
        kumo_consensus_sync_peer_t *p = sync_peer_find(s, id);
        if (p != NULL) {
            p->served_count++;
        }
        s->synced_count++;
        s->stats.blocks_applied++;
    } else {
        sync_fault(s, id, KUMO_CONSENSUS_SYNC_FAULT_INVALID, act);
    }
    sync_step(s, now_ms, act);
}

void kumo_consensus_sync_on_no_block(kumo_consensus_sync_t *s,
                                     uint64_t head,
                                     uint64_t now_ms,
                                     const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                                     uint64_t height,
                                     kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(kumo_consensus_sync_answer_is_expected(s, id, height));
    sync_begin(s, head, act);
    /* It claimed a height at least this high, so it must have this block (stale or not). */
    sync_fault(s, id, KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK, act);
    sync_step(s, now_ms, act);
}

bool kumo_consensus_sync_is_syncing(const kumo_consensus_sync_t *s)
{
    return s->syncing;
}

uint32_t kumo_consensus_sync_peer_count(const kumo_consensus_sync_t *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        n += s->peers[i].used ? 1u : 0u;
    }
    return n;
}
