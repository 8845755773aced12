/*
 * rpc_ui.c - the dashboard the node serves at /ui/ (docs/api.md "Dashboard"): static files
 * built into the binary (src/rpc/ui, embedded by cmake/embed_ui.cmake), each answered with a
 * strict Content-Security-Policy. The page only reads the API's GET routes and /events; it
 * needs nothing from outside the node. The lookup and the policy are pure; sending runs on the
 * loop thread.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "rpc/rpc_srv.h"

/* Longest dashboard file name a path may ask for. */
#define RPC_UI_NAME_BYTES_MAX 64u
/* Longest connect origin ("http://" + host + ":" + port) the policy takes. */
#define RPC_UI_ORIGIN_BYTES_MAX 200u

_Static_assert(RPC_UI_ORIGIN_BYTES_MAX + 256u < KUMO_RPC_UI_CSP_BYTES_MAX,
               "the policy with the longest origin fits");

const kumo_rpc_ui_file_t *kumo_rpc_ui_file_find(const char *path)
{
    static const char prefix[] = "/ui/";
    if (path == NULL || strncmp(path, prefix, sizeof(prefix) - 1u) != 0) {
        return NULL;
    }
    const char *name = path + sizeof(prefix) - 1u;
    if (name[0] == '\0') {
        name = "index.html";
    }
    size_t len = strlen(name);
    if (len > RPC_UI_NAME_BYTES_MAX || strchr(name, '/') != NULL || strstr(name, "..") != NULL) {
        return NULL;
    }
    for (size_t i = 0; i < kumo_rpc_ui_file_count; i++) {
        KUMO_ASSERT(kumo_rpc_ui_files[i].data != NULL);
        if (strcmp(kumo_rpc_ui_files[i].name, name) == 0) {
            return &kumo_rpc_ui_files[i];
        }
    }
    return NULL;
}

static bool name_ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name);
    size_t e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

const char *kumo_rpc_ui_content_type(const char *name)
{
    KUMO_ASSERT(name != NULL);
    if (name_ends_with(name, ".html")) {
        return "text/html; charset=utf-8";
    }
    if (name_ends_with(name, ".js")) {
        return "text/javascript; charset=utf-8";
    }
    if (name_ends_with(name, ".css")) {
        return "text/css; charset=utf-8";
    }
    if (name_ends_with(name, ".json")) {
        return "application/json";
    }
    return "application/octet-stream";
}

/* An origin may carry only what "scheme://host:port" needs; anything else (spaces, quotes,
 * ';', ',', controls) could end the directive or the header and widen the policy. */
static bool origin_is_valid(const char *origin)
{
    size_t len = strlen(origin);
    if (len == 0) {
        return true;
    }
    if (len > RPC_UI_ORIGIN_BYTES_MAX ||
        (strncmp(origin, "http://", 7) != 0 && strncmp(origin, "https://", 8) != 0)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = origin[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '/' || c == '[' || c == ']';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int kumo_rpc_ui_csp_format(const char *connect_origin,
                           char *out,
                           size_t out_cap,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(connect_origin != NULL);
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(origin_is_valid(connect_origin), err, KUMO_EINVAL,
                "connect origin: want http(s)://host:port");
    int n = snprintf(out, out_cap,
                     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
                     "data:; connect-src 'self'%s%s; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'",
                     connect_origin[0] != '\0' ? " " : "", connect_origin);
    KUMO_ENSURE(n > 0 && (size_t)n < out_cap, err, KUMO_ELIMIT, "policy: %zu bytes too few",
                out_cap);
    return 0;
}

void kumo_rpc_ui_file_send(struct evhttp_request *hreq,
                           const kumo_rpc_ui_file_t *file,
                           const char *connect_origin)
{
    KUMO_ASSERT(hreq != NULL);
    KUMO_ASSERT(file != NULL && file->data != NULL);
    char csp[KUMO_RPC_UI_CSP_BYTES_MAX];
    kumo_err_ctx_t err = {0};
    if (kumo_rpc_ui_csp_format(connect_origin, csp, sizeof(csp), &err) < 0) {
        kumo_rpc_reply_error(hreq, 500, err.code, err.detail);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL || evbuffer_add_reference(buf, file->data, file->len, NULL, NULL) != 0) {
        if (buf != NULL) {
            evbuffer_free(buf);
        }
        kumo_rpc_reply_error(hreq, 500, KUMO_ENOMEM, "dashboard file");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
    (void)evhttp_add_header(h, "Content-Type", kumo_rpc_ui_content_type(file->name));
    (void)evhttp_add_header(h, "Content-Security-Policy", csp);
    (void)evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    (void)evhttp_add_header(h, "X-Frame-Options", "DENY");
    (void)evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    (void)evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply(hreq, 200, "OK", buf);
    evbuffer_free(buf);
}

/* The node's own config.json: the API is this origin, no tenant view. */
static const uint8_t rpc_ui_node_config[] = "{\"api\":\"\",\"tenant\":false}";

bool kumo_rpc_ui_handle(kumo_rpc_t *rpc, struct evhttp_request *hreq, const char *path)
{
    KUMO_ASSERT(rpc != NULL);
    KUMO_ASSERT(hreq != NULL);
    if (rpc->cfg.rpc_dashboard == 0 || path == NULL ||
        (strcmp(path, "/") != 0 && strcmp(path, "/ui") != 0 && strncmp(path, "/ui/", 4) != 0)) {
        return false;
    }
    if (evhttp_request_get_command(hreq) != EVHTTP_REQ_GET) {
        kumo_rpc_reply_error(hreq, 405, KUMO_EINVAL, "the dashboard is read with GET");
        return true;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(hreq);
        (void)evhttp_add_header(h, "Location", "/ui/");
        evhttp_send_reply(hreq, 302, "Found", NULL);
        return true;
    }
    const kumo_rpc_ui_file_t cfg_file = {"config.json", rpc_ui_node_config,
                                         sizeof(rpc_ui_node_config) - 1u};
    const kumo_rpc_ui_file_t *f =
        strcmp(path, "/ui/config.json") == 0 ? &cfg_file : kumo_rpc_ui_file_find(path);
    if (f == NULL) {
        kumo_rpc_reply_error(hreq, 404, KUMO_ENOTFOUND, "no such dashboard file");
        return true;
    }
    kumo_rpc_ui_file_send(hreq, f, "");
    return true;
}
