/*
 * signer.c - double-sign protection (consensus.h, "signer state"): the last height, round
 * and step a validator signed, with the hash of those sign bytes and the signature. Pure.
 */
#include <string.h>

#include "consensus/consensus.h"

#define SIGNER_DOMAIN    "kumo/consensus/v1"
#define SIGNER_STATE_TAG 0x53u /* 'S' */

int kumo_consensus_sign_bytes_parse(
    kumo_bytes_t sb, uint64_t *height, uint32_t *round, uint8_t *step, kumo_err_ctx_t *err)
{
    kumo_reader_t r;
    kumo_reader_init(&r, sb);
    kumo_bytes_t domain;
    kumo_bytes_t chain;
    uint8_t kind = 0;
    int rc = kumo_reader_read_fixed(&r, sizeof(SIGNER_DOMAIN) - 1u, &domain);
    rc = rc == 0 ? kumo_reader_read_u8(&r, &kind) : rc;
    rc = rc == 0 ? kumo_reader_read_prefixed(&r, KUMO_CHAIN_ID_BYTES_MAX, &chain) : rc;
    rc = rc == 0 ? kumo_reader_read_u64(&r, height) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, round) : rc;
    KUMO_ENSURE(rc == 0 && memcmp(domain.ptr, SIGNER_DOMAIN, domain.len) == 0 &&
                    kind >= KUMO_CONSENSUS_MSG_PROPOSAL && kind <= KUMO_CONSENSUS_MSG_PRECOMMIT,
                err, KUMO_EDECODE, "not consensus sign bytes");
    *step = kind;
    return 0;
}

/* -1, 0, 1 as (h, r, s) compares with the state's. */
static int signer_cmp(const kumo_consensus_signer_state_t *st, uint64_t h, uint32_t r, uint8_t s)
{
    if (h != st->height) {
        return h < st->height ? -1 : 1;
    }
    if (r != st->round) {
        return r < st->round ? -1 : 1;
    }
    return s == st->step ? 0 : (s < st->step ? -1 : 1);
}

int kumo_consensus_signer_check(const kumo_consensus_signer_state_t *st,
                                kumo_bytes_t sign_bytes,
                                bool *same_out,
                                kumo_err_ctx_t *err)
{
    uint64_t h = 0;
    uint32_t r = 0;
    uint8_t s = 0;
    KUMO_GUARD(kumo_consensus_sign_bytes_parse(sign_bytes, &h, &r, &s, err));
    *same_out = false;
    if (!st->has_signed) {
        return 0;
    }
    int cmp = signer_cmp(st, h, r, s);
    if (cmp > 0) {
        return 0;
    }
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(sign_bytes, hash);
    if (cmp == 0 && memcmp(hash, st->sign_hash, sizeof(hash)) == 0) {
        *same_out = true;
        return 0;
    }
    return kumo_err_set(err, KUMO_EDOUBLESIGN, "height %llu round %u step %u: already signed %s",
                        (unsigned long long)h, r, s,
                        cmp == 0 ? "something else there" : "a later step");
}

void kumo_consensus_signer_update(kumo_consensus_signer_state_t *st,
                                  kumo_bytes_t sign_bytes,
                                  const uint8_t sig[KUMO_CRYPTO_SIG_BYTES])
{
    uint64_t h = 0;
    uint32_t r = 0;
    uint8_t s = 0;
    int rc = kumo_consensus_sign_bytes_parse(sign_bytes, &h, &r, &s, NULL);
    KUMO_ASSERT(rc == 0);
    st->has_signed = true;
    st->height = h;
    st->round = r;
    st->step = s;
    kumo_crypto_sha256(sign_bytes, st->sign_hash);
    memcpy(st->sig, sig, KUMO_CRYPTO_SIG_BYTES);
}

int kumo_consensus_signer_encode(const kumo_consensus_signer_state_t *st,
                                 uint8_t out[KUMO_CONSENSUS_SIGNER_STATE_BYTES])
{
    kumo_writer_t w;
    kumo_writer_init(&w, out, KUMO_CONSENSUS_SIGNER_STATE_BYTES);
    KUMO_GUARD(kumo_writer_write_u8(&w, SIGNER_STATE_TAG));
    KUMO_GUARD(kumo_writer_write_u8(&w, st->has_signed ? 1u : 0u));
    KUMO_GUARD(kumo_writer_write_u64(&w, st->height));
    KUMO_GUARD(kumo_writer_write_u32(&w, st->round));
    KUMO_GUARD(kumo_writer_write_u8(&w, st->step));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(st->sign_hash, KUMO_CRYPTO_HASH_BYTES)));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(st->sig, KUMO_CRYPTO_SIG_BYTES)));
    KUMO_ASSERT(kumo_writer_bytes(&w).len == KUMO_CONSENSUS_SIGNER_STATE_BYTES);
    return 0;
}

int kumo_consensus_signer_decode(kumo_bytes_t in,
                                 kumo_consensus_signer_state_t *st,
                                 kumo_err_ctx_t *err)
{
    kumo_reader_t r;
    kumo_reader_init(&r, in);
    uint8_t tag = 0;
    uint8_t has = 0;
    kumo_bytes_t hash;
    kumo_bytes_t sig;
    memset(st, 0, sizeof(*st));
    int rc = kumo_reader_read_u8(&r, &tag);
    rc = rc == 0 ? kumo_reader_read_u8(&r, &has) : rc;
    rc = rc == 0 ? kumo_reader_read_u64(&r, &st->height) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &st->round) : rc;
    rc = rc == 0 ? kumo_reader_read_u8(&r, &st->step) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, KUMO_CRYPTO_HASH_BYTES, &hash) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, KUMO_CRYPTO_SIG_BYTES, &sig) : rc;
    rc = rc == 0 ? kumo_reader_finish(&r) : rc;
    KUMO_ENSURE(rc == 0 && tag == SIGNER_STATE_TAG && has <= 1u && st->step <= 3u, err,
                KUMO_EDECODE, "signer state: malformed");
    st->has_signed = has == 1u;
    memcpy(st->sign_hash, hash.ptr, KUMO_CRYPTO_HASH_BYTES);
    memcpy(st->sig, sig.ptr, KUMO_CRYPTO_SIG_BYTES);
    return 0;
}
