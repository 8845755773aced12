/*
 * log.h - key=value logging to stderr for daemons and tools (not for pure modules).
 *
 *   KUMO_LOG_INFO("store", "opened", "dir=%s height=%" PRIu64, dir, h);
 * prints
 *   ts=2026-01-01T00:00:00.000Z level=info mod=store event=opened dir=/x height=3
 * Event names are fixed snake_case literals; never log secrets or request bodies.
 */
#ifndef KUMO_LOG_LOG_H
#define KUMO_LOG_LOG_H

#include <stdbool.h>

enum kumo_log_level {
    KUMO_LOG_LEVEL_TRACE = 0,
    KUMO_LOG_LEVEL_DEBUG = 1,
    KUMO_LOG_LEVEL_INFO = 2,
    KUMO_LOG_LEVEL_WARN = 3,
    KUMO_LOG_LEVEL_ERROR = 4,
    KUMO_LOG_LEVEL_OFF = 5,
};

/* Lines below level are dropped. Default: info. */
void kumo_log_level_set(enum kumo_log_level level);
bool kumo_log_level_enabled(enum kumo_log_level level);
void kumo_log_write(enum kumo_log_level level,
                    const char *mod,
                    const char *event,
                    const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#define KUMO_LOG_AT(lvl, mod, event, ...)                       \
    do {                                                        \
        if (kumo_log_level_enabled(lvl)) {                      \
            kumo_log_write((lvl), (mod), (event), __VA_ARGS__); \
        }                                                       \
    } while (0)
#define KUMO_LOG_TRACE(mod, event, ...) KUMO_LOG_AT(KUMO_LOG_LEVEL_TRACE, mod, event, __VA_ARGS__)
#define KUMO_LOG_DEBUG(mod, event, ...) KUMO_LOG_AT(KUMO_LOG_LEVEL_DEBUG, mod, event, __VA_ARGS__)
#define KUMO_LOG_INFO(mod, event, ...)  KUMO_LOG_AT(KUMO_LOG_LEVEL_INFO, mod, event, __VA_ARGS__)
#define KUMO_LOG_WARN(mod, event, ...)  KUMO_LOG_AT(KUMO_LOG_LEVEL_WARN, mod, event, __VA_ARGS__)
#define KUMO_LOG_ERROR(mod, event, ...) KUMO_LOG_AT(KUMO_LOG_LEVEL_ERROR, mod, event, __VA_ARGS__)

#endif
