/*
 * teststore.c - a real LMDB store in a temp dir for tests, and whole-kv digests.
 */
#include "helpers/teststore.h"

#include <string.h>

#include "helpers/testutil.h"

int kumo_test_store_open(kumo_test_store_t *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->dir = kumo_test_tmpdir_make("store");
    if (ts->dir == NULL) {
        return KUMO_EIO;
    }
    kumo_store_cfg_t cfg = {.no_sync = true};
    kumo_err_ctx_t err = {0};
    int rc = kumo_store_open(ts->dir, &cfg, &ts->store, &err);
    if (rc == 0) {
        rc = kumo_store_block_begin(ts->store, &ts->kv, &err);
    }
    if (rc != 0) {
        print_error("kumo_test_store_open: %s (%s)\n", kumo_err_name(rc), err.detail);
        kumo_test_store_close(ts);
        return rc;
    }
    ts->block_open = true;
    return 0;
}

int kumo_test_store_commit(kumo_test_store_t *ts, uint64_t height)
{
    uint8_t app_hash[KUMO_STORE_HASH_BYTES] = {0};
    kumo_err_ctx_t err = {0};
    if (ts->store == NULL || !ts->block_open) {
        return KUMO_EINVAL;
    }
    ts->block_open = false;
    int rc = kumo_store_block_commit(ts->store, height, app_hash, &err);
    if (rc == 0) {
        rc = kumo_store_block_begin(ts->store, &ts->kv, &err);
    }
    if (rc != 0) {
        print_error("kumo_test_store_commit: %s (%s)\n", kumo_err_name(rc), err.detail);
        return rc;
    }
    ts->block_open = true;
    return 0;
}

int kumo_test_store_reopen(kumo_test_store_t *ts)
{
    uint8_t app_hash[KUMO_STORE_HASH_BYTES] = {0};
    uint64_t height = 0;
    kumo_err_ctx_t err = {0};
    if (ts->store == NULL || !ts->block_open) {
        return KUMO_EINVAL;
    }
    ts->block_open = false;
    int rc = kumo_store_meta_get(ts->store, &height, app_hash, &err);
    memset(app_hash, 0, sizeof(app_hash));
    if (rc == 0) {
        rc = kumo_store_block_commit(ts->store, height + 1, app_hash, &err);
    }
    kumo_store_close(ts->store);
    ts->store = NULL;
    if (rc == 0) {
        kumo_store_cfg_t cfg = {.no_sync = true};
        rc = kumo_store_open(ts->dir, &cfg, &ts->store, &err);
    }
    if (rc == 0) {
        rc = kumo_store_block_begin(ts->store, &ts->kv, &err);
    }
    if (rc != 0) {
        print_error("kumo_test_store_reopen: %s (%s)\n", kumo_err_name(rc), err.detail);
        return rc;
    }
    ts->block_open = true;
    return 0;
}

void kumo_test_store_close(kumo_test_store_t *ts)
{
    if (ts->store != NULL) {
        kumo_store_block_abort(ts->store);
        kumo_store_close(ts->store);
    }
    kumo_test_tmpdir_remove(ts->dir);
    memset(ts, 0, sizeof(*ts));
}

/* FNV-1a-128 (offset basis and prime from the FNV reference). */
#define TEST_FNV128_PRIME (((unsigned __int128)0x0000000001000000ull << 64) | 0x000000000000013Bull)
#define TEST_FNV128_BASIS (((unsigned __int128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull)

typedef struct test_digest {
    unsigned __int128 h;
    uint64_t entry_count;
    uint64_t bytes;
} test_digest_t;

static void test_fnv_feed(test_digest_t *d, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        d->h ^= p[i];
        d->h *= TEST_FNV128_PRIME;
    }
}

/* Length-prefixed, so ("ab", "c") and ("a", "bc") differ. */
static void test_fnv_feed_prefixed(test_digest_t *d, kumo_bytes_t b)
{
    uint8_t len_be[8];
    kumo_be64_put(len_be, (uint64_t)b.len);
    test_fnv_feed(d, len_be, sizeof(len_be));
    test_fnv_feed(d, b.ptr, b.len);
    d->bytes += (uint64_t)b.len;
}

static int test_digest_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    test_digest_t *d = cb_ctx;
    test_fnv_feed_prefixed(d, key);
    test_fnv_feed_prefixed(d, val);
    d->entry_count++;
    return 0;
}

int kumo_test_kv_digest(const kumo_kv_t *kv, uint8_t out[KUMO_TEST_KV_DIGEST_BYTES])
{
    test_digest_t d = {TEST_FNV128_BASIS, 0, 0};
    kumo_err_ctx_t err = {0};
    kumo_bytes_t empty = kumo_bytes_make(NULL, 0);
    int rc = kv->scan(kv->ctx, empty, empty, test_digest_cb, &d, &err);
    if (rc != 0) {
        print_error("kumo_test_kv_digest: %s (%s)\n", kumo_err_name(rc), err.detail);
        return rc;
    }
    kumo_be64_put(out, (uint64_t)(d.h >> 64));
    kumo_be64_put(out + 8, (uint64_t)d.h);
    kumo_be64_put(out + 16, d.entry_count);
    kumo_be64_put(out + 24, d.bytes);
    return 0;
}

static int test_count_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    size_t *count = cb_ctx;
    (*count)++;
    return 0;
}

int kumo_test_kv_count(const kumo_kv_t *kv, size_t *out)
{
    kumo_err_ctx_t err = {0};
    kumo_bytes_t empty = kumo_bytes_make(NULL, 0);
    size_t count = 0;
    int rc = kv->scan(kv->ctx, empty, empty, test_count_cb, &count, &err);
    if (rc != 0) {
        print_error("kumo_test_kv_count: %s (%s)\n", kumo_err_name(rc), err.detail);
        return rc;
    }
    *out = count;
    return 0;
}
