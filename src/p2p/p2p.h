/*
 * p2p.h - authenticated peer-to-peer links between kumo nodes: TCP + TLS 1.3 on libevent
 * (bufferevent_openssl), node identity = the node's Ed25519 key in a self-signed certificate
 * (src/tls), node id = hex(SHA-256(pubkey)[0..20)). Peers are addressed "id@host:port" and the
 * id is pinned: a dialed peer presenting another key is dropped. After TLS both sides send a
 * HELLO (chain id, node id, listen address, protocol version); a peer of another chain or
 * version is dropped.
 *
 * Frames: u32 big-endian length (of what follows) || u8 channel || payload. Each channel has
 * a maximum payload size; a frame over it, an unknown channel or a malformed HELLO drops the
 * peer (and is counted). Each peer has a bounded send queue in bytes: a send that would
 * exceed it fails with KUMO_ELIMIT and is dropped (consensus recovers through rebroadcast;
 * block sync re-requests), never blocking the loop.
 *
 * Persistent peers are dialed at start and redialed with exponential backoff (500 ms doubling
 * to 30 s, with jitter) while disconnected. At most one connection per peer id: when both
 * dialed each other, the connection dialed by the lower node id is kept.
 *
 * Admission (docs/design.md, P2P): persistent peers (dialed, or inbound once their key shows
 * a persistent id) are never subject to the limits on strangers. An inbound connection is
 * "pending" until TLS shows its key; pending connections are capped in total and per host
 * (IPv4 address, IPv6 /64): over the per-host cap the host's oldest pending connection is
 * evicted if it is older than a quarter of the handshake deadline, else the new one is
 * refused; over the total cap the host with the most pending connections loses its oldest
 * one if it has more than the newcomer's host, else the newcomer is refused. An identified
 * stranger is admitted within inbound_count_max (never more than the peer table leaves after
 * the persistent peers) and inbound_per_host_max, and is dropped unless the application marks
 * it useful at least once every useful_timeout_ms. Penalties add up per peer id (fading); at
 * KUMO_P2P_SCORE_BAN a stranger's id and host are banned for ban_ms, a persistent peer is
 * dropped and refused only until its next redial (escalating like the redial backoff).
 * Refusals, evictions and stranger churn are counted and logged as one summary line per
 * summary_interval_ms, never one line per connection; drops of misbehaving strangers are
 * logged at info up to 10 per interval, then only counted.
 *
 * Loop thread only; every callback runs on the loop; callbacks may call kumo_p2p_send/
 * broadcast/disconnect but not kumo_p2p_close.
 */
#ifndef KUMO_P2P_P2P_H
#define KUMO_P2P_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "tls/tls.h"

/* Peers up at once (persistent + strangers): the size of the application's per-peer tables. */
#define KUMO_P2P_PEER_COUNT_MAX      64u
#define KUMO_P2P_PERSISTENT_PEER_MAX 64u
/* Inbound connections in TCP/TLS at once: each holds a socket and a TLS state (~50 KiB). */
#define KUMO_P2P_PENDING_COUNT_MAX 64u
/* Ban table entries (ids and hosts); when full, the ban that ends soonest is replaced. */
#define KUMO_P2P_BAN_COUNT_MAX 256u
/* Scores remembered for disconnected peers; when full, the lowest (after fading) goes. */
#define KUMO_P2P_SCORE_COUNT_MAX 256u
/* Penalty points at which a peer is banned (kumo_p2p_penalize; a protocol violation counts
 * this much at once). Points fade by this many per ban_ms. */
#define KUMO_P2P_SCORE_BAN        100u
#define KUMO_P2P_ADDR_BYTES_MAX   128u /* "host:port" */
#define KUMO_P2P_HELLO_BYTES_MAX  512u
#define KUMO_P2P_PROTOCOL_VERSION 1u

