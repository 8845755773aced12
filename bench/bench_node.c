/*
 * bench_node.c - a load generator against a real `kumo node start` process over its HTTP API:
 * pre-signed Send txs from many accounts with pipelined sequences, submitted at increasing
 * offered rates; for each rate, committed txs/s and the p50/p99 submit-to-commit latency as
 * the client sees it (commit = the tx's hash appears in a block announced on GET /events).
 *
 * Baseline in the same run: the market-apply ceiling of the foundation benchmark, the rate at
 * which one core verifies and applies a 10k-Send block (bench_apply measures the same with a
 * mixed block); the node also verifies every signature once, at admission.
 *
 * usage: bench_node [seconds-per-rate]   (default 5). Rates: 250 1000 2000 4000 8000 16000.
 *        bench_node testnet [seconds-per-rate] [validators]
 *                                         the same load (rates 250..8000) first against one
 *                                         validator, then against a `kumo testnet` of that many
 *                                         validators (default 4) on loopback, submitting to
 *                                         node0: throughput and latency of both, their ratio,
 *                                         and the mean block interval vs the configured 1 s.
 *        bench_node hostile [seconds-per-rate] [peers-per-validator]
 *                                         the testnet load twice on fresh 4-validator testnets:
 *                                         clean, then with a process holding that many hostile
 *                                         strangers (default 8) on every validator
 *                                         (bench_hostile.h): both throughputs and block
 *                                         intervals and their ratios (target >= 0.9).
 *        bench_node query [orders]        by-owner query latency with that many open orders
 *                                         (default 1,000,000), idle and under 1000 tx/s of writes
 *                                         (bench_node_query.h).
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench_hostile.h"
#include "bench_util.h"
#include "node/node.h"

#define BN_ACCOUNTS    2000u
#define BN_CONNECTIONS 16u
#define BN_CHAIN_ID    "kumo-bench"
#define BN_TX_MAX      250000u

typedef struct bn_tx {
    kumo_buf_t bytes;
    char *body; /* {"tx":"<base64>"} (malloc'd) */
    uint8_t hash[32];
    uint64_t sent_ns;
    uint64_t commit_ns;
} bn_tx_t;

typedef struct bn {
    char *home;
    char kumo_bin[600];
    uint16_t port;
    pid_t node_pid;
    struct event_base *base;
    struct evhttp_connection *conns[BN_CONNECTIONS];
    struct evhttp_connection *sse_conn;
    struct evhttp_connection *blocks_conn;
    kumo_crypto_keypair_t keys[BN_ACCOUNTS];
    uint8_t addrs[BN_ACCOUNTS][KUMO_ADDRESS_BYTES];
    uint64_t seq[BN_ACCOUNTS];
    bn_tx_t *txs;
    size_t tx_count;
    size_t next_send;
    size_t phase_end;
    uint64_t per_tick;
    uint64_t committed;
    uint64_t rejected;
    uint64_t in_flight;
    struct event *tick;
    uint64_t last_block_seen;
    uint32_t *index; /* open addressing over tx hashes: slot -> tx number + 1 */
    uint8_t (*extra_addrs)[KUMO_ADDRESS_BYTES]; /* more genesis accounts (query mode) */
    size_t extra_count;
    size_t index_slots;
} bn_t;

static bn_t bn;

/* ---- the node process ---- */

static uint16_t bn_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        bench_die("free port", KUMO_EIO, NULL);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void bn_run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_node: failed: %s\n", cmd);
        exit(1);
    }
}

static void bn_node_start(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' init --home '%s' --chain-id %s >/dev/null", bn.kumo_bin,
             bn.home, BN_CHAIN_ID);
    bn_run(cmd);
    for (uint32_t i = 0; i < BN_ACCOUNTS; i++) {
        BENCH_MUST("genesis account",
                   kumo_node_genesis_account_add(bn.home, bn.addrs[i], 1000000000ull, &bench_err_));
    }
    for (size_t i = 0; i < bn.extra_count; i++) {
        BENCH_MUST("genesis account", kumo_node_genesis_account_add(bn.home, bn.extra_addrs[i],
                                                                    1000000000000ull, &bench_err_));
    }
    bn.port = bn_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", bn.port);
    char log[700];
    snprintf(log, sizeof(log), "%s/node.log", bn.home);
    bn.node_pid = fork();
    if (bn.node_pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(bn.kumo_bin, "kumo", "node", "start", "--home", bn.home, "--rpc-listen", listen,
              (char *)NULL);
        _exit(127);
    }
}

