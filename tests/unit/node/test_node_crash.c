/*
 * test_node_crash.c - proves that a node killed with SIGKILL at random points under load
 * loses nothing it reported as committed. A forked child runs a real node (durable LMDB, block
 * timer every 10 ms) with a load generator that submits pre-signed sends from 16 accounts with
 * pipelined sequences through kumo_node_tx_submit on a 2 ms timer. Its commit listener writes,
 * after each commit, a record per committed tx (hash, height) and one per block (height, app
 * hash) to a pipe. The parent reads a random number of records, waits a random few ms, kills
 * the child with SIGKILL, drains what the child wrote before dying, and checks the store: its
 * height is at least the highest reported, the stored block at every reported height carries
 * the reported app hash, and every reported tx is found by kumo_node_tx_locate at its height.
 * Then it restarts the child on the same home; >= 20 kills in all. Seeded (KUMO_SIM_SEED);
 * the seed is printed.
 */
#include "bank/bank.h"
#include "helpers/testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/testrng.h"
#include "log/log.h"
#include "node_fixture.h"

#define CRASH_KILLS        24
#define CRASH_TXS_PER_KEY  48u
#define CRASH_RECORD_BYTES 41u
#define CRASH_REC_TX       1u
#define CRASH_REC_BLOCK    2u

/* ---- the child: a node under load that reports its commits ---- */

typedef struct crash_child {
    node_fx_t *nf;
    kumo_node_t *node;
    int fd;
    kumo_buf_t txs[NF_KEYS][CRASH_TXS_PER_KEY];
    uint32_t next[NF_KEYS];
    struct event *load_ev;
} crash_child_t;

static _Noreturn void child_die(const char *what, int rc, const kumo_err_ctx_t *err)
{
    fprintf(stderr, "crash child: %s: %s (%s)\n", what, kumo_err_name(rc),
            err != NULL ? err->detail : "");
    _exit(3);
}

static void child_record(crash_child_t *c, uint8_t type, uint64_t height, const uint8_t *hash)
{
    uint8_t rec[CRASH_RECORD_BYTES];
    rec[0] = type;
    kumo_be64_put(rec + 1, height);
    memcpy(rec + 9, hash, 32);
    /* One write of fewer than PIPE_BUF bytes: atomic, so a kill never leaves half a record. */
    if (write(c->fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
        _exit(errno == EPIPE ? 0 : 4);
    }
}

static void child_commit_cb(void *ctx, uint64_t height)
{
    crash_child_t *c = ctx;
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_read_begin(c->node, &read, &kv, &err);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_STORE_RECORD_BYTES_MAX);
    if (rc == 0) {
        rc = kumo_node_results_get(read, height, &b, &err);
    }
    ProtobufCMessage *m = NULL;
    if (rc == 0) {
        rc = kumo_codec_unpack(&kumo__block_results__descriptor, kumo_buf_bytes(&b), b.len, &m,
                               &err);
    }
    kumo_store_read_end(read);
    kumo_buf_free(&b);
    if (rc != 0) {
        child_die("results", rc, &err);
    }
    const Kumo__BlockResults *res = (const Kumo__BlockResults *)m;
    for (size_t i = 0; i < res->n_results; i++) {
        child_record(c, CRASH_REC_TX, height, res->results[i]->hash.data);
    }
    kumo_codec_free(m);
    kumo_node_status_t st;
    kumo_node_status_get(c->node, &st);
    child_record(c, CRASH_REC_BLOCK, height, st.app_hash);
}

static void child_load_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    crash_child_t *c = arg;
    for (int k = 0; k < NF_KEYS; k++) {
        if (c->next[k] == CRASH_TXS_PER_KEY) {
            continue;
        }
        kumo_err_ctx_t err = {0};
        int rc = kumo_node_tx_submit(c->node, kumo_buf_bytes(&c->txs[k][c->next[k]]), NULL, &err);
        if (rc != 0) {
            child_die("submit", rc, &err);
        }
        c->next[k]++;
    }
}

