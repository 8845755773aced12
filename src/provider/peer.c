/*
 * peer.c - peer-to-peer manifest delivery between the providers of one deployment: a
 * provider that holds an active lease but no manifest (it won a group that was re-ordered
 * after another provider went stale, or the tenant uploaded to the others only) asks the
 * other lease holders for GET /deployments/{owner}/{dseq}/manifest. It proves who it is with
 * a certificate made from its account key (the address the chain lists on its lease), checks
 * the peer's server certificate against the peer's on-chain root, and keeps the bytes only if
 * their Merkle root is the deployment's on-chain version, so a lying peer cannot plant a
 * manifest. The manifest comes in verified chunks from several peers at once (fetch.c); a
 * whole manifest is asked for only when no peer serves chunks of the version. Blocking
 * libcurl (on the caller's thread, with the caller's node handle), bounded by short timeouts.
 *
 * Endpoints (the links between workloads at different providers) are followed only where the
 * chain says they can be: an endpoint of workload W port P counts only when the provider that
 * reports it holds an active lease of W's group, P is a port the manifest publishes for W, and
 * its host is that provider's public address, the host of its on-chain host_uri, which must
 * itself be a public address (or listed in peer_address_allow). A tenant's links must be such
 * endpoints. So neither a tenant nor a peer can point a forward at the provider's loopback, a
 * container of another tenant, a private network or any other machine.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec/codec.h"
#include "log/log.h"
#include "provider/api_int.h"
#include "provider/daemon_int.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define PD_PEER_CERT_DAYS 3650u
/* A peer's endpoints answer: at most this many entries are looked at. */
#define PD_PEER_ENDPOINT_COUNT_MAX 256u

/* The host of a host_uri "https://host[:port][/...]" ("[v6]" unbracketed); false if none. */
bool pd_uri_host(const char *uri, char *out, size_t cap)
{
    static const char scheme[] = "https://";
    if (uri == NULL || strncmp(uri, scheme, sizeof(scheme) - 1u) != 0) {
        return false;
    }
    const char *h = uri + sizeof(scheme) - 1u;
    const char *end = NULL;
    if (*h == '[') {
        h++;
        end = strchr(h, ']');
    } else {
        end = h + strcspn(h, ":/?#");
    }
    if (end == NULL || end == h || (size_t)(end - h) >= cap) {
        return false;
    }
    memcpy(out, h, (size_t)(end - h));
    out[end - h] = '\0';
    return true;
}

static size_t pd_peer_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    return kumo_buf_append(ctx, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

int pd_peer_tls(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    if (d->peer_cert_pem.len > 0) {
        return 0;
    }
    kumo_buf_init(&d->peer_cert_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&d->peer_key_pem, KUMO_TLS_PEM_BYTES_MAX);
    KUMO_GUARD(kumo_tls_key_pem(&d->key, &d->peer_key_pem, err));
    return kumo_tls_cert_self_signed(&d->key, d->addr, PD_PEER_CERT_DAYS, &d->peer_cert_pem, err);
}

int pd_peer_target_load(kumo_provider_daemon_t *d,
                        CURL *node,
                        const char *provider,
                        pd_peer_target_t *t,
                        char *host,
                        kumo_err_ctx_t *err)
{
    memset(t, 0, sizeof(*t));
    char path[256];
    (void)snprintf(path, sizeof(path), "/providers/%s", provider);
    json_t *p = NULL;
    KUMO_GUARD(pd_http_on(node, d->cfg.node_url, path, NULL, &p, err));
    const char *uri = json_string_value(json_object_get(p, "host_uri"));
    const char *root = json_string_value(json_object_get(p, "root_cert_pem"));
    bool ok = (host == NULL || pd_uri_host(uri, host, KUMO_OVERLAY_FWD_HOST_BYTES)) &&
              uri != NULL && root != NULL && strlen(root) <= KUMO_TLS_PEM_BYTES_MAX &&
              snprintf(t->uri, sizeof(t->uri), "%s", uri) < (int)sizeof(t->uri) &&
              snprintf(t->provider, sizeof(t->provider), "%s", provider) < (int)sizeof(t->provider);
    kumo_buf_init(&t->root_pem, KUMO_TLS_PEM_BYTES_MAX);
    if (ok && kumo_buf_append(&t->root_pem, root, strlen(root)) != 0) {
        ok = false;
    }
    json_decref(p);
    if (!ok) {
        kumo_buf_free(&t->root_pem);
        return kumo_err_set(err, KUMO_EINVAL, "provider %s has no usable host_uri", provider);
    }
    return 0;
}

void pd_peer_target_free(pd_peer_target_t *t)
{
    kumo_buf_free(&t->root_pem);
}

CURL *pd_peer_handle(kumo_provider_daemon_t *d,
                     const pd_peer_target_t *t,
                     const char *owner,
                     uint64_t dseq,
                     const char *what,
                     kumo_buf_t *out)
{
    char url[1024];
    int n =
        snprintf(url, sizeof(url), "%s/deployments/%s/%" PRIu64 "/%s", t->uri, owner, dseq, what);
    CURL *c = n > 0 && (size_t)n < sizeof(url) ? curl_easy_init() : NULL;
    if (c == NULL) {
        return NULL;
    }
    struct curl_blob ca = {t->root_pem.ptr, t->root_pem.len, CURL_BLOB_COPY};
    struct curl_blob cert = {d->peer_cert_pem.ptr, d->peer_cert_pem.len, CURL_BLOB_COPY};
    struct curl_blob key = {d->peer_key_pem.ptr, d->peer_key_pem.len, CURL_BLOB_COPY};
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    (void)curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    (void)curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    (void)curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, PD_PEER_CONNECT_MS);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, PD_PEER_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pd_peer_write_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    return c;
}

