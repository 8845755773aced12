/*
 * api.c - the provider's HTTPS API server (provider_api.h, docs/provider-api.md) on libevent:
 * evhttp over bufferevent_openssl, TLS 1.3, the server certificate issued by the provider's
 * root, optional client certificates whose Ed25519 key is the caller's account key. This file
 * owns the connections and the workers; the routes are api_route.c.
 *
 * Connections (loop thread): evhttp asks us for each accepted connection's bufferevent
 * (evhttp_set_bevcb), so every connection is counted from its accept, before it sent a byte:
 * its record rides in the SSL's ex_data and is released with the SSL. Right after the accept
 * callback a deferred "link" step finds the evhttp connection (the bufferevent's callback
 * argument), reads the client's address and applies the caps: past connection_per_addr_max
 * for that address, or connection_max in all, the oldest connection still waiting for its
 * request is closed (the new one if all others are busy). A tick closes every connection that
 * did not deliver a whole request within request_timeout_ms of its accept or of its previous
 * answer. Why: a client without a certificate could otherwise hold every connection, idle or
 * trickling one header byte at a time, and starve every tenant.
 *
 * Workers: a request that needs the backend (anything under /deployments/ with a certificate
 * and a well-formed path) is copied into a job and answered by one of worker_count threads,
 * which call the blocking backend (node queries, runtime, peers); the reply comes back through
 * a queue and an eventfd the loop watches. At most job_max jobs wait (503 past it). A job
 * whose connection went away meanwhile is dropped when it comes back (the request, detached
 * from its connection by libevent, is freed then). GET /status is answered on the loop.
 */
#include "provider/api_int.h"
#include "provider/provider_api.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include "codec/codec.h"
#include "log/log.h"
#include "tls/tls.h"

/* evhttp's own idle timeout stays as a backstop; the request deadline is ours. */
#define API_TIMEOUT_S               30
#define API_HEADERS_BYTES_MAX       8192
#define API_CONNECTION_DEFAULT      128u
#define API_PER_ADDR_DEFAULT        16u
#define API_REQUEST_TIMEOUT_DEFAULT 10000u
#define API_WORKER_DEFAULT          2u
#define API_JOB_DEFAULT             64u
#define API_JOB_PER_ADDR_DEFAULT    8u
#define API_TICK_MS                 200
/* Replies are bounded: logs are the largest (16 MiB), then a manifest (1 MiB). */
#define API_REPLY_BYTES_MAX (17u * 1024u * 1024u)

typedef struct api_job api_job_t;

/* One accepted connection. Freed with its SSL (api_ex_free); api is NULL once the API closed
 * before the SSL was. */
typedef struct api_conn {
    kumo_provider_api_t *api;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* set when linked; NULL once evhttp closed it */
    bool linked;
    bool busy;            /* a request is being answered */
    uint8_t key[16];      /* client address (IPv4, or the /64 of IPv6) */
    uint64_t deadline_ms; /* while not busy: the whole next request by then */
    api_job_t *job;       /* the request a worker answers */
    struct api_conn *prev, *next;
} api_conn_t;

struct api_job {
    api_conn_t *conn;           /* NULL once the connection went away */
    struct evhttp_request *req; /* NULL once libevent freed it */
    bool req_ours;              /* detached from its connection: ours to free */
    pd_api_rq_t rq;
    kumo_buf_t body; /* rq.body's bytes */
    pd_api_reply_t reply;
    int shell_slot; /* a reserved shell session slot, -1 if none */
    api_job_t *next;
};

typedef struct api_worker {
    kumo_provider_api_t *api;
    pthread_t thread;
    bool started;
    pd_api_ctx_t ctx;
} api_worker_t;

