/*
 * test_valset_change.c - proves the engine takes each height's validator set from
 * io.valset_get: next-height messages are checked against the next height's set (a joining
 * validator's vote is kept, a leaving one's refused), the decided height hands over to the
 * new set with its priorities, a validator the new set leaves out observes (decides, signs
 * nothing), old-height messages are checked against the set of their own height, and an
 * observer may open only when sets can change.
 */
#include "helpers/testutil.h"

#include <string.h>

#include "consensus/consensus.h"

#define CHAIN "kumo-unit"
#define KEYS  5u

static kumo_crypto_keypair_t g_kps[KEYS];
static kumo_consensus_valset_t g_sets[4]; /* by height 1..3 */

typedef struct fake {
    uint64_t now_ms;
    uint32_t votes_sent;
    uint32_t decided;
    uint32_t valset_asks;
} fake_t;

static void sets_make(void)
{
    for (uint32_t i = 0; i < KEYS; i++) {
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)(i + 1);
        seed[1] = 0x55;
        kumo_crypto_key_from_seed(seed, &g_kps[i]);
    }
    /* Height 1: keys 0..3. Heights 2, 3: key 0 left, key 4 joined. */
    uint8_t a[4][32];
    uint8_t b[4][32];
    const uint64_t powers[4] = {10, 10, 10, 10};
    for (uint32_t i = 0; i < 4; i++) {
        memcpy(a[i], g_kps[i].pubkey, 32);
        memcpy(b[i], g_kps[i + 1].pubkey, 32);
    }
    kumo_consensus_valset_t members;
    assert_int_equal(
        kumo_consensus_valset_init(&g_sets[1], (const uint8_t(*)[32])a, powers, 4, NULL), 0);
    assert_int_equal(kumo_consensus_valset_init(&members, (const uint8_t(*)[32])b, powers, 4, NULL),
                     0);
    kumo_consensus_valset_next(&g_sets[1], &members, &g_sets[2]);
    kumo_consensus_valset_next(&g_sets[2], &members, &g_sets[3]);
}

static uint64_t f_now(void *ctx)
{
    return ((fake_t *)ctx)->now_ms;
}

static int f_timer(void *ctx, uint32_t id, uint64_t deadline_ms)
{
    (void)ctx;
    (void)id;
    (void)deadline_ms;
    return 0;
}

static int f_broadcast(void *ctx, kumo_bytes_t msg)
{
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(msg, &m, NULL), 0);
    ((fake_t *)ctx)->votes_sent += m.kind != KUMO_CONSENSUS_MSG_PROPOSAL ? 1u : 0u;
    return 0;
}

static int f_send(void *ctx, uint32_t index, kumo_bytes_t msg)
{
    (void)ctx;
    (void)index;
    (void)msg;
    fail_msg("no catch-up answer expected");
    return 0;
}

static int f_sign(void *ctx, kumo_bytes_t msg, uint8_t sig[64])
{
    (void)ctx;
    kumo_crypto_sign(&g_kps[0], msg, sig);
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
    (void)ctx;
    (void)h;
    (void)proposer_index;
    return v.len > 0;
}

static int f_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    (void)d;
    ((fake_t *)ctx)->decided++;
    return 0;
}

static int f_valset(void *ctx, uint64_t height, kumo_consensus_valset_t *out)
{
    assert_true(height >= 1 && height <= 3);
    ((fake_t *)ctx)->valset_asks++;
    *out = g_sets[height];
    return 0;
}

static kumo_consensus_io_t io_make(fake_t *f)
{
    return (kumo_consensus_io_t){.ctx = f,
                                 .now_ms = f_now,
                                 .timer_set = f_timer,
                                 .broadcast = f_broadcast,
                                 .send = f_send,
                                 .sign = f_sign,
                                 .get_value_to_propose = f_value,
                                 .validate_value = f_valid,
                                 .deliver_decided = f_deliver,
                                 .valset_get = f_valset};
}

static int feed(kumo_consensus_t *c, kumo_consensus_msg_t *m, uint32_t key)
{
    m->pol_round = KUMO_CONSENSUS_ROUND_NONE;
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        kumo_crypto_sha256(m->value, m->value_id);
    }
    assert_int_equal(kumo_consensus_msg_sign(m, CHAIN, &g_kps[key]), 0);
    uint8_t buf[256];
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(m, buf, sizeof(buf), &len), 0);
    return kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL);
}

/* The key of validator index vi in the set of height. */
static uint32_t key_of(uint64_t height, uint32_t vi)
{
    for (uint32_t k = 0; k < KEYS; k++) {
        if (memcmp(g_kps[k].pubkey, g_sets[height].v[vi].pubkey, 32) == 0) {
            return k;
        }
    }
    fail_msg("no key");
    return 0;
}

