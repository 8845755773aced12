/*
 * bench_provider.c - the provider's bidding capacity: a one-validator `kumo testnet`, a
 * tenant opening 1,000 orders in the provider's region (10 txs of 100 deployments), then the
 * provider daemon (in this process, with a real podman runtime) started cold: how fast it
 * submits its 1,000 bids (it reads the open orders page by page and sends each page's bids
 * as one tx). Baseline in the same run: the same node accepting the tenant's 10 txs of 100
 * msgs (the submission path without the provider's reading and deciding).
 *
 * usage: bench_provider [orders]   (default 1000). Needs podman + runc (tools/deps.sh).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "bench_util.h"
#include "keyring/keyring.h"
#include "provider/daemon.h"

#define BP_PER_TX 100u

static char bp_kumo[600];
static char *bp_dir;
static uint16_t bp_port;

static void bp_run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_provider: failed: %s\n", cmd);
        exit(1);
    }
}

static size_t bp_write(char *p, size_t size, size_t n, void *ctx)
{
    return kumo_buf_append(ctx, p, size * n) == 0 ? size * n : 0;
}

/* GET or POST to node0; the JSON answer (NULL unless 200). */
static json_t *bp_http(const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", bp_port, path);
    CURL *c = curl_easy_init();
    kumo_buf_t buf;
    kumo_buf_init(&buf, 64u << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bp_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200) {
        j = json_loadb((const char *)buf.ptr, buf.len, 0, NULL);
    } else if (body != NULL) {
        fprintf(stderr, "bench_provider: %s: HTTP %ld %.*s\n", path, status, (int)buf.len,
                buf.ptr != NULL ? (const char *)buf.ptr : "");
    }
    kumo_buf_free(&buf);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return j;
}

static uint64_t bp_u64(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

static void bp_key(const char *home, const char *name, kumo_crypto_keypair_t *kp)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/keyring", home);
    kumo_keyring_t *kr = NULL;
    BENCH_MUST("keyring", kumo_keyring_open(dir, &kr, &bench_err_));
    BENCH_MUST("key", kumo_keyring_load(kr, name, NULL, kp, &bench_err_));
    kumo_keyring_close(kr);
}

/* One tx of count deployments (dseq from first) in us-east, submitted. */
static void
bp_deployments_tx(const kumo_crypto_keypair_t *kp, uint64_t seq, uint64_t first, uint32_t count)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 128ull << 20;
    cu.storage_bytes = 1ull << 30;
    Kumo__ResourceGroup rg = KUMO__RESOURCE_GROUP__INIT;
    rg.compute = &cu;
    rg.count = 1;
    rg.price = 100;
    rg.collateral = 10;
    Kumo__ResourceGroup *rgs[1] = {&rg};
    Kumo__GroupSpec g = KUMO__GROUP_SPEC__INIT;
    g.name = "web";
    g.region = "us-east";
    g.n_resources = 1;
    g.resources = rgs;
    Kumo__GroupSpec *gs[1] = {&g};
    uint8_t version[32] = {1};
    static Kumo__MsgSubmitDeployment sd[BP_PER_TX];
    static Kumo__Msg msg[BP_PER_TX];
    Kumo__Msg *ptrs[BP_PER_TX];
    for (uint32_t i = 0; i < count; i++) {
        kumo__msg_submit_deployment__init(&sd[i]);
        sd[i].dseq = first + i;
        sd[i].n_groups = 1;
        sd[i].groups = gs;
        sd[i].wait_blocks = 500;
        sd[i].version.data = version;
        sd[i].version.len = sizeof(version);
        sd[i].deposit = 100000;
        kumo__msg__init(&msg[i]);
        msg[i].sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
        msg[i].submit_deployment = &sd[i];
        ptrs[i] = &msg[i];
    }
    kumo_buf_t tx;
    kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
    BENCH_MUST("tx",
               kumo_chain_tx_build("kumo-bench", kp, seq, 100, "", ptrs, count, &tx, &bench_err_));
    char b64[sodium_base64_ENCODED_LEN(KUMO_TX_BYTES_MAX, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), tx.ptr, tx.len, sodium_base64_VARIANT_ORIGINAL);
    json_t *body = json_pack("{s:s}", "tx", b64);
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *ans = bp_http("/txs?wait=commit", text);
    if (ans == NULL) {
        fprintf(stderr, "bench_provider: deployment tx refused\n");
        exit(1);
    }
    json_decref(ans);
    free(text);
    json_decref(body);
    kumo_buf_free(&tx);
}

static volatile int bp_stop;

static void *bp_daemon_thread(void *arg)
{
    kumo_provider_daemon_run(arg, &bp_stop);
    return NULL;
}

