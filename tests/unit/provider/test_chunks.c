/*
 * test_chunks.c - the provider's chunk store (src/provider/chunks.c): a manifest split into
 * its store gives back every chunk with a proof that verifies against its root and
 * reassembles to the same bytes; a chunk whose proof fails is never stored; a stored chunk
 * changed on disk is corruption, never served; the store of another declared length is
 * refused, and replaced by the whole manifest; a declared length over the limit opens nothing;
 * dropping keeps only the version and deployments asked for. Real files in a temp directory.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provider/daemon_int.h"

#define OWNER "kumo1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
#define CHUNK KUMO_CRYPTO_MERKLE_CHUNK_BYTES
#define LIMIT (16u * CHUNK)

static uint8_t *data_make(size_t len, uint8_t seed)
{
    uint8_t *p = malloc(len == 0 ? 1 : len);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)((i * 31u + seed + (i >> 18)) & 0xffu);
    }
    return p;
}

static size_t proof_len_of(const pd_chunks_t *c, uint32_t i)
{
    return (size_t)kumo_crypto_merkle_proof_count(i, c->count) * KUMO_CRYPTO_HASH_BYTES;
}

static void test_chunks_split_serve_and_reassemble(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("chunks");
    static const size_t lens[] = {0, 1, CHUNK, CHUNK + 1u, 5u * CHUNK - 3u};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        uint8_t *m = data_make(lens[k], (uint8_t)k);
        pd_chunks_t c;
        kumo_err_ctx_t err = {0};
        int rc =
            pd_chunks_from_manifest(home, OWNER, 7, kumo_bytes_make(m, lens[k]), LIMIT, &c, &err);
        assert_int_equal(rc, 0);
        assert_int_equal(pd_chunks_held(&c), c.count);
        uint8_t root[KUMO_CRYPTO_HASH_BYTES];
        assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(m, lens[k]), root), 0);
        assert_memory_equal(root, c.version, sizeof(root));
        pd_chunks_t again;
        assert_int_equal(pd_chunks_load(home, OWNER, 7, root, LIMIT, &again, &err), 0);
        assert_int_equal(again.total_bytes, lens[k]);
        kumo_buf_t one;
        kumo_buf_init(&one, PD_CHUNK_FILE_BYTES_MAX);
        for (uint32_t i = 0; i < c.count; i++) {
            kumo_buf_reset(&one);
            assert_int_equal(pd_chunks_get(&again, i, &one, &err), 0);
            size_t pl = proof_len_of(&c, i);
            kumo_bytes_t file = kumo_buf_bytes(&one);
            assert_int_equal(kumo_crypto_merkle_proof_verify(root, i, c.count,
                                                             pd_chunk_slice(file, pl, one.len - pl),
                                                             pd_chunk_slice(file, 0, pl), &err),
                             0);
        }
        kumo_buf_free(&one);
        kumo_buf_t all;
        kumo_buf_init(&all, LIMIT);
        assert_int_equal(pd_chunks_assemble(&again, &all, &err), 0);
        assert_int_equal(all.len, lens[k]);
        assert_true(lens[k] == 0 || memcmp(all.ptr, m, lens[k]) == 0);
        kumo_buf_free(&all);
        free(m);
    }
    kumo_test_tmpdir_remove(home);
}

static void test_chunks_refuse_what_does_not_prove(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("chunks");
    size_t len = 3u * CHUNK;
    uint8_t *m = data_make(len, 1);
    pd_chunks_t full;
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        pd_chunks_from_manifest(home, OWNER, 1, kumo_bytes_make(m, len), LIMIT, &full, &err), 0);
    kumo_buf_t one;
    kumo_buf_init(&one, PD_CHUNK_FILE_BYTES_MAX);
    assert_int_equal(pd_chunks_get(&full, 1, &one, &err), 0);
    size_t pl = proof_len_of(&full, 1);

    /* A second deployment fetching the same version: a flipped byte is refused, nothing kept. */
    pd_chunks_t c;
    assert_int_equal(pd_chunks_open(home, OWNER, 2, full.version, len, LIMIT, &c, &err), 0);
    one.ptr[pl + 10] ^= 1u;
    assert_int_equal(pd_chunks_put(&c, 1, kumo_bytes_make(one.ptr, pl),
                                   kumo_bytes_make(one.ptr + pl, one.len - pl), &err),
                     KUMO_EMISMATCH);
    assert_false(pd_chunks_has(&c, 1));
    assert_int_equal(pd_chunks_put(&c, 0, kumo_bytes_make(one.ptr, pl),
                                   kumo_bytes_make(one.ptr + pl, one.len - pl), &err),
                     KUMO_EMISMATCH);
    one.ptr[pl + 10] ^= 1u;
    assert_int_equal(pd_chunks_put(&c, 1, kumo_bytes_make(one.ptr, pl),
                                   kumo_bytes_make(one.ptr + pl, one.len - pl), &err),
                     0);
    assert_int_equal(pd_chunks_held(&c), 1);
    kumo_buf_t all;
    kumo_buf_init(&all, LIMIT);
    assert_int_equal(pd_chunks_assemble(&c, &all, &err), KUMO_ENOTFOUND);
    kumo_buf_free(&all);

    /* Another length for the same version is refused; over the limit opens nothing. */
    pd_chunks_t other;
    assert_int_equal(pd_chunks_open(home, OWNER, 2, full.version, len + 1u, LIMIT, &other, &err),
                     KUMO_EMISMATCH);
    assert_int_equal(
        pd_chunks_open(home, OWNER, 3, full.version, (uint64_t)LIMIT + 1u, LIMIT, &other, &err),
        KUMO_ELIMIT);
    assert_int_equal(pd_chunks_load(home, OWNER, 3, full.version, LIMIT, &other, &err),
                     KUMO_ENOTFOUND);
    assert_int_equal(pd_chunks_open(home, OWNER, 3, full.version, LIMIT, LIMIT, &other, &err), 0);

    /* The whole manifest replaces a store opened under a length a peer lied about. */
    pd_chunks_t lied;
    assert_int_equal(pd_chunks_open(home, OWNER, 9, full.version, len - 5u, LIMIT, &lied, &err), 0);
    assert_int_equal(
        pd_chunks_from_manifest(home, OWNER, 9, kumo_bytes_make(m, len), LIMIT, &lied, &err), 0);
    assert_int_equal(lied.total_bytes, len);
    assert_int_equal(pd_chunks_held(&lied), lied.count);

    /* A stored chunk changed on disk is corruption and is not served. */
    char path[PD_PATH_BYTES + 16];
    (void)snprintf(path, sizeof(path), "%s/0", full.dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 200, SEEK_SET), 0);
    assert_int_equal(fputc('!', f), '!');
    assert_int_equal(fclose(f), 0);
    kumo_buf_reset(&one);
    assert_int_equal(pd_chunks_get(&full, 0, &one, &err), KUMO_ECORRUPT);
    assert_int_equal(one.len, 0);
    assert_int_equal(pd_chunks_get(&full, 3, &one, &err), KUMO_ENOTFOUND);
    kumo_buf_free(&one);
    free(m);
    kumo_test_tmpdir_remove(home);
}

