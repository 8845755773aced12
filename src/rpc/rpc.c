/*
 * rpc.c - the HTTP JSON API on evhttp (docs/api.md): connection tracking and caps, routing,
 * query handlers over read snapshots, tx submission with wait=commit, metrics.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "bank/bank.h"
#include "crypto/crypto.h"
#include "log/log.h"
#include "market/market.h"
#include "rpc/rpc_srv.h"

/* BlockResults / Block as stored: a block is bounded, its results by the events it emits. */
#define RPC_RESULTS_BYTES_MAX (256u * 1024u * 1024u)

/* ---- replies -------------------------------------------------------------------------------- */

static const char *status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

static void
reply_text(struct evhttp_request *hreq, int status, const char *ctype, const char *s, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL || evbuffer_add(buf, s, len) != 0) {
        if (buf != NULL) {
            evbuffer_free(buf);
        }
        evhttp_send_error(hreq, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
    evhttp_remove_header(h, "Content-Type");
    (void)evhttp_add_header(h, "Content-Type", ctype);
    /* Everything the API answers is public chain data and it takes no cookies or other
     * credentials, so any page may read it (a tenant's `kumo deploy ui` page does). */
    (void)evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_send_reply(hreq, status, status_reason(status), buf);
    evbuffer_free(buf);
}

void kumo_rpc_reply_json(struct evhttp_request *hreq, int status, json_t *obj)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (s == NULL) {
        kumo_rpc_reply_error(hreq, 500, KUMO_ENOMEM, "rendering the answer failed");
        return;
    }
    reply_text(hreq, status, "application/json", s, strlen(s));
    free(s);
}

void kumo_rpc_reply_error(struct evhttp_request *hreq, int status, int code, const char *detail)
{
    KUMO_ASSERT(status >= 400);
    KUMO_ASSERT(code < 0);
    char *s = kumo_rpc_error_json(code, detail);
    if (s == NULL) {
        evhttp_send_error(hreq, 500, "out of memory");
        return;
    }
    reply_text(hreq, status, "application/json", s, strlen(s));
    free(s);
}

static json_t *u64_json(uint64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof(s), "%" PRIu64, v);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(s));
    return json_string(s);
}

static json_t *hex_json(const uint8_t *p, size_t len)
{
    char s[2u * KUMO_KEY_BYTES_MAX + 1];
    KUMO_ASSERT(len <= KUMO_KEY_BYTES_MAX);
    if (kumo_codec_hex_encode(kumo_bytes_make(p, len), s, sizeof(s)) < 0) {
        return NULL;
    }
    return json_string(s);
}

/* Maps a failure of a read path to its status: not found 404, bad filters 400, else 500. */
static int read_status(int code)
{
    switch (code) {
    case KUMO_ENOTFOUND:
        return 404;
    case KUMO_EINVAL:
    case KUMO_ELIMIT:
    case KUMO_EDECODE:
        return 400;
    default:
        return 500;
    }
}

/* ---- handlers ------------------------------------------------------------------------------- */

static void handle_status(kumo_rpc_t *rpc, struct evhttp_request *hreq)
{
    kumo_node_status_t st;
    kumo_node_status_get(rpc->node, &st);
    char validator[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(st.validator_address, validator);
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "chain_id", json_string(st.chain_id));
        json_object_set_new(o, "moniker", json_string(st.moniker));
        json_object_set_new(o, "height", u64_json(st.height));
        json_object_set_new(o, "app_hash", hex_json(st.app_hash, sizeof(st.app_hash)));
        json_object_set_new(o, "block_hash", hex_json(st.block_hash, sizeof(st.block_hash)));
        json_object_set_new(o, "block_time_ms", u64_json(st.block_time_ms));
        json_object_set_new(o, "mempool_txs", u64_json(st.mempool_tx_count));
        json_object_set_new(o, "mempool_bytes", u64_json(st.mempool_bytes));
        json_object_set_new(o, "validator", json_string(validator));
    }
    kumo_rpc_reply_json(hreq, 200, o);
}

static json_t *events_json(Kumo__Event *const *events, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *e = kumo_codec_json_from_message(&events[i]->base);
        if (e == NULL || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* {"hash","status":"committed","height","index","code","log","fee","events"} of one result. */
static json_t *tx_committed_json(const Kumo__TxResult *r, uint64_t height, uint32_t index)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "hash", hex_json(r->hash.data, r->hash.len));
    json_object_set_new(o, "status", json_string("committed"));
    json_object_set_new(o, "height", u64_json(height));
    json_object_set_new(o, "index", json_integer(index));
    json_object_set_new(o, "code", json_integer(r->code));
    json_object_set_new(o, "log", json_string(r->log));
    json_object_set_new(o, "fee", u64_json(r->fee));
    json_object_set_new(o, "events", events_json(r->events, r->n_events));
    return o;
}

