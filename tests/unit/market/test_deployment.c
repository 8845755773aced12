/*
 * test_deployment.c - proves SubmitDeployment, UpdateDeployment, DepositDeployment and
 * CloseDeployment: exact escrow, balances, groups and orders on success; every rule (ids,
 * group/resource counts and lengths at MAX and MAX+1, empty and duplicate names, zero
 * cpu/memory/count/price, overflowing totals, version length, wait and deposit bounds, funds,
 * ownership and state) fails with its own code and leaves the kv byte-identical. Runs on a
 * real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u
#define DEP_WAIT    5u

/* ---- SubmitDeployment ----------------------------------------------------------------------- */

static void test_submit_deployment_creates_groups_orders_escrow(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 2, DEP_WAIT, DEP_DEPOSIT);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - DEP_DEPOSIT);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    assert_int_equal(d->escrow, DEP_DEPOSIT);
    assert_int_equal(d->group_count, 2);
    assert_int_equal(d->wait_blocks, DEP_WAIT);
    assert_int_equal(d->created_height, 1);
    assert_int_equal(d->version.len, KUMO_VERSION_BYTES);
    kumo_codec_free(&d->base);
    for (uint32_t g = 0; g < 2; g++) {
        Kumo__Group *gr = fx_group(fx, fx->tenant, 1, g);
        assert_int_equal(gr->state, KUMO__GROUP_STATE__GROUP_OPEN);
        assert_int_equal(gr->oseq, 1);
        assert_string_equal(gr->spec->region, g == 0 ? "us-east" : "us-west");
        kumo_codec_free(&gr->base);
        Kumo__Order *o = fx_order(fx, fx->tenant, 1, g, 1);
        assert_int_equal(o->state, KUMO__ORDER_STATE__ORDER_OPEN);
        assert_int_equal(o->match_height, 1 + DEP_WAIT);
        assert_int_equal(o->price_total, 20);
        assert_int_equal(o->collateral_total, 200);
        assert_int_equal(o->bid_count, 0);
        kumo_codec_free(&o->base);
    }
    Kumo__Global g = fx_global(fx);
    assert_int_equal(g.escrow_total, DEP_DEPOSIT);
    assert_int_equal(fx_event_count(fx, "deployment.created"), 1);
    assert_int_equal(fx_event_count(fx, "group.created"), 2);
    assert_int_equal(fx_event_count(fx, "order.created"), 2);
    char want[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_deployment_id_format(fx->tenant, 1, want), 0);
    assert_string_equal(fx_event_id(fx, "deployment.created"), want);
    size_t n = strlen(want);
    assert_int_equal(snprintf(want + n, sizeof(want) - n, "/0"), 2);
    assert_string_equal(fx_event_id(fx, "group.created"), want);
    assert_int_equal(snprintf(want + n, sizeof(want) - n, "/0/1"), 4);
    assert_string_equal(fx_event_id(fx, "order.created"), want);
    /* Totals sum over resource groups: 3 x (price 7 x count 4) and collateral 5 x 4. */
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, 2, 1, 0, DEP_DEPOSIT);
    fx_spec_set(&m->specs[0], "multi", "us-east", 3, 7, 5, 4);
    fx_ok(fx, m->signer, &m->msg);
    Kumo__Order *o = fx_order(fx, fx->tenant, 2, 0, 1);
    assert_int_equal(o->price_total, 3 * 7 * 4);
    assert_int_equal(o->collateral_total, 3 * 5 * 4);
    assert_int_equal(o->match_height, 1);
    kumo_codec_free(&o->base);
    free(m);
}

