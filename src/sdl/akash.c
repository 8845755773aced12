/*
 * akash.c - Akash SDL v2 files (services, profiles, deployment) mapped onto a kumo stack:
 * placements become groups, each deployed service a workload, compute profiles the units and
 * pricing the maximum prices. What kumo cannot run is an error naming the file, line and field;
 * what it drops is a warning. The result is kumo stack text, parsed as any stack file, so
 * nothing after parsing differs. Format: docs/stack.md "Akash SDL files". Pure: no I/O.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sdl/akash_int.h"

bool kumo_sdl_akash_detect(kumo_bytes_t yaml)
{
    if (yaml.len > KUMO_SDL_STACK_BYTES_MAX) {
        return false;
    }
    sdl_tree_t tree;
    kumo_err_ctx_t err = {0};
    bool akash = false;
    if (sdl_tree_build(yaml, "-", &tree, &err) == 0) {
        sdl_ctx_t c = {.tree = &tree, .file = "-", .err = &err, .workloads = SDL_NONE};
        akash = sdl_map_names(&c, 0, "") == 0 && sdl_map_get(&c, 0, "services") != SDL_NONE;
    }
    sdl_tree_free(&tree);
    return akash;
}

/* Akash sizes: bytes, binary suffixes (Ki, Mi, Gi, Ti) or decimal ones (k, K, M, G, T, with an
 * optional B): 1G is 10^9 bytes. */
static int akash_size_text(const char *text, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t factor;
    } units[] = {
        {"", 1u},
        {"Ki", 1024u},
        {"Mi", 1024u * 1024u},
        {"Gi", 1024u * 1024u * 1024u},
        {"Ti", 1024ull * 1024u * 1024u * 1024u},
        {"k", 1000u},
        {"K", 1000u},
        {"M", 1000000u},
        {"G", 1000000000u},
        {"T", 1000000000000ull},
        {"KB", 1000u},
        {"MB", 1000000u},
        {"GB", 1000000000u},
        {"TB", 1000000000000ull},
    };
    size_t digits = strspn(text, "0123456789");
    if (digits == 0 || digits > 19u || (text[0] == '0' && digits > 1u)) {
        return KUMO_EINVAL;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < digits; i++) {
        if (kumo_u64_mul(n, 10u, &n) < 0 || kumo_u64_add(n, (uint64_t)(text[i] - '0'), &n) < 0) {
            return KUMO_EOVERFLOW;
        }
    }
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(units); i++) {
        if (strcmp(text + digits, units[i].suffix) == 0) {
            return kumo_u64_mul(n, units[i].factor, out) < 0 ? KUMO_EOVERFLOW : 0;
        }
    }
    return KUMO_EINVAL;
}

static int akash_size(akash_ctx_t *a, uint32_t node, const char *path, uint64_t *out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(&a->c, node, path, &text));
    int rc = akash_size_text(text, out);
    if (rc == 0) {
        return 0;
    }
    char q[SDL_QUOTE_BYTES];
    sdl_quote(text, q);
    return sdl_fail(&a->c, rc, node, path, "\"%s\" is not a size (use Ki, Mi, Gi, M, G or bytes)",
                    q);
}

/* cpu: {units: 0.5 | 500m | 1}; memory: {size: 512Mi}; attributes are dropped. */
static int
akash_amount(akash_ctx_t *a, uint32_t node, const char *path, const char *key, uint64_t *out)
{
    static const char *const keys[] = {"units", "size", "attributes"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "attributes");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "attributes");
        akash_note(a, v, p, "ignored (kumo units have no attributes)");
    }
    KUMO_GUARD(sdl_map_need(&a->c, node, path, key, &v));
    sdl_path_key(p, path, key);
    if (strcmp(key, "units") == 0) {
        return sdl_cpu(&a->c, v, p, out);
    }
    return akash_size(a, v, p, out);
}

static int akash_storage_attrs(akash_ctx_t *a, uint32_t node, const char *path, akash_volume_t *vol)
{
    static const char *const keys[] = {"persistent", "class"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "class");
    if (v != SDL_NONE) {
        const char *cls;
        sdl_path_key(p, path, "class");
        KUMO_GUARD(sdl_scalar(&a->c, v, p, &cls));
        vol->ram = strcmp(cls, "ram") == 0;
        if (!vol->ram) {
            akash_note(a, v, p, "storage class ignored (the provider chooses the disk)");
        }
    }
    v = sdl_map_get(&a->c, node, "persistent");
    if (v != SDL_NONE) {
        bool persistent = false;
        sdl_path_key(p, path, "persistent");
        KUMO_GUARD(sdl_bool(&a->c, v, p, &persistent));
        if (persistent && vol->ram) {
            return sdl_fail(&a->c, KUMO_EINVAL, v, p, "a ram volume cannot be persistent");
        }
    }
    return 0;
}

