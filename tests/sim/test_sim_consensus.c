/*
 * test_sim_consensus.c - deterministic simulation of the Tendermint engine: N validators in
 * one process on a virtual network and a virtual clock that jumps to the next event.
 *
 * All randomness comes from one seeded xoshiro256** (helpers/testrng.h). Each seed draws a
 * run: 4 to 7 validators with equal or unequal power, message loss, delay (hence reordering),
 * duplication, a partition that heals, and sometimes one byzantine validator (power below a
 * third) that equivocates: it sends conflicting signed votes and proposals to two halves of
 * the network, and up to two crash-restarts of honest validators before the heal: a crash
 * loses the engine, its timers and messages in flight to it; the restart reopens the engine
 * from what the node keeps on disk (its decided chain, its signer state, the WAL of the
 * current and last heights' messages), replays the WAL, and signs only through the signer
 * state, as src/node does. Every honest validator also runs block sync (the pure policy of
 * src/consensus/sync.h, as the node does); a lying peer with fresh keys claims heads it never
 * serves in half the runs, and a crash-restart may find its store wiped, so lagging nodes
 * catch up by block sync with the liar present. In half the runs proposals travel in parts
 * as the node sends them (header and Merkle-proved parts, src/node/parts.c), reassembled per
 * receiver, with a parts liar injecting corrupted parts, fake roots and replayed headers.
 * In a third of the runs the simulated app changes the validator set as the chain does
 * (src/chain/valset.c): every height or two a node joins, leaves or shifts its power, effective
 * two heights after the block that decided it, with the round-0 priorities the chain keeps
 * (kumo_consensus_valset_next); engines take each height's set through io.valset_get, a node
 * outside a height's set follows as an observer, and commits, evidence, catch-up answers and
 * block sync are checked against the set of their own height. The byzantine validator keeps
 * less than a third of every set's power.
 * test_sim_large runs the same simulation with 100 validators, the set changing and every
 * fault drawn: one seed (SIM_LARGE_SEED_FIRST) by default, its own ctest test
 * (sim_sim_test_sim_large, seconds); KUMO_SIM_LARGE_SEEDS=N runs N seeds (that one first). Every
 * node checks the same signatures, so repeats are answered from an exact cache (see below). Faults
 * stop at heal time (the GST of the paper); after it, delays are bounded. Checked at every step:
 * agreement (no two honest nodes decide different values at a height), validity (a decided value
 * was proposed, passes the validity predicate and carries +2/3 valid precommit signatures), no
 * honest double-sign (every sign request of an honest node is unique per height/round/type, across
 * restarts too: only released signatures count, and a refused one is counted), a restarted node
 * re-decides its last height identically, evidence names only the byzantine validator, consensus
 * stops only for a verified block, a synced block is the one decided at its height, a reassembled
 * message is one its header's sender split and only the liar's parts fail their proof; after
 * healing, liveness: every honest node decides SIM_LIVE_HEIGHTS new heights within
 * SIM_LIVE_BOUND_MS of virtual time.
 *
 * A failure prints the seed and `KUMO_SIM_SEED=<seed> ctest -R sim_consensus`. Default: the
 * fixed seeds below plus derived seeds up to SIM_RUNS_DEFAULT runs; KUMO_SIM_SEEDS=N runs N
 * (ctest sets it per preset: 2000 release, 300 debug, 150 ASan). It prints its speed as
 * sim_runs_per_s / sim_heights_per_s lines (tools/bench.sh collects them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consensus/consensus.h"
#include "consensus/sync.h"
#include "helpers/testrng.h"
#include "helpers/testutil.h"
#include "node/cons_int.h"

#define SIM_NODE_MAX 100u
/* The large runs (test_sim_large): 100 validators, the set changing, every fault drawn. */
#define SIM_LARGE_NODES        100u
#define SIM_LARGE_RUNS_DEFAULT 1u
#define SIM_LARGE_SEED_FIRST   0xbab24a1a4bc80671ull
#define SIM_HEIGHT_MAX         512u
#define SIM_PROPOSED_MAX       8192u
#define SIM_SIGNED_MAX         4096u
#define SIM_RUNS_DEFAULT       200u
#define SIM_LIVE_HEIGHTS       3u
/* Runs that change the set go on longer, so more changes take effect. */
#define SIM_LIVE_HEIGHTS_VALSET 6u
/* ... and the large runs longer still: a few changes of each kind take effect. */
#define SIM_LIVE_HEIGHTS_LARGE 16u
#define SIM_LIVE_BOUND_MS      120000u
#define SIM_CHAIN_ID           "kumo-sim"

static const uint64_t sim_fixed_seeds[] = {0x5eed, 1, 2, 3, 0xdeadbeef, 42, 7777, 0xc0ffee};

enum {
    SIM_EV_TIMER = 0,
    SIM_EV_MSG = 1,
    SIM_EV_CRASH = 2,
    SIM_EV_RESTART = 3,
    SIM_EV_SYNC_TICK = 4, /* a node's block sync status and policy tick */
    SIM_EV_SYNC_MSG = 5,  /* a block sync message (from, from_gen name the sender) */
    SIM_EV_LIAR_TICK = 6  /* the lying peer repeats its claim */
};
/* Block sync: a status and policy tick per node this often; the lying peer (events use node
 * index SIM_LIAR) repeats its claim this often; the largest value the simulation proposes. */
#define SIM_SYNC_TICK_MS 1000u
#define SIM_LIAR         SIM_NODE_MAX
#define SIM_LIAR_TICK_MS 700u
#define SIM_VALUE_MAX    1152u
#define SIM_LIAR_CLAIM   1000000000000ull
/* WAL bytes a node keeps for its current height (a restart replays them). */
#define SIM_WAL_BYTES_MAX (4u * 1024u * 1024u)

typedef struct sim_event {
    uint64_t time_ms;
    uint64_t seq;
    uint32_t node;
    uint32_t kind; /* SIM_EV_*: timers first on a tie, then by node */
    uint32_t timer_id;
    uint64_t timer_gen;
    uint8_t *msg;
    size_t msg_len;
    uint32_t from;     /* SIM_EV_SYNC_MSG: sender node index or SIM_LIAR */
    uint32_t from_gen; /* ... and the liar's identity towards the receiver */
} sim_event_t;

typedef struct sim_signed {
    uint64_t height;
    uint32_t round;
    uint8_t kind;
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
} sim_signed_t;

struct sim;

typedef struct sim_node {
    struct sim *sim;
    uint32_t index; /* node number = its key seed; vindex is its validator index */
    uint32_t vindex;
    kumo_crypto_keypair_t kp;
    kumo_consensus_t *engine;
    uint64_t timer_gen[KUMO_CONSENSUS_TIMER_COUNT];
    uint64_t decided_height; /* last decided */
    uint64_t decided_at_heal;
    sim_signed_t *signed_log;
    uint32_t signed_count;
    /* Crash recovery, as the node does it: what survives a crash is the decided chain
     * (decided_height), the signer state and the WAL of the current height's messages. */
    bool down;
    kumo_consensus_signer_state_t signer;
    kumo_buf_t wal;      /* u32-prefixed consensus messages of the current height */
    kumo_buf_t wal_prev; /* ... and of the last decided height (the node keeps its block) */
    bool replaying;
    uint32_t crashes;
    /* Block sync, as the node does it: the pure policy, and the identity the lying peer
     * currently uses towards this node (a dropped liar comes back under a fresh key). */
    kumo_consensus_sync_t sync;
    uint32_t liar_gen;
    node_parts_t parts; /* messages in assembly, as the node keeps them (lost in a crash) */
} sim_node_t;

/* A decided block as block sync serves it: the value and its commit. */
typedef struct sim_block {
    uint8_t value[SIM_VALUE_MAX];
    size_t value_len;
    uint32_t round;
    uint32_t sig_count;
    kumo_consensus_commit_sig_t sigs[SIM_NODE_MAX];
} sim_block_t;

typedef struct sim {
    uint64_t seed;
    kumo_test_rng_t rng;
    uint32_t n;
    uint64_t powers[SIM_NODE_MAX];
    int32_t byz; /* node index or -1 */
    uint32_t loss_pct;
    uint32_t dup_pct;
    uint32_t delay_max_ms;
    uint64_t heal_ms;
    uint64_t part_start_ms;
    bool partitioned;
    bool part_a[SIM_NODE_MAX]; /* nodes on side A of the partition */
    bool large;                /* a run of SIM_LARGE_NODES validators */
    uint64_t now_ms;
    uint64_t seq;
    sim_event_t *heap;
    size_t heap_count;
    size_t heap_cap;
    kumo_consensus_valset_t vs; /* the set of height 1 */
    /* The set of every height with its round-0 priorities (a fixed set: one step per height),
     * and whether engines take them through io.valset_get (a run whose set changes). */
    kumo_consensus_valset_t *sets;
    bool valset_changes;
    uint8_t change_kind[SIM_HEIGHT_MAX]; /* SIM_CHANGE_* + 1 made at that height, 0 none */
    uint8_t unjails[SIM_HEIGHT_MAX];     /* jailed validators back at that height */
    sim_node_t nodes[SIM_NODE_MAX];
    bool decided_set[SIM_HEIGHT_MAX];
    uint8_t decided_id[SIM_HEIGHT_MAX][KUMO_CRYPTO_HASH_BYTES];
    uint8_t (*proposed)[KUMO_CRYPTO_HASH_BYTES];
    uint32_t proposed_count;
    uint64_t evidence_count;
    uint64_t events;
    uint64_t max_height;
    kumo_consensus_cfg_t cfg;
    uint32_t crash_count; /* crashes drawn for this run */
    uint64_t refused_signs;
    uint64_t validated; /* validate_value calls (executions) of honest nodes */
    uint64_t flooded;   /* far-round and junk messages the byzantine node sent */
    /* Block sync and the lying peer (no stake, any number of fresh keys): it claims a head
     * far ahead (or just ahead) and answers requests with silence, "no block", garbage or
     * a block with a commit that does not verify. */
    bool liar;
    bool liar_claim_far;
    bool wipe;              /* the first crash-restart loses the node's chain */
    sim_block_t *blocks;    /* by height, for every decided height */
    uint64_t synced_blocks; /* applied through block sync */
    uint64_t liar_faults;   /* liar identities a node reported */
    /* Proposals in parts (src/node/parts.c): every message longer than SIM_PART_BYTES is
     * split as the node splits it, each frame a network message; the parts liar (no stake)
     * injects corrupted and fake parts and replays headers. */
    bool parts;
    struct sim_split *splits; /* ring of the messages validators split, and who sent them */
    uint32_t split_count;
    uint64_t parts_completed; /* messages reassembled and handed to an engine */
    uint64_t parts_blamed;    /* parts that failed their proof (all from the liar) */
    uint64_t parts_refused;   /* headers refused for coming from a non-validator */
    uint64_t parts_injected;  /* frames the liar sent */
} sim_t;

static uint64_t sim_total_evidence;
static uint64_t sim_total_heights;
static uint64_t sim_total_byz_runs;
static uint64_t sim_total_crashes;
static uint64_t sim_total_refused;
static uint64_t sim_total_validated;
static uint64_t sim_total_flooded;
static uint64_t sim_total_synced;
static uint64_t sim_total_liar_runs;
static uint64_t sim_total_liar_faults;
static uint64_t sim_total_wipes;
static uint64_t sim_total_parts_runs;
static uint64_t sim_total_parts_completed;
static uint64_t sim_total_parts_blamed;
static uint64_t sim_total_parts_refused;
static uint64_t sim_total_parts_injected;
static uint64_t sim_total_valset_runs;
static uint64_t sim_total_valset_changes;
static uint64_t sim_total_observer_heights;

