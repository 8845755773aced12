/*
 * test_query.c - proves kumo_market_query_run: for every object and filter combination,
 * paging with limits 1, 2 and 3 visits exactly the objects one big page returns, each once and
 * in the same order; filters by owner (and dseq), provider, state and order return exactly the
 * matching objects (counts and fields checked); a stopping callback resumes after the current
 * object; bad queries (limit 0 or over max, foreign page keys, unsupported filters, unknown
 * objects) fail with their codes. Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

#define DEP_DEPOSIT 100000u
#define SEEN_MAX    256u

typedef struct seen {
    kumo_buf_t items[SEEN_MAX]; /* packed objects in arrival order */
    size_t count;
    size_t stop_after; /* 0: never */
    const kumo_market_query_t *q;
} seen_t;

static void seen_reset(seen_t *s)
{
    for (size_t i = 0; i < s->count; i++) {
        kumo_buf_free(&s->items[i]);
    }
    s->count = 0;
}

/* The owner and provider of an object, when it has them. */
static void object_parties(const ProtobufCMessage *obj,
                           const uint8_t **owner,
                           const uint8_t **provider,
                           uint32_t *state)
{
    *owner = NULL;
    *provider = NULL;
    *state = 0;
    if (obj->descriptor == &kumo__deployment__descriptor) {
        const Kumo__Deployment *d = (const Kumo__Deployment *)obj;
        *owner = d->owner.data;
        *state = (uint32_t)d->state;
    } else if (obj->descriptor == &kumo__group__descriptor) {
        const Kumo__Group *g = (const Kumo__Group *)obj;
        *owner = g->owner.data;
        *state = (uint32_t)g->state;
    } else if (obj->descriptor == &kumo__order__descriptor) {
        const Kumo__Order *o = (const Kumo__Order *)obj;
        *owner = o->id->owner.data;
        *state = (uint32_t)o->state;
    } else if (obj->descriptor == &kumo__fulfillment__descriptor) {
        const Kumo__Fulfillment *f = (const Kumo__Fulfillment *)obj;
        *owner = f->id->order->owner.data;
        *provider = f->id->provider.data;
        *state = (uint32_t)f->state;
    } else if (obj->descriptor == &kumo__lease__descriptor) {
        const Kumo__Lease *l = (const Kumo__Lease *)obj;
        *owner = l->id->order->owner.data;
        *provider = l->id->provider.data;
        *state = (uint32_t)l->state;
    } else if (obj->descriptor == &kumo__account__descriptor) {
        *owner = ((const Kumo__Account *)obj)->address.data;
    } else if (obj->descriptor == &kumo__provider__descriptor) {
        *provider = ((const Kumo__Provider *)obj)->owner.data;
    }
}

static int seen_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    seen_t *s = cb_ctx;
    assert_true(s->count < SEEN_MAX);
    const uint8_t *owner;
    const uint8_t *provider;
    uint32_t st;
    object_parties(obj, &owner, &provider, &st);
    /* Every object returned matches every filter of the query. */
    if (s->q->owner != NULL) {
        assert_memory_equal(owner, s->q->owner, KUMO_ADDRESS_BYTES);
    }
    if (s->q->provider != NULL) {
        assert_memory_equal(provider, s->q->provider, KUMO_ADDRESS_BYTES);
    }
    if (s->q->state != 0) {
        assert_int_equal(st, s->q->state);
    }
    kumo_buf_init(&s->items[s->count], KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(obj, &s->items[s->count], NULL), 0);
    s->count++;
    return s->stop_after != 0 && s->count >= s->stop_after ? 1 : 0;
}

static int run(fx_t *fx, kumo_market_query_t *q, seen_t *s, kumo_buf_t *next)
{
    s->q = q;
    kumo_err_ctx_t err = {0};
    return kumo_market_query_run(&fx->ts.kv, q, seen_cb, s, next, &err);
}

