/*
 * testnet.c - real node processes for adversary tests, and a raw peer (see testnet.h).
 */
#include "helpers/net/testnet.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>

#include "helpers/testutil.h"
#include "keyring/keyring.h"
#include "tls/tls.h"

#define NET_ANSWER_BYTES (4u * 1024u * 1024u)
#define NET_LOG_LINES    40u
#define NET_PORT_BASE    20000u
#define NET_PORT_BLOCK   50u
#define NET_PORT_BLOCKS  250u

uint64_t kumo_test_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void kumo_test_pause_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

void kumo_test_net_node_path(
    const kumo_test_net_t *tn, uint32_t node, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/node%u/%s", tn->dir, node, name);
    assert_true(n > 0 && (size_t)n < cap);
}

/* The last NET_LOG_LINES lines of path to stderr under a title; nothing if it cannot be read. */
static void net_tail_print(const char *path, const char *title)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    fprintf(stderr, "---- %s (last %u lines) ----\n", title, NET_LOG_LINES);
    static char lines[NET_LOG_LINES][512];
    size_t n = 0;
    while (fgets(lines[n % NET_LOG_LINES], sizeof(lines[0]), f) != NULL) {
        n++;
    }
    for (size_t k = n > NET_LOG_LINES ? n - NET_LOG_LINES : 0; k < n; k++) {
        fputs(lines[k % NET_LOG_LINES], stderr);
    }
    (void)fclose(f);
}

void kumo_test_net_logs_print(const kumo_test_net_t *tn)
{
    if (tn->dir == NULL) {
        return;
    }
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/cmd.log", tn->dir);
    net_tail_print(path, "kumo commands' output");
    for (uint32_t i = 0; i < tn->nodes; i++) {
        char title[32];
        (void)snprintf(title, sizeof(title), "node%u log", i);
        kumo_test_net_node_path(tn, i, "node.log", path, sizeof(path));
        net_tail_print(path, title);
    }
}

/* KUMO_TEST_NET_NOFILE (testnet.h): the open-files limit, soft and hard, of this child. */
static void net_nofile_apply(void)
{
    const char *text = getenv("KUMO_TEST_NET_NOFILE");
    if (text == NULL || text[0] == '\0') {
        return;
    }
    rlim_t n = (rlim_t)strtoull(text, NULL, 10);
    struct rlimit rl = {n, n};
    if (n == 0 || setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        _exit(127);
    }
}

static int net_spawn(kumo_test_net_t *tn, char *line)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = tn->kumo;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        assert_true(argc < 39);
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    char log[PATH_MAX];
    (void)snprintf(log, sizeof(log), "%s/cmd.log", tn->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        net_nofile_apply();
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execv(tn->kumo, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        assert_int_equal(errno, EINTR);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int kumo_test_net_kumo(kumo_test_net_t *tn, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    return net_spawn(tn, line);
}

static int net_tx_v(kumo_test_net_t *tn,
                    const char *home,
                    const char *key,
                    char *args,
                    size_t cap,
                    const char *fmt,
                    va_list ap) KUMO_PRINTF(6, 0);
static int net_tx_v(kumo_test_net_t *tn,
                    const char *home,
                    const char *key,
                    char *args,
                    size_t cap,
                    const char *fmt,
                    va_list ap)
{
    int n = vsnprintf(args, cap, fmt, ap);
    assert_true(n > 0 && (size_t)n < cap);
    return kumo_test_net_kumo(tn, "tx %s --home %s/%s --node http://127.0.0.1:%u --from %s", args,
                              tn->dir, home, kumo_test_net_rpc_port(tn, 0), key);
}

int kumo_test_net_tx(kumo_test_net_t *tn, const char *home, const char *key, const char *fmt, ...)
{
    char args[3072];
    va_list ap;
    va_start(ap, fmt);
    int rc = net_tx_v(tn, home, key, args, sizeof(args), fmt, ap);
    va_end(ap);
    return rc;
}

void kumo_test_net_tx_ok(
    kumo_test_net_t *tn, const char *home, const char *key, const char *fmt, ...)
{
    char args[3072];
    va_list ap;
    va_start(ap, fmt);
    int rc = net_tx_v(tn, home, key, args, sizeof(args), fmt, ap);
    va_end(ap);
    if (rc != 0) {
        kumo_test_net_logs_print(tn);
        fail_msg("kumo tx %s (as %s) failed", args, key);
    }
}

char *kumo_test_net_output(const kumo_test_net_t *tn, int *code, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    char cmd[8400];
    n = snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tn->kumo, args);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    /* Read to the end, whatever the size: a reader that stops early makes the command die of
     * SIGPIPE (exit 141) instead of reporting its own exit code. What is past cap is dropped. */
    size_t cap = 1u << 20;
    char *out = calloc(1, cap);
    assert_non_null(out);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof(sink), p) > 0) {
    }
    int st = pclose(p);
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

