/*
 * test_shell_frame.c - the shell session's frames and request body (shell_frame.c): every
 * frame type round-trips in its direction, partial input asks for more, each rule violation
 * gets its own code and fills nothing; limits at MAX accepted and MAX+1 refused.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider_api.h"

static size_t frame_make(uint8_t *out, uint8_t type, const void *payload, uint32_t len)
{
    out[0] = type;
    kumo_be32_put(out + 1, len);
    if (len > 0) {
        memcpy(out + 5, payload, len);
    }
    return 5u + len;
}

static void test_frames_round_trip(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        bool from_client;
        const char *payload;
        uint32_t len;
    } ok[] = {
        {KUMO_PROVIDER_SHELL_STDIN, true, "ls\n", 3},
        {KUMO_PROVIDER_SHELL_RESIZE, true, "\x00\x18\x00\x50", 4},
        {KUMO_PROVIDER_SHELL_EOF, true, "", 0},
        {KUMO_PROVIDER_SHELL_STDOUT, false, "out", 3},
        {KUMO_PROVIDER_SHELL_STDERR, false, "err", 3},
        {KUMO_PROVIDER_SHELL_EXIT, false, "\x00\x00\x00\x07", 4},
        {KUMO_PROVIDER_SHELL_ERROR, false, "gone", 4},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint8_t buf[64];
        size_t n = frame_make(buf, ok[i].type, ok[i].payload, ok[i].len);
        uint8_t hdr[5];
        kumo_provider_shell_header_put(ok[i].type, ok[i].len, hdr);
        assert_memory_equal(hdr, buf, 5);
        /* Every prefix asks for more, the whole frame parses, a trailing byte stays. */
        for (size_t cut = 0; cut < n; cut++) {
            kumo_provider_shell_frame_t f;
            size_t used = 99;
            assert_int_equal(kumo_provider_shell_frame_parse(kumo_bytes_make(buf, cut),
                                                             ok[i].from_client, &f, &used, NULL),
                             0);
            assert_int_equal(used, 0);
        }
        buf[n] = 0xee;
        kumo_provider_shell_frame_t f;
        size_t used = 0;
        assert_int_equal(kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n + 1),
                                                         ok[i].from_client, &f, &used, NULL),
                         0);
        assert_int_equal(used, n);
        assert_int_equal(f.type, ok[i].type);
        assert_int_equal(f.payload.len, ok[i].len);
    }
    uint8_t buf[16];
    kumo_provider_shell_frame_t f;
    size_t used = 0;
    size_t n = frame_make(buf, KUMO_PROVIDER_SHELL_RESIZE, "\x00\x18\x00\x50", 4);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), true, &f, &used, NULL), 0);
    assert_int_equal(f.rows, 24);
    assert_int_equal(f.cols, 80);
    n = frame_make(buf, KUMO_PROVIDER_SHELL_EXIT, "\x00\x00\x00\xff", 4);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), false, &f, &used, NULL), 0);
    assert_int_equal(f.exit_code, 255);
}

static void test_frames_refused(void **state)
{
    (void)state;
    static const struct {
        const char *why;
        uint8_t type;
        bool from_client;
        const char *payload;
        uint32_t len;
        int code;
    } bad[] = {
        {"unknown type", 0, true, "x", 1, KUMO_EDECODE},
        {"unknown type 8", 8, false, "x", 1, KUMO_EDECODE},
        {"stdout from the client", KUMO_PROVIDER_SHELL_STDOUT, true, "x", 1, KUMO_EDECODE},
        {"exit from the client", KUMO_PROVIDER_SHELL_EXIT, true, "\0\0\0\0", 4, KUMO_EDECODE},
        {"stdin from the provider", KUMO_PROVIDER_SHELL_STDIN, false, "x", 1, KUMO_EDECODE},
        {"resize from the provider", KUMO_PROVIDER_SHELL_RESIZE, false, "\0\1\0\1", 4,
         KUMO_EDECODE},
        {"empty stdin", KUMO_PROVIDER_SHELL_STDIN, true, "", 0, KUMO_EDECODE},
        {"empty stdout", KUMO_PROVIDER_SHELL_STDOUT, false, "", 0, KUMO_EDECODE},
        {"short resize", KUMO_PROVIDER_SHELL_RESIZE, true, "\0\1\0", 3, KUMO_EDECODE},
        {"zero rows", KUMO_PROVIDER_SHELL_RESIZE, true, "\0\0\0\1", 4, KUMO_EDECODE},
        {"cols over max", KUMO_PROVIDER_SHELL_RESIZE, true, "\0\1\x10\x01", 4, KUMO_EDECODE},
        {"eof with bytes", KUMO_PROVIDER_SHELL_EOF, true, "x", 1, KUMO_EDECODE},
        {"exit of 5 bytes", KUMO_PROVIDER_SHELL_EXIT, false, "\0\0\0\0\0", 5, KUMO_EDECODE},
        {"exit code 256", KUMO_PROVIDER_SHELL_EXIT, false, "\0\0\1\0", 4, KUMO_EDECODE},
        {"empty error", KUMO_PROVIDER_SHELL_ERROR, false, "", 0, KUMO_EDECODE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t buf[64];
        size_t n = frame_make(buf, bad[i].type, bad[i].payload, bad[i].len);
        kumo_provider_shell_frame_t f;
        size_t used = 7;
        kumo_err_ctx_t err = {0};
        int rc = kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), bad[i].from_client, &f,
                                                 &used, &err);
        if (rc != bad[i].code) {
            fail_msg("%s: got %d (%s)", bad[i].why, rc, err.detail);
        }
        assert_int_equal(used, 0);
        assert_int_equal(f.payload.len, 0);
    }
}

