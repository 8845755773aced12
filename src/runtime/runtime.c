/*
 * runtime.c - the Docker Engine API v1.41 over a unix socket with libcurl (runtime.h): one
 * blocking request per call, answers bounded by KUMO_RUNTIME_ANSWER_BYTES_MAX, errors mapped
 * to KUMO_E* with the API's message in the detail.
 */
#include "runtime/runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "file/file.h"
#include "log/log.h"
#include "runtime/runtime_int.h"
#include "runtime/runtime_parse.h"

#define RT_API            "http://d/v1.41"
#define RT_CONNECT_MS     2000L
#define RT_TIMEOUT_MS     30000L
#define RT_STOP_TIMEOUT_S 1

static size_t rt_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *buf = ctx;
    return kumo_buf_append(buf, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* The API's {"message": ...} of an error answer, or its first bytes. */
static void rt_message(const rt_answer_t *a, char *out, size_t cap)
{
    json_t *j = json_loadb((const char *)a->body.ptr, a->body.len, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m != NULL) {
        (void)snprintf(out, cap, "%s", m);
    } else {
        int n = (int)(a->body.len < cap - 1u ? a->body.len : cap - 1u);
        (void)snprintf(out, cap, "%.*s", n, a->body.ptr != NULL ? (const char *)a->body.ptr : "");
    }
    json_decref(j);
}

/* One request; body (JSON text) may be NULL. The answer's body is the caller's to free. */
int rt_call(kumo_runtime_t *rt,
            const char *method,
            const char *path,
            const char *body,
            rt_answer_t *a,
            kumo_err_ctx_t *err)
{
    char url[RT_PATH_BYTES + 32];
    int n = snprintf(url, sizeof(url), RT_API "%s", path);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(url), err, KUMO_ELIMIT, "API path too long");
    kumo_buf_init(&a->body, KUMO_RUNTIME_ANSWER_BYTES_MAX);
    a->status = 0;
    CURL *c = rt->curl;
    curl_easy_reset(c);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    (void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, rt->socket);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, RT_CONNECT_MS);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, RT_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rt_write_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &a->body);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body != NULL) {
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(method, "POST") == 0) {
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        kumo_buf_free(&a->body);
        return kumo_err_set(err, KUMO_EIO, "container runtime at %s: %s %s: %s", rt->socket, method,
                            path, curl_easy_strerror(rc));
    }
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    return 0;
}

/* Maps a non-2xx answer to a code (404 ENOTFOUND, 409 EEXIST, else EIO) with its message. */
int rt_fail(const rt_answer_t *a, const char *what, kumo_err_ctx_t *err)
{
    char msg[200];
    rt_message(a, msg, sizeof(msg));
    /* Docker answers 404/409; podman sometimes 500 with the same meaning in the message. */
    int code = KUMO_EIO;
    if (a->status == 404 || strstr(msg, "no such image") != NULL ||
        strstr(msg, "image not known") != NULL) {
        code = KUMO_ENOTFOUND;
    } else if (a->status == 409 || strstr(msg, "already in use") != NULL) {
        code = KUMO_EEXIST;
    }
    return kumo_err_set(err, code, "%s: HTTP %ld: %s", what, a->status, msg);
}

