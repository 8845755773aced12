/*
 * wire.c - reads and patches top-level varint fields of a canonical protobuf encoding without
 * decoding it: hot paths (balances, counters) change one number of a stored object cheaply.
 * Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "codec/codec.h"

/* ---- reading varints of an encoding --------------------------------------------------------- */

static bool wire_varint(kumo_bytes_t b, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= b.len) {
            return false;
        }
        uint8_t byte = b.ptr[(*pos)++];
        v |= (uint64_t)(byte & 0x7fu) << shift;
        if ((byte & 0x80u) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool wire_skip(kumo_bytes_t b, size_t *pos, uint64_t n)
{
    if (n > b.len - *pos) {
        return false;
    }
    *pos += (size_t)n;
    return true;
}

/* One top-level field of an encoding: number, wire type, and where its bytes (tag included)
 * start and end. */
typedef struct wire_field {
    uint64_t number;
    uint32_t type;
    uint64_t value; /* varints only */
    size_t start;
    size_t end;
} wire_field_t;

static bool wire_next(kumo_bytes_t b, size_t *pos, wire_field_t *f)
{
    f->start = *pos;
    f->value = 0;
    uint64_t tag;
    uint64_t v = 0;
    if (!wire_varint(b, pos, &tag)) {
        return false;
    }
    f->number = tag >> 3;
    f->type = (uint32_t)(tag & 7u);
    bool ok = false;
    switch (f->type) {
    case 0:
        ok = wire_varint(b, pos, &f->value);
        break;
    case 1:
        ok = wire_skip(b, pos, 8);
        break;
    case 2:
        ok = wire_varint(b, pos, &v) && wire_skip(b, pos, v);
        break;
    case 5:
        ok = wire_skip(b, pos, 4);
        break;
    default:
        break;
    }
    f->end = *pos;
    return ok && f->number > 0;
}

int kumo_codec_wire_varints(kumo_bytes_t val,
                            uint64_t vals[KUMO_CODEC_WIRE_FIELD_MAX + 1],
                            kumo_err_ctx_t *err)
{
    uint32_t present;
    return kumo_codec_wire_read(val, vals, &present, err);
}

int kumo_codec_wire_read(kumo_bytes_t val,
                         uint64_t vals[KUMO_CODEC_WIRE_FIELD_MAX + 1],
                         uint32_t *present,
                         kumo_err_ctx_t *err)
{
    memset(vals, 0, sizeof(uint64_t) * (KUMO_CODEC_WIRE_FIELD_MAX + 1));
    *present = 0;
    size_t pos = 0;
    while (pos < val.len) {
        wire_field_t f;
        KUMO_ENSURE(wire_next(val, &pos, &f), err, KUMO_ECORRUPT,
                    "stored object is not a valid encoding");
        if (f.number <= KUMO_CODEC_WIRE_FIELD_MAX) {
            *present |= 1u << f.number;
            if (f.type == 0) {
                vals[f.number] = f.value;
            }
        }
    }
    KUMO_ASSERT(pos == val.len);
    return 0;
}

/* Appends the set fields numbered below `below` that are not yet written. */
static int wire_set_flush(kumo_buf_t *out,
                          const uint32_t *fields,
                          const uint64_t *values,
                          size_t count,
                          size_t *next,
                          uint64_t below)
{
    while (*next < count && fields[*next] < below) {
        /* proto3 omits zero scalars: the canonical form has no field at all. */
        if (values[*next] != 0) {
            KUMO_GUARD(kumo_codec_varint_append(out, (uint64_t)fields[*next] << 3));
            KUMO_GUARD(kumo_codec_varint_append(out, values[*next]));
        }
        (*next)++;
    }
    return 0;
}

int kumo_codec_wire_set(kumo_bytes_t in,
                        const uint32_t *fields,
                        const uint64_t *values,
                        size_t count,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    for (size_t i = 1; i < count; i++) {
        KUMO_ASSERT(fields[i - 1] < fields[i]);
    }
    kumo_buf_reset(out);
    size_t pos = 0;
    size_t next = 0;
    while (pos < in.len) {
        wire_field_t f;
        KUMO_ENSURE(wire_next(in, &pos, &f), err, KUMO_ECORRUPT,
                    "stored object is not a valid encoding");
        /* Canonical encodings list fields in ascending order, so the new values go right
         * before the first higher field, and a replaced field is simply dropped. */
        KUMO_GUARD(wire_set_flush(out, fields, values, count, &next, f.number));
        bool replaced = next < count && fields[next] == f.number;
        KUMO_ENSURE(!replaced || f.type == 0, err, KUMO_ECORRUPT,
                    "stored field %" PRIu64 " is not a varint", f.number);
        if (!replaced) {
            KUMO_GUARD(kumo_buf_append(out, in.ptr + f.start, f.end - f.start));
        }
    }
    return wire_set_flush(out, fields, values, count, &next, UINT64_MAX);
}

bool kumo_codec_wire_starts_with_addr(kumo_bytes_t val, const uint8_t *addr)
{
    return val.len >= 2 + KUMO_ADDRESS_BYTES && val.ptr[0] == ((1u << 3) | 2u) &&
           val.ptr[1] == KUMO_ADDRESS_BYTES && memcmp(val.ptr + 2, addr, KUMO_ADDRESS_BYTES) == 0;
}
