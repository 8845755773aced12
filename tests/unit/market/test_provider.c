/*
 * test_provider.c - proves CreateProvider, UpdateProvider and DeleteProvider: the happy paths
 * store exactly the msg's fields and keep the counters; every rule (existence, empty fields,
 * each length and count at MAX and MAX+1, PEM shape, duplicate attribute keys, region change
 * with open bids, delete with open bids or live leases) fails with its own code and leaves
 * the kv byte-identical. Runs on a real LMDB store.
 */
#include "unit/market/market_fixture.h"

static void test_provider_create_update_delete(void **state)
{
    fx_t *fx = *state;
    fx->height = 7;
    fx_msg_t *m = fx_msg_new();
    fx_msg_create_provider(m, fx->stranger, "eu-central");
    fx_ok(fx, m->signer, &m->msg);
    Kumo__Provider *p = fx_provider(fx, fx->stranger);
    assert_string_equal(p->region, "eu-central");
    assert_string_equal(p->host_uri, "https://provider.example:8443");
    assert_string_equal(p->root_cert_pem, FX_PEM);
    assert_int_equal(p->n_attributes, 2);
    assert_string_equal(p->attributes[1]->key, "key01");
    assert_int_equal(p->created_height, 7);
    assert_int_equal(p->open_bid_count, 0);
    kumo_codec_free(&p->base);
    assert_int_equal(fx_event_count(fx, "provider.created"), 1);

    fx->height = 9;
    fx_msg_update_provider(m, fx->stranger, "eu-west");
    m->up.n_attributes = 0;
    fx_ok(fx, m->signer, &m->msg);
    p = fx_provider(fx, fx->stranger);
    assert_string_equal(p->region, "eu-west");
    assert_int_equal(p->n_attributes, 0);
    assert_int_equal(p->created_height, 7);
    kumo_codec_free(&p->base);
    assert_int_equal(fx_event_count(fx, "provider.updated"), 1);

    fx_msg_delete_provider(m, fx->stranger);
    fx_ok(fx, m->signer, &m->msg);
    Kumo__Provider *gone = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_provider_get(&fx->ts.kv, fx->stranger, &gone, &err),
                     KUMO_ENOTFOUND);
    assert_int_equal(fx_event_count(fx, "provider.deleted"), 1);
    /* The address may register again. */
    fx_msg_create_provider(m, fx->stranger, "eu-west");
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* ---- field rules, shared by create and update ----------------------------------------------- */

static void fill(char *dst, char c, size_t n)
{
    memset(dst, c, n);
    dst[n] = '\0';
}

