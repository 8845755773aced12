/*
 * status.c - what a provider sees of its own datacenter. After every pass the main thread
 * writes home/status.json (atomically; `kumo provider status` reads it) and renders the
 * Prometheus text that the metrics listener (API thread) serves on metrics_listen, under a
 * lock. Both come from one snapshot: the leases the node listed, the containers the runtime
 * listed, what the holds reserve, and the daemon's counters. Format: docs/provider-api.md.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file/file.h"
#include "log/log.h"
#include "provider/daemon_int.h"

/* The metrics text: a few hundred bytes plus about 300 per lease. */
#define PD_METRICS_BYTES_MAX (1024u * 1024u)
#define PD_STATUS_BYTES_MAX  (4u * 1024u * 1024u)

typedef struct pd_seen {
    char order[KUMO_ID_TEXT_BYTES];
    uint64_t confirmed;
} pd_seen_t;

struct pd_status {
    pthread_mutex_t mu; /* guards text (the API thread copies it) */
    kumo_buf_t text;
    /* Main thread only: each lease's last confirmed height at the previous pass (seen[cur])
     * and at this one, to count the confirmations that landed on chain. */
    pd_seen_t seen[2][PD_LEASE_MAX];
    uint32_t seen_count[2];
    uint32_t cur;
    uint64_t landed;
    uint64_t passes;
    uint64_t pass_ms_sum;
    uint64_t pass_ms_last;
    /* API thread: the metrics listener and the forwarder whose gauges it adds. */
    struct evhttp *http;
    kumo_overlay_fwd_t *fwd;
};

typedef struct pd_snapshot {
    uint64_t containers_running, containers_total;
    uint64_t leases_active, leases_closing;
    uint64_t earnings_ukumo;    /* paid so far on the leases listed */
    uint64_t leased[4], bid[4]; /* cpu milli, memory, storage, GPUs */
    uint64_t start_backlog;     /* instances waiting for a start (pd_start_backlog) */
} pd_snapshot_t;

int pd_status_open(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    pd_status_t *s = kumo_calloc(1, sizeof(*s));
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "status");
    (void)pthread_mutex_init(&s->mu, NULL);
    kumo_buf_init(&s->text, PD_METRICS_BYTES_MAX);
    d->status = s;
    return 0;
}

void pd_status_close(kumo_provider_daemon_t *d)
{
    pd_status_t *s = d->status;
    if (s == NULL) {
        return;
    }
    kumo_buf_free(&s->text);
    (void)pthread_mutex_destroy(&s->mu);
    kumo_free(s);
    d->status = NULL;
}

static void pd_order_of(const pd_lease_t *l, char out[KUMO_ID_TEXT_BYTES])
{
    (void)snprintf(out, KUMO_ID_TEXT_BYTES, "%s/%" PRIu64 "/%u/%u", l->owner, l->dseq, l->gseq,
                   l->oseq);
}

/* Confirmations that landed since the previous pass: leases whose last confirmed height grew. */
static void pd_status_landed(pd_status_t *s, const kumo_provider_daemon_t *d)
{
    KUMO_ASSERT(s->cur < 2u);
    const pd_seen_t *prev = s->seen[s->cur];
    pd_seen_t *next = s->seen[1u - s->cur];
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->lease_count && n < PD_LEASE_MAX; i++, n++) {
        pd_order_of(&d->leases[i], next[n].order);
        next[n].confirmed = d->leases[i].last_confirmed_height;
        for (uint32_t k = 0; k < s->seen_count[s->cur]; k++) {
            if (strcmp(prev[k].order, next[n].order) == 0 &&
                next[n].confirmed > prev[k].confirmed) {
                s->landed++;
            }
        }
    }
    s->cur = 1u - s->cur;
    s->seen_count[s->cur] = n;
}

static uint32_t
pd_lease_containers(const kumo_provider_daemon_t *d, const pd_lease_t *l, uint32_t *running)
{
    uint32_t total = 0;
    *running = 0;
    for (uint32_t i = 0; i < d->container_count; i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        if (c->dseq == l->dseq && c->gseq == l->gseq && strcmp(c->owner, l->owner) == 0) {
            total++;
            *running += c->state == KUMO_RUNTIME_STATE_RUNNING ? 1u : 0u;
        }
    }
    return total;
}

