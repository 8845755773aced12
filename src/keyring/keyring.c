/*
 * keyring.c - the keyring directory: opening it, reading key files (bounded, refusing symlinks
 * and files others can read), writing them atomically, deleting and listing them.
 *
 * Owns the directory fd of an open keyring; all file access is relative to it (openat), so a
 * key name can never reach outside the directory. Not pure: file I/O and the OS RNG. The file
 * format is in keyring_format.c. Secrets only live in a sodium_malloc'd keyring_scratch_t.
 */
#include "keyring/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "keyring/keyring_int.h"

/* Group and other permission bits: a key file or keyring directory must have none. */
#define MODE_GROUP_OTHER_BITS 0077u
#define KEY_FILE_SUFFIX       ".key"

struct kumo_keyring {
    int dir_fd;
    char *dir; /* for messages */
};

/* A path for messages: "<dir>/<file>" (truncated if very long). */
typedef struct keyring_path {
    char text[PATH_MAX];
} keyring_path_t;

static void path_make(const kumo_keyring_t *kr, const char *file, keyring_path_t *path)
{
    int n = snprintf(path->text, sizeof(path->text), "%s/%s", kr->dir, file);
    /* A cut path only shortens a message, which is acceptable. */
    KUMO_ASSERT(n > 0);
}

static void file_name_make(const char *name, char out[KEYRING_FILE_NAME_BYTES])
{
    KUMO_ASSERT(kumo_keyring_name_is_valid(name));
    int n = snprintf(out, KEYRING_FILE_NAME_BYTES, "%s%s", name, KEY_FILE_SUFFIX);
    KUMO_ASSERT(n > 0 && (size_t)n < KEYRING_FILE_NAME_BYTES);
}

static int name_check(const char *name, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(name != NULL, err, KUMO_EINVAL, "key name missing");
    KUMO_ENSURE(kumo_keyring_name_is_valid(name), err, KUMO_EINVAL,
                "key name must match [a-z0-9_-]{1,%u}", KUMO_KEYRING_NAME_BYTES_MAX);
    return 0;
}

static int passphrase_check(const char *passphrase, bool is_new, kumo_err_ctx_t *err)
{
    if (passphrase == NULL) {
        return 0;
    }
    size_t len = strnlen(passphrase, KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1);
    KUMO_ENSURE(len <= KUMO_KEYRING_PASSPHRASE_BYTES_MAX, err, KUMO_ELIMIT,
                "passphrase longer than %u bytes", KUMO_KEYRING_PASSPHRASE_BYTES_MAX);
    /* An empty passphrase seals nothing; it is almost always a mistake by the caller. */
    KUMO_ENSURE(!is_new || len > 0, err, KUMO_EINVAL, "empty passphrase (pass NULL for none)");
    return 0;
}

static keyring_scratch_t *scratch_new(void)
{
    keyring_scratch_t *s = sodium_malloc(sizeof(*s));
    if (s != NULL) {
        sodium_memzero(s, sizeof(*s));
    }
    return s;
}

/* sodium_free wipes the block before unmapping it. */
static void scratch_free(keyring_scratch_t *s)
{
    sodium_free(s);
}

static int dir_open_checked(const char *dir, int *fd_out, kumo_err_ctx_t *err)
{
    bool is_created = mkdir(dir, 0700) == 0;
    KUMO_ENSURE(is_created || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir, strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "open %s: %s", dir, strerror(errno));
    int rc = 0;
    /* The umask may have cleared bits we need; it never adds any. */
    if (is_created && fchmod(fd, 0700) != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "chmod %s: %s", dir, strerror(errno));
        goto out_close_fd;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "stat %s: %s", dir, strerror(errno));
        goto out_close_fd;
    }
    if ((st.st_mode & MODE_GROUP_OTHER_BITS) != 0) {
        rc = kumo_err_set(err, KUMO_EUNAUTH,
                          "keyring %s is open to group or others (mode %04o); run: chmod 700 %s",
                          dir, (unsigned)(st.st_mode & 07777u), dir);
        goto out_close_fd;
    }
    *fd_out = fd;
    return 0;

out_close_fd:
    close(fd);
    return rc;
}