/* GET .../<what> of the deployment from one provider (by address) into out; host (cap
 * KUMO_OVERLAY_FWD_HOST_BYTES, may be NULL) gets the host of its on-chain host_uri. */
static int pd_peer_get(kumo_provider_daemon_t *d,
                       CURL *node,
                       const char *provider,
                       const char *owner,
                       uint64_t dseq,
                       const char *what,
                       kumo_buf_t *out,
                       char *host,
                       kumo_err_ctx_t *err)
{
    pd_peer_target_t t;
    KUMO_GUARD(pd_peer_target_load(d, node, provider, &t, host, err));
    CURL *c = pd_peer_handle(d, &t, owner, dseq, what, out);
    pd_peer_target_free(&t);
    KUMO_ENSURE(c != NULL, err, KUMO_EINVAL, "provider %s has no usable host_uri", provider);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    KUMO_ENSURE(cc == CURLE_OK, err, KUMO_EIO, "provider %s: %s", provider, curl_easy_strerror(cc));
    KUMO_ENSURE(status == 200, err, KUMO_ENOTFOUND, "provider %s answered HTTP %ld", provider,
                status);
    return 0;
}

/* The deployment's on-chain version. */
static int pd_version_get(kumo_provider_daemon_t *d,
                          const char *owner,
                          uint64_t dseq,
                          uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          kumo_err_ctx_t *err)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, owner, dseq);
    json_t *dep = NULL;
    KUMO_GUARD(pd_http_on(d->curl, d->cfg.node_url, path, NULL, &dep, err));
    const char *hex = json_string_value(json_object_get(dep, "version"));
    size_t len = 0;
    int rc = hex != NULL &&
                     kumo_codec_hex_decode(hex, version, KUMO_CRYPTO_HASH_BYTES, &len, NULL) == 0 &&
                     len == KUMO_CRYPTO_HASH_BYTES
                 ? 0
                 : kumo_err_set(err, KUMO_EDECODE, "deployment without a version");
    json_decref(dep);
    return rc;
}

/* The version proves only that the tenant put these bytes on chain: like an upload, a
 * manifest from a peer must fit the deployment's leases, or it is not stored (and so never
 * runs here). */
static int pd_peer_manifest_check(kumo_provider_daemon_t *d,
                                  const char *peer,
                                  const char *owner,
                                  uint64_t dseq,
                                  kumo_bytes_t bytes,
                                  kumo_err_ctx_t *err)
{
    kumo_err_ctx_t cerr = {0};
    int rc = pd_manifest_bytes_verify(d->curl, d->cfg.node_url, owner, dseq, bytes, &cerr);
    KUMO_ENSURE(rc == 0, err, rc, "provider %s sent a manifest that breaks the lease: %s", peer,
                cerr.detail);
    return 0;
}

