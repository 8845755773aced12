/*
 * api_route.c - the provider API's routes (docs/provider-api.md) as plain functions of a
 * copied request (pd_api_rq_t) to a reply (pd_api_reply_t): they check who calls and what is
 * sent in the documented order and ask the daemon through the backend. They run on the API's
 * worker threads (api.c), so a slow node or runtime never stalls the API's event loop (TLS,
 * every other client, the forwarder); they touch no libevent object. The path parser is
 * exposed for its fuzz target (api_int.h).
 */
#include "provider/api_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "codec/codec.h"
#include "sdl/sdl.h"

/* ---- replies ---- */

static void api_json(pd_api_reply_t *out, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    kumo_buf_reset(&out->body);
    out->content_type = "application/json";
    if (text == NULL || kumo_buf_append(&out->body, text, strlen(text)) != 0 ||
        kumo_buf_append(&out->body, "\n", 1) != 0) {
        out->status = 500;
        kumo_buf_reset(&out->body);
    } else {
        out->status = status;
    }
    free(text);
}

void pd_api_reply_error(pd_api_reply_t *out, int status, int code, const char *detail)
{
    api_json(out, status,
             json_pack("{s:{s:i, s:s, s:s, s:s}}", "error", "code", code, "name",
                       kumo_err_name(code), "message", kumo_err_msg(code), "detail", detail));
}

static void api_bytes(pd_api_reply_t *out, const char *content_type, const kumo_buf_t *b)
{
    kumo_buf_reset(&out->body);
    if (b->len > 0 && kumo_buf_append(&out->body, b->ptr, b->len) != 0) {
        pd_api_reply_error(out, 500, KUMO_ENOMEM, "answer too large");
        return;
    }
    out->status = 200;
    out->content_type = content_type;
}

/* "/deployments/<owner>/<dseq>/<leaf>" into its parts. */
bool kumo_provider_api_path_parse(const char *path,
                                  uint8_t owner[KUMO_ADDRESS_BYTES],
                                  uint64_t *dseq,
                                  char *leaf,
                                  size_t leaf_cap)
{
    static const char prefix[] = "/deployments/";
    if (strncmp(path, prefix, sizeof(prefix) - 1u) != 0) {
        return false;
    }
    char buf[256];
    if (snprintf(buf, sizeof(buf), "%s", path + sizeof(prefix) - 1u) >= (int)sizeof(buf)) {
        return false;
    }
    char *q = strchr(buf, '?');
    if (q != NULL) {
        *q = '\0';
    }
    char *save = NULL;
    char *o = strtok_r(buf, "/", &save);
    char *d = strtok_r(NULL, "/", &save);
    char *l = strtok_r(NULL, "/", &save);
    char *end = NULL;
    if (o == NULL || d == NULL || l == NULL || strtok_r(NULL, "/", &save) != NULL ||
        kumo_codec_address_decode(o, owner, NULL) < 0 || d[0] < '0' || d[0] > '9') {
        return false;
    }
    *dseq = strtoull(d, &end, 10);
    return end != NULL && *end == '\0' && snprintf(leaf, leaf_cap, "%s", l) < (int)leaf_cap;
}

/* ---- routes ---- */

/* The checks an upload shares, in the documented order: the body within max (413), then a
 * deployment of the owner's with a lease here (404). False when it answered. */
static bool api_body_and_view(const pd_api_ctx_t *c,
                              const pd_api_rq_t *rq,
                              pd_api_reply_t *out,
                              size_t max,
                              const char *too_big,
                              kumo_provider_deployment_view_t *view)
{
    if (rq->body.len > max) {
        pd_api_reply_error(out, 413, KUMO_ELIMIT, too_big);
        return false;
    }
    kumo_err_ctx_t err = {0};
    if (c->be->deployment_view(c->ctx, rq->owner, rq->dseq, view, &err) < 0 || !view->known ||
        !view->has_lease) {
        pd_api_reply_error(out, 404, KUMO_ENOTFOUND, "no deployment of yours with a lease here");
        return false;
    }
    return true;
}

