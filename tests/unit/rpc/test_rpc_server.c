/*
 * test_rpc_server.c - a real node on a temp home with the HTTP API on 127.0.0.1:<ephemeral>,
 * driven over loopback by libevent's HTTP client on the same loop: every route's happy path, a
 * marketplace lifecycle through POST /txs?wait=commit, the bad-input table (each a status and
 * a code, the node still serving and no state changed), pagination covering a list exactly
 * once, SSE order, filters and resume without loss or duplicates, connection and SSE caps,
 * metrics. No sleeps: the loop runs until a condition holds, with a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "chain/chain.h"
#include "crypto/crypto.h"
#include "helpers/testutil.h"
#include "log/log.h"
#include "node/node.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

#define CHAIN_ID     "kumo-rpc-test"
#define DEADLINE_MS  30000u
#define PROVIDER_MAX 5u
#define FEE          1000u

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

typedef struct actor {
    kumo_crypto_keypair_t kp;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char text[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t seq;
} actor_t;

typedef struct fx {
    char *home;
    struct event_base *base;
    kumo_node_cfg_t cfg;
    kumo_node_t *node;
    kumo_rpc_t *rpc;
    uint16_t port;
    actor_t tenant;
    actor_t prov[PROVIDER_MAX];
} fx_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop until *flag, failing past the deadline (a hang, never a timing assertion). */
static void loop_until(fx_t *fx, const bool *flag)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (!*flag) {
        if (now_ms() > deadline) {
            fail_msg("condition not reached before the deadline");
        }
        assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0);
    }
}

static void actor_make(actor_t *a, uint32_t i)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
    seed[0] = 0x77;
    seed[1] = (uint8_t)i;
    kumo_crypto_key_from_seed(seed, &a->kp);
    kumo_crypto_address_from_pubkey(a->kp.pubkey, a->addr);
    kumo_codec_address_encode(a->addr, a->text);
    a->seq = 0;
}

static void fx_open(fx_t *fx, uint32_t conn_max, uint32_t sse_max, uint32_t interval_ms)
{
    memset(fx, 0, sizeof(*fx));
    kumo_log_level_set(KUMO_LOG_LEVEL_ERROR);
    fx->home = kumo_test_tmpdir_make("rpc");
    kumo_err_ctx_t err = {0};
    if (kumo_node_home_init(fx->home, CHAIN_ID, "rpc-test", &err) != 0) {
        fail_msg("home init: %s", err.detail);
    }
    actor_make(&fx->tenant, 0);
    assert_int_equal(kumo_node_genesis_account_add(fx->home, fx->tenant.addr, 1000000000000u, &err),
                     0);
    for (uint32_t i = 0; i < PROVIDER_MAX; i++) {
        actor_make(&fx->prov[i], i + 1);
        assert_int_equal(
            kumo_node_genesis_account_add(fx->home, fx->prov[i].addr, 1000000000000u, &err), 0);
    }
    if (kumo_node_cfg_load(fx->home, &fx->cfg, &err) != 0) {
        fail_msg("cfg load: %s", err.detail);
    }
    (void)snprintf(fx->cfg.rpc_listen, sizeof(fx->cfg.rpc_listen), "127.0.0.1:0");
    fx->cfg.block_interval_ms = interval_ms;
    fx->cfg.rpc_connection_max = conn_max;
    fx->cfg.sse_client_max = sse_max;
    fx->base = event_base_new();
    assert_non_null(fx->base);
    if (kumo_node_open(&fx->cfg, fx->base, &fx->node, &err) != 0) {
        fail_msg("node open: %s", err.detail);
    }
    if (kumo_rpc_open(fx->base, fx->node, &fx->cfg, &fx->rpc, &err) != 0) {
        fail_msg("rpc open: %s", err.detail);
    }
    fx->port = kumo_rpc_port(fx->rpc);
    assert_int_not_equal(fx->port, 0);
}

static void fx_close(fx_t *fx)
{
    kumo_rpc_close(fx->rpc);
    kumo_node_close(fx->node);
    event_base_free(fx->base);
    kumo_test_tmpdir_remove(fx->home);
}

/* ---- HTTP client ---------------------------------------------------------------------------- */

typedef struct resp {
    bool done;
    int status;
    char *body;
    size_t len;
    char last_id[64];
    char csp[KUMO_RPC_UI_CSP_BYTES_MAX]; /* Content-Security-Policy answered, if any */
    char location[64];                   /* Location answered, if any */
    char ctype[64];                      /* Content-Type answered */
} resp_t;

static void resp_on_done(struct evhttp_request *r, void *arg)
{
    resp_t *x = arg;
    x->done = true;
    if (r == NULL) {
        return;
    }
    x->status = evhttp_request_get_response_code(r);
    struct evkeyvalq *h = evhttp_request_get_input_headers(r);
    const char *csp = evhttp_find_header(h, "Content-Security-Policy");
    const char *loc = evhttp_find_header(h, "Location");
    const char *ctype = evhttp_find_header(h, "Content-Type");
    (void)snprintf(x->csp, sizeof(x->csp), "%s", csp != NULL ? csp : "");
    (void)snprintf(x->location, sizeof(x->location), "%s", loc != NULL ? loc : "");
    (void)snprintf(x->ctype, sizeof(x->ctype), "%s", ctype != NULL ? ctype : "");
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t n = evbuffer_get_length(in);
    x->body = realloc(x->body, x->len + n + 1);
    assert_non_null(x->body);
    assert_int_equal(evbuffer_remove(in, x->body + x->len, n), (int)n);
    x->len += n;
    x->body[x->len] = '\0';
}

static struct evhttp_connection *conn_new(fx_t *fx)
{
    struct evhttp_connection *c = evhttp_connection_base_new(fx->base, NULL, "127.0.0.1", fx->port);
    assert_non_null(c);
    return c;
}