int kumo_keyring_open(const char *dir, kumo_keyring_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(dir != NULL && dir[0] != '\0', err, KUMO_EINVAL, "keyring directory missing");
    size_t dir_len = strnlen(dir, PATH_MAX);
    KUMO_ENSURE(dir_len < PATH_MAX, err, KUMO_ELIMIT, "keyring path longer than %d", PATH_MAX);
    KUMO_ENSURE(kumo_crypto_init() == 0, err, KUMO_EIO, "libsodium failed to initialise");
    int fd = -1;
    KUMO_GUARD(dir_open_checked(dir, &fd, err));
    int rc = 0;
    kumo_keyring_t *kr = kumo_calloc(1, sizeof(*kr));
    if (kr == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "keyring");
        goto out_close_fd;
    }
    kr->dir = kumo_alloc(dir_len + 1);
    if (kr->dir == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "keyring path");
        goto out_free_kr;
    }
    memcpy(kr->dir, dir, dir_len + 1);
    kr->dir_fd = fd;
    *out = kr;
    KUMO_ASSERT(kr->dir_fd >= 0);
    return 0;

out_free_kr:
    kumo_free(kr);
out_close_fd:
    close(fd);
    return rc;
}

void kumo_keyring_close(kumo_keyring_t *kr)
{
    if (kr == NULL) {
        return;
    }
    KUMO_ASSERT(kr->dir_fd >= 0);
    close(kr->dir_fd);
    kumo_free(kr->dir);
    kumo_free(kr);
}

/* Reads the whole file into s->file, at most KUMO_KEYRING_FILE_BYTES_MAX bytes. */
static int
fd_read_bounded(int fd, const keyring_path_t *path, keyring_scratch_t *s, kumo_err_ctx_t *err)
{
    size_t total = 0;
    /* Ask for one byte past the limit so an oversized file is seen even if it grew after fstat. */
    while (total < sizeof(s->file)) {
        ssize_t n = read(fd, s->file + total, sizeof(s->file) - total);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        KUMO_ENSURE(n >= 0, err, KUMO_EIO, "read %s: %s", path->text, strerror(errno));
        if (n == 0) {
            break;
        }
        total += (size_t)n;
    }
    KUMO_ENSURE(total <= KUMO_KEYRING_FILE_BYTES_MAX, err, KUMO_ECORRUPT,
                "%s is larger than %u bytes", path->text, KUMO_KEYRING_FILE_BYTES_MAX);
    s->file_len = total;
    return 0;
}

static int fd_check(int fd, const keyring_path_t *path, kumo_err_ctx_t *err)
{
    struct stat st;
    KUMO_ENSURE(fstat(fd, &st) == 0, err, KUMO_EIO, "stat %s: %s", path->text, strerror(errno));
    KUMO_ENSURE(S_ISREG(st.st_mode), err, KUMO_ECORRUPT, "%s is not a regular file", path->text);
    KUMO_ENSURE((st.st_mode & MODE_GROUP_OTHER_BITS) == 0, err, KUMO_EUNAUTH,
                "%s is open to group or others (mode %04o); run: chmod 600 %s", path->text,
                (unsigned)(st.st_mode & 07777u), path->text);
    KUMO_ENSURE(st.st_size >= 0 && (uint64_t)st.st_size <= KUMO_KEYRING_FILE_BYTES_MAX, err,
                KUMO_ECORRUPT, "%s is larger than %u bytes", path->text,
                KUMO_KEYRING_FILE_BYTES_MAX);
    return 0;
}

/* Reads and parses key name; s->secret holds its (possibly sealed) seed afterwards. */
static int key_read(kumo_keyring_t *kr,
                    const char *name,
                    keyring_scratch_t *s,
                    keyring_meta_t *meta,
                    keyring_path_t *path,
                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL && kr->dir_fd >= 0);
    KUMO_ASSERT(kumo_keyring_name_is_valid(name));
    char file[KEYRING_FILE_NAME_BYTES];
    file_name_make(name, file);
    path_make(kr, file, path);
    /* O_NONBLOCK: a FIFO planted under a key's name must not hang us; fd_check rejects it. */
    int fd = openat(kr->dir_fd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        KUMO_ENSURE(e != ENOENT, err, KUMO_ENOTFOUND, "no key named %s in %s", name, kr->dir);
        KUMO_ENSURE(e != ELOOP, err, KUMO_EIO, "%s is a symlink; refusing to follow it",
                    path->text);
        return kumo_err_set(err, KUMO_EIO, "open %s: %s", path->text, strerror(e));
    }
    int rc = fd_check(fd, path, err);
    if (rc == 0) {
        rc = fd_read_bounded(fd, path, s, err);
    }
    close(fd);
    if (rc < 0) {
        return rc;
    }
    return kumo_keyring_file_parse(path->text, name, s, meta, err);
}

