/*
 * test_deploy.c - `kumo deploy` against a real node (`kumo node start` on loopback, 100 ms
 * blocks) and two real provider API servers (kumo_provider_api over TLS 1.3, in-process, one
 * per region) whose backend is a test stand-in for the provider daemon: it reads what it
 * knows (deployment version, its leases) from the node, keeps the manifest it accepts, and
 * reports the workloads of its group running from the second status poll on. The test
 * itself plays the providers' bidding and release: it bids on the tenant's open orders with
 * `kumo tx fulfillment create` and confirms the release of closing leases with `kumo tx
 * lease confirm --released`, while `kumo deploy` runs as a child process.
 *
 * Shown: stack files with every kind of error are refused with file:line: field and nothing
 * reaches the chain (the tenant's sequence and deployments do not move); create follows
 * orders, bids and leases, uploads the manifest to both providers, waits until running,
 * sends no links (the providers connect the groups through their tunnels) and prints
 * endpoints and stage timings (--output json); status,
 * logs, update (a new version uploaded once, the other provider getting it from its peer),
 * close (leases released, escrow back); a
 * provider refusing the manifest and a market with no bidders end in a clear failure.
 *
 * The binary is $KUMO_BIN or ./kumo; waits poll conditions against deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "codec/codec.h"
#include "core/core.h"
#include "helpers/testutil.h"
#include "provider/daemon_int.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define T_BALANCE_UKUMO 1000000000ull
#define T_BLOCK_MS      "100"
#define T_ARG_COUNT_MAX 64

/* ---- harness: processes ---- */

typedef struct fake {
    const char *key;
    const char *region;
    const char *group;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t srv;
    kumo_buf_t root_pem;
    struct event_base *base;
    kumo_provider_api_t *api;
    pthread_t thread;
    volatile int stop;
    volatile int accepts;
    volatile int status_calls;
    volatile int wrong_version;
    kumo_buf_t manifest; /* last accepted (loop thread only) */
} fake_t;

typedef struct t_state {
    bool skip;
    char *dir;
    char kumo[PATH_MAX];
    char cli_home[1100];
    char node_home[1100];
    char node_log[1100];
    char err_path[1100];
    char out_path[1100];
    char stack[1100];
    char node_url[128];
    pid_t node_pid;
    char tenant[KUMO_ADDRESS_TEXT_BYTES];
    char ops[KUMO_ADDRESS_TEXT_BYTES]; /* the tenant's grantee */
    pd_grant_cache_t *grants;          /* the fakes ask the node for grants as the daemon does */
    char err_text[16384];
    fake_t fakes[2];
    char bid_done[64][KUMO_ID_TEXT_BYTES];
    size_t bid_count;
} t_state_t;

static t_state_t g;

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void poll_pause(void)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    (void)nanosleep(&ts, NULL);
}

static void file_print(const char *path, const char *title)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    fprintf(stderr, "---- %s ----\n", title);
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
    }
    (void)fclose(f);
}

static void file_load(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(out, 1, cap - 1, f);
        out[n] = '\0';
        (void)fclose(f);
    }
}

/* argv of "kumo <line>" split on spaces (line is modified). */
static void argv_split(char *line, char **argv)
{
    int argc = 0;
    argv[argc++] = g.kumo;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        assert_true(argc < T_ARG_COUNT_MAX - 1);
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
}

/* Starts kumo with the arguments; stdout to out_path, stderr to err_path. */
static pid_t spawn_to(const char *out_path, const char *err_path, const char *fmt, va_list ap)
    KUMO_PRINTF(3, 0);
static pid_t spawn_to(const char *out_path, const char *err_path, const char *fmt, va_list ap)
{
    char line[4096];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    char *argv[T_ARG_COUNT_MAX];
    argv_split(line, argv);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(err, 2) < 0) {
            _exit(127);
        }
        execv(g.kumo, argv);
        _exit(127);
    }
    return pid;
}

static pid_t spawn(const char *fmt, va_list ap) KUMO_PRINTF(1, 0);
static pid_t spawn(const char *fmt, va_list ap)
{
    return spawn_to(g.out_path, g.err_path, fmt, ap);
}

static int child_wait(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    file_load(g.err_path, g.err_text, sizeof(g.err_text));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs kumo to its end; returns the exit code; stdout stays in g.out_path. */
static int run(const char *fmt, ...) KUMO_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pid_t pid = spawn(fmt, ap);
    va_end(ap);
    return child_wait(pid);
}

static void run_ok(const char *fmt, ...) KUMO_PRINTF(1, 2);
static void run_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pid_t pid = spawn(fmt, ap);
    va_end(ap);
    int rc = child_wait(pid);
    if (rc != 0) {
        file_print(g.out_path, "stdout");
        fail_msg("kumo %s: exit %d: %s", fmt, rc, g.err_text);
    }
}

/* ---- node over HTTP ---- */

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
    return kumo_buf_append(ctx, p, size * n) == 0 ? size * n : 0;
}

/* GET node+path as JSON; NULL on any failure. Thread-safe (own handle). */
static json_t *node_get(const char *path)
{
    char url[1024];
    (void)snprintf(url, sizeof(url), "%s%s", g.node_url, path);
    kumo_buf_t body;
    kumo_buf_init(&body, 32u << 20);
    CURL *c = curl_easy_init();
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK) {
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 && body.len > 0) {
            j = json_loadb((const char *)body.ptr, body.len, 0, NULL);
        }
    }
    curl_easy_cleanup(c);
    kumo_buf_free(&body);
    return j;
}

static uint64_t json_u64(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        return (uint64_t)json_integer_value(v);
    }
    const char *s = json_string_value(v);
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

static const char *json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static uint64_t account_u64(const char *addr, const char *key)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", addr);
    json_t *j = node_get(path);
    assert_non_null(j);
    uint64_t v = json_u64(j, key);
    json_decref(j);
    return v;
}

static size_t list_count(const char *path)
{
    json_t *j = node_get(path);
    assert_non_null(j);
    size_t n = json_array_size(json_object_get(j, "items"));
    json_decref(j);
    return n;
}

/* ---- fake provider backend (the daemon's side of kumo_provider_api) ---- */

