/*
 * tunnel_server.c - the destination provider's side of the tunnels (overlay.h
 * kumo_overlay_tunnel_server_*): one listening address for every tunnel; the client names
 * the tunnel it wants in SNI (an opaque tag, not the names), the server answers with that
 * tunnel's certificate, then verifies the client's certificate against the root pinned for
 * the provider the allowed entry expects, compares the names, and asks the accept callback.
 *
 * Handshakes are bounded (a flood of connections that never finish must not stop others): at
 * most handshake_per_source_max in progress per source address and handshake_max in all;
 * when all are taken, a newcomer from a source holding fewer evicts the oldest handshake of
 * the source holding the most, so one address (or a few) cannot hold every slot. Each is
 * also bounded in time (handshake_timeout_ms).
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

#include "crypto/crypto.h"
#include "log/log.h"
#include "tls/tls.h"

typedef struct srv_allow {
    kumo_overlay_tunnel_id_t peer;
    char tag[TN_TAG_BYTES];
    kumo_buf_t root_pem;   /* to tell a changed root */
    kumo_tls_root_t *root; /* root_pem parsed */
    kumo_tls_cred_t *cred; /* our certificate and key for this tunnel */
} srv_allow_t;

struct kumo_overlay_tunnel_server {
    struct event_base *base;
    struct evconnlistener *listener;
    void *ssl_ctx;
    kumo_overlay_tunnel_server_cfg_t cfg;
    uint16_t port;
    srv_allow_t *allow;
    uint32_t allow_count;
    tn_tunnel_t *tunnels; /* handshakes and tunnels up, newest first */
    tn_tunnel_t **hs;     /* the handshakes in progress, oldest first (handshake_max) */
    uint32_t hs_count;
    kumo_overlay_tunnel_stats_t stats;
};

static const srv_allow_t *srv_allow_by_tag(const kumo_overlay_tunnel_server_t *s, const char *tag)
{
    for (uint32_t i = 0; tag != NULL && i < s->allow_count; i++) {
        if (strcmp(s->allow[i].tag, tag) == 0) {
            return &s->allow[i];
        }
    }
    return NULL;
}

static const srv_allow_t *srv_allow_by_peer(const kumo_overlay_tunnel_server_t *s,
                                            const kumo_overlay_tunnel_id_t *peer)
{
    for (uint32_t i = 0; i < s->allow_count; i++) {
        if (kumo_overlay_tunnel_id_equal(&s->allow[i].peer, peer)) {
            return &s->allow[i];
        }
    }
    return NULL;
}

/* ---- per-connection certificate (by SNI) ---- */

static int srv_cert_cb(SSL *ssl, void *arg)
{
    kumo_overlay_tunnel_server_t *s = arg;
    const srv_allow_t *a = srv_allow_by_tag(s, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    if (a == NULL) {
        return 0; /* no such tunnel here: the handshake fails */
    }
    return kumo_tls_ssl_cred_use(ssl, a->cred, NULL) == 0 ? 1 : 0;
}

/* ---- tunnel turns ---- */

/* Takes t off the handshakes in progress (if it is there), keeping their order. */
static void srv_hs_remove(kumo_overlay_tunnel_server_t *s, const tn_tunnel_t *t)
{
    for (uint32_t i = 0; i < s->hs_count; i++) {
        if (s->hs[i] == t) {
            memmove(&s->hs[i], &s->hs[i + 1u], (s->hs_count - i - 1u) * sizeof(s->hs[0]));
            s->hs_count--;
            return;
        }
    }
}

static int srv_up(tn_tunnel_t *t, kumo_err_ctx_t *err)
{
    kumo_overlay_tunnel_server_t *s = t->owner;
    srv_hs_remove(s, t);
    SSL *ssl = bufferevent_openssl_get_ssl(t->bev);
    const srv_allow_t *a = srv_allow_by_tag(s, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    KUMO_ENSURE(a != NULL, err, KUMO_EUNAUTH, "the tunnel asked for is no longer allowed");
    KUMO_GUARD(tn_peer_check(t, a->root, &a->peer, err));
    KUMO_ENSURE(s->stats.tunnels < s->cfg.tunnel_max, err, KUMO_ELIMIT, "%u tunnels up",
                s->stats.tunnels);
    memset(&t->targets, 0, sizeof(t->targets));
    KUMO_ENSURE(s->cfg.accept_cb(s->cfg.accept_ctx, &t->peer, &t->targets), err, KUMO_EUNAUTH,
                "the tunnel is not allowed now");
    KUMO_ASSERT(t->targets.count <= KUMO_OVERLAY_TUNNEL_TARGET_MAX);
    KUMO_LOG_INFO("overlay", "tunnel_up", "side=server owner=%s dseq=%llu src=%s dst=%s peer=%s",
                  t->peer.owner, (unsigned long long)t->peer.dseq, t->peer.src, t->peer.dst,
                  t->peer.provider);
    return 0;
}

static void srv_closed(tn_tunnel_t *t, const char *why)
{
    kumo_overlay_tunnel_server_t *s = t->owner;
    srv_hs_remove(s, t);
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        s->tunnels = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    t->prev = NULL;
    t->next = NULL;
    KUMO_LOG_DEBUG("overlay", "tunnel_closed", "side=server why=\"%s\"", why);
}

static const tn_ops_t srv_ops = {.up = srv_up, .closed = srv_closed};

/* ---- accepting ---- */

static bool srv_same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static uint32_t srv_handshakes_from(const kumo_overlay_tunnel_server_t *s,
                                    const struct sockaddr_storage *src)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->hs_count; i++) {
        n += srv_same_source(&s->hs[i]->source, src) ? 1u : 0u;
    }
    return n;
}

