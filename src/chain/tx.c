/*
 * tx.c - tx decoding, signature check, stateless and stateful checks, and tx building.
 * Pure: no I/O. The exact body bytes are what is signed (docs/design.md section 2).
 */
#include "chain/chain.h"

#include <string.h>

#include "bank/bank.h"
#include "chain/chain_int.h"

static void tx_sign_hash(kumo_bytes_t body, uint8_t out[KUMO_CHAIN_HASH_BYTES])
{
    const kumo_bytes_t parts[2] = {
        kumo_bytes_make(KUMO_CHAIN_TX_DOMAIN, strlen(KUMO_CHAIN_TX_DOMAIN)),
        body,
    };
    kumo_crypto_sha256_parts(parts, 2, out);
}

void kumo_chain_tx_free(kumo_chain_tx_t *tx)
{
    if (tx == NULL) {
        return;
    }
    kumo_codec_free(tx->body != NULL ? &tx->body->base : NULL);
    kumo_codec_free(tx->tx != NULL ? &tx->tx->base : NULL);
    memset(tx, 0, sizeof(*tx));
}

static bool tx_msgs_are_facilitator(const Kumo__TxBody *body)
{
    if (body->n_msgs == 0) {
        return false;
    }
    for (size_t i = 0; i < body->n_msgs; i++) {
        if (!kumo_market_msg_is_facilitator(body->msgs[i])) {
            return false;
        }
    }
    return true;
}

int kumo_chain_tx_decode(kumo_bytes_t bytes,
                         size_t bytes_max,
                         kumo_chain_tx_t *out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    KUMO_ENSURE(bytes.len <= bytes_max, err, KUMO_ELIMIT, "tx is %zu bytes, limit %zu", bytes.len,
                bytes_max);
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__tx__descriptor, bytes, bytes_max, &m, err));
    out->tx = (Kumo__Tx *)m;
    int rc = 0;
    if (out->tx->signature.len != KUMO_CRYPTO_SIG_BYTES) {
        rc = kumo_err_set(err, KUMO_EINVAL, "signature is %zu bytes, want %u",
                          out->tx->signature.len, KUMO_CRYPTO_SIG_BYTES);
        goto out_free;
    }
    kumo_bytes_t body = kumo_bytes_make(out->tx->body.data, out->tx->body.len);
    KUMO_GUARD_GOTO(kumo_codec_unpack(&kumo__tx_body__descriptor, body, bytes_max, &m, err), rc,
                    out_free);
    out->body = (Kumo__TxBody *)m;
    if (out->body->signer_pubkey.len != KUMO_CRYPTO_PUBKEY_BYTES) {
        rc = kumo_err_set(err, KUMO_EINVAL, "signer_pubkey is %zu bytes, want %u",
                          out->body->signer_pubkey.len, KUMO_CRYPTO_PUBKEY_BYTES);
        goto out_free;
    }
    kumo_crypto_sha256(bytes, out->hash);
    tx_sign_hash(body, out->sign_hash);
    kumo_crypto_address_from_pubkey(out->body->signer_pubkey.data, out->signer);
    out->bytes_len = bytes.len;
    out->facilitator_only = tx_msgs_are_facilitator(out->body);
    return 0;

out_free:
    kumo_chain_tx_free(out);
    return rc;
}

bool kumo_chain_tx_sig_check(kumo_chain_tx_t *tx)
{
    KUMO_ASSERT(tx->tx != NULL && tx->body != NULL);
    if (!tx->sig_checked) {
        tx->sig_valid = kumo_crypto_verify(tx->body->signer_pubkey.data,
                                           kumo_bytes_make(tx->sign_hash, KUMO_CHAIN_HASH_BYTES),
                                           tx->tx->signature.data);
        tx->sig_checked = true;
    }
    return tx->sig_valid;
}

int kumo_chain_tx_prepare(kumo_bytes_t bytes,
                          size_t bytes_max,
                          kumo_chain_tx_t *out,
                          kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_chain_tx_decode(bytes, bytes_max, out, err));
    (void)kumo_chain_tx_sig_check(out);
    return 0;
}

