/*
 * test_cli_parse.c - the CLI's parsers (src/cli/cli_parse.c) and option handling
 * (src/cli/cli_args.c): numbers, amounts, CPU, sizes, --group specs, --attr, --state and
 * version hex, the terms of a grant, each with a valid value and one table row per rejection;
 * then option parsing through cli_dispatch with a fake subcommand (unknown options, missing
 * values, limits, order of options and arguments). The cli sources are compiled into this test
 * (they are not a library), so it tests exactly the code the kumo binary runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.c"
#include "cli/cli_grant.c"
#include "cli/cli_parse.c"
#include "helpers/testutil.h"

/* ---- numbers ---- */

static void test_u64_parse_accepts_decimal(void **state)
{
    (void)state;
    uint64_t v = 1;
    assert_int_equal(cli_u64_parse("0", "n", &v, NULL), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_u64_parse("18446744073709551615", "n", &v, NULL), 0);
    assert_true(v == UINT64_MAX);
}

static void test_u64_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {"",   "01", "-1",   "+1", "1a", "18446744073709551616",
                                      " 1", "1 ", "0x10", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        kumo_err_ctx_t err = {0};
        if (cli_u64_parse(bad[i], "n", &v, &err) != KUMO_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
        assert_int_equal(v, 7);
        assert_true(err.detail[0] != '\0');
    }
}

static void test_amount_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"250", 250},
        {"250ukumo", 250},
        {"0", 0},
        {"1kumo", 1000000},
        {"1.5kumo", 1500000},
        {"0.000001kumo", 1},
        {"12.25kumo", 12250000},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 0;
        kumo_err_ctx_t err = {0};
        if (cli_amount_parse(ok[i].text, &v, &err) != 0 || v != ok[i].want) {
            fail_msg("'%s': got %d %s", ok[i].text, err.code, err.detail);
        }
    }
    static const char *const bad[] = {"",
                                      "1.5",
                                      "1.5ukumo",
                                      "1.0000001kumo",
                                      "1kumos",
                                      "kumo",
                                      "1.kumo",
                                      ".5kumo",
                                      "-1",
                                      "1 ukumo",
                                      "18446744073709551616",
                                      "18446744073710kumo",
                                      "1UKUMO",
                                      "01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 0;
        if (cli_amount_parse(bad[i], &v, NULL) != KUMO_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

static void test_cpu_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {{"500m", 500}, {"2", 2000}, {"0.5", 500}, {"0.125", 125}, {"1m", 1}, {"16", 16000}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 0;
        if (cli_cpu_parse(ok[i].text, &v, NULL) != 0 || v != ok[i].want) {
            fail_msg("'%s' gave %llu", ok[i].text, (unsigned long long)v);
        }
    }
    static const char *const bad[] = {"0",    "0m", "0.0005", "1.5m",
                                      "500M", "m",  "-1",     "1.",
                                      "",     "2 ", "1e3",    "99999999999999999999m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 0;
        kumo_err_ctx_t err = {0};
        if (cli_cpu_parse(bad[i], &v, &err) != KUMO_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
        assert_non_null(strstr(err.detail, "cpu"));
    }
}

static void test_size_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"512Mi", 512ull << 20},  {"1Gi", 1ull << 30},
        {"1500", 1500},           {"1k", 1000},
        {"2Ti", 2ull << 40},      {"3Ki", 3072},
        {"5M", 5000000},          {"1G", 1000000000},
        {"1T", 1000000000000ull}, {"16777215Ti", 16777215ull << 40},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 0;
        if (cli_size_parse(ok[i].text, "memory", &v, NULL) != 0 || v != ok[i].want) {
            fail_msg("'%s' gave %llu", ok[i].text, (unsigned long long)v);
        }
    }
    static const char *const bad[] = {"0",   "1.5Gi",      "1gi",  "1MiB", "Mi",  "",
                                      "0Mi", "16777216Ti", "1 Gi", "-1",   "1KI", "1K"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 0;
        kumo_err_ctx_t err = {0};
        if (cli_size_parse(bad[i], "memory", &v, &err) != KUMO_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
        assert_non_null(strstr(err.detail, "memory"));
    }
}

/* ---- group specs ---- */

#define GROUP_OK \
    "name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=2,price=40,collateral=5000"

