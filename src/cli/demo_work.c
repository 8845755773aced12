/*
 * demo_work.c - the datacenters' workflows (BidOnOpenOrders, ConfirmCurrentLeases) and the
 * closing summary of `kumo demo`, run against committed state through market queries.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bank/bank.h"
#include "cli/demo_int.h"

typedef struct demo_bid_ctx {
    demo_t *d;
    int provider;
} demo_bid_ctx_t;

static bool demo_bid_seen(demo_t *d, const char *key)
{
    for (size_t i = 0; i < d->bid_count; i++) {
        if (strcmp(d->bids[i], key) == 0) {
            return true;
        }
    }
    if (d->bid_count < DEMO_BID_MAX) {
        (void)snprintf(d->bids[d->bid_count++], DEMO_BID_KEY_BYTES, "%s", key);
    }
    return false;
}

static int demo_bid_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    demo_bid_ctx_t *bc = cb_ctx;
    const Kumo__Order *order = (const Kumo__Order *)obj;
    if (strcmp(order->region, demo_regions[bc->provider]) != 0) {
        return 0;
    }
    char id[KUMO_ID_TEXT_BYTES];
    DEMO_MUST(kumo_codec_order_id_format(order->id, id));
    char key[DEMO_BID_KEY_BYTES];
    (void)snprintf(key, sizeof(key), "%d:%s", bc->provider, id);
    if (demo_bid_seen(bc->d, key)) {
        return 0;
    }
    Kumo__ResourceGroup rgs[KUMO_RESOURCE_COUNT_MAX];
    Kumo__ResourceGroup *rg_ptrs[KUMO_RESOURCE_COUNT_MAX];
    memset(rgs, 0, sizeof(rgs));
    KUMO_ASSERT(order->n_resources >= 1 && order->n_resources <= KUMO_RESOURCE_COUNT_MAX);
    for (size_t i = 0; i < order->n_resources; i++) {
        rgs[i] = *order->resources[i];
        rgs[i].price = kumo_u64_min(demo_unit_price[bc->provider], order->resources[i]->price);
        rg_ptrs[i] = &rgs[i];
    }
    Kumo__MsgSubmitFulfillment sf = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
    sf.order = order->id;
    sf.n_resources = order->n_resources;
    sf.resources = rg_ptrs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
    msg.submit_fulfillment = &sf;
    demo_tx_add(bc->d, bc->provider, &msg);
    char named[KUMO_ID_TEXT_BYTES];
    demo_names_apply(bc->d, id, named, sizeof(named));
    printf("  %s bids %" PRIu64 " ukumo/unit/block on order %s\n", demo_actor_names[bc->provider],
           rgs[0].price, named);
    return 0;
}

void demo_bid_on_open_orders(demo_t *d, int provider)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    DEMO_MUST(kumo_node_read_begin(d->net, &read, &kv, NULL));
    kumo_market_query_t q = {
        .object = KUMO_MARKET_OBJ_ORDER,
        .state = KUMO__ORDER_STATE__ORDER_OPEN,
        .limit = 100,
    };
    demo_bid_ctx_t bc = {.d = d, .provider = provider};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    DEMO_MUST(kumo_market_query_run(&kv, &q, demo_bid_cb, &bc, &next, NULL));
    kumo_buf_free(&next);
    kumo_store_read_end(read);
}

#define DEMO_CONFIRM_MAX 16u

typedef struct demo_confirm_ctx {
    uint64_t height;
    size_t count;
    uint8_t owner[DEMO_CONFIRM_MAX][KUMO_ADDRESS_BYTES];
    Kumo__OrderId ids[DEMO_CONFIRM_MAX];
    Kumo__LeaseConfirmation confs[DEMO_CONFIRM_MAX];
    Kumo__LeaseConfirmation *conf_ptrs[DEMO_CONFIRM_MAX];
} demo_confirm_ctx_t;

static int demo_confirm_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    demo_confirm_ctx_t *cc = cb_ctx;
    const Kumo__Lease *lease = (const Kumo__Lease *)obj;
    bool closing = lease->state == KUMO__LEASE_STATE__LEASE_CLOSING;
    bool due = lease->state == KUMO__LEASE_STATE__LEASE_ACTIVE &&
               cc->height - lease->last_confirmed_height >= DEMO_CONFIRM_EVERY;
    if ((!closing && !due) || cc->count >= DEMO_CONFIRM_MAX) {
        return 0;
    }
    size_t i = cc->count++;
    KUMO_ASSERT(lease->id->order->owner.len == KUMO_ADDRESS_BYTES);
    memcpy(cc->owner[i], lease->id->order->owner.data, KUMO_ADDRESS_BYTES);
    cc->ids[i] = *lease->id->order;
    cc->ids[i].owner.data = cc->owner[i];
    kumo__lease_confirmation__init(&cc->confs[i]);
    cc->confs[i].order = &cc->ids[i];
    cc->confs[i].released = closing;
    cc->conf_ptrs[i] = &cc->confs[i];
    return 0;
}

void demo_confirm_current_leases(demo_t *d, int provider, uint64_t height)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    DEMO_MUST(kumo_node_read_begin(d->net, &read, &kv, NULL));
    kumo_market_query_t q = {
        .object = KUMO_MARKET_OBJ_LEASE,
        .provider = d->addr[provider],
        .limit = 100,
    };
    demo_confirm_ctx_t cc = {.height = height};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    DEMO_MUST(kumo_market_query_run(&kv, &q, demo_confirm_cb, &cc, &next, NULL));
    kumo_buf_free(&next);
    kumo_store_read_end(read);
    if (cc.count == 0) {
        return;
    }
    Kumo__MsgSubmitLeaseConfirmation lc = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    lc.n_confirmations = cc.count;
    lc.confirmations = cc.conf_ptrs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &lc;
    demo_tx_add(d, provider, &msg);
    printf("  %s confirms %zu lease(s)%s\n", demo_actor_names[provider], cc.count,
           cc.confs[0].released ? " as released" : "");
}

int demo_summary(demo_t *d)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    DEMO_MUST(kumo_node_read_begin(d->net, &read, &kv, NULL));
    printf("\n── result after block %" PRIu64 " ──\n", d->height);
    printf("  %-10s %12s %12s\n", "actor", "balance", "change");
    for (int i = 0; i < DEMO_ACTOR_COUNT; i++) {
        Kumo__Account *acct = NULL;
        DEMO_MUST(kumo_bank_account_get(&kv, d->addr[i], &acct, NULL));
        int64_t change = (int64_t)acct->balance - 1000000;
        printf("  %-10s %12" PRIu64 " %+12" PRId64 "\n", demo_actor_names[i], acct->balance,
               change);
        kumo_codec_free(&acct->base);
    }
    Kumo__Global *global = NULL;
    DEMO_MUST(kumo_market_global_get(&kv, &global, NULL));
    kumo_bank_totals_t totals;
    DEMO_MUST(kumo_bank_totals_get(&kv, &totals, NULL));
    printf("  supply %" PRIu64 " (minted interest %" PRIu64 "), fee pool %" PRIu64
           ", escrow %" PRIu64 ", locked collateral %" PRIu64 "\n",
           totals.supply, global->minted_interest, totals.fee_pool, global->escrow_total,
           global->collateral_total);
    kumo_codec_free(&global->base);
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_invariants_check(&kv, &err);
    printf("  invariants: %s%s\n", rc == 0 ? "hold" : "BROKEN: ", rc == 0 ? "" : err.detail);
    printf("  deployment 1: %s\n", d->closed ? "closed" : "NOT closed");
    kumo_store_read_end(read);
    return rc == 0 && d->closed ? 0 : 1;
}