/* One storage entry {name?, size, attributes?}: unnamed (or "default") is the container's own
 * disk, a named one a volume the service may mount. All of it is the unit's storage. */
static int akash_storage_entry(akash_ctx_t *a, uint32_t node, const char *path)
{
    static const char *const keys[] = {"name", "size", "attributes"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v;
    uint64_t bytes;
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "size", &v));
    sdl_path_key(p, path, "size");
    KUMO_GUARD(akash_size(a, v, p, &bytes));
    if (kumo_u64_add(a->unit.storage, bytes, &a->unit.storage) < 0) {
        return sdl_fail(&a->c, KUMO_EOVERFLOW, v, p, "storage does not fit in 64 bits");
    }
    v = sdl_map_get(&a->c, node, "name");
    const char *name = "default";
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "name");
        KUMO_GUARD(sdl_scalar(&a->c, v, p, &name));
    }
    if (strcmp(name, "default") == 0) {
        return 0;
    }
    if (a->volume_count == KUMO_SDL_VOLUME_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, node, path, "more than %u named volumes",
                        KUMO_SDL_VOLUME_COUNT_MAX);
    }
    akash_volume_t *vol = &a->volumes[a->volume_count++];
    *vol = (akash_volume_t){.name = name, .bytes = bytes, .node = node};
    v = sdl_map_get(&a->c, node, "attributes");
    if (v == SDL_NONE) {
        return 0;
    }
    sdl_path_key(p, path, "attributes");
    return akash_storage_attrs(a, v, p, vol);
}

static int akash_storage(akash_ctx_t *a, uint32_t node, const char *path)
{
    const sdl_node_t *n = sdl_node(&a->c, node);
    if (n->kind == SDL_MAP) {
        return akash_storage_entry(a, node, path);
    }
    if (n->kind != SDL_SEQ) {
        return sdl_fail(&a->c, KUMO_EDECODE, node, path, "expected a mapping or a list");
    }
    size_t i = 0;
    for (uint32_t it = n->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        KUMO_GUARD(akash_storage_entry(a, it, p));
    }
    return 0;
}

/* One GPU model entry {model, ram?, interface?}: the unit's model and memory per GPU. */
static int akash_gpu_model(akash_ctx_t *a, uint32_t node, const char *path)
{
    static const char *const keys[] = {"model", "ram", "interface"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "model");
    if (v != SDL_NONE) {
        char *model = NULL;
        sdl_path_key(p, path, "model");
        KUMO_GUARD(sdl_string(&a->c, v, p, 0, KUMO_GPU_MODEL_BYTES_MAX, &model));
        (void)snprintf(a->unit.gpu_model, sizeof(a->unit.gpu_model), "%s", model);
        kumo_free(model);
    }
    v = sdl_map_get(&a->c, node, "ram");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "ram");
        KUMO_GUARD(akash_size(a, v, p, &a->unit.gpu_memory));
    }
    if (sdl_map_get(&a->c, node, "interface") != SDL_NONE) {
        sdl_path_key(p, path, "interface");
        akash_note(a, node, p, "ignored (kumo matches GPUs by vendor, model and memory)");
    }
    return 0;
}

/* attributes: {vendor: {nvidia: [{model: a100, ram: 40Gi}]}}: one vendor, at most one model
 * (none: any model of the vendor). */
