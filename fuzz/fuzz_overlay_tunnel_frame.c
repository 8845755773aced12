/*
 * fuzz_overlay_tunnel_frame.c - the tunnel frame decoder (src/overlay/tunnel_wire.h) over a
 * stream of frames: every frame it accepts is within its type's bounds and re-encodes to the
 * same bytes; it never reads past its input; a partial frame asks for more, never fails later
 * on the same prefix.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/tunnel_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        kumo_overlay_tunnel_frame_t f;
        size_t used = 0;
        if (kumo_overlay_tunnel_frame_decode(kumo_bytes_make(data + pos, size - pos), &f, &used,
                                             NULL) != 0 ||
            used == 0) {
            return 0;
        }
        if (used > size - pos || used > KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX ||
            (f.type == KUMO_OVERLAY_TUNNEL_DATA &&
             (f.data.len == 0 || f.data.len > KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX)) ||
            (f.type == KUMO_OVERLAY_TUNNEL_OPEN && f.port == 0) ||
            (f.type == KUMO_OVERLAY_TUNNEL_WINDOW &&
             (f.window_bytes == 0 || f.window_bytes > KUMO_OVERLAY_TUNNEL_WINDOW_BYTES))) {
            abort();
        }
        uint8_t out[KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX];
        size_t len = 0;
        if (kumo_overlay_tunnel_frame_encode(&f, out, sizeof(out), &len) != 0 || len != used ||
            memcmp(out, data + pos, used) != 0) {
            abort(); /* accepted input must re-encode to the same bytes */
        }
        pos += used;
    }
    return 0;
}
