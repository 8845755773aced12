/*
 * test_fwd.c - the overlay's TCP forwarder (src/overlay/overlay.h) on loopback: echo servers
 * behind it, a table replaced from another thread the way the daemon does. Shown: bytes go
 * both ways unchanged (also 4 MiB, past the backpressure bound), targets are used round
 * robin, an entry without targets accepts and closes, a removed entry stops listening, a
 * half-closed client still gets its answer, and only the allowed sources are relayed. The
 * caps: past connection_per_source_max a source's connections are closed at once (and a slot
 * freed is usable again); a tunnel's listener is used for its own source workload only and
 * never off loopback. The address rule itself is table-driven.
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
#include "overlay/overlay.h"

#define T_BIG (4u * 1024u * 1024u)

static struct event_base *base;
static kumo_overlay_fwd_t *fwd;
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
    if (base == NULL || kumo_overlay_fwd_open(base, NULL, &fwd, NULL) != 0) {
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
    kumo_overlay_fwd_close(fwd);
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
    kumo_overlay_fwd_entry_t e;
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
    kumo_overlay_fwd_set(fwd, &e, port != 0 ? 1u : 0u);
    for (int i = 0; i < 100 && kumo_overlay_fwd_listening(fwd) != listening; i++) {
        pause_ms(20);
    }
    pause_ms(2 * KUMO_OVERLAY_FWD_SYNC_MS); /* the targets of a kept listener too */
    assert_int_equal(kumo_overlay_fwd_listening(fwd), listening);
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
    assert_true(kumo_overlay_fwd_relayed(fwd) >= 2);
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
    uint64_t refused = kumo_overlay_fwd_refused(fwd);
    int fd = dial_from(port, "127.0.0.1");
    assert_true(fd >= 0);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    (void)close(fd);
    assert_int_equal(kumo_overlay_fwd_refused(fwd), refused + 1u);
    fd = dial_from(port, "127.0.0.2");
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    char buf[2];
    assert_int_equal(read_n(fd, buf, 2), 2);
    assert_memory_equal(buf, "Ax", 2);
    (void)close(fd);
}

