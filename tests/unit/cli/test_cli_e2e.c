/*
 * test_cli_e2e.c - the CLI against a real node, with real processes on loopback: the group
 * setup makes keys with `kumo keys add`, a node home with `kumo init` and `kumo genesis
 * add-account`, and starts `kumo node start` on an ephemeral port (read from its
 * node_started log line); the tests then drive the whole market lifecycle through `kumo tx`
 * and assert on `kumo query ... --output json` (parsed with jansson) and on balances, which
 * must add up to the ukumo: fees, lease payments, interest. Also: key files are 0600, an
 * encrypted key is unusable without its passphrase, and errors exit 1 or 2 with a hint; a grant
 * lets another key deposit for the tenant (grant create, exec, query, revoke).
 *
 * The binary is $KUMO_BIN or ./kumo (ctest runs tests in the build dir). If the node commands
 * are not built yet, the tests skip. Every wait polls a condition against a deadline; the node
 * is stopped with SIGTERM in teardown (SIGKILL if it hangs) and its log printed on failure.
 * Arguments are split on spaces, so paths must not contain spaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/core.h"
#include "helpers/testutil.h"

#define E2E_BALANCE_UKUMO 10000000ull
#define E2E_BLOCK_MS      "100"
#define E2E_OUT_BYTES_MAX (4u * 1024u * 1024u)
#define E2E_ARG_COUNT_MAX 64

typedef struct e2e {
    bool skip;
    char skip_why[256];
    char *dir;
    char kumo[PATH_MAX];
    char cli_home[1100];
    char node_home[1100];
    char node_log[1100];
    char err_path[1100];
    char node_url[128];
    pid_t node_pid;
    char tenant[64];
    char east[64];
    char west[64];
    char err_text[8192]; /* stderr of the last command */
} e2e_t;

static e2e_t g;

static uint64_t e2e_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The pause between two polls of a condition (never a synchronisation by itself). */
static void e2e_poll_pause(void)
{
    struct timespec ts = {0, 50 * 1000 * 1000};
    (void)nanosleep(&ts, NULL);
}

static void e2e_file_print(const char *path, const char *title)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    fprintf(stderr, "---- %s (%s) ----\n", title, path);
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
    }
    fprintf(stderr, "---- end ----\n");
    (void)fclose(f);
}

static void e2e_stderr_load(void)
{
    g.err_text[0] = '\0';
    FILE *f = fopen(g.err_path, "r");
    if (f != NULL) {
        size_t n = fread(g.err_text, 1, sizeof(g.err_text) - 1, f);
        g.err_text[n] = '\0';
        (void)fclose(f);
    }
}

static void e2e_child_exec(char **argv, int out_fd, const char *stdin_path)
{
    int in = open(stdin_path != NULL ? stdin_path : "/dev/null", O_RDONLY);
    int err = open(g.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err, 2) < 0) {
        _exit(127);
    }
    execv(g.kumo, argv);
    _exit(127);
}

/* Runs kumo with the space-separated arguments; stdout into *out (malloc'd, may be NULL),
 * stderr into g.err_text. Returns the exit code (-1 if it did not exit normally). */
static int e2e_vrun(const char *stdin_path, char **out, const char *fmt, va_list ap)
    KUMO_PRINTF(3, 0);
