/*
 * cli_parse.c - strict parsers for what people type: decimal numbers, amounts (ukumo/kumo),
 * CPU (milli), sizes (Ki/Mi/Gi/Ti and k/M/G/T), --group specs, --attr pairs, --state names and
 * version hex. Every rejection names the field and says what is accepted. No I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses the digits in text[0..len) (no sign, no leading zeros unless "0"). */
static int
digits_parse(const char *text, size_t len, const char *what, uint64_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(len > 0, err, KUMO_EINVAL, "%s: expected a number", what);
    KUMO_ENSURE(len == 1 || text[0] != '0', err, KUMO_EINVAL, "%s: no leading zeros in '%.*s'",
                what, (int)len, text);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        KUMO_ENSURE(is_digit(text[i]), err, KUMO_EINVAL, "%s: '%.*s' is not a decimal number", what,
                    (int)len, text);
        uint64_t d = (uint64_t)(text[i] - '0');
        KUMO_ENSURE(kumo_u64_mul(v, 10, &v) == 0 && kumo_u64_add(v, d, &v) == 0, err, KUMO_EINVAL,
                    "%s: '%.*s' is too large", what, (int)len, text);
    }
    *out = v;
    return 0;
}

int cli_u64_parse(const char *text, const char *what, uint64_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out != NULL);
    return digits_parse(text, strlen(text), what, out, err);
}

/* A number "I" or "I.F" followed by a suffix: whole * scale + fraction scaled, where the
 * fraction may have at most frac_max digits (scale = 10^frac_max). */
typedef struct num_text {
    const char *int_ptr;
    size_t int_len;
    const char *frac_ptr; /* NULL: no '.' */
    size_t frac_len;
    const char *suffix;
} num_text_t;

static void num_split(const char *text, num_text_t *n)
{
    memset(n, 0, sizeof(*n));
    n->int_ptr = text;
    const char *p = text;
    while (is_digit(*p)) {
        p++;
    }
    n->int_len = (size_t)(p - text);
    if (*p == '.') {
        p++;
        n->frac_ptr = p;
        while (is_digit(*p)) {
            p++;
        }
        n->frac_len = (size_t)(p - n->frac_ptr);
    }
    n->suffix = p;
}

/* whole * 10^frac_max + frac (scaled to frac_max digits), times mul. */
static int num_scaled(const num_text_t *n,
                      unsigned frac_max,
                      uint64_t mul,
                      const char *what,
                      uint64_t *out,
                      kumo_err_ctx_t *err)
{
    uint64_t whole = 0;
    KUMO_GUARD(digits_parse(n->int_ptr, n->int_len, what, &whole, err));
    KUMO_ENSURE(n->frac_ptr == NULL || (n->frac_len > 0 && n->frac_len <= frac_max), err,
                KUMO_EINVAL, "%s: at most %u decimal places", what, frac_max);
    uint64_t scale = 1;
    for (unsigned i = 0; i < frac_max; i++) {
        scale *= 10;
    }
    uint64_t frac = 0;
    for (size_t i = 0; i < frac_max; i++) {
        uint64_t d = n->frac_ptr != NULL && i < n->frac_len ? (uint64_t)(n->frac_ptr[i] - '0') : 0;
        frac = frac * 10 + d;
    }
    uint64_t v = 0;
    KUMO_ENSURE(kumo_u64_mul(whole, scale, &v) == 0 && kumo_u64_add(v, frac, &v) == 0 &&
                    kumo_u64_mul(v, mul, &v) == 0,
                err, KUMO_EINVAL, "%s: too large", what);
    *out = v;
    return 0;
}

int cli_amount_parse(const char *text, uint64_t *out_ukumo, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out_ukumo != NULL);
    num_text_t n;
    num_split(text, &n);
    if (strcmp(n.suffix, "kumo") == 0) {
        return num_scaled(&n, 6, 1, "amount", out_ukumo, err);
    }
    KUMO_ENSURE(strcmp(n.suffix, "") == 0 || strcmp(n.suffix, "ukumo") == 0, err, KUMO_EINVAL,
                "amount '%s': expected ukumo like 250 or 250ukumo, or kumo like 1.5kumo", text);
    KUMO_ENSURE(n.frac_ptr == NULL, err, KUMO_EINVAL,
                "amount '%s': ukumo are whole; write 1.5kumo for fractions of a kumo", text);
    return digits_parse(n.int_ptr, n.int_len, "amount", out_ukumo, err);
}

