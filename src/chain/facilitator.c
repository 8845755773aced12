/*
 * facilitator.c - turns the market's due facilitator msgs into signed txs for a proposer,
 * keeping only the msgs that succeed on the state they will meet in the block.
 *
 * The market collects every due msg from one state, but applied in order one msg can
 * invalidate a later one: a settlement that empties an escrow closes the deployment whose next
 * order was due too; a re-order matched at its old lease's stale height closes that lease. A
 * tx fails as a whole, and the next block collects the same msgs from the same state, so one
 * such msg packed with the others would stop matching, stale invalidation and closing for
 * every tenant, block after block. The builder therefore applies the due msgs, in order, on
 * the block's own write transaction inside one outer savepoint: a msg that succeeds is kept
 * (and its writes stay for the next msgs to see), a msg that fails is dropped (its writes
 * rolled back). Then the outer savepoint rolls everything back. The
 * kept msgs, packed in the same order and applied at the same point of the block, meet exactly
 * the states they were tried on, so no facilitator tx fails. A dropped msg was invalidated by
 * an earlier one: its item has already reached its outcome (closed with its deployment,
 * superseded), or is collected again from the next block's state.
 *
 * TxBody's msgs (field 6) are its last field, so a body is the packed header fields followed
 * by one length-delimited field-6 entry per msg; appending msgs one by one keeps the encoding
 * canonical without holding every msg as a struct. Pure: all state goes through the kv.
 */
#include "chain/chain.h"

#include <string.h>

#include "chain/chain_int.h"

/* Protobuf key of TxBody.msgs: field 6, wire type 2 (length-delimited). */
#define FAC_MSGS_KEY ((6u << 3) | 2u)
/* Bytes the packed due msgs may take between collection and speculation: more would not fit
 * one block anyway (the txs are trimmed to max_block_bytes), so collection stops there. */
#define FAC_DUE_BYTES_MAX KUMO_BLOCK_BYTES_MAX

typedef struct fac_ctx {
    const char *chain_id;
    const kumo_crypto_keypair_t *kp;
    uint64_t *sequence;
    uint32_t msgs_per_tx;
    kumo_buf_t *txs;
    size_t tx_cap;
    size_t tx_count;
    kumo_buf_t body;      /* the body being filled */
    uint32_t body_msgs;   /* msgs in the body */
    kumo_buf_t due;       /* collected msgs, each u32-length-prefixed */
    kumo_buf_t msg_bytes; /* scratch for one packed msg */
    kumo_chain_facilitator_stats_t stats;
    kumo_err_ctx_t *err;
    int rc;
} fac_ctx_t;

static int fac_body_start(fac_ctx_t *fc)
{
    Kumo__TxBody body = KUMO__TX_BODY__INIT;
    body.chain_id = CHAIN_UNCONST(char *, fc->chain_id);
    body.signer_pubkey.data = CHAIN_UNCONST(uint8_t *, fc->kp->pubkey);
    body.signer_pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    body.sequence = *fc->sequence;
    kumo_buf_reset(&fc->body);
    KUMO_GUARD(kumo_codec_pack(&body.base, &fc->body, fc->err));
    fc->body_msgs = 0;
    return 0;
}

static int fac_body_seal(fac_ctx_t *fc)
{
    if (fc->body_msgs == 0) {
        return 0;
    }
    KUMO_ENSURE(fc->tx_count < fc->tx_cap, fc->err, KUMO_ELIMIT, "more than %zu facilitator txs",
                fc->tx_cap);
    kumo_buf_t *tx = &fc->txs[fc->tx_count];
    kumo_buf_init(tx, KUMO_TX_BYTES_MAX);
    int rc = chain_tx_seal(fc->kp, kumo_buf_bytes(&fc->body), tx, fc->err);
    if (rc < 0) {
        kumo_buf_free(tx);
        return rc;
    }
    fc->tx_count++;
    KUMO_GUARD(kumo_u64_add(*fc->sequence, 1, fc->sequence));
    return fac_body_start(fc);
}

/* Appends one packed msg to the body, sealing the body first when the msg would push it past
 * the tx size limit (leaving room for the Tx envelope: two keys, two lengths, the signature)
 * and after it when the body holds msgs_per_tx msgs. */
static int fac_msg_add(fac_ctx_t *fc, kumo_bytes_t msg)
{
    size_t extra = msg.len + 16;
    if (fc->body_msgs > 0 &&
        fc->body.len + extra + KUMO_CRYPTO_SIG_BYTES + 16 > KUMO_TX_BYTES_MAX) {
        KUMO_GUARD(fac_body_seal(fc));
    }
    KUMO_GUARD(kumo_codec_varint_append(&fc->body, FAC_MSGS_KEY));
    KUMO_GUARD(kumo_codec_varint_append(&fc->body, msg.len));
    KUMO_GUARD(kumo_buf_append(&fc->body, msg.ptr, msg.len));
    fc->body_msgs++;
    if (fc->body_msgs >= fc->msgs_per_tx) {
        KUMO_GUARD(fac_body_seal(fc));
    }
    return 0;
}