static int e2e_vrun(const char *stdin_path, char **out, const char *fmt, va_list ap)
{
    char line[4096];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    char *argv[E2E_ARG_COUNT_MAX];
    int argc = 0;
    argv[argc++] = g.kumo;
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        assert_true(argc < E2E_ARG_COUNT_MAX - 1);
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)close(fds[0]);
        e2e_child_exec(argv, fds[1], stdin_path);
    }
    (void)close(fds[1]);
    size_t cap = 65536;
    size_t len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while ((r = read(fds[0], buf + len, cap - len - 1)) > 0 || (r < 0 && errno == EINTR)) {
        len += r > 0 ? (size_t)r : 0;
        if (len + 1 == cap && cap < E2E_OUT_BYTES_MAX) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    (void)close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    e2e_stderr_load();
    if (out != NULL) {
        *out = buf;
    } else {
        free(buf);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int e2e_run(char **out, const char *fmt, ...) KUMO_PRINTF(2, 3);
static int e2e_run(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = e2e_vrun(NULL, out, fmt, ap);
    va_end(ap);
    return rc;
}

static int e2e_run_in(const char *stdin_path, char **out, const char *fmt, ...) KUMO_PRINTF(3, 4);
static int e2e_run_in(const char *stdin_path, char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = e2e_vrun(stdin_path, out, fmt, ap);
    va_end(ap);
    return rc;
}

/* Runs a command that must succeed; prints its stderr and the node log if not. */
static void e2e_ok(const char *fmt, ...) KUMO_PRINTF(1, 2);
static void e2e_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int rc = e2e_vrun(NULL, &out, fmt, ap);
    va_end(ap);
    if (rc != 0) {
        fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", out, g.err_text);
        e2e_file_print(g.node_log, "node log");
        free(out);
        fail_msg("kumo %s: exit %d", fmt, rc);
    }
    free(out);
}

/* Runs a client command with --home and --output json; returns its parsed stdout, or NULL if
 * it failed (allow_fail) . */
static json_t *e2e_json_try(bool allow_fail, const char *args)
{
    char *out = NULL;
    int rc = e2e_run(&out, "%s --home %s --output json", args, g.cli_home);
    json_t *j = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    if (j == NULL && !allow_fail) {
        fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", out, g.err_text);
        free(out);
        fail_msg("kumo %s: exit %d or bad JSON", args, rc);
    }
    free(out);
    return j;
}

static json_t *e2e_json(const char *fmt, ...) KUMO_PRINTF(1, 2);
static json_t *e2e_json(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    return e2e_json_try(false, args);
}

static uint64_t e2e_u64(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s == NULL) {
        return json_is_integer(json_object_get(obj, key))
                   ? (uint64_t)json_integer_value(json_object_get(obj, key))
                   : 0;
    }
    return strtoull(s, NULL, 10);
}

static uint64_t e2e_balance(const char *who)
{
    json_t *j = e2e_json("query account %s", who);
    uint64_t b = e2e_u64(j, "balance");
    json_decref(j);
    return b;
}

static uint64_t e2e_height(void)
{
    json_t *j = e2e_json("query status");
    uint64_t h = e2e_u64(j, "height");
    json_decref(j);
    return h;
}

/* Number of items a list query returns. */
static size_t e2e_count(const char *args)
{
    json_t *j = e2e_json_try(true, args);
    size_t n = json_array_size(json_object_get(j, "items"));
    json_decref(j);
    return n;
}

/* Polls until `query <args>` lists at least want items. */
static void e2e_wait_count(const char *args, size_t want, uint64_t timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + timeout_ms;
    while (e2e_count(args) < want) {
        if (e2e_now_ms() > deadline) {
            e2e_file_print(g.node_log, "node log");
            fail_msg("timed out waiting for %zu items of: kumo %s", want, args);
        }
        e2e_poll_pause();
    }
}

static void e2e_wait_height(uint64_t height, uint64_t timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + timeout_ms;
    while (e2e_height() < height) {
        if (e2e_now_ms() > deadline) {
            fail_msg("timed out waiting for height %" PRIu64, height);
        }
        e2e_poll_pause();
    }
}

/* ---- fixture ---- */

static int e2e_address(const char *name, char *out, size_t cap)
{
    char *text = NULL;
    int rc = e2e_run(&text, "keys show %s --address --home %s", name, g.cli_home);
    if (rc == 0) {
        (void)snprintf(out, cap, "%.*s", (int)strcspn(text, "\n"), text);
    }
    free(text);
    return rc;
}

/* Reads the node's API port from its node_started log line ("rpc=127.0.0.1:PORT"). */
static bool e2e_node_port_read(char *url, size_t cap)
{
    FILE *f = fopen(g.node_log, "r");
    if (f == NULL) {
        return false;
    }
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, "event=node_started");
        const char *rpc = p != NULL ? strstr(p, " rpc=") : NULL;
        if (rpc != NULL) {
            (void)snprintf(url, cap, "http://%.*s", (int)strcspn(rpc + 5, " \n"), rpc + 5);
            found = true;
        }
    }
    (void)fclose(f);
    return found;
}

