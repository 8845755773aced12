/*
 * test_store_record.c - proves the block store tables (blocks, results, tx index): records
 * written in the open block become visible to snapshots only at commit, vanish with an abort,
 * never enter the write set, survive a reopen, and a snapshot's meta is the height it began
 * at. Key and record limits are tested at MAX and MAX+1, each rule in its own table row.
 */
#include "store_test_util.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void
record_put_ok(kumo_store_t *store, kumo_store_table_t table, const char *k, const char *v)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_store_block_record_put(store, table, b_str(k), b_str(v), &err);
    if (rc != 0) {
        fail_msg("record put %s: %s (%s)", k, kumo_err_name(rc), err.detail);
    }
}

/* want == NULL: absent. */
static void
assert_record(kumo_store_t *store, kumo_store_table_t table, const char *k, const char *want)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(store, &read, &kv, NULL), 0);
    kumo_bytes_t v = {0};
    kumo_err_ctx_t err = {0};
    int rc = kumo_store_read_record_get(read, table, b_str(k), &v, &err);
    if (want == NULL) {
        assert_int_equal(rc, KUMO_ENOTFOUND);
    } else {
        if (rc != 0) {
            fail_msg("record get %s: %s (%s)", k, kumo_err_name(rc), err.detail);
        }
        assert_true(kumo_bytes_equal(v, b_str(want)));
    }
    kumo_store_read_end(read);
}

static void test_store_record_commits_with_the_block(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "s", "1");
    record_put_ok(ts.store, KUMO_STORE_TABLE_BLOCKS, "h1", "block1");
    record_put_ok(ts.store, KUMO_STORE_TABLE_RESULTS, "h1", "results1");
    record_put_ok(ts.store, KUMO_STORE_TABLE_TX_INDEX, "tx", "loc");
    /* Not visible before the commit, and not in the write set (the app hash). */
    assert_record(ts.store, KUMO_STORE_TABLE_BLOCKS, "h1", NULL);
    assert_write_set(&ts.kv, "s=1");
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    assert_record(ts.store, KUMO_STORE_TABLE_BLOCKS, "h1", "block1");
    assert_record(ts.store, KUMO_STORE_TABLE_RESULTS, "h1", "results1");
    assert_record(ts.store, KUMO_STORE_TABLE_TX_INDEX, "tx", "loc");
    /* Tables are separate namespaces, and the state kv does not see them. */
    assert_record(ts.store, KUMO_STORE_TABLE_TX_INDEX, "h1", NULL);
    assert_get_str(&ts.kv, "h1", NULL);
    assert_write_set(&ts.kv, "");

    /* add keeps what is there, committed or from this block. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_store_block_record_add(ts.store, KUMO_STORE_TABLE_TX_INDEX, b_str("tx"),
                                                 b_str("other"), &err),
                     KUMO_EEXIST);
    assert_int_equal(kumo_store_block_record_add(ts.store, KUMO_STORE_TABLE_TX_INDEX, b_str("tx2"),
                                                 b_str("a"), &err),
                     0);
    assert_int_equal(kumo_store_block_record_add(ts.store, KUMO_STORE_TABLE_TX_INDEX, b_str("tx2"),
                                                 b_str("b"), &err),
                     KUMO_EEXIST);
    assert_int_equal(kumo_test_store_commit(&ts, 2), 0);
    assert_record(ts.store, KUMO_STORE_TABLE_TX_INDEX, "tx", "loc");
    assert_record(ts.store, KUMO_STORE_TABLE_TX_INDEX, "tx2", "a");

    /* An aborted block takes its records with it. */
    record_put_ok(ts.store, KUMO_STORE_TABLE_BLOCKS, "h2", "block2");
    record_put_ok(ts.store, KUMO_STORE_TABLE_BLOCKS, "h1", "overwritten");
    kumo_store_block_abort(ts.store);
    assert_record(ts.store, KUMO_STORE_TABLE_BLOCKS, "h2", NULL);
    assert_record(ts.store, KUMO_STORE_TABLE_BLOCKS, "h1", "block1");
    assert_int_equal(kumo_store_block_begin(ts.store, &ts.kv, NULL), 0);

    /* Reopen: records came from disk. */
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_record(ts.store, KUMO_STORE_TABLE_RESULTS, "h1", "results1");
    assert_record(ts.store, KUMO_STORE_TABLE_TX_INDEX, "tx", "loc");
    kumo_test_store_close(&ts);
}

