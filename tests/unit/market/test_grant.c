/*
 * test_grant.c - proves constrained delegation (src/market/grant.c): a granter's MsgGrant lets
 * a grantee run the allowed deployment msgs on its deployments through MsgExec, each inner msg
 * running for the granter (its balance pays the deposits; the grantee, with no balance at all
 * here, pays nothing), within the grant's limits checked on the deployment the msg left behind;
 * the spend is recorded on the grant; a new grant replaces the old one with a fresh budget;
 * MsgRevoke ends it. Every rule of the three msgs (scope, expiry at and after the height,
 * types, price, units per group, regions, spend exactly at and 1 over the limit, nesting, who
 * signs) fails with its own code and leaves the kv byte-identical; every list limit is tested at
 * MAX and MAX+1. Runs on a real LMDB store with the invariants checked after every msg.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT  100000u
#define DSEQ         1u
#define DSEQ2        2u
#define EXPIRY       50u
#define SPEND_LIMIT  5000u
#define MAX_PRICE    100u /* the default group is 10 x 2 = 20 per block */
#define MAX_COUNT    4u   /* the default group has 2 units */
#define DEPOSIT_EXEC 1000u

/* The grant and exec msgs around one inner msg built with the market fixture's builders. */
typedef struct gx {
    Kumo__Msg msg;
    const uint8_t *signer;
    Kumo__MsgGrant grant;
    uint32_t types[KUMO_GRANT_MSG_TYPE_COUNT_MAX + 1];
    char region_buf[KUMO_GRANT_REGION_COUNT_MAX + 1][KUMO_REGION_BYTES_MAX + 2];
    char *regions[KUMO_GRANT_REGION_COUNT_MAX + 1];
    uint8_t grantee[KUMO_ADDRESS_BYTES + 1];
    Kumo__MsgRevoke revoke;
    Kumo__MsgExec exec;
    uint8_t granter[KUMO_ADDRESS_BYTES + 1];
    Kumo__Msg *inner_ptrs[KUMO_EXEC_MSG_COUNT_MAX + 1];
    fx_msg_t *inner;
    Kumo__MsgExec nested;
    Kumo__Msg nested_msg;
} gx_t;

static gx_t *gx_new(void)
{
    gx_t *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->inner = fx_msg_new();
    return g;
}

static void gx_free(gx_t *g)
{
    free(g->inner);
    free(g);
}

static void gx_msg_set(gx_t *g, Kumo__Msg__SumCase c, void *body)
{
    Kumo__Msg init = KUMO__MSG__INIT;
    g->msg = init;
    g->msg.sum_case = c;
    g->msg.grant = body;
}

/* tenant grants grantee every deployment msg on dseq (0: all) within the default limits. */
static void gx_grant(gx_t *g, const uint8_t *granter, const uint8_t *grantee, uint64_t dseq)
{
    Kumo__MsgGrant init = KUMO__MSG_GRANT__INIT;
    g->grant = init;
    memcpy(g->grantee, grantee, KUMO_ADDRESS_BYTES);
    g->grant.grantee.data = g->grantee;
    g->grant.grantee.len = KUMO_ADDRESS_BYTES;
    g->grant.dseq = dseq;
    size_t n = 0;
    if (dseq == 0) {
        g->types[n++] = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    }
    g->types[n++] = KUMO__MSG__SUM_UPDATE_DEPLOYMENT;
    g->types[n++] = KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT;
    g->types[n++] = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    g->grant.msg_types = g->types;
    g->grant.n_msg_types = n;
    snprintf(g->region_buf[0], sizeof(g->region_buf[0]), "us-east");
    snprintf(g->region_buf[1], sizeof(g->region_buf[1]), "us-west");
    g->regions[0] = g->region_buf[0];
    g->regions[1] = g->region_buf[1];
    g->grant.regions = g->regions;
    g->grant.n_regions = 2;
    g->grant.max_price_per_block = MAX_PRICE;
    g->grant.max_count_per_group = MAX_COUNT;
    g->grant.spend_limit = SPEND_LIMIT;
    g->grant.expiry_height = EXPIRY;
    g->signer = granter;
    gx_msg_set(g, KUMO__MSG__SUM_GRANT, &g->grant);
}