/* All objects of q with one page, then with pages of 1..3: same sequence, no repeats. */
static size_t check_paging(fx_t *fx, kumo_market_query_t q)
{
    seen_t *all = calloc(1, sizeof(*all));
    seen_t *paged = calloc(1, sizeof(*paged));
    assert_true(all != NULL && paged != NULL);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    kumo_buf_t page;
    kumo_buf_init(&page, KUMO_KEY_BYTES_MAX);
    q.limit = KUMO_QUERY_PAGE_COUNT_MAX;
    q.page_key = kumo_bytes_make(NULL, 0);
    assert_int_equal(run(fx, &q, all, &next), 0);
    assert_int_equal(next.len, 0);
    for (uint32_t limit = 1; limit <= 3; limit++) {
        seen_reset(paged);
        kumo_buf_reset(&page);
        size_t pages = 0;
        do {
            q.limit = limit;
            q.page_key = kumo_buf_bytes(&page);
            size_t before = paged->count;
            assert_int_equal(run(fx, &q, paged, &next), 0);
            assert_true(paged->count - before <= limit);
            kumo_buf_reset(&page);
            assert_int_equal(kumo_buf_append(&page, next.ptr, next.len), 0);
            pages++;
            assert_true(pages <= SEEN_MAX);
        } while (page.len > 0);
        assert_int_equal(paged->count, all->count);
        for (size_t i = 0; i < all->count; i++) {
            assert_true(
                kumo_bytes_equal(kumo_buf_bytes(&all->items[i]), kumo_buf_bytes(&paged->items[i])));
            for (size_t j = 0; j < i; j++) {
                assert_false(kumo_bytes_equal(kumo_buf_bytes(&all->items[i]),
                                              kumo_buf_bytes(&all->items[j])));
            }
        }
    }
    size_t n = all->count;
    seen_reset(all);
    seen_reset(paged);
    free(all);
    free(paged);
    kumo_buf_free(&next);
    kumo_buf_free(&page);
    return n;
}

/* tenant/1 (2 groups), tenant/2 (3 groups), tenant2/1 (1 group). Bids: p0 on t/1/0, t/2/0,
 * t/2/2, t2/1/0; p1 on t/1/0 (wins); p2 on t/1/1, t/2/1 (wins). Leases: t/1/0 -> p1,
 * t/2/1 -> p2. */
static void populate(fx_t *fx)
{
    fx_msg_t *m = fx_msg_new();
    fx_deploy(fx, fx->tenant, 1, 2, 0, DEP_DEPOSIT);
    fx_msg_deploy(m, fx->tenant, 2, 3, 0, DEP_DEPOSIT);
    fx_spec_set(&m->specs[2], "g2", "us-east", 1, 10, 100, 2);
    fx_ok(fx, m->signer, &m->msg);
    fx_deploy(fx, fx->tenant2, 1, 1, 5, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 8);
    fx_bid(fx, fx->prov[0], fx->tenant, 2, 0, 1, 9);
    fx_bid(fx, fx->prov[0], fx->tenant, 2, 2, 1, 9);
    fx_bid(fx, fx->prov[0], fx->tenant2, 1, 0, 1, 9);
    fx_bid(fx, fx->prov[2], fx->tenant, 1, 1, 1, 9);
    fx_bid(fx, fx->prov[2], fx->tenant, 2, 1, 1, 9);
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[1]);
    fx_lease(fx, fx->tenant, 2, 1, 1, fx->prov[2]);
    free(m);
}

static void test_query_filters_and_paging(void **state)
{
    fx_t *fx = *state;
    populate(fx);
    Kumo__OrderId t101 = KUMO__ORDER_ID__INIT;
    t101.owner.data = fx->tenant;
    t101.owner.len = KUMO_ADDRESS_BYTES;
    t101.dseq = 1;
    t101.oseq = 1;
    const uint32_t open = 1;    /* ACTIVE / OPEN */
    const uint32_t matched = 2; /* GROUP_ACTIVE / ORDER_MATCHED / FULFILLMENT_MATCHED */
    static const kumo_market_object_t D = KUMO_MARKET_OBJ_DEPLOYMENT;
    static const kumo_market_object_t G = KUMO_MARKET_OBJ_GROUP;
    static const kumo_market_object_t O = KUMO_MARKET_OBJ_ORDER;
    static const kumo_market_object_t F = KUMO_MARKET_OBJ_FULFILLMENT;
    static const kumo_market_object_t L = KUMO_MARKET_OBJ_LEASE;
    const struct {
        kumo_market_query_t q;
        size_t want;
    } cases[] = {
        {{.object = KUMO_MARKET_OBJ_ACCOUNT}, 2 + FX_PROVIDERS},
        {{.object = KUMO_MARKET_OBJ_ACCOUNT, .owner = fx->tenant}, 1},
        {{.object = KUMO_MARKET_OBJ_ACCOUNT, .owner = fx->stranger}, 0},
        {{.object = KUMO_MARKET_OBJ_PROVIDER}, FX_PROVIDERS},
        {{.object = KUMO_MARKET_OBJ_PROVIDER, .provider = fx->prov[3]}, 1},
        {{.object = KUMO_MARKET_OBJ_VALIDATOR}, 1},
        {{.object = D}, 3},
        {{.object = D, .owner = fx->tenant}, 2},
        {{.object = D, .owner = fx->tenant, .dseq = 2}, 1},
        {{.object = D, .owner = fx->tenant2}, 1},
        {{.object = D, .state = open}, 3},
        {{.object = D, .state = open, .owner = fx->tenant2}, 1},
        {{.object = D, .state = 2}, 0},
        {{.object = G}, 6},
        {{.object = G, .owner = fx->tenant, .dseq = 2}, 3},
        {{.object = G, .state = matched}, 2},
        {{.object = G, .state = open, .owner = fx->tenant}, 3},
        {{.object = O}, 6},
        {{.object = O, .owner = fx->tenant}, 5},
        {{.object = O, .state = open}, 4},
        {{.object = O, .state = matched, .owner = fx->tenant, .dseq = 1}, 1},
        {{.object = O, .order = &t101}, 1},
        {{.object = F}, 6},
        {{.object = F, .provider = fx->prov[0]}, 3},
        {{.object = F, .provider = fx->prov[0], .state = open}, 3},
        {{.object = F, .provider = fx->prov[0], .state = matched}, 0},
        {{.object = F, .provider = fx->prov[0], .owner = fx->tenant}, 2},
        {{.object = F, .provider = fx->prov[0], .owner = fx->tenant, .dseq = 2}, 2},
        {{.object = F, .provider = fx->prov[1]}, 1},
        {{.object = F, .state = matched}, 2},
        {{.object = F, .state = open, .owner = fx->tenant}, 3},
        {{.object = F, .owner = fx->tenant}, 5},
        {{.object = F, .order = &t101}, 1},
        {{.object = F, .order = &t101, .provider = fx->prov[1]}, 1},
        {{.object = F, .order = &t101, .provider = fx->prov[0]}, 0},
        {{.object = F, .order = &t101, .owner = fx->tenant2}, 0},
        {{.object = L}, 2},
        {{.object = L, .provider = fx->prov[2]}, 1},
        {{.object = L, .state = open}, 2},
        {{.object = L, .owner = fx->tenant2}, 0},
        {{.object = L, .order = &t101}, 1},
        {{.object = L, .order = &t101, .state = open}, 1},
        {{.object = L, .provider = fx->prov[1], .state = 2}, 0},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        size_t n = check_paging(fx, cases[i].q);
        if (n != cases[i].want) {
            fail_msg("case %zu: %zu objects, want %zu", i, n, cases[i].want);
        }
    }
}

