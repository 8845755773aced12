/*
 * deploy_events.c - `kumo deploy events STACK.yml [--follow]`: what happened to the
 * deployment, in time order, from two sources merged:
 *   - the chain: the node's events of the owner (GET /events, SSE, replayed from height 1 and
 *     then live) whose id is this deployment's (orders, bids, leases created, closed,
 *     refused with their reasons such as manifest_refused or image_missing), each at its
 *     block's time (the header's time_ms);
 *   - the provider of every lease the deployment had, ended ones too: its runtime journal
 *     (GET .../events, docs/provider-api.md): containers started, restarted, exited with
 *     their code, OOM-killed, image missing, removed, manifests refused. Without --follow, a
 *     provider that cannot be read is said on stderr and its events are left out.
 * Output: "<RFC 3339 time> <source> <kind> <what>" per event (--output json: one object per
 * line). With --follow the providers are polled every second and the node's stream is
 * followed; events are printed once they are 2 s old, in time order, so late arrivals from
 * either source still sort in. Resuming: the chain part by height (the stream replays from
 * the last height seen after a reconnect, events already printed skipped by id), the
 * provider part by time and count like `kumo deploy logs`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/deploy_int.h"
#include "provider/provider_api.h"

#define EV_PENDING_MAX 100000u
#define EV_HOLD_MS     2000u
#define EV_POLL_MS     1000u
#define EV_SEEN_MAX    100000u

typedef struct ev_item {
    uint64_t time_ns;
    char source[KUMO_ADDRESS_TEXT_BYTES + 8]; /* "chain" or the provider's address */
    char kind[64];
    char what[512];
    uint64_t order;
} ev_item_t;

typedef struct ev_state {
    deploy_flow_t *f;
    ev_item_t *pending;
    size_t pending_count;
    uint64_t order;
    /* provider cursors: time of the last event taken and how many of exactly that time */
    uint64_t prov_last_ns[KUMO_GROUP_COUNT_MAX];
    uint64_t prov_at_last[KUMO_GROUP_COUNT_MAX];
    /* chain: ids taken (replays after a reconnect are skipped), last height seen */
    char (*seen)[96];
    size_t seen_count;
    uint64_t chain_height;
    deploy_stream_t *stream;
    json_t *block_times; /* height text -> time_ms */
} ev_state_t;

static int ev_push(ev_state_t *s, const ev_item_t *it, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(s->pending_count < EV_PENDING_MAX, err, KUMO_ELIMIT, "over %u events waiting",
                EV_PENDING_MAX);
    s->pending[s->pending_count] = *it;
    s->pending[s->pending_count].order = s->order++;
    s->pending_count++;
    return 0;
}

/* ---- the providers' journals ---- */

static int ev_provider_take(ev_state_t *s, size_t i, const kumo_buf_t *ans, kumo_err_ctx_t *err)
{
    size_t pos = 0;
    uint64_t seen_at_last = 0;
    while (pos < ans->len) {
        const uint8_t *nl = memchr(ans->ptr + pos, '\n', ans->len - pos);
        size_t end = nl != NULL ? (size_t)(nl - ans->ptr) + 1u : ans->len;
        kumo_provider_event_line_t ev;
        KUMO_GUARD(
            kumo_provider_event_line_parse(kumo_bytes_make(ans->ptr + pos, end - pos), &ev, err));
        pos = end;
        if (ev.time_ns < s->prov_last_ns[i] ||
            (ev.time_ns == s->prov_last_ns[i] && ++seen_at_last <= s->prov_at_last[i])) {
            continue;
        }
        if (ev.time_ns == s->prov_last_ns[i]) {
            s->prov_at_last[i]++;
        } else {
            s->prov_last_ns[i] = ev.time_ns;
            s->prov_at_last[i] = 1;
            seen_at_last = 1;
        }
        ev_item_t it = {.time_ns = ev.time_ns};
        (void)snprintf(it.source, sizeof(it.source), "%s", s->f->peers[i].p.addr);
        (void)snprintf(it.kind, sizeof(it.kind), "%s", ev.kind);
        if (strcmp(ev.workload, "-") == 0) {
            (void)snprintf(it.what, sizeof(it.what), "%.*s", (int)ev.detail.len,
                           (const char *)ev.detail.ptr);
        } else {
            (void)snprintf(it.what, sizeof(it.what), "%s/%u %.*s", ev.workload, ev.instance,
                           (int)ev.detail.len, (const char *)ev.detail.ptr);
        }
        KUMO_GUARD(ev_push(s, &it, err));
    }
    return 0;
}

