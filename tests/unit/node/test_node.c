/*
 * test_node.c - proves the node in one process on real LMDB homes: kumo init writes a usable
 * home (and refuses a second init), config.yaml is strict (one row per rule, ranges at MAX and
 * MAX+1, errors name file:line:key), genesis accounts can be added until the first start,
 * blocks carry submitted txs with the documented header hashes, results and tx index, commit
 * listeners run in height order, a closed and reopened node resumes at the same height and
 * hashes, the facilitator leases a matched order inside the producer's own block, and the
 * block timer produces blocks on the loop; a local node (no home) makes blocks of given txs
 * through the same path. Blocks are produced by calling
 * kumo_node_block_produce, except in the timer test, which waits on a listener with a
 * deadline event (no sleeps).
 */
#include "bank/bank.h"
#include "helpers/testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_fixture.h"
#include "unit/market/market_fixture.h"

static void home_path(const node_fx_t *nf, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/home/%s", nf->home, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void file_put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* ---- home, config, genesis ---- */

static void test_node_home_init_writes_a_usable_home(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    char path[600];
    struct stat st;
    home_path(&nf, "keyring/validator.key", path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    home_path(&nf, "genesis.json", path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    /* The written config holds every default plus the chain id and moniker. */
    kumo_node_cfg_t def;
    kumo_node_cfg_default(&def);
    assert_string_equal(nf.cfg.chain_id, NF_CHAIN_ID);
    assert_string_equal(nf.cfg.moniker, "test-node");
    assert_string_equal(nf.cfg.rpc_listen, def.rpc_listen);
    assert_int_equal(nf.cfg.mempool_tx_count_max, def.mempool_tx_count_max);
    assert_true(nf.cfg.mempool_bytes_max == def.mempool_bytes_max);
    assert_string_equal(nf.cfg.log_level, "info");
    char home[600];
    home_path(&nf, "", home, sizeof(home));
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_node_home_init(home, NF_CHAIN_ID, NULL, &err), KUMO_EEXIST);
    assert_int_equal(kumo_node_home_init(home, "", NULL, &err), KUMO_EINVAL);
    assert_int_equal(kumo_node_home_init(home, "bad\"id", NULL, &err), KUMO_EINVAL);
    nf_teardown(&nf);
}

static void test_node_cfg_load_is_strict(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    char home[600];
    char path[600];
    home_path(&nf, "", home, sizeof(home));
    home_path(&nf, "config.yaml", path, sizeof(path));
    static const struct {
        const char *name;
        const char *text;
        int want;
        const char *detail; /* substring of the error detail */
    } cases[] = {
        {"empty file: defaults", "", 0, ""},
        {"comments only", "# nothing\n", 0, ""},
        {"one key", "moniker: x\n", 0, ""},
        {"unknown key", "moniker: x\nblock_intervall_ms: 5\n", KUMO_EDECODE,
         "config.yaml:2:block_intervall_ms: unknown key"},
        {"not a number", "block_interval_ms: fast\n", KUMO_EDECODE, ":1:block_interval_ms"},
        {"negative", "block_interval_ms: -1\n", KUMO_EDECODE, ":1:block_interval_ms"},
        {"leading zero", "block_interval_ms: 010\n", KUMO_EDECODE, ":1:block_interval_ms"},
        {"interval at min", "block_interval_ms: 1\n", 0, ""},
        {"interval below min", "block_interval_ms: 0\n", KUMO_EDECODE, "block_interval_ms"},
        {"interval at max", "block_interval_ms: 3600000\n", 0, ""},
        {"interval over max", "block_interval_ms: 3600001\n", KUMO_EDECODE, "block_interval_ms"},
        {"block txs at max", "block_tx_count_max: 50000\n", 0, ""},
        {"block txs over max", "block_tx_count_max: 50001\n", KUMO_EDECODE, "block_tx_count_max"},
        {"mempool txs over max", "mempool_tx_count_max: 1048577\n", KUMO_EDECODE,
         "mempool_tx_count_max"},
        {"u64 overflow", "mempool_bytes_max: 99999999999999999999\n", KUMO_EDECODE,
         "mempool_bytes_max"},
        {"duplicate key", "moniker: a\nmoniker: b\n", KUMO_EDECODE, ":2:moniker: key given twice"},
        {"nested value", "moniker:\n  a: b\n", KUMO_EDECODE, ":1:moniker: expected a plain value"},
        {"list document", "- a\n- b\n", KUMO_EDECODE, "expected a mapping"},
        {"two documents", "moniker: a\n---\nmoniker: b\n", KUMO_EDECODE, "one document"},
        {"syntax error", "moniker: [a\n", KUMO_EDECODE, "config.yaml:"},
        {"bad log level", "log_level: loud\n", KUMO_EDECODE, ":1:log_level"},
        {"moniker at max",
         "moniker: 123456789012345678901234567890123456789012345678901234567890123\n", 0, ""},
        {"moniker over max",
         "moniker: 1234567890123456789012345678901234567890123456789012345678901234\n",
         KUMO_EDECODE, "moniker"},
        {"empty moniker", "moniker: \"\"\n", KUMO_EDECODE, "moniker"},
        {"rpc_listen without port", "rpc_listen: localhost\n", KUMO_EDECODE, ":1:rpc_listen"},
        {"p2p strangers: none", "p2p_inbound_count_max: 0\n", 0, ""},
        {"p2p strangers at max", "p2p_inbound_count_max: 64\n", 0, ""},
        {"p2p strangers over max", "p2p_inbound_count_max: 65\n", KUMO_EDECODE,
         "p2p_inbound_count_max"},
        {"p2p pending at max", "p2p_pending_count_max: 64\n", 0, ""},
        {"p2p pending over max", "p2p_pending_count_max: 65\n", KUMO_EDECODE,
         "p2p_pending_count_max"},
        {"p2p pending zero", "p2p_pending_count_max: 0\n", KUMO_EDECODE, "p2p_pending_count_max"},
        {"p2p per host zero", "p2p_pending_per_host_max: 0\n", KUMO_EDECODE,
         "p2p_pending_per_host_max"},
        {"p2p useful below min", "p2p_useful_timeout_ms: 999\n", KUMO_EDECODE,
         "p2p_useful_timeout_ms"},
        {"p2p ban at max", "p2p_ban_ms: 604800000\n", 0, ""},
        {"p2p ban over max", "p2p_ban_ms: 604800001\n", KUMO_EDECODE, "p2p_ban_ms"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        file_put(path, cases[i].text);
        kumo_node_cfg_t cfg;
        kumo_node_cfg_default(&cfg);
        kumo_err_ctx_t err = {0};
        int rc = kumo_node_cfg_load(home, &cfg, &err);
        if (rc == 0) {
            rc = kumo_node_cfg_validate(&cfg, &err);
        }
        if (rc != cases[i].want || strstr(err.detail, cases[i].detail) == NULL) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    nf_teardown(&nf);
}

static void test_node_genesis_account_add_until_start(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    char home[600];
    home_path(&nf, "", home, sizeof(home));
    kumo_err_ctx_t err = {0};
    /* Key 0 got NF_BALANCE in nf_home_make: a second add tops it up. */
    nf_fail("top up", kumo_node_genesis_account_add(home, nf.addr[0], 5, &err), &err);
    assert_int_equal(kumo_node_genesis_account_add(home, nf.addr[0], 0, &err), KUMO_EINVAL);
    assert_int_equal(kumo_node_genesis_account_add(home, nf.addr[0], UINT64_MAX, &err),
                     KUMO_EOVERFLOW);
    /* Totals over the genesis supply ceiling are refused when added, not only at start. */
    assert_int_equal(
        kumo_node_genesis_account_add(home, nf.addr[1], KUMO_GENESIS_SUPPLY_MAX - NF_BALANCE, &err),
        KUMO_EOVERFLOW);
    nf_open(&nf);
    assert_true(nf_balance(&nf, 0) == NF_BALANCE + 5u);
    assert_true(nf_balance(&nf, 1) == NF_BALANCE);
    assert_int_equal(kumo_node_genesis_account_add(home, nf.addr[1], 5, &err), KUMO_ESTATE);
    nf_teardown(&nf);
}

/* ---- blocks ---- */

static void block_read(node_fx_t *nf, uint64_t height, Kumo__Block **blk, Kumo__BlockResults **res)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(nf->node, &read, &kv, NULL), 0);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_STORE_RECORD_BYTES_MAX);
    assert_int_equal(kumo_node_block_get(read, height, &b, NULL), 0);
    ProtobufCMessage *m = NULL;
    assert_int_equal(
        kumo_codec_unpack(&kumo__block__descriptor, kumo_buf_bytes(&b), b.len, &m, NULL), 0);
    *blk = (Kumo__Block *)m;
    kumo_buf_reset(&b);
    assert_int_equal(kumo_node_results_get(read, height, &b, NULL), 0);
    assert_int_equal(
        kumo_codec_unpack(&kumo__block_results__descriptor, kumo_buf_bytes(&b), b.len, &m, NULL),
        0);
    *res = (Kumo__BlockResults *)m;
    kumo_buf_free(&b);
    assert_int_equal(kumo_node_block_get(read, height + 1000u, &b, NULL), KUMO_ENOTFOUND);
    kumo_store_read_end(read);
}

static void header_hash(const Kumo__BlockHeader *h, uint8_t out[32])
{
    kumo_buf_t enc;
    kumo_buf_init(&enc, 4096);
    assert_int_equal(kumo_codec_pack(&h->base, &enc, NULL), 0);
    kumo_crypto_sha256(kumo_buf_bytes(&enc), out);
    kumo_buf_free(&enc);
}

static void tx_locate_ok(node_fx_t *nf, const uint8_t hash[32], uint64_t want_h, uint32_t want_i)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(nf->node, &read, &kv, NULL), 0);
    uint64_t h = 0;
    uint32_t i = 0;
    assert_int_equal(kumo_node_tx_locate(read, hash, &h, &i, NULL), 0);
    assert_true(h == want_h);
    assert_int_equal(i, want_i);
    kumo_store_read_end(read);
}

