/*
 * test_consensus_flood.c - consensus input from hostile peers, against a real 4-validator
 * testnet (the kumo binary; the attackers are raw p2p peers of this process):
 * - strangers (fresh keys, no stake) flood one validator with consensus frames of every kind:
 *   1 MiB proposals and votes signed by themselves for the current, far and future heights and
 *   rounds, and the validators' own genuine messages replayed over and over (duplicates and
 *   old heights). The victim's WAL must stay as small as on a quiet network (main before the
 *   fix logged and fsync'd every frame before decoding it: megabytes per stranger) and the
 *   chain must go on.
 * - a byzantine validator: node3 is killed and this process connects to the others as node3
 *   with its own key, sending signed 1 MiB proposals for every round it proposes up to 40 at
 *   this height (two values each), votes for far rounds and far heights. The honest three must
 *   keep committing, hold at most a few of those values (anonymous memory and WAL stay small;
 *   main before the fix kept and executed up to 4 values per round for any round below 1024)
 *   and log the refusals (consensus_msgs_refused).
 * - header rules, with node2 stopped (SIGSTOP) so the height stalls and rounds time out with
 *   node3's nil votes: at a round node3 proposes, it sends node0 an honest block of that height
 *   with its time an hour ahead and node1 the honest block unchanged (its header names another
 *   round's proposer). Both are refused (main before the fix executed and prevoted both: the
 *   time had only a lower bound, the proposer only had to be some validator); after node2
 *   resumes the honest three go on.
 * One testnet is shared by the cases, in order.
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
#include <sys/stat.h>
#include <sys/types.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "consensus/consensus.h"
#include "core/core.h"
#include "helpers/net/testnet.h"
#include "p2p/p2p.h"

#define CF_NODES          4u
#define CF_BLOCK_MS       200u
#define CF_BYZ            3u
#define CF_VALUE_BYTES    (1024u * 1024u)
#define CF_REC_MAX        256u
#define CF_REC_BYTES      8192u
#define CF_STRANGERS      6u
#define CF_BYZ_ROUND_LAST 40u
#define CF_SEND_WAIT_MS   30000u
#define CF_MIB            (1024u * 1024u)

/* Under AddressSanitizer the nodes keep freed memory in quarantine, so their resident memory
 * shows what they received, not what they hold: the memory bound is then only printed. */
#if defined(__SANITIZE_ADDRESS__)
#define CF_MEMORY_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CF_MEMORY_CHECKED 0
#endif
#endif
#ifndef CF_MEMORY_CHECKED
#define CF_MEMORY_CHECKED 1
#endif

static kumo_test_net_t g_net;

/* ---- observing the nodes ---- */

static uint64_t cf_wal_bytes(uint32_t node)
{
    char path[4096];
    kumo_test_net_node_path(&g_net, node, "data/consensus.wal", path, sizeof(path));
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0u;
}

/* The largest WAL among the nodes in mask. */
static uint64_t cf_wal_max(uint32_t mask)
{
    uint64_t max = 0;
    for (uint32_t i = 0; i < CF_NODES; i++) {
        uint64_t b = (mask >> i) & 1u ? cf_wal_bytes(i) : 0u;
        max = b > max ? b : max;
    }
    return max;
}

/* Anonymous resident memory of node i (KiB): what it holds in its heap. */
static uint64_t cf_rss_anon_kib(uint32_t node)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)kumo_test_net_pid(&g_net, node));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    uint64_t kib = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "RssAnon:", 8) == 0) {
            kib = strtoull(line + 8, NULL, 10);
        }
    }
    fclose(f);
    return kib;
}

/* The height the validators are deciding (head + 1) as node i sees it. */
static uint64_t cf_cons_height(uint32_t node)
{
    int64_t h = kumo_test_net_height(&g_net, node);
    assert_true(h >= 0);
    return (uint64_t)h + 1u;
}

/* ---- sending ---- */

/* Sends one consensus frame, pumping the peer's loop while its queue is full. 0, or the p2p
 * error (KUMO_ENOTFOUND once the node dropped us). */
