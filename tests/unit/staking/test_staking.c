/*
 * test_staking.c - proves the staking state machine: every msg's effect and every rule's own
 * code with no state change; rewards pro rata minus commission through the accumulator; the
 * active set and its power updates; unbonding that returns after the period and stays
 * slashable; double signing slashes and tombstones once; downtime slashes and jails, and
 * unjail; redelegation; params ranges. Invariants (pools, shares, indexes, supply = genesis +
 * minted - burned) are checked after every msg and block.
 */
#include "unit/staking/staking_fixture.h"

enum {
    A,
    B,
    C,
    D,
    E,
    F
};

static void create(sf_t *fx, int who, uint64_t stake, uint64_t rate)
{
    sf_ok(fx, who, sf_create(fx, who, stake, rate));
}

/* ---- CreateValidator ------------------------------------------------------------------------ */

static void test_create_validator_bonds_and_joins_set(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 100000);
    assert_int_equal(sf_balance(fx, fx->addr[A]), SF_BALANCE - 1000);
    Kumo__StakingValidator *v = sf_val(fx, A);
    assert_int_equal(v->tokens, 1000);
    assert_int_equal(v->shares, 1000);
    kumo_codec_free(&v->base);
    bool active = true;
    assert_int_equal(kumo_staking_operator_is_active(&fx->ts.kv, fx->addr[A], &active, NULL), 0);
    assert_false(active);
    sf_block(fx, NULL, 0, 0, NULL, 0);
    assert_int_equal(fx->update_count, 1);
    assert_memory_equal(fx->updates[0].pubkey, fx->key[A], KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(fx->updates[0].power, 10); /* 1000 / power_reduction 100 */
    assert_int_equal(kumo_staking_operator_is_active(&fx->ts.kv, fx->addr[A], &active, NULL), 0);
    assert_true(active);
    /* Nothing changed: no update. */
    sf_block(fx, NULL, 0, 0, NULL, 0);
    assert_int_equal(fx->update_count, 0);
}

typedef struct bad {
    const char *name;
    void (*prep)(sf_t *fx);        /* state before; may be NULL */
    Kumo__Msg *(*build)(sf_t *fx); /* the refused msg */
    int who;
    int want;
} bad_t;