/* PUT .../manifest: the checks of docs/provider-api.md, in that order. */
static void api_manifest(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    KUMO_ASSERT(rq->path_ok && rq->has_caller); /* pd_api_rq_kind; the owner or its grantee */
    kumo_provider_deployment_view_t view = {0};
    if (!api_body_and_view(c, rq, out, KUMO_PROVIDER_MANIFEST_BYTES_MAX, "manifest over 1 MiB",
                           &view)) {
        return;
    }
    kumo_err_ctx_t err = {0};
    kumo_bytes_t manifest = rq->body.len > 0 ? rq->body : kumo_bytes_make((const uint8_t *)"", 0);
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    if (kumo_crypto_merkle_root(manifest, root) < 0 ||
        memcmp(root, view.version, sizeof(root)) != 0) {
        pd_api_reply_error(out, 409, KUMO_EMISMATCH,
                           "the manifest's root is not the deployment's version");
        return;
    }
    ProtobufCMessage *m = NULL;
    if (kumo_codec_unpack(&kumo__manifest__descriptor, manifest, KUMO_PROVIDER_MANIFEST_BYTES_MAX,
                          &m, &err) < 0) {
        pd_api_reply_error(out, 422, KUMO_EDECODE, err.detail);
        return;
    }
    kumo_codec_free(m);
    int rc = c->be->manifest_accept(c->ctx, rq->owner, rq->dseq, manifest, &err);
    if (rc < 0) {
        /* A manifest that breaks the lease is the client's (422, with the rule); the daemon
         * failing to ask the node or to store is ours (500). */
        int status = rc == KUMO_EIO || rc == KUMO_ENOMEM ? 500 : 422;
        pd_api_reply_error(out, status, rc, err.detail);
        return;
    }
    char hex[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    if (kumo_codec_hex_encode(kumo_bytes_make(root, sizeof(root)), hex, sizeof(hex)) < 0) {
        hex[0] = '\0';
    }
    api_json(out, 200, json_pack("{s:s, s:b}", "version", hex, "accepted", 1));
}

/* A decimal query value within max; def when absent; false when malformed or past max. */
static bool
api_query_u64(const struct evkeyvalq *q, const char *key, uint64_t def, uint64_t max, uint64_t *out)
{
    const char *v = evhttp_find_header(q, key);
    char *end = NULL;
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (v[0] < '0' || v[0] > '9' || strlen(v) > 20) {
        return false;
    }
    errno = 0;
    *out = strtoull(v, &end, 10);
    return errno == 0 && end != NULL && *end == '\0' && *out <= max;
}

/* GET .../logs?stamped=1[&workload=NAME][&since_ns=N][&tail=N][&limit=N]. */
static void api_log_lines(const pd_api_ctx_t *c,
                          const pd_api_rq_t *rq,
                          const struct evkeyvalq *q,
                          pd_api_reply_t *out)
{
    const char *w = evhttp_find_header(q, "workload");
    uint64_t since = 0;
    uint64_t tail = 0;
    uint64_t limit = 0;
    if (!api_query_u64(q, "since_ns", 0, UINT64_MAX, &since) ||
        !api_query_u64(q, "tail", 0, KUMO_PROVIDER_LOG_TAIL_MAX, &tail) ||
        !api_query_u64(q, "limit", KUMO_PROVIDER_LOG_TAIL_MAX, KUMO_PROVIDER_LOG_TAIL_MAX,
                       &limit) ||
        (w != NULL && strlen(w) > KUMO_NAME_BYTES_MAX)) {
        pd_api_reply_error(out, 400, KUMO_EDECODE,
                           "expected since_ns=N, tail and limit 0..10000, a workload name");
        return;
    }
    if (c->be->log_lines == NULL) {
        pd_api_reply_error(out, 501, KUMO_EINVAL, "this provider does not stamp its log lines");
        return;
    }
    kumo_buf_t logs;
    kumo_buf_init(&logs, 16u * 1024u * 1024u);
    kumo_err_ctx_t err = {0};
    int rc = c->be->log_lines(c->ctx, rq->owner, rq->dseq, w != NULL ? w : "", since,
                              (uint32_t)tail, (uint32_t)limit, &logs, &err);
    if (rc < 0) {
        pd_api_reply_error(out,
                           rc == KUMO_ENOTFOUND ? 404
                           : rc == KUMO_ELIMIT  ? 413
                                                : 500,
                           rc, err.detail);
    } else {
        api_bytes(out, "text/plain", &logs);
    }
    kumo_buf_free(&logs);
}

static void api_logs(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    struct evkeyvalq q;
    if (rq->query[0] != '\0' && evhttp_parse_query_str(rq->query, &q) == 0) {
        const char *stamped = evhttp_find_header(&q, "stamped");
        if (stamped != NULL && strcmp(stamped, "1") == 0) {
            api_log_lines(c, rq, &q, out);
            evhttp_clear_headers(&q);
            return;
        }
        evhttp_clear_headers(&q);
    }
    if (rq->query[0] == '\0' || evhttp_parse_query_str(rq->query, &q) != 0) {
        pd_api_reply_error(out, 400, KUMO_EDECODE, "logs need ?workload=NAME[&tail=N]");
        return;
    }
    const char *t = evhttp_find_header(&q, "tail");
    const char *w = evhttp_find_header(&q, "workload");
    unsigned long v = t != NULL ? strtoul(t, NULL, 10) : 100u;
    uint32_t tail = (uint32_t)(v > 0 && v <= KUMO_PROVIDER_LOG_TAIL_MAX ? v : 100u);
    kumo_buf_t logs;
    kumo_buf_init(&logs, 16u * 1024u * 1024u);
    kumo_err_ctx_t err = {0};
    int rc = c->be->logs(c->ctx, rq->owner, rq->dseq, w != NULL ? w : "", tail, &logs, &err);
    evhttp_clear_headers(&q);
    if (rc < 0) {
        pd_api_reply_error(out, rc == KUMO_ENOTFOUND ? 404 : 500, rc, err.detail);
    } else {
        api_bytes(out, "text/plain", &logs);
    }
    kumo_buf_free(&logs);
}

/* Every refusal of the routes the providers of a deployment share: one answer, so a stranger
 * cannot tell an unknown deployment, a stale version or a chunk not held from "not yours". */
static void api_peer_refuse(pd_api_reply_t *out)
{
    pd_api_reply_error(out, 404, KUMO_ENOTFOUND, "nothing of this deployment for you here");
}

/* GET .../manifest or .../endpoints (owner or a peer provider of the deployment). */
static void api_peer_get(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    if (c->be->peer_get == NULL ||
        c->be->peer_get(c->ctx, rq->caller, rq->owner, rq->dseq, rq->leaf, &b, &err) < 0) {
        api_peer_refuse(out);
    } else {
        api_bytes(out,
                  strcmp(rq->leaf, "manifest") == 0 ? "application/octet-stream"
                                                    : "application/json",
                  &b);
    }
    kumo_buf_free(&b);
}

/* GET .../manifest-info (owner or a peer provider of the deployment). */
static void api_chunk_info(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    kumo_provider_chunk_info_t info;
    memset(&info, 0, sizeof(info));
    kumo_err_ctx_t err = {0};
    if (c->be->chunk_info == NULL ||
        c->be->chunk_info(c->ctx, rq->caller, rq->owner, rq->dseq, &info, &err) < 0) {
        api_peer_refuse(out);
        return;
    }
    api_json(out, 200, kumo_provider_chunk_info_json(&info));
}

/* "version=<64 hex>&index=N" of a manifest-chunk request; false if malformed. */
static bool
api_chunk_query(const char *query, uint8_t version[KUMO_CRYPTO_HASH_BYTES], uint32_t *index)
{
    struct evkeyvalq q;
    if (query[0] == '\0' || evhttp_parse_query_str(query, &q) != 0) {
        return false;
    }
    const char *hex = evhttp_find_header(&q, "version");
    size_t len = 0;
    uint64_t i = 0;
    bool ok = hex != NULL && evhttp_find_header(&q, "index") != NULL &&
              kumo_codec_hex_decode(hex, version, KUMO_CRYPTO_HASH_BYTES, &len, NULL) == 0 &&
              len == KUMO_CRYPTO_HASH_BYTES && api_query_u64(&q, "index", 0, UINT32_MAX, &i);
    evhttp_clear_headers(&q);
    *index = (uint32_t)i;
    return ok;
}

/* GET .../manifest-chunk?version=<hex>&index=N (owner or a peer provider of the deployment):
 * the chunk's proof hashes then its bytes. */
static void api_chunk_get(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    uint32_t index = 0;
    if (!api_chunk_query(rq->query, version, &index)) {
        pd_api_reply_error(out, 400, KUMO_EDECODE, "expected ?version=<64 hex>&index=N");
        return;
    }
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES);
    kumo_err_ctx_t err = {0};
    if (c->be->chunk_get == NULL ||
        c->be->chunk_get(c->ctx, rq->caller, rq->owner, rq->dseq, version, index, &b, &err) < 0) {
        api_peer_refuse(out);
    } else {
        api_bytes(out, "application/octet-stream", &b);
    }
    kumo_buf_free(&b);
}

