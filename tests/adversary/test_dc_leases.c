/*
 * test_dc_leases.c - the provider daemon's lease table and its bidding, with real processes:
 * one validator (400 ms blocks), a private podman service, two provider daemons, and tenants'
 * deployments sent with `kumo tx deployment create` (no manifest: the provider stands ready
 * and confirms).
 *   - east holds at most 2 leases (lease_count_max: 2): of three orders it bids on two and
 *     says "full" for the third; both leases stay active and are confirmed. Restarted with a
 *     table of 1 while it holds 2, it drops neither (both confirmed again) and still does not
 *     bid.
 *   - south's runtime (the podman service) goes away: an order opened meanwhile gets no bid
 *     (reason runtime); when the runtime is back, south bids on it and wins the lease.
 *   - a second `kumo provider start` on east's home while east runs exits at once, naming
 *     east's pid, and east goes on confirming (without the home lock both ran, bid twice and
 *     removed each other's containers).
 * Against a daemon without these: lease_count_max is an unknown setting (no table, it bids on
 * whatever fits and drops the leases past its fixed table), and an order opened during an
 * outage never gets a bid (open orders were scanned only at start).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"

#define BLOCK_MS  400u
#define UNIT_ARGS "cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"
#define VERSION   "2222222222222222222222222222222222222222222222222222222222222222"

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t east, south;
    char tenant[KUMO_ADDRESS_TEXT_BYTES];
    bool up;
} g_t;

static g_t g;

static void deployment_create(uint64_t dseq, const char *region)
{
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx deployment create --home %s/tenant --from tenant "
                                        "--node http://127.0.0.1:%u --dseq %llu --wait-blocks 1 "
                                        "--deposit 200000 --version " VERSION
                                        " --group name=g,region=%s," UNIT_ARGS " --wait",
                                        g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                                        (unsigned long long)dseq, region),
                     0);
}

/* provider's active lease of the tenant's deployment dseq, as JSON (NULL while none). */
static json_t *lease_get(uint64_t dseq, const char *provider)
{
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%llu&provider=%s&state=LEASE_ACTIVE&limit=1", g.tenant,
                   (unsigned long long)dseq, provider);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    json_t *item = json_incref(json_array_get(json_object_get(l, "items"), 0));
    json_decref(l);
    return item;
}

static void lease_wait(uint64_t dseq, const kumo_test_dc_t *dc)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    json_t *l = NULL;
    while ((l = lease_get(dseq, dc->addr)) == NULL) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(dc);
            fail_msg("no lease of deployment %llu at %s", (unsigned long long)dseq, dc->addr);
        }
        kumo_test_pause_ms(200);
    }
    json_decref(l);
}

/* The lease of deployment dseq at dc stays active and is confirmed after height h. */
static void confirmed_after(uint64_t dseq, const kumo_test_dc_t *dc, int64_t h)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *l = lease_get(dseq, dc->addr);
        if (l == NULL) {
            kumo_test_dc_log_print(dc);
            fail_msg("the lease of deployment %llu is no longer active", (unsigned long long)dseq);
        }
        uint64_t last = kumo_test_json_u64(l, "last_confirmed_height");
        json_decref(l);
        if (last > (uint64_t)h) {
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(dc);
            fail_msg("deployment %llu not confirmed after %lld", (unsigned long long)dseq,
                     (long long)h);
        }
        kumo_test_pause_ms(200);
    }
}

/* Bids of provider on the tenant's order (dseq, group 0, oseq 1). */
static size_t bids_on(uint64_t dseq, const char *provider)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "/fulfillments?order=%s/%llu/0/1&provider=%s", g.tenant,
                   (unsigned long long)dseq, provider);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    size_t n = json_array_size(json_object_get(l, "items"));
    json_decref(l);
    return n;
}

