/*
 * p2p.c - TLS 1.3 links between nodes on libevent (p2p.h): listener, dialing with backoff,
 * handshake (TLS, then HELLO both ways), frames, bounded send queues, one connection per
 * peer. Not pure: sockets, timers, randomness (jitter). Loop thread only. Who may hold a
 * connection (caps, usefulness, penalties, bans) is slots.c.
 *
 * A connection is freed only from the reaper event, never inside its own callbacks: dropping
 * marks it closing, detaches it from the peer table and queues it.
 */
#include "p2p/p2p.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "log/log.h"
#include "p2p/p2p_int.h"
#include "p2p/p2p_wire.h"

void kumo_p2p_cfg_default(kumo_p2p_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->inbound_count_max = 32;
    cfg->inbound_per_host_max = 4;
    cfg->pending_count_max = 32;
    cfg->pending_per_host_max = 8;
    cfg->useful_timeout_ms = 60000;
    cfg->ban_ms = 600000;
    cfg->summary_interval_ms = 10000;
    cfg->send_queue_bytes_max = 16u * 1024u * 1024u;
    cfg->handshake_timeout_ms = 5000;
    cfg->redial_min_ms = 500;
    cfg->redial_max_ms = 30000;
}

/* "host:port" or "[v6]:port" with a numeric IPv4/IPv6 host or "localhost" (127.0.0.1); an
 * empty host is 127.0.0.1 too. No DNS: this never blocks the loop. */
static int p2p_addr_resolve(const char *host_port,
                            struct sockaddr_storage *sa,
                            socklen_t *sa_len,
                            kumo_err_ctx_t *err)
{
    const char *colon = strrchr(host_port, ':');
    KUMO_ENSURE(colon != NULL && (size_t)(colon - host_port) < KUMO_P2P_ADDR_BYTES_MAX, err,
                KUMO_EINVAL, "address '%s': expected host:port", host_port);
    const char *h = host_port;
    size_t hl = (size_t)(colon - host_port);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char host[KUMO_P2P_ADDR_BYTES_MAX];
    memcpy(host, h, hl);
    host[hl] = '\0';
    const char *port = colon + 1;
    KUMO_ENSURE(port[0] != '\0' && strlen(port) <= 5 &&
                    strspn(port, "0123456789") == strlen(port) && strtoul(port, NULL, 10) <= 65535,
                err, KUMO_EINVAL, "address '%s': bad port", host_port);
    if (hl == 0 || strcmp(host, "localhost") == 0) {
        (void)snprintf(host, sizeof(host), "127.0.0.1");
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(*sa)) {
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return kumo_err_set(err, KUMO_EINVAL,
                            "address '%s': host must be a numeric IPv4/IPv6 address or localhost",
                            host_port);
    }
    memset(sa, 0, sizeof(*sa));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *sa_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int kumo_p2p_peer_addr_parse(const char *text, kumo_p2p_peer_addr_t *out, kumo_err_ctx_t *err)
{
    const char *at = strchr(text, '@');
    KUMO_ENSURE(at != NULL && (size_t)(at - text) == KUMO_TLS_NODE_ID_HEX, err, KUMO_EDECODE,
                "peer '%s': expected <40 hex id>@host:port", text);
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    memcpy(hex, text, KUMO_TLS_NODE_ID_HEX);
    hex[KUMO_TLS_NODE_ID_HEX] = '\0';
    size_t n = 0;
    KUMO_ENSURE(
        sodium_hex2bin(out->id, sizeof(out->id), hex, KUMO_TLS_NODE_ID_HEX, NULL, &n, NULL) == 0 &&
            n == KUMO_TLS_NODE_ID_BYTES,
        err, KUMO_EDECODE, "peer '%s': bad id", text);
    const char *hp = at + 1;
    KUMO_ENSURE(strlen(hp) < sizeof(out->host_port), err, KUMO_EDECODE,
                "peer '%s': address over %u bytes", text, KUMO_P2P_ADDR_BYTES_MAX - 1u);
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    kumo_err_ctx_t why = {0};
    KUMO_ENSURE(p2p_addr_resolve(hp, &sa, &sa_len, &why) == 0, err, KUMO_EDECODE, "peer: %s",
                why.detail);
    (void)snprintf(out->host_port, sizeof(out->host_port), "%s", hp);
    return 0;
}

uint64_t p2p_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void p2p_id_hex(const uint8_t id[KUMO_TLS_NODE_ID_BYTES], char out[KUMO_TLS_NODE_ID_HEX + 1])
{
    (void)sodium_bin2hex(out, KUMO_TLS_NODE_ID_HEX + 1, id, KUMO_TLS_NODE_ID_BYTES);
}

/* ---- connection table ---- */

p2p_conn_t *p2p_find_up(kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        p2p_conn_t *c = p2p->conns[i];
        if (c != NULL && c->state == P2P_UP && memcmp(c->id, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            return c;
        }
    }
    return NULL;
}

static bool p2p_slot_add(kumo_p2p_t *p2p, p2p_conn_t *c)
{
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        if (p2p->conns[i] == NULL) {
            p2p->conns[i] = c;
            return true;
        }
    }
    return false;
}

