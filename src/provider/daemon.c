/*
 * daemon.c - the provider daemon's main thread: it follows the node's
 * event stream (GET /events, Server-Sent Events, resumed from the last height it saw after a
 * reconnect; no polling), bids on every open order it can serve (kumo_provider_bid_decide:
 * region, free capacity counting what its open bids hold, price cap, collateral budget, a
 * runtime that answers) and releases what a bid holds when it is refunded, evicted,
 * cancelled or lost, or when its lease ends. Every block (and every manifest the API stored)
 * runs pd_work (work.c): containers, confirmations, releases. The node is reached through
 * the node client (src/client: queries, txs, the stream), blocking on this thread; the event
 * stream drives everything. The HTTPS API runs on its own thread
 * (backend.c).
 */
#include "provider/daemon_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "chain/chain.h"
#include "codec/codec.h"
#include "file/file.h"
#include "log/log.h"
#include "market/market.h"
#include "runtime/runtime.h"

/* A freed hold scans the open orders again at most this often (blocks); the runtime coming
 * back does at once. */
#define PD_RESCAN_EVERY 5u

/* The page callbacks of the daemon's lists return nothing: a page walk stops only on a node
 * failure. */
typedef struct pd_list_ctx {
    pd_item_cb item;
    pd_page_cb page_done;
    void *ctx;
} pd_list_ctx_t;

static int pd_list_item(void *ctx, const json_t *item, kumo_err_ctx_t *err)
{
    (void)err;
    const pd_list_ctx_t *l = ctx;
    l->item(l->ctx, item);
    return 0;
}

static int pd_list_page(void *ctx, kumo_err_ctx_t *err)
{
    (void)err;
    const pd_list_ctx_t *l = ctx;
    if (l->page_done != NULL) {
        l->page_done(l->ctx);
    }
    return 0;
}

int pd_list_each(kumo_client_t *c,
                 const char *query,
                 uint32_t page_max,
                 pd_item_cb item,
                 pd_page_cb page_done,
                 void *ctx,
                 kumo_err_ctx_t *err)
{
    pd_list_ctx_t l = {item, page_done, ctx};
    return kumo_client_list_each(c, query, page_max, pd_list_item, pd_list_page, &l, NULL, err);
}

uint64_t pd_u64(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? strtoull(s, NULL, 10)
                     : (uint64_t)json_integer_value(json_object_get(o, key));
}

static int pd_sequence_load(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    char path[160];
    (void)snprintf(path, sizeof(path), "/accounts/%s", d->addr);
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_client_object_get(d->client, path, &kumo__account__descriptor, &m, err));
    d->sequence = ((const Kumo__Account *)m)->sequence;
    kumo_codec_free(m);
    return 0;
}

/* One retry after re-reading the sequence if the node says it is wrong. */
int pd_tx_send(kumo_provider_daemon_t *d, Kumo__Msg *const *msgs, size_t count, kumo_err_ctx_t *err)
{
    int rc = KUMO_ESEQUENCE;
    for (int attempt = 0; attempt < 2 && rc == KUMO_ESEQUENCE; attempt++) {
        if (attempt > 0) {
            KUMO_GUARD(pd_sequence_load(d, err));
        }
        kumo_buf_t tx;
        kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
        rc = kumo_chain_tx_build(d->chain_id, &d->key, d->sequence, d->min_fee, "", msgs, count,
                                 &tx, err);
        rc = rc == 0 ? kumo_client_tx_broadcast(d->client, kumo_buf_bytes(&tx), 0, NULL, NULL, err)
                     : rc;
        kumo_buf_free(&tx);
    }
    if (rc == 0) {
        d->sequence++;
        d->tx_height = d->height;
    }
    return rc;
}

/* ---- what open bids and leases hold ---- */

/* Capacity, budget and table slots left after what open bids and leases hold. Leases are
 * counted both ways the daemon knows them (its holds, and the node's list at the last pass
 * plus open bids), the larger wins: neither may be stale in the unsafe direction. */
static kumo_provider_free_t pd_free(const kumo_provider_daemon_t *d)
{
    kumo_provider_free_t f = {.cpu_milli = d->cfg.capacity_cpu_milli,
                              .memory_bytes = d->cfg.capacity_memory_bytes,
                              .storage_bytes = d->cfg.capacity_storage_bytes,
                              .collateral = d->cfg.collateral_budget,
                              .start_slots = UINT64_MAX};
    uint64_t gpus_all = d->cfg.gpu_count == 64u ? UINT64_MAX : (1ull << d->cfg.gpu_count) - 1u;
    f.gpu_free_mask = gpus_all & ~pd_gpus_held(d);
    uint32_t open_bids = 0;
    uint64_t units = 0;
    for (uint32_t i = 0; i < d->hold_count; i++) {
        const kumo_provider_bid_t *b = &d->holds[i].bid;
        f.cpu_milli -= b->cpu_milli < f.cpu_milli ? b->cpu_milli : f.cpu_milli;
        f.memory_bytes -= b->memory_bytes < f.memory_bytes ? b->memory_bytes : f.memory_bytes;
        f.storage_bytes -= b->storage_bytes < f.storage_bytes ? b->storage_bytes : f.storage_bytes;
        f.collateral -= b->collateral < f.collateral ? b->collateral : f.collateral;
        open_bids += d->holds[i].lease ? 0u : 1u;
        units += b->unit_count;
    }
    KUMO_ASSERT(d->hold_count <= PD_HOLD_MAX && d->lease_count <= PD_LEASE_MAX);
    uint32_t held =
        d->lease_count + open_bids > d->hold_count ? d->lease_count + open_bids : d->hold_count;
    f.lease_slots = held < d->cfg.lease_count_max ? d->cfg.lease_count_max - held : 0;
    units = units > d->container_count ? units : d->container_count;
    f.instance_slots =
        units < KUMO_PROVIDER_INSTANCE_COUNT_MAX ? KUMO_PROVIDER_INSTANCE_COUNT_MAX - units : 0;
    return f;
}

/* ---- the pace: never more waiting starts than the runtime gets through in time ---- */

/* Before anything is measured: a block of a second, a container start of three (about what
 * one takes on a busy machine, docs/design.md §10). */
#define PD_PACE_BLOCK_MS_PRIOR 1000u
#define PD_PACE_START_MS_PRIOR 3000u

uint64_t pd_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* avg += (sample - avg) / 2^shift, in integers; the first sample replaces the prior. */
/* A moving average that takes a sample above it with weight 2^-up and one below with 2^-down
 * (the first sample replaces the prior). */
