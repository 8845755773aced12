/*
 * bench_sim.c - consensus simulation speed: simulated blocks (decided heights) per wall
 * second, for 4, 7 and 100 validators (equal power), on a virtual network and clock, without
 * faults (delay 5..20 ms) and with faults (10% loss, 5% duplication, delay 5..300 ms). Every node
 * runs the real engine with real Ed25519 signing and verification (no cache), default timeouts.
 * Output (name=value unit), per size and run (clean, faults): sim_blocks_per_s_<n>v_<run> (and
 * in thousandths), the wall time per simulated block, the signatures checked per block (all
 * nodes: the floor is about 3 votes x n signers x n receivers) and the virtual block time.
 * The default sizes run in one process, so the figures compare on one machine state.
 * usage: bench_sim [validators...] (default 4 7 100).
 * tests/sim/test_sim_consensus.c prints the seed rate of the full checked simulation.
 */
#include "bench_util.h"
#include "consensus/consensus.h"

#define BS_NODES_MAX  100u
#define BS_EVENTS_MAX (1u << 22)
#define BS_HEIGHTS    60u
/* 100 validators: each height is about 100 x 100 x 3 signature checks (a second each). */
#define BS_HEIGHTS_LARGE 10u
#define BS_MSG_MAX       4096u

typedef struct bs_event {
    uint64_t time_ms;
    uint64_t seq;
    uint32_t to;
    uint32_t timer_id; /* UINT32_MAX for a message */
    uint8_t *msg;
    size_t len;
} bs_event_t;

typedef struct bs bs_t;

typedef struct bs_node {
    bs_t *bs;
    uint32_t index;
    kumo_crypto_keypair_t kp;
    kumo_consensus_t *engine;
    uint64_t deadline[KUMO_CONSENSUS_TIMER_COUNT];
    uint64_t decided;
} bs_node_t;

struct bs {
    uint32_t n;
    bool faults;
    uint64_t rng;
    uint64_t now_ms;
    uint64_t seq;
    bs_event_t *heap;
    size_t count;
    size_t cap;
    uint64_t heights;
    bs_node_t nodes[BS_NODES_MAX];
    uint32_t vmap[BS_NODES_MAX]; /* validator index -> node index */
};

