/*
 * test_dc_chunks.c - chunked manifest delivery between providers, with real processes: one
 * validator, a private podman service, two honest provider daemons (east in us-east, west in
 * us-west) and a malicious provider, mallory: a registered provider whose daemon (us-south)
 * bids and holds leases like any other, but whose on-chain host_uri this test points at its
 * own HTTPS server (the provider API code over real TLS, with a certificate from mallory's
 * on-chain root), so the peers that fetch from mallory talk to the attacker. Deployments of
 * three groups (one per provider) by a tenant account whose key the test holds:
 *   - a manifest whose root is not the version is refused by east (409), not stored, and east
 *     serves nothing of it (manifest-info is the 404 of an unknown deployment);
 *   - mallory serves chunks with their true proofs but one byte changed: west, which has no
 *     manifest, refuses them (chunk_refused, mallory penalized) and fetches every chunk from
 *     east, ending with exactly the tenant's manifest;
 *   - mallory declares a length over the limit for a second deployment: west refuses it
 *     before asking for any chunk (manifest_too_large, mallory's server sees no chunk
 *     request) and fetches from east;
 *   - east answers a stranger, a participant asking for a deployment it has no lease in, and
 *     a participant asking for the version before an update with the very status and body of
 *     an unknown deployment, and the participant's right request with the chunk;
 *   - a 24 MiB manifest (a workload carrying a file) is uploaded to east chunk by chunk
 *     (PUT .../manifest-chunk), after east refused a stranger's chunk (403), a declared length
 *     over the 256 MiB limit (413) and a chunk whose bytes do not match its proof (409), each
 *     leaving no chunk store behind; west, which gets nothing from the tenant, fetches it from
 *     east and stores exactly those bytes.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "codec/codec.h"
#include "file/file.h"
#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define BLOCK_MS  500u
#define UNIT_ARGS "cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"
#define GROUPS                                                                             \
    "--group name=a,region=us-east," UNIT_ARGS " --group name=b,region=us-west," UNIT_ARGS \
    " --group name=c,region=us-south," UNIT_ARGS
#define DSEQ_CORRUPT   100u /* mallory corrupts its chunks */
#define DSEQ_HUGE      200u /* mallory declares a length over the limit */
#define DSEQ_EAST      300u /* one group, at east only */
#define DSEQ_BIG       400u /* a 24 MiB manifest, at east and west */
#define BIG_FILE_BYTES (24u * 1024u * 1024u)
/* Environment values that make the first manifest two chunks long. */
#define ENV_COUNT       48u
#define ENV_VALUE_BYTES 4000u

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t east, west, mallory;
    kumo_crypto_keypair_t tenant, stranger, mallory_key;
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    kumo_buf_t m1, m1_wrong, m1_next, m2, m3, big;
    /* mallory's server */
    struct event_base *base;
    kumo_provider_api_t *api;
    pthread_t loop;
    atomic_int loop_stop;
    atomic_int corrupt_served;
    atomic_int huge_chunk_asked;
    bool up;
} g_t;

static g_t g;

/* ---- manifests ---- */

/* Three workloads, one per group; env_count big values on "a" and "b" (0: none), tag in "c"'s
 * env. */
