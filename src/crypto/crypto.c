/*
 * crypto.c - Ed25519 signatures (libsodium), SHA-256 (OpenSSL 3 EVP), addresses, the
 * chunked Merkle root used for manifest versions, and sealing (crypto_box_seal of a key to an
 * account key's X25519 form, XChaCha20-Poly1305 values under it) for sealed secrets.
 *
 * Owns no state: every function works on its arguments only. Pure except kumo_crypto_init
 * (sodium_init), kumo_crypto_key_generate and kumo_crypto_random_fill (the OS RNG): no file
 * I/O, no clock, no logging, no mutable globals; sealing takes its randomness from the
 * caller's kumo_crypto_rng_t. Specs: RFC 8032 (Ed25519), FIPS 180-4 (SHA-256), crypto.h
 * (Merkle rule), libsodium's sealed boxes and AEAD.
 */
#include "crypto/crypto.h"

#include <inttypes.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "core/core.h"

_Static_assert(KUMO_CRYPTO_PUBKEY_BYTES == crypto_sign_PUBLICKEYBYTES, "pubkey size");
_Static_assert(KUMO_CRYPTO_SECKEY_BYTES == crypto_sign_SECRETKEYBYTES, "seckey size");
_Static_assert(KUMO_CRYPTO_SEED_BYTES == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(KUMO_CRYPTO_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(KUMO_CRYPTO_HASH_BYTES == crypto_hash_sha256_BYTES, "sha256 size (libsodium)");
_Static_assert(KUMO_CRYPTO_HASH_BYTES == 32u, "sha256 size");
_Static_assert(KUMO_ADDRESS_BYTES <= KUMO_CRYPTO_HASH_BYTES, "an address is a hash prefix");
_Static_assert(KUMO_VERSION_BYTES == KUMO_CRYPTO_HASH_BYTES, "a version is a Merkle root");
_Static_assert(KUMO_CRYPTO_SEED_BYTES + KUMO_CRYPTO_PUBKEY_BYTES == KUMO_CRYPTO_SECKEY_BYTES,
               "libsodium seckey layout is seed || pubkey");

/* Domain-separation prefixes of the Merkle tree (crypto.h). */
#define MERKLE_LEAF_PREFIX 0x00u
#define MERKLE_NODE_PREFIX 0x01u
/* A size_t counts at most 2^64 leaves, so the fold stack never holds more than 64 + 1 hashes. */
#define MERKLE_STACK_COUNT_MAX 65u

struct kumo_crypto_sha256_ctx {
    EVP_MD_CTX *md;
};

static bool bytes_is_valid(kumo_bytes_t b)
{
    return b.ptr != NULL || b.len == 0;
}

int kumo_crypto_init(void)
{
    /* sodium_init returns 1 when already initialised, which is fine. */
    if (sodium_init() < 0) {
        return KUMO_EIO;
    }
    return 0;
}

int kumo_crypto_key_generate(kumo_crypto_keypair_t *kp)
{
    KUMO_ASSERT(kp != NULL);
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    randombytes_buf(seed, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
    sodium_memzero(seed, sizeof(seed));
    KUMO_ASSERT(sodium_is_zero(seed, sizeof(seed)) == 1);
    return 0;
}

void kumo_crypto_key_from_seed(const uint8_t seed[KUMO_CRYPTO_SEED_BYTES],
                               kumo_crypto_keypair_t *kp)
{
    KUMO_ASSERT(seed != NULL);
    KUMO_ASSERT(kp != NULL);
    int rc = crypto_sign_seed_keypair(kp->pubkey, kp->seckey, seed);
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(memcmp(kp->seckey + KUMO_CRYPTO_SEED_BYTES, kp->pubkey, KUMO_CRYPTO_PUBKEY_BYTES) ==
                0);
}

void kumo_crypto_key_seed(const kumo_crypto_keypair_t *kp, uint8_t seed_out[KUMO_CRYPTO_SEED_BYTES])
{
    KUMO_ASSERT(kp != NULL);
    KUMO_ASSERT(seed_out != NULL);
    /* libsodium stores seed || pubkey; crypto_sign_ed25519_sk_to_seed is the same copy. */
    memcpy(seed_out, kp->seckey, KUMO_CRYPTO_SEED_BYTES);
}

void kumo_crypto_key_wipe(kumo_crypto_keypair_t *kp)
{
    KUMO_ASSERT(kp != NULL);
    sodium_memzero(kp, sizeof(*kp));
    KUMO_ASSERT(sodium_is_zero(kp->seckey, sizeof(kp->seckey)) == 1);
}

void kumo_crypto_sign(const kumo_crypto_keypair_t *kp,
                      kumo_bytes_t msg,
                      uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES])
{
    KUMO_ASSERT(kp != NULL);
    KUMO_ASSERT(sig_out != NULL);
    KUMO_ASSERT(bytes_is_valid(msg));
    unsigned long long sig_len = 0;
    int rc = crypto_sign_detached(sig_out, &sig_len, msg.ptr, msg.len, kp->seckey);
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(sig_len == KUMO_CRYPTO_SIG_BYTES);
}

bool kumo_crypto_verify(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                        kumo_bytes_t msg,
                        const uint8_t sig[KUMO_CRYPTO_SIG_BYTES])
{
    KUMO_ASSERT(pubkey != NULL);
    KUMO_ASSERT(sig != NULL);
    KUMO_ASSERT(bytes_is_valid(msg));
    /* libsodium 1.0.18 rejects small-order and non-canonical keys, non-canonical S and
     * small-order R, so one message has no malleated second signature. */
    return crypto_sign_verify_detached(sig, msg.ptr, msg.len, pubkey) == 0;
}

/* Hashes the concatenation of parts with OpenSSL. False (queue cleared) if OpenSSL failed,
 * which for SHA-256 only happens when it cannot allocate. */
static bool
sha256_parts_evp(const kumo_bytes_t *parts, size_t part_count, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        ERR_clear_error();
        return false;
    }
    bool ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < part_count; i++) {
        ok = EVP_DigestUpdate(md, parts[i].ptr, parts[i].len) == 1;
    }
    /* out is written only on success, so a caller's fallback still sees its inputs intact. */
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (ok) {
        ok = EVP_DigestFinal_ex(md, digest, &digest_len) == 1 &&
             digest_len == KUMO_CRYPTO_HASH_BYTES;
    }
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        return false;
    }
    memcpy(out, digest, KUMO_CRYPTO_HASH_BYTES);
    return true;
}