void kumo_test_net_address(const kumo_test_net_t *tn,
                           const char *home,
                           const char *name,
                           char out[KUMO_ADDRESS_TEXT_BYTES])
{
    int code = 0;
    char *s =
        kumo_test_net_output(tn, &code, "keys show %s --address --home %s/%s", name, tn->dir, home);
    assert_int_equal(code, 0);
    s[strcspn(s, "\r\n")] = '\0';
    size_t len = strlen(s);
    assert_true(len > 0 && len < KUMO_ADDRESS_TEXT_BYTES);
    memcpy(out, s, len + 1);
    free(s);
}

void kumo_test_net_provider_create(kumo_test_net_t *tn,
                                   const char *home,
                                   const char *key,
                                   uint8_t seed_byte)
{
    kumo_crypto_keypair_t ca;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, seed_byte, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &ca);
    kumo_buf_t pem;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc", 30, &pem, NULL), 0);
    kumo_crypto_key_wipe(&ca);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/ca.pem", tn->dir);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(pem.ptr, 1, pem.len, f), pem.len);
    assert_int_equal(fclose(f), 0);
    kumo_buf_free(&pem);
    kumo_test_net_tx_ok(tn, home, key,
                        "provider create --host-uri https://dc.example:8443 --region r1 "
                        "--cert-file %s --wait",
                        path);
}

void kumo_test_net_cfg_apply(const char *path, const char *cfg)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    kumo_buf_t out;
    kumo_buf_init(&out, 1024u * 1024u);
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        bool replaced = false;
        for (const char *c = cfg; *c != '\0' && !replaced;) {
            const char *colon = strchr(c, ':');
            const char *eol = strchr(c, '\n');
            assert_non_null(colon);
            size_t key_len = (size_t)(colon - c);
            replaced = strncmp(line, c, key_len) == 0 && line[key_len] == ':';
            c = eol != NULL ? eol + 1 : c + strlen(c);
        }
        if (!replaced) {
            assert_int_equal(kumo_buf_append(&out, line, strlen(line)), 0);
        }
    }
    (void)fclose(f);
    assert_int_equal(kumo_buf_append(&out, cfg, strlen(cfg)), 0);
    if (cfg[0] != '\0' && cfg[strlen(cfg) - 1u] != '\n') {
        assert_int_equal(kumo_buf_append(&out, "\n", 1), 0);
    }
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(out.ptr, 1, out.len, f), out.len);
    assert_int_equal(fclose(f), 0);
    kumo_buf_free(&out);
}

int kumo_test_net_bare(kumo_test_net_t *tn)
{
    memset(tn, 0, sizeof(*tn));
    const char *bin = getenv("KUMO_BIN");
    (void)snprintf(tn->kumo, sizeof(tn->kumo), "%s",
                   bin != NULL && bin[0] != '\0' ? bin : "./kumo");
    char abs[PATH_MAX];
    if (access(tn->kumo, X_OK) != 0 || realpath(tn->kumo, abs) == NULL) {
        fprintf(stderr, "no kumo binary: set KUMO_BIN or run in the build dir\n");
        return -1;
    }
    (void)snprintf(tn->kumo, sizeof(tn->kumo), "%s", abs);
    tn->dir = kumo_test_tmpdir_make("kumo-adv");
    assert_non_null(tn->dir);
    return 0;
}

