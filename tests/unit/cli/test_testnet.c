/*
 * test_testnet.c - four validators as real processes on loopback (`kumo testnet`), driven
 * through kill -9 and restarts: blocks are agreed by every node (same header at every
 * height: no fork), one validator down leaves the rest committing, two down halt the chain,
 * restarting them resumes it, a validator whose store was wiped block-syncs back, and
 * validators restarted never sign twice (no duplicate vote is seen), and a validator built to
 * equivocate (test hooks) is caught: its duplicate vote ends up as evidence in a block; a
 * non-validator peer sending a signed vote, garbage or a malformed proposal part on the
 * consensus channel is dropped. Proposals travel in 256-byte parts here (test hooks).
 *
 * The binary is $KUMO_BIN or ./kumo (ctest runs in the build dir). Every wait polls against a
 * deadline; node logs are printed on failure. Ports: a block of 40 from a pid-derived base.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "consensus/consensus.h"
#include "core/core.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "p2p/p2p.h"

#define TN_NODES        4u
#define TN_BLOCK_MS     "200"
#define TN_WAIT_MS      60000u
#define TN_ANSWER_BYTES (4u * 1024u * 1024u)

typedef struct tn {
    char *dir;
    kumo_test_podman_t pm; /* the container runtime the provider checks before bidding */
    char kumo[PATH_MAX];
    uint32_t base_port;
    bool skip;
} tn_t;

static tn_t g;

static uint64_t tn_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tn_pause_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

static void tn_logs_print(void)
{
    for (uint32_t i = 0; i < TN_NODES; i++) {
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/node%u/node.log", g.dir, i);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        fprintf(stderr, "---- node%u log (last 40 lines) ----\n", i);
        char lines[40][512];
        size_t n = 0;
        while (fgets(lines[n % 40], sizeof(lines[0]), f) != NULL) {
            n++;
        }
        for (size_t k = n > 40 ? n - 40 : 0; k < n; k++) {
            fputs(lines[k % 40], stderr);
        }
        (void)fclose(f);
    }
}

