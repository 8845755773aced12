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
 * Tunnels (the LeasedWorkload exchange): a peer's GET .../endpoints answer names, per workload
 * it runs, the lease, its tunnel server's address and the certificates it presents. An address
 * counts only when its host is that provider's public address, the host of its on-chain
 * host_uri, which must itself be a public address (or listed in peer_address_allow). So no
 * peer can point a tunnel at the provider's loopback, a container of another tenant, a
 * private network or any other machine.
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

int pd_peer_target_load(
    kumo_client_t *node, const char *provider, pd_peer_target_t *t, char *host, kumo_err_ctx_t *err)
{
    memset(t, 0, sizeof(*t));
    char path[256];
    (void)snprintf(path, sizeof(path), "/providers/%s", provider);
    json_t *p = NULL;
    KUMO_GUARD(kumo_client_get(node, path, &p, err));
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

CURLcode pd_peer_perform_within(CURL *c, uint64_t budget_ms, uint64_t *spent_ms)
{
    KUMO_ASSERT(c != NULL && spent_ms != NULL);
    *spent_ms = 0;
    if (budget_ms == 0) {
        return CURLE_OPERATION_TIMEDOUT;
    }
    /* 0 would mean curl's default (minutes): the budget is at least 1 ms here. */
    long total_ms = budget_ms < (uint64_t)PD_PEER_TIMEOUT_MS ? (long)budget_ms : PD_PEER_TIMEOUT_MS;
    long connect_ms = total_ms < PD_PEER_CONNECT_MS ? total_ms : PD_PEER_CONNECT_MS;
    KUMO_ASSERT(total_ms >= 1 && connect_ms >= 1);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    uint64_t t0 = pd_now_ms();
    CURLcode cc = curl_easy_perform(c);
    uint64_t t1 = pd_now_ms();
    *spent_ms = t1 > t0 ? t1 - t0 : 0u;
    return cc;
}

/* GET .../<what> of the deployment from one provider (by address) into out; host (cap
 * KUMO_OVERLAY_FWD_HOST_BYTES, may be NULL) gets the host of its on-chain host_uri. */
static int pd_peer_get(kumo_provider_daemon_t *d,
                       kumo_client_t *node,
                       const char *provider,
                       const char *owner,
                       uint64_t dseq,
                       const char *what,
                       kumo_buf_t *out,
                       char *host,
                       kumo_err_ctx_t *err)
{
    pd_peer_target_t t;
    KUMO_GUARD(pd_peer_target_load(node, provider, &t, host, err));
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
    int rc = pd_manifest_bytes_verify(d->client, owner, dseq, bytes, &cerr);
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
    int rc = pd_peer_get(d, d->client, peer, owner, dseq, "manifest", &body, NULL, err);
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

int pd_peer_leases(kumo_provider_daemon_t *d,
                   kumo_client_t *node,
                   const char *owner,
                   uint64_t dseq,
                   json_t **list,
                   kumo_err_ctx_t *err)
{
    KUMO_GUARD(pd_peer_tls(d, err));
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&state=LEASE_ACTIVE&limit=100", owner, dseq);
    return kumo_client_get(node, path, list, err);
}

/* ---- tunnels (the LeasedWorkload exchange) ---- */

/* A workload name as a tunnel identity takes it: 1..64 of [a-z0-9._-]. */
static bool pd_tn_name_ok(const char *s)
{
    size_t n = s != NULL ? strnlen(s, KUMO_OVERLAY_TUNNEL_TEXT_BYTES) : 0;
    if (n == 0 || n >= KUMO_OVERLAY_TUNNEL_TEXT_BYTES) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

/* An integer of 0..2^32-1 (min 1 when not zero_ok) into *out. */
static bool pd_tn_u32(const json_t *j, bool zero_ok, uint32_t *out)
{
    json_int_t v = json_is_integer(j) ? json_integer_value(j) : -1;
    bool ok = v >= (zero_ok ? 0 : 1) && v <= (json_int_t)UINT32_MAX;
    *out = ok ? (uint32_t)v : 0u;
    return ok;
}

/* "host:port" or "[v6]:port" into t->host and t->port. */
static bool pd_tn_address(const char *a, kumo_provider_peer_tunnel_t *t)
{
    const char *colon = a != NULL ? strrchr(a, ':') : NULL;
    if (colon == NULL || colon == a || colon[1] == '\0' || strlen(colon + 1) > 5) {
        return false;
    }
    const char *h = a;
    size_t hl = (size_t)(colon - a);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']') {
            return false;
        }
        h++;
        hl -= 2;
    }
    uint32_t port = 0;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        port = port * 10u + (uint32_t)(*p - '0');
    }
    if (hl == 0 || hl >= sizeof(t->host) || port == 0 || port > 65535u) {
        return false;
    }
    memcpy(t->host, h, hl);
    t->host[hl] = '\0';
    t->port = (uint16_t)port;
    return true;
}