static int fk_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)err;
    fake_t *f = ctx;
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, owner_text, dseq);
    json_t *d = node_get(path);
    view->known = d != NULL && strcmp(json_str(d, "state"), "DEPLOYMENT_ACTIVE") == 0;
    const char *hex = json_str(d, "version");
    size_t len = 0;
    if (view->known &&
        kumo_codec_hex_decode(hex, view->version, sizeof(view->version), &len, NULL) != 0) {
        view->known = false;
    }
    json_decref(d);
    if (f->wrong_version) {
        view->version[0] ^= 1;
    }
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&provider=%s&state=LEASE_ACTIVE", owner_text,
                   dseq, f->addr);
    json_t *l = node_get(path);
    view->has_lease = json_array_size(json_object_get(l, "items")) > 0;
    json_decref(l);
    return 0;
}

/* A caller that is not the owner: the grants the node holds, asked and cached by the
 * daemon's own code (its handle per call: the API's workers call this at once). */
static int fk_grants(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     const uint8_t grantee[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_provider_grants_t *out,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    kumo_client_t *c = NULL;
    KUMO_GUARD(kumo_client_open(g.node_url, NULL, &c, err));
    int rc = pd_grants_get(g.grants, c, owner, grantee, dseq, out, err);
    kumo_client_close(c);
    return rc;
}

/* What the providers spread among themselves: the last manifest any fake accepted (a fake
 * without one "fetches" it from here when its version is the one it sees on chain). */
static pthread_mutex_t spread_mu = PTHREAD_MUTEX_INITIALIZER;
static kumo_buf_t spread;

static int fk_chunk_info(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         kumo_provider_chunk_info_t *out,
                         kumo_err_ctx_t *err)
{
    (void)caller;
    fake_t *f = ctx;
    kumo_provider_deployment_view_t view;
    memset(&view, 0, sizeof(view));
    KUMO_GUARD(fk_view(ctx, owner, dseq, &view, err));
    KUMO_ENSURE(view.known && view.has_lease, err, KUMO_ENOTFOUND, "no lease here");
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    bool had = f->manifest.len > 0 &&
               kumo_crypto_merkle_root(kumo_buf_bytes(&f->manifest), root) == 0 &&
               memcmp(root, view.version, sizeof(root)) == 0;
    (void)pthread_mutex_lock(&spread_mu);
    if (!had && kumo_crypto_merkle_root(kumo_buf_bytes(&spread), root) == 0 &&
        memcmp(root, view.version, sizeof(root)) == 0) {
        kumo_buf_reset(&f->manifest);
        if (kumo_buf_append(&f->manifest, spread.ptr, spread.len) == 0) {
            f->status_calls = 0;
        }
    }
    (void)pthread_mutex_unlock(&spread_mu);
    bool held = f->manifest.len > 0 &&
                kumo_crypto_merkle_root(kumo_buf_bytes(&f->manifest), root) == 0 &&
                memcmp(root, view.version, sizeof(root)) == 0;
    memcpy(out->version, view.version, sizeof(out->version));
    out->total_bytes = held ? f->manifest.len : 0;
    KUMO_GUARD(kumo_crypto_merkle_chunk_count(out->total_bytes, &out->chunk_count));
    out->chunks_held = held ? out->chunk_count : 0;
    out->manifest = held;
    return 0;
}

static int fk_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t m,
                     kumo_err_ctx_t *err)
{
    (void)owner;
    (void)dseq;
    fake_t *f = ctx;
    kumo_buf_reset(&f->manifest);
    KUMO_GUARD(kumo_buf_append(&f->manifest, m.ptr, m.len));
    (void)pthread_mutex_lock(&spread_mu);
    kumo_buf_reset(&spread);
    int rc = kumo_buf_append(&spread, m.ptr, m.len);
    (void)pthread_mutex_unlock(&spread_mu);
    KUMO_GUARD(rc);
    (void)err;
    f->status_calls = 0;
    f->accepts++;
    return 0;
}

static json_t *fk_endpoint(const Kumo__ManifestWorkload *w, const Kumo__ManifestPort *p)
{
    bool global = false;
    for (size_t r = 0; r < p->n_expose; r++) {
        global = global || p->expose[r]->global;
    }
    char url[64];
    unsigned host_port = 32000u + p->port % 1000u;
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", host_port);
    return json_pack("{s:s, s:i, s:s, s:i, s:s, s:s}", "workload", w->name, "port", (int)p->port,
                     "host", "127.0.0.1", "host_port", (int)host_port, "url", url, "scope",
                     global ? "global" : "deployment");
}

/* Workloads of this provider's group: none running on the first poll after an upload. */
static int fk_status(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     json_t **out,
                     kumo_err_ctx_t *err)
{
    (void)owner;
    (void)dseq;
    fake_t *f = ctx;
    json_t *ws = json_array();
    json_t *eps = json_array();
    Kumo__Manifest *m = NULL;
    if (f->manifest.len > 0) {
        KUMO_GUARD(kumo_sdl_manifest_decode(kumo_buf_bytes(&f->manifest), &m, err));
    }
    int calls = ++f->status_calls;
    for (size_t i = 0; m != NULL && i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        /* Its groups: "web" and those added in its region ("web-b"). */
        if (strncmp(w->group, f->group, strlen(f->group)) != 0) {
            continue;
        }
        (void)json_array_append_new(ws, json_pack("{s:s, s:s, s:i, s:i}", "name", w->name, "group",
                                                  w->group, "count", (int)w->count, "running",
                                                  calls > 1 ? (int)w->count : 0));
        for (size_t p = 0; p < w->n_ports; p++) {
            (void)json_array_append_new(eps, fk_endpoint(w, w->ports[p]));
        }
    }
    if (m != NULL) {
        kumo_codec_free(&m->base);
    }
    *out = json_pack("{s:b, s:o, s:o}", "manifest", f->manifest.len > 0, "workloads", ws,
                     "endpoints", eps);
    return 0;
}

