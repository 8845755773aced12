/*
 * lease.c - SubmitLease (match an order with its best bid), SubmitLeaseConfirmation (pay from
 * escrow, capped: never an overdraft; mint collateral interest; release), SubmitStaleLease
 * (collateral to the tenant, re-order when the group persists), and settling a lease up to
 * the current height. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

#define PPB 1000000000u

/* floor(collateral x rate_ppb x blocks / 10^9), with a 128-bit intermediate. */
uint64_t
kumo_market_interest(uint64_t collateral, uint64_t rate_ppb, uint64_t blocks, uint64_t supply)
{
    uint64_t headroom = supply < KUMO_SUPPLY_MAX ? KUMO_SUPPLY_MAX - supply : 0;
    unsigned __int128 num = (unsigned __int128)collateral * rate_ppb;
    unsigned __int128 cap = (unsigned __int128)headroom * PPB; /* < 2^94 */
    if (blocks == 0) {
        return 0;
    }
    if (num > cap / blocks) {
        return headroom;
    }
    unsigned __int128 q = num * blocks / PPB; /* num * blocks <= cap: no overflow */
    return q < headroom ? (uint64_t)q : headroom;
}

int kumo_market_lease_settle(
    kumo_market_st_t *st, Kumo__Deployment *d, Kumo__Lease *l, bool *short_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(l->state == KUMO__LEASE_STATE__LEASE_ACTIVE);
    KUMO_ASSERT(st->height >= l->last_paid_height);
    uint64_t blocks = st->height - l->last_paid_height;
    uint64_t owed;
    if (kumo_u64_mul(l->price_total, blocks, &owed) < 0) {
        /* More than any escrow can hold: the cap below pays what there is. */
        owed = UINT64_MAX;
    }
    uint64_t paid = kumo_u64_min(owed, d->escrow);
    uint64_t interest = 0;
    if (st->params->collateral_interest_rate > 0 && l->collateral_total > 0) {
        kumo_bank_totals_t totals;
        KUMO_GUARD(kumo_bank_totals_get(st->kv, &totals, err));
        interest = kumo_market_interest(l->collateral_total, st->params->collateral_interest_rate,
                                        blocks, totals.supply);
    }
    KUMO_GUARD(kumo_market_global_add(&st->global->minted_interest, interest, err));
    KUMO_GUARD(kumo_market_global_sub(&st->global->escrow_total, paid, err));
    d->escrow -= paid;
    KUMO_GUARD(kumo_market_global_add(&d->total_paid, paid, err));
    KUMO_GUARD(kumo_market_global_add(&l->total_paid, paid, err));
    KUMO_GUARD(kumo_market_global_add(&l->interest_paid, interest, err));
    l->last_paid_height = st->height;
    KUMO_ASSERT(l->id != NULL && l->id->provider.len == KUMO_ADDRESS_BYTES);
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, l->id->provider.data, paid, err));
    if (interest > 0) {
        KUMO_GUARD(kumo_bank_mint(st->kv, &st->pack, l->id->provider.data, interest, err));
    }
    *short_out = paid < owed;
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(l->id->order, &oid);
    kumo_market_attr_t attrs[] = {{"amount", paid, NULL},
                                  {"interest", interest, NULL},
                                  {"blocks", blocks, NULL},
                                  {"owed", owed, NULL}};
    return kumo_market_emit_bid(st, "lease.paid", &oid, l->id->provider.data, attrs,
                                KUMO_ARRAY_COUNT(attrs), err);
}

static int lease_load(const kumo_kv_t *kv,
                      const kumo_market_oid_t *oid,
                      const uint8_t *provider,
                      Kumo__Lease **out,
                      kumo_err_ctx_t *err)
{
    int rc = kumo_market_lease_get(kv, oid, provider, out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "lease of a group is missing");
    }
    return rc;
}

