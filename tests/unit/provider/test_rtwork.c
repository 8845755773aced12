/*
 * test_rtwork.c - the provider daemon's runtime worker queue (src/provider/rtwork.c): one job
 * per target, a bounded table (PD_RTJOB_MAX accepted, one more refused and nothing changed),
 * starts before removals with removals never starved, queued starts no pass wants dropped
 * (never one that runs), ports of queued starts counted as taken, finished jobs handed back
 * once. The queue is driven without its thread (pd_rtwork_init) so every order is exact; one
 * case runs the real thread against a runtime socket that does not exist (every job fails
 * with KUMO_EIO and still comes back).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "provider/daemon_int.h"

static kumo_provider_daemon_t *daemon_new(void)
{
    kumo_provider_daemon_t *d = kumo_calloc(1, sizeof(*d));
    assert_non_null(d);
    assert_int_equal(pthread_mutex_init(&d->wake_mu, NULL), 0);
    (void)snprintf(d->cfg.runtime_socket, sizeof(d->cfg.runtime_socket), "%s",
                   "/nonexistent/kumo-test/runtime.sock");
    return d;
}

static void daemon_free(kumo_provider_daemon_t *d)
{
    pd_rtwork_stop(d);
    (void)pthread_mutex_destroy(&d->wake_mu);
    kumo_free(d);
}

static int submit(kumo_provider_daemon_t *d, pd_rtjob_kind_t kind, const char *key, uint64_t pass)
{
    pd_rtjob_t *job = pd_rtjob_new(kind, key);
    assert_non_null(job);
    job->pass = pass;
    int rc = pd_rtwork_submit(d, job);
    if (rc != 0) {
        pd_rtjob_free(job);
    }
    return rc;
}

static void count_cb(void *ctx, const pd_rtjob_t *job)
{
    (void)job;
    (*(uint32_t *)ctx)++;
}

static void test_rtwork_pick_starts_first_removals_never_starved(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    assert_int_equal(pd_rtwork_init(d, NULL), 0);
    assert_null(pd_rtwork_pick(&d->rtwork));
    static const struct {
        pd_rtjob_kind_t kind;
        const char *key;
    } in[] = {
        {PD_RTJOB_REMOVE, "r1"},     {PD_RTJOB_RUN, "s1"},        {PD_RTJOB_RUN, "s2"},
        {PD_RTJOB_NET_CREATE, "n1"}, {PD_RTJOB_RUN, "s3"},        {PD_RTJOB_RUN, "s4"},
        {PD_RTJOB_RUN, "s5"},        {PD_RTJOB_NET_REMOVE, "r2"},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_int_equal(submit(d, in[i].kind, in[i].key, 1), 0);
    }
    /* Four starts (network creations count as starts), then the oldest removal, ... */
    static const char *const want[] = {"s1", "s2", "n1", "s3", "r1", "s4", "s5", "r2"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        pd_rtjob_t *j = pd_rtwork_pick(&d->rtwork);
        assert_non_null(j);
        assert_string_equal(j->key, want[i]);
        j->state = PD_RTJOB_DONE;
    }
    assert_null(pd_rtwork_pick(&d->rtwork));
    uint32_t n = 0;
    pd_rtwork_collect(d, count_cb, &n);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    assert_int_equal(pd_rtwork_pending(d), 0);
    daemon_free(d);
}

static void test_rtwork_one_job_per_target_and_bounded(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    assert_int_equal(pd_rtwork_init(d, NULL), 0);
    char key[32];
    for (uint32_t i = 0; i < PD_RTJOB_MAX; i++) {
        (void)snprintf(key, sizeof(key), "c%u", i);
        assert_int_equal(submit(d, PD_RTJOB_RUN, key, 1), 0);
    }
    assert_int_equal(pd_rtwork_pending(d), PD_RTJOB_MAX);
    /* MAX + 1: refused, nothing changed. */
    assert_int_equal(submit(d, PD_RTJOB_RUN, "one-more", 1), KUMO_ELIMIT);
    assert_false(pd_rtwork_has(d, "one-more"));
    assert_int_equal(pd_rtwork_pending(d), PD_RTJOB_MAX);
    /* A target already queued (of any kind) gets no second job; its pass mark is renewed. */
    assert_true(pd_rtwork_has(d, "c7"));
    assert_int_equal(submit(d, PD_RTJOB_REMOVE, "c7", 9), KUMO_EEXIST);
    assert_int_equal(pd_rtwork_cancel_stale(d, 9), PD_RTJOB_MAX - 1u);
    assert_true(pd_rtwork_has(d, "c7"));
    assert_int_equal(pd_rtwork_pending(d), 1);
    /* Finished but not collected still holds its target. */
    pd_rtjob_t *j = pd_rtwork_pick(&d->rtwork);
    assert_non_null(j);
    j->state = PD_RTJOB_DONE;
    assert_int_equal(submit(d, PD_RTJOB_RUN, "c7", 10), KUMO_EEXIST);
    uint32_t n = 0;
    pd_rtwork_collect(d, count_cb, &n);
    assert_int_equal(n, 1);
    assert_false(pd_rtwork_has(d, "c7"));
    assert_int_equal(submit(d, PD_RTJOB_RUN, "c7", 10), 0);
    daemon_free(d);
}

