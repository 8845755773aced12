/*
 * test_mempool.c - proves the mempool's rules on a real genesis state (chain fixture): every
 * rejection rule has its own row in one table (starting from a valid tx that is itself
 * accepted), each limit is tested at MAX (accepted) and MAX+1 (refused); a full class makes
 * room only by evicting txs that pay strictly less per byte (cheapest first, latest arrival
 * first among equals, with their account's later txs; never the tx's own account, never a tx
 * a lease confirmation waits behind); lease confirmations of providers with live leases have
 * their own room and go first into blocks whatever the rest pays; selection orders accounts by
 * fee per byte within count and byte budgets with the proposer's own txs first; and the update
 * after a commit drops included txs and re-checks the rest (consumed sequences, gaps, fees the
 * balance no longer covers).
 */
#include "helpers/testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/mempool.h"
#include "unit/chain/chain_fixture.h"

typedef struct mp_fx {
    chain_fx_t fx;
    kumo_node_mempool_t *mp;
    kumo_node_mempool_cfg_t cfg;
    Kumo__Params params; /* what env passes: tests lower max_tx_bytes */
    kumo_node_mempool_env_t env;
} mp_fx_t;

static void mp_open(mp_fx_t *m, const kumo_node_mempool_cfg_t *cfg)
{
    memset(m, 0, sizeof(*m));
    fx_open(&m->fx, NULL);
    kumo_node_mempool_cfg_t def = {.tx_count_max = 100,
                                   .bytes_max = 1024u * 1024u,
                                   .account_tx_max = 64,
                                   .account_bytes_max = 1024u * 1024u,
                                   .future_seq_max = 64,
                                   .lane_tx_count_max = 8,
                                   .lane_bytes_max = 64u * 1024u,
                                   .lane_account_tx_max = 4};
    m->cfg = cfg != NULL ? *cfg : def;
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_mempool_open(&m->cfg, &m->mp, &err);
    if (rc != 0) {
        fail_msg("mempool open: %s %s", kumo_err_name(rc), err.detail);
    }
    m->params = m->fx.params;
    m->env.kv = &m->fx.ts.kv;
    m->env.params = &m->params;
    m->env.chain_id = FX_CHAIN_ID;
}

static void mp_close(mp_fx_t *m)
{
    kumo_node_mempool_close(m->mp);
    fx_close(&m->fx);
}

/* A send of 1 from key k to key 5 with fee (sequence from the fixture, advanced). */
static void send_tx(mp_fx_t *m, int k, uint64_t fee, kumo_buf_t *out)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m->fx, 5, 1, &send, &msg);
    fx_tx(&m->fx, k, fee, &msg, out);
}

static int add_buf(mp_fx_t *m, const kumo_buf_t *tx, kumo_err_ctx_t *err)
{
    return kumo_node_mempool_add(m->mp, &m->env, kumo_buf_bytes(tx), NULL, err);
}

static void add_ok(mp_fx_t *m, const kumo_buf_t *tx)
{
    kumo_err_ctx_t err = {0};
    int rc = add_buf(m, tx, &err);
    if (rc != 0) {
        fail_msg("add: %s %s", kumo_err_name(rc), err.detail);
    }
}

/* Adds a fresh valid send from key k and frees it. */
static void add_send_ok(mp_fx_t *m, int k)
{
    kumo_buf_t tx;
    send_tx(m, k, FX_FEE, &tx);
    add_ok(m, &tx);
    kumo_buf_free(&tx);
}

/* A provider record for key k with live leases (what the lane checks; the market's own tests
 * prove the counter follows real leases). */
static void provider_put(mp_fx_t *m, int k, uint32_t live_lease_count)
{
    Kumo__Provider p = KUMO__PROVIDER__INIT;
    p.owner.data = m->fx.addr[k];
    p.owner.len = KUMO_ADDRESS_BYTES;
    p.live_lease_count = live_lease_count;
    uint8_t key[1 + KUMO_ADDRESS_BYTES] = {0x02}; /* KUMO_MARKET_PREFIX_PROVIDER | address */
    memcpy(key + 1, m->fx.addr[k], KUMO_ADDRESS_BYTES);
    kumo_buf_t val;
    kumo_buf_init(&val, 4096);
    assert_int_equal(kumo_codec_pack(&p.base, &val, NULL), 0);
    const kumo_kv_t *kv = &m->fx.ts.kv;
    assert_int_equal(
        kv->put(kv->ctx, kumo_bytes_make(key, sizeof(key)), kumo_buf_bytes(&val), NULL), 0);
    kumo_buf_free(&val);
}

/* A tx of key k confirming the lease of order (key 2, dseq, 0, 1). */
static void confirm_tx(mp_fx_t *m, int k, uint64_t fee, uint64_t dseq, kumo_buf_t *out)
{
    Kumo__OrderId oid = KUMO__ORDER_ID__INIT;
    oid.owner.data = m->fx.addr[2];
    oid.owner.len = KUMO_ADDRESS_BYTES;
    oid.dseq = dseq;
    oid.oseq = 1;
    Kumo__LeaseConfirmation lc = KUMO__LEASE_CONFIRMATION__INIT;
    lc.order = &oid;
    Kumo__LeaseConfirmation *lcs[1] = {&lc};
    Kumo__MsgSubmitLeaseConfirmation c = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    c.n_confirmations = 1;
    c.confirmations = lcs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &c;
    fx_tx(&m->fx, k, fee, &msg, out);
}

