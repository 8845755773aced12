/*
 * p2p_int.h - private to p2p: the connection and peer tables shared by p2p.c (links: dial,
 * accept, TLS, HELLO, frames) and slots.c (who may hold a slot: admission, usefulness,
 * penalties, bans, the summary log line). Loop thread only.
 */
#ifndef KUMO_P2P_P2P_INT_H
#define KUMO_P2P_P2P_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <sys/socket.h>

#include "p2p/p2p.h"
#include "p2p/p2p_admit.h"

/* Persistent peers hold at most three connections each (a dial in progress, an inbound one in
 * HELLO, the one up); strangers and pending connections have their own caps. */
#define P2P_CONN_MAX \
    (3u * KUMO_P2P_PERSISTENT_PEER_MAX + KUMO_P2P_PEER_COUNT_MAX + KUMO_P2P_PENDING_COUNT_MAX)
_Static_assert(KUMO_P2P_PERSISTENT_PEER_MAX <= KUMO_P2P_PEER_COUNT_MAX,
               "persistent peers always fit the peer table");

typedef enum p2p_state {
    P2P_TLS = 0,   /* TCP connect and TLS handshake */
    P2P_HELLO = 1, /* TLS done, waiting for the peer's HELLO */
    P2P_UP = 2,
} p2p_state_t;

typedef enum p2p_class {
    P2P_PENDING = 0,    /* inbound, key not seen yet */
    P2P_STRANGER = 1,   /* inbound, key seen, not a persistent peer */
    P2P_PERSISTENT = 2, /* dialed by us, or inbound with a persistent peer's key */
} p2p_class_t;

typedef struct p2p_conn {
    kumo_p2p_t *p2p;
    struct bufferevent *bev;
    struct event *timer; /* handshake deadline, then (strangers) the usefulness deadline */
    p2p_state_t state;
    p2p_class_t cls;
    bool outbound;
    bool closing;
    int32_t persistent; /* index of the persistent peer dialed, or -1 */
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    kumo_p2p_host_t host; /* the remote host */
    uint64_t since_ms;    /* created (monotonic) */
    uint64_t useful_ms;   /* last marked useful (strangers; starts when up) */
    uint32_t penalty;     /* points, saturating at KUMO_P2P_SCORE_BAN */
    struct p2p_conn *next_dead;
} p2p_conn_t;

typedef struct p2p_persistent {
    kumo_p2p_t *owner;
    int32_t index;
    kumo_p2p_peer_addr_t addr;
    kumo_p2p_host_t host; /* of addr */
    uint32_t backoff_ms;
    uint32_t ban_backoff_ms; /* the last score ban's length; doubles per ban */
    uint64_t ban_until_ms;   /* refused and not redialed before */
    struct event *timer;
    bool dialing;
} p2p_persistent_t;

/* Counters of the last summary line. */
typedef struct p2p_logged {
    uint64_t refused_pending, refused_banned, refused_inbound, evicted_pending;
    uint64_t dropped_idle, bans, accept_failures, strangers_admitted, lines_suppressed;
} p2p_logged_t;

/* Info lines about misbehaving strangers per summary interval (then counted only). */
#define P2P_LINES_PER_INTERVAL 10u

struct kumo_p2p {
    kumo_p2p_cfg_t cfg;
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    kumo_crypto_keypair_t key;
    uint8_t self_id[KUMO_TLS_NODE_ID_BYTES];
    struct event_base *base;
    kumo_p2p_callbacks_t cb;
    void *server_ctx;
    void *client_ctx;
    struct evconnlistener *listener;
    struct event *relisten; /* re-enables the listener after accept() failed */
    char listen_addr[KUMO_P2P_ADDR_BYTES_MAX];
    struct sockaddr_storage dial_source;
    socklen_t dial_source_len; /* 0: no source bind */
    p2p_conn_t *conns[P2P_CONN_MAX];
    p2p_persistent_t persistent[KUMO_P2P_PERSISTENT_PEER_MAX];
    uint32_t persistent_count;
    p2p_conn_t *dead;
    struct event *reaper;
    struct event *summary; /* pending while counters moved since the last summary line */
    p2p_logged_t logged;
    uint64_t lines_window_ms; /* start of the current line budget window */
    uint32_t lines_in_window;
    kumo_p2p_bans_t bans;
    kumo_p2p_scores_t scores; /* of identified peers that left with points */
    kumo_p2p_stats_t stats;
};

/* ---- p2p.c ---- */

uint64_t p2p_now_ms(void);
void p2p_id_hex(const uint8_t id[KUMO_TLS_NODE_ID_BYTES], char out[KUMO_TLS_NODE_ID_HEX + 1]);
p2p_conn_t *p2p_find_up(kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
/* Drops a connection: detached now, freed by the reaper; peer_down if it was up. */
void p2p_drop(p2p_conn_t *c, const char *reason, bool bad);
/* A connection over fd (already connected or connecting); owns fd: closed on failure. */
p2p_conn_t *p2p_conn_new(kumo_p2p_t *p2p, evutil_socket_t fd, bool outbound);
/* Arms the connection's timer for ms from now. */
void p2p_timer_arm(p2p_conn_t *c, uint64_t ms);

/* ---- slots.c ---- */

/* The listener's callback: admits (or refuses, counted) a new inbound connection. */
void p2p_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg);
/* accept() failed: counted; the listener pauses for a second. */
void p2p_accept_error_cb(struct evconnlistener *l, void *arg);
/* TLS showed an inbound connection's key (c->id set): classifies it as persistent or a
 * stranger within the caps, or drops it (counted). Returns whether it stays. */
bool p2p_inbound_identified(p2p_conn_t *c);
/* The connection came up: it takes back the score its id left with; a stranger's usefulness
 * clock starts. */
void p2p_slot_up(p2p_conn_t *c);
/* The score its id left with, if any, is the connection's again. */
void p2p_score_restore(p2p_conn_t *c);
/* The connection's timer fired after it came up: drops a stranger that was not useful in
 * time, else re-arms. */
void p2p_useful_check(p2p_conn_t *c);
/* A protocol violation by an identified peer: a full penalty. */
void p2p_penalty_add(p2p_conn_t *c, uint32_t points, const char *reason);
/* The index of the persistent peer with this id, or -1. */
int32_t p2p_persistent_find(const kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
/* Counters moved: a summary line follows within summary_interval_ms. */
void p2p_summary_touch(kumo_p2p_t *p2p);
void p2p_summary_cb(evutil_socket_t fd, short what, void *arg);
/* Whether a connection's events are worth an info line (persistent peers) or only debug. */
bool p2p_conn_is_loud(const p2p_conn_t *c);
/* Misbehaviour of strangers and pending connections is logged at info up to
 * P2P_LINES_PER_INTERVAL lines per summary interval, then only counted: true if this one may. */
bool p2p_line_budget_take(kumo_p2p_t *p2p);

#endif