/* Pre-signs every account's next CRASH_TXS_PER_KEY sends from its committed sequence. */
static void child_presign(crash_child_t *c)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    if (kumo_node_read_begin(c->node, &read, &kv, NULL) != 0) {
        child_die("read", KUMO_EIO, NULL);
    }
    for (int k = 0; k < NF_KEYS; k++) {
        Kumo__Account *acct = NULL;
        if (kumo_bank_account_get(&kv, c->nf->addr[k], &acct, NULL) != 0) {
            child_die("account", KUMO_EIO, NULL);
        }
        c->nf->seq[k] = acct->sequence;
        kumo_codec_free(&acct->base);
        for (uint32_t i = 0; i < CRASH_TXS_PER_KEY; i++) {
            nf_send(c->nf, k, (k + 1) % NF_KEYS, 1, &c->txs[k][i]);
        }
    }
    kumo_store_read_end(read);
}

static _Noreturn void child_main(node_fx_t *nf, int fd)
{
    kumo_log_level_set(KUMO_LOG_LEVEL_ERROR);
    static crash_child_t c;
    c.nf = nf;
    c.fd = fd;
    struct event_base *base = event_base_new();
    if (base == NULL) {
        child_die("event_base_new", KUMO_ENOMEM, NULL);
    }
    nf->cfg.block_interval_ms = 10;
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_open(&nf->cfg, base, &c.node, &err);
    if (rc != 0) {
        child_die("open", rc, &err);
    }
    child_presign(&c);
    uint32_t id = 0;
    if (kumo_node_commit_listen(c.node, child_commit_cb, &c, &id, &err) != 0) {
        child_die("listen", KUMO_ELIMIT, &err);
    }
    c.load_ev = event_new(base, -1, EV_PERSIST, child_load_cb, &c);
    struct timeval tv = {.tv_usec = 2000};
    if (c.load_ev == NULL || event_add(c.load_ev, &tv) != 0) {
        child_die("load timer", KUMO_ENOMEM, NULL);
    }
    (void)event_base_dispatch(base);
    child_die("loop ended", KUMO_EIO, NULL); /* only SIGKILL ends a child */
}

/* ---- the parent: kill, restart, check ---- */

typedef struct crash_log {
    uint8_t (*recs)[CRASH_RECORD_BYTES];
    size_t count;
    size_t cap;
    uint64_t height_max;
    uint64_t tx_count;
} crash_log_t;