struct kumo_provider_api {
    struct event_base *base;
    struct evhttp *http;
    void *ssl_ctx;
    kumo_provider_api_backend_t backend;
    kumo_provider_api_cfg_t cfg; /* caps in force */
    char listen_addr[144];
    /* connections (loop thread) */
    api_conn_t *conns; /* oldest first */
    api_conn_t *conns_tail;
    uint32_t conn_count;
    struct event *link_ev;
    struct event *tick_ev;
    kumo_provider_api_stats_t stats;
    /* workers */
    api_worker_t workers[KUMO_PROVIDER_API_WORKER_MAX];
    pthread_mutex_t mu; /* guards queue, done, stop */
    pthread_cond_t cond;
    bool mu_ready;
    api_job_t *queue, *queue_tail;
    api_job_t *done;
    uint32_t job_count; /* queued, running or done, not yet answered (loop thread) */
    bool stop;
    int done_fd; /* eventfd: a worker finished a job */
    struct event *done_ev;
    pd_shells_t *shells; /* shell sessions (api_shell.c) */
};

static int api_ex_index = -1;
static pthread_once_t api_ex_once = PTHREAD_ONCE_INIT;

static uint64_t api_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- connections ---- */

static void api_conn_unlink(kumo_provider_api_t *api, api_conn_t *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        api->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        api->conns_tail = c->prev;
    }
    KUMO_ASSERT(api->conn_count > 0);
    api->conn_count--;
}

/* The SSL (and so the connection) is gone. */
static void api_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    api_conn_t *c = ptr;
    if (c == NULL) {
        return;
    }
    if (c->api != NULL) {
        api_conn_unlink(c->api, c);
    }
    if (c->job != NULL) {
        c->job->conn = NULL;
    }
    kumo_free(c);
}

static void api_ex_init(void)
{
    api_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, api_ex_free);
}

/* evhttp closes the connection: a request a worker still answers is either freed by libevent
 * with the connection (still attached) or detached from it (EOF, timeout) and ours. */
static void api_conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    api_conn_t *c = arg;
    KUMO_ASSERT(c->evcon == evcon);
    c->evcon = NULL;
    if (c->job != NULL) {
        api_job_t *j = c->job;
        if (j->req != NULL && evhttp_request_get_connection(j->req) == NULL) {
            j->req_ours = true;
        } else {
            j->req = NULL;
        }
        j->conn = NULL;
        c->job = NULL;
    }
}

/* Closes the oldest open connection not busy whose key is key (any key when NULL); false if
 * there is none. */
static bool api_conn_evict(kumo_provider_api_t *api, const uint8_t *key)
{
    for (api_conn_t *c = api->conns; c != NULL; c = c->next) {
        if (c->evcon != NULL && !c->busy && (key == NULL || memcmp(c->key, key, 16) == 0)) {
            api->stats.connections_refused++;
            evhttp_connection_free(c->evcon); /* its close callback clears c->evcon */
            return true;
        }
    }
    return false;
}

/* The client address of fd as a cap key: IPv4 as is, IPv6 by its /64 (one host usually has
 * the whole /64). */
static void api_conn_key(evutil_socket_t fd, uint8_t key[16])
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(key, 0, 16);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        memcpy(key, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        memcpy(key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 8);
        key[15] = 6;
    }
}

static uint32_t api_conn_open_count(const kumo_provider_api_t *api, const uint8_t *key)
{
    uint32_t n = 0;
    for (const api_conn_t *c = api->conns; c != NULL; c = c->next) {
        n += c->evcon != NULL && (key == NULL || memcmp(c->key, key, 16) == 0) ? 1u : 0u;
    }
    return n;
}