/* Runs kumo with space-separated arguments (output to dir/cmd.log); returns the exit code. */
static int tn_kumo(const char *fmt, ...) KUMO_PRINTF(1, 2);
static int tn_kumo(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    char *argv[32];
    int argc = 0;
    argv[argc++] = g.kumo;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        assert_true(argc < 31);
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    char log[1200];
    (void)snprintf(log, sizeof(log), "%s/cmd.log", g.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execv(g.kumo, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static size_t tn_curl_write(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *buf = ctx;
    return kumo_buf_append(buf, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* GET http://127.0.0.1:<node's port><path> as JSON, or NULL if it does not answer 200. */
static json_t *tn_get(uint32_t node, const char *path)
{
    char url[256];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", g.base_port + 10u * node, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    kumo_buf_t buf;
    kumo_buf_init(&buf, TN_ANSWER_BYTES);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tn_curl_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    long status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK &&
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200) {
        j = json_loadb((const char *)buf.ptr, buf.len, 0, NULL);
    }
    kumo_buf_free(&buf);
    curl_easy_cleanup(c);
    return j;
}

static uint64_t tn_u64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? strtoull(json_string_value(v), NULL, 10)
                             : (json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
}

/* The node's height, or -1 when it does not answer. */
static int64_t tn_height(uint32_t node)
{
    json_t *st = tn_get(node, "/status");
    int64_t h = st != NULL ? (int64_t)tn_u64(st, "height") : -1;
    json_decref(st);
    return h;
}

/* Waits until every node in mask is at height >= h. */
static void tn_wait_height(uint32_t mask, int64_t h)
{
    uint64_t deadline = tn_now_ms() + TN_WAIT_MS;
    for (;;) {
        bool all = true;
        for (uint32_t i = 0; i < TN_NODES; i++) {
            all = all && ((mask & (1u << i)) == 0 || tn_height(i) >= h);
        }
        if (all) {
            return;
        }
        if (tn_now_ms() > deadline) {
            tn_logs_print();
            fail_msg("nodes 0x%x did not reach height %" PRId64, mask, h);
        }
        tn_pause_ms(100);
    }
}

static int64_t tn_height_max(uint32_t mask)
{
    int64_t best = -1;
    for (uint32_t i = 0; i < TN_NODES; i++) {
        int64_t h = (mask & (1u << i)) != 0 ? tn_height(i) : -1;
        best = h > best ? h : best;
    }
    return best;
}

/* Every node in mask has the same block header at every height in [from, to]. */
static void tn_blocks_agree(uint32_t mask, uint64_t from, uint64_t to)
{
    for (uint64_t h = from; h <= to; h++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
        json_t *first = NULL;
        for (uint32_t i = 0; i < TN_NODES; i++) {
            if ((mask & (1u << i)) == 0) {
                continue;
            }
            json_t *b = tn_get(i, path);
            assert_non_null(b);
            json_t *hdr = json_object_get(b, "header");
            assert_non_null(hdr);
            if (first == NULL) {
                first = json_incref(hdr);
            } else if (!json_equal(first, hdr)) {
                tn_logs_print();
                fail_msg("fork: node%u disagrees at height %" PRIu64, i, h);
            }
            json_decref(b);
        }
        json_decref(first);
    }
}

static pid_t tn_pid(uint32_t node)
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/node%u/node.pid", g.dir, node);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        (void)fclose(f);
    }
    return (pid_t)pid;
}

static void tn_kill9(uint32_t node)
{
    pid_t pid = tn_pid(node);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    uint64_t deadline = tn_now_ms() + 10000u;
    while (kill(pid, 0) == 0 && tn_now_ms() < deadline) {
        tn_pause_ms(20);
    }
}

/* How many lines of node i's log contain needle. */
static size_t tn_log_count(uint32_t node, const char *needle)
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/node%u/node.log", g.dir, node);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    char line[2048];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL ? 1u : 0u;
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return n;
}

static const uint32_t tn_all = (1u << TN_NODES) - 1u;

static void test_blocks_agree(void **state)
{
    (void)state;
    tn_wait_height(tn_all, 4);
    tn_blocks_agree(tn_all, 1, 4);
}

static void test_one_down_continues(void **state)
{
    (void)state;
    tn_kill9(3);
    int64_t h = tn_height_max(0x7u);
    tn_wait_height(0x7u, h + 3);
    tn_blocks_agree(0x7u, 1, (uint64_t)h + 3u);
}

static void test_two_down_halt_then_resume(void **state)
{
    (void)state;
    tn_kill9(2);
    /* Let a block already decided land, then no more can: 2 of 4 is not +2/3. */
    tn_pause_ms(1000);
    int64_t h = tn_height_max(0x3u);
    tn_pause_ms(3000);
    assert_true(tn_height_max(0x3u) <= h + 1);
    assert_int_equal(tn_kumo("testnet start --dir %s --timeout 60", g.dir), 0);
    int64_t now = tn_height_max(tn_all);
    tn_wait_height(tn_all, now + 3);
    tn_blocks_agree(tn_all, 1, (uint64_t)now + 3u);
}

static void test_wiped_node_block_syncs(void **state)
{
    (void)state;
    tn_kill9(3);
    char cmd[1300];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s/node3/data", g.dir);
    assert_int_equal(system(cmd), 0);
    int64_t h = tn_height_max(0x7u);
    tn_wait_height(0x7u, h + 5); /* the others move on */
    assert_int_equal(tn_kumo("testnet start --dir %s --timeout 60", g.dir), 0);
    int64_t target = tn_height_max(0x7u);
    tn_wait_height(tn_all, target + 1);
    tn_blocks_agree(tn_all, 1, (uint64_t)target + 1u);
    assert_true(tn_log_count(3, "block_sync_done") >= 1u);
}

/* A child that keeps sending txs to node0 (the tenant pays itself) until killed. */
static pid_t tn_load_start(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;) {
            (void)tn_kumo("tx bank send --from tenant --home %s/tenant --node http://127.0.0.1:%u "
                          "tenant 1",
                          g.dir, g.base_port);
        }
    }
    return pid;
}

