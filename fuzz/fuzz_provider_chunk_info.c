/*
 * fuzz_provider_chunk_info.c - what a peer provider answers on the chunk routes, over
 * arbitrary bytes: GET .../manifest-info (kumo_provider_chunk_info_parse) is refused or gives
 * a consistent answer (chunk_count is that of total_bytes, chunks_held at most chunk_count)
 * that re-encodes and parses to the same; GET .../manifest-chunk
 * (kumo_provider_chunk_reply_split, for an index and count taken from the input) is refused
 * or split into a proof of exactly the documented length and a chunk within the chunk size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider_api.h"

static void fz_info(const uint8_t *data, size_t size)
{
    kumo_provider_chunk_info_t info;
    if (kumo_provider_chunk_info_parse(kumo_bytes_make(data, size), &info, NULL) != 0) {
        return;
    }
    uint32_t count = 0;
    if (kumo_crypto_merkle_chunk_count(info.total_bytes, &count) != 0 ||
        count != info.chunk_count || info.chunks_held > info.chunk_count) {
        abort();
    }
    json_t *j = kumo_provider_chunk_info_json(&info);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        abort();
    }
    kumo_provider_chunk_info_t again;
    if (kumo_provider_chunk_info_parse(kumo_bytes_make(text, strlen(text)), &again, NULL) != 0 ||
        memcmp(&info, &again, sizeof(info)) != 0) {
        abort();
    }
    free(text);
}

static void fz_split(const uint8_t *data, size_t size)
{
    if (size < 4u) {
        return;
    }
    uint32_t index = (uint32_t)data[0] | (uint32_t)data[1] << 8;
    uint32_t count = (uint32_t)data[2] | (uint32_t)data[3] << 8;
    kumo_bytes_t proof;
    kumo_bytes_t chunk;
    kumo_bytes_t body = kumo_bytes_make(data + 4, size - 4u);
    if (kumo_provider_chunk_reply_split(body, index, count, &proof, &chunk, NULL) != 0) {
        return;
    }
    if (proof.len != (size_t)kumo_crypto_merkle_proof_count(index, count) * 32u ||
        chunk.len > KUMO_CRYPTO_MERKLE_CHUNK_BYTES || proof.len + chunk.len != body.len) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_info(data, size);
    fz_split(data, size);
    return 0;
}