static int akash_gpu_vendor(akash_ctx_t *a, uint32_t node, const char *path)
{
    KUMO_GUARD(sdl_map_check(&a->c, node, path, (const char *const[]){"vendor"}, 1));
    char p[SDL_PATH_BYTES];
    uint32_t vendors;
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "vendor", &vendors));
    sdl_path_key(p, path, "vendor");
    KUMO_GUARD(sdl_map_names(&a->c, vendors, p));
    const sdl_node_t *m = sdl_node(&a->c, vendors);
    if (m->child_count != 2u) {
        return sdl_fail(&a->c, KUMO_EINVAL, vendors, p, "kumo takes one GPU vendor per unit");
    }
    const char *vendor = sdl_node(&a->c, m->first)->text;
    if (strlen(vendor) == 0 || strlen(vendor) > KUMO_GPU_VENDOR_BYTES_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, vendors, p, "a vendor has 1 to %u bytes",
                        KUMO_GPU_VENDOR_BYTES_MAX);
    }
    (void)snprintf(a->unit.gpu_vendor, sizeof(a->unit.gpu_vendor), "%s", vendor);
    uint32_t models = sdl_node(&a->c, m->first)->next;
    char mp[SDL_PATH_BYTES];
    sdl_path_key(mp, p, vendor);
    const sdl_node_t *seq = sdl_node(&a->c, models);
    if (seq->kind != SDL_SEQ) {
        return 0; /* "nvidia:" alone: any model */
    }
    if (seq->child_count > 1u) {
        return sdl_fail(&a->c, KUMO_EINVAL, models, mp,
                        "kumo takes one GPU model per unit (write one profile per model)");
    }
    if (seq->child_count == 0) {
        return 0;
    }
    sdl_path_index(p, mp, 0);
    return akash_gpu_model(a, seq->first, p);
}

/* gpu: {units: N, attributes: {vendor: ...}}: N GPUs of the vendor (and model) per unit. */
static int akash_gpu(akash_ctx_t *a, uint32_t node, const char *path)
{
    static const char *const keys[] = {"units", "attributes"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v = sdl_map_get(&a->c, node, "units");
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, "units");
    const char *units = "0";
    if (v != SDL_NONE) {
        KUMO_GUARD(sdl_scalar(&a->c, v, p, &units));
    }
    if (strcmp(units, "0") == 0) {
        akash_note(a, node, path, "0 GPUs: dropped");
        return 0;
    }
    KUMO_GUARD(sdl_count(&a->c, v, p, KUMO_GPU_COUNT_MAX, &a->unit.gpu_count));
    uint32_t attrs = sdl_map_get(&a->c, node, "attributes");
    if (attrs == SDL_NONE) {
        return sdl_fail(&a->c, KUMO_EEMPTY, node, path,
                        "GPUs without a vendor: add attributes: {vendor: {nvidia: }}");
    }
    sdl_path_key(p, path, "attributes");
    return akash_gpu_vendor(a, attrs, p);
}

void akash_gpu_format(const akash_unit_t *u, char out[AKASH_GPU_TEXT_BYTES])
{
    out[0] = '\0';
    if (u->gpu_count == 0) {
        return;
    }
    int n = snprintf(out, AKASH_GPU_TEXT_BYTES, ", gpu: {count: %u, vendor: \"%s\"", u->gpu_count,
                     u->gpu_vendor);
    size_t used = n > 0 ? (size_t)n : 0u;
    if (u->gpu_model[0] != '\0' && used < AKASH_GPU_TEXT_BYTES) {
        n = snprintf(out + used, AKASH_GPU_TEXT_BYTES - used, ", model: \"%s\"", u->gpu_model);
        used += n > 0 ? (size_t)n : 0u;
    }
    if (u->gpu_memory != 0 && used < AKASH_GPU_TEXT_BYTES) {
        n = snprintf(out + used, AKASH_GPU_TEXT_BYTES - used, ", memory: %" PRIu64, u->gpu_memory);
        used += n > 0 ? (size_t)n : 0u;
    }
    if (used < AKASH_GPU_TEXT_BYTES) {
        (void)snprintf(out + used, AKASH_GPU_TEXT_BYTES - used, "}");
    }
}

