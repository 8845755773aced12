/*
 * rpc_req.c - request parsing: route by method and path segments, strict query parameters,
 * the POST /txs body (bounded JSON, base64 tx), SSE filters and ids, error rendering. Pure.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "core/kassert.h"
#include "rpc/rpc_int.h"

#define SEGMENT_COUNT_MAX 4u

/* Query parameters, as bits of a route's allowed set. */
enum {
    P_WAIT = 1u << 0,
    P_TIMEOUT = 1u << 1,
    P_LIMIT = 1u << 2,
    P_PAGE = 1u << 3,
    P_OWNER = 1u << 4,
    P_DSEQ = 1u << 5,
    P_STATE = 1u << 6,
    P_PROVIDER = 1u << 7,
    P_ORDER = 1u << 8,
    P_TYPES = 1u << 9,
    P_FROM = 1u << 10,
    P_GRANTER = 1u << 11,
    P_GRANTEE = 1u << 12,
};

static const struct {
    const char *name;
    uint32_t bit;
} param_names[] = {
    {"wait", P_WAIT},       {"timeout_ms", P_TIMEOUT}, {"limit", P_LIMIT},
    {"page", P_PAGE},       {"owner", P_OWNER},        {"dseq", P_DSEQ},
    {"state", P_STATE},     {"provider", P_PROVIDER},  {"order", P_ORDER},
    {"types", P_TYPES},     {"from_height", P_FROM},   {"granter", P_GRANTER},
    {"grantee", P_GRANTEE},
};

/* The routes: first segment, segment count, method, allowed parameters. */
static const struct {
    const char *first;
    uint32_t segment_count;
    kumo_rpc_method_t method;
    kumo_rpc_route_t route;
    uint32_t params;
} routes[] = {
    {"status", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_STATUS, 0},
    {"txs", 1, KUMO_RPC_METHOD_POST, KUMO_RPC_ROUTE_TX_SUBMIT, P_WAIT | P_TIMEOUT},
    {"txs", 2, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_TX_GET, 0},
    {"blocks", 2, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_BLOCK_GET, 0},
    {"accounts", 2, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_ACCOUNT_GET, 0},
    {"providers", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_PROVIDER_LIST, P_LIMIT | P_PAGE},
    {"providers", 2, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_PROVIDER_GET, 0},
    {"deployments", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_DEPLOYMENT_LIST,
     P_OWNER | P_STATE | P_LIMIT | P_PAGE},
    {"deployments", 3, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_DEPLOYMENT_GET, 0},
    {"groups", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_GROUP_LIST,
     P_OWNER | P_DSEQ | P_STATE | P_LIMIT | P_PAGE},
    {"orders", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_ORDER_LIST,
     P_OWNER | P_DSEQ | P_STATE | P_LIMIT | P_PAGE},
    {"fulfillments", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_FULFILLMENT_LIST,
     P_ORDER | P_PROVIDER | P_STATE | P_LIMIT | P_PAGE},
    {"leases", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_LEASE_LIST,
     P_OWNER | P_PROVIDER | P_DSEQ | P_ORDER | P_STATE | P_LIMIT | P_PAGE},
    {"params", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_PARAMS, 0},
    {"validators", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_VALIDATOR_LIST, P_LIMIT | P_PAGE},
    {"staking", 2, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST, P_LIMIT | P_PAGE},
    {"staking", 3, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_STAKING_GET, 0},
    {"events", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_EVENTS,
     P_TYPES | P_OWNER | P_PROVIDER | P_FROM},
    {"metrics", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_METRICS, 0},
    {"audits", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_AUDIT_LIST, P_PROVIDER | P_LIMIT | P_PAGE},
    {"grants", 1, KUMO_RPC_METHOD_GET, KUMO_RPC_ROUTE_GRANT_LIST,
     P_GRANTER | P_GRANTEE | P_LIMIT | P_PAGE},
};

static int fail(kumo_rpc_req_t *out, int status, kumo_err_ctx_t *err, int code, const char *what)
{
    out->status = status;
    return kumo_err_set(err, code, "%s", what);
}

int kumo_rpc_u64_parse(const char *text, uint64_t max, uint64_t *out)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out != NULL);
    size_t len = strlen(text);
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0')) {
        return KUMO_EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return KUMO_EINVAL;
        }
        uint64_t d = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return KUMO_EINVAL;
        }
        v = v * 10u + d;
    }
    if (v > max) {
        return KUMO_EINVAL;
    }
    *out = v;
    return 0;
}

