/*
 * test_broken_manifest.c - a tenant's manifest that cannot run must cost the tenant, never the
 * honest provider. Real processes: one validator (300 ms blocks), a private podman service and
 * two provider daemons in the same region (east, the cheaper, wins; west could take a
 * re-order). The attacker (the test process) puts on chain the version of a manifest whose
 * image does not exist, with `persist`, wins a lease at east like anyone, and uploads the
 * manifest over the real provider API with its account certificate. The container cannot
 * start (the runtime answers "no such image"), so east refuses the lease on chain
 * (MsgRefuseLease) instead of letting it go stale. Then:
 *   - the attacker's balance has not grown by any collateral (it is exactly what it was);
 *   - east's collateral is back: its balance is what it was before bidding, less the fees of
 *     its own txs, plus what the chain paid it;
 *   - the lease is closed with reason manifest_refused, the group is closed with the same
 *     reason and never re-ordered (one lease in the deployment, one order), east's record
 *     counts one refusal and its log says lease_refused;
 *   - `kumo deploy events` shows the tenant both sides: east's runtime event image_missing and
 *     the chain's lease.refused (reason image_missing) and group.closed (manifest_refused).
 * Against a daemon and chain without refusals (KUMO_BIN of main) the lease goes stale, its
 * collateral goes to the attacker and the group is leased again: the balance check fails.
 *
 * And the other way round, a provider walking away from a lease that runs: the tenant deploys
 * a runnable stack (`kumo deploy create`, busybox) at east; east's operator closes the lease
 * with `kumo tx lease close` and east's own key. The lease is closed with reason
 * provider_closed, the tenant's balance grew by exactly the collateral, east's daemon removes
 * the containers, and `kumo deploy status` and `kumo deploy events` say the provider closed it
 * (with the operator's detail).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "sdl/sdl.h"

#define BLOCK_MS    500u
#define DSEQ        4242u
#define DSEQ_CLOSED 4343u
/* What east bids less for than west: east's price per core is lower. */
#define EAST_CFG "price_cpu_per_core: 10\nrefuse_after_blocks: 1\n"
#define WEST_CFG "price_cpu_per_core: 30\n"

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t east, west;
    kumo_crypto_keypair_t attacker;
    char attacker_addr[KUMO_ADDRESS_TEXT_BYTES];
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t min_fee;
    bool up;
} g_t;

static g_t g;

/* One workload "app" in group g whose image no registry has. */
static void manifest_write(const char *path, kumo_buf_t *bytes)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    char *cmd[] = {"sleep", "100000"};
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = "app";
    w.image = "localhost/kumo-test-no-such-image:404";
    w.compute = &cu;
    w.count = 1;
    w.n_command = 2;
    w.command = cmd;
    w.group = "g";
    Kumo__ManifestWorkload *wp[] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = wp;
    kumo_buf_init(bytes, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, bytes, NULL), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes->ptr, 1, bytes->len, f), bytes->len);
    assert_int_equal(fclose(f), 0);
}

static json_t *get(const char *fmt, ...) KUMO_PRINTF(1, 2);
static json_t *get(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    json_t *j = kumo_test_net_get(&g.net, 0, path);
    if (j == NULL) {
        kumo_test_net_logs_print(&g.net);
        fail_msg("GET %s failed", path);
    }
    return j;
}

static uint64_t account_u64(const char *addr, const char *key)
{
    json_t *a = get("/accounts/%s", addr);
    uint64_t v = kumo_test_json_u64(a, key);
    json_decref(a);
    return v;
}

static uint64_t balance(const char *addr)
{
    return account_u64(addr, "balance");
}

static uint64_t sequence(const char *addr)
{
    return account_u64(addr, "sequence");
}

/* The items of a list route for the attacker's deployment (a new reference). */
static json_t *items(const char *route)
{
    json_t *l = get("/%s?owner=%s&dseq=%u&limit=100", route, g.attacker_addr, DSEQ);
    json_t *it = json_incref(json_object_get(l, "items"));
    json_decref(l);
    assert_non_null(it);
    return it;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The first lease of the deployment once there is one (a new reference). */
static json_t *lease_wait(void)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *ls = items("leases");
        json_t *l = json_incref(json_array_get(ls, 0));
        json_decref(ls);
        if (l != NULL) {
            return l;
        }
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("no lease of the deployment");
        }
        kumo_test_pause_ms(200);
    }
}

