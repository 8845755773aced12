/*
 * tunnel_wire.c - the tunnel frame codec (tunnel_wire.h). Pure: no I/O, no allocation; every
 * length is checked against its type's bound before anything is read.
 */
#include "overlay/tunnel_wire.h"

#include <string.h>

/* The payload length each type must have; DATA (1..max) is checked on its own. */
static bool frame_len_ok(kumo_overlay_tunnel_frame_type_t type, size_t len)
{
    switch (type) {
    case KUMO_OVERLAY_TUNNEL_PING:
    case KUMO_OVERLAY_TUNNEL_PONG:
        return len == 8u;
    case KUMO_OVERLAY_TUNNEL_OPEN:
        return len == 2u;
    case KUMO_OVERLAY_TUNNEL_DATA:
        return len >= 1u && len <= KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX;
    case KUMO_OVERLAY_TUNNEL_FIN:
    case KUMO_OVERLAY_TUNNEL_RESET:
        return len == 0u;
    case KUMO_OVERLAY_TUNNEL_WINDOW:
        return len == 4u;
    case KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT:
    default:
        return false;
    }
}

static bool frame_stream_ok(kumo_overlay_tunnel_frame_type_t type, uint32_t stream_id)
{
    bool control = type == KUMO_OVERLAY_TUNNEL_PING || type == KUMO_OVERLAY_TUNNEL_PONG;
    return control ? stream_id == 0 : stream_id != 0;
}

int kumo_overlay_tunnel_frame_header(const uint8_t hdr[KUMO_OVERLAY_TUNNEL_FRAME_HEADER],
                                     kumo_overlay_tunnel_frame_t *f,
                                     size_t *payload_len,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(hdr != NULL && f != NULL && payload_len != NULL);
    uint8_t type = hdr[0];
    uint32_t id = ((uint32_t)hdr[1] << 24) | ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 8) |
                  (uint32_t)hdr[4];
    size_t len = ((size_t)hdr[5] << 8) | (size_t)hdr[6];
    KUMO_ENSURE(type < KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT, err, KUMO_EDECODE,
                "unknown frame type %u", type);
    kumo_overlay_tunnel_frame_type_t t = (kumo_overlay_tunnel_frame_type_t)type;
    KUMO_ENSURE(t != KUMO_OVERLAY_TUNNEL_DATA || len <= KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX, err,
                KUMO_ELIMIT, "DATA of %zu bytes (max %u)", len, KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX);
    KUMO_ENSURE(frame_len_ok(t, len), err, KUMO_EDECODE, "frame type %u with %zu bytes", type, len);
    KUMO_ENSURE(frame_stream_ok(t, id), err, KUMO_EDECODE, "frame type %u on stream %u", type, id);
    memset(f, 0, sizeof(*f));
    f->type = t;
    f->stream_id = id;
    *payload_len = len;
    return 0;
}

static uint64_t frame_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8u; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* The typed fields of a payload whose length the header already checked. */
static int
frame_payload(kumo_overlay_tunnel_frame_t *f, const uint8_t *p, size_t len, kumo_err_ctx_t *err)
{
    switch (f->type) {
    case KUMO_OVERLAY_TUNNEL_PING:
    case KUMO_OVERLAY_TUNNEL_PONG:
        f->ping = frame_be64(p);
        return 0;
    case KUMO_OVERLAY_TUNNEL_OPEN:
        f->port = (uint16_t)(((unsigned)p[0] << 8) | p[1]);
        KUMO_ENSURE(f->port != 0, err, KUMO_EDECODE, "OPEN to port 0");
        return 0;
    case KUMO_OVERLAY_TUNNEL_DATA:
        f->data = kumo_bytes_make(p, len);
        return 0;
    case KUMO_OVERLAY_TUNNEL_WINDOW:
        f->window_bytes = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                          (uint32_t)p[3];
        KUMO_ENSURE(f->window_bytes >= 1u && f->window_bytes <= KUMO_OVERLAY_TUNNEL_WINDOW_BYTES,
                    err, KUMO_EDECODE, "WINDOW of %u bytes", f->window_bytes);
        return 0;
    case KUMO_OVERLAY_TUNNEL_FIN:
    case KUMO_OVERLAY_TUNNEL_RESET:
        return 0;
    case KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT:
    default:
        KUMO_UNREACHABLE();
    }
}

