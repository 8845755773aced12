/*
 * store_kv.c - the kumo_kv_t implementations: the block kv (LMDB write txn plus nested
 * savepoint txns, with every write logged for the write set) and the read-only snapshot kv.
 *
 * Owns nothing beyond what store.c hands it. Values from get/scan point into LMDB's map or
 * dirty pages and are valid until the next write or savepoint call. Not pure (LMDB).
 */
#include <string.h>

#include "store/store_int.h"

static MDB_val kv_val(kumo_bytes_t b)
{
    /* LMDB's MDB_val is not const-correct; it never writes through mv_data on put/get. */
    MDB_val v = {b.len, (void *)(uintptr_t)b.ptr};
    return v;
}

int kumo_store_key_check(kumo_bytes_t key, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(key.ptr != NULL || key.len == 0);
    KUMO_ENSURE(key.len > 0, err, KUMO_EINVAL, "empty key");
    KUMO_ENSURE(key.len <= KUMO_KEY_BYTES_MAX, err, KUMO_ELIMIT, "key of %zu bytes exceeds %u",
                key.len, KUMO_KEY_BYTES_MAX);
    return 0;
}

int kumo_store_val_check(kumo_bytes_t val, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(val.ptr != NULL || val.len == 0);
    KUMO_ENSURE(val.len <= KUMO_STATE_OBJECT_BYTES_MAX, err, KUMO_ELIMIT,
                "value of %zu bytes exceeds %u", val.len, KUMO_STATE_OBJECT_BYTES_MAX);
    return 0;
}

/* Scan bounds: empty is allowed, longer than any key is not. */
static int scan_arg_check(kumo_bytes_t b, const char *what, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(b.ptr != NULL || b.len == 0);
    KUMO_ENSURE(b.len <= KUMO_KEY_BYTES_MAX, err, KUMO_ELIMIT, "scan %s of %zu bytes exceeds %u",
                what, b.len, KUMO_KEY_BYTES_MAX);
    return 0;
}

int kumo_store_txn_get(
    MDB_txn *txn, MDB_dbi dbi, kumo_bytes_t key, kumo_bytes_t *val_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(txn != NULL);
    KUMO_ASSERT(val_out != NULL);
    KUMO_GUARD(kumo_store_key_check(key, err));
    MDB_val k = kv_val(key);
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "key not found");
    }
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_get");
    }
    *val_out = kumo_bytes_make(v.mv_data, v.mv_size);
    return 0;
}

/* Walks the cursor from its current entry while keys have the prefix. */
static int scan_walk(MDB_cursor *cur,
                     MDB_val *k,
                     MDB_val *v,
                     int rc,
                     kumo_bytes_t prefix,
                     kumo_kv_scan_cb cb,
                     void *cb_ctx,
                     kumo_err_ctx_t *err)
{
    while (rc == 0) {
        kumo_bytes_t key = kumo_bytes_make(k->mv_data, k->mv_size);
        if (!kumo_bytes_has_prefix(key, prefix)) {
            return 0; /* keys are sorted: nothing later has the prefix either */
        }
        int crc = cb(cb_ctx, key, kumo_bytes_make(v->mv_data, v->mv_size));
        if (crc < 0) {
            return crc;
        }
        KUMO_ASSERT(crc == 0 || crc == 1);
        if (crc == 1) {
            return 0;
        }
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : kumo_store_err_map(rc, err, "mdb_cursor_get");
}

int kumo_store_txn_scan(MDB_txn *txn,
                        MDB_dbi dbi,
                        kumo_bytes_t prefix,
                        kumo_bytes_t start,
                        kumo_kv_scan_cb cb,
                        void *cb_ctx,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(txn != NULL);
    KUMO_ASSERT(cb != NULL);
    KUMO_GUARD(scan_arg_check(prefix, "prefix", err));
    KUMO_GUARD(scan_arg_check(start, "start", err));
    /* The first key both >= start and with the prefix is >= max(prefix, start). */
    kumo_bytes_t seek = kumo_bytes_compare(prefix, start) >= 0 ? prefix : start;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_cursor_open");
    }
    MDB_val k = kv_val(seek);
    MDB_val v = {0, NULL};
    /* LMDB rejects an empty key for MDB_SET_RANGE; an empty seek means the first key. */
    rc = mdb_cursor_get(cur, &k, &v, seek.len == 0 ? MDB_FIRST : MDB_SET_RANGE);
    rc = scan_walk(cur, &k, &v, rc, prefix, cb, cb_ctx, err);
    mdb_cursor_close(cur);
    return rc;
}

