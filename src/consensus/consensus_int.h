/*
 * consensus_int.h - the engine's private state, shared by engine.c and votes.c only.
 */
#ifndef KUMO_CONSENSUS_CONSENSUS_INT_H
#define KUMO_CONSENSUS_CONSENSUS_INT_H

#include "consensus/consensus.h"

/* Distinct proposals kept per round: the proposer's first one and, if it equivocates, one
 * other that more than a third of the power voted for (so at least one honest validator), so
 * a node holding the "wrong" one can still decide the value a quorum committed. */
#define PROPOSALS_PER_ROUND_MAX 2u

/* Conflicting value votes of an equivocating validator kept per slot: each still counts once
 * for its own value, so a commit built from the other half of the network is recognised. */
#define VOTE_EXTRA_MAX 2u

typedef struct vote_extra {
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
} vote_extra_t;

typedef struct vote_slot {
    bool present;
    bool has_value;
    bool evidence_reported;
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
    vote_extra_t extra[VOTE_EXTRA_MAX];
    uint32_t extra_count;
} vote_slot_t;

typedef struct tally {
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    uint64_t power;
} tally_t;

/* The votes of one type in one round: one slot per validator, running sums. */
typedef struct vote_set {
    vote_slot_t *slots; /* vs.count entries */
    tally_t *tallies;   /* distinct non-nil values, at most vs.count */
    uint32_t tally_count;
    uint64_t power_any;
    uint64_t power_nil;
} vote_set_t;

typedef struct proposal_rec {
    bool checked; /* valid(v) was asked (lazily: only when a rule needs it) */
    bool valid;   /* valid(v) of Algorithm 1, once checked */
    uint32_t pol_round;
    kumo_buf_t value;
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    uint8_t sig[KUMO_CRYPTO_SIG_BYTES];
} proposal_rec_t;

typedef struct round_state {
    vote_set_t prevotes;
    vote_set_t precommits;
    proposal_rec_t proposals[PROPOSALS_PER_ROUND_MAX];
    uint32_t proposal_count;
    bool line34_done;
    bool line36_done;
    bool line47_done;
} round_state_t;

/* Who sent a buffered next-height message, for which round and kind (one each). */
typedef struct future_key {
    uint32_t validator_index;
    uint32_t round;
    uint8_t kind;
} future_key_t;

typedef struct history_entry {
    bool present;
    uint64_t height;
    uint32_t round;
    uint32_t pol_round;
    uint32_t proposer_index;
    kumo_buf_t value;
    uint8_t value_id[KUMO_CRYPTO_HASH_BYTES];
    uint8_t proposal_sig[KUMO_CRYPTO_SIG_BYTES];
    kumo_consensus_commit_sig_t *sigs; /* VALIDATOR_COUNT_MAX entries */
    uint32_t sig_count;
    kumo_consensus_valset_t *vs; /* the set of that height: sigs index it */
    uint64_t decided_ms;         /* io.now_ms when it was decided here */
} history_entry_t;

struct kumo_consensus {
    kumo_consensus_cfg_t cfg;
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    kumo_consensus_valset_t vs; /* priorities of round 0 of the current height */
    kumo_consensus_io_t io;
    uint32_t self; /* index in vs, or KUMO_CONSENSUS_SELF_NONE (an observer at this height) */
    uint8_t self_pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    /* The set of height + 1 (io.valset_get, or one step of vs), once asked this height. */
    kumo_consensus_valset_t next_vs;
    bool next_vs_loaded;
    bool started;
    uint64_t height;
    uint32_t round;
    kumo_consensus_step_t step;
    uint32_t locked_round; /* ROUND_NONE or a round whose proposal holds the value */
    uint8_t locked_id[KUMO_CRYPTO_HASH_BYTES];
    uint32_t valid_round;
    uint8_t valid_id[KUMO_CRYPTO_HASH_BYTES];
    round_state_t *rounds[KUMO_CONSENSUS_ROUND_COUNT_MAX];
    uint64_t timer_height[KUMO_CONSENSUS_TIMER_COUNT];
    uint32_t timer_round[KUMO_CONSENSUS_TIMER_COUNT];
    kumo_buf_t future[KUMO_CONSENSUS_FUTURE_MSG_COUNT_MAX]; /* encoded, verified, height + 1 */
    future_key_t future_key[KUMO_CONSENSUS_FUTURE_MSG_COUNT_MAX];
    uint32_t future_count;
    /* Per validator: the highest round of any verified message of this height (line 55),
     * ROUND_NONE for none; rounds beyond the window count here without being stored. */
    uint32_t *max_round;
    uint32_t skip_round;       /* highest round f+1 power reached (line 55), or ROUND_NONE */
    bool replaying;            /* kumo_consensus_replay: no window, no io.wal_append */
    history_entry_t *history;  /* cfg.history_count entries, by height modulo */
    uint64_t *answered_height; /* per validator: last (height, round) answered from history */
    uint32_t *answered_round;
    uint64_t *answered_ms;
    kumo_consensus_counters_t counters;
};

