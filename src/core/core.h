/*
 * core.h - the public header of the core module: errors, asserts, limits, checked math,
 * byte slices and cursors, allocation and the kv interface. Pure: no I/O, no clock.
 */
#ifndef KUMO_CORE_CORE_H
#define KUMO_CORE_CORE_H

#include "core/alloc.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/kassert.h"
#include "core/kv.h"
#include "core/limits.h"
#include "core/math.h"

#define KUMO_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
