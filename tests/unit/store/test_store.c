/*
 * test_store.c - proves the store's block and file handling: abort discards, meta round trips
 * across reopen, read snapshots are isolated from the open block and from later commits, disk
 * usage, LMDB errors mapped to codes (map full as KUMO_ELIMIT and recoverable, damaged files
 * and meta as KUMO_ECORRUPT), allocation failures in open/read, broken preconditions abort
 * (in forked children), and that a SIGKILLed durable writer never leaves a partial block.
 */
#include "store_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- blocks, meta, snapshots ---- */

static void test_store_block_abort_discards(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "kept", "1");
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    put_str(&ts.kv, "dropped", "2");
    del_str(&ts.kv, "kept");
    sp_begin(&ts.kv); /* abort also ends open savepoints */
    put_str(&ts.kv, "inner", "3");
    kumo_store_block_abort(ts.store);
    assert_false(kumo_store_block_is_open(ts.store));
    kumo_store_block_abort(ts.store); /* idempotent */
    assert_int_equal(kumo_store_block_begin(ts.store, &ts.kv, NULL), 0);
    assert_scan(&ts.kv, "", "", "kept=1");
    assert_write_set(&ts.kv, "");
    uint64_t height = 0;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    assert_int_equal(kumo_store_meta_get(ts.store, &height, hash, NULL), 0);
    assert_true(height == 1);
    kumo_test_store_close(&ts);
}

static void test_store_meta_round_trip(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-meta");
    assert_non_null(dir);
    kumo_store_cfg_t cfg = {.no_sync = true};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    uint64_t height = 99;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    uint8_t zeros[KUMO_STORE_HASH_BYTES] = {0};
    memset(hash, 0xAA, sizeof(hash));
    assert_int_equal(kumo_store_meta_get(store, &height, hash, NULL), 0);
    assert_true(height == 0);
    assert_memory_equal(hash, zeros, sizeof(hash));

    uint8_t want[KUMO_STORE_HASH_BYTES];
    for (size_t i = 0; i < sizeof(want); i++) {
        want[i] = (uint8_t)(i * 7 + 1);
    }
    kumo_kv_t kv;
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "k", "v");
    uint64_t big = 0x0102030405060708ull;
    assert_int_equal(kumo_store_block_commit(store, big, want, NULL), 0);
    assert_false(kumo_store_block_is_open(store));
    /* meta_get reads the committed record, also while the next block is open. */
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "k", "w");
    assert_int_equal(kumo_store_meta_get(store, &height, hash, NULL), 0);
    assert_true(height == big);
    assert_memory_equal(hash, want, sizeof(hash));
    kumo_store_close(store); /* aborts the open block */

    store = store_open_ok(dir, &cfg);
    assert_int_equal(kumo_store_meta_get(store, &height, hash, NULL), 0);
    assert_true(height == big);
    assert_memory_equal(hash, want, sizeof(hash));
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    assert_get_str(&kv, "k", "v");
    kumo_store_close(store);
    kumo_test_tmpdir_remove(dir);
}

static void test_store_read_snapshot_isolation(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    put_str(&ts.kv, "a", "1");
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    put_str(&ts.kv, "a", "2");
    put_str(&ts.kv, "b", "1");

    kumo_store_read_t *read = NULL;
    kumo_kv_t rkv;
    assert_int_equal(kumo_store_read_begin(ts.store, &read, &rkv, NULL), 0);
    assert_get_str(&rkv, "a", "1");
    assert_get_str(&rkv, "b", NULL);
    assert_scan(&rkv, "", "", "a=1");
    assert_null(rkv.write_set_visit);
    kumo_err_ctx_t err = {0};
    assert_int_equal(rkv.put(rkv.ctx, b_str("c"), b_str("1"), &err), KUMO_EINVAL);
    assert_int_equal(rkv.del(rkv.ctx, b_str("a"), &err), KUMO_EINVAL);
    assert_int_equal(rkv.savepoint_begin(rkv.ctx, &err), KUMO_EINVAL);
    assert_int_equal(rkv.savepoint_commit(rkv.ctx, &err), KUMO_EINVAL);
    assert_get_str(&rkv, "a", "1");

    /* The block commits; the old snapshot still sees its state, a new one the new state. */
    assert_int_equal(kumo_test_store_commit(&ts, 2), 0);
    assert_scan(&rkv, "", "", "a=1");
    kumo_store_read_t *read2 = NULL;
    kumo_kv_t rkv2;
    assert_int_equal(kumo_store_read_begin(ts.store, &read2, &rkv2, NULL), 0);
    assert_scan(&rkv2, "", "", "a=2 b=1");
    kumo_store_read_end(read);
    kumo_store_read_end(read2);
    kumo_store_read_end(NULL);
    kumo_test_store_close(&ts);
}

