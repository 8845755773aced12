/*
 * staking_fixture.h - a staking state on a real LMDB store: bank totals, funded accounts,
 * small params (window 10, unbonding 5 blocks, power_reduction 100), msg builders, and block
 * steps that check every invariant (staking and the supply sum) after each.
 */
#ifndef KUMO_TEST_STAKING_FIXTURE_H
#define KUMO_TEST_STAKING_FIXTURE_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bank/bank.h"
#include "helpers/teststore.h"
#include "staking/staking.h"

#define SF_ACTORS  6
#define SF_BALANCE 1000000u
#define SF_UPDATES 64

typedef struct sf {
    kumo_test_store_t ts;
    kumo_buf_t scratch;
    uint8_t addr[SF_ACTORS][KUMO_ADDRESS_BYTES];
    uint8_t key[SF_ACTORS][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t height;
    uint64_t supply;
    kumo_staking_update_t updates[SF_UPDATES];
    size_t update_count;
} sf_t;

static inline void sf_params(Kumo__StakingParams *p)
{
    kumo_staking_params_default(p);
    p->max_validators = 3;
    p->unbonding_blocks = 5;
    p->signed_blocks_window = 10;
    p->min_signed_per_window_ppm = 500000;
    p->downtime_jail_blocks = 3;
    p->slash_fraction_double_sign_ppm = 100000; /* 10 % */
    p->slash_fraction_downtime_ppm = 10000;     /* 1 % */
    p->inflation_ppm = 0;
    p->blocks_per_year = 100;
    p->min_self_stake = 100;
    p->power_reduction = 100;
    p->max_entries = 3;
    p->commission_change_blocks = 10;
}

static inline void sf_check(sf_t *fx)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_staking_invariants_check(&fx->ts.kv, &err);
    if (rc != 0) {
        fail_msg("staking invariants: %s (%s)", kumo_err_name(rc), err.detail);
    }
    /* The supply moves only by what was minted and burned; every ukumo is in some balance or
     * the fee pool. */
    kumo_bank_totals_t t;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, NULL), 0);
    Kumo__StakingGlobal *g = NULL;
    assert_int_equal(kumo_staking_global_get(&fx->ts.kv, &g, NULL), 0);
    assert_true(t.supply == fx->supply + g->minted_total - g->burned_total);
    kumo_codec_free(&g->base);
}

static inline uint64_t sf_balance(sf_t *fx, const uint8_t *addr)
{
    uint64_t v = 0;
    assert_int_equal(kumo_bank_balance_get(&fx->ts.kv, addr, &v, NULL), 0);
    return v;
}

