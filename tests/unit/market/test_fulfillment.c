/*
 * test_fulfillment.c - proves SubmitFulfillment and CancelFulfillment: a bid locks exactly
 * its collateral and is counted on its order and provider; at max_bids_per_order the worst
 * bid (highest total, ties to the latest) is evicted and refunded, and a bid that does not
 * beat it is refused; every rule (provider registered, order exists and is open, one bid per
 * provider, region, resource shape, price cap, funds, id and resource validation) fails with
 * its own code and leaves the kv byte-identical. Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u

static void deploy_one(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, 1, 2, 5, DEP_DEPOSIT);
}

/* Funds and registers n extra providers in us-east: addresses fx_addr(0xe0 + i). */
static void extra_providers(fx_t *fx, uint8_t (*addrs)[KUMO_ADDRESS_BYTES], size_t n)
{
    fx_msg_t *m = fx_msg_new();
    for (size_t i = 0; i < n; i++) {
        fx_addr(addrs[i], (uint8_t)(0xe0 + i));
        fx_msg_send(m, fx->tenant2, addrs[i], 1000000);
        fx_ok(fx, m->signer, &m->msg);
        fx_msg_create_provider(m, addrs[i], "us-east");
        fx_ok(fx, m->signer, &m->msg);
    }
    free(m);
}

static void test_bid_locks_collateral_and_counts(void **state)
{
    fx_t *fx = *state;
    deploy_one(fx);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 200);
    assert_int_equal(fx_global(fx).collateral_total, 200);
    Kumo__Fulfillment *f = fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    assert_non_null(f);
    assert_int_equal(f->state, KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN);
    assert_int_equal(f->price_total, 16);
    assert_int_equal(f->collateral_total, 200);
    assert_int_equal(f->bid_seq, 1);
    assert_int_equal(f->created_height, 1);
    kumo_codec_free(&f->base);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 0, 1);
    assert_int_equal(o->bid_count, 1);
    kumo_codec_free(&o->base);
    Kumo__Provider *p = fx_provider(fx, fx->prov[0]);
    assert_int_equal(p->open_bid_count, 1);
    kumo_codec_free(&p->base);
    assert_int_equal(fx_event_count(fx, "fulfillment.created"), 1);
    assert_int_equal(fx_global(fx).next_bid_seq, 2);

    fx_msg_t *m = fx_msg_new();
    fx_msg_cancel(m, fx->prov[0], fx->tenant, 1, 0, 1);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE);
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[0]));
    o = fx_order(fx, fx->tenant, 1, 0, 1);
    assert_int_equal(o->bid_count, 0);
    kumo_codec_free(&o->base);
    assert_int_equal(fx_event_count(fx, "fulfillment.cancelled"), 1);
    assert_int_equal(fx_global(fx).collateral_total, 0);
    free(m);
}

static void test_bid_cap_evicts_the_worst(void **state)
{
    fx_t *fx = *state;
    deploy_one(fx);
    uint8_t x[3][KUMO_ADDRESS_BYTES];
    extra_providers(fx, x, 3);
    fx_bid(fx, x[0], fx->tenant, 1, 0, 1, 9);        /* 18, seq 1 */
    fx_bid(fx, x[1], fx->tenant, 1, 0, 1, 9);        /* 18, seq 2: the worst */
    fx_bid(fx, x[2], fx->tenant, 1, 0, 1, 7);        /* 14 */
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8); /* 16: the order is full */
    fx->event_count = 0;
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);
    assert_int_equal(fx_event_count(fx, "fulfillment.evicted"), 1);
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, x[1]));
    assert_int_equal(fx_balance(fx, x[1]), 1000000);
    Kumo__Provider *p = fx_provider(fx, x[1]);
    assert_int_equal(p->open_bid_count, 0);
    kumo_codec_free(&p->base);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 0, 1);
    assert_int_equal(o->bid_count, FX_BIDS_MAX);
    kumo_codec_free(&o->base);
    /* Now the worst is x[0] at 18: an equal total does not beat it. */
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 2);
    fx_msg_bid(m, fx->prov[4], fx->tenant, 1, 0, 1, &m->specs[0], 9);
    fx_expect(fx, m->signer, &m->msg, KUMO_EBIDCAP, "equal to the worst");
    fx_msg_bid(m, fx->prov[4], fx->tenant, 1, 0, 1, &m->specs[0], 8);
    fx_ok(fx, m->signer, &m->msg);
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, x[0]));
    free(m);
}

/* ---- SubmitFulfillment rules ---------------------------------------------------------------- */

