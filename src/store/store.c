/*
 * store.c - the LMDB environment: open/close, blocks (one write txn each) with their meta
 * record, read snapshots, disk usage, and the one place LMDB errors become KUMO_E* codes.
 *
 * Owns the MDB_env and the block's txn stack and write log; the kv operations live in
 * store_kv.c, the write log in store_log.c. Not pure: file I/O through LMDB.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"

/* state, meta, the three block store tables, and room for the consensus WAL. */
#define STORE_MAXDBS            8u
#define STORE_META_HEIGHT_KEY   "height"
#define STORE_META_APP_HASH_KEY "app_hash"

int kumo_store_err_map(int mdb_rc, kumo_err_ctx_t *err, const char *what)
{
    KUMO_ASSERT(mdb_rc != 0);
    KUMO_ASSERT(what != NULL);
    int code;
    switch (mdb_rc) {
    case MDB_NOTFOUND:
        code = KUMO_ENOTFOUND;
        break;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
        code = KUMO_ELIMIT;
        break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        code = KUMO_ECORRUPT;
        break;
    case ENOMEM:
        code = KUMO_ENOMEM;
        break;
    default:
        code = KUMO_EIO;
        break;
    }
    return kumo_err_set(err, code, "%s: %s", what, mdb_strerror(mdb_rc));
}

static MDB_val store_val(kumo_bytes_t b)
{
    /* LMDB's MDB_val is not const-correct; it never writes through mv_data on put/get. */
    MDB_val v = {b.len, (void *)(uintptr_t)b.ptr};
    return v;
}

static int store_dir_make(const char *dir, kumo_err_ctx_t *err)
{
    if (mkdir(dir, 0700) == 0) {
        return 0;
    }
    int e = errno;
    KUMO_ENSURE(e == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir, strerror(e));
    struct stat st;
    KUMO_ENSURE(stat(dir, &st) == 0, err, KUMO_EIO, "stat %s: %s", dir, strerror(errno));
    KUMO_ENSURE(S_ISDIR(st.st_mode), err, KUMO_EIO, "%s is not a directory", dir);
    return 0;
}

/* Creates the named databases once, in their own committed txn. */
static int store_dbis_open(kumo_store_t *store, kumo_err_ctx_t *err)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_txn_begin");
    }
    static const char *const table_names[KUMO_STORE_TABLE_COUNT] = {
        [KUMO_STORE_TABLE_BLOCKS] = "blocks",
        [KUMO_STORE_TABLE_RESULTS] = "results",
        [KUMO_STORE_TABLE_TX_INDEX] = "txindex",
        [KUMO_STORE_TABLE_COMMITS] = "commits",
    };
    rc = mdb_dbi_open(txn, "state", MDB_CREATE, &store->dbi_state);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &store->dbi_meta);
    }
    for (uint32_t i = 0; rc == 0 && i < KUMO_STORE_TABLE_COUNT; i++) {
        rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &store->dbi_tables[i]);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return kumo_store_err_map(rc, err, "mdb_dbi_open");
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_txn_commit (dbi)");
    }
    return 0;
}

static int store_env_open(kumo_store_t *store,
                          const char *dir,
                          const kumo_store_cfg_t *cfg,
                          kumo_err_ctx_t *err)
{
    uint64_t map_bytes = cfg->map_bytes == 0 ? KUMO_STORE_MAP_BYTES_DEFAULT : cfg->map_bytes;
    KUMO_ENSURE(map_bytes <= SIZE_MAX, err, KUMO_ELIMIT, "map size %" PRIu64, map_bytes);
    int rc = mdb_env_create(&store->env);
    if (rc != 0) {
        store->env = NULL;
        return kumo_store_err_map(rc, err, "mdb_env_create");
    }
    rc = mdb_env_set_maxdbs(store->env, STORE_MAXDBS);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(store->env, (size_t)map_bytes);
    }
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_env_set");
    }
    /* MDB_NOTLS: a read snapshot is tied to its txn, not its thread, so snapshots can move to
     * workers and coexist with the block's write txn on one thread. */
    unsigned int flags = MDB_NOTLS | (cfg->no_sync ? MDB_NOSYNC : 0u);
    rc = mdb_env_open(store->env, dir, flags, 0600);
    if (rc != 0) {
        return kumo_err_set(
            err, rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ? KUMO_ECORRUPT : KUMO_EIO,
            "mdb_env_open %s: %s", dir, mdb_strerror(rc));
    }
    return 0;
}