static void manifest_make(uint32_t env_count, const char *tag, kumo_buf_t *out)
{
    static char value[ENV_VALUE_BYTES + 1];
    memset(value, 'x', ENV_VALUE_BYTES);
    value[ENV_VALUE_BYTES] = '\0';
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    static char *cmd[2] = {"sleep", "100000"};
    static char keys[ENV_COUNT][8];
    Kumo__ManifestEnv env[ENV_COUNT];
    Kumo__ManifestEnv *envp[ENV_COUNT];
    for (uint32_t i = 0; i < env_count; i++) {
        kumo__manifest_env__init(&env[i]);
        (void)snprintf(keys[i], sizeof(keys[i]), "E%02u", i);
        env[i].key = keys[i];
        env[i].value = value;
        envp[i] = &env[i];
    }
    Kumo__ManifestEnv tag_env = KUMO__MANIFEST_ENV__INIT;
    tag_env.key = "TAG";
    tag_env.value = (char *)(uintptr_t)tag;
    Kumo__ManifestEnv *tagp[1] = {&tag_env};
    static char *names[3] = {"a", "b", "c"};
    Kumo__ManifestWorkload w[3];
    Kumo__ManifestWorkload *wp[3];
    for (size_t i = 0; i < 3; i++) {
        kumo__manifest_workload__init(&w[i]);
        w[i].name = names[i];
        w[i].group = names[i];
        w[i].image = "localhost/kumo-test-busybox:1";
        w[i].compute = &cu;
        w[i].count = 1;
        w[i].n_command = 2;
        w[i].command = cmd;
        wp[i] = &w[i];
    }
    w[0].n_env = env_count;
    w[0].env = envp;
    w[1].n_env = env_count;
    w[1].env = envp;
    w[2].n_env = 1;
    w[2].env = tagp;
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 3;
    m.workloads = wp;
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, out, NULL), 0);
}

/* Only group a's workload (for the deployment at east alone). */
static void manifest_one_group(kumo_buf_t *out)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    static char *cmd[2] = {"sleep", "100000"};
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = "a";
    w.group = "a";
    w.image = "localhost/kumo-test-busybox:1";
    w.compute = &cu;
    w.count = 1;
    w.n_command = 2;
    w.command = cmd;
    Kumo__ManifestWorkload *wp[1] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = wp;
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, out, NULL), 0);
}

/* Groups a and b, a's workload carrying a file of BIG_FILE_BYTES. */
static void manifest_big(kumo_buf_t *out)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    static char *cmd[2] = {"sleep", "100000"};
    uint8_t *blob = malloc(BIG_FILE_BYTES);
    assert_non_null(blob);
    for (size_t i = 0; i < BIG_FILE_BYTES; i++) {
        blob[i] = (uint8_t)((i * 2654435761u) >> 13);
    }
    static char path[] = "/srv/blob";
    Kumo__ManifestFile f = KUMO__MANIFEST_FILE__INIT;
    f.path = path;
    f.mode = 0644u;
    f.content.data = blob;
    f.content.len = BIG_FILE_BYTES;
    Kumo__ManifestFile *fp[1] = {&f};
    static char *names[2] = {"a", "b"};
    Kumo__ManifestWorkload w[2];
    Kumo__ManifestWorkload *wp[2];
    for (size_t i = 0; i < 2; i++) {
        kumo__manifest_workload__init(&w[i]);
        w[i].name = names[i];
        w[i].group = names[i];
        w[i].image = "localhost/kumo-test-busybox:1";
        w[i].compute = &cu;
        w[i].count = 1;
        w[i].n_command = 2;
        w[i].command = cmd;
        wp[i] = &w[i];
    }
    w[0].n_files = 1;
    w[0].files = fp;
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 2;
    m.workloads = wp;
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, out, NULL), 0);
    free(blob);
}

static void file_write(const char *path, const kumo_buf_t *b)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->ptr, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
}

static void version_of(const kumo_buf_t *m, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    assert_int_equal(kumo_crypto_merkle_root(kumo_buf_bytes(m), out), 0);
}

/* ---- mallory's server: the provider API with a lying backend ---- */

static int ms_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)err;
    memset(view, 0, sizeof(*view));
    return 0;
}

static int ms_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t manifest,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)manifest;
    return kumo_err_set(err, KUMO_ENOTFOUND, "no");
}

static const kumo_buf_t *ms_manifest_of(uint64_t dseq)
{
    return dseq == DSEQ_CORRUPT ? &g.m1 : dseq == DSEQ_HUGE ? &g.m2 : NULL;
}

