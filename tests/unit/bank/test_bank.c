/*
 * test_bank.c - proves the bank: balances add and subtract exactly, absent accounts read as
 * zero, emptied accounts disappear, transfers, mint and burn move the supply by exactly what
 * they create or destroy, the fee pool fills and empties; every refused change (short funds,
 * overflow, supply ceiling, corrupt stored bytes, missing totals) returns its own code and
 * changes no state. Runs on a real LMDB store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bank/bank.h"
#include "helpers/teststore.h"

typedef struct bfx {
    kumo_test_store_t ts;
    kumo_buf_t scratch;
    uint8_t a[KUMO_ADDRESS_BYTES];
    uint8_t b[KUMO_ADDRESS_BYTES];
} bfx_t;

#define BFX_SUPPLY 1000000u

static int setup(void **state)
{
    bfx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(kumo_test_store_open(&fx->ts), 0);
    kumo_buf_init(&fx->scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    memset(fx->a, 0xa1, sizeof(fx->a));
    memset(fx->b, 0xb2, sizeof(fx->b));
    kumo_bank_totals_t t = {.supply = BFX_SUPPLY, .fee_pool = 0};
    assert_int_equal(kumo_bank_totals_put(&fx->ts.kv, &t, NULL), 0);
    assert_int_equal(kumo_bank_balance_add(&fx->ts.kv, &fx->scratch, fx->a, BFX_SUPPLY, NULL), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    bfx_t *fx = *state;
    kumo_buf_free(&fx->scratch);
    kumo_test_store_close(&fx->ts);
    free(fx);
    return 0;
}

static uint64_t balance(bfx_t *fx, const uint8_t *addr)
{
    uint64_t v = 0;
    assert_int_equal(kumo_bank_balance_get(&fx->ts.kv, addr, &v, NULL), 0);
    return v;
}

static kumo_bank_totals_t totals(bfx_t *fx)
{
    kumo_bank_totals_t t;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, NULL), 0);
    return t;
}

static void test_transfer_moves_exact_amounts(void **state)
{
    bfx_t *fx = *state;
    assert_int_equal(kumo_bank_transfer(&fx->ts.kv, &fx->scratch, fx->a, fx->b, 1234, NULL), 0);
    assert_int_equal(balance(fx, fx->a), BFX_SUPPLY - 1234);
    assert_int_equal(balance(fx, fx->b), 1234);
    assert_int_equal(totals(fx).supply, BFX_SUPPLY);
    /* The whole balance may go; the emptied account is deleted and reads back as zero. */
    assert_int_equal(kumo_bank_transfer(&fx->ts.kv, &fx->scratch, fx->b, fx->a, 1234, NULL), 0);
    size_t count = 0;
    assert_int_equal(kumo_test_kv_count(&fx->ts.kv, &count), 0);
    assert_int_equal(count, 2); /* a's account and the totals */
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->b, &acct, NULL), 0);
    assert_int_equal(acct->balance, 0);
    assert_int_equal(acct->address.len, KUMO_ADDRESS_BYTES);
    assert_memory_equal(acct->address.data, fx->b, KUMO_ADDRESS_BYTES);
    kumo_codec_free(&acct->base);
}

static void test_account_put_keeps_sequence_and_deletes_empty(void **state)
{
    bfx_t *fx = *state;
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->b, &acct, NULL), 0);
    acct->sequence = 7;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, acct, NULL), 0);
    /* Patching the balance keeps the other fields. */
    assert_int_equal(kumo_bank_balance_add(&fx->ts.kv, &fx->scratch, fx->b, 5, NULL), 0);
    kumo_codec_free(&acct->base);
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->b, &acct, NULL), 0);
    assert_int_equal(acct->sequence, 7);
    assert_int_equal(acct->balance, 5);
    acct->sequence = 0;
    acct->balance = 0;
    assert_int_equal(kumo_bank_account_put(&fx->ts.kv, acct, NULL), 0);
    kumo_codec_free(&acct->base);
    size_t count = 0;
    assert_int_equal(kumo_test_kv_count(&fx->ts.kv, &count), 0);
    assert_int_equal(count, 2);
}

