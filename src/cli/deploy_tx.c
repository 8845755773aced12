/*
 * deploy_tx.c - one msg of `kumo deploy` signed with the tenant's key (or a grantee's, the msg
 * wrapped in a MsgExec for the granter) and committed (cli_tx_submit with wait=commit); the
 * committed answer (height, events) goes back to the flow instead of being printed, and a tx that
 * committed with a failure code is that error.
 */
#include <string.h>

#include "cli/deploy_int.h"

/* How long the node waits for the commit (its maximum is 60 s). */
#define DEPLOY_TX_WAIT_MS 30000u

int deploy_tx_commit(const cli_args_t *a,
                     const kumo_crypto_keypair_t *kp,
                     const uint8_t *granter,
                     Kumo__Msg *msg,
                     json_t **ans,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kp != NULL && msg != NULL);
    KUMO_ASSERT(ans != NULL);
    cli_args_t w = *a; /* always waits for the commit */
    w.wait = true;
    w.timeout_ms = DEPLOY_TX_WAIT_MS;
    json_t *j = NULL;
    char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1] = "";
    Kumo__Msg *inner[1] = {msg};
    Kumo__Msg *msgs[1] = {msg};
    Kumo__MsgExec exec;
    Kumo__Msg outer;
    if (granter != NULL) {
        cli_exec_wrap(granter, inner, 1, &exec, &outer);
        msgs[0] = &outer;
    }
    KUMO_GUARD(cli_tx_submit(&w, kp, msgs, 1, &j, hash_hex, err));
    const json_t *code = json_object_get(j, "code");
    int c = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    if (strcmp(cli_json_str(j, "status"), "committed") != 0) {
        json_decref(j);
        return kumo_err_set(err, KUMO_EIO, "the node answered without a commit");
    }
    if (c != 0) {
        int rc = kumo_err_set(err, c < 0 && c > -1000 ? c : KUMO_EINVAL,
                              "tx %s committed at height %s but failed: %s", hash_hex,
                              cli_json_str(j, "height"), cli_json_str(j, "log"));
        json_decref(j);
        return rc;
    }
    if (json_object_get(j, "hash") == NULL) { /* the progress names the tx */
        (void)json_object_set_new(j, "hash", json_string(hash_hex));
    }
    *ans = j;
    return 0;
}