static void gx_revoke(gx_t *g, const uint8_t *granter, const uint8_t *grantee, uint64_t dseq)
{
    Kumo__MsgRevoke init = KUMO__MSG_REVOKE__INIT;
    g->revoke = init;
    memcpy(g->grantee, grantee, KUMO_ADDRESS_BYTES);
    g->revoke.grantee.data = g->grantee;
    g->revoke.grantee.len = KUMO_ADDRESS_BYTES;
    g->revoke.dseq = dseq;
    g->signer = granter;
    gx_msg_set(g, KUMO__MSG__SUM_REVOKE, &g->revoke);
}

/* grantee execs the msg already built in g->inner, for granter. */
static void gx_exec(gx_t *g, const uint8_t *grantee, const uint8_t *granter)
{
    Kumo__MsgExec init = KUMO__MSG_EXEC__INIT;
    g->exec = init;
    memcpy(g->granter, granter, KUMO_ADDRESS_BYTES);
    g->exec.granter.data = g->granter;
    g->exec.granter.len = KUMO_ADDRESS_BYTES;
    g->inner_ptrs[0] = &g->inner->msg;
    g->exec.msgs = g->inner_ptrs;
    g->exec.n_msgs = 1;
    g->signer = grantee;
    gx_msg_set(g, KUMO__MSG__SUM_EXEC, &g->exec);
}

static void gx_ok(fx_t *fx, gx_t *g)
{
    fx_ok(fx, g->signer, &g->msg);
}

static void grant_all(fx_t *fx)
{
    gx_t *g = gx_new();
    gx_grant(g, fx->tenant, fx->stranger, 0);
    gx_ok(fx, g);
    gx_free(g);
}

/* tenant/1 (one group: us-east, 2 units at 10) and an all-deployments grant to stranger. */
static void prep(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, DSEQ, 1, 5, DEP_DEPOSIT);
    grant_all(fx);
}

static Kumo__Grant *grant_load(fx_t *fx, uint64_t dseq)
{
    Kumo__Grant *g = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_grant_get(&fx->ts.kv, fx->tenant, fx->stranger, dseq, &g, &err);
    return rc == 0 ? g : NULL;
}

static uint64_t escrow_of(fx_t *fx, uint64_t dseq)
{
    Kumo__Deployment *d = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_deployment_get(&fx->ts.kv, fx->tenant, dseq, &d, &err), 0);
    uint64_t e = d->escrow;
    kumo_codec_free(&d->base);
    return e;
}

static int exec_deposit(fx_t *fx, uint64_t amount)
{
    gx_t *g = gx_new();
    fx_msg_deposit(g->inner, fx->stranger, fx->tenant, DSEQ, amount);
    gx_exec(g, fx->stranger, fx->tenant);
    int rc = fx_apply(fx, g->signer, &g->msg);
    gx_free(g);
    fx_check(fx);
    return rc;
}