/* profiles.compute.<profile>: the unit and named volumes of the workload being walked. */
static int akash_compute(akash_ctx_t *a, const char *profile, uint32_t at, const char *at_path)
{
    uint32_t node = sdl_map_get(&a->c, a->compute, profile);
    if (node == SDL_NONE) {
        return sdl_fail(&a->c, KUMO_ENOTFOUND, at, at_path, "no compute profile named \"%s\"",
                        profile);
    }
    char base[SDL_PATH_BYTES];
    char path[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(base, "profiles.compute", profile);
    KUMO_GUARD(sdl_map_check(&a->c, node, base, (const char *const[]){"resources"}, 1));
    uint32_t r;
    KUMO_GUARD(sdl_map_need(&a->c, node, base, "resources", &r));
    sdl_path_key(path, base, "resources");
    static const char *const keys[] = {"cpu", "memory", "storage", "gpu"};
    KUMO_GUARD(sdl_map_check(&a->c, r, path, keys, KUMO_ARRAY_COUNT(keys)));
    a->profile = profile;
    a->unit = (akash_unit_t){0};
    a->volume_count = 0;
    uint32_t v = sdl_map_get(&a->c, r, "gpu");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "gpu");
        KUMO_GUARD(akash_gpu(a, v, p));
    }
    KUMO_GUARD(sdl_map_need(&a->c, r, path, "cpu", &v));
    sdl_path_key(p, path, "cpu");
    KUMO_GUARD(akash_amount(a, v, p, "units", &a->unit.milli));
    KUMO_GUARD(sdl_map_need(&a->c, r, path, "memory", &v));
    sdl_path_key(p, path, "memory");
    KUMO_GUARD(akash_amount(a, v, p, "size", &a->unit.memory));
    v = sdl_map_get(&a->c, r, "storage");
    if (v == SDL_NONE) {
        return 0;
    }
    sdl_path_key(p, path, "storage");
    return akash_storage(a, v, p);
}

/* The placement's attributes: "region" is the group's region, the others are attributes a
 * provider must declare (the group's requirements). */
static int akash_attributes(akash_ctx_t *a, uint32_t node, const char *path, akash_group_t *g)
{
    KUMO_GUARD(sdl_map_names(&a->c, node, path));
    const sdl_node_t *m = sdl_node(&a->c, node);
    for (uint32_t k = m->first; k != SDL_NONE;
         k = sdl_node(&a->c, sdl_node(&a->c, k)->next)->next) {
        const char *key = sdl_node(&a->c, k)->text;
        char p[SDL_PATH_BYTES];
        sdl_path_key(p, path, sdl_name_is_valid(key, strlen(key)) ? key : "?");
        if (strcmp(key, "region") == 0) {
            KUMO_GUARD(sdl_scalar(&a->c, sdl_node(&a->c, k)->next, p, &g->region));
            continue;
        }
        if (g->attr_count == KUMO_ATTRIBUTE_COUNT_MAX) {
            return sdl_fail(&a->c, KUMO_ELIMIT, k, p, "more than %u attributes",
                            KUMO_ATTRIBUTE_COUNT_MAX);
        }
        g->attr_keys[g->attr_count] = key;
        KUMO_GUARD(sdl_scalar(&a->c, sdl_node(&a->c, k)->next, p, &g->attr_values[g->attr_count]));
        g->attr_count++;
    }
    return 0;
}

/* One signedBy auditor: an account address of any bech32 prefix (akash1...), taken as the kumo
 * account of the same 20 bytes, with a warning (the auditor must sign on kumo with it). */
static int akash_auditor(akash_ctx_t *a, uint32_t node, const char *path, char *out)
{
    const char *text = NULL;
    KUMO_GUARD(sdl_scalar(&a->c, node, path, &text));
    char hrp[84];
    uint8_t data[KUMO_ADDRESS_BYTES + 1];
    size_t len = 0;
    if (kumo_codec_bech32_decode(text, hrp, sizeof(hrp), data, sizeof(data), &len, NULL) < 0 ||
        len != KUMO_ADDRESS_BYTES) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(text, q);
        return sdl_fail(&a->c, KUMO_EINVAL, node, path, "\"%s\" is not an account address", q);
    }
    kumo_codec_address_encode(data, out);
    if (strcmp(hrp, "kumo") != 0) {
        akash_note(a, node, path, "auditor taken as %s (the same account bytes on kumo)", out);
    }
    return 0;
}

static int akash_auditors(akash_ctx_t *a,
                          uint32_t node,
                          const char *path,
                          char (*out)[KUMO_ADDRESS_TEXT_BYTES],
                          size_t *count)
{
    const sdl_node_t *seq = sdl_node(&a->c, node);
    if (seq->kind != SDL_SEQ) {
        return sdl_fail(&a->c, KUMO_EDECODE, node, path, "expected a list of auditors");
    }
    if (seq->child_count > KUMO_SIGNED_BY_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, node, path, "%u auditors exceed %u", seq->child_count,
                        KUMO_SIGNED_BY_COUNT_MAX);
    }
    size_t i = 0;
    for (uint32_t it = seq->first; it != SDL_NONE; it = sdl_node(&a->c, it)->next, i++) {
        char p[SDL_PATH_BYTES];
        sdl_path_index(p, path, i);
        KUMO_GUARD(akash_auditor(a, it, p, out[i]));
    }
    *count = i;
    return 0;
}

