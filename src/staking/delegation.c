/*
 * delegation.c - shares in, shares out, and reward settlement of one delegation: the
 * reward-per-share accumulator makes each O(1) whatever the number of delegations. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

int stk_rewards_settle(stk_t *st,
                       const Kumo__StakingValidator *v,
                       Kumo__Delegation *d,
                       uint64_t *paid_out,
                       kumo_err_ctx_t *err)
{
    stk_u128_t now = stk_rps_get(v->reward_per_share);
    uint64_t pending = stk_pending(now, stk_rps_get(d->reward_per_share), d->shares);
    if (pending > 0) {
        uint8_t pool[KUMO_ADDRESS_BYTES];
        stk_module(KUMO_STAKING_MODULE_REWARDS, pool);
        int rc = kumo_bank_transfer(st->kv, &st->scratch, pool, d->delegator.data, pending, err);
        /* The pool holds every pending reward (the invariant): a shortfall is corruption. */
        KUMO_ENSURE(rc != KUMO_EFUNDS, err, KUMO_ECORRUPT, "rewards pool short of %" PRIu64,
                    pending);
        KUMO_GUARD(rc);
    }
    KUMO_GUARD(stk_rps_store(&d->reward_per_share, now, err));
    if (paid_out != NULL) {
        *paid_out = pending;
    }
    return 0;
}

static int delegation_write(stk_t *st, const Kumo__Delegation *d, kumo_err_ctx_t *err)
{
    stk_key_t k;
    stk_key_delegation(&k, d->delegator.data, d->validator.data);
    if (d->shares == 0) {
        return stk_del(st->kv, &k, err);
    }
    return stk_obj_put(st, &k, &d->base, err);
}

int stk_delegate(stk_t *st,
                 Kumo__StakingValidator *v,
                 const uint8_t *del,
                 uint64_t amount,
                 const uint8_t *from,
                 uint64_t *shares_out,
                 kumo_err_ctx_t *err)
{
    KUMO_ASSERT(amount > 0);
    KUMO_ENSURE(v->shares == 0 || v->tokens > 0, err, KUMO_ESTATE,
                "validator's stake was slashed to nothing");
    /* New shares at the current rate: amount x shares / tokens (1:1 for the first). */
    uint64_t shares = amount;
    if (v->shares > 0) {
        KUMO_ENSURE(kumo_u64_mul_div_floor(amount, v->shares, v->tokens, &shares) == 0, err,
                    KUMO_EOVERFLOW, "shares overflow");
    }
    KUMO_ENSURE(shares > 0, err, KUMO_EINVAL, "amount %" PRIu64 " buys no share", amount);
    uint64_t prev_tokens = v->tokens;
    bool prev_listed = stk_validator_is_listed(v);
    KUMO_ENSURE(kumo_u64_add(v->tokens, amount, &v->tokens) == 0 &&
                    kumo_u64_add(v->shares, shares, &v->shares) == 0,
                err, KUMO_EOVERFLOW, "validator stake overflows");
    if (from != NULL) {
        uint8_t bonded[KUMO_ADDRESS_BYTES];
        stk_module(KUMO_STAKING_MODULE_BONDED, bonded);
        KUMO_GUARD(kumo_bank_transfer(st->kv, &st->scratch, from, bonded, amount, err));
    }
    Kumo__Delegation *d = NULL;
    Kumo__Delegation fresh = KUMO__DELEGATION__INIT;
    int rc = stk_delegation_get(st->kv, del, v->address.data, &d, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        fresh.delegator.data = (uint8_t *)(uintptr_t)del;
        fresh.delegator.len = KUMO_ADDRESS_BYTES;
        fresh.validator = v->address;
        rc = stk_rps_store(&fresh.reward_per_share, stk_rps_get(v->reward_per_share), err);
    } else if (rc == 0) {
        rc = stk_rewards_settle(st, v, d, NULL, err);
    }
    Kumo__Delegation *w = d != NULL ? d : &fresh;
    if (rc == 0) {
        rc = kumo_u64_add(w->shares, shares, &w->shares) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_EOVERFLOW, "delegation shares overflow");
    }
    if (rc == 0) {
        rc = delegation_write(st, w, err);
    }
    if (d != NULL) {
        kumo_codec_free(&d->base);
    }
    kumo_free(fresh.reward_per_share.data);
    KUMO_GUARD(rc);
    if (shares_out != NULL) {
        *shares_out = shares;
    }
    return stk_validator_put(st, v, prev_tokens, prev_listed, err);
}

int stk_undelegate(stk_t *st,
                   Kumo__StakingValidator *v,
                   const uint8_t *del,
                   uint64_t *amount_io,
                   uint64_t *shares_out,
                   kumo_err_ctx_t *err)
{
    uint64_t amount = *amount_io;
    Kumo__Delegation *d = NULL;
    KUMO_GUARD(stk_delegation_get(st->kv, del, v->address.data, &d, err));
    uint64_t worth = stk_shares_to_tokens(v, d->shares);
    uint64_t shares = 0;
    int rc = 0;
    if (amount > worth) {
        rc = kumo_err_set(err, KUMO_EFUNDS, "delegation is worth %" PRIu64 " < %" PRIu64, worth,
                          amount);
    }
    if (rc == 0) {
        rc = stk_rewards_settle(st, v, d, NULL, err);
    }
    if (rc == 0) {
        /* Shares to burn: ceil(amount x shares / tokens), all of them for the whole value. */
        if (amount == worth) {
            shares = d->shares;
        } else {
            stk_u128_t num = (stk_u128_t)amount * v->shares;
            shares = (uint64_t)((num + v->tokens - 1) / v->tokens);
        }
        if (shares >= d->shares) {
            /* Rounding up took every share: the delegator takes the whole value. */
            shares = d->shares;
            amount = worth;
        }
        d->shares -= shares;
        rc = delegation_write(st, d, err);
    }
    kumo_codec_free(&d->base);
    KUMO_GUARD(rc);
    uint64_t prev_tokens = v->tokens;
    bool prev_listed = stk_validator_is_listed(v);
    KUMO_ASSERT(v->tokens >= amount && v->shares >= shares);
    v->tokens -= amount;
    v->shares -= shares;
    /* The last share's worth is all the tokens left (floor of S x T / S), so no stake stays
     * behind without shares. */
    KUMO_ASSERT(v->shares > 0 || v->tokens == 0);
    *shares_out = shares;
    *amount_io = amount;
    return stk_validator_put(st, v, prev_tokens, prev_listed, err);
}
