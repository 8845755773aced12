/*
 * bench_spam.c - lease confirmations under mempool spam. A 4-validator `kumo testnet` with a
 * small mempool (general room BS_POOL_TXS, lane room BS_LANE_TXS) and small blocks
 * (BS_BLOCK_TXS txs), a short reconfirmation period, and this process as a provider holding
 * `leases` leases (one deployment each, from the testnet's tenant) that it confirms like the
 * daemon does: every block it reads its leases and sends, through node 2, one
 * MsgSubmitLeaseConfirmation tx (at most 64 leases per tx, 2 txs per block) at the minimum fee
 * for each lease due (min(period/3, period - 5) blocks after its last confirmation, not resent
 * within 5 blocks). The first confirmation of lease i is put off by i mod that interval, so
 * confirmations spread over the blocks and almost every block carries one.
 *
 * Two phases of `phases` periods each on the same chain and leases:
 *   clean  no other load (the baseline);
 *   spam   three spammer processes (one each on nodes 0, 1 and 3) offering, every block
 *          interval, twice the general room in sends from fresh funded accounts (one tx each,
 *          fees from the minimum up to 1.9 times it), for the whole phase.
 * For each phase: leases stale, confirmations sent and landed (committed with code 0), their
 * inclusion delay (committed height - head height at submission) p50/p99/max in blocks, the
 * longest gap between two confirmations of a lease; for the spam: offered and accepted txs and
 * node 2's pool occupancy. Ratios spam vs clean. Target: spam_leases_stale=0 and the spam
 * phase's p99 delay equal to the clean one.
 *
 * usage: bench_spam [leases] [period_blocks] [phases] [block_ms]   (default 20 15 3 1000)
 * $KUMO_BIN: the kumo binary to run (default: the one next to this benchmark).
 */
#include <signal.h>
#include <sys/wait.h>

#include "bench_spam_net.h"

#define BS_POOL_TXS      100u
#define BS_LANE_TXS      16u
#define BS_BLOCK_TXS     20u
#define BS_CONF_NODE     2u
#define BS_SPAMMERS      3u
#define BS_RESEND_BLOCKS 5u
#define BS_MARGIN_BLOCKS 5u
#define BS_BATCH_MAX     64u
#define BS_TXS_PER_BLOCK 2u
#define BS_LEASES_MAX    1000u
#define BS_FUND_PER_TX   1000u
#define BS_FUND_UKUMO    10000u
#define BS_SENT_MAX      20000u
#define BS_COLLATERAL    1000u
#define BS_OPEN_PER_TX   100u
#define BS_TAIL_BLOCKS   (BS_RESEND_BLOCKS + 2u)

_Static_assert(BS_FUND_PER_TX <= KUMO_TX_MSG_COUNT_MAX, "a funding tx is one tx");

typedef struct bs_lease {
    uint64_t last_confirmed;
    uint64_t first_due; /* the spread of the first confirmations */
    uint64_t sent_h;    /* height a confirmation was last sent at (0: none) */
    bool active;
} bs_lease_t;

typedef struct bs_sent {
    bsn_tx_t tx;
    uint64_t submit_h;
    uint32_t leases;
    uint32_t phase; /* 0 clean, 1 spam, 2 tail (not counted) */
    bool accepted;
} bs_sent_t;

typedef struct bs_phase {
    uint64_t sent;
    uint64_t landed;
    uint64_t stale;
    uint64_t gap_max;
    uint64_t *delays;
    size_t delay_count;
    uint64_t pool_min;
    uint64_t pool_sum;
    uint64_t pool_samples;
    uint64_t blocks;
} bs_phase_t;

typedef struct bs {
    bsn_t net;
    uint32_t lease_count;
    uint64_t period;
    uint64_t every;
    uint64_t min_fee;
    kumo_crypto_keypair_t tenant;
    kumo_crypto_keypair_t provider;
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    char provider_addr[KUMO_ADDRESS_TEXT_BYTES];
    uint8_t tenant_raw[KUMO_ADDRESS_BYTES];
    uint64_t provider_seq;
    bool seq_reload;
    bs_lease_t leases[BS_LEASES_MAX];
    bs_sent_t *sent;
    size_t sent_count;
    bs_phase_t phases[2];
    uint64_t head;
    uint64_t pool_txs;
} bs_t;

