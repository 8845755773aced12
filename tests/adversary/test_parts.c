/*
 * test_parts.c - strangers attack the proposal parts of a real 4-validator testnet whose
 * proposals travel in 256-byte parts (KUMO_TEST_PART_BYTES). Proves that no peer without
 * stake can evict or poison an honest proposal or get its honest sender disconnected:
 * - bad parts keyed like the honest proposal: strangers on every node copy each part frame
 *   they receive, corrupt its bytes and send it to every node (all but the first part of each
 *   message, so a node that kept them waits for the honest rebroadcast to "complete" them);
 *   a liar that gets dropped comes back with a fresh key (main before parts were tied to
 *   the signed proposal dropped the honest proposer here: its rebroadcast completed the
 *   planted parts, which did not hash to the message);
 * - replayed headers: strangers send back every parts header they receive;
 * - a flood of parts for many fake proposals (fresh random keys, every size field plausible).
 * In each case the chain keeps committing, every node agrees on the blocks, and no honest
 * validator is ever dropped by another for a parts or consensus reason.
 *
 * The attackers are raw p2p peers of this process (tests/helpers/net/testnet.h); the nodes are
 * the real kumo binary. One testnet is shared by the cases.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "helpers/net/testnet.h"
#include "p2p/p2p.h"

#define PT_NODES       4u
#define PT_BLOCK_MS    100u
#define PT_HEIGHTS     8
#define PT_ATTACK_MS   60000u
#define PT_TAG_HEADER  0xfeu
#define PT_TAG_PART    0xffu
#define PT_KEY_BYTES   33u /* tag and the message key (hash or root) of a part frame */
#define PT_SEEN_MAX    64u
#define PT_FRAME_MAX   2048u
#define PT_FLOOD_BURST 64u
/* Fresh keys per case (key tags of a case are distinct from the other cases'). */
#define PT_STRANGER_MAX 28u

static kumo_test_net_t g_net;

/* One attacker: a stranger connected to one node, told to send to all of them. */
typedef struct pt_attacker {
    kumo_test_peer_t peer;
    uint32_t node;
    bool live;
} pt_attacker_t;

typedef struct pt_attack {
    pt_attacker_t a[PT_NODES];
    uint8_t next_tag;
    uint32_t drops; /* strangers dropped by a node */
    /* Keys of the messages whose first part went by (that part is not corrupted). */
    uint8_t seen[PT_SEEN_MAX][PT_KEY_BYTES];
    uint32_t seen_count;
    bool corrupt_parts;
    bool replay_headers;
    uint64_t sent;
    uint64_t rng;
} pt_attack_t;

static pt_attack_t g_attack;

static uint64_t pt_rand(pt_attack_t *at)
{
    /* xorshift64*: the flood only needs keys no node has seen. */
    at->rng ^= at->rng >> 12;
    at->rng ^= at->rng << 25;
    at->rng ^= at->rng >> 27;
    return at->rng * 2685821657736338717ull;
}

static void pt_send_all(pt_attack_t *at, kumo_bytes_t frame)
{
    for (uint32_t i = 0; i < PT_NODES; i++) {
        if (at->a[i].live &&
            kumo_test_peer_send(&at->a[i].peer, KUMO_P2P_CH_CONSENSUS, frame) == 0) {
            at->sent++;
        }
    }
}

/* true the first time a message key goes by. */
static bool pt_first_of_message(pt_attack_t *at, const uint8_t *key)
{
    for (uint32_t i = 0; i < at->seen_count; i++) {
        if (memcmp(at->seen[i], key, PT_KEY_BYTES) == 0) {
            return false;
        }
    }
    memcpy(at->seen[at->seen_count % PT_SEEN_MAX], key, PT_KEY_BYTES);
    at->seen_count = at->seen_count + 1u < PT_SEEN_MAX ? at->seen_count + 1u : PT_SEEN_MAX;
    return true;
}

static void pt_on_frame(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    pt_attack_t *at = peer->user;
    if (channel != KUMO_P2P_CH_CONSENSUS || payload.len == 0 || payload.len > PT_FRAME_MAX) {
        return;
    }
    if (payload.ptr[0] == PT_TAG_HEADER && at->replay_headers) {
        pt_send_all(at, payload);
        return;
    }
    if (payload.ptr[0] != PT_TAG_PART || !at->corrupt_parts || payload.len <= PT_KEY_BYTES ||
        pt_first_of_message(at, payload.ptr)) {
        return;
    }
    /* The same key, index and proof (or offset and length), other bytes. */
    uint8_t bad[PT_FRAME_MAX];
    memcpy(bad, payload.ptr, payload.len);
    bad[payload.len - 1u] ^= 0x5au;
    pt_send_all(at, kumo_bytes_make(bad, payload.len));
}

