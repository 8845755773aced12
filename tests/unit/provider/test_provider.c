/*
 * test_provider.c - the provider's bidding decision (a table: region, capacity including
 * what pending bids hold, the price cap, the collateral budget, a runtime that does not
 * answer, overflowing orders) and its config.yaml (defaults render and parse back to the same
 * settings; every kind of bad file is refused naming file, line and key).
 */
#include "helpers/testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider/provider.h"

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

/* A group in region with one resource group: count units of (cpu, mem) at max price. */
typedef struct group_fixture {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
    Kumo__ResourceGroup *rgs[1];
    Kumo__GroupSpec g;
} group_fixture_t;

static void group_make(group_fixture_t *f,
                       const char *region,
                       uint64_t cpu,
                       uint64_t mem,
                       uint32_t count,
                       uint64_t price,
                       uint64_t collateral)
{
    kumo__compute_unit__init(&f->cu);
    f->cu.cpu_milli = cpu;
    f->cu.memory_bytes = mem;
    f->cu.storage_bytes = GIB;
    kumo__resource_group__init(&f->rg);
    f->rg.compute = &f->cu;
    f->rg.count = count;
    f->rg.price = price;
    f->rg.collateral = collateral;
    f->rgs[0] = &f->rg;
    kumo__group_spec__init(&f->g);
    f->g.name = "web";
    f->g.region = (char *)(uintptr_t)region;
    f->g.n_resources = 1;
    f->g.resources = f->rgs;
}

