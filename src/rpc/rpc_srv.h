/*
 * rpc_srv.h - the server's shared state (rpc.c: HTTP, routes, waiters, metrics; rpc_sse.c:
 * event streams). Loop thread only.
 */
#ifndef KUMO_RPC_RPC_SRV_H
#define KUMO_RPC_RPC_SRV_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "node/node.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

typedef struct rpc_waiter rpc_waiter_t;
typedef struct rpc_sse rpc_sse_t;

/* One tracked HTTP connection (counted against rpc_connection_max); holds whatever parked on
 * it so that its close callback can release it. */
typedef struct rpc_conn {
    kumo_rpc_t *rpc;
    struct evhttp_connection *conn;
    rpc_waiter_t *waiter;
    rpc_sse_t *sse;
    struct event *watch; /* peer-close watch while a request is parked (EV_CLOSED) */
    struct event *drop;  /* pending close (kumo_rpc_conn_drop) */
} rpc_conn_t;

struct rpc_sse {
    kumo_rpc_t *rpc;
    rpc_conn_t *entry;
    struct evhttp_request *hreq;
    kumo_rpc_filter_t filter;
    kumo_rpc_pos_t after; /* everything at or before was sent (or filtered out) */
    uint64_t next_height; /* next block to stream */
    bool dropped;         /* its connection closes on the next loop turn: send nothing more */
    rpc_sse_t *prev;
    rpc_sse_t *next;
};

struct kumo_rpc {
    struct event_base *base;
    kumo_node_t *node;
    kumo_node_cfg_t cfg;
    struct evhttp *http;
    uint16_t port;
    bool listening;
    uint32_t listen_id;
    rpc_conn_t **conns;
    uint32_t conn_count;
    rpc_waiter_t *waiters;
    uint32_t waiter_count;
    rpc_sse_t *sses;
    uint32_t sse_count;
    struct event *keepalive;
    size_t sse_output_max;  /* KUMO_RPC_SSE_OUTPUT_BYTES_MAX; tests lower it */
    size_t sse_replay_soft; /* KUMO_RPC_SSE_REPLAY_BYTES_SOFT; tests lower it */
    uint64_t requests_total;
    uint64_t sse_dropped_total;
    kumo_rpc_req_t *req; /* scratch for the request being parsed */
    /* the last BlockResults decoded (committed results never change), so that the waiters and
     * streams of one commit decode a block once */
    uint64_t cache_height;
    Kumo__BlockResults *cache_res;
};

/* The BlockResults at height, borrowed until the next call (single-entry cache). */
KUMO_MUST_USE int kumo_rpc_results_get(kumo_rpc_t *rpc,
                                       kumo_store_read_t *read,
                                       uint64_t height,
                                       const Kumo__BlockResults **out,
                                       kumo_err_ctx_t *err);

/* Answers hreq with {"error": ...}. */
void kumo_rpc_reply_error(struct evhttp_request *hreq, int status, int code, const char *detail);
/* Answers hreq with obj (a reference is stolen). */
void kumo_rpc_reply_json(struct evhttp_request *hreq, int status, json_t *obj);

/* While a request is parked evhttp does not read the connection, so a peer that goes away is
 * only noticed when a write fails; the watch closes the connection as soon as the peer does
 * (where the backend reports EV_CLOSED; elsewhere the write or the timeout does it). */
void kumo_rpc_conn_watch_start(rpc_conn_t *entry);
void kumo_rpc_conn_watch_stop(rpc_conn_t *entry);
/* Closes the connection on the next loop turn: code running inside evhttp's callbacks for it
 * must not free it. Idempotent. Returns false if it could not be scheduled (then the peer's
 * close or the timeout does it). */
bool kumo_rpc_conn_drop(rpc_conn_t *entry);

/* GET /events: starts a stream on hreq, parked on entry. */
void kumo_rpc_sse_start(kumo_rpc_t *rpc,
                        rpc_conn_t *entry,
                        struct evhttp_request *hreq,
                        const kumo_rpc_req_t *req);
/* Streams newly committed blocks to every client. */
void kumo_rpc_sse_on_commit(kumo_rpc_t *rpc);
/* Releases a client whose connection is closing (the request is libevent's to free). */
void kumo_rpc_sse_release(rpc_sse_t *sse);
KUMO_MUST_USE int kumo_rpc_sse_keepalive_start(kumo_rpc_t *rpc, kumo_err_ctx_t *err);

#endif