static int fk_logs(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   const char *workload,
                   uint32_t tail,
                   kumo_buf_t *out,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)err;
    char line[128];
    int n = snprintf(line, sizeof(line), "log of %s (tail %u)\n", workload, tail);
    return kumo_buf_append(out, line, (size_t)n);
}

/* Stamped lines: "log of <workload> (tail N)" of instance 0 at time 1 s (lines at or after
 * since_ns only). */
static int fk_log_lines(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const char *workload,
                        uint64_t since_ns,
                        uint32_t tail,
                        uint32_t limit,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)limit;
    (void)err;
    if (since_ns > 1000000000u) {
        return 0;
    }
    char line[160];
    int n = snprintf(line, sizeof(line), "%s/0 1000000000 log of %s (tail %u)\n",
                     workload[0] != '\0' ? workload : "web", workload, tail);
    return kumo_buf_append(out, line, (size_t)n);
}

static int fk_info(void *ctx, json_t **out, kumo_err_ctx_t *err)
{
    (void)err;
    fake_t *f = ctx;
    *out = json_pack("{s:s, s:s}", "provider", f->addr, "region", f->region);
    return 0;
}

static void *fk_loop(void *arg)
{
    fake_t *f = arg;
    while (!f->stop) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(f->base, &tv);
        (void)event_base_dispatch(f->base);
    }
    return NULL;
}