/* Sends a request; out->done is set when its answer (or the connection's end) arrives. */
static void request_start(struct evhttp_connection *c,
                          enum evhttp_cmd_type cmd,
                          const char *uri,
                          const char *ctype,
                          const char *body,
                          size_t body_len,
                          resp_t *out)
{
    memset(out, 0, sizeof(*out));
    struct evhttp_request *r = evhttp_request_new(resp_on_done, out);
    assert_non_null(r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    assert_int_equal(evhttp_add_header(h, "Host", "127.0.0.1"), 0);
    if (ctype != NULL) {
        assert_int_equal(evhttp_add_header(h, "Content-Type", ctype), 0);
    }
    if (body != NULL) {
        assert_int_equal(evbuffer_add(evhttp_request_get_output_buffer(r), body, body_len), 0);
    }
    assert_int_equal(evhttp_make_request(c, r, cmd, uri), 0);
}

static void request_on(fx_t *fx,
                       struct evhttp_connection *c,
                       enum evhttp_cmd_type cmd,
                       const char *uri,
                       const char *ctype,
                       const char *body,
                       size_t body_len,
                       resp_t *out)
{
    request_start(c, cmd, uri, ctype, body, body_len, out);
    loop_until(fx, &out->done);
}

static void request(fx_t *fx,
                    enum evhttp_cmd_type cmd,
                    const char *uri,
                    const char *ctype,
                    const char *body,
                    size_t body_len,
                    resp_t *out)
{
    struct evhttp_connection *c = conn_new(fx);
    request_on(fx, c, cmd, uri, ctype, body, body_len, out);
    evhttp_connection_free(c);
}

/* GET uri expecting want_status; returns the parsed JSON body. */
static json_t *get_json(fx_t *fx, const char *uri, int want_status)
{
    resp_t r;
    request(fx, EVHTTP_REQ_GET, uri, NULL, NULL, 0, &r);
    if (r.status != want_status) {
        fail_msg("GET %s: status %d, want %d: %s", uri, r.status, want_status,
                 r.body != NULL ? r.body : "");
    }
    json_error_t jerr;
    json_t *j = json_loadb(r.body, r.len, 0, &jerr);
    if (j == NULL) {
        fail_msg("GET %s: not JSON: %s", uri, r.body != NULL ? r.body : "");
    }
    free(r.body);
    return j;
}

/* Asserts an error body {"error": {"code": code, "name", "message", "detail"}}. */
static void assert_error(const resp_t *r, int status, int code, const char *what)
{
    json_t *j = r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    if (r->status != status || !json_is_integer(json_object_get(e, "code")) ||
        json_integer_value(json_object_get(e, "code")) != code ||
        !json_is_string(json_object_get(e, "name")) ||
        !json_is_string(json_object_get(e, "message")) ||
        !json_is_string(json_object_get(e, "detail"))) {
        fail_msg("%s: got %d %s, want %d %s", what, r->status, r->body != NULL ? r->body : "",
                 status, kumo_err_name(code));
    }
    assert_string_equal(json_string_value(json_object_get(e, "name")), kumo_err_name(code));
    json_decref(j);
}

static uint64_t json_u64(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL) {
        fail_msg("missing string field %s", key);
    }
    return strtoull(s, NULL, 10);
}

static uint64_t height_now(fx_t *fx)
{
    json_t *st = get_json(fx, "/status", 200);
    uint64_t h = json_u64(st, "height");
    json_decref(st);
    return h;
}

/* Waits until the head is at least h, answering status requests meanwhile. */
static void height_wait(fx_t *fx, uint64_t h)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (height_now(fx) < h) {
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0);
    }
}

/* ---- txs ------------------------------------------------------------------------------------ */

static void tx_make(const char *chain_id,
                    actor_t *a,
                    uint64_t seq,
                    uint64_t fee,
                    const Kumo__Msg *msg,
                    kumo_buf_t *out)
{
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    if (kumo_chain_tx_build(chain_id, &a->kp, seq, fee, "", msgs, 1, out, &err) != 0) {
        fail_msg("tx build: %s", err.detail);
    }
}

/* {"tx": "<base64>"} of tx (malloc'd). */
static char *tx_body(kumo_bytes_t tx)
{
    size_t cap = sodium_base64_ENCODED_LEN(tx.len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    assert_non_null(b64);
    sodium_bin2base64(b64, cap, tx.ptr, tx.len, sodium_base64_VARIANT_ORIGINAL);
    char *body = malloc(cap + 16);
    assert_non_null(body);
    (void)snprintf(body, cap + 16, "{\"tx\":\"%s\"}", b64);
    free(b64);
    return body;
}

static void tx_post(fx_t *fx, kumo_bytes_t tx, const char *query, resp_t *out)
{
    char *body = tx_body(tx);
    char uri[128];
    (void)snprintf(uri, sizeof(uri), "/txs%s", query);
    request(fx, EVHTTP_REQ_POST, uri, "application/json", body, strlen(body), out);
    free(body);
}

/* Signs msg as a with its next sequence, submits with wait=commit and expects code 0. */
static json_t *tx_commit(fx_t *fx, actor_t *a, const Kumo__Msg *msg)
{
    kumo_buf_t tx;
    tx_make(CHAIN_ID, a, a->seq, FEE, msg, &tx);
    resp_t r;
    tx_post(fx, kumo_buf_bytes(&tx), "?wait=commit&timeout_ms=20000", &r);
    kumo_buf_free(&tx);
    if (r.status != 200) {
        fail_msg("submit: %d %s", r.status, r.body != NULL ? r.body : "");
    }
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "committed");
    if (json_integer_value(json_object_get(j, "code")) != 0) {
        fail_msg("tx failed: %s", r.body);
    }
    free(r.body);
    a->seq++;
    return j;
}

static void provider_create(fx_t *fx, actor_t *a)
{
    char uri[96];
    (void)snprintf(uri, sizeof(uri), "https://%.8s.example:8443", a->text + 5);
    Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
    cp.host_uri = uri;
    cp.region = (char *)"r1";
    cp.root_cert_pem = (char *)(uintptr_t)cert_pem;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
    msg.create_provider = &cp;
    json_decref(tx_commit(fx, a, &msg));
}

typedef struct group {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
    Kumo__ResourceGroup *rg_ptr;
    Kumo__GroupSpec spec;
    Kumo__GroupSpec *spec_ptr;
} group_t;

static void group_init(group_t *g, uint64_t price)
{
    kumo__compute_unit__init(&g->cu);
    g->cu.cpu_milli = 1000;
    g->cu.memory_bytes = 1ull << 30;
    g->cu.storage_bytes = 1ull << 30;
    kumo__resource_group__init(&g->rg);
    g->rg.compute = &g->cu;
    g->rg.price = price;
    g->rg.collateral = 1000;
    g->rg.count = 1;
    g->rg_ptr = &g->rg;
    kumo__group_spec__init(&g->spec);
    g->spec.name = (char *)"g";
    g->spec.region = (char *)"r1";
    g->spec.n_resources = 1;
    g->spec.resources = &g->rg_ptr;
    g->spec_ptr = &g->spec;
}

static void deployment_create(fx_t *fx, uint64_t dseq)
{
    group_t g;
    group_init(&g, 100);
    uint8_t version[KUMO_VERSION_BYTES];
    memset(version, 1, sizeof(version));
    Kumo__MsgSubmitDeployment sd = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    sd.dseq = dseq;
    sd.n_groups = 1;
    sd.groups = &g.spec_ptr;
    sd.wait_blocks = 1;
    sd.version.data = version;
    sd.version.len = sizeof(version);
    sd.deposit = 1000000;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    msg.submit_deployment = &sd;
    json_decref(tx_commit(fx, &fx->tenant, &msg));
}

static void order_id(fx_t *fx, uint64_t dseq, Kumo__OrderId *id)
{
    kumo__order_id__init(id);
    id->owner.data = fx->tenant.addr;
    id->owner.len = KUMO_ADDRESS_BYTES;
    id->dseq = dseq;
    id->gseq = 0;
    id->oseq = 1;
}

static void bid(fx_t *fx, actor_t *p, uint64_t dseq, uint64_t price)
{
    group_t g;
    group_init(&g, price);
    Kumo__OrderId id;
    order_id(fx, dseq, &id);
    Kumo__MsgSubmitFulfillment sf = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
    sf.order = &id;
    sf.n_resources = 1;
    sf.resources = &g.rg_ptr;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
    msg.submit_fulfillment = &sf;
    json_decref(tx_commit(fx, p, &msg));
}