static uint64_t pd_avg(uint64_t avg, uint64_t sample, uint64_t samples, unsigned up, unsigned down)
{
    if (samples == 0) {
        return sample;
    }
    return sample >= avg ? avg + ((sample - avg) >> up) : avg - ((avg - sample) >> down);
}

void pd_pace_start(kumo_provider_daemon_t *d, uint64_t busy_ms)
{
    /* Quick to believe a slower runtime, slow to believe a faster one: leases won at a pace
     * that no longer holds go stale, a start slot left unused costs only a bid. */
    d->start_ms = pd_avg(d->start_ms, busy_ms, d->start_samples++, 1u, 3u);
    d->rescan_due = d->rescan_due || d->missed; /* a start done: room for what was busy */
}

/* Block h arrived now: one block after the other gives a sample of the block time. */
static void pd_pace_block(kumo_provider_daemon_t *d, uint64_t h)
{
    uint64_t now = pd_now_ms();
    if (d->block_seen_height != 0 && h == d->block_seen_height + 1u) {
        d->block_ms = pd_avg(d->block_ms, now - d->block_seen_ms, 1u, 3u, 3u);
    }
    if (h > d->block_seen_height) {
        d->block_seen_height = h;
        d->block_seen_ms = now;
    }
}

/* Whether orders a and b ("owner/dseq/gseq/oseq") are of one deployment. */
static bool pd_same_deployment(const char *a, const char *b)
{
    int slashes = 0;
    for (size_t i = 0; a[i] == b[i]; i++) {
        if (a[i] == '\0' || (a[i] == '/' && ++slashes == 2)) {
            return true;
        }
    }
    return false;
}

/* Its other groups' bids wait on the same manifest: counting them would stop a deployment
 * larger than the window from ever being bid on whole. */
uint64_t pd_start_backlog(const kumo_provider_daemon_t *d, const char *order)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < d->hold_count; i++) {
        const pd_hold_t *h = &d->holds[i];
        if ((!h->lease || h->waiting) && !pd_same_deployment(h->order, order)) {
            n += h->bid.unit_count;
        }
    }
    return n;
}

static uint64_t pd_start_slots(const kumo_provider_daemon_t *d, uint64_t backlog)
{
    kumo_provider_pace_t pace = {.period_blocks = d->period,
                                 .margin_blocks = d->cfg.confirm_margin_blocks,
                                 .block_ms = d->block_ms,
                                 .start_ms = d->start_ms};
    return kumo_provider_start_slots(&pace, backlog);
}

static pd_hold_t *pd_hold_find(kumo_provider_daemon_t *d, const char *order)
{
    for (uint32_t i = 0; i < d->hold_count; i++) {
        if (strcmp(d->holds[i].order, order) == 0) {
            return &d->holds[i];
        }
    }
    return NULL;
}

static void pd_hold_release(kumo_provider_daemon_t *d, const char *order, const char *why)
{
    pd_hold_t *h = pd_hold_find(d, order);
    if (h != NULL) {
        KUMO_LOG_INFO("provider", "hold_released", "order=%s reason=%s gpus=%u", order, why,
                      h->bid.gpu_count);
        bool gpus = h->bid.gpu_count > 0;
        *h = d->holds[--d->hold_count];
        d->rescan_due = d->rescan_due || d->missed; /* room for what was passed over */
        if (gpus) {
            pd_gpus_save(d); /* its GPUs are free again */
        }
    }
}

void pd_hold_waiting(kumo_provider_daemon_t *d, const pd_lease_t *l, bool waiting)
{
    char order[KUMO_ID_TEXT_BYTES];
    (void)snprintf(order, sizeof(order), "%s/%" PRIu64 "/%u/%u", l->owner, l->dseq, l->gseq,
                   l->oseq);
    pd_hold_t *h = pd_hold_find(d, order);
    if (h != NULL && h->waiting != waiting) {
        h->waiting = waiting;
        d->rescan_due = d->rescan_due || (d->missed && !waiting);
    }
}

/* ---- holds after a restart ---- */

static bool
pd_lease_live(const kumo_provider_daemon_t *d, const Kumo__OrderId *id, const char *owner)
{
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->dseq == id->dseq && l->gseq == id->gseq && l->oseq == id->oseq &&
            strcmp(l->owner, owner) == 0) {
            return true;
        }
    }
    return false;
}

/* One of our fulfillments (JSON from the node) as a hold, if it still holds resources: an
 * open bid, or a matched one whose lease is active or closing (d->leases). */
static void pd_hold_restore(kumo_provider_daemon_t *d, const json_t *fj)
{
    ProtobufCMessage *m = NULL;
    if (kumo_codec_json_to_message(&kumo__fulfillment__descriptor, fj, &m, NULL) < 0) {
        return;
    }
    const Kumo__Fulfillment *f = (const Kumo__Fulfillment *)m;
    const char *owner = json_string_value(
        json_object_get(json_object_get(json_object_get(fj, "id"), "order"), "owner"));
    bool open = f->state == KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN;
    if (owner != NULL && f->id != NULL && f->id->order != NULL && d->hold_count < PD_HOLD_MAX &&
        (open || pd_lease_live(d, f->id->order, owner))) {
        pd_hold_t *h = &d->holds[d->hold_count++];
        memset(h, 0, sizeof(*h));
        (void)snprintf(h->order, sizeof(h->order), "%s/%" PRIu64 "/%u/%u", owner,
                       f->id->order->dseq, f->id->order->gseq, f->id->order->oseq);
        h->lease = !open;
        for (size_t i = 0; i < f->n_resources; i++) { /* amounts the chain accepted: no overflow */
            const Kumo__ResourceGroup *r = f->resources[i];
            uint64_t n = r->count;
            h->bid.cpu_milli += r->compute != NULL ? n * r->compute->cpu_milli : 0;
            h->bid.memory_bytes += r->compute != NULL ? n * r->compute->memory_bytes : 0;
            h->bid.storage_bytes += r->compute != NULL ? n * r->compute->storage_bytes : 0;
            h->bid.collateral += n * r->collateral;
            h->bid.price_total += n * r->price;
            h->bid.unit_count += n;
        }
        pd_gpus_restore(d, h, f->resources, f->n_resources);
    }
    kumo_codec_free(m);
}

/* What our open bids and live leases hold, from the chain (a restarted daemon must not bid
 * as if it were empty). Needs d->leases (pd_work ran). */
static void pd_hold_restore_cb(void *ctx, const json_t *item)
{
    pd_hold_restore(ctx, item);
}

