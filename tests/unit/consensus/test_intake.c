/*
 * test_intake.c - what the engine keeps of the messages it is given, and what that costs: a
 * message reaches io.wal_append only when the engine stores it (new, current height, a round
 * at most KUMO_CONSENSUS_ROUND_WINDOW above ours, one value per round from its proposer unless
 * f+1 power voted for another), values are executed (io.validate_value) only when a rule needs
 * the answer, rounds beyond the window only count toward the f+1 round skip, the next height's
 * buffer takes a bounded set, and a WAL replay stores what the window would refuse. A 4-validator
 * set of power 10 each and a fake io that counts; each table row is one message fed in order
 * to one engine, with the expected result, WAL appends and counters.
 */
#include "helpers/testutil.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define CHAIN "kumo-intake"
#define W     KUMO_CONSENSUS_ROUND_WINDOW

static kumo_crypto_keypair_t g_kps[4];
static kumo_consensus_valset_t g_vs;
static kumo_crypto_keypair_t g_outsider;

typedef struct fake {
    uint32_t self;
    uint32_t wal_count;
    uint32_t validate_count;
    uint32_t decided_count;
    uint32_t evidence_count;
    uint8_t decided_id[32];
    uint32_t validated_proposer; /* proposer_index of the last validate_value */
    uint64_t now_ms;
    uint32_t sent_count; /* io.send: catch-up answers */
} fake_t;

static void set_make(void)
{
    uint8_t pubs[4][32];
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)(i + 1);
        seed[1] = 0x91;
        kumo_crypto_key_from_seed(seed, &g_kps[i]);
        memcpy(pubs[i], g_kps[i].pubkey, 32);
    }
    const uint64_t powers[4] = {10, 10, 10, 10};
    assert_int_equal(kumo_consensus_valset_init(&g_vs, (const uint8_t(*)[32])pubs, powers, 4, NULL),
                     0);
    uint8_t seed[32] = {0x66};
    kumo_crypto_key_from_seed(seed, &g_outsider);
}

static const kumo_crypto_keypair_t *kp_of(uint32_t vindex)
{
    for (uint32_t k = 0; k < 4; k++) {
        if (memcmp(g_kps[k].pubkey, g_vs.v[vindex].pubkey, 32) == 0) {
            return &g_kps[k];
        }
    }
    fail_msg("no key");
    return NULL;
}

static uint64_t f_now(void *ctx)
{
    return ((fake_t *)ctx)->now_ms;
}

static int f_send(void *ctx, uint32_t index, kumo_bytes_t msg)
{
    (void)index;
    (void)msg;
    ((fake_t *)ctx)->sent_count++;
    return 0;
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
    (void)ctx;
    (void)msg;
    return 0;
}

static int f_sign(void *ctx, kumo_bytes_t msg, uint8_t sig[64])
{
    fake_t *f = ctx;
    kumo_crypto_sign(kp_of(f->self), msg, sig);
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
    f->validate_count++;
    f->validated_proposer = proposer_index;
    return v.len > 0 && v.ptr[0] != 'X';
}

static int f_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    fake_t *f = ctx;
    f->decided_count++;
    memcpy(f->decided_id, d->value_id, 32);
    return 0;
}

static void f_evidence(void *ctx, const kumo_consensus_evidence_t *ev)
{
    (void)ev;
    ((fake_t *)ctx)->evidence_count++;
}

static int f_wal(void *ctx, kumo_bytes_t msg)
{
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(msg, &m, NULL), 0);
    ((fake_t *)ctx)->wal_count++;
    return 0;
}

/* An engine for validator self (3: it proposes none of rounds 0-2 at height 1), started. */
static kumo_consensus_t *engine_make(fake_t *f)
{
    set_make();
    memset(f, 0, sizeof(*f));
    f->self = 3;
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    kumo_consensus_io_t io = {.ctx = f,
                              .now_ms = f_now,
                              .timer_set = f_timer,
                              .broadcast = f_broadcast,
                              .send = f_send,
                              .sign = f_sign,
                              .get_value_to_propose = f_value,
                              .validate_value = f_valid,
                              .deliver_decided = f_deliver,
                              .evidence = f_evidence,
                              .wal_append = f_wal};
    kumo_consensus_t *c = NULL;
    assert_int_equal(kumo_consensus_open(&cfg, &g_vs, g_vs.v[f->self].pubkey, 1, &io, &c, NULL), 0);
    assert_int_equal(kumo_consensus_start(c, NULL), 0);
    assert_int_equal(kumo_consensus_proposer(c, 0) == f->self, false);
    return c;
}