static int e2e_node_start(void)
{
    g.node_pid = fork();
    if (g.node_pid < 0) {
        return -1;
    }
    if (g.node_pid == 0) {
        int log = open(g.node_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (log < 0 || in < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
            _exit(127);
        }
        execl(g.kumo, g.kumo, "node", "start", "--home", g.node_home, "--rpc-listen", "127.0.0.1:0",
              "--block-interval-ms", E2E_BLOCK_MS, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = e2e_now_ms() + 20000;
    while (!e2e_node_port_read(g.node_url, sizeof(g.node_url))) {
        int status = 0;
        if (waitpid(g.node_pid, &status, WNOHANG) == g.node_pid || e2e_now_ms() > deadline) {
            e2e_file_print(g.node_log, "node log");
            g.node_pid = 0;
            return -1;
        }
        e2e_poll_pause();
    }
    (void)setenv("KUMO_NODE", g.node_url, 1);
    while (e2e_run(NULL, "query status") != 0) {
        if (e2e_now_ms() > deadline) {
            return -1;
        }
        e2e_poll_pause();
    }
    return 0;
}

static int e2e_node_stop(void)
{
    if (g.node_pid <= 0) {
        return 0;
    }
    (void)kill(g.node_pid, SIGTERM);
    uint64_t deadline = e2e_now_ms() + 10000;
    int status = 0;
    while (waitpid(g.node_pid, &status, WNOHANG) != g.node_pid) {
        if (e2e_now_ms() > deadline) {
            (void)kill(g.node_pid, SIGKILL);
            (void)waitpid(g.node_pid, &status, 0);
            g.node_pid = 0;
            fprintf(stderr, "node ignored SIGTERM for 10 s\n");
            return -1;
        }
        e2e_poll_pause();
    }
    g.node_pid = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int e2e_skip(const char *why)
{
    g.skip = true;
    (void)snprintf(g.skip_why, sizeof(g.skip_why), "%s", why);
    fprintf(stderr, "test_cli_e2e: SKIP: %s\n", why);
    return 0;
}

static int e2e_keys_and_home(void)
{
    static const char *const names[] = {"tenant", "east", "west"};
    char *addrs[] = {g.tenant, g.east, g.west};
    for (size_t i = 0; i < 3; i++) {
        if (e2e_run(NULL, "keys add %s --home %s", names[i], g.cli_home) != 0 ||
            e2e_address(names[i], addrs[i], sizeof(g.tenant)) != 0) {
            fprintf(stderr, "keys add %s: %s\n", names[i], g.err_text);
            return -1;
        }
    }
    if (e2e_run(NULL, "init --home %s --chain-id kumo-e2e", g.node_home) != 0) {
        if (strstr(g.err_text, "not implemented") != NULL) {
            return e2e_skip("kumo init is not implemented yet (node issue in progress)");
        }
        fprintf(stderr, "kumo init: %s\n", g.err_text);
        return -1;
    }
    for (size_t i = 0; i < 3; i++) {
        if (e2e_run(NULL, "genesis add-account --home %s %s %llu", g.node_home, addrs[i],
                    (unsigned long long)E2E_BALANCE_UKUMO) != 0) {
            fprintf(stderr, "genesis add-account: %s\n", g.err_text);
            return -1;
        }
    }
    /* The test confirms by hand, one CLI process per step: a reconfirmation period of 300
     * blocks (30 s) keeps a slow run (ASan, a busy machine) from letting a lease go stale. */
    char path[1200];
    (void)snprintf(path, sizeof(path), "%s/genesis.json", g.node_home);
    json_t *gen = json_load_file(path, 0, NULL);
    json_t *params = json_object_get(gen, "params");
    int rc = params != NULL &&
                     json_object_set_new(params, "reconfirmation_period", json_string("300")) == 0
                 ? json_dump_file(gen, path, JSON_INDENT(2))
                 : -1;
    json_decref(gen);
    return rc;
}

static int e2e_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    const char *bin = getenv("KUMO_BIN");
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", bin != NULL && bin[0] != '\0' ? bin : "./kumo");
    if (access(g.kumo, X_OK) != 0) {
        return e2e_skip("no kumo binary (set KUMO_BIN or run in the build dir)");
    }
    /* Children run with other working directories; name the binary absolutely. */
    char abs[PATH_MAX];
    assert_non_null(realpath(g.kumo, abs));
    (void)snprintf(g.kumo, sizeof(g.kumo), "%s", abs);
    g.dir = kumo_test_tmpdir_make("kumo-cli-e2e");
    assert_non_null(g.dir);
    (void)snprintf(g.cli_home, sizeof(g.cli_home), "%s/cli", g.dir);
    (void)snprintf(g.node_home, sizeof(g.node_home), "%s/node", g.dir);
    (void)snprintf(g.node_log, sizeof(g.node_log), "%s/node.log", g.dir);
    (void)snprintf(g.err_path, sizeof(g.err_path), "%s/stderr.txt", g.dir);
    if (e2e_keys_and_home() < 0) {
        return -1;
    }
    if (!g.skip && e2e_node_start() < 0) {
        if (strstr(g.err_text, "not implemented") != NULL) {
            return e2e_skip("kumo node start is not implemented yet");
        }
        return -1;
    }
    return 0;
}

static int e2e_teardown(void **state)
{
    (void)state;
    int rc = e2e_node_stop();
    if (rc < 0) {
        e2e_file_print(g.node_log, "node log");
    }
    if (g.dir != NULL) {
        kumo_test_tmpdir_remove(g.dir);
        g.dir = NULL;
    }
    return rc;
}

#define E2E_SKIP_IF_NEEDED()                              \
    do {                                                  \
        if (g.skip) {                                     \
            fprintf(stderr, "skipped: %s\n", g.skip_why); \
            skip();                                       \
        }                                                 \
    } while (0)

static void e2e_file_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0600), 0);
}

