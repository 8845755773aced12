/*
 * test_escrow_ends.c - what a tenant sees when its escrow runs out, on real processes: one
 * validator (`kumo testnet`, 250 ms blocks), a provider account scripted through the CLI
 * (bids, confirms every few blocks), the tenant through `kumo tx` and `kumo query`.
 *   - runs out: a deployment whose escrow covers ~50 blocks with a 30-block warning. The node
 *     answers its escrow cover while it runs; the committed blocks then hold
 *     deployment.escrow_low first and deployment.closing (reason insufficient_funds) after;
 *     the deployment, its group and its lease say insufficient_funds in state,
 *     `kumo query leases` and `kumo deploy status` print it, and `kumo deploy events` shows
 *     the warning first and then the end with its reason.
 *   - bad input: an absurd or negative threshold, with `kumo tx deployment deposit` and with
 *     `kumo deploy deposit` (usage errors before anything is sent), an
 *     amount of 0 without a threshold, another key setting the tenant's threshold (refused by
 *     the chain) and `kumo deploy deposit` on another key's deployment (refused before
 *     sending): each a clear error, and the deployment is unchanged.
 * KUMO_TEST_ONLY=<test name pattern> runs one case (cmocka filter).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"

#define VERSION_HEX "abababababababababababababababababababababababababababababababab"
/* 2000 ukumo per block on 100000 of escrow: 50 blocks; warned below 30. */
#define PRICE       2000u
#define DEPOSIT     100000u
#define WARN        30u
#define CONFIRM_GAP 8

static kumo_test_net_t g;
static char g_node[64];
static char g_tenant[KUMO_ADDRESS_TEXT_BYTES];

static json_t *deployment_get(uint64_t dseq)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, g_tenant, dseq);
    return kumo_test_net_get(&g, 0, path);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The first lease of owner/dseq (NULL when none). */
static json_t *lease_first(uint64_t dseq)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%" PRIu64, g_tenant, dseq);
    json_t *list = kumo_test_net_get(&g, 0, path);
    json_t *l =
        list != NULL ? json_incref(json_array_get(json_object_get(list, "items"), 0)) : NULL;
    json_decref(list);
    return l;
}

/* A stack file of the deployments' one group (what `kumo deploy` commands load). */
static void stack_write(char *path, size_t cap)
{
    (void)snprintf(path, cap, "%s/stack.yml", g.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "version: \"1\"\n"
            "groups:\n"
            "  w:\n"
            "    region: r1\n"
            "    resources:\n"
            "      - {cpu: 100m, memory: 64Mi, count: 1, price: %u, collateral: 0}\n"
            "workloads:\n"
            "  w:\n"
            "    image: localhost/none:1\n"
            "    compute: {cpu: 100m, memory: 64Mi}\n"
            "    group: w\n"
            "wait_blocks: 1\n"
            "deposit: %u\n",
            PRICE, DEPOSIT);
    assert_int_equal(fclose(f), 0);
}

static void deploy_one(uint64_t dseq, const char *extra)
{
    char args[1024];
    (void)snprintf(args, sizeof(args),
                   "deployment create --dseq %" PRIu64 " --wait-blocks 1 --deposit %u %s "
                   "--group name=w,region=r1,cpu=100m,memory=64Mi,count=1,price=%u,collateral=0 "
                   "--version " VERSION_HEX " --wait",
                   dseq, DEPOSIT, extra, PRICE);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
}

/* The provider bids and the lease becomes active; returns its created height. */
static uint64_t bid_and_lease(uint64_t dseq)
{
    char args[256];
    (void)snprintf(args, sizeof(args), "fulfillment create %s/%" PRIu64 "/0/1 --wait", g_tenant,
                   dseq);
    kumo_test_net_tx_ok(&g, "provider0", "provider", "%s", args);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *l = lease_first(dseq);
        if (l != NULL && strcmp(str(l, "state"), "LEASE_ACTIVE") == 0) {
            uint64_t h = kumo_test_json_u64(l, "created_height");
            json_decref(l);
            return h;
        }
        json_decref(l);
        if (kumo_test_now_ms() > deadline) {
            kumo_test_net_logs_print(&g);
            fail_msg("lease of %" PRIu64 " never became active", dseq);
        }
        kumo_test_pause_ms(100);
    }
}