static bool has_event(const fx_t *fx, const char *type)
{
    for (size_t i = 0; i < fx->event_count; i++) {
        if (strcmp(fx->events[i], type) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- effects -------------------------------------------------------------------------------- */

static void test_exec_deposit_is_paid_by_the_granter(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    assert_true(has_event(fx, "grant.created"));
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    uint64_t escrow_before = escrow_of(fx, DSEQ);
    uint64_t supply_before = fx_totals(fx).supply;
    assert_int_equal(exec_deposit(fx, DEPOSIT_EXEC), 0);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before - DEPOSIT_EXEC);
    assert_int_equal(fx_balance(fx, fx->stranger), 0);
    assert_int_equal(escrow_of(fx, DSEQ), escrow_before + DEPOSIT_EXEC);
    assert_int_equal(fx_totals(fx).supply, supply_before);
    Kumo__Grant *g = grant_load(fx, 0);
    assert_non_null(g);
    assert_int_equal(g->spend_used, DEPOSIT_EXEC);
    kumo_codec_free(&g->base);
    assert_true(has_event(fx, "deployment.deposited"));
    assert_true(has_event(fx, "grant.used"));
}

static void test_exec_submit_update_close_act_for_the_granter(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    uint64_t tenant_before = fx_balance(fx, fx->tenant);
    gx_t *g = gx_new();
    fx_msg_deploy(g->inner, fx->stranger, DSEQ2, 2, 5, 2000);
    gx_exec(g, fx->stranger, fx->tenant);
    gx_ok(fx, g);
    assert_int_equal(fx_balance(fx, fx->tenant), tenant_before - 2000);
    assert_int_equal(escrow_of(fx, DSEQ2), 2000);

    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_update(g->inner, fx->stranger, DSEQ2, 1);
    fx_spec_set(&g->inner->specs[0], "g0", "us-west", 1, 20, 100, 4);
    gx_exec(g, fx->stranger, fx->tenant);
    gx_ok(fx, g);

    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_close(g->inner, fx->stranger, DSEQ2);
    gx_exec(g, fx->stranger, fx->tenant);
    gx_ok(fx, g);
    Kumo__Deployment *d = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_deployment_get(&fx->ts.kv, fx->tenant, DSEQ2, &d, &err), 0);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    kumo_codec_free(&d->base);
    /* Nothing of the grantee's was created. */
    assert_int_equal(kumo_market_deployment_get(&fx->ts.kv, fx->stranger, DSEQ2, &d, &err),
                     KUMO_ENOTFOUND);
    Kumo__Grant *gr = grant_load(fx, 0);
    assert_int_equal(gr->spend_used, 2000);
    kumo_codec_free(&gr->base);
    gx_free(g);
}

static void test_spend_limit_reached_exactly_then_refused(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    assert_int_equal(exec_deposit(fx, 3000), 0);
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    fx_digest(fx, before);
    fx_sp_begin(fx);
    assert_int_equal(exec_deposit(fx, SPEND_LIMIT - 3000 + 1), KUMO_EGRANTSPEND);
    fx_sp_rollback(fx);
    fx_digest(fx, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(exec_deposit(fx, SPEND_LIMIT - 3000), 0);
    assert_int_equal(exec_deposit(fx, 1), KUMO_EGRANTSPEND);
}

static void test_new_grant_replaces_with_a_fresh_budget(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    assert_int_equal(exec_deposit(fx, SPEND_LIMIT), 0);
    fx->height = 3;
    grant_all(fx);
    Kumo__Grant *g = grant_load(fx, 0);
    assert_int_equal(g->spend_used, 0);
    assert_int_equal(g->created_height, 3);
    kumo_codec_free(&g->base);
    assert_int_equal(exec_deposit(fx, SPEND_LIMIT), 0);
    /* A replacement that no longer allows deposits. */
    gx_t *gx = gx_new();
    gx_grant(gx, fx->tenant, fx->stranger, 0);
    gx->types[0] = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    gx->grant.n_msg_types = 1;
    gx_ok(fx, gx);
    gx_free(gx);
    assert_int_equal(exec_deposit(fx, 1), KUMO_EGRANTMSG);
}

static void test_deployment_grant_comes_before_the_all_grant(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    gx_t *g = gx_new();
    gx_grant(g, fx->tenant, fx->stranger, DSEQ);
    g->types[0] = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    g->grant.n_msg_types = 1;
    gx_ok(fx, g);
    assert_int_equal(exec_deposit(fx, 1), KUMO_EGRANTMSG);
    gx_revoke(g, fx->tenant, fx->stranger, DSEQ);
    gx_ok(fx, g);
    assert_true(has_event(fx, "grant.revoked"));
    assert_int_equal(exec_deposit(fx, 1), 0);
    gx_free(g);
}

static void test_revoke_then_exec_is_refused(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    gx_t *g = gx_new();
    gx_revoke(g, fx->tenant, fx->stranger, 0);
    gx_ok(fx, g);
    gx_free(g);
    assert_null(grant_load(fx, 0));
    assert_int_equal(exec_deposit(fx, 1), KUMO_EGRANTNONE);
}

/* ---- MsgExec rules -------------------------------------------------------------------------- */

/* One row of a negative table: break one thing of a valid msg (or of the state). */
typedef struct gx_case {
    const char *name;
    void (*mutate)(fx_t *fx, gx_t *g);
    int want;
} gx_case_t;

static void ex_none(fx_t *fx, gx_t *g)
{
    (void)fx;
    (void)g;
}

static void ex_non_grantee(fx_t *fx, gx_t *g)
{
    g->signer = fx->tenant2;
}

static void ex_granter_granted_nothing(fx_t *fx, gx_t *g)
{
    fx_deploy(fx, fx->tenant2, DSEQ, 1, 5, DEP_DEPOSIT);
    memcpy(g->granter, fx->tenant2, KUMO_ADDRESS_BYTES);
    memcpy(g->inner->owner, fx->tenant2, KUMO_ADDRESS_BYTES);
}

static void ex_revoked(fx_t *fx, gx_t *g)
{
    (void)g;
    gx_t *r = gx_new();
    gx_revoke(r, fx->tenant, fx->stranger, 0);
    gx_ok(fx, r);
    gx_free(r);
}

static void ex_at_expiry(fx_t *fx, gx_t *g)
{
    (void)g;
    fx->height = EXPIRY;
}

static void ex_after_expiry(fx_t *fx, gx_t *g)
{
    (void)g;
    fx->height = EXPIRY + 1;
}

static void ex_before_expiry(fx_t *fx, gx_t *g)
{
    (void)g;
    fx->height = EXPIRY - 1;
}

static void regrant(fx_t *fx, uint64_t dseq, uint32_t only_type)
{
    gx_t *r = gx_new();
    gx_grant(r, fx->tenant, fx->stranger, dseq);
    if (only_type != 0) {
        r->types[0] = only_type;
        r->grant.n_msg_types = 1;
    }
    gx_ok(fx, r);
    gx_free(r);
}

static void ex_type_not_allowed(fx_t *fx, gx_t *g)
{
    (void)g;
    regrant(fx, 0, KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
}

static void ex_other_deployment(fx_t *fx, gx_t *g)
{
    ex_revoked(fx, g);
    regrant(fx, DSEQ2, 0);
}

static void ex_other_owner(fx_t *fx, gx_t *g)
{
    fx_deploy(fx, fx->tenant2, DSEQ, 1, 5, DEP_DEPOSIT);
    memcpy(g->inner->owner, fx->tenant2, KUMO_ADDRESS_BYTES);
}

static void ex_spend_exact(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.amount = SPEND_LIMIT;
}

static void ex_spend_plus_one(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.amount = SPEND_LIMIT + 1;
}

static void ex_spend_overflows(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.amount = UINT64_MAX;
}

static void ex_nested(fx_t *fx, gx_t *g)
{
    (void)fx;
    Kumo__MsgExec init = KUMO__MSG_EXEC__INIT;
    g->nested = init;
    g->nested.granter = g->exec.granter;
    g->nested.msgs = g->exec.msgs;
    g->nested.n_msgs = 1;
    Kumo__Msg minit = KUMO__MSG__INIT;
    g->nested_msg = minit;
    g->nested_msg.sum_case = KUMO__MSG__SUM_EXEC;
    g->nested_msg.exec = &g->nested;
    g->inner_ptrs[0] = &g->nested_msg;
}

static void ex_inner_not_grantable(fx_t *fx, gx_t *g)
{
    fx_msg_send(g->inner, fx->tenant, fx->stranger, 1);
}

static void ex_inner_grant(fx_t *fx, gx_t *g)
{
    (void)fx;
    Kumo__Msg minit = KUMO__MSG__INIT;
    g->nested_msg = minit;
    g->nested_msg.sum_case = KUMO__MSG__SUM_GRANT;
    g->nested_msg.grant = &g->grant;
    gx_grant(g, fx->tenant, fx->tenant2, 0);
    gx_msg_set(g, KUMO__MSG__SUM_EXEC, &g->exec);
    g->signer = fx->stranger;
    g->inner_ptrs[0] = &g->nested_msg;
}

static void ex_inner_invalid(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.dseq = 0;
}

static void ex_inner_fails(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.dseq = 9;
}

static void ex_no_msgs(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->exec.n_msgs = 0;
}

static void ex_msgs_max(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner->dd.amount = 1;
    for (size_t i = 0; i < KUMO_EXEC_MSG_COUNT_MAX; i++) {
        g->inner_ptrs[i] = &g->inner->msg;
    }
    g->exec.n_msgs = KUMO_EXEC_MSG_COUNT_MAX;
}

static void ex_msgs_max_plus_one(fx_t *fx, gx_t *g)
{
    ex_msgs_max(fx, g);
    g->inner_ptrs[KUMO_EXEC_MSG_COUNT_MAX] = &g->inner->msg;
    g->exec.n_msgs = KUMO_EXEC_MSG_COUNT_MAX + 1;
}

static void ex_granter_bad(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->exec.granter.len = KUMO_ADDRESS_BYTES - 1;
}

static void ex_missing_inner(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->inner_ptrs[0] = NULL;
}

/* An update of dseq 1 to one group g0 in region, units at price each. */
static void update_to(fx_t *fx, gx_t *g, const char *region, uint64_t price, uint32_t units)
{
    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_update(g->inner, fx->stranger, DSEQ, 1);
    fx_spec_set(&g->inner->specs[0], "g0", region, 1, price, 100, units);
    gx_exec(g, fx->stranger, fx->tenant);
}

static void ex_update_ok(fx_t *fx, gx_t *g)
{
    update_to(fx, g, "us-west", MAX_PRICE / MAX_COUNT, MAX_COUNT);
}

static void ex_update_price(fx_t *fx, gx_t *g)
{
    update_to(fx, g, "us-west", MAX_PRICE / MAX_COUNT + 1, MAX_COUNT);
}

static void ex_update_count(fx_t *fx, gx_t *g)
{
    update_to(fx, g, "us-west", 1, MAX_COUNT + 1);
}

static void ex_update_region(fx_t *fx, gx_t *g)
{
    update_to(fx, g, "eu-west", 10, 2);
}

static void ex_update_unlimited(fx_t *fx, gx_t *g)
{
    gx_t *r = gx_new();
    gx_grant(r, fx->tenant, fx->stranger, 0);
    r->grant.max_price_per_block = 0;
    r->grant.max_count_per_group = 0;
    r->grant.n_regions = 0;
    gx_ok(fx, r);
    gx_free(r);
    update_to(fx, g, "eu-west", 1000, 1000);
}

static void ex_submit_price(fx_t *fx, gx_t *g)
{
    memset(g->inner, 0, sizeof(*g->inner));
    /* Six groups of 20 per block: 120 over 100. */
    fx_msg_deploy(g->inner, fx->stranger, DSEQ2, 6, 5, 1000);
    gx_exec(g, fx->stranger, fx->tenant);
}

static void ex_submit_under_deployment_grant(fx_t *fx, gx_t *g)
{
    ex_revoked(fx, g);
    regrant(fx, DSEQ, 0);
    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_deploy(g->inner, fx->stranger, DSEQ, 1, 5, 1000);
    gx_exec(g, fx->stranger, fx->tenant);
}

static void ex_close_keeps_nothing_to_check(fx_t *fx, gx_t *g)
{
    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_close(g->inner, fx->stranger, DSEQ);
    gx_exec(g, fx->stranger, fx->tenant);
}

static void ex_close_of_another_owners(fx_t *fx, gx_t *g)
{
    /* The inner msg runs for the granter: another owner's dseq 2 is not what it closes. */
    fx_deploy(fx, fx->tenant2, DSEQ2, 1, 5, DEP_DEPOSIT);
    memset(g->inner, 0, sizeof(*g->inner));
    fx_msg_close(g->inner, fx->tenant2, DSEQ2);
    gx_exec(g, fx->stranger, fx->tenant);
}

static const gx_case_t exec_cases[] = {
    {"valid", ex_none, 0},
    {"exec by a non-grantee", ex_non_grantee, KUMO_EGRANTNONE},
    {"granter granted nothing", ex_granter_granted_nothing, KUMO_EGRANTNONE},
    {"revoked", ex_revoked, KUMO_EGRANTNONE},
    {"one block before expiry", ex_before_expiry, 0},
    {"at the expiry height", ex_at_expiry, KUMO_EGRANTEXPIRED},
    {"after the expiry height", ex_after_expiry, KUMO_EGRANTEXPIRED},
    {"msg type not allowed", ex_type_not_allowed, KUMO_EGRANTMSG},
    {"another deployment of the granter", ex_other_deployment, KUMO_EGRANTSCOPE},
    {"another owner's deployment", ex_other_owner, KUMO_EGRANTSCOPE},
    {"spend reaches the limit exactly", ex_spend_exact, 0},
    {"spend exceeds the limit by 1", ex_spend_plus_one, KUMO_EGRANTSPEND},
    {"spend overflows", ex_spend_overflows, KUMO_EGRANTSPEND},
    {"nested exec", ex_nested, KUMO_EGRANTNESTED},
    {"inner msg not grantable", ex_inner_not_grantable, KUMO_EGRANTMSG},
    {"inner grant", ex_inner_grant, KUMO_EGRANTMSG},
    {"inner msg invalid", ex_inner_invalid, KUMO_EINVAL},
    {"inner msg fails its own rule", ex_inner_fails, KUMO_ENOTFOUND},
    {"inner msg missing", ex_missing_inner, KUMO_EEMPTY},
    {"no msgs", ex_no_msgs, KUMO_EEMPTY},
    {"msgs at max", ex_msgs_max, 0},
    {"msgs over max", ex_msgs_max_plus_one, KUMO_ELIMIT},
    {"granter of 19 bytes", ex_granter_bad, KUMO_EINVAL},
    {"update within every limit", ex_update_ok, 0},
    {"update over the price", ex_update_price, KUMO_EGRANTPRICE},
    {"update over the units per group", ex_update_count, KUMO_EGRANTCOUNT},
    {"update to another region", ex_update_region, KUMO_EGRANTREGION},
    {"update under a grant without limits", ex_update_unlimited, 0},
    {"submit over the price", ex_submit_price, KUMO_EGRANTPRICE},
    {"submit under a deployment grant", ex_submit_under_deployment_grant, KUMO_EGRANTMSG},
    {"close", ex_close_keeps_nothing_to_check, 0},
    {"close of a dseq only another owner has", ex_close_of_another_owners, KUMO_ENOTFOUND},
};

static void test_exec_rejects_each_rule(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    gx_t *g = gx_new();
    uint64_t height = fx->height;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(exec_cases); i++) {
        memset(g->inner, 0, sizeof(*g->inner));
        fx_sp_begin(fx);
        fx_msg_deposit(g->inner, fx->stranger, fx->tenant, DSEQ, DEPOSIT_EXEC);
        gx_exec(g, fx->stranger, fx->tenant);
        exec_cases[i].mutate(fx, g);
        fx_expect(fx, g->signer, &g->msg, exec_cases[i].want, exec_cases[i].name);
        fx_sp_rollback(fx);
        fx->height = height;
    }
    gx_free(g);
}

/* ---- MsgGrant and MsgRevoke rules ----------------------------------------------------------- */

static void gr_grantee_bad(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->grant.grantee.len = KUMO_ADDRESS_BYTES + 1;
}

static void gr_grantee_self(fx_t *fx, gx_t *g)
{
    memcpy(g->grantee, fx->tenant, KUMO_ADDRESS_BYTES);
}

static void gr_no_types(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->grant.n_msg_types = 0;
}

static void gr_types_over_max(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->types[4] = KUMO__MSG__SUM_CLOSE_DEPLOYMENT + 1;
    g->grant.n_msg_types = KUMO_GRANT_MSG_TYPE_COUNT_MAX + 1;
}

static void gr_type_send(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->types[0] = KUMO__MSG__SUM_SEND;
}

static void gr_type_exec(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->types[3] = KUMO__MSG__SUM_EXEC;
}

static void gr_types_unsorted(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->types[0] = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    g->types[3] = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
}

static void gr_types_repeat(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->types[1] = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
}

static void gr_submit_on_one_deployment(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->grant.dseq = DSEQ;
}

static void gr_one_deployment(fx_t *fx, gx_t *g)
{
    gx_grant(g, fx->tenant, fx->stranger, DSEQ);
}

static void gr_regions_fill(gx_t *g, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        memset(g->region_buf[i], 'a', len);
        g->region_buf[i][len] = '\0';
        g->region_buf[i][0] = (char)('a' + i);
        g->regions[i] = g->region_buf[i];
    }
    g->grant.n_regions = n;
}

static void gr_regions_max(fx_t *fx, gx_t *g)
{
    (void)fx;
    gr_regions_fill(g, KUMO_GRANT_REGION_COUNT_MAX, 8);
}

static void gr_regions_over_max(fx_t *fx, gx_t *g)
{
    (void)fx;
    gr_regions_fill(g, KUMO_GRANT_REGION_COUNT_MAX + 1, 8);
}

static void gr_region_max_bytes(fx_t *fx, gx_t *g)
{
    (void)fx;
    gr_regions_fill(g, 1, KUMO_REGION_BYTES_MAX);
}

static void gr_region_over_max_bytes(fx_t *fx, gx_t *g)
{
    (void)fx;
    gr_regions_fill(g, 1, KUMO_REGION_BYTES_MAX + 1);
}

static void gr_region_empty(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->region_buf[1][0] = '\0';
}

static void gr_region_not_utf8(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->region_buf[1][0] = (char)0xff;
}

static void gr_regions_unsorted(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->regions[0] = g->region_buf[1];
    g->regions[1] = g->region_buf[0];
}

static void gr_regions_repeat(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->regions[1] = g->region_buf[0];
}

static void gr_expiry_zero(fx_t *fx, gx_t *g)
{
    (void)fx;
    g->grant.expiry_height = 0;
}

static void gr_expiry_now(fx_t *fx, gx_t *g)
{
    g->grant.expiry_height = fx->height;
}

static void gr_expiry_next(fx_t *fx, gx_t *g)
{
    g->grant.expiry_height = fx->height + 1;
}

static void gr_replace(fx_t *fx, gx_t *g)
{
    (void)g;
    grant_all(fx);
}

static const gx_case_t grant_cases[] = {
    {"valid", ex_none, 0},
    {"grantee of 21 bytes", gr_grantee_bad, KUMO_EINVAL},
    {"grant to itself", gr_grantee_self, KUMO_EINVAL},
    {"no msg types", gr_no_types, KUMO_EEMPTY},
    {"msg types over max", gr_types_over_max, KUMO_ELIMIT},
    {"send is not grantable", gr_type_send, KUMO_EGRANTMSG},
    {"exec is not grantable", gr_type_exec, KUMO_EGRANTMSG},
    {"msg types unsorted", gr_types_unsorted, KUMO_EUNSORTED},
    {"msg type repeats", gr_types_repeat, KUMO_EDUPLICATE},
    {"submit on one deployment", gr_submit_on_one_deployment, KUMO_EINVAL},
    {"one deployment", gr_one_deployment, 0},
    {"regions at max", gr_regions_max, 0},
    {"regions over max", gr_regions_over_max, KUMO_ELIMIT},
    {"region at max bytes", gr_region_max_bytes, 0},
    {"region over max bytes", gr_region_over_max_bytes, KUMO_ELIMIT},
    {"region empty", gr_region_empty, KUMO_EEMPTY},
    {"region not UTF-8", gr_region_not_utf8, KUMO_EINVAL},
    {"regions unsorted", gr_regions_unsorted, KUMO_EUNSORTED},
    {"region repeats", gr_regions_repeat, KUMO_EDUPLICATE},
    {"expiry 0", gr_expiry_zero, KUMO_EINVAL},
    {"expiry at the height", gr_expiry_now, KUMO_EINVAL},
    {"expiry one above the height", gr_expiry_next, 0},
    {"replacing a grant", gr_replace, 0},
};

static void test_grant_rejects_each_rule(void **state)
{
    fx_t *fx = *state;
    fx->height = 10;
    gx_t *g = gx_new();
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(grant_cases); i++) {
        fx_sp_begin(fx);
        gx_grant(g, fx->tenant, fx->stranger, 0);
        grant_cases[i].mutate(fx, g);
        fx_expect(fx, g->signer, &g->msg, grant_cases[i].want, grant_cases[i].name);
        fx_sp_rollback(fx);
    }
    gx_free(g);
}

