/*
 * tunnels.c - the overlay's mTLS tunnels in the daemon (overlay/overlay.h, docs/design.md
 * "Tunnels between datacenters"). Every creating pass works out, per deployment whose groups
 * run at several providers, from the manifest and the chain's active leases
 * (kumo_overlay_pairs):
 *   - client side: one tunnel client per (source workload here, destination workload at
 *     provider X) pair, dialling the tunnel address X announces for the destination (GET
 *     .../endpoints "tunnels", host checked against X's on-chain host_uri), pinned to X's
 *     on-chain root and expecting the destination's lease at X; its listeners are loopback
 *     sockets made here, one per allowed port, which the gateway's forward for that port
 *     targets (for the source workload's containers only);
 *   - server side: one allowed tunnel per (source workload at provider Y, destination here)
 *     pair: the source's lease at Y, Y's on-chain root, our certificate for the pair; the
 *     accept callback answers with the destination's containers here.
 * Certificates are issued here from home/ca.key (the root registered on chain) for one fresh
 * tunnel key per daemon start, and re-issued after half their lifetime.
 *
 * Threads: the pass (main thread) builds the wanted state and hands it over whole under a
 * mutex (pd_tun_commit); the API thread's loop, which runs the forwarder, takes it at its
 * next turn and applies it (pd_tun_loop_turn): the server's allow set is replaced (tunnels no
 * longer allowed close with their streams) and clients no longer wanted are closed, new ones
 * opened. Every tunnel call happens on that loop. The listening sockets are the main thread's
 * (so a forward keeps its port while a client is reopened): each hand-over carries duplicates
 * that the loop gives to a new client or closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "file/file.h"
#include "log/log.h"
#include "provider/tunnels_int.h"
#include "tls/tls.h"

static uint64_t pd_tun_now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0u;
}

/* ---- the hand-over state ---- */

void pd_tun_state_free(pd_tun_state_t *s)
{
    if (s == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->client_count; i++) {
        pd_tun_hand_client_t *c = &s->clients[i];
        for (uint32_t k = 0; k < c->cfg.listener_count; k++) {
            if (c->cfg.listeners[k].fd >= 0) {
                (void)close(c->cfg.listeners[k].fd);
            }
        }
        kumo_buf_free(&c->root_pem);
        kumo_buf_free(&c->cert_pem);
    }
    for (uint32_t i = 0; i < s->allow_count; i++) {
        kumo_buf_free(&s->allows[i].root_pem);
        kumo_buf_free(&s->allows[i].cert_pem);
    }
    kumo_free(s->clients);
    kumo_free(s->allows);
    kumo_free(s);
}

/* ---- certificates ---- */

static const pd_tun_cert_t *
pd_tun_cert(kumo_provider_daemon_t *d, const kumo_overlay_tunnel_id_t *self, uint64_t now_s)
{
    pd_tun_t *t = d->tun;
    pd_tun_cert_t *c = NULL;
    for (uint32_t i = 0; i < t->cert_count && c == NULL; i++) {
        c = kumo_overlay_tunnel_id_equal(&t->certs[i].self, self) ? &t->certs[i] : NULL;
    }
    if (c == NULL && t->cert_count >= PD_TUN_CERT_MAX) {
        return NULL;
    }
    if (c == NULL) {
        c = &t->certs[t->cert_count++];
        memset(c, 0, sizeof(*c));
        c->self = *self;
        kumo_buf_init(&c->pem, KUMO_TLS_PEM_BYTES_MAX);
    }
    c->seen = true;
    if (c->pem.len > 0 && now_s < c->issued_s + PD_TUN_REISSUE_S && now_s >= c->issued_s) {
        return c;
    }
    kumo_buf_t pem;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    if (kumo_overlay_tunnel_cert_issue(&t->root, kumo_buf_bytes(&t->root_pem), t->key.pubkey, self,
                                       -3600, KUMO_OVERLAY_TUNNEL_CERT_LIFETIME_S, &pem,
                                       &err) != 0) {
        KUMO_LOG_WARN("provider", "tunnel_cert_failed", "src=%s dst=%s detail=\"%s\"", self->src,
                      self->dst, err.detail);
        kumo_buf_free(&pem);
        return c->pem.len > 0 ? c : NULL;
    }
    kumo_buf_free(&c->pem);
    c->pem = pem;
    c->issued_s = now_s;
    return c;
}

/* ---- peers' tunnel addresses ---- */

