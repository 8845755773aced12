/*
 * math.h - checked uint64 arithmetic. Overflow is an error, never a wrap.
 * Division helpers name their rounding, since rounding is part of the protocol. Pure.
 */
#ifndef KUMO_CORE_MATH_H
#define KUMO_CORE_MATH_H

#include <stdint.h>

#include "core/err.h"

/* *out = a + b, or KUMO_EOVERFLOW (out untouched). */
static inline KUMO_MUST_USE int kumo_u64_add(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return KUMO_EOVERFLOW;
    }
    *out = r;
    return 0;
}

/* *out = a - b, or KUMO_EOVERFLOW when b > a (out untouched). */
static inline KUMO_MUST_USE int kumo_u64_sub(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_sub_overflow(a, b, &r)) {
        return KUMO_EOVERFLOW;
    }
    *out = r;
    return 0;
}

/* *out = a * b, or KUMO_EOVERFLOW (out untouched). */
static inline KUMO_MUST_USE int kumo_u64_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        return KUMO_EOVERFLOW;
    }
    *out = r;
    return 0;
}

/* *out = floor(a * b / d) with a 128-bit intermediate; KUMO_EINVAL if d == 0,
 * KUMO_EOVERFLOW if the quotient does not fit in 64 bits. */
static inline KUMO_MUST_USE int
kumo_u64_mul_div_floor(uint64_t a, uint64_t b, uint64_t d, uint64_t *out)
{
    if (d == 0) {
        return KUMO_EINVAL;
    }
    unsigned __int128 q = ((unsigned __int128)a * b) / d;
    if (q > UINT64_MAX) {
        return KUMO_EOVERFLOW;
    }
    *out = (uint64_t)q;
    return 0;
}

static inline uint64_t kumo_u64_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

#endif
