/*
 * api.c - the provider's HTTPS API (provider_api.h, docs/provider-api.md) on libevent:
 * evhttp over bufferevent_openssl, TLS 1.3, the server certificate issued by the provider's
 * root, optional client certificates whose Ed25519 key is the caller's account key. The
 * routes check who calls and what is sent in the documented order; what the provider knows
 * comes from the daemon through the backend.
 */
#include "provider/api_int.h"
#include "provider/provider_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include "codec/codec.h"
#include "log/log.h"
#include "tls/tls.h"

/* An idle connection is dropped after this; a request's headers are bounded. */
#define API_TIMEOUT_S          30
#define API_HEADERS_BYTES_MAX  8192
#define API_CONNECTION_DEFAULT 128u

struct kumo_provider_api {
    struct event_base *base;
    struct evhttp *http;
    void *ssl_ctx;
    kumo_provider_api_backend_t backend;
    uint32_t connection_count; /* live TLS connections counted against connection_max */
    uint32_t connection_max;
    char listen_addr[144];
};

/* Each counted connection's SSL carries its API in this ex_data slot; freeing the SSL (with
 * the connection) gives the slot back. Connections past connection_max carry NULL. */
static int api_ex_index = -1;
static pthread_once_t api_ex_once = PTHREAD_ONCE_INIT;

static void api_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    kumo_provider_api_t *api = ptr;
    if (api != NULL) {
        KUMO_ASSERT(api->connection_count > 0);
        api->connection_count--;
    }
}

static void api_ex_init(void)
{
    api_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, api_ex_free);
}

/* ---- answers ---- */

static void api_json(struct evhttp_request *req, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evbuffer *out = evbuffer_new();
    if (out != NULL && text != NULL) {
        (void)evbuffer_add(out, text, strlen(text));
        (void)evbuffer_add(out, "\n", 1);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, text != NULL ? status : 500, status == 200 ? "OK" : "Error", out);
    if (out != NULL) {
        evbuffer_free(out);
    }
    free(text);
}

static void api_error(struct evhttp_request *req, int status, int code, const char *detail)
{
    api_json(req, status,
             json_pack("{s:{s:i, s:s, s:s, s:s}}", "error", "code", code, "name",
                       kumo_err_name(code), "message", kumo_err_msg(code), "detail", detail));
}