static const char e2e_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBWTCCAQugAwIBAgIUGRnLhMsuKWDni6/ZMEoxsEU1rpQwBQYDK2VwMCIxIDAe\n"
    "BgNVBAMMF2t1bW8gZGVtbyBwcm92aWRlciByb290MB4XDTI2MTEyNTAwMTYxM1oX\n"
    "DTM2MTEyMjAwMTYxM1owIjEgMB4GA1UEAwwXa3VtbyBkZW1vIHByb3ZpZGVyIHJv\n"
    "b3QwKjAFBgMrZXADIQB4OVaLMNggNjGBgSqeDjUrdYoScvfK/LOGDZwWHFHxCaNT\n"
    "MFEwHQYDVR0OBBYEFDDQqzHiMX5GFO06tGFvvQrRJlaJMB8GA1UdIwQYMBaAFDDQ\n"
    "qzHiMX5GFO06tGFvvQrRJlaJMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAAZ+i\n"
    "J5HEA2hf+U+2pQA9GDyk7xbIGuJl8HJKDWr3n5/PIr57KiTVP2W8FM8qAb2Ua3DX\n"
    "+cU54F03wwXiny27BA==\n"
    "-----END CERTIFICATE-----\n";

/* The only lease of provider who, as JSON (decref it). */
static json_t *e2e_lease_of(const char *who)
{
    json_t *j = e2e_json("query leases --provider %s", who);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *lease = json_incref(json_array_get(items, 0));
    json_decref(j);
    return lease;
}

static void e2e_providers_register(void)
{
    char cert[1200];
    (void)snprintf(cert, sizeof(cert), "%s/ca.pem", g.dir);
    e2e_file_write(cert, e2e_cert_pem);
    e2e_ok("tx provider create --from east --host-uri https://east.example:8443 --region "
           "us-east --cert-file %s --attr tier=gold --wait --home %s",
           cert, g.cli_home);
    e2e_ok("tx provider create --from west --host-uri https://west.example:8443 --region "
           "us-west --cert-file %s --wait --home %s",
           cert, g.cli_home);
    assert_int_equal(e2e_count("query providers"), 2);
    json_t *p = e2e_json("query provider east");
    assert_string_equal(json_string_value(json_object_get(p, "region")), "us-east");
    assert_string_equal(json_string_value(json_object_get(p, "owner")), g.east);
    json_decref(p);
}

static void e2e_deploy(void)
{
    char manifest[1200];
    (void)snprintf(manifest, sizeof(manifest), "%s/manifest.txt", g.dir);
    e2e_file_write(manifest, "web: image=localhost/kumo-web:1 port=80 count=2\n"
                             "db: image=localhost/kumo-counter:1 port=6379 count=1\n");
    e2e_ok("tx deployment create --from tenant --dseq 7 --wait-blocks 2 --deposit 200000 "
           "--version-file %s --group name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,"
           "count=2,price=40,collateral=5000,persist --group name=db,region=us-west,cpu=1,"
           "memory=1Gi,storage=10Gi,count=1,price=60,collateral=10000 --wait --home %s",
           manifest, g.cli_home);
    assert_int_equal(e2e_count("query orders --owner tenant --state open"), 2);
    json_t *d = e2e_json("query deployment %s/7", g.tenant);
    assert_string_equal(json_string_value(json_object_get(d, "state")), "DEPLOYMENT_ACTIVE");
    assert_int_equal(e2e_u64(d, "escrow"), 200000);
    json_decref(d);
}

static void e2e_bid(void)
{
    e2e_ok("tx fulfillment create --from east %s/7/0/1 --price 35 --wait --home %s", g.tenant,
           g.cli_home);
    /* Without --price the bid copies the order's price (60). */
    e2e_ok("tx fulfillment create --from west %s/7/1/1 --wait --home %s", g.tenant, g.cli_home);
    json_t *f = e2e_json("query fulfillments --provider east");
    json_t *bid = json_array_get(json_object_get(f, "items"), 0);
    assert_int_equal(e2e_u64(bid, "price_total"), 70); /* 2 units x 35 */
    json_decref(f);
    f = e2e_json("query fulfillments --order tenant/7/1/1");
    bid = json_array_get(json_object_get(f, "items"), 0);
    assert_int_equal(e2e_u64(bid, "price_total"), 60);
    json_decref(f);
}

