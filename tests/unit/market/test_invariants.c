/*
 * test_invariants.c - proves kumo_market_invariants_check notices each kind of drift: a
 * supply that does not add up, Global totals that differ from their sums, counters that differ
 * from what they count, a missing or stray index entry, objects that contradict each other,
 * and stored bytes that do not decode. Each row starts from a healthy state (checked clean),
 * breaks one thing with a raw kv write inside a savepoint and expects KUMO_ECORRUPT.
 * Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u

/* tenant/1: g0 leased to p1 (p0 refunded), g1 with p2's open bid; tenant/2 closing with a
 * closing lease of p4. */
static void healthy(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, 1, 2, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 8);
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_deploy(fx, fx->tenant, 2, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[4], fx->tenant, 2, 0, 1, 9);
    fx_lease(fx, fx->tenant, 2, 0, 1, fx->prov[4]);
    fx->height = 5;
    fx_close_dep(fx, fx->tenant, 2);
    fx_check(fx);
}

static void raw_put(fx_t *fx, const kumo_market_key_t *k, const ProtobufCMessage *obj)
{
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(obj, &buf, NULL), 0);
    assert_int_equal(
        fx->ts.kv.put(fx->ts.kv.ctx, kumo_market_key_bytes(k), kumo_buf_bytes(&buf), NULL), 0);
    kumo_buf_free(&buf);
}

static void
global_edit(fx_t *fx, int64_t supply, int64_t escrow, int64_t collateral, int64_t minted)
{
    Kumo__Global g = fx_global(fx);
    kumo_bank_totals_t t = fx_totals(fx);
    t.supply = (uint64_t)((int64_t)t.supply + supply);
    assert_int_equal(kumo_bank_totals_put(&fx->ts.kv, &t, NULL), 0);
    g.escrow_total = (uint64_t)((int64_t)g.escrow_total + escrow);
    g.collateral_total = (uint64_t)((int64_t)g.collateral_total + collateral);
    g.minted_interest = (uint64_t)((int64_t)g.minted_interest + minted);
    kumo_market_key_t k;
    kumo_market_key_global(&k);
    raw_put(fx, &k, &g.base);
}

