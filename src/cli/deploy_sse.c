/*
 * deploy_sse.c - the node's event stream (docs/api.md, GET /events) for `kumo deploy`: a
 * bounded Server-Sent Events parser (lines end in \n, \r\n or \r; "field: value"; an empty
 * line ends a message; ':' starts a comment) and a libcurl multi transfer pumped by the flow
 * while it waits for the next event, so the flow stays one thread with blocking calls in
 * between (the kernel buffers the stream meanwhile).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cli/deploy_int.h"

uint64_t deploy_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- parser ---- */

void deploy_sse_init(deploy_sse_t *p, deploy_sse_cb cb, void *ctx)
{
    KUMO_ASSERT(p != NULL);
    KUMO_ASSERT(cb != NULL);
    p->line_len = 0;
    p->last_was_cr = false;
    p->event[0] = '\0';
    kumo_buf_init(&p->data, DEPLOY_SSE_DATA_BYTES_MAX + 1u); /* + the NUL for the callback */
    p->has_data = false;
    p->cb = cb;
    p->ctx = ctx;
}

void deploy_sse_free(deploy_sse_t *p)
{
    if (p != NULL) {
        kumo_buf_free(&p->data);
    }
}

/* An empty line: hands the message to the callback and starts the next one. */
static int sse_dispatch(deploy_sse_t *p, kumo_err_ctx_t *err)
{
    int rc = 0;
    if (p->has_data) {
        KUMO_GUARD(kumo_buf_append(&p->data, "", 1)); /* NUL for the callback */
        rc = p->cb(p->ctx, p->event[0] != '\0' ? p->event : "message", (const char *)p->data.ptr,
                   p->data.len - 1u, err);
    }
    kumo_buf_reset(&p->data);
    p->has_data = false;
    p->event[0] = '\0';
    return rc;
}

static int sse_line(deploy_sse_t *p, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p->line_len < sizeof(p->line));
    p->line[p->line_len] = '\0';
    if (p->line_len == 0) {
        return sse_dispatch(p, err);
    }
    if (p->line[0] == ':') {
        return 0; /* comment (keepalive) */
    }
    char *colon = strchr(p->line, ':');
    const char *value = "";
    if (colon != NULL) {
        *colon = '\0';
        value = colon[1] == ' ' ? colon + 2 : colon + 1;
    }
    if (strcmp(p->line, "event") == 0) {
        KUMO_ENSURE(strlen(value) < sizeof(p->event), err, KUMO_ELIMIT,
                    "event stream: event name longer than %zu bytes", sizeof(p->event) - 1);
        (void)snprintf(p->event, sizeof(p->event), "%s", value);
    } else if (strcmp(p->line, "data") == 0) {
        if (p->has_data) {
            KUMO_ENSURE(p->data.len < DEPLOY_SSE_DATA_BYTES_MAX &&
                            kumo_buf_append(&p->data, "\n", 1) == 0,
                        err, KUMO_ELIMIT, "event stream: message data over %u bytes",
                        DEPLOY_SSE_DATA_BYTES_MAX);
        }
        KUMO_ENSURE(p->data.len + strlen(value) <= DEPLOY_SSE_DATA_BYTES_MAX &&
                        kumo_buf_append(&p->data, value, strlen(value)) == 0,
                    err, KUMO_ELIMIT, "event stream: message data over %u bytes",
                    DEPLOY_SSE_DATA_BYTES_MAX);
        p->has_data = true;
    }
    /* id, retry and unknown fields: nothing to do. */
    return 0;
}

int deploy_sse_feed(deploy_sse_t *p, const char *bytes, size_t len, kumo_err_ctx_t *err)
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
                    "event stream: line longer than %u bytes", DEPLOY_SSE_LINE_BYTES_MAX - 1u);
        p->line[p->line_len++] = c;
    }
    return 0;
}

/* ---- stream ---- */

struct deploy_stream {
    CURLM *multi;
    CURL *easy;
    deploy_sse_t sse;
    json_t *queue; /* array of events not yet taken */
    size_t head;   /* index of the next one */
    bool done;
    int fail_code; /* a parse error stops the transfer */
    kumo_err_ctx_t fail;
    char url[CLI_PATH_BYTES * 2];
    char errbuf[CURL_ERROR_SIZE];
};

static int stream_event_cb(
    void *ctx, const char *event, const char *data, size_t data_len, kumo_err_ctx_t *err)
{
    deploy_stream_t *s = ctx;
    KUMO_ENSURE(json_array_size(s->queue) - s->head < DEPLOY_STREAM_QUEUE_MAX, err, KUMO_ELIMIT,
                "event stream: more than %u events waiting", DEPLOY_STREAM_QUEUE_MAX);
    json_error_t jerr;
    json_t *j = json_loadb(data, data_len, 0, &jerr);
    KUMO_ENSURE(json_is_object(j), err, KUMO_EDECODE, "event stream: '%s' data is not JSON: %s",
                event, jerr.text);
    if (strcmp(event, "block") == 0) {
        (void)json_object_set_new(j, "type", json_string("block"));
    }
    KUMO_ENSURE(json_array_append_new(s->queue, j) == 0, err, KUMO_ENOMEM, "event queue");
    return 0;
}