static void lease_confirm(fx_t *fx, actor_t *p, uint64_t dseq, bool released)
{
    Kumo__OrderId id;
    order_id(fx, dseq, &id);
    Kumo__LeaseConfirmation c = KUMO__LEASE_CONFIRMATION__INIT;
    c.order = &id;
    c.released = released;
    Kumo__LeaseConfirmation *cs[1] = {&c};
    Kumo__MsgSubmitLeaseConfirmation m = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    m.n_confirmations = 1;
    m.confirmations = cs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &m;
    json_decref(tx_commit(fx, p, &msg));
}

static void deployment_close(fx_t *fx, uint64_t dseq)
{
    Kumo__MsgCloseDeployment cd = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    cd.dseq = dseq;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    msg.close_deployment = &cd;
    json_decref(tx_commit(fx, &fx->tenant, &msg));
}

/* Number of items GET uri lists. */
static size_t list_count(fx_t *fx, const char *uri)
{
    json_t *j = get_json(fx, uri, 200);
    json_t *items = json_object_get(j, "items");
    assert_true(json_is_array(items));
    size_t n = json_array_size(items);
    json_decref(j);
    return n;
}

/* ---- SSE client ----------------------------------------------------------------------------- */

#define SSE_MSG_MAX 4096u

typedef struct sse {
    struct evhttp_connection *conn;
    bool ended;
    int status;
    char *buf; /* unparsed text */
    size_t len;
    char ids[SSE_MSG_MAX][48];
    char types[SSE_MSG_MAX][48];
    size_t count;
    uint64_t last_block;
    size_t keepalives;
} sse_t;

static void sse_parse(sse_t *s)
{
    char *p = s->buf;
    char *end = NULL;
    while ((end = strstr(p, "\n\n")) != NULL) {
        *end = '\0';
        if (strncmp(p, ": keepalive", 11) == 0) {
            s->keepalives++;
        }
        char id[48] = "";
        char type[48] = "";
        for (char *line = strtok(p, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            if (strncmp(line, "id: ", 4) == 0) {
                (void)snprintf(id, sizeof(id), "%s", line + 4);
            } else if (strncmp(line, "event: ", 7) == 0) {
                (void)snprintf(type, sizeof(type), "%s", line + 7);
            } else if (strncmp(line, "data: ", 6) == 0) {
                json_t *data = json_loads(line + 6, 0, NULL);
                assert_non_null(data);
                json_decref(data);
            }
        }
        if (type[0] != '\0') {
            assert_true(s->count < SSE_MSG_MAX);
            memcpy(s->ids[s->count], id, sizeof(id));
            memcpy(s->types[s->count], type, sizeof(type));
            s->count++;
            if (strcmp(type, "block") == 0) {
                s->last_block = strtoull(id, NULL, 10);
            }
        }
        p = end + 2;
    }
    size_t rest = strlen(p);
    memmove(s->buf, p, rest + 1);
    s->len = rest;
}

static void sse_on_chunk(struct evhttp_request *r, void *arg)
{
    sse_t *s = arg;
    s->status = evhttp_request_get_response_code(r);
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t n = evbuffer_get_length(in);
    s->buf = realloc(s->buf, s->len + n + 1);
    assert_non_null(s->buf);
    assert_int_equal(evbuffer_remove(in, s->buf + s->len, n), (int)n);
    s->len += n;
    s->buf[s->len] = '\0';
    sse_parse(s);
}

static void sse_on_done(struct evhttp_request *r, void *arg)
{
    sse_t *s = arg;
    s->ended = true;
    if (r != NULL) {
        s->status = evhttp_request_get_response_code(r);
        struct evbuffer *in = evhttp_request_get_input_buffer(r);
        size_t n = evbuffer_get_length(in);
        s->buf = realloc(s->buf, s->len + n + 1);
        assert_non_null(s->buf);
        assert_int_equal(evbuffer_remove(in, s->buf + s->len, n), (int)n);
        s->len += n;
        s->buf[s->len] = '\0';
    }
}

static sse_t *sse_open(fx_t *fx, const char *uri, const char *last_id)
{
    sse_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->conn = conn_new(fx);
    struct evhttp_request *r = evhttp_request_new(sse_on_done, s);
    assert_non_null(r);
    evhttp_request_set_chunked_cb(r, sse_on_chunk);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    assert_int_equal(evhttp_add_header(h, "Host", "127.0.0.1"), 0);
    if (last_id != NULL) {
        assert_int_equal(evhttp_add_header(h, "Last-Event-ID", last_id), 0);
    }
    assert_int_equal(evhttp_make_request(s->conn, r, EVHTTP_REQ_GET, uri), 0);
    return s;
}

static void sse_free(sse_t *s)
{
    if (s->conn != NULL) {
        evhttp_connection_free(s->conn);
    }
    free(s->buf);
    free(s);
}

/* Runs the loop until s has seen the block event of height h. */
static void sse_wait_block(fx_t *fx, sse_t *s, uint64_t h)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (s->last_block < h) {
        if (now_ms() > deadline || s->ended) {
            fail_msg("stream stopped at block %" PRIu64 " before %" PRIu64, s->last_block, h);
        }
        assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0);
    }
}