/* Links one new connection to its evhttp connection and applies the caps. */
static void api_conn_link(kumo_provider_api_t *api, api_conn_t *c)
{
    void *arg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
    c->linked = true;
    if (arg == NULL) {
        return; /* evhttp already dropped it; the SSL goes with the bufferevent */
    }
    c->evcon = arg;
    evhttp_connection_set_closecb(c->evcon, api_conn_closed_cb, c);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    api_conn_key(fd, c->key);
    /* An answer leaves in more than one write (headers, body): without this, Nagle holds the
     * last one until the client's delayed ACK, some 40 ms per request. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->deadline_ms = api_now_ms() + api->cfg.request_timeout_ms;
    if (api_conn_open_count(api, c->key) > api->cfg.connection_per_addr_max) {
        (void)api_conn_evict(api, c->key); /* c itself when every other one is busy */
    }
    if (api_conn_open_count(api, NULL) > api->cfg.connection_max) {
        (void)api_conn_evict(api, NULL);
    }
}

static void api_link_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_provider_api_t *api = arg;
    for (api_conn_t *c = api->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        if (!c->linked) {
            api_conn_link(api, c);
        }
    }
}

/* Closes every connection past its request deadline. */
static void api_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_provider_api_t *api = arg;
    uint64_t now = api_now_ms();
    for (api_conn_t *c = api->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        if (c->evcon != NULL && !c->busy && now > c->deadline_ms) {
            api->stats.request_timeouts++;
            evhttp_connection_free(c->evcon);
        }
    }
    pd_shells_tick(api->shells, now);
}

static struct bufferevent *api_bev_cb(struct event_base *base, void *arg)
{
    kumo_provider_api_t *api = arg;
    SSL *ssl = SSL_new(api->ssl_ctx);
    api_conn_t *c = kumo_calloc(1, sizeof(*c));
    struct bufferevent *bev =
        ssl != NULL && c != NULL
            ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : NULL;
    if (bev == NULL) {
        SSL_free(ssl); /* NULL-safe */
        kumo_free(c);
        return NULL; /* evhttp then makes a plain bufferevent that TLS clients cannot use */
    }
    if (SSL_set_ex_data(ssl, api_ex_index, c) != 1) {
        kumo_free(c); /* untracked: its requests are answered 503 and it is closed */
        return bev;
    }
    c->api = api;
    c->bev = bev;
    c->prev = api->conns_tail;
    if (api->conns_tail != NULL) {
        api->conns_tail->next = c;
    } else {
        api->conns = c;
    }
    api->conns_tail = c;
    api->conn_count++;
    struct timeval now = {0, 0};
    (void)event_add(api->link_ev, &now); /* right after evhttp's accept callback */
    return bev;
}

/* ---- replies on the loop ---- */

static void api_send(struct evhttp_request *req, const pd_api_reply_t *r)
{
    struct evbuffer *b = evbuffer_new();
    if (b != NULL && r->body.len > 0) {
        (void)evbuffer_add(b, r->body.ptr, r->body.len);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      r->content_type != NULL ? r->content_type : "application/json");
    evhttp_send_reply(req, r->status, r->status == 200 ? "OK" : "Error", b);
    if (b != NULL) {
        evbuffer_free(b);
    }
}

static void api_send_error(struct evhttp_request *req, int status, int code, const char *detail)
{
    pd_api_reply_t r = {0};
    kumo_buf_init(&r.body, 4096);
    pd_api_reply_error(&r, status, code, detail);
    api_send(req, &r);
    kumo_buf_free(&r.body);
}

