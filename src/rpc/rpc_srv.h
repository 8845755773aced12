/*
 * rpc_srv.h - the server's shared state (rpc.c: HTTP, routes, waiters, metrics; rpc_sse.c:
 * event streams). Loop thread only.
 */
#ifndef KUMO_RPC_RPC_SRV_H
#define KUMO_RPC_RPC_SRV_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <jansson.h>

#include "node/node.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"

typedef struct rpc_waiter rpc_waiter_t;
typedef struct rpc_sse rpc_sse_t;

/* Where a tracked connection is in its life. */
typedef enum rpc_conn_state {
    RPC_CONN_FRESH = 1, /* accepted; evhttp has not finished setting it up (conn is NULL) */
    RPC_CONN_READING,   /* waiting for a whole request: the request deadline runs */
    RPC_CONN_BUSY,      /* a request is being answered, parked or streamed */
} rpc_conn_state_t;

/* One HTTP connection, tracked from accept (counted against the connection cap and its
 * address's cap); holds whatever parked on it so that its close callback can release it. */
typedef struct rpc_conn {
    kumo_rpc_t *rpc;
    struct evhttp_connection *conn; /* NULL while FRESH */
    struct bufferevent *bev;        /* FRESH only: ours until evhttp's connection is linked */
    rpc_conn_state_t state;
    bool refused;               /* accepted over the cap: closed as soon as it is linked */
    bool mapped;                /* in rpc->by_conn (admitted) */
    uint8_t addr_key[16];       /* the client's address (IPv4 mapped; IPv6 by /64) */
    uint64_t read_start_ms;     /* FRESH/READING: when the wait for a request began */
    struct rpc_conn *prev;      /* all connections, oldest first */
    struct rpc_conn *next;      /* */
    struct rpc_conn *read_prev; /* FRESH and READING ones, by read_start_ms */
    struct rpc_conn *read_next; /* */
    rpc_waiter_t *waiter;
    rpc_sse_t *sse;
    struct event *watch; /* peer-close watch while a request is parked (EV_CLOSED) */
    struct event *drop;  /* pending close (kumo_rpc_conn_drop) */
} rpc_conn_t;

/* A POST /txs?wait=commit parked until its tx commits or its timer fires. */
struct rpc_waiter {
    kumo_rpc_t *rpc;
    rpc_conn_t *entry;
    struct evhttp_request *hreq;
    uint8_t hash[KUMO_CHAIN_HASH_BYTES];
    struct event *timer;
    rpc_waiter_t *prev;
    rpc_waiter_t *next;
};

struct rpc_sse {
    kumo_rpc_t *rpc;
    rpc_conn_t *entry;
    struct evhttp_request *hreq;
    kumo_rpc_filter_t filter;
    kumo_rpc_pos_t after; /* everything at or before was sent (or filtered out) */
    uint64_t next_height; /* next block to stream */
    bool dropped;         /* its connection closes on the next loop turn: send nothing more */
    uint64_t acked_bytes; /* the client's TCP acknowledged-bytes count when last checked */
    uint64_t progress_ms; /* when it last took output (or had none pending) */
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
    struct evconnlistener *listener;
    rpc_conn_t *conns; /* oldest first */
    rpc_conn_t *conns_tail;
    /* admitted connections by their evhttp connection (open addressing, power-of-two
     * capacity at least twice conn_max), so a request finds its entry in O(1) */
    struct rpc_conn_slot *by_conn;
    uint32_t by_conn_mask;
    uint32_t conn_count;
    uint32_t conn_max;   /* rpc_connection_max, lowered to fit the open-files limit */
    rpc_conn_t *reading; /* FRESH and READING connections, oldest first */
    rpc_conn_t *reading_tail;
    bool accept_paused; /* at the cap with nothing to evict: accepting stops */
    struct event *link; /* links FRESH connections right after the accept callback */
    struct event *tick; /* request deadlines, stalled streams, resuming accepts */
    rpc_waiter_t *waiters;
    uint32_t waiter_count;
    rpc_sse_t *sses;
    uint32_t sse_count;
    struct event *keepalive;
    size_t sse_output_max;  /* KUMO_RPC_SSE_OUTPUT_BYTES_MAX; tests lower it */
    size_t sse_replay_soft; /* KUMO_RPC_SSE_REPLAY_BYTES_SOFT; tests lower it */
    uint64_t requests_total;
    uint64_t sse_dropped_total;
    uint64_t conn_refused_total;     /* over the address cap, or the cap with nothing to evict */
    uint64_t conn_evicted_total;     /* oldest waiting connection closed for a new one */
    uint64_t request_timeouts_total; /* closed by the request deadline */
    kumo_rpc_req_t *req;             /* scratch for the request being parsed */
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
/* GET /staking/validators, /staking/validators/ADDR, /staking/delegations/ADDR (each with its
 * worth and withdrawable rewards), /staking/unbondings/ADDR (rpc_staking.c). */
void kumo_rpc_staking_handle(kumo_rpc_t *rpc,
                             struct evhttp_request *hreq,
                             const kumo_rpc_req_t *req);

/* Now on CLOCK_MONOTONIC in milliseconds. */
uint64_t kumo_rpc_now_ms(void);
/* Sets up connection tracking on rpc->http and the listener (rpc_conn.c): every accepted
 * connection is counted at once, capped in total and per address, and must deliver a whole
 * request within rpc_request_timeout_ms. */
KUMO_MUST_USE int
kumo_rpc_conns_start(kumo_rpc_t *rpc, struct evhttp_bound_socket *sock, kumo_err_ctx_t *err);
/* Closes every connection (their close callbacks release what was parked) and frees the
 * tracking; after evhttp_free no connection is left. */
void kumo_rpc_conns_stop(kumo_rpc_t *rpc);
/* The tracked entry of a connection that delivered a request (NULL if untracked: then the
 * request is refused). Its deadline stops until the answer is sent. */
rpc_conn_t *kumo_rpc_conn_on_request(kumo_rpc_t *rpc, struct evhttp_request *hreq);
/* Releases a commit waiter whose connection is closing (rpc.c). */
void kumo_rpc_waiter_release(rpc_waiter_t *w);
/* Stream checks run by the tick: drops a client that took none of its pending output for
 * sse_stall_timeout_ms. */
void kumo_rpc_sse_tick(kumo_rpc_t *rpc, uint64_t now_ms);

/* While a request is parked evhttp does not read the connection, so a peer that goes away is
 * only noticed when a write fails; the watch closes the connection as soon as the peer does
 * (where the backend reports EV_CLOSED; elsewhere the write or the timeout does it). */
void kumo_rpc_conn_watch_start(rpc_conn_t *entry);
void kumo_rpc_conn_watch_stop(rpc_conn_t *entry);
/* Closes the connection on the next loop turn: code running inside evhttp's callbacks for it
 * must not free it. Idempotent. Returns false if it could not be scheduled (then the peer's
 * close or the timeout does it). */
bool kumo_rpc_conn_drop(rpc_conn_t *entry);

/* Answers the dashboard's paths when rpc_dashboard is on: "/" and "/ui" redirect to "/ui/",
 * "/ui/config.json" tells the page to read this node, "/ui/NAME" is a dashboard file (404
 * otherwise, 405 for a method other than GET). Returns false, answering nothing, for any other
 * path or when the dashboard is off (rpc_ui.c). */
bool kumo_rpc_ui_handle(kumo_rpc_t *rpc, struct evhttp_request *hreq, const char *path);

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
