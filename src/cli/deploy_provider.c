/*
 * deploy_provider.c - the tenant's HTTPS client of the provider API (docs/provider-api.md):
 * the provider's host_uri and root certificate come from the chain (GET /providers/{addr});
 * the server is verified against that root only (never a public CA), and the tenant proves
 * who it is with a short-lived self-signed certificate made from its account key (CN = its
 * address), handed to libcurl as in-memory blobs so no key touches the disk.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/deploy_int.h"
#include "tls/tls.h"

#define DEPLOY_PROVIDER_CONNECT_MS 5000L
#define DEPLOY_PROVIDER_TIMEOUT_MS 30000L
/* The client certificate lives for this command only; a day covers clock skew. */
#define DEPLOY_CLIENT_CERT_DAYS 1u

int deploy_tls_make(const kumo_crypto_keypair_t *kp,
                    const char *addr_text,
                    deploy_tls_t *out,
                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kp != NULL && addr_text != NULL);
    KUMO_ASSERT(out != NULL);
    kumo_buf_init(&out->cert_pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&out->key_pem, KUMO_TLS_PEM_BYTES_MAX);
    int rc = kumo_tls_cert_self_signed(kp, addr_text, DEPLOY_CLIENT_CERT_DAYS, &out->cert_pem, err);
    if (rc == 0) {
        rc = kumo_tls_key_pem(kp, &out->key_pem, err);
    }
    if (rc < 0) {
        deploy_tls_free(out);
    }
    return rc;
}

void deploy_tls_free(deploy_tls_t *t)
{
    if (t == NULL) {
        return;
    }
    if (t->key_pem.ptr != NULL) {
        memset(t->key_pem.ptr, 0, t->key_pem.len);
    }
    kumo_buf_free(&t->key_pem);
    kumo_buf_free(&t->cert_pem);
}

int deploy_provider_lookup(const cli_args_t *a,
                           const char *addr,
                           deploy_provider_t *out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(addr != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    kumo_buf_init(&out->root_pem, KUMO_CERT_PEM_BYTES_MAX + 1);
    char path[128];
    (void)snprintf(path, sizeof(path), "/providers/%s", addr);
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(a, path, &j, err));
    const char *uri = cli_json_str(j, "host_uri");
    const char *pem = cli_json_str(j, "root_cert_pem");
    int rc = 0;
    if (strncmp(uri, "https://", 8) != 0 || strlen(uri) >= sizeof(out->host_uri)) {
        rc = kumo_err_set(err, KUMO_EINVAL,
                          "provider %s has host_uri '%.80s', not https://HOST:PORT", addr, uri);
    } else if (pem[0] == '\0' || kumo_buf_append(&out->root_pem, pem, strlen(pem)) < 0) {
        rc = kumo_err_set(err, KUMO_EINVAL, "provider %s has no usable root certificate", addr);
    } else {
        (void)snprintf(out->host_uri, sizeof(out->host_uri), "%s", uri);
        (void)snprintf(out->addr, sizeof(out->addr), "%s", addr);
    }
    json_decref(j);
    if (rc < 0) {
        deploy_provider_free(out);
    }
    return rc;
}

void deploy_provider_free(deploy_provider_t *p)
{
    if (p != NULL) {
        kumo_buf_free(&p->root_pem);
    }
}

static size_t provider_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    size_t len = size * nmemb;
    return kumo_buf_append(ctx, ptr, len) == 0 ? len : 0;
}

/* A JSON error answer into err; else a generic one naming the status. */
static int
provider_error(const deploy_provider_t *p, long status, const kumo_buf_t *body, kumo_err_ctx_t *err)
{
    json_error_t jerr;
    json_t *j = body->len > 0 ? json_loadb((const char *)body->ptr, body->len, 0, &jerr) : NULL;
    const json_t *e = json_object_get(j, "error");
    const json_t *code = json_object_get(e, "code");
    int rc;
    if (json_is_integer(code) && json_integer_value(code) < 0 && json_integer_value(code) > -1000) {
        rc = kumo_err_set(err, (int)json_integer_value(code), "provider %s: HTTP %ld: %s", p->addr,
                          status, cli_json_str(e, "detail"));
    } else {
        rc = kumo_err_set(err, status == 404 ? KUMO_ENOTFOUND : KUMO_EIO,
                          "provider %s answered HTTP %ld", p->addr, status);
    }
    json_decref(j);
    return rc;
}