/* ---- message makers: kind, height, round, signer (4 = a non-validator), value ---- */

enum {
    OUTSIDER = 4,
    PROPOSER = 5,     /* the proposer of (height, round) */
    NOT_PROPOSER = 6, /* a validator that is not */
    PROPOSER_W = 7    /* the proposer of (height, W): its far rounds never make f+1 alone */
};

typedef struct msg_spec {
    kumo_consensus_msg_kind_t kind;
    uint64_t height;
    uint32_t round;
    uint32_t signer;
    const char *value; /* proposals: the value; votes: the id is SHA-256 of it (NULL: nil) */
} msg_spec_t;

static uint32_t proposer_at(uint64_t height, uint32_t round)
{
    kumo_consensus_valset_t vs = g_vs;
    for (uint64_t h = 1; h < height; h++) {
        (void)kumo_consensus_valset_priority_step(&vs);
    }
    return kumo_consensus_valset_proposer(&vs, round);
}

static size_t msg_make(const msg_spec_t *s, uint8_t *buf, size_t cap)
{
    kumo_consensus_msg_t m = {0};
    m.kind = s->kind;
    m.height = s->height;
    m.round = s->round;
    m.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    if (s->value != NULL) {
        m.has_value = true;
        kumo_crypto_sha256(kumo_bytes_make(s->value, strlen(s->value)), m.value_id);
    }
    if (s->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        m.value = kumo_bytes_make(s->value, strlen(s->value));
    }
    uint32_t signer = s->signer;
    if (s->signer == PROPOSER || s->signer == NOT_PROPOSER) {
        signer = (proposer_at(s->height, s->round) + (s->signer == PROPOSER ? 0u : 1u)) % 4u;
    } else if (s->signer == PROPOSER_W) {
        signer = proposer_at(s->height, W);
    }
    const kumo_crypto_keypair_t *kp = signer == OUTSIDER ? &g_outsider : kp_of(signer);
    assert_int_equal(kumo_consensus_msg_sign(&m, CHAIN, kp), 0);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, cap, &len), 0);
    return len;
}

static int feed(kumo_consensus_t *c, const msg_spec_t *s)
{
    uint8_t buf[512];
    size_t len = msg_make(s, buf, sizeof(buf));
    return kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL);
}

#define PV KUMO_CONSENSUS_MSG_PREVOTE
#define PC KUMO_CONSENSUS_MSG_PRECOMMIT
#define PR KUMO_CONSENSUS_MSG_PROPOSAL

/* Each row: one message, fed in order to one engine at height 1, round 0. */
static const struct {
    const char *name;
    msg_spec_t msg;
    int want_rc;
    uint32_t want_wal;   /* io.wal_append calls for this message (and our reaction) */
    const char *counter; /* the counter it must raise (NULL: stored) */
} g_rows[] = {
    {"first vote is kept", {PV, 1, 0, 0, "a"}, 0, 1, NULL},
    {"the same vote again", {PV, 1, 0, 0, "a"}, 0, 0, "duplicate"},
    {"a non-validator's vote", {PV, 1, 0, OUTSIDER, "a"}, KUMO_EUNAUTH, 0, NULL},
    {"a vote of a far height", {PV, 9, 0, 0, "a"}, 0, 0, "other_height"},
    {"a next-height vote (buffered, logged when replayed)", {PV, 2, 0, 0, "a"}, 0, 0, NULL},
    {"the same next-height vote", {PV, 2, 0, 0, "a"}, 0, 0, "duplicate"},
    {"another next-height vote of the same slot", {PV, 2, 0, 0, "b"}, 0, 0, "future_dropped"},
    {"a next-height vote past the window", {PV, 2, W + 1, 0, "a"}, 0, 0, "future_dropped"},
    {"a next-height proposal of a non-proposer",
     {PR, 2, 0, NOT_PROPOSER, "p"},
     0,
     0,
     "future_dropped"},
    {"a vote at the window's edge", {PC, 1, W, PROPOSER_W, NULL}, 0, 1, NULL},
    {"a vote past the window", {PC, 1, W + 1, PROPOSER_W, NULL}, 0, 0, "round_window"},
    {"a vote at the last round", {PC, 1, 1023, PROPOSER_W, NULL}, 0, 0, "round_window"},
    {"a vote past the last round", {PC, 1, 1024, PROPOSER_W, NULL}, 0, 0, "round_window"},
    {"a conflicting vote (evidence)", {PV, 1, 0, 0, NULL}, 0, 1, NULL},
    {"a second conflicting value", {PV, 1, 0, 0, "c"}, 0, 1, NULL},
    {"a third conflicting value", {PV, 1, 0, 0, "d"}, 0, 1, NULL},
    {"a fourth: no room", {PV, 1, 0, 0, "e"}, 0, 0, "duplicate"},
    {"the round's proposal (and our prevote)", {PR, 1, 0, PROPOSER, "v"}, 0, 2, NULL},
    {"the same proposal again", {PR, 1, 0, PROPOSER, "v"}, 0, 0, "duplicate"},
    {"a second value of the proposer", {PR, 1, 0, PROPOSER, "v2"}, 0, 0, "proposal_refused"},
    {"a proposal of a non-proposer", {PR, 1, 1, NOT_PROPOSER, "v"}, KUMO_EUNAUTH, 0, NULL},
    {"a proposal in the window", {PR, 1, W, PROPOSER, "X-junk"}, 0, 1, NULL},
    {"a proposal past the window", {PR, 1, W + 1, PROPOSER, "X-junk"}, 0, 0, "round_window"},
};