static void pd_holds_rebuild(kumo_provider_daemon_t *d)
{
    d->hold_count = 0;
    pd_gpus_load(d);
    /* Open bids, then matched ones (of which those with a live lease hold): each list by
     * state, so matched bids of ended leases cannot crowd the open ones out of the pages. */
    static const char *const states[] = {"FULFILLMENT_OPEN", "FULFILLMENT_MATCHED"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(states); i++) {
        char query[200];
        (void)snprintf(query, sizeof(query), "/fulfillments?provider=%s&state=%s", d->addr,
                       states[i]);
        kumo_err_ctx_t err = {0};
        if (pd_list_each(d->client, query, PD_HOLD_MAX / 100u + 1u, pd_hold_restore_cb, NULL, d,
                         &err) < 0) {
            KUMO_LOG_WARN("provider", "holds_unreadable", "detail=\"%s\"", err.detail);
        }
    }
    KUMO_LOG_INFO("provider", "holds_restored", "count=%u gpus_held=%d", d->hold_count,
                  __builtin_popcountll(pd_gpus_held(d)));
    pd_gpus_save(d);
}

/* ---- bidding ---- */

/* Bids of one scan, sent as one tx (one block's worth of bids costs one fee and one
 * sequence). */
#define PD_BATCH_MAX 64u

typedef struct pd_batch {
    ProtobufCMessage *orders[PD_BATCH_MAX]; /* unpacked orders the msgs borrow from */
    Kumo__MsgSubmitFulfillment sf[PD_BATCH_MAX];
    Kumo__Msg msg[PD_BATCH_MAX];
    Kumo__Msg *ptrs[PD_BATCH_MAX];
    pd_hold_t holds[PD_BATCH_MAX];
    uint32_t count;
    bool runtime_ok;          /* the runtime answered when this scan began */
    pd_placement_t placement; /* read once per scan, when an order has requirements */
    uint32_t busy;            /* orders passed over as busy (one log line per scan) */
} pd_batch_t;

/* The deployment's entry in the bid queue, or NULL. */
static pd_bidq_t *pd_bidq_find(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq)
{
    for (uint32_t i = 0; i < d->bidq_count; i++) {
        if (d->bidq[i].dseq == dseq && strcmp(d->bidq[i].owner, owner) == 0) {
            return &d->bidq[i];
        }
    }
    return NULL;
}

/* Queues a bid on the open orders of deployment owner/dseq: at once for a new order, after
 * a backoff (1, 2, 4 ... PD_BIDQ_BACKOFF_MAX blocks) when its bid tx was refused. A full
 * queue falls back to a full rescan. */
static void pd_bidq_add(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, bool refused)
{
    pd_bidq_t *q = pd_bidq_find(d, owner, dseq);
    if (q == NULL && d->bidq_count == PD_BIDQ_MAX) {
        d->missed = true;
        d->rescan_due = true;
        return;
    }
    if (q == NULL) {
        q = &d->bidq[d->bidq_count++];
        memset(q, 0, sizeof(*q));
        (void)snprintf(q->owner, sizeof(q->owner), "%s", owner);
        q->dseq = dseq;
        q->due_height = d->height;
    }
    if (refused) {
        q->pending = false;
        q->failures += q->failures < 16u ? 1u : 0u;
        uint64_t backoff = 1ull << (q->failures - 1u < 5u ? q->failures - 1u : 5u);
        q->due_height = d->height + (backoff < PD_BIDQ_BACKOFF_MAX ? backoff : PD_BIDQ_BACKOFF_MAX);
    }
    KUMO_ASSERT(d->bidq_count <= PD_BIDQ_MAX);
}

/* The bids of an order whose tx was refused go back to the queue (by its deployment). */
static void pd_bid_refused(kumo_provider_daemon_t *d, const char *order)
{
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    const char *slash = strchr(order, '/');
    size_t n = slash != NULL ? (size_t)(slash - order) : 0;
    if (n == 0 || n >= sizeof(owner)) {
        return;
    }
    memcpy(owner, order, n);
    owner[n] = '\0';
    pd_bidq_add(d, owner, strtoull(slash + 1, NULL, 10), true);
    d->bids_refused++;
}

/* Sends the batch; on success its holds count against capacity and budget. A refused tx
 * (any reason: a full mempool, the account's future-sequence limit, an order that closed)
 * holds every other bid tx until the next block and queues its orders' deployments again. */
static void pd_batch_flush(kumo_provider_daemon_t *d, pd_batch_t *b)
{
    if (b->count == 0) {
        return;
    }
    kumo_err_ctx_t err = {0};
    int rc = d->height < d->bid_held_until
                 ? kumo_err_set(&err, KUMO_ELIMIT, "held: a bid tx was refused at this height")
                 : pd_tx_send(d, b->ptrs, b->count, &err);
    bool gpus = false;
    for (uint32_t i = 0; i < b->count; i++) {
        if (rc == 0 && d->hold_count < PD_HOLD_MAX) {
            d->holds[d->hold_count++] = b->holds[i];
            d->bids_sent++;
            gpus = gpus || b->holds[i].bid.gpu_count > 0;
            KUMO_LOG_INFO("provider", "bid_sent",
                          "order=%s price_per_block=%" PRIu64 " collateral=%" PRIu64 " gpus=%u",
                          b->holds[i].order, b->holds[i].bid.price_total,
                          b->holds[i].bid.collateral, b->holds[i].bid.gpu_count);
        }
        if (rc < 0) {
            pd_bid_refused(d, b->holds[i].order);
        }
        kumo_codec_free(b->orders[i]);
    }
    if (gpus) {
        pd_gpus_save(d); /* before a lease can start on them */
    }
    if (rc < 0) {
        d->bid_held_until = d->height + 1u;
        KUMO_LOG_WARN("provider", "bids_failed", "count=%u code=%s detail=\"%s\" (retried)",
                      b->count, kumo_err_name(rc), err.detail);
    }
    b->count = 0;
}

/* Whether the batch already bids on order. */
static bool pd_batch_pending(const pd_batch_t *b, const char *order)
{
    for (uint32_t i = 0; i < b->count; i++) {
        if (strcmp(b->holds[i].order, order) == 0) {
            return true;
        }
    }
    return false;
}

