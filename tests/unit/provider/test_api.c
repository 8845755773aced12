/*
 * test_api.c - the provider API over real TLS 1.3 on loopback, with a fake backend (the one
 * place a fake is right: the backend is the daemon). The server certificate is issued by the
 * provider root; libcurl verifies it against that root and presents a client certificate
 * made from the caller's account key. Every refusal of the manifest upload gets its own code
 * and never reaches the backend's accept; the accept path, status and logs work for the
 * owner, and for a grantee within its grant (the decision alone, then over TLS); GET /status
 * needs no certificate.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "codec/codec.h"
#include "provider/api_int.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

static struct event_base *base;
static kumo_provider_api_t *api;
static pthread_t loop_thread;
static volatile int loop_stop;
static kumo_buf_t root_pem;
static kumo_buf_t owner_cert;
static kumo_buf_t owner_key;
static kumo_buf_t other_cert;
static kumo_buf_t other_key;
static uint8_t owner_addr[KUMO_ADDRESS_BYTES];
static char owner_text[KUMO_ADDRESS_TEXT_BYTES];
static kumo_buf_t manifest;
static uint8_t manifest_root[KUMO_CRYPTO_HASH_BYTES];
static volatile int accepts;
static volatile int lease_held = 1;

static int be_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)err;
    view->known = dseq == 7 && memcmp(owner, owner_addr, KUMO_ADDRESS_BYTES) == 0;
    view->has_lease = view->known && lease_held;
    memcpy(view->version, manifest_root, sizeof(view->version));
    return 0;
}

static int be_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t m,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)m;
    (void)err;
    accepts++;
    return 0;
}

static int be_status(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     json_t **out,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)err;
    *out = json_pack("{s:I, s:b}", "dseq", (json_int_t)dseq, "manifest", accepts > 0);
    return 0;
}

static int be_logs(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   const char *workload,
                   uint32_t tail,
                   kumo_buf_t *out,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)tail;
    (void)err;
    char line[128];
    int n = snprintf(line, sizeof(line), "log of %s\n", workload);
    return kumo_buf_append(out, line, (size_t)n);
}

static int be_info(void *ctx, json_t **out, kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)err;
    *out = json_pack("{s:s}", "region", "us-east");
    return 0;
}

/* Peer delivery: the owner, or "other" while it plays a provider of the deployment
 * (peer_lease), gets deployment 7's manifest or endpoints; anything else is KUMO_ENOTFOUND. */
static volatile int peer_lease;

static int be_peer_get(void *ctx,
                       const uint8_t caller[KUMO_ADDRESS_BYTES],
                       const uint8_t owner[KUMO_ADDRESS_BYTES],
                       uint64_t dseq,
                       const char *what,
                       kumo_buf_t *out,
                       kumo_err_ctx_t *err)
{
    (void)ctx;
    bool owner_ok = memcmp(owner, owner_addr, KUMO_ADDRESS_BYTES) == 0 && dseq == 7;
    bool caller_ok = memcmp(caller, owner, KUMO_ADDRESS_BYTES) == 0 || peer_lease;
    KUMO_ENSURE(owner_ok && caller_ok, err, KUMO_ENOTFOUND, "not for you");
    if (strcmp(what, "endpoints") == 0) {
        static const char eps[] = "{\"endpoints\": []}";
        return kumo_buf_append(out, eps, sizeof(eps) - 1u);
    }
    return kumo_buf_append(out, manifest.ptr, manifest.len);
}

/* Chunk routes: the same callers as peer_get; the manifest is one chunk (index 0, no proof
 * hashes) of the version manifest_root. */
static int be_chunk_info(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         kumo_provider_chunk_info_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx;
    bool owner_ok = memcmp(owner, owner_addr, KUMO_ADDRESS_BYTES) == 0 && dseq == 7;
    bool caller_ok = memcmp(caller, owner, KUMO_ADDRESS_BYTES) == 0 || peer_lease;
    KUMO_ENSURE(owner_ok && caller_ok, err, KUMO_ENOTFOUND, "not for you");
    memcpy(out->version, manifest_root, sizeof(out->version));
    out->total_bytes = manifest.len;
    out->chunk_count = 1;
    out->chunks_held = 1;
    out->manifest = true;
    return 0;
}

static int be_chunk_get(void *ctx,
                        const uint8_t caller[KUMO_ADDRESS_BYTES],
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint32_t index,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    kumo_provider_chunk_info_t info;
    KUMO_GUARD(be_chunk_info(ctx, caller, owner, dseq, &info, err));
    KUMO_ENSURE(memcmp(version, manifest_root, KUMO_CRYPTO_HASH_BYTES) == 0 && index == 0, err,
                KUMO_ENOTFOUND, "stale or not held");
    return kumo_buf_append(out, manifest.ptr, manifest.len);
}

static volatile int chunk_puts;
static volatile int haves;

/* An announcement: the same callers as the chunk routes, the current version only. */
static int be_manifest_have(void *ctx,
                            const uint8_t caller[KUMO_ADDRESS_BYTES],
                            const uint8_t owner[KUMO_ADDRESS_BYTES],
                            uint64_t dseq,
                            const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                            kumo_err_ctx_t *err)
{
    kumo_provider_chunk_info_t info;
    KUMO_GUARD(be_chunk_info(ctx, caller, owner, dseq, &info, err));
    KUMO_ENSURE(memcmp(version, manifest_root, KUMO_CRYPTO_HASH_BYTES) == 0, err, KUMO_ENOTFOUND,
                "stale");
    haves++;
    return 0;
}

/* A chunk upload: stored only when its proof leads to the version (as the daemon does). */
static int be_chunk_put(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint64_t total_bytes,
                        uint32_t index,
                        kumo_bytes_t proof,
                        kumo_bytes_t chunk,
                        kumo_provider_chunk_put_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    uint32_t count = 0;
    KUMO_GUARD(kumo_crypto_merkle_chunk_count(total_bytes, &count));
    KUMO_GUARD(kumo_crypto_merkle_proof_verify(version, index, count, chunk, proof, err));
    chunk_puts++;
    out->chunk_count = count;
    out->chunks_held = 1;
    out->accepted = count == 1;
    return 0;
}