static int key_load(kumo_keyring_t *kr,
                    const char *name,
                    const char *passphrase,
                    keyring_scratch_t *s,
                    kumo_err_ctx_t *err)
{
    KUMO_GUARD(name_check(name, err));
    KUMO_GUARD(passphrase_check(passphrase, false, err));
    keyring_meta_t meta = {0};
    keyring_path_t path;
    KUMO_GUARD(key_read(kr, name, s, &meta, &path, err));
    return kumo_keyring_key_unseal(path.text, &meta, passphrase, s, err);
}

int kumo_keyring_load(kumo_keyring_t *kr,
                      const char *name,
                      const char *passphrase,
                      kumo_crypto_keypair_t *kp_out,
                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL);
    KUMO_ASSERT(kp_out != NULL);
    keyring_scratch_t *s = scratch_new();
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "sodium_malloc");
    int rc = key_load(kr, name, passphrase, s, err);
    if (rc == 0) {
        memcpy(kp_out, &s->kp, sizeof(*kp_out));
    }
    scratch_free(s);
    return rc;
}

int kumo_keyring_export(kumo_keyring_t *kr,
                        const char *name,
                        const char *passphrase,
                        uint8_t seed_out[KUMO_CRYPTO_SEED_BYTES],
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL);
    KUMO_ASSERT(seed_out != NULL);
    keyring_scratch_t *s = scratch_new();
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "sodium_malloc");
    int rc = key_load(kr, name, passphrase, s, err);
    if (rc == 0) {
        memcpy(seed_out, s->seed, KUMO_CRYPTO_SEED_BYTES);
    }
    scratch_free(s);
    return rc;
}

int kumo_keyring_entry_get(kumo_keyring_t *kr,
                           const char *name,
                           kumo_keyring_entry_t *entry_out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL);
    KUMO_ASSERT(entry_out != NULL);
    KUMO_GUARD(name_check(name, err));
    keyring_scratch_t *s = scratch_new();
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "sodium_malloc");
    keyring_meta_t meta = {0};
    keyring_path_t path;
    int rc = key_read(kr, name, s, &meta, &path, err);
    if (rc == 0) {
        *entry_out = meta.entry;
    }
    scratch_free(s);
    return rc;
}

static int fd_write_all(int fd, const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* Moves tmp to file unless file exists. RENAME_NOREPLACE makes the existence check and the
 * rename one step; filesystems without it get link + unlink, which is just as exclusive. */
static int file_publish(int dir_fd, const char *tmp, const char *file)
{
    if (renameat2(dir_fd, tmp, dir_fd, file, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }
    if (linkat(dir_fd, tmp, dir_fd, file, 0) != 0) {
        return -1;
    }
    (void)unlinkat(dir_fd, tmp, 0);
    return 0;
}

/* Writes s->file as file: a fresh 0600 temp file (O_CREAT|O_EXCL|O_NOFOLLOW), fsync, rename
 * without replacing, fsync of the directory. KUMO_EEXIST if file appeared meanwhile. */
static int file_write_atomic(kumo_keyring_t *kr,
                             const char *file,
                             const keyring_scratch_t *s,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL && kr->dir_fd >= 0);
    KUMO_ASSERT(s->file_len > 0 && s->file_len <= KUMO_KEYRING_FILE_BYTES_MAX);
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    char rnd_hex[2 * sizeof(rnd) + 1];
    sodium_bin2hex(rnd_hex, sizeof(rnd_hex), rnd, sizeof(rnd));
    /* A leading dot keeps a temp file out of listings if a crash leaves it behind. */
    char tmp[KEYRING_FILE_NAME_BYTES + sizeof(rnd_hex) + 8];
    int n = snprintf(tmp, sizeof(tmp), ".%s.%s.tmp", file, rnd_hex);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(tmp));
    keyring_path_t path;
    path_make(kr, file, &path);

    int fd = openat(kr->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "create temp file for %s: %s", path.text, strerror(errno));
    int rc = 0;
    /* The umask may have cleared bits; the mode must be exactly 0600 either way. */
    if (fchmod(fd, 0600) != 0 || fd_write_all(fd, s->file, s->file_len) != 0 || fsync(fd) != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "write %s: %s", path.text, strerror(errno));
        close(fd);
        goto out_unlink_tmp;
    }
    if (close(fd) != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "close %s: %s", path.text, strerror(errno));
        goto out_unlink_tmp;
    }
    if (file_publish(kr->dir_fd, tmp, file) != 0) {
        int e = errno;
        rc = e == EEXIST ? kumo_err_set(err, KUMO_EEXIST, "%s already exists", path.text)
                         : kumo_err_set(err, KUMO_EIO, "rename to %s: %s", path.text, strerror(e));
        goto out_unlink_tmp;
    }
    if (fsync(kr->dir_fd) != 0) {
        /* Not durable: take it back so a failed add leaves nothing behind. */
        rc = kumo_err_set(err, KUMO_EIO, "fsync %s: %s", kr->dir, strerror(errno));
        (void)unlinkat(kr->dir_fd, file, 0);
        return rc;
    }
    return 0;