#define SIM_CHECK(sim, cond, ...)                                                              \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr,                                                                    \
                    "sim_consensus: FAILED seed=0x%" PRIx64 " t=%" PRIu64 "ms: ", (sim)->seed, \
                    (sim)->now_ms);                                                            \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\nreplay: KUMO_SIM_SEED=0x%" PRIx64 " ctest -R sim_consensus\n",  \
                    (sim)->seed);                                                              \
            fail_msg("seed 0x%" PRIx64 ": %s", (sim)->seed, #cond);                            \
        }                                                                                      \
    } while (0)

/* ---- signature checks: an exact cache, in this harness only ----
 *
 * Every simulated node checks the same signatures (100 nodes: each vote about 100 times),
 * which is the engine doing its job at each node, not something to measure a hundred times
 * over. This binary is linked with -Wl,--wrap=kumo_crypto_verify (CMakeLists.txt), so every
 * check the engine, block sync and parts make lands here: the key is the SHA-256 of the
 * pubkey, the message and the signature (fixed sizes around one variable part, so the
 * concatenation is unambiguous), and a hit returns what the real check answered for those
 * exact bytes, valid or not. What the engine checks and when is unchanged (bench_sim measures
 * it without a cache). KUMO_SIM_VERIFY_CACHE=0 checks every signature for real. */

#define SIM_VERIFY_SLOTS (1u << 16)

typedef struct sim_verify_entry {
    bool used;
    bool valid;
    uint8_t key[KUMO_CRYPTO_HASH_BYTES];
} sim_verify_entry_t;

static sim_verify_entry_t *sim_verify_cache; /* NULL: no cache */
static uint64_t sim_verify_hits;
static uint64_t sim_verify_misses;

bool __real_kumo_crypto_verify(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                               kumo_bytes_t msg,
                               const uint8_t sig[KUMO_CRYPTO_SIG_BYTES]);