static pd_tun_peer_t *
pd_tun_peer_find(pd_tun_t *t, const char *owner, uint64_t dseq, const char *provider)
{
    for (uint32_t i = 0; i < PD_TUN_PEER_MAX; i++) {
        pd_tun_peer_t *p = t->peers[i];
        if (p != NULL && p->dseq == dseq && strcmp(p->owner, owner) == 0 &&
            strcmp(p->provider, provider) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Asks provider for its endpoints answer and keeps the tunnels that follow the rules. */
static int pd_tun_peer_ask(kumo_provider_daemon_t *d, pd_tun_peer_t *p, kumo_err_ctx_t *err)
{
    pd_peer_target_t target;
    char host[KUMO_OVERLAY_FWD_HOST_BYTES];
    KUMO_GUARD(pd_peer_target_load(d->client, p->provider, &target, host, err));
    kumo_buf_t body;
    kumo_buf_init(&body, KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX);
    CURL *c = pd_peer_handle(d, &target, p->owner, p->dseq, "endpoints", &body);
    int rc = c != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "peer request");
    long status = 0;
    if (rc == 0) {
        uint64_t spent_ms = 0;
        uint64_t used_ms = d->tun->pass_peer_ms;
        CURLcode cc = pd_peer_perform_within(
            c, used_ms < PD_TUN_PEER_BUDGET_MS ? PD_TUN_PEER_BUDGET_MS - used_ms : 0u, &spent_ms);
        d->tun->pass_peer_ms += spent_ms;
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        rc = cc != CURLE_OK  ? kumo_err_set(err, KUMO_EIO, "%s", curl_easy_strerror(cc))
             : status != 200 ? kumo_err_set(err, KUMO_ENOTFOUND, "HTTP %ld", status)
                             : 0;
    }
    size_t count = 0;
    rc = rc == 0
             ? kumo_provider_peer_tunnels_parse(body.ptr, body.len, host, d->cfg.peer_address_allow,
                                                p->t, KUMO_PROVIDER_PEER_TUNNEL_COUNT_MAX, &count,
                                                err)
             : rc;
    if (rc == 1 && !p->refused_logged) { /* once until its answer is clean: a peer causes it */
        KUMO_LOG_WARN("provider", "peer_tunnels_refused",
                      "deployment=%s/%" PRIu64 " from=%s host=%s kept=%zu", p->owner, p->dseq,
                      p->provider, host, count);
    }
    if (rc >= 0) {
        p->refused_logged = rc == 1;
        p->count = count;
        kumo_buf_free(&p->root_pem);
        p->root_pem = target.root_pem; /* taken over */
        kumo_buf_init(&target.root_pem, KUMO_TLS_PEM_BYTES_MAX);
    }
    pd_peer_target_free(&target);
    kumo_buf_free(&body);
    return rc < 0 ? rc : 0;
}

/* The entry of (owner, dseq, provider), made when missing; NULL when the table is full. */
static pd_tun_peer_t *
pd_tun_peer_get(pd_tun_t *t, const char *owner, uint64_t dseq, const char *provider)
{
    pd_tun_peer_t *p = pd_tun_peer_find(t, owner, dseq, provider);
    for (uint32_t i = 0; p == NULL && i < PD_TUN_PEER_MAX; i++) {
        if (t->peers[i] == NULL) {
            p = kumo_calloc(1, sizeof(*p));
            if (p == NULL) {
                return NULL;
            }
            (void)snprintf(p->owner, sizeof(p->owner), "%s", owner);
            (void)snprintf(p->provider, sizeof(p->provider), "%s", provider);
            p->dseq = dseq;
            kumo_buf_init(&p->root_pem, KUMO_TLS_PEM_BYTES_MAX);
            t->peers[i] = p;
        }
    }
    if (p != NULL) {
        p->seen = true;
    }
    return p;
}

/* The tunnel address provider announces for workload under lease (gseq, oseq), and its
 * on-chain root (*peer_out); asked again when due. NULL when not known (yet). */
static const kumo_provider_peer_tunnel_t *pd_tun_peer_tunnel(kumo_provider_daemon_t *d,
                                                             const char *owner,
                                                             uint64_t dseq,
                                                             const char *provider,
                                                             const char *workload,
                                                             uint32_t gseq,
                                                             uint32_t oseq,
                                                             const pd_tun_peer_t **peer_out)
{
    pd_tun_t *t = d->tun;
    pd_tun_peer_t *p = pd_tun_peer_get(t, owner, dseq, provider);
    if (p == NULL) {
        return NULL;
    }
    for (int round = 0; round < 2; round++) {
        const kumo_provider_peer_tunnel_t *found = NULL;
        for (size_t k = 0; k < p->count && found == NULL; k++) {
            const kumo_provider_peer_tunnel_t *e = &p->t[k];
            found =
                e->gseq == gseq && e->oseq == oseq && strcmp(e->workload, workload) == 0 ? e : NULL;
        }
        uint64_t every = found != NULL ? PD_TUN_REFRESH_BLOCKS : PD_TUN_RETRY_BLOCKS;
        bool due = p->height == 0 || d->height >= p->height + every;
        if (round == 1 || !due || t->pass_fetches >= PD_TUN_FETCH_PER_PASS ||
            t->pass_peer_ms >= PD_TUN_PEER_BUDGET_MS) {
            *peer_out = p;
            return found != NULL && p->root_pem.len > 0 ? found : NULL;
        }
        t->pass_fetches++;
        p->height = d->height > 0 ? d->height : 1u;
        kumo_err_ctx_t err = {0};
        if (pd_tun_peer_ask(d, p, &err) != 0) {
            KUMO_LOG_DEBUG("provider", "peer_tunnels_failed",
                           "deployment=%s/%" PRIu64 " from=%s detail=\"%s\"", owner, dseq, provider,
                           err.detail);
        }
    }
    KUMO_UNREACHABLE();
}

/* The on-chain root of provider (the source end of tunnels to us), read from the node when
 * missing and with every refresh of the entry. NULL when not known. */
static const pd_tun_peer_t *
pd_tun_peer_root(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, const char *provider)
{
    pd_tun_t *t = d->tun;
    pd_tun_peer_t *p = pd_tun_peer_get(t, owner, dseq, provider);
    if (p == NULL) {
        return NULL;
    }
    bool due = p->root_height == 0 || d->height >= p->root_height + PD_TUN_REFRESH_BLOCKS;
    if (due && t->pass_fetches < PD_TUN_FETCH_PER_PASS) {
        t->pass_fetches++;
        p->root_height = d->height > 0 ? d->height : 1u;
        pd_peer_target_t target;
        kumo_err_ctx_t err = {0};
        if (pd_peer_target_load(d->client, provider, &target, NULL, &err) == 0) {
            kumo_buf_free(&p->root_pem);
            p->root_pem = target.root_pem; /* taken over */
        } else {
            KUMO_LOG_DEBUG("provider", "peer_root_failed", "provider=%s detail=\"%s\"", provider,
                           err.detail);
        }
    }
    return p->root_pem.len > 0 ? p : NULL;
}

/* ---- one deployment ---- */

/* The deployment's active leases as the chain lists them, for the policy. */
typedef struct pd_tun_dep {
    const char *owner;
    uint64_t dseq;
    const Kumo__Manifest *m;
    kumo_overlay_lease_t leases[KUMO_OVERLAY_LEASE_MAX];
    uint32_t gseq[KUMO_OVERLAY_LEASE_MAX];
    uint32_t oseq[KUMO_OVERLAY_LEASE_MAX];
    char providers[KUMO_OVERLAY_LEASE_MAX][KUMO_ADDRESS_TEXT_BYTES];
    uint32_t count;
} pd_tun_dep_t;

static void pd_tun_id(const pd_tun_dep_t *td,
                      const kumo_overlay_pair_t *p,
                      uint32_t lease,
                      kumo_overlay_tunnel_id_t *id)
{
    memset(id, 0, sizeof(*id));
    (void)snprintf(id->owner, sizeof(id->owner), "%s", td->owner);
    id->dseq = td->dseq;
    (void)snprintf(id->src, sizeof(id->src), "%s", p->src);
    (void)snprintf(id->dst, sizeof(id->dst), "%s", p->dst);
    id->gseq = td->gseq[lease];
    id->oseq = td->oseq[lease];
    (void)snprintf(id->provider, sizeof(id->provider), "%s", td->leases[lease].provider);
}

/* A loopback listening socket on an ephemeral port; -1 when none can be made. */
static int pd_tun_listen(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

void pd_tun_client_close(pd_tun_client_t *c)
{
    for (uint32_t k = 0; k < c->port_count; k++) {
        if (c->fds[k] >= 0) {
            (void)close(c->fds[k]);
        }
    }
    c->port_count = 0;
}

/* The slot of a wanted client: the same one as last pass when nothing about it changed (its
 * listeners and so the forwards stay), else a new one with new listeners. */
static void pd_tun_client_want(kumo_provider_daemon_t *d, const pd_tun_client_t *want)
{
    pd_tun_t *t = d->tun;
    for (uint32_t i = 0; i < t->client_count; i++) {
        pd_tun_client_t *c = &t->clients[i];
        if (!c->seen && kumo_overlay_tunnel_id_equal(&c->peer, &want->peer) &&
            kumo_overlay_tunnel_id_equal(&c->self, &want->self) &&
            strcmp(c->address, want->address) == 0 &&
            memcmp(c->root_hash, want->root_hash, sizeof(c->root_hash)) == 0 &&
            c->port_count == want->port_count &&
            memcmp(c->ports, want->ports, want->port_count * sizeof(c->ports[0])) == 0) {
            c->seen = true;
            c->read_ms = want->read_ms;
            if (c->cert_issued_s != want->cert_issued_s) {
                c->cert_issued_s = want->cert_issued_s;
                c->id = ++t->next_id; /* reopened with the new certificate, same listeners */
            }
            return;
        }
    }
    if (t->client_count >= PD_TUN_CLIENT_MAX) {
        t->dropped++;
        return;
    }
    pd_tun_client_t *c = &t->clients[t->client_count];
    *c = *want;
    c->id = ++t->next_id;
    c->seen = true;
    for (uint32_t k = 0; k < c->port_count; k++) {
        c->fds[k] = pd_tun_listen(&c->listen_ports[k]);
        if (c->fds[k] < 0) {
            c->port_count = k;
            pd_tun_client_close(c);
            KUMO_LOG_WARN("provider", "tunnel_listen_failed", "errno=%d", errno);
            return;
        }
    }
    t->client_count++;
}

static void pd_tun_clients_of(kumo_provider_daemon_t *d, const pd_tun_dep_t *td)
{
    kumo_overlay_deployment_t od = {
        .manifest = td->m, .leases = td->leases, .lease_count = td->count};
    kumo_overlay_pair_t pairs[64];
    uint32_t dropped = 0;
    uint32_t n = kumo_overlay_pairs(&od, d->addr, KUMO_OVERLAY_SIDE_CLIENT, pairs, 64, &dropped);
    d->tun->dropped += dropped;
    uint64_t now_s = pd_tun_now_s();
    uint64_t now_ms = pd_now_ms();
    for (uint32_t i = 0; i < n; i++) {
        const kumo_overlay_pair_t *p = &pairs[i];
        pd_tun_client_t want;
        memset(&want, 0, sizeof(want));
        want.read_ms = now_ms;
        pd_tun_id(td, p, p->dst_lease, &want.peer);
        pd_tun_id(td, p, p->src_lease, &want.self);
        const pd_tun_peer_t *peer = NULL;
        const kumo_provider_peer_tunnel_t *at =
            pd_tun_peer_tunnel(d, td->owner, td->dseq, want.peer.provider, p->dst, want.peer.gseq,
                               want.peer.oseq, &peer);
        const pd_tun_cert_t *cert = kumo_overlay_tunnel_id_is_valid(&want.peer) &&
                                            kumo_overlay_tunnel_id_is_valid(&want.self) &&
                                            at != NULL
                                        ? pd_tun_cert(d, &want.self, now_s)
                                        : NULL;
        if (cert == NULL) {
            continue; /* the peer's tunnel address is not known yet (asked again soon) */
        }
        (void)snprintf(want.address, sizeof(want.address),
                       strchr(at->host, ':') != NULL ? "[%s]:%u" : "%s:%u", at->host,
                       (unsigned)at->port);
        kumo_crypto_sha256(kumo_buf_bytes(&peer->root_pem), want.root_hash);
        want.cert_issued_s = cert->issued_s;
        want.src_tag = kumo_overlay_workload_tag(td->owner, td->dseq, p->src);
        memcpy(want.ports, p->ports, sizeof(want.ports));
        want.port_count = p->port_count;
        pd_tun_client_want(d, &want);
    }
}

/* Where a destination's port goes on this host: its running containers. */
static void pd_tun_targets(kumo_provider_daemon_t *d,
                           const pd_tun_dep_t *td,
                           const kumo_overlay_pair_t *p,
                           kumo_overlay_tunnel_targets_t *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t k = 0; k < p->port_count; k++) {
        uint32_t per_port = 0;
        for (uint32_t i = 0; i < d->container_count && per_port < KUMO_OVERLAY_FWD_TARGET_MAX &&
                             out->count < KUMO_OVERLAY_TUNNEL_TARGET_MAX;
             i++) {
            const kumo_runtime_container_t *c = &d->containers[i];
            const char *ip = NULL;
            if (c->state == KUMO_RUNTIME_STATE_RUNNING && c->dseq == td->dseq &&
                strcmp(c->owner, td->owner) == 0 && strcmp(c->workload, p->dst) == 0 &&
                (ip = pd_container_ip(d, c->id)) != NULL) {
                kumo_overlay_tunnel_target_t *x = &out->items[out->count++];
                x->port = p->ports[k];
                (void)snprintf(x->host, sizeof(x->host), "%s", ip);
                x->target_port = p->ports[k];
                per_port++;
            }
        }
    }
}

static void pd_tun_allows_of(kumo_provider_daemon_t *d, const pd_tun_dep_t *td)
{
    pd_tun_t *t = d->tun;
    kumo_overlay_deployment_t od = {
        .manifest = td->m, .leases = td->leases, .lease_count = td->count};
    kumo_overlay_pair_t pairs[64];
    uint32_t dropped = 0;
    uint32_t n = kumo_overlay_pairs(&od, d->addr, KUMO_OVERLAY_SIDE_SERVER, pairs, 64, &dropped);
    t->dropped += dropped;
    uint64_t now_s = pd_tun_now_s();
    for (uint32_t i = 0; i < n; i++) {
        const kumo_overlay_pair_t *p = &pairs[i];
        kumo_overlay_tunnel_id_t peer;
        kumo_overlay_tunnel_id_t self;
        pd_tun_id(td, p, p->src_lease, &peer);
        pd_tun_id(td, p, p->dst_lease, &self);
        const pd_tun_peer_t *y = pd_tun_peer_root(d, td->owner, td->dseq, peer.provider);
        const pd_tun_cert_t *cert = kumo_overlay_tunnel_id_is_valid(&peer) &&
                                            kumo_overlay_tunnel_id_is_valid(&self) && y != NULL
                                        ? pd_tun_cert(d, &self, now_s)
                                        : NULL;
        if (cert == NULL || t->allow_count >= PD_TUN_ALLOW_MAX) {
            t->dropped += cert != NULL ? 1u : 0u;
            continue;
        }
        pd_tun_hand_allow_t *a = &t->allows[t->allow_count++];
        memset(a, 0, sizeof(*a));
        a->peer = peer;
        a->read_ms = pd_now_ms();
        kumo_buf_init(&a->root_pem, KUMO_TLS_PEM_BYTES_MAX);
        kumo_buf_init(&a->cert_pem, KUMO_TLS_PEM_BYTES_MAX);
        if (kumo_buf_append(&a->root_pem, y->root_pem.ptr, y->root_pem.len) != 0 ||
            kumo_buf_append(&a->cert_pem, cert->pem.ptr, cert->pem.len) != 0) {
            kumo_buf_free(&a->root_pem);
            kumo_buf_free(&a->cert_pem);
            t->allow_count--;
            continue;
        }
        pd_tun_targets(d, td, p, &a->targets);
    }
}

/* The deployment's active leases from the node (every provider's), keeping those whose group
 * the node named; false when they cannot be read. */
static bool pd_tun_leases(kumo_provider_daemon_t *d,
                          pd_tun_dep_t *td,
                          const char (*groups)[KUMO_NAME_BYTES_MAX + 1],
                          uint32_t group_count)
{
    json_t *list = NULL;
    kumo_err_ctx_t err = {0};
    if (pd_peer_leases(d, d->client, td->owner, td->dseq, &list, &err) != 0) {
        KUMO_LOG_DEBUG("provider", "tunnel_leases_failed",
                       "deployment=%s/%" PRIu64 " detail=\"%s\"", td->owner, td->dseq, err.detail);
        return false;
    }
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(list, "items"), i, l)
    {
        const json_t *id = json_object_get(l, "id");
        const json_t *oid = json_object_get(id, "order");
        const char *provider = json_string_value(json_object_get(id, "provider"));
        uint64_t gseq = pd_u64(oid, "gseq");
        uint64_t oseq = pd_u64(oid, "oseq");
        if (provider == NULL || gseq >= group_count || gseq > UINT32_MAX || oseq > UINT32_MAX ||
            td->count >= KUMO_OVERLAY_LEASE_MAX || strlen(provider) >= sizeof(td->providers[0])) {
            continue;
        }
        uint32_t k = td->count++;
        (void)snprintf(td->providers[k], sizeof(td->providers[k]), "%s", provider);
        td->leases[k] = (kumo_overlay_lease_t){.group = groups[gseq], .provider = td->providers[k]};
        td->gseq[k] = (uint32_t)gseq;
        td->oseq[k] = (uint32_t)oseq;
    }
    json_decref(list);
    return true;
}

/* Whether every group with a workload runs here (then no tunnel is needed and the node is not
 * asked). */
static bool pd_tun_all_here(const kumo_provider_daemon_t *d,
                            const char *owner,
                            uint64_t dseq,
                            const Kumo__Manifest *m,
                            const char (*groups)[KUMO_NAME_BYTES_MAX + 1],
                            uint32_t group_count)
{
    for (size_t w = 0; w < m->n_workloads; w++) {
        bool here = false;
        for (uint32_t i = 0; i < d->lease_count && !here; i++) {
            const pd_lease_t *l = &d->leases[i];
            here = l->active && l->dseq == dseq && strcmp(l->owner, owner) == 0 &&
                   l->gseq < group_count && strcmp(groups[l->gseq], m->workloads[w]->group) == 0;
        }
        if (!here) {
            return false;
        }
    }
    return true;
}

/* home/deployments/<owner>-<dseq>.tunnels: what GET .../endpoints tells the peers (the
 * LeasedWorkload of the design): per workload placed here, the lease it runs under, our tunnel
 * address and the certificates we present for it. Written when it changed. */
static void pd_tun_exchange_write(kumo_provider_daemon_t *d, const pd_tun_dep_t *td, uint32_t first)
{
    pd_tun_t *t = d->tun;
    json_t *arr = json_array();
    size_t budget = PD_TUN_FILE_BYTES_MAX;
    for (uint32_t k = 0; arr != NULL && k < td->count; k++) {
        if (strcmp(td->leases[k].provider, d->addr) != 0) {
            continue;
        }
        for (size_t w = 0; w < td->m->n_workloads; w++) {
            const Kumo__ManifestWorkload *mw = td->m->workloads[w];
            if (strcmp(mw->group, td->leases[k].group) != 0) {
                continue;
            }
            json_t *certs = json_array();
            for (uint32_t a = first; a < t->allow_count; a++) {
                const pd_tun_hand_allow_t *x = &t->allows[a];
                if (strcmp(x->peer.dst, mw->name) == 0 && x->cert_pem.len < budget) {
                    budget -= x->cert_pem.len;
                    (void)json_array_append_new(
                        certs, json_stringn((const char *)x->cert_pem.ptr, x->cert_pem.len));
                }
            }
            (void)json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s, s:o}", "workload",
                                                       mw->name, "gseq", (json_int_t)td->gseq[k],
                                                       "oseq", (json_int_t)td->oseq[k], "address",
                                                       t->address, "certificates", certs));
        }
    }
    json_t *j = arr != NULL ? json_pack("{s:o}", "tunnels", arr) : NULL;
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char path[PD_PATH_BYTES];
    kumo_buf_t had;
    kumo_buf_init(&had, KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX);
    bool same = text != NULL &&
                pd_deployment_path(d->home, td->owner, td->dseq, PD_TUNNELS_EXT, path) == 0 &&
                kumo_file_read(path, &had, NULL) == 0 && had.len == strlen(text) &&
                memcmp(had.ptr, text, had.len) == 0;
    kumo_err_ctx_t err = {0};
    if (text != NULL && !same &&
        pd_deployment_store(d->home, td->owner, td->dseq, PD_TUNNELS_EXT,
                            kumo_bytes_make((const uint8_t *)text, strlen(text)), &err) != 0) {
        KUMO_LOG_WARN("provider", "tunnels_store_failed", "deployment=%s/%" PRIu64 " detail=\"%s\"",
                      td->owner, td->dseq, err.detail);
    }
    kumo_buf_free(&had);
    free(text);
}

