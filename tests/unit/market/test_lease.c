/*
 * test_lease.c - proves SubmitLease, SubmitLeaseConfirmation, SubmitStaleLease and
 * DeploymentClosed: matching picks the lowest total with ties to the earliest bid and refunds
 * the rest; a confirmation pays exactly price x blocks from escrow (capped: the provider gets
 * what is left, never more) plus floor(collateral x rate x blocks / 1e9) of minted interest;
 * a release returns the collateral; a stale lease's collateral goes to the tenant; closing
 * honours release_timeout. Every rule of each msg fails with its own code and leaves the kv
 * byte-identical, including batch limits at MAX and MAX+1. Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u

/* tenant/1: g0 (us-east) bids p0 8, p1 7, p4 7 (p1 first); g1 (us-west) bid p2 6. Height 6. */
static void prep_bids(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, 1, 2, 5, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 7);
    fx_bid(fx, fx->prov[4], fx->tenant, 1, 0, 1, 7);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 6);
    fx->height = 6;
}

/* prep_bids, then both groups leased at height 6: g0 -> p1 (14/block), g1 -> p2 (12/block). */
static void prep_leased(fx_t *fx)
{
    prep_bids(fx);
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_lease(fx, fx->tenant, 1, 1, 1, fx->prov[2]);
}

/* ---- SubmitLease ---------------------------------------------------------------------------- */

static void test_lease_matches_best_and_refunds_others(void **state)
{
    fx_t *fx = *state;
    prep_bids(fx);
    fx->event_count = 0;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    assert_int_equal(fx_order_state(fx, fx->tenant, 1, 0, 1), KUMO__ORDER_STATE__ORDER_MATCHED);
    Kumo__Fulfillment *f = fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    assert_int_equal(f->state, KUMO__FULFILLMENT_STATE__FULFILLMENT_MATCHED);
    kumo_codec_free(&f->base);
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[0]));
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[4]));
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    assert_int_equal(l->state, KUMO__LEASE_STATE__LEASE_ACTIVE);
    assert_int_equal(l->price_total, 14);
    assert_int_equal(l->collateral_total, 200);
    assert_int_equal(l->created_height, 6);
    assert_int_equal(l->last_confirmed_height, 6);
    assert_int_equal(l->last_paid_height, 6);
    kumo_codec_free(&l->base);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE);
    assert_int_equal(fx_balance(fx, fx->prov[4]), FX_BALANCE);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - 200);
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->open_bid_count, 0);
    assert_int_equal(p->live_lease_count, 1);
    kumo_codec_free(&p->base);
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 0);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_ACTIVE);
    assert_memory_equal(g->lease_provider.data, fx->prov[1], KUMO_ADDRESS_BYTES);
    assert_int_equal(g->lease_oseq, 1);
    kumo_codec_free(&g->base);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->unreleased_lease_count, 1);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_event_count(fx, "order.matched"), 1);
    assert_int_equal(fx_event_count(fx, "lease.created"), 1);
    assert_int_equal(fx_event_count(fx, "fulfillment.refunded"), 2);
    assert_int_equal(fx_global(fx).collateral_total, 200 + 200);
    /* Event ids use the codec's text id format. */
    Kumo__OrderId oid = KUMO__ORDER_ID__INIT;
    oid.owner.data = fx->tenant;
    oid.owner.len = KUMO_ADDRESS_BYTES;
    oid.dseq = 1;
    oid.oseq = 1;
    char want[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_lease_id_format(&oid, fx->prov[1], want), 0);
    assert_string_equal(fx_event_id(fx, "lease.created"), want);
    assert_int_equal(kumo_codec_lease_id_format(&oid, fx->prov[0], want), 0);
    assert_string_equal(fx_event_id(fx, "fulfillment.refunded"), want);
    assert_int_equal(kumo_codec_order_id_format(&oid, want), 0);
    assert_string_equal(fx_event_id(fx, "order.matched"), want);
}

