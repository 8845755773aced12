/*
 * fetch_plan.c - which chunk of a manifest to ask which peer for next, and which peers not to
 * ask: the choice logic of the chunk fetcher (fetch.c), kept free of I/O, clock and daemon
 * state so unit tests drive it step by step.
 *
 * Peers start at evenly spread chunk indexes and each has at most PD_FETCH_IN_FLIGHT_MAX
 * requests open, so the chunks spread over every peer that answers and a fast peer takes
 * more of them. A chunk that failed goes back to the wanted set for any peer; one a peer
 * answered it does not hold (it is still fetching) is not asked of that peer again. A peer that
 * sent a chunk failing its proof is out for the rest of the fetch (and penalized by the
 * caller for a while); one that failed PD_FETCH_PEER_FAILS_MAX transfers is out too.
 */
#include <string.h>

#include "provider/daemon_int.h"

int pd_fetch_plan_init(pd_fetch_plan_t *p, uint32_t count, uint32_t peer_count, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p != NULL);
    memset(p, 0, sizeof(*p));
    KUMO_ENSURE(count >= 1u && count <= PD_FETCH_CHUNK_COUNT_MAX, err, KUMO_ELIMIT,
                "%u chunks (1..%u)", count, PD_FETCH_CHUNK_COUNT_MAX);
    KUMO_ENSURE(peer_count <= PD_FETCH_PEER_MAX, err, KUMO_ELIMIT, "%u peers over %u", peer_count,
                PD_FETCH_PEER_MAX);
    p->state = kumo_calloc(count, sizeof(*p->state));
    p->lacks = kumo_calloc((size_t)count * (peer_count > 0 ? peer_count : 1u), sizeof(*p->lacks));
    if (p->state == NULL || p->lacks == NULL) {
        kumo_free(p->state);
        kumo_free(p->lacks);
        p->state = NULL;
        p->lacks = NULL;
        return kumo_err_set(err, KUMO_ENOMEM, "fetch plan");
    }
    p->count = count;
    p->peer_count = peer_count;
    for (uint32_t k = 0; k < peer_count; k++) {
        /* Peer k of n starts k/n of the way in: disjoint runs while every peer keeps up. */
        p->start[k] = (uint32_t)(((uint64_t)k * count) / peer_count);
    }
    return 0;
}

void pd_fetch_plan_free(pd_fetch_plan_t *p)
{
    kumo_free(p->state);
    kumo_free(p->lacks);
    memset(p, 0, sizeof(*p));
}

void pd_fetch_plan_held(pd_fetch_plan_t *p, uint32_t index)
{
    KUMO_ASSERT(index < p->count);
    KUMO_ASSERT(p->state[index] != PD_FETCH_IN_FLIGHT);
    if (p->state[index] != PD_FETCH_HELD) {
        p->state[index] = PD_FETCH_HELD;
        p->held++;
    }
    KUMO_ASSERT(p->held <= p->count);
}

bool pd_fetch_plan_peer_usable(const pd_fetch_plan_t *p, uint32_t peer)
{
    KUMO_ASSERT(peer < p->peer_count);
    return !p->peer[peer].out && p->peer[peer].in_flight < PD_FETCH_IN_FLIGHT_MAX;
}

/* Whether peer answered that it does not hold chunk index. */
static bool pd_fetch_plan_lacks(const pd_fetch_plan_t *p, uint32_t peer, uint32_t index)
{
    return p->lacks[(size_t)peer * p->count + index] != 0;
}

bool pd_fetch_plan_next(pd_fetch_plan_t *p, uint32_t peer, uint32_t *index_out)
{
    KUMO_ASSERT(peer < p->peer_count && index_out != NULL);
    if (!pd_fetch_plan_peer_usable(p, peer)) {
        return false;
    }
    const pd_fetch_peer_t *e = &p->peer[peer];
    uint32_t start = p->start[peer] % p->count;
    uint32_t other = p->count; /* the first wanted chunk outside its share */
    for (uint32_t k = 0; k < p->count; k++) {
        uint32_t i = (start + k) % p->count;
        if (p->state[i] != PD_FETCH_WANTED || pd_fetch_plan_lacks(p, peer, i)) {
            continue;
        }
        if (e->share_hi > 0 && (i < e->share_lo || i >= e->share_hi)) {
            other = other == p->count ? i : other;
            continue;
        }
        p->state[i] = PD_FETCH_IN_FLIGHT;
        p->peer[peer].in_flight++;
        *index_out = i;
        return true;
    }
    if (other == p->count || e->in_flight > 0) {
        return false;
    }
    p->state[other] = PD_FETCH_IN_FLIGHT;
    p->peer[peer].in_flight++;
    *index_out = other;
    return true;
}