int kumo_market_oid_deployment_load(const kumo_kv_t *kv,
                                    const kumo_market_oid_t *oid,
                                    Kumo__Deployment **out,
                                    kumo_err_ctx_t *err)
{
    int rc = kumo_market_deployment_get(kv, oid->owner, oid->dseq, out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "deployment of an order is missing");
    }
    return rc;
}

static int group_load(const kumo_kv_t *kv,
                      const kumo_market_oid_t *oid,
                      Kumo__Group **out,
                      kumo_err_ctx_t *err)
{
    int rc = kumo_market_group_get(kv, oid->owner, oid->dseq, oid->gseq, out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "group of an order is missing");
    }
    return rc;
}

int kumo_market_lease_close(kumo_market_st_t *st,
                            Kumo__Deployment *d,
                            const kumo_market_oid_t *oid,
                            const uint8_t *provider,
                            Kumo__CloseReason reason,
                            bool *short_out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(reason != KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
    Kumo__Lease *l = NULL;
    KUMO_GUARD(lease_load(st->kv, oid, provider, &l, err));
    KUMO_ASSERT(l->state == KUMO__LEASE_STATE__LEASE_ACTIVE);
    uint64_t prev_confirmed = l->last_confirmed_height;
    /* Closing settles: the provider is paid for the blocks it served since its last
     * confirmation, and billing stops here. */
    int rc = kumo_market_lease_settle(st, d, l, short_out, err);
    if (rc == 0) {
        l->state = KUMO__LEASE_STATE__LEASE_CLOSING;
        l->closing_height = st->height;
        l->close_reason = reason;
        rc = kumo_market_lease_put(st, l, KUMO__LEASE_STATE__LEASE_ACTIVE, prev_confirmed, err);
    }
    kumo_market_obj_free(l);
    KUMO_GUARD(rc);
    kumo_market_attr_t attrs[] = {{"reason", 0, kumo_market_close_reason_name(reason)}};
    return kumo_market_emit_bid(st, "lease.closing", oid, provider, attrs, KUMO_ARRAY_COUNT(attrs),
                                err);
}

/* ---- SubmitLease ---------------------------------------------------------------------------- */

static int lease_create(kumo_market_st_t *st,
                        const kumo_market_oid_t *oid,
                        const uint8_t *provider,
                        const Kumo__Fulfillment *f,
                        kumo_err_ctx_t *err)
{
    Kumo__OrderId mid;
    kumo_market_oid_to_msg(oid, &mid);
    Kumo__LeaseId lid = KUMO__LEASE_ID__INIT;
    lid.order = &mid;
    lid.provider.data = (uint8_t *)(uintptr_t)provider;
    lid.provider.len = KUMO_ADDRESS_BYTES;
    Kumo__Lease l = KUMO__LEASE__INIT;
    l.id = &lid;
    l.state = KUMO__LEASE_STATE__LEASE_ACTIVE;
    l.price_total = f->price_total;
    l.collateral_total = f->collateral_total;
    l.created_height = st->height;
    l.last_confirmed_height = st->height;
    l.last_paid_height = st->height;
    KUMO_GUARD(kumo_market_lease_put(st, &l, 0, 0, err));
    kumo_market_attr_t attrs[] = {{"price_total", l.price_total, NULL},
                                  {"collateral_total", l.collateral_total, NULL}};
    return kumo_market_emit_bid(st, "lease.created", oid, provider, attrs, KUMO_ARRAY_COUNT(attrs),
                                err);
}

/* Everything after the checks: the order, the winning bid, the lease, the losing bids, the
 * group, and the lease this one replaces. */
static int lease_match(kumo_market_st_t *st,
                       const kumo_market_oid_t *oid,
                       const uint8_t *provider,
                       Kumo__Order *o,
                       Kumo__Fulfillment *f,
                       kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    Kumo__Group *g = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    int rc = group_load(st->kv, oid, &g, err);
    if (rc < 0) {
        goto out_free;
    }
    /* An open order belongs to an active deployment and is its group's latest order. */
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    KUMO_ASSERT(g->state != KUMO__GROUP_STATE__GROUP_CLOSED && g->oseq == oid->oseq);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    o->state = KUMO__ORDER_STATE__ORDER_MATCHED;
    o->bid_count = 0;
    f->state = KUMO__FULFILLMENT_STATE__FULFILLMENT_MATCHED;
    KUMO_GUARD_GOTO(kumo_market_order_put(st, o, KUMO__ORDER_STATE__ORDER_OPEN, err), rc, out_free);
    KUMO_GUARD_GOTO(kumo_market_emit_order(st, "order.matched", oid, NULL, 0, err), rc, out_free);
    KUMO_GUARD_GOTO(
        kumo_market_fulfillment_put(st, f, KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN, err), rc,
        out_free);
    KUMO_GUARD_GOTO(kumo_market_provider_count_add(st, provider, -1, 1, err), rc, out_free);
    KUMO_GUARD_GOTO(lease_create(st, oid, provider, f, err), rc, out_free);
    if (d->unreleased_lease_count == UINT32_MAX) {
        rc = kumo_err_set(err, KUMO_EOVERFLOW, "unreleased_lease_count overflows");
        goto out_free;
    }
    d->unreleased_lease_count++;
    KUMO_GUARD_GOTO(kumo_market_order_bids_refund(st, oid, provider, "fulfillment.refunded", err),
                    rc, out_free);

    /* A group re-ordered for a changed spec still runs its old lease: it closes now that the
     * new one is in place, so the tenant never goes without. */
    bool short_pay = false;
    if (g->state == KUMO__GROUP_STATE__GROUP_ACTIVE) {
        KUMO_ASSERT(g->lease_provider.len == KUMO_ADDRESS_BYTES && g->lease_oseq < oid->oseq);
        kumo_market_oid_t old = *oid;
        old.oseq = g->lease_oseq;
        KUMO_GUARD_GOTO(kumo_market_lease_close(st, d, &old, g->lease_provider.data,
                                                KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED,
                                                &short_pay, err),
                        rc, out_free);
    }
    Kumo__Group ng = *g;
    ng.state = KUMO__GROUP_STATE__GROUP_ACTIVE;
    ng.lease_provider.data = (uint8_t *)(uintptr_t)provider;
    ng.lease_provider.len = KUMO_ADDRESS_BYTES;
    ng.lease_oseq = oid->oseq;
    KUMO_GUARD_GOTO(kumo_market_group_put(st, &ng, (uint32_t)g->state, err), rc, out_free);
    if (short_pay) {
        rc = kumo_market_deployment_close(st, d,
                                          KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, err);
    } else {
        /* A new lease raises the price the escrow pays. */
        KUMO_GUARD_GOTO(kumo_market_escrow_watch(st, d, err), rc, out_free);
        rc = kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                        prev_unreleased, err);
    }

out_free:
    kumo_market_obj_free(g);
    kumo_market_obj_free(d);
    return rc;
}

