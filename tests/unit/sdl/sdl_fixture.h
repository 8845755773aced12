/*
 * sdl_fixture.h - shared by the sdl tests: a small valid stack whose line numbers the error
 * tests rely on, a growable text builder, and parse helpers.
 */
#ifndef KUMO_TESTS_SDL_FIXTURE_H
#define KUMO_TESTS_SDL_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdl/sdl.h"

/* Line numbers matter: the error table names them. */
static const char sdl_base_stack[] = "version: \"1\"\n"                       /* 1 */
                                     "groups:\n"                              /* 2 */
                                     "  g1:\n"                                /* 3 */
                                     "    region: us-east\n"                  /* 4 */
                                     "    resources:\n"                       /* 5 */
                                     "      - cpu: 500m\n"                    /* 6 */
                                     "        memory: 512Mi\n"                /* 7 */
                                     "        storage: 1Gi\n"                 /* 8 */
                                     "        count: 3\n"                     /* 9 */
                                     "        price: 100\n"                   /* 10 */
                                     "        collateral: 5\n"                /* 11 */
                                     "workloads:\n"                           /* 12 */
                                     "  web:\n"                               /* 13 */
                                     "    image: img:1\n"                     /* 14 */
                                     "    command: [serve, --port, \"80\"]\n" /* 15 */
                                     "    env: {A: \"1\", B: two}\n"          /* 16 */
                                     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n"
                                     "    count: 2\n"     /* 18 */
                                     "    group: g1\n"    /* 19 */
                                     "    ports:\n"       /* 20 */
                                     "      - port: 80\n" /* 21 */
                                     "        expose: [{global: true}, {workload: db}]\n"
                                     "  db:\n"           /* 23 */
                                     "    image: db:1\n" /* 24 */
                                     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n"
                                     "    group: g1\n"                                  /* 26 */
                                     "    ports:\n"                                     /* 27 */
                                     "      - port: 6379\n"                             /* 28 */
                                     "        expose: [{workload: web}, {group: g1}]\n" /* 29 */
                                     "wait_blocks: 2\n"                                 /* 30 */
                                     "deposit: 1000\n";                                 /* 31 */

typedef struct sdl_text {
    char *ptr;
    size_t len;
    size_t cap;
} sdl_text_t;

static inline void sdl_text_add(sdl_text_t *t, const char *fmt, ...) KUMO_PRINTF(2, 3);
static inline void sdl_text_add(sdl_text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->ptr == NULL ? NULL : t->ptr + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->ptr != NULL && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap == 0 ? 4096u : t->cap * 2u) + (size_t)n;
        t->ptr = realloc(t->ptr, cap);
        assert_non_null(t->ptr);
        t->cap = cap;
    }
}

/* A text of n copies of ch. */
static inline void sdl_text_repeat(sdl_text_t *t, char ch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sdl_text_add(t, "%c", ch);
    }
}

static inline void sdl_text_free(sdl_text_t *t)
{
    free(t->ptr);
    memset(t, 0, sizeof(*t));
}

/* base with the first occurrence of old replaced by new (old must occur). */
static inline char *sdl_text_replace(const char *base, const char *old, const char *new_text)
{
    const char *at = strstr(base, old);
    if (at == NULL) {
        fail_msg("fixture: \"%s\" not in the base stack", old);
    }
    size_t head = (size_t)(at - base);
    size_t size = strlen(base) - strlen(old) + strlen(new_text) + 1u;
    char *out = malloc(size);
    assert_non_null(out);
    memcpy(out, base, head);
    memcpy(out + head, new_text, strlen(new_text));
    memcpy(out + head + strlen(new_text), at + strlen(old), strlen(at + strlen(old)) + 1u);
    return out;
}

static inline int sdl_parse_text(const char *text, kumo_sdl_stack_t **out, kumo_err_ctx_t *err)
{
    return kumo_sdl_stack_parse(kumo_bytes_make(text, strlen(text)), "stack.yml", out, err);
}

/* Parses text, which must be valid, and returns its manifest version. */
static inline void sdl_version_of(const char *text, uint8_t version[KUMO_VERSION_BYTES])
{
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(text, &s, &err);
    if (rc != 0) {
        fail_msg("parse: %s (%s)", kumo_err_name(rc), err.detail);
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(s, &buf, &err), 0);
    assert_int_equal(kumo_sdl_manifest_version(kumo_buf_bytes(&buf), version), 0);
    kumo_buf_free(&buf);
    kumo_sdl_stack_free(s);
}

#endif