static bs_t g;

/* ---- setup: the provider, the tenant's deployments, the bids, the leases ---- */

static void bs_provider_create(void)
{
    char pem[700];
    snprintf(pem, sizeof(pem), "%s/ca.pem", g.net.dir);
    FILE *f = fopen(pem, "w");
    if (f == NULL) {
        exit(1);
    }
    fputs("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    char cmd[3000];
    snprintf(cmd, sizeof(cmd),
             "'%s' tx provider create --home '%s/provider0' --from provider --node "
             "http://127.0.0.1:%u --host-uri https://p0.example:8443 --region r1 --cert-file '%s' "
             "--wait >/dev/null",
             g.net.kumo, g.net.dir, bsn_rpc_port(&g.net, BS_CONF_NODE), pem);
    bsn_run(cmd);
}

/* Deployments dseq 1..n of the tenant, then a bid on each from the provider, in txs of
 * BS_OPEN_PER_TX msgs. */
static void bs_leases_open(void)
{
    uint32_t n = g.lease_count;
    bench_deploy_msg_t *dm = calloc(n, sizeof(*dm));
    bench_bid_msg_t *bm = calloc(n, sizeof(*bm));
    Kumo__Msg **ptrs = calloc(n, sizeof(*ptrs));
    for (uint32_t i = 0; i < n; i++) {
        ptrs[i] = (Kumo__Msg *)(uintptr_t)bench_deploy_msg(&dm[i], i + 1u, 1, BS_COLLATERAL);
    }
    uint64_t seq = bsn_sequence(&g.net, BS_CONF_NODE, g.tenant_addr);
    for (uint32_t i = 0; i < n; i += BS_OPEN_PER_TX) {
        bsn_tx_t tx;
        uint32_t k = n - i < BS_OPEN_PER_TX ? n - i : BS_OPEN_PER_TX;
        bsn_tx_sign(&g.net, &g.tenant, seq++, g.min_fee * 10u, ptrs + i, k, &tx);
        bsn_tx_commit(&g.net, BS_CONF_NODE, &tx, "the deployments");
        free(tx.body);
    }
    for (uint32_t i = 0; i < n; i++) {
        ptrs[i] =
            (Kumo__Msg *)(uintptr_t)bench_bid_msg(&bm[i], g.tenant_raw, i + 1u, 100, BS_COLLATERAL);
    }
    g.provider_seq = bsn_sequence(&g.net, BS_CONF_NODE, g.provider_addr);
    for (uint32_t i = 0; i < n; i += BS_OPEN_PER_TX) {
        bsn_tx_t tx;
        uint32_t k = n - i < BS_OPEN_PER_TX ? n - i : BS_OPEN_PER_TX;
        bsn_tx_sign(&g.net, &g.provider, g.provider_seq++, g.min_fee * 10u, ptrs + i, k, &tx);
        bsn_tx_commit(&g.net, BS_CONF_NODE, &tx, "the bids");
        free(tx.body);
    }
    free(dm);
    free(bm);
    free(ptrs);
}

/* Reads the provider's leases (every state); the number active. */
static uint32_t bs_leases_read(bs_phase_t *ph)
{
    char path[256];
    snprintf(path, sizeof(path), "/leases?provider=%s&limit=1000", g.provider_addr);
    json_t *l = bsn_http(&g.net, BS_CONF_NODE, path, NULL, NULL);
    uint32_t active = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(l, "items"), i, item)
    {
        const json_t *oid = json_object_get(json_object_get(item, "id"), "order");
        uint64_t dseq = bsn_u64(oid, "dseq");
        if (dseq == 0 || dseq > g.lease_count) {
            continue;
        }
        bs_lease_t *x = &g.leases[dseq - 1u];
        const char *state = json_string_value(json_object_get(item, "state"));
        x->active = state != NULL && strcmp(state, "LEASE_ACTIVE") == 0;
        active += x->active ? 1u : 0u;
        uint64_t last = bsn_u64(item, "last_confirmed_height");
        if (ph != NULL && last > x->last_confirmed && x->last_confirmed != 0) {
            uint64_t gap = last - x->last_confirmed;
            ph->gap_max = gap > ph->gap_max ? gap : ph->gap_max;
        }
        x->last_confirmed = last > x->last_confirmed ? last : x->last_confirmed;
    }
    json_decref(l);
    return active;
}