static void lease_build(fx_t *fx, fx_msg_t *m)
{
    prep_bids(fx);
    fx_msg_lease(m, fx->val, fx->tenant, 1, 0, 1, fx->prov[1]);
}
static void l_not_operator(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant;
}
static void l_order_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sl.order = NULL;
}
static void l_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.owner.len = 19;
}
static void l_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 0;
}
static void l_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.dseq = 0;
}
static void l_provider_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sl.provider.len = 19;
}
static void l_order_unknown(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 2;
}
static void l_order_matched(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
}
static void l_order_closed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void l_too_early(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 5;
}
static void l_later(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 60;
}
static void l_no_such_bid(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->addr, fx->prov[3], KUMO_ADDRESS_BYTES);
}
static void l_not_lowest(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->addr, fx->prov[0], KUMO_ADDRESS_BYTES);
}
static void l_tie_later(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->addr, fx->prov[4], KUMO_ADDRESS_BYTES);
}
static void l_tie_after_cancel(fx_t *fx, fx_msg_t *m)
{
    fx_msg_t *c = fx_msg_new();
    fx_msg_cancel(c, fx->prov[1], fx->tenant, 1, 0, 1);
    fx_ok(fx, c->signer, &c->msg);
    free(c);
    memcpy(m->addr, fx->prov[4], KUMO_ADDRESS_BYTES);
}
static void l_no_bids(fx_t *fx, fx_msg_t *m)
{
    fx_deploy(fx, fx->tenant, 2, 1, 0, DEP_DEPOSIT);
    m->oid.dseq = 2;
    memcpy(m->addr, fx->prov[0], KUMO_ADDRESS_BYTES);
}

static void test_submit_lease_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid (at match height)", fx_case_none, 0},
        {"valid (later)", l_later, 0},
        {"signer not an operator", l_not_operator, KUMO_EUNAUTH},
        {"order id missing", l_order_missing, KUMO_EEMPTY},
        {"owner 19 bytes", l_owner_short, KUMO_EINVAL},
        {"dseq 0", l_dseq_zero, KUMO_EINVAL},
        {"oseq 0", l_oseq_zero, KUMO_EINVAL},
        {"provider 19 bytes", l_provider_short, KUMO_EINVAL},
        {"order unknown", l_order_unknown, KUMO_ENOTFOUND},
        {"order matched", l_order_matched, KUMO_ESTATE},
        {"order closed", l_order_closed, KUMO_ESTATE},
        {"before match height", l_too_early, KUMO_ETOOEARLY},
        {"no bid by that provider", l_no_such_bid, KUMO_ENOTFOUND},
        {"not the lowest total", l_not_lowest, KUMO_ENOTBEST},
        {"equal total, later bid", l_tie_later, KUMO_ENOTBEST},
        {"equal total after the earlier bid cancelled", l_tie_after_cancel, 0},
        {"order without bids", l_no_bids, KUMO_ENOTFOUND},
    };
    fx_cases_run(*state, lease_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- SubmitLeaseConfirmation ---------------------------------------------------------------- */

/* Exact payment and interest: price 5 x count 2 = 10 per block, collateral 1e6 x 2 = 2e6;
 * interest per block = 2e6 x 1000 / 1e9 = 2. */
static void deploy_rich_collateral(fx_t *fx, uint64_t dseq, uint64_t deposit)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, dseq, 1, 5, deposit);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 1000000, 2);
    fx_ok(fx, m->signer, &m->msg);
    fx_msg_bid(m, fx->prov[0], fx->tenant, dseq, 0, 1, &m->specs[0], 5);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    fx->height += 5;
    fx_lease(fx, fx->tenant, dseq, 0, 1, fx->prov[0]);
}

static void test_confirm_pays_exact_amount_and_interest(void **state)
{
    fx_t *fx = *state;
    deploy_rich_collateral(fx, 1, DEP_DEPOSIT); /* leased at height 6 */
    Kumo__Global g0 = fx_global(fx);
    kumo_bank_totals_t t0 = fx_totals(fx);
    fx->height = 16;
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 2000000 + 100 + 20);
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    assert_int_equal(l->total_paid, 100);
    assert_int_equal(l->interest_paid, 20);
    assert_int_equal(l->last_confirmed_height, 16);
    assert_int_equal(l->last_paid_height, 16);
    kumo_codec_free(&l->base);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->escrow, DEP_DEPOSIT - 100);
    assert_int_equal(d->total_paid, 100);
    kumo_codec_free(&d->base);
    Kumo__Global g1 = fx_global(fx);
    assert_int_equal(fx_totals(fx).supply, t0.supply + 20);
    assert_int_equal(g1.minted_interest, 20);
    assert_int_equal(g1.escrow_total, g0.escrow_total - 100);
    assert_int_equal(fx_event_count(fx, "lease.paid"), 1);
    assert_int_equal(fx_event_count(fx, "lease.confirmed"), 1);
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 0);
    /* A second confirmation in the same block pays nothing more. */
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 2000000 + 120);
    /* Interest floors per payment: 3 blocks of 2e6 x 1000 ppb = 6. */
    fx->height = 19;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 2000000 + 120 + 30 + 6);
}

