/*
 * bytes.c - slices, owned buffers and fail-closed reader/writer cursors. Pure.
 */
#include "core/bytes.h"

#include <string.h>

#include "core/alloc.h"
#include "core/kassert.h"

bool kumo_bytes_equal(kumo_bytes_t a, kumo_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int kumo_bytes_compare(kumo_bytes_t a, kumo_bytes_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n == 0 ? 0 : memcmp(a.ptr, b.ptr, n);
    if (c != 0) {
        return c;
    }
    if (a.len == b.len) {
        return 0;
    }
    return a.len < b.len ? -1 : 1;
}

bool kumo_bytes_has_prefix(kumo_bytes_t b, kumo_bytes_t prefix)
{
    return b.len >= prefix.len && (prefix.len == 0 || memcmp(b.ptr, prefix.ptr, prefix.len) == 0);
}

void kumo_buf_init(kumo_buf_t *buf, size_t cap_max)
{
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->cap_max = cap_max;
}

int kumo_buf_reserve(kumo_buf_t *buf, size_t extra)
{
    KUMO_ASSERT(buf->len <= buf->cap);
    if (extra > buf->cap_max || buf->len > buf->cap_max - extra) {
        return KUMO_ELIMIT;
    }
    size_t need = buf->len + extra;
    if (need <= buf->cap) {
        return 0;
    }
    size_t cap = buf->cap < 64 ? 64 : buf->cap;
    while (cap < need) {
        cap = cap > buf->cap_max / 2 ? buf->cap_max : cap * 2;
    }
    uint8_t *p = kumo_realloc(buf->ptr, cap);
    if (p == NULL) {
        return KUMO_ENOMEM;
    }
    buf->ptr = p;
    buf->cap = cap;
    KUMO_ASSERT(buf->cap >= need);
    return 0;
}

int kumo_buf_append(kumo_buf_t *buf, const void *data, size_t len)
{
    KUMO_GUARD(kumo_buf_reserve(buf, len));
    if (len > 0) {
        memcpy(buf->ptr + buf->len, data, len);
    }
    buf->len += len;
    return 0;
}

void kumo_buf_reset(kumo_buf_t *buf)
{
    buf->len = 0;
}

void kumo_buf_free(kumo_buf_t *buf)
{
    if (buf->ptr != NULL) {
        /* Buffers may have held secrets or signed bytes; wipe before release. */
        volatile uint8_t *p = buf->ptr;
        for (size_t i = 0; i < buf->cap; i++) {
            p[i] = 0;
        }
        kumo_free(buf->ptr);
    }
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void kumo_reader_init(kumo_reader_t *r, kumo_bytes_t data)
{
    r->ptr = data.ptr;
    r->len = data.len;
    r->pos = 0;
    r->failed = false;
}

bool kumo_reader_is_valid(const kumo_reader_t *r)
{
    return r->pos <= r->len && (r->ptr != NULL || r->len == 0);
}

size_t kumo_reader_remaining(const kumo_reader_t *r)
{
    KUMO_ASSERT(kumo_reader_is_valid(r));
    return r->failed ? 0 : r->len - r->pos;
}

static int reader_take(kumo_reader_t *r, size_t n, const uint8_t **out)
{
    KUMO_ASSERT(kumo_reader_is_valid(r));
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return KUMO_EDECODE;
    }
    *out = r->ptr + r->pos;
    r->pos += n;
    KUMO_ASSERT(kumo_reader_is_valid(r));
    return 0;
}

int kumo_reader_read_u8(kumo_reader_t *r, uint8_t *out)
{
    const uint8_t *p;
    KUMO_GUARD(reader_take(r, 1, &p));
    *out = p[0];
    return 0;
}

int kumo_reader_read_u32(kumo_reader_t *r, uint32_t *out)
{
    const uint8_t *p;
    KUMO_GUARD(reader_take(r, 4, &p));
    *out = kumo_be32_get(p);
    return 0;
}

int kumo_reader_read_u64(kumo_reader_t *r, uint64_t *out)
{
    const uint8_t *p;
    KUMO_GUARD(reader_take(r, 8, &p));
    *out = kumo_be64_get(p);
    return 0;
}

int kumo_reader_read_fixed(kumo_reader_t *r, size_t len, kumo_bytes_t *out)
{
    const uint8_t *p;
    KUMO_GUARD(reader_take(r, len, &p));
    *out = kumo_bytes_make(p, len);
    return 0;
}

int kumo_reader_read_prefixed(kumo_reader_t *r, size_t len_max, kumo_bytes_t *out)
{
    uint32_t len;
    KUMO_GUARD(kumo_reader_read_u32(r, &len));
    if (len > len_max) {
        r->failed = true;
        return KUMO_ELIMIT;
    }
    return kumo_reader_read_fixed(r, len, out);
}

int kumo_reader_finish(const kumo_reader_t *r)
{
    KUMO_ASSERT(kumo_reader_is_valid(r));
    return (r->failed || r->pos != r->len) ? KUMO_EDECODE : 0;
}

void kumo_writer_init(kumo_writer_t *w, uint8_t *ptr, size_t cap)
{
    w->ptr = ptr;
    w->len = cap;
    w->pos = 0;
    w->failed = false;
}

bool kumo_writer_is_valid(const kumo_writer_t *w)
{
    return w->pos <= w->len && (w->ptr != NULL || w->len == 0);
}

int kumo_writer_write_bytes(kumo_writer_t *w, kumo_bytes_t b)
{
    KUMO_ASSERT(kumo_writer_is_valid(w));
    if (w->failed || b.len > w->len - w->pos) {
        w->failed = true;
        return KUMO_ELIMIT;
    }
    if (b.len > 0) {
        memcpy(w->ptr + w->pos, b.ptr, b.len);
    }
    w->pos += b.len;
    KUMO_ASSERT(kumo_writer_is_valid(w));
    return 0;
}

int kumo_writer_write_u8(kumo_writer_t *w, uint8_t v)
{
    return kumo_writer_write_bytes(w, kumo_bytes_make(&v, 1));
}

int kumo_writer_write_u32(kumo_writer_t *w, uint32_t v)
{
    uint8_t b[4];
    kumo_be32_put(b, v);
    return kumo_writer_write_bytes(w, kumo_bytes_make(b, sizeof(b)));
}

int kumo_writer_write_u64(kumo_writer_t *w, uint64_t v)
{
    uint8_t b[8];
    kumo_be64_put(b, v);
    return kumo_writer_write_bytes(w, kumo_bytes_make(b, sizeof(b)));
}

int kumo_writer_write_prefixed(kumo_writer_t *w, kumo_bytes_t b)
{
    if (b.len > UINT32_MAX) {
        w->failed = true;
        return KUMO_ELIMIT;
    }
    KUMO_GUARD(kumo_writer_write_u32(w, (uint32_t)b.len));
    return kumo_writer_write_bytes(w, b);
}

kumo_bytes_t kumo_writer_bytes(const kumo_writer_t *w)
{
    KUMO_ASSERT(kumo_writer_is_valid(w));
    return kumo_bytes_make(w->ptr, w->pos);
}

void kumo_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

uint64_t kumo_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

void kumo_be32_put(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

uint32_t kumo_be32_get(const uint8_t in[4])
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}
