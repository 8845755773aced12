/*
 * test_lifecycle.c - whole market stories, driven through the facilitator as a validator
 * would, with every invariant checked after every msg (fx_ok) and exact balances at the end:
 *   the seed's web application (web tier + database in two regions, two providers bidding on
 *   each, lowest bids leased, confirmations over several periods, close, release,
 *   DeploymentClosed, escrow rest back);
 *   stale leases with persist (re-order, another provider wins) and without (group closed);
 *   closing by release_timeout (unreleased collateral to the tenant);
 *   escrow running out (provider paid exactly what was left);
 *   bid eviction feeding the facilitator's choice;
 *   UpdateDeployment resizing (new order, old lease kept until the new lease), adding and
 *   removing groups, persist-only changes, and a stale lease while a re-order is pending.
 * Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define WEB_PRICE      40u
#define WEB_COLLATERAL 1000000u
#define DB_PRICE       60u
#define DB_COLLATERAL  3000000u
#define APP_DEPOSIT    1000000u

/* The seed's web application: web (2 units, us-east) and db (1 unit, us-west, persist). */
static void app_specs(fx_msg_t *m)
{
    fx_spec_set(&m->specs[0], "web", "us-east", 1, WEB_PRICE, WEB_COLLATERAL, 2);
    fx_spec_set(&m->specs[1], "db", "us-west", 1, DB_PRICE, DB_COLLATERAL, 1);
    m->specs[1].res[0].cu.cpu_milli = 1000;
    m->specs[1].res[0].cu.memory_bytes = 4ull << 30;
    m->specs[1].spec.persist = true;
}

/* Submits the app at height 1 (wait 5) and places the bids: web p0 35, p1 30; db p2 55,
 * p3 50. Leaves m holding the deploy msg (its specs are the bids' shape). */
static void app_submit_and_bid(fx_t *fx, fx_msg_t *m)
{
    fx_msg_deploy(m, fx->tenant, 1, 2, 5, APP_DEPOSIT);
    app_specs(m);
    fx_ok(fx, m->signer, &m->msg);
    fx->height = 2;
    fx_msg_t *b = fx_msg_new();
    static const struct {
        size_t prov;
        uint32_t gseq;
        uint64_t price;
    } bids[] = {{0, 0, 35}, {1, 0, 30}, {2, 1, 55}, {3, 1, 50}};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(bids); i++) {
        fx_msg_bid(b, fx->prov[bids[i].prov], fx->tenant, 1, bids[i].gseq, 1,
                   &m->specs[bids[i].gseq], bids[i].price);
        fx_ok(fx, b->signer, &b->msg);
    }
    free(b);
}

/* Height 6: the facilitator leases web to p1 and db to p3. */
static void app_leased(fx_t *fx, fx_msg_t *m)
{
    app_submit_and_bid(fx, m);
    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    fx->height = 5;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 0);
    fx->height = 6;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 2);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_SUBMIT_LEASE);
    assert_int_equal(c->msgs[0].gseq, 0);
    assert_memory_equal(c->msgs[0].provider, fx->prov[1], KUMO_ADDRESS_BYTES);
    assert_int_equal(c->msgs[1].gseq, 1);
    assert_memory_equal(c->msgs[1].provider, fx->prov[3], KUMO_ADDRESS_BYTES);
    for (size_t i = 0; i < c->count; i++) {
        fx_fac_apply(fx, &c->msgs[i]);
    }
    free(c);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - 2 * WEB_COLLATERAL);
    assert_int_equal(fx_balance(fx, fx->prov[3]), FX_BALANCE - DB_COLLATERAL);
}