static void key_of(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static int fk_start(fake_t *f, uint8_t tag)
{
    key_of(tag, &f->ca);
    key_of((uint8_t)(tag + 1), &f->srv);
    kumo_buf_init(&f->manifest, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    kumo_buf_init(&f->root_pem, KUMO_TLS_PEM_BYTES_MAX);
    if (spread.cap_max == 0) {
        kumo_buf_init(&spread, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    }
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    if (kumo_tls_ca_create(&f->ca, "test dc root", 30, &f->root_pem, NULL) != 0 ||
        kumo_tls_cert_issue(&f->ca, kumo_buf_bytes(&f->root_pem), f->srv.pubkey, "127.0.0.1", 30,
                            &chain, NULL) != 0 ||
        kumo_buf_append(&chain, f->root_pem.ptr, f->root_pem.len) != 0) {
        return -1;
    }
    f->base = event_base_new();
    kumo_provider_api_backend_t be = {.ctx = f,
                                      .deployment_view = fk_view,
                                      .manifest_accept = fk_accept,
                                      .status = fk_status,
                                      .logs = fk_logs,
                                      .log_lines = fk_log_lines,
                                      .info = fk_info,
                                      .chunk_info = fk_chunk_info,
                                      .grants = fk_grants};
    kumo_provider_api_cfg_t cfg = {
        .listen = "127.0.0.1:0", .server_cert_pem = kumo_buf_bytes(&chain), .server_key = &f->srv};
    kumo_err_ctx_t err = {0};
    int rc = kumo_provider_api_open(&cfg, f->base, &be, &f->api, &err);
    kumo_buf_free(&chain);
    if (rc != 0) {
        fprintf(stderr, "provider api: %s\n", err.detail);
        return -1;
    }
    return pthread_create(&f->thread, NULL, fk_loop, f) == 0 ? 0 : -1;
}

static void fk_stop(fake_t *f)
{
    if (f->base == NULL) {
        return;
    }
    f->stop = 1;
    (void)pthread_join(f->thread, NULL);
    kumo_provider_api_close(f->api);
    event_base_free(f->base);
    f->base = NULL;
    kumo_buf_free(&f->manifest);
    kumo_buf_free(&f->root_pem);
}

/* ---- the test's provider duties: bidding and confirming releases ---- */

static bool bid_seen(const char *id)
{
    for (size_t i = 0; i < g.bid_count; i++) {
        if (strcmp(g.bid_done[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void bids_place(void)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/orders?owner=%s&state=ORDER_OPEN", g.tenant);
    json_t *j = node_get(path);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(j, "items"), i, o)
    {
        const json_t *id = json_object_get(o, "id");
        char text[KUMO_ID_TEXT_BYTES];
        (void)snprintf(text, sizeof(text), "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
                       json_str(id, "owner"), json_u64(id, "dseq"), json_u64(id, "gseq"),
                       json_u64(id, "oseq"));
        const char *who = strcmp(json_str(o, "region"), "us-east") == 0 ? "east" : "west";
        if (bid_seen(text) || g.bid_count >= 64) {
            continue;
        }
        (void)snprintf(g.bid_done[g.bid_count++], KUMO_ID_TEXT_BYTES, "%s", text);
        run_ok("tx fulfillment create --from %s %s --price 80 --wait --home %s", who, text,
               g.cli_home);
    }
    json_decref(j);
}

static void releases_confirm(void)
{
    for (size_t k = 0; k < 2; k++) {
        char path[256];
        (void)snprintf(path, sizeof(path), "/leases?provider=%s&state=LEASE_CLOSING",
                       g.fakes[k].addr);
        json_t *j = node_get(path);
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(j, "items"), i, l)
        {
            const json_t *o = json_object_get(json_object_get(l, "id"), "order");
            run_ok("tx lease confirm --from %s %s/%" PRIu64 "/%" PRIu64 "/%" PRIu64
                   " --released --wait --home %s",
                   g.fakes[k].key, json_str(o, "owner"), json_u64(o, "dseq"), json_u64(o, "gseq"),
                   json_u64(o, "oseq"), g.cli_home);
        }
        json_decref(j);
    }
}

/* Runs `kumo <args>` while playing the providers; returns its exit code. */
static int run_with_providers(bool bid, const char *fmt, ...) KUMO_PRINTF(2, 3);
static int run_with_providers(bool bid, const char *fmt, ...)
{
    char out_path[1200];
    char err_path[1200];
    (void)snprintf(out_path, sizeof(out_path), "%s.bg", g.out_path);
    (void)snprintf(err_path, sizeof(err_path), "%s.bg", g.err_path);
    va_list ap;
    va_start(ap, fmt);
    pid_t pid = spawn_to(out_path, err_path, fmt, ap);
    va_end(ap);
    uint64_t deadline = now_ms() + 120000u;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (now_ms() > deadline) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            file_print(out_path, "stdout");
            file_print(err_path, "stderr");
            fail_msg("kumo %s did not end in 120 s", fmt);
        }
        if (bid) {
            bids_place();
        }
        releases_confirm();
        poll_pause();
    }
    assert_int_equal(rename(out_path, g.out_path), 0);
    file_load(err_path, g.err_text, sizeof(g.err_text));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- fixture ---- */

static bool node_port_read(void)
{
    FILE *f = fopen(g.node_log, "r");
    if (f == NULL) {
        return false;
    }
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "event=node_started");
        const char *rpc = p != NULL ? strstr(p, " rpc=") : NULL;
        if (rpc != NULL) {
            (void)snprintf(g.node_url, sizeof(g.node_url), "http://%.*s",
                           (int)strcspn(rpc + 5, " \n"), rpc + 5);
            found = true;
        }
    }
    (void)fclose(f);
    return found;
}

static int node_start(void)
{
    g.node_pid = fork();
    if (g.node_pid < 0) {
        return -1;
    }
    if (g.node_pid == 0) {
        int log = open(g.node_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (log < 0 || in < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
            _exit(127);
        }
        execl(g.kumo, g.kumo, "node", "start", "--home", g.node_home, "--rpc-listen", "127.0.0.1:0",
              "--block-interval-ms", T_BLOCK_MS, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = now_ms() + 20000;
    while (!node_port_read()) {
        int status = 0;
        if (waitpid(g.node_pid, &status, WNOHANG) == g.node_pid || now_ms() > deadline) {
            file_print(g.node_log, "node log");
            g.node_pid = 0;
            return -1;
        }
        poll_pause();
    }
    (void)setenv("KUMO_NODE", g.node_url, 1);
    json_t *st = NULL;
    while ((st = node_get("/status")) == NULL && now_ms() < deadline) {
        poll_pause();
    }
    json_decref(st);
    return st != NULL ? 0 : -1;
}

static void node_stop(void)
{
    if (g.node_pid <= 0) {
        return;
    }
    (void)kill(g.node_pid, SIGTERM);
    uint64_t deadline = now_ms() + 10000;
    int status = 0;
    while (waitpid(g.node_pid, &status, WNOHANG) != g.node_pid) {
        if (now_ms() > deadline) {
            (void)kill(g.node_pid, SIGKILL);
            (void)waitpid(g.node_pid, &status, 0);
            break;
        }
        poll_pause();
    }
    g.node_pid = 0;
}

static int address_of(const char *name, char *out, size_t cap)
{
    if (run("keys show %s --address --home %s", name, g.cli_home) != 0) {
        return -1;
    }
    file_load(g.out_path, out, cap);
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

/* The test's providers confirm no leases: a reconfirmation period far beyond the test keeps
 * them from going stale however slowly it runs (ASan). */
static int genesis_params_set(void)
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/genesis.json", g.node_home);
    json_t *gen = json_load_file(path, 0, NULL);
    json_t *params = json_object_get(gen, "params");
    int rc = params != NULL && json_object_set_new(params, "reconfirmation_period",
                                                   json_string("100000")) == 0
                 ? json_dump_file(gen, path, JSON_INDENT(2))
                 : -1;
    json_decref(gen);
    return rc;
}

static int keys_and_genesis(void)
{
    static const char *const names[] = {"tenant", "east", "west", "ops"};
    char *addrs[] = {g.tenant, g.fakes[0].addr, g.fakes[1].addr, g.ops};
    for (size_t i = 0; i < 4; i++) {
        if (run("keys add %s --home %s", names[i], g.cli_home) != 0 ||
            address_of(names[i], addrs[i], KUMO_ADDRESS_TEXT_BYTES) != 0) {
            fprintf(stderr, "keys add %s: %s\n", names[i], g.err_text);
            return -1;
        }
    }
    if (run("init --home %s --chain-id kumo-deploy", g.node_home) != 0) {
        fprintf(stderr, "kumo init: %s\n", g.err_text);
        return -1;
    }
    for (size_t i = 0; i < 4; i++) {
        if (run("genesis add-account --home %s %s %llu", g.node_home, addrs[i],
                (unsigned long long)T_BALANCE_UKUMO) != 0) {
            fprintf(stderr, "genesis add-account: %s\n", g.err_text);
            return -1;
        }
    }
    return genesis_params_set();
}

static void text_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Registers each fake provider on chain with its root certificate and API address. */
static int providers_register(void)
{
    for (size_t k = 0; k < 2; k++) {
        fake_t *f = &g.fakes[k];
        char cert[1200];
        (void)snprintf(cert, sizeof(cert), "%s/%s-root.pem", g.dir, f->key);
        FILE *fp = fopen(cert, "w");
        if (fp == NULL || fwrite(f->root_pem.ptr, 1, f->root_pem.len, fp) != f->root_pem.len) {
            return -1;
        }
        (void)fclose(fp);
        if (run("tx provider create --from %s --host-uri https://%s --region %s --cert-file %s "
                "--wait --home %s",
                f->key, kumo_provider_api_listen_addr(f->api), f->region, cert, g.cli_home) != 0) {
            fprintf(stderr, "provider create: %s\n", g.err_text);
            return -1;
        }
    }
    return 0;
}

static const char t_stack[] = "version: \"1\"\n"
                              "groups:\n"
                              "  web:\n"
                              "    region: us-east\n"
                              "    resources:\n"
                              "      - cpu: 500m\n"
                              "        memory: 512Mi\n"
                              "        count: 2\n"
                              "        price: 100\n"
                              "        collateral: 1000\n"
                              "  db:\n"
                              "    region: us-west\n"
                              "    resources:\n"
                              "      - cpu: 1\n"
                              "        memory: 1Gi\n"
                              "        count: 1\n"
                              "        price: 200\n"
                              "        collateral: 2000\n"
                              "workloads:\n"
                              "  web:\n"
                              "    image: localhost/kumo-webapp-web:1\n"
                              "    env:\n"
                              "      COUNTER_HOST: db\n"
                              "    compute:\n"
                              "      cpu: 500m\n"
                              "      memory: 512Mi\n"
                              "    count: 2\n"
                              "    group: web\n"
                              "    ports:\n"
                              "      - port: 8080\n"
                              "        expose:\n"
                              "          - global: true\n"
                              "  db:\n"
                              "    image: localhost/kumo-webapp-counter:1\n"
                              "    compute:\n"
                              "      cpu: 1\n"
                              "      memory: 1Gi\n"
                              "    group: db\n"
                              "    ports:\n"
                              "      - port: 7000\n"
                              "        expose:\n"
                              "          - workload: web\n"
                              "wait_blocks: 2\n"
                              "deposit: 5000000\n";

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    const char *bin = getenv("KUMO_BIN");
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", bin != NULL && bin[0] != '\0' ? bin : "./kumo");
    if (access(g.kumo, X_OK) != 0) {
        g.skip = true;
        fprintf(stderr, "test_deploy: SKIP: no kumo binary\n");
        return 0;
    }
    char abs[PATH_MAX];
    assert_non_null(realpath(g.kumo, abs));
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", abs);
    g.dir = kumo_test_tmpdir_make("kumo-deploy");
    assert_non_null(g.dir);
    (void)snprintf(g.cli_home, sizeof(g.cli_home), "%s/cli", g.dir);
    (void)snprintf(g.node_home, sizeof(g.node_home), "%s/node", g.dir);
    (void)snprintf(g.node_log, sizeof(g.node_log), "%s/node.log", g.dir);
    (void)snprintf(g.err_path, sizeof(g.err_path), "%s/stderr.txt", g.dir);
    (void)snprintf(g.out_path, sizeof(g.out_path), "%s/stdout.txt", g.dir);
    (void)snprintf(g.stack, sizeof(g.stack), "%s/stack.yml", g.dir);
    text_write(g.stack, t_stack);
    g.fakes[0] = (fake_t){.key = "east", .region = "us-east", .group = "web"};
    g.fakes[1] = (fake_t){.key = "west", .region = "us-west", .group = "db"};
    if (pd_grant_cache_new(&g.grants, NULL) < 0 || keys_and_genesis() < 0 || node_start() < 0 ||
        fk_start(&g.fakes[0], 10) < 0 || fk_start(&g.fakes[1], 20) < 0 ||
        providers_register() < 0) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fk_stop(&g.fakes[0]);
    fk_stop(&g.fakes[1]);
    node_stop();
    pd_grant_cache_free(g.grants);
    g.grants = NULL;
    if (g.dir != NULL) {
        kumo_test_tmpdir_remove(g.dir);
        g.dir = NULL;
    }
    return 0;
}

#define SKIP_IF_NEEDED() \
    do {                 \
        if (g.skip) {    \
            skip();      \
        }                \
    } while (0)

/* ---- tests ---- */

/* The stack with the first occurrence of find replaced (find == NULL: text as is). */
static void stack_variant_write(const char *path, const char *find, const char *replace)
{
    char text[sizeof(t_stack) + 2048];
    const char *at = find != NULL ? strstr(t_stack, find) : NULL;
    assert_true(find == NULL || at != NULL);
    if (at == NULL) {
        (void)snprintf(text, sizeof(text), "%s", t_stack);
    } else {
        (void)snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - t_stack), t_stack, replace,
                       at + strlen(find));
    }
    text_write(path, text);
}

static void test_stack_errors_submit_nothing(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char long_image[700];
    (void)snprintf(long_image, sizeof(long_image), "    image: %0600d\n", 7);
    const struct {
        const char *name;
        const char *find;
        const char *replace;
        const char *want;
    } rows[] = {
        {"yaml syntax", "version: \"1\"", "version: \"1", "bad.yml:"},
        {"unknown key", "    image: localhost/kumo-webapp-counter:1\n",
         "    image: localhost/kumo-webapp-counter:1\n    imagee: x\n",
         "workloads.db: unknown key \"imagee\""},
        {"wrong type", "    count: 2\n    group: web", "    count: [2]\n    group: web",
         "workloads.web.count"},
        {"bad size", "        memory: 1Gi\n", "        memory: 12XB\n",
         "groups.db.resources[0].memory: \"12XB\" is not a size"},
        {"missing field", "    region: us-west\n", "", "groups.db.region: required but missing"},
        {"duplicate key", "    image: localhost/kumo-webapp-counter:1\n",
         "    image: localhost/kumo-webapp-counter:1\n    image: x:2\n", "given twice"},
        {"unknown group", "    group: db\n", "    group: dbx\n", "dbx"},
        {"unknown workload in a rule", "          - workload: web\n",
         "          - workload: nobody\n", "nobody"},
        {"zero count", "    count: 2\n    group: web", "    count: 0\n    group: web",
         "workloads.web.count"},
        {"deposit past 64 bits", "deposit: 5000000", "deposit: 18446744073709551616",
         "deposit: \"18446744073709551616\" does not fit in 64 bits"},
        {"image too long", "    image: localhost/kumo-webapp-web:1\n", long_image,
         "workloads.web.image"},
    };
    char bad[1200];
    (void)snprintf(bad, sizeof(bad), "%s/bad.yml", g.dir);
    uint64_t seq = account_u64(g.tenant, "sequence");
    char deps[256];
    (void)snprintf(deps, sizeof(deps), "/deployments?owner=%s", g.tenant);
    size_t dep_count = list_count(deps);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        stack_variant_write(bad, rows[i].find, rows[i].replace);
        int rc = run("deploy create %s --from tenant --home %s", bad, g.cli_home);
        if (rc != 1 || strstr(g.err_text, rows[i].want) == NULL ||
            strstr(g.err_text, "bad.yml:") == NULL) {
            fail_msg("%s: exit %d, stderr: %s", rows[i].name, rc, g.err_text);
        }
        /* file:line: every detail names the line. */
        const char *at = strstr(g.err_text, "bad.yml:");
        assert_true(at[8] >= '0' && at[8] <= '9');
    }
    /* No file, and no --from (a usage error, before the node is asked anything). */
    assert_int_equal(run("deploy create %s/missing.yml --from tenant --home %s", g.dir, g.cli_home),
                     1);
    assert_non_null(strstr(g.err_text, "missing.yml"));
    assert_int_equal(run("deploy create %s --home %s", g.stack, g.cli_home), 2);
    assert_non_null(strstr(g.err_text, "--from"));
    assert_int_equal(account_u64(g.tenant, "sequence"), seq);
    assert_int_equal(list_count(deps), dep_count);
}

/* Nobody bids: create gives up at its deadline with a clear message. */
static void test_create_times_out_without_bids(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char stack[1200];
    (void)snprintf(stack, sizeof(stack), "%s/lonely.yml", g.dir);
    stack_variant_write(stack, NULL, NULL);
    int rc = run_with_providers(false, "deploy create %s --from tenant --timeout 3 --home %s",
                                stack, g.cli_home);
    assert_int_equal(rc, 1);
    if (strstr(g.err_text, "timed out") == NULL || strstr(g.err_text, "leases") == NULL) {
        fail_msg("stderr: %s", g.err_text);
    }
    /* The deployment was made and remembered: close it so it does not hold the escrow. */
    run_ok("deploy close %s --home %s", stack, g.cli_home);
}

/* A provider that refuses the manifest (its view has another version): create fails and
 * names the provider and the refusal. */
static void test_create_manifest_refused(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char stack[1200];
    (void)snprintf(stack, sizeof(stack), "%s/refused.yml", g.dir);
    stack_variant_write(stack, "COUNTER_HOST: db", "COUNTER_HOST: db2");
    g.fakes[1].wrong_version = 1;
    int rc = run_with_providers(true, "deploy create %s --from tenant --timeout 60 --home %s",
                                stack, g.cli_home);
    g.fakes[1].wrong_version = 0;
    assert_int_equal(rc, 1);
    if (strstr(g.err_text, "HTTP 409") == NULL || strstr(g.err_text, g.fakes[1].addr) == NULL) {
        fail_msg("stderr: %s", g.err_text);
    }
    assert_int_equal(run_with_providers(false, "deploy close %s --home %s", stack, g.cli_home), 0);
}

static json_t *stdout_json(void)
{
    char *text = malloc(1u << 20);
    assert_non_null(text);
    file_load(g.out_path, text, 1u << 20);
    json_t *j = json_loads(text, 0, NULL);
    if (j == NULL) {
        fail_msg("stdout is not JSON: %s", text);
    }
    free(text);
    return j;
}

static void cli_json_dump_stages(const json_t *stages)
{
    char *text = json_dumps(stages, JSON_COMPACT);
    fprintf(stderr, "stages: %s\n", text != NULL ? text : "?");
    free(text);
}

static void create_check(void)
{
    int accepts0 = g.fakes[0].accepts;
    int accepts1 = g.fakes[1].accepts;
    int rc = run_with_providers(true, "deploy create %s --from tenant --output json --home %s",
                                g.stack, g.cli_home);
    if (rc != 0) {
        file_print(g.out_path, "stdout");
        fail_msg("deploy create: exit %d: %s", rc, g.err_text);
    }
    json_t *j = stdout_json();
    /* The progress a person sees, and the stage timings (for the record, never asserted). */
    fprintf(stderr, "%s", g.err_text);
    cli_json_dump_stages(json_object_get(j, "stages"));
    assert_true(json_u64(j, "dseq") > 0);
    assert_int_equal(json_array_size(json_object_get(j, "leases")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "endpoints")), 2);
    const json_t *spread_j = json_object_get(j, "manifest_delivery");
    assert_int_equal(json_array_size(spread_j), 2);
    bool uploaded = false;
    bool from_peers = false;
    for (size_t i = 0; i < 2; i++) {
        const char *via = json_str(json_array_get(spread_j, i), "via");
        uploaded = uploaded || strcmp(via, "upload") == 0;
        from_peers = from_peers || strcmp(via, "peers") == 0;
    }
    assert_true(uploaded && from_peers);
    const json_t *stages = json_object_get(j, "stages");
    static const char *const names[] = {"wait_blocks", "lease", "manifest", "containers"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(json_object_get(stages, names[i]));
    }
    assert_true(json_u64(json_object_get(stages, "wait_blocks"), "blocks") >= 2);
    json_decref(j);
    static const char *const lines[] = {
        "order web/1 open", "order db/1 open",      "bid from",        "lease web → ",
        "lease db → ",      "manifest accepted by", "web 2/2 running", "db 1/1 running"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (strstr(g.err_text, lines[i]) == NULL) {
            fail_msg("no '%s' in the progress:\n%s", lines[i], g.err_text);
        }
    }
    /* One upload; the other provider got the manifest from its peer. */
    assert_int_equal(g.fakes[0].accepts + g.fakes[1].accepts, accepts0 + accepts1 + 1);
    if (strstr(g.err_text, "chunks, held") == NULL) {
        fail_msg("no spread progress in:\n%s", g.err_text);
    }
    /* No links: the providers tunnel between the groups themselves. */
    assert_null(strstr(g.err_text, "links sent to"));
}

