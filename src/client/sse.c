/*
 * sse.c - the one Server-Sent Events parser (the WHATWG "event stream interpretation", the
 * parts the node uses): lines end in \n, \r\n or \r; "field: value"; an empty line dispatches
 * a message; ':' starts a comment (the node's keepalive); "id" sets the last event id, kept
 * for later messages, which is what a reconnect sends back (Last-Event-ID). Every line,
 * name, id and data is bounded, so a hostile stream holds at most about
 * KUMO_CLIENT_SSE_LINE_BYTES_MAX + KUMO_CLIENT_SSE_DATA_BYTES_MAX of memory. Pure: no I/O
 * (fuzz_client_sse).
 */
#include <stdio.h>
#include <string.h>

#include "client/client.h"

void kumo_client_sse_init(kumo_client_sse_t *p, kumo_client_sse_cb cb, void *ctx)
{
    KUMO_ASSERT(p != NULL);
    KUMO_ASSERT(cb != NULL);
    p->line_len = 0;
    p->last_was_cr = false;
    p->event[0] = '\0';
    p->id[0] = '\0';
    kumo_buf_init(&p->data, KUMO_CLIENT_SSE_DATA_BYTES_MAX + 1u); /* + the NUL for the cb */
    p->has_data = false;
    p->cb = cb;
    p->ctx = ctx;
}

void kumo_client_sse_free(kumo_client_sse_t *p)
{
    if (p != NULL) {
        kumo_buf_free(&p->data);
    }
}

/* An empty line: hands the message to the callback and starts the next one. */
static int sse_dispatch(kumo_client_sse_t *p, kumo_err_ctx_t *err)
{
    int rc = 0;
    if (p->has_data) {
        KUMO_GUARD(kumo_buf_append(&p->data, "", 1)); /* NUL for the callback */
        rc = p->cb(p->ctx, p->event[0] != '\0' ? p->event : "message", p->id,
                   (const char *)p->data.ptr, p->data.len - 1u, err);
    }
    kumo_buf_reset(&p->data);
    p->has_data = false;
    p->event[0] = '\0';
    return rc;
}

static int sse_data_add(kumo_client_sse_t *p, const char *value, kumo_err_ctx_t *err)
{
    size_t len = strlen(value);
    size_t sep = p->has_data ? 1u : 0u;
    KUMO_ENSURE(p->data.len + sep + len <= KUMO_CLIENT_SSE_DATA_BYTES_MAX, err, KUMO_ELIMIT,
                "event stream: message data over %u bytes", KUMO_CLIENT_SSE_DATA_BYTES_MAX);
    if (sep > 0) {
        KUMO_GUARD(kumo_buf_append(&p->data, "\n", 1));
    }
    KUMO_GUARD(kumo_buf_append(&p->data, value, len));
    p->has_data = true;
    return 0;
}

static int sse_line(kumo_client_sse_t *p, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p->line_len < sizeof(p->line));
    p->line[p->line_len] = '\0';
    if (p->line_len == 0) {
        return sse_dispatch(p, err);
    }
    if (p->line[0] == ':') {
        return 0; /* comment (keepalive) */
    }
    /* A NUL inside the line would cut the field name short: the spec treats the bytes as
     * text, and no node sends one, so the line is refused. */
    KUMO_ENSURE(strlen(p->line) == p->line_len, err, KUMO_EDECODE, "event stream: NUL in a line");
    char *colon = strchr(p->line, ':');
    const char *value = "";
    if (colon != NULL) {
        *colon = '\0';
        value = colon[1] == ' ' ? colon + 2 : colon + 1;
    }
    if (strcmp(p->line, "event") == 0) {
        KUMO_ENSURE(strlen(value) <= KUMO_CLIENT_SSE_EVENT_BYTES_MAX, err, KUMO_ELIMIT,
                    "event stream: event name longer than %u bytes",
                    KUMO_CLIENT_SSE_EVENT_BYTES_MAX);
        (void)snprintf(p->event, sizeof(p->event), "%s", value);
    } else if (strcmp(p->line, "data") == 0) {
        KUMO_GUARD(sse_data_add(p, value, err));
    } else if (strcmp(p->line, "id") == 0) {
        KUMO_ENSURE(strlen(value) <= KUMO_CLIENT_SSE_ID_BYTES_MAX, err, KUMO_ELIMIT,
                    "event stream: id longer than %u bytes", KUMO_CLIENT_SSE_ID_BYTES_MAX);
        (void)snprintf(p->id, sizeof(p->id), "%s", value);
    }
    /* retry and unknown fields: nothing to do. */
    return 0;
}

int kumo_client_sse_feed(kumo_client_sse_t *p, const char *bytes, size_t len, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p != NULL);
    KUMO_ASSERT(bytes != NULL || len == 0);
    for (size_t i = 0; i < len; i++) {
        char c = bytes[i];
        if (c == '\n' && p->last_was_cr) {
            p->last_was_cr = false;
            continue;
        }
        p->last_was_cr = c == '\r';
        if (c == '\n' || c == '\r') {
            int rc = sse_line(p, err);
            p->line_len = 0;
            KUMO_GUARD(rc);
            continue;
        }
        KUMO_ENSURE(p->line_len + 1 < sizeof(p->line), err, KUMO_ELIMIT,
                    "event stream: line longer than %u bytes", KUMO_CLIENT_SSE_LINE_BYTES_MAX - 1u);
        p->line[p->line_len++] = c;
    }
    KUMO_ASSERT(p->line_len < sizeof(p->line));
    return 0;
}
