/*
 * block.c - begin-block (evidence, rewards, downtime) and end-block (maturing entries, the
 * active set and its power updates). Work per block is O(validators + evidence + matured
 * entries): delegations are never visited (rewards go into per-validator accumulators). Pure.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "staking/staking_int.h"

/* ---- evidence ------------------------------------------------------------------------------- */

static int evidence_one(stk_t *st, const kumo_staking_evidence_t *ev, kumo_err_ctx_t *err)
{
    uint8_t op[KUMO_ADDRESS_BYTES];
    int rc = stk_operator_by_key(st->kv, ev->pubkey, op, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        return 0;
    }
    KUMO_GUARD(rc);
    /* Evidence older than the unbonding period concerns stake that has left: ignored. */
    if (ev->height + st->params->unbonding_blocks < st->height) {
        return 0;
    }
    stk_key_t k;
    stk_key_init(&k, STK_PREFIX_EVIDENCE);
    stk_key_put_raw(&k, ev->pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    stk_key_put_u64(&k, ev->height);
    bool handled = false;
    KUMO_GUARD(stk_has(st->kv, &k, &handled, err));
    if (handled) {
        return 0;
    }
    KUMO_GUARD(stk_put_empty(st->kv, &k, err));
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, op, &v, err));
    rc = 0;
    if (!v->tombstoned) {
        rc = stk_slash(st, v, ev->height, st->params->slash_fraction_double_sign_ppm, UINT64_MAX,
                       true, err);
    }
    kumo_codec_free(&v->base);
    return rc;
}

/* ---- rewards -------------------------------------------------------------------------------- */

typedef struct payee {
    uint8_t op[KUMO_ADDRESS_BYTES];
    uint64_t power;
} payee_t;

/* Pays share to validator op: commission, then the accumulator. Returns what it could not
 * place (a validator without shares) in *left. */
static int
pay_validator(stk_t *st, const uint8_t *op, uint64_t share, uint64_t *left, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, op, &v, err));
    *left = 0;
    int rc = 0;
    if (v->shares == 0 || v->tombstoned) {
        *left = share;
    } else {
        uint64_t commission =
            (uint64_t)(((stk_u128_t)share * v->commission_rate_ppm) / KUMO_STAKING_PPM);
        uint64_t rest = share - commission;
        rc = kumo_u64_add(v->commission, commission, &v->commission) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_EOVERFLOW, "commission overflows");
        stk_u128_t rps = stk_rps_get(v->reward_per_share);
        stk_u128_t add = ((stk_u128_t)rest * STK_RPS_SCALE) / v->shares;
        if (rc == 0) {
            rc = stk_rps_store(&v->reward_per_share, rps + add, err);
        }
        if (rc == 0) {
            rc = stk_validator_put(st, v, v->tokens, stk_validator_is_listed(v), err);
        }
    }
    kumo_codec_free(&v->base);
    return rc;
}

/* The validators to pay: those that signed the last commit, else the active set. */
static int payees_collect(
    stk_t *st, const kumo_staking_begin_t *in, payee_t *out, size_t *n, kumo_err_ctx_t *err)
{
    *n = 0;
    for (size_t i = 0; i < in->signer_count && *n < KUMO_STAKING_VALIDATORS_MAX; i++) {
        if (!in->signers[i].signed_block || in->signers[i].power == 0) {
            continue;
        }
        int rc = stk_operator_by_key(st->kv, in->signers[i].pubkey, out[*n].op, err);
        if (rc == KUMO_ENOTFOUND) {
            kumo_err_clear(err);
            continue;
        }
        KUMO_GUARD(rc);
        out[(*n)++].power = in->signers[i].power;
    }
    if (*n > 0) {
        return 0;
    }
    uint8_t prefix = STK_PREFIX_ACTIVE;
    stk_key_t *keys = NULL;
    size_t count = 0;
    KUMO_GUARD(stk_keys_collect(st->kv, kumo_bytes_make(&prefix, 1), KUMO_STAKING_VALIDATORS_MAX,
                                &keys, &count, err));
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        Kumo__ActiveValidator *a = NULL;
        rc = stk_obj_get(st->kv, &keys[i], &kumo__active_validator__descriptor,
                         (ProtobufCMessage **)&a, err);
        if (rc == 0) {
            memcpy(out[*n].op, keys[i].bytes + 1, KUMO_ADDRESS_BYTES);
            out[(*n)++].power = a->power;
            kumo_codec_free(&a->base);
        }
    }
    kumo_free(keys);
    return rc;
}

