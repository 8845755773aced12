/*
 * escrow.c - how long a deployment's escrow lasts, and the tenant's warning before it runs
 * out. Leases are paid lazily (at confirmations and when they close), so the escrow in state
 * is what is left after the last payments; what the active leases have earned since is owed
 * but not yet paid. The blocks the escrow still covers at a height are
 * (escrow - owed) / sum of the active leases' prices. The warning (deployment.escrow_low) is
 * checked wherever the escrow or the price changes (a confirmation, a new lease, a deposit or
 * a new threshold) and announced once per crossing: Deployment.escrow_low remembers it until
 * the escrow covers the threshold again. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* Lease field numbers read without decoding (proto/kumo.proto). */
#define LEASE_FIELD_PRICE_TOTAL      3u
#define LEASE_FIELD_LAST_PAID_HEIGHT 7u
/* A lease key: prefix, order body, provider; its state index key: 0x25 state | lease key. */
#define LEASE_KEY_BYTES (1u + KUMO_MARKET_LEASE_BODY_BYTES)

typedef struct cover_scan {
    const kumo_kv_t *kv;
    uint64_t height;
    kumo_market_escrow_cover_t *out;
    kumo_err_ctx_t *err;
} cover_scan_t;

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t s;
    return kumo_u64_add(a, b, &s) < 0 ? UINT64_MAX : s;
}

static int cover_lease_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    cover_scan_t *cs = cb_ctx;
    KUMO_ENSURE(key.len == 2 + LEASE_KEY_BYTES, cs->err, KUMO_ECORRUPT,
                "lease state key of %zu bytes", key.len);
    kumo_bytes_t lease;
    KUMO_GUARD(
        cs->kv->get(cs->kv->ctx, kumo_bytes_make(key.ptr + 2, LEASE_KEY_BYTES), &lease, cs->err));
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(kumo_codec_wire_varints(lease, f, cs->err));
    uint64_t price = f[LEASE_FIELD_PRICE_TOTAL];
    uint64_t paid_to = f[LEASE_FIELD_LAST_PAID_HEIGHT];
    uint64_t blocks = cs->height > paid_to ? cs->height - paid_to : 0;
    uint64_t owed;
    if (kumo_u64_mul(price, blocks, &owed) < 0) {
        owed = UINT64_MAX;
    }
    cs->out->price_per_block = sat_add(cs->out->price_per_block, price);
    cs->out->owed = sat_add(cs->out->owed, owed);
    cs->out->active_lease_count++;
    return 0;
}

int kumo_market_escrow_cover(const kumo_kv_t *kv,
                             const Kumo__Deployment *d,
                             uint64_t height,
                             kumo_market_escrow_cover_t *out,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d->owner.len == KUMO_ADDRESS_BYTES);
    memset(out, 0, sizeof(*out));
    out->height = height;
    out->escrow = d->escrow;
    out->warn_blocks = d->escrow_warn_blocks;
    if (d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE) {
        /* Only an active deployment has active leases (closing moves them to Closing). */
        kumo_market_key_t prefix;
        kumo_market_key_state_dep_prefix(&prefix, KUMO__LEASE_STATE__LEASE_ACTIVE,
                                         KUMO_MARKET_PREFIX_LEASE, d->owner.data, d->dseq);
        cover_scan_t cs = {.kv = kv, .height = height, .out = out, .err = err};
        KUMO_GUARD(kv->scan(kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                            cover_lease_cb, &cs, err));
    }
    out->left = d->escrow > out->owed ? d->escrow - out->owed : 0;
    out->blocks_covered = out->price_per_block == 0 ? UINT64_MAX : out->left / out->price_per_block;
    return 0;
}

int kumo_market_escrow_cover_get(const kumo_kv_t *kv,
                                 const uint8_t *owner,
                                 uint64_t dseq,
                                 uint64_t height,
                                 kumo_market_escrow_cover_t *out,
                                 kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(kv, owner, dseq, &d, err));
    int rc = kumo_market_escrow_cover(kv, d, height, out, err);
    kumo_market_obj_free(d);
    return rc;
}

uint64_t kumo_market_escrow_warn_default(const Kumo__Params *params)
{
    uint64_t w;
    if (kumo_u64_mul(params->reconfirmation_period, 2, &w) < 0 ||
        w > KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX) {
        return KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX;
    }
    return w;
}

int kumo_market_escrow_watch(kumo_market_st_t *st, Kumo__Deployment *d, kumo_err_ctx_t *err)
{
    if (d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE || d->escrow_warn_blocks == 0) {
        /* Nothing to warn about: a new crossing is announced once a threshold is set again. */
        d->escrow_low = false;
        return 0;
    }
    kumo_market_escrow_cover_t c;
    KUMO_GUARD(kumo_market_escrow_cover(st->kv, d, st->height, &c, err));
    bool low = c.blocks_covered < d->escrow_warn_blocks;
    if (low == (bool)d->escrow_low) {
        return 0;
    }
    d->escrow_low = low;
    if (!low) {
        return 0;
    }
    kumo_market_attr_t attrs[] = {{"escrow", c.left, NULL},
                                  {"price_per_block", c.price_per_block, NULL},
                                  {"blocks_covered", c.blocks_covered, NULL},
                                  {"warn_blocks", d->escrow_warn_blocks, NULL},
                                  {"runs_out_at", sat_add(st->height, c.blocks_covered), NULL}};
    return kumo_market_emit_deployment(st, "deployment.escrow_low", d->owner.data, d->dseq, attrs,
                                       KUMO_ARRAY_COUNT(attrs), err);
}
