/*
 * deploy_logs.c - `kumo deploy logs STACK.yml [WORKLOAD] [--follow] [--since TIME|--tail N]`:
 * the log lines of every instance of the deployment (or of one workload), each prefixed with
 * workload/instance, from the providers of its leases (docs/provider-api.md "logs", the
 * stamped lines). Each line carries the runtime's time; a cursor per instance (the time of
 * its last line printed and how many lines of that very time were printed) makes every poll
 * resume exactly after what was printed: with --follow the command polls every second,
 * keeps going across a replaced container (the provider continues an instance's lines from
 * the container that was removed) and across a provider daemon restart (the poll fails, is
 * retried, and resumes from the cursors: nothing lost, nothing twice).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/deploy_int.h"
#include "provider/provider_api.h"
#include "runtime/runtime.h"

/* Instances followed at once; lines kept of one poll before printing. */
#define LOGS_INSTANCE_MAX  1024u
#define LOGS_POLL_LINE_MAX 200000u
#define LOGS_POLL_MS       1000u
#define LOGS_TAIL_DEFAULT  100u

typedef struct logs_cursor {
    char workload[KUMO_NAME_BYTES_MAX + 1];
    uint32_t instance;
    uint64_t last_ns;      /* time of the last line printed */
    uint64_t at_last;      /* lines of exactly that time printed */
    uint64_t seen_at_last; /* of this poll's lines at last_ns: how many were passed */
} logs_cursor_t;

typedef struct logs_line {
    kumo_provider_log_line_t l;
    size_t order; /* arrival, for a stable sort */
} logs_line_t;

typedef struct logs_state {
    deploy_flow_t *f;
    const char *workload; /* NULL: all */
    logs_cursor_t cur[LOGS_INSTANCE_MAX];
    logs_cursor_t saved[LOGS_INSTANCE_MAX]; /* the cursors before a poll that failed */
    size_t cur_count;
    logs_line_t *lines;
    size_t line_count;
    kumo_buf_t answers[KUMO_GROUP_COUNT_MAX]; /* the lines point into these */
    uint64_t since_ns;                        /* of the first poll */
    bool first;
} logs_state_t;

static logs_cursor_t *logs_cursor(logs_state_t *s, const kumo_provider_log_line_t *l)
{
    for (size_t i = 0; i < s->cur_count; i++) {
        if (s->cur[i].instance == l->instance && strcmp(s->cur[i].workload, l->workload) == 0) {
            return &s->cur[i];
        }
    }
    if (s->cur_count >= LOGS_INSTANCE_MAX) {
        return NULL;
    }
    logs_cursor_t *c = &s->cur[s->cur_count++];
    memset(c, 0, sizeof(*c));
    (void)snprintf(c->workload, sizeof(c->workload), "%s", l->workload);
    c->instance = l->instance;
    return c;
}

/* Whether a line is new (after the cursor); advances the cursor when it is. */
static bool logs_is_new(logs_cursor_t *c, uint64_t ns)
{
    if (ns < c->last_ns) {
        return false;
    }
    if (ns == c->last_ns) {
        if (++c->seen_at_last <= c->at_last) {
            return false;
        }
        c->at_last++;
        return true;
    }
    c->last_ns = ns;
    c->at_last = 1;
    c->seen_at_last = 1;
    return true;
}

/* The since of the next poll: the oldest cursor (each instance's lines after it are new). */
static uint64_t logs_since(const logs_state_t *s)
{
    if (s->first || s->cur_count == 0) {
        return s->since_ns;
    }
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < s->cur_count; i++) {
        min = s->cur[i].last_ns < min ? s->cur[i].last_ns : min;
    }
    return min;
}

/* One provider's answer: its new lines collected. */
static int logs_take(logs_state_t *s, kumo_buf_t *ans, kumo_err_ctx_t *err)
{
    size_t pos = 0;
    while (pos < ans->len) {
        const uint8_t *nl = memchr(ans->ptr + pos, '\n', ans->len - pos);
        size_t end = nl != NULL ? (size_t)(nl - ans->ptr) + 1u : ans->len;
        kumo_provider_log_line_t l;
        KUMO_GUARD(
            kumo_provider_log_line_parse(kumo_bytes_make(ans->ptr + pos, end - pos), &l, err));
        pos = end;
        logs_cursor_t *c = logs_cursor(s, &l);
        KUMO_ENSURE(c != NULL, err, KUMO_ELIMIT, "over %u instances", LOGS_INSTANCE_MAX);
        if (!logs_is_new(c, l.time_ns)) {
            continue;
        }
        KUMO_ENSURE(s->line_count < LOGS_POLL_LINE_MAX, err, KUMO_ELIMIT,
                    "over %u lines in one poll", LOGS_POLL_LINE_MAX);
        s->lines[s->line_count].l = l;
        s->lines[s->line_count].order = s->line_count;
        s->line_count++;
    }
    return 0;
}

