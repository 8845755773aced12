/*
 * tunnel_wire.h - private to overlay: the frames inside a tunnel's TLS stream, as a pure,
 * bounded codec that fuzz/fuzz_overlay_tunnel_frame.c drives directly.
 *
 * Frame: u8 type || u32 big-endian stream id || u16 big-endian payload length || payload.
 *   PING   stream 0, payload u64 (echoed in PONG)       PONG  stream 0, payload u64
 *   OPEN   stream != 0, payload u16 destination port != 0 (client to server only)
 *   DATA   stream != 0, payload 1..KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX bytes
 *   FIN    stream != 0, empty: the sender will send no more DATA on the stream (half-close)
 *   RESET  stream != 0, empty: the stream is gone in both directions
 *   WINDOW stream != 0, payload u32 1..KUMO_OVERLAY_TUNNEL_WINDOW_BYTES: more bytes the
 *          receiver of this frame may send on the stream
 * Anything else (an unknown type, a length not the type's, a stream id 0 where one is needed
 * or not 0 where none is) is KUMO_EDECODE, and the tunnel is closed.
 */
#ifndef KUMO_OVERLAY_TUNNEL_WIRE_H
#define KUMO_OVERLAY_TUNNEL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "overlay/overlay.h"

#define KUMO_OVERLAY_TUNNEL_FRAME_HEADER 7u
#define KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX \
    (KUMO_OVERLAY_TUNNEL_FRAME_HEADER + KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX)
_Static_assert(KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX <= UINT16_MAX, "a payload length fits u16");
_Static_assert(KUMO_OVERLAY_TUNNEL_WINDOW_BYTES >= 4u * KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX,
               "a window holds several frames");

typedef enum kumo_overlay_tunnel_frame_type {
    KUMO_OVERLAY_TUNNEL_PING = 0,
    KUMO_OVERLAY_TUNNEL_PONG = 1,
    KUMO_OVERLAY_TUNNEL_OPEN = 2,
    KUMO_OVERLAY_TUNNEL_DATA = 3,
    KUMO_OVERLAY_TUNNEL_FIN = 4,
    KUMO_OVERLAY_TUNNEL_RESET = 5,
    KUMO_OVERLAY_TUNNEL_WINDOW = 6,
    KUMO_OVERLAY_TUNNEL_FRAME_TYPE_COUNT = 7,
} kumo_overlay_tunnel_frame_type_t;

typedef struct kumo_overlay_tunnel_frame {
    kumo_overlay_tunnel_frame_type_t type;
    uint32_t stream_id;
    uint16_t port;         /* OPEN */
    uint32_t window_bytes; /* WINDOW */
    uint64_t ping;         /* PING, PONG */
    kumo_bytes_t data;     /* DATA: borrowed from the input */
} kumo_overlay_tunnel_frame_t;

/* Checks a header: sets f's type and stream id and *payload_len. KUMO_EDECODE for anything
 * the table above does not allow, KUMO_ELIMIT for a DATA payload over the max. */
KUMO_MUST_USE int
kumo_overlay_tunnel_frame_header(const uint8_t hdr[KUMO_OVERLAY_TUNNEL_FRAME_HEADER],
                                 kumo_overlay_tunnel_frame_t *f,
                                 size_t *payload_len,
                                 kumo_err_ctx_t *err);
/* Decodes the first frame of in: 0 with *used its length, or 0 with *used 0 when in holds
 * only part of a (so far valid) frame. Errors as kumo_overlay_tunnel_frame_header, and
 * KUMO_EDECODE for a payload out of range (port 0, window 0 or over the max). */
KUMO_MUST_USE int kumo_overlay_tunnel_frame_decode(kumo_bytes_t in,
                                                   kumo_overlay_tunnel_frame_t *f,
                                                   size_t *used,
                                                   kumo_err_ctx_t *err);
/* Encodes f into out (cap bytes); KUMO_ELIMIT if it does not fit, KUMO_EINVAL for a frame the
 * decoder would refuse. */
KUMO_MUST_USE int kumo_overlay_tunnel_frame_encode(const kumo_overlay_tunnel_frame_t *f,
                                                   uint8_t *out,
                                                   size_t cap,
                                                   size_t *len_out);

#endif
