/*
 * crypto.h - Ed25519 (libsodium), SHA-256 (OpenSSL), addresses and the chunked Merkle root
 * used for manifest versions, and sealing (secrets). Pure except kumo_crypto_key_generate and
 * kumo_crypto_random_fill (the OS RNG).
 */
#ifndef KUMO_CRYPTO_CRYPTO_H
#define KUMO_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define KUMO_CRYPTO_PUBKEY_BYTES 32u
#define KUMO_CRYPTO_SECKEY_BYTES 64u
#define KUMO_CRYPTO_SEED_BYTES   32u
#define KUMO_CRYPTO_SIG_BYTES    64u
#define KUMO_CRYPTO_HASH_BYTES   32u
/* Manifest Merkle leaves are 256 KiB chunks. */
#define KUMO_CRYPTO_MERKLE_CHUNK_BYTES (256u * 1024u)

typedef struct kumo_crypto_keypair {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint8_t seckey[KUMO_CRYPTO_SECKEY_BYTES]; /* libsodium layout: seed || pubkey */
} kumo_crypto_keypair_t;

/* Initialises libsodium; call once at program start (not from pure code). KUMO_EIO if
 * sodium_init fails. Calling it again is harmless. */
KUMO_MUST_USE int kumo_crypto_init(void);

/* Random keypair from a fresh OS-RNG seed (not for pure modules). Always 0 today. The caller
 * wipes kp with kumo_crypto_key_wipe when done. */
KUMO_MUST_USE int kumo_crypto_key_generate(kumo_crypto_keypair_t *kp);
/* Deterministic keypair from a 32-byte seed (RFC 8032 secret key). */
void kumo_crypto_key_from_seed(const uint8_t seed[KUMO_CRYPTO_SEED_BYTES],
                               kumo_crypto_keypair_t *kp);
/* The 32-byte seed of a keypair (first half of seckey). */
void kumo_crypto_key_seed(const kumo_crypto_keypair_t *kp,
                          uint8_t seed_out[KUMO_CRYPTO_SEED_BYTES]);
/* Wipes the keypair (sodium_memzero). */
void kumo_crypto_key_wipe(kumo_crypto_keypair_t *kp);

/* Deterministic Ed25519 signature of msg (RFC 8032). */
void kumo_crypto_sign(const kumo_crypto_keypair_t *kp,
                      kumo_bytes_t msg,
                      uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES]);
/* True only for a valid signature of msg under pubkey (rejects small-order/non-canonical). */
bool kumo_crypto_verify(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                        kumo_bytes_t msg,
                        const uint8_t sig[KUMO_CRYPTO_SIG_BYTES]);

/* SHA-256 of in (OpenSSL EVP). These one-shot forms cannot fail: if OpenSSL cannot allocate
 * its context they fall back to libsodium's SHA-256, which gives the same digest. */
void kumo_crypto_sha256(kumo_bytes_t in, uint8_t out[KUMO_CRYPTO_HASH_BYTES]);
/* SHA-256 of the concatenation of parts. */
void kumo_crypto_sha256_parts(const kumo_bytes_t *parts,
                              size_t part_count,
                              uint8_t out[KUMO_CRYPTO_HASH_BYTES]);

/* Incremental SHA-256 (for hashing write sets without concatenating them). An opaque wrapper
 * of an OpenSSL EVP_MD_CTX. begin returns KUMO_ENOMEM (OpenSSL error queue cleared) when the
 * context cannot be allocated; *out is set only on success. */
typedef struct kumo_crypto_sha256_ctx kumo_crypto_sha256_ctx_t;
KUMO_MUST_USE int kumo_crypto_sha256_begin(kumo_crypto_sha256_ctx_t **out);
void kumo_crypto_sha256_update(kumo_crypto_sha256_ctx_t *ctx, kumo_bytes_t in);
/* Writes the digest and frees ctx. */
void kumo_crypto_sha256_end(kumo_crypto_sha256_ctx_t *ctx, uint8_t out[KUMO_CRYPTO_HASH_BYTES]);
/* Frees ctx without producing a digest (for cleanup paths); NULL is a no-op. */
void kumo_crypto_sha256_free(kumo_crypto_sha256_ctx_t *ctx);