/* The expected messages of blocks 1..h from GET /blocks/{n}: (id, type) in order. */
static size_t expected_events(fx_t *fx,
                              uint64_t h,
                              const char *prefix,
                              const char *owner,
                              char (*ids)[48],
                              char (*types)[48],
                              size_t cap)
{
    size_t n = 0;
    for (uint64_t b = 1; b <= h; b++) {
        char uri[64];
        (void)snprintf(uri, sizeof(uri), "/blocks/%" PRIu64, b);
        json_t *blk = get_json(fx, uri, 200);
        json_t *results = json_object_get(blk, "results");
        for (size_t t = 0; t < json_array_size(results); t++) {
            json_t *evs = json_object_get(json_array_get(results, t), "events");
            for (size_t e = 0; e < json_array_size(evs); e++) {
                const char *type =
                    json_string_value(json_object_get(json_array_get(evs, e), "type"));
                const char *ev_owner =
                    json_string_value(json_object_get(json_array_get(evs, e), "owner"));
                if ((prefix != NULL && strncmp(type, prefix, strlen(prefix)) != 0) ||
                    (owner != NULL && (ev_owner == NULL || strcmp(ev_owner, owner) != 0))) {
                    continue;
                }
                assert_true(n < cap);
                (void)snprintf(ids[n], 48, "%" PRIu64 ":%zu:%zu", b, t, e);
                (void)snprintf(types[n], 48, "%s", type);
                n++;
            }
        }
        assert_true(n < cap);
        (void)snprintf(ids[n], 48, "%" PRIu64, b);
        (void)snprintf(types[n], 48, "block");
        n++;
        json_decref(blk);
    }
    return n;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_rpc_server_simple_routes(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    height_wait(&fx, 2);
    json_t *st = get_json(&fx, "/status", 200);
    assert_string_equal(json_string_value(json_object_get(st, "chain_id")), CHAIN_ID);
    assert_string_equal(json_string_value(json_object_get(st, "moniker")), "rpc-test");
    assert_int_equal(strlen(json_string_value(json_object_get(st, "app_hash"))), 64);
    assert_int_equal(strlen(json_string_value(json_object_get(st, "block_hash"))), 64);
    assert_non_null(json_string_value(json_object_get(st, "mempool_txs")));
    assert_non_null(json_string_value(json_object_get(st, "mempool_bytes")));
    assert_non_null(json_string_value(json_object_get(st, "block_time_ms")));
    const char *validator = json_string_value(json_object_get(st, "validator"));
    assert_non_null(validator);
    char uri[160];
    (void)snprintf(uri, sizeof(uri), "/accounts/%s", validator);
    json_t *acct = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(acct, "address")), validator);
    json_decref(acct);
    /* an absent account reads as zero */
    uint8_t nobody[KUMO_ADDRESS_BYTES] = {9};
    char nobody_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(nobody, nobody_text);
    (void)snprintf(uri, sizeof(uri), "/accounts/%s", nobody_text);
    acct = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(acct, "balance")), "0");
    json_decref(acct);
    json_t *params = get_json(&fx, "/params", 200);
    assert_string_equal(json_string_value(json_object_get(params, "min_fee")), "100");
    json_decref(params);
    json_t *vals = get_json(&fx, "/validators", 200);
    assert_int_equal(json_array_size(json_object_get(vals, "items")), 1);
    assert_true(json_is_null(json_object_get(vals, "next")));
    json_decref(vals);
    /* The genesis validator is bonded: one staking validator, self-delegated. */
    json_t *svals = get_json(&fx, "/staking/validators", 200);
    json_t *sv = json_array_get(json_object_get(svals, "items"), 0);
    assert_int_equal(json_array_size(json_object_get(svals, "items")), 1);
    char op[KUMO_ADDRESS_TEXT_BYTES + 40];
    (void)snprintf(op, sizeof(op), "/staking/delegations/%s",
                   json_string_value(json_object_get(sv, "address")));
    json_t *dels = get_json(&fx, op, 200);
    json_t *d0 = json_array_get(json_object_get(dels, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(d0, "tokens")),
                        json_string_value(json_object_get(sv, "tokens")));
    assert_non_null(json_object_get(d0, "rewards"));
    json_decref(dels);
    json_decref(svals);
    json_t *latest = get_json(&fx, "/blocks/latest", 200);
    json_t *header = json_object_get(latest, "header");
    assert_string_equal(json_string_value(json_object_get(header, "chain_id")), CHAIN_ID);
    assert_true(json_u64(header, "height") >= 2);
    assert_true(json_is_array(json_object_get(latest, "txs")));
    assert_true(json_is_array(json_object_get(latest, "results")));
    json_decref(latest);
    json_t *b1 = get_json(&fx, "/blocks/1", 200);
    assert_int_equal(json_u64(json_object_get(b1, "header"), "height"), 1);
    json_decref(b1);
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/blocks/99999999", NULL, NULL, 0, &r);
    assert_error(&r, 404, KUMO_ENOTFOUND, "block past the head");
    free(r.body);
    assert_int_equal(list_count(&fx, "/providers"), 0);
    assert_int_equal(list_count(&fx, "/deployments"), 0);
    assert_int_equal(list_count(&fx, "/groups"), 0);
    assert_int_equal(list_count(&fx, "/orders"), 0);
    assert_int_equal(list_count(&fx, "/fulfillments"), 0);
    assert_int_equal(list_count(&fx, "/leases"), 0);
    (void)snprintf(uri, sizeof(uri), "/providers/%s", fx.prov[0].text);
    request(&fx, EVHTTP_REQ_GET, uri, NULL, NULL, 0, &r);
    assert_error(&r, 404, KUMO_ENOTFOUND, "absent provider");
    free(r.body);
    char hash[65];
    memset(hash, '0', 64);
    hash[64] = '\0';
    (void)snprintf(uri, sizeof(uri), "/txs/%s", hash);
    request(&fx, EVHTTP_REQ_GET, uri, NULL, NULL, 0, &r);
    assert_error(&r, 404, KUMO_ENOTFOUND, "unknown tx");
    free(r.body);
    /* metrics: every documented name, with HELP and TYPE */
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    const char *names[] = {"kumo_height",
                           "kumo_block_duration_seconds",
                           "kumo_block_interval_seconds",
                           "kumo_mempool_txs",
                           "kumo_mempool_bytes",
                           "kumo_txs_committed_total",
                           "kumo_txs_rejected_total",
                           "kumo_open_orders",
                           "kumo_active_leases",
                           "kumo_rpc_requests_total",
                           "kumo_sse_clients"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char line[128];
        (void)snprintf(line, sizeof(line), "# HELP %s ", names[i]);
        assert_non_null(strstr(r.body, line));
        (void)snprintf(line, sizeof(line), "# TYPE %s ", names[i]);
        assert_non_null(strstr(r.body, line));
        (void)snprintf(line, sizeof(line), "\n%s ", names[i]);
        assert_non_null(strstr(r.body, line));
    }
    assert_non_null(strstr(r.body, "\nkumo_block_interval_seconds 0.020000\n"));
    free(r.body);
    json_decref(st);
    fx_close(&fx);
}

