/*
 * evidence.c - DuplicateVoteEvidence: two signed votes of one validator at one height, round
 * and type for different values. Encoding: u8 'E' || vote || vote (each the 142-byte vote
 * encoding), the vote with the smaller value id first, so one equivocation has one encoding.
 * Pure.
 */
#include <string.h>

#include "consensus/consensus.h"

#define EVIDENCE_TAG 0x45u /* 'E' */

int kumo_consensus_evidence_encode(const kumo_consensus_evidence_t *ev,
                                   uint8_t out[KUMO_CONSENSUS_EVIDENCE_BYTES])
{
    const kumo_consensus_msg_t *a = &ev->vote_a;
    const kumo_consensus_msg_t *b = &ev->vote_b;
    if (memcmp(a->value_id, b->value_id, KUMO_CRYPTO_HASH_BYTES) > 0) {
        const kumo_consensus_msg_t *t = a;
        a = b;
        b = t;
    }
    out[0] = EVIDENCE_TAG;
    size_t la = 0;
    size_t lb = 0;
    KUMO_GUARD(kumo_consensus_msg_encode(a, out + 1, KUMO_CONSENSUS_VOTE_BYTES, &la));
    KUMO_GUARD(kumo_consensus_msg_encode(b, out + 1 + KUMO_CONSENSUS_VOTE_BYTES,
                                         KUMO_CONSENSUS_VOTE_BYTES, &lb));
    KUMO_ASSERT(la == KUMO_CONSENSUS_VOTE_BYTES && lb == KUMO_CONSENSUS_VOTE_BYTES);
    return 0;
}

int kumo_consensus_evidence_decode(kumo_bytes_t in,
                                   kumo_consensus_evidence_t *out,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(in.len == KUMO_CONSENSUS_EVIDENCE_BYTES && in.ptr[0] == EVIDENCE_TAG, err,
                KUMO_EDECODE, "evidence: %zu bytes or bad tag", in.len);
    kumo_consensus_msg_t *a = &out->vote_a;
    kumo_consensus_msg_t *b = &out->vote_b;
    KUMO_GUARD(
        kumo_consensus_msg_decode(kumo_bytes_make(in.ptr + 1, KUMO_CONSENSUS_VOTE_BYTES), a, err));
    KUMO_GUARD(kumo_consensus_msg_decode(
        kumo_bytes_make(in.ptr + 1 + KUMO_CONSENSUS_VOTE_BYTES, KUMO_CONSENSUS_VOTE_BYTES), b,
        err));
    KUMO_ENSURE(a->kind != KUMO_CONSENSUS_MSG_PROPOSAL && a->kind == b->kind &&
                    a->height == b->height && a->round == b->round &&
                    memcmp(a->pubkey, b->pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0,
                err, KUMO_EINVAL, "evidence: not two votes of one validator at one step");
    int order = memcmp(a->value_id, b->value_id, KUMO_CRYPTO_HASH_BYTES);
    KUMO_ENSURE(order < 0, err, order == 0 ? KUMO_EINVAL : KUMO_EDECODE, "evidence: %s",
                order == 0 ? "the same value twice" : "votes out of order");
    out->validator_index = UINT32_MAX; /* no set here */
    return 0;
}

int kumo_consensus_evidence_decode_verify(kumo_bytes_t in,
                                          const kumo_consensus_valset_t *vs,
                                          const char *chain_id,
                                          kumo_consensus_evidence_t *out,
                                          kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_consensus_evidence_decode(in, out, err));
    KUMO_GUARD(kumo_consensus_msg_verify(&out->vote_a, vs, chain_id, err));
    KUMO_GUARD(kumo_consensus_msg_verify(&out->vote_b, vs, chain_id, err));
    int32_t index = kumo_consensus_valset_find(vs, out->vote_a.pubkey);
    KUMO_ASSERT(index >= 0); /* verify checked membership */
    out->validator_index = (uint32_t)index;
    return 0;
}
