/*
 * test_block.c - proves block application: a good tx moves funds, charges its fee and bumps
 * its sequence; every tx-level rule violation (malformed, non-canonical, bad signature, wrong
 * chain id, replay, wrong sequence, low fee, unfunded fee, no msgs, unknown msg, facilitator
 * msg from a non-operator, size limit at MAX and MAX+1, bad pubkey size) gets its own code and
 * leaves the state and the app hash exactly as an empty block would; a failing msg rolls back
 * but keeps the fee and sequence; oversize blocks are refused; app hashes are deterministic;
 * the proposer, last-commit signers and evidence reach the chain, checked at MAX and MAX+1;
 * under MsgExec the grantee (the signer) pays the fee and the granter the deposit.
 * Runs on a real LMDB store.
 */
#include "unit/chain/chain_fixture.h"

static void test_send_moves_funds_and_charges_fee(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&fx, 2, 1234, &send, &msg);
    kumo_buf_t tx;
    fx_tx(&fx, 1, FX_FEE, &msg, &tx);
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
    kumo_chain_block_out_t out;
    fx_block(&fx, txs, 1, &out);
    assert_int_equal(out.results[0].code, 0);
    assert_int_equal(out.tx_ok_count, 1);
    assert_true(out.results[0].event_count >= 1);
    assert_int_equal(fx_balance(&fx, 1), FX_BALANCE - 1234 - FX_FEE);
    assert_int_equal(fx_balance(&fx, 2), FX_BALANCE + 1234);
    assert_int_equal(fx_sequence(&fx, 1), 1);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&tx);
    fx_close(&fx);
}

/* ---- tx-level negative table ---- */

typedef void (*bad_tx_fn)(chain_fx_t *fx, kumo_buf_t *out);

static void bad_garbage(chain_fx_t *fx, kumo_buf_t *out)
{
    (void)fx;
    kumo_buf_init(out, 64);
    assert_int_equal(kumo_buf_append(out, "\xff\xff\xff\x01garbage", 11), 0);
}

static void good_send(chain_fx_t *fx, int k, uint64_t fee, kumo_buf_t *out)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(fx, 2, 10, &send, &msg);
    fx_tx(fx, k, fee, &msg, out);
}

static void bad_trailing_unknown_field(chain_fx_t *fx, kumo_buf_t *out)
{
    good_send(fx, 1, FX_FEE, out);
    /* Field 15, varint 1: unknown to Tx. */
    assert_int_equal(kumo_buf_append(out, "\x78\x01", 2), 0);
}

static void bad_signature(chain_fx_t *fx, kumo_buf_t *out)
{
    good_send(fx, 1, FX_FEE, out);
    out->ptr[out->len - 1] ^= 0x01; /* the signature is the last field */
}

static void bad_chain_id(chain_fx_t *fx, kumo_buf_t *out)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(fx, 2, 10, &send, &msg);
    Kumo__Msg *msgs[1] = {&msg};
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    assert_int_equal(
        kumo_chain_tx_build("other-chain", &fx->keys[1], 0, FX_FEE, "", msgs, 1, out, NULL), 0);
}

static void bad_future_sequence(chain_fx_t *fx, kumo_buf_t *out)
{
    fx->seq[1] = 5;
    good_send(fx, 1, FX_FEE, out);
}

static void bad_fee_low(chain_fx_t *fx, kumo_buf_t *out)
{
    good_send(fx, 1, FX_FEE - 1, out);
}

static void bad_fee_unfunded(chain_fx_t *fx, kumo_buf_t *out)
{
    good_send(fx, 1, FX_BALANCE + 1, out);
}

static void bad_no_msgs(chain_fx_t *fx, kumo_buf_t *out)
{
    fx_tx(fx, 1, FX_FEE, NULL, out);
}

static void bad_unknown_msg(chain_fx_t *fx, kumo_buf_t *out)
{
    Kumo__Msg msg = KUMO__MSG__INIT; /* no member of the oneof set */
    fx_tx(fx, 1, FX_FEE, &msg, out);
}

