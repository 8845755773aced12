/*
 * genesis.c - default and validated Params, and the genesis state: params, balances (which
 * make the supply), validators (the facilitators) and providers. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "market/market_int.h"

/* Parts per billion: the collateral interest rate's unit. */
#define PPB 1000000000u

void kumo_market_params_default(Kumo__Params *params)
{
    KUMO_ASSERT(params != NULL);
    Kumo__Params init = KUMO__PARAMS__INIT;
    *params = init;
    params->reconfirmation_period = 30;
    /* 2 ppb per block: about 6% a year at one block per second. */
    params->collateral_interest_rate = 2;
    params->min_fee = 100;
    params->max_tx_bytes = KUMO_TX_BYTES_MAX;
    params->max_block_bytes = KUMO_BLOCK_BYTES_MAX;
    params->max_bids_per_order = 64;
    params->release_timeout = 600;
    params->min_deposit = 100000;
    params->max_wait_blocks = 1000;
}

int kumo_market_params_validate(const Kumo__Params *p, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(p != NULL, err, KUMO_EEMPTY, "params missing");
    KUMO_ENSURE(p->reconfirmation_period > 0, err, KUMO_EINVAL, "reconfirmation_period is 0");
    KUMO_ENSURE(p->release_timeout > 0, err, KUMO_EINVAL, "release_timeout is 0");
    KUMO_ENSURE(p->collateral_interest_rate <= PPB, err, KUMO_ELIMIT,
                "collateral_interest_rate %" PRIu64 " ppb exceeds %u", p->collateral_interest_rate,
                PPB);
    KUMO_ENSURE(p->max_tx_bytes > 0, err, KUMO_EINVAL, "max_tx_bytes is 0");
    KUMO_ENSURE(p->max_tx_bytes <= KUMO_TX_BYTES_MAX, err, KUMO_ELIMIT,
                "max_tx_bytes %" PRIu64 " exceeds %u", p->max_tx_bytes, KUMO_TX_BYTES_MAX);
    KUMO_ENSURE(p->max_block_bytes >= p->max_tx_bytes, err, KUMO_EINVAL,
                "max_block_bytes %" PRIu64 " < max_tx_bytes", p->max_block_bytes);
    KUMO_ENSURE(p->max_block_bytes <= KUMO_BLOCK_BYTES_MAX, err, KUMO_ELIMIT,
                "max_block_bytes %" PRIu64 " exceeds %u", p->max_block_bytes, KUMO_BLOCK_BYTES_MAX);
    KUMO_ENSURE(p->max_bids_per_order > 0, err, KUMO_EINVAL, "max_bids_per_order is 0");
    KUMO_ENSURE(p->max_bids_per_order <= KUMO_MARKET_BIDS_PER_ORDER_MAX, err, KUMO_ELIMIT,
                "max_bids_per_order %u exceeds %u", p->max_bids_per_order,
                KUMO_MARKET_BIDS_PER_ORDER_MAX);
    KUMO_ENSURE(p->max_wait_blocks <= KUMO_MARKET_WAIT_BLOCKS_MAX, err, KUMO_ELIMIT,
                "max_wait_blocks %" PRIu64 " exceeds %" PRIu64, p->max_wait_blocks,
                (uint64_t)KUMO_MARKET_WAIT_BLOCKS_MAX);
    return 0;
}

/* ---- duplicate detection over sorted addresses ---------------------------------------------- */

static int addr_ptr_compare(const void *a, const void *b)
{
    const uint8_t *const *pa = a;
    const uint8_t *const *pb = b;
    return memcmp(*pa, *pb, KUMO_ADDRESS_BYTES);
}

