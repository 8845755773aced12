/*
 * usage.c - per-lease usage telemetry: a thread with its own runtime connection samples every
 * running container of this provider (GET /containers/{id}/stats?stream=false) once per
 * usage_interval_ms, keeps the latest sample of each for GET .../status ("usage", owner only)
 * and appends a `usage` line per instance to the deployment's journal, which GET .../events
 * and `kumo deploy events` show. Usage never goes on chain (docs/design.md, usage).
 *
 * Bounded: one runtime request in flight, its calls spread over the interval and at least
 * PD_USAGE_CALL_GAP_MS apart; a round samples each container at most once and the next round
 * starts usage_interval_ms after the previous one started (later if a round takes longer); at
 * most KUMO_PROVIDER_INSTANCE_COUNT_MAX samples are kept. CPU is the CPU time the
 * container used between two samples over the monotonic time between them, in thousandths of
 * a core, so a container's first sample has none (and writes no journal line). The thread
 * touches no state of the main thread: the daemon's address and config are fixed before it
 * starts, and the samples are shared with the API's workers under mu.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "provider/daemon_int.h"

/* The least time between two stats calls: with many containers a round takes longer than the
 * interval rather than load the runtime (1000 containers: a sample each about every 4 min). */
#define PD_USAGE_CALL_GAP_MS 250u

static uint64_t usage_clock_ns(clockid_t clock)
{
    struct timespec ts;
    (void)clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const pd_usage_sample_t *usage_prev_find(const pd_usage_t *u, const char *id)
{
    for (uint32_t i = 0; i < u->count; i++) {
        if (strcmp(u->samples[i].id, id) == 0) {
            return &u->samples[i];
        }
    }
    return NULL;
}

/* CPU in thousandths of a core between prev and s; false when it cannot be told (first
 * sample, a counter that went back, no time between). */
static bool
usage_cpu_milli(const pd_usage_sample_t *prev, const pd_usage_sample_t *s, uint64_t *out)
{
    if (prev == NULL || s->stats.cpu_ns < prev->stats.cpu_ns || s->mono_ns <= prev->mono_ns) {
        return false;
    }
    uint64_t used_ns = s->stats.cpu_ns - prev->stats.cpu_ns;
    uint64_t wall_ns = s->mono_ns - prev->mono_ns;
    uint64_t milli = 0;
    if (kumo_u64_mul_div_floor(used_ns, 1000u, wall_ns, &milli) < 0) {
        return false;
    }
    *out = milli;
    return true;
}

static void usage_journal(const pd_usage_sample_t *s)
{
    char detail[KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX];
    (void)snprintf(detail, sizeof(detail),
                   "cpu_milli=%" PRIu64 " memory_bytes=%" PRIu64 " memory_limit_bytes=%" PRIu64
                   " net_rx_bytes=%" PRIu64 " net_tx_bytes=%" PRIu64 " blk_read_bytes=%" PRIu64
                   " blk_write_bytes=%" PRIu64 " pids=%" PRIu64,
                   s->cpu_milli, s->stats.memory_bytes, s->stats.memory_limit_bytes,
                   s->stats.net_rx_bytes, s->stats.net_tx_bytes, s->stats.blk_read_bytes,
                   s->stats.blk_write_bytes, s->stats.pids);
    kumo_runtime_event_record(s->owner, s->dseq, s->time_ns, "usage", s->workload, s->instance,
                              detail);
}

/* Samples one container into s (the previous sample of the same container, if any, gives
 * its CPU). False when the runtime could not say. */
static bool
usage_sample(kumo_provider_daemon_t *d, const kumo_runtime_container_t *c, pd_usage_sample_t *s)
{
    pd_usage_t *u = &d->usage;
    memset(s, 0, sizeof(*s));
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_container_stats(u->runtime, c->id, &s->stats, &err) < 0) {
        u->errors++;
        return false;
    }
    s->time_ns = usage_clock_ns(CLOCK_REALTIME);
    s->mono_ns = usage_clock_ns(CLOCK_MONOTONIC);
    (void)snprintf(s->id, sizeof(s->id), "%s", c->id);
    (void)snprintf(s->owner, sizeof(s->owner), "%s", c->owner);
    (void)snprintf(s->workload, sizeof(s->workload), "%s", c->workload);
    s->dseq = c->dseq;
    s->instance = c->instance;
    (void)pthread_mutex_lock(&u->mu);
    s->cpu_known = usage_cpu_milli(usage_prev_find(u, c->id), s, &s->cpu_milli);
    (void)pthread_mutex_unlock(&u->mu);
    return true;
}

