/*
 * store.h - the LMDB store: state as a kumo_kv_t, one write transaction per block, nested
 * savepoints (LMDB nested transactions) for atomic txs, and the captured write set of the
 * block for the app hash. Not pure (file I/O).
 *
 * Layout: one LMDB environment in dir, named databases "state" (the kv) and "meta" (height and
 * app hash of the last committed block; not part of the write set). A block is begun, applied
 * through the kv, then committed with its height and app hash in the same LMDB commit, so a
 * crash leaves either the whole block or none of it.
 */
#ifndef KUMO_STORE_STORE_H
#define KUMO_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

#define KUMO_STORE_HASH_BYTES 32u

typedef struct kumo_store kumo_store_t;
typedef struct kumo_store_read kumo_store_read_t;

typedef struct kumo_store_cfg {
    uint64_t map_bytes; /* LMDB map size; 0 -> 64 GiB (sparse) */
    bool no_sync;       /* MDB_NOSYNC: only for tests and benchmarks */
} kumo_store_cfg_t;

/* Opens or creates the store in dir (created 0700 if missing; files 0600). cfg may be NULL. */
KUMO_MUST_USE int kumo_store_open(const char *dir, const kumo_store_cfg_t *cfg,
                                  kumo_store_t **out, kumo_err_ctx_t *err);
/* Aborts any open block and closes. NULL is a no-op. */
void kumo_store_close(kumo_store_t *store);

/* Height and app hash of the last committed block (0 and zeros for a fresh store). */
KUMO_MUST_USE int kumo_store_meta_get(kumo_store_t *store, uint64_t *height_out,
                                      uint8_t app_hash_out[KUMO_STORE_HASH_BYTES],
                                      kumo_err_ctx_t *err);

/* Begins the block's write transaction; kv_out is valid until commit/abort. Only one block
 * may be open. */
KUMO_MUST_USE int kumo_store_block_begin(kumo_store_t *store, kumo_kv_t *kv_out,
                                         kumo_err_ctx_t *err);
/* Writes meta (height, app_hash) and commits durably (unless no_sync). */
KUMO_MUST_USE int kumo_store_block_commit(kumo_store_t *store, uint64_t height,
                                          const uint8_t app_hash[KUMO_STORE_HASH_BYTES],
                                          kumo_err_ctx_t *err);
/* Discards everything written since block_begin. */
void kumo_store_block_abort(kumo_store_t *store);

/* A read-only snapshot of the last committed state (any number at once, any thread). kv_out's
 * put/del/savepoint functions fail with KUMO_EINVAL; write_set_visit is NULL. */
KUMO_MUST_USE int kumo_store_read_begin(kumo_store_t *store, kumo_store_read_t **read_out,
                                        kumo_kv_t *kv_out, kumo_err_ctx_t *err);
void kumo_store_read_end(kumo_store_read_t *read);

/* Bytes used on disk by the environment's data file. */
KUMO_MUST_USE int kumo_store_disk_bytes(kumo_store_t *store, uint64_t *bytes_out,
                                        kumo_err_ctx_t *err);

#endif