static SSL *api_ssl(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
    return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

/* The caller's account address from its client certificate; false when it sent none. */
static bool api_caller(struct evhttp_request *req, uint8_t addr[KUMO_ADDRESS_BYTES])
{
    SSL *ssl = api_ssl(req);
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    if (ssl == NULL || kumo_tls_peer_pubkey(ssl, pubkey, NULL) < 0) {
        return false;
    }
    kumo_crypto_address_from_pubkey(pubkey, addr);
    return true;
}

/* "/deployments/<owner>/<dseq>/<leaf>" into its parts. */
bool kumo_provider_api_path_parse(const char *path,
                                  uint8_t owner[KUMO_ADDRESS_BYTES],
                                  uint64_t *dseq,
                                  char *leaf,
                                  size_t leaf_cap)
{
    static const char prefix[] = "/deployments/";
    if (strncmp(path, prefix, sizeof(prefix) - 1u) != 0) {
        return false;
    }
    char buf[256];
    if (snprintf(buf, sizeof(buf), "%s", path + sizeof(prefix) - 1u) >= (int)sizeof(buf)) {
        return false;
    }
    char *q = strchr(buf, '?');
    if (q != NULL) {
        *q = '\0';
    }
    char *save = NULL;
    char *o = strtok_r(buf, "/", &save);
    char *d = strtok_r(NULL, "/", &save);
    char *l = strtok_r(NULL, "/", &save);
    char *end = NULL;
    if (o == NULL || d == NULL || l == NULL || strtok_r(NULL, "/", &save) != NULL ||
        kumo_codec_address_decode(o, owner, NULL) < 0 || d[0] < '0' || d[0] > '9') {
        return false;
    }
    *dseq = strtoull(d, &end, 10);
    return end != NULL && *end == '\0' && snprintf(leaf, leaf_cap, "%s", l) < (int)leaf_cap;
}

/* ---- routes ---- */

/* The checks an upload shares, in the documented order: the body within max (413), then a
 * deployment of the owner's with a lease here (404). False when it answered. */
static bool api_body_and_view(kumo_provider_api_t *api,
                              struct evhttp_request *req,
                              const uint8_t owner[KUMO_ADDRESS_BYTES],
                              uint64_t dseq,
                              size_t len,
                              size_t max,
                              const char *too_big,
                              kumo_provider_deployment_view_t *view)
{
    if (len > max) {
        api_error(req, 413, KUMO_ELIMIT, too_big);
        return false;
    }
    kumo_err_ctx_t err = {0};
    if (api->backend.deployment_view(api->backend.ctx, owner, dseq, view, &err) < 0 ||
        !view->known || !view->has_lease) {
        api_error(req, 404, KUMO_ENOTFOUND, "no deployment of yours with a lease here");
        return false;
    }
    return true;
}

/* PUT .../manifest: the checks of docs/provider-api.md, in that order. */
static void api_manifest(kumo_provider_api_t *api,
                         struct evhttp_request *req,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq)
{
    if (memcmp(caller, owner, KUMO_ADDRESS_BYTES) != 0) {
        api_error(req, 403, KUMO_EUNAUTH, "only the deployment's owner may send its manifest");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    kumo_provider_deployment_view_t view = {0};
    if (!api_body_and_view(api, req, owner, dseq, len, KUMO_PROVIDER_MANIFEST_BYTES_MAX,
                           "manifest over 1 MiB", &view)) {
        return;
    }
    kumo_err_ctx_t err = {0};
    const uint8_t *body = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : (const uint8_t *)"";
    kumo_bytes_t manifest = kumo_bytes_make(body, len);
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    if (kumo_crypto_merkle_root(manifest, root) < 0 ||
        memcmp(root, view.version, sizeof(root)) != 0) {
        api_error(req, 409, KUMO_EMISMATCH, "the manifest's root is not the deployment's version");
        return;
    }
    ProtobufCMessage *m = NULL;
    if (kumo_codec_unpack(&kumo__manifest__descriptor, manifest, KUMO_PROVIDER_MANIFEST_BYTES_MAX,
                          &m, &err) < 0) {
        api_error(req, 422, KUMO_EDECODE, err.detail);
        return;
    }
    kumo_codec_free(m);
    int rc = api->backend.manifest_accept(api->backend.ctx, owner, dseq, manifest, &err);
    if (rc < 0) {
        /* A manifest that breaks the lease is the client's (422, with the rule); the daemon
         * failing to ask the node or to store is ours (500). */
        int status = rc == KUMO_EIO || rc == KUMO_ENOMEM ? 500 : 422;
        api_error(req, status, rc, err.detail);
        return;
    }
    char hex[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    if (kumo_codec_hex_encode(kumo_bytes_make(root, sizeof(root)), hex, sizeof(hex)) < 0) {
        hex[0] = '\0';
    }
    api_json(req, 200, json_pack("{s:s, s:b}", "version", hex, "accepted", 1));
}

static void api_logs(kumo_provider_api_t *api,
                     struct evhttp_request *req,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq)
{
    struct evkeyvalq q;
    const char *uri = evhttp_request_get_uri(req);
    const char *qs = strchr(uri, '?');
    uint32_t tail = 100;
    const char *workload = "";
    if (qs != NULL && evhttp_parse_query_str(qs + 1, &q) == 0) {
        const char *t = evhttp_find_header(&q, "tail");
        const char *w = evhttp_find_header(&q, "workload");
        unsigned long v = t != NULL ? strtoul(t, NULL, 10) : tail;
        tail = (uint32_t)(v > 0 && v <= KUMO_PROVIDER_LOG_TAIL_MAX ? v : tail);
        workload = w != NULL ? w : workload;
        kumo_buf_t out;
        kumo_buf_init(&out, 16u * 1024u * 1024u);
        kumo_err_ctx_t err = {0};
        int rc = api->backend.logs(api->backend.ctx, owner, dseq, workload, tail, &out, &err);
        evhttp_clear_headers(&q);
        if (rc < 0) {
            kumo_buf_free(&out);
            api_error(req, rc == KUMO_ENOTFOUND ? 404 : 500, rc, err.detail);
            return;
        }
        struct evbuffer *b = evbuffer_new();
        if (b != NULL && out.len > 0) {
            (void)evbuffer_add(b, out.ptr, out.len);
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
        evhttp_send_reply(req, 200, "OK", b);
        if (b != NULL) {
            evbuffer_free(b);
        }
        kumo_buf_free(&out);
        return;
    }
    api_error(req, 400, KUMO_EDECODE, "logs need ?workload=NAME[&tail=N]");
}

/* ---- links ---- */

static bool api_link_name_ok(const char *s)
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

static bool api_link_host_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > KUMO_PROVIDER_HOST_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':')) {
            return false;
        }
    }
    return true;
}

