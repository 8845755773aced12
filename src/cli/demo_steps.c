/*
 * demo_steps.c - actors, block production and printing for `kumo demo`.
 *
 * The datacenters here run the seed's BidOnOpenOrders and ConfirmCurrentLeases workflows
 * against the committed state; the facilitator (the genesis validator) runs MatchOpenOrders
 * and InvalidateStaleLeases inside block production (kumo_node_block_produce_txs).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/demo_int.h"
#include "log/log.h"

const char *const demo_actor_names[DEMO_ACTOR_COUNT] = {
    "validator", "alice", "dc-east-a", "dc-east-b", "dc-west-a", "dc-west-b",
};

const char *const demo_regions[DEMO_ACTOR_COUNT] = {
    "", "", "us-east", "us-east", "us-west", "us-west",
};

/* ukumo per unit per block each datacenter asks. */
const uint64_t demo_unit_price[DEMO_ACTOR_COUNT] = {0, 0, 30, 35, 45, 50};

#define DEMO_FEE_UKUMO     10u
#define DEMO_BALANCE_UKUMO 1000000u

static const char demo_root_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBWTCCAQugAwIBAgIUGRnLhMsuKWDni6/ZMEoxsEU1rpQwBQYDK2VwMCIxIDAe\n"
    "BgNVBAMMF2t1bW8gZGVtbyBwcm92aWRlciByb290MB4XDTI2MTEyNTAwMTYxM1oX\n"
    "DTM2MTEyMjAwMTYxM1owIjEgMB4GA1UEAwwXa3VtbyBkZW1vIHByb3ZpZGVyIHJv\n"
    "b3QwKjAFBgMrZXADIQB4OVaLMNggNjGBgSqeDjUrdYoScvfK/LOGDZwWHFHxCaNT\n"
    "MFEwHQYDVR0OBBYEFDDQqzHiMX5GFO06tGFvvQrRJlaJMB8GA1UdIwQYMBaAFDDQ\n"
    "qzHiMX5GFO06tGFvvQrRJlaJMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAAZ+i\n"
    "J5HEA2hf+U+2pQA9GDyk7xbIGuJl8HJKDWr3n5/PIr57KiTVP2W8FM8qAb2Ua3DX\n"
    "+cU54F03wwXiny27BA==\n"
    "-----END CERTIFICATE-----\n";

/* The local node's committed height. */
static uint64_t demo_height(const demo_t *d)
{
    kumo_node_status_t st;
    kumo_node_status_get(d->net, &st);
    return st.height;
}