static void bn_node_stop(void)
{
    if (bn.node_pid > 0) {
        kill(bn.node_pid, SIGTERM);
        int status;
        waitpid(bn.node_pid, &status, 0);
    }
}

/* ---- HTTP ---- */

typedef struct bn_get {
    bool done;
    int status;
    json_t *json;
} bn_get_t;

static void bn_get_cb(struct evhttp_request *req, void *arg)
{
    bn_get_t *g = arg;
    g->done = true;
    if (req == NULL) {
        return;
    }
    g->status = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *text = malloc(len + 1);
    evbuffer_remove(in, text, len);
    text[len] = '\0';
    g->json = json_loads(text, 0, NULL);
    free(text);
}

/* A blocking GET on the loop (used outside the measured window). */
static json_t *bn_get(const char *path)
{
    bn_get_t g = {0};
    struct evhttp_request *req = evhttp_request_new(bn_get_cb, &g);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (evhttp_make_request(bn.conns[0], req, EVHTTP_REQ_GET, path) != 0) {
        return NULL;
    }
    while (!g.done) {
        event_base_loop(bn.base, EVLOOP_ONCE);
    }
    if (g.status != 200) {
        json_decref(g.json);
        return NULL;
    }
    return g.json;
}

static void bn_wait_ready(void)
{
    uint64_t deadline = bench_now_ns() + 30ull * 1000000000ull;
    while (bench_now_ns() < deadline) {
        json_t *st = bn_get("/status");
        if (st != NULL) {
            json_decref(st);
            return;
        }
        usleep(100000); /* the node is starting; nothing else to do meanwhile */
    }
    bench_die("node did not answer /status within 30 s", KUMO_EIO, NULL);
}

static void bn_submit_cb(struct evhttp_request *req, void *arg)
{
    bn_tx_t *tx = arg;
    bn.in_flight--;
    if (req == NULL || evhttp_request_get_response_code(req) != 200) {
        bn.rejected++;
        tx->sent_ns = 0;
    }
}

static void bn_submit_tx(bn_tx_t *tx, size_t conn)
{
    struct evhttp_request *req = evhttp_request_new(bn_submit_cb, tx);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), tx->body, strlen(tx->body));
    tx->sent_ns = bench_now_ns();
    bn.in_flight++;
    if (evhttp_make_request(bn.conns[conn % BN_CONNECTIONS], req, EVHTTP_REQ_POST, "/txs") != 0) {
        bn.in_flight--;
        bn.rejected++;
        tx->sent_ns = 0;
    }
}

static void bn_submit(size_t i)
{
    bn_submit_tx(&bn.txs[i], i);
}

static void bn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (uint64_t n = 0; n < bn.per_tick && bn.next_send < bn.phase_end; n++) {
        bn_submit(bn.next_send++);
    }
}

/* ---- commits: block events on SSE, then the block's tx hashes ---- */

static size_t bn_slot(const uint8_t hash[32])
{
    return (size_t)(kumo_be64_get(hash) % bn.index_slots);
}

static void bn_index_build(void)
{
    bn.index_slots = (size_t)bn.tx_count * 2 + 1;
    bn.index = calloc(bn.index_slots, sizeof(*bn.index));
    for (size_t i = 0; i < bn.tx_count; i++) {
        size_t slot = bn_slot(bn.txs[i].hash);
        while (bn.index[slot] != 0) {
            slot = (slot + 1) % bn.index_slots;
        }
        bn.index[slot] = (uint32_t)(i + 1);
    }
}

