/*
 * tunnels_loop.c - the tunnels on the API thread's loop (tunnels.c says what they are): the
 * tunnel server, opened before that thread runs, and the clients; every turn of the loop takes
 * the state the last pass handed over and applies it (the server's allow set replaced when it
 * changed, clients no longer wanted closed, new ones opened). Start and stop are here too.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "file/file.h"
#include "log/log.h"
#include "provider/tunnels_int.h"
#include "tls/tls.h"

/* ---- the loop ---- */

static bool pd_tun_accept_cb(void *ctx,
                             const kumo_overlay_tunnel_id_t *peer,
                             kumo_overlay_tunnel_targets_t *targets_out)
{
    pd_tun_t *t = ctx;
    for (uint32_t i = 0; t->applied != NULL && i < t->applied->allow_count; i++) {
        const pd_tun_hand_allow_t *a = &t->applied->allows[i];
        if (kumo_overlay_tunnel_id_equal(&a->peer, peer)) {
            *targets_out = a->targets;
            return true;
        }
    }
    return false;
}

static void pd_tun_server_apply(pd_tun_t *t, const pd_tun_state_t *s)
{
    kumo_overlay_tunnel_allow_t *e =
        s->allow_count > 0 ? kumo_calloc(s->allow_count, sizeof(*e)) : NULL;
    if (s->allow_count > 0 && e == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->allow_count; i++) {
        e[i].peer = s->allows[i].peer;
        e[i].peer_root_pem = kumo_buf_bytes(&s->allows[i].root_pem);
        e[i].cert_pem = kumo_buf_bytes(&s->allows[i].cert_pem);
        e[i].key = &t->key;
    }
    kumo_err_ctx_t err = {0};
    if (kumo_overlay_tunnel_server_allow_set(t->server, e, s->allow_count, &err) != 0) {
        KUMO_LOG_WARN("provider", "tunnel_allow_failed", "code=%s detail=\"%s\"",
                      kumo_err_name(err.code), err.detail);
    }
    kumo_free(e);
}

/* Closes the clients no longer wanted, opens the new ones (taking their listeners). */
static void pd_tun_clients_apply(pd_tun_t *t, pd_tun_state_t *s)
{
    for (uint32_t i = 0; i < t->live_count;) {
        bool kept = false;
        for (uint32_t k = 0; k < s->client_count && !kept; k++) {
            kept = s->clients[k].id == t->live[i].id;
        }
        if (kept) {
            i++;
            continue;
        }
        kumo_overlay_tunnel_client_close(t->live[i].c);
        t->live[i] = t->live[--t->live_count];
    }
    for (uint32_t k = 0; k < s->client_count; k++) {
        pd_tun_hand_client_t *h = &s->clients[k];
        bool live = false;
        for (uint32_t i = 0; i < t->live_count && !live; i++) {
            live = t->live[i].id == h->id;
        }
        if (live || t->live_count >= PD_TUN_CLIENT_MAX) {
            continue; /* its listener duplicates are closed with the state */
        }
        h->cfg.peer_address = h->address;
        h->cfg.peer_root_pem = kumo_buf_bytes(&h->root_pem);
        h->cfg.cert_pem = kumo_buf_bytes(&h->cert_pem);
        h->cfg.key = &t->key;
        kumo_overlay_tunnel_client_t *c = NULL;
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_tunnel_client_open(t->server_base, &h->cfg, &c, &err);
        h->cfg.listener_count = 0; /* the client owns (or closed) them now */
        if (rc != 0) {
            KUMO_LOG_WARN("provider", "tunnel_client_failed", "to=%s dst=%s detail=\"%s\"",
                          h->address, h->cfg.peer.dst, err.detail);
            continue;
        }
        t->live[t->live_count++] = (pd_tun_live_t){.id = h->id, .c = c};
    }
}

/* Whether two states allow the same tunnels with the same roots, certificates and targets. */
static bool pd_tun_allows_same(const pd_tun_state_t *a, const pd_tun_state_t *b)
{
    if (a == NULL || a->allow_count != b->allow_count) {
        return false;
    }
    for (uint32_t i = 0; i < a->allow_count; i++) {
        const pd_tun_hand_allow_t *x = &a->allows[i];
        const pd_tun_hand_allow_t *y = &b->allows[i];
        if (!kumo_overlay_tunnel_id_equal(&x->peer, &y->peer) ||
            !kumo_bytes_equal(kumo_buf_bytes(&x->root_pem), kumo_buf_bytes(&y->root_pem)) ||
            !kumo_bytes_equal(kumo_buf_bytes(&x->cert_pem), kumo_buf_bytes(&y->cert_pem)) ||
            memcmp(&x->targets, &y->targets, sizeof(x->targets)) != 0) {
            return false;
        }
    }
    return true;
}

void pd_tun_loop_turn(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    KUMO_ASSERT(pthread_mutex_lock(&t->mu) == 0);
    pd_tun_state_t *s = t->pending;
    t->pending = NULL;
    KUMO_ASSERT(pthread_mutex_unlock(&t->mu) == 0);
    if (s == NULL) {
        return;
    }
    pd_tun_state_t *before = t->applied;
    t->applied = s; /* the callback answers from the new state while the set is replaced */
    if (t->server != NULL && !pd_tun_allows_same(before, s)) {
        pd_tun_server_apply(t, s); /* parses every certificate: only when something changed */
    }
    pd_tun_clients_apply(t, s);
    pd_tun_state_free(before);
}

