/*
 * client.c - the node handle: one libcurl easy handle per kumo_client_t (reused, so requests
 * share a kept-alive connection), GET and POST of JSON with every answer bounded by the
 * handle's answer_bytes_max, transport failures mapped once to KUMO_EIO naming the node, and
 * paginated lists. Blocking: the caller's thread waits (never an event loop's).
 */
#include "client/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/client_int.h"

/* Connecting to a local or LAN node takes milliseconds; 5 s means it is not there. */
#define CLIENT_CONNECT_TIMEOUT_MS_DEFAULT 5000u
/* A query answers in well under a second. */
#define CLIENT_REQUEST_TIMEOUT_MS_DEFAULT 30000u
/* A POST /txs?wait=commit answer comes at most this long after the node's own wait ends. */
#define CLIENT_TX_WAIT_MARGIN_MS 15000u

static pthread_once_t client_curl_once = PTHREAD_ONCE_INIT;
static CURLcode client_curl_rc = CURLE_OK;

static void client_curl_global_init(void)
{
    client_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int client_curl_init(kumo_err_ctx_t *err)
{
    /* curl_global_init is not thread-safe everywhere: once for the process, before any
     * handle of any thread. */
    (void)pthread_once(&client_curl_once, client_curl_global_init);
    KUMO_ENSURE(client_curl_rc == CURLE_OK, err, KUMO_EIO, "curl_global_init: %s",
                curl_easy_strerror(client_curl_rc));
    return 0;
}

int kumo_client_open(const char *url,
                     const kumo_client_opts_t *opts,
                     kumo_client_t **out,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(url != NULL);
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/') {
        len--;
    }
    KUMO_ENSURE(len <= KUMO_CLIENT_URL_BYTES_MAX, err, KUMO_EINVAL, "node URL longer than %u bytes",
                KUMO_CLIENT_URL_BYTES_MAX);
    KUMO_ENSURE(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0, err,
                KUMO_EINVAL, "node URL '%.*s' is not http:// or https://", (int)len, url);
    KUMO_GUARD(client_curl_init(err));
    kumo_client_t *c = calloc(1, sizeof(*c));
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "node client");
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        free(c);
        return kumo_err_set(err, KUMO_ENOMEM, "curl_easy_init failed");
    }
    memcpy(c->url, url, len);
    c->url[len] = '\0';
    c->connect_timeout_ms = CLIENT_CONNECT_TIMEOUT_MS_DEFAULT;
    c->request_timeout_ms = CLIENT_REQUEST_TIMEOUT_MS_DEFAULT;
    c->answer_bytes_max = KUMO_CLIENT_ANSWER_BYTES_MAX;
    if (opts != NULL) {
        c->connect_timeout_ms =
            opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : c->connect_timeout_ms;
        c->request_timeout_ms =
            opts->request_timeout_ms > 0 ? opts->request_timeout_ms : c->request_timeout_ms;
        c->answer_bytes_max =
            opts->answer_bytes_max > 0 ? opts->answer_bytes_max : c->answer_bytes_max;
    }
    KUMO_ASSERT(c->url[0] != '\0');
    *out = c;
    return 0;
}

void kumo_client_close(kumo_client_t *c)
{
    if (c == NULL) {
        return;
    }
    curl_easy_cleanup(c->curl);
    free(c);
}

const char *kumo_client_url(const kumo_client_t *c)
{
    KUMO_ASSERT(c != NULL);
    return c->url;
}

int client_url_make(
    const kumo_client_t *c, const char *path, char *out, size_t cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && path[0] == '/');
    int n = snprintf(out, cap, "%s%s", c->url, path);
    KUMO_ENSURE(n > 0 && (size_t)n < cap, err, KUMO_ELIMIT, "URL too long: %s%.64s...", c->url,
                path);
    return 0;
}

static size_t client_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *buf = ctx;
    size_t len = size * nmemb;
    if (kumo_buf_append(buf, ptr, len) < 0) {
        return 0; /* over the bound: curl reports CURLE_WRITE_ERROR */
    }
    return len;
}