/* Splits the raw path into percent-decoded segments (malloc'd by libevent, freed by caller).
 * Returns the count, or -1 for a path no route can match (no leading '/', empty segments, too
 * many, a NUL after decoding). */
static int path_split(const char *path, char *segs[SEGMENT_COUNT_MAX])
{
    if (path == NULL || path[0] != '/' || strlen(path) > KUMO_RPC_URI_BYTES_MAX) {
        return -1;
    }
    uint32_t n = 0;
    const char *p = path + 1;
    while (true) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || n == SEGMENT_COUNT_MAX) {
            goto out_bad;
        }
        char raw[KUMO_RPC_URI_BYTES_MAX + 1];
        memcpy(raw, p, len);
        raw[len] = '\0';
        size_t dec_len = 0;
        char *dec = evhttp_uridecode(raw, 0, &dec_len);
        if (dec == NULL) {
            goto out_bad;
        }
        segs[n++] = dec;
        if (dec_len != strlen(dec)) {
            goto out_bad;
        }
        if (slash == NULL) {
            break;
        }
        p = slash + 1;
    }
    return (int)n;

out_bad:
    for (uint32_t i = 0; i < n; i++) {
        free(segs[i]);
        segs[i] = NULL;
    }
    return -1;
}

static int address_arg(const char *text,
                       uint8_t out[KUMO_ADDRESS_BYTES],
                       const char *what,
                       kumo_rpc_req_t *req,
                       kumo_err_ctx_t *err)
{
    kumo_err_ctx_t e = {0};
    if (kumo_codec_address_decode(text, out, &e) < 0) {
        req->status = 400;
        return kumo_err_set(err, KUMO_EINVAL, "%s: %s", what, e.detail);
    }
    return 0;
}

static int u64_arg(const char *text,
                   uint64_t min,
                   uint64_t max,
                   uint64_t *out,
                   const char *what,
                   kumo_rpc_req_t *req,
                   kumo_err_ctx_t *err)
{
    uint64_t v = 0;
    if (kumo_rpc_u64_parse(text, max, &v) < 0 || v < min) {
        req->status = 400;
        return kumo_err_set(err, KUMO_EINVAL, "%s: want a decimal number in %" PRIu64 "..%" PRIu64,
                            what, min, max);
    }
    *out = v;
    return 0;
}

static int path_args(kumo_rpc_req_t *req, char *const *segs, kumo_err_ctx_t *err)
{
    switch (req->route) {
    case KUMO_RPC_ROUTE_TX_GET: {
        size_t len = 0;
        kumo_err_ctx_t e = {0};
        if (strlen(segs[1]) != 2u * KUMO_CHAIN_HASH_BYTES ||
            kumo_codec_hex_decode(segs[1], req->hash, sizeof(req->hash), &len, &e) < 0) {
            return fail(req, 400, err, KUMO_EINVAL, "tx hash: want 64 hex digits");
        }
        return 0;
    }
    case KUMO_RPC_ROUTE_BLOCK_GET:
        if (strcmp(segs[1], "latest") == 0) {
            req->latest = true;
            return 0;
        }
        return u64_arg(segs[1], 1, UINT64_MAX, &req->height, "height", req, err);
    case KUMO_RPC_ROUTE_ACCOUNT_GET:
    case KUMO_RPC_ROUTE_PROVIDER_GET:
        return address_arg(segs[1], req->addr, "address", req, err);
    case KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST:
        if (strcmp(segs[1], "validators") != 0) {
            return fail(req, 404, err, KUMO_ENOTFOUND, "no such route");
        }
        return 0;
    case KUMO_RPC_ROUTE_STAKING_GET:
        if (strcmp(segs[1], "validators") == 0 || strcmp(segs[1], "delegations") == 0 ||
            strcmp(segs[1], "unbondings") == 0) {
            req->staking_kind = segs[1][0];
            return address_arg(segs[2], req->addr, "address", req, err);
        }
        return fail(req, 404, err, KUMO_ENOTFOUND, "no such route");
    case KUMO_RPC_ROUTE_DEPLOYMENT_GET:
        KUMO_GUARD(address_arg(segs[1], req->owner, "owner", req, err));
        req->has_owner = true;
        return u64_arg(segs[2], 1, UINT64_MAX, &req->dseq, "dseq", req, err);
    default:
        return 0;
    }
}