static int ms_chunk_info(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         kumo_provider_chunk_info_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)caller;
    (void)owner;
    const kumo_buf_t *m = ms_manifest_of(dseq);
    KUMO_ENSURE(m != NULL, err, KUMO_ENOTFOUND, "no");
    version_of(m, out->version);
    /* The lie for the second deployment: a length over any limit, with the true version. */
    out->total_bytes = dseq == DSEQ_HUGE ? 64ull << 30 : m->len;
    assert_int_equal(kumo_crypto_merkle_chunk_count(out->total_bytes, &out->chunk_count), 0);
    out->chunks_held = out->chunk_count;
    out->manifest = true;
    return 0;
}

/* The true proof of chunk index, and the chunk with one byte changed. */
static int ms_chunk_get(void *ctx,
                        const uint8_t caller[KUMO_ADDRESS_BYTES],
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint32_t index,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)caller;
    (void)owner;
    (void)version;
    if (dseq == DSEQ_HUGE) {
        atomic_fetch_add(&g.huge_chunk_asked, 1);
    }
    KUMO_ENSURE(dseq == DSEQ_CORRUPT, err, KUMO_ENOTFOUND, "no");
    uint32_t count = 0;
    assert_int_equal(kumo_crypto_merkle_chunk_count(g.m1.len, &count), 0);
    KUMO_ENSURE(index < count, err, KUMO_ENOTFOUND, "no");
    uint8_t leaves[8 * KUMO_CRYPTO_HASH_BYTES];
    assert_true(count <= 8u);
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        size_t n = g.m1.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? g.m1.len - off
                                                                   : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        kumo_crypto_merkle_leaf_hash(kumo_bytes_make(g.m1.ptr + off, n),
                                     leaves + (size_t)i * KUMO_CRYPTO_HASH_BYTES);
    }
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
    size_t proof_len = 0;
    assert_int_equal(kumo_crypto_merkle_proof_build(
                         kumo_bytes_make(leaves, (size_t)count * KUMO_CRYPTO_HASH_BYTES), count,
                         index, proof, &proof_len),
                     0);
    size_t off = (size_t)index * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    size_t n = g.m1.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? g.m1.len - off
                                                               : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    KUMO_GUARD(kumo_buf_append(out, proof, proof_len));
    size_t at = out->len;
    KUMO_GUARD(kumo_buf_append(out, g.m1.ptr + off, n));
    out->ptr[at + n / 2u] ^= 0x20u;
    atomic_fetch_add(&g.corrupt_served, 1);
    return 0;
}

static void *ms_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&g.loop_stop)) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(g.base, &tv);
        (void)event_base_dispatch(g.base);
    }
    return NULL;
}

/* Mallory's server on listen, with a certificate from mallory's root (its home's ca.key). */
static int ms_start(const char *listen)
{
    char path[PATH_MAX + 16];
    static uint8_t pem[KUMO_TLS_PEM_BYTES_MAX];
    static uint8_t crt[KUMO_TLS_PEM_BYTES_MAX];
    size_t key_len = 0;
    size_t crt_len = 0;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t srv;
    (void)snprintf(path, sizeof(path), "%s/ca.key", g.mallory.home);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    key_len = fread(pem, 1, sizeof(pem), f);
    (void)fclose(f);
    (void)snprintf(path, sizeof(path), "%s/ca.crt", g.mallory.home);
    f = fopen(path, "rb");
    assert_non_null(f);
    crt_len = fread(crt, 1, sizeof(crt), f);
    (void)fclose(f);
    assert_int_equal(kumo_tls_key_from_pem(kumo_bytes_make(pem, key_len), &ca, NULL), 0);
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x6d, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &srv);
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_issue(&ca, kumo_bytes_make(crt, crt_len), srv.pubkey,
                                         "127.0.0.1", 1, &chain, NULL),
                     0);
    assert_int_equal(kumo_buf_append(&chain, crt, crt_len), 0);
    g.base = event_base_new();
    kumo_provider_api_backend_t be = {.deployment_view = ms_view,
                                      .manifest_accept = ms_accept,
                                      .chunk_info = ms_chunk_info,
                                      .chunk_get = ms_chunk_get};
    kumo_provider_api_cfg_t cfg = {
        .listen = listen, .server_cert_pem = kumo_buf_bytes(&chain), .server_key = &srv};
    kumo_err_ctx_t err = {0};
    int rc = kumo_provider_api_open(&cfg, g.base, &be, &g.api, &err);
    kumo_buf_free(&chain);
    if (rc != 0) {
        fprintf(stderr, "mallory's server on %s: %s\n", listen, err.detail);
        return -1;
    }
    return pthread_create(&g.loop, NULL, ms_loop, NULL);
}

