/*
 * test_store_kv.c - proves the block kv keeps the kv contract: get/put/del, scans in byte
 * order (big-endian integers numerically) bounded by prefix and start, callback stop and error,
 * nested savepoints undoing exactly their own writes in both the kv and the write set, and
 * every key/value/scan/depth limit at MAX (accepted) and MAX+1 (rejected, nothing changed).
 *
 * Every test runs on a real store in a fresh temp dir (tests/helpers/teststore.h).
 */
#include "store_test_util.h"

/* ---- get/put/del/scan ---- */

static void test_store_put_get_del(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "a", "1");
    put_str(&ts.kv, "b", "2");
    assert_get_str(&ts.kv, "a", "1");
    put_str(&ts.kv, "a", "3");
    assert_get_str(&ts.kv, "a", "3");
    del_str(&ts.kv, "a");
    assert_get_str(&ts.kv, "a", NULL);
    /* Deleting an absent key is not an error. */
    del_str(&ts.kv, "zz");
    /* An empty value is a value, not an absence. */
    put_str(&ts.kv, "e", "");
    assert_get_str(&ts.kv, "e", "");
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_get_str(&ts.kv, "b", "2");
    assert_get_str(&ts.kv, "e", "");
    assert_get_str(&ts.kv, "a", NULL);
    size_t n = 0;
    assert_int_equal(kumo_test_kv_count(&ts.kv, &n), 0);
    assert_int_equal(n, 2);
    kumo_test_store_close(&ts);
}

static int u64_collect_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    uint64_t *out = cb_ctx;
    assert_int_equal(key.len, 9);
    assert_int_equal(val.len, 8);
    uint64_t v = kumo_be64_get(key.ptr + 1);
    assert_true(v == kumo_be64_get(val.ptr));
    out[++out[0]] = v;
    return 0;
}

static void test_store_scan_orders_be_integers_numerically(void **state)
{
    (void)state;
    static const uint64_t vals[] = {1000, 1, 256, 65536, 2, 0xFFFFFFFF00ull, 255, 0};
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(vals); i++) {
        uint8_t key[9] = {'n'};
        uint8_t val[8];
        kumo_be64_put(key + 1, vals[i]);
        kumo_be64_put(val, vals[i]);
        assert_int_equal(ts.kv.put(ts.kv.ctx, kumo_bytes_make(key, sizeof(key)),
                                   kumo_bytes_make(val, sizeof(val)), NULL),
                         0);
    }
    put_str(&ts.kv, "m", "before");
    put_str(&ts.kv, "o", "after");
    uint64_t got[16] = {0};
    assert_int_equal(ts.kv.scan(ts.kv.ctx, b_str("n"), b_str(""), u64_collect_cb, got, NULL), 0);
    assert_int_equal(got[0], KUMO_ARRAY_COUNT(vals));
    for (size_t i = 2; i <= got[0]; i++) {
        assert_true(got[i - 1] < got[i]);
    }
    assert_true(got[1] == 0 && got[got[0]] == 0xFFFFFFFF00ull);
    kumo_test_store_close(&ts);
}

static void scan_fixture(kumo_kv_t *kv)
{
    put_str(kv, "a", "0");
    put_str(kv, "a/1", "1");
    put_str(kv, "a/3", "3");
    put_str(kv, "a/2", "2");
    put_str(kv, "a0", "x");
    put_str(kv, "b/1", "y");
    put_str(kv, "0", "z");
}

static void test_store_scan_prefix_and_start(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    scan_fixture(&ts.kv);
    /* The prefix scan stops at the prefix end ("a0" follows "a/3" in byte order). */
    assert_scan(&ts.kv, "a/", "", "a/1=1 a/2=2 a/3=3");
    assert_scan(&ts.kv, "a", "", "a=0 a/1=1 a/2=2 a/3=3 a0=x");
    assert_scan(&ts.kv, "", "", "0=z a=0 a/1=1 a/2=2 a/3=3 a0=x b/1=y");
    /* From a start key inside, before and after the prefix range. */
    assert_scan(&ts.kv, "a/", "a/2", "a/2=2 a/3=3");
    assert_scan(&ts.kv, "a/", "a/15", "a/2=2 a/3=3");
    assert_scan(&ts.kv, "a/", "0", "a/1=1 a/2=2 a/3=3");
    assert_scan(&ts.kv, "a/", "b", "");
    assert_scan(&ts.kv, "", "a0", "a0=x b/1=y");
    assert_scan(&ts.kv, "c", "", "");
    assert_scan(&ts.kv, "", "c", "");
    /* The same after commit, from disk. */
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_scan(&ts.kv, "a/", "a/2", "a/2=2 a/3=3");
    kumo_test_store_close(&ts);
}

