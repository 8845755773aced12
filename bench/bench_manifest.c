/*
 * bench_manifest.c - delivering a manifest of S bytes to N providers: chunked delivery
 * between the providers against the tenant uploading to each one in turn, in the same run.
 *
 * Real processes over real TLS 1.3 sockets, with the daemon's own serve and fetch components
 * (the provider API's chunk routes over the chunk store, and the chunk fetcher with its
 * proofs, pd_chunks_fetch_whole) but no chain: a tenant process T holds the manifest and
 * serves its chunks, N provider processes each serve what they hold (also while fetching).
 *   spread:   provider 0 fetches from T alone (the one upload); then providers 1..N-1 fetch
 *             from all other providers at once (each serving what it holds), retrying every
 *             5 ms while they lack chunks.
 *   one by one: each provider in turn fetches everything from T alone.
 * Reported per (N, S): the bytes T sent in each mode (target: spread <= 1.25 x S), the time
 * until every provider holds the whole (root checked) in each mode and their ratio (target
 * >= 4 at N=16, S=64 MiB). The chain's own cadence (leases, the daemons' passes every 2
 * blocks) is not included.
 *
 * Shaped links (third argument R > 0, Mbit/s): on one machine's loopback the one-by-one
 * upload is bounded by CPU, not by the tenant's uplink, which is what spreading saves. So the
 * tenant and every provider run in a network namespace of their own (kumo-bm-<pid>-h<k>,
 * 10.78.0.<k+1>), joined by a bridge in a switch namespace (kumo-bm-<pid>-sw), and every
 * host's uplink is shaped to R Mbit/s (tc tbf on its veth; what a host receives is bounded by
 * what the others send, as with uplinks slower than downlinks). Both modes run over the same
 * links; the rate is printed
 * (manifest_link_rate_mbit) and the ratios are also printed as
 * manifest_spread_speedup_n<N>_s<size>. Needs root, iproute2 and tc; the namespaces are removed
 * at the end, and on SIGINT or SIGTERM.
 *
 * Usage: bench_manifest [N,N,...] [S,S,...] [R] (defaults 2,4,16 and 1024,1048576,16777216,
 * 67108864, and 0: loopback). Temp files under $TMPDIR; every child is killed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_util.h"
#include "codec/codec.h"
#include "provider/daemon_int.h"
#include "provider/provider_api.h"
#include "tls/tls.h"

#define BM_PROVIDER_MAX 16u
#define BM_SIZE_MAX     (64ull << 20)
#define BM_DSEQ         7u
#define BM_RETRY_MS     5u

/* What every process shares (made before the fork). */
typedef struct bm {
    char dir[512];
    kumo_crypto_keypair_t ca;
    kumo_buf_t root_pem;
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t size;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
} bm_t;

static bm_t bm;

/* ---- shaped links: a namespace per host, a bridge between them ---- */

#define BM_HOST_MAX (BM_PROVIDER_MAX + 1u) /* the tenant is host 0 */

static uint32_t bm_rate_mbit; /* 0: loopback, no namespaces */
static char bm_ns_prefix[64]; /* "kumo-bm-<pid>" */
static uint32_t bm_ns_hosts;  /* hosts made (h0 .. h<n-1>) */
static volatile pid_t bm_children[BM_HOST_MAX];

/* The host address of process index (host k is 10.78.0.k+1), or 127.0.0.1 on loopback. */
static void bm_host_addr(uint32_t index, char *out, size_t cap)
{
    if (bm_rate_mbit == 0) {
        (void)snprintf(out, cap, "127.0.0.1");
    } else {
        (void)snprintf(out, cap, "10.78.0.%u", index + 1u);
    }
}

static void bm_sh(const char *fmt, ...) KUMO_PRINTF(1, 2);
static void bm_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_manifest: failed: %s\n", cmd);
        exit(1);
    }
}

/* Removes the namespaces (what is in them goes with them). Async-signal-safe: fork and exec
 * only, so the signal handler can call it. */
