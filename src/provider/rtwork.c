/*
 * rtwork.c - the provider daemon's runtime worker: one thread with its own runtime connection
 * that runs the container and network mutations the reconcile pass (work.c) decides, so the
 * main thread never waits for a container start or removal (1-20 s each on a loaded machine)
 * and keeps following the event stream, bidding and confirming.
 *
 * The queue is a table of at most PD_RTJOB_MAX jobs, one per target (container, network or
 * volume name): a target already queued, running or not collected yet gets no second job. The
 * worker takes starts (and network creations, which starts wait for) before removals, oldest first,
 * but after PD_RTJOB_REMOVE_EVERY starts in a row it takes the oldest removal, so removals
 * are never starved. A finished job stays in its slot until the main thread collects it at
 * the start of its next pass; a finished start or network creation wakes the main thread
 * (pd_wake) once no other one is queued, so what became healthy is confirmed at once.
 *
 * One thread, not a pool: podman serializes container creation on this machine (measured,
 * docs/design.md §10), so more threads only add contention. The worker touches no state of
 * the main thread but the job table (under mu) and pd_wake.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "provider/daemon_int.h"

pd_rtjob_t *pd_rtjob_new(pd_rtjob_kind_t kind, const char *key)
{
    pd_rtjob_t *job = kumo_calloc(1, sizeof(*job));
    if (job != NULL) {
        job->kind = kind;
        (void)snprintf(job->key, sizeof(job->key), "%s", key);
    }
    return job;
}

void pd_rtjob_free(pd_rtjob_t *job)
{
    if (job != NULL) {
        if (job->mem.env_buf != NULL) { /* sealed secrets */
            kumo_crypto_wipe(job->mem.env_buf, job->mem.env_buf_bytes);
        }
        kumo_free(job->mem.env_buf);
        kumo_free(job->mem.cmd_buf);
        kumo_free(job->mem.files_buf);
        kumo_free(job->keep);
        kumo_free(job);
    }
}

static bool rt_job_is_start(const pd_rtjob_t *job)
{
    return job->kind == PD_RTJOB_RUN || job->kind == PD_RTJOB_NET_CREATE;
}

pd_rtjob_t *pd_rtwork_pick(pd_rtwork_t *w)
{
    pd_rtjob_t *start = NULL;
    pd_rtjob_t *removal = NULL;
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        pd_rtjob_t *j = w->jobs[i];
        if (j == NULL || j->state != PD_RTJOB_QUEUED) {
            continue;
        }
        pd_rtjob_t **best = rt_job_is_start(j) ? &start : &removal;
        if (*best == NULL || j->seq < (*best)->seq) {
            *best = j;
        }
    }
    if (removal != NULL && (start == NULL || w->starts_since_removal >= PD_RTJOB_REMOVE_EVERY)) {
        w->starts_since_removal = 0;
        return removal;
    }
    if (start != NULL) {
        w->starts_since_removal++;
    }
    return start;
}

static void rt_run_container(const pd_runtime_ops_t *ops,
                             kumo_runtime_t *rt,
                             pd_rtjob_t *job,
                             kumo_err_ctx_t *err)
{
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    job->rc = job->old_id[0] != '\0' ? ops->container_remove(rt, job->old_id, err) : 0;
    job->rc = job->rc == 0 ? ops->container_run(rt, &job->spec, id, err) : job->rc;
    if (job->rc == 0) {
        KUMO_LOG_INFO("provider", "container_started", "name=%s image=%s", job->mem.name,
                      job->spec.image);
    } else {
        KUMO_LOG_WARN("provider", "container_failed", "name=%s code=%s detail=\"%s\"",
                      job->mem.name, kumo_err_name(job->rc), err->detail);
    }
}

static void rt_network_create(const pd_runtime_ops_t *ops,
                              kumo_runtime_t *rt,
                              pd_rtjob_t *job,
                              kumo_err_ctx_t *err)
{
    const kumo_runtime_label_t labels[] = {{"kumo.managed", "1"},
                                           {"kumo.provider", job->mem.provider},
                                           {"kumo.owner", job->mem.owner},
                                           {"kumo.dseq", job->mem.dseq}};
    job->rc = ops->network_create(rt, job->key, labels, 4, err);
    job->rc = job->rc == 0 ? ops->network_addresses(rt, job->key, job->gateway, job->subnet, err)
                           : job->rc;
    if (job->rc != 0) {
        KUMO_LOG_WARN("provider", "network_failed", "name=%s code=%s detail=\"%s\"", job->key,
                      kumo_err_name(job->rc), err->detail);
    }
}