out_unlink_tmp:
    (void)unlinkat(kr->dir_fd, tmp, 0);
    return rc;
}

/* Stores a new key: from seed, or freshly generated when seed is NULL. */
static int key_add(kumo_keyring_t *kr,
                   const char *name,
                   const uint8_t *seed,
                   const char *passphrase,
                   kumo_crypto_keypair_t *kp_out,
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL && kr->dir_fd >= 0);
    KUMO_GUARD(name_check(name, err));
    KUMO_GUARD(passphrase_check(passphrase, true, err));
    char file[KEYRING_FILE_NAME_BYTES];
    file_name_make(name, file);
    /* Fail fast before the Argon2id work; file_publish is what makes the check race-free. */
    struct stat st;
    KUMO_ENSURE(fstatat(kr->dir_fd, file, &st, AT_SYMLINK_NOFOLLOW) != 0, err, KUMO_EEXIST,
                "a key named %s already exists in %s", name, kr->dir);
    keyring_scratch_t *s = scratch_new();
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "sodium_malloc");
    int rc = 0;
    if (seed != NULL) {
        kumo_crypto_key_from_seed(seed, &s->kp);
    } else {
        KUMO_GUARD_GOTO(kumo_crypto_key_generate(&s->kp), rc, out_free_scratch);
    }
    KUMO_GUARD_GOTO(kumo_keyring_file_build(name, passphrase, s, err), rc, out_free_scratch);
    KUMO_GUARD_GOTO(file_write_atomic(kr, file, s, err), rc, out_free_scratch);
    if (kp_out != NULL) {
        memcpy(kp_out, &s->kp, sizeof(*kp_out));
    }
    KUMO_ASSERT(rc == 0);

out_free_scratch:
    scratch_free(s);
    return rc;
}

int kumo_keyring_add(kumo_keyring_t *kr,
                     const char *name,
                     const char *passphrase,
                     kumo_crypto_keypair_t *kp_out,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL);
    return key_add(kr, name, NULL, passphrase, kp_out, err);
}

int kumo_keyring_import(kumo_keyring_t *kr,
                        const char *name,
                        const uint8_t seed[KUMO_CRYPTO_SEED_BYTES],
                        const char *passphrase,
                        kumo_crypto_keypair_t *kp_out,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL);
    KUMO_ASSERT(seed != NULL);
    return key_add(kr, name, seed, passphrase, kp_out, err);
}

int kumo_keyring_delete(kumo_keyring_t *kr, const char *name, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL && kr->dir_fd >= 0);
    KUMO_GUARD(name_check(name, err));
    char file[KEYRING_FILE_NAME_BYTES];
    file_name_make(name, file);
    if (unlinkat(kr->dir_fd, file, 0) != 0) {
        int e = errno;
        KUMO_ENSURE(e != ENOENT, err, KUMO_ENOTFOUND, "no key named %s in %s", name, kr->dir);
        return kumo_err_set(err, KUMO_EIO, "unlink %s/%s: %s", kr->dir, file, strerror(e));
    }
    KUMO_ENSURE(fsync(kr->dir_fd) == 0, err, KUMO_EIO, "fsync %s: %s", kr->dir, strerror(errno));
    return 0;
}

