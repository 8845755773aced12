/*
 * bsync.c - block sync in the node: carries out what the pure policy of src/consensus/sync.h
 * decides, over the p2p block sync channel. Every second (and on peer up) the node sends its
 * head height (STATUS); it answers requests from its store; it tells the policy every status,
 * tick and answer, verifies a delivered block's commit (+2/3 of the validator set's power
 * precommitted SHA-256 of the block bytes at that height) before the policy may hand
 * consensus over, then executes and stores the block with that commit. Requests are served
 * within a per-peer budget (NODE_BSYNC_SERVE_PER_S blocks a second; a few wait, more are a
 * flood: the peer is penalized and dropped). A claim alone never
 * stops the engine; a peer whose claim fails (no block in time, "no block", a block that does
 * not verify) or that sends a malformed message is penalized and dropped.
 * Not pure. Loop thread only.
 */
#include <inttypes.h>
#include <string.h>

#include "codec/codec.h"
#include "node/cons_int.h"

_Static_assert(KUMO_CONSENSUS_SYNC_PEER_ID_BYTES == KUMO_TLS_NODE_ID_BYTES,
               "the policy names peers by their node id");
_Static_assert(KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX >= KUMO_P2P_PEER_COUNT_MAX,
               "every connected peer has a slot in the policy");
_Static_assert(KUMO_CONSENSUS_SYNC_MSG_BYTES_MAX <= NODE_BSYNC_BYTES_MAX,
               "the largest block with its commit fits the channel");

static void bsync_send(node_cons_t *nc,
                       const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                       kumo_consensus_sync_kind_t kind,
                       uint64_t height)
{
    uint8_t buf[KUMO_CONSENSUS_SYNC_HEADER_BYTES];
    kumo_consensus_sync_msg_t m = {.kind = kind, .height = height};
    size_t len = 0;
    KUMO_ASSERT(kind != KUMO_CONSENSUS_SYNC_BLOCK);
    int rc = kumo_consensus_sync_msg_encode(&m, buf, sizeof(buf), &len);
    KUMO_ASSERT(rc == 0 && len == sizeof(buf));
    if (id == NULL) {
        (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(buf, len));
    } else {
        node_cons_send(nc, id, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(buf, len));
    }
}

static uint32_t bsync_fault_points(kumo_consensus_sync_fault_t fault)
{
    switch (fault) {
    case KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT:
        return NODE_BSYNC_PENALTY_TIMEOUT_POINTS;
    case KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK:
    case KUMO_CONSENSUS_SYNC_FAULT_INVALID:
        return NODE_BSYNC_PENALTY_LIE_POINTS;
    case KUMO_CONSENSUS_SYNC_FAULT_NONE:
    default:
        KUMO_UNREACHABLE();
    }
}

/* A peer failed its claim: scored down and dropped. The log line is rate-limited (a peer
 * reconnecting under fresh keys could otherwise write one per connection). */
static void bsync_fault(node_cons_t *nc, const kumo_consensus_sync_action_t *act)
{
    KUMO_ASSERT(act->fault != KUMO_CONSENSUS_SYNC_FAULT_NONE);
    const char *name = kumo_consensus_sync_fault_name(act->fault);
    uint64_t now = node_cons_now_ms();
    if (now - nc->bsync_log_ms >= NODE_BSYNC_LOG_MS || nc->bsync_log_ms == 0) {
        char hex[2u * KUMO_TLS_NODE_ID_BYTES + 1u];
        if (kumo_codec_hex_encode(kumo_bytes_make(act->fault_peer, KUMO_TLS_NODE_ID_BYTES), hex,
                                  sizeof(hex)) < 0) {
            hex[0] = '\0';
        }
        KUMO_LOG_WARN("node", "block_sync_peer_failed",
                      "peer=%s fault=%s height=%" PRIu64 " suppressed=%u", hex, name,
                      nc->node->height + 1u, nc->bsync_log_suppressed);
        nc->bsync_log_ms = now;
        nc->bsync_log_suppressed = 0;
    } else {
        nc->bsync_log_suppressed++;
    }
    char reason[64];
    (void)snprintf(reason, sizeof(reason), "block sync: %s", name);
    kumo_p2p_penalize(nc->p2p, act->fault_peer, bsync_fault_points(act->fault), reason);
    kumo_p2p_disconnect(nc->p2p, act->fault_peer, reason);
}