static void test_node_block_carries_txs_with_header_hashes(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    kumo_node_status_t st0;
    kumo_node_status_get(nf.node, &st0);
    assert_true(st0.height == 0);
    uint8_t hashes[3][32];
    int from[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        kumo_buf_t tx;
        nf_send(&nf, from[i], 3, 1000, &tx);
        nf_submit_ok(&nf, &tx, hashes[i]);
        assert_true(kumo_node_tx_is_pending(nf.node, hashes[i]));
        kumo_buf_free(&tx);
    }
    kumo_node_status_t st;
    kumo_node_status_get(&(*nf.node), &st);
    assert_true(st.mempool_tx_count == 3 && st.mempool_bytes > 0);
    nf_produce(&nf);
    kumo_node_status_get(nf.node, &st);
    assert_true(st.height == 1 && st.mempool_tx_count == 0 && st.txs_committed_total == 3);
    assert_true(nf_balance(&nf, 3) == NF_BALANCE + 3000u);
    Kumo__Block *blk = NULL;
    Kumo__BlockResults *res = NULL;
    block_read(&nf, 1, &blk, &res);
    const Kumo__BlockHeader *h = blk->header;
    assert_string_equal(h->chain_id, NF_CHAIN_ID);
    assert_true(h->height == 1 && blk->n_txs == 3 && res->n_results == 3 && res->height == 1);
    static const uint8_t zero[32] = {0};
    assert_memory_equal(h->last_block_hash.data, zero, 32);
    assert_memory_equal(h->prev_app_hash.data, st0.app_hash, 32);
    assert_memory_equal(h->app_hash.data, st.app_hash, 32);
    assert_memory_equal(h->proposer.data, st.validator_address, KUMO_ADDRESS_BYTES);
    uint8_t want[32];
    kumo_crypto_sha256(kumo_bytes_make(hashes, sizeof(hashes)), want);
    assert_memory_equal(h->data_hash.data, want, 32);
    header_hash(h, want);
    assert_memory_equal(want, st.block_hash, 32);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(res->results[i]->code, 0);
        assert_memory_equal(res->results[i]->hash.data, hashes[i], 32);
        assert_true(res->results[i]->fee == NF_FEE && res->results[i]->n_events > 0);
        assert_false(kumo_node_tx_is_pending(nf.node, hashes[i]));
        tx_locate_ok(&nf, hashes[i], 1, i);
    }
    kumo_codec_free(&blk->base);
    kumo_codec_free(&res->base);
    /* An empty block links to the previous one. */
    nf_produce(&nf);
    block_read(&nf, 2, &blk, &res);
    assert_memory_equal(blk->header->last_block_hash.data, st.block_hash, 32);
    assert_true(blk->n_txs == 0);
    kumo_codec_free(&blk->base);
    kumo_codec_free(&res->base);
    nf_teardown(&nf);
}