/* What the chain's word read at read_ms still allows now. */
static kumo_overlay_chain_t
pd_tun_chain_at(const kumo_provider_daemon_t *d, uint64_t read_ms, uint64_t now_ms)
{
    uint64_t since_ms = now_ms > read_ms ? now_ms - read_ms : 0u;
    return kumo_overlay_chain_judge(kumo_overlay_chain_passes_since(since_ms, d->block_ms));
}

void pd_tun_keep(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    /* Kept through the grace only: a deployment whose leases stay unreadable while the rest
     * of the chain answers closes like a lost chain. */
    uint64_t now_ms = pd_now_ms();
    for (uint32_t i = 0; i < t->client_count; i++) {
        pd_tun_client_t *c = &t->clients[i];
        if (c->peer.dseq != dseq || strcmp(c->peer.owner, owner) != 0 ||
            pd_tun_chain_at(d, c->read_ms, now_ms) == KUMO_OVERLAY_CHAIN_LOST) {
            continue;
        }
        c->seen = true;
        for (uint32_t k = 0; k < t->cert_count; k++) {
            t->certs[k].seen =
                t->certs[k].seen || kumo_overlay_tunnel_id_equal(&t->certs[k].self, &c->self);
        }
        pd_tun_peer_t *p = pd_tun_peer_find(t, owner, dseq, c->peer.provider);
        if (p != NULL) {
            p->seen = true;
        }
    }
    for (uint32_t i = 0; i < t->prev_count && t->allow_count < PD_TUN_ALLOW_MAX; i++) {
        const pd_tun_hand_allow_t *x = &t->prev[i];
        if (x->peer.dseq != dseq || strcmp(x->peer.owner, owner) != 0 ||
            pd_tun_chain_at(d, x->read_ms, now_ms) == KUMO_OVERLAY_CHAIN_LOST) {
            continue;
        }
        pd_tun_hand_allow_t *a = &t->allows[t->allow_count];
        *a = *x;
        kumo_buf_init(&a->root_pem, KUMO_TLS_PEM_BYTES_MAX);
        kumo_buf_init(&a->cert_pem, KUMO_TLS_PEM_BYTES_MAX);
        if (kumo_buf_append(&a->root_pem, x->root_pem.ptr, x->root_pem.len) == 0 &&
            kumo_buf_append(&a->cert_pem, x->cert_pem.ptr, x->cert_pem.len) == 0) {
            t->allow_count++;
        } else {
            kumo_buf_free(&a->root_pem);
            kumo_buf_free(&a->cert_pem);
        }
    }
}

