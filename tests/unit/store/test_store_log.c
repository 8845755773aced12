/*
 * test_store_log.c - proves the captured write set: sorted by key, one net write per key (last
 * write wins, deletes as tombstones, empty values are not tombstones), rollbacks drop their
 * writes, the write-set byte bound at MAX and MAX+1, a 100k-write block, and that every
 * allocation failure in capture or visit returns KUMO_ENOMEM with the kv and the write set
 * still in step and nothing leaked (ASan).
 */
#include "store_test_util.h"

static void test_store_write_set_sorted_dedup_tombstones(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "old", "o");
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    /* A fresh block starts with an empty write set. */
    assert_write_set(&ts.kv, "");
    put_str(&ts.kv, "m", "1");
    put_str(&ts.kv, "c", "1");
    put_str(&ts.kv, "m", "2");
    del_str(&ts.kv, "old");
    put_str(&ts.kv, "a", "1");
    del_str(&ts.kv, "never"); /* a delete of an absent key is still a write */
    put_str(&ts.kv, "e", "");
    put_str(&ts.kv, "ab", "x");
    put_str(&ts.kv, "c", "3");
    assert_write_set(&ts.kv, "a=1 ab=x c=3 e= m=2 never! old!");
    /* Visiting twice gives the same answer. */
    assert_write_set(&ts.kv, "a=1 ab=x c=3 e= m=2 never! old!");
    kumo_test_store_close(&ts);
}

static int ws_empty_val_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)cb_ctx;
    (void)key;
    assert_non_null(val.ptr); /* an empty value is not a tombstone */
    assert_int_equal(val.len, 0);
    return 0;
}

static void test_store_write_set_last_write_wins(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "k", "1");
    put_str(&ts.kv, "k", "2");
    del_str(&ts.kv, "k");
    put_str(&ts.kv, "k", "3");
    put_str(&ts.kv, "j", "1");
    del_str(&ts.kv, "j");
    assert_write_set(&ts.kv, "j! k=3");
    kumo_test_store_close(&ts);

    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "e", "x");
    put_str(&ts.kv, "e", "");
    assert_int_equal(ts.kv.write_set_visit(ts.kv.ctx, ws_empty_val_cb, NULL, NULL), 0);
    kumo_test_store_close(&ts);
}

static void test_store_write_set_callback_stop_and_error(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "c", "3");
    put_str(&ts.kv, "a", "1");
    put_str(&ts.kv, "b", "2");
    collect_t c = {.stop_after = 2};
    assert_int_equal(ts.kv.write_set_visit(ts.kv.ctx, collect_cb, &c, NULL), 0);
    assert_string_equal(c.text, "a=1 b=2");
    collect_t f = {.fail_after = 1};
    assert_int_equal(ts.kv.write_set_visit(ts.kv.ctx, collect_cb, &f, NULL), KUMO_EIO);
    assert_int_equal(f.count, 1);
    kumo_test_store_close(&ts);
}

/* A 100k-write block (the size a 10k-tx block produces) with heavy key reuse. */
static void test_store_write_set_large_block(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    enum {
        WRITES = 100000,
        KEYS = 30011
    };
    for (uint32_t i = 0; i < WRITES; i++) {
        /* A permutation of the key space, visited about three times. */
        uint32_t k = (uint32_t)(((uint64_t)i * 7919u) % KEYS);
        uint8_t key[5] = {'w'};
        uint8_t val[8];
        kumo_be32_put(key + 1, k);
        kumo_be64_put(val, i);
        assert_int_equal(ts.kv.put(ts.kv.ctx, kumo_bytes_make(key, sizeof(key)),
                                   kumo_bytes_make(val, sizeof(val)), NULL),
                         0);
    }
    assert_int_equal(write_set_count(&ts.kv), KEYS);
    size_t n = 0;
    assert_int_equal(kumo_test_kv_count(&ts.kv, &n), 0);
    assert_int_equal(n, KEYS);
    kumo_test_store_close(&ts);
}

