/*
 * bench_apply.c - block apply throughput for a 10k-tx block of a realistic mix, against the
 * raw Ed25519 verify rate measured in the same run.
 *
 * State: 2000 tenants with one leased deployment and one open order each, 200 providers with
 * 10 leases each (built through real signed blocks). The measured block holds 10,000 signed
 * txs: 2000 new deployments, 4000 sends, 2000 bids, 2000 lease confirmations (paying from
 * escrow). It is applied on the real LMDB store and then aborted, so each variant starts from
 * the same state:
 *   1 core : decode + verify + apply on one thread;
 *   2 cores: decode + verify spread over 2 threads, then apply.
 * Output (name=value unit): ed25519 verify rates (1 and 2 threads), apply rates, and the
 * ratios apply / verify-bound. Target: >= 0.5.
 */
#include <pthread.h>

#include "bench_util.h"
#include "node/node.h"

#define BA_TENANTS   2000u
#define BA_PROVIDERS 200u
#define BA_CHAIN_ID  "kumo-bench"
#define BA_FEE       1u
#define BA_TXS_MAX   12000u

typedef struct ba {
    kumo_node_t *net; /* a local node: setup blocks take the node's block path */
    char *dir;
    kumo_crypto_keypair_t validator;
    uint8_t validator_addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_keypair_t tenant[BA_TENANTS];
    uint8_t tenant_addr[BA_TENANTS][KUMO_ADDRESS_BYTES];
    kumo_crypto_keypair_t provider[BA_PROVIDERS];
    uint8_t provider_addr[BA_PROVIDERS][KUMO_ADDRESS_BYTES];
    uint64_t tenant_seq[BA_TENANTS];
    uint64_t provider_seq[BA_PROVIDERS];
    kumo_buf_t txs[BA_TXS_MAX];
    size_t tx_count;
} ba_t;

static ba_t ba;

static void ba_tx(const kumo_crypto_keypair_t *kp, uint64_t *seq, const Kumo__Msg *msg)
{
    if (ba.tx_count >= BA_TXS_MAX) {
        bench_die("too many txs", KUMO_ELIMIT, NULL);
    }
    kumo_buf_t *buf = &ba.txs[ba.tx_count++];
    kumo_buf_init(buf, KUMO_TX_BYTES_MAX);
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    BENCH_MUST("tx build",
               kumo_chain_tx_build(BA_CHAIN_ID, kp, *seq, BA_FEE, "", msgs, 1, buf, &bench_err_));
    (*seq)++;
}

static void ba_txs_free(void)
{
    for (size_t i = 0; i < ba.tx_count; i++) {
        kumo_buf_free(&ba.txs[i]);
    }
    ba.tx_count = 0;
}

static void ba_block(const char *what)
{
    kumo_bytes_t *txs = calloc(ba.tx_count + 1, sizeof(*txs));
    for (size_t i = 0; i < ba.tx_count; i++) {
        txs[i] = kumo_buf_bytes(&ba.txs[i]);
    }
    kumo_chain_block_out_t out;
    BENCH_MUST(what,
               kumo_node_block_produce_txs(ba.net, txs, ba.tx_count, &out, NULL, &bench_err_));
    if (out.tx_failed_count != 0) {
        for (size_t i = 0; i < out.result_count; i++) {
            if (out.results[i].code != 0) {
                fprintf(stderr, "bench: %s: tx %zu failed: %s %s\n", what, i,
                        kumo_err_name(out.results[i].code), out.results[i].log);
                exit(1);
            }
        }
    }
    kumo_chain_block_out_free(&out);
    free(txs);
    ba_txs_free();
}

static void ba_genesis(Kumo__Genesis *g, Kumo__Params *params)
{
    size_t n = 1 + BA_TENANTS + BA_PROVIDERS;
    Kumo__GenesisBalance *bal = calloc(n, sizeof(*bal));
    Kumo__GenesisBalance **ptrs = calloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        kumo__genesis_balance__init(&bal[i]);
        const uint8_t *a = i == 0            ? ba.validator_addr
                           : i <= BA_TENANTS ? ba.tenant_addr[i - 1]
                                             : ba.provider_addr[i - 1 - BA_TENANTS];
        bal[i].address.data = (uint8_t *)(uintptr_t)a;
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = 1000000000ull;
        ptrs[i] = &bal[i];
    }
    static Kumo__Validator val;
    static Kumo__Validator *val_ptr;
    kumo__validator__init(&val);
    val.address.data = ba.validator_addr;
    val.address.len = KUMO_ADDRESS_BYTES;
    val.pubkey.data = ba.validator.pubkey;
    val.pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    val.power = 1;
    val_ptr = &val;
    kumo_market_params_default(params);
    params->min_fee = BA_FEE;
    params->max_wait_blocks = 1000000;
    g->chain_id = BA_CHAIN_ID;
    g->params = params;
    g->n_balances = n;
    g->balances = ptrs;
    g->n_validators = 1;
    g->validators = &val_ptr;
}

