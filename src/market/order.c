/*
 * order.c - orders and the bids on them: opening an order for a group, closing it with its
 * bids refunded, the scan that finds an order's best and worst bids (reading only the varint
 * fields of each fulfillment, so the facilitator can rank many bids fast), and refunds.
 * Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* Fulfillment field numbers read without decoding (proto/kumo.proto). */
#define FULFILLMENT_FIELD_STATE            2u
#define FULFILLMENT_FIELD_PRICE_TOTAL      4u
#define FULFILLMENT_FIELD_COLLATERAL_TOTAL 5u
#define FULFILLMENT_FIELD_BID_SEQ          7u

/* A fulfillment key: prefix, order body, provider. */
#define FULFILLMENT_KEY_BYTES (1u + KUMO_MARKET_LEASE_BODY_BYTES)

int kumo_market_resources_totals(Kumo__ResourceGroup *const *res,
                                 size_t count,
                                 uint64_t *price_total,
                                 uint64_t *collateral_total,
                                 kumo_err_ctx_t *err)
{
    uint64_t price = 0;
    uint64_t collateral = 0;
    for (size_t i = 0; i < count; i++) {
        KUMO_ASSERT(res[i] != NULL);
        uint64_t p;
        uint64_t c;
        int rc = kumo_u64_mul(res[i]->price, res[i]->count, &p);
        rc = rc < 0 ? rc : kumo_u64_add(price, p, &price);
        rc = rc < 0 ? rc : kumo_u64_mul(res[i]->collateral, res[i]->count, &c);
        rc = rc < 0 ? rc : kumo_u64_add(collateral, c, &collateral);
        KUMO_ENSURE(rc == 0, err, KUMO_EOVERFLOW,
                    "resources[%zu]: price or collateral total overflows", i);
    }
    *price_total = price;
    *collateral_total = collateral;
    return 0;
}

bool kumo_market_bid_is_better(uint64_t a_price, uint64_t a_seq, uint64_t b_price, uint64_t b_seq)
{
    return a_price < b_price || (a_price == b_price && a_seq < b_seq);
}

/* ---- scanning an order's bids --------------------------------------------------------------- */

typedef struct bids_scan_ctx {
    const kumo_kv_t *kv;
    const kumo_market_oid_t *oid;
    bool match;
    const Kumo__PlacementRequirements *req;
    Kumo__Deployment *dep; /* read at the first candidate, when match */
    kumo_market_bids_t *out;
    kumo_err_ctx_t *err;
} bids_scan_ctx_t;

/* Whether a bid that would be the best may be matched: its provider still meets the order's
 * requirements (an auditor may have revoked a signature since the bid) and is not reserved by
 * another group (an update may have made one exclusive since the bid). */
static int bid_is_eligible(bids_scan_ctx_t *bc, const uint8_t *provider, bool *out)
{
    *out = true;
    if (!bc->match) {
        return 0;
    }
    kumo_err_ctx_t match_err = {0};
    int rc = bc->req != NULL
                 ? kumo_market_requirements_match_addr(bc->kv, bc->req, provider, &match_err)
                 : 0;
    if (rc == 0 && bc->dep == NULL) {
        rc =
            kumo_market_deployment_get(bc->kv, bc->oid->owner, bc->oid->dseq, &bc->dep, &match_err);
    }
    if (rc == 0) {
        rc = kumo_market_exclusive_check(bc->kv, bc->dep, bc->oid->gseq, provider, &match_err);
    }
    if (rc == KUMO_ENOTLISTED || rc == KUMO_EATTRIBUTE || rc == KUMO_ESIGNEDBY ||
        rc == KUMO_EEXCLUSIVE) {
        *out = false;
        return 0;
    }
    KUMO_ENSURE(rc == 0, bc->err, rc, "%s", match_err.detail);
    return 0;
}