void pd_tun_stats(kumo_provider_daemon_t *d,
                  kumo_overlay_tunnel_stats_t *server,
                  kumo_overlay_tunnel_stats_t *clients)
{
    memset(server, 0, sizeof(*server));
    memset(clients, 0, sizeof(*clients));
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    if (t->server != NULL) {
        kumo_overlay_tunnel_server_stats(t->server, server);
    }
    for (uint32_t i = 0; i < t->live_count; i++) {
        kumo_overlay_tunnel_stats_t one;
        kumo_overlay_tunnel_client_stats(t->live[i].c, &one);
        clients->tunnels += one.tunnels;
        clients->streams += one.streams;
        clients->tunnels_opened += one.tunnels_opened;
        clients->refused += one.refused;
        clients->streams_opened += one.streams_opened;
    }
}

/* ---- start and stop ---- */

/* The root key and certificate from the home (the root registered on chain). */
static int pd_tun_root_load(kumo_provider_daemon_t *d, pd_tun_t *t, kumo_err_ctx_t *err)
{
    char path[PD_PATH_BYTES];
    kumo_buf_t pem;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    (void)snprintf(path, sizeof(path), "%s/ca.key", d->home);
    int rc = kumo_file_read(path, &pem, err);
    rc = rc == 0 ? kumo_tls_key_from_pem(kumo_buf_bytes(&pem), &t->root, err) : rc;
    if (pem.ptr != NULL) {
        sodium_memzero(pem.ptr, pem.len);
    }
    kumo_buf_free(&pem);
    (void)snprintf(path, sizeof(path), "%s/ca.crt", d->home);
    rc = rc == 0 ? kumo_file_read(path, &t->root_pem, err) : rc;
    return rc == 0 ? kumo_crypto_key_generate(&t->key) : rc;
}

int pd_tun_start(kumo_provider_daemon_t *d, struct event_base *base, kumo_err_ctx_t *err)
{
    pd_tun_t *t = kumo_calloc(1, sizeof(*t));
    KUMO_ENSURE(t != NULL, err, KUMO_ENOMEM, "tunnels");
    t->certs = kumo_calloc(PD_TUN_CERT_MAX, sizeof(*t->certs));
    t->allows = kumo_calloc(PD_TUN_ALLOW_MAX, sizeof(*t->allows));
    t->prev = kumo_calloc(PD_TUN_ALLOW_MAX, sizeof(*t->prev));
    kumo_buf_init(&t->root_pem, KUMO_TLS_PEM_BYTES_MAX);
    KUMO_ASSERT(pthread_mutex_init(&t->mu, NULL) == 0);
    t->server_base = base;
    d->tun = t;
    KUMO_ENSURE(t->certs != NULL && t->allows != NULL && t->prev != NULL, err, KUMO_ENOMEM,
                "tunnels");
    KUMO_GUARD(pd_tun_root_load(d, t, err));
    const char *pub = d->cfg.public_address;
    (void)snprintf(t->address, sizeof(t->address), strchr(pub, ':') != NULL ? "[%s]:%u" : "%s:%u",
                   pub, d->cfg.tunnel_port);
    char listen[PD_TUN_ADDR_BYTES];
    const char *at = pd_publish_address(d);
    (void)snprintf(listen, sizeof(listen), strchr(at, ':') != NULL ? "[%s]:%u" : "%s:%u", at,
                   d->cfg.tunnel_port);
    kumo_overlay_tunnel_server_cfg_t sc = {
        .listen = listen, .accept_cb = pd_tun_accept_cb, .accept_ctx = t};
    kumo_err_ctx_t lerr = {0};
    if (kumo_overlay_tunnel_server_open(base, &sc, &t->server, &lerr) != 0) {
        /* Tunnels to us cannot come up; the rest of the daemon (and tunnels from us) can. */
        KUMO_LOG_ERROR("provider", "tunnel_listen_failed", "at=%s detail=\"%s\"", listen,
                       lerr.detail);
        t->server = NULL;
        return 0;
    }
    KUMO_LOG_INFO("provider", "tunnel_listening", "at=%s announced=%s", listen, t->address);
    return 0;
}

void pd_tun_stop(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    for (uint32_t i = 0; i < t->live_count; i++) {
        kumo_overlay_tunnel_client_close(t->live[i].c);
    }
    kumo_overlay_tunnel_server_close(t->server);
    pd_tun_state_free(t->pending);
    pd_tun_state_free(t->applied);
    for (uint32_t i = 0; i < t->client_count; i++) {
        pd_tun_client_close(&t->clients[i]);
    }
    for (uint32_t i = 0; t->certs != NULL && i < t->cert_count; i++) {
        kumo_buf_free(&t->certs[i].pem);
    }
    for (uint32_t i = 0; t->allows != NULL && i < t->allow_count; i++) {
        kumo_buf_free(&t->allows[i].root_pem);
        kumo_buf_free(&t->allows[i].cert_pem);
    }
    for (uint32_t i = 0; t->prev != NULL && i < t->prev_count; i++) {
        kumo_buf_free(&t->prev[i].root_pem);
        kumo_buf_free(&t->prev[i].cert_pem);
    }
    kumo_free(t->prev);
    for (uint32_t i = 0; i < PD_TUN_PEER_MAX; i++) {
        if (t->peers[i] != NULL) {
            kumo_buf_free(&t->peers[i]->root_pem);
            kumo_free(t->peers[i]);
        }
    }
    kumo_free(t->certs);
    kumo_free(t->allows);
    kumo_buf_free(&t->root_pem);
    kumo_crypto_key_wipe(&t->root);
    kumo_crypto_key_wipe(&t->key);
    (void)pthread_mutex_destroy(&t->mu);
    kumo_free(t);
    d->tun = NULL;
}