static void test_store_disk_bytes_grows(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    uint64_t before = 0;
    assert_int_equal(kumo_store_disk_bytes(ts.store, &before, NULL), 0);
    assert_true(before > 0);
    static uint8_t val[4096];
    for (uint32_t i = 0; i < 512; i++) {
        uint8_t key[4];
        kumo_be32_put(key, i);
        assert_int_equal(ts.kv.put(ts.kv.ctx, kumo_bytes_make(key, sizeof(key)),
                                   kumo_bytes_make(val, sizeof(val)), NULL),
                         0);
    }
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    uint64_t after = 0;
    assert_int_equal(kumo_store_disk_bytes(ts.store, &after, NULL), 0);
    assert_true(after >= before + 512u * sizeof(val));
    kumo_test_store_close(&ts);
}

/* ---- LMDB errors ---- */

static void test_store_map_full_is_limit_and_recoverable(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-mapfull");
    assert_non_null(dir);
    kumo_store_cfg_t cfg = {.no_sync = true, .map_bytes = 1024u * 1024u};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    kumo_kv_t kv;
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "keep", "1");
    /* A tx (savepoint) runs the map full; rolling it back leaves the block usable. */
    sp_begin(&kv);
    static uint8_t val[64 * 1024];
    int rc = 0;
    kumo_err_ctx_t err = {0};
    for (uint32_t i = 0; i < 64 && rc == 0; i++) {
        uint8_t key[5] = {'f'};
        kumo_be32_put(key + 1, i);
        rc = kv.put(kv.ctx, kumo_bytes_make(key, sizeof(key)), kumo_bytes_make(val, sizeof(val)),
                    &err);
    }
    assert_int_equal(rc, KUMO_ELIMIT);
    assert_non_null(strstr(err.detail, "MDB_MAP_FULL"));
    kv.savepoint_rollback(kv.ctx);
    put_str(&kv, "after", "2");
    assert_write_set(&kv, "after=2 keep=1");
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    assert_int_equal(kumo_store_block_commit(store, 1, hash, NULL), 0);
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    assert_scan(&kv, "", "", "after=2 keep=1");
    kumo_store_close(store);
    kumo_test_tmpdir_remove(dir);
}

/* Fills the map in the block txn itself (no savepoint): the block is lost, its commit fails
 * and closes it, committed state is untouched and the next block works. */
