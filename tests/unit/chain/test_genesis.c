/*
 * test_genesis.c - proves genesis JSON parsing: a minimal file gets default params, a partial
 * params object (market or staking) is completed from the defaults, and every malformed input (bad
 * JSON, unknown key, duplicate key, wrong type, empty or long chain id, bad address, invalid
 * params, size over the limit) is refused with its code; applying a genesis gives the same app hash
 * every time.
 */
#include "unit/chain/chain_fixture.h"

#include <stdio.h>

#define GEN_ADDR "kumo1qypqxpqpqgpsgqgzqvzqzqsrqsqsyqcy843m6q"

static int parse_text(const char *text, Kumo__Genesis **out, kumo_err_ctx_t *err)
{
    return kumo_chain_genesis_parse(kumo_bytes_make(text, strlen(text)), out, err);
}

static void test_minimal_genesis_gets_default_params(void **state)
{
    (void)state;
    Kumo__Genesis *g = NULL;
    kumo_err_ctx_t err = {0};
    int rc = parse_text("{\"chain_id\":\"kumo-1\"}", &g, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    Kumo__Params def = KUMO__PARAMS__INIT;
    kumo_market_params_default(&def);
    assert_string_equal(g->chain_id, "kumo-1");
    assert_non_null(g->params);
    assert_int_equal(g->params->reconfirmation_period, def.reconfirmation_period);
    assert_int_equal(g->params->max_bids_per_order, def.max_bids_per_order);
    kumo_codec_free(&g->base);
}

static void test_partial_params_are_completed(void **state)
{
    (void)state;
    Kumo__Genesis *g = NULL;
    kumo_err_ctx_t err = {0};
    int rc = parse_text("{\"chain_id\":\"kumo-1\",\"params\":{\"reconfirmation_period\":\"7\"},"
                        "\"balances\":[{\"address\":\"" GEN_ADDR "\",\"amount\":\"500\"}]}",
                        &g, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    Kumo__Params def = KUMO__PARAMS__INIT;
    kumo_market_params_default(&def);
    assert_int_equal(g->params->reconfirmation_period, 7);
    assert_int_equal(g->params->min_fee, def.min_fee);
    assert_int_equal(g->n_balances, 1);
    assert_int_equal(g->balances[0]->amount, 500);
    kumo_codec_free(&g->base);
}

static void test_partial_staking_params_are_completed(void **state)
{
    (void)state;
    Kumo__Genesis *g = NULL;
    kumo_err_ctx_t err = {0};
    int rc = parse_text("{\"chain_id\":\"kumo-1\",\"staking_params\":{\"signed_blocks_window\":"
                        "\"20\"}}",
                        &g, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    Kumo__StakingParams def = KUMO__STAKING_PARAMS__INIT;
    kumo_staking_params_default(&def);
    assert_non_null(g->staking_params);
    assert_int_equal(g->staking_params->signed_blocks_window, 20);
    assert_int_equal(g->staking_params->unbonding_blocks, def.unbonding_blocks);
    assert_int_equal(g->staking_params->max_validators, def.max_validators);
    kumo_codec_free(&g->base);
    /* Absent (or null): no object, staking's defaults apply at genesis. */
    rc = parse_text("{\"chain_id\":\"kumo-1\",\"staking_params\":null}", &g, &err);
    assert_int_equal(rc, 0);
    assert_null(g->staking_params);
    kumo_codec_free(&g->base);
}

static void test_bad_genesis_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        int want;
    } cases[] = {
        {"not JSON", "{chain_id:", KUMO_EDECODE},
        {"not an object", "[1,2]", KUMO_EDECODE},
        {"unknown key", "{\"chain_id\":\"k\",\"bogus\":1}", KUMO_EDECODE},
        {"duplicate key", "{\"chain_id\":\"k\",\"chain_id\":\"j\"}", KUMO_EDECODE},
        {"params not an object", "{\"chain_id\":\"k\",\"params\":3}", KUMO_EDECODE},
        {"staking params not an object", "{\"chain_id\":\"k\",\"staking_params\":[]}",
         KUMO_EDECODE},
        {"zero signed blocks window",
         "{\"chain_id\":\"k\",\"staking_params\":{\"signed_blocks_window\":\"0\"}}", KUMO_EINVAL},
        {"wrong type", "{\"chain_id\":5}", KUMO_EDECODE},
        {"empty chain id", "{\"chain_id\":\"\"}", KUMO_EINVAL},
        {"chain id 65 bytes",
         "{\"chain_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         KUMO_EINVAL},
        {"bad address",
         "{\"chain_id\":\"k\",\"balances\":[{\"address\":\"kumo1zzz\",\"amount\":\"1\"}]}",
         KUMO_EDECODE},
        {"negative amount",
         "{\"chain_id\":\"k\",\"balances\":[{\"address\":\"" GEN_ADDR "\",\"amount\":-1}]}",
         KUMO_EDECODE},
        {"zero reconfirmation period",
         "{\"chain_id\":\"k\",\"params\":{\"reconfirmation_period\":\"0\"}}", KUMO_EINVAL},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        Kumo__Genesis *g = NULL;
        kumo_err_ctx_t err = {0};
        int rc = parse_text(cases[i].text, &g, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s), want %s", cases[i].name, kumo_err_name(rc), err.detail,
                     kumo_err_name(cases[i].want));
        }
        assert_null(g);
    }
}

static void test_chain_id_of_64_bytes_is_accepted(void **state)
{
    (void)state;
    char text[128];
    (void)snprintf(text, sizeof(text), "{\"chain_id\":\"%064d\"}", 0);
    Kumo__Genesis *g = NULL;
    assert_int_equal(parse_text(text, &g, NULL), 0);
    kumo_codec_free(&g->base);
}

static void test_oversized_genesis_is_refused(void **state)
{
    (void)state;
    size_t n = KUMO_GENESIS_BYTES_MAX + 1;
    char *big = calloc(1, n);
    assert_non_null(big);
    memset(big, ' ', n);
    Kumo__Genesis *g = NULL;
    assert_int_equal(kumo_chain_genesis_parse(kumo_bytes_make(big, n), &g, NULL), KUMO_ELIMIT);
    free(big);
}

static void test_genesis_app_hash_is_deterministic(void **state)
{
    (void)state;
    chain_fx_t a;
    chain_fx_t b;
    fx_open(&a, NULL);
    fx_open(&b, NULL);
    assert_memory_equal(a.app_hash, b.app_hash, KUMO_CHAIN_HASH_BYTES);
    fx_close(&a);
    fx_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_genesis_gets_default_params),
        cmocka_unit_test(test_partial_params_are_completed),
        cmocka_unit_test(test_partial_staking_params_are_completed),
        cmocka_unit_test(test_bad_genesis_is_refused),
        cmocka_unit_test(test_chain_id_of_64_bytes_is_accepted),
        cmocka_unit_test(test_oversized_genesis_is_refused),
        cmocka_unit_test(test_genesis_app_hash_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
