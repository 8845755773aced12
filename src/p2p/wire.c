/*
 * wire.c - p2p frame headers and the HELLO (p2p_wire.h). Pure and bounded.
 */
#include <string.h>

#include "p2p/p2p_wire.h"

size_t kumo_p2p_channel_bytes_max(uint8_t channel)
{
    switch (channel) {
    case KUMO_P2P_CH_HELLO:
        return KUMO_P2P_HELLO_BYTES_MAX;
    case KUMO_P2P_CH_CONSENSUS:
        return 4u * 1024u * 1024u + 1024u;
    case KUMO_P2P_CH_MEMPOOL:
        return 1024u * 1024u;
    case KUMO_P2P_CH_BLOCKSYNC:
        return KUMO_P2P_PAYLOAD_BYTES_MAX;
    case KUMO_P2P_CH_EVIDENCE:
        return 64u * 1024u;
    default:
        return 0;
    }
}

int kumo_p2p_frame_header_check(const uint8_t hdr[KUMO_P2P_FRAME_HEADER],
                                uint8_t *channel,
                                size_t *payload_len,
                                kumo_err_ctx_t *err)
{
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    KUMO_ENSURE(len >= 1u, err, KUMO_EDECODE, "empty frame");
    size_t max = kumo_p2p_channel_bytes_max(hdr[4]);
    KUMO_ENSURE(max > 0, err, KUMO_EDECODE, "unknown channel %u", hdr[4]);
    KUMO_ENSURE(len - 1u <= max, err, KUMO_ELIMIT, "frame of %u bytes on channel %u", len, hdr[4]);
    *channel = hdr[4];
    *payload_len = len - 1u;
    return 0;
}

int kumo_p2p_hello_encode(const kumo_p2p_hello_t *h, uint8_t *out, size_t cap, size_t *len_out)
{
    kumo_writer_t w;
    kumo_writer_init(&w, out, cap);
    KUMO_GUARD(kumo_writer_write_u8(&w, h->version));
    KUMO_GUARD(kumo_writer_write_prefixed(&w, kumo_bytes_make(h->chain_id, strlen(h->chain_id))));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(h->id, KUMO_TLS_NODE_ID_BYTES)));
    KUMO_GUARD(kumo_writer_write_prefixed(&w, kumo_bytes_make(h->listen, strlen(h->listen))));
    *len_out = kumo_writer_bytes(&w).len;
    return 0;
}

/* A prefixed text field into out (cap includes the NUL). */
static int
hello_text(kumo_reader_t *r, char *out, size_t cap, const char *what, kumo_err_ctx_t *err)
{
    kumo_bytes_t b;
    KUMO_ENSURE(kumo_reader_read_prefixed(r, cap - 1u, &b) == 0, err, KUMO_EDECODE, "hello: bad %s",
                what);
    KUMO_ENSURE(memchr(b.ptr, 0, b.len) == NULL, err, KUMO_EDECODE, "hello: NUL in %s", what);
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    return 0;
}

int kumo_p2p_hello_decode(kumo_bytes_t in, kumo_p2p_hello_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(in.len <= KUMO_P2P_HELLO_BYTES_MAX, err, KUMO_ELIMIT, "hello of %zu bytes", in.len);
    memset(out, 0, sizeof(*out));
    kumo_reader_t r;
    kumo_reader_init(&r, in);
    KUMO_ENSURE(kumo_reader_read_u8(&r, &out->version) == 0, err, KUMO_EDECODE, "hello: short");
    KUMO_GUARD(hello_text(&r, out->chain_id, sizeof(out->chain_id), "chain id", err));
    kumo_bytes_t id;
    KUMO_ENSURE(kumo_reader_read_fixed(&r, KUMO_TLS_NODE_ID_BYTES, &id) == 0, err, KUMO_EDECODE,
                "hello: short id");
    memcpy(out->id, id.ptr, KUMO_TLS_NODE_ID_BYTES);
    KUMO_GUARD(hello_text(&r, out->listen, sizeof(out->listen), "listen address", err));
    KUMO_ENSURE(kumo_reader_finish(&r) == 0, err, KUMO_EDECODE, "hello: trailing bytes");
    return 0;
}
