/*
 * test_hex.c - proves hex encodes lower case, decodes either case, and rejects odd lengths,
 * non-hex characters and output overruns (out_cap at MAX and MAX+1).
 */
#include "helpers/testutil.h"

#include <string.h>

#include "codec/codec.h"

static void test_encode_lower_case(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x00, 0x0a, 0xab, 0xff};
    char out[9];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(in, sizeof(in)), out, sizeof(out)), 0);
    assert_string_equal(out, "000aabff");
}

static void test_encode_empty(void **state)
{
    (void)state;
    char out[1] = {'x'};
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(NULL, 0), out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

static void test_encode_needs_room_for_nul(void **state)
{
    (void)state;
    static const uint8_t in[] = {1, 2};
    char out[5];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(in, sizeof(in)), out, 5), 0);
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(in, sizeof(in)), out, 4), KUMO_EINVAL);
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(in, sizeof(in)), out, 0), KUMO_EINVAL);
}

static void test_decode_either_case(void **state)
{
    (void)state;
    uint8_t out[4];
    size_t len = 0;
    assert_int_equal(kumo_codec_hex_decode("0aAbFf", out, sizeof(out), &len, NULL), 0);
    assert_int_equal(len, 3);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xab);
    assert_int_equal(out[2], 0xff);
    assert_int_equal(kumo_codec_hex_decode("", out, sizeof(out), &len, NULL), 0);
    assert_int_equal(len, 0);
    assert_int_equal(kumo_codec_hex_decode("", NULL, 0, &len, NULL), 0);
}

static void test_decode_out_cap_max_and_max_plus_one(void **state)
{
    (void)state;
    uint8_t out[2];
    size_t len = 0;
    assert_int_equal(kumo_codec_hex_decode("0102", out, 2, &len, NULL), 0);
    assert_int_equal(len, 2);
    assert_int_equal(kumo_codec_hex_decode("010203", out, 2, &len, NULL), KUMO_ELIMIT);
    assert_int_equal(kumo_codec_hex_decode("01", NULL, 0, &len, NULL), KUMO_ELIMIT);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        int want;
    } cases[] = {
        {"odd length", "abc", KUMO_EDECODE},    {"single digit", "a", KUMO_EDECODE},
        {"non-hex letter", "0g", KUMO_EDECODE}, {"non-hex first", "g0", KUMO_EDECODE},
        {"space", "0 ", KUMO_EDECODE},          {"prefix 0x", "0x00", KUMO_EDECODE},
        {"sign", "+1", KUMO_EDECODE},           {"high byte", "\xc3\xa9", KUMO_EDECODE},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        uint8_t out[8];
        size_t len = 0;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_hex_decode(cases[i].text, out, sizeof(out), &len, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

static void test_round_trip_all_bytes(void **state)
{
    (void)state;
    uint8_t in[256];
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)i;
    }
    char text[513];
    assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(in, sizeof(in)), text, sizeof(text)), 0);
    uint8_t back[256];
    size_t len = 0;
    assert_int_equal(kumo_codec_hex_decode(text, back, sizeof(back), &len, NULL), 0);
    assert_int_equal(len, sizeof(in));
    assert_memory_equal(back, in, sizeof(in));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_lower_case),
        cmocka_unit_test(test_encode_empty),
        cmocka_unit_test(test_encode_needs_room_for_nul),
        cmocka_unit_test(test_decode_either_case),
        cmocka_unit_test(test_decode_out_cap_max_and_max_plus_one),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_round_trip_all_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
