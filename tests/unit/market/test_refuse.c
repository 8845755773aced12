/*
 * test_refuse.c - proves MsgRefuseLease (src/market/refuse.c) and the version a confirmation
 * records: a refusal returns the provider's whole collateral, pays nothing for the blocks since
 * the last payment (the escrow keeps them), gives the tenant nothing, closes the lease and its
 * group with reason manifest_refused (no re-order, even with persist; a pending re-order closes
 * too), counts the refusal on the provider record and names the reason in its events; a
 * confirmation naming the current version ends the right to refuse it, one naming an older
 * version or none does not, and an update to a new version reopens it. Every rule of the msg
 * fails with its own code and leaves the kv byte-identical; the detail's limit is tested at MAX
 * and MAX+1. Runs on a real LMDB store with the invariants checked after every msg.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u
#define DSEQ        1u

/* tenant/1: one group g0 (us-east, persist) of 2 units at price 10, collateral 100 each,
 * leased by p1 at 7 per unit (14/block, collateral 200) at height 6. */
static void prep_leased(fx_t *fx)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, DSEQ, 1, 5, DEP_DEPOSIT);
    m->specs[0].spec.persist = true;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    fx_bid(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1, 7);
    fx_bid(fx, fx->prov[0], fx->tenant, DSEQ, 0, 1, 8);
    fx->height = 6;
    fx_lease(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
}

/* p1 confirms its lease, naming the version of every byte tag (0: none). */
static void confirm_as(fx_t *fx, uint8_t tag)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_confirm(m, fx->prov[1]);
    fx_confirm_add(m, fx->tenant, DSEQ, 0, 1, false);
    if (tag != 0) {
        fx_confirm_version(m, 0, tag);
    }
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* The tenant updates to version 0xcd, groups unchanged. */
static void update_version(fx_t *fx)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_update(m, fx->tenant, DSEQ, 0);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static int refuse_rc(fx_t *fx)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_refuse(m, fx->prov[1], fx->tenant, DSEQ, 0, 1);
    int rc = fx_apply(fx, m->signer, &m->msg);
    free(m);
    fx_check(fx);
    return rc;
}

static bool order_exists(fx_t *fx, uint32_t oseq)
{
    kumo_market_oid_t oid = fx_oid(fx->tenant, DSEQ, 0, oseq);
    Kumo__Order *o = NULL;
    int rc = kumo_market_order_get(&fx->ts.kv, &oid, &o, NULL);
    if (rc == 0) {
        kumo_codec_free(&o->base);
    }
    assert_true(rc == 0 || rc == KUMO_ENOTFOUND);
    return rc == 0;
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

/* ---- effects -------------------------------------------------------------------------------- */

static void test_refuse_is_a_no_fault_end(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    uint64_t collateral_before = fx_global(fx).collateral_total;
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - 200);
    fx->height = 9;
    fx->event_count = 0;
    fx_refuse(fx, fx->prov[1], fx->tenant, DSEQ, 0, 1);

    /* The provider: its whole collateral back, nothing paid for blocks 6..9. */
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE);
    /* The tenant: no collateral; the escrow keeps what those blocks would have cost. */
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, DSEQ), DEP_DEPOSIT);
    assert_int_equal(fx_global(fx).collateral_total, collateral_before - 200);
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
    assert_int_equal(l->state, KUMO__LEASE_STATE__LEASE_CLOSED);
    assert_int_equal(l->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED);
    assert_int_equal(l->ended_height, 9);
    assert_int_equal(l->total_paid, 0);
    assert_int_equal(l->interest_paid, 0);
    kumo_codec_free(&l->base);
    /* The group closes instead of re-ordering, persist notwithstanding. */
    Kumo__Group *g = fx_group(fx, fx->tenant, DSEQ, 0);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(g->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED);
    assert_int_equal(g->oseq, 1);
    assert_int_equal(g->lease_provider.len, 0);
    kumo_codec_free(&g->base);
    assert_false(order_exists(fx, 2));
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, DSEQ);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    assert_int_equal(d->unreleased_lease_count, 0);
    assert_int_equal(d->total_paid, 0);
    kumo_codec_free(&d->base);
    /* The provider record counts it. */
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->refused_lease_count, 1);
    assert_int_equal(p->live_lease_count, 0);
    kumo_codec_free(&p->base);
    /* Events name the reason. */
    assert_string_equal(fx->event_reason[event_index(fx, "lease.refused")], "image_missing");
    assert_string_equal(fx->event_reason[event_index(fx, "group.closed")], "manifest_refused");
    assert_int_equal(fx_event_count(fx, "lease.paid"), 0);
    assert_int_equal(fx_event_count(fx, "order.created"), 0);
    /* Nothing is due for the facilitator, then or later. */
    fx->height = 9 + 3 * FX_PERIOD;
    assert_int_equal(fx_facilitate(fx), 0);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before);
}

