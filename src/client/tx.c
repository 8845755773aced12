/*
 * tx.c - POST /txs: a signed tx (its bytes, built and signed by the caller with
 * kumo_chain_tx_build) sent as base64, optionally waiting for the block that includes it.
 * Refusals by the mempool come back as the node's code (KUMO_ESEQUENCE, KUMO_EFEE, ...); a tx
 * that committed and failed is an answer with its code, for the caller to judge.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "client/client_int.h"

int kumo_client_tx_broadcast(kumo_client_t *c,
                             kumo_bytes_t tx,
                             uint32_t wait_ms,
                             kumo_client_tx_answer_t *ans,
                             json_t **json,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ASSERT(tx.ptr != NULL && tx.len > 0);
    KUMO_ENSURE(tx.len <= KUMO_TX_BYTES_MAX, err, KUMO_ELIMIT, "tx of %zu bytes is over %u", tx.len,
                KUMO_TX_BYTES_MAX);
    KUMO_ENSURE(wait_ms <= KUMO_CLIENT_TX_WAIT_MS_MAX, err, KUMO_EINVAL,
                "a commit wait of %" PRIu32 " ms is over %u", wait_ms, KUMO_CLIENT_TX_WAIT_MS_MAX);
    size_t b64_cap = sodium_base64_ENCODED_LEN(tx.len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_cap);
    KUMO_ENSURE(b64 != NULL, err, KUMO_ENOMEM, "no memory for the tx");
    (void)sodium_bin2base64(b64, b64_cap, tx.ptr, tx.len, sodium_base64_VARIANT_ORIGINAL);
    json_t *body = json_pack("{s:s}", "tx", b64);
    free(b64);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "no memory for the request");
    char path[96] = "/txs";
    if (wait_ms > 0) {
        (void)snprintf(path, sizeof(path), "/txs?wait=commit&timeout_ms=%" PRIu32, wait_ms);
    }
    json_t *j = NULL;
    int rc = client_post_wait(c, path, body, wait_ms, &j, err);
    json_decref(body);
    KUMO_GUARD(rc);
    kumo_client_tx_answer_t local;
    rc = kumo_client_tx_answer_decode(j, ans != NULL ? ans : &local, err);
    if (rc < 0 || json == NULL) {
        json_decref(j);
        return rc;
    }
    *json = j;
    return 0;
}