/* All handshake slots are taken: evicts the oldest handshake of the source holding the most,
 * if it holds more than the newcomer's source (mine). Returns whether a slot is free now. */
static bool srv_evict(kumo_overlay_tunnel_server_t *s, uint32_t mine)
{
    tn_tunnel_t *victim = NULL;
    uint32_t most = 0;
    for (uint32_t i = 0; i < s->hs_count; i++) {
        uint32_t n = srv_handshakes_from(s, &s->hs[i]->source);
        if (n > most) { /* oldest first: the first of the source holding the most */
            most = n;
            victim = s->hs[i];
        }
    }
    if (victim == NULL || most <= mine + 1u) {
        return false;
    }
    s->stats.capped++;
    tn_tunnel_close(victim, "handshake evicted");
    return true;
}

/* Whether a new connection from src may start a handshake now. */
static bool srv_admit(kumo_overlay_tunnel_server_t *s, const struct sockaddr_storage *src)
{
    uint32_t mine = srv_handshakes_from(s, src);
    if (mine >= s->cfg.handshake_per_source_max) {
        return false;
    }
    KUMO_ASSERT(s->hs_count == s->stats.handshakes);
    if (s->hs_count < s->cfg.handshake_max) {
        return true;
    }
    return srv_evict(s, mine);
}

