/*
 * bench_api.c - what hostile connections cost the honest clients of a node's HTTP API: the
 * p50/p99 latency of GET /status on a keep-alive connection with no other connections (the
 * baseline, same run) and while 2,000 hostile connections are held open (half idle, half
 * trickling a request head one byte per second; a forked attacker reopens whatever the node
 * closes), and the ratio of the two p99s (target <= 2).
 *
 * The node is a real `kumo node start` (single validator) with rpc_connection_max 4096 so
 * that every hostile connection is really held; the attacker binds 127.0.0.2..41 (50 each,
 * under the per-address cap) and the honest client is 127.0.0.1.
 *
 * Each phase lasts longer than the default request deadline (10 s), so the hostile phase also
 * pays for the deadline closing connections and the attacker reopening them.
 *
 * usage: bench_api [seconds-per-phase]   (default 15)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench_util.h"

#define BA_HOSTILE_COUNT 2000u
#define BA_HOSTILE_ADDRS 40u
#define BA_CHAIN_ID      "kumo-bench-api"
#define BA_ANSWER_BYTES  (64u * 1024u)
#define BA_WAIT_MS       60000u
#define BA_SAMPLES_MAX   (4u * 1024u * 1024u)

typedef struct ba {
    char kumo_bin[600];
    char *home;
    uint16_t port;
    pid_t node_pid;
    pid_t attacker_pid;
} ba_t;

static ba_t ba;

static uint64_t ba_now_ms(void)
{
    return bench_now_ns() / 1000000u;
}

static void ba_run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_api: failed: %s\n", cmd);
        exit(1);
    }
}

static uint16_t ba_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A TCP connection from 127.0.0.<host> to the node (blocking or not); -1 on failure. */
static int ba_connect(uint32_t host, bool blocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | host);
    struct sockaddr_in dst = {.sin_family = AF_INET};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons(ba.port);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a keep-alive connection; the whole answer read (Content-Length). Returns
 * the status, 0 on a broken connection. */
static int ba_request(int fd, const char *path, char *out, size_t cap)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        return 0;
    }
    size_t len = 0;
    while (len < cap - 1u) {
        ssize_t r = recv(fd, out + len, cap - 1u - len, 0);
        if (r <= 0) {
            return 0;
        }
        len += (size_t)r;
        out[len] = '\0';
        const char *end = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        if (end != NULL && cl != NULL &&
            len >= (size_t)(end + 4 - out) + strtoull(cl + 16, NULL, 10)) {
            int status = 0;
            return sscanf(out, "HTTP/1.1 %d", &status) == 1 ? status : 0;
        }
    }
    return 0;
}

