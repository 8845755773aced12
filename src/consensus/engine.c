/*
 * engine.c - the Tendermint state machine: Algorithm 1 of Buchman, Kwon, Milosevic, "The latest
 * gossip on BFT consensus" (2018), arXiv:1807.04938. Comments cite its lines ("Alg. 1, line 22").
 *
 * Every input (message, timer) is stored first; then rules_run() evaluates the "upon" rules of
 * Algorithm 1 over the stored state until none fires, so the order in which messages arrive
 * never matters for which rules eventually fire. Owns the current height's rounds, lock and
 * valid value, a buffer of next-height messages and a short history of decisions. Pure: every
 * effect goes through kumo_consensus_io_t. An io callback error is passed up and leaves the
 * engine consistent but possibly short of a message it meant to send; the owner stops it.
 */
#include <string.h>

#include "consensus/consensus_int.h"

void kumo_consensus_cfg_default(kumo_consensus_cfg_t *cfg)
{
    KUMO_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    cfg->chain_id = "kumo";
    cfg->timeout_propose_ms = 1000;
    cfg->timeout_propose_delta_ms = 500;
    cfg->timeout_prevote_ms = 500;
    cfg->timeout_prevote_delta_ms = 250;
    cfg->timeout_precommit_ms = 500;
    cfg->timeout_precommit_delta_ms = 250;
    cfg->timeout_commit_ms = 800;
    cfg->history_count = 4;
    cfg->rebroadcast_ms = 1000;
}

uint64_t
kumo_consensus_timeout_ms(const kumo_consensus_cfg_t *cfg, uint32_t timer_id, uint32_t round)
{
    KUMO_ASSERT(cfg != NULL);
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    uint64_t base = 0;
    uint64_t delta = 0;
    switch ((kumo_consensus_timer_t)timer_id) {
    case KUMO_CONSENSUS_TIMER_PROPOSE:
        base = cfg->timeout_propose_ms;
        delta = cfg->timeout_propose_delta_ms;
        break;
    case KUMO_CONSENSUS_TIMER_PREVOTE:
        base = cfg->timeout_prevote_ms;
        delta = cfg->timeout_prevote_delta_ms;
        break;
    case KUMO_CONSENSUS_TIMER_PRECOMMIT:
        base = cfg->timeout_precommit_ms;
        delta = cfg->timeout_precommit_delta_ms;
        break;
    case KUMO_CONSENSUS_TIMER_COMMIT:
        return cfg->timeout_commit_ms;
    case KUMO_CONSENSUS_TIMER_REBROADCAST:
        return cfg->rebroadcast_ms;
    case KUMO_CONSENSUS_TIMER_COUNT:
    default:
        KUMO_UNREACHABLE();
    }
    /* Bounded by cfg validation: base, delta <= 1 hour, so this cannot overflow. */
    return base + (uint64_t)round * delta;
}

#define TIMEOUT_MS_MAX (3600u * 1000u)

static int cfg_check(const kumo_consensus_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(cfg->chain_id != NULL && cfg->chain_id[0] != '\0', err, KUMO_EINVAL, "no chain id");
    KUMO_ENSURE(strlen(cfg->chain_id) <= KUMO_CHAIN_ID_BYTES_MAX, err, KUMO_ELIMIT,
                "chain id over %u bytes", KUMO_CHAIN_ID_BYTES_MAX);
    const uint64_t t[] = {cfg->timeout_propose_ms,   cfg->timeout_propose_delta_ms,
                          cfg->timeout_prevote_ms,   cfg->timeout_prevote_delta_ms,
                          cfg->timeout_precommit_ms, cfg->timeout_precommit_delta_ms,
                          cfg->timeout_commit_ms,    cfg->rebroadcast_ms};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(t); i++) {
        KUMO_ENSURE(t[i] <= TIMEOUT_MS_MAX, err, KUMO_EINVAL, "timeout %zu over 1 hour", i);
    }
    KUMO_ENSURE(cfg->rebroadcast_ms >= 1, err, KUMO_EINVAL, "rebroadcast_ms 0");
    KUMO_ENSURE(cfg->history_count >= 1 && cfg->history_count <= KUMO_CONSENSUS_HISTORY_COUNT_MAX,
                err, KUMO_EINVAL, "history_count %u not in 1..%u", cfg->history_count,
                KUMO_CONSENSUS_HISTORY_COUNT_MAX);
    return 0;
}