static void pt_attacker_open(pt_attack_t *at, uint32_t i)
{
    pt_attacker_t *a = &at->a[i];
    memset(&a->peer, 0, sizeof(a->peer));
    a->peer.on_frame = pt_on_frame;
    a->peer.user = at;
    a->node = i;
    kumo_test_peer_open(&a->peer, &g_net, i, at->next_tag++);
    kumo_test_peer_wait_up(&a->peer);
    a->live = true;
}

static void pt_attack_open(pt_attack_t *at, uint8_t first_tag)
{
    memset(at, 0, sizeof(*at));
    at->next_tag = first_tag;
    at->rng = 0x9e3779b97f4a7c15ull ^ first_tag;
    for (uint32_t i = 0; i < PT_NODES; i++) {
        pt_attacker_open(at, i);
    }
}

static void pt_attack_close(pt_attack_t *at)
{
    for (uint32_t i = 0; i < PT_NODES; i++) {
        kumo_test_peer_close(&at->a[i].peer);
        at->a[i].live = false;
    }
}

/* Runs every attacker's loop once; a dropped liar comes back under a fresh key. */
static void pt_attack_step(pt_attack_t *at)
{
    for (uint32_t i = 0; i < PT_NODES; i++) {
        pt_attacker_t *a = &at->a[i];
        if (!a->live) {
            continue;
        }
        kumo_test_peer_run_ms(&a->peer, 1);
        if (a->peer.downs > 0) {
            at->drops++;
            kumo_test_peer_close(&a->peer);
            a->live = false;
            if (at->drops < PT_STRANGER_MAX) {
                pt_attacker_open(at, i);
            }
        }
    }
}

/* Parts of fake proposals: fresh random keys, plausible sizes and offsets (a whole message
 * of 2048 bytes in 256-byte parts), 256 bytes each. */
static void pt_flood_burst(pt_attack_t *at)
{
    uint8_t frame[1u + 32u + 4u + 4u + 256u];
    for (uint32_t k = 0; k < PT_FLOOD_BURST; k++) {
        memset(frame, 0, sizeof(frame));
        frame[0] = PT_TAG_PART;
        for (uint32_t j = 0; j < 4u; j++) {
            uint64_t r = pt_rand(at);
            memcpy(frame + 1u + 8u * j, &r, 8);
        }
        kumo_be32_put(frame + 33, 2048u);
        kumo_be32_put(frame + 37, 256u * (k % 8u));
        pt_send_all(at, kumo_bytes_make(frame, sizeof(frame)));
    }
}

/* Lines of node's log where it dropped honest validator v for a consensus or parts reason. */
static size_t pt_honest_drops(uint32_t node)
{
    char path[4096];
    kumo_test_net_node_path(&g_net, node, "node.log", path, sizeof(path));
    char ids[PT_NODES][300];
    for (uint32_t v = 0; v < PT_NODES; v++) {
        char addr[256];
        kumo_test_net_peer_addr(&g_net, v, addr, sizeof(addr));
        char *at = strchr(addr, '@');
        assert_non_null(at);
        *at = '\0';
        (void)snprintf(ids[v], sizeof(ids[v]), "event=peer_dropped id=%s", addr);
    }
    FILE *f = fopen(path, "r");
    size_t n = 0;
    char line[4096];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        bool honest = false;
        for (uint32_t v = 0; v < PT_NODES; v++) {
            honest = honest || strstr(line, ids[v]) != NULL;
        }
        if (honest &&
            (strstr(line, "consensus part") != NULL || strstr(line, "reason=\"KUMO_E") != NULL)) {
            fprintf(stderr, "honest validator dropped by node%u: %s", node, line);
            n++;
        }
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return n;
}

static size_t pt_honest_drops_all(void)
{
    size_t n = 0;
    for (uint32_t i = 0; i < PT_NODES; i++) {
        n += pt_honest_drops(i);
    }
    return n;
}

/* Attacks (one step at a time, with a flood burst when flood) until every node committed
 * PT_HEIGHTS more blocks; the chain must get there before the deadline. */