int kumo_store_open(const char *dir,
                    const kumo_store_cfg_t *cfg,
                    kumo_store_t **out,
                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(dir != NULL);
    KUMO_ASSERT(out != NULL);
    kumo_store_cfg_t defaults = {0};
    if (cfg == NULL) {
        cfg = &defaults;
    }
    KUMO_GUARD(store_dir_make(dir, err));
    kumo_store_t *store = kumo_calloc(1, sizeof(*store));
    KUMO_ENSURE(store != NULL, err, KUMO_ENOMEM, "store struct");
    store->write_set_bytes_max =
        cfg->write_set_bytes_max == 0 ? KUMO_STORE_WRITE_SET_BYTES_MAX : cfg->write_set_bytes_max;
    atomic_init(&store->read_count, 0u);
    kumo_store_log_init(&store->log, store->write_set_bytes_max);

    int rc = store_env_open(store, dir, cfg, err);
    if (rc < 0) {
        goto out_close_env;
    }
    KUMO_GUARD_GOTO(store_dbis_open(store, err), rc, out_close_env);
    /* Validate the meta record now, so a damaged store fails at open, not mid-block. */
    uint64_t height = 0;
    uint8_t app_hash[KUMO_STORE_HASH_BYTES];
    KUMO_GUARD_GOTO(kumo_store_meta_get(store, &height, app_hash, err), rc, out_close_env);
    *out = store;
    return 0;

out_close_env:
    if (store->env != NULL) {
        mdb_env_close(store->env);
    }
    kumo_free(store);
    return rc;
}

void kumo_store_close(kumo_store_t *store)
{
    if (store == NULL) {
        return;
    }
    /* LMDB requires every txn to end before the env closes. */
    KUMO_ASSERT(atomic_load(&store->read_count) == 0);
    kumo_store_block_abort(store);
    KUMO_ASSERT(!store->block_open);
    mdb_env_close(store->env);
    kumo_free(store);
}

/* Reads the meta record from txn. A fresh store has neither key; having one without the other,
 * or either with a wrong length, is damage. */
static int store_meta_read(kumo_store_t *store,
                           MDB_txn *txn,
                           uint64_t *height_out,
                           uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                           kumo_err_ctx_t *err)
{
    MDB_val hk = store_val(kumo_bytes_make(STORE_META_HEIGHT_KEY, strlen(STORE_META_HEIGHT_KEY)));
    MDB_val ak =
        store_val(kumo_bytes_make(STORE_META_APP_HASH_KEY, strlen(STORE_META_APP_HASH_KEY)));
    MDB_val hv;
    MDB_val av;
    int hrc = mdb_get(txn, store->dbi_meta, &hk, &hv);
    int arc = mdb_get(txn, store->dbi_meta, &ak, &av);
    if (hrc == MDB_NOTFOUND && arc == MDB_NOTFOUND) {
        *height_out = 0;
        memset(app_hash_out, 0, KUMO_STORE_HASH_BYTES);
        return 0;
    }
    if (hrc != 0 && hrc != MDB_NOTFOUND) {
        return kumo_store_err_map(hrc, err, "mdb_get meta height");
    }
    if (arc != 0 && arc != MDB_NOTFOUND) {
        return kumo_store_err_map(arc, err, "mdb_get meta app_hash");
    }
    KUMO_ENSURE(hrc == 0 && arc == 0, err, KUMO_ECORRUPT, "meta record is missing %s",
                hrc != 0 ? "the height" : "the app hash");
    KUMO_ENSURE(hv.mv_size == 8, err, KUMO_ECORRUPT, "meta height is %zu bytes", hv.mv_size);
    KUMO_ENSURE(av.mv_size == KUMO_STORE_HASH_BYTES, err, KUMO_ECORRUPT,
                "meta app hash is %zu bytes", av.mv_size);
    *height_out = kumo_be64_get(hv.mv_data);
    memcpy(app_hash_out, av.mv_data, KUMO_STORE_HASH_BYTES);
    return 0;
}

int kumo_store_meta_get(kumo_store_t *store,
                        uint64_t *height_out,
                        uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL);
    KUMO_ASSERT(height_out != NULL && app_hash_out != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_txn_begin (meta)");
    }
    rc = store_meta_read(store, txn, height_out, app_hash_out, err);
    mdb_txn_abort(txn);
    return rc;
}