static void prep_a(sf_t *fx)
{
    create(fx, A, 1000, 0);
}
static void prep_ab_delegated(sf_t *fx)
{
    create(fx, A, 1000, 0);
    create(fx, B, 1000, 0);
    sf_ok(fx, C, sf_delegate(fx, A, 500));
}
static Kumo__Msg *b_create_again(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, A, 1000, 0);
    memset(fx->key[F], 0xee, KUMO_CRYPTO_PUBKEY_BYTES);
    m->create_validator->consensus_pubkey.data = fx->key[F];
    return m;
}
static Kumo__Msg *b_create_key_reused(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->consensus_pubkey.data = fx->key[A];
    return m;
}
static Kumo__Msg *b_create_stake_low(sf_t *fx)
{
    return sf_create(fx, B, 99, 0);
}
static Kumo__Msg *b_create_funds(sf_t *fx)
{
    return sf_create(fx, B, SF_BALANCE + 1, 0);
}
static Kumo__Msg *b_create_key_short(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->consensus_pubkey.len = 31;
    return m;
}
static Kumo__Msg *b_create_rate_over_max(sf_t *fx)
{
    return sf_create(fx, B, 1000, 600000);
}
static Kumo__Msg *b_create_max_over_ppm(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->commission_max_rate_ppm = KUMO_STAKING_PPM + 1;
    return m;
}
static Kumo__Msg *b_create_change_over_max(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->commission_max_change_ppm = 600000;
    return m;
}
static Kumo__Msg *b_create_moniker_empty(sf_t *fx)
{
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->moniker = (char *)(uintptr_t) "";
    return m;
}
static Kumo__Msg *b_create_moniker_long(sf_t *fx)
{
    static char name[KUMO_STAKING_MONIKER_BYTES_MAX + 2];
    memset(name, 'x', sizeof(name) - 1);
    Kumo__Msg *m = sf_create(fx, B, 1000, 0);
    m->create_validator->moniker = name;
    return m;
}
static Kumo__Msg *b_create_zero_stake(sf_t *fx)
{
    return sf_create(fx, B, 0, 0);
}
static Kumo__Msg *b_delegate_unknown(sf_t *fx)
{
    return sf_delegate(fx, D, 10);
}
static Kumo__Msg *b_delegate_funds(sf_t *fx)
{
    return sf_delegate(fx, A, SF_BALANCE + 1);
}
static Kumo__Msg *b_delegate_zero(sf_t *fx)
{
    return sf_delegate(fx, A, 0);
}
static Kumo__Msg *b_delegate_addr_short(sf_t *fx)
{
    Kumo__Msg *m = sf_delegate(fx, A, 10);
    m->delegate->validator.len = 19;
    return m;
}
static Kumo__Msg *b_undelegate_none(sf_t *fx)
{
    return sf_undelegate(fx, B, 10);
}
static Kumo__Msg *b_undelegate_too_much(sf_t *fx)
{
    return sf_undelegate(fx, A, 501);
}
static Kumo__Msg *b_undelegate_self_below_min(sf_t *fx)
{
    return sf_undelegate(fx, A, 950);
}
static Kumo__Msg *b_redelegate_same(sf_t *fx)
{
    return sf_redelegate(fx, A, A, 10);
}
static Kumo__Msg *b_redelegate_unknown_dst(sf_t *fx)
{
    return sf_redelegate(fx, A, D, 10);
}
static Kumo__Msg *b_redelegate_too_much(sf_t *fx)
{
    return sf_redelegate(fx, A, B, 501);
}
static Kumo__Msg *b_edit_not_operator(sf_t *fx)
{
    (void)fx;
    return sf_edit(0);
}
static Kumo__Msg *b_edit_over_max(sf_t *fx)
{
    (void)fx;
    return sf_edit(510000);
}
static Kumo__Msg *b_edit_change_too_big(sf_t *fx)
{
    (void)fx;
    return sf_edit(200000);
}
static Kumo__Msg *b_edit_too_early(sf_t *fx)
{
    (void)fx;
    return sf_edit(50000);
}
static Kumo__Msg *b_edit_nothing(sf_t *fx)
{
    (void)fx;
    Kumo__Msg *m = sf_edit(0);
    m->edit_validator->set_commission = false;
    return m;
}
static Kumo__Msg *b_unjail_not_jailed(sf_t *fx)
{
    (void)fx;
    return sf_unjail();
}
static Kumo__Msg *b_unjail_not_operator(sf_t *fx)
{
    (void)fx;
    return sf_unjail();
}
static Kumo__Msg *b_withdraw_nothing(sf_t *fx)
{
    return sf_withdraw(fx, B);
}