/* "version=<64 hex>" of a manifest-have announcement; false if malformed. */
static bool api_have_query(const char *query, uint8_t version[KUMO_CRYPTO_HASH_BYTES])
{
    struct evkeyvalq q;
    if (query[0] == '\0' || evhttp_parse_query_str(query, &q) != 0) {
        return false;
    }
    const char *hex = evhttp_find_header(&q, "version");
    size_t len = 0;
    bool ok = hex != NULL &&
              kumo_codec_hex_decode(hex, version, KUMO_CRYPTO_HASH_BYTES, &len, NULL) == 0 &&
              len == KUMO_CRYPTO_HASH_BYTES;
    evhttp_clear_headers(&q);
    return ok;
}

/* PUT .../manifest-have?version=<hex> (owner or a peer provider of the deployment, no body):
 * the caller holds the manifest at version; 202 when taken as a hint, else the 404 of an
 * unknown manifest. */
static void api_chunk_have(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    if (!api_have_query(rq->query, version) || rq->body.len > 0) {
        pd_api_reply_error(out, 400, KUMO_EDECODE, "expected ?version=<64 hex> and no body");
        return;
    }
    kumo_err_ctx_t err = {0};
    if (c->be->manifest_have == NULL ||
        c->be->manifest_have(c->ctx, rq->caller, rq->owner, rq->dseq, version, &err) < 0) {
        api_peer_refuse(out);
        return;
    }
    api_json(out, 202, json_object());
}

