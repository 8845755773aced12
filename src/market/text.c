/*
 * text.c - the one check every string of a msg or genesis goes through before it can reach
 * the state: present (unless optional), within its byte limit, and UTF-8 (the codec only
 * stores UTF-8 strings, so anything we keep must decode again). Pure.
 */
#include <string.h>

#include "market/market_int.h"

size_t kumo_market_str_len(const char *s, size_t cap)
{
    return s == NULL ? 0 : strnlen(s, cap);
}

/* Length of the UTF-8 sequence led by lead (0 when lead cannot start one), its payload bits
 * and the smallest code point that needs that many bytes. */
static size_t utf8_seq(uint8_t lead, uint32_t *cp, uint32_t *cp_min)
{
    if ((lead & 0xe0u) == 0xc0u) {
        *cp = lead & 0x1fu;
        *cp_min = 0x80;
        return 2;
    }
    if ((lead & 0xf0u) == 0xe0u) {
        *cp = lead & 0x0fu;
        *cp_min = 0x800;
        return 3;
    }
    if ((lead & 0xf8u) == 0xf0u) {
        *cp = lead & 0x07u;
        *cp_min = 0x10000;
        return 4;
    }
    return 0;
}

bool kumo_market_utf8_is_valid(const char *text, size_t len)
{
    const uint8_t *t = (const uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        if (t[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp = 0;
        uint32_t cp_min = 0;
        size_t n = utf8_seq(t[i], &cp, &cp_min);
        if (n == 0 || n > len - i) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((t[i + k] & 0xc0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (t[i + k] & 0x3fu);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
        if (cp < cp_min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return false;
        }
        i += n;
    }
    return true;
}

int kumo_market_text_check(
    const char *s, size_t max, bool optional, const char *what, kumo_err_ctx_t *err)
{
    size_t len = kumo_market_str_len(s, max + 1);
    KUMO_ENSURE(len > 0 || optional, err, KUMO_EEMPTY, "%s is empty", what);
    KUMO_ENSURE(len <= max, err, KUMO_ELIMIT, "%s exceeds %zu bytes", what, max);
    KUMO_ENSURE(kumo_market_utf8_is_valid(s, len), err, KUMO_EINVAL, "%s is not UTF-8", what);
    return 0;
}
