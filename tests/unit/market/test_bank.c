/*
 * test_bank.c - proves the bank: Send moves exact amounts and fails with its own code for
 * each rule (address length, zero amount, funds) without changing the state; fees move to the
 * fee pool; absent accounts read as zero; params validation accepts every limit at MAX and
 * rejects MAX+1; genesis rejects each bad input (duplicates, lengths, zero power, bad params,
 * a non-empty kv, list sizes over their limits) and writes supply, validators and providers.
 * Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

/* ---- Send ----------------------------------------------------------------------------------- */

static void test_send_moves_exact_amounts(void **state)
{
    fx_t *fx = *state;
    kumo_bank_totals_t g0 = fx_totals(fx);
    fx_msg_t *m = fx_msg_new();
    fx_msg_send(m, fx->tenant, fx->stranger, 1234);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - 1234);
    assert_int_equal(fx_balance(fx, fx->stranger), 1234);
    assert_int_equal(fx_event_count(fx, "account.transfer"), 1);
    kumo_bank_totals_t g1 = fx_totals(fx);
    assert_true(g1.supply == g0.supply);
    /* Sending to oneself changes nothing but still needs the funds. */
    fx_msg_send(m, fx->stranger, fx->stranger, 1234);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->stranger), 1234);
    /* The whole balance may go; the emptied account disappears from the state. */
    fx_msg_send(m, fx->stranger, fx->tenant, 1234);
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_balance(fx, fx->stranger), 0);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE);
    free(m);
}

static void send_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_send(m, fx->tenant, fx->stranger, 1000);
}
static void send_to_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.to.len = KUMO_ADDRESS_BYTES - 1;
}
static void send_to_long(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.to.len = KUMO_ADDRESS_BYTES + 1;
}
static void send_to_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.to.len = 0;
    m->send.to.data = NULL;
}
static void send_amount_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.amount = 0;
}
static void send_amount_over_balance(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.amount = FX_BALANCE + 1;
}
static void send_amount_all(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->send.amount = FX_BALANCE;
}
static void send_from_empty_account(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
    memcpy(m->addr, fx->tenant, KUMO_ADDRESS_BYTES);
}
static void send_unknown_msg(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->msg.sum_case = KUMO__MSG__SUM__NOT_SET;
}
static void send_body_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->msg.send = NULL;
}

static void test_send_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"to 19 bytes", send_to_short, KUMO_EINVAL},
        {"to 21 bytes", send_to_long, KUMO_EINVAL},
        {"to empty", send_to_empty, KUMO_EINVAL},
        {"amount 0", send_amount_zero, KUMO_EINVAL},
        {"amount over balance", send_amount_over_balance, KUMO_EFUNDS},
        {"amount = whole balance", send_amount_all, 0},
        {"signer without account", send_from_empty_account, KUMO_EFUNDS},
        {"msg type not set", send_unknown_msg, KUMO_EUNKNOWNMSG},
        {"msg body missing", send_body_missing, KUMO_EEMPTY},
    };
    fx_cases_run(*state, send_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- fees and accounts ---------------------------------------------------------------------- */

static void test_fee_collect_moves_to_pool(void **state)
{
    fx_t *fx = *state;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->tenant, 500, &err), 0);
    assert_int_equal(fx_balance(fx, fx->tenant), FX_BALANCE - 500);
    assert_int_equal(fx_totals(fx).fee_pool, 500);
    fx_check(fx);
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    fx_digest(fx, before);
    fx_sp_begin(fx);
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->stranger, 1, &err), KUMO_EFUNDS);
    fx_sp_rollback(fx);
    fx_digest(fx, after);
    assert_memory_equal(before, after, sizeof(before));
}