/* A one-validator testnet with a registered provider0 and its podman service (its pid). */
static pid_t bp_setup(void)
{
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[len > 0 ? len : 0] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bp_kumo, sizeof(bp_kumo), "%s/kumo", self);
    bp_dir = bench_tmpdir("provider");
    bp_port = (uint16_t)(20000u + ((uint32_t)getpid() % 1000u) * 10u);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "'%s' testnet init --dir '%s' --validators 1 --providers 1 --chain-id kumo-bench "
             "--base-port %u --block-interval-ms 200 >/dev/null && '%s' testnet start --dir '%s' "
             ">/dev/null",
             bp_kumo, bp_dir, bp_port, bp_kumo, bp_dir);
    bp_run(cmd);
    /* The runtime the provider checks before bidding: a private podman service. */
    char sock[700];
    snprintf(sock, sizeof(sock), "%s/podman.sock", bp_dir);
    pid_t pm = fork();
    if (pm == 0) {
        char uri[720];
        snprintf(uri, sizeof(uri), "unix://%s", sock);
        if (freopen("/dev/null", "w", stdout) == NULL ||
            freopen("/dev/null", "w", stderr) == NULL) {
            _exit(127);
        }
        execlp("podman", "podman", "--runtime", "/usr/sbin/runc", "system", "service", "--time",
               "0", uri, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300 && access(sock, F_OK) != 0; i++) {
        usleep(100000);
    }
    snprintf(
        cmd, sizeof(cmd),
        "'%s' provider init --home '%s/provider0' --region us-east --node "
        "http://127.0.0.1:%u --runtime-socket '%s' --api-listen 127.0.0.1:0 >/dev/null && sed -i "
        "'s/^capacity_cpu_milli: .*/capacity_cpu_milli: 1000000000/; "
        "s/^capacity_memory_bytes: .*/capacity_memory_bytes: 1125899906842624/; "
        "s/^capacity_storage_bytes: .*/capacity_storage_bytes: 36028797018963968/' "
        "'%s/provider0/config.yaml' && '%s' provider register --home '%s/provider0' "
        ">/dev/null",
        bp_kumo, bp_dir, bp_port, sock, bp_dir, bp_kumo, bp_dir);
    bp_run(cmd);
    return pm;
}

/* The tenant opens orders; the rate at which they commit. */
static uint64_t bp_open_orders(uint32_t orders)
{
    char home[700];
    kumo_crypto_keypair_t tenant;
    snprintf(home, sizeof(home), "%s/tenant", bp_dir);
    bp_key(home, "tenant", &tenant);
    fprintf(stderr, "bench_provider: opening %u orders...\n", orders);
    uint64_t t0 = bench_now_ns();
    for (uint32_t k = 0; k * BP_PER_TX < orders; k++) {
        uint32_t n = orders - k * BP_PER_TX < BP_PER_TX ? orders - k * BP_PER_TX : BP_PER_TX;
        bp_deployments_tx(&tenant, k, 1u + k * BP_PER_TX, n);
    }
    uint64_t open_ns = bench_now_ns() - t0;
    bench_result("orders_open", orders, "orders");
    bench_result("tenant_orders_committed_per_s", bench_rate(orders, open_ns), "1/s");
    return bench_rate(orders, open_ns);
}

/* The provider, cold: how fast it bids on every open order. */
static void bp_provider(uint32_t orders, uint64_t open_rate)
{
    char home[700];
    kumo_provider_cfg_t cfg;
    kumo_provider_cfg_default(&cfg);
    char path[720];
    snprintf(path, sizeof(path), "%s/provider0/config.yaml", bp_dir);
    FILE *f = fopen(path, "r");
    char text[65536];
    size_t tl = f != NULL ? fread(text, 1, sizeof(text), f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    BENCH_MUST("config",
               kumo_provider_cfg_parse(path, kumo_bytes_make(text, tl), &cfg, &bench_err_));
    kumo_crypto_keypair_t pk;
    snprintf(home, sizeof(home), "%s/provider0", bp_dir);
    bp_key(home, cfg.key, &pk);
    kumo_provider_daemon_t *d = NULL;
    BENCH_MUST("daemon", kumo_provider_daemon_open(&cfg, home, &pk, &d, &bench_err_));
    pthread_t t;
    uint64_t t0 = bench_now_ns();

    pthread_create(&t, NULL, bp_daemon_thread, d);
    while (kumo_provider_daemon_bids(d) < orders && bench_now_ns() - t0 < 120ull * 1000000000ull) {
        usleep(2000);
    }
    uint64_t bid_ns = bench_now_ns() - t0;
    bp_stop = 1;
    pthread_join(t, NULL);
    uint64_t bids = kumo_provider_daemon_bids(d);
    kumo_provider_daemon_close(d);
    bench_result("provider_bids_submitted", bids, "bids");
    bench_result("provider_bids_per_s", bench_rate(bids, bid_ns), "1/s");
    bench_ratio("provider_bids_vs_tenant_orders_rate", bench_rate(bids, bid_ns), open_rate);
}

int main(int argc, char **argv)
{
    uint32_t orders = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000u;
    BENCH_MUST("crypto", kumo_crypto_init());
    signal(SIGPIPE, SIG_IGN);
    pid_t pm = bp_setup();
    bp_provider(orders, bp_open_orders(orders));
    char cmd[2048];
    json_t *st = bp_http("/status", NULL);
    bench_result("chain_height", bp_u64(st, "height"), "blocks");
    json_decref(st);
    kill(pm, SIGTERM);
    waitpid(pm, NULL, 0);
    snprintf(cmd, sizeof(cmd), "'%s' testnet stop --dir '%s' >/dev/null", bp_kumo, bp_dir);
    bp_run(cmd);
    bench_rmdir(bp_dir);
    return 0;
}
