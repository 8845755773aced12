/*
 * test_close.c - proves MsgCloseLease (src/market/close.c): a provider closing its running
 * lease is paid up to the close height (exactly what a confirmation there would pay), never gets
 * its collateral back (the tenant does, as for a stale lease), and its lease ends Closed with
 * reason provider_closed; the group is re-ordered when it persists (and the re-order is leased
 * again like any), waits for a pending re-order, or closes with the same reason; an escrow that
 * cannot pay up to the close closes the deployment for insufficient_funds; the deployment closes
 * later as usual without touching the closed lease. Money is conserved (supply moves only by
 * the minted interest). Every rule of the msg fails with its own code and leaves the kv
 * byte-identical; the detail's limit is tested at MAX and MAX+1. Runs on a real LMDB store with
 * the invariants checked after every msg.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u
#define DSEQ        1u
/* The lease of prep_leased: 2 units at 7 per block each, collateral 100 each. */
#define LEASE_PRICE      14u
#define LEASE_COLLATERAL 200u
#define LEASE_HEIGHT     6u

/* tenant/1: one group g0 (us-east, persist as given) of 2 units at price 10, collateral 100
 * each, leased by p1 at 7 per unit at height 6 (p0 bid 8 and lost). */
static void prep_leased(fx_t *fx, bool persist, uint64_t deposit)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, DSEQ, 1, 5, deposit);
    m->specs[0].spec.persist = persist;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    fx_bid(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1, 7);
    fx_bid(fx, fx->prov[0], fx->tenant, DSEQ, 0, 1, 8);
    fx->height = LEASE_HEIGHT;
    fx_lease(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
}

static int close_rc(fx_t *fx)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_close_lease(m, fx->prov[1], fx->tenant, DSEQ, 0, 1);
    int rc = fx_apply(fx, m->signer, &m->msg);
    free(m);
    fx_check(fx);
    return rc;
}

static size_t event_index(const fx_t *fx, const char *type)
{
    for (size_t i = 0; i < fx->event_count; i++) {
        if (strcmp(fx->events[i], type) == 0) {
            return i;
        }
    }
    fail_msg("no %s event", type);
    return 0;
}

static void assert_lease_closed(fx_t *fx, uint64_t height, uint64_t paid)
{
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
    assert_non_null(l);
    assert_int_equal(l->state, KUMO__LEASE_STATE__LEASE_CLOSED);
    assert_int_equal(l->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED);
    assert_int_equal(l->ended_height, height);
    assert_int_equal(l->last_paid_height, height);
    assert_int_equal(l->total_paid, paid);
    kumo_codec_free(&l->base);
}

/* ---- effects -------------------------------------------------------------------------------- */

static void test_close_pays_up_to_now_and_forfeits_collateral(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, true, DEP_DEPOSIT);
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    uint64_t collateral_before = fx_global(fx).collateral_total;
    uint64_t supply_before = fx_totals(fx).supply;
    uint64_t minted_before = fx_global(fx).minted_interest;
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - LEASE_COLLATERAL);
    fx->height = 9;
    fx->event_count = 0;
    fx_close_lease(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1);

    /* The provider: paid for blocks 6..9, its collateral gone for good. */
    uint64_t interest = fx_global(fx).minted_interest - minted_before;
    assert_int_equal(fx_balance(fx, fx->prov[1]),
                     FX_BALANCE - LEASE_COLLATERAL + 3 * LEASE_PRICE + interest);
    /* The tenant: the whole collateral; the escrow paid those blocks. */
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before + LEASE_COLLATERAL);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, DSEQ), DEP_DEPOSIT - 3 * LEASE_PRICE);
    assert_int_equal(fx_global(fx).collateral_total, collateral_before - LEASE_COLLATERAL);
    /* Money only moved, except the interest minted. */
    assert_int_equal(fx_totals(fx).supply, supply_before + interest);
    assert_lease_closed(fx, 9, 3 * LEASE_PRICE);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, DSEQ);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
    assert_int_equal(d->unreleased_lease_count, 0);
    assert_int_equal(d->total_paid, 3 * LEASE_PRICE);
    kumo_codec_free(&d->base);
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->live_lease_count, 0);
    assert_int_equal(p->refused_lease_count, 0);
    kumo_codec_free(&p->base);
    /* Events: paid, then closed with the reason, the collateral and the detail; re-ordered. */
    size_t closed = event_index(fx, "lease.closed");
    assert_true(event_index(fx, "lease.paid") < closed);
    assert_string_equal(fx->event_reason[closed], "provider_closed");
    assert_true(closed < event_index(fx, "order.created"));
    assert_int_equal(fx_event_count(fx, "group.closed"), 0);
}