static bool pd_tn_certificates(const json_t *certs, uint32_t *count)
{
    if (!json_is_array(certs) || json_array_size(certs) > KUMO_PROVIDER_PEER_CERT_COUNT_MAX) {
        return false;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(certs, i, c)
    {
        if (!json_is_string(c) || json_string_length(c) > KUMO_TLS_PEM_BYTES_MAX) {
            return false;
        }
    }
    *count = (uint32_t)json_array_size(certs);
    return true;
}

/* One entry of a peer's "tunnels" into t; false if it breaks a rule. */
static bool pd_tn_take(const json_t *e,
                       const char *peer_host,
                       const char *allow,
                       kumo_provider_peer_tunnel_t *t)
{
    const char *w = json_string_value(json_object_get(e, "workload"));
    if (!pd_tn_name_ok(w) || !pd_tn_u32(json_object_get(e, "gseq"), true, &t->gseq) ||
        !pd_tn_u32(json_object_get(e, "oseq"), false, &t->oseq) ||
        !pd_tn_address(json_string_value(json_object_get(e, "address")), t) ||
        !pd_tn_certificates(json_object_get(e, "certificates"), &t->certificate_count)) {
        return false;
    }
    /* Only the peer's own public address: never a host its tenant or anyone else picked. */
    if (strcmp(t->host, peer_host) != 0 || !kumo_overlay_address_allowed(t->host, allow)) {
        return false;
    }
    (void)snprintf(t->workload, sizeof(t->workload), "%s", w);
    return true;
}

int kumo_provider_peer_tunnels_parse(const uint8_t *body,
                                     size_t len,
                                     const char *peer_host,
                                     const char *allow,
                                     kumo_provider_peer_tunnel_t *out,
                                     size_t cap,
                                     size_t *count,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(peer_host != NULL && count != NULL);
    KUMO_ASSERT(out != NULL || cap == 0);
    *count = 0;
    KUMO_ENSURE(len <= KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX, err, KUMO_ELIMIT,
                "endpoints answer over %u bytes", KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX);
    json_t *j = len > 0 ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return kumo_err_set(err, KUMO_EDECODE, "expected a JSON object");
    }
    const json_t *ts = json_object_get(j, "tunnels");
    size_t skipped = ts != NULL && !json_is_array(ts) ? 1u : 0u;
    for (size_t i = 0; i < json_array_size(ts) && i < KUMO_PROVIDER_PEER_TUNNEL_COUNT_MAX; i++) {
        kumo_provider_peer_tunnel_t t;
        memset(&t, 0, sizeof(t));
        if (*count >= cap || !pd_tn_take(json_array_get(ts, i), peer_host, allow, &t)) {
            skipped++;
            continue;
        }
        out[(*count)++] = t;
    }
    json_decref(j);
    KUMO_ASSERT(*count <= cap);
    return skipped > 0 ? 1 : 0;
}

int pd_manifest_fetch(kumo_provider_daemon_t *d,
                      const char *owner,
                      uint64_t dseq,
                      const char *prefer,
                      kumo_err_ctx_t *err)
{
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "fetch");
    bool cached = false;
    int rc = pd_parts_lookup(d->parts, d->client, owner, dseq, false, e, &cached, err);
    if (rc == 0 && !e->active) {
        rc = kumo_err_set(err, KUMO_EDECODE, "deployment without a version");
    }
    rc = rc == 0 ? pd_peer_tls(d, err) : rc;
    bool tried = false;
    rc = rc == 0 ? pd_chunks_fetch(d, e, prefer, &tried, err) : rc;
    if (tried || e->holder_count == 0) {
        kumo_free(e);
        return rc;
    }
    /* No peer serves chunks of the version (older providers): whole manifests, as before. */
    rc = KUMO_ENOTFOUND;
    for (uint32_t i = 0; rc != 0 && i < e->holder_count; i++) {
        const char *peer = e->holders[i];
        if (strcmp(peer, d->addr) == 0) {
            continue;
        }
        kumo_err_ctx_t perr = {0};
        rc = pd_peer_try(d, peer, owner, dseq, e->version, &perr);
        if (rc != 0) {
            KUMO_LOG_INFO("provider", "manifest_fetch_failed", "from=%s detail=\"%s\"", peer,
                          perr.detail);
        }
    }
    kumo_free(e);
    return rc == 0 ? 0 : kumo_err_set(err, KUMO_ENOTFOUND, "no peer had the manifest");
}