static void bm_netns_remove(void)
{
    for (uint32_t k = 0; k <= bm_ns_hosts && bm_ns_prefix[0] != '\0'; k++) {
        char name[96];
        size_t n = strlen(bm_ns_prefix);
        memcpy(name, bm_ns_prefix, n);
        if (k == bm_ns_hosts) {
            memcpy(name + n, "-sw", 4);
        } else {
            name[n] = '-';
            name[n + 1] = 'h';
            name[n + 2] = (char)('0' + k / 10u);
            name[n + 3] = (char)('0' + k % 10u);
            name[n + 4] = '\0';
        }
        pid_t p = fork();
        if (p == 0) {
            int null = open("/dev/null", O_WRONLY);
            (void)dup2(null, 2);
            execlp("ip", "ip", "netns", "del", name, (char *)NULL);
            _exit(127);
        }
        if (p > 0) {
            (void)waitpid(p, NULL, 0);
        }
    }
    bm_ns_prefix[0] = '\0';
}

static void bm_on_signal(int sig)
{
    for (uint32_t i = 0; i < BM_HOST_MAX; i++) {
        if (bm_children[i] > 0) {
            (void)kill(bm_children[i], SIGKILL);
            (void)waitpid(bm_children[i], NULL, 0);
        }
    }
    bm_netns_remove();
    _exit(128 + sig);
}

/* The switch and hosts h0 .. h<hosts-1>, each host's uplink shaped to bm_rate_mbit. */
static void bm_netns_make(uint32_t hosts)
{
    (void)snprintf(bm_ns_prefix, sizeof(bm_ns_prefix), "kumo-bm-%ld", (long)getpid());
    bm_ns_hosts = 0;
    atexit(bm_netns_remove);
    struct sigaction sa = {0};
    sa.sa_handler = bm_on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    /* tbf: a burst of 10 ms at the rate (at least 32 KiB), packets queued up to 400 ms. */
    uint64_t burst = (uint64_t)bm_rate_mbit * 1000000u / 8u / 100u;
    burst = burst < 32768u ? 32768u : burst;
    const char *p = bm_ns_prefix;
    bm_sh("ip netns add %s-sw && ip -n %s-sw link set lo up && "
          "ip -n %s-sw link add br0 type bridge && ip -n %s-sw link set br0 up",
          p, p, p, p);
    for (uint32_t k = 0; k < hosts; k++) {
        bm_ns_hosts = k + 1u; /* removed from here on */
        bm_sh("ip netns add %s-h%02u && "
              "ip -n %s-sw link add v%u type veth peer name eth0 netns %s-h%02u && "
              "ip -n %s-sw link set v%u master br0 up && ip -n %s-h%02u link set lo up && "
              "ip -n %s-h%02u addr add 10.78.0.%u/24 dev eth0 && ip -n %s-h%02u link set eth0 up",
              p, k, p, k, p, k, p, k, p, k, p, k, k + 1u, p, k);
        bm_sh("ip netns exec %s-h%02u tc qdisc add dev eth0 root tbf rate %umbit burst %" PRIu64
              " latency 400ms",
              p, k, bm_rate_mbit, burst);
    }
}

/* Moves this (child) process into host index's namespace. */
static int bm_netns_enter(uint32_t index)
{
    char path[160];
    (void)snprintf(path, sizeof(path), "/run/netns/%s-h%02u", bm_ns_prefix, index);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 ? setns(fd, CLONE_NEWNET) : -1;
    if (fd >= 0) {
        (void)close(fd);
    }
    return rc;
}

/* One process: its daemon stand-in (home, peer certificate, penalties), its store, its API. */
typedef struct bm_proc {
    kumo_provider_daemon_t *d;
    volatile int stop;
    struct event_base *base;
    kumo_provider_api_t *api;
    pthread_t loop;
    atomic_int loop_stop;
    atomic_ullong bytes_sent;
} bm_proc_t;

static bm_proc_t me;

static uint8_t *bm_data(uint64_t size)
{
    uint8_t *p = malloc(size == 0 ? 1 : size);
    if (p == NULL) {
        abort();
    }
    for (uint64_t i = 0; i < size; i++) {
        p[i] = (uint8_t)((i * 2654435761u) >> 13);
    }
    return p;
}

/* ---- the backend: the chunk routes over this process's store ---- */

static int bm_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)err;
    memset(view, 0, sizeof(*view));
    return 0;
}

static int bm_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t manifest,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)manifest;
    return kumo_err_set(err, KUMO_ENOTFOUND, "no uploads here");
}

static int bm_store(pd_chunks_t *c, kumo_err_ctx_t *err)
{
    return pd_chunks_load(me.d->home, bm.owner, BM_DSEQ, bm.version, BM_SIZE_MAX, c, err);
}