static void test_restart_no_double_sign(void **state)
{
    (void)state;
    pid_t load = tn_load_start();
    for (uint32_t round = 0; round < 3; round++) {
        uint32_t victim = round % TN_NODES;
        tn_kill9(victim);
        assert_int_equal(tn_kumo("testnet start --dir %s --timeout 60", g.dir), 0);
        tn_wait_height(tn_all, tn_height_max(tn_all) + 2);
    }
    (void)kill(load, SIGKILL);
    (void)waitpid(load, NULL, 0);
    for (uint32_t i = 0; i < TN_NODES; i++) {
        assert_int_equal(tn_log_count(i, "event=duplicate_vote"), 0);
    }
}

/* True when the kumo binary was built with KUMO_TEST_HOOKS (debug and ASan presets). */
static bool tn_has_test_hooks(void)
{
    char cmd[PATH_MAX + 64];
    (void)snprintf(cmd, sizeof(cmd), "'%s' version | grep -q 'test hooks: on'", g.kumo);
    return system(cmd) == 0;
}

/* The first height in [from, to] whose block on node carries evidence, or 0. */
static uint64_t tn_evidence_height(uint32_t node, uint64_t from, uint64_t to)
{
    for (uint64_t h = from; h <= to; h++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
        json_t *b = tn_get(node, path);
        size_t n = json_array_size(json_object_get(b, "evidence"));
        json_decref(b);
        if (n > 0) {
            return h;
        }
    }
    return 0;
}

/* A validator that prevotes both a value and nil: the others see the duplicate vote, gossip
 * the evidence and a proposer puts it in a block; the chain goes on. */
static void test_equivocator_evidence_in_block(void **state)
{
    (void)state;
    if (!tn_has_test_hooks()) {
        fprintf(stderr, "skipped: this kumo build has no test hooks (release)\n");
        skip();
    }
    tn_kill9(3);
    assert_int_equal(setenv("KUMO_TEST_EQUIVOCATE", "node3", 1), 0);
    int rc = tn_kumo("testnet start --dir %s --timeout 60", g.dir);
    assert_int_equal(unsetenv("KUMO_TEST_EQUIVOCATE"), 0);
    assert_int_equal(rc, 0);
    int64_t from = tn_height_max(tn_all);
    uint64_t found = 0;
    uint64_t deadline = tn_now_ms() + TN_WAIT_MS;
    while (found == 0 && tn_now_ms() < deadline) {
        int64_t h = tn_height(0);
        found = h > from ? tn_evidence_height(0, (uint64_t)from + 1u, (uint64_t)h) : 0;
        if (found == 0) {
            tn_pause_ms(200);
        }
    }
    if (found == 0) {
        tn_logs_print();
        fail_msg("no block with evidence after height %" PRId64, from);
    }
    tn_wait_height(tn_all, (int64_t)found + 2);
    tn_blocks_agree(tn_all, (uint64_t)from, found + 2u);
    /* Back to an honest node3 for whatever runs next. */
    tn_kill9(3);
    assert_int_equal(tn_kumo("testnet start --dir %s --timeout 60", g.dir), 0);
}

/* ---- a peer that is not a validator ---- */

typedef struct tn_outsider {
    uint32_t ups;
    uint32_t downs;
} tn_outsider_t;

static void out_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    (void)id;
    (void)pk;
    ((tn_outsider_t *)ctx)->ups++;
}

static void out_down(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    (void)id;
    ((tn_outsider_t *)ctx)->downs++;
}

static void tn_loop_until(struct event_base *base, const uint32_t *counter, uint32_t want)
{
    uint64_t deadline = tn_now_ms() + 10000u;
    while (*counter < want && tn_now_ms() < deadline) {
        struct timeval tv = {0, 20000};
        (void)event_base_loopexit(base, &tv);
        (void)event_base_dispatch(base);
    }
    assert_true(*counter >= want);
}

/* Dials node0 as a non-validator, sends it payload on the consensus channel and expects to
 * be disconnected for it. */
