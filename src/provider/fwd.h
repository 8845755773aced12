/*
 * fwd.h - the provider's TCP forwarder (private to the provider module): listens on
 * "ip:port" pairs and relays every accepted connection to one of the entry's targets (round
 * robin). A workload reaches another workload of its deployment through it: the name of the
 * target resolves (in /etc/hosts) to the deployment network's gateway, where the daemon
 * listens on the target's port and forwards to the target's containers on this provider or
 * to its published endpoint at another provider (docs/provider-api.md "links"), for the
 * source containers the port's rules allow only.
 *
 * The forwarder lives on an event loop thread; the daemon's main thread replaces the whole
 * table with pd_fwd_set (thread-safe) and the loop applies it within PD_FWD_SYNC_MS. A
 * listener whose address cannot be bound yet (the bridge appears with the network's first
 * container) is retried on every sync. An entry without targets accepts and closes.
 *
 * Caps (a workload must not take the daemon's descriptors, which the provider API and the
 * runtime need too): at most connection_per_source_max relayed connections at once per source
 * address (one container), connection_per_workload_max per source workload (all its
 * instances, by the tag the daemon gives each source) and connection_max in all (lowered at open to
 * fit the open-files limit: each relayed connection holds two descriptors). A connection past a cap
 * is closed at once and counted; running out of descriptors pauses accepting for one sync period
 * instead of spinning on the listening socket. A target at another provider (remote) is used only
 * if its address passes pd_fwd_address_allowed; the daemon checked it against the chain before.
 */
#ifndef KUMO_PROVIDER_FWD_H
#define KUMO_PROVIDER_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/core.h"

#define PD_FWD_ENTRY_MAX  256u
#define PD_FWD_TARGET_MAX 8u
#define PD_FWD_SOURCE_MAX 16u
#define PD_FWD_HOST_BYTES 64u
#define PD_FWD_SYNC_MS    200u
/* Defaults of the caps (config.yaml forward_connection_max, forward_connection_per_source_max). */
#define PD_FWD_CONNECTION_DEFAULT            4096u
#define PD_FWD_CONNECTION_PER_SOURCE_DEFAULT 256u
/* config.yaml forward_connection_per_workload_max: all instances of one workload together. */
#define PD_FWD_CONNECTION_PER_WORKLOAD_DEFAULT 1024u
/* Descriptors left to everything else of the daemon (API, node and runtime connections, files)
 * when the total cap is fitted to the open-files limit. */
#define PD_FWD_FD_RESERVE 512u
/* peer_address_allow: a comma-separated list of numeric addresses. */
#define PD_FWD_ALLOW_BYTES 256u
/* Bytes buffered towards a slow side before reading from the other pauses. */
#define PD_FWD_BUFFER_BYTES (256u * 1024u)

typedef struct pd_fwd_target {
    char host[PD_FWD_HOST_BYTES]; /* numeric IPv4/IPv6 address */
    uint16_t port;
    bool remote; /* at another provider: host must pass pd_fwd_address_allowed */
} pd_fwd_target_t;

typedef struct pd_fwd_entry {
    char ip[PD_FWD_HOST_BYTES]; /* where to listen: numeric address */
    uint16_t port;
    pd_fwd_target_t targets[PD_FWD_TARGET_MAX];
    uint32_t target_count;
    /* Who may connect: numeric addresses of the source containers the port's rules allow.
     * A connection from any other address is closed at once (and counted). */
    char sources[PD_FWD_SOURCE_MAX][PD_FWD_HOST_BYTES];
    uint64_t source_workloads[PD_FWD_SOURCE_MAX]; /* each source's pd_fwd_workload_tag; 0: none */
    uint32_t source_count;
} pd_fwd_entry_t;

typedef struct pd_fwd_cfg {
    uint32_t connection_max;                     /* 0: PD_FWD_CONNECTION_DEFAULT */
    uint32_t connection_per_source_max;          /* 0: PD_FWD_CONNECTION_PER_SOURCE_DEFAULT */
    uint32_t connection_per_workload_max;        /* 0: PD_FWD_CONNECTION_PER_WORKLOAD_DEFAULT */
    char peer_address_allow[PD_FWD_ALLOW_BYTES]; /* non-public addresses remote targets may use */
} pd_fwd_cfg_t;

typedef struct pd_fwd pd_fwd_t;

/* cfg may be NULL (defaults). The total cap is lowered to (open-files limit - PD_FWD_FD_RESERVE)
 * / 2 when that is smaller (at least 1). */
KUMO_MUST_USE int
pd_fwd_open(struct event_base *base, const pd_fwd_cfg_t *cfg, pd_fwd_t **out, kumo_err_ctx_t *err);
/* Replaces the table (at most PD_FWD_ENTRY_MAX entries; more are ignored). Any thread. */
void pd_fwd_set(pd_fwd_t *f, const pd_fwd_entry_t *entries, uint32_t count);
/* Listeners bound now and connections relayed so far (any thread). */
uint32_t pd_fwd_listening(pd_fwd_t *f);
uint64_t pd_fwd_relayed(pd_fwd_t *f);
uint64_t pd_fwd_refused(pd_fwd_t *f);
/* Connections closed at once for a cap (per source, total, or out of descriptors). */
uint64_t pd_fwd_capped(pd_fwd_t *f);
/* Relayed connections open now. */
uint32_t pd_fwd_active(pd_fwd_t *f);
/* The total cap in force (after fitting it to the open-files limit). */
uint32_t pd_fwd_connection_max(const pd_fwd_t *f);

/* Whether a forward may send to host at another provider: a numeric IPv4 or IPv6 address that
 * is public unicast (not unspecified, loopback, link-local, private, shared 100.64/10,
 * benchmarking, multicast, reserved or broadcast; for IPv6 also not unique-local, and a mapped
 * or compatible IPv4 address is judged as IPv4), or one listed in allow (a comma-separated
 * list of numeric addresses, compared as addresses; NULL or "" allows none). Names are never
 * allowed. Pure. */
bool pd_fwd_address_allowed(const char *host, const char *allow);
/* The tag counting a workload's connections together: never 0. Pure. */
uint64_t pd_fwd_workload_tag(const char *owner, uint64_t dseq, const char *workload);
/* Whether allow is a well-formed list for pd_fwd_address_allowed ("" included). Pure. */
bool pd_fwd_allow_list_is_valid(const char *allow);

/* Raises the soft open-files limit to the hard one (once at the daemon's start, before any
 * thread). Returns the soft limit in force afterwards. */
uint64_t pd_fwd_nofile_raise(void);
/* Call on the loop thread (or after it stopped). */
void pd_fwd_close(pd_fwd_t *f);

#endif