static void test_group_parse_valid(void **state)
{
    (void)state;
    cli_group_t g;
    kumo_err_ctx_t err = {0};
    assert_int_equal(cli_group_parse(GROUP_OK, &g, &err), 0);
    assert_string_equal(g.name, "web");
    assert_string_equal(g.region, "us-east");
    assert_int_equal(g.cpu_milli, 500);
    assert_true(g.memory_bytes == 512ull << 20);
    assert_true(g.storage_bytes == 1ull << 30);
    assert_int_equal(g.count, 2);
    assert_int_equal(g.price_ukumo, 40);
    assert_int_equal(g.collateral_ukumo, 5000);
    assert_false(g.persist);
    assert_int_equal(cli_group_parse(GROUP_OK ",persist", &g, &err), 0);
    assert_true(g.persist);
    assert_int_equal(cli_group_parse(GROUP_OK ",persist=false", &g, &err), 0);
    assert_false(g.persist);
    /* storage is optional; keys may come in any order. */
    assert_int_equal(cli_group_parse("count=1,price=1kumo,collateral=0,cpu=2,memory=1Gi,"
                                     "region=eu,name=db",
                                     &g, &err),
                     0);
    assert_int_equal(g.storage_bytes, 0);
    assert_int_equal(g.price_ukumo, 1000000);
    assert_int_equal(g.cpu_milli, 2000);
    cli_group_pb_t pb;
    cli_group_to_pb(&g, &pb);
    assert_string_equal(pb.spec.name, "db");
    assert_int_equal(pb.spec.n_resources, 1);
    assert_int_equal(pb.spec.resources[0]->compute->cpu_milli, 2000);
    assert_int_equal(pb.spec.resources[0]->count, 1);
}