static void demo_genesis_build(demo_t *d,
                               Kumo__Genesis *g,
                               Kumo__Params *params,
                               Kumo__GenesisBalance *bal,
                               Kumo__GenesisBalance **bal_ptrs,
                               Kumo__Validator *val,
                               Kumo__Validator **val_ptrs)
{
    kumo_market_params_default(params);
    params->reconfirmation_period = 5;
    params->release_timeout = 10;
    params->min_fee = DEMO_FEE_UKUMO;
    params->collateral_interest_rate = 200000; /* 0.02% of the collateral per block */
    for (int i = 0; i < DEMO_ACTOR_COUNT; i++) {
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address.data = d->addr[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = DEMO_BALANCE_UKUMO;
        bal_ptrs[i] = &bal[i];
    }
    kumo__validator__init(val);
    val->address.data = d->addr[DEMO_VALIDATOR];
    val->address.len = KUMO_ADDRESS_BYTES;
    val->pubkey.data = d->keys[DEMO_VALIDATOR].pubkey;
    val->pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    val->power = 10;
    val->moniker = "validator";
    val_ptrs[0] = val;
    g->chain_id = DEMO_CHAIN_ID;
    g->params = params;
    g->n_balances = DEMO_ACTOR_COUNT;
    g->balances = bal_ptrs;
    g->n_validators = 1;
    g->validators = val_ptrs;
    /* The demo's fast collateral interest needs staking to pay at least as much a "year"
     * (the chain refuses collateral that out-earns delegation): a 20-block year of 0.4 %. */
    static Kumo__StakingParams sp;
    kumo_staking_params_default(&sp);
    sp.blocks_per_year = 20;
    sp.inflation_ppm = 4000;
    g->staking_params = &sp;
}

int demo_open(demo_t *d, const char *dir, bool keep)
{
    memset(d, 0, sizeof(*d));
    DEMO_MUST(kumo_crypto_init());
    if (cli_dir_prepare(dir, "kumo-demo", d->dir, sizeof(d->dir)) < 0) {
        return -1;
    }
    d->keep = keep || dir != NULL;
    for (int i = 0; i < DEMO_ACTOR_COUNT; i++) {
        /* Deterministic keys, so every run prints the same addresses. */
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        kumo_crypto_sha256(kumo_bytes_make(demo_actor_names[i], strlen(demo_actor_names[i])), seed);
        kumo_crypto_key_from_seed(seed, &d->keys[i]);
        kumo_crypto_address_from_pubkey(d->keys[i].pubkey, d->addr[i]);
        kumo_codec_address_encode(d->addr[i], d->addr_text[i]);
    }
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    Kumo__Params params = KUMO__PARAMS__INIT;
    Kumo__GenesisBalance bal[DEMO_ACTOR_COUNT];
    Kumo__GenesisBalance *bal_ptrs[DEMO_ACTOR_COUNT];
    Kumo__Validator val;
    Kumo__Validator *val_ptrs[1];
    demo_genesis_build(d, &g, &params, bal, bal_ptrs, &val, val_ptrs);
    kumo_node_local_cfg_t cfg = {
        .dir = d->dir,
        .chain_id = DEMO_CHAIN_ID,
        .validator = &d->keys[DEMO_VALIDATOR],
    };
    kumo_err_ctx_t err = {0};
    kumo_log_level_set(KUMO_LOG_LEVEL_WARN); /* the demo prints its own story */
    if (kumo_node_local_open(&cfg, &g, &d->net, &err) < 0) {
        fprintf(stderr, "demo: %s: %s\n", kumo_err_msg(err.code), err.detail);
        return -1;
    }
    d->height = demo_height(d);
    printf("kumo demo: the seed's web application on a real LMDB store in %s\n\n", d->dir);
    printf("actors (each starts with %u ukumo):\n", DEMO_BALANCE_UKUMO);
    for (int i = 0; i < DEMO_ACTOR_COUNT; i++) {
        printf("  %-10s %s %s%s\n", demo_actor_names[i], d->addr_text[i],
               demo_regions[i][0] != '\0' ? "region=" : "", demo_regions[i]);
    }
    printf("\nparams: reconfirmation_period=%" PRIu64 " release_timeout=%" PRIu64
           " min_fee=%" PRIu64 " collateral_interest_rate=%" PRIu64 "ppb/block\n",
           params.reconfirmation_period, params.release_timeout, params.min_fee,
           params.collateral_interest_rate);
    return 0;
}

void demo_close_all(demo_t *d)
{
    kumo_node_close(d->net);
    for (size_t i = 0; i < d->tx_count; i++) {
        kumo_buf_free(&d->txs[i]);
    }
    for (int i = 0; i < DEMO_ACTOR_COUNT; i++) {
        kumo_crypto_key_wipe(&d->keys[i]);
    }
    if (!d->keep) {
        cli_dir_remove(d->dir);
    } else {
        printf("store kept in %s\n", d->dir);
    }
}

void demo_tx_add(demo_t *d, int actor, const Kumo__Msg *msg)
{
    KUMO_ASSERT(d->tx_count < DEMO_TX_MAX);
    kumo_buf_t *buf = &d->txs[d->tx_count];
    kumo_buf_init(buf, KUMO_TX_BYTES_MAX);
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    DEMO_MUST(kumo_chain_tx_build(DEMO_CHAIN_ID, &d->keys[actor], d->seq[actor], DEMO_FEE_UKUMO, "",
                                  msgs, 1, buf, NULL));
    d->seq[actor]++;
    d->tx_actor[d->tx_count] = actor;
    d->tx_count++;
}

void demo_block_begin(demo_t *d, const char *title)
{
    printf("\n── block %" PRIu64 " · %s ──\n", d->height + 1, title);
}

/* Replaces known addresses in text with actor names, for readable output. */
void demo_names_apply(const demo_t *d, const char *in, char *out, size_t out_cap)
{
    size_t o = 0;
    while (*in != '\0' && o + 1 < out_cap) {
        int hit = -1;
        for (int i = 0; i < DEMO_ACTOR_COUNT && hit < 0; i++) {
            size_t n = strlen(d->addr_text[i]);
            if (strncmp(in, d->addr_text[i], n) == 0) {
                hit = i;
            }
        }
        if (hit >= 0) {
            int w = snprintf(out + o, out_cap - o, "%s", demo_actor_names[hit]);
            o = w > 0 ? kumo_u64_min(o + (size_t)w, out_cap - 1) : o;
            in += strlen(d->addr_text[hit]);
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

static void demo_event_print(const demo_t *d, const Kumo__Event *ev)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "    %-22s %s", ev->type, ev->id);
    for (size_t i = 0; i < ev->n_attrs && n > 0 && (size_t)n < sizeof(line); i++) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%s", ev->attrs[i]->key,
                      ev->attrs[i]->value);
    }
    char named[1024];
    demo_names_apply(d, line, named, sizeof(named));
    printf("%s\n", named);
    if (strcmp(ev->type, "deployment.closed") == 0) {
        ((demo_t *)(uintptr_t)d)->closed = true;
    }
}

