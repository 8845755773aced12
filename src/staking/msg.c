/*
 * msg.c - the staking msgs: stateless checks, dispatch, and the handlers. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

bool kumo_staking_msg_is_staking(const Kumo__Msg *msg)
{
    return msg != NULL && msg->sum_case >= KUMO__MSG__SUM_CREATE_VALIDATOR &&
           msg->sum_case <= KUMO__MSG__SUM_WITHDRAW_REWARDS;
}

static int addr_check(ProtobufCBinaryData a, const char *what, kumo_err_ctx_t *err)
{
    return kumo_bank_address_validate(a, what, err);
}

static int moniker_check(const char *s, bool optional, kumo_err_ctx_t *err)
{
    size_t len = s == NULL ? 0 : strnlen(s, KUMO_STAKING_MONIKER_BYTES_MAX + 1);
    KUMO_ENSURE(optional || len > 0, err, KUMO_EEMPTY, "moniker is empty");
    KUMO_ENSURE(len <= KUMO_STAKING_MONIKER_BYTES_MAX, err, KUMO_ELIMIT, "moniker over %u bytes",
                KUMO_STAKING_MONIKER_BYTES_MAX);
    return 0;
}

static int amount_check(uint64_t amount, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(amount > 0, err, KUMO_EINVAL, "amount is zero");
    KUMO_ENSURE(amount <= KUMO_SUPPLY_MAX, err, KUMO_ELIMIT, "amount over the supply's ceiling");
    return 0;
}

static int create_check(const Kumo__MsgCreateValidator *m, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(m->consensus_pubkey.len == KUMO_CRYPTO_PUBKEY_BYTES, err, KUMO_EINVAL,
                "consensus key of %zu bytes, want %u", m->consensus_pubkey.len,
                KUMO_CRYPTO_PUBKEY_BYTES);
    KUMO_GUARD(moniker_check(m->moniker, false, err));
    KUMO_GUARD(amount_check(m->self_stake, err));
    KUMO_ENSURE(m->commission_max_rate_ppm <= KUMO_STAKING_PPM, err, KUMO_EINVAL,
                "commission max rate over 10^6 ppm");
    KUMO_ENSURE(m->commission_rate_ppm <= m->commission_max_rate_ppm, err, KUMO_EINVAL,
                "commission rate above its max rate");
    KUMO_ENSURE(m->commission_max_change_ppm <= m->commission_max_rate_ppm, err, KUMO_EINVAL,
                "commission max change above the max rate");
    return 0;
}

static int edit_check(const Kumo__MsgEditValidator *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(moniker_check(m->moniker, true, err));
    KUMO_ENSURE(m->set_commission || m->commission_rate_ppm == 0, err, KUMO_EINVAL,
                "a commission rate without set_commission");
    KUMO_ENSURE(m->commission_rate_ppm <= KUMO_STAKING_PPM, err, KUMO_EINVAL,
                "commission rate over 10^6 ppm");
    bool moniker = m->moniker != NULL && m->moniker[0] != '\0';
    KUMO_ENSURE(moniker || m->set_commission, err, KUMO_EEMPTY, "nothing to edit");
    return 0;
}

int kumo_staking_msg_validate_basic(const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(kumo_staking_msg_is_staking(msg), err, KUMO_EUNKNOWNMSG, "not a staking msg");
    switch (msg->sum_case) {
    case KUMO__MSG__SUM_CREATE_VALIDATOR:
        KUMO_ENSURE(msg->create_validator != NULL, err, KUMO_EEMPTY, "msg body missing");
        return create_check(msg->create_validator, err);
    case KUMO__MSG__SUM_EDIT_VALIDATOR:
        KUMO_ENSURE(msg->edit_validator != NULL, err, KUMO_EEMPTY, "msg body missing");
        return edit_check(msg->edit_validator, err);
    case KUMO__MSG__SUM_DELEGATE:
        KUMO_ENSURE(msg->delegate != NULL, err, KUMO_EEMPTY, "msg body missing");
        KUMO_GUARD(addr_check(msg->delegate->validator, "validator", err));
        return amount_check(msg->delegate->amount, err);
    case KUMO__MSG__SUM_UNDELEGATE:
        KUMO_ENSURE(msg->undelegate != NULL, err, KUMO_EEMPTY, "msg body missing");
        KUMO_GUARD(addr_check(msg->undelegate->validator, "validator", err));
        return amount_check(msg->undelegate->amount, err);
    case KUMO__MSG__SUM_REDELEGATE: {
        const Kumo__MsgRedelegate *m = msg->redelegate;
        KUMO_ENSURE(m != NULL, err, KUMO_EEMPTY, "msg body missing");
        KUMO_GUARD(addr_check(m->src_validator, "src_validator", err));
        KUMO_GUARD(addr_check(m->dst_validator, "dst_validator", err));
        KUMO_ENSURE(memcmp(m->src_validator.data, m->dst_validator.data, KUMO_ADDRESS_BYTES) != 0,
                    err, KUMO_EINVAL, "redelegation to the same validator");
        return amount_check(m->amount, err);
    }
    case KUMO__MSG__SUM_UNJAIL:
        KUMO_ENSURE(msg->unjail != NULL, err, KUMO_EEMPTY, "msg body missing");
        return 0;
    default:
        KUMO_ENSURE(msg->withdraw_rewards != NULL, err, KUMO_EEMPTY, "msg body missing");
        return addr_check(msg->withdraw_rewards->validator, "validator", err);
    }
}

static int dispatch(stk_t *st, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    switch (msg->sum_case) {
    case KUMO__MSG__SUM_CREATE_VALIDATOR:
        return stk_create_validator(st, msg->create_validator, err);
    case KUMO__MSG__SUM_EDIT_VALIDATOR:
        return stk_edit_validator(st, msg->edit_validator, err);
    case KUMO__MSG__SUM_DELEGATE:
        return stk_msg_delegate(st, msg->delegate, err);
    case KUMO__MSG__SUM_UNDELEGATE:
        return stk_msg_undelegate(st, msg->undelegate, err);
    case KUMO__MSG__SUM_REDELEGATE:
        return stk_msg_redelegate(st, msg->redelegate, err);
    case KUMO__MSG__SUM_UNJAIL:
        return stk_msg_unjail(st, err);
    default:
        return stk_msg_withdraw(st, msg->withdraw_rewards, err);
    }
}

int kumo_staking_msg_apply(const kumo_staking_ctx_t *ctx, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL && ctx->kv != NULL && ctx->signer != NULL);
    KUMO_GUARD(kumo_staking_msg_validate_basic(msg, err));
    stk_t st;
    KUMO_GUARD(stk_begin(&st, ctx->kv, ctx->height, err));
    st.signer = ctx->signer;
    int rc = dispatch(&st, msg, err);
    stk_end(&st);
    return rc;
}

/* ---- handlers ------------------------------------------------------------------------------- */

