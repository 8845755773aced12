/*
 * rpc_sse.c - GET /events: Server-Sent Events. Each client is a cursor (next block to send,
 * last position sent); a pump streams committed blocks from the store up to the head, pausing
 * while the client's unsent output is over KUMO_RPC_SSE_REPLAY_BYTES_SOFT and resuming when it
 * drains, so replay and live streaming are one path with no gap and no duplicate.
 *
 * Drop rules (a client must not hold the node's memory or a connection by not reading):
 * - unsent output counts what the node holds for the client: its connection's output buffer
 *   plus the bytes in the socket's send queue the client has not acknowledged (SIOCOUTQ), so
 *   kernel buffers do not hide a client that stopped reading;
 * - a client that has caught up gets each new block's events queued as the block commits
 *   (live output never pauses), and one whose unsent output then exceeds sse_output_bytes_max
 *   is dropped: the bound is checked whenever events or keepalives are queued;
 * - a client that takes none of its pending output (its TCP acknowledged-bytes count does not
 *   move) for sse_stall_timeout_ms is dropped, which also catches a client paused in replay.
 * Every drop is counted (kumo_sse_dropped_total).
 */
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "log/log.h"
#include "rpc/rpc_srv.h"

/* evhttp_connection_set_timeout for a stream: dead peers are found by failed writes (the
 * keepalive writes every KUMO_RPC_SSE_KEEPALIVE_S) and stalled ones by the stall rule, not by
 * idleness. */
#define SSE_CONN_TIMEOUT_S (24 * 3600)

static evutil_socket_t sse_fd(const rpc_sse_t *sse)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(sse->entry->conn);
    return bev != NULL ? bufferevent_getfd(bev) : -1;
}

/* Bytes the node holds for the client: queued in the connection plus sent but not yet
 * acknowledged (or not yet sent) in the socket. */
static size_t sse_unsent(const rpc_sse_t *sse)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(sse->entry->conn);
    size_t queued = bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
    evutil_socket_t fd = sse_fd(sse);
    int outq = 0;
    if (fd >= 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0) {
        queued += (size_t)outq;
    }
    return queued;
}

/* The client's TCP acknowledged-bytes count (0 when the socket cannot tell). */
static uint64_t sse_acked_bytes(const rpc_sse_t *sse)
{
    evutil_socket_t fd = sse_fd(sse);
    struct tcp_info info;
    socklen_t len = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
        return 0;
    }
    return (uint64_t)info.tcpi_bytes_acked;
}

void kumo_rpc_sse_release(rpc_sse_t *sse)
{
    kumo_rpc_t *rpc = sse->rpc;
    if (sse->prev != NULL) {
        sse->prev->next = sse->next;
    } else {
        rpc->sses = sse->next;
    }
    if (sse->next != NULL) {
        sse->next->prev = sse->prev;
    }
    KUMO_ASSERT(rpc->sse_count > 0);
    rpc->sse_count--;
    KUMO_ASSERT(sse->entry->sse == sse);
    sse->entry->sse = NULL;
    kumo_rpc_conn_watch_stop(sse->entry);
    kumo_free(sse);
}

/* Closes the client's connection on the next loop turn (its close callback then releases
 * sse); this may run inside evhttp's callbacks for that connection, which must not free it. */
static void sse_drop(rpc_sse_t *sse, const char *why)
{
    if (sse->dropped) {
        return;
    }
    KUMO_LOG_WARN("rpc", "sse_client_dropped", "reason=%s unsent_bytes=%zu", why, sse_unsent(sse));
    sse->rpc->sse_dropped_total++;
    sse->dropped = kumo_rpc_conn_drop(sse->entry);
}

/* Appends the messages of block height that pass the filter and follow sse->after. */
static int block_render(rpc_sse_t *sse,
                        const Kumo__BlockResults *res,
                        uint64_t height,
                        struct evbuffer *out,
                        kumo_err_ctx_t *err)
{
    for (size_t t = 0; t < res->n_results; t++) {
        const Kumo__TxResult *r = res->results[t];
        for (size_t e = 0; e < r->n_events; e++) {
            kumo_rpc_pos_t pos = {height, (uint32_t)t, (uint32_t)e};
            const Kumo__Event *ev = r->events[e];
            if (kumo_rpc_pos_compare(pos, sse->after) <= 0 ||
                !kumo_rpc_filter_match(&sse->filter, ev)) {
                continue;
            }
            json_t *j = kumo_codec_json_from_message(&ev->base);
            char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(j);
            KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "rendering an event");
            int n = evbuffer_add_printf(out, "id: %" PRIu64 ":%zu:%zu\nevent: %s\ndata: %s\n\n",
                                        height, t, e, ev->type, s);
            free(s);
            KUMO_ENSURE(n > 0, err, KUMO_ENOMEM, "queueing an event");
        }
    }
    kumo_rpc_pos_t end = {height, UINT32_MAX, UINT32_MAX};
    if (kumo_rpc_pos_compare(end, sse->after) > 0) {
        KUMO_ENSURE(evbuffer_add_printf(out,
                                        "id: %" PRIu64
                                        "\nevent: block\ndata: {\"height\":\"%" PRIu64 "\"}\n\n",
                                        height, height) > 0,
                    err, KUMO_ENOMEM, "queueing a block event");
    }
    sse->after = end;
    return 0;
}