/* Adds a send of key k with fee; returns the code, the hash in h (may be NULL). */
static int add_send(mp_fx_t *m, int k, uint64_t fee, uint8_t *h, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, k, fee, &tx);
    int rc = kumo_node_mempool_add(m->mp, &m->env, kumo_buf_bytes(&tx), h, err);
    kumo_buf_free(&tx);
    return rc;
}

/* Adds a confirmation of key k with fee; returns the code, the hash in h (may be NULL). */
static int add_confirm(mp_fx_t *m, int k, uint64_t fee, uint8_t *h, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    confirm_tx(m, k, fee, 1, &tx);
    int rc = kumo_node_mempool_add(m->mp, &m->env, kumo_buf_bytes(&tx), h, err);
    kumo_buf_free(&tx);
    return rc;
}

/* Reopens the pool with m->cfg. */
static void mp_reopen(mp_fx_t *m)
{
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
}

/* ---- the rule table: each case prepares the pool and returns the last add's code ---- */

static int case_valid(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_garbage(mp_fx_t *m, kumo_err_ctx_t *err)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    return kumo_node_mempool_add(m->mp, &m->env, kumo_bytes_make(junk, sizeof(junk)), NULL, err);
}

static int case_tx_bytes_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE, &tx);
    m->params.max_tx_bytes = tx.len;
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_tx_bytes_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE, &tx);
    m->params.max_tx_bytes = tx.len - 1u;
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_duplicate(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE, &tx);
    add_ok(m, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_wrong_chain(mp_fx_t *m, kumo_err_ctx_t *err)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m->fx, 5, 1, &send, &msg);
    Kumo__Msg *msgs[1] = {&msg};
    kumo_buf_t tx;
    kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
    assert_int_equal(
        kumo_chain_tx_build("other-chain", &m->fx.keys[1], 0, FX_FEE, "", msgs, 1, &tx, NULL), 0);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_no_msgs(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    fx_tx(&m->fx, 1, FX_FEE, NULL, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_bad_msg(mp_fx_t *m, kumo_err_ctx_t *err)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m->fx, 5, 0, &send, &msg); /* amount 0 */
    kumo_buf_t tx;
    fx_tx(&m->fx, 1, FX_FEE, &msg, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

/* Commits a block with one send of key k, so its committed sequence becomes 1. */
static void commit_one_send(mp_fx_t *m, int k)
{
    kumo_buf_t tx;
    send_tx(m, k, FX_FEE, &tx);
    kumo_bytes_t b = kumo_buf_bytes(&tx);
    kumo_chain_block_out_t out = {0};
    fx_block(&m->fx, &b, 1, &out);
    assert_int_equal(out.results[0].code, 0);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&tx);
}

static int case_seq_used(mp_fx_t *m, kumo_err_ctx_t *err)
{
    commit_one_send(m, 1);
    m->fx.seq[1] = 0;
    return case_valid(m, err);
}

static int case_seq_pending(mp_fx_t *m, kumo_err_ctx_t *err)
{
    add_send_ok(m, 1);
    m->fx.seq[1] = 0; /* another tx with the pending sequence 0 */
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE + 1u, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_seq_gap(mp_fx_t *m, kumo_err_ctx_t *err)
{
    add_send_ok(m, 1);
    m->fx.seq[1] = 2; /* 1 is next */
    int rc = case_valid(m, err);
    if (strstr(err->detail, "expected sequence 1") == NULL) {
        fail_msg("gap detail: %s", err->detail);
    }
    return rc;
}

static int case_fee_low(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE - 1u, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int facilitator_tx(mp_fx_t *m, int k, uint64_t fee, kumo_err_ctx_t *err)
{
    Kumo__MsgDeploymentClosed dc = KUMO__MSG_DEPLOYMENT_CLOSED__INIT;
    dc.owner.data = m->fx.addr[2];
    dc.owner.len = KUMO_ADDRESS_BYTES;
    dc.dseq = 1;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_DEPLOYMENT_CLOSED;
    msg.deployment_closed = &dc;
    kumo_buf_t tx;
    fx_tx(&m->fx, k, fee, &msg, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_facilitator_by_operator_free(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return facilitator_tx(m, 0, 0, err);
}

static int case_facilitator_by_other(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return facilitator_tx(m, 1, FX_FEE, err);
}

static int case_fee_over_balance(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_BALANCE + 1u, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_fees_pending_over_balance(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_BALANCE - FX_FEE, &tx);
    add_ok(m, &tx);
    kumo_buf_free(&tx);
    send_tx(m, 1, FX_FEE + 1u, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_fees_pending_at_balance(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_BALANCE - FX_FEE, &tx);
    add_ok(m, &tx);
    kumo_buf_free(&tx);
    send_tx(m, 1, FX_FEE, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_bad_signature(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_buf_t tx;
    send_tx(m, 1, FX_FEE, &tx);
    /* The signature is the Tx's last field: flip its last byte. */
    tx.ptr[tx.len - 1u] ^= 0x01u;
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

/* Fills the pool with n txs spread over keys 1..4, then adds one more from key 1. */
static int fill_then_add(mp_fx_t *m, uint32_t n, kumo_err_ctx_t *err)
{
    for (uint32_t i = 0; i < n; i++) {
        add_send_ok(m, 1 + (int)(i % 4u));
    }
    return case_valid(m, err);
}

static int case_count_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return fill_then_add(m, m->cfg.tx_count_max - 1u, err);
}

static int case_count_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return fill_then_add(m, m->cfg.tx_count_max, err);
}

/* One send's encoded length (all sends of the fixture encode alike). */
static size_t send_len(mp_fx_t *m)
{
    kumo_buf_t tx;
    send_tx(m, 4, FX_FEE, &tx);
    m->fx.seq[4]--;
    size_t len = tx.len;
    kumo_buf_free(&tx);
    return len;
}

/* Reopens the pool with m->cfg and adds sequence-0 sends (equal lengths) from keys 1, 2, 3. */
static int three_sends(mp_fx_t *m, kumo_err_ctx_t *err)
{
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
    add_send_ok(m, 1);
    add_send_ok(m, 2);
    kumo_buf_t tx;
    send_tx(m, 3, FX_FEE, &tx);
    int rc = add_buf(m, &tx, err);
    kumo_buf_free(&tx);
    return rc;
}

static int case_bytes_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.bytes_max = 3u * send_len(m);
    return three_sends(m, err);
}

static int case_bytes_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.bytes_max = 3u * send_len(m) - 1u;
    return three_sends(m, err);
}

static int account_fill_then_add(mp_fx_t *m, uint32_t n, kumo_err_ctx_t *err)
{
    for (uint32_t i = 0; i < n; i++) {
        add_send_ok(m, 1);
    }
    return case_valid(m, err);
}

static int case_account_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.future_seq_max = 1000; /* only the per-account count binds */
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
    return account_fill_then_add(m, m->cfg.account_tx_max - 1u, err);
}

static int case_account_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.future_seq_max = 1000;
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
    return account_fill_then_add(m, m->cfg.account_tx_max, err);
}

static int case_future_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.account_tx_max = 1000; /* only the future window binds */
    m->cfg.future_seq_max = 8;
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
    /* Sequences 0..7: the last is 7 past the committed 0, inside a window of 8. */
    return account_fill_then_add(m, m->cfg.future_seq_max - 1u, err);
}

static int case_future_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.account_tx_max = 1000;
    m->cfg.future_seq_max = 8;
    kumo_node_mempool_close(m->mp);
    assert_int_equal(kumo_node_mempool_open(&m->cfg, &m->mp, NULL), 0);
    return account_fill_then_add(m, m->cfg.future_seq_max, err);
}

static int case_count_over_max_paying_more(mp_fx_t *m, kumo_err_ctx_t *err)
{
    for (uint32_t i = 0; i < m->cfg.tx_count_max; i++) {
        add_send_ok(m, 1 + (int)(i % 4u));
    }
    return add_send(m, 5, FX_FEE * 10u, NULL, err);
}

static int case_bytes_over_max_paying_more(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.bytes_max = 3u * send_len(m) - 1u;
    mp_reopen(m);
    add_send_ok(m, 1);
    add_send_ok(m, 2);
    return add_send(m, 3, FX_FEE * 10u, NULL, err); /* same length: fees under 128 */
}

/* Key 1 fills a pool of 4; only its own txs pay less than its next. */
static int case_full_only_own_cheaper(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.tx_count_max = 4;
    mp_reopen(m);
    for (int i = 0; i < 4; i++) {
        add_send_ok(m, 1);
    }
    return add_send(m, 1, FX_FEE * 10u, NULL, err);
}

/* Key 4 (a provider) has a send pending before a confirmation: the send is not evicted. */
static int case_full_only_before_confirmation(mp_fx_t *m, kumo_err_ctx_t *err)
{
    m->cfg.tx_count_max = 1;
    mp_reopen(m);
    provider_put(m, 4, 1);
    add_send_ok(m, 4);
    assert_int_equal(add_confirm(m, 4, FX_FEE, NULL, NULL), 0);
    return add_send(m, 1, FX_FEE * 10u, NULL, err);
}

/* Key 1's pending bytes: s0 and s1 against account_bytes_max = their sum + slack. */
static int account_bytes_case(mp_fx_t *m, uint64_t slack_minus, kumo_err_ctx_t *err)
{
    kumo_buf_t s0;
    kumo_buf_t s1;
    send_tx(m, 1, FX_FEE, &s0);
    send_tx(m, 1, FX_FEE, &s1);
    m->cfg.account_bytes_max = s0.len + s1.len - slack_minus;
    mp_reopen(m);
    add_ok(m, &s0);
    int rc = add_buf(m, &s1, err);
    kumo_buf_free(&s0);
    kumo_buf_free(&s1);
    return rc;
}

static int case_account_bytes_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return account_bytes_case(m, 0, err);
}

