/*
 * cmd_testnet.c - `kumo testnet init|start|stop|status --dir D`: a local multi-validator
 * network of real processes on loopback. init makes one node home per validator (D/node<i>),
 * one shared genesis with every validator (equal power) and funded provider and tenant keys
 * (D/provider<j>/keyring "provider", D/tenant/keyring "tenant"), configs with fixed ports and
 * every other validator as a persistent peer, and D/testnet.json describing it all. start
 * runs each node as a background process (D/node<i>/node.log, node.pid) and waits until every
 * node has committed blocks; stop sends SIGTERM (SIGKILL after 10 s); status shows each node.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "chain/chain.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "codec/codec.h"
#include "keyring/keyring.h"
#include "node/node.h"

#define TN_EXIT_OK      0
#define TN_EXIT_FAILURE 1
#define TN_EXIT_USAGE   2

#define TN_VALIDATOR_MAX   16u
#define TN_PROVIDER_MAX    16u
#define TN_PORT_STRIDE     10u
#define TN_PATH_BYTES      600u
#define TN_FUND_PROVIDER   100000000000ull /* 100k kumo: collateral for many bids */
#define TN_FUND_TENANT     100000000000ull
#define TN_START_TIMEOUT_S 60u
#define TN_STOP_TIMEOUT_MS 10000u

static const char tn_help[] =
    "usage: kumo testnet <init|start|stop|status> --dir DIR [options]\n"
    "\n"
    "A local network of real validator processes on 127.0.0.1.\n"
    "\n"
    "  init    --dir DIR [--validators N] [--providers M] [--chain-id ID] [--base-port P]\n"
    "          [--block-interval-ms MS] [--full-nodes F]\n"
    "          N validators (1..16, default 4) in DIR/node<i>, one genesis with all of them\n"
    "          bonded (each self-delegates its power in kumo), F more nodes (default 0; at\n"
    "          most 16 nodes in all) after them with their own funded key but no stake: they\n"
    "          follow the chain and join the set with `kumo tx staking create-validator`,\n"
    "          M funded provider keys (0..16, default 2) in DIR/provider<j>/keyring (name\n"
    "          \"provider\") and a funded tenant key in DIR/tenant/keyring (name \"tenant\").\n"
    "          Node i serves HTTP on P+10i and p2p on P+10i+1 (P default 26600).\n"
    "  start   --dir DIR [--timeout S]   start every node not running, wait for blocks\n"
    "  stop    --dir DIR                 SIGTERM every node (SIGKILL after 10 s)\n"
    "  status  --dir DIR                 each node: process, height, endpoint\n"
    "\n"
    "Add --output json for machine-readable output.\n"
    "\n"
    "example:\n"
    "  kumo testnet init --dir /tmp/tn --validators 4 --providers 2\n"
    "  kumo testnet start --dir /tmp/tn\n"
    "  kumo query blocks --node http://127.0.0.1:26600\n"
    "  kumo testnet stop --dir /tmp/tn\n";

typedef struct tn_opts {
    const char *dir;
    const char *chain_id;
    uint64_t validators;
    uint64_t full_nodes; /* nodes after the validators, not in genesis's set */
    uint64_t providers;
    uint64_t base_port;
    uint64_t block_interval_ms;
    uint64_t timeout_s;
    bool json;
} tn_opts_t;

static int tn_usage(const char *problem)
{
    fprintf(stderr, "kumo testnet: %s\n\n%s", problem, tn_help);
    return TN_EXIT_USAGE;
}

static int tn_fail(const char *what, int rc, const kumo_err_ctx_t *err)
{
    fprintf(stderr, "kumo testnet: %s: %s (%s)\n", what, kumo_err_msg(rc), err->detail);
    return TN_EXIT_FAILURE;
}

static bool tn_num(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return cli_u64_parse(text, "number", out, NULL) == 0 && *out >= lo && *out <= hi;
}