static void bs_leases_wait(void)
{
    uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
    while (bs_leases_read(NULL) < g.lease_count) {
        if (bench_now_ns() > deadline) {
            bench_die("the leases did not all start", KUMO_EIO, NULL);
        }
        bsn_stop_check();
        usleep(100000); /* a block */
    }
}

/* ---- the spam ---- */

static void bs_spam_key(uint32_t i, kumo_crypto_keypair_t *kp, uint8_t addr[KUMO_ADDRESS_BYTES])
{
    bench_key(0x5ba3u, i, kp, addr);
}

/* Funds accounts [0, count) with one tenant tx per BS_FUND_PER_TX of them. */
static void bs_spam_fund(uint32_t count)
{
    static Kumo__MsgSend sends[BS_FUND_PER_TX];
    static Kumo__Msg msgs[BS_FUND_PER_TX];
    static Kumo__Msg *ptrs[BS_FUND_PER_TX];
    static uint8_t addrs[BS_FUND_PER_TX][KUMO_ADDRESS_BYTES];
    uint64_t seq = bsn_sequence(&g.net, BS_CONF_NODE, g.tenant_addr);
    uint32_t tx_count = (count + BS_FUND_PER_TX - 1u) / BS_FUND_PER_TX;
    bsn_tx_t *txs = calloc(tx_count, sizeof(*txs));
    for (uint32_t t = 0; t < tx_count; t++) {
        uint32_t n = 0;
        for (uint32_t i = t * BS_FUND_PER_TX; i < count && n < BS_FUND_PER_TX; i++, n++) {
            kumo_crypto_keypair_t kp;
            bs_spam_key(i, &kp, addrs[n]);
            kumo__msg_send__init(&sends[n]);
            sends[n].to.data = addrs[n];
            sends[n].to.len = KUMO_ADDRESS_BYTES;
            sends[n].amount = BS_FUND_UKUMO;
            kumo__msg__init(&msgs[n]);
            msgs[n].sum_case = KUMO__MSG__SUM_SEND;
            msgs[n].send = &sends[n];
            ptrs[n] = &msgs[n];
        }
        bsn_tx_sign(&g.net, &g.tenant, seq++, g.min_fee * 1000u, ptrs, n, &txs[t]);
        if (bsn_tx_post(&g.net, BS_CONF_NODE, &txs[t]) != 200) {
            bench_die("a funding tx was refused", KUMO_EIO, NULL);
        }
    }
    for (uint32_t t = 0; t < tx_count; t++) {
        uint64_t deadline = bench_now_ns() + 120ull * 1000000000ull;
        int64_t code = 0;
        while (bsn_tx_height(&g.net, BS_CONF_NODE, txs[t].hash, &code) < 0) {
            if (bench_now_ns() > deadline) {
                bench_die("funding", KUMO_EIO, NULL);
            }
            bsn_stop_check();
            usleep(100000); /* a block */
        }
        free(txs[t].body);
    }
    free(txs);
}

static volatile sig_atomic_t bs_stop;

static void bs_on_term(int sig)
{
    (void)sig;
    bs_stop = 1;
}

/* A spammer's body: offers accounts k, k + BS_SPAMMERS, ... one send each to node at
 * per_s txs a second until told to stop; writes "offered accepted" to fd. */