static void bsync_engine_start(node_cons_t *nc, uint64_t synced_count)
{
    if (nc->stopping || nc->engine != NULL) {
        return;
    }
    kumo_err_ctx_t err = {0};
    int rc = node_cons_engine_open(nc, &err);
    KUMO_LOG_INFO("node", "block_sync_done", "height=%" PRIu64 " blocks=%" PRIu64 " rc=%s",
                  nc->node->height, synced_count, kumo_err_name(rc));
    if (rc < 0) {
        KUMO_LOG_ERROR("node", "consensus_start_failed", "detail=\"%s\"", err.detail);
    }
}

/* Carries out an action in the order sync.h gives; apply is the caller's. */
static void bsync_act(node_cons_t *nc, const kumo_consensus_sync_action_t *act)
{
    if (act->fault != KUMO_CONSENSUS_SYNC_FAULT_NONE) {
        bsync_fault(nc, act);
    }
    if (act->engine_stop) {
        KUMO_LOG_INFO("node", "block_sync_start", "height=%" PRIu64, nc->node->height);
        node_cons_engine_close(nc);
    }
    if (act->request) {
        KUMO_ASSERT(act->request_height == nc->node->height + 1u);
        bsync_send(nc, act->request_peer, KUMO_CONSENSUS_SYNC_REQUEST, act->request_height);
    }
    if (act->engine_start) {
        bsync_engine_start(nc, act->synced_count);
    }
}

void node_bsync_peer_up(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    if (kumo_consensus_sync_peer_add(&nc->sync, id) < 0) {
        KUMO_LOG_DEBUG("node", "block_sync_table_full", "peers=%u",
                       kumo_consensus_sync_peer_count(&nc->sync));
    }
    bsync_send(nc, id, KUMO_CONSENSUS_SYNC_STATUS, nc->node->height);
}

static node_bsync_server_t *bsync_server_find(node_cons_t *nc,
                                              const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);

void node_bsync_peer_down(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    kumo_consensus_sync_peer_remove(&nc->sync, id);
    node_bsync_server_t *sv = bsync_server_find(nc, id);
    if (sv != NULL) {
        sv->used = false; /* its waiting requests go with it */
    }
}

void node_bsync_tick(node_cons_t *nc)
{
    bsync_send(nc, NULL, KUMO_CONSENSUS_SYNC_STATUS, nc->node->height);
    kumo_consensus_sync_action_t act;
    kumo_consensus_sync_on_tick(&nc->sync, nc->node->height, node_cons_now_ms(), &act);
    bsync_act(nc, &act);
}

/* The BLOCK answer for height from the store, or NULL: no such block (or no memory). */
static uint8_t *bsync_block_read(node_cons_t *nc, uint64_t height, size_t *len_out)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    if (height > nc->node->height || kumo_node_read_begin(nc->node, &read, &kv, NULL) < 0) {
        return NULL;
    }
    kumo_buf_t blk;
    kumo_buf_init(&blk, KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX);
    kumo_bytes_t commit = {0};
    uint8_t key[8];
    kumo_be64_put(key, height);
    uint8_t *out = NULL;
    if (kumo_node_block_get(read, height, &blk, NULL) == 0 &&
        kumo_store_read_record_get(read, KUMO_STORE_TABLE_COMMITS,
                                   kumo_bytes_make(key, sizeof(key)), &commit, NULL) == 0 &&
        commit.len > 0 && commit.len <= KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX && blk.len > 0) {
        kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_BLOCK,
                                       .height = height,
                                       .block = kumo_buf_bytes(&blk),
                                       .commit = commit};
        size_t cap = kumo_consensus_sync_msg_bytes(&m);
        out = kumo_calloc(1, cap);
        if (out != NULL && kumo_consensus_sync_msg_encode(&m, out, cap, len_out) < 0) {
            kumo_free(out);
            out = NULL;
        }
    }
    kumo_store_read_end(read);
    kumo_buf_free(&blk);
    return out;
}

/* Answers a request with the stored block and commit of height, or NO_BLOCK. */
static void bsync_serve(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint64_t height)
{
    size_t len = 0;
    uint8_t *msg = bsync_block_read(nc, height, &len);
    if (msg == NULL) {
        bsync_send(nc, id, KUMO_CONSENSUS_SYNC_NO_BLOCK, height);
        return;
    }
    node_cons_send(nc, id, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(msg, len));
    kumo_free(msg);
}

/* ---- serving: a budget per peer ---- */

static node_bsync_server_t *bsync_server_find(node_cons_t *nc,
                                              const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(nc->serve); i++) {
        if (nc->serve[i].used && memcmp(nc->serve[i].id, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            return &nc->serve[i];
        }
    }
    return NULL;
}

/* The peer's budget, a full one for a peer new here; NULL if every slot is taken (more peers
 * than p2p connects: not expected). */