/* Whether every TCP port in [base, base + NET_PORT_BLOCK) on 127.0.0.1 can be bound now. */
static bool net_ports_free(uint32_t base)
{
    for (uint32_t p = base; p < base + NET_PORT_BLOCK; p++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)p),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        (void)close(fd);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* A block of NET_PORT_BLOCK free ports below the kernel's ephemeral range (32768+), where
 * outgoing connections take ports: tried from a pid-derived start, so tests running at once
 * (or a benchmark's network) do not meet. */
static uint32_t net_ports_pick(void)
{
    uint32_t start = (uint32_t)getpid() % NET_PORT_BLOCKS;
    for (uint32_t k = 0; k < NET_PORT_BLOCKS; k++) {
        uint32_t base = NET_PORT_BASE + ((start + k) % NET_PORT_BLOCKS) * NET_PORT_BLOCK;
        if (net_ports_free(base)) {
            return base;
        }
    }
    fail_msg("no block of %u free ports", NET_PORT_BLOCK);
    return NET_PORT_BASE; /* not reached */
}

/* Replaces genesis.json's members by patch's in node i's home. */
static void net_genesis_apply(const kumo_test_net_t *tn, uint32_t node, const char *patch)
{
    char path[PATH_MAX];
    kumo_test_net_node_path(tn, node, "genesis.json", path, sizeof(path));
    json_error_t jerr;
    json_t *g = json_load_file(path, 0, &jerr);
    json_t *p = json_loads(patch, 0, &jerr);
    assert_non_null(g);
    assert_non_null(p);
    assert_int_equal(json_object_update(g, p), 0);
    assert_int_equal(json_dump_file(g, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
    json_decref(p);
    json_decref(g);
}

int kumo_test_net_start_opts(kumo_test_net_t *tn, const kumo_test_net_opts_t *o)
{
    uint32_t nodes = o->validators + o->full_nodes;
    assert_true(o->validators >= 1 && nodes <= KUMO_TEST_NET_NODES_MAX);
    if (kumo_test_net_bare(tn) != 0) {
        return -1;
    }
    tn->nodes = nodes;
    /* Below the kernel's ephemeral range (32768+), where outgoing connections take ports. */
    tn->base_port = net_ports_pick();
    if (kumo_test_net_kumo(tn,
                           "testnet init --dir %s --validators %u --full-nodes %u --providers 1 "
                           "--base-port %u --block-interval-ms %u %s",
                           tn->dir, o->validators, o->full_nodes, tn->base_port, o->block_ms,
                           o->init_extra != NULL ? o->init_extra : "") != 0) {
        kumo_test_net_logs_print(tn);
        return -1;
    }
    for (uint32_t i = 0; i < nodes; i++) {
        char path[PATH_MAX];
        kumo_test_net_node_path(tn, i, "config.yaml", path, sizeof(path));
        if (o->cfg != NULL) {
            kumo_test_net_cfg_apply(path, o->cfg);
        }
        if (o->genesis != NULL) {
            net_genesis_apply(tn, i, o->genesis);
        }
    }
    if (kumo_test_net_kumo(tn, "testnet start --dir %s --timeout 60", tn->dir) != 0) {
        kumo_test_net_logs_print(tn);
        return -1;
    }
    return 0;
}

int kumo_test_net_start_cfg(kumo_test_net_t *tn,
                            uint32_t validators,
                            uint32_t block_ms,
                            const char *init_extra,
                            const char *cfg)
{
    const kumo_test_net_opts_t o = {
        .validators = validators, .block_ms = block_ms, .init_extra = init_extra, .cfg = cfg};
    return kumo_test_net_start_opts(tn, &o);
}

int kumo_test_net_start(kumo_test_net_t *tn,
                        uint32_t validators,
                        uint32_t block_ms,
                        const char *init_extra)
{
    return kumo_test_net_start_cfg(tn, validators, block_ms, init_extra, NULL);
}

void kumo_test_net_stop(kumo_test_net_t *tn)
{
    if (tn->dir != NULL) {
        (void)kumo_test_net_kumo(tn, "testnet stop --dir %s", tn->dir);
        kumo_test_tmpdir_remove(tn->dir);
        tn->dir = NULL;
    }
}

int kumo_test_net_restart(kumo_test_net_t *tn)
{
    return kumo_test_net_kumo(tn, "testnet start --dir %s --timeout 60", tn->dir);
}

uint32_t kumo_test_net_rpc_port(const kumo_test_net_t *tn, uint32_t node)
{
    return tn->base_port + 10u * node;
}

uint32_t kumo_test_net_all(const kumo_test_net_t *tn)
{
    return (1u << tn->nodes) - 1u;
}

void kumo_test_net_peer_addr(const kumo_test_net_t *tn, uint32_t node, char *out, size_t cap)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/testnet.json", tn->dir);
    json_t *desc = json_load_file(path, 0, NULL);
    assert_non_null(desc);
    const json_t *v = json_array_get(json_object_get(desc, "validators"), node);
    assert_non_null(v);
    int n = snprintf(out, cap, "%s@%s", json_string_value(json_object_get(v, "node_id")),
                     json_string_value(json_object_get(v, "p2p")));
    assert_true(n > 0 && (size_t)n < cap);
    json_decref(desc);
}

static size_t net_curl_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *buf = ctx;
    return kumo_buf_append(buf, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

json_t *kumo_test_net_get(const kumo_test_net_t *tn, uint32_t node, const char *path)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", kumo_test_net_rpc_port(tn, node),
                   path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    kumo_buf_t buf;
    kumo_buf_init(&buf, NET_ANSWER_BYTES);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, net_curl_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200) {
        j = json_loadb((const char *)buf.ptr, buf.len, 0, NULL);
    }
    kumo_buf_free(&buf);
    curl_easy_cleanup(c);
    return j;
}

json_t *kumo_test_net_post(
    const kumo_test_net_t *tn, uint32_t node, const char *path, const char *body, long *status_out)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", kumo_test_net_rpc_port(tn, node),
                   path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    kumo_buf_t buf;
    kumo_buf_init(&buf, NET_ANSWER_BYTES);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, net_curl_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
        status = 0;
    } else {
        j = json_loadb((const char *)buf.ptr, buf.len, 0, NULL);
    }
    *status_out = status;
    curl_slist_free_all(hdrs);
    kumo_buf_free(&buf);
    curl_easy_cleanup(c);
    return j;
}

