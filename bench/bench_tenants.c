/*
 * bench_tenants.c - a hostile tenant among many at one datacenter. A one-validator `kumo
 * testnet` (1 s blocks, reconfirmation period BT_PERIOD blocks), a private podman service
 * (runc) and one provider daemon (`kumo provider start`, a real process) holding `leases`
 * leases of `tenants` honest tenants. Each tenant submits its leases as deployments of `groups`
 * groups (one busybox `sleep` container per group; 1 by default: one deployment per lease);
 * a lease is one group's, and the provider makes one podman network per deployment, which its
 * groups share. As `kumo deploy` does, a deployment's manifest (one workload per group) goes to
 * the provider API with its tenant's certificate as soon as every group of it is leased. The
 * daemon bids only as fast as its runtime starts containers (`busy`), so the run takes as long
 * as the starts; a lease that goes stale anyway is counted (target 0) and left out of the
 * windows. A settling pause of min(period/3, period - 5) blocks follows.
 *
 * Two windows of `window` blocks on the same chain, daemon and leases:
 *   clean    the honest tenants alone (the baseline);
 *   hostile  one more tenant with three deployments here: (1) its on-chain version is a
 *            manifest with a count of 2^32-1, which it uploads again and again; (2) a
 *            deployment with a group no provider serves, whose links it points at forbidden
 *            places (the node's API on loopback, the metadata address, a private address, the
 *            provider's own API) again and again; (3) a workload `flood` that opens
 *            connections through the forwarder to its other workload `srv` in a loop (400
 *            every round of 5 s: 250 held open, 150 closed at once; 250m of CPU, 512 pids).
 *            Its uploads and links run from this process (one kept connection, back to back).
 * For each window, over the honest leases: confirmations landed; landed on time (at most
 * min(period/3, period - 5) + 1 + 2 blocks after the lease's previous one: the daemon's
 * cadence lands a confirmation the block after it falls due, plus 2 blocks of grace); due
 * (those landed, plus one for each lease overdue at the window's end); the gap between a
 * lease's confirmations (p50/p99/max); leases stale (target 0). For the hostile tenant, what
 * it got: answers to its uploads and links, connections its flood opened. Ratios hostile vs
 * clean. Every count is per lease (one per group), whatever `groups` is.
 *
 * usage: bench_tenants [leases] [tenants] [window_blocks] [groups]
 *   default 50 10 90 1 (~10 min here); leases a multiple of tenants, leases per tenant a
 *   multiple of groups (1..KUMO_GROUP_COUNT_MAX); window_blocks at least the on-time bound
 *   (every lease on cadence confirms in it). `bench_tenants 1000 100 90 10` is the 1,000-lease
 *   shape with one network per 10 leases (hours here: podman slows as networks accumulate).
 * $KUMO_BIN: the kumo binary to run (default: the one next to this benchmark).
 * Needs podman + runc (tools/deps.sh). Removes every container and network of its provider and
 * its isolation tables on exit, also when interrupted (SIGINT, SIGTERM: the wait loops see a
 * flag the handler sets and exit, and the exit handlers clean up).
 */
#include <signal.h>
#include <sys/wait.h>

#include "bench_spam_net.h"
#include "runtime/runtime.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define BT_BLOCK_MS         1000u
#define BT_PERIOD           60u
#define BT_MARGIN_BLOCKS    5u
#define BT_ONTIME_GRACE     2u
#define BT_ORDERS_PER_ROUND 48u
#define BT_STALL_S          600u /* no lease won or started for this long: give up */
#define BT_TENANTS_MAX      1000u
#define BT_LEASES_MAX       1000u
#define BT_PER_TX_MAX       100u
#define BT_IMAGE            "localhost/kumo-test-busybox:1"
#define BT_CPU_MILLI        10u
#define BT_HOSTILE_CPU      250u
#define BT_UNIT_BYTES       (64ull << 20)
#define BT_PRICE            100u
#define BT_COLLATERAL       1000u
#define BT_DEPOSIT          1000000u
#define BT_FUND_UKUMO       100000000u
#define BT_REGION           "us-east"
#define BT_HOSTILE_FAMILY   0x7e11u
#define BT_HONEST_FAMILY    0x7e10u
#define BT_START_WAIT_S     1800u
#define BT_DSEQ_HUGE        1u
#define BT_DSEQ_LINKS       2u
#define BT_DSEQ_FLOOD       3u
#define BT_RAW_COUNT        4u /* containers and networks of the raw runtime measurement */

_Static_assert(BT_LEASES_MAX + 4u <= KUMO_RUNTIME_LIST_COUNT_MAX, "one runtime list sees all");

typedef struct bt_tenant {
    kumo_crypto_keypair_t kp;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_buf_t cert;
    kumo_buf_t key_pem;
    CURL *api; /* its kept connection to the provider API */
} bt_tenant_t;

typedef struct bt_lease {
    uint64_t last_confirmed;
    bool active;
    bool seen;
    bool uploaded; /* its manifest went to the provider */
} bt_lease_t;

typedef struct bt_window {
    uint64_t due;
    uint64_t landed;
    uint64_t on_time;
    uint64_t stale;
    uint64_t *gaps;
    size_t gap_count;
    uint64_t blocks;
} bt_window_t;

