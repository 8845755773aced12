/*
 * runtime_int.h - private to src/runtime: the client object and the request helpers that
 * runtime.c (networks, containers) and volume.c (volumes) share.
 */
#ifndef KUMO_RUNTIME_RUNTIME_INT_H
#define KUMO_RUNTIME_RUNTIME_INT_H

#include <curl/curl.h>
#include <jansson.h>

#include "runtime/runtime.h"

#define RT_PATH_BYTES 1024u

struct kumo_runtime {
    char socket[512];
    CURL *curl;
};

typedef struct rt_answer {
    long status;
    kumo_buf_t body;
} rt_answer_t;

/* One request; body (JSON text) may be NULL. The answer's body is the caller's to free. */
int rt_call(kumo_runtime_t *rt,
            const char *method,
            const char *path,
            const char *body,
            rt_answer_t *a,
            kumo_err_ctx_t *err);
/* Maps a non-2xx answer to a code (404 ENOTFOUND, 409 EEXIST, else EIO) with its message. */
int rt_fail(const rt_answer_t *a, const char *what, kumo_err_ctx_t *err);
json_t *rt_labels_json(const kumo_runtime_label_t *labels, uint32_t count);
/* Dumps j (stolen) to text; NULL on failure. */
char *rt_dump(json_t *j);
/* A path with a URL-encoded filters={"label":["k=v"]} query. */
int rt_filtered_path(kumo_runtime_t *rt,
                     const char *base,
                     const char *key,
                     const char *value,
                     char *out,
                     size_t cap,
                     kumo_err_ctx_t *err);

#endif
