/*
 * decode.c - strict decoding of the node's answers (docs/api.md): the error envelope, uint64
 * fields as the node renders them (decimal strings), GET /status, POST /txs answers, and state
 * objects through the codec's JSON rules (kumo_codec_json_to_message), so a client acts only
 * on values that are what the route promises. Pure: no I/O (fuzz_client_decode).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"
#include "codec/codec.h"

/* The node's error envelope: {"error": {"code": -N, "detail": "...", "message": "..."}}. */
static int answer_error(const char *url, long status, const json_t *j, kumo_err_ctx_t *err)
{
    const json_t *e = json_object_get(j, "error");
    const json_t *code = json_object_get(e, "code");
    if (json_is_integer(code) && json_integer_value(code) < 0 && json_integer_value(code) > -1000) {
        const char *detail = json_string_value(json_object_get(e, "detail"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *text = detail != NULL && detail[0] != '\0' ? detail : msg != NULL ? msg : "";
        return kumo_err_set(err, (int)json_integer_value(code), "%s", text);
    }
    return kumo_err_set(err, status == 404 ? KUMO_ENOTFOUND : KUMO_EIO,
                        "the node at %s answered HTTP %ld without a JSON error", url, status);
}

int kumo_client_answer_decode(
    const char *url, long status, kumo_bytes_t body, json_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(url != NULL);
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(body.ptr != NULL || body.len == 0);
    *out = NULL;
    json_error_t jerr;
    json_t *j = body.len > 0
                    ? json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr)
                    : NULL;
    if (status < 200 || status > 299) {
        int rc = answer_error(url, status, j, err);
        json_decref(j);
        return rc;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        return kumo_err_set(err, KUMO_EDECODE,
                            "the node at %s answered HTTP %ld with a body that is not JSON", url,
                            status);
    }
    *out = j;
    return 0;
}

int kumo_client_json_u64(const json_t *obj, const char *key, uint64_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(key != NULL);
    KUMO_ASSERT(out != NULL);
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        KUMO_ENSURE(json_integer_value(v) >= 0, err, KUMO_EDECODE, "\"%s\" is negative", key);
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    KUMO_ENSURE(s != NULL, err, KUMO_EDECODE, "\"%s\" is missing or not a number", key);
    size_t len = strlen(s);
    KUMO_ENSURE(len > 0 && len <= 20 && strspn(s, "0123456789") == len && (len == 1 || s[0] != '0'),
                err, KUMO_EDECODE, "\"%s\" is not a decimal uint64", key);
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        KUMO_ENSURE(kumo_u64_mul(value, 10, &value) == 0 &&
                        kumo_u64_add(value, (uint64_t)(s[i] - '0'), &value) == 0,
                    err, KUMO_EDECODE, "\"%s\" is over 2^64", key);
    }
    *out = value;
    return 0;
}

int kumo_client_json_text(
    const json_t *obj, const char *key, size_t len_max, const char **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(key != NULL);
    KUMO_ASSERT(out != NULL);
    const json_t *v = json_object_get(obj, key);
    KUMO_ENSURE(json_is_string(v), err, KUMO_EDECODE, "\"%s\" is missing or not a string", key);
    KUMO_ENSURE(json_string_length(v) <= len_max, err, KUMO_ELIMIT,
                "\"%s\" is longer than %zu bytes", key, len_max);
    KUMO_ENSURE(strlen(json_string_value(v)) == json_string_length(v), err, KUMO_EDECODE,
                "\"%s\" holds a NUL", key);
    *out = json_string_value(v);
    return 0;
}

int kumo_client_status_decode(const json_t *j, kumo_client_status_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(json_is_object(j), err, KUMO_EDECODE, "GET /status: not an object");
    const char *chain = NULL;
    KUMO_GUARD(kumo_client_json_text(j, "chain_id", KUMO_CHAIN_ID_BYTES_MAX, &chain, err));
    KUMO_ENSURE(chain[0] != '\0', err, KUMO_EDECODE, "GET /status: empty chain_id");
    uint64_t height = 0;
    KUMO_GUARD(kumo_client_json_u64(j, "height", &height, err));
    (void)snprintf(out->chain_id, sizeof(out->chain_id), "%s", chain);
    out->height = height;
    return 0;
}

int kumo_client_status_get(kumo_client_t *c, kumo_client_status_t *out, kumo_err_ctx_t *err)
{
    json_t *j = NULL;
    KUMO_GUARD(kumo_client_get(c, "/status", &j, err));
    int rc = kumo_client_status_decode(j, out, err);
    json_decref(j);
    return rc;
}

int kumo_client_object_decode(const ProtobufCMessageDescriptor *desc,
                              const json_t *j,
                              ProtobufCMessage **out,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(desc != NULL);
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    KUMO_ENSURE(json_is_object(j), err, KUMO_EDECODE, "%s: not a JSON object", desc->short_name);
    /* What the node adds beside the stored object (GET /deployments/{owner}/{dseq}). */
    if (desc == &kumo__deployment__descriptor && json_object_get(j, "escrow_cover") != NULL) {
        json_t *copy = json_copy((json_t *)(uintptr_t)j); /* jansson's non-const copy */
        KUMO_ENSURE(copy != NULL, err, KUMO_ENOMEM, "%s", desc->short_name);
        (void)json_object_del(copy, "escrow_cover");
        int rc = kumo_codec_json_to_message(desc, copy, out, err);
        json_decref(copy);
        return rc;
    }
    return kumo_codec_json_to_message(desc, j, out, err);
}

int kumo_client_object_get(kumo_client_t *c,
                           const char *path,
                           const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **out,
                           kumo_err_ctx_t *err)
{
    json_t *j = NULL;
    KUMO_GUARD(kumo_client_get(c, path, &j, err));
    int rc = kumo_client_object_decode(desc, j, out, err);
    json_decref(j);
    return rc;
}

int kumo_client_tx_answer_decode(const json_t *j, kumo_client_tx_answer_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    KUMO_ENSURE(json_is_object(j), err, KUMO_EDECODE, "POST /txs: not an object");
    const char *hash = NULL;
    const char *status = NULL;
    KUMO_GUARD(kumo_client_json_text(j, "hash", sizeof(out->hash_hex) - 1, &hash, err));
    KUMO_ENSURE(strlen(hash) == sizeof(out->hash_hex) - 1 &&
                    strspn(hash, "0123456789abcdef") == strlen(hash),
                err, KUMO_EDECODE, "POST /txs: \"hash\" is not 32 bytes of hex");
    KUMO_GUARD(kumo_client_json_text(j, "status", 16, &status, err));
    (void)snprintf(out->hash_hex, sizeof(out->hash_hex), "%s", hash);
    if (strcmp(status, "pending") == 0) {
        return 0;
    }
    KUMO_ENSURE(strcmp(status, "committed") == 0, err, KUMO_EDECODE,
                "POST /txs: unknown status \"%s\"", status);
    out->committed = true;
    KUMO_GUARD(kumo_client_json_u64(j, "height", &out->height, err));
    const json_t *code = json_object_get(j, "code");
    KUMO_ENSURE(json_is_integer(code) && json_integer_value(code) <= 0 &&
                    json_integer_value(code) > -1000,
                err, KUMO_EDECODE, "POST /txs: \"code\" is not a KUMO_E* code");
    out->code = (int)json_integer_value(code);
    const char *log = json_string_value(json_object_get(j, "log"));
    (void)snprintf(out->log, sizeof(out->log), "%s", log != NULL ? log : "");
    return 0;
}