static int validators_count(stk_t *st, size_t *out, kumo_err_ctx_t *err)
{
    uint8_t prefix = STK_PREFIX_VALIDATOR;
    stk_key_t *keys = NULL;
    int rc = stk_keys_collect(st->kv, kumo_bytes_make(&prefix, 1), KUMO_STAKING_CANDIDATES_MAX,
                              &keys, out, err);
    kumo_free(keys);
    if (rc == KUMO_ELIMIT) {
        return kumo_err_set(err, KUMO_ELIMIT, "%u validators exist already",
                            KUMO_STAKING_CANDIDATES_MAX);
    }
    return rc;
}

int stk_create_validator(stk_t *st, const Kumo__MsgCreateValidator *m, kumo_err_ctx_t *err)
{
    stk_key_t k;
    bool exists = false;
    stk_key_validator(&k, st->signer);
    KUMO_GUARD(stk_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EEXIST, "signer already operates a validator");
    stk_key_conskey(&k, m->consensus_pubkey.data);
    KUMO_GUARD(stk_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EDUPLICATE, "consensus key already in use");
    KUMO_ENSURE(m->self_stake >= st->params->min_self_stake, err, KUMO_EDEPOSIT,
                "self stake %" PRIu64 " < min_self_stake %" PRIu64, m->self_stake,
                st->params->min_self_stake);
    size_t count = 0;
    KUMO_GUARD(validators_count(st, &count, err));
    KUMO_ENSURE(count < KUMO_STAKING_CANDIDATES_MAX, err, KUMO_ELIMIT,
                "%u validators exist already", KUMO_STAKING_CANDIDATES_MAX);
    uint64_t balance = 0;
    KUMO_GUARD(kumo_bank_balance_get(st->kv, st->signer, &balance, err));
    KUMO_ENSURE(balance >= m->self_stake, err, KUMO_EFUNDS,
                "balance %" PRIu64 " < self stake %" PRIu64, balance, m->self_stake);
    KUMO_GUARD(stk_put_raw_conskey(st, m->consensus_pubkey.data, st->signer, err));
    Kumo__StakingValidator v = KUMO__STAKING_VALIDATOR__INIT;
    v.address.data = (uint8_t *)(uintptr_t)st->signer;
    v.address.len = KUMO_ADDRESS_BYTES;
    v.consensus_pubkey = m->consensus_pubkey;
    v.moniker = m->moniker;
    v.commission_rate_ppm = m->commission_rate_ppm;
    v.commission_max_rate_ppm = m->commission_max_rate_ppm;
    v.commission_max_change_ppm = m->commission_max_change_ppm;
    v.commission_changed_height = st->height;
    v.window_start = st->height;
    return stk_delegate(st, &v, st->signer, m->self_stake, st->signer, NULL, err);
}