/* Stale for comparison: the same lease unconfirmed gives the tenant the collateral and
 * re-orders (persist). A refusal is what keeps an honest provider from this. */
static void test_unrefused_lease_goes_stale_to_tenant(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    fx->height = 6 + FX_PERIOD + 1;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before + 200);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_OPEN);
}

static void test_refuse_after_standing_ready_keeps_earlier_pay(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 10;
    confirm_as(fx, 0); /* no manifest yet: paid 4 blocks x 14 */
    uint64_t paid = fx_balance(fx, fx->prov[1]) - (FX_BALANCE - 200);
    assert_true(paid >= 4 * 14);
    fx->height = 13;
    assert_int_equal(refuse_rc(fx), 0);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE + paid);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, DSEQ), DEP_DEPOSIT - 4 * 14);
}

static void test_confirming_current_version_ends_the_right(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 8;
    confirm_as(fx, 0xab); /* the deployment's version: its workloads run */
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
    assert_int_equal(l->confirmed_version.len, KUMO_VERSION_BYTES);
    assert_int_equal(l->confirmed_version.data[0], 0xab);
    kumo_codec_free(&l->base);
    fx->height = 9;
    assert_int_equal(refuse_rc(fx), KUMO_ESTATE);
    /* An update to a new version reopens the window. */
    update_version(fx);
    fx->height = 10;
    assert_int_equal(refuse_rc(fx), 0);
}

static void test_confirming_old_version_records_nothing(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 7;
    update_version(fx); /* now 0xcd */
    fx->height = 8;
    confirm_as(fx, 0xab); /* sent before the provider saw the update */
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, DSEQ, 0, 1, fx->prov[1]);
    assert_int_equal(l->confirmed_version.len, 0);
    assert_int_equal(l->last_confirmed_height, 8);
    kumo_codec_free(&l->base);
    fx->height = 9;
    assert_int_equal(refuse_rc(fx), 0);
}

static void test_refuse_closes_a_pending_reorder(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 7;
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 3); /* one more unit: re-order */
    fx_msg_update(m, fx->tenant, DSEQ, 1);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_OPEN);
    m = fx_msg_new();
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 3);
    fx_msg_bid(m, fx->prov[4], fx->tenant, DSEQ, 0, 2, &m->specs[0], 9);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    assert_int_equal(fx_balance(fx, fx->prov[4]), FX_BALANCE - 300);
    fx->height = 8;
    assert_int_equal(refuse_rc(fx), 0);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 0, 2), KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_int_equal(fx_balance(fx, fx->prov[4]), FX_BALANCE); /* bid refunded */
    assert_int_equal(fx_group_state(fx, fx->tenant, DSEQ, 0), KUMO__GROUP_STATE__GROUP_CLOSED);
}

static void test_refused_group_comes_back_by_update(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 8;
    assert_int_equal(refuse_rc(fx), 0);
    /* The tenant fixes its manifest and lists the group again: a new group, a new order. */
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 2);
    fx_msg_update(m, fx->tenant, DSEQ, 1);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    assert_int_equal(fx_group_state(fx, fx->tenant, DSEQ, 1), KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(fx_order_state(fx, fx->tenant, DSEQ, 1, 1), KUMO__ORDER_STATE__ORDER_OPEN);
}

static void test_refusals_count_up(void **state)
{
    fx_t *fx = *state;
    prep_leased(fx);
    fx->height = 8;
    assert_int_equal(refuse_rc(fx), 0);
    fx_deploy(fx, fx->tenant, 2, 1, 1, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[1], fx->tenant, 2, 0, 1, 7);
    fx->height = 9;
    fx_lease(fx, fx->tenant, 2, 0, 1, fx->prov[1]);
    fx_refuse(fx, fx->prov[1], fx->tenant, 2, 0, 1);
    Kumo__Provider *p = fx_provider(fx, fx->prov[1]);
    assert_int_equal(p->refused_lease_count, 2);
    kumo_codec_free(&p->base);
}