/* One confirmation by who after a few blocks: the provider's balance moves by exactly what
 * the lease paid plus interest minus the fee, and the payment is positive. */
static void e2e_confirm(const char *who, const char *order, uint64_t fee)
{
    json_t *before = e2e_lease_of(who);
    e2e_wait_height(e2e_u64(before, "last_paid_height") + 3, 20000);
    uint64_t balance_before = e2e_balance(who);
    e2e_ok("tx lease confirm --from %s %s --wait --home %s", who, order, g.cli_home);
    json_t *after = e2e_lease_of(who);
    uint64_t paid = e2e_u64(after, "total_paid") - e2e_u64(before, "total_paid");
    uint64_t interest = e2e_u64(after, "interest_paid") - e2e_u64(before, "interest_paid");
    assert_true(paid > 0);
    assert_int_equal(e2e_balance(who), balance_before - fee + paid + interest);
    json_decref(before);
    json_decref(after);
}

static void e2e_close_and_release(void)
{
    e2e_ok("tx deployment close --from tenant 7 --wait --home %s", g.cli_home);
    json_t *d = e2e_json("query deployment tenant/7");
    assert_string_equal(json_string_value(json_object_get(d, "state")), "DEPLOYMENT_CLOSING");
    json_decref(d);
    /* Ids may name their owner by key. */
    e2e_ok("tx lease confirm --from east tenant/7/0/1 --released --wait --home %s", g.cli_home);
    e2e_ok("tx lease confirm --from west %s/7/1/1 --released --wait --home %s", g.tenant,
           g.cli_home);
    /* The facilitator closes the deployment once every lease is released. */
    e2e_wait_count("query deployments --owner tenant --state closed", 1, 20000);
}

/* Each provider sent 4 txs (create, bid, confirm, release); the tenant 2 (create, close). */
static void e2e_balances_check(uint64_t fee)
{
    json_t *d = e2e_json("query deployment %s/7", g.tenant);
    uint64_t paid_total = e2e_u64(d, "total_paid");
    assert_int_equal(e2e_u64(d, "escrow"), 0);
    json_decref(d);
    assert_int_equal(e2e_balance("tenant"), E2E_BALANCE_UKUMO - 2 * fee - paid_total);
    uint64_t paid_sum = 0;
    static const char *const providers[] = {"east", "west"};
    for (size_t i = 0; i < 2; i++) {
        json_t *lease = e2e_lease_of(providers[i]);
        uint64_t paid = e2e_u64(lease, "total_paid");
        uint64_t want = E2E_BALANCE_UKUMO - 4 * fee + paid + e2e_u64(lease, "interest_paid");
        assert_int_equal(e2e_balance(providers[i]), want);
        assert_true(paid > 0);
        paid_sum += paid;
        json_decref(lease);
    }
    assert_int_equal(paid_sum, paid_total);
}

static void test_cli_lifecycle_pays_providers_and_closes(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    json_t *params = e2e_json("query params");
    uint64_t fee = e2e_u64(params, "min_fee");
    json_decref(params);
    e2e_providers_register();
    e2e_deploy();
    e2e_bid();
    e2e_wait_count("query leases --owner tenant --state active", 2, 20000);
    char order[128];
    (void)snprintf(order, sizeof(order), "%s/7/0/1", g.tenant);
    e2e_confirm("east", order, fee);
    (void)snprintf(order, sizeof(order), "%s/7/1/1", g.tenant);
    e2e_confirm("west", order, fee);
    e2e_close_and_release();
    e2e_balances_check(fee);
}

