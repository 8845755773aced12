/*
 * workload.c - the workloads section of a stack file: image, command, env, compute, count,
 * group placement, ports and their connection rules, volumes (volume.c), and the capacity check
 * (the workloads placed on a group fit its resources). Pure: no I/O. Format: docs/stack.md.
 */
#include <string.h>

#include "sdl/sdl_int.h"

/* Units of each group's resources already taken by workloads, in file order. */
typedef struct sdl_usage {
    uint64_t used[KUMO_GROUP_COUNT_MAX][KUMO_RESOURCE_COUNT_MAX];
} sdl_usage_t;

static uint32_t seq_check(
    const sdl_ctx_t *c, uint32_t node, const char *path, uint32_t max, const char *what, int *rc)
{
    const sdl_node_t *n = sdl_node(c, node);
    *rc = 0;
    if (n->kind != SDL_SEQ) {
        *rc = sdl_fail(c, KUMO_EDECODE, node, path, "expected a list of %s", what);
    } else if (n->child_count > max) {
        *rc = sdl_fail(c, KUMO_ELIMIT, node, path, "%u %s exceed %u", n->child_count, what, max);
    }
    return *rc == 0 ? n->child_count : 0;
}

static int
command_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w)
{
    int rc;
    uint32_t n = seq_check(c, node, path, KUMO_SDL_COMMAND_COUNT_MAX, "arguments", &rc);
    KUMO_GUARD(rc);
    if (n == 0) {
        return 0;
    }
    w->command = kumo_calloc(n, sizeof(*w->command));
    if (w->command == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    w->n_command = n;
    size_t i = 0;
    for (uint32_t it = sdl_node(c, node)->first; it != SDL_NONE; it = sdl_node(c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        KUMO_GUARD(sdl_string(c, it, p, 0, KUMO_SDL_COMMAND_ARG_BYTES_MAX, &w->command[i]));
    }
    return 0;
}

bool sdl_env_key_is_valid(const char *k)
{
    KUMO_ASSERT(k != NULL);
    bool ok = (k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_';
    for (const char *p = k; ok && *p != '\0'; p++) {
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             *p == '_';
    }
    return ok;
}

static int env_entry_parse(
    const sdl_ctx_t *c, uint32_t key, const char *path, size_t index, Kumo__ManifestWorkload *w)
{
    const char *k;
    KUMO_GUARD(sdl_scalar(c, key, path, &k));
    char q[SDL_QUOTE_BYTES];
    sdl_quote(k, q);
    if (sdl_node(c, key)->len > KUMO_SDL_ENV_KEY_BYTES_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, key, path, "variable \"%s\" is longer than %u bytes", q,
                        KUMO_SDL_ENV_KEY_BYTES_MAX);
    }
    if (!sdl_env_key_is_valid(k)) {
        return sdl_fail(c, KUMO_EINVAL, key, path,
                        "\"%s\" is not a variable name (letters, digits and '_', not starting "
                        "with a digit)",
                        q);
    }
    for (size_t j = 0; j < index; j++) {
        if (strcmp(w->env[j]->key, k) == 0) {
            return sdl_fail(c, KUMO_EDUPLICATE, key, path, "variable \"%s\" given twice", k);
        }
    }
    Kumo__ManifestEnv *e = kumo_alloc(sizeof(*e));
    if (e == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
    }
    kumo__manifest_env__init(e);
    w->env[index] = e;
    e->key = sdl_strdup(k, strlen(k));
    if (e->key == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
    }
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, k);
    uint32_t value = sdl_node(c, key)->next;
    if (sdl_node(c, value)->kind == SDL_MAP) { /* {secret: NAME}: sealed, no value here */
        e->value = sdl_strdup("", 0);
        if (e->value == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
        }
        return sdl_env_secret_parse(c, value, p, &e->secret);
    }
    return sdl_string(c, value, p, 0, KUMO_SDL_ENV_VALUE_BYTES_MAX, &e->value);
}

static int env_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w)
{
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a mapping of NAME: value");
    }
    uint32_t n = m->child_count / 2u;
    if (n > KUMO_SDL_ENV_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u variables exceed %u", n,
                        KUMO_SDL_ENV_COUNT_MAX);
    }
    if (n == 0) {
        return 0;
    }
    w->env = kumo_calloc(n, sizeof(*w->env));
    if (w->env == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    w->n_env = n;
    size_t i = 0;
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next, i++) {
        KUMO_GUARD(env_entry_parse(c, k, path, i, w));
    }
    return 0;
}

