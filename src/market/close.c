/*
 * close.c - MsgCloseLease: the provider of an active lease closes it (hardware retired, a
 * datacenter leaving the market, an operator's choice). Nothing on chain can tell a good
 * reason from a bad one, and the tenant did nothing wrong, so the close is treated as what it
 * is: the provider walks away from a commitment it accepted. It ends like a stale lease, with
 * its own reason: the lease is settled first (paid up to this height, as a confirmation at
 * this height would pay it: no more than the provider could take by confirming and then
 * closing), then its whole collateral goes to the tenant, the lease is Closed with reason
 * provider_closed, and its group is re-ordered when it persists (or waits for a pending
 * re-order, or closes with the same reason) through the stale path's own code
 * (kumo_market_lease_forfeit). A settlement that finds the escrow short closes the deployment
 * for insufficient_funds, as any settlement does. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>

#include "market/market_int.h"

/* The effects, after every check: paid up to this height, then forfeited; the deployment
 * closes when the escrow could not pay, else its escrow warning is checked again (the escrow
 * paid and the price dropped). */
static int close_apply(kumo_market_st_t *st,
                       Kumo__Deployment *d,
                       const kumo_market_oid_t *oid,
                       Kumo__Lease *l,
                       const Kumo__MsgCloseLease *m,
                       kumo_err_ctx_t *err)
{
    /* Closing a deployment moves its active leases to closing. */
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    KUMO_ASSERT(l->state == KUMO__LEASE_STATE__LEASE_ACTIVE);
    bool short_pay = false;
    KUMO_GUARD(kumo_market_lease_settle(st, d, l, &short_pay, err));
    KUMO_GUARD(kumo_market_lease_forfeit(st, d, oid, st->principal, l,
                                         KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED,
                                         m->detail != NULL ? m->detail : "", err));
    if (short_pay) {
        return kumo_market_deployment_close(
            st, d, KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, err);
    }
    KUMO_GUARD(kumo_market_escrow_watch(st, d, err));
    return kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                      d->unreleased_lease_count, err);
}

static int close_active(kumo_market_st_t *st,
                        const kumo_market_oid_t *oid,
                        Kumo__Lease *l,
                        const Kumo__MsgCloseLease *m,
                        kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_oid_deployment_load(st->kv, oid, &d, err));
    int rc = close_apply(st, d, oid, l, m, err);
    kumo_market_obj_free(d);
    return rc;
}

int kumo_market_lease_provider_close(kumo_market_st_t *st,
                                     const Kumo__MsgCloseLease *m,
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
        rc = close_active(st, &oid, l, m, err);
    } else {
        rc = kumo_err_set(err, KUMO_ESTATE, "lease in state %d cannot be closed by its provider",
                          (int)l->state);
    }
    kumo_market_obj_free(l);
    return rc;
}
