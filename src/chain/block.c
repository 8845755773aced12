/*
 * block.c - applies a block of txs to the state and computes the app hash.
 *
 * Pure: all state goes through the kumo_kv_t of an open store block. A tx that fails its
 * checks changes nothing; a checked tx pays its fee and bumps its sequence, and its msgs run in
 * a savepoint that any failing msg rolls back (docs/design.md section 2). Only store failures
 * (and out-of-memory) abort the block, since recording them as a tx result would make the
 * outcome depend on the machine.
 */
#include "chain/chain.h"

#include <stdio.h>
#include <string.h>

#include "bank/bank.h"
#include "chain/chain_int.h"

/* Packs each event, u32-length-prefixed, into the tx result. */
static int block_event_emit_cb(void *ctx, const Kumo__Event *ev, kumo_err_ctx_t *err)
{
    kumo_chain_tx_result_t *res = ctx;
    size_t mark = res->events.len;
    uint8_t len_be[4] = {0};
    KUMO_GUARD(kumo_buf_append(&res->events, len_be, sizeof(len_be)));
    int rc = kumo_codec_pack(&ev->base, &res->events, err);
    if (rc < 0) {
        res->events.len = mark;
        return rc;
    }
    size_t ev_len = res->events.len - mark - sizeof(len_be);
    KUMO_ASSERT(ev_len <= UINT32_MAX);
    kumo_be32_put(res->events.ptr + mark, (uint32_t)ev_len);
    res->event_count++;
    return 0;
}

/* Charges the fee, bumps the sequence and records the pubkey: the part of a checked tx that
 * stays even when its msgs fail. */
static int block_tx_charge(const kumo_kv_t *kv, const kumo_chain_tx_t *tx, kumo_err_ctx_t *err)
{
    if (tx->body->fee > 0) {
        KUMO_GUARD(kumo_bank_fee_collect(kv, tx->signer, tx->body->fee, err));
    }
    Kumo__Account *acct = NULL;
    KUMO_GUARD(kumo_bank_account_get(kv, tx->signer, &acct, err));
    int rc = kumo_u64_add(acct->sequence, 1, &acct->sequence);
    if (rc == 0) {
        if (acct->pubkey.len == 0) {
            acct->pubkey.data = tx->body->signer_pubkey.data;
            acct->pubkey.len = tx->body->signer_pubkey.len;
        }
        rc = kumo_bank_account_put(kv, acct, err);
        if (acct->pubkey.data == tx->body->signer_pubkey.data) {
            /* Borrowed from the tx: unhook before the account is freed. */
            acct->pubkey.data = NULL;
            acct->pubkey.len = 0;
        }
    } else {
        rc = kumo_err_set(err, rc, "sequence overflow");
    }
    kumo_codec_free(&acct->base);
    return rc;
}

/* Runs the msgs of a charged tx in a savepoint; a failing msg rolls all of them back. */
static int block_tx_msgs_run(const kumo_kv_t *kv,
                             const Kumo__Params *params,
                             uint64_t height,
                             uint32_t tx_index,
                             const kumo_chain_tx_t *tx,
                             kumo_chain_tx_result_t *res)
{
    kumo_err_ctx_t err = {0};
    KUMO_GUARD(kv->savepoint_begin(kv->ctx, &err));
    size_t events_mark = res->events.len;
    kumo_market_ctx_t mctx = {
        .kv = kv,
        .params = params,
        .height = height,
        .signer = tx->signer,
        .principal = tx->signer, /* a plain tx acts for its signer */
        .events = {.ctx = res, .emit_cb = block_event_emit_cb},
        .tx_index = tx_index,
        .facilitator_authorized = true, /* kumo_chain_tx_check_state: the active set */
    };
    kumo_staking_ctx_t sctx = {.kv = kv, .height = height, .signer = tx->signer};
    for (size_t i = 0; i < tx->body->n_msgs; i++) {
        mctx.msg_index = (uint32_t)i;
        const Kumo__Msg *msg = tx->body->msgs[i];
        int rc = kumo_staking_msg_is_staking(msg) ? kumo_staking_msg_apply(&sctx, msg, &err)
                                                  : kumo_market_msg_apply(&mctx, msg, &err);
        if (rc < 0) {
            kv->savepoint_rollback(kv->ctx);
            res->events.len = events_mark;
            res->event_count = 0;
            if (chain_rc_is_fatal(rc)) {
                return rc;
            }
            res->code = rc;
            res->msg_index = (uint32_t)i;
            (void)snprintf(res->log, sizeof(res->log), "msg %zu: %.200s", i, err.detail);
            return 0;
        }
    }
    return kv->savepoint_commit(kv->ctx, &err);
}