static int lease_submit_checked(kumo_market_st_t *st,
                                const kumo_market_oid_t *oid,
                                const uint8_t *provider,
                                Kumo__Order *o,
                                kumo_err_ctx_t *err)
{
    KUMO_ENSURE(o->state == KUMO__ORDER_STATE__ORDER_OPEN, err, KUMO_ESTATE, "order is not open");
    KUMO_ENSURE(st->height >= o->match_height, err, KUMO_ETOOEARLY,
                "order matchable from height %" PRIu64, o->match_height);
    Kumo__Fulfillment *f = NULL;
    KUMO_GUARD(kumo_market_fulfillment_get(st->kv, oid, provider, &f, err));
    KUMO_ASSERT(f->state == KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN);
    kumo_market_bids_t bids;
    /* A provider whose signature was revoked since it bid, or that another group reserved
     * since, is never matched. */
    int rc = kumo_market_requirements_match_addr(st->kv, o->requirements, provider, err);
    Kumo__Deployment *d = NULL;
    rc = rc == 0 ? kumo_market_deployment_get(st->kv, oid->owner, oid->dseq, &d, err) : rc;
    rc = rc == 0 ? kumo_market_exclusive_check(st->kv, d, oid->gseq, provider, err) : rc;
    kumo_market_obj_free(d);
    if (rc == 0) {
        rc = kumo_market_order_bids_scan(st->kv, oid, true, o->requirements, &bids, err);
    }
    if (rc == 0 && memcmp(bids.best_provider, provider, KUMO_ADDRESS_BYTES) != 0) {
        KUMO_ASSERT(bids.has_best);
        rc = kumo_err_set(err, KUMO_ENOTBEST,
                          "bid %" PRIu64 " at %" PRIu64 " loses to bid %" PRIu64 " at %" PRIu64,
                          f->bid_seq, f->price_total, bids.best_seq, bids.best_price);
    }
    if (rc == 0) {
        KUMO_ASSERT(bids.open_count == o->bid_count);
        rc = lease_match(st, oid, provider, o, f, err);
    }
    kumo_market_obj_free(f);
    return rc;
}

