/*
 * test_bech32.c - proves the bech32 codec against the BIP-173 test vectors (valid strings decode
 * and re-encode to their lower-case form; every invalid class is rejected), the 5/8-bit padding
 * rules, the 90-character limit at MAX and MAX+1, and kumo address encode/decode. Vectors with
 * a bad padding are built with an independent checksum implementation in this file.
 */
#include "helpers/testutil.h"

#include <ctype.h>
#include <string.h>

#include "codec/codec.h"

#define TEXT_CAP 128

static void lower_copy(const char *in, char *out)
{
    size_t i = 0;
    for (; in[i] != '\0'; i++) {
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    out[i] = '\0';
}

static void test_bip173_valid_vectors_decode_and_reencode(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5"
        "tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
        "c8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(valid); i++) {
        char hrp[TEXT_CAP];
        uint8_t data[TEXT_CAP];
        size_t data_len = 0;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_bech32_decode(valid[i], hrp, sizeof(hrp), data, sizeof(data), &data_len,
                                          &err);
        if (rc != 0) {
            fail_msg("%s: got %s (%s)", valid[i], kumo_err_name(rc), err.detail);
        }
        char text[TEXT_CAP];
        assert_int_equal(kumo_codec_bech32_encode(hrp, kumo_bytes_make(data, data_len), text,
                                                  sizeof(text), &err),
                         0);
        char want[TEXT_CAP];
        lower_copy(valid[i], want);
        assert_string_equal(text, want);
    }
}

static void test_bip173_invalid_vectors_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
    } cases[] = {
        {"hrp char 0x20", "\x20"
                          "1nwldj5"},
        {"hrp char 0x7f", "\x7f"
                          "1axkwrx"},
        {"hrp char 0x80", "\x80"
                          "1eym55h"},
        {"overall max length exceeded",
         "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1"
         "569pvx"},
        {"no separator", "pzry9x0s0muk"},
        {"empty hrp", "1pzry9x0s0muk"},
        {"invalid data character", "x1b4n0q5v"},
        {"too short checksum", "li1dgmt3"},
        {"invalid character in checksum", "de1lg7wt\xff"},
        {"checksum over upper-case hrp", "A1G7SGD8"},
        {"empty hrp 2", "10a06t8"},
        {"empty hrp 3", "1qzzfhee"},
        {"mixed case", "a12UEL5L"},
        {"bad checksum", "a12uel5m"},
        {"empty string", ""},
        {"only separator", "1"},
        {"space inside", "a1 2uel5l"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char hrp[TEXT_CAP];
        uint8_t data[TEXT_CAP];
        size_t data_len = 0;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_bech32_decode(cases[i].text, hrp, sizeof(hrp), data, sizeof(data),
                                          &data_len, &err);
        if (rc != KUMO_EDECODE) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

/* An independent BIP-173 checksum, to build strings whose only flaw is elsewhere. */
static uint32_t ref_polymod(const uint8_t *v, size_t n)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t b = chk >> 25;
        chk = ((chk & 0x1ffffffu) << 5) ^ v[i];
        for (unsigned k = 0; k < 5; k++) {
            chk ^= ((b >> k) & 1u) != 0 ? gen[k] : 0;
        }
    }
    return chk;
}

static void ref_build(const char *hrp, const uint8_t *data5, size_t n5, char *out)
{
    static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    uint8_t v[256];
    size_t hl = strlen(hrp);
    size_t n = 0;
    for (size_t i = 0; i < hl; i++) {
        v[n++] = (uint8_t)((uint8_t)hrp[i] >> 5);
    }
    v[n++] = 0;
    for (size_t i = 0; i < hl; i++) {
        v[n++] = (uint8_t)((uint8_t)hrp[i] & 31u);
    }
    for (size_t i = 0; i < n5; i++) {
        v[n++] = data5[i];
    }
    for (size_t i = 0; i < 6; i++) {
        v[n++] = 0;
    }
    uint32_t mod = ref_polymod(v, n) ^ 1u;
    size_t pos = 0;
    memcpy(out, hrp, hl);
    pos = hl;
    out[pos++] = '1';
    for (size_t i = 0; i < n5; i++) {
        out[pos++] = charset[data5[i]];
    }
    for (size_t i = 0; i < 6; i++) {
        out[pos++] = charset[(mod >> (5 * (5 - i))) & 31u];
    }
    out[pos] = '\0';
}

static void test_padding_rules(void **state)
{
    (void)state;
    char text[TEXT_CAP];
    char hrp[TEXT_CAP];
    uint8_t data[TEXT_CAP];
    size_t data_len = 0;
    /* 0xff as groups 31, 28: valid, 2 zero padding bits. */
    static const uint8_t ok[] = {31, 28};
    ref_build("kumo", ok, sizeof(ok), text);
    assert_int_equal(
        kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, NULL), 0);
    assert_int_equal(data_len, 1);
    assert_int_equal(data[0], 0xff);
    /* Non-zero padding bits. */
    static const uint8_t nonzero[] = {31, 29};
    ref_build("kumo", nonzero, sizeof(nonzero), text);
    assert_int_equal(
        kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, NULL),
        KUMO_EDECODE);
    /* 5 or more bits of padding: a whole extra group. */
    static const uint8_t extra[] = {31, 28, 0};
    ref_build("kumo", extra, sizeof(extra), text);
    assert_int_equal(
        kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, NULL),
        KUMO_EDECODE);
}