json_t *
kumo_test_net_tx_post(const kumo_test_net_t *tn, uint32_t node, kumo_bytes_t tx, long *status_out)
{
    size_t b64_cap = sodium_base64_ENCODED_LEN(tx.len, sodium_base64_VARIANT_ORIGINAL);
    char *body = malloc(b64_cap + 16u);
    assert_non_null(body);
    memcpy(body, "{\"tx\":\"", 7);
    (void)sodium_bin2base64(body + 7, b64_cap, tx.ptr, tx.len, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(body);
    memcpy(body + n, "\"}", 3);
    json_t *j = kumo_test_net_post(tn, node, "/txs", body, status_out);
    free(body);
    return j;
}

bool kumo_test_net_metric(const kumo_test_net_t *tn,
                          uint32_t node,
                          const char *name,
                          uint64_t *value_out)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics",
                   kumo_test_net_rpc_port(tn, node));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    kumo_buf_t buf;
    kumo_buf_init(&buf, NET_ANSWER_BYTES);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, net_curl_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    long status = 0;
    bool found = false;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200 &&
        kumo_buf_append(&buf, "\0", 1) == 0) {
        size_t n = strlen(name);
        for (const char *line = (const char *)buf.ptr; line != NULL && !found;
             line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : NULL) {
            if (strncmp(line, name, n) == 0 && line[n] == ' ') {
                *value_out = strtoull(line + n + 1, NULL, 10);
                found = true;
            }
        }
    }
    kumo_buf_free(&buf);
    curl_easy_cleanup(c);
    return found;
}

uint64_t kumo_test_json_u64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? strtoull(json_string_value(v), NULL, 10)
                             : (json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
}

int64_t kumo_test_net_height(const kumo_test_net_t *tn, uint32_t node)
{
    json_t *st = kumo_test_net_get(tn, node, "/status");
    int64_t h = st != NULL ? (int64_t)kumo_test_json_u64(st, "height") : -1;
    json_decref(st);
    return h;
}

int64_t kumo_test_net_height_max(const kumo_test_net_t *tn, uint32_t mask)
{
    int64_t best = -1;
    for (uint32_t i = 0; i < tn->nodes; i++) {
        int64_t h = (mask & (1u << i)) != 0 ? kumo_test_net_height(tn, i) : -1;
        best = h > best ? h : best;
    }
    return best;
}

bool kumo_test_net_reach_height(const kumo_test_net_t *tn,
                                uint32_t mask,
                                int64_t h,
                                uint32_t timeout_ms)
{
    uint64_t deadline = kumo_test_now_ms() + timeout_ms;
    for (;;) {
        bool all = true;
        for (uint32_t i = 0; i < tn->nodes; i++) {
            all = all && ((mask & (1u << i)) == 0 || kumo_test_net_height(tn, i) >= h);
        }
        if (all) {
            return true;
        }
        if (kumo_test_now_ms() > deadline) {
            return false;
        }
        kumo_test_pause_ms(100);
    }
}