static bool api_link_port(const json_t *j, uint32_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > 65535) {
        return false;
    }
    *out = (uint32_t)json_integer_value(j);
    return true;
}

static int
api_link_parse(const json_t *item, size_t i, kumo_provider_link_t *l, kumo_err_ctx_t *err)
{
    const char *w = json_string_value(json_object_get(item, "workload"));
    const char *h = json_string_value(json_object_get(item, "host"));
    KUMO_ENSURE(json_is_object(item) && json_object_size(item) == 4, err, KUMO_EDECODE,
                "links[%zu]: expected an object with workload, port, host, host_port", i);
    KUMO_ENSURE(w != NULL && api_link_name_ok(w), err, KUMO_EDECODE,
                "links[%zu].workload: expected a workload name", i);
    KUMO_ENSURE(h != NULL && api_link_host_ok(h), err, KUMO_EDECODE,
                "links[%zu].host: expected a host name or IP address", i);
    KUMO_ENSURE(api_link_port(json_object_get(item, "port"), &l->port) &&
                    api_link_port(json_object_get(item, "host_port"), &l->host_port),
                err, KUMO_EDECODE, "links[%zu]: port and host_port must be 1..65535", i);
    (void)snprintf(l->workload, sizeof(l->workload), "%s", w);
    (void)snprintf(l->host, sizeof(l->host), "%s", h);
    return 0;
}

int kumo_provider_api_links_parse(const uint8_t *body,
                                  size_t len,
                                  kumo_provider_link_t *out,
                                  size_t *count_out,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL && count_out != NULL);
    KUMO_ASSERT(body != NULL || len == 0);
    *count_out = 0;
    KUMO_ENSURE(len <= KUMO_PROVIDER_LINKS_BYTES_MAX, err, KUMO_ELIMIT, "links over %u bytes",
                KUMO_PROVIDER_LINKS_BYTES_MAX);
    json_error_t jerr;
    json_t *j = len > 0 ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const json_t *arr = json_object_get(j, "links");
    int rc = 0;
    if (!json_is_object(j) || json_object_size(j) != 1 || !json_is_array(arr)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "expected {\"links\": [...]}");
    } else if (json_array_size(arr) > KUMO_PROVIDER_LINK_COUNT_MAX) {
        rc = kumo_err_set(err, KUMO_ELIMIT, "%zu links, at most %u", json_array_size(arr),
                          KUMO_PROVIDER_LINK_COUNT_MAX);
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
        rc = api_link_parse(json_array_get(arr, i), i, &out[i], err);
        *count_out = rc == 0 ? i + 1 : 0;
    }
    json_decref(j);
    KUMO_ASSERT(*count_out <= KUMO_PROVIDER_LINK_COUNT_MAX);
    return rc;
}