static int cf_send(kumo_test_peer_t *peer, kumo_bytes_t frame)
{
    uint64_t deadline = kumo_test_now_ms() + CF_SEND_WAIT_MS;
    for (;;) {
        int rc = kumo_test_peer_send(peer, KUMO_P2P_CH_CONSENSUS, frame);
        if (rc != KUMO_ELIMIT || kumo_test_now_ms() > deadline) {
            return rc;
        }
        kumo_test_peer_run_ms(peer, 5);
    }
}

/* Signs m with kp and encodes it into buf (cap bytes). */
static kumo_bytes_t
cf_msg(kumo_consensus_msg_t *m, const kumo_crypto_keypair_t *kp, uint8_t *buf, size_t cap)
{
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        m->has_value = true;
        kumo_crypto_sha256(m->value, m->value_id);
    }
    assert_int_equal(kumo_consensus_msg_sign(m, KUMO_TEST_NET_CHAIN_ID, kp), 0);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(m, buf, cap, &len), 0);
    return kumo_bytes_make(buf, len);
}

static kumo_bytes_t cf_vote(kumo_consensus_msg_kind_t kind,
                            uint64_t height,
                            uint32_t round,
                            uint8_t id_byte,
                            const kumo_crypto_keypair_t *kp,
                            uint8_t *buf)
{
    kumo_consensus_msg_t m = {.kind = kind,
                              .height = height,
                              .round = round,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = true};
    memset(m.value_id, id_byte, sizeof(m.value_id));
    return cf_msg(&m, kp, buf, KUMO_CONSENSUS_VOTE_BYTES);
}

/* A proposal of value (its first bytes are overwritten with the height, round and k). */
static kumo_bytes_t cf_proposal(uint64_t height,
                                uint32_t round,
                                uint32_t k,
                                uint8_t *value,
                                const kumo_crypto_keypair_t *kp,
                                uint8_t *buf)
{
    int n = snprintf((char *)value, 64, "junk|h=%" PRIu64 "|r=%u|k=%u|", height, round, k);
    assert_true(n > 0 && n < 64);
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = height,
                              .round = round,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .value = kumo_bytes_make(value, CF_VALUE_BYTES)};
    return cf_msg(&m, kp, buf, KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + CF_VALUE_BYTES);
}

/* ---- (a) strangers ---- */

/* Genuine consensus messages a stranger received, to replay. */
typedef struct cf_rec {
    uint8_t msg[CF_REC_MAX][CF_REC_BYTES];
    size_t len[CF_REC_MAX];
    uint32_t count;
    uint64_t seen;
} cf_rec_t;

static cf_rec_t g_rec;

static void cf_record(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    (void)peer;
    if (channel != KUMO_P2P_CH_CONSENSUS || payload.len == 0 || payload.len > CF_REC_BYTES ||
        payload.ptr[0] < KUMO_CONSENSUS_MSG_PROPOSAL ||
        payload.ptr[0] > KUMO_CONSENSUS_MSG_PRECOMMIT) {
        return;
    }
    uint32_t i = (uint32_t)(g_rec.seen % CF_REC_MAX);
    memcpy(g_rec.msg[i], payload.ptr, payload.len);
    g_rec.len[i] = payload.len;
    g_rec.seen++;
    g_rec.count = g_rec.count < CF_REC_MAX ? g_rec.count + 1u : CF_REC_MAX;
}

/* A stranger with key tag: its own 1 MiB proposal for the current height, then votes for far
 * heights and rounds and the next height, until the node drops it. */
static void cf_stranger_run(uint8_t tag, uint8_t *value, uint8_t *buf)
{
    kumo_test_peer_t s = {0};
    kumo_test_peer_open(&s, &g_net, 0, tag);
    kumo_test_peer_wait_up(&s);
    uint64_t h = cf_cons_height(0);
    (void)cf_send(&s, cf_proposal(h, 0, tag, value, &s.key, buf));
    uint8_t vote[KUMO_CONSENSUS_VOTE_BYTES];
    const uint64_t heights[] = {h, h + 1u, h + 1000u};
    const uint32_t rounds[] = {0, 3, 900};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(heights); i++) {
        for (size_t j = 0; j < KUMO_ARRAY_COUNT(rounds); j++) {
            (void)cf_send(
                &s, cf_vote(KUMO_CONSENSUS_MSG_PREVOTE, heights[i], rounds[j], tag, &s.key, vote));
        }
    }
    (void)kumo_test_peer_run_until(&s, &s.downs, 1, 5000);
    kumo_test_peer_close(&s);
}

