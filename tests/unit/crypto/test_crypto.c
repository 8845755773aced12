/*
 * test_crypto.c - proves Ed25519 matches RFC 8032 section 7.1 and rejects any flipped bit and a
 * small-order key, SHA-256 matches the FIPS 180-4 examples in one-shot, parts and incremental
 * form, the address is the 20-byte hash prefix, and the Merkle root follows the rule in
 * crypto.h. Merkle expectations are built here level by level with libsodium's SHA-256, so they
 * share no code with the library's stack fold over OpenSSL. Inclusion proofs are built from
 * those reference leaves for every chunk of trees of 1..40 chunks and must verify against the
 * library's root; each broken part of a proof (chunk, proof bytes, index, count, lengths) has its
 * own row and code.
 */
#include "helpers/testutil.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core.h"
#include "crypto/crypto.h"

#define CHUNK KUMO_CRYPTO_MERKLE_CHUNK_BYTES

static void hex_to_bytes(const char *hex, uint8_t *out, size_t out_len)
{
    size_t bin_len = 0;
    assert_int_equal(sodium_hex2bin(out, out_len, hex, strlen(hex), NULL, &bin_len, NULL), 0);
    assert_int_equal(bin_len, out_len);
}

static void assert_hex_equal(const uint8_t *got, size_t len, const char *want_hex)
{
    char got_hex[2 * 64 + 1];
    assert_true(len <= 64);
    sodium_bin2hex(got_hex, sizeof(got_hex), got, len);
    assert_string_equal(got_hex, want_hex);
}

/* RFC 8032 section 7.1, TEST 1-3. */
static const struct {
    const char *name;
    const char *seed;
    const char *pubkey;
    const char *msg;
    const char *sig;
} rfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

static int setup_crypto(void **state)
{
    (void)state;
    return kumo_crypto_init() == 0 ? 0 : -1;
}

static void test_ed25519_rfc8032_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rfc8032); i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        uint8_t msg[8];
        size_t msg_len = strlen(rfc8032[i].msg) / 2;
        hex_to_bytes(rfc8032[i].seed, seed, sizeof(seed));
        hex_to_bytes(rfc8032[i].msg, msg, msg_len);

        kumo_crypto_keypair_t kp;
        kumo_crypto_key_from_seed(seed, &kp);
        assert_hex_equal(kp.pubkey, sizeof(kp.pubkey), rfc8032[i].pubkey);

        uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
        kumo_crypto_sign(&kp, kumo_bytes_make(msg, msg_len), sig);
        assert_hex_equal(sig, sizeof(sig), rfc8032[i].sig);
        assert_true(kumo_crypto_verify(kp.pubkey, kumo_bytes_make(msg, msg_len), sig));

        uint8_t seed_back[KUMO_CRYPTO_SEED_BYTES];
        kumo_crypto_key_seed(&kp, seed_back);
        assert_memory_equal(seed_back, seed, sizeof(seed));
        kumo_crypto_key_wipe(&kp);
        assert_true(sodium_is_zero((const unsigned char *)&kp, sizeof(kp)) == 1);
    }
}

static void test_ed25519_empty_message_may_be_null(void **state)
{
    (void)state;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    hex_to_bytes(rfc8032[0].seed, seed, sizeof(seed));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    kumo_crypto_sign(&kp, kumo_bytes_make(NULL, 0), sig);
    assert_hex_equal(sig, sizeof(sig), rfc8032[0].sig);
    assert_true(kumo_crypto_verify(kp.pubkey, kumo_bytes_make(NULL, 0), sig));
    kumo_crypto_key_wipe(&kp);
}