int kumo_rpc_results_get(kumo_rpc_t *rpc,
                         kumo_store_read_t *read,
                         uint64_t height,
                         const Kumo__BlockResults **out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(height > 0);
    if (rpc->cache_res != NULL && rpc->cache_height == height) {
        *out = rpc->cache_res;
        return 0;
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, RPC_RESULTS_BYTES_MAX);
    ProtobufCMessage *m = NULL;
    int rc = kumo_node_results_get(read, height, &buf, err);
    if (rc == 0) {
        rc = kumo_codec_unpack(&kumo__block_results__descriptor, kumo_buf_bytes(&buf), buf.len, &m,
                               err);
    }
    kumo_buf_free(&buf);
    KUMO_GUARD(rc);
    if (rpc->cache_res != NULL) {
        kumo_codec_free(&rpc->cache_res->base);
    }
    rpc->cache_res = (Kumo__BlockResults *)m;
    rpc->cache_height = height;
    *out = rpc->cache_res;
    return 0;
}

/* The committed answer for hash, or KUMO_ENOTFOUND when it is not committed. */
static int tx_lookup(kumo_rpc_t *rpc,
                     kumo_store_read_t *read,
                     const uint8_t *hash,
                     json_t **out,
                     kumo_err_ctx_t *err)
{
    uint64_t height = 0;
    uint32_t index = 0;
    const Kumo__BlockResults *res = NULL;
    KUMO_GUARD(kumo_node_tx_locate(read, hash, &height, &index, err));
    KUMO_GUARD(kumo_rpc_results_get(rpc, read, height, &res, err));
    KUMO_ENSURE(index < res->n_results, err, KUMO_ECORRUPT,
                "tx index %u past %zu results at %" PRIu64, index, res->n_results, height);
    *out = tx_committed_json(res->results[index], height, index);
    KUMO_ENSURE(*out != NULL, err, KUMO_ENOMEM, "rendering the tx");
    return 0;
}

static json_t *tx_pending_json(const uint8_t *hash)
{
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "hash", hex_json(hash, KUMO_CHAIN_HASH_BYTES));
        json_object_set_new(o, "status", json_string("pending"));
    }
    return o;
}

static void handle_tx_get(kumo_rpc_t *rpc, struct evhttp_request *hreq, const kumo_rpc_req_t *req)
{
    kumo_err_ctx_t err = {0};
    json_t *o = NULL;
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc == 0) {
        rc = tx_lookup(rpc, read, req->hash, &o, &err);
        kumo_store_read_end(read);
    }
    if (rc == 0) {
        kumo_rpc_reply_json(hreq, 200, o);
    } else if (rc == KUMO_ENOTFOUND && kumo_node_tx_is_pending(rpc->node, req->hash)) {
        kumo_rpc_reply_json(hreq, 200, tx_pending_json(req->hash));
    } else if (rc == KUMO_ENOTFOUND) {
        kumo_rpc_reply_error(hreq, 404, rc, "tx neither committed nor pending");
    } else {
        kumo_rpc_reply_error(hreq, read_status(rc), rc, err.detail);
    }
}

/* A validator's consensus key and its address, both hex. */
static json_t *validator_json(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES])
{
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(pubkey, addr);
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "address", hex_json(addr, sizeof(addr)));
        json_object_set_new(o, "pubkey", hex_json(pubkey, KUMO_CRYPTO_PUBKEY_BYTES));
    }
    return o;
}

/* The block API's consensus facts (docs/api.md): the proposer, the last commit's signers and
 * the evidence decoded. info NULL (the block did not give them): nulls. */
static void block_info_json(json_t *o, const Kumo__Block *block, const kumo_node_block_info_t *info)
{
    json_t *proposer = info != NULL && info->has_proposer ? validator_json(info->proposer) : NULL;
    json_t *signers = info != NULL ? json_array() : NULL;
    for (size_t i = 0; signers != NULL && i < info->signer_count; i++) {
        json_t *so = validator_json(info->signers[i].pubkey);
        if (so != NULL && json_array_append_new(signers, so) == 0) {
            json_object_set_new(so, "power", json_integer((json_int_t)info->signers[i].power));
            json_object_set_new(so, "signed", json_boolean(info->signers[i].signed_block));
        }
    }
    json_t *ev = info != NULL ? json_array() : NULL;
    for (size_t i = 0; ev != NULL && i < info->evidence_count; i++) {
        json_t *eo = validator_json(info->evidence[i].pubkey);
        char text[1024]; /* evidence (decoded above) is two votes: under 300 bytes */
        if (eo == NULL || json_array_append_new(ev, eo) != 0) {
            continue;
        }
        json_object_set_new(eo, "height", json_integer((json_int_t)info->evidence[i].height));
        json_object_set_new(eo, "round", json_integer((json_int_t)info->evidence[i].round));
        if (kumo_codec_hex_encode(kumo_bytes_make(block->evidence[i].data, block->evidence[i].len),
                                  text, sizeof(text)) == 0) {
            json_object_set_new(eo, "bytes", json_string(text));
        }
    }
    json_object_set_new(o, "proposer", proposer != NULL ? proposer : json_null());
    json_object_set_new(o, "last_commit_signers", signers != NULL ? signers : json_null());
    json_object_set_new(o, "evidence", ev != NULL ? ev : json_null());
}