static int rewards_collect(stk_t *st, Kumo__StakingGlobal *g, uint64_t *total, kumo_err_ctx_t *err)
{
    uint8_t pool[KUMO_ADDRESS_BYTES];
    stk_module(KUMO_STAKING_MODULE_REWARDS, pool);
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(st->kv, &t, err));
    uint64_t mint = (uint64_t)(((stk_u128_t)t.supply * st->params->inflation_ppm) /
                               KUMO_STAKING_PPM / st->params->blocks_per_year);
    uint64_t headroom = KUMO_SUPPLY_MAX - t.supply;
    mint = kumo_u64_min(mint, headroom);
    if (mint > 0) {
        KUMO_GUARD(kumo_bank_mint(st->kv, &st->scratch, pool, mint, err));
        KUMO_ENSURE(kumo_u64_add(g->minted_total, mint, &g->minted_total) == 0, err, KUMO_EOVERFLOW,
                    "minted total");
    }
    uint64_t fees = 0;
    KUMO_GUARD(kumo_bank_fee_pool_take(st->kv, &st->scratch, pool, &fees, err));
    KUMO_ENSURE(kumo_u64_add(mint, fees, total) == 0 &&
                    kumo_u64_add(*total, g->reward_carry, total) == 0,
                err, KUMO_EOVERFLOW, "block rewards overflow");
    return 0;
}

static int
rewards_pay(stk_t *st, const kumo_staking_begin_t *in, Kumo__StakingGlobal *g, kumo_err_ctx_t *err)
{
    uint64_t total = 0;
    KUMO_GUARD(rewards_collect(st, g, &total, err));
    if (total == 0) {
        return 0; /* nothing to pay: a quiet block writes nothing */
    }
    payee_t *payees = kumo_calloc(KUMO_STAKING_VALIDATORS_MAX, sizeof(*payees));
    KUMO_ENSURE(payees != NULL, err, KUMO_ENOMEM, "payees");
    size_t n = 0;
    int rc = payees_collect(st, in, payees, &n, err);
    uint64_t power = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = kumo_u64_add(power, payees[i].power, &power) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_EOVERFLOW, "power overflows");
    }
    uint64_t paid = 0;
    for (size_t i = 0; i < n && rc == 0 && power > 0; i++) {
        uint64_t share = (uint64_t)(((stk_u128_t)total * payees[i].power) / power);
        uint64_t left = 0;
        if (share > 0) {
            rc = pay_validator(st, payees[i].op, share, &left, err);
        }
        paid += share - left;
    }
    kumo_free(payees);
    KUMO_GUARD(rc);
    KUMO_ASSERT(paid <= total);
    g->reward_carry = total - paid;
    return 0;
}

/* ---- downtime ------------------------------------------------------------------------------- */

static int downtime_one(stk_t *st, const kumo_staking_signer_t *s, kumo_err_ctx_t *err)
{
    uint8_t op[KUMO_ADDRESS_BYTES];
    int rc = stk_operator_by_key(st->kv, s->pubkey, op, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        return 0;
    }
    KUMO_GUARD(rc);
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, op, &v, err));
    uint64_t window = st->params->signed_blocks_window;
    size_t bytes = (size_t)((window + 7) / 8);
    uint8_t *bits = kumo_calloc(bytes, 1);
    if (bits == NULL || v->jailed || st->height < v->window_start) {
        rc = bits == NULL ? kumo_err_set(err, KUMO_ENOMEM, "window bitmap") : 0;
        kumo_free(bits);
        kumo_codec_free(&v->base);
        return rc;
    }
    if (v->missed.len == bytes) {
        memcpy(bits, v->missed.data, bytes);
    }
    kumo_free(v->missed.data);
    v->missed.data = bits; /* v owns it now */
    v->missed.len = bytes;
    uint64_t counted = st->height - v->window_start;
    size_t idx = (size_t)(counted % window);
    bool was = (bits[idx / 8] >> (idx % 8)) & 1u;
    bool now = !s->signed_block;
    if (was != now) {
        bits[idx / 8] = (uint8_t)(bits[idx / 8] ^ (1u << (idx % 8)));
        v->missed_count = now ? v->missed_count + 1 : v->missed_count - 1;
    }
    uint64_t min_signed =
        (uint64_t)(((stk_u128_t)window * st->params->min_signed_per_window_ppm) / KUMO_STAKING_PPM);
    if (counted + 1 >= window && v->missed_count > window - min_signed) {
        uint64_t until = st->height + st->params->downtime_jail_blocks;
        v->missed_count = 0;
        kumo_free(v->missed.data);
        v->missed.len = 0;
        v->missed.data = NULL;
        rc = stk_slash(st, v, st->height, st->params->slash_fraction_downtime_ppm, until, false,
                       err);
    } else {
        rc = stk_validator_put(st, v, v->tokens, stk_validator_is_listed(v), err);
    }
    kumo_codec_free(&v->base);
    return rc;
}

