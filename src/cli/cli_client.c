/*
 * cli_client.c - the CLI's HTTP client of the node API (docs/api.md) over libcurl: GET and
 * POST JSON, answers bounded by CLI_RESPONSE_BYTES_MAX, JSON error answers mapped to their
 * KUMO_E* code and detail, transport failures to KUMO_EIO naming the node. Blocking calls are
 * fine here: the CLI has no event loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli_int.h"

/* Connecting to a local or LAN node takes milliseconds; 5 s means it is not there. */
#define CLI_CONNECT_TIMEOUT_MS 5000L
/* A query answers in well under a second; POST /txs?wait=commit waits up to 60 s. */
#define CLI_GET_TIMEOUT_MS  30000L
#define CLI_POST_TIMEOUT_MS 75000L

static size_t cli_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *buf = ctx;
    size_t len = size * nmemb;
    if (kumo_buf_append(buf, ptr, len) < 0) {
        return 0; /* curl reports CURLE_WRITE_ERROR */
    }
    return len;
}

static int cli_curl_init(kumo_err_ctx_t *err)
{
    static bool done = false;
    if (!done) {
        CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
        KUMO_ENSURE(rc == CURLE_OK, err, KUMO_EIO, "curl_global_init: %s", curl_easy_strerror(rc));
        done = true;
    }
    return 0;
}

/* Turns an answer (status, body) into *out or an error. */
static int cli_answer_parse(
    const cli_args_t *a, long status, const kumo_buf_t *body, json_t **out, kumo_err_ctx_t *err)
{
    json_error_t jerr;
    json_t *j = body->len > 0 ? json_loadb((const char *)body->ptr, body->len, 0, &jerr) : NULL;
    if (status >= 200 && status < 300) {
        KUMO_ENSURE(j != NULL, err, KUMO_EDECODE, "node %s answered HTTP %ld with bad JSON",
                    a->node, status);
        *out = j;
        return 0;
    }
    const json_t *e = json_object_get(j, "error");
    const json_t *code = json_object_get(e, "code");
    if (json_is_integer(code) && json_integer_value(code) < 0 && json_integer_value(code) > -1000) {
        const char *detail = json_string_value(json_object_get(e, "detail"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        int rc = kumo_err_set(err, (int)json_integer_value(code), "%s",
                              detail != NULL && detail[0] != '\0' ? detail
                              : msg != NULL                       ? msg
                                                                  : "");
        json_decref(j);
        return rc;
    }
    json_decref(j);
    return kumo_err_set(err, status == 404 ? KUMO_ENOTFOUND : KUMO_EIO,
                        "node %s answered HTTP %ld without a JSON error", a->node, status);
}

static int cli_http(
    const cli_args_t *a, const char *path, const char *post_body, json_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && path[0] == '/');
    KUMO_ASSERT(out != NULL);
    KUMO_GUARD(cli_curl_init(err));
    char url[CLI_PATH_BYTES * 2];
    size_t node_len = strlen(a->node);
    while (node_len > 0 && a->node[node_len - 1] == '/') {
        node_len--;
    }
    int n = snprintf(url, sizeof(url), "%.*s%s", (int)node_len, a->node, path);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(url), err, KUMO_EINVAL, "URL too long: %s%s", a->node,
                path);
    CURL *c = curl_easy_init();
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "curl_easy_init failed");
    kumo_buf_t body;
    kumo_buf_init(&body, CLI_RESPONSE_BYTES_MAX);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    char errbuf[CURL_ERROR_SIZE] = {0};
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_write_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                           post_body != NULL ? CLI_POST_TIMEOUT_MS : CLI_GET_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (post_body != NULL) {
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    }
    CURLcode crc = curl_easy_perform(c);
    long status = 0;
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    int rc;
    if (crc != CURLE_OK) {
        rc = kumo_err_set(err, crc == CURLE_WRITE_ERROR ? KUMO_ELIMIT : KUMO_EIO,
                          "cannot reach the node at %s: %s", a->node,
                          errbuf[0] != '\0' ? errbuf : curl_easy_strerror(crc));
    } else {
        rc = cli_answer_parse(a, status, &body, out, err);
    }
    kumo_buf_free(&body);
    return rc;
}

int cli_http_get(const cli_args_t *a, const char *path, json_t **out, kumo_err_ctx_t *err)
{
    return cli_http(a, path, NULL, out, err);
}

int cli_http_post(
    const cli_args_t *a, const char *path, const json_t *body, json_t **out, kumo_err_ctx_t *err)
{
    char *text = json_dumps(body, JSON_COMPACT);
    KUMO_ENSURE(text != NULL, err, KUMO_ENOMEM, "json_dumps failed");
    int rc = cli_http(a, path, text, out, err);
    free(text);
    return rc;
}

static bool url_char_is_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || c == '/';
}

int cli_path_param_add(
    char *path, size_t cap, const char *key, const char *value, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && key != NULL);
    if (value == NULL) {
        return 0;
    }
    size_t len = strlen(path);
    KUMO_ASSERT(len < cap);
    int n = snprintf(path + len, cap - len, "%c%s=", strchr(path, '?') != NULL ? '&' : '?', key);
    KUMO_ENSURE(n > 0 && (size_t)n < cap - len, err, KUMO_ELIMIT, "query too long");
    len += (size_t)n;
    for (const char *p = value; *p != '\0'; p++) {
        KUMO_ENSURE(len + 4 < cap, err, KUMO_ELIMIT, "query too long");
        if (url_char_is_plain(*p)) {
            path[len++] = *p;
        } else {
            (void)snprintf(path + len, 4, "%%%02X", (unsigned)(unsigned char)*p);
            len += 3;
        }
    }
    path[len] = '\0';
    return 0;
}