/* Replays every recorded genuine message to node 0. */
static uint64_t cf_replay(kumo_test_peer_t *r)
{
    uint64_t sent = 0;
    for (uint32_t i = 0; i < g_rec.count; i++) {
        sent += cf_send(r, kumo_bytes_make(g_rec.msg[i], g_rec.len[i])) == 0 ? 1u : 0u;
    }
    return sent;
}

static void test_strangers_cannot_grow_the_wal(void **state)
{
    (void)state;
    uint32_t all = kumo_test_net_all(&g_net);
    memset(&g_rec, 0, sizeof(g_rec));
    kumo_test_peer_t recorder = {.on_frame = cf_record};
    kumo_test_peer_open(&recorder, &g_net, 1, 0x31);
    kumo_test_peer_wait_up(&recorder);
    kumo_test_peer_t replayer = {0};
    kumo_test_peer_open(&replayer, &g_net, 0, 0x32);
    kumo_test_peer_wait_up(&replayer);
    /* A quiet baseline: the largest WAL of node 0 over a few heights. */
    int64_t h0 = kumo_test_net_height(&g_net, 0);
    uint64_t quiet_max = 0;
    while (kumo_test_net_height(&g_net, 0) < h0 + 4) {
        kumo_test_peer_run_ms(&recorder, 10);
        uint64_t b = cf_wal_bytes(0);
        quiet_max = b > quiet_max ? b : quiet_max;
    }
    uint8_t *value = calloc(1, CF_VALUE_BYTES);
    uint8_t *buf = malloc(KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + CF_VALUE_BYTES);
    assert_non_null(value);
    assert_non_null(buf);
    int64_t h1 = kumo_test_net_height(&g_net, 0);
    uint64_t flood_max = 0;
    uint64_t replayed = 0;
    for (uint8_t k = 0; k < CF_STRANGERS; k++) {
        cf_stranger_run((uint8_t)(0x40u + k), value, buf);
        for (uint32_t pass = 0; pass < 4; pass++) {
            kumo_test_peer_run_ms(&recorder, 20);
            replayed += cf_replay(&replayer);
            kumo_test_peer_run_ms(&replayer, 20);
            uint64_t b = cf_wal_bytes(0);
            flood_max = b > flood_max ? b : flood_max;
        }
    }
    int64_t h2 = kumo_test_net_height(&g_net, 0);
    kumo_test_net_wait_height(&g_net, all, h2 + 3);
    kumo_test_net_blocks_agree(&g_net, all, (uint64_t)h1, (uint64_t)h2 + 3u);
    fprintf(stderr,
            "strangers: %u strangers, %" PRIu64 " genuine messages replayed, heights %" PRId64
            "..%" PRId64 ", node0 WAL max %" PRIu64 " bytes quiet, %" PRIu64 " under flood\n",
            CF_STRANGERS, replayed, h1, h2, quiet_max, flood_max);
    assert_true(replayed > 0);
    /* Nothing a stranger sends is logged: the WAL under flood is what consensus keeps. */
    assert_true(flood_max <= quiet_max + 64u * 1024u);
    assert_int_equal(replayer.downs, 0); /* genuine duplicates are not a fault */
    free(value);
    free(buf);
    kumo_test_peer_close(&replayer);
    kumo_test_peer_close(&recorder);
}

/* ---- (b) a byzantine validator ---- */

typedef struct cf_byz {
    kumo_crypto_keypair_t key;
    kumo_consensus_valset_t vs; /* genesis priorities */
    uint32_t index;             /* node3's validator index */
    uint32_t vindex[CF_NODES];  /* validator index of node i */
    kumo_test_peer_t peers[CF_NODES - 1u];
} cf_byz_t;

static cf_byz_t g_byz;

static uint32_t cf_proposer(uint64_t height, uint32_t round)
{
    kumo_consensus_valset_t vs = g_byz.vs;
    for (uint64_t h = 1; h < height; h++) {
        (void)kumo_consensus_valset_priority_step(&vs);
    }
    return kumo_consensus_valset_proposer(&vs, round);
}