static void test_store_read_meta_is_the_snapshot_height(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    kumo_store_read_t *fresh = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(ts.store, &fresh, &kv, NULL), 0);
    assert_int_equal(kumo_test_store_commit(&ts, 7), 0);
    kumo_store_read_t *later = NULL;
    assert_int_equal(kumo_store_read_begin(ts.store, &later, &kv, NULL), 0);
    uint64_t height = 99;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    assert_int_equal(kumo_store_read_meta_get(fresh, &height, hash, NULL), 0);
    assert_true(height == 0);
    assert_int_equal(kumo_store_read_meta_get(later, &height, hash, NULL), 0);
    assert_true(height == 7);
    kumo_store_read_end(fresh);
    kumo_store_read_end(later);
    kumo_test_store_close(&ts);
}

/* ---- limits: one row per rule, MAX accepted and MAX+1 rejected ---- */

static void test_store_record_limits(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    /* calloc'd pages stay untouched (lazily zero) until LMDB copies them. */
    size_t big_len = (size_t)KUMO_STORE_RECORD_BYTES_MAX + 1u;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    uint8_t key[KUMO_KEY_BYTES_MAX + 1];
    memset(key, 'k', sizeof(key));
    const struct {
        const char *name;
        size_t key_len;
        size_t val_len;
        int want;
    } cases[] = {
        {"empty key", 0, 1, KUMO_EINVAL},
        {"key at max", KUMO_KEY_BYTES_MAX, 1, 0},
        {"key over max", KUMO_KEY_BYTES_MAX + 1u, 1, KUMO_ELIMIT},
        {"empty record", 1, 0, 0},
        {"record over max", 2, KUMO_STORE_RECORD_BYTES_MAX + 1u, KUMO_ELIMIT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_err_ctx_t err = {0};
        int rc = kumo_store_block_record_put(ts.store, KUMO_STORE_TABLE_RESULTS,
                                             kumo_bytes_make(key, cases[i].key_len),
                                             kumo_bytes_make(big, cases[i].val_len), &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    free(big);
    assert_int_equal(kumo_store_block_record_put(ts.store, KUMO_STORE_TABLE_RESULTS,
                                                 kumo_bytes_make(key, 3), b_str("max"), NULL),
                     0);
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(ts.store, &read, &kv, NULL), 0);
    kumo_bytes_t v = {0};
    assert_int_equal(kumo_store_read_record_get(read, KUMO_STORE_TABLE_RESULTS,
                                                kumo_bytes_make(key, 3), &v, NULL),
                     0);
    assert_true(kumo_bytes_equal(v, b_str("max")));
    assert_int_equal(kumo_store_read_record_get(read, KUMO_STORE_TABLE_RESULTS,
                                                kumo_bytes_make(key, 2), &v, NULL),
                     KUMO_ENOTFOUND);
    assert_int_equal(kumo_store_read_record_get(read, KUMO_STORE_TABLE_RESULTS,
                                                kumo_bytes_make(key, 0), &v, NULL),
                     KUMO_EINVAL);
    assert_int_equal(kumo_store_read_record_get(read, KUMO_STORE_TABLE_RESULTS,
                                                kumo_bytes_make(key, KUMO_KEY_BYTES_MAX + 1u), &v,
                                                NULL),
                     KUMO_ELIMIT);
    kumo_store_read_end(read);
    kumo_test_store_close(&ts);
}

/* A record at the limit, written, committed and read back in a forked child: a txn that big
 * makes LMDB 0.9.24 spill pages, and it never frees the spill list (mdb_midl_alloc), which
 * LeakSanitizer would report at exit. The child ends with _exit, so only its verdict counts. */
static void test_store_record_at_max_round_trips(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child opens its own store: an LMDB environment must not cross a fork. */
        kumo_test_store_t ts = {0};
        if (kumo_test_store_open(&ts) != 0) {
            _exit(2);
        }
        uint8_t *big = calloc(1, KUMO_STORE_RECORD_BYTES_MAX);
        int ok = big != NULL &&
                 kumo_store_block_record_put(ts.store, KUMO_STORE_TABLE_BLOCKS, b_str("max"),
                                             kumo_bytes_make(big, KUMO_STORE_RECORD_BYTES_MAX),
                                             NULL) == 0 &&
                 kumo_test_store_commit(&ts, 1) == 0;
        kumo_store_read_t *read = NULL;
        kumo_kv_t kv;
        kumo_bytes_t v = {0};
        ok = ok && kumo_store_read_begin(ts.store, &read, &kv, NULL) == 0 &&
             kumo_store_read_record_get(read, KUMO_STORE_TABLE_BLOCKS, b_str("max"), &v, NULL) ==
                 0 &&
             v.len == KUMO_STORE_RECORD_BYTES_MAX;
        kumo_store_read_end(read);
        kumo_test_store_close(&ts); /* removes the temp dir */
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_record_commits_with_the_block),
        cmocka_unit_test(test_store_read_meta_is_the_snapshot_height),
        cmocka_unit_test(test_store_record_limits),
        cmocka_unit_test(test_store_record_at_max_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
