/*
 * staking.h - delegated proof of stake: validators (operator account + a separate consensus
 * key), delegations with shares, unbonding and redelegation entries, rewards (fees + inflation)
 * through a per-validator reward-per-share accumulator (O(1) per block in the number of
 * delegations), slashing and jailing for double signing (tombstone) and downtime, and the
 * active set (top max_validators by power) with its power updates for consensus.
 * Pure: state only through kumo_kv_t and the bank; no I/O, clock, randomness or floats.
 *
 * Money (docs/design.md "Staking"): bonded tokens sit in the bank's module account "bonded",
 * maturing unbondings in "unbonding", undistributed rewards and commission in "rewards"; so
 * the supply invariant stays one sum over balances. Supply changes here only by inflation
 * minted (begin-block) and slashes burned.
 *
 * Failure contract (as the market's): a failing call may leave partial writes; the chain runs
 * every msg and every block step in a kv savepoint.
 */
#ifndef KUMO_STAKING_STAKING_H
#define KUMO_STAKING_STAKING_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"

#define KUMO_STAKING_PPM 1000000u
/* Ceilings of the params. */
#define KUMO_STAKING_VALIDATORS_MAX    128u /* consensus: KUMO_CONSENSUS_VALIDATOR_COUNT_MAX */
#define KUMO_STAKING_WINDOW_MAX        100000u
#define KUMO_STAKING_ENTRIES_MAX       64u
#define KUMO_STAKING_MONIKER_BYTES_MAX 64u
/* Validators that may exist at once (active or not): bounds every per-block pass. */
#define KUMO_STAKING_CANDIDATES_MAX 1000u
/* The supply (< 2^62) over this stays below the consensus power total (2^60). */
#define KUMO_STAKING_POWER_REDUCTION_MIN 8u

/* Module account names (kumo_bank_module_address). */
#define KUMO_STAKING_MODULE_BONDED    "staking/bonded"
#define KUMO_STAKING_MODULE_UNBONDING "staking/unbonding"
#define KUMO_STAKING_MODULE_REWARDS   "staking/rewards"

/* The default params (documented in docs/design.md "Staking"). */
void kumo_staking_params_default(Kumo__StakingParams *p);
/* Each param within its range: max_validators 1..KUMO_STAKING_VALIDATORS_MAX, window
 * 1..KUMO_STAKING_WINDOW_MAX, fractions <= 10^6 ppm, power_reduction >=
 * KUMO_STAKING_POWER_REDUCTION_MIN (so the total power stays within what consensus accepts),
 * blocks_per_year, unbonding_blocks and commission_change_blocks >= 1,
 * max_entries 1..KUMO_STAKING_ENTRIES_MAX. KUMO_EINVAL / KUMO_ELIMIT naming the param; NULL:
 * KUMO_EEMPTY. */