static bool pd_verdict_may_pass(kumo_provider_bid_verdict_t v)
{
    switch (v) {
    case KUMO_PROVIDER_BID_RUNTIME:
    case KUMO_PROVIDER_BID_CAPACITY:
    case KUMO_PROVIDER_BID_BUDGET:
    case KUMO_PROVIDER_BID_FULL:
    case KUMO_PROVIDER_BID_GPU: /* a lease's GPUs come free when it ends */
    case KUMO_PROVIDER_BID_BUSY:
        return true;
    case KUMO_PROVIDER_BID_OK:
    case KUMO_PROVIDER_BID_REGION:
    case KUMO_PROVIDER_BID_PRICE:
    case KUMO_PROVIDER_BID_REQUIREMENTS:
        return false;
    default:
        KUMO_UNREACHABLE();
    }
}

void pd_runtime_seen(kumo_provider_daemon_t *d, bool up)
{
    if (up && !d->runtime_up) {
        KUMO_LOG_INFO("provider", "runtime_up", "socket=%s missed_orders=%d", d->cfg.runtime_socket,
                      d->missed);
        d->rescan_due = d->rescan_due || d->missed;
        d->rescan_height = 0; /* at once, whatever the last scan */
    } else if (!up && d->runtime_up) {
        KUMO_LOG_WARN("provider", "runtime_down", "socket=%s (no bids, no confirmations)",
                      d->cfg.runtime_socket);
    }
    d->runtime_up = up;
}

/* Adds a bid on one open order (as JSON from the node) to the batch if the provider can
 * serve it, counting what the batch already holds. */
static void pd_order_consider(kumo_provider_daemon_t *d, const json_t *order_json, pd_batch_t *b)
{
    ProtobufCMessage *m = NULL;
    kumo_err_ctx_t err = {0};
    if (kumo_codec_json_to_message(&kumo__order__descriptor, order_json, &m, &err) < 0) {
        KUMO_LOG_WARN("provider", "order_unreadable", "detail=\"%s\"", err.detail);
        return;
    }
    Kumo__Order *o = (Kumo__Order *)m;
    pd_hold_t *h = &b->holds[b->count];
    memset(h, 0, sizeof(*h));
    (void)snprintf(h->order, sizeof(h->order), "%s/%" PRIu64 "/%u/%u",
                   json_string_value(json_object_get(json_object_get(order_json, "id"), "owner")),
                   o->id->dseq, o->id->gseq, o->id->oseq);
    Kumo__GroupSpec g = KUMO__GROUP_SPEC__INIT;
    g.region = o->region;
    g.n_resources = o->n_resources;
    g.resources = o->resources;
    kumo_provider_free_t f = pd_free(d);
    f.lease_slots -= b->count < f.lease_slots ? b->count : f.lease_slots;
    uint64_t backlog = pd_start_backlog(d, h->order);
    for (uint32_t i = 0; i < b->count; i++) { /* what this batch already holds */
        const kumo_provider_bid_t *x = &b->holds[i].bid;
        backlog += pd_same_deployment(b->holds[i].order, h->order) ? 0u : x->unit_count;
        f.instance_slots -= x->unit_count < f.instance_slots ? x->unit_count : f.instance_slots;
        f.cpu_milli -= x->cpu_milli < f.cpu_milli ? x->cpu_milli : f.cpu_milli;
        f.memory_bytes -= x->memory_bytes < f.memory_bytes ? x->memory_bytes : f.memory_bytes;
        f.storage_bytes -= x->storage_bytes < f.storage_bytes ? x->storage_bytes : f.storage_bytes;
        f.collateral -= x->collateral < f.collateral ? x->collateral : f.collateral;
        f.gpu_free_mask &= ~x->gpu_mask;
    }
    f.start_slots = pd_start_slots(d, backlog);
    kumo_provider_bid_decide(&d->cfg, &g, &f, b->runtime_ok, &h->bid);
    if (h->bid.verdict == KUMO_PROVIDER_BID_OK && o->requirements != NULL &&
        !pd_placement_meets(d, &b->placement, o->requirements)) {
        h->bid.verdict = KUMO_PROVIDER_BID_REQUIREMENTS; /* the chain would refuse the bid */
    }
    if (o->state != KUMO__ORDER_STATE__ORDER_OPEN || pd_hold_find(d, h->order) != NULL ||
        pd_batch_pending(b, h->order) || d->hold_count + b->count >= PD_HOLD_MAX ||
        h->bid.verdict != KUMO_PROVIDER_BID_OK) {
        if (h->bid.verdict == KUMO_PROVIDER_BID_BUSY) {
            b->busy++; /* counted: every rescan would log each waiting order again */
        } else {
            KUMO_LOG_INFO("provider", "no_bid", "order=%s reason=%s", h->order,
                          kumo_provider_bid_verdict_name(h->bid.verdict));
        }
        /* Passed over for a reason that may pass (runtime, room, budget): scanned again when
         * the runtime is back or a hold is freed. */
        d->missed = d->missed || (o->state == KUMO__ORDER_STATE__ORDER_OPEN &&
                                  pd_verdict_may_pass(h->bid.verdict));
        kumo_codec_free(m);
        return;
    }
    for (uint32_t i = 0; i < h->bid.count; i++) {
        o->resources[i]->price = h->bid.prices[i]; /* we ask our cost, not the maximum */
    }
    uint32_t k = b->count++;
    b->orders[k] = m;
    Kumo__MsgSubmitFulfillment sf = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
    b->sf[k] = sf;
    b->sf[k].order = o->id;
    b->sf[k].n_resources = o->n_resources;
    b->sf[k].resources = o->resources;
    Kumo__Msg msg = KUMO__MSG__INIT;
    b->msg[k] = msg;
    b->msg[k].sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
    b->msg[k].submit_fulfillment = &b->sf[k];
    b->ptrs[k] = &b->msg[k];
    if (b->count == PD_BATCH_MAX) {
        pd_batch_flush(d, b);
    }
}

/* Every open order of a deployment ("owner", dseq) or, with owner NULL, every open order,
 * page by page; the bids of each page go out as one tx. */
typedef struct pd_scan {
    kumo_provider_daemon_t *d;
    pd_batch_t b;
} pd_scan_t;

static void pd_scan_item(void *ctx, const json_t *order)
{
    pd_scan_t *sc = ctx;
    pd_order_consider(sc->d, order, &sc->b);
}

static void pd_scan_page(void *ctx)
{
    pd_scan_t *sc = ctx;
    pd_batch_flush(sc->d, &sc->b);
}

static pd_scan_t *pd_scan_new(kumo_provider_daemon_t *d)
{
    pd_scan_t *sc = kumo_calloc(1, sizeof(*sc));
    if (sc != NULL) {
        sc->d = d;
        sc->b.runtime_ok = d->runtime != NULL && pd_rt(d)->ping(d->runtime, NULL) == 0;
        pd_runtime_seen(d, sc->b.runtime_ok);
    }
    return sc;
}

