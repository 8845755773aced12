/*
 * rpc_conn.c - the HTTP API's connections from accept to close: every accepted connection is
 * tracked and counted at once (before it sends anything), capped in total (rpc_connection_max,
 * lowered to fit the open-files limit) and per client address (rpc_connection_per_addr_max),
 * and must deliver a whole request, head and body, within rpc_request_timeout_ms of its accept
 * or of its previous answer. Not pure; loop thread only.
 *
 * Why: an idle or trickling connection costs a descriptor and nothing else, so without these
 * rules a client could take every descriptor of the process (and with them the signer state's
 * writes) or hold connections forever by sending a header byte per second.
 *
 * How, on libevent 2.1's evhttp (which has no hook per accepted connection): evhttp asks us
 * for each accepted connection's bufferevent (evhttp_set_bevcb), so we learn of it at accept;
 * right after the accept callback a deferred "link" finds the evhttp connection (the
 * bufferevent's callback argument), sets its close callback and applies the caps. At the cap
 * the oldest connection still waiting for its request is closed for the new one; when every
 * connection is busy, accepting pauses until one closes. A periodic tick closes connections
 * past their request deadline and resumes an accept paused by the cap or by running out of
 * descriptors (EMFILE: the listener stops instead of spinning on a readable socket).
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "log/log.h"
#include "rpc/rpc_srv.h"

/* Sent (best effort) to a connection refused at accept, before it is closed. */
#define REFUSED_BODY                                                                          \
    "{\"error\":{\"code\":-3,\"name\":\"KUMO_ELIMIT\",\"message\":\"input exceeds a limit\"," \
    "\"detail\":\"too many connections\"}}"
#define REFUSED_BODY_BYTES 108u
_Static_assert(sizeof(REFUSED_BODY) - 1u == REFUSED_BODY_BYTES, "Content-Length below is exact");
static const char refused_reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Connection: close\r\n"
                                    "Content-Length: 108\r\n"
                                    "\r\n" REFUSED_BODY;