static int case_account_bytes_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return account_bytes_case(m, 1, err);
}

/* Provider 4 has before confirmations pending under lane_account_tx_max 2 and adds one. */
static int lane_account_case(mp_fx_t *m, uint32_t before, kumo_err_ctx_t *err)
{
    m->cfg.lane_account_tx_max = 2;
    mp_reopen(m);
    provider_put(m, 4, 1);
    for (uint32_t i = 0; i < before; i++) {
        assert_int_equal(add_confirm(m, 4, FX_FEE, NULL, NULL), 0);
    }
    return add_confirm(m, 4, FX_FEE, NULL, err);
}

static int case_lane_account_at_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_account_case(m, 1, err);
}

static int case_lane_account_over_max(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_account_case(m, 2, err);
}

/* A lane of 1 held by provider 4; provider 3 confirms with fee. */
static int lane_full_case(mp_fx_t *m, uint64_t fee, kumo_err_ctx_t *err)
{
    m->cfg.lane_tx_count_max = 1;
    mp_reopen(m);
    provider_put(m, 4, 1);
    provider_put(m, 3, 1);
    assert_int_equal(add_confirm(m, 4, FX_FEE, NULL, NULL), 0);
    return add_confirm(m, 3, fee, NULL, err);
}

static int case_lane_full_equal_rate(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_full_case(m, FX_FEE, err);
}

