/*
 * genesis.c - the staking genesis: params, and each genesis validator bonded with a
 * self-delegation of power x power_reduction ukumo (minted: part of the genesis supply). Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

#define GENESIS_COMMISSION_MAX_RATE_PPM   200000u
#define GENESIS_COMMISSION_MAX_CHANGE_PPM 10000u

static int genesis_validator(stk_t *st, const Kumo__Validator *gv, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(gv != NULL, err, KUMO_EEMPTY, "validator missing");
    KUMO_GUARD(kumo_bank_address_validate(gv->address, "genesis validator", err));
    KUMO_ENSURE(gv->pubkey.len == KUMO_CRYPTO_PUBKEY_BYTES, err, KUMO_EINVAL,
                "genesis validator key of %zu bytes", gv->pubkey.len);
    KUMO_ENSURE(gv->power > 0, err, KUMO_EINVAL, "genesis validator of power 0");
    uint64_t tokens = 0;
    KUMO_ENSURE(kumo_u64_mul(gv->power, st->params->power_reduction, &tokens) == 0 &&
                    tokens <= KUMO_GENESIS_SUPPLY_MAX,
                err, KUMO_EOVERFLOW, "genesis validator power %" PRIu64 " too large", gv->power);
    stk_key_t k;
    bool exists = false;
    stk_key_conskey(&k, gv->pubkey.data);
    KUMO_GUARD(stk_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EDUPLICATE, "genesis validator key used twice");
    stk_key_validator(&k, gv->address.data);
    KUMO_GUARD(stk_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EDUPLICATE, "genesis validator operator used twice");
    KUMO_GUARD(stk_put_raw_conskey(st, gv->pubkey.data, gv->address.data, err));
    Kumo__StakingValidator v = KUMO__STAKING_VALIDATOR__INIT;
    v.address = gv->address;
    v.consensus_pubkey = gv->pubkey;
    v.moniker = gv->moniker;
    v.commission_max_rate_ppm = GENESIS_COMMISSION_MAX_RATE_PPM;
    v.commission_max_change_ppm = GENESIS_COMMISSION_MAX_CHANGE_PPM;
    /* The stake is minted to the operator and bonded at once: it is part of the supply. */
    KUMO_GUARD(kumo_bank_mint(st->kv, &st->scratch, gv->address.data, tokens, err));
    return stk_delegate(st, &v, gv->address.data, tokens, gv->address.data, NULL, err);
}

int kumo_staking_genesis_apply(const kumo_kv_t *kv,
                               const Kumo__StakingParams *params,
                               Kumo__Validator *const *validators,
                               size_t validator_count,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL);
    Kumo__StakingParams defaults;
    kumo_staking_params_default(&defaults);
    const Kumo__StakingParams *p = params != NULL ? params : &defaults;
    KUMO_GUARD(kumo_staking_params_validate(p, err));
    stk_t st;
    memset(&st, 0, sizeof(st));
    st.kv = kv;
    kumo_buf_init(&st.scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    stk_key_t k;
    stk_key_init(&k, STK_PREFIX_PARAMS);
    int rc = stk_obj_put(&st, &k, &p->base, err);
    Kumo__StakingGlobal g = KUMO__STAKING_GLOBAL__INIT;
    if (rc == 0) {
        rc = stk_global_put(&st, &g, err);
    }
    if (rc == 0) {
        rc = kumo_staking_params_get(kv, &st.params, err);
    }
    for (size_t i = 0; i < validator_count && rc == 0; i++) {
        rc = genesis_validator(&st, validators[i], err);
    }
    if (rc == 0) {
        rc = stk_active_set_update(&st, NULL, NULL, err);
    }
    stk_end(&st);
    return rc;
}
