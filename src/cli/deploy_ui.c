/*
 * deploy_ui.c - `kumo deploy ui STACK.yml [--listen 127.0.0.1:PORT]`: the node's dashboard
 * (the same files, built into the binary by the rpc module) served on the tenant's own
 * machine, with the deployment's view filled in from its providers. The providers answer only
 * the owner (a client certificate made from the owner's key) and a browser holds no kumo key,
 * so this process asks them with the tenant's key: GET /tenant/status answers what `kumo
 * deploy status --output json` prints. Everything else the page reads straight from the node
 * (its answers allow any origin). Loopback only, and only requests whose Host names this
 * address (so a web page that rebinds its name to 127.0.0.1 cannot read the answers); GET
 * only; one request at a time, each answered before the next is read.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli/deploy_int.h"
#include "rpc/rpc.h"

/* The node origin (scheme://host:port) and the listen address, as text. */
#define UI_ORIGIN_BYTES_MAX 200u
#define UI_HOST_BYTES_MAX   64u

typedef struct ui_srv {
    deploy_flow_t *f;
    struct event_base *base;
    struct evhttp *http;
    uint16_t port;
    char origin[UI_ORIGIN_BYTES_MAX + 1];
    char host_ip[UI_HOST_BYTES_MAX]; /* Host header value the requests must carry */
    char host_name[UI_HOST_BYTES_MAX];
    char *config; /* config.json */
} ui_srv_t;

static void ui_reply(struct evhttp_request *hreq, int status, const char *reason, json_t *obj)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    struct evbuffer *buf = evbuffer_new();
    if (s == NULL || buf == NULL || evbuffer_add(buf, s, strlen(s)) != 0) {
        free(s);
        if (buf != NULL) {
            evbuffer_free(buf);
        }
        evhttp_send_error(hreq, 500, "out of memory");
        return;
    }
    free(s);
    struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
    (void)evhttp_add_header(h, "Content-Type", "application/json");
    (void)evhttp_add_header(h, "Cache-Control", "no-store");
    (void)evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_send_reply(hreq, status, reason, buf);
    evbuffer_free(buf);
}

static void ui_error(struct evhttp_request *hreq, int status, int code, const char *detail)
{
    json_t *o = json_pack("{s:{s:i, s:s, s:s, s:s}}", "error", "code", code, "name",
                          kumo_err_name(code), "message", kumo_err_msg(code), "detail", detail);
    ui_reply(hreq, status, "Error", o);
}

/* GET /tenant/status?owner=OWNER&dseq=DSEQ: only this deployment's. */
static void ui_status(ui_srv_t *s, struct evhttp_request *hreq, const char *query)
{
    struct evkeyvalq q = {0}; /* evhttp_parse_query_str initialises it and frees it on failure */
    if (query == NULL || evhttp_parse_query_str(query, &q) != 0) {
        ui_error(hreq, 400, KUMO_EINVAL, "want ?owner=&dseq=");
        return;
    }
    const char *owner = evhttp_find_header(&q, "owner");
    const char *dseq = evhttp_find_header(&q, "dseq");
    char want[24];
    (void)snprintf(want, sizeof(want), "%" PRIu64, s->f->dseq);
    bool mine =
        owner != NULL && dseq != NULL && strcmp(owner, s->f->owner) == 0 && strcmp(dseq, want) == 0;
    evhttp_clear_headers(&q);
    if (!mine) {
        ui_error(hreq, 404, KUMO_ENOTFOUND, "this server shows only its own deployment");
        return;
    }
    json_t *o = json_object();
    kumo_err_ctx_t err = {0};
    if (o == NULL || deploy_status_collect(s->f, o, &err) < 0) {
        json_decref(o);
        ui_error(hreq, 502, err.code < 0 ? err.code : KUMO_ENOMEM, err.detail);
        return;
    }
    ui_reply(hreq, 200, "OK", o);
}

static bool ui_host_ok(const ui_srv_t *s, struct evhttp_request *hreq)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(hreq), "Host");
    return host != NULL && (strcmp(host, s->host_ip) == 0 || strcmp(host, s->host_name) == 0);
}

static void ui_on_request(struct evhttp_request *hreq, void *arg)
{
    ui_srv_t *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(hreq);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (!ui_host_ok(s, hreq)) {
        ui_error(hreq, 403, KUMO_EUNAUTH, "Host must name this loopback address");
        return;
    }
    if (evhttp_request_get_command(hreq) != EVHTTP_REQ_GET || path == NULL) {
        ui_error(hreq, 405, KUMO_EINVAL, "GET only");
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(hreq), "Location", "/ui/");
        evhttp_send_reply(hreq, 302, "Found", NULL);
        return;
    }
    if (strcmp(path, "/tenant/status") == 0) {
        ui_status(s, hreq, evhttp_uri_get_query(uri));
        return;
    }
    const kumo_rpc_ui_file_t cfg = {"config.json", (const uint8_t *)s->config, strlen(s->config)};
    const kumo_rpc_ui_file_t *f =
        strcmp(path, "/ui/config.json") == 0 ? &cfg : kumo_rpc_ui_file_find(path);
    if (f == NULL) {
        ui_error(hreq, 404, KUMO_ENOTFOUND, "no such file");
        return;
    }
    kumo_rpc_ui_file_send(hreq, f, s->origin);
}