/* d->volume_dir is set before the worker starts and never changes. */
static void rt_volume_remove(kumo_provider_daemon_t *d,
                             kumo_runtime_t *rt,
                             pd_rtjob_t *job,
                             kumo_err_ctx_t *err)
{
    const char *dir = d->volume_dir[0] != '\0' ? d->volume_dir : NULL;
    job->rc = pd_rt(d)->volume_remove(rt, dir, job->key, err);
    KUMO_LOG_INFO("provider", job->rc == 0 ? "volume_removed" : "volume_remove_failed",
                  "name=%s detail=\"%s\"", job->key, job->rc == 0 ? "" : err->detail);
}

/* Whether the sweep keeps network name: kept by the pass that queued it, or made or used by
 * a job the pass queued since (in the table until the main thread collects it). */
static bool rt_sweep_keeps(pd_rtwork_t *w, const pd_rtjob_t *job, const char *name)
{
    for (uint32_t i = 0; i < job->keep_count; i++) {
        if (strcmp(job->keep[i], name) == 0) {
            return true;
        }
    }
    bool used = false;
    (void)pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < PD_RTJOB_MAX && !used; i++) {
        const pd_rtjob_t *j = w->jobs[i];
        used = j != NULL && ((j->kind == PD_RTJOB_NET_CREATE && strcmp(j->key, name) == 0) ||
                             (j->kind == PD_RTJOB_RUN && strcmp(j->mem.network, name) == 0));
    }
    (void)pthread_mutex_unlock(&w->mu);
    return used;
}

/* Lists the provider's networks and removes those not kept. The list is here, not on the main
 * thread: podman 4.3 answers it in 10-30 s with a hundred networks (it inspects each). A
 * network still in use is refused by the runtime and tried again at the next sweep. */
static void rt_network_sweep(kumo_provider_daemon_t *d,
                             kumo_runtime_t *rt,
                             pd_rtjob_t *job,
                             kumo_err_ctx_t *err)
{
    char(*nets)[KUMO_RUNTIME_NAME_BYTES_MAX] = kumo_calloc(PD_NET_MAX, sizeof(*nets));
    uint32_t n = 0;
    job->rc = nets == NULL
                  ? kumo_err_set(err, KUMO_ENOMEM, "network names")
                  : pd_rt(d)->network_list(rt, "kumo.provider", d->addr, nets, PD_NET_MAX, &n, err);
    for (uint32_t k = 0; job->rc == 0 && k < n; k++) {
        if (rt_sweep_keeps(&d->rtwork, job, nets[k])) {
            continue;
        }
        kumo_err_ctx_t rerr = {0};
        bool gone = pd_rt(d)->network_remove(rt, nets[k], &rerr) == 0;
        if (gone && job->removed_count < job->keep_cap - job->keep_count) {
            /* The names removed go back after the kept ones (the main thread forgets them). */
            (void)snprintf(job->keep[job->keep_count + job->removed_count++],
                           KUMO_RUNTIME_NAME_BYTES_MAX, "%s", nets[k]);
        }
        KUMO_LOG_INFO("provider", gone ? "network_removed" : "network_remove_failed",
                      "name=%s detail=\"%s\"", nets[k], gone ? "" : rerr.detail);
    }
    kumo_free(nets);
}

/* Runs one job on the worker's connection (opened on first use, again after a failure). */
static void rt_job_run(kumo_provider_daemon_t *d, pd_rtjob_t *job)
{
    pd_rtwork_t *w = &d->rtwork;
    kumo_err_ctx_t err = {0};
    uint64_t t0 = pd_now_ms();
    const pd_runtime_ops_t *ops = pd_rt(d);
    job->rc = w->runtime == NULL ? ops->open(d->cfg.runtime_socket, &w->runtime, &err) : 0;
    if (job->rc == 0) {
        switch (job->kind) {
        case PD_RTJOB_RUN:
            rt_run_container(ops, w->runtime, job, &err);
            break;
        case PD_RTJOB_REMOVE:
            job->rc = ops->container_remove(w->runtime, job->id, &err);
            KUMO_LOG_INFO("provider",
                          job->rc == 0 ? "container_removed" : "container_remove_failed", "name=%s",
                          job->key);
            break;
        case PD_RTJOB_NET_CREATE:
            rt_network_create(ops, w->runtime, job, &err);
            break;
        case PD_RTJOB_NET_REMOVE:
            job->rc = ops->network_remove(w->runtime, job->key, &err);
            KUMO_LOG_INFO("provider", job->rc == 0 ? "network_removed" : "network_remove_failed",
                          "name=%s", job->key);
            break;
        case PD_RTJOB_VOLUME_REMOVE:
            rt_volume_remove(d, w->runtime, job, &err);
            break;
        case PD_RTJOB_NET_SWEEP:
            rt_network_sweep(d, w->runtime, job, &err);
            break;
        default:
            KUMO_UNREACHABLE();
        }
    }
    job->elapsed_ms = pd_now_ms() - t0;
    (void)snprintf(job->detail, sizeof(job->detail), "%s", err.detail);
}