static void sse_pump(rpc_sse_t *sse);

static void sse_on_drained(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    sse_pump(arg);
}

/* Streams blocks next_height..head while the client keeps up. May drop (free) sse. */
static void sse_pump(rpc_sse_t *sse)
{
    kumo_rpc_t *rpc = sse->rpc;
    kumo_node_status_t st;
    kumo_node_status_get(rpc->node, &st);
    if (sse->dropped || sse->next_height > st.height) {
        return;
    }
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    struct evbuffer *out = evbuffer_new();
    int rc = out != NULL ? kumo_node_read_begin(rpc->node, &read, &kv, &err)
                         : kumo_err_set(&err, KUMO_ENOMEM, "evbuffer");
    if (rc < 0) {
        goto out;
    }
    /* replay pauses at the soft mark; the head block (live output) is always queued */
    while (sse->next_height <= st.height &&
           (sse->next_height == st.height ||
            sse_unsent(sse) + evbuffer_get_length(out) < rpc->sse_replay_soft)) {
        uint64_t h = sse->next_height;
        const Kumo__BlockResults *res = NULL;
        KUMO_GUARD_GOTO(kumo_rpc_results_get(rpc, read, h, &res, &err), rc, out_read);
        KUMO_GUARD_GOTO(block_render(sse, res, h, out, &err), rc, out_read);
        sse->next_height = h + 1;
    }
out_read:
    kumo_store_read_end(read);
out:
    if (out != NULL && evbuffer_get_length(out) > 0) {
        evhttp_send_reply_chunk_with_cb(sse->hreq, out, sse_on_drained, sse);
    }
    if (out != NULL) {
        evbuffer_free(out);
    }
    if (rc < 0) {
        KUMO_LOG_ERROR("rpc", "sse_read_failed", "code=%s detail=\"%s\"", kumo_err_name(rc),
                       err.detail);
        sse_drop(sse, "read_failed");
        return;
    }
    if (sse_unsent(sse) > rpc->sse_output_max) {
        sse_drop(sse, "slow_client");
    }
}

void kumo_rpc_sse_on_commit(kumo_rpc_t *rpc)
{
    rpc_sse_t *next = NULL;
    for (rpc_sse_t *sse = rpc->sses; sse != NULL; sse = next) {
        next = sse->next;
        sse_pump(sse);
    }
}

/* Where a new stream starts: after Last-Event-ID, else at from_height, else after the head. */
static void sse_cursor_init(rpc_sse_t *sse, const kumo_rpc_req_t *req, uint64_t head)
{
    kumo_rpc_pos_t block_end = {0, UINT32_MAX, UINT32_MAX};
    if (req->has_last_id) {
        sse->after = req->last_id;
        bool block_done = req->last_id.tx_index == UINT32_MAX;
        sse->next_height = block_done && req->last_id.height < UINT64_MAX ? req->last_id.height + 1u
                                                                          : req->last_id.height;
    } else if (req->has_from) {
        sse->next_height = req->from_height > 0 ? req->from_height : 1u;
        sse->after = block_end;
        sse->after.height = sse->next_height - 1u;
    } else {
        sse->next_height = head + 1u;
        sse->after = block_end;
        sse->after.height = head;
    }
    if (sse->next_height == 0) {
        sse->next_height = 1; /* Last-Event-ID "0:t:e": there is no block 0 */
    }
    KUMO_ASSERT(sse->next_height >= 1);
}

