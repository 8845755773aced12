/*
 * bech32.c - bech32 text (BIP-173, checksum constant 1, not bech32m) and kumo addresses
 * ("kumo1" + 20 bytes). Written by hand from the BIP so the rules we enforce are visible here:
 * at most 90 characters, one case throughout, hrp of 1..83 printable US-ASCII characters, a
 * 6-character checksum, and 5-to-8-bit regrouping whose padding is under 5 bits and all zero.
 * Spec: https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki
 * Pure: no I/O, no allocation.
 */
#include <string.h>

#include "codec/codec.h"

/* BIP-173: "The total length of a Bech32 string MUST be at most 90 characters". */
#define BECH32_TEXT_CHARS_MAX 90u
#define BECH32_HRP_CHARS_MAX  83u
#define BECH32_CHECKSUM_CHARS 6u
/* Most 5-bit data groups a 90-char string can hold: 90 - 1 (hrp) - 1 ('1') - 6. */
#define BECH32_DATA5_COUNT_MAX (BECH32_TEXT_CHARS_MAX - 2u - BECH32_CHECKSUM_CHARS)

static const char bech32_charset[32] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* Maps an ASCII character to its 5-bit value, or -1. Both cases map, since decoding accepts an
 * all-upper-case string. */
static int bech32_char_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        c = (char)(c - 'A' + 'a');
    }
    const char *p = c == '\0' ? NULL : memchr(bech32_charset, c, sizeof(bech32_charset));
    return p == NULL ? -1 : (int)(p - bech32_charset);
}

static uint32_t bech32_polymod_step(uint32_t chk, uint8_t value)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffffu) << 5) ^ value;
    for (unsigned i = 0; i < 5; i++) {
        if (((top >> i) & 1u) != 0) {
            chk ^= gen[i];
        }
    }
    return chk;
}

/* The checksum state after the expanded hrp (high bits, 0, low bits), as in the BIP. The hrp is
 * lower case here. */
static uint32_t bech32_hrp_polymod(const char *hrp, size_t hrp_len)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < hrp_len; i++) {
        chk = bech32_polymod_step(chk, (uint8_t)((uint8_t)hrp[i] >> 5));
    }
    chk = bech32_polymod_step(chk, 0);
    for (size_t i = 0; i < hrp_len; i++) {
        chk = bech32_polymod_step(chk, (uint8_t)((uint8_t)hrp[i] & 0x1fu));
    }
    return chk;
}

/* True when every hrp char is printable US-ASCII (33..126) and none is upper case. */
static bool bech32_hrp_is_valid_lower(const char *hrp, size_t hrp_len)
{
    if (hrp_len == 0 || hrp_len > BECH32_HRP_CHARS_MAX) {
        return false;
    }
    for (size_t i = 0; i < hrp_len; i++) {
        char c = hrp[i];
        if (c < 33 || c > 126 || (c >= 'A' && c <= 'Z')) {
            return false;
        }
    }
    return true;
}

/* Regroups 8-bit bytes into 5-bit groups, zero-padding the last one. */
static size_t bech32_bytes_to_5bit(kumo_bytes_t data, uint8_t *out, size_t out_cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < data.len; i++) {
        acc = ((acc << 8) | data.ptr[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            KUMO_ASSERT(n < out_cap);
            out[n++] = (uint8_t)((acc >> bits) & 0x1fu);
        }
    }
    if (bits > 0) {
        KUMO_ASSERT(n < out_cap);
        out[n++] = (uint8_t)((acc << (5 - bits)) & 0x1fu);
    }
    return n;
}

