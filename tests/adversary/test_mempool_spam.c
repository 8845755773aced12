/*
 * test_mempool_spam.c - a spammer cannot starve lease confirmations or outbid-proof the pool.
 *
 * Four validators (real `kumo` processes) run with a small mempool (60 general txs) and small
 * blocks (4 txs), so demand exceeds block room as it would under a real flood. A provider
 * registers, a tenant deploys, the provider bids and the facilitator leases: a real active
 * lease. Then the test process, as the spammer, funds 120 fresh accounts and offers twice the
 * pool's capacity in sends (fees from the minimum up to almost twice it) through node 0, in a
 * burst that fills every pool (gossip) and then in refills every round, while the provider
 * sends one lease confirmation per round through node 2 at the minimum fee.
 *
 * Proven: every confirmation is accepted while the pools are full of spam paying more, and
 * lands within 3 blocks of its submission (the lane: its own room, first in blocks); a tenant
 * tx paying well above the spam gets in by evicting the cheapest spam and lands within 3
 * blocks. A node that served the pool first come, first served and refused txs when full
 * fails both (503 on the confirmation and on the tenant's tx). Measured figures are printed
 * as `name=value` lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chain/chain.h"
#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"
#include "keyring/keyring.h"

#define SP_NODES       4u
#define SP_BLOCK_MS    200u
#define SP_POOL_TXS    60u
#define SP_BLOCK_TXS   4u
#define SP_SPAM_TXS    (2u * SP_POOL_TXS)
#define SP_BURST_TXS   (SP_POOL_TXS + 4u)
#define SP_ROUNDS      8u
#define SP_REFILL_TXS  ((SP_SPAM_TXS - SP_BURST_TXS) / (SP_ROUNDS - 1u))
#define SP_LAND_BLOCKS 3
#define SP_SPAM_NODE   0u
#define SP_CONF_NODE   2u
#define SP_FUND_UKUMO  100000u
#define SP_CFG                   \
    "mempool_tx_count_max: 60\n" \
    "block_tx_count_max: 4\n"

_Static_assert(SP_SPAM_TXS - SP_BURST_TXS == SP_REFILL_TXS * (SP_ROUNDS - 1u),
               "the spam offered is exactly twice the pool");

typedef struct sp {
    kumo_test_net_t net;
    kumo_crypto_keypair_t tenant;
    kumo_crypto_keypair_t provider;
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    char provider_addr[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t min_fee;
} sp_t;

static sp_t g;

/* ---- keys and txs ---- */

static void sp_key_load(const char *sub, const char *name, kumo_crypto_keypair_t *kp, char *addr)
{
    char dir[1200];
    (void)snprintf(dir, sizeof(dir), "%s/%s/keyring", g.net.dir, sub);
    kumo_keyring_t *kr = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_keyring_open(dir, &kr, &err);
    rc = rc == 0 ? kumo_keyring_load(kr, name, NULL, kp, &err) : rc;
    kumo_keyring_close(kr);
    if (rc != 0) {
        fail_msg("key %s: %s %s", name, kumo_err_name(rc), err.detail);
    }
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, raw);
    kumo_codec_address_encode(raw, addr);
}

/* The i-th spam account's key (derived, so no keyring is needed). */
static void sp_spam_key(uint32_t i, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0xa5, 0x5a};
    seed[2] = (uint8_t)(i >> 8);
    seed[3] = (uint8_t)i;
    kumo_crypto_key_from_seed(seed, kp);
}

static void sp_tx_build(const kumo_crypto_keypair_t *kp,
                        uint64_t sequence,
                        uint64_t fee,
                        Kumo__Msg *const *msgs,
                        size_t msg_count,
                        kumo_buf_t *out)
{
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_tx_build(KUMO_TEST_NET_CHAIN_ID, kp, sequence, fee, "", msgs, msg_count,
                                 out, &err);
    if (rc != 0) {
        fail_msg("tx build: %s %s", kumo_err_name(rc), err.detail);
    }
}

/* A send of amount to raw address to. */
static void sp_send_tx(const kumo_crypto_keypair_t *kp,
                       uint64_t sequence,
                       uint64_t fee,
                       const uint8_t *to,
                       uint64_t amount,
                       kumo_buf_t *out)
{
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to.data = (uint8_t *)(uintptr_t)to;
    send.to.len = KUMO_ADDRESS_BYTES;
    send.amount = amount;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    Kumo__Msg *msgs[1] = {&msg};
    sp_tx_build(kp, sequence, fee, msgs, 1, out);
}