static void pd_scan_end(kumo_provider_daemon_t *d, pd_scan_t *sc)
{
    pd_batch_flush(d, &sc->b);
    if (sc->b.busy > 0) {
        KUMO_LOG_INFO("provider", "bids_paced",
                      "orders=%u start_ms=%" PRIu64 " block_ms=%" PRIu64 " backlog=%" PRIu64,
                      sc->b.busy, d->start_ms, d->block_ms, pd_start_backlog(d, ""));
    }
    pd_placement_free(&sc->b.placement);
    kumo_free(sc);
}

/* Bids on every open order, page by page (the bids of each page go out as one tx). */
static void pd_orders_scan(kumo_provider_daemon_t *d)
{
    pd_scan_t *sc = pd_scan_new(d);
    if (sc == NULL) {
        return;
    }
    d->missed = false; /* this scan sees every open order: it sets it again if need be */
    d->rescan_height = d->height;
    kumo_err_ctx_t err = {0};
    if (pd_list_each(d->client, "/orders?state=ORDER_OPEN", 1000u, pd_scan_item, pd_scan_page, sc,
                     &err) < 0) {
        KUMO_LOG_WARN("provider", "orders_unreadable", "detail=\"%s\"", err.detail);
    }
    pd_scan_end(d, sc);
}

/* Bids on the open orders of every queued deployment that is due, together: PD_BATCH_MAX
 * bids per tx, one tx after the other (each accepted by the node before the next is sent).
 * A deployment whose tx was refused stays queued with its backoff; the others leave the
 * queue (an order that closed meanwhile is simply no longer listed). */
static void pd_bidq_run(kumo_provider_daemon_t *d)
{
    uint32_t due = 0;
    for (uint32_t i = 0; i < d->bidq_count; i++) {
        pd_bidq_t *q = &d->bidq[i];
        q->pending = q->due_height <= d->height && d->height >= d->bid_held_until;
        due += q->pending ? 1u : 0u;
    }
    pd_scan_t *sc = due > 0 ? pd_scan_new(d) : NULL;
    if (sc == NULL) {
        return;
    }
    for (uint32_t i = 0; i < d->bidq_count; i++) {
        char query[256];
        kumo_err_ctx_t err = {0};
        (void)snprintf(query, sizeof(query), "/orders?owner=%s&dseq=%" PRIu64 "&state=ORDER_OPEN",
                       d->bidq[i].owner, d->bidq[i].dseq);
        if (d->bidq[i].pending &&
            pd_list_each(d->client, query, 10u, pd_scan_item, NULL, sc, &err) < 0) {
            KUMO_LOG_WARN("provider", "orders_unreadable", "detail=\"%s\"", err.detail);
            pd_bidq_add(d, d->bidq[i].owner, d->bidq[i].dseq, true);
        }
    }
    pd_scan_end(d, sc);
    for (uint32_t i = 0; i < d->bidq_count;) {
        if (d->bidq[i].pending) {
            d->bidq[i] = d->bidq[--d->bidq_count]; /* bid on, or nothing left to bid on */
            continue;
        }
        i++;
    }
}

/* ---- the event stream ---- */

/* "a/b/c/d/e" -> the first n segments of id into out. */
static void pd_id_prefix(const char *id, int segments, char *out, size_t cap)
{
    size_t i = 0;
    int seen = 0;
    for (; id[i] != '\0' && i + 1u < cap; i++) {
        if (id[i] == '/' && ++seen == segments) {
            break;
        }
        out[i] = id[i];
    }
    out[i] = '\0';
}

/* Remembers that (owner, dseq) changed its version at height (pd_update_t). */
static void
pd_update_note(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, uint64_t height)
{
    uint32_t at = PD_UPDATE_MAX;
    for (uint32_t i = 0; i < PD_UPDATE_MAX; i++) {
        pd_update_t *u = &d->updates[i];
        if (u->height != 0 && u->height + PD_UPDATE_KEEP_BLOCKS < height) {
            u->height = 0; /* expired */
        }
        if ((u->height != 0 && u->dseq == dseq && strcmp(u->owner, owner) == 0) ||
            (at == PD_UPDATE_MAX && u->height == 0)) {
            at = i;
        }
    }
    if (at == PD_UPDATE_MAX || strlen(owner) >= sizeof(d->updates[at].owner)) {
        d->updates_dropped++;
        return;
    }
    pd_update_t *u = &d->updates[at];
    memcpy(u->owner, owner, strlen(owner) + 1u);
    u->dseq = dseq;
    u->height = height > 0 ? height : 1u;
}

/* Whether this provider held a lease in (owner, dseq) before height (as its last pass saw). */
static bool pd_lease_held_before(const kumo_provider_daemon_t *d,
                                 const char *owner,
                                 uint64_t dseq,
                                 uint64_t height)
{
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->active && l->dseq == dseq && l->created_height < height &&
            strcmp(l->owner, owner) == 0) {
            return true;
        }
    }
    return false;
}

/* What a lease event (of the block at height) means for the manifests: a lease that ended
 * drops its deployment's cached participants (whoever held it); a lease of another provider
 * that joins a deployment in which we held a lease before, and whose manifest is stored here
 * (a group re-ordered to it), is told at once that we hold it (pd_manifest_announce checks
 * the version), so it fetches without waiting for its passes. Leases created together (a new
 * deployment) are not: the provider the tenant uploads to tells them all. */
static void pd_event_lease(kumo_provider_daemon_t *d,
                           const char *type,
                           const char *id,
                           const char *provider,
                           bool mine,
                           uint64_t height)
{
    if (id == NULL ||
        (strncmp(type, "lease.", 6) != 0 && strcmp(type, "deployment.updated") != 0)) {
        return;
    }
    pd_mq_item_t item;
    memset(&item, 0, sizeof(item));
    pd_id_prefix(id, 1, item.owner, sizeof(item.owner));
    const char *dseq = strchr(id, '/');
    item.dseq = dseq != NULL ? strtoull(dseq + 1, NULL, 10) : 0;
    if (strcmp(type, "deployment.updated") == 0) {
        if (d->parts != NULL) {
            pd_parts_drop(d->parts, item.owner, item.dseq);
        }
        pd_update_note(d, item.owner, item.dseq, height);
        return;
    }
    bool ended = strcmp(type, "lease.closed") == 0 || strcmp(type, "lease.closing") == 0 ||
                 strcmp(type, "lease.stale") == 0 || strcmp(type, "lease.released") == 0 ||
                 strcmp(type, "lease.refused") == 0;
    if (ended) {
        if (d->parts != NULL) {
            pd_parts_drop(d->parts, item.owner, item.dseq);
        }
        return;
    }
    uint8_t stored[KUMO_CRYPTO_HASH_BYTES];
    if (strcmp(type, "lease.created") != 0 || mine || provider == NULL ||
        strlen(provider) >= sizeof(item.peer) ||
        !pd_lease_held_before(d, item.owner, item.dseq, height) ||
        pd_manifest_stored_version(d->home, item.owner, item.dseq, stored, NULL) != 0) {
        return;
    }
    item.announce = true;
    memcpy(item.peer, provider, strlen(provider) + 1u);
    pd_mq_add(d, &item);
}

