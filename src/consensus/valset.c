/*
 * valset.c - the validator set, weighted round-robin proposer selection and quorum math.
 *
 * Proposer selection follows CometBFT's proposer priority: each step every priority grows by
 * its power, the highest priority proposes (ties go to the lowest address) and loses the total
 * power. Over total rounds each validator proposes power times. Priorities sum to zero, so no
 * priority leaves [-total * n, total * n]; with total <= INT64_MAX / 8 and n <= 128 that still
 * fits: the checked math below asserts it. Pure: no I/O.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

static int validator_address_compare(const void *a, const void *b)
{
    const kumo_consensus_validator_t *va = a;
    const kumo_consensus_validator_t *vb = b;
    int c = memcmp(va->address, vb->address, KUMO_ADDRESS_BYTES);
    if (c != 0) {
        return c;
    }
    /* Equal addresses mean equal keys (rejected below); the pubkey keeps the order total. */
    return memcmp(va->pubkey, vb->pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
}

int kumo_consensus_valset_init(kumo_consensus_valset_t *vs,
                               const uint8_t (*pubkeys)[KUMO_CRYPTO_PUBKEY_BYTES],
                               const uint64_t *powers,
                               uint32_t count,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(vs != NULL);
    memset(vs, 0, sizeof(*vs));
    KUMO_ENSURE(count > 0, err, KUMO_EEMPTY, "empty validator set");
    KUMO_ENSURE(count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX, err, KUMO_ELIMIT,
                "%u validators > max %u", count, KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    KUMO_ASSERT(pubkeys != NULL && powers != NULL);
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        KUMO_ENSURE(powers[i] > 0, err, KUMO_EINVAL, "validator %u has zero power", i);
        KUMO_ENSURE(kumo_u64_add(total, powers[i], &total) == 0 &&
                        total <= (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX,
                    err, KUMO_ELIMIT, "total power over %" PRId64, KUMO_CONSENSUS_POWER_TOTAL_MAX);
        memcpy(vs->v[i].pubkey, pubkeys[i], KUMO_CRYPTO_PUBKEY_BYTES);
        kumo_crypto_address_from_pubkey(pubkeys[i], vs->v[i].address);
        vs->v[i].power = powers[i];
    }
    qsort(vs->v, count, sizeof(vs->v[0]), validator_address_compare);
    for (uint32_t i = 1; i < count; i++) {
        if (memcmp(vs->v[i - 1].pubkey, vs->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            memset(vs, 0, sizeof(*vs));
            return kumo_err_set(err, KUMO_EDUPLICATE, "validator key repeated");
        }
    }
    vs->count = count;
    vs->power_total = total;
    return 0;
}

int32_t kumo_consensus_valset_find(const kumo_consensus_valset_t *vs,
                                   const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES])
{
    KUMO_ASSERT(vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    for (uint32_t i = 0; i < vs->count; i++) {
        if (memcmp(vs->v[i].pubkey, pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

static int64_t i64_add_checked(int64_t a, int64_t b)
{
    int64_t r;
    KUMO_ASSERT(!__builtin_add_overflow(a, b, &r));
    return r;
}

uint32_t kumo_consensus_valset_priority_step(kumo_consensus_valset_t *vs)
{
    KUMO_ASSERT(vs->count > 0 && vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    KUMO_ASSERT(vs->power_total <= (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX);
    uint32_t best = 0;
    for (uint32_t i = 0; i < vs->count; i++) {
        vs->v[i].priority = i64_add_checked(vs->v[i].priority, (int64_t)vs->v[i].power);
        /* Strictly greater: on a tie the earlier index, i.e. the lower address, wins. */
        if (vs->v[i].priority > vs->v[best].priority) {
            best = i;
        }
    }
    vs->v[best].priority = i64_add_checked(vs->v[best].priority, -(int64_t)vs->power_total);
    return best;
}

uint32_t kumo_consensus_valset_proposer(const kumo_consensus_valset_t *vs, uint32_t round)
{
    KUMO_ASSERT(vs->count > 0);
    KUMO_ASSERT(round < KUMO_CONSENSUS_ROUND_COUNT_MAX);
    kumo_consensus_valset_t copy = *vs;
    uint32_t p = 0;
    for (uint32_t r = 0; r <= round; r++) {
        p = kumo_consensus_valset_priority_step(&copy);
    }
    return p;
}

bool kumo_consensus_power_is_quorum(uint64_t power, uint64_t total)
{
    KUMO_ASSERT(power <= total);
    return (unsigned __int128)power * 3u > (unsigned __int128)total * 2u;
}

bool kumo_consensus_power_is_third(uint64_t power, uint64_t total)
{
    KUMO_ASSERT(power <= total);
    return (unsigned __int128)power * 3u > (unsigned __int128)total;
}

bool kumo_consensus_valset_members_equal(const kumo_consensus_valset_t *a,
                                         const kumo_consensus_valset_t *b)
{
    if (a->count != b->count) {
        return false;
    }
    KUMO_ASSERT(a->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    for (uint32_t i = 0; i < a->count; i++) {
        if (memcmp(a->v[i].pubkey, b->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES) != 0 ||
            a->v[i].power != b->v[i].power) {
            return false;
        }
    }
    return true;
}

/* CometBFT's RescalePriorities and shiftByAvgProposerPriority: the spread of the priorities
 * shrinks to at most 2 * total (integer division truncates toward zero, deterministically),
 * then their floor average is subtracted. Every value stays within [-4 * total, 4 * total]. */
static void valset_priorities_normalize(kumo_consensus_valset_t *vs)
{
    KUMO_ASSERT(vs->count > 0 && vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    int64_t lo = vs->v[0].priority;
    int64_t hi = lo;
    for (uint32_t i = 1; i < vs->count; i++) {
        lo = vs->v[i].priority < lo ? vs->v[i].priority : lo;
        hi = vs->v[i].priority > hi ? vs->v[i].priority : hi;
    }
    __int128 diff = (__int128)hi - (__int128)lo;
    __int128 limit = (__int128)vs->power_total * 2;
    if (diff > limit) {
        __int128 ratio = (diff + limit - 1) / limit;
        for (uint32_t i = 0; i < vs->count; i++) {
            vs->v[i].priority = (int64_t)((__int128)vs->v[i].priority / ratio);
        }
    }
    __int128 sum = 0;
    for (uint32_t i = 0; i < vs->count; i++) {
        sum += vs->v[i].priority;
    }
    __int128 n = (__int128)vs->count;
    __int128 avg = sum / n - ((sum % n) < 0 ? 1 : 0); /* floor */
    for (uint32_t i = 0; i < vs->count; i++) {
        __int128 p = (__int128)vs->v[i].priority - avg;
        KUMO_ASSERT(p >= INT64_MIN && p <= INT64_MAX);
        vs->v[i].priority = (int64_t)p;
    }
}

void kumo_consensus_valset_next(const kumo_consensus_valset_t *vs,
                                const kumo_consensus_valset_t *members,
                                kumo_consensus_valset_t *out)
{
    KUMO_ASSERT(vs != NULL && members != NULL && out != NULL && out != vs);
    KUMO_ASSERT(members->count > 0 && members->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    KUMO_ASSERT(members->power_total <= (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX);
    kumo_consensus_valset_t stepped = *vs;
    (void)kumo_consensus_valset_priority_step(&stepped);
    if (kumo_consensus_valset_members_equal(&stepped, members)) {
        *out = stepped; /* no change: exactly one step, as for a fixed set */
        return;
    }
    *out = *members;
    /* A newcomer waits about one cycle before proposing (CometBFT: -1.125 * total). */
    int64_t newcomer = -(int64_t)(members->power_total + members->power_total / 8u);
    for (uint32_t i = 0; i < out->count; i++) {
        int32_t j = kumo_consensus_valset_find(&stepped, out->v[i].pubkey);
        out->v[i].priority = j >= 0 ? stepped.v[j].priority : newcomer;
    }
    valset_priorities_normalize(out);
}
