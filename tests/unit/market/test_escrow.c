/*
 * test_escrow.c - how long a deployment's escrow lasts and the tenant's warning before it runs
 * out: the cover at a height counts what active leases earned since their last payment; the
 * default threshold; deployment.escrow_low once per crossing (a deposit re-arms it), before
 * the end for insufficient funds; the threshold set at create and changed by its owner through
 * DepositDeployment (with or without an amount); and every bad input with its own code and no
 * state change.
 */
#include "unit/market/market_fixture.h"

/* One group g0 (2 units at 10: 20 per block) leased to p0 at height 1; deposit escrow. */
static void leased(fx_t *fx, uint64_t deposit, uint64_t warn_blocks)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, 1, 1, 0, deposit);
    m->sd.escrow_warn_blocks = warn_blocks;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
    assert_int_equal(fx_facilitate(fx), 1);
}

static kumo_market_escrow_cover_t cover_at(fx_t *fx, uint64_t height)
{
    kumo_market_escrow_cover_t c;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_escrow_cover_get(&fx->ts.kv, fx->tenant, 1, height, &c, &err), 0);
    return c;
}

static bool dep_low(fx_t *fx)
{
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    bool low = d->escrow_low;
    kumo_codec_free(&d->base);
    return low;
}

static void deposit_set(fx_t *fx, const uint8_t *signer, uint64_t amount, bool set, uint64_t warn)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deposit(m, signer, fx->tenant, 1, amount);
    m->dd.set_escrow_warn = set;
    m->dd.escrow_warn_blocks = warn;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static void test_cover_counts_what_is_owed(void **state)
{
    fx_t *fx = *state;
    leased(fx, 1000, 0);
    kumo_market_escrow_cover_t c = cover_at(fx, 11);
    assert_int_equal(c.escrow, 1000);
    assert_int_equal(c.owed, 200);
    assert_int_equal(c.left, 800);
    assert_int_equal(c.price_per_block, 20);
    assert_int_equal(c.blocks_covered, 40);
    assert_int_equal(c.active_lease_count, 1);
    assert_int_equal(c.warn_blocks, 2 * FX_PERIOD); /* the default */
    /* Past the end: nothing left, 0 blocks. */
    c = cover_at(fx, 100);
    assert_int_equal(c.left, 0);
    assert_int_equal(c.blocks_covered, 0);
    /* Without active leases nothing is spent. */
    fx->height = 2;
    fx_close_dep(fx, fx->tenant, 1);
    c = cover_at(fx, 3);
    assert_int_equal(c.price_per_block, 0);
    assert_int_equal(c.blocks_covered, UINT64_MAX);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_escrow_cover_get(&fx->ts.kv, fx->tenant, 9, 3, &c, &err),
                     KUMO_ENOTFOUND);
}

static void test_warning_once_per_crossing_then_end(void **state)
{
    fx_t *fx = *state;
    leased(fx, 1000, 30); /* 50 blocks of escrow at 20/block */
    static const struct {
        uint64_t height;
        bool low;
        size_t events;
    } steps[] = {
        {11, false, 0}, /* 800 left: 40 blocks */
        {21, false, 0}, /* 600: 30, not below 30 */
        {26, true, 1},  /* 500: 25 -> announced */
        {31, true, 0},  /* 400: 20 -> still low, not again */
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(steps); i++) {
        fx->height = steps[i].height;
        fx->event_count = 0;
        fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
        assert_int_equal(dep_low(fx), steps[i].low);
        assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), steps[i].events);
    }
    /* A deposit covering the threshold again re-arms it; the next crossing is announced. */
    fx->event_count = 0;
    deposit_set(fx, fx->tenant2, 400, false, 0); /* anyone may fund: 800 left, 40 blocks */
    assert_false(dep_low(fx));
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 0);
    fx->height = 46;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false); /* 500: 25 */
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 1);
    /* The escrow runs out: the end comes after the warning, with its reason. */
    fx->height = 80;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    size_t warn_at = SIZE_MAX;
    size_t end_at = SIZE_MAX;
    for (size_t i = 0; i < fx->event_count; i++) {
        warn_at = strcmp(fx->events[i], "deployment.escrow_low") == 0 && warn_at == SIZE_MAX
                      ? i
                      : warn_at;
        end_at = strcmp(fx->events[i], "deployment.closing") == 0 ? i : end_at;
    }
    assert_true(warn_at < end_at && end_at != SIZE_MAX);
    assert_string_equal(fx->event_reason[end_at], "insufficient_funds");
}

