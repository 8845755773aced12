/*
 * state.c - staking keys, typed state access, params, share and reward arithmetic. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

/* ---- keys ----------------------------------------------------------------------------------- */

void stk_key_init(stk_key_t *k, uint8_t prefix)
{
    k->bytes[0] = prefix;
    k->len = 1;
}

void stk_key_put_raw(stk_key_t *k, const uint8_t *p, size_t len)
{
    KUMO_ASSERT(k->len + len <= STK_KEY_BYTES);
    memcpy(k->bytes + k->len, p, len);
    k->len += (uint32_t)len;
}

void stk_key_put_u64(stk_key_t *k, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
    stk_key_put_raw(k, b, sizeof(b));
}

kumo_bytes_t stk_key_bytes(const stk_key_t *k)
{
    return kumo_bytes_make(k->bytes, k->len);
}

uint64_t stk_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

void stk_key_validator(stk_key_t *k, const uint8_t *op)
{
    stk_key_init(k, STK_PREFIX_VALIDATOR);
    stk_key_put_raw(k, op, KUMO_ADDRESS_BYTES);
}

void stk_key_conskey(stk_key_t *k, const uint8_t *pubkey)
{
    stk_key_init(k, STK_PREFIX_CONSKEY);
    stk_key_put_raw(k, pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
}

void stk_key_delegation(stk_key_t *k, const uint8_t *del, const uint8_t *op)
{
    stk_key_init(k, STK_PREFIX_DELEGATION);
    stk_key_put_raw(k, del, KUMO_ADDRESS_BYTES);
    stk_key_put_raw(k, op, KUMO_ADDRESS_BYTES);
}

void stk_key_power(stk_key_t *k, uint64_t tokens, const uint8_t *op)
{
    /* Inverted so a forward scan visits the most tokens first, ties by operator address. */
    stk_key_init(k, STK_PREFIX_POWER);
    stk_key_put_u64(k, UINT64_MAX - tokens);
    stk_key_put_raw(k, op, KUMO_ADDRESS_BYTES);
}

void stk_key_active(stk_key_t *k, const uint8_t *op)
{
    stk_key_init(k, STK_PREFIX_ACTIVE);
    stk_key_put_raw(k, op, KUMO_ADDRESS_BYTES);
}

void stk_module(const char *name, uint8_t out[KUMO_ADDRESS_BYTES])
{
    kumo_bank_module_address(name, out);
}

/* ---- 128-bit accumulators ------------------------------------------------------------------- */

stk_u128_t stk_rps_get(ProtobufCBinaryData b)
{
    stk_u128_t v = 0;
    for (size_t i = 0; i < b.len && i < STK_RPS_BYTES; i++) {
        v = (v << 8) | b.data[i];
    }
    return v;
}

int stk_rps_store(ProtobufCBinaryData *b, stk_u128_t v, kumo_err_ctx_t *err)
{
    uint8_t *p = NULL;
    if (v != 0) {
        p = kumo_alloc(STK_RPS_BYTES);
        KUMO_ENSURE(p != NULL, err, KUMO_ENOMEM, "accumulator");
        for (int i = STK_RPS_BYTES - 1; i >= 0; i--) {
            p[i] = (uint8_t)(v & 0xffu);
            v >>= 8;
        }
    }
    kumo_free(b->data);
    b->data = p;
    b->len = p != NULL ? STK_RPS_BYTES : 0;
    return 0;
}

uint64_t stk_shares_to_tokens(const Kumo__StakingValidator *v, uint64_t shares)
{
    if (v->shares == 0) {
        return 0;
    }
    KUMO_ASSERT(shares <= v->shares);
    return (uint64_t)(((stk_u128_t)shares * v->tokens) / v->shares);
}

uint64_t stk_pending(stk_u128_t rps_now, stk_u128_t rps_then, uint64_t shares)
{
    KUMO_ASSERT(rps_now >= rps_then);
    stk_u128_t diff = rps_now - rps_then;
    /* shares x diff / scale is at most what the validator's delegators were ever paid, far
     * below 2^64; the product stays below 2^128 while diff < 2^64 x scale / shares. */
    stk_u128_t limit = ((stk_u128_t)UINT64_MAX * STK_RPS_SCALE) / (shares > 0 ? shares : 1);
    KUMO_ASSERT(diff <= limit);
    return (uint64_t)((diff * shares) / STK_RPS_SCALE);
}

/* ---- raw kv and objects --------------------------------------------------------------------- */

int stk_obj_get(const kumo_kv_t *kv,
                const stk_key_t *k,
                const ProtobufCMessageDescriptor *desc,
                ProtobufCMessage **out,
                kumo_err_ctx_t *err)
{
    kumo_bytes_t val;
    int rc = kv->get(kv->ctx, stk_key_bytes(k), &val, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "%s not found", desc->short_name);
    }
    KUMO_GUARD(rc);
    rc = kumo_codec_unpack(desc, val, KUMO_STATE_OBJECT_BYTES_MAX, out, err);
    if (rc == KUMO_EDECODE || rc == KUMO_ELIMIT) {
        return kumo_err_set(err, KUMO_ECORRUPT, "stored %s does not decode (%s)", desc->short_name,
                            kumo_err_name(rc));
    }
    return rc;
}