static int bids_scan_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    bids_scan_ctx_t *bc = cb_ctx;
    kumo_market_bids_t *b = bc->out;
    KUMO_ENSURE(key.len == FULFILLMENT_KEY_BYTES, bc->err, KUMO_ECORRUPT,
                "fulfillment key of %zu bytes", key.len);
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(kumo_codec_wire_varints(val, f, bc->err));
    if (f[FULFILLMENT_FIELD_STATE] != KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN) {
        return 0;
    }
    const uint8_t *provider = key.ptr + 1 + KUMO_MARKET_ORDER_BODY_BYTES;
    uint64_t price = f[FULFILLMENT_FIELD_PRICE_TOTAL];
    uint64_t seq = f[FULFILLMENT_FIELD_BID_SEQ];
    b->open_count++;
    bool eligible = false;
    if (!b->has_best || kumo_market_bid_is_better(price, seq, b->best_price, b->best_seq)) {
        KUMO_GUARD(bid_is_eligible(bc, provider, &eligible));
    }
    if (eligible) {
        b->has_best = true;
        memcpy(b->best_provider, provider, KUMO_ADDRESS_BYTES);
        b->best_price = price;
        b->best_seq = seq;
    }
    /* The worst bid is the one every other bid beats: highest total, ties to the latest. */
    if (!b->has_worst || kumo_market_bid_is_better(b->worst_price, b->worst_seq, price, seq)) {
        b->has_worst = true;
        memcpy(b->worst_provider, provider, KUMO_ADDRESS_BYTES);
        b->worst_price = price;
        b->worst_seq = seq;
        b->worst_collateral = f[FULFILLMENT_FIELD_COLLATERAL_TOTAL];
    }
    return 0;
}

int kumo_market_order_bids_scan(const kumo_kv_t *kv,
                                const kumo_market_oid_t *oid,
                                bool match,
                                const Kumo__PlacementRequirements *req,
                                kumo_market_bids_t *out,
                                kumo_err_ctx_t *err)
{
    memset(out, 0, sizeof(*out));
    kumo_market_key_t prefix;
    kumo_market_key_init(&prefix, KUMO_MARKET_PREFIX_FULFILLMENT);
    kumo_market_key_put_order_body(&prefix, oid);
    bids_scan_ctx_t bc = {.kv = kv, .oid = oid, .match = match, .req = req, .out = out, .err = err};
    int rc = kv->scan(kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                      bids_scan_cb, &bc, err);
    kumo_market_obj_free(bc.dep);
    return rc;
}

/* ---- refunds -------------------------------------------------------------------------------- */

int kumo_market_bid_refund(kumo_market_st_t *st,
                           const kumo_market_oid_t *oid,
                           const uint8_t *provider,
                           uint64_t collateral,
                           const char *event_type,
                           kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, provider, collateral, err));
    KUMO_GUARD(kumo_market_global_sub(&st->global->collateral_total, collateral, err));
    KUMO_GUARD(kumo_market_fulfillment_del(st, oid, provider,
                                           KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN, err));
    KUMO_GUARD(kumo_market_provider_count_add(st, provider, -1, 0, err));
    kumo_market_attr_t attrs[] = {{"collateral", collateral, NULL}};
    return kumo_market_emit_bid(st, event_type, oid, provider, attrs, KUMO_ARRAY_COUNT(attrs), err);
}

typedef struct refund_item {
    uint8_t provider[KUMO_ADDRESS_BYTES];
    uint64_t collateral;
} refund_item_t;

typedef struct refund_ctx {
    refund_item_t *items;
    size_t count;
    size_t cap;
    const uint8_t *keep;
    kumo_err_ctx_t *err;
} refund_ctx_t;

static int refund_collect_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    refund_ctx_t *rc = cb_ctx;
    KUMO_ENSURE(key.len == FULFILLMENT_KEY_BYTES, rc->err, KUMO_ECORRUPT,
                "fulfillment key of %zu bytes", key.len);
    const uint8_t *provider = key.ptr + 1 + KUMO_MARKET_ORDER_BODY_BYTES;
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(kumo_codec_wire_varints(val, f, rc->err));
    if (f[FULFILLMENT_FIELD_STATE] != KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN ||
        (rc->keep != NULL && memcmp(provider, rc->keep, KUMO_ADDRESS_BYTES) == 0)) {
        return 0;
    }
    if (rc->count == rc->cap) {
        size_t cap = rc->cap == 0 ? 8 : rc->cap * 2;
        refund_item_t *p = kumo_realloc(rc->items, cap * sizeof(*p));
        KUMO_ENSURE(p != NULL, rc->err, KUMO_ENOMEM, "%zu refunds", cap);
        rc->items = p;
        rc->cap = cap;
    }
    memcpy(rc->items[rc->count].provider, provider, KUMO_ADDRESS_BYTES);
    rc->items[rc->count].collateral = f[FULFILLMENT_FIELD_COLLATERAL_TOTAL];
    rc->count++;
    return 0;
}

