/*
 * bench_manifest_chain.c - a small manifest reaching N providers, the chain's part included:
 * a one-validator `kumo testnet`, N real provider daemons (`kumo provider start`, each in its
 * own region) bidding on a deployment of N groups (group i in region i, so provider i wins it),
 * and the tenant (this process) uploading the manifest to provider 0 alone, as `kumo deploy`
 * does, the moment the node lists the N leases active. The other providers get it from their
 * peers (provider 0 announces it; they fetch it over mTLS and check it against the chain).
 *
 * Reported per round (a new deployment each), median and max over the rounds:
 *   after_leases_ms  from the node listing all N leases active (polled every millisecond; the
 *                    daemons learn it from their event streams at about the same moment) to
 *                    every provider holding the manifest (its stored file, polled every
 *                    millisecond): the target is 10 ms at N = 16, S = 1 KiB;
 *   upload_ms        of that, the tenant's one upload to provider 0 (TLS, its checks, fsync);
 *   spread_ms        the rest: provider 0's announcement and the N - 1 fetches.
 *
 * No podman: the daemons' runtime is a stand-in answering the Docker API on a unix socket
 * (ping, empty lists; every change refused), which is all bidding needs. The whole run is in
 * a network namespace of its own (root), so nothing a daemon does to the host's firewall or
 * ports leaves it.
 *
 * usage: bench_manifest_chain [N] [S] [rounds] [block_ms]   (default 16 1024 5 500)
 * $KUMO_BIN: the kumo binary (default: the one next to this benchmark); BENCH_KEEP=1 keeps the
 * testnet's directory (the daemons' logs, dc<i>.log).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

/* Only some of the testnet helpers are used here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bench_spam_net.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define BMC_PROVIDER_MAX 16u
#define BMC_ROUND_MAX    20u
#define BMC_UNIT         "cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"
#define BMC_WAIT_NS      (120ull * 1000000000ull)

typedef struct bmc {
    bsn_t net;
    uint32_t n;
    uint64_t size;
    kumo_crypto_keypair_t tenant;
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    char home[BMC_PROVIDER_MAX][700];
    char addr[BMC_PROVIDER_MAX][KUMO_ADDRESS_TEXT_BYTES];
    uint32_t api_port[BMC_PROVIDER_MAX];
    pid_t pid[BMC_PROVIDER_MAX];
    char socket[700];
    struct event_base *base;
    pthread_t loop;
} bmc_t;

static bmc_t g;

/* ---- the runtime stand-in: Docker API answers on a unix socket ---- */

static void bmc_rt_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *path = strstr(uri, "/v1.41") == uri ? uri + 6 : uri;
    bool get = evhttp_request_get_command(req) == EVHTTP_REQ_GET;
    const char *body = NULL;
    if (get && strcmp(path, "/_ping") == 0) {
        body = "OK";
    } else if (get && (strncmp(path, "/containers/json", 16) == 0 ||
                       strncmp(path, "/networks?", 10) == 0 || strcmp(path, "/networks") == 0)) {
        body = "[]";
    } else if (get && (strncmp(path, "/volumes?", 9) == 0 || strcmp(path, "/volumes") == 0)) {
        body = "{\"Volumes\":[],\"Warnings\":[]}";
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "%s", body != NULL ? body : "{\"message\":\"a benchmark's stand-in\"}");
    evhttp_send_reply(req, body != NULL ? 200 : 500, body != NULL ? "OK" : "Error", b);
    evbuffer_free(b);
}

static void *bmc_rt_loop(void *arg)
{
    (void)arg;
    (void)event_base_dispatch(g.base);
    return NULL;
}

static void bmc_rt_start(void)
{
    snprintf(g.socket, sizeof(g.socket), "%s/runtime.sock", g.net.dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(g.socket) >= sizeof(sa.sun_path)) {
        bench_die("runtime socket", KUMO_EIO, NULL);
    }
    memcpy(sa.sun_path, g.socket, strlen(g.socket) + 1u);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        bench_die("runtime socket bind", KUMO_EIO, NULL);
    }
    g.base = event_base_new();
    struct evhttp *http = evhttp_new(g.base);
    struct evconnlistener *l =
        evconnlistener_new(g.base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (http == NULL || l == NULL || evhttp_bind_listener(http, l) == NULL) {
        bench_die("runtime stand-in", KUMO_EIO, NULL);
    }
    evhttp_set_gencb(http, bmc_rt_cb, NULL);
    if (pthread_create(&g.loop, NULL, bmc_rt_loop, NULL) != 0) {
        bench_die("runtime thread", KUMO_EIO, NULL);
    }
}

