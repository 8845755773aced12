/*
 * test_signer_evidence.c - the signer state (a restarted validator may re-sign exactly what
 * it signed last, anything later, and nothing else: every refusal row of a table) and
 * DuplicateVoteEvidence (a real equivocation verifies and has one encoding; every way two
 * votes can fail to be evidence is refused with its own code).
 */
#include "helpers/testutil.h"

#include <string.h>

#include "consensus/consensus.h"

#define CHAIN "kumo-unit"

static kumo_crypto_keypair_t keys[4];
static kumo_consensus_valset_t vs;

static int group_setup(void **state)
{
    (void)state;
    uint8_t pubs[4][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[4] = {10, 10, 10, 10};
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
        seed[0] = (uint8_t)(i + 1);
        seed[1] = 0x5e;
        kumo_crypto_key_from_seed(seed, &keys[i]);
        memcpy(pubs[i], keys[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    }
    return kumo_consensus_valset_init(&vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])pubs, powers,
                                      4, NULL);
}

/* Sign bytes of a vote (kind, height, round, value tag: 0 = nil). */
static size_t sb_make(uint8_t kind, uint64_t h, uint32_t r, uint8_t tag, uint8_t *out, size_t cap)
{
    kumo_consensus_msg_t m = {.kind = kind,
                              .height = h,
                              .round = r,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = tag != 0};
    if (kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        m.has_value = true;
    }
    memset(m.value_id, tag, sizeof(m.value_id));
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_sign_bytes(&m, CHAIN, out, cap, &len), 0);
    return len;
}

static void test_signer_table(void **state)
{
    (void)state;
    kumo_consensus_signer_state_t st;
    memset(&st, 0, sizeof(st));
    uint8_t sb[256];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    memset(sig, 0xab, sizeof(sig));
    bool same = true;
    /* Nothing signed yet: anything goes. */
    size_t len = sb_make(KUMO_CONSENSUS_MSG_PREVOTE, 5, 1, 7, sb, sizeof(sb));
    assert_int_equal(kumo_consensus_signer_check(&st, kumo_bytes_make(sb, len), &same, NULL), 0);
    assert_false(same);
    kumo_consensus_signer_update(&st, kumo_bytes_make(sb, len), sig);
    assert_true(st.has_signed && st.height == 5 && st.round == 1 && st.step == 2);
    /* The same bytes again: the stored signature is reused. */
    assert_int_equal(kumo_consensus_signer_check(&st, kumo_bytes_make(sb, len), &same, NULL), 0);
    assert_true(same);
    static const struct {
        uint8_t kind;
        uint64_t h;
        uint32_t r;
        uint8_t tag;
        int want;
    } rows[] = {
        {KUMO_CONSENSUS_MSG_PREVOTE, 5, 1, 0, KUMO_EDOUBLESIGN},   /* nil where we voted v */
        {KUMO_CONSENSUS_MSG_PREVOTE, 5, 1, 8, KUMO_EDOUBLESIGN},   /* another value */
        {KUMO_CONSENSUS_MSG_PROPOSAL, 5, 1, 7, KUMO_EDOUBLESIGN},  /* earlier step */
        {KUMO_CONSENSUS_MSG_PRECOMMIT, 5, 0, 7, KUMO_EDOUBLESIGN}, /* earlier round */
        {KUMO_CONSENSUS_MSG_PRECOMMIT, 4, 9, 7, KUMO_EDOUBLESIGN}, /* earlier height */
        {KUMO_CONSENSUS_MSG_PRECOMMIT, 5, 1, 7, 0},                /* later step */
        {KUMO_CONSENSUS_MSG_PROPOSAL, 5, 2, 9, 0},                 /* later round */
        {KUMO_CONSENSUS_MSG_PREVOTE, 6, 0, 0, 0},                  /* later height */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        len = sb_make(rows[i].kind, rows[i].h, rows[i].r, rows[i].tag, sb, sizeof(sb));
        kumo_err_ctx_t err = {0};
        int rc = kumo_consensus_signer_check(&st, kumo_bytes_make(sb, len), &same, &err);
        if (rc != rows[i].want) {
            fail_msg("row %zu: %d, want %d (%s)", i, rc, rows[i].want, err.detail);
        }
    }
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_consensus_signer_check(&st, kumo_bytes_make("junk", 4), &same, &err),
                     KUMO_EDECODE);
}

