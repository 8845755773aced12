/*
 * test_gpus.c - the GPUs a provider rents out (gpus.c, and the bid decision around them):
 * which GPUs serve a unit (vendor, model or any, memory at least), that a bid takes the
 * lowest-numbered free matching ones and fails with the verdict gpu when they do not suffice
 * (held by other bids included), that a recorded assignment is taken back only while it still
 * fits, which of a lease's GPUs each instance gets, and the record file's parser (every bad
 * line refused as corrupt).
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include "provider/provider.h"

#define GIB (1024ull * 1024ull * 1024ull)

/* nvidia a100 80G, nvidia a100 40G, nvidia t4 16G, amd mi300x 192G. */
static void cfg_make(kumo_provider_cfg_t *cfg)
{
    kumo_provider_cfg_default(cfg);
    (void)snprintf(cfg->region, sizeof(cfg->region), "us-east");
    static const struct {
        const char *vendor, *model;
        uint64_t mem;
    } g[] = {{"nvidia", "a100", 80 * GIB},
             {"nvidia", "a100", 40 * GIB},
             {"nvidia", "t4", 16 * GIB},
             {"amd", "mi300x", 192 * GIB}};
    for (uint32_t i = 0; i < 4; i++) {
        (void)snprintf(cfg->gpus[i].vendor, sizeof(cfg->gpus[i].vendor), "%s", g[i].vendor);
        (void)snprintf(cfg->gpus[i].model, sizeof(cfg->gpus[i].model), "%s", g[i].model);
        cfg->gpus[i].memory_bytes = g[i].mem;
        (void)snprintf(cfg->gpus[i].device, sizeof(cfg->gpus[i].device), "/dev/g%u", i);
    }
    cfg->gpu_count = 4;
}

typedef struct unit_fixture {
    Kumo__GpuSpec gpu[2];
    Kumo__ComputeUnit cu[2];
    Kumo__ResourceGroup rg[2];
    Kumo__ResourceGroup *rgs[2];
    Kumo__GroupSpec g;
} unit_fixture_t;

/* A group of n resources; resource i has count[i] units of gpus[i] GPUs (0: none) of vendor
 * and model (NULL: any) with at least mem bytes. */
static void units_make(unit_fixture_t *f,
                       size_t n,
                       const uint32_t *count,
                       const uint32_t *gpus,
                       const char *vendor,
                       const char *model,
                       uint64_t mem)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        kumo__gpu_spec__init(&f->gpu[i]);
        f->gpu[i].count = gpus[i];
        f->gpu[i].vendor = (char *)(uintptr_t)vendor;
        f->gpu[i].model = (char *)(uintptr_t)(model != NULL ? model : "");
        f->gpu[i].memory_bytes = mem;
        kumo__compute_unit__init(&f->cu[i]);
        f->cu[i].cpu_milli = 1000u + (uint64_t)i; /* distinct units */
        f->cu[i].memory_bytes = GIB;
        f->cu[i].gpu = gpus[i] > 0 ? &f->gpu[i] : NULL;
        kumo__resource_group__init(&f->rg[i]);
        f->rg[i].compute = &f->cu[i];
        f->rg[i].count = count[i];
        f->rg[i].price = 1000000;
        f->rg[i].collateral = 1;
        f->rgs[i] = &f->rg[i];
    }
    kumo__group_spec__init(&f->g);
    f->g.name = "gpu";
    f->g.region = "us-east";
    f->g.n_resources = n;
    f->g.resources = f->rgs;
}