static SSL *api_ssl(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
    return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

/* The answer was written: the connection's next request may take request_timeout_ms. */
static void api_sent_cb(struct evhttp_request *req, void *arg)
{
    (void)req;
    api_conn_t *c = arg;
    if (c->api != NULL) {
        c->busy = false;
        c->deadline_ms = api_now_ms() + c->api->cfg.request_timeout_ms;
    }
}

/* From a whole request until its answer is written the connection is busy: no request
 * deadline (evhttp's own timeout bounds a reader that stalls), never closed for a cap. */
static void api_conn_hold(api_conn_t *c, struct evhttp_request *req)
{
    c->busy = true;
    evhttp_request_set_on_complete_cb(req, api_sent_cb, c);
}

/* ---- workers ---- */

static void api_job_free(api_job_t *j)
{
    if (j->req_ours && j->req != NULL) {
        evhttp_request_free(j->req);
    }
    kumo_buf_free(&j->body);
    kumo_buf_free(&j->reply.body);
    if (j->reply.shell) {
        pd_shell_stream_free(&j->reply.stream);
    }
    kumo_free(j);
}

static void *api_worker_run(void *arg)
{
    api_worker_t *w = arg;
    kumo_provider_api_t *api = w->api;
    for (;;) {
        (void)pthread_mutex_lock(&api->mu);
        while (!api->stop && api->queue == NULL) {
            (void)pthread_cond_wait(&api->cond, &api->mu);
        }
        api_job_t *j = api->queue;
        if (api->stop) { /* what is still queued is dropped by the close */
            (void)pthread_mutex_unlock(&api->mu);
            return NULL;
        }
        api->queue = j->next;
        api->queue_tail = api->queue != NULL ? api->queue_tail : NULL;
        (void)pthread_mutex_unlock(&api->mu);
        pd_api_route(&w->ctx, &j->rq, &j->reply);
        (void)pthread_mutex_lock(&api->mu);
        j->next = api->done;
        api->done = j;
        (void)pthread_mutex_unlock(&api->mu);
        uint64_t one = 1;
        (void)!write(api->done_fd, &one, sizeof(one));
    }
}

/* A shell request answered by its worker: the session starts on its connection, or the
 * reply (an error) is sent and the slot freed. */
static void api_shell_done(kumo_provider_api_t *api, api_job_t *j)
{
    bool alive = j->conn != NULL && j->conn->evcon != NULL && j->req != NULL && !j->req_ours;
    if (alive && j->reply.shell && j->reply.status == 101) {
        j->reply.shell = false; /* the session's now */
        pd_shells_start(api->shells, j->shell_slot, j->conn->evcon, &j->reply.stream);
        return;
    }
    pd_shells_release(api->shells, j->shell_slot);
    j->shell_slot = -1;
    if (alive) {
        if (j->reply.status == 101) {
            api_send_error(j->req, 500, KUMO_EIO, "shell session not started");
        } else {
            api_send(j->req, &j->reply);
        }
    }
}

/* Answers the jobs the workers finished (loop thread). */
static void api_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    kumo_provider_api_t *api = arg;
    uint64_t n = 0;
    (void)!read(fd, &n, sizeof(n));
    (void)pthread_mutex_lock(&api->mu);
    api_job_t *done = api->done;
    api->done = NULL;
    (void)pthread_mutex_unlock(&api->mu);
    while (done != NULL) {
        api_job_t *j = done;
        done = j->next;
        KUMO_ASSERT(api->job_count > 0);
        api->job_count--;
        if (j->conn != NULL) {
            KUMO_ASSERT(j->conn->job == j);
            j->conn->job = NULL; /* busy until the answer is written (api_sent_cb) */
        }
        if (j->shell_slot >= 0) {
            api_shell_done(api, j);
        } else if (j->req != NULL && !j->req_ours) {
            api_send(j->req, &j->reply);
        }
        api_job_free(j);
    }
}

/* The request's copy for a worker; NULL when it cannot be made (answered). */
static api_job_t *api_job_make(struct evhttp_request *req, const pd_api_rq_t *rq)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    api_job_t *j = kumo_calloc(1, sizeof(*j));
    if (j == NULL) {
        api_send_error(req, 503, KUMO_ENOMEM, "out of memory; retry later");
        return NULL;
    }
    j->rq = *rq;
    kumo_buf_init(&j->body, KUMO_PROVIDER_MANIFEST_BYTES_MAX + 1024u);
    kumo_buf_init(&j->reply.body, API_REPLY_BYTES_MAX);
    /* Bodies past a route's limit are refused by the route from their length alone. */
    size_t take = len <= KUMO_PROVIDER_MANIFEST_BYTES_MAX ? len : 0u;
    if (take > 0 && (kumo_buf_reserve(&j->body, take) != 0 ||
                     evbuffer_copyout(in, j->body.ptr, take) != (ev_ssize_t)take)) {
        api_job_free(j);
        api_send_error(req, 503, KUMO_ENOMEM, "out of memory; retry later");
        return NULL;
    }
    j->body.len = take;
    j->rq.body = kumo_bytes_make(j->body.ptr != NULL ? j->body.ptr : (const uint8_t *)"", len);
    if (take != len) {
        j->rq.body.ptr = NULL; /* only the length counts: over every limit */
    }
    j->req = req;
    j->shell_slot = -1;
    return j;
}