static void b_supply(fx_t *fx)
{
    global_edit(fx, 1, 0, 0, 0);
}
static void b_escrow_total(fx_t *fx)
{
    global_edit(fx, 1, 1, 0, 0);
}
static void b_collateral_total(fx_t *fx)
{
    global_edit(fx, -1, 0, -1, 0);
}
static void b_minted(fx_t *fx)
{
    global_edit(fx, 0, 0, 0, 1);
}
static void b_bid_seq(fx_t *fx)
{
    Kumo__Global g = fx_global(fx);
    g.next_bid_seq = 3;
    kumo_market_key_t k;
    kumo_market_key_global(&k);
    raw_put(fx, &k, &g.base);
}
static void b_balance(fx_t *fx)
{
    Kumo__Account *a = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->tenant, &a, NULL), 0);
    a->balance++;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, a, NULL), 0);
    kumo_codec_free(&a->base);
}
static void b_escrow_moved(fx_t *fx)
{
    /* Escrow moved between deployments: totals still add up, the sum check alone would not
     * see it, but balances of a closed deployment would; here: deployment 1 +1, 2 -1. */
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    d->escrow += 1;
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, fx->tenant, 1);
    raw_put(fx, &k, &d->base);
    kumo_codec_free(&d->base);
}
static void b_order_bid_count(fx_t *fx)
{
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 1, 1);
    o->bid_count = 2;
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_order(&k, &oid);
    raw_put(fx, &k, &o->base);
    kumo_codec_free(&o->base);
}
static void provider_edit(fx_t *fx, const uint8_t *addr, int bids, int leases)
{
    Kumo__Provider *p = fx_provider(fx, addr);
    p->open_bid_count = (uint32_t)((int)p->open_bid_count + bids);
    p->live_lease_count = (uint32_t)((int)p->live_lease_count + leases);
    kumo_market_key_t k;
    kumo_market_key_provider(&k, addr);
    raw_put(fx, &k, &p->base);
    kumo_codec_free(&p->base);
}
static void b_open_bid_count(fx_t *fx)
{
    provider_edit(fx, fx->prov[2], -1, 0);
}
static void b_live_lease_count(fx_t *fx)
{
    provider_edit(fx, fx->prov[4], 0, -1);
}
static void dep_edit(fx_t *fx, uint64_t dseq, int groups, int unreleased)
{
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, dseq);
    d->group_count = (uint32_t)((int)d->group_count + groups);
    d->unreleased_lease_count = (uint32_t)((int)d->unreleased_lease_count + unreleased);
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, fx->tenant, dseq);
    raw_put(fx, &k, &d->base);
    kumo_codec_free(&d->base);
}
static void b_group_count(fx_t *fx)
{
    dep_edit(fx, 1, 1, 0);
}
static void b_unreleased(fx_t *fx)
{
    dep_edit(fx, 1, 0, 1);
}
static void index_del(fx_t *fx, const kumo_market_key_t *k)
{
    bool has = false;
    assert_int_equal(kumo_market_kv_has(&fx->ts.kv, k, &has, NULL), 0);
    assert_true(has);
    assert_int_equal(kumo_market_kv_del(&fx->ts.kv, k, NULL), 0);
}
static void b_match_index_missing(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_match(&k, 1, &oid);
    index_del(fx, &k);
}
static void b_stale_index_missing(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_stale(&k, 1 + FX_PERIOD + 1, &oid, fx->prov[1]);
    index_del(fx, &k);
}
static void b_stale_index_stray(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 2, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_stale(&k, 99, &oid, fx->prov[4]);
    assert_int_equal(kumo_market_kv_put_empty(&fx->ts.kv, &k, NULL), 0);
}
static void b_closing_index_missing(fx_t *fx)
{
    kumo_market_key_t k;
    kumo_market_key_closing(&k, 5 + FX_RELEASE, fx->tenant, 2);
    index_del(fx, &k);
}
static void b_state_index_missing(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 0, 1);
    kumo_market_key_t obj;
    kumo_market_key_lease(&obj, &oid, fx->prov[1]);
    kumo_market_key_t k;
    kumo_market_key_state(&k, KUMO__LEASE_STATE__LEASE_ACTIVE, &obj);
    index_del(fx, &k);
}
static void b_state_index_wrong(fx_t *fx)
{
    kumo_market_key_t obj;
    kumo_market_key_deployment(&obj, fx->tenant, 1);
    kumo_market_key_t k;
    kumo_market_key_state(&k, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED, &obj);
    assert_int_equal(kumo_market_kv_put_empty(&fx->ts.kv, &k, NULL), 0);
}
static void b_bid_index_missing(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_bid_by_provider(&k, fx->prov[2], &oid);
    index_del(fx, &k);
}
static void b_lease_index_missing(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 2, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_lease_by_provider(&k, fx->prov[4], &oid);
    index_del(fx, &k);
}
static void b_index_with_value(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 2, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_lease_by_provider(&k, fx->prov[4], &oid);
    uint8_t v = 1;
    assert_int_equal(
        fx->ts.kv.put(fx->ts.kv.ctx, kumo_market_key_bytes(&k), kumo_bytes_make(&v, 1), NULL), 0);
}
static void b_order_undecodable(fx_t *fx)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_order(&k, &oid);
    uint8_t junk[] = {0x0a, 0xff};
    assert_int_equal(fx->ts.kv.put(fx->ts.kv.ctx, kumo_market_key_bytes(&k),
                                   kumo_bytes_make(junk, sizeof(junk)), NULL),
                     0);
}
static void b_lease_not_groups(fx_t *fx)
{
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 0);
    g->lease_oseq = 7;
    kumo_market_key_t k;
    kumo_market_key_group(&k, fx->tenant, 1, 0);
    raw_put(fx, &k, &g->base);
    kumo_codec_free(&g->base);
}
static void b_fulfillment_state(fx_t *fx)
{
    Kumo__Fulfillment *f = fx_ful(fx, fx->tenant, 1, 1, 1, fx->prov[2]);
    assert_non_null(f);
    f->state = KUMO__FULFILLMENT_STATE__FULFILLMENT_MATCHED;
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_fulfillment(&k, &oid, fx->prov[2]);
    raw_put(fx, &k, &f->base);
    kumo_codec_free(&f->base);
}