static json_t *pd_status_leases(const kumo_provider_daemon_t *d, pd_snapshot_t *snap)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        char order[KUMO_ID_TEXT_BYTES];
        pd_order_of(l, order);
        uint32_t running = 0;
        uint32_t total = pd_lease_containers(d, l, &running);
        snap->leases_active += l->active ? 1u : 0u;
        snap->leases_closing += l->active ? 0u : 1u;
        snap->earnings_ukumo += l->total_paid_ukumo;
        (void)json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:i, s:i}", "order", order, "state",
                           l->active ? "active" : "closing", "price_ukumo_per_block",
                           (json_int_t)l->price_ukumo_per_block, "paid_ukumo",
                           (json_int_t)l->total_paid_ukumo, "last_confirmed_height",
                           (json_int_t)l->last_confirmed_height, "runs", l->runs,
                           "containers_running", (int)running, "containers", (int)total));
    }
    return arr;
}

static void pd_status_capacity(const kumo_provider_daemon_t *d, pd_snapshot_t *snap)
{
    for (uint32_t i = 0; i < d->hold_count; i++) {
        const kumo_provider_bid_t *b = &d->holds[i].bid;
        uint64_t *into = d->holds[i].lease ? snap->leased : snap->bid;
        into[0] += b->cpu_milli;
        into[1] += b->memory_bytes;
        into[2] += b->storage_bytes;
        into[3] += b->gpu_count;
    }
    for (uint32_t i = 0; i < d->container_count; i++) {
        snap->containers_total++;
        snap->containers_running += d->containers[i].state == KUMO_RUNTIME_STATE_RUNNING ? 1u : 0u;
    }
    snap->start_backlog = pd_start_backlog(d, "");
}

/* Every GPU declared: what it is and who holds it ("free", "leased" or "bid" and the order). */
static json_t *pd_status_gpus(const kumo_provider_daemon_t *d)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < d->cfg.gpu_count; i++) {
        const kumo_provider_gpu_t *g = &d->cfg.gpus[i];
        const pd_hold_t *by = NULL;
        for (uint32_t k = 0; k < d->hold_count && by == NULL; k++) {
            by = (d->holds[k].bid.gpu_mask & (1ull << i)) != 0 ? &d->holds[k] : NULL;
        }
        const char *state = by == NULL ? "free" : by->lease ? "leased" : "bid";
        (void)json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s}", "index",
                                                   (int)i, "vendor", g->vendor, "model", g->model,
                                                   "memory_bytes", (json_int_t)g->memory_bytes,
                                                   "device", g->device, "state", state, "order",
                                                   by != NULL ? by->order : ""));
    }
    return arr;
}

static json_t *
pd_status_json(const kumo_provider_daemon_t *d, const pd_status_t *s, pd_snapshot_t *snap)
{
    json_t *leases = pd_status_leases(d, snap);
    pd_status_capacity(d, snap);
    struct timespec now;
    (void)clock_gettime(CLOCK_REALTIME, &now);
    json_int_t now_ms = (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    const uint64_t total[4] = {d->cfg.capacity_cpu_milli, d->cfg.capacity_memory_bytes,
                               d->cfg.capacity_storage_bytes, d->cfg.gpu_count};
    static const char *const names[4] = {"cpu_milli", "memory_bytes", "storage_bytes", "gpus"};
    json_t *cap = json_object();
    for (size_t i = 0; cap != NULL && i < 4; i++) {
        (void)json_object_set_new(cap, names[i],
                                  json_pack("{s:I, s:I, s:I}", "total", (json_int_t)total[i],
                                            "leased", (json_int_t)snap->leased[i], "bid",
                                            (json_int_t)snap->bid[i]));
    }
    json_t *st = json_pack(
        "{s:s, s:s, s:I, s:I, s:b, s:o, s:{s:I, s:I}, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I}, s:{s:I, s:I, s:I}}",
        "address", d->addr, "region", d->cfg.region, "height", (json_int_t)d->height,
        "updated_unix_ms", now_ms, "runtime_up", d->runtime_up, "leases", leases, "containers",
        "running", (json_int_t)snap->containers_running, "total",
        (json_int_t)snap->containers_total, "capacity", cap, "earnings_ukumo",
        (json_int_t)snap->earnings_ukumo, "counters", "bids_sent", (json_int_t)d->bids_sent,
        "confirmations_sent", (json_int_t)d->confirmations_sent, "confirmations_landed",
        (json_int_t)s->landed, "refusals_sent", (json_int_t)d->refusals_sent, "runtime_errors",
        (json_int_t)d->runtime_errors, "passes", (json_int_t)s->passes, "pass_ms_last",
        (json_int_t)s->pass_ms_last, "pace", "start_ms", (json_int_t)d->start_ms, "block_ms",
        (json_int_t)d->block_ms, "start_backlog", (json_int_t)snap->start_backlog);
    if (st != NULL) {
        (void)json_object_set_new(st, "gpus", pd_status_gpus(d));
    }
    return st;
}

/* One Prometheus sample line; a full buffer drops the rest (the text stays well-formed up to
 * the last whole line, and the cap is far above what 1024 leases need). */
static void pd_metric(kumo_buf_t *b, const char *name, const char *labels, uint64_t v)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%s%s%s%s %" PRIu64 "\n", name,
                     labels[0] != '\0' ? "{" : "", labels, labels[0] != '\0' ? "}" : "", v);
    if (n > 0 && (size_t)n < sizeof(line) && kumo_buf_append(b, line, (size_t)n) != 0) {
        return; /* full: this line and the rest are left out */
    }
}