int cli_cpu_parse(const char *text, uint64_t *out_milli, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out_milli != NULL);
    num_text_t n;
    num_split(text, &n);
    uint64_t v = 0;
    if (strcmp(n.suffix, "m") == 0) {
        KUMO_ENSURE(n.frac_ptr == NULL, err, KUMO_EINVAL, "cpu '%s': milli-CPUs are whole (500m)",
                    text);
        KUMO_GUARD(digits_parse(n.int_ptr, n.int_len, "cpu", &v, err));
    } else {
        KUMO_ENSURE(n.suffix[0] == '\0', err, KUMO_EINVAL,
                    "cpu '%s': expected milli-CPUs like 500m or vCPUs like 2 or 0.5", text);
        KUMO_GUARD(num_scaled(&n, 3, 1, "cpu", &v, err));
    }
    KUMO_ENSURE(v > 0, err, KUMO_EINVAL, "cpu '%s' must be more than 0", text);
    *out_milli = v;
    return 0;
}

int cli_size_parse(const char *text, const char *what, uint64_t *out_bytes, kumo_err_ctx_t *err)
{
    static const struct {
        const char *suffix;
        uint64_t mul;
    } units[] = {
        {"", 1},
        {"Ki", 1ull << 10},
        {"Mi", 1ull << 20},
        {"Gi", 1ull << 30},
        {"Ti", 1ull << 40},
        {"k", 1000ull},
        {"M", 1000000ull},
        {"G", 1000000000ull},
        {"T", 1000000000000ull},
    };
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out_bytes != NULL);
    num_text_t n;
    num_split(text, &n);
    KUMO_ENSURE(n.frac_ptr == NULL, err, KUMO_EINVAL,
                "%s '%s': no fractions; use a smaller unit (1536Mi, not 1.5Gi)", what, text);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(n.suffix, units[i].suffix) != 0) {
            continue;
        }
        uint64_t v = 0;
        KUMO_GUARD(digits_parse(n.int_ptr, n.int_len, what, &v, err));
        KUMO_ENSURE(kumo_u64_mul(v, units[i].mul, &v) == 0, err, KUMO_EINVAL,
                    "%s '%s' is too large", what, text);
        KUMO_ENSURE(v > 0, err, KUMO_EINVAL, "%s '%s' must be more than 0", what, text);
        *out_bytes = v;
        return 0;
    }
    return kumo_err_set(err, KUMO_EINVAL,
                        "%s '%s': expected bytes with an optional unit Ki, Mi, Gi, Ti (1024) or "
                        "k, M, G, T (1000), like 512Mi",
                        what, text);
}

/* ---- group specs ---- */

enum group_key {
    GK_NAME = 0,
    GK_REGION,
    GK_CPU,
    GK_MEMORY,
    GK_STORAGE,
    GK_COUNT,
    GK_PRICE,
    GK_COLLATERAL,
    GK_PERSIST,
    GK_COUNT_,
};

static const char *const group_keys[GK_COUNT_] = {
    "name", "region", "cpu", "memory", "storage", "count", "price", "collateral", "persist",
};

static int group_text_copy(
    const char *v, size_t len, size_t max, const char *key, char *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(len > 0, err, KUMO_EINVAL, "group %s is empty", key);
    KUMO_ENSURE(len <= max, err, KUMO_EINVAL, "group %s is longer than %zu bytes", key, max);
    memcpy(out, v, len);
    out[len] = '\0';
    return 0;
}