static void log_add(crash_log_t *log, const uint8_t *rec)
{
    if (log->count == log->cap) {
        log->cap = log->cap == 0 ? 1024 : log->cap * 2u;
        log->recs = realloc(log->recs, log->cap * CRASH_RECORD_BYTES);
        assert_non_null(log->recs);
    }
    memcpy(log->recs[log->count++], rec, CRASH_RECORD_BYTES);
    uint64_t h = kumo_be64_get(rec + 1);
    log->height_max = h > log->height_max ? h : log->height_max;
    log->tx_count += rec[0] == CRASH_REC_TX ? 1u : 0u;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads whole records from fd until want more arrived or until deadline_ms (monotonic); with
 * want 0, until EOF. Returns false on EOF. */
static bool parent_read(int fd, crash_log_t *log, size_t want, uint64_t deadline_ms)
{
    static uint8_t partial[CRASH_RECORD_BYTES];
    static size_t partial_len;
    size_t got = 0;
    while (want == 0 || got < want) {
        uint64_t now = now_ms();
        if (now >= deadline_ms) {
            return true;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(deadline_ms - now));
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        assert_true(pr >= 0);
        if (pr == 0) {
            continue;
        }
        ssize_t n = read(fd, partial + partial_len, CRASH_RECORD_BYTES - partial_len);
        if (n <= 0) {
            partial_len = 0; /* a record is written whole, so nothing is lost here */
            return false;
        }
        partial_len += (size_t)n;
        if (partial_len == CRASH_RECORD_BYTES) {
            log_add(log, partial);
            partial_len = 0;
            got++;
        }
    }
    return true;
}

static void parent_check(node_fx_t *nf, const crash_log_t *log, int round)
{
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s/home/data", nf->home);
    kumo_store_t *store = NULL;
    kumo_err_ctx_t err = {0};
    nf_fail("store open", kumo_store_open(dir, NULL, &store, &err), &err);
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(store, &read, &kv, NULL), 0);
    uint64_t height = 0;
    uint8_t app_hash[32];
    assert_int_equal(kumo_store_read_meta_get(read, &height, app_hash, NULL), 0);
    if (height < log->height_max) {
        fail_msg("round %d: store at %" PRIu64 " < reported %" PRIu64, round, height,
                 log->height_max);
    }
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_STORE_RECORD_BYTES_MAX);
    for (size_t i = 0; i < log->count; i++) {
        const uint8_t *rec = log->recs[i];
        uint64_t h = kumo_be64_get(rec + 1);
        if (rec[0] == CRASH_REC_TX) {
            uint64_t at = 0;
            int rc = kumo_node_tx_locate(read, rec + 9, &at, NULL, &err);
            if (rc != 0 || at != h) {
                fail_msg("round %d: committed tx at %" PRIu64 " lost: %s", round, h,
                         kumo_err_name(rc));
            }
            continue;
        }
        kumo_buf_reset(&b);
        nf_fail("block get", kumo_node_block_get(read, h, &b, &err), &err);
        ProtobufCMessage *m = NULL;
        assert_int_equal(
            kumo_codec_unpack(&kumo__block__descriptor, kumo_buf_bytes(&b), b.len, &m, NULL), 0);
        const Kumo__Block *blk = (const Kumo__Block *)m;
        if (memcmp(blk->header->app_hash.data, rec + 9, 32) != 0) {
            fail_msg("round %d: app hash of block %" PRIu64 " changed", round, h);
        }
        kumo_codec_free(m);
    }
    kumo_buf_free(&b);
    kumo_store_read_end(read);
    kumo_store_close(store);
}

static void crash_round(node_fx_t *nf, kumo_test_rng_t *rng, crash_log_t *log, int round)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(nf, fds[1]);
    }
    close(fds[1]);
    /* Kill after a random number of records, then a random 0..15 ms more, so kills land
     * before, inside and after commits. The deadline only bounds a stuck child. */
    size_t want = 1u + (size_t)kumo_test_rng_below(rng, 300);
    bool open = parent_read(fds[0], log, want, now_ms() + 60000u);
    if (open) {
        (void)parent_read(fds[0], log, SIZE_MAX, now_ms() + kumo_test_rng_below(rng, 16));
    }
    kill(pid, SIGKILL);
    /* What the child wrote before dying was committed: keep it. */
    while (parent_read(fds[0], log, 0, now_ms() + 60000u)) {
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fail_msg("round %d: child ended with status 0x%x, not SIGKILL", round, status);
    }
    parent_check(nf, log, round);
}

static void test_node_survives_sigkill_under_load(void **state)
{
    (void)state;
    uint64_t seed = kumo_test_rng_seed_from_env(0x6b756d6fu);
    print_message("crash test seed 0x%" PRIx64 " (rerun: KUMO_SIM_SEED=0x%" PRIx64 ")\n", seed,
                  seed);
    kumo_test_rng_t rng;
    kumo_test_rng_seed(&rng, seed);
    node_fx_t nf;
    nf_home_make(&nf);
    crash_log_t log = {0};
    for (int round = 0; round < CRASH_KILLS; round++) {
        crash_round(&nf, &rng, &log, round);
    }
    print_message("crash test: %d kills, height %" PRIu64 ", %" PRIu64 " txs reported\n",
                  CRASH_KILLS, log.height_max, log.tx_count);
    assert_true(log.tx_count > 0 && log.height_max > 0);
    free(log.recs);
    nf_teardown(&nf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_survives_sigkill_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