static void submit_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_deploy(m, fx->tenant, 1, 2, DEP_WAIT, DEP_DEPOSIT);
}
static void sd_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.dseq = 0;
}
static void sd_dseq_used(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
}
static void sd_dseq_used_closed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_close_dep(fx, fx->tenant, 1);
}
static void sd_dseq_used_by_other(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_deploy(fx, fx->tenant2, 1, 1, 0, DEP_DEPOSIT);
}
static void groups_n(fx_msg_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "g%zu", i);
        fx_spec_set(&m->specs[i], name, "us-east", 1, 10, 100, 2);
        m->spec_ptrs[i] = &m->specs[i].spec;
    }
    m->sd.n_groups = n;
    m->ud.n_groups = n;
    m->ud.groups = m->spec_ptrs;
}
static void sd_groups_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.n_groups = 0;
}
static void sd_groups_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    groups_n(m, KUMO_GROUP_COUNT_MAX);
}
static void sd_groups_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    groups_n(m, KUMO_GROUP_COUNT_MAX + 1);
}
static void g_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->spec_ptrs[1] = NULL;
}
static void g_name_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[1].name[0] = '\0';
}
static void g_name_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->specs[1].name, 'n', KUMO_NAME_BYTES_MAX);
    m->specs[1].name[KUMO_NAME_BYTES_MAX] = '\0';
}
static void g_name_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->specs[1].name, 'n', KUMO_NAME_BYTES_MAX + 1);
    m->specs[1].name[KUMO_NAME_BYTES_MAX + 1] = '\0';
}
static void g_name_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->specs[1].name, sizeof(m->specs[1].name), "%s", m->specs[0].name);
}
static void g_name_not_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[1].name[0] = (char)0x80;
}
static void g_region_not_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->specs[0].region, sizeof(m->specs[0].region), "%c%c%c%c", (char)0xf4, (char)0x90,
             (char)0x80, (char)0x80);
}
static void g_region_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].region[0] = '\0';
}
static void g_region_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->specs[0].region, 'r', KUMO_REGION_BYTES_MAX);
    m->specs[0].region[KUMO_REGION_BYTES_MAX] = '\0';
}
static void g_region_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->specs[0].region, 'r', KUMO_REGION_BYTES_MAX + 1);
    m->specs[0].region[KUMO_REGION_BYTES_MAX + 1] = '\0';
}
static void g_res_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].spec.n_resources = 0;
}
static void g_res_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_spec_set(&m->specs[0], "g0", "us-east", KUMO_RESOURCE_COUNT_MAX, 10, 100, 2);
}
static void g_res_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_spec_set(&m->specs[0], "g0", "us-east", KUMO_RESOURCE_COUNT_MAX + 1, 10, 100, 2);
}
static void r_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res_ptrs[0] = NULL;
}
static void r_compute_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.compute = NULL;
}
static void r_cpu_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].cu.cpu_milli = 0;
}
static void r_memory_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].cu.memory_bytes = 0;
}
static void r_storage_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].cu.storage_bytes = 0;
}
static void r_count_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.count = 0;
}
static void r_count_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.count = KUMO_RESOURCE_UNIT_COUNT_MAX;
}
static void r_count_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.count = KUMO_RESOURCE_UNIT_COUNT_MAX + 1;
}
static void r_price_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.price = 0;
}
static void r_collateral_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.collateral = 0;
}
static void r_price_times_count_overflows(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.price = UINT64_MAX / 2;
    m->specs[0].res[0].rg.count = 3;
}
static void r_price_sum_overflows(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_spec_set(&m->specs[0], "g0", "us-east", 2, 1ull << 63, 100, 1);
}
static void r_collateral_overflows(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->specs[0].res[0].rg.collateral = UINT64_MAX / 2;
    m->specs[0].res[0].rg.count = 3;
}
static void sd_version_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.version.len = KUMO_VERSION_BYTES - 1;
}
static void sd_version_long(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.version.len = KUMO_VERSION_BYTES + 1;
}
static void sd_version_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.version.len = 0;
    m->sd.version.data = NULL;
}
static void sd_wait_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.wait_blocks = FX_WAIT_MAX;
}
static void sd_wait_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.wait_blocks = FX_WAIT_MAX + 1;
}
static void sd_deposit_min(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.deposit = FX_MIN_DEPOSIT;
}
static void sd_deposit_below_min(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.deposit = FX_MIN_DEPOSIT - 1;
}
static void sd_deposit_all(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.deposit = FX_BALANCE;
}
static void sd_deposit_over_balance(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->sd.deposit = FX_BALANCE + 1;
}
static void sd_signer_poor(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void sd_match_height_overflows(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx->height = UINT64_MAX - 2;
}

static void test_submit_deployment_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"dseq 0", sd_dseq_zero, KUMO_EINVAL},
        {"dseq used", sd_dseq_used, KUMO_EEXIST},
        {"dseq used by a closing deployment", sd_dseq_used_closed, KUMO_EEXIST},
        {"dseq used by another owner", sd_dseq_used_by_other, 0},
        {"no groups", sd_groups_zero, KUMO_EEMPTY},
        {"groups at max", sd_groups_max, 0},
        {"groups over max", sd_groups_over, KUMO_ELIMIT},
        {"group missing", g_missing, KUMO_EEMPTY},
        {"group name empty", g_name_empty, KUMO_EEMPTY},
        {"group name at max", g_name_max, 0},
        {"group name over max", g_name_over, KUMO_ELIMIT},
        {"group name repeated", g_name_dup, KUMO_EDUPLICATE},
        {"group name not UTF-8", g_name_not_utf8, KUMO_EINVAL},
        {"region past U+10FFFF", g_region_not_utf8, KUMO_EINVAL},
        {"region empty", g_region_empty, KUMO_EEMPTY},
        {"region at max", g_region_max, 0},
        {"region over max", g_region_over, KUMO_ELIMIT},
        {"no resources", g_res_zero, KUMO_EEMPTY},
        {"resources at max", g_res_max, 0},
        {"resources over max", g_res_over, KUMO_ELIMIT},
        {"resource missing", r_missing, KUMO_EEMPTY},
        {"compute missing", r_compute_missing, KUMO_EEMPTY},
        {"cpu 0", r_cpu_zero, KUMO_EINVAL},
        {"memory 0", r_memory_zero, KUMO_EINVAL},
        {"storage 0", r_storage_zero, 0},
        {"count 0", r_count_zero, KUMO_EINVAL},
        {"count at max", r_count_max, 0},
        {"count over max", r_count_over, KUMO_ELIMIT},
        {"price 0", r_price_zero, KUMO_EINVAL},
        {"collateral 0", r_collateral_zero, 0},
        {"price x count overflows", r_price_times_count_overflows, KUMO_EOVERFLOW},
        {"price total overflows", r_price_sum_overflows, KUMO_EOVERFLOW},
        {"collateral x count overflows", r_collateral_overflows, KUMO_EOVERFLOW},
        {"version 31 bytes", sd_version_short, KUMO_EINVAL},
        {"version 33 bytes", sd_version_long, KUMO_EINVAL},
        {"version empty", sd_version_empty, KUMO_EINVAL},
        {"wait at max", sd_wait_max, 0},
        {"wait over max", sd_wait_over, KUMO_ELIMIT},
        {"deposit at min", sd_deposit_min, 0},
        {"deposit below min", sd_deposit_below_min, KUMO_EDEPOSIT},
        {"deposit = whole balance", sd_deposit_all, 0},
        {"deposit over balance", sd_deposit_over_balance, KUMO_EFUNDS},
        {"signer without funds", sd_signer_poor, KUMO_EFUNDS},
        {"match height overflows", sd_match_height_overflows, KUMO_EOVERFLOW},
    };
    fx_cases_run(*state, submit_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- UpdateDeployment ----------------------------------------------------------------------- */

static void update_build(fx_t *fx, fx_msg_t *m)
{
    fx_deploy(fx, fx->tenant, 1, 2, DEP_WAIT, DEP_DEPOSIT);
    fx_msg_update(m, fx->tenant, 1, 0);
}
/* The same two groups as the deployment. */
static void ud_same_groups(fx_t *fx, fx_msg_t *m)
{
    fx_msg_update(m, fx->tenant, 1, 2);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 2);
    fx_spec_set(&m->specs[1], "g1", "us-west", 1, 10, 100, 2);
    (void)fx;
}
static void ud_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ud.dseq = 0;
}
static void ud_not_found(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ud.dseq = 2;
}
static void ud_not_owner(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant2;
}
static void ud_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void ud_closed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
    fx_msg_t *c = fx_msg_new();
    fx_msg_closed(c, fx->val, fx->tenant, 1);
    fx_ok(fx, c->signer, &c->msg);
    free(c);
}
static void ud_version_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ud.version.len = KUMO_VERSION_BYTES - 1;
}
static void ud_version_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->ud.version.len = 0;
    m->ud.version.data = NULL;
}
static void ud_groups_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    groups_n(m, KUMO_GROUP_COUNT_MAX);
}
static void ud_groups_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    groups_n(m, KUMO_GROUP_COUNT_MAX + 1);
}
static void ud_name_dup(fx_t *fx, fx_msg_t *m)
{
    ud_same_groups(fx, m);
    snprintf(m->specs[1].name, sizeof(m->specs[1].name), "g0");
}
static void ud_name_empty(fx_t *fx, fx_msg_t *m)
{
    ud_same_groups(fx, m);
    m->specs[1].name[0] = '\0';
}
static void ud_price_zero(fx_t *fx, fx_msg_t *m)
{
    ud_same_groups(fx, m);
    m->specs[1].res[0].rg.price = 0;
}
static void ud_group_missing(fx_t *fx, fx_msg_t *m)
{
    ud_same_groups(fx, m);
    m->spec_ptrs[0] = NULL;
}