static int case_lane_full_paying_more(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_full_case(m, FX_FEE * 10u, err);
}

/* General room full of txs paying more; confirmations of provider 4 (live leases), provider 3
 * (none) and key 5 (no provider). */
static int lane_general_full(mp_fx_t *m, int k, kumo_err_ctx_t *err)
{
    m->cfg.tx_count_max = 2;
    mp_reopen(m);
    provider_put(m, 4, 1);
    provider_put(m, 3, 0);
    assert_int_equal(add_send(m, 1, FX_FEE * 100u, NULL, NULL), 0);
    assert_int_equal(add_send(m, 2, FX_FEE * 100u, NULL, NULL), 0);
    return add_confirm(m, k, FX_FEE, NULL, err);
}

static int case_confirmation_with_live_leases_full_pool(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_general_full(m, 4, err);
}

static int case_confirmation_without_live_leases_full_pool(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_general_full(m, 3, err);
}

static int case_confirmation_of_non_provider_full_pool(mp_fx_t *m, kumo_err_ctx_t *err)
{
    return lane_general_full(m, 5, err);
}

static void test_mempool_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int (*run)(mp_fx_t *m, kumo_err_ctx_t *err);
        int want;
    } cases[] = {
        {"valid send", case_valid, 0},
        {"garbage bytes", case_garbage, KUMO_EDECODE},
        {"tx bytes at max_tx_bytes", case_tx_bytes_at_max, 0},
        {"tx bytes over max_tx_bytes", case_tx_bytes_over_max, KUMO_ELIMIT},
        {"duplicate hash", case_duplicate, KUMO_EEXIST},
        {"wrong chain id", case_wrong_chain, KUMO_ECHAINID},
        {"no msgs", case_no_msgs, KUMO_EEMPTY},
        {"invalid msg", case_bad_msg, KUMO_EINVAL},
        {"sequence already used", case_seq_used, KUMO_ESEQUENCE},
        {"sequence held by a pending tx", case_seq_pending, KUMO_ESEQUENCE},
        {"sequence gap", case_seq_gap, KUMO_ESEQUENCE},
        {"fee below min_fee", case_fee_low, KUMO_EFEE},
        {"facilitator tx of an operator pays no fee", case_facilitator_by_operator_free, 0},
        {"facilitator msg from a non-operator", case_facilitator_by_other, KUMO_EUNAUTH},
        {"fee over the balance", case_fee_over_balance, KUMO_EFUNDS},
        {"pending fees reach the balance", case_fees_pending_at_balance, 0},
        {"pending fees pass the balance", case_fees_pending_over_balance, KUMO_EFUNDS},
        {"bad signature", case_bad_signature, KUMO_ESIG},
        {"tx count at max", case_count_at_max, 0},
        {"tx count over max at an equal fee rate", case_count_over_max, KUMO_EFEE},
        {"tx count over max paying more per byte", case_count_over_max_paying_more, 0},
        {"bytes at max", case_bytes_at_max, 0},
        {"bytes over max at an equal fee rate", case_bytes_over_max, KUMO_EFEE},
        {"bytes over max paying more per byte", case_bytes_over_max_paying_more, 0},
        {"full: only the own account pays less", case_full_only_own_cheaper, KUMO_ELIMIT},
        {"full: the cheaper tx waits before a confirmation", case_full_only_before_confirmation,
         KUMO_ELIMIT},
        {"account bytes at max", case_account_bytes_at_max, 0},
        {"account bytes over max", case_account_bytes_over_max, KUMO_ELIMIT},
        {"lane txs of an account at max", case_lane_account_at_max, 0},
        {"lane txs of an account over max", case_lane_account_over_max, KUMO_ELIMIT},
        {"lane full at an equal fee rate", case_lane_full_equal_rate, KUMO_EFEE},
        {"lane full paying more per byte", case_lane_full_paying_more, 0},
        {"confirmation with live leases, general room full",
         case_confirmation_with_live_leases_full_pool, 0},
        {"confirmation without live leases, general room full",
         case_confirmation_without_live_leases_full_pool, KUMO_EFEE},
        {"confirmation of a non-provider, general room full",
         case_confirmation_of_non_provider_full_pool, KUMO_EFEE},
        {"account txs at max", case_account_at_max, 0},
        {"account txs over max", case_account_over_max, KUMO_ELIMIT},
        {"future sequence at max", case_future_at_max, 0},
        {"future sequence over max", case_future_over_max, KUMO_ELIMIT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        mp_fx_t m;
        mp_open(&m, NULL);
        kumo_err_ctx_t err = {0};
        int rc = cases[i].run(&m, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        assert_true(kumo_node_mempool_class_tx_count(m.mp, KUMO_NODE_MEMPOOL_GENERAL) <=
                    m.cfg.tx_count_max);
        assert_true(kumo_node_mempool_class_tx_count(m.mp, KUMO_NODE_MEMPOOL_LANE) <=
                    m.cfg.lane_tx_count_max);
        assert_true(kumo_node_mempool_bytes(m.mp) <= m.cfg.bytes_max + m.cfg.lane_bytes_max);
        mp_close(&m);
    }
}

/* ---- selection ---- */

static void select_expect(const kumo_node_mempool_entry_t *const *out,
                          size_t n,
                          uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES],
                          const size_t *want,
                          size_t want_count)
{
    assert_int_equal(n, want_count);
    for (size_t i = 0; i < n; i++) {
        if (memcmp(kumo_node_mempool_entry_tx(out[i])->hash, hashes[want[i]], 32) != 0) {
            fail_msg("pick %zu is not tx %zu", i, want[i]);
        }
    }
}