static void state_file_check(bool present)
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/.kumo-deploy-stack.yml.json", g.dir);
    struct stat st;
    if (!present) {
        assert_int_not_equal(stat(path, &st), 0);
        return;
    }
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* The group of the deployment named name on chain: its state ("" when there is none). */
static void group_state(const char *name, char *state, size_t cap)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/groups?owner=%s", g.tenant);
    json_t *j = node_get(path);
    assert_non_null(j);
    state[0] = '\0';
    size_t i;
    json_t *grp;
    json_array_foreach(json_object_get(j, "items"), i, grp)
    {
        if (strcmp(json_str(json_object_get(grp, "spec"), "name"), name) == 0) {
            (void)snprintf(state, cap, "%s", json_str(grp, "state"));
        }
    }
    json_decref(j);
}

/* An update adds a group (web-b in us-east: a new order, a lease, its workload runs), another
 * removes it (its lease ends, the group is closed), and a third that lists it again is
 * refused before anything is sent (a removed group's name cannot come back). */
static void groups_add_remove_check(const char *base)
{
    static const char group_b[] = "  web-b:\n"
                                  "    region: us-east\n"
                                  "    resources:\n"
                                  "      - {cpu: 250m, memory: 256Mi, count: 1, price: 100}\n"
                                  "workloads:\n";
    static const char workload_b[] = "  web-b:\n"
                                     "    image: localhost/kumo-webapp-web:1\n"
                                     "    compute: {cpu: 250m, memory: 256Mi}\n"
                                     "    group: web-b\n"
                                     "wait_blocks:";
    const char *wl = strstr(base, "workloads:\n");
    const char *wb = strstr(base, "wait_blocks:");
    assert_true(wl != NULL && wb != NULL && wl < wb);
    char added[4096];
    int n = snprintf(added, sizeof(added), "%.*s%s%.*s%s%s", (int)(wl - base), base, group_b,
                     (int)(wb - wl - 11), wl + 11, workload_b, wb + 12);
    assert_true(n > 0 && (size_t)n < sizeof(added));
    text_write(g.stack, added);
    int rc = run_with_providers(true, "deploy update %s --home %s", g.stack, g.cli_home);
    char text[16384];
    file_load(g.out_path, text, sizeof(text));
    if (rc != 0 || strstr(text, "group web-b added") == NULL ||
        strstr(text, "web-b 1/1 running") == NULL || strstr(text, "lease web-b → ") == NULL ||
        strstr(text, "(tx ") == NULL) {
        fail_msg("deploy update (a group added): exit %d: %s\nstdout: %s", rc, g.err_text, text);
    }
    char state[64];
    group_state("web-b", state, sizeof(state));
    assert_string_equal(state, "GROUP_ACTIVE");
    /* The group left out is removed: its lease is released (the test confirms it). */
    text_write(g.stack, base);
    rc = run_with_providers(false, "deploy update %s --home %s", g.stack, g.cli_home);
    file_load(g.out_path, text, sizeof(text));
    if (rc != 0 || strstr(text, "with new groups or group sizes") == NULL ||
        strstr(text, "web 3/3 running") == NULL) {
        fail_msg("deploy update (a group removed): exit %d: %s\nstdout: %s", rc, g.err_text, text);
    }
    group_state("web-b", state, sizeof(state));
    assert_string_equal(state, "GROUP_CLOSED");
    run_ok("deploy status %s --home %s", g.stack, g.cli_home);
    file_load(g.out_path, text, sizeof(text));
    assert_non_null(strstr(text, "group web-b (gseq 2)  GROUP_CLOSED"));
    /* Listed again: refused, nothing sent. */
    uint64_t seq = account_u64(g.tenant, "sequence");
    text_write(g.stack, added);
    assert_int_equal(run("deploy update %s --home %s", g.stack, g.cli_home), 1);
    assert_non_null(strstr(g.err_text, "group web-b was removed from deployment"));
    assert_int_equal(account_u64(g.tenant, "sequence"), seq);
    text_write(g.stack, base);
}