static void test_address_allowed_table(void **state)
{
    (void)state;
    static const struct {
        const char *host;
        const char *allow;
        bool want;
    } rows[] = {
        {"203.0.113.7", "", true},
        {"8.8.8.8", NULL, true},
        {"2001:4860::8888", "", true},
        {"::ffff:8.8.8.8", "", true},
        {"127.0.0.1", "", false},
        {"127.255.255.254", "", false},
        {"0.0.0.0", "", false},
        {"10.88.0.5", "", false},
        {"172.16.0.1", "", false},
        {"172.31.255.255", "", false},
        {"172.32.0.1", "", true},
        {"192.168.1.1", "", false},
        {"169.254.169.254", "", false},
        {"100.64.0.1", "", false},
        {"100.128.0.1", "", true},
        {"198.18.0.1", "", false},
        {"192.0.0.8", "", false},
        {"224.0.0.1", "", false},
        {"255.255.255.255", "", false},
        {"240.0.0.1", "", false},
        {"::", "", false},
        {"::1", "", false},
        {"::ffff:127.0.0.1", "", false},
        {"::ffff:10.0.0.1", "", false},
        {"fd00::1", "", false},
        {"fe80::1", "", false},
        {"ff02::1", "", false},
        {"localhost", "", false},
        {"example.com", "example.com", false},
        {"", "", false},
        {"127.0.0.1", "127.0.0.1", true},
        {"127.0.0.1", "10.0.0.1,127.0.0.1", true},
        {"127.0.0.2", "127.0.0.1", false},
        {"::1", "0:0::1", true},
        {"10.0.0.1", "127.0.0.1", false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (kumo_overlay_address_allowed(rows[i].host, rows[i].allow) != rows[i].want) {
            fail_msg("%s allow '%s': want %d", rows[i].host,
                     rows[i].allow != NULL ? rows[i].allow : "(null)", rows[i].want);
        }
    }
    static const struct {
        const char *allow;
        bool want;
    } lists[] = {
        {"", true},
        {"127.0.0.1", true},
        {"127.0.0.1,::1", true},
        {"127.0.0.1,", false},
        {",", false},
        {"a.b", false},
        {"127.0.0.1 ", false},
        {"1.2.3.4/8", false},
        {"127.0.0.1,,::1", false},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (kumo_overlay_allow_list_is_valid(lists[i].allow) != lists[i].want) {
            fail_msg("allow list '%s': want %d", lists[i].allow, lists[i].want);
        }
    }
}

/* A second forwarder with caps, opened on the shared loop (paused while adding to it). */
static kumo_overlay_fwd_t *fwd_small_open(const kumo_overlay_fwd_cfg_t *cfg)
{
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_overlay_fwd_t *f = NULL;
    assert_int_equal(kumo_overlay_fwd_open(base, cfg, &f, NULL), 0);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
    return f;
}

static void fwd_small_close(kumo_overlay_fwd_t *f)
{
    loop_stop = 1;
    (void)pthread_join(loop_thread, NULL);
    kumo_overlay_fwd_close(f);
    loop_stop = 0;
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
}

#define SMALL_TAG 0x5eedu /* the workload tag of the small entries' one source */

/* One entry of f on 127.0.0.1:port to echo_a at host (a container, or a tunnel's listener for
 * the source workload `only`), from 127.0.0.1 (workload SMALL_TAG). */
static void small_set_to(kumo_overlay_fwd_t *f,
                         unsigned port,
                         const char *host,
                         kumo_overlay_fwd_kind_t kind,
                         uint64_t only)
{
    kumo_overlay_fwd_entry_t e;
    memset(&e, 0, sizeof(e));
    (void)snprintf(e.ip, sizeof(e.ip), "127.0.0.1");
    (void)snprintf(e.sources[0], sizeof(e.sources[0]), "127.0.0.1");
    e.source_workloads[0] = SMALL_TAG;
    e.source_count = 1;
    e.port = (uint16_t)port;
    (void)snprintf(e.targets[0].host, sizeof(e.targets[0].host), "%s", host);
    e.targets[0].port = (uint16_t)echo_a.port;
    e.targets[0].kind = kind;
    e.targets[0].source_workload = only;
    e.target_count = 1;
    kumo_overlay_fwd_set(f, &e, 1);
    for (int i = 0; i < 100 && kumo_overlay_fwd_listening(f) != 1; i++) {
        pause_ms(20);
    }
    pause_ms(2 * KUMO_OVERLAY_FWD_SYNC_MS);
    assert_int_equal(kumo_overlay_fwd_listening(f), 1);
}

static void small_set(kumo_overlay_fwd_t *f, unsigned port)
{
    small_set_to(f, port, "127.0.0.1", KUMO_OVERLAY_FWD_CONTAINER, 0);
}

/* Whether a connection to port is relayed (the echo's tag comes back). */
static int dial_relayed(unsigned port, bool *relayed)
{
    int fd = dial(port);
    assert_true(fd >= 0);
    char c = 0;
    *relayed = read(fd, &c, 1) == 1 && c == 'A';
    return fd;
}

static void test_cap_per_source(void **state)
{
    (void)state;
    kumo_overlay_fwd_cfg_t cfg = {.connection_per_source_max = 2};
    kumo_overlay_fwd_t *f = fwd_small_open(&cfg);
    unsigned port = kumo_test_free_port();
    small_set(f, port);
    int fds[4];
    bool first = false;
    fds[0] = dial_relayed(port, &first);
    assert_true(first);
    fds[1] = dial(port); /* relayed too; the echo serves it once the first is gone */
    assert_true(fds[1] >= 0);
    for (int i = 2; i < 4; i++) { /* past the cap: closed at once */
        fds[i] = dial(port);
        assert_true(fds[i] >= 0);
        assert_int_equal(read(fds[i], &(char){0}, 1), 0);
    }
    assert_int_equal(kumo_overlay_fwd_capped(f), 2u);
    assert_int_equal(kumo_overlay_fwd_active(f), 2u);
    (void)close(fds[0]);
    assert_true(read(fds[1], &(char){0}, 1) == 1); /* the second is relayed now */
    (void)close(fds[1]);
    for (int i = 0; i < 100 && kumo_overlay_fwd_active(f) != 0; i++) {
        pause_ms(20);
    }
    assert_int_equal(kumo_overlay_fwd_active(f), 0u);
    bool again = false;
    int fd = dial_relayed(port, &again); /* the freed slots are usable again */
    assert_true(again);
    (void)close(fd);
    (void)close(fds[2]);
    (void)close(fds[3]);
    fwd_small_close(f);
}

/* Two containers of one workload (127.0.0.1 and 127.0.0.2, one tag): 2 each by the source
 * cap, 3 together by the workload cap. */
static void test_cap_per_workload(void **state)
{
    (void)state;
    kumo_overlay_fwd_cfg_t cfg = {.connection_per_source_max = 2, .connection_per_workload_max = 3};
    kumo_overlay_fwd_t *f = fwd_small_open(&cfg);
    unsigned port = kumo_test_free_port();
    kumo_overlay_fwd_entry_t e;
    memset(&e, 0, sizeof(e));
    (void)snprintf(e.ip, sizeof(e.ip), "127.0.0.1");
    uint64_t tag = kumo_overlay_workload_tag("kumo1owner", 7, "web");
    assert_true(tag != 0 && tag != kumo_overlay_workload_tag("kumo1owner", 7, "db"));
    for (uint32_t i = 0; i < 2; i++) {
        (void)snprintf(e.sources[i], sizeof(e.sources[i]), "127.0.0.%u", i + 1u);
        e.source_workloads[i] = tag;
    }
    e.source_count = 2;
    e.port = (uint16_t)port;
    (void)snprintf(e.targets[0].host, sizeof(e.targets[0].host), "127.0.0.1");
    e.targets[0].port = (uint16_t)echo_b.port;
    e.target_count = 1;
    kumo_overlay_fwd_set(f, &e, 1);
    for (int i = 0; i < 100 && kumo_overlay_fwd_listening(f) != 1; i++) {
        pause_ms(20);
    }
    int fds[5];
    const char *from[5] = {"127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1"};
    for (int i = 0; i < 5; i++) {
        fds[i] = dial_from(port, from[i]);
        assert_true(fds[i] >= 0);
        for (int k = 0;
             k < 100 && kumo_overlay_fwd_active(f) + kumo_overlay_fwd_capped(f) < (uint64_t)i + 1u;
             k++) {
            pause_ms(20);
        }
    }
    assert_int_equal(kumo_overlay_fwd_active(f), 3u); /* 2 from .1, 1 from .2 */
    assert_int_equal(kumo_overlay_fwd_capped(f),
                     2u); /* .2's second (workload), .1's third (source) */
    for (int i = 0; i < 5; i++) {
        (void)close(fds[i]);
    }
    fwd_small_close(f);
}

/* A tunnel's listener serves its own source workload only, and only on loopback: a target of
 * that kind anywhere else is never dialled. */
static void test_tunnel_target_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *host;
        uint64_t only;
        bool relayed;
    } cases[] = {
        {"the tunnel of the source's workload", "127.0.0.1", SMALL_TAG, true},
        {"another workload's tunnel", "127.0.0.1", SMALL_TAG + 1u, false},
        {"a tunnel target off loopback", "192.0.2.1", SMALL_TAG, false},
    };
    kumo_overlay_fwd_cfg_t cfg = {.connection_per_source_max = 8};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_overlay_fwd_t *f = fwd_small_open(&cfg);
        unsigned port = kumo_test_free_port();
        small_set_to(f, port, cases[i].host, KUMO_OVERLAY_FWD_TUNNEL, cases[i].only);
        bool relayed = !cases[i].relayed;
        int fd = dial_relayed(port, &relayed);
        if (relayed != cases[i].relayed) {
            fail_msg("%s: relayed %d", cases[i].name, relayed);
        }
        (void)close(fd);
        fwd_small_close(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_both_ways_and_round_robin),
        cmocka_unit_test(test_big_and_half_closed),
        cmocka_unit_test(test_no_targets_and_removal),
        cmocka_unit_test(test_sources_only),
        cmocka_unit_test(test_address_allowed_table),
        cmocka_unit_test(test_cap_per_source),
        cmocka_unit_test(test_cap_per_workload),
        cmocka_unit_test(test_tunnel_target_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