static void pd_event(kumo_provider_daemon_t *d, const char *type, const json_t *ev, uint64_t height)
{
    const char *id = json_string_value(json_object_get(ev, "id"));
    const char *provider = json_string_value(json_object_get(ev, "provider"));
    bool mine = provider != NULL && strcmp(provider, d->addr) == 0;
    char order[KUMO_ID_TEXT_BYTES];
    pd_id_prefix(id != NULL ? id : "", 4, order, sizeof(order));
    if (strcmp(type, "block") == 0) {
        d->height = pd_u64(ev, "height");
        pd_pace_block(d, d->height);
        d->work_due = true; /* once for every block that arrived together (pd_stream_loop) */
        if (d->parts != NULL) {
            pd_parts_height_set(d->parts, d->height);
        }
        return;
    }
    pd_event_lease(d, type, id, provider, mine, height);
    if (strcmp(type, "order.created") == 0 && id != NULL) {
        char owner[KUMO_ADDRESS_TEXT_BYTES];
        pd_id_prefix(id, 1, owner, sizeof(owner));
        const char *dseq = strchr(id, '/');
        /* Bid after this chunk of the stream: the orders of a burst go out together. */
        pd_bidq_add(d, owner, dseq != NULL ? strtoull(dseq + 1, NULL, 10) : 0, false);
    } else if (mine && strcmp(type, "lease.created") == 0) {
        pd_hold_t *h = pd_hold_find(d, order);
        if (h != NULL) {
            h->lease = true;
            h->waiting = true; /* until the pass sees it run (or no manifest come) */
        }
        KUMO_LOG_INFO("provider", "lease_won", "order=%s", order);
    } else if (mine &&
               (strncmp(type, "fulfillment.", 12) == 0 || strcmp(type, "lease.closed") == 0 ||
                strcmp(type, "lease.stale") == 0 || strcmp(type, "lease.released") == 0 ||
                strcmp(type, "lease.refused") == 0) &&
               strcmp(type, "fulfillment.created") != 0) {
        pd_hold_release(d, order, type);
    }
}

/* The free GPUs of mask by kind (vendor, model, memory), in the order of their first GPU, at
 * most KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX kinds (a provider with more publishes the first:
 * quotes then undercount, bids are not affected). Returns the count; kinds borrow cfg text. */
static size_t pd_offer_gpus(const kumo_provider_daemon_t *d,
                            uint64_t mask,
                            Kumo__GpuSpec *kinds,
                            Kumo__GpuSpec **ptrs)
{
    size_t n = 0;
    for (uint32_t i = 0; i < d->cfg.gpu_count; i++) {
        const kumo_provider_gpu_t *g = &d->cfg.gpus[i];
        if ((mask & (1ull << i)) == 0) {
            continue;
        }
        size_t k = 0;
        while (k < n &&
               !(strcmp(kinds[k].vendor, g->vendor) == 0 && strcmp(kinds[k].model, g->model) == 0 &&
                 kinds[k].memory_bytes == g->memory_bytes)) {
            k++;
        }
        if (k == n && n == KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX) {
            continue;
        }
        if (k == n) {
            kumo__gpu_spec__init(&kinds[n]);
            kinds[n].vendor = (char *)(uintptr_t)g->vendor; /* protobuf-c's non-const char * */
            kinds[n].model = (char *)(uintptr_t)g->model;
            kinds[n].memory_bytes = g->memory_bytes;
            ptrs[n] = &kinds[n];
            n++;
        }
        kinds[k].count++;
    }
    return n;
}

/* Publishes what the provider offers (its unit prices and what is free, as pd_free sees it)
 * so tenants can tell why it would not bid (`kumo deploy quote`): after the first pass once the
 * holds were rebuilt, then at most every PD_OFFER_REFRESH_BLOCKS blocks and only when it
 * changed. One small tx; a failure (not yet registered, say) is tried again after the same
 * interval. */
static void pd_offer_refresh(kumo_provider_daemon_t *d)
{
    /* The offer never takes a confirmation's or a bid's place in the mempool (a node may
     * hold few pending txs per account): only in a block after one in which we sent nothing. */
    if (d->height == 0 || d->height <= d->tx_height + 1 ||
        (d->offer_height != 0 && d->height < d->offer_height + PD_OFFER_REFRESH_BLOCKS)) {
        return;
    }
    kumo_provider_free_t f = pd_free(d);
    Kumo__ProviderOffer o = KUMO__PROVIDER_OFFER__INIT;
    o.price_cpu_per_core = d->cfg.price_cpu_per_core;
    o.price_memory_per_gib = d->cfg.price_memory_per_gib;
    o.price_storage_per_gib = d->cfg.price_storage_per_gib;
    o.free_cpu_milli = f.cpu_milli;
    o.free_memory_bytes = f.memory_bytes;
    o.free_storage_bytes = f.storage_bytes;
    o.free_collateral = f.collateral;
    o.price_per_gpu = d->cfg.price_per_gpu;
    Kumo__GpuSpec kinds[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX];
    Kumo__GpuSpec *kind_ptrs[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX];
    o.n_free_gpus = pd_offer_gpus(d, f.gpu_free_mask, kinds, kind_ptrs);
    o.free_gpus = o.n_free_gpus > 0 ? kind_ptrs : NULL;
    const Kumo__ProviderOffer *s = &d->offer_sent;
    bool same =
        d->offers_sent > 0 && d->offer_gpu_mask == f.gpu_free_mask &&
        s->price_per_gpu == o.price_per_gpu && s->price_cpu_per_core == o.price_cpu_per_core &&
        s->price_memory_per_gib == o.price_memory_per_gib &&
        s->price_storage_per_gib == o.price_storage_per_gib &&
        s->free_cpu_milli == o.free_cpu_milli && s->free_memory_bytes == o.free_memory_bytes &&
        s->free_storage_bytes == o.free_storage_bytes && s->free_collateral == o.free_collateral;
    if (same) {
        return;
    }
    d->offer_height = d->height;
    Kumo__MsgUpdateProvider up = KUMO__MSG_UPDATE_PROVIDER__INIT;
    up.offer = &o;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_UPDATE_PROVIDER;
    msg.update_provider = &up;
    Kumo__Msg *msgs[1] = {&msg};
    kumo_err_ctx_t err = {0};
    uint64_t tx_height = d->tx_height;
    int rc = pd_tx_send(d, msgs, 1, &err);
    d->tx_height = tx_height; /* our own offer does not hold the next one back */
    if (rc < 0) {
        KUMO_LOG_WARN("provider", "offer_failed", "code=%s detail=\"%s\"", kumo_err_name(err.code),
                      err.detail);
        return;
    }
    d->offer_sent = o;
    d->offer_sent.n_free_gpus = 0; /* its kinds were on this stack: the mask stands for them */
    d->offer_sent.free_gpus = NULL;
    d->offer_gpu_mask = f.gpu_free_mask;
    d->offers_sent++;
    KUMO_LOG_INFO("provider", "offer_sent",
                  "free_cpu_milli=%" PRIu64 " free_memory=%" PRIu64 " free_collateral=%" PRIu64,
                  o.free_cpu_milli, o.free_memory_bytes, o.free_collateral);
}

