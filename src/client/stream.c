/*
 * stream.c - the node's event stream (GET /events, docs/api.md "Events") as a libcurl multi
 * transfer pumped by kumo_client_stream_next, so a caller stays one thread with blocking
 * calls in between (the kernel buffers the stream meanwhile) and can cut a wait short from
 * another thread (curl_multi_wakeup). Parsed events wait in a bounded queue.
 *
 * Resume: the node ends a stream it drops (a slow reader, a restart); the stream then
 * reconnects with Last-Event-ID set to the id of the last event it queued, and the node
 * replays from just after it, so no event is lost or repeated. Reconnects that bring nothing
 * KUMO_CLIENT_STREAM_RESUME_MAX times in a row (the node is gone) end the stream with
 * KUMO_EIO; an HTTP error answer ends it at once (a bad filter, too many subscribers). A node
 * that goes silent (no keepalive for CLIENT_STREAM_SILENCE_S) counts as an ended stream.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client_int.h"

/* The node sends a keepalive comment every 15 s; four missed ones mean the connection is
 * dead even if TCP has not noticed. */
#define CLIENT_STREAM_SILENCE_S 60L
/* The pause before the n-th reconnect in a row that brought nothing is n times this. */
#define CLIENT_STREAM_RETRY_STEP_MS 1000u

struct kumo_client_stream {
    char url[KUMO_CLIENT_URL_BYTES_MAX + KUMO_CLIENT_PATH_BYTES_MAX + 1];
    uint32_t connect_timeout_ms;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    bool added;
    kumo_client_sse_t *sse;
    kumo_client_event_t *queue; /* [head, tail) waiting */
    size_t head;
    size_t tail;
    size_t cap;
    bool done;   /* the current transfer ended */
    bool failed; /* the stream broke a rule: terminal */
    kumo_err_ctx_t fail;
    long http_status;   /* of the current transfer, once known */
    bool got_bytes;     /* the current transfer brought some */
    CURLcode result;    /* of the ended transfer */
    uint32_t resumes;   /* reconnects so far */
    uint32_t empty_run; /* reconnects in a row that brought nothing */
    bool retry_planned; /* of the ended transfer */
    uint64_t retry_at_ms;
    char last_id[KUMO_CLIENT_SSE_ID_BYTES_MAX + 1];
    uint64_t height;
    atomic_int woken;
    char errbuf[CURL_ERROR_SIZE];
};

static uint64_t stream_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void kumo_client_event_clear(kumo_client_event_t *ev)
{
    if (ev == NULL) {
        return;
    }
    json_decref(ev->data);
    memset(ev, 0, sizeof(*ev));
}

int kumo_client_event_id_height(const char *id, uint64_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(id != NULL);
    KUMO_ASSERT(out != NULL);
    size_t digits = strspn(id, "0123456789");
    KUMO_ENSURE(digits > 0 && digits <= 20 && (id[digits] == '\0' || id[digits] == ':'), err,
                KUMO_EDECODE, "event stream: bad event id '%.32s'", id);
    uint64_t h = 0;
    for (size_t i = 0; i < digits; i++) {
        KUMO_ENSURE(kumo_u64_mul(h, 10, &h) == 0 &&
                        kumo_u64_add(h, (uint64_t)(id[i] - '0'), &h) == 0,
                    err, KUMO_EDECODE, "event stream: event id '%.32s' over 2^64", id);
    }
    *out = h;
    return 0;
}

/* A parsed message into the queue. */
static int stream_event_cb(void *ctx,
                           const char *event,
                           const char *id,
                           const char *data,
                           size_t data_len,
                           kumo_err_ctx_t *err)
{
    kumo_client_stream_t *s = ctx;
    KUMO_ENSURE(s->tail - s->head < KUMO_CLIENT_STREAM_QUEUE_MAX, err, KUMO_ELIMIT,
                "event stream: more than %u events waiting", KUMO_CLIENT_STREAM_QUEUE_MAX);
    kumo_client_event_t ev = {0};
    KUMO_GUARD(kumo_client_event_id_height(id, &ev.height, err));
    json_error_t jerr;
    ev.data = json_loadb(data, data_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(ev.data)) {
        json_decref(ev.data);
        return kumo_err_set(err, KUMO_EDECODE, "event stream: '%s' data is not a JSON object: %s",
                            event, jerr.text);
    }
    (void)snprintf(ev.type, sizeof(ev.type), "%s", event);
    (void)snprintf(ev.id, sizeof(ev.id), "%s", id);
    if (s->head > 0 && s->tail == s->cap) {
        memmove(s->queue, s->queue + s->head, (s->tail - s->head) * sizeof(*s->queue));
        s->tail -= s->head;
        s->head = 0;
    }
    if (s->tail == s->cap) {
        size_t cap = s->cap > 0 ? s->cap * 2u : 64u;
        kumo_client_event_t *q = realloc(s->queue, cap * sizeof(*q));
        if (q == NULL) {
            json_decref(ev.data);
            return kumo_err_set(err, KUMO_ENOMEM, "event queue");
        }
        s->queue = q;
        s->cap = cap;
    }
    s->queue[s->tail++] = ev;
    (void)snprintf(s->last_id, sizeof(s->last_id), "%s", id);
    return 0;
}