static void test_web_application_end_to_end(void **state)
{
    fx_t *fx = *state;
    kumo_bank_totals_t g0 = fx_totals(fx);
    fx_msg_t *m = fx_msg_new();
    app_leased(fx, m);
    /* Three reconfirmation periods: web 60/block, db 50/block; interest per 10 blocks is
     * 2e6 x 1000 x 10 / 1e9 = 20 (web) and 3e6 x ... = 30 (db). */
    for (uint64_t h = 16; h <= 36; h += 10) {
        fx->height = h;
        assert_int_equal(fx_facilitate(fx), 0);
        fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
        fx_confirm1(fx, fx->prov[3], fx->tenant, 1, 1, 1, false);
    }
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE - 2 * WEB_COLLATERAL + 1800 + 60);
    assert_int_equal(fx_balance(fx, fx->prov[3]), FX_BALANCE - DB_COLLATERAL + 1500 + 90);
    /* Close at 40 settles 4 more blocks: web 240 + 8, db 200 + 12. */
    fx->height = 40;
    fx_close_dep(fx, fx->tenant, 1);
    assert_int_equal(fx_facilitate(fx), 0); /* providers still hold resources */
    fx->height = 41;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
    assert_int_equal(fx_facilitate(fx), 0);
    fx->height = 42;
    fx_confirm1(fx, fx->prov[3], fx->tenant, 1, 1, 1, true);
    fx->event_count = 0;
    assert_int_equal(fx_facilitate(fx), 1); /* DeploymentClosed */
    assert_int_equal(fx_event_count(fx, "deployment.closed"), 1);
    uint64_t paid = 1800 + 1500 + 240 + 200;
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - paid);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE + 1800 + 240 + 60 + 8);
    assert_int_equal(fx_balance(fx, fx->prov[3]), FX_BALANCE + 1500 + 200 + 90 + 12);
    Kumo__Global g1 = fx_global(fx);
    assert_int_equal(g1.minted_interest, 60 + 8 + 90 + 12);
    assert_int_equal(fx_totals(fx).supply, g0.supply + g1.minted_interest);
    assert_int_equal(g1.escrow_total, 0);
    assert_int_equal(g1.collateral_total, 0);
    assert_int_equal(fx_dep_state(fx, fx->tenant, 1), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED);
    assert_int_equal(fx_facilitate(fx), 0);
    free(m);
}

/* db (persist) goes stale: its collateral goes to the tenant, a new order (oseq 2) opens and
 * p2 wins it. web (no persist) goes stale later: its group closes. Then the tenant closes and
 * p2 never releases: release_timeout ends it with p2's collateral going to the tenant. */
static void test_stale_persist_reorders_and_timeout_closes(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    app_leased(fx, m);
    fx->height = 16;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
    fx->height = 17;
    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_SUBMIT_STALE_LEASE);
    assert_int_equal(c->msgs[0].gseq, 1);
    assert_memory_equal(c->msgs[0].provider, fx->prov[3], KUMO_ADDRESS_BYTES);
    fx_fac_apply(fx, &c->msgs[0]);
    uint64_t tenant = FX_BALANCE - APP_DEPOSIT + DB_COLLATERAL;
    assert_int_equal(fx_balance(fx, fx->tenant), tenant);
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 1);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(g->oseq, 2);
    kumo_codec_free(&g->base);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 1, 2);
    assert_int_equal(o->state, KUMO__ORDER_STATE__ORDER_OPEN);
    assert_int_equal(o->match_height, 22);
    kumo_codec_free(&o->base);
    /* p2 bids on the new order and wins at its match height. */
    fx_msg_t *b = fx_msg_new();
    fx_msg_bid(b, fx->prov[2], fx->tenant, 1, 1, 2, &m->specs[1], 55);
    fx_ok(fx, b->signer, &b->msg);
    fx->height = 21;
    assert_int_equal(fx_facilitate(fx), 0);
    fx->height = 22;
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_int_equal(c->msgs[0].kind, KUMO__MSG__SUM_SUBMIT_LEASE);
    assert_int_equal(c->msgs[0].oseq, 2);
    assert_memory_equal(c->msgs[0].provider, fx->prov[2], KUMO_ADDRESS_BYTES);
    fx_fac_apply(fx, &c->msgs[0]);
    g = fx_group(fx, fx->tenant, 1, 1);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_ACTIVE);
    assert_int_equal(g->lease_oseq, 2);
    kumo_codec_free(&g->base);
    /* web was confirmed at 16: stale from 27, and it does not persist. */
    fx->height = 26;
    fx_confirm1(fx, fx->prov[2], fx->tenant, 1, 1, 2, false);
    assert_int_equal(fx_facilitate(fx), 0);
    fx->height = 27;
    assert_int_equal(fx_facilitate(fx), 1);
    tenant += 2 * WEB_COLLATERAL;
    assert_int_equal(fx_balance(fx, fx->tenant), tenant);
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 0), KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(fx_dep_state(fx, fx->tenant, 1), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    /* Close at 30 (settles db: 4 x 55 = 220 to p2), p2 never releases. */
    fx->height = 30;
    fx_close_dep(fx, fx->tenant, 1);
    fx->height = 30 + FX_RELEASE - 1;
    assert_int_equal(fx_facilitate(fx), 0);
    fx->height = 30 + FX_RELEASE;
    assert_int_equal(fx_facilitate(fx), 1);
    /* Paid: web 10 x 60 = 600 (confirm at 16); db p3 nothing; db p2 4 x 55 + 4 x 55 = 440. */
    uint64_t escrow_rest = APP_DEPOSIT - 600 - 440;
    assert_int_equal(fx_balance(fx, fx->tenant), tenant + escrow_rest + DB_COLLATERAL);
    assert_int_equal(fx_global(fx).collateral_total, 0);
    free(c);
    free(b);
    free(m);
}

