/*
 * test_runtime.c - the Docker Engine API client against a real podman API service (runc) on
 * a private socket: networks (idempotent create, list by label, gateway, remove), a container
 * with CPU and memory limits, kumo labels, an alias and a published port that answers over
 * HTTP, listing by label with the labels parsed back, the confinement every container gets
 * as inspect reports it, logs, exec (piped and with a tty: output, stderr apart, exit
 * code, resize), removal; persistent volumes (data kept across containers, size enforced
 * inside the container, removal) and sized tmpfs mounts; the journal of a deployment's
 * containers (started, exited with its code, OOM-killed, image missing, removed; its bound);
 * devices (the create body, entry syntax, the check of what the runtime recorded, and a
 * container given a stand-in device node: exactly it; a CDI device podman drops fails closed);
 * refusals: a missing image, a taken name, a socket nobody serves. Everything is labelled with this
 * run's id and removed at the end, also after a failure.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "helpers/podman.h"
#include "runtime/runtime.h"

static kumo_test_podman_t pm;
static kumo_runtime_t *rt;
static char run_id[32];
static char net[64];

static int setup(void **state)
{
    (void)state;
    (void)snprintf(run_id, sizeof(run_id), "rt%d", (int)getpid());
    (void)snprintf(net, sizeof(net), "kumo-test-%s", run_id);
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

static void test_networks(void **state)
{
    (void)state;
    kumo_runtime_label_t labels[] = {{"kumo.test", run_id}, {"kumo.managed", "1"}};
    assert_int_equal(kumo_runtime_network_create(rt, net, labels, 2, NULL), 0);
    assert_int_equal(kumo_runtime_network_create(rt, net, labels, 2, NULL), 0); /* exists: ok */
    char names[8][KUMO_RUNTIME_NAME_BYTES_MAX];
    uint32_t n = 0;
    assert_int_equal(kumo_runtime_network_list(rt, "kumo.test", run_id, names, 8, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], net);
    char gw[64];
    assert_int_equal(kumo_runtime_network_gateway(rt, net, gw, NULL), 0);
    assert_true(strlen(gw) >= 7);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_runtime_network_gateway(rt, "kumo-no-such-net", gw, &err),
                     KUMO_ENOTFOUND);
}

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
    kumo_buf_t *b = ctx;
    return kumo_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* GET url until it answers 200 (the server inside may need a moment); the body. */
static bool http_get(const char *url, kumo_buf_t *body)
{
    for (int i = 0; i < 100; i++) {
        kumo_buf_reset(body);
        CURL *c = curl_easy_init();
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        long status = 0;
        bool ok = curl_easy_perform(c) == CURLE_OK &&
                  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                  status == 200;
        curl_easy_cleanup(c);
        if (ok) {
            return true;
        }
        usleep(100 * 1000);
    }
    return false;
}