static void p2p_slot_remove(kumo_p2p_t *p2p, const p2p_conn_t *c)
{
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        if (p2p->conns[i] == c) {
            p2p->conns[i] = NULL;
        }
    }
}

static void p2p_conn_free(p2p_conn_t *c)
{
    if (c->timer != NULL) {
        event_free(c->timer);
    }
    if (c->bev != NULL) {
        bufferevent_free(c->bev);
    }
    kumo_free(c);
}

static void p2p_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_p2p_t *p2p = arg;
    while (p2p->dead != NULL) {
        p2p_conn_t *c = p2p->dead;
        p2p->dead = c->next_dead;
        p2p_conn_free(c);
    }
}

static void p2p_redial_schedule(kumo_p2p_t *p2p, int32_t index);

void p2p_drop(p2p_conn_t *c, const char *reason, bool bad)
{
    if (c->closing) {
        return;
    }
    kumo_p2p_t *p2p = c->p2p;
    if (c->state == P2P_UP && c->penalty < KUMO_P2P_SCORE_BAN) {
        /* Reconnecting does not wipe a score (a ban is its own end). */
        kumo_p2p_scores_put(&p2p->scores, c->id, c->penalty, p2p_now_ms());
    }
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    p2p_slot_remove(p2p, c);
    c->next_dead = p2p->dead;
    p2p->dead = c;
    struct timeval zero = {0, 0};
    (void)event_add(p2p->reaper, &zero);
    if (bad) {
        p2p->stats.disconnects_bad++;
    }
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(c->id, hex);
    char host[KUMO_P2P_HOST_TEXT_BYTES];
    kumo_p2p_host_format(&c->host, host);
    /* Strangers and handshakes a flood can make are debug lines (counted, summarized), but
     * for misbehaviour within a small budget per interval. */
    bool loud = p2p_conn_is_loud(c) || (bad && p2p_line_budget_take(p2p));
    KUMO_LOG_AT(loud ? KUMO_LOG_LEVEL_INFO : KUMO_LOG_LEVEL_DEBUG, "p2p", "peer_dropped",
                "id=%s host=%s outbound=%d state=%d reason=\"%s\"", hex, host, c->outbound,
                (int)c->state, reason);
    bool was_up = c->state == P2P_UP;
    if (was_up && p2p->cb.peer_down != NULL) {
        p2p->cb.peer_down(p2p->cb.ctx, c->id);
    }
    /* A persistent peer is redialed unless another connection to it is still up. */
    for (uint32_t i = 0; i < p2p->persistent_count; i++) {
        p2p_persistent_t *pp = &p2p->persistent[i];
        bool this_dial = c->persistent == (int32_t)i;
        bool same_peer = memcmp(pp->addr.id, c->id, KUMO_TLS_NODE_ID_BYTES) == 0;
        if (this_dial) {
            pp->dialing = false;
        }
        if ((this_dial || (was_up && same_peer)) && !pp->dialing &&
            p2p_find_up(p2p, pp->addr.id) == NULL) {
            p2p_redial_schedule(p2p, (int32_t)i);
        }
    }
}

/* ---- frames ---- */

