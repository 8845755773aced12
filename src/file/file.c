/*
 * file.c - see file.h.
 */
#include "file/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The lock file's content: the holder's pid in decimal and a newline. */
#define FILE_LOCK_TEXT_BYTES 24u

int kumo_file_read(const char *path, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && out != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return kumo_err_set(err, e == ENOENT ? KUMO_ENOTFOUND : KUMO_EIO, "open %s: %s", path,
                            strerror(e));
    }
    int rc = 0;
    for (;;) {
        uint8_t chunk[8192];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = kumo_err_set(err, KUMO_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        rc = kumo_buf_append(out, chunk, (size_t)n);
        if (rc < 0) {
            rc = kumo_err_set(err, rc, "%s is larger than %zu bytes", path, out->cap_max);
            break;
        }
    }
    (void)close(fd);
    return rc;
}

static int file_write_all(int fd, kumo_bytes_t data)
{
    size_t pos = 0;
    while (pos < data.len) {
        ssize_t n = write(fd, data.ptr + pos, data.len - pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        pos += (size_t)n;
    }
    return 0;
}

/* fsync of the directory that holds path, so the rename into it survives a crash. */
static int file_dir_sync(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        return -1;
    }
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0) {
        (void)close(fd);
    }
    return rc;
}

/* Replaces path with data through a temp file of its own; durable: fsync'd, file and dir. */
static int file_replace(
    const char *path, kumo_bytes_t data, unsigned int mode, bool durable, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL);
    char tmp[PATH_MAX];
    /* A temp file of its own (mkostemp: 0600, unique), so concurrent writers of one path
     * never rename each other's file away. */
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(tmp), err, KUMO_ELIMIT, "path %s is too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "create %s: %s", tmp, strerror(errno));
    bool ok = file_write_all(fd, data) == 0 && (mode == 0600u || fchmod(fd, (mode_t)mode) == 0) &&
              (!durable || fsync(fd) == 0);
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        (void)unlink(tmp);
        return kumo_err_set(err, KUMO_EIO, "write %s: %s", path, strerror(e));
    }
    KUMO_ENSURE(!durable || file_dir_sync(path) == 0, err, KUMO_EIO, "sync the directory of %s: %s",
                path, strerror(errno));
    return 0;
}

int kumo_file_write(const char *path, kumo_bytes_t data, unsigned int mode, kumo_err_ctx_t *err)
{
    return file_replace(path, data, mode, true, err);
}

int kumo_file_write_cache(const char *path,
                          kumo_bytes_t data,
                          unsigned int mode,
                          kumo_err_ctx_t *err)
{
    return file_replace(path, data, mode, false, err);
}

/* The pid written in the lock file, or 0 when it holds none. */
static uint64_t file_lock_holder(int fd)
{
    char text[FILE_LOCK_TEXT_BYTES];
    ssize_t n = pread(fd, text, sizeof(text) - 1u, 0);
    if (n <= 0) {
        return 0;
    }
    text[n] = '\0';
    uint64_t pid = 0;
    for (ssize_t i = 0; i < n && text[i] >= '0' && text[i] <= '9' && pid < UINT32_MAX; i++) {
        pid = pid * 10u + (uint64_t)(text[i] - '0');
    }
    return pid;
}

int kumo_file_lock(const char *path, const char *what, int *fd_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && what != NULL && fd_out != NULL);
    *fd_out = -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        return kumo_err_set(err, e == ENOENT ? KUMO_ENOTFOUND : KUMO_EIO, "open %s: %s", path,
                            strerror(e));
    }
    int rc = 0;
    do {
        rc = flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EWOULDBLOCK) {
        uint64_t pid = file_lock_holder(fd);
        (void)close(fd);
        if (pid == 0) {
            return kumo_err_set(err, KUMO_EBUSY, "%s is in use by another kumo process", what);
        }
        return kumo_err_set(err, KUMO_EBUSY,
                            "%s is in use by another kumo process (pid %" PRIu64 ")", what, pid);
    }
    if (rc != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "lock %s: %s", path, strerror(errno));
        (void)close(fd);
        return rc;
    }
    char text[FILE_LOCK_TEXT_BYTES];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    KUMO_ASSERT(len > 0 && (size_t)len < sizeof(text));
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != (ssize_t)len) {
        rc = kumo_err_set(err, KUMO_EIO, "write %s: %s", path, strerror(errno));
        (void)close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

void kumo_file_unlock(int fd)
{
    if (fd >= 0) {
        (void)close(fd);
    }
}
