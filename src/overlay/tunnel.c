/*
 * tunnel.c - one tunnel's data path (tunnel_int.h): the frames of tunnel_wire.h over a TLS
 * bufferevent, the streams it carries (each a local TCP connection), their flow control, and
 * the keepalive. Owners (tunnel_server.c, tunnel_client.c) make the TLS connection and decide
 * who the peer may be; nothing here trusts the peer: every frame is checked, a peer breaking
 * the protocol (a bad frame, DATA past its window, a stream id reused) loses the tunnel.
 *
 * Flow control: each stream may have KUMO_OVERLAY_TUNNEL_WINDOW_BYTES in flight per direction.
 * The receiver writes DATA to the local socket's buffer (never more than the window, so the
 * tunnel's reading never stops for one slow stream) and grants bytes back in WINDOW frames as
 * the local socket takes them. The sender reads its local socket only up to the window (the
 * local bufferevent's read high watermark), and stops feeding the TLS side above
 * TN_OUT_HIGH_BYTES until it drains to TN_OUT_LOW_BYTES.
 */
#include "overlay/tunnel_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "crypto/crypto.h"
#include "log/log.h"
#include "tls/tls.h"

uint64_t tn_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Peers can trigger these logs: only the 1st, 2nd, 4th, 8th, ... of each kind is written. */
static bool tn_log_due(uint64_t count)
{
    return count != 0 && (count & (count - 1u)) == 0;
}

static void tn_timer_arm(tn_tunnel_t *t, uint32_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
    (void)event_add(t->timer, &tv);
}

static void tn_free(tn_tunnel_t *t);

/* libevent moves at most 16 KiB per connection and loop turn by default: one TLS record.
 * Bulk streams need more per turn. */
static void tn_bev_io_max(struct bufferevent *bev)
{
    (void)bufferevent_set_max_single_read(bev, TN_IO_BYTES_MAX);
    (void)bufferevent_set_max_single_write(bev, TN_IO_BYTES_MAX);
}

/* ---- sending frames ---- */

static void tn_send(tn_tunnel_t *t, const kumo_overlay_tunnel_frame_t *f)
{
    KUMO_ASSERT(f->type != KUMO_OVERLAY_TUNNEL_DATA);
    uint8_t buf[KUMO_OVERLAY_TUNNEL_FRAME_HEADER + 8u];
    size_t len = 0;
    int rc = kumo_overlay_tunnel_frame_encode(f, buf, sizeof(buf), &len);
    KUMO_ASSERT(rc == 0);
    (void)bufferevent_write(t->bev, buf, len);
}

static void tn_send_simple(tn_tunnel_t *t, kumo_overlay_tunnel_frame_type_t type, uint32_t id)
{
    kumo_overlay_tunnel_frame_t f = {.type = type, .stream_id = id};
    tn_send(t, &f);
}

/* ---- streams ---- */

static tn_stream_t *tn_stream_find(const tn_tunnel_t *t, uint32_t id)
{
    for (uint32_t i = 0; i < t->stream_count; i++) {
        if (t->streams[i]->id == id) {
            return t->streams[i];
        }
    }
    return NULL;
}

static void tn_stream_free(tn_stream_t *s)
{
    tn_tunnel_t *t = s->t;
    for (uint32_t i = 0; i < t->stream_count; i++) {
        if (t->streams[i] == s) {
            t->streams[i] = t->streams[t->stream_count - 1u];
            t->stream_count--;
            break;
        }
    }
    KUMO_ASSERT(t->stats->streams > 0);
    t->stats->streams--;
    if (s->fill_cb != NULL) {
        (void)evbuffer_remove_cb_entry(bufferevent_get_input(s->bev), s->fill_cb);
    }
    if (s->drain_cb != NULL) {
        (void)evbuffer_remove_cb_entry(bufferevent_get_output(s->bev), s->drain_cb);
    }
    bufferevent_free(s->bev);
    kumo_free(s);
}

/* Ends a stream in both directions: tells the peer (when the tunnel is up) and frees it. */
static void tn_stream_reset(tn_stream_t *s)
{
    if (s->t->state == TN_UP) {
        tn_send_simple(s->t, KUMO_OVERLAY_TUNNEL_RESET, s->id);
    }
    s->t->stats->streams_reset++;
    tn_stream_free(s);
}