/* The first lease once it is no longer active: refused (closed) or, without refusals, stale. */
static json_t *lease_ended_wait(void)
{
    uint64_t deadline = kumo_test_now_ms() + 2u * KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *l = lease_wait();
        if (strcmp(str(l, "state"), "LEASE_ACTIVE") != 0) {
            return l;
        }
        json_decref(l);
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("the lease stayed active");
        }
        kumo_test_pause_ms(200);
    }
}

/* The first of needles that out lacks (NULL when it has them all). */
static const char *needle_missing(const char *out, const char *const *needles, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strstr(out, needles[i]) == NULL) {
            return needles[i];
        }
    }
    return NULL;
}

/* `kumo deploy SUB` of the stack at path for deployment dseq, as key who of home dir/who,
 * asked again until its output contains every needle (a provider writes its journal entry
 * just after the runtime did the work, so a removal can be seen before it is told). */
static void deploy_says(const char *who,
                        uint64_t dseq,
                        const char *sub,
                        const char *path,
                        const char *const *needles,
                        size_t n)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        int code = 0;
        char *out =
            kumo_test_net_output(&g.net, &code,
                                 "deploy %s %s --home %s/%s --from %s --node http://127.0.0.1:%u "
                                 "--dseq %llu",
                                 sub, path, g.net.dir, who, who, kumo_test_net_rpc_port(&g.net, 0),
                                 (unsigned long long)dseq);
        const char *missing = code == 0 ? needle_missing(out, needles, n) : "exit code 0";
        if (missing == NULL) {
            free(out);
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            fail_msg("kumo deploy %s (exit %d) lacks \"%s\":\n%s", sub, code, missing, out);
        }
        free(out);
        kumo_test_pause_ms(500);
    }
}