/* "total=N&index=I" of a chunk upload; false if malformed. */
static bool api_chunk_put_query(const char *query, uint64_t *total, uint32_t *index)
{
    struct evkeyvalq q;
    if (query[0] == '\0' || evhttp_parse_query_str(query, &q) != 0) {
        return false;
    }
    uint64_t i = 0;
    bool ok = evhttp_find_header(&q, "total") != NULL && evhttp_find_header(&q, "index") != NULL &&
              api_query_u64(&q, "total", 0, UINT64_MAX, total) &&
              api_query_u64(&q, "index", 0, UINT32_MAX, &i);
    evhttp_clear_headers(&q);
    *index = (uint32_t)i;
    return ok;
}

/* PUT .../manifest-chunk?total=N&index=I (the owner, or a grantee that may upload): one chunk of
 * the deployment's manifest with its proof, as peers serve them. In the order of
 * docs/provider-api.md: the query (400), the declared length within the limit (413, before
 * anything is stored), the body within a proof and a chunk (413), the deployment (404), the
 * split (400), then the backend (proof 422, root 409, lease 422). */
static void api_chunk_put(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    KUMO_ASSERT(rq->path_ok && rq->has_caller); /* pd_api_rq_kind; the owner or its grantee */
    uint64_t total = 0;
    uint32_t index = 0;
    if (!api_chunk_put_query(rq->query, &total, &index)) {
        pd_api_reply_error(out, 400, KUMO_EDECODE, "expected ?total=N&index=N");
        return;
    }
    if (total > KUMO_SDL_MANIFEST_BYTES_MAX) {
        pd_api_reply_error(out, 413, KUMO_ELIMIT, "manifest over 256 MiB");
        return;
    }
    if (c->be->chunk_put == NULL) {
        pd_api_reply_error(out, 501, KUMO_EINVAL, "this provider takes whole manifests only");
        return;
    }
    kumo_provider_deployment_view_t view = {0};
    if (!api_body_and_view(c, rq, out, PD_CHUNK_UPLOAD_BYTES_MAX, "chunk over a proof and 256 KiB",
                           &view)) {
        return;
    }
    uint32_t count = 0;
    kumo_bytes_t proof;
    kumo_bytes_t chunk;
    kumo_err_ctx_t err = {0};
    if (kumo_crypto_merkle_chunk_count(total, &count) != 0 || index >= count ||
        kumo_provider_chunk_reply_split(rq->body, index, count, &proof, &chunk, &err) != 0) {
        pd_api_reply_error(out, 400, KUMO_EDECODE,
                           "expected the chunk's proof hashes then its bytes, index < count");
        return;
    }
    kumo_provider_chunk_put_t put = {0};
    int rc = c->be->chunk_put(c->ctx, rq->owner, rq->dseq, view.version, total, index, proof, chunk,
                              &put, &err);
    if (rc < 0) {
        int status = rc == KUMO_EIO || rc == KUMO_ENOMEM ? 500 : rc == KUMO_EMISMATCH ? 409 : 422;
        pd_api_reply_error(out, status, rc, err.detail);
        return;
    }
    api_json(out, 200,
             json_pack("{s:I, s:I, s:b}", "chunks_held", (json_int_t)put.chunks_held, "chunk_count",
                       (json_int_t)put.chunk_count, "accepted", put.accepted));
}