/* Grants the fake node holds for "other" (tag 4) as a grantee of the owner; grants_rc < 0:
 * the node cannot be asked. */
static kumo_provider_grants_t grants_held;
static volatile int grants_rc;
static volatile int grants_asked;

static int be_grants(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     const uint8_t grantee[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_provider_grants_t *out,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)grantee;
    (void)dseq;
    grants_asked++;
    if (grants_rc < 0) {
        return kumo_err_set(err, grants_rc, "node down");
    }
    *out = grants_held;
    return 0;
}

static void *loop_run(void *arg)
{
    (void)arg;
    while (!loop_stop) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(base, &tv);
        (void)event_base_dispatch(base);
    }
    return NULL;
}

static void key_of(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static void client_creds(uint8_t tag, kumo_buf_t *cert, kumo_buf_t *key)
{
    kumo_crypto_keypair_t kp;
    key_of(tag, &kp);
    kumo_buf_init(cert, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(key, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_self_signed(&kp, "tenant", 1, cert, NULL), 0);
    assert_int_equal(kumo_tls_key_pem(&kp, key, NULL), 0);
}

static void manifest_make(void)
{
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = "web";
    w.image = "localhost/kumo-webapp-web:1";
    w.count = 1;
    w.group = "web";
    Kumo__ManifestWorkload *ws[1] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = ws;
    kumo_buf_init(&manifest, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, &manifest, NULL), 0);
    assert_int_equal(kumo_crypto_merkle_root(kumo_buf_bytes(&manifest), manifest_root), 0);
}

static int setup(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t srv;
    key_of(1, &ca);
    key_of(2, &srv);
    kumo_buf_init(&root_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 30, &root_pem, NULL), 0);
    assert_int_equal(kumo_tls_cert_issue(&ca, kumo_buf_bytes(&root_pem), srv.pubkey, "127.0.0.1",
                                         30, &chain, NULL),
                     0);
    assert_int_equal(kumo_buf_append(&chain, root_pem.ptr, root_pem.len), 0);
    client_creds(3, &owner_cert, &owner_key);
    client_creds(4, &other_cert, &other_key);
    kumo_crypto_keypair_t owner;
    key_of(3, &owner);
    kumo_crypto_address_from_pubkey(owner.pubkey, owner_addr);
    kumo_codec_address_encode(owner_addr, owner_text);
    manifest_make();
    base = event_base_new();
    kumo_provider_api_backend_t be = {.deployment_view = be_view,
                                      .manifest_accept = be_accept,
                                      .status = be_status,
                                      .logs = be_logs,
                                      .info = be_info,
                                      .peer_get = be_peer_get,
                                      .chunk_info = be_chunk_info,
                                      .manifest_have = be_manifest_have,
                                      .chunk_get = be_chunk_get,
                                      .chunk_put = be_chunk_put,
                                      .grants = be_grants};
    kumo_provider_api_cfg_t cfg = {
        .listen = "127.0.0.1:0", .server_cert_pem = kumo_buf_bytes(&chain), .server_key = &srv};
    kumo_err_ctx_t err = {0};
    if (kumo_provider_api_open(&cfg, base, &be, &api, &err) != 0) {
        fprintf(stderr, "api open: %s\n", err.detail);
        return -1;
    }
    kumo_buf_free(&chain);
    return pthread_create(&loop_thread, NULL, loop_run, NULL);
}

static int teardown(void **state)
{
    (void)state;
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_provider_api_close(api);
    event_base_free(base);
    return 0;
}

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
    return kumo_buf_append(ctx, p, size * n) == 0 ? size * n : 0;
}

/* Sets up a request to srv; who: 0 no client certificate, 1 owner, 2 other. */
static CURL *call_make(const kumo_provider_api_t *srv,
                       const char *method,
                       const char *path,
                       int who,
                       kumo_bytes_t body,
                       kumo_buf_t *out)
{
    static char url[512];
    (void)snprintf(url, sizeof(url), "https://%s%s", kumo_provider_api_listen_addr(srv), path);
    CURL *c = curl_easy_init();
    struct curl_blob ca = {root_pem.ptr, root_pem.len, CURL_BLOB_COPY};
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (who != 0) {
        kumo_buf_t *cert = who == 1 ? &owner_cert : &other_cert;
        kumo_buf_t *key = who == 1 ? &owner_key : &other_key;
        struct curl_blob cb = {cert->ptr, cert->len, CURL_BLOB_COPY};
        struct curl_blob kb = {key->ptr, key->len, CURL_BLOB_COPY};
        (void)curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        (void)curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        (void)curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
        (void)curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (strcmp(method, "PUT") == 0) {
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                               body.ptr != NULL ? (const char *)body.ptr : "");
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
    }
    return c;
}

/* One request; the HTTP status (0 on a transport failure). who: 0 none, 1 owner, 2 other. */
static long call(const char *method, const char *path, int who, kumo_bytes_t body, kumo_buf_t *out)
{
    CURL *c = call_make(api, method, path, who, body, out);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    return status;
}

