/*
 * staking_int.h - private to src/staking: keys, typed state access, the reward accumulator
 * arithmetic, and the handlers. Pure.
 *
 * Key layout (docs/design.md "Staking"): one prefix byte, then big-endian fields.
 */
#ifndef KUMO_STAKING_STAKING_INT_H
#define KUMO_STAKING_STAKING_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bank/bank.h"
#include "staking/staking.h"

#define STK_PREFIX_PARAMS     0x50u /* -> StakingParams */
#define STK_PREFIX_VALIDATOR  0x51u /* operator -> StakingValidator */
#define STK_PREFIX_CONSKEY    0x52u /* consensus pubkey -> operator (20 bytes) */
#define STK_PREFIX_DELEGATION 0x53u /* delegator operator -> Delegation */
#define STK_PREFIX_UBD        0x54u /* completion id -> UnbondingEntry */
#define STK_PREFIX_UBD_BY_VAL 0x55u /* operator completion id -> (empty) */
#define STK_PREFIX_UBD_BY_DEL 0x56u /* delegator completion id -> (empty) */
#define STK_PREFIX_RED        0x57u /* completion id -> RedelegationEntry */
#define STK_PREFIX_RED_BY_SRC 0x58u /* src operator completion id -> (empty) */
#define STK_PREFIX_RED_BY_DEL 0x59u /* delegator completion id -> (empty) */
#define STK_PREFIX_POWER      0x5au /* ~tokens operator -> (empty): candidates, by power */
#define STK_PREFIX_ACTIVE     0x5bu /* operator -> ActiveValidator: the set last reported */
#define STK_PREFIX_EVIDENCE   0x5cu /* consensus pubkey height -> (empty): evidence handled */
#define STK_PREFIX_GLOBAL     0x5du /* -> StakingGlobal */

#define STK_KEY_BYTES 48u
/* Reward per share is scaled by 10^18 and kept in 128 bits. */
#define STK_RPS_SCALE ((unsigned __int128)1000000000000000000ull)
#define STK_RPS_BYTES 16u

typedef unsigned __int128 stk_u128_t;

typedef struct stk_key {
    uint8_t bytes[STK_KEY_BYTES];
    uint32_t len;
} stk_key_t;

void stk_key_init(stk_key_t *k, uint8_t prefix);
void stk_key_put_raw(stk_key_t *k, const uint8_t *p, size_t len);
void stk_key_put_u64(stk_key_t *k, uint64_t v);
kumo_bytes_t stk_key_bytes(const stk_key_t *k);
uint64_t stk_be64(const uint8_t *p);

/* An addressed module account of the bank. */
void stk_module(const char *name, uint8_t out[KUMO_ADDRESS_BYTES]);

stk_u128_t stk_rps_get(ProtobufCBinaryData b);
/* Replaces the bytes of b (owned: kumo_alloc'd or NULL) with v (empty when zero, the proto3
 * default), freeing the old bytes. */
KUMO_MUST_USE int stk_rps_store(ProtobufCBinaryData *b, stk_u128_t v, kumo_err_ctx_t *err);

/* Per-call state: the params and a scratch buffer. */
typedef struct stk {
    const kumo_kv_t *kv;
    Kumo__StakingParams *params; /* owned */
    kumo_buf_t scratch;
    uint64_t height;
    const uint8_t *signer;
} stk_t;

KUMO_MUST_USE int stk_begin(stk_t *st, const kumo_kv_t *kv, uint64_t height, kumo_err_ctx_t *err);
void stk_end(stk_t *st);

/* Generic objects: KUMO_ENOTFOUND when absent; decode failures KUMO_ECORRUPT. */
KUMO_MUST_USE int stk_obj_get(const kumo_kv_t *kv,
                              const stk_key_t *k,
                              const ProtobufCMessageDescriptor *desc,
                              ProtobufCMessage **out,
                              kumo_err_ctx_t *err);