static void test_persisting_group_is_reordered_and_leased_again(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, true, DEP_DEPOSIT);
    fx->height = 9;
    fx_close_lease(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1);
    Kumo__Group *g = fx_group(fx, fx->tenant, DSEQ, 0);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(g->oseq, 2);
    assert_int_equal(g->lease_provider.len, 0);
    assert_int_equal(g->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
    kumo_codec_free(&g->base);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_OPEN);
    /* The re-order is leased like any order: to p0 once its wait is over. */
    fx_bid(fx, fx->prov[0], fx->tenant, DSEQ, 0, 2, 8);
    fx->height = 9 + 5;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_lease_state(fx, fx->tenant, DSEQ, 0, 2, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    /* The closed lease never comes back into the facilitator's view. */
    fx->height = 9 + 3 * FX_PERIOD;
    fx_confirm1(fx, fx->prov[0], fx->tenant, DSEQ, 0, 2, false);
    assert_int_equal(fx_facilitate(fx), 0);
    assert_lease_closed(fx, 9, 3 * LEASE_PRICE);
}

static void test_group_without_persist_closes_with_the_reason(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, false, DEP_DEPOSIT);
    fx->height = 8;
    fx->event_count = 0;
    fx_close_lease(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1);
    Kumo__Group *g = fx_group(fx, fx->tenant, DSEQ, 0);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(g->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED);
    assert_int_equal(g->closed_height, 8);
    assert_int_equal(g->oseq, 1);
    kumo_codec_free(&g->base);
    assert_string_equal(fx->event_reason[event_index(fx, "group.closed")], "provider_closed");
    assert_int_equal(fx_event_count(fx, "order.created"), 0);
    assert_int_equal(fx_dep_state(fx, fx->tenant, DSEQ), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
}

static void test_pending_reorder_is_kept(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, false, DEP_DEPOSIT);
    fx->height = 7;
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 3); /* one more unit: re-order */
    fx_msg_update(m, fx->tenant, DSEQ, 1);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    m = fx_msg_new();
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 3);
    fx_msg_bid(m, fx->prov[4], fx->tenant, DSEQ, 0, 2, &m->specs[0], 9);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    fx->height = 8;
    assert_int_equal(close_rc(fx), 0);
    /* The group waits for the order already open; its bid stays. */
    assert_int_equal(fx_group_state(fx, fx->tenant, DSEQ, 0), KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_OPEN);
    assert_int_equal(fx_balance(fx, fx->prov[4]), FX_BALANCE - 300);
    fx->height = 7 + 5;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_lease_state(fx, fx->tenant, DSEQ, 0, 2, fx->prov[4]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
}

/* A provider gains nothing by closing: it gets exactly what a confirmation at the same height
 * pays, and its collateral (kept locked by the confirmation) is gone. */
static void test_close_pays_what_a_confirmation_would(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, true, DEP_DEPOSIT);
    fx->height = 14;
    fx_sp_begin(fx);
    fx_confirm1(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1, false);
    uint64_t confirmed = fx_balance(fx, fx->prov[1]);
    uint64_t tenant_confirmed = fx_balance(fx, fx->tenant);
    fx_sp_rollback(fx);
    assert_int_equal(close_rc(fx), 0);
    assert_int_equal(fx_balance(fx, fx->prov[1]), confirmed);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_confirmed + LEASE_COLLATERAL);
}

static void test_short_escrow_closes_the_deployment(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, true, FX_MIN_DEPOSIT); /* 1000 at 14 per block: 71 blocks */
    fx->height = LEASE_HEIGHT + 65;
    fx_confirm1(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1, false); /* 910 paid, 90 left */
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    fx->height = LEASE_HEIGHT + 72;
    fx->event_count = 0;
    assert_int_equal(close_rc(fx), 0);
    assert_lease_closed(fx, LEASE_HEIGHT + 72, FX_MIN_DEPOSIT);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, DSEQ), 0);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before + LEASE_COLLATERAL);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, DSEQ);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    kumo_codec_free(&d->base);
    /* The re-order the close opened closes with the deployment. */
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_string_equal(fx->event_reason[event_index(fx, "lease.closed")], "provider_closed");
    assert_string_equal(fx->event_reason[event_index(fx, "deployment.closing")],
                        "insufficient_funds");
    /* Nothing is unreleased: DeploymentClosed is due at once and leaves the lease as it is. */
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_dep_state(fx, fx->tenant, DSEQ), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED);
    assert_lease_closed(fx, LEASE_HEIGHT + 72, FX_MIN_DEPOSIT);
}

