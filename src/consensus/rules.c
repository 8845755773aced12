/*
 * rules.c - the "upon" rules of Algorithm 1 (Buchman, Kwon, Milosevic 2018), the decision,
 * and the message and timer entry points.
 *
 * rules_run() evaluates the rules over the stored messages of the current height until none
 * fires. Each rule either changes the step, the round or the height (so the loop makes
 * progress) or sets a once-per-round flag, so the loop ends. Pure: effects go through io.
 */
#include <inttypes.h>
#include <string.h>

#include "consensus/consensus_int.h"

static bool id_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, KUMO_CRYPTO_HASH_BYTES) == 0;
}

static bool quorum(const kumo_consensus_t *c, uint64_t power)
{
    return kumo_consensus_power_is_quorum(power, c->vs.power_total);
}

static int future_replay(kumo_consensus_t *c);

/* Alg. 1, lines 49-54: decide v of round r, reset the lock and valid value, next height. */
static int decide(kumo_consensus_t *c, uint32_t r, proposal_rec_t *p)
{
    KUMO_ASSERT(p->checked && p->valid);
    KUMO_ASSERT(quorum(c, vote_set_power(&c->rounds[r]->precommits, p->value_id)));
    KUMO_GUARD(history_record(c, r, p));
    const history_entry_t *h = &c->history[c->height % c->cfg.history_count];
    kumo_consensus_decision_t d = {0};
    d.height = c->height;
    d.round = r;
    d.value = kumo_buf_bytes(&h->value);
    memcpy(d.value_id, h->value_id, KUMO_CRYPTO_HASH_BYTES);
    d.sigs = h->sigs;
    d.sig_count = h->sig_count;
    KUMO_GUARD(c->io.deliver_decided(c->io.ctx, &d));
    /* CometBFT: priorities advance one step per height; round r of a height takes r more.
     * The next height's set (and priorities) comes from io.valset_get when the set can
     * change: the block just delivered is in the state it reads. */
    KUMO_GUARD(engine_valset_advance(c));
    engine_rounds_clear(c);
    c->height++;
    c->round = 0;
    c->step = KUMO_CONSENSUS_STEP_NEW_HEIGHT;
    c->locked_round = KUMO_CONSENSUS_ROUND_NONE;
    c->valid_round = KUMO_CONSENSUS_ROUND_NONE;
    memset(c->locked_id, 0, sizeof(c->locked_id));
    memset(c->valid_id, 0, sizeof(c->valid_id));
    /* timeout_commit gathers late precommits before StartRound(0) of the next height. */
    KUMO_GUARD(timer_arm(c, KUMO_CONSENSUS_TIMER_COMMIT));
    return future_replay(c);
}

/* Alg. 1, line 49: a proposal of any round r with 2f+1 precommits for it. */
static int rule_decide(kumo_consensus_t *c, bool *fired)
{
    for (uint32_t r = 0; r < KUMO_CONSENSUS_ROUND_COUNT_MAX; r++) {
        round_state_t *rs = c->rounds[r];
        if (rs == NULL) {
            continue;
        }
        for (uint32_t i = 0; i < rs->proposal_count; i++) {
            proposal_rec_t *p = &rs->proposals[i];
            /* The quorum first: valid(v) executes the value, only worth it for a decision. */
            if (quorum(c, vote_set_power(&rs->precommits, p->value_id)) &&
                proposal_valid(c, r, p)) {
                *fired = true;
                return decide(c, r, p);
            }
        }
    }
    return 0;
}

/* Alg. 1, line 55: f+1 power sent messages of a round above ours: skip to it. Each validator
 * counts at its highest round of the height (skip_round), so the target is the highest round
 * that validators with f+1 power reached, which an honest one reached too. */