static const bad_t bad_cases[] = {
    {"create twice", prep_a, b_create_again, A, KUMO_EEXIST},
    {"create key reused", prep_a, b_create_key_reused, B, KUMO_EDUPLICATE},
    {"create stake below min", prep_a, b_create_stake_low, B, KUMO_EDEPOSIT},
    {"create funds", prep_a, b_create_funds, B, KUMO_EFUNDS},
    {"create key short", NULL, b_create_key_short, B, KUMO_EINVAL},
    {"create rate over max", NULL, b_create_rate_over_max, B, KUMO_EINVAL},
    {"create max over ppm", NULL, b_create_max_over_ppm, B, KUMO_EINVAL},
    {"create change over max", NULL, b_create_change_over_max, B, KUMO_EINVAL},
    {"create moniker empty", NULL, b_create_moniker_empty, B, KUMO_EEMPTY},
    {"create moniker long", NULL, b_create_moniker_long, B, KUMO_ELIMIT},
    {"create zero stake", NULL, b_create_zero_stake, B, KUMO_EINVAL},
    {"delegate unknown", prep_a, b_delegate_unknown, C, KUMO_ENOTFOUND},
    {"delegate funds", prep_a, b_delegate_funds, C, KUMO_EFUNDS},
    {"delegate zero", prep_a, b_delegate_zero, C, KUMO_EINVAL},
    {"delegate address short", prep_a, b_delegate_addr_short, C, KUMO_EINVAL},
    {"undelegate none", prep_ab_delegated, b_undelegate_none, C, KUMO_ENOTFOUND},
    {"undelegate too much", prep_ab_delegated, b_undelegate_too_much, C, KUMO_EFUNDS},
    {"undelegate self below min", prep_ab_delegated, b_undelegate_self_below_min, A, KUMO_EDEPOSIT},
    {"redelegate same", prep_ab_delegated, b_redelegate_same, C, KUMO_EINVAL},
    {"redelegate unknown dst", prep_ab_delegated, b_redelegate_unknown_dst, C, KUMO_ENOTFOUND},
    {"redelegate too much", prep_ab_delegated, b_redelegate_too_much, C, KUMO_EFUNDS},
    {"edit not operator", prep_a, b_edit_not_operator, C, KUMO_ENOTFOUND},
    {"edit over max", prep_a, b_edit_over_max, A, KUMO_EINVAL},
    {"edit change too big", prep_a, b_edit_change_too_big, A, KUMO_ELIMIT},
    {"edit too early", prep_a, b_edit_too_early, A, KUMO_ETOOEARLY},
    {"edit nothing", prep_a, b_edit_nothing, A, KUMO_EEMPTY},
    {"unjail not jailed", prep_a, b_unjail_not_jailed, A, KUMO_ESTATE},
    {"unjail not operator", prep_a, b_unjail_not_operator, C, KUMO_ENOTFOUND},
    {"withdraw nothing", prep_ab_delegated, b_withdraw_nothing, C, KUMO_ENOTFOUND},
};

static void test_refusals_have_own_code_and_change_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        void *st = NULL;
        sf_setup(&st);
        sf_t *fx = st;
        if (bad_cases[i].prep != NULL) {
            bad_cases[i].prep(fx);
        }
        fx->height = 5;
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        sf_digest(fx, before);
        kumo_err_ctx_t err = {0};
        int rc = sf_apply(fx, bad_cases[i].who, bad_cases[i].build(fx), &err);
        if (rc != bad_cases[i].want) {
            fail_msg("%s: got %s (%s), want %s", bad_cases[i].name, kumo_err_name(rc), err.detail,
                     kumo_err_name(bad_cases[i].want));
        }
        sf_digest(fx, after);
        if (memcmp(before, after, sizeof(before)) != 0) {
            fail_msg("%s: state changed", bad_cases[i].name);
        }
        sf_teardown(&st);
    }
}

/* ---- delegations and unbonding -------------------------------------------------------------- */

static void test_undelegated_stake_returns_after_unbonding(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    sf_ok(fx, C, sf_delegate(fx, A, 500));
    assert_int_equal(sf_balance(fx, fx->addr[C]), SF_BALANCE - 500);
    fx->height = 10;
    sf_ok(fx, C, sf_undelegate(fx, A, 200));
    Kumo__StakingValidator *v = sf_val(fx, A);
    assert_int_equal(v->tokens, 1300);
    kumo_codec_free(&v->base);
    /* Matures at 10 + 5: not before. */
    for (int h = 10; h < 15; h++) {
        fx->height = (uint64_t)h;
        sf_block(fx, NULL, 0, 0, NULL, 0);
        assert_int_equal(sf_balance(fx, fx->addr[C]), SF_BALANCE - 500);
    }
    sf_block(fx, NULL, 0, 0, NULL, 0); /* height 15 */
    assert_int_equal(sf_balance(fx, fx->addr[C]), SF_BALANCE - 300);
    /* The whole rest; the delegation disappears. */
    sf_ok(fx, C, sf_undelegate(fx, A, 300));
    Kumo__Delegation *d = NULL;
    assert_int_equal(kumo_staking_delegation_get(&fx->ts.kv, fx->addr[C], fx->addr[A], &d, NULL),
                     KUMO_ENOTFOUND);
    /* max_entries (3) maturing at once. */
    sf_ok(fx, D, sf_delegate(fx, A, 500));
    sf_ok(fx, D, sf_undelegate(fx, A, 10));
    sf_ok(fx, D, sf_undelegate(fx, A, 10));
    sf_ok(fx, D, sf_undelegate(fx, A, 10));
    kumo_err_ctx_t err = {0};
    assert_int_equal(sf_apply(fx, D, sf_undelegate(fx, A, 10), &err), KUMO_ELIMIT);
}