static void api_job_queue(kumo_provider_api_t *api, api_conn_t *c, api_job_t *j)
{
    KUMO_ASSERT(c->job == NULL);
    KUMO_ASSERT(c->busy);
    c->job = j;
    j->conn = c;
    api->job_count++;
    (void)pthread_mutex_lock(&api->mu);
    if (api->queue_tail != NULL) {
        api->queue_tail->next = j;
    } else {
        api->queue = j;
    }
    api->queue_tail = j;
    (void)pthread_cond_signal(&api->cond);
    (void)pthread_mutex_unlock(&api->mu);
}

/* ---- requests ---- */

/* What the loop reads of a request for the routes. */
static void api_rq_read(struct evhttp_request *req, SSL *ssl, pd_api_rq_t *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->put = evhttp_request_get_command(req) == EVHTTP_REQ_PUT;
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    if (ssl != NULL && kumo_tls_peer_pubkey(ssl, pubkey, NULL) == 0) {
        kumo_crypto_address_from_pubkey(pubkey, rq->caller);
        rq->has_caller = true;
    }
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    bool fits =
        path != NULL && snprintf(rq->path, sizeof(rq->path), "%s", path) < (int)sizeof(rq->path);
    if (query != NULL &&
        snprintf(rq->query, sizeof(rq->query), "%s", query) >= (int)sizeof(rq->query)) {
        rq->query[0] = '\0';
    }
    rq->path_ok = fits && pd_api_rq_parse(rq);
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *conn = evhttp_find_header(h, "Connection");
    const char *up = evhttp_find_header(h, "Upgrade");
    rq->upgrade = conn != NULL && strcasestr(conn, "upgrade") != NULL && up != NULL &&
                  strcmp(up, KUMO_PROVIDER_SHELL_PROTOCOL) == 0;
}

/* Connections of address key with a request at a worker. */
static uint32_t api_conn_busy_count(const kumo_provider_api_t *api, const uint8_t key[16])
{
    uint32_t n = 0;
    for (const api_conn_t *c = api->conns; c != NULL; c = c->next) {
        n += c->busy && memcmp(c->key, key, 16) == 0 ? 1u : 0u;
    }
    return n;
}

static void api_info(kumo_provider_api_t *api, struct evhttp_request *req)
{
    json_t *info = NULL;
    kumo_err_ctx_t err = {0};
    pd_api_reply_t r = {0};
    kumo_buf_init(&r.body, 64u * 1024u);
    if (api->backend.info(api->backend.ctx, &info, &err) < 0) {
        pd_api_reply_error(&r, 500, err.code != 0 ? err.code : KUMO_EIO, err.detail);
    } else {
        char *text = json_dumps(info, JSON_COMPACT);
        json_decref(info);
        r.status = text != NULL && kumo_buf_append(&r.body, text, strlen(text)) == 0 ? 200 : 500;
        r.content_type = "application/json";
        free(text);
    }
    api_send(req, &r);
    kumo_buf_free(&r.body);
}

/* A shell request: the upgrade asked for, and a session slot within the caps. False when
 * answered. */