/* ---- chain helpers ---- */

static void deployment_create(uint64_t dseq, const kumo_buf_t *m, const char *groups)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/m%llu.manifest", g.net.dir, (unsigned long long)dseq);
    file_write(path, m);
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx deployment create --home %s/owner --from owner "
                                        "--node http://127.0.0.1:%u --dseq %llu --wait-blocks 1 "
                                        "--deposit 200000 --version-file %s %s --wait",
                                        g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                                        (unsigned long long)dseq, path, groups),
                     0);
}

static bool lease_is_active(uint64_t dseq, const char *provider)
{
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%llu&provider=%s&state=LEASE_ACTIVE&limit=1",
                   g.tenant_addr, (unsigned long long)dseq, provider);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    bool active = json_array_size(json_object_get(l, "items")) > 0;
    json_decref(l);
    return active;
}

static void lease_wait(uint64_t dseq, const kumo_test_dc_t *dc)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (!lease_is_active(dseq, dc->addr)) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(dc);
            fail_msg("no lease of deployment %llu at %s", (unsigned long long)dseq, dc->addr);
        }
        kumo_test_pause_ms(200);
    }
}

static long manifest_put(const kumo_test_dc_t *dc, uint64_t dseq, const kumo_buf_t *m)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%llu/manifest", g.tenant_addr,
                   (unsigned long long)dseq);
    return kumo_test_dc_request(dc, &g.tenant, "PUT", path, kumo_buf_bytes(m), NULL);
}

/* The manifest dc stored for dseq into out (false when none). */
static bool stored_read(const kumo_test_dc_t *dc, uint64_t dseq, kumo_buf_t *out)
{
    char path[PATH_MAX + 128];
    (void)snprintf(path, sizeof(path), "%s/deployments/%s-%llu.manifest", dc->home, g.tenant_addr,
                   (unsigned long long)dseq);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    assert_int_equal(kumo_buf_reserve(out, 1u << 20), 0);
    out->len = fread(out->ptr, 1, 1u << 20, f);
    (void)fclose(f);
    return true;
}

/* The manifest dc stored for dseq, of any size, into out (false when none). */
static bool stored_read_all(const kumo_test_dc_t *dc, uint64_t dseq, kumo_buf_t *out)
{
    char path[PATH_MAX + 128];
    (void)snprintf(path, sizeof(path), "%s/deployments/%s-%llu.manifest", dc->home, g.tenant_addr,
                   (unsigned long long)dseq);
    kumo_buf_reset(out);
    return kumo_file_read(path, out, NULL) == 0;
}

/* Whether dc holds any chunk store of dseq. */
static bool chunk_store_exists(const kumo_test_dc_t *dc, uint64_t dseq)
{
    char dir[PATH_MAX + 64];
    char prefix[128];
    (void)snprintf(dir, sizeof(dir), "%s/deployments", dc->home);
    (void)snprintf(prefix, sizeof(prefix), "%s-%llu.chunks-", g.tenant_addr,
                   (unsigned long long)dseq);
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL && !found; e = readdir(d)) {
        found = strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    }
    if (d != NULL) {
        (void)closedir(d);
    }
    return found;
}

