/*
 * rpc_staking.c - the staking queries of the HTTP API (docs/api.md): validators, one
 * validator, a delegator's delegations with their worth and withdrawable rewards, and its
 * maturing unbondings. Lists answer {"items": [...], "next": null}: they are bounded (at most
 * KUMO_STAKING_CANDIDATES_MAX validators, a delegator's delegations, max_entries unbondings).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc_srv.h"
#include "staking/staking.h"

typedef struct staking_list {
    const kumo_kv_t *kv;
    json_t *items;
    const uint8_t *delegator; /* delegations: add worth and rewards */
    kumo_err_ctx_t *err;
} staking_list_t;

static int u64_set(json_t *obj, const char *key, uint64_t v)
{
    char text[24];
    (void)snprintf(text, sizeof(text), "%" PRIu64, v);
    return json_object_set_new(obj, key, json_string(text)) == 0 ? 0 : KUMO_ENOMEM;
}

static int list_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    staking_list_t *sl = cb_ctx;
    json_t *j = kumo_codec_json_from_message(obj);
    KUMO_ENSURE(j != NULL, sl->err, KUMO_ENOMEM, "json");
    int rc = 0;
    if (sl->delegator != NULL) {
        const Kumo__Delegation *d = (const Kumo__Delegation *)obj;
        uint64_t tokens = 0;
        uint64_t rewards = 0;
        rc = kumo_staking_delegation_value(sl->kv, sl->delegator, d->validator.data, &tokens,
                                           &rewards, sl->err);
        if (rc == 0) {
            rc = u64_set(j, "tokens", tokens);
        }
        if (rc == 0) {
            rc = u64_set(j, "rewards", rewards);
        }
    }
    if (rc == 0 && json_array_append_new(sl->items, j) != 0) {
        return kumo_err_set(sl->err, KUMO_ENOMEM, "json");
    }
    if (rc != 0) {
        json_decref(j);
    }
    return rc;
}

static int
staking_answer(const kumo_kv_t *kv, const kumo_rpc_req_t *req, json_t **out, kumo_err_ctx_t *err)
{
    if (req->route == KUMO_RPC_ROUTE_STAKING_GET && req->staking_kind == 'v') {
        Kumo__StakingValidator *v = NULL;
        KUMO_GUARD(kumo_staking_validator_get(kv, req->addr, &v, err));
        *out = kumo_codec_json_from_message(&v->base);
        kumo_codec_free(&v->base);
        return *out != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "json");
    }
    staking_list_t sl = {.kv = kv, .items = json_array(), .err = err};
    KUMO_ENSURE(sl.items != NULL, err, KUMO_ENOMEM, "json");
    int rc = 0;
    if (req->route == KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST) {
        rc = kumo_staking_validators_list(kv, list_cb, &sl, err);
    } else if (req->staking_kind == 'd') {
        sl.delegator = req->addr;
        rc = kumo_staking_delegations_list(kv, req->addr, list_cb, &sl, err);
    } else {
        rc = kumo_staking_unbondings_list(kv, req->addr, list_cb, &sl, err);
    }
    if (rc < 0) {
        json_decref(sl.items);
        return rc;
    }
    *out = json_pack("{s:o,s:n}", "items", sl.items, "next");
    return *out != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "json");
}

void kumo_rpc_staking_handle(kumo_rpc_t *rpc,
                             struct evhttp_request *hreq,
                             const kumo_rpc_req_t *req)
{
    kumo_err_ctx_t err = {0};
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    int rc = kumo_node_read_begin(rpc->node, &read, &kv, &err);
    if (rc < 0) {
        kumo_rpc_reply_error(hreq, 500, rc, err.detail);
        return;
    }
    json_t *j = NULL;
    rc = staking_answer(&kv, req, &j, &err);
    kumo_store_read_end(read);
    if (rc == 0) {
        kumo_rpc_reply_json(hreq, 200, j);
    } else {
        kumo_rpc_reply_error(hreq, rc == KUMO_ENOTFOUND ? 404 : 500, rc, err.detail);
    }
}