static void test_frame_limits(void **state)
{
    (void)state;
    size_t cap = KUMO_PROVIDER_SHELL_HEADER_BYTES + KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX + 1u;
    uint8_t *buf = calloc(1, cap);
    assert_non_null(buf);
    memset(buf + 5, 'a', cap - 5u);
    kumo_provider_shell_frame_t f;
    size_t used = 0;
    /* MAX: accepted. */
    size_t n =
        frame_make(buf, KUMO_PROVIDER_SHELL_STDOUT, buf + 5, KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), false, &f, &used, NULL), 0);
    assert_int_equal(used, n);
    /* MAX+1: refused from the header alone, before the payload came. */
    buf[0] = KUMO_PROVIDER_SHELL_STDIN;
    kumo_be32_put(buf + 1, KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX + 1u);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, 5), true, &f, &used, NULL),
        KUMO_ELIMIT);
    kumo_be32_put(buf + 1, UINT32_MAX);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, 5), true, &f, &used, NULL),
        KUMO_ELIMIT);
    /* An error's text: 1024 accepted, 1025 refused. */
    n = frame_make(buf, KUMO_PROVIDER_SHELL_ERROR, buf + 5, KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), false, &f, &used, NULL), 0);
    n = frame_make(buf, KUMO_PROVIDER_SHELL_ERROR, buf + 5,
                   KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX + 1u);
    assert_int_equal(
        kumo_provider_shell_frame_parse(kumo_bytes_make(buf, n), false, &f, &used, NULL),
        KUMO_EDECODE);
    free(buf);
}

static int req_parse(const char *json, kumo_provider_shell_request_t *r)
{
    return kumo_provider_shell_request_parse(kumo_bytes_make(json, strlen(json)), r, NULL);
}

static void test_request_ok(void **state)
{
    (void)state;
    kumo_provider_shell_request_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(req_parse("{\"workload\":\"web\"}", r), 0);
    assert_string_equal(r->workload, "web");
    assert_int_equal(r->instance, 0);
    assert_false(r->tty);
    assert_int_equal(r->argc, 0);
    assert_null(r->argv[0]);
    assert_int_equal(req_parse("{\"workload\":\"db-1\",\"instance\":2,\"tty\":true,\"rows\":24,"
                               "\"cols\":4096,\"cmd\":[\"sh\",\"-c\",\"stty size\"]}",
                               r),
                     0);
    assert_int_equal(r->instance, 2);
    assert_true(r->tty);
    assert_int_equal(r->rows, 24);
    assert_int_equal(r->cols, 4096);
    assert_int_equal(r->argc, 3);
    assert_string_equal(r->argv[2], "stty size");
    assert_null(r->argv[3]);
    /* KUMO_PROVIDER_SHELL_ARG_COUNT_MAX arguments: accepted; one more: refused. */
    char body[1024];
    size_t pos = (size_t)snprintf(body, sizeof(body), "{\"workload\":\"w\",\"cmd\":[\"a\"");
    for (uint32_t i = 1; i < KUMO_PROVIDER_SHELL_ARG_COUNT_MAX; i++) {
        pos += (size_t)snprintf(body + pos, sizeof(body) - pos, ",\"a\"");
    }
    char more[1100];
    (void)snprintf(more, sizeof(more), "%s,\"a\"]}", body);
    (void)snprintf(body + pos, sizeof(body) - pos, "]}");
    assert_int_equal(req_parse(body, r), 0);
    assert_int_equal(r->argc, KUMO_PROVIDER_SHELL_ARG_COUNT_MAX);
    assert_int_equal(req_parse(more, r), KUMO_ELIMIT);
    assert_int_equal(r->argc, 0);
    free(r);
}