typedef struct bt {
    bsn_t net;
    uint32_t lease_count;
    uint32_t tenant_count;
    uint32_t per_tenant; /* leases per tenant */
    uint32_t groups;     /* groups per honest deployment (a lease each) */
    uint64_t every;
    uint64_t min_fee;
    char podman_sock[700];
    pid_t main_pid;
    pid_t podman_pid;
    pid_t daemon_pid;
    pid_t hostile_pid; /* the hostile loop's process while it runs */
    char home[800];    /* the provider's */
    char api[64];
    char provider_addr[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_keypair_t funder;
    char funder_addr[KUMO_ADDRESS_TEXT_BYTES];
    bt_tenant_t tenants[BT_TENANTS_MAX + 1u]; /* the last one is the hostile */
    bt_lease_t leases[BT_LEASES_MAX];
    kumo_buf_t honest_manifest;
    uint8_t honest_version[KUMO_VERSION_BYTES];
    kumo_runtime_t *rt;
    bt_window_t windows[2];
} bt_t;

/* What the runtime costs here, one call after the other as the daemon's worker makes them
 * (ms per call): the baseline the start times of the run are read against. */
typedef struct bt_raw {
    uint64_t network_create_ms;
    uint64_t container_run_ms;
    uint64_t container_remove_ms;
    uint64_t network_remove_ms;
    uint64_t network_lost; /* starts that found their new network gone */
} bt_raw_t;

static bt_t g;

static uint64_t bt_ms_since(uint64_t t0)
{
    return (bench_now_ns() - t0) / 1000000u;
}

/* One network (with its gateway read) and one busybox `sleep` container on it, each call
 * timed; made again (up to 3 times) if the runtime lost the network in between (podman 4.3
 * with CNI here sometimes answers "network not found" for a network it just made while other
 * clients create and remove networks: counted). */
static void bt_raw_pair(const char *name, bt_raw_t *raw)
{
    const kumo_runtime_label_t labels[] = {{"kumo.managed", "1"},
                                           {"kumo.provider", g.provider_addr}};
    static const char *const cmd[] = {"sleep", "1000000", NULL};
    kumo_err_ctx_t err = {0};
    int rc = KUMO_ENOTFOUND;
    for (int attempt = 0; attempt < 4 && rc != 0; attempt++) {
        uint64_t t0 = bench_now_ns();
        char gw[64];
        if (kumo_runtime_network_create(g.rt, name, labels, 2, &err) != 0 ||
            kumo_runtime_network_gateway(g.rt, name, gw, &err) != 0) {
            bench_die("raw network create", KUMO_EIO, &err);
        }
        raw->network_create_ms += bt_ms_since(t0);
        t0 = bench_now_ns();
        kumo_runtime_container_spec_t spec = {.name = name,
                                              .image = BT_IMAGE,
                                              .cmd = cmd,
                                              .network = name,
                                              .millicpu = BT_CPU_MILLI,
                                              .memory_bytes = BT_UNIT_BYTES,
                                              .storage_bytes = BT_UNIT_BYTES,
                                              .label_count = 2};
        memcpy(spec.labels, labels, sizeof(labels));
        char id[KUMO_RUNTIME_ID_BYTES_MAX];
        rc = kumo_runtime_container_run(g.rt, &spec, id, &err);
        raw->container_run_ms += bt_ms_since(t0);
        if (rc != 0 && strstr(err.detail, "network") == NULL) {
            break;
        }
        if (rc != 0) {
            raw->network_lost++;
        }
    }
    if (rc != 0) {
        bench_die("raw container run", rc, &err);
    }
}

/* BT_RAW_COUNT networks and containers (labelled as the provider's so the cleanup takes them
 * if this dies) made and removed through the runtime client, one call after the other. */
static void bt_raw_measure(bt_raw_t *raw)
{
    char names[BT_RAW_COUNT][64];
    kumo_err_ctx_t err = {0};
    for (uint32_t i = 0; i < BT_RAW_COUNT; i++) {
        snprintf(names[i], sizeof(names[i]), "kumo-bench-raw-%u", i);
        bt_raw_pair(names[i], raw);
    }
    raw->network_create_ms /= BT_RAW_COUNT;
    raw->container_run_ms /= BT_RAW_COUNT;
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < BT_RAW_COUNT; i++) {
        if (kumo_runtime_container_remove(g.rt, names[i], &err) != 0) {
            bench_die("raw container remove", KUMO_EIO, &err);
        }
    }
    raw->container_remove_ms = bt_ms_since(t0) / BT_RAW_COUNT;
    t0 = bench_now_ns();
    for (uint32_t i = 0; i < BT_RAW_COUNT; i++) {
        if (kumo_runtime_network_remove(g.rt, names[i], &err) != 0) {
            bench_die("raw network remove", KUMO_EIO, &err);
        }
    }
    raw->network_remove_ms = bt_ms_since(t0) / BT_RAW_COUNT;
    fprintf(stderr,
            "bench_tenants: raw runtime: network %" PRIu64 " ms, container %" PRIu64
            " ms, remove %" PRIu64 " + %" PRIu64 " ms\n",
            raw->network_create_ms, raw->container_run_ms, raw->container_remove_ms,
            raw->network_remove_ms);
}

/* ---- processes: podman, the provider daemon ---- */

static void bt_podman_start(void)
{
    snprintf(g.podman_sock, sizeof(g.podman_sock), "%s/podman.sock", g.net.dir);
    bsn_run("podman image exists " BT_IMAGE " || (set -e; d=$(mktemp -d); mkdir -p $d/rootfs/bin "
            "$d/rootfs/www; cp /bin/busybox $d/rootfs/bin/; for c in sh httpd echo sleep cat; do "
            "ln -sf busybox $d/rootfs/bin/$c; done; echo 'hello from kumo' > "
            "$d/rootfs/www/index.html; tar -C $d/rootfs -cf $d/img.tar .; podman import "
            "--change ENV=PATH=/bin $d/img.tar " BT_IMAGE " >/dev/null; rm -rf $d)");
    g.podman_pid = fork();
    if (g.podman_pid == 0) {
        char uri[720];
        snprintf(uri, sizeof(uri), "unix://%s", g.podman_sock);
        if (freopen("/dev/null", "w", stdout) == NULL ||
            freopen("/dev/null", "w", stderr) == NULL) {
            _exit(127);
        }
        execlp("podman", "podman", "--runtime", "/usr/sbin/runc", "system", "service", "--time",
               "0", uri, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = bench_now_ns() + 30ull * 1000000000ull;
    kumo_err_ctx_t err = {0};
    while (kumo_runtime_open(g.podman_sock, &g.rt, &err) != 0) {
        bsn_stop_check();
        if (bench_now_ns() > deadline) {
            bench_die("podman did not answer", KUMO_EIO, &err);
        }
        usleep(50000); /* the service is starting */
    }
}

static void bt_daemon_start(void)
{
    char log[900];
    snprintf(log, sizeof(log), "%s/provider.log", g.net.dir);
    g.daemon_pid = fork();
    if (g.daemon_pid == 0) {
        if (freopen(log, "a", stdout) == NULL || freopen(log, "a", stderr) == NULL) {
            _exit(127);
        }
        execl(g.net.kumo, "kumo", "provider", "start", "--home", g.home, (char *)NULL);
        _exit(127);
    }
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), "grep -qs api_listening '%s'", log);
    uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
    while (system(cmd) != 0) {
        bsn_stop_check();
        if (bench_now_ns() > deadline) {
            bench_die("the provider's API did not listen", KUMO_EIO, NULL);
        }
        usleep(100000); /* the daemon is starting */
    }
}

static void bt_provider_add(void)
{
    snprintf(g.home, sizeof(g.home), "%s/provider0", g.net.dir);
    snprintf(g.api, sizeof(g.api), "127.0.0.1:%u", g.net.base_port + 5u);
    char cmd[3000];
    snprintf(cmd, sizeof(cmd),
             "'%s' provider init --home '%s' --region " BT_REGION
             " --node http://127.0.0.1:%u --api-listen %s --runtime-socket '%s' >/dev/null",
             g.net.kumo, g.home, bsn_rpc_port(&g.net, 0), g.api, g.podman_sock);
    bsn_run(cmd);
    char path[900];
    snprintf(path, sizeof(path), "%s/config.yaml", g.home);
    char cfg[512];
    snprintf(cfg, sizeof(cfg),
             "port_range_min: %u\nport_range_max: %u\ncapacity_cpu_milli: 1000000\n"
             "capacity_memory_bytes: 1099511627776\ncapacity_storage_bytes: 1099511627776\n",
             g.net.base_port + 6u, g.net.base_port + 9u);
    bsn_cfg_apply(path, cfg);
    snprintf(cmd, sizeof(cmd),
             "'%s' provider register --home '%s' --host-uri https://%s >/dev/null", g.net.kumo,
             g.home, g.api);
    bsn_run(cmd);
    kumo_crypto_keypair_t kp;
    bsn_key_load(&g.net, "provider0", "provider", &kp, g.provider_addr);
    kumo_crypto_key_wipe(&kp);
    bt_daemon_start();
}