/* PUT chunk index of m to dc as key, declaring total; flip: one byte of the chunk changed. */
static long chunk_put(const kumo_test_dc_t *dc,
                      const kumo_crypto_keypair_t *key,
                      uint64_t dseq,
                      const kumo_buf_t *m,
                      uint64_t total,
                      uint32_t index,
                      bool flip,
                      kumo_buf_t *answer)
{
    uint32_t count = 0;
    assert_int_equal(kumo_crypto_merkle_chunk_count(m->len, &count), 0);
    uint8_t *leaves = malloc((size_t)count * KUMO_CRYPTO_HASH_BYTES);
    assert_non_null(leaves);
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        size_t n = m->len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? m->len - off
                                                                 : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        kumo_crypto_merkle_leaf_hash(kumo_bytes_make(m->ptr + off, n),
                                     leaves + (size_t)i * KUMO_CRYPTO_HASH_BYTES);
    }
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
    size_t proof_len = 0;
    assert_int_equal(kumo_crypto_merkle_proof_build(
                         kumo_bytes_make(leaves, (size_t)count * KUMO_CRYPTO_HASH_BYTES), count,
                         index, proof, &proof_len),
                     0);
    free(leaves);
    size_t off = (size_t)index * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    size_t n = m->len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? m->len - off
                                                             : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    kumo_buf_t body;
    kumo_buf_init(&body, proof_len + n);
    assert_int_equal(kumo_buf_append(&body, proof, proof_len), 0);
    assert_int_equal(kumo_buf_append(&body, m->ptr + off, n), 0);
    if (flip) {
        body.ptr[proof_len + n / 2u] ^= 0x01u;
    }
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%llu/manifest-chunk?total=%llu&index=%u",
                   g.tenant_addr, (unsigned long long)dseq, (unsigned long long)total, index);
    if (answer != NULL) {
        kumo_buf_reset(answer);
    }
    long status = kumo_test_dc_request(dc, key, "PUT", path, kumo_buf_bytes(&body), answer);
    kumo_buf_free(&body);
    return status;
}

/* dc's log has a line with both needles (waits up to the harness deadline). */
static bool log_has_both(const kumo_test_dc_t *dc, const char *a, const char *b)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        FILE *f = fopen(dc->log, "r");
        char line[4096];
        bool found = false;
        while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
            found = strstr(line, a) != NULL && strstr(line, b) != NULL;
        }
        if (f != NULL) {
            (void)fclose(f);
        }
        if (found) {
            return true;
        }
        if (kumo_test_now_ms() > deadline) {
            return false;
        }
        kumo_test_pause_ms(200);
    }
}

/* GET path at east as key: the status and body. */
static long east_get(const kumo_crypto_keypair_t *key, const char *path, kumo_buf_t *out)
{
    kumo_buf_reset(out);
    return kumo_test_dc_request(&g.east, key, "GET", path, kumo_bytes_make(NULL, 0), out);
}

static void chunk_path(char *out, size_t cap, uint64_t dseq, const kumo_buf_t *m, uint32_t index)
{
    uint8_t v[KUMO_CRYPTO_HASH_BYTES];
    version_of(m, v);
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(v, sizeof(v)), hex, sizeof(hex)), 0);
    (void)snprintf(out, cap, "/deployments/%s/%llu/manifest-chunk?version=%s&index=%u",
                   g.tenant_addr, (unsigned long long)dseq, hex, index);
}

/* ---- tests ---- */

static void test_wrong_hash_neither_stored_nor_served(void **state)
{
    (void)state;
    assert_true(g.up);
    assert_int_equal(manifest_put(&g.east, DSEQ_CORRUPT, &g.m1_wrong), 409);
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_false(stored_read(&g.east, DSEQ_CORRUPT, &out));
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%u/manifest-info", g.tenant_addr,
                   DSEQ_CORRUPT);
    assert_int_equal(east_get(&g.tenant, path, &out), 404);
    chunk_path(path, sizeof(path), DSEQ_CORRUPT, &g.m1_wrong, 0);
    assert_int_equal(east_get(&g.tenant, path, &out), 404);
    kumo_buf_free(&out);
}