/* Per-validator tables hold a whole set of any height: its size may change per height. */
static int engine_alloc_tables(kumo_consensus_t *c)
{
    uint32_t n = KUMO_CONSENSUS_VALIDATOR_COUNT_MAX;
    c->history = kumo_calloc(c->cfg.history_count, sizeof(history_entry_t));
    c->answered_height = kumo_calloc(n, sizeof(uint64_t));
    c->answered_round = kumo_calloc(n, sizeof(uint32_t));
    c->answered_ms = kumo_calloc(n, sizeof(uint64_t));
    c->max_round = kumo_calloc(n, sizeof(uint32_t));
    if (c->history == NULL || c->answered_height == NULL || c->answered_round == NULL ||
        c->answered_ms == NULL || c->max_round == NULL) {
        return KUMO_ENOMEM;
    }
    engine_max_round_reset(c);
    for (uint32_t i = 0; i < c->cfg.history_count; i++) {
        kumo_buf_init(&c->history[i].value, KUMO_CONSENSUS_VALUE_BYTES_MAX);
        c->history[i].sigs = kumo_calloc(n, sizeof(kumo_consensus_commit_sig_t));
        c->history[i].vs = kumo_calloc(1, sizeof(kumo_consensus_valset_t));
        if (c->history[i].sigs == NULL || c->history[i].vs == NULL) {
            return KUMO_ENOMEM;
        }
    }
    return 0;
}

int kumo_consensus_open(const kumo_consensus_cfg_t *cfg,
                        const kumo_consensus_valset_t *vs,
                        const uint8_t self_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                        uint64_t height,
                        const kumo_consensus_io_t *io,
                        kumo_consensus_t **out,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && vs != NULL && io != NULL && out != NULL);
    KUMO_GUARD(cfg_check(cfg, err));
    KUMO_ENSURE(vs->count > 0 && vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX, err, KUMO_EINVAL,
                "validator set of %u", vs->count);
    KUMO_ENSURE(height >= 1, err, KUMO_EINVAL, "height 0");
    KUMO_ENSURE(io->now_ms != NULL && io->timer_set != NULL && io->broadcast != NULL &&
                    io->sign != NULL && io->get_value_to_propose != NULL &&
                    io->validate_value != NULL && io->deliver_decided != NULL,
                err, KUMO_EINVAL, "io callback missing");
    int32_t self = kumo_consensus_valset_find(vs, self_pubkey);
    /* With a fixed set a non-member could never sign; with sets per height it observes
     * until a set names it. */
    KUMO_ENSURE(self >= 0 || io->valset_get != NULL, err, KUMO_EUNAUTH, "self is not a validator");
    kumo_consensus_t *c = kumo_calloc(1, sizeof(*c));
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "consensus engine");
    c->cfg = *cfg;
    memcpy(c->chain_id, cfg->chain_id, strlen(cfg->chain_id) + 1);
    c->cfg.chain_id = c->chain_id;
    c->vs = *vs;
    c->io = *io;
    c->self = self >= 0 ? (uint32_t)self : KUMO_CONSENSUS_SELF_NONE;
    memcpy(c->self_pubkey, self_pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    c->height = height;
    c->step = KUMO_CONSENSUS_STEP_NEW_HEIGHT;
    c->locked_round = KUMO_CONSENSUS_ROUND_NONE;
    c->valid_round = KUMO_CONSENSUS_ROUND_NONE;
    if (engine_alloc_tables(c) < 0) {
        kumo_consensus_close(c);
        return kumo_err_set(err, KUMO_ENOMEM, "consensus tables");
    }
    *out = c;
    return 0;
}

