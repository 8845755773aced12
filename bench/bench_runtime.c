/*
 * bench_runtime.c - container start time through the runtime module (Docker Engine API over
 * a unix socket) against a private podman service (runc): for the webapp web image, with
 * CPU/memory limits, labels and a published port like the provider runs it,
 *   container_start_p50       create + start until inspect says running
 *   container_http_ready_p50  create + start until the published port answers GET /healthz
 *   container_remove_p50      stop (t=1) + remove
 * each the median of BR_RUNS runs, and the API's round trip (GET /_ping, p50 of 50) as the
 * baseline to read them against on a noisy machine.
 *
 * usage: bench_runtime [image]   (default localhost/kumo-webapp-web:1, built by
 * tools/images.sh). Needs podman + runc (tools/deps.sh). Removes everything it created (label
 * kumo.bench=<pid>).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench_util.h"
#include "runtime/runtime.h"

#define BR_RUNS        10u
#define BR_PINGS       50u
#define BR_DEADLINE_NS (30ull * 1000000000ull)

static kumo_runtime_t *br_rt;
static char br_label[32];

static int br_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static uint64_t br_p50(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), br_cmp);
    return v[n / 2];
}

static void br_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* A private podman API service on dir/podman.sock; the runtime connected to it. */
static pid_t br_podman(const char *dir)
{
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/podman.sock", dir);
    pid_t pid = fork();
    if (pid == 0) {
        char uri[620];
        snprintf(uri, sizeof(uri), "unix://%s", sock);
        if (freopen("/dev/null", "w", stdout) == NULL ||
            freopen("/dev/null", "w", stderr) == NULL) {
            _exit(127);
        }
        execlp("podman", "podman", "--runtime", "/usr/sbin/runc", "system", "service", "--time",
               "0", uri, (char *)NULL);
        _exit(127);
    }
    uint64_t t0 = bench_now_ns();
    kumo_err_ctx_t err = {0};
    while (kumo_runtime_open(sock, &br_rt, &err) != 0) {
        if (bench_now_ns() - t0 > BR_DEADLINE_NS) {
            fprintf(stderr, "bench_runtime: podman did not answer on %s: %s\n", sock, err.detail);
            (void)kill(pid, SIGTERM);
            exit(2);
        }
        br_sleep_ms(20);
    }
    return pid;
}

static uint16_t br_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* One GET /healthz on 127.0.0.1:port; true when it answers 200. */
static bool br_http_ok(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {1, 0};
    static const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
    char resp[64] = {0};
    bool ok = false;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, req, sizeof(req) - 1u, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1u)) {
        ssize_t n = recv(fd, resp, sizeof(resp) - 1u, 0);
        ok = n >= 12 && strncmp(resp, "HTTP/1.0 200", 12) == 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void br_wait_running(const char *id)
{
    uint64_t t0 = bench_now_ns();
    kumo_runtime_inspect_t in = {0};
    while (in.state != KUMO_RUNTIME_STATE_RUNNING) {
        BENCH_MUST("inspect", kumo_runtime_container_inspect(br_rt, id, &in, &bench_err_));
        if (in.state == KUMO_RUNTIME_STATE_EXITED || bench_now_ns() - t0 > BR_DEADLINE_NS) {
            fprintf(stderr, "bench_runtime: container %s did not run\n", id);
            exit(1);
        }
    }
}

static void br_wait_http(uint16_t port)
{
    uint64_t t0 = bench_now_ns();
    while (!br_http_ok(port)) {
        if (bench_now_ns() - t0 > BR_DEADLINE_NS) {
            fprintf(stderr, "bench_runtime: port %u did not answer\n", port);
            exit(1);
        }
        br_sleep_ms(1);
    }
}

/* Run i: the three durations in ns. */
static void
br_run_one(const char *image, uint32_t i, uint64_t *start, uint64_t *ready, uint64_t *removed)
{
    char name[96];
    snprintf(name, sizeof(name), "kumo-bench-%s-%u", br_label, i);
    kumo_runtime_container_spec_t spec = {
        .name = name,
        .image = image,
        .millicpu = 500,
        .memory_bytes = 64u * 1024u * 1024u,
        .port_count = 1,
        .label_count = 2,
    };
    uint16_t port = br_free_port();
    spec.ports[0] = (kumo_runtime_port_t){8080, port, "127.0.0.1"};
    spec.labels[0] = (kumo_runtime_label_t){"kumo.bench", br_label};
    spec.labels[1] = (kumo_runtime_label_t){"kumo.workload", "web"};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    uint64_t t0 = bench_now_ns();
    kumo_err_ctx_t err = {0};
    int rc = kumo_runtime_container_run(br_rt, &spec, id, &err);
    if (rc == KUMO_ENOTFOUND) {
        fprintf(stderr, "bench_runtime: image %s is missing (run tools/images.sh)\n", image);
        exit(2);
    }
    if (rc != 0) {
        bench_die("run", rc, &err);
    }
    br_wait_running(id);
    *start = bench_now_ns() - t0;
    br_wait_http(port);
    *ready = bench_now_ns() - t0;
    uint64_t t1 = bench_now_ns();
    BENCH_MUST("remove", kumo_runtime_container_remove(br_rt, id, &bench_err_));
    *removed = bench_now_ns() - t1;
}

static void br_cleanup(void)
{
    kumo_runtime_container_t list[BR_RUNS + 4u];
    uint32_t n = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_runtime_container_list(br_rt, "kumo.bench", br_label, list, BR_RUNS + 4u, &n, &err) !=
        0) {
        fprintf(stderr, "bench_runtime: cleanup list: %s\n", err.detail);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (kumo_runtime_container_remove(br_rt, list[i].id, &err) != 0) {
            fprintf(stderr, "bench_runtime: cleanup %s: %s\n", list[i].name, err.detail);
        }
    }
}

int main(int argc, char **argv)
{
    const char *image = argc > 1 ? argv[1] : "localhost/kumo-webapp-web:1";
    snprintf(br_label, sizeof(br_label), "b%d", (int)getpid());
    char *dir = bench_tmpdir("runtime");
    pid_t pm = br_podman(dir);
    uint64_t ping[BR_PINGS];
    for (uint32_t i = 0; i < BR_PINGS; i++) {
        uint64_t t0 = bench_now_ns();
        BENCH_MUST("ping", kumo_runtime_ping(br_rt, &bench_err_));
        ping[i] = bench_now_ns() - t0;
    }
    uint64_t start[BR_RUNS];
    uint64_t ready[BR_RUNS];
    uint64_t removed[BR_RUNS];
    for (uint32_t i = 0; i < BR_RUNS; i++) {
        br_run_one(image, i, &start[i], &ready[i], &removed[i]);
    }
    br_cleanup();
    uint64_t ping_p50 = br_p50(ping, BR_PINGS);
    uint64_t start_p50 = br_p50(start, BR_RUNS);
    bench_result("runtime_ping_p50", ping_p50 / 1000u, "us");
    bench_result("container_start_p50", start_p50 / 1000000u, "ms");
    bench_result("container_http_ready_p50", br_p50(ready, BR_RUNS) / 1000000u, "ms");
    bench_result("container_remove_p50", br_p50(removed, BR_RUNS) / 1000000u, "ms");
    bench_ratio("container_start_over_ping", start_p50, ping_p50);
    kumo_runtime_close(br_rt);
    (void)kill(pm, SIGTERM);
    (void)waitpid(pm, NULL, 0);
    bench_rmdir(dir);
    return 0;
}