/* signedBy: {allOf: [...], anyOf: [...]} as the group's signed_by. */
static int akash_signed_by(akash_ctx_t *a, uint32_t node, const char *path, akash_group_t *g)
{
    static const char *const keys[] = {"allOf", "anyOf"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    char p[SDL_PATH_BYTES];
    uint32_t v = sdl_map_get(&a->c, node, "allOf");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "allOf");
        KUMO_GUARD(akash_auditors(a, v, p, g->all_of, &g->all_of_count));
    }
    v = sdl_map_get(&a->c, node, "anyOf");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "anyOf");
        KUMO_GUARD(akash_auditors(a, v, p, g->any_of, &g->any_of_count));
    }
    return 0;
}

/* The group of placement name, made on first use: its region. */
static int
akash_group(akash_ctx_t *a, const char *name, uint32_t at, const char *at_path, size_t *out)
{
    for (size_t i = 0; i < a->group_count; i++) {
        if (strcmp(a->groups[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    }
    uint32_t node = sdl_map_get(&a->c, a->placements, name);
    if (node == SDL_NONE) {
        return sdl_fail(&a->c, KUMO_ENOTFOUND, at, at_path, "no placement named \"%s\"", name);
    }
    if (a->group_count == KUMO_GROUP_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, at, at_path, "more than %u placements",
                        KUMO_GROUP_COUNT_MAX);
    }
    akash_group_t *g = &a->groups[a->group_count];
    *g = (akash_group_t){.name = name};
    char path[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(path, "profiles.placement", name);
    static const char *const keys[] = {"attributes", "signedBy", "pricing"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v = sdl_map_get(&a->c, node, "signedBy");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "signedBy");
        KUMO_GUARD(akash_signed_by(a, v, p, g));
    }
    v = sdl_map_get(&a->c, node, "attributes");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "attributes");
        KUMO_GUARD(akash_attributes(a, v, p, g));
    }
    if (g->region == NULL) {
        g->region = a->opts->region;
    }
    if (g->region == NULL) {
        return sdl_fail(&a->c, KUMO_EEMPTY, node, path,
                        "no region: add attributes: {region: REGION} or pass --region");
    }
    *out = a->group_count++;
    return 0;
}

/* pricing.<profile>: {denom: uakt, amount: N}; 1 uakt is taken as 1 ukumo (a warning says so),
 * other denoms need --price. */
static int
akash_price(akash_ctx_t *a, const char *placement, const char *profile, uint64_t *out, uint32_t *at)
{
    *at = SDL_NONE;
    if (a->opts->price_ukumo != 0) {
        *out = a->opts->price_ukumo;
        return 0;
    }
    uint32_t pl = sdl_map_get(&a->c, a->placements, placement);
    char base[SDL_PATH_BYTES];
    char path[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, "profiles.placement", placement);
    uint32_t pricing;
    KUMO_GUARD(sdl_map_need(&a->c, pl, p, "pricing", &pricing));
    sdl_path_key(base, p, "pricing");
    KUMO_GUARD(sdl_map_names(&a->c, pricing, base));
    uint32_t node;
    KUMO_GUARD(sdl_map_need(&a->c, pricing, base, profile, &node));
    sdl_path_key(path, base, profile);
    static const char *const keys[] = {"denom", "amount"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v;
    const char *denom;
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "denom", &v));
    sdl_path_key(p, path, "denom");
    KUMO_GUARD(sdl_scalar(&a->c, v, p, &denom));
    if (strcmp(denom, "uakt") != 0) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(denom, q);
        return sdl_fail(&a->c, KUMO_EINVAL, v, p, "\"%s\" has no kumo price: pass --price", q);
    }
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "amount", &v));
    sdl_path_key(p, path, "amount");
    KUMO_GUARD(sdl_u64(&a->c, v, p, out));
    if (*out == 0) {
        return sdl_fail(&a->c, KUMO_EINVAL, v, p, "price is 0");
    }
    *at = v;
    return 0;
}

/* Services on the same unit in one placement share one resource: counts add up and the higher
 * price is kept. */
