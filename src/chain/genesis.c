/*
 * genesis.c - genesis JSON: parse (bounded, strict), default params, apply as block 0.
 * Pure: the caller reads the file.
 */
#include "chain/chain.h"

#include <string.h>

#include "chain/chain_int.h"

/* Fills the keys of the params object at name that the file leaves out with defaults (the
 * whole object when it is absent and absent_too), so a genesis may set only the params it
 * cares about. */
static int genesis_params_merge_one(json_t *root,
                                    const char *name,
                                    const ProtobufCMessage *defaults,
                                    bool absent_too,
                                    kumo_err_ctx_t *err)
{
    json_t *params = json_object_get(root, name);
    params = json_is_null(params) ? NULL : params;
    if (params == NULL && !absent_too) {
        return 0;
    }
    KUMO_ENSURE(params == NULL || json_is_object(params), err, KUMO_EDECODE,
                "%s: expected an object", name);
    json_t *def_json = kumo_codec_json_from_message(defaults);
    KUMO_ENSURE(def_json != NULL, err, KUMO_ENOMEM, "default %s", name);
    int rc = params == NULL ? json_object_set(root, name, def_json)
                            : json_object_update_missing(params, def_json);
    json_decref(def_json);
    KUMO_ENSURE(rc == 0, err, KUMO_ENOMEM, "merging default %s", name);
    return 0;
}

/* Market params default as a whole; staking params absent stay absent (staking's defaults
 * apply), present ones are completed. */
static int genesis_params_merge(json_t *root, kumo_err_ctx_t *err)
{
    Kumo__Params defaults = KUMO__PARAMS__INIT;
    kumo_market_params_default(&defaults);
    KUMO_GUARD(genesis_params_merge_one(root, "params", &defaults.base, true, err));
    Kumo__StakingParams sdefaults = KUMO__STAKING_PARAMS__INIT;
    kumo_staking_params_default(&sdefaults);
    return genesis_params_merge_one(root, "staking_params", &sdefaults.base, false, err);
}

/* The balances' total stays within KUMO_GENESIS_SUPPLY_MAX: room for minting is kept. */
static int genesis_supply_check(const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < g->n_balances; i++) {
        KUMO_ENSURE(g->balances[i] != NULL, err, KUMO_EEMPTY, "balances[%zu] missing", i);
        KUMO_ENSURE(kumo_u64_add(total, g->balances[i]->amount, &total) == 0 &&
                        total <= KUMO_GENESIS_SUPPLY_MAX,
                    err, KUMO_EOVERFLOW,
                    "genesis balances total more than %" PRIu64 " ukumo (the rest of the "
                    "supply's range is kept for collateral interest)",
                    (uint64_t)KUMO_GENESIS_SUPPLY_MAX);
    }
    return 0;
}

int kumo_chain_genesis_parse(kumo_bytes_t json, Kumo__Genesis **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    KUMO_ENSURE(json.len <= KUMO_GENESIS_BYTES_MAX, err, KUMO_ELIMIT,
                "genesis is %zu bytes, limit %u", json.len, KUMO_GENESIS_BYTES_MAX);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &jerr);
    KUMO_ENSURE(root != NULL, err, KUMO_EDECODE, "genesis JSON line %d: %s", jerr.line, jerr.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "genesis: expected an object");
        goto out_json;
    }
    KUMO_GUARD_GOTO(genesis_params_merge(root, err), rc, out_json);
    ProtobufCMessage *m = NULL;
    KUMO_GUARD_GOTO(kumo_codec_json_to_message(&kumo__genesis__descriptor, root, &m, err), rc,
                    out_json);
    Kumo__Genesis *g = (Kumo__Genesis *)m;
    size_t id_len = strlen(g->chain_id);
    if (id_len == 0 || id_len > KUMO_CHAIN_ID_BYTES_MAX) {
        rc =
            kumo_err_set(err, KUMO_EINVAL, "chain_id must be 1..%u bytes", KUMO_CHAIN_ID_BYTES_MAX);
    } else if (g->n_balances > KUMO_GENESIS_ACCOUNT_COUNT_MAX ||
               g->n_validators > KUMO_GENESIS_VALIDATOR_COUNT_MAX) {
        rc = kumo_err_set(err, KUMO_ELIMIT, "genesis lists exceed their limits");
    } else {
        rc = genesis_supply_check(g, err);
    }
    if (rc == 0) {
        rc = kumo_market_params_validate(g->params, err);
    }
    if (rc == 0 && g->staking_params != NULL) {
        rc = kumo_staking_params_validate(g->staking_params, err);
    }
    if (rc < 0) {
        kumo_codec_free(m);
        goto out_json;
    }
    *out = g;

out_json:
    json_decref(root);
    return rc;
}

/* Collateral must not earn more than staking: a provider leasing to itself at price 1 would
 * otherwise be paid to idle. The yearly collateral interest (ppb per block x blocks a year) may
 * not pass the inflation (the least a bonded ukumo earns before commission when everything
 * is bonded; less bonded stake earns more). */
static int genesis_economy_check(const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    Kumo__StakingParams defaults;
    kumo_staking_params_default(&defaults);
    const Kumo__StakingParams *sp = g->staking_params != NULL ? g->staking_params : &defaults;
    KUMO_ENSURE(g->params != NULL, err, KUMO_EEMPTY, "params missing");
    unsigned __int128 yearly_ppb =
        (unsigned __int128)g->params->collateral_interest_rate * sp->blocks_per_year;
    unsigned __int128 inflation_ppb = (unsigned __int128)sp->inflation_ppm * 1000u;
    KUMO_ENSURE(yearly_ppb <= inflation_ppb, err, KUMO_EINVAL,
                "collateral interest of %" PRIu64 " ppb a block beats staking's %" PRIu64
                " ppm a year",
                g->params->collateral_interest_rate, sp->inflation_ppm);
    return 0;
}

int kumo_chain_genesis_apply(const kumo_kv_t *kv,
                             const Kumo__Genesis *genesis,
                             uint8_t app_hash_out[KUMO_CHAIN_HASH_BYTES],
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && genesis != NULL);
    KUMO_GUARD(genesis_economy_check(genesis, err));
    KUMO_GUARD(kumo_market_genesis_apply(kv, genesis, err));
    KUMO_GUARD(kumo_staking_genesis_apply(kv, genesis->staking_params, genesis->validators,
                                          genesis->n_validators, err));
    KUMO_GUARD(chain_valset_genesis_write(kv, genesis, err));
    static const uint8_t zero[KUMO_CHAIN_HASH_BYTES] = {0};
    return kumo_chain_app_hash_compute(kv, zero, app_hash_out, err);
}