bool __wrap_kumo_crypto_verify(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                               kumo_bytes_t msg,
                               const uint8_t sig[KUMO_CRYPTO_SIG_BYTES])
{
    if (sim_verify_cache == NULL) {
        return __real_kumo_crypto_verify(pubkey, msg, sig);
    }
    const kumo_bytes_t parts[] = {kumo_bytes_make(pubkey, KUMO_CRYPTO_PUBKEY_BYTES), msg,
                                  kumo_bytes_make(sig, KUMO_CRYPTO_SIG_BYTES)};
    uint8_t key[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(parts, KUMO_ARRAY_COUNT(parts), key);
    uint32_t slot = ((uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16) &
                    (SIM_VERIFY_SLOTS - 1u);
    sim_verify_entry_t *e = &sim_verify_cache[slot];
    if (e->used && memcmp(e->key, key, sizeof(key)) == 0) {
        sim_verify_hits++;
        return e->valid;
    }
    sim_verify_misses++;
    e->used = true;
    e->valid = __real_kumo_crypto_verify(pubkey, msg, sig);
    memcpy(e->key, key, sizeof(key));
    return e->valid;
}

static void sim_verify_cache_open(void)
{
    const char *env = getenv("KUMO_SIM_VERIFY_CACHE");
    if (env != NULL && strcmp(env, "0") == 0) {
        return;
    }
    sim_verify_cache = calloc(SIM_VERIFY_SLOTS, sizeof(sim_verify_entry_t));
    assert_non_null(sim_verify_cache);
}

/* ---- event heap ordered by (time, kind, node, seq) ---- */

static bool ev_less(const sim_event_t *a, const sim_event_t *b)
{
    if (a->time_ms != b->time_ms) {
        return a->time_ms < b->time_ms;
    }
    if (a->node != b->node) {
        return a->node < b->node;
    }
    if (a->kind != b->kind) {
        return a->kind < b->kind;
    }
    return a->seq < b->seq;
}

static void heap_push(sim_t *s, sim_event_t ev)
{
    if (s->heap_count == s->heap_cap) {
        s->heap_cap = s->heap_cap == 0 ? 1024 : s->heap_cap * 2;
        s->heap = realloc(s->heap, s->heap_cap * sizeof(sim_event_t));
        assert_non_null(s->heap);
    }
    ev.seq = s->seq++;
    size_t i = s->heap_count++;
    s->heap[i] = ev;
    while (i > 0 && ev_less(&s->heap[i], &s->heap[(i - 1) / 2])) {
        sim_event_t t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static sim_event_t heap_pop(sim_t *s)
{
    sim_event_t top = s->heap[0];
    s->heap[0] = s->heap[--s->heap_count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t m = i;
        if (l < s->heap_count && ev_less(&s->heap[l], &s->heap[m])) {
            m = l;
        }
        if (l + 1 < s->heap_count && ev_less(&s->heap[l + 1], &s->heap[m])) {
            m = l + 1;
        }
        if (m == i) {
            return top;
        }
        sim_event_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

/* ---- validator sets per height ---- */

static const kumo_consensus_valset_t *sim_set(const sim_t *s, uint64_t height)
{
    SIM_CHECK(s, height >= 1 && height < SIM_HEIGHT_MAX, "set of height %" PRIu64, height);
    return &s->sets[height];
}

/* The node with validator index vi in the set of height, or -1. */
static int32_t sim_node_of(const sim_t *s, uint64_t height, uint32_t vi)
{
    const kumo_consensus_valset_t *vs = sim_set(s, height);
    SIM_CHECK(s, vi < vs->count, "validator index %u of %u", vi, vs->count);
    for (uint32_t i = 0; i < s->n; i++) {
        if (memcmp(s->nodes[i].kp.pubkey, vs->v[vi].pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

/* Node i's validator index at height, or -1 while the set leaves it out. */
static int32_t sim_vindex(const sim_t *s, uint64_t height, uint32_t i)
{
    return kumo_consensus_valset_find(sim_set(s, height), s->nodes[i].kp.pubkey);
}

/* ---- network ---- */

static bool sim_faulty(const sim_t *s)
{
    return s->now_ms < s->heal_ms;
}

static bool sim_cut(const sim_t *s, uint32_t from, uint32_t to)
{
    if (!s->partitioned || !sim_faulty(s) || s->now_ms < s->part_start_ms) {
        return false;
    }
    /* The lying peers (index SIM_LIAR) are on side B. */
    bool from_a = from < s->n && s->part_a[from];
    bool to_a = to < s->n && s->part_a[to];
    return from_a != to_a;
}

/* io.wal_append: the engine logs what it keeps, before acting on it (as the node does). */
static int io_wal_append(void *ctx, kumo_bytes_t msg)
{
    sim_node_t *node = ctx;
    SIM_CHECK(node->sim, !node->replaying, "node %u logs a replayed message", node->index);
    if ((int32_t)node->index == node->sim->byz) {
        return 0;
    }
    uint8_t len[4];
    kumo_be32_put(len, (uint32_t)msg.len);
    SIM_CHECK(node->sim, node->wal.len + 4u + msg.len <= SIM_WAL_BYTES_MAX,
              "node %u WAL over %u bytes in one height", node->index, SIM_WAL_BYTES_MAX);
    assert_int_equal(kumo_buf_append(&node->wal, len, sizeof(len)), 0);
    assert_int_equal(kumo_buf_append(&node->wal, msg.ptr, msg.len), 0);
    return 0;
}

static void sim_deliver_kind(
    sim_t *s, uint32_t from, uint32_t to, uint32_t kind, uint32_t from_gen, kumo_bytes_t msg)
{
    if (sim_cut(s, from, to)) {
        return;
    }
    bool faulty = sim_faulty(s);
    if (faulty && kumo_test_rng_below(&s->rng, 100) < s->loss_pct) {
        return;
    }
    uint32_t copies = faulty && kumo_test_rng_below(&s->rng, 100) < s->dup_pct ? 2u : 1u;
    for (uint32_t c = 0; c < copies; c++) {
        uint64_t delay_max = faulty ? s->delay_max_ms : 50u;
        sim_event_t ev = {0};
        ev.time_ms = s->now_ms + 1 + kumo_test_rng_below(&s->rng, delay_max);
        ev.node = to;
        ev.kind = kind;
        ev.from = from;
        ev.from_gen = from_gen;
        ev.msg = malloc(msg.len);
        assert_non_null(ev.msg);
        memcpy(ev.msg, msg.ptr, msg.len);
        ev.msg_len = msg.len;
        heap_push(s, ev);
    }
}

static void sim_deliver_one(sim_t *s, uint32_t from, uint32_t to, kumo_bytes_t msg)
{
    sim_deliver_kind(s, from, to, SIM_EV_MSG, 0, msg);
}

/* ---- proposals in parts and the parts liar ----
 *
 * In parts runs (half the seeds, drawn from the seed alone so the other runs are unchanged)
 * every message longer than SIM_PART_BYTES travels as the node sends it: node_parts_split
 * into a header and parts, each its own network message (lost, duplicated, reordered like any
 * other); each receiver reassembles with its own node_parts_t exactly as src/node/cons.c does:
 * only a validator's header opens a slot, a completed message goes to the engine as coming
 * from the header's sender. Proposed values are padded so a proposal takes 2 to 5 parts. The
 * parts liar, a peer with no stake, sees honest frames and sends receivers corrupted copies
 * of parts, parts for fake roots, exact copies (a relay) and replayed headers. Checked: a
 * completed message is exactly a message the header's sender split, a part failing its proof
 * comes from the liar only, no header sender is ever blamed. */

#define SIM_PART_BYTES      NODE_PARTS_BYTES_MIN
#define SIM_FRAME_COUNT_MAX 8u
#define SIM_FRAME_BYTES_MAX 512u
#define SIM_SPLIT_MAX       4096u
#define SIM_PAD_BYTES_MIN   300u
#define SIM_PAD_BYTES_SPAN  700u
#define SIM_PARTS_LIAR_PCT  40u
_Static_assert(SIM_PART_BYTES >= NODE_PARTS_BYTES_MIN, "a part size the node accepts");
_Static_assert(64u + SIM_PAD_BYTES_MIN + SIM_PAD_BYTES_SPAN < SIM_VALUE_MAX, "padded value");

typedef struct sim_split {
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES]; /* SHA-256 of the whole message */
    uint32_t sender_vindex;
} sim_split_t;

/* One message as frames: itself, or a header and its parts. */
typedef struct sim_frames {
    uint32_t count;
    kumo_bytes_t frame[SIM_FRAME_COUNT_MAX];
    uint8_t buf[SIM_FRAME_COUNT_MAX][SIM_FRAME_BYTES_MAX];
} sim_frames_t;

static bool sim_parts_drawn(uint64_t seed)
{
    uint64_t x = seed ^ 0x7061727473ull; /* "parts": independent of the run's stream */
    return (kumo_test_rng_splitmix(&x) & 1u) == 1u;
}

static void sim_frames_collect(void *ctx, kumo_bytes_t frame)
{
    sim_frames_t *f = ctx;
    assert_true(f->count < SIM_FRAME_COUNT_MAX && frame.len <= SIM_FRAME_BYTES_MAX);
    memcpy(f->buf[f->count], frame.ptr, frame.len);
    f->frame[f->count] = kumo_bytes_make(f->buf[f->count], frame.len);
    f->count++;
}

/* msg as sender sends it; a split message is remembered with its sender. */
static void sim_frames_make(sim_t *s, const sim_node_t *sender, kumo_bytes_t msg, sim_frames_t *f)
{
    f->count = 0;
    if (!s->parts || msg.len <= SIM_PART_BYTES) {
        f->frame[f->count++] = msg; /* borrowed: a vote, or any message in a whole run */
        return;
    }
    assert_int_equal(node_parts_split(msg, SIM_PART_BYTES, sim_frames_collect, f), 0);
    SIM_CHECK(s, f->count >= 3u && f->buf[0][0] == NODE_PARTS_TAG_HEADER, "split of %zu bytes",
              msg.len);
    sim_split_t *rec = &s->splits[s->split_count++ % SIM_SPLIT_MAX];
    kumo_crypto_sha256(msg, rec->hash);
    rec->sender_vindex = sender->vindex;
}

static void sim_frames_send(sim_t *s, uint32_t from, uint32_t to, const sim_frames_t *f)
{
    for (uint32_t i = 0; i < f->count; i++) {
        sim_deliver_one(s, from, to, f->frame[i]);
    }
}

/* The parts liar taps a split message and sends one receiver one bad (or relayed) frame. */
static void sim_parts_liar_tap(sim_t *s, uint32_t from, const sim_frames_t *f)
{
    if (f->count < 3u || kumo_test_rng_below(&s->rng, 100) >= SIM_PARTS_LIAR_PCT) {
        return;
    }
    uint32_t to = (uint32_t)kumo_test_rng_below(&s->rng, s->n);
    uint32_t pick = 1u + (uint32_t)kumo_test_rng_below(&s->rng, f->count - 1u);
    uint8_t frame[SIM_FRAME_BYTES_MAX];
    size_t len = f->frame[pick].len;
    memcpy(frame, f->frame[pick].ptr, len);
    uint64_t kind = kumo_test_rng_below(&s->rng, 4);
    if (kind == 0) { /* corrupted: a byte of the index, proof count, proof or data */
        size_t at = 1u + KUMO_CRYPTO_HASH_BYTES + kumo_test_rng_below(&s->rng, len - 33u);
        frame[at] ^= (uint8_t)(1u + kumo_test_rng_below(&s->rng, 255));
    } else if (kind == 1) { /* a fake root */
        for (uint32_t i = 0; i < KUMO_CRYPTO_HASH_BYTES; i++) {
            frame[1u + i] = (uint8_t)kumo_test_rng_next(&s->rng);
        }
    } else if (kind == 2) { /* the header, replayed by a peer that is no validator */
        len = f->frame[0].len;
        memcpy(frame, f->frame[0].ptr, len);
    } /* else an exact copy: a relay, which counts like the honest part */
    if (to != from) {
        s->parts_injected++;
        sim_deliver_one(s, SIM_LIAR, to, kumo_bytes_make(frame, len));
    }
}

/* A completed message must be one its header's sender split, byte for byte. */
static void
sim_parts_check_whole(sim_t *s, const sim_node_t *node, uint32_t sender, kumo_bytes_t whole)
{
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(whole, hash);
    uint32_t kept = s->split_count < SIM_SPLIT_MAX ? s->split_count : SIM_SPLIT_MAX;
    bool found = false;
    for (uint32_t i = 0; i < kept && !found; i++) {
        const sim_split_t *rec = &s->splits[(s->split_count - 1u - i) % SIM_SPLIT_MAX];
        found = rec->sender_vindex == sender && memcmp(rec->hash, hash, sizeof(hash)) == 0;
    }
    SIM_CHECK(s, found, "node %u completed %zu bytes validator %u never split", node->index,
              whole.len, sender);
    s->parts_completed++;
}

/* A part frame, as cons_on_part: a failed proof blames the frame's sender, a mismatch the
 * header's sender; a completed message goes to the engine. */
static int sim_parts_on_part(
    sim_t *s, sim_node_t *node, const sim_event_t *ev, kumo_bytes_t frame, kumo_err_ctx_t *err)
{
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    uint32_t sender = UINT32_MAX;
    int rc = node_parts_part_recv(&node->parts, frame, &whole, &sender, err);
    SIM_CHECK(s, rc != KUMO_EMISMATCH, "node %u blames header sender %u: %s", node->index, sender,
              err->detail);
    if (rc == KUMO_EDECODE) {
        SIM_CHECK(s, ev->from == SIM_LIAR, "node %u blames validator node %u for a part: %s",
                  node->index, ev->from, err->detail);
        s->parts_blamed++;
        rc = 0;
    } else if (rc == 0 && whole.len > 0) {
        SIM_CHECK(s, sender < s->vs.count, "completed from sender %u", sender);
        sim_parts_check_whole(s, node, sender, kumo_buf_bytes(&whole));
        rc = kumo_consensus_on_msg(node->engine, kumo_buf_bytes(&whole), err);
    }
    kumo_buf_free(&whole);
    return rc;
}

/* A frame of the parts protocol at a running engine, as cons_on_consensus. */
static int
sim_parts_on_frame(sim_t *s, sim_node_t *node, const sim_event_t *ev, kumo_err_ctx_t *err)
{
    kumo_bytes_t frame = kumo_bytes_make(ev->msg, ev->msg_len);
    if (frame.ptr[0] == NODE_PARTS_TAG_PART) {
        return sim_parts_on_part(s, node, ev, frame, err);
    }
    if (ev->from == SIM_LIAR) {
        s->parts_refused++; /* only a validator's header opens a slot (the node penalizes) */
        return 0;
    }
    node_parts_view_t view = {
        .height = kumo_consensus_height(node->engine),
        .vs = &s->vs,
        .chain_id = SIM_CHAIN_ID,
    };
    int rc = node_parts_header_recv(&node->parts, &view, s->nodes[ev->from].vindex, frame, err);
    SIM_CHECK(s, rc == 0, "node %u refuses the header of validator node %u: %s", node->index,
              ev->from, err->detail);
    return rc;
}

/* In a parts run, a proposed value is padded to 300..999 more bytes. */
static void sim_value_pad(sim_t *s, char *v, size_t cap, int *k)
{
    if (!s->parts || *k < 0) {
        return;
    }
    size_t pad = SIM_PAD_BYTES_MIN + kumo_test_rng_below(&s->rng, SIM_PAD_BYTES_SPAN);
    assert_true((size_t)*k + 1u + pad < cap);
    v[*k] = '|';
    memset(v + *k + 1, 'p', pad);
    *k += (int)(1u + pad);
}

/* The byzantine node: a conflicting, validly signed twin of msg for half the network. */
static bool sim_byz_twin(sim_t *s, sim_node_t *node, kumo_bytes_t msg, uint8_t *out, size_t *len)
{
    kumo_consensus_msg_t m;
    assert_int_equal(kumo_consensus_msg_decode(msg, &m, NULL), 0);
    char alt[96];
    if (m.kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        int k = snprintf(alt, sizeof(alt), "v1|h=%" PRIu64 "|byz-alt-%" PRIu64, m.height,
                         kumo_test_rng_next(&s->rng));
        assert_true(k > 0 && (size_t)k < sizeof(alt));
        m.value = kumo_bytes_make(alt, (size_t)k);
        kumo_crypto_sha256(m.value, m.value_id);
        assert_true(s->proposed_count < SIM_PROPOSED_MAX);
        memcpy(s->proposed[s->proposed_count++], m.value_id, KUMO_CRYPTO_HASH_BYTES);
    } else if (m.has_value) {
        m.has_value = false;
        memset(m.value_id, 0, sizeof(m.value_id));
    } else {
        if (s->proposed_count == 0) {
            return false;
        }
        m.has_value = true;
        uint64_t pick = kumo_test_rng_below(&s->rng, s->proposed_count);
        memcpy(m.value_id, s->proposed[pick], KUMO_CRYPTO_HASH_BYTES);
    }
    assert_int_equal(kumo_consensus_msg_sign(&m, SIM_CHAIN_ID, &node->kp), 0);
    assert_int_equal(
        kumo_consensus_msg_encode(&m, out, KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + 96, len), 0);
    return true;
}

/* The proposer of (height, round) in the simulated network. */
static uint32_t sim_proposer(const sim_t *s, uint64_t height, uint32_t round)
{
    return kumo_consensus_valset_proposer(sim_set(s, height), round);
}

static void sim_byz_send_all(sim_t *s, sim_node_t *node, kumo_consensus_msg_t *m)
{
    uint8_t buf[KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + 96];
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_sign(m, SIM_CHAIN_ID, &node->kp), 0);
    assert_int_equal(kumo_consensus_msg_encode(m, buf, sizeof(buf), &len), 0);
    for (uint32_t to = 0; to < s->n; to++) {
        if (to != node->index) {
            sim_deliver_one(s, node->index, to, kumo_bytes_make(buf, len));
        }
    }
    s->flooded++;
}

static void sim_byz_far_proposal(sim_t *s, sim_node_t *node, uint64_t height, uint32_t round)
{
    char value[64];
    int k = snprintf(value, sizeof(value), "far|h=%" PRIu64 "|r=%u", height, round);
    assert_true(k > 0 && (size_t)k < sizeof(value));
    kumo_consensus_msg_t p = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = height,
                              .round = round,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = true,
                              .value = kumo_bytes_make(value, (size_t)k)};
    kumo_crypto_sha256(p.value, p.value_id);
    sim_byz_send_all(s, node, &p);
}

/* The byzantine node also floods validly signed messages no honest node must hold or
 * execute: proposals ("far|" values) for rounds far beyond the current one where it is the
 * proposer, votes for far rounds and far heights, and next-height proposals for rounds past
 * the window. Honest nodes only count them toward the round skip, which the byzantine power
 * (below a third) never reaches; io_validate fails the run if a "far|" value is executed. */
static void sim_byz_flood(sim_t *s, sim_node_t *node, kumo_bytes_t msg)
{
    kumo_consensus_msg_t m;
    if (kumo_test_rng_below(&s->rng, 100) >= 30 || kumo_consensus_msg_decode(msg, &m, NULL) < 0) {
        return;
    }
    uint32_t far =
        m.round + KUMO_CONSENSUS_ROUND_WINDOW + 20u + (uint32_t)kumo_test_rng_below(&s->rng, 200);
    /* This height and the next (there a round past the window: not buffered either). */
    for (uint64_t h = m.height; h <= m.height + 1u; h++) {
        for (uint32_t r = far; r < far + 64u && r < KUMO_CONSENSUS_ROUND_COUNT_MAX; r++) {
            if ((int32_t)sim_proposer(s, h, r) == sim_vindex(s, h, node->index)) {
                sim_byz_far_proposal(s, node, h, r);
                break;
            }
        }
    }
    kumo_consensus_msg_t v = {.kind = kumo_test_rng_below(&s->rng, 2) == 0
                                          ? KUMO_CONSENSUS_MSG_PREVOTE
                                          : KUMO_CONSENSUS_MSG_PRECOMMIT,
                              .height = m.height,
                              .round = far < KUMO_CONSENSUS_ROUND_COUNT_MAX ? far : 1000u,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = true};
    memset(v.value_id, 0xfa, sizeof(v.value_id));
    sim_byz_send_all(s, node, &v);
    v.height = m.height + 2u + kumo_test_rng_below(&s->rng, 1000); /* far height */
    sim_byz_send_all(s, node, &v);
}

static int io_broadcast(void *ctx, kumo_bytes_t msg)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    uint8_t twin[KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + 96];
    size_t twin_len = 0;
    bool equivocate = (int32_t)node->index == s->byz && (msg.len < 512 || s->parts) &&
                      kumo_test_rng_below(&s->rng, 100) < 60 &&
                      sim_byz_twin(s, node, msg, twin, &twin_len);
    sim_frames_t frames;
    sim_frames_make(s, node, msg, &frames);
    for (uint32_t to = 0; to < s->n; to++) {
        if (to == node->index) {
            continue;
        }
        if (equivocate && to % 2 == 1) { /* the second half gets the twin */
            sim_deliver_one(s, node->index, to, kumo_bytes_make(twin, twin_len));
        } else {
            sim_frames_send(s, node->index, to, &frames);
        }
    }
    sim_parts_liar_tap(s, node->index, &frames);
    if ((int32_t)node->index == s->byz) {
        sim_byz_flood(s, node, msg);
    }
    return 0;
}

static int io_send(void *ctx, uint32_t validator_index, kumo_bytes_t msg)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    sim_frames_t frames;
    sim_frames_make(s, node, msg, &frames);
    /* The index names a validator of the sender's current height. */
    int32_t to = sim_node_of(s, kumo_consensus_height(node->engine), validator_index);
    if (to >= 0) {
        sim_frames_send(s, node->index, (uint32_t)to, &frames);
    }
    return 0;
}

static uint64_t io_now_ms(void *ctx)
{
    sim_node_t *node = ctx;
    return node->sim->now_ms;
}

static int io_timer_set(void *ctx, uint32_t timer_id, uint64_t deadline_ms)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    assert_true(timer_id < KUMO_CONSENSUS_TIMER_COUNT);
    assert_true(deadline_ms >= s->now_ms);
    sim_event_t ev = {0};
    ev.time_ms = deadline_ms;
    ev.node = node->index;
    ev.kind = 0;
    ev.timer_id = timer_id;
    ev.timer_gen = ++node->timer_gen[timer_id];
    heap_push(s, ev);
    return 0;
}

/* Parses the sign bytes layout of msg.c (domain, kind, chain id, height, round). */
static void sim_signed_record(sim_t *s, sim_node_t *node, kumo_bytes_t sb)
{
    const size_t domain = strlen("kumo/consensus/v1");
    const size_t chain = strlen(SIM_CHAIN_ID);
    assert_true(sb.len >= domain + 1 + 4 + chain + 12);
    sim_signed_t rec = {0};
    rec.kind = sb.ptr[domain];
    rec.height = kumo_be64_get(sb.ptr + domain + 1 + 4 + chain);
    rec.round = kumo_be32_get(sb.ptr + domain + 1 + 4 + chain + 8);
    kumo_crypto_sha256(sb, rec.hash);
    for (uint32_t i = 0; i < node->signed_count; i++) {
        const sim_signed_t *o = &node->signed_log[i];
        if (o->height == rec.height && o->round == rec.round && o->kind == rec.kind) {
            SIM_CHECK(s, memcmp(o->hash, rec.hash, sizeof(rec.hash)) == 0,
                      "honest node %u double-signs h=%" PRIu64 " r=%u kind=%u", node->index,
                      rec.height, rec.round, rec.kind);
            return;
        }
    }
    if (node->signed_count == SIM_SIGNED_MAX) {
        node->signed_count = 0; /* old heights: a window is enough to catch a double sign */
    }
    node->signed_log[node->signed_count++] = rec;
}

/* Honest nodes sign through the signer state, exactly as the node does; only signatures
 * that leave the node are checked for double signing. */
static int io_sign(void *ctx, kumo_bytes_t msg, uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES])
{
    sim_node_t *node = ctx;
    if ((int32_t)node->index == node->sim->byz) {
        kumo_crypto_sign(&node->kp, msg, sig_out);
        return 0;
    }
    bool same = false;
    int rc = kumo_consensus_signer_check(&node->signer, msg, &same, NULL);
    if (rc == KUMO_EDOUBLESIGN) {
        node->sim->refused_signs++;
        return rc;
    }
    SIM_CHECK(node->sim, rc == 0, "sign bytes the signer cannot parse");
    if (same) {
        memcpy(sig_out, node->signer.sig, KUMO_CRYPTO_SIG_BYTES);
    } else {
        kumo_crypto_sign(&node->kp, msg, sig_out);
        kumo_consensus_signer_update(&node->signer, msg, sig_out);
    }
    sim_signed_record(node->sim, node, msg);
    return 0;
}

static bool sim_value_valid(uint64_t height, kumo_bytes_t value)
{
    char prefix[40];
    int k = snprintf(prefix, sizeof(prefix), "v1|h=%" PRIu64 "|", height);
    return k > 0 && value.len >= (size_t)k && memcmp(value.ptr, prefix, (size_t)k) == 0;
}

static int io_get_value(void *ctx, uint64_t height, kumo_buf_t *out)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    char v[SIM_VALUE_MAX];
    int k;
    if ((int32_t)node->index == s->byz && kumo_test_rng_below(&s->rng, 100) < 30) {
        k = snprintf(v, sizeof(v), "bad|h=%" PRIu64, height); /* invalid: honest nodes refuse */
    } else {
        k = snprintf(v, sizeof(v), "v1|h=%" PRIu64 "|n=%u|x=%" PRIu64, height, node->index,
                     kumo_test_rng_next(&s->rng));
        sim_value_pad(s, v, sizeof(v), &k);
    }
    assert_true(k > 0 && (size_t)k < sizeof(v));
    assert_true(s->proposed_count < SIM_PROPOSED_MAX);
    kumo_crypto_sha256(kumo_bytes_make(v, (size_t)k), s->proposed[s->proposed_count++]);
    return kumo_buf_append(out, v, (size_t)k);
}

/* As the node: a fresh value must come from the round's proposer (the sim's values name
 * the node that built them); a re-proposed one (PROPOSER_ANY) from any validator. Values the
 * byzantine node floods for far rounds must never be executed. */
static bool io_validate(void *ctx, uint64_t height, uint32_t proposer_index, kumo_bytes_t value)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    SIM_CHECK(s, value.len < 4 || memcmp(value.ptr, "far|", 4) != 0,
              "node %u executed a value flooded for a far round", node->index);
    s->validated++;
    unsigned creator = 0;
    char tail[40];
    int k = snprintf(tail, sizeof(tail), "v1|h=%" PRIu64 "|n=", height);
    assert_true(k > 0 && (size_t)k < sizeof(tail));
    if (proposer_index != KUMO_CONSENSUS_PROPOSER_ANY && value.len > (size_t)k &&
        memcmp(value.ptr, tail, (size_t)k) == 0) {
        /* The whole decimal node number (100 nodes: up to 2 digits). */
        bool digits = false;
        for (size_t i = (size_t)k;
             i < value.len && value.ptr[i] >= '0' && value.ptr[i] <= '9' && creator < SIM_NODE_MAX;
             i++) {
            creator = creator * 10u + (unsigned)(value.ptr[i] - '0');
            digits = true;
        }
        if (digits && creator < s->n && sim_vindex(s, height, creator) != (int32_t)proposer_index) {
            return false;
        }
    }
    return sim_value_valid(height, value);
}

/* The commit must hold +2/3 of the power in distinct, valid precommit signatures. */
static void sim_commit_check(sim_t *s, const kumo_consensus_decision_t *d)
{
    const kumo_consensus_valset_t *vs = sim_set(s, d->height);
    uint64_t power = 0;
    bool seen[SIM_NODE_MAX] = {false};
    for (uint32_t i = 0; i < d->sig_count; i++) {
        uint32_t vi = d->sigs[i].validator_index;
        SIM_CHECK(s, vi < vs->count && !seen[vi], "commit sig %u bad index %u", i, vi);
        seen[vi] = true;
        kumo_consensus_msg_t v = {0};
        v.kind = KUMO_CONSENSUS_MSG_PRECOMMIT;
        v.height = d->height;
        v.round = d->round;
        v.has_value = true;
        memcpy(v.value_id, d->value_id, KUMO_CRYPTO_HASH_BYTES);
        memcpy(v.pubkey, vs->v[vi].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        memcpy(v.sig, d->sigs[i].sig, KUMO_CRYPTO_SIG_BYTES);
        SIM_CHECK(s, kumo_consensus_msg_verify(&v, vs, SIM_CHAIN_ID, NULL) == 0,
                  "commit sig of validator %u does not verify", vi);
        power += vs->v[vi].power;
    }
    SIM_CHECK(s, kumo_consensus_power_is_quorum(power, vs->power_total),
              "commit power %" PRIu64 " of %" PRIu64, power, vs->power_total);
}

/* Keeps the first decision of a height (value and commit) for block sync to serve. */
static void sim_block_record(sim_t *s, const kumo_consensus_decision_t *d)
{
    sim_block_t *b = &s->blocks[d->height];
    SIM_CHECK(s, d->value.len <= SIM_VALUE_MAX && d->sig_count <= SIM_NODE_MAX, "decision size");
    memcpy(b->value, d->value.ptr, d->value.len);
    b->value_len = d->value.len;
    b->round = d->round;
    b->sig_count = d->sig_count;
    memcpy(b->sigs, d->sigs, d->sig_count * sizeof(d->sigs[0]));
}

static int io_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    if (d->height == node->decided_height && node->crashes > 0) {
        /* A restarted node re-deciding its last height from its log: it must be the same. */
        uint8_t again[KUMO_CRYPTO_HASH_BYTES];
        kumo_crypto_sha256(d->value, again);
        SIM_CHECK(s,
                  (int32_t)node->index == s->byz || !s->decided_set[d->height] ||
                      memcmp(s->decided_id[d->height], again, sizeof(again)) == 0,
                  "node %u re-decided another value at h=%" PRIu64, node->index, d->height);
        return 0;
    }
    SIM_CHECK(s, d->height == node->decided_height + 1,
              "node %u decides h=%" PRIu64 " after %" PRIu64, node->index, d->height,
              node->decided_height);
    node->decided_height = d->height;
    kumo_buf_t t = node->wal_prev; /* the current height's log becomes the previous one */
    node->wal_prev = node->wal;
    node->wal = t;
    kumo_buf_reset(&node->wal);
    if ((int32_t)node->index == s->byz) {
        return 0;
    }
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(d->value, id);
    SIM_CHECK(s, memcmp(id, d->value_id, sizeof(id)) == 0, "decision id is not SHA-256(value)");
    SIM_CHECK(s, sim_value_valid(d->height, d->value),
              "node %u decided an invalid value at %" PRIu64, node->index, d->height);
    bool proposed = false;
    for (uint32_t i = 0; i < s->proposed_count && !proposed; i++) {
        proposed = memcmp(s->proposed[i], id, sizeof(id)) == 0;
    }
    SIM_CHECK(s, proposed, "node %u decided a value nobody proposed", node->index);
    SIM_CHECK(s, d->height < SIM_HEIGHT_MAX, "height bound");
    sim_commit_check(s, d);
    sim_total_observer_heights += sim_vindex(s, d->height, node->index) < 0 ? 1u : 0u;
    if (s->decided_set[d->height]) {
        SIM_CHECK(s, memcmp(s->decided_id[d->height], id, sizeof(id)) == 0,
                  "AGREEMENT: node %u decided a different value at h=%" PRIu64, node->index,
                  d->height);
    } else {
        s->decided_set[d->height] = true;
        memcpy(s->decided_id[d->height], id, sizeof(id));
        sim_block_record(s, d);
    }
    if (d->height > s->max_height) {
        s->max_height = d->height;
    }
    return 0;
}

static void io_evidence(void *ctx, const kumo_consensus_evidence_t *ev)
{
    sim_node_t *node = ctx;
    sim_t *s = node->sim;
    const kumo_consensus_valset_t *vs = sim_set(s, ev->vote_a.height);
    SIM_CHECK(s,
              s->byz >= 0 && (int32_t)ev->validator_index ==
                                 sim_vindex(s, ev->vote_a.height, (uint32_t)s->byz),
              "evidence names honest validator %u", ev->validator_index);
    SIM_CHECK(s,
              kumo_consensus_msg_verify(&ev->vote_a, vs, SIM_CHAIN_ID, NULL) == 0 &&
                  kumo_consensus_msg_verify(&ev->vote_b, vs, SIM_CHAIN_ID, NULL) == 0,
              "evidence votes do not verify");
    s->evidence_count++;
}

/* Block sync faults: a lying peer in half the runs, a wiped store in a third, and a short
 * decision history (the node's default is 4) in most, so lagging nodes need block sync. */
static void sim_draw_sync(sim_t *s)
{
    static const uint32_t histories[] = {1, 4, 4, KUMO_CONSENSUS_HISTORY_COUNT_MAX};
    s->liar = kumo_test_rng_below(&s->rng, 100) < 50;
    s->liar_claim_far = kumo_test_rng_below(&s->rng, 2) == 0;
    s->wipe = kumo_test_rng_below(&s->rng, 100) < 33;
    s->cfg.history_count = histories[kumo_test_rng_below(&s->rng, KUMO_ARRAY_COUNT(histories))];
}

static void sim_draw(sim_t *s)
{
    static const uint32_t sizes[] = {4, 4, 4, 5, 7};
    s->n =
        s->large ? SIM_LARGE_NODES : sizes[kumo_test_rng_below(&s->rng, KUMO_ARRAY_COUNT(sizes))];
    bool equal = kumo_test_rng_below(&s->rng, 2) == 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        s->powers[i] = equal ? 10 : 1 + kumo_test_rng_below(&s->rng, 10);
        total += s->powers[i];
    }
    s->byz = -1;
    if (kumo_test_rng_below(&s->rng, 100) < 60) {
        uint32_t pick = (uint32_t)kumo_test_rng_below(&s->rng, s->n);
        if (s->powers[pick] * 3 < total) { /* safety needs byzantine power < 1/3 */
            s->byz = (int32_t)pick;
        }
    }
    s->loss_pct = (uint32_t)kumo_test_rng_below(&s->rng, 25);
    s->dup_pct = (uint32_t)kumo_test_rng_below(&s->rng, 15);
    s->delay_max_ms = 20 + (uint32_t)kumo_test_rng_below(&s->rng, 1500);
    s->heal_ms = 2000 + kumo_test_rng_below(&s->rng, 8000);
    s->crash_count = (uint32_t)kumo_test_rng_below(&s->rng, 3); /* 0..2 crash-restarts */
    s->partitioned = false;
    if (kumo_test_rng_below(&s->rng, 100) < 50) {
        /* A random split with nobody alone on both sides: node 0 on A, node 1 on B. */
        s->partitioned = true;
        for (uint32_t i = 0; i < s->n; i++) {
            s->part_a[i] = i == 0 || (i > 1 && kumo_test_rng_below(&s->rng, 2) == 0);
        }
        s->part_start_ms = kumo_test_rng_below(&s->rng, s->heal_ms);
    }
    sim_draw_sync(s);
}