static int logs_line_cmp(const void *a, const void *b)
{
    const logs_line_t *x = a;
    const logs_line_t *y = b;
    if (x->l.time_ns != y->l.time_ns) {
        return x->l.time_ns < y->l.time_ns ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

static void logs_print(logs_state_t *s)
{
    qsort(s->lines, s->line_count, sizeof(s->lines[0]), logs_line_cmp);
    for (size_t i = 0; i < s->line_count; i++) {
        const kumo_provider_log_line_t *l = &s->lines[i].l;
        if (s->f->a->output == CLI_OUTPUT_JSON) {
            json_t *o = json_pack("{s:s, s:I, s:s, s:s%}", "workload", l->workload, "instance",
                                  (json_int_t)l->instance, "time_ns", "", "text",
                                  (const char *)l->text.ptr, l->text.len);
            char ns[24];
            (void)snprintf(ns, sizeof(ns), "%" PRIu64, l->time_ns);
            (void)json_object_set_new(o, "time_ns", json_string(ns));
            char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
            if (t != NULL) {
                printf("%s\n", t);
            }
            free(t);
            json_decref(o);
        } else {
            printf("%s/%u %.*s\n", l->workload, l->instance, (int)l->text.len,
                   (const char *)l->text.ptr);
        }
    }
    (void)fflush(stdout);
    s->line_count = 0;
}

/* The path of one poll. */
static int logs_path(const logs_state_t *s, char *path, size_t cap, kumo_err_ctx_t *err)
{
    const cli_args_t *a = s->f->a;
    uint64_t tail = 0;
    if (s->first) {
        tail = a->tail_set        ? a->tail
               : a->limit_set     ? a->limit
               : a->since != NULL ? 0
                                  : LOGS_TAIL_DEFAULT;
    }
    char since[24];
    char tail_text[24];
    (void)snprintf(since, sizeof(since), "%" PRIu64, logs_since(s));
    (void)snprintf(tail_text, sizeof(tail_text), "%" PRIu64, tail);
    int n = snprintf(path, cap, "/deployments/%s/logs", s->f->dep_id);
    KUMO_ENSURE(n > 0 && (size_t)n < cap, err, KUMO_ELIMIT, "path too long");
    KUMO_GUARD(kumo_client_path_param_add(path, cap, "stamped", "1", err));
    KUMO_GUARD(kumo_client_path_param_add(path, cap, "since_ns", since, err));
    KUMO_GUARD(kumo_client_path_param_add(path, cap, "tail", tail_text, err));
    if (s->workload != NULL) {
        KUMO_GUARD(kumo_client_path_param_add(path, cap, "workload", s->workload, err));
    }
    return 0;
}

/* One poll of every provider; the new lines printed in time order. */
static int logs_poll(logs_state_t *s, kumo_err_ctx_t *err)
{
    char path[512];
    KUMO_GUARD(logs_path(s, path, sizeof(path), err));
    deploy_flow_t *f = s->f;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->peer_count; i++) {
        kumo_buf_reset(&s->answers[i]);
        long status = 0;
        rc = deploy_provider_call(&f->tls, &f->peers[i].p, "GET", path, kumo_bytes_make(NULL, 0),
                                  &status, &s->answers[i], err);
        rc = rc == KUMO_ENOTFOUND && s->workload == NULL ? 0 : rc; /* nothing of it runs there */
    }
    size_t cur_count = s->cur_count;
    memcpy(s->saved, s->cur, cur_count * sizeof(s->cur[0]));
    for (size_t i = 0; rc == 0 && i < f->peer_count; i++) {
        rc = logs_take(s, &s->answers[i], err);
    }
    if (rc < 0) { /* nothing printed: the cursors as they were */
        memcpy(s->cur, s->saved, cur_count * sizeof(s->cur[0]));
        s->cur_count = cur_count;
        for (size_t i = 0; i < s->cur_count; i++) {
            s->cur[i].seen_at_last = 0;
        }
        s->line_count = 0;
        return rc;
    }
    logs_print(s);
    for (size_t i = 0; i < s->cur_count; i++) {
        s->cur[i].seen_at_last = 0;
    }
    s->first = false;
    return 0;
}

/* --since: RFC 3339, unix seconds, or a duration ago (90s, 10m, 2h, 1d). */
static int logs_since_parse(const char *v, uint64_t *out_ns, kumo_err_ctx_t *err)
{
    size_t len = strlen(v);
    char unit = len > 0 ? v[len - 1] : '\0';
    uint64_t n = 0;
    char digits[32];
    if (len > 1 && len < sizeof(digits) && strchr("smhd", unit) != NULL) {
        memcpy(digits, v, len - 1u);
        digits[len - 1u] = '\0';
        uint64_t mult = unit == 's' ? 1u : unit == 'm' ? 60u : unit == 'h' ? 3600u : 86400u;
        KUMO_ENSURE(cli_u64_parse(digits, "--since", &n, NULL) == 0 && n <= 3650u * 86400u, err,
                    KUMO_EINVAL, "--since '%s': expected a time or a duration", v);
        uint64_t now = (uint64_t)time(NULL);
        uint64_t ago = n * mult;
        *out_ns = (now > ago ? now - ago : 0) * 1000000000u;
        return 0;
    }
    if (cli_u64_parse(v, "--since", &n, NULL) == 0) {
        KUMO_ENSURE(n < 16000000000u, err, KUMO_EINVAL, "--since '%s': too far", v);
        *out_ns = n * 1000000000u;
        return 0;
    }
    char line[64];
    int w = snprintf(line, sizeof(line), "%s x", v);
    kumo_bytes_t text;
    KUMO_ENSURE(
        w > 0 && (size_t)w < sizeof(line) &&
            kumo_runtime_log_line_parse(kumo_bytes_make(line, (size_t)w), out_ns, &text, NULL) == 0,
        err, KUMO_EINVAL,
        "--since '%s': expected RFC 3339 (2026-12-07T05:00:00Z), unix seconds or 10m", v);
    return 0;
}

/* The providers to ask: the workload's group's, or every leased group's. */
static int logs_providers(logs_state_t *s, kumo_err_ctx_t *err)
{
    deploy_flow_t *f = s->f;
    f->group_count = f->stack.group_count;
    KUMO_GUARD(deploy_flow_leases_read(f, err));
    int only = -1;
    if (s->workload != NULL) {
        only = deploy_stack_workload_gseq(&f->stack, s->workload);
        KUMO_ENSURE(only >= 0, err, KUMO_ENOTFOUND, "%s has no workload '%s'", f->a->pos[0],
                    s->workload);
    }
    for (size_t g = 0; g < f->group_count; g++) {
        if ((only >= 0 && (size_t)only != g) || !f->groups[g].leased) {
            continue;
        }
        size_t idx = 0;
        KUMO_GUARD(deploy_run_peer_find(f, f->groups[g].provider, &idx, err));
    }
    KUMO_ENSURE(f->peer_count > 0, err, KUMO_ENOTFOUND, "no active lease of %s%s runs anywhere",
                s->workload != NULL ? "workload " : "the deployment",
                s->workload != NULL ? s->workload : "");
    return 0;
}

static int logs_run(logs_state_t *s, kumo_err_ctx_t *err)
{
    const cli_args_t *a = s->f->a;
    KUMO_ENSURE(a->since == NULL || !(a->tail_set || a->limit_set), err, KUMO_EINVAL,
                "give --since or --tail, not both");
    KUMO_ENSURE(!a->tail_set || a->tail <= KUMO_PROVIDER_LOG_TAIL_MAX, err, KUMO_EINVAL,
                "--tail must be 0..%u", KUMO_PROVIDER_LOG_TAIL_MAX);
    if (a->since != NULL) {
        KUMO_GUARD(logs_since_parse(a->since, &s->since_ns, err));
    }
    KUMO_GUARD(logs_providers(s, err));
    KUMO_GUARD(logs_poll(s, err));
    bool warned = false;
    while (a->follow && !cli_stdout_gone()) {
        (void)usleep(LOGS_POLL_MS * 1000u);
        kumo_err_ctx_t perr = {0};
        if (logs_poll(s, &perr) < 0) {
            if (!warned) {
                fprintf(stderr, "kumo: deploy logs: %s; retrying\n", perr.detail);
            }
            warned = true;
            continue;
        }
        if (warned) {
            fprintf(stderr, "kumo: deploy logs: resumed\n");
        }
        warned = false;
    }
    return 0;
}

int deploy_logs_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    logs_state_t *s = calloc(1, sizeof(*s));
    logs_line_t *lines = calloc(LOGS_POLL_LINE_MAX, sizeof(*lines));
    if (f == NULL || s == NULL || lines == NULL) {
        free(f);
        free(s);
        free(lines);
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    s->f = f;
    s->lines = lines;
    s->first = true;
    s->workload = a->pos_count > 1 ? a->pos[1] : NULL;
    for (size_t i = 0; i < KUMO_GROUP_COUNT_MAX; i++) {
        kumo_buf_init(&s->answers[i], DEPLOY_PROVIDER_ANSWER_BYTES_MAX);
    }
    kumo_err_ctx_t err = {0};
    int rc = deploy_stack_load(a->pos[0], &f->stack, &err);
    f->stack_loaded = rc == 0;
    rc = rc == 0 ? deploy_flow_init(f, a, true, &err) : rc;
    rc = rc == 0 ? logs_run(s, &err) : rc;
    int exit_code = rc < 0 ? cli_fail("deploy logs", &err) : CLI_EXIT_OK;
    for (size_t i = 0; i < KUMO_GROUP_COUNT_MAX; i++) {
        kumo_buf_free(&s->answers[i]);
    }
    free(lines);
    free(s);
    deploy_flow_free(f);
    free(f);
    return exit_code;
}