static void test_ed25519_generate_gives_distinct_working_keys(void **state)
{
    (void)state;
    kumo_crypto_keypair_t a;
    kumo_crypto_keypair_t b;
    assert_int_equal(kumo_crypto_key_generate(&a), 0);
    assert_int_equal(kumo_crypto_key_generate(&b), 0);
    assert_memory_not_equal(a.pubkey, b.pubkey, sizeof(a.pubkey));

    /* A generated key is exactly the key its seed derives. */
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    kumo_crypto_keypair_t again;
    kumo_crypto_key_seed(&a, seed);
    kumo_crypto_key_from_seed(seed, &again);
    assert_memory_equal(&again, &a, sizeof(a));

    const uint8_t msg[] = "lease 42";
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    kumo_crypto_sign(&a, kumo_bytes_make(msg, sizeof(msg)), sig);
    assert_true(kumo_crypto_verify(a.pubkey, kumo_bytes_make(msg, sizeof(msg)), sig));
    assert_false(kumo_crypto_verify(b.pubkey, kumo_bytes_make(msg, sizeof(msg)), sig));
    kumo_crypto_key_wipe(&a);
    kumo_crypto_key_wipe(&b);
    kumo_crypto_key_wipe(&again);
    sodium_memzero(seed, sizeof(seed));
}

/* Every single-bit change of the message, the signature or the public key must be rejected. */
static void test_ed25519_verify_rejects_every_flipped_bit(void **state)
{
    (void)state;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    hex_to_bytes(rfc8032[2].seed, seed, sizeof(seed));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    uint8_t msg[16] = "bid 7 for order";
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    kumo_crypto_sign(&kp, kumo_bytes_make(msg, sizeof(msg)), sig);
    assert_true(kumo_crypto_verify(kp.pubkey, kumo_bytes_make(msg, sizeof(msg)), sig));

    struct {
        const char *name;
        uint8_t *target;
        size_t len;
    } fields[] = {
        {"msg", msg, sizeof(msg)},
        {"sig", sig, sizeof(sig)},
        {"pubkey", kp.pubkey, sizeof(kp.pubkey)},
    };
    for (size_t f = 0; f < KUMO_ARRAY_COUNT(fields); f++) {
        for (size_t bit = 0; bit < fields[f].len * 8; bit++) {
            uint8_t mask = (uint8_t)(1u << (bit % 8));
            fields[f].target[bit / 8] ^= mask;
            bool ok = kumo_crypto_verify(kp.pubkey, kumo_bytes_make(msg, sizeof(msg)), sig);
            fields[f].target[bit / 8] ^= mask;
            if (ok) {
                fail_msg("%s bit %zu flipped still verifies", fields[f].name, bit);
            }
        }
    }
    assert_true(kumo_crypto_verify(kp.pubkey, kumo_bytes_make(msg, sizeof(msg)), sig));
    kumo_crypto_key_wipe(&kp);
}

/* The identity point as key with R = identity, S = 0 "verifies" any message under a naive
 * check; it must be refused as a small-order key. */
static void test_ed25519_verify_rejects_small_order_key(void **state)
{
    (void)state;
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES] = {1};
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES] = {1};
    const uint8_t msg[] = "anything";
    assert_false(kumo_crypto_verify(pubkey, kumo_bytes_make(msg, sizeof(msg)), sig));
}

/* FIPS 180-4 examples (NIST CSRC "SHA256.pdf") plus the empty string. */
static const struct {
    const char *msg;
    const char *digest;
} fips[] = {
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_sha256_fips_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(fips); i++) {
        uint8_t out[KUMO_CRYPTO_HASH_BYTES];
        kumo_crypto_sha256(kumo_bytes_make(fips[i].msg, strlen(fips[i].msg)), out);
        assert_hex_equal(out, sizeof(out), fips[i].digest);
    }
    uint8_t out[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(NULL, 0), out);
    assert_hex_equal(out, sizeof(out), fips[1].digest);
}