static json_t *block_json(const Kumo__Block *block,
                          const Kumo__BlockResults *res,
                          const kumo_node_block_info_t *info)
{
    json_t *o = json_object();
    json_t *txs = json_array();
    json_t *results = json_array();
    if (o == NULL || txs == NULL || results == NULL) {
        goto out_fail;
    }
    for (size_t i = 0; i < block->n_txs; i++) {
        uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
        kumo_crypto_sha256(kumo_bytes_make(block->txs[i].data, block->txs[i].len), hash);
        if (json_array_append_new(txs, hex_json(hash, sizeof(hash))) != 0) {
            goto out_fail;
        }
    }
    for (size_t i = 0; i < res->n_results; i++) {
        const Kumo__TxResult *r = res->results[i];
        json_t *ro = json_object();
        if (ro == NULL || json_array_append_new(results, ro) != 0) {
            goto out_fail;
        }
        json_object_set_new(ro, "hash", hex_json(r->hash.data, r->hash.len));
        json_object_set_new(ro, "code", json_integer(r->code));
        json_object_set_new(ro, "log", json_string(r->log));
        json_object_set_new(ro, "events", events_json(r->events, r->n_events));
    }
    json_object_set_new(o, "header",
                        block->header != NULL ? kumo_codec_json_from_message(&block->header->base)
                                              : json_null());
    json_object_set_new(o, "txs", txs);
    json_object_set_new(o, "results", results);
    /* Block-level results (validator set updates reported by the chain at the end of the
     * block) go here, next to the tx results, once the stored results carry them. */
    json_object_set_new(o, "last_commit",
                        block->last_commit != NULL
                            ? kumo_codec_json_from_message(&block->last_commit->base)
                            : json_null());
    block_info_json(o, block, info);
    return o;

out_fail:
    json_decref(o);
    json_decref(txs);
    json_decref(results);
    return NULL;
}

static void
handle_block_get(kumo_rpc_t *rpc, struct evhttp_request *hreq, const kumo_rpc_req_t *req)
{
    uint64_t height = req->height;
    if (req->latest) {
        kumo_node_status_t st;
        kumo_node_status_get(rpc->node, &st);
        height = st.height;
    }
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
        return;
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, RPC_RESULTS_BYTES_MAX);
    ProtobufCMessage *block = NULL;
    const Kumo__BlockResults *res = NULL;
    kumo_node_block_info_t *info = NULL; /* ~14 KiB: not on the stack */
    if (height == 0) {
        rc = kumo_err_set(&err, KUMO_ENOTFOUND, "no block committed yet");
        goto out_read;
    }
    KUMO_GUARD_GOTO(kumo_node_block_get(read, height, &buf, &err), rc, out_read);
    KUMO_GUARD_GOTO(
        kumo_codec_unpack(&kumo__block__descriptor, kumo_buf_bytes(&buf), buf.len, &block, &err),
        rc, out_read);
    KUMO_GUARD_GOTO(kumo_rpc_results_get(rpc, read, height, &res, &err), rc, out_block);
    info = kumo_calloc(1, sizeof(*info));
    if (info != NULL &&
        kumo_node_block_info_get(rpc->node, &kv, (const Kumo__Block *)block, info, &err) < 0) {
        KUMO_LOG_WARN("rpc", "block_info_failed", "height=%" PRIu64 " detail=\"%s\"", height,
                      err.detail);
        kumo_free(info);
        info = NULL;
    }
    kumo_rpc_reply_json(hreq, 200, block_json((const Kumo__Block *)block, res, info));
    kumo_free(info);
out_block:
    kumo_codec_free(block);
out_read:
    kumo_buf_free(&buf);
    kumo_store_read_end(read);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, read_status(rc), rc, err.detail);
    }
}

static void
handle_account_get(kumo_rpc_t *rpc, struct evhttp_request *hreq, const kumo_rpc_req_t *req)
{
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
        return;
    }
    Kumo__Account *acct = NULL;
    rc = kumo_bank_account_get(&kv, req->addr, &acct, &err);
    if (rc == 0) {
        kumo_rpc_reply_json(hreq, 200, kumo_codec_json_from_message(&acct->base));
        kumo_codec_free(&acct->base);
    } else {
        kumo_rpc_reply_error(hreq, read_status(rc), rc, err.detail);
    }
    kumo_store_read_end(read);
}

static void handle_params(kumo_rpc_t *rpc, struct evhttp_request *hreq)
{
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
        return;
    }
    Kumo__Params *p = NULL;
    rc = kumo_market_params_get(&kv, &p, &err);
    if (rc == 0) {
        kumo_rpc_reply_json(hreq, 200, kumo_codec_json_from_message(&p->base));
        kumo_codec_free(&p->base);
    } else {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
    }
    kumo_store_read_end(read);
}

typedef struct list_ctx {
    json_t *items;
} list_ctx_t;