static void test_manifest_refusals(void **state)
{
    (void)state;
    char good[256];
    char unknown[256];
    (void)snprintf(good, sizeof(good), "/deployments/%s/7/manifest", owner_text);
    (void)snprintf(unknown, sizeof(unknown), "/deployments/%s/8/manifest", owner_text);
    static uint8_t big[KUMO_PROVIDER_MANIFEST_BYTES_MAX + 1];
    uint8_t wrong[64];
    memset(wrong, 0x42, sizeof(wrong));
    const struct {
        const char *name;
        const char *path;
        int who;
        kumo_bytes_t body;
        long want;
    } rows[] = {
        {"no client certificate", good, 0, kumo_buf_bytes(&manifest), 401},
        {"bad path", "/deployments/nobody/x/manifest", 1, kumo_buf_bytes(&manifest), 400},
        {"not the owner", good, 2, kumo_buf_bytes(&manifest), 403},
        {"oversized", good, 1, kumo_bytes_make(big, sizeof(big)), 413},
        {"unknown deployment", unknown, 1, kumo_buf_bytes(&manifest), 404},
        {"wrong hash", good, 1, kumo_bytes_make(wrong, sizeof(wrong)), 409},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_buf_t out;
        kumo_buf_init(&out, 1u << 20);
        long st = call("PUT", rows[i].path, rows[i].who, rows[i].body, &out);
        if (st != rows[i].want) {
            fail_msg("%s: HTTP %ld, want %ld (%.*s)", rows[i].name, st, rows[i].want, (int)out.len,
                     out.ptr != NULL ? (const char *)out.ptr : "");
        }
        kumo_buf_free(&out);
    }
    lease_held = 0; /* known, but no lease here: the same 404 */
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_int_equal(call("PUT", good, 1, kumo_buf_bytes(&manifest), &out), 404);
    lease_held = 1;
    /* The right root, but not a canonical Manifest: 422. */
    uint8_t saved[KUMO_CRYPTO_HASH_BYTES];
    memcpy(saved, manifest_root, sizeof(saved));
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(wrong, sizeof(wrong)), manifest_root),
                     0);
    assert_int_equal(call("PUT", good, 1, kumo_bytes_make(wrong, sizeof(wrong)), &out), 422);
    memcpy(manifest_root, saved, sizeof(saved));
    assert_int_equal(accepts, 0);
    kumo_buf_free(&out);
}

/* PUT .../manifest-chunk: every refusal in the documented order, none reaching the store but
 * the bad proof (which the backend refuses without storing); then the one chunk accepted. */
static void test_chunk_upload_refusals_and_accept(void **state)
{
    (void)state;
    char total[64];
    (void)snprintf(total, sizeof(total), "?total=%zu&index=0", manifest.len);
    char over[64];
    (void)snprintf(over, sizeof(over), "?total=%u&index=0", KUMO_SDL_MANIFEST_BYTES_MAX + 1u);
    char at_max[64];
    (void)snprintf(at_max, sizeof(at_max), "?total=%u&index=0", KUMO_SDL_MANIFEST_BYTES_MAX);
    static uint8_t big[PD_CHUNK_UPLOAD_BYTES_MAX + 1];
    uint8_t *bad = kumo_alloc(manifest.len);
    assert_non_null(bad);
    memcpy(bad, manifest.ptr, manifest.len);
    bad[0] ^= 1u;
    const struct {
        const char *name;
        uint64_t dseq;
        const char *query;
        int who;
        kumo_bytes_t body;
        long want;
    } rows[] = {
        {"no client certificate", 7, total, 0, kumo_buf_bytes(&manifest), 401},
        {"not the owner", 7, total, 2, kumo_buf_bytes(&manifest), 403},
        {"no query", 7, "", 1, kumo_buf_bytes(&manifest), 400},
        {"no index", 7, "?total=10", 1, kumo_buf_bytes(&manifest), 400},
        {"declared over the limit", 7, over, 1, kumo_buf_bytes(&manifest), 413},
        {"body over a chunk and proof", 7, total, 1, kumo_bytes_make(big, sizeof(big)), 413},
        {"unknown deployment", 8, total, 1, kumo_buf_bytes(&manifest), 404},
        {"index past the count", 7, "?total=10&index=1", 1, kumo_buf_bytes(&manifest), 400},
        {"a 1-chunk body for a 256 MiB index 0", 7, at_max, 1, kumo_buf_bytes(&manifest), 400},
        {"bad proof", 7, total, 1, kumo_bytes_make(bad, manifest.len), 409},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[512];
        (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64 "/manifest-chunk%s",
                       owner_text, rows[i].dseq, rows[i].query);
        kumo_buf_t out;
        kumo_buf_init(&out, 1u << 20);
        long st = call("PUT", path, rows[i].who, rows[i].body, &out);
        if (st != rows[i].want) {
            fail_msg("%s: HTTP %ld, want %ld (%.*s)", rows[i].name, st, rows[i].want, (int)out.len,
                     out.ptr != NULL ? (const char *)out.ptr : "");
        }
        kumo_buf_free(&out);
    }
    kumo_free(bad);
    assert_int_equal(chunk_puts, 0);
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-chunk%s", owner_text, total);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_int_equal(call("PUT", path, 1, kumo_buf_bytes(&manifest), &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "\"accepted\":true", 15));
    assert_int_equal(chunk_puts, 1);
    kumo_buf_free(&out);
}

static void test_manifest_accepted_and_reads(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest", owner_text);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_int_equal(call("PUT", path, 1, kumo_buf_bytes(&manifest), &out), 200);
    assert_int_equal(accepts, 1);
    assert_non_null(memmem(out.ptr, out.len, "\"accepted\":true", 15));
    kumo_buf_reset(&out);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/status", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "\"manifest\":true", 15));
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", path, 2, kumo_bytes_make(NULL, 0), &out), 403);
    kumo_buf_reset(&out);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/logs?workload=web&tail=5", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "log of web", 10));
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", "/status", 0, kumo_bytes_make(NULL, 0), &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "us-east", 7));
    kumo_buf_free(&out);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static kumo_bytes_t text_bytes(const char *t)
{
    return kumo_bytes_make((const uint8_t *)t, strlen(t));
}

/* A grant from the owner to the caller of tag 4 ("other"). */
static kumo_provider_grant_t grant_make(uint64_t dseq, uint64_t expiry, uint32_t msg_type)
{
    kumo_provider_grant_t g;
    memset(&g, 0, sizeof(g));
    kumo_crypto_keypair_t kp;
    key_of(4, &kp);
    memcpy(g.granter, owner_addr, KUMO_ADDRESS_BYTES);
    kumo_crypto_address_from_pubkey(kp.pubkey, g.grantee);
    g.dseq = dseq;
    g.expiry_height = expiry;
    g.msg_types[0] = msg_type;
    g.msg_type_count = 1;
    return g;
}

/* The decision alone: the grant for the deployment, else the one for all; not expired at the
 * height; reads under any grant, uploads under one that allows an update (or a create, for
 * all deployments); never a shell, never another pair's grant. */
