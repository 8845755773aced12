/*
 * test_valset.c - proves the validator set in state: genesis writes the set of height 1;
 * updates recorded in block H take effect at H + 2 and not before; the set of any height is
 * found after several changes; round-0 proposer priorities advance one step per block in
 * state (as stepping the set would) and a newcomer does not propose at once; every invalid
 * update (a key twice in a block, removing a non-member or the last member, too many
 * members, updates or power) is refused with its own code and records nothing; the stored
 * encoding round-trips and malformed bytes are refused.
 */
#include "unit/chain/chain_fixture.h"

static void fx_key(uint8_t seed0, kumo_chain_valset_update_t *u, uint64_t power)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
    seed[0] = seed0;
    seed[1] = 0x5a;
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    memcpy(u->pubkey, kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    u->power = power;
}

/* An empty block carrying validator updates. */
static void fx_block_updates(chain_fx_t *fx, const kumo_chain_valset_update_t *u, uint32_t n)
{
    kumo_chain_block_in_t in = {
        .chain_id = FX_CHAIN_ID,
        .height = fx->height + 1,
        .prev_app_hash = fx->app_hash,
        .valset_updates = u,
        .valset_update_count = n,
    };
    kumo_chain_block_out_t out;
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_block_apply(&fx->ts.kv, &in, &out, &err);
    if (rc != 0) {
        fail_msg("block: %s %s", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(out.valset_update_count, n);
    fx->height++;
    memcpy(fx->app_hash, out.app_hash, KUMO_CHAIN_HASH_BYTES);
    kumo_chain_block_out_free(&out);
    assert_int_equal(kumo_store_block_commit(fx->ts.store, fx->height, fx->app_hash, NULL), 0);
    assert_int_equal(kumo_store_block_begin(fx->ts.store, &fx->ts.kv, NULL), 0);
}

static uint32_t set_at(chain_fx_t *fx, uint64_t height, kumo_consensus_valset_t *vs)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_valset_get(&fx->ts.kv, height, vs, &err);
    if (rc != 0) {
        fail_msg("set of %llu: %s %s", (unsigned long long)height, kumo_err_name(rc), err.detail);
    }
    return vs->count;
}

static uint64_t power_of(const kumo_consensus_valset_t *vs, const uint8_t *pubkey)
{
    int32_t i = kumo_consensus_valset_find(vs, pubkey);
    return i < 0 ? 0u : vs->v[i].power;
}

static void test_genesis_writes_the_set_of_height_one(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_consensus_valset_t vs;
    assert_int_equal(set_at(&fx, 1, &vs), 1);
    assert_memory_equal(vs.v[0].pubkey, fx.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(vs.power_total, 1);
    assert_int_equal(set_at(&fx, 1000000, &vs), 1);
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 1, 1, &vs, NULL), 0);
    assert_int_equal(vs.count, 1);
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 1, 2, &vs, NULL), 0);
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 1, 3, &vs, NULL), KUMO_EINVAL);
    assert_int_equal(kumo_chain_valset_get(&fx.ts.kv, 0, &vs, NULL), KUMO_ENOTFOUND);
    fx_close(&fx);
}

static void test_updates_take_effect_two_heights_later(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_chain_valset_update_t u[2];
    fx_key(1, &u[0], 5);
    fx_key(2, &u[1], 7);
    fx_block_updates(&fx, u, 2); /* block 1 */
    kumo_consensus_valset_t vs;
    assert_int_equal(set_at(&fx, 2, &vs), 1);
    assert_int_equal(set_at(&fx, 3, &vs), 3);
    assert_int_equal(vs.power_total, 13);
    assert_int_equal(power_of(&vs, u[1].pubkey), 7);
    /* The engine of height 2 sees the old set, its next height the new one. */
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 2, 2, &vs, NULL), 0);
    assert_int_equal(vs.count, 1);
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 2, 3, &vs, NULL), 0);
    assert_int_equal(vs.count, 3);
    fx_block_updates(&fx, NULL, 0); /* block 2 */
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 3, 3, &vs, NULL), 0);
    assert_int_equal(vs.count, 3);
    /* A power change and a removal at block 3: effective at 5. */
    kumo_chain_valset_update_t v[2] = {u[0], u[1]};
    v[0].power = 50;
    v[1].power = 0;
    fx_block_updates(&fx, v, 2);
    fx_block_updates(&fx, NULL, 0);
    fx_block_updates(&fx, NULL, 0);
    assert_int_equal(set_at(&fx, 4, &vs), 3);
    assert_int_equal(power_of(&vs, u[0].pubkey), 5);
    assert_int_equal(set_at(&fx, 5, &vs), 2);
    assert_int_equal(power_of(&vs, u[0].pubkey), 50);
    assert_int_equal(power_of(&vs, u[1].pubkey), 0);
    /* Every height keeps the set that signed it. */
    assert_int_equal(set_at(&fx, 1, &vs), 1);
    assert_int_equal(set_at(&fx, 2, &vs), 1);
    assert_int_equal(set_at(&fx, 3, &vs), 3);
    assert_int_equal(set_at(&fx, 7, &vs), 2);
    fx_close(&fx);
}