/* Escrow for 50 blocks; the provider confirms after 60: it gets exactly the deposit. */
static void test_escrow_runs_out(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 0, FX_MIN_DEPOSIT); /* 1000 escrow */
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);   /* 20 per block */
    assert_int_equal(fx_facilitate(fx), 1);
    fx->height = 11;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false); /* 200 */
    fx->height = 61;
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, false); /* 1000 owed, 800 left */
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    assert_int_equal(d->escrow, 0);
    assert_int_equal(d->total_paid, FX_MIN_DEPOSIT);
    kumo_codec_free(&d->base);
    /* Interest is floor(200 x 1000 x blocks / 1e9) = 0 here: the provider got the deposit. */
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 200 + FX_MIN_DEPOSIT);
    fx->height = 62;
    assert_int_equal(fx_facilitate(fx), 0);
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, true);
    assert_int_equal(fx_facilitate(fx), 1);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE + FX_MIN_DEPOSIT);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - FX_MIN_DEPOSIT);
}

/* Eviction at the cap changes what the facilitator picks: the evicted bid is gone, the best
 * of the rest (ties to the earliest) is leased. */
static void test_eviction_then_match(void **state)
{
    fx_t *fx = *state;
    fx->params.max_bids_per_order = 2;
    fx_deploy(fx, fx->tenant, 1, 1, 3, 100000);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[4], fx->tenant, 1, 0, 1, 8); /* evicts p0 */
    assert_null(fx_ful(fx, fx->tenant, 1, 0, 1, fx->prov[0]));
    fx->height = 4;
    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_memory_equal(c->msgs[0].provider, fx->prov[1], KUMO_ADDRESS_BYTES);
    fx_fac_apply(fx, &c->msgs[0]);
    free(c);
}

/* ---- UpdateDeployment stories --------------------------------------------------------------- */

static void test_update_resize_add_remove(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    app_leased(fx, m); /* web -> p1, db -> p3 at 6 */
    fx->height = 10;
    fx->event_count = 0;
    /* web grows to 3 units, db goes, cache comes. */
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 2);
    fx_spec_set(&u->specs[0], "web", "us-east", 1, WEB_PRICE, WEB_COLLATERAL, 3);
    fx_spec_set(&u->specs[1], "cache", "us-east", 1, 20, 100, 1);
    fx_ok(fx, u->signer, &u->msg);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->group_count, 3);
    assert_memory_equal(d->version.data, u->version, KUMO_VERSION_BYTES);
    kumo_codec_free(&d->base);
    /* web: still leased by p1 (oseq 1), new order oseq 2 for 3 units. */
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 0);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_ACTIVE);
    assert_int_equal(g->oseq, 2);
    assert_int_equal(g->lease_oseq, 1);
    assert_int_equal(g->spec->resources[0]->count, 3);
    kumo_codec_free(&g->base);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 0, 2);
    assert_int_equal(o->price_total, 3 * WEB_PRICE);
    assert_int_equal(o->match_height, 15);
    kumo_codec_free(&o->base);
    /* db: removed, its lease closing and settled (4 x 50). */
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 1), KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 1, 1, fx->prov[3]),
                     KUMO__LEASE_STATE__LEASE_CLOSING);
    assert_int_equal(fx_balance(fx, fx->prov[3]), FX_BALANCE - DB_COLLATERAL + 200 + 12);
    /* cache: a new group 2 with order 1. */
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 2), KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(fx_order_state(fx, fx->tenant, 1, 2, 1), KUMO__ORDER_STATE__ORDER_OPEN);
    assert_int_equal(fx_event_count(fx, "deployment.updated"), 1);
    assert_int_equal(fx_event_count(fx, "group.created"), 1);
    assert_int_equal(fx_event_count(fx, "group.closed"), 1);
    /* Bids on the new orders; the facilitator leases both at 15. */
    fx_msg_t *b = fx_msg_new();
    fx_msg_bid(b, fx->prov[0], fx->tenant, 1, 0, 2, &u->specs[0], 38);
    fx_ok(fx, b->signer, &b->msg);
    fx_msg_bid(b, fx->prov[4], fx->tenant, 1, 2, 1, &u->specs[1], 20);
    fx_ok(fx, b->signer, &b->msg);
    fx->height = 15;
    uint64_t p1_before = fx_balance(fx, fx->prov[1]);
    assert_int_equal(fx_facilitate(fx), 2);
    /* The old web lease closes now, settled for 9 blocks (6 -> 15): 540 + interest 18. */
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_CLOSING);
    assert_int_equal(fx_balance(fx, fx->prov[1]), p1_before + 540 + 18);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 2, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    g = fx_group(fx, fx->tenant, 1, 0);
    assert_int_equal(g->lease_oseq, 2);
    assert_memory_equal(g->lease_provider.data, fx->prov[0], KUMO_ADDRESS_BYTES);
    kumo_codec_free(&g->base);
    d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->unreleased_lease_count, 4); /* web old+new, db closing, cache */
    kumo_codec_free(&d->base);
    /* The old providers release and get their collateral back. */
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, true);
    fx_confirm1(fx, fx->prov[3], fx->tenant, 1, 1, 1, true);
    assert_int_equal(fx_balance(fx, fx->prov[1]), p1_before + 540 + 18 + 2 * WEB_COLLATERAL);
    d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->unreleased_lease_count, 2);
    kumo_codec_free(&d->base);
    free(b);
    free(u);
    free(m);
}

