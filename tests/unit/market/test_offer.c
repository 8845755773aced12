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
