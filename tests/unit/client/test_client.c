/*
 * test_client.c - the node client (src/client) two ways. Decoders: every strict rule on bad
 * bodies (error envelopes, uint64 strings, status, tx answers, state objects), table-driven
 * from a valid value. A real node (a one-validator testnet started by the harness): status,
 * an account decoded as Kumo__Account, a paginated list, the failures (node unreachable, HTTP
 * error, refused tx, an answer over the handle's bound) told apart by code, a tx broadcast
 * that waits for its commit, and the event stream replaying from height 1 with no gap, resumed
 * after the node restarts (Last-Event-ID) with no gap and no repeat; a stream whose node is
 * gone gives up after KUMO_CLIENT_STREAM_RESUME_MAX reconnects.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chain/chain.h"
#include "client/client.h"
#include "codec/codec.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"
#include "keyring/keyring.h"

#define TC_BLOCK_MS 100u

/* ---- decoders ---- */

static json_t *tc_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);
    if (j == NULL) {
        fail_msg("test JSON '%s': %s", text, jerr.text);
    }
    return j;
}

static void test_answer_decode(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        long status;
        const char *body;
        int want;
    } rows[] = {
        {"object", 200, "{\"a\":1}", 0},
        {"array", 200, "[1]", 0},
        {"empty body", 200, "", KUMO_EDECODE},
        {"not JSON", 200, "{\"a\":", KUMO_EDECODE},
        {"a bare string", 200, "\"x\"", KUMO_EDECODE},
        {"duplicate key", 200, "{\"a\":1,\"a\":2}", KUMO_EDECODE},
        {"node error code", 422, "{\"error\":{\"code\":-14,\"detail\":\"expected sequence 3\"}}",
         KUMO_ESEQUENCE},
        {"error code out of range", 400, "{\"error\":{\"code\":-5000}}", KUMO_EIO},
        {"positive error code", 400, "{\"error\":{\"code\":3}}", KUMO_EIO},
        {"404 without JSON", 404, "not found", KUMO_ENOTFOUND},
        {"502 without JSON", 502, "", KUMO_EIO},
        {"redirect", 302, "", KUMO_EIO},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        kumo_err_ctx_t err = {0};
        json_t *out = NULL;
        kumo_bytes_t body = {(const uint8_t *)rows[i].body, strlen(rows[i].body)};
        int rc = kumo_client_answer_decode("http://node", rows[i].status, body, &out, &err);
        if (rc != rows[i].want) {
            fail_msg("%s: got %s (%s)", rows[i].name, kumo_err_name(rc), err.detail);
        }
        assert_true((rc == 0) == (out != NULL));
        json_decref(out);
    }
    /* The node's detail reaches the caller. */
    kumo_err_ctx_t err = {0};
    json_t *out = NULL;
    const char *body = "{\"error\":{\"code\":-14,\"detail\":\"expected sequence 3\"}}";
    assert_int_equal(kumo_client_answer_decode("http://node", 422,
                                               (kumo_bytes_t){(const uint8_t *)body, strlen(body)},
                                               &out, &err),
                     KUMO_ESEQUENCE);
    assert_string_equal(err.detail, "expected sequence 3");
}

static void test_json_u64(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int want;
        uint64_t value;
    } rows[] = {
        {"{\"h\":\"0\"}", 0, 0},
        {"{\"h\":\"18446744073709551615\"}", 0, UINT64_MAX},
        {"{\"h\":42}", 0, 42},
        {"{\"h\":\"18446744073709551616\"}", KUMO_EDECODE, 0},
        {"{\"h\":\"012\"}", KUMO_EDECODE, 0},
        {"{\"h\":\"-1\"}", KUMO_EDECODE, 0},
        {"{\"h\":\"+1\"}", KUMO_EDECODE, 0},
        {"{\"h\":\" 1\"}", KUMO_EDECODE, 0},
        {"{\"h\":\"1x\"}", KUMO_EDECODE, 0},
        {"{\"h\":\"\"}", KUMO_EDECODE, 0},
        {"{\"h\":-1}", KUMO_EDECODE, 0},
        {"{\"h\":1.5}", KUMO_EDECODE, 0},
        {"{\"h\":null}", KUMO_EDECODE, 0},
        {"{}", KUMO_EDECODE, 0},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        json_t *j = tc_json(rows[i].json);
        uint64_t v = 7;
        kumo_err_ctx_t err = {0};
        int rc = kumo_client_json_u64(j, "h", &v, &err);
        if (rc != rows[i].want || (rc == 0 && v != rows[i].value)) {
            fail_msg("%s: got %s %" PRIu64 " (%s)", rows[i].json, kumo_err_name(rc), v, err.detail);
        }
        json_decref(j);
    }
}

