/*
 * test_dc_manifest.c - a tenant's manifests against the provider daemon, with real processes:
 * one validator (300 ms blocks), a private podman service, two provider daemons (east in
 * us-east, west in us-west), an honest tenant whose deployment runs at east (`kumo deploy
 * create`), and an attacker account. The attacker puts the version of a crafted manifest on
 * chain (`kumo tx deployment create --version-file`), wins a lease like anyone, and uploads
 * the manifest over the real provider API with its account certificate:
 *   - counts 0 and 2^32-1, more instances than the lease's units, compute bigger than the
 *     leased unit, a workload in a group the deployment does not have, a rule naming a
 *     workload that does not exist, volumes larger than the unit's leased storage: each
 *     answered 422 with the rule broken, a manifest_refused event in the deployment's
 *     container events (GET .../events), nothing stored,
 *     nothing run; a manifest within the lease is accepted and runs exactly its one instance;
 *   - a hostile peer provider serving a manifest of the on-chain version that breaks the
 *     lease (the test plants it in east's store, as a provider that skipped the check would
 *     hold it): west, which has the other group's lease, fetches it, refuses it and runs
 *     nothing; east does not run it either;
 *   - through all of it the honest tenant's lease stays active and is confirmed again.
 * Against a daemon without the check: count 0 is accepted (200), and a count of 2^32-1 keeps
 * the daemon starting containers so the honest lease is no longer confirmed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "runtime/runtime.h"
#include "sdl/sdl.h"

#define BLOCK_MS 500u
/* The attacker's unit, and what its groups lease: one unit each. */
#define UNIT_ARGS "cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t east, west;
    kumo_crypto_keypair_t attacker;
    char attacker_addr[KUMO_ADDRESS_TEXT_BYTES];
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t honest_dseq;
    bool up;
} g_t;

static g_t g;

/* ---- crafted manifests ---- */

typedef struct craft {
    Kumo__ComputeUnit cu;
    Kumo__ManifestWorkload w[2];
    Kumo__ManifestWorkload *wp[2];
    Kumo__ManifestPort port;
    Kumo__ManifestPort *portp[1];
    Kumo__ManifestConnection rule;
    Kumo__ManifestConnection *rulep[1];
    Kumo__ManifestVolume vol;
    Kumo__ManifestVolume *volp[1];
    char *cmd[2];
    Kumo__Manifest m;
} craft_t;

/* One workload "app" in group g, with the leased unit and count 1: rows change one thing. */
static void craft_init(craft_t *c)
{
    memset(c, 0, sizeof(*c));
    kumo__compute_unit__init(&c->cu);
    c->cu.cpu_milli = 100;
    c->cu.memory_bytes = 64u << 20;
    c->cu.storage_bytes = 64u << 20;
    c->cmd[0] = "sleep";
    c->cmd[1] = "100000";
    for (size_t i = 0; i < 2; i++) {
        kumo__manifest_workload__init(&c->w[i]);
        c->w[i].image = "localhost/kumo-test-busybox:1";
        c->w[i].compute = &c->cu;
        c->w[i].count = 1;
        c->w[i].n_command = 2;
        c->w[i].command = c->cmd;
        c->wp[i] = &c->w[i];
    }
    c->w[0].name = "app";
    c->w[0].group = "g";
    c->w[1].name = "other";
    c->w[1].group = "h";
    kumo__manifest_connection__init(&c->rule);
    c->rule.workload = "other";
    c->rulep[0] = &c->rule;
    kumo__manifest_port__init(&c->port);
    c->port.port = 8080;
    c->port.protocol = "tcp";
    c->portp[0] = &c->port;
    kumo__manifest__init(&c->m);
    c->m.n_workloads = 1;
    c->m.workloads = c->wp;
}

static void craft_write(const craft_t *c, const char *path, kumo_buf_t *bytes)
{
    kumo_buf_init(bytes, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&c->m.base, bytes, NULL), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes->ptr, 1, bytes->len, f), bytes->len);
    assert_int_equal(fclose(f), 0);
}