static void test_rpc_server_route_errors(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    resp_t r;
    static const struct {
        enum evhttp_cmd_type method;
        const char *path;
        int status;
        int code;
        const char *name;
    } cases[] = {
        {EVHTTP_REQ_GET, "/nope", 404, KUMO_ENOTFOUND, "unknown route"},
        {EVHTTP_REQ_DELETE, "/status", 405, KUMO_EINVAL, "DELETE /status"},
        {EVHTTP_REQ_GET, "/txs", 405, KUMO_EINVAL, "GET /txs"},
        {EVHTTP_REQ_GET, "/providers?limit=0", 400, KUMO_EINVAL, "limit 0"},
        {EVHTTP_REQ_GET, "/providers?bogus=1", 400, KUMO_EINVAL, "unknown parameter"},
        {EVHTTP_REQ_GET, "/orders?dseq=3", 400, KUMO_EINVAL, "dseq without owner"},
        {EVHTTP_REQ_GET, "/providers?page=00", 400, KUMO_EINVAL, "cursor of another query"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        request(&fx, cases[i].method, cases[i].path, NULL, NULL, 0, &r);
        assert_error(&r, cases[i].status, cases[i].code, cases[i].name);
        free(r.body);
    }
    /* a query string over KUMO_RPC_URI_BYTES_MAX */
    char *uri = malloc(KUMO_RPC_URI_BYTES_MAX + 64);
    assert_non_null(uri);
    (void)snprintf(uri, KUMO_RPC_URI_BYTES_MAX + 64, "/providers?page=");
    size_t at = strlen(uri);
    memset(uri + at, '0', KUMO_RPC_URI_BYTES_MAX);
    uri[at + KUMO_RPC_URI_BYTES_MAX] = '\0';
    request(&fx, EVHTTP_REQ_GET, uri, NULL, NULL, 0, &r);
    assert_error(&r, 400, KUMO_EINVAL, "query over the bound");
    free(r.body);
    free(uri);
    /* headers over KUMO_RPC_HEADERS_BYTES_MAX: libevent refuses them, the node goes on */
    struct evhttp_connection *c = conn_new(&fx);
    memset(&r, 0, sizeof(r));
    struct evhttp_request *big = evhttp_request_new(resp_on_done, &r);
    assert_non_null(big);
    char *value = malloc(KUMO_RPC_HEADERS_BYTES_MAX + 1);
    assert_non_null(value);
    memset(value, 'v', KUMO_RPC_HEADERS_BYTES_MAX);
    value[KUMO_RPC_HEADERS_BYTES_MAX] = '\0';
    struct evkeyvalq *h = evhttp_request_get_output_headers(big);
    assert_int_equal(evhttp_add_header(h, "Host", "127.0.0.1"), 0);
    assert_int_equal(evhttp_add_header(h, "X-Big", value), 0);
    assert_int_equal(evhttp_make_request(c, big, EVHTTP_REQ_GET, "/status"), 0);
    loop_until(&fx, &r.done);
    assert_int_not_equal(r.status, 200);
    free(r.body);
    free(value);
    evhttp_connection_free(c);
    json_decref(get_json(&fx, "/status", 200));
    fx_close(&fx);
}

static void test_rpc_server_bad_txs_change_nothing(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    height_wait(&fx, 1);
    /* one valid tx first, so "replayed" has something to replay */
    actor_t *a = &fx.tenant;
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, fx.prov[0].addr};
    send.amount = 5;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    kumo_buf_t first;
    tx_make(CHAIN_ID, a, 0, FEE, &msg, &first);
    resp_t r;
    tx_post(&fx, kumo_buf_bytes(&first), "?wait=commit", &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    a->seq = 1;
    char uri[160];
    (void)snprintf(uri, sizeof(uri), "/accounts/%s", a->text);
    json_t *before = get_json(&fx, uri, 200);

    kumo_buf_t bad_sig;
    tx_make(CHAIN_ID, a, 1, FEE, &msg, &bad_sig);
    bad_sig.ptr[bad_sig.len - 1] ^= 0x01; /* the signature is the last field */
    kumo_buf_t wrong_chain;
    tx_make("other-chain", a, 1, FEE, &msg, &wrong_chain);
    kumo_buf_t wrong_seq;
    tx_make(CHAIN_ID, a, 1 + 100000, FEE, &msg, &wrong_seq);
    kumo_buf_t low_fee;
    tx_make(CHAIN_ID, a, 1, 1, &msg, &low_fee);
    Kumo__Msg unknown = KUMO__MSG__INIT; /* no member of the oneof set */
    kumo_buf_t unknown_msg;
    tx_make(CHAIN_ID, a, 1, FEE, &unknown, &unknown_msg);
    size_t big_len = (size_t)fx.cfg.rpc_body_bytes_max + 1;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, ' ', big_len);
    const struct {
        const char *name;
        const char *ctype;
        const char *body;
        size_t body_len;
        kumo_buf_t *tx;
        int status;
        int code;
        int code_alt;
    } cases[] = {
        {"malformed json", "application/json", "{\"tx\":", 6, NULL, 400, KUMO_EDECODE, 0},
        {"wrong content type", "text/plain", "{\"tx\":\"AQID\"}", 13, NULL, 415, KUMO_EINVAL, 0},
        {"oversized body", "application/json", big, big_len, NULL, 413, KUMO_ELIMIT, 0},
        {"invalid base64", "application/json", "{\"tx\":\"A*ID\"}", 13, NULL, 400, KUMO_EDECODE, 0},
        {"undecodable tx", "application/json", "{\"tx\":\"AQID\"}", 13, NULL, 422, KUMO_EDECODE, 0},
        {"bad signature", NULL, NULL, 0, &bad_sig, 422, KUMO_ESIG, 0},
        {"wrong chain id", NULL, NULL, 0, &wrong_chain, 422, KUMO_ECHAINID, 0},
        {"replayed tx", NULL, NULL, 0, &first, 422, KUMO_ESEQUENCE, KUMO_EEXIST},
        {"wrong sequence", NULL, NULL, 0, &wrong_seq, 422, KUMO_ESEQUENCE, 0},
        {"fee too low", NULL, NULL, 0, &low_fee, 422, KUMO_EFEE, 0},
        {"unknown msg", NULL, NULL, 0, &unknown_msg, 422, KUMO_EUNKNOWNMSG, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].tx != NULL) {
            tx_post(&fx, kumo_buf_bytes(cases[i].tx), "", &r);
        } else {
            request(&fx, EVHTTP_REQ_POST, "/txs", cases[i].ctype, cases[i].body, cases[i].body_len,
                    &r);
        }
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        json_int_t code = json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
        json_decref(j);
        if (cases[i].code_alt != 0 && code == cases[i].code_alt) {
            assert_error(&r, cases[i].status, cases[i].code_alt, cases[i].name);
        } else {
            assert_error(&r, cases[i].status, cases[i].code, cases[i].name);
        }
        free(r.body);
        /* the node keeps serving */
        json_decref(get_json(&fx, "/status", 200));
    }
    /* two more blocks: nothing of the above was committed, the account is as it was */
    height_wait(&fx, height_now(&fx) + 2);
    json_t *after = get_json(&fx, uri, 200);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    free(big);
    kumo_buf_free(&first);
    kumo_buf_free(&bad_sig);
    kumo_buf_free(&wrong_chain);
    kumo_buf_free(&wrong_seq);
    kumo_buf_free(&low_fee);
    kumo_buf_free(&unknown_msg);
    fx_close(&fx);
}

/* Waits until GET uri answers an object whose field key is want. */
static void field_wait(fx_t *fx, const char *uri, const char *key, const char *want)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (true) {
        json_t *j = get_json(fx, uri, 200);
        const char *v = json_string_value(json_object_get(j, key));
        bool ok = v != NULL && strcmp(v, want) == 0;
        json_decref(j);
        if (ok) {
            return;
        }
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0);
    }
}

typedef struct expect {
    char ids[SSE_MSG_MAX][48];
    char types[SSE_MSG_MAX][48];
    size_t count;
} expect_t;

/* s received exactly the messages of e from index e_from on, up to block head (streams go on
 * past head as the chain grows). */
static void sse_assert_matches(
    const sse_t *s, uint64_t head, const expect_t *e, size_t e_from, const char *what)
{
    size_t n = 0;
    while (n < s->count && strtoull(s->ids[n], NULL, 10) <= head) {
        n++;
    }
    if (n != e->count - e_from) {
        fail_msg("%s: %zu messages, want %zu", what, n, e->count - e_from);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s->ids[i], e->ids[e_from + i]) != 0 ||
            strcmp(s->types[i], e->types[e_from + i]) != 0) {
            fail_msg("%s: message %zu is %s %s, want %s %s", what, i, s->ids[i], s->types[i],
                     e->ids[e_from + i], e->types[e_from + i]);
        }
    }
}

static bool type_seen(const expect_t *e, const char *type)
{
    for (size_t i = 0; i < e->count; i++) {
        if (strcmp(e->types[i], type) == 0) {
            return true;
        }
    }
    return false;
}

/* A lifecycle through POST /txs?wait=commit, checked through the list routes, and watched by
 * a live stream of everything, one filtered to lease events, one to the tenant; then a replay
 * that disconnects halfway and resumes with Last-Event-ID, losing and duplicating nothing. */
