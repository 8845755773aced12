/*
 * test_gpu.c - proves GPUs in compute units (GpuSpec): a deployment's GPU spec is validated
 * (count 1..KUMO_GPU_COUNT_MAX, vendor 1..32 bytes, model up to 64), a bid must ask for the same
 * GPUs as the order (KUMO_EMISMATCH otherwise), and changing a group's GPUs is a new order. Each
 * rule is a table row that fails with its own code and leaves the kv byte-identical.
 */
#include "unit/market/market_fixture.h"

typedef struct gpu_holder {
    Kumo__GpuSpec gpu;
    char vendor[KUMO_GPU_VENDOR_BYTES_MAX + 2];
    char model[KUMO_GPU_MODEL_BYTES_MAX + 2];
} gpu_holder_t;

static gpu_holder_t g_gpu;
static gpu_holder_t g_bid_gpu;

static Kumo__GpuSpec *
gpu_set(gpu_holder_t *h, uint32_t count, const char *vendor, const char *model)
{
    Kumo__GpuSpec init = KUMO__GPU_SPEC__INIT;
    h->gpu = init;
    snprintf(h->vendor, sizeof(h->vendor), "%s", vendor);
    snprintf(h->model, sizeof(h->model), "%s", model);
    h->gpu.count = count;
    h->gpu.vendor = h->vendor;
    h->gpu.model = h->model;
    h->gpu.memory_bytes = 40ull << 30;
    return &h->gpu;
}

static void deploy_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_deploy(m, fx->tenant, 1, 1, 5, 100000);
    m->specs[0].res[0].cu.gpu = gpu_set(&g_gpu, 1, "nvidia", "a100");
}
static void d_count_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_gpu.gpu.count = 0;
}
static void d_count_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_gpu.gpu.count = KUMO_GPU_COUNT_MAX;
}
static void d_count_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_gpu.gpu.count = KUMO_GPU_COUNT_MAX + 1;
}
static void d_vendor_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_gpu.vendor[0] = '\0';
}
static void d_vendor_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    memset(g_gpu.vendor, 'v', KUMO_GPU_VENDOR_BYTES_MAX);
    g_gpu.vendor[KUMO_GPU_VENDOR_BYTES_MAX] = '\0';
}
static void d_vendor_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    memset(g_gpu.vendor, 'v', KUMO_GPU_VENDOR_BYTES_MAX + 1);
    g_gpu.vendor[KUMO_GPU_VENDOR_BYTES_MAX + 1] = '\0';
}
static void d_model_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_gpu.model[0] = '\0';
}
static void d_model_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    memset(g_gpu.model, 'm', KUMO_GPU_MODEL_BYTES_MAX + 1);
    g_gpu.model[KUMO_GPU_MODEL_BYTES_MAX + 1] = '\0';
}

static void test_gpu_spec_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"gpu count 0", d_count_zero, KUMO_EINVAL},
        {"gpu count at max", d_count_max, 0},
        {"gpu count over max", d_count_over, KUMO_ELIMIT},
        {"gpu vendor empty", d_vendor_empty, KUMO_EEMPTY},
        {"gpu vendor at max", d_vendor_max, 0},
        {"gpu vendor over max", d_vendor_over, KUMO_ELIMIT},
        {"gpu model empty (any)", d_model_empty, 0},
        {"gpu model over max", d_model_over, KUMO_ELIMIT},
    };
    fx_cases_run(*state, deploy_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* prov[0] bids on a one-group deployment whose unit has one nvidia a100. */
static void bid_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_t *d = fx_msg_new();
    fx_msg_deploy(d, fx->tenant, 1, 1, 5, 100000);
    d->specs[0].res[0].cu.gpu = gpu_set(&g_gpu, 1, "nvidia", "a100");
    fx_ok(fx, d->signer, &d->msg);
    free(d);
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 2);
    m->specs[0].res[0].cu.gpu = gpu_set(&g_bid_gpu, 1, "nvidia", "a100");
    fx_msg_bid(m, fx->prov[0], fx->tenant, 1, 0, 1, &m->specs[0], 10);
}
static void b_no_gpu(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->res[0].cu.gpu = NULL;
}
static void b_other_model(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    snprintf(g_bid_gpu.model, sizeof(g_bid_gpu.model), "h100");
}
static void b_two_gpus(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_bid_gpu.gpu.count = 2;
}
static void b_less_memory(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_bid_gpu.gpu.memory_bytes = 8ull << 30;
}

static void test_bid_must_ask_the_orders_gpus(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"bid without the GPU", b_no_gpu, KUMO_EMISMATCH},
        {"bid with another model", b_other_model, KUMO_EMISMATCH},
        {"bid with two GPUs", b_two_gpus, KUMO_EMISMATCH},
        {"bid with less GPU memory", b_less_memory, KUMO_EMISMATCH},
    };
    fx_cases_run(*state, bid_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* Adding GPUs to a group's unit is a new order (a change of resources). */
static void test_gpu_change_reorders(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 5, 100000);
    fx_msg_t *m = fx_msg_new();
    fx_msg_update(m, fx->tenant, 1, 1);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 2);
    m->specs[0].res[0].cu.gpu = gpu_set(&g_gpu, 2, "amd", "");
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 0, 2);
    assert_non_null(o->resources[0]->compute->gpu);
    assert_int_equal(o->resources[0]->compute->gpu->count, 2);
    assert_string_equal(o->resources[0]->compute->gpu->vendor, "amd");
    kumo_codec_free(&o->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gpu_spec_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bid_must_ask_the_orders_gpus, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_gpu_change_reorders, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
