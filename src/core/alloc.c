/*
 * alloc.c - allocation with a test hook that fails the Nth call.
 *
 * The hook counters are the one mutable global in core; they exist only for fault-injection
 * tests and are never set in production.
 */
#include "core/alloc.h"

#include <stdlib.h>

static uint64_t alloc_fail_nth;
static uint64_t alloc_calls;

static int alloc_should_fail(void)
{
    alloc_calls++;
    return alloc_fail_nth != 0 && alloc_calls == alloc_fail_nth;
}

void *kumo_alloc(size_t bytes)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return malloc(bytes == 0 ? 1 : bytes);
}

void *kumo_calloc(size_t count, size_t bytes)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return calloc(count == 0 ? 1 : count, bytes == 0 ? 1 : bytes);
}

void *kumo_realloc(void *ptr, size_t bytes)
{
    if (alloc_should_fail()) {
        return NULL;
    }
    return realloc(ptr, bytes == 0 ? 1 : bytes);
}

void kumo_free(void *ptr)
{
    free(ptr);
}

void kumo_alloc_fail_at(uint64_t nth)
{
    alloc_fail_nth = nth;
    alloc_calls = 0;
}

uint64_t kumo_alloc_count(void)
{
    return alloc_calls;
}