static void test_corrupt_chunks_refused_and_fetched_elsewhere(void **state)
{
    (void)state;
    assert_true(g.up);
    assert_int_equal(manifest_put(&g.east, DSEQ_CORRUPT, &g.m1), 200);
    if (!log_has_both(&g.west, "event=manifest_fetched", "/100 ")) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west never fetched the manifest");
    }
    if (!log_has_both(&g.west, "event=chunk_refused", g.mallory.addr)) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west did not refuse mallory's chunks");
    }
    assert_true(atomic_load(&g.corrupt_served) > 0);
    kumo_buf_t got;
    kumo_buf_init(&got, 1u << 20);
    assert_true(stored_read(&g.west, DSEQ_CORRUPT, &got));
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&g.m1)));
    kumo_buf_free(&got);
}

static void test_oversized_declaration_refused_before_download(void **state)
{
    (void)state;
    assert_true(g.up);
    assert_int_equal(manifest_put(&g.east, DSEQ_HUGE, &g.m2), 200);
    if (!log_has_both(&g.west, "event=manifest_too_large", g.mallory.addr)) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west did not refuse mallory's declared length");
    }
    if (!log_has_both(&g.west, "event=manifest_fetched", "/200 ")) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west never fetched the second manifest");
    }
    assert_int_equal(atomic_load(&g.huge_chunk_asked), 0);
    kumo_buf_t got;
    kumo_buf_init(&got, 1u << 20);
    assert_true(stored_read(&g.west, DSEQ_HUGE, &got));
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&g.m2)));
    kumo_buf_free(&got);
}

static void test_refusals_look_like_an_unknown_deployment(void **state)
{
    (void)state;
    assert_true(g.up);
    kumo_buf_t unknown;
    kumo_buf_t out;
    kumo_buf_init(&unknown, 65536);
    kumo_buf_init(&out, 1u << 20);
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/999999/manifest-info", g.tenant_addr);
    long unknown_status = east_get(&g.stranger, path, &unknown);
    assert_int_equal(unknown_status, 404);

    /* Mallory, a participant of the first deployment, gets its chunk from east. */
    chunk_path(path, sizeof(path), DSEQ_CORRUPT, &g.m1, 0);
    assert_int_equal(east_get(&g.mallory_key, path, &out), 200);
    assert_true(out.len > KUMO_CRYPTO_MERKLE_CHUNK_BYTES);

    const struct {
        const char *name;
        const kumo_crypto_keypair_t *key;
        uint64_t dseq;
        const kumo_buf_t *m;
        bool info;
    } rows[] = {
        {"a stranger's info", &g.stranger, DSEQ_CORRUPT, &g.m1, true},
        {"a stranger's chunk", &g.stranger, DSEQ_CORRUPT, &g.m1, false},
        {"another deployment's info", &g.mallory_key, DSEQ_EAST, &g.m3, true},
        {"another deployment's chunk", &g.mallory_key, DSEQ_EAST, &g.m3, false},
        {"the version before the update", &g.mallory_key, DSEQ_CORRUPT, &g.m1, false},
    };
    size_t row_count = sizeof(rows) / sizeof(rows[0]);
    char file[PATH_MAX];
    (void)snprintf(file, sizeof(file), "%s/m1next.manifest", g.net.dir);
    file_write(file, &g.m1_next);
    for (size_t i = 0; i < row_count; i++) {
        if (i + 1u == row_count) {
            /* The tenant moves to another version: the old one is refused from now on. */
            assert_int_equal(kumo_test_net_kumo(&g.net,
                                                "tx deployment update --home %s/owner --from "
                                                "owner --node http://127.0.0.1:%u %u "
                                                "--version-file %s --wait",
                                                g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                                                DSEQ_CORRUPT, file),
                             0);
        }
        if (rows[i].info) {
            (void)snprintf(path, sizeof(path), "/deployments/%s/%llu/manifest-info", g.tenant_addr,
                           (unsigned long long)rows[i].dseq);
        } else {
            chunk_path(path, sizeof(path), rows[i].dseq, rows[i].m, 0);
        }
        /* The old version stays readable until east hears of the update's block on its event
         * stream (its participants cache admits until then: docs/design.md), so that row is
         * asked until refused, for at most 10 s; every other row must be refused at once. */
        uint32_t tries = i + 1u == row_count ? 100u : 1u;
        long status = 0;
        for (uint32_t t = 0; t < tries; t++) {
            status = east_get(rows[i].key, path, &out);
            if (status == unknown_status &&
                kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown))) {
                break;
            }
            (void)usleep(100u * 1000u);
        }
        if (status != unknown_status ||
            !kumo_bytes_equal(kumo_buf_bytes(&out), kumo_buf_bytes(&unknown))) {
            fail_msg("%s: HTTP %ld (%zu bytes)", rows[i].name, status, out.len);
        }
    }
    kumo_buf_free(&out);
    kumo_buf_free(&unknown);
}