/* engine.c */
KUMO_MUST_USE int timer_arm(kumo_consensus_t *c, kumo_consensus_timer_t id);
KUMO_MUST_USE int vote_cast(kumo_consensus_t *c, kumo_consensus_msg_kind_t kind, const uint8_t *id);
/* What to do with a verified proposal of the current height from its round's proposer. */
typedef enum proposal_admit {
    PROPOSAL_ADMIT_NEW = 0,       /* store it */
    PROPOSAL_ADMIT_DUPLICATE = 1, /* the value is held already */
    PROPOSAL_ADMIT_REFUSED = 2,   /* another value of the round without f+1 votes behind it */
} proposal_admit_t;
proposal_admit_t proposal_admit(const kumo_consensus_t *c, const kumo_consensus_msg_t *m);
KUMO_MUST_USE int
proposal_store(kumo_consensus_t *c, round_state_t *rs, const kumo_consensus_msg_t *m);
/* valid(v), asked of io once per stored proposal (lazily). */
bool proposal_valid(kumo_consensus_t *c, uint32_t round, proposal_rec_t *p);
KUMO_MUST_USE int proposal_send(kumo_consensus_t *c, uint32_t round, const proposal_rec_t *p);
KUMO_MUST_USE int round_start(kumo_consensus_t *c, uint32_t round);
/* Frees the rounds of the height and forgets the validators' highest rounds. */
void engine_rounds_clear(kumo_consensus_t *c);
void engine_max_round_reset(kumo_consensus_t *c);
/* The set of height + 1 (loaded once per height). */
KUMO_MUST_USE int engine_next_vs(kumo_consensus_t *c, const kumo_consensus_valset_t **out);
/* After a decision: the next height's set becomes the set (our index found again). */
KUMO_MUST_USE int engine_valset_advance(kumo_consensus_t *c);
/* io.wal_append unless replaying or absent. */
KUMO_MUST_USE int engine_wal_append(kumo_consensus_t *c, kumo_bytes_t msg);

/* rules.c */
KUMO_MUST_USE int rules_run(kumo_consensus_t *c);

/* votes.c */
void round_state_free(round_state_t *rs);
KUMO_MUST_USE int round_state_get(kumo_consensus_t *c, uint32_t round, round_state_t **out);
/* Whether a verified vote of the current height adds anything (a first vote of its slot, a
 * first conflict to report, or a conflicting value that still has room). */
bool vote_is_new(const kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index);
/* Adds a vote; a conflicting second vote of one validator is reported as evidence. */
KUMO_MUST_USE int vote_add(kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index);
/* Power voting for id (or nil when id is NULL). */
uint64_t vote_set_power(const vote_set_t *set, const uint8_t *id);
proposal_rec_t *round_proposal_find(round_state_t *rs, const uint8_t id[KUMO_CRYPTO_HASH_BYTES]);
/* Whether m is a message we hold byte for byte (same signer, content and signature): a vote
 * or proposal of the current height in its slot, or a precommit of a decided height in its
 * commit. Such a message was verified when it was stored, so a copy needs no second check. */
bool msg_is_known(const kumo_consensus_t *c, const kumo_consensus_msg_t *m);
KUMO_MUST_USE int history_record(kumo_consensus_t *c, uint32_t round, const proposal_rec_t *p);
KUMO_MUST_USE int
history_answer(kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index);
void history_free(kumo_consensus_t *c);
/* Re-sends the prevotes for id of pol_round: the proof of lock (POL) a proposal with
 * validRound = pol_round needs at receivers (Alg. 1, line 28), as CometBFT's gossip does. */
KUMO_MUST_USE int
pol_send(kumo_consensus_t *c, uint32_t pol_round, const uint8_t id[KUMO_CRYPTO_HASH_BYTES]);

#endif
