/*
 * test_facilitator.c - proves kumo_market_facilitator_collect: only orders whose wait has
 * elapsed and that have bids yield a SubmitLease (naming the best bid, ties to the earliest;
 * bid-less orders stay open), only leases unconfirmed past the period yield SubmitStaleLease,
 * only closing deployments that are released or timed out yield DeploymentClosed; stale leases
 * come before matches (a re-order due at its old lease's stale height); each kind is in key
 * order, bounded by msg_count_max, stoppable by the callback; every collected msg applies.
 * Also kumo_market_msg_is_facilitator and a corrupt index entry. Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u

static fx_collected_t *collected_new(void)
{
    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    return c;
}

static void test_collect_due_orders_only(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 2, 5, DEP_DEPOSIT);  /* match 6 */
    fx_deploy(fx, fx->tenant, 2, 1, 10, DEP_DEPOSIT); /* match 11 */
    fx_deploy(fx, fx->tenant2, 3, 1, 5, DEP_DEPOSIT); /* match 6, no bids */
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 7);
    fx_bid(fx, fx->prov[0], fx->tenant, 2, 0, 1, 5);
    fx_collected_t *c = collected_new();
    fx->height = 5;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    fx->height = 6;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 2);
    assert_memory_equal(c->msgs[0].provider, fx->prov[1], KUMO_ADDRESS_BYTES);
    assert_int_equal(c->msgs[0].gseq, 0);
    assert_memory_equal(c->msgs[1].provider, fx->prov[2], KUMO_ADDRESS_BYTES);
    assert_int_equal(c->msgs[1].gseq, 1);
    fx->height = 11;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 3);
    /* Key order: by match height, then order id. */
    assert_int_equal(c->msgs[0].dseq, 1);
    assert_int_equal(c->msgs[1].dseq, 1);
    assert_int_equal(c->msgs[2].dseq, 2);
    for (size_t i = 0; i < c->count; i++) {
        assert_int_equal(c->msgs[i].kind, KUMO__MSG__SUM_SUBMIT_LEASE);
        fx_fac_apply(fx, &c->msgs[i]);
    }
    /* The order without bids is still open and still skipped. */
    assert_int_equal(fx_order_state(fx, fx->tenant2, 3, 0, 1), KUMO__ORDER_STATE__ORDER_OPEN);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    /* Once it gets a bid, it is collected. */
    fx_bid(fx, fx->prov[4], fx->tenant2, 3, 0, 1, 10);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_memory_equal(c->msgs[0].owner, fx->tenant2, KUMO_ADDRESS_BYTES);
    free(c);
}

static void test_collect_names_best_bid(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[4], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);
    fx_collected_t *c = collected_new();
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_memory_equal(c->msgs[0].provider, fx->prov[1], KUMO_ADDRESS_BYTES);
    fx_msg_t *m = fx_msg_new();
    fx_msg_cancel(m, fx->prov[1], fx->tenant, 1, 0, 1);
    fx_ok(fx, m->signer, &m->msg);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_memory_equal(c->msgs[0].provider, fx->prov[0], KUMO_ADDRESS_BYTES);
    fx_fac_apply(fx, &c->msgs[0]);
    free(m);
    free(c);
}

static void test_collect_stale_leases_only(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 2, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 9);
    assert_int_equal(fx_facilitate(fx), 2); /* leased at 1 */
    fx->height = 5;
    fx_confirm1(fx, fx->prov[2], fx->tenant, 1, 1, 1, false);
    fx_collected_t *c = collected_new();
    fx->height = 1 + FX_PERIOD;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    fx->height = 2 + FX_PERIOD;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_SUBMIT_STALE_LEASE);
    assert_memory_equal(c->msgs[0].provider, fx->prov[0], KUMO_ADDRESS_BYTES);
    fx->height = 6 + FX_PERIOD;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 2);
    for (size_t i = 0; i < c->count; i++) {
        fx_fac_apply(fx, &c->msgs[i]);
    }
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    free(c);
}

/* A re-order that falls due at its old lease's stale height: the stale msg comes first even
 * though the order's key sorts earlier, so applying them in collection order invalidates the
 * stale lease (collateral to the tenant) and then leases the new order; matching first would
 * settle and close the stale lease and leave the stale msg failing. */
