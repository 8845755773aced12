/*
 * test_facilitator.c - proves kumo_chain_facilitator_txs_build: the due msgs are tried in order
 * on the evolving state and only those that succeed are packed, so no facilitator tx fails and
 * one invalidated item never holds back the others. Table-driven over the interleavings that
 * wedged a facilitator that packed every due msg from the state before the block:
 *   - a settlement that empties the escrow closes the deployment whose next order is due too
 *     (that SubmitLease is left out; the deployment closes for insufficient funds);
 *   - a re-order that falls due at its old lease's stale height (the lease goes stale first,
 *     then the new order is leased: nothing is left out);
 * (and two tenants doing it at once: several msgs left out, others kept between them);
 * each with another tenant's order due in the same block, which must be leased; each at 1, 2
 * and 256 msgs per tx. Also: the kv and its write set are unchanged by a build, a read-only
 * snapshot is refused, and a failed allocation anywhere leaves no tx, the sequence and the kv
 * untouched. Blocks are applied through kumo_chain_block_apply on a real LMDB store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "unit/chain/chain_fixture.h"

#define K_VAL    0
#define K_TENANT 1
#define K_PROV   2
#define K_OTHER  3
#define K_THIRD  4
#define TX_MAX   16
#define PEM      "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

/* One msg with the storage its fields point into. */
typedef struct msg_box {
    Kumo__Msg msg;
    Kumo__MsgCreateProvider cp;
    Kumo__MsgSubmitDeployment sd;
    Kumo__MsgUpdateDeployment ud;
    Kumo__MsgSubmitFulfillment sf;
    Kumo__OrderId oid;
    Kumo__GroupSpec specs[2];
    Kumo__GroupSpec *spec_ptrs[2];
    Kumo__ResourceGroup rg[2];
    Kumo__ResourceGroup *rg_ptrs[2];
    Kumo__ComputeUnit cu[2];
    char names[2][8];
    uint8_t version[KUMO_VERSION_BYTES];
} msg_box_t;

typedef struct fac_fx {
    chain_fx_t c;
    kumo_buf_t txs[TX_MAX];
    size_t tx_count;
    uint32_t msgs_per_tx;
    kumo_chain_facilitator_stats_t stats; /* of the last block's build */
} fac_fx_t;

static void group_spec(msg_box_t *b, size_t i, uint64_t cpu_milli, uint64_t price)
{
    kumo__compute_unit__init(&b->cu[i]);
    b->cu[i].cpu_milli = cpu_milli;
    b->cu[i].memory_bytes = 1u << 28;
    kumo__resource_group__init(&b->rg[i]);
    b->rg[i].compute = &b->cu[i];
    b->rg[i].price = price;
    b->rg[i].count = 1;
    b->rg_ptrs[i] = &b->rg[i];
    kumo__group_spec__init(&b->specs[i]);
    (void)snprintf(b->names[i], sizeof(b->names[i]), "g%zu", i);
    b->specs[i].name = b->names[i];
    b->specs[i].region = "r1";
    b->specs[i].n_resources = 1;
    b->specs[i].resources = &b->rg_ptrs[i];
    b->spec_ptrs[i] = &b->specs[i];
}

/* Queues a tx of key k with the msg in box b for the next block. */
static void tx_queue(fac_fx_t *fx, int k, msg_box_t *b)
{
    assert_true(fx->tx_count < TX_MAX);
    fx_tx(&fx->c, k, FX_FEE, &b->msg, &fx->txs[fx->tx_count++]);
}

static void provider_create(fac_fx_t *fx, int k)
{
    msg_box_t b = {0};
    kumo__msg_create_provider__init(&b.cp);
    b.cp.host_uri = "https://p.example:8443";
    b.cp.region = "r1";
    b.cp.root_cert_pem = PEM;
    kumo__msg__init(&b.msg);
    b.msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
    b.msg.create_provider = &b.cp;
    tx_queue(fx, k, &b);
}