static uint64_t bs_rand(bs_t *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool bs_less(const bs_event_t *a, const bs_event_t *b)
{
    return a->time_ms != b->time_ms ? a->time_ms < b->time_ms : a->seq < b->seq;
}

static void bs_push(bs_t *s, bs_event_t ev)
{
    if (s->count >= BS_EVENTS_MAX) {
        bench_die("event heap full", KUMO_ELIMIT, NULL);
    }
    if (s->count == s->cap) {
        s->cap *= 2u;
        s->heap = realloc(s->heap, s->cap * sizeof(bs_event_t));
        if (s->heap == NULL) {
            bench_die("realloc", KUMO_ENOMEM, NULL);
        }
    }
    ev.seq = s->seq++;
    size_t i = s->count++;
    s->heap[i] = ev;
    while (i > 0 && bs_less(&s->heap[i], &s->heap[(i - 1) / 2])) {
        bs_event_t t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static bs_event_t bs_pop(bs_t *s)
{
    bs_event_t top = s->heap[0];
    s->heap[0] = s->heap[--s->count];
    size_t i = 0;
    for (;;) {
        size_t m = i;
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        if (l < s->count && bs_less(&s->heap[l], &s->heap[m])) {
            m = l;
        }
        if (r < s->count && bs_less(&s->heap[r], &s->heap[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        bs_event_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static void bs_msg_to(bs_t *s, uint32_t to, kumo_bytes_t msg)
{
    uint32_t copies = 1;
    uint64_t delay_max = 20;
    if (s->faults) {
        delay_max = 300;
        if (bs_rand(s) % 100 < 10) {
            return;
        }
        if (bs_rand(s) % 100 < 5) {
            copies = 2;
        }
    }
    for (uint32_t c = 0; c < copies; c++) {
        uint8_t *copy = malloc(msg.len);
        if (copy == NULL) {
            bench_die("malloc", KUMO_ENOMEM, NULL);
        }
        memcpy(copy, msg.ptr, msg.len);
        bs_event_t ev = {.time_ms = s->now_ms + 5u + bs_rand(s) % (delay_max - 4u),
                         .to = to,
                         .timer_id = UINT32_MAX,
                         .msg = copy,
                         .len = msg.len};
        bs_push(s, ev);
    }
}

static int bs_broadcast(void *ctx, kumo_bytes_t msg)
{
    bs_node_t *node = ctx;
    for (uint32_t i = 0; i < node->bs->n; i++) {
        if (i != node->index) {
            bs_msg_to(node->bs, i, msg);
        }
    }
    return 0;
}

static int bs_send(void *ctx, uint32_t validator_index, kumo_bytes_t msg)
{
    bs_node_t *node = ctx;
    bs_t *s = node->bs;
    if (validator_index < s->n && s->vmap[validator_index] != node->index) {
        bs_msg_to(s, s->vmap[validator_index], msg);
    }
    return 0;
}

static uint64_t bs_now(void *ctx)
{
    bs_node_t *node = ctx;
    return node->bs->now_ms;
}

static int bs_timer_set(void *ctx, uint32_t timer_id, uint64_t deadline_ms)
{
    bs_node_t *node = ctx;
    if (timer_id >= KUMO_CONSENSUS_TIMER_COUNT) {
        return KUMO_EINVAL;
    }
    node->deadline[timer_id] = deadline_ms;
    bs_event_t ev = {.time_ms = deadline_ms, .to = node->index, .timer_id = timer_id};
    bs_push(node->bs, ev);
    return 0;
}

static int bs_sign(void *ctx, kumo_bytes_t msg, uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES])
{
    bs_node_t *node = ctx;
    kumo_crypto_sign(&node->kp, msg, sig_out);
    return 0;
}

static int bs_get_value(void *ctx, uint64_t height, kumo_buf_t *out)
{
    bs_node_t *node = ctx;
    char v[64];
    int k = snprintf(v, sizeof(v), "bench|h=%" PRIu64 "|n=%u", height, node->index);
    if (k <= 0 || (size_t)k >= sizeof(v)) {
        return KUMO_ELIMIT;
    }
    return kumo_buf_append(out, v, (size_t)k);
}

static bool bs_validate(void *ctx, uint64_t height, uint32_t proposer_index, kumo_bytes_t value)
{
    (void)ctx;
    (void)height;
    (void)proposer_index;
    return value.len > 6 && memcmp(value.ptr, "bench|", 6) == 0;
}

static int bs_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    bs_node_t *node = ctx;
    node->decided = d->height;
    return 0;
}

static void bs_setup(bs_t *s, uint32_t n, bool faults, kumo_consensus_cfg_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->faults = faults;
    s->rng = 0x6b756d6fu + n + (faults ? 100u : 0u);
    s->cap = 65536u;
    s->heights = n > 7u ? BS_HEIGHTS_LARGE : BS_HEIGHTS;
    s->heap = calloc(s->cap, sizeof(bs_event_t));
    if (s->heap == NULL) {
        bench_die("calloc", KUMO_ENOMEM, NULL);
    }
    uint8_t pubkeys[BS_NODES_MAX][KUMO_CRYPTO_PUBKEY_BYTES] = {{0}};
    uint64_t powers[BS_NODES_MAX] = {0};
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kseed[KUMO_CRYPTO_SEED_BYTES] = {0};
        kseed[0] = (uint8_t)(i + 1);
        kumo_crypto_key_from_seed(kseed, &s->nodes[i].kp);
        memcpy(pubkeys[i], s->nodes[i].kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        powers[i] = 10;
    }
    kumo_consensus_valset_t vs;
    BENCH_MUST("valset", kumo_consensus_valset_init(&vs, (const uint8_t(*)[32])pubkeys, powers, n,
                                                    &bench_err_));
    kumo_consensus_cfg_default(cfg);
    cfg->chain_id = "kumo-bench-sim";
    for (uint32_t i = 0; i < n; i++) {
        bs_node_t *node = &s->nodes[i];
        node->bs = s;
        node->index = i;
        s->vmap[(uint32_t)kumo_consensus_valset_find(&vs, node->kp.pubkey)] = i;
        kumo_consensus_io_t io = {.ctx = node,
                                  .now_ms = bs_now,
                                  .timer_set = bs_timer_set,
                                  .broadcast = bs_broadcast,
                                  .send = bs_send,
                                  .sign = bs_sign,
                                  .get_value_to_propose = bs_get_value,
                                  .validate_value = bs_validate,
                                  .deliver_decided = bs_deliver};
        BENCH_MUST("open", kumo_consensus_open(cfg, &vs, node->kp.pubkey, 1, &io, &node->engine,
                                               &bench_err_));
    }
    for (uint32_t i = 0; i < n; i++) {
        BENCH_MUST("start", kumo_consensus_start(s->nodes[i].engine, &bench_err_));
    }
}

static bool bs_done(const bs_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->nodes[i].decided < s->heights) {
            return false;
        }
    }
    return true;
}

static void bs_teardown(bs_t *s)
{
    while (s->count > 0) {
        bs_event_t ev = bs_pop(s);
        free(ev.msg);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        kumo_consensus_close(s->nodes[i].engine);
    }
    free(s->heap);
}

static void bs_run(uint32_t n, bool faults)
{
    static bs_t s;
    kumo_consensus_cfg_t cfg;
    uint64_t rejected = 0;
    uint64_t t0 = bench_now_ns();
    bs_setup(&s, n, faults, &cfg);
    while (s.count > 0 && !bs_done(&s)) {
        bs_event_t ev = bs_pop(&s);
        s.now_ms = ev.time_ms;
        bs_node_t *node = &s.nodes[ev.to];
        if (ev.timer_id == UINT32_MAX) {
            int rc = kumo_consensus_on_msg(node->engine, kumo_bytes_make(ev.msg, ev.len), NULL);
            rejected += rc != 0 ? 1u : 0u;
            free(ev.msg);
        } else if (node->deadline[ev.timer_id] == ev.time_ms) {
            node->deadline[ev.timer_id] = 0;
            BENCH_MUST("timer", kumo_consensus_on_timer(node->engine, ev.timer_id, &bench_err_));
        }
    }
    uint64_t ns = bench_now_ns() - t0;
    if (!bs_done(&s)) {
        bench_die("simulation stalled", KUMO_EINVAL, NULL);
    }
    char name[64];
    (void)snprintf(name, sizeof(name), "sim_blocks_per_s_%uv_%s", n, faults ? "faults" : "clean");
    /* Per second of wall time, in thousandths: 100 validators decide under one per second. */
    bench_result(name, ns == 0 ? 0 : s.heights * 1000000000ull / ns, "blocks/s");
    (void)snprintf(name, sizeof(name), "sim_milliblocks_per_s_%uv_%s", n,
                   faults ? "faults" : "clean");
    bench_result(name, ns == 0 ? 0 : s.heights * 1000000000000ull / ns, "mblocks/s");
    (void)snprintf(name, sizeof(name), "sim_wall_us_per_block_%uv_%s", n,
                   faults ? "faults" : "clean");
    bench_result(name, ns / 1000u / s.heights, "us");
    uint64_t verified = 0;
    for (uint32_t i = 0; i < n; i++) {
        kumo_consensus_counters_t k;
        kumo_consensus_counters_get(s.nodes[i].engine, &k);
        verified += k.verified;
    }
    (void)snprintf(name, sizeof(name), "sim_sig_checks_per_block_%uv_%s", n,
                   faults ? "faults" : "clean");
    bench_result(name, verified / s.heights, "checks");
    (void)snprintf(name, sizeof(name), "sim_virtual_block_ms_%uv_%s", n,
                   faults ? "faults" : "clean");
    bench_result(name, s.now_ms / s.heights, "ms");
    (void)snprintf(name, sizeof(name), "sim_msgs_rejected_%uv_%s", n, faults ? "faults" : "clean");
    bench_result(name, rejected, "msgs");
    bs_teardown(&s);
}

/* usage: bench_sim [validators...]   (default: 4 7 100; each 2..100, clean then faults) */
int main(int argc, char **argv)
{
    static const uint32_t sizes[] = {4, 7, 100};
    if (argc <= 1) {
        for (size_t i = 0; i < KUMO_ARRAY_COUNT(sizes); i++) {
            bs_run(sizes[i], false);
            bs_run(sizes[i], true);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        unsigned long n = strtoul(argv[i], NULL, 10);
        if (n < 2 || n > BS_NODES_MAX) {
            fprintf(stderr, "usage: bench_sim [validators...] (each 2..%u)\n", BS_NODES_MAX);
            return 2;
        }
        bs_run((uint32_t)n, false);
        bs_run((uint32_t)n, true);
    }
    return 0;
}