KUMO_MUST_USE int kumo_staking_params_validate(const Kumo__StakingParams *p, kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_staking_params_get(const kumo_kv_t *kv, Kumo__StakingParams **out, kumo_err_ctx_t *err);

/* True for the staking msgs (create/edit validator, delegate, undelegate, redelegate, unjail,
 * withdraw rewards). */
bool kumo_staking_msg_is_staking(const Kumo__Msg *msg);
/* Stateless checks of a staking msg: addresses 20 bytes, consensus key 32 bytes (KUMO_EINVAL),
 * amounts nonzero (KUMO_EINVAL), moniker UTF-8 within KUMO_STAKING_MONIKER_BYTES_MAX
 * (KUMO_ELIMIT), commission rates <= 10^6 ppm and rate <= max rate, max change <= max rate
 * (KUMO_EINVAL); src == dst redelegation (KUMO_EINVAL). Not a staking msg: KUMO_EUNKNOWNMSG. */
KUMO_MUST_USE int kumo_staking_msg_validate_basic(const Kumo__Msg *msg, kumo_err_ctx_t *err);

/* Everything a staking msg needs from the block and tx. */
typedef struct kumo_staking_ctx {
    const kumo_kv_t *kv;
    uint64_t height;
    const uint8_t *signer; /* KUMO_ADDRESS_BYTES */
} kumo_staking_ctx_t;

/* Applies one staking msg as ctx->signer at ctx->height (validate_basic first). Rules and
 * codes (docs/design.md "Staking"):
 * - CreateValidator: signer already operates one KUMO_EEXIST; consensus key in use
 *   KUMO_EDUPLICATE; self_stake < min_self_stake KUMO_EDEPOSIT; KUMO_ELIMIT past
 *   KUMO_STAKING_CANDIDATES_MAX validators; short balance KUMO_EFUNDS.
 * - EditValidator: not an operator KUMO_ENOTFOUND; rate above its max KUMO_EINVAL; a change
 *   larger than max change KUMO_ELIMIT; a second change within commission_change_blocks
 *   KUMO_ETOOEARLY.
 * - Delegate: no such validator KUMO_ENOTFOUND; tombstoned KUMO_ETOMBSTONED; a validator whose
 *   tokens were slashed to zero KUMO_ESTATE; short balance KUMO_EFUNDS.
 * - Undelegate / Redelegate: no delegation KUMO_ENOTFOUND; more than it is worth KUMO_EFUNDS;
 *   max_entries maturing KUMO_ELIMIT; redelegating from a validator the signer's stake is
 *   still maturing into KUMO_ESTATE; destination missing KUMO_ENOTFOUND or tombstoned
 *   KUMO_ETOMBSTONED. An operator may not leave less than min_self_stake unless it takes all.
 * - Unjail: not an operator KUMO_ENOTFOUND; tombstoned KUMO_ETOMBSTONED; not jailed
 *   KUMO_ESTATE; before jailed_until KUMO_ETOOEARLY; self stake below min_self_stake
 *   KUMO_EDEPOSIT.
 * - WithdrawRewards: neither a delegation nor (for the operator) commission KUMO_ENOTFOUND. */
KUMO_MUST_USE int
kumo_staking_msg_apply(const kumo_staking_ctx_t *ctx, const Kumo__Msg *msg, kumo_err_ctx_t *err);

/* ---- blocks ---- */

/* One validator of the last commit, by consensus key (the chain's commit signer, copied). */
typedef struct kumo_staking_signer {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t power; /* in the set that signed */
    bool signed_block;
} kumo_staking_signer_t;

/* Duplicate-vote evidence: the validator with this consensus key signed two votes at height. */
typedef struct kumo_staking_evidence {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t height;
} kumo_staking_evidence_t;

typedef struct kumo_staking_begin {
    uint64_t height;
    const kumo_staking_signer_t *signers; /* last commit; may be empty */
    size_t signer_count;
    const kumo_staking_evidence_t *evidence;
    size_t evidence_count;
} kumo_staking_begin_t;

/* Begin-block: handles evidence (slash double_sign fraction of the bonded tokens and of the
 * unbonding and redelegation entries created after the infraction, jail and tombstone; each
 * (key, height) once, evidence older than unbonding_blocks or for an unknown key ignored),
 * then mints inflation (supply x inflation_ppm / 10^6 / blocks_per_year, floored) and takes the
 * fee pool, and pays both to the validators that signed the last commit pro rata to their
 * power (to the active set when no signer is known), commission first, the rest into the
 * validator's reward-per-share accumulator; then counts missed blocks and slashes + jails a
 * validator that signed fewer than min_signed_per_window_ppm of its window. O(validators +
 * evidence) per block; never visits delegations. */
KUMO_MUST_USE int
kumo_staking_block_begin(const kumo_kv_t *kv, const kumo_staking_begin_t *in, kumo_err_ctx_t *err);

/* A change to the consensus validator set: power 0 removes the key. */
typedef struct kumo_staking_update {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t power;
} kumo_staking_update_t;

/* Receives each power update of an end-block, in operator order. Nonzero return fails. */
typedef int (*kumo_staking_update_cb)(void *cb_ctx,
                                      const kumo_staking_update_t *u,
                                      kumo_err_ctx_t *err);

/* End-block: pays out the unbondings that mature at height (and forgets matured
 * redelegations), then computes the active set (top max_validators by tokens, not jailed,
 * power = tokens / power_reduction > 0, ties to the lower operator address) and reports what
 * changed since the last end-block through cb. O(max_validators + matured entries). */
KUMO_MUST_USE int kumo_staking_block_end(const kumo_kv_t *kv,
                                         uint64_t height,
                                         kumo_staking_update_cb cb,
                                         void *cb_ctx,
                                         kumo_err_ctx_t *err);

/* True when operator runs a validator of the current active set (the one the last end-block
 * reported): the accounts allowed to send facilitator msgs. */
KUMO_MUST_USE int kumo_staking_operator_is_active(const kumo_kv_t *kv,
                                                  const uint8_t *operator_addr,
                                                  bool *out,
                                                  kumo_err_ctx_t *err);

/* ---- genesis ---- */

/* Writes the staking state: params (NULL: defaults; validated), and for each genesis
 * validator a bonded validator with a self-delegation of power x power_reduction ukumo minted
 * into the bonded pool (commission 0, max rate 20%, max change 1%) and its place in the
 * active set. Runs after the bank's genesis (totals exist). Bad params, a
 * validator of power 0 or a reused key: KUMO_EINVAL / KUMO_EDUPLICATE. */
KUMO_MUST_USE int kumo_staking_genesis_apply(const kumo_kv_t *kv,
                                             const Kumo__StakingParams *params,
                                             Kumo__Validator *const *validators,
                                             size_t validator_count,
                                             kumo_err_ctx_t *err);

/* ---- reads ---- */

/* *out freed with kumo_codec_free; KUMO_ENOTFOUND when absent. */
KUMO_MUST_USE int kumo_staking_validator_get(const kumo_kv_t *kv,
                                             const uint8_t *operator_addr,
                                             Kumo__StakingValidator **out,
                                             kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_staking_delegation_get(const kumo_kv_t *kv,
                                              const uint8_t *delegator,
                                              const uint8_t *operator_addr,
                                              Kumo__Delegation **out,
                                              kumo_err_ctx_t *err);
/* What a delegation is worth now (ukumo) and the rewards it could withdraw now. */
KUMO_MUST_USE int kumo_staking_delegation_value(const kumo_kv_t *kv,
                                                const uint8_t *delegator,
                                                const uint8_t *operator_addr,
                                                uint64_t *tokens_out,
                                                uint64_t *rewards_out,
                                                kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_staking_global_get(const kumo_kv_t *kv, Kumo__StakingGlobal **out, kumo_err_ctx_t *err);

/* Receives objects of a listing (borrowed). 0 goes on, 1 stops, negative fails. */
typedef int (*kumo_staking_object_cb)(void *cb_ctx, const ProtobufCMessage *obj);
/* Lists validators (by operator), the delegations of a delegator, its unbonding entries. */
KUMO_MUST_USE int kumo_staking_validators_list(const kumo_kv_t *kv,
                                               kumo_staking_object_cb cb,
                                               void *cb_ctx,
                                               kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_staking_delegations_list(const kumo_kv_t *kv,
                                                const uint8_t *delegator,
                                                kumo_staking_object_cb cb,
                                                void *cb_ctx,
                                                kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_staking_unbondings_list(const kumo_kv_t *kv,
                                               const uint8_t *delegator,
                                               kumo_staking_object_cb cb,
                                               void *cb_ctx,
                                               kumo_err_ctx_t *err);

/* ---- invariants ---- */

/* Scans the staking state: the bonded pool's balance == Σ validator tokens; the unbonding
 * pool's == Σ unbonding entry balances; the rewards pool >= Σ commission + Σ withdrawable
 * delegation rewards + the carry; Σ delegation shares of a validator == its shares; every index
 * (keys, power, queues) holds exactly what its objects imply; the active set is what the
 * power index's top N says. KUMO_ECORRUPT with a detail. For tests and audits. */
KUMO_MUST_USE int kumo_staking_invariants_check(const kumo_kv_t *kv, kumo_err_ctx_t *err);

#endif