static void bs_spammer(uint32_t k, uint32_t node, uint32_t count, uint64_t per_s, int fd)
{
    struct sigaction sa = {0};
    sa.sa_handler = bs_on_term;
    sigaction(SIGTERM, &sa, NULL);
    g.net.curl = curl_easy_init();
    uint64_t offered = 0;
    uint64_t accepted = 0;
    uint64_t t0 = bench_now_ns();
    for (uint32_t i = k; i < count && !bs_stop; i += BS_SPAMMERS) {
        kumo_crypto_keypair_t kp;
        uint8_t addr[KUMO_ADDRESS_BYTES];
        bs_spam_key(i, &kp, addr);
        Kumo__MsgSend s = KUMO__MSG_SEND__INIT;
        s.to.data = g.tenant_raw;
        s.to.len = KUMO_ADDRESS_BYTES;
        s.amount = 1;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_SEND;
        msg.send = &s;
        Kumo__Msg *ptrs[1] = {&msg};
        bsn_tx_t tx;
        bsn_tx_sign(&g.net, &kp, 0, g.min_fee + g.min_fee * (i / BS_SPAMMERS % 10u) / 10u, ptrs, 1,
                    &tx);
        /* Paced: the offered count follows the clock, never ahead of it. */
        while (!bs_stop && offered * 1000000000ull > (bench_now_ns() - t0) * per_s) {
            usleep(2000);
        }
        offered++;
        accepted += bsn_tx_post(&g.net, node, &tx) == 200 ? 1u : 0u;
        free(tx.body);
    }
    char line[64];
    int len = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n", offered, accepted);
    if (write(fd, line, (size_t)len) != len) {
        _exit(1);
    }
    _exit(0);
}

typedef struct bs_spam {
    pid_t pids[BS_SPAMMERS];
    int fds[BS_SPAMMERS];
    uint64_t t0_ns;
} bs_spam_t;

static void bs_spam_start(bs_spam_t *sp, uint32_t count, uint64_t per_s)
{
    static const uint32_t nodes[BS_SPAMMERS] = {0, 1, 3};
    fflush(stdout);
    sp->t0_ns = bench_now_ns();
    for (uint32_t k = 0; k < BS_SPAMMERS; k++) {
        int p[2];
        if (pipe(p) != 0) {
            exit(1);
        }
        sp->pids[k] = fork();
        if (sp->pids[k] == 0) {
            close(p[0]);
            bs_spammer(k, nodes[k], count, per_s / BS_SPAMMERS, p[1]);
        }
        close(p[1]);
        sp->fds[k] = p[0];
    }
}

static void bs_spam_stop(bs_spam_t *sp, uint64_t *offered, uint64_t *accepted, uint64_t *ns)
{
    *ns = bench_now_ns() - sp->t0_ns;
    for (uint32_t k = 0; k < BS_SPAMMERS; k++) {
        kill(sp->pids[k], SIGTERM);
    }
    for (uint32_t k = 0; k < BS_SPAMMERS; k++) {
        char line[64] = {0};
        ssize_t len = read(sp->fds[k], line, sizeof(line) - 1);
        uint64_t o = 0;
        uint64_t a = 0;
        if (len > 0 && sscanf(line, "%" SCNu64 " %" SCNu64, &o, &a) == 2) {
            *offered += o;
            *accepted += a;
        }
        close(sp->fds[k]);
        waitpid(sp->pids[k], NULL, 0);
    }
}

/* ---- the provider's confirmations ---- */

static void bs_status(void)
{
    json_t *st = bsn_http(&g.net, BS_CONF_NODE, "/status", NULL, NULL);
    g.head = bsn_u64(st, "height");
    g.pool_txs = bsn_u64(st, "mempool_txs");
    json_decref(st);
}