/* ---- rewards -------------------------------------------------------------------------------- */

static void test_rewards_pro_rata_minus_commission(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 100000); /* 10 % commission */
    create(fx, B, 1000, 0);
    sf_ok(fx, C, sf_delegate(fx, A, 3000)); /* A: 1000 self + 3000 */
    sf_block(fx, NULL, 0, 0, NULL, 0);
    /* Fees of 2000: both signed with equal power: 1000 each. */
    assert_int_equal(kumo_bank_fee_collect(&fx->ts.kv, fx->addr[E], 2000, NULL), 0);
    int who[] = {A, B};
    sf_block(fx, who, 2, 0x3, NULL, 0);
    uint64_t tokens = 0;
    uint64_t rewards = 0;
    assert_int_equal(kumo_staking_delegation_value(&fx->ts.kv, fx->addr[C], fx->addr[A], &tokens,
                                                   &rewards, NULL),
                     0);
    assert_int_equal(tokens, 3000);
    assert_int_equal(rewards, 675); /* (1000 - 100 commission) x 3/4 */
    Kumo__StakingValidator *v = sf_val(fx, A);
    assert_int_equal(v->commission, 100);
    kumo_codec_free(&v->base);
    /* The operator takes its self-delegation rewards and its commission at once. */
    uint64_t a0 = sf_balance(fx, fx->addr[A]);
    sf_ok(fx, A, sf_withdraw(fx, A));
    assert_int_equal(sf_balance(fx, fx->addr[A]), a0 + 225 + 100);
    uint64_t c0 = sf_balance(fx, fx->addr[C]);
    sf_ok(fx, C, sf_withdraw(fx, A));
    assert_int_equal(sf_balance(fx, fx->addr[C]), c0 + 675);
    /* Nothing left to take: a second withdraw pays nothing. */
    sf_ok(fx, C, sf_withdraw(fx, A));
    assert_int_equal(sf_balance(fx, fx->addr[C]), c0 + 675);
    /* A delegation made after the payment earns none of it. */
    sf_ok(fx, D, sf_delegate(fx, B, 1000));
    assert_int_equal(kumo_staking_delegation_value(&fx->ts.kv, fx->addr[D], fx->addr[B], &tokens,
                                                   &rewards, NULL),
                     0);
    assert_int_equal(rewards, 0);
}

static void test_inflation_mints_into_rewards(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    sf_block(fx, NULL, 0, 0, NULL, 0);
    /* Turn inflation on: 1 % a year of 100 blocks. */
    Kumo__StakingParams *p = NULL;
    assert_int_equal(kumo_staking_params_get(&fx->ts.kv, &p, NULL), 0);
    p->inflation_ppm = 10000;
    kumo_buf_t buf;
    kumo_buf_init(&buf, 1024);
    assert_int_equal(kumo_codec_pack(&p->base, &buf, NULL), 0);
    uint8_t k = 0x50;
    assert_int_equal(
        fx->ts.kv.put(fx->ts.kv.ctx, kumo_bytes_make(&k, 1), kumo_buf_bytes(&buf), NULL), 0);
    kumo_buf_free(&buf);
    kumo_codec_free(&p->base);
    kumo_bank_totals_t t0;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t0, NULL), 0);
    int who[] = {A};
    sf_block(fx, who, 1, 0x1, NULL, 0);
    kumo_bank_totals_t t1;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t1, NULL), 0);
    assert_int_equal(t1.supply - t0.supply, t0.supply / 100 / 100);
    uint64_t tokens = 0;
    uint64_t rewards = 0;
    assert_int_equal(kumo_staking_delegation_value(&fx->ts.kv, fx->addr[A], fx->addr[A], &tokens,
                                                   &rewards, NULL),
                     0);
    assert_int_equal(rewards, t1.supply - t0.supply);
}

/* ---- the active set ------------------------------------------------------------------------- */

