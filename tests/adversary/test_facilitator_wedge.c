/*
 * test_facilitator_wedge.c - a tenant whose own ordinary `kumo tx deployment update`s make one
 * due facilitator item invalidate another must not stop matching for anyone else.
 *
 * One validator (`kumo testnet`, 250 ms blocks), one provider bidding through the CLI, the
 * tenant driving `kumo tx deployment create/update` through the CLI, and another tenant:
 *   - escrow emptied: two groups leased on an escrow that covers a few blocks, both re-ordered
 *     by one update; when the re-orders fall due, matching the first settles its old lease,
 *     finds the escrow short and closes the deployment, which closes the second re-order. A
 *     facilitator that packs every due msg from the state before the block fails its whole tx,
 *     identically every block.
 *   - re-order at the stale height: an update lands in the block where the provider confirms
 *     the lease, with wait_blocks = reconfirmation_period + 1, so the re-order falls due at the
 *     height the lease goes stale. Matching first closes the lease and the stale msg fails.
 * In each, the other tenant's order, created after the items fall due, must be leased within
 * the deadline; and the tenant's deployment reaches its outcome (closed for insufficient
 * funds; old lease stale, new one active). Fails on a facilitator that packs all due msgs.
 * KUMO_TEST_ONLY=<test name pattern> runs one case (cmocka filter).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"

#define VERSION_HEX "abababababababababababababababababababababababababababababababab"
#define STALE_TRIES 6

static kumo_test_net_t g;
static char g_node[64];
static char g_tenant[KUMO_ADDRESS_TEXT_BYTES];
static char g_other[KUMO_ADDRESS_TEXT_BYTES];
static uint64_t g_period;

/* The object of a list endpoint whose order id (at "id" or "id.order") is owner/dseq/g/o. */
static json_t *list_find(const char *path, uint32_t gseq, uint32_t oseq)
{
    json_t *list = kumo_test_net_get(&g, 0, path);
    if (list == NULL) {
        return NULL;
    }
    json_t *found = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        json_t *id = json_object_get(it, "id");
        json_t *order = json_object_get(id, "order");
        json_t *oid = order != NULL ? order : id;
        if (kumo_test_json_u64(oid, "gseq") == gseq && kumo_test_json_u64(oid, "oseq") == oseq) {
            found = json_incref(it);
            break;
        }
    }
    json_decref(list);
    return found;
}

static json_t *order_get(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/orders?owner=%s&dseq=%" PRIu64, owner, dseq);
    return list_find(path, gseq, oseq);
}

static json_t *lease_get(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%" PRIu64, owner, dseq);
    return list_find(path, gseq, oseq);
}

/* The state name of an object (NULL when absent); a static copy. */
static const char *state_of(json_t *obj)
{
    static char state[64];
    state[0] = '\0';
    if (obj == NULL) {
        return NULL;
    }
    const char *s = json_string_value(json_object_get(obj, "state"));
    (void)snprintf(state, sizeof(state), "%s", s != NULL ? s : "");
    json_decref(obj);
    return state;
}

static bool
lease_is(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq, const char *want)
{
    const char *s = state_of(lease_get(owner, dseq, gseq, oseq));
    return s != NULL && strcmp(s, want) == 0;
}

/* Polls until the lease of owner/dseq/gseq/oseq is in state want; fails at the deadline. */
static void
lease_wait(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq, const char *want)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (!lease_is(owner, dseq, gseq, oseq, want)) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_net_logs_print(&g);
            fail_msg("lease %s/%" PRIu64 "/%u/%u never reached %s (height %" PRId64 ")", owner,
                     dseq, gseq, oseq, want, kumo_test_net_height(&g, 0));
        }
        kumo_test_pause_ms(100);
    }
}

static uint64_t order_match_height(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    json_t *o = order_get(owner, dseq, gseq, oseq);
    if (o == NULL) {
        return 0;
    }
    uint64_t h = kumo_test_json_u64(o, "match_height");
    json_decref(o);
    return h;
}

static void bid(const char *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    char args[256];
    (void)snprintf(args, sizeof(args), "fulfillment create %s/%" PRIu64 "/%u/%u --wait", owner,
                   dseq, gseq, oseq);
    kumo_test_net_tx_ok(&g, "provider0", "provider", "%s", args);
}

