/*
 * test_rpc_req.c - the pure parts of the HTTP API: routing by method and path, strict query
 * parameters (each rule a table row, each limit at MAX and MAX+1), the POST /txs body, SSE ids
 * and filters, error rendering and fixed-point seconds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "helpers/testutil.h"
#include "rpc/rpc_int.h"

static char addr_a[KUMO_ADDRESS_TEXT_BYTES];
static char addr_b[KUMO_ADDRESS_TEXT_BYTES];
static char order_text[KUMO_ID_TEXT_BYTES];

static int setup(void **state)
{
    (void)state;
    uint8_t a[KUMO_ADDRESS_BYTES];
    uint8_t b[KUMO_ADDRESS_BYTES];
    memset(a, 0xa1, sizeof(a));
    memset(b, 0xb2, sizeof(b));
    kumo_codec_address_encode(a, addr_a);
    kumo_codec_address_encode(b, addr_b);
    Kumo__OrderId oid = KUMO__ORDER_ID__INIT;
    oid.owner.data = a;
    oid.owner.len = sizeof(a);
    oid.dseq = 7;
    oid.gseq = 1;
    oid.oseq = 1;
    assert_int_equal(kumo_codec_order_id_format(&oid, order_text), 0);
    return 0;
}

static kumo_rpc_req_t *req_new(void)
{
    kumo_rpc_req_t *req = calloc(1, sizeof(*req));
    assert_non_null(req);
    return req;
}

static int parse(kumo_rpc_method_t m,
                 const char *path,
                 const char *query,
                 kumo_rpc_req_t *req,
                 kumo_err_ctx_t *err)
{
    kumo_rpc_raw_t raw = {.method = m, .path = path, .query = query, .body_bytes_max = 1024};
    return kumo_rpc_req_parse(&raw, req, err);
}

static void test_rpc_routes_every_documented_path(void **state)
{
    (void)state;
    char hash[65];
    memset(hash, 'a', 64);
    hash[64] = '\0';
    char p_tx[128];
    char p_acct[128];
    char p_prov[128];
    char p_dep[128];
    char p_sv[128];
    char p_sd[128];
    char p_su[128];
    (void)snprintf(p_sv, sizeof(p_sv), "/staking/validators/%s", addr_a);
    (void)snprintf(p_sd, sizeof(p_sd), "/staking/delegations/%s", addr_a);
    (void)snprintf(p_su, sizeof(p_su), "/staking/unbondings/%s", addr_a);
    (void)snprintf(p_tx, sizeof(p_tx), "/txs/%s", hash);
    (void)snprintf(p_acct, sizeof(p_acct), "/accounts/%s", addr_a);
    (void)snprintf(p_prov, sizeof(p_prov), "/providers/%s", addr_b);
    (void)snprintf(p_dep, sizeof(p_dep), "/deployments/%s/7", addr_a);
    const struct {
        kumo_rpc_method_t m;
        const char *path;
        kumo_rpc_route_t want;
    } cases[] = {
        {KUMO_RPC_METHOD_GET, "/status", KUMO_RPC_ROUTE_STATUS},
        {KUMO_RPC_METHOD_GET, p_tx, KUMO_RPC_ROUTE_TX_GET},
        {KUMO_RPC_METHOD_GET, "/blocks/1", KUMO_RPC_ROUTE_BLOCK_GET},
        {KUMO_RPC_METHOD_GET, "/blocks/latest", KUMO_RPC_ROUTE_BLOCK_GET},
        {KUMO_RPC_METHOD_GET, p_acct, KUMO_RPC_ROUTE_ACCOUNT_GET},
        {KUMO_RPC_METHOD_GET, "/providers", KUMO_RPC_ROUTE_PROVIDER_LIST},
        {KUMO_RPC_METHOD_GET, p_prov, KUMO_RPC_ROUTE_PROVIDER_GET},
        {KUMO_RPC_METHOD_GET, "/deployments", KUMO_RPC_ROUTE_DEPLOYMENT_LIST},
        {KUMO_RPC_METHOD_GET, p_dep, KUMO_RPC_ROUTE_DEPLOYMENT_GET},
        {KUMO_RPC_METHOD_GET, "/groups", KUMO_RPC_ROUTE_GROUP_LIST},
        {KUMO_RPC_METHOD_GET, "/orders", KUMO_RPC_ROUTE_ORDER_LIST},
        {KUMO_RPC_METHOD_GET, "/fulfillments", KUMO_RPC_ROUTE_FULFILLMENT_LIST},
        {KUMO_RPC_METHOD_GET, "/leases", KUMO_RPC_ROUTE_LEASE_LIST},
        {KUMO_RPC_METHOD_GET, "/params", KUMO_RPC_ROUTE_PARAMS},
        {KUMO_RPC_METHOD_GET, "/validators", KUMO_RPC_ROUTE_VALIDATOR_LIST},
        {KUMO_RPC_METHOD_GET, "/staking/validators", KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST},
        {KUMO_RPC_METHOD_GET, p_sv, KUMO_RPC_ROUTE_STAKING_GET},
        {KUMO_RPC_METHOD_GET, p_sd, KUMO_RPC_ROUTE_STAKING_GET},
        {KUMO_RPC_METHOD_GET, p_su, KUMO_RPC_ROUTE_STAKING_GET},
        {KUMO_RPC_METHOD_GET, "/events", KUMO_RPC_ROUTE_EVENTS},
        {KUMO_RPC_METHOD_GET, "/metrics", KUMO_RPC_ROUTE_METRICS},
        {KUMO_RPC_METHOD_GET, "/grants", KUMO_RPC_ROUTE_GRANT_LIST},
        {KUMO_RPC_METHOD_GET, "/st%61tus", KUMO_RPC_ROUTE_STATUS},
    };
    kumo_rpc_req_t *req = req_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = parse(cases[i].m, cases[i].path, NULL, req, &err);
        if (rc != 0 || req->route != cases[i].want) {
            fail_msg("%s: got %s route %d (%s)", cases[i].path, kumo_err_name(rc), req->route,
                     err.detail);
        }
    }
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/blocks/latest", NULL, req, NULL), 0);
    assert_true(req->latest);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/blocks/18446744073709551615", NULL, req, NULL),
                     0);
    assert_int_equal(req->height, UINT64_MAX);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, p_dep, NULL, req, NULL), 0);
    assert_int_equal(req->dseq, 7);
    assert_true(req->has_owner);
    free(req);
}

static void test_rpc_route_errors_have_their_status(void **state)
{
    (void)state;
    const struct {
        kumo_rpc_method_t m;
        const char *path;
        int want;
        int status;
    } cases[] = {
        {KUMO_RPC_METHOD_GET, "/nope", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/staking/nope", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/staking/rewards/kumo1x", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/staking/delegations/kumo1x", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, NULL, KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "status", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/status/", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "//status", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/txs/a/b", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/a/b/c/d/e", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_GET, "/stat%00us", KUMO_ENOTFOUND, 404},
        {KUMO_RPC_METHOD_POST, "/status", KUMO_EINVAL, 405},
        {KUMO_RPC_METHOD_GET, "/txs", KUMO_EINVAL, 405},
        {KUMO_RPC_METHOD_OTHER, "/metrics", KUMO_EINVAL, 405},
        {KUMO_RPC_METHOD_POST, "/txs/ab", KUMO_EINVAL, 405},
        {KUMO_RPC_METHOD_GET, "/txs/abcd", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/blocks/0", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/blocks/01", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/blocks/-1", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/blocks/18446744073709551616", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/accounts/kumo1xyz", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/providers/abc", KUMO_EINVAL, 400},
        {KUMO_RPC_METHOD_GET, "/deployments/abc/1", KUMO_EINVAL, 400},
    };
    kumo_rpc_req_t *req = req_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = parse(cases[i].m, cases[i].path, NULL, req, &err);
        if (rc != cases[i].want || req->status != cases[i].status) {
            fail_msg("row %zu %s: got %s status %d (%s)", i,
                     cases[i].path != NULL ? cases[i].path : "(null)", kumo_err_name(rc),
                     req->status, err.detail);
        }
        assert_int_equal(req->route, KUMO_RPC_ROUTE_NONE);
    }
    free(req);
}

static void test_rpc_query_parameters_strict(void **state)
{
    (void)state;
    char q_owner_bad[128];
    char q_owner_twice[256];
    (void)snprintf(q_owner_bad, sizeof(q_owner_bad), "owner=%s", "kumo1qqqq");
    (void)snprintf(q_owner_twice, sizeof(q_owner_twice), "owner=%s&owner=%s", addr_a, addr_a);
    char q_page_long[2 * KUMO_KEY_BYTES_MAX + 16];
    memcpy(q_page_long, "page=", 5);
    memset(q_page_long + 5, 'a', 2 * KUMO_KEY_BYTES_MAX + 2);
    q_page_long[5 + 2 * KUMO_KEY_BYTES_MAX + 2] = '\0';
    char q_types_many[512] = "types=";
    for (uint32_t i = 0; i <= KUMO_RPC_TYPE_COUNT_MAX; i++) {
        strcat(q_types_many, i == 0 ? "a" : ",a");
    }
    char q_type_long[128] = "types=";
    memset(q_type_long + 6, 'a', KUMO_RPC_TYPE_BYTES_MAX + 1);
    q_type_long[6 + KUMO_RPC_TYPE_BYTES_MAX + 1] = '\0';
    const struct {
        const char *name;
        kumo_rpc_method_t m;
        const char *path;
        const char *query;
    } cases[] = {
        {"unknown parameter", KUMO_RPC_METHOD_GET, "/providers", "foo=1"},
        {"parameter of another route", KUMO_RPC_METHOD_GET, "/providers", "owner=x"},
        {"parameter on a route without any", KUMO_RPC_METHOD_GET, "/status", "limit=1"},
        {"repeated parameter", KUMO_RPC_METHOD_GET, "/deployments", q_owner_twice},
        {"limit zero", KUMO_RPC_METHOD_GET, "/providers", "limit=0"},
        {"limit max plus one", KUMO_RPC_METHOD_GET, "/providers", "limit=1001"},
        {"limit not a number", KUMO_RPC_METHOD_GET, "/providers", "limit=abc"},
        {"limit leading zero", KUMO_RPC_METHOD_GET, "/providers", "limit=010"},
        {"limit negative", KUMO_RPC_METHOD_GET, "/providers", "limit=-5"},
        {"page odd hex", KUMO_RPC_METHOD_GET, "/providers", "page=abc"},
        {"page not hex", KUMO_RPC_METHOD_GET, "/providers", "page=zz"},
        {"page over the key max", KUMO_RPC_METHOD_GET, "/providers", q_page_long},
        {"owner not an address", KUMO_RPC_METHOD_GET, "/deployments", q_owner_bad},
        {"state unknown name", KUMO_RPC_METHOD_GET, "/deployments", "state=OPEN"},
        {"state of another object", KUMO_RPC_METHOD_GET, "/deployments", "state=LEASE_ACTIVE"},
        {"dseq zero", KUMO_RPC_METHOD_GET, "/orders", "dseq=0"},
        {"order malformed", KUMO_RPC_METHOD_GET, "/leases", "order=x/1/1/1"},
        {"types bad character", KUMO_RPC_METHOD_GET, "/events", "types=Lease"},
        {"types empty element", KUMO_RPC_METHOD_GET, "/events", "types=lease.,,x"},
        {"types over the count max", KUMO_RPC_METHOD_GET, "/events", q_types_many},
        {"type over the length max", KUMO_RPC_METHOD_GET, "/events", q_type_long},
        {"from_height negative", KUMO_RPC_METHOD_GET, "/events", "from_height=-1"},
        {"grantee of another route", KUMO_RPC_METHOD_GET, "/deployments", "grantee=x"},
        {"granter not an address", KUMO_RPC_METHOD_GET, "/grants", "granter=kumo1qqqq"},
        {"grantee not an address", KUMO_RPC_METHOD_GET, "/grants", "grantee=kumo1x"},
        {"wait unknown", KUMO_RPC_METHOD_POST, "/txs", "wait=maybe"},
        {"timeout zero", KUMO_RPC_METHOD_POST, "/txs", "timeout_ms=0"},
        {"timeout max plus one", KUMO_RPC_METHOD_POST, "/txs", "timeout_ms=60001"},
        {"too many parameters", KUMO_RPC_METHOD_GET, "/leases",
         "state=&state=&state=&state=&state=&state=&state=&state=&state="},
        {"malformed query", KUMO_RPC_METHOD_GET, "/providers", "limit"},
    };
    kumo_rpc_req_t *req = req_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = parse(cases[i].m, cases[i].path, cases[i].query, req, &err);
        if (rc != KUMO_EINVAL || req->status != 400) {
            fail_msg("%s: got %s status %d (%s)", cases[i].name, kumo_err_name(rc), req->status,
                     err.detail);
        }
    }
    free(req);
}

static void test_rpc_query_parameters_accepted(void **state)
{
    (void)state;
    kumo_rpc_req_t *req = req_new();
    kumo_err_ctx_t err = {0};
    char q[512];
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/providers", "limit=1000&page=0a0B", req, &err),
                     0);
    assert_int_equal(req->limit, KUMO_QUERY_PAGE_COUNT_MAX);
    assert_int_equal(req->page_len, 2);
    assert_int_equal(req->page[1], 0x0b);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/providers", NULL, req, &err), 0);
    assert_int_equal(req->limit, KUMO_RPC_LIMIT_DEFAULT);
    (void)snprintf(q, sizeof(q), "owner=%s&dseq=7&state=ORDER_OPEN", addr_a);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/orders", q, req, &err), 0);
    assert_true(req->has_owner);
    assert_int_equal(req->dseq, 7);
    assert_int_not_equal(req->state, 0);
    (void)snprintf(q, sizeof(q), "order=%s&provider=%s&state=", order_text, addr_b);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/leases", q, req, &err), 0);
    assert_true(req->has_order);
    assert_int_equal(req->order.dseq, 7);
    assert_true(req->has_provider);
    assert_int_equal(req->state, 0);
    assert_int_equal(parse(KUMO_RPC_METHOD_POST, "/txs", "wait=commit&timeout_ms=60000", req, &err),
                     KUMO_EINVAL); /* no body: content type checked */
    (void)snprintf(q, sizeof(q), "types=lease.,deployment.closed&owner=%s&from_height=0", addr_a);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/events", q, req, &err), 0);
    assert_int_equal(req->filter.type_count, 2);
    assert_true(req->filter.has_owner);
    assert_true(req->has_from);
    assert_int_equal(req->from_height, 0);
    (void)snprintf(q, sizeof(q), "granter=%s&grantee=%s&limit=5", addr_a, addr_b);
    assert_int_equal(parse(KUMO_RPC_METHOD_GET, "/grants", q, req, &err), 0);
    assert_int_equal(req->route, KUMO_RPC_ROUTE_GRANT_LIST);
    assert_true(req->has_owner && req->has_grantee);
    assert_int_equal(req->limit, 5);
    free(req);
}

