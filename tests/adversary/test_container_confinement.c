/*
 * test_container_confinement.c - a hostile workload inside a real container (podman with runc
 * on a private socket, created through the provider's runtime client exactly as the daemon
 * creates leased workloads): it tries to write outside its scratch space, to fill the scratch
 * past the leased storage, and reads back the limits it runs under (pids.max of its cgroup,
 * its effective capabilities, no_new_privs). Everything is labelled with this run's id and
 * removed at the end, also after a failure.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/podman.h"
#include "runtime/runtime.h"

static kumo_test_podman_t pm;
static kumo_runtime_t *rt;
static char run_id[32];

/* Polls a container's logs until they contain needle (deadline 10 s). */
static bool logs_wait(const char *id, const char *needle)
{
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    bool found = false;
    for (int i = 0; i < 100 && !found; i++) {
        kumo_buf_reset(&logs);
        assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
        found = logs.len > 0 && memmem(logs.ptr, logs.len, needle, strlen(needle)) != NULL;
        if (!found) {
            usleep(100 * 1000);
        }
    }
    if (!found) {
        fprintf(stderr, "logs of %s: %.*s\n", id, (int)logs.len, (const char *)logs.ptr);
    }
    kumo_buf_free(&logs);
    return found;
}

/* What a hostile workload tries inside its container: writing outside the scratch space,
 * filling the scratch past the leased storage, forking without bound (its cgroup's pids.max),
 * raising privileges. */
static void test_confinement(void **state)
{
    (void)state;
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-confined", run_id);
    static const char *const cmd[] = {
        "sh", "-c",
        "echo x > /etc/owned 2>/dev/null && echo root-writable || echo root-readonly; "
        "busybox head -c 33554432 /dev/zero > /tmp/fill 2>/dev/null && echo tmp-unbounded "
        "|| echo tmp-full; "
        "echo pids=$(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null); "
        "busybox grep -q 'CapEff:.0000000000000400' /proc/self/status && echo caps-minimal; "
        "busybox grep -q 'NoNewPrivs:.1' /proc/self/status && echo nnp-on; echo done; sleep 30",
        NULL};
    kumo_runtime_container_spec_t spec = {.name = name,
                                          .image = "localhost/kumo-test-busybox:1",
                                          .cmd = cmd,
                                          .memory_bytes = 256u * 1024u * 1024u,
                                          .storage_bytes = 8u * 1024u * 1024u,
                                          .label_count = 1};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    assert_int_equal(kumo_runtime_container_run(rt, &spec, id, NULL), 0);
    kumo_runtime_inspect_t in;
    assert_int_equal(kumo_runtime_container_inspect(rt, id, &in, NULL), 0);
    assert_int_equal(in.tmp_bytes, 8u * 1024u * 1024u);
    assert_true(logs_wait(id, "done"));
    assert_true(logs_wait(id, "root-readonly"));
    assert_true(logs_wait(id, "tmp-full"));
    assert_true(logs_wait(id, "caps-minimal"));
    assert_true(logs_wait(id, "nnp-on"));
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
    const char *f = memmem(logs.ptr, logs.len, "pids=", 5);
    assert_non_null(f);
    assert_int_equal(strtoul(f + 5, NULL, 10), KUMO_RUNTIME_PIDS_MAX); /* the cgroup's limit */
    kumo_buf_free(&logs);
    assert_int_equal(kumo_runtime_container_remove(rt, name, NULL), 0);
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(run_id, sizeof(run_id), "cf%d", (int)getpid());
    if (!kumo_test_podman_start(&pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_open(pm.socket, &rt, &err) != 0) {
        fprintf(stderr, "runtime open: %s\n", err.detail);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_runtime_close(rt);
    kumo_test_podman_cleanup("kumo.test", run_id);
    kumo_test_podman_stop(&pm);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confinement),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