/* A deployment (or an update, changing every group's cpu) of n groups at price each. */
static void deploy(fac_fx_t *fx,
                   int k,
                   bool update,
                   size_t n,
                   uint64_t cpu,
                   uint64_t price,
                   uint64_t wait_blocks,
                   uint64_t deposit)
{
    msg_box_t b = {0};
    for (size_t i = 0; i < n; i++) {
        group_spec(&b, i, cpu, price);
    }
    memset(b.version, update ? 2 : 1, sizeof(b.version));
    kumo__msg__init(&b.msg);
    if (update) {
        kumo__msg_update_deployment__init(&b.ud);
        b.ud.dseq = 1;
        b.ud.version = (ProtobufCBinaryData){sizeof(b.version), b.version};
        b.ud.n_groups = n;
        b.ud.groups = b.spec_ptrs;
        b.msg.sum_case = KUMO__MSG__SUM_UPDATE_DEPLOYMENT;
        b.msg.update_deployment = &b.ud;
    } else {
        kumo__msg_submit_deployment__init(&b.sd);
        b.sd.dseq = 1;
        b.sd.version = (ProtobufCBinaryData){sizeof(b.version), b.version};
        b.sd.n_groups = n;
        b.sd.groups = b.spec_ptrs;
        b.sd.wait_blocks = wait_blocks;
        b.sd.deposit = deposit;
        b.msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
        b.msg.submit_deployment = &b.sd;
    }
    tx_queue(fx, k, &b);
}

/* Provider k bids the order's price on owner/1/gseq/oseq (cpu must match the order's). */
static void
bid(fac_fx_t *fx, int k, int owner, uint32_t gseq, uint32_t oseq, uint64_t cpu, uint64_t price)
{
    msg_box_t b = {0};
    group_spec(&b, 0, cpu, price);
    kumo__order_id__init(&b.oid);
    b.oid.owner = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, fx->c.addr[owner]};
    b.oid.dseq = 1;
    b.oid.gseq = gseq;
    b.oid.oseq = oseq;
    kumo__msg_submit_fulfillment__init(&b.sf);
    b.sf.order = &b.oid;
    b.sf.n_resources = 1;
    b.sf.resources = b.rg_ptrs;
    kumo__msg__init(&b.msg);
    b.msg.sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
    b.msg.submit_fulfillment = &b.sf;
    tx_queue(fx, k, &b);
}

/* Produces the next block as a proposer does: the facilitator's txs (built here) first, then
 * the queued txs, which must all succeed; and no facilitator tx may fail. */