static int akash_resource_add(
    akash_ctx_t *a, akash_group_t *g, uint32_t count, uint64_t price, uint32_t at, const char *path)
{
    for (size_t i = 0; i < g->res_count; i++) {
        akash_resource_t *r = &g->res[i];
        if (memcmp(&r->unit, &a->unit, sizeof(r->unit)) != 0) {
            continue;
        }
        if (kumo_u64_add(r->count, count, &r->count) < 0) {
            return sdl_fail(&a->c, KUMO_EOVERFLOW, at, path, "count overflows");
        }
        if (r->price != price) {
            akash_note(a, at, path, "shares a unit with another service: priced at the higher");
            r->price = price > r->price ? price : r->price;
        }
        return 0;
    }
    if (g->res_count == KUMO_RESOURCE_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, at, path, "more than %u units in placement \"%s\"",
                        KUMO_RESOURCE_COUNT_MAX, g->name);
    }
    g->res[g->res_count++] = (akash_resource_t){.unit = a->unit, .count = count, .price = price};
    return 0;
}

/* deployment.<service>.<placement>: {profile, count}. */
static int akash_placed(akash_ctx_t *a, const char *svc_name, uint32_t svc, uint32_t pkey)
{
    const char *placement;
    char path[SDL_PATH_BYTES];
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, "deployment", svc_name);
    KUMO_GUARD(sdl_name(&a->c, pkey, p, &placement));
    sdl_path_key(path, p, placement);
    uint32_t node = sdl_node(&a->c, pkey)->next;
    static const char *const keys[] = {"profile", "count"};
    KUMO_GUARD(sdl_map_check(&a->c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v;
    const char *profile;
    KUMO_GUARD(sdl_map_need(&a->c, node, path, "profile", &v));
    sdl_path_key(p, path, "profile");
    KUMO_GUARD(sdl_name(&a->c, v, p, &profile));
    KUMO_GUARD(akash_compute(a, profile, v, p));
    uint32_t count = 1;
    v = sdl_map_get(&a->c, node, "count");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "count");
        KUMO_GUARD(sdl_count(&a->c, v, p, KUMO_RESOURCE_UNIT_COUNT_MAX, &count));
    }
    size_t gi = 0;
    KUMO_GUARD(akash_group(a, placement, pkey, path, &gi));
    uint64_t price;
    uint32_t amount;
    KUMO_GUARD(akash_price(a, placement, profile, &price, &amount));
    akash_group_t *g = &a->groups[gi];
    size_t before = g->res_count;
    KUMO_GUARD(akash_resource_add(a, g, count, price, node, path));
    if (amount != SDL_NONE && g->res_count > before) {
        (void)snprintf(p, sizeof(p), "profiles.placement.%s.pricing.%s.amount", placement, profile);
        akash_note(a, amount, p, "%" PRIu64 " uakt taken as %" PRIu64 " ukumo per unit per block",
                   price, price);
    }
    return akash_service_emit(a, svc_name, svc, placement, count);
}

static int akash_deployed(akash_ctx_t *a, uint32_t key)
{
    const char *name;
    KUMO_GUARD(sdl_name(&a->c, key, "deployment", &name));
    char path[SDL_PATH_BYTES];
    sdl_path_key(path, "deployment", name);
    uint32_t svc = sdl_map_get(&a->c, a->services, name);
    if (svc == SDL_NONE) {
        return sdl_fail(&a->c, KUMO_ENOTFOUND, key, path, "no service named \"%s\"", name);
    }
    uint32_t node = sdl_node(&a->c, key)->next;
    KUMO_GUARD(sdl_map_names(&a->c, node, path));
    uint32_t count = sdl_node(&a->c, node)->child_count / 2u;
    if (count == 0) {
        return sdl_fail(&a->c, KUMO_EEMPTY, node, path, "no placement");
    }
    if (count > 1u) {
        return sdl_fail(&a->c, KUMO_EINVAL, node, path,
                        "%u placements: kumo runs a workload in one group (write one service "
                        "per placement)",
                        count);
    }
    return akash_placed(a, name, svc, sdl_node(&a->c, node)->first);
}