/* Frees a stream whose both directions ended cleanly. Returns whether it did. */
static bool tn_stream_maybe_done(tn_stream_t *s)
{
    if (s->fin_sent && s->fin_recv && s->shut_wr) {
        tn_stream_free(s);
        return true;
    }
    return false;
}

/* Moves what the local side sent into DATA frames, within the window and the TLS bound;
 * sends FIN once the local side ended and everything went. */
static void tn_stream_pump(tn_stream_t *s)
{
    tn_tunnel_t *t = s->t;
    struct evbuffer *in = bufferevent_get_input(s->bev);
    struct evbuffer *out = bufferevent_get_output(t->bev);
    size_t avail = evbuffer_get_length(in);
    while (avail > 0 && s->send_window > 0 && evbuffer_get_length(out) < TN_OUT_HIGH_BYTES) {
        size_t n = avail;
        n = n < s->send_window ? n : s->send_window;
        n = n < KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX ? n : KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX;
        /* Header and payload in one piece: the TLS layer writes one record per piece, so a
         * small frame costs one record and one segment, not two. */
        uint8_t frame[KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX];
        frame[0] = (uint8_t)KUMO_OVERLAY_TUNNEL_DATA;
        kumo_be32_put(frame + 1, s->id);
        frame[5] = (uint8_t)(n >> 8);
        frame[6] = (uint8_t)(n & 0xffu);
        int moved = evbuffer_remove(in, frame + KUMO_OVERLAY_TUNNEL_FRAME_HEADER, n);
        KUMO_ASSERT(moved == (int)n);
        (void)evbuffer_add(out, frame, KUMO_OVERLAY_TUNNEL_FRAME_HEADER + n);
        s->send_window -= (uint32_t)n;
        avail -= n;
    }
    if (avail == 0 && s->local_eof && !s->fin_sent) {
        tn_send_simple(t, KUMO_OVERLAY_TUNNEL_FIN, s->id);
        s->fin_sent = true;
        (void)tn_stream_maybe_done(s);
    }
}

/* Passes the peer's FIN on once everything before it reached the local socket. */
static void tn_stream_flush_fin(tn_stream_t *s)
{
    if (!s->fin_recv || s->shut_wr || !s->connected ||
        evbuffer_get_length(bufferevent_get_output(s->bev)) > 0) {
        return;
    }
    (void)shutdown((int)bufferevent_getfd(s->bev), SHUT_WR);
    s->shut_wr = true;
    (void)tn_stream_maybe_done(s);
}

size_t tn_bev_fill(struct bufferevent *bev, size_t room)
{
    KUMO_ASSERT(bev != NULL);
    room = room < TN_IO_BYTES_MAX ? room : TN_IO_BYTES_MAX;
    if (room == 0) {
        return 0;
    }
    struct evbuffer *in = bufferevent_get_input(bev);
    /* The bufferevent keeps its input's end frozen but while it reads itself. */
    (void)evbuffer_unfreeze(in, 0);
    struct evbuffer_iovec vec[2];
    int n = evbuffer_reserve_space(in, (ev_ssize_t)room, vec, 2);
    if (n <= 0) {
        (void)evbuffer_freeze(in, 0);
        return 0;
    }
    struct iovec iov[2];
    size_t left = room;
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = vec[i].iov_base;
        iov[i].iov_len = vec[i].iov_len < left ? vec[i].iov_len : left;
        left -= iov[i].iov_len;
    }
    ssize_t got = readv((int)bufferevent_getfd(bev), iov, n);
    /* EOF and errors are left to the bufferevent: the socket stays readable for it. */
    size_t took = got > 0 ? (size_t)got : 0u;
    KUMO_ASSERT(took <= room);
    size_t read_bytes = took;
    int used = 0;
    for (int i = 0; i < n && took > 0; i++) {
        vec[i].iov_len = took < iov[i].iov_len ? took : iov[i].iov_len;
        took -= vec[i].iov_len;
        used = i + 1;
    }
    (void)evbuffer_commit_space(in, vec, used);
    (void)evbuffer_freeze(in, 0);
    return read_bytes;
}

/* Bytes came into the local input: a full read of libevent's (not ours) means more waits. */
static void tn_stream_fill_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    tn_stream_t *s = arg;
    if (info->n_added >= TN_LIBEVENT_READ_BYTES && !s->filling) {
        s->fill_due = true;
    }
}