static void bt_cleanup(void)
{
    static bool done;
    if (done || getpid() != g.main_pid) {
        return; /* once, and only by the process that started everything */
    }
    done = true;
    if (g.hostile_pid > 0) {
        kill(g.hostile_pid, SIGTERM);
        waitpid(g.hostile_pid, NULL, 0);
        g.hostile_pid = 0;
    }
    if (g.daemon_pid > 0) {
        kill(g.daemon_pid, SIGTERM);
        waitpid(g.daemon_pid, NULL, 0);
        g.daemon_pid = 0;
    }
    char cmd[2000];
    snprintf(cmd, sizeof(cmd),
             "podman ps -aq --filter label=kumo.provider=%s | xargs -r podman rm -f -t 0 "
             ">/dev/null 2>&1; podman network ls -q --filter label=kumo.provider=%s | xargs -r "
             "podman network rm -f >/dev/null 2>&1",
             g.provider_addr, g.provider_addr);
    if (g.provider_addr[0] != '\0' && system(cmd) != 0) {
        fprintf(stderr, "bench_tenants: cleanup of the containers failed\n");
    }
    /* The daemon's isolation tables outlive it by design; with its networks gone, their
     * rules would catch whatever network reuses the subnets next. */
    snprintf(cmd, sizeof(cmd),
             "nft delete table inet kumo_%.8s >/dev/null 2>&1; "
             "nft delete table bridge kumo_%.8s >/dev/null 2>&1; true",
             g.provider_addr + 5, g.provider_addr + 5);
    if (g.provider_addr[0] != '\0') {
        int rc = system(cmd);
        (void)rc;
    }
    kumo_runtime_close(g.rt);
    if (g.podman_pid > 0) {
        kill(g.podman_pid, SIGTERM);
        waitpid(g.podman_pid, NULL, 0);
        g.podman_pid = 0;
    }
}

/* ---- manifests ---- */

typedef struct bt_manifest {
    Kumo__ComputeUnit cu;
    Kumo__ManifestWorkload w[2];
    Kumo__ManifestWorkload *wp[2];
    Kumo__ManifestPort port;
    Kumo__ManifestPort *portp[1];
    Kumo__ManifestConnection rule;
    Kumo__ManifestConnection *rulep[1];
    char *cmd[3];
    char *cmd2[3];
    Kumo__Manifest m;
} bt_manifest_t;

static void bt_unit(Kumo__ComputeUnit *cu, uint64_t cpu_milli)
{
    kumo__compute_unit__init(cu);
    cu->cpu_milli = cpu_milli;
    cu->memory_bytes = BT_UNIT_BYTES;
    cu->storage_bytes = BT_UNIT_BYTES;
}

/* One workload `app` in group g: `sleep` (count 1) or the hostile's count. */
static void bt_manifest_one(bt_manifest_t *b, uint32_t count)
{
    memset(b, 0, sizeof(*b));
    bt_unit(&b->cu, BT_CPU_MILLI);
    b->cmd[0] = "sleep";
    b->cmd[1] = "1000000";
    kumo__manifest_workload__init(&b->w[0]);
    b->w[0].name = "app";
    b->w[0].group = "g";
    b->w[0].image = BT_IMAGE;
    b->w[0].compute = &b->cu;
    b->w[0].count = count;
    b->w[0].n_command = 2;
    b->w[0].command = b->cmd;
    b->wp[0] = &b->w[0];
    kumo__manifest__init(&b->m);
    b->m.n_workloads = 1;
    b->m.workloads = b->wp;
}

/* Two workloads a (first, group ga) and b (second, group gb); b listens on port for a. */
static void bt_manifest_two(bt_manifest_t *b,
                            const char *a,
                            const char *ga,
                            const char *bname,
                            const char *gb,
                            uint32_t port,
                            uint64_t cpu_milli)
{
    memset(b, 0, sizeof(*b));
    bt_unit(&b->cu, cpu_milli);
    for (size_t i = 0; i < 2; i++) {
        kumo__manifest_workload__init(&b->w[i]);
        b->w[i].image = BT_IMAGE;
        b->w[i].compute = &b->cu;
        b->w[i].count = 1;
        b->wp[i] = &b->w[i];
    }
    b->w[0].name = (char *)(uintptr_t)a;
    b->w[0].group = (char *)(uintptr_t)ga;
    b->w[1].name = (char *)(uintptr_t)bname;
    b->w[1].group = (char *)(uintptr_t)gb;
    kumo__manifest_connection__init(&b->rule);
    b->rule.workload = (char *)(uintptr_t)a;
    b->rulep[0] = &b->rule;
    kumo__manifest_port__init(&b->port);
    b->port.port = port;
    b->port.protocol = "tcp";
    b->port.n_expose = 1;
    b->port.expose = b->rulep;
    b->portp[0] = &b->port;
    b->w[1].n_ports = 1;
    b->w[1].ports = b->portp;
    kumo__manifest__init(&b->m);
    b->m.n_workloads = 2;
    b->m.workloads = b->wp;
}

static void bt_manifest_pack(const bt_manifest_t *b, kumo_buf_t *out, uint8_t *version)
{
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    BENCH_MUST("manifest", kumo_codec_pack(&b->m.base, out, &bench_err_));
    BENCH_MUST("version", kumo_sdl_manifest_version(kumo_buf_bytes(out), version));
}

/* Group i of an honest deployment is g<i+1>, its workload app<i+1>. */
static char bt_group_names[KUMO_GROUP_COUNT_MAX][8];
static char bt_app_names[KUMO_GROUP_COUNT_MAX][8];

/* The manifest of every honest deployment: one `sleep` workload (count 1) per group. */
static void bt_manifest_honest(void)
{
    static char *cmd[] = {"sleep", "1000000"};
    Kumo__ComputeUnit cu;
    Kumo__ManifestWorkload w[KUMO_GROUP_COUNT_MAX];
    Kumo__ManifestWorkload *wp[KUMO_GROUP_COUNT_MAX];
    bt_unit(&cu, BT_CPU_MILLI);
    for (uint32_t i = 0; i < g.groups; i++) {
        snprintf(bt_group_names[i], sizeof(bt_group_names[i]), "g%u", i + 1u);
        snprintf(bt_app_names[i], sizeof(bt_app_names[i]), "app%u", i + 1u);
        kumo__manifest_workload__init(&w[i]);
        w[i].name = bt_app_names[i];
        w[i].group = bt_group_names[i];
        w[i].image = BT_IMAGE;
        w[i].compute = &cu;
        w[i].count = 1;
        w[i].n_command = 2;
        w[i].command = cmd;
        wp[i] = &w[i];
    }
    Kumo__Manifest m;
    kumo__manifest__init(&m);
    m.n_workloads = g.groups;
    m.workloads = wp;
    kumo_buf_init(&g.honest_manifest, KUMO_SDL_MANIFEST_BYTES_MAX);
    BENCH_MUST("manifest", kumo_codec_pack(&m.base, &g.honest_manifest, &bench_err_));
    BENCH_MUST("version",
               kumo_sdl_manifest_version(kumo_buf_bytes(&g.honest_manifest), g.honest_version));
}

