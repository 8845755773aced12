/*
 * home.c - the node's home directory: kumo init (validator key, config.yaml, genesis.json),
 * genesis accounts before the first start, the home lock.
 * Not pure: files and the OS RNG (key generation through the keyring).
 */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file/file.h"
#include "node/node_int.h"

/* The home's lock file (kumo_file_lock: the holder's pid in it). */
#define NODE_LOCK_NAME "node.lock"

int kumo_node_home_lock(const char *home, int *fd_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL);
    KUMO_ASSERT(fd_out != NULL);
    *fd_out = -1;
    char path[KUMO_NODE_PATH_BYTES];
    char what[KUMO_NODE_PATH_BYTES + 8];
    KUMO_GUARD(kumo_node_path(home, NODE_LOCK_NAME, path, err));
    (void)snprintf(what, sizeof(what), "home %s", home);
    return kumo_file_lock(path, what, fd_out, err);
}

void kumo_node_home_unlock(int fd)
{
    kumo_file_unlock(fd);
}

/* Genesis funds the validator operator with this much (1e12 ukumo = 1e6 kumo) and gives it
 * this voting power, so a fresh single-validator chain can pay fees and facilitate at once. */
#define NODE_GENESIS_VALIDATOR_UKUMO 1000000000000ull
#define NODE_GENESIS_VALIDATOR_POWER 10u

int kumo_node_path(const char *home,
                   const char *name,
                   char out[KUMO_NODE_PATH_BYTES],
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && name != NULL && out != NULL);
    int n = snprintf(out, KUMO_NODE_PATH_BYTES, "%s/%s", home, name);
    KUMO_ENSURE(n > 0 && (size_t)n < KUMO_NODE_PATH_BYTES, err, KUMO_ELIMIT,
                "path %s/%s is too long", home, name);
    return 0;
}

bool kumo_node_text_is_plain(const char *text)
{
    KUMO_ASSERT(text != NULL);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            return false;
        }
    }
    return true;
}

int kumo_node_genesis_load(const char *home, Kumo__Genesis **out, kumo_err_ctx_t *err)
{
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "genesis.json", path, err));
    kumo_buf_t text;
    kumo_buf_init(&text, KUMO_GENESIS_BYTES_MAX);
    KUMO_GUARD(kumo_file_read(path, &text, err));
    kumo_err_ctx_t perr = {0};
    int rc = kumo_chain_genesis_parse(kumo_buf_bytes(&text), out, &perr);
    kumo_buf_free(&text);
    KUMO_ENSURE(rc == 0, err, rc, "%s: %s", path, perr.detail);
    return 0;
}

/* ---- kumo init ---- */

static int home_dir_make(const char *home, kumo_err_ctx_t *err)
{
    if (mkdir(home, 0700) == 0) {
        return 0;
    }
    int e = errno;
    KUMO_ENSURE(e == EEXIST, err, KUMO_EIO, "mkdir %s: %s", home, strerror(e));
    struct stat st;
    KUMO_ENSURE(stat(home, &st) == 0 && S_ISDIR(st.st_mode), err, KUMO_EIO,
                "%s exists and is not a directory", home);
    return 0;
}

/* The validator key: created, or loaded when an interrupted init already made it. */
static int home_validator_key(const char *home, kumo_crypto_keypair_t *kp, kumo_err_ctx_t *err)
{
    char dir[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "keyring", dir, err));
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(kumo_keyring_open(dir, &kr, err));
    int rc = kumo_keyring_add(kr, "validator", NULL, kp, err);
    if (rc == KUMO_EEXIST) {
        rc = kumo_keyring_load(kr, "validator", NULL, kp, err);
    }
    kumo_keyring_close(kr);
    return rc;
}