static void test_group_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        const char *detail; /* a word the error must name */
    } cases[] = {
        {"missing name", "region=us-east,cpu=1,memory=1Gi,count=1,price=1,collateral=1", "name"},
        {"missing region", "name=a,cpu=1,memory=1Gi,count=1,price=1,collateral=1", "region"},
        {"missing cpu", "name=a,region=r,memory=1Gi,count=1,price=1,collateral=1", "cpu"},
        {"missing memory", "name=a,region=r,cpu=1,count=1,price=1,collateral=1", "memory"},
        {"missing count", "name=a,region=r,cpu=1,memory=1Gi,price=1,collateral=1", "count"},
        {"missing price", "name=a,region=r,cpu=1,memory=1Gi,count=1,collateral=1", "price"},
        {"missing collateral", "name=a,region=r,cpu=1,memory=1Gi,count=1,price=1", "collateral"},
        {"unknown key", GROUP_OK ",gpu=1", "gpu"},
        {"duplicate key", GROUP_OK ",cpu=1", "twice"},
        {"empty item", "name=a,,region=r", "empty"},
        {"trailing comma", GROUP_OK ",", "empty"},
        {"bad cpu", "name=a,region=r,cpu=5x,memory=1Gi,count=1,price=1,collateral=1", "cpu"},
        {"bad memory", "name=a,region=r,cpu=1,memory=1GB,count=1,price=1,collateral=1", "memory"},
        {"bad storage", GROUP_OK ",storage=2", "twice"},
        {"zero storage", "name=a,region=r,cpu=1,memory=1Gi,storage=0,count=1,price=1,collateral=1",
         "storage"},
        {"count zero", "name=a,region=r,cpu=1,memory=1Gi,count=0,price=1,collateral=1", "count"},
        {"count over max", "name=a,region=r,cpu=1,memory=1Gi,count=10001,price=1,collateral=1",
         "count"},
        {"price zero", "name=a,region=r,cpu=1,memory=1Gi,count=1,price=0,collateral=1", "price"},
        {"bad price", "name=a,region=r,cpu=1,memory=1Gi,count=1,price=1.5,collateral=1", "amount"},
        {"empty name", "name=,region=r,cpu=1,memory=1Gi,count=1,price=1,collateral=1", "name"},
        {"name over max",
         "name=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,region=r,cpu=1,"
         "memory=1Gi,count=1,price=1,collateral=1",
         "name"},
        {"persist value", GROUP_OK ",persist=yes", "persist"},
        {"key without value", "name=a,region=r,cpu,memory=1Gi,count=1,price=1,collateral=1", "cpu"},
        {"empty spec", "", "empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_group_t g;
        kumo_err_ctx_t err = {0};
        int rc = cli_group_parse(cases[i].text, &g, &err);
        if (rc != KUMO_EINVAL || strstr(err.detail, cases[i].detail) == NULL) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

static void test_group_name_at_max_accepted(void **state)
{
    (void)state;
    char spec[256];
    char name[KUMO_NAME_BYTES_MAX + 1];
    memset(name, 'a', KUMO_NAME_BYTES_MAX);
    name[KUMO_NAME_BYTES_MAX] = '\0';
    (void)snprintf(spec, sizeof(spec),
                   "name=%s,region=r,cpu=1,memory=1Gi,count=10000,price=1,collateral=1", name);
    cli_group_t g;
    assert_int_equal(cli_group_parse(spec, &g, NULL), 0);
    assert_string_equal(g.name, name);
    assert_int_equal(g.count, KUMO_RESOURCE_UNIT_COUNT_MAX);
}

/* ---- provider offers ---- */

static void test_offer_parse(void **state)
{
    (void)state;
    cli_offer_t *oh = calloc(1, sizeof(*oh));
    assert_non_null(oh);
    const Kumo__ProviderOffer *po = &oh->pb;
    kumo_err_ctx_t err = {0};
    assert_int_equal(cli_offer_parse("price_cpu=40,price_memory=10,price_storage=1,cpu=500m,"
                                     "memory=16Gi,storage=0,collateral=1kumo",
                                     oh, &err),
                     0);
    const Kumo__ProviderOffer o = *po;
    assert_int_equal(o.price_cpu_per_core, 40);
    assert_int_equal(o.price_memory_per_gib, 10);
    assert_int_equal(o.price_storage_per_gib, 1);
    assert_int_equal(o.free_cpu_milli, 500);
    assert_int_equal(o.free_memory_bytes, 16ull << 30);
    assert_int_equal(o.free_storage_bytes, 0);
    assert_int_equal(o.free_collateral, 1000000);
    assert_int_equal(o.height, 0);
    assert_int_equal(o.price_per_gpu, 0);
    assert_int_equal(o.n_free_gpus, 0);
    /* GPUs: a price and one gpu= per kind, memory optional. */
    assert_int_equal(cli_offer_parse("price_cpu=40,price_memory=10,price_storage=1,cpu=1,"
                                     "memory=1Gi,storage=1Gi,collateral=1,price_gpu=2000,"
                                     "gpu=2:nvidia:a100:80Gi,gpu=1:amd:mi300x",
                                     oh, &err),
                     0);
    assert_int_equal(po->price_per_gpu, 2000);
    assert_int_equal(po->n_free_gpus, 2);
    assert_int_equal(po->free_gpus[0]->count, 2);
    assert_string_equal(po->free_gpus[0]->vendor, "nvidia");
    assert_string_equal(po->free_gpus[0]->model, "a100");
    assert_int_equal(po->free_gpus[0]->memory_bytes, 80ull << 30);
    assert_int_equal(po->free_gpus[1]->count, 1);
    assert_string_equal(po->free_gpus[1]->vendor, "amd");
    assert_string_equal(po->free_gpus[1]->model, "mi300x");
    assert_int_equal(po->free_gpus[1]->memory_bytes, 0);
    static const char *const bad[] = {
        "",
        "price_cpu=40",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "cpu=2",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "x=1",
        "price_cpu=-4,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral",
        "price_cpu=40,,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Zi,storage=1Gi,collateral=1",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "gpu=2:nvidia",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "gpu=0:nvidia:a100",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "gpu=-1:nvidia:a100",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "gpu=2:nvidia:a100:80Gi:x",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "gpu=2:nvidia:a100:lots",
        "price_cpu=40,price_memory=10,price_storage=1,cpu=1,memory=1Gi,storage=1Gi,collateral=1,"
        "price_gpu=1,price_gpu=2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (kumo_err_ctx_t){0};
        if (cli_offer_parse(bad[i], oh, &err) != KUMO_EINVAL) {
            fail_msg("offer '%s' was not refused with KUMO_EINVAL", bad[i]);
        }
    }
    free(oh);
}

/* ---- attributes, states, versions ---- */

static void test_attr_parse(void **state)
{
    (void)state;
    char buf[256];
    const char *k = NULL;
    const char *v = NULL;
    assert_int_equal(cli_attr_parse("tier=gold", buf, sizeof(buf), &k, &v, NULL), 0);
    assert_string_equal(k, "tier");
    assert_string_equal(v, "gold");
    assert_int_equal(cli_attr_parse("url=a=b", buf, sizeof(buf), &k, &v, NULL), 0);
    assert_string_equal(v, "a=b");
    assert_int_equal(cli_attr_parse("empty=", buf, sizeof(buf), &k, &v, NULL), 0);
    assert_string_equal(v, "");
    char long_key[KUMO_ATTRIBUTE_KEY_BYTES_MAX + 4];
    memset(long_key, 'k', KUMO_ATTRIBUTE_KEY_BYTES_MAX + 1);
    memcpy(long_key + KUMO_ATTRIBUTE_KEY_BYTES_MAX + 1, "=v", 3);
    char long_val[KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 4] = "k=";
    memset(long_val + 2, 'v', KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 1);
    long_val[KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 3] = '\0';
    const char *bad[] = {"=v", "k", "", long_key, long_val};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cli_attr_parse(bad[i], buf, sizeof(buf), &k, &v, NULL) != KUMO_EINVAL) {
            fail_msg("attr #%zu accepted", i);
        }
    }
    /* A value of exactly the maximum is accepted. */
    long_val[KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 2] = '\0';
    assert_int_equal(cli_attr_parse(long_val, buf, sizeof(buf), &k, &v, NULL), 0);
}

