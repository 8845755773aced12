/*
 * test_faults.c - out-of-memory at every allocation: for each kind of msg (the heavy paths:
 * deployment with groups, bid with eviction, lease with refunds and a superseded lease, a
 * confirmation batch that closes a deployment, an update that resizes/removes/adds, close,
 * DeploymentClosed, a persisting stale lease) the Nth kumo_alloc fails for N = 1, 2, ... until
 * the msg succeeds: every failure must be KUMO_ENOMEM, leave the kv byte-identical after the
 * rollback, and leak nothing (ASan). The read paths (collect, query, invariants) and genesis
 * get the same sweep.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u
#define SWEEP_MAX   100000u

/* The digest of the state after msg succeeds without faults (the state is rolled back). */
static void good_digest(fx_t *fx,
                        const uint8_t *signer,
                        const Kumo__Msg *msg,
                        const char *name,
                        uint8_t out[KUMO_TEST_KV_DIGEST_BYTES])
{
    fx_sp_begin(fx);
    kumo_err_ctx_t err = {0};
    int rc = fx_apply_at(fx, signer, msg, &err);
    if (rc != 0) {
        fail_msg("%s: fails without faults: %s (%s)", name, kumo_err_name(rc), err.detail);
    }
    fx_digest(fx, out);
    fx_sp_rollback(fx);
}

static void sweep_msg(fx_t *fx, const uint8_t *signer, const Kumo__Msg *msg, const char *name)
{
    uint8_t good[KUMO_TEST_KV_DIGEST_BYTES];
    good_digest(fx, signer, msg, name, good);
    for (uint64_t n = 1; n < SWEEP_MAX; n++) {
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        fx_digest(fx, before);
        fx_sp_begin(fx);
        kumo_err_ctx_t err = {0};
        kumo_alloc_fail_at(n);
        int rc = fx_apply_at(fx, signer, msg, &err);
        uint64_t calls = kumo_alloc_count();
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            /* A success must be the same success as without faults (debug builds decode every
             * write back and tolerate running out of memory there). */
            fx_digest(fx, after);
            if (memcmp(good, after, sizeof(good)) != 0) {
                fail_msg("%s: allocation %" PRIu64 " failed, the msg succeeded differently", name,
                         n);
            }
        }
        fx_sp_rollback(fx);
        fx_digest(fx, after);
        if (memcmp(before, after, sizeof(before)) != 0) {
            fail_msg("%s: allocation %" PRIu64 " failed and the state changed", name, n);
        }
        if (rc == 0 && calls < n) {
            return;
        }
        if (rc != 0 && rc != KUMO_ENOMEM) {
            fail_msg("%s: allocation %" PRIu64 " failed: got %s (%s)", name, n, kumo_err_name(rc),
                     err.detail);
        }
    }
    fail_msg("%s: never succeeded", name);
}

/* tenant/1: g0 leased to p1 at height 1 and re-ordered (oseq 2, bids p0 9 and p4 8);
 * g1 with p2's bid; height 6. */
static void world(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, 1, 2, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 9);
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_msg_t *u = fx_msg_new();
    fx_msg_update(u, fx->tenant, 1, 2);
    fx_spec_set(&u->specs[0], "g0", "us-east", 1, 10, 100, 3);
    fx_spec_set(&u->specs[1], "g1", "us-west", 1, 10, 100, 2);
    fx_ok(fx, u->signer, &u->msg);
    fx_msg_bid(u, fx->prov[0], fx->tenant, 1, 0, 2, &u->specs[0], 9);
    fx_ok(fx, u->signer, &u->msg);
    fx_msg_bid(u, fx->prov[4], fx->tenant, 1, 0, 2, &u->specs[0], 8);
    fx_ok(fx, u->signer, &u->msg);
    free(u);
    fx->height = 6;
}