/* Every split of a message into parts, and every incremental feed, equals the one-shot. */
static void test_sha256_parts_and_incremental_equal_one_shot(void **state)
{
    (void)state;
    const char *msg = fips[2].msg;
    size_t len = strlen(msg);
    for (size_t cut1 = 0; cut1 <= len; cut1++) {
        for (size_t cut2 = cut1; cut2 <= len; cut2 += 7) {
            kumo_bytes_t parts[3] = {
                kumo_bytes_make(msg, cut1),
                kumo_bytes_make(msg + cut1, cut2 - cut1),
                kumo_bytes_make(msg + cut2, len - cut2),
            };
            uint8_t out[KUMO_CRYPTO_HASH_BYTES];
            kumo_crypto_sha256_parts(parts, 3, out);
            assert_hex_equal(out, sizeof(out), fips[2].digest);

            kumo_crypto_sha256_ctx_t *ctx = NULL;
            assert_int_equal(kumo_crypto_sha256_begin(&ctx), 0);
            for (size_t p = 0; p < 3; p++) {
                kumo_crypto_sha256_update(ctx, parts[p]);
            }
            memset(out, 0, sizeof(out));
            kumo_crypto_sha256_end(ctx, out);
            assert_hex_equal(out, sizeof(out), fips[2].digest);
        }
    }
    uint8_t out[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(NULL, 0, out);
    assert_hex_equal(out, sizeof(out), fips[1].digest);
}

static void test_sha256_begin_fails_cleanly_without_memory(void **state)
{
    (void)state;
    kumo_crypto_sha256_ctx_t *ctx = NULL;
    kumo_alloc_fail_at(1);
    assert_int_equal(kumo_crypto_sha256_begin(&ctx), KUMO_ENOMEM);
    kumo_alloc_fail_at(0);
    assert_null(ctx);

    /* free is the cleanup path for an unfinished hash, and a no-op on NULL. */
    assert_int_equal(kumo_crypto_sha256_begin(&ctx), 0);
    kumo_crypto_sha256_update(ctx, kumo_bytes_make("abc", 3));
    kumo_crypto_sha256_free(ctx);
    kumo_crypto_sha256_free(NULL);
}

static void test_address_is_hash_prefix_of_pubkey(void **state)
{
    (void)state;
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    hex_to_bytes(rfc8032[0].pubkey, pubkey, sizeof(pubkey));
    uint8_t want[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(want, pubkey, sizeof(pubkey));
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(pubkey, addr);
    assert_memory_equal(addr, want, KUMO_ADDRESS_BYTES);
}

/* ---- Merkle root, checked against an independent level-by-level build ---- */

static void ref_hash2(
    uint8_t prefix, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    assert_int_equal(crypto_hash_sha256_init(&st), 0);
    assert_int_equal(crypto_hash_sha256_update(&st, &prefix, 1), 0);
    assert_int_equal(crypto_hash_sha256_update(&st, a, a_len), 0);
    assert_int_equal(crypto_hash_sha256_update(&st, b, b_len), 0);
    assert_int_equal(crypto_hash_sha256_final(&st, out), 0);
}

static void ref_leaf(const uint8_t *chunk, size_t len, uint8_t out[32])
{
    ref_hash2(0x00, chunk, len, NULL, 0, out);
}

static void ref_node(const uint8_t left[32], const uint8_t right[32], uint8_t out[32])
{
    ref_hash2(0x01, left, 32, right, 32, out);
}

/* The rule as documented: leaves of 256 KiB chunks (one empty leaf for empty data), then pair
 * each level from the left, promoting an odd last node unchanged. */
static void ref_merkle_root(const uint8_t *data, size_t len, uint8_t out[32])
{
    size_t count = len == 0 ? 1 : (len + CHUNK - 1) / CHUNK;
    uint8_t(*level)[32] = calloc(count, 32);
    assert_non_null(level);
    for (size_t i = 0; i < count; i++) {
        size_t off = i * CHUNK;
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        ref_leaf(len == 0 ? NULL : data + off, n, level[i]);
    }
    while (count > 1) {
        size_t next = 0;
        for (size_t i = 0; i < count; i += 2) {
            if (i + 1 < count) {
                ref_node(level[i], level[i + 1], level[next]);
            } else {
                memcpy(level[next], level[i], 32);
            }
            next++;
        }
        count = next;
    }
    memcpy(out, level[0], 32);
    free(level);
}

static uint8_t *pattern_make(size_t len)
{
    uint8_t *p = malloc(len == 0 ? 1 : len);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)((i * 131u + (i >> 18) * 7u) & 0xffu);
    }
    return p;
}