/* The key name of a directory entry "<valid name>.key", copied into name_out, or false. */
static bool dirent_key_name(const char *d_name, char name_out[KUMO_KEYRING_NAME_BYTES_MAX + 1])
{
    size_t len = strnlen(d_name, KEYRING_FILE_NAME_BYTES);
    size_t suffix_len = sizeof(KEY_FILE_SUFFIX) - 1;
    if (len <= suffix_len || len >= KEYRING_FILE_NAME_BYTES ||
        strcmp(d_name + len - suffix_len, KEY_FILE_SUFFIX) != 0) {
        return false;
    }
    memcpy(name_out, d_name, len - suffix_len);
    name_out[len - suffix_len] = '\0';
    return kumo_keyring_name_is_valid(name_out);
}

/* Collects the names of the key files into entries (at most KUMO_KEYRING_KEY_COUNT_MAX). */
static int dir_names_collect(kumo_keyring_t *kr,
                             kumo_keyring_entry_t *entries,
                             size_t *count_out,
                             kumo_err_ctx_t *err)
{
    /* closedir closes its fd, so give it a duplicate; rewind since dups share the offset. */
    int fd = dup(kr->dir_fd);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "dup %s: %s", kr->dir, strerror(errno));
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return kumo_err_set(err, KUMO_EIO, "opendir %s: %s", kr->dir, strerror(errno));
    }
    rewinddir(d);
    size_t count = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                rc = kumo_err_set(err, KUMO_EIO, "readdir %s: %s", kr->dir, strerror(errno));
            }
            break;
        }
        char name[KUMO_KEYRING_NAME_BYTES_MAX + 1];
        if (!dirent_key_name(de->d_name, name)) {
            continue;
        }
        if (count == KUMO_KEYRING_KEY_COUNT_MAX) {
            rc = kumo_err_set(err, KUMO_ELIMIT, "%s holds more than %u keys", kr->dir,
                              KUMO_KEYRING_KEY_COUNT_MAX);
            break;
        }
        memcpy(entries[count].name, name, sizeof(name));
        count++;
    }
    closedir(d);
    *count_out = count;
    return rc;
}

static int entry_name_compare(const void *a, const void *b)
{
    const kumo_keyring_entry_t *x = a;
    const kumo_keyring_entry_t *y = b;
    /* Names in one directory are unique, so this order is total. */
    return strcmp(x->name, y->name);
}

/* Fills each named entry from its file. */
static int
entries_read(kumo_keyring_t *kr, kumo_keyring_entry_t *entries, size_t count, kumo_err_ctx_t *err)
{
    keyring_scratch_t *s = scratch_new();
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "sodium_malloc");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        keyring_meta_t meta = {0};
        keyring_path_t path;
        rc = key_read(kr, entries[i].name, s, &meta, &path, err);
        if (rc == 0) {
            entries[i] = meta.entry;
        }
    }
    scratch_free(s);
    return rc;
}

int kumo_keyring_list(kumo_keyring_t *kr,
                      kumo_keyring_list_cb cb,
                      void *cb_ctx,
                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kr != NULL && kr->dir_fd >= 0);
    KUMO_ASSERT(cb != NULL);
    kumo_keyring_entry_t *entries = kumo_calloc(KUMO_KEYRING_KEY_COUNT_MAX, sizeof(*entries));
    KUMO_ENSURE(entries != NULL, err, KUMO_ENOMEM, "keyring listing");
    size_t count = 0;
    int rc = 0;
    KUMO_GUARD_GOTO(dir_names_collect(kr, entries, &count, err), rc, out_free_entries);
    KUMO_ASSERT(count <= KUMO_KEYRING_KEY_COUNT_MAX);
    qsort(entries, count, sizeof(*entries), entry_name_compare);
    KUMO_GUARD_GOTO(entries_read(kr, entries, count, err), rc, out_free_entries);
    for (size_t i = 0; i < count; i++) {
        KUMO_ASSERT_SLOW(i == 0 || strcmp(entries[i - 1].name, entries[i].name) < 0);
        rc = cb(cb_ctx, &entries[i]);
        if (rc < 0) {
            break;
        }
    }
    rc = rc < 0 ? rc : 0;

out_free_entries:
    kumo_free(entries);
    return rc;
}