static void api_status(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    json_t *st = NULL;
    kumo_err_ctx_t err = {0};
    int rc = c->be->status(c->ctx, rq->owner, rq->dseq, &st, &err);
    if (rc < 0) {
        pd_api_reply_error(out, rc == KUMO_ENOTFOUND ? 404 : 500, rc, err.detail);
    } else {
        api_json(out, 200, st);
    }
}

/* GET .../events[?since_ns=N] (the owner, or its grantee): the owner's journal here, whatever
 * the state of its leases (what happened to the containers of an ended lease is kept
 * kept_hours), empty when nothing of the deployment ran here. No node lookup for the owner:
 * the path's owner is the certificate's, and the journal only holds what this provider ran
 * for it. */
static void api_events(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    KUMO_ASSERT(rq->path_ok && rq->has_caller); /* pd_api_rq_kind; the owner or its grantee */
    struct evkeyvalq q;
    uint64_t since = 0;
    bool parsed = rq->query[0] == '\0' || evhttp_parse_query_str(rq->query, &q) == 0;
    bool ok =
        parsed && (rq->query[0] == '\0' || api_query_u64(&q, "since_ns", 0, UINT64_MAX, &since));
    if (parsed && rq->query[0] != '\0') {
        evhttp_clear_headers(&q);
    }
    if (!ok) {
        pd_api_reply_error(out, 400, KUMO_EDECODE, "expected ?since_ns=N");
        return;
    }
    if (c->be->events == NULL) {
        pd_api_reply_error(out, 501, KUMO_EINVAL, "this provider keeps no events");
        return;
    }
    if (rq->body.len > 0) {
        pd_api_reply_error(out, 413, KUMO_ELIMIT, "no body");
        return;
    }
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_PROVIDER_EVENTS_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = c->be->events(c->ctx, rq->owner, rq->dseq, since, &b, &err);
    if (rc < 0) {
        pd_api_reply_error(out, rc == KUMO_ELIMIT ? 413 : 500, rc, err.detail);
    } else {
        api_bytes(out, "text/plain", &b);
    }
    kumo_buf_free(&b);
}

