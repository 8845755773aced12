/*
 * test_file.c - small files on a real file system: a read is bounded by the buffer's cap and
 * reports a missing file; a write replaces the whole file with the mode asked and leaves no
 * temp file, and a failed write leaves the old content (the cache write, without fsync, too);
 * the lock is exclusive between processes, names the holder's pid, and is released by the
 * holder's exit (kill -9 included).
 */
#include "helpers/testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file/file.h"

static uint32_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint32_t n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 ? 1u : 0u;
    }
    (void)closedir(d);
    return n;
}

static void test_read_write(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("file-rw");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/state", dir);
    kumo_err_ctx_t err = {0};
    kumo_buf_t b;
    kumo_buf_init(&b, 8);
    assert_int_equal(kumo_file_read(path, &b, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_file_write(path, kumo_bytes_make("12345678", 8), 0600, NULL), 0);
    assert_int_equal(kumo_file_read(path, &b, NULL), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.ptr, "12345678", 8);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* past the cap */
    assert_int_equal(kumo_file_write(path, kumo_bytes_make("123456789", 9), 0644, NULL), 0);
    kumo_buf_reset(&b);
    assert_int_equal(kumo_file_read(path, &b, &err), KUMO_ELIMIT);
    assert_non_null(strstr(err.detail, "larger than 8 bytes"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* empty content */
    assert_int_equal(kumo_file_write(path, kumo_bytes_make(NULL, 0), 0600, NULL), 0);
    kumo_buf_reset(&b);
    assert_int_equal(kumo_file_read(path, &b, NULL), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(dir_entries(dir), 1u); /* no temp file left */
    /* a write that cannot happen (the directory is gone) changes nothing and says so */
    char missing[600];
    (void)snprintf(missing, sizeof(missing), "%s/no/such", dir);
    err = (kumo_err_ctx_t){0};
    assert_int_equal(kumo_file_write(missing, kumo_bytes_make("x", 1), 0600, &err), KUMO_EIO);
    assert_non_null(strstr(err.detail, missing));
    /* a path too long */
    char longp[5000];
    memset(longp, 'a', sizeof(longp) - 1u);
    longp[sizeof(longp) - 1u] = '\0';
    assert_int_equal(kumo_file_write(longp, kumo_bytes_make("x", 1), 0600, NULL), KUMO_ELIMIT);
    kumo_buf_free(&b);
    kumo_test_tmpdir_remove(dir);
}

/* The cache write (no fsync) replaces the whole file the same way, mode included. */
static void test_write_cache(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("file-cache");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/chunk", dir);
    kumo_buf_t b;
    kumo_buf_init(&b, 16);
    assert_int_equal(kumo_file_write_cache(path, kumo_bytes_make("first", 5), 0600, NULL), 0);
    assert_int_equal(kumo_file_write_cache(path, kumo_bytes_make("second", 6), 0640, NULL), 0);
    assert_int_equal(kumo_file_read(path, &b, NULL), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.ptr, "second", 6);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(dir_entries(dir), 1u);
    char missing[600];
    (void)snprintf(missing, sizeof(missing), "%s/no/such", dir);
    assert_int_equal(kumo_file_write_cache(missing, kumo_bytes_make("x", 1), 0600, NULL), KUMO_EIO);
    kumo_buf_free(&b);
    kumo_test_tmpdir_remove(dir);
}

static void test_lock(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("file-lock");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/home.lock", dir);
    int fd = -1;
    assert_int_equal(kumo_file_lock(path, "home X", &fd, NULL), 0);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Another process is refused, told our pid; after we let go it gets the lock. */
    int to_child[2];
    int to_parent[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        (void)close(fd); /* the inherited copy shares our lock: a process of its own */
        kumo_err_ctx_t e = {0};
        int cfd = -1;
        int rc = kumo_file_lock(path, "home X", &cfd, &e);
        char want[64];
        (void)snprintf(want, sizeof(want), "(pid %ld)", (long)getppid());
        bool named = rc == KUMO_EBUSY && strstr(e.detail, "home X is in use") != NULL &&
                     strstr(e.detail, want) != NULL;
        char c = 0;
        bool talked = write(to_parent[1], "t", 1) == 1 && read(to_child[0], &c, 1) == 1;
        int rc2 = kumo_file_lock(path, "home X", &cfd, &e);
        _exit(named && talked && rc2 == 0 ? 0 : 1);
    }
    char c = 0;
    assert_int_equal(read(to_parent[0], &c, 1), 1); /* the child tried */
    kumo_file_unlock(fd);
    assert_int_equal(write(to_child[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* A holder killed with -9 releases it. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int cfd = -1;
        if (kumo_file_lock(path, "home X", &cfd, NULL) == 0 && write(to_parent[1], "y", 1) == 1) {
            (void)pause();
        }
        _exit(1);
    }
    assert_int_equal(read(to_parent[0], &c, 1), 1);
    assert_int_equal(kumo_file_lock(path, "home X", &fd, NULL), KUMO_EBUSY);
    assert_int_equal(kill(child, SIGKILL), 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(kumo_file_lock(path, "home X", &fd, NULL), 0);
    kumo_file_unlock(fd);
    for (int i = 0; i < 2; i++) {
        (void)close(to_child[i]);
        (void)close(to_parent[i]);
    }
    /* a directory that does not exist */
    char missing[600];
    (void)snprintf(missing, sizeof(missing), "%s/no/home.lock", dir);
    assert_int_equal(kumo_file_lock(missing, "home Y", &fd, NULL), KUMO_ENOTFOUND);
    kumo_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_write),
        cmocka_unit_test(test_write_cache),
        cmocka_unit_test(test_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
