/*
 * chain.h - txs and blocks over the market state machine: tx decoding, signature and state
 * checks, fees and sequences, block application with per-tx atomicity, the app hash, genesis
 * JSON, tx building and the facilitator's tx batches. Pure: no I/O, no clock, no threads.
 *
 * Tx phases (docs/design.md section 2): check failures change nothing; once checked, the fee is
 * charged and the sequence bumped, and the msgs run in a savepoint that a failing msg rolls
 * back.
 */
#ifndef KUMO_CHAIN_CHAIN_H
#define KUMO_CHAIN_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "consensus/consensus.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "market/market.h"
#include "staking/staking.h"

#define KUMO_CHAIN_HASH_BYTES 32u
#define KUMO_CHAIN_TX_DOMAIN  "kumo/tx/v1"
#define KUMO_CHAIN_APP_DOMAIN "kumo/app/v1"
/* Validator set updates recorded while the block at height H is applied take effect at
 * H + KUMO_CHAIN_VALSET_DELAY (Tendermint's rule: the set of H + 1 is fixed before H runs). */
#define KUMO_CHAIN_VALSET_DELAY 2u
/* Updates one block may record: every member removed and as many keys added. */
#define KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX (2u * KUMO_CONSENSUS_VALIDATOR_COUNT_MAX)
/* An encoded set: u32 count || count x (32 pubkey || u64 power || i64 priority), big-endian,
 * in the set's address order. */
#define KUMO_CHAIN_VALSET_BYTES_MAX (4u + KUMO_CONSENSUS_VALIDATOR_COUNT_MAX * 48u)

/* One change of the validator set: the consensus key's new power; 0 removes the key. */
typedef struct kumo_chain_valset_update {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t power;
} kumo_chain_valset_update_t;

/* A decoded tx. Owns tx and body (kumo_chain_tx_free). */
typedef struct kumo_chain_tx {
    Kumo__Tx *tx;
    Kumo__TxBody *body;
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];      /* SHA-256 of the tx bytes: its id */
    uint8_t sign_hash[KUMO_CHAIN_HASH_BYTES]; /* SHA-256(domain || body): what was signed */
    uint8_t signer[KUMO_ADDRESS_BYTES];
    size_t bytes_len;
    bool sig_checked; /* kumo_chain_tx_sig_check ran */
    bool sig_valid;
    bool facilitator_only; /* every msg is a facilitator msg */
} kumo_chain_tx_t;

/* Decodes tx bytes (<= bytes_max: KUMO_ELIMIT) canonically, computes hashes and the signer.
 * KUMO_EDECODE for malformed input, KUMO_EINVAL for a pubkey or signature of the wrong size.
 * Does not verify the signature. */
KUMO_MUST_USE int kumo_chain_tx_decode(kumo_bytes_t bytes,
                                       size_t bytes_max,
                                       kumo_chain_tx_t *out,
                                       kumo_err_ctx_t *err);
void kumo_chain_tx_free(kumo_chain_tx_t *tx);

/* Verifies the signature once and records the result in tx (thread-safe per tx: callers may
 * verify different txs on different threads). Returns sig_valid. */
bool kumo_chain_tx_sig_check(kumo_chain_tx_t *tx);

/* Decode + signature check in one step (what a verifier thread runs per tx). A bad signature
 * is not an error here: tx->sig_valid is false and apply rejects it with KUMO_ESIG. */
KUMO_MUST_USE int kumo_chain_tx_prepare(kumo_bytes_t bytes,
                                        size_t bytes_max,
                                        kumo_chain_tx_t *out,
                                        kumo_err_ctx_t *err);

/* Stateless checks: chain id (KUMO_ECHAINID), msg count 1..KUMO_TX_MSG_COUNT_MAX, memo
 * length, each msg's kumo_market_msg_validate_basic. */
KUMO_MUST_USE int
kumo_chain_tx_check_basic(const kumo_chain_tx_t *tx, const char *chain_id, kumo_err_ctx_t *err);

/* Stateful checks without writing: signature (KUMO_ESIG), sequence (KUMO_ESEQUENCE), fee >=
 * min_fee (KUMO_EFEE) unless a facilitator-only tx from a validator operator, fee <= balance
 * (KUMO_EFUNDS), facilitator msgs from non-operators (KUMO_EUNAUTH). */
KUMO_MUST_USE int kumo_chain_tx_check_state(const kumo_kv_t *kv,
                                            const Kumo__Params *params,
                                            kumo_chain_tx_t *tx,
                                            kumo_err_ctx_t *err);

/* Builds and signs a tx: appends its bytes to out. msgs are borrowed. */
KUMO_MUST_USE int kumo_chain_tx_build(const char *chain_id,
                                      const kumo_crypto_keypair_t *kp,
                                      uint64_t sequence,
                                      uint64_t fee,
                                      const char *memo,
                                      Kumo__Msg *const *msgs,
                                      size_t msg_count,
                                      kumo_buf_t *out,
                                      kumo_err_ctx_t *err);