static void test_merkle_root_matches_documented_rule(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t len;
    } cases[] = {
        {"0 bytes", 0},
        {"1 byte", 1},
        {"exactly one chunk", CHUNK},
        {"one chunk + 1", CHUNK + 1},
        {"2 chunks", 2 * CHUNK},
        {"3 chunks (odd promotion)", 3 * CHUNK},
        {"4 chunks", 4 * CHUNK},
        {"5 chunks (promotion twice)", 5 * CHUNK - 10},
        {"7 chunks", 7 * CHUNK},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        uint8_t *data = pattern_make(cases[i].len);
        uint8_t want[32];
        uint8_t got[KUMO_CRYPTO_HASH_BYTES];
        ref_merkle_root(data, cases[i].len, want);
        assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, cases[i].len), got), 0);
        if (memcmp(got, want, sizeof(got)) != 0) {
            fail_msg("%s: root differs from the documented rule", cases[i].name);
        }
        free(data);
    }
}

/* The small cases spelled out, so a wrong reference cannot hide a wrong shape. */
static void test_merkle_root_small_shapes_explicit(void **state)
{
    (void)state;
    uint8_t got[KUMO_CRYPTO_HASH_BYTES];
    uint8_t want[32];

    /* Empty data is the hash of one empty leaf: SHA-256(0x00). */
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(NULL, 0), got), 0);
    assert_hex_equal(got, sizeof(got),
                     "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");

    const uint8_t one = 0x2a;
    ref_leaf(&one, 1, want);
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(&one, 1), got), 0);
    assert_memory_equal(got, want, 32);

    uint8_t *data = pattern_make(3 * CHUNK);
    uint8_t l0[32];
    uint8_t l1[32];
    uint8_t l2[32];
    uint8_t n01[32];
    ref_leaf(data, CHUNK, l0);
    ref_leaf(data + CHUNK, CHUNK, l1);
    ref_leaf(data + 2 * CHUNK, CHUNK, l2);

    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, CHUNK), got), 0);
    assert_memory_equal(got, l0, 32);

    uint8_t tail[32];
    ref_leaf(data + CHUNK, 1, tail);
    ref_node(l0, tail, want);
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, CHUNK + 1), got), 0);
    assert_memory_equal(got, want, 32);

    ref_node(l0, l1, n01);
    ref_node(n01, l2, want);
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, 3 * CHUNK), got), 0);
    assert_memory_equal(got, want, 32);
    free(data);
}

static void test_merkle_leaf_and_node_are_domain_separated(void **state)
{
    (void)state;
    uint8_t left[KUMO_CRYPTO_HASH_BYTES];
    uint8_t right[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make("L", 1), left);
    kumo_crypto_sha256(kumo_bytes_make("R", 1), right);
    uint8_t both[2 * KUMO_CRYPTO_HASH_BYTES];
    memcpy(both, left, sizeof(left));
    memcpy(both + sizeof(left), right, sizeof(right));

    uint8_t node[KUMO_CRYPTO_HASH_BYTES];
    uint8_t leaf[KUMO_CRYPTO_HASH_BYTES];
    uint8_t plain[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_merkle_node_hash(left, right, node);
    kumo_crypto_merkle_leaf_hash(kumo_bytes_make(both, sizeof(both)), leaf);
    kumo_crypto_sha256(kumo_bytes_make(both, sizeof(both)), plain);
    assert_memory_not_equal(node, leaf, sizeof(node));
    assert_memory_not_equal(node, plain, sizeof(node));
    assert_memory_not_equal(leaf, plain, sizeof(leaf));

    uint8_t want[32];
    ref_node(left, right, want);
    assert_memory_equal(node, want, 32);
    ref_leaf(both, sizeof(both), want);
    assert_memory_equal(leaf, want, 32);

    /* A 64-byte file holding two leaf hashes does not share the root of their two chunks. */
    uint8_t *data = pattern_make(2 * CHUNK);
    uint8_t pair[64];
    ref_leaf(data, CHUNK, pair);
    ref_leaf(data + CHUNK, CHUNK, pair + 32);
    uint8_t root_two[KUMO_CRYPTO_HASH_BYTES];
    uint8_t root_forged[KUMO_CRYPTO_HASH_BYTES];
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, 2 * CHUNK), root_two), 0);
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(pair, sizeof(pair)), root_forged), 0);
    assert_memory_not_equal(root_two, root_forged, sizeof(root_two));
    free(data);

    /* out may alias an input. */
    uint8_t alias[KUMO_CRYPTO_HASH_BYTES];
    memcpy(alias, left, sizeof(alias));
    kumo_crypto_merkle_node_hash(alias, right, alias);
    assert_memory_equal(alias, node, sizeof(alias));
}

