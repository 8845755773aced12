/*
 * consensus.h - the Tendermint BFT engine (Buchman, Kwon, Milosevic 2018, "The latest gossip on
 * BFT consensus", Algorithm 1) as a pure event-driven state machine.
 *
 * The engine owns one validator's view of heights, rounds, steps, lock and valid value and the
 * votes it has seen. It reaches the world only through kumo_consensus_io_t: no syscalls, no
 * clock, no randomness, no threads. The node plugs in p2p and libevent timers; tests/sim plugs
 * in a seeded virtual network and clock. Values are opaque byte strings identified by their
 * SHA-256. Proposals and votes are signed (Ed25519) over a canonical, domain-separated encoding.
 * Not thread-safe: every call runs on the owner's loop thread.
 */
#ifndef KUMO_CONSENSUS_CONSENSUS_H
#define KUMO_CONSENSUS_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crypto/crypto.h"

/* Validators in a set: bounds every per-round vote table (n entries per type). */
#define KUMO_CONSENSUS_VALIDATOR_COUNT_MAX 128u
/* Total voting power: as CometBFT (MaxInt64 / 8), so priorities (int64) never overflow. */
#define KUMO_CONSENSUS_POWER_TOTAL_MAX (INT64_MAX / 8)
/* A proposed value (the encoded block); the node sends larger consensus messages as parts. */
#define KUMO_CONSENSUS_VALUE_BYTES_MAX (4u * 1024u * 1024u)
/* Rounds tracked per height: a round past this is ignored (liveness at round 1024 would need
 * timeouts of many minutes anyway). */
#define KUMO_CONSENSUS_ROUND_COUNT_MAX 1024u
/* Rounds above the current one whose messages are stored. A message of a later round is only
 * counted toward the f+1 round skip (Alg. 1, line 55: the signer's highest round), so one
 * validator cannot make others hold messages for hundreds of rounds; honest validators
 * re-send theirs every rebroadcast period, so the skipped-to round fills in again. Rounds up
 * to the current one are all kept: decisions (line 49) and proofs of lock (line 28) may come
 * from any of them, and the current round only moves by timeouts or by f+1 power. */
#define KUMO_CONSENSUS_ROUND_WINDOW 4u
/* Messages for the next height buffered while this one finishes: rounds 0..ROUND_WINDOW only,
 * one per validator, round and kind (proposals only from that round's proposer). */
#define KUMO_CONSENSUS_FUTURE_MSG_COUNT_MAX 512u
/* Decisions kept to answer lagging validators' commit catch-up (further back: block sync). */
#define KUMO_CONSENSUS_HISTORY_COUNT_MAX 64u
/* Fixed bytes of a vote and of a proposal without its value. */
#define KUMO_CONSENSUS_VOTE_BYTES         142u
#define KUMO_CONSENSUS_PROPOSAL_BYTES_MIN 117u
#define KUMO_CONSENSUS_MSG_BYTES_MAX \
    (KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + KUMO_CONSENSUS_VALUE_BYTES_MAX)

/* Message kinds; the vote kinds serve as the vote type in sign bytes. */
typedef enum kumo_consensus_msg_kind {
    KUMO_CONSENSUS_MSG_PROPOSAL = 1,
    KUMO_CONSENSUS_MSG_PREVOTE = 2,
    KUMO_CONSENSUS_MSG_PRECOMMIT = 3,
} kumo_consensus_msg_kind_t;

/* Timers: one per kind; setting one again replaces its deadline. */
typedef enum kumo_consensus_timer {
    KUMO_CONSENSUS_TIMER_PROPOSE = 0,
    KUMO_CONSENSUS_TIMER_PREVOTE = 1,
    KUMO_CONSENSUS_TIMER_PRECOMMIT = 2,
    KUMO_CONSENSUS_TIMER_COMMIT = 3,
    /* Periodic re-broadcast of our own messages of the current round: the "eventual delivery
     * after GST" the paper takes from the gossip layer, so lost messages cannot stall a round. */
    KUMO_CONSENSUS_TIMER_REBROADCAST = 4,
    KUMO_CONSENSUS_TIMER_COUNT = 5,
} kumo_consensus_timer_t;

typedef enum kumo_consensus_step {
    KUMO_CONSENSUS_STEP_NEW_HEIGHT = 0, /* decided the previous height, waiting timeout_commit */
    KUMO_CONSENSUS_STEP_PROPOSE = 1,
    KUMO_CONSENSUS_STEP_PREVOTE = 2,
    KUMO_CONSENSUS_STEP_PRECOMMIT = 3,
} kumo_consensus_step_t;

