/*
 * fuzz_p2p_frame.c - the p2p wire decoders: a frame header is accepted only within its
 * channel's limit; a HELLO that decodes re-encodes to the same bytes; a peer address
 * ("id@host:port") that parses has a 20-byte id and a bounded, NUL-terminated address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2p/p2p_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= KUMO_P2P_FRAME_HEADER) {
        uint8_t channel = 0;
        size_t len = 0;
        if (kumo_p2p_frame_header_check(data, &channel, &len, NULL) == 0 &&
            (len > kumo_p2p_channel_bytes_max(channel) || channel >= KUMO_P2P_CH_COUNT)) {
            abort();
        }
    }
    char text[KUMO_P2P_ADDR_BYTES_MAX + KUMO_TLS_NODE_ID_HEX + 8];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    kumo_p2p_peer_addr_t pa;
    if (kumo_p2p_peer_addr_parse(text, &pa, NULL) == 0 &&
        (memchr(pa.host_port, 0, sizeof(pa.host_port)) == NULL ||
         text[KUMO_TLS_NODE_ID_HEX] != '@')) {
        abort();
    }
    kumo_p2p_hello_t h;
    if (kumo_p2p_hello_decode(kumo_bytes_make(data, size), &h, NULL) != 0) {
        return 0;
    }
    uint8_t out[KUMO_P2P_HELLO_BYTES_MAX];
    size_t len = 0;
    if (kumo_p2p_hello_encode(&h, out, sizeof(out), &len) != 0 || len != size ||
        memcmp(out, data, size) != 0) {
        abort(); /* accepted input must re-encode to the same bytes */
    }
    return 0;
}