static void test_rpc_server_lifecycle_and_events(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    sse_t *all = sse_open(&fx, "/events?from_height=1", NULL);
    sse_t *leases = sse_open(&fx, "/events?types=lease.&from_height=0", NULL);
    char uri[256];
    (void)snprintf(uri, sizeof(uri), "/events?owner=%s&from_height=1", fx.tenant.text);
    sse_t *mine = sse_open(&fx, uri, NULL);

    actor_t *p = &fx.prov[0];
    provider_create(&fx, p);
    (void)snprintf(uri, sizeof(uri), "/providers/%s", p->text);
    json_t *prov = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(prov, "owner")), p->text);
    json_decref(prov);

    deployment_create(&fx, 7);
    (void)snprintf(uri, sizeof(uri), "/deployments/%s/7", fx.tenant.text);
    json_t *dep = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(dep, "dseq")), "7");
    json_decref(dep);
    (void)snprintf(uri, sizeof(uri), "/deployments/%s/8", fx.tenant.text);
    json_decref(get_json(&fx, uri, 404));
    (void)snprintf(uri, sizeof(uri), "/deployments?owner=%s&state=DEPLOYMENT_ACTIVE",
                   fx.tenant.text);
    assert_int_equal(list_count(&fx, uri), 1);
    (void)snprintf(uri, sizeof(uri), "/groups?owner=%s&dseq=7", fx.tenant.text);
    assert_int_equal(list_count(&fx, uri), 1);
    (void)snprintf(uri, sizeof(uri), "/orders?owner=%s&dseq=7", fx.tenant.text);
    assert_int_equal(list_count(&fx, uri), 1);

    bid(&fx, p, 7, 90);
    char oid[KUMO_ID_TEXT_BYTES];
    Kumo__OrderId id;
    order_id(&fx, 7, &id);
    assert_int_equal(kumo_codec_order_id_format(&id, oid), 0);
    (void)snprintf(uri, sizeof(uri), "/fulfillments?order=%s&provider=%s", oid, p->text);
    assert_int_equal(list_count(&fx, uri), 1);

    /* the facilitator leases the order once its wait has elapsed */
    (void)snprintf(uri, sizeof(uri), "/leases?owner=%s&dseq=7&state=LEASE_ACTIVE", fx.tenant.text);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (list_count(&fx, uri) == 0) {
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx.base, EVLOOP_ONCE) >= 0);
    }
    (void)snprintf(uri, sizeof(uri), "/leases?provider=%s&order=%s", p->text, oid);
    assert_int_equal(list_count(&fx, uri), 1);
    lease_confirm(&fx, p, 7, false);
    deployment_close(&fx, 7);
    lease_confirm(&fx, p, 7, true);
    (void)snprintf(uri, sizeof(uri), "/deployments/%s/7", fx.tenant.text);
    field_wait(&fx, uri, "state", "DEPLOYMENT_CLOSED");

    uint64_t head = height_now(&fx);
    expect_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->count = expected_events(&fx, head, NULL, NULL, e->ids, e->types, SSE_MSG_MAX);
    const char *lifecycle[] = {"provider.created",    "deployment.created", "order.created",
                               "fulfillment.created", "lease.created",      "lease.confirmed",
                               "deployment.closed"};
    for (size_t i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++) {
        if (!type_seen(e, lifecycle[i])) {
            fail_msg("no %s event in blocks 1..%" PRIu64, lifecycle[i], head);
        }
    }
    sse_wait_block(&fx, all, head);
    sse_assert_matches(all, head, e, 0, "live stream");

    expect_t *le = calloc(1, sizeof(*le));
    assert_non_null(le);
    le->count = expected_events(&fx, head, "lease.", NULL, le->ids, le->types, SSE_MSG_MAX);
    sse_wait_block(&fx, leases, head);
    sse_assert_matches(leases, head, le, 0, "lease. filter");
    le->count = expected_events(&fx, head, NULL, fx.tenant.text, le->ids, le->types, SSE_MSG_MAX);
    sse_wait_block(&fx, mine, head);
    sse_assert_matches(mine, head, le, 0, "owner filter");

    /* replay paced one block per drained write (the pause bound lowered to one byte) */
    kumo_rpc_test_sse_replay_soft_set(fx.rpc, 1);
    sse_t *paced = sse_open(&fx, "/events?from_height=1", NULL);
    sse_wait_block(&fx, paced, head);
    sse_assert_matches(paced, head, e, 0, "paced replay");
    sse_free(paced);
    kumo_rpc_test_sse_replay_soft_set(fx.rpc, KUMO_RPC_SSE_REPLAY_BYTES_SOFT);

    /* replay from the store, cut after message k, resumed with Last-Event-ID */
    size_t cuts[] = {e->count / 2, 0, e->count - 1};
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        size_t k = cuts[c];
        sse_t *first = sse_open(&fx, "/events?from_height=1", NULL);
        sse_wait_block(&fx, first, head);
        sse_assert_matches(first, head, e, 0, "replay");
        sse_free(first);
        sse_t *resumed = sse_open(&fx, "/events?from_height=1", e->ids[k]);
        sse_wait_block(&fx, resumed, head + 1);
        sse_assert_matches(resumed, head, e, k + 1, "resumed");
        sse_free(resumed);
    }

    /* tx by hash: committed */
    (void)snprintf(uri, sizeof(uri), "/blocks/%" PRIu64, (uint64_t)2);
    json_t *blocks_seen = NULL;
    for (uint64_t b = 1; b <= head && blocks_seen == NULL; b++) {
        (void)snprintf(uri, sizeof(uri), "/blocks/%" PRIu64, b);
        json_t *blk = get_json(&fx, uri, 200);
        if (json_array_size(json_object_get(blk, "txs")) > 0) {
            blocks_seen = blk;
        } else {
            json_decref(blk);
        }
    }
    assert_non_null(blocks_seen);
    const char *hash = json_string_value(json_array_get(json_object_get(blocks_seen, "txs"), 0));
    json_t *res0 = json_array_get(json_object_get(blocks_seen, "results"), 0);
    assert_string_equal(json_string_value(json_object_get(res0, "hash")), hash);
    (void)snprintf(uri, sizeof(uri), "/txs/%s", hash);
    json_t *tx = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(tx, "status")), "committed");
    assert_string_equal(json_string_value(json_object_get(tx, "hash")), hash);
    assert_true(json_is_array(json_object_get(tx, "events")));
    assert_non_null(json_string_value(json_object_get(tx, "fee")));
    json_decref(tx);
    json_decref(blocks_seen);

    free(e);
    free(le);
    sse_free(all);
    sse_free(leases);
    sse_free(mine);
    fx_close(&fx);
}

/* Five providers listed two per page: every one exactly once, the last page's next null. */
static void test_rpc_server_pagination_covers_once(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    for (uint32_t i = 0; i < PROVIDER_MAX; i++) {
        provider_create(&fx, &fx.prov[i]);
    }
    bool seen[PROVIDER_MAX] = {false};
    char page[2 * KUMO_KEY_BYTES_MAX + 1] = "";
    size_t pages = 0;
    size_t total = 0;
    while (true) {
        char uri[400];
        (void)snprintf(uri, sizeof(uri), "/providers?limit=2%s%s", page[0] != '\0' ? "&page=" : "",
                       page);
        json_t *j = get_json(&fx, uri, 200);
        json_t *items = json_object_get(j, "items");
        assert_true(json_array_size(items) <= 2);
        pages++;
        for (size_t i = 0; i < json_array_size(items); i++) {
            const char *owner =
                json_string_value(json_object_get(json_array_get(items, i), "owner"));
            bool known = false;
            for (uint32_t k = 0; k < PROVIDER_MAX; k++) {
                if (strcmp(owner, fx.prov[k].text) == 0) {
                    assert_false(seen[k]);
                    seen[k] = true;
                    known = true;
                }
            }
            assert_true(known);
            total++;
        }
        json_t *next = json_object_get(j, "next");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        (void)snprintf(page, sizeof(page), "%s", json_string_value(next));
        json_decref(j);
        assert_true(pages < 10);
    }
    assert_int_equal(total, PROVIDER_MAX);
    assert_int_equal(pages, 3);
    fx_close(&fx);
}

