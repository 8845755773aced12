/*
 * test_consensus.c - unit tests of the consensus module: proposer selection (weighted
 * frequencies, determinism, address tie-break), quorum math at the exact 2/3 and 1/3
 * boundaries, the vote/proposal wire format (round trip, table-driven rejection of malformed,
 * unsigned and non-validator messages), timeouts growing per round, and a lock/unlock
 * scenario of Algorithm 1 driven message by message on a 4-validator set with a fake io.
 */
#include "helpers/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define CHAIN "kumo-unit"

static void keys_make(uint32_t n, kumo_crypto_keypair_t *kps, uint8_t (*pubs)[32])
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)(i + 1);
        seed[1] = 0x77;
        kumo_crypto_key_from_seed(seed, &kps[i]);
        memcpy(pubs[i], kps[i].pubkey, 32);
    }
}

static void test_proposer_weighted_frequencies(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kps[4];
    uint8_t pubs[4][32];
    keys_make(4, kps, pubs);
    const uint64_t powers[4] = {1, 2, 3, 4};
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, powers, 4, NULL),
                     0);
    kumo_consensus_valset_t vs2 = vs;
    uint64_t count[4] = {0};
    for (uint32_t r = 0; r < 1000; r++) {
        uint32_t p = kumo_consensus_valset_priority_step(&vs);
        assert_int_equal(p, kumo_consensus_valset_priority_step(&vs2)); /* deterministic */
        count[p]++;
    }
    /* Over 1000 steps (100 times the total power) each proposes exactly power * 100 times. */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(count[i], vs.v[i].power * 100);
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < 4; i++) {
        sum += vs.v[i].priority;
    }
    assert_int_equal(sum, 0);
}

static void test_proposer_tie_breaks_by_address(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kps[3];
    uint8_t pubs[3][32];
    keys_make(3, kps, pubs);
    const uint64_t powers[3] = {5, 5, 5};
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, powers, 3, NULL),
                     0);
    for (uint32_t i = 1; i < 3; i++) {
        assert_true(memcmp(vs.v[i - 1].address, vs.v[i].address, KUMO_ADDRESS_BYTES) < 0);
    }
    /* Equal powers: plain round robin in address order. */
    assert_int_equal(kumo_consensus_valset_proposer(&vs, 0), 0);
    assert_int_equal(kumo_consensus_valset_proposer(&vs, 1), 1);
    assert_int_equal(kumo_consensus_valset_proposer(&vs, 2), 2);
    assert_int_equal(kumo_consensus_valset_proposer(&vs, 3), 0);
}

static void test_valset_rejects(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kps[2];
    uint8_t pubs[2][32];
    keys_make(2, kps, pubs);
    kumo_consensus_valset_t vs;
    const uint64_t zero[2] = {1, 0};
    const uint64_t big[2] = {(uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX, 1};
    const uint64_t at_max[2] = {(uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX - 1, 1};
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, zero, 0, NULL),
                     KUMO_EEMPTY);
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, zero, 2, NULL),
                     KUMO_EINVAL);
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, big, 2, NULL),
                     KUMO_ELIMIT);
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, at_max, 2, NULL),
                     0);
    memcpy(pubs[1], pubs[0], 32);
    const uint64_t ones[2] = {1, 1};
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, ones, 2, NULL),
                     KUMO_EDUPLICATE);
    assert_int_equal(kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubs, ones,
                                                KUMO_CONSENSUS_VALIDATOR_COUNT_MAX + 1, NULL),
                     KUMO_ELIMIT);
}

