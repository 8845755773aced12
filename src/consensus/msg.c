/*
 * msg.c - the wire format and sign bytes of proposals and votes.
 *
 * Fixed-layout big-endian fields through core's reader/writer: bounded (a value is at most
 * KUMO_CONSENSUS_VALUE_BYTES_MAX) and canonical (one encoding per message: flags are 0 or 1, a
 * nil vote carries a zero id, decode rejects trailing bytes). Signatures cover domain-separated
 * sign bytes that name the chain, never the wire bytes. Pure: no I/O.
 */
#include <string.h>

#include "consensus/consensus.h"

#define MSG_DOMAIN "kumo/consensus/v1"

/* A short read is KUMO_EDECODE with a detail. */
#define MSG_READ(expr)                                                                    \
    do {                                                                                  \
        if ((expr) < 0) {                                                                 \
            return kumo_err_set(err, KUMO_EDECODE, "short consensus message: %s", #expr); \
        }                                                                                 \
    } while (0)

static bool kind_is_vote(kumo_consensus_msg_kind_t kind)
{
    return kind == KUMO_CONSENSUS_MSG_PREVOTE || kind == KUMO_CONSENSUS_MSG_PRECOMMIT;
}

int kumo_consensus_msg_sign_bytes(
    const kumo_consensus_msg_t *m, const char *chain_id, uint8_t *out, size_t cap, size_t *len_out)
{
    KUMO_ASSERT(m != NULL && chain_id != NULL);
    KUMO_ASSERT(out != NULL && len_out != NULL);
    kumo_writer_t w;
    kumo_writer_init(&w, out, cap);
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(MSG_DOMAIN, strlen(MSG_DOMAIN))));
    KUMO_GUARD(kumo_writer_write_u8(&w, (uint8_t)m->kind));
    KUMO_GUARD(kumo_writer_write_prefixed(&w, kumo_bytes_make(chain_id, strlen(chain_id))));
    KUMO_GUARD(kumo_writer_write_u64(&w, m->height));
    KUMO_GUARD(kumo_writer_write_u32(&w, m->round));
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        KUMO_GUARD(kumo_writer_write_u32(&w, m->pol_round));
    }
    /* A proposal always carries a value. */
    bool has_value = m->has_value || m->kind == KUMO_CONSENSUS_MSG_PROPOSAL;
    KUMO_GUARD(kumo_writer_write_u8(&w, has_value ? 1u : 0u));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(m->value_id, KUMO_CRYPTO_HASH_BYTES)));
    *len_out = kumo_writer_bytes(&w).len;
    return 0;
}

int kumo_consensus_msg_encode(const kumo_consensus_msg_t *m,
                              uint8_t *out,
                              size_t cap,
                              size_t *len_out)
{
    KUMO_ASSERT(m != NULL && out != NULL && len_out != NULL);
    KUMO_ASSERT(m->kind == KUMO_CONSENSUS_MSG_PROPOSAL || kind_is_vote(m->kind));
    kumo_writer_t w;
    kumo_writer_init(&w, out, cap);
    KUMO_GUARD(kumo_writer_write_u8(&w, (uint8_t)m->kind));
    KUMO_GUARD(kumo_writer_write_u64(&w, m->height));
    KUMO_GUARD(kumo_writer_write_u32(&w, m->round));
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        KUMO_GUARD(kumo_writer_write_u32(&w, m->pol_round));
        KUMO_GUARD(
            kumo_writer_write_bytes(&w, kumo_bytes_make(m->pubkey, KUMO_CRYPTO_PUBKEY_BYTES)));
        KUMO_GUARD(kumo_writer_write_prefixed(&w, m->value));
    } else {
        KUMO_GUARD(kumo_writer_write_u8(&w, m->has_value ? 1u : 0u));
        KUMO_GUARD(
            kumo_writer_write_bytes(&w, kumo_bytes_make(m->value_id, KUMO_CRYPTO_HASH_BYTES)));
        KUMO_GUARD(
            kumo_writer_write_bytes(&w, kumo_bytes_make(m->pubkey, KUMO_CRYPTO_PUBKEY_BYTES)));
    }
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(m->sig, KUMO_CRYPTO_SIG_BYTES)));
    *len_out = kumo_writer_bytes(&w).len;
    return 0;
}

static int msg_decode_vote_body(kumo_reader_t *r, kumo_consensus_msg_t *m, kumo_err_ctx_t *err)
{
    uint8_t has_value = 0;
    kumo_bytes_t id;
    kumo_bytes_t pk;
    MSG_READ(kumo_reader_read_u8(r, &has_value));
    MSG_READ(kumo_reader_read_fixed(r, KUMO_CRYPTO_HASH_BYTES, &id));
    MSG_READ(kumo_reader_read_fixed(r, KUMO_CRYPTO_PUBKEY_BYTES, &pk));
    KUMO_ENSURE(has_value <= 1, err, KUMO_EDECODE, "vote has_value %u", has_value);
    m->has_value = has_value == 1;
    memcpy(m->value_id, id.ptr, KUMO_CRYPTO_HASH_BYTES);
    memcpy(m->pubkey, pk.ptr, KUMO_CRYPTO_PUBKEY_BYTES);
    if (!m->has_value) {
        static const uint8_t zero[KUMO_CRYPTO_HASH_BYTES] = {0};
        KUMO_ENSURE(memcmp(m->value_id, zero, KUMO_CRYPTO_HASH_BYTES) == 0, err, KUMO_EDECODE,
                    "nil vote with a value id");
    }
    return 0;
}