/* io.valset_get: the simulated chain's set of height with its round-0 priorities. */
static int io_valset_get(void *ctx, uint64_t height, kumo_consensus_valset_t *out)
{
    sim_node_t *node = ctx;
    *out = *sim_set(node->sim, height);
    return 0;
}

/* Opens (or reopens after a crash) node's engine at the height after its decided chain,
 * with that height's proposer priorities, and replays its WAL into it. */
static void sim_node_open(sim_t *s, sim_node_t *node, bool restart)
{
    kumo_consensus_io_t io = {
        .ctx = node,
        .now_ms = io_now_ms,
        .timer_set = io_timer_set,
        .broadcast = io_broadcast,
        .send = io_send,
        .sign = io_sign,
        .get_value_to_propose = io_get_value,
        .validate_value = io_validate,
        .deliver_decided = io_deliver,
        .evidence = io_evidence,
        .wal_append = io_wal_append,
        .valset_get = s->valset_changes ? io_valset_get : NULL,
    };
    /* A restart reopens the last decided height too, so the node can re-decide it from its
     * log and answer peers still finishing it (as the real node serves it from its store);
     * not a height it took from block sync: no log holds its messages, and a node reopened
     * there without them could wait for that height alone (its proposal for it refused by
     * its signer state) while the others wait for its power at the next one. */
    bool redecide =
        restart && node->crashes > 0 && node->decided_height > 0 && node->wal_prev.len > 0;
    uint64_t height = redecide ? node->decided_height : node->decided_height + 1u;
    kumo_err_ctx_t err = {0};
    int rc = kumo_consensus_open(&s->cfg, sim_set(s, height), node->kp.pubkey, height, &io,
                                 &node->engine, &err);
    if (rc != 0) {
        fail_msg("open: %s", err.detail);
    }
}

