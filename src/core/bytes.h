/*
 * bytes.h - byte slices, owned buffers, and the fail-closed reader/writer cursors. Pure.
 *
 * kumo_bytes_t borrows; kumo_buf_t owns (with a hard cap). The reader fails closed: after one
 * short read every later read fails too, and kumo_reader_finish() rejects trailing bytes.
 * Integers on the wire are big-endian so that byte order is numeric order in LMDB keys.
 */
#ifndef KUMO_CORE_BYTES_H
#define KUMO_CORE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct kumo_bytes {
    const uint8_t *ptr;
    size_t len;
} kumo_bytes_t;

typedef struct kumo_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t cap_max; /* hard cap; growing past it fails with KUMO_ELIMIT */
} kumo_buf_t;

static inline kumo_bytes_t kumo_bytes_make(const void *ptr, size_t len)
{
    kumo_bytes_t b = {(const uint8_t *)ptr, len};
    return b;
}

/* True when both slices hold the same bytes. */
bool kumo_bytes_equal(kumo_bytes_t a, kumo_bytes_t b);
/* memcmp order, shorter first on a common prefix. */
int kumo_bytes_compare(kumo_bytes_t a, kumo_bytes_t b);
/* True when b starts with prefix. */
bool kumo_bytes_has_prefix(kumo_bytes_t b, kumo_bytes_t prefix);

/* An empty buffer that may grow to cap_max bytes. */
void kumo_buf_init(kumo_buf_t *buf, size_t cap_max);
/* Ensures room for extra more bytes. KUMO_ELIMIT past cap_max, KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_buf_reserve(kumo_buf_t *buf, size_t extra);
KUMO_MUST_USE int kumo_buf_append(kumo_buf_t *buf, const void *data, size_t len);
void kumo_buf_reset(kumo_buf_t *buf);
/* Frees the storage (wiping it first) and resets to empty. */
void kumo_buf_free(kumo_buf_t *buf);
static inline kumo_bytes_t kumo_buf_bytes(const kumo_buf_t *buf)
{
    return kumo_bytes_make(buf->ptr, buf->len);
}

typedef struct kumo_reader {
    const uint8_t *ptr;
    size_t len;
    size_t pos;
    bool failed;
} kumo_reader_t;

void kumo_reader_init(kumo_reader_t *r, kumo_bytes_t data);
bool kumo_reader_is_valid(const kumo_reader_t *r);
size_t kumo_reader_remaining(const kumo_reader_t *r);
KUMO_MUST_USE int kumo_reader_read_u8(kumo_reader_t *r, uint8_t *out);
KUMO_MUST_USE int kumo_reader_read_u32(kumo_reader_t *r, uint32_t *out);
KUMO_MUST_USE int kumo_reader_read_u64(kumo_reader_t *r, uint64_t *out);
/* Borrows the next len bytes. */
KUMO_MUST_USE int kumo_reader_read_fixed(kumo_reader_t *r, size_t len, kumo_bytes_t *out);
/* Borrows a u32-length-prefixed run; the prefix is checked against len_max and the bytes left. */
KUMO_MUST_USE int kumo_reader_read_prefixed(kumo_reader_t *r, size_t len_max, kumo_bytes_t *out);
/* KUMO_EDECODE if the reader failed or bytes remain. */
KUMO_MUST_USE int kumo_reader_finish(const kumo_reader_t *r);

/* Writes into caller memory of fixed capacity; fails closed like the reader. */
typedef struct kumo_writer {
    uint8_t *ptr;
    size_t len; /* capacity */
    size_t pos;
    bool failed;
} kumo_writer_t;

void kumo_writer_init(kumo_writer_t *w, uint8_t *ptr, size_t cap);
bool kumo_writer_is_valid(const kumo_writer_t *w);
KUMO_MUST_USE int kumo_writer_write_u8(kumo_writer_t *w, uint8_t v);
KUMO_MUST_USE int kumo_writer_write_u32(kumo_writer_t *w, uint32_t v);
KUMO_MUST_USE int kumo_writer_write_u64(kumo_writer_t *w, uint64_t v);
KUMO_MUST_USE int kumo_writer_write_bytes(kumo_writer_t *w, kumo_bytes_t b);
KUMO_MUST_USE int kumo_writer_write_prefixed(kumo_writer_t *w, kumo_bytes_t b);
/* The bytes written so far. */
kumo_bytes_t kumo_writer_bytes(const kumo_writer_t *w);

/* Big-endian helpers for keys. */
void kumo_be64_put(uint8_t out[8], uint64_t v);
uint64_t kumo_be64_get(const uint8_t in[8]);
void kumo_be32_put(uint8_t out[4], uint32_t v);
uint32_t kumo_be32_get(const uint8_t in[4]);

#endif