/* Waits wait_ns (or until stop); true when the thread is to stop. */
static bool usage_wait(pd_usage_t *u, uint64_t wait_ns)
{
    uint64_t until_ns = usage_clock_ns(CLOCK_MONOTONIC) + wait_ns;
    struct timespec ts = {(time_t)(until_ns / 1000000000u), (long)(until_ns % 1000000000u)};
    (void)pthread_mutex_lock(&u->mu);
    while (!u->stop && usage_clock_ns(CLOCK_MONOTONIC) < until_ns) {
        (void)pthread_cond_timedwait(&u->cv, &u->mu, &ts);
    }
    bool stop = u->stop;
    (void)pthread_mutex_unlock(&u->mu);
    return stop;
}

/* One round: every running container of this provider sampled, the samples replaced. */
static void usage_round(kumo_provider_daemon_t *d)
{
    pd_usage_t *u = &d->usage;
    kumo_err_ctx_t err = {0};
    if (u->runtime == NULL && kumo_runtime_open(d->cfg.runtime_socket, &u->runtime, &err) < 0) {
        return; /* the runtime is down: the daemon says so; try again next round */
    }
    uint32_t n = 0;
    if (kumo_runtime_container_list(u->runtime, "kumo.provider", d->addr, u->listed,
                                    KUMO_PROVIDER_INSTANCE_COUNT_MAX, &n, &err) < 0) {
        u->errors++;
        return;
    }
    /* The calls of a round are spread over the interval, at least PD_USAGE_CALL_GAP_MS apart,
     * so the runtime sees a steady trickle, never a burst of one call per container. */
    uint64_t gap_ns = n > 0 ? (uint64_t)d->cfg.usage_interval_ms * 1000000u / n : 0;
    gap_ns = gap_ns > PD_USAGE_CALL_GAP_MS * 1000000u ? gap_ns : PD_USAGE_CALL_GAP_MS * 1000000u;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n && !usage_wait(u, i == 0 ? 0 : gap_ns); i++) {
        const kumo_runtime_container_t *c = &u->listed[i];
        if (c->state != KUMO_RUNTIME_STATE_RUNNING || c->owner[0] == '\0' ||
            !usage_sample(d, c, &u->next[kept])) {
            continue;
        }
        if (u->next[kept].cpu_known) {
            usage_journal(&u->next[kept]);
        }
        kept++;
    }
    KUMO_ASSERT(kept <= KUMO_PROVIDER_INSTANCE_COUNT_MAX);
    (void)pthread_mutex_lock(&u->mu);
    pd_usage_sample_t *old = u->samples;
    u->samples = u->next;
    u->next = old;
    u->count = kept;
    u->rounds++;
    (void)pthread_mutex_unlock(&u->mu);
}

static void *usage_loop(void *arg)
{
    kumo_provider_daemon_t *d = arg;
    pd_usage_t *u = &d->usage;
    uint64_t interval_ns = (uint64_t)d->cfg.usage_interval_ms * 1000000u;
    while (true) {
        uint64_t start_ns = usage_clock_ns(CLOCK_MONOTONIC);
        usage_round(d);
        uint64_t took_ns = usage_clock_ns(CLOCK_MONOTONIC) - start_ns;
        if (usage_wait(u, took_ns < interval_ns ? interval_ns - took_ns : 0)) {
            break;
        }
    }
    return NULL;
}