static bool api_shell_admit(kumo_provider_api_t *api,
                            struct evhttp_request *req,
                            const pd_api_rq_t *rq,
                            int *slot)
{
    if (!rq->upgrade) {
        api_send_error(
            req, 400, KUMO_EINVAL,
            "a shell needs Connection: Upgrade and Upgrade: " KUMO_PROVIDER_SHELL_PROTOCOL);
        return false;
    }
    *slot = pd_shells_reserve(api->shells, rq->caller);
    if (*slot < 0) {
        api_send_error(req, 429, KUMO_ELIMIT,
                       "too many shell sessions (yours or in all); close one or retry later");
        return false;
    }
    return true;
}

/* Whether answering rq asks the daemon (a worker's job). A caller that is not the owner, on a
 * route a grant may open, is refused without asking anything when the backend honours no
 * grants; else the node decides, on a worker. */
static bool api_needs_worker(const kumo_provider_api_t *api, const pd_api_rq_t *rq)
{
    pd_api_kind_t k = pd_api_rq_kind(rq);
    bool owner = memcmp(rq->caller, rq->owner, KUMO_ADDRESS_BYTES) == 0;
    return pd_api_kind_needs_backend(k) &&
           (owner || !pd_api_kind_is_grantable(k) || api->backend.grants != NULL);
}

static void api_request(struct evhttp_request *req, void *arg)
{
    kumo_provider_api_t *api = arg;
    SSL *ssl = api_ssl(req);
    api_conn_t *c = ssl != NULL ? SSL_get_ex_data(ssl, api_ex_index) : NULL;
    if (c == NULL || c->evcon == NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        api_send_error(req, 503, KUMO_ELIMIT, "too many connections; retry later");
        return;
    }
    api_conn_hold(c, req);
    pd_api_rq_t rq;
    api_rq_read(req, ssl, &rq);
    if (strcmp(rq.path, "/status") == 0 && !rq.put) {
        api_info(api, req);
        return;
    }
    if (!api_needs_worker(api, &rq)) { /* answered here */
        pd_api_reply_t r = {0};
        kumo_buf_init(&r.body, 4096);
        pd_api_ctx_t none = {.be = &api->backend, .ctx = NULL};
        pd_api_route(&none, &rq, &r);
        api_send(req, &r);
        kumo_buf_free(&r.body);
        return;
    }
    if (api->job_count >= api->cfg.job_max ||
        api_conn_busy_count(api, c->key) > api->cfg.job_per_addr_max) { /* this one included */
        api->stats.jobs_refused++;
        api_send_error(req, 503, KUMO_ELIMIT, "busy; retry later");
        return;
    }
    int slot = -1;
    if (pd_api_rq_kind(&rq) == PD_API_SHELL && !api_shell_admit(api, req, &rq, &slot)) {
        return; /* answered */
    }
    api_job_t *j = api_job_make(req, &rq);
    if (j == NULL) {
        if (slot >= 0) {
            pd_shells_release(api->shells, slot);
        }
        return; /* answered */
    }
    j->shell_slot = slot;
    api_job_queue(api, c, j);
}

/* ---- lifecycle ---- */

static void api_cfg_fill(kumo_provider_api_t *api, const kumo_provider_api_cfg_t *cfg)
{
    api->cfg = *cfg;
    api->cfg.connection_max =
        cfg->connection_max > 0 ? cfg->connection_max : API_CONNECTION_DEFAULT;
    api->cfg.connection_per_addr_max =
        cfg->connection_per_addr_max > 0 ? cfg->connection_per_addr_max : API_PER_ADDR_DEFAULT;
    api->cfg.request_timeout_ms =
        cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : API_REQUEST_TIMEOUT_DEFAULT;
    api->cfg.worker_count = cfg->worker_count > 0 ? cfg->worker_count : API_WORKER_DEFAULT;
    api->cfg.worker_count = api->cfg.worker_count < KUMO_PROVIDER_API_WORKER_MAX
                                ? api->cfg.worker_count
                                : KUMO_PROVIDER_API_WORKER_MAX;
    api->cfg.job_max = cfg->job_max > 0 ? cfg->job_max : API_JOB_DEFAULT;
    api->cfg.job_per_addr_max =
        cfg->job_per_addr_max > 0 ? cfg->job_per_addr_max : API_JOB_PER_ADDR_DEFAULT;
    KUMO_ASSERT(api->cfg.worker_count >= 1 &&
                api->cfg.worker_count <= KUMO_PROVIDER_API_WORKER_MAX);
}