static void test_create_status_logs_update_close(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    create_check();
    state_file_check(true);
    /* Text output names the endpoint. */
    run_ok("deploy status %s --output json --home %s", g.stack, g.cli_home);
    json_t *st = stdout_json();
    assert_int_equal(json_object_size(json_object_get(st, "providers")), 2);
    assert_int_equal(json_array_size(json_object_get(st, "leases")), 2);
    json_decref(st);
    run_ok("deploy status %s --home %s", g.stack, g.cli_home);
    char text[16384];
    file_load(g.out_path, text, sizeof(text));
    assert_non_null(strstr(text, "endpoint web:8080 → http://127.0.0.1:32080"));
    run_ok("deploy logs %s web --limit 7 --home %s", g.stack, g.cli_home);
    file_load(g.out_path, text, sizeof(text));
    assert_non_null(strstr(text, "web/0 log of web (tail 7)"));
    assert_int_equal(run("deploy logs %s nothing --home %s", g.stack, g.cli_home), 1);
    assert_non_null(strstr(g.err_text, "no workload 'nothing'"));
    /* A new version (a changed env): uploaded once, as for a create; the other provider gets
     * it from its peer. */
    stack_variant_write(g.stack, "COUNTER_HOST: db", "COUNTER_HOST: db.internal");
    int a0 = g.fakes[0].accepts;
    int a1 = g.fakes[1].accepts;
    int rc = run_with_providers(false, "deploy update %s --home %s", g.stack, g.cli_home);
    if (rc != 0) {
        file_print(g.out_path, "stdout");
        fail_msg("deploy update: exit %d: %s", rc, g.err_text);
    }
    assert_int_equal(g.fakes[0].accepts + g.fakes[1].accepts, a0 + a1 + 1);
    file_load(g.out_path, text, sizeof(text));
    assert_non_null(strstr(text, " updated to version "));
    /* web grows to 3 instances: its group is re-ordered, leased again (the old lease ends),
     * and the manifest reaches the new lease's provider (one upload, as always). */
    char grown[sizeof(t_stack) + 64];
    const char *res = strstr(t_stack, "        count: 2\n");
    const char *wl = strstr(t_stack, "    count: 2\n    group: web");
    assert_true(res != NULL && wl != NULL && res < wl);
    (void)snprintf(grown, sizeof(grown), "%.*s        count: 3\n%.*s    count: 3\n%s",
                   (int)(res - t_stack), t_stack, (int)(wl - res - 17), res + 17, wl + 13);
    text_write(g.stack, grown);
    a0 = g.fakes[0].accepts;
    a1 = g.fakes[1].accepts;
    rc = run_with_providers(true, "deploy update %s --home %s", g.stack, g.cli_home);
    file_load(g.out_path, text, sizeof(text));
    if (rc != 0 || strstr(text, "changed size") == NULL ||
        strstr(text, "web 3/3 running") == NULL ||
        strstr(text, "with new groups or group sizes") == NULL) {
        fail_msg("deploy update (sizes): exit %d: %s\nstdout: %s", rc, g.err_text, text);
    }
    assert_int_equal(g.fakes[0].accepts + g.fakes[1].accepts, a0 + a1 + 1); /* one upload */
    groups_add_remove_check(grown);
    /* Close: the test confirms both releases; the escrow comes back. */
    uint64_t before = account_u64(g.tenant, "balance");
    rc = run_with_providers(false, "deploy close %s --home %s", g.stack, g.cli_home);
    if (rc != 0) {
        fail_msg("deploy close: exit %d: %s", rc, g.err_text);
    }
    file_load(g.out_path, text, sizeof(text));
    const char *ret = strstr(text, "escrow returned: ");
    assert_non_null(ret);
    uint64_t refund = strtoull(ret + strlen("escrow returned: "), NULL, 10);
    assert_true(refund > 0);
    json_t *params = node_get("/params");
    uint64_t fee = json_u64(params, "min_fee");
    json_decref(params);
    assert_int_equal(account_u64(g.tenant, "balance"), before + refund - fee);
    assert_non_null(strstr(text, "closed"));
    state_file_check(false);
    stack_variant_write(g.stack, NULL, NULL);
}