int kumo_staking_block_begin(const kumo_kv_t *kv,
                             const kumo_staking_begin_t *in,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && in != NULL);
    stk_t st;
    KUMO_GUARD(stk_begin(&st, kv, in->height, err));
    int rc = 0;
    for (size_t i = 0; i < in->evidence_count && rc == 0; i++) {
        rc = evidence_one(&st, &in->evidence[i], err);
    }
    Kumo__StakingGlobal *g = NULL;
    if (rc == 0) {
        rc = stk_global_get(kv, &g, err);
    }
    uint64_t carry = g != NULL ? g->reward_carry : 0;
    uint64_t minted = g != NULL ? g->minted_total : 0;
    if (rc == 0) {
        rc = rewards_pay(&st, in, g, err);
    }
    if (rc == 0 && (g->reward_carry != carry || g->minted_total != minted)) {
        rc = stk_global_put(&st, g, err);
    }
    if (g != NULL) {
        kumo_codec_free(&g->base);
    }
    for (size_t i = 0; i < in->signer_count && rc == 0; i++) {
        rc = downtime_one(&st, &in->signers[i], err);
    }
    stk_end(&st);
    return rc;
}

/* ---- end-block: the active set -------------------------------------------------------------- */

typedef struct member {
    uint8_t op[KUMO_ADDRESS_BYTES];
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t power;
} member_t;

static int member_cmp(const void *a, const void *b)
{
    return memcmp(((const member_t *)a)->op, ((const member_t *)b)->op, KUMO_ADDRESS_BYTES);
}

/* The top max_validators listed validators with power > 0, sorted by operator. */
static int set_compute(stk_t *st, member_t *out, size_t *n, kumo_err_ctx_t *err)
{
    *n = 0;
    uint8_t prefix = STK_PREFIX_POWER;
    stk_key_t *keys = NULL;
    size_t count = 0;
    KUMO_GUARD(
        stk_keys_collect_first(st->kv, prefix, st->params->max_validators, &keys, &count, err));
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        KUMO_ASSERT(keys[i].len == 1 + 8 + KUMO_ADDRESS_BYTES);
        uint64_t tokens = UINT64_MAX - stk_be64(keys[i].bytes + 1);
        uint64_t power = tokens / st->params->power_reduction;
        if (power == 0) {
            break;
        }
        member_t *m = &out[(*n)++];
        memcpy(m->op, keys[i].bytes + 9, KUMO_ADDRESS_BYTES);
        m->power = power;
        Kumo__StakingValidator *v = NULL;
        rc = stk_validator_get(st->kv, m->op, &v, err);
        if (rc == 0) {
            memcpy(m->pubkey, v->consensus_pubkey.data, KUMO_CRYPTO_PUBKEY_BYTES);
            kumo_codec_free(&v->base);
        }
    }
    kumo_free(keys);
    KUMO_GUARD(rc);
    qsort(out, *n, sizeof(*out), member_cmp);
    return 0;
}