void pd_fetch_plan_lacks_forget(pd_fetch_plan_t *p)
{
    KUMO_ASSERT(p != NULL && p->lacks != NULL);
    memset(p->lacks, 0, (size_t)p->count * (p->peer_count > 0 ? p->peer_count : 1u));
}

void pd_fetch_plan_done(pd_fetch_plan_t *p,
                        uint32_t peer,
                        uint32_t index,
                        pd_fetch_outcome_t outcome)
{
    KUMO_ASSERT(peer < p->peer_count && index < p->count);
    KUMO_ASSERT(p->state[index] == PD_FETCH_IN_FLIGHT && p->peer[peer].in_flight > 0);
    p->peer[peer].in_flight--;
    switch (outcome) {
    case PD_FETCH_OK:
        p->state[index] = PD_FETCH_HELD;
        p->held++;
        break;
    case PD_FETCH_BAD:
        p->state[index] = PD_FETCH_WANTED;
        p->peer[peer].out = true;
        p->peer[peer].bad = true;
        break;
    case PD_FETCH_ABSENT:
        p->state[index] = PD_FETCH_WANTED;
        p->lacks[(size_t)peer * p->count + index] = 1;
        break;
    case PD_FETCH_FAILED:
        p->state[index] = PD_FETCH_WANTED;
        p->peer[peer].failures++;
        p->peer[peer].out = p->peer[peer].failures >= PD_FETCH_PEER_FAILS_MAX;
        break;
    default:
        KUMO_UNREACHABLE();
    }
    KUMO_ASSERT(p->held <= p->count);
}

bool pd_fetch_plan_is_complete(const pd_fetch_plan_t *p)
{
    return p->held == p->count;
}

bool pd_fetch_plan_is_stuck(const pd_fetch_plan_t *p)
{
    if (pd_fetch_plan_is_complete(p)) {
        return false;
    }
    for (uint32_t i = 0; i < p->peer_count; i++) {
        if (p->peer[i].in_flight > 0) {
            return false;
        }
    }
    /* Nothing open: stuck unless a peer still in may be asked for a chunk it may hold. */
    for (uint32_t i = 0; i < p->peer_count; i++) {
        for (uint32_t c = 0; !p->peer[i].out && c < p->count; c++) {
            if (p->state[c] == PD_FETCH_WANTED && !pd_fetch_plan_lacks(p, i, c)) {
                return false;
            }
        }
    }
    return true;
}

/* ---- penalties ---- */

void pd_penalty_add(pd_penalties_t *t,
                    const char *peer,
                    const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                    uint64_t until_height)
{
    KUMO_ASSERT(t != NULL && peer != NULL);
    KUMO_ASSERT(strlen(peer) < KUMO_ADDRESS_TEXT_BYTES);
    /* The same peer and version, else a free or expired slot, else the one ending first. */
    uint32_t at = 0;
    for (uint32_t i = 0; i < PD_PENALTY_MAX; i++) {
        const pd_penalty_t *e = &t->e[i];
        if (strcmp(e->peer, peer) == 0 && memcmp(e->version, version, sizeof(e->version)) == 0) {
            at = i;
            break;
        }
        if (e->until_height < t->e[at].until_height) {
            at = i;
        }
    }
    pd_penalty_t *e = &t->e[at];
    memset(e, 0, sizeof(*e));
    memcpy(e->peer, peer, strlen(peer) + 1u);
    memcpy(e->version, version, sizeof(e->version));
    e->until_height = until_height;
}

bool pd_penalty_is_active(const pd_penalties_t *t,
                          const char *peer,
                          const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          uint64_t height)
{
    KUMO_ASSERT(t != NULL && peer != NULL);
    for (uint32_t i = 0; i < PD_PENALTY_MAX; i++) {
        const pd_penalty_t *e = &t->e[i];
        if (e->until_height > height && strcmp(e->peer, peer) == 0 &&
            memcmp(e->version, version, sizeof(e->version)) == 0) {
            return true;
        }
    }
    return false;
}