static int list_item(void *cb_ctx, const ProtobufCMessage *obj)
{
    list_ctx_t *ctx = cb_ctx;
    json_t *j = kumo_codec_json_from_message(obj);
    if (j == NULL || json_array_append_new(ctx->items, j) != 0) {
        return KUMO_ENOMEM;
    }
    return 0;
}

static kumo_market_object_t route_object(kumo_rpc_route_t route)
{
    switch (route) {
    case KUMO_RPC_ROUTE_PROVIDER_LIST:
    case KUMO_RPC_ROUTE_PROVIDER_GET:
        return KUMO_MARKET_OBJ_PROVIDER;
    case KUMO_RPC_ROUTE_DEPLOYMENT_LIST:
    case KUMO_RPC_ROUTE_DEPLOYMENT_GET:
        return KUMO_MARKET_OBJ_DEPLOYMENT;
    case KUMO_RPC_ROUTE_GROUP_LIST:
        return KUMO_MARKET_OBJ_GROUP;
    case KUMO_RPC_ROUTE_ORDER_LIST:
        return KUMO_MARKET_OBJ_ORDER;
    case KUMO_RPC_ROUTE_FULFILLMENT_LIST:
        return KUMO_MARKET_OBJ_FULFILLMENT;
    case KUMO_RPC_ROUTE_LEASE_LIST:
        return KUMO_MARKET_OBJ_LEASE;
    case KUMO_RPC_ROUTE_VALIDATOR_LIST:
        return KUMO_MARKET_OBJ_VALIDATOR;
    case KUMO_RPC_ROUTE_AUDIT_LIST:
        return KUMO_MARKET_OBJ_AUDIT;
    case KUMO_RPC_ROUTE_GRANT_LIST:
        return KUMO_MARKET_OBJ_GRANT;
    default:
        KUMO_UNREACHABLE();
    }
}

/* The computed escrow_cover member of GET /deployments/{owner}/{dseq}: how long the escrow
 * lasts from the head height at the current prices (docs/api.md). */
static int deployment_cover_add(kumo_rpc_t *rpc,
                                const kumo_kv_t *kv,
                                const kumo_rpc_req_t *req,
                                json_t *dep,
                                kumo_err_ctx_t *err)
{
    kumo_node_status_t st;
    kumo_node_status_get(rpc->node, &st);
    kumo_market_escrow_cover_t c;
    KUMO_GUARD(kumo_market_escrow_cover_get(kv, req->owner, req->dseq, st.height, &c, err));
    json_t *o = json_object();
    KUMO_ENSURE(o != NULL, err, KUMO_ENOMEM, "escrow_cover");
    json_object_set_new(o, "height", u64_json(c.height));
    json_object_set_new(o, "escrow_left", u64_json(c.left));
    json_object_set_new(o, "owed", u64_json(c.owed));
    json_object_set_new(o, "price_per_block", u64_json(c.price_per_block));
    json_object_set_new(o, "active_leases", u64_json(c.active_lease_count));
    /* Without active leases nothing is spent: null, not a huge number. */
    json_object_set_new(o, "blocks_covered",
                        c.price_per_block == 0 ? json_null() : u64_json(c.blocks_covered));
    json_object_set_new(o, "runs_out_at",
                        c.price_per_block == 0 || c.blocks_covered > UINT64_MAX - c.height
                            ? json_null()
                            : u64_json(c.height + c.blocks_covered));
    json_object_set_new(o, "warn_blocks", u64_json(c.warn_blocks));
    KUMO_ENSURE(json_object_set_new(dep, "escrow_cover", o) == 0, err, KUMO_ENOMEM, "escrow_cover");
    return 0;
}

/* Lists, and the two single-object routes answered by a one-object query. */
static void handle_query(kumo_rpc_t *rpc, struct evhttp_request *hreq, const kumo_rpc_req_t *req)
{
    bool single =
        req->route == KUMO_RPC_ROUTE_PROVIDER_GET || req->route == KUMO_RPC_ROUTE_DEPLOYMENT_GET;
    kumo_market_query_t q = {0};
    q.object = route_object(req->route);
    q.owner = req->has_owner ? req->owner : NULL;
    q.provider = req->has_provider ? req->provider : NULL;
    q.grantee = req->has_grantee ? req->grantee : NULL;
    if (req->route == KUMO_RPC_ROUTE_PROVIDER_GET) {
        q.provider = req->addr;
    }
    q.order = req->has_order ? &req->order : NULL;
    q.dseq = req->dseq;
    q.state = req->state;
    q.limit = single ? 1u : req->limit;
    q.page_key = kumo_bytes_make(req->page, req->page_len);

    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
        return;
    }
    list_ctx_t ctx = {json_array()};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    if (ctx.items == NULL) {
        rc = kumo_err_set(&err, KUMO_ENOMEM, "list");
        goto out;
    }
    KUMO_GUARD_GOTO(kumo_market_query_run(&kv, &q, list_item, &ctx, &next, &err), rc, out);
    if (single) {
        if (json_array_size(ctx.items) == 0) {
            rc = kumo_err_set(&err, KUMO_ENOTFOUND, "no such %s",
                              q.object == KUMO_MARKET_OBJ_PROVIDER ? "provider" : "deployment");
            goto out;
        }
        json_t *obj = json_array_get(ctx.items, 0);
        if (req->route == KUMO_RPC_ROUTE_DEPLOYMENT_GET) {
            KUMO_GUARD_GOTO(deployment_cover_add(rpc, &kv, req, obj, &err), rc, out);
        }
        kumo_rpc_reply_json(hreq, 200, json_incref(obj));
        goto out;
    }
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set(o, "items", ctx.items);
        json_object_set_new(o, "next", next.len > 0 ? hex_json(next.ptr, next.len) : json_null());
    }
    kumo_rpc_reply_json(hreq, 200, o);