static uint64_t counter_get(const kumo_consensus_counters_t *k, const char *name)
{
    if (strcmp(name, "duplicate") == 0) {
        return k->duplicate;
    }
    if (strcmp(name, "other_height") == 0) {
        return k->other_height;
    }
    if (strcmp(name, "future_dropped") == 0) {
        return k->future_dropped;
    }
    if (strcmp(name, "round_window") == 0) {
        return k->round_window;
    }
    if (strcmp(name, "proposal_refused") == 0) {
        return k->proposal_refused;
    }
    fail_msg("counter %s", name);
    return 0;
}

static void test_intake_logs_only_what_it_keeps(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(g_rows); i++) {
        kumo_consensus_counters_t before;
        kumo_consensus_counters_get(c, &before);
        uint32_t wal_before = f.wal_count;
        int rc = feed(c, &g_rows[i].msg);
        kumo_consensus_counters_t after;
        kumo_consensus_counters_get(c, &after);
        if (rc != g_rows[i].want_rc || f.wal_count - wal_before != g_rows[i].want_wal) {
            fail_msg("%s: rc %s, %u WAL appends", g_rows[i].name, kumo_err_name(rc),
                     f.wal_count - wal_before);
        }
        if (g_rows[i].counter != NULL && counter_get(&after, g_rows[i].counter) !=
                                             counter_get(&before, g_rows[i].counter) + 1u) {
            fail_msg("%s: %s not counted", g_rows[i].name, g_rows[i].counter);
        }
        if (after.stored != before.stored + g_rows[i].want_wal) {
            fail_msg("%s: not counted as stored", g_rows[i].name);
        }
    }
    assert_int_equal(f.evidence_count, 1);
    /* Only the round-0 proposal was executed (to prevote it); the junk of round W was not. */
    assert_int_equal(f.validate_count, 1);
    /* The proposers of rounds W and W + 1 both reached W + 1 (f+1): line 55 moved us, and
     * the refused proposal of that round is not held (nothing to execute there). */
    assert_int_equal(kumo_consensus_round(c), W + 1u);
    kumo_consensus_close(c);
}

/* A value executes only when a rule needs valid(v): the round's proposal when we are about to
 * prevote it, never the proposals of rounds we have not reached. */
static void test_intake_executes_lazily(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    /* One validator's proposal for a later round (two would be f+1: line 55 moves us). */
    assert_true(proposer_at(1, W) != f.self);
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, W, PROPOSER, "X-not-yet"}), 0);
    assert_int_equal(f.validate_count, 0);
    assert_int_equal(kumo_consensus_round(c), 0);
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "v"}), 0);
    assert_int_equal(f.validate_count, 1); /* line 22: about to prevote */
    assert_int_equal(f.validated_proposer, proposer_at(1, 0));
    assert_int_equal(kumo_consensus_step(c), KUMO_CONSENSUS_STEP_PREVOTE);
    kumo_consensus_close(c);
}

/* A second value of a round's proposer is kept only once f+1 power voted for it, and can then
 * be decided; the proposer alone cannot make us keep it. */
