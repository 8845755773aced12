/*
 * hex.c - base16 text: lower-case on output, either case on input, always an even number of
 * digits. Pure: no I/O, no allocation.
 */
#include <string.h>

#include "codec/codec.h"

static const char hex_digits[16] = "0123456789abcdef";

int kumo_codec_hex_encode(kumo_bytes_t in, char *out, size_t out_cap)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(in.ptr != NULL || in.len == 0);
    if (in.len > (SIZE_MAX - 1) / 2 || out_cap < in.len * 2 + 1) {
        return KUMO_EINVAL;
    }
    for (size_t i = 0; i < in.len; i++) {
        out[2 * i] = hex_digits[in.ptr[i] >> 4];
        out[2 * i + 1] = hex_digits[in.ptr[i] & 0x0fu];
    }
    out[2 * in.len] = '\0';
    return 0;
}

/* The value of one hex digit, or -1. */
static int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int kumo_codec_hex_decode(
    const char *text, uint8_t *out, size_t out_cap, size_t *out_len, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && out_len != NULL);
    KUMO_ASSERT(out != NULL || out_cap == 0);
    /* Scan no further than one digit pair past what fits, so a huge input costs O(out_cap). */
    size_t scan_max = out_cap > (SIZE_MAX - 3) / 2 ? SIZE_MAX - 1 : out_cap * 2 + 2;
    size_t len = strnlen(text, scan_max);
    KUMO_ENSURE(len % 2 == 0, err, KUMO_EDECODE, "hex: odd number of digits");
    KUMO_ENSURE(len / 2 <= out_cap, err, KUMO_ELIMIT, "hex: more than %zu bytes", out_cap);
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit_value(text[i]);
        int lo = hex_digit_value(text[i + 1]);
        KUMO_ENSURE(hi >= 0 && lo >= 0, err, KUMO_EDECODE, "hex: invalid digit at %zu",
                    hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)((hi << 4) | lo);
    }
    *out_len = len / 2;
    KUMO_ASSERT(*out_len <= out_cap);
    return 0;
}