int kumo_codec_bech32_encode(
    const char *hrp, kumo_bytes_t data, char *out, size_t out_cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(hrp != NULL && out != NULL);
    KUMO_ASSERT(data.ptr != NULL || data.len == 0);
    size_t hrp_len = strnlen(hrp, BECH32_HRP_CHARS_MAX + 1);
    KUMO_ENSURE(bech32_hrp_is_valid_lower(hrp, hrp_len), err, KUMO_EINVAL,
                "bech32: hrp must be 1..83 lower-case printable characters");
    KUMO_ENSURE(data.len <= BECH32_DATA5_COUNT_MAX * 5 / 8, err, KUMO_ELIMIT,
                "bech32: %zu data bytes exceed the 90-character limit", data.len);
    size_t data5_count = (data.len * 8 + 4) / 5;
    size_t text_len = hrp_len + 1 + data5_count + BECH32_CHECKSUM_CHARS;
    KUMO_ENSURE(text_len <= BECH32_TEXT_CHARS_MAX, err, KUMO_ELIMIT,
                "bech32: %zu characters exceed the 90-character limit", text_len);
    KUMO_ENSURE(out_cap > text_len, err, KUMO_EINVAL, "bech32: output needs %zu bytes, has %zu",
                text_len + 1, out_cap);

    uint8_t data5[BECH32_DATA5_COUNT_MAX];
    size_t n5 = bech32_bytes_to_5bit(data, data5, sizeof(data5));
    KUMO_ASSERT(n5 == data5_count);
    uint32_t chk = bech32_hrp_polymod(hrp, hrp_len);
    memcpy(out, hrp, hrp_len);
    size_t pos = hrp_len;
    out[pos++] = '1';
    for (size_t i = 0; i < n5; i++) {
        chk = bech32_polymod_step(chk, data5[i]);
        out[pos++] = bech32_charset[data5[i]];
    }
    for (unsigned i = 0; i < BECH32_CHECKSUM_CHARS; i++) {
        chk = bech32_polymod_step(chk, 0);
    }
    chk ^= 1u; /* BIP-173's constant; bech32m would use 0x2bc830a3. */
    for (unsigned i = 0; i < BECH32_CHECKSUM_CHARS; i++) {
        out[pos++] = bech32_charset[(chk >> (5 * (5 - i))) & 0x1fu];
    }
    out[pos] = '\0';
    KUMO_ASSERT(pos == text_len);
    return 0;
}

/* Checks the characters of the whole string: printable US-ASCII, one case. Returns the index of
 * the last '1' (the separator) through sep_out. */
static int bech32_text_scan(const char *text, size_t len, size_t *sep_out, kumo_err_ctx_t *err)
{
    bool has_lower = false;
    bool has_upper = false;
    bool has_sep = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        KUMO_ENSURE(c >= 33 && c <= 126, err, KUMO_EDECODE,
                    "bech32: character %zu is outside printable US-ASCII", i);
        has_lower = has_lower || (c >= 'a' && c <= 'z');
        has_upper = has_upper || (c >= 'A' && c <= 'Z');
        if (c == '1') {
            *sep_out = i;
            has_sep = true;
        }
    }
    KUMO_ENSURE(!(has_lower && has_upper), err, KUMO_EDECODE, "bech32: mixed case");
    KUMO_ENSURE(has_sep, err, KUMO_EDECODE, "bech32: no separator '1'");
    return 0;
}

/* Regroups 5-bit groups into bytes; BIP-173 requires padding under 5 bits and all zero. */
static int bech32_5bit_to_bytes(const uint8_t *data5,
                                size_t n5,
                                uint8_t *out,
                                size_t out_cap,
                                size_t *len_out,
                                kumo_err_ctx_t *err)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < n5; i++) {
        acc = ((acc << 5) | data5[i]) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            KUMO_ENSURE(n < out_cap, err, KUMO_ELIMIT, "bech32: data exceeds %zu bytes", out_cap);
            out[n++] = (uint8_t)((acc >> bits) & 0xffu);
        }
    }
    KUMO_ENSURE(bits < 5, err, KUMO_EDECODE, "bech32: %u bits of padding", bits);
    KUMO_ENSURE(((acc << (8 - bits)) & 0xffu) == 0, err, KUMO_EDECODE,
                "bech32: non-zero padding bits");
    *len_out = n;
    return 0;
}

