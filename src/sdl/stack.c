/*
 * stack.c - the stack file's top level and its groups, the stack object and its outputs:
 * GroupSpecs for MsgSubmitDeployment, canonical manifest bytes and their Merkle version.
 * Canonical: groups, workloads, env, ports and rules are sorted, so reordering a mapping in the
 * file changes nothing. Pure: no I/O. Format: docs/stack.md.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "sdl/sdl_int.h"

void kumo_sdl_stack_free(kumo_sdl_stack_t *stack)
{
    if (stack == NULL) {
        return;
    }
    KUMO_ASSERT(stack->groups != NULL || stack->group_count == 0);
    for (size_t i = 0; i < stack->group_count; i++) {
        protobuf_c_message_free_unpacked(&stack->groups[i]->base, kumo_codec_allocator());
    }
    kumo_free(stack->groups);
    sdl_secrets_free(stack);
    protobuf_c_message_free_unpacked(&stack->manifest->base, kumo_codec_allocator());
    kumo_buf_free(&stack->manifest_bytes);
    kumo_free(stack);
}

/* Regions are short printable words ("us-east"): no spaces or control characters. */
static int region_parse(const sdl_ctx_t *c, uint32_t node, const char *path, char **out)
{
    KUMO_GUARD(sdl_string(c, node, path, 1, KUMO_REGION_BYTES_MAX, out));
    for (const char *p = *out; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            char q[SDL_QUOTE_BYTES];
            sdl_quote(*out, q);
            return sdl_fail(c, KUMO_EINVAL, node, path,
                            "\"%s\" is not a region (printable characters, no spaces)", q);
        }
    }
    return 0;
}

/* price x count and collateral x count, summed over the group, must fit: the market adds them
 * up for the order's totals. */
static int resource_totals_add(const sdl_ctx_t *c,
                               uint32_t node,
                               const char *path,
                               const Kumo__ResourceGroup *r,
                               uint64_t totals[2])
{
    uint64_t price;
    uint64_t collateral;
    if (kumo_u64_mul(r->price, r->count, &price) < 0 ||
        kumo_u64_mul(r->collateral, r->count, &collateral) < 0 ||
        kumo_u64_add(totals[0], price, &totals[0]) < 0 ||
        kumo_u64_add(totals[1], collateral, &totals[1]) < 0) {
        return sdl_fail(c, KUMO_EOVERFLOW, node, path,
                        "price or collateral times count overflows 64 bits");
    }
    return 0;
}

static int
resource_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ResourceGroup *r)
{
    static const char *const keys[] = {"cpu",   "memory", "storage",   "gpu",
                                       "count", "price",  "collateral"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    KUMO_GUARD(sdl_compute_fields(c, node, path, &r->compute));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(c, node, "count");
    r->count = 1;
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "count");
        KUMO_GUARD(sdl_count(c, v, p, KUMO_RESOURCE_UNIT_COUNT_MAX, &r->count));
    }
    KUMO_GUARD(sdl_map_need(c, node, path, "price", &v));
    sdl_path_key(p, path, "price");
    KUMO_GUARD(sdl_u64(c, v, p, &r->price));
    if (r->price == 0) {
        return sdl_fail(c, KUMO_EINVAL, v, p, "price is 0");
    }
    v = sdl_map_get(c, node, "collateral");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "collateral");
        KUMO_GUARD(sdl_u64(c, v, p, &r->collateral));
    }
    return 0;
}

static int resources_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__GroupSpec *g)
{
    const sdl_node_t *seq = sdl_node(c, node);
    if (seq->kind != SDL_SEQ) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a list of resources");
    }
    if (seq->child_count == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, path, "no resources");
    }
    if (seq->child_count > KUMO_RESOURCE_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u resources exceed %u", seq->child_count,
                        KUMO_RESOURCE_COUNT_MAX);
    }
    g->resources = kumo_calloc(seq->child_count, sizeof(*g->resources));
    if (g->resources == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    uint64_t totals[2] = {0, 0};
    size_t i = 0;
    for (uint32_t it = seq->first; it != SDL_NONE; it = sdl_node(c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        Kumo__ResourceGroup *r = kumo_alloc(sizeof(*r));
        if (r == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, it, p, "out of memory");
        }
        kumo__resource_group__init(r);
        g->resources[g->n_resources++] = r;
        KUMO_GUARD(resource_parse(c, it, p, r));
        for (size_t j = 0; j < i; j++) {
            if (sdl_compute_equal(g->resources[j]->compute, r->compute)) {
                return sdl_fail(c, KUMO_EDUPLICATE, it, p,
                                "same cpu, memory and storage as resources[%zu]", j);
            }
        }
        KUMO_GUARD(resource_totals_add(c, it, p, r, totals));
    }
    return 0;
}

static int group_parse(const sdl_ctx_t *c, uint32_t key, uint32_t node, Kumo__GroupSpec *g)
{
    static const char *const keys[] = {"region", "persist", "resources", "requirements"};
    const char *name;
    KUMO_GUARD(sdl_name(c, key, "groups", &name));
    char path[SDL_PATH_BYTES];
    sdl_path_key(path, "groups", name);
    g->name = sdl_strdup(name, strlen(name));
    if (g->name == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
    }
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "region", &v));
    sdl_path_key(p, path, "region");
    KUMO_GUARD(region_parse(c, v, p, &g->region));
    v = sdl_map_get(c, node, "persist");
    if (v != SDL_NONE) {
        bool persist = false;
        sdl_path_key(p, path, "persist");
        KUMO_GUARD(sdl_bool(c, v, p, &persist));
        g->persist = persist ? 1 : 0;
    }
    v = sdl_map_get(c, node, "requirements");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "requirements");
        KUMO_GUARD(sdl_requirements_parse(c, v, p, g));
    }
    KUMO_GUARD(sdl_map_need(c, node, path, "resources", &v));
    sdl_path_key(p, path, "resources");
    return resources_parse(c, v, p, g);
}

int sdl_groups_parse(const sdl_ctx_t *c, uint32_t node)
{
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, "groups", "expected a mapping of group names");
    }
    uint32_t count = m->child_count / 2u;
    if (count == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, "groups", "no groups");
    }
    if (count > KUMO_GROUP_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, "groups", "%u groups exceed %u", count,
                        KUMO_GROUP_COUNT_MAX);
    }
    kumo_sdl_stack_t *s = c->stack;
    s->groups = kumo_calloc(count, sizeof(*s->groups));
    if (s->groups == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, "groups", "out of memory");
    }
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        Kumo__GroupSpec *g = kumo_alloc(sizeof(*g));
        if (g == NULL) {
            return sdl_fail(c, KUMO_ENOMEM, k, "groups", "out of memory");
        }
        kumo__group_spec__init(g);
        s->groups[s->group_count++] = g;
        KUMO_GUARD(group_parse(c, k, sdl_node(c, k)->next, g));
        for (size_t j = 0; j + 1u < s->group_count; j++) {
            if (strcmp(s->groups[j]->name, g->name) == 0) {
                return sdl_fail(c, KUMO_EDUPLICATE, k, "groups", "group \"%s\" given twice",
                                g->name);
            }
        }
    }
    return 0;
}