void kumo_test_net_wait_height(const kumo_test_net_t *tn, uint32_t mask, int64_t h)
{
    if (!kumo_test_net_reach_height(tn, mask, h, KUMO_TEST_NET_WAIT_MS)) {
        kumo_test_net_logs_print(tn);
        fail_msg("nodes 0x%x did not reach height %" PRId64, mask, h);
    }
}

void kumo_test_net_blocks_agree(const kumo_test_net_t *tn,
                                uint32_t mask,
                                uint64_t from,
                                uint64_t to)
{
    for (uint64_t h = from; h <= to; h++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
        json_t *first = NULL;
        for (uint32_t i = 0; i < tn->nodes; i++) {
            if ((mask & (1u << i)) == 0) {
                continue;
            }
            /* A node busy with an attacker may miss one 2 s answer under a sanitizer build. */
            json_t *b = kumo_test_net_get(tn, i, path);
            for (int tries = 1; b == NULL && tries < 5; tries++) {
                kumo_test_pause_ms(500);
                b = kumo_test_net_get(tn, i, path);
            }
            if (b == NULL) {
                kumo_test_net_logs_print(tn);
                fail_msg("node%u did not answer %s", i, path);
            }
            json_t *hdr = json_object_get(b, "header");
            assert_non_null(hdr);
            if (first == NULL) {
                first = json_incref(hdr);
            } else if (!json_equal(first, hdr)) {
                kumo_test_net_logs_print(tn);
                fail_msg("fork: node%u disagrees at height %" PRIu64, i, h);
            }
            json_decref(b);
        }
        json_decref(first);
    }
}

pid_t kumo_test_net_pid(const kumo_test_net_t *tn, uint32_t node)
{
    char path[PATH_MAX];
    kumo_test_net_node_path(tn, node, "node.pid", path, sizeof(path));
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        (void)fclose(f);
    }
    return (pid_t)pid;
}

void kumo_test_net_kill9(const kumo_test_net_t *tn, uint32_t node)
{
    pid_t pid = kumo_test_net_pid(tn, node);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    uint64_t deadline = kumo_test_now_ms() + 10000u;
    while (kill(pid, 0) == 0 && kumo_test_now_ms() < deadline) {
        kumo_test_pause_ms(20);
    }
}

size_t kumo_test_net_log_count(const kumo_test_net_t *tn, uint32_t node, const char *needle)
{
    char path[PATH_MAX];
    kumo_test_net_node_path(tn, node, "node.log", path, sizeof(path));
    FILE *f = fopen(path, "r");
    size_t n = 0;
    char line[2048];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL ? 1u : 0u;
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return n;
}

/* ---- the raw peer ---- */

static void peer_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    (void)id;
    (void)pk;
    ((kumo_test_peer_t *)ctx)->ups++;
}

static void peer_down(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    (void)id;
    ((kumo_test_peer_t *)ctx)->downs++;
}

static void
peer_msg(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint8_t channel, kumo_bytes_t payload)
{
    (void)id;
    kumo_test_peer_t *peer = ctx;
    if (channel < KUMO_P2P_CH_COUNT) {
        peer->frames[channel]++;
    }
    if (peer->on_frame != NULL) {
        peer->on_frame(peer, channel, payload);
    }
}

void kumo_test_peer_open(kumo_test_peer_t *peer,
                         const kumo_test_net_t *tn,
                         uint32_t node,
                         uint8_t key_tag)
{
    kumo_test_peer_open_from(peer, tn, node, key_tag, NULL, NULL);
}

static void peer_open_with(kumo_test_peer_t *peer,
                           const kumo_test_net_t *tn,
                           uint32_t node,
                           const kumo_crypto_keypair_t *key,
                           struct event_base *base,
                           const char *source_host);

void kumo_test_peer_open_from(kumo_test_peer_t *peer,
                              const kumo_test_net_t *tn,
                              uint32_t node,
                              uint8_t key_tag,
                              struct event_base *base,
                              const char *source_host)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, key_tag, sizeof(seed));
    kumo_crypto_keypair_t key;
    kumo_crypto_key_from_seed(seed, &key);
    peer_open_with(peer, tn, node, &key, base, source_host);
    kumo_crypto_key_wipe(&key);
}

