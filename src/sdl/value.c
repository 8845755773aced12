/*
 * value.c - typed access to the YAML tree for the schema walk: mappings with known keys,
 * strings, names, integers, booleans, cpu amounts and byte sizes. Every error names the file,
 * the line and the field path. All arithmetic is checked. Pure: no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sdl/sdl_int.h"

int sdl_fail(const sdl_ctx_t *c, int code, uint32_t node, const char *path, const char *fmt, ...)
{
    char msg[KUMO_ERR_DETAIL_BYTES];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a truncated message is still useful */
    va_end(ap);
    uint32_t line = node == SDL_NONE ? 1u : sdl_node(c, node)->line;
    return kumo_err_set(c->err, code, "%s:%" PRIu32 ": %s: %s", c->file, line, path, msg);
}

const sdl_node_t *sdl_node(const sdl_ctx_t *c, uint32_t index)
{
    KUMO_ASSERT(index < c->tree->count);
    return &c->tree->nodes[index];
}

/* Paths name fields in error messages only. Keys come from the input (attribute keys, Akash
 * names), so a path that does not fit is cut and ends in "..." rather than trusted to fit. */
static void path_fit(char out[SDL_PATH_BYTES], int n)
{
    KUMO_ASSERT(n >= 0);
    if ((size_t)n >= SDL_PATH_BYTES) {
        memcpy(out + SDL_PATH_BYTES - 4u, "...", 4u);
    }
}

void sdl_path_key(char out[SDL_PATH_BYTES], const char *parent, const char *key)
{
    int n = parent[0] == '\0' ? snprintf(out, SDL_PATH_BYTES, "%s", key)
                              : snprintf(out, SDL_PATH_BYTES, "%s.%s", parent, key);
    path_fit(out, n);
}

void sdl_path_index(char out[SDL_PATH_BYTES], const char *parent, size_t index)
{
    path_fit(out, snprintf(out, SDL_PATH_BYTES, "%s[%zu]", parent, index));
}

char *sdl_strdup(const char *s, size_t len)
{
    char *p = kumo_alloc(len + 1u);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A key quoted for a message: printable ASCII, at most 64 bytes, others as '?'. */
void sdl_quote(const char *key, char out[SDL_QUOTE_BYTES])
{
    size_t i = 0;
    for (; i < 64u && key[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)key[i];
        out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (key[i] != '\0') {
        memcpy(&out[i], "...", 3);
        i += 3u;
    }
    out[i] = '\0';
}

static const char *kind_name(sdl_kind_t kind)
{
    switch (kind) {
    case SDL_SCALAR:
        return "a value";
    case SDL_SEQ:
        return "a list";
    case SDL_MAP:
        return "a mapping";
    default:
        KUMO_UNREACHABLE();
    }
}

static int
key_check(const sdl_ctx_t *c, uint32_t key, const char *path, const char *const *allowed, size_t n)
{
    const sdl_node_t *k = sdl_node(c, key);
    if (k->kind != SDL_SCALAR) {
        return sdl_fail(c, KUMO_EDECODE, key, path, "a key must be a plain name, not %s",
                        kind_name(k->kind));
    }
    if (allowed == NULL && n == SIZE_MAX) {
        return 0; /* any name */
    }
    for (size_t i = 0; allowed != NULL && i < n; i++) {
        if (strcmp(k->text, allowed[i]) == 0) {
            return 0;
        }
    }
    char q[SDL_QUOTE_BYTES];
    sdl_quote(k->text, q);
    return sdl_fail(c, KUMO_EDECODE, key, path, "unknown key \"%s\"", q);
}

int sdl_map_check(
    const sdl_ctx_t *c, uint32_t node, const char *path, const char *const *allowed, size_t n)
{
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a mapping, got %s",
                        kind_name(m->kind));
    }
    KUMO_ASSERT(m->child_count % 2u == 0);
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        KUMO_GUARD(key_check(c, k, path, allowed, n));
        for (uint32_t j = m->first; j != k; j = sdl_node(c, sdl_node(c, j)->next)->next) {
            if (strcmp(sdl_node(c, j)->text, sdl_node(c, k)->text) == 0) {
                char q[SDL_QUOTE_BYTES];
                sdl_quote(sdl_node(c, k)->text, q);
                return sdl_fail(c, KUMO_EDUPLICATE, k, path, "key \"%s\" given twice", q);
            }
        }
    }
    return 0;
}