static void test_priorities_advance_in_state(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_chain_valset_update_t u[3];
    fx_key(1, &u[0], 3);
    fx_key(2, &u[1], 2);
    fx_key(3, &u[2], 1);
    fx_block_updates(&fx, u, 3);
    fx_block_updates(&fx, NULL, 0);
    /* Height 3 is the first of the four members; priorities as the engine derives them. */
    kumo_consensus_valset_t want;
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 3, 3, &want, NULL), 0);
    assert_int_equal(want.count, 4);
    for (int b = 0; b < 10; b++) {
        kumo_consensus_valset_t ahead;
        assert_int_equal(
            kumo_chain_valset_proposers_get(&fx.ts.kv, fx.height + 1, fx.height + 2, &ahead, NULL),
            0);
        fx_block_updates(&fx, NULL, 0);
        (void)kumo_consensus_valset_priority_step(&want);
        kumo_consensus_valset_t got;
        assert_int_equal(
            kumo_chain_valset_proposers_get(&fx.ts.kv, fx.height + 1, fx.height + 1, &got, NULL),
            0);
        assert_memory_equal(&got, &want, sizeof(got));
        assert_memory_equal(&got, &ahead, sizeof(got));
    }
    fx_close(&fx);
}

static void test_newcomer_does_not_propose_first(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_chain_valset_update_t u[1];
    fx_key(9, &u[0], 1000); /* far more power than the genesis validator */
    fx_block_updates(&fx, u, 1);
    fx_block_updates(&fx, NULL, 0);
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_chain_valset_proposers_get(&fx.ts.kv, 3, 3, &vs, NULL), 0);
    int32_t nc = kumo_consensus_valset_find(&vs, u[0].pubkey);
    assert_true(nc >= 0);
    assert_true(vs.v[nc].priority < 0);
    int64_t sum = 0;
    for (uint32_t i = 0; i < vs.count; i++) {
        sum += vs.v[i].priority;
        assert_true(vs.v[i].priority <= 2 * (int64_t)vs.power_total);
        assert_true(vs.v[i].priority >= -2 * (int64_t)vs.power_total);
    }
    assert_true(sum >= 0 && sum < (int64_t)vs.count);
    assert_int_not_equal(kumo_consensus_valset_proposer(&vs, 0), (uint32_t)nc);
    fx_close(&fx);
}

typedef struct bad_update {
    const char *name;
    uint8_t seed0; /* 0: the genesis validator's key */
    uint64_t power;
    uint32_t prefill; /* updates recorded before it: keys 100.. with power 1 */
    int want;
} bad_update_t;

static void test_invalid_updates_are_refused(void **state)
{
    (void)state;
    static const bad_update_t cases[] = {
        {"key twice in a block", 100, 3, 1, KUMO_EDUPLICATE},
        {"removes a non-member", 7, 0, 0, KUMO_ENOTFOUND},
        {"removes the last member", 0, 0, 0, KUMO_EEMPTY},
        {"one member too many", 7, 1, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX - 1u, KUMO_ELIMIT},
        {"power over the total limit", 7, (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX, 0, KUMO_ELIMIT},
        {"power past u64 sum", 7, UINT64_MAX, 0, KUMO_ELIMIT},
        {"too many updates", 7, 1, KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX, KUMO_ELIMIT},
    };
    for (size_t c = 0; c < KUMO_ARRAY_COUNT(cases); c++) {
        chain_fx_t fx;
        fx_open(&fx, NULL);
        kumo_chain_block_out_t out;
        memset(&out, 0, sizeof(out));
        kumo_err_ctx_t err = {0};
        uint32_t pre = cases[c].prefill;
        if (pre == KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX) {
            out.valset_update_count = pre; /* filled as if recorded */
        } else {
            for (uint32_t i = 0; i < pre; i++) {
                kumo_chain_valset_update_t u;
                fx_key((uint8_t)(100u + i), &u, 1);
                assert_int_equal(
                    kumo_chain_valset_update_add(&fx.ts.kv, &out, u.pubkey, u.power, &err), 0);
            }
        }
        kumo_chain_valset_update_t u;
        if (cases[c].seed0 == 0) {
            memcpy(u.pubkey, fx.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        } else {
            fx_key(cases[c].seed0, &u, 0);
        }
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, before), 0);
        int rc = kumo_chain_valset_update_add(&fx.ts.kv, &out, u.pubkey, cases[c].power, &err);
        if (rc != cases[c].want) {
            fail_msg("%s: got %s (%s), want %s", cases[c].name, kumo_err_name(rc), err.detail,
                     kumo_err_name(cases[c].want));
        }
        assert_int_equal(out.valset_update_count, pre);
        assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, after), 0);
        assert_memory_equal(before, after, sizeof(before));
        fx_close(&fx);
    }
}

