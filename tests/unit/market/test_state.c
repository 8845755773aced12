/*
 * test_state.c - proves the low-level pieces the market builds on: keys sort numerically
 * (big-endian fields) and have the documented lengths; reading varints from an encoding
 * matches decoding it; patching varint fields of an encoding gives exactly the bytes the
 * codec packs for the changed object (so patched state stays canonical), including removing
 * zero fields; malformed encodings are KUMO_ECORRUPT.
 */
#include "unit/market/market_fixture.h"

static void test_keys_sort_numerically_and_have_their_lengths(void **state)
{
    (void)state;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    fx_addr(owner, 1);
    kumo_market_key_t a;
    kumo_market_key_t b;
    kumo_market_key_deployment(&a, owner, 255);
    kumo_market_key_deployment(&b, owner, 256);
    assert_true(kumo_bytes_compare(kumo_market_key_bytes(&a), kumo_market_key_bytes(&b)) < 0);
    assert_int_equal(a.len, 1 + KUMO_MARKET_DEP_BODY_BYTES);
    kumo_market_oid_t o1 = fx_oid(owner, 1, 0, 9);
    kumo_market_oid_t o2 = fx_oid(owner, 1, 1, 1);
    kumo_market_key_order(&a, &o1);
    kumo_market_key_order(&b, &o2);
    assert_true(kumo_bytes_compare(kumo_market_key_bytes(&a), kumo_market_key_bytes(&b)) < 0);
    assert_int_equal(a.len, 1 + KUMO_MARKET_ORDER_BODY_BYTES);
    kumo_market_key_match(&a, 0x0100, &o2);
    kumo_market_key_match(&b, 0x00ff00, &o1);
    assert_true(kumo_bytes_compare(kumo_market_key_bytes(&a), kumo_market_key_bytes(&b)) < 0);
    kumo_market_key_stale(&a, 1, &o1, owner);
    assert_int_equal(a.len, KUMO_MARKET_KEY_BYTES);
    kumo_market_key_t obj;
    kumo_market_key_lease(&obj, &o1, owner);
    assert_int_equal(obj.len, 1 + KUMO_MARKET_LEASE_BODY_BYTES);
    kumo_market_key_state(&a, 1, &obj);
    assert_int_equal(a.len, 2 + obj.len);
    /* The state index of one deployment's leases is a prefix of each lease's entry. */
    kumo_market_key_state_dep_prefix(&b, 1, KUMO_MARKET_PREFIX_LEASE, owner, 1);
    assert_true(kumo_bytes_has_prefix(kumo_market_key_bytes(&a), kumo_market_key_bytes(&b)));
    kumo_market_oid_t back;
    kumo_market_oid_from_body(obj.bytes + 1, &back);
    assert_true(kumo_market_oid_equal(&back, &o1));
}

static void pack(const ProtobufCMessage *m, kumo_buf_t *out)
{
    kumo_buf_init(out, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(m, out, NULL), 0);
}