/* One "--name value" option (or --output json); returns false for an unknown or bad one. */
static bool tn_opt(tn_opts_t *o, const char *name, const char *value)
{
    if (strcmp(name, "--dir") == 0) {
        o->dir = value;
        return true;
    }
    if (strcmp(name, "--chain-id") == 0) {
        o->chain_id = value;
        return true;
    }
    if (strcmp(name, "--output") == 0) {
        o->json = strcmp(value, "json") == 0;
        return o->json || strcmp(value, "text") == 0;
    }
    static const struct {
        const char *name;
        size_t offset;
        uint64_t lo, hi;
    } nums[] = {
        {"--validators", offsetof(tn_opts_t, validators), 1, TN_VALIDATOR_MAX},
        {"--full-nodes", offsetof(tn_opts_t, full_nodes), 0, TN_VALIDATOR_MAX - 1u},
        {"--providers", offsetof(tn_opts_t, providers), 0, TN_PROVIDER_MAX},
        {"--base-port", offsetof(tn_opts_t, base_port), 1024, 60000},
        {"--block-interval-ms", offsetof(tn_opts_t, block_interval_ms), 10, 3600000},
        {"--timeout", offsetof(tn_opts_t, timeout_s), 1, 3600},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcmp(name, nums[i].name) == 0) {
            return tn_num(value, nums[i].lo, nums[i].hi,
                          (uint64_t *)(void *)((char *)o + nums[i].offset));
        }
    }
    return false;
}

static int tn_opts_parse(int argc, char **argv, tn_opts_t *o)
{
    *o = (tn_opts_t){.chain_id = "kumo-testnet",
                     .validators = 4,
                     .providers = 2,
                     .base_port = 26600,
                     .block_interval_ms = 1000,
                     .timeout_s = TN_START_TIMEOUT_S};
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc || !tn_opt(o, argv[i], argv[i + 1])) {
            char problem[160];
            (void)snprintf(problem, sizeof(problem), "bad or incomplete option '%s'", argv[i]);
            return tn_usage(problem);
        }
    }
    if (o->dir == NULL) {
        return tn_usage("--dir is required");
    }
    if (o->validators + o->full_nodes > TN_VALIDATOR_MAX) {
        return tn_usage("more than 16 nodes");
    }
    return 0;
}

static int tn_path(char out[TN_PATH_BYTES], const char *fmt, ...) KUMO_PRINTF(2, 3);
static int tn_path(char out[TN_PATH_BYTES], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, TN_PATH_BYTES, fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < TN_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

/* The p2p node id of a validator key: hex(SHA-256(pubkey)[0..20)) as src/tls defines it. */
static void tn_node_id(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES], char out[41])
{
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(pubkey, KUMO_CRYPTO_PUBKEY_BYTES), h);
    int rc = kumo_codec_hex_encode(kumo_bytes_make(h, 20), out, 41);
    KUMO_ASSERT(rc == 0);
}

/* ---- init ---- */

static int tn_file_write(const char *path, const char *text, kumo_err_ctx_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "open %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int rc = n == (ssize_t)len && fsync(fd) == 0 ? 0 : KUMO_EIO;
    (void)close(fd);
    KUMO_ENSURE(rc == 0, err, KUMO_EIO, "write %s", path);
    return 0;
}

static json_t *tn_json_load(const char *path, kumo_err_ctx_t *err)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        (void)kumo_err_set(err, KUMO_EDECODE, "%s:%d: %s", path, jerr.line, jerr.text);
    }
    return j;
}

/* A new key named name in dir/keyring (dir created 0700); its address as text. */
static int tn_key_make(const char *dir,
                       const char *name,
                       char addr_text[KUMO_ADDRESS_TEXT_BYTES],
                       uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES],
                       kumo_err_ctx_t *err)
{
    char path[TN_PATH_BYTES];
    KUMO_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir,
                strerror(errno));
    KUMO_ENSURE(tn_path(path, "%s/keyring", dir) == 0, err, KUMO_ELIMIT, "path too long");
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(kumo_keyring_open(path, &kr, err));
    kumo_crypto_keypair_t kp;
    int rc = kumo_keyring_add(kr, name, NULL, &kp, err);
    if (rc == KUMO_EEXIST) {
        rc = kumo_keyring_load(kr, name, NULL, &kp, err);
    }
    kumo_keyring_close(kr);
    KUMO_GUARD(rc);
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp.pubkey, addr);
    memcpy(pubkey_out, kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    kumo_crypto_key_wipe(&kp);
    kumo_codec_address_encode(addr, addr_text);
    return 0;
}