static void sim_replay(sim_t *s, sim_node_t *node, const kumo_buf_t *log)
{
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_buf_bytes(log));
    kumo_bytes_t msg;
    while (kumo_reader_remaining(&r) > 0 &&
           kumo_reader_read_prefixed(&r, SIM_WAL_BYTES_MAX, &msg) == 0) {
        int rc = kumo_consensus_replay(node->engine, msg, NULL);
        SIM_CHECK(s, rc == 0 || rc == KUMO_EUNAUTH, "node %u replay: %s", node->index,
                  kumo_err_name(rc));
    }
}

static void sim_node_start(sim_t *s, sim_node_t *node)
{
    SIM_CHECK(s, kumo_consensus_start(node->engine, NULL) == 0, "start node %u", node->index);
    node->replaying = true;
    sim_replay(s, node, &node->wal_prev);
    sim_replay(s, node, &node->wal);
    node->replaying = false;
}

/* A wiped store loses the WAL of the current height too, so the node cannot repeat the
 * votes it already signed there (its signer state refuses anything else): it is mute for
 * that height's rounds. Liveness then needs more than 2/3 of the power without it, so only
 * a validator with less than a third of the power, in a run without a byzantine one, is
 * wiped (as with a real node, whose operator wipes data/ but keeps signer_state). */
static bool sim_wipe_is_live(const sim_t *s, uint32_t who)
{
    /* The rest must be a quorum: exactly a third (9 of 27) leaves only 2/3, not more. */
    return s->byz < 0 &&
           kumo_consensus_power_is_quorum(s->vs.power_total - s->powers[who], s->vs.power_total);
}

static void sim_crashes_schedule(sim_t *s)
{
    for (uint32_t k = 0; k < s->crash_count; k++) {
        uint32_t who = (uint32_t)kumo_test_rng_below(&s->rng, s->n);
        if ((int32_t)who == s->byz) {
            continue;
        }
        sim_event_t ev = {.kind = SIM_EV_CRASH, .node = who};
        ev.time_ms = 1 + kumo_test_rng_below(&s->rng, s->heal_ms);
        heap_push(s, ev);
        ev.kind = SIM_EV_RESTART;
        ev.time_ms += 100 + kumo_test_rng_below(&s->rng, 3000);
        ev.timer_id = s->wipe && k == 0 && sim_wipe_is_live(s, who) ? 1u : 0u; /* 1: wiped */
        heap_push(s, ev);
    }
}

/* ---- block sync and the lying peer ----
 *
 * Every honest node runs the block sync policy of src/consensus/sync.h exactly as the node
 * does: a status to every peer and a policy tick each SIM_SYNC_TICK_MS, requests answered
 * from its decided chain, delivered blocks checked (+2/3 valid precommits of the value at
 * that height, the value valid) before the policy may stop its engine, the engine reopened
 * when the policy says so, faulted peers dropped. Checked: consensus stops only for a
 * verified block; a synced block is the block decided at that height (agreement). */

#define SIM_COMMIT_BYTES_MAX (8u + SIM_NODE_MAX * (4u + KUMO_CRYPTO_SIG_BYTES))
#define SIM_SYNC_MSG_MAX \
    (KUMO_CONSENSUS_SYNC_HEADER_BYTES + 8u + SIM_VALUE_MAX + SIM_COMMIT_BYTES_MAX)

static bool sim_is_syncer(const sim_t *s, uint32_t i)
{
    return i < s->n && (int32_t)i != s->byz;
}

/* The id a node knows a peer by: a validator by its index, the liar by its identity. */
static void sim_peer_id(uint32_t from, uint32_t gen, uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES])
{
    memset(id, 0, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    id[0] = from == SIM_LIAR ? 0xeeu : 0x01u;
    kumo_be32_put(id + 1, from == SIM_LIAR ? gen : from);
}

static void sim_sync_send(
    sim_t *s, uint32_t from, uint32_t to, uint32_t gen, const kumo_consensus_sync_msg_t *m)
{
    uint8_t buf[SIM_SYNC_MSG_MAX];
    size_t len = 0;
    assert_int_equal(kumo_consensus_sync_msg_encode(m, buf, sizeof(buf), &len), 0);
    sim_deliver_kind(s, from, to, SIM_EV_SYNC_MSG, gen, kumo_bytes_make(buf, len));
}

/* Commit wire of the simulation: u32 round || u32 count || count x (u32 index || sig). */
static size_t sim_commit_encode(uint32_t round,
                                const kumo_consensus_commit_sig_t *sigs,
                                uint32_t count,
                                uint8_t out[SIM_COMMIT_BYTES_MAX])
{
    kumo_writer_t w;
    kumo_writer_init(&w, out, SIM_COMMIT_BYTES_MAX);
    assert_int_equal(kumo_writer_write_u32(&w, round), 0);
    assert_int_equal(kumo_writer_write_u32(&w, count), 0);
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(kumo_writer_write_u32(&w, sigs[i].validator_index), 0);
        assert_int_equal(
            kumo_writer_write_bytes(&w, kumo_bytes_make(sigs[i].sig, KUMO_CRYPTO_SIG_BYTES)), 0);
    }
    return kumo_writer_bytes(&w).len;
}

/* What the node checks before block sync may act on a block: the commit holds +2/3 of the
 * power in distinct valid precommits of this value at this height, and the value is valid. */
static bool sim_commit_verify(const sim_t *s, uint64_t height, kumo_bytes_t value, kumo_bytes_t c)
{
    kumo_reader_t r;
    kumo_reader_init(&r, c);
    uint32_t round = 0;
    uint32_t count = 0;
    if (height >= SIM_HEIGHT_MAX || !sim_value_valid(height, value) ||
        kumo_reader_read_u32(&r, &round) < 0 || kumo_reader_read_u32(&r, &count) < 0 ||
        count > s->n) {
        return false;
    }
    const kumo_consensus_valset_t *vs = sim_set(s, height); /* the set of its own height */
    bool seen[SIM_NODE_MAX] = {false};
    uint64_t power = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t vi = 0;
        kumo_bytes_t sig;
        if (kumo_reader_read_u32(&r, &vi) < 0 ||
            kumo_reader_read_fixed(&r, KUMO_CRYPTO_SIG_BYTES, &sig) < 0 || vi >= vs->count ||
            seen[vi]) {
            return false;
        }
        seen[vi] = true;
        kumo_consensus_msg_t v = {.kind = KUMO_CONSENSUS_MSG_PRECOMMIT,
                                  .height = height,
                                  .round = round,
                                  .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                                  .has_value = true};
        kumo_crypto_sha256(value, v.value_id);
        memcpy(v.pubkey, vs->v[vi].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        memcpy(v.sig, sig.ptr, KUMO_CRYPTO_SIG_BYTES);
        if (kumo_consensus_msg_verify(&v, vs, SIM_CHAIN_ID, NULL) < 0) {
            return false;
        }
        power += vs->v[vi].power;
    }
    return kumo_reader_finish(&r) == 0 && kumo_consensus_power_is_quorum(power, vs->power_total);
}

static void sim_engine_stop(sim_node_t *node)
{
    kumo_consensus_close(node->engine);
    node->engine = NULL;
    for (uint32_t t = 0; t < KUMO_CONSENSUS_TIMER_COUNT; t++) {
        node->timer_gen[t]++; /* its armed timers die with it */
    }
}