static size_t stream_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_client_stream_t *s = ctx;
    size_t len = size * nmemb;
    if (s->failed) {
        return 0;
    }
    if (s->http_status == 0) {
        (void)curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http_status);
    }
    if (s->http_status != 200) {
        return len; /* an error answer's body: the status says it all */
    }
    s->got_bytes = s->got_bytes || len > 0;
    if (kumo_client_sse_feed(s->sse, ptr, len, &s->fail) < 0) {
        s->failed = true;
        return 0;
    }
    return len;
}

/* (Re)starts the transfer: from the last id queued, else from the URL's from_height. */
static int stream_connect(kumo_client_stream_t *s, kumo_err_ctx_t *err)
{
    if (s->added) {
        (void)curl_multi_remove_handle(s->multi, s->easy);
        s->added = false;
    }
    curl_slist_free_all(s->hdrs);
    s->hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
    KUMO_ENSURE(s->hdrs != NULL, err, KUMO_ENOMEM, "curl header");
    if (s->last_id[0] != '\0') {
        char h[32 + KUMO_CLIENT_SSE_ID_BYTES_MAX];
        (void)snprintf(h, sizeof(h), "Last-Event-ID: %s", s->last_id);
        struct curl_slist *more = curl_slist_append(s->hdrs, h);
        KUMO_ENSURE(more != NULL, err, KUMO_ENOMEM, "curl header");
        s->hdrs = more;
    }
    /* Half a message of the old connection must not join the new one's. */
    kumo_client_sse_free(s->sse);
    kumo_client_sse_init(s->sse, stream_event_cb, s);
    (void)snprintf(s->sse->id, sizeof(s->sse->id), "%s", s->last_id);
    s->errbuf[0] = '\0';
    s->done = false;
    s->retry_planned = false;
    s->http_status = 0;
    s->got_bytes = false;
    curl_easy_reset(s->easy);
    (void)curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    (void)curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    (void)curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
    (void)curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    (void)curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 0L);
    (void)curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    (void)curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, CLIENT_STREAM_SILENCE_S);
    (void)curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    (void)curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write_cb);
    (void)curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    CURLMcode mc = curl_multi_add_handle(s->multi, s->easy);
    KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
    s->added = true;
    return 0;
}

int kumo_client_stream_open(kumo_client_t *c,
                            const char *filters,
                            uint64_t from_height,
                            kumo_client_stream_t **out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL);
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    char path[KUMO_CLIENT_PATH_BYTES_MAX];
    int n =
        snprintf(path, sizeof(path), "/events%s%s",
                 filters != NULL && filters[0] != '\0' ? "?" : "", filters != NULL ? filters : "");
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "event filters too long");
    if (from_height > 0) {
        char h[24];
        (void)snprintf(h, sizeof(h), "%" PRIu64, from_height);
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "from_height", h, err));
    }
    kumo_client_stream_t *s = calloc(1, sizeof(*s));
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "event stream");
    int rc = client_url_make(c, path, s->url, sizeof(s->url), err);
    s->connect_timeout_ms = c->connect_timeout_ms;
    atomic_init(&s->woken, 0);
    s->sse = rc == 0 ? malloc(sizeof(*s->sse)) : NULL;
    if (s->sse != NULL) {
        kumo_client_sse_init(s->sse, stream_event_cb, s);
    }
    s->multi = s->sse != NULL ? curl_multi_init() : NULL;
    s->easy = s->multi != NULL ? curl_easy_init() : NULL;
    if (rc == 0 && s->easy == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "event stream");
    }
    rc = rc == 0 ? stream_connect(s, err) : rc;
    if (rc < 0) {
        kumo_client_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Runs the transfer for at most wait_ms (less when events come or a wakeup); notes its end. */
static int stream_pump(kumo_client_stream_t *s, int wait_ms, kumo_err_ctx_t *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(s->multi, &running);
    KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
    int left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            s->done = true;
            s->result = msg->data.result;
        }
    }
    if (!s->done && wait_ms > 0 && s->head == s->tail) {
        mc = curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
        KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
    }
    return 0;
}

/* The transfer ended: when to reconnect (retry_at_ms), or why not (failed). A stream that
 * brought events reconnects at once; one that brought nothing waits a second longer each
 * time (a node restarting takes a few seconds). */