static void test_store_write_set_bytes_limit(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-wslimit");
    assert_non_null(dir);
    /* Room for exactly three writes of a 1-byte key and a 1-byte value. */
    const uint64_t per_write = 1u + 1u + KUMO_STORE_WRITE_SET_ENTRY_BYTES;
    kumo_store_cfg_t cfg = {.no_sync = true, .write_set_bytes_max = 3 * per_write};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    kumo_kv_t kv;
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "a", "1");
    put_str(&kv, "b", "2");
    put_str(&kv, "c", "3"); /* exactly at the bound */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kv.put(kv.ctx, b_str("d"), b_str("4"), &err), KUMO_ELIMIT);
    assert_int_equal(kv.del(kv.ctx, b_str("a"), &err), KUMO_ELIMIT);
    assert_get_str(&kv, "d", NULL);
    assert_get_str(&kv, "a", "1");
    assert_write_set(&kv, "a=1 b=2 c=3");
    /* A rollback frees room again. */
    sp_begin(&kv);
    kv.savepoint_rollback(kv.ctx);
    kumo_store_block_abort(store);
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "a", "1");
    sp_begin(&kv);
    put_str(&kv, "b", "2");
    put_str(&kv, "c", "3");
    kv.savepoint_rollback(kv.ctx);
    put_str(&kv, "d", "4");
    put_str(&kv, "e", "5");
    assert_write_set(&kv, "a=1 d=4 e=5");
    kumo_store_close(store);
    kumo_test_tmpdir_remove(dir);
}

/* ---- allocation failures ---- */

enum {
    FAULT_WRITES = 600
};

/* Puts FAULT_WRITES keys (with a rolled-back savepoint every 50) and visits the write set;
 * *done counts the puts that succeeded. */
static int fault_sequence(kumo_kv_t *kv, size_t *done, size_t *visited)
{
    static uint8_t val[200];
    for (uint32_t i = 0; i < FAULT_WRITES; i++) {
        uint8_t key[5] = {'f'};
        kumo_be32_put(key + 1, i);
        if (i % 50 == 25) {
            KUMO_GUARD(kv->savepoint_begin(kv->ctx, NULL));
            int rc = kv->put(kv->ctx, b_str("rolled back"), b_str("x"), NULL);
            kv->savepoint_rollback(kv->ctx);
            KUMO_GUARD(rc);
        }
        memset(val, (int)(i & 0xFF), sizeof(val));
        KUMO_GUARD(kv->put(kv->ctx, kumo_bytes_make(key, sizeof(key)),
                           kumo_bytes_make(val, sizeof(val)), NULL));
        (*done)++;
    }
    return kv->write_set_visit(kv->ctx, count_cb, visited, NULL);
}

static void test_store_alloc_failures_in_write_set(void **state)
{
    (void)state;
    uint64_t nth = 1;
    for (;; nth++) {
        kumo_test_store_t ts = {0};
        assert_int_equal(kumo_test_store_open(&ts), 0);
        size_t done = 0;
        size_t visited = 0;
        kumo_alloc_fail_at(nth);
        int rc = fault_sequence(&ts.kv, &done, &visited);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            assert_int_equal(visited, FAULT_WRITES);
            kumo_test_store_close(&ts);
            break;
        }
        assert_int_equal(rc, KUMO_ENOMEM);
        assert_int_equal(visited, 0); /* the callback never ran */
        /* Exactly the successful puts are in the kv and in the write set. */
        assert_int_equal(write_set_count(&ts.kv), done);
        size_t n = 0;
        assert_int_equal(kumo_test_kv_count(&ts.kv, &n), 0);
        assert_int_equal(n, done);
        kumo_test_store_close(&ts);
    }
    /* Growth of the entries and the arena, and the sort index, each failed once. */
    assert_true(nth > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_write_set_sorted_dedup_tombstones),
        cmocka_unit_test(test_store_write_set_last_write_wins),
        cmocka_unit_test(test_store_write_set_callback_stop_and_error),
        cmocka_unit_test(test_store_write_set_large_block),
        cmocka_unit_test(test_store_write_set_bytes_limit),
        cmocka_unit_test(test_store_alloc_failures_in_write_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