static void test_chunk_upload_refusals_store_nothing(void **state)
{
    (void)state;
    assert_true(g.up);
    const struct {
        const char *name;
        const kumo_crypto_keypair_t *key;
        uint64_t total;
        bool flip;
        long want;
    } rows[] = {
        {"a stranger's chunk", &g.stranger, g.big.len, false, 403},
        {"a length over the limit", &g.tenant, (uint64_t)KUMO_SDL_MANIFEST_BYTES_MAX + 1u, false,
         413},
        {"a chunk its proof does not lead to the version", &g.tenant, g.big.len, true, 409},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        long status =
            chunk_put(&g.east, rows[i].key, DSEQ_BIG, &g.big, rows[i].total, 0, rows[i].flip, NULL);
        if (status != rows[i].want) {
            fail_msg("%s: HTTP %ld, want %ld", rows[i].name, status, rows[i].want);
        }
        if (chunk_store_exists(&g.east, DSEQ_BIG)) {
            fail_msg("%s: east keeps a chunk store", rows[i].name);
        }
    }
    kumo_buf_t got;
    kumo_buf_init(&got, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_false(stored_read_all(&g.east, DSEQ_BIG, &got));
    kumo_buf_free(&got);
}

static void test_big_manifest_uploaded_in_chunks_and_fetched_by_peer(void **state)
{
    (void)state;
    assert_true(g.up);
    uint32_t count = 0;
    assert_int_equal(kumo_crypto_merkle_chunk_count(g.big.len, &count), 0);
    assert_true(count >= 96u);
    kumo_buf_t answer;
    kumo_buf_init(&answer, 65536);
    for (uint32_t i = 0; i < count; i++) {
        long status = chunk_put(&g.east, &g.tenant, DSEQ_BIG, &g.big, g.big.len, i, false, &answer);
        if (status != 200) {
            fail_msg("chunk %u: HTTP %ld %.*s", i, status, (int)answer.len, (char *)answer.ptr);
        }
    }
    assert_non_null(memmem(answer.ptr, answer.len, "\"accepted\":true", 15));
    kumo_buf_free(&answer);
    kumo_buf_t got;
    kumo_buf_init(&got, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_true(stored_read_all(&g.east, DSEQ_BIG, &got));
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&g.big)));
    if (!log_has_both(&g.west, "event=manifest_fetched", "/400 ")) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west never fetched the big manifest");
    }
    assert_true(stored_read_all(&g.west, DSEQ_BIG, &got));
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&g.big)));
    kumo_buf_free(&got);
}

/* ---- setup ---- */

static void keys_make(void)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x77, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &g.stranger);
    /* Mallory's account key, to ask east as the participant it is. */
    char cmd[PATH_MAX * 3];
    (void)snprintf(cmd, sizeof(cmd),
                   "'%s' keys export provider --unsafe-export-seed --home '%s' 2>/dev/null",
                   g.net.kumo, g.mallory.home);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char hex[128] = {0};
    assert_non_null(fgets(hex, sizeof(hex), p));
    (void)pclose(p);
    hex[strcspn(hex, "\r\n")] = '\0';
    size_t len = 0;
    assert_int_equal(kumo_codec_hex_decode(hex, seed, sizeof(seed), &len, NULL), 0);
    assert_int_equal(len, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &g.mallory_key);
}