/* The "no round" of Algorithm 1 (-1), as the unsigned wire value. */
#define KUMO_CONSENSUS_ROUND_NONE UINT32_MAX
/* validate_value's proposer for a re-proposed value (validRound >= 0): it was created by the
 * proposer of an earlier round, and it can only gather votes (line 28) or a decision (line 49)
 * if honest validators validated it when it was first proposed. */
#define KUMO_CONSENSUS_PROPOSER_ANY UINT32_MAX

/* A decoded proposal or vote. value borrows from the decoded input (proposals only). */
typedef struct kumo_consensus_msg {
    kumo_consensus_msg_kind_t kind;
    uint64_t height;
    uint32_t round;
    uint32_t pol_round; /* proposals: validRound, or KUMO_CONSENSUS_ROUND_NONE */
    bool has_value;     /* votes: false for nil */
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES]; /* SHA-256 of the value; zero for nil */
    kumo_bytes_t value;                       /* proposals only */
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
} kumo_consensus_msg_t;

typedef struct kumo_consensus_validator {
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint8_t address[KUMO_ADDRESS_BYTES];
    uint64_t power;
    int64_t priority;
} kumo_consensus_validator_t;

/* A validator set sorted by address (the deterministic tie-break and the validator index). */
typedef struct kumo_consensus_valset {
    kumo_consensus_validator_t v[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    uint32_t count;
    uint64_t power_total;
} kumo_consensus_valset_t;

/* One signature of a commit. */
typedef struct kumo_consensus_commit_sig {
    uint32_t validator_index;
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
} kumo_consensus_commit_sig_t;

/* A decided value with its commit (+2/3 precommits). Borrowed for the deliver call only. */
typedef struct kumo_consensus_decision {
    uint64_t height;
    uint32_t round;
    kumo_bytes_t value;
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    const kumo_consensus_commit_sig_t *sigs;
    uint32_t sig_count;
} kumo_consensus_decision_t;

/* Two votes of one validator for different values at one height/round/type. */
typedef struct kumo_consensus_evidence {
    uint32_t validator_index;
    kumo_consensus_msg_t vote_a;
    kumo_consensus_msg_t vote_b;
} kumo_consensus_evidence_t;

/* The engine's whole world. Every callback gets ctx first; none may call back into the engine
 * (messages and timer expiries arrive later through on_msg/on_timer). Callbacks returning int
 * fail with a negative KUMO_E*, which the engine passes up from the call that made them. */
typedef struct kumo_consensus_io {
    void *ctx;
    uint64_t (*now_ms)(void *ctx); /* monotonic */
    /* Arms timer_id to fire (kumo_consensus_on_timer) at deadline_ms, replacing its deadline. */
    int (*timer_set)(void *ctx, uint32_t timer_id, uint64_t deadline_ms);
    /* To every other validator. msg is borrowed for the call. */
    int (*broadcast)(void *ctx, kumo_bytes_t msg);
    /* To one validator by index (catch-up answers to a lagging validator). */
    int (*send)(void *ctx, uint32_t validator_index, kumo_bytes_t msg);
    /* Signs sign bytes with this validator's key. KUMO_EDOUBLESIGN (the signer state
     * refuses: a restarted validator replaying its height) makes the engine skip that
     * proposal or vote as if it had not been its turn; other errors pass up. */
    int (*sign)(void *ctx, kumo_bytes_t msg, uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES]);
    /* A value proposed by this validator for height; appended to value_out (cap_max is
     * KUMO_CONSENSUS_VALUE_BYTES_MAX). */
    int (*get_value_to_propose)(void *ctx, uint64_t height, kumo_buf_t *value_out);
    /* valid(v) of Algorithm 1: true when value may be decided at height. proposer_index is the
     * validator that created the value: the proposer of the carrying proposal's round for a
     * fresh value, KUMO_CONSENSUS_PROPOSER_ANY for a re-proposed one. Asked lazily, at most
     * once per stored proposal, and only when a rule needs the answer: before prevoting the
     * round's proposal (lines 22, 28), before locking on it (line 36) or deciding it (line
     * 49), so values nobody votes for are never executed. */
    bool (*validate_value)(void *ctx, uint64_t height, uint32_t proposer_index, kumo_bytes_t value);
    /* A decided height, in height order, exactly once per height. */
    int (*deliver_decided)(void *ctx, const kumo_consensus_decision_t *decision);
    /* A duplicate vote seen (once per validator, height, round and type). May be NULL. */
    void (*evidence)(void *ctx, const kumo_consensus_evidence_t *ev);
    /* An encoded message (received, or our own before it is sent) that the engine is about
     * to store and act on: the driver makes it durable (WAL append + sync) before returning.
     * Called once per message the engine keeps, never for one it drops (a duplicate, another
     * height, a round beyond the window, a second proposal of a round) nor for messages fed
     * by kumo_consensus_replay. An error leaves the message unstored and passes up. May be
     * NULL (nothing to make durable). */
    int (*wal_append)(void *ctx, kumo_bytes_t msg);
    /* The validator set of height with its round-0 proposer priorities (docs/design.md
     * section 7: sets per height, updates at H + 2). Asked for the next height while this one
     * runs (to verify next-height messages; at most once per height) and taken as the set of
     * the next height when this one is decided, after deliver_decided. NULL: the set never
     * changes and its priorities advance one step per height. */
    int (*valset_get)(void *ctx, uint64_t height, kumo_consensus_valset_t *out);
} kumo_consensus_io_t;