static int
p2p_frame_queue(p2p_conn_t *c, uint8_t channel, kumo_bytes_t payload, kumo_err_ctx_t *err)
{
    kumo_p2p_t *p2p = c->p2p;
    KUMO_ENSURE(payload.len <= kumo_p2p_channel_bytes_max(channel), err, KUMO_ELIMIT,
                "payload of %zu bytes on channel %u", payload.len, channel);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) + payload.len + KUMO_P2P_FRAME_HEADER >
        p2p->cfg.send_queue_bytes_max) {
        p2p->stats.dropped_send++;
        return kumo_err_set(err, KUMO_ELIMIT, "send queue full");
    }
    uint8_t hdr[KUMO_P2P_FRAME_HEADER];
    uint32_t len = (uint32_t)payload.len + 1u;
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    hdr[4] = channel;
    KUMO_ENSURE(evbuffer_add(out, hdr, sizeof(hdr)) == 0 &&
                    (payload.len == 0 || evbuffer_add(out, payload.ptr, payload.len) == 0),
                err, KUMO_ENOMEM, "send buffer");
    p2p->stats.frames_out++;
    p2p->stats.bytes_out += payload.len + KUMO_P2P_FRAME_HEADER;
    return 0;
}

static void p2p_hello_send(p2p_conn_t *c)
{
    kumo_p2p_t *p2p = c->p2p;
    kumo_p2p_hello_t h = {.version = KUMO_P2P_PROTOCOL_VERSION};
    (void)snprintf(h.chain_id, sizeof(h.chain_id), "%s", p2p->chain_id);
    memcpy(h.id, p2p->self_id, sizeof(h.id));
    (void)snprintf(h.listen, sizeof(h.listen), "%s", p2p->listen_addr);
    uint8_t buf[KUMO_P2P_HELLO_BYTES_MAX];
    size_t len = 0;
    if (kumo_p2p_hello_encode(&h, buf, sizeof(buf), &len) < 0 ||
        p2p_frame_queue(c, KUMO_P2P_CH_HELLO, kumo_bytes_make(buf, len), NULL) < 0) {
        p2p_drop(c, "hello does not fit", false);
    }
}

/* The connection to keep when both sides dialed: the one dialed by the lower node id. */
static bool p2p_keeps(const kumo_p2p_t *p2p, const p2p_conn_t *c)
{
    bool self_lower = memcmp(p2p->self_id, c->id, KUMO_TLS_NODE_ID_BYTES) < 0;
    return c->outbound == self_lower;
}

static void p2p_up(p2p_conn_t *c)
{
    kumo_p2p_t *p2p = c->p2p;
    p2p_conn_t *old = p2p_find_up(p2p, c->id);
    c->state = P2P_UP;
    (void)event_del(c->timer);
    for (uint32_t i = 0; i < p2p->persistent_count; i++) {
        p2p_persistent_t *pp = &p2p->persistent[i];
        if (memcmp(pp->addr.id, c->id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            pp->backoff_ms = 0;
            pp->dialing = false;
        }
    }
    if (old != NULL) {
        /* Keep one, silently (the peer stays up for the app): when both sides dialed, the one
         * dialed by the lower id (both sides pick the same); two in the same direction (the
         * peer restarted, the old link may be stale), the newer. */
        p2p_conn_t *loser = old->outbound == c->outbound || p2p_keeps(p2p, c) ? old : c;
        loser->state = P2P_HELLO;
        p2p_drop(loser, "duplicate connection", false);
        if (loser == old) {
            /* A new connection does not wipe the score of the one it replaces. */
            c->penalty = old->penalty > c->penalty ? old->penalty : c->penalty;
            p2p_score_restore(c);
        }
        if (loser == old && c->cls == P2P_STRANGER) {
            /* The same stranger again: its usefulness clock goes on, it does not start over. */
            c->useful_ms = old->useful_ms;
            p2p_useful_check(c);
        }
        return;
    }
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(c->id, hex);
    KUMO_LOG_AT(p2p_conn_is_loud(c) ? KUMO_LOG_LEVEL_INFO : KUMO_LOG_LEVEL_DEBUG, "p2p", "peer_up",
                "id=%s outbound=%d", hex, c->outbound);
    p2p_slot_up(c);
    if (p2p->cb.peer_up != NULL) {
        p2p->cb.peer_up(p2p->cb.ctx, c->id, c->pubkey);
    }
}

static void p2p_hello_recv(p2p_conn_t *c, kumo_bytes_t payload)
{
    kumo_p2p_hello_t h;
    kumo_err_ctx_t err = {0};
    /* The key is known by now: a bad HELLO is that peer's protocol violation. */
    if (kumo_p2p_hello_decode(payload, &h, &err) < 0) {
        p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, err.detail);
    } else if (h.version != KUMO_P2P_PROTOCOL_VERSION) {
        p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, "protocol version");
    } else if (strcmp(h.chain_id, c->p2p->chain_id) != 0) {
        p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, "other chain");
    } else if (memcmp(h.id, c->id, KUMO_TLS_NODE_ID_BYTES) != 0) {
        p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, "hello id is not the certificate's");
    } else {
        p2p_up(c);
    }
}