static void c_valid(craft_t *c)
{
    (void)c;
}
static void c_count_zero(craft_t *c)
{
    c->w[0].count = 0;
}
static void c_count_max(craft_t *c)
{
    c->w[0].count = UINT32_MAX;
}
static void c_count_over_units(craft_t *c)
{
    c->w[0].count = 2;
}
static void c_compute_bigger(craft_t *c)
{
    c->cu.cpu_milli = 2000;
    c->cu.memory_bytes = 1u << 30;
}
static void c_unknown_group(craft_t *c)
{
    c->w[0].group = "elsewhere";
}
static void c_unknown_workload(craft_t *c)
{
    c->w[0].n_ports = 1;
    c->w[0].ports = c->portp;
    c->port.n_expose = 1;
    c->port.expose = c->rulep;
    c->rule.workload = "ghost";
}

static void c_volume_over_storage(craft_t *c)
{
    kumo__manifest_volume__init(&c->vol);
    c->vol.name = "data";
    c->vol.mount = "/data";
    c->vol.size_bytes = 128u << 20; /* the unit leases 64 MiB of storage */
    c->vol.persistent = 1;
    c->volp[0] = &c->vol;
    c->w[0].n_volumes = 1;
    c->w[0].volumes = c->volp;
}

static const struct {
    const char *name;
    void (*craft)(craft_t *c);
    long want_status;
    const char *want_text; /* in the answer */
} cases[] = {
    {"count 0", c_count_zero, 422, "count 0"},
    {"count 2^32-1", c_count_max, 422, "4294967295 instances"},
    {"more instances than the lease's units", c_count_over_units, 422, "of its 1 leased units"},
    {"compute bigger than the leased unit", c_compute_bigger, 422, "no resource unit"},
    {"a group the deployment does not have", c_unknown_group, 422, "named \\\"elsewhere\\\""},
    {"a rule naming no workload", c_unknown_workload, 422, "names no workload"},
    {"a volume larger than the leased storage", c_volume_over_storage, 422,
     "volumes of 134217728 bytes per instance exceed the 67108864 bytes"},
    {"within the lease", c_valid, 200, "\"accepted\":true"},
};
#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))
#define DSEQ_FIRST 1000u
#define DSEQ_PEER  2000u

/* ---- chain and provider helpers ---- */

static void deployment_create(uint64_t dseq, const char *path, const char *groups)
{
    int rc = kumo_test_net_kumo(&g.net,
                                "tx deployment create --home %s/attacker --from attacker --node "
                                "http://127.0.0.1:%u --dseq %llu --wait-blocks 1 --deposit 200000 "
                                "--version-file %s %s --wait",
                                g.net.dir, kumo_test_net_rpc_port(&g.net, 0),
                                (unsigned long long)dseq, path, groups);
    assert_int_equal(rc, 0);
}

/* The active lease of owner's deployment dseq at provider, as JSON (NULL while none). */
static json_t *lease_get(const char *owner, uint64_t dseq, const char *provider)
{
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%llu&provider=%s&state=LEASE_ACTIVE&limit=1", owner,
                   (unsigned long long)dseq, provider);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    json_t *item = json_incref(json_array_get(json_object_get(l, "items"), 0));
    json_decref(l);
    return item;
}

static void lease_wait(const char *owner, uint64_t dseq, const char *provider)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    json_t *l = NULL;
    while ((l = lease_get(owner, dseq, provider)) == NULL) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("no lease of %s/%llu at %s", owner, (unsigned long long)dseq, provider);
        }
        kumo_test_pause_ms(200);
    }
    json_decref(l);
}

static long manifest_put(const kumo_test_dc_t *dc, uint64_t dseq, kumo_bytes_t m, kumo_buf_t *out)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%llu/manifest", g.attacker_addr,
                   (unsigned long long)dseq);
    return kumo_test_dc_request(dc, &g.attacker, "PUT", path, m, out);
}

static bool stored(const kumo_test_dc_t *dc, uint64_t dseq)
{
    char path[PATH_MAX + 128];
    (void)snprintf(path, sizeof(path), "%s/deployments/%s-%llu.manifest", dc->home, g.attacker_addr,
                   (unsigned long long)dseq);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Containers of the attacker's deployment dseq (0: all of its deployments). */
static uint32_t attacker_containers(uint64_t dseq)
{
    kumo_runtime_t *rt = NULL;
    assert_int_equal(kumo_runtime_open(g.pm.socket, &rt, NULL), 0);
    static kumo_runtime_container_t cs[KUMO_RUNTIME_LIST_COUNT_MAX];
    uint32_t n = 0;
    assert_int_equal(kumo_runtime_container_list(rt, "kumo.owner", g.attacker_addr, cs,
                                                 KUMO_RUNTIME_LIST_COUNT_MAX, &n, NULL),
                     0);
    kumo_runtime_close(rt);
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        count += dseq == 0 || cs[i].dseq == dseq ? 1u : 0u;
    }
    return count;
}