static void ba_deploy(uint32_t t, uint64_t dseq, uint64_t wait_blocks)
{
    bench_deploy_msg_t m;
    ba_tx(&ba.tenant[t], &ba.tenant_seq[t], bench_deploy_msg(&m, dseq, wait_blocks, 1000));
}

static void ba_bid(uint32_t p, uint32_t t, uint64_t dseq)
{
    bench_bid_msg_t m;
    ba_tx(&ba.provider[p], &ba.provider_seq[p],
          bench_bid_msg(&m, ba.tenant_addr[t], dseq, 50 + p % 7, 1000));
}

static void ba_confirm(uint32_t p, uint32_t t)
{
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = ba.tenant_addr[t];
    id.owner.len = KUMO_ADDRESS_BYTES;
    id.dseq = 1;
    id.oseq = 1;
    Kumo__LeaseConfirmation lc = KUMO__LEASE_CONFIRMATION__INIT;
    lc.order = &id;
    Kumo__LeaseConfirmation *lcp = &lc;
    Kumo__MsgSubmitLeaseConfirmation m = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    m.n_confirmations = 1;
    m.confirmations = &lcp;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &m;
    ba_tx(&ba.provider[p], &ba.provider_seq[p], &msg);
}

static void ba_send(uint32_t t, uint32_t to)
{
    Kumo__MsgSend s = KUMO__MSG_SEND__INIT;
    s.to.data = ba.tenant_addr[to];
    s.to.len = KUMO_ADDRESS_BYTES;
    s.amount = 7;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &s;
    ba_tx(&ba.tenant[t], &ba.tenant_seq[t], &msg);
}

static void ba_setup(void)
{
    bench_key(1, 0, &ba.validator, ba.validator_addr);
    for (uint32_t i = 0; i < BA_TENANTS; i++) {
        bench_key(2, i, &ba.tenant[i], ba.tenant_addr[i]);
    }
    for (uint32_t i = 0; i < BA_PROVIDERS; i++) {
        bench_key(3, i, &ba.provider[i], ba.provider_addr[i]);
    }
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    Kumo__Params params = KUMO__PARAMS__INIT;
    ba_genesis(&g, &params);
    ba.dir = bench_tmpdir("apply");
    kumo_node_local_cfg_t cfg = {
        .dir = ba.dir, .chain_id = BA_CHAIN_ID, .no_sync = true, .validator = &ba.validator};
    BENCH_MUST("open", kumo_node_local_open(&cfg, &g, &ba.net, &bench_err_));
    free(g.balances[0]); /* the array of balances (ba_genesis allocates it in one block) */
    free(g.balances);
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for (uint32_t p = 0; p < BA_PROVIDERS; p++) {
        Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
        cp.host_uri = "https://p.example";
        cp.region = "r1";
        cp.root_cert_pem = (char *)(uintptr_t)pem;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
        msg.create_provider = &cp;
        ba_tx(&ba.provider[p], &ba.provider_seq[p], &msg);
    }
    ba_block("providers");
    for (uint32_t t = 0; t < BA_TENANTS; t++) {
        ba_deploy(t, 1, 1);
        ba_deploy(t, 2, 1000000);
    }
    ba_block("deployments");
    for (uint32_t t = 0; t < BA_TENANTS; t++) {
        ba_bid(t % BA_PROVIDERS, t, 1);
    }
    ba_block("bids");
    ba_block("leases"); /* the facilitator matches the 2000 due orders */
}

static void ba_measured_txs(void)
{
    for (uint32_t t = 0; t < BA_TENANTS; t++) {
        ba_deploy(t, 3, 5);
        ba_send(t, (t + 1) % BA_TENANTS);
        ba_send(t, (t + 7) % BA_TENANTS);
    }
    for (uint32_t t = 0; t < BA_TENANTS; t++) {
        ba_confirm(t % BA_PROVIDERS, t);
        ba_bid((t + 1) % BA_PROVIDERS, t, 2);
    }
}

typedef struct ba_worker {
    kumo_bytes_t *txs;
    kumo_chain_tx_t *prepared;
    size_t from;
    size_t to;
} ba_worker_t;

static void *ba_prepare_thread(void *arg)
{
    ba_worker_t *w = arg;
    for (size_t i = w->from; i < w->to; i++) {
        if (kumo_chain_tx_prepare(w->txs[i], KUMO_TX_BYTES_MAX, &w->prepared[i], NULL) != 0) {
            bench_die("prepare", KUMO_EDECODE, NULL);
        }
    }
    return NULL;
}

