/*
 * test_fetch_plan.c - the chunk fetcher's choices (src/provider/fetch_plan.c): peers start at
 * spread chunks and never hold more than PD_FETCH_IN_FLIGHT_MAX requests; chunks already held
 * are never asked for; a chunk that failed its proof goes back to the others and its peer is
 * never asked again; a chunk a peer says it lacks goes to another; failed transfers put a
 * peer out after PD_FETCH_PEER_FAILS_MAX; the plan is stuck only when no peer is left to ask;
 * the limits of the plan and the penalty table hold.
 */
#include "helpers/testutil.h"

#include <string.h>

#include "provider/daemon_int.h"

static void test_plan_spreads_and_bounds_requests(void **state)
{
    (void)state;
    pd_fetch_plan_t p;
    assert_int_equal(pd_fetch_plan_init(&p, 16, 4, NULL), 0);
    pd_fetch_plan_held(&p, 5);
    uint32_t first[4];
    for (uint32_t peer = 0; peer < 4; peer++) {
        assert_true(pd_fetch_plan_next(&p, peer, &first[peer]));
    }
    /* Each starts a quarter further in (chunk 4 is next to held 5, so peer 1 takes 4). */
    assert_int_equal(first[0], 0);
    assert_int_equal(first[1], 4);
    assert_int_equal(first[2], 8);
    assert_int_equal(first[3], 12);
    uint32_t index = 0;
    for (uint32_t k = 1; k < PD_FETCH_IN_FLIGHT_MAX; k++) {
        assert_true(pd_fetch_plan_next(&p, 1, &index));
        assert_int_not_equal(index, 5);
    }
    assert_false(pd_fetch_plan_next(&p, 1, &index));
    assert_false(pd_fetch_plan_peer_usable(&p, 1));
    pd_fetch_plan_done(&p, 1, 4, PD_FETCH_OK);
    assert_true(pd_fetch_plan_peer_usable(&p, 1));
    /* Everything handed out once, none twice. */
    uint32_t seen[16] = {0};
    seen[5] = 1;
    seen[4] = 1;
    for (uint32_t i = 0; i < 16; i++) {
        seen[i] += p.state[i] == PD_FETCH_IN_FLIGHT ? 1u : 0u;
    }
    for (int round = 0; round < 16; round++) {
        for (uint32_t peer = 0; peer < 4; peer++) {
            if (pd_fetch_plan_next(&p, peer, &index)) {
                assert_int_equal(seen[index], 0);
                seen[index]++;
                pd_fetch_plan_done(&p, peer, index, PD_FETCH_OK);
            }
        }
    }
    for (uint32_t peer = 0; peer < 4; peer++) {
        while (p.peer[peer].in_flight > 0) {
            for (uint32_t i = 0; i < 16; i++) {
                if (p.state[i] == PD_FETCH_IN_FLIGHT && p.peer[peer].in_flight > 0) {
                    pd_fetch_plan_done(&p, peer, i, PD_FETCH_OK);
                    break;
                }
            }
        }
    }
    assert_true(pd_fetch_plan_is_complete(&p));
    assert_false(pd_fetch_plan_is_stuck(&p));
    pd_fetch_plan_free(&p);
}

static void test_plan_bad_chunk_goes_to_another_peer(void **state)
{
    (void)state;
    pd_fetch_plan_t p;
    assert_int_equal(pd_fetch_plan_init(&p, 2, 2, NULL), 0);
    uint32_t a = 0;
    uint32_t b = 0;
    assert_true(pd_fetch_plan_next(&p, 0, &a));
    assert_true(pd_fetch_plan_next(&p, 1, &b));
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    pd_fetch_plan_done(&p, 0, a, PD_FETCH_BAD);
    assert_true(p.peer[0].bad);
    uint32_t again = 9;
    assert_false(pd_fetch_plan_next(&p, 0, &again)); /* the liar is out */
    assert_true(pd_fetch_plan_next(&p, 1, &again));
    assert_int_equal(again, 0);
    pd_fetch_plan_done(&p, 1, b, PD_FETCH_OK);
    pd_fetch_plan_done(&p, 1, again, PD_FETCH_OK);
    assert_true(pd_fetch_plan_is_complete(&p));
    pd_fetch_plan_free(&p);
}

