/*
 * akash_service.c - one Akash service written as a kumo workload: image, command and args,
 * env ("KEY=value" lines), expose (ports and who may connect) and params.storage (volumes),
 * plus the text helpers of the import. Pure: no I/O. Format: docs/stack.md "Akash SDL files".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sdl/akash_int.h"

typedef struct akash_port {
    uint64_t port;
    bool global;
    const char *from[KUMO_SDL_RULE_COUNT_MAX];
    size_t from_count;
} akash_port_t;

void akash_put(akash_ctx_t *a, kumo_buf_t *buf, const char *fmt, ...)
{
    char line[8192]; /* a message, a path and a file name of at most 4096 bytes */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        a->out_rc = a->out_rc != 0 ? a->out_rc : KUMO_ELIMIT;
        return;
    }
    if (a->out_rc == 0 && kumo_buf_append(buf, line, (size_t)n) < 0) {
        a->out_rc = KUMO_ELIMIT;
    }
}

void akash_note(akash_ctx_t *a, uint32_t node, const char *path, const char *fmt, ...)
{
    char msg[KUMO_ERR_DETAIL_BYTES];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a truncated warning is still useful */
    va_end(ap);
    char line[8192];
    int n = snprintf(line, sizeof(line), "%s:%" PRIu32 ": %s: %s\n", a->c.file,
                     sdl_node(&a->c, node)->line, path, msg);
    /* Warnings past the notes' cap (or a file name past 4 KiB) are dropped, never fatal. */
    if (n > 0 && (size_t)n < sizeof(line) && kumo_buf_append(a->notes, line, (size_t)n) < 0) {
        return;
    }
}

void akash_put_quoted(akash_ctx_t *a, kumo_buf_t *buf, const char *text)
{
    akash_put(a, buf, "\"");
    for (const char *p = text; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            akash_put(a, buf, "\\%c", ch);
        } else if (ch < 0x20u || ch == 0x7fu) {
            akash_put(a, buf, "\\x%02x", ch);
        } else {
            akash_put(a, buf, "%c", ch);
        }
    }
    akash_put(a, buf, "\"");
}

void akash_size_format(uint64_t bytes, char out[32])
{
    static const char *const suffix[] = {"Ti", "Gi", "Mi", "Ki"};
    static const unsigned shift[] = {40u, 30u, 20u, 10u};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(shift); i++) {
        uint64_t factor = (uint64_t)1 << shift[i];
        if (bytes != 0 && bytes % factor == 0) {
            (void)snprintf(out, 32, "%" PRIu64 "%s", bytes / factor, suffix[i]);
            return;
        }
    }
    (void)snprintf(out, 32, "%" PRIu64, bytes);
}

/* command then args: the container's argv after the image's entrypoint (kumo's command). */
static int akash_argv(akash_ctx_t *a, uint32_t svc, const char *path)
{
    static const char *const keys[] = {"command", "args"};
    bool any = false;
    for (size_t k = 0; k < KUMO_ARRAY_COUNT(keys); k++) {
        uint32_t v = sdl_map_get(&a->c, svc, keys[k]);
        if (v == SDL_NONE) {
            continue;
        }
        char p[SDL_PATH_BYTES];
        sdl_path_key(p, path, keys[k]);
        const sdl_node_t *n = sdl_node(&a->c, v);
        if (n->kind != SDL_SEQ) {
            return sdl_fail(&a->c, KUMO_EDECODE, v, p, "expected a list of strings");
        }
        if (k == 0) {
            akash_note(a, v, p, "runs as the image's CMD (after its ENTRYPOINT, if it has one)");
        }
        for (uint32_t it = n->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next) {
            const char *arg;
            KUMO_GUARD(sdl_scalar(&a->c, it, p, &arg));
            akash_put(a, &a->wl, any ? ", " : "    command: [");
            akash_put_quoted(a, &a->wl, arg);
            any = true;
        }
    }
    if (any) {
        akash_put(a, &a->wl, "]\n");
    }
    return 0;
}

