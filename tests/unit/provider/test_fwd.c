/*
 * test_fwd.c - the provider's TCP forwarder (src/provider/fwd.h) on loopback: echo servers
 * behind it, a table replaced from another thread the way the daemon does. Shown: bytes go
 * both ways unchanged (also 4 MiB, past the backpressure bound), targets are used round
 * robin, an entry without targets accepts and closes, a removed entry stops listening, a
 * half-closed client still gets its answer, and only the allowed sources are relayed.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "helpers/podman.h"
#include "provider/fwd.h"

#define T_BIG (4u * 1024u * 1024u)

static struct event_base *base;
static pd_fwd_t *fwd;
static pthread_t loop_thread;
static volatile int loop_stop;

typedef struct echo {
    int fd;
    unsigned port;
    char tag; /* sent first on every connection */
    pthread_t thread;
} echo_t;

static echo_t echo_a = {.tag = 'A'};
static echo_t echo_b = {.tag = 'B'};

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

/* Each connection: the tag, then everything read echoed until the client closes. */
static void *echo_run(void *arg)
{
    echo_t *e = arg;
    for (;;) {
        int c = accept(e->fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }
        (void)!write(c, &e->tag, 1);
        static char buf[65536];
        ssize_t n;
        while ((n = read(c, buf, sizeof(buf))) > 0) {
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(c, buf + off, (size_t)(n - off));
                if (w <= 0) {
                    break;
                }
                off += w;
            }
        }
        (void)close(c);
    }
}

static int listen_on(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

static void echo_start(echo_t *e)
{
    e->port = kumo_test_free_port();
    e->fd = listen_on(e->port);
    assert_true(e->fd >= 0);
    assert_int_equal(pthread_create(&e->thread, NULL, echo_run, e), 0);
}

static int setup(void **state)
{
    (void)state;
    base = event_base_new();
    if (base == NULL || pd_fwd_open(base, &fwd, NULL) != 0) {
        return -1;
    }
    echo_start(&echo_a);
    echo_start(&echo_b);
    return pthread_create(&loop_thread, NULL, loop_run, NULL);
}

static int teardown(void **state)
{
    (void)state;
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    pd_fwd_close(fwd);
    event_base_free(base);
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* Sets one entry on 127.0.0.1:port with the given echo targets, for clients from source
 * (a numeric address); waits until applied. */
static void table_set_from(
    unsigned port, const echo_t *const *targets, uint32_t n, uint32_t listening, const char *source)
{
    pd_fwd_entry_t e;
    memset(&e, 0, sizeof(e));
    (void)snprintf(e.ip, sizeof(e.ip), "127.0.0.1");
    (void)snprintf(e.sources[0], sizeof(e.sources[0]), "%s", source);
    e.source_count = 1;
    e.port = (uint16_t)port;
    for (uint32_t i = 0; i < n; i++) {
        (void)snprintf(e.targets[i].host, sizeof(e.targets[i].host), "127.0.0.1");
        e.targets[i].port = (uint16_t)targets[i]->port;
    }
    e.target_count = n;
    pd_fwd_set(fwd, &e, port != 0 ? 1u : 0u);
    for (int i = 0; i < 100 && pd_fwd_listening(fwd) != listening; i++) {
        pause_ms(20);
    }
    pause_ms(2 * PD_FWD_SYNC_MS); /* the targets of a kept listener too */
    assert_int_equal(pd_fwd_listening(fwd), listening);
}

static void table_set(unsigned port, const echo_t *const *targets, uint32_t n, uint32_t listening)
{
    table_set_from(port, targets, n, listening, "127.0.0.1");
}

/* Connects to 127.0.0.1:port from the address from (NULL: the kernel's choice). */
static int dial_from(unsigned port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (from != NULL) {
        struct sockaddr_in me = {.sin_family = AF_INET};
        (void)inet_pton(AF_INET, from, &me.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        (void)close(fd);
        return -1;
    }
    struct timeval tv = {10, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int dial(unsigned port)
{
    return dial_from(port, NULL);
}

static size_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    return got;
}

static void test_relay_both_ways_and_round_robin(void **state)
{
    (void)state;
    unsigned port = kumo_test_free_port();
    const echo_t *targets[] = {&echo_a, &echo_b};
    table_set(port, targets, 2, 1);
    char seen[2] = {0};
    for (int k = 0; k < 2; k++) {
        int fd = dial(port);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello", 5), 5);
        char buf[6];
        assert_int_equal(read_n(fd, buf, 6), 6);
        assert_memory_equal(buf + 1, "hello", 5);
        seen[k] = buf[0];
        (void)close(fd);
    }
    assert_true((seen[0] == 'A' && seen[1] == 'B') || (seen[0] == 'B' && seen[1] == 'A'));
    assert_true(pd_fwd_relayed(fwd) >= 2);
}

typedef struct reader {
    int fd;
    char *in;
    size_t got;
} reader_t;

static void *reader_run(void *arg)
{
    reader_t *r = arg;
    r->got = read_n(r->fd, r->in, T_BIG + 1u);
    return NULL;
}

/* 4 MiB each way through one connection (read by a thread while written: past the
 * forwarder's backpressure bound), the client shutting down its write side first. */
static void test_big_and_half_closed(void **state)
{
    (void)state;
    unsigned port = kumo_test_free_port();
    const echo_t *targets[] = {&echo_a};
    table_set(port, targets, 1, 1);
    int fd = dial(port);
    assert_true(fd >= 0);
    char *out = malloc(T_BIG);
    reader_t r = {.fd = fd, .in = malloc(T_BIG + 1u)};
    for (size_t i = 0; i < T_BIG; i++) {
        out[i] = (char)(i * 31u);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
    for (size_t sent = 0; sent < T_BIG;) {
        ssize_t w = write(fd, out + sent, T_BIG - sent);
        assert_true(w > 0);
        sent += (size_t)w;
    }
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    (void)pthread_join(t, NULL);
    assert_int_equal(r.got, T_BIG + 1u);
    assert_int_equal(r.in[0], 'A');
    assert_memory_equal(r.in + 1, out, T_BIG);
    free(out);
    free(r.in);
    (void)close(fd);
}

static void test_no_targets_and_removal(void **state)
{
    (void)state;
    unsigned port = kumo_test_free_port();
    table_set(port, NULL, 0, 1);
    int fd = dial(port);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(read(fd, &c, 1), 0); /* accepted and closed: no target known yet */
    (void)close(fd);
    table_set(0, NULL, 0, 0); /* an empty table closes the listener */
    assert_int_equal(dial(port), -1);
}

/* Only the sources the rules allow: a client from another address is closed at once. */
static void test_sources_only(void **state)
{
    (void)state;
    unsigned port = kumo_test_free_port();
    const echo_t *targets[] = {&echo_a};
    table_set_from(port, targets, 1, 1, "127.0.0.2");
    uint64_t refused = pd_fwd_refused(fwd);
    int fd = dial_from(port, "127.0.0.1");
    assert_true(fd >= 0);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    (void)close(fd);
    assert_int_equal(pd_fwd_refused(fwd), refused + 1u);
    fd = dial_from(port, "127.0.0.2");
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    char buf[2];
    assert_int_equal(read_n(fd, buf, 2), 2);
    assert_memory_equal(buf, "Ax", 2);
    (void)close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_both_ways_and_round_robin),
        cmocka_unit_test(test_big_and_half_closed),
        cmocka_unit_test(test_no_targets_and_removal),
        cmocka_unit_test(test_sources_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