/* No blocks (a long interval): a submitted tx is pending, wait=commit times out with 504. */
static void test_rpc_server_pending_and_wait_timeout(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, fx.prov[0].addr};
    send.amount = 5;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    kumo_buf_t tx;
    tx_make(CHAIN_ID, &fx.tenant, 0, FEE, &msg, &tx);
    resp_t r;
    tx_post(&fx, kumo_buf_bytes(&tx), "?wait=none", &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    char uri[128];
    (void)snprintf(uri, sizeof(uri), "/txs/%s", json_string_value(json_object_get(j, "hash")));
    json_decref(j);
    free(r.body);
    json_t *pending = get_json(&fx, uri, 200);
    assert_string_equal(json_string_value(json_object_get(pending, "status")), "pending");
    json_decref(pending);
    kumo_buf_t tx2;
    tx_make(CHAIN_ID, &fx.tenant, 1, FEE, &msg, &tx2);
    tx_post(&fx, kumo_buf_bytes(&tx2), "?wait=commit&timeout_ms=1", &r);
    assert_error(&r, 504, KUMO_ENOTFOUND, "wait=commit timeout");
    free(r.body);
    kumo_buf_free(&tx);
    kumo_buf_free(&tx2);
    fx_close(&fx);
}

/* The dashboard: "/" and "/ui" redirect to "/ui/", its files come with the strict policy, the
 * node's config.json points the page at this node, unknown files are 404 and other methods
 * 405; API answers may be read by any page. With rpc_dashboard 0 none of it is served. */
static void test_rpc_server_dashboard(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    static const char *const redirects[] = {"/", "/ui"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(redirects); i++) {
        resp_t r;
        request(&fx, EVHTTP_REQ_GET, redirects[i], NULL, NULL, 0, &r);
        assert_int_equal(r.status, 302);
        assert_string_equal(r.location, "/ui/");
        free(r.body);
    }
    static const struct {
        const char *uri;
        const char *ctype;
        const char *contains;
    } files[] = {
        {"/ui/", "text/html; charset=utf-8", "<script src=\"app.js\""},
        {"/ui/?x=1", "text/html; charset=utf-8", "<title>"},
        {"/ui/app.js", "text/javascript; charset=utf-8", "EventSource"},
        {"/ui/app.css", "text/css; charset=utf-8", "body"},
        {"/ui/config.json", "application/json", "\"tenant\":false"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(files); i++) {
        resp_t r;
        request(&fx, EVHTTP_REQ_GET, files[i].uri, NULL, NULL, 0, &r);
        if (r.status != 200 || strcmp(r.ctype, files[i].ctype) != 0 ||
            strstr(r.body, files[i].contains) == NULL) {
            fail_msg("%s: %d %s", files[i].uri, r.status, r.ctype);
        }
        assert_non_null(strstr(r.csp, "default-src 'none'"));
        assert_non_null(strstr(r.csp, "connect-src 'self';"));
        free(r.body);
    }
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/ui/nope.js", NULL, NULL, 0, &r);
    assert_error(&r, 404, KUMO_ENOTFOUND, "unknown dashboard file");
    free(r.body);
    request(&fx, EVHTTP_REQ_GET, "/ui/%2e%2e%2fapp.js", NULL, NULL, 0, &r);
    assert_error(&r, 404, KUMO_ENOTFOUND, "dashboard path with ..");
    free(r.body);
    request(&fx, EVHTTP_REQ_POST, "/ui/", "application/json", "{}", 2, &r);
    assert_error(&r, 405, KUMO_EINVAL, "POST to the dashboard");
    free(r.body);
    fx_close(&fx);
}

static void test_rpc_server_dashboard_off(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    kumo_rpc_close(fx.rpc);
    fx.cfg.rpc_dashboard = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_rpc_open(fx.base, fx.node, &fx.cfg, &fx.rpc, &err) != 0) {
        fail_msg("rpc open: %s", err.detail);
    }
    fx.port = kumo_rpc_port(fx.rpc);
    static const char *const uris[] = {"/", "/ui", "/ui/", "/ui/app.js", "/ui/config.json"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(uris); i++) {
        resp_t r;
        request(&fx, EVHTTP_REQ_GET, uris[i], NULL, NULL, 0, &r);
        assert_error(&r, 404, KUMO_ENOTFOUND, uris[i]);
        assert_string_equal(r.csp, "");
        free(r.body);
    }
    fx_close(&fx);
}

/* At rpc_connection_max a new connection closes the oldest one still waiting for a request
 * (here an idle keep-alive connection), so idle connections cannot lock clients out. */
static void test_rpc_server_connection_cap_evicts_idle(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 2, 8, 3600000);
    struct evhttp_connection *c1 = conn_new(&fx);
    struct evhttp_connection *c2 = conn_new(&fx);
    resp_t r;
    request_on(&fx, c1, EVHTTP_REQ_GET, "/status", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    request_on(&fx, c2, EVHTTP_REQ_GET, "/status", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nkumo_rpc_connections_evicted_total 1\n"));
    free(r.body);
    evhttp_connection_free(c1);
    evhttp_connection_free(c2);
    fx_close(&fx);
}

/* At rpc_connection_max with every connection busy (streams), a new connection is refused
 * with 503 KUMO_ELIMIT (accepting pauses); once one closes, requests are served again. */
static void test_rpc_server_connection_cap_busy_refuses(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 2, 8, 3600000);
    sse_t *s1 = sse_open(&fx, "/events", NULL);
    sse_t *s2 = sse_open(&fx, "/events", NULL);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (s1->status == 0 || s2->status == 0) {
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx.base, EVLOOP_ONCE) >= 0);
    }
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/status", NULL, NULL, 0, &r);
    assert_error(&r, 503, KUMO_ELIMIT, "third connection");
    free(r.body);
    sse_free(s1);
    while (true) {
        request(&fx, EVHTTP_REQ_GET, "/status", NULL, NULL, 0, &r);
        free(r.body);
        if (r.status == 200) {
            break;
        }
        assert_true(now_ms() < deadline);
    }
    sse_free(s2);
    fx_close(&fx);
}

/* A plain TCP connection to the server from 127.0.0.<host> (blocking connect). */
static int raw_connect(const fx_t *fx, uint32_t host)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | host);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons(fx->port);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

/* Runs the loop until the server closes fd (EOF or reset), past the deadline a failure. */
static void loop_until_closed(fx_t *fx, int fd)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    char buf[512];
    while (true) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return;
        }
        if (now_ms() > deadline) {
            fail_msg("connection not closed before the deadline");
        }
        assert_true(event_base_loop(fx->base, EVLOOP_ONCE | EVLOOP_NONBLOCK) >= 0);
    }
}

/* Connections are counted from accept, per client address: past rpc_connection_per_addr_max
 * from one address a new one is closed at once (before it sends anything); another address
 * is still served. */
