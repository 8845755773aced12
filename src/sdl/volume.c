/*
 * volume.c - the volumes of a workload: NAME -> {size, mount, persistent}. A volume's size is
 * per instance and drawn from the unit's leased storage; the rules here are shared with the
 * manifest check (check.c), so what a stack may ask is what a provider accepts. Pure: no I/O.
 * Format: docs/stack.md.
 */
#include <string.h>

#include "sdl/sdl_int.h"

/* Paths the runtime mounts itself or the container needs as the image made them. */
static const char *const reserved_mounts[] = {"/proc", "/sys", "/dev",    "/tmp",
                                              "/run",  "/etc", "/var/tmp"};

/* Whether b is a, or a path under a (a directory above b). */
bool sdl_path_within(const char *b, const char *a)
{
    size_t n = strlen(a);
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

bool sdl_mount_overlaps(const char *a, const char *b)
{
    KUMO_ASSERT(a != NULL);
    KUMO_ASSERT(b != NULL);
    return sdl_path_within(a, b) || sdl_path_within(b, a);
}

static bool mount_char_is_valid(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

bool sdl_path_components_are_valid(const char *mount, size_t len)
{
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && mount[i] != '/') {
            if (!mount_char_is_valid(mount[i])) {
                return false;
            }
            continue;
        }
        size_t n = i - start;
        bool dots = (n == 1 && mount[start] == '.') ||
                    (n == 2 && mount[start] == '.' && mount[start + 1u] == '.');
        if (n == 0 || dots) {
            return false;
        }
        start = i + 1u;
    }
    return true;
}

bool kumo_sdl_mount_is_valid(const char *mount)
{
    KUMO_ASSERT(mount != NULL);
    size_t len = strnlen(mount, KUMO_SDL_MOUNT_BYTES_MAX + 1u);
    if (len < 2u || len > KUMO_SDL_MOUNT_BYTES_MAX || mount[0] != '/') {
        return false;
    }
    if (!sdl_path_components_are_valid(mount, len)) {
        return false;
    }
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(reserved_mounts); i++) {
        if (sdl_path_within(mount, reserved_mounts[i])) {
            return false;
        }
    }
    return true;
}

bool sdl_volumes_fit(const Kumo__ManifestWorkload *w, uint64_t *total_out)
{
    KUMO_ASSERT(w != NULL);
    KUMO_ASSERT(w->compute != NULL);
    uint64_t total = 0;
    for (size_t i = 0; i < w->n_volumes; i++) {
        if (kumo_u64_add(total, w->volumes[i]->size_bytes, &total) != 0) {
            *total_out = UINT64_MAX;
            return false;
        }
    }
    *total_out = total;
    return total <= w->compute->storage_bytes;
}

static int
volume_fields(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestVolume *v)
{
    static const char *const keys[] = {"size", "mount", "persistent"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t at;
    KUMO_GUARD(sdl_map_need(c, node, path, "size", &at));
    sdl_path_key(p, path, "size");
    KUMO_GUARD(sdl_size(c, at, p, &v->size_bytes));
    if (v->size_bytes < KUMO_SDL_VOLUME_BYTES_MIN) {
        return sdl_fail(c, KUMO_EINVAL, at, p, "%llu bytes is less than the smallest volume (4Mi)",
                        (unsigned long long)v->size_bytes);
    }
    KUMO_GUARD(sdl_map_need(c, node, path, "mount", &at));
    sdl_path_key(p, path, "mount");
    KUMO_GUARD(sdl_string(c, at, p, 1, KUMO_SDL_MOUNT_BYTES_MAX, &v->mount));
    if (!kumo_sdl_mount_is_valid(v->mount)) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(v->mount, q);
        return sdl_fail(c, KUMO_EINVAL, at, p,
                        "\"%s\" is not a mount path (absolute, of a-z A-Z 0-9 . _ -, not /, "
                        "/etc, /dev, /proc, /sys, /tmp, /run or /var/tmp or under them)",
                        q);
    }
    bool persistent = true;
    at = sdl_map_get(c, node, "persistent");
    if (at != SDL_NONE) {
        sdl_path_key(p, path, "persistent");
        KUMO_GUARD(sdl_bool(c, at, p, &persistent));
    }
    v->persistent = persistent ? 1 : 0;
    return 0;
}

/* One volume: its name (the key), fields, and no overlap with the volumes before it. */
static int volume_parse(
    const sdl_ctx_t *c, uint32_t key, const char *path, size_t index, Kumo__ManifestWorkload *w)
{
    const char *name;
    KUMO_GUARD(sdl_name(c, key, path, &name));
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, name);
    for (size_t j = 0; j < index; j++) {
        if (strcmp(w->volumes[j]->name, name) == 0) {
            return sdl_fail(c, KUMO_EDUPLICATE, key, path, "volume \"%s\" given twice", name);
        }
    }
    Kumo__ManifestVolume *v = kumo_alloc(sizeof(*v));
    if (v == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, p, "out of memory");
    }
    kumo__manifest_volume__init(v);
    w->volumes[w->n_volumes++] = v;
    v->name = sdl_strdup(name, strlen(name));
    if (v->name == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, p, "out of memory");
    }
    uint32_t node = sdl_node(c, key)->next;
    KUMO_GUARD(volume_fields(c, node, p, v));
    for (size_t j = 0; j < index; j++) {
        if (sdl_mount_overlaps(w->volumes[j]->mount, v->mount)) {
            char mp[SDL_PATH_BYTES];
            sdl_path_key(mp, p, "mount");
            return sdl_fail(c, KUMO_EDUPLICATE, sdl_map_get(c, node, "mount"), mp,
                            "\"%s\" overlaps volume \"%s\" at \"%s\"", v->mount,
                            w->volumes[j]->name, w->volumes[j]->mount);
        }
    }
    return 0;
}

int sdl_volumes_parse(const sdl_ctx_t *c,
                      uint32_t node,
                      const char *path,
                      Kumo__ManifestWorkload *w)
{
    KUMO_ASSERT(w->compute != NULL);
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a mapping of volume names");
    }
    uint32_t n = m->child_count / 2u;
    if (n > KUMO_SDL_VOLUME_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u volumes exceed %u", n,
                        KUMO_SDL_VOLUME_COUNT_MAX);
    }
    if (n == 0) {
        return 0;
    }
    w->volumes = kumo_calloc(n, sizeof(*w->volumes));
    if (w->volumes == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    size_t i = 0;
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next, i++) {
        KUMO_GUARD(volume_parse(c, k, path, i, w));
    }
    KUMO_ASSERT(w->n_volumes == n);
    uint64_t total = 0;
    if (!sdl_volumes_fit(w, &total)) {
        return sdl_fail(c, KUMO_ELIMIT, node, path,
                        "volumes of %llu bytes per instance exceed the unit's storage of %llu "
                        "bytes",
                        (unsigned long long)total, (unsigned long long)w->compute->storage_bytes);
    }
    return 0;
}