static void test_threshold_set_changed_and_cleared(void **state)
{
    fx_t *fx = *state;
    leased(fx, 1000, 5);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->escrow_warn_blocks, 5);
    kumo_codec_free(&d->base);
    /* Raising it above the cover announces at once (amount 0: the threshold only). */
    fx->height = 11;
    fx->event_count = 0;
    deposit_set(fx, fx->tenant, 0, true, 45); /* 800 left: 40 < 45 */
    assert_true(dep_low(fx));
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 1);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), 1000);
    /* Clearing it (0) clears the flag; no warning any more. */
    deposit_set(fx, fx->tenant, 0, true, 0);
    assert_false(dep_low(fx));
    fx->height = 40;
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 0);
    /* A new lease raises the price: checked at SubmitLease too. */
    deposit_set(fx, fx->tenant, 0, true, 10); /* 220 left at 20/block: 11 */
    assert_false(dep_low(fx));
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 2);
    fx_spec_set(&u->specs[0], "g0", "us-east", 1, 10, 100, 2);
    fx_spec_set(&u->specs[1], "g1", "us-east", 1, 10, 100, 2);
    fx_ok(fx, u->signer, &u->msg);
    free(u);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 1, 1, 10);
    fx->event_count = 0;
    assert_int_equal(fx_facilitate(fx), 1); /* 40/block: 5 blocks */
    assert_true(dep_low(fx));
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 1);
}

/* ---- bad input: each its own code, nothing changed ---- */

static void deposit_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_deposit(m, fx->tenant, fx->tenant, 1, 100);
    m->dd.set_escrow_warn = true;
    m->dd.escrow_warn_blocks = 50;
}
static void d_zero_plain(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.amount = 0;
    m->dd.set_escrow_warn = false;
    m->dd.escrow_warn_blocks = 0;
}
static void d_blocks_unset(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.set_escrow_warn = false;
}
static void d_absurd(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.escrow_warn_blocks = KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX + 1ull;
}
static void d_huge(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.escrow_warn_blocks = UINT64_MAX; /* a negative number cast to 64 bits */
}
static void d_ceiling(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.escrow_warn_blocks = KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX;
}
static void d_others(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant2;
}
static void d_others_plain(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant2;
    m->dd.set_escrow_warn = false;
    m->dd.escrow_warn_blocks = 0;
}
static void d_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.dseq = 9;
}
static void d_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void d_closing_plain(fx_t *fx, fx_msg_t *m)
{
    fx_close_dep(fx, fx->tenant, 1);
    m->dd.set_escrow_warn = false;
    m->dd.escrow_warn_blocks = 0;
}
static void d_short(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
    fx_msg_deposit(m, fx->stranger, fx->tenant, 1, 100);
}

static void test_deposit_rejects_each_rule(void **state)
{
    fx_t *fx = *state;
    leased(fx, 1000, 0);
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"amount 0 without a threshold", d_zero_plain, KUMO_EINVAL},
        {"threshold without set_escrow_warn", d_blocks_unset, KUMO_EINVAL},
        {"threshold past the ceiling", d_absurd, KUMO_ELIMIT},
        {"threshold 2^64-1", d_huge, KUMO_ELIMIT},
        {"threshold at the ceiling", d_ceiling, 0},
        {"threshold of another's deployment", d_others, KUMO_EUNAUTH},
        {"plain deposit to another's deployment", d_others_plain, 0},
        {"no such deployment", d_missing, KUMO_ENOTFOUND},
        {"threshold of a closing deployment", d_closing, KUMO_ESTATE},
        {"plain deposit to a closing deployment", d_closing_plain, 0},
        {"depositor short of funds", d_short, KUMO_EFUNDS},
    };
    fx_cases_run(fx, deposit_build, cases, KUMO_ARRAY_COUNT(cases));
}

static void submit_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_deploy(m, fx->tenant, 7, 1, 0, FX_MIN_DEPOSIT);
    m->sd.escrow_warn_blocks = 100;
}
static void s_absurd(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.escrow_warn_blocks = KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX + 1ull;
}
static void s_huge(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.escrow_warn_blocks = UINT64_MAX;
}

static void test_submit_rejects_absurd_threshold(void **state)
{
    fx_t *fx = *state;
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"threshold past the ceiling", s_absurd, KUMO_ELIMIT},
        {"threshold 2^64-1", s_huge, KUMO_ELIMIT},
    };
    fx_cases_run(fx, submit_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cover_counts_what_is_owed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_warning_once_per_crossing_then_end, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_threshold_set_changed_and_cleared, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_deposit_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_submit_rejects_absurd_threshold, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