void pd_tun_dep(kumo_provider_daemon_t *d,
                const char *owner,
                uint64_t dseq,
                const Kumo__Manifest *m,
                const char (*groups)[KUMO_NAME_BYTES_MAX + 1],
                uint32_t group_count)
{
    if (d->tun == NULL || pd_tun_all_here(d, owner, dseq, m, groups, group_count)) {
        return;
    }
    pd_tun_dep_t *td = kumo_calloc(1, sizeof(*td));
    if (td == NULL) {
        return;
    }
    td->owner = owner;
    td->dseq = dseq;
    td->m = m;
    if (pd_tun_leases(d, td, groups, group_count)) {
        uint32_t first = d->tun->allow_count;
        pd_tun_clients_of(d, td);
        pd_tun_allows_of(d, td);
        pd_tun_exchange_write(d, td, first);
    } else {
        pd_tun_keep(d, owner, dseq); /* a node hiccup closes no tunnel */
    }
    kumo_free(td);
}

uint32_t pd_tun_forward_targets(const kumo_provider_daemon_t *d,
                                const char *owner,
                                uint64_t dseq,
                                const char *dst,
                                uint16_t port,
                                kumo_overlay_fwd_entry_t *e)
{
    uint32_t added = 0;
    for (uint32_t i = 0; d->tun != NULL && i < d->tun->client_count; i++) {
        const pd_tun_client_t *c = &d->tun->clients[i];
        if (!c->seen || c->peer.dseq != dseq || strcmp(c->peer.owner, owner) != 0 ||
            strcmp(c->peer.dst, dst) != 0) {
            continue;
        }
        for (uint32_t k = 0; k < c->port_count && e->target_count < KUMO_OVERLAY_FWD_TARGET_MAX;
             k++) {
            if (c->ports[k] != port) {
                continue;
            }
            kumo_overlay_fwd_target_t *x = &e->targets[e->target_count++];
            memset(x, 0, sizeof(*x));
            (void)snprintf(x->host, sizeof(x->host), "127.0.0.1");
            x->port = c->listen_ports[k];
            x->kind = KUMO_OVERLAY_FWD_TUNNEL;
            x->source_workload = c->src_tag;
            added++;
        }
    }
    return added;
}