static const Kumo__GroupSpec *group_find(const sdl_ctx_t *c, const char *name, size_t *index_out)
{
    for (size_t i = 0; i < c->stack->group_count; i++) {
        if (strcmp(c->stack->groups[i]->name, name) == 0) {
            *index_out = i;
            return c->stack->groups[i];
        }
    }
    return NULL;
}

/* One rule: exactly one of workload: NAME, group: NAME, global: true. */
static int
rule_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestConnection *r)
{
    static const char *const keys[] = {"workload", "group", "global"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    if (sdl_node(c, node)->child_count != 2u) {
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "a rule names exactly one of workload, group or global");
    }
    uint32_t key = sdl_node(c, node)->first;
    uint32_t v = sdl_node(c, key)->next;
    const char *kind = sdl_node(c, key)->text;
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, kind);
    if (strcmp(kind, "global") == 0) {
        bool global = false;
        KUMO_GUARD(sdl_bool(c, v, p, &global));
        if (!global) {
            return sdl_fail(c, KUMO_EINVAL, v, p, "must be true (leave the rule out instead)");
        }
        r->global = 1;
        return 0;
    }
    const char *name;
    KUMO_GUARD(sdl_name(c, v, p, &name));
    size_t gi;
    bool is_workload = kind[0] == 'w';
    bool found = is_workload ? sdl_map_get(c, c->workloads, name) != SDL_NONE
                             : group_find(c, name, &gi) != NULL;
    if (!found) {
        return sdl_fail(c, KUMO_ENOTFOUND, v, p, "no %s named \"%s\"", kind, name);
    }
    char *copy = sdl_strdup(name, strlen(name));
    if (copy == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, v, p, "out of memory");
    }
    if (is_workload) {
        r->workload = copy;
    } else {
        r->group = copy;
    }
    return 0;
}

bool sdl_rule_equal(const Kumo__ManifestConnection *a, const Kumo__ManifestConnection *b)
{
    return a->global == b->global && strcmp(a->workload, b->workload) == 0 &&
           strcmp(a->group, b->group) == 0;
}

static int
expose_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestPort *port)
{
    int rc;
    uint32_t n = seq_check(c, node, path, KUMO_SDL_RULE_COUNT_MAX, "rules", &rc);
    KUMO_GUARD(rc);
    if (n == 0) {
        return 0;
    }
    port->expose = kumo_calloc(n, sizeof(*port->expose));
    if (port->expose == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    size_t i = 0;
    for (uint32_t it = sdl_node(c, node)->first; it != SDL_NONE; it = sdl_node(c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        Kumo__ManifestConnection *r = kumo_alloc(sizeof(*r));
        if (r == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, it, p, "out of memory");
        }
        kumo__manifest_connection__init(r);
        port->expose[port->n_expose++] = r;
        KUMO_GUARD(rule_parse(c, it, p, r));
        for (size_t j = 0; j < i; j++) {
            if (sdl_rule_equal(port->expose[j], r)) {
                return sdl_fail(c, KUMO_EDUPLICATE, it, p, "same rule as expose[%zu]", j);
            }
        }
    }
    return 0;
}

static int port_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestPort *port)
{
    static const char *const keys[] = {"port", "protocol", "expose"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "port", &v));
    sdl_path_key(p, path, "port");
    uint64_t number;
    KUMO_GUARD(sdl_u64(c, v, p, &number));
    if (number == 0 || number > 65535u) {
        return sdl_fail(c, KUMO_EINVAL, v, p, "%llu is outside 1..65535",
                        (unsigned long long)number);
    }
    port->port = (uint32_t)number; /* <= 65535 */
    v = sdl_map_get(c, node, "protocol");
    if (v != SDL_NONE) {
        const char *proto;
        sdl_path_key(p, path, "protocol");
        KUMO_GUARD(sdl_scalar(c, v, p, &proto));
        if (strcmp(proto, "tcp") != 0) {
            char q[SDL_QUOTE_BYTES];
            sdl_quote(proto, q);
            return sdl_fail(c, KUMO_EINVAL, v, p, "\"%s\" is not supported (use tcp)", q);
        }
    }
    port->protocol = sdl_strdup("tcp", 3);
    if (port->protocol == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    v = sdl_map_get(c, node, "expose");
    if (v == SDL_NONE) {
        return 0;
    }
    sdl_path_key(p, path, "expose");
    return expose_parse(c, v, p, port);
}