/* A send of key k with fee and a memo of memo_len bytes (sequence advanced). */
static void send_memo_tx(mp_fx_t *m, int k, uint64_t fee, size_t memo_len, kumo_buf_t *out)
{
    char memo[KUMO_MEMO_BYTES_MAX + 1];
    assert_true(memo_len <= KUMO_MEMO_BYTES_MAX);
    memset(memo, 'm', memo_len);
    memo[memo_len] = '\0';
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m->fx, 5, 1, &send, &msg);
    Kumo__Msg *msgs[1] = {&msg};
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    assert_int_equal(kumo_chain_tx_build(FX_CHAIN_ID, &m->fx.keys[k], m->fx.seq[k], fee, memo, msgs,
                                         1, out, NULL),
                     0);
    m->fx.seq[k]++;
}

static void test_mempool_select_by_fee_rate_and_budgets(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    /* 0: k1 s0 fee 10; 1: k1 s1 fee 9000 (behind its cheap s0); 2: k2 s0 fee 500;
     * 3: k3 s0 fee 100000 with a long memo (the best rate, the most bytes); 4: k0 s0 fee 10
     * (the proposer; equal to tx 0 in fee and length, later). */
    const int keys[] = {1, 1, 2, 3, 0};
    const uint64_t fees[] = {10, 9000, 500, 100000, 10};
    uint8_t h[5][KUMO_CHAIN_HASH_BYTES];
    size_t lens[5];
    for (size_t i = 0; i < 5; i++) {
        kumo_buf_t tx;
        send_memo_tx(&m, keys[i], fees[i], i == 3 ? 200u : 0u, &tx);
        lens[i] = tx.len;
        assert_int_equal(kumo_node_mempool_add(m.mp, &m.env, kumo_buf_bytes(&tx), h[i], NULL), 0);
        kumo_buf_free(&tx);
    }
    assert_int_equal(lens[0], lens[4]);
    const kumo_node_mempool_entry_t *out[8];
    /* Best head first; k1's rich s1 waits for its cheap s0; tx 0 before tx 4 (arrival). */
    const size_t by_rate[] = {3, 2, 0, 1, 4};
    select_expect(out, kumo_node_mempool_select(m.mp, NULL, 8, UINT64_MAX, out), h, by_rate, 5);
    /* The proposer's own txs first. */
    const size_t own_first[] = {4, 3, 2, 0, 1};
    select_expect(out, kumo_node_mempool_select(m.mp, m.fx.addr[0], 8, UINT64_MAX, out), h,
                  own_first, 5);
    /* Count budget. */
    select_expect(out, kumo_node_mempool_select(m.mp, NULL, 2, UINT64_MAX, out), h, by_rate, 2);
    assert_int_equal(kumo_node_mempool_select(m.mp, NULL, 0, UINT64_MAX, NULL), 0);
    /* Byte budget: tx 3 does not fit and is passed over; the smaller ones still go. */
    const size_t small[] = {2, 0};
    uint64_t budget = lens[2] + lens[0];
    assert_true(lens[3] > budget - lens[2]);
    select_expect(out, kumo_node_mempool_select(m.mp, NULL, 8, budget, out), h, small, 2);
    mp_close(&m);
}

