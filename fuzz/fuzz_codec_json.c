/*
 * fuzz_codec_json.c - libFuzzer target for kumo_codec_json_to_message. The input is JSON text
 * (at most FUZZ_JSON_BYTES_MAX bytes), parsed as a Genesis and as a Msg. An accepted message
 * must pack, unpack to the same bytes, and render to JSON that parses back to the same bytes.
 * Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/codec.h"

/* Enough for a genesis with a few hundred entries; bigger inputs only slow the fuzzer. */
#define FUZZ_JSON_BYTES_MAX (64u * 1024u)

static void fuzz_pack(const ProtobufCMessage *msg, kumo_buf_t *buf)
{
    kumo_buf_init(buf, KUMO_GENESIS_BYTES_MAX);
    int rc = kumo_codec_pack(msg, buf, NULL);
    KUMO_ASSERT(rc == 0);
}

static void fuzz_json_round_trip(const ProtobufCMessageDescriptor *desc, const json_t *j)
{
    ProtobufCMessage *msg = NULL;
    kumo_err_ctx_t err = {0};
    if (kumo_codec_json_to_message(desc, j, &msg, &err) != 0) {
        KUMO_ASSERT(msg == NULL);
        return;
    }
    kumo_buf_t bytes;
    fuzz_pack(msg, &bytes);

    ProtobufCMessage *unpacked = NULL;
    int rc = kumo_codec_unpack(desc, kumo_buf_bytes(&bytes), bytes.len, &unpacked, &err);
    KUMO_ASSERT(rc == 0);
    kumo_buf_t again;
    fuzz_pack(unpacked, &again);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&bytes), kumo_buf_bytes(&again)));
    kumo_buf_free(&again);
    kumo_codec_free(unpacked);

    json_t *rendered = kumo_codec_json_from_message(msg);
    KUMO_ASSERT(rendered != NULL);
    ProtobufCMessage *back = NULL;
    rc = kumo_codec_json_to_message(desc, rendered, &back, &err);
    KUMO_ASSERT(rc == 0);
    fuzz_pack(back, &again);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&bytes), kumo_buf_bytes(&again)));
    kumo_buf_free(&again);
    kumo_codec_free(back);
    json_decref(rendered);

    kumo_buf_free(&bytes);
    kumo_codec_free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_JSON_BYTES_MAX) {
        return 0;
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        return 0;
    }
    fuzz_json_round_trip(&kumo__genesis__descriptor, j);
    fuzz_json_round_trip(&kumo__msg__descriptor, j);
    json_decref(j);
    return 0;
}