/* ---- inclusion proofs ---- */

/* Every leaf hash of data, as kumo_crypto_merkle_proof_build takes them (ref_leaf). */
static uint8_t *ref_leaf_hashes(const uint8_t *data, size_t len, uint32_t count)
{
    uint8_t *leaves = malloc((size_t)count * 32u);
    assert_non_null(leaves);
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * CHUNK;
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        ref_leaf(len == 0 ? NULL : data + off, n, leaves + (size_t)i * 32u);
    }
    return leaves;
}

static void test_merkle_proof_every_index_up_to_40_chunks(void **state)
{
    (void)state;
    uint8_t *data = pattern_make(40 * CHUNK);
    for (uint32_t n = 1; n <= 40; n++) {
        /* Odd counts end in a short chunk, even ones in a full one. */
        size_t len = (size_t)n * CHUNK - (n % 2u == 1u ? 7u * n : 0u);
        uint32_t count = 0;
        assert_int_equal(kumo_crypto_merkle_chunk_count(len, &count), 0);
        assert_int_equal(count, n);
        uint8_t root[32];
        assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, len), root), 0);
        uint8_t *leaves = ref_leaf_hashes(data, len, n);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
            size_t proof_len = 0;
            assert_int_equal(kumo_crypto_merkle_proof_build(kumo_bytes_make(leaves, n * 32u), n, i,
                                                            proof, &proof_len),
                             0);
            assert_int_equal(proof_len, kumo_crypto_merkle_proof_count(i, n) * 32u);
            size_t off = (size_t)i * CHUNK;
            size_t clen = len - off < CHUNK ? len - off : CHUNK;
            kumo_err_ctx_t err = {0};
            int rc = kumo_crypto_merkle_proof_verify(root, i, n, kumo_bytes_make(data + off, clen),
                                                     kumo_bytes_make(proof, proof_len), &err);
            if (rc != 0) {
                fail_msg("chunk %u of %u: %s (%s)", i, n, kumo_err_name(rc), err.detail);
            }
        }
        free(leaves);
    }
    free(data);
}

