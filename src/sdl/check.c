/*
 * check.c - kumo_sdl_manifest_check: a received manifest against the deployment's groups as
 * the chain holds them. A provider gets manifest bytes from a tenant (upload) or from another
 * provider (peer delivery); the Merkle root only proves that the bytes are the version the
 * tenant put on chain, not that they fit what was leased. So everything the stack parser
 * guarantees of a manifest it made is checked again here, against the on-chain groups:
 * placement (group, compute unit, instances within the resource's units, at least one), and
 * every limit of the stack format (names, image, command, env, ports, rules, volumes and
 * their sizes within the unit's leased storage). A provider runs
 * only what passes, so a tenant can never make it run more, or bigger, than the lease.
 * Pure: no I/O, no allocation.
 */
#include <string.h>

#include "sdl/sdl_int.h"

/* Instances placed so far on each resource of each group (gseq, resource index): every group
 * the deployment ever had, closed ones included. */
typedef struct check_usage {
    uint64_t used[KUMO_DEPLOYMENT_GROUP_LIFE_MAX][KUMO_RESOURCE_COUNT_MAX];
} check_usage_t;

/* What a check sees: the groups and the manifest (for names rules refer to). */
typedef struct check_ctx {
    const Kumo__Manifest *m;
    Kumo__GroupSpec *const *groups;
    size_t group_count;
    check_usage_t usage;
} check_ctx_t;

/* A protobuf string of at most max bytes (protobuf-c strings are NUL-terminated). */
static size_t text_len(const char *s, size_t max)
{
    return s != NULL ? strnlen(s, max + 1u) : 0;
}

static bool group_find(const check_ctx_t *c, const char *name, size_t *index_out)
{
    for (size_t i = 0; i < c->group_count; i++) {
        if (c->groups[i]->name != NULL && strcmp(c->groups[i]->name, name) == 0) {
            *index_out = i;
            return true;
        }
    }
    return false;
}

static bool workload_find(const check_ctx_t *c, const char *name)
{
    for (size_t i = 0; i < c->m->n_workloads; i++) {
        if (strcmp(c->m->workloads[i]->name, name) == 0) {
            return true;
        }
    }
    return false;
}

static int image_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    size_t len = text_len(w->image, KUMO_SDL_IMAGE_BYTES_MAX);
    KUMO_ENSURE(len > 0, err, KUMO_EEMPTY, "workload \"%s\": no image", w->name);
    KUMO_ENSURE(len <= KUMO_SDL_IMAGE_BYTES_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": image longer than %u bytes", w->name, KUMO_SDL_IMAGE_BYTES_MAX);
    for (size_t i = 0; i < len; i++) {
        KUMO_ENSURE(w->image[i] > 0x20 && w->image[i] < 0x7f, err, KUMO_EINVAL,
                    "workload \"%s\": an image reference has no spaces or controls", w->name);
    }
    return 0;
}

static int command_env_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(w->n_command <= KUMO_SDL_COMMAND_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu command arguments exceed %u", w->name, w->n_command,
                KUMO_SDL_COMMAND_COUNT_MAX);
    for (size_t i = 0; i < w->n_command; i++) {
        KUMO_ENSURE(text_len(w->command[i], KUMO_SDL_COMMAND_ARG_BYTES_MAX) <=
                        KUMO_SDL_COMMAND_ARG_BYTES_MAX,
                    err, KUMO_ELIMIT, "workload \"%s\": command[%zu] longer than %u bytes", w->name,
                    i, KUMO_SDL_COMMAND_ARG_BYTES_MAX);
    }
    KUMO_ENSURE(w->n_env <= KUMO_SDL_ENV_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu variables exceed %u", w->name, w->n_env,
                KUMO_SDL_ENV_COUNT_MAX);
    for (size_t i = 0; i < w->n_env; i++) {
        const Kumo__ManifestEnv *e = w->env[i];
        size_t key_len = text_len(e->key, KUMO_SDL_ENV_KEY_BYTES_MAX);
        KUMO_ENSURE(key_len <= KUMO_SDL_ENV_KEY_BYTES_MAX &&
                        text_len(e->value, KUMO_SDL_ENV_VALUE_BYTES_MAX) <=
                            KUMO_SDL_ENV_VALUE_BYTES_MAX,
                    err, KUMO_ELIMIT, "workload \"%s\": env[%zu] over its size limits", w->name, i);
        KUMO_ENSURE(key_len > 0 && sdl_env_key_is_valid(e->key), err, KUMO_EINVAL,
                    "workload \"%s\": env[%zu] is not a variable name", w->name, i);
        for (size_t j = 0; j < i; j++) {
            KUMO_ENSURE(strcmp(w->env[j]->key, e->key) != 0, err, KUMO_EDUPLICATE,
                        "workload \"%s\": variable \"%s\" given twice", w->name, e->key);
        }
    }
    return 0;
}