static void test_active_set_is_top_n(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    create(fx, B, 2000, 0);
    create(fx, C, 3000, 0);
    create(fx, D, 500, 0);
    sf_block(fx, NULL, 0, 0, NULL, 0);
    assert_int_equal(fx->update_count, 3); /* max_validators 3: D is out */
    bool active = true;
    assert_int_equal(kumo_staking_operator_is_active(&fx->ts.kv, fx->addr[D], &active, NULL), 0);
    assert_false(active);
    /* D overtakes A: A leaves (power 0), D joins. */
    sf_ok(fx, E, sf_delegate(fx, D, 1000));
    sf_block(fx, NULL, 0, 0, NULL, 0);
    assert_int_equal(fx->update_count, 2);
    assert_memory_equal(fx->updates[0].pubkey, fx->key[A], KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(fx->updates[0].power, 0);
    assert_memory_equal(fx->updates[1].pubkey, fx->key[D], KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(fx->updates[1].power, 15);
    /* Below one unit of power: not in the set. */
    sf_ok(fx, F, sf_create(fx, F, 150, 0));
}

/* ---- slashing ------------------------------------------------------------------------------- */

static void test_double_sign_slashes_and_tombstones_once(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    create(fx, B, 1000, 0);
    sf_ok(fx, C, sf_delegate(fx, A, 1000));
    sf_block(fx, NULL, 0, 0, NULL, 0); /* 1 */
    fx->height = 3;
    sf_ok(fx, C, sf_undelegate(fx, A, 500)); /* after the infraction at 2: slashable */
    uint64_t supply0 = 0;
    kumo_bank_totals_t t;
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, NULL), 0);
    supply0 = t.supply;
    kumo_staking_evidence_t ev = {.height = 2};
    memcpy(ev.pubkey, fx->key[A], KUMO_CRYPTO_PUBKEY_BYTES);
    sf_block(fx, NULL, 0, 0, &ev, 1);
    Kumo__StakingValidator *v = sf_val(fx, A);
    assert_int_equal(v->tokens, 1500 - 150);
    assert_true(v->jailed && v->tombstoned);
    kumo_codec_free(&v->base);
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, NULL), 0);
    assert_int_equal(supply0 - t.supply, 150 + 50); /* bonded and unbonding both */
    assert_int_equal(fx->update_count, 1);
    assert_int_equal(fx->updates[0].power, 0);
    /* The same evidence again, or another for the tombstoned validator: nothing more. */
    sf_block(fx, NULL, 0, 0, &ev, 1);
    ev.height = 3;
    sf_block(fx, NULL, 0, 0, &ev, 1);
    v = sf_val(fx, A);
    assert_int_equal(v->tokens, 1350);
    kumo_codec_free(&v->base);
    /* Never again in the set, never delegated to, never unjailed. */
    kumo_err_ctx_t err = {0};
    fx->height += 100;
    assert_int_equal(sf_apply(fx, A, sf_unjail(), &err), KUMO_ETOMBSTONED);
    assert_int_equal(sf_apply(fx, D, sf_delegate(fx, A, 10), &err), KUMO_ETOMBSTONED);
    assert_int_equal(sf_apply(fx, C, sf_redelegate(fx, B, A, 10), &err), KUMO_ETOMBSTONED);
    /* Its delegators may still leave, with what is left. */
    sf_ok(fx, C, sf_undelegate(fx, A, 450));
}

static void test_downtime_jails_and_unjail(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    create(fx, B, 1000, 0);
    sf_block(fx, NULL, 0, 0, NULL, 0); /* 1 */
    int who[] = {A, B};
    /* A signs, B misses: window 10, at least half must be signed. */
    for (int i = 0; i < 5; i++) {
        sf_block(fx, who, 2, 0x1, NULL, 0);
    }
    Kumo__StakingValidator *v = sf_val(fx, B);
    assert_false(v->jailed);
    kumo_codec_free(&v->base);
    while (true) {
        sf_block(fx, who, 2, 0x1, NULL, 0);
        v = sf_val(fx, B);
        bool jailed = v->jailed;
        kumo_codec_free(&v->base);
        if (jailed) {
            break;
        }
        assert_true(fx->height < 20);
    }
    v = sf_val(fx, B);
    assert_int_equal(v->tokens, 990); /* 1 % */
    assert_false(v->tombstoned);
    uint64_t until = v->jailed_until;
    kumo_codec_free(&v->base);
    assert_int_equal(fx->update_count, 1);
    assert_int_equal(fx->updates[0].power, 0);
    kumo_err_ctx_t err = {0};
    assert_int_equal(sf_apply(fx, B, sf_unjail(), &err), KUMO_ETOOEARLY);
    fx->height = until;
    sf_ok(fx, B, sf_unjail());
    sf_block(fx, NULL, 0, 0, NULL, 0);
    assert_int_equal(fx->update_count, 1);
    assert_int_equal(fx->updates[0].power, 9);
}