static void test_account_absent_reads_zero_and_zero_is_not_stored(void **state)
{
    fx_t *fx = *state;
    kumo_err_ctx_t err = {0};
    Kumo__Account *a = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->stranger, &a, &err), 0);
    assert_int_equal(a->balance, 0);
    assert_int_equal(a->sequence, 0);
    assert_memory_equal(a->address.data, fx->stranger, KUMO_ADDRESS_BYTES);
    size_t n0 = 0;
    assert_int_equal(kumo_test_kv_count(&fx->ts.kv, &n0), 0);
    a->sequence = 3;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, a, &err), 0);
    size_t n1 = 0;
    assert_int_equal(kumo_test_kv_count(&fx->ts.kv, &n1), 0);
    assert_int_equal(n1, n0 + 1);
    a->sequence = 0;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, a, &err), 0);
    assert_int_equal(kumo_test_kv_count(&fx->ts.kv, &n1), 0);
    assert_int_equal(n1, n0);
    a->address.len = 19;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, a, &err), KUMO_EINVAL);
    a->address.len = KUMO_ADDRESS_BYTES;
    kumo_codec_free(&a->base);
}

static void test_corrupt_account_is_ecorrupt(void **state)
{
    fx_t *fx = *state;
    kumo_market_key_t k;
    kumo_market_key_account(&k, fx->tenant);
    kumo_err_ctx_t err = {0};
    uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(fx->ts.kv.put(fx->ts.kv.ctx, kumo_market_key_bytes(&k),
                                   kumo_bytes_make(junk, sizeof(junk)), &err),
                     0);
    Kumo__Account *a = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->tenant, &a, &err), KUMO_ECORRUPT);
    /* A valid account stored under another address's key is corrupt too. */
    Kumo__Account other = KUMO__ACCOUNT__INIT;
    other.address.data = fx->tenant2;
    other.address.len = KUMO_ADDRESS_BYTES;
    other.balance = 5;
    kumo_buf_t buf;
    kumo_buf_init(&buf, 1024);
    assert_int_equal(kumo_codec_pack(&other.base, &buf, &err), 0);
    assert_int_equal(
        fx->ts.kv.put(fx->ts.kv.ctx, kumo_market_key_bytes(&k), kumo_buf_bytes(&buf), &err), 0);
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->tenant, &a, &err), KUMO_ECORRUPT);
    /* And a msg touching it fails cleanly with the same code. */
    fx_msg_t *m = fx_msg_new();
    fx_msg_send(m, fx->tenant, fx->stranger, 1);
    fx_expect(fx, m->signer, &m->msg, KUMO_ECORRUPT, "send from a corrupt account");
    free(m);
    kumo_buf_free(&buf);
}