/* Timeouts: timeout(round) = base + round * delta. */
typedef struct kumo_consensus_cfg {
    const char *chain_id; /* copied; 1..KUMO_CHAIN_ID_BYTES_MAX bytes */
    uint64_t timeout_propose_ms;
    uint64_t timeout_propose_delta_ms;
    uint64_t timeout_prevote_ms;
    uint64_t timeout_prevote_delta_ms;
    uint64_t timeout_precommit_ms;
    uint64_t timeout_precommit_delta_ms;
    uint64_t timeout_commit_ms; /* wait after a decision before the next height */
    uint32_t history_count;     /* decisions kept for catch-up, 1..HISTORY_COUNT_MAX */
    uint64_t rebroadcast_ms;    /* period of re-sending our own current messages, >= 1 */
} kumo_consensus_cfg_t;

/* Defaults for ~1 s blocks on a LAN/WAN: propose 1000+500r, prevote and precommit 500+250r,
 * commit 800 ms, history 4, rebroadcast every 1000 ms. */
void kumo_consensus_cfg_default(kumo_consensus_cfg_t *cfg);

/* ---- validator set and proposer selection (valset.c) ---- */

/* Builds a set from count (pubkey, power) pairs: sorted by address, priorities zero.
 * KUMO_EEMPTY for none, KUMO_ELIMIT over COUNT_MAX or POWER_TOTAL_MAX, KUMO_EINVAL for a
 * zero power, KUMO_EDUPLICATE for a repeated key. */
KUMO_MUST_USE int kumo_consensus_valset_init(kumo_consensus_valset_t *vs,
                                             const uint8_t (*pubkeys)[KUMO_CRYPTO_PUBKEY_BYTES],
                                             const uint64_t *powers,
                                             uint32_t count,
                                             kumo_err_ctx_t *err);
/* Index of pubkey in the set, or -1. */
int32_t kumo_consensus_valset_find(const kumo_consensus_valset_t *vs,
                                   const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES]);
/* One step of weighted round-robin (CometBFT): every priority += power, the highest (ties:
 * lowest address) is the proposer and loses power_total. Returns the proposer's index. */
uint32_t kumo_consensus_valset_priority_step(kumo_consensus_valset_t *vs);
/* Proposer for round of a height whose round-0 priorities are vs (vs is not changed). */
uint32_t kumo_consensus_valset_proposer(const kumo_consensus_valset_t *vs, uint32_t round);
/* Same keys and powers in the same order (priorities aside). */
bool kumo_consensus_valset_members_equal(const kumo_consensus_valset_t *a,
                                         const kumo_consensus_valset_t *b);
/* The next height's set with its round-0 priorities, from vs (round 0 of this height) and
 * members (the next height's keys and powers, a valid set): vs takes one priority step; if
 * the members are vs's, that is all (a fixed set advances exactly as before). Otherwise a key
 * in both keeps its stepped priority, a new key starts at -(total + total / 8) so it does not
 * propose at once, and the priorities are scaled down to a spread of at most 2 * total and
 * centred on zero (CometBFT's rules), so none grows without bound across changes. */