static void test_mint_burn_move_supply(void **state)
{
    bfx_t *fx = *state;
    assert_int_equal(kumo_bank_mint(&fx->ts.kv, &fx->scratch, fx->b, 500, NULL), 0);
    assert_int_equal(balance(fx, fx->b), 500);
    assert_int_equal(totals(fx).supply, BFX_SUPPLY + 500);
    assert_int_equal(kumo_bank_burn(&fx->ts.kv, &fx->scratch, fx->b, 200, NULL), 0);
    assert_int_equal(balance(fx, fx->b), 300);
    assert_int_equal(totals(fx).supply, BFX_SUPPLY + 300);
}

static void test_fee_pool_fills_and_empties(void **state)
{
    bfx_t *fx = *state;
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->a, 40, NULL), 0);
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->a, 60, NULL), 0);
    assert_int_equal(totals(fx).fee_pool, 100);
    assert_int_equal(balance(fx, fx->a), BFX_SUPPLY - 100);
    uint64_t took = 0;
    assert_int_equal(kumo_bank_fee_pool_take(&fx->ts.kv, &fx->scratch, fx->b, &took, NULL), 0);
    assert_int_equal(took, 100);
    assert_int_equal(totals(fx).fee_pool, 0);
    assert_int_equal(balance(fx, fx->b), 100);
    assert_int_equal(totals(fx).supply, BFX_SUPPLY);
    /* An empty pool moves nothing. */
    assert_int_equal(kumo_bank_fee_pool_take(&fx->ts.kv, &fx->scratch, fx->b, &took, NULL), 0);
    assert_int_equal(took, 0);
}

static void test_module_address_is_stable_and_distinct(void **state)
{
    (void)state;
    uint8_t x[KUMO_ADDRESS_BYTES];
    uint8_t y[KUMO_ADDRESS_BYTES];
    uint8_t z[KUMO_ADDRESS_BYTES];
    kumo_bank_module_address("bonded", x);
    kumo_bank_module_address("bonded", y);
    kumo_bank_module_address("rewards", z);
    assert_memory_equal(x, y, sizeof(x));
    assert_memory_not_equal(x, z, sizeof(x));
}

/* ---- refusals: each its own code, no state change ------------------------------------------ */

typedef int (*bad_fn)(bfx_t *fx, kumo_err_ctx_t *err);

static int bad_sub_short(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_balance_sub(&fx->ts.kv, &fx->scratch, fx->b, 1, err);
}
static int bad_transfer_short(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_transfer(&fx->ts.kv, &fx->scratch, fx->a, fx->b, BFX_SUPPLY + 1, err);
}
static int bad_add_overflow(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_balance_add(&fx->ts.kv, &fx->scratch, fx->a, UINT64_MAX, err);
}
static int bad_mint_past_ceiling(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_mint(&fx->ts.kv, &fx->scratch, fx->b, KUMO_SUPPLY_MAX, err);
}
static int bad_burn_short(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_burn(&fx->ts.kv, &fx->scratch, fx->b, 1, err);
}
static int bad_fee_short(bfx_t *fx, kumo_err_ctx_t *err)
{
    return kumo_bank_fee_collect(&fx->ts.kv, fx->b, 1, err);
}
static int bad_address_short(bfx_t *fx, kumo_err_ctx_t *err)
{
    ProtobufCBinaryData addr = {.len = KUMO_ADDRESS_BYTES - 1, .data = fx->a};
    return kumo_bank_address_validate(addr, "test", err);
}
static int bad_put_address(bfx_t *fx, kumo_err_ctx_t *err)
{
    Kumo__Account acct = KUMO__ACCOUNT__INIT;
    acct.address.data = fx->a;
    acct.address.len = KUMO_ADDRESS_BYTES + 1;
    acct.balance = 1;
    return kumo_bank_account_put(&fx->ts.kv, &acct, err);
}