/* After a full 4 KiB read (tn_bev_fill), what else the local socket holds, up to the read
 * high watermark: a request of a few bytes costs no extra call. */
static void tn_stream_fill(tn_stream_t *s)
{
    size_t have = evbuffer_get_length(bufferevent_get_input(s->bev));
    bool due = s->fill_due;
    s->fill_due = false;
    if (!due || !s->connected || s->local_eof || have >= KUMO_OVERLAY_TUNNEL_WINDOW_BYTES) {
        return;
    }
    s->filling = true;
    (void)tn_bev_fill(s->bev, KUMO_OVERLAY_TUNNEL_WINDOW_BYTES - have);
    s->filling = false;
}

static void tn_stream_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tn_stream_fill(arg);
    tn_stream_pump(arg);
}

static void tn_stream_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tn_stream_flush_fin(arg);
}

static void tn_stream_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    tn_stream_t *s = arg;
    if ((what & BEV_EVENT_CONNECTED) != 0) {
        s->connected = true;
        tn_stream_flush_fin(s);
        return;
    }
    if ((what & BEV_EVENT_EOF) != 0 && (what & BEV_EVENT_READING) != 0) {
        s->local_eof = true;
        tn_stream_pump(s);
        return;
    }
    tn_stream_reset(s);
}

/* The local socket took bytes: grant them back to the peer in steps. */
static void tn_stream_drain_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    tn_stream_t *s = arg;
    if (info->n_deleted == 0) {
        return;
    }
    KUMO_ASSERT(info->n_deleted <= s->recv_buffered);
    s->recv_buffered -= (uint32_t)info->n_deleted;
    s->recv_credit += (uint32_t)info->n_deleted;
    if (s->recv_credit >= TN_WINDOW_STEP_BYTES && !s->fin_recv && s->t->state == TN_UP) {
        kumo_overlay_tunnel_frame_t f = {
            .type = KUMO_OVERLAY_TUNNEL_WINDOW, .stream_id = s->id, .window_bytes = s->recv_credit};
        tn_send(s->t, &f);
        s->recv_credit = 0;
    }
}

/* A stream over the local socket fd (connected, or connecting when !connected). */
static tn_stream_t *tn_stream_add(tn_tunnel_t *t, uint32_t id, int fd, bool connected)
{
    KUMO_ASSERT(t->stream_count < t->stream_max);
    tn_stream_t *s = kumo_calloc(1, sizeof(*s));
    struct bufferevent *bev =
        s != NULL
            ? bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (bev == NULL) {
        kumo_free(s);
        if (fd >= 0) {
            (void)close(fd);
        }
        return NULL;
    }
    s->t = t;
    s->id = id;
    s->bev = bev;
    s->connected = connected;
    s->send_window = KUMO_OVERLAY_TUNNEL_WINDOW_BYTES;
    s->drain_cb = evbuffer_add_cb(bufferevent_get_output(bev), tn_stream_drain_cb, s);
    s->fill_cb = evbuffer_add_cb(bufferevent_get_input(bev), tn_stream_fill_cb, s);
    bufferevent_setwatermark(bev, EV_READ, 0, KUMO_OVERLAY_TUNNEL_WINDOW_BYTES);
    tn_bev_io_max(bev);
    bufferevent_setcb(bev, tn_stream_read_cb, tn_stream_write_cb, tn_stream_event_cb, s);
    t->streams[t->stream_count++] = s;
    t->stats->streams++;
    t->stats->streams_opened++;
    if (s->drain_cb == NULL || s->fill_cb == NULL ||
        bufferevent_enable(bev, EV_READ | EV_WRITE) != 0) {
        tn_stream_free(s);
        return NULL;
    }
    return s;
}

void tn_tunnel_stream_open(tn_tunnel_t *t, int fd, uint16_t port)
{
    KUMO_ASSERT(!t->server && fd >= 0);
    if (t->state != TN_UP || t->stream_count >= t->stream_max || t->last_stream_id == UINT32_MAX) {
        t->stats->capped++;
        (void)close(fd);
        return;
    }
    /* Stream ids only increase, so a late frame never names a newer stream. */
    uint32_t id = t->last_stream_id + 1u;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tn_stream_add(t, id, fd, true) == NULL) {
        return;
    }
    t->last_stream_id = id;
    kumo_overlay_tunnel_frame_t f = {
        .type = KUMO_OVERLAY_TUNNEL_OPEN, .stream_id = id, .port = port};
    tn_send(t, &f);
}