/* addrs holds count validated 20-byte addresses; sorts them and rejects a repeat. */
static int addrs_unique(const uint8_t **addrs, size_t count, const char *what, kumo_err_ctx_t *err)
{
    if (count > 1) {
        qsort(addrs, count, sizeof(addrs[0]), addr_ptr_compare);
    }
    for (size_t i = 1; i < count; i++) {
        KUMO_ENSURE(memcmp(addrs[i - 1], addrs[i], KUMO_ADDRESS_BYTES) != 0, err, KUMO_EDUPLICATE,
                    "%s: duplicate address", what);
    }
    return 0;
}

static int kv_is_empty_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    *(bool *)cb_ctx = false;
    return 1;
}

static int kv_is_empty(const kumo_kv_t *kv, bool *out, kumo_err_ctx_t *err)
{
    *out = true;
    kumo_bytes_t none = kumo_bytes_make(NULL, 0);
    return kv->scan(kv->ctx, none, none, kv_is_empty_cb, out, err);
}

/* ---- the lists ------------------------------------------------------------------------------ */

static int genesis_balances(kumo_market_st_t *st,
                            const Kumo__Genesis *g,
                            const uint8_t **addrs,
                            kumo_err_ctx_t *err)
{
    KUMO_ENSURE(g->n_balances <= KUMO_GENESIS_ACCOUNT_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu balances exceed %u", g->n_balances, KUMO_GENESIS_ACCOUNT_COUNT_MAX);
    for (size_t i = 0; i < g->n_balances; i++) {
        const Kumo__GenesisBalance *b = g->balances[i];
        KUMO_ENSURE(b != NULL, err, KUMO_EEMPTY, "balances[%zu] missing", i);
        KUMO_GUARD(kumo_bank_address_validate(b->address, "genesis balance", err));
        addrs[i] = b->address.data;
    }
    KUMO_GUARD(addrs_unique(addrs, g->n_balances, "genesis balances", err));
    kumo_bank_totals_t totals = {0};
    for (size_t i = 0; i < g->n_balances; i++) {
        const Kumo__GenesisBalance *b = g->balances[i];
        KUMO_ENSURE(kumo_u64_add(totals.supply, b->amount, &totals.supply) == 0 &&
                        totals.supply <= KUMO_GENESIS_SUPPLY_MAX,
                    err, KUMO_EOVERFLOW, "genesis supply exceeds %" PRIu64 " ukumo",
                    (uint64_t)KUMO_GENESIS_SUPPLY_MAX);
        KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, b->address.data, b->amount, err));
    }
    return kumo_bank_totals_put(st->kv, &totals, err);
}

static int genesis_validators(kumo_market_st_t *st,
                              const Kumo__Genesis *g,
                              const uint8_t **addrs,
                              kumo_err_ctx_t *err)
{
    KUMO_ENSURE(g->n_validators <= KUMO_GENESIS_VALIDATOR_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu validators exceed %u", g->n_validators, KUMO_GENESIS_VALIDATOR_COUNT_MAX);
    for (size_t i = 0; i < g->n_validators; i++) {
        const Kumo__Validator *v = g->validators[i];
        KUMO_ENSURE(v != NULL, err, KUMO_EEMPTY, "validators[%zu] missing", i);
        KUMO_GUARD(kumo_bank_address_validate(v->address, "genesis validator", err));
        KUMO_ENSURE(v->pubkey.len == KUMO_CRYPTO_PUBKEY_BYTES, err, KUMO_EINVAL,
                    "validators[%zu]: pubkey of %zu bytes", i, v->pubkey.len);
        KUMO_ENSURE(v->power > 0, err, KUMO_EINVAL, "validators[%zu]: zero power", i);
        KUMO_GUARD(kumo_market_text_check(v->moniker, KUMO_NAME_BYTES_MAX, true,
                                          "validator moniker", err));
        addrs[i] = v->address.data;
    }
    KUMO_GUARD(addrs_unique(addrs, g->n_validators, "genesis validators", err));
    for (size_t i = 0; i < g->n_validators; i++) {
        kumo_market_key_t k;
        kumo_market_key_validator(&k, g->validators[i]->address.data);
        KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &g->validators[i]->base, err));
    }
    return 0;
}