static bn_tx_t *bn_find(const uint8_t hash[32])
{
    for (size_t slot = bn_slot(hash); bn.index[slot] != 0; slot = (slot + 1) % bn.index_slots) {
        bn_tx_t *tx = &bn.txs[bn.index[slot] - 1];
        if (memcmp(tx->hash, hash, 32) == 0) {
            return tx;
        }
    }
    return NULL;
}

/* Marks the txs of a fetched block committed at the time the block was announced. */
static void bn_block_cb(struct evhttp_request *req, void *arg)
{
    uint64_t *announced_ns = arg;
    json_t *blk = NULL;
    if (req != NULL && evhttp_request_get_response_code(req) == 200) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        char *text = malloc(len + 1);
        evbuffer_remove(in, text, len);
        text[len] = '\0';
        blk = json_loads(text, 0, NULL);
        free(text);
    }
    json_t *txs = blk != NULL ? json_object_get(blk, "txs") : NULL;
    size_t i;
    json_t *h;
    json_array_foreach(txs, i, h)
    {
        uint8_t hash[32];
        size_t len = 0;
        const char *hex = json_string_value(h);
        if (hex != NULL && kumo_codec_hex_decode(hex, hash, sizeof(hash), &len, NULL) == 0 &&
            len == 32) {
            bn_tx_t *tx = bn_find(hash);
            if (tx != NULL && tx->commit_ns == 0) {
                tx->commit_ns = *announced_ns;
                bn.committed++;
            }
        }
    }
    json_decref(blk);
    free(announced_ns);
}

/* Fetches a block announced on the event stream, without blocking the loop. */
static void bn_block_seen(uint64_t height)
{
    uint64_t *announced_ns = malloc(sizeof(*announced_ns));
    *announced_ns = bench_now_ns();
    char path[64];
    snprintf(path, sizeof(path), "/blocks/%" PRIu64, height);
    struct evhttp_request *req = evhttp_request_new(bn_block_cb, announced_ns);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (evhttp_make_request(bn.blocks_conn, req, EVHTTP_REQ_GET, path) != 0) {
        free(announced_ns);
    }
}

static void bn_sse_chunk_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    char *line;
    size_t len;
    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
        const char *p = strstr(line, "\"height\"");
        if (strncmp(line, "data:", 5) == 0 && p != NULL) {
            p = strchr(p + 8, '"');
            uint64_t height = p != NULL ? strtoull(p + 1, NULL, 10) : 0;
            if (height > bn.last_block_seen) {
                bn.last_block_seen = height;
                bn_block_seen(height);
            }
        }
        free(line);
    }
}

