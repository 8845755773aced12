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