/* ---- chain: tenants, deployments ---- */

static void bt_tenant_init(bt_tenant_t *t, uint32_t family, uint32_t i)
{
    bench_key(family, i, &t->kp, t->raw);
    kumo_codec_address_encode(t->raw, t->addr);
    kumo_buf_init(&t->cert, 16384);
    kumo_buf_init(&t->key_pem, 16384);
    BENCH_MUST("cert", kumo_tls_cert_self_signed(&t->kp, t->addr, 1, &t->cert, &bench_err_));
    BENCH_MUST("key", kumo_tls_key_pem(&t->kp, &t->key_pem, &bench_err_));
}

/* The testnet's tenant funds every bench tenant (and the hostile) in one tx. */
static void bt_tenants_fund(void)
{
    uint32_t n = g.tenant_count + 1u;
    Kumo__MsgSend *sends = calloc(n, sizeof(*sends));
    Kumo__Msg *msgs = calloc(n, sizeof(*msgs));
    Kumo__Msg **ptrs = calloc(n, sizeof(*ptrs));
    for (uint32_t i = 0; i < n; i++) {
        kumo__msg_send__init(&sends[i]);
        sends[i].to.data = g.tenants[i].raw;
        sends[i].to.len = KUMO_ADDRESS_BYTES;
        sends[i].amount = BT_FUND_UKUMO;
        kumo__msg__init(&msgs[i]);
        msgs[i].sum_case = KUMO__MSG__SUM_SEND;
        msgs[i].send = &sends[i];
        ptrs[i] = &msgs[i];
    }
    bsn_tx_t tx;
    bsn_tx_sign(&g.net, &g.funder, bsn_sequence(&g.net, 0, g.funder_addr), g.min_fee * 100u, ptrs,
                n, &tx);
    bsn_tx_commit(&g.net, 0, &tx, "funding the tenants");
    free(tx.body);
    free(sends);
    free(msgs);
    free(ptrs);
}

/* A deployment message: groups (name, region, cpu, count) with version. */
typedef struct bt_dep {
    Kumo__ComputeUnit cu[KUMO_GROUP_COUNT_MAX];
    Kumo__ResourceGroup rg[KUMO_GROUP_COUNT_MAX];
    Kumo__ResourceGroup *rgp[KUMO_GROUP_COUNT_MAX];
    Kumo__GroupSpec spec[KUMO_GROUP_COUNT_MAX];
    Kumo__GroupSpec *specp[KUMO_GROUP_COUNT_MAX];
    uint8_t version[KUMO_VERSION_BYTES];
    Kumo__MsgSubmitDeployment sd;
    Kumo__Msg msg;
} bt_dep_t;

static void bt_dep_group(
    bt_dep_t *d, size_t i, const char *name, const char *region, uint64_t cpu_milli, uint32_t count)
{
    bt_unit(&d->cu[i], cpu_milli);
    kumo__resource_group__init(&d->rg[i]);
    d->rg[i].compute = &d->cu[i];
    d->rg[i].price = BT_PRICE;
    d->rg[i].collateral = BT_COLLATERAL;
    d->rg[i].count = count;
    d->rgp[i] = &d->rg[i];
    kumo__group_spec__init(&d->spec[i]);
    d->spec[i].name = (char *)(uintptr_t)name;
    d->spec[i].region = (char *)(uintptr_t)region;
    d->spec[i].n_resources = 1;
    d->spec[i].resources = &d->rgp[i];
    d->specp[i] = &d->spec[i];
}

static Kumo__Msg *bt_dep_msg(bt_dep_t *d, uint64_t dseq, size_t groups, const uint8_t *version)
{
    memcpy(d->version, version, KUMO_VERSION_BYTES);
    kumo__msg_submit_deployment__init(&d->sd);
    d->sd.dseq = dseq;
    d->sd.n_groups = groups;
    d->sd.groups = d->specp;
    d->sd.wait_blocks = 1;
    d->sd.version.data = d->version;
    d->sd.version.len = KUMO_VERSION_BYTES;
    d->sd.deposit = BT_DEPOSIT;
    kumo__msg__init(&d->msg);
    d->msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    d->msg.submit_deployment = &d->sd;
    return &d->msg;
}

static uint32_t bt_leases_read(bt_window_t *w, uint32_t *hostile_active);
static long bt_manifest_put(bt_tenant_t *t, uint64_t dseq, kumo_bytes_t m);
static uint32_t bt_running(const char *owner);

/* As `kumo deploy` does: the manifest of each honest deployment of the leases [0, to) goes to
 * the provider as soon as all its groups are leased. Returns the leases of [from, to) whose
 * deployment is not settled yet (neither uploaded nor one of its leases ended); from and to
 * are multiples of g.groups. */
static uint32_t bt_uploads_due(uint32_t from, uint32_t to)
{
    kumo_bytes_t m = kumo_buf_bytes(&g.honest_manifest);
    uint32_t open = 0;
    for (uint32_t first = 0; first < to; first += g.groups) {
        bt_lease_t *x = &g.leases[first];
        bool leased = true;
        bool ended = false;
        for (uint32_t i = 0; i < g.groups; i++) {
            leased = leased && x[i].active;
            ended = ended || (x[i].seen && !x[i].active);
        }
        if (leased && !x[0].uploaded) {
            uint32_t dseq = first % g.per_tenant / g.groups + 1u;
            long status = bt_manifest_put(&g.tenants[first / g.per_tenant], dseq, m);
            if (status != 200) {
                fprintf(stderr, "bench_tenants: manifest upload answered %ld\n", status);
                exit(1);
            }
            for (uint32_t i = 0; i < g.groups; i++) {
                x[i].uploaded = true;
            }
        }
        open += first >= from && !x[0].uploaded && !ended ? g.groups : 0u;
    }
    return open;
}

/* Every honest tenant submits its deployments (dseq 1..per_tenant/groups, groups g1..g<groups>
 * each) in one tx, a batch of tenants at a time (at most BT_ORDERS_PER_ROUND orders), the next
 * group once each lease of this one is won and its manifest uploaded: the daemon sends one bid tx
 * per order, and the node keeps at most mempool_future_seq_max (64) of an account's txs pending.
 * The daemon bids only as fast as its runtime starts containers (verdict busy), so a round takes as
 * long as its starts; the run stops if nothing moves for BT_STALL_S. */