/* The validator set of the testnet (power 10 each, as `kumo testnet init` gives). */
static void cf_byz_keys(void)
{
    uint8_t pubs[CF_NODES][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[CF_NODES];
    for (uint32_t i = 0; i < CF_NODES; i++) {
        kumo_crypto_keypair_t kp;
        assert_int_equal(kumo_test_net_node_key(&g_net, i, &kp), 0);
        memcpy(pubs[i], kp.pubkey, sizeof(pubs[i]));
        powers[i] = 10;
        if (i == CF_BYZ) {
            g_byz.key = kp;
        } else {
            kumo_crypto_key_wipe(&kp);
        }
    }
    assert_int_equal(
        kumo_consensus_valset_init(&g_byz.vs, (const uint8_t(*)[32])pubs, powers, CF_NODES, NULL),
        0);
    for (uint32_t i = 0; i < CF_NODES; i++) {
        int32_t index = kumo_consensus_valset_find(&g_byz.vs, pubs[i]);
        assert_true(index >= 0);
        g_byz.vindex[i] = (uint32_t)index;
    }
    g_byz.index = g_byz.vindex[CF_BYZ];
}

/* Stops node3 and connects to the others as node3, with its key. */
static void cf_byz_open(void)
{
    cf_byz_keys();
    kumo_test_net_kill9(&g_net, CF_BYZ);
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        memset(&g_byz.peers[i], 0, sizeof(g_byz.peers[i]));
        kumo_test_peer_open_key(&g_byz.peers[i], &g_net, i, &g_byz.key);
        kumo_test_peer_wait_up(&g_byz.peers[i]);
    }
}

/* Queues frame to every honest node (cf_send runs the loops when a queue is full). */
static void cf_byz_send_all(kumo_bytes_t frame)
{
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        (void)cf_send(&g_byz.peers[i], frame);
    }
}

static void cf_byz_pump(uint32_t ms)
{
    uint64_t end = kumo_test_now_ms() + ms;
    while (kumo_test_now_ms() < end) {
        for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
            kumo_test_peer_run_ms(&g_byz.peers[i], 5);
        }
    }
}

/* The largest WAL and anonymous memory of the honest nodes so far. */
typedef struct cf_peak {
    uint64_t wal_bytes;
    uint64_t rss_kib[CF_NODES - 1u];
} cf_peak_t;

static void cf_peak_sample(cf_peak_t *p)
{
    uint64_t b = cf_wal_max(0x7u);
    p->wal_bytes = b > p->wal_bytes ? b : p->wal_bytes;
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        uint64_t kib = cf_rss_anon_kib(i);
        p->rss_kib[i] = kib > p->rss_kib[i] ? kib : p->rss_kib[i];
    }
}

/* Two signed values for every round up to CF_BYZ_ROUND_LAST that node3 proposes at the height
 * being decided when the round's turn comes (and a few rounds of the next height); returns the
 * values sent to each node. */
static uint32_t cf_byz_proposals(uint8_t *value, uint8_t *buf, cf_peak_t *peak)
{
    uint32_t sent = 0;
    for (uint32_t r = 0; r <= CF_BYZ_ROUND_LAST; r++) {
        uint64_t h = cf_cons_height(0);
        for (uint64_t hh = h; hh <= h + (r <= 8u ? 1u : 0u); hh++) {
            if (cf_proposer(hh, r) != g_byz.index) {
                continue;
            }
            for (uint32_t k = 0; k < 2; k++) {
                cf_byz_send_all(cf_proposal(hh, r, k, value, &g_byz.key, buf));
                sent++;
            }
            cf_byz_pump(20);
            cf_peak_sample(peak);
        }
    }
    return sent;
}

