/*
 * test_no_bids.c - "why no bids" on real processes: one validator (`kumo testnet`, 250 ms
 * blocks) and a provider account scripted through the CLI that publishes its offer with
 * `kumo tx provider update --offer` (prices, free capacity, collateral budget left) and never
 * bids. For each cause - no provider in the region, every price above the order's maximum,
 * not enough free capacity, a collateral above what the provider can lock - `kumo deploy
 * quote` names that cause before anything is sent, and `kumo deploy create` names it while its
 * order waits without a bid, and `kumo deploy status` for the order still open. A fitting offer
 * makes the quote list the provider and its price. Placement requirements: the quote names
 * the attribute or auditor signature the provider lacks, through `kumo tx provider update
 * --attr`, `kumo tx audit sign|revoke` and `kumo query provider`; a unit with GPUs: the quote
 * says no provider has free GPUs like them. KUMO_TEST_ONLY=<test name
 * pattern> runs one case (cmocka filter).
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

static kumo_test_net_t g;
static char g_node[64];
static uint64_t g_dseq = 100;

/* The provider publishes what it offers (and waits for the commit). */
static void offer(const char *spec)
{
    kumo_test_net_tx_ok(&g, "provider0", "provider", "provider update --offer %s --wait", spec);
}

/* A one-group stack: 1 unit of 100m cpu, 64Mi memory in region, at price, with collateral. */
static void
stack_write(const char *region, uint64_t price, uint64_t collateral, char *path, size_t cap)
{
    (void)snprintf(path, cap, "%s/stack-%s-%" PRIu64 "-%" PRIu64 ".yml", g.dir, region, price,
                   collateral);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "version: \"1\"\n"
            "groups:\n"
            "  app:\n"
            "    region: %s\n"
            "    resources:\n"
            "      - cpu: 100m\n"
            "        memory: 64Mi\n"
            "        count: 1\n"
            "        price: %" PRIu64 "\n"
            "        collateral: %" PRIu64 "\n"
            "workloads:\n"
            "  app:\n"
            "    image: localhost/none:1\n"
            "    compute:\n"
            "      cpu: 100m\n"
            "      memory: 64Mi\n"
            "    group: app\n"
            "wait_blocks: 1\n"
            "deposit: 1000000\n",
            region, price, collateral);
    assert_int_equal(fclose(f), 0);
}

static void expect_output(const char *args, int want_code, const char *needle)
{
    int code = 0;
    char *out = kumo_test_net_output(&g, &code, "%s", args);
    if (code != want_code || strstr(out, needle) == NULL) {
        kumo_test_net_logs_print(&g);
        fail_msg("kumo %s: exit %d (want %d), output lacks '%s':\n%s", args, code, want_code,
                 needle, out);
    }
    print_message("kumo %s:\n%s", args, out);
    free(out);
}

/* quote says `needle`; create (with --timeout) says it too while its order waits. */
static void case_run(const char *region, uint64_t price, uint64_t collateral, const char *needle)
{
    char stack[4096];
    stack_write(region, price, collateral, stack, sizeof(stack));
    char args[8192];
    (void)snprintf(args, sizeof(args), "deploy quote %s --node %s", stack, g_node);
    expect_output(args, 0, needle);
    (void)snprintf(args, sizeof(args),
                   "deploy create %s --home %s/tenant --from tenant --node %s --dseq %" PRIu64
                   " --timeout 8",
                   stack, g.dir, g_node, g_dseq);
    expect_output(args, 1, needle);
    /* deploy status names it for the order still open without a bid. */
    (void)snprintf(args, sizeof(args),
                   "deploy status %s --home %s/tenant --from tenant --node %s --dseq %" PRIu64,
                   stack, g.dir, g_node, g_dseq++);
    expect_output(args, 0, needle);
}

/* Enough of everything, cheap: 40 per core, 10 per GiB. */
#define OFFER_FITS                                                                  \
    "price_cpu=40,price_memory=10,price_storage=1,cpu=8,memory=16Gi,storage=100Gi," \
    "collateral=1000000"

static void test_region(void **state)
{
    (void)state;
    offer(OFFER_FITS);
    case_run("r9", 100, 10, "region: no provider serves region r9 (regions served: r1)");
}

static void test_price(void **state)
{
    (void)state;
    /* 100m at 1000 per core = 100 per block, the order allows 10. */
    offer("price_cpu=1000,price_memory=0,price_storage=0,cpu=8,memory=16Gi,storage=100Gi,"
          "collateral=1000000");
    case_run("r1", 10, 10, "price: 1 provider(s) in r1 ask more than your maximum of 10");
}

static void test_capacity(void **state)
{
    (void)state;
    offer("price_cpu=40,price_memory=10,price_storage=1,cpu=50m,memory=16Gi,storage=100Gi,"
          "collateral=1000000");
    case_run("r1", 100, 10, "capacity: 1 provider(s) in r1 lack the free capacity");
}

static void test_collateral(void **state)
{
    (void)state;
    offer("price_cpu=40,price_memory=10,price_storage=1,cpu=8,memory=16Gi,storage=100Gi,"
          "collateral=5");
    case_run("r1", 100, 10, "collateral: the group's collateral of 10 ukumo is more than 1");
}

