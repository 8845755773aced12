/*
 * test_home_lock.c - a second `kumo node start` on the home of a running node must fail
 * before it touches the store or the WAL, with an error naming the home and the running
 * node's pid, and the first node must keep running.
 *
 * How: a single-validator testnet; its node is frozen (SIGSTOP, which keeps its lock) so that
 * its own writes cannot change the files; the second start runs to completion; every file of
 * the node's data directory and its signer state must have the same size and modification
 * time as before; then the first node is thawed and must keep committing.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/net/testnet.h"
#include "helpers/testutil.h"

#define FILE_COUNT_MAX 16u

typedef struct file_stamp {
    char path[PATH_MAX];
    off_t size;
    struct timespec mtime;
} file_stamp_t;

static kumo_test_net_t net;

static void stamp_take(const char *path, file_stamp_t *out)
{
    struct stat st;
    (void)snprintf(out->path, sizeof(out->path), "%s", path);
    assert_int_equal(stat(path, &st), 0);
    out->size = st.st_size;
    out->mtime = st.st_mtim;
}

/* The data directory's files and the signer state. */
static uint32_t stamps_take(file_stamp_t *out)
{
    char dir[PATH_MAX];
    kumo_test_net_node_path(&net, 0, "data", dir, sizeof(dir));
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint32_t n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        assert_true(n < FILE_COUNT_MAX - 1u);
        char path[PATH_MAX + 256];
        int len = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_true(len > 0 && (size_t)len < PATH_MAX);
        stamp_take(path, &out[n++]);
    }
    (void)closedir(d);
    char signer[PATH_MAX];
    kumo_test_net_node_path(&net, 0, "signer_state", signer, sizeof(signer));
    stamp_take(signer, &out[n++]);
    return n;
}

/* The text of dir/cmd.log (where the harness writes what kumo commands print). */
static char *cmd_log_read(void)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/cmd.log", net.dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[256 * 1024];
    size_t len = fread(text, 1, sizeof(text) - 1u, f);
    text[len] = '\0';
    (void)fclose(f);
    return text;
}

static int net_setup(void **state)
{
    (void)state;
    if (kumo_test_net_start(&net, 1, 200, NULL) != 0) {
        return -1;
    }
    kumo_test_net_wait_height(&net, 1u, 3);
    return 0;
}

static int net_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&net);
    return 0;
}

static void test_home_lock_second_start_fails_before_opening_anything(void **state)
{
    (void)state;
    pid_t first = kumo_test_net_pid(&net, 0);
    assert_true(first > 0);
    assert_int_equal(kill(first, SIGSTOP), 0);
    kumo_test_pause_ms(300); /* let a write in flight finish before the files are read */
    file_stamp_t before[FILE_COUNT_MAX];
    file_stamp_t after[FILE_COUNT_MAX];
    uint32_t n = stamps_take(before);
    assert_true(n >= 2u);
    char home[PATH_MAX];
    kumo_test_net_node_path(&net, 0, "", home, sizeof(home));
    home[strlen(home) - 1u] = '\0'; /* no trailing slash */
    size_t log_before = strlen(cmd_log_read());
    int rc = kumo_test_net_kumo(&net, "node start --home %s", home);
    uint32_t n_after = stamps_take(after);
    assert_int_equal(kill(first, SIGCONT), 0);
    const char *out = cmd_log_read() + log_before;
    fprintf(stderr, "second start (exit %d) said: %s", rc, out);
    assert_int_equal(n_after, n);
    for (uint32_t i = 0; i < n; i++) {
        if (before[i].size != after[i].size || before[i].mtime.tv_sec != after[i].mtime.tv_sec ||
            before[i].mtime.tv_nsec != after[i].mtime.tv_nsec) {
            fail_msg("%s changed (size %lld -> %lld)", before[i].path, (long long)before[i].size,
                     (long long)after[i].size);
        }
    }
    assert_int_equal(rc, 1);
    char pid_text[32];
    (void)snprintf(pid_text, sizeof(pid_text), "pid %ld", (long)first);
    assert_non_null(strstr(out, home));
    assert_non_null(strstr(out, pid_text));
    assert_null(strstr(out, "node_opened"));
    /* the first node goes on */
    int64_t h = kumo_test_net_height(&net, 0);
    assert_true(h > 0);
    kumo_test_net_wait_height(&net, 1u, h + 3);
    assert_int_equal(kumo_test_net_pid(&net, 0), first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home_lock_second_start_fails_before_opening_anything),
    };
    return cmocka_run_group_tests(tests, net_setup, net_teardown);
}