void kumo_consensus_valset_next(const kumo_consensus_valset_t *vs,
                                const kumo_consensus_valset_t *members,
                                kumo_consensus_valset_t *out);
/* power * 3 > total * 2 (strictly more than two thirds), in 128-bit math. */
bool kumo_consensus_power_is_quorum(uint64_t power, uint64_t total);
/* power * 3 > total (strictly more than one third: at least one honest). */
bool kumo_consensus_power_is_third(uint64_t power, uint64_t total);

/* ---- messages (msg.c) ---- */

/* Canonical sign bytes: "kumo/consensus/v1" || u8 kind || prefixed chain id || u64 height ||
 * u32 round || (proposal: u32 pol_round) || u8 has_value || value id. Writes into out (cap
 * bytes); KUMO_ELIMIT if too small. Sets *len_out. */
KUMO_MUST_USE int kumo_consensus_msg_sign_bytes(
    const kumo_consensus_msg_t *m, const char *chain_id, uint8_t *out, size_t cap, size_t *len_out);
/* Encodes m into out (cap bytes). Vote: u8 kind || u64 height || u32 round || u8 has_value ||
 * 32 value id || 32 pubkey || 64 sig. Proposal: u8 kind || u64 height || u32 round || u32
 * pol_round || 32 pubkey || prefixed value || 64 sig (the id is SHA-256 of the value). */
KUMO_MUST_USE int
kumo_consensus_msg_encode(const kumo_consensus_msg_t *m, uint8_t *out, size_t cap, size_t *len_out);
/* Strict decode: KUMO_EUNKNOWNMSG for an unknown kind, KUMO_EDECODE for short, trailing or
 * non-canonical bytes (has_value not 0/1, a nil vote with a non-zero id, round or pol_round
 * out of range), KUMO_ELIMIT for a value over VALUE_BYTES_MAX. The value borrows from in. */
KUMO_MUST_USE int
kumo_consensus_msg_decode(kumo_bytes_t in, kumo_consensus_msg_t *m, kumo_err_ctx_t *err);
/* Checks the signer is in vs (KUMO_EUNAUTH) and the signature (KUMO_ESIG). */
KUMO_MUST_USE int kumo_consensus_msg_verify(const kumo_consensus_msg_t *m,
                                            const kumo_consensus_valset_t *vs,
                                            const char *chain_id,
                                            kumo_err_ctx_t *err);
/* Fills m's signature with kp (tests, the simulator's byzantine node). */
KUMO_MUST_USE int kumo_consensus_msg_sign(kumo_consensus_msg_t *m,
                                          const char *chain_id,
                                          const kumo_crypto_keypair_t *kp);

/* ---- evidence (evidence.c) ---- */

/* Encoded DuplicateVoteEvidence: u8 'E' || vote || vote, smaller value id first. */
#define KUMO_CONSENSUS_EVIDENCE_BYTES (1u + 2u * KUMO_CONSENSUS_VOTE_BYTES)
KUMO_MUST_USE int kumo_consensus_evidence_encode(const kumo_consensus_evidence_t *ev,
                                                 uint8_t out[KUMO_CONSENSUS_EVIDENCE_BYTES]);
/* Decodes evidence without checking signatures or membership (a decided block's evidence,
 * verified before it was decided): KUMO_EDECODE for bad bytes or order, KUMO_EINVAL for votes
 * that do not conflict. validator_index is UINT32_MAX. */
KUMO_MUST_USE int kumo_consensus_evidence_decode(kumo_bytes_t in,
                                                 kumo_consensus_evidence_t *out,
                                                 kumo_err_ctx_t *err);
/* Decodes and checks evidence against vs: KUMO_EDECODE for bad bytes or order, KUMO_EINVAL
 * for votes that do not conflict (other kinds, heights, rounds, signers, the same value),
 * KUMO_EUNAUTH for a non-validator, KUMO_ESIG for a bad signature. Fills out (validator index
 * from vs). */
KUMO_MUST_USE int kumo_consensus_evidence_decode_verify(kumo_bytes_t in,
                                                        const kumo_consensus_valset_t *vs,
                                                        const char *chain_id,
                                                        kumo_consensus_evidence_t *out,
                                                        kumo_err_ctx_t *err);

/* ---- signer state (signer.c): never sign two different things at one height/round/step ---- */