static void bt_honest_deploy(void)
{
    uint32_t dep_count = g.per_tenant / g.groups;
    bt_dep_t *deps = calloc(dep_count, sizeof(*deps));
    Kumo__Msg **ptrs = calloc(dep_count, sizeof(*ptrs));
    bsn_tx_t *txs = calloc(g.tenant_count, sizeof(*txs));
    uint32_t per_round =
        BT_ORDERS_PER_ROUND / g.per_tenant > 0 ? BT_ORDERS_PER_ROUND / g.per_tenant : 1u;
    for (uint32_t from = 0; from < g.tenant_count; from += per_round) {
        uint32_t to = from + per_round < g.tenant_count ? from + per_round : g.tenant_count;
        for (uint32_t t = from; t < to; t++) {
            for (uint32_t k = 0; k < dep_count; k++) {
                for (uint32_t i = 0; i < g.groups; i++) {
                    bt_dep_group(&deps[k], i, bt_group_names[i], BT_REGION, BT_CPU_MILLI, 1);
                }
                ptrs[k] = bt_dep_msg(&deps[k], k + 1u, g.groups, g.honest_version);
            }
            bsn_tx_sign(&g.net, &g.tenants[t].kp, 0, g.min_fee * 10u, ptrs, dep_count, &txs[t]);
            if (bsn_tx_post(&g.net, 0, &txs[t]) != 200) {
                bench_die("a deployment tx was refused", KUMO_EIO, NULL);
            }
        }
        for (uint32_t t = from; t < to; t++) {
            uint64_t deadline = bench_now_ns() + 120ull * 1000000000ull;
            int64_t code = 0;
            while (bsn_tx_height(&g.net, 0, txs[t].hash, &code) < 0) {
                bsn_stop_check();
                if (bench_now_ns() > deadline) {
                    bench_die("deployments", KUMO_EIO, NULL);
                }
                usleep(100000); /* a block */
            }
            if (code != 0) {
                bench_die("a deployment tx failed", KUMO_EINVAL, NULL);
            }
            free(txs[t].body);
        }
        uint32_t open = UINT32_MAX;
        uint64_t moved = bench_now_ns();
        for (;;) {
            (void)bt_leases_read(NULL, NULL);
            uint32_t now_open = bt_uploads_due(from * g.per_tenant, to * g.per_tenant);
            if (now_open == 0) {
                break;
            }
            moved = now_open != open ? bench_now_ns() : moved;
            open = now_open;
            if (bench_now_ns() > moved + (uint64_t)BT_STALL_S * 1000000000ull) {
                bench_die("no lease was won for too long", KUMO_EIO, NULL);
            }
            usleep(500000); /* blocks */
        }
        fprintf(stderr, "bench_tenants: %u leases won, %u containers run\n", to * g.per_tenant,
                bt_running(NULL));
    }
    free(txs);
    free(deps);
    free(ptrs);
}

/* ---- leases ---- */

static bt_tenant_t *bt_tenant_of(const char *owner, uint32_t *index)
{
    for (uint32_t t = 0; t <= g.tenant_count; t++) {
        if (strcmp(g.tenants[t].addr, owner) == 0) {
            *index = t;
            return &g.tenants[t];
        }
    }
    return NULL;
}

/* Reads the provider's leases (asking again while the node does not answer for 60 s); the
 * honest ones into g.leases (gaps into w when not NULL).
 * Returns the honest leases active; *hostile_active gets the hostile's. */
static uint32_t bt_leases_read(bt_window_t *w, uint32_t *hostile_active)
{
    uint32_t active = 0;
    uint32_t hostile = 0;
    char page[128] = "";
    bsn_stop_check(); /* every wait loop reads the leases */
    for (;;) {
        char path[512];
        snprintf(path, sizeof(path), "/leases?provider=%s&limit=1000%s%s", g.provider_addr,
                 page[0] != '\0' ? "&page=" : "", page);
        long status = 0;
        json_t *l = bsn_http(&g.net, 0, path, NULL, &status);
        uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
        while (status != 200 && bench_now_ns() < deadline) { /* a busy node: ask again */
            bsn_stop_check();
            json_decref(l);
            usleep(200000);
            l = bsn_http(&g.net, 0, path, NULL, &status);
        }
        if (status != 200) {
            bench_die("the node did not list the leases", KUMO_EIO, NULL);
        }
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(l, "items"), i, item)
        {
            const json_t *oid = json_object_get(json_object_get(item, "id"), "order");
            const char *owner = json_string_value(json_object_get(oid, "owner"));
            uint64_t dseq = bsn_u64(oid, "dseq");
            uint64_t gseq = bsn_u64(oid, "gseq"); /* from 0 */
            const char *state = json_string_value(json_object_get(item, "state"));
            bool is_active = state != NULL && strcmp(state, "LEASE_ACTIVE") == 0;
            uint32_t t = 0;
            if (owner == NULL || bt_tenant_of(owner, &t) == NULL) {
                continue;
            }
            if (t == g.tenant_count) {
                hostile += is_active ? 1u : 0u;
                continue;
            }
            if (dseq == 0 || dseq > g.per_tenant / g.groups || gseq >= g.groups) {
                continue;
            }
            bt_lease_t *x =
                &g.leases[t * g.per_tenant + (uint32_t)(dseq - 1u) * g.groups + (uint32_t)gseq];
            x->seen = true;
            x->active = is_active;
            active += is_active ? 1u : 0u;
            uint64_t last = bsn_u64(item, "last_confirmed_height");
            if (w != NULL && last > x->last_confirmed && x->last_confirmed != 0) {
                uint64_t gap = last - x->last_confirmed;
                w->gaps[w->gap_count++] = gap;
                w->landed++;
                w->on_time += gap <= g.every + 1u + BT_ONTIME_GRACE ? 1u : 0u;
            }
            x->last_confirmed = last > x->last_confirmed ? last : x->last_confirmed;
        }
        const char *next = json_string_value(json_object_get(l, "next"));
        bool more = next != NULL && strlen(next) < sizeof(page);
        if (more) {
            snprintf(page, sizeof(page), "%s", next);
        }
        json_decref(l);
        if (!more) {
            break;
        }
    }
    if (hostile_active != NULL) {
        *hostile_active = hostile;
    }
    return active;
}

static void bt_leases_wait(uint32_t honest, uint32_t hostile)
{
    uint64_t deadline = bench_now_ns() + 300ull * 1000000000ull;
    uint32_t h = 0;
    while (bt_leases_read(NULL, &h) < honest || h < hostile) {
        if (bench_now_ns() > deadline) {
            bench_die("the leases did not all start", KUMO_EIO, NULL);
        }
        usleep(500000); /* blocks */
    }
}

/* ---- the provider API as a tenant ---- */

static size_t bt_discard_cb(char *p, size_t size, size_t count, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * count;
}

/* PUT path with body as tenant t; the HTTP status (0: no answer). */
static long bt_api_put(bt_tenant_t *t, const char *path, const void *body, size_t len)
{
    if (t->api == NULL) {
        t->api = curl_easy_init();
    }
    CURL *c = t->api;
    char url[512];
    char ca[900];
    snprintf(url, sizeof(url), "https://%s%s", g.api, path);
    snprintf(ca, sizeof(ca), "%s/ca.crt", g.home);
    struct curl_blob cb = {t->cert.ptr, t->cert.len, CURL_BLOB_COPY};
    struct curl_blob kb = {t->key_pem.ptr, t->key_pem.len, CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bt_discard_cb);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    return status;
}