void engine_max_round_reset(kumo_consensus_t *c)
{
    for (uint32_t i = 0; i < c->vs.count; i++) {
        c->max_round[i] = KUMO_CONSENSUS_ROUND_NONE;
    }
    c->skip_round = KUMO_CONSENSUS_ROUND_NONE;
}

void engine_rounds_clear(kumo_consensus_t *c)
{
    for (uint32_t r = 0; r < KUMO_CONSENSUS_ROUND_COUNT_MAX; r++) {
        round_state_free(c->rounds[r]);
        c->rounds[r] = NULL;
    }
    if (c->max_round != NULL) {
        engine_max_round_reset(c);
    }
}

void kumo_consensus_close(kumo_consensus_t *c)
{
    if (c == NULL) {
        return;
    }
    engine_rounds_clear(c);
    for (uint32_t i = 0; i < c->future_count; i++) {
        kumo_buf_free(&c->future[i]);
    }
    history_free(c);
    kumo_free(c->answered_height);
    kumo_free(c->answered_round);
    kumo_free(c->answered_ms);
    kumo_free(c->max_round);
    kumo_free(c);
}

int timer_arm(kumo_consensus_t *c, kumo_consensus_timer_t id)
{
    uint64_t now = c->io.now_ms(c->io.ctx);
    uint64_t deadline = now + kumo_consensus_timeout_ms(&c->cfg, (uint32_t)id, c->round);
    c->timer_height[id] = c->height;
    c->timer_round[id] = c->round;
    return c->io.timer_set(c->io.ctx, (uint32_t)id, deadline);
}