static void test_status_decode(void **state)
{
    (void)state;
    char long_id[KUMO_CHAIN_ID_BYTES_MAX + 40];
    (void)snprintf(long_id, sizeof(long_id), "{\"chain_id\":\"%0*d\",\"height\":\"1\"}",
                   (int)KUMO_CHAIN_ID_BYTES_MAX + 1, 0);
    char max_id[KUMO_CHAIN_ID_BYTES_MAX + 40];
    (void)snprintf(max_id, sizeof(max_id), "{\"chain_id\":\"%0*d\",\"height\":\"1\"}",
                   (int)KUMO_CHAIN_ID_BYTES_MAX, 0);
    const struct {
        const char *name;
        const char *json;
        int want;
    } rows[] = {
        {"valid", "{\"chain_id\":\"kumo-1\",\"height\":\"12\",\"moniker\":\"a\"}", 0},
        {"chain id at max", max_id, 0},
        {"chain id over max", long_id, KUMO_ELIMIT},
        {"empty chain id", "{\"chain_id\":\"\",\"height\":\"12\"}", KUMO_EDECODE},
        {"no chain id", "{\"height\":\"12\"}", KUMO_EDECODE},
        {"chain id a number", "{\"chain_id\":5,\"height\":\"12\"}", KUMO_EDECODE},
        {"chain id with a NUL", "{\"chain_id\":\"a\\u0000b\",\"height\":\"1\"}", KUMO_EDECODE},
        {"no height", "{\"chain_id\":\"kumo-1\"}", KUMO_EDECODE},
        {"bad height", "{\"chain_id\":\"kumo-1\",\"height\":\"x\"}", KUMO_EDECODE},
        {"an array", "[]", KUMO_EDECODE},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        json_t *j = tc_json(rows[i].json);
        kumo_client_status_t st;
        kumo_err_ctx_t err = {0};
        int rc = kumo_client_status_decode(j, &st, &err);
        if (rc != rows[i].want) {
            fail_msg("%s: got %s (%s)", rows[i].name, kumo_err_name(rc), err.detail);
        }
        if (i == 0) {
            assert_string_equal(st.chain_id, "kumo-1");
            assert_int_equal(st.height, 12);
        }
        json_decref(j);
    }
}

