/*
 * kassert.h - kumo assertions. They stay on in release builds (NDEBUG is ignored).
 *
 * KUMO_ASSERT is for our own promises (preconditions, invariants, unreachable cases), never for
 * bad input, which is an error code. KUMO_ASSERT_SLOW is for O(n) checks and only runs when
 * KUMO_ASSERT_SLOW_ENABLED is defined (debug, asan, sim builds).
 */
#ifndef KUMO_CORE_ASSERT_H
#define KUMO_CORE_ASSERT_H

/* Logs the failed condition with its place to stderr and aborts. */
_Noreturn void kumo_assert_fail(const char *cond, const char *file, int line, const char *func);

#define KUMO_ASSERT(cond)                                          \
    do {                                                           \
        if (__builtin_expect(!(cond), 0)) {                        \
            kumo_assert_fail(#cond, __FILE__, __LINE__, __func__); \
        }                                                          \
    } while (0)

#ifdef KUMO_ASSERT_SLOW_ENABLED
#define KUMO_ASSERT_SLOW(cond) KUMO_ASSERT(cond)
#else
/* Compiled (so a checker used only here is not an unused function) but never run. */
#define KUMO_ASSERT_SLOW(cond) \
    do {                       \
        if (0) {               \
            (void)(cond);      \
        }                      \
    } while (0)
#endif

#define KUMO_UNREACHABLE() kumo_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
