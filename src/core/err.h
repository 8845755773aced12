/*
 * err.h - kumo error codes, error context and the GUARD/ENSURE macros.
 *
 * Every code comes from one X-macro table, which also generates kumo_err_name() and
 * kumo_err_msg(). Clients and logs see the numbers, so existing values never change; new codes
 * are added at the end. Pure: no I/O.
 */
#ifndef KUMO_CORE_ERR_H
#define KUMO_CORE_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define KUMO_MUST_USE     __attribute__((warn_unused_result))
#define KUMO_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* clang-format off */
#define KUMO_ERR_TABLE(X)                                                          \
    X(KUMO_EINVAL,       -1,  "invalid argument")                                  \
    X(KUMO_ENOMEM,       -2,  "out of memory")                                     \
    X(KUMO_ELIMIT,       -3,  "input exceeds a limit")                             \
    X(KUMO_EDECODE,      -4,  "malformed or non-canonical encoding")               \
    X(KUMO_EOVERFLOW,    -5,  "arithmetic overflow")                               \
    X(KUMO_EFUNDS,       -6,  "insufficient funds")                                \
    X(KUMO_EIO,          -7,  "I/O failure")                                       \
    X(KUMO_ECORRUPT,     -8,  "stored data failed validation")                     \
    X(KUMO_ENOTFOUND,    -9,  "not found")                                         \
    X(KUMO_EEXIST,       -10, "already exists")                                    \
    X(KUMO_EUNAUTH,      -11, "signer is not authorized for this action")          \
    X(KUMO_ESIG,         -12, "invalid signature")                                 \
    X(KUMO_ECHAINID,     -13, "wrong chain id")                                    \
    X(KUMO_ESEQUENCE,    -14, "wrong account sequence")                            \
    X(KUMO_EFEE,         -15, "fee below the minimum")                             \
    X(KUMO_ESTATE,       -16, "object is not in a state that allows this")         \
    X(KUMO_EREGION,      -17, "region does not match")                             \
    X(KUMO_EMISMATCH,    -18, "resources do not match the order")                  \
    X(KUMO_EPRICE,       -19, "price above the order's maximum")                   \
    X(KUMO_ETOOEARLY,    -20, "too early: the wait period has not elapsed")        \
    X(KUMO_ENOTBEST,     -21, "fulfillment is not the best bid for the order")     \
    X(KUMO_EBIDCAP,      -22, "order is full and the bid does not beat the worst") \
    X(KUMO_ENOTSTALE,    -23, "lease was confirmed within the period")             \
    X(KUMO_ENOTDUE,      -24, "deployment cannot be closed yet")                   \
    X(KUMO_EBUSY,        -25, "object still has open bids or live leases")         \
    X(KUMO_EDEPOSIT,     -26, "deposit below the minimum")                         \
    X(KUMO_EUNKNOWNMSG,  -27, "unknown message type")                              \
    X(KUMO_EPASSPHRASE,  -28, "wrong passphrase or corrupted key file")            \
    X(KUMO_EEMPTY,       -29, "required field is empty")                           \
    X(KUMO_EDUPLICATE,   -30, "duplicate entry")                                   \
    X(KUMO_EDOUBLESIGN,  -31, "refused: would sign a conflicting consensus message") \
    X(KUMO_ETOMBSTONED,  -32, "validator is tombstoned: it signed twice")            \
    X(KUMO_EATTRIBUTE,   -33, "provider lacks an attribute the order requires")    \
    X(KUMO_ESIGNEDBY,    -34, "provider lacks an auditor signature the order requires") \
    X(KUMO_EUNSORTED,    -35, "list is not in canonical (sorted) order")           \
    X(KUMO_EGRANTNONE,   -36, "the owner granted the signer nothing")               \
    X(KUMO_EGRANTSCOPE,  -37, "no grant of the owner covers this deployment")       \
    X(KUMO_EGRANTEXPIRED, -38, "the grant has expired")                             \
    X(KUMO_EGRANTMSG,    -39, "the grant does not allow this msg type")             \
    X(KUMO_EGRANTPRICE,  -40, "deployment price exceeds the grant's maximum")       \
    X(KUMO_EGRANTCOUNT,  -41, "group unit count exceeds the grant's maximum")       \
    X(KUMO_EGRANTREGION, -42, "group region is not one the grant allows")           \
    X(KUMO_EGRANTSPEND,  -43, "the grant's spend limit would be exceeded")          \
    X(KUMO_EGRANTNESTED, -44, "an exec may not hold an exec")                       \
    X(KUMO_ENOTLISTED,   -45, "the order lists the providers that may bid, not this one") \
    X(KUMO_EEXCLUSIVE,   -46, "the provider is reserved for another group of the deployment")
/* clang-format on */

#define KUMO_ERR_ENUM(name, value, msg) name = (value),
enum kumo_err {
    KUMO_OK = 0,
    KUMO_ERR_TABLE(KUMO_ERR_ENUM)
};
#undef KUMO_ERR_ENUM

#define KUMO_ERR_DETAIL_BYTES 256

/* Specifics of a failure for a human to read. A fixed buffer, so failing never allocates. */
typedef struct kumo_err_ctx {
    int code;
    char detail[KUMO_ERR_DETAIL_BYTES];
} kumo_err_ctx_t;

/* "KUMO_EINVAL" for a code; "KUMO_OK" for 0; "KUMO_EUNKNOWN" for anything else. */
const char *kumo_err_name(int code);
/* Human message for a code ("invalid argument"). */
const char *kumo_err_msg(int code);

/* Fills err (may be NULL) with code and a formatted detail; returns code. */
int kumo_err_set(kumo_err_ctx_t *err, int code, const char *fmt, ...) KUMO_PRINTF(3, 4);
int kumo_err_setv(kumo_err_ctx_t *err, int code, const char *fmt, va_list ap) KUMO_PRINTF(3, 0);
/* Clears err (may be NULL). */
void kumo_err_clear(kumo_err_ctx_t *err);

/* Passes a negative result up. */
#define KUMO_GUARD(expr)             \
    do {                             \
        int kumo_guard_rc_ = (expr); \
        if (kumo_guard_rc_ < 0) {    \
            return kumo_guard_rc_;   \
        }                            \
    } while (0)

/* Fails with code and a detail unless cond holds. */
#define KUMO_ENSURE(cond, err, code, ...)                    \
    do {                                                     \
        if (!(cond)) {                                       \
            return kumo_err_set((err), (code), __VA_ARGS__); \
        }                                                    \
    } while (0)

/* Stores a negative result in rc and jumps to label. */
#define KUMO_GUARD_GOTO(expr, rc, label) \
    do {                                 \
        (rc) = (expr);                   \
        if ((rc) < 0) {                  \
            goto label;                  \
        }                                \
    } while (0)

#endif