/* Records a check failure: nothing was written. */
static int block_tx_reject(kumo_chain_tx_result_t *res, int rc, const kumo_err_ctx_t *err)
{
    if (chain_rc_is_fatal(rc)) {
        return rc;
    }
    res->code = rc;
    (void)snprintf(res->log, sizeof(res->log), "%s", err->detail);
    return 0;
}

static int block_tx_apply(const kumo_kv_t *kv,
                          const Kumo__Params *params,
                          const kumo_chain_block_in_t *in,
                          size_t index,
                          kumo_chain_tx_result_t *res)
{
    kumo_err_ctx_t err = {0};
    kumo_chain_tx_t local = {0};
    kumo_chain_tx_t *tx = in->prepared != NULL ? &in->prepared[index] : &local;
    int rc = 0;
    if (in->prepared == NULL) {
        rc = kumo_chain_tx_decode(in->txs[index], params->max_tx_bytes, &local, &err);
        if (rc < 0) {
            kumo_crypto_sha256(in->txs[index], res->hash);
            return block_tx_reject(res, rc, &err);
        }
    }
    KUMO_ASSERT(tx->body != NULL);
    memcpy(res->hash, tx->hash, sizeof(res->hash));
    rc = kumo_chain_tx_check_basic(tx, in->chain_id, &err);
    if (rc == 0) {
        rc = kumo_chain_tx_check_state(kv, params, tx, &err);
    }
    if (rc < 0) {
        rc = block_tx_reject(res, rc, &err);
        goto out_free;
    }
    rc = block_tx_charge(kv, tx, &err);
    if (rc < 0) {
        /* The checks above guarantee the charge succeeds; only the store can fail here. */
        KUMO_ASSERT(chain_rc_is_fatal(rc));
        goto out_free;
    }
    res->fee = tx->body->fee;
    KUMO_ASSERT(index <= UINT32_MAX);
    rc = block_tx_msgs_run(kv, params, in->height, (uint32_t)index, tx, res);

out_free:
    kumo_chain_tx_free(&local);
    return rc;
}

static int
block_size_check(const kumo_chain_block_in_t *in, const Kumo__Params *params, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(in->tx_count <= KUMO_BLOCK_TX_COUNT_MAX, err, KUMO_ELIMIT,
                "block has %zu txs, limit %u", in->tx_count, KUMO_BLOCK_TX_COUNT_MAX);
    uint64_t total = 0;
    for (size_t i = 0; i < in->tx_count; i++) {
        KUMO_ENSURE(kumo_u64_add(total, in->txs[i].len, &total) == 0, err, KUMO_EOVERFLOW,
                    "block size overflows");
    }
    uint64_t max = kumo_u64_min(params->max_block_bytes, KUMO_BLOCK_BYTES_MAX);
    KUMO_ENSURE(total <= max, err, KUMO_ELIMIT, "block has %" PRIu64 " tx bytes, limit %" PRIu64,
                total, max);
    return 0;
}

/* The consensus inputs: counts within limits, signers with power, evidence of earlier
 * heights. Checked before any write, so a refused block changes nothing. */