/* Round 0 of height decided by the set's proposer and three precommits, none of key 0. */
static void height_decide(kumo_consensus_t *c, uint64_t height, const char *value)
{
    kumo_consensus_msg_t p = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = height,
                              .has_value = true,
                              .value = kumo_bytes_make(value, strlen(value))};
    uint32_t proposer = key_of(height, kumo_consensus_valset_proposer(&g_sets[height], 0));
    if (proposer != 0) {
        assert_int_equal(feed(c, &p, proposer), 0);
    }
    kumo_crypto_sha256(p.value, p.value_id);
    uint32_t sent = 0;
    for (uint32_t k = 1; k < KEYS && sent < 3; k++) {
        if (kumo_consensus_valset_find(&g_sets[height], g_kps[k].pubkey) < 0) {
            continue;
        }
        kumo_consensus_msg_t v = {
            .kind = KUMO_CONSENSUS_MSG_PRECOMMIT, .height = height, .has_value = true};
        memcpy(v.value_id, p.value_id, 32);
        assert_int_equal(feed(c, &v, k), 0);
        sent++;
    }
}

static void test_sets_change_per_height(void **state)
{
    (void)state;
    sets_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = io_make(&f);
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_sets[1], g_kps[0].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    assert_int_not_equal(kumo_consensus_self(c), KUMO_CONSENSUS_SELF_NONE);
    /* Next-height votes: the joining key's is kept (buffered), the leaving key's refused. */
    kumo_consensus_msg_t v = {.kind = KUMO_CONSENSUS_MSG_PREVOTE, .height = 2};
    assert_int_equal(feed(c, &v, 4), 0);
    kumo_consensus_msg_t w = {.kind = KUMO_CONSENSUS_MSG_PREVOTE, .height = 2};
    assert_int_equal(feed(c, &w, 0), KUMO_EUNAUTH);
    /* And this height's from the joining key are refused. */
    kumo_consensus_msg_t x = {.kind = KUMO_CONSENSUS_MSG_PREVOTE, .height = 1};
    assert_int_equal(feed(c, &x, 4), KUMO_EUNAUTH);
    assert_int_equal(f.valset_asks, 1); /* the next set, once per height */
    height_decide(c, 1, "one");
    assert_int_equal(f.decided, 1);
    assert_int_equal(kumo_consensus_height(c), 2);
    const kumo_consensus_valset_t *now = kumo_consensus_valset(c);
    assert_memory_equal(now, &g_sets[2], sizeof(*now));
    assert_int_equal(kumo_consensus_self(c), KUMO_CONSENSUS_SELF_NONE);
    /* An observer: its timers pass without a vote, and it still decides. */
    uint32_t sent = f.votes_sent;
    for (uint32_t t = 0; t < KUMO_CONSENSUS_TIMER_COUNT; t++) {
        assert_int_equal(kumo_consensus_on_timer(c, t, NULL), 0);
    }
    assert_int_equal(kumo_consensus_on_timer(c, KUMO_CONSENSUS_TIMER_PROPOSE, NULL), 0);
    assert_int_equal(f.votes_sent, sent);
    height_decide(c, 2, "two");
    assert_int_equal(f.decided, 2);
    assert_int_equal(f.votes_sent, sent);
    assert_int_equal(kumo_consensus_height(c), 3);
    /* Height 1's messages are checked against height 1's set (kept in history): key 0 still
     * verifies there (nothing to answer: it is no validator now), key 4 does not. */
    kumo_consensus_msg_t old = {.kind = KUMO_CONSENSUS_MSG_PRECOMMIT, .height = 1};
    assert_int_equal(feed(c, &old, 0), 0);
    kumo_consensus_msg_t old4 = {.kind = KUMO_CONSENSUS_MSG_PRECOMMIT, .height = 1};
    assert_int_equal(feed(c, &old4, 4), KUMO_EUNAUTH);
    kumo_consensus_close(c);
}

static void test_observer_opens_only_with_sets_per_height(void **state)
{
    (void)state;
    sets_make();
    fake_t f = {0};
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = io_make(&f);
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_sets[1], g_kps[4].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_self(c), KUMO_CONSENSUS_SELF_NONE);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    assert_int_equal(f.votes_sent, 0);
    /* Key 4 joins at height 2: from then on it signs. */
    height_decide(c, 1, "one");
    assert_int_not_equal(kumo_consensus_self(c), KUMO_CONSENSUS_SELF_NONE);
    kumo_consensus_close(c);
    io.valset_get = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_sets[1], g_kps[4].pubkey, 1, &io, &c, NULL),
                     KUMO_EUNAUTH);
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_change_per_height),
        cmocka_unit_test(test_observer_opens_only_with_sets_per_height),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