static void test_store_map_full_in_block_fails_commit(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-mapfull-block");
    assert_non_null(dir);
    kumo_store_cfg_t cfg = {.no_sync = true, .map_bytes = 1024u * 1024u};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    kumo_kv_t kv;
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    put_str(&kv, "keep", "1");
    assert_int_equal(kumo_store_block_commit(store, 1, hash, NULL), 0);
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    static uint8_t val[64 * 1024];
    int rc = 0;
    for (uint32_t i = 0; i < 64 && rc == 0; i++) {
        uint8_t key[5] = {'f'};
        kumo_be32_put(key + 1, i);
        rc = kv.put(kv.ctx, kumo_bytes_make(key, sizeof(key)), kumo_bytes_make(val, sizeof(val)),
                    NULL);
    }
    assert_int_equal(rc, KUMO_ELIMIT);
    kumo_err_ctx_t err = {0};
    rc = kumo_store_block_commit(store, 2, hash, &err);
    assert_true(rc < 0);
    assert_int_equal(err.code, rc);
    assert_false(kumo_store_block_is_open(store));
    kumo_store_block_abort(store); /* a cleanup path may still call it */
    uint64_t height = 0;
    assert_int_equal(kumo_store_meta_get(store, &height, hash, NULL), 0);
    assert_true(height == 1);
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    assert_scan(&kv, "", "", "keep=1");
    put_str(&kv, "next", "2");
    assert_int_equal(kumo_store_block_commit(store, 2, hash, NULL), 0);
    kumo_store_close(store);
    kumo_test_tmpdir_remove(dir);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(write(fd, data, len) == (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void test_store_open_rejects_bad_paths_and_files(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-bad");
    assert_non_null(dir);
    char path[512];
    kumo_store_t *store = NULL;
    kumo_err_ctx_t err = {0};

    /* dir is a regular file. */
    snprintf(path, sizeof(path), "%s/file", dir);
    write_file(path, "x", 1);
    assert_int_equal(kumo_store_open(path, NULL, &store, &err), KUMO_EIO);
    assert_null(store);
    /* The parent does not exist (only one level is created). */
    snprintf(path, sizeof(path), "%s/no/such", dir);
    assert_int_equal(kumo_store_open(path, NULL, &store, &err), KUMO_EIO);
    /* A data file that is not an LMDB file. */
    snprintf(path, sizeof(path), "%s/garbage", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    char data_path[600];
    snprintf(data_path, sizeof(data_path), "%s/data.mdb", path);
    static uint8_t junk[16384];
    memset(junk, 0x5A, sizeof(junk));
    write_file(data_path, junk, sizeof(junk));
    assert_int_equal(kumo_store_open(path, NULL, &store, &err), KUMO_ECORRUPT);
    assert_null(store);
    kumo_test_tmpdir_remove(dir);
}

static void test_store_open_creates_private_dir_and_files(void **state)
{
    (void)state;
    char *base = kumo_test_tmpdir_make("store-mode");
    assert_non_null(base);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/node", base);
    kumo_store_cfg_t cfg = {.no_sync = true};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char data_path[600];
    snprintf(data_path, sizeof(data_path), "%s/data.mdb", dir);
    assert_int_equal(stat(data_path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    kumo_store_close(store);
    kumo_store_close(NULL);
    kumo_test_tmpdir_remove(base);
}

/* Writes a raw meta record with LMDB directly, as damage the store did not write. */
static void meta_write_raw(const char *dir, const char *key, const void *val, size_t len)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
    MDB_val k = {strlen(key), (void *)(uintptr_t)key};
    MDB_val v = {len, (void *)(uintptr_t)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_store_open_rejects_bad_meta(void **state)
{
    (void)state;
    static const uint8_t hash[KUMO_STORE_HASH_BYTES] = {1};
    static const uint8_t height[8] = {0, 0, 0, 0, 0, 0, 0, 5};
    static const struct {
        const char *name;
        const char *key1;
        const void *val1;
        size_t len1;
        const char *key2; /* NULL: one key only */
        const void *val2;
        size_t len2;
        int want;
    } cases[] = {
        {"valid", "height", height, 8, "app_hash", hash, 32, 0},
        {"height without app hash", "height", height, 8, NULL, NULL, 0, KUMO_ECORRUPT},
        {"app hash without height", "app_hash", hash, 32, NULL, NULL, 0, KUMO_ECORRUPT},
        {"short height", "height", height, 7, "app_hash", hash, 32, KUMO_ECORRUPT},
        {"long app hash", "height", height, 8, "app_hash", hash, 31, KUMO_ECORRUPT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char *dir = kumo_test_tmpdir_make("store-meta-bad");
        assert_non_null(dir);
        meta_write_raw(dir, cases[i].key1, cases[i].val1, cases[i].len1);
        if (cases[i].key2 != NULL) {
            meta_write_raw(dir, cases[i].key2, cases[i].val2, cases[i].len2);
        }
        kumo_store_t *store = NULL;
        kumo_err_ctx_t err = {0};
        int rc = kumo_store_open(dir, NULL, &store, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        if (rc == 0) {
            uint64_t h = 0;
            uint8_t got[KUMO_STORE_HASH_BYTES];
            assert_int_equal(kumo_store_meta_get(store, &h, got, NULL), 0);
            assert_true(h == 5);
            assert_memory_equal(got, hash, sizeof(hash));
        }
        assert_true(rc == 0 || store == NULL);
        kumo_store_close(store);
        kumo_test_tmpdir_remove(dir);
    }
}

static void test_store_alloc_failures_in_open_and_read(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-alloc");
    assert_non_null(dir);
    kumo_store_cfg_t cfg = {.no_sync = true};
    kumo_store_t *store = NULL;
    kumo_alloc_fail_at(1);
    int rc = kumo_store_open(dir, &cfg, &store, NULL);
    kumo_alloc_fail_at(0);
    assert_int_equal(rc, KUMO_ENOMEM);
    assert_null(store);
    store = store_open_ok(dir, &cfg);
    kumo_store_read_t *read = NULL;
    kumo_kv_t rkv;
    kumo_alloc_fail_at(1);
    rc = kumo_store_read_begin(store, &read, &rkv, NULL);
    kumo_alloc_fail_at(0);
    assert_int_equal(rc, KUMO_ENOMEM);
    assert_null(read);
    kumo_store_close(store); /* would abort if the failed read had been counted */
    kumo_test_tmpdir_remove(dir);
}

/* ---- broken preconditions abort ---- */

static void die_block_begin_twice(kumo_test_store_t *ts)
{
    kumo_kv_t kv;
    int rc = kumo_store_block_begin(ts->store, &kv, NULL);
    (void)rc;
}

static int put_in_scan_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    kumo_kv_t *kv = cb_ctx;
    (void)kv->put(kv->ctx, key, val, NULL);
    return 0;
}

static void die_put_inside_scan(kumo_test_store_t *ts)
{
    put_str(&ts->kv, "a", "1");
    (void)ts->kv.scan(ts->kv.ctx, b_str(""), b_str(""), put_in_scan_cb, &ts->kv, NULL);
}

static void die_commit_with_savepoint_open(kumo_test_store_t *ts)
{
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    sp_begin(&ts->kv);
    int rc = kumo_store_block_commit(ts->store, 1, hash, NULL);
    (void)rc;
}

static void die_savepoint_commit_without_begin(kumo_test_store_t *ts)
{
    (void)ts->kv.savepoint_commit(ts->kv.ctx, NULL);
}

static void die_kv_after_block_commit(kumo_test_store_t *ts)
{
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    assert_int_equal(kumo_store_block_commit(ts->store, 1, hash, NULL), 0);
    put_str(&ts->kv, "late", "1");
}

static void die_write_set_with_savepoint_open(kumo_test_store_t *ts)
{
    size_t n = 0;
    sp_begin(&ts->kv);
    (void)ts->kv.write_set_visit(ts->kv.ctx, count_cb, &n, NULL);
}

static void test_store_preconditions_abort(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*run)(kumo_test_store_t *ts);
    } cases[] = {
        {"block begin twice", die_block_begin_twice},
        {"put inside a scan callback", die_put_inside_scan},
        {"commit with a savepoint open", die_commit_with_savepoint_open},
        {"savepoint commit without begin", die_savepoint_commit_without_begin},
        {"kv used after block commit", die_kv_after_block_commit},
        {"write set with a savepoint open", die_write_set_with_savepoint_open},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_test_store_t ts = {0};
        assert_int_equal(kumo_test_store_open(&ts), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                (void)dup2(devnull, STDERR_FILENO);
            }
            cases[i].run(&ts);
            _exit(0);
        }
        int status = 0;
        assert_true(waitpid(pid, &status, 0) == pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
            fail_msg("%s: child did not abort (status 0x%x)", cases[i].name, (unsigned)status);
        }
        kumo_test_store_close(&ts);
    }
}

/* ---- durability under SIGKILL ---- */

enum {
    KILL_ROUNDS = 4,
    KILL_HISTORY = 5
};

static void kill_hash_for(uint64_t height, uint8_t out[KUMO_STORE_HASH_BYTES])
{
    for (size_t i = 0; i < KUMO_STORE_HASH_BYTES; i++) {
        out[i] = (uint8_t)(height * 31u + i);
    }
}

static void kill_history_key(uint64_t height, uint8_t key[9])
{
    key[0] = 'h';
    kumo_be64_put(key + 1, height);
}

/* One block: "k" = height, "h"+height = 1 KiB, and the history entry KILL_HISTORY back goes. */
static int kill_block_apply(kumo_kv_t *kv, uint64_t height)
{
    static uint8_t big[1024];
    uint8_t hv[8];
    uint8_t key[9];
    kumo_be64_put(hv, height);
    memset(big, (int)(height & 0xFF), sizeof(big));
    KUMO_GUARD(kv->put(kv->ctx, b_str("k"), kumo_bytes_make(hv, 8), NULL));
    kill_history_key(height, key);
    KUMO_GUARD(kv->put(kv->ctx, kumo_bytes_make(key, 9), kumo_bytes_make(big, sizeof(big)), NULL));
    if (height > KILL_HISTORY) {
        kill_history_key(height - KILL_HISTORY, key);
        KUMO_GUARD(kv->del(kv->ctx, kumo_bytes_make(key, 9), NULL));
    }
    return 0;
}

/* The child: durable commits forever (bounded), reporting each committed height. */
static _Noreturn void kill_child_run(const char *dir, int wfd)
{
    kumo_store_t *store = NULL;
    kumo_store_cfg_t cfg = {0}; /* durable: sync on every commit */
    uint64_t height = 0;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    if (kumo_store_open(dir, &cfg, &store, NULL) != 0 ||
        kumo_store_meta_get(store, &height, hash, NULL) != 0) {
        _exit(2);
    }
    for (uint64_t end = height + 100000; height < end;) {
        kumo_kv_t kv;
        height++;
        kill_hash_for(height, hash);
        if (kumo_store_block_begin(store, &kv, NULL) != 0 || kill_block_apply(&kv, height) != 0 ||
            kumo_store_block_commit(store, height, hash, NULL) != 0) {
            _exit(3);
        }
        if (write(wfd, &height, sizeof(height)) != (ssize_t)sizeof(height)) {
            _exit(4);
        }
    }
    _exit(0);
}

/* Reads one 8-byte report; false at EOF. */
static bool kill_report_read(int rfd, uint64_t *height)
{
    uint8_t buf[8];
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t n = read(rfd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            assert_int_equal(got, 0); /* reports are written whole (< PIPE_BUF) */
            return false;
        }
        got += (size_t)n;
    }
    memcpy(height, buf, sizeof(buf));
    return true;
}

/* The reopened store holds exactly the state of its meta height. */
static void kill_state_check(const char *dir, uint64_t reported)
{
    kumo_store_cfg_t cfg = {0};
    kumo_store_t *store = store_open_ok(dir, &cfg);
    uint64_t height = 0;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    uint8_t want[KUMO_STORE_HASH_BYTES];
    assert_int_equal(kumo_store_meta_get(store, &height, hash, NULL), 0);
    assert_true(height >= reported);
    kill_hash_for(height, want);
    assert_memory_equal(hash, want, sizeof(hash));
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(store, &read, &kv, NULL), 0);
    kumo_bytes_t v;
    assert_int_equal(kv.get(kv.ctx, b_str("k"), &v, NULL), 0);
    assert_int_equal(v.len, 8);
    assert_true(kumo_be64_get(v.ptr) == height);
    size_t history = 0;
    assert_int_equal(kv.scan(kv.ctx, b_str("h"), b_str(""), count_cb, &history, NULL), 0);
    assert_int_equal(history, height < KILL_HISTORY ? height : KILL_HISTORY);
    uint8_t key[9];
    kill_history_key(height, key);
    assert_int_equal(kv.get(kv.ctx, kumo_bytes_make(key, 9), &v, NULL), 0);
    assert_int_equal(v.len, 1024);
    assert_int_equal(v.ptr[0], (uint8_t)(height & 0xFF));
    kumo_store_read_end(read);
    kumo_store_close(store);
}

static void test_store_sigkill_leaves_whole_blocks(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("store-kill");
    assert_non_null(dir);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            kill_child_run(dir, fds[1]);
        }
        close(fds[1]);
        /* Let it commit a varying number of blocks, then kill it wherever it is. */
        uint64_t reported = 0;
        for (int i = 0; i < 10 + round * 7; i++) {
            assert_true(kill_report_read(fds[0], &reported));
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status = 0;
        assert_true(waitpid(pid, &status, 0) == pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* Reports written before the kill are still in the pipe. */
        uint64_t h;
        while (kill_report_read(fds[0], &h)) {
            assert_true(h == reported + 1);
            reported = h;
        }
        close(fds[0]);
        kill_state_check(dir, reported);
    }
    kumo_test_tmpdir_remove(dir);
}

/* ---- the test helper itself ---- */

static void test_store_helper_digest_tracks_changes(void **state)
{
    (void)state;
    kumo_test_store_t ts = {0};
    assert_int_equal(kumo_test_store_open(&ts), 0);
    uint8_t d0[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t d1[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t d2[KUMO_TEST_KV_DIGEST_BYTES];
    put_str(&ts.kv, "ab", "c");
    assert_int_equal(kumo_test_kv_digest(&ts.kv, d0), 0);
    sp_begin(&ts.kv);
    del_str(&ts.kv, "ab");
    put_str(&ts.kv, "a", "bc"); /* same bytes, other split */
    assert_int_equal(kumo_test_kv_digest(&ts.kv, d1), 0);
    assert_memory_not_equal(d0, d1, sizeof(d0));
    ts.kv.savepoint_rollback(ts.kv.ctx);
    assert_int_equal(kumo_test_kv_digest(&ts.kv, d2), 0);
    assert_memory_equal(d0, d2, sizeof(d0));
    assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
    assert_int_equal(kumo_test_store_reopen(&ts), 0);
    assert_int_equal(kumo_test_kv_digest(&ts.kv, d2), 0);
    assert_memory_equal(d0, d2, sizeof(d0));
    uint64_t height = 0;
    uint8_t hash[KUMO_STORE_HASH_BYTES];
    assert_int_equal(kumo_store_meta_get(ts.store, &height, hash, NULL), 0);
    assert_true(height == 2); /* reopen commits at the next height */
    kumo_test_store_close(&ts);
    kumo_test_store_close(&ts); /* safe on a closed (zeroed) helper */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_block_abort_discards),
        cmocka_unit_test(test_store_meta_round_trip),
        cmocka_unit_test(test_store_read_snapshot_isolation),
        cmocka_unit_test(test_store_disk_bytes_grows),
        cmocka_unit_test(test_store_map_full_is_limit_and_recoverable),
        cmocka_unit_test(test_store_map_full_in_block_fails_commit),
        cmocka_unit_test(test_store_open_rejects_bad_paths_and_files),
        cmocka_unit_test(test_store_open_creates_private_dir_and_files),
        cmocka_unit_test(test_store_open_rejects_bad_meta),
        cmocka_unit_test(test_store_alloc_failures_in_open_and_read),
        cmocka_unit_test(test_store_preconditions_abort),
        cmocka_unit_test(test_store_sigkill_leaves_whole_blocks),
        cmocka_unit_test(test_store_helper_digest_tracks_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