/* Signed votes of node3 for far rounds of h (two values each) and for far heights. */
static uint32_t cf_byz_votes(uint64_t h)
{
    uint8_t vote[KUMO_CONSENSUS_VOTE_BYTES];
    uint32_t sent = 0;
    for (uint32_t r = 5; r < KUMO_CONSENSUS_ROUND_COUNT_MAX; r += 7) {
        for (uint8_t id = 1; id <= 2; id++) {
            cf_byz_send_all(cf_vote(KUMO_CONSENSUS_MSG_PREVOTE, h, r, id, &g_byz.key, vote));
            cf_byz_send_all(cf_vote(KUMO_CONSENSUS_MSG_PRECOMMIT, h, r, id, &g_byz.key, vote));
            sent += 2;
        }
    }
    for (uint64_t far = h + 2u; far < h + 40u; far += 3u) {
        cf_byz_send_all(cf_vote(KUMO_CONSENSUS_MSG_PRECOMMIT, far, 0, 7, &g_byz.key, vote));
        sent++;
    }
    return sent;
}

static void test_byzantine_validator_is_bounded(void **state)
{
    (void)state;
    const uint32_t honest = 0x7u;
    cf_byz_open();
    cf_peak_t before = {0};
    cf_peak_sample(&before);
    size_t refused0[CF_NODES - 1u];
    size_t invalid0[CF_NODES - 1u];
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        refused0[i] = kumo_test_net_log_count(&g_net, i, "event=consensus_msgs_refused");
        invalid0[i] = kumo_test_net_log_count(&g_net, i, "event=proposal_invalid");
    }
    uint8_t *value = calloc(1, CF_VALUE_BYTES);
    uint8_t *buf = malloc(KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + CF_VALUE_BYTES);
    assert_non_null(value);
    assert_non_null(buf);
    int64_t h1 = kumo_test_net_height(&g_net, 0);
    cf_peak_t peak = before;
    uint32_t proposals = cf_byz_proposals(value, buf, &peak);
    uint32_t votes = cf_byz_votes(cf_cons_height(0));
    cf_byz_pump(1000);
    cf_peak_sample(&peak);
    int64_t h2 = kumo_test_net_height_max(&g_net, honest);
    kumo_test_net_wait_height(&g_net, honest, h2 + 3);
    kumo_test_net_blocks_agree(&g_net, honest, (uint64_t)h1, (uint64_t)h2 + 3u);
    uint64_t grew_max_kib = 0;
    size_t invalid_max = 0;
    size_t refused_min = SIZE_MAX;
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        uint64_t grew = peak.rss_kib[i] - before.rss_kib[i];
        grew_max_kib = grew > grew_max_kib ? grew : grew_max_kib;
        size_t invalid = kumo_test_net_log_count(&g_net, i, "event=proposal_invalid") - invalid0[i];
        invalid_max = invalid > invalid_max ? invalid : invalid_max;
        size_t refused =
            kumo_test_net_log_count(&g_net, i, "event=consensus_msgs_refused") - refused0[i];
        refused_min = refused < refused_min ? refused : refused_min;
        fprintf(stderr,
                "byzantine: node%u anonymous memory %" PRIu64 " KiB, peak %" PRIu64
                " KiB under attack, %zu values executed and refused, %zu refusal lines\n",
                i, before.rss_kib[i], peak.rss_kib[i], invalid, refused);
    }
    fprintf(stderr,
            "byzantine: %u proposals of %u bytes and %u votes sent to each honest node, WAL "
            "max %" PRIu64 " bytes (%" PRIu64 " before), memory growth max %" PRIu64
            " KiB, heights %" PRId64 "..%" PRId64 "\n",
            proposals, CF_VALUE_BYTES, votes, peak.wal_bytes, before.wal_bytes, grew_max_kib, h1,
            h2 + 3);
    assert_true(proposals >= 16u);
    /* At most the values of the rounds in the window (a few MiB), not one per round. */
    assert_true(peak.wal_bytes <= 4u * CF_MIB);
    assert_true(!CF_MEMORY_CHECKED || grew_max_kib <= 12u * 1024u);
    /* Executed (and refused) only when an honest node reached the round: a few. */
    assert_true(invalid_max <= 8u);
    /* The honest nodes say what they refused. */
    assert_true(refused_min > 0);
    free(value);
    free(buf);
}

/* ---- (c) header rules: the round's proposer and the clock ---- */

/* What node3 learns from the honest nodes while node2 is stopped: the height and highest round
 * they are in and an honest block of that height. */