/* ---- frames from the peer ---- */

/* The port's next target (its containers in turn); NULL when the port has none. */
static const kumo_overlay_tunnel_target_t *tn_target_next(tn_tunnel_t *t, uint16_t port)
{
    KUMO_ASSERT(t->targets.count <= KUMO_OVERLAY_TUNNEL_TARGET_MAX);
    uint32_t matches = 0;
    for (uint32_t i = 0; i < t->targets.count; i++) {
        matches += t->targets.items[i].port == port ? 1u : 0u;
    }
    if (matches == 0) {
        return NULL;
    }
    uint32_t pick = t->target_next++ % matches;
    for (uint32_t i = 0; i < t->targets.count; i++) {
        if (t->targets.items[i].port == port && pick-- == 0) {
            return &t->targets.items[i];
        }
    }
    KUMO_UNREACHABLE();
}

/* Server: the peer opens stream id to port: connect to the port's target, or reset. */
static int tn_on_open(tn_tunnel_t *t, const kumo_overlay_tunnel_frame_t *f, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(t->server && f->stream_id > t->last_stream_id, err, KUMO_EDECODE,
                "OPEN of stream %u (last %u)", f->stream_id, t->last_stream_id);
    t->last_stream_id = f->stream_id;
    const kumo_overlay_tunnel_target_t *target = tn_target_next(t, f->port);
    char text[KUMO_OVERLAY_FWD_HOST_BYTES + 16];
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    bool ok = target != NULL && t->stream_count < t->stream_max;
    if (ok) {
        bool v6 = strchr(target->host, ':') != NULL;
        (void)snprintf(text, sizeof(text), v6 ? "[%s]:%u" : "%s:%u", target->host,
                       (unsigned)target->target_port);
        ok = tn_addr_parse(text, &sa, &sa_len, NULL) == 0;
    }
    tn_stream_t *s = ok ? tn_stream_add(t, f->stream_id, -1, false) : NULL;
    if (s == NULL) {
        tn_send_simple(t, KUMO_OVERLAY_TUNNEL_RESET, f->stream_id);
        t->stats->streams_reset++;
        return 0;
    }
    if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&sa, (int)sa_len) != 0) {
        tn_stream_reset(s);
        return 0;
    }
    int one = 1;
    (void)setsockopt((int)bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

static int tn_on_window(tn_stream_t *s, uint32_t bytes, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(bytes <= KUMO_OVERLAY_TUNNEL_WINDOW_BYTES - s->send_window, err, KUMO_EDECODE,
                "WINDOW of %u past the window on stream %u", bytes, s->id);
    s->send_window += bytes;
    tn_stream_pump(s);
    return 0;
}

/* A control or stream frame other than DATA (whole, decoded). */
static int tn_on_frame(tn_tunnel_t *t, const kumo_overlay_tunnel_frame_t *f, kumo_err_ctx_t *err)
{
    if (f->type == KUMO_OVERLAY_TUNNEL_PING) {
        kumo_overlay_tunnel_frame_t pong = {.type = KUMO_OVERLAY_TUNNEL_PONG, .ping = f->ping};
        tn_send(t, &pong);
        return 0;
    }
    if (f->type == KUMO_OVERLAY_TUNNEL_PONG) {
        return 0;
    }
    if (f->type == KUMO_OVERLAY_TUNNEL_OPEN) {
        return tn_on_open(t, f, err);
    }
    tn_stream_t *s = tn_stream_find(t, f->stream_id);
    if (s == NULL) {
        return 0; /* a stream already reset here: late frames are dropped */
    }
    if (f->type == KUMO_OVERLAY_TUNNEL_RESET) {
        tn_stream_free(s);
        return 0;
    }
    if (f->type == KUMO_OVERLAY_TUNNEL_FIN) {
        KUMO_ENSURE(!s->fin_recv, err, KUMO_EDECODE, "second FIN on stream %u", s->id);
        s->fin_recv = true;
        tn_stream_flush_fin(s);
        return 0;
    }
    KUMO_ASSERT(f->type == KUMO_OVERLAY_TUNNEL_WINDOW);
    return tn_on_window(s, f->window_bytes, err);
}

/* DATA: moved from the TLS input to the stream's local socket without a copy. */
static int tn_on_data(tn_tunnel_t *t, uint32_t id, size_t len, kumo_err_ctx_t *err)
{
    struct evbuffer *in = bufferevent_get_input(t->bev);
    tn_stream_t *s = tn_stream_find(t, id);
    if (s == NULL) {
        (void)evbuffer_drain(in, len);
        return 0;
    }
    KUMO_ENSURE(!s->fin_recv && len <= KUMO_OVERLAY_TUNNEL_WINDOW_BYTES - s->recv_buffered, err,
                KUMO_EDECODE, "DATA past the window or FIN on stream %u", id);
    s->recv_buffered += (uint32_t)len;
    int moved = evbuffer_remove_buffer(in, bufferevent_get_output(s->bev), len);
    KUMO_ASSERT(moved == (int)len);
    return 0;
}

/* One frame off the input: 1 done, 0 more bytes needed, < 0 protocol error. */
static int tn_read_one(tn_tunnel_t *t, kumo_err_ctx_t *err)
{
    struct evbuffer *in = bufferevent_get_input(t->bev);
    size_t have = evbuffer_get_length(in);
    if (have < KUMO_OVERLAY_TUNNEL_FRAME_HEADER) {
        return 0;
    }
    const uint8_t *hdr = evbuffer_pullup(in, KUMO_OVERLAY_TUNNEL_FRAME_HEADER);
    kumo_overlay_tunnel_frame_t f;
    size_t len = 0;
    KUMO_GUARD(kumo_overlay_tunnel_frame_header(hdr, &f, &len, err));
    if (have - KUMO_OVERLAY_TUNNEL_FRAME_HEADER < len) {
        return 0;
    }
    t->last_rx_ms = tn_now_ms();
    if (f.type == KUMO_OVERLAY_TUNNEL_DATA) {
        (void)evbuffer_drain(in, KUMO_OVERLAY_TUNNEL_FRAME_HEADER);
        KUMO_GUARD(tn_on_data(t, f.stream_id, len, err));
        return 1;
    }
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)(KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len));
    size_t used = 0;
    KUMO_GUARD(kumo_overlay_tunnel_frame_decode(
        kumo_bytes_make(p, KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len), &f, &used, err));
    KUMO_ASSERT(used == KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len);
    KUMO_GUARD(tn_on_frame(t, &f, err));
    (void)evbuffer_drain(in, used);
    /* Answers (PONG, RESET, WINDOW) queue whatever the peer reads: one that never reads while
     * asking for more would grow our buffer without end. */
    KUMO_ENSURE(evbuffer_get_length(bufferevent_get_output(t->bev)) <= TN_OUT_HARD_BYTES, err,
                KUMO_ELIMIT, "the peer does not read: %zu bytes queued",
                evbuffer_get_length(bufferevent_get_output(t->bev)));
    return 1;
}

