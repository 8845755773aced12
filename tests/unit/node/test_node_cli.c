/*
 * test_node_cli.c - proves the node's commands as real processes: `kumo init`,
 * `kumo genesis add-account` and `kumo node start` exit 0/1/2 as documented (every --help
 * answers with an example), a started node logs event=node_started with its height and API
 * address, makes blocks (seen through GET /status on loopback), stops cleanly with exit 0 on
 * SIGTERM and on SIGINT, and resumes at its height when started again. The binary is
 * $KUMO_BIN or ./kumo (ctest runs in the build dir); without one the test is skipped.
 * Readiness is the node_started log line and /status polls against deadlines, never a sleep.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cli_env {
    char kumo[512];
    char *dir;
    char home[600];
} cli_env_t;

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs argv (argv[0] replaced by the binary) with stdout/stderr to /dev/null; exit code. */
static int run(const cli_env_t *env, char **argv)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        null = freopen("/dev/null", "w", stderr);
        (void)null;
        argv[0] = (char *)(uintptr_t)env->kumo;
        execv(env->kumo, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

typedef struct node_proc {
    pid_t pid;
    int err_fd; /* the node's stderr */
    char log[16384];
    size_t log_len;
    uint16_t port;
    uint64_t height; /* from node_started */
} node_proc_t;

/* Reads the node's stderr until the line with needle appears or the deadline passes. */
static const char *proc_wait_line(node_proc_t *p, const char *needle, uint64_t deadline_ms)
{
    for (;;) {
        p->log[p->log_len] = '\0';
        const char *hit = strstr(p->log, needle);
        if (hit != NULL && strchr(hit, '\n') != NULL) {
            return hit;
        }
        uint64_t now = ms_now();
        if (now >= deadline_ms || p->log_len + 1u >= sizeof(p->log)) {
            return NULL;
        }
        struct pollfd pfd = {.fd = p->err_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(deadline_ms - now));
        if (pr <= 0) {
            continue;
        }
        ssize_t n = read(p->err_fd, p->log + p->log_len, sizeof(p->log) - 1u - p->log_len);
        if (n <= 0) {
            return NULL;
        }
        p->log_len += (size_t)n;
    }
}

static void proc_start(const cli_env_t *env, node_proc_t *p)
{
    memset(p, 0, sizeof(*p));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        execl(env->kumo, env->kumo, "node", "start", "--home", env->home, "--rpc-listen",
              "127.0.0.1:0", "--block-interval-ms", "20", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    p->err_fd = fds[0];
    const char *line = proc_wait_line(p, "event=node_started", ms_now() + 30000u);
    if (line == NULL) {
        kill(p->pid, SIGKILL);
        fail_msg("node did not start; log:\n%s", p->log);
    }
    const char *h = strstr(line, "height=");
    const char *r = strstr(line, "rpc=127.0.0.1:");
    assert_non_null(h);
    assert_non_null(r);
    p->height = strtoull(h + 7, NULL, 10);
    p->port = (uint16_t)strtoul(r + 14, NULL, 10);
    assert_true(p->port != 0);
}

/* GET /status once; the height, or UINT64_MAX when no answer. */
static uint64_t status_height(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint64_t height = UINT64_MAX;
    char buf[8192];
    size_t len = 0;
    static const char req[] = "GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        write(s, req, sizeof(req) - 1u) == (ssize_t)(sizeof(req) - 1u)) {
        ssize_t n;
        while (len + 1u < sizeof(buf) && (n = read(s, buf + len, sizeof(buf) - 1u - len)) > 0) {
            len += (size_t)n;
        }
        buf[len] = '\0';
        const char *h = strstr(buf, "\"height\"");
        if (h != NULL) {
            h = strchr(h + 8, ':');
            while (h != NULL && (*h == ':' || *h == ' ' || *h == '"')) {
                h++;
            }
            height = h != NULL ? strtoull(h, NULL, 10) : UINT64_MAX;
        }
    }
    close(s);
    return height;
}

static uint64_t wait_height(uint16_t port, uint64_t at_least)
{
    uint64_t deadline = ms_now() + 30000u;
    while (ms_now() < deadline) {
        uint64_t h = status_height(port);
        if (h != UINT64_MAX && h >= at_least) {
            return h;
        }
        struct pollfd none = {.fd = -1};
        (void)poll(&none, 1, 5); /* a poll interval between /status requests, not a wait */
    }
    fail_msg("height %" PRIu64 " not reached on port %u", at_least, port);
    return 0;
}

/* Signals the node and requires a clean exit 0 within the deadline. */
static void proc_stop(node_proc_t *p, int sig)
{
    assert_int_equal(kill(p->pid, sig), 0);
    assert_non_null(proc_wait_line(p, "event=node_stopped", ms_now() + 30000u));
    int status = 0;
    assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("node exit status 0x%x; log:\n%s", status, p->log);
    }
    close(p->err_fd);
}

