/*
 * file.c - the files of a workload: a sequence of {path, source | content, mode}. Each file's
 * bytes travel in the manifest (so the on-chain version covers them); the provider writes them
 * under its home and mounts them read-only. The rules here are shared with the manifest check
 * (check.c), so what a stack may carry is what a provider accepts. Pure: `source:` is read
 * through the caller's loader. Format: docs/stack.md "files".
 */
#include <string.h>

#include "sdl/sdl_int.h"

/* What the runtime mounts itself (tmpfs, proc, sysfs, devices): a file there would be hidden
 * by, or fight with, that mount. /etc is allowed: configuration is what files are for. */
static const char *const reserved_paths[] = {"/proc", "/sys", "/dev", "/tmp", "/run", "/var/tmp"};

/* The mode when a file gives none: readable by every user of the container. */
#define SDL_FILE_MODE_DEFAULT 0644u

bool kumo_sdl_file_path_is_valid(const char *path)
{
    KUMO_ASSERT(path != NULL);
    size_t len = strnlen(path, KUMO_SDL_FILE_PATH_BYTES_MAX + 1u);
    if (len < 2u || len > KUMO_SDL_FILE_PATH_BYTES_MAX || path[0] != '/' ||
        !sdl_path_components_are_valid(path, len)) {
        return false;
    }
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(reserved_paths); i++) {
        if (sdl_path_within(path, reserved_paths[i])) {
            return false;
        }
    }
    return true;
}

bool kumo_sdl_file_mode_is_valid(uint32_t mode)
{
    return (mode & ~0755u) == 0 && (mode & 0400u) != 0;
}

/* File index of w against the files before it and every volume: no two at one path, none a
 * directory of another, none at or under a volume's mount (nor above one). */
static int file_overlap_check(const Kumo__ManifestWorkload *w, size_t index, kumo_err_ctx_t *err)
{
    const Kumo__ManifestFile *f = w->files[index];
    for (size_t j = 0; j < index; j++) {
        KUMO_ENSURE(!sdl_mount_overlaps(w->files[j]->path, f->path), err, KUMO_EDUPLICATE,
                    "workload \"%s\": file \"%s\" overlaps file \"%s\"", w->name, f->path,
                    w->files[j]->path);
    }
    for (size_t j = 0; j < w->n_volumes; j++) {
        KUMO_ENSURE(w->volumes[j]->mount == NULL ||
                        !sdl_mount_overlaps(w->volumes[j]->mount, f->path),
                    err, KUMO_EDUPLICATE, "workload \"%s\": file \"%s\" overlaps volume \"%s\"",
                    w->name, f->path, w->volumes[j]->name);
    }
    return 0;
}

int sdl_files_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(w != NULL);
    KUMO_ENSURE(w->n_files <= KUMO_SDL_FILE_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu files exceed %u", w->name, w->n_files,
                KUMO_SDL_FILE_COUNT_MAX);
    for (size_t i = 0; i < w->n_files; i++) {
        const Kumo__ManifestFile *f = w->files[i];
        KUMO_ENSURE(f->path != NULL && kumo_sdl_file_path_is_valid(f->path), err, KUMO_EINVAL,
                    "workload \"%s\": files[%zu] has no valid path", w->name, i);
        KUMO_ENSURE(kumo_sdl_file_mode_is_valid(f->mode), err, KUMO_EINVAL,
                    "workload \"%s\": file \"%s\" has mode %04o (permission bits within 0755, "
                    "readable by its owner)",
                    w->name, f->path, f->mode);
        KUMO_ENSURE(f->content.len <= KUMO_SDL_FILE_BYTES_MAX, err, KUMO_ELIMIT,
                    "workload \"%s\": file \"%s\" exceeds %u bytes", w->name, f->path,
                    KUMO_SDL_FILE_BYTES_MAX);
        KUMO_GUARD(file_overlap_check(w, i, err));
    }
    return 0;
}

/* "0644" (or 644): octal permission bits. */
static int file_mode_parse(const sdl_ctx_t *c, uint32_t node, const char *path, uint32_t *out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    size_t len = sdl_node(c, node)->len;
    uint32_t mode = 0;
    bool ok = len >= 3u && len <= 4u;
    for (size_t i = 0; ok && i < len; i++) {
        ok = text[i] >= '0' && text[i] <= '7';
        mode = mode * 8u + (uint32_t)(text[i] - '0');
    }
    if (!ok || !kumo_sdl_file_mode_is_valid(mode)) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(text, q);
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "\"%s\" is not a file mode (octal like \"0644\" or \"0600\": permission "
                        "bits within 0755, readable by the owner)",
                        q);
    }
    *out = mode;
    return 0;
}

/* A relative path on the tenant's machine: not empty, not absolute, no NUL (the tree's text
 * holds none). "../" is the tenant's own business: the file is read on its machine. */