/* The (type, reason) of the deployment's events in the committed blocks from..to, in order. */
typedef struct ev_seen {
    char type[48];
    char reason[48];
    uint64_t height;
} ev_seen_t;

static size_t events_collect(uint64_t dseq, uint64_t from, uint64_t to, ev_seen_t *out, size_t cap)
{
    char id[KUMO_ID_TEXT_BYTES];
    (void)snprintf(id, sizeof(id), "%s/%" PRIu64, g_tenant, dseq);
    size_t n = 0;
    for (uint64_t h = from; h <= to; h++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
        json_t *b = kumo_test_net_get(&g, 0, path);
        assert_non_null(b);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(b, "results"), i, r)
        {
            size_t k;
            json_t *ev;
            json_array_foreach(json_object_get(r, "events"), k, ev)
            {
                if (strncmp(str(ev, "id"), id, strlen(id)) != 0 || n == cap) {
                    continue;
                }
                (void)snprintf(out[n].type, sizeof(out[n].type), "%s", str(ev, "type"));
                out[n].reason[0] = '\0';
                out[n].height = h;
                size_t a;
                json_t *at;
                json_array_foreach(json_object_get(ev, "attrs"), a, at)
                {
                    if (strcmp(str(at, "key"), "reason") == 0) {
                        (void)snprintf(out[n].reason, sizeof(out[n].reason), "%s",
                                       str(at, "value"));
                    }
                }
                n++;
            }
        }
        json_decref(b);
    }
    return n;
}

static size_t ev_index(const ev_seen_t *ev, size_t n, const char *type)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].type, type) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* The provider confirms every CONFIRM_GAP blocks until the deployment is no longer active. */
static void confirm_until_closed(uint64_t dseq, uint64_t lease_height, bool *saw_cover)
{
    char args[256];
    (void)snprintf(args, sizeof(args), "lease confirm %s/%" PRIu64 "/0/1 --wait", g_tenant, dseq);
    uint64_t deadline = kumo_test_now_ms() + 4u * KUMO_TEST_NET_WAIT_MS;
    int64_t next = (int64_t)lease_height + 2;
    for (;;) {
        json_t *d = deployment_get(dseq);
        assert_non_null(d);
        bool active = strcmp(str(d, "state"), "DEPLOYMENT_ACTIVE") == 0;
        json_t *c = json_object_get(d, "escrow_cover");
        if (active && c != NULL && kumo_test_json_u64(c, "price_per_block") == PRICE &&
            json_string_value(json_object_get(c, "blocks_covered")) != NULL &&
            kumo_test_json_u64(c, "warn_blocks") == WARN) {
            *saw_cover = true;
        }
        json_decref(d);
        if (!active) {
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            kumo_test_net_logs_print(&g);
            fail_msg("deployment %" PRIu64 " never ran out of escrow", dseq);
        }
        if (kumo_test_net_height(&g, 0) >= next) {
            (void)kumo_test_net_tx(&g, "provider0", "provider", "%s",
                                   args); /* the last one may race the close */
            next = kumo_test_net_height(&g, 0) + CONFIRM_GAP;
        }
        kumo_test_pause_ms(100);
    }
}