static void demo_result_print(demo_t *d, const kumo_chain_tx_result_t *res, const char *who)
{
    if (res->code != 0) {
        printf("  ✗ %s: tx failed: %s (%s)\n", who, kumo_err_name(res->code), res->log);
        return;
    }
    printf("  ✓ %s\n", who);
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_buf_bytes(&res->events));
    for (uint32_t i = 0; i < res->event_count; i++) {
        kumo_bytes_t evb;
        ProtobufCMessage *m = NULL;
        DEMO_MUST(kumo_reader_read_prefixed(&r, KUMO_TX_BYTES_MAX, &evb));
        DEMO_MUST(kumo_codec_unpack(&kumo__event__descriptor, evb, KUMO_TX_BYTES_MAX, &m, NULL));
        demo_event_print(d, (const Kumo__Event *)m);
        kumo_codec_free(m);
    }
}

void demo_block_end(demo_t *d)
{
    kumo_bytes_t txs[DEMO_TX_MAX];
    for (size_t i = 0; i < d->tx_count; i++) {
        txs[i] = kumo_buf_bytes(&d->txs[i]);
    }
    kumo_chain_block_out_t out;
    size_t fac = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_node_block_produce_txs(d->net, txs, d->tx_count, &out, &fac, &err) < 0) {
        fprintf(stderr, "demo: block failed: %s: %s\n", kumo_err_name(err.code), err.detail);
        exit(1);
    }
    d->height = demo_height(d);
    for (size_t i = 0; i < out.result_count; i++) {
        const char *who =
            i < fac ? "facilitator (validator)" : demo_actor_names[d->tx_actor[i - fac]];
        demo_result_print(d, &out.results[i], who);
    }
    if (out.result_count == 0) {
        printf("  (no txs)\n");
    }
    char hex[2 * KUMO_CHAIN_HASH_BYTES + 1];
    DEMO_MUST(kumo_codec_hex_encode(kumo_bytes_make(out.app_hash, 8), hex, sizeof(hex)));
    printf("  committed: %zu ok, %" PRIu64 " failed, app_hash %s…\n", (size_t)out.tx_ok_count,
           out.tx_failed_count, hex);
    kumo_chain_block_out_free(&out);
    for (size_t i = 0; i < d->tx_count; i++) {
        kumo_buf_free(&d->txs[i]);
    }
    d->tx_count = 0;
}

void demo_providers_register(demo_t *d)
{
    for (int p = DEMO_EAST_A; p <= DEMO_WEST_B; p++) {
        char uri[128];
        (void)snprintf(uri, sizeof(uri), "https://%s.example:8443", demo_actor_names[p]);
        Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
        cp.host_uri = uri;
        cp.region = (char *)(uintptr_t)demo_regions[p];
        cp.root_cert_pem = (char *)(uintptr_t)demo_root_cert_pem;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
        msg.create_provider = &cp;
        demo_tx_add(d, p, &msg);
        printf("  %s registers (region %s, asks %" PRIu64 " ukumo/unit/block)\n",
               demo_actor_names[p], demo_regions[p], demo_unit_price[p]);
    }
}