static int akash_env(akash_ctx_t *a, uint32_t node, const char *path)
{
    const sdl_node_t *n = sdl_node(&a->c, node);
    if (n->kind != SDL_SEQ) {
        return sdl_fail(&a->c, KUMO_EDECODE, node, path, "expected a list of KEY=value");
    }
    if (n->child_count > 0) {
        akash_put(a, &a->wl, "    env:\n");
    }
    for (uint32_t it = n->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next) {
        const char *line;
        KUMO_GUARD(sdl_scalar(&a->c, it, path, &line));
        const char *eq = strchr(line, '=');
        if (eq == NULL || eq == line || (size_t)(eq - line) > KUMO_SDL_ENV_KEY_BYTES_MAX) {
            char q[SDL_QUOTE_BYTES];
            sdl_quote(line, q);
            return sdl_fail(&a->c, KUMO_EINVAL, it, path, "\"%s\" is not KEY=value", q);
        }
        char key[KUMO_SDL_ENV_KEY_BYTES_MAX + 1u];
        memcpy(key, line, (size_t)(eq - line));
        key[eq - line] = '\0';
        akash_put(a, &a->wl, "      ");
        akash_put_quoted(a, &a->wl, key);
        akash_put(a, &a->wl, ": ");
        akash_put_quoted(a, &a->wl, eq + 1);
        akash_put(a, &a->wl, "\n");
    }
    return 0;
}

/* to: [{global: true}, {service: NAME}, {ip: NAME}] into the port's rules. */
static int akash_to(akash_ctx_t *a, uint32_t node, const char *path, akash_port_t *port)
{
    static const char *const keys[] = {"global", "service", "ip"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "ip");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "ip");
        return sdl_fail(&a->c, KUMO_EINVAL, v, p, "IP endpoints are not supported by kumo yet");
    }
    v = sdl_map_get(&a->c, node, "global");
    if (v != SDL_NONE) {
        bool global = false;
        sdl_path_key(p, path, "global");
        KUMO_GUARD(sdl_bool(&a->c, v, p, &global));
        port->global = port->global || global;
    }
    v = sdl_map_get(&a->c, node, "service");
    if (v == SDL_NONE) {
        return 0;
    }
    const char *from;
    sdl_path_key(p, path, "service");
    KUMO_GUARD(sdl_name(&a->c, v, p, &from));
    for (size_t i = 0; i < port->from_count; i++) {
        if (strcmp(port->from[i], from) == 0) {
            return 0;
        }
    }
    if (port->from_count == KUMO_SDL_RULE_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, v, p, "more than %u services", KUMO_SDL_RULE_COUNT_MAX);
    }
    port->from[port->from_count++] = from;
    return 0;
}

static int akash_expose_extras(akash_ctx_t *a, uint32_t node, const char *path, uint64_t port)
{
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "proto");
    if (v != SDL_NONE) {
        const char *proto;
        sdl_path_key(p, path, "proto");
        KUMO_GUARD(sdl_scalar(&a->c, v, p, &proto));
        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "TCP") != 0) {
            char q[SDL_QUOTE_BYTES];
            sdl_quote(proto, q);
            return sdl_fail(&a->c, KUMO_EINVAL, v, p, "\"%s\" is not supported by kumo (tcp only)",
                            q);
        }
    }
    v = sdl_map_get(&a->c, node, "as");
    uint64_t as = port;
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "as");
        KUMO_GUARD(sdl_u64(&a->c, v, p, &as));
    }
    if (as != port) {
        akash_note(a, v, p, "ignored (the provider chooses the public port of %" PRIu64 ")", port);
    }
    static const char *const dropped[] = {"accept", "http_options"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(dropped); i++) {
        v = sdl_map_get(&a->c, node, dropped[i]);
        if (v != SDL_NONE) {
            sdl_path_key(p, path, dropped[i]);
            akash_note(a, v, p, "ignored (kumo forwards plain TCP, no HTTP ingress)");
        }
    }
    return 0;
}