/* The enum naming states of the listed object, or NULL when it has none. */
static const ProtobufCEnumDescriptor *state_enum(kumo_rpc_route_t route)
{
    switch (route) {
    case KUMO_RPC_ROUTE_DEPLOYMENT_LIST:
        return &kumo__deployment_state__descriptor;
    case KUMO_RPC_ROUTE_GROUP_LIST:
        return &kumo__group_state__descriptor;
    case KUMO_RPC_ROUTE_ORDER_LIST:
        return &kumo__order_state__descriptor;
    case KUMO_RPC_ROUTE_FULFILLMENT_LIST:
        return &kumo__fulfillment_state__descriptor;
    case KUMO_RPC_ROUTE_LEASE_LIST:
        return &kumo__lease_state__descriptor;
    default:
        return NULL;
    }
}

static int
types_parse(const char *text, kumo_rpc_filter_t *f, kumo_rpc_req_t *req, kumo_err_ctx_t *err)
{
    const char *p = text;
    while (true) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len > KUMO_RPC_TYPE_BYTES_MAX) {
            return fail(req, 400, err, KUMO_EINVAL, "types: each type is 1..64 characters");
        }
        if (f->type_count == KUMO_RPC_TYPE_COUNT_MAX) {
            return fail(req, 400, err, KUMO_EINVAL, "types: at most 32 types");
        }
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
            if (!ok) {
                return fail(req, 400, err, KUMO_EINVAL, "types: only a-z 0-9 . _ allowed");
            }
        }
        memcpy(f->types[f->type_count], p, len);
        f->types[f->type_count][len] = '\0';
        f->type_count++;
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}

/* GET /grants: a grant's owner is its granter. */
static int
grant_param_apply(kumo_rpc_req_t *req, uint32_t bit, const char *value, kumo_err_ctx_t *err)
{
    if (bit == P_GRANTER) {
        KUMO_GUARD(address_arg(value, req->owner, "granter", req, err));
        req->has_owner = true;
        return 0;
    }
    KUMO_ASSERT(bit == P_GRANTEE);
    KUMO_GUARD(address_arg(value, req->grantee, "grantee", req, err));
    req->has_grantee = true;
    return 0;
}

static int param_apply(kumo_rpc_req_t *req, uint32_t bit, const char *value, kumo_err_ctx_t *err)
{
    uint64_t v = 0;
    switch (bit) {
    case P_WAIT:
        if (strcmp(value, "commit") == 0) {
            req->wait_commit = true;
        } else if (strcmp(value, "none") != 0) {
            return fail(req, 400, err, KUMO_EINVAL, "wait: want none or commit");
        }
        return 0;
    case P_TIMEOUT:
        KUMO_GUARD(u64_arg(value, 1, KUMO_RPC_WAIT_TIMEOUT_MS_MAX, &v, "timeout_ms", req, err));
        req->timeout_ms = (uint32_t)v;
        return 0;
    case P_LIMIT:
        KUMO_GUARD(u64_arg(value, 1, KUMO_QUERY_PAGE_COUNT_MAX, &v, "limit", req, err));
        req->limit = (uint32_t)v;
        return 0;
    case P_PAGE: {
        kumo_err_ctx_t e = {0};
        if (kumo_codec_hex_decode(value, req->page, sizeof(req->page), &req->page_len, &e) < 0) {
            return fail(req, 400, err, KUMO_EINVAL, "page: want the hex cursor of a previous page");
        }
        return 0;
    }
    case P_OWNER:
        KUMO_GUARD(address_arg(value, req->owner, "owner", req, err));
        req->has_owner = true;
        req->filter.has_owner = true;
        memcpy(req->filter.owner, req->owner, KUMO_ADDRESS_BYTES);
        return 0;
    case P_PROVIDER:
        KUMO_GUARD(address_arg(value, req->provider, "provider", req, err));
        req->has_provider = true;
        req->filter.has_provider = true;
        memcpy(req->filter.provider, req->provider, KUMO_ADDRESS_BYTES);
        return 0;
    case P_DSEQ:
        return u64_arg(value, 1, UINT64_MAX, &req->dseq, "dseq", req, err);
    case P_STATE: {
        const ProtobufCEnumDescriptor *d = state_enum(req->route);
        KUMO_ASSERT(d != NULL);
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(d, value);
        if (ev == NULL || ev->value <= 0) {
            req->status = 400;
            return kumo_err_set(err, KUMO_EINVAL, "state: not a %s name", d->short_name);
        }
        req->state = (uint32_t)ev->value;
        return 0;
    }
    case P_ORDER: {
        kumo_err_ctx_t e = {0};
        if (kumo_codec_order_id_parse(value, req->order_owner, &req->order, &e) < 0) {
            req->status = 400;
            return kumo_err_set(err, KUMO_EINVAL, "order: %s", e.detail);
        }
        req->has_order = true;
        return 0;
    }
    case P_TYPES:
        return types_parse(value, &req->filter, req, err);
    case P_FROM:
        KUMO_GUARD(u64_arg(value, 0, UINT64_MAX, &req->from_height, "from_height", req, err));
        req->has_from = true;
        return 0;
    default:
        KUMO_UNREACHABLE();
    }
}