static void test_bid_table(void **state)
{
    (void)state;
    kumo_provider_cfg_t cfg;
    kumo_provider_cfg_default(&cfg);
    (void)snprintf(cfg.region, sizeof(cfg.region), "us-east");
    /* 500m CPU (20) + 512 MiB (5) + 1 GiB storage (1) = 26 ukumo per unit per block. */
    const kumo_provider_free_t roomy = {8000, 16 * GIB, 200 * GIB, 1000000,
                                        16,   1024,     0,         UINT64_MAX};
    static const struct {
        const char *name;
        const char *region;
        uint64_t cpu;
        uint32_t count;
        uint64_t price;
        uint64_t collateral;
        kumo_provider_free_t free_res;
        bool runtime_ok;
        kumo_provider_bid_verdict_t want;
    } rows[] = {
        {"fits, cheap enough",
         "us-east",
         500,
         2,
         40,
         5000,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_OK},
        {"price exactly our cost",
         "us-east",
         500,
         1,
         26,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_OK},
        {"other region",
         "us-west",
         500,
         1,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_REGION},
        {"below our cost",
         "us-east",
         500,
         1,
         25,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_PRICE},
        {"cpu taken by pending bids",
         "us-east",
         500,
         2,
         40,
         1,
         {999, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_CAPACITY},
        {"memory full",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 512 * MIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_CAPACITY},
        {"storage full",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 16 * GIB, GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_CAPACITY},
        {"budget spent",
         "us-east",
         500,
         2,
         40,
         600,
         {8000, 16 * GIB, 200 * GIB, 1199, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_BUDGET},
        {"budget exactly enough",
         "us-east",
         500,
         2,
         40,
         600,
         {8000, 16 * GIB, 200 * GIB, 1200, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_OK},
        {"runtime down",
         "us-east",
         500,
         1,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, UINT64_MAX},
         false,
         KUMO_PROVIDER_BID_RUNTIME},
        {"lease table full",
         "us-east",
         500,
         1,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 0, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_FULL},
        {"one lease slot left",
         "us-east",
         500,
         1,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 1, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_OK},
        {"more units than the instance table holds",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_FULL},
        {"units exactly the instances left",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 2, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_OK},
        {"overflowing count",
         "us-east",
         UINT64_MAX / 2,
         4,
         40,
         1,
         {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, 16, 1024, 0, UINT64_MAX},
         true,
         KUMO_PROVIDER_BID_CAPACITY},
        {"more units than the runtime starts in time",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, 1},
         true,
         KUMO_PROVIDER_BID_BUSY},
        {"units exactly the starts left",
         "us-east",
         500,
         2,
         40,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, 2},
         true,
         KUMO_PROVIDER_BID_OK},
        {"below our cost and busy: the price is the reason",
         "us-east",
         500,
         2,
         25,
         1,
         {8000, 16 * GIB, 200 * GIB, 1000000, 16, 1024, 0, 0},
         true,
         KUMO_PROVIDER_BID_PRICE},
    };
    (void)roomy;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        group_fixture_t f;
        group_make(&f, rows[i].region, rows[i].cpu, 512 * MIB, rows[i].count, rows[i].price,
                   rows[i].collateral);
        kumo_provider_bid_t bid;
        kumo_provider_bid_decide(&cfg, &f.g, &rows[i].free_res, rows[i].runtime_ok, &bid);
        if (bid.verdict != rows[i].want) {
            fail_msg("%s: %s, want %s", rows[i].name, kumo_provider_bid_verdict_name(bid.verdict),
                     kumo_provider_bid_verdict_name(rows[i].want));
        }
    }
    group_fixture_t f;
    group_make(&f, "us-east", 500, 512 * MIB, 2, 40, 5000);
    kumo_provider_bid_t bid;
    kumo_provider_bid_decide(&cfg, &f.g, &roomy, true, &bid);
    assert_int_equal(bid.count, 1);
    assert_int_equal(bid.prices[0], 26); /* we bid our cost, under the order's 40 */
    assert_int_equal(bid.price_total, 52);
    assert_int_equal(bid.cpu_milli, 1000);
    assert_int_equal(bid.memory_bytes, 1024 * MIB);
    assert_int_equal(bid.collateral, 10000);
    assert_int_equal(bid.unit_count, 2);
    assert_string_equal(kumo_provider_bid_verdict_name(KUMO_PROVIDER_BID_FULL), "full");
    assert_string_equal(kumo_provider_bid_verdict_name(KUMO_PROVIDER_BID_REQUIREMENTS),
                        "requirements");
    /* A unit with GPUs, and a provider that declares none: it does not bid. */
    assert_string_equal(kumo_provider_bid_verdict_name(KUMO_PROVIDER_BID_GPU), "gpu");
    Kumo__GpuSpec gpu = KUMO__GPU_SPEC__INIT;
    gpu.count = 1;
    gpu.vendor = "nvidia";
    f.g.resources[0]->compute->gpu = &gpu;
    kumo_provider_bid_decide(&cfg, &f.g, &roomy, true, &bid);
    assert_int_equal(bid.verdict, KUMO_PROVIDER_BID_GPU);
    f.g.resources[0]->compute->gpu = NULL;
}

static void test_start_slots(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        kumo_provider_pace_t pace;
        uint64_t backlog;
        uint64_t want;
    } rows[] = {
        /* (30 - 5 - 1) blocks x 1 s / 2 = 12 s: four starts of 3 s. */
        {"nothing waits: no limit", {30, 5, 1000, 3000}, 0, UINT64_MAX},
        {"one waits", {30, 5, 1000, 3000}, 1, 3},
        {"window exactly full", {30, 5, 1000, 3000}, 4, 0},
        {"more wait than fit", {30, 5, 1000, 3000}, 1000, 0},
        {"fast starts", {30, 5, 1000, 100}, 10, 110},
        {"slow blocks widen the window", {30, 5, 10000, 3000}, 1, 39},
        {"period within the margin: one block", {5, 5, 1000, 100}, 1, 4},
        {"start time 0 counts as 1 ms", {30, 5, 1000, 0}, 1, 11999},
        {"huge block time does not overflow",
         {UINT64_MAX, 5, UINT64_MAX, 1},
         1,
         UINT64_MAX / 2u - 1u},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t got = kumo_provider_start_slots(&rows[i].pace, rows[i].backlog);
        if (got != rows[i].want) {
            fail_msg("%s: %" PRIu64 ", want %" PRIu64, rows[i].name, got, rows[i].want);
        }
    }
    assert_string_equal(kumo_provider_bid_verdict_name(KUMO_PROVIDER_BID_BUSY), "busy");
}