static int tn_balance_add(json_t *bals, const char *addr, uint64_t amount)
{
    char text[24];
    (void)snprintf(text, sizeof(text), "%" PRIu64, amount);
    return json_array_append_new(bals, json_pack("{s:s, s:s}", "address", addr, "amount", text));
}

typedef struct tn_net {
    json_t *genesis;    /* merged */
    json_t *validators; /* genesis validators (borrowed from genesis) */
    json_t *balances;
    json_t *desc; /* testnet.json */
    char node_ids[TN_VALIDATOR_MAX][41];
} tn_net_t;

/* Node home i: kumo init, then its balance and (for the first o->validators) its validator
 * join the merged genesis. */
static int tn_init_node(const tn_opts_t *o, tn_net_t *net, uint32_t i, kumo_err_ctx_t *err)
{
    bool in_set = i < o->validators;
    char home[TN_PATH_BYTES];
    char moniker[32];
    (void)snprintf(moniker, sizeof(moniker), "node%u", i);
    KUMO_ENSURE(tn_path(home, "%s/node%u", o->dir, i) == 0, err, KUMO_ELIMIT, "path too long");
    KUMO_GUARD(kumo_node_home_init(home, o->chain_id, moniker, err));
    char path[TN_PATH_BYTES];
    KUMO_ENSURE(tn_path(path, "%s/genesis.json", home) == 0, err, KUMO_ELIMIT, "path too long");
    json_t *g = tn_json_load(path, err);
    KUMO_ENSURE(g != NULL, err, KUMO_EDECODE, "%s", err->detail);
    json_t *v = json_array_get(json_object_get(g, "validators"), 0);
    json_t *b = json_array_get(json_object_get(g, "balances"), 0);
    int rc = v != NULL && b != NULL ? 0 : kumo_err_set(err, KUMO_EDECODE, "%s: no validator", path);
    if (rc == 0 && net->genesis == NULL) {
        net->genesis = json_deep_copy(g);
        net->validators = json_array();
        net->balances = json_array();
        rc = json_object_set(net->genesis, "validators", net->validators) |
             json_object_set(net->genesis, "balances", net->balances);
    }
    if (rc == 0 && in_set) {
        rc = json_array_append(net->validators, v);
    }
    rc = rc == 0 ? json_array_append(net->balances, b) : rc;
    const char *pk = json_string_value(json_object_get(v, "pubkey"));
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    size_t pk_len = 0;
    if (rc == 0 &&
        (pk == NULL || kumo_codec_hex_decode(pk, pubkey, sizeof(pubkey), &pk_len, NULL) < 0 ||
         pk_len != sizeof(pubkey))) {
        rc = kumo_err_set(err, KUMO_EDECODE, "%s: validator pubkey", path);
    }
    if (rc == 0) {
        tn_node_id(pubkey, net->node_ids[i]);
        char rpc[64];
        char p2p[64];
        (void)snprintf(rpc, sizeof(rpc), "127.0.0.1:%" PRIu64, o->base_port + TN_PORT_STRIDE * i);
        (void)snprintf(p2p, sizeof(p2p), "127.0.0.1:%" PRIu64,
                       o->base_port + TN_PORT_STRIDE * i + 1u);
        rc = json_array_append_new(
            json_object_get(net->desc, "validators"),
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:b}", "name", moniker, "home", home, "rpc",
                      rpc, "p2p", p2p, "node_id", net->node_ids[i], "address",
                      json_object_get(v, "address"), "genesis_validator", in_set));
    }
    json_decref(g);
    return rc == 0 ? 0 : (rc < 0 ? rc : kumo_err_set(err, KUMO_ENOMEM, "genesis JSON"));
}