int stk_edit_validator(stk_t *st, const Kumo__MsgEditValidator *m, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, st->signer, &v, err));
    int rc = 0;
    if (m->set_commission) {
        uint64_t old = v->commission_rate_ppm;
        uint64_t change = m->commission_rate_ppm > old ? m->commission_rate_ppm - old
                                                       : old - m->commission_rate_ppm;
        if (m->commission_rate_ppm > v->commission_max_rate_ppm) {
            rc = kumo_err_set(err, KUMO_EINVAL, "rate %" PRIu64 " above the max rate %" PRIu64,
                              m->commission_rate_ppm, v->commission_max_rate_ppm);
        } else if (change > v->commission_max_change_ppm) {
            rc = kumo_err_set(err, KUMO_ELIMIT, "change %" PRIu64 " above the max change %" PRIu64,
                              change, v->commission_max_change_ppm);
        } else if (st->height <
                   v->commission_changed_height + st->params->commission_change_blocks) {
            rc = kumo_err_set(err, KUMO_ETOOEARLY, "commission changed at %" PRIu64,
                              v->commission_changed_height);
        }
        v->commission_rate_ppm = m->commission_rate_ppm;
        v->commission_changed_height = st->height;
    }
    char *old_moniker = v->moniker;
    if (m->moniker != NULL && m->moniker[0] != '\0') {
        v->moniker = m->moniker;
    }
    if (rc == 0) {
        rc = stk_validator_put(st, v, v->tokens, stk_validator_is_listed(v), err);
    }
    v->moniker = old_moniker;
    kumo_codec_free(&v->base);
    return rc;
}

static int validator_for_delegation(stk_t *st,
                                    const uint8_t *op,
                                    Kumo__StakingValidator **out,
                                    kumo_err_ctx_t *err)
{
    KUMO_GUARD(stk_validator_get(st->kv, op, out, err));
    if ((*out)->tombstoned) {
        kumo_codec_free(&(*out)->base);
        *out = NULL;
        return kumo_err_set(err, KUMO_ETOMBSTONED, "validator is tombstoned");
    }
    return 0;
}

int stk_msg_delegate(stk_t *st, const Kumo__MsgDelegate *m, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(validator_for_delegation(st, m->validator.data, &v, err));
    int rc = stk_delegate(st, v, st->signer, m->amount, st->signer, NULL, err);
    kumo_codec_free(&v->base);
    return rc;
}

/* Before taking amount from the signer's delegation to v: the delegation exists
 * (KUMO_ENOTFOUND), is worth amount (KUMO_EFUNDS), and an operator keeps at least
 * min_self_stake delegated to itself or takes everything (KUMO_EDEPOSIT). Writes nothing. */
static int
take_check(stk_t *st, const Kumo__StakingValidator *v, uint64_t amount, kumo_err_ctx_t *err)
{
    Kumo__Delegation *d = NULL;
    KUMO_GUARD(stk_delegation_get(st->kv, st->signer, v->address.data, &d, err));
    uint64_t worth = stk_shares_to_tokens(v, d->shares);
    kumo_codec_free(&d->base);
    KUMO_ENSURE(amount <= worth, err, KUMO_EFUNDS, "delegation is worth %" PRIu64 " < %" PRIu64,
                worth, amount);
    bool self = memcmp(v->address.data, st->signer, KUMO_ADDRESS_BYTES) == 0;
    uint64_t left = worth - amount;
    KUMO_ENSURE(!self || left == 0 || left >= st->params->min_self_stake, err, KUMO_EDEPOSIT,
                "self stake would be %" PRIu64 " < min_self_stake %" PRIu64, left,
                st->params->min_self_stake);
    return 0;
}

int stk_msg_undelegate(stk_t *st, const Kumo__MsgUndelegate *m, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, m->validator.data, &v, err));
    uint64_t amount = m->amount;
    uint64_t shares = 0;
    int rc = take_check(st, v, amount, err);
    if (rc == 0) {
        rc = stk_unbonding_room(st, st->signer, err);
    }
    if (rc == 0) {
        rc = stk_undelegate(st, v, st->signer, &amount, &shares, err);
    }
    if (rc == 0) {
        rc = stk_unbonding_create(st, st->signer, v->address.data, amount, err);
    }
    kumo_codec_free(&v->base);
    return rc;
}