static void sim_sync_act(sim_t *s, sim_node_t *node, const kumo_consensus_sync_action_t *act)
{
    SIM_CHECK(s, !act->engine_stop || act->apply,
              "node %u stops consensus without a verified block", node->index);
    if (act->fault != KUMO_CONSENSUS_SYNC_FAULT_NONE) {
        if (act->fault_peer[0] == 0xeeu) { /* the liar: dropped, it comes back with a new key */
            SIM_CHECK(s, kumo_be32_get(act->fault_peer + 1) == node->liar_gen, "liar identity");
            s->liar_faults++;
            node->liar_gen++;
        }
        kumo_consensus_sync_peer_remove(&node->sync, act->fault_peer);
    }
    if (act->engine_stop) {
        sim_engine_stop(node);
    }
    if (act->request) {
        bool liar = act->request_peer[0] == 0xeeu;
        uint32_t who = kumo_be32_get(act->request_peer + 1);
        kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_REQUEST,
                                       .height = act->request_height};
        SIM_CHECK(s, act->request_height == node->decided_height + 1u, "request height");
        sim_sync_send(s, node->index, liar ? SIM_LIAR : who, liar ? who : 0u, &m);
    }
    if (act->engine_start) {
        SIM_CHECK(s, node->engine == NULL, "node %u resumes a running engine", node->index);
        sim_node_open(s, node, false);
        sim_node_start(s, node);
    }
}

static void sim_sync_serve(sim_t *s, const sim_node_t *node, uint32_t to, uint64_t height)
{
    kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_NO_BLOCK, .height = height};
    uint8_t commit[SIM_COMMIT_BYTES_MAX];
    if (height <= node->decided_height) {
        SIM_CHECK(s, height < SIM_HEIGHT_MAX && s->decided_set[height], "served height");
        const sim_block_t *b = &s->blocks[height];
        m.kind = KUMO_CONSENSUS_SYNC_BLOCK;
        m.block = kumo_bytes_make(b->value, b->value_len);
        m.commit =
            kumo_bytes_make(commit, sim_commit_encode(b->round, b->sigs, b->sig_count, commit));
    }
    sim_sync_send(s, node->index, to, 0, &m);
}

/* A synced block replaces what consensus would have decided: it must be that block. */
static void sim_sync_apply(sim_t *s, sim_node_t *node, uint64_t height, kumo_bytes_t value)
{
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(value, id);
    SIM_CHECK(s, node->engine == NULL && height == node->decided_height + 1u,
              "node %u applies h=%" PRIu64 " at %" PRIu64, node->index, height,
              node->decided_height);
    SIM_CHECK(s,
              height < SIM_HEIGHT_MAX && s->decided_set[height] &&
                  memcmp(s->decided_id[height], id, sizeof(id)) == 0,
              "AGREEMENT: node %u block-synced another block at h=%" PRIu64, node->index, height);
    node->decided_height = height;
    kumo_buf_reset(&node->wal); /* the node resets its WAL for a height it did not decide */
    kumo_buf_reset(&node->wal_prev);
    s->synced_blocks++;
}

static void sim_sync_on_block(sim_t *s,
                              sim_node_t *node,
                              const uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES],
                              const kumo_consensus_sync_msg_t *m)
{
    if (!kumo_consensus_sync_answer_is_expected(&node->sync, id, m->height)) {
        return;
    }
    uint64_t head = node->decided_height;
    bool verified = m->height == head + 1u && sim_commit_verify(s, m->height, m->block, m->commit);
    kumo_consensus_sync_action_t act;
    kumo_consensus_sync_on_block(&node->sync, head, s->now_ms, id, m->height, verified, &act);
    sim_sync_act(s, node, &act);
    if (act.apply) {
        sim_sync_apply(s, node, m->height, m->block);
        kumo_consensus_sync_on_applied(&node->sync, node->decided_height, s->now_ms, id, true,
                                       &act);
        sim_sync_act(s, node, &act);
    }
}

static void sim_sync_on_msg(sim_t *s, sim_node_t *node, const sim_event_t *ev)
{
    if (!sim_is_syncer(s, node->index) || node->down ||
        (ev->from == SIM_LIAR && ev->from_gen != node->liar_gen)) {
        return; /* nobody to hear it, or from a liar identity already dropped */
    }
    uint8_t id[KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
    sim_peer_id(ev->from, ev->from_gen, id);
    kumo_consensus_sync_msg_t m;
    if (kumo_consensus_sync_msg_decode(kumo_bytes_make(ev->msg, ev->msg_len), &m, NULL) < 0) {
        SIM_CHECK(s, ev->from == SIM_LIAR, "node %u sent a malformed sync message", ev->from);
        s->liar_faults++;
        node->liar_gen++;
        kumo_consensus_sync_peer_remove(&node->sync, id);
        return;
    }
    kumo_consensus_sync_action_t act;
    switch (m.kind) {
    case KUMO_CONSENSUS_SYNC_STATUS:
        kumo_consensus_sync_on_status(&node->sync, node->decided_height, s->now_ms, id, m.height,
                                      &act);
        sim_sync_act(s, node, &act);
        break;
    case KUMO_CONSENSUS_SYNC_REQUEST:
        sim_sync_serve(s, node, ev->from, m.height);
        break;
    case KUMO_CONSENSUS_SYNC_BLOCK:
        sim_sync_on_block(s, node, id, &m);
        break;
    case KUMO_CONSENSUS_SYNC_NO_BLOCK:
        if (kumo_consensus_sync_answer_is_expected(&node->sync, id, m.height)) {
            kumo_consensus_sync_on_no_block(&node->sync, node->decided_height, s->now_ms, id,
                                            m.height, &act);
            sim_sync_act(s, node, &act);
        }
        break;
    default:
        fail_msg("sync kind %d", (int)m.kind);
    }
}

static void sim_sync_tick(sim_t *s, sim_node_t *node)
{
    if (!node->down) {
        kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_STATUS,
                                       .height = node->decided_height};
        for (uint32_t to = 0; to < s->n; to++) {
            if (to != node->index && sim_is_syncer(s, to)) {
                sim_sync_send(s, node->index, to, 0, &m);
            }
        }
        kumo_consensus_sync_action_t act;
        kumo_consensus_sync_on_tick(&node->sync, node->decided_height, s->now_ms, &act);
        sim_sync_act(s, node, &act);
    }
    sim_event_t ev = {.kind = SIM_EV_SYNC_TICK, .node = node->index};
    ev.time_ms = s->now_ms + SIM_SYNC_TICK_MS;
    heap_push(s, ev);
}

/* The liar's claim to every honest node, under its current identity there. */
static void sim_liar_tick(sim_t *s)
{
    kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_STATUS,
                                   .height =
                                       s->liar_claim_far ? SIM_LIAR_CLAIM : s->max_height + 2u};
    for (uint32_t to = 0; to < s->n; to++) {
        if (sim_is_syncer(s, to)) {
            sim_sync_send(s, SIM_LIAR, to, s->nodes[to].liar_gen, &m);
        }
    }
    sim_event_t ev = {.kind = SIM_EV_LIAR_TICK, .node = SIM_LIAR};
    ev.time_ms = s->now_ms + SIM_LIAR_TICK_MS;
    heap_push(s, ev);
}

/* A "block" for height with a commit that cannot verify: real signatures of another height
 * (or none at all yet), so only the signature check tells. */
static void sim_liar_bad_block(sim_t *s, uint32_t to, uint32_t gen, uint64_t height)
{
    char value[SIM_VALUE_MAX];
    int k = snprintf(value, sizeof(value), "v1|h=%" PRIu64 "|liar", height);
    assert_true(k > 0 && (size_t)k < sizeof(value));
    kumo_consensus_commit_sig_t fake[SIM_NODE_MAX];
    const sim_block_t *real = s->max_height > 0 ? &s->blocks[s->max_height] : NULL;
    for (uint32_t i = 0; i < s->n; i++) {
        fake[i].validator_index = i;
        memset(fake[i].sig, 0x77, KUMO_CRYPTO_SIG_BYTES);
    }
    uint8_t commit[SIM_COMMIT_BYTES_MAX];
    size_t len = real != NULL ? sim_commit_encode(real->round, real->sigs, real->sig_count, commit)
                              : sim_commit_encode(0, fake, s->n, commit);
    kumo_consensus_sync_msg_t m = {.kind = KUMO_CONSENSUS_SYNC_BLOCK,
                                   .height = height,
                                   .block = kumo_bytes_make(value, (size_t)k),
                                   .commit = kumo_bytes_make(commit, len)};
    sim_sync_send(s, SIM_LIAR, to, gen, &m);
}

/* The liar answers a request: silence, "no block", garbage or a block that does not verify. */
static void sim_liar_on_msg(sim_t *s, const sim_event_t *ev)
{
    kumo_consensus_sync_msg_t m;
    uint32_t to = ev->from;
    if (kumo_consensus_sync_msg_decode(kumo_bytes_make(ev->msg, ev->msg_len), &m, NULL) < 0 ||
        m.kind != KUMO_CONSENSUS_SYNC_REQUEST || ev->from_gen != s->nodes[to].liar_gen) {
        return;
    }
    uint64_t pick = kumo_test_rng_below(&s->rng, 10);
    if (pick < 4) {
        return; /* withheld */
    }
    if (pick < 6) {
        kumo_consensus_sync_msg_t no = {.kind = KUMO_CONSENSUS_SYNC_NO_BLOCK, .height = m.height};
        sim_sync_send(s, SIM_LIAR, to, ev->from_gen, &no);
    } else if (pick < 7) {
        static const uint8_t garbage[] = {3, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
        sim_deliver_kind(s, SIM_LIAR, to, SIM_EV_SYNC_MSG, ev->from_gen,
                         kumo_bytes_make(garbage, sizeof(garbage)));
    } else {
        sim_liar_bad_block(s, to, ev->from_gen, m.height);
    }
}

static void sim_sync_event_run(sim_t *s, sim_event_t *ev)
{
    if (ev->kind == SIM_EV_SYNC_TICK) {
        sim_sync_tick(s, &s->nodes[ev->node]);
    } else if (ev->kind == SIM_EV_LIAR_TICK) {
        sim_liar_tick(s);
    } else {
        SIM_CHECK(s, ev->kind == SIM_EV_SYNC_MSG, "event kind %u", ev->kind);
        if (ev->node == SIM_LIAR) {
            sim_liar_on_msg(s, ev);
        } else {
            sim_sync_on_msg(s, &s->nodes[ev->node], ev);
        }
        free(ev->msg);
    }
}

static void sim_sync_schedule(sim_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (sim_is_syncer(s, i)) {
            sim_event_t ev = {.kind = SIM_EV_SYNC_TICK, .node = i};
            ev.time_ms = 1 + kumo_test_rng_below(&s->rng, SIM_SYNC_TICK_MS);
            heap_push(s, ev);
        }
    }
    if (s->liar) {
        sim_event_t ev = {.kind = SIM_EV_LIAR_TICK, .node = SIM_LIAR};
        ev.time_ms = 1 + kumo_test_rng_below(&s->rng, SIM_LIAR_TICK_MS);
        heap_push(s, ev);
    }
}

/* Whether a seed's run changes its validator set: a third of the runs, drawn from the seed
 * alone so the other runs are unchanged. */
static bool sim_valset_drawn(uint64_t seed)
{
    uint64_t x = seed ^ 0x76616c736574ull; /* "valset" */
    return kumo_test_rng_splitmix(&x) % 3u == 0u;
}

/* powers (0: not a member) as a set, if it is one the byzantine validator cannot corrupt
 * (less than a third of its power). */
