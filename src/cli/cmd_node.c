/*
 * cmd_node.c - the node's commands: `kumo init` (a node home), `kumo genesis add-account`
 * (genesis balances before the first start) and `kumo node start` (the daemon: node plus HTTP
 * API on one libevent loop until SIGINT or SIGTERM). Exit codes: 0 success, 1 failure, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "codec/codec.h"
#include "log/log.h"
#include "node/node.h"
#include "rpc/rpc.h"

#define NODE_EXIT_OK      0
#define NODE_EXIT_FAILURE 1
#define NODE_EXIT_USAGE   2

static const char node_init_help[] =
    "usage: kumo init --home DIR --chain-id ID [--moniker NAME]\n"
    "\n"
    "Creates a node home: DIR/keyring with a new validator key named \"validator\" (0600),\n"
    "DIR/config.yaml with every setting and its default written out, and DIR/genesis.json for\n"
    "chain ID with that validator (power 10) funded with 1000000000000 ukumo.\n"
    "\n"
    "options:\n"
    "  --home DIR        the node's home directory (created 0700 if missing)\n"
    "  --chain-id ID     the chain id, 1..64 printable characters\n"
    "  --moniker NAME    a name for this node (default kumo-node)\n"
    "\n"
    "example:\n"
    "  kumo init --home ~/.kumo --chain-id kumo-local --moniker alpha\n";

static const char node_genesis_help[] =
    "usage: kumo genesis add-account --home DIR ADDRESS AMOUNT\n"
    "\n"
    "Adds AMOUNT ukumo to ADDRESS (kumo1...) in DIR/genesis.json, creating the balance or\n"
    "topping it up. Only before the node's first start: the genesis of a running chain is fixed.\n"
    "\n"
    "example:\n"
    "  kumo genesis add-account --home ~/.kumo kumo1lgq4epxs7dg574ndcugxam9etk0sapzngvtlmu "
    "5000000000\n";

static const char node_start_help[] =
    "usage: kumo node start --home DIR [--rpc-listen HOST:PORT] [--block-interval-ms N]\n"
    "\n"
    "Runs the node in DIR (see 'kumo init'): produces a block every block_interval_ms and\n"
    "serves the HTTP API on rpc_listen until SIGINT or SIGTERM. Flags override config.yaml.\n"
    "\n"
    "options:\n"
    "  --home DIR                the node's home directory\n"
    "  --rpc-listen HOST:PORT    HTTP API address (port 0 picks a free port)\n"
    "  --block-interval-ms N     one block every N milliseconds (1..3600000)\n"
    "\n"
    "example:\n"
    "  kumo node start --home ~/.kumo --rpc-listen 127.0.0.1:26657\n";

static bool node_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

static int node_usage(const char *help, const char *problem)
{
    fprintf(stderr, "kumo: %s\n\n%s", problem, help);
    return NODE_EXIT_USAGE;
}

/* Decimal u64 without sign or leading zeros; false when text is not one. */
static bool node_u64_parse(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0')) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9' || kumo_u64_mul(v, 10, &v) < 0 ||
            kumo_u64_add(v, (uint64_t)(text[i] - '0'), &v) < 0) {
            return false;
        }
    }
    *out = v;
    return true;
}

static int node_fail(const char *what, int rc, const kumo_err_ctx_t *err, const char *hint)
{
    fprintf(stderr, "kumo: %s: %s (%s)%s%s\n", what, kumo_err_msg(rc), err->detail,
            hint != NULL ? "\n  " : "", hint != NULL ? hint : "");
    return NODE_EXIT_FAILURE;
}

/* ---- kumo init ---- */

typedef struct node_opts {
    const char *home;
    const char *chain_id;
    const char *moniker;
    const char *rpc_listen;
    const char *block_interval_ms;
    const char *positional[2];
    int positional_count;
} node_opts_t;

/* Parses "--name value" options and up to two positional arguments. Returns 0, or the usage
 * exit code after printing the problem (1 << 8 marks --help, answered with exit 0). */
static int node_opts_parse(int argc, char **argv, const char *help, node_opts_t *o)
{
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        {"--home", offsetof(node_opts_t, home)},
        {"--chain-id", offsetof(node_opts_t, chain_id)},
        {"--moniker", offsetof(node_opts_t, moniker)},
        {"--rpc-listen", offsetof(node_opts_t, rpc_listen)},
        {"--block-interval-ms", offsetof(node_opts_t, block_interval_ms)},
    };
    for (int i = 0; i < argc; i++) {
        if (node_is_help(argv[i])) {
            fputs(help, stdout);
            return -1;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            if (o->positional_count == 2) {
                return node_usage(help, "too many arguments");
            }
            o->positional[o->positional_count++] = argv[i];
            continue;
        }
        size_t k = 0;
        while (k < KUMO_ARRAY_COUNT(known) && strcmp(argv[i], known[k].name) != 0) {
            k++;
        }
        if (k == KUMO_ARRAY_COUNT(known)) {
            fprintf(stderr, "kumo: unknown option %s\n\n%s", argv[i], help);
            return NODE_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kumo: %s needs a value\n\n%s", argv[i], help);
            return NODE_EXIT_USAGE;
        }
        const char **slot = (const char **)(void *)((char *)o + known[k].offset);
        *slot = argv[++i];
    }
    return 0;
}