static void test_tx_answer_decode(void **state)
{
    (void)state;
    static const char hash[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char rows_json[8][300];
    (void)snprintf(rows_json[0], sizeof(rows_json[0]), "{\"hash\":\"%s\",\"status\":\"pending\"}",
                   hash);
    (void)snprintf(rows_json[1], sizeof(rows_json[1]),
                   "{\"hash\":\"%s\",\"status\":\"committed\",\"height\":\"9\",\"code\":-6,"
                   "\"log\":\"poor\"}",
                   hash);
    (void)snprintf(rows_json[2], sizeof(rows_json[2]),
                   "{\"hash\":\"%.62s\",\"status\":\"pending\"}", hash);
    (void)snprintf(rows_json[3], sizeof(rows_json[3]),
                   "{\"hash\":\"%.63sG\",\"status\":\"pending\"}", hash);
    (void)snprintf(rows_json[4], sizeof(rows_json[4]), "{\"hash\":\"%s\",\"status\":\"odd\"}",
                   hash);
    (void)snprintf(rows_json[5], sizeof(rows_json[5]),
                   "{\"hash\":\"%s\",\"status\":\"committed\",\"code\":0}", hash);
    (void)snprintf(rows_json[6], sizeof(rows_json[6]),
                   "{\"hash\":\"%s\",\"status\":\"committed\",\"height\":\"9\",\"code\":1}", hash);
    (void)snprintf(rows_json[7], sizeof(rows_json[7]), "{\"status\":\"pending\"}");
    static const struct {
        const char *name;
        int want;
    } rows[] = {
        {"pending", 0},
        {"committed, failed", 0},
        {"short hash", KUMO_EDECODE},
        {"hash not hex", KUMO_EDECODE},
        {"unknown status", KUMO_EDECODE},
        {"committed without height", KUMO_EDECODE},
        {"positive code", KUMO_EDECODE},
        {"no hash", KUMO_EDECODE},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        json_t *j = tc_json(rows_json[i]);
        kumo_client_tx_answer_t a;
        kumo_err_ctx_t err = {0};
        int rc = kumo_client_tx_answer_decode(j, &a, &err);
        if (rc != rows[i].want) {
            fail_msg("%s: got %s (%s)", rows[i].name, kumo_err_name(rc), err.detail);
        }
        if (i == 1) {
            assert_true(a.committed);
            assert_int_equal(a.code, KUMO_EFUNDS);
            assert_int_equal(a.height, 9);
            assert_string_equal(a.log, "poor");
        }
        json_decref(j);
    }
}

static void test_object_decode(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const ProtobufCMessageDescriptor *desc;
        const char *json;
        int want;
    } rows[] = {
        {"account", &kumo__account__descriptor, "{\"balance\":\"5\",\"sequence\":\"2\"}", 0},
        {"account, unknown key", &kumo__account__descriptor, "{\"balance\":\"5\",\"x\":1}",
         KUMO_EDECODE},
        {"account, balance negative", &kumo__account__descriptor, "{\"balance\":\"-5\"}",
         KUMO_EDECODE},
        {"account, an array", &kumo__account__descriptor, "[]", KUMO_EDECODE},
        {"deployment with escrow cover", &kumo__deployment__descriptor,
         "{\"dseq\":\"3\",\"escrow_cover\":{\"height\":\"1\"}}", 0},
        {"deployment, unknown key", &kumo__deployment__descriptor, "{\"dseq\":\"3\",\"y\":{}}",
         KUMO_EDECODE},
        {"lease, bad state", &kumo__lease__descriptor, "{\"state\":\"LEASE_NOPE\"}", KUMO_EDECODE},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(rows); i++) {
        json_t *j = tc_json(rows[i].json);
        ProtobufCMessage *m = NULL;
        kumo_err_ctx_t err = {0};
        int rc = kumo_client_object_decode(rows[i].desc, j, &m, &err);
        if (rc != rows[i].want) {
            fail_msg("%s: got %s (%s)", rows[i].name, kumo_err_name(rc), err.detail);
        }
        assert_true((rc == 0) == (m != NULL));
        kumo_codec_free(m);
        json_decref(j);
    }
}

static void test_path_param_add(void **state)
{
    (void)state;
    char path[32] = "/leases";
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "owner", "a b&c", NULL), 0);
    assert_string_equal(path, "/leases?owner=a%20b%26c");
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "x", NULL, NULL), 0);
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "state", "LEASE_ACTIVE", NULL),
                     KUMO_ELIMIT);
    assert_string_equal(path, "/leases?owner=a%20b%26c"); /* unchanged */
}

static void test_open_refuses_bad_urls(void **state)
{
    (void)state;
    kumo_client_t *c = NULL;
    assert_int_equal(kumo_client_open("ftp://x", NULL, &c, NULL), KUMO_EINVAL);
    assert_int_equal(kumo_client_open("127.0.0.1:1", NULL, &c, NULL), KUMO_EINVAL);
    char url[KUMO_CLIENT_URL_BYTES_MAX + 2];
    memset(url, 'a', sizeof(url) - 1);
    memcpy(url, "http://", 7);
    url[sizeof(url) - 1] = '\0';
    assert_int_equal(kumo_client_open(url, NULL, &c, NULL), KUMO_EINVAL);
    url[KUMO_CLIENT_URL_BYTES_MAX] = '\0';
    assert_int_equal(kumo_client_open(url, NULL, &c, NULL), 0);
    kumo_client_close(c);
    assert_int_equal(kumo_client_open("http://127.0.0.1:1///", NULL, &c, NULL), 0);
    assert_string_equal(kumo_client_url(c), "http://127.0.0.1:1");
    kumo_client_close(c);
}