/* Interest: exact below the supply's ceiling, capped at its headroom, never an overflow. */
static void test_interest_capped_at_supply_headroom(void **state)
{
    (void)state;
    static const struct {
        uint64_t collateral, rate, blocks, supply, want;
    } cases[] = {
        {2000000, 1000, 10, 0, 20},
        {2000000, 1000, 0, 0, 0},
        {2000000, 1000, 10, KUMO_SUPPLY_MAX - 7, 7},
        {2000000, 1000, 10, KUMO_SUPPLY_MAX, 0},
        {2000000, 1000, 10, UINT64_MAX, 0},
        {UINT64_MAX, 1000000000, UINT64_MAX, 0, KUMO_SUPPLY_MAX},
        {UINT64_MAX, 1000000000, UINT64_MAX, KUMO_GENESIS_SUPPLY_MAX,
         KUMO_SUPPLY_MAX - KUMO_GENESIS_SUPPLY_MAX},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        assert_true(kumo_market_interest(cases[i].collateral, cases[i].rate, cases[i].blocks,
                                         cases[i].supply) == cases[i].want);
    }
}

/* The escrow runs dry: the provider gets exactly what was left, the deployment closes with
 * reason insufficient_funds, and the escrow_low warning came first. */
static void test_confirm_caps_payment_at_escrow(void **state)
{
    fx_t *fx = *state;
    deploy_rich_collateral(fx, 1, 1005); /* 10 per block, leased at height 6 */
    fx->height = 106;
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false); /* 1000 owed, 5 left */
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), 5);
    assert_int_equal(fx_event_count(fx, "deployment.escrow_low"), 1);
    assert_int_equal(fx_dep_state(fx, fx->tenant, 1), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    uint64_t before = fx_balance(fx, fx->prov[0]);
    fx->height = 108;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false); /* 20 owed, 5 paid */
    /* 5 from escrow plus 2 blocks of interest (4). */
    assert_int_equal(fx_balance(fx, fx->prov[0]), before + 5 + 4);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), 0);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    assert_int_equal(d->total_paid, 1005);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_CLOSING);
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    assert_int_equal(l->total_paid, 1005);
    kumo_codec_free(&l->base);
}

/* Two leases of one deployment confirmed in one batch after the escrow ran out: both are
 * processed (the second gets nothing), and the deployment closes once, after the batch. */
static void test_confirm_batch_with_empty_escrow(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, 1, 2, 0, 1000);
    fx_spec_set(&m->specs[1], "g1", "us-east", 1, 10, 100, 2);
    fx_ok(fx, m->signer, &m->msg);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 1, 1, 10);
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    fx_lease(fx, fx->tenant, 1, 1, 1, fx->prov[0]);
    fx->height = 41; /* 40 blocks x 20 = 800 owed per lease; 1000 in escrow */
    fx->event_count = 0;
    fx_msg_confirm(m, fx->prov[0]);
    fx_confirm_add(m, fx->tenant, 1, 0, 1, false);
    fx_confirm_add(m, fx->tenant, 1, 1, 1, false);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), 0);
    assert_int_equal(fx_event_count(fx, "deployment.closing"), 1);
    assert_int_equal(fx_event_count(fx, "lease.closing"), 2);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->total_paid, 1000);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    kumo_codec_free(&d->base);
    free(m);
}

static void test_release_returns_collateral(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 8;
    fx_close_dep(fx, fx->tenant, 1);
    uint64_t before = fx_balance(fx, fx->prov[1]);
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
    assert_int_equal(fx_balance(fx, fx->prov[1]), before + 200);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_RELEASED);
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->live_lease_count, 0);
    kumo_codec_free(&p->base);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->unreleased_lease_count, 1);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_event_count(fx, "lease.released"), 1);
}