static void f_host_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->host[0] = '\0';
}
static void f_host_null(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->cp.host_uri = NULL;
    m->up.host_uri = NULL;
}
static void f_host_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->host, 'h', KUMO_URI_BYTES_MAX);
}
static void f_host_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->host, 'h', KUMO_URI_BYTES_MAX + 1);
}
static void f_region_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->region[0] = '\0';
}
static void f_region_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->region, 'r', KUMO_REGION_BYTES_MAX);
}
static void f_region_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->region, 'r', KUMO_REGION_BYTES_MAX + 1);
}
static void f_pem_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->pem[0] = '\0';
}
/* A well-shaped PEM of exactly len bytes. */
static void pem_of_len(char *pem, size_t len)
{
    const char *begin = "-----BEGIN CERTIFICATE-----\n";
    const char *end = "\n-----END CERTIFICATE-----\n";
    size_t fixed = strlen(begin) + strlen(end);
    memcpy(pem, begin, strlen(begin));
    memset(pem + strlen(begin), 'A', len - fixed);
    memcpy(pem + len - strlen(end), end, strlen(end) + 1);
    assert_int_equal(strlen(pem), len);
}
static void f_pem_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    pem_of_len(m->pem, KUMO_CERT_PEM_BYTES_MAX);
}
static void f_pem_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    pem_of_len(m->pem, KUMO_CERT_PEM_BYTES_MAX + 1);
}
static void f_pem_no_begin(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->pem, sizeof(m->pem), "MIIB\n-----END CERTIFICATE-----\n");
}
static void f_pem_no_end(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->pem, sizeof(m->pem), "-----BEGIN CERTIFICATE-----\nMIIB\n");
}
static void f_pem_leading_space(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->pem, sizeof(m->pem), " %s", FX_PEM);
}
static void attrs_set(fx_msg_t *m, size_t n)
{
    fx_attrs_fill(m, n);
    m->cp.n_attributes = n;
    m->up.n_attributes = n;
}
static void f_attrs_none(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    attrs_set(m, 0);
}
static void f_attrs_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    attrs_set(m, KUMO_ATTRIBUTE_COUNT_MAX);
}
static void f_attrs_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    attrs_set(m, KUMO_ATTRIBUTE_COUNT_MAX + 1);
}
static void f_attr_missing(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->attr_ptrs[1] = NULL;
}
static void f_attr_key_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->attr_key[0][0] = '\0';
}
/* The last key (the list stays sorted: 'k' sorts after "key00"). */
static void f_attr_key_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->attr_key[1], 'k', KUMO_ATTRIBUTE_KEY_BYTES_MAX);
}
static void f_attr_key_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->attr_key[1], 'k', KUMO_ATTRIBUTE_KEY_BYTES_MAX + 1);
}
static void f_attr_key_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->attr_key[0], sizeof(m->attr_key[0]), "zone");
}
static void f_attr_value_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->attr_val[0][0] = '\0';
}
static void f_attr_value_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->attr_val[0], 'v', KUMO_ATTRIBUTE_VALUE_BYTES_MAX);
}
static void f_attr_value_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fill(m->attr_val[0], 'v', KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 1);
}
static void f_host_not_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->host[3] = (char)0xff;
}
static void f_region_overlong_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    /* "/" encoded in two bytes: an overlong form. */
    snprintf(m->region, sizeof(m->region), "eu%c%c", (char)0xc0, (char)0xaf);
}
static void f_region_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->region, sizeof(m->region), "z\xc3\xbcrich");
}
static void f_attr_value_surrogate(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->attr_val[1], sizeof(m->attr_val[1]), "%c%c%c", (char)0xed, (char)0xa0, (char)0x80);
}
static void f_pem_truncated_utf8(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    size_t n = strlen(m->pem);
    m->pem[n] = (char)0xe2;
    m->pem[n + 1] = '\0';
}
static void f_attr_key_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->attr_key[1], sizeof(m->attr_key[1]), "%s", m->attr_key[0]);
}

/* ---- CreateProvider ------------------------------------------------------------------------- */

static void create_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_create_provider(m, fx->stranger, "eu-central");
}
static void c_exists(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[0];
}

static void test_create_provider_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"already a provider", c_exists, KUMO_EEXIST},
        {"host_uri empty", f_host_empty, KUMO_EEMPTY},
        {"host_uri NULL", f_host_null, KUMO_EEMPTY},
        {"host_uri at max", f_host_max, 0},
        {"host_uri over max", f_host_over, KUMO_ELIMIT},
        {"region empty", f_region_empty, KUMO_EEMPTY},
        {"region at max", f_region_max, 0},
        {"region over max", f_region_over, KUMO_ELIMIT},
        {"pem empty", f_pem_empty, KUMO_EEMPTY},
        {"pem at max", f_pem_max, 0},
        {"pem over max", f_pem_over, KUMO_ELIMIT},
        {"pem without BEGIN", f_pem_no_begin, KUMO_EINVAL},
        {"pem without END", f_pem_no_end, KUMO_EINVAL},
        {"pem with leading space", f_pem_leading_space, KUMO_EINVAL},
        {"no attributes", f_attrs_none, 0},
        {"attributes at max", f_attrs_max, 0},
        {"attributes over max", f_attrs_over, KUMO_ELIMIT},
        {"attribute missing", f_attr_missing, KUMO_EEMPTY},
        {"attribute key empty", f_attr_key_empty, KUMO_EEMPTY},
        {"attribute key at max", f_attr_key_max, 0},
        {"attribute key over max", f_attr_key_over, KUMO_ELIMIT},
        {"attribute value empty", f_attr_value_empty, 0},
        {"attribute value at max", f_attr_value_max, 0},
        {"attribute value over max", f_attr_value_over, KUMO_ELIMIT},
        {"attribute key repeated", f_attr_key_dup, KUMO_EDUPLICATE},
        {"attributes not sorted by key", f_attr_key_unsorted, KUMO_EUNSORTED},
        {"host_uri not UTF-8", f_host_not_utf8, KUMO_EINVAL},
        {"region overlong UTF-8", f_region_overlong_utf8, KUMO_EINVAL},
        {"region UTF-8", f_region_utf8, 0},
        {"attribute value a surrogate", f_attr_value_surrogate, KUMO_EINVAL},
        {"pem ends in a cut UTF-8 sequence", f_pem_truncated_utf8, KUMO_EINVAL},
    };
    fx_cases_run(*state, create_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- UpdateProvider ------------------------------------------------------------------------- */

static void update_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_update_provider(m, fx->prov[0], "us-east");
}