static void pd_metric_help(kumo_buf_t *b, const char *name, const char *type, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (n > 0 && (size_t)n < sizeof(line) && kumo_buf_append(b, line, (size_t)n) != 0) {
        return; /* full: this line and the rest are left out */
    }
}

static void pd_metrics_leases(kumo_buf_t *b, const kumo_provider_daemon_t *d)
{
    pd_metric_help(b, "kumo_provider_lease_last_confirmed_height", "gauge",
                   "height of the lease's last confirmation on chain");
    for (uint32_t i = 0; i < d->lease_count; i++) {
        char order[KUMO_ID_TEXT_BYTES];
        char labels[KUMO_ID_TEXT_BYTES + 32];
        pd_order_of(&d->leases[i], order);
        (void)snprintf(labels, sizeof(labels), "order=\"%s\"", order);
        pd_metric(b, "kumo_provider_lease_last_confirmed_height", labels,
                  d->leases[i].last_confirmed_height);
    }
}

static void pd_metrics_render(kumo_buf_t *b,
                              const kumo_provider_daemon_t *d,
                              const pd_status_t *s,
                              const pd_snapshot_t *snap)
{
    pd_metric_help(b, "kumo_provider_leases", "gauge", "leases of this provider by state");
    pd_metric(b, "kumo_provider_leases", "state=\"active\"", snap->leases_active);
    pd_metric(b, "kumo_provider_leases", "state=\"closing\"", snap->leases_closing);
    pd_metric_help(b, "kumo_provider_containers", "gauge", "containers by state");
    pd_metric(b, "kumo_provider_containers", "state=\"running\"", snap->containers_running);
    pd_metric(b, "kumo_provider_containers", "state=\"other\"",
              snap->containers_total - snap->containers_running);
    static const char *const res[4] = {"cpu_milli", "memory_bytes", "storage_bytes", "gpus"};
    const uint64_t total[4] = {d->cfg.capacity_cpu_milli, d->cfg.capacity_memory_bytes,
                               d->cfg.capacity_storage_bytes, d->cfg.gpu_count};
    pd_metric_help(b, "kumo_provider_capacity", "gauge",
                   "capacity by resource: total, leased (won leases) and bid (open bids)");
    for (size_t i = 0; i < 4; i++) {
        char labels[96];
        (void)snprintf(labels, sizeof(labels), "resource=\"%s\",kind=\"total\"", res[i]);
        pd_metric(b, "kumo_provider_capacity", labels, total[i]);
        (void)snprintf(labels, sizeof(labels), "resource=\"%s\",kind=\"leased\"", res[i]);
        pd_metric(b, "kumo_provider_capacity", labels, snap->leased[i]);
        (void)snprintf(labels, sizeof(labels), "resource=\"%s\",kind=\"bid\"", res[i]);
        pd_metric(b, "kumo_provider_capacity", labels, snap->bid[i]);
    }
    static const struct {
        const char *name;
        const char *help;
    } counters[] = {
        {"kumo_provider_bids_sent_total", "bids sent"},
        {"kumo_provider_confirmations_sent_total", "lease confirmations sent"},
        {"kumo_provider_confirmations_landed_total",
         "lease confirmations seen on chain (a lease's last confirmed height grew)"},
        {"kumo_provider_refusals_sent_total", "leases refused on chain"},
        {"kumo_provider_runtime_errors_total", "container runtime calls that failed"},
        {"kumo_provider_passes_total", "reconcile passes"},
        {"kumo_provider_pass_milliseconds_total", "time spent in reconcile passes"},
    };
    const uint64_t values[] = {d->bids_sent,     d->confirmations_sent, s->landed,
                               d->refusals_sent, d->runtime_errors,     s->passes,
                               s->pass_ms_sum};
    _Static_assert(KUMO_ARRAY_COUNT(counters) == KUMO_ARRAY_COUNT(values), "one value each");
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(counters); i++) {
        pd_metric_help(b, counters[i].name, "counter", counters[i].help);
        pd_metric(b, counters[i].name, "", values[i]);
    }
    pd_metric_help(b, "kumo_provider_pass_milliseconds_last", "gauge", "the last pass's length");
    pd_metric(b, "kumo_provider_pass_milliseconds_last", "", s->pass_ms_last);
    pd_metric_help(b, "kumo_provider_earnings_ukumo", "gauge", "paid so far on the leases held");
    pd_metric(b, "kumo_provider_earnings_ukumo", "", snap->earnings_ukumo);
    pd_metric_help(b, "kumo_provider_runtime_up", "gauge", "1 when the runtime answered");
    pd_metric(b, "kumo_provider_runtime_up", "", d->runtime_up ? 1u : 0u);
    pd_metric_help(b, "kumo_provider_start_milliseconds", "gauge",
                   "moving average of a container start (the pace bids keep to)");
    pd_metric(b, "kumo_provider_start_milliseconds", "", d->start_ms);
    pd_metric_help(b, "kumo_provider_block_milliseconds", "gauge",
                   "moving average of the time between two blocks");
    pd_metric(b, "kumo_provider_block_milliseconds", "", d->block_ms);
    pd_metric_help(b, "kumo_provider_start_backlog", "gauge",
                   "instances of open bids and leases waiting for a start");
    pd_metric(b, "kumo_provider_start_backlog", "", snap->start_backlog);
    pd_metric_help(b, "kumo_provider_height", "gauge", "the last block seen");
    pd_metric(b, "kumo_provider_height", "", d->height);
    pd_metrics_leases(b, d);
}