typedef struct bad_case {
    const char *name;
    bad_fn fn;
    int want;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"sub short", bad_sub_short, KUMO_EFUNDS},
    {"transfer short", bad_transfer_short, KUMO_EFUNDS},
    {"add overflow", bad_add_overflow, KUMO_EOVERFLOW},
    {"mint past ceiling", bad_mint_past_ceiling, KUMO_EOVERFLOW},
    {"burn short", bad_burn_short, KUMO_EFUNDS},
    {"fee short", bad_fee_short, KUMO_EFUNDS},
    {"address short", bad_address_short, KUMO_EINVAL},
    {"put bad address", bad_put_address, KUMO_EINVAL},
};

static void test_refusals_change_nothing(void **state)
{
    bfx_t *fx = *state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        assert_int_equal(kumo_test_kv_digest(&fx->ts.kv, before), 0);
        kumo_err_ctx_t err = {0};
        int rc = bad_cases[i].fn(fx, &err);
        if (rc != bad_cases[i].want) {
            fail_msg("%s: got %d (%s), want %d", bad_cases[i].name, rc, err.detail,
                     bad_cases[i].want);
        }
        assert_int_equal(kumo_test_kv_digest(&fx->ts.kv, after), 0);
        assert_memory_equal(before, after, sizeof(before));
    }
}

static void test_corrupt_state_is_ecorrupt(void **state)
{
    bfx_t *fx = *state;
    uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES];
    kumo_bank_account_key(fx->b, key);
    /* An account stored under b's key that names a's address. */
    uint8_t wrong[2 + KUMO_ADDRESS_BYTES] = {(1u << 3) | 2u, KUMO_ADDRESS_BYTES};
    memcpy(wrong + 2, fx->a, KUMO_ADDRESS_BYTES);
    assert_int_equal(fx->ts.kv.put(fx->ts.kv.ctx, kumo_bytes_make(key, sizeof(key)),
                                   kumo_bytes_make(wrong, sizeof(wrong)), NULL),
                     0);
    uint64_t v = 0;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_bank_balance_get(&fx->ts.kv, fx->b, &v, &err), KUMO_ECORRUPT);
    assert_int_equal(kumo_bank_balance_add(&fx->ts.kv, &fx->scratch, fx->b, 1, &err),
                     KUMO_ECORRUPT);
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->b, &acct, &err), KUMO_ECORRUPT);
    /* Bytes that are no encoding at all. */
    memcpy(wrong + 2 + KUMO_ADDRESS_BYTES - 2, "\xff\xff", 2);
    uint8_t junk[2 + KUMO_ADDRESS_BYTES + 2];
    memcpy(junk, wrong, sizeof(wrong));
    memcpy(junk + 2, fx->b, KUMO_ADDRESS_BYTES);
    junk[sizeof(junk) - 2] = 0xff;
    junk[sizeof(junk) - 1] = 0xff;
    assert_int_equal(fx->ts.kv.put(fx->ts.kv.ctx, kumo_bytes_make(key, sizeof(key)),
                                   kumo_bytes_make(junk, sizeof(junk)), NULL),
                     0);
    assert_int_equal(kumo_bank_balance_get(&fx->ts.kv, fx->b, &v, &err), KUMO_ECORRUPT);
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->b, &acct, &err), KUMO_ECORRUPT);
    /* No totals: genesis was never applied. */
    const uint8_t tkey[1] = {KUMO_BANK_PREFIX_TOTALS};
    assert_int_equal(fx->ts.kv.del(fx->ts.kv.ctx, kumo_bytes_make(tkey, 1), NULL), 0);
    kumo_bank_totals_t t;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, &err), KUMO_ECORRUPT);
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->a, 1, &err), KUMO_ECORRUPT);
    assert_int_equal(kumo_bank_mint(&fx->ts.kv, &fx->scratch, fx->a, 1, &err), KUMO_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transfer_moves_exact_amounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_put_keeps_sequence_and_deletes_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mint_burn_move_supply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fee_pool_fills_and_empties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_address_is_stable_and_distinct, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_state_is_ecorrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
