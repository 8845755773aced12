/*
 * bench_spam_net.h - a `kumo testnet` driven from a benchmark (bench_spam, bench_tenants): the
 * nodes' config and genesis edited between init and start, blocking JSON over HTTP to a node
 * (libcurl, one kept connection per process), keys from the testnet's keyrings, txs signed
 * here and posted, and a tx's committed height read back.
 *
 * Ports: node i serves its API at base + 10 i (`kumo testnet`'s stride); the base comes from
 * the pid, below the kernel's ephemeral range.
 */
#ifndef KUMO_BENCH_SPAM_NET_H
#define KUMO_BENCH_SPAM_NET_H

#include <signal.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "bench_util.h"
#include "codec/codec.h"
#include "keyring/keyring.h"

#define BSN_STRIDE  10u
#define BSN_HEX_LEN (2u * KUMO_CHAIN_HASH_BYTES + 1u)

typedef struct bsn {
    char kumo[600];
    char dir[600];
    char chain_id[64];
    uint32_t base_port;
    uint32_t nodes;
    CURL *curl; /* this process's handle (a forked child makes its own) */
} bsn_t;

static void bsn_run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "bench: failed: %s\n", cmd);
        exit(1);
    }
}

/* The kumo binary: $KUMO_BIN, else the one next to this benchmark's. */
static void bsn_kumo_find(bsn_t *n)
{
    const char *env = getenv("KUMO_BIN");
    if (env != NULL && env[0] != '\0') {
        snprintf(n->kumo, sizeof(n->kumo), "%s", env);
        return;
    }
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        exit(1);
    }
    self[len] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(n->kumo, sizeof(n->kumo), "%s/kumo", self);
}

/* Replaces (or adds) the keys of cfg's "key: value" lines in the flat YAML file at path. */
static void bsn_cfg_apply(const char *path, const char *cfg)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        bench_die(path, KUMO_EIO, NULL);
    }
    static char text[1 << 16];
    size_t used = 0;
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        bool replaced = false;
        for (const char *c = cfg; *c != '\0'; c = strchr(c, '\n') + 1) {
            size_t key_len = (size_t)(strchr(c, ':') - c);
            replaced |= strncmp(line, c, key_len) == 0 && line[key_len] == ':';
        }
        if (!replaced && used + strlen(line) < sizeof(text)) {
            memcpy(text + used, line, strlen(line));
            used += strlen(line);
        }
    }
    fclose(f);
    f = fopen(path, "w");
    if (f == NULL || fwrite(text, 1, used, f) != used || fputs(cfg, f) < 0 || fclose(f) != 0) {
        bench_die(path, KUMO_EIO, NULL);
    }
}

/* The signal that asked to stop (SIGINT, SIGTERM), 0 if none: set by the handler only. */
static volatile sig_atomic_t bsn_signal;

static void bsn_on_signal(int sig)
{
    bsn_signal = sig;
}

/* Called by every wait loop: after SIGINT or SIGTERM, exits here (outside the handler, where
 * exit is safe), so every atexit clean-up of the run still happens. */
static void bsn_stop_check(void)
{
    if (bsn_signal != 0) {
        fprintf(stderr, "bench: interrupted (signal %d): cleaning up\n", (int)bsn_signal);
        exit(128 + (int)bsn_signal);
    }
}

