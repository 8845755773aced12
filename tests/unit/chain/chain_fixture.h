/*
 * chain_fixture.h - a funded genesis on a real LMDB store for chain tests: FX_KEYS accounts
 * with deterministic keys (key 0 is the validator operator), block application with commit of
 * the real app hash, and tx building with tracked sequences.
 */
#ifndef KUMO_TESTS_CHAIN_FIXTURE_H
#define KUMO_TESTS_CHAIN_FIXTURE_H

#include <string.h>

#include "bank/bank.h"
#include "chain/chain.h"
#include "helpers/teststore.h"
#include "helpers/testutil.h"

#define FX_KEYS     6
#define FX_BALANCE  1000000u
#define FX_CHAIN_ID "kumo-test"
#define FX_FEE      10u

typedef struct chain_fx {
    kumo_test_store_t ts;
    kumo_crypto_keypair_t keys[FX_KEYS];
    uint8_t addr[FX_KEYS][KUMO_ADDRESS_BYTES];
    uint64_t seq[FX_KEYS];
    uint64_t height;
    uint8_t app_hash[KUMO_CHAIN_HASH_BYTES];
    Kumo__Params params;
} chain_fx_t;

/* Opens a store and writes a genesis with params (NULL: defaults with min_fee FX_FEE). */
static inline void fx_open(chain_fx_t *fx, const Kumo__Params *params)
{
    memset(fx, 0, sizeof(*fx));
    assert_int_equal(kumo_crypto_init(), 0);
    assert_int_equal(kumo_test_store_open(&fx->ts), 0);
    kumo__params__init(&fx->params);
    if (params != NULL) {
        fx->params = *params;
    } else {
        kumo_market_params_default(&fx->params);
        fx->params.min_fee = FX_FEE;
    }
    Kumo__GenesisBalance bal[FX_KEYS];
    Kumo__GenesisBalance *bal_ptrs[FX_KEYS];
    for (int i = 0; i < FX_KEYS; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
        seed[0] = (uint8_t)(i + 1);
        kumo_crypto_key_from_seed(seed, &fx->keys[i]);
        kumo_crypto_address_from_pubkey(fx->keys[i].pubkey, fx->addr[i]);
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address.data = fx->addr[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = FX_BALANCE;
        bal_ptrs[i] = &bal[i];
    }
    Kumo__Validator val = KUMO__VALIDATOR__INIT;
    val.address.data = fx->addr[0];
    val.address.len = KUMO_ADDRESS_BYTES;
    val.pubkey.data = fx->keys[0].pubkey;
    val.pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    val.power = 1;
    Kumo__Validator *val_ptrs[1] = {&val};
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    g.chain_id = FX_CHAIN_ID;
    g.params = &fx->params;
    /* No inflation (so no collateral interest either: it may not out-earn staking): a block
     * without txs writes nothing, so tx effects are exact. */
    Kumo__StakingParams sp;
    kumo_staking_params_default(&sp);
    sp.inflation_ppm = 0;
    sp.power_reduction = 1000; /* 1 power per 1000 ukumo: FX_BALANCE buys a validator */
    sp.min_self_stake = 1000;
    fx->params.collateral_interest_rate = 0;
    g.staking_params = &sp;
    g.n_balances = FX_KEYS;
    g.balances = bal_ptrs;
    g.n_validators = 1;
    g.validators = val_ptrs;
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_genesis_apply(&fx->ts.kv, &g, fx->app_hash, &err);
    if (rc != 0) {
        fail_msg("genesis: %s %s", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(kumo_store_block_commit(fx->ts.store, 0, fx->app_hash, NULL), 0);
    assert_int_equal(kumo_store_block_begin(fx->ts.store, &fx->ts.kv, NULL), 0);
}

static inline void fx_close(chain_fx_t *fx)
{
    kumo_test_store_close(&fx->ts);
}

/* Builds a tx of one msg signed by key k with its next sequence (advanced) and fee. */
static inline void fx_tx(chain_fx_t *fx, int k, uint64_t fee, const Kumo__Msg *msg, kumo_buf_t *out)
{
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    assert_int_equal(kumo_chain_tx_build(FX_CHAIN_ID, &fx->keys[k], fx->seq[k], fee, "", msgs,
                                         msg != NULL ? 1 : 0, out, NULL),
                     0);
    fx->seq[k]++;
}

/* A send of amount from key k to key to. */
static inline void
fx_send_msg(chain_fx_t *fx, int to, uint64_t amount, Kumo__MsgSend *send, Kumo__Msg *msg)
{
    kumo__msg_send__init(send);
    send->to.data = fx->addr[to];
    send->to.len = KUMO_ADDRESS_BYTES;
    send->amount = amount;
    kumo__msg__init(msg);
    msg->sum_case = KUMO__MSG__SUM_SEND;
    msg->send = send;
}

/* Applies txs as the next block and commits it with its app hash. */
static inline void
fx_block(chain_fx_t *fx, const kumo_bytes_t *txs, size_t n, kumo_chain_block_out_t *out)
{
    kumo_chain_block_in_t in = {
        .chain_id = FX_CHAIN_ID,
        .height = fx->height + 1,
        .prev_app_hash = fx->app_hash,
        .txs = txs,
        .tx_count = n,
    };
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_block_apply(&fx->ts.kv, &in, out, &err);
    if (rc != 0) {
        fail_msg("block: %s %s", kumo_err_name(rc), err.detail);
    }
    fx->height++;
    memcpy(fx->app_hash, out->app_hash, KUMO_CHAIN_HASH_BYTES);
    assert_int_equal(kumo_store_block_commit(fx->ts.store, fx->height, fx->app_hash, NULL), 0);
    assert_int_equal(kumo_store_block_begin(fx->ts.store, &fx->ts.kv, NULL), 0);
}

static inline uint64_t fx_balance(chain_fx_t *fx, int k)
{
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->addr[k], &acct, NULL), 0);
    uint64_t b = acct->balance;
    kumo_codec_free(&acct->base);
    return b;
}

static inline uint64_t fx_sequence(chain_fx_t *fx, int k)
{
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, fx->addr[k], &acct, NULL), 0);
    uint64_t s = acct->sequence;
    kumo_codec_free(&acct->base);
    return s;
}

#endif