static void test_grantee_decision(void **state)
{
    (void)state;
    enum {
        DEP = KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT,
        UPD = KUMO__MSG__SUM_UPDATE_DEPLOYMENT,
        SUB = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT
    };
    kumo_provider_grant_t g7dep = grant_make(7, 100, DEP);
    kumo_provider_grant_t g7upd = grant_make(7, 100, UPD);
    kumo_provider_grant_t g7old = grant_make(7, 50, UPD);
    kumo_provider_grant_t g8upd = grant_make(8, 100, UPD);
    kumo_provider_grant_t all_sub = grant_make(0, 100, SUB);
    kumo_provider_grant_t all_dep = grant_make(0, 100, DEP);
    kumo_provider_grant_t stranger = grant_make(7, 100, UPD);
    stranger.grantee[0] ^= 1u; /* to someone else */
    kumo_provider_grant_t other_owner = grant_make(7, 100, UPD);
    other_owner.granter[0] ^= 1u;
    const uint8_t *caller = g7dep.grantee;
    const struct {
        const char *name;
        kumo_provider_grant_t a, b;
        uint32_t count;
        uint64_t height;
        pd_api_kind_t kind;
        bool want;
    } rows[] = {
        {"no grant", g7dep, g7dep, 0, 10, PD_API_STATUS, false},
        {"read under a deposit grant", g7dep, g7dep, 1, 10, PD_API_STATUS, true},
        {"logs", g7dep, g7dep, 1, 10, PD_API_LOGS, true},
        {"events", g7dep, g7dep, 1, 10, PD_API_EVENTS, true},
        {"upload needs update", g7dep, g7dep, 1, 10, PD_API_MANIFEST_PUT, false},
        {"chunk upload needs update", g7dep, g7dep, 1, 10, PD_API_CHUNK_PUT, false},
        {"upload under update", g7upd, g7upd, 1, 10, PD_API_MANIFEST_PUT, true},
        {"chunk upload under update", g7upd, g7upd, 1, 10, PD_API_CHUNK_PUT, true},
        {"never a shell", g7upd, g7upd, 1, 10, PD_API_SHELL, false},
        {"never a peer route", g7upd, g7upd, 1, 10, PD_API_PEER_GET, false},
        {"last height before expiry", g7upd, g7upd, 1, 99, PD_API_STATUS, true},
        {"expired at its height", g7upd, g7upd, 1, 100, PD_API_STATUS, false},
        {"expired long ago", g7upd, g7upd, 1, 500, PD_API_MANIFEST_PUT, false},
        {"another deployment's grant", g8upd, g8upd, 1, 10, PD_API_STATUS, false},
        {"all deployments: reads", all_dep, all_dep, 1, 10, PD_API_STATUS, true},
        {"all deployments: upload under create", all_sub, all_sub, 1, 10, PD_API_MANIFEST_PUT,
         true},
        {"all deployments: no upload under deposit", all_dep, all_dep, 1, 10, PD_API_CHUNK_PUT,
         false},
        {"the deployment's grant comes first", g7dep, all_sub, 2, 10, PD_API_MANIFEST_PUT, false},
        {"in either order", all_sub, g7dep, 2, 10, PD_API_MANIFEST_PUT, false},
        {"an expired one for the deployment", g7old, all_dep, 2, 60, PD_API_STATUS, false},
        {"all, beside another deployment's", g8upd, all_dep, 2, 10, PD_API_STATUS, true},
        {"a grant to someone else", stranger, stranger, 1, 10, PD_API_STATUS, false},
        {"a grant of another owner", other_owner, other_owner, 1, 10, PD_API_STATUS, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_provider_grants_t gs;
        memset(&gs, 0, sizeof(gs));
        gs.grants[0] = rows[i].a;
        gs.grants[1] = rows[i].b;
        gs.count = rows[i].count;
        gs.height = rows[i].height;
        if (pd_api_grantee_allows(&gs, caller, owner_addr, 7, rows[i].kind) != rows[i].want) {
            fail_msg("%s: want %s", rows[i].name, rows[i].want ? "allowed" : "refused");
        }
    }
    /* The owner is never served through a grant (it needs none). */
    kumo_provider_grants_t own;
    memset(&own, 0, sizeof(own));
    own.grants[0] = grant_make(7, 100, UPD);
    memcpy(own.grants[0].grantee, owner_addr, KUMO_ADDRESS_BYTES);
    own.count = 1;
    assert_false(pd_api_grantee_allows(&own, owner_addr, owner_addr, 7, PD_API_STATUS));
}

/* A grantee over real TLS: served what its grant allows, with the answers of the owner; the
 * same 403 as a stranger otherwise; 503 when the node cannot say; the owner never asks. */
static void test_grantee_served_within_its_grant(void **state)
{
    (void)state;
    char status[256];
    char put[256];
    char chunk[256];
    char logs[256];
    char shell[256];
    (void)snprintf(status, sizeof(status), "/deployments/%s/7/status", owner_text);
    (void)snprintf(put, sizeof(put), "/deployments/%s/7/manifest", owner_text);
    (void)snprintf(chunk, sizeof(chunk), "/deployments/%s/7/manifest-chunk?total=%zu&index=0",
                   owner_text, manifest.len);
    (void)snprintf(logs, sizeof(logs), "/deployments/%s/7/logs?workload=web", owner_text);
    (void)snprintf(shell, sizeof(shell), "/deployments/%s/7/shell", owner_text);
    kumo_bytes_t none = kumo_bytes_make(NULL, 0);
    kumo_bytes_t m = kumo_buf_bytes(&manifest);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    memset(&grants_held, 0, sizeof(grants_held));
    grants_held.height = 10;
    assert_int_equal(call("GET", status, 2, none, &out), 403);
    assert_non_null(memmem(out.ptr, out.len, "only the deployment's owner may read it", 39));
    /* A grant to deposit: reads, no upload, no shell. */
    grants_held.grants[0] = grant_make(7, 100, KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT);
    grants_held.count = 1;
    int accepted_before = accepts;
    int chunks_before = chunk_puts;
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", status, 2, none, &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "\"dseq\":7", 8));
    assert_int_equal(call("GET", logs, 2, none, &out), 200);
    kumo_buf_reset(&out);
    assert_int_equal(call("PUT", put, 2, m, &out), 403);
    assert_non_null(memmem(out.ptr, out.len, "only the deployment's owner may send", 36));
    assert_int_equal(call("PUT", chunk, 2, m, &out), 403);
    assert_int_equal(call("PUT", shell, 2, text_bytes("{\"workload\":\"web\"}"), &out), 403);
    assert_int_equal(accepts, accepted_before);
    assert_int_equal(chunk_puts, chunks_before);
    /* A grant to update: uploads, whole or in chunks; still no shell. */
    grants_held.grants[0] = grant_make(7, 100, KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
    assert_int_equal(call("PUT", put, 2, m, &out), 200);
    assert_int_equal(accepts, accepted_before + 1);
    assert_int_equal(call("PUT", chunk, 2, m, &out), 200);
    assert_int_equal(chunk_puts, chunks_before + 1);
    assert_int_equal(call("PUT", shell, 2, text_bytes("{\"workload\":\"web\"}"), &out), 403);
    /* Expired at the node's height, or another deployment's: the stranger's 403. */
    grants_held.height = 100;
    assert_int_equal(call("GET", status, 2, none, &out), 403);
    assert_int_equal(call("PUT", put, 2, m, &out), 403);
    grants_held.height = 10;
    grants_held.grants[0] = grant_make(8, 100, KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
    assert_int_equal(call("GET", status, 2, none, &out), 403);
    /* The node cannot say: 503, nothing served. */
    grants_held.grants[0] = grant_make(7, 100, KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
    grants_rc = KUMO_EIO;
    kumo_buf_reset(&out);
    assert_int_equal(call("PUT", put, 2, m, &out), 503);
    assert_non_null(memmem(out.ptr, out.len, "KUMO_EIO", 8));
    assert_int_equal(call("GET", status, 2, none, &out), 503);
    assert_int_equal(accepts, accepted_before + 1);
    /* The owner is served without a grant lookup, node or not. */
    int asked = grants_asked;
    assert_int_equal(call("GET", status, 1, none, &out), 200);
    assert_int_equal(grants_asked, asked);
    grants_rc = 0;
    grants_held.count = 0;
    kumo_buf_free(&out);
}

static void test_unknown_routes(void **state)
{
    (void)state;
    char path[256];
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    int accepted_before = accepts;
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/nothing", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 404);
    (void)snprintf(path, sizeof(path), "/deployments/%s/8/manifest", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 404);
    assert_int_equal(call("GET", "/elsewhere", 1, kumo_bytes_make(NULL, 0), &out), 400);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/logs", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 400);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/status", owner_text);
    assert_int_equal(call("GET", path, 0, kumo_bytes_make(NULL, 0), &out), 401);
    assert_int_equal(accepts, accepted_before);
    kumo_buf_free(&out);
}

/* GET .../manifest and .../endpoints: the owner and a provider of the deployment get them;
 * another caller gets the same 404 as a missing one, and no certificate is 401. */
static void test_peer_delivery(void **state)
{
    (void)state;
    char path[256];
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 200);
    assert_int_equal(out.len, manifest.len);
    assert_memory_equal(out.ptr, manifest.ptr, manifest.len);
    kumo_buf_reset(&out);
    peer_lease = 0;
    assert_int_equal(call("GET", path, 2, kumo_bytes_make(NULL, 0), &out), 404);
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", path, 0, kumo_bytes_make(NULL, 0), &out), 401);
    peer_lease = 1;
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", path, 2, kumo_bytes_make(NULL, 0), &out), 200);
    assert_int_equal(out.len, manifest.len);
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/endpoints", owner_text);
    kumo_buf_reset(&out);
    assert_int_equal(call("GET", path, 2, kumo_bytes_make(NULL, 0), &out), 200);
    assert_non_null(memmem(out.ptr, out.len, "endpoints", 9));
    peer_lease = 0;
    kumo_buf_free(&out);
}