/* Catches SIGINT and SIGTERM with bsn_on_signal (inherited by child processes). */
static void bsn_signals_catch(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = bsn_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void bsn_at_exit(void);
static bsn_t *bsn_started; /* stopped at exit if still running (a bench that died) */
static pid_t bsn_started_by;

/* `kumo testnet init`, then cfg into every node's config.yaml and the reconfirmation period
 * into every genesis (0: keep), then `kumo testnet start`. */
static void bsn_start(bsn_t *n,
                      const char *tag,
                      uint32_t validators,
                      uint32_t providers,
                      uint32_t block_ms,
                      const char *cfg,
                      uint64_t period_blocks)
{
    char *dir = bench_tmpdir(tag);
    snprintf(n->dir, sizeof(n->dir), "%s", dir);
    free(dir);
    snprintf(n->chain_id, sizeof(n->chain_id), "kumo-bench-%s", tag);
    n->base_port = 20000u + ((uint32_t)getpid() % 1000u) * 10u;
    n->nodes = validators;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "'%s' testnet init --dir '%s' --validators %u --providers %u --chain-id %s "
             "--base-port %u --block-interval-ms %u >/dev/null",
             n->kumo, n->dir, validators, providers, n->chain_id, n->base_port, block_ms);
    bsn_run(cmd);
    for (uint32_t v = 0; v < validators; v++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/node%u/config.yaml", n->dir, v);
        if (cfg != NULL) {
            bsn_cfg_apply(path, cfg);
        }
        if (period_blocks > 0) {
            snprintf(cmd, sizeof(cmd),
                     "sed -i 's/\"reconfirmation_period\": \"[0-9]*\"/\"reconfirmation_period\": "
                     "\"%" PRIu64 "\"/' '%s/node%u/genesis.json'",
                     period_blocks, n->dir, v);
            bsn_run(cmd);
        }
    }
    bsn_started = n;
    bsn_started_by = getpid();
    atexit(bsn_at_exit);
    bsn_signals_catch();
    snprintf(cmd, sizeof(cmd), "'%s' testnet start --dir '%s' >/dev/null", n->kumo, n->dir);
    bsn_run(cmd);
    n->curl = curl_easy_init();
}

static void bsn_stop(bsn_t *n, bool keep)
{
    bsn_started = NULL;
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "'%s' testnet stop --dir '%s' >/dev/null 2>&1", n->kumo, n->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench: testnet stop failed\n");
    }
    if (keep) {
        fprintf(stderr, "bench: files kept in %s\n", n->dir);
    } else {
        char *dir = strdup(n->dir);
        bench_rmdir(dir);
    }
    if (n->curl != NULL) {
        curl_easy_cleanup(n->curl);
        n->curl = NULL;
    }
}

static void bsn_at_exit(void)
{
    if (bsn_started != NULL && getpid() == bsn_started_by) {
        bsn_stop(bsn_started, true);
    }
}

static uint32_t bsn_rpc_port(const bsn_t *n, uint32_t node)
{
    return n->base_port + BSN_STRIDE * node;
}

static size_t bsn_write_cb(char *p, size_t size, size_t count, void *ctx)
{
    return kumo_buf_append(ctx, p, size * count) == 0 ? size * count : 0;
}

/* GET (body NULL) or POST body to node's path: the answer as JSON (NULL if none), its HTTP
 * status in *status_out (0 when the node did not answer; may be NULL). */
static json_t *
bsn_http(bsn_t *n, uint32_t node, const char *path, const char *body, long *status_out)
{
    if (n->curl == NULL) {
        n->curl = curl_easy_init();
    }
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", bsn_rpc_port(n, node), path);
    kumo_buf_t buf;
    kumo_buf_init(&buf, 16u << 20);
    CURL *c = n->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bsn_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(hdrs);
    json_t *j = NULL;
    if (buf.len > 0) {
        j = json_loadb((const char *)buf.ptr, buf.len, 0, NULL);
    }
    kumo_buf_free(&buf);
    if (status_out != NULL) {
        *status_out = status;
    }
    return j;
}

/* A JSON number or decimal string as u64 (0 when absent). */
static uint64_t bsn_u64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        return (uint64_t)json_integer_value(v);
    }
    const char *s = json_string_value(v);
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

/* The node's height (0 when it does not answer). */
static uint64_t bsn_height(bsn_t *n, uint32_t node)
{
    json_t *st = bsn_http(n, node, "/status", NULL, NULL);
    uint64_t h = bsn_u64(st, "height");
    json_decref(st);
    return h;
}

/* Waits until node's height is past h (deadline 60 s); the new height. */
static uint64_t bsn_height_after(bsn_t *n, uint32_t node, uint64_t h)
{
    uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
    for (;;) {
        uint64_t now = bsn_height(n, node);
        if (now > h) {
            return now;
        }
        if (bench_now_ns() > deadline) {
            bench_die("the chain stopped", KUMO_EIO, NULL);
        }
        bsn_stop_check();
        usleep(20000); /* a block is hundreds of ms */
    }
}

static void bsn_key_load(const bsn_t *n,
                         const char *sub,
                         const char *name,
                         kumo_crypto_keypair_t *kp,
                         char addr[KUMO_ADDRESS_TEXT_BYTES])
{
    char dir[800];
    snprintf(dir, sizeof(dir), "%s/%s/keyring", n->dir, sub);
    kumo_keyring_t *kr = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_keyring_open(dir, &kr, &err);
    rc = rc == 0 ? kumo_keyring_load(kr, name, NULL, kp, &err) : rc;
    kumo_keyring_close(kr);
    if (rc != 0) {
        bench_die(dir, rc, &err);
    }
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, raw);
    kumo_codec_address_encode(raw, addr);
}