int engine_next_vs(kumo_consensus_t *c, const kumo_consensus_valset_t **out)
{
    if (!c->next_vs_loaded) {
        if (c->io.valset_get == NULL) {
            c->next_vs = c->vs; /* a fixed set: one priority step per height */
            (void)kumo_consensus_valset_priority_step(&c->next_vs);
        } else {
            KUMO_GUARD(c->io.valset_get(c->io.ctx, c->height + 1u, &c->next_vs));
            KUMO_ASSERT(c->next_vs.count > 0 &&
                        c->next_vs.count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
        }
        c->next_vs_loaded = true;
    }
    *out = &c->next_vs;
    return 0;
}

int engine_valset_advance(kumo_consensus_t *c)
{
    const kumo_consensus_valset_t *next = NULL;
    KUMO_GUARD(engine_next_vs(c, &next));
    bool same = kumo_consensus_valset_members_equal(&c->vs, next);
    c->vs = *next;
    c->next_vs_loaded = false;
    int32_t self = kumo_consensus_valset_find(&c->vs, c->self_pubkey);
    c->self = self >= 0 ? (uint32_t)self : KUMO_CONSENSUS_SELF_NONE;
    if (!same) {
        /* Indexes name other validators now: forget who was answered when. */
        memset(c->answered_height, 0, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX * sizeof(uint64_t));
        memset(c->answered_round, 0, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX * sizeof(uint32_t));
        memset(c->answered_ms, 0, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX * sizeof(uint64_t));
    }
    return 0;
}

int engine_wal_append(kumo_consensus_t *c, kumo_bytes_t msg)
{
    if (c->io.wal_append == NULL || c->replaying) {
        return 0;
    }
    return c->io.wal_append(c->io.ctx, msg);
}

/* Signs, broadcasts and counts our own vote (we are one of the 2f+1). */
int vote_cast(kumo_consensus_t *c, kumo_consensus_msg_kind_t kind, const uint8_t *id)
{
    if (c->self == KUMO_CONSENSUS_SELF_NONE) {
        return 0; /* an observer at this height: no vote */
    }
    kumo_consensus_msg_t m = {0};
    m.kind = kind;
    m.height = c->height;
    m.round = c->round;
    m.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    m.has_value = id != NULL;
    if (id != NULL) {
        memcpy(m.value_id, id, KUMO_CRYPTO_HASH_BYTES);
    }
    memcpy(m.pubkey, c->vs.v[c->self].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    uint8_t sb[128 + KUMO_CHAIN_ID_BYTES_MAX];
    size_t sb_len = 0;
    KUMO_GUARD(kumo_consensus_msg_sign_bytes(&m, c->chain_id, sb, sizeof(sb), &sb_len));
    int rc = c->io.sign(c->io.ctx, kumo_bytes_make(sb, sb_len), m.sig);
    if (rc == KUMO_EDOUBLESIGN) {
        return 0; /* not counted, not sent: we already signed something else here */
    }
    KUMO_GUARD(rc);
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = 0;
    KUMO_GUARD(kumo_consensus_msg_encode(&m, buf, sizeof(buf), &len));
    KUMO_ASSERT(len == KUMO_CONSENSUS_VOTE_BYTES);
    if (vote_is_new(c, &m, c->self)) {
        /* Durable before it counts and before it leaves the process (a replayed vote that
         * the log already holds is not logged again). */
        KUMO_GUARD(engine_wal_append(c, kumo_bytes_make(buf, len)));
        c->counters.stored++;
    }
    KUMO_GUARD(vote_add(c, &m, c->self));
    return c->io.broadcast(c->io.ctx, kumo_bytes_make(buf, len));
}

/* The most power voting for id in one round, prevotes or precommits. */
static uint64_t proposal_votes(const round_state_t *rs, const uint8_t id[KUMO_CRYPTO_HASH_BYTES])
{
    uint64_t prevotes = vote_set_power(&rs->prevotes, id);
    uint64_t precommits = vote_set_power(&rs->precommits, id);
    return prevotes > precommits ? prevotes : precommits;
}

proposal_admit_t proposal_admit(const kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    KUMO_ASSERT(m->kind == KUMO_CONSENSUS_MSG_PROPOSAL);
    KUMO_ASSERT(m->round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    round_state_t *rs = c->rounds[m->round];
    if (rs == NULL || rs->proposal_count == 0) {
        return PROPOSAL_ADMIT_NEW;
    }
    if (round_proposal_find(rs, m->value_id) != NULL) {
        return PROPOSAL_ADMIT_DUPLICATE;
    }
    /* The proposer signed another value for this round: it equivocates. The first value stays
     * (it drives lines 22 and 28). Another one is kept only when more than a third of the
     * power (so at least one honest validator) voted for it, so a value a quorum committed
     * can still be decided here, while the proposer alone cannot make us hold or execute
     * any number of values. */
    uint64_t power = proposal_votes(rs, m->value_id);
    if (!kumo_consensus_power_is_third(power, c->vs.power_total)) {
        return PROPOSAL_ADMIT_REFUSED;
    }
    if (rs->proposal_count < PROPOSALS_PER_ROUND_MAX) {
        return PROPOSAL_ADMIT_NEW;
    }
    const proposal_rec_t *alt = &rs->proposals[PROPOSALS_PER_ROUND_MAX - 1u];
    return power > proposal_votes(rs, alt->value_id) ? PROPOSAL_ADMIT_NEW : PROPOSAL_ADMIT_REFUSED;
}

int proposal_store(kumo_consensus_t *c, round_state_t *rs, const kumo_consensus_msg_t *m)
{
    KUMO_ASSERT(m->height == c->height);
    KUMO_ASSERT(round_proposal_find(rs, m->value_id) == NULL);
    KUMO_ASSERT(rs->proposal_count <= PROPOSALS_PER_ROUND_MAX);
    bool replace = rs->proposal_count == PROPOSALS_PER_ROUND_MAX;
    proposal_rec_t *p = &rs->proposals[replace ? PROPOSALS_PER_ROUND_MAX - 1u : rs->proposal_count];
    if (replace) {
        kumo_buf_reset(&p->value);
    } else {
        kumo_buf_init(&p->value, KUMO_CONSENSUS_VALUE_BYTES_MAX);
    }
    int rc = kumo_buf_append(&p->value, m->value.ptr, m->value.len);
    if (rc < 0) {
        kumo_buf_free(&p->value);
        rs->proposal_count -= replace ? 1u : 0u;
        return rc;
    }
    rs->proposal_count += replace ? 0u : 1u;
    p->pol_round = m->pol_round;
    memcpy(p->value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(p->sig, m->sig, KUMO_CRYPTO_SIG_BYTES);
    p->checked = false; /* executed only when a rule needs valid(v): proposal_valid */
    p->valid = false;
    return 0;
}

bool proposal_valid(kumo_consensus_t *c, uint32_t round, proposal_rec_t *p)
{
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    if (!p->checked) {
        uint32_t proposer = p->pol_round == KUMO_CONSENSUS_ROUND_NONE
                                ? kumo_consensus_valset_proposer(&c->vs, round)
                                : KUMO_CONSENSUS_PROPOSER_ANY;
        p->valid = c->io.validate_value(c->io.ctx, c->height, proposer, kumo_buf_bytes(&p->value));
        p->checked = true;
        c->counters.validated++;
    }
    return p->valid;
}

int proposal_send(kumo_consensus_t *c, uint32_t round, const proposal_rec_t *p)
{
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    kumo_consensus_msg_t m = {0};
    m.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    m.height = c->height;
    m.round = round;
    m.pol_round = p->pol_round;
    m.has_value = true;
    m.value = kumo_buf_bytes(&p->value);
    memcpy(m.value_id, p->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(m.pubkey, c->vs.v[kumo_consensus_valset_proposer(&c->vs, round)].pubkey,
           KUMO_CRYPTO_PUBKEY_BYTES);
    memcpy(m.sig, p->sig, KUMO_CRYPTO_SIG_BYTES);
    size_t cap = KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + p->value.len;
    uint8_t *buf = kumo_alloc(cap);
    if (buf == NULL) {
        return KUMO_ENOMEM;
    }
    size_t len = 0;
    int rc = kumo_consensus_msg_encode(&m, buf, cap, &len);
    KUMO_ASSERT(rc == 0 && len == cap);
    rc = c->io.broadcast(c->io.ctx, kumo_bytes_make(buf, len));
    kumo_free(buf);
    if (rc == 0 && p->pol_round != KUMO_CONSENSUS_ROUND_NONE) {
        rc = pol_send(c, p->pol_round, p->value_id);
    }
    return rc;
}

/* Our own proposal into the log before it is stored or sent. */
static int proposal_own_log(kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    if (c->io.wal_append == NULL || c->replaying) {
        return 0;
    }
    size_t cap = KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + m->value.len;
    uint8_t *buf = kumo_alloc(cap);
    if (buf == NULL) {
        return KUMO_ENOMEM;
    }
    size_t len = 0;
    int rc = kumo_consensus_msg_encode(m, buf, cap, &len);
    KUMO_ASSERT(rc == 0 && len == cap);
    rc = engine_wal_append(c, kumo_bytes_make(buf, len));
    kumo_free(buf);
    return rc;
}

/* Alg. 1, line 19: signs and broadcasts our proposal, and stores it as received. */
static int proposal_broadcast(kumo_consensus_t *c, kumo_bytes_t value, uint32_t pol_round)
{
    kumo_consensus_msg_t m = {0};
    m.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    m.height = c->height;
    m.round = c->round;
    m.pol_round = pol_round;
    m.has_value = true;
    m.value = value;
    kumo_crypto_sha256(value, m.value_id);
    memcpy(m.pubkey, c->vs.v[c->self].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    uint8_t sb[128 + KUMO_CHAIN_ID_BYTES_MAX];
    size_t sb_len = 0;
    KUMO_GUARD(kumo_consensus_msg_sign_bytes(&m, c->chain_id, sb, sizeof(sb), &sb_len));
    int rc = c->io.sign(c->io.ctx, kumo_bytes_make(sb, sb_len), m.sig);
    if (rc == KUMO_EDOUBLESIGN) {
        return 0; /* a restarted proposer with another value: no proposal this round */
    }
    KUMO_GUARD(rc);
    round_state_t *rs = NULL;
    KUMO_GUARD(round_state_get(c, c->round, &rs));
    if (proposal_admit(c, &m) == PROPOSAL_ADMIT_NEW) {
        KUMO_GUARD(proposal_own_log(c, &m));
        KUMO_GUARD(proposal_store(c, rs, &m));
        c->counters.stored++;
    }
    proposal_rec_t *p = round_proposal_find(rs, m.value_id);
    if (p == NULL) {
        return 0; /* cannot happen for our own round: only we sign its proposal */
    }
    return proposal_send(c, c->round, p);
}

/* Alg. 1, lines 11-21: StartRound. */
int round_start(kumo_consensus_t *c, uint32_t round)
{
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    KUMO_ASSERT(c->started);
    c->round = round;
    c->step = KUMO_CONSENSUS_STEP_PROPOSE;
    round_state_t *rs = NULL;
    KUMO_GUARD(round_state_get(c, round, &rs));
    if (kumo_consensus_valset_proposer(&c->vs, round) != c->self) {
        return timer_arm(c, KUMO_CONSENSUS_TIMER_PROPOSE); /* line 21 */
    }
    if (c->valid_round != KUMO_CONSENSUS_ROUND_NONE) {
        /* Lines 15-16: re-propose validValue with validRound as its proof-of-lock round. */
        proposal_rec_t *vp = round_proposal_find(c->rounds[c->valid_round], c->valid_id);
        KUMO_ASSERT(vp != NULL);
        return proposal_broadcast(c, kumo_buf_bytes(&vp->value), c->valid_round);
    }
    kumo_buf_t value;
    kumo_buf_init(&value, KUMO_CONSENSUS_VALUE_BYTES_MAX);
    int rc = c->io.get_value_to_propose(c->io.ctx, c->height, &value); /* line 18 */
    if (rc == 0) {
        rc = proposal_broadcast(c, kumo_buf_bytes(&value), KUMO_CONSENSUS_ROUND_NONE);
    }
    kumo_buf_free(&value);
    return rc;
}

int kumo_consensus_start(kumo_consensus_t *c, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ENSURE(!c->started, err, KUMO_ESTATE, "consensus already started");
    c->started = true;
    int rc = timer_arm(c, KUMO_CONSENSUS_TIMER_REBROADCAST);
    if (rc == 0) {
        rc = round_start(c, 0); /* line 10: upon start do StartRound(0) */
    }
    KUMO_ENSURE(rc == 0, err, rc, "start round 0: %s", kumo_err_name(rc));
    rc = rules_run(c);
    KUMO_ENSURE(rc == 0, err, rc, "rules: %s", kumo_err_name(rc));
    return 0;
}

uint64_t kumo_consensus_height(const kumo_consensus_t *c)
{
    return c->height;
}

uint32_t kumo_consensus_round(const kumo_consensus_t *c)
{
    return c->round;
}

kumo_consensus_step_t kumo_consensus_step(const kumo_consensus_t *c)
{
    return c->step;
}

uint32_t kumo_consensus_locked_round(const kumo_consensus_t *c,
                                     uint8_t id_out[KUMO_CRYPTO_HASH_BYTES])
{
    if (c->locked_round != KUMO_CONSENSUS_ROUND_NONE && id_out != NULL) {
        memcpy(id_out, c->locked_id, KUMO_CRYPTO_HASH_BYTES);
    }
    return c->locked_round;
}

uint32_t kumo_consensus_valid_round(const kumo_consensus_t *c)
{
    return c->valid_round;
}

uint32_t kumo_consensus_proposer(const kumo_consensus_t *c, uint32_t round)
{
    return kumo_consensus_valset_proposer(&c->vs, round);
}

const kumo_consensus_valset_t *kumo_consensus_valset(const kumo_consensus_t *c)
{
    return &c->vs;
}

uint32_t kumo_consensus_self(const kumo_consensus_t *c)
{
    return c->self;
}

void kumo_consensus_counters_get(const kumo_consensus_t *c, kumo_consensus_counters_t *out)
{
    KUMO_ASSERT(c != NULL && out != NULL);
    *out = c->counters;
}

uint64_t kumo_consensus_drop_count(const kumo_consensus_t *c)
{
    return c->counters.round_window + c->counters.proposal_refused + c->counters.future_dropped;
}