static void srv_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int sa_len, void *arg)
{
    (void)l;
    kumo_overlay_tunnel_server_t *s = arg;
    struct sockaddr_storage src = {0};
    memcpy(&src, sa, (size_t)sa_len < sizeof(src) ? (size_t)sa_len : sizeof(src));
    if (!srv_admit(s, &src) ||
        s->stats.tunnels + s->stats.handshakes >= s->cfg.tunnel_max + s->cfg.handshake_max) {
        s->stats.capped++;
        (void)close(fd);
        return;
    }
    SSL *ssl = SSL_new(s->ssl_ctx);
    struct bufferevent *bev =
        ssl != NULL
            ? bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (bev == NULL) {
        SSL_free(ssl);
        (void)close(fd);
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    tn_tunnel_t *t = tn_tunnel_new(s->base, bev, &srv_ops, s, true, s->cfg.stream_max,
                                   s->cfg.handshake_timeout_ms, s->cfg.keepalive_ms, &s->stats);
    if (t == NULL) {
        return;
    }
    t->source = src;
    KUMO_ASSERT(s->hs_count < s->cfg.handshake_max);
    s->hs[s->hs_count++] = t;
    t->next = s->tunnels;
    if (s->tunnels != NULL) {
        s->tunnels->prev = t;
    }
    s->tunnels = t;
}

/* ---- lifecycle ---- */

static int srv_cfg_fill(kumo_overlay_tunnel_server_cfg_t *c, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(c->listen != NULL && c->accept_cb != NULL, err, KUMO_EINVAL,
                "a tunnel server needs an address and an accept callback");
    c->tunnel_max = c->tunnel_max != 0 ? c->tunnel_max : KUMO_OVERLAY_TUNNEL_TUNNEL_DEFAULT;
    c->stream_max = c->stream_max != 0 ? c->stream_max : KUMO_OVERLAY_TUNNEL_STREAM_DEFAULT;
    c->handshake_max =
        c->handshake_max != 0 ? c->handshake_max : KUMO_OVERLAY_TUNNEL_HANDSHAKE_DEFAULT;
    c->handshake_per_source_max = c->handshake_per_source_max != 0
                                      ? c->handshake_per_source_max
                                      : KUMO_OVERLAY_TUNNEL_HANDSHAKE_PER_SOURCE_DEFAULT;
    c->handshake_timeout_ms = c->handshake_timeout_ms != 0
                                  ? c->handshake_timeout_ms
                                  : KUMO_OVERLAY_TUNNEL_HANDSHAKE_MS_DEFAULT;
    c->keepalive_ms =
        c->keepalive_ms != 0 ? c->keepalive_ms : KUMO_OVERLAY_TUNNEL_KEEPALIVE_MS_DEFAULT;
    KUMO_ENSURE(c->stream_max <= KUMO_OVERLAY_TUNNEL_STREAM_MAX, err, KUMO_ELIMIT,
                "stream_max %u over %u", c->stream_max, KUMO_OVERLAY_TUNNEL_STREAM_MAX);
    KUMO_ENSURE(c->tunnel_max <= KUMO_OVERLAY_TUNNEL_TUNNEL_MAX &&
                    c->handshake_max <= KUMO_OVERLAY_TUNNEL_HANDSHAKE_MAX,
                err, KUMO_ELIMIT, "tunnel_max over %u or handshake_max over %u",
                KUMO_OVERLAY_TUNNEL_TUNNEL_MAX, KUMO_OVERLAY_TUNNEL_HANDSHAKE_MAX);
    return 0;
}

static int srv_listen(kumo_overlay_tunnel_server_t *s, kumo_err_ctx_t *err)
{
    struct sockaddr_storage sa;
    socklen_t len = 0;
    KUMO_GUARD(tn_addr_parse(s->cfg.listen, &sa, &len, err));
    s->listener =
        evconnlistener_new_bind(s->base, srv_accept_cb, s,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                512, (struct sockaddr *)&sa, (int)len);
    KUMO_ENSURE(s->listener != NULL, err, KUMO_EIO, "listen on %s: %s", s->cfg.listen,
                strerror(errno));
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    int fd = (int)evconnlistener_get_fd(s->listener);
    KUMO_ENSURE(getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0, err, KUMO_EIO,
                "getsockname: %s", strerror(errno));
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return 0;
}

int kumo_overlay_tunnel_server_open(struct event_base *base,
                                    const kumo_overlay_tunnel_server_cfg_t *cfg,
                                    kumo_overlay_tunnel_server_t **out,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(base != NULL && cfg != NULL && out != NULL);
    kumo_overlay_tunnel_server_cfg_t c = *cfg;
    KUMO_GUARD(srv_cfg_fill(&c, err));
    kumo_overlay_tunnel_server_t *s = kumo_calloc(1, sizeof(*s));
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "tunnel server");
    s->base = base;
    s->cfg = c;
    s->hs = kumo_calloc(c.handshake_max, sizeof(*s->hs));
    if (s->hs == NULL) {
        kumo_free(s);
        return kumo_err_set(err, KUMO_ENOMEM, "handshake table");
    }
    kumo_tls_ctx_cfg_t tc = {
        .server = true, .peer_check = KUMO_TLS_PEER_PUBKEY, .cert_per_connection = true};
    int rc = kumo_tls_ctx_new(&tc, &s->ssl_ctx, err);
    if (rc == 0) {
        SSL_CTX_set_cert_cb(s->ssl_ctx, srv_cert_cb, s);
        rc = srv_listen(s, err);
    }
    if (rc < 0) {
        kumo_overlay_tunnel_server_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint16_t kumo_overlay_tunnel_server_port(const kumo_overlay_tunnel_server_t *s)
{
    return s->port;
}

static void srv_allow_free(srv_allow_t *a, uint32_t count)
{
    for (uint32_t i = 0; a != NULL && i < count; i++) {
        kumo_buf_free(&a[i].root_pem);
        kumo_tls_root_free(a[i].root);
        kumo_tls_cred_free(a[i].cred);
    }
    kumo_free(a);
}

static int srv_allow_copy(const kumo_overlay_tunnel_allow_t *e, srv_allow_t *a, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(kumo_overlay_tunnel_id_is_valid(&e->peer) && e->key != NULL, err, KUMO_EINVAL,
                "allowed tunnel with an invalid identity or no key");
    a->peer = e->peer;
    tn_tag(&e->peer, a->tag);
    kumo_buf_init(&a->root_pem, KUMO_TLS_PEM_BYTES_MAX);
    KUMO_GUARD(kumo_buf_append(&a->root_pem, e->peer_root_pem.ptr, e->peer_root_pem.len));
    KUMO_GUARD(kumo_tls_root_new(e->peer_root_pem, &a->root, err));
    KUMO_GUARD(kumo_tls_cred_new(e->cert_pem, e->key, &a->cred, err));
    return 0;
}

/* Re-judges one tunnel up against the new set: gone or changed closes it, else the callback
 * decides again. Returns whether it stays. */
static bool srv_rejudge(kumo_overlay_tunnel_server_t *s,
                        tn_tunnel_t *t,
                        const srv_allow_t *before,
                        uint32_t before_count)
{
    const srv_allow_t *now = srv_allow_by_peer(s, &t->peer);
    const srv_allow_t *old = NULL;
    for (uint32_t i = 0; i < before_count && old == NULL; i++) {
        old = kumo_overlay_tunnel_id_equal(&before[i].peer, &t->peer) ? &before[i] : NULL;
    }
    if (now == NULL || old == NULL ||
        !kumo_bytes_equal(kumo_buf_bytes(&now->root_pem), kumo_buf_bytes(&old->root_pem))) {
        return false;
    }
    kumo_overlay_tunnel_targets_t targets = {0};
    if (!s->cfg.accept_cb(s->cfg.accept_ctx, &t->peer, &targets)) {
        return false;
    }
    t->targets = targets;
    return true;
}

int kumo_overlay_tunnel_server_allow_set(kumo_overlay_tunnel_server_t *s,
                                         const kumo_overlay_tunnel_allow_t *entries,
                                         uint32_t count,
                                         kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count <= s->cfg.tunnel_max, err, KUMO_ELIMIT, "%u allowed tunnels (max %u)", count,
                s->cfg.tunnel_max);
    srv_allow_t *a = count > 0 ? kumo_calloc(count, sizeof(*a)) : NULL;
    KUMO_ENSURE(count == 0 || a != NULL, err, KUMO_ENOMEM, "allowed tunnels");
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        rc = srv_allow_copy(&entries[i], &a[i], err);
        for (uint32_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(a[j].tag, a[i].tag) == 0) {
                rc = kumo_err_set(err, KUMO_EDUPLICATE, "tunnel %s/%s allowed twice",
                                  entries[i].peer.src, entries[i].peer.dst);
            }
        }
    }
    if (rc < 0) {
        srv_allow_free(a, count);
        return rc;
    }
    srv_allow_t *before = s->allow;
    uint32_t before_count = s->allow_count;
    s->allow = a;
    s->allow_count = count;
    for (tn_tunnel_t *t = s->tunnels, *next = NULL; t != NULL; t = next) {
        next = t->next;
        if (t->state == TN_UP && !srv_rejudge(s, t, before, before_count)) {
            s->stats.revoked++;
            tn_tunnel_close(t, "no longer allowed");
        }
    }
    srv_allow_free(before, before_count);
    return 0;
}

