/*
 * client_int.h - private to the client module: the handle's fields and the request helpers
 * shared by client.c, tx.c and stream.c.
 */
#ifndef KUMO_CLIENT_CLIENT_INT_H
#define KUMO_CLIENT_CLIENT_INT_H

#include <curl/curl.h>

#include "client/client.h"

#define KUMO_CLIENT_LIST_LIMIT_TEXT "100"

struct kumo_client {
    CURL *curl; /* reused by every request of the handle (keeps the connection alive) */
    char url[KUMO_CLIENT_URL_BYTES_MAX + 1];
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    size_t answer_bytes_max;
};

/* curl_global_init once for the process. */
KUMO_MUST_USE int client_curl_init(kumo_err_ctx_t *err);
/* url + path into out. KUMO_ELIMIT when it does not fit. */
KUMO_MUST_USE int client_url_make(
    const kumo_client_t *c, const char *path, char *out, size_t cap, kumo_err_ctx_t *err);
/* The options every transfer to the node shares (URL, error buffer, connect timeout,
 * protocols, no redirects). */
void client_easy_setup(const kumo_client_t *c, CURL *h, const char *url, char *errbuf);
/* One request (GET when post_body is NULL) with a whole-request timeout. */
KUMO_MUST_USE int client_request(kumo_client_t *c,
                                 const char *path,
                                 const char *post_body,
                                 uint32_t timeout_ms,
                                 json_t **out,
                                 kumo_err_ctx_t *err);
/* POST whose answer may take wait_ms longer than a query's. */
KUMO_MUST_USE int client_post_wait(kumo_client_t *c,
                                   const char *path,
                                   const json_t *body,
                                   uint32_t wait_ms,
                                   json_t **out,
                                   kumo_err_ctx_t *err);

#endif
