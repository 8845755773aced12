/*
 * store_log.c - the block's write log: every put and del in write order, with savepoint marks,
 * and the sorted, deduplicated visit that feeds the app hash.
 *
 * Owns one entry array and one byte arena per block, both grown by doubling through
 * kumo_realloc and bounded by bytes_max. Positions are offsets, not pointers, because the
 * arena moves when it grows. Does no I/O.
 */
#include "store/store_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define STORE_LOG_ENTRY_CAP_MIN 256u
#define STORE_LOG_ARENA_CAP_MIN 4096u

/* One sort item: the key (pointing into the arena, which no longer moves during a visit) and
 * the entry's sequence number, so equal keys keep write order and the result is
 * deterministic whatever qsort does with ties. */
typedef struct store_sort_item {
    const uint8_t *key;
    uint32_t key_len;
    uint32_t seq;
} store_sort_item_t;

void kumo_store_log_init(kumo_store_log_t *log, uint64_t bytes_max)
{
    KUMO_ASSERT(log != NULL);
    KUMO_ASSERT(bytes_max > 0);
    memset(log, 0, sizeof(*log));
    log->bytes_max = bytes_max;
}

void kumo_store_log_free(kumo_store_log_t *log)
{
    KUMO_ASSERT(log != NULL);
    kumo_free(log->entries);
    kumo_free(log->arena);
    uint64_t bytes_max = log->bytes_max;
    memset(log, 0, sizeof(*log));
    log->bytes_max = bytes_max;
}

/* Bytes the log accounts for against bytes_max. */
static uint64_t log_bytes(const kumo_store_log_t *log)
{
    return (uint64_t)log->arena_len + (uint64_t)log->entry_count * sizeof(kumo_store_log_entry_t);
}

/* Next capacity: double from min until need fits. need is bounded by bytes_max (<= a few GiB
 * in practice), so doubling cannot overflow size_t on the 64-bit targets we build for. */
static size_t log_cap_next(size_t cap, size_t need, size_t cap_min)
{
    size_t next = cap < cap_min ? cap_min : cap;
    while (next < need) {
        KUMO_ASSERT(next <= SIZE_MAX / 2);
        next *= 2;
    }
    KUMO_ASSERT(next >= need);
    return next;
}

static int log_entries_reserve(kumo_store_log_t *log, kumo_err_ctx_t *err)
{
    if (log->entry_count < log->entry_cap) {
        return 0;
    }
    size_t cap = log_cap_next(log->entry_cap, log->entry_count + 1, STORE_LOG_ENTRY_CAP_MIN);
    KUMO_ENSURE(cap <= SIZE_MAX / sizeof(kumo_store_log_entry_t), err, KUMO_ELIMIT,
                "write log of %zu entries", cap);
    kumo_store_log_entry_t *entries =
        kumo_realloc(log->entries, cap * sizeof(kumo_store_log_entry_t));
    KUMO_ENSURE(entries != NULL, err, KUMO_ENOMEM, "write log: %zu entries", cap);
    log->entries = entries;
    log->entry_cap = cap;
    return 0;
}

static int log_arena_reserve(kumo_store_log_t *log, size_t extra, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(log->arena_len <= log->arena_cap);
    size_t need = log->arena_len + extra; /* both bounded by bytes_max, checked by the caller */
    if (need <= log->arena_cap) {
        return 0;
    }
    size_t cap = log_cap_next(log->arena_cap, need, STORE_LOG_ARENA_CAP_MIN);
    uint8_t *arena = kumo_realloc(log->arena, cap);
    KUMO_ENSURE(arena != NULL, err, KUMO_ENOMEM, "write log: arena of %zu bytes", cap);
    log->arena = arena;
    log->arena_cap = cap;
    return 0;
}