static void test_update_deployment_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid (version only)", fx_case_none, 0},
        {"valid (same groups)", ud_same_groups, 0},
        {"dseq 0", ud_dseq_zero, KUMO_EINVAL},
        {"not found", ud_not_found, KUMO_ENOTFOUND},
        {"not the owner", ud_not_owner, KUMO_ENOTFOUND},
        {"closing", ud_closing, KUMO_ESTATE},
        {"closed", ud_closed, KUMO_ESTATE},
        {"version 31 bytes", ud_version_short, KUMO_EINVAL},
        {"version empty", ud_version_empty, KUMO_EINVAL},
        {"groups at max", ud_groups_max, 0},
        {"groups over max", ud_groups_over, KUMO_ELIMIT},
        {"group name repeated", ud_name_dup, KUMO_EDUPLICATE},
        {"group name empty", ud_name_empty, KUMO_EEMPTY},
        {"price 0", ud_price_zero, KUMO_EINVAL},
        {"group missing", ud_group_missing, KUMO_EEMPTY},
    };
    fx_cases_run(*state, update_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* A deployment may hold KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX groups over its life, no more. */
static void test_update_deployment_group_total_limit(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 0, DEP_DEPOSIT);
    fx_msg_t *m = fx_msg_new();
    uint32_t total = 1;
    uint32_t round = 0;
    while (total < KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX) {
        uint32_t add = KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX - total;
        add = add > KUMO_GROUP_COUNT_MAX ? KUMO_GROUP_COUNT_MAX : add;
        fx_msg_update(m, fx->tenant, 1, add);
        for (uint32_t i = 0; i < add; i++) {
            char name[32];
            snprintf(name, sizeof(name), "r%u-%u", round, i);
            fx_spec_set(&m->specs[i], name, "us-east", 1, 10, 100, 1);
        }
        fx_ok(fx, m->signer, &m->msg);
        total += add;
        round++;
    }
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->group_count, KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX);
    kumo_codec_free(&d->base);
    /* Keeping the current names is fine; one new name is one too many. */
    fx_msg_update(m, fx->tenant, 1, 1);
    fx_spec_set(&m->specs[0], "one-more", "us-east", 1, 10, 100, 1);
    fx_expect(fx, m->signer, &m->msg, KUMO_ELIMIT, "group over the lifetime max");
    free(m);
}

