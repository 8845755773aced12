/*
 * kv.h - the ordered key-value interface the state machine reads and writes through.
 *
 * The store module implements it over an LMDB write transaction (and a read-only variant for
 * queries). Keys are compared as bytes (memcmp order), so big-endian integers sort numerically.
 * Savepoints nest: everything written after savepoint_begin is undone by savepoint_rollback.
 * Values returned by get/scan are borrowed and valid only until the next write or savepoint
 * call; callers decode or copy them at once.
 */
#ifndef KUMO_CORE_KV_H
#define KUMO_CORE_KV_H

#include <stdbool.h>

#include "core/bytes.h"
#include "core/err.h"

/* Called per entry in key order. Returns 0 to continue, 1 to stop, or a negative error,
 * which the scan returns. Must not write to the kv. */
typedef int (*kumo_kv_scan_cb)(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val);

/* Called per entry of a write set in key order; val.ptr == NULL marks a deletion. */
typedef int (*kumo_kv_write_cb)(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val);

typedef struct kumo_kv {
    void *ctx;
    /* KUMO_ENOTFOUND when absent. */
    int (*get)(void *ctx, kumo_bytes_t key, kumo_bytes_t *val_out, kumo_err_ctx_t *err);
    int (*put)(void *ctx, kumo_bytes_t key, kumo_bytes_t val, kumo_err_ctx_t *err);
    /* Deleting an absent key is not an error. */
    int (*del)(void *ctx, kumo_bytes_t key, kumo_err_ctx_t *err);
    /* Visits keys starting with prefix, from the first key >= start (start may be empty), in
     * ascending order. */
    int (*scan)(void *ctx,
                kumo_bytes_t prefix,
                kumo_bytes_t start,
                kumo_kv_scan_cb cb,
                void *cb_ctx,
                kumo_err_ctx_t *err);
    int (*savepoint_begin)(void *ctx, kumo_err_ctx_t *err);
    int (*savepoint_commit)(void *ctx, kumo_err_ctx_t *err);
    void (*savepoint_rollback)(void *ctx);
    /* Visits the net writes of the current block (after savepoints resolved), sorted by key,
     * one entry per key, last write wins. NULL on read-only kvs. */
    int (*write_set_visit)(void *ctx, kumo_kv_write_cb cb, void *cb_ctx, kumo_err_ctx_t *err);
} kumo_kv_t;

#endif