static void manifests_make(void)
{
    manifest_make(ENV_COUNT, "one", &g.m1);
    manifest_make(ENV_COUNT, "wrong", &g.m1_wrong);
    manifest_make(ENV_COUNT, "next", &g.m1_next);
    manifest_make(0, "two", &g.m2);
    manifest_one_group(&g.m3);
    manifest_big(&g.big);
    uint32_t count = 0;
    assert_int_equal(kumo_crypto_merkle_chunk_count(g.m1.len, &count), 0);
    assert_true(count >= 2u); /* so west asks both peers */
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    manifests_make();
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    if (kumo_test_net_start(&g.net, 1, BLOCK_MS, "--providers 3") != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, NULL, &g.east) != 0 ||
        kumo_test_dc_add(&g.net, 1, "us-west", g.pm.socket, NULL, &g.west) != 0 ||
        kumo_test_dc_add(&g.net, 2, "us-south", g.pm.socket, NULL, &g.mallory) != 0) {
        return -1;
    }
    /* Peers reach mallory at the attacker's server from now on (a port no daemon uses). */
    char listen[64];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%u", g.net.base_port + 48u);
    if (ms_start(listen) != 0 ||
        kumo_test_net_kumo(&g.net,
                           "tx provider update --home %s --from provider --node "
                           "http://127.0.0.1:%u --host-uri https://%s --wait",
                           g.mallory.home, kumo_test_net_rpc_port(&g.net, 0), listen) != 0) {
        return -1;
    }
    keys_make();
    kumo_test_account_make(&g.net, "owner", 0x3c, 50000000u, &g.tenant, g.tenant_addr);
    deployment_create(DSEQ_CORRUPT, &g.m1, GROUPS);
    deployment_create(DSEQ_HUGE, &g.m2, GROUPS);
    deployment_create(DSEQ_EAST, &g.m3, "--group name=a,region=us-east," UNIT_ARGS);
    deployment_create(DSEQ_BIG, &g.big,
                      "--group name=a,region=us-east," UNIT_ARGS
                      " --group name=b,region=us-west," UNIT_ARGS);
    const kumo_test_dc_t *dcs[3] = {&g.east, &g.west, &g.mallory};
    for (size_t i = 0; i < 3; i++) {
        lease_wait(DSEQ_CORRUPT, dcs[i]);
        lease_wait(DSEQ_HUGE, dcs[i]);
    }
    lease_wait(DSEQ_EAST, &g.east);
    lease_wait(DSEQ_BIG, &g.east);
    lease_wait(DSEQ_BIG, &g.west);
    if (manifest_put(&g.east, DSEQ_EAST, &g.m3) != 200) {
        return -1;
    }
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_dc_remove(&g.east);
    kumo_test_dc_remove(&g.west);
    kumo_test_dc_remove(&g.mallory);
    kumo_test_net_stop(&g.net);
    kumo_test_podman_stop(&g.pm);
    if (g.base != NULL) {
        atomic_store(&g.loop_stop, 1);
        (void)pthread_join(g.loop, NULL);
        kumo_provider_api_close(g.api);
        event_base_free(g.base);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_hash_neither_stored_nor_served),
        cmocka_unit_test(test_corrupt_chunks_refused_and_fetched_elsewhere),
        cmocka_unit_test(test_oversized_declaration_refused_before_download),
        cmocka_unit_test(test_refusals_look_like_an_unknown_deployment),
        cmocka_unit_test(test_chunk_upload_refusals_store_nothing),
        cmocka_unit_test(test_big_manifest_uploaded_in_chunks_and_fetched_by_peer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
