/*
 * test_mstore.c - the stored manifest, its spec and its files (src/provider/mstore.c): a
 * stored manifest loads without its files' contents, which are on disk with their modes; the
 * load reads the spec while it is of the stored manifest and builds it again when the
 * manifest was replaced, the spec removed or broken, and never reads the manifest while the
 * spec is of it; each file's content is left as its hash (what a new version compares);
 * storing a version keeps the files of others (a container a newer version keeps binds them:
 * the passes drop them); a stored manifest whose file would land outside the rules writes nothing.
 * Real files in a temp directory.
 */
#include "helpers/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "file/file.h"
#include "provider/daemon_int.h"

#define OWNER "kumo1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"

/* One workload "web" with one file at path (mode, content), packed into out. */
static void manifest_make(const char *path, uint32_t mode, const char *content, kumo_buf_t *out)
{
    char path_buf[256];
    uint8_t data[256];
    (void)snprintf(path_buf, sizeof(path_buf), "%s", path);
    size_t len = strlen(content);
    assert_true(len <= sizeof(data));
    memcpy(data, content, len);
    Kumo__ManifestFile f = KUMO__MANIFEST_FILE__INIT;
    f.path = path_buf;
    f.mode = mode;
    f.content.data = data;
    f.content.len = len;
    Kumo__ManifestFile *fs[1] = {&f};
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = "web";
    w.image = "localhost/kumo-webapp-web:1";
    w.count = 1;
    w.group = "web";
    w.n_files = 1;
    w.files = fs;
    Kumo__ManifestWorkload *ws[1] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = ws;
    kumo_buf_init(out, 1u << 20);
    assert_int_equal(kumo_codec_pack(&m.base, out, NULL), 0);
}

static void root_of(const kumo_buf_t *m, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    assert_int_equal(kumo_crypto_merkle_root(kumo_buf_bytes(m), out), 0);
}

/* The file of workload web index 0 of version: its content (NUL-ended) and mode. */
static bool file_read(const char *home,
                      const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                      char *text,
                      size_t cap,
                      unsigned int *mode)
{
    char dir[PD_PATH_BYTES];
    char path[PD_PATH_BYTES];
    assert_int_equal(pd_files_dir(home, OWNER, 7, version, dir), 0);
    assert_int_equal(pd_file_path(dir, "web", 0, path), 0);
    struct stat st;
    if (stat(path, &st) != 0) {
        return false;
    }
    *mode = (unsigned int)(st.st_mode & 07777u);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(text, 1, cap - 1u, f);
    text[n] = '\0';
    (void)fclose(f);
    return true;
}

/* Loads and checks the version and that the content was left out, its hash in its place. */
static void
load_expect(const char *home, const uint8_t version[KUMO_CRYPTO_HASH_BYTES], const char *content)
{
    Kumo__Manifest *m = NULL;
    uint8_t got[KUMO_CRYPTO_HASH_BYTES];
    kumo_err_ctx_t err = {0};
    assert_int_equal(pd_manifest_load(home, OWNER, 7, &m, got, &err), 0);
    assert_memory_equal(got, version, sizeof(got));
    assert_int_equal(m->n_workloads, 1);
    assert_int_equal(m->workloads[0]->n_files, 1);
    assert_string_equal(m->workloads[0]->files[0]->path, "/etc/app/config.json");
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(content, strlen(content)), hash), 0);
    assert_int_equal(m->workloads[0]->files[0]->content.len, KUMO_CRYPTO_HASH_BYTES);
    assert_memory_equal(m->workloads[0]->files[0]->content.data, hash, sizeof(hash));
    kumo_codec_free(&m->base);
}

static void test_store_writes_files_and_loads_without_contents(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("mstore");
    kumo_buf_t a;
    manifest_make("/etc/app/config.json", 0600u, "{\"a\":1}", &a);
    uint8_t va[KUMO_CRYPTO_HASH_BYTES];
    root_of(&a, va);
    kumo_err_ctx_t err = {0};
    assert_int_equal(pd_manifest_store(home, OWNER, 7, kumo_buf_bytes(&a), &err), 0);
    load_expect(home, va, "{\"a\":1}");
    char text[64];
    unsigned int mode = 0;
    assert_true(file_read(home, va, text, sizeof(text), &mode));
    assert_string_equal(text, "{\"a\":1}");
    assert_int_equal(mode, 0600u);
    uint8_t v[KUMO_CRYPTO_HASH_BYTES];
    assert_int_equal(pd_manifest_stored_version(home, OWNER, 7, v, &err), 0);
    assert_memory_equal(v, va, sizeof(v));

    /* A new version: its files written, the old version's kept until dropped. */
    kumo_buf_t b;
    manifest_make("/etc/app/config.json", 0644u, "{\"b\":2}", &b);
    uint8_t vb[KUMO_CRYPTO_HASH_BYTES];
    root_of(&b, vb);
    assert_int_equal(pd_manifest_store(home, OWNER, 7, kumo_buf_bytes(&b), &err), 0);
    load_expect(home, vb, "{\"b\":2}");
    assert_true(file_read(home, va, text, sizeof(text), &mode));
    pd_files_drop(home, OWNER, 7, vb, NULL, NULL);
    assert_false(file_read(home, va, text, sizeof(text), &mode));
    assert_true(file_read(home, vb, text, sizeof(text), &mode));
    assert_string_equal(text, "{\"b\":2}");
    assert_int_equal(mode, 0644u);
    kumo_buf_free(&a);
    kumo_buf_free(&b);
    kumo_test_tmpdir_remove(home);
}