/* The provider's confirmation of the tenant's lease (dseq 1, group 0, order 1). */
static void sp_confirm_tx(uint64_t sequence, kumo_buf_t *out)
{
    uint8_t owner[KUMO_ADDRESS_BYTES];
    assert_int_equal(kumo_codec_address_decode(g.tenant_addr, owner, NULL), 0);
    Kumo__OrderId oid = KUMO__ORDER_ID__INIT;
    oid.owner.data = owner;
    oid.owner.len = KUMO_ADDRESS_BYTES;
    oid.dseq = 1;
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
    Kumo__Msg *msgs[1] = {&msg};
    sp_tx_build(&g.provider, sequence, g.min_fee, msgs, 1, out);
}

/* ---- the node's answers ---- */

static uint64_t sp_sequence(uint32_t node, const char *addr)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", addr);
    json_t *a = kumo_test_net_get(&g.net, node, path);
    assert_non_null(a);
    uint64_t seq = kumo_test_json_u64(a, "sequence");
    json_decref(a);
    return seq;
}

/* Posts tx to node; the HTTP status, and the tx hash in hex. */
static long
sp_post(uint32_t node, const kumo_buf_t *tx, char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1])
{
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    kumo_crypto_sha256(kumo_buf_bytes(tx), hash);
    for (size_t i = 0; i < KUMO_CHAIN_HASH_BYTES; i++) {
        (void)snprintf(hash_hex + 2 * i, 3, "%02x", hash[i]);
    }
    long status = 0;
    json_t *j = kumo_test_net_tx_post(&g.net, node, kumo_buf_bytes(tx), &status);
    if (status != 200) {
        const json_t *e = json_object_get(j, "error");
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *detail = json_string_value(json_object_get(e, "detail"));
        fprintf(stderr, "post to node %u: %ld %s %s\n", node, status, name != NULL ? name : "",
                detail != NULL ? detail : "");
    }
    json_decref(j);
    return status;
}

/* Waits until node reports the tx committed; its height, or -1 at the deadline. */
static int64_t sp_committed_height(uint32_t node, const char *hash_hex)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/txs/%s", hash_hex);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (kumo_test_now_ms() < deadline) {
        json_t *t = kumo_test_net_get(&g.net, node, path);
        const char *st = json_string_value(json_object_get(t, "status"));
        if (st != NULL && strcmp(st, "committed") == 0) {
            int64_t h = (int64_t)kumo_test_json_u64(t, "height");
            json_decref(t);
            return h;
        }
        json_decref(t);
        kumo_test_pause_ms(50);
    }
    return -1;
}

static uint64_t sp_pool_txs(uint32_t node)
{
    json_t *st = kumo_test_net_get(&g.net, node, "/status");
    uint64_t n = kumo_test_json_u64(st, "mempool_txs");
    json_decref(st);
    return n;
}

/* ---- setup: a real lease ---- */

static void sp_lease_setup(void)
{
    char pem[1200];
    (void)snprintf(pem, sizeof(pem), "%s/ca.pem", g.net.dir);
    FILE *f = fopen(pem, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n", f);
    assert_int_equal(fclose(f), 0);
    uint32_t port = kumo_test_net_rpc_port(&g.net, 1);
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx provider create --home %s/provider0 --from provider "
                                        "--node http://127.0.0.1:%u --host-uri "
                                        "https://p0.example:8443 --region us-east --cert-file %s "
                                        "--wait",
                                        g.net.dir, port, pem),
                     0);
    assert_int_equal(
        kumo_test_net_kumo(
            &g.net,
            "tx deployment create --home %s/tenant --from tenant --node http://127.0.0.1:%u "
            "--dseq 1 --wait-blocks 2 --deposit 10000000 --version "
            "1111111111111111111111111111111111111111111111111111111111111111 --group "
            "name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=1,price=40,"
            "collateral=5000 --wait",
            g.net.dir, port),
        0);
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx fulfillment create --home %s/provider0 --from provider "
                                        "--node http://127.0.0.1:%u %s/1/0/1 --price 40 --wait",
                                        g.net.dir, port, g.tenant_addr),
                     0);
    char path[256];
    (void)snprintf(path, sizeof(path), "/leases?provider=%s&state=LEASE_ACTIVE", g.provider_addr);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    size_t leases = 0;
    while (leases == 0 && kumo_test_now_ms() < deadline) {
        json_t *l = kumo_test_net_get(&g.net, SP_CONF_NODE, path);
        leases = json_array_size(json_object_get(l, "items"));
        json_decref(l);
        kumo_test_pause_ms(100);
    }
    assert_int_equal(leases, 1);
}

