/*
 * p2p_admit.h - private to p2p: who may take a connection slot, and the ban table. The
 * decisions are functions of a snapshot of the connections and of a time given by the caller
 * (no clock, no I/O), so tests/unit/p2p/test_admit.c drives every cap and tie from tables.
 *
 * Rules (docs/design.md, P2P): an inbound connection is pending until TLS shows its key.
 * - Per host (IPv4 address, IPv6 /64): a host at pending_per_host_max loses its oldest pending
 *   connection to a newcomer only if that one is at least grace_ms old (a handshake in progress
 *   is not cut short by a flood from its own host); otherwise the newcomer is refused.
 * - In total: at pending_count_max, the host with the most pending connections (ties: the one
 *   holding the oldest) loses its oldest one if it holds more than the newcomer's host;
 *   otherwise the newcomer is refused. A host with few handshakes in flight (honest peers
 *   reconnecting) always gets in, whatever many other hosts hold.
 * - Identified strangers: at most inbound_count_max in total and inbound_per_host_max per host;
 *   over either, the newcomer is refused. Persistent peers are never counted.
 */
#ifndef KUMO_P2P_P2P_ADMIT_H
#define KUMO_P2P_P2P_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "core/core.h"
#include "p2p/p2p.h"

#define KUMO_P2P_HOST_BYTES      16u
#define KUMO_P2P_HOST_TEXT_BYTES 48u /* INET6_ADDRSTRLEN + "/64" */

/* A host: IPv4 as ::ffff:a.b.c.d, IPv6 by its /64 prefix (one subscriber usually holds a
 * whole /64, so that is what a per-host cap must count). */
typedef struct kumo_p2p_host {
    uint8_t b[KUMO_P2P_HOST_BYTES];
} kumo_p2p_host_t;

/* The host of a socket address; false for a family other than IPv4/IPv6 or a short length. */
bool kumo_p2p_host_from_sockaddr(const struct sockaddr *sa, socklen_t len, kumo_p2p_host_t *out);
/* Text for logs: "127.0.0.1", "2001:db8::/64". */
void kumo_p2p_host_format(const kumo_p2p_host_t *host, char out[KUMO_P2P_HOST_TEXT_BYTES]);
bool kumo_p2p_host_is_equal(const kumo_p2p_host_t *a, const kumo_p2p_host_t *b);

typedef struct kumo_p2p_limits {
    uint32_t pending_count_max;
    uint32_t pending_per_host_max;
    uint32_t inbound_count_max; /* already reduced to what the persistent peers leave */
    uint32_t inbound_per_host_max;
    uint64_t grace_ms; /* a pending connection younger than this is not evicted by its host */
} kumo_p2p_limits_t;

/* One pending inbound connection as the rules see it. */
typedef struct kumo_p2p_pending_view {
    kumo_p2p_host_t host;
    uint64_t since_ms; /* accepted at (monotonic) */
} kumo_p2p_pending_view_t;

typedef enum kumo_p2p_admit {
    KUMO_P2P_ADMIT_ACCEPT = 0,
    KUMO_P2P_ADMIT_EVICT = 1, /* accept after dropping pending[*victim_out] */
    KUMO_P2P_ADMIT_REFUSE = 2,
} kumo_p2p_admit_t;

/* A new inbound connection from host at now_ms, given the count pending ones (count <=
 * KUMO_P2P_PENDING_COUNT_MAX * 2). *victim_out is set only for KUMO_P2P_ADMIT_EVICT. */
kumo_p2p_admit_t kumo_p2p_admit_pending(const kumo_p2p_limits_t *lim,
                                        const kumo_p2p_pending_view_t *pending,
                                        uint32_t count,
                                        const kumo_p2p_host_t *host,
                                        uint64_t now_ms,
                                        uint32_t *victim_out);
/* An identified stranger from host, given the hosts of the count strangers already in. */
bool kumo_p2p_admit_stranger(const kumo_p2p_limits_t *lim,
                             const kumo_p2p_host_t *strangers,
                             uint32_t count,
                             const kumo_p2p_host_t *host);

/* ---- bans ---- */

typedef enum kumo_p2p_ban_kind {
    KUMO_P2P_BAN_ID = 1,
    KUMO_P2P_BAN_HOST = 2,
} kumo_p2p_ban_kind_t;

#define KUMO_P2P_BAN_KEY_BYTES 20u
_Static_assert(KUMO_P2P_BAN_KEY_BYTES >= KUMO_TLS_NODE_ID_BYTES, "a node id fits a ban key");
_Static_assert(KUMO_P2P_BAN_KEY_BYTES >= KUMO_P2P_HOST_BYTES, "a host fits a ban key");

typedef struct kumo_p2p_ban {
    uint8_t kind; /* 0: free */
    uint8_t key[KUMO_P2P_BAN_KEY_BYTES];
    uint64_t until_ms;
} kumo_p2p_ban_t;

typedef struct kumo_p2p_bans {
    kumo_p2p_ban_t v[KUMO_P2P_BAN_COUNT_MAX];
    uint64_t replaced; /* unexpired bans pushed out by a full table */
} kumo_p2p_bans_t;

/* Bans key (a node id, or the bytes of a host) until until_ms; an existing ban of that key
 * is extended, never shortened. A full table replaces the ban that ends soonest. */
void kumo_p2p_bans_add(kumo_p2p_bans_t *bans,
                       kumo_p2p_ban_kind_t kind,
                       const uint8_t *key,
                       size_t key_len,
                       uint64_t until_ms,
                       uint64_t now_ms);
bool kumo_p2p_bans_has(const kumo_p2p_bans_t *bans,
                       kumo_p2p_ban_kind_t kind,
                       const uint8_t *key,
                       size_t key_len,
                       uint64_t now_ms);
/* Bans in force at now_ms. */
uint32_t kumo_p2p_bans_count(const kumo_p2p_bans_t *bans, uint64_t now_ms);

/* ---- scores of peers that left ---- */

typedef struct kumo_p2p_score {
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    uint32_t points; /* 0: free */
    uint64_t at_ms;  /* when points was stored */
} kumo_p2p_score_t;

typedef struct kumo_p2p_scores {
    kumo_p2p_score_t v[KUMO_P2P_SCORE_COUNT_MAX];
    uint64_t fade_ms; /* one point fades per this many ms (>= 1) */
} kumo_p2p_scores_t;

/* A peer leaves with points: remembered (replacing its earlier entry; when the table is full,
 * the entry with the fewest points after fading). Nothing is stored for 0 points. */
void kumo_p2p_scores_put(kumo_p2p_scores_t *scores,
                         const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                         uint32_t points,
                         uint64_t now_ms);
/* The points a peer comes back with (faded), and its entry is freed. */
uint32_t kumo_p2p_scores_take(kumo_p2p_scores_t *scores,
                              const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                              uint64_t now_ms);

#endif