static void test_request_refused(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int code;
    } bad[] = {
        {"", KUMO_EDECODE},
        {"[]", KUMO_EDECODE},
        {"{\"workload\":\"web\"", KUMO_EDECODE},
        {"{}", KUMO_EDECODE},
        {"{\"workload\":\"\"}", KUMO_EDECODE},
        {"{\"workload\":\"Web\"}", KUMO_EDECODE},
        {"{\"workload\":\"../x\"}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"instance\":-1}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"instance\":\"0\"}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"tty\":1}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"tty\":true}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"tty\":true,\"rows\":0,\"cols\":80}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"tty\":true,\"rows\":24,\"cols\":4097}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"rows\":24,\"cols\":80}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"cmd\":\"sh\"}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"cmd\":[\"\"]}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"cmd\":[1]}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"cmd\":[\"a\\u0000b\"]}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"env\":[]}", KUMO_EDECODE},
        {"{\"workload\":\"web\",\"workload\":\"db\"}", KUMO_EDECODE},
    };
    kumo_provider_shell_request_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = kumo_provider_shell_request_parse(
            kumo_bytes_make(bad[i].body, strlen(bad[i].body)), r, &err);
        if (rc != bad[i].code) {
            fail_msg("%s: got %d (%s)", bad[i].body, rc, err.detail);
        }
        assert_int_equal(r->workload[0], '\0');
        assert_int_equal(r->argc, 0);
    }
    /* The body at its limit is judged by content; one byte more by length. */
    size_t cap = KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX + 1u;
    char *big = malloc(cap);
    assert_non_null(big);
    memset(big, ' ', cap);
    memcpy(big, "{\"workload\":\"web\"}", 18);
    assert_int_equal(kumo_provider_shell_request_parse(
                         kumo_bytes_make(big, KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX), r, NULL),
                     0);
    assert_int_equal(kumo_provider_shell_request_parse(kumo_bytes_make(big, cap), r, NULL),
                     KUMO_ELIMIT);
    free(big);
    free(r);
}

static void test_log_lines(void **state)
{
    (void)state;
    kumo_provider_log_line_t l;
    static const char ok[] = "web-1/3 1765086254669123456 hello  world\n";
    assert_int_equal(kumo_provider_log_line_parse(kumo_bytes_make(ok, strlen(ok)), &l, NULL), 0);
    assert_string_equal(l.workload, "web-1");
    assert_int_equal(l.instance, 3);
    assert_true(l.time_ns == 1765086254669123456u);
    assert_int_equal(l.text.len, 12);
    assert_memory_equal(l.text.ptr, "hello  world", 12);
    static const char empty[] = "w/0 0 ";
    assert_int_equal(kumo_provider_log_line_parse(kumo_bytes_make(empty, strlen(empty)), &l, NULL),
                     0);
    assert_int_equal(l.text.len, 0);
    static const char max[] = "w/4294967295 18446744073709551615 x";
    assert_int_equal(kumo_provider_log_line_parse(kumo_bytes_make(max, strlen(max)), &l, NULL), 0);
    assert_true(l.time_ns == UINT64_MAX);
    static const char *const bad[] = {
        "",
        "web 1 x",
        "web/0 1",                      /* no text separator */
        "/0 1 x",                       /* no workload */
        "Web/0 1 x",                    /* not a manifest name */
        "web/x 1 x",                    /* instance */
        "web/4294967296 1 x",           /* instance past 32 bits */
        "web/0 18446744073709551616 x", /* time past 64 bits */
        "web/0 01 x",                   /* leading zero */
        "web/0 1 x\ny",                 /* two lines */
        "web/0 -1 x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&l, 0x55, sizeof(l));
        if (kumo_provider_log_line_parse(kumo_bytes_make(bad[i], strlen(bad[i])), &l, NULL) !=
            KUMO_EDECODE) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_int_equal(l.workload[0], '\0');
    }
}

static void test_event_lines(void **state)
{
    (void)state;
    kumo_provider_event_line_t ev;
    static const char ok[] = "1765086254669123456 exited ticker/0 code=3\n";
    assert_int_equal(kumo_provider_event_line_parse(kumo_bytes_make(ok, strlen(ok)), &ev, NULL), 0);
    assert_true(ev.time_ns == 1765086254669123456u);
    assert_string_equal(ev.kind, "exited");
    assert_string_equal(ev.workload, "ticker");
    assert_int_equal(ev.instance, 0);
    assert_int_equal(ev.detail.len, 6);
    static const char dep[] = "5 manifest_refused -/0 compute beyond the lease";
    assert_int_equal(kumo_provider_event_line_parse(kumo_bytes_make(dep, strlen(dep)), &ev, NULL),
                     0);
    assert_string_equal(ev.workload, "-");
    static const char *const bad[] = {
        "",
        "x started w/0 ",
        "1 Started w/0 ",
        "1 started W/0 ",
        "1 started w/x ",
        "1 started w0 ",
        "1 started w/0",
        "1 a_kind_that_is_far_longer_than_thirty_two_bytes w/0 ",
        "1 started w/0 a\nb",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&ev, 0x55, sizeof(ev));
        if (kumo_provider_event_line_parse(kumo_bytes_make(bad[i], strlen(bad[i])), &ev, NULL) !=
            KUMO_EDECODE) {
            fail_msg("accepted: %s", bad[i]);
        }
        assert_int_equal(ev.kind[0], '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_round_trip), cmocka_unit_test(test_frames_refused),
        cmocka_unit_test(test_frame_limits),      cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_request_refused),   cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_event_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