/* One expose entry; the same port twice is one kumo port with the rules of both. */
static int akash_expose_one(
    akash_ctx_t *a, uint32_t node, const char *path, akash_port_t *ports, size_t *count)
{
    static const char *const keys[] = {"port", "as", "accept", "proto", "to", "http_options"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v;
    uint64_t number;
    char p[SDL_PATH_BYTES];
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "port", &v));
    sdl_path_key(p, path, "port");
    KUMO_GUARD(sdl_u64(&a->c, v, p, &number));
    KUMO_GUARD(akash_expose_extras(a, node, path, number));
    size_t i = 0;
    while (i < *count && ports[i].port != number) {
        i++;
    }
    if (i == KUMO_SDL_PORT_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, node, path, "more than %u ports",
                        KUMO_SDL_PORT_COUNT_MAX);
    }
    if (i == *count) {
        ports[(*count)++] = (akash_port_t){.port = number};
    }
    v = sdl_map_get(&a->c, node, "to");
    if (v == SDL_NONE) {
        return 0;
    }
    sdl_path_key(p, path, "to");
    const sdl_node_t *to = sdl_node(&a->c, v);
    if (to->kind != SDL_SEQ) {
        return sdl_fail(&a->c, KUMO_EDECODE, v, p, "expected a list");
    }
    size_t j = 0;
    for (uint32_t it = to->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next, j++) {
        char q[SDL_PATH_BYTES];
        sdl_path_index(q, p, j);
        KUMO_GUARD(akash_to(a, it, q, &ports[i]));
    }
    return 0;
}

static int akash_expose(akash_ctx_t *a, uint32_t node, const char *path)
{
    const sdl_node_t *n = sdl_node(&a->c, node);
    if (n->kind != SDL_SEQ) {
        return sdl_fail(&a->c, KUMO_EDECODE, node, path, "expected a list of ports");
    }
    akash_port_t ports[KUMO_SDL_PORT_COUNT_MAX];
    size_t count = 0;
    size_t i = 0;
    for (uint32_t it = n->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        KUMO_GUARD(akash_expose_one(a, it, p, ports, &count));
    }
    if (count > 0) {
        akash_put(a, &a->wl, "    ports:\n");
    }
    for (i = 0; i < count; i++) {
        akash_put(a, &a->wl, "      - port: %" PRIu64 "\n", ports[i].port);
        if (ports[i].from_count > 0 || ports[i].global) {
            akash_put(a, &a->wl, "        expose:\n");
        }
        if (ports[i].global) {
            akash_put(a, &a->wl, "          - global: true\n");
        }
        for (size_t j = 0; j < ports[i].from_count; j++) {
            akash_put(a, &a->wl, "          - workload: %s\n", ports[i].from[j]);
        }
    }
    return 0;
}