/* The node's origin (scheme://host:port, no path) for the page and its policy. */
static int ui_origin_make(const char *node, char *out, size_t cap, kumo_err_ctx_t *err)
{
    const char *rest = strstr(node, "://");
    KUMO_ENSURE(rest != NULL, err, KUMO_EINVAL, "--node %.64s: want http://host:port", node);
    const char *slash = strchr(rest + 3, '/');
    size_t len = slash != NULL ? (size_t)(slash - node) : strlen(node);
    KUMO_ENSURE(len < cap, err, KUMO_ELIMIT, "--node: over %zu bytes", cap - 1u);
    memcpy(out, node, len);
    out[len] = '\0';
    char csp[KUMO_RPC_UI_CSP_BYTES_MAX];
    return kumo_rpc_ui_csp_format(out, csp, sizeof(csp), err);
}

/* --listen: a loopback address only (the answers are the owner's). */
static int ui_listen_parse(const char *text, uint16_t *port, kumo_err_ctx_t *err)
{
    const char *colon = strrchr(text, ':');
    KUMO_ENSURE(colon != NULL, err, KUMO_EINVAL, "--listen %.64s: want 127.0.0.1:PORT", text);
    size_t host_len = (size_t)(colon - text);
    bool loopback = (host_len == 9 && strncmp(text, "127.0.0.1", 9) == 0) ||
                    (host_len == 9 && strncmp(text, "localhost", 9) == 0);
    KUMO_ENSURE(loopback, err, KUMO_EINVAL,
                "--listen %.64s: only 127.0.0.1 or localhost (the answers are the owner's)", text);
    uint64_t p = 0;
    KUMO_ENSURE(cli_u64_parse(colon + 1, "--listen port", &p, NULL) == 0 && p <= UINT16_MAX, err,
                KUMO_EINVAL, "--listen %.64s: bad port", text);
    *port = (uint16_t)p;
    return 0;
}

static int ui_config_make(ui_srv_t *s, kumo_err_ctx_t *err)
{
    char dseq[24];
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, s->f->dseq);
    json_t *c = json_pack("{s:s, s:b, s:s, s:s}", "api", s->origin, "tenant", 1, "owner",
                          s->f->owner, "dseq", dseq);
    s->config = c != NULL ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    KUMO_ENSURE(s->config != NULL, err, KUMO_ENOMEM, "config.json");
    return 0;
}

static int ui_bind(ui_srv_t *s, uint16_t port, kumo_err_ctx_t *err)
{
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", port);
    KUMO_ENSURE(sock != NULL, err, KUMO_EIO, "cannot listen on 127.0.0.1:%u", (unsigned)port);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    KUMO_ENSURE(getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0 &&
                    ss.ss_family == AF_INET,
                err, KUMO_EIO, "getsockname failed");
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    (void)snprintf(s->host_ip, sizeof(s->host_ip), "127.0.0.1:%u", (unsigned)s->port);
    (void)snprintf(s->host_name, sizeof(s->host_name), "localhost:%u", (unsigned)s->port);
    return 0;
}

static void ui_on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static int ui_serve(ui_srv_t *s, uint16_t port, kumo_err_ctx_t *err)
{
    KUMO_GUARD(ui_config_make(s, err));
    s->base = event_base_new();
    s->http = s->base != NULL ? evhttp_new(s->base) : NULL;
    KUMO_ENSURE(s->http != NULL, err, KUMO_ENOMEM, "http server");
    evhttp_set_max_headers_size(s->http, 16 * 1024);
    evhttp_set_max_body_size(s->http, 0);
    evhttp_set_timeout(s->http, 30);
    evhttp_set_gencb(s->http, ui_on_request, s);
    KUMO_GUARD(ui_bind(s, port, err));
    struct event *sig_int = evsignal_new(s->base, SIGINT, ui_on_signal, s->base);
    struct event *sig_term = evsignal_new(s->base, SIGTERM, ui_on_signal, s->base);
    int rc = 0;
    if (sig_int == NULL || sig_term == NULL || event_add(sig_int, NULL) != 0 ||
        event_add(sig_term, NULL) != 0) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "signal events");
        goto out_free_signals;
    }
    printf("dashboard: http://127.0.0.1:%u/ui/ (deployment %s; Ctrl-C stops)\n", (unsigned)s->port,
           s->f->dep_id);
    (void)fflush(stdout);
    (void)event_base_dispatch(s->base);
out_free_signals:
    if (sig_int != NULL) {
        event_free(sig_int);
    }
    if (sig_term != NULL) {
        event_free(sig_term);
    }
    return rc;
}

int deploy_ui_run(cli_args_t *a)
{
    ui_srv_t s = {0};
    uint16_t port = 0;
    kumo_err_ctx_t err = {0};
    if (ui_listen_parse(a->listen != NULL ? a->listen : "127.0.0.1:0", &port, &err) < 0 ||
        ui_origin_make(a->node, s.origin, sizeof(s.origin), &err) < 0) {
        return cli_usage_fail("deploy ui", "%s", err.detail);
    }
    s.f = calloc(1, sizeof(*s.f));
    if (s.f == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc = deploy_flow_init(s.f, a, true, &err);
    if (rc == 0) {
        rc = ui_serve(&s, port, &err);
    }
    rc = rc < 0 ? cli_fail("deploy ui", &err) : CLI_EXIT_OK;
    if (s.http != NULL) {
        evhttp_free(s.http);
    }
    if (s.base != NULL) {
        event_base_free(s.base);
    }
    free(s.config);
    deploy_flow_free(s.f);
    free(s.f);
    return rc;
}