static int bm_chunk_info(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         kumo_provider_chunk_info_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)caller;
    (void)owner;
    (void)dseq;
    pd_chunks_t c;
    KUMO_GUARD(bm_store(&c, err));
    memcpy(out->version, c.version, sizeof(out->version));
    out->total_bytes = c.total_bytes;
    out->chunk_count = c.count;
    out->chunks_held = pd_chunks_held(&c);
    out->manifest = out->chunks_held == out->chunk_count;
    return 0;
}

static int bm_chunk_get(void *ctx,
                        const uint8_t caller[KUMO_ADDRESS_BYTES],
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint32_t index,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)caller;
    (void)owner;
    (void)dseq;
    pd_chunks_t c;
    KUMO_GUARD(bm_store(&c, err));
    KUMO_ENSURE(memcmp(version, c.version, sizeof(c.version)) == 0 && pd_chunks_has(&c, index), err,
                KUMO_ENOTFOUND, "not held");
    size_t before = out->len;
    KUMO_GUARD(pd_chunks_get(&c, index, out, err));
    atomic_fetch_add(&me.bytes_sent, (unsigned long long)(out->len - before));
    return 0;
}

static void *bm_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&me.loop_stop)) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(me.base, &tv);
        (void)event_base_dispatch(me.base);
    }
    return NULL;
}