/* PUT .../shell (the caller is the owner, the upgrade was asked for): in the order of
 * docs/provider-api.md. 101 with the started process's stream in out->stream. */
static void api_shell(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    if (c->be->shell_open == NULL) {
        pd_api_reply_error(out, 501, KUMO_EINVAL, "this provider does not open shells");
        return;
    }
    kumo_provider_deployment_view_t view = {0};
    if (!api_body_and_view(c, rq, out, KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX,
                           "shell request over 16 KiB", &view)) {
        return;
    }
    kumo_err_ctx_t err = {0};
    kumo_provider_shell_request_t *req = kumo_calloc(1, sizeof(*req));
    int rc = req == NULL ? kumo_err_set(&err, KUMO_ENOMEM, "shell request")
                         : kumo_provider_shell_request_parse(rq->body, req, &err);
    if (rc < 0) {
        kumo_free(req);
        pd_api_reply_error(out, rc == KUMO_ENOMEM ? 500 : 400, rc, err.detail);
        return;
    }
    kumo_provider_shell_stream_t st = {.fd = -1};
    rc = c->be->shell_open(c->ctx, rq->owner, rq->dseq, req, &st, &err);
    kumo_free(req);
    if (rc < 0) {
        rc = err.code != 0 ? err.code : rc;
        pd_api_reply_error(out,
                           rc == KUMO_ENOTFOUND ? 404
                           : rc == KUMO_EINVAL  ? 409
                                                : 500,
                           rc, err.detail);
        return;
    }
    KUMO_ASSERT(st.fd >= 0);
    out->status = 101;
    out->shell = true;
    out->stream = st;
}

bool pd_api_rq_parse(pd_api_rq_t *rq)
{
    return kumo_provider_api_path_parse(rq->path, rq->owner, &rq->dseq, rq->leaf, sizeof(rq->leaf));
}

pd_api_kind_t pd_api_rq_kind(const pd_api_rq_t *rq)
{
    bool get = !rq->put;
    bool owner = memcmp(rq->caller, rq->owner, KUMO_ADDRESS_BYTES) == 0;
    if (!rq->has_caller) {
        return PD_API_UNAUTH;
    }
    if (!rq->path_ok) {
        return PD_API_BAD_PATH;
    }
    /* The routes a grant may open go to a worker for anyone: pd_api_route asks the node
     * whether a caller that is not the owner holds a grant. */
    if (strcmp(rq->leaf, "manifest") == 0 && rq->put) {
        return PD_API_MANIFEST_PUT;
    }
    if (strcmp(rq->leaf, "manifest-chunk") == 0 && rq->put) {
        return PD_API_CHUNK_PUT;
    }
    if ((strcmp(rq->leaf, "manifest") == 0 || strcmp(rq->leaf, "endpoints") == 0) && get) {
        return PD_API_PEER_GET; /* the owner or a provider of the deployment: the node says */
    }
    if (strcmp(rq->leaf, "manifest-info") == 0 && get) {
        return PD_API_CHUNK_INFO; /* likewise */
    }
    if (strcmp(rq->leaf, "manifest-chunk") == 0 && get) {
        return PD_API_CHUNK_GET; /* likewise */
    }
    if (strcmp(rq->leaf, "manifest-have") == 0 && rq->put) {
        return PD_API_CHUNK_HAVE; /* likewise */
    }
    if (strcmp(rq->leaf, "status") == 0 && get) {
        return PD_API_STATUS;
    }
    if (strcmp(rq->leaf, "logs") == 0 && get) {
        return PD_API_LOGS;
    }
    if (strcmp(rq->leaf, "events") == 0 && get) {
        return PD_API_EVENTS;
    }
    if (!owner) {
        return PD_API_NOT_OWNER; /* a shell is the owner's alone: no grant opens it */
    }
    if (strcmp(rq->leaf, "shell") == 0 && rq->put) {
        return PD_API_SHELL;
    }
    return PD_API_NO_ROUTE;
}