int kumo_runtime_open(const char *socket_path, kumo_runtime_t **out, kumo_err_ctx_t *err)
{
    static bool curl_ready = false;
    if (!curl_ready) {
        KUMO_ENSURE(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, err, KUMO_EIO, "curl init");
        curl_ready = true;
    }
    KUMO_ENSURE(strlen(socket_path) < sizeof(((kumo_runtime_t *)0)->socket), err, KUMO_ELIMIT,
                "socket path too long");
    kumo_runtime_t *rt = kumo_calloc(1, sizeof(*rt));
    KUMO_ENSURE(rt != NULL, err, KUMO_ENOMEM, "runtime");
    (void)snprintf(rt->socket, sizeof(rt->socket), "%s", socket_path);
    rt->curl = curl_easy_init();
    int rc = rt->curl != NULL ? kumo_runtime_ping(rt, err) : kumo_err_set(err, KUMO_ENOMEM, "curl");
    if (rc < 0) {
        kumo_runtime_close(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

void kumo_runtime_close(kumo_runtime_t *rt)
{
    if (rt == NULL) {
        return;
    }
    if (rt->curl != NULL) {
        curl_easy_cleanup(rt->curl);
    }
    kumo_free(rt);
}

int kumo_runtime_ping(kumo_runtime_t *rt, kumo_err_ctx_t *err)
{
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", "/_ping", NULL, &a, err));
    int rc = a.status == 200 ? 0 : rt_fail(&a, "ping", err);
    kumo_buf_free(&a.body);
    return rc;
}

/* ---- networks ---- */

json_t *rt_labels_json(const kumo_runtime_label_t *labels, uint32_t count)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o != NULL && i < count; i++) {
        (void)json_object_set_new(o, labels[i].key, json_string(labels[i].value));
    }
    return o;
}

/* Dumps j (stolen) to text; NULL on failure. */
char *rt_dump(json_t *j)
{
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* A path with a URL-encoded filters={"label":["k=v"]} query. */
int rt_filtered_path(kumo_runtime_t *rt,
                     const char *base,
                     const char *key,
                     const char *value,
                     char *out,
                     size_t cap,
                     kumo_err_ctx_t *err)
{
    char kv[300];
    int n = snprintf(kv, sizeof(kv), "%s=%s", key, value);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(kv), err, KUMO_ELIMIT, "label filter too long");
    char *filters = rt_dump(json_pack("{s:[s]}", "label", kv));
    KUMO_ENSURE(filters != NULL, err, KUMO_ENOMEM, "filters");
    char *esc = curl_easy_escape(rt->curl, filters, 0);
    free(filters);
    KUMO_ENSURE(esc != NULL, err, KUMO_ENOMEM, "filters");
    n = snprintf(out, cap, "%s%sfilters=%s", base, strchr(base, '?') != NULL ? "&" : "?", esc);
    curl_free(esc);
    KUMO_ENSURE(n > 0 && (size_t)n < cap, err, KUMO_ELIMIT, "API path too long");
    return 0;
}

int kumo_runtime_network_create(kumo_runtime_t *rt,
                                const char *name,
                                const kumo_runtime_label_t *labels,
                                uint32_t label_count,
                                kumo_err_ctx_t *err)
{
    char *body = rt_dump(json_pack("{s:s, s:s, s:o}", "Name", name, "Driver", "bridge", "Labels",
                                   rt_labels_json(labels, label_count)));
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "network JSON");
    rt_answer_t a;
    int rc = rt_call(rt, "POST", "/networks/create", body, &a, err);
    free(body);
    KUMO_GUARD(rc);
    char msg[200];
    rt_message(&a, msg, sizeof(msg));
    bool exists = a.status == 409 || (a.status == 500 && strstr(msg, "exists") != NULL);
    rc = (a.status >= 200 && a.status < 300) || exists ? 0 : rt_fail(&a, "network create", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_network_remove(kumo_runtime_t *rt, const char *name, kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/networks/%s", name) < (int)sizeof(path), err,
                KUMO_ELIMIT, "network name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "DELETE", path, NULL, &a, err));
    int rc = (a.status >= 200 && a.status < 300) || a.status == 404
                 ? 0
                 : rt_fail(&a, "network remove", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_network_list(kumo_runtime_t *rt,
                              const char *label_key,
                              const char *label_value,
                              char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                              uint32_t cap,
                              uint32_t *count_out,
                              kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_GUARD(rt_filtered_path(rt, "/networks", label_key, label_value, path, sizeof(path), err));
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? 0 : rt_fail(&a, "network list", err);
    json_t *arr = rc == 0 ? json_loadb((const char *)a.body.ptr, a.body.len, 0, NULL) : NULL;
    rc = rc == 0 && !json_is_array(arr) ? kumo_err_set(err, KUMO_EDECODE, "network list") : rc;
    uint32_t n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *nm = json_string_value(json_object_get(item, "Name"));
        if (rc == 0 && nm != NULL && n < cap && strlen(nm) < KUMO_RUNTIME_NAME_BYTES_MAX) {
            (void)snprintf(names[n++], KUMO_RUNTIME_NAME_BYTES_MAX, "%s", nm);
        }
    }
    json_decref(arr);
    kumo_buf_free(&a.body);
    *count_out = n;
    return rc;
}

int kumo_runtime_network_addresses(kumo_runtime_t *rt,
                                   const char *name,
                                   char gateway_out[64],
                                   char subnet_out[64],
                                   kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/networks/%s", name) < (int)sizeof(path), err,
                KUMO_ELIMIT, "network name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? 0 : rt_fail(&a, "network inspect", err);
    json_t *j = rc == 0 ? json_loadb((const char *)a.body.ptr, a.body.len, 0, NULL) : NULL;
    const json_t *cfg = json_array_get(json_object_get(json_object_get(j, "IPAM"), "Config"), 0);
    const char *gw = json_string_value(json_object_get(cfg, "Gateway"));
    const char *subnet = json_string_value(json_object_get(cfg, "Subnet"));
    if (rc == 0 && (gw == NULL || strlen(gw) >= 64)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "network %s has no gateway", name);
    }
    if (rc == 0 && subnet_out != NULL && (subnet == NULL || strlen(subnet) >= 64)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "network %s has no subnet", name);
    }
    if (rc == 0) {
        (void)snprintf(gateway_out, 64, "%s", gw);
        if (subnet_out != NULL) {
            (void)snprintf(subnet_out, 64, "%s", subnet);
        }
    }
    json_decref(j);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_network_gateway(kumo_runtime_t *rt,
                                 const char *name,
                                 char gateway_out[64],
                                 kumo_err_ctx_t *err)
{
    return kumo_runtime_network_addresses(rt, name, gateway_out, NULL, err);
}

/* ---- containers ---- */

static json_t *rt_strv(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && v != NULL && v[i] != NULL; i++) {
        (void)json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

/* tmpfs options "rw,size=<bytes>". */
static json_t *rt_tmpfs(uint64_t bytes)
{
    char opt[48];
    (void)snprintf(opt, sizeof(opt), "rw,size=%" PRIu64, bytes);
    return json_string(opt);
}

/* The confinement of every container, as runtime.h describes it. */
static void rt_confine(json_t *hc, uint64_t storage_bytes)
{
    (void)json_object_set_new(hc, "CapDrop", json_pack("[s]", "ALL"));
    (void)json_object_set_new(hc, "CapAdd", json_pack("[s]", "NET_BIND_SERVICE"));
    (void)json_object_set_new(hc, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
    (void)json_object_set_new(hc, "PidsLimit", json_integer(KUMO_RUNTIME_PIDS_MAX));
    char log_max[32];
    (void)snprintf(log_max, sizeof(log_max), "%u", KUMO_RUNTIME_LOG_BYTES_MAX);
    (void)json_object_set_new(
        hc, "LogConfig",
        json_pack("{s:s, s:{s:s}}", "Type", "json-file", "Config", "max-size", log_max));
    (void)json_object_set_new(hc, "ReadonlyRootfs", json_true());
    json_t *tmpfs = json_object();
    (void)json_object_set_new(
        tmpfs, "/tmp",
        rt_tmpfs(storage_bytes > 0 ? storage_bytes : KUMO_RUNTIME_TMP_BYTES_DEFAULT));
    (void)json_object_set_new(tmpfs, "/run", rt_tmpfs(KUMO_RUNTIME_SCRATCH_BYTES));
    (void)json_object_set_new(tmpfs, "/var/tmp", rt_tmpfs(KUMO_RUNTIME_SCRATCH_BYTES));
    (void)json_object_set_new(hc, "Tmpfs", tmpfs);
}

/* Persistent volumes as binds of the named volume, the others as sized tmpfs. */
static void rt_mounts(json_t *hc, const kumo_runtime_container_spec_t *spec)
{
    json_t *binds = json_array();
    json_t *tmpfs = json_object_get(hc, "Tmpfs");
    for (uint32_t i = 0; binds != NULL && tmpfs != NULL && i < spec->mount_count; i++) {
        const kumo_runtime_mount_t *m = &spec->mounts[i];
        if (m->persistent) {
            char bind[KUMO_RUNTIME_NAME_BYTES_MAX + KUMO_RUNTIME_MOUNT_BYTES_MAX + 8u];
            (void)snprintf(bind, sizeof(bind), "%s:%s:rw", m->volume, m->path);
            (void)json_array_append_new(binds, json_string(bind));
        } else {
            (void)json_object_set_new(tmpfs, m->path, rt_tmpfs(m->size_bytes));
        }
    }
    for (uint32_t i = 0; binds != NULL && i < spec->file_count; i++) {
        char bind[2u * KUMO_RUNTIME_PATH_BYTES_MAX + 8u];
        (void)snprintf(bind, sizeof(bind), "%s:%s:ro", spec->files[i].host_path,
                       spec->files[i].path);
        (void)json_array_append_new(binds, json_string(bind));
    }
    (void)json_object_set_new(hc, "Binds", binds);
}

/* A path character of a device entry: printable, no space, quote, backslash, comma or colon
 * (the colon separates the container path). */
static bool rt_device_path_char(char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ',' && c != ':' && c != '\'';
}

/* An absolute path of len bytes without ".." segments. */
static bool rt_device_path_ok(const char *p, size_t len)
{
    if (len < 2u || p[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!rt_device_path_char(p[i])) {
            return false;
        }
        if (p[i] == '.' && i + 1u < len && p[i + 1u] == '.' && p[i - 1u] == '/' &&
            (i + 2u == len || p[i + 2u] == '/')) {
            return false;
        }
    }
    return true;
}

/* vendor.com/class=name: a vendor with a dot, lower case letters, digits, '.', '-'; a class
 * of letters, digits, '_', '.', '-'; a name of letters, digits, '_', '.', ':', '-'. */
static bool rt_cdi_ok(const char *d)
{
    const char *slash = strchr(d, '/');
    const char *eq = slash != NULL ? strchr(slash, '=') : NULL;
    if (slash == NULL || eq == NULL || slash == d || eq == slash + 1 || eq[1] == '\0' ||
        memchr(d, '.', (size_t)(slash - d)) == NULL) {
        return false;
    }
    for (const char *p = d; *p != '\0'; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool upper = c >= 'A' && c <= 'Z';
        bool ok = p < slash    ? alnum || c == '.' || c == '-'
                  : p == slash ? true
                  : p < eq     ? alnum || upper || c == '_' || c == '.' || c == '-'
                  : p == eq    ? true
                               : alnum || upper || c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool kumo_runtime_device_is_cdi(const char *entry)
{
    KUMO_ASSERT(entry != NULL);
    return entry[0] != '/';
}

bool kumo_runtime_device_is_valid(const char *entry)
{
    KUMO_ASSERT(entry != NULL);
    size_t len = strnlen(entry, KUMO_RUNTIME_DEVICE_BYTES_MAX);
    if (len == 0 || len >= KUMO_RUNTIME_DEVICE_BYTES_MAX) {
        return false;
    }
    if (kumo_runtime_device_is_cdi(entry)) {
        return rt_cdi_ok(entry);
    }
    const char *colon = strchr(entry, ':');
    if (colon == NULL) {
        return rt_device_path_ok(entry, len);
    }
    size_t host_len = (size_t)(colon - entry);
    return rt_device_path_ok(entry, host_len) && rt_device_path_ok(colon + 1, len - host_len - 1u);
}

/* The devices of the spec: device nodes in Devices (each host path once: a node several GPUs
 * share, such as AMD's /dev/kfd, is given once), CDI names in one DeviceRequest. */
static void rt_devices(json_t *hc, const kumo_runtime_container_spec_t *spec)
{
    json_t *nodes = json_array();
    json_t *ids = json_array();
    for (uint32_t i = 0; nodes != NULL && ids != NULL && i < spec->device_count; i++) {
        const char *e = spec->devices[i];
        if (kumo_runtime_device_is_cdi(e)) {
            (void)json_array_append_new(ids, json_string(e));
            continue;
        }
        char host[KUMO_RUNTIME_DEVICE_BYTES_MAX];
        (void)snprintf(host, sizeof(host), "%s", e);
        char *colon = strchr(host, ':');
        const char *inside = colon != NULL ? colon + 1 : host;
        if (colon != NULL) {
            *colon = '\0';
        }
        bool seen = false;
        for (size_t k = 0; k < json_array_size(nodes) && !seen; k++) {
            const char *h =
                json_string_value(json_object_get(json_array_get(nodes, k), "PathOnHost"));
            seen = h != NULL && strcmp(h, host) == 0;
        }
        if (!seen) {
            (void)json_array_append_new(nodes, json_pack("{s:s, s:s, s:s}", "PathOnHost", host,
                                                         "PathInContainer", inside,
                                                         "CgroupPermissions", "rwm"));
        }
    }
    (void)json_object_set_new(hc, "Devices", nodes);
    if (json_array_size(ids) > 0) {
        (void)json_object_set_new(hc, "DeviceRequests",
                                  json_pack("[{s:s, s:o, s:[[s]]}]", "Driver", "cdi", "DeviceIDs",
                                            ids, "Capabilities", "gpu"));
        return;
    }
    json_decref(ids);
}

static json_t *rt_host_config(const kumo_runtime_container_spec_t *spec)
{
    json_t *hc = json_pack("{s:[{s:s, s:i, s:i}, {s:s, s:i, s:i}]}", "Ulimits", "Name", "nofile",
                           "Soft", 1024, "Hard", 1024, "Name", "nproc", "Soft", 1024, "Hard", 1024);
    if (hc == NULL) {
        return NULL;
    }
    if (spec->millicpu > 0) {
        (void)json_object_set_new(hc, "NanoCpus",
                                  json_integer((json_int_t)(spec->millicpu * 1000000u)));
    }
    if (spec->memory_bytes > 0) {
        (void)json_object_set_new(hc, "Memory", json_integer((json_int_t)spec->memory_bytes));
        (void)json_object_set_new(hc, "MemorySwap", json_integer((json_int_t)spec->memory_bytes));
    }
    rt_confine(hc, spec->storage_bytes);
    rt_mounts(hc, spec);
    rt_devices(hc, spec);
    if (spec->network != NULL) {
        (void)json_object_set_new(hc, "NetworkMode", json_string(spec->network));
    }
    if (spec->extra_hosts != NULL) {
        (void)json_object_set_new(hc, "ExtraHosts", rt_strv(spec->extra_hosts));
    }
    json_t *bindings = json_object();
    for (uint32_t i = 0; bindings != NULL && i < spec->port_count; i++) {
        const kumo_runtime_port_t *p = &spec->ports[i];
        if (p->host_port == 0) {
            continue;
        }
        char key[16];
        char host_port[8];
        (void)snprintf(key, sizeof(key), "%u/tcp", p->container_port);
        (void)snprintf(host_port, sizeof(host_port), "%u", p->host_port);
        (void)json_object_set_new(bindings, key,
                                  json_pack("[{s:s, s:s}]", "HostIp",
                                            p->host_ip != NULL ? p->host_ip : "0.0.0.0", "HostPort",
                                            host_port));
    }
    (void)json_object_set_new(hc, "PortBindings", bindings);
    return hc;
}

static char *rt_create_body(const kumo_runtime_container_spec_t *spec)
{
    json_t *exposed = json_object();
    for (uint32_t i = 0; exposed != NULL && i < spec->port_count; i++) {
        char key[16];
        (void)snprintf(key, sizeof(key), "%u/tcp", spec->ports[i].container_port);
        (void)json_object_set_new(exposed, key, json_object());
    }
    json_t *body = json_pack("{s:s, s:o, s:o, s:o}", "Image", spec->image, "Labels",
                             rt_labels_json(spec->labels, spec->label_count), "ExposedPorts",
                             exposed, "HostConfig", rt_host_config(spec));
    if (body != NULL && spec->cmd != NULL) {
        (void)json_object_set_new(body, "Cmd", rt_strv(spec->cmd));
    }
    if (body != NULL && spec->env != NULL) {
        (void)json_object_set_new(body, "Env", rt_strv(spec->env));
    }
    if (body != NULL && spec->network != NULL) {
        json_t *ep = json_pack("{s:o}", "Aliases", rt_strv(spec->aliases));
        json_t *eps = json_object();
        (void)json_object_set_new(eps, spec->network, ep);
        (void)json_object_set_new(body, "NetworkingConfig",
                                  json_pack("{s:o}", "EndpointsConfig", eps));
    }
    return rt_dump(body);
}

int kumo_runtime_container_body(const kumo_runtime_container_spec_t *spec,
                                kumo_buf_t *out,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(spec != NULL && out != NULL);
    KUMO_ENSURE(spec->device_count <= KUMO_RUNTIME_DEVICE_COUNT_MAX, err, KUMO_ELIMIT,
                "%u devices exceed %u", spec->device_count, KUMO_RUNTIME_DEVICE_COUNT_MAX);
    char *body = rt_create_body(spec);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "container JSON");
    int rc = kumo_buf_append(out, body, strlen(body));
    explicit_bzero(body, strlen(body)); /* its env may hold opened secrets */
    free(body);
    KUMO_ENSURE(rc == 0, err, KUMO_ELIMIT, "container JSON over the buffer");
    return 0;
}

/* Whether the inspected container lists entry (a CDI id, or a node's container path). */
static bool rt_device_listed(const kumo_runtime_inspect_t *in, const char *entry)
{
    uint32_t n = kumo_runtime_device_is_cdi(entry) ? in->cdi_count : in->device_count;
    n = n < KUMO_RUNTIME_DEVICE_COUNT_MAX ? n : KUMO_RUNTIME_DEVICE_COUNT_MAX;
    const char *colon = strchr(entry, ':');
    const char *inside = !kumo_runtime_device_is_cdi(entry) && colon != NULL ? colon + 1 : entry;
    for (uint32_t i = 0; i < n; i++) {
        const char *have = kumo_runtime_device_is_cdi(entry) ? in->cdi_ids[i] : in->device_paths[i];
        if (strcmp(have, inside) == 0) {
            return true;
        }
    }
    return false;
}

int kumo_runtime_devices_check(const kumo_runtime_container_spec_t *spec,
                               const kumo_runtime_inspect_t *in,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(spec != NULL && in != NULL);
    KUMO_ASSERT(spec->device_count <= KUMO_RUNTIME_DEVICE_COUNT_MAX);
    uint32_t cdi = 0;
    for (uint32_t i = 0; i < spec->device_count; i++) {
        cdi += kumo_runtime_device_is_cdi(spec->devices[i]) ? 1u : 0u;
        KUMO_ENSURE(rt_device_listed(in, spec->devices[i]), err, KUMO_EMISMATCH,
                    "the runtime did not record device %s (CDI needs podman 5.4 or Docker 25 or "
                    "later)",
                    spec->devices[i]);
    }
    /* Nothing more than asked: a runtime adding devices of its own is refused too. */
    KUMO_ENSURE(in->cdi_count == cdi && in->device_count <= spec->device_count - cdi, err,
                KUMO_EMISMATCH,
                "the runtime recorded %u device(s) and %u CDI id(s), more than asked",
                in->device_count, in->cdi_count);
    return 0;
}

/* An absolute path of at most KUMO_RUNTIME_PATH_BYTES_MAX bytes that a bind can name. */
static bool rt_bind_path_ok(const char *p)
{
    return p != NULL && p[0] == '/' && strlen(p) < KUMO_RUNTIME_PATH_BYTES_MAX &&
           strchr(p, ':') == NULL && strchr(p, ',') == NULL;
}

/* Every mount is checked (a path that fits, a named volume when persistent) and every
 * persistent volume exists before the container is created: a bind of a missing volume would
 * make the runtime create one of its own, without a size. */
static int rt_volumes_ensure(kumo_runtime_t *rt,
                             const kumo_runtime_container_spec_t *spec,
                             kumo_err_ctx_t *err)
{
    KUMO_ENSURE(spec->mount_count <= KUMO_RUNTIME_VOLUME_COUNT_MAX, err, KUMO_ELIMIT,
                "%u mounts exceed %u", spec->mount_count, KUMO_RUNTIME_VOLUME_COUNT_MAX);
    KUMO_ENSURE(spec->file_count <= KUMO_RUNTIME_FILE_COUNT_MAX, err, KUMO_ELIMIT,
                "%u files exceed %u", spec->file_count, KUMO_RUNTIME_FILE_COUNT_MAX);
    for (uint32_t i = 0; i < spec->file_count; i++) {
        KUMO_ENSURE(rt_bind_path_ok(spec->files[i].host_path) &&
                        rt_bind_path_ok(spec->files[i].path),
                    err, KUMO_EINVAL, "file %u: not absolute paths a bind can name", i);
    }
    for (uint32_t i = 0; i < spec->mount_count; i++) {
        const kumo_runtime_mount_t *m = &spec->mounts[i];
        KUMO_ENSURE(m->path != NULL && m->path[0] == '/' &&
                        strlen(m->path) < KUMO_RUNTIME_MOUNT_BYTES_MAX &&
                        strchr(m->path, ':') == NULL && strchr(m->path, ',') == NULL,
                    err, KUMO_EINVAL, "mount %u: not an absolute path", i);
        if (!m->persistent) {
            continue;
        }
        KUMO_ENSURE(m->volume != NULL && m->volume[0] != '\0' &&
                        strlen(m->volume) < KUMO_RUNTIME_NAME_BYTES_MAX &&
                        strchr(m->volume, ':') == NULL,
                    err, KUMO_EINVAL, "mount %u: no volume name", i);
        KUMO_GUARD(kumo_runtime_volume_create(rt, spec->volume_dir, m->volume, m->size_bytes,
                                              spec->labels, spec->label_count, err));
    }
    return 0;
}

/* A container given devices is inspected before it starts: it must hold exactly those. */
static int rt_devices_verify(kumo_runtime_t *rt,
                             const kumo_runtime_container_spec_t *spec,
                             const char *id,
                             kumo_err_ctx_t *err)
{
    if (spec->device_count == 0) {
        return 0;
    }
    kumo_runtime_inspect_t *in = kumo_calloc(1, sizeof(*in));
    KUMO_ENSURE(in != NULL, err, KUMO_ENOMEM, "inspect");
    int rc = kumo_runtime_container_inspect(rt, id, in, err);
    rc = rc == 0 ? kumo_runtime_devices_check(spec, in, err) : rc;
    kumo_free(in);
    return rc;
}

static int rt_container_run(kumo_runtime_t *rt,
                            const kumo_runtime_container_spec_t *spec,
                            char id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                            kumo_err_ctx_t *err)
{
    KUMO_ENSURE(spec->port_count <= KUMO_RUNTIME_PORT_COUNT_MAX &&
                    spec->label_count <= KUMO_RUNTIME_LABEL_COUNT_MAX,
                err, KUMO_ELIMIT, "too many ports or labels");
    KUMO_ENSURE(spec->device_count <= KUMO_RUNTIME_DEVICE_COUNT_MAX, err, KUMO_ELIMIT,
                "%u devices exceed %u", spec->device_count, KUMO_RUNTIME_DEVICE_COUNT_MAX);
    for (uint32_t i = 0; i < spec->device_count; i++) {
        KUMO_ENSURE(spec->devices[i] != NULL && kumo_runtime_device_is_valid(spec->devices[i]), err,
                    KUMO_EINVAL, "device %u is neither a CDI name nor a device path", i);
    }
    KUMO_GUARD(rt_volumes_ensure(rt, spec, err));
    char *body = rt_create_body(spec);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "container JSON");
    char path[RT_PATH_BYTES];
    char *esc = curl_easy_escape(rt->curl, spec->name, 0);
    int n = snprintf(path, sizeof(path), "/containers/create?name=%s", esc != NULL ? esc : "");
    curl_free(esc);
    rt_answer_t a;
    int rc = n > 0 && (size_t)n < sizeof(path) ? rt_call(rt, "POST", path, body, &a, err)
                                               : kumo_err_set(err, KUMO_ELIMIT, "name too long");
    explicit_bzero(body, strlen(body)); /* its env may hold opened secrets */
    free(body);
    KUMO_GUARD(rc);
    json_t *j = json_loadb((const char *)a.body.ptr, a.body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "Id"));
    rc = a.status == 201 ? 0 : rt_fail(&a, "container create", err);
    if (rc == 0 && (id == NULL || strlen(id) >= KUMO_RUNTIME_ID_BYTES_MAX)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "container create: no id");
    }
    if (rc == 0) {
        (void)snprintf(id_out, KUMO_RUNTIME_ID_BYTES_MAX, "%s", id);
    }
    json_decref(j);
    kumo_buf_free(&a.body);
    KUMO_GUARD(rc);
    rc = rt_devices_verify(rt, spec, id_out, err);
    if (rc < 0) {
        if (kumo_runtime_container_remove(rt, id_out, NULL) < 0) {
            KUMO_LOG_WARN("runtime", "cleanup_failed", "container=%s", id_out);
        }
        return rc;
    }
    n = snprintf(path, sizeof(path), "/containers/%s/start", id_out);
    KUMO_GUARD(rt_call(rt, "POST", path, NULL, &a, err));
    rc = a.status == 204 || a.status == 304 ? 0 : rt_fail(&a, "container start", err);
    kumo_buf_free(&a.body);
    if (rc < 0 && kumo_runtime_container_remove(rt, id_out, NULL) < 0) {
        KUMO_LOG_WARN("runtime", "cleanup_failed", "container=%s", id_out);
    }
    return rc;
}

/* ---- logs kept across a replaced container ---- */

static char rt_keep_dir[512];
static atomic_bool rt_keep_set;

void kumo_runtime_logs_keep_dir_set(const char *dir)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    KUMO_ASSERT(dir != NULL);
    KUMO_ASSERT(strlen(dir) < sizeof(rt_keep_dir));
    (void)pthread_mutex_lock(&mu);
    if (!atomic_load(&rt_keep_set)) { /* the first one holds: readers never see it change */
        (void)snprintf(rt_keep_dir, sizeof(rt_keep_dir), "%s", dir);
        atomic_store(&rt_keep_set, true);
    }
    (void)pthread_mutex_unlock(&mu);
}

bool kumo_runtime_logs_kept_path(const char *name, char *out, size_t cap)
{
    if (!atomic_load(&rt_keep_set) || name[0] == '\0' || strchr(name, '/') != NULL) {
        return false;
    }
    int n = snprintf(out, cap, "%s/%s.log", rt_keep_dir, name);
    return n > 0 && (size_t)n < cap;
}

size_t kumo_runtime_logs_kept_before(kumo_bytes_t kept, const char *id)
{
    size_t id_len = strlen(id);
    size_t pos = 0;
    while (id_len > 0 && pos < kept.len) {
        const uint8_t *nl = memchr(kept.ptr + pos, '\n', kept.len - pos);
        size_t end = nl != NULL ? (size_t)(nl - kept.ptr) + 1u : kept.len;
        if (end - pos == id_len + 2u && kept.ptr[pos] == '@' &&
            memcmp(kept.ptr + pos + 1u, id, id_len) == 0 && kept.ptr[end - 1u] == '\n') {
            return pos;
        }
        pos = end;
    }
    return kept.len;
}

/* kept (without an earlier copy of container id's lines) + "@id" + the time-stamped lines
 * of fresh, trimmed to the last
 * KUMO_RUNTIME_KEPT_LOG_BYTES_MAX at a line start, written to path (a temp file renamed). */
static int rt_kept_write(const char *path, const char *id, kumo_buf_t *kept, kumo_bytes_t fresh)
{
    kept->len = kumo_runtime_logs_kept_before(kumo_buf_bytes(kept), id);
    if (id[0] != '\0') {
        KUMO_GUARD(kumo_buf_append(kept, "@", 1));
        KUMO_GUARD(kumo_buf_append(kept, id, strlen(id)));
        KUMO_GUARD(kumo_buf_append(kept, "\n", 1));
    }
    size_t pos = 0;
    while (pos < fresh.len) {
        const uint8_t *nl = memchr(fresh.ptr + pos, '\n', fresh.len - pos);
        size_t end = nl != NULL ? (size_t)(nl - fresh.ptr) + 1u : fresh.len;
        uint64_t ns = 0;
        kumo_bytes_t text;
        if (kumo_runtime_log_line_parse(kumo_bytes_make(fresh.ptr + pos, end - pos), &ns, &text,
                                        NULL) == 0) {
            KUMO_GUARD(kumo_buf_append(kept, fresh.ptr + pos, end - pos));
            if (nl == NULL) {
                KUMO_GUARD(kumo_buf_append(kept, "\n", 1));
            }
        }
        pos = end;
    }
    size_t skip = 0;
    while (kept->len - skip > KUMO_RUNTIME_KEPT_LOG_BYTES_MAX) {
        const uint8_t *nl = memchr(kept->ptr + skip, '\n', kept->len - skip);
        skip = nl != NULL ? (size_t)(nl - kept->ptr) + 1u : kept->len;
    }
    return kumo_file_write(
        path, kumo_bytes_make(kept->len > skip ? kept->ptr + skip : NULL, kept->len - skip), 0600,
        NULL);
}

/* The container's log lines appended to its kept file (best effort). */
static void
rt_logs_keep(kumo_runtime_t *rt, const char *id_or_name, const kumo_runtime_inspect_t *ins)
{
    char path[600];
    if (!kumo_runtime_logs_kept_path(ins->name, path, sizeof(path))) {
        return;
    }
    kumo_buf_t fresh;
    kumo_buf_t kept;
    kumo_buf_init(&fresh, KUMO_RUNTIME_ANSWER_BYTES_MAX);
    kumo_buf_init(&kept, KUMO_RUNTIME_KEPT_LOG_BYTES_MAX + KUMO_RUNTIME_ANSWER_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_runtime_container_logs_since(rt, id_or_name, 0, 0, &fresh, &err);
    if (rc == 0) {
        rc = kumo_file_read(path, &kept, &err);
        rc = rc == KUMO_ENOTFOUND ? 0 : rc;
    }
    rc = rc == 0 ? rt_kept_write(path, ins->id, &kept, kumo_buf_bytes(&fresh)) : rc;
    if (rc < 0) {
        KUMO_LOG_WARN("runtime", "logs_keep_failed", "container=%s code=%s detail=\"%s\"",
                      ins->name, kumo_err_name(rc), err.detail);
    }
    kumo_buf_free(&kept);
    kumo_buf_free(&fresh);
}

/* ---- the journal ---- */

static char rt_events_dir[512];
static atomic_bool rt_events_set;
static pthread_mutex_t rt_events_mu = PTHREAD_MUTEX_INITIALIZER;

void kumo_runtime_events_dir_set(const char *dir)
{
    KUMO_ASSERT(dir != NULL);
    KUMO_ASSERT(strlen(dir) < sizeof(rt_events_dir));
    (void)pthread_mutex_lock(&rt_events_mu);
    if (!atomic_load(&rt_events_set)) { /* the first one holds */
        (void)snprintf(rt_events_dir, sizeof(rt_events_dir), "%s", dir);
        atomic_store(&rt_events_set, true);
    }
    (void)pthread_mutex_unlock(&rt_events_mu);
}

bool kumo_runtime_events_path(const char *owner, uint64_t dseq, char *out, size_t cap)
{
    if (!atomic_load(&rt_events_set) || owner[0] == '\0' || strchr(owner, '/') != NULL) {
        return false;
    }
    int n = snprintf(out, cap, "%s/%s-%" PRIu64 ".events", rt_events_dir, owner, dseq);
    return n > 0 && (size_t)n < cap;
}

/* Keeps the newer half of a journal that grew past its bound (under rt_events_mu). */
static void rt_events_trim(const char *path)
{
    kumo_buf_t b;
    kumo_buf_init(&b, 2u * KUMO_RUNTIME_EVENTS_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_file_read(path, &b, &err);
    if (rc == 0 || rc == KUMO_ELIMIT) { /* past its bound: trim what was read */
        size_t skip = b.len > KUMO_RUNTIME_EVENTS_BYTES_MAX / 2u
                          ? b.len - KUMO_RUNTIME_EVENTS_BYTES_MAX / 2u
                          : 0;
        const uint8_t *nl = skip > 0 ? memchr(b.ptr + skip, '\n', b.len - skip) : NULL;
        skip = nl != NULL ? (size_t)(nl - b.ptr) + 1u : skip;
        rc = kumo_file_write(
            path, kumo_bytes_make(b.len > skip ? b.ptr + skip : NULL, b.len - skip), 0600, &err);
    }
    if (rc < 0) {
        KUMO_LOG_WARN("runtime", "events_trim_failed", "path=%s detail=\"%s\"", path, err.detail);
    }
    kumo_buf_free(&b);
}

static uint64_t rt_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kumo_runtime_event_record(const char *owner,
                               uint64_t dseq,
                               uint64_t time_ns,
                               const char *kind,
                               const char *workload,
                               uint32_t instance,
                               const char *detail)
{
    char path[640];
    if (!kumo_runtime_events_path(owner, dseq, path, sizeof(path)) || workload[0] == '\0') {
        return;
    }
    char line[KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX + 256];
    int n = snprintf(line, sizeof(line), "%" PRIu64 " %s %s/%u ",
                     time_ns > 0 ? time_ns : rt_now_ns(), kind, workload, instance);
    size_t len = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
    for (size_t i = 0; len > 0 && detail[i] != '\0' && i < KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX;
         i++) {
        char c = detail[i];
        line[len++] = c == '\n' || c == '\r' ? ' ' : c;
    }
    if (len == 0) {
        return;
    }
    line[len++] = '\n';
    (void)pthread_mutex_lock(&rt_events_mu);
    FILE *f = fopen(path, "ab");
    long size = -1;
    if (f != NULL) {
        (void)fwrite(line, 1, len, f);
        size = ftell(f);
        (void)fclose(f);
    }
    if (size > (long)KUMO_RUNTIME_EVENTS_BYTES_MAX) {
        rt_events_trim(path);
    }
    (void)pthread_mutex_unlock(&rt_events_mu);
}

/* The label value of key in a spec, or "". */
static const char *rt_spec_label(const kumo_runtime_container_spec_t *spec, const char *key)
{
    for (uint32_t i = 0; i < spec->label_count; i++) {
        if (strcmp(spec->labels[i].key, key) == 0) {
            return spec->labels[i].value;
        }
    }
    return "";
}

/* The event of a container_run's outcome. */
static void
rt_run_note(const kumo_runtime_container_spec_t *spec, int rc, const kumo_err_ctx_t *err)
{
    const char *owner = rt_spec_label(spec, "kumo.owner");
    uint64_t dseq = strtoull(rt_spec_label(spec, "kumo.dseq"), NULL, 10);
    uint32_t instance = (uint32_t)strtoul(rt_spec_label(spec, "kumo.instance"), NULL, 10);
    const char *workload = rt_spec_label(spec, "kumo.workload");
    char path[600];
    FILE *kept = rc == 0 && kumo_runtime_logs_kept_path(spec->name, path, sizeof(path))
                     ? fopen(path, "rb")
                     : NULL;
    const char *kind = rc == 0                ? (kept != NULL ? "restarted" : "started")
                       : rc == KUMO_ENOTFOUND ? "image_missing"
                                              : "start_failed";
    if (kept != NULL) {
        (void)fclose(kept);
    }
    char detail[KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX + sizeof(err->detail) + 16];
    int n = snprintf(detail, sizeof(detail), "image=%.*s%s%s", 128, spec->image, rc == 0 ? "" : " ",
                     rc == 0 || err == NULL ? "" : err->detail);
    if (n < 0) {
        detail[0] = '\0';
    }
    kumo_runtime_event_record(owner, dseq, 0, kind, workload, instance, detail);
}

/* Whether an exit was the OOM killer's: the runtime says so, or PID 1 of a container with a
 * memory limit died of SIGKILL (exit code 128 + 9). Nothing inside the container can SIGKILL
 * its PID 1 and the daemon inspects before it stops anything, so at that limit the kernel's
 * OOM killer is what is left; podman on cgroup v1 does not always set OOMKilled. */
static bool rt_exit_is_oom(const kumo_runtime_inspect_t *ins)
{
    KUMO_ASSERT(ins != NULL);
    KUMO_ASSERT(ins->state == KUMO_RUNTIME_STATE_EXITED);
    return ins->oom_killed || (ins->exit_code == 128 + 9 && ins->memory_bytes > 0);
}

/* Before a removal: the container's logs kept, its exit noted. */
static void rt_remove_note(kumo_runtime_t *rt, const char *id_or_name, kumo_runtime_inspect_t *ins)
{
    if ((!atomic_load(&rt_keep_set) && !atomic_load(&rt_events_set)) ||
        kumo_runtime_container_inspect(rt, id_or_name, ins, NULL) < 0) {
        ins->owner[0] = '\0';
        return;
    }
    rt_logs_keep(rt, id_or_name, ins);
    if (ins->state == KUMO_RUNTIME_STATE_EXITED) {
        char detail[32];
        (void)snprintf(detail, sizeof(detail), "code=%d", ins->exit_code);
        /* At the time it is seen, not at its exit: the journal stays in append order, so a
         * reader resuming from the last time it took never skips a late line. */
        kumo_runtime_event_record(ins->owner, ins->dseq, 0,
                                  rt_exit_is_oom(ins) ? "oom_killed" : "exited", ins->workload,
                                  ins->instance, detail);
    }
}

int kumo_runtime_container_remove(kumo_runtime_t *rt, const char *id_or_name, kumo_err_ctx_t *err)
{
    kumo_runtime_inspect_t ins;
    memset(&ins, 0, sizeof(ins));
    rt_remove_note(rt, id_or_name, &ins);
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", id_or_name,
                         RT_STOP_TIMEOUT_S) < (int)sizeof(path),
                err, KUMO_ELIMIT, "container name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "POST", path, NULL, &a, err)); /* stopped or missing: fine */
    kumo_buf_free(&a.body);
    (void)snprintf(path, sizeof(path), "/containers/%s?force=true", id_or_name);
    KUMO_GUARD(rt_call(rt, "DELETE", path, NULL, &a, err));
    int rc = (a.status >= 200 && a.status < 300) || a.status == 404
                 ? 0
                 : rt_fail(&a, "container remove", err);
    kumo_buf_free(&a.body);
    if (rc == 0 && ins.owner[0] != '\0') {
        kumo_runtime_event_record(ins.owner, ins.dseq, 0, "removed", ins.workload, ins.instance,
                                  "");
    }
    return rc;
}

int kumo_runtime_container_list(kumo_runtime_t *rt,
                                const char *label_key,
                                const char *label_value,
                                kumo_runtime_container_t *out,
                                uint32_t cap,
                                uint32_t *count_out,
                                kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_GUARD(rt_filtered_path(rt, "/containers/json?all=true", label_key, label_value, path,
                                sizeof(path), err));
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200
                 ? kumo_runtime_parse_list(kumo_buf_bytes(&a.body), out, cap, count_out, err)
                 : rt_fail(&a, "container list", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_container_inspect(kumo_runtime_t *rt,
                                   const char *id_or_name,
                                   kumo_runtime_inspect_t *out,
                                   kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/containers/%s/json", id_or_name) < (int)sizeof(path),
                err, KUMO_ELIMIT, "container name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? kumo_runtime_parse_inspect(kumo_buf_bytes(&a.body), out, err)
                             : rt_fail(&a, "container inspect", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_container_stats(kumo_runtime_t *rt,
                                 const char *id_or_name,
                                 kumo_runtime_stats_t *out,
                                 kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/containers/%s/stats?stream=false", id_or_name) <
                    (int)sizeof(path),
                err, KUMO_ELIMIT, "container name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? kumo_runtime_parse_stats(kumo_buf_bytes(&a.body), out, err)
                             : rt_fail(&a, "container stats", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_container_logs(
    kumo_runtime_t *rt, const char *id_or_name, uint32_t tail, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    KUMO_ENSURE(snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1&tail=%u",
                         id_or_name, tail) < (int)sizeof(path),
                err, KUMO_ELIMIT, "container name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? kumo_runtime_logs_demux(kumo_buf_bytes(&a.body), out, err)
                             : rt_fail(&a, "container logs", err);
    kumo_buf_free(&a.body);
    return rc;
}

/* ---- exec ---- */

int kumo_runtime_exec_create(kumo_runtime_t *rt,
                             const char *container_id,
                             const char *const *argv,
                             bool tty,
                             char exec_id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(argv != NULL && argv[0] != NULL);
    KUMO_ASSERT(container_id != NULL);
    static const char *const term[] = {"TERM=xterm", NULL};
    json_t *body = json_pack("{s:b, s:b, s:b, s:b, s:o}", "AttachStdin", 1, "AttachStdout", 1,
                             "AttachStderr", 1, "Tty", tty, "Cmd", rt_strv(argv));
    if (body != NULL && tty) {
        (void)json_object_set_new(body, "Env", rt_strv(term));
    }
    char *text = rt_dump(body);
    KUMO_ENSURE(text != NULL, err, KUMO_ENOMEM, "exec JSON");
    char path[RT_PATH_BYTES];
    int n = snprintf(path, sizeof(path), "/containers/%s/exec", container_id);
    rt_answer_t a;
    int rc = n > 0 && (size_t)n < sizeof(path) ? rt_call(rt, "POST", path, text, &a, err)
                                               : kumo_err_set(err, KUMO_ELIMIT, "id too long");
    free(text);
    KUMO_GUARD(rc);
    json_t *j = json_loadb((const char *)a.body.ptr, a.body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "Id"));
    rc = a.status == 201 || a.status == 200 ? 0 : rt_fail(&a, "exec create", err);
    if (rc == 0 && (id == NULL || id[0] == '\0' || strlen(id) >= KUMO_RUNTIME_ID_BYTES_MAX)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "exec create: no id");
    }
    if (rc == 0) {
        (void)snprintf(exec_id_out, KUMO_RUNTIME_ID_BYTES_MAX, "%s", id);
    }
    json_decref(j);
    kumo_buf_free(&a.body);
    return rc;
}

/* A blocking unix socket to the runtime with send and receive timeouts. */
static int rt_unix_connect(const kumo_runtime_t *rt, int *fd_out, kumo_err_ctx_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    KUMO_ENSURE(strlen(rt->socket) < sizeof(sa.sun_path), err, KUMO_ELIMIT, "socket path too long");
    memcpy(sa.sun_path, rt->socket, strlen(rt->socket) + 1u);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "socket: %s", strerror(errno));
    struct timeval tv = {RT_TIMEOUT_MS / 1000, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        (void)close(fd);
        return kumo_err_set(err, KUMO_EIO, "container runtime at %s: %s", rt->socket, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

static int rt_send_all(int fd, const char *p, size_t len, kumo_err_ctx_t *err)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        KUMO_ENSURE(n > 0, err, KUMO_EIO, "exec start: send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the answer's head (through the blank line) into head; what came after it is left
 * at head[*head_len..*got). */
static int
rt_head_read(int fd, char *head, size_t cap, size_t *head_len, size_t *got, kumo_err_ctx_t *err)
{
    size_t len = 0;
    for (;;) {
        KUMO_ENSURE(len < cap, err, KUMO_ELIMIT, "exec start: answer head over %zu bytes", cap);
        ssize_t n = recv(fd, head + len, cap - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        KUMO_ENSURE(n > 0, err, KUMO_EIO, "exec start: no answer from the runtime: %s",
                    n == 0 ? "closed" : strerror(errno));
        len += (size_t)n;
        for (size_t i = 3; i < len; i++) {
            if (memcmp(head + i - 3, "\r\n\r\n", 4) == 0) {
                *head_len = i + 1u;
                *got = len;
                return 0;
            }
        }
    }
}

/* Sends the start request and reads the head: 0 when the stream follows. */
static int
rt_exec_handshake(int fd, const char *exec_id, bool tty, kumo_buf_t *early, kumo_err_ctx_t *err)
{
    char body[64];
    int blen =
        snprintf(body, sizeof(body), "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
    char req[RT_PATH_BYTES + 256];
    int n = snprintf(req, sizeof(req),
                     "POST /v1.41/exec/%s/start HTTP/1.1\r\nHost: d\r\n"
                     "Content-Type: application/json\r\nConnection: Upgrade\r\n"
                     "Upgrade: tcp\r\nContent-Length: %d\r\n\r\n%s",
                     exec_id, blen, body);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(req), err, KUMO_ELIMIT, "exec id too long");
    KUMO_GUARD(rt_send_all(fd, req, (size_t)n, err));
    char *head = kumo_calloc(1, KUMO_RUNTIME_EXEC_HEAD_BYTES_MAX);
    KUMO_ENSURE(head != NULL, err, KUMO_ENOMEM, "exec head");
    size_t head_len = 0;
    size_t got = 0;
    int status = 0;
    int rc = rt_head_read(fd, head, KUMO_RUNTIME_EXEC_HEAD_BYTES_MAX, &head_len, &got, err);
    rc = rc == 0 ? kumo_runtime_parse_head(kumo_bytes_make(head, head_len), &status, err) : rc;
    if (rc == 0 && status != 101 && status != 200) {
        rc = kumo_err_set(err, status == 404 ? KUMO_ENOTFOUND : KUMO_EIO,
                          "exec start: HTTP %d: %.*s", status, (int)(got - head_len),
                          head + head_len);
    }
    if (rc == 0 && got > head_len && kumo_buf_append(early, head + head_len, got - head_len) != 0) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "exec start");
    }
    kumo_free(head);
    return rc;
}

int kumo_runtime_exec_start(kumo_runtime_t *rt,
                            const char *exec_id,
                            bool tty,
                            int *fd_out,
                            kumo_buf_t *early,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(rt != NULL && exec_id != NULL);
    KUMO_ASSERT(fd_out != NULL && early != NULL);
    int fd = -1;
    KUMO_GUARD(rt_unix_connect(rt, &fd, err));
    int rc = rt_exec_handshake(fd, exec_id, tty, early, err);
    if (rc < 0) {
        (void)close(fd);
        return rc;
    }
    struct timeval none = {0, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    *fd_out = fd;
    return 0;
}

int kumo_runtime_exec_resize(
    kumo_runtime_t *rt, const char *exec_id, uint32_t rows, uint32_t cols, kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    int n = snprintf(path, sizeof(path), "/exec/%s/resize?h=%u&w=%u", exec_id, rows, cols);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "exec id too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "POST", path, NULL, &a, err));
    int rc = a.status >= 200 && a.status < 300 ? 0 : rt_fail(&a, "exec resize", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_exec_inspect(kumo_runtime_t *rt,
                              const char *exec_id,
                              bool *running_out,
                              int *exit_code_out,
                              kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    int n = snprintf(path, sizeof(path), "/exec/%s/json", exec_id);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "exec id too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200
                 ? kumo_runtime_parse_exec(kumo_buf_bytes(&a.body), running_out, exit_code_out, err)
                 : rt_fail(&a, "exec inspect", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_container_logs_since(kumo_runtime_t *rt,
                                      const char *id_or_name,
                                      uint64_t since_s,
                                      uint32_t tail,
                                      kumo_buf_t *out,
                                      kumo_err_ctx_t *err)
{
    char path[RT_PATH_BYTES];
    char tail_text[16] = "all";
    if (tail > 0) {
        (void)snprintf(tail_text, sizeof(tail_text), "%u", tail);
    }
    int n = snprintf(path, sizeof(path),
                     "/containers/%s/logs?stdout=1&stderr=1&timestamps=1&since=%" PRIu64 "&tail=%s",
                     id_or_name, since_s, tail_text);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "container name too long");
    rt_answer_t a;
    KUMO_GUARD(rt_call(rt, "GET", path, NULL, &a, err));
    int rc = a.status == 200 ? kumo_runtime_logs_demux(kumo_buf_bytes(&a.body), out, err)
                             : rt_fail(&a, "container logs", err);
    kumo_buf_free(&a.body);
    return rc;
}

int kumo_runtime_container_run(kumo_runtime_t *rt,
                               const kumo_runtime_container_spec_t *spec,
                               char id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                               kumo_err_ctx_t *err)
{
    kumo_err_ctx_t mine = {0};
    kumo_err_ctx_t *e = err != NULL ? err : &mine;
    int rc = rt_container_run(rt, spec, id_out, e);
    rt_run_note(spec, rc, e);
    return rc;
}