static int genesis_providers(kumo_market_st_t *st,
                             const Kumo__Genesis *g,
                             const uint8_t **addrs,
                             kumo_err_ctx_t *err)
{
    KUMO_ENSURE(g->n_providers <= KUMO_GENESIS_ACCOUNT_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu providers exceed %u", g->n_providers, KUMO_GENESIS_ACCOUNT_COUNT_MAX);
    for (size_t i = 0; i < g->n_providers; i++) {
        const Kumo__Provider *p = g->providers[i];
        KUMO_ENSURE(p != NULL, err, KUMO_EEMPTY, "providers[%zu] missing", i);
        KUMO_GUARD(kumo_bank_address_validate(p->owner, "genesis provider", err));
        KUMO_GUARD(kumo_market_provider_fields_validate(p->host_uri, p->region, p->attributes,
                                                        p->n_attributes, p->root_cert_pem, err));
        KUMO_ENSURE(p->open_bid_count == 0 && p->live_lease_count == 0, err, KUMO_EINVAL,
                    "providers[%zu]: a genesis provider has no bids or leases", i);
        if (p->offer != NULL) {
            KUMO_GUARD(kumo_market_offer_validate(p->offer, err));
        }
        addrs[i] = p->owner.data;
    }
    KUMO_GUARD(addrs_unique(addrs, g->n_providers, "genesis providers", err));
    for (size_t i = 0; i < g->n_providers; i++) {
        KUMO_GUARD(kumo_market_provider_put(st, g->providers[i], err));
    }
    return 0;
}

static int genesis_write(kumo_market_st_t *st, const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    size_t n = g->n_balances;
    n = g->n_validators > n ? g->n_validators : n;
    n = g->n_providers > n ? g->n_providers : n;
    if (n > KUMO_GENESIS_ACCOUNT_COUNT_MAX) {
        /* The per-list checks name the list; this only keeps the scratch array bounded. */
        n = KUMO_GENESIS_ACCOUNT_COUNT_MAX;
    }
    const uint8_t **addrs = kumo_calloc(n > 0 ? n : 1, sizeof(*addrs));
    KUMO_ENSURE(addrs != NULL, err, KUMO_ENOMEM, "genesis scratch of %zu addresses", n);
    kumo_market_key_t k;
    kumo_market_key_params(&k);
    int rc = kumo_market_obj_put(st->kv, &st->pack, &k, &g->params->base, err);
    if (rc == 0) {
        rc = genesis_balances(st, g, addrs, err);
    }
    if (rc == 0) {
        rc = genesis_validators(st, g, addrs, err);
    }
    if (rc == 0) {
        rc = genesis_providers(st, g, addrs, err);
    }
    kumo_free(addrs);
    return rc;
}

int kumo_market_genesis_apply(const kumo_kv_t *kv,
                              const Kumo__Genesis *genesis,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && genesis != NULL);
    bool empty = false;
    KUMO_GUARD(kv_is_empty(kv, &empty, err));
    KUMO_ENSURE(empty, err, KUMO_EEXIST, "genesis needs an empty state");
    KUMO_GUARD(kumo_market_params_validate(genesis->params, err));

    /* The state context normally loads Global; genesis writes the first one. */
    kumo_market_st_t st;
    memset(&st, 0, sizeof(st));
    st.kv = kv;
    st.params = genesis->params;
    kumo_buf_init(&st.pack, KUMO_STATE_OBJECT_BYTES_MAX);
    Kumo__Global global = KUMO__GLOBAL__INIT;
    global.next_bid_seq = 1;
    st.global = &global;
    int rc = genesis_write(&st, genesis, err);
    if (rc == 0) {
        kumo_market_key_t k;
        kumo_market_key_global(&k);
        rc = kumo_market_obj_put(kv, &st.pack, &k, &global.base, err);
    }
    kumo_buf_free(&st.pack);
    return rc;
}