static void bad_facilitator_from_tenant(chain_fx_t *fx, kumo_buf_t *out)
{
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = fx->addr[1];
    id.owner.len = KUMO_ADDRESS_BYTES;
    id.dseq = 1;
    id.oseq = 1;
    Kumo__MsgSubmitLease sl = KUMO__MSG_SUBMIT_LEASE__INIT;
    sl.order = &id;
    sl.provider.data = fx->addr[2];
    sl.provider.len = KUMO_ADDRESS_BYTES;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE;
    msg.submit_lease = &sl;
    fx_tx(fx, 1, FX_FEE, &msg, out);
}

static void bad_pubkey_size(chain_fx_t *fx, kumo_buf_t *out)
{
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(fx, 2, 10, &send, &msg);
    Kumo__Msg *msgs[1] = {&msg};
    Kumo__TxBody body = KUMO__TX_BODY__INIT;
    body.chain_id = FX_CHAIN_ID;
    body.signer_pubkey.data = fx->keys[1].pubkey;
    body.signer_pubkey.len = 31;
    body.fee = FX_FEE;
    body.n_msgs = 1;
    body.msgs = msgs;
    kumo_buf_t body_buf;
    kumo_buf_init(&body_buf, KUMO_TX_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&body.base, &body_buf, NULL), 0);
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES] = {0};
    Kumo__Tx tx = KUMO__TX__INIT;
    tx.body.data = body_buf.ptr;
    tx.body.len = body_buf.len;
    tx.signature.data = sig;
    tx.signature.len = sizeof(sig);
    kumo_buf_init(out, KUMO_TX_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&tx.base, out, NULL), 0);
    kumo_buf_free(&body_buf);
}

static void test_tx_rule_violations_change_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bad_tx_fn make;
        int want;
    } cases[] = {
        {"garbage bytes", bad_garbage, KUMO_EDECODE},
        {"unknown trailing field", bad_trailing_unknown_field, KUMO_EDECODE},
        {"bad signature", bad_signature, KUMO_ESIG},
        {"wrong chain id", bad_chain_id, KUMO_ECHAINID},
        {"future sequence", bad_future_sequence, KUMO_ESEQUENCE},
        {"fee below minimum", bad_fee_low, KUMO_EFEE},
        {"fee above balance", bad_fee_unfunded, KUMO_EFUNDS},
        {"no msgs", bad_no_msgs, KUMO_EEMPTY},
        {"unknown msg", bad_unknown_msg, KUMO_EUNKNOWNMSG},
        {"facilitator msg from a tenant", bad_facilitator_from_tenant, KUMO_EUNAUTH},
        {"pubkey of 31 bytes", bad_pubkey_size, KUMO_EINVAL},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        chain_fx_t fx;
        fx_open(&fx, NULL);
        uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
        uint8_t empty_hash[KUMO_CHAIN_HASH_BYTES];
        assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, before), 0);
        assert_int_equal(kumo_chain_app_hash_compute(&fx.ts.kv, fx.app_hash, empty_hash, NULL), 0);
        kumo_buf_t tx;
        cases[i].make(&fx, &tx);
        kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
        kumo_chain_block_out_t out;
        fx_block(&fx, txs, 1, &out);
        if (out.results[0].code != cases[i].want) {
            fail_msg("%s: got %s (%s), want %s", cases[i].name, kumo_err_name(out.results[0].code),
                     out.results[0].log, kumo_err_name(cases[i].want));
        }
        assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, after), 0);
        assert_memory_equal(before, after, sizeof(before));
        assert_memory_equal(out.app_hash, empty_hash, KUMO_CHAIN_HASH_BYTES);
        assert_int_equal(out.tx_failed_count, 1);
        kumo_chain_block_out_free(&out);
        kumo_buf_free(&tx);
        fx_close(&fx);
    }
}

static void test_replayed_tx_is_rejected(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_buf_t tx;
    good_send(&fx, 1, FX_FEE, &tx);
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
    kumo_chain_block_out_t out;
    fx_block(&fx, txs, 1, &out);
    assert_int_equal(out.results[0].code, 0);
    kumo_chain_block_out_free(&out);
    /* The next block pays the collected fee to the validators (staking's begin-block). */
    fx_block(&fx, NULL, 0, &out);
    kumo_chain_block_out_free(&out);
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, before), 0);
    fx_block(&fx, txs, 1, &out);
    assert_int_equal(out.results[0].code, KUMO_ESEQUENCE);
    assert_int_equal(kumo_test_kv_digest(&fx.ts.kv, after), 0);
    assert_memory_equal(before, after, sizeof(before));
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&tx);
    fx_close(&fx);
}

