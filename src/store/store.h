/*
 * store.h - the LMDB store: state as a kumo_kv_t, one write transaction per block, nested
 * savepoints (LMDB nested transactions) for atomic txs, and the captured write set of the
 * block for the app hash. Not pure (file I/O).
 *
 * Layout: one LMDB environment in dir (dir/data.mdb, dir/lock.mdb), named databases "state"
 * (the kv) and "meta" (height and app hash of the last committed block; not part of the write
 * set), plus the block store's tables "blocks", "results" and "txindex" (kumo_store_table_t),
 * also outside the write set. A block is begun, applied through the kv, then committed with its
 * height and app hash in the same LMDB commit, so a crash leaves either the whole block or none of
 * it.
 *
 * Threads: the store and its block kv belong to one thread (the loop, or the one worker that
 * applies blocks). Read snapshots (kumo_store_read_begin) use MDB_NOTLS, so a snapshot may be
 * used and ended on any thread, one thread at a time per snapshot.
 *
 * LMDB errors are mapped once, here: MDB_NOTFOUND -> KUMO_ENOTFOUND; MDB_MAP_FULL, MDB_TXN_FULL
 * and MDB_READERS_FULL -> KUMO_ELIMIT; MDB_CORRUPTED, MDB_PAGE_NOTFOUND and MDB_INVALID ->
 * KUMO_ECORRUPT; ENOMEM -> KUMO_ENOMEM; anything else -> KUMO_EIO. The detail quotes
 * mdb_strerror().
 */
#ifndef KUMO_STORE_STORE_H
#define KUMO_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

#define KUMO_STORE_HASH_BYTES 32u

/* Savepoints open at once in a block. Chain nests block -> tx -> msg -> a sub-step or two;
 * 16 leaves room while bounding the LMDB nested txn chain (each level holds dirty pages). */
#define KUMO_STORE_SAVEPOINT_DEPTH_MAX 16u

/* Default bound on a block's captured write set (key and value copies plus
 * KUMO_STORE_WRITE_SET_ENTRY_BYTES per write). A 10k-tx block writes ~100k entries of at most a few
 * KiB, well under 1 GiB; past the bound put/del fail with KUMO_ELIMIT instead of exhausting memory.
 */
#define KUMO_STORE_WRITE_SET_BYTES_MAX (1024ull * 1024ull * 1024ull)
/* The bookkeeping bytes each put/del adds to the write set besides its key and value. */
#define KUMO_STORE_WRITE_SET_ENTRY_BYTES 16u

/* Default LMDB map size: 64 GiB of address space; the data file stays sparse. */
#define KUMO_STORE_MAP_BYTES_DEFAULT (64ull * 1024ull * 1024ull * 1024ull)

/* Bound on one record of a block store table: a block holds at most KUMO_BLOCK_BYTES_MAX tx
 * bytes plus its header, and its results hold every tx's events, a few hundred bytes per event
 * for up to KUMO_BLOCK_TX_COUNT_MAX txs; 256 MiB leaves room for both while still refusing a
 * runaway record before LMDB copies it. */
#define KUMO_STORE_RECORD_BYTES_MAX (256u * 1024u * 1024u)
_Static_assert(KUMO_STORE_RECORD_BYTES_MAX > KUMO_BLOCK_BYTES_MAX, "a full block fits a record");

/* The block store's tables: named LMDB databases written inside the open block's transaction,
 * so they commit atomically with the state and meta, and not part of the write set (the app
 * hash covers only the state). Keys follow the kv key limits. */
typedef enum kumo_store_table {
    KUMO_STORE_TABLE_BLOCKS = 0,   /* big-endian u64 height -> encoded Block */
    KUMO_STORE_TABLE_RESULTS = 1,  /* big-endian u64 height -> encoded BlockResults */
    KUMO_STORE_TABLE_TX_INDEX = 2, /* tx hash (32 bytes) -> encoded TxLocation */
    KUMO_STORE_TABLE_COMMITS = 3,  /* big-endian u64 height -> encoded Commit (consensus) */
} kumo_store_table_t;
#define KUMO_STORE_TABLE_COUNT 4u

typedef struct kumo_store kumo_store_t;
typedef struct kumo_store_read kumo_store_read_t;

typedef struct kumo_store_cfg {
    uint64_t map_bytes; /* LMDB map size; 0 -> KUMO_STORE_MAP_BYTES_DEFAULT (sparse) */
    bool no_sync;       /* MDB_NOSYNC: only for tests and benchmarks */
    /* Bound on a block's write set bytes; 0 -> KUMO_STORE_WRITE_SET_BYTES_MAX. Tests lower it
     * to exercise the limit. */
    uint64_t write_set_bytes_max;
} kumo_store_cfg_t;

/* Opens or creates the store in dir (created 0700 if missing; files 0600). cfg may be NULL
 * (defaults, durable commits). Validates the meta record of an existing store.
 * KUMO_EIO (mkdir, LMDB open), KUMO_ECORRUPT (bad meta or data file), KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_store_open(const char *dir,
                                  const kumo_store_cfg_t *cfg,
                                  kumo_store_t **out,
                                  kumo_err_ctx_t *err);
/* Aborts any open block and closes. Every read snapshot must have ended. NULL is a no-op. */
void kumo_store_close(kumo_store_t *store);

/* Height and app hash of the last committed block (0 and zeros for a fresh store). Reads the
 * committed state even while a block is open. KUMO_ECORRUPT if the meta record is malformed. */
