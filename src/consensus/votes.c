/*
 * votes.c - per-round vote sets and proposals of the current height, duplicate-vote evidence,
 * and the history of recent decisions used to answer lagging validators.
 *
 * Each validator has one slot per round and vote type, so a height's memory is bounded by
 * rounds (< KUMO_CONSENSUS_ROUND_COUNT_MAX) times validators. Tallies are kept as votes
 * arrive, so the quorum checks of Algorithm 1 cost O(distinct values). Pure: no I/O beyond
 * the io vtable.
 */
#include <string.h>

#include "consensus/consensus_int.h"

static void vote_set_free(vote_set_t *set)
{
    kumo_free(set->slots);
    kumo_free(set->tallies);
    set->slots = NULL;
    set->tallies = NULL;
}

void round_state_free(round_state_t *rs)
{
    if (rs == NULL) {
        return;
    }
    vote_set_free(&rs->prevotes);
    vote_set_free(&rs->precommits);
    for (uint32_t i = 0; i < rs->proposal_count; i++) {
        kumo_buf_free(&rs->proposals[i].value);
    }
    kumo_free(rs);
}

int round_state_get(kumo_consensus_t *c, uint32_t round, round_state_t **out)
{
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    KUMO_ASSERT(c->vs.count > 0);
    if (c->rounds[round] != NULL) {
        *out = c->rounds[round];
        return 0;
    }
    size_t n = c->vs.count;
    round_state_t *rs = kumo_calloc(1, sizeof(*rs));
    if (rs == NULL) {
        return KUMO_ENOMEM;
    }
    rs->prevotes.slots = kumo_calloc(n, sizeof(vote_slot_t));
    rs->prevotes.tallies = kumo_calloc(n, sizeof(tally_t));
    rs->precommits.slots = kumo_calloc(n, sizeof(vote_slot_t));
    rs->precommits.tallies = kumo_calloc(n, sizeof(tally_t));
    if (rs->prevotes.slots == NULL || rs->prevotes.tallies == NULL ||
        rs->precommits.slots == NULL || rs->precommits.tallies == NULL) {
        round_state_free(rs);
        return KUMO_ENOMEM;
    }
    c->rounds[round] = rs;
    *out = rs;
    return 0;
}