int kumo_store_block_begin(kumo_store_t *store, kumo_kv_t *kv_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL);
    KUMO_ASSERT(kv_out != NULL);
    KUMO_ASSERT(!store->block_open);
    KUMO_ASSERT(store->log.entry_count == 0 && store->log.arena == NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_txn_begin (block)");
    }
    store->txns[0] = txn;
    store->savepoint_depth = 0;
    store->scan_depth = 0;
    store->write_set_visiting = false;
    store->block_open = true;
    kumo_store_block_kv_fill(store, kv_out);
    return 0;
}

/* Forgets the block: its txn has been committed or aborted by the caller. */
static void store_block_clear(kumo_store_t *store)
{
    KUMO_ASSERT(store->savepoint_depth == 0);
    store->txns[0] = NULL;
    store->block_open = false;
    kumo_store_log_free(&store->log);
    KUMO_ASSERT(store->log.entry_count == 0);
}

static int store_meta_put(kumo_store_t *store,
                          MDB_txn *txn,
                          uint64_t height,
                          const uint8_t app_hash[KUMO_STORE_HASH_BYTES],
                          kumo_err_ctx_t *err)
{
    uint8_t height_be[8];
    kumo_be64_put(height_be, height);
    MDB_val hk = store_val(kumo_bytes_make(STORE_META_HEIGHT_KEY, strlen(STORE_META_HEIGHT_KEY)));
    MDB_val hv = store_val(kumo_bytes_make(height_be, sizeof(height_be)));
    MDB_val ak =
        store_val(kumo_bytes_make(STORE_META_APP_HASH_KEY, strlen(STORE_META_APP_HASH_KEY)));
    MDB_val av = store_val(kumo_bytes_make(app_hash, KUMO_STORE_HASH_BYTES));
    int rc = mdb_put(txn, store->dbi_meta, &hk, &hv, 0);
    if (rc == 0) {
        rc = mdb_put(txn, store->dbi_meta, &ak, &av, 0);
    }
    return rc == 0 ? 0 : kumo_store_err_map(rc, err, "mdb_put meta");
}

int kumo_store_block_commit(kumo_store_t *store,
                            uint64_t height,
                            const uint8_t app_hash[KUMO_STORE_HASH_BYTES],
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL && app_hash != NULL);
    KUMO_ASSERT(store->block_open);
    KUMO_ASSERT(store->savepoint_depth == 0);
    KUMO_ASSERT(store->scan_depth == 0 && !store->write_set_visiting);
    MDB_txn *txn = store->txns[0];
    int rc = store_meta_put(store, txn, height, app_hash, err);
    if (rc < 0) {
        mdb_txn_abort(txn);
        store_block_clear(store);
        return rc;
    }
    /* mdb_txn_commit frees the txn whether or not it succeeds. */
    int mrc = mdb_txn_commit(txn);
    store_block_clear(store);
    if (mrc != 0) {
        return kumo_store_err_map(mrc, err, "mdb_txn_commit (block)");
    }
    return 0;
}

/* The LMDB handle of a table; an out-of-range table is a caller bug. */
static MDB_dbi store_table_dbi(const kumo_store_t *store, kumo_store_table_t table)
{
    KUMO_ASSERT((uint32_t)table < KUMO_STORE_TABLE_COUNT);
    return store->dbi_tables[table];
}

static int store_record_write(kumo_store_t *store,
                              kumo_store_table_t table,
                              kumo_bytes_t key,
                              kumo_bytes_t val,
                              unsigned int flags,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL && store->block_open);
    /* Records go straight into the block txn: inside a savepoint they could be rolled back
     * with a tx, and under a live cursor LMDB forbids writes. */
    KUMO_ASSERT(store->savepoint_depth == 0);
    KUMO_ASSERT(store->scan_depth == 0 && !store->write_set_visiting);
    KUMO_ASSERT(val.ptr != NULL || val.len == 0);
    MDB_dbi dbi = store_table_dbi(store, table);
    KUMO_GUARD(kumo_store_key_check(key, err));
    KUMO_ENSURE(val.len <= KUMO_STORE_RECORD_BYTES_MAX, err, KUMO_ELIMIT,
                "record of %zu bytes exceeds %u", val.len, KUMO_STORE_RECORD_BYTES_MAX);
    MDB_val k = store_val(key);
    MDB_val v = store_val(val);
    int rc = mdb_put(store->txns[0], dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST) {
        return kumo_err_set(err, KUMO_EEXIST, "record already present");
    }
    return rc == 0 ? 0 : kumo_store_err_map(rc, err, "mdb_put record");
}