static int
query_parse(kumo_rpc_req_t *req, const char *query, uint32_t allowed, kumo_err_ctx_t *err)
{
    if (query == NULL || query[0] == '\0') {
        return 0;
    }
    if (strlen(query) > KUMO_RPC_URI_BYTES_MAX) {
        return fail(req, 400, err, KUMO_EINVAL, "query string too long");
    }
    struct evkeyvalq params;
    params.tqh_first = NULL;
    params.tqh_last = &params.tqh_first;
    int rc = 0;
    if (evhttp_parse_query_str(query, &params) != 0) {
        rc = fail(req, 400, err, KUMO_EINVAL, "malformed query string");
        goto out_clear;
    }
    uint32_t seen = 0;
    uint32_t count = 0;
    for (struct evkeyval *kv = params.tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (++count > KUMO_RPC_PARAM_COUNT_MAX) {
            rc = fail(req, 400, err, KUMO_EINVAL, "too many query parameters");
            goto out_clear;
        }
        uint32_t bit = 0;
        for (size_t i = 0; i < sizeof(param_names) / sizeof(param_names[0]); i++) {
            if (strcmp(kv->key, param_names[i].name) == 0) {
                bit = param_names[i].bit;
            }
        }
        if (bit == 0 || (allowed & bit) == 0) {
            req->status = 400;
            rc = kumo_err_set(err, KUMO_EINVAL, "unknown query parameter '%.64s'", kv->key);
            goto out_clear;
        }
        if ((seen & bit) != 0) {
            req->status = 400;
            rc = kumo_err_set(err, KUMO_EINVAL, "query parameter '%s' repeated", kv->key);
            goto out_clear;
        }
        seen |= bit;
        if (kv->value[0] == '\0') {
            continue; /* "owner=" filters nothing */
        }
        KUMO_GUARD_GOTO((bit == P_GRANTER || bit == P_GRANTEE)
                            ? grant_param_apply(req, bit, kv->value, err)
                            : param_apply(req, bit, kv->value, err),
                        rc, out_clear);
    }

out_clear:
    evhttp_clear_headers(&params);
    return rc;
}

static bool content_type_is_json(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0) {
        return false;
    }
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* libsodium's constant-time decoder maps some bytes >= 0x80 onto the alphabet, so the text is
 * checked against A-Z a-z 0-9 + / first. */
static bool base64_alphabet_only(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int body_parse(kumo_rpc_req_t *req, const kumo_rpc_raw_t *raw, kumo_err_ctx_t *err)
{
    if (raw->body.len > raw->body_bytes_max) {
        req->status = 413;
        return kumo_err_set(err, KUMO_ELIMIT, "body of %zu bytes over the %zu-byte limit",
                            raw->body.len, raw->body_bytes_max);
    }
    if (!content_type_is_json(raw->content_type)) {
        return fail(req, 415, err, KUMO_EINVAL, "Content-Type must be application/json");
    }
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)raw->body.ptr, raw->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        req->status = 400;
        return kumo_err_set(err, KUMO_EDECODE, "body: %s at line %d column %d", jerr.text,
                            jerr.line, jerr.column);
    }
    int rc = 0;
    json_t *tx = json_object_get(root, "tx");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_string(tx)) {
        rc = fail(req, 400, err, KUMO_EDECODE, "body: want {\"tx\": \"<base64>\"} only");
        goto out_root;
    }
    const char *b64 = json_string_value(tx);
    size_t b64_len = json_string_length(tx);
    if (b64_len > KUMO_RPC_TX_BASE64_BYTES_MAX) {
        req->status = 400;
        rc = kumo_err_set(err, KUMO_ELIMIT, "tx: over %u bytes", KUMO_TX_BYTES_MAX);
        goto out_root;
    }
    size_t pad = 0;
    while (pad < 2 && pad < b64_len && b64[b64_len - 1 - pad] == '=') {
        pad++;
    }
    if (!base64_alphabet_only(b64, b64_len - pad)) {
        rc = fail(req, 400, err, KUMO_EDECODE, "tx: not standard padded base64");
        goto out_root;
    }
    if (b64_len % 4u == 0 && b64_len / 4u * 3u - pad > KUMO_TX_BYTES_MAX) {
        req->status = 400;
        rc = kumo_err_set(err, KUMO_ELIMIT, "tx: over %u bytes", KUMO_TX_BYTES_MAX);
        goto out_root;
    }
    const char *end = NULL;
    if (b64_len == 0 ||
        sodium_base642bin(req->tx, sizeof(req->tx), b64, b64_len, NULL, &req->tx_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64_len || req->tx_len == 0) {
        req->tx_len = 0;
        rc = fail(req, 400, err, KUMO_EDECODE, "tx: not standard padded base64");
        goto out_root;
    }

out_root:
    json_decref(root);
    return rc;
}