static void test_container_lifecycle(void **state)
{
    (void)state;
    unsigned port = kumo_test_free_port();
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-web", run_id);
    static const char *const cmd[] = {"httpd", "-f", "-p", "8080", "-h", "/www", NULL};
    static const char *const env[] = {"GREETING=hi", NULL};
    static const char *const aliases[] = {"web", NULL};
    static const char *const hosts[] = {"db:10.1.2.3", NULL};
    kumo_runtime_container_spec_t spec = {
        .name = name,
        .image = "localhost/kumo-test-busybox:1",
        .cmd = cmd,
        .env = env,
        .network = net,
        .aliases = aliases,
        .extra_hosts = hosts,
        .millicpu = 500,
        .memory_bytes = 64u * 1024u * 1024u,
        .port_count = 1,
        .label_count = 6,
    };
    spec.ports[0] = (kumo_runtime_port_t){8080, (uint16_t)port, "127.0.0.1"};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    spec.labels[1] = (kumo_runtime_label_t){"kumo.owner", "kumo1tenant"};
    spec.labels[2] = (kumo_runtime_label_t){"kumo.dseq", "7"};
    spec.labels[3] = (kumo_runtime_label_t){"kumo.gseq", "1"};
    spec.labels[4] = (kumo_runtime_label_t){"kumo.workload", "web"};
    spec.labels[5] = (kumo_runtime_label_t){"kumo.instance", "0"};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_container_run(rt, &spec, id, &err) != 0) {
        fail_msg("run: %s", err.detail);
    }
    kumo_runtime_inspect_t in;
    assert_int_equal(kumo_runtime_container_inspect(rt, id, &in, NULL), 0);
    assert_int_equal(in.state, KUMO_RUNTIME_STATE_RUNNING);
    assert_int_equal(in.nano_cpus, 500000000u);
    assert_int_equal(in.memory_bytes, 64u * 1024u * 1024u);
    assert_true(strlen(in.ip) >= 7); /* an address on the deployment network */
    /* Confined whatever the image asks for: no swap, pids, capabilities, privileges, a
     * read-only root with the default scratch. */
    assert_int_equal(in.memory_swap_bytes, 64u * 1024u * 1024u);
    assert_int_equal(in.pids_limit, KUMO_RUNTIME_PIDS_MAX);
    assert_true(in.cap_drop_count >= 10u);
    assert_int_equal(in.cap_add_count, 0);
    assert_true(in.no_new_privileges);
    assert_true(in.readonly_rootfs);
    assert_int_equal(in.tmp_bytes, KUMO_RUNTIME_TMP_BYTES_DEFAULT);
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
    kumo_buf_t body;
    kumo_buf_init(&body, 65536);
    assert_true(http_get(url, &body));
    assert_non_null(memmem(body.ptr, body.len, "hello from kumo", 15));
    kumo_buf_free(&body);
    kumo_runtime_container_t list[4];
    uint32_t n = 0;
    assert_int_equal(kumo_runtime_container_list(rt, "kumo.test", run_id, list, 4, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, name);
    assert_string_equal(list[0].owner, "kumo1tenant");
    assert_int_equal(list[0].dseq, 7);
    assert_int_equal(list[0].gseq, 1);
    assert_string_equal(list[0].workload, "web");
    assert_int_equal(list[0].port_count, 1);
    assert_int_equal(list[0].host_ports[0], port);
    /* The name is taken now; a missing image is refused. */
    assert_int_equal(kumo_runtime_container_run(rt, &spec, id, &err), KUMO_EEXIST);
    kumo_runtime_container_spec_t missing = spec;
    char name2[100];
    (void)snprintf(name2, sizeof(name2), "%s-2", name);
    missing.name = name2;
    missing.image = "localhost/kumo-no-such-image:1";
    missing.port_count = 0;
    assert_int_equal(kumo_runtime_container_run(rt, &missing, id, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_runtime_container_remove(rt, name, NULL), 0);
    assert_int_equal(kumo_runtime_container_remove(rt, name, NULL), 0); /* gone: ok */
    assert_int_equal(kumo_runtime_container_list(rt, "kumo.test", run_id, list, 4, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kumo_runtime_network_remove(rt, net, NULL), 0);
    assert_int_equal(kumo_runtime_network_remove(rt, net, NULL), 0);
}

static void test_logs(void **state)
{
    (void)state;
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-logs", run_id);
    static const char *const cmd[] = {"sh", "-c", "echo line-one; echo line-two >&2; sleep 30",
                                      NULL};
    kumo_runtime_container_spec_t spec = {
        .name = name, .image = "localhost/kumo-test-busybox:1", .cmd = cmd, .label_count = 1};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    assert_int_equal(kumo_runtime_container_run(rt, &spec, id, NULL), 0);
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    for (int i = 0; i < 50; i++) {
        kumo_buf_reset(&logs);
        assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
        if (logs.len > 0 && memmem(logs.ptr, logs.len, "line-two", 8) != NULL) {
            break;
        }
        usleep(100 * 1000);
    }
    assert_true(logs.len > 0);
    assert_non_null(memmem(logs.ptr, logs.len, "line-one", 8));
    assert_non_null(memmem(logs.ptr, logs.len, "line-two", 8));
    kumo_buf_free(&logs);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
}

/* Reads fd until it closes (at most cap bytes). */
static size_t exec_read_all(int fd, kumo_buf_t *into)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || kumo_buf_append(into, buf, (size_t)n) != 0) {
            return into->len;
        }
    }
}