/* The same digest with libsodium, which uses no heap and cannot fail. */
static void sha256_parts_sodium(const kumo_bytes_t *parts,
                                size_t part_count,
                                uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    int rc = crypto_hash_sha256_init(&st);
    KUMO_ASSERT(rc == 0);
    for (size_t i = 0; i < part_count; i++) {
        rc = crypto_hash_sha256_update(&st, parts[i].ptr, parts[i].len);
        KUMO_ASSERT(rc == 0);
    }
    rc = crypto_hash_sha256_final(&st, out);
    KUMO_ASSERT(rc == 0);
}

void kumo_crypto_sha256_parts(const kumo_bytes_t *parts,
                              size_t part_count,
                              uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(parts != NULL || part_count == 0);
    KUMO_ASSERT(out != NULL);
    for (size_t i = 0; i < part_count; i++) {
        KUMO_ASSERT(bytes_is_valid(parts[i]));
    }
    /* These functions cannot return an error, and OpenSSL's only failure here is running out of
     * memory for its context. Rather than abort a node over that, fall back to libsodium's
     * FIPS 180-4 implementation, which gives the same digest without touching the heap. */
    if (!sha256_parts_evp(parts, part_count, out)) {
        sha256_parts_sodium(parts, part_count, out);
    }
}

void kumo_crypto_sha256(kumo_bytes_t in, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(bytes_is_valid(in));
    KUMO_ASSERT(out != NULL);
    kumo_crypto_sha256_parts(&in, 1, out);
}

int kumo_crypto_sha256_begin(kumo_crypto_sha256_ctx_t **out)
{
    KUMO_ASSERT(out != NULL);
    kumo_crypto_sha256_ctx_t *ctx = kumo_calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return KUMO_ENOMEM;
    }
    ctx->md = EVP_MD_CTX_new();
    if (ctx->md == NULL) {
        goto out_free_ctx;
    }
    /* For SHA-256 from the default provider, init fails only when it cannot allocate. */
    if (EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
        goto out_free_md;
    }
    *out = ctx;
    KUMO_ASSERT(*out != NULL);
    return 0;

out_free_md:
    EVP_MD_CTX_free(ctx->md);
out_free_ctx:
    ERR_clear_error();
    kumo_free(ctx);
    return KUMO_ENOMEM;
}