/* The other tenant deploys one cheap group once the chain is past height and gets a bid:
 * its order falls due while the tenant's items are due, and must be leased. */
static void other_tenant_leased_after(int64_t height, uint64_t dseq)
{
    kumo_test_net_wait_height(&g, 1u, height);
    char args[512];
    (void)snprintf(args, sizeof(args),
                   "deployment create --dseq %" PRIu64 " --wait-blocks 1 --deposit 100000 "
                   "--group name=w,region=r1,cpu=100m,memory=64Mi,count=1,price=10,collateral=0 "
                   "--version " VERSION_HEX " --wait",
                   dseq);
    kumo_test_net_tx_ok(&g, "provider1", "provider", "%s", args);
    bid(g_other, dseq, 0, 1);
    lease_wait(g_other, dseq, 0, 1, "LEASE_ACTIVE");
}

/* Deployment dseq: 2 x 50000 ukumo per block on a 100000 escrow (any settlement after two
 * blocks is short), both groups leased, then one ordinary update re-orders both and each
 * re-order gets a bid. Returns the re-orders' due height, or 0 when the bids landed too late
 * for both to fall due in the same block (a slow machine: the caller retries). */
static uint64_t escrow_setup(uint64_t dseq)
{
    char args[1024];
    (void)snprintf(
        args, sizeof(args),
        "deployment create --dseq %" PRIu64 " --wait-blocks 12 --deposit 100000 "
        "--group name=a,region=r1,cpu=500m,memory=512Mi,count=1,price=50000,collateral=0 "
        "--group name=b,region=r1,cpu=500m,memory=512Mi,count=1,price=50000,collateral=0 "
        "--version " VERSION_HEX " --wait",
        dseq);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    bid(g_tenant, dseq, 0, 1);
    bid(g_tenant, dseq, 1, 1);
    lease_wait(g_tenant, dseq, 1, 1, "LEASE_ACTIVE");
    assert_true(lease_is(g_tenant, dseq, 0, 1, "LEASE_ACTIVE"));
    (void)snprintf(
        args, sizeof(args),
        "deployment update %" PRIu64 " "
        "--group name=a,region=r1,cpu=600m,memory=512Mi,count=1,price=50000,collateral=0 "
        "--group name=b,region=r1,cpu=600m,memory=512Mi,count=1,price=50000,collateral=0 "
        "--version " VERSION_HEX " --wait",
        dseq);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    uint64_t due = order_match_height(g_tenant, dseq, 1, 2);
    assert_true(due > 0);
    bid(g_tenant, dseq, 0, 2);
    bid(g_tenant, dseq, 1, 2);
    return kumo_test_net_height(&g, 0) < (int64_t)due ? due : 0;
}

static void test_escrow_emptied_by_settlement(void **state)
{
    (void)state;
    uint64_t dseq = 100;
    uint64_t due = 0;
    for (; due == 0 && dseq < 103; dseq++) {
        due = escrow_setup(dseq);
    }
    dseq--;
    if (due == 0) {
        fail_msg("the bids never landed before the re-orders fell due");
    }
    other_tenant_leased_after((int64_t)due + 1, 200);
    /* The tenant's deployment reached its outcome: closed for insufficient funds, the first
     * re-order leased (and closing with it), the second closed. */
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, g_tenant, dseq);
    json_t *d = kumo_test_net_get(&g, 0, path);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "DEPLOYMENT_CLOSING");
    assert_string_equal(json_string_value(json_object_get(d, "close_reason")),
                        "CLOSE_REASON_INSUFFICIENT_FUNDS");
    json_decref(d);
    const char *s = state_of(order_get(g_tenant, dseq, 1, 2));
    assert_non_null(s);
    assert_string_equal(s, "ORDER_CLOSED");
    s = state_of(order_get(g_tenant, dseq, 0, 2));
    assert_non_null(s);
    assert_string_equal(s, "ORDER_MATCHED");
}

/* Sends the tenant's re-ordering update (cpu in milli) and the provider's confirmation of the
 * current lease at the same time, so they usually land in the same block. */
