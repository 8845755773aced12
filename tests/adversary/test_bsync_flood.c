/*
 * test_bsync_flood.c - a peer cannot make a node serve block sync without limit. A real
 * 4-validator testnet (`kumo testnet`, 200 ms blocks); the attacker is this process: raw p2p
 * peers with fresh keys, each from its own source address (127.0.4.x), that send hundreds of
 * block requests at once (for block 1, which every node has).
 *
 * Proves: a node answers a flooder at most its per-peer budget (NODE_BSYNC_SERVE_PER_S blocks
 * plus the few requests that may wait) and then penalizes and drops it (logging
 * block_sync_request_flood), while the chain keeps committing; a peer that asks one block at a
 * time, more blocks than the budget holds, gets every answer and stays connected (the budget
 * delays, it never refuses an honest pace); and a validator whose store was wiped block-syncs
 * back while flooders keep coming back under fresh keys at every other validator.
 */
#include "helpers/net/testnet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/sync.h"
#include "helpers/testutil.h"

#define FL_VALIDATORS 4u
#define FL_BLOCK_MS   200u
/* Requests a flooder sends at once: several times the serving budget of a second. */
#define FL_BURST 600u
/* Blocks an honest-paced peer asks for, one at a time: more than one second's budget. */
#define FL_POLITE_COUNT 150u
#define FL_PROGRESS     5

typedef struct fl_peer {
    kumo_test_peer_t peer;
    bool open;
    uint64_t answers; /* BLOCK answers received */
} fl_peer_t;

static kumo_test_net_t g_net;
static struct event_base *g_base;
static uint32_t g_next_tag = 0x10u;

static void fl_send(fl_peer_t *p, kumo_consensus_sync_kind_t kind, uint64_t height)
{
    kumo_consensus_sync_msg_t m = {.kind = kind, .height = height};
    uint8_t buf[KUMO_CONSENSUS_SYNC_HEADER_BYTES];
    size_t len = 0;
    assert_int_equal(kumo_consensus_sync_msg_encode(&m, buf, sizeof(buf), &len), 0);
    (void)kumo_test_peer_send(&p->peer, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(buf, len));
}

static void fl_on_frame(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    fl_peer_t *p = peer->user;
    kumo_consensus_sync_msg_t m;
    if (channel == KUMO_P2P_CH_BLOCKSYNC &&
        kumo_consensus_sync_msg_decode(payload, &m, NULL) == 0 &&
        m.kind == KUMO_CONSENSUS_SYNC_BLOCK) {
        p->answers++;
    }
}

/* A fresh key from a fresh source address, connected to node; it claims height 0, so no
 * node ever asks it for blocks. */
static void fl_open(fl_peer_t *p, uint32_t node)
{
    assert_true(g_next_tag < 0xffu);
    memset(p, 0, sizeof(*p));
    p->peer.on_frame = fl_on_frame;
    p->peer.user = p;
    char host[32];
    (void)snprintf(host, sizeof(host), "127.0.4.%u", g_next_tag);
    kumo_test_peer_open_from(&p->peer, &g_net, node, (uint8_t)g_next_tag, g_base, host);
    g_next_tag++;
    p->open = true;
    kumo_test_peer_wait_up(&p->peer);
    fl_send(p, KUMO_CONSENSUS_SYNC_STATUS, 0);
}

static void fl_close(fl_peer_t *p)
{
    if (p->open) {
        kumo_test_peer_close(&p->peer);
        p->open = false;
    }
}

static void fl_flood(fl_peer_t *p)
{
    for (uint32_t i = 0; i < FL_BURST; i++) {
        fl_send(p, KUMO_CONSENSUS_SYNC_REQUEST, 1);
    }
}

static void fl_run_ms(uint32_t ms)
{
    struct timeval tv = {ms / 1000u, (suseconds_t)(ms % 1000u) * 1000};
    (void)event_base_loopexit(g_base, &tv);
    (void)event_base_dispatch(g_base);
}

static int group_setup(void **state)
{
    (void)state;
    g_base = event_base_new();
    if (g_base == NULL || kumo_test_net_start(&g_net, FL_VALIDATORS, FL_BLOCK_MS, NULL) != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), 3);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g_net);
    if (g_base != NULL) {
        event_base_free(g_base);
        g_base = NULL;
    }
    return 0;
}

/* One flooder per validator: each is answered at most a budget's worth and dropped; the
 * chain goes on meanwhile. */