static int file_source_read(
    const sdl_ctx_t *c, uint32_t node, const char *path, size_t budget, Kumo__ManifestFile *f)
{
    const char *source;
    KUMO_GUARD(sdl_scalar(c, node, path, &source));
    if (source[0] == '\0' || source[0] == '/') {
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "a source is a path relative to the stack file");
    }
    if (c->loader == NULL || c->loader->read == NULL) {
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "files with a source are read only by kumo deploy and kumo stack");
    }
    kumo_buf_t b;
    kumo_buf_init(&b, budget);
    kumo_err_ctx_t lerr = {0};
    int rc = c->loader->read(c->loader->ctx, source, &b, &lerr);
    if (rc < 0) {
        kumo_buf_free(&b);
        if (rc == KUMO_ELIMIT) {
            return sdl_fail(c, rc, node, path, "%s: the manifest would exceed %u bytes", source,
                            KUMO_SDL_MANIFEST_BYTES_MAX);
        }
        return sdl_fail(c, rc, node, path, "%s", lerr.detail[0] != '\0' ? lerr.detail : source);
    }
    KUMO_ASSERT(b.len <= budget);
    /* The buffer is kumo_alloc memory: the manifest owns it from here (freed by the codec). */
    f->content.data = b.ptr;
    f->content.len = b.len;
    return 0;
}

static int file_content(
    const sdl_ctx_t *c, uint32_t node, const char *path, size_t budget, Kumo__ManifestFile *f)
{
    uint32_t src = sdl_map_get(c, node, "source");
    uint32_t inl = sdl_map_get(c, node, "content");
    char p[SDL_PATH_BYTES];
    if ((src == SDL_NONE) == (inl == SDL_NONE)) {
        return sdl_fail(c, KUMO_EINVAL, node, path, "give exactly one of source and content");
    }
    if (src != SDL_NONE) {
        sdl_path_key(p, path, "source");
        return file_source_read(c, src, p, budget, f);
    }
    sdl_path_key(p, path, "content");
    const char *text;
    KUMO_GUARD(sdl_scalar(c, inl, p, &text));
    size_t len = sdl_node(c, inl)->len;
    if (len > budget) {
        return sdl_fail(c, KUMO_ELIMIT, inl, p, "the manifest would exceed %u bytes",
                        KUMO_SDL_MANIFEST_BYTES_MAX);
    }
    if (len > 0) {
        f->content.data = kumo_alloc(len);
        if (f->content.data == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, inl, p, "out of memory");
        }
        memcpy(f->content.data, text, len);
    }
    f->content.len = len;
    return 0;
}

static int file_fields(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestFile *f)
{
    static const char *const keys[] = {"path", "source", "content", "mode"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t at;
    KUMO_GUARD(sdl_map_need(c, node, path, "path", &at));
    sdl_path_key(p, path, "path");
    KUMO_GUARD(sdl_string(c, at, p, 1, KUMO_SDL_FILE_PATH_BYTES_MAX, &f->path));
    if (!kumo_sdl_file_path_is_valid(f->path)) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(f->path, q);
        return sdl_fail(c, KUMO_EINVAL, at, p,
                        "\"%s\" is not a file path (absolute, normalized, of a-z A-Z 0-9 . _ -, "
                        "not under /proc, /sys, /dev, /tmp, /run or /var/tmp)",
                        q);
    }
    f->mode = SDL_FILE_MODE_DEFAULT;
    at = sdl_map_get(c, node, "mode");
    if (at != SDL_NONE) {
        sdl_path_key(p, path, "mode");
        KUMO_GUARD(file_mode_parse(c, at, p, &f->mode));
    }
    KUMO_ASSERT(c->stack->file_bytes <= KUMO_SDL_MANIFEST_BYTES_MAX);
    size_t budget = (size_t)(KUMO_SDL_MANIFEST_BYTES_MAX - c->stack->file_bytes);
    KUMO_GUARD(file_content(c, node, path, budget, f));
    c->stack->file_bytes += f->content.len;
    return 0;
}

int sdl_files_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w)
{
    const sdl_node_t *s = sdl_node(c, node);
    if (s->kind != SDL_SEQ) {
        return sdl_fail(c, KUMO_EDECODE, node, path,
                        "expected a list of files ({path, source or content, mode})");
    }
    if (s->child_count > KUMO_SDL_FILE_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u files exceed %u", s->child_count,
                        KUMO_SDL_FILE_COUNT_MAX);
    }
    if (s->child_count == 0) {
        return 0;
    }
    w->files = kumo_calloc(s->child_count, sizeof(*w->files));
    if (w->files == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    size_t i = 0;
    for (uint32_t k = s->first; k != SDL_NONE; k = sdl_node(c, k)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        Kumo__ManifestFile *f = kumo_alloc(sizeof(*f));
        if (f == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, k, p, "out of memory");
        }
        kumo__manifest_file__init(f);
        w->files[w->n_files++] = f;
        KUMO_GUARD(file_fields(c, k, p, f));
        kumo_err_ctx_t rerr = {0};
        if (file_overlap_check(w, i, &rerr) != 0) {
            char pp[SDL_PATH_BYTES];
            sdl_path_key(pp, p, "path");
            return sdl_fail(c, KUMO_EDUPLICATE, sdl_map_get(c, k, "path"), pp, "%s", rerr.detail);
        }
    }
    KUMO_ASSERT(w->n_files == s->child_count);
    return 0;
}

int kumo_sdl_workload_files_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(w != NULL);
    size_t len = w->name != NULL ? strnlen(w->name, KUMO_SDL_NAME_BYTES_MAX + 1u) : 0;
    KUMO_ENSURE(len > 0 && len <= KUMO_SDL_NAME_BYTES_MAX && sdl_name_is_valid(w->name, len), err,
                KUMO_EINVAL, "a workload has no valid name");
    KUMO_ENSURE(w->n_volumes <= KUMO_SDL_VOLUME_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu volumes exceed %u", w->name, w->n_volumes,
                KUMO_SDL_VOLUME_COUNT_MAX);
    return sdl_files_check(w, err);
}