static void block(fac_fx_t *fx)
{
    kumo_buf_t fac[TX_MAX];
    size_t fac_count = 0;
    uint64_t seq = fx->c.seq[K_VAL];
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_facilitator_txs_build(&fx->c.ts.kv, FX_CHAIN_ID, fx->c.height + 1,
                                              &fx->c.keys[K_VAL], &seq, fx->msgs_per_tx, fac,
                                              TX_MAX, &fac_count, &fx->stats, &err);
    if (rc != 0) {
        fail_msg("build: %s %s", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(seq, fx->c.seq[K_VAL] + fac_count);
    fx->c.seq[K_VAL] = seq;
    kumo_bytes_t all[2 * TX_MAX];
    size_t n = 0;
    for (size_t i = 0; i < fac_count; i++) {
        all[n++] = kumo_buf_bytes(&fac[i]);
    }
    for (size_t i = 0; i < fx->tx_count; i++) {
        all[n++] = kumo_buf_bytes(&fx->txs[i]);
    }
    kumo_chain_block_out_t out;
    fx_block(&fx->c, all, n, &out);
    for (size_t i = 0; i < n; i++) {
        if (out.results[i].code != 0) {
            fail_msg("height %" PRIu64 " tx %zu (%s): %s %s", fx->c.height, i,
                     i < fac_count ? "facilitator" : "user", kumo_err_name(out.results[i].code),
                     out.results[i].log);
        }
    }
    kumo_chain_block_out_free(&out);
    for (size_t i = 0; i < fac_count; i++) {
        kumo_buf_free(&fac[i]);
    }
    for (size_t i = 0; i < fx->tx_count; i++) {
        kumo_buf_free(&fx->txs[i]);
    }
    fx->tx_count = 0;
}

static void blocks_until(fac_fx_t *fx, uint64_t height)
{
    while (fx->c.height < height) {
        block(fx);
    }
}

/* The state of a stored object (decoded through the codec). */
static uint32_t
obj_state(fac_fx_t *fx, uint8_t prefix, int owner, uint32_t gseq, uint32_t oseq, int provider)
{
    uint8_t key[1 + KUMO_ADDRESS_BYTES + 8 + 4 + 4 + KUMO_ADDRESS_BYTES];
    size_t len = 0;
    key[len++] = prefix;
    memcpy(key + len, fx->c.addr[owner], KUMO_ADDRESS_BYTES);
    len += KUMO_ADDRESS_BYTES;
    kumo_be64_put(key + len, 1);
    len += 8;
    const ProtobufCMessageDescriptor *desc = &kumo__deployment__descriptor;
    if (prefix != 0x03) {
        kumo_be32_put(key + len, gseq);
        kumo_be32_put(key + len + 4, oseq);
        len += 8;
        desc = &kumo__order__descriptor;
    }
    if (prefix == 0x07) {
        memcpy(key + len, fx->c.addr[provider], KUMO_ADDRESS_BYTES);
        len += KUMO_ADDRESS_BYTES;
        desc = &kumo__lease__descriptor;
    }
    kumo_bytes_t val;
    assert_int_equal(fx->c.ts.kv.get(fx->c.ts.kv.ctx, kumo_bytes_make(key, len), &val, NULL), 0);
    ProtobufCMessage *m = NULL;
    assert_int_equal(kumo_codec_unpack(desc, val, KUMO_STATE_OBJECT_BYTES_MAX, &m, NULL), 0);
    uint32_t state = prefix == 0x03   ? (uint32_t)((Kumo__Deployment *)m)->state
                     : prefix == 0x05 ? (uint32_t)((Kumo__Order *)m)->state
                                      : (uint32_t)((Kumo__Lease *)m)->state;
    kumo_codec_free(m);
    return state;
}

#define DEP_STATE(fx, owner)            obj_state(fx, 0x03, owner, 0, 0, 0)
#define ORDER_STATE(fx, owner, g, o)    obj_state(fx, 0x05, owner, g, o, 0)
#define LEASE_STATE(fx, owner, g, o, p) obj_state(fx, 0x07, owner, g, o, p)

static void fac_fx_open(fac_fx_t *fx, uint32_t msgs_per_tx)
{
    memset(fx, 0, sizeof(*fx));
    Kumo__Params params;
    kumo_market_params_default(&params);
    params.min_fee = FX_FEE;
    params.min_deposit = 1000;
    params.reconfirmation_period = 5;
    fx_open(&fx->c, &params);
    fx->msgs_per_tx = msgs_per_tx;
    provider_create(fx, K_PROV);
    block(fx); /* 1 */
}

/* Another tenant's order that falls due at height due: deployed at due - 2 (match due - 1),
 * its bid queued for block due - 1, so the index holds it from block due on. Leaves the chain
 * at height due - 2. */
static void other_tenant_due_at(fac_fx_t *fx, uint64_t due)
{
    blocks_until(fx, due - 3);
    deploy(fx, K_OTHER, false, 1, 300, 10, 1, 100000);
    block(fx);
    bid(fx, K_PROV, K_OTHER, 0, 1, 300, 10);
}

/* Two groups leased at 4 for 400/block each on an escrow of 1000; both re-ordered at 5
 * (match 6, bids at 6), for each tenant in tenants. At 7 the first match settles its old
 * lease (1200 owed) and closes the deployment for insufficient funds, which closes the second
 * re-order: its SubmitLease fails on that state and is left out. */
static void escrow_emptied_for(fac_fx_t *fx, const int *tenants, size_t count)
{
    for (size_t t = 0; t < count; t++) {
        deploy(fx, tenants[t], false, 2, 100, 400, 1, 1000);
    }
    block(fx); /* 2: match 3 */
    for (size_t t = 0; t < count; t++) {
        bid(fx, K_PROV, tenants[t], 0, 1, 100, 400);
        bid(fx, K_PROV, tenants[t], 1, 1, 100, 400);
    }
    block(fx); /* 3: bids */
    block(fx); /* 4: both leased */
    for (size_t t = 0; t < count; t++) {
        assert_int_equal(LEASE_STATE(fx, tenants[t], 1, 1, K_PROV),
                         KUMO__LEASE_STATE__LEASE_ACTIVE);
        deploy(fx, tenants[t], true, 2, 200, 400, 0, 0);
    }
    other_tenant_due_at(fx, 7); /* 5: the re-orders, match 6 */
    for (size_t t = 0; t < count; t++) {
        bid(fx, K_PROV, tenants[t], 0, 2, 200, 400);
        bid(fx, K_PROV, tenants[t], 1, 2, 200, 400);
    }
    block(fx); /* 6: bids */
    block(fx); /* 7: due */
}

static void scenario_escrow_emptied(fac_fx_t *fx)
{
    static const int tenants[] = {K_TENANT};
    escrow_emptied_for(fx, tenants, KUMO_ARRAY_COUNT(tenants));
}

/* Two tenants at once: two msgs left out, with kept msgs before, between and after them. */
static void scenario_escrow_emptied_twice(fac_fx_t *fx)
{
    static const int tenants[] = {K_TENANT, K_THIRD};
    escrow_emptied_for(fx, tenants, KUMO_ARRAY_COUNT(tenants));
}

static void check_escrow_emptied_of(fac_fx_t *fx, int tenant)
{
    assert_int_equal(DEP_STATE(fx, tenant), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    assert_int_equal(ORDER_STATE(fx, tenant, 0, 2), KUMO__ORDER_STATE__ORDER_MATCHED);
    assert_int_equal(ORDER_STATE(fx, tenant, 1, 2), KUMO__ORDER_STATE__ORDER_CLOSED);
    assert_int_equal(LEASE_STATE(fx, tenant, 0, 1, K_PROV), KUMO__LEASE_STATE__LEASE_CLOSING);
    assert_int_equal(LEASE_STATE(fx, tenant, 1, 1, K_PROV), KUMO__LEASE_STATE__LEASE_CLOSING);
}

static void check_escrow_emptied(fac_fx_t *fx)
{
    check_escrow_emptied_of(fx, K_TENANT);
}

static void check_escrow_emptied_twice(fac_fx_t *fx)
{
    check_escrow_emptied_of(fx, K_TENANT);
    check_escrow_emptied_of(fx, K_THIRD);
}

/* A lease at 4 (stale from 10, period 5); the update at 9 re-orders with wait 1 (match 10)
 * and the bid lands in the same block: at 10 the lease is invalidated first (collateral to
 * the tenant, not paid as if served), then the new order leases the group. */
static void scenario_reorder_at_stale_height(fac_fx_t *fx)
{
    deploy(fx, K_TENANT, false, 1, 100, 10, 1, 100000);
    block(fx); /* 2: match 3 */
    bid(fx, K_PROV, K_TENANT, 0, 1, 100, 10);
    block(fx); /* 3 */
    block(fx); /* 4: leased, stale from 10 */
    other_tenant_due_at(fx, 10);
    assert_int_equal(fx->c.height, 8);
    deploy(fx, K_TENANT, true, 1, 200, 10, 0, 0);
    bid(fx, K_PROV, K_TENANT, 0, 2, 200, 10);
    block(fx); /* 9: the re-order (match 10) and its bid */
    block(fx); /* 10: due */
}

static void check_reorder_at_stale_height(fac_fx_t *fx)
{
    assert_int_equal(LEASE_STATE(fx, K_TENANT, 0, 1, K_PROV), KUMO__LEASE_STATE__LEASE_STALE);
    assert_int_equal(LEASE_STATE(fx, K_TENANT, 0, 2, K_PROV), KUMO__LEASE_STATE__LEASE_ACTIVE);
    assert_int_equal(DEP_STATE(fx, K_TENANT), KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
}

static const struct {
    const char *name;
    void (*scenario)(fac_fx_t *fx);
    void (*check)(fac_fx_t *fx);
    uint32_t want_due;
    uint32_t want_dropped;
} cases[] = {
    {"escrow emptied by an earlier settlement", scenario_escrow_emptied, check_escrow_emptied, 3,
     1},
    {"two escrows emptied", scenario_escrow_emptied_twice, check_escrow_emptied_twice, 5, 2},
    {"re-order due at the old lease's stale height", scenario_reorder_at_stale_height,
     check_reorder_at_stale_height, 3, 0},
};

static void test_build_keeps_only_msgs_that_succeed_in_order(void **state)
{
    (void)state;
    static const uint32_t msgs_per_tx[] = {1, 2, 256};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        for (size_t j = 0; j < KUMO_ARRAY_COUNT(msgs_per_tx); j++) {
            fac_fx_t *fx = calloc(1, sizeof(*fx));
            assert_non_null(fx);
            fac_fx_open(fx, msgs_per_tx[j]);
            cases[i].scenario(fx);
            if (fx->stats.due_count != cases[i].want_due ||
                fx->stats.dropped_count != cases[i].want_dropped) {
                fail_msg("%s (%u msgs/tx): due %u dropped %u, want %u and %u", cases[i].name,
                         msgs_per_tx[j], fx->stats.due_count, fx->stats.dropped_count,
                         cases[i].want_due, cases[i].want_dropped);
            }
            cases[i].check(fx);
            /* The other tenant's order, due in the same block, was leased. */
            assert_int_equal(ORDER_STATE(fx, K_OTHER, 0, 1), KUMO__ORDER_STATE__ORDER_MATCHED);
            assert_int_equal(LEASE_STATE(fx, K_OTHER, 0, 1, K_PROV),
                             KUMO__LEASE_STATE__LEASE_ACTIVE);
            fx_close(&fx->c);
            free(fx);
        }
    }
}

/* The first scenario up to the block before the due one (height 6). */
static void due_block_state(fac_fx_t *fx)
{
    fac_fx_open(fx, 256);
    deploy(fx, K_TENANT, false, 2, 100, 400, 1, 1000);
    block(fx);
    bid(fx, K_PROV, K_TENANT, 0, 1, 100, 400);
    bid(fx, K_PROV, K_TENANT, 1, 1, 100, 400);
    block(fx);
    block(fx);
    deploy(fx, K_TENANT, true, 2, 200, 400, 0, 0);
    block(fx);
    bid(fx, K_PROV, K_TENANT, 0, 2, 200, 400);
    bid(fx, K_PROV, K_TENANT, 1, 2, 200, 400);
    block(fx);
    assert_int_equal(fx->c.height, 6);
}

/* Builds the txs of block 7 on kv. */
static int build_once(fac_fx_t *fx,
                      const kumo_kv_t *kv,
                      uint64_t *seq,
                      size_t *count,
                      kumo_buf_t *txs,
                      kumo_err_ctx_t *err)
{
    return kumo_chain_facilitator_txs_build(kv, FX_CHAIN_ID, fx->c.height + 1, &fx->c.keys[K_VAL],
                                            seq, 256, txs, TX_MAX, count, NULL, err);
}

static void write_set_hash(fac_fx_t *fx, uint8_t out[KUMO_CHAIN_HASH_BYTES])
{
    assert_int_equal(kumo_chain_app_hash_compute(&fx->c.ts.kv, fx->c.app_hash, out, NULL), 0);
}

static void test_build_leaves_kv_and_write_set_unchanged(void **state)
{
    (void)state;
    fac_fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    due_block_state(fx);
    uint8_t digest_before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t digest_after[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t ws_before[KUMO_CHAIN_HASH_BYTES];
    uint8_t ws_after[KUMO_CHAIN_HASH_BYTES];
    assert_int_equal(kumo_test_kv_digest(&fx->c.ts.kv, digest_before), 0);
    write_set_hash(fx, ws_before);
    kumo_buf_t txs[TX_MAX];
    size_t count = 0;
    uint64_t seq = 7;
    assert_int_equal(build_once(fx, &fx->c.ts.kv, &seq, &count, txs, NULL), 0);
    assert_true(count > 0);
    assert_int_equal(seq, 7 + count);
    for (size_t i = 0; i < count; i++) {
        kumo_buf_free(&txs[i]);
    }
    assert_int_equal(kumo_test_kv_digest(&fx->c.ts.kv, digest_after), 0);
    write_set_hash(fx, ws_after);
    assert_memory_equal(digest_before, digest_after, sizeof(digest_before));
    assert_memory_equal(ws_before, ws_after, sizeof(ws_before));
    fx_close(&fx->c);
    free(fx);
}

static void test_build_refuses_read_only_snapshot(void **state)
{
    (void)state;
    fac_fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    due_block_state(fx);
    /* Commit the open block so a snapshot sees the due items. */
    assert_int_equal(kumo_store_block_commit(fx->c.ts.store, fx->c.height, fx->c.app_hash, NULL),
                     0);
    assert_int_equal(kumo_store_block_begin(fx->c.ts.store, &fx->c.ts.kv, NULL), 0);
    kumo_store_read_t *read = NULL;
    kumo_kv_t snap;
    assert_int_equal(kumo_store_read_begin(fx->c.ts.store, &read, &snap, NULL), 0);
    kumo_buf_t txs[TX_MAX];
    size_t count = 99;
    uint64_t seq = 7;
    kumo_err_ctx_t err = {0};
    assert_int_equal(build_once(fx, &snap, &seq, &count, txs, &err), KUMO_EINVAL);
    assert_int_equal(count, 0);
    assert_int_equal(seq, 7);
    kumo_store_read_end(read);
    fx_close(&fx->c);
    free(fx);
}

static void test_build_alloc_failure_leaves_nothing(void **state)
{
    (void)state;
    fac_fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    due_block_state(fx);
    uint8_t digest_before[KUMO_TEST_KV_DIGEST_BYTES];
    assert_int_equal(kumo_test_kv_digest(&fx->c.ts.kv, digest_before), 0);
    bool done = false;
    for (uint64_t nth = 1; !done && nth < 100000; nth++) {
        kumo_buf_t txs[TX_MAX];
        size_t count = 99;
        uint64_t seq = 7;
        kumo_err_ctx_t err = {0};
        kumo_alloc_fail_at(nth);
        int rc = build_once(fx, &fx->c.ts.kv, &seq, &count, txs, &err);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            assert_true(count > 0);
            for (size_t i = 0; i < count; i++) {
                kumo_buf_free(&txs[i]);
            }
            done = true;
        } else {
            if (rc != KUMO_ENOMEM) {
                fail_msg("allocation %" PRIu64 ": %s %s", nth, kumo_err_name(rc), err.detail);
            }
            assert_int_equal(count, 0);
            assert_int_equal(seq, 7);
        }
        uint8_t digest_after[KUMO_TEST_KV_DIGEST_BYTES];
        assert_int_equal(kumo_test_kv_digest(&fx->c.ts.kv, digest_after), 0);
        assert_memory_equal(digest_before, digest_after, sizeof(digest_before));
    }
    assert_true(done);
    fx_close(&fx->c);
    free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_keeps_only_msgs_that_succeed_in_order),
        cmocka_unit_test(test_build_leaves_kv_and_write_set_unchanged),
        cmocka_unit_test(test_build_refuses_read_only_snapshot),
        cmocka_unit_test(test_build_alloc_failure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