int kumo_market_order_bids_refund(kumo_market_st_t *st,
                                  const kumo_market_oid_t *oid,
                                  const uint8_t *keep_provider,
                                  const char *event_type,
                                  kumo_err_ctx_t *err)
{
    /* Collect first: the kv forbids writes while a scan runs. */
    kumo_market_key_t prefix;
    kumo_market_key_init(&prefix, KUMO_MARKET_PREFIX_FULFILLMENT);
    kumo_market_key_put_order_body(&prefix, oid);
    refund_ctx_t rc = {.keep = keep_provider, .err = err};
    int r = st->kv->scan(st->kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                         refund_collect_cb, &rc, err);
    for (size_t i = 0; r == 0 && i < rc.count; i++) {
        r = kumo_market_bid_refund(st, oid, rc.items[i].provider, rc.items[i].collateral,
                                   event_type, err);
    }
    kumo_free(rc.items);
    return r;
}

/* ---- opening and closing -------------------------------------------------------------------- */

int kumo_market_order_open(kumo_market_st_t *st,
                           const Kumo__Group *g,
                           uint32_t oseq,
                           uint64_t wait_blocks,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(g->spec != NULL && g->owner.len == KUMO_ADDRESS_BYTES);
    KUMO_ASSERT(oseq >= 1);
    kumo_market_oid_t oid;
    memcpy(oid.owner, g->owner.data, KUMO_ADDRESS_BYTES);
    oid.dseq = g->dseq;
    oid.gseq = g->gseq;
    oid.oseq = oseq;
    Kumo__OrderId mid;
    kumo_market_oid_to_msg(&oid, &mid);
    Kumo__Order o = KUMO__ORDER__INIT;
    o.id = &mid;
    o.state = KUMO__ORDER_STATE__ORDER_OPEN;
    o.region = g->spec->region;
    o.n_resources = g->spec->n_resources;
    o.resources = g->spec->resources;
    o.requirements = g->spec->requirements;
    o.created_height = st->height;
    KUMO_ENSURE(kumo_u64_add(st->height, wait_blocks, &o.match_height) == 0, err, KUMO_EOVERFLOW,
                "match height overflows");
    KUMO_GUARD(kumo_market_resources_totals(o.resources, o.n_resources, &o.price_total,
                                            &o.collateral_total, err));
    KUMO_GUARD(kumo_market_order_put(st, &o, 0, err));
    kumo_market_attr_t attrs[] = {
        {"price_total", o.price_total, NULL},
        {"collateral_total", o.collateral_total, NULL},
        {"match_height", o.match_height, NULL},
        {"region", 0, o.region},
    };
    return kumo_market_emit_order(st, "order.created", &oid, attrs, KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_order_close(kumo_market_st_t *st,
                            const kumo_market_oid_t *oid,
                            Kumo__CloseReason reason,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(reason != KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
    Kumo__Order *o = NULL;
    int rc = kumo_market_order_get(st->kv, oid, &o, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "open order of a group is missing");
    }
    KUMO_GUARD(rc);
    KUMO_ASSERT(o->state == KUMO__ORDER_STATE__ORDER_OPEN);
    rc = kumo_market_order_bids_refund(st, oid, NULL, "fulfillment.refunded", err);
    if (rc == 0) {
        o->state = KUMO__ORDER_STATE__ORDER_CLOSED;
        o->bid_count = 0;
        o->close_reason = reason;
        o->closed_height = st->height;
        rc = kumo_market_order_put(st, o, KUMO__ORDER_STATE__ORDER_OPEN, err);
    }
    kumo_market_obj_free(o);
    KUMO_GUARD(rc);
    kumo_market_attr_t attrs[] = {{"reason", 0, kumo_market_close_reason_name(reason)}};
    return kumo_market_emit_order(st, "order.closed", oid, attrs, KUMO_ARRAY_COUNT(attrs), err);
}