static int ev_provider_poll(ev_state_t *s, size_t i, kumo_err_ctx_t *err)
{
    deploy_flow_t *f = s->f;
    char path[512];
    char since[24];
    (void)snprintf(since, sizeof(since), "%" PRIu64, s->prov_last_ns[i]);
    (void)snprintf(path, sizeof(path), "/deployments/%s/events", f->dep_id);
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "since_ns", since, err));
    kumo_buf_t ans;
    kumo_buf_init(&ans, KUMO_PROVIDER_EVENTS_BYTES_MAX);
    long status = 0;
    int rc = deploy_provider_call(&f->tls, &f->peers[i].p, "GET", path, kumo_bytes_make(NULL, 0),
                                  &status, &ans, err);
    rc = rc == 0 ? ev_provider_take(s, i, &ans, err) : rc;
    kumo_buf_free(&ans);
    return rc;
}

/* Every provider's journal; one that fails does not keep the others from being read. Without
 * left_out, the first failure is returned (after all were tried); with it, each failure is
 * said on stderr and counted there (its events are left out of this listing). */
static int ev_providers_poll(ev_state_t *s, size_t *left_out, kumo_err_ctx_t *err)
{
    deploy_flow_t *f = s->f;
    int first = 0;
    for (size_t i = 0; i < f->peer_count; i++) {
        kumo_err_ctx_t perr = {0};
        int rc = ev_provider_poll(s, i, &perr);
        if (rc < 0 && left_out != NULL) {
            fprintf(stderr, "kumo: deploy events: provider %s: %s; its events are left out\n",
                    f->peers[i].p.addr, perr.detail);
            (*left_out)++;
        } else if (rc < 0 && first == 0) {
            first = kumo_err_set(err, rc, "%s", perr.detail);
        }
    }
    return first;
}

/* Every provider that held a lease of the deployment, in any state: the journal of an ended
 * lease still tells what happened to its containers. A provider that is no longer on chain
 * is said and skipped. */
static int ev_peers_find(ev_state_t *s, kumo_err_ctx_t *err)
{
    deploy_flow_t *f = s->f;
    char path[256] = "/leases";
    char dseq[24];
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, f->dseq);
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "owner", f->owner, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "dseq", dseq, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit", "1000", err));
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &j, err));
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(j, "items"), i, l)
    {
        const char *prov = cli_json_str(json_object_get(l, "id"), "provider");
        bool known = false;
        for (size_t k = 0; k < f->peer_count; k++) {
            known = known || strcmp(f->peers[k].p.addr, prov) == 0;
        }
        if (known || prov[0] == '\0') {
            continue;
        }
        size_t idx = 0;
        kumo_err_ctx_t perr = {0};
        if (f->peer_count == KUMO_ARRAY_COUNT(f->peers)) {
            fprintf(stderr, "kumo: deploy events: over %zu providers; %s left out\n",
                    KUMO_ARRAY_COUNT(f->peers), prov);
        } else if (deploy_run_peer_find(f, prov, &idx, &perr) < 0) {
            fprintf(stderr, "kumo: deploy events: provider %s: %s; its events are left out\n", prov,
                    perr.detail);
        }
    }
    json_decref(j);
    return 0;
}

/* ---- the chain ---- */

/* The block time of height (ns), asked once per height. */
static uint64_t ev_block_ns(ev_state_t *s, uint64_t height)
{
    char key[24];
    (void)snprintf(key, sizeof(key), "%" PRIu64, height);
    const json_t *known = json_object_get(s->block_times, key);
    if (json_is_integer(known)) {
        return (uint64_t)json_integer_value(known) * 1000000u;
    }
    char path[64];
    (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, height);
    json_t *b = NULL;
    uint64_t ms = 0;
    if (cli_http_get(s->f->a, path, &b, NULL) == 0) {
        const json_t *t = json_object_get(json_object_get(b, "header"), "time_ms");
        if (json_is_integer(t) && json_integer_value(t) > 0) {
            ms = (uint64_t)json_integer_value(t);
        } else if (json_is_string(t) &&
                   cli_u64_parse(json_string_value(t), "time_ms", &ms, NULL) < 0) {
            ms = 0;
        }
    }
    json_decref(b);
    (void)json_object_set_new(s->block_times, key, json_integer((json_int_t)ms));
    return ms * 1000000u;
}