/* The honest lease is still active and gets confirmed after height h. */
static void honest_confirmed_after(int64_t h)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *l = lease_get(g.tenant_addr, g.honest_dseq, g.east.addr);
        assert_non_null(l); /* never stale */
        uint64_t last = kumo_test_json_u64(l, "last_confirmed_height");
        json_decref(l);
        if (last > (uint64_t)h) {
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("the honest lease was not confirmed after height %lld", (long long)h);
        }
        kumo_test_pause_ms(200);
    }
}

/* ---- tests ---- */

static void test_crafted_manifests_refused(void **state)
{
    (void)state;
    assert_true(g.up);
    kumo_buf_t bytes[CASE_COUNT];
    for (size_t i = 0; i < CASE_COUNT; i++) { /* every deployment first: leases come together */
        craft_t c;
        craft_init(&c);
        cases[i].craft(&c);
        char path[PATH_MAX];
        (void)snprintf(path, sizeof(path), "%s/case%zu.manifest", g.net.dir, i);
        craft_write(&c, path, &bytes[i]);
        deployment_create(DSEQ_FIRST + i, path, "--group name=g,region=us-east," UNIT_ARGS);
    }
    for (size_t i = 0; i < CASE_COUNT; i++) {
        lease_wait(g.attacker_addr, DSEQ_FIRST + i, g.east.addr);
        kumo_buf_t answer;
        kumo_buf_init(&answer, 65536);
        long status = manifest_put(&g.east, DSEQ_FIRST + i, kumo_buf_bytes(&bytes[i]), &answer);
        assert_int_equal(kumo_buf_append(&answer, "", 1), 0);
        if (status != cases[i].want_status ||
            strstr((char *)answer.ptr, cases[i].want_text) == NULL) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("%s: HTTP %ld %s", cases[i].name, status, (char *)answer.ptr);
        }
        assert_true(stored(&g.east, DSEQ_FIRST + i) == (cases[i].want_status == 200));
        if (cases[i].want_status == 422) { /* the owner reads the refusal in its events */
            char path[256];
            (void)snprintf(path, sizeof(path), "/deployments/%s/%llu/events", g.attacker_addr,
                           (unsigned long long)(DSEQ_FIRST + i));
            kumo_buf_reset(&answer);
            long st = kumo_test_dc_request(&g.east, &g.attacker, "GET", path,
                                           kumo_bytes_make(NULL, 0), &answer);
            assert_int_equal(kumo_buf_append(&answer, "", 1), 0);
            if (st != 200 || strstr((char *)answer.ptr, " manifest_refused -/0 ") == NULL) {
                fail_msg("%s: events HTTP %ld: %s", cases[i].name, st, (char *)answer.ptr);
            }
        }
        kumo_buf_free(&answer);
        kumo_buf_free(&bytes[i]);
    }
    /* The accepted one runs its one instance; nothing else of the attacker's ever runs. */
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_DC_START_WAIT_MS;
    while (attacker_containers(DSEQ_FIRST + CASE_COUNT - 1u) < 1u) {
        if (kumo_test_now_ms() >= deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("the accepted manifest's instance never ran");
        }
        kumo_test_pause_ms(200);
    }
    int64_t h = kumo_test_net_height(&g.net, 0);
    honest_confirmed_after(h);
    for (size_t i = 0; i + 1u < CASE_COUNT; i++) {
        assert_int_equal(attacker_containers(DSEQ_FIRST + i), 0);
    }
    /* The accepted deployment settles at its one instance (a start the runtime was slow to
     * answer may leave a container the next pass removes). */
    deadline = kumo_test_now_ms() + KUMO_TEST_DC_START_WAIT_MS;
    while (attacker_containers(DSEQ_FIRST + CASE_COUNT - 1u) != 1u) {
        assert_true(kumo_test_now_ms() < deadline);
        kumo_test_pause_ms(200);
    }
}

