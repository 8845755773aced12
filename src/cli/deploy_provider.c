/*
 * deploy_provider.c - the tenant's HTTPS client of the provider API (docs/provider-api.md):
 * the provider's host_uri and root certificate come from the chain (GET /providers/{addr});
 * the server is verified against that root only (never a public CA), and the tenant proves
 * who it is with a short-lived self-signed certificate made from its account key (CN = its
 * address), handed to libcurl as in-memory blobs so no key touches the disk.
 */
#include <inttypes.h>
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
    struct curl_slist *hdrs = curl_slist_append(
        NULL, strstr(path, "/links") != NULL ? "Content-Type: application/json"
                                             : "Content-Type: application/octet-stream");
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