static void bid_build(fx_t *fx, fx_msg_t *m)
{
    deploy_one(fx);
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 2);
    fx_msg_bid(m, fx->prov[0], fx->tenant, 1, 0, 1, &m->specs[0], 8);
}
static void b_price_at_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.price = 10;
}
static void b_not_provider(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void b_order_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sf.order = NULL;
}
static void b_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.owner.len = KUMO_ADDRESS_BYTES - 1;
}
static void b_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.dseq = 0;
}
static void b_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 0;
}
static void b_oseq_unknown(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 2;
}
static void b_gseq_unknown(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.gseq = 5;
}
static void b_order_matched(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 9);
    fx->height = 6;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
}
static void b_order_closed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void b_already_bid(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
}
static void b_wrong_region(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[2];
}
static void b_more_resources(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_rg_set(&m->res[1], 1, 5, 100, 2);
    m->res_ptrs[1] = &m->res[1].rg;
    m->sf.n_resources = 2;
}
static void b_cpu_differs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].cu.cpu_milli++;
}
static void b_memory_differs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].cu.memory_bytes--;
}
static void b_storage_differs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].cu.storage_bytes = 0;
}
static void b_count_differs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.count = 1;
}
static void b_collateral_differs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.collateral = 99;
}
static void b_price_above(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.price = 11;
}
static void b_price_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.price = 0;
}
static void b_no_resources(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sf.n_resources = 0;
}
static void b_resources_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    for (uint32_t i = 0; i <= KUMO_RESOURCE_COUNT_MAX; i++) {
        fx_rg_set(&m->res[i], i, 1, 100, 2);
        m->res_ptrs[i] = &m->res[i].rg;
    }
    m->sf.n_resources = KUMO_RESOURCE_COUNT_MAX + 1;
}
static void b_compute_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].rg.compute = NULL;
}
static void b_resource_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res_ptrs[0] = NULL;
}
static void b_no_funds(fx_t *fx, fx_msg_t *m)
{
    fx_msg_t *c = fx_msg_new();
    fx_msg_create_provider(c, fx->stranger, "us-east");
    fx_ok(fx, c->signer, &c->msg);
    free(c);
    m->signer = fx->stranger;
}
static void b_just_enough_funds(fx_t *fx, fx_msg_t *m)
{
    b_no_funds(fx, m);
    fx_msg_t *c = fx_msg_new();
    fx_msg_send(c, fx->tenant2, fx->stranger, 200);
    fx_ok(fx, c->signer, &c->msg);
    free(c);
}
static void fill_cap(fx_t *fx, uint64_t price)
{
    uint8_t x[3][KUMO_ADDRESS_BYTES];
    extra_providers(fx, x, 3);
    for (size_t i = 0; i < 3; i++) {
        fx_bid(fx, x[i], fx->tenant, 1, 0, 1, price);
    }
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, price);
}
static void b_cap_not_cheaper(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fill_cap(fx, 8);
}
static void b_cap_cheaper(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fill_cap(fx, 9);
}
static void b_cap_cheaper_no_funds(fx_t *fx, fx_msg_t *m)
{
    fill_cap(fx, 9);
    b_no_funds(fx, m);
}

static void test_submit_fulfillment_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"price equal to the order's", b_price_at_max, 0},
        {"signer not a provider", b_not_provider, KUMO_ENOTFOUND},
        {"order id missing", b_order_missing, KUMO_EEMPTY},
        {"order owner 19 bytes", b_owner_short, KUMO_EINVAL},
        {"order dseq 0", b_dseq_zero, KUMO_EINVAL},
        {"order oseq 0", b_oseq_zero, KUMO_EINVAL},
        {"order oseq unknown", b_oseq_unknown, KUMO_ENOTFOUND},
        {"order gseq unknown", b_gseq_unknown, KUMO_ENOTFOUND},
        {"order matched", b_order_matched, KUMO_ESTATE},
        {"order closed", b_order_closed, KUMO_ESTATE},
        {"provider already bid", b_already_bid, KUMO_EEXIST},
        {"provider in another region", b_wrong_region, KUMO_EREGION},
        {"more resource groups", b_more_resources, KUMO_EMISMATCH},
        {"cpu differs", b_cpu_differs, KUMO_EMISMATCH},
        {"memory differs", b_memory_differs, KUMO_EMISMATCH},
        {"storage differs", b_storage_differs, KUMO_EMISMATCH},
        {"count differs", b_count_differs, KUMO_EMISMATCH},
        {"collateral differs", b_collateral_differs, KUMO_EMISMATCH},
        {"price above the order's", b_price_above, KUMO_EPRICE},
        {"price 0", b_price_zero, KUMO_EINVAL},
        {"no resources", b_no_resources, KUMO_EEMPTY},
        {"resources over max", b_resources_over, KUMO_ELIMIT},
        {"compute missing", b_compute_missing, KUMO_EEMPTY},
        {"resource missing", b_resource_missing, KUMO_EEMPTY},
        {"collateral over balance", b_no_funds, KUMO_EFUNDS},
        {"collateral = whole balance", b_just_enough_funds, 0},
        {"order full, bid not cheaper than the worst", b_cap_not_cheaper, KUMO_EBIDCAP},
        {"order full, bid cheaper than the worst", b_cap_cheaper, 0},
        {"order full, cheaper but no funds", b_cap_cheaper_no_funds, KUMO_EFUNDS},
    };
    fx_cases_run(*state, bid_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- CancelFulfillment rules ---------------------------------------------------------------- */

static void cancel_build(fx_t *fx, fx_msg_t *m)
{
    deploy_one(fx);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 9);
    fx_msg_cancel(m, fx->prov[0], fx->tenant, 1, 0, 1);
}
static void c_no_bid(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[4];
}
static void c_order_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->cf.order = NULL;
}
static void c_owner_long(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.owner.len = KUMO_ADDRESS_BYTES + 1;
}
static void c_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 0;
}
static void c_matched(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 6;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
}
static void c_lost(fx_t *fx, fx_msg_t *m)
{
    c_matched(fx, m);
    m->signer = fx->prov[1];
}
static void c_order_closed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}

static void test_cancel_fulfillment_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"no bid by the signer", c_no_bid, KUMO_ENOTFOUND},
        {"order id missing", c_order_missing, KUMO_EEMPTY},
        {"owner 21 bytes", c_owner_long, KUMO_EINVAL},
        {"oseq 0", c_oseq_zero, KUMO_EINVAL},
        {"bid matched", c_matched, KUMO_ESTATE},
        {"bid lost (refunded at match)", c_lost, KUMO_ENOTFOUND},
        {"order closed (refunded)", c_order_closed, KUMO_ENOTFOUND},
    };
    fx_cases_run(*state, cancel_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bid_locks_collateral_and_counts, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_bid_cap_evicts_the_worst, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_submit_fulfillment_rejects_each_rule, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_fulfillment_rejects_each_rule, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
