/*
 * test_peer_slots.c - strangers must not take the slots validators need, and a connect flood
 * must not fill the log. One 4-validator testnet (real `kumo` processes) for both cases.
 *
 * Slots: the test process connects to every validator with many idle strangers: TLS peers with
 * fresh keys that complete the handshake and then say nothing (from several source addresses,
 * and many from one), and plain TCP connections that never speak TLS (from the validators'
 * own address 127.0.0.1, many from one other address, and a few from several), reopened
 * whenever the node closes them. Then two validators are killed with SIGKILL; their slots at
 * the two survivors are filled with more strangers before they come back, and restarted. Two
 * of four validators (20 of 40 power) cannot decide alone: the chain goes on only if the
 * restarted validators reconnect through the strangers. On a node where every connection
 * shares one limit the survivors stay full of idle strangers and the chain stalls.
 *
 * Log: thousands of TCP connects from one address, each closed at once, must add a bounded
 * number of p2p log lines (one summary line per interval), and the summary counts them.
 */
#include "helpers/testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/net/testnet.h"

#define NODES           4u
#define TLS_PER_NODE    36u /* more than the whole old limit of 32 connections */
#define TLS_MAX         240u
#define SILENT_PER_NODE 26u
#define SILENT_MAX      (NODES * SILENT_PER_NODE)
#define SILENT_RETRY_MS 100u
#define FLOOD_CONNECTS  3000u
#define FLOOD_LINES_MAX 30u /* 10 drop lines and a summary per 10 s, over two intervals */
#define HEIGHTS_AFTER   5

typedef struct silent {
    int fd;
    uint32_t node;
    const char *src;
    uint64_t next_ms;
} silent_t;

typedef struct attack {
    kumo_test_net_t tn;
    bool started;
    struct event_base *base;
    kumo_test_peer_t tls[TLS_MAX];
    uint32_t tls_count;
    silent_t silent[SILENT_MAX];
    uint32_t silent_count;
} attack_t;

static attack_t at;

/* ---- the attacker ---- */

/* Source of the i-th TLS stranger of a node: 6 hosts with 4 each, then 12 from one more. */
static const char *tls_source(uint32_t i)
{
    static const char *const hosts[] = {"127.0.0.7",  "127.0.0.8",  "127.0.0.9",
                                        "127.0.0.10", "127.0.0.11", "127.0.0.12"};
    return i < 24u ? hosts[i / 4u] : "127.0.0.13";
}

/* Source of the i-th silent client of a node: 2 from the validators' own 127.0.0.1, 12 from
 * 127.0.0.2, 3 each from 127.0.0.3..6. */
static const char *silent_source(uint32_t i)
{
    static const char *const hosts[] = {"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"};
    if (i < 2u) {
        return "127.0.0.1";
    }
    return i < 14u ? "127.0.0.2" : hosts[(i - 14u) / 3u];
}

static void tls_open(uint32_t node, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        assert_true(at.tls_count < TLS_MAX);
        kumo_test_peer_t *p = &at.tls[at.tls_count];
        memset(p, 0, sizeof(*p));
        kumo_test_peer_open_from(p, &at.tn, node, (uint8_t)(at.tls_count + 1u), at.base,
                                 tls_source(i));
        at.tls_count++;
    }
}

static void silent_add(uint32_t node)
{
    for (uint32_t i = 0; i < SILENT_PER_NODE; i++) {
        assert_true(at.silent_count < SILENT_MAX);
        at.silent[at.silent_count++] = (silent_t){-1, node, silent_source(i), 0};
    }
}

/* Reopens silent clients the node closed (at most every SILENT_RETRY_MS each), then runs the
 * TLS strangers' loop for ms. */
static void attack_run_ms(uint32_t ms)
{
    uint64_t now = kumo_test_now_ms();
    for (uint32_t i = 0; i < at.silent_count; i++) {
        silent_t *s = &at.silent[i];
        if (s->fd >= 0) {
            char b;
            ssize_t r = recv(s->fd, &b, 1, MSG_DONTWAIT);
            if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
                continue;
            }
            (void)close(s->fd);
            s->fd = -1;
            s->next_ms = now + SILENT_RETRY_MS;
        } else if (now >= s->next_ms) {
            s->fd = kumo_test_net_tcp_connect(&at.tn, s->node, s->src);
            s->next_ms = now + SILENT_RETRY_MS;
        }
    }
    kumo_test_peer_run_ms(&at.tls[0], ms);
}

static void silent_close_all(void)
{
    for (uint32_t i = 0; i < at.silent_count; i++) {
        if (at.silent[i].fd >= 0) {
            (void)close(at.silent[i].fd);
            at.silent[i].fd = -1;
        }
    }
}

/* Runs the attack until every TLS stranger from index first on is up or refused. */
static void tls_settle(uint32_t first)
{
    attack_run_ms(20);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        uint32_t open = 0;
        for (uint32_t i = first; i < at.tls_count; i++) {
            open += kumo_test_peer_is_settled(&at.tls[i]) ? 0u : 1u;
        }
        if (open == 0) {
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            fail_msg("%u strangers still connecting", open);
        }
        attack_run_ms(50);
    }
}

static uint32_t tls_up(uint32_t first)
{
    uint32_t n = 0;
    for (uint32_t i = first; i < at.tls_count; i++) {
        n += at.tls[i].ups > at.tls[i].downs ? 1u : 0u;
    }
    return n;
}