static void test_store_scan_callback_stop_and_error(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    scan_fixture(&ts.kv);
    collect_t c = {.stop_after = 2};
    assert_int_equal(ts.kv.scan(ts.kv.ctx, b_str("a/"), b_str(""), collect_cb, &c, NULL), 0);
    assert_string_equal(c.text, "a/1=1 a/2=2");
    collect_t f = {.fail_after = 2};
    assert_int_equal(ts.kv.scan(ts.kv.ctx, b_str("a/"), b_str(""), collect_cb, &f, NULL), KUMO_EIO);
    assert_int_equal(f.count, 2);
    /* The kv is still usable for writes after a stopped or failed scan. */
    put_str(&ts.kv, "a/4", "4");
    assert_scan(&ts.kv, "a/", "a/3", "a/3=3 a/4=4");
    kumo_test_store_close(&ts);
}

/* A scan callback may read the kv it is scanning. */
static int nested_get_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    kumo_kv_t *kv = cb_ctx;
    kumo_bytes_t got;
    assert_int_equal(kv->get(kv->ctx, key, &got, NULL), 0);
    assert_true(kumo_bytes_equal(got, val));
    return 0;
}

static void test_store_scan_callback_may_get(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    scan_fixture(&ts.kv);
    sp_begin(&ts.kv);
    put_str(&ts.kv, "a/5", "5");
    assert_int_equal(ts.kv.scan(ts.kv.ctx, b_str(""), b_str(""), nested_get_cb, &ts.kv, NULL), 0);
    sp_commit(&ts.kv);
    kumo_test_store_close(&ts);
}

/* ---- savepoints and the write set ---- */

static void test_store_savepoint_commit_inner_rollback_outer(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "base", "0");
    sp_begin(&ts.kv);
    put_str(&ts.kv, "x", "1");
    del_str(&ts.kv, "base");
    sp_begin(&ts.kv);
    put_str(&ts.kv, "y", "2");
    put_str(&ts.kv, "x", "3");
    sp_commit(&ts.kv);
    assert_get_str(&ts.kv, "x", "3");
    assert_get_str(&ts.kv, "y", "2");
    ts.kv.savepoint_rollback(ts.kv.ctx);
    assert_get_str(&ts.kv, "x", NULL);
    assert_get_str(&ts.kv, "y", NULL);
    assert_get_str(&ts.kv, "base", "0");
    assert_write_set(&ts.kv, "base=0");
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_scan(&ts.kv, "", "", "base=0");
    kumo_test_store_close(&ts);
}

static void test_store_savepoint_rollback_inner_commit_outer(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "base", "0");
    sp_begin(&ts.kv);
    put_str(&ts.kv, "x", "1");
    sp_begin(&ts.kv);
    put_str(&ts.kv, "y", "2");
    put_str(&ts.kv, "x", "3");
    del_str(&ts.kv, "base");
    ts.kv.savepoint_rollback(ts.kv.ctx);
    assert_get_str(&ts.kv, "x", "1");
    assert_get_str(&ts.kv, "y", NULL);
    assert_get_str(&ts.kv, "base", "0");
    /* Writes after a rollback land in the surviving level. */
    put_str(&ts.kv, "z", "4");
    sp_commit(&ts.kv);
    assert_write_set(&ts.kv, "base=0 x=1 z=4");
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_scan(&ts.kv, "", "", "base=0 x=1 z=4");
    kumo_test_store_close(&ts);
}

static void test_store_savepoint_depth_limit(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    char key[8];
    for (unsigned i = 0; i < KUMO_STORE_SAVEPOINT_DEPTH_MAX; i++) {
        sp_begin(&ts.kv);
        snprintf(key, sizeof(key), "d%02u", i);
        put_str(&ts.kv, key, "v");
    }
    /* MAX levels are open; one more is rejected and changes nothing. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(ts.kv.savepoint_begin(ts.kv.ctx, &err), KUMO_ELIMIT);
    assert_int_equal(err.code, KUMO_ELIMIT);
    put_str(&ts.kv, "deep", "v");
    /* Alternate commits and rollbacks on the way out: odd levels roll back. */
    for (unsigned i = KUMO_STORE_SAVEPOINT_DEPTH_MAX; i > 0; i--) {
        if (i % 2 == 1) {
            ts.kv.savepoint_rollback(ts.kv.ctx);
        } else {
            sp_commit(&ts.kv);
        }
    }
    /* Level 1 (d00) rolled back everything nested in it. */
    assert_scan(&ts.kv, "", "", "");
    assert_write_set(&ts.kv, "");
    kumo_test_store_close(&ts);
}

/* ---- limits: table-driven, each at MAX (accepted) and MAX+1 (rejected) ---- */

enum limit_op {
    OP_PUT,
    OP_GET,
    OP_DEL,
    OP_SCAN_PREFIX,
    OP_SCAN_START
};

static int scan_nop_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)cb_ctx;
    (void)key;
    (void)val;
    return 0;
}