int kumo_store_block_record_put(kumo_store_t *store,
                                kumo_store_table_t table,
                                kumo_bytes_t key,
                                kumo_bytes_t val,
                                kumo_err_ctx_t *err)
{
    return store_record_write(store, table, key, val, 0, err);
}

int kumo_store_block_record_add(kumo_store_t *store,
                                kumo_store_table_t table,
                                kumo_bytes_t key,
                                kumo_bytes_t val,
                                kumo_err_ctx_t *err)
{
    return store_record_write(store, table, key, val, MDB_NOOVERWRITE, err);
}

void kumo_store_block_abort(kumo_store_t *store)
{
    KUMO_ASSERT(store != NULL);
    if (!store->block_open) {
        return;
    }
    KUMO_ASSERT(store->scan_depth == 0 && !store->write_set_visiting);
    /* Aborting the block txn also aborts every nested savepoint txn. */
    mdb_txn_abort(store->txns[0]);
    for (uint32_t i = 1; i <= store->savepoint_depth; i++) {
        store->txns[i] = NULL;
    }
    store->savepoint_depth = 0;
    store_block_clear(store);
}

bool kumo_store_block_is_open(const kumo_store_t *store)
{
    KUMO_ASSERT(store != NULL);
    return store->block_open;
}

int kumo_store_read_begin(kumo_store_t *store,
                          kumo_store_read_t **read_out,
                          kumo_kv_t *kv_out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL);
    KUMO_ASSERT(read_out != NULL && kv_out != NULL);
    kumo_store_read_t *read = kumo_calloc(1, sizeof(*read));
    KUMO_ENSURE(read != NULL, err, KUMO_ENOMEM, "read snapshot");
    int rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &read->txn);
    if (rc != 0) {
        kumo_free(read);
        return kumo_store_err_map(rc, err, "mdb_txn_begin (read)");
    }
    read->store = store;
    atomic_fetch_add(&store->read_count, 1u);
    kumo_store_read_kv_fill(read, kv_out);
    *read_out = read;
    return 0;
}

void kumo_store_read_end(kumo_store_read_t *read)
{
    if (read == NULL) {
        return;
    }
    KUMO_ASSERT(read->store != NULL && read->txn != NULL);
    unsigned int before = atomic_fetch_sub(&read->store->read_count, 1u);
    KUMO_ASSERT(before > 0);
    mdb_txn_abort(read->txn);
    kumo_free(read);
}

int kumo_store_read_meta_get(kumo_store_read_t *read,
                             uint64_t *height_out,
                             uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(read != NULL && read->txn != NULL);
    KUMO_ASSERT(height_out != NULL && app_hash_out != NULL);
    return store_meta_read(read->store, read->txn, height_out, app_hash_out, err);
}

int kumo_store_read_record_get(kumo_store_read_t *read,
                               kumo_store_table_t table,
                               kumo_bytes_t key,
                               kumo_bytes_t *val_out,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(read != NULL && read->txn != NULL);
    KUMO_ASSERT(val_out != NULL);
    return kumo_store_txn_get(read->txn, store_table_dbi(read->store, table), key, val_out, err);
}

int kumo_store_disk_bytes(kumo_store_t *store, uint64_t *bytes_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(store != NULL);
    KUMO_ASSERT(bytes_out != NULL);
    MDB_envinfo info;
    MDB_stat stat;
    int rc = mdb_env_info(store->env, &info);
    if (rc == 0) {
        rc = mdb_env_stat(store->env, &stat);
    }
    if (rc != 0) {
        return kumo_store_err_map(rc, err, "mdb_env_info");
    }
    uint64_t pages = (uint64_t)info.me_last_pgno + 1u;
    KUMO_ENSURE(kumo_u64_mul(pages, stat.ms_psize, bytes_out) == 0, err, KUMO_EOVERFLOW,
                "%" PRIu64 " pages", pages);
    KUMO_ASSERT(*bytes_out > 0);
    return 0;
}
