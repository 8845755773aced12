/*
 * placement.c - a group's placement requirements in a stack file (docs/stack.md):
 *   requirements:
 *     attributes: {tier: gold, region-zone: a}      # the provider declares each
 *     signed_by: {all_of: [kumo1...], any_of: [kumo1...]}  # auditors who signed them
 *     providers: [kumo1...]                          # the only providers that may bid
 *     exclusive: true               # they may lease no other group of the deployment
 * into GroupSpec.requirements, canonical: attributes sorted by key, addresses sorted,
 * so reordering the file changes nothing. The chain re-checks every rule (market validation).
 * Pure: no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "sdl/sdl_int.h"

static int attr_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__Attribute *const *)a)->key, (*(Kumo__Attribute *const *)b)->key);
}

static int addr_compare(const void *a, const void *b)
{
    return memcmp(((const ProtobufCBinaryData *)a)->data, ((const ProtobufCBinaryData *)b)->data,
                  KUMO_ADDRESS_BYTES);
}

static int attr_parse(const sdl_ctx_t *c, uint32_t key, const char *path, Kumo__Attribute **out)
{
    const char *k = NULL;
    KUMO_GUARD(sdl_scalar(c, key, path, &k));
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, k);
    size_t key_len = strlen(k);
    if (key_len == 0 || key_len > KUMO_ATTRIBUTE_KEY_BYTES_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, key, p, "an attribute key has 1 to %u bytes",
                        KUMO_ATTRIBUTE_KEY_BYTES_MAX);
    }
    Kumo__Attribute *a = kumo_alloc(sizeof(*a));
    if (a == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, p, "out of memory");
    }
    kumo__attribute__init(a);
    *out = a;
    a->key = sdl_strdup(k, key_len);
    if (a->key == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, p, "out of memory");
    }
    return sdl_string(c, sdl_node(c, key)->next, p, 0, KUMO_ATTRIBUTE_VALUE_BYTES_MAX, &a->value);
}

static int
attrs_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__PlacementRequirements *r)
{
    KUMO_GUARD(sdl_map_names(c, node, path));
    const sdl_node_t *m = sdl_node(c, node);
    uint32_t count = m->child_count / 2u;
    if (count > KUMO_ATTRIBUTE_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u attributes exceed %u", count,
                        KUMO_ATTRIBUTE_COUNT_MAX);
    }
    if (count == 0) {
        return 0;
    }
    r->attributes = kumo_calloc(count, sizeof(*r->attributes));
    if (r->attributes == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        /* Counted first: a half-parsed attribute is freed with the group. */
        r->n_attributes++;
        KUMO_GUARD(attr_parse(c, k, path, &r->attributes[r->n_attributes - 1]));
    }
    qsort(r->attributes, r->n_attributes, sizeof(*r->attributes), attr_compare);
    return 0;
}

static int auditor_parse(const sdl_ctx_t *c, uint32_t node, const char *path, uint8_t **out)
{
    const char *text = NULL;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    uint8_t *addr = kumo_alloc(KUMO_ADDRESS_BYTES);
    if (addr == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    *out = addr;
    if (kumo_codec_address_decode(text, addr, NULL) < 0) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(text, q);
        return sdl_fail(c, KUMO_EINVAL, node, path, "\"%s\" is not an address (kumo1...)", q);
    }
    return 0;
}

/* A list of addresses of what (plural; one: "an auditor"): at most max, sorted here, each once. */
static int addrs_parse(const sdl_ctx_t *c,
                       uint32_t node,
                       const char *path,
                       const char *what,
                       const char *one,
                       uint32_t max,
                       ProtobufCBinaryData **out,
                       size_t *count_out)
{
    const sdl_node_t *seq = sdl_node(c, node);
    if (seq->kind != SDL_SEQ) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a list of addresses of %s", what);
    }
    if (seq->child_count > max) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%u %s exceed %u", seq->child_count, what, max);
    }
    if (seq->child_count == 0) {
        return 0;
    }
    *out = kumo_calloc(seq->child_count, sizeof(**out));
    if (*out == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    size_t i = 0;
    for (uint32_t it = seq->first; it != SDL_NONE; it = sdl_node(c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        (*out)[i].len = KUMO_ADDRESS_BYTES;
        *count_out = i + 1;
        KUMO_GUARD(auditor_parse(c, it, p, &(*out)[i].data));
    }
    qsort(*out, *count_out, sizeof(**out), addr_compare);
    for (size_t j = 1; j < *count_out; j++) {
        if (addr_compare(&(*out)[j - 1], &(*out)[j]) == 0) {
            return sdl_fail(c, KUMO_EDUPLICATE, node, path, "%s is given twice", one);
        }
    }
    return 0;
}

static int
signed_by_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__PlacementRequirements *r)
{
    static const char *const keys[] = {"all_of", "any_of"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    Kumo__SignedBy *s = kumo_alloc(sizeof(*s));
    if (s == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    kumo__signed_by__init(s);
    r->signed_by = s;
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(c, node, "all_of");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "all_of");
        KUMO_GUARD(addrs_parse(c, v, p, "auditors", "an auditor", KUMO_SIGNED_BY_COUNT_MAX,
                               &s->all_of, &s->n_all_of));
    }
    v = sdl_map_get(c, node, "any_of");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "any_of");
        KUMO_GUARD(addrs_parse(c, v, p, "auditors", "an auditor", KUMO_SIGNED_BY_COUNT_MAX,
                               &s->any_of, &s->n_any_of));
    }
    if (s->n_all_of + s->n_any_of == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, path, "no auditors in all_of or any_of");
    }
    return 0;
}

int sdl_requirements_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__GroupSpec *g)
{
    static const char *const keys[] = {"attributes", "signed_by", "providers", "exclusive"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    Kumo__PlacementRequirements *r = kumo_alloc(sizeof(*r));
    if (r == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    kumo__placement_requirements__init(r);
    g->requirements = r;
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(c, node, "attributes");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "attributes");
        KUMO_GUARD(attrs_parse(c, v, p, r));
    }
    v = sdl_map_get(c, node, "signed_by");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "signed_by");
        KUMO_GUARD(signed_by_parse(c, v, p, r));
    }
    v = sdl_map_get(c, node, "providers");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "providers");
        KUMO_GUARD(addrs_parse(c, v, p, "providers", "a provider",
                               KUMO_PLACEMENT_PROVIDER_COUNT_MAX, &r->providers, &r->n_providers));
        if (r->n_providers == 0) {
            return sdl_fail(c, KUMO_EEMPTY, v, p, "an empty list of providers");
        }
    }
    v = sdl_map_get(c, node, "exclusive");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "exclusive");
        bool exclusive = false;
        KUMO_GUARD(sdl_bool(c, v, p, &exclusive));
        r->exclusive = exclusive;
        if (exclusive && r->n_providers == 0) {
            return sdl_fail(c, KUMO_EINVAL, v, p, "exclusive needs a list of providers");
        }
    }
    if (r->n_attributes == 0 && r->signed_by == NULL && r->n_providers == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, path, "no attributes, signed_by or providers");
    }
    return 0;
}
