/*
 * test_sse.c - the one Server-Sent Events parser (src/client/sse.c): messages as the node
 * sends them, every line ending, comments, multi-line data, the last event id kept across
 * messages, input split at every byte, and each limit at MAX (accepted) and MAX + 1 (refused
 * with KUMO_ELIMIT); a callback's error stops the parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "helpers/testutil.h"

typedef struct seen {
    char text[4096]; /* "event=data|" per message */
    size_t len;
    int fail_at; /* the callback fails on this message (1-based), 0: never */
    int count;
} seen_t;

static int seen_cb(void *ctx,
                   const char *event,
                   const char *id,
                   const char *data,
                   size_t data_len,
                   kumo_err_ctx_t *err)
{
    seen_t *s = ctx;
    s->count++;
    if (s->count == s->fail_at) {
        return kumo_err_set(err, KUMO_EDECODE, "callback refused message %d", s->count);
    }
    assert_int_equal(strlen(data), data_len);
    /* Long data is noted by its length; the id, when there is one, after a '#'. */
    int n = data_len < 1000 ? snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s%s%s=%s|",
                                       event, id[0] != '\0' ? "#" : "", id, data)
                            : snprintf(s->text + s->len, sizeof(s->text) - s->len,
                                       "%s=<%zu bytes>|", event, data_len);
    assert_true(n > 0 && (size_t)n < sizeof(s->text) - s->len);
    s->len += (size_t)n;
    return 0;
}

/* Parses input in one piece and byte by byte; both give want (or the error code). */
static void
check(const char *name, const char *input, size_t input_len, int want_rc, const char *want)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        kumo_client_sse_t *p = malloc(sizeof(*p));
        assert_non_null(p);
        seen_t s = {0};
        kumo_client_sse_init(p, seen_cb, &s);
        kumo_err_ctx_t err = {0};
        int rc = 0;
        if (bytewise) {
            for (size_t i = 0; rc == 0 && i < input_len; i++) {
                rc = kumo_client_sse_feed(p, input + i, 1, &err);
            }
        } else {
            rc = kumo_client_sse_feed(p, input, input_len, &err);
        }
        if (rc != want_rc || (want != NULL && strcmp(s.text, want) != 0)) {
            fail_msg("%s (%s): rc %d (%s), got '%s', want rc %d '%s'", name,
                     bytewise ? "bytewise" : "whole", rc, err.detail, s.text, want_rc,
                     want != NULL ? want : "");
        }
        kumo_client_sse_free(p);
        free(p);
    }
}

