/*
 * fulfillment.c - SubmitFulfillment (a provider's bid: same resources as the order at a price
 * no higher, collateral locked; at max_bids_per_order the bid must beat the worst bid, which
 * is evicted) and CancelFulfillment. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* The bid's resources against the order's: same shape (EMISMATCH), price no higher
 * (EPRICE). */
static int
bid_resources_check(const Kumo__Order *o, const Kumo__MsgSubmitFulfillment *m, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(m->n_resources == o->n_resources, err, KUMO_EMISMATCH,
                "%zu resource groups, order has %zu", m->n_resources, o->n_resources);
    for (size_t i = 0; i < o->n_resources; i++) {
        const Kumo__ResourceGroup *want = o->resources[i];
        const Kumo__ResourceGroup *bid = m->resources[i];
        KUMO_ENSURE(kumo_market_compute_equal(want->compute, bid->compute) &&
                        want->count == bid->count && want->collateral == bid->collateral,
                    err, KUMO_EMISMATCH, "resources[%zu] differ from the order's", i);
    }
    for (size_t i = 0; i < o->n_resources; i++) {
        KUMO_ENSURE(m->resources[i]->price <= o->resources[i]->price, err, KUMO_EPRICE,
                    "resources[%zu]: price %" PRIu64 " above the order's %" PRIu64, i,
                    m->resources[i]->price, o->resources[i]->price);
    }
    return 0;
}

/* At the cap, the new bid must be strictly cheaper than the worst bid, which is evicted. */
static int bid_cap_make_room(kumo_market_st_t *st,
                             const kumo_market_oid_t *oid,
                             Kumo__Order *o,
                             uint64_t price_total,
                             kumo_err_ctx_t *err)
{
    if (o->bid_count < st->params->max_bids_per_order) {
        return 0;
    }
    kumo_market_bids_t bids;
    KUMO_GUARD(kumo_market_order_bids_scan(st->kv, oid, false, NULL, &bids, err));
    KUMO_ASSERT(bids.has_worst && bids.open_count == o->bid_count);
    KUMO_ENSURE(price_total < bids.worst_price, err, KUMO_EBIDCAP,
                "order has %u bids; price %" PRIu64 " does not beat the worst %" PRIu64,
                o->bid_count, price_total, bids.worst_price);
    KUMO_GUARD(kumo_market_bid_refund(st, oid, bids.worst_provider, bids.worst_collateral,
                                      "fulfillment.evicted", err));
    o->bid_count--;
    return 0;
}