static void pt_attack_until_heights(pt_attack_t *at, bool flood)
{
    uint32_t all = kumo_test_net_all(&g_net);
    int64_t target = kumo_test_net_height_max(&g_net, all) + PT_HEIGHTS;
    uint64_t deadline = kumo_test_now_ms() + PT_ATTACK_MS;
    uint64_t next_check = 0;
    bool reached = false;
    while (!reached && kumo_test_now_ms() < deadline) {
        if (flood) {
            pt_flood_burst(at);
        }
        pt_attack_step(at);
        if (kumo_test_now_ms() >= next_check) {
            next_check = kumo_test_now_ms() + 250u;
            reached = true;
            for (uint32_t i = 0; i < PT_NODES; i++) {
                reached = reached && kumo_test_net_height(&g_net, i) >= target;
            }
        }
    }
    if (!reached) {
        kumo_test_net_logs_print(&g_net);
    }
    assert_true(reached);
    kumo_test_net_blocks_agree(&g_net, all, 1, (uint64_t)target);
}

/* Honest proposals travel in parts only in builds with test hooks (KUMO_TEST_PART_BYTES);
 * release builds send these small blocks whole, so there is nothing to copy or replay. */
static bool pt_hooks;

static void pt_need_hooks(void)
{
    if (!pt_hooks) {
        fprintf(stderr, "skipped: this kumo build has no test hooks (release)\n");
        skip();
    }
}

/* Corrupted copies of the honest parts, sent to every node by strangers that come back under
 * new keys when dropped: the chain commits, no honest validator is dropped, and the liars
 * are whenever their part meets an open slot (it fails its proof). */
static void test_bad_parts_keyed_like_honest(void **state)
{
    (void)state;
    pt_need_hooks();
    size_t before = pt_honest_drops_all();
    pt_attack_open(&g_attack, 0x80);
    g_attack.corrupt_parts = true;
    pt_attack_until_heights(&g_attack, false);
    /* Keep it up a while longer so that honest rebroadcasts meet what the liars planted. */
    uint64_t until = kumo_test_now_ms() + 5000u;
    while (kumo_test_now_ms() < until) {
        pt_attack_step(&g_attack);
    }
    fprintf(stderr, "bad parts: %" PRIu64 " frames sent, %u strangers dropped\n", g_attack.sent,
            g_attack.drops);
    pt_attack_close(&g_attack);
    assert_true(g_attack.sent > 0);
    assert_int_equal(pt_honest_drops_all(), before);
}

/* Honest headers replayed by strangers open nothing: the strangers are dropped, honest
 * proposals complete. */
static void test_replayed_headers(void **state)
{
    (void)state;
    pt_need_hooks();
    size_t before = pt_honest_drops_all();
    pt_attack_open(&g_attack, 0xa0);
    g_attack.replay_headers = true;
    pt_attack_until_heights(&g_attack, false);
    fprintf(stderr, "headers: %" PRIu64 " frames sent, %u strangers dropped\n", g_attack.sent,
            g_attack.drops);
    pt_attack_close(&g_attack);
    assert_true(g_attack.sent > 0);
    assert_int_equal(pt_honest_drops_all(), before);
}

/* A flood of parts of many fake proposals: nothing is opened for them, honest proposals
 * complete and the chain commits. */
static void test_fake_part_flood(void **state)
{
    (void)state;
    size_t before = pt_honest_drops_all();
    pt_attack_open(&g_attack, 0xc0);
    pt_attack_until_heights(&g_attack, true);
    fprintf(stderr, "flood: %" PRIu64 " frames sent, %u strangers dropped\n", g_attack.sent,
            g_attack.drops);
    pt_attack_close(&g_attack);
    assert_true(g_attack.sent > 1000u);
    assert_int_equal(pt_honest_drops_all(), before);
}

static int pt_setup(void **state)
{
    (void)state;
    /* A node closing on a liar mid-write must not kill the test. */
    (void)signal(SIGPIPE, SIG_IGN);
    /* Test builds send every proposal over 256 bytes in parts (production: 64 KiB). */
    assert_int_equal(setenv("KUMO_TEST_PART_BYTES", "256", 1), 0);
    if (kumo_test_net_start(&g_net, PT_NODES, PT_BLOCK_MS, NULL) != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), 2);
    char cmd[sizeof(g_net.kumo) + 64];
    (void)snprintf(cmd, sizeof(cmd), "'%s' version | grep -q 'test hooks: on'", g_net.kumo);
    pt_hooks = system(cmd) == 0;
    return 0;
}

static int pt_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g_net);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_parts_keyed_like_honest),
        cmocka_unit_test(test_replayed_headers),
        cmocka_unit_test(test_fake_part_flood),
    };
    return cmocka_run_group_tests(tests, pt_setup, pt_teardown);
}