static int group_value_set(cli_group_t *g, int key, const char *v, kumo_err_ctx_t *err)
{
    switch (key) {
    case GK_CPU:
        return cli_cpu_parse(v, &g->cpu_milli, err);
    case GK_MEMORY:
        return cli_size_parse(v, "memory", &g->memory_bytes, err);
    case GK_STORAGE:
        return cli_size_parse(v, "storage", &g->storage_bytes, err);
    case GK_COUNT:
        KUMO_GUARD(cli_u64_parse(v, "count", &g->count, err));
        KUMO_ENSURE(g->count >= 1 && g->count <= KUMO_RESOURCE_UNIT_COUNT_MAX, err, KUMO_EINVAL,
                    "group count must be 1..%u", KUMO_RESOURCE_UNIT_COUNT_MAX);
        return 0;
    case GK_PRICE:
        KUMO_GUARD(cli_amount_parse(v, &g->price_ukumo, err));
        KUMO_ENSURE(g->price_ukumo > 0, err, KUMO_EINVAL, "group price must be more than 0");
        return 0;
    case GK_COLLATERAL:
        return cli_amount_parse(v, &g->collateral_ukumo, err);
    case GK_PERSIST:
        KUMO_ENSURE(strcmp(v, "true") == 0 || strcmp(v, "false") == 0, err, KUMO_EINVAL,
                    "group persist is a flag (persist or persist=true|false)");
        g->persist = strcmp(v, "true") == 0;
        return 0;
    default:
        KUMO_UNREACHABLE();
    }
}

/* One "key=value" item of length len at item. */
static int group_item_parse(
    cli_group_t *g, const char *item, size_t len, bool seen[GK_COUNT_], kumo_err_ctx_t *err)
{
    KUMO_ENSURE(len > 0, err, KUMO_EINVAL, "group spec has an empty item (',,' or a trailing ',')");
    const char *eq = memchr(item, '=', len);
    size_t key_len = eq != NULL ? (size_t)(eq - item) : len;
    int key = -1;
    for (int k = 0; k < GK_COUNT_; k++) {
        if (strlen(group_keys[k]) == key_len && memcmp(group_keys[k], item, key_len) == 0) {
            key = k;
        }
    }
    KUMO_ENSURE(key >= 0, err, KUMO_EINVAL,
                "group key '%.*s' unknown; keys: name region cpu memory storage count price "
                "collateral persist",
                (int)key_len, item);
    KUMO_ENSURE(!seen[key], err, KUMO_EINVAL, "group key '%s' given twice", group_keys[key]);
    seen[key] = true;
    if (eq == NULL) {
        KUMO_ENSURE(key == GK_PERSIST, err, KUMO_EINVAL, "group key '%s' needs a value",
                    group_keys[key]);
        g->persist = true;
        return 0;
    }
    const char *v = eq + 1;
    size_t v_len = len - key_len - 1;
    if (key == GK_NAME) {
        return group_text_copy(v, v_len, KUMO_NAME_BYTES_MAX, "name", g->name, err);
    }
    if (key == GK_REGION) {
        return group_text_copy(v, v_len, KUMO_REGION_BYTES_MAX, "region", g->region, err);
    }
    char value[64];
    KUMO_ENSURE(v_len < sizeof(value), err, KUMO_EINVAL, "group %s value is too long",
                group_keys[key]);
    memcpy(value, v, v_len);
    value[v_len] = '\0';
    return group_value_set(g, key, value, err);
}

int cli_group_parse(const char *text, cli_group_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(out != NULL);
    cli_group_t g;
    memset(&g, 0, sizeof(g));
    bool seen[GK_COUNT_] = {false};
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        KUMO_GUARD(group_item_parse(&g, p, len, seen, err));
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    static const int required[] = {GK_NAME,  GK_REGION, GK_CPU,       GK_MEMORY,
                                   GK_COUNT, GK_PRICE,  GK_COLLATERAL};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        KUMO_ENSURE(seen[required[i]], err, KUMO_EINVAL,
                    "group spec lacks %s=", group_keys[required[i]]);
    }
    *out = g;
    return 0;
}

/* The keys of an offer, in the order of vals[] below; the first OFFER_REQUIRED are
 * required. */
static const char *const offer_keys[] = {"price_cpu",  "price_memory", "price_storage",
                                         "cpu",        "memory",       "storage",
                                         "collateral", "price_gpu",    "gpu"};
#define OFFER_KEYS     (sizeof(offer_keys) / sizeof(offer_keys[0]))
#define OFFER_REQUIRED 7u
#define OFFER_GPU      8u