static void test_failing_msg_keeps_only_fee_and_sequence(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&fx, 2, FX_BALANCE, &send, &msg); /* balance - fee < amount */
    kumo_buf_t tx;
    fx_tx(&fx, 1, FX_FEE, &msg, &tx);
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
    kumo_chain_block_out_t out;
    fx_block(&fx, txs, 1, &out);
    assert_int_equal(out.results[0].code, KUMO_EFUNDS);
    assert_int_equal(out.results[0].event_count, 0);
    assert_int_equal(out.results[0].fee, FX_FEE);
    assert_int_equal(fx_balance(&fx, 1), FX_BALANCE - FX_FEE);
    assert_int_equal(fx_balance(&fx, 2), FX_BALANCE);
    assert_int_equal(fx_sequence(&fx, 1), 1);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&tx);
    fx_close(&fx);
}

/* One tx of key k with msg as the next block; returns its result code. */
static int grant_block(chain_fx_t *fx, int k, const Kumo__Msg *msg)
{
    kumo_buf_t tx;
    fx_tx(fx, k, FX_FEE, msg, &tx);
    kumo_bytes_t txs[1] = {kumo_buf_bytes(&tx)};
    kumo_chain_block_out_t out;
    fx_block(fx, txs, 1, &out);
    int code = out.results[0].code;
    assert_int_equal(out.results[0].fee, FX_FEE);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&tx);
    return code;
}

/* Under MsgExec the grantee signs and pays the fee; the granter's balance pays the deposit. */
static void test_exec_fee_by_grantee_deposit_by_granter(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 500;
    cu.memory_bytes = 1u << 20;
    Kumo__ResourceGroup rg = KUMO__RESOURCE_GROUP__INIT;
    rg.compute = &cu;
    rg.price = 10;
    rg.count = 1;
    Kumo__ResourceGroup *rgp[1] = {&rg};
    Kumo__GroupSpec gs = KUMO__GROUP_SPEC__INIT;
    gs.name = "web";
    gs.region = "us-east";
    gs.resources = rgp;
    gs.n_resources = 1;
    Kumo__GroupSpec *gsp[1] = {&gs};
    uint8_t version[KUMO_VERSION_BYTES] = {1};
    Kumo__MsgSubmitDeployment sd = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    sd.dseq = 1;
    sd.groups = gsp;
    sd.n_groups = 1;
    sd.version.data = version;
    sd.version.len = sizeof(version);
    sd.deposit = fx.params.min_deposit;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    msg.submit_deployment = &sd;
    assert_int_equal(grant_block(&fx, 1, &msg), 0);

    uint32_t types[1] = {KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT};
    Kumo__MsgGrant g = KUMO__MSG_GRANT__INIT;
    g.grantee.data = fx.addr[2];
    g.grantee.len = KUMO_ADDRESS_BYTES;
    g.msg_types = types;
    g.n_msg_types = 1;
    g.spend_limit = 1000;
    g.expiry_height = 100;
    msg.sum_case = KUMO__MSG__SUM_GRANT;
    msg.grant = &g;
    assert_int_equal(grant_block(&fx, 1, &msg), 0);

    Kumo__MsgDepositDeployment dd = KUMO__MSG_DEPOSIT_DEPLOYMENT__INIT;
    dd.owner.data = fx.addr[1];
    dd.owner.len = KUMO_ADDRESS_BYTES;
    dd.dseq = 1;
    dd.amount = 600;
    Kumo__Msg inner = KUMO__MSG__INIT;
    inner.sum_case = KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT;
    inner.deposit_deployment = &dd;
    Kumo__Msg *inners[1] = {&inner};
    Kumo__MsgExec e = KUMO__MSG_EXEC__INIT;
    e.granter.data = fx.addr[1];
    e.granter.len = KUMO_ADDRESS_BYTES;
    e.msgs = inners;
    e.n_msgs = 1;
    msg.sum_case = KUMO__MSG__SUM_EXEC;
    msg.exec = &e;
    uint64_t granter_before = fx_balance(&fx, 1);
    uint64_t grantee_before = fx_balance(&fx, 2);
    assert_int_equal(grant_block(&fx, 2, &msg), 0);
    assert_int_equal(fx_balance(&fx, 1), granter_before - 600);
    assert_int_equal(fx_balance(&fx, 2), grantee_before - FX_FEE);
    assert_int_equal(fx_sequence(&fx, 2), 1);
    assert_int_equal(fx_sequence(&fx, 1), 2);
    /* Over the spend left (400): the grantee still pays the fee, nothing else moves. */
    assert_int_equal(grant_block(&fx, 2, &msg), KUMO_EGRANTSPEND);
    assert_int_equal(fx_balance(&fx, 1), granter_before - 600);
    assert_int_equal(fx_balance(&fx, 2), grantee_before - 2 * FX_FEE);
    fx_close(&fx);
}