/* Tries one peer; 0 when its manifest matched and was stored. */
static int pd_peer_try(kumo_provider_daemon_t *d,
                       const char *peer,
                       const char *owner,
                       uint64_t dseq,
                       const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                       kumo_err_ctx_t *err)
{
    kumo_buf_t body;
    kumo_buf_init(&body, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_peer_get(d, d->curl, peer, owner, dseq, "manifest", &body, NULL, err);
    if (rc == 0 && (kumo_crypto_merkle_root(kumo_buf_bytes(&body), root) != 0 ||
                    memcmp(root, version, sizeof(root)) != 0)) {
        rc = kumo_err_set(err, KUMO_EMISMATCH, "provider %s sent a manifest of another version",
                          peer);
    }
    rc = rc == 0 ? pd_peer_manifest_check(d, peer, owner, dseq, kumo_buf_bytes(&body), err) : rc;
    rc = rc == 0 ? pd_manifest_store(d->home, owner, dseq, kumo_buf_bytes(&body), err) : rc;
    if (rc == 0) {
        KUMO_LOG_INFO("provider", "manifest_fetched", "deployment=%s/%" PRIu64 " from=%s bytes=%zu",
                      owner, dseq, peer, body.len);
    }
    kumo_buf_free(&body);
    return rc;
}

/* The deployment's active leases (the node's list; peers are those of other providers). */
static int pd_peers(kumo_provider_daemon_t *d,
                    CURL *node,
                    const char *owner,
                    uint64_t dseq,
                    json_t **list,
                    kumo_err_ctx_t *err)
{
    KUMO_GUARD(pd_peer_tls(d, err));
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&state=LEASE_ACTIVE&limit=100", owner, dseq);
    return pd_http_on(node, d->cfg.node_url, path, NULL, list, err);
}

static const char *pd_peer_of(const kumo_provider_daemon_t *d, const json_t *lease)
{
    const char *peer = json_string_value(json_object_get(json_object_get(lease, "id"), "provider"));
    return peer != NULL && strcmp(peer, d->addr) != 0 ? peer : NULL;
}

/* ---- endpoints ---- */

static bool pd_ep_port(const json_t *j, uint32_t *out)
{
    json_int_t v = json_is_integer(j) ? json_integer_value(j) : 0;
    *out = v >= 1 && v <= 65535 ? (uint32_t)v : 0u;
    return *out != 0;
}

/* Whether (workload, port) is one of wanted's. */
static bool pd_ep_wanted(const kumo_provider_link_t *wanted,
                         size_t wanted_count,
                         const char *workload,
                         uint32_t port)
{
    for (size_t i = 0; i < wanted_count; i++) {
        if (wanted[i].port == port && strcmp(wanted[i].workload, workload) == 0) {
            return true;
        }
    }
    return false;
}

/* One endpoint of a peer's answer into l; false if it breaks a rule. */
static bool pd_ep_take(const json_t *e,
                       const char *peer_host,
                       const char *allow,
                       const kumo_provider_link_t *wanted,
                       size_t wanted_count,
                       kumo_provider_link_t *l)
{
    const char *w = json_string_value(json_object_get(e, "workload"));
    const char *h = json_string_value(json_object_get(e, "host"));
    if (w == NULL || h == NULL || strlen(w) > KUMO_NAME_BYTES_MAX ||
        strlen(h) > KUMO_PROVIDER_HOST_BYTES_MAX ||
        !pd_ep_port(json_object_get(e, "port"), &l->port) ||
        !pd_ep_port(json_object_get(e, "host_port"), &l->host_port)) {
        return false;
    }
    /* Only the peer's own public address, only ports the chain's lease and the manifest let it
     * publish for that workload. */
    if (!pd_ep_wanted(wanted, wanted_count, w, l->port) || strcmp(h, peer_host) != 0 ||
        !kumo_overlay_address_allowed(h, allow)) {
        return false;
    }
    (void)snprintf(l->workload, sizeof(l->workload), "%s", w);
    (void)snprintf(l->host, sizeof(l->host), "%s", h);
    return true;
}

int kumo_provider_peer_endpoints_parse(const uint8_t *body,
                                       size_t len,
                                       const char *peer_host,
                                       const char *allow,
                                       const kumo_provider_link_t *wanted,
                                       size_t wanted_count,
                                       kumo_provider_link_t *out,
                                       size_t cap,
                                       size_t *count,
                                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(peer_host != NULL && count != NULL);
    KUMO_ASSERT(out != NULL || cap == 0);
    *count = 0;
    KUMO_ENSURE(len <= KUMO_PROVIDER_LINKS_BYTES_MAX, err, KUMO_ELIMIT, "endpoints over %u bytes",
                KUMO_PROVIDER_LINKS_BYTES_MAX);
    json_t *j = len > 0 ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *eps = json_object_get(j, "endpoints");
    if (!json_is_array(eps)) {
        json_decref(j);
        return kumo_err_set(err, KUMO_EDECODE, "expected {\"endpoints\": [...]}");
    }
    size_t skipped = 0;
    for (size_t i = 0; i < json_array_size(eps) && i < PD_PEER_ENDPOINT_COUNT_MAX; i++) {
        kumo_provider_link_t l;
        memset(&l, 0, sizeof(l));
        if (*count >= cap ||
            !pd_ep_take(json_array_get(eps, i), peer_host, allow, wanted, wanted_count, &l)) {
            skipped++;
            continue;
        }
        out[(*count)++] = l;
    }
    json_decref(j);
    KUMO_ASSERT(*count <= cap);
    return skipped > 0 ? 1 : 0;
}

/* What a provider holding the lease of group gseq may publish: every (workload, port) of that
 * group that the manifest publishes for other groups. */
static size_t pd_ep_wanted_of(const Kumo__Manifest *m,
                              const char *group,
                              kumo_provider_link_t *wanted,
                              size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t p = 0; strcmp(w->group, group) == 0 && p < w->n_ports && n < cap; p++) {
            if (kumo_overlay_port_published(m, w, w->ports[p])) {
                memset(&wanted[n], 0, sizeof(wanted[n]));
                (void)snprintf(wanted[n].workload, sizeof(wanted[n].workload), "%s", w->name);
                wanted[n++].port = w->ports[p]->port;
            }
        }
    }
    return n;
}