static int usage_init(pd_usage_t *u, kumo_err_ctx_t *err)
{
    u->samples = kumo_calloc(KUMO_PROVIDER_INSTANCE_COUNT_MAX, sizeof(*u->samples));
    u->next = kumo_calloc(KUMO_PROVIDER_INSTANCE_COUNT_MAX, sizeof(*u->next));
    u->listed = kumo_calloc(KUMO_PROVIDER_INSTANCE_COUNT_MAX, sizeof(*u->listed));
    KUMO_ENSURE(u->samples != NULL && u->next != NULL && u->listed != NULL, err, KUMO_ENOMEM,
                "usage samples");
    pthread_condattr_t attr;
    KUMO_ENSURE(pthread_condattr_init(&attr) == 0, err, KUMO_ENOMEM, "usage condition");
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(&u->cv, &attr) == 0;
    (void)pthread_condattr_destroy(&attr);
    KUMO_ENSURE(ok, err, KUMO_ENOMEM, "usage condition");
    if (pthread_mutex_init(&u->mu, NULL) != 0) {
        (void)pthread_cond_destroy(&u->cv);
        return kumo_err_set(err, KUMO_ENOMEM, "usage mutex");
    }
    u->started = true;
    return 0;
}

int pd_usage_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    pd_usage_t *u = &d->usage;
    KUMO_ASSERT(!u->started && !u->running);
    if (d->cfg.usage_interval_ms == 0) {
        return 0; /* off */
    }
    int rc = usage_init(u, err);
    if (rc == 0 && pthread_create(&u->thread, NULL, usage_loop, d) != 0) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "usage thread");
    }
    if (rc < 0) {
        pd_usage_stop(d);
        return rc;
    }
    u->running = true;
    return 0;
}

void pd_usage_stop(kumo_provider_daemon_t *d)
{
    pd_usage_t *u = &d->usage;
    if (u->running) {
        (void)pthread_mutex_lock(&u->mu);
        u->stop = true;
        (void)pthread_cond_signal(&u->cv);
        (void)pthread_mutex_unlock(&u->mu);
        (void)pthread_join(u->thread, NULL);
        u->running = false;
    }
    if (u->started) {
        (void)pthread_cond_destroy(&u->cv);
        (void)pthread_mutex_destroy(&u->mu);
        u->started = false;
    }
    kumo_runtime_close(u->runtime);
    u->runtime = NULL;
    kumo_free(u->samples);
    kumo_free(u->next);
    kumo_free(u->listed);
    u->samples = NULL;
    u->next = NULL;
    u->listed = NULL;
}

static json_t *usage_sample_json(const pd_usage_sample_t *s)
{
    char t[24];
    (void)snprintf(t, sizeof(t), "%" PRIu64, s->time_ns);
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "workload", s->workload, "instance",
        (json_int_t)s->instance, "time_ns", t, "memory_bytes", (json_int_t)s->stats.memory_bytes,
        "memory_limit_bytes", (json_int_t)s->stats.memory_limit_bytes, "net_rx_bytes",
        (json_int_t)s->stats.net_rx_bytes, "net_tx_bytes", (json_int_t)s->stats.net_tx_bytes,
        "blk_read_bytes", (json_int_t)s->stats.blk_read_bytes, "blk_write_bytes",
        (json_int_t)s->stats.blk_write_bytes, "pids", (json_int_t)s->stats.pids);
    if (o != NULL) {
        (void)json_object_set_new(
            o, "cpu_milli", s->cpu_known ? json_integer((json_int_t)s->cpu_milli) : json_null());
    }
    return o;
}

json_t *pd_usage_json(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq)
{
    pd_usage_t *u = &d->usage;
    json_t *a = json_array();
    if (a == NULL || !u->started) {
        return a;
    }
    (void)pthread_mutex_lock(&u->mu);
    for (uint32_t i = 0; i < u->count; i++) {
        const pd_usage_sample_t *s = &u->samples[i];
        if (s->dseq == dseq && strcmp(s->owner, owner) == 0) {
            (void)json_array_append_new(a, usage_sample_json(s));
        }
    }
    (void)pthread_mutex_unlock(&u->mu);
    return a;
}
