/*
 * facilitator.c - turns the market's due facilitator msgs into signed txs for a proposer.
 *
 * TxBody's msgs (field 6) are its last field, so a body is the packed header fields followed
 * by one length-delimited field-6 entry per msg; appending msgs one by one keeps the encoding
 * canonical without holding every msg as a struct. Pure.
 */
#include "chain/chain.h"

#include <string.h>

#include "chain/chain_int.h"

/* Protobuf key of TxBody.msgs: field 6, wire type 2 (length-delimited). */
#define FAC_MSGS_KEY ((6u << 3) | 2u)

typedef struct fac_ctx {
    const char *chain_id;
    const kumo_crypto_keypair_t *kp;
    uint64_t *sequence;
    uint32_t msgs_per_tx;
    kumo_buf_t *txs;
    size_t tx_cap;
    size_t tx_count;
    kumo_buf_t body;      /* the body being filled */
    size_t header_len;    /* bytes of the body before the msgs */
    uint32_t body_msgs;   /* msgs in the body */
    kumo_buf_t msg_bytes; /* scratch for one packed msg */
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
    fc->header_len = fc->body.len;
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

static int fac_msg_add(fac_ctx_t *fc, const Kumo__Msg *msg)
{
    kumo_buf_reset(&fc->msg_bytes);
    KUMO_GUARD(kumo_codec_pack(&msg->base, &fc->msg_bytes, fc->err));
    /* Seal first if this msg would push the body past the tx size limit (leaving room for
     * the Tx envelope: two keys, two lengths and the signature). */
    size_t extra = fc->msg_bytes.len + 16;
    if (fc->body_msgs > 0 &&
        fc->body.len + extra + KUMO_CRYPTO_SIG_BYTES + 16 > KUMO_TX_BYTES_MAX) {
        KUMO_GUARD(fac_body_seal(fc));
    }
    KUMO_GUARD(kumo_codec_varint_append(&fc->body, FAC_MSGS_KEY));
    KUMO_GUARD(kumo_codec_varint_append(&fc->body, fc->msg_bytes.len));
    KUMO_GUARD(kumo_buf_append(&fc->body, fc->msg_bytes.ptr, fc->msg_bytes.len));
    fc->body_msgs++;
    if (fc->body_msgs >= fc->msgs_per_tx) {
        KUMO_GUARD(fac_body_seal(fc));
    }
    return 0;
}

static int fac_msg_cb(void *cb_ctx, const Kumo__Msg *msg)
{
    fac_ctx_t *fc = cb_ctx;
    fc->rc = fac_msg_add(fc, msg);
    return fc->rc < 0 ? 1 : 0;
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
    kumo_buf_init(&fc.msg_bytes, KUMO_TX_BYTES_MAX);
    uint64_t msg_count_max64 = 0;
    int rc = kumo_u64_mul(tx_cap, msgs_per_tx, &msg_count_max64);
    uint32_t msg_count_max =
        (uint32_t)kumo_u64_min(rc == 0 ? msg_count_max64 : UINT32_MAX, UINT32_MAX);
    KUMO_GUARD_GOTO(fac_body_start(&fc), rc, out_free);
    rc = kumo_market_facilitator_collect(kv, height, msg_count_max, fac_msg_cb, &fc, err);
    if (rc == 0) {
        rc = fc.rc;
    }
    if (rc == 0) {
        rc = fac_body_seal(&fc);
    }
    if (rc < 0) {
        for (size_t i = 0; i < fc.tx_count; i++) {
            kumo_buf_free(&txs_out[i]);
        }
        fc.tx_count = 0;
        *sequence = sequence_start;
    }
    *tx_count_out = fc.tx_count;

out_free:
    kumo_buf_free(&fc.body);
    kumo_buf_free(&fc.msg_bytes);
    return rc;
}
