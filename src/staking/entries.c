/*
 * entries.c - maturing unbonding and redelegation entries: created by Undelegate/Redelegate,
 * indexed by completion height (the end-block queue), by validator (slashing) and by delegator
 * (limits, queries); paid out or forgotten at completion. Pure.
 */
#include <inttypes.h>
#include <string.h>

#include "staking/staking_int.h"

static void key_queue(stk_key_t *k, uint8_t prefix, uint64_t completion, uint64_t id)
{
    stk_key_init(k, prefix);
    stk_key_put_u64(k, completion);
    stk_key_put_u64(k, id);
}

static void
key_by(stk_key_t *k, uint8_t prefix, const uint8_t *addr, uint64_t completion, uint64_t id)
{
    stk_key_init(k, prefix);
    stk_key_put_raw(k, addr, KUMO_ADDRESS_BYTES);
    stk_key_put_u64(k, completion);
    stk_key_put_u64(k, id);
}

/* Entries of del maturing now (0x46 or 0x49 under del). */
static int entries_of(stk_t *st,
                      uint8_t prefix,
                      const uint8_t *del,
                      stk_key_t **keys,
                      size_t *count,
                      kumo_err_ctx_t *err)
{
    stk_key_t p;
    stk_key_init(&p, prefix);
    stk_key_put_raw(&p, del, KUMO_ADDRESS_BYTES);
    return stk_keys_collect(st->kv, stk_key_bytes(&p), KUMO_STAKING_ENTRIES_MAX, keys, count, err);
}

static int entry_id_next(stk_t *st, uint64_t *id, kumo_err_ctx_t *err)
{
    Kumo__StakingGlobal *g = NULL;
    KUMO_GUARD(stk_global_get(st->kv, &g, err));
    g->next_entry_id++;
    *id = g->next_entry_id;
    int rc = stk_global_put(st, g, err);
    kumo_codec_free(&g->base);
    return rc;
}

static int entries_room(stk_t *st, uint8_t prefix, const uint8_t *del, kumo_err_ctx_t *err)
{
    stk_key_t *keys = NULL;
    size_t n = 0;
    int rc = entries_of(st, prefix, del, &keys, &n, err);
    kumo_free(keys);
    if (rc == KUMO_ELIMIT) {
        n = KUMO_STAKING_ENTRIES_MAX;
        kumo_err_clear(err);
    } else {
        KUMO_GUARD(rc);
    }
    KUMO_ENSURE(n < st->params->max_entries, err, KUMO_ELIMIT, "%zu entries maturing, at most %u",
                n, st->params->max_entries);
    return 0;
}

int stk_unbonding_room(stk_t *st, const uint8_t *del, kumo_err_ctx_t *err)
{
    return entries_room(st, STK_PREFIX_UBD_BY_DEL, del, err);
}

int stk_unbonding_create(
    stk_t *st, const uint8_t *del, const uint8_t *op, uint64_t amount, kumo_err_ctx_t *err)
{
    Kumo__UnbondingEntry e = KUMO__UNBONDING_ENTRY__INIT;
    KUMO_GUARD(entry_id_next(st, &e.id, err));
    e.delegator.data = (uint8_t *)(uintptr_t)del;
    e.delegator.len = KUMO_ADDRESS_BYTES;
    e.validator.data = (uint8_t *)(uintptr_t)op;
    e.validator.len = KUMO_ADDRESS_BYTES;
    e.creation_height = st->height;
    KUMO_ENSURE(kumo_u64_add(st->height, st->params->unbonding_blocks, &e.completion_height) == 0,
                err, KUMO_EOVERFLOW, "completion height");
    e.initial_balance = amount;
    e.balance = amount;
    stk_key_t k;
    key_queue(&k, STK_PREFIX_UBD, e.completion_height, e.id);
    KUMO_GUARD(stk_obj_put(st, &k, &e.base, err));
    key_by(&k, STK_PREFIX_UBD_BY_VAL, op, e.completion_height, e.id);
    KUMO_GUARD(stk_put_empty(st->kv, &k, err));
    key_by(&k, STK_PREFIX_UBD_BY_DEL, del, e.completion_height, e.id);
    KUMO_GUARD(stk_put_empty(st->kv, &k, err));
    uint8_t bonded[KUMO_ADDRESS_BYTES];
    uint8_t unbonding[KUMO_ADDRESS_BYTES];
    stk_module(KUMO_STAKING_MODULE_BONDED, bonded);
    stk_module(KUMO_STAKING_MODULE_UNBONDING, unbonding);
    return kumo_bank_transfer(st->kv, &st->scratch, bonded, unbonding, amount, err);
}