static void test_rtwork_cancel_drops_only_queued_unwanted_starts_and_networks(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    assert_int_equal(pd_rtwork_init(d, NULL), 0);
    assert_int_equal(submit(d, PD_RTJOB_RUN, "old-running", 1), 0);
    pd_rtjob_t *j = pd_rtwork_pick(&d->rtwork);
    assert_string_equal(j->key, "old-running");
    j->state = PD_RTJOB_RUNNING;
    assert_int_equal(submit(d, PD_RTJOB_RUN, "old", 1), 0);
    assert_int_equal(submit(d, PD_RTJOB_RUN, "wanted", 2), 0);
    assert_int_equal(submit(d, PD_RTJOB_REMOVE, "removal", 1), 0);
    assert_int_equal(submit(d, PD_RTJOB_NET_CREATE, "net", 1), 0);
    assert_int_equal(submit(d, PD_RTJOB_NET_CREATE, "net-wanted", 1), 0);
    assert_int_equal(submit(d, PD_RTJOB_NET_CREATE, "net-wanted", 2), KUMO_EEXIST); /* renewed */
    assert_int_equal(pd_rtwork_cancel_stale(d, 2), 2);
    assert_false(pd_rtwork_has(d, "old"));
    assert_false(pd_rtwork_has(d, "net"));
    assert_true(pd_rtwork_has(d, "old-running"));
    assert_true(pd_rtwork_has(d, "wanted"));
    assert_true(pd_rtwork_has(d, "removal"));
    assert_true(pd_rtwork_has(d, "net-wanted"));
    j->state = PD_RTJOB_DONE;
    daemon_free(d); /* frees what is left */
}

static void test_rtwork_queued_start_ports_are_taken(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    assert_int_equal(pd_rtwork_init(d, NULL), 0);
    pd_rtjob_t *job = pd_rtjob_new(PD_RTJOB_RUN, "web-0");
    assert_non_null(job);
    job->spec.port_count = 2;
    job->spec.ports[0].host_port = 0;
    job->spec.ports[1].host_port = 31005;
    assert_int_equal(pd_rtwork_submit(d, job), 0);
    assert_true(pd_rtwork_port_taken(d, 31005));
    assert_false(pd_rtwork_port_taken(d, 31006));
    pd_rtwork_pick(&d->rtwork)->state = PD_RTJOB_DONE; /* listed from now on, if it runs */
    assert_false(pd_rtwork_port_taken(d, 31005));
    daemon_free(d);
}

static void rc_cb(void *ctx, const pd_rtjob_t *job)
{
    assert_int_equal(job->rc, KUMO_EIO);
    assert_true(job->detail[0] != '\0');
    (*(uint32_t *)ctx)++;
}

static void test_rtwork_thread_returns_every_job(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    assert_int_equal(pd_rtwork_start(d, NULL), 0);
    static const pd_rtjob_kind_t kinds[] = {PD_RTJOB_RUN,        PD_RTJOB_REMOVE,
                                            PD_RTJOB_NET_CREATE, PD_RTJOB_NET_REMOVE,
                                            PD_RTJOB_NET_SWEEP,  PD_RTJOB_VOLUME_REMOVE};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char key[16];
        (void)snprintf(key, sizeof(key), "t%zu", i);
        assert_int_equal(submit(d, kinds[i], key, 1), 0);
    }
    uint32_t n = 0;
    for (int tries = 0; tries < 6000 && n < 6u; tries++) { /* 60 s at most */
        pd_rtwork_collect(d, rc_cb, &n);
        struct timespec ts = {0, 10 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    assert_int_equal(n, 6);
    assert_int_equal(pd_rtwork_pending(d), 0);
    assert_int_equal(atomic_load(&d->kick), 1); /* a finished start woke the main thread */
    daemon_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtwork_pick_starts_first_removals_never_starved),
        cmocka_unit_test(test_rtwork_one_job_per_target_and_bounded),
        cmocka_unit_test(test_rtwork_cancel_drops_only_queued_unwanted_starts_and_networks),
        cmocka_unit_test(test_rtwork_queued_start_ports_are_taken),
        cmocka_unit_test(test_rtwork_thread_returns_every_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