static void tn_free(tn_tunnel_t *t)
{
    KUMO_ASSERT(t->state == TN_CLOSED && t->stream_count == 0);
    event_free(t->timer);
    kumo_free(t->streams);
    kumo_free(t);
}

static void tn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tn_tunnel_t *t = arg;
    if (t->state != TN_UP) {
        return;
    }
    t->busy = true;
    kumo_err_ctx_t err = {0};
    int rc = 1;
    while (rc == 1 && t->state == TN_UP) {
        rc = tn_read_one(t, &err);
    }
    if (rc < 0 && t->state == TN_UP) {
        t->stats->protocol_errors++;
        if (tn_log_due(t->stats->protocol_errors)) {
            KUMO_LOG_WARN("overlay", "tunnel_protocol_error", "count=%llu error=\"%s\"",
                          (unsigned long long)t->stats->protocol_errors, err.detail);
        }
        tn_tunnel_close(t, "protocol error");
    }
    t->busy = false;
    if (t->state == TN_CLOSED) {
        tn_free(t); /* closed while busy: freed here */
    }
}

/* The TLS side drained: feed it again from the streams that wait. */
static void tn_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tn_tunnel_t *t = arg;
    for (uint32_t i = 0; i < t->stream_count && t->state == TN_UP;) {
        tn_stream_t *s = t->streams[i];
        uint32_t before = t->stream_count;
        tn_stream_pump(s);
        i += t->stream_count == before ? 1u : 0u; /* a stream done moves the last one here */
    }
}

