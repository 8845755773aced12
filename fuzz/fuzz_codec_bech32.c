/*
 * fuzz_codec_bech32.c - libFuzzer target for kumo_codec_bech32_decode and
 * kumo_codec_address_decode. The input is the text. Accepted text must re-encode to the same
 * text in lower case (one string per value, up to case). Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"

/* Longer text is rejected by the 90-character rule; a little more exercises that check. */
#define FUZZ_TEXT_BYTES_MAX 128u

static void fuzz_lower(const char *in, char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_TEXT_BYTES_MAX) {
        return 0;
    }
    char text[FUZZ_TEXT_BYTES_MAX + 1];
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    char lower[FUZZ_TEXT_BYTES_MAX + 1];
    fuzz_lower(text, lower, len);

    char hrp[FUZZ_TEXT_BYTES_MAX];
    uint8_t bytes[FUZZ_TEXT_BYTES_MAX];
    size_t bytes_len = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_codec_bech32_decode(text, hrp, sizeof(hrp), bytes, sizeof(bytes), &bytes_len, &err) ==
        0) {
        char again[FUZZ_TEXT_BYTES_MAX];
        int rc = kumo_codec_bech32_encode(hrp, kumo_bytes_make(bytes, bytes_len), again,
                                          sizeof(again), &err);
        KUMO_ASSERT(rc == 0);
        KUMO_ASSERT(strcmp(again, lower) == 0);
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    if (kumo_codec_address_decode(text, addr, &err) == 0) {
        char again[KUMO_ADDRESS_TEXT_BYTES];
        kumo_codec_address_encode(addr, again);
        KUMO_ASSERT(strcmp(again, lower) == 0);
    }
    return 0;
}