static void stream_resume_plan(kumo_client_stream_t *s)
{
    KUMO_ASSERT(s->done && !s->retry_planned);
    s->retry_planned = true;
    if (s->http_status != 0 && s->http_status != 200) {
        s->failed = true;
        (void)kumo_err_set(&s->fail, KUMO_EIO, "the node refused the event stream %s: HTTP %ld",
                           s->url, s->http_status);
        return;
    }
    s->empty_run = s->got_bytes ? 0u : s->empty_run + 1u;
    if (s->empty_run > KUMO_CLIENT_STREAM_RESUME_MAX) {
        s->failed = true;
        (void)kumo_err_set(&s->fail, KUMO_EIO,
                           "the node's event stream %s ended: %s (%u reconnects brought nothing)",
                           s->url, s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(s->result),
                           KUMO_CLIENT_STREAM_RESUME_MAX);
        return;
    }
    s->retry_at_ms = stream_now_ms() + (uint64_t)s->empty_run * CLIENT_STREAM_RETRY_STEP_MS;
}

/* Waits (wakeably) until the planned reconnect or the deadline, then reconnects when due. */
static int stream_resume(kumo_client_stream_t *s, uint64_t deadline_ms, kumo_err_ctx_t *err)
{
    if (!s->retry_planned) {
        stream_resume_plan(s);
    }
    if (s->failed) {
        return 0;
    }
    uint64_t now = stream_now_ms();
    if (now < s->retry_at_ms) {
        uint64_t until = s->retry_at_ms < deadline_ms ? s->retry_at_ms : deadline_ms;
        uint64_t pause = until > now ? until - now : 0;
        if (pause > 0) {
            CURLMcode mc =
                curl_multi_poll(s->multi, NULL, 0, (int)(pause > 1000 ? 1000 : pause), NULL);
            KUMO_ENSURE(mc == CURLM_OK, err, KUMO_EIO, "event stream: %s", curl_multi_strerror(mc));
        }
        if (stream_now_ms() < s->retry_at_ms) {
            return 0;
        }
    }
    s->resumes++;
    int rc = stream_connect(s, &s->fail);
    if (rc < 0) {
        s->failed = true;
    }
    return 0;
}

int kumo_client_stream_next(kumo_client_stream_t *s,
                            uint32_t wait_ms,
                            kumo_client_event_t *ev,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(s != NULL);
    KUMO_ASSERT(ev != NULL);
    memset(ev, 0, sizeof(*ev));
    uint64_t deadline = stream_now_ms() + wait_ms;
    for (;;) {
        if (s->head < s->tail) {
            *ev = s->queue[s->head++];
            if (s->head == s->tail) {
                s->head = 0;
                s->tail = 0;
            }
            if (strcmp(ev->type, "block") == 0) {
                s->height = ev->height;
            }
            return 0;
        }
        if (s->failed) {
            return kumo_err_set(err, s->fail.code != 0 ? s->fail.code : KUMO_EIO, "%s",
                                s->fail.detail);
        }
        if (atomic_exchange(&s->woken, 0) != 0) {
            return 0;
        }
        uint64_t now = stream_now_ms();
        uint64_t left = now < deadline ? deadline - now : 0;
        if (s->done) {
            KUMO_GUARD(stream_resume(s, deadline, err));
        } else {
            KUMO_GUARD(stream_pump(s, (int)(left > 1000 ? 1000 : left), err));
        }
        if (left == 0 && s->head == s->tail && !s->failed) {
            return 0;
        }
    }
}

void kumo_client_stream_wakeup(kumo_client_stream_t *s)
{
    KUMO_ASSERT(s != NULL);
    atomic_store(&s->woken, 1);
    (void)curl_multi_wakeup(s->multi);
}

uint64_t kumo_client_stream_height(const kumo_client_stream_t *s)
{
    KUMO_ASSERT(s != NULL);
    return s->height;
}

uint32_t kumo_client_stream_resumes(const kumo_client_stream_t *s)
{
    KUMO_ASSERT(s != NULL);
    return s->resumes;
}

void kumo_client_stream_close(kumo_client_stream_t *s)
{
    if (s == NULL) {
        return;
    }
    if (s->added) {
        (void)curl_multi_remove_handle(s->multi, s->easy);
    }
    if (s->easy != NULL) {
        curl_easy_cleanup(s->easy);
    }
    if (s->multi != NULL) {
        (void)curl_multi_cleanup(s->multi);
    }
    curl_slist_free_all(s->hdrs);
    for (size_t i = s->head; i < s->tail; i++) {
        json_decref(s->queue[i].data);
    }
    free(s->queue);
    if (s->sse != NULL) {
        kumo_client_sse_free(s->sse);
        free(s->sse);
    }
    free(s);
}