/* The process's daemon stand-in and API (a certificate from the shared root). */
static int bm_proc_open(uint32_t index, char *listen_out, size_t cap)
{
    char host[32];
    char listen[48];
    bm_host_addr(index, host, sizeof(host));
    (void)snprintf(listen, sizeof(listen), "%s:0", host);
    if (bm_rate_mbit > 0 && bm_netns_enter(index) != 0) {
        fprintf(stderr, "bench_manifest: setns into host %u: %s\n", index, strerror(errno));
        return -1;
    }
    me.d = kumo_calloc(1, sizeof(*me.d));
    if (me.d == NULL) {
        return -1;
    }
    (void)snprintf(me.d->home, sizeof(me.d->home), "%s/p%u", bm.dir, index);
    if (mkdir(me.d->home, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, (int)(0x40u + index), sizeof(seed));
    kumo_crypto_key_from_seed(seed, &me.d->key);
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(me.d->key.pubkey, raw);
    kumo_codec_address_encode(raw, me.d->addr);
    me.d->stop = &me.stop;
    me.d->height = 1;
    kumo_err_ctx_t err = {0};
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    kumo_crypto_keypair_t srv;
    memset(seed, (int)(0x80u + index), sizeof(seed));
    kumo_crypto_key_from_seed(seed, &srv);
    if (pd_peer_tls(me.d, &err) != 0 ||
        kumo_tls_cert_issue(&bm.ca, kumo_buf_bytes(&bm.root_pem), srv.pubkey, host, 1, &chain,
                            &err) != 0 ||
        kumo_buf_append(&chain, bm.root_pem.ptr, bm.root_pem.len) != 0) {
        fprintf(stderr, "bench_manifest: certificates: %s\n", err.detail);
        return -1;
    }
    me.base = event_base_new();
    kumo_provider_api_backend_t be = {.deployment_view = bm_view,
                                      .manifest_accept = bm_accept,
                                      .chunk_info = bm_chunk_info,
                                      .chunk_get = bm_chunk_get};
    /* Every process is on 127.0.0.1: lift the per-address caps a real provider keeps. */
    kumo_provider_api_cfg_t cfg = {.listen = listen,
                                   .server_cert_pem = kumo_buf_bytes(&chain),
                                   .server_key = &srv,
                                   .worker_count = 4,
                                   .connection_max = 1024,
                                   .connection_per_addr_max = 1024,
                                   .job_max = 512,
                                   .job_per_addr_max = 512};
    int rc = kumo_provider_api_open(&cfg, me.base, &be, &me.api, &err);
    kumo_buf_free(&chain);
    if (rc != 0) {
        fprintf(stderr, "bench_manifest: api: %s\n", err.detail);
        return -1;
    }
    (void)snprintf(listen_out, cap, "%s", kumo_provider_api_listen_addr(me.api));
    (void)snprintf(me.d->addr, sizeof(me.d->addr), "%.*s", (int)sizeof(me.d->addr) - 1, listen_out);
    return pthread_create(&me.loop, NULL, bm_loop, NULL);
}

/* Fetches until every chunk is held, from the providers listed (addresses "host:port"). */
static int bm_fetch(char *const *peers, uint32_t peer_count)
{
    pd_peer_target_t *t = calloc(peer_count, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < peer_count; i++) {
        /* Named by address, as each process names itself (the place it fetches from first). */
        (void)snprintf(t[i].provider, sizeof(t[i].provider), "%.*s", (int)sizeof(t[i].provider) - 1,
                       peers[i]);
        (void)snprintf(t[i].uri, sizeof(t[i].uri), "https://%s", peers[i]);
        t[i].root_pem = bm.root_pem; /* borrowed: copied by the fetch */
    }
    int rc = KUMO_ENOTFOUND;
    kumo_buf_t whole;
    kumo_buf_init(&whole, BM_SIZE_MAX);
    while (rc != 0) {
        kumo_err_ctx_t err = {0};
        rc = pd_chunks_fetch_whole(me.d, bm.owner, BM_DSEQ, bm.version, t, peer_count, BM_SIZE_MAX,
                                   &whole, &err);
        if (rc != 0 && rc != KUMO_ENOTFOUND) {
            fprintf(stderr, "bench_manifest: fetch: %s\n", err.detail);
            break;
        }
        if (rc != 0) {
            struct timespec ts = {0, (long)BM_RETRY_MS * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
    }
    rc = rc == 0 && whole.len == bm.size ? 0 : -1;
    kumo_buf_free(&whole);
    free(t);
    return rc;
}

/* ---- the processes and their orders ---- */

typedef struct bm_child {
    pid_t pid;
    FILE *to;
    FILE *from;
    char listen[64];
} bm_child_t;

/* A child: opens its API, tells its address, then runs orders: "seed" (hold the whole),
 * "fetch A B ..." (answers "done"), "sent" (answers the bytes it served), "quit". */
static void bm_child_main(uint32_t index, FILE *in, FILE *out)
{
    char listen[64];
    if (bm_proc_open(index, listen, sizeof(listen)) != 0) {
        _exit(1);
    }
    fprintf(out, "%s\n", listen);
    fflush(out);
    static char line[BM_PROVIDER_MAX * 64 + 64];
    while (fgets(line, sizeof(line), in) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "seed") == 0) {
            uint8_t *data = bm_data(bm.size);
            pd_chunks_t c;
            int rc = pd_chunks_from_manifest(me.d->home, bm.owner, BM_DSEQ,
                                             kumo_bytes_make(data, bm.size), BM_SIZE_MAX, &c, NULL);
            free(data);
            fprintf(out, "%s\n", rc == 0 ? "ok" : "failed");
        } else if (strncmp(line, "fetch ", 6) == 0) {
            char *peers[BM_PROVIDER_MAX + 1];
            uint32_t n = 0;
            char *save = NULL;
            for (char *tok = strtok_r(line + 6, " ", &save); tok != NULL && n <= BM_PROVIDER_MAX;
                 tok = strtok_r(NULL, " ", &save)) {
                peers[n++] = tok;
            }
            fprintf(out, "%s\n", bm_fetch(peers, n) == 0 ? "done" : "failed");
        } else if (strcmp(line, "sent") == 0) {
            fprintf(out, "%llu\n", (unsigned long long)atomic_load(&me.bytes_sent));
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
        fflush(out);
    }
    _exit(0);
}

static int bm_spawn(uint32_t index, bm_child_t *c)
{
    int down[2];
    int up[2];
    if (pipe(down) != 0 || pipe(up) != 0) {
        return -1;
    }
    c->pid = fork();
    if (c->pid < 0) {
        return -1;
    }
    if (c->pid > 0) {
        bm_children[index] = c->pid;
    }
    if (c->pid == 0) {
        (void)close(down[1]);
        (void)close(up[0]);
        bm_child_main(index, fdopen(down[0], "r"), fdopen(up[1], "w"));
    }
    (void)close(down[0]);
    (void)close(up[1]);
    c->to = fdopen(down[1], "w");
    c->from = fdopen(up[0], "r");
    if (c->to == NULL || c->from == NULL || fgets(c->listen, sizeof(c->listen), c->from) == NULL) {
        return -1;
    }
    c->listen[strcspn(c->listen, "\n")] = '\0';
    return 0;
}

static void bm_send(bm_child_t *c, const char *order)
{
    fprintf(c->to, "%s\n", order);
    fflush(c->to);
}

static bool bm_answer(bm_child_t *c, char *out, size_t cap)
{
    if (fgets(out, (int)cap, c->from) == NULL) {
        return false;
    }
    out[strcspn(out, "\n")] = '\0';
    return true;
}

static void bm_reap(bm_child_t *c)
{
    if (c->pid <= 0) {
        return;
    }
    bm_send(c, "quit");
    (void)fclose(c->to);
    (void)fclose(c->from);
    int st = 0;
    if (waitpid(c->pid, &st, 0) != c->pid) {
        (void)kill(c->pid, SIGKILL);
    }
    for (uint32_t i = 0; i < BM_HOST_MAX; i++) {
        bm_children[i] = bm_children[i] == c->pid ? 0 : bm_children[i];
    }
    c->pid = 0;
}

static uint64_t bm_sent(bm_child_t *c)
{
    char line[64];
    bm_send(c, "sent");
    return bm_answer(c, line, sizeof(line)) ? strtoull(line, NULL, 10) : 0;
}

/* A "fetch" order naming the providers list[0..count) except skip (UINT32_MAX: none). */
static void bm_fetch_order(char *out, size_t cap, bm_child_t *list, uint32_t count, uint32_t skip)
{
    size_t at = (size_t)snprintf(out, cap, "fetch");
    for (uint32_t i = 0; i < count && at < cap; i++) {
        if (i != skip) {
            at += (size_t)snprintf(out + at, cap - at, " %s", list[i].listen);
        }
    }
}

/* One round (spread or one by one) of N providers and the tenant: ms until all hold it, and
 * the bytes the tenant served. */
static int bm_round(uint32_t n, bool spread, uint64_t *ms, uint64_t *tenant_bytes)
{
    char cmd[600];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'/p*", bm.dir);
    if (system(cmd) != 0) {
        return -1;
    }
    bm_child_t tenant = {0};
    bm_child_t prov[BM_PROVIDER_MAX];
    memset(prov, 0, sizeof(prov));
    int rc = bm_spawn(0, &tenant);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = bm_spawn(i + 1u, &prov[i]);
    }
    char line[BM_PROVIDER_MAX * 64 + 64];
    bm_send(&tenant, "seed");
    rc = rc == 0 && bm_answer(&tenant, line, sizeof(line)) && strcmp(line, "ok") == 0 ? rc : -1;
    uint64_t t0 = bench_now_ns();
    if (rc == 0 && spread) {
        /* The one upload, then the others fetch from every other provider at once. */
        (void)snprintf(line, sizeof(line), "fetch %s", tenant.listen);
        bm_send(&prov[0], line);
        rc = bm_answer(&prov[0], line, sizeof(line)) && strcmp(line, "done") == 0 ? rc : -1;
        for (uint32_t i = 1; rc == 0 && i < n; i++) {
            bm_fetch_order(line, sizeof(line), prov, n, i);
            bm_send(&prov[i], line);
        }
        for (uint32_t i = 1; rc == 0 && i < n; i++) {
            rc = bm_answer(&prov[i], line, sizeof(line)) && strcmp(line, "done") == 0 ? rc : -1;
        }
    }
    for (uint32_t i = 0; rc == 0 && !spread && i < n; i++) {
        (void)snprintf(line, sizeof(line), "fetch %s", tenant.listen);
        bm_send(&prov[i], line);
        rc = bm_answer(&prov[i], line, sizeof(line)) && strcmp(line, "done") == 0 ? 0 : -1;
    }
    *ms = (bench_now_ns() - t0) / 1000000u;
    *tenant_bytes = rc == 0 ? bm_sent(&tenant) : 0;
    bm_reap(&tenant);
    for (uint32_t i = 0; i < n; i++) {
        bm_reap(&prov[i]);
    }
    return rc;
}

/* 1024 -> "1k", 67108864 -> "64m", else the bytes. */
static void bm_size_text(uint64_t size, char *out, size_t cap)
{
    if (size >= (1u << 20) && size % (1u << 20) == 0) {
        (void)snprintf(out, cap, "%" PRIu64 "m", size >> 20);
    } else if (size >= 1024u && size % 1024u == 0) {
        (void)snprintf(out, cap, "%" PRIu64 "k", size >> 10);
    } else {
        (void)snprintf(out, cap, "%" PRIu64, size);
    }
}

static uint32_t bm_list(const char *text, uint64_t *out, uint32_t cap)
{
    uint32_t n = 0;
    for (const char *p = text; *p != '\0' && n < cap;) {
        char *end = NULL;
        out[n++] = strtoull(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p != '\0') {
            break;
        }
    }
    return n;
}

static int bm_setup(void)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    (void)snprintf(bm.dir, sizeof(bm.dir), "%s/kumo-bench-manifest-XXXXXX", tmp);
    if (mkdtemp(bm.dir) == NULL || kumo_crypto_init() != 0) {
        return -1;
    }
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x11, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &bm.ca);
    kumo_buf_init(&bm.root_pem, KUMO_TLS_PEM_BYTES_MAX);
    memset(seed, 0x22, sizeof(seed));
    kumo_crypto_keypair_t owner;
    kumo_crypto_key_from_seed(seed, &owner);
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(owner.pubkey, raw);
    kumo_codec_address_encode(raw, bm.owner);
    return kumo_tls_ca_create(&bm.ca, "bench root", 1, &bm.root_pem, NULL);
}