static void test_escrow_runs_out_warning_then_reason(void **state)
{
    (void)state;
    uint64_t dseq = 10;
    int64_t start = kumo_test_net_height(&g, 0);
    deploy_one(dseq, "--escrow-warn-blocks 30");
    uint64_t lease_height = bid_and_lease(dseq);
    bool saw_cover = false;
    confirm_until_closed(dseq, lease_height, &saw_cover);
    assert_true(saw_cover);
    json_t *d = deployment_get(dseq);
    assert_non_null(d);
    assert_string_equal(str(d, "close_reason"), "CLOSE_REASON_INSUFFICIENT_FUNDS");
    uint64_t closing = kumo_test_json_u64(d, "closing_height");
    assert_true(closing > lease_height);
    assert_true(json_is_true(json_object_get(d, "escrow_low")));
    json_decref(d);
    ev_seen_t ev[64];
    size_t n = events_collect(dseq, (uint64_t)start, closing, ev, 64);
    size_t warn = ev_index(ev, n, "deployment.escrow_low");
    size_t end = ev_index(ev, n, "deployment.closing");
    if (warn == SIZE_MAX || end == SIZE_MAX || warn > end) {
        for (size_t i = 0; i < n; i++) {
            print_message("event %s %s at %" PRIu64 "\n", ev[i].type, ev[i].reason, ev[i].height);
        }
        fail_msg("want deployment.escrow_low before deployment.closing");
    }
    assert_true(ev[warn].height < ev[end].height);
    assert_string_equal(ev[end].reason, "insufficient_funds");
    /* Once per crossing: one warning. */
    size_t warnings = 0;
    for (size_t i = 0; i < n; i++) {
        warnings += strcmp(ev[i].type, "deployment.escrow_low") == 0 ? 1u : 0u;
    }
    assert_int_equal(warnings, 1);
    json_t *l = lease_first(dseq);
    assert_non_null(l);
    assert_string_equal(str(l, "close_reason"), "CLOSE_REASON_INSUFFICIENT_FUNDS");
    json_decref(l);
    /* What the tenant reads. */
    char args[12288];
    (void)snprintf(args, sizeof(args), "query leases --owner %s --dseq %" PRIu64 " --node %s",
                   g_tenant, dseq, g_node);
    int code = 0;
    char *out = kumo_test_net_output(&g, &code, "%s", args);
    assert_int_equal(code, 0);
    if (strstr(out, "insufficient_funds at") == NULL) {
        fail_msg("kumo query leases does not say why:\n%s", out);
    }
    free(out);
    /* kumo deploy status says it too (a stack path only names the state file: --dseq). */
    char want[128];
    (void)snprintf(want, sizeof(want), "ended: insufficient_funds at %" PRIu64, closing);
    (void)snprintf(args, sizeof(args),
                   "deploy status %s/none.yml --dseq %" PRIu64 " --home %s/tenant --from tenant "
                   "--node %s",
                   g.dir, dseq, g.dir, g_node);
    out = kumo_test_net_output(&g, &code, "%s", args);
    if (code != 0 || strstr(out, want) == NULL) {
        fail_msg("kumo deploy status: exit %d, lacks '%s':\n%s", code, want, out);
    }
    free(out);
    /* kumo deploy events: the warning first, then the end with its reason. */
    char stack[4096];
    stack_write(stack, sizeof(stack));
    (void)snprintf(args, sizeof(args),
                   "deploy events %s --dseq %" PRIu64 " --home %s/tenant --from tenant --node %s",
                   stack, dseq, g.dir, g_node);
    out = kumo_test_net_output(&g, &code, "%s", args);
    const char *low = strstr(out, " deployment.escrow_low ");
    const char *ended = strstr(out, " deployment.closing ");
    if (code != 0 || low == NULL || ended == NULL || low > ended ||
        strstr(ended, "reason=insufficient_funds") == NULL) {
        fail_msg("kumo deploy events: exit %d, want escrow_low then closing "
                 "(insufficient_funds):\n%s",
                 code, out);
    }
    print_message("kumo deploy events:\n%s", out);
    free(out);
}

/* The deployment's escrow and threshold, to compare before and after. */
static void dep_snapshot(uint64_t dseq, char *out, size_t cap)
{
    json_t *d = deployment_get(dseq);
    assert_non_null(d);
    (void)snprintf(out, cap, "%s %s %s", str(d, "escrow"), str(d, "escrow_warn_blocks"),
                   json_is_true(json_object_get(d, "escrow_low")) ? "low" : "ok");
    json_decref(d);
}