int kumo_codec_bech32_decode(const char *text,
                             char *hrp_out,
                             size_t hrp_cap,
                             uint8_t *data_out,
                             size_t data_cap,
                             size_t *data_len_out,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && hrp_out != NULL && data_len_out != NULL);
    KUMO_ASSERT(data_out != NULL || data_cap == 0);
    size_t len = strnlen(text, BECH32_TEXT_CHARS_MAX + 1);
    KUMO_ENSURE(len <= BECH32_TEXT_CHARS_MAX, err, KUMO_EDECODE,
                "bech32: longer than 90 characters");
    size_t sep = 0;
    KUMO_GUARD(bech32_text_scan(text, len, &sep, err));
    KUMO_ENSURE(sep >= 1, err, KUMO_EDECODE, "bech32: empty hrp");
    KUMO_ENSURE(len - sep - 1 >= BECH32_CHECKSUM_CHARS, err, KUMO_EDECODE,
                "bech32: data part shorter than the checksum");
    KUMO_ENSURE(hrp_cap > sep, err, KUMO_ELIMIT, "bech32: hrp of %zu chars exceeds the buffer",
                sep);

    char hrp[BECH32_HRP_CHARS_MAX + 1];
    KUMO_ASSERT(sep <= BECH32_HRP_CHARS_MAX);
    for (size_t i = 0; i < sep; i++) {
        char c = text[i];
        hrp[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    hrp[sep] = '\0';

    uint8_t data5[BECH32_DATA5_COUNT_MAX + BECH32_CHECKSUM_CHARS];
    size_t n5 = len - sep - 1;
    KUMO_ASSERT(n5 <= sizeof(data5));
    uint32_t chk = bech32_hrp_polymod(hrp, sep);
    for (size_t i = 0; i < n5; i++) {
        int v = bech32_char_value(text[sep + 1 + i]);
        KUMO_ENSURE(v >= 0, err, KUMO_EDECODE, "bech32: invalid data character '%c'",
                    text[sep + 1 + i]);
        data5[i] = (uint8_t)v;
        chk = bech32_polymod_step(chk, data5[i]);
    }
    KUMO_ENSURE(chk == 1u, err, KUMO_EDECODE, "bech32: bad checksum");
    size_t data_len = 0;
    KUMO_GUARD(bech32_5bit_to_bytes(data5, n5 - BECH32_CHECKSUM_CHARS, data_out, data_cap,
                                    &data_len, err));
    memcpy(hrp_out, hrp, sep + 1);
    *data_len_out = data_len;
    return 0;
}

void kumo_codec_address_encode(const uint8_t addr[KUMO_ADDRESS_BYTES],
                               char out[KUMO_ADDRESS_TEXT_BYTES])
{
    KUMO_ASSERT(addr != NULL && out != NULL);
    int rc = kumo_codec_bech32_encode(KUMO_ADDRESS_HRP, kumo_bytes_make(addr, KUMO_ADDRESS_BYTES),
                                      out, KUMO_ADDRESS_TEXT_BYTES, NULL);
    /* A fixed hrp and length always fit: 4 + 1 + 32 + 6 = 43 characters. */
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(strlen(out) == 43);
}

int kumo_codec_address_decode(const char *text,
                              uint8_t addr_out[KUMO_ADDRESS_BYTES],
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && addr_out != NULL);
    char hrp[BECH32_HRP_CHARS_MAX + 1];
    uint8_t data[BECH32_DATA5_COUNT_MAX];
    size_t data_len = 0;
    int rc = kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &data_len, err);
    if (rc < 0) {
        /* Keep the bech32 detail (copied: it is also the destination), but report one code
         * for any unusable address text. */
        char detail[KUMO_ERR_DETAIL_BYTES] = "not valid bech32";
        if (err != NULL) {
            memcpy(detail, err->detail, sizeof(detail));
            detail[sizeof(detail) - 1] = '\0';
        }
        return kumo_err_set(err, KUMO_EINVAL, "address: %s", detail);
    }
    KUMO_ENSURE(strcmp(hrp, KUMO_ADDRESS_HRP) == 0, err, KUMO_EINVAL,
                "address: prefix \"%s\" is not \"" KUMO_ADDRESS_HRP "\"", hrp);
    KUMO_ENSURE(data_len == KUMO_ADDRESS_BYTES, err, KUMO_EINVAL, "address: %zu bytes, want %u",
                data_len, KUMO_ADDRESS_BYTES);
    memcpy(addr_out, data, KUMO_ADDRESS_BYTES);
    return 0;
}