/* The last thing a validator signed. Persisted (fsync'd) by the node before any signature
 * leaves the process; loaded at start. */
typedef struct kumo_consensus_signer_state {
    bool has_signed;
    uint64_t height;
    uint32_t round;
    uint8_t step; /* the msg kind: 1 proposal, 2 prevote, 3 precommit */
    uint8_t sign_hash[KUMO_CRYPTO_HASH_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
} kumo_consensus_signer_state_t;
#define KUMO_CONSENSUS_SIGNER_STATE_BYTES (1u + 1u + 8u + 4u + 1u + 32u + 64u)

/* Height, round and step (msg kind) of consensus sign bytes; KUMO_EDECODE otherwise. */
KUMO_MUST_USE int kumo_consensus_sign_bytes_parse(
    kumo_bytes_t sb, uint64_t *height, uint32_t *round, uint8_t *step, kumo_err_ctx_t *err);
/* May sign_bytes be signed after st? 0 with *same_out false: a later height/round/step (sign,
 * persist the update, then release the signature); 0 with *same_out true: exactly what was
 * signed last (re-use st->sig); KUMO_EDOUBLESIGN: something else at the same or an earlier
 * step (refuse). */
KUMO_MUST_USE int kumo_consensus_signer_check(const kumo_consensus_signer_state_t *st,
                                              kumo_bytes_t sign_bytes,
                                              bool *same_out,
                                              kumo_err_ctx_t *err);
/* Records a signature of sign_bytes (which passed the check) in st. */
void kumo_consensus_signer_update(kumo_consensus_signer_state_t *st,
                                  kumo_bytes_t sign_bytes,
                                  const uint8_t sig[KUMO_CRYPTO_SIG_BYTES]);
KUMO_MUST_USE int kumo_consensus_signer_encode(const kumo_consensus_signer_state_t *st,
                                               uint8_t out[KUMO_CONSENSUS_SIGNER_STATE_BYTES]);
KUMO_MUST_USE int kumo_consensus_signer_decode(kumo_bytes_t in,
                                               kumo_consensus_signer_state_t *st,
                                               kumo_err_ctx_t *err);

/* ---- crash safety: the WAL / replay contract a driver (the node) follows ----
 *
 * Disk of a validator: its decided chain (store head = H - 1), a WAL of the consensus
 * messages of the current height (src/wal, one record per message) and the signer state
 * above (one small file written with kumo_file_write).
 * 1. Input: every consensus message the engine keeps, received or our own, reaches
 *    io.wal_append, which appends it to the WAL and kumo_wal_sync's it, BEFORE the engine
 *    acts on it (our own: before it leaves the process). Messages the engine drops (bad
 *    signatures, non-validators, other heights, rounds beyond the window, duplicates, a
 *    proposer's second value) never reach the log. Timer firings are not logged: start
 *    re-arms them, so after a restart a timeout is taken again after its full duration
 *    (safe, only slower).
 * 2. Output: io.sign runs kumo_consensus_signer_check; for a new step it signs, writes the
 *    updated state (kumo_consensus_signer_update + encode + kumo_file_write, fsync'd),
 *    and only then returns the signature; for the same sign bytes it returns the stored
 *    signature; otherwise it returns KUMO_EDOUBLESIGN and the engine skips that message.
 * 3. Decision: the decided block is committed to the store first, then the WAL is reset
 *    (kumo_wal_reset) for the next height. A crash between the two leaves old-height records,
 *    which on_msg ignores at the new height.
 * 4. Restart: load the signer state (missing = never signed), kumo_wal_open (cuts a torn
 *    tail), kumo_consensus_open at H = head + 1, kumo_consensus_start, then feed every WAL
 *    record in order to kumo_consensus_replay (ignoring its rejections as on the wire; only
 *    KUMO_EIO/ECORRUPT/ENOMEM are fatal). The engine re-derives round, lock and valid value;
 *    whatever it signs again is either identical (re-sent) or refused by the signer state,
 *    so a restarted validator never signs two different things at one height/round/step.
 * tests/sim/test_sim_consensus.c crashes and restarts validators through this contract. */

/* ---- the engine (engine.c) ---- */

typedef struct kumo_consensus kumo_consensus_t;

/* Opens an engine for the validator self_pubkey at height (>= 1), copying cfg and vs (vs
 * priorities are those of round 0 of height). io is copied. Nothing runs until
 * kumo_consensus_start. KUMO_EINVAL for a bad cfg, KUMO_EUNAUTH if self is not in vs and the
 * set is fixed (io.valset_get NULL), KUMO_ENOMEM. At a height whose set leaves self_pubkey
 * out, the engine follows as an observer: it stores, decides and delivers, and signs nothing
 * until a set names it again. */
KUMO_MUST_USE int kumo_consensus_open(const kumo_consensus_cfg_t *cfg,
                                      const kumo_consensus_valset_t *vs,
                                      const uint8_t self_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                      uint64_t height,
                                      const kumo_consensus_io_t *io,
                                      kumo_consensus_t **out,
                                      kumo_err_ctx_t *err);
void kumo_consensus_close(kumo_consensus_t *c);
/* StartRound(0) of the first height (Alg. 1, line 10). */
KUMO_MUST_USE int kumo_consensus_start(kumo_consensus_t *c, kumo_err_ctx_t *err);
/* One encoded message from the network. Bad input is rejected with the decode/verify codes
 * above and changes nothing; messages of other heights are ignored (0) after answering a
 * lagging validator from history; messages the engine keeps go through io.wal_append first;
 * errors of io callbacks pass up. */
KUMO_MUST_USE int kumo_consensus_on_msg(kumo_consensus_t *c, kumo_bytes_t msg, kumo_err_ctx_t *err);
/* One message of the driver's WAL after a restart: as on_msg, without io.wal_append and
 * without the round window (the log holds only what on_msg kept, and the rounds that timeouts
 * reached before the crash must be stored again to re-derive the lock). */
KUMO_MUST_USE int kumo_consensus_replay(kumo_consensus_t *c, kumo_bytes_t msg, kumo_err_ctx_t *err);
/* A timer set through io fired. KUMO_EINVAL for an unknown timer id. */
KUMO_MUST_USE int
kumo_consensus_on_timer(kumo_consensus_t *c, uint32_t timer_id, kumo_err_ctx_t *err);

/* Observers (tests, status). */
uint64_t kumo_consensus_height(const kumo_consensus_t *c);
uint32_t kumo_consensus_round(const kumo_consensus_t *c);
kumo_consensus_step_t kumo_consensus_step(const kumo_consensus_t *c);
/* lockedRound (KUMO_CONSENSUS_ROUND_NONE if none) and lockedValue's id (if locked). */
uint32_t kumo_consensus_locked_round(const kumo_consensus_t *c,
                                     uint8_t id_out[KUMO_CRYPTO_HASH_BYTES]);
uint32_t kumo_consensus_valid_round(const kumo_consensus_t *c);
/* Proposer index for (current height, round). */
uint32_t kumo_consensus_proposer(const kumo_consensus_t *c, uint32_t round);
/* The set of the current height (its round-0 priorities), and our index in it or
 * KUMO_CONSENSUS_SELF_NONE while the set leaves us out. */
#define KUMO_CONSENSUS_SELF_NONE UINT32_MAX
const kumo_consensus_valset_t *kumo_consensus_valset(const kumo_consensus_t *c);
uint32_t kumo_consensus_self(const kumo_consensus_t *c);
/* timeout(round) in ms for timer kind (PROPOSE, PREVOTE, PRECOMMIT). */
uint64_t
kumo_consensus_timeout_ms(const kumo_consensus_cfg_t *cfg, uint32_t timer_id, uint32_t round);
/* What happened to verified messages since the engine opened (for logs and tests). */
typedef struct kumo_consensus_counters {
    uint64_t stored;           /* kept and acted on: each went through io.wal_append once */
    uint64_t duplicate;        /* already held */
    uint64_t round_window;     /* beyond current round + ROUND_WINDOW: counted for line 55 only */
    uint64_t proposal_refused; /* another value from a round's proposer without f+1 votes for it */
    uint64_t other_height;     /* older (answered from history) or beyond the next height */
    uint64_t future_dropped;   /* next-height messages not buffered (round, duplicate, full) */
    uint64_t validated;        /* values handed to io.validate_value */
    uint64_t verified;         /* signatures checked (a copy of a message held is not) */
} kumo_consensus_counters_t;
void kumo_consensus_counters_get(const kumo_consensus_t *c, kumo_consensus_counters_t *out);
/* Messages dropped because a bound was full or a rule refused them: round_window +
 * proposal_refused + future_dropped. */
uint64_t kumo_consensus_drop_count(const kumo_consensus_t *c);

#endif
