/*
 * bench_market.c - the facilitator and the query path at scale, on a real LMDB store.
 *
 *   bench_market match    MatchOpenOrders over 10k due orders with 10 bids each: the time of
 *                         kumo_market_facilitator_collect (target <= 100 ms per block), of
 *                         signing its msgs into txs, and of applying that block; baseline in
 *                         the same run: a full scan of the 100k bids (the least work any
 *                         matcher must do).
 *   bench_market orders   N open orders (BENCH_ORDERS, default 1,000,000; 1000 owners): disk
 *                         size, process RSS, and the latency of a by-owner query (first page of
 *                         100, p50/p99 over 1000 owners) and of listing one owner's orders in
 *                         full; baseline: one kv get of a known key.
 *
 * State is built by applying msgs directly through the market (no tx signatures), committed
 * every 20k msgs.
 */
#include "bench_util.h"

#define BM_CHAIN_ID "kumo-bench"

typedef struct bm {
    char *dir;
    kumo_store_t *store;
    kumo_kv_t kv;
    Kumo__Params *params;
    uint64_t height;
    uint64_t pending;
    kumo_crypto_keypair_t validator;
    uint8_t validator_addr[KUMO_ADDRESS_BYTES];
} bm_t;

static bm_t bm;

static void bm_commit(void)
{
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    BENCH_MUST("commit", kumo_store_block_commit(bm.store, bm.height, hash, &bench_err_));
    BENCH_MUST("begin", kumo_store_block_begin(bm.store, &bm.kv, &bench_err_));
    bm.pending = 0;
}

static void bm_apply(const uint8_t *signer, const Kumo__Msg *msg)
{
    kumo_market_ctx_t ctx = {
        .kv = &bm.kv,
        .params = bm.params,
        .height = bm.height,
        .signer = signer,
    };
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_msg_apply(&ctx, msg, &err);
    if (rc != 0) {
        bench_die("msg apply", rc, &err);
    }
    if (++bm.pending >= 20000) {
        bm_commit();
    }
}

static void bm_open(uint32_t owners, uint32_t providers)
{
    bm.dir = bench_tmpdir("market");
    kumo_store_cfg_t cfg = {.no_sync = true};
    BENCH_MUST("open", kumo_store_open(bm.dir, &cfg, &bm.store, &bench_err_));
    BENCH_MUST("begin", kumo_store_block_begin(bm.store, &bm.kv, &bench_err_));
    bench_key(1, 0, &bm.validator, bm.validator_addr);
    size_t n = (size_t)owners + providers;
    Kumo__GenesisBalance *bal = calloc(n, sizeof(*bal));
    Kumo__GenesisBalance **ptrs = calloc(n, sizeof(*ptrs));
    uint8_t(*addrs)[KUMO_ADDRESS_BYTES] = calloc(n, KUMO_ADDRESS_BYTES);
    for (size_t i = 0; i < n; i++) {
        kumo_crypto_keypair_t kp;
        bench_key(i < owners ? 2 : 3, (uint32_t)(i < owners ? i : i - owners), &kp, addrs[i]);
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address.data = addrs[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = 1ull << 50;
        ptrs[i] = &bal[i];
    }
    Kumo__Validator val = KUMO__VALIDATOR__INIT;
    Kumo__Validator *val_ptr = &val;
    val.address.data = bm.validator_addr;
    val.address.len = KUMO_ADDRESS_BYTES;
    val.pubkey.data = bm.validator.pubkey;
    val.pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    val.power = 1;
    Kumo__Params params = KUMO__PARAMS__INIT;
    kumo_market_params_default(&params);
    params.max_wait_blocks = 1000000;
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    g.chain_id = BM_CHAIN_ID;
    g.params = &params;
    g.n_balances = n;
    g.balances = ptrs;
    g.n_validators = 1;
    g.validators = &val_ptr;
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    BENCH_MUST("genesis", kumo_chain_genesis_apply(&bm.kv, &g, hash, &bench_err_));
    BENCH_MUST("params", kumo_market_params_get(&bm.kv, &bm.params, &bench_err_));
    bm.height = 1;
    bm_commit();
    free(bal);
    free(ptrs);
    free(addrs);
}

static void bm_close(void)
{
    kumo_codec_free(&bm.params->base);
    kumo_store_close(bm.store);
    bench_rmdir(bm.dir);
}

static void bm_deploy(uint32_t owner, uint64_t dseq, uint64_t wait_blocks)
{
    kumo_crypto_keypair_t kp;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    bench_key(2, owner, &kp, addr);
    bench_deploy_msg_t m;
    bm_apply(addr, bench_deploy_msg(&m, dseq, wait_blocks, 10));
}

static void bm_provider(uint32_t p)
{
    kumo_crypto_keypair_t kp;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    bench_key(3, p, &kp, addr);
    Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
    cp.host_uri = "https://p.example";
    cp.region = "r1";
    cp.root_cert_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
    msg.create_provider = &cp;
    bm_apply(addr, &msg);
}

static void bm_bid(uint32_t p, uint32_t owner, uint64_t dseq, uint64_t price)
{
    kumo_crypto_keypair_t kp;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    uint8_t owner_addr[KUMO_ADDRESS_BYTES];
    bench_key(3, p, &kp, addr);
    bench_key(2, owner, &kp, owner_addr);
    bench_bid_msg_t m;
    bm_apply(addr, bench_bid_msg(&m, owner_addr, dseq, price, 10));
}

static int bm_count_cb(void *cb_ctx, const Kumo__Msg *msg)
{
    (void)msg;
    (*(uint64_t *)cb_ctx)++;
    return 0;
}

static int bm_scan_count_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    (*(uint64_t *)cb_ctx)++;
    return 0;
}