void pd_mq_add(kumo_provider_daemon_t *d, const pd_mq_item_t *item)
{
    KUMO_ASSERT(d != NULL && item != NULL);
    KUMO_ASSERT(item->owner[0] != '\0');
    (void)pthread_mutex_lock(&d->wake_mu);
    bool queued = false;
    for (uint32_t i = 0; i < d->mq_count && !queued; i++) {
        const pd_mq_item_t *q = &d->mq[i];
        queued = q->announce == item->announce && q->dseq == item->dseq &&
                 strcmp(q->owner, item->owner) == 0 && strcmp(q->peer, item->peer) == 0;
    }
    if (!queued && d->mq_count < PD_MQ_MAX) {
        d->mq[d->mq_count++] = *item;
    } else if (!queued) {
        d->mq_dropped++; /* the passes fetch what is missing anyway */
    }
    if (d->stream != NULL) {
        kumo_client_stream_wakeup(d->stream);
    }
    KUMO_ASSERT(d->mq_count <= PD_MQ_MAX);
    (void)pthread_mutex_unlock(&d->wake_mu);
}

/* The queued manifest work, at once (main thread): announcements first (a fetch may block
 * for long), then fetches; a stored manifest makes the pass run. */
void pd_mq_run(kumo_provider_daemon_t *d)
{
    pd_mq_item_t items[PD_MQ_MAX];
    if (d->mq_running) {
        return; /* called from a pass that this queue's own work started */
    }
    d->mq_running = true;
    (void)pthread_mutex_lock(&d->wake_mu);
    uint32_t n = d->mq_count;
    memcpy(items, d->mq, n * sizeof(items[0]));
    d->mq_count = 0;
    (void)pthread_mutex_unlock(&d->wake_mu);
    for (int announce = 1; announce >= 0; announce--) {
        for (uint32_t i = 0; i < n && !*d->stop; i++) {
            const pd_mq_item_t *q = &items[i];
            if (q->announce != (announce == 1)) {
                continue;
            }
            if (q->announce) {
                pd_manifest_announce(d, d->client, q->owner, q->dseq, q->peer);
                continue;
            }
            kumo_err_ctx_t err = {0};
            if (pd_manifest_fetch_due(d, q->owner, q->dseq, q->peer, &err) == 0) {
                d->work_due = true;
            }
        }
    }
    d->mq_running = false;
}

/* A pass, timed, then the status file and metrics of what it saw. */
static void pd_work_timed(kumo_provider_daemon_t *d)
{
    struct timespec a;
    struct timespec b;
    (void)clock_gettime(CLOCK_MONOTONIC, &a);
    pd_work(d);
    (void)clock_gettime(CLOCK_MONOTONIC, &b);
    int64_t ms = (int64_t)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    pd_status_update(d, ms > 0 ? (uint64_t)ms : 0u);
}

/* Events handled in a row before the bids, passes and rescans get their turn: a replay of
 * many blocks still runs the work between them. */
#define PD_EVENTS_PER_TURN 256u

/* Follows the stream until it fails (the error) or *stop (0): the events waiting, then the
 * bids of what they brought (the orders of a burst go out together), a pass when a block came
 * or the API thread stored something (pd_wake), a rescan when due; it waits at most a second
 * for the next event. */
static int pd_stream_loop(kumo_provider_daemon_t *d, kumo_client_stream_t *s, kumo_err_ctx_t *err)
{
    uint32_t wait_ms = 0;
    uint32_t in_row = 0;
    while (!*d->stop) {
        kumo_client_event_t ev;
        KUMO_GUARD(kumo_client_stream_next(s, wait_ms, &ev, err));
        if (ev.data != NULL) {
            pd_event(d, ev.type, ev.data, ev.height);
            kumo_client_event_clear(&ev);
            wait_ms = 0;
            if (++in_row < PD_EVENTS_PER_TURN) {
                continue;
            }
        }
        in_row = 0;
        pd_mq_run(d);   /* manifests to announce or fetch: before a pass, which may be long */
        pd_bidq_run(d); /* new orders, and refused bids whose backoff is over */
        /* A chain that brings no block still has to be read for the tunnels to stand. */
        d->work_due = d->work_due || pd_tun_chain_due(d);
        if (atomic_load(&d->kick) != 0 || d->work_due) {
            d->work_due = false;
            pd_work_timed(d);    /* a new block, or a manifest or links came in between blocks */
            pd_offer_refresh(d); /* holds are known here (rebuilt before the stream) */
        }
        pd_tun_chain_check(d); /* after the pass: one that read the chain renewed them */
        if (d->rescan_due && d->runtime_up &&
            (d->rescan_height == 0 || d->height >= d->rescan_height + PD_RESCAN_EVERY)) {
            d->rescan_due = false;
            KUMO_LOG_INFO("provider", "orders_rescan", "height=%" PRIu64, d->height);
            pd_orders_scan(d);
        }
        wait_ms = 1000u;
    }
    return 0;
}

/* One stream from the height after the last one seen (kumo_client_stream_next resumes it
 * after the node ends it; this ends when it cannot). */
