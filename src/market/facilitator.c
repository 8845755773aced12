/*
 * facilitator.c - InvalidateStaleLeases, MatchOpenOrders and the closing sweep of the seed:
 * produces every facilitator msg due at a height from three height-ordered indexes, so the
 * work is proportional to what is due, not to the state:
 *   0x21 stale_height lease   -> SubmitStaleLease
 *   0x20 match_height order   -> SubmitLease for the best bid (only open orders with bids are
 *                                in this index; bidless ones wait outside it)
 *   0x22 due_height owner dseq -> DeploymentClosed
 * Stale leases come first: a lease that went unconfirmed past its period is invalidated before
 * a re-order of its group is matched, since matching would otherwise settle it (pay the
 * provider for the unconfirmed blocks) and close it instead of passing its collateral to the
 * tenant. The due msgs are collected from one state; the chain's builder applies them in this
 * order and keeps those that still succeed (kumo_chain_facilitator_txs_build).
 * Bids are ranked from their varint fields only (no decoding), with the comparator that
 * SubmitLease checks; for an order with placement requirements, a bid that would rank best is
 * taken only if its provider still meets them (an auditor may have revoked a signature since). Msgs
 * are built on the stack and lent to the callback. Pure.
 */
#include <string.h>

#include "market/market_int.h"

#define MATCH_KEY_BYTES   (1u + 8u + KUMO_MARKET_ORDER_BODY_BYTES)
#define STALE_KEY_BYTES   (1u + 8u + KUMO_MARKET_LEASE_BODY_BYTES)
#define CLOSING_KEY_BYTES (1u + 8u + KUMO_MARKET_DEP_BODY_BYTES)

bool kumo_market_msg_is_facilitator(const Kumo__Msg *msg)
{
    KUMO_ASSERT(msg != NULL);
    return msg->sum_case == KUMO__MSG__SUM_SUBMIT_LEASE ||
           msg->sum_case == KUMO__MSG__SUM_SUBMIT_STALE_LEASE ||
           msg->sum_case == KUMO__MSG__SUM_DEPLOYMENT_CLOSED;
}

typedef struct collect_ctx {
    const kumo_kv_t *kv;
    uint64_t height;
    uint32_t count;
    uint32_t count_max;
    kumo_market_msg_cb cb;
    void *cb_ctx;
    bool stopped;
    kumo_err_ctx_t *err;
} collect_ctx_t;

/* Hands one msg to the callback; returns 1 when collection must stop. */
static int collect_emit(collect_ctx_t *cc, const Kumo__Msg *msg)
{
    KUMO_ASSERT(cc->count < cc->count_max);
    int rc = cc->cb(cc->cb_ctx, msg);
    if (rc < 0) {
        return kumo_err_set(cc->err, rc, "facilitator callback failed");
    }
    cc->count++;
    if (rc > 0 || cc->count >= cc->count_max) {
        cc->stopped = true;
        return 1;
    }
    return 0;
}

/* Order field 12 (requirements), seen without decoding (proto/kumo.proto). */
#define ORDER_FIELD_REQUIREMENTS 12u

/* The due order, decoded only when it has placement requirements (*out NULL otherwise): most
 * orders have none, and the facilitator ranks their bids from varints alone. */
static int order_get_if_required(collect_ctx_t *cc, const kumo_market_oid_t *oid, Kumo__Order **out)
{
    *out = NULL;
    kumo_market_key_t k;
    kumo_market_key_order(&k, oid);
    kumo_bytes_t val;
    int rc = kumo_market_kv_get(cc->kv, &k, &val, cc->err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(cc->err, KUMO_ECORRUPT, "match index entry without its order");
    }
    KUMO_GUARD(rc);
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    uint32_t present = 0;
    KUMO_GUARD(kumo_codec_wire_read(val, f, &present, cc->err));
    if ((present & (1u << ORDER_FIELD_REQUIREMENTS)) == 0) {
        return 0;
    }
    return kumo_market_order_get(cc->kv, oid, out, cc->err);
}

