/*
 * test_chain.c - when the tunnels must close because the chain has not been read
 * (src/overlay/chain.c), table-driven: time since the last read at a given block time gives
 * whole passes (the block time clamped to [1 s, 10 s]), and passes give the verdict: fresh in
 * the pass that read, kept through the grace (a node hiccup closes nothing), closed from the
 * third missed pass on, at the boundary and far past it.
 */
#include "helpers/testutil.h"

#include <stdint.h>

#include "overlay/overlay.h"

static void test_chain_passes_since_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t since_ms;
        uint64_t pass_ms;
        uint64_t want;
    } rows[] = {
        {"just read", 0, 2000, 0},
        {"within one pass", 1999, 2000, 0},
        {"one pass", 2000, 2000, 1},
        {"three passes", 6000, 2000, 3},
        {"fast blocks clamp to 1 s", 2999, 100, 2},
        {"zero block time clamps to 1 s", 3000, 0, 3},
        {"slow blocks clamp to 10 s", 29999, 60000, 2},
        {"slow blocks: 30 s is three", 30000, 60000, 3},
        {"at the upper clamp", 20000, 10000, 2},
        {"at the lower clamp", 1000, 1000, 1},
        {"far past", UINT64_MAX, 1000, UINT64_MAX / 1000u},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t got = kumo_overlay_chain_passes_since(rows[i].since_ms, rows[i].pass_ms);
        if (got != rows[i].want) {
            fail_msg("%s: got %llu, want %llu", rows[i].name, (unsigned long long)got,
                     (unsigned long long)rows[i].want);
        }
    }
}

static void test_chain_judge_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t passes;
        kumo_overlay_chain_t want;
    } rows[] = {
        {"read this pass", 0, KUMO_OVERLAY_CHAIN_FRESH},
        {"one missed: kept", 1, KUMO_OVERLAY_CHAIN_GRACE},
        {"grace - 1 missed: kept", KUMO_OVERLAY_CHAIN_GRACE_PASSES - 1u, KUMO_OVERLAY_CHAIN_GRACE},
        {"grace missed: closed", KUMO_OVERLAY_CHAIN_GRACE_PASSES, KUMO_OVERLAY_CHAIN_LOST},
        {"grace + 1 missed: closed", KUMO_OVERLAY_CHAIN_GRACE_PASSES + 1u, KUMO_OVERLAY_CHAIN_LOST},
        {"never read again", UINT64_MAX, KUMO_OVERLAY_CHAIN_LOST},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_overlay_chain_t got = kumo_overlay_chain_judge(rows[i].passes);
        if (got != rows[i].want) {
            fail_msg("%s: got %d, want %d", rows[i].name, (int)got, (int)rows[i].want);
        }
    }
}

/* The bound the design states: a lost chain closes the tunnels within grace passes of the
 * slowest clamped block time, and no sooner than grace passes of the fastest. */
static void test_chain_bounds(void **state)
{
    (void)state;
    uint64_t max_ms = (uint64_t)KUMO_OVERLAY_CHAIN_GRACE_PASSES * KUMO_OVERLAY_CHAIN_PASS_MS_MAX;
    uint64_t min_ms = (uint64_t)KUMO_OVERLAY_CHAIN_GRACE_PASSES * KUMO_OVERLAY_CHAIN_PASS_MS_MIN;
    assert_int_equal(kumo_overlay_chain_judge(kumo_overlay_chain_passes_since(max_ms, UINT64_MAX)),
                     KUMO_OVERLAY_CHAIN_LOST);
    assert_int_equal(kumo_overlay_chain_judge(kumo_overlay_chain_passes_since(min_ms - 1u, 0)),
                     KUMO_OVERLAY_CHAIN_GRACE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_passes_since_table),
        cmocka_unit_test(test_chain_judge_table),
        cmocka_unit_test(test_chain_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