static void test_quorum_boundaries(void **state)
{
    (void)state;
    assert_false(kumo_consensus_power_is_quorum(2, 3)); /* exactly 2/3 is not enough */
    assert_true(kumo_consensus_power_is_quorum(3, 3));
    assert_false(kumo_consensus_power_is_quorum(6, 9));
    assert_true(kumo_consensus_power_is_quorum(7, 9));
    assert_false(kumo_consensus_power_is_quorum(66, 100));
    assert_true(kumo_consensus_power_is_quorum(67, 100));
    assert_false(kumo_consensus_power_is_third(1, 3)); /* exactly 1/3 is not enough */
    assert_true(kumo_consensus_power_is_third(2, 4));
    assert_false(kumo_consensus_power_is_third(33, 99));
    assert_true(kumo_consensus_power_is_third(34, 99));
    const uint64_t t = (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX;
    assert_false(kumo_consensus_power_is_quorum(t / 3 * 2, t / 3 * 3));
    assert_true(kumo_consensus_power_is_quorum(t / 3 * 2 + 1, t / 3 * 3));
    assert_true(kumo_consensus_power_is_quorum(t, t)); /* no overflow at the maximum */
}

static void test_timeouts_grow_per_round(void **state)
{
    (void)state;
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    assert_int_equal(kumo_consensus_timeout_ms(&cfg, KUMO_CONSENSUS_TIMER_PROPOSE, 0), 1000);
    assert_int_equal(kumo_consensus_timeout_ms(&cfg, KUMO_CONSENSUS_TIMER_PROPOSE, 3), 2500);
    assert_int_equal(kumo_consensus_timeout_ms(&cfg, KUMO_CONSENSUS_TIMER_PREVOTE, 2), 1000);
    assert_int_equal(kumo_consensus_timeout_ms(&cfg, KUMO_CONSENSUS_TIMER_PRECOMMIT, 4), 1500);
    for (uint32_t r = 0; r + 1 < 50; r++) {
        for (uint32_t t = 0; t < 3; t++) {
            assert_true(kumo_consensus_timeout_ms(&cfg, t, r + 1) >
                        kumo_consensus_timeout_ms(&cfg, t, r));
        }
    }
}

/* ---- wire format ---- */

static kumo_crypto_keypair_t g_kps[4];
static kumo_consensus_valset_t g_vs;

static void set_make(void)
{
    uint8_t pubs[4][32];
    keys_make(4, g_kps, pubs);
    const uint64_t powers[4] = {10, 10, 10, 10};
    assert_int_equal(kumo_consensus_valset_init(&g_vs, (const uint8_t(*)[32])pubs, powers, 4, NULL),
                     0);
}

static size_t vote_make(uint8_t *buf,
                        uint32_t signer,
                        kumo_consensus_msg_kind_t kind,
                        uint64_t h,
                        uint32_t r,
                        const uint8_t *id)
{
    kumo_consensus_msg_t m = {0};
    m.kind = kind;
    m.height = h;
    m.round = r;
    m.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    m.has_value = id != NULL;
    if (id != NULL) {
        memcpy(m.value_id, id, 32);
    }
    assert_int_equal(kumo_consensus_msg_sign(&m, CHAIN, &g_kps[signer]), 0);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, KUMO_CONSENSUS_VOTE_BYTES, &len), 0);
    assert_int_equal(len, KUMO_CONSENSUS_VOTE_BYTES);
    return len;
}

static void test_msg_round_trip(void **state)
{
    (void)state;
    set_make();
    uint8_t id[32];
    memset(id, 0xab, 32);
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = vote_make(buf, 1, KUMO_CONSENSUS_MSG_PRECOMMIT, 7, 3, id);
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(buf, len), &m, NULL), 0);
    assert_int_equal(m.height, 7);
    assert_int_equal(m.round, 3);
    assert_true(m.has_value);
    assert_memory_equal(m.value_id, id, 32);
    assert_int_equal(kumo_consensus_msg_verify(&m, &g_vs, CHAIN, NULL), 0);
    uint8_t again[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len2 = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, again, sizeof(again), &len2), 0);
    assert_memory_equal(buf, again, len);
    /* A proposal: the id is the SHA-256 of the value. */
    kumo_consensus_msg_t p = {0};
    p.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    p.height = 2;
    p.round = 1;
    p.pol_round = 0;
    p.value = kumo_bytes_make("block", 5);
    kumo_crypto_sha256(p.value, p.value_id);
    assert_int_equal(kumo_consensus_msg_sign(&p, CHAIN, &g_kps[0]), 0);
    uint8_t pb[KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + 5];
    assert_int_equal(kumo_consensus_msg_encode(&p, pb, sizeof(pb), &len), 0);
    assert_int_equal(len, sizeof(pb));
    kumo_consensus_msg_t q;
    assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(pb, len), &q, NULL), 0);
    assert_memory_equal(q.value_id, p.value_id, 32);
    assert_int_equal(q.pol_round, 0);
    assert_int_equal(kumo_consensus_msg_verify(&q, &g_vs, CHAIN, NULL), 0);
    assert_int_equal(kumo_consensus_msg_verify(&q, &g_vs, "other-chain", NULL), KUMO_ESIG);
}

