/*
 * query.c - listings of validators, a delegator's delegations and its unbonding entries. Pure.
 */
#include <string.h>

#include "staking/staking_int.h"

typedef struct list_ctx {
    const ProtobufCMessageDescriptor *desc;
    kumo_staking_object_cb cb;
    void *cb_ctx;
    kumo_err_ctx_t *err;
} list_ctx_t;

static int list_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    list_ctx_t *lc = cb_ctx;
    ProtobufCMessage *m = NULL;
    int rc = kumo_codec_unpack(lc->desc, val, KUMO_STATE_OBJECT_BYTES_MAX, &m, lc->err);
    if (rc == KUMO_EDECODE || rc == KUMO_ELIMIT) {
        return kumo_err_set(lc->err, KUMO_ECORRUPT, "stored %s does not decode",
                            lc->desc->short_name);
    }
    KUMO_GUARD(rc);
    rc = lc->cb(lc->cb_ctx, m);
    kumo_codec_free(m);
    return rc;
}

static int list_prefix(const kumo_kv_t *kv,
                       const stk_key_t *prefix,
                       const ProtobufCMessageDescriptor *desc,
                       kumo_staking_object_cb cb,
                       void *cb_ctx,
                       kumo_err_ctx_t *err)
{
    list_ctx_t lc = {.desc = desc, .cb = cb, .cb_ctx = cb_ctx, .err = err};
    int rc = kv->scan(kv->ctx, stk_key_bytes(prefix), kumo_bytes_make(NULL, 0), list_cb, &lc, err);
    return rc > 0 ? 0 : rc;
}

int kumo_staking_validators_list(const kumo_kv_t *kv,
                                 kumo_staking_object_cb cb,
                                 void *cb_ctx,
                                 kumo_err_ctx_t *err)
{
    stk_key_t p;
    stk_key_init(&p, STK_PREFIX_VALIDATOR);
    return list_prefix(kv, &p, &kumo__staking_validator__descriptor, cb, cb_ctx, err);
}

int kumo_staking_delegations_list(const kumo_kv_t *kv,
                                  const uint8_t *delegator,
                                  kumo_staking_object_cb cb,
                                  void *cb_ctx,
                                  kumo_err_ctx_t *err)
{
    stk_key_t p;
    stk_key_init(&p, STK_PREFIX_DELEGATION);
    stk_key_put_raw(&p, delegator, KUMO_ADDRESS_BYTES);
    return list_prefix(kv, &p, &kumo__delegation__descriptor, cb, cb_ctx, err);
}

int kumo_staking_unbondings_list(const kumo_kv_t *kv,
                                 const uint8_t *delegator,
                                 kumo_staking_object_cb cb,
                                 void *cb_ctx,
                                 kumo_err_ctx_t *err)
{
    stk_key_t p;
    stk_key_init(&p, STK_PREFIX_UBD_BY_DEL);
    stk_key_put_raw(&p, delegator, KUMO_ADDRESS_BYTES);
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(stk_keys_collect(kv, stk_key_bytes(&p), KUMO_STAKING_ENTRIES_MAX, &keys, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *tail = keys[i].bytes + 1 + KUMO_ADDRESS_BYTES;
        ProtobufCMessage *e = NULL;
        rc = stk_entry_get(kv, STK_PREFIX_UBD, stk_be64(tail), stk_be64(tail + 8),
                           &kumo__unbonding_entry__descriptor, &e, err);
        if (rc == 0) {
            rc = cb(cb_ctx, e);
            kumo_codec_free(e);
        }
    }
    kumo_free(keys);
    return rc > 0 ? 0 : rc;
}