/* One rule: exactly one of an existing workload, an existing group, or global. */
static int rule_check(const check_ctx_t *c,
                      const Kumo__ManifestWorkload *w,
                      const Kumo__ManifestPort *p,
                      const Kumo__ManifestConnection *r,
                      kumo_err_ctx_t *err)
{
    size_t wl = text_len(r->workload, KUMO_SDL_NAME_BYTES_MAX);
    size_t gl = text_len(r->group, KUMO_SDL_NAME_BYTES_MAX);
    int kinds = (wl > 0 ? 1 : 0) + (gl > 0 ? 1 : 0) + (r->global ? 1 : 0);
    KUMO_ENSURE(kinds == 1, err, KUMO_EINVAL,
                "workload \"%s\": port %u: a rule names exactly one of workload, group or global",
                w->name, p->port);
    size_t gi = 0;
    KUMO_ENSURE(wl == 0 || (wl <= KUMO_SDL_NAME_BYTES_MAX && workload_find(c, r->workload)), err,
                KUMO_ENOTFOUND,
                "workload \"%s\": port %u: a rule names no workload of the manifest", w->name,
                p->port);
    KUMO_ENSURE(gl == 0 || (gl <= KUMO_SDL_NAME_BYTES_MAX && group_find(c, r->group, &gi)), err,
                KUMO_ENOTFOUND, "workload \"%s\": port %u: a rule names no group of the lease",
                w->name, p->port);
    return 0;
}

static int
port_check(const check_ctx_t *c, const Kumo__ManifestWorkload *w, size_t index, kumo_err_ctx_t *err)
{
    const Kumo__ManifestPort *p = w->ports[index];
    KUMO_ENSURE(p->port >= 1u && p->port <= 65535u, err, KUMO_EINVAL,
                "workload \"%s\": port %u is outside 1..65535", w->name, p->port);
    KUMO_ENSURE(p->protocol != NULL && strcmp(p->protocol, "tcp") == 0, err, KUMO_EINVAL,
                "workload \"%s\": port %u: only tcp is supported", w->name, p->port);
    for (size_t j = 0; j < index; j++) {
        KUMO_ENSURE(w->ports[j]->port != p->port, err, KUMO_EDUPLICATE,
                    "workload \"%s\": port %u given twice", w->name, p->port);
    }
    KUMO_ENSURE(p->n_expose <= KUMO_SDL_RULE_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": port %u: %zu rules exceed %u", w->name, p->port, p->n_expose,
                KUMO_SDL_RULE_COUNT_MAX);
    for (size_t r = 0; r < p->n_expose; r++) {
        KUMO_GUARD(rule_check(c, w, p, p->expose[r], err));
        for (size_t j = 0; j < r; j++) {
            KUMO_ENSURE(!sdl_rule_equal(p->expose[j], p->expose[r]), err, KUMO_EDUPLICATE,
                        "workload \"%s\": port %u: a rule given twice", w->name, p->port);
        }
    }
    return 0;
}

/* The workload's group is one of the lease's, its compute is exactly one of that group's
 * resource units, and the instances placed on that resource fit the units leased. */