/* ---- the block kv (ctx is the store) ---- */

static MDB_txn *block_txn(const kumo_store_t *store)
{
    KUMO_ASSERT(store->block_open);
    KUMO_ASSERT(store->savepoint_depth <= KUMO_STORE_SAVEPOINT_DEPTH_MAX);
    MDB_txn *txn = store->txns[store->savepoint_depth];
    KUMO_ASSERT(txn != NULL);
    return txn;
}

/* A write, or a savepoint change, while a scan or write-set callback runs is a caller bug:
 * LMDB forbids writing a txn under a live cursor's feet and nesting a txn under open cursors. */
static void block_assert_writable(const kumo_store_t *store)
{
    KUMO_ASSERT(store->block_open);
    KUMO_ASSERT(store->scan_depth == 0);
    KUMO_ASSERT(!store->write_set_visiting);
}

static int block_get(void *ctx, kumo_bytes_t key, kumo_bytes_t *val_out, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    return kumo_store_txn_get(block_txn(store), store->dbi_state, key, val_out, err);
}

static int block_put(void *ctx, kumo_bytes_t key, kumo_bytes_t val, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    KUMO_GUARD(kumo_store_key_check(key, err));
    KUMO_GUARD(kumo_store_val_check(val, err));
    /* Log first: if LMDB then fails, the entry is dropped again; the other order could leave
     * a write in LMDB that the write set (and so the app hash) never saw. */
    kumo_store_log_mark_t mark = kumo_store_log_mark(&store->log);
    KUMO_GUARD(kumo_store_log_append(&store->log, key, val, false, err));
    MDB_val k = kv_val(key);
    MDB_val v = kv_val(val);
    int rc = mdb_put(block_txn(store), store->dbi_state, &k, &v, 0);
    if (rc != 0) {
        kumo_store_log_truncate(&store->log, mark);
        return kumo_store_err_map(rc, err, "mdb_put");
    }
    return 0;
}

static int block_del(void *ctx, kumo_bytes_t key, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    KUMO_GUARD(kumo_store_key_check(key, err));
    kumo_store_log_mark_t mark = kumo_store_log_mark(&store->log);
    KUMO_GUARD(kumo_store_log_append(&store->log, key, kumo_bytes_make(NULL, 0), true, err));
    MDB_val k = kv_val(key);
    int rc = mdb_del(block_txn(store), store->dbi_state, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        kumo_store_log_truncate(&store->log, mark);
        return kumo_store_err_map(rc, err, "mdb_del");
    }
    return 0;
}

static int block_scan(void *ctx,
                      kumo_bytes_t prefix,
                      kumo_bytes_t start,
                      kumo_kv_scan_cb cb,
                      void *cb_ctx,
                      kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    KUMO_ASSERT(!store->write_set_visiting);
    MDB_txn *txn = block_txn(store);
    store->scan_depth++;
    int rc = kumo_store_txn_scan(txn, store->dbi_state, prefix, start, cb, cb_ctx, err);
    KUMO_ASSERT(store->scan_depth > 0);
    store->scan_depth--;
    return rc;
}

static int block_savepoint_begin(void *ctx, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    uint32_t depth = store->savepoint_depth;
    KUMO_ENSURE(depth < KUMO_STORE_SAVEPOINT_DEPTH_MAX, err, KUMO_ELIMIT,
                "savepoint depth %u exceeds %u", depth + 1, KUMO_STORE_SAVEPOINT_DEPTH_MAX);
    MDB_txn *child = NULL;
    int rc = mdb_txn_begin(store->env, block_txn(store), 0, &child);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_txn_begin (savepoint)");
    }
    store->marks[depth] = kumo_store_log_mark(&store->log);
    store->txns[depth + 1] = child;
    store->savepoint_depth = depth + 1;
    return 0;
}

static int block_savepoint_commit(void *ctx, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    uint32_t depth = store->savepoint_depth;
    KUMO_ASSERT(depth > 0);
    /* mdb_txn_commit frees the child either way; on failure its writes are gone, so the log
     * must drop them too. The log entries otherwise simply stay: they now belong to the
     * parent level, whose own mark is older. */
    int rc = mdb_txn_commit(store->txns[depth]);
    store->txns[depth] = NULL;
    store->savepoint_depth = depth - 1;
    if (rc != 0) {
        kumo_store_log_truncate(&store->log, store->marks[depth - 1]);
        return kumo_store_err_map(rc, err, "mdb_txn_commit (savepoint)");
    }
    return 0;
}

