/*
 * chunk_wire.c - the answers of the chunk routes (docs/provider-api.md): the manifest-info
 * JSON both ways and the split of a manifest-chunk answer into proof and chunk. Parsers of
 * what a peer sends, exposed for their fuzz target (fuzz_provider_chunk_info); they check
 * shape and bounds only, the chain's version and the proofs decide what is true.
 */
#include <inttypes.h>
#include <string.h>

#include "codec/codec.h"
#include "provider/provider_api.h"

json_t *kumo_provider_chunk_info_json(const kumo_provider_chunk_info_t *info)
{
    KUMO_ASSERT(info != NULL);
    KUMO_ASSERT(info->chunks_held <= info->chunk_count);
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    if (kumo_codec_hex_encode(kumo_bytes_make(info->version, sizeof(info->version)), hex,
                              sizeof(hex)) != 0) {
        return NULL;
    }
    char total[24];
    (void)snprintf(total, sizeof(total), "%" PRIu64, info->total_bytes);
    return json_pack("{s:s, s:s, s:I, s:I, s:b}", "version", hex, "total_bytes", total,
                     "chunk_count", (json_int_t)info->chunk_count, "chunks_held",
                     (json_int_t)info->chunks_held, "manifest", info->manifest);
}

static bool chunk_info_u32(const json_t *j, uint32_t *out)
{
    json_int_t v = json_is_integer(j) ? json_integer_value(j) : -1;
    if (v < 0 || v > (json_int_t)UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* total_bytes is a decimal string (64-bit values do not survive every JSON reader). */
static bool chunk_info_u64_text(const json_t *j, uint64_t *out)
{
    const char *t = json_string_value(j);
    if (t == NULL || t[0] < '0' || t[0] > '9' || strlen(t) > 20u || (t[0] == '0' && t[1] != 0)) {
        return false;
    }
    uint64_t v = 0;
    for (const char *p = t; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || kumo_u64_mul(v, 10u, &v) != 0 ||
            kumo_u64_add(v, (uint64_t)(*p - '0'), &v) != 0) {
            return false;
        }
    }
    *out = v;
    return true;
}

static int chunk_info_fields(const json_t *j, kumo_provider_chunk_info_t *out, kumo_err_ctx_t *err)
{
    const char *hex = json_string_value(json_object_get(j, "version"));
    size_t len = 0;
    KUMO_ENSURE(hex != NULL &&
                    kumo_codec_hex_decode(hex, out->version, sizeof(out->version), &len, NULL) ==
                        0 &&
                    len == sizeof(out->version),
                err, KUMO_EDECODE, "version is not a 32-byte hex hash");
    KUMO_ENSURE(chunk_info_u64_text(json_object_get(j, "total_bytes"), &out->total_bytes), err,
                KUMO_EDECODE, "total_bytes is not a decimal u64 string");
    KUMO_ENSURE(chunk_info_u32(json_object_get(j, "chunk_count"), &out->chunk_count) &&
                    chunk_info_u32(json_object_get(j, "chunks_held"), &out->chunks_held),
                err, KUMO_EDECODE, "chunk_count and chunks_held must be u32");
    KUMO_ENSURE(json_is_boolean(json_object_get(j, "manifest")), err, KUMO_EDECODE,
                "manifest must be a boolean");
    out->manifest = json_is_true(json_object_get(j, "manifest"));
    uint32_t count = 0;
    KUMO_ENSURE(kumo_crypto_merkle_chunk_count(out->total_bytes, &count) == 0 &&
                    count == out->chunk_count,
                err, KUMO_EDECODE, "chunk_count %" PRIu32 " is not that of %" PRIu64 " bytes",
                out->chunk_count, out->total_bytes);
    KUMO_ENSURE(out->chunks_held <= out->chunk_count, err, KUMO_EDECODE,
                "chunks_held over chunk_count");
    return 0;
}

int kumo_provider_chunk_info_parse(kumo_bytes_t body,
                                   kumo_provider_chunk_info_t *out,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    KUMO_ENSURE(body.len <= KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX, err, KUMO_ELIMIT,
                "manifest-info over %u bytes", KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX);
    json_t *j = body.len > 0
                    ? json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, NULL)
                    : NULL;
    int rc = json_is_object(j) ? chunk_info_fields(j, out, err)
                               : kumo_err_set(err, KUMO_EDECODE, "manifest-info is not an object");
    json_decref(j);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int kumo_provider_chunk_reply_split(kumo_bytes_t body,
                                    uint32_t index,
                                    uint32_t count,
                                    kumo_bytes_t *proof_out,
                                    kumo_bytes_t *chunk_out,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(proof_out != NULL && chunk_out != NULL);
    KUMO_ENSURE(index < count, err, KUMO_EDECODE, "chunk %" PRIu32 " of %" PRIu32, index, count);
    size_t proof_len =
        (size_t)kumo_crypto_merkle_proof_count(index, count) * KUMO_CRYPTO_HASH_BYTES;
    KUMO_ENSURE(body.len >= proof_len && body.len - proof_len <= KUMO_CRYPTO_MERKLE_CHUNK_BYTES,
                err, KUMO_EDECODE, "answer of %zu bytes for chunk %" PRIu32 " of %" PRIu32,
                body.len, index, count);
    *proof_out = kumo_bytes_make(body.ptr, proof_len);
    *chunk_out = kumo_bytes_make(body.len > proof_len ? body.ptr + proof_len : body.ptr,
                                 body.len - proof_len);
    return 0;
}