/* PUT .../links (the caller is the owner): in the order of docs/provider-api.md. */
static void api_links(kumo_provider_api_t *api,
                      struct evhttp_request *req,
                      const uint8_t owner[KUMO_ADDRESS_BYTES],
                      uint64_t dseq)
{
    if (api->backend.links == NULL) {
        api_error(req, 501, KUMO_EINVAL, "this provider does not take links yet");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    kumo_provider_deployment_view_t view = {0};
    if (!api_body_and_view(api, req, owner, dseq, len, KUMO_PROVIDER_LINKS_BYTES_MAX,
                           "links over 64 KiB", &view)) {
        return;
    }
    kumo_err_ctx_t err = {0};
    kumo_provider_link_t *links = kumo_calloc(KUMO_PROVIDER_LINK_COUNT_MAX, sizeof(*links));
    size_t count = 0;
    const uint8_t *body = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
    int rc = links == NULL ? kumo_err_set(&err, KUMO_ENOMEM, "links")
                           : kumo_provider_api_links_parse(body, len, links, &count, &err);
    if (rc == 0) {
        rc = api->backend.links(api->backend.ctx, owner, dseq, links, count, &err);
        rc = rc < 0 && err.code == 0 ? kumo_err_set(&err, rc, "links refused") : rc;
    }
    kumo_free(links);
    if (rc < 0) {
        int status = rc == KUMO_ELIMIT      ? 413
                     : rc == KUMO_EDECODE   ? 400
                     : rc == KUMO_EINVAL    ? 422
                     : rc == KUMO_ENOTFOUND ? 404
                                            : 500;
        api_error(req, status, rc, err.detail);
        return;
    }
    api_json(req, 200, json_pack("{s:I}", "links", (json_int_t)count));
}

/* GET .../manifest or .../endpoints (owner or a peer provider of the deployment). */
static void api_peer_get(kumo_provider_api_t *api,
                         struct evhttp_request *req,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         const char *what)
{
    kumo_buf_t out;
    kumo_buf_init(&out, KUMO_PROVIDER_MANIFEST_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    struct evbuffer *b = evbuffer_new();
    if (api->backend.peer_get == NULL || b == NULL ||
        api->backend.peer_get(api->backend.ctx, caller, owner, dseq, what, &out, &err) < 0 ||
        evbuffer_add(b, out.ptr, out.len) != 0) {
        api_error(req, 404, KUMO_ENOTFOUND, "nothing of this deployment for you here");
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          strcmp(what, "manifest") == 0 ? "application/octet-stream"
                                                        : "application/json");
        evhttp_send_reply(req, 200, "OK", b);
    }
    if (b != NULL) {
        evbuffer_free(b);
    }
    kumo_buf_free(&out);
}

static void api_deployment(kumo_provider_api_t *api, struct evhttp_request *req, const char *path)
{
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    char leaf[32];
    uint8_t caller[KUMO_ADDRESS_BYTES];
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!api_caller(req, caller)) {
        api_error(req, 401, KUMO_EUNAUTH,
                  "a client certificate made from your account key is "
                  "required");
    } else if (!kumo_provider_api_path_parse(path, owner, &dseq, leaf, sizeof(leaf))) {
        api_error(req, 400, KUMO_EDECODE, "expected /deployments/<owner>/<dseq>/<what>");
    } else if (strcmp(leaf, "manifest") == 0 && cmd == EVHTTP_REQ_PUT) {
        api_manifest(api, req, caller, owner, dseq);
    } else if ((strcmp(leaf, "manifest") == 0 || strcmp(leaf, "endpoints") == 0) &&
               cmd == EVHTTP_REQ_GET) {
        api_peer_get(api, req, caller, owner, dseq, leaf);
    } else if (memcmp(caller, owner, KUMO_ADDRESS_BYTES) != 0) {
        api_error(req, 403, KUMO_EUNAUTH, "only the deployment's owner may read it");
    } else if (strcmp(leaf, "status") == 0 && cmd == EVHTTP_REQ_GET) {
        json_t *st = NULL;
        kumo_err_ctx_t err = {0};
        int rc = api->backend.status(api->backend.ctx, owner, dseq, &st, &err);
        if (rc < 0) {
            api_error(req, rc == KUMO_ENOTFOUND ? 404 : 500, rc, err.detail);
        } else {
            api_json(req, 200, st);
        }
    } else if (strcmp(leaf, "logs") == 0 && cmd == EVHTTP_REQ_GET) {
        api_logs(api, req, owner, dseq);
    } else if (strcmp(leaf, "links") == 0 && cmd == EVHTTP_REQ_PUT) {
        api_links(api, req, owner, dseq);
    } else {
        api_error(req, 404, KUMO_ENOTFOUND, "no such route");
    }
}

static void api_request(struct evhttp_request *req, void *arg)
{
    kumo_provider_api_t *api = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    SSL *ssl = api_ssl(req);
    if (ssl == NULL || SSL_get_ex_data(ssl, api_ex_index) == NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        api_error(req, 503, KUMO_ELIMIT, "too many connections; retry later");
    } else if (path == NULL) {
        api_error(req, 400, KUMO_EDECODE, "bad request");
    } else if (strcmp(path, "/status") == 0 && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        json_t *info = NULL;
        kumo_err_ctx_t err = {0};
        if (api->backend.info(api->backend.ctx, &info, &err) < 0) {
            api_error(req, 500, err.code != 0 ? err.code : KUMO_EIO, err.detail);
        } else {
            api_json(req, 200, info);
        }
    } else {
        api_deployment(api, req, path);
    }
}

