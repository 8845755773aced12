/*
 * tunnel_client.c - the source provider's side of one tunnel (overlay.h
 * kumo_overlay_tunnel_client_*): dials the destination provider's tunnel server, asks for the
 * tunnel by its SNI tag, presents this tunnel's certificate, verifies the server's against
 * the root pinned for the destination provider and the names against the tunnel expected,
 * and carries the connections accepted on its local listeners as streams. When the tunnel
 * drops it dials again after a backoff (doubling from KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN to
 * ..._MAX, back to the minimum once a tunnel came up).
 *
 * A connection accepted while the tunnel is down waits for it (at most CLI_PENDING_MAX of them,
 * each at most CLI_PENDING_HOLD_MS) and asks for a dial now instead of at the end of the
 * backoff (at most one dial per KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN): a peer that restarted is
 * used again as soon as it answers and someone needs it, while an idle tunnel to a peer that
 * is gone is still dialled with the backoff only.
 */
#include "overlay/tunnel_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "log/log.h"
#include "tls/tls.h"

typedef struct cli_listener {
    kumo_overlay_tunnel_client_t *c;
    struct evconnlistener *l;
    uint16_t port;
} cli_listener_t;

/* Connections waiting for the tunnel to come up. */
#define CLI_PENDING_MAX     64u
#define CLI_PENDING_HOLD_MS 3000u
#define CLI_PENDING_TICK_MS 100u

typedef struct cli_pending {
    int fd;
    uint16_t port;
    uint64_t since_ms;
} cli_pending_t;

struct kumo_overlay_tunnel_client {
    struct event_base *base;
    kumo_overlay_tunnel_client_cfg_t cfg;
    char tag[TN_TAG_BYTES];
    struct sockaddr_storage peer_sa;
    socklen_t peer_sa_len;
    kumo_tls_root_t *root; /* the peer's provider's, pinned */
    void *ssl_ctx;
    cli_listener_t listeners[KUMO_OVERLAY_TUNNEL_PORT_MAX];
    uint32_t listener_count;
    struct event *redial;
    uint32_t backoff_ms;
    uint64_t dial_ms;    /* when the last dial started */
    struct event *flush; /* hands the pending connections to the tunnel, or times them out */
    cli_pending_t pending[CLI_PENDING_MAX];
    uint32_t pending_count;
    tn_tunnel_t *tunnel; /* in handshake or up; NULL while waiting to dial */
    kumo_overlay_tunnel_stats_t stats;
};

static void cli_redial_arm(kumo_overlay_tunnel_client_t *c)
{
    struct timeval tv = {(time_t)(c->backoff_ms / 1000u),
                         (suseconds_t)(c->backoff_ms % 1000u) * 1000};
    (void)event_add(c->redial, &tv);
    c->backoff_ms = c->backoff_ms < KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MAX / 2u
                        ? c->backoff_ms * 2u
                        : KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MAX;
}

static int cli_up(tn_tunnel_t *t, kumo_err_ctx_t *err)
{
    kumo_overlay_tunnel_client_t *c = t->owner;
    KUMO_GUARD(tn_peer_check(t, c->root, &c->cfg.peer, err));
    c->backoff_ms = KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN;
    if (c->pending_count > 0) { /* the tunnel is up once this returns */
        struct timeval now = {0, 0};
        (void)event_add(c->flush, &now);
    }
    KUMO_LOG_INFO("overlay", "tunnel_up", "side=client owner=%s dseq=%llu src=%s dst=%s peer=%s",
                  t->peer.owner, (unsigned long long)t->peer.dseq, t->peer.src, t->peer.dst,
                  t->peer.provider);
    return 0;
}

static void cli_closed(tn_tunnel_t *t, const char *why)
{
    kumo_overlay_tunnel_client_t *c = t->owner;
    KUMO_ASSERT(c->tunnel == t);
    c->tunnel = NULL;
    KUMO_LOG_DEBUG("overlay", "tunnel_closed", "side=client why=\"%s\" retry_ms=%u", why,
                   c->backoff_ms);
    if (c->redial != NULL) {
        cli_redial_arm(c);
    }
}

static const tn_ops_t cli_ops = {.up = cli_up, .closed = cli_closed};