static void bm_match(void)
{
    enum {
        OWNERS = 1000,
        PER_OWNER = 10,
        PROVIDERS = 100,
        BIDS = 10
    };
    bm_open(OWNERS, PROVIDERS);
    for (uint32_t p = 0; p < PROVIDERS; p++) {
        bm_provider(p);
    }
    for (uint32_t o = 0; o < OWNERS; o++) {
        for (uint64_t d = 1; d <= PER_OWNER; d++) {
            bm_deploy(o, d, 1);
        }
    }
    for (uint32_t o = 0; o < OWNERS; o++) {
        for (uint64_t d = 1; d <= PER_OWNER; d++) {
            for (uint32_t b = 0; b < BIDS; b++) {
                uint32_t p = (o * PER_OWNER + (uint32_t)d + b * 7) % PROVIDERS;
                bm_bid(p, o, d, 50 + (p * 13 + o) % 50);
            }
        }
    }
    bm.height = 5;
    bm_commit();
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    BENCH_MUST("read", kumo_store_read_begin(bm.store, &read, &kv, &bench_err_));
    /* Baseline: one ordered pass over every bid (fulfillment keys, prefix 0x06). */
    uint64_t scanned = 0;
    uint8_t fulfillment_prefix = 0x06;
    uint64_t t0 = bench_now_ns();
    BENCH_MUST("scan", kv.scan(kv.ctx, kumo_bytes_make(&fulfillment_prefix, 1),
                               kumo_bytes_make(NULL, 0), bm_scan_count_cb, &scanned, &bench_err_));
    uint64_t scan_ns = bench_now_ns() - t0;
    uint64_t best = UINT64_MAX;
    uint64_t msgs = 0;
    for (int round = 0; round < 5; round++) {
        msgs = 0;
        t0 = bench_now_ns();
        BENCH_MUST("collect", kumo_market_facilitator_collect(&kv, 6, 1000000, bm_count_cb, &msgs,
                                                              &bench_err_));
        uint64_t ns = bench_now_ns() - t0;
        best = ns < best ? ns : best;
    }
    kumo_store_read_end(read);
    /* Sign the msgs into txs and apply them as one block. */
    static kumo_buf_t txs[256];
    size_t tx_count = 0;
    uint64_t seq = 0;
    t0 = bench_now_ns();
    BENCH_MUST("txs",
               kumo_chain_facilitator_txs_build(&bm.kv, BM_CHAIN_ID, 6, &bm.validator, &seq, 256,
                                                txs, 256, &tx_count, NULL, &bench_err_));
    uint64_t build_ns = bench_now_ns() - t0;
    kumo_bytes_t tx_bytes[256];
    for (size_t i = 0; i < tx_count; i++) {
        tx_bytes[i] = kumo_buf_bytes(&txs[i]);
    }
    uint8_t prev[KUMO_CHAIN_HASH_BYTES] = {0};
    kumo_chain_block_in_t in = {.chain_id = BM_CHAIN_ID,
                                .height = 6,
                                .prev_app_hash = prev,
                                .txs = tx_bytes,
                                .tx_count = tx_count};
    kumo_chain_block_out_t out;
    t0 = bench_now_ns();
    BENCH_MUST("apply", kumo_chain_block_apply(&bm.kv, &in, &out, &bench_err_));
    uint64_t apply_ns = bench_now_ns() - t0;
    bench_result("match_due_orders", msgs, "orders");
    bench_result("match_bids_scanned", scanned, "bids");
    bench_result("match_bid_scan_baseline_us", scan_ns / 1000, "us");
    bench_result("match_open_orders_collect_us", best / 1000, "us");
    bench_ratio("match_collect_vs_bid_scan", best, scan_ns);
    bench_result("match_txs_build_ms", build_ns / 1000000, "ms");
    bench_result("match_block_txs", tx_count, "txs");
    bench_result("match_block_leases_ok", out.tx_ok_count, "txs");
    bench_result("match_block_apply_ms", apply_ns / 1000000, "ms");
    kumo_chain_block_out_free(&out);
    for (size_t i = 0; i < tx_count; i++) {
        kumo_buf_free(&txs[i]);
    }
    bm_close();
}

static int bm_query_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    (void)obj;
    (*(uint64_t *)cb_ctx)++;
    return 0;
}

