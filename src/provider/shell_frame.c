/*
 * shell_frame.c - the wire formats of the tenant's live routes (provider_api.h,
 * docs/provider-api.md): the shell session's bounded frame parser both ends use, its request
 * body parser, and the stamped log line. No I/O; fuzz/fuzz_provider_shell.c and
 * fuzz/fuzz_provider_logs.c drive them over arbitrary bytes.
 */
#include "provider/provider_api.h"

#include <stdio.h>
#include <string.h>

static bool shell_type_from_client(uint8_t t)
{
    return t == KUMO_PROVIDER_SHELL_STDIN || t == KUMO_PROVIDER_SHELL_RESIZE ||
           t == KUMO_PROVIDER_SHELL_EOF;
}

static bool shell_type_from_provider(uint8_t t)
{
    return t == KUMO_PROVIDER_SHELL_STDOUT || t == KUMO_PROVIDER_SHELL_STDERR ||
           t == KUMO_PROVIDER_SHELL_EXIT || t == KUMO_PROVIDER_SHELL_ERROR;
}

/* The payload rules of each type (the type is one of the direction's). */
static int shell_payload_check(kumo_provider_shell_frame_t *f, kumo_err_ctx_t *err)
{
    size_t len = f->payload.len;
    switch (f->type) {
    case KUMO_PROVIDER_SHELL_STDIN:
    case KUMO_PROVIDER_SHELL_STDOUT:
    case KUMO_PROVIDER_SHELL_STDERR:
        KUMO_ENSURE(len > 0, err, KUMO_EDECODE, "shell frame %d: empty data", (int)f->type);
        return 0;
    case KUMO_PROVIDER_SHELL_RESIZE:
        KUMO_ENSURE(len == 4, err, KUMO_EDECODE, "shell resize: %zu bytes, expected 4", len);
        f->rows = (uint16_t)((f->payload.ptr[0] << 8) | f->payload.ptr[1]);
        f->cols = (uint16_t)((f->payload.ptr[2] << 8) | f->payload.ptr[3]);
        KUMO_ENSURE(f->rows >= 1 && f->rows <= KUMO_PROVIDER_SHELL_WINDOW_MAX && f->cols >= 1 &&
                        f->cols <= KUMO_PROVIDER_SHELL_WINDOW_MAX,
                    err, KUMO_EDECODE, "shell resize: %ux%u outside 1..%u", f->rows, f->cols,
                    KUMO_PROVIDER_SHELL_WINDOW_MAX);
        return 0;
    case KUMO_PROVIDER_SHELL_EOF:
        KUMO_ENSURE(len == 0, err, KUMO_EDECODE, "shell eof: %zu bytes, expected none", len);
        return 0;
    case KUMO_PROVIDER_SHELL_EXIT:
        KUMO_ENSURE(len == 4, err, KUMO_EDECODE, "shell exit: %zu bytes, expected 4", len);
        f->exit_code = kumo_be32_get(f->payload.ptr);
        KUMO_ENSURE(f->exit_code <= 255u, err, KUMO_EDECODE, "shell exit: code %u over 255",
                    f->exit_code);
        return 0;
    case KUMO_PROVIDER_SHELL_ERROR:
        KUMO_ENSURE(len > 0 && len <= KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX, err, KUMO_EDECODE,
                    "shell error: %zu bytes, expected 1..%u", len,
                    KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX);
        return 0;
    default:
        KUMO_UNREACHABLE();
    }
}

int kumo_provider_shell_frame_parse(kumo_bytes_t in,
                                    bool from_client,
                                    kumo_provider_shell_frame_t *out,
                                    size_t *consumed,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL && consumed != NULL);
    KUMO_ASSERT(in.ptr != NULL || in.len == 0);
    *consumed = 0;
    memset(out, 0, sizeof(*out));
    if (in.len < KUMO_PROVIDER_SHELL_HEADER_BYTES) {
        return 0;
    }
    uint8_t type = in.ptr[0];
    uint32_t len = kumo_be32_get(in.ptr + 1);
    bool known = from_client ? shell_type_from_client(type) : shell_type_from_provider(type);
    KUMO_ENSURE(known, err, KUMO_EDECODE, "shell frame type %u not allowed from the %s", type,
                from_client ? "client" : "provider");
    KUMO_ENSURE(len <= KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX, err, KUMO_ELIMIT,
                "shell frame of %u bytes, at most %u", len, KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX);
    if (in.len - KUMO_PROVIDER_SHELL_HEADER_BYTES < len) {
        return 0;
    }
    out->type = (kumo_provider_shell_type_t)type;
    out->payload = kumo_bytes_make(in.ptr + KUMO_PROVIDER_SHELL_HEADER_BYTES, len);
    int rc = shell_payload_check(out, err);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    *consumed = KUMO_PROVIDER_SHELL_HEADER_BYTES + (size_t)len;
    KUMO_ASSERT(*consumed <= in.len);
    return 0;
}