static void test_redelegation_moves_and_stays_slashable(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 0);
    create(fx, B, 1000, 0);
    create(fx, C, 1000, 0);
    sf_ok(fx, D, sf_delegate(fx, A, 1000));
    fx->height = 3;
    sf_ok(fx, D, sf_redelegate(fx, A, B, 600));
    Kumo__StakingValidator *v = sf_val(fx, B);
    assert_int_equal(v->tokens, 1600);
    kumo_codec_free(&v->base);
    /* Redelegating onward from B while that stake matures: refused. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(sf_apply(fx, D, sf_redelegate(fx, B, C, 100), &err), KUMO_ESTATE);
    /* A double-signed at 2: the moved stake is cut at B too. */
    kumo_staking_evidence_t ev = {.height = 2};
    memcpy(ev.pubkey, fx->key[A], KUMO_CRYPTO_PUBKEY_BYTES);
    sf_block(fx, NULL, 0, 0, &ev, 1);
    v = sf_val(fx, B);
    assert_int_equal(v->tokens, 1540);
    kumo_codec_free(&v->base);
    /* After the entry matures the onward redelegation is allowed. */
    fx->height = 8;
    sf_block(fx, NULL, 0, 0, NULL, 0);
    sf_ok(fx, D, sf_redelegate(fx, B, C, 100));
}

static void test_edit_commission_once_per_period(void **state)
{
    sf_t *fx = *state;
    create(fx, A, 1000, 100000);
    fx->height = 11;
    sf_ok(fx, A, sf_edit(150000));
    Kumo__StakingValidator *v = sf_val(fx, A);
    assert_int_equal(v->commission_rate_ppm, 150000);
    kumo_codec_free(&v->base);
    kumo_err_ctx_t err = {0};
    fx->height = 20;
    assert_int_equal(sf_apply(fx, A, sf_edit(100000), &err), KUMO_ETOOEARLY);
    fx->height = 21;
    sf_ok(fx, A, sf_edit(100000));
}

/* ---- genesis and params --------------------------------------------------------------------- */

static void test_genesis_validators_are_bonded(void **state)
{
    (void)state;
    Kumo__Validator v1 = KUMO__VALIDATOR__INIT;
    Kumo__Validator v2 = KUMO__VALIDATOR__INIT;
    uint8_t a1[KUMO_ADDRESS_BYTES];
    uint8_t a2[KUMO_ADDRESS_BYTES];
    uint8_t k1[KUMO_CRYPTO_PUBKEY_BYTES];
    uint8_t k2[KUMO_CRYPTO_PUBKEY_BYTES];
    memset(a1, 0x71, sizeof(a1));
    memset(a2, 0x72, sizeof(a2));
    memset(k1, 0x61, sizeof(k1));
    memset(k2, 0x62, sizeof(k2));
    v1.address = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, a1};
    v1.pubkey = (ProtobufCBinaryData){KUMO_CRYPTO_PUBKEY_BYTES, k1};
    v1.power = 10;
    v2.address = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, a2};
    v2.pubkey = (ProtobufCBinaryData){KUMO_CRYPTO_PUBKEY_BYTES, k2};
    v2.power = 20;
    Kumo__Validator *vals[] = {&v1, &v2};
    void *st = NULL;
    sf_setup_with(&st, vals, 2);
    sf_t *fx = st;
    bool active = false;
    assert_int_equal(kumo_staking_operator_is_active(&fx->ts.kv, a2, &active, NULL), 0);
    assert_true(active);
    uint64_t tokens = 0;
    uint64_t rewards = 0;
    assert_int_equal(kumo_staking_delegation_value(&fx->ts.kv, a2, a2, &tokens, &rewards, NULL), 0);
    assert_int_equal(tokens, 2000);
    sf_teardown(&st);
    /* A reused key is refused. */
    kumo_test_store_t ts;
    assert_int_equal(kumo_test_store_open(&ts), 0);
    kumo_bank_totals_t t = {.supply = 0};
    assert_int_equal(kumo_bank_totals_put(&ts.kv, &t, NULL), 0);
    v2.pubkey.data = k1;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_staking_genesis_apply(&ts.kv, NULL, vals, 2, &err), KUMO_EDUPLICATE);
    kumo_test_store_close(&ts);
}