int kumo_market_lease_submit(kumo_market_st_t *st,
                             const Kumo__MsgSubmitLease *m,
                             kumo_err_ctx_t *err)
{
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(m->order, &oid);
    Kumo__Order *o = NULL;
    KUMO_GUARD(kumo_market_order_get(st->kv, &oid, &o, err));
    int rc = lease_submit_checked(st, &oid, m->provider.data, o, err);
    kumo_market_obj_free(o);
    return rc;
}

/* ---- SubmitLeaseConfirmation ---------------------------------------------------------------- */

typedef struct dep_ref {
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
} dep_ref_t;

typedef struct confirm_ctx {
    dep_ref_t *short_deps; /* deployments whose escrow ran out in this msg */
    size_t short_count;
    size_t short_cap;
} confirm_ctx_t;

static int short_dep_add(confirm_ctx_t *cc, const kumo_market_oid_t *oid, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < cc->short_count; i++) {
        if (cc->short_deps[i].dseq == oid->dseq &&
            memcmp(cc->short_deps[i].owner, oid->owner, KUMO_ADDRESS_BYTES) == 0) {
            return 0;
        }
    }
    if (cc->short_count == cc->short_cap) {
        size_t cap = cc->short_cap == 0 ? 4 : cc->short_cap * 2;
        dep_ref_t *p = kumo_realloc(cc->short_deps, cap * sizeof(*p));
        KUMO_ENSURE(p != NULL, err, KUMO_ENOMEM, "%zu deployments", cap);
        cc->short_deps = p;
        cc->short_cap = cap;
    }
    memcpy(cc->short_deps[cc->short_count].owner, oid->owner, KUMO_ADDRESS_BYTES);
    cc->short_deps[cc->short_count].dseq = oid->dseq;
    cc->short_count++;
    return 0;
}

/* Whether a confirmation names the deployment's current version (its workloads run). */
static bool confirm_runs_current(const Kumo__LeaseConfirmation *c, const Kumo__Deployment *d)
{
    return c->version.len == KUMO_VERSION_BYTES && d->version.len == KUMO_VERSION_BYTES &&
           memcmp(c->version.data, d->version.data, KUMO_VERSION_BYTES) == 0;
}

/* An active lease confirmed: paid up to this height, stale clock restarted. A confirmation
 * naming the current version records it: the provider accepted that manifest and may no
 * longer refuse it. One naming another version (sent before an update it had not seen yet)
 * or none (standing ready without a manifest) records nothing. */