/* The result of one tx in a block. */
typedef struct kumo_chain_tx_result {
    int code; /* 0 or a KUMO_E* code */
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    uint32_t msg_index; /* failing msg when code != 0 and the msgs ran */
    uint64_t fee;       /* charged */
    char log[KUMO_ERR_DETAIL_BYTES];
    kumo_buf_t events; /* Kumo__Event encodings, each u32-length-prefixed */
    uint32_t event_count;
} kumo_chain_tx_result_t;

/* One validator of the set that signed the previous block (height - 1), in that set's order
 * (by address), and whether its precommit is in the block's last commit. */
typedef struct kumo_chain_commit_signer {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES]; /* consensus key */
    uint64_t power;
    bool signed_block;
} kumo_chain_commit_signer_t;

/* One duplicate-vote evidence item a block carries: the validator signed two different votes
 * at height/round. Consensus verified it before the block was decided. */
typedef struct kumo_chain_evidence {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES]; /* the equivocating validator's consensus key */
    uint64_t height;                          /* of the votes: below the block's height */
    uint32_t round;
} kumo_chain_evidence_t;

typedef struct kumo_chain_block_in {
    const char *chain_id;
    uint64_t height;
    const uint8_t *prev_app_hash; /* KUMO_CHAIN_HASH_BYTES */
    const kumo_bytes_t *txs;
    size_t tx_count;
    /* Optional: txs already decoded and signature-checked by the caller (e.g. on several
     * threads), index-aligned with txs; apply takes ownership of none of them. */
    kumo_chain_tx_t *prepared;
    /* What consensus says about the block (docs/design.md, "The block API"). All borrowed;
     * apply checks the counts and evidence heights before any write. */
    const uint8_t *proposer; /* KUMO_CRYPTO_PUBKEY_BYTES, or NULL (genesis, unknown) */
    /* The validators of height - 1's set and whether each signed the last commit; none
     * (count 0) at height 1 and for blocks without a last commit (one validator by timer). */
    const kumo_chain_commit_signer_t *last_commit_signers;
    size_t last_commit_signer_count; /* <= KUMO_BLOCK_SIGNER_COUNT_MAX */
    const kumo_chain_evidence_t *evidence;
    size_t evidence_count; /* <= KUMO_BLOCK_EVIDENCE_COUNT_MAX */
    /* Optional validator set updates the caller's own end-block step computed (tests and
     * test builds of the node): recorded after the txs as kumo_chain_valset_update_add
     * would, a refused one making the block invalid as a whole with its code. */
    const kumo_chain_valset_update_t *valset_updates;
    uint32_t valset_update_count;
    /* Keys whose power only the caller's updates set (test builds of the node: every key
     * $KUMO_TEST_VALSET names, at any height): staking's updates for them are not recorded,
     * so the two never both remove or both set one validator (a removal of a key already
     * gone, or two updates of one key in a block, would make the block invalid and stop the
     * chain). At most KUMO_CONSENSUS_VALIDATOR_COUNT_MAX. */
    const uint8_t (*valset_caller_keys)[KUMO_CRYPTO_PUBKEY_BYTES];
    uint32_t valset_caller_key_count;
} kumo_chain_block_in_t;

typedef struct kumo_chain_block_out {
    kumo_chain_tx_result_t *results; /* tx_count entries */
    size_t result_count;
    uint64_t tx_ok_count;
    uint64_t tx_failed_count;
    uint8_t app_hash[KUMO_CHAIN_HASH_BYTES];
    /* The block's validator set updates in the order recorded (end-block steps call
     * kumo_chain_valset_update_add); effective at height + KUMO_CHAIN_VALSET_DELAY. */
    kumo_chain_valset_update_t valset_updates[KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX];
    uint32_t valset_update_count;
} kumo_chain_block_out_t;

/* Applies a block to kv (an open store block). Per-tx failures are recorded in results, never
 * returned; the return value is an error only for a block that is invalid as a whole
 * (KUMO_ELIMIT: too many txs, bytes over max_block_bytes, signers or evidence items over
 * their limits; KUMO_EINVAL: a signer of power 0, evidence not below the block's height; then
 * nothing was written) or for a store failure
 * (KUMO_EIO/KUMO_ECORRUPT/KUMO_ENOMEM), after which the caller must abort the store block. */
KUMO_MUST_USE int kumo_chain_block_apply(const kumo_kv_t *kv,
                                         const kumo_chain_block_in_t *in,
                                         kumo_chain_block_out_t *out,
                                         kumo_err_ctx_t *err);
void kumo_chain_block_out_free(kumo_chain_block_out_t *out);

/* ---- validator sets per height (valset.c, docs/design.md section 7) ---- */

/* Records one validator set update of the block being applied (call it from an end-block step
 * of kumo_chain_block_apply, on that block's kv and out): pubkey's power becomes power from
 * height + KUMO_CHAIN_VALSET_DELAY; power 0 removes it. Each call checks the set that the
 * updates recorded so far would make, and a refused update records nothing: KUMO_EDUPLICATE
 * for a key already updated in this block, KUMO_ELIMIT for more than
 * KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX updates, more than KUMO_CONSENSUS_VALIDATOR_COUNT_MAX
 * members or a total power over KUMO_CONSENSUS_POWER_TOTAL_MAX, KUMO_ENOTFOUND for removing
 * a key that is not a member, KUMO_EEMPTY for removing the last one (record joins and power
 * changes before removals); store failures pass up. */