static void expect_fail(const char *args, int want_code, const char *needle)
{
    int code = 0;
    char *out = kumo_test_net_output(&g, &code, "%s", args);
    if (code != want_code || strstr(out, needle) == NULL) {
        fail_msg("kumo %s: exit %d (want %d), output lacks '%s':\n%s", args, code, want_code,
                 needle, out);
    }
    free(out);
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    uint64_t dseq = 20;
    deploy_one(dseq, "--escrow-warn-blocks 40");
    char before[256];
    char after[256];
    dep_snapshot(dseq, before, sizeof(before));
    char args[12288];
    /* Absurd and negative thresholds: usage errors, nothing sent. */
    (void)snprintf(args, sizeof(args),
                   "tx deployment deposit --home %s/tenant --node %s --from tenant %" PRIu64
                   " 1000 --escrow-warn-blocks 10000001",
                   g.dir, g_node, dseq);
    expect_fail(args, 2, "at most 10000000");
    (void)snprintf(args, sizeof(args),
                   "tx deployment deposit --home %s/tenant --node %s --from tenant %" PRIu64
                   " 1000 --escrow-warn-blocks -5",
                   g.dir, g_node, dseq);
    expect_fail(args, 2, "escrow-warn-blocks");
    (void)snprintf(args, sizeof(args),
                   "tx deployment deposit --home %s/tenant --node %s --from tenant %" PRIu64 " 0",
                   g.dir, g_node, dseq);
    expect_fail(args, 2, "more than 0");
    /* Another key setting the tenant's threshold: the chain refuses it. */
    (void)snprintf(args, sizeof(args),
                   "tx deployment deposit --home %s/provider0 --node %s --from provider --wait "
                   "%s/%" PRIu64 " 0 --escrow-warn-blocks 5",
                   g.dir, g_node, g_tenant, dseq);
    expect_fail(args, 1, "owner");
    /* kumo deploy deposit on another key's deployment: refused before anything is sent. */
    char stack[4096];
    (void)snprintf(stack, sizeof(stack), "%s/stack.yml", g.dir);
    char state_path[4300];
    (void)snprintf(state_path, sizeof(state_path), "%s/.kumo-deploy-stack.yml.json", g.dir);
    FILE *f = fopen(state_path, "w");
    assert_non_null(f);
    fprintf(f, "{\"owner\": \"%s\", \"dseq\": \"%" PRIu64 "\", \"from\": \"tenant\"}\n", g_tenant,
            dseq);
    assert_int_equal(fclose(f), 0);
    (void)snprintf(args, sizeof(args),
                   "deploy deposit %s 1000 --home %s/provider0 --node %s --from provider", stack,
                   g.dir, g_node);
    expect_fail(args, 1, "belongs to");
    /* kumo deploy deposit by the owner with an absurd or a negative threshold: usage errors. */
    (void)snprintf(args, sizeof(args),
                   "deploy deposit %s 1000 --escrow-warn-blocks 10000001 --home %s/tenant --node "
                   "%s --from tenant",
                   stack, g.dir, g_node);
    expect_fail(args, 2, "at most 10000000");
    (void)snprintf(args, sizeof(args),
                   "deploy deposit %s 1000 --escrow-warn-blocks -1 --home %s/tenant --node %s "
                   "--from tenant",
                   stack, g.dir, g_node);
    expect_fail(args, 2, "escrow-warn-blocks");
    kumo_test_pause_ms(1000); /* a block or more: anything sent would have committed */
    dep_snapshot(dseq, after, sizeof(after));
    assert_string_equal(before, after);
    /* The owner can: amount 0, threshold only. */
    (void)snprintf(args, sizeof(args),
                   "deployment deposit %" PRIu64 " 0 --escrow-warn-blocks 7 --wait", dseq);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    json_t *d = deployment_get(dseq);
    assert_string_equal(str(d, "escrow_warn_blocks"), "7");
    json_decref(d);
    /* What deploy status shows of it: the escrow, nothing to pay yet, the threshold. */
    (void)snprintf(args, sizeof(args),
                   "deploy status %s --dseq %" PRIu64 " --home %s/tenant --from tenant --node %s",
                   stack, dseq, g.dir, g_node);
    int code = 0;
    char *out = kumo_test_net_output(&g, &code, "%s", args);
    if (code != 0 || strstr(out, "escrow 100000 ukumo left") == NULL ||
        strstr(out, "nothing to pay yet; warning below 7 blocks") == NULL) {
        fail_msg("kumo deploy status: exit %d:\n%s", code, out);
    }
    free(out);
}

static int group_setup(void **state)
{
    (void)state;
    if (kumo_test_net_start(&g, 1, 250, "--providers 1") != 0) {
        return -1;
    }
    (void)snprintf(g_node, sizeof(g_node), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g, 0));
    kumo_test_net_address(&g, "tenant", "tenant", g_tenant);
    kumo_test_net_provider_create(&g, "provider0", "provider", 0x42);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escrow_runs_out_warning_then_reason),
        cmocka_unit_test(test_bad_input_changes_nothing),
    };
    const char *only = getenv("KUMO_TEST_ONLY");
    if (only != NULL && only[0] != '\0') {
        cmocka_set_test_filter(only);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