/* A Send tx padded with a memo to exactly len bytes. */
static void sized_send(chain_fx_t *fx, size_t len, kumo_buf_t *out)
{
    char memo[KUMO_MEMO_BYTES_MAX + 1];
    size_t memo_len = 0;
    for (;;) {
        memset(memo, 'm', memo_len);
        memo[memo_len] = '\0';
        Kumo__MsgSend send;
        Kumo__Msg msg;
        fx_send_msg(fx, 2, 10, &send, &msg);
        Kumo__Msg *msgs[1] = {&msg};
        kumo_buf_init(out, KUMO_TX_BYTES_MAX);
        assert_int_equal(kumo_chain_tx_build(FX_CHAIN_ID, &fx->keys[1], fx->seq[1], FX_FEE, memo,
                                             msgs, 1, out, NULL),
                         0);
        if (out->len >= len) {
            assert_int_equal(out->len, len);
            fx->seq[1]++;
            return;
        }
        kumo_buf_free(out);
        memo_len++;
        assert_true(memo_len <= KUMO_MEMO_BYTES_MAX);
    }
}

static void test_max_tx_bytes_at_max_and_max_plus_one(void **state)
{
    (void)state;
    Kumo__Params params;
    kumo__params__init(&params);
    kumo_market_params_default(&params);
    params.min_fee = FX_FEE;
    params.max_tx_bytes = 300;
    chain_fx_t fx;
    fx_open(&fx, &params);
    kumo_buf_t at_max;
    kumo_buf_t over;
    sized_send(&fx, 300, &at_max);
    sized_send(&fx, 301, &over);
    kumo_bytes_t txs[2] = {kumo_buf_bytes(&at_max), kumo_buf_bytes(&over)};
    kumo_chain_block_out_t out;
    fx_block(&fx, txs, 2, &out);
    assert_int_equal(out.results[0].code, 0);
    assert_int_equal(out.results[1].code, KUMO_ELIMIT);
    kumo_chain_block_out_free(&out);
    kumo_buf_free(&at_max);
    kumo_buf_free(&over);
    fx_close(&fx);
}

static void test_block_over_max_bytes_is_refused(void **state)
{
    (void)state;
    Kumo__Params params;
    kumo__params__init(&params);
    kumo_market_params_default(&params);
    params.min_fee = FX_FEE;
    params.max_tx_bytes = 500;
    params.max_block_bytes = 1000;
    chain_fx_t fx;
    fx_open(&fx, &params);
    kumo_buf_t tx[8];
    kumo_bytes_t txs[8];
    for (int i = 0; i < 8; i++) {
        good_send(&fx, 1, FX_FEE, &tx[i]);
        txs[i] = kumo_buf_bytes(&tx[i]);
    }
    kumo_chain_block_in_t in = {
        .chain_id = FX_CHAIN_ID,
        .height = 1,
        .prev_app_hash = fx.app_hash,
        .txs = txs,
        .tx_count = 8,
    };
    kumo_chain_block_out_t out;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_chain_block_apply(&fx.ts.kv, &in, &out, &err), KUMO_ELIMIT);
    for (int i = 0; i < 8; i++) {
        kumo_buf_free(&tx[i]);
    }
    fx_close(&fx);
}

