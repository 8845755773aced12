/*
 * test_offer.c - a provider's published offer (ProviderOffer through MsgUpdateProvider): an
 * offer-only update changes only the offer and stamps its height; a full update keeps the
 * stored offer unless it sends one; every bad offer has its own code and changes nothing.
 */
#include "unit/market/market_fixture.h"

static Kumo__ProviderOffer g_offer;

static void offer_fill(Kumo__ProviderOffer *o)
{
    kumo__provider_offer__init(o);
    o->price_cpu_per_core = 40;
    o->price_memory_per_gib = 10;
    o->price_storage_per_gib = 1;
    o->free_cpu_milli = 8000;
    o->free_memory_bytes = 16ull << 30;
    o->free_storage_bytes = 100ull << 30;
    o->free_collateral = 1000000;
}

/* An offer-only update from p0 (every other field empty). */
static void offer_only(fx_t *fx, fx_msg_t *m)
{
    Kumo__MsgUpdateProvider init = KUMO__MSG_UPDATE_PROVIDER__INIT;
    m->up = init;
    offer_fill(&g_offer);
    m->up.offer = &g_offer;
    m->signer = fx->prov[0];
    fx_msg_set(m, KUMO__MSG__SUM_UPDATE_PROVIDER, &m->up);
}

static void test_offer_published_and_kept(void **state)
{
    fx_t *fx = *state;
    fx->height = 7;
    fx_msg_t *m = fx_msg_new();
    offer_only(fx, m);
    fx->event_count = 0;
    fx_ok(fx, m->signer, &m->msg);
    assert_int_equal(fx_event_count(fx, "provider.offer"), 1);
    Kumo__Provider *p = fx_provider(fx, fx->prov[0]);
    assert_non_null(p->offer);
    assert_int_equal(p->offer->height, 7);
    assert_int_equal(p->offer->price_cpu_per_core, 40);
    assert_int_equal(p->offer->free_collateral, 1000000);
    assert_string_equal(p->region, fx_provider_region(0)); /* the rest untouched */
    assert_true(strlen(p->root_cert_pem) > 0);
    kumo_codec_free(&p->base);
    /* A full update without an offer keeps it. */
    fx->height = 8;
    fx_msg_update_provider(m, fx->prov[0], fx_provider_region(0));
    fx_ok(fx, m->signer, &m->msg);
    p = fx_provider(fx, fx->prov[0]);
    assert_non_null(p->offer);
    assert_int_equal(p->offer->height, 7);
    kumo_codec_free(&p->base);
    /* A full update with an offer replaces it. */
    fx->height = 9;
    offer_fill(&g_offer);
    g_offer.free_cpu_milli = 500;
    m->up.offer = &g_offer;
    fx_ok(fx, m->signer, &m->msg);
    p = fx_provider(fx, fx->prov[0]);
    assert_int_equal(p->offer->height, 9);
    assert_int_equal(p->offer->free_cpu_milli, 500);
    kumo_codec_free(&p->base);
    free(m);
}

static void o_height(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer->height = 5;
}
static void o_price(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer->price_memory_per_gib = KUMO_MARKET_OFFER_PRICE_MAX + 1;
}
static void o_price_at_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer->price_cpu_per_core = KUMO_MARKET_OFFER_PRICE_MAX;
}
static void o_amount(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer->free_collateral = UINT64_MAX;
}
static void o_cpu(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer->free_cpu_milli = KUMO_MARKET_OFFER_AMOUNT_MAX + 1;
}
static void o_not_provider(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->tenant;
}
static void o_region_only(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->region, sizeof(m->region), "us-east");
    m->up.region = m->region; /* not offer-only: every field is then required */
}
static void o_no_offer(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->up.offer = NULL; /* an empty update */
}

/* Free GPUs: kinds of (vendor, model, memory) with a count each. */
static Kumo__GpuSpec g_gpus[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX + 1];
static Kumo__GpuSpec *g_gpu_ptrs[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX + 1];

static void o_gpus(fx_msg_t *m, size_t kinds, uint32_t count)
{
    for (size_t i = 0; i < kinds; i++) {
        kumo__gpu_spec__init(&g_gpus[i]);
        g_gpus[i].count = count;
        g_gpus[i].vendor = "nvidia";
        g_gpus[i].model = "a100";
        g_gpus[i].memory_bytes = 80ull << 30;
        g_gpu_ptrs[i] = &g_gpus[i];
    }
    m->up.offer->n_free_gpus = kinds;
    m->up.offer->free_gpus = g_gpu_ptrs;
    m->up.offer->price_per_gpu = 500;
}
static void o_gpus_ok(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX, 4); /* 16 kinds, 64 GPUs: at the limits */
}
static void o_gpus_kinds(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX + 1, 1);
}
static void o_gpus_total(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, 2, 33);
}
static void o_gpus_zero(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, 1, 0);
}
static void o_gpus_vendor(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, 1, 1);
    g_gpus[0].vendor = "";
}
static void o_gpus_price(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    o_gpus(m, 1, 1);
    m->up.offer->price_per_gpu = KUMO_MARKET_OFFER_PRICE_MAX + 1;
}

static void test_offer_rejects_each_rule(void **state)
{
    fx_t *fx = *state;
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"height sent", o_height, KUMO_EINVAL},
        {"price over the ceiling", o_price, KUMO_ELIMIT},
        {"price at the ceiling", o_price_at_max, 0},
        {"free collateral 2^64-1", o_amount, KUMO_ELIMIT},
        {"free cpu over the ceiling", o_cpu, KUMO_ELIMIT},
        {"signer is no provider", o_not_provider, KUMO_ENOTFOUND},
        {"region without the other fields", o_region_only, KUMO_EEMPTY},
        {"nothing at all", o_no_offer, KUMO_EEMPTY},
        {"free GPUs at the limits", o_gpus_ok, 0},
        {"17 GPU kinds", o_gpus_kinds, KUMO_ELIMIT},
        {"66 free GPUs", o_gpus_total, KUMO_ELIMIT},
        {"a GPU kind of count 0", o_gpus_zero, KUMO_EINVAL},
        {"a GPU kind without a vendor", o_gpus_vendor, KUMO_EEMPTY},
        {"price per GPU over the ceiling", o_gpus_price, KUMO_ELIMIT},
    };
    fx_cases_run(fx, offer_only, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offer_published_and_kept, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_offer_rejects_each_rule, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