/* Whether a start or network creation still waits (under mu). */
static bool rt_start_queued(const pd_rtwork_t *w)
{
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        if (w->jobs[i] != NULL && w->jobs[i]->state == PD_RTJOB_QUEUED &&
            rt_job_is_start(w->jobs[i])) {
            return true;
        }
    }
    return false;
}

static void *rt_loop(void *arg)
{
    kumo_provider_daemon_t *d = arg;
    pd_rtwork_t *w = &d->rtwork;
    (void)pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pd_rtjob_t *job = pd_rtwork_pick(w);
        if (job == NULL) {
            (void)pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        job->state = PD_RTJOB_RUNNING;
        (void)pthread_mutex_unlock(&w->mu);
        rt_job_run(d, job);
        (void)pthread_mutex_lock(&w->mu);
        job->state = PD_RTJOB_DONE;
        w->done_count++;
        bool wake = rt_job_is_start(job) && !rt_start_queued(w);
        (void)pthread_mutex_unlock(&w->mu);
        if (wake) {
            pd_wake(d); /* confirm (or build on) what just came up */
        }
        (void)pthread_mutex_lock(&w->mu);
    }
    (void)pthread_mutex_unlock(&w->mu);
    return NULL;
}

bool pd_rtwork_step(kumo_provider_daemon_t *d)
{
    pd_rtwork_t *w = &d->rtwork;
    KUMO_ASSERT(w->started && !w->running);
    (void)pthread_mutex_lock(&w->mu);
    pd_rtjob_t *job = pd_rtwork_pick(w);
    if (job != NULL) {
        job->state = PD_RTJOB_RUNNING;
    }
    (void)pthread_mutex_unlock(&w->mu);
    if (job == NULL) {
        return false;
    }
    rt_job_run(d, job);
    (void)pthread_mutex_lock(&w->mu);
    job->state = PD_RTJOB_DONE;
    w->done_count++;
    (void)pthread_mutex_unlock(&w->mu);
    return true;
}

int pd_rtwork_init(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    pd_rtwork_t *w = &d->rtwork;
    KUMO_ASSERT(!w->started && !w->running);
    KUMO_ENSURE(pthread_mutex_init(&w->mu, NULL) == 0, err, KUMO_ENOMEM, "runtime worker mutex");
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        (void)pthread_mutex_destroy(&w->mu);
        return kumo_err_set(err, KUMO_ENOMEM, "runtime worker condition");
    }
    w->started = true;
    return 0;
}

int pd_rtwork_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    pd_rtwork_t *w = &d->rtwork;
    KUMO_GUARD(pd_rtwork_init(d, err));
    if (pthread_create(&w->thread, NULL, rt_loop, d) != 0) {
        pd_rtwork_stop(d);
        return kumo_err_set(err, KUMO_ENOMEM, "runtime worker thread");
    }
    w->running = true;
    return 0;
}

void pd_rtwork_stop(kumo_provider_daemon_t *d)
{
    pd_rtwork_t *w = &d->rtwork;
    if (!w->started) {
        return;
    }
    if (w->running) {
        (void)pthread_mutex_lock(&w->mu);
        w->stop = true;
        (void)pthread_cond_signal(&w->cv);
        (void)pthread_mutex_unlock(&w->mu);
        (void)pthread_join(w->thread, NULL);
        w->running = false;
    }
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        pd_rtjob_free(w->jobs[i]);
        w->jobs[i] = NULL;
    }
    if (w->runtime != NULL) {
        pd_rt(d)->close(w->runtime);
    }
    w->runtime = NULL;
    (void)pthread_cond_destroy(&w->cv);
    (void)pthread_mutex_destroy(&w->mu);
    w->started = false;
}

/* The slot of key's job, or PD_RTJOB_MAX (under mu). */
static uint32_t rt_find(const pd_rtwork_t *w, const char *key)
{
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        if (w->jobs[i] != NULL && strcmp(w->jobs[i]->key, key) == 0) {
            return i;
        }
    }
    return PD_RTJOB_MAX;
}

/* A free slot, or PD_RTJOB_MAX (under mu). */
static uint32_t rt_free_slot(const pd_rtwork_t *w)
{
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        if (w->jobs[i] == NULL) {
            return i;
        }
    }
    return PD_RTJOB_MAX;
}