static void block_savepoint_rollback(void *ctx)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    uint32_t depth = store->savepoint_depth;
    KUMO_ASSERT(depth > 0);
    mdb_txn_abort(store->txns[depth]);
    store->txns[depth] = NULL;
    store->savepoint_depth = depth - 1;
    kumo_store_log_truncate(&store->log, store->marks[depth - 1]);
}

static int block_write_set_visit(void *ctx, kumo_kv_write_cb cb, void *cb_ctx, kumo_err_ctx_t *err)
{
    kumo_store_t *store = ctx;
    KUMO_ASSERT(store != NULL);
    block_assert_writable(store);
    KUMO_ASSERT(store->savepoint_depth == 0);
    store->write_set_visiting = true;
    int rc = kumo_store_log_visit(&store->log, cb, cb_ctx, err);
    store->write_set_visiting = false;
    return rc;
}

void kumo_store_block_kv_fill(kumo_store_t *store, kumo_kv_t *kv)
{
    KUMO_ASSERT(store != NULL && kv != NULL);
    KUMO_ASSERT(store->block_open);
    kumo_kv_t block_kv = {
        .ctx = store,
        .get = block_get,
        .put = block_put,
        .del = block_del,
        .scan = block_scan,
        .savepoint_begin = block_savepoint_begin,
        .savepoint_commit = block_savepoint_commit,
        .savepoint_rollback = block_savepoint_rollback,
        .write_set_visit = block_write_set_visit,
    };
    *kv = block_kv;
}

/* ---- the read-only snapshot kv (ctx is the kumo_store_read_t) ---- */

static int read_get(void *ctx, kumo_bytes_t key, kumo_bytes_t *val_out, kumo_err_ctx_t *err)
{
    kumo_store_read_t *read = ctx;
    KUMO_ASSERT(read != NULL && read->txn != NULL);
    return kumo_store_txn_get(read->txn, read->store->dbi_state, key, val_out, err);
}

static int read_scan(void *ctx,
                     kumo_bytes_t prefix,
                     kumo_bytes_t start,
                     kumo_kv_scan_cb cb,
                     void *cb_ctx,
                     kumo_err_ctx_t *err)
{
    kumo_store_read_t *read = ctx;
    KUMO_ASSERT(read != NULL && read->txn != NULL);
    return kumo_store_txn_scan(read->txn, read->store->dbi_state, prefix, start, cb, cb_ctx, err);
}

static int read_put(void *ctx, kumo_bytes_t key, kumo_bytes_t val, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL);
    (void)key;
    (void)val;
    return kumo_err_set(err, KUMO_EINVAL, "put on a read-only snapshot");
}

static int read_del(void *ctx, kumo_bytes_t key, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL);
    (void)key;
    return kumo_err_set(err, KUMO_EINVAL, "del on a read-only snapshot");
}

static int read_savepoint_begin(void *ctx, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL);
    return kumo_err_set(err, KUMO_EINVAL, "savepoint on a read-only snapshot");
}

static int read_savepoint_commit(void *ctx, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL);
    return kumo_err_set(err, KUMO_EINVAL, "savepoint on a read-only snapshot");
}

static void read_savepoint_rollback(void *ctx)
{
    /* No savepoint can ever have begun on a snapshot, so a rollback is a caller bug. */
    KUMO_ASSERT(ctx != NULL);
    KUMO_UNREACHABLE();
}

void kumo_store_read_kv_fill(kumo_store_read_t *read, kumo_kv_t *kv)
{
    KUMO_ASSERT(read != NULL && kv != NULL);
    KUMO_ASSERT(read->txn != NULL);
    kumo_kv_t read_kv = {
        .ctx = read,
        .get = read_get,
        .put = read_put,
        .del = read_del,
        .scan = read_scan,
        .savepoint_begin = read_savepoint_begin,
        .savepoint_commit = read_savepoint_commit,
        .savepoint_rollback = read_savepoint_rollback,
        .write_set_visit = NULL,
    };
    *kv = read_kv;
}