/* One tx confirming leases [i] of due (count of them), at the minimum fee. */
static void bs_confirm_send(const uint32_t *due, uint32_t count, uint32_t phase)
{
    Kumo__OrderId ids[BS_BATCH_MAX];
    Kumo__LeaseConfirmation lc[BS_BATCH_MAX];
    Kumo__LeaseConfirmation *ptrs[BS_BATCH_MAX];
    for (uint32_t k = 0; k < count; k++) {
        kumo__order_id__init(&ids[k]);
        ids[k].owner.data = g.tenant_raw;
        ids[k].owner.len = KUMO_ADDRESS_BYTES;
        ids[k].dseq = due[k] + 1u;
        ids[k].oseq = 1;
        kumo__lease_confirmation__init(&lc[k]);
        lc[k].order = &ids[k];
        ptrs[k] = &lc[k];
    }
    Kumo__MsgSubmitLeaseConfirmation m = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    m.n_confirmations = count;
    m.confirmations = ptrs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &m;
    Kumo__Msg *mp = &msg;
    if (g.seq_reload) {
        g.provider_seq = bsn_sequence(&g.net, BS_CONF_NODE, g.provider_addr);
        g.seq_reload = false;
    }
    if (g.sent_count >= BS_SENT_MAX) {
        bench_die("too many confirmation txs", KUMO_ELIMIT, NULL);
    }
    bs_sent_t *s = &g.sent[g.sent_count++];
    bsn_tx_sign(&g.net, &g.provider, g.provider_seq, g.min_fee, &mp, 1, &s->tx);
    s->submit_h = g.head;
    s->leases = count;
    s->phase = phase;
    s->accepted = bsn_tx_post(&g.net, BS_CONF_NODE, &s->tx) == 200;
    if (s->accepted) {
        g.provider_seq++;
        for (uint32_t k = 0; k < count; k++) {
            g.leases[due[k]].sent_h = g.head;
        }
    } else {
        g.seq_reload = true;
    }
    if (phase < 2) {
        g.phases[phase].sent += count;
    }
}

/* One block of the provider: its leases read, the due ones confirmed. */
static void bs_provider_block(uint32_t phase)
{
    bs_phase_t *ph = phase < 2 ? &g.phases[phase] : NULL;
    bs_leases_read(ph);
    uint32_t due[BS_BATCH_MAX];
    uint32_t n = 0;
    uint32_t txs = 0;
    for (uint32_t i = 0; i < g.lease_count && txs < BS_TXS_PER_BLOCK; i++) {
        const bs_lease_t *x = &g.leases[i];
        uint64_t next = x->last_confirmed + g.every;
        next = next > x->first_due ? next : x->first_due;
        bool resent = x->sent_h != 0 && g.head < x->sent_h + BS_RESEND_BLOCKS;
        if (!x->active || g.head < next || resent) {
            continue;
        }
        due[n++] = i;
        if (n == BS_BATCH_MAX) {
            bs_confirm_send(due, n, phase);
            txs++;
            n = 0;
        }
    }
    if (n > 0 && txs < BS_TXS_PER_BLOCK) {
        bs_confirm_send(due, n, phase);
    }
}

/* Runs the provider for blocks blocks; phase stats in phase (2: not counted). */
static void bs_provider_run(uint64_t blocks, uint32_t phase)
{
    uint64_t stale_before = g.lease_count - bs_leases_read(NULL);
    bs_status();
    uint64_t end = g.head + blocks;
    while (g.head < end) {
        bsn_height_after(&g.net, BS_CONF_NODE, g.head);
        bs_status();
        if (phase < 2) {
            bs_phase_t *ph = &g.phases[phase];
            ph->pool_min =
                ph->pool_samples == 0 || g.pool_txs < ph->pool_min ? g.pool_txs : ph->pool_min;
            ph->pool_sum += g.pool_txs;
            ph->pool_samples++;
            ph->blocks++;
        }
        bs_provider_block(phase);
    }
    if (phase < 2) {
        g.phases[phase].stale = g.lease_count - bs_leases_read(NULL) - stale_before;
    }
}