/* The curl options every request of the handle shares. */
void client_easy_setup(const kumo_client_t *c, CURL *h, const char *url, char *errbuf)
{
    (void)curl_easy_setopt(h, CURLOPT_URL, url);
    (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    /* A redirect or another scheme would send our requests somewhere the user did not name. */
    (void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

int client_request(kumo_client_t *c,
                   const char *path,
                   const char *post_body,
                   uint32_t timeout_ms,
                   json_t **out,
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL && c->curl != NULL);
    KUMO_ASSERT(out != NULL);
    char url[KUMO_CLIENT_URL_BYTES_MAX + KUMO_CLIENT_PATH_BYTES_MAX + 1];
    KUMO_GUARD(client_url_make(c, path, url, sizeof(url), err));
    kumo_buf_t body;
    kumo_buf_init(&body, c->answer_bytes_max);
    struct curl_slist *hdrs = NULL;
    if (post_body != NULL) {
        hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        KUMO_ENSURE(hdrs != NULL, err, KUMO_ENOMEM, "curl header");
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL *h = c->curl;
    curl_easy_reset(h);
    client_easy_setup(c, h, url, errbuf);
    (void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write_cb);
    (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    (void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    if (post_body != NULL) {
        (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, post_body);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    int rc;
    if (cc == CURLE_WRITE_ERROR) {
        rc = kumo_err_set(err, KUMO_ELIMIT, "the node at %s answered %s with more than %zu bytes",
                          c->url, path, c->answer_bytes_max);
    } else if (cc != CURLE_OK) {
        rc = kumo_err_set(err, KUMO_EIO, "cannot reach the node at %s: %s", c->url,
                          errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
    } else {
        rc = kumo_client_answer_decode(c->url, status, kumo_buf_bytes(&body), out, err);
    }
    kumo_buf_free(&body);
    return rc;
}

int kumo_client_get(kumo_client_t *c, const char *path, json_t **out, kumo_err_ctx_t *err)
{
    return client_request(c, path, NULL, c->request_timeout_ms, out, err);
}

int client_post_wait(kumo_client_t *c,
                     const char *path,
                     const json_t *body,
                     uint32_t wait_ms,
                     json_t **out,
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(body != NULL);
    KUMO_ASSERT(wait_ms <= KUMO_CLIENT_TX_WAIT_MS_MAX);
    char *text = json_dumps(body, JSON_COMPACT);
    KUMO_ENSURE(text != NULL, err, KUMO_ENOMEM, "json_dumps failed");
    uint32_t timeout_ms = c->request_timeout_ms;
    if (wait_ms > 0 && timeout_ms < wait_ms + CLIENT_TX_WAIT_MARGIN_MS) {
        timeout_ms = wait_ms + CLIENT_TX_WAIT_MARGIN_MS;
    }
    json_t *ans = NULL;
    int rc = client_request(c, path, text, timeout_ms, &ans, err);
    free(text);
    if (rc == 0 && out != NULL) {
        *out = ans;
    } else {
        json_decref(ans);
    }
    return rc;
}

int kumo_client_post(
    kumo_client_t *c, const char *path, const json_t *body, json_t **out, kumo_err_ctx_t *err)
{
    return client_post_wait(c, path, body, 0, out, err);
}

/* One page: its items to the callback; the cursor of the next page into next ("" at the
 * end). */
static int client_page_walk(const json_t *page,
                            kumo_client_item_cb item,
                            void *ctx,
                            char *next,
                            size_t next_cap,
                            kumo_err_ctx_t *err)
{
    const json_t *items = json_object_get(page, "items");
    KUMO_ENSURE(json_is_array(items), err, KUMO_EDECODE, "list answer without \"items\"");
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        KUMO_GUARD(item(ctx, it, err));
    }
    const json_t *n = json_object_get(page, "next");
    next[0] = '\0';
    if (n == NULL || json_is_null(n)) {
        return 0;
    }
    const char *text = json_string_value(n);
    KUMO_ENSURE(text != NULL && text[0] != '\0' && strlen(text) < next_cap &&
                    strspn(text, "0123456789abcdef") == strlen(text),
                err, KUMO_EDECODE, "list answer with a bad \"next\" cursor");
    (void)snprintf(next, next_cap, "%s", text);
    return 0;
}

int kumo_client_list_each(kumo_client_t *c,
                          const char *query,
                          uint32_t page_max,
                          kumo_client_item_cb item,
                          kumo_client_page_cb page_done,
                          void *ctx,
                          bool *more,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(query != NULL && query[0] == '/');
    KUMO_ASSERT(item != NULL);
    page_max = page_max > 0 ? page_max : KUMO_CLIENT_LIST_PAGE_MAX;
    char next[256] = "";
    if (more != NULL) {
        *more = false;
    }
    for (uint32_t pages = 0; pages < page_max; pages++) {
        char path[KUMO_CLIENT_PATH_BYTES_MAX];
        int n = snprintf(path, sizeof(path), "%s", query);
        KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "query too long");
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit",
                                              KUMO_CLIENT_LIST_LIMIT_TEXT, err));
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "page",
                                              next[0] != '\0' ? next : NULL, err));
        json_t *page = NULL;
        KUMO_GUARD(kumo_client_get(c, path, &page, err));
        int rc = client_page_walk(page, item, ctx, next, sizeof(next), err);
        json_decref(page);
        KUMO_GUARD(rc);
        if (page_done != NULL) {
            KUMO_GUARD(page_done(ctx, err));
        }
        if (next[0] == '\0') {
            return 0;
        }
    }
    if (more != NULL) {
        *more = true;
    }
    return 0;
}

static bool url_char_is_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~' || c == '/';
}

int kumo_client_path_param_add(
    char *path, size_t cap, const char *key, const char *value, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && key != NULL);
    if (value == NULL) {
        return 0;
    }
    size_t start = strlen(path);
    KUMO_ASSERT(start < cap);
    size_t len = start;
    int n = snprintf(path + len, cap - len, "%c%s=", strchr(path, '?') != NULL ? '&' : '?', key);
    if (n <= 0 || (size_t)n >= cap - len) {
        path[start] = '\0';
        return kumo_err_set(err, KUMO_ELIMIT, "query too long");
    }
    len += (size_t)n;
    for (const char *p = value; *p != '\0'; p++) {
        if (len + 4 >= cap) {
            path[start] = '\0';
            return kumo_err_set(err, KUMO_ELIMIT, "query too long");
        }
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
