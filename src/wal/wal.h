/*
 * wal.h - a write-ahead log: an append-only file of checksummed records, fsync'd on demand,
 * replayed in order at start; a torn or corrupt tail (a crash mid-append) is cut off at the
 * last whole record. Plus atomic small-file writes (signer state). Not pure: files.
 *
 * Record: u32 big-endian payload length || u8 kind || payload || u32 check, where check is
 * the first 4 bytes of SHA-256 over everything before it.
 */
#ifndef KUMO_WAL_WAL_H
#define KUMO_WAL_WAL_H

#include <stdint.h>

#include "core/core.h"

#define KUMO_WAL_RECORD_BYTES_MAX (8u * 1024u * 1024u)
/* The whole log (one height of consensus messages) is read at open: bounded. */
#define KUMO_WAL_FILE_BYTES_MAX (256u * 1024u * 1024u)

typedef struct kumo_wal kumo_wal_t;

/* Opens (creating, 0600) the log at path, validates every record and truncates a bad tail.
 * *records_out (may be NULL) gets the number of valid records. */
KUMO_MUST_USE int
kumo_wal_open(const char *path, kumo_wal_t **out, uint64_t *records_out, kumo_err_ctx_t *err);
void kumo_wal_close(kumo_wal_t *wal);

typedef int (*kumo_wal_visit_fn)(void *ctx, uint8_t kind, kumo_bytes_t payload);
/* Calls fn for every record in order; a negative return from fn stops and is returned. */
KUMO_MUST_USE int
kumo_wal_replay(kumo_wal_t *wal, kumo_wal_visit_fn fn, void *ctx, kumo_err_ctx_t *err);
/* Appends a record (written, not yet fsync'd). KUMO_ELIMIT over the record or file bound. */
KUMO_MUST_USE int
kumo_wal_append(kumo_wal_t *wal, uint8_t kind, kumo_bytes_t payload, kumo_err_ctx_t *err);
/* fdatasync: every record appended so far survives a crash. */
KUMO_MUST_USE int kumo_wal_sync(kumo_wal_t *wal, kumo_err_ctx_t *err);
/* Empties the log (truncate + fsync), e.g. when a height is committed. */
KUMO_MUST_USE int kumo_wal_reset(kumo_wal_t *wal, kumo_err_ctx_t *err);

/* Validates a log image: the length of its valid prefix and its record count (fuzzed). */
void kumo_wal_scan(kumo_bytes_t image, size_t *valid_len, uint64_t *records);

#endif