/* Provider and tenant keys, funded in the merged genesis. */
static int tn_init_accounts(const tn_opts_t *o, tn_net_t *net, kumo_err_ctx_t *err)
{
    json_t *provs = json_object_get(net->desc, "providers");
    for (uint32_t j = 0; j <= o->providers; j++) {
        bool tenant = j == o->providers;
        char dir[TN_PATH_BYTES];
        int prc =
            tenant ? tn_path(dir, "%s/tenant", o->dir) : tn_path(dir, "%s/provider%u", o->dir, j);
        KUMO_ENSURE(prc == 0, err, KUMO_ELIMIT, "path too long");
        char addr[KUMO_ADDRESS_TEXT_BYTES];
        uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
        KUMO_GUARD(tn_key_make(dir, tenant ? "tenant" : "provider", addr, pubkey, err));
        int rc = tn_balance_add(net->balances, addr, tenant ? TN_FUND_TENANT : TN_FUND_PROVIDER);
        json_t *entry = json_pack("{s:s, s:s, s:s}", "home", dir, "key",
                                  tenant ? "tenant" : "provider", "address", addr);
        rc |= tenant ? json_object_set_new(net->desc, "tenant", entry)
                     : json_array_append_new(provs, entry);
        KUMO_ENSURE(rc == 0, err, KUMO_ENOMEM, "testnet JSON");
    }
    return 0;
}

/* The merged genesis (validated) into every node home; configs with ports and peers. */
static int tn_init_write(const tn_opts_t *o, tn_net_t *net, kumo_err_ctx_t *err)
{
    char *text = json_dumps(net->genesis, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    KUMO_ENSURE(text != NULL, err, KUMO_ENOMEM, "genesis JSON");
    Kumo__Genesis *g = NULL;
    int rc = kumo_chain_genesis_parse(kumo_bytes_make(text, strlen(text)), &g, err);
    kumo_codec_free(g != NULL ? &g->base : NULL);
    uint32_t nodes = (uint32_t)(o->validators + o->full_nodes);
    for (uint32_t i = 0; rc == 0 && i < nodes; i++) {
        char home[TN_PATH_BYTES];
        char path[TN_PATH_BYTES];
        rc = tn_path(home, "%s/node%u", o->dir, i) | tn_path(path, "%s/genesis.json", home);
        rc = rc == 0 ? tn_file_write(path, text, err) : kumo_err_set(err, KUMO_ELIMIT, "path");
        kumo_node_cfg_t cfg;
        rc = rc == 0 ? kumo_node_cfg_load(home, &cfg, err) : rc;
        if (rc == 0) {
            (void)snprintf(cfg.rpc_listen, sizeof(cfg.rpc_listen), "127.0.0.1:%" PRIu64,
                           o->base_port + TN_PORT_STRIDE * i);
            (void)snprintf(cfg.p2p_listen, sizeof(cfg.p2p_listen), "127.0.0.1:%" PRIu64,
                           o->base_port + TN_PORT_STRIDE * i + 1u);
            cfg.block_interval_ms = (uint32_t)o->block_interval_ms;
            size_t off = 0;
            for (uint32_t k = 0; k < nodes; k++) {
                if (k != i) {
                    int n = snprintf(cfg.persistent_peers + off, sizeof(cfg.persistent_peers) - off,
                                     "%s%s@127.0.0.1:%" PRIu64, off > 0 ? "," : "",
                                     net->node_ids[k], o->base_port + TN_PORT_STRIDE * k + 1u);
                    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(cfg.persistent_peers) - off);
                    off += (size_t)n;
                }
            }
            rc = kumo_node_cfg_save(home, &cfg, err);
        }
    }
    free(text);
    return rc;
}

static void tn_print_json(const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        printf("%s\n", text);
        free(text);
    }
}

static int tn_init(const tn_opts_t *o)
{
    kumo_err_ctx_t err = {0};
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kumo testnet: cannot create %s: %s\n", o->dir, strerror(errno));
        return TN_EXIT_FAILURE;
    }
    tn_net_t net = {0};
    net.desc = json_pack("{s:s, s:[], s:[]}", "chain_id", o->chain_id, "validators", "providers");
    int rc = net.desc != NULL ? 0 : kumo_err_set(&err, KUMO_ENOMEM, "testnet JSON");
    for (uint32_t i = 0; rc == 0 && i < o->validators + o->full_nodes; i++) {
        rc = tn_init_node(o, &net, i, &err);
    }
    rc = rc == 0 ? tn_init_accounts(o, &net, &err) : rc;
    rc = rc == 0 ? tn_init_write(o, &net, &err) : rc;
    char path[TN_PATH_BYTES];
    if (rc == 0 && tn_path(path, "%s/testnet.json", o->dir) == 0) {
        char *text = json_dumps(net.desc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        rc = text != NULL ? tn_file_write(path, text, &err) : KUMO_ENOMEM;
        free(text);
    }
    if (rc == 0 && o->json) {
        tn_print_json(net.desc);
    } else if (rc == 0) {
        printf("testnet %s in %s: %" PRIu64 " validators (bonded), %" PRIu64 " full nodes, %" PRIu64
               " providers, 1 tenant\n",
               o->chain_id, o->dir, o->validators, o->full_nodes, o->providers);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(net.desc, "validators"), i, v)
        {
            printf("  %-6s http://%s  p2p %s@%s\n", cli_json_str(v, "name"), cli_json_str(v, "rpc"),
                   cli_json_str(v, "node_id"), cli_json_str(v, "p2p"));
        }
        printf("next: kumo testnet start --dir %s\n", o->dir);
    }
    json_decref(net.genesis);
    json_decref(net.validators);
    json_decref(net.balances);
    json_decref(net.desc);
    return rc == 0 ? TN_EXIT_OK : tn_fail("init", rc, &err);
}