static int msg_decode_proposal_body(kumo_reader_t *r, kumo_consensus_msg_t *m, kumo_err_ctx_t *err)
{
    kumo_bytes_t pk;
    MSG_READ(kumo_reader_read_u32(r, &m->pol_round));
    MSG_READ(kumo_reader_read_fixed(r, KUMO_CRYPTO_PUBKEY_BYTES, &pk));
    int rc = kumo_reader_read_prefixed(r, KUMO_CONSENSUS_VALUE_BYTES_MAX, &m->value);
    KUMO_ENSURE(rc != KUMO_ELIMIT, err, KUMO_ELIMIT, "proposal value over %u bytes",
                KUMO_CONSENSUS_VALUE_BYTES_MAX);
    MSG_READ(rc);
    memcpy(m->pubkey, pk.ptr, KUMO_CRYPTO_PUBKEY_BYTES);
    /* Algorithm 1 needs -1 <= validRound < round. */
    KUMO_ENSURE(m->pol_round == KUMO_CONSENSUS_ROUND_NONE || m->pol_round < m->round, err,
                KUMO_EDECODE, "pol_round %u not below round %u", m->pol_round, m->round);
    m->has_value = true;
    kumo_crypto_sha256(m->value, m->value_id);
    return 0;
}

int kumo_consensus_msg_decode(kumo_bytes_t in, kumo_consensus_msg_t *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    memset(m, 0, sizeof(*m));
    m->pol_round = KUMO_CONSENSUS_ROUND_NONE;
    kumo_reader_t r;
    kumo_reader_init(&r, in);
    uint8_t kind = 0;
    int rc = kumo_reader_read_u8(&r, &kind);
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "empty consensus message");
    KUMO_ENSURE(kind >= KUMO_CONSENSUS_MSG_PROPOSAL && kind <= KUMO_CONSENSUS_MSG_PRECOMMIT, err,
                KUMO_EUNKNOWNMSG, "consensus message kind %u", kind);
    m->kind = (kumo_consensus_msg_kind_t)kind;
    rc = kumo_reader_read_u64(&r, &m->height);
    if (rc == 0) {
        rc = kumo_reader_read_u32(&r, &m->round);
    }
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "short consensus message header");
    KUMO_ENSURE(m->height > 0, err, KUMO_EDECODE, "height 0");
    KUMO_ENSURE(m->round < KUMO_CONSENSUS_ROUND_NONE, err, KUMO_EDECODE, "round out of range");
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        KUMO_GUARD(msg_decode_proposal_body(&r, m, err));
    } else {
        KUMO_GUARD(msg_decode_vote_body(&r, m, err));
    }
    kumo_bytes_t sig;
    rc = kumo_reader_read_fixed(&r, KUMO_CRYPTO_SIG_BYTES, &sig);
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "short consensus message signature");
    memcpy(m->sig, sig.ptr, KUMO_CRYPTO_SIG_BYTES);
    KUMO_ENSURE(kumo_reader_finish(&r) == 0, err, KUMO_EDECODE, "trailing bytes");
    return 0;
}

int kumo_consensus_msg_verify(const kumo_consensus_msg_t *m,
                              const kumo_consensus_valset_t *vs,
                              const char *chain_id,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL && vs != NULL && chain_id != NULL);
    KUMO_ENSURE(kumo_consensus_valset_find(vs, m->pubkey) >= 0, err, KUMO_EUNAUTH,
                "signer is not a validator");
    uint8_t sb[128 + KUMO_CHAIN_ID_BYTES_MAX];
    size_t len = 0;
    KUMO_ENSURE(kumo_consensus_msg_sign_bytes(m, chain_id, sb, sizeof(sb), &len) == 0, err,
                KUMO_EINVAL, "chain id too long");
    KUMO_ENSURE(kumo_crypto_verify(m->pubkey, kumo_bytes_make(sb, len), m->sig), err, KUMO_ESIG,
                "bad consensus signature");
    return 0;
}

int kumo_consensus_msg_sign(kumo_consensus_msg_t *m,
                            const char *chain_id,
                            const kumo_crypto_keypair_t *kp)
{
    KUMO_ASSERT(m != NULL && kp != NULL);
    uint8_t sb[128 + KUMO_CHAIN_ID_BYTES_MAX];
    size_t len = 0;
    KUMO_GUARD(kumo_consensus_msg_sign_bytes(m, chain_id, sb, sizeof(sb), &len));
    memcpy(m->pubkey, kp->pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    kumo_crypto_sign(kp, kumo_bytes_make(sb, len), m->sig);
    return 0;
}