static void test_oom_every_msg(void **state)
{
    fx_t *fx = *state;
    world(fx);
    fx_msg_t *m = fx_msg_new();

    fx_msg_send(m, fx->tenant, fx->stranger, 5);
    sweep_msg(fx, m->signer, &m->msg, "send");
    fx_msg_create_provider(m, fx->stranger, "eu");
    sweep_msg(fx, m->signer, &m->msg, "create provider");
    fx_msg_deploy(m, fx->tenant2, 1, 3, 2, DEP_DEPOSIT);
    sweep_msg(fx, m->signer, &m->msg, "submit deployment");

    /* A bid that evicts: g1's order filled to the cap inside a savepoint of its own. */
    fx_sp_begin(fx);
    uint8_t x[3][KUMO_ADDRESS_BYTES];
    for (size_t i = 0; i < 3; i++) {
        fx_addr(x[i], (uint8_t)(0xe0 + i));
        fx_msg_send(m, fx->tenant2, x[i], 1000000);
        fx_ok(fx, m->signer, &m->msg);
        fx_msg_create_provider(m, x[i], "us-west");
        fx_ok(fx, m->signer, &m->msg);
    }
    fx_bid(fx, x[0], fx->tenant, 1, 1, 1, 10);
    fx_bid(fx, x[1], fx->tenant, 1, 1, 1, 10);
    fx_bid(fx, fx->prov[3], fx->tenant, 1, 1, 1, 10);
    fx_spec_set(&m->specs[0], "g1", "us-west", 1, 10, 100, 2);
    fx_msg_bid(m, x[2], fx->tenant, 1, 1, 1, &m->specs[0], 8);
    sweep_msg(fx, m->signer, &m->msg, "bid with eviction");
    fx_sp_rollback(fx);

    /* SubmitLease with a refund and a superseded lease. */
    fx_msg_lease(m, fx->val, fx->tenant, 1, 0, 2, fx->prov[4]);
    sweep_msg(fx, m->signer, &m->msg, "submit lease");

    fx_msg_update(m, fx->tenant, 1, 2);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 4);
    fx_spec_set(&m->specs[1], "g9", "us-east", 1, 10, 100, 1);
    sweep_msg(fx, m->signer, &m->msg, "update deployment");

    fx_msg_close(m, fx->tenant, 1);
    sweep_msg(fx, m->signer, &m->msg, "close deployment");

    fx_msg_cancel(m, fx->prov[0], fx->tenant, 1, 0, 2);
    sweep_msg(fx, m->signer, &m->msg, "cancel fulfillment");

    fx->height = 100000; /* the escrow cannot pay: the batch closes the deployment */
    fx_msg_confirm(m, fx->prov[1]);
    fx_confirm_add(m, fx->tenant, 1, 0, 1, false);
    sweep_msg(fx, m->signer, &m->msg, "confirm with shortfall");

    fx->height = 20;
    fx_msg_stale(m, fx->val, fx->tenant, 1, 0, 1, fx->prov[1]);
    sweep_msg(fx, m->signer, &m->msg, "stale lease");

    fx_close_dep(fx, fx->tenant, 1);
    fx_msg_confirm(m, fx->prov[1]);
    fx_confirm_add(m, fx->tenant, 1, 0, 1, true);
    sweep_msg(fx, m->signer, &m->msg, "release");
    fx->height = 20 + FX_RELEASE;
    fx_msg_closed(m, fx->val, fx->tenant, 1);
    sweep_msg(fx, m->signer, &m->msg, "deployment closed");
    free(m);
}

static int count_cb(void *ctx, const Kumo__Msg *msg)
{
    (void)msg;
    (*(size_t *)ctx)++;
    return 0;
}

static int obj_cb(void *ctx, const ProtobufCMessage *obj)
{
    (void)obj;
    (*(size_t *)ctx)++;
    return 0;
}

static void test_oom_read_paths(void **state)
{
    fx_t *fx = *state;
    world(fx);
    fx_close_dep(fx, fx->tenant, 1);
    fx_deploy(fx, fx->tenant2, 1, 2, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant2, 1, 0, 1, 9);
    fx->height = 40;
    for (int path = 0; path < 3; path++) {
        for (uint64_t n = 1; n < SWEEP_MAX; n++) {
            kumo_err_ctx_t err = {0};
            size_t count = 0;
            kumo_buf_t next;
            kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
            kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_LEASE, .limit = 10};
            kumo_alloc_fail_at(n);
            int rc = 0;
            if (path == 0) {
                rc = kumo_market_facilitator_collect(&fx->ts.kv, fx->height, 100, count_cb, &count,
                                                     &err);
            } else if (path == 1) {
                rc = kumo_market_query_run(&fx->ts.kv, &q, obj_cb, &count, &next, &err);
            } else {
                rc = kumo_market_invariants_check(&fx->ts.kv, &err);
            }
            uint64_t calls = kumo_alloc_count();
            kumo_alloc_fail_at(0);
            kumo_buf_free(&next);
            if (rc == 0) {
                assert_true(calls < n);
                break;
            }
            if (rc != KUMO_ENOMEM) {
                fail_msg("path %d, allocation %" PRIu64 ": %s (%s)", path, n, kumo_err_name(rc),
                         err.detail);
            }
        }
    }
}

static void test_oom_genesis(void **state)
{
    (void)state;
    for (uint64_t n = 1; n < SWEEP_MAX; n++) {
        fx_t *fx = calloc(1, sizeof(*fx));
        assert_non_null(fx);
        /* fx_open applies genesis; here the genesis alone runs under the fault. */
        assert_int_equal(kumo_test_store_open(&fx->ts), 0);
        fx_params(&fx->params);
        uint8_t a[KUMO_ADDRESS_BYTES];
        fx_addr(a, 1);
        Kumo__GenesisBalance b = KUMO__GENESIS_BALANCE__INIT;
        b.address.data = a;
        b.address.len = KUMO_ADDRESS_BYTES;
        b.amount = 10;
        Kumo__GenesisBalance *bp = &b;
        Kumo__Genesis g = KUMO__GENESIS__INIT;
        g.params = &fx->params;
        g.n_balances = 1;
        g.balances = &bp;
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        fx_digest(fx, before);
        fx_sp_begin(fx);
        kumo_alloc_fail_at(n);
        int rc = kumo_market_genesis_apply(&fx->ts.kv, &g, NULL);
        uint64_t calls = kumo_alloc_count();
        kumo_alloc_fail_at(0);
        fx_sp_rollback(fx);
        fx_digest(fx, after);
        assert_memory_equal(before, after, sizeof(before));
        kumo_test_store_close(&fx->ts);
        free(fx);
        if (rc == 0 && calls < n) {
            return;
        }
        assert_true(rc == 0 || rc == KUMO_ENOMEM);
    }
    fail_msg("genesis never succeeded");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oom_every_msg, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_oom_read_paths, fx_setup, fx_teardown),
        cmocka_unit_test(test_oom_genesis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