/* ---- start, stop, status ---- */

static json_t *tn_desc_load(const tn_opts_t *o)
{
    char path[TN_PATH_BYTES];
    kumo_err_ctx_t err = {0};
    json_t *j = tn_path(path, "%s/testnet.json", o->dir) == 0 ? tn_json_load(path, &err) : NULL;
    if (j == NULL) {
        fprintf(stderr, "kumo testnet: no testnet in %s (%s); run 'kumo testnet init' first\n",
                o->dir, err.detail);
    }
    return j;
}

/* The pid in home/node.pid if that process is alive, else 0. */
static pid_t tn_pid(const char *home)
{
    char path[TN_PATH_BYTES];
    if (tn_path(path, "%s/node.pid", home) != 0) {
        return 0;
    }
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        (void)fclose(f);
    }
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/* Starts `kumo node start --home home` detached, output to home/node.log. */
static int tn_spawn(const char *home, kumo_err_ctx_t *err)
{
    char log_path[TN_PATH_BYTES];
    char pid_path[TN_PATH_BYTES];
    KUMO_ENSURE(tn_path(log_path, "%s/node.log", home) == 0 &&
                    tn_path(pid_path, "%s/node.pid", home) == 0,
                err, KUMO_ELIMIT, "path too long");
    pid_t pid = fork();
    KUMO_ENSURE(pid >= 0, err, KUMO_EIO, "fork: %s", strerror(errno));
    if (pid == 0) {
        (void)setsid();
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
            _exit(127);
        }
        execl("/proc/self/exe", "kumo", "node", "start", "--home", home, (char *)NULL);
        _exit(127);
    }
    char text[32];
    (void)snprintf(text, sizeof(text), "%ld\n", (long)pid);
    return tn_file_write(pid_path, text, err);
}

/* The node's height from GET /status, or -1 when it does not answer. */
static int64_t tn_height(const char *rpc)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "http://%s", rpc);
    kumo_client_t *c = NULL;
    if (kumo_client_open(url, NULL, &c, NULL) < 0) {
        return -1;
    }
    kumo_client_status_t st;
    int rc = kumo_client_status_get(c, &st, NULL);
    kumo_client_close(c);
    return rc == 0 && st.height <= INT64_MAX ? (int64_t)st.height : -1;
}