static void test_revoke_rejects_each_rule(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    gx_t *g = gx_new();
    gx_revoke(g, fx->tenant, fx->stranger, 0);
    fx_expect(fx, g->signer, &g->msg, 0, "valid");
    gx_revoke(g, fx->tenant, fx->stranger, DSEQ);
    fx_expect(fx, g->signer, &g->msg, KUMO_ENOTFOUND, "another scope");
    gx_revoke(g, fx->tenant, fx->tenant2, 0);
    fx_expect(fx, g->signer, &g->msg, KUMO_ENOTFOUND, "another grantee");
    gx_revoke(g, fx->tenant2, fx->stranger, 0);
    fx_expect(fx, g->signer, &g->msg, KUMO_ENOTFOUND, "another granter");
    gx_revoke(g, fx->tenant, fx->stranger, 0);
    g->revoke.grantee.len = 0;
    fx_expect(fx, g->signer, &g->msg, KUMO_EINVAL, "grantee missing");
    gx_free(g);
}

/* ---- queries -------------------------------------------------------------------------------- */

static int count_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    assert_ptr_equal(obj->descriptor, &kumo__grant__descriptor);
    (*(size_t *)cb_ctx)++;
    return 0;
}

static size_t grants_count(fx_t *fx, const uint8_t *granter, const uint8_t *grantee, int *rc_out)
{
    kumo_market_query_t q = {0};
    q.object = KUMO_MARKET_OBJ_GRANT;
    q.owner = granter;
    q.grantee = grantee;
    q.limit = 100;
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    size_t n = 0;
    kumo_err_ctx_t err = {0};
    *rc_out = kumo_market_query_run(&fx->ts.kv, &q, count_cb, &n, &next, &err);
    kumo_buf_free(&next);
    return n;
}