int pd_rtwork_submit(kumo_provider_daemon_t *d, pd_rtjob_t *job)
{
    pd_rtwork_t *w = &d->rtwork;
    KUMO_ASSERT(w->started);
    KUMO_ASSERT(job->kind >= PD_RTJOB_RUN && job->kind <= PD_RTJOB_NET_SWEEP);
    (void)pthread_mutex_lock(&w->mu);
    int rc = KUMO_ELIMIT;
    uint32_t same = rt_find(w, job->key);
    uint32_t k = same < PD_RTJOB_MAX ? PD_RTJOB_MAX : rt_free_slot(w);
    if (same < PD_RTJOB_MAX) {
        w->jobs[same]->pass = job->pass; /* still wanted */
        rc = KUMO_EEXIST;
    } else if (k < PD_RTJOB_MAX) {
        job->state = PD_RTJOB_QUEUED;
        job->seq = w->seq_next++;
        w->jobs[k] = job;
        (void)pthread_cond_signal(&w->cv);
        rc = 0;
    }
    (void)pthread_mutex_unlock(&w->mu);
    return rc;
}

void pd_rtwork_remove(kumo_provider_daemon_t *d,
                      pd_rtjob_kind_t kind,
                      const char *key,
                      const char *id)
{
    KUMO_ASSERT(kind == PD_RTJOB_REMOVE || kind == PD_RTJOB_NET_REMOVE ||
                kind == PD_RTJOB_VOLUME_REMOVE);
    if (pd_rtwork_has(d, key)) {
        return;
    }
    pd_rtjob_t *job = pd_rtjob_new(kind, key);
    if (job == NULL) {
        return;
    }
    (void)snprintf(job->id, sizeof(job->id), "%s", id);
    job->pass = d->pass_number;
    if (pd_rtwork_submit(d, job) != 0) {
        pd_rtjob_free(job); /* the queue is full: next pass */
    }
}

bool pd_rtwork_has(kumo_provider_daemon_t *d, const char *key)
{
    pd_rtwork_t *w = &d->rtwork;
    (void)pthread_mutex_lock(&w->mu);
    bool has = rt_find(w, key) < PD_RTJOB_MAX;
    (void)pthread_mutex_unlock(&w->mu);
    return has;
}

bool pd_rtwork_port_taken(kumo_provider_daemon_t *d, uint32_t port)
{
    pd_rtwork_t *w = &d->rtwork;
    bool taken = false;
    (void)pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < PD_RTJOB_MAX && !taken; i++) {
        const pd_rtjob_t *j = w->jobs[i];
        if (j == NULL || j->kind != PD_RTJOB_RUN || j->state == PD_RTJOB_DONE) {
            continue;
        }
        for (uint32_t p = 0; p < j->spec.port_count && !taken; p++) {
            taken = j->spec.ports[p].host_port == port;
        }
    }
    (void)pthread_mutex_unlock(&w->mu);
    return taken;
}

uint32_t pd_rtwork_cancel_stale(kumo_provider_daemon_t *d, uint64_t before)
{
    pd_rtwork_t *w = &d->rtwork;
    uint32_t n = 0;
    (void)pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        pd_rtjob_t *j = w->jobs[i];
        if (j != NULL && rt_job_is_start(j) && j->state == PD_RTJOB_QUEUED && j->pass < before) {
            pd_rtjob_free(j);
            w->jobs[i] = NULL;
            n++;
        }
    }
    (void)pthread_mutex_unlock(&w->mu);
    return n;
}

void pd_rtwork_collect(kumo_provider_daemon_t *d, pd_rtjob_cb done, void *ctx)
{
    pd_rtwork_t *w = &d->rtwork;
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        (void)pthread_mutex_lock(&w->mu);
        pd_rtjob_t *j = w->jobs[i];
        bool finished = j != NULL && j->state == PD_RTJOB_DONE;
        if (finished) {
            w->jobs[i] = NULL;
        }
        (void)pthread_mutex_unlock(&w->mu);
        if (finished) {
            done(ctx, j); /* the worker no longer sees it */
            pd_rtjob_free(j);
        }
    }
}

uint32_t pd_rtwork_pending(kumo_provider_daemon_t *d)
{
    pd_rtwork_t *w = &d->rtwork;
    uint32_t n = 0;
    (void)pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        n += w->jobs[i] != NULL && w->jobs[i]->state != PD_RTJOB_DONE ? 1u : 0u;
    }
    (void)pthread_mutex_unlock(&w->mu);
    return n;
}