int sdl_map_names(const sdl_ctx_t *c, uint32_t node, const char *path)
{
    return sdl_map_check(c, node, path, NULL, SIZE_MAX);
}

uint32_t sdl_map_get(const sdl_ctx_t *c, uint32_t map, const char *key)
{
    const sdl_node_t *m = sdl_node(c, map);
    KUMO_ASSERT(m->kind == SDL_MAP);
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        KUMO_ASSERT(sdl_node(c, k)->kind == SDL_SCALAR); /* sdl_map_check ran */
        if (strcmp(sdl_node(c, k)->text, key) == 0) {
            return sdl_node(c, k)->next;
        }
    }
    return SDL_NONE;
}

int sdl_map_need(
    const sdl_ctx_t *c, uint32_t map, const char *path, const char *key, uint32_t *value_out)
{
    uint32_t v = sdl_map_get(c, map, key);
    if (v == SDL_NONE) {
        char p[SDL_PATH_BYTES];
        sdl_path_key(p, path, key);
        return sdl_fail(c, KUMO_EEMPTY, map, p, "required but missing");
    }
    *value_out = v;
    return 0;
}

int sdl_scalar(const sdl_ctx_t *c, uint32_t node, const char *path, const char **text_out)
{
    const sdl_node_t *n = sdl_node(c, node);
    if (n->kind != SDL_SCALAR) {
        return sdl_fail(c, KUMO_EDECODE, node, path, "expected a value, got %s",
                        kind_name(n->kind));
    }
    *text_out = n->text;
    return 0;
}

/* A plain empty, "~" or "null" scalar is YAML's null, not a string. */
static bool scalar_is_null(const sdl_node_t *n)
{
    return n->plain && (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
                        strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0);
}

int sdl_string(const sdl_ctx_t *c,
               uint32_t node,
               const char *path,
               size_t bytes_min,
               size_t bytes_max,
               char **out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    const sdl_node_t *n = sdl_node(c, node);
    if (scalar_is_null(n)) {
        return sdl_fail(c, bytes_min > 0 ? KUMO_EEMPTY : KUMO_EDECODE, node, path,
                        "is empty (null); write a string, quoted if need be");
    }
    if (n->len < bytes_min) {
        return sdl_fail(c, KUMO_EEMPTY, node, path, "is empty");
    }
    if (n->len > bytes_max) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "is %zu bytes, more than %zu", n->len,
                        bytes_max);
    }
    *out = sdl_strdup(text, n->len);
    if (*out == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, path, "out of memory");
    }
    return 0;
}

bool sdl_name_is_valid(const char *text, size_t len)
{
    KUMO_ASSERT(text != NULL);
    bool ok = len > 0 && text[0] >= 'a' && text[0] <= 'z' && text[len - 1u] != '-';
    for (size_t i = 0; ok && i < len; i++) {
        char ch = text[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    }
    return ok;
}

int sdl_name(const sdl_ctx_t *c, uint32_t node, const char *path, const char **name_out)
{
    const char *text;
    KUMO_GUARD(sdl_scalar(c, node, path, &text));
    size_t len = sdl_node(c, node)->len;
    if (len == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, path, "a name is empty");
    }
    if (len > KUMO_SDL_NAME_BYTES_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, path, "a name of %zu bytes exceeds %u", len,
                        KUMO_SDL_NAME_BYTES_MAX);
    }
    if (!sdl_name_is_valid(text, len)) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(text, q);
        return sdl_fail(c, KUMO_EINVAL, node, path,
                        "\"%s\" is not a name (a-z, 0-9 and '-', starting with a letter, not "
                        "ending with '-')",
                        q);
    }
    *name_out = text;
    return 0;
}
