/*
 * bench_mstore.c - what a provider's pass pays to load a stored manifest (pd_manifest_load)
 * whose workload carries a file of S bytes: from its spec (the manifest without file
 * contents: what every pass reads) against the whole manifest read, hashed and decoded, its
 * files and spec written again (what the first load after a crash or an upgrade does; every
 * pass read, hashed and decoded it before specs), in the same run. Real files in a temp
 * directory.
 *
 * Usage: bench_mstore [S,S,...] (default 1048576,16777216,67108864,268000000).
 * Prints per S: manifest_load_spec_us, manifest_load_whole_us and whole over spec.
 */
#include <sys/stat.h>

#include "bench_util.h"
#include "codec/codec.h"
#include "file/file.h"
#include "provider/daemon_int.h"

#define BM_OWNER "kumo1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
#define BM_LOADS 20u

/* A manifest of one workload with a file of size bytes, packed into out. */
static int bm_manifest(uint64_t size, kumo_buf_t *out)
{
    uint8_t *blob = malloc(size == 0 ? 1 : size);
    if (blob == NULL) {
        return KUMO_ENOMEM;
    }
    for (uint64_t i = 0; i < size; i++) {
        blob[i] = (uint8_t)((i * 2654435761u) >> 13);
    }
    char path[] = "/srv/model.bin";
    Kumo__ManifestFile f = KUMO__MANIFEST_FILE__INIT;
    f.path = path;
    f.mode = 0644u;
    f.content.data = blob;
    f.content.len = size;
    Kumo__ManifestFile *fp[1] = {&f};
    char name[] = "web";
    char image[] = "localhost/kumo-webapp-web:1";
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = name;
    w.image = image;
    w.count = 1;
    w.group = name;
    w.n_files = 1;
    w.files = fp;
    Kumo__ManifestWorkload *wp[1] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = wp;
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    int rc = kumo_codec_pack(&m.base, out, NULL);
    free(blob);
    return rc;
}

/* Mean microseconds of BM_LOADS loads; whole: the spec removed before each. */
static uint64_t bm_loads(const char *home, bool whole)
{
    char spec[PD_PATH_BYTES];
    if (pd_deployment_path(home, BM_OWNER, 7, "spec", spec) != 0) {
        return 0;
    }
    uint64_t total_ns = 0;
    for (uint32_t i = 0; i < BM_LOADS; i++) {
        if (whole) {
            (void)unlink(spec);
        }
        Kumo__Manifest *m = NULL;
        uint8_t v[KUMO_CRYPTO_HASH_BYTES];
        kumo_err_ctx_t err = {0};
        uint64_t t0 = bench_now_ns();
        if (pd_manifest_load(home, BM_OWNER, 7, &m, v, &err) != 0) {
            fprintf(stderr, "bench_mstore: load: %s\n", err.detail);
            exit(1);
        }
        total_ns += bench_now_ns() - t0;
        kumo_codec_free(&m->base);
    }
    return total_ns / BM_LOADS / 1000u;
}

static void bm_run(uint64_t size)
{
    char home[] = "/tmp/kumo-bench-mstore-XXXXXX";
    if (mkdtemp(home) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    kumo_buf_t m;
    kumo_err_ctx_t err = {0};
    if (bm_manifest(size, &m) != 0 ||
        pd_manifest_store(home, BM_OWNER, 7, kumo_buf_bytes(&m), &err) != 0) {
        fprintf(stderr, "bench_mstore: store of %" PRIu64 " bytes: %s\n", size, err.detail);
        exit(1);
    }
    kumo_buf_free(&m);
    uint64_t spec_us = bm_loads(home, false);
    uint64_t whole_us = bm_loads(home, true);
    char name[96];
    (void)snprintf(name, sizeof(name), "manifest_load_spec_us_%" PRIu64, size);
    bench_result(name, spec_us, "us");
    (void)snprintf(name, sizeof(name), "manifest_load_whole_us_%" PRIu64, size);
    bench_result(name, whole_us, "us");
    (void)snprintf(name, sizeof(name), "manifest_load_whole_over_spec_%" PRIu64, size);
    bench_ratio(name, whole_us, spec_us > 0 ? spec_us : 1u);
    char cmd[sizeof(home) + 16];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_mstore: could not remove %s\n", home);
    }
}

int main(int argc, char **argv)
{
    uint64_t sizes[8] = {1u << 20, 16u << 20, 64u << 20, 268000000u};
    uint32_t count = 4;
    if (argc > 1) {
        count = 0;
        for (char *s = argv[1]; *s != '\0' && count < 8; s++) {
            sizes[count++] = strtoull(s, &s, 10);
            if (*s != ',') {
                break;
            }
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        bm_run(sizes[i]);
    }
    return 0;
}