/* GET path as who; the status, the body into out (reset first). */
static long get_as(const char *path, int who, kumo_buf_t *out)
{
    kumo_buf_reset(out);
    return call("GET", path, who, kumo_bytes_make(NULL, 0), out);
}

/* The chunk routes: info and the chunk (proof then bytes) for the owner and a peer; a bad
 * query is 400; a stranger, a stale version, a chunk not held and another deployment all get
 * the very same 404 body as an unknown manifest. */
static void test_chunk_routes(void **state)
{
    (void)state;
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(manifest_root, 32), hex, sizeof(hex)),
                     0);
    char path[512];
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    kumo_buf_t unknown;
    kumo_buf_init(&unknown, 4096);
    (void)snprintf(path, sizeof(path), "/deployments/%s/8/manifest", owner_text);
    assert_int_equal(get_as(path, 1, &unknown), 404);

    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-info", owner_text);
    assert_int_equal(get_as(path, 1, &out), 200);
    kumo_provider_chunk_info_t info;
    assert_int_equal(kumo_provider_chunk_info_parse(kumo_buf_bytes(&out), &info, NULL), 0);
    assert_memory_equal(info.version, manifest_root, 32);
    assert_int_equal(info.total_bytes, manifest.len);
    assert_int_equal(get_as(path, 2, &out), 404);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown)));

    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-chunk?version=%s&index=0",
                   owner_text, hex);
    assert_int_equal(get_as(path, 1, &out), 200);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&manifest)));
    peer_lease = 1;
    assert_int_equal(get_as(path, 2, &out), 200);
    char stale[sizeof(hex)];
    memcpy(stale, hex, sizeof(hex));
    stale[0] = stale[0] == '0' ? '1' : '0';
    static const struct {
        uint64_t dseq;
        bool stale;
        const char *index;
    } refused[] = {{7, false, "1"}, {8, false, "0"}, {7, true, "0"}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        (void)snprintf(path, sizeof(path),
                       "/deployments/%s/%" PRIu64 "/manifest-chunk?version=%s&index=%s", owner_text,
                       refused[i].dseq, refused[i].stale ? stale : hex, refused[i].index);
        assert_int_equal(get_as(path, 2, &out), 404);
        assert_true(kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown)));
    }
    peer_lease = 0;
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-chunk?version=%s&index=0",
                   owner_text, hex);
    assert_int_equal(get_as(path, 2, &out), 404);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown)));
    assert_int_equal(get_as(path, 0, &out), 401);
    static const char *malformed[] = {
        "",
        "?index=0",
        "?version=@",
        "?version=@&index=4294967296",
        "?version=@&index=-1",
        "?version=zz&index=0",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        char query[256];
        const char *at = strchr(malformed[i], '@');
        size_t head = at != NULL ? (size_t)(at - malformed[i]) : strlen(malformed[i]);
        (void)snprintf(query, sizeof(query), "%.*s%s%s", (int)head, malformed[i],
                       at != NULL ? hex : "", at != NULL ? at + 1 : "");
        (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-chunk%s", owner_text, query);
        if (get_as(path, 1, &out) != 400) {
            fail_msg("%s: not 400", path);
        }
    }
    kumo_buf_free(&unknown);
    kumo_buf_free(&out);
}

