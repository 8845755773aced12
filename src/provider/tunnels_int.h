/*
 * tunnels_int.h - private to tunnels.c (the pass, main thread) and tunnels_loop.c (the API
 * thread's loop): the tunnels' tables and the state one hands the other. Which thread touches
 * which field is said at the field.
 */
#ifndef KUMO_PROVIDER_TUNNELS_INT_H
#define KUMO_PROVIDER_TUNNELS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "overlay/overlay.h"
#include "provider/api_int.h"
#include "provider/daemon_int.h"

/* Tunnel clients at once (pairs with their source here); more pairs wait (logged). */
#define PD_TUN_CLIENT_MAX 256u
/* Allowed tunnels at once (pairs with their destination here): the server's default cap. */
#define PD_TUN_ALLOW_MAX KUMO_OVERLAY_TUNNEL_TUNNEL_DEFAULT
/* Issued certificates kept (one per pair end here). */
#define PD_TUN_CERT_MAX (PD_TUN_CLIENT_MAX + PD_TUN_ALLOW_MAX)
/* Peers' answers kept (one per deployment and peer provider). */
#define PD_TUN_PEER_MAX 64u
/* A peer's tunnel addresses are asked again this often, and every PD_TUN_RETRY_BLOCKS while
 * one that a pair needs is missing; at most PD_TUN_FETCH_PER_PASS peers are asked in a pass,
 * all of them within PD_TUN_PEER_BUDGET_MS (the pass runs on the main thread: a peer that
 * accepts and never answers must not hold it, as 8 asks of 5 s each did, 40 s). */
#define PD_TUN_REFRESH_BLOCKS 10u
#define PD_TUN_RETRY_BLOCKS   2u
#define PD_TUN_FETCH_PER_PASS 8u
#define PD_TUN_PEER_BUDGET_MS 2000u
/* A certificate is issued again after half its lifetime, so a tunnel never runs into its
 * peer's expiry check. */
#define PD_TUN_REISSUE_S (KUMO_OVERLAY_TUNNEL_CERT_LIFETIME_S / 2u)
/* The exchange file a provider serves its peers (home/deployments/<owner>-<dseq>.tunnels): its
 * certificates stop being listed past this size. */
#define PD_TUN_FILE_BYTES_MAX (KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX / 2u)
#define PD_TUN_ADDR_BYTES     (KUMO_OVERLAY_FWD_HOST_BYTES + 8u)

_Static_assert(KUMO_SDL_PORT_COUNT_MAX <= KUMO_OVERLAY_TUNNEL_PORT_MAX,
               "every port of a workload fits one tunnel");

typedef struct pd_tun_cert {
    kumo_overlay_tunnel_id_t self;
    kumo_buf_t pem;
    uint64_t issued_s;
    bool seen;
} pd_tun_cert_t;

/* A tunnel client the pass wants (main thread); `id` names it to the loop. */
typedef struct pd_tun_client {
    uint64_t id;
    kumo_overlay_tunnel_id_t peer; /* the server's end: the destination's lease at X */
    kumo_overlay_tunnel_id_t self; /* ours: the source's lease here */
    char address[PD_TUN_ADDR_BYTES];
    uint8_t root_hash[KUMO_CRYPTO_HASH_BYTES];
    uint64_t cert_issued_s;
    uint64_t src_tag; /* kumo_overlay_workload_tag of the source */
    uint64_t read_ms; /* when a pass last read the chain's word on it (monotonic) */
    uint16_t ports[KUMO_OVERLAY_TUNNEL_PORT_MAX];
    int fds[KUMO_OVERLAY_TUNNEL_PORT_MAX];
    uint16_t listen_ports[KUMO_OVERLAY_TUNNEL_PORT_MAX];
    uint32_t port_count;
    bool seen;
} pd_tun_client_t;

/* A peer provider's answer for one deployment (main thread). */
typedef struct pd_tun_peer {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t height;      /* when its answer was asked */
    uint64_t root_height; /* when its root was read alone */
    kumo_buf_t root_pem;  /* its on-chain root certificate */
    kumo_provider_peer_tunnel_t t[KUMO_PROVIDER_PEER_TUNNEL_COUNT_MAX];
    size_t count;
    bool refused_logged; /* its answer broke a rule: said once */
    bool seen;
} pd_tun_peer_t;

/* What the loop applies: everything copied (the main thread goes on). */
typedef struct pd_tun_hand_client {
    uint64_t id;
    kumo_overlay_tunnel_client_cfg_t cfg;
    char address[PD_TUN_ADDR_BYTES];
    kumo_buf_t root_pem;
    kumo_buf_t cert_pem;
} pd_tun_hand_client_t;

typedef struct pd_tun_hand_allow {
    kumo_overlay_tunnel_id_t peer;
    kumo_buf_t root_pem;
    kumo_buf_t cert_pem;
    kumo_overlay_tunnel_targets_t targets;
    uint64_t read_ms; /* when a pass last read the chain's word on it (monotonic) */
} pd_tun_hand_allow_t;

typedef struct pd_tun_state {
    pd_tun_hand_client_t *clients;
    uint32_t client_count;
    pd_tun_hand_allow_t *allows;
    uint32_t allow_count;
} pd_tun_state_t;

typedef struct pd_tun_live {
    uint64_t id;
    kumo_overlay_tunnel_client_t *c;
} pd_tun_live_t;

struct pd_tun {
    /* Set at start, read-only after. */
    kumo_crypto_keypair_t root;      /* home/ca.key: issues the certificates */
    kumo_buf_t root_pem;             /* home/ca.crt: the root registered on chain */
    kumo_crypto_keypair_t key;       /* the tunnels' key, fresh per start, in memory only */
    char address[PD_TUN_ADDR_BYTES]; /* public_address:tunnel_port, as announced */
    /* Main thread. */
    pd_tun_client_t clients[PD_TUN_CLIENT_MAX];
    uint32_t client_count;
    uint64_t next_id;
    pd_tun_cert_t *certs; /* PD_TUN_CERT_MAX */
    uint32_t cert_count;
    pd_tun_peer_t *peers[PD_TUN_PEER_MAX];
    pd_tun_hand_allow_t *allows; /* this pass's allowed tunnels (PD_TUN_ALLOW_MAX) */
    uint32_t allow_count;
    pd_tun_hand_allow_t *prev; /* the last pass's (kept for a deployment it could not read) */
    uint32_t prev_count;
    uint32_t pass_fetches;
    uint64_t pass_peer_ms; /* spent asking peers this pass (PD_TUN_PEER_BUDGET_MS) */
    uint32_t dropped;      /* pairs past a table this pass */
    uint32_t applied_clients;
    uint32_t applied_allows;
    uint64_t chain_read_ms; /* the last pass that read the chain (monotonic) */
    bool chain_lost;        /* closed for it (kumo_overlay_chain_judge) until the next read */
    /* Between the threads. */
    pthread_mutex_t mu;
    pd_tun_state_t *pending; /* handed over, not applied yet */
    /* The loop. */
    struct event_base *server_base; /* the API thread's */
    kumo_overlay_tunnel_server_t *server;
    pd_tun_live_t live[PD_TUN_CLIENT_MAX];
    uint32_t live_count;
    pd_tun_state_t *applied; /* what the accept callback answers from */
};

/* Frees a hand-over state and closes the listener duplicates it still holds. Any thread. */
void pd_tun_state_free(pd_tun_state_t *s);
/* Closes a client slot's listening sockets (main thread, or after the loop stopped). */
void pd_tun_client_close(pd_tun_client_t *c);

#endif