static int parse_body(const char *ctype,
                      const void *body,
                      size_t len,
                      size_t max,
                      kumo_rpc_req_t *req,
                      kumo_err_ctx_t *err)
{
    kumo_rpc_raw_t raw = {
        .method = KUMO_RPC_METHOD_POST,
        .path = "/txs",
        .query = "wait=commit&timeout_ms=60000",
        .content_type = ctype,
        .body = kumo_bytes_make(body, len),
        .body_bytes_max = max,
    };
    return kumo_rpc_req_parse(&raw, req, err);
}

/* {"tx": "<base64 of n bytes of 0x5a>"} */
static char *tx_body(size_t n)
{
    uint8_t *bin = malloc(n + 1);
    assert_non_null(bin);
    memset(bin, 0x5a, n);
    size_t b64_cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_cap);
    assert_non_null(b64);
    sodium_bin2base64(b64, b64_cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    char *body = malloc(b64_cap + 16);
    assert_non_null(body);
    (void)snprintf(body, b64_cap + 16, "{\"tx\":\"%s\"}", b64);
    free(bin);
    free(b64);
    return body;
}

static void test_rpc_body_rules(void **state)
{
    (void)state;
    char *big_ok = tx_body(KUMO_TX_BYTES_MAX);
    char *big_over = tx_body(KUMO_TX_BYTES_MAX + 1);
    const size_t max = 1u << 20;
    const struct {
        const char *name;
        const char *ctype;
        const char *body;
        size_t body_max;
        int want;
        int status;
    } cases[] = {
        {"valid", "application/json", "{\"tx\":\"AQID\"}", max, 0, 0},
        {"valid with charset", "application/json; charset=utf-8", "{\"tx\":\"AQID\"}", max, 0, 0},
        {"tx at its max", "application/json", big_ok, max, 0, 0},
        {"body at its max", "application/json", "{\"tx\":\"AQID\"}", 13, 0, 0},
        {"body over its max", "application/json", "{\"tx\":\"AQID\"}", 12, KUMO_ELIMIT, 413},
        {"no content type", NULL, "{\"tx\":\"AQID\"}", max, KUMO_EINVAL, 415},
        {"wrong content type", "text/plain", "{\"tx\":\"AQID\"}", max, KUMO_EINVAL, 415},
        {"content type prefix only", "application/jsonx", "{\"tx\":\"AQID\"}", max, KUMO_EINVAL,
         415},
        {"malformed json", "application/json", "{\"tx\":", max, KUMO_EDECODE, 400},
        {"not an object", "application/json", "[\"AQID\"]", max, KUMO_EDECODE, 400},
        {"duplicate key", "application/json", "{\"tx\":\"AQID\",\"tx\":\"AQID\"}", max,
         KUMO_EDECODE, 400},
        {"extra key", "application/json", "{\"tx\":\"AQID\",\"x\":1}", max, KUMO_EDECODE, 400},
        {"tx not a string", "application/json", "{\"tx\":5}", max, KUMO_EDECODE, 400},
        {"empty tx", "application/json", "{\"tx\":\"\"}", max, KUMO_EDECODE, 400},
        {"invalid base64", "application/json", "{\"tx\":\"A*ID\"}", max, KUMO_EDECODE, 400},
        {"unpadded base64", "application/json", "{\"tx\":\"AQI\"}", max, KUMO_EDECODE, 400},
        {"url-safe base64", "application/json", "{\"tx\":\"__8=\"}", max, KUMO_EDECODE, 400},
        {"base64 with a space", "application/json", "{\"tx\":\"AQ ID\"}", max, KUMO_EDECODE, 400},
        {"base64 with non-ascii letters", "application/json",
         "{\"tx\":\"A\xd6\xbf"
         "D\"}",
         max, KUMO_EDECODE, 400},
        {"base64 with padding inside", "application/json", "{\"tx\":\"AQ==AQID\"}", max,
         KUMO_EDECODE, 400},
        {"tx over its max", "application/json", big_over, max, KUMO_ELIMIT, 400},
    };
    kumo_rpc_req_t *req = req_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = parse_body(cases[i].ctype, cases[i].body, strlen(cases[i].body), cases[i].body_max,
                            req, &err);
        if (rc != cases[i].want || (rc != 0 && req->status != cases[i].status)) {
            fail_msg("%s: got %s status %d (%s)", cases[i].name, kumo_err_name(rc), req->status,
                     err.detail);
        }
    }
    assert_int_equal(parse_body("application/json", "{\"tx\":\"AQID\"}", 13, max, req, NULL), 0);
    assert_int_equal(req->tx_len, 3);
    assert_int_equal(req->tx[2], 3);
    assert_true(req->wait_commit);
    assert_int_equal(req->timeout_ms, KUMO_RPC_WAIT_TIMEOUT_MS_MAX);
    assert_int_equal(parse_body("application/json", big_ok, strlen(big_ok), max, req, NULL), 0);
    assert_int_equal(req->tx_len, KUMO_TX_BYTES_MAX);
    free(big_ok);
    free(big_over);
    free(req);
}