out:
    json_decref(ctx.items);
    kumo_buf_free(&next);
    kumo_store_read_end(read);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, read_status(rc), rc, err.detail);
    }
}

/* ---- POST /txs ------------------------------------------------------------------------------ */

void kumo_rpc_waiter_release(rpc_waiter_t *w)
{
    kumo_rpc_t *rpc = w->rpc;
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        rpc->waiters = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    KUMO_ASSERT(rpc->waiter_count > 0);
    rpc->waiter_count--;
    if (w->entry != NULL) {
        KUMO_ASSERT(w->entry->waiter == w);
        w->entry->waiter = NULL;
        kumo_rpc_conn_watch_stop(w->entry);
    }
    event_free(w->timer);
    kumo_free(w);
}

static void waiter_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rpc_waiter_t *w = arg;
    char hash[2u * KUMO_CHAIN_HASH_BYTES + 1];
    KUMO_ASSERT(
        kumo_codec_hex_encode(kumo_bytes_make(w->hash, sizeof(w->hash)), hash, sizeof(hash)) == 0);
    char detail[KUMO_ERR_DETAIL_BYTES];
    (void)snprintf(detail, sizeof(detail), "tx %s not committed in time; it may still commit",
                   hash);
    kumo_rpc_reply_error(w->hreq, 504, KUMO_ENOTFOUND, detail);
    kumo_rpc_waiter_release(w);
}

static void waiters_on_commit(kumo_rpc_t *rpc)
{
    if (rpc->waiters == NULL) {
        return;
    }
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int read_rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (read_rc < 0) {
        KUMO_LOG_ERROR("rpc", "read_failed", "code=%s detail=\"%s\"", kumo_err_name(read_rc),
                       err.detail);
        return; /* the waiters time out */
    }
    rpc_waiter_t *next = NULL;
    for (rpc_waiter_t *w = rpc->waiters; w != NULL; w = next) {
        next = w->next;
        json_t *o = NULL;
        int rc = tx_lookup(rpc, read, w->hash, &o, &err);
        if (rc == KUMO_ENOTFOUND) {
            continue;
        }
        if (rc == 0) {
            kumo_rpc_reply_json(w->hreq, 200, o);
        } else {
            kumo_rpc_reply_error(w->hreq, 500, rc, err.detail);
        }
        kumo_rpc_waiter_release(w);
    }
    kumo_store_read_end(read);
}

static void handle_tx_submit(kumo_rpc_t *rpc,
                             rpc_conn_t *entry,
                             struct evhttp_request *hreq,
                             const kumo_rpc_req_t *req)
{
    kumo_err_ctx_t err = {0};
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    int rc = kumo_node_tx_submit(rpc->node, kumo_bytes_make(req->tx, req->tx_len), hash, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, kumo_rpc_submit_status(rc), rc, err.detail);
        return;
    }
    if (!req->wait_commit) {
        kumo_rpc_reply_json(hreq, 200, tx_pending_json(hash));
        return;
    }
    KUMO_ASSERT(entry->waiter == NULL && entry->sse == NULL);
    rpc_waiter_t *w = kumo_calloc(1, sizeof(*w));
    struct event *timer = w != NULL ? evtimer_new(rpc->base, waiter_on_timeout, w) : NULL;
    struct timeval tv = {(time_t)(req->timeout_ms / 1000u),
                         (suseconds_t)((req->timeout_ms % 1000u) * 1000u)};
    if (timer == NULL || evtimer_add(timer, &tv) != 0) {
        if (timer != NULL) {
            event_free(timer);
        }
        kumo_free(w);
        kumo_rpc_reply_error(hreq, 503, KUMO_ENOMEM, "cannot wait for the commit; tx is pending");
        return;
    }
    w->rpc = rpc;
    w->entry = entry;
    w->hreq = hreq;
    w->timer = timer;
    memcpy(w->hash, hash, sizeof(hash));
    w->next = rpc->waiters;
    if (rpc->waiters != NULL) {
        rpc->waiters->prev = w;
    }
    rpc->waiters = w;
    rpc->waiter_count++;
    entry->waiter = w;
    kumo_rpc_conn_watch_start(entry);
    /* the reply may come after evhttp's idle timeout: stretch it for this connection */
    evhttp_connection_set_timeout(entry->conn,
                                  (int)(req->timeout_ms / 1000u) + KUMO_RPC_IDLE_TIMEOUT_S);
}

