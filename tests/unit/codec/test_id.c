/*
 * test_id.c - proves text ids format as owner/dseq[/gseq/oseq[/provider]], parse back to the
 * same values, and that parsing is strict: one table row per rejected form (sign, leading zero,
 * overflow at MAX and MAX+1, empty or extra parts, bad addresses, over-long text).
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"

static uint8_t owner[KUMO_ADDRESS_BYTES];
static uint8_t provider[KUMO_ADDRESS_BYTES];
static char owner_text[KUMO_ADDRESS_TEXT_BYTES];
static char provider_text[KUMO_ADDRESS_TEXT_BYTES];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ADDRESS_BYTES; i++) {
        owner[i] = (uint8_t)(0x10 + i);
        provider[i] = (uint8_t)(0xf0 - i);
    }
    kumo_codec_address_encode(owner, owner_text);
    kumo_codec_address_encode(provider, provider_text);
    return 0;
}

static Kumo__OrderId order_id(uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = owner;
    id.owner.len = sizeof(owner);
    id.dseq = dseq;
    id.gseq = gseq;
    id.oseq = oseq;
    return id;
}

static void test_deployment_id_round_trip(void **state)
{
    (void)state;
    char text[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_deployment_id_format(owner, 42, text), 0);
    char want[KUMO_ID_TEXT_BYTES];
    snprintf(want, sizeof(want), "%s/42", owner_text);
    assert_string_equal(text, want);
    uint8_t got_owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    assert_int_equal(kumo_codec_deployment_id_parse(text, got_owner, &dseq, NULL), 0);
    assert_memory_equal(got_owner, owner, sizeof(owner));
    assert_true(dseq == 42);
}

static void test_order_id_round_trip_at_max_values(void **state)
{
    (void)state;
    Kumo__OrderId id = order_id(UINT64_MAX, UINT32_MAX, UINT32_MAX);
    char text[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_order_id_format(&id, text), 0);
    char want[KUMO_ID_TEXT_BYTES];
    snprintf(want, sizeof(want), "%s/18446744073709551615/4294967295/4294967295", owner_text);
    assert_string_equal(text, want);
    uint8_t got_owner[KUMO_ADDRESS_BYTES];
    Kumo__OrderId got;
    assert_int_equal(kumo_codec_order_id_parse(text, got_owner, &got, NULL), 0);
    assert_true(got.dseq == UINT64_MAX);
    assert_int_equal(got.gseq, UINT32_MAX);
    assert_int_equal(got.oseq, UINT32_MAX);
    assert_ptr_equal(got.owner.data, got_owner);
    assert_int_equal(got.owner.len, KUMO_ADDRESS_BYTES);
    assert_memory_equal(got_owner, owner, sizeof(owner));
}

static void test_lease_id_round_trip(void **state)
{
    (void)state;
    Kumo__OrderId id = order_id(0, 0, 1);
    char text[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_lease_id_format(&id, provider, text), 0);
    char want[KUMO_ID_TEXT_BYTES];
    snprintf(want, sizeof(want), "%s/0/0/1/%s", owner_text, provider_text);
    assert_string_equal(text, want);
    uint8_t got_owner[KUMO_ADDRESS_BYTES];
    uint8_t got_provider[KUMO_ADDRESS_BYTES];
    Kumo__OrderId got;
    assert_int_equal(kumo_codec_lease_id_parse(text, got_owner, &got, got_provider, NULL), 0);
    assert_true(got.dseq == 0);
    assert_int_equal(got.gseq, 0);
    assert_int_equal(got.oseq, 1);
    assert_memory_equal(got_owner, owner, sizeof(owner));
    assert_memory_equal(got_provider, provider, sizeof(provider));
}

static void test_format_rejects_bad_owner_length(void **state)
{
    (void)state;
    Kumo__OrderId id = order_id(1, 2, 3);
    id.owner.len = 19;
    char text[KUMO_ID_TEXT_BYTES];
    assert_int_equal(kumo_codec_order_id_format(&id, text), KUMO_EINVAL);
    assert_int_equal(kumo_codec_lease_id_format(&id, provider, text), KUMO_EINVAL);
}

enum id_kind {
    ID_DEPLOYMENT,
    ID_ORDER,
    ID_LEASE
};

static int parse_kind(enum id_kind kind, const char *text, kumo_err_ctx_t *err)
{
    uint8_t o[KUMO_ADDRESS_BYTES];
    uint8_t p[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    Kumo__OrderId id;
    switch (kind) {
    case ID_DEPLOYMENT:
        return kumo_codec_deployment_id_parse(text, o, &dseq, err);
    case ID_ORDER:
        return kumo_codec_order_id_parse(text, o, &id, err);
    case ID_LEASE:
        return kumo_codec_lease_id_parse(text, o, &id, p, err);
    }
    return -100;
}

/* Copies tmpl to out with "{o}" and "{p}" replaced by the owner and provider addresses. */
static void expand(const char *tmpl, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *c = tmpl; *c != '\0';) {
        const char *sub = NULL;
        if (strncmp(c, "{o}", 3) == 0) {
            sub = owner_text;
        } else if (strncmp(c, "{p}", 3) == 0) {
            sub = provider_text;
        }
        if (sub != NULL) {
            size_t len = strlen(sub);
            assert_true(n + len < cap);
            memcpy(out + n, sub, len);
            n += len;
            c += 3;
        } else {
            assert_true(n + 1 < cap);
            out[n++] = *c++;
        }
    }
    out[n] = '\0';
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum id_kind kind;
        const char *tmpl; /* {o} is the owner, {p} the provider */
        int want;
    } cases[] = {
        {"valid deployment", ID_DEPLOYMENT, "{o}/7", 0},
        {"valid order", ID_ORDER, "{o}/7/0/1", 0},
        {"valid lease", ID_LEASE, "{o}/7/0/1/{p}", 0},
        {"dseq u64 max", ID_DEPLOYMENT, "{o}/18446744073709551615", 0},
        {"dseq zero", ID_DEPLOYMENT, "{o}/0", 0},
        {"dseq u64 max plus one", ID_DEPLOYMENT, "{o}/18446744073709551616", KUMO_EINVAL},
        {"dseq far overflow", ID_DEPLOYMENT, "{o}/99999999999999999999999", KUMO_EINVAL},
        {"gseq u32 max plus one", ID_ORDER, "{o}/7/4294967296/1", KUMO_EINVAL},
        {"oseq u32 max plus one", ID_ORDER, "{o}/7/0/4294967296", KUMO_EINVAL},
        {"leading plus", ID_DEPLOYMENT, "{o}/+7", KUMO_EINVAL},
        {"minus", ID_DEPLOYMENT, "{o}/-7", KUMO_EINVAL},
        {"leading zero", ID_DEPLOYMENT, "{o}/07", KUMO_EINVAL},
        {"double zero", ID_DEPLOYMENT, "{o}/00", KUMO_EINVAL},
        {"leading zero gseq", ID_ORDER, "{o}/7/01/1", KUMO_EINVAL},
        {"leading space", ID_DEPLOYMENT, "{o}/ 7", KUMO_EINVAL},
        {"trailing space", ID_DEPLOYMENT, "{o}/7 ", KUMO_EINVAL},
        {"hex number", ID_DEPLOYMENT, "{o}/0x7", KUMO_EINVAL},
        {"empty dseq", ID_DEPLOYMENT, "{o}/", KUMO_EINVAL},
        {"no dseq", ID_DEPLOYMENT, "{o}", KUMO_EINVAL},
        {"trailing slash", ID_DEPLOYMENT, "{o}/7/", KUMO_EINVAL},
        {"order as deployment", ID_DEPLOYMENT, "{o}/7/0/1", KUMO_EINVAL},
        {"deployment as order", ID_ORDER, "{o}/7", KUMO_EINVAL},
        {"order missing oseq", ID_ORDER, "{o}/7/0", KUMO_EINVAL},
        {"lease as order", ID_ORDER, "{o}/7/0/1/{p}", KUMO_EINVAL},
        {"order as lease", ID_LEASE, "{o}/7/0/1", KUMO_EINVAL},
        {"six parts", ID_LEASE, "{o}/7/0/1/{p}/1", KUMO_EINVAL},
        {"empty", ID_DEPLOYMENT, "", KUMO_EINVAL},
        {"bad owner", ID_DEPLOYMENT, "kumo1abc/7", KUMO_EINVAL},
        {"empty owner", ID_DEPLOYMENT, "/7", KUMO_EINVAL},
        {"bad provider", ID_LEASE, "{o}/7/0/1/kumo1abc", KUMO_EINVAL},
        {"provider empty", ID_LEASE, "{o}/7/0/1/", KUMO_EINVAL},
        {"too long", ID_DEPLOYMENT,
         "{o}/00000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000007",
         KUMO_EINVAL},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char text[512];
        expand(cases[i].tmpl, text, sizeof(text));
        kumo_err_ctx_t err = {0};
        int rc = parse_kind(cases[i].kind, text, &err);
        if (rc != cases[i].want) {
            fail_msg("%s (%s): got %s (%s)", cases[i].name, text, kumo_err_name(rc), err.detail);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deployment_id_round_trip),
        cmocka_unit_test(test_order_id_round_trip_at_max_values),
        cmocka_unit_test(test_lease_id_round_trip),
        cmocka_unit_test(test_format_rejects_bad_owner_length),
        cmocka_unit_test(test_parse_rejects),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