/* ---- lifecycle ---- */

static struct bufferevent *api_bev_cb(struct event_base *base, void *arg)
{
    kumo_provider_api_t *api = arg;
    SSL *ssl = SSL_new(api->ssl_ctx);
    if (ssl == NULL) {
        return NULL;
    }
    /* Counted while the SSL lives (api_ex_free); one past the limit is answered 503. */
    if (api->connection_count < api->connection_max &&
        SSL_set_ex_data(ssl, api_ex_index, api) == 1) {
        api->connection_count++;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
    }
    return bev;
}

int kumo_provider_api_open(const kumo_provider_api_cfg_t *cfg,
                           struct event_base *base,
                           const kumo_provider_api_backend_t *backend,
                           kumo_provider_api_t **out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && base != NULL && backend != NULL);
    KUMO_ASSERT(backend->deployment_view != NULL && backend->manifest_accept != NULL);
    KUMO_ENSURE(pthread_once(&api_ex_once, api_ex_init) == 0 && api_ex_index >= 0, err, KUMO_ENOMEM,
                "SSL ex_data index");
    kumo_provider_api_t *api = kumo_calloc(1, sizeof(*api));
    KUMO_ENSURE(api != NULL, err, KUMO_ENOMEM, "provider API");
    api->base = base;
    api->backend = *backend;
    api->connection_max = cfg->connection_max > 0 ? cfg->connection_max : API_CONNECTION_DEFAULT;
    kumo_tls_ctx_cfg_t tc = {.server = true,
                             .cert_pem = cfg->server_cert_pem,
                             .key = cfg->server_key,
                             .peer_check = KUMO_TLS_PEER_PUBKEY,
                             .client_cert_optional = true};
    int rc = kumo_tls_ctx_new(&tc, &api->ssl_ctx, err);
    api->http = rc == 0 ? evhttp_new(base) : NULL;
    rc = rc == 0 && api->http == NULL ? kumo_err_set(err, KUMO_ENOMEM, "evhttp") : rc;
    char host[128];
    const char *colon = strrchr(cfg->listen, ':');
    int n = colon != NULL
                ? snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->listen), cfg->listen)
                : -1;
    rc = rc == 0 && (n <= 0 || (size_t)n >= sizeof(host))
             ? kumo_err_set(err, KUMO_EINVAL, "api_listen '%s': expected host:port", cfg->listen)
             : rc;
    struct evhttp_bound_socket *bound = NULL;
    if (rc == 0) {
        evhttp_set_bevcb(api->http, api_bev_cb, api);
        evhttp_set_gencb(api->http, api_request, api);
        evhttp_set_max_body_size(api->http, KUMO_PROVIDER_MANIFEST_BYTES_MAX + 1024u);
        evhttp_set_max_headers_size(api->http, API_HEADERS_BYTES_MAX);
        evhttp_set_timeout(api->http, API_TIMEOUT_S);
        evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT);
        bound =
            evhttp_bind_socket_with_handle(api->http, host, (uint16_t)strtoul(colon + 1, NULL, 10));
        rc = bound != NULL ? 0 : kumo_err_set(err, KUMO_EIO, "cannot listen on %s", cfg->listen);
    }
    if (rc == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
        uint16_t port = 0;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        (void)snprintf(api->listen_addr, sizeof(api->listen_addr), "%s:%u", host, port);
    }
    if (rc < 0) {
        kumo_provider_api_close(api);
        return rc;
    }
    *out = api;
    return 0;
}

void kumo_provider_api_close(kumo_provider_api_t *api)
{
    if (api == NULL) {
        return;
    }
    if (api->http != NULL) {
        evhttp_free(api->http);
    }
    kumo_tls_ctx_free(api->ssl_ctx);
    kumo_free(api);
}

const char *kumo_provider_api_listen_addr(const kumo_provider_api_t *api)
{
    return api->listen_addr;
}