/* prov[0] bids on a fresh one-group deployment of the tenant (us-east). */
static void prep_bid(fx_t *fx)
{
    fx_deploy(fx, fx->tenant, 1, 1, 5, 100000);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
}
static void prep_lease(fx_t *fx)
{
    prep_bid(fx);
    fx->height += 5;
    fx_lease(fx, fx->tenant, 1, 0, 1, fx->prov[0]);
}

static void u_not_provider(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void u_region_change(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->region, sizeof(m->region), "eu-north");
}
static void u_region_change_with_bids(fx_t *fx, fx_msg_t *m)
{
    prep_bid(fx);
    snprintf(m->region, sizeof(m->region), "eu-north");
}
static void u_same_region_with_bids(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_bid(fx);
}
static void u_region_change_with_lease(fx_t *fx, fx_msg_t *m)
{
    prep_lease(fx);
    snprintf(m->region, sizeof(m->region), "eu-north");
}

static void test_update_provider_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"region change without bids", u_region_change, 0},
        {"not a provider", u_not_provider, KUMO_ENOTFOUND},
        {"region change with an open bid", u_region_change_with_bids, KUMO_EBUSY},
        {"same region with an open bid", u_same_region_with_bids, 0},
        {"region change with a lease only", u_region_change_with_lease, 0},
        {"host_uri empty", f_host_empty, KUMO_EEMPTY},
        {"host_uri over max", f_host_over, KUMO_ELIMIT},
        {"region empty", f_region_empty, KUMO_EEMPTY},
        {"region over max", f_region_over, KUMO_ELIMIT},
        {"pem empty", f_pem_empty, KUMO_EEMPTY},
        {"pem over max", f_pem_over, KUMO_ELIMIT},
        {"pem without END", f_pem_no_end, KUMO_EINVAL},
        {"attributes over max", f_attrs_over, KUMO_ELIMIT},
        {"attribute key empty", f_attr_key_empty, KUMO_EEMPTY},
        {"attribute value over max", f_attr_value_over, KUMO_ELIMIT},
        {"attribute key repeated", f_attr_key_dup, KUMO_EDUPLICATE},
        {"attributes not sorted by key", f_attr_key_unsorted, KUMO_EUNSORTED},
        {"host_uri not UTF-8", f_host_not_utf8, KUMO_EINVAL},
    };
    fx_cases_run(*state, update_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- DeleteProvider ------------------------------------------------------------------------- */

static void delete_build(fx_t *fx, fx_msg_t *m)
{
    fx_msg_delete_provider(m, fx->prov[0]);
}
static void d_not_provider(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void d_open_bid(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_bid(fx);
}
static void d_cancelled_bid(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_bid(fx);
    fx_msg_t *c = fx_msg_new();
    fx_msg_cancel(c, fx->prov[0], fx->tenant, 1, 0, 1);
    fx_ok(fx, c->signer, &c->msg);
    free(c);
}
static void d_active_lease(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_lease(fx);
}
static void d_closing_lease(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_lease(fx);
    fx_close_dep(fx, fx->tenant, 1);
}
static void d_released_lease(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    prep_lease(fx);
    fx_close_dep(fx, fx->tenant, 1);
    fx_confirm1(fx, fx->prov[0], fx->tenant, 1, 0, 1, true);
}

static void test_delete_provider_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"not a provider", d_not_provider, KUMO_ENOTFOUND},
        {"open bid", d_open_bid, KUMO_EBUSY},
        {"bid cancelled", d_cancelled_bid, 0},
        {"active lease", d_active_lease, KUMO_EBUSY},
        {"closing lease", d_closing_lease, KUMO_EBUSY},
        {"lease released", d_released_lease, 0},
    };
    fx_cases_run(*state, delete_build, cases, KUMO_ARRAY_COUNT(cases));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_provider_create_update_delete, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_provider_rejects_each_rule, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_provider_rejects_each_rule, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_provider_rejects_each_rule, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