/* One whole frame is at the head of the input. */
static void p2p_frame_recv(p2p_conn_t *c, uint8_t channel, size_t len)
{
    kumo_p2p_t *p2p = c->p2p;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    (void)evbuffer_drain(in, KUMO_P2P_FRAME_HEADER);
    const uint8_t *data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
    if (len > 0 && data == NULL) {
        p2p_drop(c, "out of memory", false);
        return;
    }
    p2p->stats.frames_in++;
    p2p->stats.bytes_in += len + KUMO_P2P_FRAME_HEADER;
    kumo_bytes_t payload = kumo_bytes_make(data, len);
    if (channel == KUMO_P2P_CH_HELLO) {
        p2p_hello_recv(c, payload); /* p2p_read_cb let it through only as the first frame */
    } else if (p2p->cb.on_msg != NULL) {
        p2p->cb.on_msg(p2p->cb.ctx, c->id, channel, payload);
    }
    if (!c->closing) {
        (void)evbuffer_drain(in, len);
    }
}

static void p2p_read_cb(struct bufferevent *bev, void *arg)
{
    p2p_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (!c->closing && c->state != P2P_TLS && evbuffer_get_length(in) >= KUMO_P2P_FRAME_HEADER) {
        uint8_t hdr[KUMO_P2P_FRAME_HEADER];
        (void)evbuffer_copyout(in, hdr, sizeof(hdr));
        uint8_t channel = 0;
        size_t len = 0;
        kumo_err_ctx_t err = {0};
        if (kumo_p2p_frame_header_check(hdr, &channel, &len, &err) < 0) {
            p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, err.detail);
            return;
        }
        bool hello = channel == KUMO_P2P_CH_HELLO;
        if (hello != (c->state == P2P_HELLO)) { /* checked before buffering the payload */
            p2p_penalty_add(c, KUMO_P2P_SCORE_BAN, hello ? "second hello" : "frame before hello");
            return;
        }
        if (evbuffer_get_length(in) < KUMO_P2P_FRAME_HEADER + len) {
            return; /* the rest comes later */
        }
        p2p_frame_recv(c, channel, len);
    }
}

/* TLS is up: learn the peer's key, check a dialed peer's pinned id, send our HELLO. */
static void p2p_tls_done(p2p_conn_t *c)
{
    kumo_err_ctx_t err = {0};
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    if (kumo_tls_peer_pubkey(ssl, c->pubkey, &err) < 0) {
        p2p_drop(c, err.detail, true);
        return;
    }
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(c->pubkey, id);
    if (c->outbound && memcmp(id, c->id, sizeof(id)) != 0) {
        p2p_drop(c, "peer key does not match the pinned id", true);
        return;
    }
    if (memcmp(id, c->p2p->self_id, sizeof(id)) == 0) {
        p2p_drop(c, "connected to self", false);
        return;
    }
    memcpy(c->id, id, sizeof(id));
    if (!c->outbound && !p2p_inbound_identified(c)) {
        return; /* refused (banned, or over the caps on strangers) */
    }
    c->state = P2P_HELLO;
    int fd = (int)bufferevent_getfd(c->bev);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    p2p_hello_send(c);
    p2p_read_cb(c->bev, c); /* a HELLO may already be buffered */
}

static void p2p_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    p2p_conn_t *c = arg;
    if (c->closing) {
        return;
    }
    if ((what & BEV_EVENT_CONNECTED) != 0) {
        p2p_tls_done(c);
        return;
    }
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0) {
        p2p_drop(c, (what & BEV_EVENT_EOF) != 0 ? "closed by peer" : "connection error",
                 c->state == P2P_TLS && !c->outbound);
    }
}

static void p2p_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    p2p_conn_t *c = arg;
    if (c->closing) {
        return;
    }
    if (c->state != P2P_UP) {
        p2p_drop(c, "handshake timeout", true);
        return;
    }
    p2p_useful_check(c);
}

