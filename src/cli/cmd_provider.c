/*
 * cmd_provider.c - `kumo provider init|register|start|status`: a datacenter's home (config.yaml,
 * its account key, its root CA) and its registration on chain (MsgCreateProvider with the
 * root certificate), and the daemon (`start`; its first slice bids, see src/provider/daemon.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "file/file.h"
#include "keyring/keyring.h"
#include "provider/daemon.h"
#include "provider/provider.h"
#include "tls/tls.h"

#define PV_EXIT_OK      0
#define PV_EXIT_FAILURE 1
#define PV_EXIT_USAGE   2
#define PV_PATH_BYTES   600u
#define PV_CA_DAYS      3650u

static const char pv_help[] =
    "usage: kumo provider <init|register|start|status> --home DIR [options]\n"
    "\n"
    "  init      --home DIR --region R [--key NAME] [--node URL] [--public-address ADDR]\n"
    "            [--api-listen HOST:PORT] [--runtime-socket PATH]\n"
    "            create DIR/config.yaml (every setting documented), the provider key in\n"
    "            DIR/keyring (kept if it exists) and a root CA (DIR/ca.key 0600, DIR/ca.crt)\n"
    "  register  --home DIR [--host-uri URI]\n"
    "            send MsgCreateProvider (region, host URI, the root certificate) from the\n"
    "            provider key to the node in config.yaml, and wait for the commit\n"
    "  start     --home DIR [--node URL]\n"
    "            run the provider daemon until SIGINT/SIGTERM: it follows the node's event\n"
    "            stream and bids on the open orders of its region that fit its free capacity,\n"
    "            its prices and its collateral budget, runs the leased workloads and\n"
    "            confirms their leases\n"
    "  status    --home DIR [--output json]\n"
    "            what the running daemon last saw (DIR/status.json, written after every pass):\n"
    "            leases with their containers, price, payments and last confirmation,\n"
    "            capacity used by leases and held by open bids, earnings, counters\n"
    "\n"
    "example:\n"
    "  kumo provider init --home ~/.kumo-dc --region us-east --node http://127.0.0.1:26657\n"
    "  kumo provider register --home ~/.kumo-dc\n";

typedef struct pv_opts {
    const char *home;
    const char *region;
    const char *key;
    const char *node;
    const char *public_address;
    const char *api_listen;
    const char *runtime_socket;
    const char *host_uri;
    const char *output;
} pv_opts_t;

static int pv_usage(const char *problem)
{
    fprintf(stderr, "kumo provider: %s\n\n%s", problem, pv_help);
    return PV_EXIT_USAGE;
}

static int pv_fail(const char *what, const kumo_err_ctx_t *err)
{
    fprintf(stderr, "kumo provider: %s: %s (%s)\n", what, kumo_err_msg(err->code), err->detail);
    return PV_EXIT_FAILURE;
}

static int pv_opts_parse(int argc, char **argv, pv_opts_t *o)
{
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        {"--home", offsetof(pv_opts_t, home)},
        {"--region", offsetof(pv_opts_t, region)},
        {"--key", offsetof(pv_opts_t, key)},
        {"--node", offsetof(pv_opts_t, node)},
        {"--public-address", offsetof(pv_opts_t, public_address)},
        {"--api-listen", offsetof(pv_opts_t, api_listen)},
        {"--runtime-socket", offsetof(pv_opts_t, runtime_socket)},
        {"--host-uri", offsetof(pv_opts_t, host_uri)},
        {"--output", offsetof(pv_opts_t, output)},
    };
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i += 2) {
        size_t k = 0;
        while (k < sizeof(known) / sizeof(known[0]) && strcmp(argv[i], known[k].name) != 0) {
            k++;
        }
        if (k == sizeof(known) / sizeof(known[0]) || i + 1 >= argc) {
            char problem[160];
            (void)snprintf(problem, sizeof(problem), "bad or incomplete option '%s'", argv[i]);
            return pv_usage(problem);
        }
        *(const char **)(void *)((char *)o + known[k].offset) = argv[i + 1];
    }
    return o->home == NULL ? pv_usage("--home is required") : 0;
}

static int pv_path(char out[PV_PATH_BYTES], const char *home, const char *name)
{
    int n = snprintf(out, PV_PATH_BYTES, "%s/%s", home, name);
    return n > 0 && (size_t)n < PV_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

/* Writes a file that must not exist yet, with mode. */
static int pv_file_create(const char *path, kumo_bytes_t data, mode_t mode, kumo_err_ctx_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    KUMO_ENSURE(fd >= 0, err, errno == EEXIST ? KUMO_EEXIST : KUMO_EIO, "%s: %s", path,
                strerror(errno));
    bool ok = write(fd, data.ptr, data.len) == (ssize_t)data.len && fsync(fd) == 0;
    (void)close(fd);
    KUMO_ENSURE(ok, err, KUMO_EIO, "write %s", path);
    return 0;
}