/* The stack with web's units and instances at n (both count: 2 lines). */
static void stack_web_count_write(unsigned n)
{
    char text[sizeof(t_stack) + 64];
    const char *res = strstr(t_stack, "        count: 2\n");
    const char *wl = strstr(t_stack, "    count: 2\n    group: web");
    assert_true(res != NULL && wl != NULL && res < wl);
    (void)snprintf(text, sizeof(text), "%.*s        count: %u\n%.*s    count: %u\n%s",
                   (int)(res - t_stack), t_stack, n, (int)(wl - res - 17), res + 17, n, wl + 13);
    text_write(g.stack, text);
}

/* web's unit count on chain. */
static uint64_t web_units(uint64_t dseq)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/groups?owner=%s&dseq=%" PRIu64, g.tenant, dseq);
    json_t *j = node_get(path);
    uint64_t n = 0;
    size_t i;
    json_t *gr;
    json_array_foreach(json_object_get(j, "items"), i, gr)
    {
        const json_t *spec = json_object_get(gr, "spec");
        if (strcmp(json_str(spec, "name"), "web") == 0) {
            n = json_u64(json_array_get(json_object_get(spec, "resources"), 0), "count");
        }
    }
    json_decref(j);
    return n;
}

/* The tenant's grantee ops runs `kumo deploy ... --granter tenant` with its own key: an update
 * within the grant's max_count lands (its msg in a MsgExec, the new manifest uploaded with
 * ops's certificate, which the providers honour under the grant) and runs; one beyond it is
 * refused by the chain with KUMO_EGRANTCOUNT and the grant's hint, and nothing changes. */