static void test_stale_missing_or_broken_spec_is_rebuilt(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("mstore");
    kumo_buf_t a;
    kumo_buf_t b;
    manifest_make("/etc/app/config.json", 0644u, "one", &a);
    manifest_make("/etc/app/config.json", 0644u, "two", &b);
    uint8_t va[KUMO_CRYPTO_HASH_BYTES];
    uint8_t vb[KUMO_CRYPTO_HASH_BYTES];
    root_of(&a, va);
    root_of(&b, vb);
    kumo_err_ctx_t err = {0};
    assert_int_equal(pd_manifest_store(home, OWNER, 7, kumo_buf_bytes(&a), &err), 0);
    /* The manifest replaced behind the spec's back (a crash between the two writes): the
     * load sees the spec is of another manifest and builds it again. */
    assert_int_equal(pd_deployment_store(home, OWNER, 7, "manifest", kumo_buf_bytes(&b), &err), 0);
    load_expect(home, vb, "two");
    char text[64];
    unsigned int mode = 0;
    assert_true(file_read(home, vb, text, sizeof(text), &mode));
    assert_string_equal(text, "two");
    char spec[PD_PATH_BYTES];
    assert_int_equal(pd_deployment_path(home, OWNER, 7, "spec", spec), 0);
    assert_int_equal(unlink(spec), 0);
    load_expect(home, vb, "two");
    struct stat st;
    assert_int_equal(stat(spec, &st), 0);
    uint8_t junk[3] = {1, 2, 3};
    assert_int_equal(kumo_file_write(spec, kumo_bytes_make(junk, sizeof(junk)), 0600, &err), 0);
    load_expect(home, vb, "two");
    kumo_buf_free(&a);
    kumo_buf_free(&b);
    kumo_test_tmpdir_remove(home);
}

/* While the spec is of the stored manifest, a load never reads the manifest: its bytes
 * overwritten in place (same inode, size and time) do not change what the load gives. */
static void test_load_reads_the_spec_not_the_manifest(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("mstore");
    kumo_buf_t a;
    manifest_make("/etc/app/config.json", 0644u, "one", &a);
    uint8_t va[KUMO_CRYPTO_HASH_BYTES];
    root_of(&a, va);
    kumo_err_ctx_t err = {0};
    assert_int_equal(pd_manifest_store(home, OWNER, 7, kumo_buf_bytes(&a), &err), 0);
    char path[PD_PATH_BYTES];
    assert_int_equal(pd_deployment_path(home, OWNER, 7, "manifest", path), 0);
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    for (size_t i = 0; i < a.len; i++) {
        assert_int_equal(fputc(0xff, f), 0xff);
    }
    assert_int_equal(fclose(f), 0);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    load_expect(home, va, "one");
    kumo_buf_free(&a);
    kumo_test_tmpdir_remove(home);
}

static void test_files_outside_the_rules_are_never_written(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("mstore");
    static const struct {
        const char *path;
        uint32_t mode;
    } rows[] = {
        {"/proc/self/x", 0644u}, {"/etc/../x", 0644u},  {"relative", 0644u},
        {"/etc/app/x", 04755u},  {"/etc/app/x", 0666u},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_buf_t m;
        manifest_make(rows[i].path, rows[i].mode, "x", &m);
        uint8_t v[KUMO_CRYPTO_HASH_BYTES];
        root_of(&m, v);
        kumo_err_ctx_t err = {0};
        assert_int_equal(pd_deployment_store(home, OWNER, 7, "manifest", kumo_buf_bytes(&m), &err),
                         0);
        Kumo__Manifest *out = NULL;
        uint8_t got[KUMO_CRYPTO_HASH_BYTES];
        int rc = pd_manifest_load(home, OWNER, 7, &out, got, &err);
        if (rc != KUMO_EINVAL) {
            fail_msg("row %zu: got %s (%s)", i, kumo_err_name(rc), err.detail);
        }
        assert_null(out);
        char dir[PD_PATH_BYTES];
        assert_int_equal(pd_files_dir(home, OWNER, 7, v, dir), 0);
        struct stat st;
        assert_int_not_equal(stat(dir, &st), 0);
        kumo_buf_free(&m);
    }
    kumo_test_tmpdir_remove(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_writes_files_and_loads_without_contents),
        cmocka_unit_test(test_stale_missing_or_broken_spec_is_rebuilt),
        cmocka_unit_test(test_load_reads_the_spec_not_the_manifest),
        cmocka_unit_test(test_files_outside_the_rules_are_never_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