static void test_plan_failures_then_stuck(void **state)
{
    (void)state;
    pd_fetch_plan_t p;
    assert_int_equal(pd_fetch_plan_init(&p, 3, 1, NULL), 0);
    uint32_t i = 0;
    for (uint32_t k = 0; k < PD_FETCH_PEER_FAILS_MAX; k++) {
        assert_false(pd_fetch_plan_is_stuck(&p));
        assert_true(pd_fetch_plan_next(&p, 0, &i));
        pd_fetch_plan_done(&p, 0, i, PD_FETCH_FAILED);
    }
    assert_false(pd_fetch_plan_next(&p, 0, &i));
    assert_true(pd_fetch_plan_is_stuck(&p));
    assert_false(p.peer[0].bad);
    pd_fetch_plan_free(&p);

    /* No peer at all: stuck from the start. */
    assert_int_equal(pd_fetch_plan_init(&p, 1, 0, NULL), 0);
    assert_true(pd_fetch_plan_is_stuck(&p));
    pd_fetch_plan_free(&p);
}

/* A peer still fetching answers 404 for what it lacks: never asked for it again, another peer
 * is; with only such peers left the plan is stuck (the next try asks again). */
static void test_plan_absent_chunks_go_elsewhere(void **state)
{
    (void)state;
    pd_fetch_plan_t p;
    assert_int_equal(pd_fetch_plan_init(&p, 2, 2, NULL), 0);
    uint32_t i = 0;
    assert_true(pd_fetch_plan_next(&p, 0, &i));
    assert_int_equal(i, 0);
    pd_fetch_plan_done(&p, 0, 0, PD_FETCH_ABSENT);
    assert_false(p.peer[0].out);
    assert_true(pd_fetch_plan_next(&p, 0, &i));
    assert_int_equal(i, 1); /* not 0 again */
    assert_false(pd_fetch_plan_next(&p, 0, &i));
    pd_fetch_plan_done(&p, 0, 1, PD_FETCH_ABSENT);
    assert_false(pd_fetch_plan_is_stuck(&p)); /* peer 1 may still hold them */
    assert_true(pd_fetch_plan_next(&p, 1, &i));
    pd_fetch_plan_done(&p, 1, i, PD_FETCH_ABSENT);
    assert_true(pd_fetch_plan_next(&p, 1, &i));
    pd_fetch_plan_done(&p, 1, i, PD_FETCH_OK);
    assert_true(pd_fetch_plan_is_stuck(&p)); /* the other chunk: both said they lack it */
    assert_false(pd_fetch_plan_is_complete(&p));
    pd_fetch_plan_free(&p);
}

static void test_plan_limits(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t count;
        uint32_t peers;
        int want;
    } cases[] = {
        {"largest", PD_FETCH_CHUNK_COUNT_MAX, PD_FETCH_PEER_MAX, 0},
        {"no chunk", 0, 1, KUMO_ELIMIT},
        {"chunks over max", PD_FETCH_CHUNK_COUNT_MAX + 1u, 1, KUMO_ELIMIT},
        {"peers over max", 1, PD_FETCH_PEER_MAX + 1u, KUMO_ELIMIT},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        pd_fetch_plan_t p;
        kumo_err_ctx_t err = {0};
        int rc = pd_fetch_plan_init(&p, cases[k].count, cases[k].peers, &err);
        if (rc != cases[k].want) {
            fail_msg("%s: got %s (%s)", cases[k].name, kumo_err_name(rc), err.detail);
        }
        if (rc == 0) {
            pd_fetch_plan_free(&p);
        }
    }
}