static void confirm_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx);
    fx->height = 10;
    fx_msg_confirm(m, fx->prov[1]);
    fx_confirm_add(m, fx->tenant, 1, 0, 1, false);
}
static void k_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->lc.n_confirmations = 0;
}
static void k_over_max(fx_t *fx, fx_msg_t *m)
{
    for (uint32_t i = 1; i <= KUMO_CONFIRM_COUNT_MAX; i++) {
        fx_confirm_add(m, fx->tenant, 1000 + i, 0, 1, false);
    }
}
static void k_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf_ptrs[0] = NULL;
}
static void k_order_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf[0].order = NULL;
}
static void k_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf_oid[0].owner.len = 19;
}
static void k_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf_oid[0].dseq = 0;
}
static void k_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf_oid[0].oseq = 0;
}
static void k_duplicate(fx_t *fx, fx_msg_t *m)
{
    fx_confirm_add(m, fx->tenant, 1, 0, 1, true);
}
static void k_two_leases(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    /* p1 holds one lease only; a second lease of another deployment: */
    fx_deploy(fx, fx->tenant2, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[1], fx->tenant2, 1, 0, 1, 10);
    fx_lease(fx, fx->tenant2, 1, 0, 1, fx->prov[1]);
    fx_confirm_add(m, fx->tenant2, 1, 0, 1, false);
}
static void k_others_lease(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[2];
}
static void k_no_lease(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf_oid[0].dseq = 7;
}
static void k_second_fails(fx_t *fx, fx_msg_t *m)
{
    fx_confirm_add(m, fx->tenant, 1, 1, 1, false); /* p2's lease */
}
static void k_release_active(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf[0].released = true;
}
static void k_confirm_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void k_release_closing(fx_t *fx, fx_msg_t *m)
{
    fx_close_dep(fx, fx->tenant, 1);
    m->conf[0].released = true;
}
static void k_release_released(fx_t *fx, fx_msg_t *m)
{
    k_release_closing(fx, m);
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
}
static void k_stale(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 17;
    fx_msg_t *s = fx_msg_new();
    fx_msg_stale(s, fx->val, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_ok(fx, s->signer, &s->msg);
    free(s);
}
static void k_closed(fx_t *fx, fx_msg_t *m)
{
    k_release_closing(fx, m);
    fx->height += FX_RELEASE;
    fx_msg_t *c = fx_msg_new();
    fx_msg_closed(c, fx->val, fx->tenant, 1);
    fx_ok(fx, c->signer, &c->msg);
    free(c);
}

static void test_confirm_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"valid (two leases)", k_two_leases, 0},
        {"no confirmations", k_empty, KUMO_EEMPTY},
        {"confirmations over max", k_over_max, KUMO_ELIMIT},
        {"confirmation missing", k_missing, KUMO_EEMPTY},
        {"order id missing", k_order_missing, KUMO_EEMPTY},
        {"owner 19 bytes", k_owner_short, KUMO_EINVAL},
        {"dseq 0", k_dseq_zero, KUMO_EINVAL},
        {"oseq 0", k_oseq_zero, KUMO_EINVAL},
        {"same lease twice", k_duplicate, KUMO_EDUPLICATE},
        {"another provider's lease", k_others_lease, KUMO_EUNAUTH},
        {"no lease on the order", k_no_lease, KUMO_ENOTFOUND},
        {"second of two fails", k_second_fails, KUMO_EUNAUTH},
        {"release an active lease", k_release_active, KUMO_ESTATE},
        {"confirm a closing lease", k_confirm_closing, KUMO_ESTATE},
        {"release a closing lease", k_release_closing, 0},
        {"release a released lease", k_release_released, KUMO_ESTATE},
        {"confirm a stale lease", k_stale, KUMO_ESTATE},
        {"confirm a closed lease", k_closed, KUMO_ESTATE},
    };
    fx_cases_run(*state, confirm_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* KUMO_CONFIRM_COUNT_MAX confirmations of real leases in one msg. */
static void test_confirm_batch_at_max(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    uint32_t deps = KUMO_CONFIRM_COUNT_MAX / KUMO_GROUP_COUNT_MAX;
    for (uint32_t d = 1; d <= deps; d++) {
        fx_msg_deploy(m, fx->tenant, d, KUMO_GROUP_COUNT_MAX, 0, DEP_DEPOSIT);
        for (size_t g = 0; g < KUMO_GROUP_COUNT_MAX; g++) {
            snprintf(m->specs[g].region, sizeof(m->specs[g].region), "us-east");
        }
        assert_int_equal(fx_apply(fx, m->signer, &m->msg), 0);
    }
    fx_msg_t *b = fx_msg_new();
    fx_spec_set(&b->specs[0], "x", "x", 1, 10, 100, 2);
    for (uint32_t d = 1; d <= deps; d++) {
        for (uint32_t g = 0; g < KUMO_GROUP_COUNT_MAX; g++) {
            fx_msg_bid(b, fx->prov[0], fx->tenant, d, g, 1, &b->specs[0], 10);
            assert_int_equal(fx_apply(fx, b->signer, &b->msg), 0);
            fx_msg_lease(b, fx->val, fx->tenant, d, g, 1, fx->prov[0]);
            assert_int_equal(fx_apply(fx, b->signer, &b->msg), 0);
        }
    }
    fx_check(fx);
    fx->height = 2;
    fx_msg_confirm(m, fx->prov[0]);
    for (uint32_t d = 1; d <= deps; d++) {
        for (uint32_t g = 0; g < KUMO_GROUP_COUNT_MAX; g++) {
            fx_confirm_add(m, fx->tenant, d, g, 1, false);
        }
    }
    assert_int_equal(m->lc.n_confirmations, KUMO_CONFIRM_COUNT_MAX);
    fx_expect(fx, m->signer, &m->msg, 0, "confirmations at max");
    fx_confirm_add(m, fx->tenant, 999, 0, 1, false);
    fx_expect(fx, m->signer, &m->msg, KUMO_ELIMIT, "confirmations over max");
    m->lc.n_confirmations--;
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->prov[0]),
                     FX_BALANCE - 200ull * KUMO_CONFIRM_COUNT_MAX + 20ull * KUMO_CONFIRM_COUNT_MAX);
    free(b);
    free(m);
}