static void test_config_round_trip(void **state)
{
    (void)state;
    kumo_provider_cfg_t cfg;
    kumo_provider_cfg_default(&cfg);
    (void)snprintf(cfg.region, sizeof(cfg.region), "us-west");
    cfg.price_cpu_per_core = 77;
    kumo_buf_t text;
    kumo_buf_init(&text, 64 * 1024);
    assert_int_equal(kumo_provider_cfg_render(&cfg, &text, NULL), 0);
    kumo_provider_cfg_t back;
    kumo_provider_cfg_default(&back);
    kumo_err_ctx_t err = {0};
    if (kumo_provider_cfg_parse("config.yaml", kumo_buf_bytes(&text), &back, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_memory_equal(&back, &cfg, sizeof(cfg));
    kumo_buf_free(&text);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *detail;
    } rows[] = {
        {"region: a\nbogus: 1\n", "config.yaml:2: bogus: unknown key"},
        {"region: a\nregion: b\n", "config.yaml:2: region: given twice"},
        {"region: a\nport_range_min: 80\n", "config.yaml:2: port_range_min: '80' is not a number"},
        {"region: a\ncapacity_cpu_milli: -1\n", "capacity_cpu_milli: '-1' is not a number"},
        {"region: a\ncapacity_cpu_milli: 007\n", "capacity_cpu_milli: '007' is not a number"},
        {"region: [a, b]\n", "config.yaml:1: region: expected a value"},
        {"- a\n- b\n", "expected a mapping"},
        {"region: a\nport_range_min: 40000\nport_range_max: 39000\n", "port_range_min is above"},
        {"key: p\n", "region: must be"},
        {"region: 'a\"b'\n", "region: printable ASCII"},
        {"region: a\n  bad: [\n", "config.yaml:"},
        {"region: a\nmetrics_listen: 127.0.0.1\n", "metrics_listen: expected host:port"},
        {"region: a\nmetrics_listen: \"127.0.0.1:0\"\n", "metrics_listen: expected host:port"},
        {"region: a\nmetrics_listen: \"127.0.0.1:65536\"\n", "metrics_listen: expected"},
        {"region: a\nmetrics_listen: \":9464\"\n", "metrics_listen: expected host:port"},
        {"region: a\nmetrics_listen: \"127.0.0.1:9x\"\n", "metrics_listen: expected"},
        {"region: a\nusage_interval_ms: 999\n", "usage_interval_ms: 0 (off) or at least 1000"},
        {"region: a\nworkload_egress_allow: \"127.0.0.1\"\n", "loopback"},
        {"region: a\nworkload_egress_allow: \"10.77.5.0/24,169.254.169.254\"\n", "link-local"},
        {"region: a\nworkload_egress_allow: \"10.77.5.2/24\"\n", "host bits set"},
        {"region: a\nworkload_egress_allow: \"node.example\"\n", "numeric IPv4"},
        {"region: a\nworkload_egress_allow: \"10.77.5.2,\"\n", "trailing comma"},
        {"region: a\nworkload_egress_allow: [10.77.5.2]\n",
         "workload_egress_allow: expected a value"},
        {"region: a\nusage_interval_ms: 86400001\n",
         "usage_interval_ms: '86400001' is not a number in 0..86400000"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_provider_cfg_t cfg;
        kumo_provider_cfg_default(&cfg);
        kumo_err_ctx_t err = {0};
        int rc = kumo_provider_cfg_parse(
            "config.yaml", kumo_bytes_make(rows[i].text, strlen(rows[i].text)), &cfg, &err);
        if (rc == 0 || strstr(err.detail, rows[i].detail) == NULL) {
            fail_msg("row %zu: rc %d detail '%s', want '%s'", i, rc, err.detail, rows[i].detail);
        }
    }
}

/* metrics_listen: empty (off) and host:port with a port of 1..65535 parse; usage_interval_ms
 * 0 (off) and 1000..86400000 too. */
static void test_config_metrics_listen(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "region: a\n",
        "region: a\nmetrics_listen: \"\"\n",
        "region: a\nmetrics_listen: \"127.0.0.1:9464\"\n",
        "region: a\nmetrics_listen: \"0.0.0.0:65535\"\n",
        "region: a\nmetrics_listen: \"localhost:1\"\n",
        "region: a\nusage_interval_ms: 0\n",
        "region: a\nusage_interval_ms: 1000\n",
        "region: a\nusage_interval_ms: 86400000\n",
        "region: a\nworkload_egress_allow: \"\"\n",
        "region: a\nworkload_egress_allow: \"10.77.5.2,10.77.5.8/29,192.168.0.0/16\"\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        kumo_provider_cfg_t cfg;
        kumo_provider_cfg_default(&cfg);
        kumo_err_ctx_t err = {0};
        if (kumo_provider_cfg_parse("config.yaml", kumo_bytes_make(ok[i], strlen(ok[i])), &cfg,
                                    &err) != 0) {
            fail_msg("row %zu: %s", i, err.detail);
        }
    }
}

/* gpus: a list of GPUs parses (flow and block style), renders and parses back the same; each
 * rule has its own error naming the GPU and key; 64 GPUs are accepted, 65 refused. */
static void test_config_gpus(void **state)
{
    (void)state;
    static const char ok[] =
        "region: a\ngpus:\n  - vendor: nvidia\n    model: a100\n    memory_bytes: 85899345920\n"
        "    device: \"nvidia.com/gpu=0\"\n"
        "  - {vendor: amd, model: mi300x, memory_bytes: 1024, device: "
        "\"/dev/dri/renderD128,/dev/kfd\"}\n"
        "  - {vendor: intel, model: Arc-A770, memory_bytes: 1, device: "
        "\"/tmp/g0:/dev/kumo-gpu0\"}\n";
    kumo_provider_cfg_t cfg;
    kumo_provider_cfg_default(&cfg);
    kumo_err_ctx_t err = {0};
    if (kumo_provider_cfg_parse("config.yaml", kumo_bytes_make(ok, strlen(ok)), &cfg, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_int_equal(cfg.gpu_count, 3);
    assert_string_equal(cfg.gpus[0].vendor, "nvidia");
    assert_string_equal(cfg.gpus[0].model, "a100");
    assert_int_equal(cfg.gpus[0].memory_bytes, 85899345920ull);
    assert_string_equal(cfg.gpus[0].device, "nvidia.com/gpu=0");
    assert_string_equal(cfg.gpus[1].device, "/dev/dri/renderD128,/dev/kfd");
    assert_string_equal(cfg.gpus[2].device, "/tmp/g0:/dev/kumo-gpu0");
    kumo_buf_t text;
    kumo_buf_init(&text, 64 * 1024);
    assert_int_equal(kumo_provider_cfg_render(&cfg, &text, NULL), 0);
    kumo_provider_cfg_t back;
    kumo_provider_cfg_default(&back);
    if (kumo_provider_cfg_parse("config.yaml", kumo_buf_bytes(&text), &back, &err) != 0) {
        fail_msg("%s", err.detail);
    }
    assert_memory_equal(&back, &cfg, sizeof(cfg));
    /* The limit: 64 GPUs parse, a 65th is refused. */
    kumo_buf_reset(&text);
    assert_int_equal(kumo_buf_append(&text, "region: a\ngpus:\n", 16), 0);
    for (uint32_t i = 0; i <= KUMO_PROVIDER_GPU_COUNT_MAX; i++) {
        char line[128];
        int n = snprintf(line, sizeof(line),
                         "  - {vendor: nvidia, model: t4, memory_bytes: 1, device: /dev/g%u}\n", i);
        size_t len = text.len;
        assert_int_equal(kumo_buf_append(&text, line, (size_t)n), 0);
        kumo_provider_cfg_default(&back);
        int rc = kumo_provider_cfg_parse("config.yaml", kumo_buf_bytes(&text), &back, &err);
        if (i < KUMO_PROVIDER_GPU_COUNT_MAX) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, KUMO_ELIMIT);
            assert_non_null(strstr(err.detail, "gpus: more than 64"));
        }
        (void)len;
    }
    kumo_buf_free(&text);
}

static void test_config_gpus_errors(void **state)
{
    (void)state;
#define GPU(x) "region: a\ngpus:\n  - {" x "}\n"
    static const struct {
        const char *text;
        const char *detail;
    } rows[] = {
        {"region: a\ngpus: 1\n", "config.yaml:2: gpus: expected a list of GPUs"},
        {"region: a\ngpus: []\ngpus: []\n", "config.yaml:3: gpus: given twice"},
        {"region: a\ngpus:\n  - x\n", "gpus[0]: expected vendor, model"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1"), "gpus[0]: vendor, model, memory_bytes"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: /dev/a, x: 1"),
         "gpus[0].x: unknown key"},
        {GPU("vendor: nvidia, vendor: amd, model: a, memory_bytes: 1, device: /dev/a"),
         "gpus[0].vendor: given twice"},
        {GPU("vendor: [a], model: a, memory_bytes: 1, device: /dev/a"),
         "gpus[0]: expected key: value"},
        {GPU("vendor: NVIDIA, model: a, memory_bytes: 1, device: /dev/a"),
         "gpus[0].vendor: 1..32 lower case"},
        {GPU("vendor: \"\", model: a, memory_bytes: 1, device: /dev/a"), "gpus[0].vendor: 1..32"},
        {GPU("vendor: nvidia, model: \"a b\", memory_bytes: 1, device: /dev/a"),
         "gpus[0].model: 1..64"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 0, device: /dev/a"),
         "gpus[0].memory_bytes: '0' is not a number"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1125899906842625, device: /dev/a"),
         "gpus[0].memory_bytes: '1125899906842625' is not a number"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 01, device: /dev/a"),
         "gpus[0].memory_bytes: '01'"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: dev/a"), "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"nvidia/gpu=0\""),
         "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"nvidia.com/gpu=\""),
         "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"/dev/../etc\""),
         "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"/dev/a:dev\""),
         "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"/dev/a,\""), "gpus[0].device:"},
        {GPU("vendor: nvidia, model: a, memory_bytes: 1, device: \"/a,/b,/c,/d,/e\""),
         "gpus[0].device: 1..4 entries"},
        {"region: a\ngpus:\n  - {vendor: a, model: b, memory_bytes: 1, device: /dev/a}\n"
         "  - {vendor: a, model: b, memory_bytes: 1, device: /dev/a}\n",
         "gpus[1].device: /dev/a is gpus[0]'s too"},
    };
#undef GPU
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_provider_cfg_t cfg;
        kumo_provider_cfg_default(&cfg);
        kumo_err_ctx_t err = {0};
        int rc = kumo_provider_cfg_parse(
            "config.yaml", kumo_bytes_make(rows[i].text, strlen(rows[i].text)), &cfg, &err);
        if (rc == 0 || strstr(err.detail, rows[i].detail) == NULL) {
            fail_msg("row %zu: rc %d detail '%s', want '%s'", i, rc, err.detail, rows[i].detail);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bid_table),
        cmocka_unit_test(test_start_slots),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_metrics_listen),
        cmocka_unit_test(test_config_gpus),
        cmocka_unit_test(test_config_gpus_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