static void test_update_by_grantee(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    stack_variant_write(g.stack, NULL, NULL);
    create_check();
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/.kumo-deploy-stack.yml.json", g.dir);
    json_t *rec = json_load_file(path, 0, NULL);
    uint64_t dseq = json_u64(rec, "dseq");
    json_decref(rec);
    assert_true(dseq > 0);
    /* Before any grant: the chain refuses the exec, the providers refuse ops's reads. */
    assert_int_equal(run("deploy status %s --granter %s --from ops --home %s --output json",
                         g.stack, g.tenant, g.cli_home),
                     0);
    json_t *st = stdout_json();
    json_t *pv = json_object_get(st, "providers");
    const char *k;
    json_t *v;
    json_object_foreach(pv, k, v)
    {
        assert_non_null(json_object_get(v, "error"));
    }
    json_decref(st);
    run_ok("tx grant create --from tenant ops %" PRIu64
           " msgs=update expiry=100000000 max_count=3 --wait --home %s",
           dseq, g.cli_home);
    stack_web_count_write(3);
    int a0 = g.fakes[0].accepts + g.fakes[1].accepts;
    int rc = run_with_providers(true, "deploy update %s --granter %s --from ops --home %s", g.stack,
                                g.tenant, g.cli_home);
    char text[16384];
    file_load(g.out_path, text, sizeof(text));
    if (rc != 0 || strstr(text, "web 3/3 running") == NULL) {
        fail_msg("deploy update --granter: exit %d: %s\nstdout: %s", rc, g.err_text, text);
    }
    assert_int_equal(g.fakes[0].accepts + g.fakes[1].accepts, a0 + 1); /* one upload */
    assert_int_equal(web_units(dseq), 3);
    /* The grantee reads the deployment at the providers under its grant. */
    run_ok("deploy status %s --granter %s --from ops --home %s --output json", g.stack, g.tenant,
           g.cli_home);
    st = stdout_json();
    pv = json_object_get(st, "providers");
    assert_int_equal(json_object_size(pv), 2);
    json_object_foreach(pv, k, v)
    {
        assert_null(json_object_get(v, "error"));
    }
    json_decref(st);
    /* Beyond max_count: refused with its code and hint; the chain keeps 3, no upload. */
    stack_web_count_write(4);
    a0 = g.fakes[0].accepts;
    int a1 = g.fakes[1].accepts;
    rc = run("deploy update %s --granter %s --from ops --home %s", g.stack, g.tenant, g.cli_home);
    if (rc != 1 || strstr(g.err_text, "KUMO_EGRANTCOUNT") == NULL ||
        strstr(g.err_text, "limit of the grant") == NULL) {
        fail_msg("deploy update beyond the grant: exit %d: %s", rc, g.err_text);
    }
    assert_int_equal(web_units(dseq), 3);
    assert_int_equal(g.fakes[0].accepts, a0);
    assert_int_equal(g.fakes[1].accepts, a1);
    /* --granter with the owner's own key, and a shell, are usage errors. */
    assert_int_equal(
        run("deploy update %s --granter tenant --from tenant --home %s", g.stack, g.cli_home), 2);
    assert_int_equal(
        run("deploy shell %s web --granter tenant --from ops --home %s", g.stack, g.cli_home), 2);
    stack_variant_write(g.stack, NULL, NULL);
    rc = run_with_providers(false, "deploy close %s --home %s", g.stack, g.cli_home);
    if (rc != 0) {
        fail_msg("deploy close: exit %d: %s", rc, g.err_text);
    }
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_errors_submit_nothing),
        cmocka_unit_test(test_create_times_out_without_bids),
        cmocka_unit_test(test_create_manifest_refused),
        cmocka_unit_test(test_create_status_logs_update_close),
        cmocka_unit_test(test_update_by_grantee),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