/* Every sent tx's outcome, into its phase's delays. */
static void bs_resolve(void)
{
    for (uint32_t p = 0; p < 2; p++) {
        g.phases[p].delays = calloc(g.sent_count * BS_BATCH_MAX + 1u, sizeof(uint64_t));
    }
    for (size_t i = 0; i < g.sent_count; i++) {
        bs_sent_t *s = &g.sent[i];
        if (s->phase >= 2 || !s->accepted) {
            free(s->tx.body);
            continue;
        }
        bs_phase_t *ph = &g.phases[s->phase];
        int64_t code = -1;
        int64_t h = bsn_tx_height(&g.net, BS_CONF_NODE, s->tx.hash, &code);
        if (h > 0 && code == 0) {
            ph->landed += s->leases;
            for (uint32_t k = 0; k < s->leases; k++) {
                ph->delays[ph->delay_count++] = (uint64_t)h - s->submit_h;
            }
        }
        free(s->tx.body);
    }
}

static void bs_phase_print(const char *prefix, bs_phase_t *ph)
{
    char name[96];
#define BS_OUT(suffix, value, unit)                            \
    do {                                                       \
        snprintf(name, sizeof(name), "%s_%s", prefix, suffix); \
        bench_result(name, value, unit);                       \
    } while (0)
    BS_OUT("leases_stale", ph->stale, "leases");
    BS_OUT("confirmations_sent", ph->sent, "confirmations");
    BS_OUT("confirmations_landed", ph->landed, "confirmations");
    snprintf(name, sizeof(name), "%s_confirmations_landed_vs_sent", prefix);
    bench_ratio(name, ph->landed, ph->sent);
    uint64_t p50 = bsn_quantile(ph->delays, ph->delay_count, 500);
    uint64_t p99 = bsn_quantile(ph->delays, ph->delay_count, 990);
    uint64_t max = bsn_quantile(ph->delays, ph->delay_count, 1000);
    BS_OUT("confirm_delay_p50_blocks", p50, "blocks");
    BS_OUT("confirm_delay_p99_blocks", p99, "blocks");
    BS_OUT("confirm_delay_max_blocks", max, "blocks");
    BS_OUT("confirm_gap_max_blocks", ph->gap_max, "blocks");
    BS_OUT("blocks", ph->blocks, "blocks");
    BS_OUT("pool_txs_min", ph->pool_min, "txs");
    BS_OUT("pool_txs_mean", ph->pool_samples > 0 ? ph->pool_sum / ph->pool_samples : 0, "txs");
#undef BS_OUT
}