KUMO_MUST_USE int kumo_chain_valset_update_add(const kumo_kv_t *kv,
                                               kumo_chain_block_out_t *out,
                                               const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                               uint64_t power,
                                               kumo_err_ctx_t *err);
/* The members and powers (priorities zero) of the set that signs height (>= 1): any height
 * up to two above the last applied block. KUMO_ENOTFOUND when the chain has no set (a genesis
 * without validators). */
KUMO_MUST_USE int kumo_chain_valset_get(const kumo_kv_t *kv,
                                        uint64_t height,
                                        kumo_consensus_valset_t *out,
                                        kumo_err_ctx_t *err);
/* The set of height with its round-0 proposer priorities, on the state after block
 * next_height - 1: height is next_height (stored) or next_height + 1 (one step further);
 * KUMO_EINVAL for any other height, KUMO_ENOTFOUND for a chain without a set. */
KUMO_MUST_USE int kumo_chain_valset_proposers_get(const kumo_kv_t *kv,
                                                  uint64_t next_height,
                                                  uint64_t height,
                                                  kumo_consensus_valset_t *out,
                                                  kumo_err_ctx_t *err);
/* The stored encoding of a set (appended to out). */
KUMO_MUST_USE int kumo_chain_valset_encode(const kumo_consensus_valset_t *vs, kumo_buf_t *out);
/* Strict decode: KUMO_EDECODE for a bad length or count, an invalid set or entries out of
 * address order. */
KUMO_MUST_USE int
kumo_chain_valset_decode(kumo_bytes_t in, kumo_consensus_valset_t *out, kumo_err_ctx_t *err);

/* app_hash = SHA-256(domain || prev || SHA-256(encoded write set)) (docs/design.md sec. 2). */
KUMO_MUST_USE int kumo_chain_app_hash_compute(const kumo_kv_t *kv,
                                              const uint8_t prev[KUMO_CHAIN_HASH_BYTES],
                                              uint8_t out[KUMO_CHAIN_HASH_BYTES],
                                              kumo_err_ctx_t *err);

/* Parses genesis JSON (<= KUMO_GENESIS_BYTES_MAX) into a validated Genesis (free with
 * kumo_codec_free). Missing params take the defaults; chain_id is required. */
KUMO_MUST_USE int
kumo_chain_genesis_parse(kumo_bytes_t json, Kumo__Genesis **out, kumo_err_ctx_t *err);
/* Writes the genesis state into an empty kv and computes the genesis app hash. */
KUMO_MUST_USE int kumo_chain_genesis_apply(const kumo_kv_t *kv,
                                           const Kumo__Genesis *genesis,
                                           uint8_t app_hash_out[KUMO_CHAIN_HASH_BYTES],
                                           kumo_err_ctx_t *err);

/* What one facilitator build found: msgs collected as due, and how many of them failed on the
 * state left by the msgs before them and were left out. */
typedef struct kumo_chain_facilitator_stats {
    uint32_t due_count;
    uint32_t dropped_count;
} kumo_chain_facilitator_stats_t;

/* Builds the facilitator's txs for the block at height: every due msg from
 * kumo_market_facilitator_collect (at most tx_cap x msgs_per_tx), applied in that order on kv
 * as kp's operator would apply them, in savepoints: the msgs that succeed are kept, the
 * ones an earlier msg invalidated are left out, and every write is rolled back before return
 * (kv is as it was). The kept msgs go msgs_per_tx per tx, signed by kp with sequences from
 * *sequence (advanced), fee 0, each tx its own kumo_buf_t in txs_out (an array of tx_cap
 * buffers; *tx_count_out is set). Applied at the point of a block whose state is kv's (the
 * start of the block, or after txs that leave these items alone), none of the txs fails.
 * kv must be writable with savepoints: an open store block, outside any scan (a read-only
 * snapshot fails with KUMO_EINVAL). stats_out may be NULL. Errors: store failures
 * (KUMO_EIO/KUMO_ECORRUPT), KUMO_ENOMEM, KUMO_ELIMIT (savepoint depth); then no tx is built
 * and *sequence is unchanged. */
KUMO_MUST_USE int kumo_chain_facilitator_txs_build(const kumo_kv_t *kv,
                                                   const char *chain_id,
                                                   uint64_t height,
                                                   const kumo_crypto_keypair_t *kp,
                                                   uint64_t *sequence,
                                                   uint32_t msgs_per_tx,
                                                   kumo_buf_t *txs_out,
                                                   size_t tx_cap,
                                                   size_t *tx_count_out,
                                                   kumo_chain_facilitator_stats_t *stats_out,
                                                   kumo_err_ctx_t *err);

#endif