int kumo_overlay_tunnel_frame_decode(kumo_bytes_t in,
                                     kumo_overlay_tunnel_frame_t *f,
                                     size_t *used,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f != NULL && used != NULL);
    *used = 0;
    if (in.len < KUMO_OVERLAY_TUNNEL_FRAME_HEADER) {
        return 0;
    }
    size_t len = 0;
    KUMO_GUARD(kumo_overlay_tunnel_frame_header(in.ptr, f, &len, err));
    KUMO_ASSERT(len <= KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX);
    if (in.len - KUMO_OVERLAY_TUNNEL_FRAME_HEADER < len) {
        return 0;
    }
    KUMO_GUARD(frame_payload(f, in.ptr + KUMO_OVERLAY_TUNNEL_FRAME_HEADER, len, err));
    *used = KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len;
    return 0;
}

/* The payload length f encodes to, or 0 for a frame the decoder would refuse (no valid frame
 * but FIN and RESET is empty; those are told apart by type). */
static size_t frame_payload_len(const kumo_overlay_tunnel_frame_t *f)
{
    switch (f->type) {
    case KUMO_OVERLAY_TUNNEL_PING:
    case KUMO_OVERLAY_TUNNEL_PONG:
        return 8u;
    case KUMO_OVERLAY_TUNNEL_OPEN:
        return f->port != 0 ? 2u : 0u;
    case KUMO_OVERLAY_TUNNEL_DATA:
        return f->data.len <= KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX ? f->data.len : 0u;
    case KUMO_OVERLAY_TUNNEL_WINDOW:
        return f->window_bytes >= 1u && f->window_bytes <= KUMO_OVERLAY_TUNNEL_WINDOW_BYTES ? 4u
                                                                                            : 0u;
    case KUMO_OVERLAY_TUNNEL_FIN:
    case KUMO_OVERLAY_TUNNEL_RESET:
    case KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT:
    default:
        return 0u;
    }
}

static void frame_payload_put(const kumo_overlay_tunnel_frame_t *f, uint8_t *p)
{
    if (f->type == KUMO_OVERLAY_TUNNEL_PING || f->type == KUMO_OVERLAY_TUNNEL_PONG) {
        kumo_be64_put(p, f->ping);
    } else if (f->type == KUMO_OVERLAY_TUNNEL_OPEN) {
        p[0] = (uint8_t)(f->port >> 8);
        p[1] = (uint8_t)(f->port & 0xffu);
    } else if (f->type == KUMO_OVERLAY_TUNNEL_WINDOW) {
        kumo_be32_put(p, f->window_bytes);
    } else if (f->type == KUMO_OVERLAY_TUNNEL_DATA) {
        memcpy(p, f->data.ptr, f->data.len);
    }
}

int kumo_overlay_tunnel_frame_encode(const kumo_overlay_tunnel_frame_t *f,
                                     uint8_t *out,
                                     size_t cap,
                                     size_t *len_out)
{
    KUMO_ASSERT(f != NULL && out != NULL && len_out != NULL);
    size_t len = frame_payload_len(f);
    bool empty_ok = f->type == KUMO_OVERLAY_TUNNEL_FIN || f->type == KUMO_OVERLAY_TUNNEL_RESET;
    if ((len == 0 && !empty_ok) || (unsigned)f->type >= KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT ||
        !frame_stream_ok(f->type, f->stream_id)) {
        return KUMO_EINVAL;
    }
    if (cap < KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len) {
        return KUMO_ELIMIT;
    }
    out[0] = (uint8_t)f->type;
    kumo_be32_put(out + 1, f->stream_id);
    out[5] = (uint8_t)(len >> 8);
    out[6] = (uint8_t)(len & 0xffu);
    frame_payload_put(f, out + KUMO_OVERLAY_TUNNEL_FRAME_HEADER);
    *len_out = KUMO_OVERLAY_TUNNEL_FRAME_HEADER + len;
    KUMO_ASSERT(*len_out <= KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX);
    return 0;
}
