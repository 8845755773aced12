/*
 * tunnel_int.h - private to overlay: one tunnel (a TLS connection carrying streams) shared by
 * the server (tunnel_server.c) and the client (tunnel_client.c) sides; tunnel.c runs its
 * frames, streams, flow control and keepalive. All on the loop thread.
 */
#ifndef KUMO_OVERLAY_TUNNEL_INT_H
#define KUMO_OVERLAY_TUNNEL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>

#include "core/core.h"
#include "overlay/overlay.h"
#include "overlay/tunnel_wire.h"
#include "tls/tls.h"

/* Bytes queued on the TLS side before the streams stop feeding it (and where they resume). */
#define TN_OUT_HIGH_BYTES (512u * 1024u)
#define TN_OUT_LOW_BYTES  (128u * 1024u)
/* Past this many bytes queued on the TLS side the peer is not reading: the tunnel closes. */
#define TN_OUT_HARD_BYTES (4u * 1024u * 1024u)
_Static_assert(TN_OUT_HARD_BYTES > TN_OUT_HIGH_BYTES + 2u * KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX,
               "streams fill up to the high mark plus a frame, never to the hard one");
/* Bytes a connection may read or write per loop turn. */
#define TN_IO_BYTES_MAX (256u * 1024u)
/* What libevent 2.1 reads from a socket at most per loop turn (EVBUFFER_MAX_READ). */
#define TN_LIBEVENT_READ_BYTES 4096u
/* A receiver grants the window back in steps of this many drained bytes. */
#define TN_WINDOW_STEP_BYTES (KUMO_OVERLAY_TUNNEL_WINDOW_BYTES / 4u)
/* Keepalive: the tunnel is dead after this many periods without a frame from the peer. */
#define TN_KEEPALIVE_MISSES 3u
/* The SNI name a client sends: "t" + 32 hex digits of a hash of the tunnel (no names shown). */
#define TN_TAG_BYTES 34u

typedef struct tn_tunnel tn_tunnel_t;
typedef struct tn_stream tn_stream_t;

typedef enum tn_state {
    TN_HANDSHAKE = 0,
    TN_UP = 1,
    TN_CLOSED = 2,
} tn_state_t;

/* What the owner does at a tunnel's turns. */
typedef struct tn_ops {
    /* Handshake done: verify the peer (set t->peer, and targets on a server); 0 brings the
     * tunnel up, a negative code closes it (counted as refused). */
    int (*up)(tn_tunnel_t *t, kumo_err_ctx_t *err);
    /* The tunnel is closing (after its streams are gone): unlink it. It is freed after. */
    void (*closed)(tn_tunnel_t *t, const char *why);
} tn_ops_t;

struct tn_stream {
    tn_tunnel_t *t;
    uint32_t id;
    struct bufferevent *bev; /* the local TCP connection */
    struct evbuffer_cb_entry *drain_cb;
    uint32_t send_window;   /* bytes we may still send to the peer */
    uint32_t recv_buffered; /* bytes received, not yet written to the local socket */
    uint32_t recv_credit;   /* bytes written out, not yet granted back */
    struct evbuffer_cb_entry *fill_cb;
    bool fill_due;  /* libevent made a full 4 KiB read: more is likely waiting */
    bool filling;   /* tn_bev_fill is adding to the input */
    bool connected; /* the local socket is connected (server: the target) */
    bool local_eof; /* the local side sent EOF */
    bool fin_sent;
    bool fin_recv;
    bool shut_wr; /* FIN passed on to the local socket */
};

struct tn_tunnel {
    const tn_ops_t *ops;
    void *owner;
    struct event_base *base;
    struct bufferevent *bev; /* TLS */
    struct event *timer;     /* handshake timeout, then keepalive */
    tn_state_t state;
    bool server;
    bool busy; /* inside the read callback: free at its end */
    uint32_t stream_max;
    uint32_t keepalive_ms;
    uint64_t last_rx_ms;
    uint64_t expires_ms; /* when the peer's certificate expires (monotonic) */
    uint64_t ping_seq;
    tn_stream_t **streams;
    uint32_t stream_count;
    uint32_t last_stream_id;
    kumo_overlay_tunnel_id_t peer;
    kumo_overlay_tunnel_targets_t targets; /* server */
    uint32_t target_next;                  /* server: round robin over a port's targets */
    kumo_overlay_tunnel_stats_t *stats;
    struct sockaddr_storage source; /* server: who connected */
    tn_tunnel_t *prev;
    tn_tunnel_t *next;
};

/* The monotonic clock in ms. */
uint64_t tn_now_ms(void);
/* libevent 2.1 reads a socket at most TN_LIBEVENT_READ_BYTES per loop turn
 * (EVBUFFER_MAX_READ; a setter came only in 2.2), so a bulk connection moved 4 KiB per wake-up
 * of its loop. After such a full read, this reads up to room (at most TN_IO_BYTES_MAX) more
 * into bev's input in one call, from its socket; EOF and errors are left to the bufferevent
 * (the socket stays readable for it). Returns the bytes read. On the bufferevent's loop. */
size_t tn_bev_fill(struct bufferevent *bev, size_t room);
/* A tunnel over the TLS bufferevent bev (owned from now on, also on failure), its handshake
 * bounded by handshake_timeout_ms. NULL when out of memory. */
tn_tunnel_t *tn_tunnel_new(struct event_base *base,
                           struct bufferevent *bev,
                           const tn_ops_t *ops,
                           void *owner,
                           bool server,
                           uint32_t stream_max,
                           uint32_t handshake_timeout_ms,
                           uint32_t keepalive_ms,
                           kumo_overlay_tunnel_stats_t *stats);
/* Closes the tunnel and its streams, tells the owner (ops->closed) and frees it (at the end of
 * its read callback when called inside it): the caller must not touch t afterwards. */
void tn_tunnel_close(tn_tunnel_t *t, const char *why);
/* Client: carries the accepted local connection fd as a new stream to port. Closes fd and
 * counts it capped when the tunnel is not up or full. */
void tn_tunnel_stream_open(tn_tunnel_t *t, int fd, uint16_t port);
/* The SNI tag of a tunnel identity (owner, dseq, src, dst). */
void tn_tag(const kumo_overlay_tunnel_id_t *id, char out[TN_TAG_BYTES]);
/* Parses a numeric "ip:port" into sa. */
KUMO_MUST_USE int
tn_addr_parse(const char *text, struct sockaddr_storage *sa, socklen_t *len, kumo_err_ctx_t *err);
/* The peer identity named by the established TLS connection of t, verified against root
 * (pinned) and compared with want. KUMO_EUNAUTH naming what failed. */
KUMO_MUST_USE int tn_peer_check(tn_tunnel_t *t,
                                const kumo_tls_root_t *root,
                                const kumo_overlay_tunnel_id_t *want,
                                kumo_err_ctx_t *err);

#endif
