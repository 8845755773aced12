/*
 * cli_output.c - what people read: amounts with units, sizes, aligned tables (column widths
 * count UTF-8 characters, not bytes) and objects as aligned key/value lines; and the JSON
 * printer of --output json.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

bool cli_stdout_gone(void)
{
    return fflush(stdout) == EOF && errno == EPIPE;
}

void cli_amount_format(uint64_t ukumo, char *out, size_t out_cap)
{
    KUMO_ASSERT(out != NULL && out_cap > 0);
    int n = snprintf(out, out_cap, "%" PRIu64 " ukumo", ukumo);
    KUMO_ASSERT(n > 0);
}

void cli_size_format(uint64_t bytes, char *out, size_t out_cap)
{
    static const char *const suffix[] = {"Ti", "Gi", "Mi", "Ki"};
    static const unsigned shift[] = {40, 30, 20, 10};
    KUMO_ASSERT(out != NULL && out_cap > 0);
    for (size_t i = 0; i < 4; i++) {
        uint64_t unit = 1ull << shift[i];
        if (bytes != 0 && bytes % unit == 0) {
            (void)snprintf(out, out_cap, "%" PRIu64 "%s", bytes / unit, suffix[i]);
            return;
        }
    }
    (void)snprintf(out, out_cap, "%" PRIu64, bytes);
}

void cli_cpu_format(uint64_t milli, char *out, size_t out_cap)
{
    KUMO_ASSERT(out != NULL && out_cap > 0);
    if (milli != 0 && milli % 1000 == 0) {
        (void)snprintf(out, out_cap, "%" PRIu64, milli / 1000);
    } else {
        (void)snprintf(out, out_cap, "%" PRIu64 "m", milli);
    }
}

static size_t size_max2(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xC0u) != 0x80u) {
            w++;
        }
    }
    return w;
}

void cli_table_init(cli_table_t *t, const char *const *headers, size_t column_count)
{
    KUMO_ASSERT(column_count > 0 && column_count <= CLI_TABLE_COLUMN_MAX);
    memset(t, 0, sizeof(*t));
    t->column_count = column_count;
    for (size_t i = 0; i < column_count; i++) {
        t->headers[i] = headers[i];
    }
}

int cli_table_row_add(cli_table_t *t, char (**row_out)[CLI_TABLE_CELL_BYTES])
{
    KUMO_ASSERT(t->row_count <= t->row_cap);
    if (t->row_count == t->row_cap) {
        size_t cap = t->row_cap == 0 ? 16 : t->row_cap * 2;
        void *p = realloc(t->cells, cap * sizeof(t->cells[0]));
        if (p == NULL) {
            return KUMO_ENOMEM;
        }
        t->cells = p;
        t->row_cap = cap;
    }
    memset(t->cells[t->row_count], 0, sizeof(t->cells[0]));
    *row_out = t->cells[t->row_count];
    t->row_count++;
    return 0;
}

static void
table_line_print(FILE *out, const size_t *width, size_t columns, const char *const *cells)
{
    for (size_t c = 0; c < columns; c++) {
        bool last = c + 1 == columns;
        fputs(cells[c], out);
        if (!last) {
            for (size_t i = text_width(cells[c]); i < width[c] + 2; i++) {
                fputc(' ', out);
            }
        }
    }
    fputc('\n', out);
}

void cli_table_print(const cli_table_t *t, FILE *out)
{
    size_t width[CLI_TABLE_COLUMN_MAX] = {0};
    for (size_t c = 0; c < t->column_count; c++) {
        width[c] = text_width(t->headers[c]);
        for (size_t r = 0; r < t->row_count; r++) {
            width[c] = size_max2(width[c], text_width(t->cells[r][c]));
        }
    }
    table_line_print(out, width, t->column_count, t->headers);
    for (size_t r = 0; r < t->row_count; r++) {
        const char *cells[CLI_TABLE_COLUMN_MAX];
        for (size_t c = 0; c < t->column_count; c++) {
            cells[c] = t->cells[r][c];
        }
        table_line_print(out, width, t->column_count, cells);
    }
}

void cli_table_free(cli_table_t *t)
{
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Fields that hold ukumo amounts, printed with their unit. */
static bool field_is_amount(const char *key)
{
    static const char *const amounts[] = {
        "balance",     "escrow",           "total_paid", "price",        "collateral",
        "price_total", "collateral_total", "deposit",    "fee",          "amount",
        "min_fee",     "min_deposit",      "supply",     "interest_paid"};
    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        if (strcmp(key, amounts[i]) == 0) {
            return true;
        }
    }
    return false;
}