KUMO_MUST_USE int kumo_store_meta_get(kumo_store_t *store,
                                      uint64_t *height_out,
                                      uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                                      kumo_err_ctx_t *err);

/* Begins the block's write transaction; kv_out is valid until commit/abort. Only one block
 * may be open (asserted).
 *
 * The block kv: keys are 1..KUMO_KEY_BYTES_MAX bytes (empty: KUMO_EINVAL, longer:
 * KUMO_ELIMIT); values 0..KUMO_STATE_OBJECT_BYTES_MAX bytes (longer: KUMO_ELIMIT). get and scan
 * return memory borrowed from LMDB, valid until the next put/del/savepoint call or the end of
 * the block. A scan callback returns 0 to continue, 1 to stop (the scan returns 0) or a
 * negative error (the scan returns it); it may get and scan but must not write or touch
 * savepoints (asserted). Scan arguments follow the key limits (empty prefix and start allowed).
 * Savepoints nest up to KUMO_STORE_SAVEPOINT_DEPTH_MAX (one more: KUMO_ELIMIT); a failed
 * savepoint_commit has rolled the savepoint back. Every put/del is also logged for
 * write_set_visit; past cfg->write_set_bytes_max they fail with KUMO_ELIMIT, and a failed
 * put/del leaves both the kv and the write set unchanged. write_set_visit must run with no
 * savepoint open (asserted); its callback gets memory valid during the call only, returns 0 to
 * continue, a positive value to stop (visit returns 0) or a negative error (returned); it must
 * not write. KUMO_ENOMEM if the sort index cannot be allocated (the callback then never runs). */
KUMO_MUST_USE int
kumo_store_block_begin(kumo_store_t *store, kumo_kv_t *kv_out, kumo_err_ctx_t *err);
/* Writes meta (height, app_hash) and commits durably (unless no_sync). Requires an open block
 * with no savepoint open (asserted). Success or failure, the block is closed afterwards; on
 * failure nothing of it was committed. */
KUMO_MUST_USE int kumo_store_block_commit(kumo_store_t *store,
                                          uint64_t height,
                                          const uint8_t app_hash[KUMO_STORE_HASH_BYTES],
                                          kumo_err_ctx_t *err);
/* Puts one record into a block store table inside the open block (no savepoint open, no scan
 * running: asserted). It commits or aborts with the block and never enters the write set.
 * Keys 1..KUMO_KEY_BYTES_MAX bytes (empty: KUMO_EINVAL, longer: KUMO_ELIMIT); values up to
 * KUMO_STORE_RECORD_BYTES_MAX (KUMO_ELIMIT). LMDB errors as mapped above (a full map:
 * KUMO_ELIMIT); the caller then aborts the block. */
KUMO_MUST_USE int kumo_store_block_record_put(kumo_store_t *store,
                                              kumo_store_table_t table,
                                              kumo_bytes_t key,
                                              kumo_bytes_t val,
                                              kumo_err_ctx_t *err);
/* Like kumo_store_block_record_put, but keeps an existing record: KUMO_EEXIST (nothing
 * written) when key is already in the table, committed or written earlier in this block. */
KUMO_MUST_USE int kumo_store_block_record_add(kumo_store_t *store,
                                              kumo_store_table_t table,
                                              kumo_bytes_t key,
                                              kumo_bytes_t val,
                                              kumo_err_ctx_t *err);
/* Discards everything written since block_begin. A no-op when no block is open, so cleanup
 * paths may call it after a failed commit. */
void kumo_store_block_abort(kumo_store_t *store);
/* True while a block is open. */
bool kumo_store_block_is_open(const kumo_store_t *store);

/* A read-only snapshot of the last committed state (any number at once, up to LMDB's 126
 * readers, any thread). kv_out's put/del/savepoint functions fail with KUMO_EINVAL;
 * write_set_visit is NULL. get/scan memory is valid until kumo_store_read_end. */
KUMO_MUST_USE int kumo_store_read_begin(kumo_store_t *store,
                                        kumo_store_read_t **read_out,
                                        kumo_kv_t *kv_out,
                                        kumo_err_ctx_t *err);
/* Height and app hash of the last block committed when the snapshot began (0 and zeros for a
 * fresh store); KUMO_ECORRUPT as kumo_store_meta_get. */
KUMO_MUST_USE int kumo_store_read_meta_get(kumo_store_read_t *read,
                                           uint64_t *height_out,
                                           uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                                           kumo_err_ctx_t *err);
/* Reads a record of a block store table as of the snapshot. *val_out borrows LMDB memory,
 * valid until kumo_store_read_end. KUMO_ENOTFOUND when absent; key limits as for put. */
KUMO_MUST_USE int kumo_store_read_record_get(kumo_store_read_t *read,
                                             kumo_store_table_t table,
                                             kumo_bytes_t key,
                                             kumo_bytes_t *val_out,
                                             kumo_err_ctx_t *err);
/* Ends a snapshot; NULL is a no-op. */
void kumo_store_read_end(kumo_store_read_t *read);

/* Bytes of the environment's data file in use: (me_last_pgno + 1) * page size, from
 * mdb_env_info and mdb_env_stat. It counts pages LMDB has handed out (including pages on its
 * free list for reuse), not the sparse file's allocated blocks. */
KUMO_MUST_USE int
kumo_store_disk_bytes(kumo_store_t *store, uint64_t *bytes_out, kumo_err_ctx_t *err);

#endif