static int confirm_active(kumo_market_st_t *st,
                          confirm_ctx_t *cc,
                          const kumo_market_oid_t *oid,
                          const Kumo__LeaseConfirmation *c,
                          Kumo__Lease *l,
                          kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    /* Closing a deployment moves its active leases to closing. */
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    uint64_t prev_confirmed = l->last_confirmed_height;
    bool short_pay = false;
    int rc = kumo_market_lease_settle(st, d, l, &short_pay, err);
    if (rc == 0) {
        l->last_confirmed_height = st->height;
        /* Borrowed from d for the write; l's own bytes are put back before l is freed. */
        ProtobufCBinaryData own = l->confirmed_version;
        if (confirm_runs_current(c, d)) {
            l->confirmed_version = d->version;
        }
        rc = kumo_market_lease_put(st, l, KUMO__LEASE_STATE__LEASE_ACTIVE, prev_confirmed, err);
        l->confirmed_version = own;
    }
    if (rc == 0) {
        rc = kumo_market_emit_bid(st, "lease.confirmed", oid, st->principal, NULL, 0, err);
    }
    if (rc == 0 && !short_pay) {
        rc = kumo_market_escrow_watch(st, d, err);
    }
    if (rc == 0) {
        rc = kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                        d->unreleased_lease_count, err);
    }
    if (rc == 0 && short_pay) {
        /* The deployment closes after the whole batch, so the provider's other confirmations
         * in this msg still apply (and are paid what is left, which is nothing). */
        rc = short_dep_add(cc, oid, err);
    }
    kumo_market_obj_free(d);
    return rc;
}

/* A closing lease released: the provider freed the resources and gets its collateral back. */
static int confirm_release(kumo_market_st_t *st,
                           const kumo_market_oid_t *oid,
                           Kumo__Lease *l,
                           kumo_err_ctx_t *err)
{
    Kumo__CloseReason reason = l->close_reason;
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    KUMO_ASSERT(d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED);
    KUMO_ASSERT(d->unreleased_lease_count > 0);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    d->unreleased_lease_count--;
    uint64_t collateral = l->collateral_total;
    int rc = kumo_bank_balance_add(st->kv, &st->pack, st->principal, collateral, err);
    if (rc == 0) {
        rc = kumo_market_global_sub(&st->global->collateral_total, collateral, err);
    }
    if (rc == 0) {
        l->state = KUMO__LEASE_STATE__LEASE_RELEASED;
        l->ended_height = st->height;
        rc = kumo_market_lease_put(st, l, KUMO__LEASE_STATE__LEASE_CLOSING,
                                   l->last_confirmed_height, err);
    }
    if (rc == 0) {
        rc = kumo_market_deployment_put(st, d, (uint32_t)d->state, prev_unreleased, err);
    }
    if (rc == 0) {
        rc = kumo_market_provider_count_add(st, st->principal, 0, -1, err);
    }
    kumo_market_obj_free(d);
    KUMO_GUARD(rc);
    kumo_market_attr_t attrs[] = {{"collateral", collateral, NULL},
                                  {"reason", 0, kumo_market_close_reason_name(reason)}};
    return kumo_market_emit_bid(st, "lease.released", oid, st->principal, attrs,
                                KUMO_ARRAY_COUNT(attrs), err);
}

static int any_key_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    *(bool *)cb_ctx = true;
    return 1;
}

int kumo_market_lease_missing_err(kumo_market_st_t *st,
                                  const kumo_market_oid_t *oid,
                                  kumo_err_ctx_t *err)
{
    kumo_market_key_t prefix;
    kumo_market_key_init(&prefix, KUMO_MARKET_PREFIX_LEASE);
    kumo_market_key_put_order_body(&prefix, oid);
    bool other = false;
    KUMO_GUARD(st->kv->scan(st->kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                            any_key_cb, &other, err));
    if (other) {
        return kumo_err_set(err, KUMO_EUNAUTH, "the order's lease belongs to another provider");
    }
    return kumo_err_set(err, KUMO_ENOTFOUND, "no lease on this order");
}