/* The deployment a gather works on. */
typedef struct pd_ep_ctx {
    kumo_provider_daemon_t *d;
    CURL *node;
    const char *owner;
    uint64_t dseq;
    Kumo__Manifest *m;
    char groups[64][KUMO_NAME_BYTES_MAX + 1];
    uint32_t group_count;
    kumo_provider_link_t wanted[KUMO_PROVIDER_LINK_COUNT_MAX];
    uint32_t unanswered; /* providers whose endpoints could not be read */
    char unanswered_detail[KUMO_ERR_DETAIL_BYTES];
} pd_ep_ctx_t;

/* Appends the endpoints one lease's provider publishes (checked) to out. */
static void pd_ep_lease(
    pd_ep_ctx_t *c, const json_t *lease, kumo_provider_link_t *out, size_t cap, size_t *count)
{
    const char *peer = pd_peer_of(c->d, lease);
    uint64_t gseq = pd_u64(json_object_get(json_object_get(lease, "id"), "order"), "gseq");
    if (peer == NULL || gseq >= c->group_count || *count >= cap) {
        return;
    }
    size_t wanted = pd_ep_wanted_of(c->m, c->groups[gseq], c->wanted, KUMO_PROVIDER_LINK_COUNT_MAX);
    kumo_buf_t body;
    kumo_buf_init(&body, KUMO_PROVIDER_LINKS_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    char host[KUMO_OVERLAY_FWD_HOST_BYTES];
    size_t got = 0;
    int rc = wanted > 0 ? pd_peer_get(c->d, c->node, peer, c->owner, c->dseq, "endpoints", &body,
                                      host, &err)
                        : KUMO_ENOTFOUND;
    rc = rc == 0
             ? kumo_provider_peer_endpoints_parse(body.ptr, body.len, host,
                                                  c->d->cfg.peer_address_allow, c->wanted, wanted,
                                                  out + *count, cap - *count, &got, &err)
             : rc;
    if (rc < 0 && rc != KUMO_ENOTFOUND) {
        c->unanswered++;
        (void)snprintf(c->unanswered_detail, sizeof(c->unanswered_detail), "%s", err.detail);
        KUMO_LOG_DEBUG("provider", "peer_endpoints_failed",
                       "deployment=%s/%" PRIu64 " from=%s detail=\"%s\"", c->owner, c->dseq, peer,
                       err.detail);
    }
    if (rc == 1) {
        KUMO_LOG_WARN("provider", "peer_endpoints_refused",
                      "deployment=%s/%" PRIu64 " from=%s host=%s kept=%zu", c->owner, c->dseq, peer,
                      host, got);
    }
    *count += rc >= 0 ? got : 0u;
    kumo_buf_free(&body);
}

int pd_peer_links_gather(kumo_provider_daemon_t *d,
                         CURL *node,
                         const char *owner,
                         uint64_t dseq,
                         kumo_provider_link_t *out,
                         size_t cap,
                         size_t *count,
                         uint32_t *unanswered,
                         kumo_err_ctx_t *err)
{
    *count = 0;
    pd_ep_ctx_t *c = kumo_calloc(1, sizeof(*c));
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "endpoints");
    c->d = d;
    c->node = node;
    c->owner = owner;
    c->dseq = dseq;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    json_t *list = NULL;
    int rc = pd_manifest_load(d->home, owner, dseq, &c->m, version, err);
    rc = rc == 0 ? pd_group_names(node, d->cfg.node_url, owner, dseq, c->groups, 64,
                                  &c->group_count, err)
                 : rc;
    rc = rc == 0 ? pd_peers(d, node, owner, dseq, &list, err) : rc;
    size_t i;
    const json_t *l;
    json_array_foreach(rc == 0 ? json_object_get(list, "items") : NULL, i, l)
    {
        pd_ep_lease(c, l, out, cap, count);
    }
    json_decref(list);
    if (c->m != NULL) {
        kumo_codec_free(&c->m->base);
    }
    if (unanswered != NULL) {
        *unanswered = c->unanswered;
    }
    if (rc == 0 && c->unanswered > 0 && err != NULL) {
        (void)snprintf(err->detail, sizeof(err->detail), "%s", c->unanswered_detail);
    }
    kumo_free(c);
    return rc;
}