static bool env_make(cli_env_t *env)
{
    memset(env, 0, sizeof(*env));
    const char *bin = getenv("KUMO_BIN");
    (void)snprintf(env->kumo, sizeof(env->kumo), "%s",
                   bin != NULL && bin[0] != '\0' ? bin : "./kumo");
    if (access(env->kumo, X_OK) != 0) {
        return false;
    }
    env->dir = kumo_test_tmpdir_make("node-cli");
    assert_non_null(env->dir);
    (void)snprintf(env->home, sizeof(env->home), "%s/home", env->dir);
    return true;
}

static void test_node_cli_exit_codes(void **state)
{
    (void)state;
    cli_env_t env;
    if (!env_make(&env)) {
        skip();
    }
    char *h = env.home;
    const struct {
        const char *name;
        char *argv[8];
        int want;
    } cases[] = {
        {"init help", {"", "init", "--help"}, 0},
        {"genesis help", {"", "genesis", "--help"}, 0},
        {"node help", {"", "node", "start", "--help"}, 0},
        {"init without chain id", {"", "init", "--home", h}, 2},
        {"init unknown option", {"", "init", "--home", h, "--chain", "x"}, 2},
        {"start before init", {"", "node", "start", "--home", h}, 1},
        {"init", {"", "init", "--home", h, "--chain-id", "cli-test"}, 0},
        {"init twice", {"", "init", "--home", h, "--chain-id", "cli-test"}, 1},
        {"add-account bad address", {"", "genesis", "add-account", "--home", h, "kumo1x", "5"}, 2},
        {"add-account bad amount",
         {"", "genesis", "add-account", "--home", h, "kumo1lgq4epxs7dg574ndcugxam9etk0sapzngvtlmu",
          "-5"},
         2},
        {"add-account",
         {"", "genesis", "add-account", "--home", h, "kumo1lgq4epxs7dg574ndcugxam9etk0sapzngvtlmu",
          "5"},
         0},
        {"node unknown subcommand", {"", "node", "stop", "--home", h}, 2},
        {"start bad interval", {"", "node", "start", "--home", h, "--block-interval-ms", "0"}, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[8];
        memcpy(argv, cases[i].argv, sizeof(argv));
        int rc = run(&env, argv);
        if (rc != cases[i].want) {
            fail_msg("%s: exit %d, want %d", cases[i].name, rc, cases[i].want);
        }
    }
    kumo_test_tmpdir_remove(env.dir);
}

static void test_node_cli_start_stop_resume(void **state)
{
    (void)state;
    cli_env_t env;
    if (!env_make(&env)) {
        skip();
    }
    char *argv[] = {"", "init", "--home", env.home, "--chain-id", "cli-test", NULL};
    assert_int_equal(run(&env, argv), 0);
    node_proc_t p;
    proc_start(&env, &p);
    assert_true(p.height == 0);
    uint64_t reached = wait_height(p.port, 3);
    proc_stop(&p, SIGTERM);
    /* Started again, it resumes at least where it stopped, then stops on SIGINT too. */
    proc_start(&env, &p);
    assert_true(p.height >= reached);
    (void)wait_height(p.port, p.height + 1u);
    proc_stop(&p, SIGINT);
    kumo_test_tmpdir_remove(env.dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_cli_exit_codes),
        cmocka_unit_test(test_node_cli_start_stop_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