/* A signed tx and what posting it needs: its hash in hex and the {"tx": base64} body. */
typedef struct bsn_tx {
    char hash[BSN_HEX_LEN];
    char *body;
} bsn_tx_t;

static void bsn_tx_sign(const bsn_t *n,
                        const kumo_crypto_keypair_t *kp,
                        uint64_t sequence,
                        uint64_t fee,
                        Kumo__Msg *const *msgs,
                        size_t msg_count,
                        bsn_tx_t *out)
{
    kumo_buf_t tx;
    kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
    BENCH_MUST("tx", kumo_chain_tx_build(n->chain_id, kp, sequence, fee, "", msgs, msg_count, &tx,
                                         &bench_err_));
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    kumo_crypto_sha256(kumo_buf_bytes(&tx), hash);
    for (size_t i = 0; i < KUMO_CHAIN_HASH_BYTES; i++) {
        snprintf(out->hash + 2 * i, 3, "%02x", hash[i]);
    }
    size_t b64_len = sodium_base64_ENCODED_LEN(tx.len, sodium_base64_VARIANT_ORIGINAL);
    out->body = malloc(b64_len + 16);
    memcpy(out->body, "{\"tx\":\"", 7);
    sodium_bin2base64(out->body + 7, b64_len, tx.ptr, tx.len, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(out->body);
    memcpy(out->body + len, "\"}", 3);
    kumo_buf_free(&tx);
}

/* POST /txs; the HTTP status (200: in the pool). */
static long bsn_tx_post(bsn_t *n, uint32_t node, const bsn_tx_t *tx)
{
    long status = 0;
    json_t *j = bsn_http(n, node, "/txs", tx->body, &status);
    json_decref(j);
    return status;
}

/* The height a tx committed at and its code (-1 height while not committed). */
static int64_t bsn_tx_height(bsn_t *n, uint32_t node, const char *hash, int64_t *code_out)
{
    char path[128];
    snprintf(path, sizeof(path), "/txs/%s", hash);
    json_t *t = bsn_http(n, node, path, NULL, NULL);
    const char *st = json_string_value(json_object_get(t, "status"));
    int64_t h = -1;
    if (st != NULL && strcmp(st, "committed") == 0) {
        h = (int64_t)bsn_u64(t, "height");
        const json_t *code = json_object_get(t, "code");
        *code_out = json_is_integer(code) ? (int64_t)json_integer_value(code) : 0;
    }
    json_decref(t);
    return h;
}

/* Posts a setup tx and waits (60 s) until it committed with code 0. */
static void bsn_tx_commit(bsn_t *n, uint32_t node, const bsn_tx_t *tx, const char *what)
{
    long status = bsn_tx_post(n, node, tx);
    if (status != 200) {
        fprintf(stderr, "bench: %s: HTTP %ld\n", what, status);
        exit(1);
    }
    uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
    int64_t code = 0;
    while (bsn_tx_height(n, node, tx->hash, &code) < 0) {
        if (bench_now_ns() > deadline) {
            bench_die(what, KUMO_EIO, NULL);
        }
        bsn_stop_check();
        usleep(50000); /* waiting for a block */
    }
    if (code != 0) {
        fprintf(stderr, "bench: %s: tx failed with code %" PRId64 "\n", what, code);
        exit(1);
    }
}

/* The account's committed sequence. */
static uint64_t bsn_sequence(bsn_t *n, uint32_t node, const char *addr)
{
    char path[128];
    snprintf(path, sizeof(path), "/accounts/%s", addr);
    json_t *a = bsn_http(n, node, path, NULL, NULL);
    uint64_t seq = bsn_u64(a, "sequence");
    json_decref(a);
    return seq;
}

static int bsn_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-th per-mille of v (sorted here); 0 when empty. */
static uint64_t bsn_quantile(uint64_t *v, size_t count, uint32_t per_mille)
{
    if (count == 0) {
        return 0;
    }
    qsort(v, count, sizeof(*v), bsn_u64_cmp);
    size_t i = (count * per_mille) / 1000u;
    return v[i < count ? i : count - 1];
}

#endif