static int akash_sections(akash_ctx_t *a, uint32_t root)
{
    uint32_t v;
    KUMO_GUARD(sdl_map_need(&a->c, root, "", "services", &a->services));
    KUMO_GUARD(sdl_map_names(&a->c, a->services, "services"));
    KUMO_GUARD(sdl_map_need(&a->c, root, "", "profiles", &v));
    static const char *const keys[] = {"compute", "placement"};
    KUMO_GUARD(sdl_map_check(&a->c, v, "profiles", keys, KUMO_ARRAY_COUNT(keys)));
    KUMO_GUARD(sdl_map_need(&a->c, v, "profiles", "compute", &a->compute));
    KUMO_GUARD(sdl_map_names(&a->c, a->compute, "profiles.compute"));
    KUMO_GUARD(sdl_map_need(&a->c, v, "profiles", "placement", &a->placements));
    KUMO_GUARD(sdl_map_names(&a->c, a->placements, "profiles.placement"));
    v = sdl_map_get(&a->c, root, "endpoints");
    if (v != SDL_NONE) {
        akash_note(a, v, "endpoints", "IP endpoints are not supported by kumo yet: dropped");
    }
    const char *version;
    KUMO_GUARD(sdl_map_need(&a->c, root, "", "version", &v));
    KUMO_GUARD(sdl_scalar(&a->c, v, "version", &version));
    if (strcmp(version, "2.0") != 0 && strcmp(version, "2.1") != 0) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(version, q);
        return sdl_fail(&a->c, KUMO_EINVAL, v, "version",
                        "\"%s\" is not a supported Akash SDL version (use \"2.0\" or \"2.1\")", q);
    }
    return 0;
}

static int akash_walk(akash_ctx_t *a)
{
    static const char *const keys[] = {"version", "services", "profiles", "deployment",
                                       "endpoints"};
    KUMO_GUARD(sdl_map_check(&a->c, 0, "stack", keys, KUMO_ARRAY_COUNT(keys)));
    KUMO_GUARD(akash_sections(a, 0));
    uint32_t d;
    KUMO_GUARD(sdl_map_need(&a->c, 0, "", "deployment", &d));
    KUMO_GUARD(sdl_map_names(&a->c, d, "deployment"));
    const sdl_node_t *dn = sdl_node(&a->c, d);
    if (dn->child_count == 0) {
        return sdl_fail(&a->c, KUMO_EEMPTY, d, "deployment", "no service is deployed");
    }
    if (dn->child_count / 2u > KUMO_SDL_WORKLOAD_COUNT_MAX) {
        return sdl_fail(&a->c, KUMO_ELIMIT, d, "deployment", "%u services exceed %u",
                        dn->child_count / 2u, KUMO_SDL_WORKLOAD_COUNT_MAX);
    }
    for (uint32_t k = dn->first; k != SDL_NONE;
         k = sdl_node(&a->c, sdl_node(&a->c, k)->next)->next) {
        KUMO_GUARD(akash_deployed(a, k));
    }
    const sdl_node_t *sn = sdl_node(&a->c, a->services);
    for (uint32_t k = sn->first; k != SDL_NONE;
         k = sdl_node(&a->c, sdl_node(&a->c, k)->next)->next) {
        const char *name = sdl_node(&a->c, k)->text;
        if (sdl_map_get(&a->c, d, name) == SDL_NONE) {
            char p[SDL_PATH_BYTES];
            sdl_path_key(p, "services", sdl_name_is_valid(name, strlen(name)) ? name : "?");
            akash_note(a, k, p, "not in deployment: dropped");
        }
    }
    return 0;
}

static void akash_emit_auditors(akash_ctx_t *a,
                                kumo_buf_t *out,
                                const char *key,
                                const char (*list)[KUMO_ADDRESS_TEXT_BYTES],
                                size_t count)
{
    if (count == 0) {
        return;
    }
    akash_put(a, out, "        %s: [", key);
    for (size_t i = 0; i < count; i++) {
        akash_put(a, out, "%s%s", i > 0 ? ", " : "", list[i]);
    }
    akash_put(a, out, "]\n");
}

/* requirements: {attributes, signed_by} of the group, when the placement has any. */
static void akash_emit_requirements(akash_ctx_t *a, kumo_buf_t *out, const akash_group_t *g)
{
    bool signed_by = g->all_of_count + g->any_of_count > 0;
    if (g->attr_count == 0 && !signed_by) {
        return;
    }
    akash_put(a, out, "    requirements:\n");
    if (g->attr_count > 0) {
        akash_put(a, out, "      attributes:\n");
        for (size_t i = 0; i < g->attr_count; i++) {
            akash_put(a, out, "        ");
            akash_put_quoted(a, out, g->attr_keys[i]);
            akash_put(a, out, ": ");
            akash_put_quoted(a, out, g->attr_values[i]);
            akash_put(a, out, "\n");
        }
    }
    if (signed_by) {
        akash_put(a, out, "      signed_by:\n");
        akash_emit_auditors(a, out, "all_of", g->all_of, g->all_of_count);
        akash_emit_auditors(a, out, "any_of", g->any_of, g->any_of_count);
    }
}