uint64_t kumo_rpc_now_ms(void)
{
    struct timespec ts;
    KUMO_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the map: evhttp connection -> entry ----------------------------------------------------- */

struct rpc_conn_slot {
    const struct evhttp_connection *key; /* NULL: empty */
    rpc_conn_t *entry;
};

static uint32_t map_home(const kumo_rpc_t *rpc, const struct evhttp_connection *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & rpc->by_conn_mask;
}

static int map_init(kumo_rpc_t *rpc, kumo_err_ctx_t *err)
{
    uint32_t cap = 16;
    while (cap < 2u * rpc->conn_max) {
        cap *= 2u;
    }
    rpc->by_conn = kumo_calloc(cap, sizeof(*rpc->by_conn));
    KUMO_ENSURE(rpc->by_conn != NULL, err, KUMO_ENOMEM, "connection map");
    rpc->by_conn_mask = cap - 1u;
    return 0;
}

static void map_put(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    KUMO_ASSERT(entry->conn != NULL && !entry->mapped);
    uint32_t i = map_home(rpc, entry->conn);
    /* admitted entries never exceed conn_max, half the capacity: there is always a free slot */
    while (rpc->by_conn[i].key != NULL) {
        KUMO_ASSERT(rpc->by_conn[i].key != entry->conn);
        i = (i + 1u) & rpc->by_conn_mask;
    }
    rpc->by_conn[i].key = entry->conn;
    rpc->by_conn[i].entry = entry;
    entry->mapped = true;
}

static rpc_conn_t *map_get(const kumo_rpc_t *rpc, const struct evhttp_connection *key)
{
    for (uint32_t i = map_home(rpc, key); rpc->by_conn[i].key != NULL;
         i = (i + 1u) & rpc->by_conn_mask) {
        if (rpc->by_conn[i].key == key) {
            return rpc->by_conn[i].entry;
        }
    }
    return NULL;
}

/* Linear probing's deletion: shift back the entries that probed past the hole. */
static void map_del(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    KUMO_ASSERT(entry->mapped);
    uint32_t i = map_home(rpc, entry->conn);
    while (rpc->by_conn[i].key != entry->conn) {
        KUMO_ASSERT(rpc->by_conn[i].key != NULL);
        i = (i + 1u) & rpc->by_conn_mask;
    }
    uint32_t hole = i;
    for (uint32_t j = (i + 1u) & rpc->by_conn_mask; rpc->by_conn[j].key != NULL;
         j = (j + 1u) & rpc->by_conn_mask) {
        uint32_t home = map_home(rpc, rpc->by_conn[j].key);
        /* j may fill the hole when its home is not cyclically within (hole, j] */
        if (((j - home) & rpc->by_conn_mask) >= ((j - hole) & rpc->by_conn_mask)) {
            rpc->by_conn[hole] = rpc->by_conn[j];
            hole = j;
        }
    }
    rpc->by_conn[hole].key = NULL;
    rpc->by_conn[hole].entry = NULL;
    entry->mapped = false;
}

/* ---- lists ---------------------------------------------------------------------------------- */

static void reading_push(kumo_rpc_t *rpc, rpc_conn_t *entry, uint64_t now_ms)
{
    KUMO_ASSERT(entry->read_prev == NULL && entry->read_next == NULL);
    KUMO_ASSERT(rpc->reading != entry);
    entry->read_start_ms = now_ms;
    entry->read_prev = rpc->reading_tail;
    if (rpc->reading_tail != NULL) {
        rpc->reading_tail->read_next = entry;
    } else {
        rpc->reading = entry;
    }
    rpc->reading_tail = entry;
}

static void reading_remove(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    if (entry->read_prev == NULL && rpc->reading != entry) {
        return; /* not in the list */
    }
    if (entry->read_prev != NULL) {
        entry->read_prev->read_next = entry->read_next;
    } else {
        rpc->reading = entry->read_next;
    }
    if (entry->read_next != NULL) {
        entry->read_next->read_prev = entry->read_prev;
    } else {
        rpc->reading_tail = entry->read_prev;
    }
    entry->read_prev = NULL;
    entry->read_next = NULL;
}

static void conns_push(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    entry->prev = rpc->conns_tail;
    if (rpc->conns_tail != NULL) {
        rpc->conns_tail->next = entry;
    } else {
        rpc->conns = entry;
    }
    rpc->conns_tail = entry;
    rpc->conn_count++;
}

/* Unlinks entry from every list and frees it (its evhttp connection is gone or never was). */
static void entry_free(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    reading_remove(rpc, entry);
    if (entry->mapped) {
        map_del(rpc, entry);
    }
    if (entry->prev != NULL) {
        entry->prev->next = entry->next;
    } else {
        rpc->conns = entry->next;
    }
    if (entry->next != NULL) {
        entry->next->prev = entry->prev;
    } else {
        rpc->conns_tail = entry->prev;
    }
    KUMO_ASSERT(rpc->conn_count > 0);
    rpc->conn_count--;
    if (entry->bev != NULL) {
        (void)bufferevent_decref(entry->bev);
    }
    kumo_free(entry);
}

static void accept_resume(kumo_rpc_t *rpc)
{
    if (rpc->accept_paused && rpc->conn_count < rpc->conn_max && rpc->listener != NULL) {
        rpc->accept_paused = false;
        (void)evconnlistener_enable(rpc->listener);
    }
}

/* ---- close ---------------------------------------------------------------------------------- */

static void conn_on_close(struct evhttp_connection *conn, void *arg)
{
    rpc_conn_t *entry = arg;
    kumo_rpc_t *rpc = entry->rpc;
    KUMO_ASSERT(entry->conn == conn);
    /* A parked request whose peer went away (EOF, timeout) was detached from the connection
     * by libevent and is ours to free; one still attached is freed with the connection. */
    struct evhttp_request *parked = NULL;
    if (entry->waiter != NULL) {
        parked = entry->waiter->hreq;
        kumo_rpc_waiter_release(entry->waiter);
    }
    if (entry->sse != NULL) {
        parked = entry->sse->hreq;
        kumo_rpc_sse_release(entry->sse);
    }
    /* (after evhttp_free, rpc->http is NULL and libevent has freed every request) */
    if (parked != NULL && rpc->http != NULL && evhttp_request_get_connection(parked) == NULL) {
        evhttp_request_free(parked);
    }
    kumo_rpc_conn_watch_stop(entry);
    if (entry->drop != NULL) {
        event_free(entry->drop);
        entry->drop = NULL;
    }
    entry_free(rpc, entry);
    accept_resume(rpc);
}

static void conn_on_peer_closed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rpc_conn_t *entry = arg;
    kumo_rpc_conn_watch_stop(entry);
    /* its close callback releases what was parked on it */
    evhttp_connection_free(entry->conn);
}