static void test_signer_state_encoding(void **state)
{
    (void)state;
    kumo_consensus_signer_state_t st = {.has_signed = true, .height = 77, .round = 3, .step = 3};
    memset(st.sign_hash, 1, sizeof(st.sign_hash));
    memset(st.sig, 2, sizeof(st.sig));
    uint8_t enc[KUMO_CONSENSUS_SIGNER_STATE_BYTES];
    assert_int_equal(kumo_consensus_signer_encode(&st, enc), 0);
    kumo_consensus_signer_state_t back;
    assert_int_equal(kumo_consensus_signer_decode(kumo_bytes_make(enc, sizeof(enc)), &back, NULL),
                     0);
    assert_memory_equal(&back, &st, sizeof(st));
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        kumo_consensus_signer_decode(kumo_bytes_make(enc, sizeof(enc) - 1), &back, &err),
        KUMO_EDECODE);
    enc[0] ^= 1; /* tag */
    assert_int_equal(kumo_consensus_signer_decode(kumo_bytes_make(enc, sizeof(enc)), &back, &err),
                     KUMO_EDECODE);
    enc[0] ^= 1;
    enc[1] = 2; /* has_signed not 0/1 */
    assert_int_equal(kumo_consensus_signer_decode(kumo_bytes_make(enc, sizeof(enc)), &back, &err),
                     KUMO_EDECODE);
}

/* A signed vote of validator v. */
static kumo_consensus_msg_t vote(uint32_t v, uint8_t kind, uint64_t h, uint32_t r, uint8_t tag)
{
    kumo_consensus_msg_t m = {.kind = kind,
                              .height = h,
                              .round = r,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = tag != 0};
    memset(m.value_id, tag, sizeof(m.value_id));
    assert_int_equal(kumo_consensus_msg_sign(&m, CHAIN, &keys[v]), 0);
    return m;
}

static int evidence_try(kumo_consensus_msg_t a, kumo_consensus_msg_t b)
{
    kumo_consensus_evidence_t ev = {.vote_a = a, .vote_b = b};
    uint8_t enc[KUMO_CONSENSUS_EVIDENCE_BYTES];
    assert_int_equal(kumo_consensus_evidence_encode(&ev, enc), 0);
    kumo_consensus_evidence_t out;
    kumo_err_ctx_t err = {0};
    return kumo_consensus_evidence_decode_verify(kumo_bytes_make(enc, sizeof(enc)), &vs, CHAIN,
                                                 &out, &err);
}

