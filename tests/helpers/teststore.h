/*
 * teststore.h - a real LMDB store in a temp dir for tests of modules that run on a kumo_kv_t
 * (market, chain): open with a block begun, commit and go on, reopen to prove persistence,
 * and a digest/count of the whole kv for "state unchanged" checks.
 *
 * Usage:
 *     kumo_test_store_t ts = {0};
 *     assert_int_equal(kumo_test_store_open(&ts), 0);
 *     ... use ts.kv ...
 *     assert_int_equal(kumo_test_store_commit(&ts, 1), 0);
 *     kumo_test_store_close(&ts);
 */
#ifndef KUMO_TESTS_TESTSTORE_H
#define KUMO_TESTS_TESTSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define KUMO_TEST_KV_DIGEST_BYTES 32u

typedef struct kumo_test_store {
    char *dir;           /* the temp dir (owned) */
    kumo_store_t *store; /* the open store */
    kumo_kv_t kv;        /* the open block's kv (valid while block_open) */
    bool block_open;
} kumo_test_store_t;

/* Makes a temp dir, opens a store there with no_sync and begins a block (ts->kv). On failure
 * everything is released and ts is zeroed. Returns 0 or a KUMO_E* code. */
int kumo_test_store_open(kumo_test_store_t *ts);
/* Commits the open block at height with a zero app hash, then begins the next block. */
int kumo_test_store_commit(kumo_test_store_t *ts, uint64_t height);
/* Commits the open block at (last committed height + 1), closes the environment, opens it
 * again and begins a block: whatever the test reads afterwards came from disk. */
int kumo_test_store_reopen(kumo_test_store_t *ts);
/* Aborts the open block, closes the store and removes the temp dir. Safe on a zeroed or
 * half-opened ts; leaves ts zeroed. */
void kumo_test_store_close(kumo_test_store_t *ts);

/* A digest of every key and value in kv (a scan with an empty prefix): FNV-1a-128 over the
 * length-prefixed keys and values (bytes 0..15), then the entry count and the total key+value
 * bytes as big-endian u64s (bytes 16..31). Not cryptographic: equal digests mean "unchanged"
 * for tests, nothing more. */
int kumo_test_kv_digest(const kumo_kv_t *kv, uint8_t out[KUMO_TEST_KV_DIGEST_BYTES]);
/* Number of keys in kv. */
int kumo_test_kv_count(const kumo_kv_t *kv, size_t *out);

#endif
