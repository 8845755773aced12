/*
 * fuzz_rpc_request.c - libFuzzer target for kumo_rpc_req_parse, the HTTP API's request parsing
 * (route, path arguments, query parameters, Last-Event-ID, POST /txs body).
 *
 * Input: byte 0 picks the method (GET, POST, other), byte 1 bit 0 sends Content-Type
 * application/json, bit 1 sends a Last-Event-ID; the rest is "path\nquery\nlast_event_id\nbody".
 * A failure must name an HTTP error status; a success a route, and an accepted tx must re-encode
 * to exactly the body's base64 (one text per tx). Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "rpc/rpc_int.h"

#define FUZZ_INPUT_BYTES_MAX (64u * 1024u)
#define FUZZ_BODY_BYTES_MAX  (32u * 1024u)

/* Cuts the next '\n'-terminated field off [*p, end) into a NUL-terminated malloc'd copy. */
static char *field_take(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl != NULL ? nl : end;
    size_t len = (size_t)(stop - *p);
    char *s = malloc(len + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, *p, len);
    s[len] = '\0';
    *p = nl != NULL ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > FUZZ_INPUT_BYTES_MAX) {
        return 0;
    }
    static const kumo_rpc_method_t methods[] = {KUMO_RPC_METHOD_GET, KUMO_RPC_METHOD_POST,
                                                KUMO_RPC_METHOD_OTHER};
    const uint8_t *p = data + 2;
    const uint8_t *end = data + size;
    char *path = field_take(&p, end);
    char *query = field_take(&p, end);
    char *last_id = field_take(&p, end);
    kumo_rpc_raw_t raw = {
        .method = methods[data[0] % 3u],
        .path = path,
        .query = query,
        .content_type = (data[1] & 1u) != 0 ? "application/json" : NULL,
        .last_event_id = (data[1] & 2u) != 0 ? last_id : NULL,
        .body = kumo_bytes_make(p, (size_t)(end - p)),
        .body_bytes_max = FUZZ_BODY_BYTES_MAX,
    };
    kumo_rpc_req_t *req = malloc(sizeof(*req));
    if (req == NULL) {
        abort();
    }
    kumo_err_ctx_t err = {0};
    int rc = kumo_rpc_req_parse(&raw, req, &err);
    if (rc < 0) {
        if (req->status < 400 || req->status > 415 || req->route != KUMO_RPC_ROUTE_NONE) {
            abort();
        }
    } else {
        if (req->route == KUMO_RPC_ROUTE_NONE || req->limit == 0 ||
            req->limit > KUMO_QUERY_PAGE_COUNT_MAX) {
            abort();
        }
        if (req->route == KUMO_RPC_ROUTE_TX_SUBMIT) {
            /* the body was {"tx": b64}: the decoded tx re-encodes to a string inside it */
            size_t cap = sodium_base64_ENCODED_LEN(req->tx_len, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(cap);
            if (b64 == NULL || req->tx_len == 0) {
                abort();
            }
            sodium_bin2base64(b64, cap, req->tx, req->tx_len, sodium_base64_VARIANT_ORIGINAL);
            json_t *root = json_loadb((const char *)raw.body.ptr, raw.body.len, 0, NULL);
            const char *text = json_string_value(json_object_get(root, "tx"));
            if (text == NULL || strcmp(text, b64) != 0) {
                abort();
            }
            json_decref(root);
            free(b64);
        }
    }
    free(req);
    free(path);
    free(query);
    free(last_id);
    return 0;
}