static bool sim_members(const sim_t *s, const uint64_t *powers, kumo_consensus_valset_t *out)
{
    uint8_t keys[SIM_NODE_MAX][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t p[SIM_NODE_MAX];
    uint32_t n = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (powers[i] > 0) {
            memcpy(keys[n], s->nodes[i].kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
            p[n++] = powers[i];
            total += powers[i];
        }
    }
    if (n == 0 || (s->byz >= 0 && powers[s->byz] * 3u >= total)) {
        return false;
    }
    assert_int_equal(kumo_consensus_valset_init(out, (const uint8_t(*)[32])keys, p, n, NULL), 0);
    return true;
}

/* Set changes drawn per kind, over every run (printed). */
enum {
    SIM_CHANGE_JOIN = 0,
    SIM_CHANGE_LEAVE,
    SIM_CHANGE_SHIFT,
    SIM_CHANGE_JAIL,
    SIM_CHANGE_COUNT
};
static uint64_t sim_total_change_kinds[SIM_CHANGE_COUNT];
static uint64_t sim_total_unjails;

/* A jailed validator leaves the set and comes back with its power a few heights later. */
typedef struct sim_jail {
    uint64_t until_height[SIM_NODE_MAX]; /* 0: not jailed */
    uint64_t power[SIM_NODE_MAX];
} sim_jail_t;

/* A node outside the set (power 0, not jailed), or -1. */
static int32_t sim_outsider_draw(const sim_t *s,
                                 kumo_test_rng_t *rng,
                                 const uint64_t *powers,
                                 const sim_jail_t *jail)
{
    uint32_t out[SIM_NODE_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (powers[i] == 0 && jail->until_height[i] == 0) {
            out[count++] = i;
        }
    }
    return count == 0 ? -1 : (int32_t)out[kumo_test_rng_below(rng, count)];
}

/* One change of the app's set: a node joins, leaves, shifts its power or is jailed (refused
 * if the byzantine validator would get a third of the power, or the set would be empty). */
static void sim_valset_change(
    sim_t *s, kumo_test_rng_t *rng, uint64_t height, uint64_t *powers, sim_jail_t *jail)
{
    uint32_t who = (uint32_t)kumo_test_rng_below(rng, s->n);
    uint64_t kind = kumo_test_rng_below(rng, SIM_CHANGE_COUNT);
    if (kind == SIM_CHANGE_JOIN) {
        int32_t joiner = sim_outsider_draw(s, rng, powers, jail);
        who = joiner >= 0 ? (uint32_t)joiner : who;
    }
    uint64_t was = powers[who];
    if (kind == SIM_CHANGE_JOIN && was == 0 && jail->until_height[who] == 0) {
        powers[who] = 1u + kumo_test_rng_below(rng, 10);
    } else if ((kind == SIM_CHANGE_LEAVE || kind == SIM_CHANGE_JAIL) && was > 0) {
        powers[who] = 0;
    } else if (kind == SIM_CHANGE_SHIFT && was > 0) {
        powers[who] = 1u + kumo_test_rng_below(rng, 10);
    }
    kumo_consensus_valset_t probe;
    if (powers[who] != was && !sim_members(s, powers, &probe)) {
        powers[who] = was;
    }
    if (powers[who] == was) {
        return;
    }
    s->change_kind[height] = (uint8_t)(kind + 1u);
    if (kind == SIM_CHANGE_JAIL) {
        jail->until_height[who] = height + 2u + kumo_test_rng_below(rng, 3);
        jail->power[who] = was;
    }
}

/* Jailed validators whose term ended come back with their power (later if the byzantine
 * validator would then hold a third). */
static void sim_unjail(sim_t *s, uint64_t height, uint64_t *powers, sim_jail_t *jail)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (jail->until_height[i] == 0 || jail->until_height[i] > height) {
            continue;
        }
        powers[i] = jail->power[i];
        kumo_consensus_valset_t probe;
        if (!sim_members(s, powers, &probe)) {
            powers[i] = 0;
            continue;
        }
        jail->until_height[i] = 0;
        s->unjails[height]++;
    }
}

/* The set of every height: height 1 from the drawn powers (in a changing run, one honest
 * node may join only later), then one change every 1 or 2 heights, each height's round-0
 * priorities one kumo_consensus_valset_next from the last, as the chain keeps them. */
static void sim_sets_build(sim_t *s)
{
    s->sets = calloc(SIM_HEIGHT_MAX, sizeof(kumo_consensus_valset_t));
    assert_non_null(s->sets);
    uint64_t x = s->seed ^ 0x736574736574ull;
    kumo_test_rng_t rng;
    kumo_test_rng_seed(&rng, kumo_test_rng_splitmix(&x));
    uint64_t powers[SIM_NODE_MAX];
    memcpy(powers, s->powers, sizeof(powers));
    kumo_consensus_valset_t members;
    if (s->valset_changes && kumo_test_rng_below(&rng, 2) == 0) {
        uint32_t late = (uint32_t)kumo_test_rng_below(&rng, s->n);
        uint64_t was = powers[late];
        powers[late] = 0;
        if ((int32_t)late == s->byz || !sim_members(s, powers, &members)) {
            powers[late] = was;
        }
    }
    assert_true(sim_members(s, powers, &members));
    s->sets[1] = members;
    uint64_t next_change = 2u + kumo_test_rng_below(&rng, 2);
    sim_jail_t *jail = calloc(1, sizeof(*jail));
    assert_non_null(jail);
    for (uint64_t h = 2; h < SIM_HEIGHT_MAX; h++) {
        if (s->valset_changes) {
            sim_unjail(s, h, powers, jail);
        }
        if (s->valset_changes && h == next_change) {
            sim_valset_change(s, &rng, h, powers, jail);
            next_change = h + 1u + kumo_test_rng_below(&rng, 2);
        }
        assert_true(sim_members(s, powers, &members));
        kumo_consensus_valset_next(&s->sets[h - 1u], &members, &s->sets[h]);
    }
    free(jail);
}

/* A wiped store: the decided chain and the WAL are gone, the signer state (kept outside the
 * data directory) is not. The node catches up through consensus catch-up or block sync. */
static void sim_node_wipe(sim_node_t *node)
{
    node->decided_height = 0;
    kumo_buf_reset(&node->wal);
    kumo_buf_reset(&node->wal_prev);
    sim_total_wipes++;
}

static void sim_setup(sim_t *s, uint64_t seed, bool large)
{
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->large = large;
    kumo_test_rng_seed(&s->rng, seed);
    sim_draw(s);
    s->parts = sim_parts_drawn(seed);
    s->valset_changes = large || sim_valset_drawn(seed);
    if (s->valset_changes) {
        /* Parts runs check header senders against one set, and a wipe's liveness argument
         * needs the wiped node's power fixed: neither is drawn with a changing set. */
        s->parts = false;
        s->wipe = false;
    }
    s->proposed = calloc(SIM_PROPOSED_MAX, KUMO_CRYPTO_HASH_BYTES);
    assert_non_null(s->proposed);
    s->splits = calloc(SIM_SPLIT_MAX, sizeof(sim_split_t));
    assert_non_null(s->splits);
    uint8_t pubkeys[SIM_NODE_MAX][KUMO_CRYPTO_PUBKEY_BYTES];
    for (uint32_t i = 0; i < s->n; i++) {
        uint8_t kseed[KUMO_CRYPTO_SEED_BYTES] = {0};
        kseed[0] = (uint8_t)(i + 1);
        kumo_crypto_key_from_seed(kseed, &s->nodes[i].kp);
        memcpy(pubkeys[i], s->nodes[i].kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    }
    assert_int_equal(
        kumo_consensus_valset_init(&s->vs, (const uint8_t(*)[32])pubkeys, s->powers, s->n, NULL),
        0);
    sim_sets_build(s);
    uint32_t history_count = s->cfg.history_count; /* drawn */
    kumo_consensus_cfg_default(&s->cfg);
    s->cfg.chain_id = SIM_CHAIN_ID;
    s->cfg.history_count = history_count;
    s->blocks = calloc(SIM_HEIGHT_MAX, sizeof(sim_block_t));
    assert_non_null(s->blocks);
    for (uint32_t i = 0; i < s->n; i++) {
        sim_node_t *node = &s->nodes[i];
        node->sim = s;
        node->index = i;
        node->vindex = (uint32_t)kumo_consensus_valset_find(&s->vs, node->kp.pubkey);
        node->signed_log = calloc(SIM_SIGNED_MAX, sizeof(sim_signed_t));
        assert_non_null(node->signed_log);
        kumo_buf_init(&node->wal, SIM_WAL_BYTES_MAX);
        kumo_buf_init(&node->wal_prev, SIM_WAL_BYTES_MAX);
        sim_node_open(s, node, false);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        sim_node_start(s, &s->nodes[i]);
    }
    sim_crashes_schedule(s);
    sim_sync_schedule(s);
}

static void sim_teardown(sim_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        kumo_consensus_close(s->nodes[i].engine);
        free(s->nodes[i].signed_log);
        kumo_buf_free(&s->nodes[i].wal);
        kumo_buf_free(&s->nodes[i].wal_prev);
        node_parts_free(&s->nodes[i].parts);
    }
    for (size_t i = 0; i < s->heap_count; i++) {
        free(s->heap[i].msg);
    }
    free(s->heap);
    free(s->proposed);
    free(s->splits);
    free(s->blocks);
    free(s->sets);
}

/* A crash loses the engine (memory, pending timers, messages in flight to it); the restart
 * reopens it from what survives. */
static void sim_crash_or_restart(sim_t *s, sim_node_t *node, uint32_t kind, bool wipe)
{
    if (kind == SIM_EV_CRASH && !node->down) {
        kumo_consensus_close(node->engine);
        node->engine = NULL;
        node->down = true;
        node_parts_free(&node->parts); /* memory: lost with the process */
        node->crashes++;
        sim_total_crashes++;
        for (uint32_t t = 0; t < KUMO_CONSENSUS_TIMER_COUNT; t++) {
            node->timer_gen[t]++; /* its armed timers die with it */
        }
    } else if (kind == SIM_EV_RESTART && node->down) {
        node->down = false;
        if (wipe) {
            sim_node_wipe(node);
        }
        kumo_consensus_sync_init(&node->sync, node->decided_height);
        sim_node_open(s, node, true);
        sim_node_start(s, node);
    }
}

static void sim_event_run(sim_t *s, sim_event_t *ev)
{
    if (ev->kind >= SIM_EV_SYNC_TICK) {
        sim_sync_event_run(s, ev);
        return;
    }
    sim_node_t *node = &s->nodes[ev->node];
    kumo_err_ctx_t err = {0};
    int rc = 0;
    if (ev->kind == SIM_EV_CRASH || ev->kind == SIM_EV_RESTART) {
        sim_crash_or_restart(s, node, ev->kind, ev->timer_id == 1u);
    } else if (ev->kind == SIM_EV_TIMER) {
        if (!node->down && ev->timer_gen == node->timer_gen[ev->timer_id]) {
            rc = kumo_consensus_on_timer(node->engine, ev->timer_id, &err);
        }
    } else {
        kumo_bytes_t msg = kumo_bytes_make(ev->msg, ev->msg_len);
        bool framed = msg.len > 0 &&
                      (msg.ptr[0] == NODE_PARTS_TAG_HEADER || msg.ptr[0] == NODE_PARTS_TAG_PART);
        SIM_CHECK(s, framed || ev->from != SIM_LIAR, "the parts liar sent a whole message");
        if (!node->down && node->engine != NULL) { /* no engine: handed over to block sync */
            rc = framed ? sim_parts_on_frame(s, node, ev, &err)
                        : kumo_consensus_on_msg(node->engine, msg, &err);
        }
        free(ev->msg);
    }
    SIM_CHECK(s, rc == 0, "node %u event kind %u: %s %s", ev->node, ev->kind, kumo_err_name(rc),
              err.detail);
}