static uint8_t t_buf[KUMO_CONSENSUS_VOTE_BYTES + 1];
static size_t t_len;

static void m_kind_unknown(void)
{
    t_buf[0] = 9;
}
static void m_kind_zero(void)
{
    t_buf[0] = 0;
}
static void m_short(void)
{
    t_len -= 1;
}
static void m_trailing(void)
{
    t_buf[t_len++] = 0;
}
static void m_empty(void)
{
    t_len = 0;
}
static void m_height_zero(void)
{
    memset(t_buf + 1, 0, 8);
}
static void m_round_none(void)
{
    memset(t_buf + 9, 0xff, 4);
}
static void m_has_value_two(void)
{
    t_buf[13] = 2;
}
static void m_nil_with_id(void)
{
    t_buf[13] = 0;
}

static const struct {
    const char *name;
    void (*mutate)(void);
    int want_decode;
} bad_votes[] = {
    {"unknown kind", m_kind_unknown, KUMO_EUNKNOWNMSG},
    {"kind zero", m_kind_zero, KUMO_EUNKNOWNMSG},
    {"one byte short", m_short, KUMO_EDECODE},
    {"trailing byte", m_trailing, KUMO_EDECODE},
    {"empty", m_empty, KUMO_EDECODE},
    {"height zero", m_height_zero, KUMO_EDECODE},
    {"round out of range", m_round_none, KUMO_EDECODE},
    {"has_value 2", m_has_value_two, KUMO_EDECODE},
    {"nil vote with an id", m_nil_with_id, KUMO_EDECODE},
};

static void test_msg_decode_rejects(void **state)
{
    (void)state;
    set_make();
    uint8_t id[32];
    memset(id, 0x11, 32);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(bad_votes); i++) {
        t_len = vote_make(t_buf, 0, KUMO_CONSENSUS_MSG_PREVOTE, 3, 0, id);
        kumo_consensus_msg_t m;
        assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(t_buf, t_len), &m, NULL), 0);
        bad_votes[i].mutate();
        kumo_err_ctx_t err = {0};
        int rc = kumo_consensus_msg_decode(kumo_bytes_make(t_buf, t_len), &m, &err);
        if (rc != bad_votes[i].want_decode) {
            fail_msg("%s: got %s (%s)", bad_votes[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

static void test_msg_verify_rejects(void **state)
{
    (void)state;
    set_make();
    uint8_t id[32];
    memset(id, 0x22, 32);
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = vote_make(buf, 2, KUMO_CONSENSUS_MSG_PREVOTE, 3, 0, id);
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(buf, len), &m, NULL), 0);
    kumo_consensus_msg_t bad = m;
    bad.sig[5] ^= 1; /* flipped signature bit */
    assert_int_equal(kumo_consensus_msg_verify(&bad, &g_vs, CHAIN, NULL), KUMO_ESIG);
    bad = m;
    memset(bad.sig, 0, sizeof(bad.sig)); /* unsigned */
    assert_int_equal(kumo_consensus_msg_verify(&bad, &g_vs, CHAIN, NULL), KUMO_ESIG);
    bad = m;
    bad.round = 1; /* signed for another round */
    assert_int_equal(kumo_consensus_msg_verify(&bad, &g_vs, CHAIN, NULL), KUMO_ESIG);
    /* Signed by a key outside the set. */
    kumo_crypto_keypair_t outsider;
    uint8_t seed[32] = {0x99};
    kumo_crypto_key_from_seed(seed, &outsider);
    bad = m;
    assert_int_equal(kumo_consensus_msg_sign(&bad, CHAIN, &outsider), 0);
    assert_int_equal(kumo_consensus_msg_verify(&bad, &g_vs, CHAIN, NULL), KUMO_EUNAUTH);
}

static void test_msg_value_limit(void **state)
{
    (void)state;
    set_make();
    size_t max = KUMO_CONSENSUS_VALUE_BYTES_MAX;
    uint8_t *value = calloc(1, max + 1);
    uint8_t *buf = calloc(1, KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + max + 1);
    assert_non_null(value);
    assert_non_null(buf);
    for (size_t extra = 0; extra < 2; extra++) {
        kumo_consensus_msg_t p = {0};
        p.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
        p.height = 1;
        p.pol_round = KUMO_CONSENSUS_ROUND_NONE;
        p.value = kumo_bytes_make(value, max + extra);
        size_t len = 0;
        assert_int_equal(
            kumo_consensus_msg_encode(&p, buf, KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + max + 1, &len),
            0);
        kumo_consensus_msg_t q;
        assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(buf, len), &q, NULL),
                         extra == 0 ? 0 : KUMO_ELIMIT);
    }
    free(value);
    free(buf);
}

