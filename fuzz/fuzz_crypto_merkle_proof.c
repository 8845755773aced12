/*
 * fuzz_crypto_merkle_proof.c - libFuzzer target for Merkle inclusion proofs (crypto.h). The
 * input is u32 index || u32 count || u8 proof length in hashes || proof || chunk, checked
 * against a fixed root: kumo_crypto_merkle_proof_verify may refuse it with one of its
 * documented codes but must never crash, and never accepts it (the root is no tree's). The
 * input is also taken as leaf hashes: building any leaf's proof succeeds with exactly
 * kumo_crypto_merkle_proof_count hashes, and a chunk cut from the input always verifies as
 * the only leaf of its own root. Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

#define FZ_LEAF_COUNT_MAX 1024u

static uint32_t fz_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fz_verify_raw(const uint8_t *data, size_t size)
{
    if (size < 9u) {
        return;
    }
    static const uint8_t root[KUMO_CRYPTO_HASH_BYTES] = {0x6b, 0x75, 0x6d, 0x6f};
    uint32_t index = fz_u32(data);
    uint32_t count = fz_u32(data + 4);
    size_t proof_len = (size_t)data[8] * KUMO_CRYPTO_HASH_BYTES;
    size_t rest = size - 9u;
    proof_len = proof_len < rest ? proof_len : rest;
    kumo_bytes_t proof = kumo_bytes_make(data + 9, proof_len);
    kumo_bytes_t chunk = kumo_bytes_make(data + 9 + proof_len, rest - proof_len);
    kumo_err_ctx_t err = {0};
    int rc = kumo_crypto_merkle_proof_verify(root, index, count, chunk, proof, &err);
    if (rc != KUMO_EINVAL && rc != KUMO_ELIMIT && rc != KUMO_EDECODE && rc != KUMO_EMISMATCH) {
        abort();
    }
}

static void fz_build(const uint8_t *data, size_t size)
{
    size_t count = size / KUMO_CRYPTO_HASH_BYTES;
    if (count == 0 || count > FZ_LEAF_COUNT_MAX) {
        return;
    }
    uint32_t index = (uint32_t)(data[0] % count);
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
    size_t proof_len = 0;
    kumo_bytes_t leaves = kumo_bytes_make(data, count * KUMO_CRYPTO_HASH_BYTES);
    if (kumo_crypto_merkle_proof_build(leaves, (uint32_t)count, index, proof, &proof_len) != 0 ||
        proof_len != (size_t)kumo_crypto_merkle_proof_count(index, (uint32_t)count) *
                         KUMO_CRYPTO_HASH_BYTES) {
        abort();
    }
}

static void fz_single_leaf(const uint8_t *data, size_t size)
{
    size_t len = size < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? size : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    kumo_bytes_t chunk = kumo_bytes_make(data, len);
    if (kumo_crypto_merkle_root(chunk, root) != 0 ||
        kumo_crypto_merkle_proof_verify(root, 0, 1, chunk, kumo_bytes_make(NULL, 0), NULL) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_verify_raw(data, size);
    fz_build(data, size);
    fz_single_leaf(data, size);
    return 0;
}
