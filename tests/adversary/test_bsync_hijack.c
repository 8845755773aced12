/*
 * test_bsync_hijack.c - block sync cannot be hijacked by lying peers. A real 4-validator
 * testnet (`kumo testnet`, 200 ms blocks); the attacker is this process: one raw p2p peer with
 * its own fresh key connected to every validator, each claiming a head far above the chain's
 * (STATUS 10^12, repeated every 500 ms) and answering block requests with nothing, with "no
 * block", with garbage, or with a block whose commit carries forged signatures. A dropped
 * liar comes back under a fresh key and from a fresh source address (127.0.3.x: all of
 * 127/8 is loopback), as a real attacker would; a banned identity or host stays out.
 *
 * Proves: while the liars claim and lie, the chain keeps committing (on a node that stops
 * consensus for a claim, every validator stops and the chain halts); every liar is dropped
 * (the node logs block_sync_peer_failed); after the liars leave, the chain still commits and
 * every node has the same blocks (on the old code it stays halted). A validator whose store
 * was wiped still block-syncs back (tests/unit/cli/test_testnet.c).
 */
#include "helpers/net/testnet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "consensus/sync.h"
#include "helpers/testutil.h"

#define HJ_VALIDATORS 4u
#define HJ_BLOCK_MS   200u
#define HJ_CLAIM      1000000000000ull
#define HJ_STATUS_MS  500u
#define HJ_PROGRESS   8
/* Fresh keys per attack (distinct key seeds: tags [first, first + this)). */
#define HJ_TAGS_PER_ATTACK 0x40u

typedef enum hj_mode {
    HJ_SILENT = 0,
    HJ_NO_BLOCK = 1,
    HJ_GARBAGE = 2,
    HJ_BAD_COMMIT = 3,
} hj_mode_t;

typedef struct hj_liar {
    kumo_test_peer_t peer;
    uint32_t node;
    hj_mode_t mode;
    bool open;
    uint64_t status_ms;
    uint64_t requests; /* block requests the node sent to this liar, all identities */
    uint64_t drops;    /* identities dropped by the node */
} hj_liar_t;

static kumo_test_net_t g_net;
static struct event_base *g_base; /* every liar runs on it */
static hj_liar_t g_liars[HJ_VALIDATORS];
static uint32_t g_next_tag;
static uint32_t g_tag_end;

static void hj_send(hj_liar_t *l, const kumo_consensus_sync_msg_t *m)
{
    size_t cap = kumo_consensus_sync_msg_bytes(m);
    uint8_t *buf = test_malloc(cap);
    size_t len = 0;
    assert_int_equal(kumo_consensus_sync_msg_encode(m, buf, cap, &len), 0);
    (void)kumo_test_peer_send(&l->peer, KUMO_P2P_CH_BLOCKSYNC, kumo_bytes_make(buf, len));
    test_free(buf);
}

/* A "block" of junk bytes with a well-formed commit for it at height whose three signatures
 * are forged: the commit names the right height and value id and fails on the signatures. */
static void hj_send_bad_commit(hj_liar_t *l, uint64_t height)
{
    uint8_t blk[64];
    memset(blk, 0x5a, sizeof(blk));
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(blk, sizeof(blk)), id);
    uint8_t sig_bytes[3][KUMO_CRYPTO_SIG_BYTES];
    Kumo__CommitSig sigs[3];
    Kumo__CommitSig *ptrs[3];
    for (uint32_t i = 0; i < 3; i++) {
        Kumo__CommitSig init = KUMO__COMMIT_SIG__INIT;
        memset(sig_bytes[i], (int)(0x11 * (i + 1)), KUMO_CRYPTO_SIG_BYTES);
        sigs[i] = init;
        sigs[i].validator_index = i;
        sigs[i].signature = (ProtobufCBinaryData){KUMO_CRYPTO_SIG_BYTES, sig_bytes[i]};
        ptrs[i] = &sigs[i];
    }
    Kumo__Commit c = KUMO__COMMIT__INIT;
    c.height = height;
    c.value_id = (ProtobufCBinaryData){sizeof(id), id};
    c.n_sigs = 3;
    c.sigs = ptrs;
    kumo_buf_t commit;
    kumo_buf_init(&commit, KUMO_CONSENSUS_SYNC_COMMIT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&c.base, &commit, NULL), 0);
    kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_BLOCK,
                                   .height = height,
                                   .block = kumo_bytes_make(blk, sizeof(blk)),
                                   .commit = kumo_buf_bytes(&commit)};
    hj_send(l, &m);
    kumo_buf_free(&commit);
}

static void hj_answer(hj_liar_t *l, uint64_t height)
{
    kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_NO_BLOCK, .height = height};
    /* A BLOCK whose block length runs past the end of the message. */
    static const uint8_t garbage[] = {3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x10, 0, 0, 0xde, 0xad};
    switch (l->mode) {
    case HJ_SILENT:
        break;
    case HJ_NO_BLOCK:
        hj_send(l, &m);
        break;
    case HJ_GARBAGE:
        (void)kumo_test_peer_send(&l->peer, KUMO_P2P_CH_BLOCKSYNC,
                                  kumo_bytes_make(garbage, sizeof(garbage)));
        break;
    case HJ_BAD_COMMIT:
        hj_send_bad_commit(l, height);
        break;
    default:
        fail_msg("mode %d", (int)l->mode);
    }
}

static void hj_on_frame(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    hj_liar_t *l = peer->user;
    kumo_consensus_sync_msg_t m;
    if (channel != KUMO_P2P_CH_BLOCKSYNC || kumo_consensus_sync_msg_decode(payload, &m, NULL) < 0 ||
        m.kind != KUMO_CONSENSUS_SYNC_REQUEST) {
        return;
    }
    l->requests++;
    hj_answer(l, m.height);
}