/* ---- every rule ----------------------------------------------------------------------------- */

static void refuse_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx);
    fx->height = 8;
    fx_msg_refuse(m, fx->prov[1], fx->tenant, DSEQ, 0, 1);
}

static void r_no_order(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->rl.order = NULL;
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
static void r_reason_unspecified(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->rl.reason = KUMO__REFUSE_REASON__REFUSE_REASON_UNSPECIFIED;
}
static void r_reason_unknown(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->rl.reason = (Kumo__RefuseReason)4;
}
static void r_reason_mismatch(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->rl.reason = KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH;
}
static void r_reason_other_no_detail(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->rl.reason = KUMO__REFUSE_REASON__REFUSE_REASON_OTHER;
    m->detail[0] = '\0';
}
static void r_detail_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->detail, 'x', KUMO_REFUSE_DETAIL_BYTES_MAX);
    m->detail[KUMO_REFUSE_DETAIL_BYTES_MAX] = '\0';
}
static void r_detail_max_plus_one(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->detail, 'x', KUMO_REFUSE_DETAIL_BYTES_MAX + 1);
    m->detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1] = '\0';
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
static void r_stranger(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void r_no_lease(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->oid.oseq = 2;
}
static void r_confirmed_current(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    confirm_as(fx, 0xab);
}
static void r_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, DSEQ);
}
static void r_stale(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = 6 + FX_PERIOD + 1;
    assert_int_equal(fx_facilitate(fx), 1);
}
static void r_refused_twice(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    assert_int_equal(refuse_rc(fx), 0);
}

static void test_refuse_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"order id missing", r_no_order, KUMO_EEMPTY},
        {"owner of 19 bytes", r_owner_short, KUMO_EINVAL},
        {"dseq 0", r_dseq_zero, KUMO_EINVAL},
        {"oseq 0", r_oseq_zero, KUMO_EINVAL},
        {"reason unspecified", r_reason_unspecified, KUMO_EINVAL},
        {"reason unknown", r_reason_unknown, KUMO_EINVAL},
        {"reason manifest mismatch", r_reason_mismatch, 0},
        {"reason other, no detail", r_reason_other_no_detail, 0},
        {"detail at max", r_detail_max, 0},
        {"detail over max", r_detail_max_plus_one, KUMO_ELIMIT},
        {"detail not UTF-8", r_detail_not_utf8, KUMO_EINVAL},
        {"another provider's lease", r_other_provider, KUMO_EUNAUTH},
        {"a stranger", r_stranger, KUMO_EUNAUTH},
        {"no lease on the order", r_no_lease, KUMO_ENOTFOUND},
        {"current version confirmed", r_confirmed_current, KUMO_ESTATE},
        {"lease closing", r_closing, KUMO_ESTATE},
        {"lease stale", r_stale, KUMO_ESTATE},
        {"lease already refused", r_refused_twice, KUMO_ESTATE},
    };
    fx_cases_run(*state, refuse_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- the version of a confirmation ---------------------------------------------------------- */

static void confirm_build(fx_t *fx, fx_msg_t *m)
{
    prep_leased(fx);
    fx->height = 8;
    fx_msg_confirm(m, fx->prov[1]);
    fx_confirm_add(m, fx->tenant, DSEQ, 0, 1, false);
    fx_confirm_version(m, 0, 0xab);
}

static void c_version_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf[0].version.len = KUMO_VERSION_BYTES - 1;
}
static void c_version_long(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf[0].version.len = KUMO_VERSION_BYTES + 1;
}
static void c_version_other(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_confirm_version(m, 0, 0x01); /* accepted: pays, records nothing */
}
static void c_version_on_release(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->conf[0].released = true;
}

static void test_confirm_version_rules(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"version of 31 bytes", c_version_short, KUMO_EINVAL},
        {"version of 33 bytes", c_version_long, KUMO_EINVAL},
        {"another version", c_version_other, 0},
        {"version on a release", c_version_on_release, KUMO_EINVAL},
    };
    fx_cases_run(*state, confirm_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuse_is_a_no_fault_end, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unrefused_lease_goes_stale_to_tenant, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_after_standing_ready_keeps_earlier_pay,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirming_current_version_ends_the_right, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirming_old_version_records_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_closes_a_pending_reorder, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_group_comes_back_by_update, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_count_up, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_version_rules, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