static void test_node_submit_rejections_count(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    kumo_buf_t tx;
    nf_send(&nf, 1, 2, 5, &tx);
    tx.ptr[tx.len - 1u] ^= 1u;
    uint8_t hash[32];
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_node_tx_submit(nf.node, kumo_buf_bytes(&tx), hash, &err), KUMO_ESIG);
    assert_false(kumo_node_tx_is_pending(nf.node, hash));
    /* Empty bytes decode as an empty Tx, whose missing signature is invalid. */
    assert_int_equal(kumo_node_tx_submit(nf.node, kumo_bytes_make(NULL, 0), hash, &err),
                     KUMO_EINVAL);
    kumo_node_status_t st;
    kumo_node_status_get(nf.node, &st);
    assert_true(st.txs_rejected_total == 2 && st.mempool_tx_count == 0);
    kumo_buf_free(&tx);
    nf_teardown(&nf);
}

typedef struct listen_log {
    uint64_t heights[8];
    size_t count;
    kumo_node_t *node;
    uint32_t unlisten_id; /* removed from inside the first call */
} listen_log_t;

static void listen_cb(void *ctx, uint64_t height)
{
    listen_log_t *l = ctx;
    assert_true(l->count < 8);
    l->heights[l->count++] = height;
    if (l->unlisten_id != 0) {
        kumo_node_commit_unlisten(l->node, l->unlisten_id);
        l->unlisten_id = 0;
    }
}