static void test_penalties_expire_and_are_per_version(void **state)
{
    (void)state;
    pd_penalties_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    uint8_t v1[KUMO_CRYPTO_HASH_BYTES] = {1};
    uint8_t v2[KUMO_CRYPTO_HASH_BYTES] = {2};
    pd_penalty_add(t, "kumo1liar", v1, 110);
    assert_true(pd_penalty_is_active(t, "kumo1liar", v1, 100));
    assert_true(pd_penalty_is_active(t, "kumo1liar", v1, 109));
    assert_false(pd_penalty_is_active(t, "kumo1liar", v1, 110));
    assert_false(pd_penalty_is_active(t, "kumo1liar", v2, 100));
    assert_false(pd_penalty_is_active(t, "kumo1honest", v1, 100));
    /* A full table forgets the penalty ending first, never the same peer twice. */
    char name[32];
    for (uint32_t i = 0; i < PD_PENALTY_MAX; i++) {
        (void)snprintf(name, sizeof(name), "kumo1p%u", i);
        pd_penalty_add(t, name, v1, 200u + i);
    }
    assert_false(pd_penalty_is_active(t, "kumo1liar", v1, 100));
    assert_true(pd_penalty_is_active(t, "kumo1p1", v1, 100));
    pd_penalty_add(t, "kumo1p1", v1, 500);
    uint32_t entries = 0;
    for (uint32_t i = 0; i < PD_PENALTY_MAX; i++) {
        entries += strcmp(t->e[i].peer, "kumo1p1") == 0 ? 1u : 0u;
    }
    assert_int_equal(entries, 1);
    assert_true(pd_penalty_is_active(t, "kumo1p0", v1, 100));
    free(t);
}

/* A peer with a share is asked for its share as any peer, for other chunks one at a time and
 * only once no chunk of the share is wanted; a forgotten lack is asked again. */
static void test_plan_share_then_one_at_a_time(void **state)
{
    (void)state;
    pd_fetch_plan_t p;
    assert_int_equal(pd_fetch_plan_init(&p, 16, 2, NULL), 0);
    p.peer[0].share_lo = 4;
    p.peer[0].share_hi = 6;
    p.start[0] = 4;
    uint32_t a = 0;
    uint32_t b = 0;
    uint32_t c = 0;
    assert_true(pd_fetch_plan_next(&p, 0, &a));
    assert_true(pd_fetch_plan_next(&p, 0, &b));
    assert_int_equal(a, 4);
    assert_int_equal(b, 5);
    assert_false(pd_fetch_plan_next(&p, 0, &c)); /* the share in flight: nothing else yet */
    pd_fetch_plan_done(&p, 0, a, PD_FETCH_OK);
    pd_fetch_plan_done(&p, 0, b, PD_FETCH_OK);
    assert_true(pd_fetch_plan_next(&p, 0, &c)); /* the share held: one other chunk */
    assert_true(c < 4 || c >= 6);
    uint32_t d = 0;
    assert_false(pd_fetch_plan_next(&p, 0, &d)); /* one at a time */
    pd_fetch_plan_done(&p, 0, c, PD_FETCH_OK);
    /* A peer still fetching lacks a chunk: not asked again until the lack is forgotten. */
    assert_true(pd_fetch_plan_next(&p, 1, &d));
    pd_fetch_plan_done(&p, 1, d, PD_FETCH_ABSENT);
    uint32_t e = 0;
    assert_true(pd_fetch_plan_next(&p, 1, &e));
    assert_int_not_equal(e, d);
    pd_fetch_plan_done(&p, 1, e, PD_FETCH_OK);
    pd_fetch_plan_lacks_forget(&p);
    bool asked = false;
    for (uint32_t k = 0; k < 16 && !asked; k++) {
        uint32_t i = 0;
        if (!pd_fetch_plan_next(&p, 1, &i)) {
            break;
        }
        asked = i == d;
        pd_fetch_plan_done(&p, 1, i, PD_FETCH_OK);
    }
    assert_true(asked);
    pd_fetch_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_spreads_and_bounds_requests),
        cmocka_unit_test(test_plan_bad_chunk_goes_to_another_peer),
        cmocka_unit_test(test_plan_failures_then_stuck),
        cmocka_unit_test(test_plan_absent_chunks_go_elsewhere),
        cmocka_unit_test(test_plan_limits),
        cmocka_unit_test(test_penalties_expire_and_are_per_version),
        cmocka_unit_test(test_plan_share_then_one_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