static int placement_check(check_ctx_t *c, const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(w->compute != NULL, err, KUMO_EEMPTY, "workload \"%s\": no compute", w->name);
    KUMO_ENSURE(w->count >= 1u, err, KUMO_EINVAL, "workload \"%s\": count 0 (at least 1)", w->name);
    size_t gi = 0;
    KUMO_ENSURE(text_len(w->group, KUMO_SDL_NAME_BYTES_MAX) <= KUMO_SDL_NAME_BYTES_MAX &&
                    group_find(c, w->group, &gi),
                err, KUMO_ENOTFOUND,
                "workload \"%s\": no group of the deployment is named \"%.63s\"", w->name,
                w->group != NULL ? w->group : "");
    const Kumo__GroupSpec *g = c->groups[gi];
    size_t ri = 0;
    while (ri < g->n_resources && (g->resources[ri]->compute == NULL ||
                                   !sdl_compute_equal(g->resources[ri]->compute, w->compute))) {
        ri++;
    }
    KUMO_ENSURE(ri < g->n_resources, err, KUMO_EMISMATCH,
                "workload \"%s\": compute (cpu %llu milli, memory %llu, storage %llu bytes) is no "
                "resource unit of group \"%s\"",
                w->name, (unsigned long long)w->compute->cpu_milli,
                (unsigned long long)w->compute->memory_bytes,
                (unsigned long long)w->compute->storage_bytes, g->name);
    KUMO_ASSERT(gi < KUMO_DEPLOYMENT_GROUP_LIFE_MAX && ri < KUMO_RESOURCE_COUNT_MAX);
    uint64_t *used = &c->usage.used[gi][ri];
    /* *used <= the resource's count (a u32) before the add: the sum fits 64 bits. */
    KUMO_ASSERT(*used <= UINT32_MAX);
    *used += w->count;
    KUMO_ENSURE(*used <= g->resources[ri]->count, err, KUMO_ELIMIT,
                "workload \"%s\": %u instances bring group \"%s\" resources[%zu] to %llu of its %u "
                "leased units",
                w->name, w->count, g->name, ri, (unsigned long long)*used, g->resources[ri]->count);
    return 0;
}

/* One volume: a name, a size of at least the minimum, a mount path no other volume's overlaps,
 * and no name given twice. */
static int volume_check(const Kumo__ManifestWorkload *w, size_t index, kumo_err_ctx_t *err)
{
    const Kumo__ManifestVolume *v = w->volumes[index];
    size_t len = text_len(v->name, KUMO_SDL_NAME_BYTES_MAX);
    KUMO_ENSURE(len > 0 && len <= KUMO_SDL_NAME_BYTES_MAX && sdl_name_is_valid(v->name, len), err,
                KUMO_EINVAL, "workload \"%s\": volumes[%zu] is not a name", w->name, index);
    KUMO_ENSURE(v->size_bytes >= KUMO_SDL_VOLUME_BYTES_MIN, err, KUMO_EINVAL,
                "workload \"%s\": volume \"%s\" of %llu bytes is less than the smallest (%u)",
                w->name, v->name, (unsigned long long)v->size_bytes, KUMO_SDL_VOLUME_BYTES_MIN);
    KUMO_ENSURE(v->mount != NULL && kumo_sdl_mount_is_valid(v->mount), err, KUMO_EINVAL,
                "workload \"%s\": volume \"%s\" has no valid mount path", w->name, v->name);
    for (size_t j = 0; j < index; j++) {
        const Kumo__ManifestVolume *o = w->volumes[j];
        KUMO_ENSURE(strcmp(o->name, v->name) != 0, err, KUMO_EDUPLICATE,
                    "workload \"%s\": volume \"%s\" given twice", w->name, v->name);
        KUMO_ENSURE(!sdl_mount_overlaps(o->mount, v->mount), err, KUMO_EDUPLICATE,
                    "workload \"%s\": volume \"%s\" at \"%s\" overlaps volume \"%s\"", w->name,
                    v->name, v->mount, o->name);
    }
    return 0;
}