static void bn_sse_done_cb(struct evhttp_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static void bn_sse_start(void)
{
    bn.sse_conn = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    bn.blocks_conn = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    struct evhttp_request *req = evhttp_request_new(bn_sse_done_cb, NULL);
    evhttp_request_set_chunked_cb(req, bn_sse_chunk_cb);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    json_t *st = bn_get("/status");
    uint64_t head = 0;
    if (st != NULL) {
        head = strtoull(json_string_value(json_object_get(st, "height")) != NULL
                            ? json_string_value(json_object_get(st, "height"))
                            : "0",
                        NULL, 10);
        json_decref(st);
    }
    bn.last_block_seen = head;
    char path[96];
    snprintf(path, sizeof(path), "/events?types=block&from_height=%" PRIu64, head + 1);
    if (evhttp_make_request(bn.sse_conn, req, EVHTTP_REQ_GET, path) != 0) {
        bench_die("sse", KUMO_EIO, NULL);
    }
}

/* ---- txs ---- */

/* Hash and HTTP body of a signed tx. */
static void bn_tx_finish(bn_tx_t *tx)
{
    kumo_crypto_sha256(kumo_buf_bytes(&tx->bytes), tx->hash);
    size_t b64_len = sodium_base64_ENCODED_LEN(tx->bytes.len, sodium_base64_VARIANT_ORIGINAL);
    tx->body = malloc(b64_len + 16);
    memcpy(tx->body, "{\"tx\":\"", 7);
    sodium_bin2base64(tx->body + 7, b64_len, tx->bytes.ptr, tx->bytes.len,
                      sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(tx->body);
    memcpy(tx->body + len, "\"}", 3);
}

/* count Sends round-robin over the accounts, with pipelined sequences. */
static void bn_txs_build(uint64_t min_fee, size_t count)
{
    bn.txs = calloc(count, sizeof(*bn.txs));
    for (size_t i = 0; i < count; i++) {
        uint32_t a = (uint32_t)(i % BN_ACCOUNTS);
        Kumo__MsgSend s = KUMO__MSG_SEND__INIT;
        s.to.data = bn.addrs[(a + 1) % BN_ACCOUNTS];
        s.to.len = KUMO_ADDRESS_BYTES;
        s.amount = 1;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_SEND;
        msg.send = &s;
        Kumo__Msg *msgs[1] = {&msg};
        kumo_buf_init(&bn.txs[i].bytes, KUMO_TX_BYTES_MAX);
        BENCH_MUST("tx", kumo_chain_tx_build(BN_CHAIN_ID, &bn.keys[a], bn.seq[a]++, min_fee, "",
                                             msgs, 1, &bn.txs[i].bytes, &bench_err_));
        bn_tx_finish(&bn.txs[i]);
    }
    bn.tx_count = count;
}

static int bn_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Offers rate tx/s for seconds, then waits up to 15 s for the stragglers to commit; returns
 * the committed rate (txs committed over the time from the first send to the last commit). */
static uint64_t bn_phase(const char *prefix, uint64_t rate, uint64_t seconds)
{
    size_t start = bn.next_send;
    size_t want = (size_t)(rate * seconds);
    if (start + want > bn.tx_count) {
        want = bn.tx_count - start;
    }
    bn.phase_end = start + want;
    bn.per_tick = rate / 100 > 0 ? rate / 100 : 1;
    uint64_t committed_before = bn.committed;
    uint64_t rejected_before = bn.rejected;
    struct timeval tv = {0, 10000};
    bn.tick = event_new(bn.base, -1, EV_PERSIST, bn_tick_cb, NULL);
    event_add(bn.tick, &tv);
    uint64_t t0 = bench_now_ns();
    uint64_t deadline = t0 + (seconds + 15) * 1000000000ull;
    while (bench_now_ns() < deadline) {
        event_base_loop(bn.base, EVLOOP_ONCE);
        bool sent_all = bn.next_send >= bn.phase_end && bn.in_flight == 0;
        if (sent_all && bn.committed - committed_before + (bn.rejected - rejected_before) >= want) {
            break;
        }
    }
    event_free(bn.tick);
    uint64_t last_commit = t0;
    uint64_t *lat = calloc(want + 1, sizeof(*lat));
    size_t n = 0;
    for (size_t i = start; i < bn.phase_end; i++) {
        if (bn.txs[i].commit_ns != 0 && bn.txs[i].sent_ns != 0) {
            lat[n++] = bn.txs[i].commit_ns - bn.txs[i].sent_ns;
            last_commit = bn.txs[i].commit_ns > last_commit ? bn.txs[i].commit_ns : last_commit;
        }
    }
    qsort(lat, n, sizeof(*lat), bn_u64_cmp);
    /* Throughput over the sending window: the first commits come about one median latency
     * after the start, so the window is (last commit - start - p50), never less than the time
     * spent sending. */
    uint64_t send_ns = seconds * 1000000000ull;
    uint64_t p50_ns = n > 0 ? lat[n / 2] : 0;
    uint64_t window_ns = last_commit - t0 > p50_ns ? last_commit - t0 - p50_ns : send_ns;
    char name[96];
    uint64_t committed_rate = bench_rate(n, window_ns > send_ns ? window_ns : send_ns);
    snprintf(name, sizeof(name), "%s_offered_%" PRIu64 "_committed_per_s", prefix, rate);
    bench_result(name, committed_rate, "1/s");
    snprintf(name, sizeof(name), "%s_offered_%" PRIu64 "_p50_ms", prefix, rate);
    bench_result(name, n > 0 ? lat[n / 2] / 1000000 : 0, "ms");
    snprintf(name, sizeof(name), "%s_offered_%" PRIu64 "_p99_ms", prefix, rate);
    bench_result(name, n > 0 ? lat[n * 99 / 100] / 1000000 : 0, "ms");
    snprintf(name, sizeof(name), "%s_offered_%" PRIu64 "_rejected", prefix, rate);
    bench_result(name, bn.rejected - rejected_before, "txs");
    free(lat);
    return committed_rate;
}

/* ---- the ceiling ---- */

/* One core verifying and applying a block of 10k Sends. */
static uint64_t bn_apply_ceiling(void)
{
    char *dir = bench_tmpdir("node-ceiling");
    Kumo__Params params = KUMO__PARAMS__INIT;
    kumo_market_params_default(&params);
    Kumo__GenesisBalance *bal = calloc(BN_ACCOUNTS, sizeof(*bal));
    Kumo__GenesisBalance **ptrs = calloc(BN_ACCOUNTS, sizeof(*ptrs));
    for (uint32_t i = 0; i < BN_ACCOUNTS; i++) {
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address.data = bn.addrs[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = 1000000000ull;
        ptrs[i] = &bal[i];
    }
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    g.chain_id = BN_CHAIN_ID;
    g.params = &params;
    g.n_balances = BN_ACCOUNTS;
    g.balances = ptrs;
    kumo_node_local_cfg_t cfg = {.dir = dir, .chain_id = BN_CHAIN_ID, .no_sync = true};
    kumo_node_t *net = NULL;
    BENCH_MUST("ceiling open", kumo_node_local_open(&cfg, &g, &net, &bench_err_));
    kumo_node_status_t st;
    kumo_node_status_get(net, &st);
    size_t n = 10000;
    kumo_bytes_t *txs = calloc(n, sizeof(*txs));
    for (size_t i = 0; i < n; i++) {
        txs[i] = kumo_buf_bytes(&bn.txs[i].bytes);
    }
    kumo_kv_t kv;
    BENCH_MUST("begin", kumo_store_block_begin(kumo_node_store(net), &kv, &bench_err_));
    kumo_chain_block_in_t in = {.chain_id = BN_CHAIN_ID,
                                .height = 1,
                                .prev_app_hash = st.app_hash,
                                .txs = txs,
                                .tx_count = n};
    kumo_chain_block_out_t out;
    uint64_t t0 = bench_now_ns();
    BENCH_MUST("apply", kumo_chain_block_apply(&kv, &in, &out, &bench_err_));
    uint64_t ns = bench_now_ns() - t0;
    bench_result("ceiling_block_txs_ok", out.tx_ok_count, "txs");
    kumo_chain_block_out_free(&out);
    kumo_store_block_abort(kumo_node_store(net));
    free(txs);
    free(bal);
    free(ptrs);
    kumo_node_close(net);
    bench_rmdir(dir);
    return bench_rate(n, ns);
}

#include "bench_node_query.h"

/* ---- the same load against a multi-validator testnet ---- */

/* Mean header time between consecutive blocks over the last count blocks, in ms. */
static uint64_t bn_block_interval_ms(uint64_t count)
{
    json_t *st = bn_get("/status");
    const char *hs = st != NULL ? json_string_value(json_object_get(st, "height")) : NULL;
    uint64_t head = hs != NULL ? strtoull(hs, NULL, 10) : 0;
    json_decref(st);
    if (head < count + 1) {
        return 0;
    }
    uint64_t t[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        char path[64];
        snprintf(path, sizeof(path), "/blocks/%" PRIu64, k == 0 ? head - count : head);
        json_t *b = bn_get(path);
        const char *tm =
            json_string_value(json_object_get(json_object_get(b, "header"), "time_ms"));
        t[k] = tm != NULL ? strtoull(tm, NULL, 10) : 0;
        json_decref(b);
    }
    return t[1] > t[0] ? (t[1] - t[0]) / count : 0;
}

/* A testnet of validators in a temp dir with the bench accounts in genesis; node0 serves. */
static char *bn_testnet_start(uint32_t validators)
{
    char *dir = bench_tmpdir("testnet");
    /* Fixed ports below the ephemeral range (32768+), where outgoing connections land. */
    bn.port = (uint16_t)(20000u + ((uint32_t)getpid() % 1000u) * 10u);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "'%s' testnet init --dir '%s' --validators %u --providers 0 --chain-id %s "
             "--base-port %u >/dev/null",
             bn.kumo_bin, dir, validators, BN_CHAIN_ID, bn.port);
    bn_run(cmd);
    for (uint32_t v = 0; v < validators; v++) {
        char home[700];
        snprintf(home, sizeof(home), "%s/node%u", dir, v);
        for (uint32_t i = 0; i < BN_ACCOUNTS; i++) {
            BENCH_MUST("genesis account", kumo_node_genesis_account_add(
                                              home, bn.addrs[i], 1000000000ull, &bench_err_));
        }
    }
    snprintf(cmd, sizeof(cmd), "'%s' testnet start --dir '%s' >/dev/null", bn.kumo_bin, dir);
    bn_run(cmd);
    return dir;
}

/* One chain (single validator or testnet) under the rates; returns the best committed rate
 * and sets *interval_ms to the block interval measured at the lowest rate. */
static uint64_t bn_chain_run(const char *prefix, uint64_t seconds, uint64_t *interval_ms)
{
    static const uint64_t rates[] = {250, 1000, 2000, 4000, 8000};
    bn.base = event_base_new();
    for (uint32_t i = 0; i < BN_CONNECTIONS; i++) {
        bn.conns[i] = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    }
    bn_wait_ready();
    bn_sse_start();
    bn.next_send = 0; /* a fresh chain: every account starts at sequence 0 again */
    for (size_t i = 0; i < bn.tx_count; i++) {
        bn.txs[i].sent_ns = 0;
        bn.txs[i].commit_ns = 0;
    }
    uint64_t best = 0;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        uint64_t rate = bn_phase(prefix, rates[r], seconds);
        best = rate > best ? rate : best;
        if (r == 0) {
            *interval_ms = bn_block_interval_ms(4);
        }
    }
    for (uint32_t i = 0; i < BN_CONNECTIONS; i++) {
        evhttp_connection_free(bn.conns[i]);
    }
    evhttp_connection_free(bn.sse_conn);
    evhttp_connection_free(bn.blocks_conn);
    event_base_free(bn.base);
    return best;
}

static int bn_testnet_main(uint64_t seconds, uint32_t validators, uint64_t min_fee)
{
    fprintf(stderr, "bench_node: signing %u txs...\n", BN_TX_MAX);
    bn_txs_build(min_fee, BN_TX_MAX);
    bn_index_build();
    uint64_t interval[2] = {0, 0};
    bn.home = bench_tmpdir("node");
    bn_node_start();
    uint64_t single = bn_chain_run("single", seconds, &interval[0]);
    bn_node_stop();
    bench_rmdir(bn.home);
    char *dir = bn_testnet_start(validators);
    uint64_t testnet = bn_chain_run("testnet", seconds, &interval[1]);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' testnet stop --dir '%s' >/dev/null", bn.kumo_bin, dir);
    bn_run(cmd);
    bench_rmdir(dir);
    bench_result("single_best_committed_per_s", single, "1/s");
    bench_result("testnet_best_committed_per_s", testnet, "1/s");
    bench_ratio("testnet_vs_single_throughput", testnet, single);
    bench_result("single_block_interval_ms", interval[0], "ms");
    bench_result("testnet_block_interval_ms", interval[1], "ms");
    bench_ratio("testnet_block_interval_vs_configured", interval[1], 1000);
    return 0;
}

/* Clean testnet, then the same with hostile strangers on every validator. */
static int bn_hostile_main(uint64_t seconds, uint32_t per_validator, uint64_t min_fee)
{
    fprintf(stderr, "bench_node: signing %u txs...\n", BN_TX_MAX);
    bn_txs_build(min_fee, BN_TX_MAX);
    bn_index_build();
    uint64_t best[2] = {0, 0};
    uint64_t interval[2] = {0, 0};
    for (int run = 0; run < 2; run++) {
        char *dir = bn_testnet_start(4);
        pid_t hostile = 0;
        if (run == 1) {
            hostile = fork();
            if (hostile == 0) {
                /* The attacker would be on other machines: at the lowest priority here, its
                 * own work takes only what the nodes leave, and what is measured is the
                 * nodes' cost of handling it. */
                if (nice(19) < 0) {
                    perror("nice");
                }
                bh_run(dir, BN_CHAIN_ID, per_validator);
            }
        }
        best[run] = bn_chain_run(run == 0 ? "clean" : "hostile", seconds, &interval[run]);
        if (hostile > 0) {
            (void)kill(hostile, SIGKILL);
            (void)waitpid(hostile, NULL, 0);
        }
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "'%s' testnet stop --dir '%s' >/dev/null", bn.kumo_bin, dir);
        bn_run(cmd);
        bench_rmdir(dir);
    }
    bench_result("hostile_peers_per_validator", per_validator, "peers");
    bench_result("clean_best_committed_per_s", best[0], "1/s");
    bench_result("hostile_best_committed_per_s", best[1], "1/s");
    bench_ratio("hostile_vs_clean_throughput", best[1], best[0]);
    bench_result("clean_block_interval_ms", interval[0], "ms");
    bench_result("hostile_block_interval_ms", interval[1], "ms");
    bench_ratio("clean_vs_hostile_block_interval", interval[0], interval[1]);
    return 0;
}