static void conn_on_drop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rpc_conn_t *entry = arg;
    event_free(entry->drop);
    entry->drop = NULL;
    kumo_rpc_conn_watch_stop(entry);
    evhttp_connection_free(entry->conn);
}

bool kumo_rpc_conn_drop(rpc_conn_t *entry)
{
    KUMO_ASSERT(entry->conn != NULL);
    if (entry->drop != NULL) {
        return true;
    }
    entry->drop = evtimer_new(entry->rpc->base, conn_on_drop, entry);
    struct timeval now = {0, 0};
    if (entry->drop == NULL || evtimer_add(entry->drop, &now) != 0) {
        if (entry->drop != NULL) {
            event_free(entry->drop);
            entry->drop = NULL;
        }
        return false;
    }
    return true;
}

void kumo_rpc_conn_watch_start(rpc_conn_t *entry)
{
    KUMO_ASSERT(entry->watch == NULL);
    struct event_base *base = entry->rpc->base;
    if ((event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE) == 0) {
        return;
    }
    struct bufferevent *bev = evhttp_connection_get_bufferevent(entry->conn);
    evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    if (fd < 0) {
        return;
    }
    entry->watch = event_new(base, fd, EV_CLOSED, conn_on_peer_closed, entry);
    if (entry->watch != NULL && event_add(entry->watch, NULL) != 0) {
        event_free(entry->watch);
        entry->watch = NULL;
    }
}

void kumo_rpc_conn_watch_stop(rpc_conn_t *entry)
{
    if (entry->watch != NULL) {
        event_free(entry->watch);
        entry->watch = NULL;
    }
}

/* ---- accept --------------------------------------------------------------------------------- */

/* The oldest connection still waiting for its request (not one being set up). */
static rpc_conn_t *evict_candidate(const kumo_rpc_t *rpc)
{
    for (rpc_conn_t *e = rpc->reading; e != NULL; e = e->read_next) {
        if (e->state == RPC_CONN_READING) {
            return e;
        }
    }
    return NULL;
}

/* evhttp's bufferevent factory, called for each accepted connection before evhttp sets it
 * up: the connection is counted from here. At the cap the oldest waiting connection makes
 * room, or (none waiting) this one is refused and accepting pauses. */
static struct bufferevent *conn_on_accept(struct event_base *base, void *arg)
{
    kumo_rpc_t *rpc = arg;
    rpc_conn_t *entry = kumo_calloc(1, sizeof(*entry));
    /* no BEV_OPT_CLOSE_ON_FREE, as evhttp's own: evhttp closes the socket itself */
    struct bufferevent *bev = entry != NULL ? bufferevent_socket_new(base, -1, 0) : NULL;
    if (bev == NULL) {
        kumo_free(entry);
        /* evhttp makes its own; the connection is counted when its request arrives */
        return NULL;
    }
    if (rpc->conn_count >= rpc->conn_max) {
        rpc_conn_t *victim = evict_candidate(rpc);
        if (victim != NULL) {
            rpc->conn_evicted_total++;
            evhttp_connection_free(victim->conn); /* its close callback untracks it */
        }
    }
    if (rpc->conn_count >= rpc->conn_max) {
        entry->refused = true;
        if (!rpc->accept_paused && rpc->listener != NULL) {
            rpc->accept_paused = true;
            (void)evconnlistener_disable(rpc->listener);
            KUMO_LOG_DEBUG("rpc", "accept_paused", "connections=%u", rpc->conn_count);
        }
    }
    /* our reference keeps bev valid until the link, whatever evhttp does meanwhile */
    bufferevent_incref(bev);
    entry->rpc = rpc;
    entry->bev = bev;
    entry->state = RPC_CONN_FRESH;
    conns_push(rpc, entry);
    reading_push(rpc, entry, kumo_rpc_now_ms());
    event_active(rpc->link, EV_TIMEOUT, 0);
    return bev;
}

static uint32_t addr_conn_count(const kumo_rpc_t *rpc, const uint8_t key[16])
{
    uint32_t n = 0;
    /* linear: at most conn_max entries, a few microseconds per accept */
    for (const rpc_conn_t *e = rpc->conns; e != NULL; e = e->next) {
        if (e->state != RPC_CONN_FRESH && memcmp(e->addr_key, key, 16) == 0) {
            n++;
        }
    }
    return n;
}