/* Runs argv in container id (tty or not) with input, returns the exit code; out gets the
 * output as it came (multiplexed without a tty). */
static int
exec_run(const char *id, const char *const *argv, bool tty, const char *input, kumo_buf_t *out)
{
    char exec_id[KUMO_RUNTIME_ID_BYTES_MAX];
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_exec_create(rt, id, argv, tty, exec_id, &err) != 0) {
        fail_msg("exec create: %s", err.detail);
    }
    int fd = -1;
    if (kumo_runtime_exec_start(rt, exec_id, tty, &fd, out, &err) != 0) {
        fail_msg("exec start: %s", err.detail);
    }
    if (tty) {
        assert_int_equal(kumo_runtime_exec_resize(rt, exec_id, 33, 111, &err), 0);
    }
    assert_int_equal(write(fd, input, strlen(input)), (ssize_t)strlen(input));
    if (!tty) {
        assert_int_equal(shutdown(fd, SHUT_WR), 0); /* end of input */
    }
    (void)exec_read_all(fd, out);
    (void)close(fd);
    bool running = true;
    int code = -1;
    for (int i = 0; i < 100 && running; i++) { /* the runtime notes the exit just after */
        assert_int_equal(kumo_runtime_exec_inspect(rt, exec_id, &running, &code, NULL), 0);
        if (running) {
            usleep(100 * 1000);
        }
    }
    assert_false(running);
    return code;
}

static void test_exec(void **state)
{
    (void)state;
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-exec", run_id);
    static const char *const cmd[] = {"sleep", "120", NULL};
    kumo_runtime_container_spec_t spec = {
        .name = name, .image = "localhost/kumo-test-busybox:1", .cmd = cmd, .label_count = 1};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    assert_int_equal(kumo_runtime_container_run(rt, &spec, id, NULL), 0);
    static const char *const pipe_cmd[] = {"sh", "-c", "read x; echo got-$x; echo oops >&2; exit 3",
                                           NULL};
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    assert_int_equal(exec_run(id, pipe_cmd, false, "hello\n", &out), 3);
    /* Demultiplexed chunk by chunk: stdout then stderr. */
    kumo_buf_t so, se;
    kumo_buf_init(&so, 1u << 20);
    kumo_buf_init(&se, 1u << 20);
    size_t pos = 0;
    while (pos < out.len) {
        uint8_t stream = 0;
        kumo_bytes_t payload;
        size_t used = 0;
        assert_int_equal(kumo_runtime_mux_parse(kumo_bytes_make(out.ptr + pos, out.len - pos),
                                                &stream, &payload, &used, NULL),
                         0);
        assert_true(used > 0);
        assert_int_equal(kumo_buf_append(stream == 2 ? &se : &so, payload.ptr, payload.len), 0);
        pos += used;
    }
    assert_int_equal(so.len, 10);
    assert_memory_equal(so.ptr, "got-hello\n", 10);
    assert_int_equal(se.len, 5);
    assert_memory_equal(se.ptr, "oops\n", 5);
    kumo_buf_free(&so);
    kumo_buf_free(&se);
    /* With a tty: raw output, the echo of the input included. */
    static const char *const tty_cmd[] = {"sh", "-c", "read x; echo tty-$x; exit 5", NULL};
    kumo_buf_reset(&out);
    assert_int_equal(exec_run(id, tty_cmd, true, "abc\r", &out), 5);
    assert_non_null(memmem(out.ptr, out.len, "tty-abc", 7));
    kumo_buf_free(&out);
    /* A container that does not exist. */
    char exec_id[KUMO_RUNTIME_ID_BYTES_MAX];
    assert_int_equal(
        kumo_runtime_exec_create(rt, "kumo-no-such-container", pipe_cmd, false, exec_id, NULL),
        KUMO_ENOTFOUND);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
}