static void test_merkle_proof_of_empty_data(void **state)
{
    (void)state;
    uint32_t count = 0;
    assert_int_equal(kumo_crypto_merkle_chunk_count(0, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(kumo_crypto_merkle_chunk_count(CHUNK, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(kumo_crypto_merkle_chunk_count(CHUNK + 1u, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(kumo_crypto_merkle_chunk_count((uint64_t)UINT32_MAX * CHUNK, &count), 0);
    assert_int_equal(count, UINT32_MAX);
    assert_int_equal(kumo_crypto_merkle_chunk_count((uint64_t)UINT32_MAX * CHUNK + 1u, &count),
                     KUMO_ELIMIT);
    uint8_t root[32];
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(NULL, 0), root), 0);
    uint8_t leaf[32];
    ref_leaf(NULL, 0, leaf);
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
    size_t proof_len = 1;
    assert_int_equal(
        kumo_crypto_merkle_proof_build(kumo_bytes_make(leaf, 32), 1, 0, proof, &proof_len), 0);
    assert_int_equal(proof_len, 0);
    assert_int_equal(kumo_crypto_merkle_proof_verify(root, 0, 1, kumo_bytes_make(NULL, 0),
                                                     kumo_bytes_make(NULL, 0), NULL),
                     0);
    assert_int_equal(
        kumo_crypto_merkle_proof_build(kumo_bytes_make(leaf, 32), 1, 1, proof, &proof_len),
        KUMO_EINVAL);
    assert_int_equal(
        kumo_crypto_merkle_proof_build(kumo_bytes_make(leaf, 32), 2, 0, proof, &proof_len),
        KUMO_EINVAL);
}

/* One verification of chunk 2 of 5 (a full chunk with three proof hashes), broken per row. */
typedef struct proof_case {
    uint8_t root[32];
    uint32_t index;
    uint32_t count;
    uint8_t chunk[CHUNK + 1u];
    size_t chunk_len;
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + 32u];
    size_t proof_len;
} proof_case_t;

static void pc_none(proof_case_t *c)
{
    (void)c;
}
static void pc_chunk_flipped(proof_case_t *c)
{
    c->chunk[100] ^= 0x01u;
}
static void pc_proof_flipped(proof_case_t *c)
{
    c->proof[40] ^= 0x80u;
}
static void pc_index_wrong(proof_case_t *c)
{
    c->index = 3;
}
static void pc_count_wrong(proof_case_t *c)
{
    c->count = 4;
}
/* An inner chunk's path does not pin the count (chunk 2 of 5 and of 6 share it): only the
 * whole file's root does, which the receiver checks at the end. The last chunk's does. */
static void pc_count_wrong_same_path(proof_case_t *c)
{
    c->count = 6;
}
static void pc_last_chunk_as_inner(proof_case_t *c)
{
    c->index = 4;
    c->count = 6;
    c->chunk_len = CHUNK - 1000u;
    c->proof_len = 64u;
}
static void pc_count_zero(proof_case_t *c)
{
    c->count = 0;
}
static void pc_index_past_count(proof_case_t *c)
{
    c->index = 5;
}
static void pc_proof_short(proof_case_t *c)
{
    c->proof_len -= 32u;
}
static void pc_proof_long(proof_case_t *c)
{
    c->proof_len += 32u;
}
static void pc_proof_ragged(proof_case_t *c)
{
    c->proof_len -= 1u;
}
static void pc_chunk_short(proof_case_t *c)
{
    c->chunk_len -= 1u;
}
static void pc_chunk_over(proof_case_t *c)
{
    c->chunk_len += 1u;
}
static void pc_last_chunk_empty(proof_case_t *c)
{
    c->index = 4;
    c->chunk_len = 0;
    c->proof_len = 32u;
}
static void pc_root_other(proof_case_t *c)
{
    c->root[0] ^= 0x01u;
}

static void test_merkle_proof_rejects_each_broken_part(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(proof_case_t *c);
        int want;
    } cases[] = {
        {"valid", pc_none, 0},
        {"tampered chunk", pc_chunk_flipped, KUMO_EMISMATCH},
        {"tampered proof", pc_proof_flipped, KUMO_EMISMATCH},
        {"wrong index", pc_index_wrong, KUMO_EMISMATCH},
        {"wrong count", pc_count_wrong, KUMO_EDECODE},
        {"wrong count, same path", pc_count_wrong_same_path, 0},
        {"short last chunk as an inner one", pc_last_chunk_as_inner, KUMO_EMISMATCH},
        {"other root", pc_root_other, KUMO_EMISMATCH},
        {"zero count", pc_count_zero, KUMO_EINVAL},
        {"index past count", pc_index_past_count, KUMO_EINVAL},
        {"short proof", pc_proof_short, KUMO_EDECODE},
        {"long proof", pc_proof_long, KUMO_EDECODE},
        {"ragged proof", pc_proof_ragged, KUMO_EDECODE},
        {"short inner chunk", pc_chunk_short, KUMO_EMISMATCH},
        {"chunk over the chunk size", pc_chunk_over, KUMO_ELIMIT},
        {"empty last chunk", pc_last_chunk_empty, KUMO_EMISMATCH},
    };
    size_t len = 5u * CHUNK - 1000u;
    uint8_t *data = pattern_make(len);
    uint8_t *leaves = ref_leaf_hashes(data, len, 5);
    proof_case_t *valid = calloc(1, sizeof(*valid));
    proof_case_t *c = calloc(1, sizeof(*c));
    assert_non_null(valid);
    assert_non_null(c);
    assert_int_equal(kumo_crypto_merkle_root(kumo_bytes_make(data, len), valid->root), 0);
    valid->index = 2;
    valid->count = 5;
    memcpy(valid->chunk, data + 2u * CHUNK, CHUNK + 1u);
    valid->chunk_len = CHUNK;
    assert_int_equal(kumo_crypto_merkle_proof_build(kumo_bytes_make(leaves, 5u * 32u), 5, 2,
                                                    valid->proof, &valid->proof_len),
                     0);
    assert_int_equal(valid->proof_len, 3u * 32u);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(c, valid, sizeof(*c));
        cases[i].mutate(c);
        kumo_err_ctx_t err = {0};
        int rc = kumo_crypto_merkle_proof_verify(c->root, c->index, c->count,
                                                 kumo_bytes_make(c->chunk, c->chunk_len),
                                                 kumo_bytes_make(c->proof, c->proof_len), &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    free(c);
    free(valid);
    free(leaves);
    free(data);
}

/* ---- sealed secrets ---- */

/* A counter RNG: the same seed gives the same bytes, so sealing is reproducible here. */
static void counter_fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *next = ctx;
    for (size_t i = 0; i < len; i++) {
        out[i] = (*next)++;
    }
}

static void seal_keys(kumo_crypto_keypair_t *a, kumo_crypto_keypair_t *b)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x11, sizeof(seed));
    kumo_crypto_key_from_seed(seed, a);
    memset(seed, 0x22, sizeof(seed));
    kumo_crypto_key_from_seed(seed, b);
}