/* Events and workers; 0 or an error (the caller closes). */
static int api_machinery_start(kumo_provider_api_t *api, kumo_err_ctx_t *err)
{
    api->link_ev = evtimer_new(api->base, api_link_cb, api);
    api->tick_ev = event_new(api->base, -1, EV_PERSIST, api_tick_cb, api);
    api->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    api->done_ev = api->done_fd >= 0
                       ? event_new(api->base, api->done_fd, EV_READ | EV_PERSIST, api_done_cb, api)
                       : NULL;
    struct timeval tick = {0, API_TICK_MS * 1000};
    KUMO_ENSURE(api->link_ev != NULL && api->tick_ev != NULL && api->done_ev != NULL &&
                    event_add(api->tick_ev, &tick) == 0 && event_add(api->done_ev, NULL) == 0,
                err, KUMO_ENOMEM, "provider API events");
    KUMO_ENSURE(pthread_mutex_init(&api->mu, NULL) == 0, err, KUMO_ENOMEM, "mutex");
    if (pthread_cond_init(&api->cond, NULL) != 0) {
        (void)pthread_mutex_destroy(&api->mu);
        return kumo_err_set(err, KUMO_ENOMEM, "condition");
    }
    api->mu_ready = true;
    for (uint32_t i = 0; i < api->cfg.worker_count; i++) {
        api_worker_t *w = &api->workers[i];
        w->api = api;
        w->ctx.be = &api->backend;
        w->ctx.ctx = api->backend.worker_ctx != NULL ? api->backend.worker_ctx(api->backend.ctx, i)
                                                     : api->backend.ctx;
        KUMO_ENSURE(pthread_create(&w->thread, NULL, api_worker_run, w) == 0, err, KUMO_ENOMEM,
                    "API worker");
        w->started = true;
    }
    return 0;
}

/* "host:port" of cfg->listen bound; 0 or an error. */
static int api_bind(kumo_provider_api_t *api, const char *listen, kumo_err_ctx_t *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    int n =
        colon != NULL ? snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen) : -1;
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(host), err, KUMO_EINVAL,
                "api_listen '%s': expected host:port", listen);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(api->http, host, (uint16_t)strtoul(colon + 1, NULL, 10));
    KUMO_ENSURE(bound != NULL, err, KUMO_EIO, "cannot listen on %s", listen);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    uint16_t port = 0;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0 &&
        ss.ss_family == AF_INET) {
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    (void)snprintf(api->listen_addr, sizeof(api->listen_addr), "%s:%u", host, port);
    return 0;
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
    api->done_fd = -1;
    api_cfg_fill(api, cfg);
    kumo_tls_ctx_cfg_t tc = {.server = true,
                             .cert_pem = cfg->server_cert_pem,
                             .key = cfg->server_key,
                             .peer_check = KUMO_TLS_PEER_PUBKEY,
                             .client_cert_optional = true};
    int rc = kumo_tls_ctx_new(&tc, &api->ssl_ctx, err);
    api->http = rc == 0 ? evhttp_new(base) : NULL;
    rc = rc == 0 && api->http == NULL ? kumo_err_set(err, KUMO_ENOMEM, "evhttp") : rc;
    rc = rc == 0 ? api_machinery_start(api, err) : rc;
    rc = rc == 0 ? pd_shells_new(base, &api->backend, &api->cfg, &api->shells, err) : rc;
    if (rc == 0) {
        evhttp_set_bevcb(api->http, api_bev_cb, api);
        evhttp_set_gencb(api->http, api_request, api);
        evhttp_set_max_body_size(api->http, KUMO_PROVIDER_MANIFEST_BYTES_MAX + 1024u);
        evhttp_set_max_headers_size(api->http, API_HEADERS_BYTES_MAX);
        evhttp_set_timeout(api->http, API_TIMEOUT_S);
        evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_PUT);
        rc = api_bind(api, cfg->listen, err);
    }
    if (rc < 0) {
        kumo_provider_api_close(api);
        return rc;
    }
    KUMO_LOG_DEBUG("provider", "api_caps",
                   "connection_max=%u per_addr_max=%u request_timeout_ms=%u workers=%u",
                   api->cfg.connection_max, api->cfg.connection_per_addr_max,
                   api->cfg.request_timeout_ms, api->cfg.worker_count);
    *out = api;
    return 0;
}

