/*
 * test_wal.c - the write-ahead log on real files: records replay in order after a reopen,
 * a tail torn at every byte offset of the last record is cut back to the records before it
 * (and the log keeps working), a flipped byte ends the log there, reset empties it, limits
 * hold, files are 0600.
 */
#include "helpers/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "wal/wal.h"

typedef struct seen {
    uint32_t count;
    uint8_t kinds[16];
    size_t lens[16];
} seen_t;

static int visit(void *ctx, uint8_t kind, kumo_bytes_t payload)
{
    seen_t *s = ctx;
    if (s->count < 16) {
        s->kinds[s->count] = kind;
        s->lens[s->count] = payload.len;
    }
    s->count++;
    return 0;
}

static void log_write(const char *path, uint32_t n)
{
    kumo_wal_t *w = NULL;
    assert_int_equal(kumo_wal_open(path, &w, NULL, NULL), 0);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t payload[64];
        memset(payload, (int)i, sizeof(payload));
        assert_int_equal(
            kumo_wal_append(w, (uint8_t)(i + 1), kumo_bytes_make(payload, i * 7u), NULL), 0);
    }
    assert_int_equal(kumo_wal_sync(w, NULL), 0);
    kumo_wal_close(w);
}

static uint32_t log_replay(const char *path)
{
    kumo_wal_t *w = NULL;
    uint64_t records = 0;
    assert_int_equal(kumo_wal_open(path, &w, &records, NULL), 0);
    seen_t s = {0};
    assert_int_equal(kumo_wal_replay(w, visit, &s, NULL), 0);
    assert_int_equal(s.count, records);
    for (uint32_t i = 0; i < s.count && i < 16; i++) {
        assert_int_equal(s.kinds[i], i + 1);
        assert_int_equal(s.lens[i], i * 7u);
    }
    kumo_wal_close(w);
    return s.count;
}

static void test_append_replay(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("wal");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/consensus.wal", dir);
    log_write(path, 5);
    assert_int_equal(log_replay(path), 5);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Reset empties it; appends after a reset replay alone. */
    kumo_wal_t *w = NULL;
    assert_int_equal(kumo_wal_open(path, &w, NULL, NULL), 0);
    assert_int_equal(kumo_wal_reset(w, NULL), 0);
    assert_int_equal(kumo_wal_append(w, 1, kumo_bytes_make(NULL, 0), NULL), 0);
    kumo_wal_close(w);
    assert_int_equal(log_replay(path), 1);
    kumo_test_tmpdir_remove(dir);
}

static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("wal-torn");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/w", dir);
    log_write(path, 4);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    off_t full = st.st_size;
    off_t last = 5 + 3 * 7 + 4; /* the 4th record: 21 bytes of payload */
    for (off_t cut = full - last; cut < full; cut++) {
        log_write(path, 0);
        assert_int_equal(truncate(path, 0), 0);
        log_write(path, 4);
        assert_int_equal(truncate(path, cut), 0);
        assert_int_equal(log_replay(path), 3);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, full - last); /* cut back to the last whole record */
        /* The log goes on after the cut. */
        kumo_wal_t *w = NULL;
        assert_int_equal(kumo_wal_open(path, &w, NULL, NULL), 0);
        uint8_t p[21] = {0};
        assert_int_equal(kumo_wal_append(w, 4, kumo_bytes_make(p, sizeof(p)), NULL), 0);
        kumo_wal_close(w);
        assert_int_equal(log_replay(path), 4);
    }
    /* A flipped byte in the second record ends the log after the first. */
    assert_int_equal(truncate(path, 0), 0);
    log_write(path, 4);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b = 0;
    off_t at = 9 + 5 + 2; /* inside record 2's payload */
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0xff;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    (void)close(fd);
    assert_int_equal(log_replay(path), 1);
    kumo_test_tmpdir_remove(dir);
}

static void test_limits(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("wal-files");
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/w", dir);
    kumo_wal_t *w = NULL;
    assert_int_equal(kumo_wal_open(path, &w, NULL, NULL), 0);
    kumo_err_ctx_t err = {0};
    static uint8_t big[KUMO_WAL_RECORD_BYTES_MAX + 1];
    assert_int_equal(kumo_wal_append(w, 1, kumo_bytes_make(big, sizeof(big)), &err), KUMO_ELIMIT);
    assert_int_equal(kumo_wal_append(w, 1, kumo_bytes_make(big, sizeof(big) - 1), &err), 0);
    kumo_wal_close(w);
    kumo_test_tmpdir_remove(dir);
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_replay),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