static int
ports_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w)
{
    int rc;
    uint32_t n = seq_check(c, node, path, KUMO_SDL_PORT_COUNT_MAX, "ports", &rc);
    KUMO_GUARD(rc);
    if (n == 0) {
        return 0;
    }
    w->ports = kumo_calloc(n, sizeof(*w->ports));
    if (w->ports == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    size_t i = 0;
    for (uint32_t it = sdl_node(c, node)->first; it != SDL_NONE; it = sdl_node(c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        Kumo__ManifestPort *port = kumo_alloc(sizeof(*port));
        if (port == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, it, p, "out of memory");
        }
        kumo__manifest_port__init(port);
        w->ports[w->n_ports++] = port;
        KUMO_GUARD(port_parse(c, it, p, port));
        for (size_t j = 0; j < i; j++) {
            if (w->ports[j]->port == port->port) {
                return sdl_fail(c, KUMO_EDUPLICATE, it, p, "port %u given twice (ports[%zu])",
                                port->port, j);
            }
        }
    }
    return 0;
}

/* The workload's group exists, one of its resources has exactly the workload's compute unit,
 * and the instances placed on that resource so far fit its count. */
static int placement_check(const sdl_ctx_t *c,
                           uint32_t node,
                           const char *path,
                           const Kumo__ManifestWorkload *w,
                           sdl_usage_t *usage)
{
    size_t gi = 0;
    const Kumo__GroupSpec *g = group_find(c, w->group, &gi);
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, "group");
    if (g == NULL) {
        return sdl_fail(c, KUMO_ENOTFOUND, sdl_map_get(c, node, "group"), p,
                        "no group named \"%s\"", w->group);
    }
    size_t ri = 0;
    while (ri < g->n_resources && !sdl_compute_equal(g->resources[ri]->compute, w->compute)) {
        ri++;
    }
    if (ri == g->n_resources) {
        sdl_path_key(p, path, "compute");
        return sdl_fail(c, KUMO_EINVAL, sdl_map_get(c, node, "compute"), p,
                        "matches no resource of group \"%s\" (cpu, memory, storage and gpu must "
                        "equal one of its resources)",
                        g->name);
    }
    KUMO_ASSERT(gi < KUMO_GROUP_COUNT_MAX && ri < KUMO_RESOURCE_COUNT_MAX);
    uint64_t *used = &usage->used[gi][ri];
    /* used <= KUMO_RESOURCE_UNIT_COUNT_MAX before the add, so the sum cannot overflow. */
    KUMO_ASSERT(*used <= g->resources[ri]->count);
    *used += w->count;
    if (*used > g->resources[ri]->count) {
        uint32_t at = sdl_map_get(c, node, "count");
        sdl_path_key(p, path, "count");
        return sdl_fail(c, KUMO_EINVAL, at == SDL_NONE ? node : at, p,
                        "%u instances bring groups.%s.resources[%zu] to %llu of its %u units",
                        w->count, g->name, ri, (unsigned long long)*used, g->resources[ri]->count);
    }
    return 0;
}

static int
workload_fields(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w)
{
    char p[SDL_PATH_BYTES];
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "image", &v));
    sdl_path_key(p, path, "image");
    KUMO_GUARD(sdl_string(c, v, p, 1, KUMO_SDL_IMAGE_BYTES_MAX, &w->image));
    for (const char *s = w->image; *s != '\0'; s++) {
        if (*s <= 0x20 || *s >= 0x7f) {
            return sdl_fail(c, KUMO_EINVAL, v, p, "an image reference has no spaces or controls");
        }
    }
    KUMO_GUARD(sdl_map_need(c, node, path, "compute", &v));
    sdl_path_key(p, path, "compute");
    KUMO_GUARD(sdl_compute(c, v, p, &w->compute));
    w->count = 1;
    v = sdl_map_get(c, node, "count");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "count");
        KUMO_GUARD(sdl_count(c, v, p, KUMO_RESOURCE_UNIT_COUNT_MAX, &w->count));
    }
    KUMO_GUARD(sdl_map_need(c, node, path, "group", &v));
    sdl_path_key(p, path, "group");
    const char *group;
    KUMO_GUARD(sdl_name(c, v, p, &group));
    w->group = sdl_strdup(group, strlen(group));
    if (w->group == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, v, p, "out of memory");
    }
    return 0;
}