/* Runs a busybox container with cmd and the mounts, waits until its logs hold want (60 s),
 * and returns its id. */
static void vol_run(const char *dir,
                    const char *suffix,
                    const char *script,
                    const kumo_runtime_mount_t *mounts,
                    uint32_t mount_count,
                    const char *want,
                    char id[KUMO_RUNTIME_ID_BYTES_MAX])
{
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-%s", run_id, suffix);
    const char *const cmd[] = {"sh", "-c", script, NULL};
    kumo_runtime_container_spec_t spec = {.name = name,
                                          .image = "localhost/kumo-test-busybox:1",
                                          .cmd = cmd,
                                          .label_count = 1,
                                          .mount_count = mount_count,
                                          .volume_dir = dir};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    memcpy(spec.mounts, mounts, mount_count * sizeof(*mounts));
    kumo_err_ctx_t err = {0};
    int rc = kumo_runtime_container_run(rt, &spec, id, &err);
    if (rc != 0) {
        fail_msg("run %s: %s", suffix, err.detail);
    }
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    for (int i = 0; i < 600; i++) {
        kumo_buf_reset(&logs);
        assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
        if (logs.len > 0 && memmem(logs.ptr, logs.len, want, strlen(want)) != NULL) {
            break;
        }
        usleep(100 * 1000);
    }
    if (logs.len == 0 || memmem(logs.ptr, logs.len, want, strlen(want)) == NULL) {
        fail_msg("%s: logs lack \"%s\": %.*s", suffix, want, (int)logs.len, (const char *)logs.ptr);
    }
    kumo_buf_free(&logs);
}

/* A persistent volume keeps its data across containers, holds no more than its size (a write
 * past it fails inside the container), keeps its size, is not removed while in use and
 * leaves nothing behind when removed; a tmpfs mount is bounded the same way. */