static int set_load(stk_t *st, member_t *out, size_t *n, kumo_err_ctx_t *err)
{
    *n = 0;
    uint8_t prefix = STK_PREFIX_ACTIVE;
    stk_key_t *keys = NULL;
    size_t count = 0;
    KUMO_GUARD(stk_keys_collect(st->kv, kumo_bytes_make(&prefix, 1), KUMO_STAKING_VALIDATORS_MAX,
                                &keys, &count, err));
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        Kumo__ActiveValidator *a = NULL;
        rc = stk_obj_get(st->kv, &keys[i], &kumo__active_validator__descriptor,
                         (ProtobufCMessage **)&a, err);
        if (rc == 0 && a->consensus_pubkey.len != KUMO_CRYPTO_PUBKEY_BYTES) {
            rc = kumo_err_set(err, KUMO_ECORRUPT, "active validator without a key");
        }
        if (rc == 0) {
            member_t *m = &out[(*n)++];
            memcpy(m->op, keys[i].bytes + 1, KUMO_ADDRESS_BYTES);
            memcpy(m->pubkey, a->consensus_pubkey.data, KUMO_CRYPTO_PUBKEY_BYTES);
            m->power = a->power;
        }
        if (a != NULL) {
            kumo_codec_free(&a->base);
        }
    }
    kumo_free(keys);
    return rc;
}

static int set_write(stk_t *st, const member_t *m, bool present, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_active(&k, m->op);
    if (!present) {
        return stk_del(st->kv, &k, err);
    }
    Kumo__ActiveValidator a = KUMO__ACTIVE_VALIDATOR__INIT;
    a.consensus_pubkey.data = (uint8_t *)(uintptr_t)m->pubkey;
    a.consensus_pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    a.power = m->power;
    return stk_obj_put(st, &k, &a.base, err);
}

static int report(kumo_staking_update_cb cb,
                  void *cb_ctx,
                  const uint8_t *pubkey,
                  uint64_t power,
                  kumo_err_ctx_t *err)
{
    if (cb == NULL) {
        return 0;
    }
    kumo_staking_update_t u;
    memcpy(u.pubkey, pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    u.power = power;
    return cb(cb_ctx, &u, err);
}

/* Merges the old and new sets (both by operator): writes and reports every difference. */
static int set_diff(stk_t *st,
                    const member_t *old,
                    size_t on,
                    const member_t *cur,
                    size_t cn,
                    kumo_staking_update_cb cb,
                    void *cb_ctx,
                    kumo_err_ctx_t *err)
{
    size_t i = 0;
    size_t j = 0;
    while (i < on || j < cn) {
        int c = i == on ? 1 : j == cn ? -1 : memcmp(old[i].op, cur[j].op, KUMO_ADDRESS_BYTES);
        if (c < 0) {
            KUMO_GUARD(set_write(st, &old[i], false, err));
            KUMO_GUARD(report(cb, cb_ctx, old[i].pubkey, 0, err));
            i++;
        } else if (c > 0) {
            KUMO_GUARD(set_write(st, &cur[j], true, err));
            KUMO_GUARD(report(cb, cb_ctx, cur[j].pubkey, cur[j].power, err));
            j++;
        } else {
            if (old[i].power != cur[j].power) {
                KUMO_GUARD(set_write(st, &cur[j], true, err));
                KUMO_GUARD(report(cb, cb_ctx, cur[j].pubkey, cur[j].power, err));
            }
            i++;
            j++;
        }
    }
    return 0;
}

int stk_active_set_update(stk_t *st, kumo_staking_update_cb cb, void *cb_ctx, kumo_err_ctx_t *err)
{
    member_t *old = kumo_calloc(KUMO_STAKING_VALIDATORS_MAX, sizeof(*old));
    member_t *cur = kumo_calloc(KUMO_STAKING_VALIDATORS_MAX, sizeof(*cur));
    int rc = old != NULL && cur != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "validator sets");
    size_t on = 0;
    size_t cn = 0;
    if (rc == 0) {
        rc = set_load(st, old, &on, err);
    }
    if (rc == 0) {
        rc = set_compute(st, cur, &cn, err);
    }
    /* A chain never runs without validators: if none qualifies (all jailed, say), the last
     * set stays until one does. */
    if (rc == 0 && cn > 0) {
        rc = set_diff(st, old, on, cur, cn, cb, cb_ctx, err);
    }
    kumo_free(old);
    kumo_free(cur);
    return rc;
}

int kumo_staking_block_end(const kumo_kv_t *kv,
                           uint64_t height,
                           kumo_staking_update_cb cb,
                           void *cb_ctx,
                           kumo_err_ctx_t *err)
{
    stk_t st;
    KUMO_GUARD(stk_begin(&st, kv, height, err));
    int rc = stk_entries_mature(&st, err);
    if (rc == 0) {
        rc = stk_active_set_update(&st, cb, cb_ctx, err);
    }
    stk_end(&st);
    return rc;
}