/* Applies the measured block (threads: 0 = inline verification) and aborts it. */
static uint64_t ba_apply_once(kumo_bytes_t *txs, size_t n, int threads, uint64_t *ok)
{
    kumo_store_t *store = kumo_node_store(ba.net);
    kumo_kv_t kv;
    BENCH_MUST("begin", kumo_store_block_begin(store, &kv, &bench_err_));
    kumo_chain_tx_t *prepared = threads > 0 ? calloc(n, sizeof(*prepared)) : NULL;
    uint64_t t0 = bench_now_ns();
    if (threads > 0) {
        pthread_t th[8];
        ba_worker_t w[8];
        for (int i = 0; i < threads; i++) {
            w[i] = (ba_worker_t){txs, prepared, n * (size_t)i / (size_t)threads,
                                 n * (size_t)(i + 1) / (size_t)threads};
            pthread_create(&th[i], NULL, ba_prepare_thread, &w[i]);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
        }
    }
    kumo_node_status_t st;
    kumo_node_status_get(ba.net, &st);
    kumo_chain_block_in_t in = {
        .chain_id = BA_CHAIN_ID,
        .height = st.height + 1,
        .prev_app_hash = st.app_hash,
        .txs = txs,
        .tx_count = n,
        .prepared = prepared,
    };
    kumo_chain_block_out_t out;
    BENCH_MUST("apply", kumo_chain_block_apply(&kv, &in, &out, &bench_err_));
    uint64_t ns = bench_now_ns() - t0;
    *ok = out.tx_ok_count;
    kumo_chain_block_out_free(&out);
    kumo_store_block_abort(store);
    for (size_t i = 0; prepared != NULL && i < n; i++) {
        kumo_chain_tx_free(&prepared[i]);
    }
    free(prepared);
    return ns;
}

typedef struct ba_verify {
    const uint8_t (*msgs)[32];
    const uint8_t (*sigs)[64];
    const kumo_crypto_keypair_t *kp;
    size_t from;
    size_t to;
} ba_verify_t;

static void *ba_verify_thread(void *arg)
{
    ba_verify_t *v = arg;
    for (size_t i = v->from; i < v->to; i++) {
        if (!kumo_crypto_verify(v->kp->pubkey, kumo_bytes_make(v->msgs[i], 32), v->sigs[i])) {
            bench_die("verify", KUMO_ESIG, NULL);
        }
    }
    return NULL;
}

/* Raw Ed25519 verifications per second of n signatures over 32-byte digests. */
static uint64_t ba_verify_rate(size_t n, int threads)
{
    uint8_t(*msgs)[32] = calloc(n, 32);
    uint8_t(*sigs)[64] = calloc(n, 64);
    /* One key signs all: the key does not change the cost of a verification. */
    for (size_t i = 0; i < n; i++) {
        kumo_be64_put(msgs[i], i);
        kumo_crypto_sign(&ba.tenant[0], kumo_bytes_make(msgs[i], 32), sigs[i]);
    }
    pthread_t th[8];
    ba_verify_t v[8];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < threads; i++) {
        v[i] =
            (ba_verify_t){(const uint8_t(*)[32])msgs, (const uint8_t(*)[64])sigs, &ba.tenant[0],
                          n * (size_t)i / (size_t)threads, n * (size_t)(i + 1) / (size_t)threads};
        pthread_create(&th[i], NULL, ba_verify_thread, &v[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
    }
    uint64_t ns = bench_now_ns() - t0;
    free(msgs);
    free(sigs);
    return bench_rate(n, ns);
}

int main(void)
{
    if (kumo_crypto_init() != 0) {
        return 1;
    }
    fprintf(stderr, "bench_apply: building state (%u tenants, %u providers)...\n", BA_TENANTS,
            BA_PROVIDERS);
    ba_setup();
    ba_measured_txs();
    size_t n = ba.tx_count;
    kumo_bytes_t *txs = calloc(n, sizeof(*txs));
    for (size_t i = 0; i < n; i++) {
        txs[i] = kumo_buf_bytes(&ba.txs[i]);
    }
    uint64_t verify1 = ba_verify_rate(n, 1);
    uint64_t verify2 = ba_verify_rate(n, 2);
    uint64_t ok = 0;
    uint64_t best1 = UINT64_MAX;
    uint64_t best2 = UINT64_MAX;
    for (int round = 0; round < 3; round++) {
        uint64_t ns1 = ba_apply_once(txs, n, 0, &ok);
        best1 = ns1 < best1 ? ns1 : best1;
        uint64_t ns2 = ba_apply_once(txs, n, 2, &ok);
        best2 = ns2 < best2 ? ns2 : best2;
    }
    uint64_t apply1 = bench_rate(n, best1);
    uint64_t apply2 = bench_rate(n, best2);
    bench_result("block_txs", n, "txs");
    bench_result("block_txs_ok", ok, "txs");
    bench_result("ed25519_verify_1core_per_s", verify1, "1/s");
    bench_result("ed25519_verify_2core_per_s", verify2, "1/s");
    bench_result("apply_1core_txs_per_s", apply1, "1/s");
    bench_result("apply_2core_txs_per_s", apply2, "1/s");
    bench_result("apply_1core_block_ms", best1 / 1000000, "ms");
    bench_result("apply_2core_block_ms", best2 / 1000000, "ms");
    bench_ratio("apply_1core_vs_verify_1core", apply1, verify1);
    bench_ratio("apply_2core_vs_verify_2core", apply2, verify2);
    free(txs);
    ba_txs_free();
    kumo_node_close(ba.net);
    bench_rmdir(ba.dir);
    return 0;
}
