/*
 * units.c - numbers in stack files: plain decimal integers, booleans, cpu amounts ("500m",
 * "0.5", "2") and byte sizes ("512Mi", "1Gi", "1048576"), and compute units built from them.
 * Integers only, every step checked: a value that does not fit in 64 bits is an error, never a
 * wrap. Pure: no I/O.
 */
#include <string.h>

#include "sdl/sdl_int.h"

/* Decimal digits only, no sign, no leading zero but "0". KUMO_EINVAL or KUMO_EOVERFLOW. */
static int digits_parse(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || (len > 1u && s[0] == '0')) {
        return KUMO_EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return KUMO_EINVAL;
        }
        KUMO_GUARD(kumo_u64_mul(v, 10u, &v));
        KUMO_GUARD(kumo_u64_add(v, (uint64_t)(s[i] - '0'), &v));
    }
    *out = v;
    return 0;
}

int sdl_u64(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    int rc = digits_parse(text, strlen(text), out);
    if (rc == 0) {
        return 0;
    }
    char q[SDL_QUOTE_BYTES];
    sdl_quote(text, q);
    if (rc == KUMO_EOVERFLOW) {
        return sdl_fail(c, KUMO_EOVERFLOW, node, path, "\"%s\" does not fit in 64 bits", q);
    }
    return sdl_fail(c, KUMO_EINVAL, node, path, "\"%s\" is not a whole number", q);
}

int sdl_count(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t max, uint32_t *out)
{
    KUMO_ASSERT(max <= UINT32_MAX);
    uint64_t v;
    KUMO_GUARD(sdl_u64(c, node, path, &v));
    if (v == 0) {
        return sdl_fail(c, KUMO_EINVAL, node, path, "count is 0");
    }
    if (v > max) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "%llu exceeds %llu", (unsigned long long)v,
                        (unsigned long long)max);
    }
    *out = (uint32_t)v; /* v <= max <= UINT32_MAX */
    return 0;
}

int sdl_bool(const sdl_ctx_t *c, uint32_t node, const char *path, bool *out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        *out = text[0] == 't';
        return 0;
    }
    char q[SDL_QUOTE_BYTES];
    sdl_quote(text, q);
    return sdl_fail(c, KUMO_EINVAL, node, path, "\"%s\" is not true or false", q);
}

/* "<n>m" milli-cpus, "<n>" cpus, "<n>.<d{1,3}>" cpus with a fraction. */
static int cpu_text_parse(const char *s, uint64_t *milli_out)
{
    size_t len = strlen(s);
    if (len > 1u && s[len - 1u] == 'm') {
        return digits_parse(s, len - 1u, milli_out);
    }
    const char *dot = memchr(s, '.', len);
    size_t whole_len = dot != NULL ? (size_t)(dot - s) : len;
    uint64_t whole;
    KUMO_GUARD(digits_parse(s, whole_len, &whole));
    uint64_t milli = 0;
    if (dot != NULL) {
        size_t frac_len = len - whole_len - 1u;
        if (frac_len == 0 || frac_len > 3u) {
            return KUMO_EINVAL;
        }
        for (size_t i = 0; i < 3u; i++) {
            char ch = i < frac_len ? dot[1u + i] : '0';
            if (ch < '0' || ch > '9') {
                return KUMO_EINVAL;
            }
            milli = milli * 10u + (uint64_t)(ch - '0');
        }
    }
    KUMO_GUARD(kumo_u64_mul(whole, 1000u, &whole));
    return kumo_u64_add(whole, milli, milli_out);
}

int sdl_cpu(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *milli_out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    char q[SDL_QUOTE_BYTES];
    sdl_quote(text, q);
    int rc = cpu_text_parse(text, milli_out);
    if (rc == KUMO_EOVERFLOW) {
        return sdl_fail(c, KUMO_EOVERFLOW, node, path, "\"%s\" does not fit in 64 bits", q);
    }
    if (rc != 0) {
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "\"%s\" is not a cpu amount (use 500m, 0.5 or 2)", q);
    }
    if (*milli_out == 0) {
        return sdl_fail(c, KUMO_EINVAL, node, path, "cpu is 0");
    }
    return 0;
}