static void test_node_commit_listeners(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    listen_log_t a = {.node = nf.node};
    listen_log_t b = {.node = nf.node};
    uint32_t ids[16];
    assert_int_equal(kumo_node_commit_listen(nf.node, listen_cb, &a, &ids[0], NULL), 0);
    assert_int_equal(kumo_node_commit_listen(nf.node, listen_cb, &b, &ids[1], NULL), 0);
    b.unlisten_id = ids[1]; /* b removes itself at its first call */
    listen_log_t spare = {.node = nf.node};
    for (int i = 2; i < 16; i++) {
        assert_int_equal(kumo_node_commit_listen(nf.node, listen_cb, &spare, &ids[i], NULL), 0);
    }
    uint32_t extra = 0;
    assert_int_equal(kumo_node_commit_listen(nf.node, listen_cb, &spare, &extra, NULL),
                     KUMO_ELIMIT);
    for (int i = 2; i < 16; i++) {
        kumo_node_commit_unlisten(nf.node, ids[i]);
    }
    nf_produce(&nf);
    nf_produce(&nf);
    nf_produce(&nf);
    assert_int_equal(a.count, 3);
    assert_true(a.heights[0] == 1 && a.heights[1] == 2 && a.heights[2] == 3);
    assert_int_equal(b.count, 1);
    assert_int_equal(spare.count, 0);
    nf_teardown(&nf);
}