static void test_query_grants_by_granter_and_grantee(void **state)
{
    fx_t *fx = *state;
    prep(fx);
    regrant(fx, DSEQ, 0);
    gx_t *g = gx_new();
    gx_grant(g, fx->tenant2, fx->stranger, 0);
    gx_ok(fx, g);
    gx_grant(g, fx->tenant, fx->tenant2, 0);
    gx_ok(fx, g);
    gx_free(g);
    int rc = 0;
    assert_int_equal(grants_count(fx, fx->tenant, NULL, &rc), 3);
    assert_int_equal(rc, 0);
    assert_int_equal(grants_count(fx, fx->tenant, fx->stranger, &rc), 2);
    assert_int_equal(grants_count(fx, NULL, fx->stranger, &rc), 3);
    assert_int_equal(grants_count(fx, NULL, NULL, &rc), 4);
    assert_int_equal(grants_count(fx, fx->stranger, NULL, &rc), 0);
    kumo_market_query_t q = {0};
    q.object = KUMO_MARKET_OBJ_DEPLOYMENT;
    q.grantee = fx->stranger;
    q.limit = 1;
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    size_t n = 0;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_query_run(&fx->ts.kv, &q, count_cb, &n, &next, &err), KUMO_EINVAL);
    kumo_buf_free(&next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_deposit_is_paid_by_the_granter, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_exec_submit_update_close_act_for_the_granter, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_spend_limit_reached_exactly_then_refused, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_new_grant_replaces_with_a_fresh_budget, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_grant_comes_before_the_all_grant, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoke_then_exec_is_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_exec_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grant_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoke_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_grants_by_granter_and_grantee, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