static void conn_refuse(kumo_rpc_t *rpc, rpc_conn_t *entry, evutil_socket_t fd, const char *why)
{
    rpc->conn_refused_total++;
    KUMO_LOG_DEBUG("rpc", "connection_refused", "reason=%s connections=%u", why, rpc->conn_count);
    /* best effort: a client that has not read yet may never see it */
    (void)send(fd, refused_reply, sizeof(refused_reply) - 1u, MSG_DONTWAIT | MSG_NOSIGNAL);
    evhttp_connection_free(entry->conn); /* its close callback untracks it */
}

/* Links one FRESH entry to its evhttp connection and applies the address cap. */
static void conn_link(kumo_rpc_t *rpc, rpc_conn_t *entry)
{
    bufferevent_data_cb readcb = NULL;
    bufferevent_data_cb writecb = NULL;
    bufferevent_event_cb eventcb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(entry->bev, &readcb, &writecb, &eventcb, &cbarg);
    struct evhttp_connection *conn = cbarg;
    /* evhttp set its callbacks with its connection as the argument; none means it already
     * freed the connection (or never made one) */
    if (eventcb == NULL || conn == NULL || evhttp_connection_get_bufferevent(conn) != entry->bev) {
        entry_free(rpc, entry);
        return;
    }
    evutil_socket_t fd = bufferevent_getfd(entry->bev);
    (void)bufferevent_decref(entry->bev);
    entry->bev = NULL;
    entry->conn = conn;
    entry->state = RPC_CONN_READING;
    evhttp_connection_set_closecb(conn, conn_on_close, entry);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    bool keyed = getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
                 kumo_rpc_addr_key(&ss, (size_t)len, entry->addr_key);
    if (entry->refused || !keyed) {
        conn_refuse(rpc, entry, fd, entry->refused ? "connection_max" : "peer_address");
        return;
    }
    /* counting includes this entry */
    if (addr_conn_count(rpc, entry->addr_key) > rpc->cfg.rpc_connection_per_addr_max) {
        conn_refuse(rpc, entry, fd, "connection_per_addr_max");
        return;
    }
    map_put(rpc, entry);
    /* evhttp writes a reply's headers and body separately; with Nagle on, the body then
     * waits for the client's delayed ACK (about 40 ms per request on Linux). */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        KUMO_LOG_DEBUG("rpc", "nodelay_failed", "fd=%d", (int)fd);
    }
}

static void conn_on_link(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_rpc_t *rpc = arg;
    rpc_conn_t *next = NULL;
    for (rpc_conn_t *e = rpc->reading; e != NULL; e = next) {
        next = e->read_next;
        if (e->state == RPC_CONN_FRESH) {
            conn_link(rpc, e);
            /* a refusal frees only e; next stays valid since FRESH ones are never evicted */
        }
    }
}

/* The listener failed to accept (EMFILE, ENFILE, ENOMEM, ...): it would be readable again at
 * once, so stop it; the tick resumes it. arg is evhttp's, not ours. */
static void listener_on_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    int e = EVUTIL_SOCKET_ERROR();
    (void)evconnlistener_disable(lev);
    KUMO_LOG_WARN("rpc", "accept_failed", "errno=%d detail=\"%s\" pause_ms=%u", e, strerror(e),
                  KUMO_RPC_TICK_MS);
}

/* ---- requests and deadlines ----------------------------------------------------------------- */

static void conn_on_reply_done(struct evhttp_request *hreq, void *arg)
{
    (void)hreq;
    rpc_conn_t *entry = arg;
    /* the connection waits for its next request (or closes right after this) */
    if (entry->state == RPC_CONN_BUSY) {
        entry->state = RPC_CONN_READING;
        reading_push(entry->rpc, entry, kumo_rpc_now_ms());
    }
}

rpc_conn_t *kumo_rpc_conn_on_request(kumo_rpc_t *rpc, struct evhttp_request *hreq)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(hreq);
    rpc_conn_t *entry = conn != NULL ? map_get(rpc, conn) : NULL;
    if (entry == NULL) {
        return NULL;
    }
    KUMO_ASSERT(entry->state != RPC_CONN_FRESH);
    if (entry->waiter != NULL || entry->sse != NULL) {
        return entry; /* pipelined behind a parked request: refused by the caller */
    }
    reading_remove(rpc, entry);
    entry->state = RPC_CONN_BUSY;
    evhttp_request_set_on_complete_cb(hreq, conn_on_reply_done, entry);
    return entry;
}