static int
workload_parse(const sdl_ctx_t *c, uint32_t key, Kumo__ManifestWorkload *w, sdl_usage_t *usage)
{
    static const char *const keys[] = {"image", "command", "env",     "compute", "count",
                                       "group", "ports",   "volumes", "files"};
    const char *name = sdl_node(c, key)->text; /* checked by sdl_workloads_parse */
    uint32_t node = sdl_node(c, key)->next;
    char path[SDL_PATH_BYTES];
    sdl_path_key(path, "workloads", name);
    w->name = sdl_strdup(name, strlen(name));
    if (w->name == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
    }
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    KUMO_GUARD(workload_fields(c, node, path, w));
    KUMO_GUARD(placement_check(c, node, path, w, usage));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(c, node, "command");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "command");
        KUMO_GUARD(command_parse(c, v, p, w));
    }
    v = sdl_map_get(c, node, "env");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "env");
        KUMO_GUARD(env_parse(c, v, p, w));
    }
    v = sdl_map_get(c, node, "ports");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "ports");
        KUMO_GUARD(ports_parse(c, v, p, w));
    }
    v = sdl_map_get(c, node, "volumes");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "volumes");
        KUMO_GUARD(sdl_volumes_parse(c, v, p, w));
    }
    v = sdl_map_get(c, node, "files");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "files");
        KUMO_GUARD(sdl_files_parse(c, v, p, w));
    }
    return 0;
}

/* Every workload name first (rules may name a workload defined further down). */
static int workload_names_check(const sdl_ctx_t *c, uint32_t node)
{
    const sdl_node_t *m = sdl_node(c, node);
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        const char *name;
        KUMO_GUARD(sdl_name(c, k, "workloads", &name));
        for (uint32_t j = m->first; j != k; j = sdl_node(c, sdl_node(c, j)->next)->next) {
            if (strcmp(sdl_node(c, j)->text, name) == 0) {
                return sdl_fail(c, KUMO_EDUPLICATE, k, "workloads", "workload \"%s\" given twice",
                                name);
            }
        }
    }
    return 0;
}

int sdl_workloads_parse(const sdl_ctx_t *c, uint32_t node)
{
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, "workloads", "expected a mapping of workload names");
    }
    uint32_t count = m->child_count / 2u;
    if (count == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, "workloads", "no workloads");
    }
    if (count > KUMO_SDL_WORKLOAD_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, "workloads", "%u workloads exceed %u", count,
                        KUMO_SDL_WORKLOAD_COUNT_MAX);
    }
    KUMO_GUARD(workload_names_check(c, node));
    KUMO_ASSERT(c->workloads == node);
    Kumo__Manifest *man = c->stack->manifest;
    man->workloads = kumo_calloc(count, sizeof(*man->workloads));
    if (man->workloads == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, "workloads", "out of memory");
    }
    sdl_usage_t *usage = kumo_calloc(1, sizeof(*usage));
    if (usage == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, "workloads", "out of memory");
    }
    int rc = 0;
    for (uint32_t k = m->first; rc == 0 && k != SDL_NONE;
         k = sdl_node(c, sdl_node(c, k)->next)->next) {
        Kumo__ManifestWorkload *w = kumo_alloc(sizeof(*w));
        if (w == NULL) {
            rc = sdl_fail(c, KUMO_ENOMEM, k, "workloads", "out of memory");
            break;
        }
        kumo__manifest_workload__init(w);
        man->workloads[man->n_workloads++] = w;
        rc = workload_parse(c, k, w, usage);
    }
    kumo_free(usage);
    return rc;
}