static void test_flooders_are_limited_and_dropped(void **state)
{
    (void)state;
    fl_peer_t fl[FL_VALIDATORS];
    for (uint32_t i = 0; i < FL_VALIDATORS; i++) {
        fl_open(&fl[i], i);
    }
    int64_t start = kumo_test_net_height_max(&g_net, kumo_test_net_all(&g_net));
    for (uint32_t i = 0; i < FL_VALIDATORS; i++) {
        fl_flood(&fl[i]);
    }
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    bool all_down = false;
    while (!all_down && kumo_test_now_ms() < deadline) {
        fl_run_ms(50);
        all_down = true;
        for (uint32_t i = 0; i < FL_VALIDATORS; i++) {
            all_down = all_down && fl[i].peer.downs > 0;
        }
    }
    for (uint32_t i = 0; i < FL_VALIDATORS; i++) {
        fprintf(stderr, "flooder at node%u: %u requests, %" PRIu64 " answers, dropped %s\n", i,
                FL_BURST, fl[i].answers, fl[i].peer.downs > 0 ? "yes" : "no");
        if (fl[i].peer.downs == 0) {
            kumo_test_net_logs_print(&g_net);
            fail_msg("the flooder at node%u was never dropped", i);
        }
        /* Not every request was served: the flood ran out of budget and queue. */
        assert_true(fl[i].answers < FL_BURST);
        assert_true(kumo_test_net_log_count(&g_net, i, "block_sync_request_flood") >= 1u);
        fl_close(&fl[i]);
    }
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), start + FL_PROGRESS);
    kumo_test_net_blocks_agree(&g_net, kumo_test_net_all(&g_net), 1, (uint64_t)start + FL_PROGRESS);
}

/* One request at a time, more than a second's budget in all: every one is answered and the
 * peer stays. */
static void test_honest_pace_is_served(void **state)
{
    (void)state;
    fl_peer_t p;
    fl_open(&p, 0);
    for (uint32_t i = 0; i < FL_POLITE_COUNT; i++) {
        uint64_t want = p.answers + 1u;
        fl_send(&p, KUMO_CONSENSUS_SYNC_REQUEST, 1u + (i % 3u));
        if (!kumo_test_peer_run_until(&p.peer, &p.answers, want, KUMO_TEST_NET_WAIT_MS)) {
            kumo_test_net_logs_print(&g_net);
            fail_msg("request %u of an honest pace went unanswered", i);
        }
    }
    assert_int_equal(p.answers, FL_POLITE_COUNT);
    assert_int_equal(p.peer.downs, 0);
    fl_close(&p);
}

/* node3 loses its store and block-syncs back from the others while flooders keep coming back
 * at them under fresh keys. */
static void test_sync_goes_on_under_flood(void **state)
{
    (void)state;
    kumo_test_net_kill9(&g_net, 3);
    char cmd[1300];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s/node3/data", g_net.dir);
    assert_int_equal(system(cmd), 0);
    int64_t h = kumo_test_net_height_max(&g_net, 0x7u);
    kumo_test_net_wait_height(&g_net, 0x7u, h + 3);
    assert_int_equal(kumo_test_net_restart(&g_net), 0);
    int64_t target = kumo_test_net_height_max(&g_net, 0x7u);
    fl_peer_t fl[3];
    for (uint32_t i = 0; i < 3; i++) {
        fl_open(&fl[i], i);
        fl_flood(&fl[i]);
    }
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (kumo_test_net_height(&g_net, 3) < target + 1 && kumo_test_now_ms() < deadline) {
        fl_run_ms(100);
        for (uint32_t i = 0; i < 3; i++) {
            if (fl[i].peer.downs > 0 && g_next_tag < 0xf0u) {
                fl_close(&fl[i]); /* back under a fresh key and address */
                fl_open(&fl[i], i);
                fl_flood(&fl[i]);
            }
        }
    }
    for (uint32_t i = 0; i < 3; i++) {
        fl_close(&fl[i]);
    }
    if (kumo_test_net_height(&g_net, 3) < target + 1) {
        kumo_test_net_logs_print(&g_net);
        fail_msg("node3 did not sync back under the flood: at %" PRId64 ", target %" PRId64,
                 kumo_test_net_height(&g_net, 3), target + 1);
    }
    kumo_test_net_blocks_agree(&g_net, kumo_test_net_all(&g_net), 1, (uint64_t)target + 1u);
    assert_true(kumo_test_net_log_count(&g_net, 3, "block_sync_done") >= 1u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flooders_are_limited_and_dropped),
        cmocka_unit_test(test_honest_pace_is_served),
        cmocka_unit_test(test_sync_goes_on_under_flood),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
