/*
 * testrng.h - xoshiro256** seeded by splitmix64: the one PRNG of randomized tests and the
 * simulator, so a seed reproduces a run exactly (never rand()).
 */
#ifndef KUMO_TESTS_TESTRNG_H
#define KUMO_TESTS_TESTRNG_H

#include <stdint.h>
#include <stdlib.h>

typedef struct kumo_test_rng {
    uint64_t s[4];
} kumo_test_rng_t;

static inline uint64_t kumo_test_rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void kumo_test_rng_seed(kumo_test_rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->s[i] = kumo_test_rng_splitmix(&seed);
    }
}

static inline uint64_t kumo_test_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t kumo_test_rng_next(kumo_test_rng_t *r)
{
    uint64_t result = kumo_test_rng_rotl(r->s[1] * 5, 7) * 9;
    uint64_t t = r->s[1] << 17;
    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = kumo_test_rng_rotl(r->s[3], 45);
    return result;
}

/* Uniform in [0, n) for n > 0 (the tiny modulo bias does not matter for tests). */
static inline uint64_t kumo_test_rng_below(kumo_test_rng_t *r, uint64_t n)
{
    return n == 0 ? 0 : kumo_test_rng_next(r) % n;
}

/* The seed from KUMO_SIM_SEED (decimal or 0x hex) or fallback. */
static inline uint64_t kumo_test_rng_seed_from_env(uint64_t fallback)
{
    const char *s = getenv("KUMO_SIM_SEED");
    return s != NULL && s[0] != '\0' ? strtoull(s, NULL, 0) : fallback;
}

#endif