static void test_intake_second_value_needs_f_plus_1(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    uint32_t p0 = proposer_at(1, 0);
    uint32_t others[2];
    uint32_t n = 0;
    for (uint32_t i = 0; i < 4 && n < 2; i++) {
        if (i != p0 && i != f.self) {
            others[n++] = i;
        }
    }
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "v"}), 0);
    uint32_t wal = f.wal_count;
    assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 0, p0, "w"}), 0); /* the proposer's own vote */
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "w"}), 0);
    kumo_consensus_counters_t k;
    kumo_consensus_counters_get(c, &k);
    assert_int_equal(k.proposal_refused, 1);
    assert_int_equal(f.wal_count, wal + 1u);                               /* the vote only */
    assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 0, others[0], "w"}), 0); /* f+1 now */
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "w"}), 0);
    assert_int_equal(f.wal_count, wal + 3u);
    assert_int_equal(f.decided_count, 0);
    assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 0, others[1], "w"}), 0); /* +2/3: decide */
    assert_int_equal(f.decided_count, 1);
    uint8_t w_id[32];
    kumo_crypto_sha256(kumo_bytes_make("w", 1), w_id);
    assert_memory_equal(f.decided_id, w_id, 32);
    kumo_consensus_close(c);
}

/* Line 55 with the window: messages past it are not stored, but f+1 power at a far round
 * moves us there; the byzantine third alone does not. */
static void test_intake_far_round_skip(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    uint32_t wal = f.wal_count;
    assert_int_equal(feed(c, &(msg_spec_t){PV, 1, 700, 0, NULL}), 0);
    assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 900, 0, NULL}), 0);
    assert_int_equal(kumo_consensus_round(c), 0); /* one validator (a third at most) */
    assert_int_equal(feed(c, &(msg_spec_t){PV, 1, 100, 1, NULL}), 0);
    assert_int_equal(kumo_consensus_round(c), 100); /* two reached 100 or more: f+1 */
    assert_int_equal(f.wal_count, wal);             /* none of the far votes */
    kumo_consensus_close(c);
}

/* A WAL replay stores what the window refuses on the wire (rounds reached by timeouts before a
 * crash), without logging it again. */
static void test_replay_ignores_window(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    uint8_t buf[512];
    size_t len = msg_make(&(msg_spec_t){PV, 1, 50, 0, "a"}, buf, sizeof(buf));
    assert_int_equal(kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL), 0);
    kumo_consensus_counters_t k;
    kumo_consensus_counters_get(c, &k);
    assert_int_equal(k.round_window, 1);
    assert_int_equal(k.stored, 0);
    assert_int_equal(kumo_consensus_replay(c, kumo_bytes_make(buf, len), NULL), 0);
    kumo_consensus_counters_get(c, &k);
    assert_int_equal(k.stored, 1);
    assert_int_equal(f.wal_count, 0);
    assert_int_equal(kumo_consensus_replay(c, kumo_bytes_make(buf, len), NULL), 0);
    kumo_consensus_counters_get(c, &k);
    assert_int_equal(k.duplicate, 1);
    kumo_consensus_close(c);
}

/* Buffered next-height messages are logged when the new height replays them. */
static void test_future_logged_at_next_height(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    assert_int_equal(feed(c, &(msg_spec_t){PR, 2, 0, PROPOSER, "next"}), 0);
    assert_int_equal(feed(c, &(msg_spec_t){PR, 2, 0, PROPOSER, "next-other"}), 0);
    assert_int_equal(feed(c, &(msg_spec_t){PV, 2, 0, 1, "next"}), 0);
    assert_int_equal(f.wal_count, 0);
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "v"}), 0);
    uint32_t wal = f.wal_count; /* the proposal and our prevote */
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 0, i, "v"}), 0);
    }
    assert_int_equal(f.decided_count, 1);
    assert_int_equal(kumo_consensus_height(c), 2);
    /* 3 precommits of height 1, then the 2 buffered messages of height 2. */
    assert_int_equal(f.wal_count, wal + 3u + 2u);
    kumo_consensus_close(c);
}

/* A copy of a message the engine holds (a rebroadcast, a relayed commit) is recognised before
 * its signature is checked; a message that differs in any signed field or in its signature is
 * checked. */