/* PUT .../manifest-have: a peer's announcement of the current version is taken (202); a
 * stranger, a stale version and another deployment get the very 404 body of an unknown
 * manifest and reach nothing; a malformed query or a body is 400. */
static void test_manifest_have(void **state)
{
    (void)state;
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(manifest_root, 32), hex, sizeof(hex)),
                     0);
    char stale[sizeof(hex)];
    memcpy(stale, hex, sizeof(hex));
    stale[0] = stale[0] == '0' ? '1' : '0';
    char path[512];
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    kumo_buf_t unknown;
    kumo_buf_init(&unknown, 4096);
    (void)snprintf(path, sizeof(path), "/deployments/%s/8/manifest", owner_text);
    assert_int_equal(get_as(path, 1, &unknown), 404);
    kumo_bytes_t none = kumo_bytes_make(NULL, 0);
    haves = 0;
    peer_lease = 1;
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-have?version=%s", owner_text,
                   hex);
    out.len = 0;
    assert_int_equal(call("PUT", path, 2, none, &out), 202);
    assert_int_equal(haves, 1);
    static const struct {
        uint64_t dseq;
        bool stale;
        int lease;
    } refused[] = {{7, true, 1}, {8, false, 1}, {7, false, 0}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        peer_lease = refused[i].lease;
        (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64 "/manifest-have?version=%s",
                       owner_text, refused[i].dseq, refused[i].stale ? stale : hex);
        out.len = 0;
        assert_int_equal(call("PUT", path, 2, none, &out), 404);
        assert_true(kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown)));
    }
    peer_lease = 1;
    static const char *malformed[] = {"", "?version=zz", "?version=00", "?index=0"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-have%s", owner_text,
                       malformed[i]);
        out.len = 0;
        assert_int_equal(call("PUT", path, 2, none, &out), 400);
    }
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/manifest-have?version=%s", owner_text,
                   hex);
    out.len = 0;
    assert_int_equal(call("PUT", path, 2, kumo_bytes_make((const uint8_t *)"x", 1), &out), 400);
    assert_int_equal(haves, 1);
    peer_lease = 0;
    kumo_buf_free(&unknown);
    kumo_buf_free(&out);
}

/* Opens a second API on the shared loop (paused while adding to it) with cfg's caps. */
static kumo_provider_api_t *api_small_open(kumo_provider_api_cfg_t cfg)
{
    kumo_crypto_keypair_t srv;
    key_of(2, &srv);
    kumo_crypto_keypair_t ca;
    key_of(1, &ca);
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_issue(&ca, kumo_buf_bytes(&root_pem), srv.pubkey, "127.0.0.1",
                                         30, &chain, NULL),
                     0);
    assert_int_equal(kumo_buf_append(&chain, root_pem.ptr, root_pem.len), 0);
    kumo_provider_api_backend_t be = {.deployment_view = be_view,
                                      .manifest_accept = be_accept,
                                      .status = be_status,
                                      .logs = be_logs,
                                      .info = be_info};
    cfg.listen = "127.0.0.1:0";
    cfg.server_cert_pem = kumo_buf_bytes(&chain);
    cfg.server_key = &srv;
    kumo_provider_api_t *small = NULL;
    /* The base is not shared between threads: pause the loop while adding to it. */
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    assert_int_equal(kumo_provider_api_open(&cfg, base, &be, &small, NULL), 0);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
    kumo_buf_free(&chain);
    return small;
}

static void api_small_close(kumo_provider_api_t *small)
{
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_provider_api_close(small);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
}

static kumo_provider_api_stats_t api_stats_of(kumo_provider_api_t *srv)
{
    loop_stop = 1; /* the counters are the loop's */
    (void)pthread_join(loop_thread, NULL);
    kumo_provider_api_stats_t st;
    kumo_provider_api_stats(srv, &st);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
    return st;
}

/* A second API with room for one connection: a second connection while the first idles (kept
 * alive) closes the first and is served. The first asks for links, which went with the
 * plaintext forwards (tunnels carry what they did): no such route. */
static void test_connection_limit(void **state)
{
    (void)state;
    kumo_provider_api_t *small = api_small_open((kumo_provider_api_cfg_t){.connection_max = 1});
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/links", owner_text);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    CURL *first = call_make(small, "PUT", path, 1, text_bytes("{\"links\": []}"), &out);
    long st = 0;
    assert_int_equal(curl_easy_perform(first), CURLE_OK);
    (void)curl_easy_getinfo(first, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 404);
    /* first keeps its connection open, idle: the cap closes it for the second. */
    CURL *second = call_make(small, "GET", "/status", 0, kumo_bytes_make(NULL, 0), &out);
    assert_int_equal(curl_easy_perform(second), CURLE_OK);
    (void)curl_easy_getinfo(second, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 200);
    curl_easy_cleanup(second);
    curl_easy_cleanup(first);
    assert_true(api_stats_of(small).connections_refused >= 1u);
    kumo_buf_free(&out);
    api_small_close(small);
}

