/*
 * test_api_exhaustion.c - a client of the node's HTTP API tries to exhaust it: thousands of
 * idle TCP connections, request heads trickled one byte at a time, an event-stream subscriber
 * that never reads. What must hold: the node keeps committing blocks (its validator never runs
 * out of descriptors for the signer state), honest requests are answered, the slow
 * connections are closed by the request deadline and the stalled subscriber is dropped. And
 * should a signer-state write fail anyway, the validator skips the step and retries instead
 * of exiting.
 *
 * How: one single-validator testnet (consensus with signer-state writes on every step) whose
 * node runs with a low open-files limit (512, soft and hard: KUMO_TEST_NET_NOFILE), a short
 * request deadline (rpc_request_timeout_ms 3000) and stall timeout (sse_stall_timeout_ms 2000).
 * The attacker is this process with plain sockets, bound to 127.0.0.2 and up so that the
 * per-address cap does not hide the total one; the honest client is 127.0.0.1. Every wait polls
 * with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "helpers/net/testnet.h"
#include "helpers/testutil.h"

#define IDLE_COUNT         3000u
#define IDLE_ADDR_COUNT    40u
#define TRICKLE_COUNT      100u
#define NODE_NOFILE        512u
#define REQUEST_TIMEOUT_MS 3000u
#define STALL_TIMEOUT_MS   2000u
#define CLOSE_DEADLINE_MS  15000u
#define HONEST_ATTEMPTS    3u
#define ANSWER_BYTES       (64u * 1024u)

static kumo_test_net_t net;

/* ---- plain-socket clients ---- */

/* A non-blocking TCP connection from 127.0.0.<host> to the node's API (-1 on failure). */
static int attacker_connect(uint32_t host, int rcvbuf_bytes)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (rcvbuf_bytes > 0) {
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(int)), 0);
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | host);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((uint16_t)kumo_test_net_rpc_port(&net, 0));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* True when the server closed fd (EOF or reset); reads and discards what is pending. */
static bool closed_by_server(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return true;
        }
        if (n < 0) {
            return false;
        }
    }
}

/* GET path from 127.0.0.1 with Connection: close; the whole answer into out (NUL-terminated).
 * Returns the status, or 0 when there was no complete answer within 10 s. */
static int honest_get(const char *path, char *out, size_t cap)
{
    int fd = attacker_connect(1, 0);
    if (fd < 0) {
        return 0;
    }
    char req[512];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    uint64_t deadline = kumo_test_now_ms() + 10000u;
    size_t sent = 0;
    size_t len = 0;
    while (kumo_test_now_ms() < deadline) {
        struct pollfd p = {fd, (short)(sent < (size_t)n ? POLLOUT : POLLIN), 0};
        (void)poll(&p, 1, 100);
        if (sent < (size_t)n) {
            ssize_t w = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
            sent += w > 0 ? (size_t)w : 0u;
            continue;
        }
        ssize_t r = recv(fd, out + len, cap - 1u - len, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            break;
        }
        len += r > 0 ? (size_t)r : 0u;
        if (len == cap - 1u) {
            break;
        }
    }
    (void)close(fd);
    out[len] = '\0';
    int status = 0;
    return sscanf(out, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

/* The honest client's GET /status answered 200 (a few attempts: at the cap the node may
 * close a connection that has not sent its request yet in favour of a newer one). */
static void honest_status_ok(void)
{
    static char answer[ANSWER_BYTES];
    for (uint32_t i = 0; i < HONEST_ATTEMPTS; i++) {
        if (honest_get("/status", answer, sizeof(answer)) == 200) {
            return;
        }
    }
    kumo_test_net_logs_print(&net);
    fail_msg("GET /status from an honest client was not answered");
}

/* A counter from GET /metrics (0 when absent or unanswered). */
static uint64_t metric(const char *name)
{
    static char answer[ANSWER_BYTES];
    if (honest_get("/metrics", answer, sizeof(answer)) != 200) {
        return 0;
    }
    char needle[128];
    (void)snprintf(needle, sizeof(needle), "\n%s ", name);
    const char *p = strstr(answer, needle);
    return p != NULL ? strtoull(p + strlen(needle), NULL, 10) : 0;
}

/* The node still commits: its height grows by `blocks` within the default deadline. The
 * height is asked until answered: at the connection cap the node may close a query that has
 * not sent its request yet in favour of a newer connection (as for honest_status_ok). */
static void node_commits(uint32_t blocks)
{
    int64_t h = -1;
    uint64_t deadline = kumo_test_now_ms() + 10000u;
    while ((h = kumo_test_net_height(&net, 0)) <= 0 && kumo_test_now_ms() < deadline) {
        (void)usleep(100000);
    }
    if (h <= 0) {
        kumo_test_net_logs_print(&net);
        fail_msg("the node's height was not answered for 10 s");
    }
    kumo_test_net_wait_height(&net, 1u, h + (int64_t)blocks);
}

/* ---- fixture ---- */

static int net_setup(void **state)
{
    (void)state;
    /* the attacker itself needs a few thousand descriptors */
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(rl.rlim_cur >= IDLE_COUNT + 256u);
    char node_nofile[16];
    (void)snprintf(node_nofile, sizeof(node_nofile), "%u", NODE_NOFILE);
    assert_int_equal(setenv("KUMO_TEST_NET_NOFILE", node_nofile, 1), 0);
    char cfg[256];
    (void)snprintf(cfg, sizeof(cfg), "rpc_request_timeout_ms: %u\nsse_stall_timeout_ms: %u\n",
                   REQUEST_TIMEOUT_MS, STALL_TIMEOUT_MS);
    int rc = kumo_test_net_start_cfg(&net, 1, 200, NULL, cfg);
    assert_int_equal(unsetenv("KUMO_TEST_NET_NOFILE"), 0);
    if (rc != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&net, 1u, 3);
    return 0;
}

static int net_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&net);
    return 0;
}