static void update_and_confirm(uint32_t cpu_milli, uint32_t lease_oseq)
{
    char update[512];
    (void)snprintf(update, sizeof(update),
                   "deployment update 300 --group "
                   "name=c,region=r1,cpu=%um,memory=256Mi,count=1,price=10,collateral=0 "
                   "--version " VERSION_HEX,
                   cpu_milli);
    char confirm[256];
    (void)snprintf(confirm, sizeof(confirm), "lease confirm %s/300/0/%u", g_tenant, lease_oseq);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(kumo_test_net_tx(&g, "tenant", "tenant", "%s", update) == 0 ? 0 : 1);
    }
    int confirm_rc = kumo_test_net_tx(&g, "provider0", "provider", "%s", confirm);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(confirm_rc, 0);
}

/* Waits until the re-order oseq exists and the lease's confirmation moved past before;
 * returns whether the re-order falls due exactly at the lease's stale height. */
static bool reorder_aligned(uint32_t oseq, uint64_t confirmed_before)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        uint64_t match = order_match_height(g_tenant, 300, 0, oseq);
        json_t *l = lease_get(g_tenant, 300, 0, 1);
        uint64_t confirmed = l != NULL ? kumo_test_json_u64(l, "last_confirmed_height") : 0;
        json_decref(l);
        if (match > 0 && confirmed > confirmed_before) {
            return match == confirmed + g_period + 1;
        }
        if (kumo_test_now_ms() > deadline) {
            kumo_test_net_logs_print(&g);
            fail_msg("update or confirmation never committed");
        }
        kumo_test_pause_ms(100);
    }
}

static void test_reorder_due_at_stale_height(void **state)
{
    (void)state;
    char args[512];
    (void)snprintf(args, sizeof(args),
                   "deployment create --dseq 300 --wait-blocks %" PRIu64 " --deposit 10000000 "
                   "--group name=c,region=r1,cpu=100m,memory=256Mi,count=1,price=10,collateral=0 "
                   "--version " VERSION_HEX " --wait",
                   g_period + 1);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    bid(g_tenant, 300, 0, 1);
    lease_wait(g_tenant, 300, 0, 1, "LEASE_ACTIVE");
    /* Update and confirmation in one block: the re-order's match height (update height +
     * period + 1) is then the lease's stale height (confirmation height + period + 1). */
    uint32_t oseq = 1;
    bool aligned = false;
    for (int i = 0; i < STALE_TRIES && !aligned; i++) {
        json_t *l = lease_get(g_tenant, 300, 0, 1);
        assert_non_null(l);
        uint64_t confirmed = kumo_test_json_u64(l, "last_confirmed_height");
        json_decref(l);
        oseq++;
        update_and_confirm(200u + 100u * (uint32_t)i, 1);
        aligned = reorder_aligned(oseq, confirmed);
    }
    if (!aligned) {
        fail_msg("the update and the confirmation never shared a block in %d tries", STALE_TRIES);
    }
    uint64_t due = order_match_height(g_tenant, 300, 0, oseq);
    bid(g_tenant, 300, 0, oseq);
    assert_true(kumo_test_net_height(&g, 0) < (int64_t)due);
    other_tenant_leased_after((int64_t)due + 1, 400);
    /* The old lease went stale (its collateral to the tenant), then the re-order was leased. */
    lease_wait(g_tenant, 300, 0, oseq, "LEASE_ACTIVE");
    assert_true(lease_is(g_tenant, 300, 0, 1, "LEASE_STALE"));
}

static int group_setup(void **state)
{
    (void)state;
    if (kumo_test_net_start(&g, 1, 250, "--providers 2") != 0) {
        return -1;
    }
    (void)snprintf(g_node, sizeof(g_node), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g, 0));
    kumo_test_net_address(&g, "tenant", "tenant", g_tenant);
    kumo_test_net_address(&g, "provider1", "provider", g_other);
    json_t *params = kumo_test_net_get(&g, 0, "/params");
    assert_non_null(params);
    g_period = kumo_test_json_u64(params, "reconfirmation_period");
    json_decref(params);
    assert_true(g_period > 0 && g_period < 100);
    /* The provider registers with a CA root of its own. */
    kumo_test_net_provider_create(&g, "provider0", "provider", 0x41);
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
        cmocka_unit_test(test_escrow_emptied_by_settlement),
        cmocka_unit_test(test_reorder_due_at_stale_height),
    };
    const char *only = getenv("KUMO_TEST_ONLY");
    if (only != NULL && only[0] != '\0') {
        cmocka_set_test_filter(only);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