int pd_links_fetch(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, kumo_err_ctx_t *err)
{
    kumo_provider_link_t *got = kumo_calloc(KUMO_PROVIDER_LINK_COUNT_MAX, sizeof(*got));
    KUMO_ENSURE(got != NULL, err, KUMO_ENOMEM, "links");
    size_t n = 0;
    int rc = pd_peer_links_gather(d, d->curl, owner, dseq, got, KUMO_PROVIDER_LINK_COUNT_MAX, &n,
                                  NULL, err);
    json_t *links = json_array();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        (void)json_array_append_new(links,
                                    json_pack("{s:s, s:I, s:s, s:I}", "workload", got[i].workload,
                                              "port", (json_int_t)got[i].port, "host", got[i].host,
                                              "host_port", (json_int_t)got[i].host_port));
    }
    kumo_free(got);
    json_t *j = json_pack("{s:o}", "links", links);
    char *text = rc == 0 && n > 0 && j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    KUMO_GUARD(rc);
    char path[PD_PATH_BYTES];
    json_t *had = pd_deployment_path(d->home, owner, dseq, "links", path) == 0
                      ? json_load_file(path, 0, NULL)
                      : NULL;
    char *old = had != NULL ? json_dumps(had, JSON_COMPACT) : NULL;
    json_decref(had);
    bool same = old != NULL && text != NULL && strcmp(old, text) == 0;
    rc = text == NULL ? kumo_err_set(err, KUMO_ENOTFOUND, "no peer endpoints yet")
         : same       ? 0
                      : pd_deployment_store(d->home, owner, dseq, "links",
                                            kumo_bytes_make((const uint8_t *)text, strlen(text)), err);
    free(old);
    free(text);
    return rc == 0 && !same ? 1 : rc;
}

int pd_manifest_fetch(kumo_provider_daemon_t *d,
                      const char *owner,
                      uint64_t dseq,
                      kumo_err_ctx_t *err)
{
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    KUMO_GUARD(pd_version_get(d, owner, dseq, version, err));
    json_t *list = NULL;
    KUMO_GUARD(pd_peers(d, d->curl, owner, dseq, &list, err));
    bool tried = false;
    int rc = pd_chunks_fetch(d, owner, dseq, version, list, &tried, err);
    if (tried) {
        json_decref(list);
        return rc;
    }
    /* No peer serves chunks of the version (older providers): whole manifests, as before. */
    rc = KUMO_ENOTFOUND;
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(list, "items"), i, l)
    {
        const char *peer = pd_peer_of(d, l);
        if (rc != 0 && peer != NULL) {
            kumo_err_ctx_t perr = {0};
            rc = pd_peer_try(d, peer, owner, dseq, version, &perr);
            if (rc != 0) {
                KUMO_LOG_INFO("provider", "manifest_fetch_failed", "from=%s detail=\"%s\"", peer,
                              perr.detail);
            }
        }
    }
    json_decref(list);
    return rc == 0 ? 0 : kumo_err_set(err, KUMO_ENOTFOUND, "no peer had the manifest");
}
