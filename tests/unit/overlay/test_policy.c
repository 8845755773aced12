/*
 * test_policy.c - who may reach whom (src/overlay/policy.c), table-driven on one manifest:
 *   group front: web  (80: global; 8080: workload api)
 *   group back:  api  (9000: workload web)
 *                db   (5432: workload api; 5433: group back)
 *                cache (6379: group front)
 * with front leased to provider A and back to provider B. Every verdict, allowing and
 * denying, has rows; the where-does-a-port-open helpers and the verdict names too; and over
 * every source, destination and port, what anyone outside may reach is exactly the global
 * ports.
 */
#include "helpers/testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "overlay/overlay.h"

#define A "kumo1provider-a"
#define B "kumo1provider-b"
#define C "kumo1provider-c"

/* ---- the manifest ---- */

static Kumo__ManifestConnection r_global = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"", (char *)"", true};
static Kumo__ManifestConnection r_api = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"api", (char *)"",
    false};
static Kumo__ManifestConnection r_web = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"web", (char *)"",
    false};
static Kumo__ManifestConnection r_back = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"", (char *)"back",
    false};
static Kumo__ManifestConnection r_front = {
    PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_connection__descriptor), (char *)"", (char *)"front",
    false};

static Kumo__ManifestConnection *e_global[] = {&r_global};
static Kumo__ManifestConnection *e_api[] = {&r_api};
static Kumo__ManifestConnection *e_web[] = {&r_web};
static Kumo__ManifestConnection *e_back[] = {&r_back};
static Kumo__ManifestConnection *e_front[] = {&r_front};

#define PORT(n, e)                                                                        \
    {                                                                                     \
        PROTOBUF_C_MESSAGE_INIT(&kumo__manifest_port__descriptor), n, (char *)"tcp", 1, e \
    }
static Kumo__ManifestPort p_web80 = PORT(80, e_global);
static Kumo__ManifestPort p_web8080 = PORT(8080, e_api);
static Kumo__ManifestPort p_api9000 = PORT(9000, e_web);
static Kumo__ManifestPort p_db5432 = PORT(5432, e_api);
static Kumo__ManifestPort p_db5433 = PORT(5433, e_back);
static Kumo__ManifestPort p_cache6379 = PORT(6379, e_front);

static Kumo__ManifestPort *ports_web[] = {&p_web80, &p_web8080};
static Kumo__ManifestPort *ports_api[] = {&p_api9000};
static Kumo__ManifestPort *ports_db[] = {&p_db5432, &p_db5433};
static Kumo__ManifestPort *ports_cache[] = {&p_cache6379};

static Kumo__ManifestWorkload w_web;
static Kumo__ManifestWorkload w_api;
static Kumo__ManifestWorkload w_db;
static Kumo__ManifestWorkload w_cache;
static Kumo__ManifestWorkload *workloads[] = {&w_web, &w_api, &w_db, &w_cache};
static Kumo__Manifest manifest;

static const kumo_overlay_lease_t leases[] = {{"front", A}, {"back", B}};

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

static const kumo_overlay_deployment_t dep = {&manifest, leases, 2};

/* ---- the table ---- */

#define W  KUMO_OVERLAY_FROM_WORKLOAD
#define P  KUMO_OVERLAY_FROM_PEER
#define O  KUMO_OVERLAY_FROM_OUTSIDE
#define AW KUMO_OVERLAY_ALLOW_WORKLOAD
#define AG KUMO_OVERLAY_ALLOW_GROUP
#define AL KUMO_OVERLAY_ALLOW_GLOBAL

typedef struct row {
    const char *what;
    kumo_overlay_from_t from;
    const char *workload;
    const char *provider;
    const char *dest;
    uint32_t port;
    kumo_overlay_verdict_t want;
} row_t;

