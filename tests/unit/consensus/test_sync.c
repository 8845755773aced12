/*
 * test_sync.c - block sync (src/consensus/sync.c): the wire codec (every message kind
 * round-trips; every malformed input of a table is refused with its own code; the limits at
 * MAX and MAX + 1) and the policy, driven by hand with a virtual clock: a claim alone never
 * stops consensus, however high; only a verified block hands over; unproven peers are only
 * asked while consensus runs; timeouts, "no block" and invalid blocks are faults that mark
 * the peer ignored; a request consensus overtakes is still owed (a silent liar is caught on a
 * fast chain) and its late answer is no fault; the stuck rule; the bounded peer table.
 */
#include "helpers/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/sync.h"

/* ---- codec ---- */

static size_t enc(const kumo_consensus_sync_msg_t *m, uint8_t *out, size_t cap)
{
    size_t len = 0;
    assert_int_equal(kumo_consensus_sync_msg_encode(m, out, cap, &len), 0);
    assert_int_equal(len, kumo_consensus_sync_msg_bytes(m));
    return len;
}

static void test_msg_round_trip(void **state)
{
    (void)state;
    uint8_t blk[5] = {1, 2, 3, 4, 5};
    uint8_t commit[3] = {9, 8, 7};
    const kumo_consensus_sync_msg_t msgs[] = {
        {.kind = KUMO_CONSENSUS_SYNC_STATUS, .height = 0},
        {.kind = KUMO_CONSENSUS_SYNC_STATUS, .height = UINT64_MAX},
        {.kind = KUMO_CONSENSUS_SYNC_REQUEST, .height = 7},
        {.kind = KUMO_CONSENSUS_SYNC_NO_BLOCK, .height = 1},
        {.kind = KUMO_CONSENSUS_SYNC_BLOCK,
         .height = 42,
         .block = {blk, sizeof(blk)},
         .commit = {commit, sizeof(commit)}},
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        uint8_t buf[64];
        size_t len = enc(&msgs[i], buf, sizeof(buf));
        kumo_consensus_sync_msg_t out;
        assert_int_equal(kumo_consensus_sync_msg_decode(kumo_bytes_make(buf, len), &out, NULL), 0);
        assert_int_equal(out.kind, msgs[i].kind);
        assert_true(out.height == msgs[i].height);
        assert_int_equal(out.block.len, msgs[i].block.len);
        assert_int_equal(out.commit.len, msgs[i].commit.len);
        uint8_t again[64];
        assert_int_equal(enc(&out, again, sizeof(again)), len);
        assert_memory_equal(again, buf, len);
    }
    uint8_t tiny[8];
    size_t len = 0;
    assert_int_equal(kumo_consensus_sync_msg_encode(&msgs[0], tiny, sizeof(tiny), &len),
                     KUMO_ELIMIT);
}

/* A valid BLOCK of the given block and commit sizes, built in a malloc'd buffer. */
static uint8_t *block_msg(size_t blk_len, size_t commit_len, size_t *len_out)
{
    size_t len = KUMO_CONSENSUS_SYNC_HEADER_BYTES + 8u + blk_len + commit_len;
    uint8_t *b = calloc(1, len);
    assert_non_null(b);
    b[0] = KUMO_CONSENSUS_SYNC_BLOCK;
    kumo_be64_put(b + 1, 5);
    kumo_be32_put(b + 9, (uint32_t)blk_len);
    kumo_be32_put(b + 13 + blk_len, (uint32_t)commit_len);
    *len_out = len;
    return b;
}