void p2p_timer_arm(p2p_conn_t *c, uint64_t ms)
{
    KUMO_ASSERT(c->timer != NULL);
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
    (void)event_add(c->timer, &tv);
}

/* ---- connections: accept and dial ---- */

p2p_conn_t *p2p_conn_new(kumo_p2p_t *p2p, evutil_socket_t fd, bool outbound)
{
    KUMO_ASSERT(fd >= 0);
    p2p_conn_t *c = kumo_calloc(1, sizeof(*c));
    SSL *ssl = c != NULL ? SSL_new(outbound ? p2p->client_ctx : p2p->server_ctx) : NULL;
    if (ssl == NULL) {
        kumo_free(c);
        evutil_closesocket(fd);
        return NULL;
    }
    c->p2p = p2p;
    c->outbound = outbound;
    c->persistent = -1;
    c->cls = outbound ? P2P_PERSISTENT : P2P_PENDING;
    c->since_ms = p2p_now_ms();
    c->bev = bufferevent_openssl_socket_new(
        p2p->base, fd, ssl, outbound ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    c->timer = evtimer_new(p2p->base, p2p_timeout_cb, c);
    if (c->bev == NULL || c->timer == NULL || !p2p_slot_add(p2p, c)) {
        if (c->bev == NULL) {
            SSL_free(ssl);
            evutil_closesocket(fd);
        }
        p2p_conn_free(c); /* a bev closes fd and frees ssl */
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, p2p_read_cb, NULL, p2p_event_cb, c);
    p2p_timer_arm(c, p2p->cfg.handshake_timeout_ms);
    (void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

/* A non-blocking TCP socket connecting to sa (from the configured source host, if any); -1 if
 * the connect failed at once. */
static evutil_socket_t
p2p_socket_connect(kumo_p2p_t *p2p, const struct sockaddr_storage *sa, socklen_t sa_len)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    bool bound = p2p->dial_source_len == 0 || p2p->dial_source.ss_family != sa->ss_family ||
                 bind(fd, (const struct sockaddr *)&p2p->dial_source, p2p->dial_source_len) == 0;
    if (!bound || (connect(fd, (const struct sockaddr *)sa, sa_len) != 0 && errno != EINPROGRESS)) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

static void p2p_dial(kumo_p2p_t *p2p, int32_t index)
{
    p2p_persistent_t *pp = &p2p->persistent[index];
    if (pp->dialing || p2p_find_up(p2p, pp->addr.id) != NULL) {
        return;
    }
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    kumo_err_ctx_t err = {0};
    evutil_socket_t fd = -1;
    if (p2p_addr_resolve(pp->addr.host_port, &sa, &sa_len, &err) == 0) {
        fd = p2p_socket_connect(p2p, &sa, sa_len);
    }
    /* The TLS handshake starts once the socket is writable, i.e. connected. */
    p2p_conn_t *c = fd >= 0 ? p2p_conn_new(p2p, fd, true) : NULL;
    if (c == NULL) {
        p2p_redial_schedule(p2p, index);
        return;
    }
    memcpy(c->id, pp->addr.id, KUMO_TLS_NODE_ID_BYTES);
    c->host = pp->host;
    c->persistent = index;
    pp->dialing = true;
}

static void p2p_redial_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    const p2p_persistent_t *pp = arg;
    p2p_dial(pp->owner, pp->index);
}

static void p2p_redial_schedule(kumo_p2p_t *p2p, int32_t index)
{
    p2p_persistent_t *pp = &p2p->persistent[index];
    uint32_t base = pp->backoff_ms == 0 ? p2p->cfg.redial_min_ms : pp->backoff_ms;
    uint32_t next = base >= p2p->cfg.redial_max_ms / 2u ? p2p->cfg.redial_max_ms : base * 2u;
    pp->backoff_ms = next;
    uint32_t jitter = randombytes_uniform(base / 4u + 1u);
    uint64_t wait = (uint64_t)base + jitter;
    /* A peer dropped by its score is not redialed before its ban ends. */
    uint64_t now = p2p_now_ms();
    if (pp->ban_until_ms > now + wait) {
        wait = pp->ban_until_ms - now;
    }
    struct timeval tv = {(time_t)(wait / 1000u), (suseconds_t)(wait % 1000u) * 1000};
    (void)event_add(pp->timer, &tv);
}

/* ---- open and close ---- */

static int p2p_tls_setup(kumo_p2p_t *p2p, kumo_err_ctx_t *err)
{
    char cn[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(p2p->self_id, cn);
    kumo_buf_t cert;
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
    int rc = kumo_tls_cert_self_signed(&p2p->key, cn, 3650, &cert, err);
    kumo_tls_ctx_cfg_t tc = {
        .cert_pem = kumo_buf_bytes(&cert), .key = &p2p->key, .peer_check = KUMO_TLS_PEER_PUBKEY};
    tc.server = true;
    rc = rc == 0 ? kumo_tls_ctx_new(&tc, &p2p->server_ctx, err) : rc;
    tc.server = false;
    rc = rc == 0 ? kumo_tls_ctx_new(&tc, &p2p->client_ctx, err) : rc;
    kumo_buf_free(&cert);
    return rc;
}

static void p2p_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_p2p_t *p2p = arg;
    (void)evconnlistener_enable(p2p->listener);
}

static int p2p_listen(kumo_p2p_t *p2p, const char *addr, kumo_err_ctx_t *err)
{
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    KUMO_GUARD(p2p_addr_resolve(addr, &sa, &sa_len, err));
    p2p->relisten = evtimer_new(p2p->base, p2p_relisten_cb, p2p);
    KUMO_ENSURE(p2p->relisten != NULL, err, KUMO_ENOMEM, "relisten timer");
    p2p->listener = evconnlistener_new_bind(p2p->base, p2p_accept_cb, p2p,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
                                            (struct sockaddr *)&sa, (int)sa_len);
    KUMO_ENSURE(p2p->listener != NULL, err, KUMO_EIO, "p2p listen on %s: %s", addr,
                strerror(errno));
    evconnlistener_set_error_cb(p2p->listener, p2p_accept_error_cb);
    sa_len = sizeof(sa);
    KUMO_ENSURE(getsockname((int)evconnlistener_get_fd(p2p->listener), (struct sockaddr *)&sa,
                            &sa_len) == 0,
                err, KUMO_EIO, "getsockname: %s", strerror(errno));
    char host[INET6_ADDRSTRLEN];
    char port[8];
    KUMO_ENSURE(getnameinfo((struct sockaddr *)&sa, sa_len, host, sizeof(host), port, sizeof(port),
                            NI_NUMERICHOST | NI_NUMERICSERV) == 0,
                err, KUMO_EIO, "getnameinfo");
    bool v6 = sa.ss_family == AF_INET6;
    (void)snprintf(p2p->listen_addr, sizeof(p2p->listen_addr), "%s%s%s:%s", v6 ? "[" : "", host,
                   v6 ? "]" : "", port);
    return 0;
}

/* Adds a persistent peer and dials it on the next loop turn (never inside the caller). */
static int
p2p_persistent_add(kumo_p2p_t *p2p, const kumo_p2p_peer_addr_t *addr, kumo_err_ctx_t *err)
{
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(addr->id, hex);
    KUMO_ENSURE(memcmp(addr->id, p2p->self_id, KUMO_TLS_NODE_ID_BYTES) != 0, err, KUMO_EINVAL,
                "persistent peer %s is this node", hex);
    uint32_t n = p2p->persistent_count;
    for (uint32_t i = 0; i < n; i++) {
        KUMO_ENSURE(memcmp(p2p->persistent[i].addr.id, addr->id, KUMO_TLS_NODE_ID_BYTES) != 0, err,
                    KUMO_EEXIST, "persistent peer %s is already known", hex);
    }
    KUMO_ENSURE(n < KUMO_P2P_PERSISTENT_PEER_MAX, err, KUMO_ELIMIT, "over %u persistent peers",
                KUMO_P2P_PERSISTENT_PEER_MAX);
    p2p_persistent_t *pp = &p2p->persistent[n];
    memset(pp, 0, sizeof(*pp));
    pp->owner = p2p;
    pp->index = (int32_t)n;
    pp->addr = *addr;
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    /* Its host lets a banned host's connections still reach TLS (the peer may share it). */
    if (p2p_addr_resolve(addr->host_port, &sa, &sa_len, NULL) == 0) {
        (void)kumo_p2p_host_from_sockaddr((const struct sockaddr *)&sa, sa_len, &pp->host);
    }
    pp->timer = evtimer_new(p2p->base, p2p_redial_cb, pp);
    KUMO_ENSURE(pp->timer != NULL, err, KUMO_ENOMEM, "redial timer");
    p2p->persistent_count = n + 1u;
    struct timeval now = {0, 0};
    (void)event_add(pp->timer, &now);
    return 0;
}

static int p2p_persistent_setup(kumo_p2p_t *p2p, kumo_err_ctx_t *err)
{
    for (uint32_t i = 0; i < p2p->cfg.persistent_count; i++) {
        const kumo_p2p_peer_addr_t *addr = &p2p->cfg.persistent[i];
        if (memcmp(addr->id, p2p->self_id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            continue; /* a shared peer list may name this node too */
        }
        KUMO_GUARD(p2p_persistent_add(p2p, addr, err));
    }
    return 0;
}

static bool p2p_cfg_is_valid(const kumo_p2p_cfg_t *cfg)
{
    return cfg->chain_id != NULL && strlen(cfg->chain_id) <= KUMO_CHAIN_ID_BYTES_MAX &&
           cfg->node_key != NULL && cfg->persistent_count <= KUMO_P2P_PERSISTENT_PEER_MAX &&
           cfg->inbound_count_max <= KUMO_P2P_PEER_COUNT_MAX && cfg->inbound_per_host_max >= 1 &&
           cfg->pending_count_max >= 1 && cfg->pending_count_max <= KUMO_P2P_PENDING_COUNT_MAX &&
           cfg->pending_per_host_max >= 1 && cfg->useful_timeout_ms >= 1 && cfg->ban_ms >= 1 &&
           cfg->summary_interval_ms >= 1 && cfg->redial_min_ms >= 1 &&
           cfg->redial_max_ms >= cfg->redial_min_ms && cfg->handshake_timeout_ms >= 1;
}

/* "host" (numeric) as the source address of our dials. */
static int p2p_dial_source_set(kumo_p2p_t *p2p, const char *host, kumo_err_ctx_t *err)
{
    char host_port[KUMO_P2P_ADDR_BYTES_MAX];
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(host_port, sizeof(host_port), "%s%s%s:0", v6 ? "[" : "", host, v6 ? "]" : "");
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(host_port) && host[0] != '\0', err, KUMO_EINVAL,
                "dial source '%s'", host);
    return p2p_addr_resolve(host_port, &p2p->dial_source, &p2p->dial_source_len, err);
}

static int p2p_open_parts(kumo_p2p_t *p2p, const kumo_p2p_cfg_t *cfg, kumo_err_ctx_t *err)
{
    p2p->reaper = evtimer_new(p2p->base, p2p_reap_cb, p2p);
    p2p->summary = evtimer_new(p2p->base, p2p_summary_cb, p2p);
    KUMO_ENSURE(p2p->reaper != NULL && p2p->summary != NULL, err, KUMO_ENOMEM, "p2p timers");
    if (cfg->dial_source != NULL) {
        KUMO_GUARD(p2p_dial_source_set(p2p, cfg->dial_source, err));
    }
    KUMO_GUARD(p2p_tls_setup(p2p, err));
    if (cfg->listen != NULL) {
        KUMO_GUARD(p2p_listen(p2p, cfg->listen, err));
    }
    return p2p_persistent_setup(p2p, err);
}

int kumo_p2p_open(const kumo_p2p_cfg_t *cfg,
                  struct event_base *base,
                  const kumo_p2p_callbacks_t *cb,
                  kumo_p2p_t **out,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && base != NULL && cb != NULL && out != NULL);
    KUMO_ENSURE(p2p_cfg_is_valid(cfg), err, KUMO_EINVAL, "p2p config out of range");
    kumo_p2p_t *p2p = kumo_calloc(1, sizeof(*p2p));
    KUMO_ENSURE(p2p != NULL, err, KUMO_ENOMEM, "p2p");
    p2p->cfg = *cfg;
    p2p->cfg.chain_id = NULL;
    p2p->cfg.node_key = NULL;
    p2p->cfg.listen = NULL;
    p2p->cfg.dial_source = NULL;
    (void)snprintf(p2p->chain_id, sizeof(p2p->chain_id), "%s", cfg->chain_id);
    p2p->key = *cfg->node_key;
    kumo_tls_node_id(p2p->key.pubkey, p2p->self_id);
    p2p->base = base;
    p2p->cb = *cb;
    p2p->scores.fade_ms =
        cfg->ban_ms / KUMO_P2P_SCORE_BAN > 0 ? cfg->ban_ms / KUMO_P2P_SCORE_BAN : 1u;
    int rc = p2p_open_parts(p2p, cfg, err);
    if (rc < 0) {
        kumo_p2p_close(p2p);
        return rc;
    }
    *out = p2p;
    return 0;
}

void kumo_p2p_close(kumo_p2p_t *p2p)
{
    if (p2p == NULL) {
        return;
    }
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        if (p2p->conns[i] != NULL) {
            p2p_conn_free(p2p->conns[i]);
        }
    }
    p2p_reap_cb(-1, 0, p2p);
    for (uint32_t i = 0; i < KUMO_P2P_PERSISTENT_PEER_MAX; i++) {
        if (p2p->persistent[i].timer != NULL) {
            event_free(p2p->persistent[i].timer);
        }
    }
    if (p2p->listener != NULL) {
        evconnlistener_free(p2p->listener);
    }
    if (p2p->relisten != NULL) {
        event_free(p2p->relisten);
    }
    if (p2p->reaper != NULL) {
        event_free(p2p->reaper);
    }
    if (p2p->summary != NULL) {
        event_free(p2p->summary);
    }
    kumo_tls_ctx_free(p2p->server_ctx);
    kumo_tls_ctx_free(p2p->client_ctx);
    kumo_crypto_key_wipe(&p2p->key);
    kumo_free(p2p);
}