static void test_state_normalize(void **state)
{
    (void)state;
    char out[80];
    assert_int_equal(cli_state_normalize("active", "LEASE_", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "LEASE_ACTIVE");
    assert_int_equal(cli_state_normalize("LEASE_ACTIVE", "LEASE_", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "LEASE_ACTIVE");
    assert_int_equal(cli_state_normalize("open", "ORDER_", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "ORDER_OPEN");
    assert_int_equal(
        cli_state_normalize("deployment-closed", "DEPLOYMENT_", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "DEPLOYMENT_CLOSED");
    const char *bad[] = {"", "act1ve", "active!", "a b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cli_state_normalize(bad[i], "LEASE_", out, sizeof(out), NULL) != KUMO_EINVAL) {
            fail_msg("state '%s' accepted", bad[i]);
        }
    }
}

static void test_version_hex_parse(void **state)
{
    (void)state;
    uint8_t v[KUMO_VERSION_BYTES];
    char hex[2 * KUMO_VERSION_BYTES + 3];
    memset(hex, 'a', 2 * KUMO_VERSION_BYTES);
    hex[2 * KUMO_VERSION_BYTES] = '\0';
    assert_int_equal(cli_version_hex_parse(hex, v, NULL), 0);
    assert_int_equal(v[0], 0xaa);
    hex[2 * KUMO_VERSION_BYTES - 1] = '\0';
    assert_int_equal(cli_version_hex_parse(hex, v, NULL), KUMO_EINVAL);
    hex[2 * KUMO_VERSION_BYTES - 1] = 'a';
    memcpy(hex + 2 * KUMO_VERSION_BYTES, "aa", 3);
    assert_int_equal(cli_version_hex_parse(hex, v, NULL), KUMO_EINVAL);
    hex[2 * KUMO_VERSION_BYTES] = '\0';
    hex[3] = 'g';
    assert_int_equal(cli_version_hex_parse(hex, v, NULL), KUMO_EINVAL);
}

/* ---- option parsing ---- */

static cli_args_t fake_seen;
static int fake_runs;

static int fake_run(cli_args_t *a)
{
    fake_seen = *a;
    fake_runs++;
    return 0;
}

static const int fake_opts[] = {CLI_OPT_FROM,    CLI_OPT_GROUP,        CLI_OPT_LIMIT, CLI_OPT_FEE,
                                CLI_OPT_VERSION, CLI_OPT_VERSION_FILE, CLI_OPT_WAIT,  CLI_OPT_END};
static const cli_sub_t fake_subs[] = {
    {"grp", "do", "ARG [ARG]", "a fake", "kumo fake grp do x", fake_opts, 1, 2, fake_run},
    {NULL, "solo", "", "a fake without group", "kumo fake solo", fake_opts, 0, 0, fake_run},
};

static int fake_dispatch(const char *line)
{
    /* Static: the parsed args borrow argv, and the tests read them after the call. */
    static char buf[1024];
    static char *argv[128];
    int argc = 0;
    (void)snprintf(buf, sizeof(buf), "fake %s", line);
    for (char *p = buf; *p != '\0' && argc < 127;) {
        argv[argc++] = p;
        char *sp = strchr(p, ' ');
        if (sp == NULL) {
            break;
        }
        *sp = '\0';
        p = sp + 1;
    }
    argv[argc] = NULL;
    fake_runs = 0;
    return cli_dispatch("fake", "fake command", fake_subs, 2, argc, argv);
}

static void test_dispatch_parses_options_anywhere(void **state)
{
    (void)state;
    assert_int_equal(fake_dispatch("grp do x --from alice --group a --group b y --wait "
                                   "--fee 1kumo --limit 1000 --output json"),
                     0);
    assert_int_equal(fake_runs, 1);
    assert_string_equal(fake_seen.from, "alice");
    assert_int_equal(fake_seen.group_count, 2);
    assert_string_equal(fake_seen.groups[1], "b");
    assert_int_equal(fake_seen.pos_count, 2);
    assert_string_equal(fake_seen.pos[0], "x");
    assert_string_equal(fake_seen.pos[1], "y");
    assert_true(fake_seen.wait);
    assert_true(fake_seen.fee_set);
    assert_int_equal(fake_seen.fee_ukumo, 1000000);
    assert_int_equal(fake_seen.limit, 1000);
    assert_int_equal(fake_seen.output, CLI_OUTPUT_JSON);
    assert_int_equal(fake_dispatch("solo"), 0);
    assert_int_equal(fake_runs, 1);
    assert_int_equal(fake_seen.output, CLI_OUTPUT_TEXT);
    assert_false(fake_seen.fee_set);
    /* "--" ends options. */
    assert_int_equal(fake_dispatch("grp do -- --x"), 0);
    assert_string_equal(fake_seen.pos[0], "--x");
}

static void test_dispatch_help_is_success(void **state)
{
    (void)state;
    assert_int_equal(fake_dispatch("--help"), 0);
    assert_int_equal(fake_dispatch("grp do --help"), 0);
    assert_int_equal(fake_dispatch("solo -h"), 0);
    assert_int_equal(fake_dispatch("grp --help"), 0);
    assert_int_equal(fake_runs, 0);
}

static void test_dispatch_usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *line;
    } cases[] = {
        {"unknown subcommand", "nope"},
        {"unknown in group", "grp nope x"},
        {"group without name", "grp"},
        {"unknown option", "grp do x --bogus"},
        {"option of another command", "grp do x --owner a"},
        {"missing value", "grp do x --from"},
        {"too few arguments", "grp do"},
        {"too many arguments", "grp do a b c"},
        {"limit zero", "grp do x --limit 0"},
        {"limit over max", "grp do x --limit 1001"},
        {"limit not a number", "grp do x --limit ten"},
        {"bad fee", "grp do x --fee 1.5"},
        {"bad output", "grp do x --output yaml"},
        {"both versions", "grp do x --version aa --version-file f"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = fake_dispatch(cases[i].line);
        if (rc != CLI_EXIT_USAGE || fake_runs != 0) {
            fail_msg("%s: exit %d, runs %d", cases[i].name, rc, fake_runs);
        }
    }
}

static void test_dispatch_repeat_limit(void **state)
{
    (void)state;
    char line[1024] = "grp do x";
    for (unsigned i = 0; i < CLI_REPEAT_MAX; i++) {
        size_t len = strlen(line);
        (void)snprintf(line + len, sizeof(line) - len, " --group g");
    }
    assert_int_equal(fake_dispatch(line), 0);
    assert_int_equal(fake_seen.group_count, CLI_REPEAT_MAX);
    size_t len = strlen(line);
    (void)snprintf(line + len, sizeof(line) - len, " --group g");
    assert_int_equal(fake_dispatch(line), CLI_EXIT_USAGE);
}

static void test_hints_name_what_to_do(void **state)
{
    (void)state;
    assert_non_null(strstr(cli_hint(KUMO_ESEQUENCE), "retry"));
    assert_non_null(strstr(cli_hint(KUMO_EFEE), "--fee"));
    assert_non_null(strstr(cli_hint(KUMO_EIO), "--node"));
    assert_null(cli_hint(KUMO_EOVERFLOW));
}

/* ---- grant terms ---- */

static int grant_terms(const char *line, cli_grant_terms_t *t)
{
    static char buf[4096];
    char *terms[CLI_GRANT_TERM_COUNT_MAX + 2];
    size_t n = 0;
    (void)snprintf(buf, sizeof(buf), "%s", line);
    for (char *p = buf; *p != '\0' && n < KUMO_ARRAY_COUNT(terms);) {
        terms[n++] = p;
        char *sp = strchr(p, ' ');
        if (sp == NULL) {
            break;
        }
        *sp = '\0';
        p = sp + 1;
    }
    return cli_grant_terms_parse(terms, n, t, NULL);
}

static void test_grant_terms_parse(void **state)
{
    (void)state;
    static cli_grant_terms_t t;
    assert_int_equal(grant_terms("msgs=close,deposit,update expiry=50 max_price=1kumo max_count=4 "
                                 "regions=us-west,us-east spend_limit=5000",
                                 &t),
                     0);
    assert_int_equal(t.pb.n_msg_types, 3);
    assert_int_equal(t.pb.msg_types[0], KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
    assert_int_equal(t.pb.msg_types[2], KUMO__MSG__SUM_CLOSE_DEPLOYMENT);
    assert_int_equal(t.pb.expiry_height, 50);
    assert_int_equal(t.pb.max_price_per_block, 1000000);
    assert_int_equal(t.pb.max_count_per_group, 4);
    assert_int_equal(t.pb.spend_limit, 5000);
    assert_int_equal(t.pb.n_regions, 2);
    assert_string_equal(t.pb.regions[0], "us-east");
    char regions_max[1024] = "msgs=close expiry=1 regions=";
    char regions_over[1100];
    char region_long[128] = "msgs=close expiry=1 regions=";
    for (unsigned i = 0; i < KUMO_GRANT_REGION_COUNT_MAX; i++) {
        char r[8];
        (void)snprintf(r, sizeof(r), "%sr%u", i > 0 ? "," : "", i);
        (void)strncat(regions_max, r, sizeof(regions_max) - strlen(regions_max) - 1);
    }
    (void)snprintf(regions_over, sizeof(regions_over), "%s,rx", regions_max);
    assert_int_equal(grant_terms(regions_max, &t), 0);
    assert_int_equal(t.pb.n_regions, KUMO_GRANT_REGION_COUNT_MAX);
    memset(region_long + strlen(region_long), 'a', KUMO_REGION_BYTES_MAX + 1);
    assert_int_equal(grant_terms(region_long, &t), KUMO_EINVAL);
    region_long[strlen(region_long) - 1] = '\0';
    assert_int_equal(grant_terms(region_long, &t), 0);
    static const struct {
        const char *name;
        const char *line;
    } bad[] = {
        {"no msgs", "expiry=5"},
        {"no expiry", "msgs=close"},
        {"expiry 0", "msgs=close expiry=0"},
        {"unknown msg", "msgs=send expiry=5"},
        {"empty msgs", "msgs= expiry=5"},
        {"unknown term", "msgs=close expiry=5 color=red"},
        {"term without =", "msgs=close expiry=5 regions"},
        {"term repeated", "msgs=close expiry=5 expiry=6"},
        {"empty region", "msgs=close expiry=5 regions=a,,b"},
        {"region twice", "msgs=close expiry=5 regions=b,a,b"},
        {"max_count over u32", "msgs=close expiry=5 max_count=4294967296"},
        {"bad amount", "msgs=close expiry=5 spend_limit=1.5"},
        {"terms over max", "msgs=close expiry=5 max_price=1 max_count=1 regions=a spend_limit=1 "
                           "msgs=update"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(bad); i++) {
        if (grant_terms(bad[i].line, &t) != KUMO_EINVAL) {
            fail_msg("%s: accepted", bad[i].name);
        }
    }
    assert_int_equal(grant_terms(regions_over, &t), KUMO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grant_terms_parse),
        cmocka_unit_test(test_u64_parse_accepts_decimal),
        cmocka_unit_test(test_u64_parse_rejects),
        cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_cpu_parse),
        cmocka_unit_test(test_size_parse),
        cmocka_unit_test(test_group_parse_valid),
        cmocka_unit_test(test_group_parse_rejects),
        cmocka_unit_test(test_group_name_at_max_accepted),
        cmocka_unit_test(test_offer_parse),
        cmocka_unit_test(test_attr_parse),
        cmocka_unit_test(test_state_normalize),
        cmocka_unit_test(test_version_hex_parse),
        cmocka_unit_test(test_dispatch_parses_options_anywhere),
        cmocka_unit_test(test_dispatch_help_is_success),
        cmocka_unit_test(test_dispatch_usage_errors),
        cmocka_unit_test(test_dispatch_repeat_limit),
        cmocka_unit_test(test_hints_name_what_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