int main(int argc, char **argv)
{
    uint64_t t_start = bench_now_ns();
    g.lease_count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20u;
    g.period = argc > 2 ? strtoull(argv[2], NULL, 10) : 15u;
    uint64_t phases = argc > 3 ? strtoull(argv[3], NULL, 10) : 3u;
    uint32_t block_ms = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1000u;
    if (g.lease_count == 0 || g.lease_count > BS_LEASES_MAX || g.period < 6 || phases == 0 ||
        block_ms == 0) {
        fprintf(stderr, "usage: bench_spam [leases 1..1000] [period_blocks >= 6] [phases] "
                        "[block_ms]\n");
        return 2;
    }
    if (kumo_crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        return 1;
    }
    uint64_t third = g.period / 3u;
    g.every = third < g.period - BS_MARGIN_BLOCKS ? third : g.period - BS_MARGIN_BLOCKS;
    g.sent = calloc(BS_SENT_MAX, sizeof(*g.sent));
    bsn_kumo_find(&g.net);
    char cfg[512];
    snprintf(cfg, sizeof(cfg),
             "mempool_tx_count_max: %u\nmempool_lane_tx_count_max: %u\nblock_tx_count_max: %u\n",
             BS_POOL_TXS, BS_LANE_TXS, BS_BLOCK_TXS);
    bsn_start(&g.net, "spam", 4, 1, block_ms, cfg, g.period);
    fprintf(stderr, "bench_spam: testnet in %s, %u leases, period %" PRIu64 " blocks\n", g.net.dir,
            g.lease_count, g.period);
    bsn_key_load(&g.net, "tenant", "tenant", &g.tenant, g.tenant_addr);
    bsn_key_load(&g.net, "provider0", "provider", &g.provider, g.provider_addr);
    kumo_crypto_address_from_pubkey(g.tenant.pubkey, g.tenant_raw);
    bsn_height_after(&g.net, BS_CONF_NODE, 1);
    json_t *p = bsn_http(&g.net, BS_CONF_NODE, "/params", NULL, NULL);
    g.min_fee = bsn_u64(p, "min_fee");
    json_decref(p);

    /* Spam for the phase, the pool's filling and the tail, at twice the room per block. */
    uint64_t per_s = 2ull * BS_POOL_TXS * 1000u / block_ms;
    uint64_t phase_blocks = phases * g.period;
    uint32_t spam_count = (uint32_t)(per_s * block_ms * (phase_blocks + 20u) / 1000u);
    bs_spam_fund(spam_count);
    bs_provider_create();
    bs_leases_open();
    bs_leases_wait();
    bs_status();
    for (uint32_t i = 0; i < g.lease_count; i++) {
        g.leases[i].first_due = g.head + 1u + i % g.every;
    }
    fprintf(stderr, "bench_spam: clean phase, %" PRIu64 " blocks\n", phase_blocks);
    bs_provider_run(phase_blocks, 0);
    fprintf(stderr, "bench_spam: spam phase, %" PRIu64 " txs/s offered\n", per_s);
    bs_spam_t sp;
    bs_spam_start(&sp, spam_count, per_s);
    /* Until node 2's pool is full (or 20 s): the phase measures a full pool. */
    uint64_t fill_deadline = bench_now_ns() + 20ull * 1000000000ull;
    do {
        bs_provider_run(1, 2);
    } while (g.pool_txs + BS_BLOCK_TXS < BS_POOL_TXS && bench_now_ns() < fill_deadline);
    bs_provider_run(phase_blocks, 1);
    uint64_t offered = 0;
    uint64_t accepted = 0;
    uint64_t spam_ns = 0;
    bs_spam_stop(&sp, &offered, &accepted, &spam_ns);
    bs_provider_run(BS_TAIL_BLOCKS, 2);
    bs_resolve();

    bench_result("spam_lease_count", g.lease_count, "leases");
    bench_result("spam_reconfirmation_period_blocks", g.period, "blocks");
    bench_result("spam_confirm_every_blocks", g.every, "blocks");
    bench_result("spam_block_interval_ms", block_ms, "ms");
    bench_result("spam_pool_room_txs", BS_POOL_TXS, "txs");
    bench_result("spam_lane_room_txs", BS_LANE_TXS, "txs");
    bench_result("spam_block_room_txs", BS_BLOCK_TXS, "txs");
    bs_phase_print("clean", &g.phases[0]);
    bs_phase_print("spam", &g.phases[1]);
    bench_result("spam_offered", offered, "txs");
    bench_result("spam_accepted", accepted, "txs");
    bench_ratio("spam_accepted_vs_offered", accepted, offered);
    bench_result("spam_offered_per_s", bench_rate(offered, spam_ns), "1/s");
    bench_result("spam_offered_target_per_s", per_s, "1/s");
    uint64_t clean_p99 = bsn_quantile(g.phases[0].delays, g.phases[0].delay_count, 990);
    uint64_t spam_p99 = bsn_quantile(g.phases[1].delays, g.phases[1].delay_count, 990);
    bench_ratio("spam_vs_clean_confirm_delay_p99", spam_p99, clean_p99);
    bench_ratio("spam_vs_clean_confirmations_landed",
                g.phases[1].sent > 0 ? g.phases[1].landed * 1000u / g.phases[1].sent : 0,
                g.phases[0].sent > 0 ? g.phases[0].landed * 1000u / g.phases[0].sent : 0);
    bsn_stop(&g.net, getenv("BENCH_KEEP") != NULL);
    bench_result("bench_spam_seconds", (bench_now_ns() - t_start) / 1000000000ull, "s");
    return 0;
}
