/*
 * kassert.c - the assertion failure path: print where and abort. Stays on in release.
 */
#include "core/kassert.h"

#include <stdio.h>
#include <stdlib.h>

void kumo_assert_fail(const char *cond, const char *file, int line, const char *func)
{
    fprintf(stderr, "level=fatal mod=core event=assert_failed cond=\"%s\" at=%s:%d func=%s\n", cond,
            file, line, func);
    fflush(stderr);
    abort();
}