static void test_refused_update_makes_the_block_invalid(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_chain_valset_update_t u[1];
    fx_key(7, &u[0], 0);
    kumo_chain_block_in_t in = {
        .chain_id = FX_CHAIN_ID,
        .height = 1,
        .prev_app_hash = fx.app_hash,
        .valset_updates = u,
        .valset_update_count = 1,
    };
    kumo_chain_block_out_t out;
    assert_int_equal(kumo_chain_block_apply(&fx.ts.kv, &in, &out, NULL), KUMO_ENOTFOUND);
    fx_close(&fx);
}

static void test_encoding_round_trips_and_refuses_bad_bytes(void **state)
{
    (void)state;
    assert_int_equal(kumo_crypto_init(), 0);
    uint8_t keys[3][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[3] = {4, 5, 6};
    for (uint8_t i = 0; i < 3; i++) {
        kumo_chain_valset_update_t u;
        fx_key((uint8_t)(i + 1u), &u, 0);
        memcpy(keys[i], u.pubkey, sizeof(keys[i]));
    }
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_consensus_valset_init(
                         &vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys, powers, 3, NULL),
                     0);
    vs.v[0].priority = -7;
    vs.v[2].priority = 7;
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_CHAIN_VALSET_BYTES_MAX);
    assert_int_equal(kumo_chain_valset_encode(&vs, &buf), 0);
    kumo_consensus_valset_t back;
    assert_int_equal(kumo_chain_valset_decode(kumo_buf_bytes(&buf), &back, NULL), 0);
    assert_memory_equal(&back, &vs, sizeof(vs));
    uint8_t bad[4u + 3u * 48u];
    struct {
        const char *name;
        size_t len;
        int edit; /* 0 none, 1 count 0, 2 count 4, 3 swap entries, 4 zero power, 5 dup key */
    } cases[] = {
        {"short", 3, 0},
        {"truncated", sizeof(bad) - 1u, 0},
        {"count 0", 4, 1},
        {"count 4", sizeof(bad), 2},
        {"out of order", sizeof(bad), 3},
        {"zero power", sizeof(bad), 4},
        {"key twice", sizeof(bad), 5},
    };
    for (size_t c = 0; c < KUMO_ARRAY_COUNT(cases); c++) {
        memcpy(bad, buf.ptr, sizeof(bad));
        switch (cases[c].edit) {
        case 1:
            kumo_be32_put(bad, 0);
            break;
        case 2:
            kumo_be32_put(bad, 4);
            break;
        case 3: {
            uint8_t tmp[48];
            memcpy(tmp, bad + 4, 48);
            memcpy(bad + 4, bad + 52, 48);
            memcpy(bad + 52, tmp, 48);
            break;
        }
        case 4:
            memset(bad + 4 + 32, 0, 8);
            break;
        case 5:
            memcpy(bad + 52, bad + 4, 32);
            break;
        default:
            break;
        }
        int rc = kumo_chain_valset_decode(kumo_bytes_make(bad, cases[c].len), &back, NULL);
        if (rc != KUMO_EDECODE) {
            fail_msg("%s: got %s", cases[c].name, kumo_err_name(rc));
        }
    }
    kumo_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis_writes_the_set_of_height_one),
        cmocka_unit_test(test_updates_take_effect_two_heights_later),
        cmocka_unit_test(test_priorities_advance_in_state),
        cmocka_unit_test(test_newcomer_does_not_propose_first),
        cmocka_unit_test(test_invalid_updates_are_refused),
        cmocka_unit_test(test_refused_update_makes_the_block_invalid),
        cmocka_unit_test(test_encoding_round_trips_and_refuses_bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