static void test_seal_key_round_trip_and_libsodium_compatible(void **state)
{
    (void)state;
    kumo_crypto_keypair_t a;
    kumo_crypto_keypair_t b;
    seal_keys(&a, &b);
    uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES];
    memset(key, 0x5a, sizeof(key));
    uint8_t next = 7;
    kumo_crypto_rng_t rng = {.ctx = &next, .fill_cb = counter_fill};
    uint8_t sealed[KUMO_CRYPTO_SEALED_KEY_BYTES];
    assert_int_equal(kumo_crypto_seal_key_wrap(a.pubkey, key, &rng, sealed), 0);
    uint8_t got[KUMO_CRYPTO_SEAL_KEY_BYTES];
    assert_int_equal(kumo_crypto_seal_key_open(&a, sealed, got), 0);
    assert_memory_equal(got, key, sizeof(key));
    /* libsodium's own crypto_box_seal_open reads it too. */
    uint8_t xpk[32];
    uint8_t xsk[32];
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, a.pubkey), 0);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, a.seckey), 0);
    memset(got, 0, sizeof(got));
    assert_int_equal(crypto_box_seal_open(got, sealed, sizeof(sealed), xpk, xsk), 0);
    assert_memory_equal(got, key, sizeof(key));
    /* Same randomness, same bytes (the canonical manifest depends on nothing else). */
    uint8_t again[KUMO_CRYPTO_SEALED_KEY_BYTES];
    next = 7;
    assert_int_equal(kumo_crypto_seal_key_wrap(a.pubkey, key, &rng, again), 0);
    assert_memory_equal(again, sealed, sizeof(sealed));
    /* Another key cannot open it; nor can anyone open a flipped bit. */
    assert_int_equal(kumo_crypto_seal_key_open(&b, sealed, got), KUMO_EMISMATCH);
    assert_true(sodium_is_zero(got, sizeof(got)));
    for (size_t i = 0; i < sizeof(sealed) * 8u; i += 7u) {
        sealed[i / 8u] ^= (uint8_t)(1u << (i % 8u));
        assert_int_equal(kumo_crypto_seal_key_open(&a, sealed, got), KUMO_EMISMATCH);
        sealed[i / 8u] ^= (uint8_t)(1u << (i % 8u));
    }
    /* A public key that is not a point has no X25519 form. */
    uint8_t bad[KUMO_CRYPTO_PUBKEY_BYTES];
    memset(bad, 0xff, sizeof(bad));
    assert_int_equal(kumo_crypto_seal_key_wrap(bad, key, &rng, sealed), KUMO_EINVAL);
}