/* ---- lock/unlock scenario with a fake io ---- */

typedef struct fake {
    uint32_t self;
    uint64_t now_ms;
    uint64_t timer_deadline[KUMO_CONSENSUS_TIMER_COUNT];
    kumo_consensus_msg_t last; /* last broadcast vote */
    uint32_t broadcast_count;
    uint32_t decided_count;
    uint64_t evidence_count;
    uint32_t validate_count;
} fake_t;

static uint64_t f_now(void *ctx)
{
    return ((fake_t *)ctx)->now_ms;
}

static int f_timer(void *ctx, uint32_t id, uint64_t deadline_ms)
{
    ((fake_t *)ctx)->timer_deadline[id] = deadline_ms;
    return 0;
}

static int f_broadcast(void *ctx, kumo_bytes_t msg)
{
    fake_t *f = ctx;
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(msg, &m, NULL), 0);
    if (m.kind != KUMO_CONSENSUS_MSG_PROPOSAL) {
        f->last = m;
    }
    f->broadcast_count++;
    return 0;
}

static int f_sign(void *ctx, kumo_bytes_t msg, uint8_t sig[64])
{
    fake_t *f = ctx;
    int32_t i = kumo_consensus_valset_find(&g_vs, g_vs.v[f->self].pubkey);
    assert_true(i >= 0);
    for (uint32_t k = 0; k < 4; k++) {
        if (memcmp(g_kps[k].pubkey, g_vs.v[f->self].pubkey, 32) == 0) {
            kumo_crypto_sign(&g_kps[k], msg, sig);
        }
    }
    return 0;
}

static int f_value(void *ctx, uint64_t h, kumo_buf_t *out)
{
    (void)ctx;
    (void)h;
    return kumo_buf_append(out, "own", 3);
}

static bool f_valid(void *ctx, uint64_t h, uint32_t proposer_index, kumo_bytes_t v)
{
    fake_t *f = ctx;
    (void)h;
    (void)proposer_index;
    f->validate_count++;
    return v.len > 0 && v.ptr[0] != 'X';
}

static int f_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    (void)d;
    ((fake_t *)ctx)->decided_count++;
    return 0;
}

static void f_evidence(void *ctx, const kumo_consensus_evidence_t *ev)
{
    (void)ev;
    ((fake_t *)ctx)->evidence_count++;
}

static kumo_crypto_keypair_t *kp_of(uint32_t vindex)
{
    for (uint32_t k = 0; k < 4; k++) {
        if (memcmp(g_kps[k].pubkey, g_vs.v[vindex].pubkey, 32) == 0) {
            return &g_kps[k];
        }
    }
    fail_msg("no key");
    return NULL;
}