static const row_t rows[] = {
    /* workloads here */
    {"listed workload", W, "web", NULL, "api", 9000, AW},
    {"listed workload reaches db", W, "api", NULL, "db", 5432, AW},
    {"listed group", W, "api", NULL, "db", 5433, AG},
    {"own group rule lets itself", W, "db", NULL, "db", 5433, AG},
    {"global port from a workload", W, "db", NULL, "web", 80, AL},
    {"unlisted workload", W, "db", NULL, "api", 9000, KUMO_OVERLAY_DENY_RULE},
    {"unlisted workload to db", W, "web", NULL, "db", 5432, KUMO_OVERLAY_DENY_RULE},
    {"other group", W, "web", NULL, "db", 5433, KUMO_OVERLAY_DENY_RULE},
    {"itself without a rule", W, "db", NULL, "db", 5432, KUMO_OVERLAY_DENY_RULE},
    {"same group, workload rule", W, "db", NULL, "cache", 6379, KUMO_OVERLAY_DENY_RULE},
    {"unknown source workload", W, "nope", NULL, "web", 80, KUMO_OVERLAY_DENY_SOURCE},
    {"no source workload", W, NULL, NULL, "web", 80, KUMO_OVERLAY_DENY_SOURCE},
    {"unknown destination", W, "web", NULL, "nope", 80, KUMO_OVERLAY_DENY_DESTINATION},
    {"no destination", W, "web", NULL, NULL, 80, KUMO_OVERLAY_DENY_DESTINATION},
    {"unlisted port", W, "web", NULL, "api", 9001, KUMO_OVERLAY_DENY_PORT},
    {"port 0", W, "web", NULL, "api", 0, KUMO_OVERLAY_DENY_PORT},
    {"another workload's port", W, "web", NULL, "api", 5432, KUMO_OVERLAY_DENY_PORT},
    /* workloads placed at a provider */
    {"placed where its lease is", W, "web", A, "api", 9000, AW},
    {"placed at the wrong provider", W, "web", B, "api", 9000, KUMO_OVERLAY_DENY_PLACEMENT},
    {"placed at a stranger", W, "web", C, "web", 80, KUMO_OVERLAY_DENY_PLACEMENT},
    /* peer datacenters */
    {"peer holding the listed workload", P, NULL, A, "api", 9000, AW},
    {"peer holding the other listed workload", P, NULL, B, "web", 8080, AW},
    {"peer holding the listed group", P, NULL, A, "cache", 6379, AG},
    {"peer not holding the listed", P, NULL, A, "db", 5432, KUMO_OVERLAY_DENY_RULE},
    {"peer not holding the group", P, NULL, B, "cache", 6379, KUMO_OVERLAY_DENY_RULE},
    {"peer to a global port", P, NULL, B, "web", 80, AL},
    {"peer without a lease", P, NULL, C, "web", 80, KUMO_OVERLAY_DENY_SOURCE},
    {"peer without a name", P, NULL, NULL, "web", 80, KUMO_OVERLAY_DENY_SOURCE},
    /* anyone else */
    {"outside to a global port", O, NULL, NULL, "web", 80, AL},
    {"outside to a workload port", O, NULL, NULL, "web", 8080, KUMO_OVERLAY_DENY_RULE},
    {"outside to a group port", O, NULL, NULL, "db", 5433, KUMO_OVERLAY_DENY_RULE},
    {"outside naming a workload", O, "api", A, "db", 5432, KUMO_OVERLAY_DENY_RULE},
    {"outside to an unlisted port", O, NULL, NULL, "web", 22, KUMO_OVERLAY_DENY_PORT},
    {"no kind of source", (kumo_overlay_from_t)0, "web", NULL, "api", 9000,
     KUMO_OVERLAY_DENY_SOURCE},
    {"unknown kind of source", (kumo_overlay_from_t)9, "web", NULL, "web", 80,
     KUMO_OVERLAY_DENY_SOURCE},
};

static void test_decide_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row_t *r = &rows[i];
        kumo_overlay_source_t src = {r->from, r->workload, r->provider};
        kumo_overlay_verdict_t got = kumo_overlay_decide(&dep, &src, r->dest, r->port);
        if (got != r->want) {
            print_error("row %zu (%s): got %s, want %s\n", i, r->what,
                        kumo_overlay_verdict_name(got), kumo_overlay_verdict_name(r->want));
            bad++;
        }
        assert_int_equal(kumo_overlay_decide(&dep, &src, r->dest, r->port), got); /* pure */
    }
    assert_int_equal(bad, 0);
}

/* Without the leases nothing placed at a provider, and no peer, is allowed. */
static void test_decide_no_leases(void **state)
{
    (void)state;
    kumo_overlay_deployment_t bare = {&manifest, NULL, 0};
    kumo_overlay_source_t placed = {W, "web", A};
    kumo_overlay_source_t here = {W, "web", NULL};
    kumo_overlay_source_t peer = {P, NULL, A};
    assert_int_equal(kumo_overlay_decide(&bare, &placed, "api", 9000), KUMO_OVERLAY_DENY_PLACEMENT);
    assert_int_equal(kumo_overlay_decide(&bare, &here, "api", 9000), AW);
    assert_int_equal(kumo_overlay_decide(&bare, &peer, "web", 80), KUMO_OVERLAY_DENY_SOURCE);
}