static size_t stream_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    deploy_stream_t *s = ctx;
    size_t len = size * nmemb;
    if (s->fail_code != 0) {
        return 0;
    }
    int rc = deploy_sse_feed(&s->sse, ptr, len, &s->fail);
    if (rc < 0) {
        s->fail_code = rc;
        return 0;
    }
    return len;
}

/* The compacting of the queue: taken events are dropped once they are most of it. */
static void stream_queue_compact(deploy_stream_t *s)
{
    if (s->head > 0 && s->head * 2 >= json_array_size(s->queue)) {
        json_t *rest = json_array();
        for (size_t i = s->head; rest != NULL && i < json_array_size(s->queue); i++) {
            (void)json_array_append(rest, json_array_get(s->queue, i));
        }
        if (rest != NULL) {
            json_decref(s->queue);
            s->queue = rest;
            s->head = 0;
        }
    }
}

int deploy_stream_open(const cli_args_t *a,
                       const char *owner,
                       uint64_t from_height,
                       deploy_stream_t **out,
                       kumo_err_ctx_t *err)
{
    deploy_stream_t *s = calloc(1, sizeof(*s));
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "event stream");
    deploy_sse_init(&s->sse, stream_event_cb, s);
    s->queue = json_array();
    char path[256] = "/events";
    char h[24];
    (void)snprintf(h, sizeof(h), "%" PRIu64, from_height);
    int rc = cli_path_param_add(path, sizeof(path), "owner", owner, err);
    rc = rc == 0 ? cli_path_param_add(path, sizeof(path), "from_height", h, err) : rc;
    size_t node_len = strlen(a->node);
    while (node_len > 0 && a->node[node_len - 1] == '/') {
        node_len--;
    }
    int n = snprintf(s->url, sizeof(s->url), "%.*s%s", (int)node_len, a->node, path);
    rc = rc == 0 && (n <= 0 || (size_t)n >= sizeof(s->url))
             ? kumo_err_set(err, KUMO_ELIMIT, "node URL too long")
             : rc;
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    rc = rc == 0 && (s->queue == NULL || s->multi == NULL || s->easy == NULL)
             ? kumo_err_set(err, KUMO_ENOMEM, "event stream")
             : rc;
    if (rc < 0) {
        deploy_stream_close(s);
        return rc;
    }
    (void)curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    (void)curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write_cb);
    (void)curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    (void)curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    (void)curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    (void)curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_multi_add_handle(s->multi, s->easy);
    *out = s;
    return 0;
}

/* Runs the transfer; notes its end. */
static int stream_pump(deploy_stream_t *s, int wait_ms, kumo_err_ctx_t *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(s->multi, &running);
    KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            s->done = true;
            if (s->fail_code != 0) {
                return kumo_err_set(err, s->fail_code, "%s", s->fail.detail);
            }
            long status = 0;
            (void)curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            return kumo_err_set(
                err, KUMO_EIO, "the node's event stream %s ended: %s (HTTP %ld)", s->url,
                s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(msg->data.result), status);
        }
    }
    if (running > 0 && wait_ms > 0 && json_array_size(s->queue) == s->head) {
        mc = curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
        KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
    }
    return 0;
}

int deploy_stream_next(deploy_stream_t *s, uint64_t wait_ms, json_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(s != NULL);
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    uint64_t deadline = deploy_now_ms() + wait_ms;
    for (;;) {
        if (s->head < json_array_size(s->queue)) {
            *out = json_incref(json_array_get(s->queue, s->head));
            json_array_set_new(s->queue, s->head, json_null());
            s->head++;
            stream_queue_compact(s);
            return 0;
        }
        KUMO_ENSURE(!s->done, err, KUMO_EIO, "the node's event stream %s ended", s->url);
        uint64_t now = deploy_now_ms();
        uint64_t left = now < deadline ? deadline - now : 0;
        KUMO_GUARD(stream_pump(s, (int)(left > 1000 ? 1000 : left), err));
        if (left == 0 && s->head == json_array_size(s->queue)) {
            return 0;
        }
    }
}

void deploy_stream_close(deploy_stream_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->multi != NULL && s->easy != NULL) {
        (void)curl_multi_remove_handle(s->multi, s->easy);
    }
    if (s->easy != NULL) {
        curl_easy_cleanup(s->easy);
    }
    if (s->multi != NULL) {
        (void)curl_multi_cleanup(s->multi);
    }
    deploy_sse_free(&s->sse);
    json_decref(s->queue);
    free(s);
}