/* ---- DepositDeployment ---------------------------------------------------------------------- */

static void test_deposit_adds_to_escrow(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, DEP_WAIT, DEP_DEPOSIT);
    fx_msg_t *m = fx_msg_new();
    fx_msg_deposit(m, fx->tenant2, fx->tenant, 1, 777);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), DEP_DEPOSIT + 777);
    assert_int_equal(fx_balance(fx, fx->tenant2), FX_BALANCE - 777);
    assert_int_equal(fx_global(fx).escrow_total, DEP_DEPOSIT + 777);
    assert_int_equal(fx_event_count(fx, "deployment.deposited"), 1);
    free(m);
}

static void deposit_build(fx_t *fx, fx_msg_t *m)
{
    fx_deploy(fx, fx->tenant, 1, 1, DEP_WAIT, DEP_DEPOSIT);
    fx_msg_deposit(m, fx->tenant2, fx->tenant, 1, 500);
}
static void dd_owner_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.owner.len = KUMO_ADDRESS_BYTES - 1;
}
static void dd_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.dseq = 0;
}
static void dd_amount_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.amount = 0;
}
static void dd_not_found(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.dseq = 9;
}
static void dd_other_owner(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->owner, fx->tenant2, KUMO_ADDRESS_BYTES);
}
static void dd_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void dd_closed(fx_t *fx, fx_msg_t *m)
{
    ud_closed(fx, m);
}
static void dd_over_balance(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->dd.amount = FX_BALANCE + 1;
}
static void dd_by_owner(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant;
}

