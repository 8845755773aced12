/*
 * bsync.c - block sync: peers announce their head height every second; a node that sees a
 * peer NODE_BSYNC_LAG_HEIGHTS or more ahead stops its consensus engine, fetches the missing
 * blocks one by one with their commits, verifies each commit (+2/3 of the validator set's
 * power signed the block's value id at that height), executes and stores the block, and
 * restarts consensus once no peer is that far ahead. Not pure. Loop thread only.
 */
#include <inttypes.h>
#include <string.h>

#include "node/cons_int.h"

static node_peer_height_t *
bsync_peer(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], bool add)
{
    node_peer_height_t *free_slot = NULL;
    for (uint32_t i = 0; i < KUMO_P2P_PEER_COUNT_MAX; i++) {
        node_peer_height_t *p = &nc->peers[i];
        if (p->used && memcmp(p->id, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            return p;
        }
        if (!p->used && free_slot == NULL) {
            free_slot = p;
        }
    }
    if (!add || free_slot == NULL) {
        return NULL;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    memcpy(free_slot->id, id, KUMO_TLS_NODE_ID_BYTES);
    free_slot->used = true;
    return free_slot;
}

static void bsync_send_header(node_cons_t *nc,
                              const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                              uint8_t type,
                              uint64_t height)
{
    uint8_t msg[9];
    msg[0] = type;
    kumo_be64_put(msg + 1, height);
    node_cons_send(nc, id, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(msg, sizeof(msg)));
}

void node_bsync_peer_up(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    (void)bsync_peer(nc, id, true);
    bsync_send_header(nc, id, NODE_BSYNC_STATUS, nc->node->height);
}

void node_bsync_peer_down(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    node_peer_height_t *p = bsync_peer(nc, id, false);
    if (p != NULL) {
        p->used = false;
    }
    if (nc->request_out && memcmp(nc->request_peer, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
        nc->request_out = false;
    }
}

/* The peer furthest ahead, if it is far enough ahead to need block sync: 2 heights, or 1
 * for longer than NODE_BSYNC_STUCK_MS at the same height of ours. */
static const node_peer_height_t *bsync_ahead(node_cons_t *nc)
{
    const node_peer_height_t *best = NULL;
    for (uint32_t i = 0; i < KUMO_P2P_PEER_COUNT_MAX; i++) {
        const node_peer_height_t *p = &nc->peers[i];
        if (p->used && p->height > nc->node->height && (best == NULL || p->height > best->height)) {
            best = p;
        }
    }
    uint64_t h = nc->node->height;
    if (best == NULL) {
        nc->behind_since_ms = 0;
        return NULL;
    }
    if (best->height >= h + NODE_BSYNC_LAG_HEIGHTS) {
        return best;
    }
    uint64_t now = node_cons_now_ms();
    if (nc->behind_height != h || nc->behind_since_ms == 0) {
        nc->behind_height = h;
        nc->behind_since_ms = now;
        return NULL;
    }
    return now - nc->behind_since_ms >= NODE_BSYNC_STUCK_MS ? best : NULL;
}

/* Requests the next block from the peer furthest ahead, or restarts consensus when none is. */
static void bsync_next(node_cons_t *nc)
{
    if (nc->request_out || nc->stopping) {
        return;
    }
    const node_peer_height_t *p = bsync_ahead(nc);
    if (p == NULL) {
        if (nc->engine == NULL && nc->synced_blocks > 0) {
            kumo_err_ctx_t err = {0};
            int rc = node_cons_engine_open(nc, &err);
            KUMO_LOG_INFO("node", "block_sync_done", "height=%" PRIu64 " blocks=%" PRIu64 " rc=%s",
                          nc->node->height, nc->synced_blocks, kumo_err_name(rc));
            nc->synced_blocks = 0;
        }
        return;
    }
    if (nc->engine != NULL) {
        KUMO_LOG_INFO("node", "block_sync_start", "height=%" PRIu64 " peer_height=%" PRIu64,
                      nc->node->height, p->height);
        node_cons_engine_close(nc);
    }
    nc->request_out = true;
    nc->request_height = nc->node->height + 1u;
    nc->request_sent_ms = node_cons_now_ms();
    memcpy(nc->request_peer, p->id, KUMO_TLS_NODE_ID_BYTES);
    bsync_send_header(nc, p->id, NODE_BSYNC_REQUEST, nc->request_height);
}

void node_bsync_tick(node_cons_t *nc)
{
    uint8_t msg[9];
    msg[0] = NODE_BSYNC_STATUS;
    kumo_be64_put(msg + 1, nc->node->height);
    (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(msg, sizeof(msg)));
    if (nc->request_out && node_cons_now_ms() - nc->request_sent_ms > NODE_BSYNC_REQUEST_MS) {
        nc->request_out = false; /* unanswered: ask again, maybe another peer */
    }
    bsync_next(nc);
}

/* Answers a request with the stored block and commit of height. */
static void bsync_serve(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint64_t height)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    kumo_buf_t blk;
    kumo_buf_init(&blk, NODE_BSYNC_BYTES_MAX);
    kumo_bytes_t commit = {0};
    int rc = height <= nc->node->height ? kumo_node_read_begin(nc->node, &read, &kv, NULL)
                                        : KUMO_ENOTFOUND;
    uint8_t key[8];
    kumo_be64_put(key, height);
    rc = rc == 0 ? kumo_node_block_get(read, height, &blk, NULL) : rc;
    rc = rc == 0 ? kumo_store_read_record_get(read, KUMO_STORE_TABLE_COMMITS,
                                              kumo_bytes_make(key, sizeof(key)), &commit, NULL)
                 : rc;
    size_t len = 1u + 8u + (rc == 0 ? 8u + blk.len + commit.len : 0u);
    uint8_t *msg = len <= NODE_BSYNC_BYTES_MAX ? kumo_calloc(1, len) : NULL;
    if (msg != NULL) {
        kumo_writer_t w;
        kumo_writer_init(&w, msg, len);
        int wrc = kumo_writer_write_u8(&w, rc == 0 ? NODE_BSYNC_BLOCK : NODE_BSYNC_NO_BLOCK);
        wrc = wrc == 0 ? kumo_writer_write_u64(&w, height) : wrc;
        if (rc == 0) {
            wrc = wrc == 0 ? kumo_writer_write_prefixed(&w, kumo_buf_bytes(&blk)) : wrc;
            wrc = wrc == 0 ? kumo_writer_write_prefixed(&w, commit) : wrc;
        }
        if (wrc == 0) {
            node_cons_send(nc, id, KUMO_P2P_CH_BLOCKSYNC, kumo_writer_bytes(&w));
        }
    }
    kumo_free(msg);
    kumo_store_read_end(read);
    kumo_buf_free(&blk);
}

/* Verifies, executes and stores one fetched block. */
static int
bsync_apply(node_cons_t *nc, kumo_bytes_t blk, kumo_bytes_t commit_enc, kumo_err_ctx_t *err)
{
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__commit__descriptor, commit_enc, KUMO_STORE_RECORD_BYTES_MAX,
                                 &m, err));
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(blk, id);
    uint64_t height = nc->node->height + 1u;
    int rc = node_cons_commit_verify(nc, (const Kumo__Commit *)m, height, id, err);
    kumo_codec_free(m);
    KUMO_GUARD(rc);
    node_cons_pending_drop(nc);
    kumo_node_block_t *b = NULL;
    KUMO_GUARD(kumo_node_block_execute(nc->node, blk, nc->evidence_scratch, &b, err));
    node_cons_evidence_prune(nc, b);
    KUMO_GUARD(kumo_node_block_finish(nc->node, b, commit_enc, err));
    node_cons_wal_height_done(nc);
    memcpy(nc->node->last_value_id, id, sizeof(id));
    return node_cons_last_commit_set(nc, commit_enc, err);
}

