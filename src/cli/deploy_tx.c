/*
 * deploy_tx.c - one msg of `kumo deploy` signed with the tenant's key and committed: the
 * chain id, min fee and the account's sequence come from the node (unless --chain-id or
 * --fee), the tx is POSTed with wait=commit, and the committed answer (height, events) goes
 * back to the flow instead of being printed. A sequence taken by a pending tx of the same
 * key is retried at the sequence the node names.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/deploy_int.h"

/* How long the node waits for the commit (its maximum is 60 s). */
#define DEPLOY_TX_WAIT_MS   "30000"
#define DEPLOY_TX_RETRY_MAX 8u

typedef struct tx_env {
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint64_t fee_ukumo;
    uint64_t sequence;
} tx_env_t;

static int tx_env_fetch(const cli_args_t *a, const char *addr, tx_env_t *env, kumo_err_ctx_t *err)
{
    json_t *j = NULL;
    if (a->chain_id != NULL) {
        (void)snprintf(env->chain_id, sizeof(env->chain_id), "%s", a->chain_id);
    } else {
        KUMO_GUARD(cli_http_get(a, "/status", &j, err));
        (void)snprintf(env->chain_id, sizeof(env->chain_id), "%s", cli_json_str(j, "chain_id"));
        json_decref(j);
        KUMO_ENSURE(env->chain_id[0] != '\0', err, KUMO_EDECODE, "GET /status has no chain_id");
    }
    env->fee_ukumo = a->fee_ukumo;
    if (!a->fee_set) {
        KUMO_GUARD(cli_http_get(a, "/params", &j, err));
        env->fee_ukumo = cli_json_u64(j, "min_fee");
        json_decref(j);
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", addr);
    KUMO_GUARD(cli_http_get(a, path, &j, err));
    env->sequence = cli_json_u64(j, "sequence");
    json_decref(j);
    return 0;
}

static int tx_post(const cli_args_t *a, const kumo_buf_t *tx, json_t **ans, kumo_err_ctx_t *err)
{
    size_t b64_cap = sodium_base64_ENCODED_LEN(tx->len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_cap);
    KUMO_ENSURE(b64 != NULL, err, KUMO_ENOMEM, "no memory for the tx");
    (void)sodium_bin2base64(b64, b64_cap, tx->ptr, tx->len, sodium_base64_VARIANT_ORIGINAL);
    json_t *body = json_pack("{s:s}", "tx", b64);
    free(b64);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "no memory for the request");
    int rc = cli_http_post(a, "/txs?wait=commit&timeout_ms=" DEPLOY_TX_WAIT_MS, body, ans, err);
    json_decref(body);
    return rc;
}

/* The sequence a KUMO_ESEQUENCE detail names ("... expected sequence N"). */
static bool tx_expected_sequence(const char *detail, uint64_t *out)
{
    static const char key[] = "expected sequence ";
    const char *p = strstr(detail, key);
    if (p == NULL) {
        return false;
    }
    p += sizeof(key) - 1;
    size_t len = strspn(p, "0123456789");
    char num[24];
    if (len == 0 || len >= sizeof(num)) {
        return false;
    }
    memcpy(num, p, len);
    num[len] = '\0';
    return cli_u64_parse(num, "sequence", out, NULL) == 0;
}

static int tx_sign_submit(const cli_args_t *a,
                          const kumo_crypto_keypair_t *kp,
                          tx_env_t *env,
                          Kumo__Msg *msg,
                          json_t **ans,
                          kumo_err_ctx_t *err)
{
    Kumo__Msg *msgs[1] = {msg};
    for (unsigned attempt = 0;; attempt++) {
        kumo_buf_t tx;
        kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
        int rc = kumo_chain_tx_build(env->chain_id, kp, env->sequence, env->fee_ukumo,
                                     a->memo != NULL ? a->memo : "", msgs, 1, &tx, err);
        if (rc == 0) {
            rc = tx_post(a, &tx, ans, err);
        }
        kumo_buf_free(&tx);
        uint64_t next = 0;
        if (rc != KUMO_ESEQUENCE || attempt >= DEPLOY_TX_RETRY_MAX ||
            !tx_expected_sequence(err->detail, &next) || next <= env->sequence) {
            return rc;
        }
        env->sequence = next;
    }
}

int deploy_tx_commit(const cli_args_t *a,
                     const kumo_crypto_keypair_t *kp,
                     Kumo__Msg *msg,
                     json_t **ans,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kp != NULL && msg != NULL);
    KUMO_ASSERT(ans != NULL);
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, addr);
    kumo_codec_address_encode(addr, addr_text);
    tx_env_t env;
    memset(&env, 0, sizeof(env));
    KUMO_GUARD(tx_env_fetch(a, addr_text, &env, err));
    json_t *j = NULL;
    KUMO_GUARD(tx_sign_submit(a, kp, &env, msg, &j, err));
    const json_t *code = json_object_get(j, "code");
    int c = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    if (strcmp(cli_json_str(j, "status"), "committed") != 0) {
        json_decref(j);
        return kumo_err_set(err, KUMO_EIO, "the node answered without a commit");
    }
    if (c != 0) {
        int rc = kumo_err_set(err, c < 0 && c > -1000 ? c : KUMO_EINVAL,
                              "tx committed at height %s but failed: %s", cli_json_str(j, "height"),
                              cli_json_str(j, "log"));
        json_decref(j);
        return rc;
    }
    *ans = j;
    return 0;
}
