/*
 * test_grants.c - how the provider daemon learns a grantee's grants (src/provider/grants.c),
 * against a stand-in node: an HTTP server on loopback (libevent, its own thread) answering GET
 * /status with a height the test sets and GET /grants with grants rendered exactly as the node
 * renders them (kumo_codec_json_from_message), counting the /grants requests. Shown: the
 * grants for the deployment and for all are kept, others dropped; a second lookup at the same
 * height asks nothing (the cache), one at the next height asks again and sees a revoke; the
 * key is (owner, grantee, dseq); a grant that breaks its rules, a node that does not answer and
 * a list too long to read are errors, never grants.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "client/client.h"
#include "codec/codec.h"
#include "provider/daemon_int.h"

static struct {
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    volatile int stop;
    uint16_t port;
    pthread_mutex_t mu;
    uint64_t height;
    int grants_asked;
    bool bad_grant; /* answer a grant whose granter is not 20 bytes */
    bool endless;   /* every page says there is a next one */
    bool revoked;   /* the dseq 7 grant is gone */
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    char url[64];
} n;

static json_t *grant_json(uint64_t dseq, uint64_t expiry, uint32_t msg_type, size_t granter_len)
{
    Kumo__Grant gr = KUMO__GRANT__INIT;
    gr.granter.data = n.owner;
    gr.granter.len = granter_len;
    gr.grantee.data = n.grantee;
    gr.grantee.len = KUMO_ADDRESS_BYTES;
    gr.dseq = dseq;
    uint32_t types[1] = {msg_type};
    gr.msg_types = types;
    gr.n_msg_types = 1;
    gr.expiry_height = expiry;
    gr.created_height = 1;
    json_t *j = kumo_codec_json_from_message(&gr.base);
    assert_non_null(j);
    return j;
}

static void reply(struct evhttp_request *req, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void node_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    (void)pthread_mutex_lock(&n.mu);
    if (strcmp(uri, "/status") == 0) {
        char h[24];
        (void)snprintf(h, sizeof(h), "%" PRIu64, n.height);
        (void)pthread_mutex_unlock(&n.mu);
        reply(req, json_pack("{s:s, s:s}", "chain_id", "kumo-test", "height", h));
        return;
    }
    if (strncmp(uri, "/grants?", 8) != 0) {
        (void)pthread_mutex_unlock(&n.mu);
        evhttp_send_error(req, 404, "no such route");
        return;
    }
    n.grants_asked++;
    json_t *items = json_array();
    (void)json_array_append_new(items, grant_json(0, 1000, KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT,
                                                  n.bad_grant ? 3u : KUMO_ADDRESS_BYTES));
    if (!n.revoked) {
        (void)json_array_append_new(
            items, grant_json(7, 500, KUMO__MSG__SUM_UPDATE_DEPLOYMENT, KUMO_ADDRESS_BYTES));
    }
    (void)json_array_append_new(
        items, grant_json(8, 500, KUMO__MSG__SUM_CLOSE_DEPLOYMENT, KUMO_ADDRESS_BYTES));
    bool endless = n.endless;
    (void)pthread_mutex_unlock(&n.mu);
    reply(req, json_pack("{s:o, s:o}", "items", items, "next",
                         endless ? json_string("00") : json_null()));
}

static void *node_loop(void *arg)
{
    (void)arg;
    while (!n.stop) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(n.base, &tv);
        (void)event_base_dispatch(n.base);
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&n, 0, sizeof(n));
    assert_int_equal(pthread_mutex_init(&n.mu, NULL), 0);
    memset(n.owner, 0x11, sizeof(n.owner));
    memset(n.grantee, 0x22, sizeof(n.grantee));
    n.height = 100;
    n.base = event_base_new();
    n.http = evhttp_new(n.base);
    assert_non_null(n.http);
    evhttp_set_gencb(n.http, node_request, NULL);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(n.http, "127.0.0.1", 0);
    assert_non_null(s);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&sa, &len), 0);
    n.port = ntohs(sa.sin_port);
    (void)snprintf(n.url, sizeof(n.url), "http://127.0.0.1:%u", n.port);
    return pthread_create(&n.thread, NULL, node_loop, NULL);
}

static int teardown(void **state)
{
    (void)state;
    n.stop = 1;
    (void)pthread_join(n.thread, NULL);
    evhttp_free(n.http);
    event_base_free(n.base);
    (void)pthread_mutex_destroy(&n.mu);
    return 0;
}

static void node_set(uint64_t height, bool revoked, bool bad, bool endless)
{
    (void)pthread_mutex_lock(&n.mu);
    n.height = height;
    n.revoked = revoked;
    n.bad_grant = bad;
    n.endless = endless;
    (void)pthread_mutex_unlock(&n.mu);
}

