/*
 * test_api_shell.c - shell sessions of the provider API over real TLS 1.3 on loopback, with a
 * fake backend whose "runtime" is a socketpair served by a thread speaking the runtime's
 * multiplexed stream (the one place a fake is right: the backend is the daemon). Shown: input
 * reaches the process (also frames sent before the 101 was read), its stdout and stderr come
 * back apart, end of input is delivered, the exit code comes back and the connection closes;
 * 8 MiB of output to a client that reads late arrive whole (backpressure, nothing dropped);
 * refusals with their own status (not the owner, no upgrade, malformed body, no such
 * instance, the per-owner cap, then a slot freed again); a malformed frame and an idle session
 * end with ERROR.
 */
#include "helpers/testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "codec/codec.h"
#include "provider/api_int.h"
#include "provider/provider_api.h"
#include "tls/tls.h"

#define FLOOD_BYTES (8u * 1024u * 1024u)

static struct event_base *base;
static kumo_provider_api_t *api;
static pthread_t loop_thread;
static volatile int loop_stop;
static kumo_buf_t root_pem;
static kumo_buf_t owner_cert, owner_key, other_cert, other_key;
static uint8_t owner_addr[KUMO_ADDRESS_BYTES];
static char owner_text[KUMO_ADDRESS_TEXT_BYTES];
static volatile int exit_code_of_last = -1; /* set by the fake process when it ends */

/* ---- the fake runtime: one thread per process ---- */

typedef struct fake_proc {
    int fd;
    char what[32];
} fake_proc_t;

static void mux_write(int fd, uint8_t stream, const void *p, size_t len)
{
    uint8_t hdr[8] = {stream, 0, 0, 0, 0, 0, 0, 0};
    kumo_be32_put(hdr + 4, (uint32_t)len);
    if (write(fd, hdr, 8) != 8 || write(fd, p, len) != (ssize_t)len) {
        return; /* the provider went away */
    }
}

static void *fake_run(void *arg)
{
    fake_proc_t *p = arg;
    char buf[4096];
    if (strcmp(p->what, "echo") == 0) { /* input back on stdout; "bye" on stderr at its end */
        ssize_t n;
        while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
            mux_write(p->fd, 1, buf, (size_t)n);
        }
        mux_write(p->fd, 2, "bye\n", 4);
        exit_code_of_last = 42;
    } else if (strcmp(p->what, "flood") == 0) { /* FLOOD_BYTES of a known pattern */
        static uint8_t chunk[65536];
        for (size_t i = 0; i < FLOOD_BYTES; i += sizeof(chunk)) {
            for (size_t k = 0; k < sizeof(chunk); k++) {
                chunk[k] = (uint8_t)((i + k) % 251u);
            }
            mux_write(p->fd, 1, chunk, sizeof(chunk));
        }
        exit_code_of_last = 0;
    } else { /* "idle": waits for its input to end */
        while (read(p->fd, buf, sizeof(buf)) > 0) {
        }
        exit_code_of_last = 1;
    }
    (void)close(p->fd);
    free(p);
    return NULL;
}

static int be_view(void *ctx,
                   const uint8_t owner[KUMO_ADDRESS_BYTES],
                   uint64_t dseq,
                   kumo_provider_deployment_view_t *view,
                   kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)err;
    view->known = dseq == 7 && memcmp(owner, owner_addr, KUMO_ADDRESS_BYTES) == 0;
    view->has_lease = view->known;
    return 0;
}

static int be_accept(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     kumo_bytes_t m,
                     kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    (void)m;
    return kumo_err_set(err, KUMO_EINVAL, "not in this test");
}

static int be_info(void *ctx, json_t **out, kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)err;
    *out = json_object();
    return 0;
}