static void test_messages(void **state)
{
    (void)state;
    const struct {
        const char *name;
        const char *input;
        const char *want;
    } rows[] = {
        {"node event", "id: 5:0:1\nevent: lease.created\ndata: {\"a\":1}\n\n",
         "lease.created#5:0:1={\"a\":1}|"},
        {"id kept for the next message", "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
         "message#7=a|message#7=b|message=c|"},
        {"id without a message", "id: 9\n\ndata: x\n\n", "message#9=x|"},
        {"no event name", "data: x\n\n", "message=x|"},
        {"crlf", "event: block\r\ndata: {}\r\n\r\n", "block={}|"},
        {"cr only", "event: block\rdata: {}\r\r", "block={}|"},
        {"keepalive comment", ": keepalive\n\n", ""},
        {"comment inside", "event: a\n: note\ndata: 1\n\n", "a=1|"},
        {"two data lines", "data: a\ndata: b\n\n", "message=a\nb|"},
        {"no space after colon", "data:x\n\n", "message=x|"},
        {"two spaces keep one", "data:  x\n\n", "message= x|"},
        {"empty data line", "data\n\n", "message=|"},
        {"event without data", "event: a\n\n", ""},
        {"unknown field and retry", "retry: 10\nfoo: bar\ndata: 1\n\n", "message=1|"},
        {"incomplete message", "event: a\ndata: 1\n", ""},
        {"event name resets", "event: a\ndata: 1\n\ndata: 2\n\n", "a=1|message=2|"},
        {"blank lines only", "\n\n\r\n", ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        check(rows[i].name, rows[i].input, strlen(rows[i].input), 0, rows[i].want);
    }
}

/* A "data: " line of total length line_len (without the newline), then a blank line. */
static char *data_line(size_t line_len, size_t *len_out)
{
    char *buf = malloc(line_len + 3);
    assert_non_null(buf);
    memcpy(buf, "data: ", 6);
    memset(buf + 6, 'x', line_len - 6);
    buf[line_len] = '\n';
    buf[line_len + 1] = '\n';
    buf[line_len + 2] = '\0';
    *len_out = line_len + 2;
    return buf;
}

static void test_line_limit(void **state)
{
    (void)state;
    size_t len = 0;
    char *ok = data_line(KUMO_CLIENT_SSE_LINE_BYTES_MAX - 1u, &len);
    char want[64];
    (void)snprintf(want, sizeof(want), "message=<%u bytes>|", KUMO_CLIENT_SSE_LINE_BYTES_MAX - 7u);
    check("line at max", ok, len, 0, want);
    free(ok);
    char *over = data_line(KUMO_CLIENT_SSE_LINE_BYTES_MAX, &len);
    check("line over max", over, len, KUMO_ELIMIT, "");
    free(over);
    /* A long event name. */
    char name[256];
    memset(name, 'e', sizeof(name));
    (void)snprintf(name, sizeof(name), "event: %0200d\ndata: 1\n\n", 0);
    check("event name over 127", name, strlen(name), KUMO_ELIMIT, "");
    /* Event name and id at their limits and one byte over. */
    char text[512];
    (void)snprintf(text, sizeof(text), "event: %0*d\ndata: 1\n\n",
                   (int)KUMO_CLIENT_SSE_EVENT_BYTES_MAX, 0);
    check("event name at max", text, strlen(text), 0, NULL);
    (void)snprintf(text, sizeof(text), "event: %0*d\ndata: 1\n\n",
                   (int)KUMO_CLIENT_SSE_EVENT_BYTES_MAX + 1, 0);
    check("event name over max", text, strlen(text), KUMO_ELIMIT, "");
    (void)snprintf(text, sizeof(text), "id: %0*d\ndata: 1\n\n", (int)KUMO_CLIENT_SSE_ID_BYTES_MAX,
                   0);
    check("id at max", text, strlen(text), 0, NULL);
    (void)snprintf(text, sizeof(text), "id: %0*d\ndata: 1\n\n",
                   (int)KUMO_CLIENT_SSE_ID_BYTES_MAX + 1, 0);
    check("id over max", text, strlen(text), KUMO_ELIMIT, "");
    /* A NUL inside a line. */
    static const char nul[] = "data: a\0b\n\n";
    check("NUL in a line", nul, sizeof(nul) - 1, KUMO_EDECODE, "");
}

/* Data of several lines adding up past the message limit. */
static void test_data_limit(void **state)
{
    (void)state;
    size_t per = 60000; /* bytes of x per line */
    size_t lines = KUMO_CLIENT_SSE_DATA_BYTES_MAX / (per + 1) + 1;
    size_t cap = lines * (per + 8) + 4;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = 0;
    for (size_t i = 0; i < lines; i++) {
        memcpy(buf + len, "data: ", 6);
        len += 6;
        memset(buf + len, 'x', per);
        len += per;
        buf[len++] = '\n';
    }
    buf[len++] = '\n';
    check("data over max", buf, len, KUMO_ELIMIT, "");
    /* Exactly at the limit: lines whose data plus joining newlines make the max. */
    len = 0;
    size_t total = 0;
    while (total < KUMO_CLIENT_SSE_DATA_BYTES_MAX) {
        size_t sep = total > 0 ? 1 : 0;
        size_t take = KUMO_CLIENT_SSE_DATA_BYTES_MAX - total - sep;
        take = take > per ? per : take;
        memcpy(buf + len, "data: ", 6);
        len += 6;
        memset(buf + len, 'y', take);
        len += take;
        buf[len++] = '\n';
        total += sep + take;
    }
    buf[len++] = '\n';
    char want[64];
    (void)snprintf(want, sizeof(want), "message=<%u bytes>|", KUMO_CLIENT_SSE_DATA_BYTES_MAX);
    check("data at max", buf, len, 0, want);
    free(buf);
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    kumo_client_sse_t *p = malloc(sizeof(*p));
    assert_non_null(p);
    seen_t s = {.fail_at = 2};
    kumo_client_sse_init(p, seen_cb, &s);
    kumo_err_ctx_t err = {0};
    const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(kumo_client_sse_feed(p, in, strlen(in), &err), KUMO_EDECODE);
    assert_int_equal(s.count, 2);
    assert_string_equal(s.text, "message=1|");
    kumo_client_sse_free(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_data_limit),
        cmocka_unit_test(test_callback_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