static void provider_opts_set(CURL *c,
                              const deploy_tls_t *tls,
                              const deploy_provider_t *p,
                              const char *method,
                              kumo_bytes_t body)
{
    struct curl_blob ca = {p->root_pem.ptr, p->root_pem.len, CURL_BLOB_COPY};
    struct curl_blob cert = {tls->cert_pem.ptr, tls->cert_pem.len, CURL_BLOB_COPY};
    struct curl_blob key = {tls->key_pem.ptr, tls->key_pem.len, CURL_BLOB_COPY};
    (void)curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    (void)curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    (void)curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    (void)curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    (void)curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    (void)curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DEPLOY_PROVIDER_CONNECT_MS);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, DEPLOY_PROVIDER_TIMEOUT_MS);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "GET") != 0) {
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.len > 0 ? (const char *)body.ptr : "");
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    }
}

int deploy_provider_call(const deploy_tls_t *tls,
                         const deploy_provider_t *p,
                         const char *method,
                         const char *path,
                         kumo_bytes_t body,
                         long *status,
                         kumo_buf_t *out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(tls != NULL && p != NULL && path[0] == '/');
    KUMO_ASSERT(status != NULL && out != NULL);
    *status = 0;
    size_t base_len = strlen(p->host_uri);
    while (base_len > 0 && p->host_uri[base_len - 1] == '/') {
        base_len--;
    }
    char url[CLI_PATH_BYTES];
    int n = snprintf(url, sizeof(url), "%.*s%s", (int)base_len, p->host_uri, path);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(url), err, KUMO_ELIMIT, "URL too long");
    CURL *c = curl_easy_init();
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, provider_write_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    provider_opts_set(c, tls, p, method, body);
    CURLcode crc = curl_easy_perform(c);
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (crc != CURLE_OK) {
        *status = 0;
        return kumo_err_set(err, crc == CURLE_WRITE_ERROR ? KUMO_ELIMIT : KUMO_EIO,
                            "cannot reach provider %s at %s: %s", p->addr, p->host_uri,
                            errbuf[0] != '\0' ? errbuf : curl_easy_strerror(crc));
    }
    if (*status < 200 || *status >= 300) {
        return provider_error(p, *status, out, err);
    }
    return 0;
}

int deploy_provider_json(const deploy_tls_t *tls,
                         const deploy_provider_t *p,
                         const char *method,
                         const char *path,
                         kumo_bytes_t body,
                         long *status,
                         json_t **out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    kumo_buf_t ans;
    kumo_buf_init(&ans, DEPLOY_PROVIDER_ANSWER_BYTES_MAX);
    int rc = deploy_provider_call(tls, p, method, path, body, status, &ans, err);
    if (rc == 0) {
        json_error_t jerr;
        *out = json_loadb((const char *)ans.ptr, ans.len, 0, &jerr);
        rc = *out != NULL
                 ? 0
                 : kumo_err_set(err, KUMO_EDECODE, "provider %s: bad JSON: %s", p->addr, jerr.text);
    }
    kumo_buf_free(&ans);
    return rc;
}

/* ---- upgraded connections (the shell session) ---- */

#define DEPLOY_UPGRADE_HEAD_BYTES_MAX 8192u
#define DEPLOY_UPGRADE_WAIT_MS        30000

/* Waits until the socket is ready for events (or timeout_ms). */
static int upgrade_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n = poll(&pfd, 1, timeout_ms);
    return n > 0 ? pfd.revents : 0;
}

/* Sends all of data (waiting up to the deadline each time the socket is full). */
static int upgrade_send_plain(CURL *c, int fd, const char *data, size_t len, kumo_err_ctx_t *err)
{
    while (len > 0) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(c, data, len, &sent);
        if (rc == CURLE_AGAIN) {
            KUMO_ENSURE(upgrade_wait(fd, POLLOUT, DEPLOY_UPGRADE_WAIT_MS) != 0, err, KUMO_EIO,
                        "provider: send timed out");
            continue;
        }
        KUMO_ENSURE(rc == CURLE_OK, err, KUMO_EIO, "provider: send: %s", curl_easy_strerror(rc));
        data += sent;
        len -= sent;
    }
    return 0;
}