bool pd_api_kind_needs_backend(pd_api_kind_t k)
{
    return k == PD_API_MANIFEST_PUT || k == PD_API_PEER_GET || k == PD_API_STATUS ||
           k == PD_API_LOGS || k == PD_API_SHELL || k == PD_API_EVENTS || k == PD_API_CHUNK_INFO ||
           k == PD_API_CHUNK_GET || k == PD_API_CHUNK_PUT || k == PD_API_CHUNK_HAVE;
}

bool pd_api_kind_is_grantable(pd_api_kind_t k)
{
    return k == PD_API_STATUS || k == PD_API_LOGS || k == PD_API_EVENTS ||
           k == PD_API_MANIFEST_PUT || k == PD_API_CHUNK_PUT;
}

static bool grant_msg_allowed(const kumo_provider_grant_t *g, uint32_t msg_type)
{
    KUMO_ASSERT(g->msg_type_count <= KUMO_GRANT_MSG_TYPE_COUNT_MAX);
    for (uint32_t i = 0; i < g->msg_type_count; i++) {
        if (g->msg_types[i] == msg_type) {
            return true;
        }
    }
    return false;
}

bool pd_api_grantee_allows(const kumo_provider_grants_t *grants,
                           const uint8_t caller[KUMO_ADDRESS_BYTES],
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           pd_api_kind_t k)
{
    KUMO_ASSERT(grants != NULL && caller != NULL && owner != NULL);
    KUMO_ASSERT(grants->count <= KUMO_PROVIDER_GRANT_COUNT_MAX);
    if (!pd_api_kind_is_grantable(k) || memcmp(caller, owner, KUMO_ADDRESS_BYTES) == 0) {
        return false; /* an owner needs no grant; a shell is never granted */
    }
    const kumo_provider_grant_t *one = NULL;
    const kumo_provider_grant_t *all = NULL;
    for (uint32_t i = 0; i < grants->count; i++) {
        const kumo_provider_grant_t *g = &grants->grants[i];
        if (memcmp(g->granter, owner, KUMO_ADDRESS_BYTES) != 0 ||
            memcmp(g->grantee, caller, KUMO_ADDRESS_BYTES) != 0) {
            continue; /* another pair's: never counts */
        }
        if (dseq != 0 && g->dseq == dseq) {
            one = g;
        } else if (g->dseq == 0) {
            all = g;
        }
    }
    const kumo_provider_grant_t *g = one != NULL ? one : all;
    if (g == NULL || grants->height >= g->expiry_height) {
        return false;
    }
    if (k == PD_API_MANIFEST_PUT || k == PD_API_CHUNK_PUT) {
        return grant_msg_allowed(g, KUMO__MSG__SUM_UPDATE_DEPLOYMENT) ||
               (g->dseq == 0 && grant_msg_allowed(g, KUMO__MSG__SUM_SUBMIT_DEPLOYMENT));
    }
    return true;
}