static int bid_place(kumo_market_st_t *st,
                     const kumo_market_oid_t *oid,
                     Kumo__Provider *p,
                     Kumo__Order *o,
                     const Kumo__MsgSubmitFulfillment *m,
                     kumo_err_ctx_t *err)
{
    KUMO_ENSURE(o->state == KUMO__ORDER_STATE__ORDER_OPEN, err, KUMO_ESTATE, "order is not open");
    kumo_market_key_t fk;
    kumo_market_key_fulfillment(&fk, oid, st->principal);
    bool exists = false;
    KUMO_GUARD(kumo_market_kv_has(st->kv, &fk, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EEXIST, "provider already bid on this order");
    KUMO_ENSURE(strcmp(p->region, o->region) == 0, err, KUMO_EREGION,
                "provider region '%s' is not the order's '%s'", p->region, o->region);
    KUMO_GUARD(kumo_market_requirements_match(st->kv, o->requirements, p, err));
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(st->kv, oid->owner, oid->dseq, &d, err));
    int rc = kumo_market_exclusive_check(st->kv, d, oid->gseq, st->principal, err);
    kumo_market_obj_free(d);
    KUMO_GUARD(rc);
    KUMO_GUARD(bid_resources_check(o, m, err));
    uint64_t price_total;
    uint64_t collateral_total;
    KUMO_GUARD(kumo_market_resources_totals(m->resources, m->n_resources, &price_total,
                                            &collateral_total, err));
    KUMO_ASSERT(collateral_total == o->collateral_total);
    KUMO_GUARD(bid_cap_make_room(st, oid, o, price_total, err));
    KUMO_GUARD(kumo_bank_balance_sub(st->kv, &st->pack, st->principal, collateral_total, err));
    KUMO_GUARD(kumo_market_global_add(&st->global->collateral_total, collateral_total, err));

    Kumo__OrderId mid;
    kumo_market_oid_to_msg(oid, &mid);
    Kumo__LeaseId lid = KUMO__LEASE_ID__INIT;
    lid.order = &mid;
    lid.provider.data = (uint8_t *)(uintptr_t)st->principal;
    lid.provider.len = KUMO_ADDRESS_BYTES;
    Kumo__Fulfillment f = KUMO__FULFILLMENT__INIT;
    f.id = &lid;
    f.state = KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN;
    f.n_resources = m->n_resources;
    f.resources = m->resources;
    f.price_total = price_total;
    f.collateral_total = collateral_total;
    f.created_height = st->height;
    f.bid_seq = st->global->next_bid_seq;
    KUMO_GUARD(kumo_market_global_add(&st->global->next_bid_seq, 1, err));
    KUMO_GUARD(kumo_market_fulfillment_put(st, &f, 0, err));
    o->bid_count++;
    KUMO_GUARD(kumo_market_order_put(st, o, KUMO__ORDER_STATE__ORDER_OPEN, err));
    KUMO_GUARD(kumo_market_provider_count_add(st, st->principal, 1, 0, err));
    kumo_market_attr_t attrs[] = {{"price_total", price_total, NULL},
                                  {"collateral_total", collateral_total, NULL},
                                  {"bid_seq", f.bid_seq, NULL}};
    return kumo_market_emit_bid(st, "fulfillment.created", oid, st->principal, attrs,
                                KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_fulfillment_submit(kumo_market_st_t *st,
                                   const Kumo__MsgSubmitFulfillment *m,
                                   kumo_err_ctx_t *err)
{
    Kumo__Provider *p = NULL;
    int rc = kumo_market_provider_get(st->kv, st->principal, &p, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "signer is not a registered provider");
    }
    KUMO_GUARD(rc);
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(m->order, &oid);
    Kumo__Order *o = NULL;
    rc = kumo_market_order_get(st->kv, &oid, &o, err);
    if (rc == 0) {
        rc = bid_place(st, &oid, p, o, m, err);
    }
    kumo_market_obj_free(o);
    kumo_market_obj_free(p);
    return rc;
}

int kumo_market_fulfillment_cancel(kumo_market_st_t *st,
                                   const Kumo__MsgCancelFulfillment *m,
                                   kumo_err_ctx_t *err)
{
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(m->order, &oid);
    Kumo__Fulfillment *f = NULL;
    KUMO_GUARD(kumo_market_fulfillment_get(st->kv, &oid, st->principal, &f, err));
    uint32_t state = (uint32_t)f->state;
    uint64_t collateral = f->collateral_total;
    kumo_market_obj_free(f);
    KUMO_ENSURE(state == KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN, err, KUMO_ESTATE,
                "fulfillment is matched");
    KUMO_GUARD(
        kumo_market_bid_refund(st, &oid, st->principal, collateral, "fulfillment.cancelled", err));
    Kumo__Order *o = NULL;
    int rc = kumo_market_order_get(st->kv, &oid, &o, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "order of a bid is missing");
    }
    KUMO_GUARD(rc);
    /* An open bid lives only on an open order: matching and closing remove the others. */
    KUMO_ASSERT(o->state == KUMO__ORDER_STATE__ORDER_OPEN && o->bid_count > 0);
    o->bid_count--;
    rc = kumo_market_order_put(st, o, KUMO__ORDER_STATE__ORDER_OPEN, err);
    kumo_market_obj_free(o);
    return rc;
}