/* Reads the answer's head into head (through the blank line at *head_len); *got all bytes. */
static int
upgrade_head_read(CURL *c, int fd, char *head, size_t *head_len, size_t *got, kumo_err_ctx_t *err)
{
    size_t len = 0;
    for (;;) {
        KUMO_ENSURE(len < DEPLOY_UPGRADE_HEAD_BYTES_MAX, err, KUMO_ELIMIT,
                    "provider: answer head over %u bytes", DEPLOY_UPGRADE_HEAD_BYTES_MAX);
        size_t n = 0;
        CURLcode rc = curl_easy_recv(c, head + len, DEPLOY_UPGRADE_HEAD_BYTES_MAX - len, &n);
        if (rc == CURLE_AGAIN) {
            KUMO_ENSURE(upgrade_wait(fd, POLLIN, DEPLOY_UPGRADE_WAIT_MS) != 0, err, KUMO_EIO,
                        "provider: no answer within %d s", DEPLOY_UPGRADE_WAIT_MS / 1000);
            continue;
        }
        KUMO_ENSURE(rc == CURLE_OK && n > 0, err, KUMO_EIO, "provider closed the connection: %s",
                    curl_easy_strerror(rc));
        len += n;
        head[len] = '\0';
        char *end = strstr(head, "\r\n\r\n");
        if (end != NULL) {
            *head_len = (size_t)(end - head) + 4u;
            *got = len;
            return 0;
        }
    }
}

/* A refused upgrade: the rest of its body (Content-Length) read and made an error. */
static int upgrade_refused(CURL *c,
                           int fd,
                           const deploy_provider_t *p,
                           long status,
                           char *head,
                           size_t head_len,
                           size_t got,
                           kumo_err_ctx_t *err)
{
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    size_t want = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0u;
    want = want < DEPLOY_UPGRADE_HEAD_BYTES_MAX ? want : DEPLOY_UPGRADE_HEAD_BYTES_MAX;
    kumo_buf_t body;
    kumo_buf_init(&body, DEPLOY_UPGRADE_HEAD_BYTES_MAX);
    int rc = kumo_buf_append(&body, head + head_len, got - head_len);
    while (rc == 0 && body.len < want) {
        char buf[1024];
        size_t n = 0;
        CURLcode crc = curl_easy_recv(c, buf, sizeof(buf), &n);
        if (crc == CURLE_AGAIN && upgrade_wait(fd, POLLIN, DEPLOY_UPGRADE_WAIT_MS) != 0) {
            continue;
        }
        if (crc != CURLE_OK || n == 0) {
            break;
        }
        rc = kumo_buf_append(&body, buf, n);
    }
    rc = provider_error(p, status, &body, err);
    kumo_buf_free(&body);
    return rc;
}

static int upgrade_request(CURL *c,
                           int fd,
                           const deploy_provider_t *p,
                           const char *path,
                           const char *protocol,
                           kumo_bytes_t body,
                           kumo_err_ctx_t *err)
{
    char host[KUMO_URI_BYTES_MAX + 1];
    const char *h = p->host_uri + 8; /* after https:// */
    (void)snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, "/"), h);
    char req[CLI_PATH_BYTES + KUMO_URI_BYTES_MAX + 256];
    int n = snprintf(req, sizeof(req),
                     "PUT %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     path, host, protocol, body.len);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(req), err, KUMO_ELIMIT, "request too long");
    KUMO_GUARD(upgrade_send_plain(c, fd, req, (size_t)n, err));
    return upgrade_send_plain(c, fd, (const char *)body.ptr, body.len, err);
}