void pd_tun_pass_begin(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    for (uint32_t i = 0; i < t->client_count; i++) {
        t->clients[i].seen = false;
    }
    for (uint32_t i = 0; i < t->cert_count; i++) {
        t->certs[i].seen = false;
    }
    for (uint32_t i = 0; i < PD_TUN_PEER_MAX; i++) {
        if (t->peers[i] != NULL) {
            t->peers[i]->seen = false;
        }
    }
    for (uint32_t i = 0; i < t->prev_count; i++) {
        kumo_buf_free(&t->prev[i].root_pem);
        kumo_buf_free(&t->prev[i].cert_pem);
    }
    pd_tun_hand_allow_t *spare = t->prev;
    t->prev = t->allows;
    t->prev_count = t->allow_count;
    t->allows = spare;
    t->allow_count = 0;
    t->pass_fetches = 0;
    t->pass_peer_ms = 0;
    t->dropped = 0;
}

/* Drops what this pass did not want: clients (their listeners close), certificates, peers. */
static void pd_tun_sweep(pd_tun_t *t)
{
    for (uint32_t i = 0; i < t->client_count;) {
        if (t->clients[i].seen) {
            i++;
            continue;
        }
        pd_tun_client_close(&t->clients[i]);
        t->clients[i] = t->clients[--t->client_count];
    }
    for (uint32_t i = 0; i < t->cert_count;) {
        if (t->certs[i].seen) {
            i++;
            continue;
        }
        kumo_buf_free(&t->certs[i].pem);
        t->certs[i] = t->certs[--t->cert_count];
    }
    for (uint32_t i = 0; i < PD_TUN_PEER_MAX; i++) {
        if (t->peers[i] != NULL && !t->peers[i]->seen) {
            kumo_buf_free(&t->peers[i]->root_pem);
            kumo_free(t->peers[i]);
            t->peers[i] = NULL;
        }
    }
}