uint32_t kumo_overlay_tunnel_server_revoke(kumo_overlay_tunnel_server_t *s,
                                           const kumo_overlay_tunnel_id_t *peer)
{
    uint32_t n = 0;
    for (tn_tunnel_t *t = s->tunnels, *next = NULL; t != NULL; t = next) {
        next = t->next;
        if (t->state == TN_UP && kumo_overlay_tunnel_id_equal(&t->peer, peer)) {
            s->stats.revoked++;
            n++;
            tn_tunnel_close(t, "revoked");
        }
    }
    return n;
}

void kumo_overlay_tunnel_server_stats(const kumo_overlay_tunnel_server_t *s,
                                      kumo_overlay_tunnel_stats_t *out)
{
    *out = s->stats;
}

void kumo_overlay_tunnel_server_close(kumo_overlay_tunnel_server_t *s)
{
    if (s == NULL) {
        return;
    }
    while (s->tunnels != NULL) {
        tn_tunnel_close(s->tunnels, "server closed");
    }
    if (s->listener != NULL) {
        evconnlistener_free(s->listener);
    }
    KUMO_ASSERT(s->hs_count == 0);
    kumo_tls_ctx_free(s->ssl_ctx);
    srv_allow_free(s->allow, s->allow_count);
    kumo_free(s->hs);
    kumo_free(s);
}