/* address = first 20 bytes of SHA-256(pubkey). */
void kumo_crypto_address_from_pubkey(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                     uint8_t addr_out[KUMO_ADDRESS_BYTES]);

/* Merkle root over 256 KiB chunks of data. Leaf = SHA-256(0x00 || chunk), node =
 * SHA-256(0x01 || left || right); an odd node is promoted unchanged; empty data has one empty
 * leaf. KUMO_ENOMEM on allocation failure (the current implementation folds on the stack and
 * never allocates, so it returns 0). */
KUMO_MUST_USE int kumo_crypto_merkle_root(kumo_bytes_t data,
                                          uint8_t root_out[KUMO_CRYPTO_HASH_BYTES]);
/* Leaf hash of one chunk of at most KUMO_CRYPTO_MERKLE_CHUNK_BYTES. */
void kumo_crypto_merkle_leaf_hash(kumo_bytes_t chunk, uint8_t out[KUMO_CRYPTO_HASH_BYTES]);
/* Node hash of two children; out may alias left or right. */
void kumo_crypto_merkle_node_hash(const uint8_t left[KUMO_CRYPTO_HASH_BYTES],
                                  const uint8_t right[KUMO_CRYPTO_HASH_BYTES],
                                  uint8_t out[KUMO_CRYPTO_HASH_BYTES]);

/* A manifest has at most 2^32 - 1 chunks, so a proof holds at most 32 hashes (one per level). */
#define KUMO_CRYPTO_MERKLE_PROOF_COUNT_MAX 32u
#define KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX \
    (KUMO_CRYPTO_MERKLE_PROOF_COUNT_MAX * KUMO_CRYPTO_HASH_BYTES)

/* Leaves of the tree over total_bytes of data: ceil(total / 256 KiB), and 1 for empty data.
 * KUMO_ELIMIT when that is over UINT32_MAX. */
KUMO_MUST_USE int kumo_crypto_merkle_chunk_count(uint64_t total_bytes, uint32_t *count_out);
/* Hashes in the inclusion proof of leaf index of a tree of count leaves: one per level where
 * the leaf's ancestor has a sibling (an odd last node has none). index < count. */
uint32_t kumo_crypto_merkle_proof_count(uint32_t index, uint32_t count);
/* The inclusion proof of leaf index, from every leaf hash of the tree (leaf_hashes: count
 * hashes of 32 bytes back to back, count >= 1): the sibling hashes from the leaf up to the
 * root, kumo_crypto_merkle_proof_count(index, count) of them, written to proof_out (at least
 * KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX bytes); *proof_len_out gets their length in bytes.
 * Folds on the stack: O(count) hashes, no allocation. KUMO_EINVAL when index >= count or
 * leaf_hashes is not count hashes long. */
KUMO_MUST_USE int kumo_crypto_merkle_proof_build(kumo_bytes_t leaf_hashes,
                                                 uint32_t count,
                                                 uint32_t index,
                                                 uint8_t *proof_out,
                                                 size_t *proof_len_out);
/* Checks that chunk is leaf index of the tree of count leaves whose root is root, given its
 * proof as built by kumo_crypto_merkle_proof_build. Every chunk but the last must be exactly
 * KUMO_CRYPTO_MERKLE_CHUNK_BYTES long, the last 1..KUMO_CRYPTO_MERKLE_CHUNK_BYTES (0 only
 * when count == 1). Codes: KUMO_EINVAL (count 0, index >= count), KUMO_ELIMIT (chunk over the
 * chunk size), KUMO_EDECODE (proof not exactly proof_count hashes long), KUMO_EMISMATCH (a
 * chunk length the position forbids, or the implied root is not root). Pure. */