static void test_rpc_event_ids(void **state)
{
    (void)state;
    kumo_rpc_pos_t p;
    assert_int_equal(kumo_rpc_pos_parse("5:1:2", &p, NULL), 0);
    assert_int_equal(p.height, 5);
    assert_int_equal(p.tx_index, 1);
    assert_int_equal(p.event_index, 2);
    assert_int_equal(kumo_rpc_pos_parse("7", &p, NULL), 0);
    assert_int_equal(p.height, 7);
    assert_int_equal(p.tx_index, UINT32_MAX);
    const char *bad[] = {"",       ":",
                         "1:2",    "1:2:3:4",
                         "a",      "1:x:2",
                         "01:1:1", "1:4294967295:0",
                         "1::2",   "18446744073709551616",
                         "1:2:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kumo_rpc_pos_parse(bad[i], &p, NULL) != KUMO_EINVAL) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
    kumo_rpc_pos_t a = {5, 1, 2};
    kumo_rpc_pos_t b = {5, 1, 3};
    kumo_rpc_pos_t c = {5, UINT32_MAX, UINT32_MAX};
    kumo_rpc_pos_t d = {6, 0, 0};
    assert_int_equal(kumo_rpc_pos_compare(a, b), -1);
    assert_int_equal(kumo_rpc_pos_compare(b, c), -1);
    assert_int_equal(kumo_rpc_pos_compare(c, d), -1);
    assert_int_equal(kumo_rpc_pos_compare(d, a), 1);
    assert_int_equal(kumo_rpc_pos_compare(a, a), 0);
    kumo_rpc_req_t *req = req_new();
    kumo_rpc_raw_t raw = {
        .method = KUMO_RPC_METHOD_GET, .path = "/events", .last_event_id = "9:0:1"};
    assert_int_equal(kumo_rpc_req_parse(&raw, req, NULL), 0);
    assert_true(req->has_last_id);
    assert_int_equal(req->last_id.height, 9);
    raw.last_event_id = "nine";
    assert_int_equal(kumo_rpc_req_parse(&raw, req, NULL), KUMO_EINVAL);
    assert_int_equal(req->status, 400);
    free(req);
}

static void test_rpc_filter_matches_types_owner_provider(void **state)
{
    (void)state;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint8_t prov[KUMO_ADDRESS_BYTES];
    memset(owner, 0xa1, sizeof(owner));
    memset(prov, 0xb2, sizeof(prov));
    Kumo__Event ev = KUMO__EVENT__INIT;
    ev.type = (char *)"lease.created";
    ev.owner.data = owner;
    ev.owner.len = sizeof(owner);
    ev.provider.data = prov;
    ev.provider.len = sizeof(prov);
    kumo_rpc_filter_t f = {0};
    assert_true(kumo_rpc_filter_match(&f, &ev));
    f.type_count = 1;
    strcpy(f.types[0], "lease.");
    assert_true(kumo_rpc_filter_match(&f, &ev));
    strcpy(f.types[0], "lease");
    assert_false(kumo_rpc_filter_match(&f, &ev)); /* exact, and "lease" != "lease.created" */
    strcpy(f.types[0], "lease.created");
    assert_true(kumo_rpc_filter_match(&f, &ev));
    strcpy(f.types[0], "lease.created.x");
    assert_false(kumo_rpc_filter_match(&f, &ev));
    f.type_count = 2;
    strcpy(f.types[1], "deployment.");
    assert_false(kumo_rpc_filter_match(&f, &ev));
    strcpy(f.types[1], "lease.c");
    assert_false(kumo_rpc_filter_match(&f, &ev));
    f.type_count = 0;
    f.has_owner = true;
    memcpy(f.owner, owner, sizeof(owner));
    assert_true(kumo_rpc_filter_match(&f, &ev));
    f.owner[0] ^= 1;
    assert_false(kumo_rpc_filter_match(&f, &ev));
    f.has_owner = false;
    f.has_provider = true;
    memcpy(f.provider, prov, sizeof(prov));
    assert_true(kumo_rpc_filter_match(&f, &ev));
    ev.provider.len = 0;
    assert_false(kumo_rpc_filter_match(&f, &ev));
}

static void test_rpc_error_json_shape(void **state)
{
    (void)state;
    char *s = kumo_rpc_error_json(KUMO_ESIG, "bad \"sig\"");
    assert_non_null(s);
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "{\"error\":{\"code\":%d,\"name\":\"KUMO_ESIG\",\"message\":\"%s\",\"detail\":"
                   "\"bad \\\"sig\\\"\"}}",
                   KUMO_ESIG, kumo_err_msg(KUMO_ESIG));
    assert_string_equal(s, want);
    free(s);
    s = kumo_rpc_error_json(KUMO_EINVAL, "\xff\xfe not utf-8");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"detail\":\"\""));
    free(s);
    assert_int_equal(kumo_rpc_submit_status(KUMO_ELIMIT), 503);
    assert_int_equal(kumo_rpc_submit_status(KUMO_ESIG), 422);
}