static bool keep_dseq_5(void *ctx, const char *owner, uint64_t dseq, const char *tail)
{
    (void)ctx;
    (void)tail;
    return dseq == 5 && strcmp(owner, OWNER) == 0;
}

static void test_chunks_drop_keeps_what_is_asked(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("chunks");
    uint8_t a[] = "version a";
    uint8_t b[] = "version b";
    pd_chunks_t ca;
    pd_chunks_t cb;
    pd_chunks_t c5;
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        pd_chunks_from_manifest(home, OWNER, 4, kumo_bytes_make(a, sizeof(a)), LIMIT, &ca, &err),
        0);
    assert_int_equal(
        pd_chunks_from_manifest(home, OWNER, 4, kumo_bytes_make(b, sizeof(b)), LIMIT, &cb, &err),
        0);
    assert_int_equal(
        pd_chunks_from_manifest(home, OWNER, 5, kumo_bytes_make(a, sizeof(a)), LIMIT, &c5, &err),
        0);
    /* A file of the deployment that is not a chunk store is never touched. */
    char manifest[PD_PATH_BYTES];
    assert_int_equal(pd_deployment_store(home, OWNER, 4, "manifest", kumo_bytes_make(a, 1), &err),
                     0);
    assert_int_equal(pd_deployment_path(home, OWNER, 4, "manifest", manifest), 0);

    pd_chunks_drop(home, OWNER, 4, cb.version, NULL, NULL);
    pd_chunks_t got;
    assert_int_equal(pd_chunks_load(home, OWNER, 4, ca.version, LIMIT, &got, &err), KUMO_ENOTFOUND);
    assert_int_equal(pd_chunks_load(home, OWNER, 4, cb.version, LIMIT, &got, &err), 0);
    assert_int_equal(pd_chunks_load(home, OWNER, 5, c5.version, LIMIT, &got, &err), 0);

    pd_chunks_drop(home, NULL, 0, NULL, keep_dseq_5, NULL);
    assert_int_equal(pd_chunks_load(home, OWNER, 4, cb.version, LIMIT, &got, &err), KUMO_ENOTFOUND);
    assert_int_equal(pd_chunks_load(home, OWNER, 5, c5.version, LIMIT, &got, &err), 0);
    struct stat st;
    assert_int_equal(stat(manifest, &st), 0);
    kumo_test_tmpdir_remove(home);
}