typedef struct cf_watch {
    uint64_t height;
    uint32_t round;
    uint8_t *block; /* an honest proposal's value at height */
    size_t block_len;
} cf_watch_t;

static cf_watch_t g_watch;

static void cf_watch_frame(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload)
{
    (void)peer;
    kumo_consensus_msg_t m;
    if (channel != KUMO_P2P_CH_CONSENSUS || kumo_consensus_msg_decode(payload, &m, NULL) < 0 ||
        kumo_consensus_msg_verify(&m, &g_byz.vs, KUMO_TEST_NET_CHAIN_ID, NULL) < 0 ||
        memcmp(m.pubkey, g_byz.key.pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
        return;
    }
    if (m.height > g_watch.height) {
        g_watch.height = m.height;
        g_watch.round = 0;
        free(g_watch.block);
        g_watch.block = NULL;
    }
    if (m.height == g_watch.height && m.round > g_watch.round && m.round < 64u) {
        g_watch.round = m.round;
    }
    if (m.height == g_watch.height && m.kind == KUMO_CONSENSUS_MSG_PROPOSAL &&
        g_watch.block == NULL) {
        g_watch.block = malloc(m.value.len);
        assert_non_null(g_watch.block);
        memcpy(g_watch.block, m.value.ptr, m.value.len);
        g_watch.block_len = m.value.len;
    }
}

/* Node3's nil prevote and precommit for (h, r) to every live node: with node2 stopped the
 * honest two need them to time rounds out (2f+1 of any kind). */
static void cf_byz_nil_votes(uint64_t h, uint32_t r)
{
    uint8_t vote[KUMO_CONSENSUS_VOTE_BYTES];
    const kumo_consensus_msg_kind_t kinds[] = {KUMO_CONSENSUS_MSG_PREVOTE,
                                               KUMO_CONSENSUS_MSG_PRECOMMIT};
    for (size_t k = 0; k < KUMO_ARRAY_COUNT(kinds); k++) {
        kumo_consensus_msg_t m = {
            .kind = kinds[k], .height = h, .round = r, .pol_round = KUMO_CONSENSUS_ROUND_NONE};
        kumo_bytes_t frame = cf_msg(&m, &g_byz.key, vote, sizeof(vote));
        (void)cf_send(&g_byz.peers[0], frame);
        (void)cf_send(&g_byz.peers[1], frame);
    }
}

/* Node3's proposal for (h, r) carrying block to node i. */
static void cf_byz_propose(uint32_t node, uint64_t h, uint32_t r, kumo_bytes_t block)
{
    size_t cap = KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + block.len;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = h,
                              .round = r,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .value = block};
    assert_int_equal(cf_send(&g_byz.peers[node], cf_msg(&m, &g_byz.key, buf, cap)), 0);
    free(buf);
}

/* The honest block with its header's time an hour ahead (re-encoded as the node would). */
static size_t cf_block_future(const uint8_t *block, size_t len, uint8_t *out, size_t cap)
{
    Kumo__Block *b = kumo__block__unpack(NULL, len, block);
    assert_non_null(b);
    assert_non_null(b->header);
    b->header->time_ms += 3600u * 1000u;
    size_t n = kumo__block__get_packed_size(b);
    assert_true(n <= cap);
    assert_int_equal(kumo__block__pack(b, out), n);
    kumo__block__free_unpacked(b, NULL);
    return n;
}

/* The first round of height h that node3 proposes after a round node0 or node1 proposed. */
static uint32_t cf_target_round(uint64_t h)
{
    bool honest_before = false;
    for (uint32_t r = 0; r < 64u; r++) {
        uint32_t p = cf_proposer(h, r);
        if (p == g_byz.index && honest_before) {
            return r;
        }
        honest_before = honest_before || p == g_byz.vindex[0] || p == g_byz.vindex[1];
    }
    fail_msg("no target round");
    return 0;
}

/* Drives the stalled height (node2 stopped): nil votes for every round the honest two reach,
 * and at node3's target round the honest block with a far time to node0 and unchanged (its
 * header names another round's proposer) to node1, until both refuse them. */