/* Closes the connections whose request did not arrive in time (the list is in deadline
 * order: the same timeout from each start). */
static void deadlines_run(kumo_rpc_t *rpc, uint64_t now_ms)
{
    uint64_t timeout_ms = rpc->cfg.rpc_request_timeout_ms;
    uint32_t closed = 0;
    while (rpc->reading != NULL && now_ms - rpc->reading->read_start_ms >= timeout_ms) {
        rpc_conn_t *e = rpc->reading;
        if (e->state == RPC_CONN_FRESH) {
            break; /* linked on this loop turn */
        }
        KUMO_ASSERT(e->state == RPC_CONN_READING);
        rpc->request_timeouts_total++;
        closed++;
        evhttp_connection_free(e->conn); /* its close callback untracks it */
    }
    if (closed > 0) {
        KUMO_LOG_DEBUG("rpc", "request_deadline_closed", "connections=%u timeout_ms=%" PRIu64,
                       closed, timeout_ms);
    }
}

static void conn_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_rpc_t *rpc = arg;
    uint64_t now = kumo_rpc_now_ms();
    deadlines_run(rpc, now);
    kumo_rpc_sse_tick(rpc, now);
    /* resumes an accept stopped by the cap or by listener_on_error (enabling an enabled
     * listener is harmless) */
    if (rpc->conn_count < rpc->conn_max && rpc->listener != NULL) {
        rpc->accept_paused = false;
        (void)evconnlistener_enable(rpc->listener);
    }
}

/* ---- start / stop --------------------------------------------------------------------------- */

static uint64_t nofile_soft(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return UINT64_MAX;
    }
    return (uint64_t)rl.rlim_cur;
}

int kumo_rpc_conns_start(kumo_rpc_t *rpc, struct evhttp_bound_socket *sock, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(rpc->http != NULL && sock != NULL);
    uint64_t nofile = nofile_soft();
    rpc->conn_max = kumo_rpc_conn_max_for(rpc->cfg.rpc_connection_max, nofile);
    KUMO_ENSURE(rpc->conn_max > 0, err, KUMO_ELIMIT,
                "the open-files limit %" PRIu64 " leaves no descriptors for HTTP connections "
                "(%u are kept for the rest of the node); raise it (ulimit -n)",
                nofile, KUMO_RPC_FD_RESERVE);
    if (rpc->conn_max < rpc->cfg.rpc_connection_max) {
        KUMO_LOG_WARN("rpc", "connection_max_lowered",
                      "configured=%u effective=%u nofile=%" PRIu64 " reserve=%u",
                      rpc->cfg.rpc_connection_max, rpc->conn_max, nofile, KUMO_RPC_FD_RESERVE);
    }
    KUMO_GUARD(map_init(rpc, err));
    rpc->link = event_new(rpc->base, -1, 0, conn_on_link, rpc);
    rpc->tick = event_new(rpc->base, -1, EV_PERSIST, conn_on_tick, rpc);
    struct timeval tv = {0, (suseconds_t)KUMO_RPC_TICK_MS * 1000};
    KUMO_ENSURE(rpc->link != NULL && rpc->tick != NULL && event_add(rpc->tick, &tv) == 0, err,
                KUMO_ENOMEM, "connection timers");
    rpc->listener = evhttp_bound_socket_get_listener(sock);
    KUMO_ASSERT(rpc->listener != NULL);
    evconnlistener_set_error_cb(rpc->listener, listener_on_error);
    evhttp_set_bevcb(rpc->http, conn_on_accept, rpc);
    return 0;
}

void kumo_rpc_conns_stop(kumo_rpc_t *rpc)
{
    if (rpc->tick != NULL) {
        event_free(rpc->tick);
        rpc->tick = NULL;
    }
    if (rpc->http != NULL) {
        /* frees every connection; their close callbacks release waiters and streams */
        evhttp_free(rpc->http);
        rpc->http = NULL;
        rpc->listener = NULL;
    }
    /* what is left was never linked to a connection */
    while (rpc->conns != NULL) {
        KUMO_ASSERT(rpc->conns->state == RPC_CONN_FRESH);
        entry_free(rpc, rpc->conns);
    }
    KUMO_ASSERT(rpc->conn_count == 0);
    kumo_free(rpc->by_conn);
    rpc->by_conn = NULL;
    if (rpc->link != NULL) {
        event_free(rpc->link);
        rpc->link = NULL;
    }
}