/* ---- metrics -------------------------------------------------------------------------------- */

static void
metric(struct evbuffer *b, const char *name, const char *type, const char *help, const char *value)
{
    (void)evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type,
                              name, value);
}

static void
metric_u64(struct evbuffer *b, const char *name, const char *type, const char *help, uint64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof(s), "%" PRIu64, v);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(s));
    metric(b, name, type, help, s);
}

static void metrics_p2p(struct evbuffer *b, const kumo_node_status_t *st)
{
    metric_u64(b, "kumo_p2p_peers", "gauge", "Connected peers.", st->p2p_peers);
    metric_u64(b, "kumo_p2p_strangers", "gauge",
               "Inbound connections past TLS that are not persistent peers.", st->p2p_strangers);
    metric_u64(b, "kumo_p2p_pending", "gauge", "Peer connections in the handshake.",
               st->p2p_pending);
    metric_u64(b, "kumo_p2p_refused_total", "counter",
               "Inbound peer connections refused by the caps or a ban.", st->p2p_refused_total);
    metric_u64(b, "kumo_p2p_evicted_total", "counter",
               "Pending peer connections evicted by newer ones.", st->p2p_evicted_total);
    metric_u64(b, "kumo_p2p_idle_dropped_total", "counter",
               "Strangers dropped for sending nothing useful in time.", st->p2p_idle_dropped_total);
    metric_u64(b, "kumo_p2p_bans_total", "counter", "Peers banned for their score.",
               st->p2p_bans_total);
    metric_u64(b, "kumo_p2p_disconnects_bad_total", "counter",
               "Peers dropped for protocol violations or bad messages.",
               st->p2p_disconnects_bad_total);
}

static void handle_metrics(kumo_rpc_t *rpc, struct evhttp_request *hreq)
{
    kumo_node_status_t st;
    kumo_node_status_get(rpc->node, &st);
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        kumo_rpc_reply_error(hreq, 500, KUMO_ENOMEM, "metrics");
        return;
    }
    char dur[32];
    char interval[32];
    KUMO_ASSERT(kumo_rpc_seconds_format(st.block_duration_us, dur, sizeof(dur)));
    KUMO_ASSERT(kumo_rpc_seconds_format((uint64_t)rpc->cfg.block_interval_ms * 1000u, interval,
                                        sizeof(interval)));
    metric_u64(b, "kumo_height", "gauge", "Height of the last committed block.", st.height);
    metric(b, "kumo_block_duration_seconds", "gauge",
           "Time the last block took to build and commit.", dur);
    metric(b, "kumo_block_interval_seconds", "gauge", "Configured block interval.", interval);
    metric_u64(b, "kumo_mempool_txs", "gauge", "Txs waiting in the mempool.", st.mempool_tx_count);
    metric_u64(b, "kumo_mempool_bytes", "gauge", "Bytes of txs in the mempool.", st.mempool_bytes);
    metric_u64(b, "kumo_mempool_lane_txs", "gauge",
               "Lease confirmations in the mempool (their own room).", st.mempool_lane_tx_count);
    metric_u64(b, "kumo_mempool_evicted_total", "counter",
               "Txs evicted from the full mempool by txs paying more per byte.",
               st.mempool_evicted_total);
    metric_u64(b, "kumo_txs_committed_total", "counter", "Txs committed in blocks.",
               st.txs_committed_total);
    metric_u64(b, "kumo_txs_rejected_total", "counter", "Txs the mempool refused.",
               st.txs_rejected_total);
    metric_u64(b, "kumo_open_orders", "gauge", "Open orders in state.", st.open_orders);
    metric_u64(b, "kumo_active_leases", "gauge", "Active leases in state.", st.active_leases);
    metric_u64(b, "kumo_rpc_requests_total", "counter", "HTTP requests received.",
               rpc->requests_total);
    metric_u64(b, "kumo_rpc_connections", "gauge", "Open HTTP connections.", rpc->conn_count);
    metric_u64(b, "kumo_rpc_connections_refused_total", "counter",
               "HTTP connections closed at accept (address cap, or the cap with none idle).",
               rpc->conn_refused_total);
    metric_u64(b, "kumo_rpc_connections_evicted_total", "counter",
               "Idle HTTP connections closed to make room for a new one.", rpc->conn_evicted_total);
    metric_u64(b, "kumo_rpc_request_timeouts_total", "counter",
               "HTTP connections closed for not sending a whole request in time.",
               rpc->request_timeouts_total);
    metric_u64(b, "kumo_rpc_commit_waiters", "gauge", "Requests waiting for their tx to commit.",
               rpc->waiter_count);
    metric_u64(b, "kumo_sse_clients", "gauge", "Connected event stream clients.", rpc->sse_count);
    metric_u64(b, "kumo_sse_dropped_total", "counter", "Event stream clients dropped as too slow.",
               rpc->sse_dropped_total);
    metrics_p2p(b, &st);
    struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
    (void)evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(hreq, 200, "OK", b);
    evbuffer_free(b);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static kumo_rpc_method_t method_of(struct evhttp_request *hreq)
{
    switch (evhttp_request_get_command(hreq)) {
    case EVHTTP_REQ_GET:
        return KUMO_RPC_METHOD_GET;
    case EVHTTP_REQ_POST:
        return KUMO_RPC_METHOD_POST;
    default:
        return KUMO_RPC_METHOD_OTHER;
    }
}

