/*
 * err.c - error names, messages and the error context. Pure.
 */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

const char *kumo_err_name(int code)
{
    switch (code) {
    case KUMO_OK:
        return "KUMO_OK";
#define KUMO_ERR_NAME_CASE(name, value, msg) \
    case value:                              \
        return #name;
        KUMO_ERR_TABLE(KUMO_ERR_NAME_CASE)
#undef KUMO_ERR_NAME_CASE
    default:
        return "KUMO_EUNKNOWN";
    }
}

const char *kumo_err_msg(int code)
{
    switch (code) {
    case KUMO_OK:
        return "success";
#define KUMO_ERR_MSG_CASE(name, value, msg) \
    case value:                             \
        return msg;
        KUMO_ERR_TABLE(KUMO_ERR_MSG_CASE)
#undef KUMO_ERR_MSG_CASE
    default:
        return "unknown error";
    }
}

int kumo_err_setv(kumo_err_ctx_t *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    /* Truncation of a human-readable detail is acceptable; it is always NUL-terminated. */
    int n = vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    if (n < 0) {
        err->detail[0] = '\0';
    }
    return code;
}

int kumo_err_set(kumo_err_ctx_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = kumo_err_setv(err, code, fmt, ap);
    va_end(ap);
    return rc;
}

void kumo_err_clear(kumo_err_ctx_t *err)
{
    if (err != NULL) {
        err->code = 0;
        err->detail[0] = '\0';
    }
}