/* params.storage.<name>: {mount, readOnly}: the profile's named storage as a kumo volume. */
static int akash_mount(akash_ctx_t *a, uint32_t key, const char *path, bool *mounted)
{
    const char *name;
    KUMO_GUARD(sdl_name(&a->c, key, path, &name));
    char vp[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(vp, path, name);
    size_t i = 0;
    while (i < a->volume_count && strcmp(a->volumes[i].name, name) != 0) {
        i++;
    }
    if (i == a->volume_count) {
        return sdl_fail(&a->c, KUMO_ENOTFOUND, key, vp,
                        "the service's compute profile has no storage named \"%s\"", name);
    }
    uint32_t node = sdl_node(&a->c, key)->next;
    static const char *const keys[] = {"mount", "readOnly"};
    KUMO_GUARD(sdl_map_check(&a->c, node, vp, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v = sdl_map_get(&a->c, node, "readOnly");
    if (v != SDL_NONE) {
        bool ro = false;
        sdl_path_key(p, vp, "readOnly");
        KUMO_GUARD(sdl_bool(&a->c, v, p, &ro));
        if (ro) {
            akash_note(a, v, p, "mounted read-write (kumo has no read-only volumes)");
        }
    }
    const char *mount;
    KUMO_GUARD(sdl_map_need(&a->c, node, vp, "mount", &v));
    sdl_path_key(p, vp, "mount");
    KUMO_GUARD(sdl_scalar(&a->c, v, p, &mount));
    char size[32];
    akash_size_format(a->volumes[i].bytes, size);
    akash_put(a, &a->wl, "      %s: {size: %s, mount: ", name, size);
    akash_put_quoted(a, &a->wl, mount);
    akash_put(a, &a->wl, ", persistent: %s}\n", a->volumes[i].ram ? "false" : "true");
    mounted[i] = true;
    return 0;
}

/* A named storage entry no mount uses stays in the unit's storage, unused. */
static void akash_unmounted(akash_ctx_t *a, const bool mounted[KUMO_SDL_VOLUME_COUNT_MAX])
{
    char p[SDL_PATH_BYTES];
    (void)snprintf(p, sizeof(p), "profiles.compute.%s.resources.storage", a->profile);
    for (size_t i = 0; i < a->volume_count; i++) {
        if (!mounted[i]) {
            akash_note(a, a->volumes[i].node, p,
                       "volume \"%s\" is not mounted: counted in the unit's storage only",
                       a->volumes[i].name);
        }
    }
}

static int akash_params(akash_ctx_t *a, uint32_t node, const char *path)
{
    KUMO_GUARD(sdl_map_names(&a->c, node, path));
    bool mounted[KUMO_SDL_VOLUME_COUNT_MAX] = {false};
    const sdl_node_t *n = sdl_node(&a->c, node);
    for (uint32_t k = n->first; k != SDL_NONE;
         k = sdl_node(&a->c, sdl_node(&a->c, k)->next)->next) {
        char p[SDL_PATH_BYTES];
        const char *key = sdl_node(&a->c, k)->text;
        sdl_path_key(p, path, sdl_name_is_valid(key, strlen(key)) ? key : "?");
        if (strcmp(key, "storage") != 0) {
            akash_note(a, k, p, "ignored");
            continue;
        }
        uint32_t s = sdl_node(&a->c, k)->next;
        KUMO_GUARD(sdl_map_names(&a->c, s, p));
        const sdl_node_t *sn = sdl_node(&a->c, s);
        if (sn->child_count > 0) {
            akash_put(a, &a->wl, "    volumes:\n");
        }
        for (uint32_t v = sn->first; v != SDL_NONE;
             v = sdl_node(&a->c, sdl_node(&a->c, v)->next)->next) {
            KUMO_GUARD(akash_mount(a, v, p, mounted));
        }
    }
    akash_unmounted(a, mounted);
    return 0;
}

static int akash_service_check(akash_ctx_t *a, uint32_t svc, const char *path)
{
    static const char *const keys[] = {"image",  "command", "args",       "env",
                                       "expose", "params",  "depends_on", "credentials"};
    KUMO_GUARD(sdl_map_check(&a->c, svc, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, svc, "credentials");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "credentials");
        return sdl_fail(&a->c, KUMO_EINVAL, v, p,
                        "registry credentials are not supported by kumo yet (use a public image)");
    }
    v = sdl_map_get(&a->c, svc, "depends_on");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "depends_on");
        akash_note(a, v, p, "ignored (workloads start together)");
    }
    return 0;
}

int akash_service_emit(
    akash_ctx_t *a, const char *name, uint32_t svc, const char *group, uint32_t count)
{
    char path[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(path, "services", name);
    KUMO_GUARD(akash_service_check(a, svc, path));
    uint32_t v;
    const char *image;
    KUMO_GUARD(sdl_map_need(&a->c, svc, path, "image", &v));
    sdl_path_key(p, path, "image");
    KUMO_GUARD(sdl_scalar(&a->c, v, p, &image));
    akash_put(a, &a->wl, "  %s:\n    image: ", name);
    akash_put_quoted(a, &a->wl, image);
    akash_put(a, &a->wl, "\n");
    KUMO_GUARD(akash_argv(a, svc, path));
    v = sdl_map_get(&a->c, svc, "env");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "env");
        KUMO_GUARD(akash_env(a, v, p));
    }
    char mem[32];
    char disk[32];
    akash_size_format(a->unit.memory, mem);
    akash_size_format(a->unit.storage, disk);
    char gpu[AKASH_GPU_TEXT_BYTES];
    akash_gpu_format(&a->unit, gpu);
    akash_put(a, &a->wl,
              "    compute: {cpu: %" PRIu64 "m, memory: %s, storage: %s%s}\n    count: %" PRIu32
              "\n    group: %s\n",
              a->unit.milli, mem, disk, gpu, count, group);
    v = sdl_map_get(&a->c, svc, "expose");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "expose");
        KUMO_GUARD(akash_expose(a, v, p));
    }
    v = sdl_map_get(&a->c, svc, "params");
    if (v == SDL_NONE) {
        bool mounted[KUMO_SDL_VOLUME_COUNT_MAX] = {false};
        akash_unmounted(a, mounted);
        return 0;
    }
    sdl_path_key(p, path, "params");
    return akash_params(a, v, p);
}