static void tn_sleep_ms(uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits until every node reports height >= 2 (blocks committed by consensus). */
static bool tn_wait_blocks(const json_t *vals, uint64_t timeout_s)
{
    for (uint64_t waited = 0; waited < timeout_s * 1000u; waited += 250u) {
        size_t i;
        const json_t *v;
        bool all = true;
        json_array_foreach(vals, i, v)
        {
            all = all && tn_height(cli_json_str(v, "rpc")) >= 2;
        }
        if (all) {
            return true;
        }
        tn_sleep_ms(250);
    }
    return false;
}

static int tn_status_print(const tn_opts_t *o, const json_t *desc)
{
    json_t *out = json_array();
    size_t i;
    const json_t *v;
    if (!o->json) {
        printf("%-6s  %-8s  %-8s  %-24s  %s\n", "NODE", "PID", "HEIGHT", "RPC", "P2P");
    }
    json_array_foreach(json_object_get(desc, "validators"), i, v)
    {
        pid_t pid = tn_pid(cli_json_str(v, "home"));
        int64_t h = pid > 0 ? tn_height(cli_json_str(v, "rpc")) : -1;
        char url[128];
        (void)snprintf(url, sizeof(url), "http://%s", cli_json_str(v, "rpc"));
        if (o->json) {
            (void)json_array_append_new(
                out, json_pack("{s:s, s:b, s:I, s:I, s:s, s:s}", "name", cli_json_str(v, "name"),
                               "running", pid > 0, "pid", (json_int_t)pid, "height", (json_int_t)h,
                               "rpc", url, "p2p", cli_json_str(v, "p2p")));
        } else {
            char hs[24];
            (void)snprintf(hs, sizeof(hs), h >= 0 ? "%" PRId64 : "-", h);
            printf("%-6s  %-8ld  %-8s  %-24s  %s\n", cli_json_str(v, "name"), (long)pid, hs, url,
                   cli_json_str(v, "p2p"));
        }
    }
    if (o->json) {
        tn_print_json(out);
    }
    json_decref(out);
    return TN_EXIT_OK;
}

static int tn_start(const tn_opts_t *o)
{
    json_t *desc = tn_desc_load(o);
    if (desc == NULL) {
        return TN_EXIT_FAILURE;
    }
    const json_t *vals = json_object_get(desc, "validators");
    size_t i;
    const json_t *v;
    kumo_err_ctx_t err = {0};
    int rc = 0;
    json_array_foreach(vals, i, v)
    {
        const char *home = cli_json_str(v, "home");
        if (rc == 0 && tn_pid(home) == 0) {
            rc = tn_spawn(home, &err);
        }
    }
    if (rc < 0) {
        json_decref(desc);
        return tn_fail("start", rc, &err);
    }
    if (!o->json) {
        printf("started %zu nodes; waiting for blocks (up to %" PRIu64 " s)...\n",
               json_array_size(vals), o->timeout_s);
    }
    bool ok = tn_wait_blocks(vals, o->timeout_s);
    if (!ok) {
        fprintf(stderr,
                "kumo testnet: not every node committed blocks within %" PRIu64
                " s; see DIR/node<i>/node.log\n",
                o->timeout_s);
    }
    (void)tn_status_print(o, desc);
    json_decref(desc);
    return ok ? TN_EXIT_OK : TN_EXIT_FAILURE;
}

static int tn_stop(const tn_opts_t *o)
{
    json_t *desc = tn_desc_load(o);
    if (desc == NULL) {
        return TN_EXIT_FAILURE;
    }
    size_t i;
    const json_t *v;
    uint32_t stopped = 0;
    json_array_foreach(json_object_get(desc, "validators"), i, v)
    {
        pid_t pid = tn_pid(cli_json_str(v, "home"));
        if (pid <= 0) {
            continue;
        }
        (void)kill(pid, SIGTERM);
        uint32_t waited = 0;
        while (kill(pid, 0) == 0 && waited < TN_STOP_TIMEOUT_MS) {
            (void)waitpid(pid, NULL, WNOHANG);
            tn_sleep_ms(50);
            waited += 50;
        }
        if (kill(pid, 0) == 0) {
            (void)kill(pid, SIGKILL);
        }
        stopped++;
    }
    if (!o->json) {
        printf("stopped %u nodes\n", stopped);
    } else {
        printf("{\"stopped\": %u}\n", stopped);
    }
    json_decref(desc);
    return TN_EXIT_OK;
}

int kumo_cli_testnet_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(tn_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? TN_EXIT_USAGE : TN_EXIT_OK;
    }
    tn_opts_t o;
    int rc = tn_opts_parse(argc - 2, argv + 2, &o);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(argv[1], "init") == 0) {
        return tn_init(&o);
    }
    if (strcmp(argv[1], "start") == 0) {
        return tn_start(&o);
    }
    if (strcmp(argv[1], "stop") == 0) {
        return tn_stop(&o);
    }
    if (strcmp(argv[1], "status") == 0) {
        json_t *desc = tn_desc_load(&o);
        rc = desc != NULL ? tn_status_print(&o, desc) : TN_EXIT_FAILURE;
        json_decref(desc);
        return rc;
    }
    return tn_usage("unknown subcommand");
}