static void test_node_reopen_resumes_at_the_same_head(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    uint8_t hashes[3][32];
    for (int i = 0; i < 3; i++) {
        kumo_buf_t tx;
        nf_send(&nf, 4, 5, 7, &tx);
        nf_submit_ok(&nf, &tx, hashes[i]);
        kumo_buf_free(&tx);
        nf_produce(&nf);
    }
    kumo_node_status_t before;
    kumo_node_status_get(nf.node, &before);
    nf_close_node(&nf);
    nf_open(&nf);
    kumo_node_status_t after;
    kumo_node_status_get(nf.node, &after);
    assert_true(after.height == 3);
    assert_memory_equal(after.app_hash, before.app_hash, 32);
    assert_memory_equal(after.block_hash, before.block_hash, 32);
    assert_true(after.block_time_ms == before.block_time_ms);
    for (int i = 0; i < 3; i++) {
        tx_locate_ok(&nf, hashes[i], (uint64_t)i + 1u, 0);
    }
    /* The next tx continues the account's sequence and the chain continues. */
    kumo_buf_t tx;
    nf_send(&nf, 4, 5, 7, &tx);
    nf_submit_ok(&nf, &tx, hashes[0]);
    kumo_buf_free(&tx);
    nf_produce(&nf);
    Kumo__Block *blk = NULL;
    Kumo__BlockResults *res = NULL;
    block_read(&nf, 4, &blk, &res);
    assert_memory_equal(blk->header->last_block_hash.data, before.block_hash, 32);
    assert_int_equal(res->results[0]->code, 0);
    kumo_codec_free(&blk->base);
    kumo_codec_free(&res->base);
    nf_teardown(&nf);
}

/* Every allocation of a block's production fails once in turn: the call fails with
 * KUMO_ENOMEM and the node stays where it was (height, hashes, mempool, store), until the
 * production that sees no failure commits the block with every tx. ASan checks for leaks. */
static void test_node_produce_survives_allocation_failures(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    uint8_t hashes[4][32];
    for (int i = 0; i < 4; i++) {
        kumo_buf_t tx;
        nf_send(&nf, 1 + i % 2, 3, 10, &tx);
        nf_submit_ok(&nf, &tx, hashes[i]);
        kumo_buf_free(&tx);
    }
    kumo_node_status_t before;
    kumo_node_status_get(nf.node, &before);
    int rc = KUMO_ENOMEM;
    uint64_t n = 1;
    for (; rc != 0; n++) {
        kumo_alloc_fail_at(n);
        kumo_err_ctx_t err = {0};
        rc = kumo_node_block_produce(nf.node, &err);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, KUMO_ENOMEM);
        kumo_node_status_t st;
        kumo_node_status_get(nf.node, &st);
        assert_true(st.height == before.height && st.mempool_tx_count == 4);
        assert_memory_equal(st.app_hash, before.app_hash, 32);
        assert_true(nf_balance(&nf, 3) == NF_BALANCE);
    }
    assert_true(n > 10); /* the loop really went through the block's allocations */
    kumo_node_status_t st;
    kumo_node_status_get(nf.node, &st);
    assert_true(st.height == 1 && st.mempool_tx_count == 0);
    for (uint32_t i = 0; i < 4; i++) {
        tx_locate_ok(&nf, hashes[i], 1, i);
    }
    nf_teardown(&nf);
}

/* Rewrites the stored block 1 (meta unchanged) with bytes, or with its header's app hash
 * flipped when bytes is NULL. */
