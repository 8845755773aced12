/*
 * wal.c - the write-ahead log and atomic small files (wal.h).
 */
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define WAL_HEAD  5u /* u32 len + u8 kind */
#define WAL_CHECK 4u

struct kumo_wal {
    int fd;
    uint64_t size;
    uint8_t *image; /* the file as read at open (replay source), then freed */
    size_t image_len;
};

static void wal_check(const uint8_t *rec, size_t len, uint8_t out[WAL_CHECK])
{
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(rec, len), h);
    memcpy(out, h, WAL_CHECK);
}

/* The length of the whole record at p (or 0 if it is not whole and valid). */
static size_t wal_record_len(const uint8_t *p, size_t avail)
{
    if (avail < WAL_HEAD + WAL_CHECK) {
        return 0;
    }
    uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (len > KUMO_WAL_RECORD_BYTES_MAX || avail - WAL_HEAD - WAL_CHECK < len) {
        return 0;
    }
    uint8_t check[WAL_CHECK];
    wal_check(p, WAL_HEAD + len, check);
    return memcmp(check, p + WAL_HEAD + len, WAL_CHECK) == 0 ? WAL_HEAD + len + WAL_CHECK : 0;
}

void kumo_wal_scan(kumo_bytes_t image, size_t *valid_len, uint64_t *records)
{
    size_t off = 0;
    uint64_t n = 0;
    for (;;) {
        size_t len = wal_record_len(image.ptr + off, image.len - off);
        if (len == 0) {
            break;
        }
        off += len;
        n++;
    }
    *valid_len = off;
    *records = n;
}

static int
wal_read_all(int fd, const char *path, uint8_t **out, size_t *len_out, kumo_err_ctx_t *err)
{
    struct stat st;
    KUMO_ENSURE(fstat(fd, &st) == 0, err, KUMO_EIO, "stat %s: %s", path, strerror(errno));
    KUMO_ENSURE((uint64_t)st.st_size <= KUMO_WAL_FILE_BYTES_MAX, err, KUMO_ELIMIT, "%s: %lld bytes",
                path, (long long)st.st_size);
    size_t size = (size_t)st.st_size;
    uint8_t *buf = kumo_calloc(size + 1u, 1);
    KUMO_ENSURE(buf != NULL, err, KUMO_ENOMEM, "WAL image");
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            kumo_free(buf);
            return kumo_err_set(err, KUMO_EIO, "read %s: %s", path, strerror(errno));
        }
        got += (size_t)r;
    }
    *out = buf;
    *len_out = size;
    return 0;
}

int kumo_wal_open(const char *path, kumo_wal_t **out, uint64_t *records_out, kumo_err_ctx_t *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "open %s: %s", path, strerror(errno));
    kumo_wal_t *wal = kumo_calloc(1, sizeof(*wal));
    int rc = wal != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "WAL");
    if (rc == 0) {
        wal->fd = fd;
        rc = wal_read_all(fd, path, &wal->image, &wal->image_len, err);
    }
    size_t valid = 0;
    uint64_t records = 0;
    if (rc == 0) {
        kumo_wal_scan(kumo_bytes_make(wal->image, wal->image_len), &valid, &records);
        if (valid < wal->image_len && (ftruncate(fd, (off_t)valid) != 0 || fdatasync(fd) != 0)) {
            rc = kumo_err_set(err, KUMO_EIO, "truncate %s: %s", path, strerror(errno));
        }
        wal->image_len = valid;
        wal->size = valid;
    }
    if (rc < 0) {
        kumo_wal_close(wal);
        if (wal == NULL) {
            (void)close(fd);
        }
        return rc;
    }
    if (records_out != NULL) {
        *records_out = records;
    }
    *out = wal;
    return 0;
}

void kumo_wal_close(kumo_wal_t *wal)
{
    if (wal == NULL) {
        return;
    }
    (void)close(wal->fd);
    kumo_free(wal->image);
    kumo_free(wal);
}

int kumo_wal_replay(kumo_wal_t *wal, kumo_wal_visit_fn fn, void *ctx, kumo_err_ctx_t *err)
{
    size_t off = 0;
    while (off < wal->image_len) {
        const uint8_t *p = wal->image + off;
        size_t len = wal_record_len(p, wal->image_len - off);
        KUMO_ENSURE(len > 0, err, KUMO_ECORRUPT, "WAL record at %zu", off);
        int rc = fn(ctx, p[4], kumo_bytes_make(p + WAL_HEAD, len - WAL_HEAD - WAL_CHECK));
        if (rc < 0) {
            return rc;
        }
        off += len;
    }
    kumo_free(wal->image); /* replay happens once, at start */
    wal->image = NULL;
    wal->image_len = 0;
    return 0;
}

static int wal_write_all(int fd, const uint8_t *p, size_t len, uint64_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)(at + done));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return KUMO_EIO;
        }
        done += (size_t)w;
    }
    return 0;
}

int kumo_wal_append(kumo_wal_t *wal, uint8_t kind, kumo_bytes_t payload, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(payload.len <= KUMO_WAL_RECORD_BYTES_MAX, err, KUMO_ELIMIT,
                "WAL record of %zu bytes", payload.len);
    size_t total = WAL_HEAD + payload.len + WAL_CHECK;
    KUMO_ENSURE(wal->size + total <= KUMO_WAL_FILE_BYTES_MAX, err, KUMO_ELIMIT, "WAL full");
    uint8_t *rec = kumo_calloc(total, 1);
    KUMO_ENSURE(rec != NULL, err, KUMO_ENOMEM, "WAL record");
    kumo_be32_put(rec, (uint32_t)payload.len);
    rec[4] = kind;
    if (payload.len > 0) {
        memcpy(rec + WAL_HEAD, payload.ptr, payload.len);
    }
    wal_check(rec, WAL_HEAD + payload.len, rec + WAL_HEAD + payload.len);
    int rc = wal_write_all(wal->fd, rec, total, wal->size);
    kumo_free(rec);
    KUMO_ENSURE(rc == 0, err, KUMO_EIO, "WAL write: %s", strerror(errno));
    wal->size += total;
    return 0;
}

int kumo_wal_sync(kumo_wal_t *wal, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(fdatasync(wal->fd) == 0, err, KUMO_EIO, "WAL fsync: %s", strerror(errno));
    return 0;
}

int kumo_wal_reset(kumo_wal_t *wal, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(ftruncate(wal->fd, 0) == 0 && fdatasync(wal->fd) == 0, err, KUMO_EIO,
                "WAL reset: %s", strerror(errno));
    wal->size = 0;
    return 0;
}
