/*
 * slash.c - slashing: a fraction of a validator's bonded tokens and of the stake that left it
 * after the infraction (unbonding and redelegation entries created at or after the infraction
 * height) is burned; the validator is jailed, and for double signing tombstoned. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

static uint64_t fraction_of(uint64_t amount, uint64_t ppm)
{
    return (uint64_t)(((stk_u128_t)amount * ppm) / KUMO_STAKING_PPM);
}

static int
burn(stk_t *st, const char *module, uint64_t amount, uint64_t *total, kumo_err_ctx_t *err)
{
    if (amount == 0) {
        return 0;
    }
    uint8_t pool[KUMO_ADDRESS_BYTES];
    stk_module(module, pool);
    KUMO_GUARD(kumo_bank_burn(st->kv, &st->scratch, pool, amount, err));
    KUMO_ENSURE(kumo_u64_add(*total, amount, total) == 0, err, KUMO_EOVERFLOW, "burned total");
    return 0;
}

/* Keys of an index under prefix ‖ op (entries of one validator). */
static int by_validator(
    stk_t *st, uint8_t prefix, const uint8_t *op, stk_key_t **keys, size_t *n, kumo_err_ctx_t *err)
{
    stk_key_t p;
    stk_key_init(&p, prefix);
    stk_key_put_raw(&p, op, KUMO_ADDRESS_BYTES);
    return stk_keys_collect(st->kv, stk_key_bytes(&p), SIZE_MAX, keys, n, err);
}

static int slash_unbondings(stk_t *st,
                            const uint8_t *op,
                            uint64_t infraction,
                            uint64_t ppm,
                            uint64_t *burned,
                            kumo_err_ctx_t *err)
{
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(by_validator(st, STK_PREFIX_UBD_BY_VAL, op, &keys, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *tail = keys[i].bytes + 1 + KUMO_ADDRESS_BYTES;
        Kumo__UnbondingEntry *e = NULL;
        rc = stk_entry_get(st->kv, STK_PREFIX_UBD, stk_be64(tail), stk_be64(tail + 8),
                           &kumo__unbonding_entry__descriptor, (ProtobufCMessage **)&e, err);
        if (rc != 0) {
            break;
        }
        if (e->creation_height >= infraction) {
            uint64_t cut = kumo_u64_min(fraction_of(e->initial_balance, ppm), e->balance);
            e->balance -= cut;
            rc = burn(st, KUMO_STAKING_MODULE_UNBONDING, cut, burned, err);
            if (rc == 0) {
                rc = stk_unbonding_put(st, e, err);
            }
        }
        kumo_codec_free(&e->base);
    }
    kumo_free(keys);
    return rc;
}

/* Takes from the destination delegation the shares a redelegation created there. */
static int slash_redelegation(stk_t *st,
                              const Kumo__RedelegationEntry *e,
                              uint64_t ppm,
                              uint64_t *burned,
                              kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *dst = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, e->dst_validator.data, &dst, err));
    Kumo__Delegation *d = NULL;
    int rc = stk_delegation_get(st->kv, e->delegator.data, e->dst_validator.data, &d, err);
    if (rc == KUMO_ENOTFOUND) {
        /* Already undelegated from the destination: nothing left bonded to take. */
        kumo_err_clear(err);
        kumo_codec_free(&dst->base);
        return 0;
    }
    uint64_t amount = 0;
    if (rc == 0) {
        uint64_t shares = kumo_u64_min(fraction_of(e->shares_dst, ppm), d->shares);
        amount = stk_shares_to_tokens(dst, shares);
        kumo_codec_free(&d->base);
    }
    uint64_t burned_shares = 0;
    if (rc == 0 && amount > 0) {
        rc = stk_undelegate(st, dst, e->delegator.data, &amount, &burned_shares, err);
        if (rc == 0) {
            rc = burn(st, KUMO_STAKING_MODULE_BONDED, amount, burned, err);
        }
    }
    kumo_codec_free(&dst->base);
    return rc;
}

static int slash_redelegations(stk_t *st,
                               const uint8_t *op,
                               uint64_t infraction,
                               uint64_t ppm,
                               uint64_t *burned,
                               kumo_err_ctx_t *err)
{
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(by_validator(st, STK_PREFIX_RED_BY_SRC, op, &keys, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *tail = keys[i].bytes + 1 + KUMO_ADDRESS_BYTES;
        Kumo__RedelegationEntry *e = NULL;
        rc = stk_entry_get(st->kv, STK_PREFIX_RED, stk_be64(tail), stk_be64(tail + 8),
                           &kumo__redelegation_entry__descriptor, (ProtobufCMessage **)&e, err);
        if (rc != 0) {
            break;
        }
        if (e->creation_height >= infraction) {
            rc = slash_redelegation(st, e, ppm, burned, err);
        }
        kumo_codec_free(&e->base);
    }
    kumo_free(keys);
    return rc;
}

int stk_slash(stk_t *st,
              Kumo__StakingValidator *v,
              uint64_t infraction_height,
              uint64_t fraction_ppm,
              uint64_t jail_until,
              bool tombstone,
              kumo_err_ctx_t *err)
{
    uint64_t burned = 0;
    const uint8_t *op = v->address.data;
    KUMO_GUARD(slash_unbondings(st, op, infraction_height, fraction_ppm, &burned, err));
    KUMO_GUARD(slash_redelegations(st, op, infraction_height, fraction_ppm, &burned, err));
    uint64_t prev_tokens = v->tokens;
    bool prev_listed = stk_validator_is_listed(v);
    uint64_t cut = fraction_of(v->tokens, fraction_ppm);
    v->tokens -= cut;
    KUMO_GUARD(burn(st, KUMO_STAKING_MODULE_BONDED, cut, &burned, err));
    v->jailed = true;
    v->jailed_until = jail_until > v->jailed_until ? jail_until : v->jailed_until;
    v->tombstoned = v->tombstoned || tombstone;
    KUMO_GUARD(stk_validator_put(st, v, prev_tokens, prev_listed, err));
    Kumo__StakingGlobal *g = NULL;
    KUMO_GUARD(stk_global_get(st->kv, &g, err));
    int rc = kumo_u64_add(g->burned_total, burned, &g->burned_total) == 0
                 ? stk_global_put(st, g, err)
                 : kumo_err_set(err, KUMO_EOVERFLOW, "burned total");
    kumo_codec_free(&g->base);
    return rc;
}