void kumo_rpc_sse_start(kumo_rpc_t *rpc,
                        rpc_conn_t *entry,
                        struct evhttp_request *hreq,
                        const kumo_rpc_req_t *req)
{
    KUMO_ASSERT(req->route == KUMO_RPC_ROUTE_EVENTS);
    KUMO_ASSERT(entry->sse == NULL && entry->waiter == NULL);
    if (rpc->sse_count >= rpc->cfg.sse_client_max) {
        kumo_rpc_reply_error(hreq, 503, KUMO_ELIMIT, "too many event stream clients");
        return;
    }
    rpc_sse_t *sse = kumo_calloc(1, sizeof(*sse));
    if (sse == NULL) {
        kumo_rpc_reply_error(hreq, 503, KUMO_ENOMEM, "event stream");
        return;
    }
    kumo_node_status_t st;
    kumo_node_status_get(rpc->node, &st);
    sse->rpc = rpc;
    sse->entry = entry;
    sse->hreq = hreq;
    sse->filter = req->filter;
    sse->progress_ms = kumo_rpc_now_ms();
    sse_cursor_init(sse, req, st.height);
    sse->next = rpc->sses;
    if (rpc->sses != NULL) {
        rpc->sses->prev = sse;
    }
    rpc->sses = sse;
    rpc->sse_count++;
    entry->sse = sse;
    kumo_rpc_conn_watch_start(entry);
    evhttp_connection_set_timeout(entry->conn, SSE_CONN_TIMEOUT_S);

    struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
    (void)evhttp_add_header(h, "Content-Type", "text/event-stream");
    (void)evhttp_add_header(h, "Cache-Control", "no-cache");
    (void)evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply_start(hreq, 200, "OK");
    struct evbuffer *hello = evbuffer_new();
    if (hello != NULL) {
        (void)evbuffer_add_printf(hello, ": stream from height %" PRIu64 "\n\n", sse->next_height);
        /* every chunk carries the drain callback: a chunk without one would cancel it */
        evhttp_send_reply_chunk_with_cb(hreq, hello, sse_on_drained, sse);
        evbuffer_free(hello);
    }
    sse_pump(sse);
}

static void keepalive_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_rpc_t *rpc = arg;
    rpc_sse_t *next = NULL;
    for (rpc_sse_t *sse = rpc->sses; sse != NULL; sse = next) {
        next = sse->next;
        struct evbuffer *b = sse->dropped ? NULL : evbuffer_new();
        if (b == NULL) {
            continue;
        }
        (void)evbuffer_add(b, ": keepalive\n\n", 13);
        evhttp_send_reply_chunk_with_cb(sse->hreq, b, sse_on_drained, sse);
        evbuffer_free(b);
        if (sse_unsent(sse) > rpc->sse_output_max) {
            sse_drop(sse, "slow_client");
        }
    }
}

void kumo_rpc_sse_tick(kumo_rpc_t *rpc, uint64_t now_ms)
{
    rpc_sse_t *next = NULL;
    for (rpc_sse_t *sse = rpc->sses; sse != NULL; sse = next) {
        next = sse->next;
        if (sse->dropped) {
            continue;
        }
        uint64_t acked = sse_acked_bytes(sse);
        if (acked != sse->acked_bytes || sse_unsent(sse) == 0) {
            sse->acked_bytes = acked;
            sse->progress_ms = now_ms;
            continue;
        }
        if (now_ms - sse->progress_ms >= rpc->cfg.sse_stall_timeout_ms) {
            sse_drop(sse, "stalled");
        }
    }
}

void kumo_rpc_test_keepalive_ms_set(kumo_rpc_t *rpc, uint32_t ms)
{
    KUMO_ASSERT(rpc->keepalive != NULL);
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u)};
    KUMO_ASSERT(event_add(rpc->keepalive, &tv) == 0);
}

void kumo_rpc_test_sse_output_max_set(kumo_rpc_t *rpc, size_t bytes)
{
    rpc->sse_output_max = bytes;
}

void kumo_rpc_test_sse_replay_soft_set(kumo_rpc_t *rpc, size_t bytes)
{
    rpc->sse_replay_soft = bytes;
}

int kumo_rpc_sse_keepalive_start(kumo_rpc_t *rpc, kumo_err_ctx_t *err)
{
    rpc->keepalive = event_new(rpc->base, -1, EV_PERSIST, keepalive_on_timer, rpc);
    KUMO_ENSURE(rpc->keepalive != NULL, err, KUMO_ENOMEM, "keepalive timer");
    struct timeval tv = {KUMO_RPC_SSE_KEEPALIVE_S, 0};
    KUMO_ENSURE(event_add(rpc->keepalive, &tv) == 0, err, KUMO_EIO, "keepalive timer");
    return 0;
}