int kumo_chain_tx_check_basic(const kumo_chain_tx_t *tx, const char *chain_id, kumo_err_ctx_t *err)
{
    const Kumo__TxBody *body = tx->body;
    KUMO_ASSERT(body != NULL);
    KUMO_ENSURE(strcmp(body->chain_id, chain_id) == 0, err, KUMO_ECHAINID,
                "tx is for chain '%.64s', this is '%.64s'", body->chain_id, chain_id);
    KUMO_ENSURE(body->n_msgs > 0, err, KUMO_EEMPTY, "tx has no msgs");
    KUMO_ENSURE(body->n_msgs <= KUMO_TX_MSG_COUNT_MAX, err, KUMO_ELIMIT,
                "tx has %zu msgs, limit %u", body->n_msgs, KUMO_TX_MSG_COUNT_MAX);
    KUMO_ENSURE(strlen(body->memo) <= KUMO_MEMO_BYTES_MAX, err, KUMO_ELIMIT,
                "memo is %zu bytes, limit %u", strlen(body->memo), KUMO_MEMO_BYTES_MAX);
    for (size_t i = 0; i < body->n_msgs; i++) {
        int rc = kumo_staking_msg_is_staking(body->msgs[i])
                     ? kumo_staking_msg_validate_basic(body->msgs[i], err)
                     : kumo_market_msg_validate_basic(body->msgs[i], err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int kumo_chain_tx_check_state(const kumo_kv_t *kv,
                              const Kumo__Params *params,
                              kumo_chain_tx_t *tx,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(tx->body != NULL);
    KUMO_ENSURE(kumo_chain_tx_sig_check(tx), err, KUMO_ESIG, "signature does not verify");
    Kumo__Account *acct = NULL;
    KUMO_GUARD(kumo_bank_account_get(kv, tx->signer, &acct, err));
    int rc = 0;
    if (tx->body->sequence != acct->sequence) {
        rc = kumo_err_set(err, KUMO_ESEQUENCE, "sequence %" PRIu64 ", account expects %" PRIu64,
                          tx->body->sequence, acct->sequence);
        goto out_free;
    }
    bool operator= false;
    /* Facilitators: the operators of the active validator set. */
    KUMO_GUARD_GOTO(kumo_staking_operator_is_active(kv, tx->signer, &operator, err), rc, out_free);
    bool fee_exempt = tx->facilitator_only && operator;
    if (!fee_exempt && tx->body->fee < params->min_fee) {
        rc = kumo_err_set(err, KUMO_EFEE, "fee %" PRIu64 " < min_fee %" PRIu64, tx->body->fee,
                          params->min_fee);
        goto out_free;
    }
    if (tx->body->fee > acct->balance) {
        rc = kumo_err_set(err, KUMO_EFUNDS, "fee %" PRIu64 " > balance %" PRIu64, tx->body->fee,
                          acct->balance);
        goto out_free;
    }
    for (size_t i = 0; i < tx->body->n_msgs; i++) {
        if (kumo_market_msg_is_facilitator(tx->body->msgs[i]) && !operator) {
            rc = kumo_err_set(err, KUMO_EUNAUTH,
                              "msg %zu: only operators of active validators facilitate", i);
            goto out_free;
        }
    }

out_free:
    kumo_codec_free(&acct->base);
    return rc;
}

int kumo_chain_tx_build(const char *chain_id,
                        const kumo_crypto_keypair_t *kp,
                        uint64_t sequence,
                        uint64_t fee,
                        const char *memo,
                        Kumo__Msg *const *msgs,
                        size_t msg_count,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    Kumo__TxBody body = KUMO__TX_BODY__INIT;
    body.chain_id = CHAIN_UNCONST(char *, chain_id);
    body.signer_pubkey.data = CHAIN_UNCONST(uint8_t *, kp->pubkey);
    body.signer_pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    body.sequence = sequence;
    body.fee = fee;
    body.memo = CHAIN_UNCONST(char *, memo != NULL ? memo : "");
    body.n_msgs = msg_count;
    body.msgs = CHAIN_UNCONST(Kumo__Msg **, msgs);
    kumo_buf_t body_buf;
    kumo_buf_init(&body_buf, KUMO_TX_BYTES_MAX);
    int rc = kumo_codec_pack(&body.base, &body_buf, err);
    if (rc == 0) {
        rc = chain_tx_seal(kp, kumo_buf_bytes(&body_buf), out, err);
    }
    kumo_buf_free(&body_buf);
    return rc;
}

int chain_tx_seal(const kumo_crypto_keypair_t *kp,
                  kumo_bytes_t body,
                  kumo_buf_t *out,
                  kumo_err_ctx_t *err)
{
    uint8_t sign_hash[KUMO_CHAIN_HASH_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    tx_sign_hash(body, sign_hash);
    kumo_crypto_sign(kp, kumo_bytes_make(sign_hash, sizeof(sign_hash)), sig);
    Kumo__Tx tx = KUMO__TX__INIT;
    tx.body.data = CHAIN_UNCONST(uint8_t *, body.ptr);
    tx.body.len = body.len;
    tx.signature.data = sig;
    tx.signature.len = sizeof(sig);
    return kumo_codec_pack(&tx.base, out, err);
}
