/*
 * test_pairs.c - which tunnels a provider needs (src/overlay/pairs.c), table-driven on one
 * manifest:
 *   group front: web  (80: global; 8080: workload api)
 *   group back:  api  (9000: workload web)
 *                db   (5432: workload api; 5434: workload web and global)
 *                cache (6379: group front)
 * Each row gives the leases (group -> provider), the provider asking and the side, and the
 * pairs it must get, rendered "src>dst:port,port ..." in order. Shown: a client gets the
 * pairs from its sources to destinations at other providers with exactly the forwarded ports
 * the policy allows (never a global-only port, never a port whose rule lists someone else),
 * the server the mirror image; groups at one provider need no tunnel; a provider without a
 * lease gets none; only the first lease of a group counts; past cap the rest are counted.
 */
#include "helpers/testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "overlay/overlay.h"

#define A "kumo1provider-a"
#define B "kumo1provider-b"
#define C "kumo1provider-c"

static Kumo__ManifestConnection r_global = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"", (char *)"", true};
static Kumo__ManifestConnection r_api = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"api", (char *)"",
    false};
static Kumo__ManifestConnection r_web = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"web", (char *)"",
    false};
static Kumo__ManifestConnection r_front = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"", (char *)"front",
    false};

static Kumo__ManifestConnection *e_global[] = {&r_global};
static Kumo__ManifestConnection *e_api[] = {&r_api};
static Kumo__ManifestConnection *e_web[] = {&r_web};
static Kumo__ManifestConnection *e_web_global[] = {&r_web, &r_global};
static Kumo__ManifestConnection *e_front[] = {&r_front};

#define PORT(n, e, c)                                                                     \
    {                                                                                     \
        PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_port__descriptor), n, (char *)"tcp", c, e \
    }
static Kumo__ManifestPort p_web80 = PORT(80, e_global, 1);
static Kumo__ManifestPort p_web8080 = PORT(8080, e_api, 1);
static Kumo__ManifestPort p_api9000 = PORT(9000, e_web, 1);
static Kumo__ManifestPort p_db5432 = PORT(5432, e_api, 1);
static Kumo__ManifestPort p_db5434 = PORT(5434, e_web_global, 2);
static Kumo__ManifestPort p_cache6379 = PORT(6379, e_front, 1);

static Kumo__ManifestPort *ports_web[] = {&p_web80, &p_web8080};
static Kumo__ManifestPort *ports_api[] = {&p_api9000};
static Kumo__ManifestPort *ports_db[] = {&p_db5432, &p_db5434};
static Kumo__ManifestPort *ports_cache[] = {&p_cache6379};

static Kumo__ManifestWorkload w_web;
static Kumo__ManifestWorkload w_api;
static Kumo__ManifestWorkload w_db;
static Kumo__ManifestWorkload w_cache;
static Kumo__ManifestWorkload *workloads[] = {&w_web, &w_api, &w_db, &w_cache};
static Kumo__Manifest manifest;

static void workload_init(
    Kumo__ManifestWorkload *w, char *name, char *group, Kumo__ManifestPort **ports, size_t n)
{
    kumo__manifest_workload__init(w);
    w->name = name;
    w->group = group;
    w->count = 1;
    w->ports = ports;
    w->n_ports = n;
}

static int setup(void **state)
{
    (void)state;
    workload_init(&w_web, "web", "front", ports_web, 2);
    workload_init(&w_api, "api", "back", ports_api, 1);
    workload_init(&w_db, "db", "back", ports_db, 2);
    workload_init(&w_cache, "cache", "back", ports_cache, 1);
    kumo__manifest__init(&manifest);
    manifest.workloads = workloads;
    manifest.n_workloads = 4;
    return 0;
}

static const kumo_overlay_lease_t split[] = {{"front", A}, {"back", B}};
static const kumo_overlay_lease_t together[] = {{"front", A}, {"back", A}};
static const kumo_overlay_lease_t twice[] = {{"front", A}, {"back", B}, {"back", C}};

#define CL KUMO_OVERLAY_SIDE_CLIENT
#define SV KUMO_OVERLAY_SIDE_SERVER

static const struct {
    const char *name;
    const kumo_overlay_lease_t *leases;
    uint32_t lease_count;
    const char *self;
    kumo_overlay_side_t side;
    uint32_t cap;
    const char *want;
    uint32_t want_dropped;
} rows[] = {
    {"front's client: web to back's ports that list it", split, 2, A, CL, 16,
     "web>api:9000 web>db:5434 web>cache:6379", 0},
    {"back's client: api to web's 8080, never the global-only 80", split, 2, B, CL, 16,
     "api>web:8080", 0},
    {"back's server: the mirror of front's client", split, 2, B, SV, 16,
     "web>api:9000 web>db:5434 web>cache:6379", 0},
    {"front's server: the mirror of back's client", split, 2, A, SV, 16, "api>web:8080", 0},
    {"one provider holds both groups: no tunnel", together, 2, A, CL, 16, "", 0},
    {"one provider holds both groups: no server either", together, 2, A, SV, 16, "", 0},
    {"a provider without a lease: nothing", split, 2, C, CL, 16, "", 0},
    {"a provider without a lease serves nothing", split, 2, C, SV, 16, "", 0},
    {"a second lease of a group does not count", twice, 3, C, SV, 16, "", 0},
    {"nor is it a destination", twice, 3, A, CL, 16, "web>api:9000 web>db:5434 web>cache:6379", 0},
    {"past cap the rest are counted", split, 2, A, CL, 1, "web>api:9000", 2},
    {"no leases: nothing", split, 0, A, CL, 16, "", 0},
};

static void render(const kumo_overlay_pair_t *p, uint32_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s%s>%s:", i > 0 ? " " : "", p[i].src,
                                p[i].dst);
        for (uint32_t k = 0; k < p[i].port_count; k++) {
            len += (size_t)snprintf(out + len, cap - len, "%s%u", k > 0 ? "," : "",
                                    (unsigned)p[i].ports[k]);
        }
        assert_true(len < cap);
    }
}

static void test_pairs_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_overlay_deployment_t dep = {&manifest, rows[i].leases, rows[i].lease_count};
        kumo_overlay_pair_t pairs[16];
        uint32_t dropped = 99;
        uint32_t n =
            kumo_overlay_pairs(&dep, rows[i].self, rows[i].side, pairs, rows[i].cap, &dropped);
        char got[512];
        render(pairs, n, got, sizeof(got));
        if (strcmp(got, rows[i].want) != 0 || dropped != rows[i].want_dropped) {
            fail_msg("%s: got \"%s\" dropped %u, want \"%s\" dropped %u", rows[i].name, got,
                     dropped, rows[i].want, rows[i].want_dropped);
        }
    }
}

/* The lease indexes name where each end runs. */
static void test_pairs_lease_indexes(void **state)
{
    (void)state;
    kumo_overlay_deployment_t dep = {&manifest, split, 2};
    kumo_overlay_pair_t pairs[4];
    uint32_t dropped = 0;
    assert_int_equal(kumo_overlay_pairs(&dep, B, CL, pairs, 4, &dropped), 1u);
    assert_int_equal(pairs[0].src_lease, 1u);
    assert_int_equal(pairs[0].dst_lease, 0u);
    assert_string_equal(split[pairs[0].dst_lease].provider, A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_table),
        cmocka_unit_test(test_pairs_lease_indexes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