void kumo_provider_shell_header_put(kumo_provider_shell_type_t type,
                                    uint32_t len,
                                    uint8_t out[KUMO_PROVIDER_SHELL_HEADER_BYTES])
{
    KUMO_ASSERT(len <= KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX);
    KUMO_ASSERT(shell_type_from_client((uint8_t)type) || shell_type_from_provider((uint8_t)type));
    out[0] = (uint8_t)type;
    kumo_be32_put(out + 1, len);
}

/* ---- the request ---- */

static bool shell_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > KUMO_NAME_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool shell_u32(const json_t *j, json_int_t lo, json_int_t hi, uint32_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi) {
        return false;
    }
    *out = (uint32_t)json_integer_value(j);
    return true;
}

static int
shell_cmd_parse(const json_t *cmd, kumo_provider_shell_request_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(json_is_array(cmd), err, KUMO_EDECODE, "cmd: expected an array of strings");
    KUMO_ENSURE(json_array_size(cmd) <= KUMO_PROVIDER_SHELL_ARG_COUNT_MAX, err, KUMO_ELIMIT,
                "cmd: %zu arguments, at most %u", json_array_size(cmd),
                KUMO_PROVIDER_SHELL_ARG_COUNT_MAX);
    size_t pos = 0;
    for (size_t i = 0; i < json_array_size(cmd); i++) {
        const json_t *a = json_array_get(cmd, i);
        const char *s = json_string_value(a);
        size_t len = json_string_length(a);
        KUMO_ENSURE(s != NULL && len > 0 && strlen(s) == len, err, KUMO_EDECODE,
                    "cmd[%zu]: expected a non-empty string without NUL", i);
        KUMO_ENSURE(len < sizeof(out->arg_bytes) - pos, err, KUMO_ELIMIT,
                    "cmd: arguments over %u bytes", KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX);
        memcpy(out->arg_bytes + pos, s, len + 1u);
        out->argv[out->argc++] = out->arg_bytes + pos;
        pos += len + 1u;
    }
    KUMO_ASSERT(out->argc <= KUMO_PROVIDER_SHELL_ARG_COUNT_MAX);
    out->argv[out->argc] = NULL;
    return 0;
}

static int
shell_request_fields(const json_t *j, kumo_provider_shell_request_t *out, kumo_err_ctx_t *err)
{
    size_t known = 0;
    const char *w = json_string_value(json_object_get(j, "workload"));
    KUMO_ENSURE(w != NULL && shell_name_ok(w), err, KUMO_EDECODE,
                "workload: expected a workload name");
    (void)snprintf(out->workload, sizeof(out->workload), "%s", w);
    known++;
    const json_t *inst = json_object_get(j, "instance");
    KUMO_ENSURE(inst == NULL || shell_u32(inst, 0, UINT32_MAX, &out->instance), err, KUMO_EDECODE,
                "instance: expected 0..%u", UINT32_MAX);
    known += inst != NULL ? 1u : 0u;
    const json_t *tty = json_object_get(j, "tty");
    KUMO_ENSURE(tty == NULL || json_is_boolean(tty), err, KUMO_EDECODE, "tty: expected a boolean");
    out->tty = json_is_true(tty);
    known += tty != NULL ? 1u : 0u;
    const json_t *rows = json_object_get(j, "rows");
    const json_t *cols = json_object_get(j, "cols");
    uint32_t r = 0;
    uint32_t c = 0;
    if (out->tty) {
        KUMO_ENSURE(shell_u32(rows, 1, KUMO_PROVIDER_SHELL_WINDOW_MAX, &r) &&
                        shell_u32(cols, 1, KUMO_PROVIDER_SHELL_WINDOW_MAX, &c),
                    err, KUMO_EDECODE, "rows, cols: expected 1..%u with tty",
                    KUMO_PROVIDER_SHELL_WINDOW_MAX);
        known += 2;
    }
    out->rows = (uint16_t)r;
    out->cols = (uint16_t)c;
    const json_t *cmd = json_object_get(j, "cmd");
    if (cmd != NULL) {
        KUMO_GUARD(shell_cmd_parse(cmd, out, err));
        known++;
    }
    KUMO_ENSURE(json_object_size(j) == known, err, KUMO_EDECODE,
                "unknown keys (or rows/cols without tty)");
    return 0;
}

int kumo_provider_shell_request_parse(kumo_bytes_t body,
                                      kumo_provider_shell_request_t *out,
                                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(body.ptr != NULL || body.len == 0);
    memset(out, 0, sizeof(*out));
    KUMO_ENSURE(body.len <= KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX, err, KUMO_ELIMIT,
                "shell request over %u bytes", KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX);
    json_error_t jerr;
    json_t *j = body.len > 0
                    ? json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr)
                    : NULL;
    int rc = json_is_object(j) ? shell_request_fields(j, out, err)
                               : kumo_err_set(err, KUMO_EDECODE, "expected a JSON object");
    json_decref(j);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    KUMO_ASSERT(rc < 0 || out->argv[out->argc] == NULL);
    return rc;
}