static bool ev_seen(ev_state_t *s, const char *id)
{
    for (size_t i = 0; i < s->seen_count; i++) {
        if (strcmp(s->seen[i], id) == 0) {
            return true;
        }
    }
    if (s->seen_count < EV_SEEN_MAX) {
        (void)snprintf(s->seen[s->seen_count++], sizeof(s->seen[0]), "%s", id);
    }
    return false;
}

/* One event of the node's stream: kept when it is this deployment's. */
static int ev_chain_take(ev_state_t *s, const json_t *ev, kumo_err_ctx_t *err)
{
    const char *type = cli_json_str(ev, "type");
    uint64_t height = 0;
    if (cli_u64_parse(cli_json_str(ev, "height"), "height", &height, NULL) < 0) {
        height = 0;
    }
    if (strcmp(type, "block") == 0) {
        s->chain_height = height > s->chain_height ? height : s->chain_height;
        return 0;
    }
    const char *id = cli_json_str(ev, "id");
    size_t n = strlen(s->f->dep_id);
    if (strncmp(id, s->f->dep_id, n) != 0 || (id[n] != '\0' && id[n] != '/')) {
        return 0;
    }
    char key[96];
    (void)snprintf(key, sizeof(key), "%" PRIu64 ":%s:%s:%s", height, type, id,
                   cli_json_str(ev, "msg_index"));
    if (ev_seen(s, key)) {
        return 0;
    }
    ev_item_t it = {.time_ns = ev_block_ns(s, height)};
    (void)snprintf(it.source, sizeof(it.source), "chain");
    (void)snprintf(it.kind, sizeof(it.kind), "%s", type);
    size_t used = (size_t)snprintf(it.what, sizeof(it.what), "%s height=%" PRIu64, id + n, height);
    size_t i;
    const json_t *at;
    json_array_foreach(json_object_get(ev, "attrs"), i, at)
    {
        if (used < sizeof(it.what)) {
            used += (size_t)snprintf(it.what + used, sizeof(it.what) - used, " %s=%s",
                                     cli_json_str(at, "key"), cli_json_str(at, "value"));
        }
    }
    return ev_push(s, &it, err);
}

/* Takes what the node's stream has now (reconnecting from the last height when it ended). */
static int ev_chain_drain(ev_state_t *s, uint64_t wait_ms, kumo_err_ctx_t *err)
{
    if (s->stream == NULL) {
        uint64_t from = s->chain_height > 0 ? s->chain_height : 1;
        KUMO_GUARD(deploy_stream_open(s->f->a, s->f->owner, from, &s->stream, err));
    }
    for (;;) {
        json_t *ev = NULL;
        int rc = deploy_stream_next(s->stream, wait_ms, &ev, err);
        if (rc < 0) {
            deploy_stream_close(s->stream);
            s->stream = NULL;
            return rc;
        }
        if (ev == NULL) {
            return 0;
        }
        rc = ev_chain_take(s, ev, err);
        json_decref(ev);
        KUMO_GUARD(rc);
        wait_ms = 0;
    }
}

/* The chain's events up to the head as it is now: the stream replays block by block, each
 * closed by its block event, so the replay is done when that height's block event came (a
 * pause in the replay is not its end). */
static int ev_chain_catch_up(ev_state_t *s, kumo_err_ctx_t *err)
{
    uint64_t head = 0;
    KUMO_GUARD(deploy_height_get(s->f->a, &head, err));
    while (s->chain_height < head) {
        KUMO_ENSURE(deploy_now_ms() < s->f->deadline_ms, err, KUMO_EIO,
                    "the node's events stopped at height %" PRIu64 " of %" PRIu64, s->chain_height,
                    head);
        KUMO_GUARD(ev_chain_drain(s, EV_POLL_MS, err));
    }
    return 0;
}

/* ---- output ---- */