static void test_seal_value_round_trip_and_tamper(void **state)
{
    (void)state;
    uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES];
    uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES];
    memset(key, 1, sizeof(key));
    memset(nonce, 2, sizeof(nonce));
    const char *ad = "owner|dseq|db|DB_PASSWORD";
    const char *pw = "hunter2-correct-horse";
    kumo_bytes_t adb = kumo_bytes_make(ad, strlen(ad));
    uint8_t ct[64];
    kumo_crypto_seal_value_encrypt(key, nonce, adb, kumo_bytes_make(pw, strlen(pw)), ct);
    size_t ct_len = strlen(pw) + KUMO_CRYPTO_SEAL_TAG_BYTES;
    assert_null(memmem(ct, ct_len, pw, strlen(pw)));
    uint8_t out[64];
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, adb, kumo_bytes_make(ct, ct_len), out),
                     0);
    assert_memory_equal(out, pw, strlen(pw));
    /* Every part tampered with: ciphertext, nonce, associated data, key. */
    ct[3] ^= 1u;
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, adb, kumo_bytes_make(ct, ct_len), out),
                     KUMO_EMISMATCH);
    assert_true(sodium_is_zero(out, strlen(pw)));
    ct[3] ^= 1u;
    nonce[0] ^= 1u;
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, adb, kumo_bytes_make(ct, ct_len), out),
                     KUMO_EMISMATCH);
    nonce[0] ^= 1u;
    const char *other = "owner|dseq|web|DB_PASSWORD";
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, kumo_bytes_make(other, strlen(other)),
                                                 kumo_bytes_make(ct, ct_len), out),
                     KUMO_EMISMATCH);
    key[31] ^= 1u;
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, adb, kumo_bytes_make(ct, ct_len), out),
                     KUMO_EMISMATCH);
    key[31] ^= 1u;
    /* Shorter than a tag: refused before decrypting; an empty value round-trips. */
    assert_int_equal(kumo_crypto_seal_value_open(key, nonce, adb, kumo_bytes_make(ct, 15), out),
                     KUMO_EINVAL);
    kumo_crypto_seal_value_encrypt(key, nonce, adb, kumo_bytes_make(NULL, 0), ct);
    assert_int_equal(kumo_crypto_seal_value_open(
                         key, nonce, adb, kumo_bytes_make(ct, KUMO_CRYPTO_SEAL_TAG_BYTES), NULL),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ed25519_rfc8032_vectors),
        cmocka_unit_test(test_ed25519_empty_message_may_be_null),
        cmocka_unit_test(test_ed25519_generate_gives_distinct_working_keys),
        cmocka_unit_test(test_ed25519_verify_rejects_every_flipped_bit),
        cmocka_unit_test(test_ed25519_verify_rejects_small_order_key),
        cmocka_unit_test(test_sha256_fips_vectors),
        cmocka_unit_test(test_sha256_parts_and_incremental_equal_one_shot),
        cmocka_unit_test(test_sha256_begin_fails_cleanly_without_memory),
        cmocka_unit_test(test_address_is_hash_prefix_of_pubkey),
        cmocka_unit_test(test_merkle_root_matches_documented_rule),
        cmocka_unit_test(test_merkle_root_small_shapes_explicit),
        cmocka_unit_test(test_merkle_leaf_and_node_are_domain_separated),
        cmocka_unit_test(test_merkle_proof_every_index_up_to_40_chunks),
        cmocka_unit_test(test_merkle_proof_of_empty_data),
        cmocka_unit_test(test_merkle_proof_rejects_each_broken_part),
        cmocka_unit_test(test_seal_key_round_trip_and_libsodium_compatible),
        cmocka_unit_test(test_seal_value_round_trip_and_tamper),
    };
    return cmocka_run_group_tests(tests, setup_crypto, NULL);
}