static void test_params_ranges(void **state)
{
    (void)state;
    Kumo__StakingParams p;
    kumo_staking_params_default(&p);
    assert_int_equal(kumo_staking_params_validate(&p, NULL), 0);
    assert_int_equal(kumo_staking_params_validate(NULL, NULL), KUMO_EEMPTY);
    struct {
        uint64_t *field;
        uint64_t bad;
        int want;
    } cases[] = {
        {&p.unbonding_blocks, 0, KUMO_EINVAL},
        {&p.signed_blocks_window, 0, KUMO_EINVAL},
        {&p.signed_blocks_window, KUMO_STAKING_WINDOW_MAX + 1, KUMO_ELIMIT},
        {&p.min_signed_per_window_ppm, KUMO_STAKING_PPM + 1, KUMO_ELIMIT},
        {&p.slash_fraction_double_sign_ppm, KUMO_STAKING_PPM + 1, KUMO_ELIMIT},
        {&p.slash_fraction_downtime_ppm, KUMO_STAKING_PPM + 1, KUMO_ELIMIT},
        {&p.inflation_ppm, KUMO_STAKING_PPM + 1, KUMO_ELIMIT},
        {&p.blocks_per_year, 0, KUMO_EINVAL},
        {&p.min_self_stake, 0, KUMO_EINVAL},
        {&p.power_reduction, KUMO_STAKING_POWER_REDUCTION_MIN - 1, KUMO_EINVAL},
        {&p.commission_change_blocks, 0, KUMO_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t keep = *cases[i].field;
        *cases[i].field = cases[i].bad;
        assert_int_equal(kumo_staking_params_validate(&p, NULL), cases[i].want);
        *cases[i].field = keep;
    }
    p.max_validators = 0;
    assert_int_equal(kumo_staking_params_validate(&p, NULL), KUMO_EINVAL);
    p.max_validators = KUMO_STAKING_VALIDATORS_MAX + 1;
    assert_int_equal(kumo_staking_params_validate(&p, NULL), KUMO_ELIMIT);
    p.max_validators = 1;
    p.max_entries = KUMO_STAKING_ENTRIES_MAX + 1;
    assert_int_equal(kumo_staking_params_validate(&p, NULL), KUMO_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_validator_bonds_and_joins_set, sf_setup,
                                        sf_teardown),
        cmocka_unit_test(test_refusals_have_own_code_and_change_nothing),
        cmocka_unit_test_setup_teardown(test_undelegated_stake_returns_after_unbonding, sf_setup,
                                        sf_teardown),
        cmocka_unit_test_setup_teardown(test_rewards_pro_rata_minus_commission, sf_setup,
                                        sf_teardown),
        cmocka_unit_test_setup_teardown(test_inflation_mints_into_rewards, sf_setup, sf_teardown),
        cmocka_unit_test_setup_teardown(test_active_set_is_top_n, sf_setup, sf_teardown),
        cmocka_unit_test_setup_teardown(test_double_sign_slashes_and_tombstones_once, sf_setup,
                                        sf_teardown),
        cmocka_unit_test_setup_teardown(test_downtime_jails_and_unjail, sf_setup, sf_teardown),
        cmocka_unit_test_setup_teardown(test_redelegation_moves_and_stays_slashable, sf_setup,
                                        sf_teardown),
        cmocka_unit_test_setup_teardown(test_edit_commission_once_per_period, sf_setup,
                                        sf_teardown),
        cmocka_unit_test(test_genesis_validators_are_bonded),
        cmocka_unit_test(test_params_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