static void feed_vote(kumo_consensus_t *c,
                      uint32_t from,
                      kumo_consensus_msg_kind_t kind,
                      uint32_t r,
                      const uint8_t *id)
{
    kumo_consensus_msg_t m = {0};
    m.kind = kind;
    m.height = 1;
    m.round = r;
    m.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    m.has_value = id != NULL;
    if (id != NULL) {
        memcpy(m.value_id, id, 32);
    }
    assert_int_equal(kumo_consensus_msg_sign(&m, CHAIN, kp_of(from)), 0);
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL), 0);
}

static void feed_proposal(
    kumo_consensus_t *c, uint32_t r, uint32_t pol, const char *value, uint8_t id[32], int want)
{
    kumo_consensus_msg_t m = {0};
    m.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    m.height = 1;
    m.round = r;
    m.pol_round = pol;
    m.value = kumo_bytes_make(value, strlen(value));
    kumo_crypto_sha256(m.value, m.value_id);
    memcpy(id, m.value_id, 32);
    uint32_t proposer = kumo_consensus_proposer(c, r);
    assert_int_equal(
        kumo_consensus_msg_sign(&m, CHAIN, kp_of(want == 0 ? proposer : (proposer + 1) % 4)), 0);
    uint8_t buf[256];
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL), want);
}

static void test_lock_unlock_scenario(void **state)
{
    (void)state;
    set_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = {.ctx = &f,
                              .now_ms = f_now,
                              .timer_set = f_timer,
                              .broadcast = f_broadcast,
                              .sign = f_sign,
                              .get_value_to_propose = f_value,
                              .validate_value = f_valid,
                              .deliver_decided = f_deliver,
                              .evidence = f_evidence};
    /* Self: a validator that proposes in none of rounds 0-2 (equal powers: round robin). */
    f.self = 3;
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[f.self].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PROPOSE);
    assert_int_equal(f.timer_deadline[KUMO_CONSENSUS_TIMER_PROPOSE], 1000); /* line 21 */
    uint8_t v[32];
    uint8_t w[32];
    uint8_t junk[32];
    /* A proposal signed by a validator that is not the round's proposer is rejected. */
    feed_proposal(c, 0, KUMO_CONSENSUS_ROUND_NONE, "v", junk, KUMO_EUNAUTH);
    /* Round 0: v proposed (line 22) -> prevote v. */
    feed_proposal(c, 0, KUMO_CONSENSUS_ROUND_NONE, "v", v, 0);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PREVOTE);
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PREVOTE);
    assert_true(f.last.has_value);
    assert_memory_equal(f.last.value_id, v, 32);
    /* Two more prevotes for v: 3 of 4 > 2/3 -> lock v at round 0 and precommit v (line 36). */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PREVOTE, 0, v);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PREVOTE);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 0, v);
    uint8_t locked[32];
    assert_int_equal(kumo_consensus_locked_round(c, locked), 0);
    assert_memory_equal(locked, v, 32);
    assert_int_equal(kumo_consensus_valid_round(c), 0);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PRECOMMIT);
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PRECOMMIT);
    assert_memory_equal(f.last.value_id, v, 32);
    /* A second, different prevote of validator 1 is evidence. */
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 0, NULL);
    assert_int_equal(f.evidence_count, 1);
    /* Others precommit nil: 2f+1 precommits of any kind -> precommit timer (line 47). */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PRECOMMIT, 0, NULL);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PRECOMMIT, 0, NULL);
    assert_int_equal(f.timer_deadline[KUMO_CONSENSUS_TIMER_PRECOMMIT], 500);
    f.now_ms = 500;
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PRECOMMIT, NULL),
                     0); /* line 65 */
    assert_int_equal(kumo_consensus_round(c), 1);
    assert_int_equal(f.timer_deadline[KUMO_CONSENSUS_TIMER_PROPOSE], 500 + 1500); /* grew */
    /* Round 1: w proposed fresh; we are locked on v -> prevote nil (line 22-26). */
    feed_proposal(c, 1, KUMO_CONSENSUS_ROUND_NONE, "w", w, 0);
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PREVOTE);
    assert_false(f.last.has_value);
    /* Yet the others prevote w: 3 of 4 including validator 3? no: 0, 1, 2 -> POL for w. */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PREVOTE, 1, w);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 1, w);
    feed_vote(c, 2, KUMO_CONSENSUS_MSG_PREVOTE, 1, w);
    /* Step is prevote no longer matters for the lock: we prevoted nil, so line 36 in step
     * prevote locks w at round 1 (a later POL replaces the lock). */
    assert_int_equal(kumo_consensus_locked_round(c, locked), 1);
    assert_memory_equal(locked, w, 32);
    kumo_consensus_close(c);
}