/* ---- SubmitStaleLease ----------------------------------------------------------------------- */

static void test_stale_gives_collateral_to_tenant(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx); /* g0 -> p1, not persist */
    fx->height = 17;
    fx->event_count = 0;
    fx_msg_t *m = fx_msg_new();
    fx_msg_stale(m, fx->val, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - DEP_DEPOSIT + 200);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - 200);
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    assert_int_equal(l->state, KUMO__LEASE_STATE__LEASE_STALE);
    assert_int_equal(l->ended_height, 17);
    assert_int_equal(l->total_paid, 0);
    kumo_codec_free(&l->base);
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 0), KUMO__GROUP_STATE__GROUP_CLOSED);
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->live_lease_count, 0);
    kumo_codec_free(&p->base);
    assert_int_equal(fx_event_count(fx, "lease.stale"), 1);
    assert_int_equal(fx_event_count(fx, "group.closed"), 1);
    assert_int_equal(fx_event_count(fx, "order.created"), 0);
    free(m);
}

static void stale_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx);
    fx->height = 6 + FX_PERIOD + 1;
    fx_msg_stale(m, fx->val, fx->tenant, 1, 0, 1, fx->prov[1]);
}
static void s_not_operator(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[1];
}
static void s_order_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ssl.order = NULL;
}
static void s_owner_long(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.owner.len = 21;
}
static void s_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 0;
}
static void s_provider_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ssl.provider.len = 0;
    m->ssl.provider.data = NULL;
}
static void s_wrong_provider(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->addr, fx->prov[0], KUMO_ADDRESS_BYTES);
}
static void s_one_block_early(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height--;
}
static void s_confirmed_recently(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 10;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
    fx->height = 10 + FX_PERIOD;
}
static void s_confirmed_then_late(fx_t *fx, fx_msg_t *m)
{
    s_confirmed_recently(fx, m);
    fx->height++;
}
static void s_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void s_already_stale(fx_t *fx, fx_msg_t *m)
{
    fx_ok(fx, m->signer, &m->msg);
}

