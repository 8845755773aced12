/*
 * alloc.h - the allocation entry points. Everything in src/ allocates through these so tests
 * can make the Nth allocation fail (kumo_alloc_fail_at) and check nothing leaks.
 */
#ifndef KUMO_CORE_ALLOC_H
#define KUMO_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/free; NULL on failure or when fault injection fires. */
void *kumo_alloc(size_t bytes);
void *kumo_calloc(size_t count, size_t bytes);
void *kumo_realloc(void *ptr, size_t bytes);
void kumo_free(void *ptr);

/* Test hook: the nth allocation from now (1-based) fails; 0 disables. Not thread-safe. */
void kumo_alloc_fail_at(uint64_t nth);
/* Test hook: allocations counted since the last kumo_alloc_fail_at. */
uint64_t kumo_alloc_count(void);

#endif