static int size_text_parse(const char *s, uint64_t *bytes_out)
{
    static const struct {
        const char *suffix;
        uint64_t factor;
    } units[] = {{"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30}, {"Ti", 1ull << 40}};
    size_t len = strlen(s);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(units); i++) {
        if (len > 2u && strcmp(s + len - 2u, units[i].suffix) == 0) {
            uint64_t n;
            KUMO_GUARD(digits_parse(s, len - 2u, &n));
            return kumo_u64_mul(n, units[i].factor, bytes_out);
        }
    }
    return digits_parse(s, len, bytes_out);
}

int sdl_size(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *bytes_out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    int rc = size_text_parse(text, bytes_out);
    if (rc == 0) {
        return 0;
    }
    char q[SDL_QUOTE_BYTES];
    sdl_quote(text, q);
    if (rc == KUMO_EOVERFLOW) {
        return sdl_fail(c, KUMO_EOVERFLOW, node, path, "\"%s\" does not fit in 64 bits", q);
    }
    return sdl_fail(c, KUMO_EINVAL, node, path,
                    "\"%s\" is not a size (use Ki, Mi, Gi, Ti or bytes)", q);
}

int sdl_compute(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ComputeUnit **out)
{
    static const char *const keys[] = {"cpu", "memory", "storage", "gpu"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    return sdl_compute_fields(c, node, path, out);
}

/* gpu: {count: 1, vendor: nvidia, model: a100, memory: 40Gi} (model and memory optional). */
static int gpu_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__GpuSpec **out)
{
    static const char *const keys[] = {"count", "vendor", "model", "memory"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    Kumo__GpuSpec *g = kumo_alloc(sizeof(*g));
    if (g == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    kumo__gpu_spec__init(g);
    *out = g;
    char p[SDL_PATH_BYTES];
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "count", &v));
    sdl_path_key(p, path, "count");
    KUMO_GUARD(sdl_count(c, v, p, KUMO_GPU_COUNT_MAX, &g->count));
    KUMO_GUARD(sdl_map_need(c, node, path, "vendor", &v));
    sdl_path_key(p, path, "vendor");
    KUMO_GUARD(sdl_string(c, v, p, 1, KUMO_GPU_VENDOR_BYTES_MAX, &g->vendor));
    v = sdl_map_get(c, node, "model");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "model");
        KUMO_GUARD(sdl_string(c, v, p, 0, KUMO_GPU_MODEL_BYTES_MAX, &g->model));
    }
    v = sdl_map_get(c, node, "memory");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "memory");
        KUMO_GUARD(sdl_size(c, v, p, &g->memory_bytes));
    }
    return 0;
}

int sdl_compute_fields(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ComputeUnit **out)
{
    KUMO_ASSERT(sdl_node(c, node)->kind == SDL_MAP);
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    char p[SDL_PATH_BYTES];
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "cpu", &v));
    sdl_path_key(p, path, "cpu");
    KUMO_GUARD(sdl_cpu(c, v, p, &cu.cpu_milli));
    KUMO_GUARD(sdl_map_need(c, node, path, "memory", &v));
    sdl_path_key(p, path, "memory");
    KUMO_GUARD(sdl_size(c, v, p, &cu.memory_bytes));
    if (cu.memory_bytes == 0) {
        return sdl_fail(c, KUMO_EINVAL, v, p, "memory is 0");
    }
    v = sdl_map_get(c, node, "storage");
    if (v != SDL_NONE) {
        sdl_path_key(p, path, "storage");
        KUMO_GUARD(sdl_size(c, v, p, &cu.storage_bytes));
    }
    *out = kumo_alloc(sizeof(**out));
    if (*out == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    **out = cu;
    v = sdl_map_get(c, node, "gpu");
    if (v == SDL_NONE) {
        return 0;
    }
    sdl_path_key(p, path, "gpu");
    return gpu_parse(c, v, p, &(*out)->gpu);
}

static bool gpu_equal(const Kumo__GpuSpec *a, const Kumo__GpuSpec *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return a->count == b->count && a->memory_bytes == b->memory_bytes &&
           strcmp(a->vendor, b->vendor) == 0 && strcmp(a->model, b->model) == 0;
}

bool sdl_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b)
{
    KUMO_ASSERT(a != NULL && b != NULL);
    return a->cpu_milli == b->cpu_milli && a->memory_bytes == b->memory_bytes &&
           a->storage_bytes == b->storage_bytes && gpu_equal(a->gpu, b->gpu);
}

bool kumo_sdl_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b)
{
    return sdl_compute_equal(a, b);
}