/* The attacker's stack as a file, for `kumo deploy events` (the image no registry has). */
static void broken_stack_write(char *path, size_t cap)
{
    static const char stack[] =
        "version: \"1\"\n"
        "groups:\n"
        "  g:\n"
        "    region: us-east\n"
        "    persist: true\n"
        "    resources:\n"
        "      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 100, collateral: 5000}\n"
        "workloads:\n"
        "  app:\n"
        "    image: localhost/kumo-test-no-such-image:404\n"
        "    command: [sleep, \"100000\"]\n"
        "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
        "    group: g\n"
        "wait_blocks: 6\n"
        "deposit: 200000\n";
    (void)snprintf(path, cap, "%s/broken.yml", g.net.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(stack, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_broken_manifest_costs_the_tenant_not_the_provider(void **state)
{
    (void)state;
    assert_true(g.up);
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/broken.manifest", g.net.dir);
    kumo_buf_t bytes;
    manifest_write(path, &bytes);
    uint64_t east_before = balance(g.east.addr);
    uint64_t east_seq_before = sequence(g.east.addr);
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx deployment create --home %s/attacker --from attacker "
                                        "--node http://127.0.0.1:%u --dseq %u --wait-blocks 6 "
                                        "--deposit 200000 --version-file %s --group name=g,region="
                                        "us-east,cpu=100m,memory=64Mi,storage=64Mi,count=1,price="
                                        "100,collateral=5000,persist --wait",
                                        g.net.dir, kumo_test_net_rpc_port(&g.net, 0), DSEQ, path),
                     0);
    uint64_t attacker_before = balance(g.attacker_addr);

    json_t *l = lease_wait();
    const char *provider = json_string_value(json_object_get(json_object_get(l, "id"), "provider"));
    assert_string_equal(provider, g.east.addr);
    uint64_t collateral = kumo_test_json_u64(l, "collateral_total");
    assert_int_equal(collateral, 5000);
    json_decref(l);
    char route[256];
    (void)snprintf(route, sizeof(route), "/deployments/%s/%u/manifest", g.attacker_addr, DSEQ);
    long status =
        kumo_test_dc_request(&g.east, &g.attacker, "PUT", route, kumo_buf_bytes(&bytes), NULL);
    assert_int_equal(status, 200);
    kumo_buf_free(&bytes);

    l = lease_ended_wait();
    int64_t ended = kumo_test_net_height(&g.net, 0);
    /* The attacker gained nothing: no collateral came its way. */
    uint64_t attacker_after = balance(g.attacker_addr);
    if (attacker_after != attacker_before) {
        /* Without refusals: say whether the group was leased again, too. */
        kumo_test_net_wait_height(&g.net, 1u, ended + 12);
        json_t *leases = items("leases");
        kumo_test_dc_log_print(&g.east);
        fail_msg("the tenant's balance went from %llu to %llu (lease %s, %zu leases)",
                 (unsigned long long)attacker_before, (unsigned long long)attacker_after,
                 str(l, "state"), json_array_size(leases));
    }
    assert_string_equal(str(l, "state"), "LEASE_CLOSED");
    assert_string_equal(str(l, "close_reason"), "CLOSE_REASON_MANIFEST_REFUSED");
    /* East's collateral is back: only its fees are gone, and it kept what it was paid. */
    uint64_t paid = kumo_test_json_u64(l, "total_paid") + kumo_test_json_u64(l, "interest_paid");
    json_decref(l);
    uint64_t fees = (sequence(g.east.addr) - east_seq_before) * g.min_fee;
    assert_int_equal(balance(g.east.addr), east_before - fees + paid);
    assert_true(kumo_test_dc_wait_log(&g.east, "event=lease_refused", 1, KUMO_TEST_NET_WAIT_MS));

    /* No re-order, even with persist, however long we wait: one order, one lease, the group
     * closed with the refusal's reason. */
    kumo_test_net_wait_height(&g.net, 1u, ended + 12);
    json_t *orders = items("orders");
    json_t *leases = items("leases");
    json_t *groups = items("groups");
    assert_int_equal(json_array_size(orders), 1);
    assert_int_equal(json_array_size(leases), 1);
    assert_int_equal(json_array_size(groups), 1);
    assert_string_equal(str(json_array_get(groups, 0), "state"), "GROUP_CLOSED");
    assert_string_equal(str(json_array_get(groups, 0), "close_reason"),
                        "CLOSE_REASON_MANIFEST_REFUSED");
    json_decref(orders);
    json_decref(leases);
    json_decref(groups);
    json_t *p = get("/providers/%s", g.east.addr);
    assert_int_equal(kumo_test_json_u64(p, "refused_lease_count"), 1);
    json_decref(p);
    assert_int_equal(balance(g.attacker_addr), attacker_before);

    /* The tenant sees why in `kumo deploy events`: east's runtime found no image, and the
     * chain's refusal with its reason. */
    char stack[PATH_MAX];
    broken_stack_write(stack, sizeof(stack));
    static const char *const events_say[] = {"image_missing", "lease.refused",
                                             "reason=image_missing", "group.closed",
                                             "reason=manifest_refused"};
    deploy_says("attacker", DSEQ, "events", stack, events_say, KUMO_ARRAY_COUNT(events_say));
}

/* ---- a provider closes a running lease ---- */

/* The containers of east's for deployment dseq (any state), as podman lists them. */
static unsigned east_containers(uint64_t dseq)
{
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd),
                   "podman ps -a --filter label=kumo.provider=%s --format "
                   "'{{index .Labels \"kumo.dseq\"}}' | grep -cx %llu",
                   g.east.addr, (unsigned long long)dseq);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[32] = "";
    char *got = fgets(line, sizeof(line), p);
    (void)pclose(p);
    return got != NULL ? (unsigned)strtoul(line, NULL, 10) : 0;
}

static void east_containers_wait(uint64_t dseq, unsigned want)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_DC_START_WAIT_MS;
    while (east_containers(dseq) != want) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("east has %u containers of deployment %llu, want %u", east_containers(dseq),
                     (unsigned long long)dseq, want);
        }
        kumo_test_pause_ms(300);
    }
}

