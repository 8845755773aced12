/*
 * fuzz_node_parts.c - consensus part reassembly over arbitrary frames: the input is split
 * into frames by a length byte and fed in order; a completed message always hashes to its
 * id and never exceeds the consensus message bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/cons_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static node_cons_t nc;
    size_t off = 0;
    while (off < size) {
        size_t len = data[off++];
        len = len * 8u < size - off ? len * 8u : size - off;
        kumo_buf_t whole;
        kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
        if (node_parts_recv(&nc, kumo_bytes_make(data + off, len), &whole, NULL) == 0 &&
            whole.len > 0) {
            uint8_t h[KUMO_CRYPTO_HASH_BYTES];
            kumo_crypto_sha256(kumo_buf_bytes(&whole), h);
            if (memcmp(h, data + off + 1, sizeof(h)) != 0 ||
                whole.len > KUMO_CONSENSUS_MSG_BYTES_MAX) {
                abort();
            }
        }
        kumo_buf_free(&whole);
        off += len;
    }
    node_parts_free(&nc);
    return 0;
}
