/*
 * node_fixture.h - a node home in a temp dir for node tests: kumo init, NF_KEYS funded
 * accounts with deterministic keys, the node opened on its own event_base (block timer off
 * unless asked for), and signed sends. Static inline so each test compiles it on its own.
 */
#ifndef KUMO_TESTS_UNIT_NODE_NODE_FIXTURE_H
#define KUMO_TESTS_UNIT_NODE_NODE_FIXTURE_H

#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "bank/bank.h"
#include "chain/chain.h"
#include "node/node.h"

#define NF_KEYS     16
#define NF_BALANCE  1000000000ull
#define NF_CHAIN_ID "kumo-node-test"
#define NF_FEE      100u

typedef struct node_fx {
    char *home;
    struct event_base *base;
    kumo_node_t *node;
    kumo_node_cfg_t cfg;
    kumo_crypto_keypair_t keys[NF_KEYS];
    uint8_t addr[NF_KEYS][KUMO_ADDRESS_BYTES];
    uint64_t seq[NF_KEYS];
} node_fx_t;

static inline void nf_fail(const char *what, int rc, const kumo_err_ctx_t *err)
{
    if (rc != 0) {
        fail_msg("%s: %s (%s)", what, kumo_err_name(rc), err->detail);
    }
}

/* Deterministic keys: seed byte 0x40 + i. */
static inline void nf_keys_make(node_fx_t *nf)
{
    assert_int_equal(kumo_crypto_init(), 0);
    for (int i = 0; i < NF_KEYS; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
        seed[0] = (uint8_t)(0x40 + i);
        kumo_crypto_key_from_seed(seed, &nf->keys[i]);
        kumo_crypto_address_from_pubkey(nf->keys[i].pubkey, nf->addr[i]);
    }
}

/* kumo init in a fresh temp dir plus a genesis balance for every test key. */
static inline void nf_home_make(node_fx_t *nf)
{
    memset(nf, 0, sizeof(*nf));
    nf_keys_make(nf);
    char *dir = kumo_test_tmpdir_make("node");
    assert_non_null(dir);
    nf->home = dir;
    char home[512];
    (void)snprintf(home, sizeof(home), "%s/home", dir);
    kumo_err_ctx_t err = {0};
    nf_fail("home init", kumo_node_home_init(home, NF_CHAIN_ID, "test-node", &err), &err);
    for (int i = 0; i < NF_KEYS; i++) {
        nf_fail("genesis add", kumo_node_genesis_account_add(home, nf->addr[i], NF_BALANCE, &err),
                &err);
    }
    nf_fail("cfg load", kumo_node_cfg_load(home, &nf->cfg, &err), &err);
    nf->cfg.block_interval_ms = 0;
    nf->base = event_base_new();
    assert_non_null(nf->base);
}

static inline void nf_open(node_fx_t *nf)
{
    kumo_err_ctx_t err = {0};
    nf_fail("node open", kumo_node_open(&nf->cfg, nf->base, &nf->node, &err), &err);
}

static inline void nf_close_node(node_fx_t *nf)
{
    kumo_node_close(nf->node);
    nf->node = NULL;
}

static inline void nf_teardown(node_fx_t *nf)
{
    nf_close_node(nf);
    if (nf->base != NULL) {
        event_base_free(nf->base);
    }
    kumo_test_tmpdir_remove(nf->home);
    memset(nf, 0, sizeof(*nf));
}

/* A signed tx of one msg from key k with its next sequence (advanced). */
static inline void nf_tx(node_fx_t *nf, int k, uint64_t fee, const Kumo__Msg *msg, kumo_buf_t *out)
{
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    kumo_err_ctx_t err = {0};
    nf_fail("tx build",
            kumo_chain_tx_build(NF_CHAIN_ID, &nf->keys[k], nf->seq[k], fee, "", msgs, 1, out, &err),
            &err);
    nf->seq[k]++;
}

/* A send of amount from key k to key to, as a signed tx. */
static inline void nf_send(node_fx_t *nf, int k, int to, uint64_t amount, kumo_buf_t *out)
{
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to.data = nf->addr[to];
    send.to.len = KUMO_ADDRESS_BYTES;
    send.amount = amount;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    nf_tx(nf, k, NF_FEE, &msg, out);
}

static inline void nf_submit_ok(node_fx_t *nf, const kumo_buf_t *tx, uint8_t hash[32])
{
    kumo_err_ctx_t err = {0};
    nf_fail("submit", kumo_node_tx_submit(nf->node, kumo_buf_bytes(tx), hash, &err), &err);
}

static inline void nf_produce(node_fx_t *nf)
{
    kumo_err_ctx_t err = {0};
    nf_fail("produce", kumo_node_block_produce(nf->node, &err), &err);
}

/* The committed account balance of key k. */
static inline uint64_t nf_balance(node_fx_t *nf, int k)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(nf->node, &read, &kv, NULL), 0);
    Kumo__Account *acct = NULL;
    assert_int_equal(kumo_bank_account_get(&kv, nf->addr[k], &acct, NULL), 0);
    uint64_t b = acct->balance;
    kumo_codec_free(&acct->base);
    kumo_store_read_end(read);
    return b;
}

#endif