static void b_group_reason_live(fx_t *fx)
{
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 0);
    g->close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_TENANT;
    kumo_market_key_t k;
    kumo_market_key_group(&k, fx->tenant, 1, 0);
    raw_put(fx, &k, &g->base);
    kumo_codec_free(&g->base);
}
static void b_group_closed_no_height(fx_t *fx)
{
    Kumo__Group *g = fx_group(fx, fx->tenant, 2, 0);
    g->closed_height = 0;
    kumo_market_key_t k;
    kumo_market_key_group(&k, fx->tenant, 2, 0);
    raw_put(fx, &k, &g->base);
    kumo_codec_free(&g->base);
}
static void lease_reason_set(fx_t *fx, uint64_t dseq, const uint8_t *prov, Kumo__CloseReason r)
{
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, dseq, 0, 1, prov);
    assert_non_null(l);
    l->close_reason = r;
    kumo_market_oid_t oid = fx_oid(fx->tenant, dseq, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_lease(&k, &oid, prov);
    raw_put(fx, &k, &l->base);
    kumo_codec_free(&l->base);
}
static void b_lease_active_reason(fx_t *fx)
{
    lease_reason_set(fx, 1, fx->prov[1], KUMO__CLOSE_REASON__CLOSE_REASON_TENANT);
}
static void b_lease_closing_no_reason(fx_t *fx)
{
    lease_reason_set(fx, 2, fx->prov[4], KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
}
static void b_lease_closing_stale(fx_t *fx)
{
    lease_reason_set(fx, 2, fx->prov[4], KUMO__CLOSE_REASON__CLOSE_REASON_STALE);
}
static void b_order_open_reason(fx_t *fx)
{
    Kumo__Order *o1 = fx_order(fx, fx->tenant, 1, 1, 1);
    o1->close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED;
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 1, 1);
    kumo_market_key_t k;
    kumo_market_key_order(&k, &oid);
    raw_put(fx, &k, &o1->base);
    kumo_codec_free(&o1->base);
}
static void b_dep_reason(fx_t *fx)
{
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 2);
    d->close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_STALE;
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, fx->tenant, 2);
    raw_put(fx, &k, &d->base);
    kumo_codec_free(&d->base);
}
static void b_dep_active_reason(fx_t *fx)
{
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    d->close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_TENANT;
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, fx->tenant, 1);
    raw_put(fx, &k, &d->base);
    kumo_codec_free(&d->base);
}

typedef struct inv_case {
    const char *name;
    void (*breakit)(fx_t *fx);
} inv_case_t;

static void test_invariants_catch_each_drift(void **state)
{
    fx_t *fx = *state;
    healthy(fx);
    static const inv_case_t cases[] = {
        {"supply off by one", b_supply},
        {"escrow_total off", b_escrow_total},
        {"collateral_total off", b_collateral_total},
        {"minted_interest off", b_minted},
        {"next_bid_seq behind a bid", b_bid_seq},
        {"a balance off", b_balance},
        {"a deployment's escrow off", b_escrow_moved},
        {"order bid_count", b_order_bid_count},
        {"provider open_bid_count", b_open_bid_count},
        {"provider live_lease_count", b_live_lease_count},
        {"deployment group_count", b_group_count},
        {"deployment unreleased_lease_count", b_unreleased},
        {"match index entry missing", b_match_index_missing},
        {"stale index entry missing", b_stale_index_missing},
        {"stray stale index entry", b_stale_index_stray},
        {"closing index entry missing", b_closing_index_missing},
        {"state index entry missing", b_state_index_missing},
        {"state index entry for another state", b_state_index_wrong},
        {"bid-by-provider entry missing", b_bid_index_missing},
        {"lease-by-provider entry missing", b_lease_index_missing},
        {"index entry with a value", b_index_with_value},
        {"order bytes do not decode", b_order_undecodable},
        {"active lease is not its group's", b_lease_not_groups},
        {"open bid marked matched", b_fulfillment_state},
        {"live group with a close reason", b_group_reason_live},
        {"closed group without a closed height", b_group_closed_no_height},
        {"active lease with a close reason", b_lease_active_reason},
        {"closing lease without a reason", b_lease_closing_no_reason},
        {"closing lease marked stale", b_lease_closing_stale},
        {"open order with a close reason", b_order_open_reason},
        {"closing deployment with a group reason", b_dep_reason},
        {"active deployment with a close reason", b_dep_active_reason},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        fx_sp_begin(fx);
        cases[i].breakit(fx);
        kumo_err_ctx_t err = {0};
        int rc = kumo_market_invariants_check(&fx->ts.kv, &err);
        fx_sp_rollback(fx);
        if (rc != KUMO_ECORRUPT) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        fx_check(fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invariants_catch_each_drift, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