/* The volumes, and that they fit the storage of the unit leased (placement_check ran). */
static int volumes_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(w->compute != NULL);
    KUMO_ENSURE(w->n_volumes <= KUMO_SDL_VOLUME_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu volumes exceed %u", w->name, w->n_volumes,
                KUMO_SDL_VOLUME_COUNT_MAX);
    for (size_t i = 0; i < w->n_volumes; i++) {
        KUMO_GUARD(volume_check(w, i, err));
    }
    uint64_t total = 0;
    KUMO_ENSURE(sdl_volumes_fit(w, &total), err, KUMO_ELIMIT,
                "workload \"%s\": volumes of %llu bytes per instance exceed the %llu bytes of "
                "storage leased per unit",
                w->name, (unsigned long long)total, (unsigned long long)w->compute->storage_bytes);
    return 0;
}

static int workload_check(check_ctx_t *c, size_t index, kumo_err_ctx_t *err)
{
    const Kumo__ManifestWorkload *w = c->m->workloads[index];
    KUMO_GUARD(placement_check(c, w, err));
    KUMO_GUARD(image_check(w, err));
    KUMO_GUARD(command_env_check(w, err));
    KUMO_ENSURE(w->n_ports <= KUMO_SDL_PORT_COUNT_MAX, err, KUMO_ELIMIT,
                "workload \"%s\": %zu ports exceed %u", w->name, w->n_ports,
                KUMO_SDL_PORT_COUNT_MAX);
    for (size_t p = 0; p < w->n_ports; p++) {
        KUMO_GUARD(port_check(c, w, p, err));
    }
    KUMO_GUARD(volumes_check(w, err));
    return sdl_files_check(w, err);
}

int kumo_sdl_manifest_check(const Kumo__Manifest *m,
                            Kumo__GroupSpec *const *groups,
                            size_t group_count,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    KUMO_ASSERT(groups != NULL || group_count == 0);
    KUMO_ENSURE(group_count >= 1u && group_count <= KUMO_DEPLOYMENT_GROUP_LIFE_MAX, err,
                KUMO_EINVAL, "the deployment has %zu groups (1..%u)", group_count,
                KUMO_DEPLOYMENT_GROUP_LIFE_MAX);
    for (size_t i = 0; i < group_count; i++) {
        KUMO_ENSURE(groups[i] != NULL && groups[i]->name != NULL &&
                        groups[i]->n_resources <= KUMO_RESOURCE_COUNT_MAX,
                    err, KUMO_EINVAL, "group %zu is not a valid group", i);
        for (size_t j = 0; j < i; j++) { /* the chain never holds two; a workload names one */
            KUMO_ENSURE(strcmp(groups[j]->name, groups[i]->name) != 0, err, KUMO_EINVAL,
                        "groups %zu and %zu have the same name", j, i);
        }
    }
    KUMO_ENSURE(m->n_workloads >= 1u, err, KUMO_EEMPTY, "no workloads");
    KUMO_ENSURE(m->n_workloads <= KUMO_SDL_WORKLOAD_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu workloads exceed %u", m->n_workloads, KUMO_SDL_WORKLOAD_COUNT_MAX);
    check_ctx_t c = {.m = m, .groups = groups, .group_count = group_count};
    /* Names first (valid, unique): a rule of one workload may name a workload listed after it. */
    for (size_t i = 0; i < m->n_workloads; i++) {
        size_t len = text_len(m->workloads[i]->name, KUMO_SDL_NAME_BYTES_MAX);
        KUMO_ENSURE(len > 0 && len <= KUMO_SDL_NAME_BYTES_MAX &&
                        sdl_name_is_valid(m->workloads[i]->name, len),
                    err, KUMO_EINVAL,
                    "workloads[%zu]: not a name (a-z, 0-9 and '-', starting with a letter, not "
                    "ending with '-', at most %u bytes)",
                    i, KUMO_SDL_NAME_BYTES_MAX);
        for (size_t j = 0; j < i; j++) {
            KUMO_ENSURE(strcmp(m->workloads[j]->name, m->workloads[i]->name) != 0, err,
                        KUMO_EDUPLICATE, "workload \"%s\" given twice", m->workloads[i]->name);
        }
    }
    for (size_t i = 0; i < m->n_workloads; i++) {
        KUMO_GUARD(workload_check(&c, i, err));
    }
    return sdl_sealed_check(m, groups, group_count, err);
}
