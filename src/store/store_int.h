/*
 * store_int.h - private to the store module: the store and snapshot structs, the block's
 * write log, the LMDB error mapping and the kv operations shared by block and snapshot kvs.
 */
#ifndef KUMO_STORE_STORE_INT_H
#define KUMO_STORE_STORE_INT_H

#include <lmdb.h>
#include <stdatomic.h>

#include "store/store.h"

/* A log entry's val_len for a delete. Real values are far shorter. */
#define KUMO_STORE_LOG_TOMBSTONE UINT32_MAX
_Static_assert(KUMO_STATE_OBJECT_BYTES_MAX < KUMO_STORE_LOG_TOMBSTONE,
               "a value length never looks like a tombstone");
_Static_assert(KUMO_KEY_BYTES_MAX < UINT32_MAX, "key lengths fit in a log entry");

/* One put or del: the key at arena[pos], the value (if any) right after it. */
typedef struct kumo_store_log_entry {
    size_t pos;
    uint32_t key_len;
    uint32_t val_len; /* KUMO_STORE_LOG_TOMBSTONE for a delete */
} kumo_store_log_entry_t;
_Static_assert(sizeof(kumo_store_log_entry_t) == KUMO_STORE_WRITE_SET_ENTRY_BYTES,
               "store.h documents the per-write bookkeeping");

/* The block's write log, in write order (the index is the sequence number). Keys and values
 * live in one growing arena so a 100k-write block costs a few reallocs, not 100k mallocs. */
typedef struct kumo_store_log {
    kumo_store_log_entry_t *entries;
    size_t entry_count;
    size_t entry_cap;
    uint8_t *arena;
    size_t arena_len;
    size_t arena_cap;
    uint64_t bytes_max; /* bound on arena_len + entry_count * sizeof(entry) */
} kumo_store_log_t;

/* Where the log stood when a savepoint began; rollback truncates back to it. */
typedef struct kumo_store_log_mark {
    size_t entry_count;
    size_t arena_len;
} kumo_store_log_mark_t;

struct kumo_store {
    MDB_env *env;
    MDB_dbi dbi_state;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_tables[KUMO_STORE_TABLE_COUNT]; /* by kumo_store_table_t */
    uint64_t write_set_bytes_max;
    bool block_open;
    /* txns[0] is the block txn, txns[i] the i-th nested savepoint txn. */
    uint32_t savepoint_depth;
    MDB_txn *txns[KUMO_STORE_SAVEPOINT_DEPTH_MAX + 1];
    kumo_store_log_mark_t marks[KUMO_STORE_SAVEPOINT_DEPTH_MAX];
    kumo_store_log_t log;
    /* Nonzero while a scan or write-set callback runs: writing then is a bug. */
    uint32_t scan_depth;
    bool write_set_visiting;
    /* Open snapshots; atomic because a snapshot may end on another thread. */
    atomic_uint read_count;
};

struct kumo_store_read {
    kumo_store_t *store;
    MDB_txn *txn;
};

/* Maps an LMDB (or errno) result once: see store.h. Returns the KUMO_E* code. */
int kumo_store_err_map(int mdb_rc, kumo_err_ctx_t *err, const char *what);

/* Key and value checks shared by every kv entry point. */
KUMO_MUST_USE int kumo_store_key_check(kumo_bytes_t key, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_store_val_check(kumo_bytes_t val, kumo_err_ctx_t *err);

/* get and scan on any txn (block, savepoint or snapshot). */
KUMO_MUST_USE int kumo_store_txn_get(
    MDB_txn *txn, MDB_dbi dbi, kumo_bytes_t key, kumo_bytes_t *val_out, kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_store_txn_scan(MDB_txn *txn,
                                      MDB_dbi dbi,
                                      kumo_bytes_t prefix,
                                      kumo_bytes_t start,
                                      kumo_kv_scan_cb cb,
                                      void *cb_ctx,
                                      kumo_err_ctx_t *err);

/* The kv vtables. */
void kumo_store_block_kv_fill(kumo_store_t *store, kumo_kv_t *kv);
void kumo_store_read_kv_fill(kumo_store_read_t *read, kumo_kv_t *kv);

/* Write log (store_log.c). */
void kumo_store_log_init(kumo_store_log_t *log, uint64_t bytes_max);
void kumo_store_log_free(kumo_store_log_t *log);
/* Appends a put (is_del false) or a delete of key. KUMO_ELIMIT past bytes_max, KUMO_ENOMEM;
 * on failure the log is unchanged. */
KUMO_MUST_USE int kumo_store_log_append(
    kumo_store_log_t *log, kumo_bytes_t key, kumo_bytes_t val, bool is_del, kumo_err_ctx_t *err);
kumo_store_log_mark_t kumo_store_log_mark(const kumo_store_log_t *log);
void kumo_store_log_truncate(kumo_store_log_t *log, kumo_store_log_mark_t mark);
/* Sorts by key (ties by sequence), keeps the last write per key, calls cb in key order. */
KUMO_MUST_USE int kumo_store_log_visit(const kumo_store_log_t *log,
                                       kumo_kv_write_cb cb,
                                       void *cb_ctx,
                                       kumo_err_ctx_t *err);

#endif