static int be_shell_open(void *ctx,
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         const kumo_provider_shell_request_t *rq,
                         kumo_provider_shell_stream_t *out,
                         kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)owner;
    (void)dseq;
    KUMO_ENSURE(strcmp(rq->workload, "box") == 0 && rq->instance == 0, err, KUMO_ENOTFOUND,
                "no instance %u of workload '%s' runs here", rq->instance, rq->workload);
    int sv[2];
    KUMO_ENSURE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, err, KUMO_EIO, "socketpair");
    fake_proc_t *p = calloc(1, sizeof(*p));
    p->fd = sv[1];
    (void)snprintf(p->what, sizeof(p->what), "%s", rq->argc > 0 ? rq->argv[0] : "idle");
    exit_code_of_last = -1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fake_run, p), 0);
    (void)pthread_detach(t);
    out->fd = sv[0];
    out->tty = rq->tty;
    (void)snprintf(out->exec_id, sizeof(out->exec_id), "exec-%d", sv[0]);
    kumo_buf_init(&out->early, 64);
    return 0;
}

static int
be_shell_exit(void *ctx, const char *exec_id, bool *running, int *code, kumo_err_ctx_t *err)
{
    (void)ctx;
    (void)exec_id;
    (void)err;
    *running = exit_code_of_last < 0;
    *code = exit_code_of_last;
    return 0;
}

static void *loop_run(void *arg)
{
    (void)arg;
    while (!loop_stop) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(base, &tv);
        (void)event_base_dispatch(base);
    }
    return NULL;
}

