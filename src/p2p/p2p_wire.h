/*
 * p2p_wire.h - private to p2p: the frame header and the HELLO, as bounded decoders that
 * fuzz/fuzz_p2p_frame.c drives directly.
 *
 * Frame: u32 big-endian length of what follows (channel byte + payload) || u8 channel ||
 * payload. Channel 0 is the HELLO, only as the first frame of a connection:
 *   u8 protocol version || u32 len || chain id || 20 node id || u32 len || listen address.
 */
#ifndef KUMO_P2P_P2P_WIRE_H
#define KUMO_P2P_P2P_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "p2p/p2p.h"

#define KUMO_P2P_CH_HELLO     0u
#define KUMO_P2P_FRAME_HEADER 5u
/* The largest channel payload (block sync). */
#define KUMO_P2P_PAYLOAD_BYTES_MAX (8u * 1024u * 1024u)

typedef struct kumo_p2p_hello {
    uint8_t version;
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    char listen[KUMO_P2P_ADDR_BYTES_MAX];
} kumo_p2p_hello_t;

/* Checks a frame header (5 bytes): KUMO_EDECODE for a zero length or an unknown channel,
 * KUMO_ELIMIT for a payload over the channel's max. Sets *channel and *payload_len. */
KUMO_MUST_USE int kumo_p2p_frame_header_check(const uint8_t hdr[KUMO_P2P_FRAME_HEADER],
                                              uint8_t *channel,
                                              size_t *payload_len,
                                              kumo_err_ctx_t *err);
/* Encodes a HELLO payload into out (cap bytes); KUMO_ELIMIT if it does not fit. */
KUMO_MUST_USE int
kumo_p2p_hello_encode(const kumo_p2p_hello_t *h, uint8_t *out, size_t cap, size_t *len_out);
/* Strict decode: KUMO_EDECODE for short, trailing or over-long fields or text with NUL. */
KUMO_MUST_USE int
kumo_p2p_hello_decode(kumo_bytes_t in, kumo_p2p_hello_t *out, kumo_err_ctx_t *err);

#endif