void kumo_crypto_sha256_update(kumo_crypto_sha256_ctx_t *ctx, kumo_bytes_t in)
{
    KUMO_ASSERT(ctx != NULL && ctx->md != NULL);
    KUMO_ASSERT(bytes_is_valid(in));
    /* After a successful init, SHA-256 update only fails past 2^64 bits of input. */
    int rc = EVP_DigestUpdate(ctx->md, in.ptr, in.len);
    KUMO_ASSERT(rc == 1);
}

void kumo_crypto_sha256_end(kumo_crypto_sha256_ctx_t *ctx, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(ctx != NULL && ctx->md != NULL);
    KUMO_ASSERT(out != NULL);
    unsigned int out_len = 0;
    int rc = EVP_DigestFinal_ex(ctx->md, out, &out_len);
    KUMO_ASSERT(rc == 1);
    KUMO_ASSERT(out_len == KUMO_CRYPTO_HASH_BYTES);
    kumo_crypto_sha256_free(ctx);
}

void kumo_crypto_sha256_free(kumo_crypto_sha256_ctx_t *ctx)
{
    if (ctx == NULL) {
        return;
    }
    KUMO_ASSERT(ctx->md != NULL);
    EVP_MD_CTX_free(ctx->md);
    kumo_free(ctx);
}

void kumo_crypto_address_from_pubkey(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                     uint8_t addr_out[KUMO_ADDRESS_BYTES])
{
    KUMO_ASSERT(pubkey != NULL);
    KUMO_ASSERT(addr_out != NULL);
    uint8_t digest[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(pubkey, KUMO_CRYPTO_PUBKEY_BYTES), digest);
    memcpy(addr_out, digest, KUMO_ADDRESS_BYTES);
}

void kumo_crypto_merkle_leaf_hash(kumo_bytes_t chunk, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(bytes_is_valid(chunk));
    KUMO_ASSERT(chunk.len <= KUMO_CRYPTO_MERKLE_CHUNK_BYTES);
    const uint8_t prefix = MERKLE_LEAF_PREFIX;
    const kumo_bytes_t parts[2] = {kumo_bytes_make(&prefix, 1), chunk};
    kumo_crypto_sha256_parts(parts, 2, out);
}

void kumo_crypto_merkle_node_hash(const uint8_t left[KUMO_CRYPTO_HASH_BYTES],
                                  const uint8_t right[KUMO_CRYPTO_HASH_BYTES],
                                  uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(left != NULL);
    KUMO_ASSERT(right != NULL);
    KUMO_ASSERT(out != NULL);
    const uint8_t prefix = MERKLE_NODE_PREFIX;
    const kumo_bytes_t parts[3] = {
        kumo_bytes_make(&prefix, 1),
        kumo_bytes_make(left, KUMO_CRYPTO_HASH_BYTES),
        kumo_bytes_make(right, KUMO_CRYPTO_HASH_BYTES),
    };
    /* The digest is written only after every part was read, so out may alias left or right. */
    kumo_crypto_sha256_parts(parts, 3, out);
}

