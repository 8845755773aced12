/*
 * peer.c - peer-to-peer manifest delivery between the providers of one deployment: a
 * provider that holds an active lease but no manifest (it won a group that was re-ordered
 * after another provider went stale, or the tenant uploaded to the others only) asks the
 * other lease holders for GET /deployments/{owner}/{dseq}/manifest. It proves who it is with
 * a certificate made from its account key (the address the chain lists on its lease), checks
 * the peer's server certificate against the peer's on-chain root, and keeps the bytes only if
 * their Merkle root is the deployment's on-chain version, so a lying peer cannot plant a
 * manifest. Blocking libcurl on the main thread, bounded by short timeouts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec/codec.h"
#include "log/log.h"
#include "provider/daemon_int.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define PD_PEER_CONNECT_MS 2000L
#define PD_PEER_TIMEOUT_MS 5000L
#define PD_PEER_CERT_DAYS  3650u

static size_t pd_peer_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    return kumo_buf_append(ctx, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static int pd_peer_tls(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    if (d->peer_cert_pem.len > 0) {
        return 0;
    }
    kumo_buf_init(&d->peer_cert_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&d->peer_key_pem, KUMO_TLS_PEM_BYTES_MAX);
    KUMO_GUARD(kumo_tls_key_pem(&d->key, &d->peer_key_pem, err));
    return kumo_tls_cert_self_signed(&d->key, d->addr, PD_PEER_CERT_DAYS, &d->peer_cert_pem, err);
}

/* GET .../<what> of the deployment from one provider (by address) into out. */
static int pd_peer_get(kumo_provider_daemon_t *d,
                       const char *provider,
                       const char *owner,
                       uint64_t dseq,
                       const char *what,
                       kumo_buf_t *out,
                       kumo_err_ctx_t *err)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/providers/%s", provider);
    json_t *p = NULL;
    KUMO_GUARD(pd_http_on(d->curl, d->cfg.node_url, path, NULL, &p, err));
    const char *uri = json_string_value(json_object_get(p, "host_uri"));
    const char *root = json_string_value(json_object_get(p, "root_cert_pem"));
    char url[512];
    int n = uri != NULL ? snprintf(url, sizeof(url), "%s/deployments/%s/%" PRIu64 "/%s", uri, owner,
                                   dseq, what)
                        : -1;
    CURL *c = n > 0 && (size_t)n < sizeof(url) && root != NULL ? curl_easy_init() : NULL;
    if (c == NULL) {
        json_decref(p);
        return kumo_err_set(err, KUMO_EINVAL, "provider %s has no usable host_uri", provider);
    }
    struct curl_blob ca = {(void *)(uintptr_t)root, strlen(root), CURL_BLOB_COPY};
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
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    json_decref(p);
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
    int rc = pd_peer_get(d, peer, owner, dseq, "manifest", &body, err);
    if (rc == 0 && (kumo_crypto_merkle_root(kumo_buf_bytes(&body), root) != 0 ||
                    memcmp(root, version, sizeof(root)) != 0)) {
        rc = kumo_err_set(err, KUMO_EMISMATCH, "provider %s sent a manifest of another version",
                          peer);
    }
    rc = rc == 0 ? pd_peer_manifest_check(d, peer, owner, dseq, kumo_buf_bytes(&body), err) : rc;
    rc = rc == 0 ? pd_deployment_store(d->home, owner, dseq, "manifest", kumo_buf_bytes(&body), err)
                 : rc;
    if (rc == 0) {
        KUMO_LOG_INFO("provider", "manifest_fetched", "deployment=%s/%" PRIu64 " from=%s bytes=%zu",
                      owner, dseq, peer, body.len);
    }
    kumo_buf_free(&body);
    return rc;
}

/* The deployment's active leases (the node's list; peers are those of other providers). */
static int pd_peers(
    kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, json_t **list, kumo_err_ctx_t *err)
{
    KUMO_GUARD(pd_peer_tls(d, err));
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&state=LEASE_ACTIVE&limit=100", owner, dseq);
    return pd_http_on(d->curl, d->cfg.node_url, path, NULL, list, err);
}

static const char *pd_peer_of(const kumo_provider_daemon_t *d, const json_t *lease)
{
    const char *peer = json_string_value(json_object_get(json_object_get(lease, "id"), "provider"));
    return peer != NULL && strcmp(peer, d->addr) != 0 ? peer : NULL;
}

/* Appends one peer's deployment-scope endpoints to links. */
static void pd_peer_endpoints(
    kumo_provider_daemon_t *d, const char *peer, const char *owner, uint64_t dseq, json_t *links)
{
    kumo_buf_t body;
    kumo_buf_init(&body, KUMO_PROVIDER_LINKS_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    json_t *j = pd_peer_get(d, peer, owner, dseq, "endpoints", &body, &err) == 0
                    ? json_loadb((const char *)body.ptr, body.len, 0, NULL)
                    : NULL;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(j, "endpoints"), i, e)
    {
        const char *w = json_string_value(json_object_get(e, "workload"));
        const char *host = json_string_value(json_object_get(e, "host"));
        if (w != NULL && host != NULL && json_array_size(links) < KUMO_PROVIDER_LINK_COUNT_MAX) {
            (void)json_array_append_new(links,
                                        json_pack("{s:s, s:O, s:s, s:O}", "workload", w, "port",
                                                  json_object_get(e, "port"), "host", host,
                                                  "host_port", json_object_get(e, "host_port")));
        }
    }
    json_decref(j);
    kumo_buf_free(&body);
}

int pd_links_fetch(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, kumo_err_ctx_t *err)
{
    json_t *list = NULL;
    KUMO_GUARD(pd_peers(d, owner, dseq, &list, err));
    json_t *links = json_array();
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(list, "items"), i, l)
    {
        const char *peer = pd_peer_of(d, l);
        if (peer != NULL) {
            pd_peer_endpoints(d, peer, owner, dseq, links);
        }
    }
    json_decref(list);
    size_t n = json_array_size(links);
    json_t *j = json_pack("{s:o}", "links", links);
    char *text = n > 0 && j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char path[PD_PATH_BYTES];
    json_t *had = pd_deployment_path(d->home, owner, dseq, "links", path) == 0
                      ? json_load_file(path, 0, NULL)
                      : NULL;
    char *old = had != NULL ? json_dumps(had, JSON_COMPACT) : NULL;
    json_decref(had);
    bool same = old != NULL && text != NULL && strcmp(old, text) == 0;
    int rc = text == NULL ? kumo_err_set(err, KUMO_ENOTFOUND, "no peer endpoints yet")
             : same
                 ? 0
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
    KUMO_GUARD(pd_peers(d, owner, dseq, &list, err));
    int rc = KUMO_ENOTFOUND;
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