static int block_consensus_check(const kumo_chain_block_in_t *in, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(in->last_commit_signer_count == 0 || in->last_commit_signers != NULL);
    KUMO_ASSERT(in->evidence_count == 0 || in->evidence != NULL);
    KUMO_ENSURE(in->last_commit_signer_count <= KUMO_BLOCK_SIGNER_COUNT_MAX, err, KUMO_ELIMIT,
                "block names %zu last-commit signers, limit %u", in->last_commit_signer_count,
                KUMO_BLOCK_SIGNER_COUNT_MAX);
    KUMO_ENSURE(in->evidence_count <= KUMO_BLOCK_EVIDENCE_COUNT_MAX, err, KUMO_ELIMIT,
                "block has %zu evidence items, limit %u", in->evidence_count,
                KUMO_BLOCK_EVIDENCE_COUNT_MAX);
    for (size_t i = 0; i < in->last_commit_signer_count; i++) {
        KUMO_ENSURE(in->last_commit_signers[i].power > 0, err, KUMO_EINVAL,
                    "last-commit signer %zu has no power", i);
    }
    KUMO_ASSERT(in->valset_caller_key_count == 0 || in->valset_caller_keys != NULL);
    KUMO_ENSURE(in->valset_caller_key_count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX, err, KUMO_ELIMIT,
                "block names %u caller-driven validator keys, limit %u",
                in->valset_caller_key_count, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    for (size_t i = 0; i < in->evidence_count; i++) {
        KUMO_ENSURE(in->evidence[i].height < in->height, err, KUMO_EINVAL,
                    "evidence %zu of height %" PRIu64 " in a block at %" PRIu64, i,
                    in->evidence[i].height, in->height);
    }
    return 0;
}

void kumo_chain_block_out_free(kumo_chain_block_out_t *out)
{
    if (out == NULL) {
        return;
    }
    for (size_t i = 0; i < out->result_count; i++) {
        kumo_buf_free(&out->results[i].events);
    }
    kumo_free(out->results);
    memset(out, 0, sizeof(*out));
}

/* Begin-block: staking sees the last commit's signers and the evidence (rewards, downtime,
 * slashing) before any tx. */
static int block_begin(const kumo_kv_t *kv, const kumo_chain_block_in_t *in, kumo_err_ctx_t *err)
{
    size_t n = in->last_commit_signer_count;
    size_t e = in->evidence_count;
    kumo_staking_signer_t *signers = kumo_calloc(n > 0 ? n : 1, sizeof(*signers));
    kumo_staking_evidence_t *ev = kumo_calloc(e > 0 ? e : 1, sizeof(*ev));
    int rc = signers != NULL && ev != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "begin-block");
    for (size_t i = 0; i < n && rc == 0; i++) {
        memcpy(signers[i].pubkey, in->last_commit_signers[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        signers[i].power = in->last_commit_signers[i].power;
        signers[i].signed_block = in->last_commit_signers[i].signed_block;
    }
    for (size_t i = 0; i < e && rc == 0; i++) {
        memcpy(ev[i].pubkey, in->evidence[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        ev[i].height = in->evidence[i].height;
    }
    if (rc == 0) {
        kumo_staking_begin_t sb = {.height = in->height,
                                   .signers = signers,
                                   .signer_count = n,
                                   .evidence = ev,
                                   .evidence_count = e};
        rc = kumo_staking_block_begin(kv, &sb, err);
    }
    kumo_free(signers);
    kumo_free(ev);
    return rc;
}

typedef struct block_updates {
    kumo_chain_valset_update_t items[2u * KUMO_STAKING_VALIDATORS_MAX];
    uint32_t count;
} block_updates_t;

_Static_assert(KUMO_STAKING_VALIDATORS_MAX <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX,
               "the active set fits a consensus validator set");

static int block_update_cb(void *cb_ctx, const kumo_staking_update_t *u, kumo_err_ctx_t *err)
{
    block_updates_t *bu = cb_ctx;
    KUMO_ENSURE(bu->count < KUMO_ARRAY_COUNT(bu->items), err, KUMO_ELIMIT, "valset updates");
    memcpy(bu->items[bu->count].pubkey, u->pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    bu->items[bu->count].power = u->power;
    bu->count++;
    return 0;
}

/* Whether the caller alone sets the power of pubkey (kumo_chain_block_in_t). */
static bool block_key_is_callers(const kumo_chain_block_in_t *in, const uint8_t *pubkey)
{
    KUMO_ASSERT(in->valset_caller_key_count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    for (uint32_t i = 0; i < in->valset_caller_key_count; i++) {
        if (memcmp(in->valset_caller_keys[i], pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return true;
        }
    }
    return false;
}

/* Staking's end-block (maturing entries, the active set); its power updates are recorded for
 * height + KUMO_CHAIN_VALSET_DELAY, joins and changes before removals, except for the keys the
 * caller drives. */
static int block_staking_end(const kumo_kv_t *kv,
                             const kumo_chain_block_in_t *in,
                             kumo_chain_block_out_t *out,
                             kumo_err_ctx_t *err)
{
    block_updates_t *bu = kumo_calloc(1, sizeof(*bu));
    KUMO_ENSURE(bu != NULL, err, KUMO_ENOMEM, "valset updates");
    int rc = kumo_staking_block_end(kv, in->height, block_update_cb, bu, err);
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (uint32_t i = 0; i < bu->count && rc == 0; i++) {
            bool removal = bu->items[i].power == 0;
            if (removal == (pass == 1) && !block_key_is_callers(in, bu->items[i].pubkey)) {
                rc = kumo_chain_valset_update_add(kv, out, bu->items[i].pubkey, bu->items[i].power,
                                                  err);
            }
        }
    }
    kumo_free(bu);
    return rc;
}

/* End-block steps, after the txs: the caller's validator updates (tests), staking's, then the
 * set and priorities of the heights ahead. */
static int block_end(const kumo_kv_t *kv,
                     const kumo_chain_block_in_t *in,
                     kumo_chain_block_out_t *out,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(in->valset_update_count == 0 || in->valset_updates != NULL);
    for (uint32_t i = 0; i < in->valset_update_count; i++) {
        KUMO_GUARD(kumo_chain_valset_update_add(kv, out, in->valset_updates[i].pubkey,
                                                in->valset_updates[i].power, err));
    }
    KUMO_GUARD(block_staking_end(kv, in, out, err));
    return chain_valset_block_end(kv, in->height, out, err);
}

int kumo_chain_block_apply(const kumo_kv_t *kv,
                           const kumo_chain_block_in_t *in,
                           kumo_chain_block_out_t *out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && in != NULL && out != NULL);
    KUMO_ASSERT(in->height > 0 && in->prev_app_hash != NULL && in->chain_id != NULL);
    memset(out, 0, sizeof(*out));
    Kumo__Params *params = NULL;
    KUMO_GUARD(kumo_market_params_get(kv, &params, err));
    int rc = block_size_check(in, params, err);
    rc = rc == 0 ? block_consensus_check(in, err) : rc;
    if (rc < 0) {
        goto out_params;
    }
    out->results = kumo_calloc(in->tx_count, sizeof(*out->results));
    if (out->results == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "results for %zu txs", in->tx_count);
        goto out_params;
    }
    out->result_count = in->tx_count;
    for (size_t i = 0; i < in->tx_count; i++) {
        kumo_buf_init(&out->results[i].events, KUMO_BLOCK_BYTES_MAX);
    }
    rc = block_begin(kv, in, err);
    if (rc < 0) {
        goto out_results;
    }
    for (size_t i = 0; i < in->tx_count; i++) {
        rc = block_tx_apply(kv, params, in, i, &out->results[i]);
        if (rc < 0) {
            rc = kumo_err_set(err, rc, "tx %zu: store failure", i);
            goto out_results;
        }
        if (out->results[i].code == 0) {
            out->tx_ok_count++;
        } else {
            out->tx_failed_count++;
        }
    }
    rc = block_end(kv, in, out, err);
    if (rc < 0) {
        goto out_results;
    }
    rc = kumo_chain_app_hash_compute(kv, in->prev_app_hash, out->app_hash, err);
    if (rc == 0) {
        goto out_params;
    }

out_results:
    kumo_chain_block_out_free(out);
out_params:
    kumo_codec_free(&params->base);
    return rc;
}

typedef struct block_hash_ctx {
    kumo_crypto_sha256_ctx_t *sha;
    uint64_t entries;
} block_hash_ctx_t;

static int block_write_hash_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    block_hash_ctx_t *hc = cb_ctx;
    KUMO_ASSERT(key.len <= KUMO_KEY_BYTES_MAX && val.len <= UINT32_MAX);
    uint8_t hdr[4];
    kumo_be32_put(hdr, (uint32_t)key.len);
    kumo_crypto_sha256_update(hc->sha, kumo_bytes_make(hdr, 4));
    kumo_crypto_sha256_update(hc->sha, key);
    uint8_t kind = val.ptr != NULL ? 1 : 0;
    kumo_crypto_sha256_update(hc->sha, kumo_bytes_make(&kind, 1));
    kumo_be32_put(hdr, (uint32_t)(val.ptr != NULL ? val.len : 0));
    kumo_crypto_sha256_update(hc->sha, kumo_bytes_make(hdr, 4));
    if (val.ptr != NULL) {
        kumo_crypto_sha256_update(hc->sha, val);
    }
    hc->entries++;
    return 0;
}

int kumo_chain_app_hash_compute(const kumo_kv_t *kv,
                                const uint8_t prev[KUMO_CHAIN_HASH_BYTES],
                                uint8_t out[KUMO_CHAIN_HASH_BYTES],
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv->write_set_visit != NULL);
    block_hash_ctx_t hc = {0};
    KUMO_ENSURE(kumo_crypto_sha256_begin(&hc.sha) == 0, err, KUMO_ENOMEM, "sha256 context");
    int rc = kv->write_set_visit(kv->ctx, block_write_hash_cb, &hc, err);
    uint8_t ws_hash[KUMO_CHAIN_HASH_BYTES];
    kumo_crypto_sha256_end(hc.sha, ws_hash);
    if (rc < 0) {
        return rc;
    }
    const kumo_bytes_t parts[3] = {
        kumo_bytes_make(KUMO_CHAIN_APP_DOMAIN, strlen(KUMO_CHAIN_APP_DOMAIN)),
        kumo_bytes_make(prev, KUMO_CHAIN_HASH_BYTES),
        kumo_bytes_make(ws_hash, sizeof(ws_hash)),
    };
    kumo_crypto_sha256_parts(parts, 3, out);
    return 0;
}