static long bt_manifest_put(bt_tenant_t *t, uint64_t dseq, kumo_bytes_t m)
{
    char path[256];
    snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64 "/manifest", t->addr, dseq);
    return bt_api_put(t, path, m.ptr, m.len);
}

/* Running containers of the provider (and of owner when not NULL). */
static uint32_t bt_running(const char *owner)
{
    static kumo_runtime_container_t cs[KUMO_RUNTIME_LIST_COUNT_MAX];
    uint32_t n = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_container_list(g.rt, "kumo.provider", g.provider_addr, cs,
                                    KUMO_RUNTIME_LIST_COUNT_MAX, &n, &err) != 0) {
        return 0;
    }
    uint32_t running = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool mine = owner == NULL || strcmp(cs[i].owner, owner) == 0;
        running += mine && cs[i].state == KUMO_RUNTIME_STATE_RUNNING ? 1u : 0u;
    }
    return running;
}

/* Honest leases of [0, to) still active (g.leases as last read). */
static uint32_t bt_active_below(uint32_t to)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < to; i++) {
        n += g.leases[i].active ? 1u : 0u;
    }
    return n;
}

/* Waits until the containers of the honest leases of [0, to) still active, and extra more,
 * run (a lease that went stale meanwhile loses its container: it is counted at the end). */
static void bt_running_wait(uint32_t to, uint32_t extra, uint64_t timeout_s)
{
    uint64_t deadline = bench_now_ns() + timeout_s * 1000000000ull;
    for (;;) {
        (void)bt_leases_read(NULL, NULL);
        if (bt_running(NULL) >= bt_active_below(to) + extra) {
            return;
        }
        if (bench_now_ns() > deadline) {
            bench_die("the containers did not all start", KUMO_EIO, NULL);
        }
        usleep(500000); /* container starts take seconds */
    }
}

/* ---- the hostile tenant ---- */

typedef struct bt_hostile {
    kumo_buf_t huge;
    kumo_buf_t links_manifest;
    kumo_buf_t flood_manifest;
    uint8_t huge_version[KUMO_VERSION_BYTES];
    uint8_t links_version[KUMO_VERSION_BYTES];
    uint8_t flood_version[KUMO_VERSION_BYTES];
    pid_t pid;
    int fd;
} bt_hostile_t;

/* The flood: every round 250 connections held open (nc reading a FIFO that never gets data)
 * and 150 closed at once, 5 s, then all of them dropped; within the pids limit (512). */
static char bt_flood_cmd[] =
    "gw=$(busybox awk '$2 == \"srv\" { print $1; exit }' /etc/hosts); busybox mkfifo /tmp/hold; "
    "(busybox sleep 1000000 >/tmp/hold &); i=0; while true; do for j in $(busybox seq 250); do "
    "busybox nc $gw 8080 </tmp/hold >/dev/null 2>&1 & done; for j in $(busybox seq 150); do "
    "busybox nc $gw 8080 </dev/null >/dev/null 2>&1 & done; i=$((i + 400)); echo opened $i; "
    "busybox sleep 5; busybox killall nc >/dev/null 2>&1; wait; done";

static void bt_hostile_deploy(bt_hostile_t *h)
{
    bt_tenant_t *t = &g.tenants[g.tenant_count];
    bt_manifest_t b;
    bt_manifest_one(&b, UINT32_MAX);
    bt_manifest_pack(&b, &h->huge, h->huge_version);
    bt_manifest_two(&b, "db", "b", "web", "a", 7000, BT_CPU_MILLI);
    /* db (group b, nowhere) listens for web (group a, here): web's links name db. */
    b.w[0].name = "db";
    b.w[0].group = "b";
    b.w[1].name = "web";
    b.w[1].group = "a";
    b.w[1].n_ports = 0;
    b.w[0].n_ports = 1;
    b.w[0].ports = b.portp;
    b.rule.workload = "web";
    b.cmd[0] = "sleep";
    b.cmd[1] = "1000000";
    b.w[0].n_command = 2;
    b.w[0].command = b.cmd;
    b.w[1].n_command = 2;
    b.w[1].command = b.cmd;
    bt_manifest_pack(&b, &h->links_manifest, h->links_version);
    bt_manifest_two(&b, "flood", "g", "srv", "g", 8080, BT_HOSTILE_CPU);
    b.cmd[0] = "sh";
    b.cmd[1] = "-c";
    b.cmd[2] = bt_flood_cmd;
    b.w[0].n_command = 3;
    b.w[0].command = b.cmd;
    b.cmd2[0] = "httpd";
    b.cmd2[1] = "-f";
    b.cmd2[2] = "-p8080";
    b.w[1].n_command = 3;
    b.w[1].command = b.cmd2;
    bt_manifest_pack(&b, &h->flood_manifest, h->flood_version);

    bt_dep_t d[3];
    Kumo__Msg *ptrs[3];
    bt_dep_group(&d[0], 0, "g", BT_REGION, BT_CPU_MILLI, 1);
    ptrs[0] = bt_dep_msg(&d[0], BT_DSEQ_HUGE, 1, h->huge_version);
    bt_dep_group(&d[1], 0, "a", BT_REGION, BT_CPU_MILLI, 1);
    bt_dep_group(&d[1], 1, "b", "nowhere", BT_CPU_MILLI, 1);
    ptrs[1] = bt_dep_msg(&d[1], BT_DSEQ_LINKS, 2, h->links_version);
    bt_dep_group(&d[2], 0, "g", BT_REGION, BT_HOSTILE_CPU, 2);
    ptrs[2] = bt_dep_msg(&d[2], BT_DSEQ_FLOOD, 1, h->flood_version);
    bsn_tx_t tx;
    bsn_tx_sign(&g.net, &t->kp, 0, g.min_fee * 10u, ptrs, 3, &tx);
    bsn_tx_commit(&g.net, 0, &tx, "the hostile deployments");
    free(tx.body);
}