int kumo_store_log_append(
    kumo_store_log_t *log, kumo_bytes_t key, kumo_bytes_t val, bool is_del, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(log != NULL);
    KUMO_ASSERT(key.len >= 1 && key.len <= KUMO_KEY_BYTES_MAX);
    KUMO_ASSERT(is_del ? val.len == 0 : val.len <= KUMO_STATE_OBJECT_BYTES_MAX);
    size_t extra = key.len + val.len;
    uint64_t after = log_bytes(log) + extra + sizeof(kumo_store_log_entry_t);
    KUMO_ENSURE(after <= log->bytes_max && log->entry_count < UINT32_MAX, err, KUMO_ELIMIT,
                "block write set of %" PRIu64 " bytes exceeds %" PRIu64, after, log->bytes_max);
    /* Reserve both before writing either, so a failure leaves the log unchanged. */
    KUMO_GUARD(log_entries_reserve(log, err));
    KUMO_GUARD(log_arena_reserve(log, extra, err));

    kumo_store_log_entry_t *e = &log->entries[log->entry_count];
    e->pos = log->arena_len;
    e->key_len = (uint32_t)key.len; /* <= KUMO_KEY_BYTES_MAX, asserted above */
    e->val_len = is_del ? KUMO_STORE_LOG_TOMBSTONE : (uint32_t)val.len;
    memcpy(log->arena + log->arena_len, key.ptr, key.len);
    if (val.len > 0) {
        memcpy(log->arena + log->arena_len + key.len, val.ptr, val.len);
    }
    log->arena_len += extra;
    log->entry_count++;
    KUMO_ASSERT(log_bytes(log) <= log->bytes_max);
    return 0;
}

kumo_store_log_mark_t kumo_store_log_mark(const kumo_store_log_t *log)
{
    KUMO_ASSERT(log != NULL);
    KUMO_ASSERT(log->arena_len <= log->arena_cap);
    kumo_store_log_mark_t mark = {log->entry_count, log->arena_len};
    return mark;
}

void kumo_store_log_truncate(kumo_store_log_t *log, kumo_store_log_mark_t mark)
{
    KUMO_ASSERT(mark.entry_count <= log->entry_count);
    KUMO_ASSERT(mark.arena_len <= log->arena_len);
    /* The truncated bytes stay allocated for the next writes of this block; the whole log is
     * freed when the block ends. */
    log->entry_count = mark.entry_count;
    log->arena_len = mark.arena_len;
    KUMO_ASSERT(log->entry_count == 0 || log->entries[log->entry_count - 1].pos < log->arena_len);
}

static int sort_item_compare(const void *a_, const void *b_)
{
    const store_sort_item_t *a = a_;
    const store_sort_item_t *b = b_;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c != 0) {
        return c;
    }
    if (a->key_len != b->key_len) {
        return a->key_len < b->key_len ? -1 : 1;
    }
    KUMO_ASSERT(a->seq != b->seq || a == b);
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static bool sort_item_same_key(const store_sort_item_t *a, const store_sort_item_t *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Calls cb with the net write of item (the last write of its key). */
static int log_visit_one(const kumo_store_log_t *log,
                         const store_sort_item_t *item,
                         kumo_kv_write_cb cb,
                         void *cb_ctx)
{
    const kumo_store_log_entry_t *e = &log->entries[item->seq];
    KUMO_ASSERT(e->key_len == item->key_len);
    kumo_bytes_t key = kumo_bytes_make(item->key, item->key_len);
    kumo_bytes_t val = kumo_bytes_make(NULL, 0);
    if (e->val_len != KUMO_STORE_LOG_TOMBSTONE) {
        /* Non-NULL even for an empty value: NULL marks a delete. */
        val = kumo_bytes_make(log->arena + e->pos + e->key_len, e->val_len);
        KUMO_ASSERT(val.ptr != NULL);
    }
    return cb(cb_ctx, key, val);
}

int kumo_store_log_visit(const kumo_store_log_t *log,
                         kumo_kv_write_cb cb,
                         void *cb_ctx,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(log != NULL);
    KUMO_ASSERT(cb != NULL);
    size_t n = log->entry_count;
    if (n == 0) {
        return 0;
    }
    KUMO_ASSERT(n <= UINT32_MAX); /* append bounds entry_count */
    store_sort_item_t *items = kumo_calloc(n, sizeof(*items));
    KUMO_ENSURE(items != NULL, err, KUMO_ENOMEM, "write set sort index of %zu entries", n);
    for (size_t i = 0; i < n; i++) {
        const kumo_store_log_entry_t *e = &log->entries[i];
        items[i].key = log->arena + e->pos;
        items[i].key_len = e->key_len;
        items[i].seq = (uint32_t)i;
    }
    qsort(items, n, sizeof(*items), sort_item_compare);

    int rc = 0;
    size_t i = 0;
    while (i < n) {
        /* The run of equal keys ends at j; its last item is the latest write. */
        size_t j = i;
        while (j + 1 < n && sort_item_same_key(&items[i], &items[j + 1])) {
            j++;
        }
        KUMO_ASSERT_SLOW(i == 0 || sort_item_compare(&items[i - 1], &items[i]) < 0);
        rc = log_visit_one(log, &items[j], cb, cb_ctx);
        if (rc != 0) {
            break;
        }
        i = j + 1;
    }
    kumo_free(items);
    return rc < 0 ? rc : 0;
}
