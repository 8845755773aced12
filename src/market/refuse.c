/*
 * refuse.c - MsgRefuseLease: the provider of an active lease refuses the deployment's current
 * manifest (an image it cannot find, a manifest that does not fit the lease). Whether a
 * manifest can run cannot be verified on chain, and any third party asked to judge (the next
 * provider of a re-order, say) could collude with the tenant, so the chain judges nobody: a
 * timely refusal is a no-fault end in which nobody gains. The provider gets its collateral
 * back and is paid nothing for the blocks since the last payment; the tenant pays nothing for
 * them; the group closes instead of re-ordering (the tenant must fix its manifest and update,
 * so a broken manifest cannot take one provider's collateral after another); the provider
 * record counts the refusal. A provider that confirmed running the current version has
 * accepted it and can no longer refuse it. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

static const char *refuse_reason_name(Kumo__RefuseReason reason)
{
    switch (reason) {
    case KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING:
        return "image_missing";
    case KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH:
        return "manifest_mismatch";
    case KUMO__REFUSE_REASON__REFUSE_REASON_OTHER:
        return "other";
    case KUMO__REFUSE_REASON__REFUSE_REASON_UNSPECIFIED:
    case _KUMO__REFUSE_REASON_IS_INT_SIZE:
    default:
        /* validate_basic admits only the three reasons above. */
        KUMO_UNREACHABLE();
    }
}

/* The refused lease's group closes; a changed spec's order waiting to replace the lease
 * closes with it (its bids refunded): it would run the same manifest. */
static int refuse_group(kumo_market_st_t *st, const kumo_market_oid_t *oid, kumo_err_ctx_t *err)
{
    Kumo__Group *g = NULL;
    int rc = kumo_market_group_get(st->kv, oid->owner, oid->dseq, oid->gseq, &g, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "group of a lease is missing");
    }
    KUMO_GUARD(rc);
    /* An active lease is always its group's current lease. */
    KUMO_ASSERT(g->state == KUMO__GROUP_STATE__GROUP_ACTIVE && g->lease_oseq == oid->oseq);
    KUMO_ASSERT(g->lease_provider.len == KUMO_ADDRESS_BYTES &&
                memcmp(g->lease_provider.data, st->principal, KUMO_ADDRESS_BYTES) == 0);
    if (g->oseq != g->lease_oseq) {
        kumo_market_oid_t pending = *oid;
        pending.oseq = g->oseq;
        rc = kumo_market_order_close(st, &pending,
                                     KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED, err);
    }
    Kumo__Group ng = *g;
    ng.state = KUMO__GROUP_STATE__GROUP_CLOSED;
    ng.lease_provider.data = NULL;
    ng.lease_provider.len = 0;
    ng.lease_oseq = 0;
    ng.close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED;
    ng.closed_height = st->height;
    if (rc == 0) {
        rc = kumo_market_group_put(st, &ng, KUMO__GROUP_STATE__GROUP_ACTIVE, err);
    }
    kumo_market_obj_free(g);
    KUMO_GUARD(rc);
    kumo_market_attr_t attrs[] = {{"reason", 0, "manifest_refused"}};
    return kumo_market_emit_group(st, "group.closed", oid->owner, oid->dseq, oid->gseq, attrs,
                                  KUMO_ARRAY_COUNT(attrs), err);
}

/* The effects, after every check: collateral back, the lease closed unpaid for the blocks
 * since its last payment, the counters, the event, the group. */
static int refuse_apply(kumo_market_st_t *st,
                        Kumo__Deployment *d,
                        const kumo_market_oid_t *oid,
                        Kumo__Lease *l,
                        const Kumo__MsgRefuseLease *m,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d->unreleased_lease_count > 0);
    KUMO_ASSERT(st->height >= l->last_paid_height);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    d->unreleased_lease_count--;
    uint64_t collateral = l->collateral_total;
    uint64_t unpaid_blocks = st->height - l->last_paid_height;
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, st->principal, collateral, err));
    KUMO_GUARD(kumo_market_global_sub(&st->global->collateral_total, collateral, err));
    uint64_t prev_confirmed = l->last_confirmed_height;
    l->state = KUMO__LEASE_STATE__LEASE_CLOSED;
    l->close_reason = KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED;
    l->ended_height = st->height;
    KUMO_GUARD(kumo_market_lease_put(st, l, KUMO__LEASE_STATE__LEASE_ACTIVE, prev_confirmed, err));
    KUMO_GUARD(kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                          prev_unreleased, err));
    KUMO_GUARD(kumo_market_provider_lease_refused(st, st->principal, err));
    kumo_market_attr_t attrs[] = {{"reason", 0, refuse_reason_name(m->reason)},
                                  {"detail", 0, m->detail != NULL ? m->detail : ""},
                                  {"collateral", collateral, NULL},
                                  {"unpaid_blocks", unpaid_blocks, NULL}};
    KUMO_GUARD(kumo_market_emit_bid(st, "lease.refused", oid, st->principal, attrs,
                                    KUMO_ARRAY_COUNT(attrs), err));
    return refuse_group(st, oid, err);
}

static int refuse_active(kumo_market_st_t *st,
                         const kumo_market_oid_t *oid,
                         Kumo__Lease *l,
                         const Kumo__MsgRefuseLease *m,
                         kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    /* Closing a deployment moves its active leases to closing. */
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    KUMO_ASSERT(d->version.len == KUMO_VERSION_BYTES);
    bool accepted = l->confirmed_version.len == d->version.len &&
                    memcmp(l->confirmed_version.data, d->version.data, d->version.len) == 0;
    int rc = 0;
    if (accepted) {
        rc = kumo_err_set(err, KUMO_ESTATE,
                          "the provider confirmed running the deployment's current version");
    } else {
        rc = refuse_apply(st, d, oid, l, m, err);
    }
    kumo_market_obj_free(d);
    return rc;
}

int kumo_market_lease_refuse(kumo_market_st_t *st,
                             const Kumo__MsgRefuseLease *m,
                             kumo_err_ctx_t *err)
{
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(m->order, &oid);
    Kumo__Lease *l = NULL;
    int rc = kumo_market_lease_get(st->kv, &oid, st->principal, &l, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_market_lease_missing_err(st, &oid, err);
    }
    KUMO_GUARD(rc);
    if (l->state == KUMO__LEASE_STATE__LEASE_ACTIVE) {
        rc = refuse_active(st, &oid, l, m, err);
    } else {
        rc = kumo_err_set(err, KUMO_ESTATE, "lease in state %d cannot be refused", (int)l->state);
    }
    kumo_market_obj_free(l);
    return rc;
}