int stk_obj_put(stk_t *st, const stk_key_t *k, const ProtobufCMessage *obj, kumo_err_ctx_t *err)
{
    kumo_buf_reset(&st->scratch);
    KUMO_GUARD(kumo_codec_pack(obj, &st->scratch, err));
    return st->kv->put(st->kv->ctx, stk_key_bytes(k), kumo_buf_bytes(&st->scratch), err);
}

int stk_put_empty(const kumo_kv_t *kv, const stk_key_t *k, kumo_err_ctx_t *err)
{
    return kv->put(kv->ctx, stk_key_bytes(k), kumo_bytes_make(NULL, 0), err);
}

int stk_del(const kumo_kv_t *kv, const stk_key_t *k, kumo_err_ctx_t *err)
{
    return kv->del(kv->ctx, stk_key_bytes(k), err);
}

int stk_has(const kumo_kv_t *kv, const stk_key_t *k, bool *out, kumo_err_ctx_t *err)
{
    kumo_bytes_t val;
    int rc = kv->get(kv->ctx, stk_key_bytes(k), &val, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        *out = false;
        return 0;
    }
    KUMO_GUARD(rc);
    *out = true;
    return 0;
}

typedef struct keys_ctx {
    stk_key_t *keys;
    size_t count;
    size_t cap;
    size_t count_max;
    bool first_only; /* stop (without error) after count_max keys */
    bool due_only;   /* stop at the first key whose u64 after the prefix passes due */
    uint64_t due;
    kumo_err_ctx_t *err;
} keys_ctx_t;

static int keys_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    keys_ctx_t *kc = cb_ctx;
    KUMO_ENSURE(key.len <= STK_KEY_BYTES, kc->err, KUMO_ECORRUPT, "stored key of %zu bytes",
                key.len);
    if (kc->due_only) {
        KUMO_ENSURE(key.len >= 9, kc->err, KUMO_ECORRUPT, "queue key of %zu bytes", key.len);
        if (stk_be64(key.ptr + 1) > kc->due) {
            return 1;
        }
    }
    if (kc->first_only && kc->count == kc->count_max) {
        return 1;
    }
    KUMO_ENSURE(kc->count < kc->count_max, kc->err, KUMO_ELIMIT, "more than %zu keys to visit",
                kc->count_max);
    if (kc->count == kc->cap) {
        size_t cap = kc->cap == 0 ? 16 : kc->cap * 2;
        stk_key_t *p = kumo_realloc(kc->keys, cap * sizeof(*p));
        KUMO_ENSURE(p != NULL, kc->err, KUMO_ENOMEM, "%zu keys", cap);
        kc->keys = p;
        kc->cap = cap;
    }
    stk_key_t *k = &kc->keys[kc->count++];
    memcpy(k->bytes, key.ptr, key.len);
    k->len = (uint32_t)key.len;
    return 0;
}