static void test_copies_are_not_checked_again(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    static const struct {
        const char *name;
        msg_spec_t msg;
        uint64_t want_verified;
        uint64_t want_duplicate;
    } rows[] = {
        {"a first vote", {PV, 1, 0, 0, "a"}, 1, 0},
        {"its copy", {PV, 1, 0, 0, "a"}, 0, 1},
        {"the same slot for another value", {PV, 1, 0, 0, "b"}, 1, 0},
        {"the same value in another round", {PV, 1, 1, 0, "a"}, 1, 0},
        {"the same value as a precommit", {PC, 1, 0, 0, "a"}, 1, 0},
        {"a proposal", {PR, 1, 0, PROPOSER, "v"}, 1, 0},
        {"its copy", {PR, 1, 0, PROPOSER, "v"}, 0, 1},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        kumo_consensus_counters_t before;
        kumo_consensus_counters_get(c, &before);
        assert_int_equal(feed(c, &rows[i].msg), 0);
        kumo_consensus_counters_t after;
        kumo_consensus_counters_get(c, &after);
        if (after.verified - before.verified != rows[i].want_verified ||
            after.duplicate - before.duplicate != rows[i].want_duplicate) {
            fail_msg("%s: %" PRIu64 " checked, %" PRIu64 " duplicate", rows[i].name,
                     after.verified - before.verified, after.duplicate - before.duplicate);
        }
    }
    /* A copy with another signature over the same content is checked, and refused. */
    uint8_t buf[512];
    size_t len = msg_make(&(msg_spec_t){PV, 1, 0, 0, "a"}, buf, sizeof(buf));
    buf[len - 1u] ^= 1u;
    kumo_consensus_counters_t before;
    kumo_consensus_counters_get(c, &before);
    assert_int_equal(kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL), KUMO_ESIG);
    kumo_consensus_counters_t after;
    kumo_consensus_counters_get(c, &after);
    assert_int_equal(after.verified, before.verified + 1u);
    kumo_consensus_close(c);
}

/* Decides height 1 on value "v" (the proposal and the precommits of validators 0..2). */
static void height_one_decide(kumo_consensus_t *c, fake_t *f)
{
    assert_int_equal(feed(c, &(msg_spec_t){PR, 1, 0, PROPOSER, "v"}), 0);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(feed(c, &(msg_spec_t){PC, 1, 0, i, "v"}), 0);
    }
    assert_int_equal(f->decided_count, 1);
    assert_int_equal(kumo_consensus_height(c), 2);
}

/* A validator still at a decided height is answered with its commit, but only once it is
 * a rebroadcast period behind (one just behind gets there on the messages in flight), and at
 * most once per period; a copy of a precommit of the commit is not checked again. */
static void test_catch_up_waits_a_period(void **state)
{
    (void)state;
    fake_t f;
    kumo_consensus_t *c = engine_make(&f);
    f.now_ms = 5000;
    height_one_decide(c, &f);
    kumo_consensus_counters_t k0;
    kumo_consensus_counters_get(c, &k0);
    static const struct {
        const char *name;
        uint64_t now_ms;
        msg_spec_t msg;
        uint32_t want_sent; /* 0, or the commit's 3 precommits and the proposal */
        uint64_t want_verified;
    } rows[] = {
        {"a late precommit at once", 5000, {PC, 1, 0, 0, "v"}, 0, 0},
        {"a late prevote just before a period", 5999, {PV, 1, 0, 1, "v"}, 0, 1},
        {"a period later", 6000, {PV, 1, 0, 1, "v"}, 4, 1},
        {"again in the same period", 6500, {PC, 1, 0, 1, "v"}, 0, 0},
        {"another validator", 6500, {PC, 1, 0, 2, "v"}, 4, 0},
        {"the next period", 7000, {PV, 1, 0, 1, "v"}, 4, 1},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        f.now_ms = rows[i].now_ms;
        uint32_t sent = f.sent_count;
        kumo_consensus_counters_t before;
        kumo_consensus_counters_get(c, &before);
        assert_int_equal(feed(c, &rows[i].msg), 0);
        kumo_consensus_counters_t after;
        kumo_consensus_counters_get(c, &after);
        if (f.sent_count - sent != rows[i].want_sent ||
            after.verified - before.verified != rows[i].want_verified ||
            after.other_height != before.other_height + 1u) {
            fail_msg("%s: %u sent, %" PRIu64 " checked", rows[i].name, f.sent_count - sent,
                     after.verified - before.verified);
        }
    }
    kumo_consensus_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intake_logs_only_what_it_keeps),
        cmocka_unit_test(test_intake_executes_lazily),
        cmocka_unit_test(test_intake_second_value_needs_f_plus_1),
        cmocka_unit_test(test_intake_far_round_skip),
        cmocka_unit_test(test_replay_ignores_window),
        cmocka_unit_test(test_future_logged_at_next_height),
        cmocka_unit_test(test_copies_are_not_checked_again),
        cmocka_unit_test(test_catch_up_waits_a_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