static void test_app_hash_is_deterministic_and_content_bound(void **state)
{
    (void)state;
    chain_fx_t a;
    chain_fx_t b;
    fx_open(&a, NULL);
    fx_open(&b, NULL);
    assert_memory_equal(a.app_hash, b.app_hash, KUMO_CHAIN_HASH_BYTES);
    kumo_buf_t ta;
    kumo_buf_t tb;
    good_send(&a, 1, FX_FEE, &ta);
    good_send(&b, 1, FX_FEE, &tb);
    assert_memory_equal(ta.ptr, tb.ptr, ta.len);
    kumo_bytes_t txa[1] = {kumo_buf_bytes(&ta)};
    kumo_chain_block_out_t oa;
    kumo_chain_block_out_t ob;
    fx_block(&a, txa, 1, &oa);
    fx_block(&b, txa, 1, &ob);
    assert_memory_equal(oa.app_hash, ob.app_hash, KUMO_CHAIN_HASH_BYTES);
    kumo_chain_block_out_free(&oa);
    kumo_chain_block_out_free(&ob);
    /* A different tx gives a different hash. */
    kumo_buf_t tc;
    Kumo__MsgSend send;
    Kumo__Msg msg;
    fx_send_msg(&a, 3, 11, &send, &msg);
    fx_tx(&a, 1, FX_FEE, &msg, &tc);
    kumo_bytes_t txc[1] = {kumo_buf_bytes(&tc)};
    kumo_buf_t td;
    good_send(&b, 1, FX_FEE, &td);
    kumo_bytes_t txd[1] = {kumo_buf_bytes(&td)};
    fx_block(&a, txc, 1, &oa);
    fx_block(&b, txd, 1, &ob);
    assert_memory_not_equal(oa.app_hash, ob.app_hash, KUMO_CHAIN_HASH_BYTES);
    kumo_chain_block_out_free(&oa);
    kumo_chain_block_out_free(&ob);
    kumo_buf_free(&ta);
    kumo_buf_free(&tb);
    kumo_buf_free(&tc);
    kumo_buf_free(&td);
    fx_close(&a);
    fx_close(&b);
}

/* ---- the consensus inputs of a block ---- */

static kumo_chain_commit_signer_t cs_signers[KUMO_BLOCK_SIGNER_COUNT_MAX + 1u];
static kumo_chain_evidence_t cs_evidence[KUMO_BLOCK_EVIDENCE_COUNT_MAX + 1u];

/* Fills the signer and evidence tables with valid items (one more than each limit). */
static void cs_fill(void)
{
    for (size_t i = 0; i <= KUMO_BLOCK_SIGNER_COUNT_MAX; i++) {
        memset(cs_signers[i].pubkey, (int)(i & 0xffu), KUMO_CRYPTO_PUBKEY_BYTES);
        cs_signers[i].power = i + 1u;
        cs_signers[i].signed_block = i % 2u == 0;
    }
    for (size_t i = 0; i <= KUMO_BLOCK_EVIDENCE_COUNT_MAX; i++) {
        memset(cs_evidence[i].pubkey, (int)(i + 1u), KUMO_CRYPTO_PUBKEY_BYTES);
        cs_evidence[i].height = 0;
        cs_evidence[i].round = (uint32_t)i;
    }
}

typedef struct cs_case {
    const char *name;
    size_t signer_count;
    size_t evidence_count;
    int corrupt; /* 0 none, 1: a signer of power 0, 2: evidence of the block's own height */
    int want;
} cs_case_t;

static const cs_case_t cs_cases[] = {
    {"none", 0, 0, 0, 0},
    {"signers and evidence at max", KUMO_BLOCK_SIGNER_COUNT_MAX, KUMO_BLOCK_EVIDENCE_COUNT_MAX, 0,
     0},
    {"signers over max", KUMO_BLOCK_SIGNER_COUNT_MAX + 1u, 0, 0, KUMO_ELIMIT},
    {"evidence over max", 4, KUMO_BLOCK_EVIDENCE_COUNT_MAX + 1u, 0, KUMO_ELIMIT},
    {"signer without power", 4, 1, 1, KUMO_EINVAL},
    {"evidence of the block's height", 4, 1, 2, KUMO_EINVAL},
};

/* The chain takes the proposer, the last-commit signers and the evidence with every block and
 * checks them before any write: within the limits a block applies (these inputs do not move
 * state by themselves: the app hash is an empty block's), over them it is refused with its
 * own code and nothing changes. */