static void test_length_limit_max_and_max_plus_one(void **state)
{
    (void)state;
    uint8_t zeros[64] = {0};
    char text[TEXT_CAP];
    /* hrp "a": 1 + 1 + 6 = 8 fixed chars, so 82 groups = 51 bytes (+2 pad bits) is 90 chars. */
    assert_int_equal(
        kumo_codec_bech32_encode("a", kumo_bytes_make(zeros, 51), text, sizeof(text), NULL), 0);
    assert_int_equal(strlen(text), 90);
    char hrp[TEXT_CAP];
    uint8_t data[TEXT_CAP];
    size_t data_len = 0;
    assert_int_equal(
        kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, NULL), 0);
    assert_int_equal(data_len, 51);
    /* 52 bytes need 84 groups: 92 characters. */
    assert_int_equal(
        kumo_codec_bech32_encode("a", kumo_bytes_make(zeros, 52), text, sizeof(text), NULL),
        KUMO_ELIMIT);
    /* hrp "ab" with 51 bytes is 91 characters. */
    assert_int_equal(
        kumo_codec_bech32_encode("ab", kumo_bytes_make(zeros, 51), text, sizeof(text), NULL),
        KUMO_ELIMIT);
    /* A 91-character text that is otherwise valid. */
    static uint8_t groups[83];
    ref_build("a", groups, sizeof(groups), text);
    assert_int_equal(strlen(text), 91);
    assert_int_equal(
        kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, NULL),
        KUMO_EDECODE);
}

static void test_encode_rejects_bad_hrp_and_small_output(void **state)
{
    (void)state;
    char text[TEXT_CAP];
    uint8_t one = 1;
    kumo_bytes_t data = kumo_bytes_make(&one, 1);
    assert_int_equal(kumo_codec_bech32_encode("", data, text, sizeof(text), NULL), KUMO_EINVAL);
    assert_int_equal(kumo_codec_bech32_encode("Kumo", data, text, sizeof(text), NULL), KUMO_EINVAL);
    assert_int_equal(kumo_codec_bech32_encode("a b", data, text, sizeof(text), NULL), KUMO_EINVAL);
    /* "a" + "1" + 2 + 6 = 10 chars: needs 11 bytes. */
    assert_int_equal(kumo_codec_bech32_encode("a", data, text, 11, NULL), 0);
    assert_int_equal(kumo_codec_bech32_encode("a", data, text, 10, NULL), KUMO_EINVAL);
}

static void test_decode_rejects_small_buffers(void **state)
{
    (void)state;
    char hrp[TEXT_CAP];
    uint8_t data[TEXT_CAP];
    size_t data_len = 0;
    const char *text = "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw";
    assert_int_equal(kumo_codec_bech32_decode(text, hrp, 7, data, 20, &data_len, NULL), 0);
    assert_int_equal(kumo_codec_bech32_decode(text, hrp, 6, data, 20, &data_len, NULL),
                     KUMO_ELIMIT);
    assert_int_equal(kumo_codec_bech32_decode(text, hrp, 7, data, 19, &data_len, NULL),
                     KUMO_ELIMIT);
}

static void test_address_round_trip(void **state)
{
    (void)state;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    for (size_t i = 0; i < sizeof(addr); i++) {
        addr[i] = (uint8_t)(i * 13 + 7);
    }
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, text);
    assert_int_equal(strlen(text), 43);
    assert_memory_equal(text, "kumo1", 5);
    uint8_t back[KUMO_ADDRESS_BYTES];
    assert_int_equal(kumo_codec_address_decode(text, back, NULL), 0);
    assert_memory_equal(back, addr, sizeof(addr));
    /* Upper case is the same address. */
    char upper[KUMO_ADDRESS_TEXT_BYTES];
    for (size_t i = 0; i <= strlen(text); i++) {
        upper[i] = (char)toupper((unsigned char)text[i]);
    }
    memset(back, 0, sizeof(back));
    assert_int_equal(kumo_codec_address_decode(upper, back, NULL), 0);
    assert_memory_equal(back, addr, sizeof(addr));
}

static void test_address_decode_rejects(void **state)
{
    (void)state;
    uint8_t addr[KUMO_ADDRESS_BYTES] = {0};
    char other_hrp[TEXT_CAP];
    assert_int_equal(kumo_codec_bech32_encode("cosmos", kumo_bytes_make(addr, 20), other_hrp,
                                              sizeof(other_hrp), NULL),
                     0);
    char short_addr[TEXT_CAP];
    assert_int_equal(kumo_codec_bech32_encode("kumo", kumo_bytes_make(addr, 19), short_addr,
                                              sizeof(short_addr), NULL),
                     0);
    char long_addr[TEXT_CAP];
    uint8_t addr21[KUMO_ADDRESS_BYTES + 1] = {0};
    assert_int_equal(kumo_codec_bech32_encode("kumo", kumo_bytes_make(addr21, 21), long_addr,
                                              sizeof(long_addr), NULL),
                     0);
    char good[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, good);
    char bad_sum[KUMO_ADDRESS_TEXT_BYTES];
    memcpy(bad_sum, good, sizeof(good));
    bad_sum[42] = bad_sum[42] == 'q' ? 'p' : 'q';
    const char *cases[] = {other_hrp, short_addr, long_addr, bad_sum, "", "kumo1", "hello"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_address_decode(cases[i], addr, &err);
        if (rc != KUMO_EINVAL) {
            fail_msg("case %zu (%s): got %s (%s)", i, cases[i], kumo_err_name(rc), err.detail);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip173_valid_vectors_decode_and_reencode),
        cmocka_unit_test(test_bip173_invalid_vectors_rejected),
        cmocka_unit_test(test_padding_rules),
        cmocka_unit_test(test_length_limit_max_and_max_plus_one),
        cmocka_unit_test(test_encode_rejects_bad_hrp_and_small_output),
        cmocka_unit_test(test_decode_rejects_small_buffers),
        cmocka_unit_test(test_address_round_trip),
        cmocka_unit_test(test_address_decode_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
