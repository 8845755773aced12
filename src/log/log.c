/*
 * log.c - the stderr log sink with a UTC millisecond timestamp.
 */
#include "log/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum kumo_log_level log_level = KUMO_LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

void kumo_log_level_set(enum kumo_log_level level)
{
    log_level = level;
}

bool kumo_log_level_enabled(enum kumo_log_level level)
{
    return level >= log_level && level < KUMO_LOG_LEVEL_OFF;
}

void kumo_log_write(
    enum kumo_log_level level, const char *mod, const char *event, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char when[32] = "1970-01-01T00:00:00";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        line[0] = '\0';
    }
    fprintf(stderr, "ts=%s.%03ldZ level=%s mod=%s event=%s %s\n", when, ts.tv_nsec / 1000000L,
            log_level_names[level], mod, event, line);
}