int main(int argc, char **argv)
{
    uint64_t ns[8];
    uint64_t ss[8];
    uint32_t n_count = bm_list(argc > 1 ? argv[1] : "2,4,16", ns, 8);
    uint32_t s_count = bm_list(argc > 2 ? argv[2] : "1024,1048576,16777216,67108864", ss, 8);
    bm_rate_mbit = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0u;
    if (bm_setup() != 0) {
        fprintf(stderr, "bench_manifest: setup failed\n");
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    if (bm_rate_mbit > 0) {
        uint32_t hosts = 0;
        for (uint32_t a = 0; a < n_count; a++) {
            hosts = ns[a] + 1u > hosts && ns[a] <= BM_PROVIDER_MAX ? (uint32_t)ns[a] + 1u : hosts;
        }
        bm_netns_make(hosts);
        bench_result("manifest_link_rate_mbit", bm_rate_mbit, "Mbit/s");
    }
    const char *mode = bm_rate_mbit > 0 ? "manifest_shaped" : "manifest";
    int rc = 0;
    for (uint32_t a = 0; rc == 0 && a < n_count; a++) {
        for (uint32_t b = 0; rc == 0 && b < s_count; b++) {
            uint32_t n = (uint32_t)ns[a];
            bm.size = ss[b];
            if (n < 1 || n > BM_PROVIDER_MAX || bm.size > BM_SIZE_MAX) {
                fprintf(stderr, "bench_manifest: N in 1..16, S up to 64 MiB\n");
                return 2;
            }
            uint8_t *data = bm_data(bm.size);
            rc = kumo_crypto_merkle_root(kumo_bytes_make(data, bm.size), bm.version);
            free(data);
            uint64_t spread_ms = 0;
            uint64_t spread_bytes = 0;
            uint64_t each_ms = 0;
            uint64_t each_bytes = 0;
            rc = rc == 0 ? bm_round(n, true, &spread_ms, &spread_bytes) : rc;
            rc = rc == 0 ? bm_round(n, false, &each_ms, &each_bytes) : rc;
            char name[96];
            (void)snprintf(name, sizeof(name), "%s_n%u_s%" PRIu64, mode, n, bm.size);
            char key[160];
            (void)snprintf(key, sizeof(key), "%s_spread_ms", name);
            bench_result(key, spread_ms, "ms");
            (void)snprintf(key, sizeof(key), "%s_one_by_one_ms", name);
            bench_result(key, each_ms, "ms");
            (void)snprintf(key, sizeof(key), "%s_speedup", name);
            bench_ratio(key, each_ms, spread_ms > 0 ? spread_ms : 1);
            if (bm_rate_mbit > 0) {
                char size_text[32];
                bm_size_text(bm.size, size_text, sizeof(size_text));
                (void)snprintf(key, sizeof(key), "manifest_spread_speedup_n%u_s%s", n, size_text);
                bench_ratio(key, each_ms, spread_ms > 0 ? spread_ms : 1);
            }
            (void)snprintf(key, sizeof(key), "%s_tenant_sent_bytes", name);
            bench_result(key, spread_bytes, "B");
            (void)snprintf(key, sizeof(key), "%s_tenant_sent_one_by_one_bytes", name);
            bench_result(key, each_bytes, "B");
            (void)snprintf(key, sizeof(key), "%s_tenant_sent_over_size", name);
            bench_ratio(key, spread_bytes, bm.size > 0 ? bm.size : 1);
        }
    }
    char cmd[600];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bm.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_manifest: could not remove %s\n", bm.dir);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_manifest: a round failed\n");
    }
    return rc == 0 ? 0 : 1;
}