static void test_gpu_matches(void **state)
{
    (void)state;
    kumo_provider_cfg_t cfg;
    cfg_make(&cfg);
    static const struct {
        const char *vendor, *model;
        uint64_t mem;
        uint32_t gpu;
        bool want;
    } rows[] = {
        {"nvidia", "", 0, 0, true},
        {"nvidia", "a100", 0, 1, true},
        {"nvidia", "a100", 41 * GIB, 1, false},
        {"nvidia", "a100", 80 * GIB, 0, true},
        {"nvidia", "t4", 0, 0, false},
        {"amd", "", 0, 2, false},
        {"amd", "mi300x", 1, 3, true},
        {"NVIDIA", "", 0, 0, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        Kumo__GpuSpec want = KUMO__GPU_SPEC__INIT;
        want.count = 1;
        want.vendor = (char *)(uintptr_t)rows[i].vendor;
        want.model = (char *)(uintptr_t)rows[i].model;
        want.memory_bytes = rows[i].mem;
        if (kumo_provider_gpu_matches(&cfg.gpus[rows[i].gpu], &want) != rows[i].want) {
            fail_msg("row %zu", i);
        }
    }
}

/* The bid decision with GPUs: which ones, and the verdict gpu when they do not suffice. */
static void test_gpu_bid_table(void **state)
{
    (void)state;
    kumo_provider_cfg_t cfg;
    cfg_make(&cfg);
    static const struct {
        const char *name;
        uint32_t count, gpus;
        const char *vendor, *model;
        uint64_t mem;
        uint64_t free_mask;
        kumo_provider_bid_verdict_t want;
        uint64_t want_mask;
    } rows[] = {
        {"one any nvidia: the first", 1, 1, "nvidia", NULL, 0, 0xf, KUMO_PROVIDER_BID_OK, 0x1},
        {"first held: the next", 1, 1, "nvidia", NULL, 0, 0xe, KUMO_PROVIDER_BID_OK, 0x2},
        {"two units of two", 2, 2, "nvidia", NULL, 0, 0xf, KUMO_PROVIDER_BID_GPU, 0},
        {"three nvidia", 3, 1, "nvidia", NULL, 0, 0xf, KUMO_PROVIDER_BID_OK, 0x7},
        {"a100 with 60G: only gpu 0", 1, 1, "nvidia", "a100", 60 * GIB, 0xf, KUMO_PROVIDER_BID_OK,
         0x1},
        {"a100 with 60G, gpu 0 held", 1, 1, "nvidia", "a100", 60 * GIB, 0xe, KUMO_PROVIDER_BID_GPU,
         0},
        {"amd", 1, 1, "amd", NULL, 0, 0xf, KUMO_PROVIDER_BID_OK, 0x8},
        {"intel: none declared", 1, 1, "intel", NULL, 0, 0xf, KUMO_PROVIDER_BID_GPU, 0},
        {"all held", 1, 1, "nvidia", NULL, 0, 0, KUMO_PROVIDER_BID_GPU, 0},
        {"8 per unit on a 4-GPU host", 1, 8, "nvidia", NULL, 0, 0xf, KUMO_PROVIDER_BID_GPU, 0},
        {"more than 64 in all", 1000, 8, "nvidia", NULL, 0, 0xf, KUMO_PROVIDER_BID_GPU, 0},
        {"no GPU asked", 1, 0, "nvidia", NULL, 0, 0, KUMO_PROVIDER_BID_OK, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unit_fixture_t f;
        units_make(&f, 1, &rows[i].count, &rows[i].gpus, rows[i].vendor, rows[i].model,
                   rows[i].mem);
        kumo_provider_free_t fr = {UINT64_MAX, UINT64_MAX, UINT64_MAX,        UINT64_MAX,
                                   16,         4096,       rows[i].free_mask, UINT64_MAX};
        kumo_provider_bid_t bid;
        kumo_provider_bid_decide(&cfg, &f.g, &fr, true, &bid);
        if (bid.verdict != rows[i].want || bid.gpu_mask != rows[i].want_mask ||
            bid.gpu_count != (uint32_t)__builtin_popcountll(rows[i].want_mask)) {
            fail_msg("%s: %s mask %#llx count %u", rows[i].name,
                     kumo_provider_bid_verdict_name(bid.verdict), (unsigned long long)bid.gpu_mask,
                     bid.gpu_count);
        }
    }
    /* The price counts GPUs: price_per_gpu (100) per GPU on top of the unit's cost. */
    unit_fixture_t f;
    const uint32_t one = 1;
    const uint32_t two = 2;
    units_make(&f, 1, &one, &two, "nvidia", NULL, 0);
    kumo_provider_free_t fr = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
                               16,         4096,       0xf,        UINT64_MAX};
    kumo_provider_bid_t with;
    kumo_provider_bid_decide(&cfg, &f.g, &fr, true, &with);
    assert_int_equal(with.verdict, KUMO_PROVIDER_BID_OK);
    f.cu[0].gpu = NULL;
    kumo_provider_bid_t without;
    kumo_provider_bid_decide(&cfg, &f.g, &fr, true, &without);
    assert_int_equal(with.prices[0], without.prices[0] + 200u);
    /* Above the order's price: the verdict price, not gpu. */
    f.cu[0].gpu = &f.gpu[0];
    f.rg[0].price = without.prices[0] + 199u;
    kumo_provider_bid_decide(&cfg, &f.g, &fr, true, &with);
    assert_int_equal(with.verdict, KUMO_PROVIDER_BID_PRICE);
}

/* Two resources: the list runs resource by resource, unit by unit. */
static void test_gpu_assign_order(void **state)
{
    (void)state;
    kumo_provider_cfg_t cfg;
    cfg_make(&cfg);
    unit_fixture_t f;
    const uint32_t count[2] = {2, 1};
    const uint32_t gpus[2] = {1, 1};
    units_make(&f, 2, count, gpus, "nvidia", NULL, 0);
    f.gpu[0].model = "a100";
    kumo_provider_bid_t bid;
    memset(&bid, 0, sizeof(bid));
    assert_true(kumo_provider_gpus_assign(&cfg, f.rgs, 2, 0xf, &bid));
    assert_int_equal(bid.gpu_count, 3);
    assert_int_equal(bid.gpus[0], 0);
    assert_int_equal(bid.gpus[1], 1);
    assert_int_equal(bid.gpus[2], 2);
    /* The recorded list fits while its GPUs are free, in that order only. */
    assert_true(kumo_provider_gpus_fit(&cfg, f.rgs, 2, bid.gpus, 3, 0xf));
    assert_false(kumo_provider_gpus_fit(&cfg, f.rgs, 2, bid.gpus, 3, 0xd)); /* 1 taken */
    const uint8_t swapped[3] = {2, 1, 0};                                   /* t4 is no a100 */
    assert_false(kumo_provider_gpus_fit(&cfg, f.rgs, 2, swapped, 3, 0xf));
    const uint8_t twice[3] = {0, 0, 2};
    assert_false(kumo_provider_gpus_fit(&cfg, f.rgs, 2, twice, 3, 0xf));
    const uint8_t beyond[3] = {0, 1, 9};
    assert_false(kumo_provider_gpus_fit(&cfg, f.rgs, 2, beyond, 3, UINT64_MAX));
    assert_false(kumo_provider_gpus_fit(&cfg, f.rgs, 2, bid.gpus, 2, 0xf));
    /* Greedy: the any-model unit takes nothing the a100 units needed (they come first). */
    memset(&bid, 0, sizeof(bid));
    assert_false(kumo_provider_gpus_assign(&cfg, f.rgs, 2, 0x3, &bid));
    assert_int_equal(bid.gpu_count, 0);
    assert_int_equal(bid.gpu_mask, 0);
}

/* Which of the lease's GPUs each instance gets: units in manifest order, per-unit counts. */
static void test_gpu_instance(void **state)
{
    (void)state;
    unit_fixture_t f;
    const uint32_t count[2] = {1, 3};
    const uint32_t gpus[2] = {0, 2};
    units_make(&f, 2, count, gpus, "nvidia", NULL, 0);
    Kumo__ManifestWorkload w[3];
    Kumo__ManifestWorkload *wp[3];
    const uint32_t wcount[3] = {1, 2, 1};
    const int wres[3] = {0, 1, 1};
    for (int i = 0; i < 3; i++) {
        kumo__manifest_workload__init(&w[i]);
        w[i].group = "gpu";
        w[i].compute = &f.cu[wres[i]];
        w[i].count = wcount[i];
        wp[i] = &w[i];
    }
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 3;
    m.workloads = wp;
    static const struct {
        int w;
        uint32_t instance;
        bool ok;
        uint32_t first, count;
    } rows[] = {
        {0, 0, true, 0, 0}, /* no GPUs */
        {1, 0, true, 0, 2}, {1, 1, true, 2, 2},
        {2, 0, true, 4, 2}, {1, 2, false, 0, 0}, /* past the workload's count */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint32_t first = 99;
        uint32_t n = 99;
        bool ok =
            kumo_provider_gpus_instance(&f.g, &m, &w[rows[i].w], rows[i].instance, &first, &n);
        if (ok != rows[i].ok || (ok && (first != rows[i].first || n != rows[i].count))) {
            fail_msg("row %zu: %d first %u count %u", i, ok, first, n);
        }
    }
    /* More instances than units (a manifest that breaks the lease): none. */
    w[2].count = 2;
    uint32_t first = 0;
    uint32_t n = 0;
    assert_false(kumo_provider_gpus_instance(&f.g, &m, &w[2], 1, &first, &n));
    /* A compute the group does not have. */
    Kumo__ComputeUnit other = f.cu[1];
    other.cpu_milli = 7;
    w[2].compute = &other;
    assert_false(kumo_provider_gpus_instance(&f.g, &m, &w[2], 0, &first, &n));
}

static void test_gpu_records(void **state)
{
    (void)state;
    kumo_provider_gpu_record_t recs[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t count = 0;
    static const char ok[] = "kumo1abc/5/1/1 0,3\nkumo1def/6/1/1 63\n";
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        kumo_provider_gpu_records_parse(kumo_bytes_make(ok, strlen(ok)), recs, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_string_equal(recs[0].order, "kumo1abc/5/1/1");
    assert_int_equal(recs[0].gpu_count, 2);
    assert_int_equal(recs[0].gpus[1], 3);
    assert_int_equal(recs[1].gpus[0], 63);
    kumo_buf_t text;
    kumo_buf_init(&text, 64 * 1024);
    assert_int_equal(kumo_provider_gpu_records_render(recs, count, &text, NULL), 0);
    assert_int_equal(text.len, strlen(ok));
    assert_memory_equal(text.ptr, ok, text.len);
    assert_int_equal(kumo_provider_gpu_records_parse(kumo_bytes_make("", 0), recs, &count, NULL),
                     0);
    assert_int_equal(count, 0);
    /* 64 records parse, a 65th is corrupt. */
    kumo_buf_reset(&text);
    for (uint32_t i = 0; i <= KUMO_PROVIDER_GPU_COUNT_MAX; i++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "o/%u/1/1 %u\n", i, i % 64u);
        assert_int_equal(kumo_buf_append(&text, line, (size_t)n), 0);
        int rc = kumo_provider_gpu_records_parse(kumo_buf_bytes(&text), recs, &count, NULL);
        assert_int_equal(rc, i < KUMO_PROVIDER_GPU_COUNT_MAX ? 0 : KUMO_ECORRUPT);
    }
    kumo_buf_free(&text);
    static const char *const bad[] = {
        "o 1",     "o 1\nx",  " 1\n",    "o\n",       "o \n",    "o 64\n",
        "o 1,1\n", "o 01\n",  "o 1,\n",  "o ,1\n",    "o 1 2\n", "o\t1\n",
        "o 1;2\n", "o 100\n", "o 1\n\n", "o\x01 1\n", "o -1\n",  "o 1,2,\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = kumo_provider_gpu_records_parse(kumo_bytes_make(bad[i], strlen(bad[i])), recs,
                                                 &count, &err);
        if (rc != KUMO_ECORRUPT) {
            fail_msg("row %zu: %d", i, rc);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_matches),      cmocka_unit_test(test_gpu_bid_table),
        cmocka_unit_test(test_gpu_assign_order), cmocka_unit_test(test_gpu_instance),
        cmocka_unit_test(test_gpu_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