static void
tn_outsider_sends(uint8_t key_tag,
                  kumo_bytes_t (*make)(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp))
{
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/testnet.json", g.dir);
    json_t *desc = json_load_file(path, 0, NULL);
    const json_t *v0 = json_array_get(json_object_get(desc, "validators"), 0);
    char peer[256];
    (void)snprintf(peer, sizeof(peer), "%s@%s", json_string_value(json_object_get(v0, "node_id")),
                   json_string_value(json_object_get(v0, "p2p")));
    json_decref(desc);
    struct event_base *base = event_base_new();
    kumo_crypto_keypair_t kp;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, key_tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &kp);
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = "kumo-testnet";
    cfg.node_key = &kp;
    cfg.redial_min_ms = 60000; /* once dropped, stay away */
    cfg.redial_max_ms = 60000;
    assert_int_equal(kumo_p2p_peer_addr_parse(peer, &cfg.persistent[0], NULL), 0);
    cfg.persistent_count = 1;
    tn_outsider_t o = {0};
    kumo_p2p_callbacks_t cb = {.ctx = &o, .peer_up = out_up, .peer_down = out_down};
    kumo_p2p_t *p2p = NULL;
    assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &p2p, NULL), 0);
    tn_loop_until(base, &o.ups, 1);
    uint8_t buf[512];
    kumo_bytes_t payload = make(buf, sizeof(buf), &kp);
    assert_int_equal(kumo_p2p_send(p2p, cfg.persistent[0].id, KUMO_P2P_CH_CONSENSUS, payload, NULL),
                     0);
    tn_loop_until(base, &o.downs, 1);
    kumo_p2p_close(p2p);
    event_base_free(base);
}

static kumo_bytes_t tn_outsider_vote(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PREVOTE,
                              .height = (uint64_t)tn_height(0) + 1u,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE};
    assert_int_equal(kumo_consensus_msg_sign(&m, "kumo-testnet", kp), 0);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, cap, &len), 0);
    return kumo_bytes_make(buf, len);
}

static kumo_bytes_t tn_garbage(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    (void)kp;
    memset(buf, 0x7f, cap);
    return kumo_bytes_make(buf, 40);
}

/* A proposal part (tag 0xff) whose offset and length do not fit the part size. */
static kumo_bytes_t tn_bad_part(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    (void)kp;
    memset(buf, 0x11, cap);
    buf[0] = 0xff;
    return kumo_bytes_make(buf, 100);
}

/* Bad peers: a vote signed by a non-validator and a garbage consensus frame each get the
 * sender disconnected, and the chain goes on. */
static void test_bad_peers_dropped(void **state)
{
    (void)state;
    size_t unauth = tn_log_count(0, "KUMO_EUNAUTH");
    size_t decode = tn_log_count(0, "KUMO_EDECODE") + tn_log_count(0, "KUMO_EUNKNOWNMSG");
    tn_outsider_sends(0x61, tn_outsider_vote);
    tn_outsider_sends(0x62, tn_garbage);
    size_t parts = tn_log_count(0, "consensus part");
    tn_outsider_sends(0x63, tn_bad_part);
    assert_true(tn_log_count(0, "consensus part") > parts);
    assert_true(tn_log_count(0, "KUMO_EUNAUTH") > unauth);
    assert_true(tn_log_count(0, "KUMO_EDECODE") + tn_log_count(0, "KUMO_EUNKNOWNMSG") > decode);
    int64_t h = tn_height_max(tn_all);
    tn_wait_height(tn_all, h + 2);
    tn_blocks_agree(tn_all, (uint64_t)h, (uint64_t)h + 2u);
}

/* A datacenter's home and its registration through the testnet: config, key, root CA (key
 * 0600), MsgCreateProvider with the root certificate; a second init refuses. */
static void test_provider_init_register(void **state)
{
    (void)state;
    char home[1200];
    (void)snprintf(home, sizeof(home), "%s/provider0", g.dir);
    assert_true(kumo_test_podman_start(&g.pm));
    assert_int_equal(tn_kumo("provider init --home %s --region us-east --node "
                             "http://127.0.0.1:%u --runtime-socket %s --api-listen 127.0.0.1:0",
                             home, g.base_port, g.pm.socket),
                     0);
    char path[1300];
    (void)snprintf(path, sizeof(path), "%s/ca.key", home);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(tn_kumo("provider init --home %s --region us-east", home), 1);
    assert_int_equal(tn_kumo("provider register --home %s", home), 0);
    json_t *list = tn_get(1, "/providers");
    const json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 1);
    const json_t *p = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(p, "region")), "us-east");
    assert_non_null(
        strstr(json_string_value(json_object_get(p, "root_cert_pem")), "BEGIN CERTIFICATE"));
    json_decref(list);
}