static void tn_up(tn_tunnel_t *t)
{
    kumo_err_ctx_t err = {0};
    int rc = t->ops->up(t, &err);
    if (rc < 0) {
        t->stats->refused++;
        if (tn_log_due(t->stats->refused)) {
            KUMO_LOG_WARN("overlay", "tunnel_refused", "side=%s refused=%llu error=\"%s\"",
                          t->server ? "server" : "client", (unsigned long long)t->stats->refused,
                          err.detail);
        }
        tn_tunnel_close(t, "refused");
        return;
    }
    KUMO_ASSERT(t->stats->handshakes > 0);
    t->stats->handshakes--;
    t->state = TN_UP;
    t->last_rx_ms = tn_now_ms();
    t->stats->tunnels++;
    t->stats->tunnels_opened++;
    tn_timer_arm(t, t->keepalive_ms);
    tn_read_cb(t->bev, t); /* frames that came with the handshake */
}

static void tn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    tn_tunnel_t *t = arg;
    if ((what & BEV_EVENT_CONNECTED) != 0 && t->state == TN_HANDSHAKE) {
        tn_up(t);
        return;
    }
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0) {
        if (t->state == TN_HANDSHAKE) {
            t->stats->refused++;
        }
        tn_tunnel_close(t, (what & BEV_EVENT_EOF) != 0 ? "closed by peer" : "connection error");
    }
}

static void tn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tn_tunnel_t *t = arg;
    if (t->state == TN_HANDSHAKE) {
        t->stats->refused++;
        tn_tunnel_close(t, "handshake timeout");
        return;
    }
    uint64_t now_ms = tn_now_ms();
    if (now_ms >= t->expires_ms) {
        /* Verified at the handshake, but a tunnel does not outlive the peer's certificate:
         * the peer dials again with a fresh one. */
        t->stats->expired++;
        tn_tunnel_close(t, "peer certificate expired");
        return;
    }
    uint64_t quiet_ms = now_ms - t->last_rx_ms;
    if (quiet_ms > (uint64_t)t->keepalive_ms * TN_KEEPALIVE_MISSES) {
        tn_tunnel_close(t, "keepalive timeout");
        return;
    }
    kumo_overlay_tunnel_frame_t ping = {.type = KUMO_OVERLAY_TUNNEL_PING, .ping = ++t->ping_seq};
    tn_send(t, &ping);
    tn_timer_arm(t, t->keepalive_ms);
}

tn_tunnel_t *tn_tunnel_new(struct event_base *base,
                           struct bufferevent *bev,
                           const tn_ops_t *ops,
                           void *owner,
                           bool server,
                           uint32_t stream_max,
                           uint32_t handshake_timeout_ms,
                           uint32_t keepalive_ms,
                           kumo_overlay_tunnel_stats_t *stats)
{
    KUMO_ASSERT(bev != NULL && ops != NULL && stats != NULL);
    KUMO_ASSERT(stream_max >= 1 && stream_max <= KUMO_OVERLAY_TUNNEL_STREAM_MAX);
    tn_tunnel_t *t = kumo_calloc(1, sizeof(*t));
    tn_stream_t **streams = t != NULL ? kumo_calloc(stream_max, sizeof(*streams)) : NULL;
    struct event *timer = streams != NULL ? evtimer_new(base, tn_timer_cb, t) : NULL;
    if (timer == NULL) {
        kumo_free(streams);
        kumo_free(t);
        bufferevent_free(bev);
        return NULL;
    }
    t->ops = ops;
    t->owner = owner;
    t->base = base;
    t->bev = bev;
    t->timer = timer;
    t->server = server;
    t->stream_max = stream_max;
    t->keepalive_ms = keepalive_ms;
    t->streams = streams;
    t->stats = stats;
    t->last_stream_id = 0; /* the first stream is 1 */
    stats->handshakes++;
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bufferevent_setwatermark(bev, EV_WRITE, TN_OUT_LOW_BYTES, 0);
    tn_bev_io_max(bev);
    bufferevent_setcb(bev, tn_read_cb, tn_write_cb, tn_event_cb, t);
    tn_timer_arm(t, handshake_timeout_ms);
    (void)bufferevent_enable(bev, EV_READ | EV_WRITE);
    return t;
}

