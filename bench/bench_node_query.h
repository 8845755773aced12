/*
 * bench_node_query.h - `bench_node query [N]`: the node's by-owner query latency with N open
 * orders in state (1000 owners, N/1000 each), first idle, then while 1000 tx/s of Sends are
 * being written. Part of bench_node.c (included there; uses its helpers).
 *
 * The orders are made through the node itself: each owner sends txs of 100 SubmitDeployment
 * msgs (one group each, so one open order each; nobody bids, so none is ever matched).
 */
#ifndef KUMO_BENCH_NODE_QUERY_H
#define KUMO_BENCH_NODE_QUERY_H

#include <sys/stat.h>

#define BQ_OWNERS      1000u
#define BQ_MSGS_PER_TX 100u

typedef struct bq {
    kumo_crypto_keypair_t keys[BQ_OWNERS];
    uint8_t addrs[BQ_OWNERS][KUMO_ADDRESS_BYTES];
    char addr_text[BQ_OWNERS][KUMO_ADDRESS_TEXT_BYTES];
    struct evhttp_connection *conn;
    uint64_t *lat;
    size_t lat_count;
    size_t lat_cap;
    uint64_t sent_ns;
    uint64_t deadline_ns;
    uint32_t next_owner;
    bool busy;
} bq_t;

static bq_t bq;

/* One tx of BQ_MSGS_PER_TX deployments dseq first..first+99 from owner o. */
static void bq_deploy_tx(uint32_t o, uint64_t first_dseq, uint64_t seq, uint64_t fee, bn_tx_t *tx)
{
    bench_deploy_msg_t m[BQ_MSGS_PER_TX];
    const Kumo__Msg *msgs[BQ_MSGS_PER_TX];
    for (uint32_t k = 0; k < BQ_MSGS_PER_TX; k++) {
        msgs[k] = bench_deploy_msg(&m[k], first_dseq + k, 1, 10);
        m[k].sd.deposit = 100000;
    }
    kumo_buf_init(&tx->bytes, KUMO_TX_BYTES_MAX);
    BENCH_MUST("deploy tx", kumo_chain_tx_build(BN_CHAIN_ID, &bq.keys[o], seq, fee, "",
                                                (Kumo__Msg *const *)(uintptr_t)msgs, BQ_MSGS_PER_TX,
                                                &tx->bytes, &bench_err_));
    bn_tx_finish(tx);
}

static uint64_t bq_status_u64(const char *field)
{
    json_t *st = bn_get("/status");
    const char *v = st != NULL ? json_string_value(json_object_get(st, field)) : NULL;
    uint64_t out = v != NULL ? strtoull(v, NULL, 10) : UINT64_MAX;
    json_decref(st);
    return out;
}

/* Submits one wave of txs and waits until the mempool has drained. */
static void bq_wave(bn_tx_t *txs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bn_submit_tx(&txs[i], i);
    }
    while (bn.in_flight > 0) {
        event_base_loop(bn.base, EVLOOP_ONCE);
    }
    uint64_t deadline = bench_now_ns() + 120ull * 1000000000ull;
    while (bq_status_u64("mempool_txs") != 0 && bench_now_ns() < deadline) {
        usleep(100000); /* blocks are being made; nothing to do meanwhile */
    }
}

static void bq_fill(uint64_t orders, uint64_t fee)
{
    uint64_t per_owner = orders / BQ_OWNERS;
    uint64_t batches = per_owner / BQ_MSGS_PER_TX;
    bn_tx_t *wave = calloc(BQ_OWNERS, sizeof(*wave));
    uint64_t t0 = bench_now_ns();
    for (uint64_t b = 0; b < batches; b++) {
        for (uint32_t o = 0; o < BQ_OWNERS; o++) {
            bq_deploy_tx(o, 1 + b * BQ_MSGS_PER_TX, b, fee, &wave[o]);
        }
        bq_wave(wave, BQ_OWNERS);
        for (uint32_t o = 0; o < BQ_OWNERS; o++) {
            kumo_buf_free(&wave[o].bytes);
            free(wave[o].body);
        }
        memset(wave, 0, BQ_OWNERS * sizeof(*wave));
        fprintf(stderr, "bench_node: %" PRIu64 " orders\n", (b + 1) * BQ_MSGS_PER_TX * BQ_OWNERS);
    }
    free(wave);
    bench_result("query_orders_fill_s", (bench_now_ns() - t0) / 1000000000ull, "s");
    bench_result("query_orders_rejected_txs", bn.rejected, "txs");
}

