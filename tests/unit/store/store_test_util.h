/*
 * store_test_util.h - assertion helpers shared by the store unit tests (not a test itself):
 * string puts and gets, scans and write sets rendered as "key=value key!" text.
 */
#ifndef KUMO_TESTS_UNIT_STORE_TEST_UTIL_H
#define KUMO_TESTS_UNIT_STORE_TEST_UTIL_H

#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include "helpers/teststore.h"
#include "store/store.h"

static inline kumo_bytes_t b_str(const char *s)
{
    return kumo_bytes_make(s, strlen(s));
}

static inline void put_str(kumo_kv_t *kv, const char *k, const char *v)
{
    kumo_err_ctx_t err = {0};
    int rc = kv->put(kv->ctx, b_str(k), b_str(v), &err);
    if (rc != 0) {
        fail_msg("put %s: %s (%s)", k, kumo_err_name(rc), err.detail);
    }
}

static inline void del_str(kumo_kv_t *kv, const char *k)
{
    kumo_err_ctx_t err = {0};
    int rc = kv->del(kv->ctx, b_str(k), &err);
    if (rc != 0) {
        fail_msg("del %s: %s (%s)", k, kumo_err_name(rc), err.detail);
    }
}

/* want == NULL: the key must be absent. */
static inline void assert_get_str(const kumo_kv_t *kv, const char *k, const char *want)
{
    kumo_bytes_t v = {0};
    kumo_err_ctx_t err = {0};
    int rc = kv->get(kv->ctx, b_str(k), &v, &err);
    if (want == NULL) {
        if (rc != KUMO_ENOTFOUND) {
            fail_msg("get %s: want KUMO_ENOTFOUND, got %s", k, kumo_err_name(rc));
        }
        return;
    }
    if (rc != 0) {
        fail_msg("get %s: %s (%s)", k, kumo_err_name(rc), err.detail);
    }
    if (!kumo_bytes_equal(v, b_str(want))) {
        fail_msg("get %s: got %.*s, want %s", k, (int)v.len, (const char *)v.ptr, want);
    }
}

static inline void sp_begin(kumo_kv_t *kv)
{
    assert_int_equal(kv->savepoint_begin(kv->ctx, NULL), 0);
}

static inline void sp_commit(kumo_kv_t *kv)
{
    assert_int_equal(kv->savepoint_commit(kv->ctx, NULL), 0);
}

/* Collected scan or write-set entries, as "key=value" or "key!" (tombstone), joined by ' '. */
typedef struct collect {
    char text[4096];
    size_t count;
    int stop_after; /* return 1 after this many; 0 = never */
    int fail_after; /* return KUMO_EIO after this many; 0 = never */
} collect_t;

static inline int collect_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    collect_t *c = cb_ctx;
    size_t used = strlen(c->text);
    int n;
    if (val.ptr == NULL) {
        n = snprintf(c->text + used, sizeof(c->text) - used, "%s%.*s!", used ? " " : "",
                     (int)key.len, (const char *)key.ptr);
    } else {
        n = snprintf(c->text + used, sizeof(c->text) - used, "%s%.*s=%.*s", used ? " " : "",
                     (int)key.len, (const char *)key.ptr, (int)val.len, (const char *)val.ptr);
    }
    assert_true(n > 0 && (size_t)n < sizeof(c->text) - used);
    c->count++;
    if (c->fail_after != 0 && c->count == (size_t)c->fail_after) {
        return KUMO_EIO;
    }
    if (c->stop_after != 0 && c->count == (size_t)c->stop_after) {
        return 1;
    }
    return 0;
}

static inline void
assert_scan(const kumo_kv_t *kv, const char *prefix, const char *start, const char *want)
{
    collect_t c = {0};
    kumo_err_ctx_t err = {0};
    int rc = kv->scan(kv->ctx, b_str(prefix), b_str(start), collect_cb, &c, &err);
    if (rc != 0) {
        fail_msg("scan %s/%s: %s (%s)", prefix, start, kumo_err_name(rc), err.detail);
    }
    if (strcmp(c.text, want) != 0) {
        fail_msg("scan %s/%s: got [%s], want [%s]", prefix, start, c.text, want);
    }
}

static inline void assert_write_set(const kumo_kv_t *kv, const char *want)
{
    collect_t c = {0};
    kumo_err_ctx_t err = {0};
    int rc = kv->write_set_visit(kv->ctx, collect_cb, &c, &err);
    if (rc != 0) {
        fail_msg("write set: %s (%s)", kumo_err_name(rc), err.detail);
    }
    if (strcmp(c.text, want) != 0) {
        fail_msg("write set: got [%s], want [%s]", c.text, want);
    }
}

static inline int count_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    size_t *n = cb_ctx;
    (*n)++;
    return 0;
}

static inline size_t write_set_count(const kumo_kv_t *kv)
{
    size_t n = 0;
    assert_int_equal(kv->write_set_visit(kv->ctx, count_cb, &n, NULL), 0);
    return n;
}

/* Opens a store on dir with cfg, failing the test on error. */
static inline kumo_store_t *store_open_ok(const char *dir, const kumo_store_cfg_t *cfg)
{
    kumo_store_t *store = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_store_open(dir, cfg, &store, &err);
    if (rc != 0) {
        fail_msg("open %s: %s (%s)", dir, kumo_err_name(rc), err.detail);
    }
    return store;
}

#endif
