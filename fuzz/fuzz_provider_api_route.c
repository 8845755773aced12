/*
 * fuzz_provider_api_route.c - the provider API's routes (pd_api_route) over arbitrary requests,
 * so every query parser behind them (manifest-chunk's version and index, manifest-have's
 * version, a chunk upload's total and index, logs' workload, tail, since_ns and limit,
 * events' since_ns, a shell's command) and the checks before the backend see hostile input.
 * The backend is a stand-in that knows the deployment (a lease here, a fixed version) and
 * answers every call with "not found" or nothing. Every answer must be an HTTP status of the
 * documented kinds with a body within its buffer.
 *
 * Input: byte 0 flags (bit 0 PUT, bit 1 a caller certificate, bit 2 the caller is the owner,
 * bit 3 an upgrade, bits 4-7 the leaf from the table below, 15: the whole path from the
 * input), then the query (or path) up to the first '\n', then the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "provider/api_int.h"

static const char *const fz_leaves[] = {
    "manifest",
    "manifest-chunk",
    "manifest-info",
    "manifest-have",
    "status",
    "logs",
    "events",
    "endpoints",
    "shell",
    "links",
    "manifest-chunk",
    "logs",
    "x",
    "",
    "manifest-have",
};

static const uint8_t fz_owner[KUMO_ADDRESS_BYTES] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                     11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

static int fz_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)err;
    memset(view, 0, sizeof(*view));
    view->known = memcmp(owner, fz_owner, KUMO_ADDRESS_BYTES) == 0 && dseq == 7u;
    view->has_lease = view->known;
    memset(view->version, 0xab, sizeof(view->version));
    return 0;
}

static int fz_not_found(kumo_err_ctx_t *err)
{
    return kumo_err_set(err, KUMO_ENOTFOUND, "nothing here");
}

static int fz_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t manifest,
                     kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)manifest;
    return fz_not_found(err);
}

static int fz_status(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     json_t **out,
                     kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq;
    *out = NULL;
    return fz_not_found(err);
}

static int fz_logs(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   const char *workload,
                   uint32_t tail,
                   kumo_buf_t *out,
                   kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)workload, (void)tail, (void)out;
    return fz_not_found(err);
}

static int fz_log_lines(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const char *workload,
                        uint64_t since_ns,
                        uint32_t tail,
                        uint32_t limit,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)workload, (void)since_ns, (void)tail, (void)limit,
        (void)out;
    return fz_not_found(err);
}

static int fz_events(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     uint64_t since_ns,
                     kumo_buf_t *out,
                     kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)since_ns, (void)out;
    return fz_not_found(err);
}

static int fz_peer_get(void *ctx,
                       const uint8_t caller[KUMO_ADDRESS_BYTES],
                       const uint8_t owner[KUMO_ADDRESS_BYTES],
                       uint64_t dseq,
                       const char *what,
                       kumo_buf_t *out,
                       kumo_err_ctx_t *err)
{
    (void)ctx, (void)caller, (void)owner, (void)dseq, (void)what, (void)out;
    return fz_not_found(err);
}

static int fz_chunk_info(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         kumo_provider_chunk_info_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx, (void)caller, (void)owner, (void)dseq, (void)out;
    return fz_not_found(err);
}

static int fz_chunk_get(void *ctx,
                        const uint8_t caller[KUMO_ADDRESS_BYTES],
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint32_t index,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx, (void)caller, (void)owner, (void)dseq, (void)version, (void)index, (void)out;
    return fz_not_found(err);
}

static int fz_chunk_put(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        uint64_t total_bytes,
                        uint32_t index,
                        kumo_bytes_t proof,
                        kumo_bytes_t chunk,
                        kumo_provider_chunk_put_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)version, (void)total_bytes, (void)index, (void)proof,
        (void)chunk, (void)out;
    return fz_not_found(err);
}

static int fz_shell_open(void *ctx,
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         const struct kumo_provider_shell_request *rq,
                         kumo_provider_shell_stream_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)dseq, (void)rq, (void)out;
    return fz_not_found(err);
}

static int fz_grants(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     const uint8_t grantee[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_provider_grants_t *out,
                     kumo_err_ctx_t *err)
{
    (void)ctx, (void)owner, (void)grantee, (void)dseq, (void)err;
    memset(out, 0, sizeof(*out));
    out->height = 10;
    return 0;
}

static int fz_have(void *ctx,
                   const uint8_t caller[KUMO_ADDRESS_BYTES],
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                   kumo_err_ctx_t *err)
{
    (void)ctx, (void)caller, (void)owner, (void)dseq, (void)version;
    return fz_not_found(err);
}

static const kumo_provider_api_backend_t fz_backend = {
    .deployment_view = fz_view,
    .manifest_accept = fz_accept,
    .status = fz_status,
    .logs = fz_logs,
    .log_lines = fz_log_lines,
    .events = fz_events,
    .peer_get = fz_peer_get,
    .chunk_info = fz_chunk_info,
    .chunk_get = fz_chunk_get,
    .shell_open = fz_shell_open,
    .chunk_put = fz_chunk_put,
    .grants = fz_grants,
    .manifest_have = fz_have,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t flags = data[0];
    const uint8_t *text = data + 1;
    size_t rest = size - 1;
    const uint8_t *nl = memchr(text, '\n', rest);
    size_t head = nl != NULL ? (size_t)(nl - text) : rest;
    kumo_bytes_t body =
        nl != NULL ? kumo_bytes_make(nl + 1, rest - head - 1) : kumo_bytes_make(NULL, 0);

    pd_api_rq_t rq;
    memset(&rq, 0, sizeof(rq));
    rq.put = (flags & 1u) != 0;
    rq.has_caller = (flags & 2u) != 0;
    rq.upgrade = (flags & 8u) != 0;
    memset(rq.caller, 0x55, sizeof(rq.caller));
    if ((flags & 4u) != 0) {
        memcpy(rq.caller, fz_owner, sizeof(rq.caller));
    }
    uint32_t leaf = flags >> 4;
    if (leaf == 15u) {
        size_t n = head < sizeof(rq.path) - 1u ? head : sizeof(rq.path) - 1u;
        memcpy(rq.path, text, n);
    } else {
        char owner[KUMO_ADDRESS_TEXT_BYTES];
        kumo_codec_address_encode(fz_owner, owner);
        (void)snprintf(rq.path, sizeof(rq.path), "/deployments/%s/7/%s", owner, fz_leaves[leaf]);
        size_t n = head < sizeof(rq.query) - 1u ? head : sizeof(rq.query) - 1u;
        memcpy(rq.query, text, n);
    }
    rq.body = body.ptr != NULL ? body : kumo_bytes_make((const uint8_t *)"", 0);
    (void)pd_api_rq_parse(&rq);

    pd_api_reply_t reply;
    memset(&reply, 0, sizeof(reply));
    kumo_buf_init(&reply.body, 1u << 20);
    pd_api_ctx_t c = {.be = &fz_backend, .ctx = NULL};
    pd_api_route(&c, &rq, &reply);
    if (reply.status < 100 || reply.status > 599 || reply.body.len > (1u << 20) || reply.shell) {
        abort();
    }
    kumo_buf_free(&reply.body);
    return 0;
}