/* The hostile's uploads and links, back to back until killed; counts to fd on SIGTERM. */
static void bt_hostile_loop(bt_hostile_t *h, int fd)
{
    bsn_signals_catch();
    bt_tenant_t *t = &g.tenants[g.tenant_count];
    t->api = NULL;
    char links[4][256];
    snprintf(links[0], sizeof(links[0]),
             "{\"links\":[{\"workload\":\"db\",\"port\":7000,\"host\":\"127.0.0.1\","
             "\"host_port\":%u}]}",
             bsn_rpc_port(&g.net, 0));
    snprintf(links[1], sizeof(links[1]),
             "{\"links\":[{\"workload\":\"db\",\"port\":7000,\"host\":\"169.254.169.254\","
             "\"host_port\":80}]}");
    snprintf(links[2], sizeof(links[2]),
             "{\"links\":[{\"workload\":\"db\",\"port\":7000,\"host\":\"10.88.0.1\","
             "\"host_port\":22}]}");
    snprintf(links[3], sizeof(links[3]),
             "{\"links\":[{\"workload\":\"db\",\"port\":7000,\"host\":\"127.0.0.1\","
             "\"host_port\":%u}]}",
             g.net.base_port + 5u);
    char path[256];
    snprintf(path, sizeof(path), "/deployments/%s/%u/links", t->addr, BT_DSEQ_LINKS);
    uint64_t counts[2][6] = {{0}}; /* [manifest|links][2xx 4xx-refused 413 5xx none other] */
    for (uint64_t i = 0; !bsn_signal; i++) {
        bool is_links = i % 2u == 1u;
        long st = is_links ? bt_api_put(t, path, links[i / 2u % 4u], strlen(links[i / 2u % 4u]))
                           : bt_manifest_put(t, BT_DSEQ_HUGE, kumo_buf_bytes(&h->huge));
        size_t k = st >= 200 && st < 300    ? 0
                   : st == 422 || st == 404 ? 1
                   : st == 413              ? 2
                   : st >= 500              ? 3
                   : st == 0                ? 4
                                            : 5;
        counts[is_links][k]++;
    }
    char line[256];
    int len = snprintf(line, sizeof(line),
                       "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                       counts[0][0], counts[0][1] + counts[0][2] + counts[0][5],
                       counts[0][3] + counts[0][4], counts[1][0],
                       counts[1][1] + counts[1][2] + counts[1][5], counts[1][3] + counts[1][4]);
    if (write(fd, line, (size_t)len) != len) {
        _exit(1);
    }
    _exit(0);
}

/* Deploys, waits for its 4 leases (huge 1, links 1 of 2 groups, flood 2 units in one group:
 * 3 leases) and the flood's containers, then starts the API loop. */
static void bt_hostile_start(bt_hostile_t *h)
{
    bt_hostile_deploy(h);
    bt_leases_wait(0, 3); /* honest leases may have gone stale: the windows count them */
    bt_tenant_t *t = &g.tenants[g.tenant_count];
    long st = bt_manifest_put(t, BT_DSEQ_FLOOD, kumo_buf_bytes(&h->flood_manifest));
    long st_links = bt_manifest_put(t, BT_DSEQ_LINKS, kumo_buf_bytes(&h->links_manifest));
    long st_huge = bt_manifest_put(t, BT_DSEQ_HUGE, kumo_buf_bytes(&h->huge));
    fprintf(stderr, "bench_tenants: hostile uploads: flood %ld, links %ld, huge count %ld\n", st,
            st_links, st_huge);
    if (st != 200 || st_links != 200) {
        bench_die("the hostile's valid manifests were refused", KUMO_EINVAL, NULL);
    }
    bt_running_wait(g.lease_count, 3, 300); /* flood, srv and web */
    fflush(stdout);
    int p[2];
    if (pipe(p) != 0) {
        exit(1);
    }
    h->pid = fork();
    if (h->pid == 0) {
        close(p[0]);
        bt_hostile_loop(h, p[1]);
    }
    close(p[1]);
    h->fd = p[0];
    g.hostile_pid = h->pid;
}

static void bt_hostile_stop(bt_hostile_t *h, uint64_t out[6])
{
    kill(h->pid, SIGTERM);
    char line[256] = {0};
    ssize_t len = read(h->fd, line, sizeof(line) - 1);
    if (len <= 0 ||
        sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
               &out[0], &out[1], &out[2], &out[3], &out[4], &out[5]) != 6) {
        fprintf(stderr, "bench_tenants: no counts from the hostile loop\n");
    }
    close(h->fd);
    waitpid(h->pid, NULL, 0);
    g.hostile_pid = 0;
}

/* Connections the flood workload reports having opened (its last "opened N" line). */
static uint64_t bt_flood_opened(const bt_tenant_t *t)
{
    char cmd[800];
    snprintf(cmd, sizeof(cmd),
             "podman logs $(podman ps -q --filter label=kumo.owner=%s --filter "
             "label=kumo.workload=flood | head -n 1) 2>/dev/null | tail -n 1",
             t->addr);
    FILE *p = popen(cmd, "r");
    char line[128] = {0};
    uint64_t n = 0;
    if (p != NULL && fgets(line, sizeof(line), p) != NULL) {
        (void)sscanf(line, "opened %" SCNu64, &n);
    }
    if (p != NULL) {
        pclose(p);
    }
    return n;
}

/* ---- windows ---- */

static void bt_window_run(bt_window_t *w, uint64_t blocks)
{
    w->gaps = calloc((size_t)g.lease_count * (blocks + 1u), sizeof(uint64_t));
    uint32_t active_before = bt_leases_read(NULL, NULL);
    uint64_t head = bsn_height(&g.net, 0);
    uint64_t end = head + blocks;
    while (head < end) {
        head = bsn_height_after(&g.net, 0, head);
        bt_leases_read(w, NULL);
        w->blocks++;
    }
    w->stale = active_before - bt_leases_read(NULL, NULL);
    /* Due: every confirmation that landed, and one more for each lease overdue at the end. */
    uint64_t overdue = 0;
    for (uint32_t i = 0; i < g.lease_count; i++) {
        bool late = head > g.leases[i].last_confirmed + g.every + 1u + BT_ONTIME_GRACE;
        overdue += g.leases[i].active && late ? 1u : 0u;
    }
    w->due = w->landed + overdue;
}

static void bt_window_print(const char *prefix, bt_window_t *w)
{
    char name[96];
#define BT_OUT(suffix, value, unit)                            \
    do {                                                       \
        snprintf(name, sizeof(name), "%s_%s", prefix, suffix); \
        bench_result(name, value, unit);                       \
    } while (0)
    BT_OUT("blocks", w->blocks, "blocks");
    BT_OUT("leases_stale", w->stale, "leases");
    BT_OUT("confirmations_due", w->due, "confirmations");
    BT_OUT("confirmations_landed", w->landed, "confirmations");
    BT_OUT("confirmations_on_time", w->on_time, "confirmations");
    snprintf(name, sizeof(name), "%s_on_time_vs_due", prefix);
    bench_ratio(name, w->on_time, w->due);
    BT_OUT("confirm_gap_p50_blocks", bsn_quantile(w->gaps, w->gap_count, 500), "blocks");
    BT_OUT("confirm_gap_p99_blocks", bsn_quantile(w->gaps, w->gap_count, 990), "blocks");
    BT_OUT("confirm_gap_max_blocks", bsn_quantile(w->gaps, w->gap_count, 1000), "blocks");
#undef BT_OUT
}