static int ev_cmp(const void *a, const void *b)
{
    const ev_item_t *x = a;
    const ev_item_t *y = b;
    if (x->time_ns != y->time_ns) {
        return x->time_ns < y->time_ns ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

static void ev_print_one(const ev_state_t *s, const ev_item_t *it)
{
    time_t secs = (time_t)(it->time_ns / 1000000000u);
    struct tm tm;
    char when[40] = "?";
    if (gmtime_r(&secs, &tm) != NULL) {
        (void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    }
    if (s->f->a->output == CLI_OUTPUT_JSON) {
        char ns[24];
        (void)snprintf(ns, sizeof(ns), "%" PRIu64, it->time_ns);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time_ns", ns, "source", it->source, "kind",
                              it->kind, "what", it->what);
        char *t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        if (t != NULL) {
            printf("%s\n", t);
        }
        free(t);
        json_decref(o);
        return;
    }
    printf("%s.%03uZ %s %s %s\n", when, (unsigned)((it->time_ns / 1000000u) % 1000u),
           strcmp(it->source, "chain") == 0 ? "chain   " : "provider", it->kind, it->what);
}

/* Prints, in time order, the events older than before_ns (all with UINT64_MAX). */
static void ev_flush(ev_state_t *s, uint64_t before_ns)
{
    qsort(s->pending, s->pending_count, sizeof(s->pending[0]), ev_cmp);
    size_t n = 0;
    while (n < s->pending_count && s->pending[n].time_ns < before_ns) {
        ev_print_one(s, &s->pending[n]);
        n++;
    }
    memmove(s->pending, s->pending + n, (s->pending_count - n) * sizeof(s->pending[0]));
    s->pending_count -= n;
    (void)fflush(stdout);
}

static uint64_t ev_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int ev_run(ev_state_t *s, kumo_err_ctx_t *err)
{
    deploy_flow_t *f = s->f;
    KUMO_GUARD(ev_peers_find(s, err));
    /* Everything so far: the chain up to its head, the journals. */
    KUMO_GUARD(ev_chain_catch_up(s, err));
    if (!f->a->follow) {
        size_t left_out = 0;
        KUMO_GUARD(ev_providers_poll(s, &left_out, err));
        ev_flush(s, UINT64_MAX);
        return 0;
    }
    bool warned = false;
    while (!cli_stdout_gone()) {
        kumo_err_ctx_t perr = {0};
        int rc = ev_chain_drain(s, EV_POLL_MS, &perr);
        rc = rc == 0 ? ev_providers_poll(s, NULL, &perr) : rc;
        if (rc < 0 && !warned) {
            fprintf(stderr, "kumo: deploy events: %s; retrying\n", perr.detail);
        } else if (rc == 0 && warned) {
            fprintf(stderr, "kumo: deploy events: resumed\n");
        }
        warned = rc < 0;
        if (rc < 0) {
            (void)usleep(EV_POLL_MS * 1000u);
        }
        uint64_t now = ev_now_ns();
        ev_flush(s, now > EV_HOLD_MS * 1000000u ? now - EV_HOLD_MS * 1000000u : 0);
    }
    return 0;
}

int deploy_events_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    ev_state_t *s = calloc(1, sizeof(*s));
    ev_item_t *pending = calloc(EV_PENDING_MAX, sizeof(*pending));
    char(*seen)[96] = calloc(EV_SEEN_MAX, sizeof(*seen));
    json_t *times = json_object();
    if (f == NULL || s == NULL || pending == NULL || seen == NULL || times == NULL) {
        free(f);
        free(s);
        free(pending);
        free(seen);
        json_decref(times);
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    s->f = f;
    s->pending = pending;
    s->seen = seen;
    s->block_times = times;
    kumo_err_ctx_t err = {0};
    int rc = deploy_stack_load(a->pos[0], &f->stack, &err);
    f->stack_loaded = rc == 0;
    rc = rc == 0 ? deploy_flow_init(f, a, true, &err) : rc;
    rc = rc == 0 ? ev_run(s, &err) : rc;
    int exit_code = rc < 0 ? cli_fail("deploy events", &err) : CLI_EXIT_OK;
    deploy_stream_close(s->stream);
    json_decref(times);
    free(seen);
    free(pending);
    free(s);
    deploy_flow_free(f);
    free(f);
    return exit_code;
}