static void test_cli_keys_private_and_sealed_keys_need_the_passphrase(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    char pass[1200];
    char wrong[1200];
    char seed_file[1200];
    (void)snprintf(pass, sizeof(pass), "%s/pass", g.dir);
    (void)snprintf(wrong, sizeof(wrong), "%s/wrong", g.dir);
    (void)snprintf(seed_file, sizeof(seed_file), "%s/seed", g.dir);
    e2e_file_write(pass, "correct horse battery\n");
    e2e_file_write(wrong, "incorrect horse\n");
    e2e_ok("keys add locked --encrypt --passphrase-file %s --home %s", pass, g.cli_home);
    static const char *const names[] = {"tenant", "locked"};
    for (size_t i = 0; i < 2; i++) {
        char path[1300];
        struct stat st;
        (void)snprintf(path, sizeof(path), "%s/keyring/%s.key", g.cli_home, names[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    e2e_ok("tx bank send --from tenant locked 1kumo --wait --home %s", g.cli_home);
    /* No passphrase (stdin is /dev/null, empty) and a wrong one: refused before signing. */
    assert_int_equal(e2e_run(NULL, "tx bank send --from locked tenant 1 --home %s", g.cli_home), 1);
    assert_non_null(strstr(g.err_text, "passphrase"));
    assert_int_equal(e2e_run(NULL,
                             "tx bank send --from locked tenant 1 --passphrase-file %s "
                             "--home %s",
                             wrong, g.cli_home),
                     1);
    assert_non_null(strstr(g.err_text, "KUMO_EPASSPHRASE"));
    /* The right one from a file, then piped on stdin. */
    e2e_ok("tx bank send --from locked tenant 1 --passphrase-file %s --wait --home %s", pass,
           g.cli_home);
    assert_int_equal(
        e2e_run_in(pass, NULL, "tx bank send --from locked tenant 1 --wait --home %s", g.cli_home),
        0);
    json_t *acct = e2e_json("query account locked");
    assert_int_equal(e2e_u64(acct, "sequence"), 2);
    json_decref(acct);
    /* Export needs the explicit flag; the seed imports to the same address. */
    assert_int_equal(e2e_run(NULL, "keys export locked --home %s", g.cli_home), 2);
    char *seed = NULL;
    assert_int_equal(
        e2e_run_in(pass, &seed, "keys export locked --unsafe-export-seed --home %s", g.cli_home),
        0);
    assert_non_null(strstr(g.err_text, "WARNING"));
    assert_int_equal(strcspn(seed, "\n"), 64);
    e2e_file_write(seed_file, seed);
    free(seed);
    assert_int_equal(e2e_run_in(seed_file, NULL, "keys import copy --home %s", g.cli_home), 0);
    char a[64];
    char b[64];
    assert_int_equal(e2e_address("locked", a, sizeof(a)), 0);
    assert_int_equal(e2e_address("copy", b, sizeof(b)), 0);
    assert_string_equal(a, b);
}

static void test_cli_errors_exit_codes_and_hints(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    static const struct {
        const char *name;
        const char *args;
        int want_exit;
        const char *want_stderr;
    } cases[] = {
        {"fee below min_fee", "tx bank send --from tenant east 1 --fee 1", 1, "min_fee"},
        {"wrong chain id", "tx bank send --from tenant east 1 --chain-id other", 1,
         "KUMO_ECHAINID"},
        {"unknown key", "tx bank send --from nobody east 1", 1, "no key named"},
        {"unknown recipient", "tx bank send --from tenant nobody 1", 1, "neither"},
        {"bad amount", "tx bank send --from tenant east 1.5", 2, "kumo"},
        {"bad group spec", "tx deployment create --from tenant --group name=x --version 00", 2,
         "group"},
        {"bad order id", "tx fulfillment create --from east 5/0/1", 2, "order id"},
        {"unknown subcommand", "query nope", 2, "unknown subcommand"},
        {"node unreachable", "query status --node http://127.0.0.1:1", 1, "--node"},
        {"missing deployment", "query deployment 999 --owner tenant", 1, "KUMO_ENOTFOUND"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = e2e_run(NULL, "%s --home %s", cases[i].args, g.cli_home);
        if (rc != cases[i].want_exit || strstr(g.err_text, cases[i].want_stderr) == NULL) {
            fail_msg("%s: exit %d, stderr: %s", cases[i].name, rc, g.err_text);
        }
    }
    /* A tx hash from --wait output can be looked up. */
    json_t *ans = e2e_json("tx bank send --from tenant east 5 --wait");
    assert_string_equal(json_string_value(json_object_get(ans, "status")), "committed");
    json_t *tx = e2e_json("query tx %s", json_string_value(json_object_get(ans, "hash")));
    assert_int_equal(e2e_u64(tx, "height"), e2e_u64(ans, "height"));
    json_decref(tx);
    json_decref(ans);
}

/* Lists page with --limit and --page, and --all follows every cursor. */
static void test_cli_lists_paginate(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    json_t *first = e2e_json("query providers --limit 1");
    assert_int_equal(json_array_size(json_object_get(first, "items")), 1);
    const char *next = json_string_value(json_object_get(first, "next"));
    assert_non_null(next);
    json_t *second = e2e_json("query providers --limit 1 --page %s", next);
    assert_int_equal(json_array_size(json_object_get(second, "items")), 1);
    const json_t *a = json_array_get(json_object_get(first, "items"), 0);
    const json_t *b = json_array_get(json_object_get(second, "items"), 0);
    assert_string_not_equal(json_string_value(json_object_get(a, "owner")),
                            json_string_value(json_object_get(b, "owner")));
    json_decref(second);
    json_decref(first);
    json_t *all = e2e_json("query providers --limit 1 --all");
    assert_int_equal(json_array_size(json_object_get(all, "items")), 2);
    assert_true(json_is_null(json_object_get(all, "next")));
    json_decref(all);
    /* Text mode says how to get the next page, on stderr. */
    char *out = NULL;
    assert_int_equal(e2e_run(&out, "query providers --limit 1 --home %s", g.cli_home), 0);
    assert_non_null(strstr(out, "us-"));
    assert_non_null(strstr(g.err_text, "--page"));
    free(out);
}

/* Back-to-back txs of one key without --wait: the second finds the committed sequence taken
 * by the first (pending) and signs again at the sequence the mempool names. */
static void test_cli_back_to_back_txs_pipeline(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    json_t *acct = e2e_json("query account west");
    uint64_t seq = e2e_u64(acct, "sequence");
    json_decref(acct);
    uint64_t east_before = e2e_balance("east");
    for (int i = 0; i < 5; i++) {
        e2e_ok("tx bank send --from west east %d --home %s", 1000 + i, g.cli_home);
    }
    uint64_t deadline = e2e_now_ms() + 20000;
    for (;;) {
        acct = e2e_json("query account west");
        uint64_t now = e2e_u64(acct, "sequence");
        json_decref(acct);
        if (now == seq + 5) {
            break;
        }
        assert_true(e2e_now_ms() < deadline);
        e2e_poll_pause();
    }
    assert_int_equal(e2e_balance("east"), east_before + 5010);
    /* The identical tx again while the first is pending is refused, not sent twice. */
    assert_int_equal(
        e2e_run(NULL, "tx bank send --from west east 7 --memo twice --home %s", g.cli_home), 0);
    int rc = e2e_run(NULL, "tx bank send --from west east 7 --memo twice --home %s", g.cli_home);
    /* Unless a block committed the first in between (then the second gets the next sequence). */
    assert_true(rc == 0 || (rc == 1 && strstr(g.err_text, "KUMO_EEXIST") != NULL));
}

/* A tenant lets east top up one deployment: east signs and pays the fee, the tenant's balance
 * pays the deposit, the grant counts the spend, the chain refuses more than the limit, and a
 * revoked grant lets nothing through. */
static void test_cli_grants_delegate_deposits(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    json_t *params = e2e_json("query params");
    uint64_t fee = e2e_u64(params, "min_fee");
    json_decref(params);
    e2e_ok("tx deployment create --from tenant --dseq 11 --deposit 200000 --version "
           "0101010101010101010101010101010101010101010101010101010101010101 --group name=web,"
           "region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=1,price=40,collateral=100 "
           "--wait --home %s",
           g.cli_home);
    e2e_ok("tx grant create --from tenant east 11 msgs=deposit,update expiry=1000000 "
           "max_price=100 max_count=2 regions=us-east spend_limit=50000 --wait --home %s",
           g.cli_home);
    uint64_t tenant_before = e2e_balance("tenant");
    uint64_t east_before = e2e_balance("east");
    e2e_ok("tx grant exec --granter tenant deployment deposit --from east 11 30000 --wait "
           "--home %s",
           g.cli_home);
    assert_int_equal(e2e_balance("tenant"), tenant_before - 30000);
    assert_int_equal(e2e_balance("east"), east_before - fee);
    json_t *d = e2e_json("query deployment tenant/11");
    assert_int_equal(e2e_u64(d, "escrow"), 230000);
    json_decref(d);
    /* The grantee's key from $KUMO_KEY, with a home that holds no keyring (a management
     * workload's way); a malformed seed is refused before anything is sent. */
    char *seed = NULL;
    assert_int_equal(e2e_run(&seed, "keys export east --unsafe-export-seed --home %s", g.cli_home),
                     0);
    seed[strcspn(seed, "\n")] = '\0';
    char bare[1200];
    (void)snprintf(bare, sizeof(bare), "%s/bare-home", g.dir);
    assert_int_equal(setenv("KUMO_KEY", "00zz", 1), 0);
    int rc = e2e_run(NULL, "tx grant exec --granter %s deployment deposit 11 1000 --wait --home %s",
                     g.tenant, bare);
    if (rc != 1 || strstr(g.err_text, "KUMO_KEY") == NULL) {
        fail_msg("a malformed $KUMO_KEY: exit %d, stderr: %s", rc, g.err_text);
    }
    assert_int_equal(setenv("KUMO_KEY", seed, 1), 0);
    rc = e2e_run(NULL, "tx grant exec --granter %s deployment deposit 11 1000 --wait --home %s",
                 g.tenant, bare);
    assert_int_equal(unsetenv("KUMO_KEY"), 0);
    free(seed);
    if (rc != 0) {
        fail_msg("deposit with the key in $KUMO_KEY: exit %d, stderr: %s", rc, g.err_text);
    }
    char keyring[1300];
    (void)snprintf(keyring, sizeof(keyring), "%s/keyring", bare);
    assert_int_not_equal(access(keyring, F_OK), 0);
    tenant_before -= 1000;
    east_before -= fee;
    json_t *gr = e2e_json("query grants --granter tenant --grantee east");
    json_t *item = json_array_get(json_object_get(gr, "items"), 0);
    assert_int_equal(e2e_u64(item, "spend_used"), 31000);
    assert_int_equal(e2e_u64(item, "dseq"), 11);
    json_decref(gr);
    rc = e2e_run(NULL,
                 "tx grant exec --granter tenant deployment deposit --from east 11 30000 "
                 "--wait --home %s",
                 g.cli_home);
    if (rc != 1 || strstr(g.err_text, "KUMO_EGRANTSPEND") == NULL ||
        strstr(g.err_text, "limit of the grant") == NULL) {
        fail_msg("deposit over the spend limit: exit %d, stderr: %s", rc, g.err_text);
    }
    assert_int_equal(e2e_balance("tenant"), tenant_before - 30000);
    e2e_ok("tx grant revoke --from tenant east 11 --wait --home %s", g.cli_home);
    assert_int_equal(e2e_count("query grants --grantee east"), 0);
    rc = e2e_run(NULL,
                 "tx grant exec --granter tenant deployment deposit --from east 11 1 --wait "
                 "--home %s",
                 g.cli_home);
    if (rc != 1 || strstr(g.err_text, "KUMO_EGRANTNONE") == NULL) {
        fail_msg("deposit after the revoke: exit %d, stderr: %s", rc, g.err_text);
    }
}

/* `kumo stack convert --out` writes exactly what it prints without --out (mode 0644, replacing
 * an older file); an --out it cannot write is an error that leaves nothing behind. */
static void test_cli_stack_convert_out(void **state)
{
    (void)state;
    E2E_SKIP_IF_NEEDED();
    const char *src = getenv("KUMO_SOURCE_DIR");
    char sdl[1024];
    char out[1024];
    (void)snprintf(sdl, sizeof(sdl), "%s/tests/vectors/akash/web.yml", src != NULL ? src : ".");
    (void)snprintf(out, sizeof(out), "%s/converted.yml", g.dir);
    char *printed = NULL;
    assert_int_equal(e2e_run(&printed, "stack convert %s", sdl), 0);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    assert_true(fputs("older content that is longer than nothing\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(e2e_run(NULL, "stack convert %s --out %s", sdl, out), 0);
    static char written[64u * 1024u];
    f = fopen(out, "rb");
    assert_non_null(f);
    size_t len = fread(written, 1, sizeof(written), f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(len, strlen(printed));
    assert_memory_equal(written, printed, len);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    free(printed);
    char bad[1100];
    (void)snprintf(bad, sizeof(bad), "%s/no-such-dir/x.yml", g.dir);
    assert_int_not_equal(e2e_run(NULL, "stack convert %s --out %s", sdl, bad), 0);
    assert_non_null(strstr(g.err_text, "no-such-dir"));
    assert_int_not_equal(access(bad, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_lifecycle_pays_providers_and_closes),
        cmocka_unit_test(test_cli_keys_private_and_sealed_keys_need_the_passphrase),
        cmocka_unit_test(test_cli_errors_exit_codes_and_hints),
        cmocka_unit_test(test_cli_lists_paginate),
        cmocka_unit_test(test_cli_back_to_back_txs_pipeline),
        cmocka_unit_test(test_cli_grants_delegate_deposits),
        cmocka_unit_test(test_cli_stack_convert_out),
    };
    return cmocka_run_group_tests(tests, e2e_setup, e2e_teardown);
}