static int bm_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bm_orders(void)
{
    const char *env = getenv("BENCH_ORDERS");
    uint64_t total = env != NULL ? strtoull(env, NULL, 0) : 1000000;
    enum {
        OWNERS = 1000
    };
    uint64_t per_owner = total / OWNERS;
    bm_open(OWNERS, 0);
    uint64_t t0 = bench_now_ns();
    for (uint64_t d = 1; d <= per_owner; d++) {
        for (uint32_t o = 0; o < OWNERS; o++) {
            bm_deploy(o, d, 1000000);
        }
        if (d % 100 == 0) {
            fprintf(stderr, "bench_market: %" PRIu64 " orders\n", d * OWNERS);
        }
    }
    bm_commit();
    uint64_t build_ns = bench_now_ns() - t0;
    uint64_t disk = 0;
    BENCH_MUST("disk", kumo_store_disk_bytes(bm.store, &disk, &bench_err_));
    uint64_t rss_build = bench_rss_kib();
    /* Reopen so the query figures come from a process that did not just write everything. */
    kumo_store_block_abort(bm.store);
    kumo_store_close(bm.store);
    BENCH_MUST("reopen", kumo_store_open(bm.dir, NULL, &bm.store, &bench_err_));
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    BENCH_MUST("read", kumo_store_read_begin(bm.store, &read, &kv, &bench_err_));
    enum {
        QUERIES = 1000
    };
    static uint64_t lat[QUERIES];
    uint64_t found = 0;
    for (uint32_t i = 0; i < QUERIES; i++) {
        kumo_crypto_keypair_t kp;
        uint8_t owner[KUMO_ADDRESS_BYTES];
        bench_key(2, (i * 7919u) % OWNERS, &kp, owner);
        kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_ORDER, .owner = owner, .limit = 100};
        kumo_buf_t next;
        kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
        t0 = bench_now_ns();
        BENCH_MUST("query",
                   kumo_market_query_run(&kv, &q, bm_query_cb, &found, &next, &bench_err_));
        lat[i] = bench_now_ns() - t0;
        kumo_buf_free(&next);
    }
    qsort(lat, QUERIES, sizeof(lat[0]), bm_u64_cmp);
    /* One owner's whole list, page by page. */
    kumo_crypto_keypair_t kp;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    bench_key(2, 17, &kp, owner);
    uint64_t listed = 0;
    kumo_buf_t page;
    kumo_buf_init(&page, KUMO_KEY_BYTES_MAX);
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    t0 = bench_now_ns();
    do {
        kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_ORDER,
                                 .owner = owner,
                                 .limit = 1000,
                                 .page_key = kumo_buf_bytes(&page)};
        kumo_buf_reset(&next);
        BENCH_MUST("list",
                   kumo_market_query_run(&kv, &q, bm_query_cb, &listed, &next, &bench_err_));
        kumo_buf_reset(&page);
        BENCH_MUST("page", kumo_buf_append(&page, next.ptr, next.len));
    } while (page.len > 0);
    uint64_t list_ns = bench_now_ns() - t0;
    /* Baseline: a single point read. */
    uint8_t key[1 + KUMO_ADDRESS_BYTES] = {0x01};
    memcpy(key + 1, owner, KUMO_ADDRESS_BYTES);
    kumo_bytes_t val;
    t0 = bench_now_ns();
    for (int i = 0; i < 1000; i++) {
        (void)kv.get(kv.ctx, kumo_bytes_make(key, sizeof(key)), &val, NULL);
    }
    uint64_t get_ns = (bench_now_ns() - t0) / 1000;
    kumo_store_read_end(read);
    bench_result("orders_open", per_owner * OWNERS, "orders");
    bench_result("orders_build_s", build_ns / 1000000000ull, "s");
    bench_result("orders_disk_bytes", disk, "bytes");
    bench_result("orders_disk_bytes_per_order", disk / (per_owner * OWNERS), "bytes");
    bench_result("orders_rss_after_build_kib", rss_build, "KiB");
    bench_result("orders_rss_query_process_kib", bench_rss_kib(), "KiB");
    bench_result("orders_by_owner_page100_p50_us", lat[QUERIES / 2] / 1000, "us");
    bench_result("orders_by_owner_page100_p99_us", lat[QUERIES * 99 / 100] / 1000, "us");
    bench_result("orders_by_owner_full_list_us", list_ns / 1000, "us");
    bench_result("orders_by_owner_full_list_count", listed, "orders");
    bench_result("kv_point_get_baseline_ns", get_ns, "ns");
    kumo_buf_free(&page);
    kumo_buf_free(&next);
    BENCH_MUST("begin", kumo_store_block_begin(bm.store, &bm.kv, &bench_err_));
    bm_close();
}

int main(int argc, char **argv)
{
    if (kumo_crypto_init() != 0) {
        return 1;
    }
    const char *mode = argc > 1 ? argv[1] : "match";
    if (strcmp(mode, "match") == 0) {
        bm_match();
    } else if (strcmp(mode, "orders") == 0) {
        bm_orders();
    } else {
        fprintf(stderr, "usage: bench_market match|orders\n");
        return 2;
    }
    return 0;
}