static int home_genesis_write(const char *home,
                              const char *chain_id,
                              const char *moniker,
                              const kumo_crypto_keypair_t *kp,
                              kumo_err_ctx_t *err)
{
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, addr);
    Kumo__Params params = KUMO__PARAMS__INIT;
    kumo_market_params_default(&params);
    Kumo__GenesisBalance bal = KUMO__GENESIS_BALANCE__INIT;
    bal.address.data = addr;
    bal.address.len = sizeof(addr);
    bal.amount = NODE_GENESIS_VALIDATOR_UKUMO;
    Kumo__GenesisBalance *bals[1] = {&bal};
    Kumo__Validator val = KUMO__VALIDATOR__INIT;
    val.address = bal.address;
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    memcpy(pubkey, kp->pubkey, sizeof(pubkey));
    val.pubkey.data = pubkey;
    val.pubkey.len = sizeof(pubkey);
    val.power = NODE_GENESIS_VALIDATOR_POWER;
    char moniker_copy[64];
    (void)snprintf(moniker_copy, sizeof(moniker_copy), "%s", moniker);
    val.moniker = moniker_copy;
    Kumo__Validator *vals[1] = {&val};
    char chain_copy[KUMO_CHAIN_ID_BYTES_MAX + 1];
    (void)snprintf(chain_copy, sizeof(chain_copy), "%s", chain_id);
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    g.chain_id = chain_copy;
    g.params = &params;
    g.n_balances = 1;
    g.balances = bals;
    g.n_validators = 1;
    g.validators = vals;
    char *json = kumo_codec_json_dumps(&g.base, true);
    KUMO_ENSURE(json != NULL, err, KUMO_ENOMEM, "genesis JSON");
    char path[KUMO_NODE_PATH_BYTES];
    int rc = kumo_node_path(home, "genesis.json", path, err);
    if (rc == 0) {
        rc = kumo_file_write(path, kumo_bytes_make(json, strlen(json)), 0644, err);
    }
    free(json);
    return rc;
}

static int
home_init_check(const char *home, const char *chain_id, const char *moniker, kumo_err_ctx_t *err)
{
    size_t id_len = strlen(chain_id);
    KUMO_ENSURE(id_len >= 1 && id_len <= KUMO_CHAIN_ID_BYTES_MAX, err, KUMO_EINVAL,
                "chain id must be 1..%u characters", KUMO_CHAIN_ID_BYTES_MAX);
    KUMO_ENSURE(kumo_node_text_is_plain(chain_id), err, KUMO_EINVAL,
                "chain id: only printable characters without quotes or backslashes");
    KUMO_ENSURE(strlen(moniker) >= 1 && strlen(moniker) < 64, err, KUMO_EINVAL,
                "moniker must be 1..63 characters");
    KUMO_ENSURE(kumo_node_text_is_plain(moniker), err, KUMO_EINVAL,
                "moniker: only printable characters without quotes or backslashes");
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "config.yaml", path, err));
    KUMO_ENSURE(access(path, F_OK) != 0, err, KUMO_EEXIST,
                "%s already exists: this home is initialised", path);
    return 0;
}

int kumo_node_home_init(const char *home,
                        const char *chain_id,
                        const char *moniker,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && chain_id != NULL);
    if (moniker == NULL) {
        moniker = "kumo-node";
    }
    KUMO_GUARD(home_init_check(home, chain_id, moniker, err));
    KUMO_GUARD(kumo_crypto_init());
    KUMO_GUARD(home_dir_make(home, err));
    kumo_crypto_keypair_t *kp = sodium_malloc(sizeof(*kp));
    KUMO_ENSURE(kp != NULL, err, KUMO_ENOMEM, "validator key");
    int rc = home_validator_key(home, kp, err);
    if (rc == 0) {
        rc = home_genesis_write(home, chain_id, moniker, kp, err);
    }
    sodium_free(kp); /* wipes */
    KUMO_GUARD(rc);
    /* config.yaml last: its presence says the home is complete. */
    kumo_node_cfg_t cfg;
    kumo_node_cfg_default(&cfg);
    (void)snprintf(cfg.chain_id, sizeof(cfg.chain_id), "%s", chain_id);
    (void)snprintf(cfg.moniker, sizeof(cfg.moniker), "%s", moniker);
    return kumo_node_cfg_save(home, &cfg, err);
}