static void test_full_table_stops_bidding(void **state)
{
    (void)state;
    assert_true(g.up);
    deployment_create(11, "us-east");
    deployment_create(12, "us-east");
    deployment_create(13, "us-east");
    lease_wait(11, &g.east);
    lease_wait(12, &g.east);
    assert_true(kumo_test_dc_wait_log(&g.east, "reason=full", 1, KUMO_TEST_NET_WAIT_MS));
    int64_t h = kumo_test_net_height(&g.net, 0);
    confirmed_after(11, &g.east, h);
    confirmed_after(12, &g.east, h);
    assert_int_equal(bids_on(13, g.east.addr), 0);
    assert_null(lease_get(13, g.east.addr));

    /* A smaller table than what it holds: it keeps both, and bids on nothing. */
    size_t full_before = kumo_test_dc_log_count(&g.east, "reason=full");
    kumo_test_dc_stop(&g.east);
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/config.yaml", g.east.home);
    kumo_test_net_cfg_apply(path, "lease_count_max: 1\n");
    assert_int_equal(kumo_test_dc_start(&g.net, &g.east), 0);
    assert_true(
        kumo_test_dc_wait_log(&g.east, "reason=full", full_before + 1u, KUMO_TEST_NET_WAIT_MS));
    h = kumo_test_net_height(&g.net, 0);
    confirmed_after(11, &g.east, h);
    confirmed_after(12, &g.east, h);
    assert_int_equal(bids_on(13, g.east.addr), 0);
    assert_int_equal(kumo_test_dc_log_count(&g.east, "event=lease_table_full"), 0);
}

static void test_orders_during_outage_get_bids(void **state)
{
    (void)state;
    assert_true(g.up);
    kumo_test_podman_pause(&g.pm); /* its socket is gone when this returns */
    deployment_create(21, "us-south");
    if (!kumo_test_dc_wait_log(&g.south, "reason=runtime", 1, KUMO_TEST_NET_WAIT_MS)) {
        kumo_test_dc_log_print(&g.south);
        fail_msg("south did not see the order while its runtime was down");
    }
    assert_int_equal(bids_on(21, g.south.addr), 0);
    assert_true(kumo_test_podman_resume(&g.pm));
    lease_wait(21, &g.south);
    assert_true(kumo_test_dc_log_count(&g.south, "event=runtime_down") >= 1u);
    assert_true(kumo_test_dc_log_count(&g.south, "event=orders_rescan") >= 1u);
}

static void test_second_daemon_on_home_refused(void **state)
{
    (void)state;
    assert_true(g.up);
    char cmd[PATH_MAX * 3];
    (void)snprintf(cmd, sizeof(cmd), "timeout 60 '%s' provider start --home '%s' 2>&1", g.net.kumo,
                   g.east.home);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t len = fread(out, 1, sizeof(out) - 1u, p);
    out[len] = '\0';
    int status = pclose(p);
    fprintf(stderr, "second daemon (status %d) said: %s", status, out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    char want[2 * PATH_MAX + 64];
    (void)snprintf(want, sizeof(want), "home %s is in use by another kumo process (pid %ld)",
                   g.east.home, (long)g.east.pid);
    assert_non_null(strstr(out, want));
    confirmed_after(11, &g.east, kumo_test_net_height(&g.net, 0));
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    if (!kumo_test_podman_start(&g.pm)) {
        return -1;
    }
    if (kumo_test_net_start(&g.net, 1, BLOCK_MS, "--providers 2") != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, "lease_count_max: 2\n", &g.east) != 0 ||
        kumo_test_dc_add(&g.net, 1, "us-south", g.pm.socket, NULL, &g.south) != 0) {
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
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g.pm.pid == 0 && g.pm.dir[0] != '\0') {
        (void)kumo_test_podman_resume(&g.pm); /* to clean up after a failed outage test */
    }
    kumo_test_dc_remove(&g.east);
    kumo_test_dc_remove(&g.south);
    kumo_test_net_stop(&g.net);
    kumo_test_podman_stop(&g.pm);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_table_stops_bidding),
        cmocka_unit_test(test_orders_during_outage_get_bids),
        cmocka_unit_test(test_second_daemon_on_home_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