static void test_unlock_by_later_pol(void **state)
{
    (void)state;
    set_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = {.ctx = &f,
                              .now_ms = f_now,
                              .timer_set = f_timer,
                              .broadcast = f_broadcast,
                              .sign = f_sign,
                              .get_value_to_propose = f_value,
                              .validate_value = f_valid,
                              .deliver_decided = f_deliver};
    f.self = 3;
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[f.self].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    uint8_t v[32];
    uint8_t w[32];
    uint8_t w_id[32];
    kumo_crypto_sha256(kumo_bytes_make("w", 1), w_id);
    /* Round 0: lock v. */
    feed_proposal(c, 0, KUMO_CONSENSUS_ROUND_NONE, "v", v, 0);
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PREVOTE, 0, v);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 0, v);
    assert_int_equal(kumo_consensus_locked_round(c, NULL), 0);
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PRECOMMIT, 0, NULL);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PRECOMMIT, 0, NULL);
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PRECOMMIT, NULL), 0);
    assert_int_equal(kumo_consensus_round(c), 1);
    /* Round 1: we never see the proposal, but the others prevote w: a POL for w at round 1. */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PREVOTE, 1, w_id);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 1, w_id);
    feed_vote(c, 2, KUMO_CONSENSUS_MSG_PREVOTE, 1, w_id);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PROPOSE);
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PROPOSE, NULL), 0); /* 57 */
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PREVOTE);
    assert_false(f.last.has_value);
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PREVOTE, NULL), 0); /* 61 */
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PRECOMMIT);
    assert_false(f.last.has_value);
    assert_int_equal(kumo_consensus_locked_round(c, NULL), 0); /* still locked on v */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PRECOMMIT, 1, NULL);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PRECOMMIT, 1, NULL);
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PRECOMMIT, NULL), 0);
    assert_int_equal(kumo_consensus_round(c), 2);
    /* Round 2: w re-proposed with validRound 1; lockedRound 0 <= 1, so line 28 lets us
     * prevote w although we are locked on v: the unlock. */
    feed_proposal(c, 2, 1, "w", w, 0);
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PREVOTE);
    assert_true(f.last.has_value);
    assert_memory_equal(f.last.value_id, w_id, 32);
    /* 2f+1 prevotes for w at round 2: lock w (line 36), precommit w. */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PREVOTE, 2, w_id);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PREVOTE, 2, w_id);
    uint8_t locked[32];
    assert_int_equal(kumo_consensus_locked_round(c, locked), 2);
    assert_memory_equal(locked, w_id, 32);
    assert_int_equal(f.last.kind, KUMO_CONSENSUS_MSG_PRECOMMIT);
    /* 2f+1 precommits for w: decided (line 49), next height, lock reset. */
    feed_vote(c, 0, KUMO_CONSENSUS_MSG_PRECOMMIT, 2, w_id);
    assert_int_equal(f.decided_count, 0);
    feed_vote(c, 1, KUMO_CONSENSUS_MSG_PRECOMMIT, 2, w_id);
    assert_int_equal(f.decided_count, 1);
    assert_int_equal(kumo_consensus_height(c), 2);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_NEW_HEIGHT);
    assert_int_equal(kumo_consensus_locked_round(c, NULL), KUMO_CONSENSUS_ROUND_NONE);
    (void)w;
    kumo_consensus_close(c);
}