static inline int sf_setup_with(void **state, Kumo__Validator *const *vals, size_t n)
{
    sf_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(kumo_test_store_open(&fx->ts), 0);
    kumo_buf_init(&fx->scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    for (int i = 0; i < SF_ACTORS; i++) {
        memset(fx->addr[i], 0x10 + i, KUMO_ADDRESS_BYTES);
        memset(fx->key[i], 0x80 + i, KUMO_CRYPTO_PUBKEY_BYTES);
    }
    kumo_bank_totals_t t = {.supply = SF_ACTORS * (uint64_t)SF_BALANCE};
    assert_int_equal(kumo_bank_totals_put(&fx->ts.kv, &t, NULL), 0);
    for (int i = 0; i < SF_ACTORS; i++) {
        assert_int_equal(
            kumo_bank_balance_add(&fx->ts.kv, &fx->scratch, fx->addr[i], SF_BALANCE, NULL), 0);
    }
    Kumo__StakingParams p;
    sf_params(&p);
    kumo_err_ctx_t err = {0};
    int rc = kumo_staking_genesis_apply(&fx->ts.kv, &p, vals, n, &err);
    if (rc != 0) {
        fail_msg("genesis: %s (%s)", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, NULL), 0);
    fx->supply = t.supply;
    fx->height = 1;
    *state = fx;
    sf_check(fx);
    return 0;
}

static inline int sf_setup(void **state)
{
    return sf_setup_with(state, NULL, 0);
}

static inline int sf_teardown(void **state)
{
    sf_t *fx = *state;
    kumo_buf_free(&fx->scratch);
    kumo_test_store_close(&fx->ts);
    free(fx);
    return 0;
}

static inline int sf_apply(sf_t *fx, int who, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    kumo_staking_ctx_t ctx = {.kv = &fx->ts.kv, .height = fx->height, .signer = fx->addr[who]};
    return kumo_staking_msg_apply(&ctx, msg, err);
}

static inline void sf_ok(sf_t *fx, int who, const Kumo__Msg *msg)
{
    kumo_err_ctx_t err = {0};
    int rc = sf_apply(fx, who, msg, &err);
    if (rc != 0) {
        fail_msg("msg %d by %d at %" PRIu64 ": %s (%s)", (int)msg->sum_case, who, fx->height,
                 kumo_err_name(rc), err.detail);
    }
    sf_check(fx);
}

/* Msg builders: one static body per kind, overwritten by each call. */
static inline Kumo__Msg *sf_create(sf_t *fx, int who, uint64_t stake, uint64_t rate)
{
    static Kumo__Msg msg;
    static Kumo__MsgCreateValidator m;
    kumo__msg__init(&msg);
    kumo__msg_create_validator__init(&m);
    m.consensus_pubkey.data = fx->key[who];
    m.consensus_pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    m.moniker = (char *)(uintptr_t) "val";
    m.self_stake = stake;
    m.commission_rate_ppm = rate;
    m.commission_max_rate_ppm = 500000;
    m.commission_max_change_ppm = 100000;
    msg.sum_case = KUMO__MSG__SUM_CREATE_VALIDATOR;
    msg.create_validator = &m;
    return &msg;
}

static inline Kumo__Msg *sf_delegate(sf_t *fx, int val, uint64_t amount)
{
    static Kumo__Msg msg;
    static Kumo__MsgDelegate m;
    kumo__msg__init(&msg);
    kumo__msg_delegate__init(&m);
    m.validator.data = fx->addr[val];
    m.validator.len = KUMO_ADDRESS_BYTES;
    m.amount = amount;
    msg.sum_case = KUMO__MSG__SUM_DELEGATE;
    msg.delegate = &m;
    return &msg;
}

static inline Kumo__Msg *sf_undelegate(sf_t *fx, int val, uint64_t amount)
{
    static Kumo__Msg msg;
    static Kumo__MsgUndelegate m;
    kumo__msg__init(&msg);
    kumo__msg_undelegate__init(&m);
    m.validator.data = fx->addr[val];
    m.validator.len = KUMO_ADDRESS_BYTES;
    m.amount = amount;
    msg.sum_case = KUMO__MSG__SUM_UNDELEGATE;
    msg.undelegate = &m;
    return &msg;
}

static inline Kumo__Msg *sf_redelegate(sf_t *fx, int src, int dst, uint64_t amount)
{
    static Kumo__Msg msg;
    static Kumo__MsgRedelegate m;
    kumo__msg__init(&msg);
    kumo__msg_redelegate__init(&m);
    m.src_validator.data = fx->addr[src];
    m.src_validator.len = KUMO_ADDRESS_BYTES;
    m.dst_validator.data = fx->addr[dst];
    m.dst_validator.len = KUMO_ADDRESS_BYTES;
    m.amount = amount;
    msg.sum_case = KUMO__MSG__SUM_REDELEGATE;
    msg.redelegate = &m;
    return &msg;
}

static inline Kumo__Msg *sf_edit(uint64_t rate)
{
    static Kumo__Msg msg;
    static Kumo__MsgEditValidator m;
    kumo__msg__init(&msg);
    kumo__msg_edit_validator__init(&m);
    m.set_commission = true;
    m.commission_rate_ppm = rate;
    msg.sum_case = KUMO__MSG__SUM_EDIT_VALIDATOR;
    msg.edit_validator = &m;
    return &msg;
}

static inline Kumo__Msg *sf_unjail(void)
{
    static Kumo__Msg msg;
    static Kumo__MsgUnjail m;
    kumo__msg__init(&msg);
    kumo__msg_unjail__init(&m);
    msg.sum_case = KUMO__MSG__SUM_UNJAIL;
    msg.unjail = &m;
    return &msg;
}

static inline Kumo__Msg *sf_withdraw(sf_t *fx, int val)
{
    static Kumo__Msg msg;
    static Kumo__MsgWithdrawRewards m;
    kumo__msg__init(&msg);
    kumo__msg_withdraw_rewards__init(&m);
    m.validator.data = fx->addr[val];
    m.validator.len = KUMO_ADDRESS_BYTES;
    msg.sum_case = KUMO__MSG__SUM_WITHDRAW_REWARDS;
    msg.withdraw_rewards = &m;
    return &msg;
}

static inline int sf_update_cb(void *cb_ctx, const kumo_staking_update_t *u, kumo_err_ctx_t *err)
{
    (void)err;
    sf_t *fx = cb_ctx;
    assert_true(fx->update_count < SF_UPDATES);
    fx->updates[fx->update_count++] = *u;
    return 0;
}

/* Runs begin-block (signers: bit i of signed_mask for validator i among `who`) and end-block
 * at fx->height, then advances the height. */
static inline void sf_block(sf_t *fx,
                            const int *who,
                            size_t n,
                            uint32_t signed_mask,
                            const kumo_staking_evidence_t *ev,
                            size_t ev_count)
{
    kumo_staking_signer_t signers[SF_ACTORS];
    for (size_t i = 0; i < n; i++) {
        memcpy(signers[i].pubkey, fx->key[who[i]], KUMO_CRYPTO_PUBKEY_BYTES);
        signers[i].power = 10;
        signers[i].signed_block = (signed_mask >> i) & 1u;
    }
    kumo_staking_begin_t in = {.height = fx->height,
                               .signers = signers,
                               .signer_count = n,
                               .evidence = ev,
                               .evidence_count = ev_count};
    kumo_err_ctx_t err = {0};
    int rc = kumo_staking_block_begin(&fx->ts.kv, &in, &err);
    if (rc != 0) {
        fail_msg("begin %" PRIu64 ": %s (%s)", fx->height, kumo_err_name(rc), err.detail);
    }
    fx->update_count = 0;
    rc = kumo_staking_block_end(&fx->ts.kv, fx->height, sf_update_cb, fx, &err);
    if (rc != 0) {
        fail_msg("end %" PRIu64 ": %s (%s)", fx->height, kumo_err_name(rc), err.detail);
    }
    sf_check(fx);
    fx->height++;
}

static inline Kumo__StakingValidator *sf_val(sf_t *fx, int who)
{
    Kumo__StakingValidator *v = NULL;
    assert_int_equal(kumo_staking_validator_get(&fx->ts.kv, fx->addr[who], &v, NULL), 0);
    return v;
}

static inline void sf_digest(sf_t *fx, uint8_t out[KUMO_TEST_KV_DIGEST_BYTES])
{
    assert_int_equal(kumo_test_kv_digest(&fx->ts.kv, out), 0);
}

#endif