/* Keeps attacking until every node is at height h or the deadline passes. */
static bool attack_until_height(int64_t h)
{
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (kumo_test_now_ms() < deadline) {
        if (kumo_test_net_reach_height(&at.tn, kumo_test_net_all(&at.tn), h, 0)) {
            return true;
        }
        attack_run_ms(200);
    }
    return false;
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    memset(&at, 0, sizeof(at));
    if (kumo_test_net_start(&at.tn, NODES, 200, NULL) != 0) {
        return -1;
    }
    at.started = true;
    at.base = event_base_new();
    return at.base != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    silent_close_all();
    for (uint32_t i = 0; i < at.tls_count; i++) {
        kumo_test_peer_close(&at.tls[i]);
    }
    if (at.base != NULL) {
        /* Deferred callbacks still queued hold their connections: let them run, so the
         * connections are finalized before the base goes. */
        (void)event_base_loop(at.base, EVLOOP_NONBLOCK);
        (void)event_base_loop(at.base, EVLOOP_NONBLOCK);
        event_base_free(at.base);
    }
    if (at.started) {
        kumo_test_net_stop(&at.tn);
    }
    return 0;
}

/* ---- cases ---- */

static void test_restarted_validators_reconnect_through_strangers(void **state)
{
    (void)state;
    kumo_test_net_wait_height(&at.tn, kumo_test_net_all(&at.tn), 3);
    for (uint32_t node = 0; node < NODES; node++) {
        tls_open(node, TLS_PER_NODE);
    }
    tls_settle(0);
    uint32_t admitted = tls_up(0);
    fprintf(stderr, "strangers up: %u of %u\n", admitted, at.tls_count);
    assert_true(admitted > 0);
    for (uint32_t node = 0; node < NODES; node++) {
        silent_add(node);
    }
    attack_run_ms(500);
    /* Two validators go down; the strangers take what they held at the survivors. */
    kumo_test_net_kill9(&at.tn, 2);
    kumo_test_net_kill9(&at.tn, 3);
    uint32_t refill = at.tls_count;
    tls_open(0, 8);
    tls_open(1, 8);
    tls_settle(refill);
    int64_t h = kumo_test_net_height_max(&at.tn, 0x3u);
    assert_true(h >= 3);
    assert_int_equal(kumo_test_net_restart(&at.tn), 0);
    /* And straight at the restarted ones. */
    uint32_t again = at.tls_count;
    tls_open(2, TLS_PER_NODE);
    tls_open(3, TLS_PER_NODE);
    attack_run_ms(20);
    if (!attack_until_height(h + HEIGHTS_AFTER)) {
        kumo_test_net_logs_print(&at.tn);
        fail_msg("the chain did not go on past height %" PRId64 " with strangers in every slot", h);
    }
    tls_settle(again);
    fprintf(stderr, "strangers up at the end: %u of %u\n", tls_up(0), at.tls_count);
    kumo_test_net_blocks_agree(&at.tn, kumo_test_net_all(&at.tn), 1, (uint64_t)h + 1u);
}

static size_t p2p_lines(uint32_t node)
{
    return kumo_test_net_log_count(&at.tn, node, "mod=p2p");
}

/* Connections node 0 accounted for: refused, evicted, or dropped in the handshake. */
static uint64_t flood_accounted(void)
{
    static const char *const names[] = {"kumo_p2p_refused_total", "kumo_p2p_evicted_total",
                                        "kumo_p2p_disconnects_bad_total"};
    uint64_t sum = 0;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(names); i++) {
        uint64_t v = 0;
        sum += kumo_test_net_metric(&at.tn, 0, names[i], &v) ? v : 0u; /* absent: 0 */
    }
    return sum;
}

static void test_connect_flood_log_is_bounded(void **state)
{
    (void)state;
    silent_close_all();
    uint64_t accounted0 = flood_accounted();
    size_t lines0 = p2p_lines(0);
    size_t summaries0 = kumo_test_net_log_count(&at.tn, 0, "event=inbound_summary");
    uint32_t done = 0;
    for (uint32_t i = 0; i < FLOOD_CONNECTS; i++) {
        int fd = kumo_test_net_tcp_connect(&at.tn, 0, "127.0.0.20");
        if (fd < 0) {
            continue;
        }
        /* Connected (the node's kernel queued it for accept), then reset: no TIME_WAIT, no
         * handshake. */
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        bool connected = poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLOUT) != 0;
        struct linger lg = {1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        (void)close(fd);
        done += connected ? 1u : 0u;
    }
    assert_true(done > FLOOD_CONNECTS / 2u);
    /* The flood shows up in a summary line (one per interval), not one line per connect. */
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (kumo_test_net_log_count(&at.tn, 0, "event=inbound_summary") <= summaries0 &&
           kumo_test_now_ms() < deadline) {
        kumo_test_pause_ms(200);
    }
    size_t added = p2p_lines(0) - lines0;
    fprintf(stderr, "%u connects added %zu p2p log lines\n", done, added);
    if (added > FLOOD_LINES_MAX) {
        kumo_test_net_logs_print(&at.tn);
        fail_msg("%u refused connects added %zu p2p log lines (max %u)", done, added,
                 FLOOD_LINES_MAX);
    }
    assert_true(kumo_test_net_log_count(&at.tn, 0, "event=inbound_summary") > summaries0);
    /* Counted instead: /metrics accounts for (nearly) every connect. */
    uint64_t accounted = flood_accounted() - accounted0;
    fprintf(stderr, "metrics account for %" PRIu64 " of them\n", accounted);
    assert_true(accounted >= done / 2u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restarted_validators_reconnect_through_strangers),
        cmocka_unit_test(test_connect_flood_log_is_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