/* The provider daemon follows the event stream and bids on a tenant's order in its region;
 * the facilitator leases its bid; SIGTERM stops it cleanly. */
static void test_provider_bids_and_wins(void **state)
{
    (void)state;
    char home[1200];
    char log[1300];
    (void)snprintf(home, sizeof(home), "%s/provider0", g.dir);
    (void)snprintf(log, sizeof(log), "%s/provider.log", g.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execl(g.kumo, "kumo", "provider", "start", "--home", home, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(
        tn_kumo("tx deployment create --home %s/tenant --from tenant --node http://127.0.0.1:%u "
                "--dseq 1 --wait-blocks 2 --deposit 200000 --version "
                "1111111111111111111111111111111111111111111111111111111111111111 --group "
                "name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=2,price=40,"
                "collateral=5000 --wait",
                g.dir, g.base_port + 10u),
        0);
    uint64_t deadline = tn_now_ms() + TN_WAIT_MS;
    size_t leases = 0;
    while (leases == 0 && tn_now_ms() < deadline) {
        json_t *l = tn_get(2, "/leases?state=LEASE_ACTIVE");
        leases = json_array_size(json_object_get(l, "items"));
        json_decref(l);
        tn_pause_ms(100);
    }
    (void)kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(log, "r");
    char line[1024];
    size_t bids = 0;
    size_t won = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        bids += strstr(line, "event=bid_sent") != NULL ? 1u : 0u;
        won += strstr(line, "event=lease_won") != NULL ? 1u : 0u;
        if (leases == 0) {
            fputs(line, stderr);
        }
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    assert_int_equal(leases, 1);
    assert_int_equal(bids, 1);
    assert_int_equal(won, 1);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int tn_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    const char *bin = getenv("KUMO_BIN");
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", bin != NULL && bin[0] != '\0' ? bin : "./kumo");
    char abs[PATH_MAX];
    if (access(g.kumo, X_OK) != 0 || realpath(g.kumo, abs) == NULL) {
        fprintf(stderr, "no kumo binary: set KUMO_BIN or run in the build dir\n");
        return -1;
    }
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", abs);
    g.dir = kumo_test_tmpdir_make("kumo-testnet");
    /* Test builds send every proposal over 256 bytes in parts (production: 64 KiB). */
    assert_int_equal(setenv("KUMO_TEST_PART_BYTES", "256", 1), 0);
    assert_non_null(g.dir);
    /* Below the kernel's ephemeral range (32768+), where outgoing connections take ports. */
    g.base_port = 20000u + ((uint32_t)getpid() % 250u) * 50u;
    if (tn_kumo("testnet init --dir %s --validators 4 --providers 1 --base-port %u "
                "--block-interval-ms " TN_BLOCK_MS,
                g.dir, g.base_port) != 0 ||
        tn_kumo("testnet start --dir %s --timeout 60", g.dir) != 0) {
        tn_logs_print();
        return -1;
    }
    return 0;
}

static int tn_teardown(void **state)
{
    (void)state;
    kumo_test_podman_stop(&g.pm);
    if (g.dir != NULL) {
        (void)tn_kumo("testnet stop --dir %s", g.dir);
        kumo_test_tmpdir_remove(g.dir);
        g.dir = NULL;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_agree),
        cmocka_unit_test(test_bad_peers_dropped),
        cmocka_unit_test(test_provider_init_register),
        cmocka_unit_test(test_provider_bids_and_wins),
        cmocka_unit_test(test_one_down_continues),
        cmocka_unit_test(test_two_down_halt_then_resume),
        cmocka_unit_test(test_wiped_node_block_syncs),
        cmocka_unit_test(test_restart_no_double_sign),
        cmocka_unit_test(test_equivocator_evidence_in_block),
    };
    return cmocka_run_group_tests(tests, tn_setup, tn_teardown);
}