static void cli_dial(kumo_overlay_tunnel_client_t *c)
{
    KUMO_ASSERT(c->tunnel == NULL);
    c->dial_ms = tn_now_ms();
    SSL *ssl = SSL_new(c->ssl_ctx);
    bool ok = ssl != NULL && SSL_set_tlsext_host_name(ssl, c->tag) == 1;
    /* bufferevent_socket_connect makes the socket. */
    struct bufferevent *bev =
        ok ? bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
           : NULL;
    if (bev == NULL) {
        SSL_free(ssl);
        cli_redial_arm(c);
        return;
    }
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&c->peer_sa, (int)c->peer_sa_len) != 0) {
        bufferevent_free(bev);
        cli_redial_arm(c);
        return;
    }
    int one = 1;
    (void)setsockopt((int)bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->tunnel = tn_tunnel_new(c->base, bev, &cli_ops, c, false, c->cfg.stream_max,
                              c->cfg.handshake_timeout_ms, c->cfg.keepalive_ms, &c->stats);
    if (c->tunnel == NULL) {
        cli_redial_arm(c);
    }
}

static void cli_redial_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_overlay_tunnel_client_t *c = arg;
    if (c->tunnel == NULL) {
        cli_dial(c);
    }
}

static void cli_flush_arm(kumo_overlay_tunnel_client_t *c)
{
    struct timeval tv = {0, (suseconds_t)CLI_PENDING_TICK_MS * 1000};
    (void)event_add(c->flush, &tv);
}

/* Up: the pending connections become streams. Down: those waiting too long are closed, and
 * a dial starts if none is under way and the last one is old enough. */
static void cli_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_overlay_tunnel_client_t *c = arg;
    bool up = kumo_overlay_tunnel_client_is_up(c);
    uint64_t now_ms = tn_now_ms();
    uint32_t kept = 0;
    for (uint32_t i = 0; i < c->pending_count; i++) {
        cli_pending_t *p = &c->pending[i];
        if (up) {
            tn_tunnel_stream_open(c->tunnel, p->fd, p->port);
        } else if (now_ms - p->since_ms >= CLI_PENDING_HOLD_MS) {
            c->stats.capped++;
            (void)close(p->fd);
        } else {
            c->pending[kept++] = *p;
        }
    }
    c->pending_count = kept;
    if (kept == 0) {
        return;
    }
    if (c->tunnel == NULL && now_ms - c->dial_ms >= KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN) {
        (void)event_del(c->redial);
        cli_dial(c); /* someone waits: no backoff */
    }
    cli_flush_arm(c);
}

static void cli_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sa_len, void *arg)
{
    (void)l;
    (void)sa;
    (void)sa_len;
    cli_listener_t *cl = arg;
    kumo_overlay_tunnel_client_t *c = cl->c;
    if (kumo_overlay_tunnel_client_is_up(c) && c->pending_count == 0) {
        tn_tunnel_stream_open(c->tunnel, fd, cl->port);
        return;
    }
    if (c->pending_count == CLI_PENDING_MAX) {
        c->stats.capped++;
        (void)close(fd);
        return;
    }
    c->pending[c->pending_count++] =
        (cli_pending_t){.fd = fd, .port = cl->port, .since_ms = tn_now_ms()};
    cli_flush_cb(-1, 0, c);
}

static int cli_cfg_check(const kumo_overlay_tunnel_client_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(cfg->peer_address != NULL && cfg->key != NULL, err, KUMO_EINVAL,
                "a tunnel client needs the peer's address and a key");
    KUMO_ENSURE(kumo_overlay_tunnel_id_is_valid(&cfg->peer), err, KUMO_EINVAL,
                "the expected peer identity is invalid");
    KUMO_ENSURE(cfg->listener_count <= KUMO_OVERLAY_TUNNEL_PORT_MAX, err, KUMO_ELIMIT,
                "%u listeners (max %u)", cfg->listener_count, KUMO_OVERLAY_TUNNEL_PORT_MAX);
    KUMO_ENSURE(cfg->stream_max <= KUMO_OVERLAY_TUNNEL_STREAM_MAX, err, KUMO_ELIMIT,
                "stream_max %u over %u", cfg->stream_max, KUMO_OVERLAY_TUNNEL_STREAM_MAX);
    for (uint32_t i = 0; i < cfg->listener_count; i++) {
        KUMO_ENSURE(cfg->listeners[i].fd >= 0 && cfg->listeners[i].port != 0, err, KUMO_EINVAL,
                    "listener %u: bad descriptor or port 0", i);
    }
    return 0;
}

static int cli_setup(kumo_overlay_tunnel_client_t *c, kumo_err_ctx_t *err)
{
    KUMO_GUARD(tn_addr_parse(c->cfg.peer_address, &c->peer_sa, &c->peer_sa_len, err));
    KUMO_GUARD(kumo_tls_root_new(c->cfg.peer_root_pem, &c->root, err));
    kumo_tls_ctx_cfg_t tc = {.server = false,
                             .cert_pem = c->cfg.cert_pem,
                             .key = c->cfg.key,
                             .peer_check = KUMO_TLS_PEER_PUBKEY};
    KUMO_GUARD(kumo_tls_ctx_new(&tc, &c->ssl_ctx, err));
    c->redial = evtimer_new(c->base, cli_redial_cb, c);
    c->flush = evtimer_new(c->base, cli_flush_cb, c);
    KUMO_ENSURE(c->redial != NULL && c->flush != NULL, err, KUMO_ENOMEM, "timer");
    return 0;
}