uint64_t vote_set_power(const vote_set_t *set, const uint8_t *id)
{
    if (id == NULL) {
        return set->power_nil;
    }
    for (uint32_t i = 0; i < set->tally_count; i++) {
        if (memcmp(set->tallies[i].value_id, id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return set->tallies[i].power;
        }
    }
    return 0;
}

proposal_rec_t *round_proposal_find(round_state_t *rs, const uint8_t id[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(rs->proposal_count <= PROPOSALS_PER_ROUND_MAX);
    for (uint32_t i = 0; i < rs->proposal_count; i++) {
        if (memcmp(rs->proposals[i].value_id, id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return &rs->proposals[i];
        }
    }
    return NULL;
}

static void vote_evidence_report(kumo_consensus_t *c,
                                 vote_slot_t *slot,
                                 const kumo_consensus_msg_t *m,
                                 uint32_t index)
{
    if (slot->evidence_reported) {
        return;
    }
    slot->evidence_reported = true; /* also without io.evidence: vote_is_new relies on it */
    if (c->io.evidence == NULL) {
        return;
    }
    kumo_consensus_evidence_t ev = {0};
    ev.validator_index = index;
    ev.vote_a = *m;
    ev.vote_a.has_value = slot->has_value;
    memcpy(ev.vote_a.value_id, slot->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(ev.vote_a.sig, slot->sig, KUMO_CRYPTO_SIG_BYTES);
    ev.vote_b = *m;
    c->io.evidence(c->io.ctx, &ev);
}

static void
vote_tally_add(vote_set_t *set, const kumo_consensus_msg_t *m, uint64_t power, uint32_t n)
{
    /* Sums stay below power_total <= POWER_TOTAL_MAX: each validator counts once. */
    set->power_any += power;
    if (!m->has_value) {
        set->power_nil += power;
        return;
    }
    for (uint32_t i = 0; i < set->tally_count; i++) {
        if (memcmp(set->tallies[i].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            set->tallies[i].power += power;
            return;
        }
    }
    KUMO_ASSERT(set->tally_count < n);
    memcpy(set->tallies[set->tally_count].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES);
    set->tallies[set->tally_count].power = power;
    set->tally_count++;
}

static void vote_extra_add(kumo_consensus_t *c,
                           vote_set_t *set,
                           vote_slot_t *slot,
                           const kumo_consensus_msg_t *m,
                           uint32_t index)
{
    if (!m->has_value || slot->extra_count >= VOTE_EXTRA_MAX) {
        return;
    }
    for (uint32_t i = 0; i < slot->extra_count; i++) {
        if (memcmp(slot->extra[i].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return;
        }
    }
    memcpy(slot->extra[slot->extra_count].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(slot->extra[slot->extra_count].sig, m->sig, KUMO_CRYPTO_SIG_BYTES);
    slot->extra_count++;
    for (uint32_t i = 0; i < set->tally_count; i++) {
        if (memcmp(set->tallies[i].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            set->tallies[i].power += c->vs.v[index].power;
            return;
        }
    }
    if (set->tally_count < c->vs.count) {
        memcpy(set->tallies[set->tally_count].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES);
        set->tallies[set->tally_count].power = c->vs.v[index].power;
        set->tally_count++;
    }
}

bool vote_is_new(const kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index)
{
    KUMO_ASSERT(m->height == c->height && index < c->vs.count);
    KUMO_ASSERT(m->round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    const round_state_t *rs = c->rounds[m->round];
    if (rs == NULL) {
        return true;
    }
    const vote_set_t *set = m->kind == KUMO_CONSENSUS_MSG_PREVOTE ? &rs->prevotes : &rs->precommits;
    const vote_slot_t *slot = &set->slots[index];
    if (!slot->present) {
        return true;
    }
    if (slot->has_value == m->has_value &&
        memcmp(slot->value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0) {
        return false; /* the same vote again (a rebroadcast or a replay) */
    }
    if (!slot->evidence_reported) {
        return true; /* the first conflict: evidence */
    }
    if (!m->has_value || slot->extra_count >= VOTE_EXTRA_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < slot->extra_count; i++) {
        if (memcmp(slot->extra[i].value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return false;
        }
    }
    return true;
}

int vote_add(kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index)
{
    KUMO_ASSERT(m->height == c->height && index < c->vs.count);
    KUMO_ASSERT(m->kind == KUMO_CONSENSUS_MSG_PREVOTE || m->kind == KUMO_CONSENSUS_MSG_PRECOMMIT);
    round_state_t *rs = NULL;
    KUMO_GUARD(round_state_get(c, m->round, &rs));
    vote_set_t *set = m->kind == KUMO_CONSENSUS_MSG_PREVOTE ? &rs->prevotes : &rs->precommits;
    vote_slot_t *slot = &set->slots[index];
    if (slot->present) {
        bool same = slot->has_value == m->has_value &&
                    memcmp(slot->value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES) == 0;
        if (!same) {
            /* Two signed votes for different values at one height/round/type: equivocation.
             * The pair is evidence. The validator still counts at most once per value: as a
             * byzantine vote it could have counted for either value at different receivers
             * anyway, so quorum intersection (and safety) is unchanged. */
            vote_evidence_report(c, slot, m, index);
            vote_extra_add(c, set, slot, m, index);
        }
        return 0;
    }
    slot->present = true;
    slot->has_value = m->has_value;
    memcpy(slot->value_id, m->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(slot->sig, m->sig, KUMO_CRYPTO_SIG_BYTES);
    vote_tally_add(set, m, c->vs.v[index].power, c->vs.count);
    KUMO_ASSERT(set->power_any <= c->vs.power_total);
    return 0;
}

/* The signature of slot's vote for id (first or conflicting), or NULL. */
static const uint8_t *vote_slot_sig_for(const vote_slot_t *s,
                                        const uint8_t id[KUMO_CRYPTO_HASH_BYTES])
{
    if (!s->present) {
        return NULL;
    }
    if (s->has_value && memcmp(s->value_id, id, KUMO_CRYPTO_HASH_BYTES) == 0) {
        return s->sig;
    }
    for (uint32_t i = 0; i < s->extra_count; i++) {
        if (memcmp(s->extra[i].value_id, id, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return s->extra[i].sig;
        }
    }
    return NULL;
}

static bool id_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, KUMO_CRYPTO_HASH_BYTES) == 0;
}

static bool sig_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, KUMO_CRYPTO_SIG_BYTES) == 0;
}

/* A vote or proposal of the current height that its slot or round holds as it is. */
static bool msg_is_known_current(const kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    KUMO_ASSERT(m->height == c->height);
    if (m->round >= KUMO_CONSENSUS_ROUND_COUNT_MAX || c->rounds[m->round] == NULL) {
        return false;
    }
    round_state_t *rs = c->rounds[m->round];
    if (m->kind == KUMO_CONSENSUS_MSG_PROPOSAL) {
        const proposal_rec_t *p = round_proposal_find(rs, m->value_id);
        uint32_t proposer = kumo_consensus_valset_proposer(&c->vs, m->round);
        return p != NULL && p->pol_round == m->pol_round && sig_equal(p->sig, m->sig) &&
               memcmp(c->vs.v[proposer].pubkey, m->pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0;
    }
    int32_t index = kumo_consensus_valset_find(&c->vs, m->pubkey);
    if (index < 0) {
        return false;
    }
    KUMO_ASSERT((uint32_t)index < c->vs.count);
    const vote_set_t *set = m->kind == KUMO_CONSENSUS_MSG_PREVOTE ? &rs->prevotes : &rs->precommits;
    const vote_slot_t *slot = &set->slots[index];
    return slot->present && slot->has_value == m->has_value &&
           id_equal(slot->value_id, m->value_id) && sig_equal(slot->sig, m->sig);
}

/* A precommit of a decided height in history that its commit holds as it is. */
static bool msg_is_known_decided(const kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    KUMO_ASSERT(m->height < c->height);
    const history_entry_t *h = &c->history[m->height % c->cfg.history_count];
    if (!h->present || h->height != m->height || m->kind != KUMO_CONSENSUS_MSG_PRECOMMIT ||
        m->round != h->round || !m->has_value || !id_equal(m->value_id, h->value_id)) {
        return false;
    }
    int32_t index = kumo_consensus_valset_find(h->vs, m->pubkey);
    if (index < 0) {
        return false;
    }
    KUMO_ASSERT(h->sig_count <= h->vs->count);
    for (uint32_t i = 0; i < h->sig_count; i++) {
        if (h->sigs[i].validator_index == (uint32_t)index) {
            return sig_equal(h->sigs[i].sig, m->sig);
        }
    }
    return false;
}

bool msg_is_known(const kumo_consensus_t *c, const kumo_consensus_msg_t *m)
{
    KUMO_ASSERT(c != NULL && m != NULL);
    if (m->height == c->height) {
        return msg_is_known_current(c, m);
    }
    return m->height < c->height && msg_is_known_decided(c, m);
}

int history_record(kumo_consensus_t *c, uint32_t round, const proposal_rec_t *p)
{
    KUMO_ASSERT(c->cfg.history_count > 0);
    history_entry_t *h = &c->history[c->height % c->cfg.history_count];
    kumo_buf_reset(&h->value);
    KUMO_GUARD(kumo_buf_append(&h->value, p->value.ptr, p->value.len));
    h->present = true;
    h->height = c->height;
    h->round = round;
    h->pol_round = p->pol_round;
    h->proposer_index = kumo_consensus_valset_proposer(&c->vs, round);
    h->decided_ms = c->io.now_ms(c->io.ctx);
    *h->vs = c->vs;
    memcpy(h->value_id, p->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(h->proposal_sig, p->sig, KUMO_CRYPTO_SIG_BYTES);
    const vote_set_t *set = &c->rounds[round]->precommits;
    h->sig_count = 0;
    for (uint32_t i = 0; i < c->vs.count; i++) {
        const uint8_t *sig = vote_slot_sig_for(&set->slots[i], p->value_id);
        if (sig != NULL) {
            h->sigs[h->sig_count].validator_index = i;
            memcpy(h->sigs[h->sig_count].sig, sig, KUMO_CRYPTO_SIG_BYTES);
            h->sig_count++;
        }
    }
    return 0;
}

static int history_send_proposal(kumo_consensus_t *c, const history_entry_t *h, uint32_t to)
{
    kumo_consensus_msg_t m = {0};
    m.kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    m.height = h->height;
    m.round = h->round;
    m.pol_round = h->pol_round;
    m.has_value = true;
    m.value = kumo_buf_bytes(&h->value);
    memcpy(m.value_id, h->value_id, KUMO_CRYPTO_HASH_BYTES);
    memcpy(m.pubkey, h->vs->v[h->proposer_index].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    memcpy(m.sig, h->proposal_sig, KUMO_CRYPTO_SIG_BYTES);
    size_t cap = KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + h->value.len;
    uint8_t *buf = kumo_alloc(cap);
    if (buf == NULL) {
        return KUMO_ENOMEM;
    }
    size_t len = 0;
    int rc = kumo_consensus_msg_encode(&m, buf, cap, &len);
    KUMO_ASSERT(rc == 0 && len == cap);
    rc = c->io.send(c->io.ctx, to, kumo_bytes_make(buf, len));
    kumo_free(buf);
    return rc;
}

int history_answer(kumo_consensus_t *c, const kumo_consensus_msg_t *m, uint32_t index)
{
    KUMO_ASSERT(m->height < c->height && index < c->vs.count);
    const history_entry_t *h = &c->history[m->height % c->cfg.history_count];
    if (!h->present || h->height != m->height || c->io.send == NULL || index == c->self) {
        return 0;
    }
    /* At most one answer to a validator per rebroadcast period, whatever height it shows
     * (relayed answers of several heights must not echo into a storm):
     * enough for it to decide (Alg. 1, line 49); a lost answer is retried when it re-sends. */
    uint64_t now = c->io.now_ms(c->io.ctx);
    /* A validator just behind gets there on the messages still in flight; one still at that
     * height a rebroadcast period after we decided it is stuck, and its next rebroadcast is
     * answered. Answering at once would make every late precommit of a height draw a commit
     * from every validator (and relayed commits draw more): O(n^3) messages per height. */
    if (now < h->decided_ms || now - h->decided_ms < c->cfg.rebroadcast_ms) {
        return 0;
    }
    if (c->answered_height[index] != 0 && now < c->answered_ms[index] + c->cfg.rebroadcast_ms) {
        return 0;
    }
    c->answered_height[index] = m->height;
    c->answered_round[index] = m->round;
    c->answered_ms[index] = now;
    for (uint32_t i = 0; i < h->sig_count; i++) {
        kumo_consensus_msg_t v = {0};
        v.kind = KUMO_CONSENSUS_MSG_PRECOMMIT;
        v.height = h->height;
        v.round = h->round;
        v.pol_round = KUMO_CONSENSUS_ROUND_NONE;
        v.has_value = true;
        memcpy(v.value_id, h->value_id, KUMO_CRYPTO_HASH_BYTES);
        memcpy(v.pubkey, h->vs->v[h->sigs[i].validator_index].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        memcpy(v.sig, h->sigs[i].sig, KUMO_CRYPTO_SIG_BYTES);
        uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
        size_t len = 0;
        int rc = kumo_consensus_msg_encode(&v, buf, sizeof(buf), &len);
        KUMO_ASSERT(rc == 0 && len == sizeof(buf));
        KUMO_GUARD(c->io.send(c->io.ctx, index, kumo_bytes_make(buf, len)));
    }
    /* The proposal last: the receiver then counts the precommits' power when it decides
     * whether to keep the value (proposal_store). */
    return history_send_proposal(c, h, index);
}

void history_free(kumo_consensus_t *c)
{
    if (c->history == NULL) {
        return;
    }
    for (uint32_t i = 0; i < c->cfg.history_count; i++) {
        kumo_buf_free(&c->history[i].value);
        kumo_free(c->history[i].sigs);
        kumo_free(c->history[i].vs);
    }
    kumo_free(c->history);
    c->history = NULL;
}

int pol_send(kumo_consensus_t *c, uint32_t pol_round, const uint8_t id[KUMO_CRYPTO_HASH_BYTES])
{
    KUMO_ASSERT(pol_round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    const round_state_t *rs = c->rounds[pol_round];
    if (rs == NULL) {
        return 0;
    }
    for (uint32_t i = 0; i < c->vs.count; i++) {
        const uint8_t *sig = vote_slot_sig_for(&rs->prevotes.slots[i], id);
        if (sig == NULL) {
            continue;
        }
        kumo_consensus_msg_t v = {0};
        v.kind = KUMO_CONSENSUS_MSG_PREVOTE;
        v.height = c->height;
        v.round = pol_round;
        v.pol_round = KUMO_CONSENSUS_ROUND_NONE;
        v.has_value = true;
        memcpy(v.value_id, id, KUMO_CRYPTO_HASH_BYTES);
        memcpy(v.pubkey, c->vs.v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        memcpy(v.sig, sig, KUMO_CRYPTO_SIG_BYTES);
        uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES];
        size_t len = 0;
        int rc = kumo_consensus_msg_encode(&v, buf, sizeof(buf), &len);
        KUMO_ASSERT(rc == 0 && len == sizeof(buf));
        KUMO_GUARD(c->io.broadcast(c->io.ctx, kumo_bytes_make(buf, len)));
    }
    return 0;
}