static void test_query_stop_resumes_after_current(void **state)
{
    fx_t *fx = *state;
    populate(fx);
    seen_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_ORDER, .limit = 10};
    s->stop_after = 2;
    assert_int_equal(run(fx, &q, s, &next), 0);
    assert_int_equal(s->count, 2);
    assert_true(next.len > 0);
    s->stop_after = 0;
    q.page_key = kumo_buf_bytes(&next);
    kumo_buf_t next2;
    kumo_buf_init(&next2, KUMO_KEY_BYTES_MAX);
    assert_int_equal(run(fx, &q, s, &next2), 0);
    assert_int_equal(s->count, 6);
    assert_int_equal(next2.len, 0);
    seen_reset(s);
    free(s);
    kumo_buf_free(&next);
    kumo_buf_free(&next2);
}

static void test_query_rejects_bad_input(void **state)
{
    fx_t *fx = *state;
    populate(fx);
    uint8_t foreign[2] = {0x01, 0x00};
    Kumo__OrderId bad_oid = KUMO__ORDER_ID__INIT;
    bad_oid.owner.data = fx->tenant;
    bad_oid.owner.len = 19;
    uint8_t too_long[KUMO_KEY_BYTES_MAX + 1];
    memset(too_long, 0x05, sizeof(too_long));
    const struct {
        const char *name;
        kumo_market_query_t q;
        int want;
    } cases[] = {
        {"limit 0", {.object = KUMO_MARKET_OBJ_ORDER}, KUMO_EINVAL},
        {"limit at max", {.object = KUMO_MARKET_OBJ_ORDER, .limit = KUMO_QUERY_PAGE_COUNT_MAX}, 0},
        {"limit over max",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = KUMO_QUERY_PAGE_COUNT_MAX + 1},
         KUMO_ELIMIT},
        {"unknown object", {.object = (kumo_market_object_t)0, .limit = 1}, KUMO_EINVAL},
        {"unknown object 99", {.object = (kumo_market_object_t)99, .limit = 1}, KUMO_EINVAL},
        {"page key of another prefix",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = 1, .page_key = {foreign, sizeof(foreign)}},
         KUMO_EINVAL},
        {"page key too long",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = 1, .page_key = {too_long, sizeof(too_long)}},
         KUMO_EINVAL},
        {"dseq without owner",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = 1, .dseq = 1},
         KUMO_EINVAL},
        {"provider filter on orders",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = 1, .provider = fx->prov[0]},
         KUMO_EINVAL},
        {"order filter on groups",
         {.object = KUMO_MARKET_OBJ_GROUP, .limit = 1, .order = &bad_oid},
         KUMO_EINVAL},
        {"state filter on accounts",
         {.object = KUMO_MARKET_OBJ_ACCOUNT, .limit = 1, .state = 1},
         KUMO_EINVAL},
        {"owner filter on providers",
         {.object = KUMO_MARKET_OBJ_PROVIDER, .limit = 1, .owner = fx->tenant},
         KUMO_EINVAL},
        {"owner filter on validators",
         {.object = KUMO_MARKET_OBJ_VALIDATOR, .limit = 1, .owner = fx->tenant},
         KUMO_EINVAL},
        {"state over 255",
         {.object = KUMO_MARKET_OBJ_ORDER, .limit = 1, .state = 256},
         KUMO_EINVAL},
        {"order owner 19 bytes",
         {.object = KUMO_MARKET_OBJ_LEASE, .limit = 1, .order = &bad_oid},
         KUMO_EINVAL},
    };
    seen_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_market_query_t q = cases[i].q;
        int rc = run(fx, &q, s, &next);
        seen_reset(s);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s, want %s", cases[i].name, kumo_err_name(rc),
                     kumo_err_name(cases[i].want));
        }
    }
    free(s);
    kumo_buf_free(&next);
}