/* A caller that is not the owner, on a route a grant may open: served only with a grant that
 * allows it (the node asked on this worker). Refused with the answer a stranger always got
 * (403), or 503 when the node cannot say: never served without the chain's word. False when
 * answered. */
static bool api_grantee_admit(const pd_api_ctx_t *c,
                              const pd_api_rq_t *rq,
                              pd_api_kind_t k,
                              pd_api_reply_t *out)
{
    KUMO_ASSERT(pd_api_kind_is_grantable(k));
    KUMO_ASSERT(memcmp(rq->caller, rq->owner, KUMO_ADDRESS_BYTES) != 0);
    bool put = k == PD_API_MANIFEST_PUT || k == PD_API_CHUNK_PUT;
    kumo_provider_grants_t grants;
    memset(&grants, 0, sizeof(grants));
    kumo_err_ctx_t err = {0};
    int rc = c->be->grants == NULL
                 ? KUMO_EUNAUTH
                 : c->be->grants(c->ctx, rq->owner, rq->caller, rq->dseq, &grants, &err);
    if (rc == KUMO_EUNAUTH ||
        (rc == 0 && !pd_api_grantee_allows(&grants, rq->caller, rq->owner, rq->dseq, k))) {
        pd_api_reply_error(out, 403, KUMO_EUNAUTH,
                           put ? "only the deployment's owner may send its manifest"
                               : "only the deployment's owner may read it");
        return false;
    }
    if (rc < 0) {
        pd_api_reply_error(out, 503, KUMO_EIO, "cannot ask the node for grants; retry later");
        return false;
    }
    return true;
}

void pd_api_route(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out)
{
    KUMO_ASSERT(c != NULL && c->be != NULL);
    KUMO_ASSERT(rq != NULL && out != NULL);
    pd_api_kind_t k = pd_api_rq_kind(rq);
    KUMO_ASSERT(!pd_api_kind_needs_backend(k) || c->ctx != NULL || c->be->worker_ctx == NULL);
    if (pd_api_kind_is_grantable(k) && memcmp(rq->caller, rq->owner, KUMO_ADDRESS_BYTES) != 0 &&
        !api_grantee_admit(c, rq, k, out)) {
        KUMO_ASSERT(out->status == 403 || out->status == 503);
        return;
    }
    switch (k) {
    case PD_API_UNAUTH:
        pd_api_reply_error(out, 401, KUMO_EUNAUTH,
                           "a client certificate made from your account key is required");
        break;
    case PD_API_BAD_PATH:
        pd_api_reply_error(out, 400, KUMO_EDECODE, "expected /deployments/<owner>/<dseq>/<what>");
        break;
    case PD_API_NOT_OWNER:
        pd_api_reply_error(out, 403, KUMO_EUNAUTH, "only the deployment's owner may read it");
        break;
    case PD_API_MANIFEST_PUT:
        api_manifest(c, rq, out);
        break;
    case PD_API_PEER_GET:
        api_peer_get(c, rq, out);
        break;
    case PD_API_STATUS:
        api_status(c, rq, out);
        break;
    case PD_API_LOGS:
        api_logs(c, rq, out);
        break;
    case PD_API_SHELL:
        api_shell(c, rq, out);
        break;
    case PD_API_EVENTS:
        api_events(c, rq, out);
        break;
    case PD_API_CHUNK_INFO:
        api_chunk_info(c, rq, out);
        break;
    case PD_API_CHUNK_GET:
        api_chunk_get(c, rq, out);
        break;
    case PD_API_CHUNK_PUT:
        api_chunk_put(c, rq, out);
        break;
    case PD_API_CHUNK_HAVE:
        api_chunk_have(c, rq, out);
        break;
    case PD_API_NO_ROUTE:
        pd_api_reply_error(out, 404, KUMO_ENOTFOUND, "no such route");
        break;
    default:
        KUMO_UNREACHABLE();
    }
    KUMO_ASSERT((out->status >= 200 && out->status < 600) || (out->status == 101 && out->shell));
}