static void test_wire_set_matches_codec(void **state)
{
    (void)state;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    fx_addr(addr, 9);
    Kumo__Attribute at = KUMO__ATTRIBUTE__INIT;
    at.key = "k";
    at.value = "v";
    Kumo__Attribute *atp = &at;
    Kumo__Provider p = KUMO__PROVIDER__INIT;
    p.owner.data = addr;
    p.owner.len = KUMO_ADDRESS_BYTES;
    p.host_uri = "https://h";
    p.region = "r";
    p.n_attributes = 1;
    p.attributes = &atp;
    p.root_cert_pem = FX_PEM;
    p.created_height = 77;
    static const uint64_t values[][2] = {{0, 0}, {1, 0}, {0, 1}, {300, 70000}, {UINT32_MAX, 5}};
    static const uint32_t fields[2] = {7, 8};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(values); i++) {
        for (size_t j = 0; j < KUMO_ARRAY_COUNT(values); j++) {
            p.open_bid_count = (uint32_t)values[i][0];
            p.live_lease_count = (uint32_t)values[i][1];
            kumo_buf_t in;
            pack(&p.base, &in);
            assert_true(kumo_codec_wire_starts_with_addr(kumo_buf_bytes(&in), addr));
            p.open_bid_count = (uint32_t)values[j][0];
            p.live_lease_count = (uint32_t)values[j][1];
            kumo_buf_t want;
            pack(&p.base, &want);
            kumo_buf_t got;
            kumo_buf_init(&got, KUMO_STATE_OBJECT_BYTES_MAX);
            assert_int_equal(
                kumo_codec_wire_set(kumo_buf_bytes(&in), fields, values[j], 2, &got, NULL), 0);
            assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&want)));
            uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
            uint32_t present = 0;
            assert_int_equal(kumo_codec_wire_read(kumo_buf_bytes(&got), f, &present, NULL), 0);
            assert_int_equal(f[7], values[j][0]);
            assert_int_equal(f[8], values[j][1]);
            assert_int_equal(f[6], 77);
            assert_true((present & (1u << 5)) != 0);
            kumo_buf_free(&in);
            kumo_buf_free(&want);
            kumo_buf_free(&got);
        }
    }
    /* An account: balance (field 2) sits between the address and the sequence/pubkey. */
    uint8_t pk[32] = {3};
    Kumo__Account a = KUMO__ACCOUNT__INIT;
    a.address.data = addr;
    a.address.len = KUMO_ADDRESS_BYTES;
    a.balance = 5;
    a.sequence = 2;
    a.pubkey.data = pk;
    a.pubkey.len = sizeof(pk);
    kumo_buf_t in;
    pack(&a.base, &in);
    static const uint64_t balances[] = {0, 1, 127, 128, UINT64_MAX};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(balances); i++) {
        a.balance = balances[i];
        kumo_buf_t want;
        pack(&a.base, &want);
        kumo_buf_t got;
        kumo_buf_init(&got, KUMO_STATE_OBJECT_BYTES_MAX);
        const uint32_t field = 2;
        assert_int_equal(
            kumo_codec_wire_set(kumo_buf_bytes(&in), &field, &balances[i], 1, &got, NULL), 0);
        assert_true(kumo_bytes_equal(kumo_buf_bytes(&got), kumo_buf_bytes(&want)));
        kumo_buf_free(&want);
        kumo_buf_free(&got);
    }
    kumo_buf_free(&in);
}

static void test_wire_rejects_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t bytes[8];
        size_t len;
    } cases[] = {
        {"truncated varint", {0x10, 0x80}, 2},
        {"truncated length", {0x0a, 0x05, 1, 2}, 4},
        {"wire type 3", {0x0b}, 1},
        {"field number 0", {0x00, 0x01}, 2},
        {"unterminated varint", {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
        kumo_bytes_t b = kumo_bytes_make(cases[i].bytes, cases[i].len);
        if (kumo_codec_wire_varints(b, f, NULL) != KUMO_ECORRUPT) {
            fail_msg("%s: accepted", cases[i].name);
        }
        kumo_buf_t out;
        kumo_buf_init(&out, 64);
        const uint32_t field = 2;
        const uint64_t v = 1;
        assert_int_equal(kumo_codec_wire_set(b, &field, &v, 1, &out, NULL), KUMO_ECORRUPT);
        kumo_buf_free(&out);
    }
    /* Setting a field that is stored as bytes is corruption, not a silent overwrite. */
    uint8_t lenfield[] = {0x12, 0x01, 0x00};
    kumo_buf_t out;
    kumo_buf_init(&out, 64);
    const uint32_t field = 2;
    const uint64_t v = 1;
    assert_int_equal(
        kumo_codec_wire_set(kumo_bytes_make(lenfield, sizeof(lenfield)), &field, &v, 1, &out, NULL),
        KUMO_ECORRUPT);
    kumo_buf_free(&out);
    uint8_t addr[KUMO_ADDRESS_BYTES];
    fx_addr(addr, 9);
    assert_false(kumo_codec_wire_starts_with_addr(kumo_bytes_make(lenfield, 3), addr));
}

static void test_utf8_validation(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool valid;
    } cases[] = {
        {"plain", true},
        {"\xc3\xbc", true},
        {"\xe2\x82\xac", true},
        {"\xf0\x9f\x98\x80", true},
        {"\xf4\x8f\xbf\xbf", true},
        {"\xc0\xaf", false},
        {"\xe0\x80\xaf", false},
        {"\xed\xa0\x80", false},
        {"\xf4\x90\x80\x80", false},
        {"\xc3", false},
        {"\x80", false},
        {"\xff", false},
        {"\xc3\x28", false},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        bool got = kumo_market_utf8_is_valid(cases[i].text, strlen(cases[i].text));
        if (got != cases[i].valid) {
            fail_msg("case %zu: got %d", i, got);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_sort_numerically_and_have_their_lengths),
        cmocka_unit_test(test_wire_set_matches_codec),
        cmocka_unit_test(test_wire_rejects_malformed),
        cmocka_unit_test(test_utf8_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