static void block1_damage(node_fx_t *nf, const char *bytes)
{
    char dir[600];
    home_path(nf, "data", dir, sizeof(dir));
    kumo_store_t *store = NULL;
    assert_int_equal(kumo_store_open(dir, NULL, &store, NULL), 0);
    uint64_t height = 0;
    uint8_t app_hash[32];
    assert_int_equal(kumo_store_meta_get(store, &height, app_hash, NULL), 0);
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_store_read_begin(store, &read, &kv, NULL), 0);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_STORE_RECORD_BYTES_MAX);
    assert_int_equal(kumo_node_block_get(read, 1, &b, NULL), 0);
    kumo_store_read_end(read);
    if (bytes != NULL) {
        kumo_buf_reset(&b);
        assert_int_equal(kumo_buf_append(&b, bytes, strlen(bytes)), 0);
    } else {
        ProtobufCMessage *m = NULL;
        assert_int_equal(
            kumo_codec_unpack(&kumo__block__descriptor, kumo_buf_bytes(&b), b.len, &m, NULL), 0);
        Kumo__Block *blk = (Kumo__Block *)m;
        blk->header->app_hash.data[0] ^= 1u;
        kumo_buf_reset(&b);
        assert_int_equal(kumo_codec_pack(m, &b, NULL), 0);
        kumo_codec_free(m);
    }
    assert_int_equal(kumo_store_block_begin(store, &kv, NULL), 0);
    uint8_t key[8];
    kumo_be64_put(key, 1);
    assert_int_equal(kumo_store_block_record_put(store, KUMO_STORE_TABLE_BLOCKS,
                                                 kumo_bytes_make(key, 8), kumo_buf_bytes(&b), NULL),
                     0);
    assert_int_equal(kumo_store_block_commit(store, height, app_hash, NULL), 0);
    kumo_buf_free(&b);
    kumo_store_close(store);
}

static void test_node_open_rejects_a_damaged_head_block(void **state)
{
    (void)state;
    const char *damage[] = {"not a block", NULL};
    for (size_t i = 0; i < 2; i++) {
        node_fx_t nf;
        nf_home_make(&nf);
        nf_open(&nf);
        nf_produce(&nf);
        nf_close_node(&nf);
        block1_damage(&nf, damage[i]);
        kumo_err_ctx_t err = {0};
        assert_int_equal(kumo_node_open(&nf.cfg, nf.base, &nf.node, &err), KUMO_ECORRUPT);
        assert_null(nf.node);
        nf_teardown(&nf);
    }
}

/* ---- the facilitator ---- */

static void market_tx(node_fx_t *nf, int k, const Kumo__Msg *msg, uint8_t hash[32])
{
    kumo_buf_t tx;
    nf_tx(nf, k, NF_FEE, msg, &tx);
    nf_submit_ok(nf, &tx, hash);
    kumo_buf_free(&tx);
}

static void test_node_facilitator_leases_in_its_block(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf_open(&nf);
    const int prov = 1;
    const int tenant = 2;
    fx_msg_t *cp = fx_msg_new();
    fx_msg_t *dep = fx_msg_new();
    fx_msg_t *bid = fx_msg_new();
    uint8_t h[3][32];
    fx_msg_create_provider(cp, nf.addr[prov], "us-east");
    market_tx(&nf, prov, &cp->msg, h[0]);
    fx_msg_deploy(dep, nf.addr[tenant], 1, 1, 0, 1000000);
    market_tx(&nf, tenant, &dep->msg, h[1]);
    nf_produce(&nf);
    kumo_node_status_t st;
    kumo_node_status_get(nf.node, &st);
    assert_true(st.open_orders == 1 && st.active_leases == 0);
    fx_msg_bid(bid, nf.addr[prov], nf.addr[tenant], 1, 0, 1, &dep->specs[0], 5);
    market_tx(&nf, prov, &bid->msg, h[2]);
    nf_produce(&nf); /* the bid commits */
    kumo_node_status_get(nf.node, &st);
    assert_true(st.open_orders == 1 && st.active_leases == 0);
    nf_produce(&nf); /* the facilitator matches: its tx is first and alone */
    kumo_node_status_get(nf.node, &st);
    assert_true(st.open_orders == 0 && st.active_leases == 1);
    Kumo__Block *blk = NULL;
    Kumo__BlockResults *res = NULL;
    block_read(&nf, 3, &blk, &res);
    assert_true(blk->n_txs == 1);
    assert_int_equal(res->results[0]->code, 0);
    bool leased = false;
    for (size_t i = 0; i < res->results[0]->n_events; i++) {
        leased = leased || strcmp(res->results[0]->events[i]->type, "lease.created") == 0;
    }
    assert_true(leased);
    kumo_codec_free(&blk->base);
    kumo_codec_free(&res->base);
    /* The counts survive a restart (taken from the state index at open). */
    nf_close_node(&nf);
    nf_open(&nf);
    kumo_node_status_get(nf.node, &st);
    assert_true(st.open_orders == 0 && st.active_leases == 1);
    free(cp);
    free(dep);
    free(bid);
    nf_teardown(&nf);
}