static void key_of(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static void client_creds(uint8_t tag, kumo_buf_t *cert, kumo_buf_t *key)
{
    kumo_crypto_keypair_t kp;
    key_of(tag, &kp);
    kumo_buf_init(cert, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(key, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_self_signed(&kp, "tenant", 1, cert, NULL), 0);
    assert_int_equal(kumo_tls_key_pem(&kp, key, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca, srv, owner;
    key_of(1, &ca);
    key_of(2, &srv);
    kumo_buf_init(&root_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 30, &root_pem, NULL), 0);
    assert_int_equal(kumo_tls_cert_issue(&ca, kumo_buf_bytes(&root_pem), srv.pubkey, "127.0.0.1",
                                         30, &chain, NULL),
                     0);
    assert_int_equal(kumo_buf_append(&chain, root_pem.ptr, root_pem.len), 0);
    client_creds(3, &owner_cert, &owner_key);
    client_creds(4, &other_cert, &other_key);
    key_of(3, &owner);
    kumo_crypto_address_from_pubkey(owner.pubkey, owner_addr);
    kumo_codec_address_encode(owner_addr, owner_text);
    base = event_base_new();
    kumo_provider_api_backend_t be = {.deployment_view = be_view,
                                      .manifest_accept = be_accept,
                                      .info = be_info,
                                      .shell_open = be_shell_open,
                                      .shell_exit = be_shell_exit};
    kumo_provider_api_cfg_t cfg = {.listen = "127.0.0.1:0",
                                   .server_cert_pem = kumo_buf_bytes(&chain),
                                   .server_key = &srv,
                                   .shell_session_per_owner_max = 2,
                                   .shell_idle_ms = 1500};
    kumo_err_ctx_t err = {0};
    if (kumo_provider_api_open(&cfg, base, &be, &api, &err) != 0) {
        fprintf(stderr, "api open: %s\n", err.detail);
        return -1;
    }
    kumo_buf_free(&chain);
    return pthread_create(&loop_thread, NULL, loop_run, NULL);
}

static int teardown(void **state)
{
    (void)state;
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_provider_api_close(api);
    event_base_free(base);
    return 0;
}

/* ---- the client: TLS in libcurl's connect-only mode ---- */

typedef struct client {
    CURL *c;
    int fd;
    kumo_buf_t in; /* received, not yet consumed */
} client_t;

static void client_send(client_t *cl, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(cl->c, p, len, &n);
        if (rc == CURLE_AGAIN) {
            struct pollfd pfd = {.fd = cl->fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        assert_int_equal(rc, CURLE_OK);
        p += n;
        len -= n;
    }
}

/* Reads more (waiting up to 60 s); false when the connection closed. */
static bool client_recv(client_t *cl)
{
    for (int i = 0; i < 600; i++) {
        uint8_t buf[65536];
        size_t n = 0;
        CURLcode rc = curl_easy_recv(cl->c, buf, sizeof(buf), &n);
        if (rc == CURLE_AGAIN) {
            struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
            (void)poll(&pfd, 1, 100);
            continue;
        }
        if (rc != CURLE_OK || n == 0) {
            return false;
        }
        assert_int_equal(kumo_buf_append(&cl->in, buf, n), 0);
        return true;
    }
    fail_msg("nothing from the provider within 60 s");
    return false;
}

static void client_consume(client_t *cl, size_t n)
{
    memmove(cl->in.ptr, cl->in.ptr + n, cl->in.len - n);
    cl->in.len -= n;
}

static void frame_send(client_t *cl, kumo_provider_shell_type_t type, const void *p, uint32_t len)
{
    uint8_t hdr[KUMO_PROVIDER_SHELL_HEADER_BYTES];
    kumo_provider_shell_header_put(type, len, hdr);
    client_send(cl, hdr, sizeof(hdr));
    if (len > 0) {
        client_send(cl, p, len);
    }
}

/* Connects as who (1 owner, 2 other) and sends the request; upgrade: with its headers. */
static void client_open(client_t *cl, int who, const char *body, bool upgrade)
{
    memset(cl, 0, sizeof(*cl));
    kumo_buf_init(&cl->in, 16u * 1024u * 1024u);
    char url[256];
    (void)snprintf(url, sizeof(url), "https://%s/", kumo_provider_api_listen_addr(api));
    cl->c = curl_easy_init();
    kumo_buf_t *cert = who == 1 ? &owner_cert : &other_cert;
    kumo_buf_t *key = who == 1 ? &owner_key : &other_key;
    struct curl_blob ca = {root_pem.ptr, root_pem.len, CURL_BLOB_COPY};
    struct curl_blob cb = {cert->ptr, cert->len, CURL_BLOB_COPY};
    struct curl_blob kb = {key->ptr, key->len, CURL_BLOB_COPY};
    (void)curl_easy_setopt(cl->c, CURLOPT_URL, url);
    (void)curl_easy_setopt(cl->c, CURLOPT_CAINFO_BLOB, &ca);
    (void)curl_easy_setopt(cl->c, CURLOPT_SSLCERT_BLOB, &cb);
    (void)curl_easy_setopt(cl->c, CURLOPT_SSLKEY_BLOB, &kb);
    (void)curl_easy_setopt(cl->c, CURLOPT_CONNECT_ONLY, 1L);
    assert_int_equal(curl_easy_perform(cl->c), CURLE_OK);
    curl_socket_t s = CURL_SOCKET_BAD;
    assert_int_equal(curl_easy_getinfo(cl->c, CURLINFO_ACTIVESOCKET, &s), CURLE_OK);
    cl->fd = (int)s;
    char req[1024];
    int n = snprintf(
        req, sizeof(req),
        "PUT /deployments/%s/7/shell HTTP/1.1\r\nHost: x\r\n%s"
        "Content-Length: %zu\r\n\r\n%s",
        owner_text,
        upgrade ? "Connection: Upgrade\r\nUpgrade: " KUMO_PROVIDER_SHELL_PROTOCOL "\r\n" : "",
        strlen(body), body);
    client_send(cl, req, (size_t)n);
}

/* The answer's status; its head is consumed. */
static int client_status(client_t *cl)
{
    char *end = NULL;
    while ((end = cl->in.len > 0 ? memmem(cl->in.ptr, cl->in.len, "\r\n\r\n", 4) : NULL) == NULL) {
        assert_true(client_recv(cl));
    }
    int status = atoi((const char *)cl->in.ptr + 9); /* NOLINT: test parses a known head */
    client_consume(cl, (size_t)(end - (char *)cl->in.ptr) + 4u);
    return status;
}

/* The next frame from the provider into f (payload copied to payload, cap bytes); false when
 * the connection closed first. */
static bool frame_next(client_t *cl, kumo_provider_shell_frame_t *f, kumo_buf_t *payload)
{
    for (;;) {
        size_t used = 0;
        kumo_err_ctx_t err = {0};
        assert_int_equal(
            kumo_provider_shell_frame_parse(kumo_buf_bytes(&cl->in), false, f, &used, &err), 0);
        if (used > 0) {
            kumo_buf_reset(payload);
            assert_int_equal(kumo_buf_append(payload, f->payload.ptr, f->payload.len), 0);
            f->payload = kumo_buf_bytes(payload);
            client_consume(cl, used);
            return true;
        }
        if (!client_recv(cl)) {
            return false;
        }
    }
}

static void client_close(client_t *cl)
{
    curl_easy_cleanup(cl->c);
    kumo_buf_free(&cl->in);
}

/* ---- tests ---- */

static void test_session_both_ways(void **state)
{
    (void)state;
    client_t cl;
    client_open(&cl, 1, "{\"workload\":\"box\",\"cmd\":[\"echo\"]}", true);
    frame_send(&cl, KUMO_PROVIDER_SHELL_STDIN, "early\n", 6); /* before the 101 was read */
    assert_int_equal(client_status(&cl), 101);
    frame_send(&cl, KUMO_PROVIDER_SHELL_STDIN, "late\n", 5);
    frame_send(&cl, KUMO_PROVIDER_SHELL_EOF, NULL, 0);
    kumo_buf_t out, errout, payload;
    kumo_buf_init(&out, 1024);
    kumo_buf_init(&errout, 1024);
    kumo_buf_init(&payload, 1u << 20);
    kumo_provider_shell_frame_t f;
    int code = -1;
    while (frame_next(&cl, &f, &payload)) {
        if (f.type == KUMO_PROVIDER_SHELL_STDOUT || f.type == KUMO_PROVIDER_SHELL_STDERR) {
            kumo_buf_t *b = f.type == KUMO_PROVIDER_SHELL_STDOUT ? &out : &errout;
            assert_int_equal(kumo_buf_append(b, f.payload.ptr, f.payload.len), 0);
        } else {
            assert_int_equal(f.type, KUMO_PROVIDER_SHELL_EXIT);
            code = (int)f.exit_code;
        }
    }
    assert_int_equal(code, 42);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.ptr, "early\nlate\n", 11);
    assert_int_equal(errout.len, 4);
    assert_memory_equal(errout.ptr, "bye\n", 4);
    kumo_buf_free(&out);
    kumo_buf_free(&errout);
    kumo_buf_free(&payload);
    client_close(&cl);
}

static void test_flood_to_a_late_reader(void **state)
{
    (void)state;
    client_t cl;
    client_open(&cl, 1, "{\"workload\":\"box\",\"cmd\":[\"flood\"]}", true);
    assert_int_equal(client_status(&cl), 101);
    sleep(1); /* the process writes while nobody reads: the provider must hold back */
    kumo_buf_t payload;
    kumo_buf_init(&payload, 1u << 20);
    kumo_provider_shell_frame_t f;
    size_t got = 0;
    bool intact = true;
    int code = -1;
    while (frame_next(&cl, &f, &payload)) {
        if (f.type == KUMO_PROVIDER_SHELL_EXIT) {
            code = (int)f.exit_code;
            continue;
        }
        assert_int_equal(f.type, KUMO_PROVIDER_SHELL_STDOUT);
        for (size_t k = 0; k < f.payload.len; k++) {
            intact = intact && f.payload.ptr[k] == (uint8_t)((got + k) % 251u);
        }
        got += f.payload.len;
    }
    assert_int_equal(got, FLOOD_BYTES);
    assert_true(intact);
    assert_int_equal(code, 0);
    kumo_buf_free(&payload);
    client_close(&cl);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int who;
        const char *body;
        bool upgrade;
        int status;
    } rows[] = {
        {"not the owner", 2, "{\"workload\":\"box\"}", true, 403},
        {"no upgrade", 1, "{\"workload\":\"box\"}", false, 400},
        {"malformed body", 1, "{\"workload\":\"box\",\"x\":1}", true, 400},
        {"no such instance", 1, "{\"workload\":\"box\",\"instance\":3}", true, 404},
        {"no such workload", 1, "{\"workload\":\"nope\"}", true, 404},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        client_t cl;
        client_open(&cl, rows[i].who, rows[i].body, rows[i].upgrade);
        int status = client_status(&cl);
        if (status != rows[i].status) {
            fail_msg("%s: %d, expected %d", rows[i].name, status, rows[i].status);
        }
        client_close(&cl);
    }
    /* Two sessions per owner here: the third is refused until one ends. */
    client_t a, b, c;
    client_open(&a, 1, "{\"workload\":\"box\"}", true);
    assert_int_equal(client_status(&a), 101);
    client_open(&b, 1, "{\"workload\":\"box\"}", true);
    assert_int_equal(client_status(&b), 101);
    client_open(&c, 1, "{\"workload\":\"box\"}", true);
    assert_int_equal(client_status(&c), 429);
    client_close(&c);
    frame_send(&a, KUMO_PROVIDER_SHELL_EOF, NULL, 0);
    kumo_buf_t payload;
    kumo_buf_init(&payload, 1u << 20);
    kumo_provider_shell_frame_t f;
    while (frame_next(&a, &f, &payload)) {
    }
    client_close(&a);
    int status = 0;
    for (int i = 0; i < 100 && status != 101; i++) { /* the slot frees when a's close ran */
        client_open(&c, 1, "{\"workload\":\"box\"}", true);
        status = client_status(&c);
        if (status != 101) {
            client_close(&c);
            usleep(100 * 1000);
        }
    }
    assert_int_equal(status, 101);
    client_close(&c);
    client_close(&b);
    kumo_buf_free(&payload);
}

static void test_bad_frame_and_idle(void **state)
{
    (void)state;
    kumo_buf_t payload;
    kumo_buf_init(&payload, 1u << 20);
    kumo_provider_shell_frame_t f;
    client_t cl;
    client_open(&cl, 1, "{\"workload\":\"box\"}", true);
    assert_int_equal(client_status(&cl), 101);
    frame_send(&cl, KUMO_PROVIDER_SHELL_STDOUT, "x", 1); /* the provider's type */
    assert_true(frame_next(&cl, &f, &payload));
    assert_int_equal(f.type, KUMO_PROVIDER_SHELL_ERROR);
    assert_false(frame_next(&cl, &f, &payload));
    client_close(&cl);
    /* Nothing either way for the idle timeout (1.5 s here): ERROR, then closed. */
    client_open(&cl, 1, "{\"workload\":\"box\"}", true);
    assert_int_equal(client_status(&cl), 101);
    assert_true(frame_next(&cl, &f, &payload));
    assert_int_equal(f.type, KUMO_PROVIDER_SHELL_ERROR);
    assert_non_null(memmem(f.payload.ptr, f.payload.len, "no input or output", 18));
    assert_false(frame_next(&cl, &f, &payload));
    client_close(&cl);
    kumo_provider_api_stats_t st;
    kumo_provider_api_stats(api, &st); /* read from here while the loop runs: counters only */
    assert_true(st.shell_idle_closed >= 1);
    assert_true(st.shell_refused >= 1);
    kumo_buf_free(&payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_both_ways),
        cmocka_unit_test(test_flood_to_a_late_reader),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bad_frame_and_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