int kumo_cli_init_main(int argc, char **argv)
{
    node_opts_t o = {0};
    int rc = node_opts_parse(argc - 1, argv + 1, node_init_help, &o);
    if (rc != 0) {
        return rc < 0 ? NODE_EXIT_OK : rc;
    }
    if (o.home == NULL || o.chain_id == NULL) {
        return node_usage(node_init_help, "--home and --chain-id are required");
    }
    if (o.positional_count > 0 || o.rpc_listen != NULL || o.block_interval_ms != NULL) {
        return node_usage(node_init_help, "init takes only --home, --chain-id and --moniker");
    }
    kumo_err_ctx_t err = {0};
    rc = kumo_node_home_init(o.home, o.chain_id, o.moniker, &err);
    if (rc == KUMO_EEXIST) {
        return node_fail("init", rc, &err, "use another --home, or start the existing node");
    }
    if (rc < 0) {
        return node_fail("init", rc, &err, NULL);
    }
    printf("initialised %s for chain %s\n", o.home, o.chain_id);
    printf("start it with: kumo node start --home %s\n", o.home);
    return NODE_EXIT_OK;
}

/* ---- kumo genesis add-account ---- */

int kumo_cli_genesis_main(int argc, char **argv)
{
    if (argc < 2 || node_is_help(argv[1])) {
        fputs(node_genesis_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    if (strcmp(argv[1], "add-account") != 0) {
        return node_usage(node_genesis_help, "unknown genesis subcommand");
    }
    node_opts_t o = {0};
    int rc = node_opts_parse(argc - 2, argv + 2, node_genesis_help, &o);
    if (rc != 0) {
        return rc < 0 ? NODE_EXIT_OK : rc;
    }
    if (o.home == NULL || o.positional_count != 2) {
        return node_usage(node_genesis_help, "--home, ADDRESS and AMOUNT are required");
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_err_ctx_t err = {0};
    if (kumo_codec_address_decode(o.positional[0], addr, &err) < 0) {
        fprintf(stderr, "kumo: '%s' is not a kumo1... address: %s\n", o.positional[0], err.detail);
        return NODE_EXIT_USAGE;
    }
    uint64_t amount = 0;
    if (!node_u64_parse(o.positional[1], &amount) || amount == 0) {
        fprintf(stderr, "kumo: AMOUNT must be a positive whole number of ukumo, got '%s'\n",
                o.positional[1]);
        return NODE_EXIT_USAGE;
    }
    rc = kumo_node_genesis_account_add(o.home, addr, amount, &err);
    if (rc < 0) {
        return node_fail("genesis add-account", rc, &err,
                         rc == KUMO_ENOTFOUND ? "run 'kumo init --home DIR' first" : NULL);
    }
    printf("added %" PRIu64 " ukumo to %s\n", amount, o.positional[0]);
    return NODE_EXIT_OK;
}

/* ---- kumo node start ---- */

typedef struct node_run {
    struct event_base *base;
    bool stopped_by_signal;
} node_run_t;

static void node_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    node_run_t *run = arg;
    KUMO_LOG_INFO("node", "node_stopping", "signal=%d", (int)sig);
    run->stopped_by_signal = true;
    (void)event_base_loopbreak(run->base);
}

/* config.yaml, then the flags over it. */
static int node_start_cfg(const node_opts_t *o, kumo_node_cfg_t *cfg)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_cfg_load(o->home, cfg, &err);
    if (rc < 0) {
        return node_fail("config", rc, &err,
                         rc == KUMO_ENOTFOUND ? "run 'kumo init --home DIR --chain-id ID' first"
                                              : "fix config.yaml");
    }
    if (o->rpc_listen != NULL) {
        if (strlen(o->rpc_listen) >= sizeof(cfg->rpc_listen)) {
            return node_usage(node_start_help, "--rpc-listen is too long");
        }
        (void)snprintf(cfg->rpc_listen, sizeof(cfg->rpc_listen), "%s", o->rpc_listen);
    }
    if (o->block_interval_ms != NULL) {
        uint64_t v = 0;
        if (!node_u64_parse(o->block_interval_ms, &v) || v == 0 || v > 3600000u) {
            return node_usage(node_start_help, "--block-interval-ms must be 1..3600000");
        }
        cfg->block_interval_ms = (uint32_t)v;
    }
    rc = kumo_node_cfg_validate(cfg, &err);
    if (rc < 0) {
        return node_usage(node_start_help, err.detail);
    }
    return 0;
}

static void node_log_level_apply(const kumo_node_cfg_t *cfg)
{
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "off"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(names); i++) {
        if (strcmp(cfg->log_level, names[i]) == 0) {
            kumo_log_level_set((enum kumo_log_level)i);
        }
    }
}