#define CLI_OBJECT_LINE_MAX 512u

typedef struct obj_line {
    char key[128];
    char value[256];
} obj_line_t;

typedef struct obj_lines {
    obj_line_t *lines;
    size_t count;
} obj_lines_t;

static void obj_value_text(const char *key, const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *nl = strchr(s, '\n');
        if (nl != NULL) {
            /* Multi-line text (a PEM certificate): its first line and how many follow. */
            size_t lines = 0;
            for (const char *p = s; *p != '\0'; p++) {
                lines += *p == '\n' ? 1u : 0u;
            }
            (void)snprintf(out, cap, "%.*s ... (%zu lines)", (int)(nl - s), s, lines);
            return;
        }
        (void)snprintf(out, cap, "%s%s", s, field_is_amount(key) && s[0] != '\0' ? " ukumo" : "");
    } else if (json_is_integer(v)) {
        (void)snprintf(out, cap, "%" JSON_INTEGER_FORMAT "%s", json_integer_value(v),
                       field_is_amount(key) ? " ukumo" : "");
    } else if (json_is_true(v) || json_is_false(v)) {
        (void)snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v)) {
        (void)snprintf(out, cap, "-");
    } else {
        char *dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        (void)snprintf(out, cap, "%s", dump != NULL ? dump : "?");
        free(dump);
    }
}

static void obj_flatten(const char *prefix, const json_t *obj, obj_lines_t *ls, unsigned depth)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)obj, key, v)
    {
        if (ls->count >= CLI_OBJECT_LINE_MAX) {
            return;
        }
        char full[128];
        (void)snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", key);
        if (json_is_object(v) && depth < KUMO_JSON_DEPTH_MAX) {
            obj_flatten(full, v, ls, depth + 1);
            continue;
        }
        if (json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0)) &&
            depth < KUMO_JSON_DEPTH_MAX) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                char idx[160];
                (void)snprintf(idx, sizeof(idx), "%s[%zu]", full, i);
                obj_flatten(idx, item, ls, depth + 1);
            }
            continue;
        }
        obj_line_t *l = &ls->lines[ls->count++];
        (void)snprintf(l->key, sizeof(l->key), "%s", full);
        obj_value_text(key, v, l->value, sizeof(l->value));
    }
}

void cli_object_print(const json_t *obj, FILE *out)
{
    if (!json_is_object(obj)) {
        cli_json_print(obj, out);
        return;
    }
    obj_lines_t ls = {.lines = calloc(CLI_OBJECT_LINE_MAX, sizeof(obj_line_t))};
    if (ls.lines == NULL) {
        cli_json_print(obj, out);
        return;
    }
    obj_flatten("", obj, &ls, 0);
    size_t width = 0;
    for (size_t i = 0; i < ls.count; i++) {
        width = size_max2(width, strlen(ls.lines[i].key));
    }
    for (size_t i = 0; i < ls.count; i++) {
        fprintf(out, "%-*s  %s\n", (int)width, ls.lines[i].key, ls.lines[i].value);
    }
    free(ls.lines);
}

void cli_json_print(const json_t *json, FILE *out)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s != NULL) {
        fprintf(out, "%s\n", s);
        free(s);
    }
}

const char *cli_json_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

void cli_end_format(const json_t *obj, const char *height_key, char *out, size_t out_cap)
{
    static const char prefix[] = "CLOSE_REASON_";
    const char *r = cli_json_str(obj, "close_reason");
    if (strncmp(r, prefix, sizeof(prefix) - 1) == 0) {
        r += sizeof(prefix) - 1;
    }
    if (r[0] == '\0' || strcmp(r, "NONE") == 0) {
        (void)snprintf(out, out_cap, "-");
        return;
    }
    char low[64];
    size_t i = 0;
    for (; r[i] != '\0' && i + 1 < sizeof(low); i++) {
        low[i] = (r[i] >= 'A' && r[i] <= 'Z') ? (char)(r[i] - 'A' + 'a') : r[i];
    }
    low[i] = '\0';
    (void)snprintf(out, out_cap, "%s at %" PRIu64, low, cli_json_u64(obj, height_key));
}

uint64_t cli_json_u64(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        return i > 0 ? (uint64_t)i : 0;
    }
    uint64_t out = 0;
    if (json_is_string(v) && cli_u64_parse(json_string_value(v), key, &out, NULL) == 0) {
        return out;
    }
    return 0;
}