/* "COUNT:VENDOR:MODEL[:MEMORY]" into the next free GPU kind of out. */
static int offer_gpu_parse(char *v, cli_offer_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(out->pb.n_free_gpus < KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX, err, KUMO_EINVAL,
                "offer: at most %u gpu= kinds", KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX);
    char *fields[4] = {v, NULL, NULL, NULL};
    size_t n = 1;
    for (char *c = strchr(v, ':'); c != NULL && n < 4; c = strchr(c + 1, ':')) {
        *c = '\0';
        fields[n++] = c + 1;
    }
    KUMO_ENSURE(n >= 3 && strchr(fields[n - 1], ':') == NULL, err, KUMO_EINVAL,
                "offer gpu: expected COUNT:VENDOR:MODEL[:MEMORY] (e.g. gpu=2:nvidia:a100:80Gi)");
    Kumo__GpuSpec *g = &out->gpus[out->pb.n_free_gpus];
    kumo__gpu_spec__init(g);
    char *end = NULL;
    errno = 0;
    unsigned long long count = strtoull(fields[0], &end, 10);
    KUMO_ENSURE(errno == 0 && end != fields[0] && *end == '\0' && fields[0][0] != '-' &&
                    count > 0 && count <= KUMO_MARKET_OFFER_GPU_COUNT_MAX,
                err, KUMO_EINVAL, "offer gpu: the count must be 1..%u",
                KUMO_MARKET_OFFER_GPU_COUNT_MAX);
    g->count = (uint32_t)count;
    g->vendor = fields[1];
    g->model = fields[2];
    if (n == 4) {
        KUMO_GUARD(cli_size_parse(fields[3], "gpu memory", &g->memory_bytes, err));
    }
    out->gpu_ptrs[out->pb.n_free_gpus++] = g;
    return 0;
}

/* One "key=value" of an offer (a copy the offer may keep pointers into) into its field. */
static int
offer_item_parse(char *item, uint64_t *vals, bool *seen, cli_offer_t *out, kumo_err_ctx_t *err)
{
    char *eq = strchr(item, '=');
    KUMO_ENSURE(eq != NULL && eq > item, err, KUMO_EINVAL, "offer item '%s' is not key=value",
                item);
    *eq = '\0';
    size_t k = 0;
    while (k < OFFER_KEYS && strcmp(offer_keys[k], item) != 0) {
        k++;
    }
    KUMO_ENSURE(k < OFFER_KEYS, err, KUMO_EINVAL,
                "offer key '%s' unknown; keys: price_cpu price_memory price_storage cpu "
                "memory storage collateral, and optionally price_gpu and gpu (repeated)",
                item);
    KUMO_ENSURE(!seen[k] || k == OFFER_GPU, err, KUMO_EINVAL, "offer key '%s' given twice",
                offer_keys[k]);
    seen[k] = true;
    char *v = eq + 1;
    KUMO_ENSURE(v[0] != '\0' && strlen(v) < 64, err, KUMO_EINVAL, "offer %s: bad value",
                offer_keys[k]);
    if (k == OFFER_GPU) {
        return offer_gpu_parse(v, out, err);
    }
    if (strcmp(v, "0") == 0) { /* nothing free */
        vals[k] = 0;
        return 0;
    }
    if (k == 3) {
        return cli_cpu_parse(v, &vals[k], err);
    }
    if (k == 4 || k == 5) {
        return cli_size_parse(v, offer_keys[k], &vals[k], err);
    }
    return cli_amount_parse(v, &vals[k], err);
}

int cli_offer_parse(const char *text, cli_offer_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && out != NULL);
    uint64_t vals[OFFER_KEYS] = {0};
    bool seen[OFFER_KEYS] = {false};
    kumo__provider_offer__init(&out->pb);
    KUMO_ENSURE(strlen(text) < sizeof(out->text), err, KUMO_EINVAL, "offer: longer than %zu bytes",
                sizeof(out->text) - 1);
    memcpy(out->text, text, strlen(text) + 1);
    out->pb.free_gpus = out->gpu_ptrs;
    char *p = out->text;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        KUMO_GUARD(offer_item_parse(p, vals, seen, out, err));
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    for (size_t k = 0; k < OFFER_REQUIRED; k++) {
        KUMO_ENSURE(seen[k], err, KUMO_EINVAL,
                    "offer lacks a key: give price_cpu, price_memory, price_storage, cpu, memory, "
                    "storage and collateral");
    }
    out->pb.price_cpu_per_core = vals[0];
    out->pb.price_memory_per_gib = vals[1];
    out->pb.price_storage_per_gib = vals[2];
    out->pb.free_cpu_milli = vals[3];
    out->pb.free_memory_bytes = vals[4];
    out->pb.free_storage_bytes = vals[5];
    out->pb.free_collateral = vals[6];
    out->pb.price_per_gpu = vals[7];
    return 0;
}