/* Lease confirmations (and what they wait behind) go first, whatever the rest pays. */
static void test_mempool_select_lane_first(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    provider_put(&m, 4, 1);
    provider_put(&m, 3, 1);
    uint8_t h[5][KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(add_send(&m, 1, 100000, h[0], NULL), 0);
    assert_int_equal(add_send(&m, 4, FX_FEE, h[1], NULL), 0);    /* provider 4's send ... */
    assert_int_equal(add_confirm(&m, 4, FX_FEE, h[2], NULL), 0); /* ... its confirmation */
    assert_int_equal(add_confirm(&m, 3, FX_FEE * 2u, h[3], NULL), 0);
    assert_int_equal(add_send(&m, 2, 50000, h[4], NULL), 0);
    const kumo_node_mempool_entry_t *out[8];
    size_t n = kumo_node_mempool_select(m.mp, NULL, 8, UINT64_MAX, out);
    /* Provider 3's confirmation pays more per byte than provider 4's send at the head. */
    const size_t want[] = {3, 1, 2, 0, 4};
    select_expect(out, n, h, want, 5);
    assert_int_equal(kumo_node_mempool_entry_class(out[0]), KUMO_NODE_MEMPOOL_LANE);
    assert_int_equal(kumo_node_mempool_entry_class(out[1]), KUMO_NODE_MEMPOOL_GENERAL);
    assert_int_equal(kumo_node_mempool_class_tx_count(m.mp, KUMO_NODE_MEMPOOL_LANE), 2);
    mp_close(&m);
}

/* ---- eviction ---- */

static void test_mempool_evicts_cheapest_with_dependents(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    m.cfg.tx_count_max = 6;
    mp_reopen(&m);
    /* k1: s0 fee 1000, s1 fee 20 (the cheapest), s2 fee 5000; k2: s0, s1 fee 50; k3: s0 100 */
    uint8_t h[6][KUMO_CHAIN_HASH_BYTES];
    const int keys[] = {1, 1, 1, 2, 2, 3};
    const uint64_t fees[] = {1000, 20, 5000, 50, 50, 100};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(add_send(&m, keys[i], fees[i], h[i], NULL), 0);
    }
    /* k4 at 30 evicts k1 s1 and, with it, k1 s2 that depends on it. */
    uint8_t k4[2][KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(add_send(&m, 4, 30, k4[0], NULL), 0);
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 2);
    assert_true(kumo_node_mempool_has(m.mp, h[0]));
    assert_false(kumo_node_mempool_has(m.mp, h[1]));
    assert_false(kumo_node_mempool_has(m.mp, h[2]));
    assert_int_equal(kumo_node_mempool_tx_count(m.mp), 5);
    assert_int_equal(add_send(&m, 4, 30, k4[1], NULL), 0); /* room left: no eviction */
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 2);
    /* k5 at 40: the cheapest now is k4 s1 (30 over the longer of k4's two). */
    assert_int_equal(add_send(&m, 5, 40, NULL, NULL), 0);
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 3);
    assert_true(kumo_node_mempool_has(m.mp, k4[0]));
    assert_false(kumo_node_mempool_has(m.mp, k4[1]));
    /* k0 at 25 (an operator's send pays fees like any) beats nothing: refused, detail names
     * the fee that would do, and nothing changed. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(add_send(&m, 0, 25, NULL, &err), KUMO_EFEE);
    assert_non_null(strstr(err.detail, "a fee of 31 would"));
    assert_int_equal(kumo_node_mempool_tx_count(m.mp), 6);
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 3);
    mp_close(&m);
}

static void test_mempool_evicts_latest_among_equals(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    m.cfg.tx_count_max = 2;
    mp_reopen(&m);
    uint8_t h[3][KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(add_send(&m, 1, FX_FEE, h[0], NULL), 0);
    assert_int_equal(add_send(&m, 2, FX_FEE, h[1], NULL), 0);
    assert_int_equal(add_send(&m, 3, FX_FEE + 1u, h[2], NULL), 0);
    assert_true(kumo_node_mempool_has(m.mp, h[0])); /* waited longest: stays */
    assert_false(kumo_node_mempool_has(m.mp, h[1]));
    assert_true(kumo_node_mempool_has(m.mp, h[2]));
    /* Bytes bind as well as counts: several small txs leave for one big one. */
    m.cfg.tx_count_max = 100;
    m.cfg.bytes_max = 3u * send_len(&m);
    mp_reopen(&m);
    for (int k = 1; k <= 3; k++) {
        m.fx.seq[k] = 0;
        add_send_ok(&m, k);
    }
    kumo_buf_t big;
    send_memo_tx(&m, 4, 100000, send_len(&m) / 2u, &big);
    assert_true(big.len > send_len(&m) && big.len <= 2u * send_len(&m));
    assert_int_equal(add_buf(&m, &big, NULL), 0);
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 2);
    assert_int_equal(kumo_node_mempool_tx_count(m.mp), 2);
    kumo_buf_free(&big);
    mp_close(&m);
}

/* Every allocation of an evicting add fails in turn: each failure leaves the pool as it was
 * (nothing evicted, nothing leaked under ASan); then the add succeeds. */
static void test_mempool_evicting_add_fails_cleanly(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    m.cfg.tx_count_max = 2;
    mp_reopen(&m);
    uint8_t h[2][KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(add_send(&m, 1, FX_FEE, h[0], NULL), 0);
    assert_int_equal(add_send(&m, 2, FX_FEE, h[1], NULL), 0);
    kumo_buf_t tx;
    send_tx(&m, 3, FX_FEE * 10u, &tx);
    int rc = KUMO_ENOMEM;
    uint64_t n = 1;
    for (; rc != 0; n++) {
        kumo_alloc_fail_at(n);
        rc = add_buf(&m, &tx, NULL);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, KUMO_ENOMEM);
        assert_int_equal(kumo_node_mempool_tx_count(m.mp), 2);
        assert_true(kumo_node_mempool_has(m.mp, h[0]) && kumo_node_mempool_has(m.mp, h[1]));
        assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 0);
    }
    assert_true(n > 3); /* decode, entry, bytes and account records all failed once */
    assert_int_equal(kumo_node_mempool_evicted_total(m.mp), 1);
    assert_false(kumo_node_mempool_has(m.mp, h[1]));
    kumo_buf_free(&tx);
    mp_close(&m);
}