static node_bsync_server_t *
bsync_server_get(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint64_t now)
{
    node_bsync_server_t *sv = bsync_server_find(nc, id);
    for (size_t i = 0; sv == NULL && i < KUMO_ARRAY_COUNT(nc->serve); i++) {
        if (!nc->serve[i].used) {
            sv = &nc->serve[i];
            memset(sv, 0, sizeof(*sv));
            sv->used = true;
            memcpy(sv->id, id, KUMO_TLS_NODE_ID_BYTES);
            sv->tokens_milli = NODE_BSYNC_SERVE_PER_S * 1000u;
            sv->refill_ms = now;
        }
    }
    return sv;
}

static void bsync_server_refill(node_bsync_server_t *sv, uint64_t now)
{
    const uint64_t cap = NODE_BSYNC_SERVE_PER_S * 1000u;
    uint64_t elapsed = now > sv->refill_ms ? now - sv->refill_ms : 0;
    /* Capped first: the product cannot overflow. */
    elapsed = kumo_u64_min(elapsed, 1000u);
    sv->tokens_milli = kumo_u64_min(cap, sv->tokens_milli + elapsed * NODE_BSYNC_SERVE_PER_S);
    sv->refill_ms = now;
    KUMO_ASSERT(sv->tokens_milli <= cap);
}

/* Serves the peer's waiting requests its budget allows; true if some still wait. */
static bool bsync_server_drain(node_cons_t *nc, node_bsync_server_t *sv, uint64_t now)
{
    bsync_server_refill(sv, now);
    while (sv->queue_count > 0 && sv->tokens_milli >= 1000u) {
        uint64_t height = sv->queue[0];
        sv->queue_count--;
        memmove(sv->queue, sv->queue + 1, sv->queue_count * sizeof(sv->queue[0]));
        sv->tokens_milli -= 1000u;
        bsync_serve(nc, sv->id, height);
    }
    KUMO_ASSERT(sv->queue_count <= NODE_BSYNC_SERVE_QUEUE_MAX);
    return sv->queue_count > 0;
}

static void bsync_serve_timer_cb(evutil_socket_t fd, short what, void *arg);

static void bsync_serve_timer_arm(node_cons_t *nc)
{
    if (nc->serve_timer == NULL) {
        nc->serve_timer = evtimer_new(nc->base, bsync_serve_timer_cb, nc);
    }
    if (nc->serve_timer == NULL || evtimer_pending(nc->serve_timer, NULL)) {
        return; /* no memory: the next request of the peer drains its queue */
    }
    struct timeval tv = {0, (suseconds_t)(NODE_BSYNC_SERVE_TICK_MS * 1000u)};
    (void)evtimer_add(nc->serve_timer, &tv);
}

static void bsync_serve_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_cons_t *nc = arg;
    if (nc->stopping) {
        return;
    }
    uint64_t now = node_cons_now_ms();
    bool waiting = false;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(nc->serve); i++) {
        if (nc->serve[i].used && nc->serve[i].queue_count > 0) {
            waiting = bsync_server_drain(nc, &nc->serve[i], now) || waiting;
        }
    }
    if (waiting) {
        bsync_serve_timer_arm(nc);
    }
}

/* A request: served now within the peer's budget, else queued; a peer with a full queue is
 * flooding and is penalized and dropped. */
static void
bsync_on_request(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint64_t height)
{
    uint64_t now = node_cons_now_ms();
    node_bsync_server_t *sv = bsync_server_get(nc, id, now);
    if (sv == NULL) {
        return; /* unanswered: the requester times out and asks another peer */
    }
    if (sv->queue_count == NODE_BSYNC_SERVE_QUEUE_MAX) {
        nc->serve_flood_total++;
        if (now - nc->bsync_log_ms >= NODE_BSYNC_LOG_MS || nc->bsync_log_ms == 0) {
            KUMO_LOG_WARN("node", "block_sync_request_flood",
                          "height=%" PRIu64 " floods=%" PRIu64 " suppressed=%u", height,
                          nc->serve_flood_total, nc->bsync_log_suppressed);
            nc->bsync_log_ms = now;
            nc->bsync_log_suppressed = 0;
        } else {
            nc->bsync_log_suppressed++;
        }
        kumo_p2p_penalize(nc->p2p, id, NODE_BSYNC_PENALTY_LIE_POINTS, "block sync: request flood");
        kumo_p2p_disconnect(nc->p2p, id, "block sync: request flood");
        sv->used = false;
        return;
    }
    sv->queue[sv->queue_count++] = height;
    if (bsync_server_drain(nc, sv, now)) {
        bsync_serve_timer_arm(nc);
    }
}