static void
dispatch(kumo_rpc_t *rpc, rpc_conn_t *entry, struct evhttp_request *hreq, const kumo_rpc_req_t *req)
{
    switch (req->route) {
    case KUMO_RPC_ROUTE_STATUS:
        handle_status(rpc, hreq);
        break;
    case KUMO_RPC_ROUTE_TX_SUBMIT:
        handle_tx_submit(rpc, entry, hreq, req);
        break;
    case KUMO_RPC_ROUTE_TX_GET:
        handle_tx_get(rpc, hreq, req);
        break;
    case KUMO_RPC_ROUTE_BLOCK_GET:
        handle_block_get(rpc, hreq, req);
        break;
    case KUMO_RPC_ROUTE_ACCOUNT_GET:
        handle_account_get(rpc, hreq, req);
        break;
    case KUMO_RPC_ROUTE_PROVIDER_LIST:
    case KUMO_RPC_ROUTE_PROVIDER_GET:
    case KUMO_RPC_ROUTE_DEPLOYMENT_LIST:
    case KUMO_RPC_ROUTE_DEPLOYMENT_GET:
    case KUMO_RPC_ROUTE_GROUP_LIST:
    case KUMO_RPC_ROUTE_ORDER_LIST:
    case KUMO_RPC_ROUTE_FULFILLMENT_LIST:
    case KUMO_RPC_ROUTE_LEASE_LIST:
    case KUMO_RPC_ROUTE_VALIDATOR_LIST:
    case KUMO_RPC_ROUTE_AUDIT_LIST:
    case KUMO_RPC_ROUTE_GRANT_LIST:
        handle_query(rpc, hreq, req);
        break;
    case KUMO_RPC_ROUTE_PARAMS:
        handle_params(rpc, hreq);
        break;
    case KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST:
    case KUMO_RPC_ROUTE_STAKING_GET:
        kumo_rpc_staking_handle(rpc, hreq, req);
        break;
    case KUMO_RPC_ROUTE_EVENTS:
        kumo_rpc_sse_start(rpc, entry, hreq, req);
        break;
    case KUMO_RPC_ROUTE_METRICS:
        handle_metrics(rpc, hreq);
        break;
    case KUMO_RPC_ROUTE_NONE:
    default:
        KUMO_UNREACHABLE();
    }
}

static void on_request(struct evhttp_request *hreq, void *arg)
{
    kumo_rpc_t *rpc = arg;
    rpc->requests_total++;
    rpc_conn_t *entry = kumo_rpc_conn_on_request(rpc, hreq);
    if (entry == NULL) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(hreq), "Connection", "close");
        kumo_rpc_reply_error(hreq, 503, KUMO_ELIMIT, "too many connections");
        return;
    }
    if (entry->waiter != NULL || entry->sse != NULL) {
        /* a pipelined request behind a parked one: evhttp answers in order, refuse it */
        kumo_rpc_reply_error(hreq, 400, KUMO_EINVAL, "request pipelined behind a parked one");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(hreq);
    if (kumo_rpc_ui_handle(rpc, hreq, uri != NULL ? evhttp_uri_get_path(uri) : NULL)) {
        return;
    }
    struct evkeyvalq *in_h = evhttp_request_get_input_headers(hreq);
    struct evbuffer *body = evhttp_request_get_input_buffer(hreq);
    size_t body_len = evbuffer_get_length(body);
    kumo_rpc_raw_t raw = {
        .method = method_of(hreq),
        .path = uri != NULL ? evhttp_uri_get_path(uri) : NULL,
        .query = uri != NULL ? evhttp_uri_get_query(uri) : NULL,
        .content_type = evhttp_find_header(in_h, "Content-Type"),
        .last_event_id = evhttp_find_header(in_h, "Last-Event-ID"),
        .body = kumo_bytes_make(body_len > 0 ? evbuffer_pullup(body, -1) : NULL, body_len),
        .body_bytes_max = rpc->cfg.rpc_body_bytes_max,
    };
    kumo_rpc_req_t *req = rpc->req;
    kumo_err_ctx_t err = {0};
    int rc = kumo_rpc_req_parse(&raw, req, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, req->status, rc, err.detail);
        return;
    }
    dispatch(rpc, entry, hreq, req);
}

static void on_commit(void *ctx, uint64_t height)
{
    kumo_rpc_t *rpc = ctx;
    (void)height;
    waiters_on_commit(rpc);
    kumo_rpc_sse_on_commit(rpc);
}

/* ---- open / close --------------------------------------------------------------------------- */

