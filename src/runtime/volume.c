/*
 * volume.c - persistent volumes (runtime.h): an ext4 image file of the volume's size in the
 * volume directory, formatted once, handed to the runtime as a local-driver volume that it
 * loop-mounts while a container uses it. The filesystem enforces the size: writes past it
 * fail with ENOSPC inside the container, whatever the host's disk has free.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/log.h"
#include "runtime/runtime_int.h"
#include "runtime/runtime_parse.h"

extern char **environ;

/* The smallest image mkfs.ext4 formats usefully (the stack's minimum is larger). */
#define VOL_BYTES_MIN (1024u * 1024u)

/* <dir>/<name>.img (or .tmp while it is being made). */
static int vol_image_path(const char *dir,
                          const char *name,
                          const char *suffix,
                          char out[RT_PATH_BYTES],
                          kumo_err_ctx_t *err)
{
    KUMO_ENSURE(dir != NULL && dir[0] == '/', err, KUMO_EINVAL, "no volume directory");
    KUMO_ENSURE(strchr(name, '/') == NULL && name[0] != '.', err, KUMO_EINVAL,
                "volume name \"%.64s\" is not a file name", name);
    int n = snprintf(out, RT_PATH_BYTES, "%s/%s%s", dir, name, suffix);
    KUMO_ENSURE(n > 0 && (size_t)n < RT_PATH_BYTES, err, KUMO_ELIMIT, "volume path too long");
    return 0;
}

/* mkfs.ext4 -q -F -m 0 path: no blocks reserved for root, so the tenant gets all of it. */
static int vol_mkfs(const char *path, kumo_err_ctx_t *err)
{
    static const char *const tools[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"};
    const char *tool = NULL;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(tools) && tool == NULL; i++) {
        tool = access(tools[i], X_OK) == 0 ? tools[i] : NULL;
    }
    KUMO_ENSURE(tool != NULL, err, KUMO_EIO, "mkfs.ext4 not found (install e2fsprogs)");
    char *argv[] = {(char *)(uintptr_t)tool, "-q", "-F", "-m", "0", (char *)(uintptr_t)path, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, tool, NULL, NULL, argv, environ);
    KUMO_ENSURE(rc == 0, err, KUMO_EIO, "spawn %s: %s", tool, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        KUMO_ENSURE(errno == EINTR, err, KUMO_EIO, "waitpid %s: %s", tool, strerror(errno));
    }
    KUMO_ENSURE(WIFEXITED(status) && WEXITSTATUS(status) == 0, err, KUMO_EIO,
                "%s %s failed (status %d)", tool, path, status);
    return 0;
}

/* The image of a volume: made as <name>.tmp (sparse, formatted) and renamed, so a crash
 * leaves either nothing or a whole image. An image already there is kept. */
static int vol_image_make(const char *dir,
                          const char *name,
                          uint64_t size_bytes,
                          char path[RT_PATH_BYTES],
                          kumo_err_ctx_t *err)
{
    char tmp[RT_PATH_BYTES];
    KUMO_GUARD(vol_image_path(dir, name, ".img", path, err));
    KUMO_GUARD(vol_image_path(dir, name, ".tmp", tmp, err));
    struct stat st;
    if (stat(path, &st) == 0) {
        KUMO_ENSURE(S_ISREG(st.st_mode) && (uint64_t)st.st_size == size_bytes, err, KUMO_EMISMATCH,
                    "volume image %s is not a file of %" PRIu64 " bytes", path, size_bytes);
        return 0;
    }
    KUMO_ENSURE(size_bytes <= (uint64_t)INT64_MAX, err, KUMO_ELIMIT, "volume too large");
    (void)unlink(tmp);
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "create %s: %s", tmp, strerror(errno));
    int rc = ftruncate(fd, (off_t)size_bytes) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_EIO, "size %s: %s", tmp, strerror(errno));
    (void)close(fd);
    rc = rc == 0 ? vol_mkfs(tmp, err) : rc;
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = kumo_err_set(err, KUMO_EIO, "rename %s: %s", tmp, strerror(errno));
    }
    if (rc != 0) {
        (void)unlink(tmp);
    }
    return rc;
}

