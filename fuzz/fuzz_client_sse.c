/*
 * fuzz_client_sse.c - the Server-Sent Events parser (src/client/sse.c) over arbitrary bytes,
 * fed whole and then split at a point the input picks: both feedings give the same messages
 * (or fail with the same code); every message's event name, id and data stay within their
 * limits and data_len matches its NUL. A code or messages, never a crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

typedef struct seen {
    uint64_t hash; /* of every message's fields, in order */
    size_t count;
} seen_t;

static uint64_t mix(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    }
    return (h ^ 0xff) * 1099511628211ull;
}

static int seen_cb(void *ctx,
                   const char *event,
                   const char *id,
                   const char *data,
                   size_t data_len,
                   kumo_err_ctx_t *err)
{
    (void)err;
    seen_t *s = ctx;
    if (strlen(event) > KUMO_CLIENT_SSE_EVENT_BYTES_MAX ||
        strlen(id) > KUMO_CLIENT_SSE_ID_BYTES_MAX || data_len > KUMO_CLIENT_SSE_DATA_BYTES_MAX ||
        data[data_len] != '\0') {
        abort();
    }
    s->hash = mix(mix(mix(s->hash, event, strlen(event)), id, strlen(id)), data, data_len);
    s->count++;
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t split, seen_t *s)
{
    kumo_client_sse_t *p = malloc(sizeof(*p));
    if (p == NULL) {
        return KUMO_ENOMEM;
    }
    kumo_client_sse_init(p, seen_cb, s);
    kumo_err_ctx_t err = {0};
    int rc = kumo_client_sse_feed(p, (const char *)data, split, &err);
    if (rc == 0) {
        rc = kumo_client_sse_feed(p, (const char *)data + split, size - split, &err);
    }
    kumo_client_sse_free(p);
    free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen_t whole = {14695981039346656037ull, 0};
    seen_t parts = {14695981039346656037ull, 0};
    int rc_whole = run(data, size, size, &whole);
    size_t split = size > 0 ? data[0] % (size + 1u) : 0;
    int rc_parts = run(data, size, split, &parts);
    if (rc_whole != rc_parts || whole.hash != parts.hash || whole.count != parts.count) {
        abort();
    }
    return 0;
}