static void test_evidence(void **state)
{
    (void)state;
    kumo_consensus_msg_t a = vote(2, KUMO_CONSENSUS_MSG_PREVOTE, 9, 1, 5);
    kumo_consensus_msg_t b = vote(2, KUMO_CONSENSUS_MSG_PREVOTE, 9, 1, 0);
    /* Either order encodes the same bytes, and they verify. */
    kumo_consensus_evidence_t ev1 = {.vote_a = a, .vote_b = b};
    kumo_consensus_evidence_t ev2 = {.vote_a = b, .vote_b = a};
    uint8_t e1[KUMO_CONSENSUS_EVIDENCE_BYTES];
    uint8_t e2[KUMO_CONSENSUS_EVIDENCE_BYTES];
    assert_int_equal(kumo_consensus_evidence_encode(&ev1, e1), 0);
    assert_int_equal(kumo_consensus_evidence_encode(&ev2, e2), 0);
    assert_memory_equal(e1, e2, sizeof(e1));
    kumo_consensus_evidence_t out;
    assert_int_equal(kumo_consensus_evidence_decode_verify(kumo_bytes_make(e1, sizeof(e1)), &vs,
                                                           CHAIN, &out, NULL),
                     0);
    assert_int_equal(out.validator_index,
                     (uint32_t)kumo_consensus_valset_find(&vs, keys[2].pubkey));
    /* Decoding alone gives the same votes (a decided block's evidence: who, height, round),
     * and a forged signature is no decode error. */
    kumo_consensus_evidence_t plain;
    assert_int_equal(kumo_consensus_evidence_decode(kumo_bytes_make(e1, sizeof(e1)), &plain, NULL),
                     0);
    assert_memory_equal(plain.vote_a.pubkey, keys[2].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(plain.vote_a.height, 9);
    assert_int_equal(plain.vote_a.round, 1);
    assert_int_equal(plain.validator_index, UINT32_MAX);
    uint8_t forged_enc[KUMO_CONSENSUS_EVIDENCE_BYTES];
    memcpy(forged_enc, e1, sizeof(forged_enc));
    forged_enc[sizeof(forged_enc) - 1] ^= 1;
    assert_int_equal(kumo_consensus_evidence_decode(kumo_bytes_make(forged_enc, sizeof(forged_enc)),
                                                    &plain, NULL),
                     0);
    assert_int_equal(
        kumo_consensus_evidence_decode(kumo_bytes_make(e1, sizeof(e1) - 1), &plain, NULL),
        KUMO_EDECODE);
    /* Every way it is not evidence. */
    assert_int_equal(evidence_try(a, a), KUMO_EINVAL); /* same value */
    assert_int_equal(evidence_try(a, vote(2, KUMO_CONSENSUS_MSG_PRECOMMIT, 9, 1, 0)), KUMO_EINVAL);
    assert_int_equal(evidence_try(a, vote(2, KUMO_CONSENSUS_MSG_PREVOTE, 8, 1, 0)), KUMO_EINVAL);
    assert_int_equal(evidence_try(a, vote(2, KUMO_CONSENSUS_MSG_PREVOTE, 9, 2, 0)), KUMO_EINVAL);
    assert_int_equal(evidence_try(a, vote(1, KUMO_CONSENSUS_MSG_PREVOTE, 9, 1, 0)), KUMO_EINVAL);
    kumo_consensus_msg_t forged = b;
    forged.sig[0] ^= 1;
    assert_int_equal(evidence_try(a, forged), KUMO_ESIG);
    kumo_crypto_keypair_t outsider;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {9};
    kumo_crypto_key_from_seed(seed, &outsider);
    kumo_consensus_msg_t oa = {.kind = KUMO_CONSENSUS_MSG_PREVOTE,
                               .height = 9,
                               .round = 1,
                               .pol_round = KUMO_CONSENSUS_ROUND_NONE};
    kumo_consensus_msg_t ob = oa;
    ob.has_value = true;
    memset(ob.value_id, 3, sizeof(ob.value_id));
    assert_int_equal(kumo_consensus_msg_sign(&oa, CHAIN, &outsider), 0);
    assert_int_equal(kumo_consensus_msg_sign(&ob, CHAIN, &outsider), 0);
    assert_int_equal(evidence_try(oa, ob), KUMO_EUNAUTH);
    /* Malformed bytes: length, tag, order. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_consensus_evidence_decode_verify(kumo_bytes_make(e1, sizeof(e1) - 1), &vs,
                                                           CHAIN, &out, &err),
                     KUMO_EDECODE);
    uint8_t bad[KUMO_CONSENSUS_EVIDENCE_BYTES];
    memcpy(bad, e1, sizeof(bad));
    bad[0] = 'X';
    assert_int_equal(kumo_consensus_evidence_decode_verify(kumo_bytes_make(bad, sizeof(bad)), &vs,
                                                           CHAIN, &out, &err),
                     KUMO_EDECODE);
    memcpy(bad + 1, e1 + 1 + KUMO_CONSENSUS_VOTE_BYTES, KUMO_CONSENSUS_VOTE_BYTES);
    memcpy(bad + 1 + KUMO_CONSENSUS_VOTE_BYTES, e1 + 1, KUMO_CONSENSUS_VOTE_BYTES);
    bad[0] = e1[0];
    assert_int_equal(kumo_consensus_evidence_decode_verify(kumo_bytes_make(bad, sizeof(bad)), &vs,
                                                           CHAIN, &out, &err),
                     KUMO_EDECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_table),
        cmocka_unit_test(test_signer_state_encoding),
        cmocka_unit_test(test_evidence),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