static bool hj_is_up(const hj_liar_t *l)
{
    return l->open && l->peer.ups > l->peer.downs;
}

static void hj_open(hj_liar_t *l)
{
    assert_true(g_next_tag < g_tag_end && g_tag_end <= 0x100u);
    memset(&l->peer, 0, sizeof(l->peer));
    l->peer.on_frame = hj_on_frame;
    l->peer.user = l;
    char host[32];
    (void)snprintf(host, sizeof(host), "127.0.3.%u", g_next_tag);
    kumo_test_peer_open_from(&l->peer, &g_net, l->node, (uint8_t)g_next_tag, g_base, host);
    g_next_tag++;
    l->open = true;
    l->status_ms = 0;
}

static void hj_close(hj_liar_t *l)
{
    if (l->open) {
        kumo_test_peer_close(&l->peer);
        l->open = false;
    }
}

/* One turn of the liars: their loop, their claims, and a fresh key and address once the node
 * dropped one. */
static void hj_turn(void)
{
    struct timeval tv = {0, 10000};
    (void)event_base_loopexit(g_base, &tv);
    (void)event_base_dispatch(g_base);
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        hj_liar_t *l = &g_liars[i];
        if (!l->open) {
            continue;
        }
        if (l->peer.downs > 0) {
            l->drops++;
            hj_close(l);
            if (g_next_tag < g_tag_end) {
                hj_open(l);
            }
            continue;
        }
        uint64_t now = kumo_test_now_ms();
        if (hj_is_up(l) && now - l->status_ms >= HJ_STATUS_MS) {
            kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_STATUS, .height = HJ_CLAIM};
            hj_send(l, &m);
            l->status_ms = now;
        }
    }
}

/* The lowest height among all validators (-1 if one does not answer). */
static int64_t hj_height_min(void)
{
    int64_t low = INT64_MAX;
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        int64_t h = kumo_test_net_height(&g_net, i);
        low = h < low ? h : low;
    }
    return low;
}

static bool hj_all_dropped(void)
{
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        if (g_liars[i].drops == 0) {
            return false;
        }
    }
    return true;
}

/* Liars with the given modes attack every validator until all validators committed
 * HJ_PROGRESS more blocks and every liar was dropped at least once (deadline: 60 s). */
static void hj_attack(const hj_mode_t modes[HJ_VALIDATORS], uint32_t tag_first)
{
    g_next_tag = tag_first;
    g_tag_end = tag_first + HJ_TAGS_PER_ATTACK;
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        hj_liar_t *l = &g_liars[i];
        memset(l, 0, sizeof(*l));
        l->node = i;
        l->mode = modes[i];
        hj_open(l);
    }
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        kumo_test_peer_wait_up(&g_liars[i].peer); /* runs the shared base: all of them */
    }
    int64_t start = kumo_test_net_height_max(&g_net, kumo_test_net_all(&g_net));
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    uint64_t next_poll = 0;
    int64_t low = -1;
    while (kumo_test_now_ms() < deadline && !(low >= start + HJ_PROGRESS && hj_all_dropped())) {
        hj_turn();
        if (kumo_test_now_ms() >= next_poll) {
            low = hj_height_min();
            next_poll = kumo_test_now_ms() + 300u;
        }
    }
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        fprintf(stderr, "liar at node%u: mode %d requests %" PRIu64 " drops %" PRIu64 "\n", i,
                (int)g_liars[i].mode, g_liars[i].requests, g_liars[i].drops);
    }
    if (low < start + HJ_PROGRESS) {
        kumo_test_net_logs_print(&g_net);
        fail_msg("chain stalled under lying peers: lowest height %" PRId64 ", started at %" PRId64,
                 low, start);
    }
    if (!hj_all_dropped()) {
        kumo_test_net_logs_print(&g_net);
        fail_msg("a liar was never dropped");
    }
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        assert_true(g_liars[i].requests >= 1u); /* its claim was heard, and tried */
        assert_true(kumo_test_net_log_count(&g_net, i, "block_sync_peer_failed") >= 1u);
        hj_close(&g_liars[i]);
    }
}

static int group_setup(void **state)
{
    (void)state;
    g_base = event_base_new();
    if (g_base == NULL || kumo_test_net_start(&g_net, HJ_VALIDATORS, HJ_BLOCK_MS, NULL) != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), 3);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < HJ_VALIDATORS; i++) {
        hj_close(&g_liars[i]);
    }
    kumo_test_net_stop(&g_net);
    if (g_base != NULL) {
        event_base_free(g_base);
        g_base = NULL;
    }
    return 0;
}

static void test_silent_liars_do_not_halt_the_chain(void **state)
{
    (void)state;
    const hj_mode_t modes[HJ_VALIDATORS] = {HJ_SILENT, HJ_SILENT, HJ_SILENT, HJ_SILENT};
    hj_attack(modes, 0x40u);
}

static void test_lying_answers_do_not_halt_the_chain(void **state)
{
    (void)state;
    const hj_mode_t modes[HJ_VALIDATORS] = {HJ_NO_BLOCK, HJ_GARBAGE, HJ_BAD_COMMIT, HJ_BAD_COMMIT};
    hj_attack(modes, 0x80u);
}

static void test_chain_commits_after_liars_leave(void **state)
{
    (void)state;
    int64_t h = kumo_test_net_height_max(&g_net, kumo_test_net_all(&g_net));
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), h + 5);
    kumo_test_net_blocks_agree(&g_net, kumo_test_net_all(&g_net), 1, (uint64_t)h + 5u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent_liars_do_not_halt_the_chain),
        cmocka_unit_test(test_lying_answers_do_not_halt_the_chain),
        cmocka_unit_test(test_chain_commits_after_liars_leave),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