int main(int argc, char **argv)
{
    uint64_t t_start = bench_now_ns();
    g.lease_count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 50u;
    g.tenant_count = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10u;
    uint64_t window = argc > 3 ? strtoull(argv[3], NULL, 10) : 90u;
    g.groups = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1u;
    uint64_t third = BT_PERIOD / 3u;
    g.every = third < BT_PERIOD - BT_MARGIN_BLOCKS ? third : BT_PERIOD - BT_MARGIN_BLOCKS;
    uint64_t window_min = g.every + 1u + BT_ONTIME_GRACE;
    if (argc > 5 || g.tenant_count == 0 || g.tenant_count > BT_TENANTS_MAX || g.lease_count == 0 ||
        g.lease_count > BT_LEASES_MAX || g.lease_count % g.tenant_count != 0 ||
        g.lease_count / g.tenant_count > BT_PER_TX_MAX || window < window_min || g.groups == 0 ||
        g.groups > KUMO_GROUP_COUNT_MAX || g.lease_count / g.tenant_count % g.groups != 0) {
        fprintf(stderr,
                "usage: bench_tenants [leases <= %u] [tenants dividing leases, <= %u leases "
                "each] [window_blocks >= %" PRIu64 "] [groups per deployment 1..%u, dividing "
                "each tenant's leases]   (default 50 10 90 1)\n",
                BT_LEASES_MAX, BT_PER_TX_MAX, window_min, KUMO_GROUP_COUNT_MAX);
        return 2;
    }
    g.per_tenant = g.lease_count / g.tenant_count;
    g.main_pid = getpid();
    if (kumo_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        return 1;
    }
    bsn_kumo_find(&g.net);
    bsn_start(&g.net, "tenants", 1, 1, BT_BLOCK_MS, NULL, BT_PERIOD);
    bsn_signals_catch();
    fprintf(stderr,
            "bench_tenants: testnet in %s, %u leases of %u tenants, %u groups per deployment\n",
            g.net.dir, g.lease_count, g.tenant_count, g.groups);
    bt_podman_start();
    atexit(bt_cleanup);
    bsn_key_load(&g.net, "tenant", "tenant", &g.funder, g.funder_addr);
    bsn_height_after(&g.net, 0, 1);
    json_t *p = bsn_http(&g.net, 0, "/params", NULL, NULL);
    g.min_fee = bsn_u64(p, "min_fee");
    json_decref(p);
    bt_provider_add();
    bt_raw_t raw = {0};
    bt_raw_measure(&raw);
    for (uint32_t t = 0; t < g.tenant_count; t++) {
        bt_tenant_init(&g.tenants[t], BT_HONEST_FAMILY, t);
    }
    bt_tenant_init(&g.tenants[g.tenant_count], BT_HOSTILE_FAMILY, 0);
    bt_manifest_honest();
    bt_tenants_fund();
    uint64_t t_leases = bench_now_ns();
    bt_honest_deploy();
    uint64_t lease_ns = bench_now_ns() - t_leases;
    bt_running_wait(g.lease_count, 0, BT_START_WAIT_S);
    uint64_t run_ns = bench_now_ns() - t_leases;
    uint32_t start_stale = g.lease_count - bt_leases_read(NULL, NULL);
    fprintf(stderr, "bench_tenants: %u containers run; clean window\n", g.lease_count);
    uint64_t settled = bsn_height(&g.net, 0) + g.every; /* past the last start */
    for (uint64_t head = 0; head <= settled;) {
        bsn_stop_check();
        head = bsn_height_after(&g.net, 0, head);
    }
    bt_window_run(&g.windows[0], window);
    bt_hostile_t h = {0};
    fprintf(stderr, "bench_tenants: the hostile tenant arrives\n");
    bt_hostile_start(&h);
    fprintf(stderr, "bench_tenants: hostile window\n");
    bt_window_run(&g.windows[1], window);
    uint64_t flood_opened = bt_flood_opened(&g.tenants[g.tenant_count]);
    uint64_t hostile_counts[6] = {0};
    bt_hostile_stop(&h, hostile_counts);
    uint32_t honest_running = bt_running(NULL) - bt_running(g.tenants[g.tenant_count].addr);
    uint32_t hostile_active = 0;
    uint32_t honest_active = bt_leases_read(NULL, &hostile_active);

    bench_result("tenants_leases", g.lease_count, "leases");
    bench_result("tenants_tenants", g.tenant_count, "tenants");
    bench_result("tenants_groups_per_deployment", g.groups, "groups");
    bench_result("tenants_deployments", g.lease_count / g.groups, "deployments");
    bench_result("tenants_reconfirmation_period_blocks", BT_PERIOD, "blocks");
    bench_result("tenants_confirm_every_blocks", g.every, "blocks");
    bench_result("tenants_block_interval_ms", BT_BLOCK_MS, "ms");
    bench_result("tenants_leases_start_ms", lease_ns / 1000000u, "ms");
    bench_result("tenants_containers_start_ms", run_ns / 1000000u, "ms");
    bench_result("tenants_leases_stale_while_starting", start_stale, "leases");
    bench_result("tenants_container_start_per_min", bench_rate(g.lease_count * 60u, run_ns),
                 "1/min");
    bench_result("tenants_lease_start_ms_each", run_ns / 1000000u / g.lease_count, "ms");
    bench_result("raw_network_create_ms", raw.network_create_ms, "ms");
    bench_result("raw_container_run_ms", raw.container_run_ms, "ms");
    bench_result("raw_container_remove_ms", raw.container_remove_ms, "ms");
    bench_result("raw_network_remove_ms", raw.network_remove_ms, "ms");
    bench_result("raw_network_lost", raw.network_lost, "starts");
    /* What starting 1,000 one-container deployments would take at the raw rate. */
    bench_result("raw_projected_1000_leases_start_s",
                 (raw.network_create_ms + raw.container_run_ms) * 1000u / 1000u, "s");
    bt_window_print("clean", &g.windows[0]);
    bt_window_print("hostile", &g.windows[1]);
    bench_result("hostile_huge_manifest_accepted", hostile_counts[0], "requests");
    bench_result("hostile_huge_manifest_refused", hostile_counts[1], "requests");
    bench_result("hostile_huge_manifest_unanswered", hostile_counts[2], "requests");
    bench_result("hostile_links_accepted", hostile_counts[3], "requests");
    bench_result("hostile_links_refused", hostile_counts[4], "requests");
    bench_result("hostile_links_unanswered", hostile_counts[5], "requests");
    bench_result("hostile_flood_connections_opened", flood_opened, "connections");
    bench_result("hostile_leases_active_at_end", hostile_active, "leases");
    bench_result("honest_leases_active_at_end", honest_active, "leases");
    bench_result("honest_containers_running_at_end", honest_running, "containers");
    bench_ratio("hostile_vs_clean_on_time", g.windows[1].on_time * 1000u / (g.windows[1].due + 1u),
                g.windows[0].on_time * 1000u / (g.windows[0].due + 1u));
    bench_ratio("hostile_vs_clean_confirm_gap_p99",
                bsn_quantile(g.windows[1].gaps, g.windows[1].gap_count, 990),
                bsn_quantile(g.windows[0].gaps, g.windows[0].gap_count, 990));
    bt_cleanup();
    bsn_stop(&g.net, getenv("BENCH_KEEP") != NULL);
    bench_result("bench_tenants_seconds", (bench_now_ns() - t_start) / 1000000000ull, "s");
    return 0;
}