static void test_on_msg_rejects_bad_input(void **state)
{
    (void)state;
    set_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = {.ctx = &f,
                              .now_ms = f_now,
                              .timer_set = f_timer,
                              .broadcast = f_broadcast,
                              .sign = f_sign,
                              .get_value_to_propose = f_value,
                              .validate_value = f_valid,
                              .deliver_decided = f_deliver};
    f.self = 3;
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[f.self].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    uint8_t id[32];
    memset(id, 0x44, 32);
    uint8_t good[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = vote_make(good, 0, KUMO_CONSENSUS_MSG_PREVOTE, 1, 0, id);
    kumo_crypto_keypair_t outsider;
    uint8_t seed[32] = {0x55};
    kumo_crypto_key_from_seed(seed, &outsider);
    uint8_t bufs[5][KUMO_CONSENSUS_VOTE_BYTES + 1];
    size_t lens[5];
    const int want[5] = {KUMO_EDECODE, KUMO_EUNKNOWNMSG, KUMO_ESIG, KUMO_EUNAUTH, KUMO_EDECODE};
    for (int i = 0; i < 5; i++) {
        memcpy(bufs[i], good, len);
        lens[i] = len;
    }
    lens[0] = 10;          /* truncated */
    bufs[1][0] = 7;        /* unknown kind */
    bufs[2][len - 1] ^= 1; /* bad signature */
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(kumo_bytes_make(good, len), &m, NULL), 0);
    assert_int_equal(kumo_consensus_msg_sign(&m, CHAIN, &outsider), 0); /* non-validator */
    assert_int_equal(kumo_consensus_msg_encode(&m, bufs[3], KUMO_CONSENSUS_VOTE_BYTES, &lens[3]),
                     0);
    bufs[4][len] = 0; /* trailing byte */
    lens[4] = len + 1;
    for (int i = 0; i < 5; i++) {
        kumo_err_ctx_t err = {0};
        int rc = kumo_consensus_on_msg(c, kumo_bytes_make(bufs[i], lens[i]), &err);
        if (rc != want[i]) {
            fail_msg("row %d: got %s (%s)", i, kumo_err_name(rc), err.detail);
        }
    }
    /* Nothing was counted: the good vote is still the first from validator 0, no evidence. */
    assert_int_equal(kumo_consensus_on_msg(c, kumo_bytes_make(good, len), NULL), 0);
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PROPOSE);
    assert_int_equal(kumo_consensus_round(c), 0);
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_COUNT, NULL), KUMO_EINVAL);
    kumo_consensus_close(c);
}

static void test_open_rejects(void **state)
{
    (void)state;
    set_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    kumo_consensus_io_t io = {.ctx = &f,
                              .now_ms = f_now,
                              .timer_set = f_timer,
                              .broadcast = f_broadcast,
                              .sign = f_sign,
                              .get_value_to_propose = f_value,
                              .validate_value = f_valid,
                              .deliver_decided = f_deliver};
    kumo_consensus_t *c = NULL;
    uint8_t outsider[32] = {1};
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, outsider, 1, &io, &c, NULL), KUMO_EUNAUTH);
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[0].pubkey, 0, &io, &c, NULL),
                     KUMO_EINVAL);
    cfg.history_count = 0;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[0].pubkey, 1, &io, &c, NULL),
                     KUMO_EINVAL);
    kumo_consensus_cfg_default(&cfg);
    io.sign = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[0].pubkey, 1, &io, &c, NULL),
                     KUMO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proposer_weighted_frequencies),
        cmocka_unit_test(test_proposer_tie_breaks_by_address),
        cmocka_unit_test(test_valset_rejects),
        cmocka_unit_test(test_quorum_boundaries),
        cmocka_unit_test(test_timeouts_grow_per_round),
        cmocka_unit_test(test_msg_round_trip),
        cmocka_unit_test(test_msg_decode_rejects),
        cmocka_unit_test(test_msg_verify_rejects),
        cmocka_unit_test(test_msg_value_limit),
        cmocka_unit_test(test_lock_unlock_scenario),
        cmocka_unit_test(test_unlock_by_later_pol),
        cmocka_unit_test(test_on_msg_rejects_bad_input),
        cmocka_unit_test(test_open_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