int main(int argc, char **argv)
{
    bool mode = argc > 1 && (strcmp(argv[1], "query") == 0 || strcmp(argv[1], "testnet") == 0 ||
                             strcmp(argv[1], "hostile") == 0);
    uint64_t seconds = argc > 1 && !mode ? strtoull(argv[1], NULL, 10) : 5;
    if (kumo_crypto_init() != 0) {
        return 1;
    }
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        return 1;
    }
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(bn.kumo_bin, sizeof(bn.kumo_bin), "%s/kumo", self);
    for (uint32_t i = 0; i < BN_ACCOUNTS; i++) {
        bench_key(9, i, &bn.keys[i], bn.addrs[i]);
    }
    Kumo__Params defaults = KUMO__PARAMS__INIT;
    kumo_market_params_default(&defaults); /* what `kumo init` writes into genesis */
    if (argc > 1 && strcmp(argv[1], "query") == 0) {
        return bq_main(argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000, &defaults);
    }
    if (argc > 1 && strcmp(argv[1], "testnet") == 0) {
        return bn_testnet_main(argc > 2 ? strtoull(argv[2], NULL, 10) : 5,
                               argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 4,
                               defaults.min_fee);
    }
    if (argc > 1 && strcmp(argv[1], "hostile") == 0) {
        return bn_hostile_main(argc > 2 ? strtoull(argv[2], NULL, 10) : 5,
                               argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 8,
                               defaults.min_fee);
    }
    fprintf(stderr, "bench_node: signing %u txs...\n", BN_TX_MAX);
    bn_txs_build(defaults.min_fee, BN_TX_MAX);
    bn_index_build();
    uint64_t ceiling = bn_apply_ceiling();
    bench_result("market_apply_ceiling_txs_per_s", ceiling, "1/s");
    bn.home = bench_tmpdir("node");
    bn_node_start();
    bn.base = event_base_new();
    for (uint32_t i = 0; i < BN_CONNECTIONS; i++) {
        bn.conns[i] = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    }
    bn_wait_ready();
    bn_sse_start();
    static const uint64_t rates[] = {250, 1000, 2000, 4000, 8000, 16000};
    uint64_t best = 0;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        uint64_t rate = bn_phase("node", rates[r], seconds);
        best = rate > best ? rate : best;
    }
    bench_ratio("node_best_committed_vs_ceiling", best, ceiling);
    bn_node_stop();
    bench_rmdir(bn.home);
    return 0;
}