/* Keeps one collected msg, packed and u32-length-prefixed; stops collecting at the cap. */
static int fac_due_add(fac_ctx_t *fc, const Kumo__Msg *msg)
{
    kumo_buf_reset(&fc->msg_bytes);
    KUMO_GUARD(kumo_codec_pack(&msg->base, &fc->msg_bytes, fc->err));
    KUMO_ASSERT(fc->msg_bytes.len <= UINT32_MAX);
    if (fc->due.len + 4u + fc->msg_bytes.len > FAC_DUE_BYTES_MAX) {
        return 1;
    }
    uint8_t len_be[4];
    kumo_be32_put(len_be, (uint32_t)fc->msg_bytes.len);
    KUMO_GUARD(kumo_buf_append(&fc->due, len_be, sizeof(len_be)));
    KUMO_GUARD(kumo_buf_append(&fc->due, fc->msg_bytes.ptr, fc->msg_bytes.len));
    fc->stats.due_count++;
    return 0;
}

static int fac_msg_cb(void *cb_ctx, const Kumo__Msg *msg)
{
    fac_ctx_t *fc = cb_ctx;
    int rc = fac_due_add(fc, msg);
    if (rc < 0) {
        fc->rc = rc;
        return 1;
    }
    return rc;
}

/* Applies due msg index (packed bytes) on kv, without a savepoint of its own: 0 or the
 * msg's failure code. Only a store failure or an out-of-memory (chain_rc_is_fatal) is an
 * error of the build: it would make the choice depend on the machine. */
static int
fac_msg_apply(kumo_market_ctx_t *mctx, kumo_bytes_t bytes, uint32_t index, kumo_err_ctx_t *err)
{
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__msg__descriptor, bytes, KUMO_TX_BYTES_MAX, &m, err));
    KUMO_ASSERT(kumo_market_msg_is_facilitator((const Kumo__Msg *)m));
    mctx->msg_index = index;
    kumo_err_ctx_t msg_err = {0};
    int rc = kumo_market_msg_apply(mctx, (const Kumo__Msg *)m, &msg_err);
    kumo_codec_free(m);
    if (rc < 0 && chain_rc_is_fatal(rc)) {
        return kumo_err_set(err, rc, "facilitator msg %" PRIu32 ": %s", index, msg_err.detail);
    }
    return rc;
}

/* Applies msgs[pos..] in order in one savepoint until one fails. *failed_out is that msg's
 * index, the savepoint then rolled back; or due_count when all succeeded, the savepoint then
 * committed into the outer one. One savepoint per failure, not per msg: a nested LMDB commit
 * costs as much as the dirty pages it merges. */
static int fac_segment_try(fac_ctx_t *fc,
                           const kumo_kv_t *kv,
                           kumo_market_ctx_t *mctx,
                           const kumo_bytes_t *msgs,
                           uint32_t pos,
                           uint32_t *failed_out)
{
    KUMO_GUARD(kv->savepoint_begin(kv->ctx, fc->err));
    for (uint32_t k = pos; k < fc->stats.due_count; k++) {
        int rc = fac_msg_apply(mctx, msgs[k], k, fc->err);
        if (rc < 0) {
            kv->savepoint_rollback(kv->ctx);
            *failed_out = k;
            return chain_rc_is_fatal(rc) ? rc : 0;
        }
    }
    *failed_out = fc->stats.due_count;
    return kv->savepoint_commit(kv->ctx, fc->err);
}

/* Tries the collected msgs in order and packs the ones that succeed. After a failure the msgs
 * of the rolled-back segment before it run again (the same msgs on the same state: they
 * succeed again), so every msg runs at most twice however many fail. */
static int
fac_due_run(fac_ctx_t *fc, const kumo_kv_t *kv, kumo_market_ctx_t *mctx, const kumo_bytes_t *msgs)
{
    uint32_t n = fc->stats.due_count;
    uint32_t pos = 0;
    while (pos < n) {
        uint32_t failed = n;
        KUMO_GUARD(fac_segment_try(fc, kv, mctx, msgs, pos, &failed));
        KUMO_ASSERT(failed >= pos && failed <= n);
        for (uint32_t k = pos; k < failed; k++) {
            if (failed < n) {
                int rc = fac_msg_apply(mctx, msgs[k], k, fc->err);
                KUMO_ASSERT(rc == 0 || chain_rc_is_fatal(rc)); /* msgs are deterministic */
                KUMO_GUARD(rc);
            }
            KUMO_GUARD(fac_msg_add(fc, msgs[k]));
        }
        if (failed < n) {
            fc->stats.dropped_count++;
        }
        pos = failed + 1u;
    }
    return fac_body_seal(fc);
}