static void test_rpc_server_address_cap(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    kumo_rpc_close(fx.rpc);
    fx.cfg.rpc_connection_per_addr_max = 2;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_rpc_open(fx.base, fx.node, &fx.cfg, &fx.rpc, &err), 0);
    fx.port = kumo_rpc_port(fx.rpc);
    int a = raw_connect(&fx, 9);
    int b = raw_connect(&fx, 9);
    int c = raw_connect(&fx, 9);
    loop_until_closed(&fx, c);
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nkumo_rpc_connections_refused_total 1\n"));
    free(r.body);
    (void)close(a);
    (void)close(b);
    (void)close(c);
    fx_close(&fx);
}

/* A request head trickled a byte at a time does not extend the deadline: the connection is
 * closed rpc_request_timeout_ms after accept; an idle one likewise. */
static void test_rpc_server_request_deadline(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    kumo_rpc_close(fx.rpc);
    fx.cfg.rpc_request_timeout_ms = 300;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_rpc_open(fx.base, fx.node, &fx.cfg, &fx.rpc, &err), 0);
    fx.port = kumo_rpc_port(fx.rpc);
    int idle = raw_connect(&fx, 1);
    int slow = raw_connect(&fx, 1);
    static const char head[] = "GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaa";
    uint64_t deadline = now_ms() + DEADLINE_MS;
    for (size_t i = 0; i < sizeof(head) - 1u; i++) {
        if (send(slow, &head[i], 1, MSG_NOSIGNAL) != 1) {
            break; /* closed by the server */
        }
        uint64_t next = now_ms() + 50u;
        while (now_ms() < next) {
            assert_true(event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK) >= 0);
        }
        assert_true(now_ms() < deadline);
    }
    loop_until_closed(&fx, slow);
    loop_until_closed(&fx, idle);
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nkumo_rpc_request_timeouts_total 2\n"));
    free(r.body);
    (void)close(idle);
    (void)close(slow);
    fx_close(&fx);
}

/* SSE clients over sse_client_max get 503; metrics count the clients. */
static void test_rpc_server_sse_cap(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 1, 3600000);
    sse_t *s1 = sse_open(&fx, "/events", NULL);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (s1->status == 0) {
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx.base, EVLOOP_ONCE) >= 0);
    }
    assert_int_equal(s1->status, 200);
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/events", NULL, NULL, 0, &r);
    assert_error(&r, 503, KUMO_ELIMIT, "second stream");
    free(r.body);
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "\nkumo_sse_clients 1\n"));
    free(r.body);
    request(&fx, EVHTTP_REQ_GET, "/events?types=BAD", NULL, NULL, 0, &r);
    assert_error(&r, 400, KUMO_EINVAL, "bad types");
    free(r.body);
    sse_free(s1);
    fx_close(&fx);
}

/* A client whose unsent output passes the bound is dropped and counted; keepalive comments
 * reach live clients. (The bound and the period are lowered through test hooks.) */
static void test_rpc_server_slow_sse_client_dropped_and_keepalive(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 20);
    height_wait(&fx, 2);
    kumo_rpc_test_keepalive_ms_set(fx.rpc, 5);
    sse_t *live = sse_open(&fx, "/events", NULL);
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (live->keepalives < 2) {
        assert_true(now_ms() < deadline);
        assert_true(event_base_loop(fx.base, EVLOOP_ONCE) >= 0);
    }
    kumo_rpc_test_sse_output_max_set(fx.rpc, 0);
    sse_t *slow = sse_open(&fx, "/events?from_height=1", NULL);
    loop_until(&fx, &slow->ended);
    loop_until(&fx, &live->ended); /* the next keepalive finds it over the bound too */
    resp_t r;
    request(&fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "\nkumo_sse_dropped_total 2\n"));
    assert_non_null(strstr(r.body, "\nkumo_sse_clients 0\n"));
    free(r.body);
    json_decref(get_json(&fx, "/status", 200));
    sse_free(slow);
    sse_free(live);
    fx_close(&fx);
}

/* Polls /metrics until it holds line. */
static void metric_wait(fx_t *fx, const char *line)
{
    uint64_t deadline = now_ms() + DEADLINE_MS;
    while (true) {
        resp_t r;
        request(fx, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &r);
        bool ok = r.body != NULL && strstr(r.body, line) != NULL;
        free(r.body);
        if (ok) {
            return;
        }
        assert_true(now_ms() < deadline);
    }
}

/* Starts POST /txs?wait=commit of a send on c (the chain makes no blocks in these tests). */
static void waiter_start(fx_t *fx, struct evhttp_connection *c, resp_t *w)
{
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, fx->prov[0].addr};
    send.amount = 5;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    kumo_buf_t tx;
    tx_make(CHAIN_ID, &fx->tenant, fx->tenant.seq++, FEE, &msg, &tx);
    char *body = tx_body(kumo_buf_bytes(&tx));
    request_start(c, EVHTTP_REQ_POST, "/txs?wait=commit&timeout_ms=60000", "application/json", body,
                  strlen(body), w);
    free(body);
    kumo_buf_free(&tx);
    metric_wait(fx, "\nkumo_rpc_commit_waiters 1\n");
}

/* Closing the API with a parked wait=commit request and a live stream releases both (ASan
 * checks nothing leaks or is used after free); the clients see their connections end. */
static void test_rpc_server_close_with_parked_requests(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    sse_t *s = sse_open(&fx, "/events", NULL);
    metric_wait(&fx, "\nkumo_sse_clients 1\n");
    struct evhttp_connection *c = conn_new(&fx);
    resp_t w;
    waiter_start(&fx, c, &w);
    kumo_rpc_close(fx.rpc);
    fx.rpc = NULL;
    loop_until(&fx, &w.done);
    loop_until(&fx, &s->ended);
    assert_int_not_equal(w.status, 200);
    free(w.body);
    evhttp_connection_free(c);
    sse_free(s);
    fx_close(&fx);
}

/* A client that goes away while its tx waits for commit frees the wait. */
static void test_rpc_server_waiter_client_disconnects(void **state)
{
    (void)state;
    fx_t fx;
    fx_open(&fx, 64, 8, 3600000);
    struct evhttp_connection *c = conn_new(&fx);
    resp_t w;
    waiter_start(&fx, c, &w);
    evhttp_connection_free(c);
    metric_wait(&fx, "\nkumo_rpc_commit_waiters 0\n");
    free(w.body);
    fx_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_server_simple_routes),
        cmocka_unit_test(test_rpc_server_dashboard),
        cmocka_unit_test(test_rpc_server_dashboard_off),
        cmocka_unit_test(test_rpc_server_route_errors),
        cmocka_unit_test(test_rpc_server_bad_txs_change_nothing),
        cmocka_unit_test(test_rpc_server_lifecycle_and_events),
        cmocka_unit_test(test_rpc_server_pagination_covers_once),
        cmocka_unit_test(test_rpc_server_pending_and_wait_timeout),
        cmocka_unit_test(test_rpc_server_connection_cap_evicts_idle),
        cmocka_unit_test(test_rpc_server_connection_cap_busy_refuses),
        cmocka_unit_test(test_rpc_server_address_cap),
        cmocka_unit_test(test_rpc_server_request_deadline),
        cmocka_unit_test(test_rpc_server_sse_cap),
        cmocka_unit_test(test_rpc_server_slow_sse_client_dropped_and_keepalive),
        cmocka_unit_test(test_rpc_server_close_with_parked_requests),
        cmocka_unit_test(test_rpc_server_waiter_client_disconnects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