static void test_volumes(void **state)
{
    (void)state;
    char dir[] = "/tmp/kumo-test-vol-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char vol[64];
    (void)snprintf(vol, sizeof(vol), "kumo-test-%s-vol", run_id);
    const kumo_runtime_mount_t mounts[] = {
        {.volume = vol, .path = "/data", .size_bytes = 8u << 20, .persistent = true},
        {.path = "/scratch", .size_bytes = 4u << 20},
    };
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    vol_run(dir, "vol1",
            "echo kept > /data/f; dd if=/dev/zero of=/data/big bs=1M count=16; echo big=$?; "
            "dd if=/dev/zero of=/scratch/big bs=1M count=8; echo small=$?; sleep 30",
            mounts, 2, "small=", id);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_runtime_volume_remove(rt, dir, vol, &err), KUMO_EEXIST); /* in use */
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
    kumo_runtime_volume_t v;
    assert_int_equal(kumo_runtime_volume_inspect(rt, vol, &v, NULL), 0);
    assert_int_equal(v.size_bytes, 8u << 20);
    kumo_runtime_volume_t list[4];
    uint32_t n = 0;
    assert_int_equal(kumo_runtime_volume_list(rt, "kumo.test", run_id, list, 4, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, vol);
    assert_int_equal(kumo_runtime_volume_create(rt, dir, vol, 16u << 20, NULL, 0, NULL),
                     KUMO_EMISMATCH);
    vol_run(dir, "vol2", "cat /data/f; ls /scratch; echo listed; sleep 30", mounts, 2, "listed",
            id);
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
    assert_non_null(memmem(logs.ptr, logs.len, "kept", 4)); /* the data stayed */
    assert_null(memmem(logs.ptr, logs.len, "big", 3));      /* the tmpfs did not */
    kumo_buf_free(&logs);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
    assert_int_equal(kumo_runtime_volume_remove(rt, dir, vol, NULL), 0);
    assert_int_equal(kumo_runtime_volume_remove(rt, dir, vol, NULL), 0); /* gone: still fine */
    assert_int_equal(kumo_runtime_volume_inspect(rt, vol, &v, NULL), KUMO_ENOTFOUND);
    char image[200];
    (void)snprintf(image, sizeof(image), "%s/%s.img", dir, vol);
    assert_int_not_equal(access(image, F_OK), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* The write past the size failed: checked from the first container's logs. */
static void test_volume_write_past_size_fails(void **state)
{
    (void)state;
    char dir[] = "/tmp/kumo-test-vol-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char vol[64];
    (void)snprintf(vol, sizeof(vol), "kumo-test-%s-full", run_id);
    const kumo_runtime_mount_t mounts[] = {
        {.volume = vol, .path = "/data", .size_bytes = 8u << 20, .persistent = true},
        {.path = "/scratch", .size_bytes = 4u << 20},
    };
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    vol_run(dir, "full",
            "dd if=/dev/zero of=/data/big bs=1M count=16 2>/dev/null; echo big=$?.; "
            "dd if=/dev/zero of=/scratch/big bs=1M count=8 2>/dev/null; echo small=$?.; "
            "dd if=/dev/zero of=/data/fits bs=1M count=1 2>/dev/null; echo fits=$?.; sleep 30",
            mounts, 2, "fits=", id);
    kumo_buf_t logs;
    kumo_buf_init(&logs, 1u << 20);
    assert_int_equal(kumo_runtime_container_logs(rt, id, 100, &logs, NULL), 0);
    assert_non_null(memmem(logs.ptr, logs.len, "big=1.", 6));   /* ENOSPC past 8 MiB */
    assert_non_null(memmem(logs.ptr, logs.len, "small=1.", 8)); /* and past the tmpfs's 4 */
    kumo_buf_free(&logs);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
    assert_int_equal(kumo_runtime_volume_remove(rt, dir, vol, NULL), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Runs a container of kumo1tenant's deployment 9 (workload/0, memory limited) with script. */
static int journal_run(const char *workload, const char *image, const char *script, char *id)
{
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-j-%s", run_id, workload);
    const char *const cmd[] = {"sh", "-c", script, NULL};
    kumo_runtime_container_spec_t spec = {.name = name,
                                          .image = image,
                                          .cmd = cmd,
                                          .memory_bytes = 32u * 1024u * 1024u,
                                          .label_count = 5};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    spec.labels[1] = (kumo_runtime_label_t){"kumo.owner", "kumo1tenant"};
    spec.labels[2] = (kumo_runtime_label_t){"kumo.dseq", "9"};
    spec.labels[3] = (kumo_runtime_label_t){"kumo.workload", workload};
    spec.labels[4] = (kumo_runtime_label_t){"kumo.instance", "0"};
    return kumo_runtime_container_run(rt, &spec, id, NULL);
}

/* Waits (60 s) until container id has exited, then removes it. */
static void journal_exit_remove(const char *id)
{
    kumo_runtime_inspect_t in;
    for (int i = 0; i < 600; i++) {
        assert_int_equal(kumo_runtime_container_inspect(rt, id, &in, NULL), 0);
        if (in.state == KUMO_RUNTIME_STATE_EXITED) {
            break;
        }
        usleep(100 * 1000);
    }
    assert_int_equal(in.state, KUMO_RUNTIME_STATE_EXITED);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
}

static kumo_buf_t journal_read(const char *path)
{
    kumo_buf_t b;
    kumo_buf_init(&b, 2u * KUMO_RUNTIME_EVENTS_BYTES_MAX);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t chunk[8192];
    size_t n = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(kumo_buf_append(&b, chunk, n), 0);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(kumo_buf_append(&b, "", 1), 0);
    return b;
}

/* The journal of a deployment's containers (kumo deploy events): started, exited with the
 * code, OOM-killed at the memory limit, image missing, removed; and its size bound. */
static void test_journal(void **state)
{
    (void)state;
    char dir[] = "/tmp/kumo-test-events-XXXXXX";
    assert_non_null(mkdtemp(dir));
    kumo_runtime_events_dir_set(dir);
    char path[640];
    assert_true(kumo_runtime_events_path("kumo1tenant", 9, path, sizeof(path)));
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    assert_int_equal(journal_run("crash", "localhost/kumo-test-busybox:1", "exit 3", id), 0);
    journal_exit_remove(id);
    /* 100 MB into a shell variable under a 32 MiB limit. */
    assert_int_equal(journal_run("hog", "localhost/kumo-test-busybox:1",
                                 "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}", id),
                     0);
    journal_exit_remove(id);
    assert_int_equal(journal_run("miss", "localhost/kumo-no-such-image:1", "true", id),
                     KUMO_ENOTFOUND);
    kumo_buf_t b = journal_read(path);
    const char *text = (const char *)b.ptr;
    print_message("%s", text);
    static const char *const want[] = {
        " started crash/0 image=localhost/kumo-test-busybox:1\n",
        " exited crash/0 code=3\n",
        " removed crash/0 \n",
        " started hog/0 ",
        " oom_killed hog/0 code=137\n",
        " removed hog/0 \n",
        " image_missing miss/0 image=localhost/kumo-no-such-image:1 ",
    };
    const char *at = text;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *hit = strstr(at, want[i]);
        if (hit == NULL) {
            fail_msg("the journal lacks '%s' (in order):\n%s", want[i], text);
        }
        at = hit;
    }
    kumo_buf_free(&b);
    /* Bounded: past KUMO_RUNTIME_EVENTS_BYTES_MAX the older half goes, at a line's start. */
    char detail[201];
    memset(detail, 'd', 200);
    detail[200] = '\0';
    for (int i = 0; i < 4000; i++) {
        kumo_runtime_event_record("kumo1tenant", 9, 0, "exited", "spam", (uint32_t)i, detail);
    }
    b = journal_read(path);
    assert_true(b.len - 1u <= KUMO_RUNTIME_EVENTS_BYTES_MAX);
    assert_true(b.len - 1u >= KUMO_RUNTIME_EVENTS_BYTES_MAX / 4u);
    assert_true(b.ptr[0] >= '1' && b.ptr[0] <= '9'); /* a time: a whole line */
    assert_non_null(strstr((const char *)b.ptr, " exited spam/3999 d"));
    kumo_buf_free(&b);
    assert_int_equal(remove(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* Device entries: CDI names and absolute device paths (host[:container]); nothing else. */
static void test_device_entries(void **state)
{
    (void)state;
    static const struct {
        const char *entry;
        bool valid, cdi;
    } rows[] = {
        {"nvidia.com/gpu=0", true, true},
        {"nvidia.com/gpu=all", true, true},
        {"amd.com/gpu=GPU-1:2_x", true, true},
        {"/dev/nvidia0", true, false},
        {"/dev/dri/renderD128", true, false},
        {"/tmp/x/gpu0:/dev/kumo-gpu0", true, false},
        {"", false, true},
        {"nvidia/gpu=0", false, true},     /* vendor without a domain */
        {"nvidia.com/=0", false, true},    /* no class */
        {"nvidia.com/gpu=", false, true},  /* no name */
        {"Nvidia.com/gpu=0", false, true}, /* upper case vendor */
        {"nvidia.com/gpu=a b", false, true},
        {"dev/nvidia0", false, true},
        {"/", false, false},
        {"/dev/a:", false, false},
        {"/dev/a:dev/b", false, false},
        {"/dev/a:/b:/c", false, false},
        {"/dev/../etc/shadow", false, false},
        {"/dev/..", false, false},
        {"/dev/a,/dev/b", false, false},
        {"/dev/a b", false, false},
        {"/dev/\"a", false, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (kumo_runtime_device_is_valid(rows[i].entry) != rows[i].valid ||
            kumo_runtime_device_is_cdi(rows[i].entry) != rows[i].cdi) {
            fail_msg("row %zu: %s", i, rows[i].entry);
        }
    }
    char longest[KUMO_RUNTIME_DEVICE_BYTES_MAX + 1];
    memset(longest, 'a', sizeof(longest));
    longest[0] = '/';
    longest[KUMO_RUNTIME_DEVICE_BYTES_MAX - 1] = '\0';
    assert_true(kumo_runtime_device_is_valid(longest)); /* 255 bytes */
    longest[KUMO_RUNTIME_DEVICE_BYTES_MAX - 1] = 'a';
    longest[KUMO_RUNTIME_DEVICE_BYTES_MAX] = '\0';
    assert_false(kumo_runtime_device_is_valid(longest)); /* 256 */
}

/* The create body carries exactly the spec's devices: nodes in Devices (a shared node once),
 * CDI names in one DeviceRequest of driver cdi; none without devices. */
static void test_devices_body(void **state)
{
    (void)state;
    kumo_runtime_container_spec_t spec = {.name = "n", .image = "i"};
    kumo_buf_t b;
    kumo_buf_init(&b, 1024 * 1024);
    assert_int_equal(kumo_runtime_container_body(&spec, &b, NULL), 0);
    json_t *j = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    const json_t *hc = json_object_get(j, "HostConfig");
    assert_int_equal(json_array_size(json_object_get(hc, "Devices")), 0);
    assert_null(json_object_get(hc, "DeviceRequests"));
    json_decref(j);
    spec.devices[0] = "/dev/dri/renderD128";
    spec.devices[1] = "/dev/kfd";
    spec.devices[2] = "/dev/dri/renderD129";
    spec.devices[3] = "/dev/kfd";
    spec.devices[4] = "nvidia.com/gpu=1";
    spec.devices[5] = "/tmp/s/g0:/dev/kumo-gpu0";
    spec.device_count = 6;
    kumo_buf_reset(&b);
    assert_int_equal(kumo_runtime_container_body(&spec, &b, NULL), 0);
    j = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    hc = json_object_get(j, "HostConfig");
    const json_t *devs = json_object_get(hc, "Devices");
    static const char *const want[][2] = {{"/dev/dri/renderD128", "/dev/dri/renderD128"},
                                          {"/dev/kfd", "/dev/kfd"},
                                          {"/dev/dri/renderD129", "/dev/dri/renderD129"},
                                          {"/tmp/s/g0", "/dev/kumo-gpu0"}};
    assert_int_equal(json_array_size(devs), 4);
    for (size_t i = 0; i < 4; i++) {
        const json_t *d = json_array_get(devs, i);
        assert_string_equal(json_string_value(json_object_get(d, "PathOnHost")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(d, "PathInContainer")), want[i][1]);
        assert_string_equal(json_string_value(json_object_get(d, "CgroupPermissions")), "rwm");
    }
    const json_t *reqs = json_object_get(hc, "DeviceRequests");
    assert_int_equal(json_array_size(reqs), 1);
    const json_t *r = json_array_get(reqs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "Driver")), "cdi");
    assert_int_equal(json_array_size(json_object_get(r, "DeviceIDs")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "DeviceIDs"), 0)),
                        "nvidia.com/gpu=1");
    json_decref(j);
    spec.device_count = KUMO_RUNTIME_DEVICE_COUNT_MAX + 1u;
    assert_int_equal(kumo_runtime_container_body(&spec, &b, NULL), KUMO_ELIMIT);
    kumo_buf_free(&b);
}

/* What the runtime recorded must be exactly what was asked. */
static void test_devices_check(void **state)
{
    (void)state;
    kumo_runtime_container_spec_t spec = {.name = "n", .image = "i"};
    spec.devices[0] = "/tmp/s/g0:/dev/kumo-gpu0";
    spec.devices[1] = "nvidia.com/gpu=0";
    spec.device_count = 2;
    kumo_runtime_inspect_t *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    in->device_count = 1;
    (void)snprintf(in->device_paths[0], sizeof(in->device_paths[0]), "/dev/kumo-gpu0");
    in->cdi_count = 1;
    (void)snprintf(in->cdi_ids[0], sizeof(in->cdi_ids[0]), "nvidia.com/gpu=0");
    assert_int_equal(kumo_runtime_devices_check(&spec, in, NULL), 0);
    kumo_err_ctx_t err = {0};
    in->cdi_count = 0; /* podman before 5.4 drops the CDI request */
    assert_int_equal(kumo_runtime_devices_check(&spec, in, &err), KUMO_EMISMATCH);
    assert_non_null(strstr(err.detail, "nvidia.com/gpu=0"));
    in->cdi_count = 1;
    in->device_count = 2; /* one more than asked */
    assert_int_equal(kumo_runtime_devices_check(&spec, in, NULL), KUMO_EMISMATCH);
    in->device_count = 1;
    (void)snprintf(in->device_paths[0], sizeof(in->device_paths[0]), "/dev/kumo-gpu1");
    assert_int_equal(kumo_runtime_devices_check(&spec, in, NULL), KUMO_EMISMATCH);
    free(in);
}

/* A real container with stand-in device nodes (the major and minor of /dev/null and
 * /dev/zero, made with mknod in a temp dir): it gets exactly its device at the container path;
 * a CDI name podman does not apply fails the run and leaves no container. */
static void test_container_devices(void **state)
{
    (void)state;
    char dir[] = "/tmp/kumo-gpu-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char g0[64];
    char g1[64];
    (void)snprintf(g0, sizeof(g0), "%s/g0", dir);
    (void)snprintf(g1, sizeof(g1), "%s/g1", dir);
    assert_int_equal(mknod(g0, S_IFCHR | 0666, makedev(1, 3)), 0);
    assert_int_equal(mknod(g1, S_IFCHR | 0666, makedev(1, 5)), 0);
    char name[96];
    (void)snprintf(name, sizeof(name), "kumo-test-%s-gpu", run_id);
    static const char *const cmd[] = {"sleep", "600", NULL};
    char entry[128];
    (void)snprintf(entry, sizeof(entry), "%s:/dev/kumo-gpu0", g0);
    kumo_runtime_container_spec_t spec = {
        .name = name,
        .image = "localhost/kumo-test-busybox:1",
        .cmd = cmd,
        .label_count = 1,
        .device_count = 1,
    };
    spec.labels[0] = (kumo_runtime_label_t){"kumo.test", run_id};
    spec.devices[0] = entry;
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_container_run(rt, &spec, id, &err) != 0) {
        fail_msg("run: %s", err.detail);
    }
    kumo_runtime_inspect_t *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    assert_int_equal(kumo_runtime_container_inspect(rt, id, in, NULL), 0);
    assert_int_equal(in->device_count, 1);
    assert_string_equal(in->device_paths[0], "/dev/kumo-gpu0");
    assert_int_equal(in->cdi_count, 0);
    assert_int_equal(kumo_runtime_container_remove(rt, id, NULL), 0);
    /* A CDI device: podman 4.3 ignores the request (the run fails closed), later ones fail
     * without a CDI spec for it; either way no container is left. */
    spec.devices[0] = "kumo.test/gpu=0";
    int rc = kumo_runtime_container_run(rt, &spec, id, &err);
    assert_true(rc < 0);
    kumo_runtime_container_t list[4];
    uint32_t n = 9;
    assert_int_equal(kumo_runtime_container_list(rt, "kumo.test", run_id, list, 4, &n, NULL), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_string_not_equal(list[i].name, name);
    }
    /* A malformed entry is refused before anything is made. */
    spec.devices[0] = "dev/x";
    assert_int_equal(kumo_runtime_container_run(rt, &spec, id, &err), KUMO_EINVAL);
    free(in);
    assert_int_equal(remove(g0), 0);
    assert_int_equal(remove(g1), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_no_runtime(void **state)
{
    (void)state;
    kumo_runtime_t *none = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_runtime_open("/tmp/kumo-no-such.sock", &none, &err), KUMO_EIO);
    assert_null(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_container_lifecycle),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_volume_write_past_size_fails),
        cmocka_unit_test(test_journal),
        cmocka_unit_test(test_device_entries),
        cmocka_unit_test(test_devices_body),
        cmocka_unit_test(test_devices_check),
        cmocka_unit_test(test_container_devices),
        cmocka_unit_test(test_no_runtime),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