void pd_status_update(kumo_provider_daemon_t *d, uint64_t pass_ms)
{
    pd_status_t *s = d->status;
    if (s == NULL) {
        return;
    }
    s->passes++;
    s->pass_ms_sum += pass_ms;
    s->pass_ms_last = pass_ms;
    pd_status_landed(s, d);
    pd_snapshot_t snap = {0};
    json_t *j = pd_status_json(d, s, &snap);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char path[PD_PATH_BYTES];
    kumo_err_ctx_t err = {0};
    int n = snprintf(path, sizeof(path), "%s/status.json", d->home);
    if (text != NULL && n > 0 && (size_t)n < sizeof(path) && strlen(text) < PD_STATUS_BYTES_MAX &&
        kumo_file_write(path, kumo_bytes_make(text, strlen(text)), 0600, &err) != 0) {
        KUMO_LOG_WARN("provider", "status_write_failed", "detail=\"%s\"", err.detail);
    }
    free(text);
    (void)pthread_mutex_lock(&s->mu);
    kumo_buf_reset(&s->text);
    pd_metrics_render(&s->text, d, s, &snap);
    (void)pthread_mutex_unlock(&s->mu);
}

void pd_status_metrics(kumo_provider_daemon_t *d, kumo_buf_t *out)
{
    pd_status_t *s = d->status;
    if (s == NULL) {
        return;
    }
    (void)pthread_mutex_lock(&s->mu);
    int rc = kumo_buf_append(out, s->text.ptr, s->text.len);
    (void)pthread_mutex_unlock(&s->mu);
    if (rc != 0) {
        KUMO_LOG_WARN("provider", "metrics_too_long", "bytes=%zu", s->text.len);
    }
}