/* One tx from the tenant funds every spam account. */
static void sp_spam_fund(void)
{
    static Kumo__MsgSend sends[SP_SPAM_TXS];
    static Kumo__Msg msgs[SP_SPAM_TXS];
    static Kumo__Msg *ptrs[SP_SPAM_TXS];
    static uint8_t addrs[SP_SPAM_TXS][KUMO_ADDRESS_BYTES];
    for (uint32_t i = 0; i < SP_SPAM_TXS; i++) {
        kumo_crypto_keypair_t kp;
        sp_spam_key(i, &kp);
        kumo_crypto_address_from_pubkey(kp.pubkey, addrs[i]);
        kumo__msg_send__init(&sends[i]);
        sends[i].to.data = addrs[i];
        sends[i].to.len = KUMO_ADDRESS_BYTES;
        sends[i].amount = SP_FUND_UKUMO;
        kumo__msg__init(&msgs[i]);
        msgs[i].sum_case = KUMO__MSG__SUM_SEND;
        msgs[i].send = &sends[i];
        ptrs[i] = &msgs[i];
    }
    kumo_buf_t tx;
    sp_tx_build(&g.tenant, sp_sequence(1, g.tenant_addr), g.min_fee * 10u, ptrs, SP_SPAM_TXS, &tx);
    char hash[2 * KUMO_CHAIN_HASH_BYTES + 1];
    assert_int_equal(sp_post(1, &tx, hash), 200);
    assert_true(sp_committed_height(1, hash) > 0);
    kumo_buf_free(&tx);
}

/* ---- the attack ---- */

typedef struct sp_stats {
    uint32_t spam_offered;
    uint32_t spam_accepted;
    uint32_t conf_offered;
    uint32_t conf_accepted;
    uint32_t conf_landed_fast;
    int64_t conf_delay_max;
    uint64_t pool_at_conf_min;
    uint64_t pool_at_first_conf;
} sp_stats_t;

/* Offers spam txs [from, to) through the spam node: account i sends once, fee from the minimum
 * up to almost twice it. */
static void sp_spam(sp_stats_t *st, uint32_t from, uint32_t to)
{
    uint8_t sink[KUMO_ADDRESS_BYTES];
    assert_int_equal(kumo_codec_address_decode(g.tenant_addr, sink, NULL), 0);
    for (uint32_t i = from; i < to; i++) {
        kumo_crypto_keypair_t kp;
        sp_spam_key(i, &kp);
        kumo_buf_t tx;
        sp_send_tx(&kp, 0, g.min_fee + (g.min_fee * (i % 10u)) / 10u, sink, 1, &tx);
        char hash[2 * KUMO_CHAIN_HASH_BYTES + 1];
        st->spam_offered++;
        st->spam_accepted += sp_post(SP_SPAM_NODE, &tx, hash) == 200 ? 1u : 0u;
        kumo_buf_free(&tx);
    }
}

/* One confirmation at the minimum fee through the confirmation node: accepted, and landed
 * within SP_LAND_BLOCKS of its submission? */
static void sp_confirm_round(sp_stats_t *st)
{
    uint64_t seq = sp_sequence(SP_CONF_NODE, g.provider_addr);
    uint64_t pool = sp_pool_txs(SP_CONF_NODE);
    st->pool_at_conf_min = kumo_u64_min(st->pool_at_conf_min, pool);
    if (st->conf_offered == 0) {
        st->pool_at_first_conf = pool;
    }
    kumo_buf_t tx;
    sp_confirm_tx(seq, &tx);
    int64_t h0 = kumo_test_net_height(&g.net, SP_CONF_NODE);
    char hash[2 * KUMO_CHAIN_HASH_BYTES + 1];
    st->conf_offered++;
    long status = sp_post(SP_CONF_NODE, &tx, hash);
    kumo_buf_free(&tx);
    if (status != 200) {
        return;
    }
    st->conf_accepted++;
    int64_t h1 = sp_committed_height(SP_CONF_NODE, hash);
    if (h1 < 0) {
        st->conf_delay_max = INT64_MAX;
        return;
    }
    int64_t delay = h1 - h0;
    st->conf_delay_max = delay > st->conf_delay_max ? delay : st->conf_delay_max;
    st->conf_landed_fast += delay <= SP_LAND_BLOCKS ? 1u : 0u;
}