static void test_tenant_closes_after_the_provider(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx, false, DEP_DEPOSIT);
    fx->height = 8;
    assert_int_equal(close_rc(fx), 0);
    uint64_t escrow = fx_dep_escrow(fx, fx->tenant, DSEQ);
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    fx->height = 9;
    fx_close_dep(fx, fx->tenant, DSEQ);
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_dep_state(fx, fx->tenant, DSEQ), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before + escrow);
    assert_lease_closed(fx, 8, 2 * LEASE_PRICE);
}

/* ---- every rule ----------------------------------------------------------------------------- */

static void close_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx, true, DEP_DEPOSIT);
    fx->height = 8;
    fx_msg_close_lease(m, fx->prov[1], fx->tenant, DSEQ, 0, 1);
}

static void r_no_order(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->cl.order = NULL;
}
static void r_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.owner.len = KUMO_ADDRESS_BYTES - 1;
}
static void r_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.dseq = 0;
}
static void r_oseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 0;
}
static void r_no_detail(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->detail[0] = '\0';
}
static void r_detail_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->detail, 'x', KUMO_CLOSE_DETAIL_BYTES_MAX);
    m->detail[KUMO_CLOSE_DETAIL_BYTES_MAX] = '\0';
}
static void r_detail_max_plus_one(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->detail, 'x', KUMO_CLOSE_DETAIL_BYTES_MAX + 1);
    m->detail[KUMO_CLOSE_DETAIL_BYTES_MAX + 1] = '\0';
}
static void r_detail_not_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->detail[0] = (char)0xff;
}
static void r_other_provider(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[0]; /* lost the bid: another provider's lease */
}
static void r_tenant(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant; /* the tenant ends leases by closing its deployment */
}
static void r_stranger(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void r_no_lease(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 2;
}
static void r_unknown_deployment(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.dseq = 99;
}
static void r_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, DSEQ);
}
static void r_released(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, DSEQ);
    fx_confirm1(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1, true);
}
static void r_stale(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = LEASE_HEIGHT + FX_PERIOD + 1;
    assert_int_equal(fx_facilitate(fx), 1);
}
static void r_refused(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_refuse(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1);
}
static void r_closed_twice(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    assert_int_equal(close_rc(fx), 0);
}

static void test_close_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"order id missing", r_no_order, KUMO_EEMPTY},
        {"owner of 19 bytes", r_owner_short, KUMO_EINVAL},
        {"dseq 0", r_dseq_zero, KUMO_EINVAL},
        {"oseq 0", r_oseq_zero, KUMO_EINVAL},
        {"no detail", r_no_detail, 0},
        {"detail at max", r_detail_max, 0},
        {"detail over max", r_detail_max_plus_one, KUMO_ELIMIT},
        {"detail not UTF-8", r_detail_not_utf8, KUMO_EINVAL},
        {"another provider's lease", r_other_provider, KUMO_EUNAUTH},
        {"the tenant", r_tenant, KUMO_EUNAUTH},
        {"a stranger", r_stranger, KUMO_EUNAUTH},
        {"no lease on the order", r_no_lease, KUMO_ENOTFOUND},
        {"unknown deployment", r_unknown_deployment, KUMO_ENOTFOUND},
        {"lease closing", r_closing, KUMO_ESTATE},
        {"lease released", r_released, KUMO_ESTATE},
        {"lease stale", r_stale, KUMO_ESTATE},
        {"lease refused", r_refused, KUMO_ESTATE},
        {"lease already closed by its provider", r_closed_twice, KUMO_ESTATE},
    };
    fx_cases_run(*state, close_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_pays_up_to_now_and_forfeits_collateral, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_persisting_group_is_reordered_and_leased_again,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_without_persist_closes_with_the_reason, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_pending_reorder_is_kept, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_pays_what_a_confirmation_would, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_short_escrow_closes_the_deployment, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_tenant_closes_after_the_provider, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_rejects_each_rule, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