/* A raw TCP connection to srv (no TLS, nothing sent). */
static int raw_dial(const kumo_provider_api_t *srv)
{
    const char *addr = kumo_provider_api_listen_addr(srv);
    unsigned port = (unsigned)strtoul(strrchr(addr, ':') + 1, NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* How many of fds the server closed (EOF or reset). */
static uint32_t raw_closed(const int *fds, uint32_t n)
{
    uint32_t closed = 0;
    for (uint32_t i = 0; i < n; i++) {
        char c;
        ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
        closed += r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ? 1u : 0u;
    }
    return closed;
}

static bool raw_wait_closed(const int *fds, uint32_t n, uint32_t want)
{
    uint64_t deadline = now_ms() + 60000u;
    while (raw_closed(fds, n) < want && now_ms() < deadline) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    return raw_closed(fds, n) >= want;
}

/* Idle certificate-less connections: past connection_per_addr_max from one address the
 * oldest idle ones are closed at once, an honest client is still served, and every idle one
 * is closed by the request deadline. */
static void test_idle_connections_capped_and_timed_out(void **state)
{
    (void)state;
    kumo_provider_api_t *small = api_small_open(
        (kumo_provider_api_cfg_t){.connection_per_addr_max = 2, .request_timeout_ms = 400});
    enum {
        N = 6
    };
    int fds[N];
    for (uint32_t i = 0; i < N; i++) {
        fds[i] = raw_dial(small);
    }
    assert_true(raw_wait_closed(fds, N, N - 2u)); /* only 2 held */
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    CURL *c = call_make(small, "GET", "/status", 0, kumo_bytes_make(NULL, 0), &out);
    long st = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 200);
    curl_easy_cleanup(c);
    assert_true(raw_wait_closed(fds, N, N)); /* the deadline closed the rest */
    kumo_provider_api_stats_t stats = api_stats_of(small);
    assert_true(stats.connections_refused >= N - 2u);
    assert_true(stats.request_timeouts >= 1u);
    for (uint32_t i = 0; i < N; i++) {
        (void)close(fds[i]);
    }
    kumo_buf_free(&out);
    api_small_close(small);
}

/* A backend that blocks (a slow node) holds only its worker: the loop answers GET /status and
 * the other worker answers another request meanwhile. */
static volatile int status_hold;
static volatile int status_waiting;

static int be_status_slow(void *ctx,
                          const uint8_t owner[KUMO_ADDRESS_BYTES],
                          uint64_t dseq,
                          json_t **out,
                          kumo_err_ctx_t *err)
{
    uint64_t deadline = now_ms() + 60000u;
    status_waiting++;
    while (status_hold && now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    return be_status(ctx, owner, dseq, out, err);
}

static void *slow_call_run(void *arg)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/status", owner_text);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    *(long *)arg = call("GET", path, 1, kumo_bytes_make(NULL, 0), &out);
    kumo_buf_free(&out);
    return NULL;
}

static void test_slow_backend_holds_only_its_worker(void **state)
{
    (void)state;
    /* The shared API's backend, with status blocking until released. */
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_provider_api_close(api);
    api = NULL;
    kumo_crypto_keypair_t srv;
    key_of(2, &srv);
    kumo_crypto_keypair_t ca;
    key_of(1, &ca);
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_issue(&ca, kumo_buf_bytes(&root_pem), srv.pubkey, "127.0.0.1",
                                         30, &chain, NULL),
                     0);
    assert_int_equal(kumo_buf_append(&chain, root_pem.ptr, root_pem.len), 0);
    kumo_provider_api_backend_t be = {.deployment_view = be_view,
                                      .manifest_accept = be_accept,
                                      .status = be_status_slow,
                                      .logs = be_logs,
                                      .info = be_info};
    kumo_provider_api_cfg_t cfg = {.listen = "127.0.0.1:0",
                                   .server_cert_pem = kumo_buf_bytes(&chain),
                                   .server_key = &srv,
                                   .worker_count = 2,
                                   .job_per_addr_max = 2};
    assert_int_equal(kumo_provider_api_open(&cfg, base, &be, &api, NULL), 0);
    kumo_buf_free(&chain);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
    status_hold = 1;
    status_waiting = 0;
    long slow_status[2] = {0, 0};
    pthread_t t[2];
    assert_int_equal(pthread_create(&t[0], NULL, slow_call_run, &slow_status[0]), 0);
    uint64_t deadline = now_ms() + 60000u;
    while (status_waiting < 1 && now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    assert_int_equal(status_waiting, 1);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_int_equal(call("GET", "/status", 0, kumo_bytes_make(NULL, 0), &out), 200);
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/logs?workload=web", owner_text);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 200);
    assert_int_equal(slow_status[0], 0); /* still waiting */
    /* A second slow one holds the other worker: this address has 2 jobs, a third is 503. */
    assert_int_equal(pthread_create(&t[1], NULL, slow_call_run, &slow_status[1]), 0);
    while (status_waiting < 2 && now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    assert_int_equal(status_waiting, 2);
    assert_int_equal(call("GET", path, 1, kumo_bytes_make(NULL, 0), &out), 503);
    /* A stranger refused anyway (this backend honours no grants) is answered on the loop,
     * workers or not. */
    (void)snprintf(path, sizeof(path), "/deployments/%s/7/status", owner_text);
    assert_int_equal(call("GET", path, 2, kumo_bytes_make(NULL, 0), &out), 403);
    status_hold = 0;
    (void)pthread_join(t[0], NULL);
    (void)pthread_join(t[1], NULL);
    assert_int_equal(slow_status[0], 200);
    assert_int_equal(slow_status[1], 200);
    kumo_buf_free(&out);
}

/* A peer's tunnels (GET .../endpoints): only an entry naming a workload, a lease and an
 * address on the peer's own public (or allowed) host is kept; one row per rule, limits at max
 * and max + 1. */
static void test_peer_tunnels_rules(void **state)
{
    (void)state;
#define TN(w, g, o, a, c)                                                    \
    "{\"workload\":\"" w "\",\"gseq\":" g ",\"oseq\":" o ",\"address\":\"" a \
    "\",\"certificates\":" c "}"
    static const struct {
        const char *name;
        const char *body;
        const char *peer_host;
        int want_rc;
        size_t want_count;
    } rows[] = {
        {"kept", "{\"tunnels\":[" TN("db", "2", "1", "203.0.113.7:8444", "[\"pem\"]") "]}",
         "203.0.113.7", 0, 1},
        {"empty", "{\"tunnels\":[]}", "203.0.113.7", 0, 0},
        {"an older peer: none", "{\"endpoints\":[]}", "203.0.113.7", 0, 0},
        {"IPv6 kept", "{\"tunnels\":[" TN("db", "2", "1", "[2606:4700::1111]:8444", "[]") "]}",
         "2606:4700::1111", 0, 1},
        {"loopback", "{\"tunnels\":[" TN("db", "2", "1", "127.0.0.1:8444", "[]") "]}", "127.0.0.1",
         1, 0},
        {"allowed loopback", "{\"tunnels\":[" TN("db", "2", "1", "10.0.0.9:8444", "[]") "]}",
         "10.0.0.9", 0, 1},
        {"not the peer's host", "{\"tunnels\":[" TN("db", "2", "1", "198.51.100.1:8444", "[]") "]}",
         "203.0.113.7", 1, 0},
        {"private", "{\"tunnels\":[" TN("db", "2", "1", "192.168.0.1:8444", "[]") "]}",
         "192.168.0.1", 1, 0},
        {"a name", "{\"tunnels\":[" TN("db", "2", "1", "dc.example:8444", "[]") "]}", "dc.example",
         1, 0},
        {"port 0", "{\"tunnels\":[" TN("db", "2", "1", "203.0.113.7:0", "[]") "]}", "203.0.113.7",
         1, 0},
        {"port 65536", "{\"tunnels\":[" TN("db", "2", "1", "203.0.113.7:65536", "[]") "]}",
         "203.0.113.7", 1, 0},
        {"no port", "{\"tunnels\":[" TN("db", "2", "1", "203.0.113.7", "[]") "]}", "203.0.113.7", 1,
         0},
        {"gseq 0 (the first group)",
         "{\"tunnels\":[" TN("db", "0", "1", "203.0.113.7:8444", "[]") "]}", "203.0.113.7", 0, 1},
        {"gseq negative", "{\"tunnels\":[" TN("db", "-1", "1", "203.0.113.7:8444", "[]") "]}",
         "203.0.113.7", 1, 0},
        {"oseq 0", "{\"tunnels\":[" TN("db", "2", "0", "203.0.113.7:8444", "[]") "]}",
         "203.0.113.7", 1, 0},
        {"gseq past u32",
         "{\"tunnels\":[" TN("db", "4294967296", "1", "203.0.113.7:8444", "[]") "]}", "203.0.113.7",
         1, 0},
        {"upper case workload", "{\"tunnels\":[" TN("DB", "2", "1", "203.0.113.7:8444", "[]") "]}",
         "203.0.113.7", 1, 0},
        {"certificates not a list",
         "{\"tunnels\":[" TN("db", "2", "1", "203.0.113.7:8444", "1") "]}", "203.0.113.7", 1, 0},
        {"not an object", "[]", "203.0.113.7", KUMO_EDECODE, 0},
        {"truncated", "{\"tunnels\":[", "203.0.113.7", KUMO_EDECODE, 0},
    };
#undef TN
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_provider_peer_tunnel_t out[4];
        size_t count = 9;
        int rc =
            kumo_provider_peer_tunnels_parse((const uint8_t *)rows[i].body, strlen(rows[i].body),
                                             rows[i].peer_host, "10.0.0.9", out, 4, &count, NULL);
        if (rc != rows[i].want_rc || count != rows[i].want_count) {
            fail_msg("%s: rc %d count %zu", rows[i].name, rc, count);
        }
    }
}

/* The bounds of the tunnels answer: KUMO_PROVIDER_PEER_CERT_COUNT_MAX certificates kept, one
 * more refused; an answer of KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX bytes is read, one byte more
 * is KUMO_ELIMIT. */
static void test_peer_tunnels_limits(void **state)
{
    (void)state;
    kumo_buf_t body;
    kumo_buf_init(&body, 2u * KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX);
    for (uint32_t extra = 0; extra < 2; extra++) {
        body.len = 0;
        const char *head = "{\"tunnels\":[{\"workload\":\"db\",\"gseq\":2,\"oseq\":1,"
                           "\"address\":\"203.0.113.7:8444\",\"certificates\":[";
        assert_int_equal(kumo_buf_append(&body, head, strlen(head)), 0);
        for (uint32_t i = 0; i < KUMO_PROVIDER_PEER_CERT_COUNT_MAX + extra; i++) {
            assert_int_equal(kumo_buf_append(&body, i > 0 ? ",\"c\"" : "\"c\"", i > 0 ? 4u : 3u),
                             0);
        }
        assert_int_equal(kumo_buf_append(&body, "]}]}", 4), 0);
        kumo_provider_peer_tunnel_t out[1];
        size_t count = 0;
        int rc = kumo_provider_peer_tunnels_parse(body.ptr, body.len, "203.0.113.7", "", out, 1,
                                                  &count, NULL);
        assert_int_equal(rc, extra == 0 ? 0 : 1);
        assert_int_equal(count, extra == 0 ? 1u : 0u);
    }
    for (uint32_t extra = 0; extra < 2; extra++) {
        body.len = 0;
        assert_int_equal(kumo_buf_append(&body, "{\"tunnels\":[]}", 14), 0);
        while (body.len < KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX + extra) {
            assert_int_equal(kumo_buf_append(&body, " ", 1), 0);
        }
        size_t count = 0;
        int rc = kumo_provider_peer_tunnels_parse(body.ptr, body.len, "203.0.113.7", "", NULL, 0,
                                                  &count, NULL);
        assert_int_equal(rc, extra == 0 ? 0 : KUMO_ELIMIT);
    }
    kumo_buf_free(&body);
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_refusals),
        cmocka_unit_test(test_chunk_upload_refusals_and_accept),
        cmocka_unit_test(test_manifest_accepted_and_reads),
        cmocka_unit_test(test_unknown_routes),
        cmocka_unit_test(test_grantee_decision),
        cmocka_unit_test(test_grantee_served_within_its_grant),
        cmocka_unit_test(test_peer_delivery),
        cmocka_unit_test(test_chunk_routes),
        cmocka_unit_test(test_manifest_have),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_idle_connections_capped_and_timed_out),
        cmocka_unit_test(test_slow_backend_holds_only_its_worker),
        cmocka_unit_test(test_peer_tunnels_rules),
        cmocka_unit_test(test_peer_tunnels_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
