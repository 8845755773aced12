/*
 * test_staking_block.c - staking through the chain's block path: a CreateValidator tx joins
 * the active set, makes its operator a facilitator and joins the consensus set two heights
 * later through the block's valset updates; duplicate-vote evidence in a block slashes,
 * tombstones and removes the validator once; a staking rule violation is a failed tx
 * that changes nothing but its fee; keys the caller's own updates drive (test builds of the
 * node) are left to it, so the caller and staking never both remove one validator.
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

/* One block at the next height: the caller's updates and keys, and (evidence) duplicate-vote
 * evidence against the genesis validator (key 0) that makes staking remove it. Committed when
 * applied; returns the apply result and the number of updates recorded. */
static int caller_block(chain_fx_t *fx,
                        const kumo_chain_valset_update_t *updates,
                        uint32_t update_count,
                        const uint8_t (*keys)[KUMO_CRYPTO_PUBKEY_BYTES],
                        uint32_t key_count,
                        bool evidence,
                        uint32_t *recorded)
{
    kumo_chain_evidence_t ev = {.height = 1, .round = 0};
    memcpy(ev.pubkey, fx->keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    kumo_chain_block_in_t in = {
        .chain_id = FX_CHAIN_ID,
        .height = fx->height + 1,
        .prev_app_hash = fx->app_hash,
        .evidence = evidence ? &ev : NULL,
        .evidence_count = evidence ? 1u : 0u,
        .valset_updates = updates,
        .valset_update_count = update_count,
        .valset_caller_keys = keys,
        .valset_caller_key_count = key_count,
    };
    kumo_chain_block_out_t out;
    int rc = kumo_chain_block_apply(&fx->ts.kv, &in, &out, NULL);
    *recorded = rc == 0 ? out.valset_update_count : 0u;
    if (rc == 0) {
        fx->height++;
        memcpy(fx->app_hash, out.app_hash, KUMO_CHAIN_HASH_BYTES);
        kumo_chain_block_out_free(&out);
        assert_int_equal(kumo_store_block_commit(fx->ts.store, fx->height, fx->app_hash, NULL), 0);
        assert_int_equal(kumo_store_block_begin(fx->ts.store, &fx->ts.kv, NULL), 0);
    }
    return rc;
}

/* The caller (test builds of the node: $KUMO_TEST_VALSET) and staking both change the set: the
 * keys the caller names are left to it, so the two never both remove one validator. Each row
 * starts from two validators (key 0 of genesis, key 3 joined at block 1); a first block may
 * have the caller remove key 0, then the checked block. */
static void test_caller_keys_are_left_to_the_caller(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool caller_removed_before; /* a block where the caller removes key 0 (its key) */
        bool caller_removes;        /* the checked block: the caller removes key 0 ... */
        bool evidence;              /* ... and staking removes it (evidence) */
        bool caller_key;            /* the block names key 0 as the caller's */
        int want_rc;
        uint32_t want_recorded;
    } rows[] = {
        {"both remove key 0 in one block", false, true, true, false, KUMO_EDUPLICATE, 0},
        {"the same, key 0 the caller's", false, true, true, true, 0, 1},
        {"staking removes a key already gone", true, false, true, false, KUMO_ENOTFOUND, 0},
        {"the same, key 0 the caller's", true, false, true, true, 0, 0},
        {"staking alone removes key 0", false, false, true, false, 0, 1},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        chain_fx_t fx;
        fx_open(&fx, NULL);
        join(&fx);
        kumo_chain_valset_update_t removal = {.power = 0};
        memcpy(removal.pubkey, fx.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        uint8_t key0[1][KUMO_CRYPTO_PUBKEY_BYTES];
        memcpy(key0[0], fx.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        uint32_t recorded = 0;
        if (rows[i].caller_removed_before) {
            assert_int_equal(caller_block(&fx, &removal, 1, key0, 1, false, &recorded), 0);
        }
        int rc = caller_block(&fx, rows[i].caller_removes ? &removal : NULL,
                              rows[i].caller_removes ? 1u : 0u, rows[i].caller_key ? key0 : NULL,
                              rows[i].caller_key ? 1u : 0u, rows[i].evidence, &recorded);
        if (rc != rows[i].want_rc || recorded != rows[i].want_recorded) {
            fail_msg("%s: %s, %u updates recorded", rows[i].name, kumo_err_name(rc), recorded);
        }
        fx_close(&fx);
    }
}

/* At most KUMO_CONSENSUS_VALIDATOR_COUNT_MAX caller keys in a block. */
static void test_caller_keys_limit(void **state)
{
    (void)state;
    uint8_t(*keys)[KUMO_CRYPTO_PUBKEY_BYTES] =
        calloc(KUMO_CONSENSUS_VALIDATOR_COUNT_MAX + 1u, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_non_null(keys);
    for (uint32_t i = 0; i <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX; i++) {
        keys[i][0] = (uint8_t)i;
        keys[i][1] = 0xc5;
    }
    chain_fx_t fx;
    fx_open(&fx, NULL);
    uint32_t recorded = 0;
    assert_int_equal(caller_block(&fx, NULL, 0, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys,
                                  KUMO_CONSENSUS_VALIDATOR_COUNT_MAX + 1u, false, &recorded),
                     KUMO_ELIMIT);
    fx_close(&fx);
    fx_open(&fx, NULL);
    assert_int_equal(caller_block(&fx, NULL, 0, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys,
                                  KUMO_CONSENSUS_VALIDATOR_COUNT_MAX, false, &recorded),
                     0);
    fx_close(&fx);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validator_joins_two_heights_later),
        cmocka_unit_test(test_evidence_tombstones_once),
        cmocka_unit_test(test_staking_rule_violation_is_a_failed_tx),
        cmocka_unit_test(test_caller_keys_are_left_to_the_caller),
        cmocka_unit_test(test_caller_keys_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