int stk_keys_collect(const kumo_kv_t *kv,
                     kumo_bytes_t prefix,
                     size_t count_max,
                     stk_key_t **keys_out,
                     size_t *count_out,
                     kumo_err_ctx_t *err)
{
    keys_ctx_t kc = {.count_max = count_max, .err = err};
    int rc = kv->scan(kv->ctx, prefix, kumo_bytes_make(NULL, 0), keys_cb, &kc, err);
    if (rc < 0) {
        kumo_free(kc.keys);
        return rc;
    }
    *keys_out = kc.keys;
    *count_out = kc.count;
    return 0;
}

int stk_keys_collect_due(const kumo_kv_t *kv,
                         uint8_t prefix,
                         uint64_t due,
                         stk_key_t **keys_out,
                         size_t *count_out,
                         kumo_err_ctx_t *err)
{
    keys_ctx_t kc = {.count_max = SIZE_MAX, .due_only = true, .due = due, .err = err};
    int rc =
        kv->scan(kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0), keys_cb, &kc, err);
    if (rc < 0) {
        kumo_free(kc.keys);
        return rc;
    }
    *keys_out = kc.keys;
    *count_out = kc.count;
    return 0;
}

int stk_keys_collect_first(const kumo_kv_t *kv,
                           uint8_t prefix,
                           size_t n,
                           stk_key_t **keys_out,
                           size_t *count_out,
                           kumo_err_ctx_t *err)
{
    keys_ctx_t kc = {.count_max = n, .first_only = true, .err = err};
    int rc =
        kv->scan(kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0), keys_cb, &kc, err);
    if (rc < 0) {
        kumo_free(kc.keys);
        return rc;
    }
    *keys_out = kc.keys;
    *count_out = kc.count;
    return 0;
}

/* ---- params --------------------------------------------------------------------------------- */

void kumo_staking_params_default(Kumo__StakingParams *p)
{
    kumo__staking_params__init(p);
    p->max_validators = 100;
    p->unbonding_blocks = 120960;   /* a week of 5 s blocks */
    p->signed_blocks_window = 1000; /* blocks */
    p->min_signed_per_window_ppm = 500000;
    p->downtime_jail_blocks = 120; /* ten minutes of 5 s blocks */
    p->slash_fraction_double_sign_ppm = 50000;
    p->slash_fraction_downtime_ppm = 100;
    p->inflation_ppm = 70000;     /* 7 % a year */
    p->blocks_per_year = 6311520; /* 5 s blocks */
    p->min_self_stake = 1000000;  /* 1 kumo */
    p->power_reduction = 1000000; /* 1 kumo = 1 unit of power */
    p->max_entries = 7;
    p->commission_change_blocks = 17280; /* a day of 5 s blocks */
}

static int range_check(uint64_t v, uint64_t lo, uint64_t hi, const char *name, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(v >= lo, err, KUMO_EINVAL, "staking param %s %" PRIu64 " < %" PRIu64, name, v, lo);
    KUMO_ENSURE(v <= hi, err, KUMO_ELIMIT, "staking param %s %" PRIu64 " > %" PRIu64, name, v, hi);
    return 0;
}