/* A persist-only change rewrites the spec without a new order; changing a spec twice before
 * the match closes the pending order (bids refunded) and opens the next. */
static void test_update_persist_only_and_double_change(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    app_leased(fx, m);
    fx->height = 8;
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 2);
    app_specs(u);
    u->specs[0].spec.persist = true;
    fx_ok(fx, u->signer, &u->msg);
    Kumo__Group *g = fx_group(fx, fx->tenant, 1, 0);
    assert_int_equal(g->oseq, 1);
    assert_true(g->spec->persist);
    kumo_codec_free(&g->base);
    /* Resize db, bid on it, resize again: the pending order closes, its bid is refunded. */
    u->specs[1].res[0].rg.count = 2;
    fx_ok(fx, u->signer, &u->msg);
    fx_msg_t *b = fx_msg_new();
    fx_msg_bid(b, fx->prov[2], fx->tenant, 1, 1, 2, &u->specs[1], 50);
    fx_ok(fx, b->signer, &b->msg);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE - 2 * DB_COLLATERAL);
    u->specs[1].res[0].rg.count = 3;
    fx_ok(fx, u->signer, &u->msg);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE);
    assert_int_equal(fx_order_state(fx, fx->tenant, 1, 1, 2), KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_int_equal(fx_order_state(fx, fx->tenant, 1, 1, 3), KUMO__ORDER_STATE__ORDER_OPEN);
    /* The db lease (oseq 1) goes stale while oseq 3 is pending: no extra order, the group
     * waits for oseq 3. */
    fx->height = 17;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_facilitate(fx), 1);
    g = fx_group(fx, fx->tenant, 1, 1);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_OPEN);
    assert_int_equal(g->oseq, 3);
    kumo_codec_free(&g->base);
    fx_msg_bid(b, fx->prov[3], fx->tenant, 1, 1, 3, &u->specs[1], 40);
    fx_ok(fx, b->signer, &b->msg);
    assert_int_equal(fx_facilitate(fx), 1);
    g = fx_group(fx, fx->tenant, 1, 1);
    assert_int_equal(g->state, KUMO__GROUP_STATE__GROUP_ACTIVE);
    assert_int_equal(g->lease_oseq, 3);
    kumo_codec_free(&g->base);
    free(b);
    free(u);
    free(m);
}

/* Settling a removed group's lease can find the escrow empty: the deployment closes. */
static void test_update_remove_with_empty_escrow(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, 1, 2, 0, FX_MIN_DEPOSIT);
    fx_ok(fx, m->signer, &m->msg);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
    assert_int_equal(fx_facilitate(fx), 1);
    fx->height = 100; /* 99 x 20 owed, 1000 in escrow */
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 1);
    fx_spec_set(&u->specs[0], "g1", "us-west", 1, 10, 100, 2);
    fx_ok(fx, u->signer, &u->msg);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    assert_int_equal(d->escrow, 0);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 200 + FX_MIN_DEPOSIT);
    free(u);
    free(m);
}

/* Persistence: the whole state survives a reopen and the invariants still hold. */
static void test_state_survives_reopen(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    app_leased(fx, m);
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    fx_digest(fx, before);
    assert_int_equal(kumo_test_store_reopen(&fx->ts), 0);
    fx_digest(fx, after);
    assert_memory_equal(before, after, sizeof(before));
    fx_check(fx);
    fx->height = 16;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_web_application_end_to_end, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stale_persist_reorders_and_timeout_closes, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_escrow_runs_out, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_then_match, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_resize_add_remove, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_persist_only_and_double_change, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_remove_with_empty_escrow, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_reopen, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