void cli_group_to_pb(const cli_group_t *g, cli_group_pb_t *pb)
{
    KUMO_ASSERT(g != NULL);
    KUMO_ASSERT(g->count <= KUMO_RESOURCE_UNIT_COUNT_MAX);
    kumo__compute_unit__init(&pb->cu);
    pb->cu.cpu_milli = g->cpu_milli;
    pb->cu.memory_bytes = g->memory_bytes;
    pb->cu.storage_bytes = g->storage_bytes;
    kumo__resource_group__init(&pb->rg);
    pb->rg.compute = &pb->cu;
    pb->rg.price = g->price_ukumo;
    pb->rg.collateral = g->collateral_ukumo;
    pb->rg.count = (uint32_t)g->count;
    pb->rg_ptr = &pb->rg;
    kumo__group_spec__init(&pb->spec);
    pb->spec.name = (char *)(uintptr_t)g->name;
    pb->spec.region = (char *)(uintptr_t)g->region;
    pb->spec.persist = g->persist;
    pb->spec.n_resources = 1;
    pb->spec.resources = &pb->rg_ptr;
}

int cli_attr_parse(const char *text,
                   char *buf,
                   size_t buf_cap,
                   const char **key_out,
                   const char **value_out,
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    KUMO_ASSERT(buf != NULL && buf_cap > 0);
    const char *eq = strchr(text, '=');
    KUMO_ENSURE(eq != NULL && eq != text, err, KUMO_EINVAL,
                "attribute '%s': expected key=value with a non-empty key", text);
    size_t len = strlen(text);
    KUMO_ENSURE(len < buf_cap, err, KUMO_EINVAL, "attribute '%.32s...' is too long", text);
    memcpy(buf, text, len + 1);
    size_t key_len = (size_t)(eq - text);
    buf[key_len] = '\0';
    KUMO_ENSURE(key_len <= KUMO_ATTRIBUTE_KEY_BYTES_MAX, err, KUMO_EINVAL,
                "attribute key is longer than %u bytes", KUMO_ATTRIBUTE_KEY_BYTES_MAX);
    KUMO_ENSURE(len - key_len - 1 <= KUMO_ATTRIBUTE_VALUE_BYTES_MAX, err, KUMO_EINVAL,
                "attribute value is longer than %u bytes", KUMO_ATTRIBUTE_VALUE_BYTES_MAX);
    *key_out = buf;
    *value_out = buf + key_len + 1;
    return 0;
}

int cli_state_normalize(
    const char *text, const char *prefix, char *out, size_t out_cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && prefix != NULL);
    KUMO_ASSERT(out != NULL && out_cap > 0);
    char up[64];
    size_t len = strlen(text);
    KUMO_ENSURE(len > 0 && len < sizeof(up), err, KUMO_EINVAL, "state '%s' is not a state name",
                text);
    for (size_t i = 0; i <= len; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        } else if (c == '-') {
            c = '_';
        }
        KUMO_ENSURE(c == '\0' || c == '_' || (c >= 'A' && c <= 'Z'), err, KUMO_EINVAL,
                    "state '%s': letters and '_' only (e.g. active or %sACTIVE)", text, prefix);
        up[i] = c;
    }
    bool prefixed = strncmp(up, prefix, strlen(prefix)) == 0;
    int n = snprintf(out, out_cap, "%s%s", prefixed ? "" : prefix, up);
    KUMO_ENSURE(n > 0 && (size_t)n < out_cap, err, KUMO_EINVAL, "state '%s' is too long", text);
    return 0;
}

int cli_version_hex_parse(const char *text, uint8_t out[KUMO_VERSION_BYTES], kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    size_t len = 0;
    uint8_t tmp[KUMO_VERSION_BYTES];
    int rc = kumo_codec_hex_decode(text, tmp, sizeof(tmp), &len, err);
    KUMO_ENSURE(rc == 0 && len == KUMO_VERSION_BYTES, err, KUMO_EINVAL,
                "version: expected %u hex digits (a SHA-256 Merkle root), got '%.80s'",
                2 * KUMO_VERSION_BYTES, text);
    memcpy(out, tmp, sizeof(tmp));
    return 0;
}