/* Connects (TLS, client certificate) in connect-only mode: the handle and its socket. */
static int upgrade_connect(const deploy_tls_t *tls,
                           const deploy_provider_t *p,
                           CURL **out,
                           int *fd_out,
                           kumo_err_ctx_t *err)
{
    CURL *c = curl_easy_init();
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    (void)curl_easy_setopt(c, CURLOPT_URL, p->host_uri);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    provider_opts_set(c, tls, p, "GET", kumo_bytes_make(NULL, 0));
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    CURLcode crc = curl_easy_perform(c);
    curl_socket_t sock = CURL_SOCKET_BAD;
    if (crc == CURLE_OK) {
        crc = curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &sock);
    }
    if (crc != CURLE_OK || sock == CURL_SOCKET_BAD) {
        int rc = kumo_err_set(err, KUMO_EIO, "cannot reach provider %s at %s: %s", p->addr,
                              p->host_uri, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(crc));
        curl_easy_cleanup(c);
        return rc;
    }
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    *out = c;
    *fd_out = (int)sock;
    return 0;
}

int deploy_provider_upgrade(const deploy_tls_t *tls,
                            const deploy_provider_t *p,
                            const char *path,
                            const char *protocol,
                            kumo_bytes_t body,
                            long *status,
                            deploy_upgrade_t *out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(tls != NULL && p != NULL && path[0] == '/');
    KUMO_ASSERT(status != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    *status = 0;
    CURL *c = NULL;
    int fd = -1;
    KUMO_GUARD(upgrade_connect(tls, p, &c, &fd, err));
    char *head = calloc(1, DEPLOY_UPGRADE_HEAD_BYTES_MAX + 1u);
    size_t head_len = 0;
    size_t got = 0;
    int rc = head != NULL ? upgrade_request(c, fd, p, path, protocol, body, err)
                          : kumo_err_set(err, KUMO_ENOMEM, "answer head");
    rc = rc == 0 ? upgrade_head_read(c, fd, head, &head_len, &got, err) : rc;
    if (rc == 0) {
        *status = strncmp(head, "HTTP/1.", 7) == 0 ? strtol(head + 9, NULL, 10) : 0;
        rc = *status == 101 ? 0 : upgrade_refused(c, fd, p, *status, head, head_len, got, err);
    }
    kumo_buf_init(&out->early, DEPLOY_UPGRADE_HEAD_BYTES_MAX);
    if (rc == 0 && kumo_buf_append(&out->early, head + head_len, got - head_len) != 0) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "stream");
    }
    free(head);
    if (rc < 0) {
        kumo_buf_free(&out->early);
        curl_easy_cleanup(c);
        return rc;
    }
    out->curl = c;
    out->fd = fd;
    return 0;
}

int deploy_upgrade_recv(deploy_upgrade_t *u,
                        deploy_upgrade_recv_cb on_recv,
                        void *ctx,
                        bool *closed,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(u->curl != NULL && on_recv != NULL);
    *closed = false;
    for (;;) {
        uint8_t buf[16384];
        size_t n = 0;
        CURLcode rc = curl_easy_recv(u->curl, buf, sizeof(buf), &n);
        if (rc == CURLE_AGAIN) {
            return 0;
        }
        if (rc != CURLE_OK || n == 0) {
            *closed = true;
            return 0;
        }
        KUMO_GUARD(on_recv(ctx, buf, n, err));
    }
}

int deploy_upgrade_send(deploy_upgrade_t *u,
                        const uint8_t *data,
                        size_t len,
                        deploy_upgrade_recv_cb on_recv,
                        void *ctx,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(u->curl != NULL && on_recv != NULL);
    while (len > 0) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(u->curl, data, len, &sent);
        if (rc == CURLE_AGAIN) {
            int ev = upgrade_wait(u->fd, POLLIN | POLLOUT, 1000);
            bool closed = false;
            if ((ev & POLLIN) != 0) {
                KUMO_GUARD(deploy_upgrade_recv(u, on_recv, ctx, &closed, err));
            }
            KUMO_ENSURE(!closed, err, KUMO_EIO, "the provider closed the session");
            continue;
        }
        KUMO_ENSURE(rc == CURLE_OK, err, KUMO_EIO, "provider: send: %s", curl_easy_strerror(rc));
        data += sent;
        len -= sent;
    }
    return 0;
}

void deploy_upgrade_close(deploy_upgrade_t *u)
{
    if (u->curl != NULL) {
        curl_easy_cleanup(u->curl);
        u->curl = NULL;
    }
    kumo_buf_free(&u->early);
    u->fd = -1;
}