static int pv_cfg_from_opts(const pv_opts_t *o, kumo_provider_cfg_t *cfg, kumo_err_ctx_t *err)
{
    kumo_provider_cfg_default(cfg);
    KUMO_ENSURE(o->region != NULL, err, KUMO_EINVAL, "--region is required");
    const struct {
        const char *value;
        char *dst;
        size_t cap;
    } sets[] = {
        {o->region, cfg->region, sizeof(cfg->region)},
        {o->key, cfg->key, sizeof(cfg->key)},
        {o->node, cfg->node_url, sizeof(cfg->node_url)},
        {o->public_address, cfg->public_address, sizeof(cfg->public_address)},
        {o->api_listen, cfg->api_listen, sizeof(cfg->api_listen)},
        {o->runtime_socket, cfg->runtime_socket, sizeof(cfg->runtime_socket)},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        if (sets[i].value != NULL) {
            KUMO_ENSURE(strlen(sets[i].value) < sets[i].cap, err, KUMO_ELIMIT, "'%s' is too long",
                        sets[i].value);
            (void)snprintf(sets[i].dst, sets[i].cap, "%s", sets[i].value);
        }
    }
    return kumo_provider_cfg_validate(cfg, err);
}

/* The provider key: created in home/keyring, or the one already there. */
static int
pv_key(const char *home, const char *name, kumo_crypto_keypair_t *kp, kumo_err_ctx_t *err)
{
    char dir[PV_PATH_BYTES];
    KUMO_ENSURE(pv_path(dir, home, "keyring") == 0, err, KUMO_ELIMIT, "path too long");
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(kumo_keyring_open(dir, &kr, err));
    int rc = kumo_keyring_add(kr, name, NULL, kp, err);
    if (rc == KUMO_EEXIST) {
        rc = kumo_keyring_load(kr, name, NULL, kp, err);
    }
    kumo_keyring_close(kr);
    return rc;
}

/* ca.key (0600) and ca.crt for a fresh root CA. */
static int pv_ca(const char *home, const char *region, kumo_err_ctx_t *err)
{
    kumo_crypto_keypair_t ca;
    KUMO_GUARD(kumo_crypto_key_generate(&ca));
    kumo_buf_t key_pem;
    kumo_buf_t crt_pem;
    kumo_buf_init(&key_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&crt_pem, KUMO_TLS_PEM_BYTES_MAX);
    char cn[128];
    (void)snprintf(cn, sizeof(cn), "kumo provider root (%s)", region);
    char kpath[PV_PATH_BYTES];
    char cpath[PV_PATH_BYTES];
    int rc = pv_path(kpath, home, "ca.key") | pv_path(cpath, home, "ca.crt");
    rc = rc == 0 ? kumo_tls_key_pem(&ca, &key_pem, err) : kumo_err_set(err, KUMO_ELIMIT, "path");
    rc = rc == 0 ? kumo_tls_ca_create(&ca, cn, PV_CA_DAYS, &crt_pem, err) : rc;
    rc = rc == 0 ? pv_file_create(kpath, kumo_buf_bytes(&key_pem), 0600, err) : rc;
    rc = rc == 0 ? pv_file_create(cpath, kumo_buf_bytes(&crt_pem), 0644, err) : rc;
    sodium_memzero(key_pem.ptr, key_pem.cap);
    kumo_buf_free(&key_pem);
    kumo_buf_free(&crt_pem);
    kumo_crypto_key_wipe(&ca);
    return rc;
}

