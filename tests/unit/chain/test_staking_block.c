/*
 * test_staking_block.c - staking through the chain's block path: a CreateValidator tx joins
 * the active set, makes its operator a facilitator and joins the consensus set two heights
 * later through the block's valset updates; duplicate-vote evidence in a block slashes,
 * tombstones and removes the validator once; a staking rule violation is a failed tx
 * that changes nothing but its fee.
 */
#include "unit/chain/chain_fixture.h"

static void
create_msg(chain_fx_t *fx, int key, uint64_t stake, Kumo__MsgCreateValidator *m, Kumo__Msg *msg)
{
    kumo__msg_create_validator__init(m);
    m->consensus_pubkey.data = fx->keys[key].pubkey;
    m->consensus_pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    m->moniker = (char *)(uintptr_t) "joiner";
    m->self_stake = stake;
    m->commission_max_rate_ppm = 100000;
    kumo__msg__init(msg);
    msg->sum_case = KUMO__MSG__SUM_CREATE_VALIDATOR;
    msg->create_validator = m;
}

static void block1(chain_fx_t *fx, int k, const Kumo__Msg *msg, kumo_chain_block_out_t *out)
{
    kumo_buf_t tx;
    fx_tx(fx, k, FX_FEE, msg, &tx);
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
    fx_block(fx, txs, 1, out);
    kumo_buf_free(&tx);
}

/* Key 1 operates a validator signing with key 3's consensus key, power 5. */
static void join(chain_fx_t *fx)
{
    Kumo__MsgCreateValidator m;
    Kumo__Msg msg;
    create_msg(fx, 3, 5000, &m, &msg);
    kumo_chain_block_out_t out;
    block1(fx, 1, &msg, &out);
    assert_int_equal(out.results[0].code, 0);
    assert_int_equal(out.valset_update_count, 1);
    assert_memory_equal(out.valset_updates[0].pubkey, fx->keys[3].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(out.valset_updates[0].power, 5);
    kumo_chain_block_out_free(&out);
}

static void test_create_validator_joins_two_heights_later(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    bool active = true;
    assert_int_equal(kumo_staking_operator_is_active(&fx.ts.kv, fx.addr[1], &active, NULL), 0);
    assert_false(active);
    join(&fx); /* block 1 */
    assert_int_equal(kumo_staking_operator_is_active(&fx.ts.kv, fx.addr[1], &active, NULL), 0);
    assert_true(active);
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_chain_valset_get(&fx.ts.kv, 2, &vs, NULL), 0);
    assert_int_equal(kumo_consensus_valset_find(&vs, fx.keys[3].pubkey), -1);
    assert_int_equal(kumo_chain_valset_get(&fx.ts.kv, 3, &vs, NULL), 0);
    assert_true(kumo_consensus_valset_find(&vs, fx.keys[3].pubkey) >= 0);
    fx_close(&fx);
}

static void test_evidence_tombstones_once(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    join(&fx); /* block 1: two validators */
    kumo_chain_evidence_t ev = {.height = 1, .round = 0};
    memcpy(ev.pubkey, fx.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    kumo_chain_block_out_t out;
    for (int round = 0; round < 2; round++) {
        kumo_chain_block_in_t in = {
            .chain_id = FX_CHAIN_ID,
            .height = fx.height + 1,
            .prev_app_hash = fx.app_hash,
            .evidence = &ev,
            .evidence_count = 1,
        };
        kumo_err_ctx_t err = {0};
        assert_int_equal(kumo_chain_block_apply(&fx.ts.kv, &in, &out, &err), 0);
        /* The first time the genesis validator leaves the set; the second changes nothing. */
        assert_int_equal(out.valset_update_count, round == 0 ? 1u : 0u);
        if (round == 0) {
            assert_memory_equal(out.valset_updates[0].pubkey, fx.keys[0].pubkey,
                                KUMO_CRYPTO_PUBKEY_BYTES);
            assert_int_equal(out.valset_updates[0].power, 0);
        }
        fx.height++;
        memcpy(fx.app_hash, out.app_hash, KUMO_CHAIN_HASH_BYTES);
        assert_int_equal(kumo_store_block_commit(fx.ts.store, fx.height, fx.app_hash, NULL), 0);
        assert_int_equal(kumo_store_block_begin(fx.ts.store, &fx.ts.kv, NULL), 0);
        kumo_chain_block_out_free(&out);
    }
    Kumo__StakingValidator *v = NULL;
    assert_int_equal(kumo_staking_validator_get(&fx.ts.kv, fx.addr[0], &v, NULL), 0);
    assert_true(v->tombstoned && v->jailed);
    assert_int_equal(v->tokens, 1000 - 50); /* 5 % once */
    kumo_codec_free(&v->base);
    bool active = true;
    assert_int_equal(kumo_staking_operator_is_active(&fx.ts.kv, fx.addr[0], &active, NULL), 0);
    assert_false(active);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_staking_invariants_check(&fx.ts.kv, &err), 0);
    assert_int_equal(kumo_market_invariants_check(&fx.ts.kv, &err), 0);
    fx_close(&fx);
}

static void test_staking_rule_violation_is_a_failed_tx(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    Kumo__MsgDelegate d = KUMO__MSG_DELEGATE__INIT;
    d.validator.data = fx.addr[4]; /* no validator */
    d.validator.len = KUMO_ADDRESS_BYTES;
    d.amount = 10;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_DELEGATE;
    msg.delegate = &d;
    uint64_t before = fx_balance(&fx, 2);
    kumo_chain_block_out_t out;
    block1(&fx, 2, &msg, &out);
    assert_int_equal(out.results[0].code, KUMO_ENOTFOUND);
    assert_int_equal(fx_balance(&fx, 2), before - FX_FEE);
    kumo_chain_block_out_free(&out);
    /* Stateless rules are checked before the fee: a zero amount is rejected outright. */
    d.amount = 0;
    block1(&fx, 2, &msg, &out);
    assert_int_equal(out.results[0].code, KUMO_EINVAL);
    assert_int_equal(fx_balance(&fx, 2), before - FX_FEE);
    kumo_chain_block_out_free(&out);
    fx_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validator_joins_two_heights_later),
        cmocka_unit_test(test_evidence_tombstones_once),
        cmocka_unit_test(test_staking_rule_violation_is_a_failed_tx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