static void test_stale_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"signer not an operator", s_not_operator, KUMO_EUNAUTH},
        {"order id missing", s_order_missing, KUMO_EEMPTY},
        {"owner 21 bytes", s_owner_long, KUMO_EINVAL},
        {"oseq 0", s_oseq_zero, KUMO_EINVAL},
        {"provider empty", s_provider_empty, KUMO_EINVAL},
        {"no lease of that provider", s_wrong_provider, KUMO_ENOTFOUND},
        {"exactly at the period", s_one_block_early, KUMO_ENOTSTALE},
        {"confirmed within the period", s_confirmed_recently, KUMO_ENOTSTALE},
        {"confirmed, then the period passed", s_confirmed_then_late, 0},
        {"lease closing", s_closing, KUMO_ESTATE},
        {"lease already stale", s_already_stale, KUMO_ESTATE},
    };
    fx_cases_run(*state, stale_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- DeploymentClosed ----------------------------------------------------------------------- */

static void test_deployment_closed_refunds_and_ends_leases(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 10;
    fx_close_dep(fx, fx->tenant, 1); /* pays 4 x 14 = 56 and 4 x 12 = 48 */
    fx->height = 12;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true); /* p1 releases; p2 never does */
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    fx->height = 10 + FX_RELEASE;
    fx->event_count = 0;
    fx_msg_t *m = fx_msg_new();
    fx_msg_closed(m, fx->val, fx->tenant, 1);
    fx_ok(fx, m->signer, &m->msg);
    /* Escrow rest plus p2's unreleased collateral go to the tenant. */
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before + (DEP_DEPOSIT - 56 - 48) + 200);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE - 200 + 48);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE + 56);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED);
    assert_int_equal(d->escrow, 0);
    assert_int_equal(d->closed_height, 10 + FX_RELEASE);
    assert_int_equal(d->unreleased_lease_count, 0);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_CLOSED);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 1, 1, fx->prov[2]),
                     KUMO__LEASE_STATE__LEASE_CLOSED);
    Kumo__Provider *p = fx_provider(fx, fx->prov[2]);
    assert_int_equal(p->live_lease_count, 0);
    kumo_codec_free(&p->base);
    assert_int_equal(fx_event_count(fx, "lease.closed"), 2);
    assert_int_equal(fx_event_count(fx, "deployment.closed"), 1);
    Kumo__Global g = fx_global(fx);
    assert_int_equal(g.escrow_total, 0);
    assert_int_equal(g.collateral_total, 0);
    free(m);
}

static void closed_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx);
    fx->height = 10;
    fx_close_dep(fx, fx->tenant, 1);
    fx->height = 10 + FX_RELEASE;
    fx_msg_closed(m, fx->val, fx->tenant, 1);
}
static void z_not_operator(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant;
}
static void z_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dc.owner.len = 19;
}
static void z_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dc.dseq = 0;
}
static void z_not_found(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dc.dseq = 5;
}
static void z_before_timeout(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height--;
}
static void z_all_released_early(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 11;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
    fx_confirm1(fx, fx->prov[2], fx->tenant, 1, 1, 1, true);
}
static void z_one_released_early(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 11;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
}
static void z_active(fx_t *fx, fx_msg_t *m)
{
    fx_deploy(fx, fx->tenant, 2, 1, 0, DEP_DEPOSIT);
    m->dc.dseq = 2;
}
static void z_closed(fx_t *fx, fx_msg_t *m)
{
    fx_ok(fx, m->signer, &m->msg);
}

static void test_deployment_closed_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid (release timeout passed)", fx_case_none, 0},
        {"signer not an operator", z_not_operator, KUMO_EUNAUTH},
        {"owner 19 bytes", z_owner_short, KUMO_EINVAL},
        {"dseq 0", z_dseq_zero, KUMO_EINVAL},
        {"not found", z_not_found, KUMO_ENOTFOUND},
        {"one block before the timeout", z_before_timeout, KUMO_ENOTDUE},
        {"all released before the timeout", z_all_released_early, 0},
        {"one of two released before the timeout", z_one_released_early, KUMO_ENOTDUE},
        {"deployment active", z_active, KUMO_ESTATE},
        {"deployment closed", z_closed, KUMO_ESTATE},
    };
    fx_cases_run(*state, closed_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_matches_best_and_refunds_others, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_submit_lease_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test(test_interest_capped_at_supply_headroom),
        cmocka_unit_test_setup_teardown(test_confirm_pays_exact_amount_and_interest, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_caps_payment_at_escrow, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_batch_with_empty_escrow, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_release_returns_collateral, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_batch_at_max, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_gives_collateral_to_tenant, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_closed_refunds_and_ends_leases, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_closed_rejects_each_rule, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
