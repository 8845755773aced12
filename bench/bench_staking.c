/*
 * bench_staking.c - reward accounting cost per block with many delegations vs few: one
 * validator with 10 delegations, then with 100,000; each block collects a fee and runs
 * staking's begin-block (mint, fee pool, pay the signer: commission + accumulator) and
 * end-block (active set). The accumulator makes the work independent of the delegations, so
 * the ratio should stay near 1. Prints name=value lines.
 */
#include "bench_util.h"

#include "bank/bank.h"
#include "staking/staking.h"

#define BENCH_BLOCKS 2000u

static void must(int rc, const char *what, const kumo_err_ctx_t *err)
{
    if (rc != 0) {
        bench_die(what, rc, err);
    }
}

static void addr_of(uint32_t i, uint8_t out[KUMO_ADDRESS_BYTES])
{
    memset(out, 0x5a, KUMO_ADDRESS_BYTES);
    for (int b = 0; b < 4; b++) {
        out[b] = (uint8_t)(i >> (8 * b));
    }
}

/* ns per block with `delegations` delegators on one validator. */
static uint64_t run(uint32_t delegations)
{
    char *dir = bench_tmpdir("staking");
    kumo_store_cfg_t cfg = {.no_sync = true};
    kumo_store_t *store = NULL;
    kumo_err_ctx_t err = {0};
    must(kumo_store_open(dir, &cfg, &store, &err), "store", &err);
    kumo_kv_t kv;
    must(kumo_store_block_begin(store, &kv, &err), "begin", &err);
    kumo_buf_t scratch;
    kumo_buf_init(&scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    uint64_t each = 1000000;
    kumo_bank_totals_t t = {.supply = (uint64_t)(delegations + 2u) * each};
    must(kumo_bank_totals_put(&kv, &t, &err), "totals", &err);
    uint8_t op[KUMO_ADDRESS_BYTES];
    memset(op, 0x01, sizeof(op));
    must(kumo_bank_balance_add(&kv, &scratch, op, 2 * each, &err), "fund", &err);
    Kumo__StakingParams p;
    kumo_staking_params_default(&p);
    must(kumo_staking_genesis_apply(&kv, &p, NULL, 0, &err), "genesis", &err);
    uint8_t key[KUMO_CRYPTO_PUBKEY_BYTES];
    memset(key, 0x77, sizeof(key));
    Kumo__MsgCreateValidator cv = KUMO__MSG_CREATE_VALIDATOR__INIT;
    cv.consensus_pubkey = (ProtobufCBinaryData){sizeof(key), key};
    cv.moniker = (char *)(uintptr_t) "bench";
    cv.self_stake = each;
    cv.commission_rate_ppm = 100000;
    cv.commission_max_rate_ppm = 200000;
    cv.commission_max_change_ppm = 10000;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CREATE_VALIDATOR;
    msg.create_validator = &cv;
    kumo_staking_ctx_t ctx = {.kv = &kv, .height = 1, .signer = op};
    must(kumo_staking_msg_apply(&ctx, &msg, &err), "create", &err);
    Kumo__MsgDelegate dm = KUMO__MSG_DELEGATE__INIT;
    dm.validator = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, op};
    dm.amount = each / 2;
    msg.sum_case = KUMO__MSG__SUM_DELEGATE;
    msg.delegate = &dm;
    uint64_t height = 1;
    uint8_t hash[KUMO_STORE_HASH_BYTES] = {0};
    for (uint32_t i = 0; i < delegations; i++) {
        uint8_t d[KUMO_ADDRESS_BYTES];
        addr_of(i + 2, d);
        must(kumo_bank_balance_add(&kv, &scratch, d, each, &err), "fund", &err);
        ctx.signer = d;
        must(kumo_staking_msg_apply(&ctx, &msg, &err), "delegate", &err);
        if (i % 10000 == 9999) {
            must(kumo_store_block_commit(store, height++, hash, &err), "commit", &err);
            must(kumo_store_block_begin(store, &kv, &err), "begin", &err);
        }
    }
    must(kumo_store_block_commit(store, height++, hash, &err), "commit", &err);
    kumo_staking_signer_t signer = {.power = 1, .signed_block = true};
    memcpy(signer.pubkey, key, sizeof(key));
    uint64_t t0 = bench_now_ns();
    for (uint32_t b = 0; b < BENCH_BLOCKS; b++) {
        must(kumo_store_block_begin(store, &kv, &err), "begin", &err);
        uint8_t payer[KUMO_ADDRESS_BYTES];
        addr_of(2, payer);
        must(kumo_bank_fee_collect(&kv, payer, 1, &err), "fee", &err);
        kumo_staking_begin_t in = {.height = height, .signers = &signer, .signer_count = 1};
        must(kumo_staking_block_begin(&kv, &in, &err), "begin-block", &err);
        must(kumo_staking_block_end(&kv, height, NULL, NULL, &err), "end-block", &err);
        must(kumo_store_block_commit(store, height++, hash, &err), "commit", &err);
    }
    uint64_t ns = (bench_now_ns() - t0) / BENCH_BLOCKS;
    kumo_buf_free(&scratch);
    kumo_store_close(store);
    bench_rmdir(dir);
    return ns;
}

int main(void)
{
    uint64_t few = run(10);
    uint64_t many = run(100000);
    bench_result("staking_block_ns_10_delegations", few, "ns");
    bench_result("staking_block_ns_100000_delegations", many, "ns");
    bench_ratio("staking_block_100000_vs_10", many, few);
    return 0;
}