/* ---- the block timer ---- */

typedef struct timer_wait {
    struct event_base *base;
    uint64_t target;
    bool reached;
    bool timed_out;
} timer_wait_t;

static void timer_listen_cb(void *ctx, uint64_t height)
{
    timer_wait_t *w = ctx;
    if (height >= w->target) {
        w->reached = true;
        (void)event_base_loopbreak(w->base);
    }
}

static void timer_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    timer_wait_t *w = arg;
    w->timed_out = true;
    (void)event_base_loopbreak(w->base);
}

static void test_node_timer_produces_blocks(void **state)
{
    (void)state;
    node_fx_t nf;
    nf_home_make(&nf);
    nf.cfg.block_interval_ms = 5;
    nf_open(&nf);
    timer_wait_t w = {.base = nf.base, .target = 3};
    uint32_t id = 0;
    assert_int_equal(kumo_node_commit_listen(nf.node, timer_listen_cb, &w, &id, NULL), 0);
    struct event *deadline = evtimer_new(nf.base, timer_deadline_cb, &w);
    struct timeval tv = {.tv_sec = 20};
    assert_int_equal(evtimer_add(deadline, &tv), 0);
    assert_int_equal(event_base_dispatch(nf.base), 0);
    event_free(deadline);
    assert_false(w.timed_out);
    assert_true(w.reached);
    kumo_node_status_t st;
    kumo_node_status_get(nf.node, &st);
    assert_true(st.height >= 3);
    nf_teardown(&nf);
}

/* ---- a local node: the block path of `kumo demo`, the randomized test and the benchmarks ---- */

/* A genesis funding keys 0..3 with key 0 the validator (power 1). */
static void local_genesis(node_fx_t *nf,
                          Kumo__Genesis *g,
                          Kumo__Params *params,
                          Kumo__GenesisBalance bal[4],
                          Kumo__GenesisBalance *bal_ptrs[4],
                          Kumo__Validator *val,
                          Kumo__Validator **val_ptr)
{
    kumo__params__init(params);
    kumo_market_params_default(params);
    params->min_fee = NF_FEE;
    for (int i = 0; i < 4; i++) {
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, nf->addr[i]};
        bal[i].amount = NF_BALANCE;
        bal_ptrs[i] = &bal[i];
    }
    kumo__validator__init(val);
    val->address = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, nf->addr[0]};
    val->pubkey = (ProtobufCBinaryData){KUMO_CRYPTO_PUBKEY_BYTES, nf->keys[0].pubkey};
    val->power = 1;
    *val_ptr = val;
    kumo__genesis__init(g);
    g->chain_id = NF_CHAIN_ID;
    g->params = params;
    g->n_balances = 4;
    g->balances = bal_ptrs;
    g->n_validators = 1;
    g->validators = val_ptr;
}

/* kumo_node_local_open + kumo_node_block_produce_txs: the given txs follow the facilitator's
 * in order, a malformed one is a failed result (not an error), the block is stored like any
 * node block (header, results, proposer); the store reopens without a genesis at its head; a
 * fresh store without one, or a genesis of another chain, is refused. */