/* Spam paying any fee cannot push lease confirmations out, nor keep them from blocks. */
static void test_mempool_spam_cannot_starve_confirmations(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    m.cfg.tx_count_max = 8;
    m.cfg.account_tx_max = 64;
    mp_reopen(&m);
    provider_put(&m, 4, 1);
    uint8_t conf[KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(add_confirm(&m, 4, FX_FEE, conf, NULL), 0);
    /* 32 spam txs from keys 1..3 at rising fees: the general room turns over ... */
    for (uint64_t i = 0; i < 32; i++) {
        int k = 1 + (int)(i % 3u);
        /* Evictions take the spammer's own earlier txs too: continue after what is left. */
        m.fx.seq[k] = kumo_node_mempool_account_tx_count(m.mp, m.fx.addr[k]);
        kumo_err_ctx_t err = {0};
        int rc = add_send(&m, k, FX_FEE * (i + 1u), NULL, &err);
        if (rc != 0) {
            fail_msg("spam %" PRIu64 ": %s %s", i, kumo_err_name(rc), err.detail);
        }
    }
    assert_true(kumo_node_mempool_evicted_total(m.mp) > 0);
    /* ... but the confirmation stays, and a block of 1 takes it. */
    assert_true(kumo_node_mempool_has(m.mp, conf));
    const kumo_node_mempool_entry_t *out[1];
    assert_int_equal(kumo_node_mempool_select(m.mp, NULL, 1, UINT64_MAX, out), 1);
    assert_memory_equal(kumo_node_mempool_entry_tx(out[0])->hash, conf, 32);
    mp_close(&m);
}

/* ---- update after a commit ---- */

static void test_mempool_update_drops_included_and_rechecks(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    /* k1: s0, s1, s2; k2: s0, s1; k3: s0 (fee = its whole balance after a block drains it) */
    uint8_t h[6][KUMO_CHAIN_HASH_BYTES];
    int keys[] = {1, 1, 1, 2, 2, 3};
    kumo_buf_t k2s0 = {0};
    for (size_t i = 0; i < 6; i++) {
        kumo_buf_t tx;
        send_tx(&m, keys[i], i == 5 ? FX_BALANCE - 100u : FX_FEE, &tx);
        assert_int_equal(kumo_node_mempool_add(m.mp, &m.env, kumo_buf_bytes(&tx), h[i], NULL), 0);
        if (i == 3) {
            k2s0 = tx;
        } else {
            kumo_buf_free(&tx);
        }
    }
    /* The block: k1 s0 from the pool; k2's s0 replaced by a different tx with the same
     * sequence (e.g. from another node); k3 sends most of its balance away, s0 with another tx. */
    kumo_buf_t k1s0;
    m.fx.seq[1] = 0;
    send_tx(&m, 1, FX_FEE, &k1s0); /* same bytes as the pooled one: deterministic signing */
    m.fx.seq[1] = 3;
    m.fx.seq[2] = 0;
    kumo_buf_t k2alt;
    send_tx(&m, 2, FX_FEE + 5u, &k2alt);
    m.fx.seq[3] = 0;
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m.fx, 5, FX_BALANCE - 1000u, &send, &msg);
    kumo_buf_t k3drain;
    fx_tx(&m.fx, 3, FX_FEE, &msg, &k3drain);
    kumo_bytes_t txs[3] = {kumo_buf_bytes(&k1s0), kumo_buf_bytes(&k2alt), kumo_buf_bytes(&k3drain)};
    kumo_chain_block_out_t out = {0};
    fx_block(&m.fx, txs, 3, &out);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(out.results[i].code, 0);
    }
    uint8_t inc[3][KUMO_CHAIN_HASH_BYTES];
    for (size_t i = 0; i < 3; i++) {
        memcpy(inc[i], out.results[i].hash, KUMO_CHAIN_HASH_BYTES);
    }
    kumo_chain_block_out_free(&out);
    assert_memory_equal(inc[0], h[0], 32);
    size_t dropped =
        kumo_node_mempool_update(m.mp, &m.env, (const uint8_t(*)[KUMO_CHAIN_HASH_BYTES])inc, 3);
    /* k1 s0 included (removed, not a drop); k2 s0 consumed -> dropped with s1 (gap);
     * k3 s0's sequence consumed as well. */
    assert_int_equal(dropped, 3);
    assert_false(kumo_node_mempool_has(m.mp, h[0]));
    assert_true(kumo_node_mempool_has(m.mp, h[1]));
    assert_true(kumo_node_mempool_has(m.mp, h[2]));
    assert_false(kumo_node_mempool_has(m.mp, h[3]));
    assert_false(kumo_node_mempool_has(m.mp, h[4]));
    assert_false(kumo_node_mempool_has(m.mp, h[5]));
    assert_int_equal(kumo_node_mempool_tx_count(m.mp), 2);
    assert_int_equal(kumo_node_mempool_account_tx_count(m.mp, m.fx.addr[2]), 0);
    /* k1 continues at 3; k2 at 1 (its committed sequence), and the replaced tx is no
     * longer a duplicate but a used sequence. */
    add_send_ok(&m, 1);
    m.fx.seq[2] = 1;
    add_send_ok(&m, 2);
    assert_int_equal(add_buf(&m, &k2s0, NULL), KUMO_ESEQUENCE);
    kumo_buf_free(&k2s0);
    kumo_buf_free(&k1s0);
    kumo_buf_free(&k2alt);
    kumo_buf_free(&k3drain);
    mp_close(&m);
}