static void test_validator_is_operator(void **state)
{
    fx_t *fx = *state;
    bool yes = false;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_validator_is_operator(&fx->ts.kv, fx->val, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(kumo_market_validator_is_operator(&fx->ts.kv, fx->tenant, &yes, &err), 0);
    assert_false(yes);
}

/* ---- params --------------------------------------------------------------------------------- */

typedef struct params_case {
    const char *name;
    void (*mutate)(Kumo__Params *p);
    int want;
} params_case_t;

static void p_none(Kumo__Params *p)
{
    (void)p;
}
static void p_period_zero(Kumo__Params *p)
{
    p->reconfirmation_period = 0;
}
static void p_release_zero(Kumo__Params *p)
{
    p->release_timeout = 0;
}
static void p_rate_max(Kumo__Params *p)
{
    p->collateral_interest_rate = 1000000000;
}
static void p_rate_over(Kumo__Params *p)
{
    p->collateral_interest_rate = 1000000001;
}
static void p_tx_zero(Kumo__Params *p)
{
    p->max_tx_bytes = 0;
}
static void p_tx_max(Kumo__Params *p)
{
    p->max_tx_bytes = KUMO_TX_BYTES_MAX;
}
static void p_tx_over(Kumo__Params *p)
{
    p->max_tx_bytes = KUMO_TX_BYTES_MAX + 1u;
}
static void p_block_below_tx(Kumo__Params *p)
{
    p->max_block_bytes = p->max_tx_bytes - 1;
}
static void p_block_max(Kumo__Params *p)
{
    p->max_block_bytes = KUMO_BLOCK_BYTES_MAX;
}
static void p_block_over(Kumo__Params *p)
{
    p->max_block_bytes = KUMO_BLOCK_BYTES_MAX + 1u;
}
static void p_bids_zero(Kumo__Params *p)
{
    p->max_bids_per_order = 0;
}
static void p_bids_max(Kumo__Params *p)
{
    p->max_bids_per_order = KUMO_MARKET_BIDS_PER_ORDER_MAX;
}
static void p_bids_over(Kumo__Params *p)
{
    p->max_bids_per_order = KUMO_MARKET_BIDS_PER_ORDER_MAX + 1u;
}
static void p_wait_max(Kumo__Params *p)
{
    p->max_wait_blocks = KUMO_MARKET_WAIT_BLOCKS_MAX;
}
static void p_wait_over(Kumo__Params *p)
{
    p->max_wait_blocks = KUMO_MARKET_WAIT_BLOCKS_MAX + 1u;
}

static void test_params_validate_each_rule(void **state)
{
    (void)state;
    static const params_case_t cases[] = {
        {"default", p_none, 0},
        {"reconfirmation_period 0", p_period_zero, KUMO_EINVAL},
        {"release_timeout 0", p_release_zero, KUMO_EINVAL},
        {"interest rate at max", p_rate_max, 0},
        {"interest rate over max", p_rate_over, KUMO_ELIMIT},
        {"max_tx_bytes 0", p_tx_zero, KUMO_EINVAL},
        {"max_tx_bytes at max", p_tx_max, 0},
        {"max_tx_bytes over max", p_tx_over, KUMO_ELIMIT},
        {"max_block_bytes below max_tx_bytes", p_block_below_tx, KUMO_EINVAL},
        {"max_block_bytes at max", p_block_max, 0},
        {"max_block_bytes over max", p_block_over, KUMO_ELIMIT},
        {"max_bids_per_order 0", p_bids_zero, KUMO_EINVAL},
        {"max_bids_per_order at max", p_bids_max, 0},
        {"max_bids_per_order over max", p_bids_over, KUMO_ELIMIT},
        {"max_wait_blocks at max", p_wait_max, 0},
        {"max_wait_blocks over max", p_wait_over, KUMO_ELIMIT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        Kumo__Params p;
        kumo_market_params_default(&p);
        cases[i].mutate(&p);
        kumo_err_ctx_t err = {0};
        int rc = kumo_market_params_validate(&p, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_params_validate(NULL, &err), KUMO_EEMPTY);
}

/* ---- genesis -------------------------------------------------------------------------------- */

#define GEN_N 3

typedef struct gen {
    Kumo__Params params;
    Kumo__Genesis g;
    Kumo__GenesisBalance bal[GEN_N];
    Kumo__GenesisBalance *bal_ptrs[GEN_N];
    uint8_t addr[GEN_N][KUMO_ADDRESS_BYTES + 1];
    Kumo__Validator val[GEN_N];
    Kumo__Validator *val_ptrs[GEN_N];
    uint8_t val_addr[GEN_N][KUMO_ADDRESS_BYTES + 1];
    uint8_t pubkey[GEN_N][33];
    char moniker[KUMO_NAME_BYTES_MAX + 2];
    Kumo__Provider prov[GEN_N];
    Kumo__Provider *prov_ptrs[GEN_N];
    uint8_t prov_addr[GEN_N][KUMO_ADDRESS_BYTES + 1];
} gen_t;

static void gen_build(gen_t *g)
{
    memset(g, 0, sizeof(*g));
    fx_params(&g->params);
    Kumo__Genesis init = KUMO__GENESIS__INIT;
    g->g = init;
    g->g.chain_id = "kumo-test";
    g->g.params = &g->params;
    for (size_t i = 0; i < GEN_N; i++) {
        Kumo__GenesisBalance b = KUMO__GENESIS_BALANCE__INIT;
        g->bal[i] = b;
        fx_addr(g->addr[i], (uint8_t)(1 + i));
        g->bal[i].address.data = g->addr[i];
        g->bal[i].address.len = KUMO_ADDRESS_BYTES;
        g->bal[i].amount = 1000 * (i + 1);
        g->bal_ptrs[i] = &g->bal[i];
        Kumo__Validator v = KUMO__VALIDATOR__INIT;
        g->val[i] = v;
        fx_addr(g->val_addr[i], (uint8_t)(100 + i));
        memset(g->pubkey[i], (int)(i + 1), sizeof(g->pubkey[i]));
        g->val[i].address.data = g->val_addr[i];
        g->val[i].address.len = KUMO_ADDRESS_BYTES;
        g->val[i].pubkey.data = g->pubkey[i];
        g->val[i].pubkey.len = 32;
        g->val[i].power = 1;
        g->val_ptrs[i] = &g->val[i];
        Kumo__Provider p = KUMO__PROVIDER__INIT;
        g->prov[i] = p;
        fx_addr(g->prov_addr[i], (uint8_t)(200 + i));
        g->prov[i].owner.data = g->prov_addr[i];
        g->prov[i].owner.len = KUMO_ADDRESS_BYTES;
        g->prov[i].host_uri = "https://p.example";
        g->prov[i].region = "us-east";
        g->prov[i].root_cert_pem = FX_PEM;
        g->prov_ptrs[i] = &g->prov[i];
    }
    g->g.n_balances = GEN_N;
    g->g.balances = g->bal_ptrs;
    g->g.n_validators = GEN_N;
    g->g.validators = g->val_ptrs;
    g->g.n_providers = GEN_N;
    g->g.providers = g->prov_ptrs;
}

typedef struct gen_case {
    const char *name;
    void (*mutate)(gen_t *g);
    int want;
} gen_case_t;

static void g_none(gen_t *g)
{
    (void)g;
}
static void g_params_missing(gen_t *g)
{
    g->g.params = NULL;
}
static void g_params_bad(gen_t *g)
{
    g->params.reconfirmation_period = 0;
}
static void g_balance_addr_short(gen_t *g)
{
    g->bal[1].address.len = 19;
}
static void g_balance_missing(gen_t *g)
{
    g->bal_ptrs[1] = NULL;
}
static void g_balance_dup(gen_t *g)
{
    memcpy(g->addr[2], g->addr[0], KUMO_ADDRESS_BYTES);
}
static void g_supply_overflow(gen_t *g)
{
    g->bal[0].amount = UINT64_MAX;
}
static void g_val_addr_long(gen_t *g)
{
    g->val[0].address.len = 21;
}
static void g_val_missing(gen_t *g)
{
    g->val_ptrs[2] = NULL;
}
static void g_val_pubkey_short(gen_t *g)
{
    g->val[1].pubkey.len = 31;
}
static void g_val_pubkey_long(gen_t *g)
{
    g->val[1].pubkey.len = 33;
}
static void g_val_power_zero(gen_t *g)
{
    g->val[2].power = 0;
}
static void g_val_moniker_max(gen_t *g)
{
    memset(g->moniker, 'm', KUMO_NAME_BYTES_MAX);
    g->moniker[KUMO_NAME_BYTES_MAX] = '\0';
    g->val[0].moniker = g->moniker;
}
static void g_val_moniker_over(gen_t *g)
{
    memset(g->moniker, 'm', KUMO_NAME_BYTES_MAX + 1);
    g->moniker[KUMO_NAME_BYTES_MAX + 1] = '\0';
    g->val[0].moniker = g->moniker;
}
static void g_val_dup(gen_t *g)
{
    memcpy(g->val_addr[1], g->val_addr[2], KUMO_ADDRESS_BYTES);
}
static void g_prov_owner_short(gen_t *g)
{
    g->prov[0].owner.len = 0;
}
static void g_prov_missing(gen_t *g)
{
    g->prov_ptrs[0] = NULL;
}
static void g_prov_host_empty(gen_t *g)
{
    g->prov[1].host_uri = "";
}
static void g_prov_pem_bad(gen_t *g)
{
    g->prov[1].root_cert_pem = "not a certificate";
}
static void g_prov_counts(gen_t *g)
{
    g->prov[2].open_bid_count = 1;
}
static void g_prov_dup(gen_t *g)
{
    memcpy(g->prov_addr[0], g->prov_addr[1], KUMO_ADDRESS_BYTES);
}

static void gen_expect(const gen_t *g, int want, const char *name)
{
    kumo_test_store_t ts;
    assert_int_equal(kumo_test_store_open(&ts), 0);
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    assert_int_equal(kumo_test_kv_digest(&ts.kv, before), 0);
    assert_int_equal(ts.kv.savepoint_begin(ts.kv.ctx, NULL), 0);
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_genesis_apply(&ts.kv, &g->g, &err);
    if (rc == 0) {
        assert_int_equal(kumo_market_invariants_check(&ts.kv, &err), 0);
    }
    ts.kv.savepoint_rollback(ts.kv.ctx);
    assert_int_equal(kumo_test_kv_digest(&ts.kv, after), 0);
    kumo_test_store_close(&ts);
    if (rc != want) {
        fail_msg("%s: got %s (%s), want %s", name, kumo_err_name(rc), err.detail,
                 kumo_err_name(want));
    }
    assert_memory_equal(before, after, sizeof(before));
}

static void test_genesis_rejects_each_rule(void **state)
{
    (void)state;
    static const gen_case_t cases[] = {
        {"valid", g_none, 0},
        {"params missing", g_params_missing, KUMO_EEMPTY},
        {"params invalid", g_params_bad, KUMO_EINVAL},
        {"balance address 19 bytes", g_balance_addr_short, KUMO_EINVAL},
        {"balance entry missing", g_balance_missing, KUMO_EEMPTY},
        {"duplicate balance", g_balance_dup, KUMO_EDUPLICATE},
        {"supply overflows", g_supply_overflow, KUMO_EOVERFLOW},
        {"validator address 21 bytes", g_val_addr_long, KUMO_EINVAL},
        {"validator entry missing", g_val_missing, KUMO_EEMPTY},
        {"validator pubkey 31 bytes", g_val_pubkey_short, KUMO_EINVAL},
        {"validator pubkey 33 bytes", g_val_pubkey_long, KUMO_EINVAL},
        {"validator zero power", g_val_power_zero, KUMO_EINVAL},
        {"moniker at max", g_val_moniker_max, 0},
        {"moniker over max", g_val_moniker_over, KUMO_ELIMIT},
        {"duplicate validator", g_val_dup, KUMO_EDUPLICATE},
        {"provider owner empty", g_prov_owner_short, KUMO_EINVAL},
        {"provider entry missing", g_prov_missing, KUMO_EEMPTY},
        {"provider host empty", g_prov_host_empty, KUMO_EEMPTY},
        {"provider pem not a certificate", g_prov_pem_bad, KUMO_EINVAL},
        {"provider with counters", g_prov_counts, KUMO_EINVAL},
        {"duplicate provider", g_prov_dup, KUMO_EDUPLICATE},
    };
    gen_t *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        gen_build(g);
        cases[i].mutate(g);
        gen_expect(g, cases[i].want, cases[i].name);
    }
    free(g);
}

static void test_genesis_writes_state_and_needs_empty_kv(void **state)
{
    (void)state;
    gen_t *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    gen_build(g);
    kumo_test_store_t ts;
    assert_int_equal(kumo_test_store_open(&ts), 0);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_genesis_apply(&ts.kv, &g->g, &err), 0);
    Kumo__Global *gl = NULL;
    assert_int_equal(kumo_market_global_get(&ts.kv, &gl, &err), 0);
    kumo_bank_totals_t totals;
    assert_int_equal(kumo_bank_totals_get(&ts.kv, &totals, &err), 0);
    assert_int_equal(totals.supply, 1000 + 2000 + 3000);
    assert_int_equal(gl->next_bid_seq, 1);
    assert_int_equal(gl->escrow_total, 0);
    kumo_codec_free(&gl->base);
    Kumo__Params *p = NULL;
    assert_int_equal(kumo_market_params_get(&ts.kv, &p, &err), 0);
    assert_int_equal(p->reconfirmation_period, FX_PERIOD);
    kumo_codec_free(&p->base);
    bool op = false;
    assert_int_equal(kumo_market_validator_is_operator(&ts.kv, g->val_addr[2], &op, &err), 0);
    assert_true(op);
    Kumo__Provider *prov = NULL;
    assert_int_equal(kumo_market_provider_get(&ts.kv, g->prov_addr[1], &prov, &err), 0);
    assert_string_equal(prov->region, "us-east");
    kumo_codec_free(&prov->base);
    assert_int_equal(kumo_market_invariants_check(&ts.kv, &err), 0);
    /* A second genesis on a non-empty kv is refused. */
    assert_int_equal(kumo_market_genesis_apply(&ts.kv, &g->g, &err), KUMO_EEXIST);
    /* Params and Global are absent on an empty store. */
    kumo_test_store_close(&ts);
    assert_int_equal(kumo_test_store_open(&ts), 0);
    assert_int_equal(kumo_market_params_get(&ts.kv, &p, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_market_global_get(&ts.kv, &gl, &err), KUMO_ENOTFOUND);
    kumo_test_store_close(&ts);
    free(g);
}

/* List sizes at MAX are accepted and MAX+1 refused. */
static void test_genesis_list_limits(void **state)
{
    (void)state;
    size_t n = KUMO_GENESIS_ACCOUNT_COUNT_MAX + 1u;
    Kumo__GenesisBalance *bal = calloc(n, sizeof(*bal));
    Kumo__GenesisBalance **ptrs = calloc(n, sizeof(*ptrs));
    uint8_t(*addrs)[KUMO_ADDRESS_BYTES] = calloc(n, KUMO_ADDRESS_BYTES);
    assert_true(bal != NULL && ptrs != NULL && addrs != NULL);
    for (size_t i = 0; i < n; i++) {
        Kumo__GenesisBalance b = KUMO__GENESIS_BALANCE__INIT;
        bal[i] = b;
        kumo_be32_put(addrs[i], (uint32_t)i);
        bal[i].address.data = addrs[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = 1;
        ptrs[i] = &bal[i];
    }
    gen_t *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    gen_build(g);
    g->g.balances = ptrs;
    g->g.n_balances = n - 1;
    gen_expect(g, 0, "balances at max");
    g->g.n_balances = n;
    gen_expect(g, KUMO_ELIMIT, "balances over max");

    size_t nv = KUMO_GENESIS_VALIDATOR_COUNT_MAX + 1u;
    Kumo__Validator *val = calloc(nv, sizeof(*val));
    Kumo__Validator **vptrs = calloc(nv, sizeof(*vptrs));
    uint8_t pubkey[32] = {1};
    assert_true(val != NULL && vptrs != NULL);
    for (size_t i = 0; i < nv; i++) {
        Kumo__Validator v = KUMO__VALIDATOR__INIT;
        val[i] = v;
        val[i].address.data = addrs[i];
        val[i].address.len = KUMO_ADDRESS_BYTES;
        val[i].pubkey.data = pubkey;
        val[i].pubkey.len = sizeof(pubkey);
        val[i].power = 1;
        vptrs[i] = &val[i];
    }
    gen_build(g);
    g->g.validators = vptrs;
    g->g.n_validators = nv - 1;
    gen_expect(g, 0, "validators at max");
    g->g.n_validators = nv;
    gen_expect(g, KUMO_ELIMIT, "validators over max");
    free(val);
    free(vptrs);
    free(g);
    free(bal);
    free(ptrs);
    free(addrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_moves_exact_amounts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_send_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fee_collect_moves_to_pool, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_account_absent_reads_zero_and_zero_is_not_stored,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_account_is_ecorrupt, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_validator_is_operator, fx_setup, fx_teardown),
        cmocka_unit_test(test_params_validate_each_rule),
        cmocka_unit_test(test_genesis_rejects_each_rule),
        cmocka_unit_test(test_genesis_writes_state_and_needs_empty_kv),
        cmocka_unit_test(test_genesis_list_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