static void test_block_consensus_inputs(void **state)
{
    (void)state;
    cs_fill();
    for (size_t c = 0; c < sizeof(cs_cases) / sizeof(cs_cases[0]); c++) {
        const cs_case_t *tc = &cs_cases[c];
        chain_fx_t fx;
        fx_open(&fx, NULL);
        /* What an empty block gives on the same state. */
        kumo_chain_block_in_t in = {
            .chain_id = FX_CHAIN_ID,
            .height = 1,
            .prev_app_hash = fx.app_hash,
        };
        kumo_chain_block_out_t out;
        assert_int_equal(kumo_chain_block_apply(&fx.ts.kv, &in, &out, NULL), 0);
        uint8_t empty_hash[KUMO_CHAIN_HASH_BYTES];
        memcpy(empty_hash, out.app_hash, sizeof(empty_hash));
        kumo_chain_block_out_free(&out);
        cs_signers[0].power = tc->corrupt == 1 ? 0u : 1u;
        cs_evidence[0].height = tc->corrupt == 2 ? 1u : 0u;
        in.proposer = fx.keys[0].pubkey;
        in.last_commit_signers = tc->signer_count > 0 ? cs_signers : NULL;
        in.last_commit_signer_count = tc->signer_count;
        in.evidence = tc->evidence_count > 0 ? cs_evidence : NULL;
        in.evidence_count = tc->evidence_count;
        kumo_err_ctx_t err = {0};
        int rc = kumo_chain_block_apply(&fx.ts.kv, &in, &out, &err);
        if (rc != tc->want) {
            fail_msg("%s: got %s (%s), want %s", tc->name, kumo_err_name(rc), err.detail,
                     kumo_err_name(tc->want));
        }
        if (rc == 0) {
            assert_memory_equal(out.app_hash, empty_hash, KUMO_CHAIN_HASH_BYTES);
            kumo_chain_block_out_free(&out);
        }
        /* Refused or not, nothing else was written: an empty block still gives its hash. */
        in.last_commit_signer_count = 0;
        in.evidence_count = 0;
        assert_int_equal(kumo_chain_block_apply(&fx.ts.kv, &in, &out, NULL), 0);
        assert_memory_equal(out.app_hash, empty_hash, KUMO_CHAIN_HASH_BYTES);
        kumo_chain_block_out_free(&out);
        fx_close(&fx);
    }
    cs_signers[0].power = 1;
}

static void test_tx_decode_round_trip_and_signature(void **state)
{
    (void)state;
    chain_fx_t fx;
    fx_open(&fx, NULL);
    kumo_buf_t tx;
    good_send(&fx, 1, FX_FEE, &tx);
    kumo_chain_tx_t d;
    assert_int_equal(kumo_chain_tx_prepare(kumo_buf_bytes(&tx), KUMO_TX_BYTES_MAX, &d, NULL), 0);
    assert_true(d.sig_valid);
    assert_memory_equal(d.signer, fx.addr[1], KUMO_ADDRESS_BYTES);
    assert_int_equal(d.body->n_msgs, 1);
    assert_false(d.facilitator_only);
    assert_int_equal(kumo_chain_tx_check_basic(&d, FX_CHAIN_ID, NULL), 0);
    assert_int_equal(kumo_chain_tx_check_basic(&d, "x", NULL), KUMO_ECHAINID);
    kumo_chain_tx_free(&d);
    assert_int_equal(kumo_chain_tx_decode(kumo_buf_bytes(&tx), tx.len - 1, &d, NULL), KUMO_ELIMIT);
    kumo_buf_free(&tx);
    fx_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_fee_by_grantee_deposit_by_granter),
        cmocka_unit_test(test_send_moves_funds_and_charges_fee),
        cmocka_unit_test(test_tx_rule_violations_change_nothing),
        cmocka_unit_test(test_replayed_tx_is_rejected),
        cmocka_unit_test(test_failing_msg_keeps_only_fee_and_sequence),
        cmocka_unit_test(test_max_tx_bytes_at_max_and_max_plus_one),
        cmocka_unit_test(test_block_over_max_bytes_is_refused),
        cmocka_unit_test(test_app_hash_is_deterministic_and_content_bound),
        cmocka_unit_test(test_tx_decode_round_trip_and_signature),
        cmocka_unit_test(test_block_consensus_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