static int match_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    collect_ctx_t *cc = ctx;
    KUMO_ENSURE(key.len == MATCH_KEY_BYTES, cc->err, KUMO_ECORRUPT, "match key of %zu bytes",
                key.len);
    if (kumo_be64_get(key.ptr + 1) > cc->height) {
        return 1;
    }
    kumo_market_oid_t oid;
    kumo_market_oid_from_body(key.ptr + 9, &oid);
    Kumo__Order *o = NULL;
    KUMO_GUARD(order_get_if_required(cc, &oid, &o));
    kumo_market_bids_t bids;
    /* Only bids whose provider still meets the order's requirements are matched; when none
     * does, the order waits for one that does. */
    int rc = kumo_market_order_bids_scan(cc->kv, &oid, true, o != NULL ? o->requirements : NULL,
                                         &bids, cc->err);
    kumo_market_obj_free(o);
    KUMO_GUARD(rc);
    if (!bids.has_best) {
        return 0;
    }
    Kumo__OrderId mid;
    kumo_market_oid_to_msg(&oid, &mid);
    Kumo__MsgSubmitLease sl = KUMO__MSG_SUBMIT_LEASE__INIT;
    sl.order = &mid;
    sl.provider.data = bids.best_provider;
    sl.provider.len = KUMO_ADDRESS_BYTES;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE;
    msg.submit_lease = &sl;
    return collect_emit(cc, &msg);
}

static int stale_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    collect_ctx_t *cc = ctx;
    KUMO_ENSURE(key.len == STALE_KEY_BYTES, cc->err, KUMO_ECORRUPT, "stale key of %zu bytes",
                key.len);
    if (kumo_be64_get(key.ptr + 1) > cc->height) {
        return 1;
    }
    kumo_market_oid_t oid;
    kumo_market_oid_from_body(key.ptr + 9, &oid);
    uint8_t provider[KUMO_ADDRESS_BYTES];
    memcpy(provider, key.ptr + 9 + KUMO_MARKET_ORDER_BODY_BYTES, KUMO_ADDRESS_BYTES);
    Kumo__OrderId mid;
    kumo_market_oid_to_msg(&oid, &mid);
    Kumo__MsgSubmitStaleLease sl = KUMO__MSG_SUBMIT_STALE_LEASE__INIT;
    sl.order = &mid;
    sl.provider.data = provider;
    sl.provider.len = KUMO_ADDRESS_BYTES;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_STALE_LEASE;
    msg.submit_stale_lease = &sl;
    return collect_emit(cc, &msg);
}

static int closing_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    collect_ctx_t *cc = ctx;
    KUMO_ENSURE(key.len == CLOSING_KEY_BYTES, cc->err, KUMO_ECORRUPT, "closing key of %zu bytes",
                key.len);
    if (kumo_be64_get(key.ptr + 1) > cc->height) {
        return 1;
    }
    uint8_t owner[KUMO_ADDRESS_BYTES];
    memcpy(owner, key.ptr + 9, KUMO_ADDRESS_BYTES);
    Kumo__MsgDeploymentClosed dc = KUMO__MSG_DEPLOYMENT_CLOSED__INIT;
    dc.owner.data = owner;
    dc.owner.len = KUMO_ADDRESS_BYTES;
    dc.dseq = kumo_be64_get(key.ptr + 9 + KUMO_ADDRESS_BYTES);
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_DEPLOYMENT_CLOSED;
    msg.deployment_closed = &dc;
    return collect_emit(cc, &msg);
}

int kumo_market_facilitator_collect(const kumo_kv_t *kv,
                                    uint64_t height,
                                    uint32_t msg_count_max,
                                    kumo_market_msg_cb cb,
                                    void *cb_ctx,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && cb != NULL);
    if (msg_count_max == 0) {
        return 0;
    }
    collect_ctx_t cc = {
        .kv = kv,
        .height = height,
        .count_max = msg_count_max,
        .cb = cb,
        .cb_ctx = cb_ctx,
        .err = err,
    };
    static const struct {
        uint8_t prefix;
        kumo_kv_scan_cb scan_cb;
    } phases[] = {
        {KUMO_MARKET_PREFIX_STALE, stale_cb},
        {KUMO_MARKET_PREFIX_MATCH, match_cb},
        {KUMO_MARKET_PREFIX_CLOSING, closing_cb},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(phases) && !cc.stopped; i++) {
        uint8_t prefix = phases[i].prefix;
        KUMO_GUARD(kv->scan(kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0),
                            phases[i].scan_cb, &cc, err));
    }
    KUMO_ASSERT(cc.count <= msg_count_max);
    return 0;
}