static int asked(void)
{
    (void)pthread_mutex_lock(&n.mu);
    int a = n.grants_asked;
    (void)pthread_mutex_unlock(&n.mu);
    return a;
}

static int lookup(pd_grant_cache_t *c, uint64_t dseq, kumo_provider_grants_t *out)
{
    kumo_client_t *cl = NULL;
    assert_int_equal(kumo_client_open(n.url, NULL, &cl, NULL), 0);
    kumo_err_ctx_t err = {0};
    int rc = pd_grants_get(c, cl, n.owner, n.grantee, dseq, out, &err);
    kumo_client_close(cl);
    return rc;
}

/* The two grants that could cover dseq 7 are kept (its own and the one for all), at the
 * node's height; the one for dseq 8 is not. */
static void test_grants_for_the_deployment_kept(void **state)
{
    (void)state;
    pd_grant_cache_t *c = NULL;
    assert_int_equal(pd_grant_cache_new(&c, NULL), 0);
    node_set(100, false, false, false);
    kumo_provider_grants_t g;
    assert_int_equal(lookup(c, 7, &g), 0);
    assert_int_equal(g.height, 100);
    assert_int_equal(g.count, 2);
    bool all = false;
    bool seven = false;
    for (uint32_t i = 0; i < g.count; i++) {
        assert_memory_equal(g.grants[i].granter, n.owner, KUMO_ADDRESS_BYTES);
        assert_memory_equal(g.grants[i].grantee, n.grantee, KUMO_ADDRESS_BYTES);
        all = all || (g.grants[i].dseq == 0 && g.grants[i].expiry_height == 1000);
        seven = seven || (g.grants[i].dseq == 7 && g.grants[i].msg_type_count == 1 &&
                          g.grants[i].msg_types[0] == KUMO__MSG__SUM_UPDATE_DEPLOYMENT);
    }
    assert_true(all && seven);
    pd_grant_cache_free(c);
}

/* Kept for the height read at only: the same height asks the node for no grants; the next
 * height asks again and sees the revoke; another dseq is another key. */
static void test_cache_lasts_one_height(void **state)
{
    (void)state;
    pd_grant_cache_t *c = NULL;
    assert_int_equal(pd_grant_cache_new(&c, NULL), 0);
    node_set(200, false, false, false);
    kumo_provider_grants_t g;
    int before = asked();
    assert_int_equal(lookup(c, 7, &g), 0);
    assert_int_equal(asked(), before + 1);
    node_set(200, true, false, false); /* revoked on the node, same height: not yet seen */
    assert_int_equal(lookup(c, 7, &g), 0);
    assert_int_equal(asked(), before + 1);
    assert_int_equal(g.count, 2);
    assert_int_equal(lookup(c, 8, &g), 0); /* another key */
    assert_int_equal(asked(), before + 2);
    node_set(201, true, false, false);
    assert_int_equal(lookup(c, 7, &g), 0);
    assert_int_equal(asked(), before + 3);
    assert_int_equal(g.height, 201);
    assert_int_equal(g.count, 1); /* only the one for all is left */
    assert_int_equal(g.grants[0].dseq, 0);
    uint64_t hits = 0;
    uint64_t misses = 0;
    pd_grant_cache_counts(c, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 3);
    pd_grant_cache_free(c);
}

/* A grant that breaks its rules, a node that does not answer, a list too long to read: errors
 * (the API answers 503), never grants. */
static void test_failures_are_errors(void **state)
{
    (void)state;
    pd_grant_cache_t *c = NULL;
    assert_int_equal(pd_grant_cache_new(&c, NULL), 0);
    kumo_provider_grants_t g;
    node_set(300, false, true, false);
    assert_int_equal(lookup(c, 7, &g), KUMO_EDECODE);
    node_set(301, false, false, true);
    int before = asked();
    assert_int_equal(lookup(c, 7, &g), KUMO_ELIMIT);
    assert_int_equal(asked(), before + 16);
    node_set(301, false, false, false); /* nothing was cached from either */
    assert_int_equal(lookup(c, 7, &g), 0);
    assert_int_equal(g.count, 2);
    kumo_client_t *cl = NULL;
    assert_int_equal(kumo_client_open("http://127.0.0.1:1", NULL, &cl, NULL), 0);
    assert_int_equal(pd_grants_get(c, cl, n.owner, n.grantee, 7, &g, NULL), KUMO_EIO);
    kumo_client_close(cl);
    pd_grant_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_for_the_deployment_kept),
        cmocka_unit_test(test_cache_lasts_one_height),
        cmocka_unit_test(test_failures_are_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