/* Checks a delivered block for our head + 1: its commit holds +2/3 of the power for
 * SHA-256 of these block bytes at that height. Nothing is changed. */
static int
bsync_verify(node_cons_t *nc, kumo_bytes_t blk, kumo_bytes_t commit_enc, kumo_err_ctx_t *err)
{
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__commit__descriptor, commit_enc,
                                 KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX, &m, err));
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(blk, id);
    int rc = node_cons_commit_verify(nc, (const Kumo__Commit *)m, nc->node->height + 1u, id, err);
    kumo_codec_free(m);
    return rc;
}

/* Executes and stores a verified block (consensus is stopped). */
static int
bsync_apply(node_cons_t *nc, kumo_bytes_t blk, kumo_bytes_t commit_enc, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(nc->engine == NULL);
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(blk, id);
    node_cons_pending_drop(nc);
    kumo_node_block_t *b = NULL;
    KUMO_GUARD(kumo_node_block_execute(nc->node, blk, nc->evidence_scratch, &b, err));
    node_cons_evidence_prune(nc, b);
    KUMO_GUARD(kumo_node_block_finish(nc->node, b, commit_enc, err));
    node_cons_wal_height_done(nc);
    memcpy(nc->node->last_value_id, id, sizeof(id));
    KUMO_GUARD(node_cons_last_commit_set(nc, commit_enc, err));
    return node_cons_valset_refresh(nc, err);
}

static void bsync_refused(uint64_t height, int rc, const kumo_err_ctx_t *err)
{
    KUMO_LOG_WARN("node", "block_sync_refused", "height=%" PRIu64 " code=%s detail=\"%s\"", height,
                  kumo_err_name(rc), err->detail);
}

static void bsync_on_block(node_cons_t *nc,
                           const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                           const kumo_consensus_sync_msg_t *m)
{
    if (!kumo_consensus_sync_answer_is_expected(&nc->sync, id, m->height)) {
        return; /* never asked for, or after its timeout: ignored */
    }
    uint64_t head = nc->node->height;
    kumo_err_ctx_t err = {0};
    int rc = 0;
    if (m->height == head + 1u) { /* else consensus decided it meanwhile: nothing to check */
        rc = bsync_verify(nc, m->block, m->commit, &err);
        if (rc < 0) {
            bsync_refused(m->height, rc, &err);
        }
    }
    kumo_consensus_sync_action_t act;
    kumo_consensus_sync_on_block(&nc->sync, head, node_cons_now_ms(), id, m->height, rc == 0, &act);
    bsync_act(nc, &act);
    if (!act.apply) {
        return;
    }
    rc = bsync_apply(nc, m->block, m->commit, &err);
    if (rc < 0) {
        bsync_refused(m->height, rc, &err);
    }
    /* Stored is applied, even if keeping the commit in memory failed afterwards. */
    bool applied = nc->node->height == head + 1u;
    if (applied) {
        kumo_p2p_mark_useful(nc->p2p, id);
    }
    kumo_consensus_sync_on_applied(&nc->sync, nc->node->height, node_cons_now_ms(), id, applied,
                                   &act);
    bsync_act(nc, &act);
}

void node_bsync_on_msg(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t msg)
{
    kumo_consensus_sync_msg_t m;
    kumo_err_ctx_t err = {0};
    if (kumo_consensus_sync_msg_decode(msg, &m, &err) < 0) {
        kumo_p2p_penalize(nc->p2p, id, NODE_BSYNC_PENALTY_LIE_POINTS, err.detail);
        kumo_p2p_disconnect(nc->p2p, id, err.detail);
        return;
    }
    uint64_t head = nc->node->height;
    kumo_consensus_sync_action_t act;
    switch (m.kind) {
    case KUMO_CONSENSUS_SYNC_STATUS:
        kumo_consensus_sync_on_status(&nc->sync, head, node_cons_now_ms(), id, m.height, &act);
        bsync_act(nc, &act);
        break;
    case KUMO_CONSENSUS_SYNC_REQUEST:
        bsync_on_request(nc, id, m.height);
        break;
    case KUMO_CONSENSUS_SYNC_BLOCK:
        bsync_on_block(nc, id, &m);
        break;
    case KUMO_CONSENSUS_SYNC_NO_BLOCK:
        if (kumo_consensus_sync_answer_is_expected(&nc->sync, id, m.height)) {
            kumo_consensus_sync_on_no_block(&nc->sync, head, node_cons_now_ms(), id, m.height,
                                            &act);
            bsync_act(nc, &act);
        }
        break;
    default:
        KUMO_UNREACHABLE();
    }
}
