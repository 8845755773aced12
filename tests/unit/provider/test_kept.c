/*
 * test_kept.c - the age bound on the daemon's kept logs and journals (src/provider/kept.c):
 * under home/logs and home/events, files nothing was written to for kept_hours are removed
 * (.log, .events and a trim's .tmp), newer ones stay, one second inside the bound stays, files
 * of other kinds and directories are never touched, missing directories are fine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "provider/daemon_int.h"

#define NOW_S   2000000000u
#define HOURS   168u
#define CUTOFF  ((uint64_t)NOW_S - (uint64_t)HOURS * 3600u)
#define DIRNAME "/tmp/kumo-test-kept-XXXXXX"

/* Makes home/sub/name last written at mtime_s. */
static void file_make(const char *home, const char *sub, const char *name, uint64_t mtime_s)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s/%s", home, sub, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs("1 started w/0 image=x\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    struct timeval tv[2] = {{.tv_sec = (time_t)mtime_s}, {.tv_sec = (time_t)mtime_s}};
    assert_int_equal(utimes(path, tv), 0);
}

static bool file_exists(const char *home, const char *sub, const char *name)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s/%s", home, sub, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static void sub_make(const char *home, const char *sub)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", home, sub);
    assert_int_equal(mkdir(path, 0700), 0);
}

static void test_old_files_go_new_ones_stay(void **state)
{
    (void)state;
    char home[] = DIRNAME;
    assert_non_null(mkdtemp(home));
    sub_make(home, "logs");
    sub_make(home, "events");
    sub_make(home, "logs/adir.log"); /* a directory named like one: never touched */
    static const struct {
        const char *sub;
        const char *name;
        uint64_t mtime_s;
        bool stays;
    } files[] = {
        {"logs", "kumo-a-b-1-web-0.log", CUTOFF - 1u, false},
        {"logs", "kumo-a-b-1-web-1.log", CUTOFF, true},
        {"logs", "kumo-a-b-2-db-0.log", NOW_S - 60u, true},
        {"logs", "kumo-a-b-2-db-0.log.tmp", 1000u, false},
        {"logs", "notes.txt", 1000u, true},
        {"events", "kumo1owner-1.events", 1000u, false},
        {"events", "kumo1owner-2.events", CUTOFF + 1u, true},
        {"events", "kumo1owner-3.events.tmp", CUTOFF - 3600u, false},
        {"events", "README", 1000u, true},
    };
    size_t count = sizeof(files) / sizeof(files[0]);
    uint32_t want_removed = 0;
    for (size_t i = 0; i < count; i++) {
        file_make(home, files[i].sub, files[i].name, files[i].mtime_s);
        want_removed += files[i].stays ? 0u : 1u;
    }
    assert_int_equal(pd_kept_prune(home, NOW_S, HOURS), want_removed);
    for (size_t i = 0; i < count; i++) {
        if (file_exists(home, files[i].sub, files[i].name) != files[i].stays) {
            fail_msg("%s/%s: %s", files[i].sub, files[i].name,
                     files[i].stays ? "was removed" : "was kept");
        }
    }
    assert_true(file_exists(home, "logs", "adir.log"));
    assert_int_equal(pd_kept_prune(home, NOW_S, HOURS), 0); /* nothing more to do */
    /* A clock before the bound's length removes nothing. */
    assert_int_equal(pd_kept_prune(home, (uint64_t)HOURS * 3600u, HOURS), 0);
    for (size_t i = 0; i < count; i++) {
        if (files[i].stays) {
            char path[512];
            (void)snprintf(path, sizeof(path), "%s/%s/%s", home, files[i].sub, files[i].name);
            assert_int_equal(remove(path), 0);
        }
    }
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/logs/adir.log", home);
    assert_int_equal(rmdir(path), 0);
    (void)snprintf(path, sizeof(path), "%s/logs", home);
    assert_int_equal(rmdir(path), 0);
    (void)snprintf(path, sizeof(path), "%s/events", home);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(home), 0);
}

static void test_no_directories(void **state)
{
    (void)state;
    char home[] = DIRNAME;
    assert_non_null(mkdtemp(home));
    assert_int_equal(pd_kept_prune(home, NOW_S, HOURS), 0);
    assert_int_equal(rmdir(home), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_files_go_new_ones_stay),
        cmocka_unit_test(test_no_directories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