int stk_redelegation_check(stk_t *st, const uint8_t *del, const uint8_t *src, kumo_err_ctx_t *err)
{
    KUMO_GUARD(entries_room(st, STK_PREFIX_RED_BY_DEL, del, err));
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(entries_of(st, STK_PREFIX_RED_BY_DEL, del, &keys, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        stk_key_t k;
        key_queue(&k, STK_PREFIX_RED, stk_be64(keys[i].bytes + 1 + KUMO_ADDRESS_BYTES),
                  stk_be64(keys[i].bytes + 1 + KUMO_ADDRESS_BYTES + 8));
        Kumo__RedelegationEntry *e = NULL;
        rc = stk_obj_get(st->kv, &k, &kumo__redelegation_entry__descriptor, (ProtobufCMessage **)&e,
                         err);
        if (rc == 0) {
            bool into_src = e->dst_validator.len == KUMO_ADDRESS_BYTES &&
                            memcmp(e->dst_validator.data, src, KUMO_ADDRESS_BYTES) == 0;
            kumo_codec_free(&e->base);
            rc = into_src ? kumo_err_set(err, KUMO_ESTATE,
                                         "stake redelegated into this validator is maturing")
                          : 0;
        }
    }
    kumo_free(keys);
    return rc;
}

int stk_redelegation_create(stk_t *st,
                            const uint8_t *del,
                            const uint8_t *src,
                            const uint8_t *dst,
                            uint64_t amount,
                            uint64_t shares_dst,
                            kumo_err_ctx_t *err)
{
    Kumo__RedelegationEntry e = KUMO__REDELEGATION_ENTRY__INIT;
    KUMO_GUARD(entry_id_next(st, &e.id, err));
    e.delegator.data = (uint8_t *)(uintptr_t)del;
    e.delegator.len = KUMO_ADDRESS_BYTES;
    e.src_validator.data = (uint8_t *)(uintptr_t)src;
    e.src_validator.len = KUMO_ADDRESS_BYTES;
    e.dst_validator.data = (uint8_t *)(uintptr_t)dst;
    e.dst_validator.len = KUMO_ADDRESS_BYTES;
    e.creation_height = st->height;
    KUMO_ENSURE(kumo_u64_add(st->height, st->params->unbonding_blocks, &e.completion_height) == 0,
                err, KUMO_EOVERFLOW, "completion height");
    e.initial_balance = amount;
    e.shares_dst = shares_dst;
    stk_key_t k;
    key_queue(&k, STK_PREFIX_RED, e.completion_height, e.id);
    KUMO_GUARD(stk_obj_put(st, &k, &e.base, err));
    key_by(&k, STK_PREFIX_RED_BY_SRC, src, e.completion_height, e.id);
    KUMO_GUARD(stk_put_empty(st->kv, &k, err));
    key_by(&k, STK_PREFIX_RED_BY_DEL, del, e.completion_height, e.id);
    return stk_put_empty(st->kv, &k, err);
}

/* Deletes an unbonding entry and its index entries. */
int stk_unbonding_del(stk_t *st, const Kumo__UnbondingEntry *e, kumo_err_ctx_t *err)
{
    stk_key_t k;
    key_queue(&k, STK_PREFIX_UBD, e->completion_height, e->id);
    KUMO_GUARD(stk_del(st->kv, &k, err));
    key_by(&k, STK_PREFIX_UBD_BY_VAL, e->validator.data, e->completion_height, e->id);
    KUMO_GUARD(stk_del(st->kv, &k, err));
    key_by(&k, STK_PREFIX_UBD_BY_DEL, e->delegator.data, e->completion_height, e->id);
    return stk_del(st->kv, &k, err);
}

int stk_redelegation_del(stk_t *st, const Kumo__RedelegationEntry *e, kumo_err_ctx_t *err)
{
    stk_key_t k;
    key_queue(&k, STK_PREFIX_RED, e->completion_height, e->id);
    KUMO_GUARD(stk_del(st->kv, &k, err));
    key_by(&k, STK_PREFIX_RED_BY_SRC, e->src_validator.data, e->completion_height, e->id);
    KUMO_GUARD(stk_del(st->kv, &k, err));
    key_by(&k, STK_PREFIX_RED_BY_DEL, e->delegator.data, e->completion_height, e->id);
    return stk_del(st->kv, &k, err);
}

int stk_unbonding_put(stk_t *st, const Kumo__UnbondingEntry *e, kumo_err_ctx_t *err)
{
    stk_key_t k;
    key_queue(&k, STK_PREFIX_UBD, e->completion_height, e->id);
    return stk_obj_put(st, &k, &e->base, err);
}

int stk_entry_get(const kumo_kv_t *kv,
                  uint8_t prefix,
                  uint64_t completion,
                  uint64_t id,
                  const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out,
                  kumo_err_ctx_t *err)
{
    stk_key_t k;
    key_queue(&k, prefix, completion, id);
    int rc = stk_obj_get(kv, &k, desc, out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "an index names a missing entry");
    }
    return rc;
}