static uint64_t ba_metric(const char *name)
{
    static char answer[BA_ANSWER_BYTES];
    int fd = ba_connect(1, true);
    uint64_t v = 0;
    if (fd >= 0 && ba_request(fd, "/metrics", answer, sizeof(answer)) == 200) {
        char needle[128];
        snprintf(needle, sizeof(needle), "\n%s ", name);
        const char *p = strstr(answer, needle);
        v = p != NULL ? strtoull(p + strlen(needle), NULL, 10) : 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    return v;
}

static int ba_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* GET /status on one keep-alive connection for `seconds`; p50 and p99 in microseconds and
 * the number of requests. */
static uint64_t ba_measure(uint32_t seconds, uint64_t *p50_us, uint64_t *p99_us)
{
    static char answer[BA_ANSWER_BYTES];
    uint64_t *lat = calloc(BA_SAMPLES_MAX, sizeof(*lat));
    if (lat == NULL) {
        exit(1);
    }
    int fd = -1;
    uint64_t count = 0;
    uint64_t end = bench_now_ns() + (uint64_t)seconds * 1000000000ull;
    while (count < BA_SAMPLES_MAX && bench_now_ns() < end) {
        if (fd < 0) {
            fd = ba_connect(1, true);
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        uint64_t t0 = bench_now_ns();
        int status = ba_request(fd, "/status", answer, sizeof(answer));
        uint64_t t1 = bench_now_ns();
        if (status != 200) {
            /* closed (e.g. at the cap while idle): the next request reconnects */
            close(fd);
            fd = -1;
            continue;
        }
        lat[count++] = (t1 - t0) / 1000u;
    }
    if (fd >= 0) {
        close(fd);
    }
    qsort(lat, count, sizeof(*lat), ba_cmp_u64);
    *p50_us = count > 0 ? lat[count / 2u] : 0;
    *p99_us = count > 0 ? lat[count * 99u / 100u] : 0;
    free(lat);
    return count;
}

/* The attacker (a child process): holds BA_HOSTILE_COUNT connections, the odd ones sending a
 * header byte per second, reopening any the node closes. Runs until killed. */
static void ba_attacker_run(void)
{
    static int fds[BA_HOSTILE_COUNT];
    static size_t sent[BA_HOSTILE_COUNT];
    static const char head[] = "GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (uint32_t i = 0; i < BA_HOSTILE_COUNT; i++) {
        fds[i] = -1;
    }
    for (;;) {
        for (uint32_t i = 0; i < BA_HOSTILE_COUNT; i++) {
            char buf[512];
            if (fds[i] >= 0) {
                ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    close(fds[i]);
                    fds[i] = -1;
                }
            }
            if (fds[i] < 0) {
                fds[i] = ba_connect(2u + i % BA_HOSTILE_ADDRS, false);
                sent[i] = 0;
                continue;
            }
            if (i % 2u == 1u) {
                char byte = head[sent[i] < sizeof(head) - 1u ? sent[i] : sizeof(head) - 2u];
                sent[i]++;
                (void)send(fds[i], &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
        }
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
}

static void ba_node_start(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' init --home '%s' --chain-id %s >/dev/null", ba.kumo_bin,
             ba.home, BA_CHAIN_ID);
    ba_run(cmd);
    snprintf(cmd, sizeof(cmd),
             "sed -i 's/^rpc_connection_max: .*/rpc_connection_max: 4096/' '%s/config.yaml'",
             ba.home);
    ba_run(cmd);
    ba.port = ba_free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", ba.port);
    char log[700];
    snprintf(log, sizeof(log), "%s/node.log", ba.home);
    ba.node_pid = fork();
    if (ba.node_pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(ba.kumo_bin, "kumo", "node", "start", "--home", ba.home, "--rpc-listen", listen,
              (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = ba_now_ms() + BA_WAIT_MS;
    while (ba_metric("kumo_height") < 1u) {
        if (ba_now_ms() > deadline) {
            fprintf(stderr, "bench_api: the node did not start (see %s)\n", log);
            exit(1);
        }
        usleep(100000);
    }
}

static void ba_stop(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, sig);
        int status;
        waitpid(pid, &status, 0);
    }
}

int main(int argc, char **argv)
{
    uint32_t seconds = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 15u;
    if (seconds == 0) {
        seconds = 1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        return 1;
    }
    self[len] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(ba.kumo_bin, sizeof(ba.kumo_bin), "%s/kumo", self);
    ba.home = bench_tmpdir("bench-api");
    ba_node_start();

    uint64_t idle_p50 = 0;
    uint64_t idle_p99 = 0;
    uint64_t idle_count = ba_measure(seconds, &idle_p50, &idle_p99);

    ba.attacker_pid = fork();
    if (ba.attacker_pid == 0) {
        ba_attacker_run();
        _exit(0);
    }
    /* most of them open (some are always being reopened), within 20 s */
    uint64_t deadline = ba_now_ms() + 20000u;
    uint64_t held = 0;
    while ((held = ba_metric("kumo_rpc_connections")) < BA_HOSTILE_COUNT * 95u / 100u &&
           ba_now_ms() < deadline) {
        usleep(200000);
    }
    uint64_t held_p50 = 0;
    uint64_t held_p99 = 0;
    uint64_t held_count = ba_measure(seconds, &held_p50, &held_p99);
    uint64_t held_after = ba_metric("kumo_rpc_connections");
    uint64_t timeouts = ba_metric("kumo_rpc_request_timeouts_total");
    uint64_t evicted = ba_metric("kumo_rpc_connections_evicted_total");
    uint64_t refused = ba_metric("kumo_rpc_connections_refused_total");
    ba_stop(ba.attacker_pid, SIGKILL);
    ba_stop(ba.node_pid, SIGTERM);
    bench_rmdir(ba.home);

    bench_result("api_status_requests_baseline", idle_count, "requests");
    bench_result("api_status_p50_us_baseline", idle_p50, "us");
    bench_result("api_status_p99_us_baseline", idle_p99, "us");
    bench_result("api_hostile_connections_held", held < held_after ? held : held_after, "conns");
    bench_result("api_status_requests_hostile", held_count, "requests");
    bench_result("api_status_p50_us_hostile", held_p50, "us");
    bench_result("api_status_p99_us_hostile", held_p99, "us");
    bench_result("api_request_timeouts", timeouts, "conns");
    bench_result("api_connections_evicted", evicted, "conns");
    bench_result("api_connections_refused", refused, "conns");
    bench_ratio("api_status_p99_ratio", held_p99, idle_p99);
    return 0;
}