int kumo_runtime_volume_inspect(kumo_runtime_t *rt,
                                const char *name,
                                kumo_runtime_volume_t *out,
                                kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    char *esc = curl_easy_escape(rt->curl, name, 0);
    int n = snprintf(path, sizeof(path), "/volumes/%s", esc != NULL ? esc : "");
    curl_free(esc);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "volume name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200   ? kumo_runtime_parse_volume(kumo_buf_bytes(&a.body), out, err)
             : a.status == 404 ? kumo_err_set(err, KUMO_ENOTFOUND, "no volume %s", name)
                               : rt_fail(&a, "volume inspect", err);
    kumo_buf_free(&a.body);
    return rc;
}

static char *vol_create_body(const char *name,
                             const char *image,
                             uint64_t size_bytes,
                             const kumo_runtime_label_t *labels,
                             uint32_t label_count)
{
    json_t *l = rt_labels_json(labels, label_count);
    char size[24];
    (void)snprintf(size, sizeof(size), "%" PRIu64, size_bytes);
    (void)json_object_set_new(l, "kumo.size", json_string(size));
    return rt_dump(json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "Name", name, "Driver", "local",
                             "DriverOpts", "type", "ext4", "device", image, "o", "loop", "Labels",
                             l));
}

int kumo_runtime_volume_create(kumo_runtime_t *rt,
                               const char *dir,
                               const char *name,
                               uint64_t size_bytes,
                               const kumo_runtime_label_t *labels,
                               uint32_t label_count,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(rt != NULL && name != NULL);
    KUMO_ENSURE(size_bytes >= VOL_BYTES_MIN, err, KUMO_EINVAL, "volume of %" PRIu64 " bytes",
                size_bytes);
    kumo_runtime_volume_t have;
    int rc = kumo_runtime_volume_inspect(rt, name, &have, err);
    if (rc == 0) {
        KUMO_ENSURE(have.size_bytes == size_bytes, err, KUMO_EMISMATCH,
                    "volume %s holds %" PRIu64 " bytes, not %" PRIu64, name, have.size_bytes,
                    size_bytes);
        return 0;
    }
    if (rc != KUMO_ENOTFOUND) {
        return rc;
    }
    char image[RT_PATH_BYTES];
    KUMO_GUARD(vol_image_make(dir, name, size_bytes, image, err));
    char *body = vol_create_body(name, image, size_bytes, labels, label_count);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "volume JSON");
    rt_answer_t a;
    rc = rt_call(rt, "POST", "/volumes/create", body, &a, err);
    free(body);
    KUMO_GUARD(rc);
    rc = a.status == 201 || a.status == 200 ? 0 : rt_fail(&a, "volume create", err);
    kumo_buf_free(&a.body);
    if (rc == 0) {
        KUMO_LOG_INFO("runtime", "volume_created", "name=%s bytes=%" PRIu64, name, size_bytes);
    }
    return rc;
}

int kumo_runtime_volume_remove(kumo_runtime_t *rt,
                               const char *dir,
                               const char *name,
                               kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    char *esc = curl_easy_escape(rt->curl, name, 0);
    int n = snprintf(path, sizeof(path), "/volumes/%s", esc != NULL ? esc : "");
    curl_free(esc);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "volume name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "DELETE", path, NULL, &a, err));
    int rc = (a.status >= 200 && a.status < 300) || a.status == 404
                 ? 0
                 : rt_fail(&a, "volume remove", err);
    kumo_buf_free(&a.body);
    KUMO_GUARD(rc);
    char image[RT_PATH_BYTES];
    if (dir != NULL && vol_image_path(dir, name, ".img", image, NULL) == 0 && unlink(image) != 0 &&
        errno != ENOENT) {
        return kumo_err_set(err, KUMO_EIO, "remove %s: %s", image, strerror(errno));
    }
    return 0;
}

int kumo_runtime_volume_list(kumo_runtime_t *rt,
                             const char *label_key,
                             const char *label_value,
                             kumo_runtime_volume_t *out,
                             uint32_t cap,
                             uint32_t *count_out,
                             kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_GUARD(rt_filtered_path(rt, "/volumes", label_key, label_value, path, sizeof(path), err));
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200
                 ? kumo_runtime_parse_volumes(kumo_buf_bytes(&a.body), out, cap, count_out, err)
                 : rt_fail(&a, "volume list", err);
    kumo_buf_free(&a.body);
    return rc;
}