/* An index entry without its object is corruption, not an empty result. */
static void test_query_index_without_object_is_corrupt(void **state)
{
    fx_t *fx = *state;
    populate(fx);
    kumo_market_oid_t oid = fx_oid(fx->tenant, 1, 0, 1);
    kumo_market_key_t k;
    kumo_market_key_lease(&k, &oid, fx->prov[1]);
    assert_int_equal(fx->ts.kv.del(fx->ts.kv.ctx, kumo_market_key_bytes(&k), NULL), 0);
    seen_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_LEASE, .limit = 10, .state = 1};
    assert_int_equal(run(fx, &q, s, &next), KUMO_ECORRUPT);
    seen_reset(s);
    free(s);
    kumo_buf_free(&next);
}

/* A residual filter cannot turn one call into a long scan: a page stops after
 * KUMO_MARKET_QUERY_SCAN_COUNT_MAX visited entries and hands back a cursor. */
static void test_query_page_stops_at_scan_budget(void **state)
{
    fx_t *fx = *state;
    fx_msg_t *m = fx_msg_new();
    fx_msg_t *b = fx_msg_new();
    fx_spec_set(&b->specs[0], "x", "x", 1, 10, 100, 2);
    uint32_t deps = KUMO_MARKET_QUERY_SCAN_COUNT_MAX / KUMO_GROUP_COUNT_MAX + 1;
    for (uint32_t d = 1; d <= deps; d++) {
        fx_msg_deploy(m, fx->tenant, d, KUMO_GROUP_COUNT_MAX, 0, DEP_DEPOSIT);
        for (size_t g = 0; g < KUMO_GROUP_COUNT_MAX; g++) {
            snprintf(m->specs[g].region, sizeof(m->specs[g].region), "us-east");
        }
        assert_int_equal(fx_apply(fx, m->signer, &m->msg), 0);
        for (uint32_t g = 0; g < KUMO_GROUP_COUNT_MAX; g++) {
            fx_msg_bid(b, fx->prov[0], fx->tenant, d, g, 1, &b->specs[0], 10);
            assert_int_equal(fx_apply(fx, b->signer, &b->msg), 0);
            fx_msg_lease(b, fx->val, fx->tenant, d, g, 1, fx->prov[0]);
            assert_int_equal(fx_apply(fx, b->signer, &b->msg), 0);
        }
    }
    /* One open bid, after all the matched ones in key order (tenant2 > tenant). */
    fx_deploy(fx, fx->tenant2, 1, 1, 0, DEP_DEPOSIT);
    fx_bid(fx, fx->prov[0], fx->tenant2, 1, 0, 1, 10);
    seen_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_FULFILLMENT,
                             .provider = fx->prov[0],
                             .state = KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN,
                             .limit = 10};
    assert_int_equal(run(fx, &q, s, &next), 0);
    assert_int_equal(s->count, 0);
    assert_true(next.len > 0);
    kumo_buf_t page;
    kumo_buf_init(&page, KUMO_KEY_BYTES_MAX);
    assert_int_equal(kumo_buf_append(&page, next.ptr, next.len), 0);
    q.page_key = kumo_buf_bytes(&page);
    assert_int_equal(run(fx, &q, s, &next), 0);
    assert_int_equal(s->count, 1);
    assert_int_equal(next.len, 0);
    fx_check(fx);
    seen_reset(s);
    free(s);
    kumo_buf_free(&next);
    kumo_buf_free(&page);
    free(b);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_query_filters_and_paging, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_stop_resumes_after_current, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_rejects_bad_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_index_without_object_is_corrupt, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_page_stops_at_scan_budget, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