/* ---- the providers ---- */

static void bmc_daemons_stop(void)
{
    for (uint32_t i = 0; i < g.n; i++) {
        if (g.pid[i] > 0) {
            (void)kill(g.pid[i], SIGTERM);
        }
    }
    for (uint32_t i = 0; i < g.n; i++) {
        if (g.pid[i] > 0) {
            (void)waitpid(g.pid[i], NULL, 0);
            g.pid[i] = 0;
        }
    }
}

static bool bmc_log_has(uint32_t i, const char *needle)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/dc%u.log", g.net.dir, i);
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, needle) != NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}

static void bmc_provider_add(uint32_t i)
{
    snprintf(g.home[i], sizeof(g.home[i]), "%s/provider%u", g.net.dir, i);
    g.api_port[i] = g.net.base_port + 100u + i;
    char cmd[4000];
    snprintf(cmd, sizeof(cmd),
             "'%s' provider init --home '%s' --region r%u --node http://127.0.0.1:%u "
             "--api-listen 127.0.0.1:%u --runtime-socket '%s' >/dev/null",
             g.net.kumo, g.home[i], i, bsn_rpc_port(&g.net, 0), g.api_port[i], g.socket);
    bsn_run(cmd);
    char path[800];
    snprintf(path, sizeof(path), "%s/config.yaml", g.home[i]);
    char ports[200];
    uint32_t first = g.net.base_port + 200u + 4u * i;
    snprintf(ports, sizeof(ports), "port_range_min: %u\nport_range_max: %u\ntunnel_port: %u\n",
             first, first + 3u, g.net.base_port + 300u + i);
    bsn_cfg_apply(path, ports);
    snprintf(cmd, sizeof(cmd),
             "'%s' provider register --home '%s' --host-uri https://127.0.0.1:%u >/dev/null",
             g.net.kumo, g.home[i], g.api_port[i]);
    bsn_run(cmd);
    kumo_crypto_keypair_t kp;
    snprintf(path, sizeof(path), "provider%u", i);
    bsn_key_load(&g.net, path, "provider", &kp, g.addr[i]);
    sodium_memzero(&kp, sizeof(kp));
}

static void bmc_provider_start(uint32_t i)
{
    char log[800];
    snprintf(log, sizeof(log), "%s/dc%u.log", g.net.dir, i);
    g.pid[i] = fork();
    if (g.pid[i] < 0) {
        bench_die("fork", KUMO_EIO, NULL);
    }
    if (g.pid[i] == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execl(g.net.kumo, "kumo", "provider", "start", "--home", g.home[i], (char *)NULL);
        _exit(127);
    }
}

/* ---- the deployment ---- */

/* N workloads, one per group g<i>; env padding on the first until the manifest is size
 * bytes (or the smallest it can be). */
static void bmc_manifest(uint64_t round, kumo_buf_t *out)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    static char *cmd[2] = {"sleep", "100000"};
    static char names[BMC_PROVIDER_MAX][8];
    static char pad[1u << 20];
    Kumo__ManifestWorkload w[BMC_PROVIDER_MAX];
    Kumo__ManifestWorkload *wp[BMC_PROVIDER_MAX];
    Kumo__ManifestEnv env = KUMO__MANIFEST_ENV__INIT;
    Kumo__ManifestEnv *envp[1] = {&env};
    env.key = "PAD";
    for (uint32_t i = 0; i < g.n; i++) {
        kumo__manifest_workload__init(&w[i]);
        snprintf(names[i], sizeof(names[i]), "g%u", i);
        w[i].name = names[i];
        w[i].group = names[i];
        w[i].image = "localhost/kumo-bench:1";
        w[i].compute = &cu;
        w[i].count = 1;
        w[i].n_command = 2;
        w[i].command = cmd;
        wp[i] = &w[i];
    }
    w[0].n_env = 1;
    w[0].env = envp;
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = g.n;
    m.workloads = wp;
    size_t pad_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        memset(pad, 'a' + (int)(round % 26u), pad_len);
        pad[pad_len] = '\0';
        env.value = pad;
        kumo_buf_reset(out);
        if (kumo_codec_pack(&m.base, out, NULL) != 0) {
            bench_die("manifest", KUMO_EIO, NULL);
        }
        /* The length prefix of the value may grow by a byte or two: near enough. */
        pad_len = out->len < g.size && g.size - out->len < sizeof(pad) - 1u ? g.size - out->len : 0;
    }
}