static int confirm_one(kumo_market_st_t *st,
                       confirm_ctx_t *cc,
                       const Kumo__LeaseConfirmation *c,
                       kumo_err_ctx_t *err)
{
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(c->order, &oid);
    Kumo__Lease *l = NULL;
    int rc = kumo_market_lease_get(st->kv, &oid, st->principal, &l, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_market_lease_missing_err(st, &oid, err);
    }
    KUMO_GUARD(rc);
    if (!c->released && l->state == KUMO__LEASE_STATE__LEASE_ACTIVE) {
        rc = confirm_active(st, cc, &oid, c, l, err);
    } else if (c->released && l->state == KUMO__LEASE_STATE__LEASE_CLOSING) {
        rc = confirm_release(st, &oid, l, err);
    } else {
        rc = kumo_err_set(err, KUMO_ESTATE, "lease in state %d cannot be %s", (int)l->state,
                          c->released ? "released" : "confirmed");
    }
    kumo_market_obj_free(l);
    return rc;
}

static int short_deps_close(kumo_market_st_t *st, const confirm_ctx_t *cc, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < cc->short_count; i++) {
        Kumo__Deployment *d = NULL;
        KUMO_GUARD(kumo_market_deployment_get(st->kv, cc->short_deps[i].owner,
                                              cc->short_deps[i].dseq, &d, err));
        int rc = 0;
        if (d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE) {
            rc = kumo_market_deployment_close(
                st, d, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, err);
        }
        kumo_market_obj_free(d);
        KUMO_GUARD(rc);
    }
    return 0;
}

int kumo_market_lease_confirm(kumo_market_st_t *st,
                              const Kumo__MsgSubmitLeaseConfirmation *m,
                              kumo_err_ctx_t *err)
{
    confirm_ctx_t cc = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n_confirmations; i++) {
        rc = confirm_one(st, &cc, m->confirmations[i], err);
    }
    if (rc == 0) {
        rc = short_deps_close(st, &cc, err);
    }
    kumo_free(cc.short_deps);
    return rc;
}

/* ---- SubmitStaleLease, and every end in which the provider forfeits ------------------------ */

/* The group loses its lease: it waits for a pending re-order, re-orders when it persists, or
 * closes with the lease's reason. */
static int forfeit_group(kumo_market_st_t *st,
                         const Kumo__Deployment *d,
                         const kumo_market_oid_t *oid,
                         const uint8_t *provider,
                         Kumo__CloseReason reason,
                         kumo_err_ctx_t *err)
{
    Kumo__Group *g = NULL;
    KUMO_GUARD(group_load(st->kv, oid, &g, err));
    /* An active lease is always its group's current lease. */
    KUMO_ASSERT(g->state == KUMO__GROUP_STATE__GROUP_ACTIVE && g->lease_oseq == oid->oseq);
    KUMO_ASSERT(g->lease_provider.len == KUMO_ADDRESS_BYTES &&
                memcmp(g->lease_provider.data, provider, KUMO_ADDRESS_BYTES) == 0);
    Kumo__Group ng = *g;
    ng.lease_provider.data = NULL;
    ng.lease_provider.len = 0;
    ng.lease_oseq = 0;
    ng.state = KUMO__GROUP_STATE__GROUP_OPEN;
    bool reorder_pending = g->oseq != oid->oseq;
    bool reorder = !reorder_pending && g->spec->persist;
    int rc = 0;
    if (reorder && g->oseq == UINT32_MAX) {
        rc = kumo_err_set(err, KUMO_EOVERFLOW, "oseq overflows");
    } else if (reorder) {
        ng.oseq = g->oseq + 1;
    } else if (!reorder_pending) {
        ng.state = KUMO__GROUP_STATE__GROUP_CLOSED;
        ng.close_reason = reason;
        ng.closed_height = st->height;
    }
    if (rc == 0) {
        rc = kumo_market_group_put(st, &ng, KUMO__GROUP_STATE__GROUP_ACTIVE, err);
    }
    if (rc == 0 && reorder) {
        rc = kumo_market_order_open(st, &ng, ng.oseq, d->wait_blocks, err);
    }
    if (rc == 0 && ng.state == KUMO__GROUP_STATE__GROUP_CLOSED) {
        kumo_market_attr_t attrs[] = {{"reason", 0, kumo_market_close_reason_name(reason)}};
        rc = kumo_market_emit_group(st, "group.closed", oid->owner, oid->dseq, oid->gseq, attrs,
                                    KUMO_ARRAY_COUNT(attrs), err);
    }
    kumo_market_obj_free(g);
    return rc;
}