void kumo_test_peer_open_key(kumo_test_peer_t *peer,
                             const kumo_test_net_t *tn,
                             uint32_t node,
                             const kumo_crypto_keypair_t *key)
{
    peer_open_with(peer, tn, node, key, NULL, NULL);
}

static void peer_open_with(kumo_test_peer_t *peer,
                           const kumo_test_net_t *tn,
                           uint32_t node,
                           const kumo_crypto_keypair_t *key,
                           struct event_base *base,
                           const char *source_host)
{
    char addr[256];
    kumo_test_net_peer_addr(tn, node, addr, sizeof(addr));
    (void)signal(SIGPIPE, SIG_IGN); /* a node closing on the peer is a result, not a crash */
    peer->base_shared = base != NULL;
    peer->base = base != NULL ? base : event_base_new();
    assert_non_null(peer->base);
    peer->key = *key;
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = KUMO_TEST_NET_CHAIN_ID;
    cfg.node_key = &peer->key;
    cfg.redial_min_ms = 600000; /* once dropped, stay away */
    cfg.redial_max_ms = 600000;
    cfg.dial_source = source_host;
    assert_int_equal(kumo_p2p_peer_addr_parse(addr, &cfg.persistent[0], NULL), 0);
    cfg.persistent_count = 1;
    peer->target = cfg.persistent[0];
    kumo_p2p_callbacks_t cb = {
        .ctx = peer, .peer_up = peer_up, .peer_down = peer_down, .on_msg = peer_msg};
    assert_int_equal(kumo_p2p_open(&cfg, peer->base, &cb, &peer->p2p, NULL), 0);
}

bool kumo_test_peer_run_until(kumo_test_peer_t *peer,
                              const uint64_t *counter,
                              uint64_t want,
                              uint32_t timeout_ms)
{
    uint64_t deadline = kumo_test_now_ms() + timeout_ms;
    while (*counter < want && kumo_test_now_ms() < deadline) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(peer->base, &tv);
        (void)event_base_dispatch(peer->base);
    }
    return *counter >= want;
}

void kumo_test_peer_run_ms(kumo_test_peer_t *peer, uint32_t ms)
{
    uint64_t never = 0;
    (void)kumo_test_peer_run_until(peer, &never, 1, ms);
}

void kumo_test_peer_wait_up(kumo_test_peer_t *peer)
{
    assert_true(kumo_test_peer_run_until(peer, &peer->ups, 1, 10000u));
}

int kumo_test_peer_send(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    return kumo_p2p_send(peer->p2p, peer->target.id, channel, payload, NULL);
}

bool kumo_test_peer_is_settled(const kumo_test_peer_t *peer)
{
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(peer->p2p, &st);
    return st.pending == 0;
}

int kumo_test_net_tcp_connect(const kumo_test_net_t *tn, uint32_t node, const char *source_host)
{
    char addr[256];
    kumo_test_net_peer_addr(tn, node, addr, sizeof(addr));
    const char *colon = strrchr(addr, ':');
    assert_non_null(colon);
    struct sockaddr_in to = {.sin_family = AF_INET};
    to.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    assert_int_equal(
        inet_pton(AF_INET, source_host != NULL ? source_host : "127.0.0.1", &from.sin_addr), 1);
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0 && errno != EINPROGRESS)) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

int kumo_test_net_node_key(const kumo_test_net_t *tn, uint32_t node, kumo_crypto_keypair_t *out)
{
    char dir[PATH_MAX];
    kumo_test_net_node_path(tn, node, "keyring", dir, sizeof(dir));
    kumo_keyring_t *kr = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_keyring_open(dir, &kr, &err);
    if (rc == 0) {
        rc = kumo_keyring_load(kr, "validator", NULL, out, &err);
        kumo_keyring_close(kr);
    }
    if (rc < 0) {
        fprintf(stderr, "testnet: node%u validator key: %s\n", node, err.detail);
    }
    return rc;
}

void kumo_test_peer_close(kumo_test_peer_t *peer)
{
    if (peer->p2p != NULL) {
        kumo_p2p_close(peer->p2p);
        peer->p2p = NULL;
    }
    if (peer->base != NULL && peer->base_shared) {
        peer->base = NULL;
    }
    if (peer->base != NULL) {
        /* Queued deferred callbacks hold their connections until they run. */
        (void)event_base_loop(peer->base, EVLOOP_NONBLOCK);
        event_base_free(peer->base);
        peer->base = NULL;
    }
    kumo_crypto_key_wipe(&peer->key);
}