/* A peer serving a manifest that breaks the lease: fetched, refused, never run. */
static void test_peer_manifest_refused(void **state)
{
    (void)state;
    assert_true(g.up);
    craft_t c;
    craft_init(&c);
    c.m.n_workloads = 2; /* app in g at east, other in h at west */
    c.w[1].count = UINT32_MAX;
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/peer.manifest", g.net.dir);
    kumo_buf_t bytes;
    craft_write(&c, path, &bytes);
    deployment_create(DSEQ_PEER, path,
                      "--group name=g,region=us-east," UNIT_ARGS
                      " --group name=h,region=us-west," UNIT_ARGS);
    lease_wait(g.attacker_addr, DSEQ_PEER, g.east.addr);
    lease_wait(g.attacker_addr, DSEQ_PEER, g.west.addr);
    assert_int_equal(manifest_put(&g.east, DSEQ_PEER, kumo_buf_bytes(&bytes), NULL), 422);
    assert_int_equal(manifest_put(&g.west, DSEQ_PEER, kumo_buf_bytes(&bytes), NULL), 422);
    /* East as a hostile peer would hold it: stored without the check. */
    char planted[PATH_MAX + 128];
    (void)snprintf(planted, sizeof(planted), "%s/deployments/%s-%u.manifest", g.east.home,
                   g.attacker_addr, DSEQ_PEER);
    FILE *f = fopen(planted, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes.ptr, 1, bytes.len, f), bytes.len);
    assert_int_equal(fclose(f), 0);
    if (!kumo_test_dc_wait_log(&g.west, "breaks the lease", 1, KUMO_TEST_NET_WAIT_MS)) {
        kumo_test_dc_log_print(&g.west);
        fail_msg("west did not refuse the peer's manifest");
    }
    assert_false(stored(&g.west, DSEQ_PEER));
    assert_true(kumo_test_dc_wait_log(&g.east, "event=manifest_refused", 1, KUMO_TEST_NET_WAIT_MS));
    int64_t h = kumo_test_net_height(&g.net, 0);
    honest_confirmed_after(h);
    assert_int_equal(attacker_containers(DSEQ_PEER), 0);
    kumo_buf_free(&bytes);
}

/* ---- setup ---- */

static int honest_deploy(void)
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
    (void)snprintf(path, sizeof(path), "%s/honest.yml", g.net.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(stack, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    g.honest_dseq = 7;
    if (kumo_test_net_kumo(&g.net,
                           "deploy create %s --from tenant --home %s/tenant --node "
                           "http://127.0.0.1:%u --dseq 7 --timeout 120",
                           path, g.net.dir, kumo_test_net_rpc_port(&g.net, 0)) != 0) {
        fprintf(stderr, "kumo deploy create of the honest stack failed\n");
        kumo_test_net_logs_print(&g.net);
        kumo_test_dc_log_print(&g.east);
        return -1;
    }
    char cmd[PATH_MAX * 2];
    (void)snprintf(cmd, sizeof(cmd), "'%s' keys show tenant --address --home '%s/tenant'",
                   g.net.kumo, g.net.dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(g.tenant_addr, sizeof(g.tenant_addr), p));
    (void)pclose(p);
    g.tenant_addr[strcspn(g.tenant_addr, "\r\n")] = '\0';
    return 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    if (kumo_test_net_start(&g.net, 1, BLOCK_MS, "--providers 2") != 0 ||
        /* East plays the hostile peer of the planted manifest: it keeps serving it instead of
         * refusing its lease before west asked for it. */
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, "refuse_after_blocks: 1000\n",
                         &g.east) != 0 ||
        kumo_test_dc_add(&g.net, 1, "us-west", g.pm.socket, NULL, &g.west) != 0) {
        return -1;
    }
    kumo_test_account_make(&g.net, "attacker", 0x5a, 50000000u, &g.attacker, g.attacker_addr);
    if (honest_deploy() != 0) {
        return -1;
    }
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
        cmocka_unit_test(test_crafted_manifests_refused),
        cmocka_unit_test(test_peer_manifest_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