static void test_event_id_height(void **state)
{
    (void)state;
    uint64_t h = 0;
    assert_int_equal(kumo_client_event_id_height("12", &h, NULL), 0);
    assert_int_equal(h, 12);
    assert_int_equal(kumo_client_event_id_height("7:0:3", &h, NULL), 0);
    assert_int_equal(h, 7);
    assert_int_equal(kumo_client_event_id_height("", &h, NULL), KUMO_EDECODE);
    assert_int_equal(kumo_client_event_id_height("x", &h, NULL), KUMO_EDECODE);
    assert_int_equal(kumo_client_event_id_height("1x", &h, NULL), KUMO_EDECODE);
    assert_int_equal(kumo_client_event_id_height("99999999999999999999", &h, NULL), KUMO_EDECODE);
}

/* ---- against a real node ---- */

typedef struct tc_net {
    kumo_test_net_t net;
    bool up;
    char url[64];
} tc_net_t;

static tc_net_t g;

static int tc_net_setup(void **state)
{
    (void)state;
    if (kumo_test_net_start(&g.net, 1, TC_BLOCK_MS, NULL) != 0) {
        return 0; /* the tests skip */
    }
    g.up = true;
    (void)snprintf(g.url, sizeof(g.url), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g.net, 0));
    return 0;
}

static int tc_net_teardown(void **state)
{
    (void)state;
    if (g.up) {
        kumo_test_net_stop(&g.net);
    }
    return 0;
}

static kumo_client_t *tc_client(void)
{
    kumo_client_t *c = NULL;
    kumo_err_ctx_t err = {0};
    if (kumo_client_open(g.url, NULL, &c, &err) != 0) {
        fail_msg("open: %s", err.detail);
    }
    return c;
}

static void tc_tenant_key(kumo_crypto_keypair_t *kp, char addr[KUMO_ADDRESS_TEXT_BYTES])
{
    char dir[1200];
    (void)snprintf(dir, sizeof(dir), "%s/tenant/keyring", g.net.dir);
    kumo_keyring_t *kr = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_keyring_open(dir, &kr, &err);
    rc = rc == 0 ? kumo_keyring_load(kr, "tenant", NULL, kp, &err) : rc;
    kumo_keyring_close(kr);
    if (rc != 0) {
        fail_msg("tenant key: %s", err.detail);
    }
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, raw);
    kumo_codec_address_encode(raw, addr);
}

static int tc_count_item(void *ctx, const json_t *item, kumo_err_ctx_t *err)
{
    (void)err;
    assert_true(json_is_object(item));
    (*(size_t *)ctx)++;
    return 0;
}