static void bq_query_next(void);

static void bq_query_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    bq.busy = false;
    if (req != NULL && evhttp_request_get_response_code(req) == 200 && bq.lat_count < bq.lat_cap) {
        bq.lat[bq.lat_count++] = bench_now_ns() - bq.sent_ns;
    }
    if (bench_now_ns() < bq.deadline_ns) {
        bq_query_next();
    }
}

static void bq_query_next(void)
{
    char path[160];
    uint32_t o = (bq.next_owner++ * 7919u) % BQ_OWNERS;
    snprintf(path, sizeof(path), "/orders?owner=%s&limit=100", bq.addr_text[o]);
    struct evhttp_request *req = evhttp_request_new(bq_query_cb, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    bq.sent_ns = bench_now_ns();
    bq.busy = true;
    if (evhttp_make_request(bq.conn, req, EVHTTP_REQ_GET, path) != 0) {
        bq.busy = false;
    }
}

/* Queries back to back for seconds; with load, Sends are offered at 1000 tx/s meanwhile. */
static void bq_measure(const char *label, uint64_t seconds, bool load)
{
    bq.lat_count = 0;
    bq.deadline_ns = bench_now_ns() + seconds * 1000000000ull;
    struct event *tick = NULL;
    if (load) {
        bn.phase_end = bn.next_send + 1000 * seconds;
        bn.per_tick = 10;
        struct timeval tv = {0, 10000};
        tick = event_new(bn.base, -1, EV_PERSIST, bn_tick_cb, NULL);
        event_add(tick, &tv);
    }
    bq_query_next();
    while (bench_now_ns() < bq.deadline_ns || bq.busy) {
        event_base_loop(bn.base, EVLOOP_ONCE);
    }
    if (tick != NULL) {
        event_free(tick);
    }
    qsort(bq.lat, bq.lat_count, sizeof(*bq.lat), bn_u64_cmp);
    char name[96];
    snprintf(name, sizeof(name), "query_by_owner_page100_%s_count", label);
    bench_result(name, bq.lat_count, "queries");
    if (bq.lat_count == 0) {
        return;
    }
    snprintf(name, sizeof(name), "query_by_owner_page100_%s_p50_us", label);
    bench_result(name, bq.lat[bq.lat_count / 2] / 1000, "us");
    snprintf(name, sizeof(name), "query_by_owner_page100_%s_p99_us", label);
    bench_result(name, bq.lat[bq.lat_count * 99 / 100] / 1000, "us");
}

static int bq_main(uint64_t orders, const Kumo__Params *defaults)
{
    for (uint32_t i = 0; i < BQ_OWNERS; i++) {
        bench_key(10, i, &bq.keys[i], bq.addrs[i]);
        kumo_codec_address_encode(bq.addrs[i], bq.addr_text[i]);
    }
    bn.extra_addrs = bq.addrs;
    bn.extra_count = BQ_OWNERS;
    fprintf(stderr, "bench_node: signing the write load...\n");
    bn_txs_build(defaults->min_fee, 60000);
    bn.home = bench_tmpdir("node-query");
    bn_node_start();
    bn.base = event_base_new();
    for (uint32_t i = 0; i < BN_CONNECTIONS; i++) {
        bn.conns[i] = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    }
    bq.conn = evhttp_connection_base_new(bn.base, NULL, "127.0.0.1", bn.port);
    bq.lat_cap = 1000000;
    bq.lat = calloc(bq.lat_cap, sizeof(*bq.lat));
    bn_wait_ready();
    bq_fill(orders, defaults->min_fee);
    char data[700];
    snprintf(data, sizeof(data), "%s/data/data.mdb", bn.home);
    struct stat st;
    bench_result("query_orders_open",
                 orders / BQ_OWNERS / BQ_MSGS_PER_TX * BQ_MSGS_PER_TX * BQ_OWNERS, "orders");
    bench_result("query_node_disk_bytes", stat(data, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0,
                 "bytes");
    bench_result("query_node_rss_kib", bench_rss_kib_of((int)bn.node_pid), "KiB");
    bq_measure("idle", 10, false);
    bq_measure("under_1000tps", 20, true);
    bn_node_stop();
    bench_rmdir(bn.home);
    return 0;
}

#endif
