/*
 * tree.c - a stack file's YAML turned into a small tree with line numbers (libyaml event API).
 * One document, no aliases (they could expand a small file into a huge one), nesting at most
 * KUMO_SDL_DEPTH_MAX and at most KUMO_SDL_NODE_COUNT_MAX nodes, so the input never drives
 * unbounded memory or recursion. Pure: no I/O.
 */
#include <string.h>

#include <yaml.h>

#include "sdl/sdl_int.h"

typedef struct tree_builder {
    sdl_tree_t *tree;
    const char *file;
    uint32_t open[KUMO_SDL_DEPTH_MAX]; /* containers being filled */
    uint32_t last[KUMO_SDL_DEPTH_MAX]; /* their last child, or SDL_NONE */
    size_t depth;
    bool doc_seen;
    bool root_seen;
} tree_builder_t;

void sdl_tree_free(sdl_tree_t *tree)
{
    KUMO_ASSERT(tree != NULL);
    KUMO_ASSERT(tree->count <= tree->cap);
    for (uint32_t i = 0; i < tree->count; i++) {
        kumo_free(tree->nodes[i].text);
    }
    kumo_free(tree->nodes);
    memset(tree, 0, sizeof(*tree));
}

static uint32_t mark_line(const yaml_mark_t *mark)
{
    /* The file is at most KUMO_SDL_STACK_BYTES_MAX bytes, so its line numbers fit. */
    KUMO_ASSERT(mark->line < KUMO_SDL_STACK_BYTES_MAX);
    return (uint32_t)mark->line + 1u;
}

static int tree_grow(tree_builder_t *b, uint32_t line, kumo_err_ctx_t *err)
{
    sdl_tree_t *t = b->tree;
    KUMO_ENSURE(t->count < KUMO_SDL_NODE_COUNT_MAX, err, KUMO_ELIMIT,
                "%s:%u: more than %u YAML nodes", b->file, line, KUMO_SDL_NODE_COUNT_MAX);
    if (t->count < t->cap) {
        return 0;
    }
    uint32_t cap = t->cap == 0 ? 64u : t->cap * 2u;
    if (cap > KUMO_SDL_NODE_COUNT_MAX) {
        cap = KUMO_SDL_NODE_COUNT_MAX;
    }
    sdl_node_t *nodes = kumo_realloc(t->nodes, (size_t)cap * sizeof(*nodes));
    KUMO_ENSURE(nodes != NULL, err, KUMO_ENOMEM, "%s: out of memory", b->file);
    t->nodes = nodes;
    t->cap = cap;
    return 0;
}

/* Appends a node under the innermost open container. */
static int tree_add(tree_builder_t *b,
                    sdl_kind_t kind,
                    const yaml_event_t *ev,
                    uint32_t *index_out,
                    kumo_err_ctx_t *err)
{
    uint32_t line = mark_line(&ev->start_mark);
    KUMO_ENSURE(b->depth > 0 || !b->root_seen, err, KUMO_EDECODE,
                "%s:%u: only one document is allowed", b->file, line);
    KUMO_GUARD(tree_grow(b, line, err));
    sdl_tree_t *t = b->tree;
    uint32_t index = t->count;
    sdl_node_t *n = &t->nodes[index];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = line;
    n->first = SDL_NONE;
    n->next = SDL_NONE;
    if (kind == SDL_SCALAR) {
        const char *text = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        KUMO_ENSURE(strlen(text) == len, err, KUMO_EDECODE, "%s:%u: a value holds a NUL byte",
                    b->file, line);
        n->text = sdl_strdup(text, len);
        KUMO_ENSURE(n->text != NULL, err, KUMO_ENOMEM, "%s: out of memory", b->file);
        n->len = len;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    t->count++;
    if (b->depth == 0) {
        b->root_seen = true;
    } else {
        size_t d = b->depth - 1u;
        if (b->last[d] == SDL_NONE) {
            t->nodes[b->open[d]].first = index;
        } else {
            t->nodes[b->last[d]].next = index;
        }
        b->last[d] = index;
        t->nodes[b->open[d]].child_count++;
    }
    *index_out = index;
    return 0;
}

static int
tree_open(tree_builder_t *b, sdl_kind_t kind, const yaml_event_t *ev, kumo_err_ctx_t *err)
{
    uint32_t line = mark_line(&ev->start_mark);
    KUMO_ENSURE(b->depth < KUMO_SDL_DEPTH_MAX, err, KUMO_ELIMIT,
                "%s:%u: nesting deeper than %u levels", b->file, line, KUMO_SDL_DEPTH_MAX);
    uint32_t index;
    KUMO_GUARD(tree_add(b, kind, ev, &index, err));
    b->open[b->depth] = index;
    b->last[b->depth] = SDL_NONE;
    b->depth++;
    return 0;
}

/* One event; *done is set at the stream's end. */
static int tree_event(tree_builder_t *b, const yaml_event_t *ev, bool *done, kumo_err_ctx_t *err)
{
    uint32_t line = mark_line(&ev->start_mark);
    uint32_t index;
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
    case YAML_NO_EVENT:
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        KUMO_ENSURE(!b->doc_seen, err, KUMO_EDECODE, "%s:%u: only one document is allowed", b->file,
                    line);
        b->doc_seen = true;
        return 0;
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_ALIAS_EVENT:
        return kumo_err_set(err, KUMO_EDECODE, "%s:%u: aliases (*name) are not supported", b->file,
                            line);
    case YAML_SCALAR_EVENT:
        return tree_add(b, SDL_SCALAR, ev, &index, err);
    case YAML_SEQUENCE_START_EVENT:
        return tree_open(b, SDL_SEQ, ev, err);
    case YAML_MAPPING_START_EVENT:
        return tree_open(b, SDL_MAP, ev, err);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        KUMO_ASSERT(b->depth > 0); /* libyaml pairs start and end events */
        b->depth--;
        return 0;
    default:
        KUMO_UNREACHABLE();
    }
}

static int tree_run(yaml_parser_t *parser, tree_builder_t *b, kumo_err_ctx_t *err)
{
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            return kumo_err_set(err, KUMO_EDECODE, "%s:%lu: %s", b->file,
                                (unsigned long)parser->problem_mark.line + 1ul,
                                parser->problem != NULL ? parser->problem : "YAML syntax error");
        }
        int rc = tree_event(b, &ev, &done, err);
        yaml_event_delete(&ev);
        KUMO_GUARD(rc);
    }
    return 0;
}

int sdl_tree_build(kumo_bytes_t yaml, const char *file, sdl_tree_t *tree, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(file != NULL && tree != NULL);
    KUMO_ASSERT(yaml.len <= KUMO_SDL_STACK_BYTES_MAX);
    memset(tree, 0, sizeof(*tree));
    yaml_parser_t parser;
    KUMO_ENSURE(yaml_parser_initialize(&parser) != 0, err, KUMO_ENOMEM, "%s: out of memory", file);
    static const uint8_t empty[1] = {0};
    /* libyaml asserts on a NULL input even when its length is 0 (an empty file). */
    yaml_parser_set_input_string(&parser, yaml.ptr != NULL ? yaml.ptr : empty, yaml.len);
    tree_builder_t b = {.tree = tree, .file = file};
    int rc = tree_run(&parser, &b, err);
    yaml_parser_delete(&parser);
    if (rc == 0 && tree->count == 0) {
        rc = kumo_err_set(err, KUMO_EEMPTY, "%s:1: the stack is empty", file);
    }
    KUMO_ASSERT(rc != 0 || b.depth == 0);
    return rc;
}