int kumo_crypto_merkle_root(kumo_bytes_t data, uint8_t root_out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(bytes_is_valid(data));
    KUMO_ASSERT(root_out != NULL);
    /* Pairing each level from the left and promoting an odd last node gives the same tree as
     * folding perfect subtrees (one per set bit of the leaf count) from the right, so a stack of
     * one hash per level replaces an array of every leaf hash: no allocation, O(log n) memory.
     * tests/unit/crypto/test_crypto.c checks this against the level-by-level rule. */
    uint8_t stack[MERKLE_STACK_COUNT_MAX][KUMO_CRYPTO_HASH_BYTES];
    size_t depth = 0;
    size_t leaf_count = 0;
    size_t pos = 0;
    do {
        size_t left_len = data.len - pos;
        size_t chunk_len =
            left_len < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? left_len : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        /* Empty data may come as a NULL slice, and NULL + 0 is undefined behaviour. */
        const uint8_t *chunk_ptr = pos == 0 ? data.ptr : data.ptr + pos;
        KUMO_ASSERT(depth < MERKLE_STACK_COUNT_MAX);
        kumo_crypto_merkle_leaf_hash(kumo_bytes_make(chunk_ptr, chunk_len), stack[depth]);
        depth++;
        pos += chunk_len;
        leaf_count++;
        /* Each trailing zero bit of leaf_count completes one perfect subtree. */
        for (size_t k = leaf_count; (k & 1u) == 0; k >>= 1) {
            KUMO_ASSERT(depth >= 2);
            kumo_crypto_merkle_node_hash(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
            depth--;
        }
    } while (pos < data.len);
    while (depth > 1) {
        kumo_crypto_merkle_node_hash(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
        depth--;
    }
    KUMO_ASSERT(depth == 1);
    KUMO_ASSERT(pos == data.len);
    memcpy(root_out, stack[0], KUMO_CRYPTO_HASH_BYTES);
    return 0;
}

/* ---- inclusion proofs ---- */

int kumo_crypto_merkle_chunk_count(uint64_t total_bytes, uint32_t *count_out)
{
    KUMO_ASSERT(count_out != NULL);
    uint64_t count = total_bytes / KUMO_CRYPTO_MERKLE_CHUNK_BYTES +
                     (total_bytes % KUMO_CRYPTO_MERKLE_CHUNK_BYTES != 0 ? 1u : 0u);
    count = count == 0 ? 1u : count;
    if (count > UINT32_MAX) {
        return KUMO_ELIMIT;
    }
    *count_out = (uint32_t)count;
    KUMO_ASSERT(*count_out >= 1u);
    return 0;
}

/* Nodes of the level above a level of n (an odd last node moves up alone). */
static uint32_t merkle_level_up(uint32_t n)
{
    return n / 2u + n % 2u;
}

uint32_t kumo_crypto_merkle_proof_count(uint32_t index, uint32_t count)
{
    KUMO_ASSERT(index < count);
    uint32_t hashes = 0;
    for (uint32_t n = count; n > 1u; n = merkle_level_up(n)) {
        hashes += (index ^ 1u) < n ? 1u : 0u;
        index /= 2u;
    }
    KUMO_ASSERT(hashes <= KUMO_CRYPTO_MERKLE_PROOF_COUNT_MAX);
    return hashes;
}

/* The hash of the node covering leaves [from, to): pairing from the left and promoting an odd
 * node means the node at level l, position j covers exactly leaves [j * 2^l, min((j + 1) * 2^l,
 * count)), whose root the same right-fold as kumo_crypto_merkle_root gives. */
static void merkle_range_root(const uint8_t *leaf_hashes,
                              uint64_t from,
                              uint64_t to,
                              uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(from < to);
    uint8_t stack[MERKLE_STACK_COUNT_MAX][KUMO_CRYPTO_HASH_BYTES];
    size_t depth = 0;
    for (uint64_t i = from; i < to; i++) {
        KUMO_ASSERT(depth < MERKLE_STACK_COUNT_MAX);
        memcpy(stack[depth], leaf_hashes + i * KUMO_CRYPTO_HASH_BYTES, KUMO_CRYPTO_HASH_BYTES);
        depth++;
        for (uint64_t k = i - from + 1u; (k & 1u) == 0; k >>= 1) {
            kumo_crypto_merkle_node_hash(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
            depth--;
        }
    }
    while (depth > 1) {
        kumo_crypto_merkle_node_hash(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
        depth--;
    }
    KUMO_ASSERT(depth == 1);
    memcpy(out, stack[0], KUMO_CRYPTO_HASH_BYTES);
}

int kumo_crypto_merkle_proof_build(kumo_bytes_t leaf_hashes,
                                   uint32_t count,
                                   uint32_t index,
                                   uint8_t *proof_out,
                                   size_t *proof_len_out)
{
    KUMO_ASSERT(bytes_is_valid(leaf_hashes));
    KUMO_ASSERT(proof_out != NULL && proof_len_out != NULL);
    *proof_len_out = 0;
    if (index >= count || leaf_hashes.len / KUMO_CRYPTO_HASH_BYTES != count ||
        leaf_hashes.len % KUMO_CRYPTO_HASH_BYTES != 0) {
        return KUMO_EINVAL;
    }
    size_t len = 0;
    uint32_t level = 0;
    for (uint32_t n = count; n > 1u; n = merkle_level_up(n)) {
        uint32_t sibling = (index >> level) ^ 1u;
        if (sibling < n) {
            uint64_t from = (uint64_t)sibling << level;
            uint64_t to = ((uint64_t)sibling + 1u) << level;
            KUMO_ASSERT(len + KUMO_CRYPTO_HASH_BYTES <= KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX);
            merkle_range_root(leaf_hashes.ptr, from, to < count ? to : count, proof_out + len);
            len += KUMO_CRYPTO_HASH_BYTES;
        }
        level++;
    }
    KUMO_ASSERT(len ==
                (size_t)kumo_crypto_merkle_proof_count(index, count) * KUMO_CRYPTO_HASH_BYTES);
    *proof_len_out = len;
    return 0;
}

/* Whether a chunk of len bytes may sit at index of count (all full but the last). */
static bool merkle_chunk_len_fits(uint32_t index, uint32_t count, size_t len)
{
    if (index + 1u < count) {
        return len == KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    }
    return len > 0 || count == 1u;
}

int kumo_crypto_merkle_proof_verify(const uint8_t root[KUMO_CRYPTO_HASH_BYTES],
                                    uint32_t index,
                                    uint32_t count,
                                    kumo_bytes_t chunk,
                                    kumo_bytes_t proof,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(root != NULL);
    KUMO_ASSERT(bytes_is_valid(chunk) && bytes_is_valid(proof));
    KUMO_ENSURE(count >= 1u && index < count, err, KUMO_EINVAL, "chunk %" PRIu32 " of %" PRIu32,
                index, count);
    KUMO_ENSURE(chunk.len <= KUMO_CRYPTO_MERKLE_CHUNK_BYTES, err, KUMO_ELIMIT,
                "chunk of %zu bytes over %u", chunk.len, KUMO_CRYPTO_MERKLE_CHUNK_BYTES);
    uint32_t hashes = kumo_crypto_merkle_proof_count(index, count);
    KUMO_ENSURE(proof.len == (size_t)hashes * KUMO_CRYPTO_HASH_BYTES, err, KUMO_EDECODE,
                "proof of %zu bytes, want %" PRIu32 " hashes", proof.len, hashes);
    KUMO_ENSURE(merkle_chunk_len_fits(index, count, chunk.len), err, KUMO_EMISMATCH,
                "chunk %" PRIu32 " of %" PRIu32 " cannot be %zu bytes", index, count, chunk.len);
    uint8_t at[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_merkle_leaf_hash(chunk, at);
    size_t used = 0;
    uint32_t pos = index;
    for (uint32_t n = count; n > 1u; n = merkle_level_up(n)) {
        if ((pos & 1u) == 1u) {
            kumo_crypto_merkle_node_hash(proof.ptr + used, at, at);
            used += KUMO_CRYPTO_HASH_BYTES;
        } else if (pos + 1u < n) {
            kumo_crypto_merkle_node_hash(at, proof.ptr + used, at);
            used += KUMO_CRYPTO_HASH_BYTES;
        }
        pos /= 2u;
    }
    KUMO_ASSERT(used == proof.len);
    /* Not secret, but constant time costs nothing here. */
    KUMO_ENSURE(sodium_memcmp(at, root, KUMO_CRYPTO_HASH_BYTES) == 0, err, KUMO_EMISMATCH,
                "chunk %" PRIu32 " of %" PRIu32 " does not lead to the root", index, count);
    return 0;
}

/* ---- sealed secrets ---- */

_Static_assert(KUMO_CRYPTO_SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "seal key size");
_Static_assert(KUMO_CRYPTO_SEAL_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "seal nonce size");
_Static_assert(KUMO_CRYPTO_SEAL_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "seal tag size");
_Static_assert(KUMO_CRYPTO_SEALED_KEY_BYTES == crypto_box_SEALBYTES + KUMO_CRYPTO_SEAL_KEY_BYTES,
               "sealed key size");
_Static_assert(crypto_box_SEEDBYTES == 32u, "box seed size");

void kumo_crypto_random_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    KUMO_ASSERT(out != NULL || len == 0);
    randombytes_buf(out, len);
}

void kumo_crypto_wipe(void *p, size_t len)
{
    KUMO_ASSERT(p != NULL || len == 0);
    sodium_memzero(p, len);
}

int kumo_crypto_seal_key_wrap(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                              const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                              const kumo_crypto_rng_t *rng,
                              uint8_t out[KUMO_CRYPTO_SEALED_KEY_BYTES])
{
    KUMO_ASSERT(pubkey != NULL && key != NULL && out != NULL);
    KUMO_ASSERT(rng != NULL && rng->fill_cb != NULL);
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(xpk, pubkey) != 0) {
        return KUMO_EINVAL;
    }
    /* crypto_box_seal with the ephemeral key from rng: nonce = BLAKE2b-192(epk || pk). */
    uint8_t seed[crypto_box_SEEDBYTES];
    uint8_t esk[crypto_box_SECRETKEYBYTES];
    rng->fill_cb(rng->ctx, seed, sizeof(seed));
    int rc = crypto_box_seed_keypair(out, esk, seed);
    KUMO_ASSERT(rc == 0);
    uint8_t nonce[crypto_box_NONCEBYTES];
    crypto_generichash_state st;
    rc = crypto_generichash_init(&st, NULL, 0, sizeof(nonce));
    rc |= crypto_generichash_update(&st, out, crypto_box_PUBLICKEYBYTES);
    rc |= crypto_generichash_update(&st, xpk, sizeof(xpk));
    rc |= crypto_generichash_final(&st, nonce, sizeof(nonce));
    KUMO_ASSERT(rc == 0);
    rc = crypto_box_easy(out + crypto_box_PUBLICKEYBYTES, key, KUMO_CRYPTO_SEAL_KEY_BYTES, nonce,
                         xpk, esk);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(esk, sizeof(esk));
    /* A low-order point fails the box's shared-secret check: refuse, leave nothing behind. */
    if (rc != 0) {
        sodium_memzero(out, KUMO_CRYPTO_SEALED_KEY_BYTES);
        return KUMO_EINVAL;
    }
    return 0;
}

int kumo_crypto_seal_key_open(const kumo_crypto_keypair_t *kp,
                              const uint8_t sealed[KUMO_CRYPTO_SEALED_KEY_BYTES],
                              uint8_t key_out[KUMO_CRYPTO_SEAL_KEY_BYTES])
{
    KUMO_ASSERT(kp != NULL && sealed != NULL && key_out != NULL);
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    uint8_t xsk[crypto_box_SECRETKEYBYTES];
    int rc = crypto_sign_ed25519_pk_to_curve25519(xpk, kp->pubkey);
    if (rc == 0) {
        rc = crypto_sign_ed25519_sk_to_curve25519(xsk, kp->seckey);
    }
    if (rc == 0) {
        rc = crypto_box_seal_open(key_out, sealed, KUMO_CRYPTO_SEALED_KEY_BYTES, xpk, xsk);
    }
    sodium_memzero(xsk, sizeof(xsk));
    if (rc != 0) {
        sodium_memzero(key_out, KUMO_CRYPTO_SEAL_KEY_BYTES);
        return KUMO_EMISMATCH;
    }
    return 0;
}

void kumo_crypto_seal_value_encrypt(const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                                    const uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES],
                                    kumo_bytes_t ad,
                                    kumo_bytes_t plain,
                                    uint8_t *out)
{
    KUMO_ASSERT(key != NULL && nonce != NULL && out != NULL);
    KUMO_ASSERT(bytes_is_valid(ad) && bytes_is_valid(plain));
    unsigned long long len = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(out, &len, plain.ptr, plain.len, ad.ptr,
                                                        ad.len, NULL, nonce, key);
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(len == plain.len + KUMO_CRYPTO_SEAL_TAG_BYTES);
}

int kumo_crypto_seal_value_open(const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                                const uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES],
                                kumo_bytes_t ad,
                                kumo_bytes_t cipher,
                                uint8_t *out)
{
    KUMO_ASSERT(key != NULL && nonce != NULL);
    KUMO_ASSERT(bytes_is_valid(ad) && bytes_is_valid(cipher));
    if (cipher.len < KUMO_CRYPTO_SEAL_TAG_BYTES) {
        return KUMO_EINVAL;
    }
    KUMO_ASSERT(out != NULL || cipher.len == KUMO_CRYPTO_SEAL_TAG_BYTES);
    uint8_t empty = 0;
    uint8_t *dst = out != NULL ? out : &empty;
    unsigned long long len = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &len, NULL, cipher.ptr, cipher.len,
                                                        ad.ptr, ad.len, nonce, key);
    if (rc != 0) {
        sodium_memzero(dst, out != NULL ? cipher.len - KUMO_CRYPTO_SEAL_TAG_BYTES : 0);
        return KUMO_EMISMATCH;
    }
    KUMO_ASSERT(len == cipher.len - KUMO_CRYPTO_SEAL_TAG_BYTES);
    return 0;
}