int kumo_market_lease_forfeit(kumo_market_st_t *st,
                              Kumo__Deployment *d,
                              const kumo_market_oid_t *oid,
                              const uint8_t *provider,
                              Kumo__Lease *l,
                              Kumo__CloseReason reason,
                              const char *detail,
                              kumo_err_ctx_t *err)
{
    bool stale = reason == KUMO__CLOSE_REASON__CLOSE_REASON_STALE;
    KUMO_ASSERT(stale || reason == KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED);
    KUMO_ASSERT(l->state == KUMO__LEASE_STATE__LEASE_ACTIVE);
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    KUMO_ASSERT(d->unreleased_lease_count > 0);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    d->unreleased_lease_count--;
    /* The provider failed the tenant: its collateral compensates the tenant. */
    uint64_t collateral = l->collateral_total;
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, oid->owner, collateral, err));
    KUMO_GUARD(kumo_market_global_sub(&st->global->collateral_total, collateral, err));
    l->state = stale ? KUMO__LEASE_STATE__LEASE_STALE : KUMO__LEASE_STATE__LEASE_CLOSED;
    l->close_reason = reason;
    l->ended_height = st->height;
    KUMO_GUARD(kumo_market_lease_put(st, l, KUMO__LEASE_STATE__LEASE_ACTIVE,
                                     l->last_confirmed_height, err));
    KUMO_GUARD(kumo_market_provider_count_add(st, provider, 0, -1, err));
    KUMO_GUARD(kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                          prev_unreleased, err));
    kumo_market_attr_t attrs[] = {{"collateral_to_tenant", collateral, NULL},
                                  {"reason", 0, kumo_market_close_reason_name(reason)},
                                  {"detail", 0, detail}};
    size_t attr_count = detail != NULL ? 3 : 2;
    KUMO_GUARD(kumo_market_emit_bid(st, stale ? "lease.stale" : "lease.closed", oid, provider,
                                    attrs, attr_count, err));
    return forfeit_group(st, d, oid, provider, reason, err);
}

static int lease_go_stale(kumo_market_st_t *st,
                          const kumo_market_oid_t *oid,
                          const uint8_t *provider,
                          Kumo__Lease *l,
                          kumo_err_ctx_t *err)
{
    KUMO_ENSURE(l->state == KUMO__LEASE_STATE__LEASE_ACTIVE, err, KUMO_ESTATE,
                "lease is not active");
    uint64_t stale_height;
    KUMO_GUARD(kumo_market_lease_stale_height(l, st->params->reconfirmation_period, &stale_height));
    KUMO_ENSURE(st->height >= stale_height, err, KUMO_ENOTSTALE,
                "lease confirmed at %" PRIu64 ", stale from height %" PRIu64,
                l->last_confirmed_height, stale_height);
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    /* No payment for the unconfirmed blocks. */
    int rc = kumo_market_lease_forfeit(st, d, oid, provider, l,
                                       KUMO__CLOSE_REASON__CLOSE_REASON_STALE, NULL, err);
    kumo_market_obj_free(d);
    return rc;
}

int kumo_market_lease_stale(kumo_market_st_t *st,
                            const Kumo__MsgSubmitStaleLease *m,
                            kumo_err_ctx_t *err)
{
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(m->order, &oid);
    Kumo__Lease *l = NULL;
    KUMO_GUARD(kumo_market_lease_get(st->kv, &oid, m->provider.data, &l, err));
    int rc = lease_go_stale(st, &oid, m->provider.data, l, err);
    kumo_market_obj_free(l);
    return rc;
}