/* A store kept in one file (what a deployment's tunnels tell its peers) goes with its
 * deployment too: the file of dseq 4 is removed, the kept dseq 5's stays, and a file of
 * another kind is never touched. */
static void test_store_drop_removes_files_too(void **state)
{
    (void)state;
    char *home = kumo_test_tmpdir_make("chunks");
    kumo_err_ctx_t err = {0};
    char gone[PD_PATH_BYTES];
    char kept[PD_PATH_BYTES];
    char other[PD_PATH_BYTES];
    kumo_bytes_t text = kumo_bytes_make((const uint8_t *)"{}", 2);
    assert_int_equal(pd_deployment_store(home, OWNER, 4, "tunnels", text, &err), 0);
    assert_int_equal(pd_deployment_store(home, OWNER, 5, "tunnels", text, &err), 0);
    assert_int_equal(pd_deployment_store(home, OWNER, 4, "manifest", text, &err), 0);
    assert_int_equal(pd_deployment_path(home, OWNER, 4, "tunnels", gone), 0);
    assert_int_equal(pd_deployment_path(home, OWNER, 5, "tunnels", kept), 0);
    assert_int_equal(pd_deployment_path(home, OWNER, 4, "manifest", other), 0);
    struct stat st;
    assert_int_equal(stat(gone, &st), 0);
    pd_tunnels_drop(home, NULL, 0, keep_dseq_5, NULL);
    assert_int_equal(stat(gone, &st), -1);
    assert_int_equal(stat(kept, &st), 0);
    assert_int_equal(stat(other, &st), 0);
    pd_tunnels_drop(home, OWNER, 5, NULL, NULL);
    assert_int_equal(stat(kept, &st), -1);
    kumo_test_tmpdir_remove(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_drop_removes_files_too),
        cmocka_unit_test(test_chunks_split_serve_and_reassemble),
        cmocka_unit_test(test_chunks_refuse_what_does_not_prove),
        cmocka_unit_test(test_chunks_drop_keeps_what_is_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