static void test_fits(void **state)
{
    (void)state;
    offer(OFFER_FITS);
    char stack[4096];
    stack_write("r1", 100, 10, stack, sizeof(stack));
    char args[8192];
    /* 100m x 40 per core = 4, 64Mi x 10 per GiB = 1 (rounded up): 5 per block. */
    (void)snprintf(args, sizeof(args), "deploy quote %s --node %s", stack, g_node);
    expect_output(args, 0, "at 5 ukumo/block");
    (void)snprintf(args, sizeof(args), "deploy quote %s --node %s --output json", stack, g_node);
    expect_output(args, 0, "\"price_per_block\": 5");
}

/* A fitting stack whose group requires tier=gold, signed by auditor when not NULL. */
static void stack_req_write(const char *auditor, char *path, size_t cap)
{
    char plain[4096];
    stack_write("r1", 100, 10, plain, sizeof(plain));
    (void)snprintf(path, cap, "%s/stack-req-%s.yml", g.dir, auditor != NULL ? "signed" : "attr");
    FILE *in = fopen(plain, "r");
    FILE *f = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof(line), in) != NULL) {
        fputs(line, f);
        if (strcmp(line, "    region: r1\n") == 0) {
            fprintf(f, "    requirements:\n      attributes: {tier: gold}\n");
            if (auditor != NULL) {
                fprintf(f, "      signed_by: {all_of: [%s]}\n", auditor);
            }
        }
    }
    assert_int_equal(fclose(in), 0);
    assert_int_equal(fclose(f), 0);
}

static void quote_expect(const char *stack, const char *needle)
{
    char args[8192];
    (void)snprintf(args, sizeof(args), "deploy quote %s --node %s", stack, g_node);
    expect_output(args, 0, needle);
}

/* Placement requirements: the quote names the attribute, then the auditor signature, the
 * provider lacks; once it declares it and the auditor signs, it would bid; a revocation takes
 * that back. The audit shows in `kumo query provider`. */
static void test_requirements(void **state)
{
    (void)state;
    offer(OFFER_FITS);
    char tenant[KUMO_ADDRESS_TEXT_BYTES];
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    kumo_test_net_address(&g, "tenant", "tenant", tenant);
    kumo_test_net_address(&g, "provider0", "provider", provider);
    char attr_stack[4096];
    char signed_stack[4096];
    stack_req_write(NULL, attr_stack, sizeof(attr_stack));
    stack_req_write(tenant, signed_stack, sizeof(signed_stack));
    quote_expect(attr_stack, "provider lacks attribute tier=gold");

    kumo_test_net_tx_ok(&g, "provider0", "provider", "provider update --attr tier=gold --wait");
    quote_expect(attr_stack, "at 5 ukumo/block");
    quote_expect(signed_stack, "requirements: 1 provider(s) in r1 do not meet");

    char args[8192];
    (void)snprintf(args, sizeof(args), "audit sign %s tier=gold --wait", provider);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    quote_expect(signed_stack, "at 5 ukumo/block");
    (void)snprintf(args, sizeof(args), "query provider %s --node %s --output json", provider,
                   g_node);
    expect_output(args, 0, tenant);

    (void)snprintf(args, sizeof(args), "audit revoke %s --wait", provider);
    kumo_test_net_tx_ok(&g, "tenant", "tenant", "%s", args);
    quote_expect(signed_stack, "has not signed the required attributes");
}

/* A unit with GPUs and a provider whose offer lists no free GPUs: the quote names gpu. */
static void test_gpu(void **state)
{
    (void)state;
    offer(OFFER_FITS);
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/stack-gpu.yml", g.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "version: \"1\"\n"
               "groups:\n"
               "  app:\n"
               "    region: r1\n"
               "    resources:\n"
               "      - {cpu: 100m, memory: 64Mi, gpu: {count: 1, vendor: nvidia}, price: 100}\n"
               "workloads:\n"
               "  app:\n"
               "    image: localhost/none:1\n"
               "    compute: {cpu: 100m, memory: 64Mi, gpu: {count: 1, vendor: nvidia}}\n"
               "    group: app\n"
               "wait_blocks: 1\n"
               "deposit: 1000000\n");
    assert_int_equal(fclose(f), 0);
    quote_expect(path, "gpu: 1 provider(s) in r1 have no free GPUs like the group's");
}

static void test_bad_offer(void **state)
{
    (void)state;
    char args[8192];
    (void)snprintf(args, sizeof(args),
                   "tx provider update --home %s/provider0 --node %s --from provider --offer "
                   "price_cpu=1,cpu=8",
                   g.dir, g_node);
    expect_output(args, 2, "offer lacks a key");
    (void)snprintf(args, sizeof(args),
                   "tx provider update --home %s/provider0 --node %s --from provider --offer "
                   "price_cpu=1,price_memory=1,price_storage=1,cpu=8,memory=1Gi,storage=1Gi,"
                   "collateral=1,bogus=2",
                   g.dir, g_node);
    expect_output(args, 2, "offer key 'bogus' unknown");
}

static int group_setup(void **state)
{
    (void)state;
    if (kumo_test_net_start(&g, 1, 250, "--providers 1") != 0) {
        return -1;
    }
    (void)snprintf(g_node, sizeof(g_node), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g, 0));
    kumo_test_net_provider_create(&g, "provider0", "provider", 0x43);
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
        cmocka_unit_test(test_region),       cmocka_unit_test(test_price),
        cmocka_unit_test(test_capacity),     cmocka_unit_test(test_collateral),
        cmocka_unit_test(test_fits),         cmocka_unit_test(test_bad_offer),
        cmocka_unit_test(test_requirements), cmocka_unit_test(test_gpu),
    };
    const char *only = getenv("KUMO_TEST_ONLY");
    if (only != NULL && only[0] != '\0') {
        cmocka_set_test_filter(only);
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