static int rule_round_skip(kumo_consensus_t *c, bool *fired)
{
    if (c->skip_round == KUMO_CONSENSUS_ROUND_NONE || c->skip_round <= c->round) {
        return 0;
    }
    KUMO_ASSERT(c->skip_round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    *fired = true;
    return round_start(c, c->skip_round);
}

/* Alg. 1, lines 22-33, in step propose. */
static int rule_propose_step(kumo_consensus_t *c, round_state_t *rs, bool *fired)
{
    if (rs->proposal_count == 0) {
        return 0;
    }
    proposal_rec_t *p = &rs->proposals[0];
    bool vote_value = false;
    if (p->pol_round == KUMO_CONSENSUS_ROUND_NONE) {
        /* Line 22-27; valid(v) only when the lock allows a vote for v. */
        vote_value =
            (c->locked_round == KUMO_CONSENSUS_ROUND_NONE || id_equal(c->locked_id, p->value_id)) &&
            proposal_valid(c, c->round, p);
    } else {
        /* Line 28-33: needs 2f+1 prevotes for id(v) in round vr < round_p. */
        KUMO_ASSERT(p->pol_round < c->round);
        const round_state_t *vr = c->rounds[p->pol_round];
        if (vr == NULL || !quorum(c, vote_set_power(&vr->prevotes, p->value_id))) {
            return 0;
        }
        vote_value = (c->locked_round == KUMO_CONSENSUS_ROUND_NONE ||
                      c->locked_round <= p->pol_round || id_equal(c->locked_id, p->value_id)) &&
                     proposal_valid(c, c->round, p);
    }
    *fired = true;
    c->step = KUMO_CONSENSUS_STEP_PREVOTE;
    return vote_cast(c, KUMO_CONSENSUS_MSG_PREVOTE, vote_value ? p->value_id : NULL);
}

/* Alg. 1, lines 36-43: a valid proposal with 2f+1 prevotes, in step >= prevote, once. */
static int rule_lock(kumo_consensus_t *c, round_state_t *rs, bool *fired)
{
    if (rs->line36_done || c->step < KUMO_CONSENSUS_STEP_PREVOTE) {
        return 0;
    }
    for (uint32_t i = 0; i < rs->proposal_count; i++) {
        proposal_rec_t *p = &rs->proposals[i];
        if (!quorum(c, vote_set_power(&rs->prevotes, p->value_id)) ||
            !proposal_valid(c, c->round, p)) {
            continue;
        }
        *fired = true;
        rs->line36_done = true;
        c->valid_round = c->round; /* lines 42-43 */
        memcpy(c->valid_id, p->value_id, KUMO_CRYPTO_HASH_BYTES);
        if (c->step == KUMO_CONSENSUS_STEP_PREVOTE) {
            c->locked_round = c->round; /* lines 38-41 */
            memcpy(c->locked_id, p->value_id, KUMO_CRYPTO_HASH_BYTES);
            c->step = KUMO_CONSENSUS_STEP_PRECOMMIT;
            return vote_cast(c, KUMO_CONSENSUS_MSG_PRECOMMIT, p->value_id);
        }
        return 0;
    }
    return 0;
}

/* Lines 34, 44 and 47 (timers and the nil precommit). */
static int rule_prevote_quorums(kumo_consensus_t *c, round_state_t *rs, bool *fired)
{
    if (c->step == KUMO_CONSENSUS_STEP_PREVOTE && !rs->line34_done &&
        quorum(c, rs->prevotes.power_any)) {
        rs->line34_done = true; /* line 34: 2f+1 prevotes of any kind, first time */
        *fired = true;
        KUMO_GUARD(timer_arm(c, KUMO_CONSENSUS_TIMER_PREVOTE));
    }
    if (c->step == KUMO_CONSENSUS_STEP_PREVOTE && quorum(c, rs->prevotes.power_nil)) {
        *fired = true; /* line 44: 2f+1 nil prevotes */
        c->step = KUMO_CONSENSUS_STEP_PRECOMMIT;
        KUMO_GUARD(vote_cast(c, KUMO_CONSENSUS_MSG_PRECOMMIT, NULL));
    }
    if (!rs->line47_done && quorum(c, rs->precommits.power_any)) {
        rs->line47_done = true; /* line 47: 2f+1 precommits of any kind, first time */
        *fired = true;
        KUMO_GUARD(timer_arm(c, KUMO_CONSENSUS_TIMER_PRECOMMIT));
    }
    return 0;
}

static int rules_once(kumo_consensus_t *c, bool *fired)
{
    KUMO_GUARD(rule_decide(c, fired));
    if (*fired || c->step == KUMO_CONSENSUS_STEP_NEW_HEIGHT) {
        return 0;
    }
    KUMO_GUARD(rule_round_skip(c, fired));
    if (*fired) {
        return 0;
    }
    round_state_t *rs = NULL;
    KUMO_GUARD(round_state_get(c, c->round, &rs));
    if (c->step == KUMO_CONSENSUS_STEP_PROPOSE) {
        KUMO_GUARD(rule_propose_step(c, rs, fired));
        if (*fired) {
            return 0;
        }
    }
    KUMO_GUARD(rule_lock(c, rs, fired));
    if (*fired) {
        return 0;
    }
    return rule_prevote_quorums(c, rs, fired);
}

int rules_run(kumo_consensus_t *c)
{
    KUMO_ASSERT(c->started);
    for (;;) {
        bool fired = false;
        KUMO_GUARD(rules_once(c, &fired));
        if (!fired) {
            return 0;
        }
    }
}

/* Notes the signer's highest round of this height (line 55), stored or not, and recomputes
 * the highest round that validators with f+1 power reached. */
static void max_round_note(kumo_consensus_t *c, uint32_t index, uint32_t round)
{
    KUMO_ASSERT(index < c->vs.count && round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    if (c->max_round[index] != KUMO_CONSENSUS_ROUND_NONE && c->max_round[index] >= round) {
        return;
    }
    c->max_round[index] = round;
    if (c->skip_round != KUMO_CONSENSUS_ROUND_NONE && round <= c->skip_round) {
        return; /* no round above skip_round gained power */
    }
    /* Candidates are the validators' highest rounds above skip_round, tried from the highest
     * down: the first with f+1 power at or above it is the new skip_round. Usually one or two
     * distinct rounds are above it, so this costs O(validators) per raised round. */
    uint32_t above = round;
    for (;;) {
        uint64_t power = 0;
        uint32_t next = KUMO_CONSENSUS_ROUND_NONE; /* the highest candidate below above */
        for (uint32_t j = 0; j < c->vs.count; j++) {
            uint32_t r = c->max_round[j];
            if (r == KUMO_CONSENSUS_ROUND_NONE) {
                continue;
            }
            power += r >= above ? c->vs.v[j].power : 0u;
            bool candidate =
                r < above && (c->skip_round == KUMO_CONSENSUS_ROUND_NONE || r > c->skip_round);
            if (candidate && (next == KUMO_CONSENSUS_ROUND_NONE || r > next)) {
                next = r;
            }
        }
        if (kumo_consensus_power_is_third(power, c->vs.power_total)) {
            c->skip_round = above;
            return;
        }
        if (next == KUMO_CONSENSUS_ROUND_NONE) {
            return;
        }
        above = next;
    }
}

/* Whether a verified message of the current height, in the window, adds anything. */
static bool msg_is_new(kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index)
{
    if (m->kind != KUMO_CONSENSUS_MSG_PROPOSAL) {
        bool fresh = vote_is_new(c, m, index);
        c->counters.duplicate += fresh ? 0u : 1u;
        return fresh;
    }
    switch (proposal_admit(c, m)) {
    case PROPOSAL_ADMIT_NEW:
        return true;
    case PROPOSAL_ADMIT_DUPLICATE:
        c->counters.duplicate++;
        return false;
    case PROPOSAL_ADMIT_REFUSED:
        c->counters.proposal_refused++;
        return false;
    default:
        KUMO_UNREACHABLE();
    }
}

/* A verified message of the current height: stored when it is new and its round is at most
 * ROUND_WINDOW above ours, after io.wal_append made it durable; otherwise only counted. */
static int
msg_intake(kumo_consensus_t *c, kumo_bytes_t msg, const kumo_consensus_msg_t *m, uint32_t index)
{
    KUMO_ASSERT(m->height == c->height);
    if (m->round >= KUMO_CONSENSUS_ROUND_COUNT_MAX) {
        c->counters.round_window++;
        return 0;
    }
    max_round_note(c, index, m->round);
    if (!c->replaying && m->round > c->round + KUMO_CONSENSUS_ROUND_WINDOW) {
        c->counters.round_window++;
        return 0;
    }
    if (!msg_is_new(c, m, index)) {
        return 0;
    }
    KUMO_GUARD(engine_wal_append(c, msg));
    c->counters.stored++;
    round_state_t *rs = NULL;
    KUMO_GUARD(round_state_get(c, m->round, &rs));
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        return proposal_store(c, rs, m);
    }
    return vote_add(c, m, index);
}

/* Buffers a verified next-height message: rounds 0..ROUND_WINDOW, one per validator, round
 * and kind, proposals only from their round's proposer, so the buffer holds at most a few
 * values whatever a validator sends. */
static int future_buffer(kumo_consensus_t *c,
                         kumo_bytes_t msg,
                         const kumo_consensus_msg_t *m,
                         const kumo_consensus_valset_t *next,
                         uint32_t index)
{
    if (m->round > KUMO_CONSENSUS_ROUND_WINDOW ||
        (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL &&
         kumo_consensus_valset_proposer(next, m->round) != index)) {
        c->counters.future_dropped++;
        return 0;
    }
    for (uint32_t i = 0; i < c->future_count; i++) {
        const future_key_t *k = &c->future_key[i];
        if (k->validator_index == index && k->round == m->round && k->kind == (uint8_t)m->kind) {
            bool same = kumo_bytes_equal(kumo_buf_bytes(&c->future[i]), msg);
            c->counters.duplicate += same ? 1u : 0u; /* a rebroadcast we already hold */
            c->counters.future_dropped += same ? 0u : 1u;
            return 0;
        }
    }
    if (c->future_count >= KUMO_CONSENSUS_FUTURE_MSG_COUNT_MAX) {
        c->counters.future_dropped++;
        return 0;
    }
    kumo_buf_t *b = &c->future[c->future_count];
    kumo_buf_init(b, KUMO_CONSENSUS_MSG_BYTES_MAX);
    KUMO_GUARD(kumo_buf_append(b, msg.ptr, msg.len));
    c->future_key[c->future_count] =
        (future_key_t){.validator_index = index, .round = m->round, .kind = (uint8_t)m->kind};
    c->future_count++;
    return 0;
}

/* The buffered messages were verified when they arrived; now they are of our height. */
static int future_replay(kumo_consensus_t *c)
{
    int rc = 0;
    for (uint32_t i = 0; i < c->future_count; i++) {
        kumo_consensus_msg_t m;
        kumo_bytes_t msg = kumo_buf_bytes(&c->future[i]);
        /* Verified against the set of this height when buffered; the index is found again
         * in case the set came out otherwise. */
        int32_t index = -1;
        if (rc == 0 && kumo_consensus_msg_decode(msg, &m, NULL) == 0 && m.height == c->height) {
            index = kumo_consensus_valset_find(&c->vs, m.pubkey);
        }
        if (index >= 0) {
            rc = msg_intake(c, msg, &m, (uint32_t)index);
        }
        kumo_buf_free(&c->future[i]);
    }
    c->future_count = 0;
    return rc;
}

/* The set a message of height is checked against: the height's own for the current and
 * the next height and for a decided one still in history; otherwise the current set. */
static int msg_valset(kumo_consensus_t *c, uint64_t height, const kumo_consensus_valset_t **out)
{
    *out = &c->vs;
    if (height == c->height + 1u) {
        return engine_next_vs(c, out);
    }
    if (height < c->height) {
        const history_entry_t *h = &c->history[height % c->cfg.history_count];
        if (h->present && h->height == height) {
            *out = h->vs;
        }
    }
    return 0;
}

/* A verified message of an older height: answered from history when its signer is still a
 * validator (answers go by index in the current set). */
static int msg_old_height(kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    c->counters.other_height++;
    int32_t index = kumo_consensus_valset_find(&c->vs, m->pubkey);
    return index >= 0 ? history_answer(c, m, (uint32_t)index) : 0;
}

static int msg_process(kumo_consensus_t *c, kumo_bytes_t msg, kumo_err_ctx_t *err)
{
    kumo_consensus_msg_t m;
    KUMO_GUARD(kumo_consensus_msg_decode(msg, &m, err));
    const kumo_consensus_valset_t *vs = NULL;
    int rc = msg_valset(c, m.height, &vs);
    KUMO_ENSURE(rc == 0, err, rc, "validator set of height %" PRIu64 ": %s", m.height,
                kumo_err_name(rc));
    if (vs == &c->vs && m.height != c->height && kumo_consensus_valset_find(vs, m.pubkey) < 0) {
        /* A height whose set we do not hold (older than history, or beyond the next): the
         * signer may have been a validator there (one that left or joined since), so this
         * is not the sender's fault; block sync serves those heights. */
        c->counters.other_height++;
        return 0;
    }
    /* A copy of a message we hold (a rebroadcast, a relayed commit) was verified when it was
     * stored: at 100 validators most messages are such copies. */
    bool known = msg_is_known(c, &m);
    if (!known) {
        c->counters.verified++;
        KUMO_GUARD(kumo_consensus_msg_verify(&m, vs, c->chain_id, err));
    }
    uint32_t index = (uint32_t)kumo_consensus_valset_find(vs, m.pubkey);
    KUMO_ASSERT(index < vs->count);
    if (m.height < c->height) {
        rc = msg_old_height(c, &m);
    } else if (known) {
        KUMO_ASSERT(m.height == c->height);
        c->counters.duplicate++;
    } else if (m.height == c->height + 1) {
        rc = future_buffer(c, msg, &m, vs, index);
    } else if (m.height > c->height) {
        c->counters.other_height++; /* further ahead: block sync's job */
    } else if (m.kind == KUMO_CONSENSUS_MSG_PROPOSAL && m.round < KUMO_CONSENSUS_ROUND_COUNT_MAX &&
               kumo_consensus_valset_proposer(&c->vs, m.round) != index) {
        /* Alg. 1 only accepts a proposal "from proposer(h_p, round)". */
        return kumo_err_set(err, KUMO_EUNAUTH, "proposal from a validator not the proposer");
    } else {
        rc = msg_intake(c, msg, &m, index);
        if (rc == 0 && c->started) {
            rc = rules_run(c);
        }
    }
    KUMO_ENSURE(rc == 0, err, rc, "consensus: %s", kumo_err_name(rc));
    return 0;
}

int kumo_consensus_on_msg(kumo_consensus_t *c, kumo_bytes_t msg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ASSERT(!c->replaying);
    return msg_process(c, msg, err);
}

int kumo_consensus_replay(kumo_consensus_t *c, kumo_bytes_t msg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ASSERT(!c->replaying);
    c->replaying = true;
    int rc = msg_process(c, msg, err);
    c->replaying = false;
    return rc;
}

static int own_vote_send(kumo_consensus_t *c,
                         const vote_set_t *set,
                         kumo_consensus_msg_kind_t kind,
                         uint32_t round)
{
    if (c->self == KUMO_CONSENSUS_SELF_NONE) {
        return 0;
    }
    const vote_slot_t *slot = &set->slots[c->self];
    if (!slot->present) {
        return 0;
    }
    kumo_consensus_msg_t v = {0};
    v.kind = kind;
    v.height = c->height;
    v.round = round;
    v.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    v.has_value = slot->has_value;
    memcpy(v.value_id, slot->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(v.pubkey, c->vs.v[c->self].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    memcpy(v.sig, slot->sig, KUMO_CRYPTO_SIG_BYTES);
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = 0;
    int rc = kumo_consensus_msg_encode(&v, buf, sizeof(buf), &len);
    KUMO_ASSERT(rc == 0 && len == sizeof(buf));
    return c->io.broadcast(c->io.ctx, kumo_bytes_make(buf, len));
}

/* Re-sends what we already signed in one round (never signs anything new). */
static int rebroadcast_round(kumo_consensus_t *c, uint32_t round)
{
    const round_state_t *rs = c->rounds[round];
    if (rs == NULL) {
        return 0;
    }
    if (rs->proposal_count > 0 && kumo_consensus_valset_proposer(&c->vs, round) == c->self) {
        KUMO_GUARD(proposal_send(c, round, &rs->proposals[0]));
    }
    KUMO_GUARD(own_vote_send(c, &rs->prevotes, KUMO_CONSENSUS_MSG_PREVOTE, round));
    return own_vote_send(c, &rs->precommits, KUMO_CONSENSUS_MSG_PRECOMMIT, round);
}

/* The current round and the one before: a node that moved on alone (it saw +2/3 precommits
 * of the round) re-sends the precommit the others may have lost, or they could wait for
 * that quorum forever (the simulation found this). */
static int rebroadcast(kumo_consensus_t *c)
{
    KUMO_GUARD(timer_arm(c, KUMO_CONSENSUS_TIMER_REBROADCAST));
    if (c->step == KUMO_CONSENSUS_STEP_NEW_HEIGHT) {
        return 0;
    }
    if (c->round > 0) {
        KUMO_GUARD(rebroadcast_round(c, c->round - 1u));
    }
    return rebroadcast_round(c, c->round);
}

/* Alg. 1, lines 57-66: OnTimeoutPropose, OnTimeoutPrevote, OnTimeoutPrecommit. */
static int timer_fire(kumo_consensus_t *c, kumo_consensus_timer_t id)
{
    bool current = c->timer_height[id] == c->height && c->timer_round[id] == c->round;
    switch (id) {
    case KUMO_CONSENSUS_TIMER_PROPOSE:
        if (current && c->step == KUMO_CONSENSUS_STEP_PROPOSE) { /* line 57 */
            c->step = KUMO_CONSENSUS_STEP_PREVOTE;
            return vote_cast(c, KUMO_CONSENSUS_MSG_PREVOTE, NULL);
        }
        return 0;
    case KUMO_CONSENSUS_TIMER_PREVOTE:
        if (current && c->step == KUMO_CONSENSUS_STEP_PREVOTE) { /* line 61 */
            c->step = KUMO_CONSENSUS_STEP_PRECOMMIT;
            return vote_cast(c, KUMO_CONSENSUS_MSG_PRECOMMIT, NULL);
        }
        return 0;
    case KUMO_CONSENSUS_TIMER_PRECOMMIT:
        if (current && c->step != KUMO_CONSENSUS_STEP_NEW_HEIGHT &&
            c->round + 1 < KUMO_CONSENSUS_ROUND_COUNT_MAX) { /* line 65 */
            return round_start(c, c->round + 1);
        }
        return 0;
    case KUMO_CONSENSUS_TIMER_COMMIT:
        if (c->timer_height[id] == c->height && c->step == KUMO_CONSENSUS_STEP_NEW_HEIGHT) {
            return round_start(c, 0); /* line 54: StartRound(0) of the next height */
        }
        return 0;
    case KUMO_CONSENSUS_TIMER_REBROADCAST:
        return rebroadcast(c);
    case KUMO_CONSENSUS_TIMER_COUNT:
    default:
        KUMO_UNREACHABLE();
    }
}

int kumo_consensus_on_timer(kumo_consensus_t *c, uint32_t timer_id, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ENSURE(timer_id < KUMO_CONSENSUS_TIMER_COUNT, err, KUMO_EINVAL, "timer id %u", timer_id);
    if (!c->started) {
        return 0;
    }
    int rc = timer_fire(c, (kumo_consensus_timer_t)timer_id);
    if (rc == 0) {
        rc = rules_run(c);
    }
    KUMO_ENSURE(rc == 0, err, rc, "consensus timer: %s", kumo_err_name(rc));
    return 0;
}