/* ---- API ---- */

const char *kumo_p2p_listen_addr(const kumo_p2p_t *p2p)
{
    return p2p->listen_addr;
}

void kumo_p2p_self_id(const kumo_p2p_t *p2p, uint8_t id_out[KUMO_TLS_NODE_ID_BYTES])
{
    memcpy(id_out, p2p->self_id, KUMO_TLS_NODE_ID_BYTES);
}

int kumo_p2p_send(kumo_p2p_t *p2p,
                  const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                  uint8_t channel,
                  kumo_bytes_t payload,
                  kumo_err_ctx_t *err)
{
    KUMO_ENSURE(channel >= KUMO_P2P_CH_CONSENSUS && channel < KUMO_P2P_CH_COUNT, err, KUMO_EINVAL,
                "channel %u", channel);
    p2p_conn_t *c = p2p_find_up(p2p, id);
    KUMO_ENSURE(c != NULL, err, KUMO_ENOTFOUND, "peer not connected");
    return p2p_frame_queue(c, channel, payload, err);
}

uint32_t kumo_p2p_broadcast(kumo_p2p_t *p2p, uint8_t channel, kumo_bytes_t payload)
{
    if (channel < KUMO_P2P_CH_CONSENSUS || channel >= KUMO_P2P_CH_COUNT) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        p2p_conn_t *c = p2p->conns[i];
        if (c != NULL && c->state == P2P_UP && p2p_frame_queue(c, channel, payload, NULL) == 0) {
            n++;
        }
    }
    return n;
}

int kumo_p2p_dial(kumo_p2p_t *p2p, const kumo_p2p_peer_addr_t *peer, kumo_err_ctx_t *err)
{
    return p2p_persistent_add(p2p, peer, err);
}

void kumo_p2p_stats_get(const kumo_p2p_t *p2p, kumo_p2p_stats_t *out)
{
    *out = p2p->stats;
    out->peers = 0;
    out->pending = 0;
    out->strangers = 0;
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        const p2p_conn_t *c = p2p->conns[i];
        out->peers += c != NULL && c->state == P2P_UP ? 1u : 0u;
        out->pending += c != NULL && c->state != P2P_UP ? 1u : 0u;
        out->strangers += c != NULL && c->cls == P2P_STRANGER ? 1u : 0u;
    }
}

uint32_t kumo_p2p_peers(const kumo_p2p_t *p2p, uint8_t (*ids)[KUMO_TLS_NODE_ID_BYTES], uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < P2P_CONN_MAX && n < cap; i++) {
        const p2p_conn_t *c = p2p->conns[i];
        if (c != NULL && c->state == P2P_UP) {
            memcpy(ids[n++], c->id, KUMO_TLS_NODE_ID_BYTES);
        }
    }
    return n;
}