/* Channels and their maximum payload sizes. */
typedef enum kumo_p2p_channel {
    KUMO_P2P_CH_CONSENSUS = 1, /* proposals and votes: <= 4 MiB + 1 KiB */
    KUMO_P2P_CH_MEMPOOL = 2,   /* one tx: <= 1 MiB */
    KUMO_P2P_CH_BLOCKSYNC = 3, /* status, requests, blocks with commits: <= 8 MiB */
    KUMO_P2P_CH_EVIDENCE = 4,  /* <= 64 KiB */
    KUMO_P2P_CH_COUNT = 5,
} kumo_p2p_channel_t;

/* Max payload of a channel (0 for an unknown channel). */
size_t kumo_p2p_channel_bytes_max(uint8_t channel);

/* A peer as configured: "id@host:port". */
typedef struct kumo_p2p_peer_addr {
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    char host_port[KUMO_P2P_ADDR_BYTES_MAX];
} kumo_p2p_peer_addr_t;

/* Parses "id@host:port" (id = 40 hex chars). KUMO_EDECODE naming what is wrong. */
KUMO_MUST_USE int
kumo_p2p_peer_addr_parse(const char *text, kumo_p2p_peer_addr_t *out, kumo_err_ctx_t *err);

typedef struct kumo_p2p_callbacks {
    void *ctx;
    /* A peer completed TLS + HELLO. pubkey is its node key. */
    void (*peer_up)(void *ctx,
                    const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                    const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES]);
    void (*peer_down)(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);
    /* One frame; payload is borrowed for the call. */
    void (*on_msg)(void *ctx,
                   const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                   uint8_t channel,
                   kumo_bytes_t payload);
} kumo_p2p_callbacks_t;

typedef struct kumo_p2p_cfg {
    const char *chain_id;
    const kumo_crypto_keypair_t *node_key; /* copied */
    const char *listen;                    /* "host:port"; port 0 picks one; NULL: no listener */
    kumo_p2p_peer_addr_t persistent[KUMO_P2P_PERSISTENT_PEER_MAX];
    uint32_t persistent_count;
    /* Strangers (inbound, not persistent) past TLS, <= PEER_COUNT_MAX; default 32; 0: only
     * persistent peers. At most PEER_COUNT_MAX - persistent count are admitted. */
    uint32_t inbound_count_max;
    uint32_t inbound_per_host_max; /* strangers from one host, >= 1; default 4 */
    uint32_t pending_count_max;    /* inbound before TLS, 1..PENDING_COUNT_MAX; default 32 */
    uint32_t pending_per_host_max; /* of those from one host, >= 1; default 8 */
    uint32_t useful_timeout_ms;    /* a stranger not useful for this long is dropped; 60000 */
    uint32_t ban_ms;               /* a stranger's ban (id and host); default 600000 */
    uint32_t summary_interval_ms;  /* at most one summary log line per; default 10000 */
    const char *dial_source;       /* numeric host our dials come from; NULL: any */
    uint64_t send_queue_bytes_max; /* per peer; default 16 MiB */
    uint32_t handshake_timeout_ms; /* TLS + HELLO; default 5000 */
    uint32_t redial_min_ms;        /* default 500 */
    uint32_t redial_max_ms;        /* default 30000 */
} kumo_p2p_cfg_t;

void kumo_p2p_cfg_default(kumo_p2p_cfg_t *cfg);

typedef struct kumo_p2p kumo_p2p_t;

/* Starts listening (if cfg->listen) and dialing persistent peers. */
KUMO_MUST_USE int kumo_p2p_open(const kumo_p2p_cfg_t *cfg,
                                struct event_base *base,
                                const kumo_p2p_callbacks_t *cb,
                                kumo_p2p_t **out,
                                kumo_err_ctx_t *err);
/* Closes every connection (no callbacks) and frees. */
void kumo_p2p_close(kumo_p2p_t *p2p);

/* The bound listen address "host:port" (after port 0 was resolved). */
const char *kumo_p2p_listen_addr(const kumo_p2p_t *p2p);
/* Our node id. */
void kumo_p2p_self_id(const kumo_p2p_t *p2p, uint8_t id_out[KUMO_TLS_NODE_ID_BYTES]);

