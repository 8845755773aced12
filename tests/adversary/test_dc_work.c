/*
 * test_dc_work.c - slow runtime work and refused bids never cost a provider its other
 * leases or its bids, with real processes: one validator (800 ms blocks, reconfirmation
 * period 30 blocks: a start on a loaded machine fits in it; `mempool_future_seq_max: 1`: one
 * pending tx per account), a private podman service reached by the daemon through a proxy
 * socket of this test that can hold every DELETE (container and network removals) for a
 * while, and one provider daemon.
 *   - a tenant closes three running deployments at once while each removal takes 8 s: the
 *     daemon's lease of another tenant keeps being confirmed (never more than the period
 *     behind, never stale), and the closed leases are released once their containers are gone;
 *   - twelve tenants open an order each in the same moment: the node takes one bid tx of the
 *     provider per block, and every order still gets its bid.
 * Against a daemon that removes containers in its reconcile pass, the pass holds for 48 s
 * (60 blocks) and the other lease goes stale; against one that sends a bid tx per order and
 * never retries a refused one, most of the burst gets no bid.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"

#define BLOCK_MS       800u
#define PERIOD         30
#define CLOSE_COUNT    3u
#define DSEQ_CLOSE     40u
#define DSEQ_HONEST    7u
#define BURST_COUNT    12u
#define DSEQ_BURST     100u
#define REMOVE_HOLD_MS 8000u
#define UNIT_ARGS      "cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"
#define VERSION        "3333333333333333333333333333333333333333333333333333333333333333"

/* ---- a proxy in front of the podman socket that holds DELETE requests ---- */

typedef struct slow_proxy {
    int fd;
    char path[108];
    char upstream[108];
    atomic_uint hold_ms;
    atomic_bool stop;
    pthread_t thread;
} slow_proxy_t;

typedef struct slow_conn {
    slow_proxy_t *p;
    int client;
} slow_conn_t;

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    (void)snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Relays one client connection; a chunk from the client that starts a DELETE request waits
 * hold_ms first (the runtime's answer to a removal comes that much later). */
static void *slow_conn_run(void *arg)
{
    slow_conn_t *c = arg;
    int up = unix_connect(c->p->upstream);
    struct pollfd fds[2] = {{c->client, POLLIN, 0}, {up, POLLIN, 0}};
    char buf[65536];
    while (up >= 0 && !atomic_load(&c->p->stop) && poll(fds, 2, 500) >= 0) {
        bool ok = true;
        if (fds[0].revents != 0) {
            ssize_t n = recv(c->client, buf, sizeof(buf), 0);
            if (n > 7 && memcmp(buf, "DELETE ", 7) == 0 && atomic_load(&c->p->hold_ms) > 0) {
                kumo_test_pause_ms(atomic_load(&c->p->hold_ms));
            }
            ok = n > 0 && send_all(up, buf, (size_t)n);
        }
        if (ok && fds[1].revents != 0) {
            ssize_t n = recv(up, buf, sizeof(buf), 0);
            ok = n > 0 && send_all(c->client, buf, (size_t)n);
        }
        if (!ok) {
            break;
        }
    }
    if (up >= 0) {
        (void)close(up);
    }
    (void)close(c->client);
    free(c);
    return NULL;
}

static void *slow_accept_run(void *arg)
{
    slow_proxy_t *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {p->fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0) {
            continue;
        }
        int client = accept(p->fd, NULL, NULL);
        slow_conn_t *c = client >= 0 ? calloc(1, sizeof(*c)) : NULL;
        pthread_t t;
        if (c == NULL) {
            if (client >= 0) {
                (void)close(client);
            }
            continue;
        }
        c->p = p;
        c->client = client;
        if (pthread_create(&t, NULL, slow_conn_run, c) != 0) {
            (void)close(client);
            free(c);
            continue;
        }
        (void)pthread_detach(t);
    }
    return NULL;
}

static bool slow_proxy_start(slow_proxy_t *p, const char *dir, const char *upstream)
{
    (void)snprintf(p->path, sizeof(p->path), "%s/slow.sock", dir);
    (void)snprintf(p->upstream, sizeof(p->upstream), "%s", upstream);
    p->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    (void)snprintf(a.sun_path, sizeof(a.sun_path), "%s", p->path);
    (void)unlink(p->path);
    if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(p->fd, 64) != 0) {
        fprintf(stderr, "slow proxy on %s: %s\n", p->path, strerror(errno));
        return false;
    }
    return pthread_create(&p->thread, NULL, slow_accept_run, p) == 0;
}