static void test_deposit_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid (anyone)", fx_case_none, 0},
        {"valid (owner)", dd_by_owner, 0},
        {"owner 19 bytes", dd_owner_short, KUMO_EINVAL},
        {"dseq 0", dd_dseq_zero, KUMO_EINVAL},
        {"amount 0", dd_amount_zero, KUMO_EINVAL},
        {"not found", dd_not_found, KUMO_ENOTFOUND},
        {"another owner's dseq", dd_other_owner, KUMO_ENOTFOUND},
        {"closing (allowed)", dd_closing, 0},
        {"closed", dd_closed, KUMO_ESTATE},
        {"amount over balance", dd_over_balance, KUMO_EFUNDS},
    };
    fx_cases_run(*state, deposit_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- CloseDeployment ------------------------------------------------------------------------ */

/* Close settles the active lease up to the closing height, refunds open bids, closes orders
 * and groups, and stops billing. */
static void test_close_settles_refunds_and_stops_billing(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 2, DEP_WAIT, DEP_DEPOSIT); /* height 1, match at 6 */
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 8);        /* 16 per block, collateral 200 */
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 7);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE - 200);
    fx->height = 6;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
    assert_int_equal(fx_balance(fx, fx->prov[1]), FX_BALANCE);
    fx->height = 10;
    fx->event_count = 0;
    fx_close_dep(fx, fx->tenant, 1);
    /* 4 blocks x 16; interest floor(200 x 1000 x 4 / 1e9) = 0. */
    assert_int_equal(fx_balance(fx, fx->prov[0]), FX_BALANCE - 200 + 64);
    assert_int_equal(fx_balance(fx, fx->prov[2]), FX_BALANCE);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), DEP_DEPOSIT - 64);
    Kumo__Deployment *d = fx_dep(fx, fx->tenant, 1);
    assert_int_equal(d->state, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(d->close_reason, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT);
    assert_int_equal(d->closing_height, 10);
    assert_int_equal(d->total_paid, 64);
    assert_int_equal(d->unreleased_lease_count, 1);
    kumo_codec_free(&d->base);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_CLOSING);
    assert_int_equal(fx_order_state(fx, fx->tenant, 1, 1, 1), KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 0), KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_int_equal(fx_group_state(fx, fx->tenant, 1, 1), KUMO__GROUP_STATE__GROUP_CLOSED);
    assert_null(fx_ful(fx, fx->tenant, 1, 1, 1, fx->prov[2]));
    assert_int_equal(fx_event_count(fx, "deployment.closing"), 1);
    assert_int_equal(fx_event_count(fx, "lease.paid"), 1);
    assert_int_equal(fx_event_count(fx, "lease.closing"), 1);
    assert_int_equal(fx_event_count(fx, "fulfillment.refunded"), 1);
    assert_int_equal(fx_event_count(fx, "order.closed"), 1);
    assert_int_equal(fx_event_count(fx, "group.closed"), 2);
    /* No billing after closing: a later confirmation is refused, nothing is paid. */
    fx->height = 15;
    fx_msg_t *m = fx_msg_new();
    fx_msg_confirm(m, fx->prov[0]);
    fx_confirm_add(m, fx->tenant, 1, 0, 1, false);
    fx_expect(fx, m->signer, &m->msg, KUMO_ESTATE, "confirm a closing lease");
    free(m);
    assert_int_equal(fx_dep_escrow(fx, fx->tenant, 1), DEP_DEPOSIT - 64);
}

static void close_build(fx_t *fx, fx_msg_t *m)
{
    fx_deploy(fx, fx->tenant, 1, 1, DEP_WAIT, DEP_DEPOSIT);
    fx_msg_close(m, fx->tenant, 1);
}
static void cd_dseq_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->cd.dseq = 0;
}
static void cd_not_found(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->cd.dseq = 3;
}
static void cd_not_owner(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant2;
}
static void cd_closing(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_close_dep(fx, fx->tenant, 1);
}
static void cd_closed(fx_t *fx, fx_msg_t *m)
{
    ud_closed(fx, m);
}

static void test_close_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"dseq 0", cd_dseq_zero, KUMO_EINVAL},
        {"not found", cd_not_found, KUMO_ENOTFOUND},
        {"not the owner", cd_not_owner, KUMO_ENOTFOUND},
        {"closing", cd_closing, KUMO_ESTATE},
        {"closed", cd_closed, KUMO_ESTATE},
    };
    fx_cases_run(*state, close_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_deployment_creates_groups_orders_escrow,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_submit_deployment_rejects_each_rule, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_deployment_rejects_each_rule, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_deployment_group_total_limit, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_deposit_adds_to_escrow, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deposit_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_settles_refunds_and_stops_billing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_rejects_each_rule, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