static void test_rpc_seconds_fixed_point(void **state)
{
    (void)state;
    char s[32];
    assert_true(kumo_rpc_seconds_format(0, s, sizeof(s)));
    assert_string_equal(s, "0.000000");
    assert_true(kumo_rpc_seconds_format(1500, s, sizeof(s)));
    assert_string_equal(s, "0.001500");
    assert_true(kumo_rpc_seconds_format(12345678, s, sizeof(s)));
    assert_string_equal(s, "12.345678");
    assert_true(kumo_rpc_seconds_format(UINT64_MAX, s, sizeof(s)));
    assert_string_equal(s, "18446744073709.551615");
    assert_false(kumo_rpc_seconds_format(12345678, s, 9));
    assert_true(kumo_rpc_seconds_format(12345678, s, 10));
    uint64_t v = 0;
    assert_int_equal(kumo_rpc_u64_parse("18446744073709551615", UINT64_MAX, &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(kumo_rpc_u64_parse("18446744073709551616", UINT64_MAX, &v), KUMO_EINVAL);
    assert_int_equal(kumo_rpc_u64_parse("65536", 65535, &v), KUMO_EINVAL);
    assert_int_equal(kumo_rpc_u64_parse("+1", 65535, &v), KUMO_EINVAL);
}

/* The connection cap under an open-files limit: the configured maximum, lowered to leave
 * KUMO_RPC_FD_RESERVE descriptors to the rest of the node, never more than there is. */
static void test_rpc_conn_max_for_leaves_the_reserve(void **state)
{
    (void)state;
    static const struct {
        uint32_t cfg_max;
        uint64_t nofile;
        uint32_t want;
    } cases[] = {
        {256, 1024, 256},
        {256, KUMO_RPC_FD_RESERVE + 256u, 256},
        {256, KUMO_RPC_FD_RESERVE + 255u, 255},
        {256, KUMO_RPC_FD_RESERVE + 1u, 1},
        {256, KUMO_RPC_FD_RESERVE, 0},
        {256, 0, 0},
        {65536, UINT64_MAX, 65536},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t got = kumo_rpc_conn_max_for(cases[i].cfg_max, cases[i].nofile);
        if (got != cases[i].want) {
            fail_msg("case %zu: got %u, want %u", i, got, cases[i].want);
        }
    }
}

/* Per-address keys: IPv4 and IPv4-mapped IPv6 are the same key; IPv6 by /64; other families
 * and short lengths are refused. */
static void test_rpc_addr_key_groups_clients(void **state)
{
    (void)state;
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    a4.sin_addr.s_addr = htonl(0x7f000002u);
    struct sockaddr_in6 m6 = {.sin6_family = AF_INET6};
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
    memcpy(m6.sin6_addr.s6_addr, mapped, 16);
    struct sockaddr_in6 x6 = {.sin6_family = AF_INET6};
    struct sockaddr_in6 y6 = {.sin6_family = AF_INET6};
    x6.sin6_addr.s6_addr[0] = 0x20;
    x6.sin6_addr.s6_addr[15] = 1;
    y6.sin6_addr.s6_addr[0] = 0x20;
    y6.sin6_addr.s6_addr[15] = 2; /* same /64 */
    uint8_t k4[16];
    uint8_t km[16];
    uint8_t kx[16];
    uint8_t ky[16];
    assert_true(kumo_rpc_addr_key(&a4, sizeof(a4), k4));
    assert_memory_equal(k4, mapped, 16);
    assert_true(kumo_rpc_addr_key(&m6, sizeof(m6), km));
    assert_memory_equal(km, k4, 16);
    assert_true(kumo_rpc_addr_key(&x6, sizeof(x6), kx));
    assert_true(kumo_rpc_addr_key(&y6, sizeof(y6), ky));
    assert_memory_equal(kx, ky, 16);
    assert_memory_not_equal(kx, k4, 16);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    const struct {
        const char *name;
        const void *sa;
        size_t len;
    } bad[] = {
        {"unix socket", &un, sizeof(un)},
        {"short ipv4", &a4, sizeof(a4) - 1u},
        {"short ipv6", &x6, sizeof(x6) - 1u},
        {"no family", &a4, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t k[16];
        if (kumo_rpc_addr_key(bad[i].sa, bad[i].len, k)) {
            fail_msg("%s: accepted", bad[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_routes_every_documented_path),
        cmocka_unit_test(test_rpc_route_errors_have_their_status),
        cmocka_unit_test(test_rpc_query_parameters_strict),
        cmocka_unit_test(test_rpc_query_parameters_accepted),
        cmocka_unit_test(test_rpc_body_rules),
        cmocka_unit_test(test_rpc_event_ids),
        cmocka_unit_test(test_rpc_filter_matches_types_owner_provider),
        cmocka_unit_test(test_rpc_error_json_shape),
        cmocka_unit_test(test_rpc_seconds_fixed_point),
        cmocka_unit_test(test_rpc_conn_max_for_leaves_the_reserve),
        cmocka_unit_test(test_rpc_addr_key_groups_clients),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