int stk_msg_redelegate(stk_t *st, const Kumo__MsgRedelegate *m, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *src = NULL;
    Kumo__StakingValidator *dst = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, m->src_validator.data, &src, err));
    int rc = validator_for_delegation(st, m->dst_validator.data, &dst, err);
    if (rc == 0 && dst->shares > 0 && dst->tokens == 0) {
        rc = kumo_err_set(err, KUMO_ESTATE, "destination's stake was slashed to nothing");
    }
    if (rc == 0) {
        rc = take_check(st, src, m->amount, err);
    }
    if (rc == 0) {
        rc = stk_redelegation_check(st, st->signer, m->src_validator.data, err);
    }
    uint64_t amount = m->amount;
    uint64_t shares = 0;
    if (rc == 0) {
        rc = stk_undelegate(st, src, st->signer, &amount, &shares, err);
    }
    uint64_t shares_dst = 0;
    if (rc == 0) {
        /* The tokens stay in the bonded pool: from NULL. */
        rc = stk_delegate(st, dst, st->signer, amount, NULL, &shares_dst, err);
    }
    if (rc == 0) {
        rc = stk_redelegation_create(st, st->signer, m->src_validator.data, m->dst_validator.data,
                                     amount, shares_dst, err);
    }
    kumo_codec_free(&src->base);
    if (dst != NULL) {
        kumo_codec_free(&dst->base);
    }
    return rc;
}

int stk_msg_unjail(stk_t *st, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, st->signer, &v, err));
    int rc = 0;
    uint64_t self = 0;
    if (v->tombstoned) {
        rc = kumo_err_set(err, KUMO_ETOMBSTONED, "validator is tombstoned");
    } else if (!v->jailed) {
        rc = kumo_err_set(err, KUMO_ESTATE, "validator is not jailed");
    } else if (st->height < v->jailed_until) {
        rc = kumo_err_set(err, KUMO_ETOOEARLY, "jailed until %" PRIu64, v->jailed_until);
    } else {
        Kumo__Delegation *d = NULL;
        rc = stk_delegation_get(st->kv, st->signer, st->signer, &d, err);
        if (rc == KUMO_ENOTFOUND) {
            kumo_err_clear(err);
            rc = 0;
        } else if (rc == 0) {
            self = stk_shares_to_tokens(v, d->shares);
            kumo_codec_free(&d->base);
        }
        if (rc == 0 && self < st->params->min_self_stake) {
            rc = kumo_err_set(err, KUMO_EDEPOSIT, "self stake %" PRIu64 " < min_self_stake", self);
        }
    }
    if (rc == 0) {
        v->jailed = false;
        v->jailed_until = 0;
        /* A fresh window: the blocks missed while jailed do not count again. */
        v->window_start = st->height;
        v->missed_count = 0;
        kumo_free(v->missed.data);
        v->missed.len = 0;
        v->missed.data = NULL;
        rc = stk_validator_put(st, v, v->tokens, false, err);
    }
    kumo_codec_free(&v->base);
    return rc;
}

int stk_msg_withdraw(stk_t *st, const Kumo__MsgWithdrawRewards *m, kumo_err_ctx_t *err)
{
    Kumo__StakingValidator *v = NULL;
    KUMO_GUARD(stk_validator_get(st->kv, m->validator.data, &v, err));
    Kumo__Delegation *d = NULL;
    int rc = stk_delegation_get(st->kv, st->signer, m->validator.data, &d, err);
    bool found = rc == 0;
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        rc = 0;
    } else if (rc == 0) {
        rc = stk_rewards_settle(st, v, d, NULL, err);
        if (rc == 0) {
            stk_key_t k;
            stk_key_delegation(&k, st->signer, m->validator.data);
            rc = stk_obj_put(st, &k, &d->base, err);
        }
        kumo_codec_free(&d->base);
    }
    bool is_operator = memcmp(v->address.data, st->signer, KUMO_ADDRESS_BYTES) == 0;
    if (rc == 0 && is_operator && v->commission > 0) {
        uint8_t pool[KUMO_ADDRESS_BYTES];
        stk_module(KUMO_STAKING_MODULE_REWARDS, pool);
        rc = kumo_bank_transfer(st->kv, &st->scratch, pool, st->signer, v->commission, err);
        v->commission = 0;
        found = true;
        if (rc == 0) {
            rc = stk_validator_put(st, v, v->tokens, stk_validator_is_listed(v), err);
        }
    }
    if (rc == 0 && !found) {
        rc = kumo_err_set(err, KUMO_ENOTFOUND, "no delegation to this validator");
    }
    kumo_codec_free(&v->base);
    return rc;
}