int kumo_node_cfg_save(const char *home, const kumo_node_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && cfg != NULL);
    KUMO_GUARD(kumo_node_cfg_validate(cfg, err));
    kumo_buf_t text;
    kumo_buf_init(&text, 64u * 1024u);
    char path[KUMO_NODE_PATH_BYTES];
    int rc = kumo_node_path(home, "config.yaml", path, err);
    if (rc == 0) {
        rc = kumo_node_cfg_render(cfg, &text, err);
    }
    if (rc == 0) {
        rc = kumo_file_write(path, kumo_buf_bytes(&text), 0644, err);
    }
    kumo_buf_free(&text);
    return rc;
}

/* ---- genesis accounts ---- */

static int
genesis_balance_add(json_t *root, const char *addr_text, uint64_t amount_ukumo, kumo_err_ctx_t *err)
{
    json_t *bals = json_object_get(root, "balances");
    if (bals == NULL) {
        bals = json_array();
        KUMO_ENSURE(bals != NULL && json_object_set_new(root, "balances", bals) == 0, err,
                    KUMO_ENOMEM, "balances");
    }
    KUMO_ENSURE(json_is_array(bals), err, KUMO_EDECODE, "genesis balances: expected an array");
    size_t i;
    json_t *b;
    json_array_foreach(bals, i, b)
    {
        const char *a = json_string_value(json_object_get(b, "address"));
        if (a == NULL || strcmp(a, addr_text) != 0) {
            continue;
        }
        const char *amt = json_string_value(json_object_get(b, "amount"));
        uint64_t have = 0;
        KUMO_ENSURE(amt != NULL && sscanf(amt, "%" SCNu64, &have) == 1, err, KUMO_EDECODE,
                    "genesis balance of %s: bad amount", addr_text);
        uint64_t sum = 0;
        KUMO_ENSURE(kumo_u64_add(have, amount_ukumo, &sum) == 0, err, KUMO_EOVERFLOW,
                    "balance of %s would overflow", addr_text);
        char text[24];
        (void)snprintf(text, sizeof(text), "%" PRIu64, sum);
        KUMO_ENSURE(json_object_set_new(b, "amount", json_string(text)) == 0, err, KUMO_ENOMEM,
                    "amount");
        return 0;
    }
    char text[24];
    (void)snprintf(text, sizeof(text), "%" PRIu64, amount_ukumo);
    json_t *nb = json_pack("{s:s, s:s}", "address", addr_text, "amount", text);
    KUMO_ENSURE(nb != NULL && json_array_append_new(bals, nb) == 0, err, KUMO_ENOMEM, "balance");
    return 0;
}

static int genesis_not_started(const char *home, kumo_err_ctx_t *err)
{
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "data/data.mdb", path, err));
    KUMO_ENSURE(access(path, F_OK) != 0, err, KUMO_ESTATE,
                "the chain in %s has already started; genesis can no longer change", home);
    return 0;
}

int kumo_node_genesis_account_add(const char *home,
                                  const uint8_t addr[KUMO_ADDRESS_BYTES],
                                  uint64_t amount_ukumo,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && addr != NULL);
    KUMO_ENSURE(amount_ukumo > 0, err, KUMO_EINVAL, "amount must be positive");
    KUMO_GUARD(genesis_not_started(home, err));
    Kumo__Genesis *check = NULL;
    KUMO_GUARD(kumo_node_genesis_load(home, &check, err));
    kumo_codec_free(&check->base);
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "genesis.json", path, err));
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    KUMO_ENSURE(root != NULL, err, KUMO_EDECODE, "%s:%d: %s", path, jerr.line, jerr.text);
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, addr_text);
    int rc = genesis_balance_add(root, addr_text, amount_ukumo, err);
    char *text = NULL;
    if (rc == 0) {
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        rc = text != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "genesis JSON");
    }
    if (rc == 0) {
        /* Re-validate the whole genesis before replacing the file. */
        Kumo__Genesis *g = NULL;
        rc = kumo_chain_genesis_parse(kumo_bytes_make(text, strlen(text)), &g, err);
        kumo_codec_free(g != NULL ? &g->base : NULL);
    }
    if (rc == 0) {
        rc = kumo_file_write(path, kumo_bytes_make(text, strlen(text)), 0644, err);
    }
    free(text);
    json_decref(root);
    return rc;
}