static void test_msg_limits(void **state)
{
    (void)state;
    const struct {
        const char *name;
        size_t blk_len;
        size_t commit_len;
        int want;
    } cases[] = {
        {"block at max", KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX, 1, 0},
        {"block over max", KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX + 1u, 1, KUMO_ELIMIT},
        {"commit at max", 1, KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX, 0},
        {"commit over max", 1, KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX + 1u, KUMO_ELIMIT},
        {"largest message", KUMO_CONSENSUS_SYNC_BLOCK_BYTES_MAX,
         KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        uint8_t *b = block_msg(cases[i].blk_len, cases[i].commit_len, &len);
        kumo_consensus_sync_msg_t m;
        kumo_err_ctx_t err = {0};
        int rc = kumo_consensus_sync_msg_decode(kumo_bytes_make(b, len), &m, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        assert_true(rc < 0 || len <= KUMO_CONSENSUS_SYNC_MSG_BYTES_MAX);
        free(b);
    }
}

static void test_msg_decode_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t bytes[40];
        size_t len;
        int want;
    } cases[] = {
        {"valid status", {1, 0, 0, 0, 0, 0, 0, 0, 9}, 9, 0},
        {"valid block", {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0, 0, 0, 1, 0xbb}, 19, 0},
        {"empty", {0}, 0, KUMO_EDECODE},
        {"kind zero", {0, 0, 0, 0, 0, 0, 0, 0, 1}, 9, KUMO_EUNKNOWNMSG},
        {"kind five", {5, 0, 0, 0, 0, 0, 0, 0, 1}, 9, KUMO_EUNKNOWNMSG},
        {"short height", {1, 0, 0, 0}, 4, KUMO_EDECODE},
        {"status trailing byte", {1, 0, 0, 0, 0, 0, 0, 0, 9, 0}, 10, KUMO_EDECODE},
        {"request height zero", {2, 0, 0, 0, 0, 0, 0, 0, 0}, 9, KUMO_EDECODE},
        {"no block height zero", {4, 0, 0, 0, 0, 0, 0, 0, 0}, 9, KUMO_EDECODE},
        {"block height zero",
         {3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0, 0, 0, 1, 0xbb},
         19,
         KUMO_EDECODE},
        {"block without body", {3, 0, 0, 0, 0, 0, 0, 0, 9}, 9, KUMO_EDECODE},
        {"block short block", {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 5, 0xaa}, 14, KUMO_EDECODE},
        {"block without commit", {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa}, 14, KUMO_EDECODE},
        {"block empty block",
         {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xbb},
         18,
         KUMO_EDECODE},
        {"block empty commit",
         {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0},
         18,
         KUMO_EDECODE},
        {"block trailing byte",
         {3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0, 0, 0, 1, 0xbb, 0},
         20,
         KUMO_EDECODE},
        {"block length past end",
         {3, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xaa},
         14,
         KUMO_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_consensus_sync_msg_t m;
        kumo_err_ctx_t err = {0};
        int rc =
            kumo_consensus_sync_msg_decode(kumo_bytes_make(cases[i].bytes, cases[i].len), &m, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

/* ---- policy ---- */

#define PEER_HONEST 1u
#define PEER_LIAR   2u
#define PEER_OTHER  3u

static const uint8_t *pid(uint8_t tag)
{
    static uint8_t ids[8][KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    assert_true(tag < 8);
    memset(ids[tag], tag, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    return ids[tag];
}

static bool act_is_empty(const kumo_consensus_sync_action_t *a)
{
    return a->fault == KUMO_CONSENSUS_SYNC_FAULT_NONE && !a->engine_stop && !a->apply &&
           !a->request && !a->engine_start;
}

static void test_claim_alone_never_stops_consensus(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_action_t a;
    const uint64_t claims[] = {12, 1000000, UINT64_MAX};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        kumo_consensus_sync_init(&s, 10);
        /* A claim far ahead asks the claimant for the next block; consensus keeps running. */
        kumo_consensus_sync_on_status(&s, 10, 1000, pid(PEER_LIAR), claims[i], &a);
        assert_true(a.request && !a.engine_stop && !a.apply);
        assert_true(a.request_height == 11);
        assert_memory_equal(a.request_peer, pid(PEER_LIAR), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
        assert_false(kumo_consensus_sync_is_syncing(&s));
        /* More claims while the request is out change nothing. */
        kumo_consensus_sync_on_status(&s, 10, 1500, pid(PEER_LIAR), claims[i], &a);
        assert_true(act_is_empty(&a));
        /* Not answered in time: a fault; still no hand-over. */
        kumo_consensus_sync_on_tick(&s, 10, 1000 + KUMO_CONSENSUS_SYNC_REQUEST_MS - 1, &a);
        assert_true(act_is_empty(&a));
        kumo_consensus_sync_on_tick(&s, 10, 1000 + KUMO_CONSENSUS_SYNC_REQUEST_MS, &a);
        assert_int_equal(a.fault, KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT);
        assert_memory_equal(a.fault_peer, pid(PEER_LIAR), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
        assert_true(!a.engine_stop && !a.engine_start && !a.request);
        /* Its claims are ignored from now on. */
        kumo_consensus_sync_on_status(&s, 10, 9000, pid(PEER_LIAR), claims[i], &a);
        assert_true(act_is_empty(&a));
        kumo_consensus_sync_on_tick(&s, 10, 60000, &a);
        assert_true(act_is_empty(&a));
        assert_true(s.stats.statuses_ignored == 1);
        assert_false(kumo_consensus_sync_is_syncing(&s));
    }
}

/* Delivers the expected block; returns the action of on_block. */
static kumo_consensus_sync_action_t
deliver(kumo_consensus_sync_t *s, uint64_t head, uint64_t now, uint8_t tag, bool verified)
{
    assert_true(kumo_consensus_sync_answer_is_expected(s, pid(tag), head + 1u));
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_block(s, head, now, pid(tag), head + 1u, verified, &a);
    return a;
}

static void test_verified_block_hands_over_and_back(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 0);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(&s, 0, 100, pid(PEER_HONEST), 3, &a);
    assert_true(a.request && a.request_height == 1 && !a.engine_stop);
    a = deliver(&s, 0, 150, PEER_HONEST, true);
    assert_true(a.engine_stop && a.apply && !a.request);
    assert_true(kumo_consensus_sync_is_syncing(&s));
    kumo_consensus_sync_on_applied(&s, 1, 160, pid(PEER_HONEST), true, &a);
    assert_true(a.request && a.request_height == 2 && !a.engine_start);
    a = deliver(&s, 1, 170, PEER_HONEST, true);
    assert_true(!a.engine_stop && a.apply);
    kumo_consensus_sync_on_applied(&s, 2, 180, pid(PEER_HONEST), true, &a);
    assert_true(a.request && a.request_height == 3);
    a = deliver(&s, 2, 190, PEER_HONEST, true);
    kumo_consensus_sync_on_applied(&s, 3, 200, pid(PEER_HONEST), true, &a);
    /* Caught up with the claim: consensus takes back over. */
    assert_true(a.engine_start && !a.request);
    assert_true(a.synced_count == 3);
    assert_false(kumo_consensus_sync_is_syncing(&s));
    assert_true(s.stats.blocks_applied == 3 && s.stats.handovers == 1);
}

static void test_syncing_asks_only_proven_peers(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_action_t a;
    /* The liar claims far, the honest peer the real tip: the lower claim is asked first. */
    kumo_consensus_sync_on_status(&s, 10, 0, pid(PEER_LIAR), UINT64_MAX, &a);
    assert_true(a.request);
    assert_memory_equal(a.request_peer, pid(PEER_LIAR), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    kumo_consensus_sync_on_tick(&s, 10, KUMO_CONSENSUS_SYNC_REQUEST_MS, &a);
    assert_int_equal(a.fault, KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT);

    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_on_status(&s, 10, 0, pid(PEER_HONEST), 11, &a);
    assert_true(act_is_empty(&a)); /* one ahead: not yet */
    kumo_consensus_sync_on_status(&s, 10, 10, pid(PEER_LIAR), 1000000, &a);
    assert_true(a.request);
    assert_memory_equal(a.request_peer, pid(PEER_HONEST), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    a = deliver(&s, 10, 20, PEER_HONEST, true);
    assert_true(a.engine_stop && a.apply);
    kumo_consensus_sync_on_applied(&s, 11, 30, pid(PEER_HONEST), true, &a);
    /* The liar's claim is still "ahead", but it is unproven: consensus resumes and the liar is
     * asked with consensus running. */
    assert_true(a.engine_start && a.request);
    assert_memory_equal(a.request_peer, pid(PEER_LIAR), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    assert_false(kumo_consensus_sync_is_syncing(&s));
    kumo_consensus_sync_on_no_block(&s, 11, 40, pid(PEER_LIAR), 12, &a);
    assert_int_equal(a.fault, KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK);
    assert_true(!a.engine_stop && !a.engine_start && !a.request);
}

static void test_faults_while_syncing_give_consensus_back(void **state)
{
    (void)state;
    const struct {
        const char *name;
        int how; /* 0 timeout, 1 no block, 2 invalid block, 3 apply refused */
        kumo_consensus_sync_fault_t want;
    } cases[] = {
        {"timeout", 0, KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT},
        {"no block", 1, KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK},
        {"invalid block", 2, KUMO_CONSENSUS_SYNC_FAULT_INVALID},
        {"apply refused", 3, KUMO_CONSENSUS_SYNC_FAULT_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_consensus_sync_t s;
        kumo_consensus_sync_init(&s, 0);
        kumo_consensus_sync_action_t a;
        kumo_consensus_sync_on_status(&s, 0, 0, pid(PEER_HONEST), 50, &a);
        a = deliver(&s, 0, 1, PEER_HONEST, true);
        kumo_consensus_sync_on_applied(&s, 1, 2, pid(PEER_HONEST), true, &a);
        assert_true(a.request && kumo_consensus_sync_is_syncing(&s));
        if (cases[i].how == 0) {
            kumo_consensus_sync_on_tick(&s, 1, 2 + KUMO_CONSENSUS_SYNC_REQUEST_MS, &a);
        } else if (cases[i].how == 1) {
            kumo_consensus_sync_on_no_block(&s, 1, 3, pid(PEER_HONEST), 2, &a);
        } else if (cases[i].how == 2) {
            a = deliver(&s, 1, 3, PEER_HONEST, false);
        } else {
            a = deliver(&s, 1, 3, PEER_HONEST, true);
            assert_true(a.apply);
            kumo_consensus_sync_on_applied(&s, 1, 4, pid(PEER_HONEST), false, &a);
        }
        if (a.fault != cases[i].want || !a.engine_start || a.request) {
            fail_msg("%s: fault %s start %d request %d", cases[i].name,
                     kumo_consensus_sync_fault_name(a.fault), a.engine_start, a.request);
        }
        assert_false(kumo_consensus_sync_is_syncing(&s));
    }
}

static void test_consensus_decides_while_asking(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(&s, 10, 0, pid(PEER_HONEST), 12, &a);
    assert_true(a.request && a.request_height == 11);
    /* Consensus decided 11 and 12 meanwhile: the request is stale but still owed. Its answer
     * is taken without verification or fault, and the next request can go out. */
    kumo_consensus_sync_on_tick(&s, 12, 100, &a);
    assert_true(act_is_empty(&a));
    assert_true(kumo_consensus_sync_answer_is_expected(&s, pid(PEER_HONEST), 11));
    kumo_consensus_sync_on_block(&s, 12, 200, pid(PEER_HONEST), 11, false, &a);
    assert_true(act_is_empty(&a));
    assert_true(s.stats.faults[KUMO_CONSENSUS_SYNC_FAULT_INVALID] == 0);
    kumo_consensus_sync_on_status(&s, 12, 300, pid(PEER_HONEST), 20, &a);
    assert_true(a.request && a.request_height == 13);
    /* Answers from others, of other heights, are not expected. */
    assert_false(kumo_consensus_sync_answer_is_expected(&s, pid(PEER_OTHER), 13));
    assert_false(kumo_consensus_sync_answer_is_expected(&s, pid(PEER_HONEST), 14));
    assert_true(kumo_consensus_sync_answer_is_expected(&s, pid(PEER_HONEST), 13));
}

static void test_silence_behind_a_moving_chain_is_caught(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(&s, 10, 0, pid(PEER_LIAR), UINT64_MAX, &a);
    assert_true(a.request && a.request_height == 11);
    /* Consensus keeps deciding faster than the timeout; the liar never answers. */
    uint64_t head = 10;
    for (uint64_t t = 200; t < KUMO_CONSENSUS_SYNC_REQUEST_MS; t += 200) {
        head++;
        kumo_consensus_sync_on_status(&s, head, t, pid(PEER_LIAR), UINT64_MAX, &a);
        assert_true(act_is_empty(&a));
    }
    kumo_consensus_sync_on_tick(&s, head + 1u, KUMO_CONSENSUS_SYNC_REQUEST_MS, &a);
    assert_int_equal(a.fault, KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT);
    assert_memory_equal(a.fault_peer, pid(PEER_LIAR), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    /* A stale NO_BLOCK is a lie too. */
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_on_status(&s, 10, 0, pid(PEER_LIAR), 100, &a);
    assert_true(a.request);
    kumo_consensus_sync_on_no_block(&s, 15, 10, pid(PEER_LIAR), 11, &a);
    assert_int_equal(a.fault, KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK);
}

static void test_stuck_one_behind(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 10);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(&s, 10, 1000, pid(PEER_HONEST), 11, &a);
    assert_true(act_is_empty(&a));
    kumo_consensus_sync_on_tick(&s, 10, 1000 + KUMO_CONSENSUS_SYNC_STUCK_MS - 1, &a);
    assert_true(act_is_empty(&a));
    kumo_consensus_sync_on_tick(&s, 10, 1000 + KUMO_CONSENSUS_SYNC_STUCK_MS, &a);
    assert_true(a.request && a.request_height == 11 && !a.engine_stop);
    /* Consensus got there itself (the peer's answer comes after): the timer starts over at
     * the new head. */
    kumo_consensus_sync_on_status(&s, 11, 5000, pid(PEER_HONEST), 12, &a);
    assert_true(act_is_empty(&a));
    kumo_consensus_sync_on_block(&s, 11, 5000, pid(PEER_HONEST), 11, false, &a);
    assert_true(act_is_empty(&a));
    kumo_consensus_sync_on_tick(&s, 11, 5000 + KUMO_CONSENSUS_SYNC_STUCK_MS - 1, &a);
    assert_true(act_is_empty(&a));
}

static void test_removed_peer_request_moves_on(void **state)
{
    (void)state;
    kumo_consensus_sync_t s;
    kumo_consensus_sync_init(&s, 0);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(&s, 0, 0, pid(PEER_HONEST), 5, &a);
    kumo_consensus_sync_on_status(&s, 0, 0, pid(PEER_OTHER), 6, &a);
    assert_true(act_is_empty(&a)); /* the first request is still out */
    kumo_consensus_sync_peer_remove(&s, pid(PEER_HONEST));
    assert_int_equal(kumo_consensus_sync_peer_count(&s), 1);
    kumo_consensus_sync_on_tick(&s, 0, 10, &a);
    assert_true(a.request && a.fault == KUMO_CONSENSUS_SYNC_FAULT_NONE);
    assert_memory_equal(a.request_peer, pid(PEER_OTHER), KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
}

static void test_peer_table_is_bounded(void **state)
{
    (void)state;
    kumo_consensus_sync_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kumo_consensus_sync_init(s, 0);
    uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES] = {0};
    for (uint32_t i = 0; i < KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX; i++) {
        kumo_be32_put(id, i);
        assert_int_equal(kumo_consensus_sync_peer_add(s, id), 0);
        assert_int_equal(kumo_consensus_sync_peer_add(s, id), 0); /* already there */
    }
    assert_int_equal(kumo_consensus_sync_peer_count(s), KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX);
    kumo_be32_put(id, KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX);
    assert_int_equal(kumo_consensus_sync_peer_add(s, id), KUMO_ELIMIT);
    kumo_consensus_sync_action_t a;
    kumo_consensus_sync_on_status(s, 0, 0, id, 100, &a);
    assert_true(act_is_empty(&a));
    assert_true(s->stats.statuses_ignored == 1);
    kumo_be32_put(id, 3);
    kumo_consensus_sync_peer_remove(s, id);
    kumo_be32_put(id, KUMO_CONSENSUS_SYNC_PEER_COUNT_MAX);
    kumo_consensus_sync_on_status(s, 0, 0, id, 100, &a);
    assert_true(a.request);
    free(s);
}

static void test_fault_names(void **state)
{
    (void)state;
    assert_string_equal(kumo_consensus_sync_fault_name(KUMO_CONSENSUS_SYNC_FAULT_NONE), "none");
    assert_string_equal(kumo_consensus_sync_fault_name(KUMO_CONSENSUS_SYNC_FAULT_TIMEOUT),
                        "timeout");
    assert_string_equal(kumo_consensus_sync_fault_name(KUMO_CONSENSUS_SYNC_FAULT_NO_BLOCK),
                        "no_block");
    assert_string_equal(kumo_consensus_sync_fault_name(KUMO_CONSENSUS_SYNC_FAULT_INVALID),
                        "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_round_trip),
        cmocka_unit_test(test_msg_limits),
        cmocka_unit_test(test_msg_decode_rejects),
        cmocka_unit_test(test_claim_alone_never_stops_consensus),
        cmocka_unit_test(test_verified_block_hands_over_and_back),
        cmocka_unit_test(test_syncing_asks_only_proven_peers),
        cmocka_unit_test(test_faults_while_syncing_give_consensus_back),
        cmocka_unit_test(test_consensus_decides_while_asking),
        cmocka_unit_test(test_silence_behind_a_moving_chain_is_caught),
        cmocka_unit_test(test_stuck_one_behind),
        cmocka_unit_test(test_removed_peer_request_moves_on),
        cmocka_unit_test(test_peer_table_is_bounded),
        cmocka_unit_test(test_fault_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