static void test_node_queries(void **state)
{
    (void)state;
    if (!g.up) {
        skip();
    }
    kumo_client_t *c = tc_client();
    kumo_err_ctx_t err = {0};
    kumo_client_status_t st;
    assert_int_equal(kumo_client_status_get(c, &st, &err), 0);
    assert_string_equal(st.chain_id, KUMO_TEST_NET_CHAIN_ID);
    kumo_crypto_keypair_t kp;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    tc_tenant_key(&kp, addr);
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", addr);
    ProtobufCMessage *m = NULL;
    assert_int_equal(kumo_client_object_get(c, path, &kumo__account__descriptor, &m, &err), 0);
    assert_true(((Kumo__Account *)m)->balance > 0);
    kumo_codec_free(m);
    /* The validators' list, one item a page, so the walk follows "next". */
    size_t items = 0;
    bool more = true;
    assert_int_equal(
        kumo_client_list_each(c, "/validators", 0, tc_count_item, NULL, &items, &more, &err), 0);
    assert_int_equal(items, 1);
    assert_false(more);
    /* An HTTP error with the node's code, a route that does not exist. */
    json_t *j = NULL;
    assert_int_equal(kumo_client_get(c, "/nothing-here", &j, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_client_get(c, "/accounts/notanaddress", &j, &err), KUMO_EINVAL);
    assert_null(j);
    kumo_client_close(c);
    /* An answer over the handle's bound. */
    kumo_client_opts_t small = {.answer_bytes_max = 16};
    assert_int_equal(kumo_client_open(g.url, &small, &c, &err), 0);
    assert_int_equal(kumo_client_get(c, "/status", &j, &err), KUMO_ELIMIT);
    assert_null(j);
    kumo_client_close(c);
    /* The node unreachable: port 1 on loopback refuses. */
    assert_int_equal(kumo_client_open("http://127.0.0.1:1", NULL, &c, &err), 0);
    assert_int_equal(kumo_client_get(c, "/status", &j, &err), KUMO_EIO);
    assert_non_null(strstr(err.detail, "cannot reach the node at http://127.0.0.1:1"));
    kumo_client_close(c);
    sodium_memzero(&kp, sizeof(kp));
}

/* A send of 1 ukumo from the tenant to itself. */
static void
tc_send_tx(const kumo_crypto_keypair_t *kp, uint64_t sequence, uint64_t fee, kumo_buf_t *out)
{
    uint8_t to[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, to);
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to.data = to;
    send.to.len = KUMO_ADDRESS_BYTES;
    send.amount = 1;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    Kumo__Msg *msgs[1] = {&msg};
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    if (kumo_chain_tx_build(KUMO_TEST_NET_CHAIN_ID, kp, sequence, fee, "", msgs, 1, out, &err) !=
        0) {
        fail_msg("tx build: %s", err.detail);
    }
}

static void test_tx_broadcast(void **state)
{
    (void)state;
    if (!g.up) {
        skip();
    }
    kumo_client_t *c = tc_client();
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t kp;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    tc_tenant_key(&kp, addr);
    ProtobufCMessage *m = NULL;
    assert_int_equal(kumo_client_object_get(c, "/params", &kumo__params__descriptor, &m, &err), 0);
    uint64_t fee = ((Kumo__Params *)m)->min_fee;
    kumo_codec_free(m);
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", addr);
    assert_int_equal(kumo_client_object_get(c, path, &kumo__account__descriptor, &m, &err), 0);
    uint64_t seq = ((Kumo__Account *)m)->sequence;
    kumo_codec_free(m);
    /* Waits for the commit. */
    kumo_buf_t tx;
    tc_send_tx(&kp, seq, fee, &tx);
    kumo_client_tx_answer_t ans;
    json_t *j = NULL;
    int rc = kumo_client_tx_broadcast(c, kumo_buf_bytes(&tx), 30000, &ans, &j, &err);
    if (rc != 0) {
        fail_msg("broadcast: %s %s", kumo_err_name(rc), err.detail);
    }
    assert_true(ans.committed);
    assert_int_equal(ans.code, 0);
    assert_true(ans.height > 0);
    assert_true(json_is_array(json_object_get(j, "events")));
    json_decref(j);
    /* The same sequence again: refused by the mempool, with its code. */
    assert_int_equal(kumo_client_tx_broadcast(c, kumo_buf_bytes(&tx), 0, &ans, NULL, &err),
                     KUMO_ESEQUENCE);
    kumo_buf_free(&tx);
    /* Bytes that are no tx. */
    static const uint8_t junk[] = {1, 2, 3};
    rc = kumo_client_tx_broadcast(c, (kumo_bytes_t){junk, sizeof(junk)}, 0, &ans, NULL, &err);
    assert_true(rc == KUMO_EDECODE || rc == KUMO_EINVAL);
    kumo_client_close(c);
    sodium_memzero(&kp, sizeof(kp));
}

/* Takes block events until height want; each block's height follows the last (no gap, no
 * repeat). */
static void tc_blocks_until(kumo_client_stream_t *s, uint64_t *last, uint64_t want)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (*last < want) {
        assert_true(kumo_test_now_ms() < deadline);
        kumo_client_event_t ev;
        kumo_err_ctx_t err = {0};
        int rc = kumo_client_stream_next(s, 1000, &ev, &err);
        if (rc != 0) {
            fail_msg("stream: %s %s", kumo_err_name(rc), err.detail);
        }
        if (ev.data != NULL && strcmp(ev.type, "block") == 0) {
            if (ev.height != *last + 1) {
                fail_msg("block %" PRIu64 " after %" PRIu64, ev.height, *last);
            }
            uint64_t h = 0;
            assert_int_equal(kumo_client_json_u64(ev.data, "height", &h, NULL), 0);
            assert_int_equal(h, ev.height);
            *last = ev.height;
        }
        kumo_client_event_clear(&ev);
    }
}