static void sim_dump(const sim_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const kumo_consensus_t *e = s->nodes[i].engine;
        if (e == NULL) {
            fprintf(stderr, "  node %u %s decided=%" PRIu64 "\n", i,
                    s->nodes[i].down ? "down" : "block-syncing", s->nodes[i].decided_height);
            continue;
        }
        fprintf(stderr,
                "  node %u%s power=%" PRIu64 " h=%" PRIu64 " r=%u step=%d decided=%" PRIu64
                " drops=%" PRIu64 " locked=%d valid=%d\n",
                i, (int32_t)i == s->byz ? " (byz)" : "", s->powers[i], kumo_consensus_height(e),
                kumo_consensus_round(e), (int)kumo_consensus_step(e), s->nodes[i].decided_height,
                kumo_consensus_drop_count(e), (int)kumo_consensus_locked_round(e, NULL),
                (int)kumo_consensus_valid_round(e));
    }
}

/* Heights every honest node decides after healing. */
static uint32_t sim_live_heights(const sim_t *s)
{
    if (s->large) {
        return SIM_LIVE_HEIGHTS_LARGE;
    }
    return s->valset_changes ? SIM_LIVE_HEIGHTS_VALSET : SIM_LIVE_HEIGHTS;
}

static bool sim_live(sim_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        const sim_node_t *node = &s->nodes[i];
        uint32_t live = sim_live_heights(s);
        if ((int32_t)i != s->byz && node->decided_height < node->decided_at_heal + live) {
            return false;
        }
    }
    return true;
}

static void sim_run_one(uint64_t seed, bool verbose, bool large)
{
    sim_t *s = calloc(1, sizeof(sim_t));
    assert_non_null(s);
    sim_setup(s, seed, large);
    if (verbose) {
        printf("sim_consensus: seed=0x%" PRIx64
               " n=%u byz=%d loss=%u%% dup=%u%% delay<=%ums heal=%" PRIu64
               "ms partition=%d crashes=%u wipe=%d liar=%d history=%u parts=%d valset=%d\n",
               seed, s->n, s->byz, s->loss_pct, s->dup_pct, s->delay_max_ms, s->heal_ms,
               (int)s->partitioned, s->crash_count, s->wipe, s->liar, s->cfg.history_count,
               s->parts, s->valset_changes);
    }
    bool healed = false;
    while (s->heap_count > 0) {
        sim_event_t ev = heap_pop(s);
        SIM_CHECK(s, ev.time_ms >= s->now_ms, "time went backwards");
        if (!healed && ev.time_ms >= s->heal_ms) {
            healed = true;
            for (uint32_t i = 0; i < s->n; i++) {
                s->nodes[i].decided_at_heal = s->nodes[i].decided_height;
            }
        }
        s->now_ms = ev.time_ms;
        s->events++;
        sim_event_run(s, &ev);
        if (healed && sim_live(s)) {
            break;
        }
        if (healed && s->now_ms >= s->heal_ms + SIM_LIVE_BOUND_MS) {
            sim_dump(s);
        }
        SIM_CHECK(s, !healed || s->now_ms < s->heal_ms + SIM_LIVE_BOUND_MS,
                  "LIVENESS: honest nodes did not each decide %u heights within %u ms of healing",
                  sim_live_heights(s), SIM_LIVE_BOUND_MS);
    }
    SIM_CHECK(s, healed && sim_live(s), "simulation ran out of events");
    sim_total_evidence += s->evidence_count;
    sim_total_heights += s->max_height;
    sim_total_byz_runs += s->byz >= 0 ? 1u : 0u;
    sim_total_refused += s->refused_signs;
    sim_total_validated += s->validated;
    sim_total_flooded += s->flooded;
    sim_total_synced += s->synced_blocks;
    sim_total_liar_runs += s->liar ? 1u : 0u;
    sim_total_liar_faults += s->liar_faults;
    sim_total_parts_runs += s->parts ? 1u : 0u;
    sim_total_parts_completed += s->parts_completed;
    sim_total_parts_blamed += s->parts_blamed;
    sim_total_parts_refused += s->parts_refused;
    sim_total_parts_injected += s->parts_injected;
    sim_total_valset_runs += s->valset_changes ? 1u : 0u;
    for (uint64_t h = 2; s->valset_changes && h <= s->max_height; h++) {
        sim_total_change_kinds[s->change_kind[h] == 0 ? 0 : s->change_kind[h] - 1u] +=
            s->change_kind[h] == 0 ? 0u : 1u;
        sim_total_unjails += s->unjails[h];
        sim_total_valset_changes +=
            kumo_consensus_valset_members_equal(&s->sets[h - 1u], &s->sets[h]) ? 0u : 1u;
    }
    sim_teardown(s);
    free(s);
}

static void test_sim_consensus(void **state)
{
    (void)state;
    const char *one = getenv("KUMO_SIM_SEED");
    if (one != NULL && one[0] != '\0') {
        uint64_t seed = kumo_test_rng_seed_from_env(0);
        sim_run_one(seed, true, getenv("KUMO_SIM_LARGE") != NULL);

        return;
    }
    const char *count_env = getenv("KUMO_SIM_SEEDS");
    uint64_t runs = count_env != NULL ? strtoull(count_env, NULL, 0) : SIM_RUNS_DEFAULT;
    uint64_t done = 0;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(sim_fixed_seeds) && done < runs; i++, done++) {
        sim_run_one(sim_fixed_seeds[i], false, false);
    }
    struct timespec t0;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t x = 0x6b756d6f73696dull; /* "kumosim": derived seeds are fixed too */
    for (; done < runs; done++) {
        sim_run_one(kumo_test_rng_splitmix(&x), false, false);
    }
    printf("sim_consensus: %" PRIu64 " runs, %" PRIu64 " heights decided, %" PRIu64
           " byzantine runs, %" PRIu64 " evidence reports, %" PRIu64 " crash-restarts, %" PRIu64
           " signatures refused after a restart\n",
           runs, sim_total_heights, sim_total_byz_runs, sim_total_evidence, sim_total_crashes,
           sim_total_refused);
    printf("sim_consensus: %" PRIu64 " far-round and far-height messages flooded by byzantine "
           "nodes, %" PRIu64 " values executed by honest nodes\n",
           sim_total_flooded, sim_total_validated);
    printf("sim_consensus: %" PRIu64 " wiped stores, %" PRIu64
           " blocks applied by block sync, %" PRIu64 " runs with a lying peer, %" PRIu64
           " liar identities dropped\n",
           sim_total_wipes, sim_total_synced, sim_total_liar_runs, sim_total_liar_faults);
    printf("sim_consensus: %" PRIu64 " runs with proposals in parts, %" PRIu64
           " messages reassembled, %" PRIu64 " frames from the parts liar: %" PRIu64
           " parts failed their proof, %" PRIu64 " headers refused\n",
           sim_total_parts_runs, sim_total_parts_completed, sim_total_parts_injected,
           sim_total_parts_blamed, sim_total_parts_refused);
    printf("sim_consensus: %" PRIu64 " runs changing the validator set, %" PRIu64
           " set changes decided across, %" PRIu64 " heights decided by an observer\n",
           sim_total_valset_runs, sim_total_valset_changes, sim_total_observer_heights);
    /* Speed, for sizing CI (printed, never asserted): bench.sh collects these lines. */
    struct timespec t1;
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000u +
                  (uint64_t)(t1.tv_nsec / 1000 - t0.tv_nsec / 1000);
    if (us > 0) {
        printf("sim_runs_per_s=%" PRIu64 " 1/s\nsim_heights_per_s=%" PRIu64 " 1/s\n",
               runs * 1000000u / us, sim_total_heights * 1000000u / us);
    }
    assert_true(runs < 20 || sim_total_evidence > 0);
    assert_true(runs < 20 || (sim_total_valset_changes > 0 && sim_total_observer_heights > 0));
    assert_true(runs < 20 || (sim_total_synced > 0 && sim_total_liar_faults > 0));
    assert_true(runs < 20 || (sim_total_parts_completed > 0 && sim_total_parts_blamed > 0 &&
                              sim_total_parts_refused > 0));
}

/* 100 validators whose set changes every height or two (joins, leaves, power shifts) under
 * loss, duplication, delay, a partition, crash-restarts, a lying peer and (drawn) an
 * equivocator, with every check of the small runs. KUMO_SIM_LARGE_SEEDS=N runs N seeds (one
 * by default); KUMO_SIM_SEED=<seed> KUMO_SIM_LARGE=1 replays one. A run ends when every
 * honest node decided SIM_LIVE_HEIGHTS_VALSET heights after healing (so its heights are
 * bounded, SIM_HEIGHT_MAX at most). */
static void test_sim_large(void **state)
{
    (void)state;
    const char *count_env = getenv("KUMO_SIM_LARGE_SEEDS");
    uint64_t runs = count_env != NULL ? strtoull(count_env, NULL, 0) : SIM_LARGE_RUNS_DEFAULT;
    uint64_t x = 0x6c61726765ull; /* "large" */
    uint64_t byz = sim_total_byz_runs;
    uint64_t changes = sim_total_valset_changes;
    uint64_t heights = sim_total_heights;
    uint64_t crashes = sim_total_crashes;
    uint64_t evidence = sim_total_evidence;
    uint64_t unjails = sim_total_unjails;
    uint64_t kinds[SIM_CHANGE_COUNT];
    memcpy(kinds, sim_total_change_kinds, sizeof(kinds));
    for (uint64_t i = 0; i < runs; i++) {
        uint64_t was[SIM_CHANGE_COUNT];
        memcpy(was, sim_total_change_kinds, sizeof(was));
        uint64_t h0 = sim_total_heights;
        sim_run_one(i == 0 ? SIM_LARGE_SEED_FIRST : kumo_test_rng_splitmix(&x), true, true);
        printf("sim_consensus:   %" PRIu64 " heights; joins %" PRIu64 ", leaves %" PRIu64
               ", power shifts %" PRIu64 ", jailed %" PRIu64 "\n",
               sim_total_heights - h0, sim_total_change_kinds[SIM_CHANGE_JOIN] - was[0],
               sim_total_change_kinds[SIM_CHANGE_LEAVE] - was[1],
               sim_total_change_kinds[SIM_CHANGE_SHIFT] - was[2],
               sim_total_change_kinds[SIM_CHANGE_JAIL] - was[3]);
    }
    for (uint32_t k = 0; k < SIM_CHANGE_COUNT; k++) {
        kinds[k] = sim_total_change_kinds[k] - kinds[k];
    }
    printf("sim_consensus: %" PRIu64 " runs of %u validators, %" PRIu64
           " with an equivocator, %" PRIu64 " heights, %" PRIu64 " crash-restarts, %" PRIu64
           " evidence reports\n",
           runs, SIM_LARGE_NODES, sim_total_byz_runs - byz, sim_total_heights - heights,
           sim_total_crashes - crashes, sim_total_evidence - evidence);
    printf("sim_consensus: %" PRIu64 " set changes decided across: %" PRIu64 " joins, %" PRIu64
           " leaves, %" PRIu64 " power shifts, %" PRIu64 " jailed, %" PRIu64 " back from jail\n",
           sim_total_valset_changes - changes, kinds[SIM_CHANGE_JOIN], kinds[SIM_CHANGE_LEAVE],
           kinds[SIM_CHANGE_SHIFT], kinds[SIM_CHANGE_JAIL], sim_total_unjails - unjails);
    if (runs == 0) {
        return;
    }
    /* The first seed draws every fault and every kind of change. */
    assert_true(sim_total_byz_runs > byz && sim_total_evidence > evidence);
    assert_true(sim_total_crashes > crashes);
    for (uint32_t k = 0; k < SIM_CHANGE_COUNT; k++) {
        assert_true(kinds[k] > 0);
    }
    assert_true(sim_total_unjails > unjails);
}

int main(void)
{
    sim_verify_cache_open();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_consensus),
        cmocka_unit_test(test_sim_large),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("sim_consensus: %" PRIu64 " signature checks made, %" PRIu64
           " answered by the harness cache\n",
           sim_verify_misses, sim_verify_hits);
    free(sim_verify_cache);
    return rc;
}