/* A duplicate of fd for the loop (closed on exec like the original); -1 on failure. */
static int pd_tun_dup(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* One client of the hand-over, with duplicates of its listening sockets. */
static bool pd_tun_hand_client(const pd_tun_t *t, const pd_tun_client_t *c, pd_tun_hand_client_t *h)
{
    memset(h, 0, sizeof(*h));
    h->id = c->id;
    (void)snprintf(h->address, sizeof(h->address), "%s", c->address);
    kumo_buf_init(&h->root_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&h->cert_pem, KUMO_TLS_PEM_BYTES_MAX);
    const pd_tun_cert_t *cert = NULL;
    for (uint32_t i = 0; i < t->cert_count && cert == NULL; i++) {
        cert = kumo_overlay_tunnel_id_equal(&t->certs[i].self, &c->self) ? &t->certs[i] : NULL;
    }
    const pd_tun_peer_t *p =
        pd_tun_peer_find((pd_tun_t *)(uintptr_t)t, c->peer.owner, c->peer.dseq, c->peer.provider);
    if (cert == NULL || p == NULL ||
        kumo_buf_append(&h->cert_pem, cert->pem.ptr, cert->pem.len) != 0 ||
        kumo_buf_append(&h->root_pem, p->root_pem.ptr, p->root_pem.len) != 0) {
        return false;
    }
    h->cfg.peer = c->peer;
    h->cfg.key = &t->key;
    for (uint32_t k = 0; k < c->port_count; k++) {
        h->cfg.listeners[k].fd = pd_tun_dup(c->fds[k]);
        h->cfg.listeners[k].port = c->ports[k];
        h->cfg.listener_count = k + 1u;
        if (h->cfg.listeners[k].fd < 0) {
            return false;
        }
    }
    return true;
}

/* Hands the wanted state over to the loop (replacing one it has not taken yet). */
static void pd_tun_post(pd_tun_t *t, pd_tun_state_t *s)
{
    KUMO_ASSERT(pthread_mutex_lock(&t->mu) == 0);
    pd_tun_state_t *old = t->pending;
    t->pending = s;
    KUMO_ASSERT(pthread_mutex_unlock(&t->mu) == 0);
    pd_tun_state_free(old);
}

void pd_tun_commit(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    pd_tun_sweep(t);
    pd_tun_state_t *s = kumo_calloc(1, sizeof(*s));
    if (s == NULL) {
        return;
    }
    s->clients = t->client_count > 0 ? kumo_calloc(t->client_count, sizeof(*s->clients)) : NULL;
    s->allows = t->allow_count > 0 ? kumo_calloc(t->allow_count, sizeof(*s->allows)) : NULL;
    if ((t->client_count > 0 && s->clients == NULL) || (t->allow_count > 0 && s->allows == NULL)) {
        pd_tun_state_free(s);
        return;
    }
    for (uint32_t i = 0; i < t->client_count; i++) {
        pd_tun_hand_client_t *h = &s->clients[s->client_count++];
        if (!pd_tun_hand_client(t, &t->clients[i], h)) {
            s->client_count--; /* what it took is closed here */
            for (uint32_t k = 0; k < h->cfg.listener_count; k++) {
                if (h->cfg.listeners[k].fd >= 0) {
                    (void)close(h->cfg.listeners[k].fd);
                }
            }
            kumo_buf_free(&h->root_pem);
            kumo_buf_free(&h->cert_pem);
        }
    }
    for (uint32_t i = 0; i < t->allow_count; i++) {
        pd_tun_hand_allow_t *a = &s->allows[s->allow_count++];
        *a = t->allows[i];
        kumo_buf_init(&a->root_pem, KUMO_TLS_PEM_BYTES_MAX);
        kumo_buf_init(&a->cert_pem, KUMO_TLS_PEM_BYTES_MAX);
        if (kumo_buf_append(&a->root_pem, t->allows[i].root_pem.ptr, t->allows[i].root_pem.len) !=
                0 ||
            kumo_buf_append(&a->cert_pem, t->allows[i].cert_pem.ptr, t->allows[i].cert_pem.len) !=
                0) {
            kumo_buf_free(&a->root_pem);
            kumo_buf_free(&a->cert_pem);
            s->allow_count--;
        }
    }
    if (s->client_count != t->applied_clients || s->allow_count != t->applied_allows ||
        t->dropped > 0) {
        KUMO_LOG_INFO("provider", "tunnels_wanted", "clients=%u allowed=%u dropped=%u",
                      s->client_count, s->allow_count, t->dropped);
        t->applied_clients = s->client_count;
        t->applied_allows = s->allow_count;
    }
    pd_tun_post(t, s);
}

/* ---- the chain's word (docs/design.md "Fail closed when the chain is lost") ---- */

void pd_tun_pass_end(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL) {
        return;
    }
    t->chain_read_ms = pd_now_ms();
    if (t->chain_lost) {
        KUMO_LOG_INFO("provider", "tunnels_chain_back", "height=%" PRIu64 " clients=%u allowed=%u",
                      d->height, t->client_count, t->allow_count);
        t->chain_lost = false; /* this pass wanted its tunnels afresh */
    }
    pd_tun_commit(d);
}