KUMO_MUST_USE int
stk_obj_put(stk_t *st, const stk_key_t *k, const ProtobufCMessage *obj, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_put_empty(const kumo_kv_t *kv, const stk_key_t *k, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_del(const kumo_kv_t *kv, const stk_key_t *k, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_has(const kumo_kv_t *kv, const stk_key_t *k, bool *out, kumo_err_ctx_t *err);

/* Collects the keys under prefix (at most count_max: KUMO_ELIMIT beyond), from start. */
KUMO_MUST_USE int stk_keys_collect(const kumo_kv_t *kv,
                                   kumo_bytes_t prefix,
                                   size_t count_max,
                                   stk_key_t **keys_out,
                                   size_t *count_out,
                                   kumo_err_ctx_t *err);

/* Collects the keys of a queue (prefix, u64 height, ...) whose height is <= due. */
KUMO_MUST_USE int stk_keys_collect_due(const kumo_kv_t *kv,
                                       uint8_t prefix,
                                       uint64_t due,
                                       stk_key_t **keys_out,
                                       size_t *count_out,
                                       kumo_err_ctx_t *err);

/* Collects the first n keys under the one-byte prefix. */
KUMO_MUST_USE int stk_keys_collect_first(const kumo_kv_t *kv,
                                         uint8_t prefix,
                                         size_t n,
                                         stk_key_t **keys_out,
                                         size_t *count_out,
                                         kumo_err_ctx_t *err);
/* Recomputes the active set and reports its changes (cb may be NULL). */
KUMO_MUST_USE int
stk_active_set_update(stk_t *st, kumo_staking_update_cb cb, void *cb_ctx, kumo_err_ctx_t *err);

void stk_key_validator(stk_key_t *k, const uint8_t *op);
void stk_key_conskey(stk_key_t *k, const uint8_t *pubkey);
void stk_key_delegation(stk_key_t *k, const uint8_t *del, const uint8_t *op);
void stk_key_power(stk_key_t *k, uint64_t tokens, const uint8_t *op);
void stk_key_active(stk_key_t *k, const uint8_t *op);

/* Records that pubkey belongs to op (0x42). */
KUMO_MUST_USE int
stk_put_raw_conskey(stk_t *st, const uint8_t *pubkey, const uint8_t *op, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_validator_get(const kumo_kv_t *kv,
                                    const uint8_t *op,
                                    Kumo__StakingValidator **out,
                                    kumo_err_ctx_t *err);
/* Writes v and moves its power index entry from prev_tokens/prev_listed (listed: not jailed,
 * tokens > 0). */
KUMO_MUST_USE int stk_validator_put(stk_t *st,
                                    const Kumo__StakingValidator *v,
                                    uint64_t prev_tokens,
                                    bool prev_listed,
                                    kumo_err_ctx_t *err);
bool stk_validator_is_listed(const Kumo__StakingValidator *v);
/* The operator of a consensus key: KUMO_ENOTFOUND when unknown. */
KUMO_MUST_USE int stk_operator_by_key(const kumo_kv_t *kv,
                                      const uint8_t *pubkey,
                                      uint8_t op[KUMO_ADDRESS_BYTES],
                                      kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_delegation_get(const kumo_kv_t *kv,
                                     const uint8_t *del,
                                     const uint8_t *op,
                                     Kumo__Delegation **out,
                                     kumo_err_ctx_t *err);
KUMO_MUST_USE int
stk_global_get(const kumo_kv_t *kv, Kumo__StakingGlobal **out, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_global_put(stk_t *st, const Kumo__StakingGlobal *g, kumo_err_ctx_t *err);

/* tokens worth of shares of v: floor(shares x tokens / total shares). */
uint64_t stk_shares_to_tokens(const Kumo__StakingValidator *v, uint64_t shares);
/* Rewards a delegation of shares could take now: floor(shares x (rps_now - rps_then) / scale). */
uint64_t stk_pending(stk_u128_t rps_now, stk_u128_t rps_then, uint64_t shares);

/* Pays the delegation's pending rewards to the delegator and moves its snapshot to the
 * validator's accumulator (d written by the caller). *paid_out may be NULL. */
KUMO_MUST_USE int stk_rewards_settle(stk_t *st,
                                     const Kumo__StakingValidator *v,
                                     Kumo__Delegation *d,
                                     uint64_t *paid_out,
                                     kumo_err_ctx_t *err);

/* Adds amount of tokens to v as a delegation of del: shares minted at the current rate,
 * rewards settled first, bank balance moved from `from` (NULL: none, tokens already in the
 * bonded pool). Writes v and the delegation. */
KUMO_MUST_USE int stk_delegate(stk_t *st,
                               Kumo__StakingValidator *v,
                               const uint8_t *del,
                               uint64_t amount,
                               const uint8_t *from,
                               uint64_t *shares_out,
                               kumo_err_ctx_t *err);
/* Removes tokens worth *amount_io from del's delegation to v (rewards settled); *shares_out
 * gets the shares burned, *amount_io the tokens removed (the whole value when rounding took
 * every share). Writes v and the delegation (deleted when emptied). KUMO_ENOTFOUND /
 * KUMO_EFUNDS. */
KUMO_MUST_USE int stk_undelegate(stk_t *st,
                                 Kumo__StakingValidator *v,
                                 const uint8_t *del,
                                 uint64_t *amount_io,
                                 uint64_t *shares_out,
                                 kumo_err_ctx_t *err);

/* Slashes fraction_ppm of v's bonded tokens and of the entries created after infraction_height
 * (burned), jails v until jail_until (UINT64_MAX with tombstone). Writes v. */
KUMO_MUST_USE int stk_slash(stk_t *st,
                            Kumo__StakingValidator *v,
                            uint64_t infraction_height,
                            uint64_t fraction_ppm,
                            uint64_t jail_until,
                            bool tombstone,
                            kumo_err_ctx_t *err);

/* ---- entries (entries.c) ---- */
/* KUMO_ELIMIT when del has max_entries unbondings maturing. */
KUMO_MUST_USE int stk_unbonding_room(stk_t *st, const uint8_t *del, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_unbonding_create(
    stk_t *st, const uint8_t *del, const uint8_t *op, uint64_t amount, kumo_err_ctx_t *err);
/* KUMO_ELIMIT at max_entries; KUMO_ESTATE when del's stake redelegated into src is maturing. */
KUMO_MUST_USE int
stk_redelegation_check(stk_t *st, const uint8_t *del, const uint8_t *src, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_redelegation_create(stk_t *st,
                                          const uint8_t *del,
                                          const uint8_t *src,
                                          const uint8_t *dst,
                                          uint64_t amount,
                                          uint64_t shares_dst,
                                          kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_unbonding_del(stk_t *st, const Kumo__UnbondingEntry *e, kumo_err_ctx_t *err);
KUMO_MUST_USE int
stk_redelegation_del(stk_t *st, const Kumo__RedelegationEntry *e, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_unbonding_put(stk_t *st, const Kumo__UnbondingEntry *e, kumo_err_ctx_t *err);
/* An entry by its queue position (a missing one is KUMO_ECORRUPT: an index named it). */
KUMO_MUST_USE int stk_entry_get(const kumo_kv_t *kv,
                                uint8_t prefix,
                                uint64_t completion,
                                uint64_t id,
                                const ProtobufCMessageDescriptor *desc,
                                ProtobufCMessage **out,
                                kumo_err_ctx_t *err);
/* End-block: pays the unbondings due at st->height, forgets the matured redelegations. */
KUMO_MUST_USE int stk_entries_mature(stk_t *st, kumo_err_ctx_t *err);

KUMO_MUST_USE int
stk_create_validator(stk_t *st, const Kumo__MsgCreateValidator *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int
stk_edit_validator(stk_t *st, const Kumo__MsgEditValidator *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_msg_delegate(stk_t *st, const Kumo__MsgDelegate *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_msg_undelegate(stk_t *st, const Kumo__MsgUndelegate *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_msg_redelegate(stk_t *st, const Kumo__MsgRedelegate *m, kumo_err_ctx_t *err);
KUMO_MUST_USE int stk_msg_unjail(stk_t *st, kumo_err_ctx_t *err);
KUMO_MUST_USE int
stk_msg_withdraw(stk_t *st, const Kumo__MsgWithdrawRewards *m, kumo_err_ctx_t *err);

#endif