KUMO_MUST_USE int kumo_crypto_merkle_proof_verify(const uint8_t root[KUMO_CRYPTO_HASH_BYTES],
                                                  uint32_t index,
                                                  uint32_t count,
                                                  kumo_bytes_t chunk,
                                                  kumo_bytes_t proof,
                                                  kumo_err_ctx_t *err);

/* ---- sealed secrets (docs/design.md "Sealed secrets") ----
 * A group key K (32 bytes) is sealed to a provider's account key: crypto_box_seal to the
 * X25519 form of its Ed25519 public key, byte-compatible with libsodium's crypto_box_seal_open.
 * A value is XChaCha20-Poly1305 under K with a 24-byte nonce and associated data. Randomness
 * (K, nonces, the sealing's ephemeral key) comes in through a kumo_crypto_rng_t, so these
 * functions stay pure; kumo_crypto_rng_os is the OS RNG for programs (not for pure modules). */
#define KUMO_CRYPTO_SEAL_KEY_BYTES   32u
#define KUMO_CRYPTO_SEAL_NONCE_BYTES 24u
#define KUMO_CRYPTO_SEAL_TAG_BYTES   16u
#define KUMO_CRYPTO_SEALED_KEY_BYTES 80u /* ephemeral public key, boxed key, tag */

typedef struct kumo_crypto_rng {
    void *ctx;
    /* Fills out with len random bytes; cannot fail. */
    void (*fill_cb)(void *ctx, uint8_t *out, size_t len);
} kumo_crypto_rng_t;

/* Random bytes from the OS (libsodium's randombytes_buf); not for pure modules. */
void kumo_crypto_random_fill(void *ctx, uint8_t *out, size_t len);

/* Seals key to the holder of the Ed25519 public key pubkey: out = epk || box(key) with an
 * ephemeral X25519 key drawn from rng, as crypto_box_seal. KUMO_EINVAL when pubkey has no
 * X25519 form (not a valid point). Pure apart from rng. */
KUMO_MUST_USE int kumo_crypto_seal_key_wrap(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                            const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                                            const kumo_crypto_rng_t *rng,
                                            uint8_t out[KUMO_CRYPTO_SEALED_KEY_BYTES]);
/* Opens a sealed key with the account keypair kp (its X25519 form). KUMO_EMISMATCH when it
 * was not sealed to kp or was altered; key_out is then zeroed. Wipes the X25519 secret. */
KUMO_MUST_USE int kumo_crypto_seal_key_open(const kumo_crypto_keypair_t *kp,
                                            const uint8_t sealed[KUMO_CRYPTO_SEALED_KEY_BYTES],
                                            uint8_t key_out[KUMO_CRYPTO_SEAL_KEY_BYTES]);
/* XChaCha20-Poly1305 of plain under key with nonce and associated data ad: writes plain.len +
 * KUMO_CRYPTO_SEAL_TAG_BYTES bytes to out. Pure. */
void kumo_crypto_seal_value_encrypt(const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                                    const uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES],
                                    kumo_bytes_t ad,
                                    kumo_bytes_t plain,
                                    uint8_t *out);
/* Decrypts and authenticates cipher (at least KUMO_CRYPTO_SEAL_TAG_BYTES long, else
 * KUMO_EINVAL): writes cipher.len - KUMO_CRYPTO_SEAL_TAG_BYTES bytes to out. KUMO_EMISMATCH
 * (out zeroed) when key, nonce, ad or cipher do not match. Pure. */
KUMO_MUST_USE int kumo_crypto_seal_value_open(const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                                              const uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES],
                                              kumo_bytes_t ad,
                                              kumo_bytes_t cipher,
                                              uint8_t *out);
/* Zeroes len bytes at p in a way the compiler keeps (sodium_memzero). */
void kumo_crypto_wipe(void *p, size_t len);

#endif