static void test_stream_resumes(void **state)
{
    (void)state;
    if (!g.up) {
        skip();
    }
    kumo_client_t *c = tc_client();
    kumo_err_ctx_t err = {0};
    kumo_client_stream_t *s = NULL;
    assert_int_equal(kumo_client_stream_open(c, "types=lease.", 1, &s, &err), 0);
    uint64_t last = 0;
    tc_blocks_until(s, &last, 3);
    assert_int_equal(kumo_client_stream_height(s), 3);
    /* The node dies and restarts: the stream reconnects from the last id it saw. */
    kumo_test_net_kill9(&g.net, 0);
    assert_int_equal(kumo_test_net_restart(&g.net), 0);
    kumo_client_status_t st;
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (kumo_client_status_get(c, &st, &err) != 0) {
        assert_true(kumo_test_now_ms() < deadline);
        kumo_test_pause_ms(50);
    }
    tc_blocks_until(s, &last, st.height + 2);
    assert_true(kumo_client_stream_resumes(s) >= 1);
    /* A wakeup cuts a wait short with no event. */
    kumo_client_stream_wakeup(s);
    kumo_client_event_t ev;
    assert_int_equal(kumo_client_stream_next(s, 60000, &ev, &err), 0);
    assert_null(ev.data);
    kumo_client_stream_close(s);
    /* A filter the node refuses ends the stream with its HTTP error. */
    assert_int_equal(kumo_client_stream_open(c, "owner=nope", 0, &s, &err), 0);
    assert_int_equal(kumo_client_stream_next(s, 10000, &ev, &err), KUMO_EIO);
    assert_non_null(strstr(err.detail, "HTTP 400"));
    kumo_client_stream_close(s);
    kumo_client_close(c);
}

/* A stream whose node is gone: the reconnects give up after KUMO_CLIENT_STREAM_RESUME_MAX in a
 * row that brought nothing, with why. */
static void test_stream_gives_up(void **state)
{
    (void)state;
    kumo_client_t *c = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_client_open("http://127.0.0.1:1", NULL, &c, &err), 0);
    kumo_client_stream_t *s = NULL;
    assert_int_equal(kumo_client_stream_open(c, NULL, 0, &s, &err), 0);
    kumo_client_event_t ev;
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        rc = kumo_client_stream_next(s, 1000, &ev, &err);
        assert_null(ev.data);
    }
    assert_int_equal(rc, KUMO_EIO);
    assert_non_null(strstr(err.detail, "reconnects brought nothing"));
    assert_int_equal(kumo_client_stream_resumes(s), KUMO_CLIENT_STREAM_RESUME_MAX);
    /* It stays ended. */
    assert_int_equal(kumo_client_stream_next(s, 0, &ev, &err), KUMO_EIO);
    kumo_client_stream_close(s);
    kumo_client_close(c);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_answer_decode),         cmocka_unit_test(test_json_u64),
        cmocka_unit_test(test_status_decode),         cmocka_unit_test(test_tx_answer_decode),
        cmocka_unit_test(test_object_decode),         cmocka_unit_test(test_path_param_add),
        cmocka_unit_test(test_open_refuses_bad_urls), cmocka_unit_test(test_event_id_height),
        cmocka_unit_test(test_stream_gives_up),
    };
    const struct CMUnitTest node[] = {
        cmocka_unit_test(test_node_queries),
        cmocka_unit_test(test_tx_broadcast),
        cmocka_unit_test(test_stream_resumes),
    };
    int rc = cmocka_run_group_tests(pure, NULL, NULL);
    return rc != 0 ? rc : cmocka_run_group_tests(node, tc_net_setup, tc_net_teardown);
}