static void bmc_deployment_create(uint64_t dseq, const kumo_buf_t *m)
{
    char path[800];
    snprintf(path, sizeof(path), "%s/m%" PRIu64 ".manifest", g.net.dir, dseq);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(m->ptr, 1, m->len, f) != m->len || fclose(f) != 0) {
        bench_die(path, KUMO_EIO, NULL);
    }
    static char groups[BMC_PROVIDER_MAX * 160];
    size_t at = 0;
    for (uint32_t i = 0; i < g.n; i++) {
        at += (size_t)snprintf(groups + at, sizeof(groups) - at,
                               " --group name=g%u,region=r%u," BMC_UNIT, i, i);
    }
    static char cmd[sizeof(groups) + 6000];
    snprintf(cmd, sizeof(cmd),
             "'%s' tx deployment create --home '%s/tenant' --from tenant --node "
             "http://127.0.0.1:%u --dseq %" PRIu64
             " --wait-blocks 1 --deposit 5000000 --version-file '%s'%s --wait >/dev/null",
             g.net.kumo, g.net.dir, bsn_rpc_port(&g.net, 0), dseq, path, groups);
    bsn_run(cmd);
}

static uint32_t bmc_leases_active(uint64_t dseq)
{
    char path[200];
    snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%" PRIu64 "&state=LEASE_ACTIVE&limit=100",
             g.tenant_addr, dseq);
    json_t *l = bsn_http(&g.net, 0, path, NULL, NULL);
    uint32_t n = (uint32_t)json_array_size(json_object_get(l, "items"));
    json_decref(l);
    return n;
}

/* The tenant's upload to provider 0 (mTLS with a certificate of the tenant's key); the status. */
static long bmc_upload(uint64_t dseq, const kumo_buf_t *m)
{
    static kumo_buf_t cert;
    static kumo_buf_t key;
    if (cert.len == 0) {
        kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
        kumo_buf_init(&key, KUMO_TLS_PEM_BYTES_MAX);
        if (kumo_tls_key_pem(&g.tenant, &key, NULL) != 0 ||
            kumo_tls_cert_self_signed(&g.tenant, g.tenant_addr, 30, &cert, NULL) != 0) {
            bench_die("tenant certificate", KUMO_EIO, NULL);
        }
    }
    char url[512];
    char ca[800];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/deployments/%s/%" PRIu64 "/manifest",
             g.api_port[0], g.tenant_addr, dseq);
    snprintf(ca, sizeof(ca), "%s/ca.crt", g.home[0]);
    CURL *c = curl_easy_init();
    struct curl_blob cb = {cert.ptr, cert.len, CURL_BLOB_COPY};
    struct curl_blob kb = {key.ptr, key.len, CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)m->ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)m->len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bsn_write_cb);
    kumo_buf_t answer;
    kumo_buf_init(&answer, 1u << 16);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (status != 200) {
        fprintf(stderr, "bench_manifest_chain: upload answered %ld: %.*s\n", status,
                (int)answer.len, (const char *)answer.ptr);
    }
    kumo_buf_free(&answer);
    curl_easy_cleanup(c);
    return status;
}

static uint32_t bmc_holders(uint64_t dseq, bool *held)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < g.n; i++) {
        if (!held[i]) {
            char path[900];
            struct stat st;
            snprintf(path, sizeof(path), "%s/deployments/%s-%" PRIu64 ".manifest", g.home[i],
                     g.tenant_addr, dseq);
            held[i] = stat(path, &st) == 0;
        }
        count += held[i] ? 1u : 0u;
    }
    return count;
}

static void bmc_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* One round: a deployment of dseq, its leases, the upload, every provider holding it. */
static void bmc_round(uint64_t dseq, uint64_t *after_leases, uint64_t *upload, uint64_t *spread)
{
    kumo_buf_t m;
    kumo_buf_init(&m, 2u << 20);
    bmc_manifest(dseq, &m);
    bmc_deployment_create(dseq, &m);
    uint64_t deadline = bench_now_ns() + BMC_WAIT_NS;
    while (bmc_leases_active(dseq) < g.n) {
        bsn_stop_check();
        if (bench_now_ns() > deadline) {
            bench_die("the leases did not all come (see the dc*.log)", KUMO_EIO, NULL);
        }
        bmc_sleep_ms(1);
    }
    uint64_t t_leases = bench_now_ns();
    if (bmc_upload(dseq, &m) != 200) {
        bench_die("the upload failed", KUMO_EIO, NULL);
    }
    uint64_t t_up = bench_now_ns();
    bool held[BMC_PROVIDER_MAX] = {false};
    while (bmc_holders(dseq, held) < g.n) {
        bsn_stop_check();
        if (bench_now_ns() > deadline) {
            for (uint32_t i = 0; i < g.n; i++) {
                fprintf(stderr, "provider %u: %s\n", i, held[i] ? "holds it" : "does not");
            }
            bench_die("not every provider got the manifest", KUMO_EIO, NULL);
        }
        bmc_sleep_ms(1);
    }
    uint64_t t_all = bench_now_ns();
    *after_leases = (t_all - t_leases) / 1000u;
    *upload = (t_up - t_leases) / 1000u;
    *spread = (t_all - t_up) / 1000u;
    fprintf(stderr,
            "bench_manifest_chain: round %" PRIu64 ": %zu bytes, all %u hold it %.1f ms after "
            "the leases (upload %.1f ms, spread %.1f ms)\n",
            dseq, m.len, g.n, (double)*after_leases / 1000.0, (double)*upload / 1000.0,
            (double)*spread / 1000.0);
    kumo_buf_free(&m);
}