void tn_tunnel_close(tn_tunnel_t *t, const char *why)
{
    if (t->state == TN_CLOSED) {
        return;
    }
    if (t->state == TN_HANDSHAKE) {
        KUMO_ASSERT(t->stats->handshakes > 0);
        t->stats->handshakes--;
    } else {
        KUMO_ASSERT(t->stats->tunnels > 0);
        t->stats->tunnels--;
    }
    t->state = TN_CLOSED;
    while (t->stream_count > 0) {
        tn_stream_reset(t->streams[0]);
    }
    (void)event_del(t->timer);
    bufferevent_free(t->bev);
    t->bev = NULL;
    t->ops->closed(t, why);
    if (!t->busy) {
        tn_free(t);
    }
}

/* ---- shared helpers ---- */

void tn_tag(const kumo_overlay_tunnel_id_t *id, char out[TN_TAG_BYTES])
{
    uint8_t dseq[8];
    kumo_be64_put(dseq, id->dseq);
    static const char domain[] = "kumo-tunnel";
    const kumo_bytes_t parts[] = {
        kumo_bytes_make(domain, sizeof(domain)),
        kumo_bytes_make(id->owner, strlen(id->owner) + 1u),
        kumo_bytes_make(dseq, sizeof(dseq)),
        kumo_bytes_make(id->src, strlen(id->src) + 1u),
        kumo_bytes_make(id->dst, strlen(id->dst) + 1u),
    };
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), h);
    static const char digits[] = "0123456789abcdef";
    out[0] = 't';
    for (size_t i = 0; i < (TN_TAG_BYTES - 2u) / 2u; i++) {
        out[1 + 2 * i] = digits[h[i] >> 4];
        out[2 + 2 * i] = digits[h[i] & 15u];
    }
    out[TN_TAG_BYTES - 1u] = '\0';
}

int tn_addr_parse(const char *text,
                  struct sockaddr_storage *sa,
                  socklen_t *len,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && sa != NULL && len != NULL);
    memset(sa, 0, sizeof(*sa));
    int sa_len = (int)sizeof(*sa);
    KUMO_ENSURE(evutil_parse_sockaddr_port(text, (struct sockaddr *)sa, &sa_len) == 0, err,
                KUMO_EINVAL, "address '%s' is not a numeric ip:port", text);
    KUMO_ENSURE(sa->ss_family == AF_INET || sa->ss_family == AF_INET6, err, KUMO_EINVAL,
                "address '%s' is not IPv4 or IPv6", text);
    *len = (socklen_t)sa_len;
    return 0;
}

int tn_peer_check(tn_tunnel_t *t,
                  const kumo_tls_root_t *root,
                  const kumo_overlay_tunnel_id_t *want,
                  kumo_err_ctx_t *err)
{
    void *ssl = bufferevent_openssl_get_ssl(t->bev);
    KUMO_ASSERT(ssl != NULL);
    KUMO_GUARD(kumo_tls_peer_verify(ssl, root, err));
    char uris[KUMO_TLS_URI_COUNT_MAX][KUMO_TLS_URI_BYTES_MAX];
    size_t count = 0;
    KUMO_GUARD(kumo_tls_peer_uris(ssl, uris, KUMO_TLS_URI_COUNT_MAX, &count, err));
    kumo_overlay_tunnel_id_t got;
    kumo_err_ctx_t why = {0};
    int rc = kumo_overlay_tunnel_id_from_uris((const char(*)[KUMO_TLS_URI_BYTES_MAX])uris, count,
                                              &got, &why);
    KUMO_ENSURE(rc == 0, err, KUMO_EUNAUTH, "peer certificate names no tunnel: %s", why.detail);
    uint64_t valid_ms = 0;
    KUMO_GUARD(kumo_tls_peer_valid_ms(ssl, &valid_ms, err));
    t->expires_ms = tn_now_ms() + valid_ms;
    KUMO_ENSURE(kumo_overlay_tunnel_id_equal(&got, want), err, KUMO_EUNAUTH,
                "peer certificate names lease %s/%llu/%u/%u/%s tunnel %s/%s, not the expected "
                "one",
                got.owner, (unsigned long long)got.dseq, got.gseq, got.oseq, got.provider, got.src,
                got.dst);
    t->peer = got;
    return 0;
}