/* Frees every job not answered (at close, the workers stopped). */
static void api_jobs_drop(kumo_provider_api_t *api)
{
    api_job_t *lists[2] = {api->queue, api->done};
    api->queue = NULL;
    api->queue_tail = NULL;
    api->done = NULL;
    for (size_t i = 0; i < 2; i++) {
        while (lists[i] != NULL) {
            api_job_t *j = lists[i];
            lists[i] = j->next;
            KUMO_ASSERT(j->conn == NULL);
            api_job_free(j);
        }
    }
}

static void api_workers_stop(kumo_provider_api_t *api)
{
    if (!api->mu_ready) {
        return;
    }
    (void)pthread_mutex_lock(&api->mu);
    api->stop = true;
    (void)pthread_cond_broadcast(&api->cond);
    (void)pthread_mutex_unlock(&api->mu);
    for (uint32_t i = 0; i < KUMO_PROVIDER_API_WORKER_MAX; i++) {
        if (api->workers[i].started) {
            (void)pthread_join(api->workers[i].thread, NULL);
        }
    }
}

/* Call on the loop thread, or after it stopped. */
void kumo_provider_api_close(kumo_provider_api_t *api)
{
    if (api == NULL) {
        return;
    }
    api_workers_stop(api); /* no job runs now: each is queued or done */
    for (api_conn_t *c = api->conns; c != NULL; c = c->next) {
        if (c->job != NULL) { /* its request is still attached: evhttp_free frees it */
            c->job->req = NULL;
            c->job->conn = NULL;
            c->job = NULL;
        }
    }
    pd_shells_free(api->shells); /* before evhttp frees their connections */
    if (api->http != NULL) {
        evhttp_free(api->http);
    }
    api_jobs_drop(api);
    for (api_conn_t *c = api->conns; c != NULL; c = c->next) {
        c->api = NULL; /* SSLs still to be freed by libevent release their record alone */
    }
    if (api->link_ev != NULL) {
        event_free(api->link_ev);
    }
    if (api->tick_ev != NULL) {
        event_free(api->tick_ev);
    }
    if (api->done_ev != NULL) {
        event_free(api->done_ev);
    }
    if (api->done_fd >= 0) {
        (void)close(api->done_fd);
    }
    if (api->mu_ready) {
        (void)pthread_cond_destroy(&api->cond);
        (void)pthread_mutex_destroy(&api->mu);
    }
    kumo_tls_ctx_free(api->ssl_ctx);
    kumo_free(api);
}

const char *kumo_provider_api_listen_addr(const kumo_provider_api_t *api)
{
    return api->listen_addr;
}

void kumo_provider_api_stats(const kumo_provider_api_t *api, kumo_provider_api_stats_t *out)
{
    *out = api->stats;
    out->connections = api_conn_open_count(api, NULL);
    pd_shells_stats(api->shells, &out->shell_sessions, &out->shell_refused,
                    &out->shell_idle_closed);
}
