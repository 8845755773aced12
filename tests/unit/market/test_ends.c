/*
 * test_ends.c - every way a lease, group, order or deployment ends records why and when, in
 * state and in the event that announces it: the tenant closing, the escrow running out, a
 * stale lease (with and without persist), an update removing a group, an update replacing an
 * order and then its lease, a refused manifest, a provider closing its lease; a release and
 * DeploymentClosed keep the reason the lease closed with. Invariants (reason iff ended) are checked
 * after every msg (fx_ok).
 */
#include "unit/market/market_fixture.h"

/* The "reason" attr of the first event of type with id (NULL id: any), or NULL. */
static const char *ev_reason(const fx_t *fx, const char *type, const char *id)
{
    for (size_t i = 0; i < fx->event_count; i++) {
        if (strcmp(fx->events[i], type) == 0 && (id == NULL || strcmp(fx->event_id[i], id) == 0)) {
            return fx->event_reason[i];
        }
    }
    return NULL;
}

static void
assert_group_end(fx_t *fx, uint64_t dseq, uint32_t gseq, Kumo__CloseReason reason, uint64_t height)
{
    Kumo__Group *g = fx_group(fx, fx->tenant, dseq, gseq);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(g->close_reason, reason);
    assert_int_equal(g->closed_height, height);
    kumo_codec_free(&g->base);
}

static void assert_order_end(
    fx_t *fx, uint64_t dseq, uint32_t gseq, uint32_t oseq, Kumo__CloseReason reason, uint64_t h)
{
    Kumo__Order *o = fx_order(fx, fx->tenant, dseq, gseq, oseq);
    assert_int_equal(o->state, KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_int_equal(o->close_reason, reason);
    assert_int_equal(o->closed_height, h);
    kumo_codec_free(&o->base);
}

static void assert_lease_end(fx_t *fx,
                             uint64_t dseq,
                             uint32_t gseq,
                             uint32_t oseq,
                             const uint8_t *prov,
                             Kumo__LeaseState state,
                             Kumo__CloseReason reason)
{
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, dseq, gseq, oseq, prov);
    assert_non_null(l);
    assert_int_equal(l->state, state);
    assert_int_equal(l->close_reason, reason);
    kumo_codec_free(&l->base);
}

/* Two groups: g0 leased to p0 at height 1, g1 open (no bids). */
static void one_leased_one_open(fx_t *fx, uint64_t deposit)
{
    fx_deploy(fx, fx->tenant, 1, 2, 0, deposit);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
    assert_int_equal(fx_facilitate(fx), 1);
}

static void test_tenant_close_names_tenant_everywhere(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, 100000);
    fx->height = 5;
    fx->event_count = 0;
    fx_close_dep(fx, fx->tenant, 1);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT);
    assert_int_equal(d->closing_height, 5);
    kumo_codec_free(&d->base);
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT, 5);
    assert_group_end(fx, 1, 1, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT, 5);
    assert_order_end(fx, 1, 1, 1, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT, 5);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSING,
                     KUMO__CLOSE_REASON__CLOSE_REASON_TENANT);
    assert_string_equal(ev_reason(fx, "deployment.closing", NULL), "tenant");
    assert_string_equal(ev_reason(fx, "lease.closing", NULL), "tenant");
    assert_string_equal(ev_reason(fx, "order.closed", NULL), "tenant");
    assert_string_equal(ev_reason(fx, "group.closed", NULL), "tenant");
    /* The release and DeploymentClosed keep the reason. */
    fx->height = 6;
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, true);
    assert_string_equal(ev_reason(fx, "lease.released", NULL), "tenant");
    assert_int_equal(fx_facilitate(fx), 1);
    assert_string_equal(ev_reason(fx, "lease.closed", NULL), "tenant");
    assert_string_equal(ev_reason(fx, "deployment.closed", NULL), "tenant");
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_TENANT);
    Kumo__Lease *l = fx_lease_get(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    assert_int_equal(l->ended_height, 6);
    kumo_codec_free(&l->base);
}

static void test_escrow_exhausted_names_insufficient_funds(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, FX_MIN_DEPOSIT); /* 20 per block: 50 blocks */
    fx->height = 61;
    fx->event_count = 0;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    assert_int_equal(d->closing_height, 61);
    kumo_codec_free(&d->base);
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, 61);
    assert_order_end(fx, 1, 1, 1, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, 61);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSING,
                     KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    assert_string_equal(ev_reason(fx, "deployment.closing", NULL), "insufficient_funds");
    assert_string_equal(ev_reason(fx, "lease.closing", NULL), "insufficient_funds");
    /* Never released: DeploymentClosed at the timeout ends it with the same reason. */
    fx->height = 61 + FX_RELEASE;
    fx->event_count = 0;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_string_equal(ev_reason(fx, "lease.closed", NULL), "insufficient_funds");
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
}