/* The tunnels' counters (read here: the metrics are served on the tunnels' loop). */
static void pd_metrics_tunnels(kumo_provider_daemon_t *d, kumo_buf_t *b)
{
    kumo_overlay_tunnel_stats_t srv;
    kumo_overlay_tunnel_stats_t cli;
    pd_tun_stats(d, &srv, &cli);
    pd_metric_help(b, "kumo_provider_tunnels", "gauge", "tunnels up now, by side");
    pd_metric(b, "kumo_provider_tunnels", "side=\"server\"", srv.tunnels);
    pd_metric(b, "kumo_provider_tunnels", "side=\"client\"", cli.tunnels);
    pd_metric_help(b, "kumo_provider_tunnels_opened_total", "counter", "tunnels that came up");
    pd_metric(b, "kumo_provider_tunnels_opened_total", "side=\"server\"", srv.tunnels_opened);
    pd_metric(b, "kumo_provider_tunnels_opened_total", "side=\"client\"", cli.tunnels_opened);
    pd_metric_help(b, "kumo_provider_tunnels_refused_total", "counter",
                   "tunnel handshakes failed or peers refused (certificate, root, names)");
    pd_metric(b, "kumo_provider_tunnels_refused_total", "side=\"server\"", srv.refused);
    pd_metric(b, "kumo_provider_tunnels_refused_total", "side=\"client\"", cli.refused);
    pd_metric_help(b, "kumo_provider_tunnel_streams_opened_total", "counter",
                   "connections carried through tunnels");
    pd_metric(b, "kumo_provider_tunnel_streams_opened_total", "side=\"server\"",
              srv.streams_opened);
    pd_metric(b, "kumo_provider_tunnel_streams_opened_total", "side=\"client\"",
              cli.streams_opened);
    pd_metric_help(b, "kumo_provider_tunnels_revoked_total", "counter",
                   "tunnels closed because the pair is no longer allowed");
    pd_metric(b, "kumo_provider_tunnels_revoked_total", "", srv.revoked);
}

/* GET /metrics: the text of the last pass and the forwarder's gauges (read here, on the
 * thread that runs it). */
static void pd_metrics_cb(struct evhttp_request *req, void *arg)
{
    kumo_provider_daemon_t *d = arg;
    pd_status_t *s = d->status;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "GET only");
        return;
    }
    kumo_buf_t b;
    kumo_buf_init(&b, PD_METRICS_BYTES_MAX + 4096u);
    pd_status_metrics(d, &b);
    if (s->fwd != NULL) {
        pd_metric_help(&b, "kumo_provider_forward_connections", "gauge",
                       "connections the forwarder relays now");
        pd_metric(&b, "kumo_provider_forward_connections", "", kumo_overlay_fwd_active(s->fwd));
        pd_metric_help(&b, "kumo_provider_forward_relayed_total", "counter",
                       "connections the forwarder relayed");
        pd_metric(&b, "kumo_provider_forward_relayed_total", "", kumo_overlay_fwd_relayed(s->fwd));
        pd_metric_help(&b, "kumo_provider_forward_refused_total", "counter",
                       "connections the forwarder refused (no rule, or over a cap)");
        pd_metric(&b, "kumo_provider_forward_refused_total", "",
                  kumo_overlay_fwd_refused(s->fwd) + kumo_overlay_fwd_capped(s->fwd));
    }
    pd_metrics_tunnels(d, &b);
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        kumo_buf_free(&b);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    (void)evbuffer_add(out, b.ptr, b.len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    kumo_buf_free(&b);
}

int pd_metrics_open(kumo_provider_daemon_t *d,
                    struct event_base *base,
                    kumo_overlay_fwd_t *fwd,
                    kumo_err_ctx_t *err)
{
    pd_status_t *s = d->status;
    const char *listen = d->cfg.metrics_listen;
    if (s == NULL || listen[0] == '\0') {
        return 0;
    }
    char host[128];
    const char *colon = strrchr(listen, ':');
    int n =
        colon != NULL ? snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen) : -1;
    char *end = NULL;
    unsigned long port = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(host) && end != colon + 1 && *end == '\0' &&
                    port <= 65535u,
                err, KUMO_EINVAL, "metrics_listen '%s': expected host:port", listen);
    s->http = evhttp_new(base);
    KUMO_ENSURE(s->http != NULL, err, KUMO_ENOMEM, "metrics listener");
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET);
    evhttp_set_timeout(s->http, 10);
    KUMO_ENSURE(evhttp_set_cb(s->http, "/metrics", pd_metrics_cb, d) == 0, err, KUMO_ENOMEM,
                "metrics route");
    s->fwd = fwd;
    if (evhttp_bind_socket(s->http, host, (uint16_t)port) != 0) {
        evhttp_free(s->http);
        s->http = NULL;
        return kumo_err_set(err, KUMO_EIO, "cannot listen on metrics_listen %s", listen);
    }
    KUMO_LOG_INFO("provider", "metrics_listening", "at=%s", listen);
    return 0;
}

void pd_metrics_close(kumo_provider_daemon_t *d)
{
    pd_status_t *s = d->status;
    if (s != NULL && s->http != NULL) {
        evhttp_free(s->http);
        s->http = NULL;
        s->fwd = NULL;
    }
}