/* ---- log lines ---- */

static bool log_u64(const uint8_t *p, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || kumo_u64_mul(v, 10, &v) < 0 ||
            kumo_u64_add(v, (uint64_t)(p[i] - '0'), &v) < 0) {
            return false;
        }
    }
    *out = v;
    return v <= max;
}

static int log_line_fields(kumo_bytes_t line, kumo_provider_log_line_t *out, kumo_err_ctx_t *err)
{
    size_t len = line.len;
    if (len > 0 && line.ptr[len - 1] == '\n') {
        len--;
    }
    const uint8_t *p = line.ptr;
    const uint8_t *slash = len > 0 ? memchr(p, '/', len) : NULL;
    const uint8_t *sp1 = slash != NULL ? memchr(slash, ' ', len - (size_t)(slash - p)) : NULL;
    const uint8_t *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p)) : NULL;
    KUMO_ENSURE(sp2 != NULL, err, KUMO_EDECODE, "log line: expected WORKLOAD/INSTANCE NS TEXT");
    size_t wlen = (size_t)(slash - p);
    uint64_t instance = 0;
    KUMO_ENSURE(wlen > 0 && wlen <= KUMO_NAME_BYTES_MAX, err, KUMO_EDECODE,
                "log line: bad workload");
    memcpy(out->workload, p, wlen);
    KUMO_ENSURE(shell_name_ok(out->workload) &&
                    log_u64(slash + 1, (size_t)(sp1 - slash - 1), UINT32_MAX, &instance) &&
                    log_u64(sp1 + 1, (size_t)(sp2 - sp1 - 1), UINT64_MAX, &out->time_ns),
                err, KUMO_EDECODE, "log line: bad workload, instance or time");
    KUMO_ENSURE(memchr(p, '\n', len) == NULL, err, KUMO_EDECODE, "log line: several lines");
    out->instance = (uint32_t)instance;
    out->text = kumo_bytes_make(sp2 + 1, len - (size_t)(sp2 + 1 - p));
    return 0;
}

int kumo_provider_log_line_parse(kumo_bytes_t line,
                                 kumo_provider_log_line_t *out,
                                 kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(line.ptr != NULL || line.len == 0);
    memset(out, 0, sizeof(*out));
    int rc = log_line_fields(line, out, err);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- event lines ---- */

static int
event_line_fields(kumo_bytes_t line, kumo_provider_event_line_t *out, kumo_err_ctx_t *err)
{
    size_t len = line.len;
    if (len > 0 && line.ptr[len - 1] == '\n') {
        len--;
    }
    const uint8_t *p = line.ptr;
    const uint8_t *sp1 = len > 0 ? memchr(p, ' ', len) : NULL;
    const uint8_t *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - p)) : NULL;
    const uint8_t *slash = sp2 != NULL ? memchr(sp2 + 1, '/', len - (size_t)(sp2 + 1 - p)) : NULL;
    const uint8_t *sp3 = slash != NULL ? memchr(slash, ' ', len - (size_t)(slash - p)) : NULL;
    KUMO_ENSURE(sp3 != NULL && memchr(p, '\n', len) == NULL, err, KUMO_EDECODE,
                "event line: expected NS KIND WORKLOAD/INSTANCE DETAIL");
    size_t klen = (size_t)(sp2 - sp1 - 1);
    size_t wlen = (size_t)(slash - sp2 - 1);
    KUMO_ENSURE(klen > 0 && klen <= KUMO_PROVIDER_EVENT_KIND_BYTES_MAX && wlen > 0 &&
                    wlen <= KUMO_NAME_BYTES_MAX,
                err, KUMO_EDECODE, "event line: bad kind or workload");
    memcpy(out->kind, sp1 + 1, klen);
    memcpy(out->workload, sp2 + 1, wlen);
    for (size_t i = 0; i < klen; i++) {
        KUMO_ENSURE((out->kind[i] >= 'a' && out->kind[i] <= 'z') || out->kind[i] == '_', err,
                    KUMO_EDECODE, "event line: bad kind");
    }
    uint64_t instance = 0;
    KUMO_ENSURE((strcmp(out->workload, "-") == 0 || shell_name_ok(out->workload)) &&
                    log_u64(p, (size_t)(sp1 - p), UINT64_MAX, &out->time_ns) &&
                    log_u64(slash + 1, (size_t)(sp3 - slash - 1), UINT32_MAX, &instance),
                err, KUMO_EDECODE, "event line: bad time, workload or instance");
    out->instance = (uint32_t)instance;
    out->detail = kumo_bytes_make(sp3 + 1, len - (size_t)(sp3 + 1 - p));
    return 0;
}

int kumo_provider_event_line_parse(kumo_bytes_t line,
                                   kumo_provider_event_line_t *out,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(line.ptr != NULL || line.len == 0);
    memset(out, 0, sizeof(*out));
    int rc = event_line_fields(line, out, err);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