static int listen_parse(const char *text, char host[128], uint16_t *port, kumo_err_ctx_t *err)
{
    const char *colon = strrchr(text, ':');
    KUMO_ENSURE(colon != NULL && colon != text && (size_t)(colon - text) < 128, err, KUMO_EINVAL,
                "rpc_listen '%.64s': want host:port", text);
    uint64_t p = 0;
    KUMO_ENSURE(kumo_rpc_u64_parse(colon + 1, UINT16_MAX, &p) == 0, err, KUMO_EINVAL,
                "rpc_listen '%.64s': bad port", text);
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int bound_port(struct evhttp_bound_socket *sock, uint16_t *out, kumo_err_ctx_t *err)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);
    KUMO_ENSURE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0, err, KUMO_EIO,
                "getsockname failed");
    if (ss.ss_family == AF_INET) {
        *out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        *out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        return kumo_err_set(err, KUMO_EIO, "unexpected socket family");
    }
    return 0;
}

int kumo_rpc_open(struct event_base *base,
                  kumo_node_t *node,
                  const kumo_node_cfg_t *cfg,
                  kumo_rpc_t **out,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(base != NULL && node != NULL && cfg != NULL);
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(cfg->rpc_connection_max > 0 && cfg->rpc_connection_per_addr_max > 0 &&
                    cfg->rpc_request_timeout_ms > 0 && cfg->sse_output_bytes_max > 0 &&
                    cfg->sse_stall_timeout_ms > 0 && cfg->rpc_body_bytes_max > 0 &&
                    cfg->rpc_body_bytes_max <= UINT32_MAX / 4u,
                err, KUMO_EINVAL, "rpc limits must be positive");
    char host[128];
    uint16_t port = 0;
    KUMO_GUARD(listen_parse(cfg->rpc_listen, host, &port, err));

    int rc = 0;
    kumo_rpc_t *rpc = kumo_calloc(1, sizeof(*rpc));
    KUMO_ENSURE(rpc != NULL, err, KUMO_ENOMEM, "rpc");
    rpc->base = base;
    rpc->node = node;
    rpc->cfg = *cfg;
    rpc->sse_output_max = cfg->sse_output_bytes_max;
    /* replay pauses well before the drop bound */
    rpc->sse_replay_soft = KUMO_RPC_SSE_REPLAY_BYTES_SOFT < cfg->sse_output_bytes_max / 4u
                               ? KUMO_RPC_SSE_REPLAY_BYTES_SOFT
                               : cfg->sse_output_bytes_max / 4u;
    rpc->req = kumo_alloc(sizeof(*rpc->req));
    rpc->http = evhttp_new(base);
    if (rpc->req == NULL || rpc->http == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "rpc server");
        goto out_free;
    }
    /* libevent's own 413 (plain text) only past twice our limit; between the two the handler
     * answers with the documented JSON error, so memory per request stays bounded either way */
    evhttp_set_max_body_size(rpc->http, (ev_ssize_t)cfg->rpc_body_bytes_max * 2 + 1024);
    evhttp_set_max_headers_size(rpc->http, KUMO_RPC_HEADERS_BYTES_MAX);
    evhttp_set_timeout(rpc->http, KUMO_RPC_IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(rpc->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(rpc->http, on_request, rpc);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(rpc->http, host, port);
    if (sock == NULL) {
        rc = kumo_err_set(err, KUMO_EIO, "cannot listen on %s", cfg->rpc_listen);
        goto out_free;
    }
    KUMO_GUARD_GOTO(bound_port(sock, &rpc->port, err), rc, out_free);
    KUMO_GUARD_GOTO(kumo_rpc_conns_start(rpc, sock, err), rc, out_free);
    KUMO_GUARD_GOTO(kumo_node_commit_listen(node, on_commit, rpc, &rpc->listen_id, err), rc,
                    out_free);
    rpc->listening = true;
    KUMO_GUARD_GOTO(kumo_rpc_sse_keepalive_start(rpc, err), rc, out_free);
    KUMO_LOG_INFO("rpc", "listening", "addr=%s port=%u connection_max=%u", host,
                  (unsigned)rpc->port, rpc->conn_max);
    *out = rpc;
    return 0;

out_free:
    kumo_rpc_close(rpc);
    return rc;
}

uint16_t kumo_rpc_port(const kumo_rpc_t *rpc)
{
    KUMO_ASSERT(rpc != NULL);
    return rpc->port;
}

void kumo_rpc_close(kumo_rpc_t *rpc)
{
    if (rpc == NULL) {
        return;
    }
    if (rpc->listening) {
        kumo_node_commit_unlisten(rpc->node, rpc->listen_id);
    }
    if (rpc->keepalive != NULL) {
        event_free(rpc->keepalive);
    }
    kumo_rpc_conns_stop(rpc);
    KUMO_ASSERT(rpc->waiters == NULL);
    KUMO_ASSERT(rpc->sses == NULL);
    if (rpc->cache_res != NULL) {
        kumo_codec_free(&rpc->cache_res->base);
    }
    kumo_free(rpc->req);
    kumo_free(rpc);
}