static bool cf_header_attack(uint64_t h, uint32_t target, size_t want0, size_t want1)
{
    uint8_t *future = malloc(KUMO_CONSENSUS_VALUE_BYTES_MAX);
    assert_non_null(future);
    bool proposed = false;
    uint32_t voted = 0;
    bool done = false;
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (!done && kumo_test_now_ms() < deadline) {
        cf_byz_pump(20);
        for (; g_watch.height == h && voted <= g_watch.round + 1u; voted++) {
            cf_byz_nil_votes(h, voted);
        }
        if (!proposed && g_watch.height == h && g_watch.block != NULL &&
            g_watch.round + 1u >= target) {
            size_t n = cf_block_future(g_watch.block, g_watch.block_len, future,
                                       KUMO_CONSENSUS_VALUE_BYTES_MAX);
            cf_byz_propose(0, h, target, kumo_bytes_make(future, n));
            cf_byz_propose(1, h, target, kumo_bytes_make(g_watch.block, g_watch.block_len));
            proposed = true;
        }
        done = kumo_test_net_log_count(&g_net, 0, "after the local clock") > want0 &&
               kumo_test_net_log_count(&g_net, 1, "not the round's proposer") > want1;
    }
    free(future);
    return done;
}

static void test_proposal_header_rules(void **state)
{
    (void)state;
    if (g_byz.peers[0].p2p == NULL) {
        cf_byz_open(); /* run alone (CMOCKA filter): node3 is not replaced yet */
    }
    for (uint32_t i = 0; i < 2; i++) {
        g_byz.peers[i].on_frame = cf_watch_frame;
    }
    size_t want0 = kumo_test_net_log_count(&g_net, 0, "after the local clock");
    size_t want1 = kumo_test_net_log_count(&g_net, 1, "not the round's proposer");
    pid_t node2 = kumo_test_net_pid(&g_net, 2);
    assert_true(node2 > 0);
    assert_int_equal(kill(node2, SIGSTOP), 0);
    /* The height the two live nodes are stuck at. */
    memset(&g_watch, 0, sizeof(g_watch));
    cf_byz_pump(1500);
    uint64_t h = cf_cons_height(0);
    uint32_t target = cf_target_round(h);
    bool refused = cf_header_attack(h, target, want0, want1);
    assert_int_equal(kill(node2, SIGCONT), 0);
    fprintf(stderr,
            "header: height %" PRIu64 ", node3's round %u: far time refused by node0 %zu times, "
            "another round's proposer refused by node1 %zu times\n",
            h, target, kumo_test_net_log_count(&g_net, 0, "after the local clock") - want0,
            kumo_test_net_log_count(&g_net, 1, "not the round's proposer") - want1);
    for (uint32_t i = 0; i < 2; i++) {
        g_byz.peers[i].on_frame = NULL;
    }
    free(g_watch.block);
    g_watch.block = NULL;
    assert_true(refused);
    /* Node2 back: the honest three go on (node3's values were never decided). */
    kumo_test_net_wait_height(&g_net, 0x7u, (int64_t)h + 2);
    kumo_test_net_blocks_agree(&g_net, 0x7u, h - 1u, h + 1u);
}

static int cf_setup(void **state)
{
    (void)state;
    /* A node closing on a stranger mid-write must not kill the test. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (kumo_test_net_start(&g_net, CF_NODES, CF_BLOCK_MS, NULL) != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), 2);
    return 0;
}

static int cf_teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i + 1u < CF_NODES; i++) {
        kumo_test_peer_close(&g_byz.peers[i]);
    }
    kumo_crypto_key_wipe(&g_byz.key);
    pid_t node2 = kumo_test_net_pid(&g_net, 2);
    if (node2 > 0) {
        (void)kill(node2, SIGCONT); /* never leave a stopped node behind */
    }
    kumo_test_net_stop(&g_net);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strangers_cannot_grow_the_wal),
        cmocka_unit_test(test_byzantine_validator_is_bounded),
        cmocka_unit_test(test_proposal_header_rules),
    };
    /* KUMO_TEST_FILTER=<pattern> runs only the matching cases (e.g. against an old binary). */
    const char *filter = getenv("KUMO_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests(tests, cf_setup, cf_teardown);
}