static int
limit_run(kumo_kv_t *kv, enum limit_op op, size_t key_len, size_t val_len, kumo_err_ctx_t *err)
{
    static uint8_t key[KUMO_KEY_BYTES_MAX + 1];
    static uint8_t val[KUMO_STATE_OBJECT_BYTES_MAX + 1];
    memset(key, 'k', sizeof(key));
    for (size_t i = 0; i < sizeof(val); i++) {
        val[i] = (uint8_t)i;
    }
    kumo_bytes_t k = kumo_bytes_make(key_len ? key : NULL, key_len);
    kumo_bytes_t v = kumo_bytes_make(val, val_len);
    kumo_bytes_t got;
    kumo_bytes_t empty = kumo_bytes_make(NULL, 0);
    switch (op) {
    case OP_PUT:
        return kv->put(kv->ctx, k, v, err);
    case OP_GET:
        return kv->get(kv->ctx, k, &got, err);
    case OP_DEL:
        return kv->del(kv->ctx, k, err);
    case OP_SCAN_PREFIX:
        return kv->scan(kv->ctx, k, empty, scan_nop_cb, NULL, err);
    case OP_SCAN_START:
        return kv->scan(kv->ctx, empty, k, scan_nop_cb, NULL, err);
    default:
        fail();
    }
    return KUMO_EINVAL;
}

static void test_store_kv_limits(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum limit_op op;
        size_t key_len;
        size_t val_len;
        int want;
    } cases[] = {
        {"valid put", OP_PUT, 1, 0, 0},
        {"put key at max", OP_PUT, KUMO_KEY_BYTES_MAX, 1, 0},
        {"get key at max", OP_GET, KUMO_KEY_BYTES_MAX, 0, 0},
        {"del key at max", OP_DEL, KUMO_KEY_BYTES_MAX, 0, 0},
        {"put value at max", OP_PUT, 2, KUMO_STATE_OBJECT_BYTES_MAX, 0},
        {"scan prefix at max", OP_SCAN_PREFIX, KUMO_KEY_BYTES_MAX, 0, 0},
        {"scan start at max", OP_SCAN_START, KUMO_KEY_BYTES_MAX, 0, 0},
        {"put key over max", OP_PUT, KUMO_KEY_BYTES_MAX + 1, 1, KUMO_ELIMIT},
        {"get key over max", OP_GET, KUMO_KEY_BYTES_MAX + 1, 0, KUMO_ELIMIT},
        {"del key over max", OP_DEL, KUMO_KEY_BYTES_MAX + 1, 0, KUMO_ELIMIT},
        {"put value over max", OP_PUT, 3, KUMO_STATE_OBJECT_BYTES_MAX + 1, KUMO_ELIMIT},
        {"scan prefix over max", OP_SCAN_PREFIX, KUMO_KEY_BYTES_MAX + 1, 0, KUMO_ELIMIT},
        {"scan start over max", OP_SCAN_START, KUMO_KEY_BYTES_MAX + 1, 0, KUMO_ELIMIT},
        {"put empty key", OP_PUT, 0, 1, KUMO_EINVAL},
        {"get empty key", OP_GET, 0, 0, KUMO_EINVAL},
        {"del empty key", OP_DEL, 0, 0, KUMO_EINVAL},
    };
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        size_t ws_before = write_set_count(&ts.kv);
        assert_int_equal(kumo_test_kv_digest(&ts.kv, before), 0);
        kumo_err_ctx_t err = {0};
        int rc = limit_run(&ts.kv, cases[i].op, cases[i].key_len, cases[i].val_len, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        if (rc != 0) {
            /* A rejected call leaves the kv and the write set unchanged. */
            assert_int_equal(kumo_test_kv_digest(&ts.kv, after), 0);
            assert_memory_equal(before, after, sizeof(before));
            assert_int_equal(write_set_count(&ts.kv), ws_before);
            assert_int_equal(err.code, rc);
        }
    }
    /* Values at the limit read back whole, from disk. */
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    uint8_t key2[2] = {'k', 'k'};
    kumo_bytes_t got;
    assert_int_equal(ts.kv.get(ts.kv.ctx, kumo_bytes_make(key2, 2), &got, NULL), 0);
    assert_int_equal(got.len, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(got.ptr[KUMO_STATE_OBJECT_BYTES_MAX - 1],
                     (uint8_t)(KUMO_STATE_OBJECT_BYTES_MAX - 1));
    kumo_test_store_close(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_put_get_del),
        cmocka_unit_test(test_store_scan_orders_be_integers_numerically),
        cmocka_unit_test(test_store_scan_prefix_and_start),
        cmocka_unit_test(test_store_scan_callback_stop_and_error),
        cmocka_unit_test(test_store_scan_callback_may_get),
        cmocka_unit_test(test_store_savepoint_commit_inner_rollback_outer),
        cmocka_unit_test(test_store_savepoint_rollback_inner_commit_outer),
        cmocka_unit_test(test_store_savepoint_depth_limit),
        cmocka_unit_test(test_store_kv_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