static void test_node_local_produces_given_txs(void **state)
{
    (void)state;
    node_fx_t nf;
    memset(&nf, 0, sizeof(nf));
    nf_keys_make(&nf);
    nf.home = kumo_test_tmpdir_make("node-local");
    assert_non_null(nf.home);
    Kumo__Genesis g;
    Kumo__Params params;
    Kumo__GenesisBalance bal[4];
    Kumo__GenesisBalance *bal_ptrs[4];
    Kumo__Validator val;
    Kumo__Validator *val_ptr = NULL;
    local_genesis(&nf, &g, &params, bal, bal_ptrs, &val, &val_ptr);
    kumo_node_local_cfg_t lcfg = {
        .dir = nf.home, .chain_id = NF_CHAIN_ID, .no_sync = true, .validator = &nf.keys[0]};
    kumo_err_ctx_t err = {0};
    kumo_node_local_cfg_t other = lcfg;
    other.chain_id = "another-chain";
    assert_int_equal(kumo_node_local_open(&other, &g, &nf.node, &err), KUMO_ECHAINID);
    assert_int_equal(kumo_node_local_open(&lcfg, NULL, &nf.node, &err), KUMO_EINVAL);
    nf_fail("local open", kumo_node_local_open(&lcfg, &g, &nf.node, &err), &err);
    kumo_buf_t send;
    nf_send(&nf, 1, 2, 7, &send);
    static const uint8_t garbage[3] = {1, 2, 3};
    kumo_bytes_t txs[2] = {kumo_buf_bytes(&send), kumo_bytes_make(garbage, sizeof(garbage))};
    kumo_chain_block_out_t out;
    size_t fac = 99;
    nf_fail("produce txs", kumo_node_block_produce_txs(nf.node, txs, 2, &out, &fac, &err), &err);
    assert_int_equal(fac, 0); /* nothing due */
    assert_int_equal(out.result_count, 2);
    assert_int_equal(out.results[0].code, 0);
    assert_int_equal(out.results[1].code, KUMO_EDECODE);
    Kumo__Block *blk = NULL;
    Kumo__BlockResults *res = NULL;
    block_read(&nf, 1, &blk, &res);
    assert_int_equal(blk->n_txs, 2);
    assert_int_equal(res->n_results, 2);
    assert_memory_equal(blk->header->app_hash.data, out.app_hash, KUMO_CHAIN_HASH_BYTES);
    assert_memory_equal(blk->header->proposer.data, nf.addr[0], KUMO_ADDRESS_BYTES);
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(nf.node, &read, &kv, NULL), 0);
    kumo_node_block_info_t *info = calloc(1, sizeof(*info));
    assert_non_null(info);
    nf_fail("info", kumo_node_block_info_get(nf.node, &kv, blk, info, &err), &err);
    assert_true(info->has_proposer);
    assert_memory_equal(info->proposer, nf.keys[0].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_int_equal(info->signer_count, 0); /* no last commit */
    free(info);
    kumo_store_read_end(read);
    kumo_codec_free(&blk->base);
    kumo_codec_free(&res->base);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&send);
    assert_int_equal(nf_balance(&nf, 2), NF_BALANCE + 7u);
    /* Reopened without a genesis: at its head, and it goes on. */
    nf_close_node(&nf);
    nf_fail("local reopen", kumo_node_local_open(&lcfg, NULL, &nf.node, &err), &err);
    kumo_node_status_t st;
    kumo_node_status_get(nf.node, &st);
    assert_int_equal(st.height, 1);
    nf_fail("produce empty", kumo_node_block_produce_txs(nf.node, NULL, 0, &out, NULL, &err), &err);
    assert_int_equal(out.result_count, 0);
    kumo_chain_block_out_free(&out);
    kumo_node_status_get(nf.node, &st);
    assert_int_equal(st.height, 2);
    nf_teardown(&nf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_home_init_writes_a_usable_home),
        cmocka_unit_test(test_node_cfg_load_is_strict),
        cmocka_unit_test(test_node_genesis_account_add_until_start),
        cmocka_unit_test(test_node_block_carries_txs_with_header_hashes),
        cmocka_unit_test(test_node_submit_rejections_count),
        cmocka_unit_test(test_node_commit_listeners),
        cmocka_unit_test(test_node_reopen_resumes_at_the_same_head),
        cmocka_unit_test(test_node_produce_survives_allocation_failures),
        cmocka_unit_test(test_node_open_rejects_a_damaged_head_block),
        cmocka_unit_test(test_node_facilitator_leases_in_its_block),
        cmocka_unit_test(test_node_timer_produces_blocks),
        cmocka_unit_test(test_node_local_produces_given_txs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