int kumo_staking_params_validate(const Kumo__StakingParams *p, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(p != NULL, err, KUMO_EEMPTY, "staking params missing");
    KUMO_GUARD(
        range_check(p->max_validators, 1, KUMO_STAKING_VALIDATORS_MAX, "max_validators", err));
    KUMO_GUARD(range_check(p->unbonding_blocks, 1, UINT32_MAX, "unbonding_blocks", err));
    KUMO_GUARD(range_check(p->signed_blocks_window, 1, KUMO_STAKING_WINDOW_MAX,
                           "signed_blocks_window", err));
    KUMO_GUARD(range_check(p->min_signed_per_window_ppm, 0, KUMO_STAKING_PPM,
                           "min_signed_per_window_ppm", err));
    KUMO_GUARD(range_check(p->downtime_jail_blocks, 0, UINT32_MAX, "downtime_jail_blocks", err));
    KUMO_GUARD(range_check(p->slash_fraction_double_sign_ppm, 0, KUMO_STAKING_PPM,
                           "slash_fraction_double_sign_ppm", err));
    KUMO_GUARD(range_check(p->slash_fraction_downtime_ppm, 0, KUMO_STAKING_PPM,
                           "slash_fraction_downtime_ppm", err));
    KUMO_GUARD(range_check(p->inflation_ppm, 0, KUMO_STAKING_PPM, "inflation_ppm", err));
    KUMO_GUARD(range_check(p->blocks_per_year, 1, UINT32_MAX, "blocks_per_year", err));
    KUMO_GUARD(range_check(p->min_self_stake, 1, KUMO_SUPPLY_MAX, "min_self_stake", err));
    KUMO_GUARD(range_check(p->power_reduction, KUMO_STAKING_POWER_REDUCTION_MIN, KUMO_SUPPLY_MAX,
                           "power_reduction", err));
    KUMO_GUARD(range_check(p->max_entries, 1, KUMO_STAKING_ENTRIES_MAX, "max_entries", err));
    return range_check(p->commission_change_blocks, 1, UINT32_MAX, "commission_change_blocks", err);
}

int kumo_staking_params_get(const kumo_kv_t *kv, Kumo__StakingParams **out, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_init(&k, STK_PREFIX_PARAMS);
    int rc = stk_obj_get(kv, &k, &kumo__staking_params__descriptor, (ProtobufCMessage **)out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "no staking params (genesis not applied)");
    }
    return rc;
}

int stk_begin(stk_t *st, const kumo_kv_t *kv, uint64_t height, kumo_err_ctx_t *err)
{
    memset(st, 0, sizeof(*st));
    st->kv = kv;
    st->height = height;
    kumo_buf_init(&st->scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    int rc = kumo_staking_params_get(kv, &st->params, err);
    if (rc < 0) {
        kumo_buf_free(&st->scratch);
    }
    return rc;
}

void stk_end(stk_t *st)
{
    if (st->params != NULL) {
        kumo_codec_free(&st->params->base);
    }
    kumo_buf_free(&st->scratch);
    memset(st, 0, sizeof(*st));
}

/* ---- typed objects -------------------------------------------------------------------------- */

int stk_validator_get(const kumo_kv_t *kv,
                      const uint8_t *op,
                      Kumo__StakingValidator **out,
                      kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_validator(&k, op);
    KUMO_GUARD(
        stk_obj_get(kv, &k, &kumo__staking_validator__descriptor, (ProtobufCMessage **)out, err));
    const Kumo__StakingValidator *v = *out;
    if (v->address.len != KUMO_ADDRESS_BYTES ||
        memcmp(v->address.data, op, KUMO_ADDRESS_BYTES) != 0 ||
        v->consensus_pubkey.len != KUMO_CRYPTO_PUBKEY_BYTES) {
        kumo_codec_free(&(*out)->base);
        *out = NULL;
        return kumo_err_set(err, KUMO_ECORRUPT, "stored validator does not match its key");
    }
    return 0;
}

bool stk_validator_is_listed(const Kumo__StakingValidator *v)
{
    return !v->jailed && v->tokens > 0;
}

int stk_validator_put(stk_t *st,
                      const Kumo__StakingValidator *v,
                      uint64_t prev_tokens,
                      bool prev_listed,
                      kumo_err_ctx_t *err)
{
    const uint8_t *op = v->address.data;
    bool listed = stk_validator_is_listed(v);
    if (prev_listed != listed || prev_tokens != v->tokens) {
        stk_key_t k;
        if (prev_listed) {
            stk_key_power(&k, prev_tokens, op);
            KUMO_GUARD(stk_del(st->kv, &k, err));
        }
        if (listed) {
            stk_key_power(&k, v->tokens, op);
            KUMO_GUARD(stk_put_empty(st->kv, &k, err));
        }
    }
    stk_key_t k;
    stk_key_validator(&k, op);
    return stk_obj_put(st, &k, &v->base, err);
}

int stk_operator_by_key(const kumo_kv_t *kv,
                        const uint8_t *pubkey,
                        uint8_t op[KUMO_ADDRESS_BYTES],
                        kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_conskey(&k, pubkey);
    kumo_bytes_t val;
    int rc = kv->get(kv->ctx, stk_key_bytes(&k), &val, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "no validator with this consensus key");
    }
    KUMO_GUARD(rc);
    KUMO_ENSURE(val.len == KUMO_ADDRESS_BYTES, err, KUMO_ECORRUPT, "consensus key index entry");
    memcpy(op, val.ptr, KUMO_ADDRESS_BYTES);
    return 0;
}