int pd_manifest_fetch_due(kumo_provider_daemon_t *d,
                          const char *owner,
                          uint64_t dseq,
                          const char *prefer,
                          kumo_err_ctx_t *err)
{
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "fetch");
    bool cached = false;
    uint8_t stored[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_parts_lookup(d->parts, d->client, owner, dseq, false, e, &cached, err);
    bool due = rc == 0 && e->active && pd_parts_holds(e, d->addr) &&
               (pd_manifest_stored_version(d->home, owner, dseq, stored, NULL) != 0 ||
                memcmp(stored, e->version, sizeof(stored)) != 0);
    kumo_free(e);
    KUMO_GUARD(rc);
    return due ? pd_manifest_fetch(d, owner, dseq, prefer, err) : 1;
}

/* ---- announcing a manifest held (PUT .../manifest-have) ---- */

static size_t pd_peer_discard_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * nmemb;
}

void pd_manifest_announce(kumo_provider_daemon_t *d,
                          kumo_client_t *node,
                          const char *owner,
                          uint64_t dseq,
                          const char *only)
{
    kumo_err_ctx_t err = {0};
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    pd_peer_target_t *t = kumo_calloc(PD_PARTS_HOLDER_MAX, sizeof(*t));
    CURL **h = kumo_calloc(PD_PARTS_HOLDER_MAX, sizeof(*h));
    CURLM *multi = curl_multi_init();
    bool cached = false;
    uint8_t stored[KUMO_CRYPTO_HASH_BYTES];
    char what[160];
    uint64_t start_ms = pd_now_ms();
    bool ok = e != NULL && t != NULL && h != NULL && multi != NULL && pd_peer_tls(d, &err) == 0 &&
              pd_parts_lookup(d->parts, node, owner, dseq, false, e, &cached, &err) == 0 &&
              e->active && pd_manifest_stored_version(d->home, owner, dseq, stored, NULL) == 0 &&
              memcmp(stored, e->version, sizeof(stored)) == 0;
    if (ok) {
        (void)snprintf(what, sizeof(what), "manifest-have?version=");
        ok = kumo_codec_hex_encode(kumo_bytes_make(stored, sizeof(stored)), what + strlen(what),
                                   sizeof(what) - strlen(what)) == 0;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; ok && i < e->holder_count; i++) {
        const char *p = e->holders[i];
        if (strcmp(p, d->addr) == 0 || (only != NULL && only[0] != '\0' && strcmp(p, only) != 0) ||
            pd_parts_target_load(d->parts, node, p, &t[count], &err) != 0) {
            continue;
        }
        h[count] = pd_peer_handle(d, &t[count], owner, dseq, what, NULL);
        if (h[count] == NULL) {
            pd_peer_target_free(&t[count]);
            continue;
        }
        (void)curl_easy_setopt(h[count], CURLOPT_WRITEFUNCTION, pd_peer_discard_cb);
        (void)curl_easy_setopt(h[count], CURLOPT_CUSTOMREQUEST, "PUT");
        (void)curl_easy_setopt(h[count], CURLOPT_POSTFIELDS, "");
        (void)curl_easy_setopt(h[count], CURLOPT_POSTFIELDSIZE, 0L);
        (void)curl_multi_add_handle(multi, h[count]);
        count++;
    }
    uint64_t found_ms = pd_now_ms();
    int running = count > 0 ? 1 : 0;
    while (running > 0 && !*d->stop) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            break;
        }
        if (running > 0) {
            (void)curl_multi_poll(multi, NULL, 0, 200, NULL);
        }
    }
    uint32_t answered = 0;
    for (uint32_t i = 0; i < count; i++) {
        long status = 0;
        (void)curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &status);
        answered += status == 202 ? 1u : 0u;
        (void)curl_multi_remove_handle(multi, h[i]);
        curl_easy_cleanup(h[i]);
        pd_peer_target_free(&t[i]);
    }
    if (count > 0) {
        KUMO_LOG_INFO("provider", "manifest_announced",
                      "deployment=%s/%" PRIu64 " peers=%" PRIu32 " answered=%" PRIu32
                      " lookup_ms=%" PRIu64 " ms=%" PRIu64,
                      owner, dseq, count, answered, found_ms - start_ms, pd_now_ms() - start_ms);
    }
    if (multi != NULL) {
        (void)curl_multi_cleanup(multi);
    }
    kumo_free(h);
    kumo_free(t);
    kumo_free(e);
}