static int pv_init(const pv_opts_t *o)
{
    kumo_err_ctx_t err = {0};
    kumo_provider_cfg_t cfg;
    if (pv_cfg_from_opts(o, &cfg, &err) < 0) {
        return pv_fail("init", &err);
    }
    if (mkdir(o->home, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kumo provider: cannot create %s: %s\n", o->home, strerror(errno));
        return PV_EXIT_FAILURE;
    }
    char path[PV_PATH_BYTES];
    kumo_crypto_keypair_t kp;
    kumo_buf_t text;
    kumo_buf_init(&text, 64u * 1024u);
    int rc = pv_path(path, o->home, "config.yaml");
    rc = rc == 0 && access(path, F_OK) == 0
             ? kumo_err_set(&err, KUMO_EEXIST, "%s exists: this home is initialised", path)
             : rc;
    rc = rc == 0 ? pv_key(o->home, cfg.key, &kp, &err) : rc;
    rc = rc == 0 ? pv_ca(o->home, cfg.region, &err) : rc;
    rc = rc == 0 ? kumo_provider_cfg_render(&cfg, &text, &err) : rc;
    rc = rc == 0 ? pv_file_create(path, kumo_buf_bytes(&text), 0644, &err) : rc;
    kumo_buf_free(&text);
    if (rc < 0) {
        return pv_fail("init", &err);
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_address_from_pubkey(kp.pubkey, addr);
    kumo_codec_address_encode(addr, addr_text);
    kumo_crypto_key_wipe(&kp);
    printf("provider home %s\n  key      %s (%s)\n  region   %s\n  root CA  %s/ca.crt\n"
           "  config   %s\nnext: fund %s, then kumo provider register --home %s\n",
           o->home, cfg.key, addr_text, cfg.region, o->home, path, addr_text, o->home);
    return PV_EXIT_OK;
}

static int pv_cfg_load(const char *home, kumo_provider_cfg_t *cfg, kumo_err_ctx_t *err)
{
    char path[PV_PATH_BYTES];
    KUMO_ENSURE(pv_path(path, home, "config.yaml") == 0, err, KUMO_ELIMIT, "path too long");
    kumo_buf_t text;
    kumo_buf_init(&text, 64u * 1024u);
    kumo_provider_cfg_default(cfg);
    int rc = kumo_file_read(path, &text, err);
    rc = rc == 0 ? kumo_provider_cfg_parse(path, kumo_buf_bytes(&text), cfg, err) : rc;
    kumo_buf_free(&text);
    return rc;
}

static int pv_register(const pv_opts_t *o)
{
    kumo_err_ctx_t err = {0};
    kumo_provider_cfg_t cfg;
    char path[PV_PATH_BYTES];
    kumo_buf_t cert;
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX + 1u);
    int rc = pv_cfg_load(o->home, &cfg, &err);
    rc = rc == 0 && pv_path(path, o->home, "ca.crt") != 0 ? kumo_err_set(&err, KUMO_ELIMIT, "path")
                                                          : rc;
    rc = rc == 0 ? kumo_file_read(path, &cert, &err) : rc;
    /* What goes on chain must be a usable root: refused here, before anything is sent. */
    rc = rc == 0 ? kumo_tls_root_check(kumo_buf_bytes(&cert), &err) : rc;
    rc = rc == 0 && kumo_buf_append(&cert, "", 1) != 0 ? KUMO_ELIMIT : rc; /* NUL-terminated */
    if (rc < 0) {
        kumo_buf_free(&cert);
        return pv_fail("register", &err);
    }
    char host_uri[256];
    (void)snprintf(host_uri, sizeof(host_uri), "%s%s", o->host_uri != NULL ? "" : "https://",
                   o->host_uri != NULL ? o->host_uri : cfg.api_listen);
    Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
    cp.host_uri = host_uri;
    cp.region = cfg.region;
    cp.root_cert_pem = (char *)cert.ptr;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
    msg.create_provider = &cp;
    Kumo__Msg *msgs[1] = {&msg};
    cli_args_t a;
    memset(&a, 0, sizeof(a));
    a.home = o->home;
    a.node = o->node != NULL ? o->node : cfg.node_url;
    a.from = cfg.key;
    a.wait = true;
    int exit_code = cli_tx_send(&a, msgs, 1, "provider register");
    kumo_buf_free(&cert);
    return exit_code;
}

static volatile int pv_stop = 0;

static void pv_on_signal(int sig)
{
    (void)sig;
    pv_stop = 1;
}

static int pv_start(const pv_opts_t *o)
{
    kumo_err_ctx_t err = {0};
    kumo_provider_cfg_t cfg;
    kumo_crypto_keypair_t kp;
    char dir[PV_PATH_BYTES];
    kumo_keyring_t *kr = NULL;
    int rc = pv_cfg_load(o->home, &cfg, &err);
    if (rc == 0 && o->node != NULL) {
        (void)snprintf(cfg.node_url, sizeof(cfg.node_url), "%s", o->node);
    }
    rc = rc == 0 && pv_path(dir, o->home, "keyring") != 0 ? KUMO_ELIMIT : rc;
    rc = rc == 0 ? kumo_keyring_open(dir, &kr, &err) : rc;
    rc = rc == 0 ? kumo_keyring_load(kr, cfg.key, NULL, &kp, &err) : rc;
    kumo_keyring_close(kr);
    kumo_provider_daemon_t *d = NULL;
    rc = rc == 0 ? kumo_provider_daemon_open(&cfg, o->home, &kp, &d, &err) : rc;
    kumo_crypto_key_wipe(&kp);
    if (rc < 0) {
        return pv_fail("start", &err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pv_on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    kumo_provider_daemon_run(d, &pv_stop);
    kumo_provider_daemon_close(d);
    return PV_EXIT_OK;
}

int kumo_cli_provider_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(pv_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? PV_EXIT_USAGE : PV_EXIT_OK;
    }
    for (int i = 2; i < argc; i++) { /* kumo provider SUB --help */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(pv_help, stdout);
            return PV_EXIT_OK;
        }
    }
    pv_opts_t o;
    int rc = pv_opts_parse(argc - 2, argv + 2, &o);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(argv[1], "init") == 0) {
        return pv_init(&o);
    }
    if (strcmp(argv[1], "register") == 0) {
        return pv_register(&o);
    }
    if (strcmp(argv[1], "start") == 0) {
        return pv_start(&o);
    }
    if (strcmp(argv[1], "status") == 0) {
        bool json = o.output != NULL && strcmp(o.output, "json") == 0;
        if (o.output != NULL && !json && strcmp(o.output, "text") != 0) {
            return pv_usage("--output is text or json");
        }
        return cli_provider_status(o.home, json);
    }
    return pv_usage("unknown subcommand");
}