int stk_put_raw_conskey(stk_t *st, const uint8_t *pubkey, const uint8_t *op, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_conskey(&k, pubkey);
    return st->kv->put(st->kv->ctx, stk_key_bytes(&k), kumo_bytes_make(op, KUMO_ADDRESS_BYTES),
                       err);
}

int stk_delegation_get(const kumo_kv_t *kv,
                       const uint8_t *del,
                       const uint8_t *op,
                       Kumo__Delegation **out,
                       kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_delegation(&k, del, op);
    KUMO_GUARD(stk_obj_get(kv, &k, &kumo__delegation__descriptor, (ProtobufCMessage **)out, err));
    const Kumo__Delegation *d = *out;
    if (d->delegator.len != KUMO_ADDRESS_BYTES || d->validator.len != KUMO_ADDRESS_BYTES ||
        memcmp(d->delegator.data, del, KUMO_ADDRESS_BYTES) != 0 ||
        memcmp(d->validator.data, op, KUMO_ADDRESS_BYTES) != 0 || d->shares == 0) {
        kumo_codec_free(&(*out)->base);
        *out = NULL;
        return kumo_err_set(err, KUMO_ECORRUPT, "stored delegation does not match its key");
    }
    return 0;
}

int stk_global_get(const kumo_kv_t *kv, Kumo__StakingGlobal **out, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_init(&k, STK_PREFIX_GLOBAL);
    int rc = stk_obj_get(kv, &k, &kumo__staking_global__descriptor, (ProtobufCMessage **)out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "no staking global (genesis not applied)");
    }
    return rc;
}

int stk_global_put(stk_t *st, const Kumo__StakingGlobal *g, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_init(&k, STK_PREFIX_GLOBAL);
    return stk_obj_put(st, &k, &g->base, err);
}

/* ---- public reads --------------------------------------------------------------------------- */

int kumo_staking_validator_get(const kumo_kv_t *kv,
                               const uint8_t *operator_addr,
                               Kumo__StakingValidator **out,
                               kumo_err_ctx_t *err)
{
    return stk_validator_get(kv, operator_addr, out, err);
}

int kumo_staking_delegation_get(const kumo_kv_t *kv,
                                const uint8_t *delegator,
                                const uint8_t *operator_addr,
                                Kumo__Delegation **out,
                                kumo_err_ctx_t *err)
{
    return stk_delegation_get(kv, delegator, operator_addr, out, err);
}

int kumo_staking_global_get(const kumo_kv_t *kv, Kumo__StakingGlobal **out, kumo_err_ctx_t *err)
{
    return stk_global_get(kv, out, err);
}

int kumo_staking_delegation_value(const kumo_kv_t *kv,
                                  const uint8_t *delegator,
                                  const uint8_t *operator_addr,
                                  uint64_t *tokens_out,
                                  uint64_t *rewards_out,
                                  kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(kv, operator_addr, &v, err));
    Kumo__Delegation *d = NULL;
    int rc = stk_delegation_get(kv, delegator, operator_addr, &d, err);
    if (rc == 0) {
        KUMO_ASSERT(d->shares <= v->shares);
        *tokens_out = stk_shares_to_tokens(v, d->shares);
        *rewards_out = stk_pending(stk_rps_get(v->reward_per_share),
                                   stk_rps_get(d->reward_per_share), d->shares);
        kumo_codec_free(&d->base);
    }
    kumo_codec_free(&v->base);
    return rc;
}

int kumo_staking_operator_is_active(const kumo_kv_t *kv,
                                    const uint8_t *operator_addr,
                                    bool *out,
                                    kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_active(&k, operator_addr);
    return stk_has(kv, &k, out, err);
}