/* Takes the listeners over (each fd is closed by the client from now on, even on failure). */
static int cli_listeners(kumo_overlay_tunnel_client_t *c, kumo_err_ctx_t *err)
{
    int rc = 0;
    for (uint32_t i = 0; i < c->cfg.listener_count; i++) {
        int fd = c->cfg.listeners[i].fd;
        cli_listener_t *cl = &c->listeners[c->listener_count];
        cl->c = c;
        cl->port = c->cfg.listeners[i].port;
        cl->l = rc == 0 && evutil_make_socket_nonblocking(fd) == 0
                    ? evconnlistener_new(c->base, cli_accept_cb, cl,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)
                    : NULL;
        if (cl->l == NULL) {
            (void)close(fd);
            rc = rc < 0 ? rc : kumo_err_set(err, KUMO_EIO, "listener %u: %s", i, strerror(errno));
            continue;
        }
        c->listener_count++;
    }
    return rc;
}

int kumo_overlay_tunnel_client_open(struct event_base *base,
                                    const kumo_overlay_tunnel_client_cfg_t *cfg,
                                    kumo_overlay_tunnel_client_t **out,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(base != NULL && cfg != NULL && out != NULL);
    kumo_overlay_tunnel_client_t *c = kumo_calloc(1, sizeof(*c));
    int rc = c != NULL ? cli_cfg_check(cfg, err) : KUMO_ENOMEM;
    if (c == NULL || rc < 0) {
        for (uint32_t i = 0; i < cfg->listener_count && i < KUMO_OVERLAY_TUNNEL_PORT_MAX; i++) {
            (void)close(cfg->listeners[i].fd);
        }
        kumo_free(c);
        return rc < 0 ? rc : kumo_err_set(err, KUMO_ENOMEM, "tunnel client");
    }
    c->base = base;
    c->cfg = *cfg;
    c->cfg.stream_max = cfg->stream_max != 0 ? cfg->stream_max : KUMO_OVERLAY_TUNNEL_STREAM_DEFAULT;
    c->cfg.handshake_timeout_ms = cfg->handshake_timeout_ms != 0
                                      ? cfg->handshake_timeout_ms
                                      : KUMO_OVERLAY_TUNNEL_HANDSHAKE_MS_DEFAULT;
    c->cfg.keepalive_ms =
        cfg->keepalive_ms != 0 ? cfg->keepalive_ms : KUMO_OVERLAY_TUNNEL_KEEPALIVE_MS_DEFAULT;
    c->backoff_ms = KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN;
    tn_tag(&cfg->peer, c->tag);
    rc = cli_listeners(c, err);
    rc = rc == 0 ? cli_setup(c, err) : rc;
    /* Parsed into peer_sa, root and ssl_ctx: the caller's strings and key are not kept. */
    c->cfg.peer_address = NULL;
    c->cfg.peer_root_pem = kumo_bytes_make(NULL, 0);
    c->cfg.cert_pem = kumo_bytes_make(NULL, 0);
    c->cfg.key = NULL;
    if (rc < 0) {
        kumo_overlay_tunnel_client_close(c);
        return rc;
    }
    cli_dial(c);
    *out = c;
    return 0;
}

bool kumo_overlay_tunnel_client_is_up(const kumo_overlay_tunnel_client_t *c)
{
    return c->tunnel != NULL && c->tunnel->state == TN_UP;
}

void kumo_overlay_tunnel_client_stats(const kumo_overlay_tunnel_client_t *c,
                                      kumo_overlay_tunnel_stats_t *out)
{
    *out = c->stats;
}

void kumo_overlay_tunnel_client_close(kumo_overlay_tunnel_client_t *c)
{
    if (c == NULL) {
        return;
    }
    if (c->redial != NULL) {
        event_free(c->redial);
        c->redial = NULL; /* no redial after the close below */
    }
    if (c->flush != NULL) {
        event_free(c->flush);
    }
    for (uint32_t i = 0; i < c->pending_count; i++) {
        (void)close(c->pending[i].fd);
    }
    if (c->tunnel != NULL) {
        tn_tunnel_close(c->tunnel, "client closed");
    }
    for (uint32_t i = 0; i < c->listener_count; i++) {
        evconnlistener_free(c->listeners[i].l);
    }
    kumo_tls_ctx_free(c->ssl_ctx);
    kumo_tls_root_free(c->root);
    kumo_free(c);
}