/* ---- cases ---- */

/* Whether a non-blocking connect completed within timeout_ms. */
static bool connected_within(int fd, uint32_t timeout_ms)
{
    struct pollfd p = {fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    return poll(&p, 1, (int)timeout_ms) == 1 &&
           getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0;
}

/* Opens count idle connections in batches (each batch connected before the next, so the
 * node's accept queue, not the client's SYN retries, paces them); the ones that did not
 * connect are closed (-1). Returns how many are open. */
static uint32_t idle_open(int *fds, uint32_t count)
{
    uint32_t opened = 0;
    for (uint32_t b = 0; b < count; b += 100u) {
        uint32_t end = b + 100u < count ? b + 100u : count;
        for (uint32_t i = b; i < end; i++) {
            fds[i] = attacker_connect(2u + i % IDLE_ADDR_COUNT, 0);
        }
        for (uint32_t i = b; i < end; i++) {
            if (fds[i] >= 0 && !connected_within(fds[i], 2000)) {
                (void)close(fds[i]);
                fds[i] = -1;
            }
            opened += fds[i] >= 0 ? 1u : 0u;
        }
    }
    return opened;
}

/* Thousands of idle connections (more than the node has descriptors): the node keeps
 * committing and answering, and closes the idle ones at the request deadline. */
static void test_api_idle_connections_cannot_exhaust_node(void **state)
{
    (void)state;
    static int fds[IDLE_COUNT];
    uint32_t opened = idle_open(fds, IDLE_COUNT);
    assert_true(opened > IDLE_COUNT / 2u);
    node_commits(5);
    honest_status_ok();
    node_commits(5);
    honest_status_ok();
    assert_true(kill(kumo_test_net_pid(&net, 0), 0) == 0);
    /* every idle connection is closed by the request deadline (or was evicted earlier) */
    uint64_t deadline = kumo_test_now_ms() + CLOSE_DEADLINE_MS;
    uint32_t open_left = opened;
    while (open_left > 0 && kumo_test_now_ms() < deadline) {
        open_left = 0;
        for (uint32_t i = 0; i < IDLE_COUNT; i++) {
            if (fds[i] >= 0 && closed_by_server(fds[i])) {
                (void)close(fds[i]);
                fds[i] = -1;
            }
            open_left += fds[i] >= 0 ? 1u : 0u;
        }
        kumo_test_pause_ms(200);
    }
    for (uint32_t i = 0; i < IDLE_COUNT; i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    if (open_left > 0) {
        fail_msg("%u idle connections still open after %u ms", open_left, CLOSE_DEADLINE_MS);
    }
    assert_true(metric("kumo_rpc_request_timeouts_total") > 0);
    honest_status_ok();
}

/* Request heads trickled one byte every 500 ms: each connection is closed at the request
 * deadline (the bytes do not extend it), honest requests are answered meanwhile. */
static void test_api_trickled_heads_closed_by_deadline(void **state)
{
    (void)state;
    static const char head[] = "GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    int fds[TRICKLE_COUNT];
    for (uint32_t i = 0; i < TRICKLE_COUNT; i++) {
        fds[i] = attacker_connect(100u + i % 10u, 0);
        assert_true(fds[i] >= 0);
    }
    uint64_t start = kumo_test_now_ms();
    uint32_t open_left = TRICKLE_COUNT;
    size_t pos = 0;
    while (open_left > 0 && kumo_test_now_ms() - start < CLOSE_DEADLINE_MS) {
        char byte = head[pos < sizeof(head) - 1u ? pos : sizeof(head) - 2u];
        pos++;
        open_left = 0;
        for (uint32_t i = 0; i < TRICKLE_COUNT; i++) {
            if (fds[i] < 0) {
                continue;
            }
            if (closed_by_server(fds[i]) || send(fds[i], &byte, 1, MSG_NOSIGNAL) < 0) {
                (void)close(fds[i]);
                fds[i] = -1;
                continue;
            }
            open_left++;
        }
        honest_status_ok();
        kumo_test_pause_ms(500);
    }
    for (uint32_t i = 0; i < TRICKLE_COUNT; i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    if (open_left > 0) {
        fail_msg("%u trickling connections still open after %u ms", open_left, CLOSE_DEADLINE_MS);
    }
    node_commits(3);
}

/* An event-stream subscriber that never reads (and keeps a tiny receive window) is dropped
 * once it takes nothing for the stall timeout; the node keeps committing and answering. */
static void test_api_stalled_sse_subscriber_dropped(void **state)
{
    (void)state;
    uint64_t dropped_before = metric("kumo_sse_dropped_total");
    int fd = attacker_connect(200u, 1024);
    assert_true(fd >= 0);
    static const char req[] = "GET /events?from_height=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    struct pollfd p = {fd, POLLOUT, 0};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_int_equal(send(fd, req, sizeof(req) - 1u, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1u));
    uint64_t deadline = kumo_test_now_ms() + 30000u;
    while (metric("kumo_sse_dropped_total") <= dropped_before && kumo_test_now_ms() < deadline) {
        honest_status_ok();
        kumo_test_pause_ms(500);
    }
    uint64_t dropped = metric("kumo_sse_dropped_total");
    /* reading now drains what was queued and then finds the connection closed */
    uint64_t close_deadline = kumo_test_now_ms() + 10000u;
    bool closed = false;
    while (!closed && kumo_test_now_ms() < close_deadline) {
        closed = closed_by_server(fd);
        kumo_test_pause_ms(50);
    }
    (void)close(fd);
    if (dropped <= dropped_before) {
        kumo_test_net_logs_print(&net);
        fail_msg("the stalled subscriber was not dropped within 30 s");
    }
    assert_true(closed);
    node_commits(3);
    honest_status_ok();
}

/* When the signer state cannot be written (here: a directory in its place, as a full disk or
 * no descriptor left would do), the validator neither exits nor signs: it skips the step and
 * retries; once the write works again, it commits again. */
static void test_signer_write_failure_skips_and_retries(void **state)
{
    (void)state;
    char path[PATH_MAX];
    kumo_test_net_node_path(&net, 0, "signer_state", path, sizeof(path));
    pid_t pid = kumo_test_net_pid(&net, 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    uint64_t deadline = kumo_test_now_ms() + 30000u;
    while (kumo_test_net_log_count(&net, 0, "signer_state_write_failed") == 0 &&
           kumo_test_now_ms() < deadline) {
        kumo_test_pause_ms(100);
    }
    assert_true(kumo_test_net_log_count(&net, 0, "signer_state_write_failed") > 0);
    int64_t stalled = kumo_test_net_height(&net, 0);
    kumo_test_pause_ms(2000);
    /* alive and answering, not committing without its signature */
    assert_int_equal(kill(pid, 0), 0);
    assert_true(kumo_test_net_height(&net, 0) <= stalled + 1);
    honest_status_ok();
    assert_int_equal(rmdir(path), 0);
    node_commits(3);
    assert_int_equal(kumo_test_net_pid(&net, 0), pid);
}

int main(void)
{
    /* KUMO_TEST_FILTER=<glob> runs only the matching cases */
    const char *filter = getenv("KUMO_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_idle_connections_cannot_exhaust_node),
        cmocka_unit_test(test_api_trickled_heads_closed_by_deadline),
        cmocka_unit_test(test_api_stalled_sse_subscriber_dropped),
        cmocka_unit_test(test_signer_write_failure_skips_and_retries),
    };
    return cmocka_run_group_tests(tests, net_setup, net_teardown);
}