/* A rule naming a workload and another naming its group: the workload rule is the reason. */
static void test_decide_most_specific(void **state)
{
    (void)state;
    Kumo__ManifestConnection *both[] = {&r_back, &r_api};
    Kumo__ManifestPort p = PORT(7000, both);
    p.n_expose = 2;
    Kumo__ManifestPort *ps[] = {&p};
    Kumo__ManifestWorkload w;
    workload_init(&w, "log", "front", ps, 1);
    Kumo__ManifestWorkload *ws[] = {&w_web, &w_api, &w_db, &w_cache, &w};
    Kumo__Manifest m = manifest;
    m.workloads = ws;
    m.n_workloads = 5;
    kumo_overlay_deployment_t d = {&m, leases, 2};
    kumo_overlay_source_t api = {W, "api", NULL};
    kumo_overlay_source_t db = {W, "db", NULL};
    kumo_overlay_source_t web = {W, "web", NULL};
    assert_int_equal(kumo_overlay_decide(&d, &api, "log", 7000), AW);
    assert_int_equal(kumo_overlay_decide(&d, &db, "log", 7000), AG);
    assert_int_equal(kumo_overlay_decide(&d, &web, "log", 7000), KUMO_OVERLAY_DENY_RULE);
    assert_true(kumo_overlay_port_published(&m, &w, &p)); /* back reaches a front workload */
}

/* Over every source and every port: outside reaches exactly the global ports; an allowed
 * peer or workload always has a rule (or global) behind it. */
static void test_decide_outside_is_global(void **state)
{
    (void)state;
    for (size_t i = 0; i < manifest.n_workloads; i++) {
        const Kumo__ManifestWorkload *w = manifest.workloads[i];
        for (size_t p = 0; p < w->n_ports; p++) {
            kumo_overlay_source_t out = {O, NULL, NULL};
            kumo_overlay_verdict_t v = kumo_overlay_decide(&dep, &out, w->name, w->ports[p]->port);
            assert_int_equal(kumo_overlay_verdict_allows(v), kumo_overlay_port_global(w->ports[p]));
            for (size_t s = 0; s < manifest.n_workloads; s++) {
                kumo_overlay_source_t src = {W, manifest.workloads[s]->name, NULL};
                v = kumo_overlay_decide(&dep, &src, w->name, w->ports[p]->port);
                assert_true(!kumo_overlay_verdict_allows(v) ||
                            kumo_overlay_port_global(w->ports[p]) ||
                            kumo_overlay_port_forwarded(w->ports[p]));
            }
        }
    }
}

static void test_ports(void **state)
{
    (void)state;
    static const struct {
        const Kumo__ManifestWorkload *w;
        const Kumo__ManifestPort *p;
        bool global, published, forwarded;
    } cases[] = {
        {&w_web, &p_web80, true, true, false},       /* global */
        {&w_web, &p_web8080, false, true, true},     /* api is in back */
        {&w_api, &p_api9000, false, true, true},     /* web is in front */
        {&w_db, &p_db5432, false, false, true},      /* api is in back too */
        {&w_db, &p_db5433, false, false, true},      /* its own group */
        {&w_cache, &p_cache6379, false, true, true}, /* group front */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kumo_overlay_port_global(cases[i].p), cases[i].global);
        assert_int_equal(kumo_overlay_port_published(&manifest, cases[i].w, cases[i].p),
                         cases[i].published);
        assert_int_equal(kumo_overlay_port_forwarded(cases[i].p), cases[i].forwarded);
    }
    assert_string_equal(kumo_overlay_workload_group(&manifest, "db"), "back");
    assert_null(kumo_overlay_workload_group(&manifest, "nope"));
    assert_null(kumo_overlay_workload_group(&manifest, NULL));
}

static void test_verdict_names(void **state)
{
    (void)state;
    for (int v = 0; v < (int)KUMO_OVERLAY_VERDICT_COUNT; v++) {
        const char *name = kumo_overlay_verdict_name((kumo_overlay_verdict_t)v);
        assert_true(
            strncmp(name,
                    kumo_overlay_verdict_allows((kumo_overlay_verdict_t)v) ? "allow_" : "deny_",
                    kumo_overlay_verdict_allows((kumo_overlay_verdict_t)v) ? 6 : 5) == 0);
        for (int k = 0; k < v; k++) {
            assert_string_not_equal(name, kumo_overlay_verdict_name((kumo_overlay_verdict_t)k));
        }
    }
    assert_string_equal(kumo_overlay_verdict_name(KUMO_OVERLAY_VERDICT_COUNT), "unknown");
    assert_string_equal(kumo_overlay_verdict_name((kumo_overlay_verdict_t)-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_decide_no_leases),
        cmocka_unit_test(test_decide_most_specific),
        cmocka_unit_test(test_decide_outside_is_global),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_verdict_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