/* Pays out (unbondings) or forgets (redelegations) what matures at or before height. */
static int mature_unbondings(stk_t *st, kumo_err_ctx_t *err)
{
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(stk_keys_collect_due(st->kv, STK_PREFIX_UBD, st->height, &keys, &n, err));
    uint8_t unbonding[KUMO_ADDRESS_BYTES];
    stk_module(KUMO_STAKING_MODULE_UNBONDING, unbonding);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t completion = stk_be64(keys[i].bytes + 1);
        Kumo__UnbondingEntry *e = NULL;
        rc = stk_entry_get(st->kv, STK_PREFIX_UBD, completion, stk_be64(keys[i].bytes + 9),
                           &kumo__unbonding_entry__descriptor, (ProtobufCMessage **)&e, err);
        if (rc == 0) {
            rc = kumo_bank_transfer(st->kv, &st->scratch, unbonding, e->delegator.data, e->balance,
                                    err);
        }
        if (rc == 0) {
            rc = stk_unbonding_del(st, e, err);
        }
        if (e != NULL) {
            kumo_codec_free(&e->base);
        }
    }
    kumo_free(keys);
    return rc;
}

static int mature_redelegations(stk_t *st, kumo_err_ctx_t *err)
{
    stk_key_t *keys = NULL;
    size_t n = 0;
    KUMO_GUARD(stk_keys_collect_due(st->kv, STK_PREFIX_RED, st->height, &keys, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t completion = stk_be64(keys[i].bytes + 1);
        Kumo__RedelegationEntry *e = NULL;
        rc = stk_entry_get(st->kv, STK_PREFIX_RED, completion, stk_be64(keys[i].bytes + 9),
                           &kumo__redelegation_entry__descriptor, (ProtobufCMessage **)&e, err);
        if (rc == 0) {
            rc = stk_redelegation_del(st, e, err);
            kumo_codec_free(&e->base);
        }
    }
    kumo_free(keys);
    return rc;
}

int stk_entries_mature(stk_t *st, kumo_err_ctx_t *err)
{
    KUMO_GUARD(mature_unbondings(st, err));
    return mature_redelegations(st, err);
}