static void bsync_on_block(node_cons_t *nc,
                           const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                           uint64_t height,
                           kumo_reader_t *r)
{
    kumo_bytes_t blk;
    kumo_bytes_t commit;
    bool ok = kumo_reader_read_prefixed(r, NODE_BSYNC_BYTES_MAX, &blk) == 0 &&
              kumo_reader_read_prefixed(r, NODE_BSYNC_BYTES_MAX, &commit) == 0 &&
              kumo_reader_finish(r) == 0;
    if (!ok) {
        kumo_p2p_disconnect(nc->p2p, id, "malformed block sync message");
        return;
    }
    if (!nc->request_out || height != nc->request_height || height != nc->node->height + 1u ||
        memcmp(id, nc->request_peer, KUMO_TLS_NODE_ID_BYTES) != 0) {
        return; /* not what we asked for (late answer): ignore */
    }
    nc->request_out = false;
    kumo_err_ctx_t err = {0};
    int rc = bsync_apply(nc, blk, commit, &err);
    if (rc < 0) {
        KUMO_LOG_WARN("node", "block_sync_refused", "height=%" PRIu64 " code=%s detail=\"%s\"",
                      height, kumo_err_name(rc), err.detail);
        kumo_p2p_disconnect(nc->p2p, id, "invalid block in block sync");
        return;
    }
    nc->synced_blocks++;
    kumo_p2p_mark_useful(nc->p2p, id); /* a verified block we lacked */
    bsync_next(nc);
}

void node_bsync_on_msg(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t msg)
{
    kumo_reader_t r;
    kumo_reader_init(&r, msg);
    uint8_t type = 0;
    uint64_t height = 0;
    if (kumo_reader_read_u8(&r, &type) < 0 || kumo_reader_read_u64(&r, &height) < 0) {
        kumo_p2p_disconnect(nc->p2p, id, "malformed block sync message");
        return;
    }
    node_peer_height_t *p = bsync_peer(nc, id, true);
    switch (type) {
    case NODE_BSYNC_STATUS:
        if (kumo_reader_finish(&r) == 0 && p != NULL) {
            p->height = height;
            bsync_next(nc);
        }
        break;
    case NODE_BSYNC_REQUEST:
        if (kumo_reader_finish(&r) == 0) {
            bsync_serve(nc, id, height);
        }
        break;
    case NODE_BSYNC_BLOCK:
        bsync_on_block(nc, id, height, &r);
        break;
    case NODE_BSYNC_NO_BLOCK:
        if (nc->request_out && memcmp(id, nc->request_peer, KUMO_TLS_NODE_ID_BYTES) == 0) {
            nc->request_out = false;
            if (p != NULL) {
                p->height = height > 0 ? height - 1u : 0; /* it does not have height */
            }
        }
        break;
    default:
        kumo_p2p_disconnect(nc->p2p, id, "unknown block sync message");
        break;
    }
}