static void slow_proxy_stop(slow_proxy_t *p)
{
    if (p->path[0] == '\0') {
        return;
    }
    atomic_store(&p->stop, true);
    (void)pthread_join(p->thread, NULL);
    (void)close(p->fd);
    (void)unlink(p->path);
}

/* ---- the test ---- */

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    slow_proxy_t proxy;
    kumo_test_dc_t dc;
    char tenant[KUMO_ADDRESS_TEXT_BYTES];
    char honest[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_keypair_t honest_key;
    bool up;
} g_t;

static g_t g;

/* The active lease of owner's deployment dseq at our provider, as JSON (NULL while none). */
static json_t *lease_get(const char *owner, uint64_t dseq, const char *state)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%llu&provider=%s&state=%s&limit=1",
                   owner, (unsigned long long)dseq, g.dc.addr, state);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    json_t *item = json_incref(json_array_get(json_object_get(l, "items"), 0));
    json_decref(l);
    return item;
}

static void fail_with_logs(const char *what)
{
    kumo_test_dc_log_print(&g.dc);
    fail_msg("%s", what);
}

/* The honest lease is active and at most PERIOD - 1 blocks behind its last confirmation. */
static void honest_check(void)
{
    json_t *l = lease_get(g.honest, DSEQ_HONEST, "LEASE_ACTIVE");
    if (l == NULL) {
        fail_with_logs("the honest lease is no longer active");
    }
    uint64_t last = kumo_test_json_u64(l, "last_confirmed_height");
    json_decref(l);
    int64_t h = kumo_test_net_height(&g.net, 0);
    if (h - (int64_t)last >= PERIOD) {
        kumo_test_dc_log_print(&g.dc);
        fail_msg("the honest lease was last confirmed at %llu, height %lld",
                 (unsigned long long)last, (long long)h);
    }
}

static void test_removals_never_hold_confirmations(void **state)
{
    (void)state;
    assert_true(g.up);
    size_t removed_before = kumo_test_dc_log_count(&g.dc, "event=network_removed");
    atomic_store(&g.proxy.hold_ms, REMOVE_HOLD_MS);
    for (uint32_t i = 0; i < CLOSE_COUNT; i++) {
        assert_int_equal(kumo_test_net_kumo(&g.net,
                                            "tx deployment close --from tenant --home %s/tenant "
                                            "--node http://127.0.0.1:%u %u --wait",
                                            g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                                            DSEQ_CLOSE + i),
                         0);
    }
    /* Every removal (a container and a network per deployment) takes REMOVE_HOLD_MS; the
     * honest lease is watched all along. */
    uint64_t deadline = kumo_test_now_ms() + 2u * CLOSE_COUNT * REMOVE_HOLD_MS + 120000u;
    while (kumo_test_dc_log_count(&g.dc, "event=network_removed") < removed_before + CLOSE_COUNT) {
        honest_check();
        if (kumo_test_now_ms() > deadline) {
            fail_with_logs("the closed deployments' networks were not removed");
        }
        kumo_test_pause_ms(300);
    }
    atomic_store(&g.proxy.hold_ms, 0);
    for (uint32_t i = 0; i < CLOSE_COUNT; i++) {
        uint64_t until = kumo_test_now_ms() + 60000u;
        json_t *l = NULL;
        while ((l = lease_get(g.tenant, DSEQ_CLOSE + i, "LEASE_CLOSING")) != NULL) {
            json_decref(l);
            honest_check();
            if (kumo_test_now_ms() > until) {
                fail_with_logs("a closed lease was not released");
            }
            kumo_test_pause_ms(300);
        }
    }
    honest_check();
}

/* Bids of our provider on owner's order (dseq, group 0, oseq 1). */
static size_t bids_on(const char *owner, uint64_t dseq)
{
    char path[1024];
    (void)snprintf(path, sizeof(path), "/fulfillments?order=%s/%llu/0/1&provider=%s", owner,
                   (unsigned long long)dseq, g.dc.addr);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    size_t n = json_array_size(json_object_get(l, "items"));
    json_decref(l);
    return n;
}