static void test_collect_stale_before_match(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    assert_int_equal(fx_facilitate(fx), 1); /* leased at 1: stale from 2 + FX_PERIOD */
    uint64_t stale_height = 2 + FX_PERIOD;
    fx->height = stale_height - 1;
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 20, 100, 2);
    fx_msg_update(m, fx->tenant, 1, 1);
    fx_ok(fx, m->signer, &m->msg); /* re-order oseq 2, match stale_height - 1 */
    free(m);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 2, 9);
    fx_collected_t *c = collected_new();
    fx->height = stale_height;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 2);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_SUBMIT_STALE_LEASE);
    assert_int_equal(c->msgs[1].kind, KUMO__MSG__SUM_SUBMIT_LEASE);
    for (size_t i = 0; i < c->count; i++) {
        fx_fac_apply(fx, &c->msgs[i]);
    }
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_STALE);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 2, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    free(c);
}

static void test_collect_closable_deployments_only(void **state)
{
    fx_t *fx = *state;
    /* 1: closing with an unreleased lease; 2: closing without leases; 3: active. */
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    assert_int_equal(fx_facilitate(fx), 1);
    fx_deploy(fx, fx->tenant, 2, 1, 0, DEP_DEPOSIT);
    fx_deploy(fx, fx->tenant, 3, 1, 50, DEP_DEPOSIT);
    fx->height = 4;
    fx_close_dep(fx, fx->tenant, 1);
    fx_close_dep(fx, fx->tenant, 2);
    fx_collected_t *c = collected_new();
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_DEPLOYMENT_CLOSED);
    assert_int_equal(c->msgs[0].dseq, 2);
    fx_fac_apply(fx, &c->msgs[0]);
    fx->height = 4 + FX_RELEASE - 1;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    fx->height = 4 + FX_RELEASE;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].dseq, 1);
    /* Released before the timeout: due at once. */
    fx->height = 4 + FX_RELEASE - 5;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, true);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].dseq, 1);
    fx_fac_apply(fx, &c->msgs[0]);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    free(c);
}

static void test_collect_bounds_and_stop(void **state)
{
    fx_t *fx = *state;
    for (uint64_t d = 1; d <= 3; d++) {
        fx_deploy(fx, fx->tenant, d, 1, 0, DEP_DEPOSIT);
        fx_bid(fx, fx->prov[0], fx->tenant, d, 0, 1, 9);
    }
    fx_collected_t *c = collected_new();
    fx_collect(fx, 0, c);
    assert_int_equal(c->count, 0);
    fx_collect(fx, 2, c);
    assert_int_equal(c->count, 2);
    c->stop_after = 1;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    c->stop_after = 0;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 3);
    free(c);
}

static int failing_cb(void *cb_ctx, const Kumo__Msg *msg)
{
    (void)cb_ctx;
    (void)msg;
    return KUMO_ENOMEM;
}

static void test_collect_callback_error_and_corrupt_index(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        kumo_market_facilitator_collect(&fx->ts.kv, fx->height, 10, failing_cb, NULL, &err),
        KUMO_ENOMEM);
    uint8_t bad[3] = {0x20, 0, 0};
    assert_int_equal(fx->ts.kv.put(fx->ts.kv.ctx, kumo_bytes_make(bad, sizeof(bad)),
                                   kumo_bytes_make(NULL, 0), &err),
                     0);
    fx_collected_t *c = collected_new();
    assert_int_equal(
        kumo_market_facilitator_collect(&fx->ts.kv, fx->height, 10, fx_collect_cb, c, &err),
        KUMO_ECORRUPT);
    free(c);
}

static void test_is_facilitator(void **state)
{
    (void)state;
    for (int k = KUMO__MSG__SUM_SEND; k <= KUMO__MSG__SUM_DEPLOYMENT_CLOSED; k++) {
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = (Kumo__Msg__SumCase)k;
        bool want = k == KUMO__MSG__SUM_SUBMIT_LEASE || k == KUMO__MSG__SUM_SUBMIT_STALE_LEASE ||
                    k == KUMO__MSG__SUM_DEPLOYMENT_CLOSED;
        assert_true(kumo_market_msg_is_facilitator(&msg) == want);
    }
    Kumo__Msg msg = KUMO__MSG__INIT;
    assert_false(kumo_market_msg_is_facilitator(&msg));
    assert_int_equal(kumo_market_msg_validate_basic(&msg, NULL), KUMO_EUNKNOWNMSG);
    msg.sum_case = (Kumo__Msg__SumCase)99;
    assert_int_equal(kumo_market_msg_validate_basic(&msg, NULL), KUMO_EUNKNOWNMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collect_due_orders_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_names_best_bid, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_stale_leases_only, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_stale_before_match, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_closable_deployments_only, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_bounds_and_stop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_collect_callback_error_and_corrupt_index, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_is_facilitator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