static int bmc_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bmc_report(const char *what, uint64_t *us, uint32_t rounds)
{
    qsort(us, rounds, sizeof(us[0]), bmc_cmp);
    char key[160];
    snprintf(key, sizeof(key), "manifest_chain_n%u_s%" PRIu64 "_%s_p50_us", g.n, g.size, what);
    bench_result(key, us[rounds / 2u], "us");
    snprintf(key, sizeof(key), "manifest_chain_n%u_s%" PRIu64 "_%s_max_us", g.n, g.size, what);
    bench_result(key, us[rounds - 1u], "us");
}

/* A network namespace of our own with its loopback up. */
static void bmc_netns(void)
{
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "bench_manifest_chain: unshare(CLONE_NEWNET): %s (needs root)\n",
                strerror(errno));
        exit(1);
    }
    if (system("ip link set lo up") != 0) {
        fprintf(stderr, "bench_manifest_chain: ip link set lo up failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    g.n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 16u;
    g.size = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024u;
    uint32_t rounds = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 5u;
    uint32_t block_ms = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 500u;
    if (g.n < 2 || g.n > BMC_PROVIDER_MAX || rounds < 1 || rounds > BMC_ROUND_MAX ||
        g.size > KUMO_PROVIDER_MANIFEST_BYTES_MAX || block_ms < 100) {
        fprintf(stderr, "usage: bench_manifest_chain [N 2..16] [S <= 1 MiB] [rounds 1..20] "
                        "[block_ms >= 100]\n");
        return 2;
    }
    bmc_netns();
    if (kumo_crypto_init() != 0) {
        return 1;
    }
    bsn_kumo_find(&g.net);
    /* Every daemon, its API workers and the tenant reach the node from 127.0.0.1. */
    bsn_start(&g.net, "mchain", 1, g.n, block_ms,
              "rpc_connection_max: 4096\nrpc_connection_per_addr_max: 4096\n", 0);
    atexit(bmc_daemons_stop); /* runs before the testnet's stop (registered earlier) */
    bsn_key_load(&g.net, "tenant", "tenant", &g.tenant, g.tenant_addr);
    bmc_rt_start();
    for (uint32_t i = 0; i < g.n; i++) {
        bmc_provider_add(i);
    }
    for (uint32_t i = 0; i < g.n; i++) {
        bmc_provider_start(i);
    }
    uint64_t deadline = bench_now_ns() + BMC_WAIT_NS;
    for (uint32_t i = 0; i < g.n; i++) {
        while (!bmc_log_has(i, "event=api_listening")) {
            bsn_stop_check();
            if (bench_now_ns() > deadline) {
                bench_die("a provider daemon did not start (see its dc*.log)", KUMO_EIO, NULL);
            }
            bmc_sleep_ms(50);
        }
    }
    uint64_t after[BMC_ROUND_MAX];
    uint64_t upload[BMC_ROUND_MAX];
    uint64_t spread[BMC_ROUND_MAX];
    for (uint32_t r = 0; r < rounds; r++) {
        bmc_round(r + 1u, &after[r], &upload[r], &spread[r]);
    }
    bench_result("manifest_chain_providers", g.n, "providers");
    bench_result("manifest_chain_block_ms", block_ms, "ms");
    bmc_report("after_leases", after, rounds);
    bmc_report("upload", upload, rounds);
    bmc_report("spread", spread, rounds);
    bmc_daemons_stop();
    bsn_stop(&g.net, getenv("BENCH_KEEP") != NULL); /* BENCH_KEEP=1: the logs stay */
    return 0;
}