static void akash_emit(akash_ctx_t *a, kumo_buf_t *out)
{
    akash_put(a, out, "# kumo stack converted from Akash SDL (docs/stack.md)\nversion: \"1\"\n");
    akash_put(a, out, "groups:\n");
    for (size_t i = 0; i < a->group_count; i++) {
        const akash_group_t *g = &a->groups[i];
        akash_put(a, out, "  %s:\n    region: ", g->name);
        akash_put_quoted(a, out, g->region);
        akash_put(a, out, "\n");
        akash_emit_requirements(a, out, g);
        akash_put(a, out, "    resources:\n");
        for (size_t j = 0; j < g->res_count; j++) {
            const akash_resource_t *r = &g->res[j];
            char mem[32];
            char disk[32];
            akash_size_format(r->unit.memory, mem);
            akash_size_format(r->unit.storage, disk);
            akash_put(a, out,
                      "      - cpu: %" PRIu64 "m\n        memory: %s\n        storage: %s\n",
                      r->unit.milli, mem, disk);
            char gpu[AKASH_GPU_TEXT_BYTES];
            akash_gpu_format(&r->unit, gpu);
            if (gpu[0] != '\0') {
                akash_put(a, out, "        %s\n", gpu + 2); /* "gpu: {...}" */
            }
            akash_put(a, out, "        count: %" PRIu64 "\n        price: %" PRIu64 "\n", r->count,
                      r->price);
        }
    }
    akash_put(a, out, "workloads:\n");
    if (a->out_rc == 0 && kumo_buf_append(out, a->wl.ptr, a->wl.len) < 0) {
        a->out_rc = KUMO_ELIMIT;
    }
    uint64_t wait =
        a->opts->wait_blocks_set ? a->opts->wait_blocks : KUMO_SDL_AKASH_WAIT_BLOCKS_DEFAULT;
    uint64_t deposit =
        a->opts->deposit_ukumo != 0 ? a->opts->deposit_ukumo : KUMO_SDL_AKASH_DEPOSIT_DEFAULT;
    akash_put(a, out, "wait_blocks: %" PRIu64 "\ndeposit: %" PRIu64 "\n", wait, deposit);
}

int kumo_sdl_akash_convert(kumo_bytes_t yaml,
                           const char *file_name,
                           const kumo_sdl_akash_opts_t *opts,
                           kumo_buf_t *stack_out,
                           kumo_buf_t *notes_out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(file_name != NULL && stack_out != NULL && notes_out != NULL);
    KUMO_ENSURE(yaml.len <= KUMO_SDL_STACK_BYTES_MAX, err, KUMO_ELIMIT, "%s: larger than %u bytes",
                file_name, KUMO_SDL_STACK_BYTES_MAX);
    static const kumo_sdl_akash_opts_t defaults = {0};
    size_t stack_len = stack_out->len;
    size_t notes_len = notes_out->len;
    akash_ctx_t *a = kumo_calloc(1, sizeof(*a));
    KUMO_ENSURE(a != NULL, err, KUMO_ENOMEM, "%s: out of memory", file_name);
    sdl_tree_t tree;
    int rc = sdl_tree_build(yaml, file_name, &tree, err);
    if (rc == 0) {
        a->c = (sdl_ctx_t){.tree = &tree, .file = file_name, .err = err, .workloads = SDL_NONE};
        a->opts = opts != NULL ? opts : &defaults;
        a->notes = notes_out;
        kumo_buf_init(&a->wl, KUMO_SDL_STACK_BYTES_MAX);
        rc = akash_walk(a);
    }
    if (rc == 0) {
        akash_emit(a, stack_out);
        rc = a->out_rc == 0
                 ? 0
                 : kumo_err_set(err, a->out_rc, "%s: the kumo stack is larger than %u bytes",
                                file_name, KUMO_SDL_STACK_BYTES_MAX);
    }
    kumo_buf_free(&a->wl);
    kumo_free(a);
    sdl_tree_free(&tree);
    if (rc != 0) {
        stack_out->len = stack_len;
        notes_out->len = notes_len;
    }
    return rc;
}
