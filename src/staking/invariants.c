/*
 * invariants.c - whole-state checks of staking, for tests and audits (never called by msgs):
 * pools against what they hold, shares against delegations, indexes against objects. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

typedef struct inv_val {
    uint8_t op[KUMO_ADDRESS_BYTES];
    uint64_t tokens;
    uint64_t shares;
    uint64_t shares_seen;
    bool listed;
    stk_u128_t rps;
} inv_val_t;

typedef struct inv {
    const kumo_kv_t *kv;
    inv_val_t *vals;
    size_t count;
    stk_u128_t tokens;
    stk_u128_t commission;
    stk_u128_t pending;
    stk_u128_t unbonding;
    size_t listed;
    size_t power_entries;
    kumo_err_ctx_t *err;
} inv_t;

static int val_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    inv_t *inv = cb_ctx;
    Kumo__StakingValidator *v = NULL;
    KUMO_ENSURE(inv->count < KUMO_STAKING_CANDIDATES_MAX, inv->err, KUMO_ECORRUPT,
                "more than %u validators", KUMO_STAKING_CANDIDATES_MAX);
    int rc = kumo_codec_unpack(&kumo__staking_validator__descriptor, val,
                               KUMO_STATE_OBJECT_BYTES_MAX, (ProtobufCMessage **)&v, inv->err);
    KUMO_ENSURE(rc == 0, inv->err, KUMO_ECORRUPT, "validator does not decode (%s: %.120s)",
                kumo_err_name(rc), inv->err->detail);
    bool ok = key.len == 1 + KUMO_ADDRESS_BYTES && v->address.len == KUMO_ADDRESS_BYTES &&
              memcmp(v->address.data, key.ptr + 1, KUMO_ADDRESS_BYTES) == 0 &&
              (v->shares > 0 || v->tokens == 0) && (!v->tombstoned || v->jailed);
    inv_val_t *iv = &inv->vals[inv->count++];
    memcpy(iv->op, key.ptr + 1, KUMO_ADDRESS_BYTES);
    iv->tokens = v->tokens;
    iv->shares = v->shares;
    iv->listed = stk_validator_is_listed(v);
    iv->rps = stk_rps_get(v->reward_per_share);
    inv->tokens += v->tokens;
    inv->commission += v->commission;
    inv->listed += iv->listed ? 1u : 0u;
    kumo_codec_free(&v->base);
    KUMO_ENSURE(ok, inv->err, KUMO_ECORRUPT, "validator inconsistent (key, shares or tombstone)");
    return 0;
}

static inv_val_t *val_find(inv_t *inv, const uint8_t *op)
{
    size_t lo = 0;
    size_t hi = inv->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(inv->vals[mid].op, op, KUMO_ADDRESS_BYTES);
        if (c == 0) {
            return &inv->vals[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int del_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    inv_t *inv = cb_ctx;
    Kumo__Delegation *d = NULL;
    KUMO_ENSURE(kumo_codec_unpack(&kumo__delegation__descriptor, val, KUMO_STATE_OBJECT_BYTES_MAX,
                                  (ProtobufCMessage **)&d, inv->err) == 0,
                inv->err, KUMO_ECORRUPT, "delegation does not decode");
    inv_val_t *iv = key.len == 1 + 2 * KUMO_ADDRESS_BYTES
                        ? val_find(inv, key.ptr + 1 + KUMO_ADDRESS_BYTES)
                        : NULL;
    stk_u128_t then = stk_rps_get(d->reward_per_share);
    bool ok = iv != NULL && d->shares > 0 && then <= iv->rps;
    if (ok) {
        iv->shares_seen += d->shares;
        inv->pending += stk_pending(iv->rps, then, d->shares);
    }
    kumo_codec_free(&d->base);
    KUMO_ENSURE(ok, inv->err, KUMO_ECORRUPT,
                "delegation without its validator or with a bad snapshot");
    return 0;
}

static int ubd_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    inv_t *inv = cb_ctx;
    Kumo__UnbondingEntry *e = NULL;
    KUMO_ENSURE(kumo_codec_unpack(&kumo__unbonding_entry__descriptor, val,
                                  KUMO_STATE_OBJECT_BYTES_MAX, (ProtobufCMessage **)&e,
                                  inv->err) == 0,
                inv->err, KUMO_ECORRUPT, "unbonding entry does not decode");
    bool ok = e->balance <= e->initial_balance;
    inv->unbonding += e->balance;
    kumo_codec_free(&e->base);
    KUMO_ENSURE(ok, inv->err, KUMO_ECORRUPT, "unbonding entry above its initial balance");
    return 0;
}

static int power_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    inv_t *inv = cb_ctx;
    KUMO_ENSURE(key.len == 1 + 8 + KUMO_ADDRESS_BYTES, inv->err, KUMO_ECORRUPT, "power key");
    inv_val_t *iv = val_find(inv, key.ptr + 9);
    KUMO_ENSURE(iv != NULL && iv->listed && UINT64_MAX - stk_be64(key.ptr + 1) == iv->tokens,
                inv->err, KUMO_ECORRUPT, "power index entry without its validator");
    inv->power_entries++;
    return 0;
}

static int scan(inv_t *inv, uint8_t prefix, kumo_kv_scan_cb cb)
{
    return inv->kv->scan(inv->kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0), cb,
                         inv, inv->err);
}

static int pools_check(inv_t *inv)
{
    uint8_t addr[KUMO_ADDRESS_BYTES];
    uint64_t bal = 0;
    stk_module(KUMO_STAKING_MODULE_BONDED, addr);
    KUMO_GUARD(kumo_bank_balance_get(inv->kv, addr, &bal, inv->err));
    KUMO_ENSURE(bal == inv->tokens, inv->err, KUMO_ECORRUPT,
                "bonded pool %" PRIu64 " != validator tokens %" PRIu64, bal, (uint64_t)inv->tokens);
    stk_module(KUMO_STAKING_MODULE_UNBONDING, addr);
    KUMO_GUARD(kumo_bank_balance_get(inv->kv, addr, &bal, inv->err));
    KUMO_ENSURE(bal == inv->unbonding, inv->err, KUMO_ECORRUPT,
                "unbonding pool %" PRIu64 " != unbonding entries %" PRIu64, bal,
                (uint64_t)inv->unbonding);
    Kumo__StakingGlobal *g = NULL;
    KUMO_GUARD(stk_global_get(inv->kv, &g, inv->err));
    stk_u128_t owed = inv->commission + inv->pending + g->reward_carry;
    kumo_codec_free(&g->base);
    stk_module(KUMO_STAKING_MODULE_REWARDS, addr);
    KUMO_GUARD(kumo_bank_balance_get(inv->kv, addr, &bal, inv->err));
    KUMO_ENSURE(bal >= owed, inv->err, KUMO_ECORRUPT,
                "rewards pool %" PRIu64 " < what it owes %" PRIu64, bal, (uint64_t)owed);
    for (size_t i = 0; i < inv->count; i++) {
        KUMO_ENSURE(inv->vals[i].shares == inv->vals[i].shares_seen, inv->err, KUMO_ECORRUPT,
                    "validator shares %" PRIu64 " != delegated shares %" PRIu64,
                    inv->vals[i].shares, inv->vals[i].shares_seen);
    }
    KUMO_ENSURE(inv->listed == inv->power_entries, inv->err, KUMO_ECORRUPT,
                "%zu listed validators, %zu power index entries", inv->listed, inv->power_entries);
    return 0;
}

int kumo_staking_invariants_check(const kumo_kv_t *kv, kumo_err_ctx_t *err)
{
    inv_t inv = {.kv = kv, .err = err};
    inv.vals = kumo_calloc(KUMO_STAKING_CANDIDATES_MAX, sizeof(*inv.vals));
    KUMO_ENSURE(inv.vals != NULL, err, KUMO_ENOMEM, "invariants");
    int rc = scan(&inv, STK_PREFIX_VALIDATOR, val_cb);
    if (rc == 0) {
        rc = scan(&inv, STK_PREFIX_DELEGATION, del_cb);
    }
    if (rc == 0) {
        rc = scan(&inv, STK_PREFIX_UBD, ubd_cb);
    }
    if (rc == 0) {
        rc = scan(&inv, STK_PREFIX_POWER, power_cb);
    }
    if (rc == 0) {
        rc = pools_check(&inv);
    }
    kumo_free(inv.vals);
    return rc;
}