/* Runs the loop with the node and the API open; returns the exit code. */
static int node_serve(const kumo_node_cfg_t *cfg, node_run_t *run)
{
    kumo_err_ctx_t err = {0};
    kumo_node_t *node = NULL;
    int rc = kumo_node_open(cfg, run->base, &node, &err);
    if (rc < 0) {
        return node_fail("node start", rc, &err, NULL);
    }
    kumo_rpc_t *rpc = NULL;
    rc = kumo_rpc_open(run->base, node, cfg, &rpc, &err);
    if (rc < 0) {
        kumo_node_close(node);
        return node_fail("rpc listen", rc, &err, "is another node using that address?");
    }
    kumo_node_status_t st;
    kumo_node_status_get(node, &st);
    char host[sizeof(cfg->rpc_listen)];
    (void)snprintf(host, sizeof(host), "%s", cfg->rpc_listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    KUMO_LOG_INFO("node", "node_started", "chain_id=%s height=%" PRIu64 " rpc=%s:%u", st.chain_id,
                  st.height, host, (unsigned)kumo_rpc_port(rpc));
    int drc = event_base_dispatch(run->base);
    kumo_node_status_get(node, &st);
    kumo_rpc_close(rpc);
    kumo_node_close(node);
    if (drc < 0 || !run->stopped_by_signal) {
        fprintf(stderr, "kumo: the node stopped on an error (see the log above)\n");
        return NODE_EXIT_FAILURE;
    }
    KUMO_LOG_INFO("node", "node_stopped", "height=%" PRIu64, st.height);
    return NODE_EXIT_OK;
}

/* Raises the soft open-files limit to the hard one: the HTTP API sizes its connection cap
 * from it, and the common default soft limit (1024) is far below what a node can use. */
static void node_nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) {
        return;
    }
    rlim_t from = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        KUMO_LOG_WARN("node", "nofile_raise_failed", "soft=%" PRIu64 " hard=%" PRIu64 " errno=%d",
                      (uint64_t)from, (uint64_t)rl.rlim_max, errno);
        return;
    }
    KUMO_LOG_DEBUG("node", "nofile_raised", "from=%" PRIu64 " to=%" PRIu64, (uint64_t)from,
                   (uint64_t)rl.rlim_max);
}

/* Locks the home before anything else touches it: a second node on the same home would
 * otherwise open the store and the WAL next to the first. */
static int node_home_lock(const char *home, int *fd_out)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_home_lock(home, fd_out, &err);
    if (rc == KUMO_EBUSY) {
        fprintf(stderr, "kumo: node start: %s\n  stop that node first, or use another --home\n",
                err.detail);
        return NODE_EXIT_FAILURE;
    }
    if (rc == KUMO_ENOTFOUND) {
        return node_fail("node start", rc, &err, "run 'kumo init --home DIR --chain-id ID' first");
    }
    if (rc < 0) {
        return node_fail("node start", rc, &err, NULL);
    }
    return 0;
}

static int node_start_locked(const node_opts_t *o)
{
    node_nofile_raise();
    kumo_node_cfg_t cfg;
    int rc = node_start_cfg(o, &cfg);
    if (rc != 0) {
        return rc;
    }
    node_log_level_apply(&cfg);
    /* A client closing its connection mid-response must not kill the daemon. */
    (void)signal(SIGPIPE, SIG_IGN);
    node_run_t run = {0};
    run.base = event_base_new();
    if (run.base == NULL) {
        fprintf(stderr, "kumo: cannot create the event loop\n");
        return NODE_EXIT_FAILURE;
    }
    struct event *sigint = evsignal_new(run.base, SIGINT, node_signal_cb, &run);
    struct event *sigterm = evsignal_new(run.base, SIGTERM, node_signal_cb, &run);
    if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) != 0 ||
        evsignal_add(sigterm, NULL) != 0) {
        fprintf(stderr, "kumo: cannot watch SIGINT/SIGTERM\n");
        rc = NODE_EXIT_FAILURE;
    } else {
        rc = node_serve(&cfg, &run);
    }
    if (sigint != NULL) {
        event_free(sigint);
    }
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    event_base_free(run.base);
    return rc;
}

static int node_start(const node_opts_t *o)
{
    int lock_fd = -1;
    int rc = node_home_lock(o->home, &lock_fd);
    if (rc != 0) {
        return rc;
    }
    rc = node_start_locked(o);
    kumo_node_home_unlock(lock_fd);
    return rc;
}
int kumo_cli_node_main(int argc, char **argv)
{
    if (argc < 2 || node_is_help(argv[1])) {
        fputs(node_start_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_EXIT_USAGE : NODE_EXIT_OK;
    }
    if (strcmp(argv[1], "start") != 0) {
        return node_usage(node_start_help, "unknown node subcommand (try 'kumo node start')");
    }
    node_opts_t o = {0};
    int rc = node_opts_parse(argc - 2, argv + 2, node_start_help, &o);
    if (rc != 0) {
        return rc < 0 ? NODE_EXIT_OK : rc;
    }
    if (o.home == NULL) {
        return node_usage(node_start_help, "--home is required");
    }
    if (o.positional_count > 0 || o.chain_id != NULL || o.moniker != NULL) {
        return node_usage(node_start_help, "node start takes --home, --rpc-listen and "
                                           "--block-interval-ms");
    }
    return node_start(&o);
}