static void test_provider_close_ends_a_running_lease(void **state)
{
    (void)state;
    assert_true(g.up);
    static const char stack[] =
        "version: \"1\"\n"
        "groups:\n"
        "  web:\n"
        "    region: us-east\n"
        "    resources:\n"
        "      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 100, collateral: 3000}\n"
        "workloads:\n"
        "  web:\n"
        "    image: localhost/kumo-test-busybox:1\n"
        "    command: [sleep, \"100000\"]\n"
        "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
        "    group: web\n"
        "wait_blocks: 1\n"
        "deposit: 1000000\n";
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/runs.yml", g.net.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(stack, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    if (kumo_test_net_kumo(&g.net,
                           "deploy create %s --from tenant --home %s/tenant --node "
                           "http://127.0.0.1:%u --dseq %u --timeout 120",
                           path, g.net.dir, kumo_test_net_rpc_port(&g.net, 0), DSEQ_CLOSED) != 0) {
        kumo_test_dc_log_print(&g.east);
        fail_msg("kumo deploy create of the runnable stack failed");
    }
    east_containers_wait(DSEQ_CLOSED, 1);
    uint64_t tenant_before = balance(g.tenant_addr);

    /* East's operator closes the lease with east's key, from the CLI (a shell runs it, so the
     * detail may hold a space). */
    int code = 0;
    char *out = kumo_test_net_output(&g.net, &code,
                                     "tx lease close --home %s --from provider --node "
                                     "http://127.0.0.1:%u %s/%u/0/1 --detail 'rack retired' "
                                     "--wait --output json",
                                     g.east.home, kumo_test_net_rpc_port(&g.net, 0), g.tenant_addr,
                                     DSEQ_CLOSED);
    if (code != 0 || strstr(out, "provider_closed") == NULL) {
        fail_msg("kumo tx lease close (exit %d):\n%s", code, out);
    }
    free(out);
    json_t *l =
        get("/leases?owner=%s&dseq=%u&provider=%s", g.tenant_addr, DSEQ_CLOSED, g.east.addr);
    json_t *lease = json_array_get(json_object_get(l, "items"), 0);
    assert_string_equal(str(lease, "state"), "LEASE_CLOSED");
    assert_string_equal(str(lease, "close_reason"), "CLOSE_REASON_PROVIDER_CLOSED");
    json_decref(l);
    /* The tenant got the whole collateral (it sent nothing meanwhile). */
    assert_int_equal(balance(g.tenant_addr), tenant_before + 3000);
    /* East's daemon sees the lease is no longer active and removes its containers. */
    east_containers_wait(DSEQ_CLOSED, 0);

    static const char *const status_says[] = {"provider_closed"};
    deploy_says("tenant", DSEQ_CLOSED, "status", path, status_says, KUMO_ARRAY_COUNT(status_says));
    static const char *const events_say[] = {"lease.closed", "reason=provider_closed",
                                             "rack retired", "removed web/0"};
    deploy_says("tenant", DSEQ_CLOSED, "events", path, events_say, KUMO_ARRAY_COUNT(events_say));
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    if (kumo_test_net_start(&g.net, 1, BLOCK_MS, "--providers 2") != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, EAST_CFG, &g.east) != 0 ||
        kumo_test_dc_add(&g.net, 1, "us-east", g.pm.socket, WEST_CFG, &g.west) != 0) {
        return -1;
    }
    kumo_test_account_make(&g.net, "attacker", 0x6b, 50000000u, &g.attacker, g.attacker_addr);
    kumo_test_net_address(&g.net, "tenant", "tenant", g.tenant_addr);
    json_t *params = kumo_test_net_get(&g.net, 0, "/params");
    assert_non_null(params);
    g.min_fee = kumo_test_json_u64(params, "min_fee");
    json_decref(params);
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_dc_remove(&g.east);
    kumo_test_dc_remove(&g.west);
    kumo_test_net_stop(&g.net);
    kumo_test_podman_stop(&g.pm);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_manifest_costs_the_tenant_not_the_provider),
        cmocka_unit_test(test_provider_close_ends_a_running_lease),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