/* Splits the collected msgs into msgs (due_count slices into fc->due). */
static int fac_due_split(const fac_ctx_t *fc, kumo_bytes_t *msgs)
{
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_buf_bytes(&fc->due));
    for (uint32_t i = 0; i < fc->stats.due_count; i++) {
        KUMO_GUARD(kumo_reader_read_prefixed(&r, KUMO_TX_BYTES_MAX, &msgs[i]));
    }
    return kumo_reader_finish(&r);
}

/* Runs the collected msgs on kv as the block at height would, then undoes every write. */
static int fac_due_speculate(fac_ctx_t *fc, const kumo_kv_t *kv, uint64_t height)
{
    kumo_bytes_t *msgs = kumo_calloc(fc->stats.due_count, sizeof(*msgs));
    KUMO_ENSURE(msgs != NULL, fc->err, KUMO_ENOMEM, "%" PRIu32 " due msgs", fc->stats.due_count);
    int rc = fac_due_split(fc, msgs);
    KUMO_ASSERT(rc == 0); /* our own framing */
    Kumo__Params *params = NULL;
    rc = kumo_market_params_get(kv, &params, fc->err);
    if (rc < 0) {
        kumo_free(msgs);
        return rc;
    }
    uint8_t signer[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(fc->kp->pubkey, signer);
    kumo_market_ctx_t mctx = {
        .kv = kv,
        .params = params,
        .height = height,
        .signer = signer,
        .facilitator_authorized = true, /* as block apply runs them */
    };
    rc = kv->savepoint_begin(kv->ctx, fc->err);
    if (rc == 0) {
        rc = fac_due_run(fc, kv, &mctx, msgs);
        kv->savepoint_rollback(kv->ctx);
    }
    kumo_codec_free(&params->base);
    kumo_free(msgs);
    return rc;
}

int kumo_chain_facilitator_txs_build(const kumo_kv_t *kv,
                                     const char *chain_id,
                                     uint64_t height,
                                     const kumo_crypto_keypair_t *kp,
                                     uint64_t *sequence,
                                     uint32_t msgs_per_tx,
                                     kumo_buf_t *txs_out,
                                     size_t tx_cap,
                                     size_t *tx_count_out,
                                     kumo_chain_facilitator_stats_t *stats_out,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(msgs_per_tx >= 1 && msgs_per_tx <= KUMO_TX_MSG_COUNT_MAX);
    KUMO_ASSERT(txs_out != NULL && tx_count_out != NULL && sequence != NULL);
    fac_ctx_t fc = {
        .chain_id = chain_id,
        .kp = kp,
        .sequence = sequence,
        .msgs_per_tx = msgs_per_tx,
        .txs = txs_out,
        .tx_cap = tx_cap,
        .err = err,
    };
    uint64_t sequence_start = *sequence;
    kumo_buf_init(&fc.body, KUMO_TX_BYTES_MAX);
    kumo_buf_init(&fc.due, FAC_DUE_BYTES_MAX);
    kumo_buf_init(&fc.msg_bytes, KUMO_TX_BYTES_MAX);
    uint64_t msg_count_max64 = UINT32_MAX;
    if (kumo_u64_mul(tx_cap, msgs_per_tx, &msg_count_max64) < 0) {
        msg_count_max64 = UINT32_MAX;
    }
    uint32_t msg_count_max = (uint32_t)kumo_u64_min(msg_count_max64, UINT32_MAX);
    int rc = 0;
    KUMO_GUARD_GOTO(
        kumo_market_facilitator_collect(kv, height, msg_count_max, fac_msg_cb, &fc, err), rc,
        out_undo);
    KUMO_GUARD_GOTO(fc.rc, rc, out_undo);
    if (fc.stats.due_count > 0) {
        KUMO_GUARD_GOTO(fac_body_start(&fc), rc, out_undo);
        KUMO_GUARD_GOTO(fac_due_speculate(&fc, kv, height), rc, out_undo);
    }
    KUMO_ASSERT(fc.stats.dropped_count <= fc.stats.due_count);
    if (stats_out != NULL) {
        *stats_out = fc.stats;
    }
    goto out_free;

out_undo:
    for (size_t i = 0; i < fc.tx_count; i++) {
        kumo_buf_free(&txs_out[i]);
    }
    fc.tx_count = 0;
    *sequence = sequence_start;
out_free:
    *tx_count_out = fc.tx_count;
    kumo_buf_free(&fc.body);
    kumo_buf_free(&fc.due);
    kumo_buf_free(&fc.msg_bytes);
    return rc;
}