/* Queues one frame to a connected peer. KUMO_ENOTFOUND if not connected, KUMO_ELIMIT if the
 * payload is over the channel's max or the peer's queue is full, KUMO_EINVAL for a bad
 * channel. */
KUMO_MUST_USE int kumo_p2p_send(kumo_p2p_t *p2p,
                                const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                                uint8_t channel,
                                kumo_bytes_t payload,
                                kumo_err_ctx_t *err);
/* Queues a frame to every connected peer (peers whose queue is full are skipped and
 * counted). Returns the number of peers it was queued to. */
uint32_t kumo_p2p_broadcast(kumo_p2p_t *p2p, uint8_t channel, kumo_bytes_t payload);
/* Adds a persistent peer at run time: dialed on the next loop turn, redialed with backoff like
 * the configured ones. KUMO_EINVAL for our own id, KUMO_EEXIST if its id is already a
 * persistent peer, KUMO_ELIMIT over KUMO_P2P_PERSISTENT_PEER_MAX. (Configured peers with our
 * own id are skipped at open: a shared peer list may name this node.) */
KUMO_MUST_USE int
kumo_p2p_dial(kumo_p2p_t *p2p, const kumo_p2p_peer_addr_t *peer, kumo_err_ctx_t *err);
/* Drops a peer for misbehaviour (reason is logged and counted as disconnects_bad); adds no
 * points (kumo_p2p_penalize first for that); a persistent peer is redialed after backoff. */
void kumo_p2p_disconnect(kumo_p2p_t *p2p,
                         const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                         const char *reason);

/* Misbehaviour (a claimed height never served, a useless or slow answer, an invalid message):
 * adds points to the peer's score, which it keeps across reconnections (by id, fading by
 * KUMO_P2P_SCORE_BAN per ban_ms; a table of KUMO_P2P_SCORE_COUNT_MAX ids). At
 * KUMO_P2P_SCORE_BAN the peer is dropped and refused for a while (a stranger: its id and host
 * for ban_ms; a persistent peer: until its next redial, at most redial_max_ms). reason is
 * logged at debug. No effect if the peer is not connected. */
void kumo_p2p_penalize(kumo_p2p_t *p2p,
                       const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                       uint32_t points,
                       const char *reason);
/* The application verified and acted on something this peer sent (a valid consensus message,
 * a verified block, an accepted tx): the peer is useful and keeps its slot for another
 * useful_timeout_ms. Cheap (a clock read); no effect if the peer is not connected. */
void kumo_p2p_mark_useful(kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES]);

typedef struct kumo_p2p_stats {
    uint32_t peers;
    uint32_t pending;   /* connections still in TCP connect, TLS or HELLO */
    uint32_t strangers; /* inbound connections past TLS that are not persistent peers */
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t dropped_send;       /* frames refused by a full queue */
    uint64_t disconnects_bad;    /* peers dropped for bad frames, ids, hellos or by the app */
    uint64_t refused_pending;    /* inbound refused at accept: pending caps */
    uint64_t refused_banned;     /* inbound refused: banned host or id */
    uint64_t refused_inbound;    /* strangers refused after TLS: inbound caps */
    uint64_t evicted_pending;    /* pending connections evicted by newer ones */
    uint64_t dropped_idle;       /* strangers dropped as not useful in time */
    uint64_t bans;               /* bans issued (strangers) and persistent peers dropped by score */
    uint64_t accept_failures;    /* accept() errors (out of descriptors) */
    uint64_t strangers_admitted; /* strangers that completed the handshake */
    uint64_t lines_suppressed;   /* drop lines of strangers over the per-interval budget */
} kumo_p2p_stats_t;
void kumo_p2p_stats_get(const kumo_p2p_t *p2p, kumo_p2p_stats_t *out);
/* Connected peer ids (up to cap); returns the count written. */
uint32_t
kumo_p2p_peers(const kumo_p2p_t *p2p, uint8_t (*ids)[KUMO_TLS_NODE_ID_BYTES], uint32_t cap);

#endif