static void test_stale_names_stale(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, 100000);
    fx->height = 1 + FX_PERIOD + 1;
    fx->event_count = 0;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_STALE,
                     KUMO__CLOSE_REASON__CLOSE_REASON_STALE);
    /* g0 does not persist: it closes as stale. */
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_STALE, 1 + FX_PERIOD + 1);
    assert_string_equal(ev_reason(fx, "lease.stale", NULL), "stale");
    assert_string_equal(ev_reason(fx, "group.closed", NULL), "stale");
    assert_int_equal(fx_dep_state(fx, fx->tenant, 1), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
}

static void test_update_removes_and_replaces(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, 100000);
    fx->height = 3;
    fx->event_count = 0;
    /* g0 resized (new order oseq 2, lease kept), g1 removed (its open order closes). */
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 1);
    fx_spec_set(&u->specs[0], "g0", "us-east", 1, 10, 100, 3);
    fx_ok(fx, u->signer, &u->msg);
    assert_group_end(fx, 1, 1, KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED, 3);
    assert_order_end(fx, 1, 1, 1, KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED, 3);
    assert_string_equal(ev_reason(fx, "group.closed", NULL), "group_removed");
    /* Resize again before a match: order 2 is replaced by order 3. */
    u->specs[0].res[0].rg.count = 4;
    fx_ok(fx, u->signer, &u->msg);
    assert_order_end(fx, 1, 0, 2, KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED, 3);
    /* Order 3 leased to p1: the old lease is replaced. */
    fx_msg_t *b = fx_msg_new();
    fx_msg_bid(b, fx->prov[1], fx->tenant, 1, 0, 3, &u->specs[0], 9);
    fx_ok(fx, b->signer, &b->msg);
    fx->height = 4;
    fx->event_count = 0;
    assert_int_equal(fx_facilitate(fx), 1);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSING,
                     KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED);
    assert_string_equal(ev_reason(fx, "lease.closing", NULL), "replaced");
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, true);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_RELEASED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED);
    /* A removed leased group: its lease closes as group_removed. */
    fx->height = 5;
    fx_msg_update(u, fx->tenant, 1, 1);
    fx_spec_set(&u->specs[0], "other", "us-east", 1, 10, 100, 1);
    fx_ok(fx, u->signer, &u->msg);
    assert_lease_end(fx, 1, 0, 3, fx->prov[1], KUMO__LEASE_STATE__LEASE_CLOSING,
                     KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED);
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED, 5);
    free(b);
    free(u);
}

static void test_refusal_names_manifest_refused(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, 100000);
    fx->height = 2;
    fx->event_count = 0;
    fx_refuse(fx, fx->prov[0], fx->tenant, 1, 0, 1);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED);
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED, 2);
    assert_string_equal(ev_reason(fx, "group.closed", NULL), "manifest_refused");
}

static void test_provider_close_names_provider_closed(void **state)
{
    fx_t *fx = *state;
    one_leased_one_open(fx, 100000);
    fx->height = 3;
    fx->event_count = 0;
    fx_close_lease(fx, fx->prov[0], fx->tenant, 1, 0, 1);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED);
    /* g0 does not persist: it closes with the lease's reason; the deployment goes on. */
    assert_group_end(fx, 1, 0, KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED, 3);
    assert_string_equal(ev_reason(fx, "lease.closed", NULL), "provider_closed");
    assert_string_equal(ev_reason(fx, "group.closed", NULL), "provider_closed");
    assert_int_equal(fx_dep_state(fx, fx->tenant, 1), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    /* The tenant's close later keeps it: the closed lease is not touched. */
    fx->height = 4;
    fx_close_dep(fx, fx->tenant, 1);
    assert_int_equal(fx_facilitate(fx), 1);
    assert_lease_end(fx, 1, 0, 1, fx->prov[0], KUMO__LEASE_STATE__LEASE_CLOSED,
                     KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const struct {
        Kumo__CloseReason reason;
        const char *name;
    } rows[] = {
        {KUMO__CLOSE_REASON__CLOSE_REASON_NONE, "none"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_TENANT, "tenant"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, "insufficient_funds"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED, "manifest_refused"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_STALE, "stale"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED, "group_removed"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED, "replaced"},
        {KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED, "provider_closed"},
        {(Kumo__CloseReason)99, "unknown"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        assert_string_equal(kumo_market_close_reason_name(rows[i].reason), rows[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tenant_close_names_tenant_everywhere, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_escrow_exhausted_names_insufficient_funds, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_names_stale, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_removes_and_replaces, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_names_manifest_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_provider_close_names_provider_closed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