bool pd_tun_chain_due(const kumo_provider_daemon_t *d)
{
    const pd_tun_t *t = d->tun;
    if (t == NULL || t->chain_lost || t->chain_read_ms == 0) {
        return false;
    }
    uint64_t now_ms = pd_now_ms();
    uint64_t since_ms = now_ms > t->chain_read_ms ? now_ms - t->chain_read_ms : 0u;
    return kumo_overlay_chain_passes_since(since_ms, d->block_ms) + 1u >=
           KUMO_OVERLAY_CHAIN_GRACE_PASSES;
}

void pd_tun_chain_check(kumo_provider_daemon_t *d)
{
    pd_tun_t *t = d->tun;
    if (t == NULL || t->chain_lost || t->chain_read_ms == 0) {
        return; /* closed already, or no pass ever read it (then none wanted a tunnel) */
    }
    uint64_t now_ms = pd_now_ms();
    if (pd_tun_chain_at(d, t->chain_read_ms, now_ms) != KUMO_OVERLAY_CHAIN_LOST) {
        return;
    }
    KUMO_LOG_WARN("provider", "tunnels_chain_lost",
                  "unread_ms=%" PRIu64 " block_ms=%" PRIu64 " clients=%u allowed=%u (all closed)",
                  now_ms - t->chain_read_ms, d->block_ms, t->client_count, t->allow_count);
    t->chain_lost = true;
    pd_tun_pass_begin(d); /* nothing is wanted: the hand-over closes every tunnel and stream */
    pd_tun_commit(d);
}