static void test_mempool_update_drops_fees_the_balance_no_longer_covers(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    /* k1 pools s0 (sends 500000), s1 and s2 (fee 400000 each); once s0 commits, the
     * balance covers only s1. */
    kumo_buf_t drain;
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&m.fx, 5, 500000u, &send, &msg);
    fx_tx(&m.fx, 1, FX_FEE, &msg, &drain); /* s0, not pooled */
    kumo_buf_t a;
    kumo_buf_t b;
    send_tx(&m, 1, 400000u, &a);
    send_tx(&m, 1, 400000u, &b);
    add_ok(&m, &drain);
    add_ok(&m, &a);
    add_ok(&m, &b); /* 10 + 800000 pending <= 1000000 */
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&drain)};
    kumo_chain_block_out_t out = {0};
    fx_block(&m.fx, txs, 1, &out);
    uint8_t inc[1][KUMO_CHAIN_HASH_BYTES];
    memcpy(inc[0], out.results[0].hash, KUMO_CHAIN_HASH_BYTES);
    kumo_chain_block_out_free(&out);
    /* Balance now 1000000 - 500000 - 10 = 499990: s1 (400000) still covered, s2 not. */
    assert_int_equal(kumo_node_mempool_update(m.mp, &m.env, (const uint8_t(*)[32])inc, 1), 1);
    assert_int_equal(kumo_node_mempool_tx_count(m.mp), 1);
    assert_int_equal(add_buf(&m, &b, NULL), KUMO_EFUNDS);
    kumo_buf_free(&drain);
    kumo_buf_free(&a);
    kumo_buf_free(&b);
    mp_close(&m);
}

static void test_mempool_update_with_a_later_tx_alone(void **state)
{
    (void)state;
    mp_fx_t m;
    mp_open(&m, NULL);
    uint8_t h[3][KUMO_CHAIN_HASH_BYTES];
    for (size_t i = 0; i < 3; i++) {
        kumo_buf_t tx;
        send_tx(&m, 1, FX_FEE, &tx);
        assert_int_equal(kumo_node_mempool_add(m.mp, &m.env, kumo_buf_bytes(&tx), h[i], NULL), 0);
        kumo_buf_free(&tx);
    }
    /* A block from elsewhere carried s1 alone (it failed there): s1 and s2 leave, s0 stays. */
    assert_int_equal(kumo_node_mempool_update(m.mp, &m.env, (const uint8_t(*)[32])h + 1, 1), 0);
    assert_true(kumo_node_mempool_has(m.mp, h[0]));
    assert_false(kumo_node_mempool_has(m.mp, h[1]));
    assert_false(kumo_node_mempool_has(m.mp, h[2]));
    assert_int_equal(kumo_node_mempool_account_tx_count(m.mp, m.fx.addr[1]), 1);
    m.fx.seq[1] = 1;
    add_send_ok(&m, 1); /* s1 again, now next after s0 */
    mp_close(&m);
}

static void test_mempool_open_rejects_bad_bounds(void **state)
{
    (void)state;
    /* Field order: tx_count_max, bytes_max, account_tx_max, account_bytes_max, future_seq_max,
     * lane_tx_count_max, lane_bytes_max, lane_account_tx_max. */
    const kumo_node_mempool_cfg_t ok = {1, 1, 1, 1, 1, 1, 1, 1};
    kumo_node_mempool_t *mp = NULL;
    assert_int_equal(kumo_node_mempool_open(&ok, &mp, NULL), 0);
    kumo_node_mempool_close(mp);
    kumo_node_mempool_cfg_t max = ok;
    max.tx_count_max = KUMO_NODE_MEMPOOL_TX_COUNT_MAX;
    max.lane_tx_count_max = KUMO_NODE_MEMPOOL_TX_COUNT_MAX;
    assert_int_equal(kumo_node_mempool_open(&max, &mp, NULL), 0);
    kumo_node_mempool_close(mp);
    const uint32_t over = KUMO_NODE_MEMPOOL_TX_COUNT_MAX + 1u;
    const struct {
        const char *name;
        kumo_node_mempool_cfg_t cfg;
    } cases[] = {
        {"zero count", {0, 1, 1, 1, 1, 1, 1, 1}},
        {"count over max", {over, 1, 1, 1, 1, 1, 1, 1}},
        {"zero bytes", {1, 0, 1, 1, 1, 1, 1, 1}},
        {"zero account txs", {1, 1, 0, 1, 1, 1, 1, 1}},
        {"zero account bytes", {1, 1, 1, 0, 1, 1, 1, 1}},
        {"zero future window", {1, 1, 1, 1, 0, 1, 1, 1}},
        {"zero lane count", {1, 1, 1, 1, 1, 0, 1, 1}},
        {"lane count over max", {1, 1, 1, 1, 1, over, 1, 1}},
        {"zero lane bytes", {1, 1, 1, 1, 1, 1, 0, 1}},
        {"zero lane txs per account", {1, 1, 1, 1, 1, 1, 1, 0}},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        int rc = kumo_node_mempool_open(&cases[i].cfg, &mp, NULL);
        if (rc != KUMO_EINVAL) {
            fail_msg("%s: got %s", cases[i].name, kumo_err_name(rc));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mempool_rules),
        cmocka_unit_test(test_mempool_select_by_fee_rate_and_budgets),
        cmocka_unit_test(test_mempool_select_lane_first),
        cmocka_unit_test(test_mempool_evicts_cheapest_with_dependents),
        cmocka_unit_test(test_mempool_evicts_latest_among_equals),
        cmocka_unit_test(test_mempool_evicting_add_fails_cleanly),
        cmocka_unit_test(test_mempool_spam_cannot_starve_confirmations),
        cmocka_unit_test(test_mempool_update_drops_included_and_rechecks),
        cmocka_unit_test(test_mempool_update_drops_fees_the_balance_no_longer_covers),
        cmocka_unit_test(test_mempool_update_with_a_later_tx_alone),
        cmocka_unit_test(test_mempool_open_rejects_bad_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