static void pd_stream(kumo_provider_daemon_t *d)
{
    kumo_err_ctx_t err = {0};
    kumo_client_stream_t *s = NULL;
    int rc = kumo_client_stream_open(
        d->client, "types=block,order.created,fulfillment.,lease.,deployment.updated",
        d->height + 1u, &s, &err);
    if (rc == 0) {
        (void)pthread_mutex_lock(&d->wake_mu);
        d->stream = s;
        (void)pthread_mutex_unlock(&d->wake_mu);
        rc = pd_stream_loop(d, s, &err);
        (void)pthread_mutex_lock(&d->wake_mu);
        d->stream = NULL;
        (void)pthread_mutex_unlock(&d->wake_mu);
        kumo_client_stream_close(s);
    }
    if (rc < 0 && !*d->stop) {
        KUMO_LOG_WARN("provider", "stream_ended", "height=%" PRIu64 " reason=\"%s\"", d->height,
                      err.detail);
    }
}

void pd_wake(kumo_provider_daemon_t *d)
{
    atomic_store(&d->kick, 1);
    (void)pthread_mutex_lock(&d->wake_mu);
    if (d->stream != NULL) {
        kumo_client_stream_wakeup(d->stream);
    }
    (void)pthread_mutex_unlock(&d->wake_mu);
}

/* ---- lifecycle ---- */

static int pd_chain_load(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    kumo_client_status_t st;
    KUMO_GUARD(kumo_client_status_get(d->client, &st, err));
    _Static_assert(sizeof(d->chain_id) >= sizeof(st.chain_id), "a chain id fits");
    (void)snprintf(d->chain_id, sizeof(d->chain_id), "%s", st.chain_id);
    d->height = st.height;
    pd_parts_height_set(d->parts, d->height);
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_client_object_get(d->client, "/params", &kumo__params__descriptor, &m, err));
    d->min_fee = ((const Kumo__Params *)m)->min_fee;
    d->period = ((const Kumo__Params *)m)->reconfirmation_period;
    kumo_codec_free(m);
    return pd_sequence_load(d, err);
}

int kumo_provider_daemon_open(const kumo_provider_cfg_t *cfg,
                              const char *home,
                              const kumo_crypto_keypair_t *key,
                              kumo_provider_daemon_t **out,
                              kumo_err_ctx_t *err)
{
    kumo_provider_daemon_t *d = kumo_calloc(1, sizeof(*d));
    KUMO_ENSURE(d != NULL, err, KUMO_ENOMEM, "provider daemon");
    d->home_lock_fd = -1;
    d->cfg = *cfg;
    d->key = *key;
    d->block_ms = PD_PACE_BLOCK_MS_PRIOR;
    d->start_ms = PD_PACE_START_MS_PRIOR;
    (void)pthread_mutex_init(&d->wake_mu, NULL);
    (void)snprintf(d->home, sizeof(d->home), "%s", home);
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(key->pubkey, addr);
    kumo_codec_address_encode(addr, d->addr);
    /* Two daemons on one home would bid twice and remove each other's containers. */
    char lock[PD_PATH_BYTES];
    char what[PD_PATH_BYTES + 8];
    (void)snprintf(lock, sizeof(lock), "%s/provider.lock", home);
    (void)snprintf(what, sizeof(what), "home %s", home);
    int rc = kumo_file_lock(lock, what, &d->home_lock_fd, err);
    d->parts = rc == 0 ? kumo_calloc(1, sizeof(*d->parts)) : NULL;
    rc = rc == 0 && d->parts == NULL ? kumo_err_set(err, KUMO_ENOMEM, "participants") : rc;
    rc = rc == 0 ? pd_parts_init(d->parts, err) : rc;
    rc = rc == 0 ? kumo_client_open(cfg->node_url, NULL, &d->client, err) : rc;
    rc = rc == 0 ? pd_chain_load(d, err) : rc;
    rc = rc == 0 ? pd_status_open(d, err) : rc;
    if (rc < 0) {
        kumo_provider_daemon_close(d);
        return rc;
    }
    kumo_err_ctx_t rerr = {0};
    if (pd_rt(d)->open(cfg->runtime_socket, &d->runtime, &rerr) < 0) {
        KUMO_LOG_WARN("provider", "runtime_unreachable", "socket=%s detail=\"%s\" (no bids)",
                      cfg->runtime_socket, rerr.detail);
    }
    if (pd_volumes_init(d, &rerr) < 0) {
        KUMO_LOG_WARN("provider", "volumes_unavailable", "detail=\"%s\"", rerr.detail);
    }
    rc = pd_rtwork_start(d, err);
    rc = rc == 0 ? pd_usage_start(d, err) : rc;
    rc = rc == 0 ? pd_api_start(d, err) : rc;
    if (rc < 0) {
        kumo_provider_daemon_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

void kumo_provider_daemon_close(kumo_provider_daemon_t *d)
{
    if (d == NULL) {
        return;
    }
    pd_api_stop(d);
    pd_status_close(d);
    pd_usage_stop(d);
    pd_rtwork_stop(d);
    if (d->runtime != NULL) {
        pd_rt(d)->close(d->runtime);
    }
    kumo_client_close(d->client);
    pd_parts_free(d->parts);
    kumo_free(d->parts);
    kumo_buf_free(&d->isolation);
    kumo_buf_free(&d->peer_cert_pem);
    if (d->peer_key_pem.ptr != NULL) {
        sodium_memzero(d->peer_key_pem.ptr, d->peer_key_pem.cap);
    }
    kumo_buf_free(&d->peer_key_pem);
    sodium_memzero(&d->key, sizeof(d->key));
    kumo_file_unlock(d->home_lock_fd);
    (void)pthread_mutex_destroy(&d->wake_mu);
    kumo_free(d);
}

void kumo_provider_daemon_run(kumo_provider_daemon_t *d, volatile int *stop)
{
    d->stop = stop;
    KUMO_LOG_INFO("provider", "started", "address=%s region=%s node=%s height=%" PRIu64, d->addr,
                  d->cfg.region, d->cfg.node_url, d->height);
    pd_work_timed(d);    /* what runs here (a restart keeps it running) */
    pd_holds_rebuild(d); /* what our bids and leases hold */
    pd_orders_scan(d);   /* what was open before we started */
    while (!*stop) {
        pd_stream(d);
        pd_tun_chain_check(d); /* no stream, no pass: the tunnels close in time */
        for (int i = 0; i < 10 && !*stop; i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            (void)nanosleep(&ts, NULL); /* reconnect after a second */
        }
    }
    KUMO_LOG_INFO("provider", "stopped", "bids=%" PRIu64, d->bids_sent);
}

uint64_t kumo_provider_daemon_bids(const kumo_provider_daemon_t *d)
{
    return d->bids_sent;
}