int kumo_rpc_req_parse(const kumo_rpc_raw_t *raw, kumo_rpc_req_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(raw != NULL);
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    out->limit = KUMO_RPC_LIMIT_DEFAULT;
    out->timeout_ms = KUMO_RPC_WAIT_TIMEOUT_MS_DEFAULT;
    out->order.base.descriptor = &kumo__order_id__descriptor;
    kumo__order_id__init(&out->order);

    char *segs[SEGMENT_COUNT_MAX] = {0};
    int n = path_split(raw->path, segs);
    if (n <= 0) {
        return fail(out, 404, err, KUMO_ENOTFOUND, "no such route");
    }
    int rc = 0;
    bool path_known = false;
    size_t match = SIZE_MAX;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].segment_count == (uint32_t)n && strcmp(routes[i].first, segs[0]) == 0) {
            path_known = true;
            if (routes[i].method == raw->method) {
                match = i;
            }
        }
    }
    if (!path_known) {
        rc = fail(out, 404, err, KUMO_ENOTFOUND, "no such route");
        goto out_segs;
    }
    if (match == SIZE_MAX) {
        rc = fail(out, 405, err, KUMO_EINVAL, "method not allowed on this route");
        goto out_segs;
    }
    out->route = routes[match].route;
    KUMO_GUARD_GOTO(path_args(out, segs, err), rc, out_segs);
    KUMO_GUARD_GOTO(query_parse(out, raw->query, routes[match].params, err), rc, out_segs);
    if (out->route == KUMO_RPC_ROUTE_EVENTS && raw->last_event_id != NULL) {
        if (kumo_rpc_pos_parse(raw->last_event_id, &out->last_id, NULL) < 0) {
            rc = fail(out, 400, err, KUMO_EINVAL, "Last-Event-ID: want <height>[:<tx>:<event>]");
            goto out_segs;
        }
        out->has_last_id = true;
    }
    if (out->route == KUMO_RPC_ROUTE_TX_SUBMIT) {
        KUMO_GUARD_GOTO(body_parse(out, raw, err), rc, out_segs);
    }
    KUMO_ASSERT(out->limit >= 1 && out->limit <= KUMO_QUERY_PAGE_COUNT_MAX);

out_segs:
    for (int i = 0; i < n; i++) {
        free(segs[i]);
    }
    if (rc < 0) {
        KUMO_ASSERT(out->status >= 400);
        out->route = KUMO_RPC_ROUTE_NONE;
    }
    return rc;
}

bool kumo_rpc_filter_match(const kumo_rpc_filter_t *f, const Kumo__Event *ev)
{
    KUMO_ASSERT(f != NULL);
    KUMO_ASSERT(ev != NULL && ev->type != NULL);
    if (f->has_owner && (ev->owner.len != KUMO_ADDRESS_BYTES ||
                         memcmp(ev->owner.data, f->owner, KUMO_ADDRESS_BYTES) != 0)) {
        return false;
    }
    if (f->has_provider && (ev->provider.len != KUMO_ADDRESS_BYTES ||
                            memcmp(ev->provider.data, f->provider, KUMO_ADDRESS_BYTES) != 0)) {
        return false;
    }
    if (f->type_count == 0) {
        return true;
    }
    for (uint32_t i = 0; i < f->type_count; i++) {
        const char *t = f->types[i];
        size_t len = strlen(t);
        if (len > 0 && t[len - 1] == '.') {
            if (strncmp(ev->type, t, len) == 0) {
                return true;
            }
        } else if (strcmp(ev->type, t) == 0) {
            return true;
        }
    }
    return false;
}