static void test_refused_bids_are_retried(void **state)
{
    (void)state;
    assert_true(g.up);
    char owners[BURST_COUNT][KUMO_ADDRESS_TEXT_BYTES];
    char script[PATH_MAX * 2];
    (void)snprintf(script, sizeof(script), "%s/burst.sh", g.net.dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    for (uint32_t i = 0; i < BURST_COUNT; i++) {
        char name[32];
        kumo_crypto_keypair_t key;
        (void)snprintf(name, sizeof(name), "burst%u", i);
        kumo_test_account_make(&g.net, name, (uint8_t)(0x20 + i), 5000000u, &key, owners[i]);
        fprintf(f,
                "'%s' tx deployment create --home %s/%s --from %s --node http://127.0.0.1:%u "
                "--dseq %u --wait-blocks 1 --deposit 200000 --version " VERSION
                " --group name=g,region=us-east," UNIT_ARGS " >>%s/burst.log 2>&1 &\n",
                g.net.kumo, g.net.dir, name, name, kumo_test_net_rpc_port(&g.net, 0),
                DSEQ_BURST + i, g.net.dir);
    }
    fprintf(f, "wait\n");
    assert_int_equal(fclose(f), 0);
    char cmd[PATH_MAX * 3];
    (void)snprintf(cmd, sizeof(cmd), "sh '%s'", script);
    assert_int_equal(system(cmd), 0);
    uint64_t deadline = kumo_test_now_ms() + 90000u;
    for (uint32_t i = 0; i < BURST_COUNT; i++) {
        while (bids_on(owners[i], DSEQ_BURST + i) == 0) {
            if (kumo_test_now_ms() > deadline) {
                fail_with_logs("an order of the burst got no bid");
            }
            kumo_test_pause_ms(300);
        }
    }
    honest_check();
}

/* ---- setup ---- */

static int closer_deploy(uint64_t dseq)
{
    static const char stack[] =
        "version: \"1\"\n"
        "groups:\n"
        "  web:\n"
        "    region: us-east\n"
        "    resources:\n"
        "      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 100, collateral: 1000}\n"
        "workloads:\n"
        "  web:\n"
        "    image: localhost/kumo-test-busybox:1\n"
        "    command: [sleep, \"100000\"]\n"
        "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
        "    group: web\n"
        "wait_blocks: 1\n"
        "deposit: 1000000\n";
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/closer%llu.yml", g.net.dir, (unsigned long long)dseq);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(stack, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    if (kumo_test_net_kumo(&g.net,
                           "deploy create %s --from tenant --home %s/tenant --node "
                           "http://127.0.0.1:%u --dseq %llu --timeout 120",
                           path, g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                           (unsigned long long)dseq) != 0) {
        fprintf(stderr, "kumo deploy create of deployment %llu failed\n", (unsigned long long)dseq);
        kumo_test_dc_log_print(&g.dc);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image() ||
        !slow_proxy_start(&g.proxy, g.pm.dir, g.pm.socket)) {
        return -1;
    }
    if (kumo_test_net_start_cfg(&g.net, 1, BLOCK_MS, "--providers 1",
                                "mempool_future_seq_max: 1\n") != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.proxy.path, NULL, &g.dc) != 0) {
        return -1;
    }
    char cmd[PATH_MAX * 2];
    (void)snprintf(cmd, sizeof(cmd), "'%s' keys show tenant --address --home '%s/tenant'",
                   g.net.kumo, g.net.dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(g.tenant, sizeof(g.tenant), p));
    (void)pclose(p);
    g.tenant[strcspn(g.tenant, "\r\n")] = '\0';
    /* The honest lease stands ready (no manifest): confirmed every period/3 blocks. */
    kumo_test_account_make(&g.net, "honest", 0x11, 5000000u, &g.honest_key, g.honest);
    if (kumo_test_net_kumo(&g.net,
                           "tx deployment create --home %s/honest --from honest --node "
                           "http://127.0.0.1:%u --dseq %u --wait-blocks 1 --deposit 200000 "
                           "--version " VERSION " --group name=g,region=us-east," UNIT_ARGS
                           " --wait",
                           g.net.dir, kumo_test_net_rpc_port(&g.net, 0), DSEQ_HONEST) != 0) {
        return -1;
    }
    for (uint32_t i = 0; i < CLOSE_COUNT; i++) {
        if (closer_deploy(DSEQ_CLOSE + i) != 0) {
            return -1;
        }
    }
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    json_t *l = NULL;
    while ((l = lease_get(g.honest, DSEQ_HONEST, "LEASE_ACTIVE")) == NULL) {
        if (kumo_test_now_ms() > deadline) {
            fprintf(stderr, "no honest lease\n");
            return -1;
        }
        kumo_test_pause_ms(200);
    }
    json_decref(l);
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_dc_remove(&g.dc);
    kumo_test_net_stop(&g.net);
    slow_proxy_stop(&g.proxy);
    kumo_test_podman_stop(&g.pm);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_removals_never_hold_confirmations),
        cmocka_unit_test(test_refused_bids_are_retried),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