/* The tenant outbids the spam: its tx must get in and land soon. */
static bool sp_tenant_outbids(int64_t *delay_out)
{
    uint8_t to[KUMO_ADDRESS_BYTES];
    assert_int_equal(kumo_codec_address_decode(g.provider_addr, to, NULL), 0);
    kumo_buf_t tx;
    sp_send_tx(&g.tenant, sp_sequence(SP_SPAM_NODE, g.tenant_addr), g.min_fee * 20u, to, 1, &tx);
    int64_t h0 = kumo_test_net_height(&g.net, SP_SPAM_NODE);
    char hash[2 * KUMO_CHAIN_HASH_BYTES + 1];
    long status = sp_post(SP_SPAM_NODE, &tx, hash);
    kumo_buf_free(&tx);
    if (status != 200) {
        return false;
    }
    int64_t h1 = sp_committed_height(SP_SPAM_NODE, hash);
    *delay_out = h1 < 0 ? INT64_MAX : h1 - h0;
    return h1 >= 0 && h1 - h0 <= SP_LAND_BLOCKS;
}

static void test_spam_cannot_starve_confirmations(void **state)
{
    (void)state;
    sp_lease_setup();
    sp_spam_fund();
    sp_stats_t st = {.pool_at_conf_min = UINT64_MAX};
    sp_spam(&st, 0, SP_BURST_TXS);
    int64_t tenant_delay = -1;
    bool tenant_ok = false;
    for (uint32_t r = 0; r < SP_ROUNDS; r++) {
        if (r > 0) {
            uint32_t from = SP_BURST_TXS + (r - 1u) * SP_REFILL_TXS;
            sp_spam(&st, from, from + SP_REFILL_TXS);
        }
        if (r == SP_ROUNDS / 2u) {
            tenant_ok = sp_tenant_outbids(&tenant_delay);
        }
        sp_confirm_round(&st);
    }
    printf("mempool_spam_offered=%u txs\nmempool_spam_accepted=%u txs\n", st.spam_offered,
           st.spam_accepted);
    printf("mempool_pool_capacity=%u txs\nmempool_pool_at_first_confirmation=%" PRIu64
           " txs\nmempool_pool_at_confirmation_min=%" PRIu64 " txs\n",
           SP_POOL_TXS, st.pool_at_first_conf, st.pool_at_conf_min);
    printf("mempool_confirmations_offered=%u\nmempool_confirmations_accepted=%u\n", st.conf_offered,
           st.conf_accepted);
    printf("mempool_confirmations_landed_within_%d_blocks=%u\n", SP_LAND_BLOCKS,
           st.conf_landed_fast);
    printf("mempool_confirmation_delay_max=%" PRId64 " blocks\n", st.conf_delay_max);
    printf("mempool_tenant_outbid_delay=%" PRId64 " blocks\n", tenant_delay);
    assert_int_equal(st.spam_offered, SP_SPAM_TXS);
    assert_int_equal(st.conf_accepted, SP_ROUNDS);
    assert_int_equal(st.conf_landed_fast, SP_ROUNDS);
    assert_true(tenant_ok);
    /* The pool was full when the first confirmation came: it found no free room. */
    assert_true(st.pool_at_first_conf + SP_BLOCK_TXS >= SP_POOL_TXS);
}

static int sp_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    assert_int_equal(kumo_crypto_init(), 0);
    if (kumo_test_net_start_cfg(&g.net, SP_NODES, SP_BLOCK_MS, NULL, SP_CFG) != 0) {
        return -1;
    }
    sp_key_load("tenant", "tenant", &g.tenant, g.tenant_addr);
    sp_key_load("provider0", "provider", &g.provider, g.provider_addr);
    json_t *p = kumo_test_net_get(&g.net, 0, "/params");
    assert_non_null(p);
    g.min_fee = kumo_test_json_u64(p, "min_fee");
    json_decref(p);
    assert_true(g.min_fee > 0);
    return 0;
}

static int sp_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g.net);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spam_cannot_starve_confirmations),
    };
    return cmocka_run_group_tests(tests, sp_setup, sp_teardown);
}