int kumo_rpc_pos_parse(const char *text, kumo_rpc_pos_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out != NULL);
    char parts[3][24];
    uint32_t n = 0;
    const char *p = text;
    while (true) {
        const char *colon = strchr(p, ':');
        size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
        KUMO_ENSURE(n < 3 && len < sizeof(parts[0]), err, KUMO_EINVAL, "bad event id");
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        n++;
        if (colon == NULL) {
            break;
        }
        p = colon + 1;
    }
    KUMO_ENSURE(n == 1 || n == 3, err, KUMO_EINVAL, "bad event id");
    uint64_t h = 0;
    uint64_t t = UINT32_MAX;
    uint64_t e = UINT32_MAX;
    KUMO_ENSURE(kumo_rpc_u64_parse(parts[0], UINT64_MAX, &h) == 0, err, KUMO_EINVAL,
                "bad event id height");
    if (n == 3) {
        KUMO_ENSURE(kumo_rpc_u64_parse(parts[1], UINT32_MAX - 1u, &t) == 0 &&
                        kumo_rpc_u64_parse(parts[2], UINT32_MAX - 1u, &e) == 0,
                    err, KUMO_EINVAL, "bad event id index");
    }
    out->height = h;
    out->tx_index = (uint32_t)t;
    out->event_index = (uint32_t)e;
    return 0;
}

int kumo_rpc_pos_compare(kumo_rpc_pos_t a, kumo_rpc_pos_t b)
{
    if (a.height != b.height) {
        return a.height < b.height ? -1 : 1;
    }
    if (a.tx_index != b.tx_index) {
        return a.tx_index < b.tx_index ? -1 : 1;
    }
    if (a.event_index != b.event_index) {
        return a.event_index < b.event_index ? -1 : 1;
    }
    return 0;
}

char *kumo_rpc_error_json(int code, const char *detail)
{
    KUMO_ASSERT(code < 0);
    json_t *inner = json_pack("{s:i, s:s, s:s, s:s?}", "code", code, "name", kumo_err_name(code),
                              "message", kumo_err_msg(code), "detail", detail);
    if (inner == NULL) {
        /* detail that is not UTF-8 (it may quote input): drop it rather than fail */
        inner = json_pack("{s:i, s:s, s:s, s:s}", "code", code, "name", kumo_err_name(code),
                          "message", kumo_err_msg(code), "detail", "");
    }
    json_t *root = inner != NULL ? json_pack("{s:o}", "error", inner) : NULL;
    if (root == NULL) {
        return NULL;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

bool kumo_rpc_seconds_format(uint64_t us, char *out, size_t out_cap)
{
    KUMO_ASSERT(out != NULL);
    int n = snprintf(out, out_cap, "%" PRIu64 ".%06" PRIu64, us / 1000000u, us % 1000000u);
    return n > 0 && (size_t)n < out_cap;
}

int kumo_rpc_submit_status(int code)
{
    KUMO_ASSERT(code < 0);
    return code == KUMO_ELIMIT ? 503 : 422;
}

uint32_t kumo_rpc_conn_max_for(uint32_t cfg_max, uint64_t nofile)
{
    if (nofile <= KUMO_RPC_FD_RESERVE) {
        return 0;
    }
    uint64_t room = nofile - KUMO_RPC_FD_RESERVE;
    return room < cfg_max ? (uint32_t)room : cfg_max;
}

bool kumo_rpc_addr_key(const void *sa, size_t sa_len, uint8_t out[16])
{
    KUMO_ASSERT(sa != NULL);
    KUMO_ASSERT(out != NULL);
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    sa_family_t family = 0;
    if (sa_len < sizeof(family)) {
        return false;
    }
    memcpy(&family, (const uint8_t *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
    memset(out, 0, 16);
    if (family == AF_INET && sa_len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, sa, sizeof(in4));
        memcpy(out, v4_mapped, sizeof(v4_mapped));
        memcpy(out + 12, &in4.sin_addr, 4);
        return true;
    }
    if (family == AF_INET6 && sa_len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        const uint8_t *a = in6.sin6_addr.s6_addr;
        /* an IPv4 client on a dual-stack socket is that IPv4 address */
        size_t keep = memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0 ? 16u : 8u;
        memcpy(out, a, keep);
        return true;
    }
    return false;
}
