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
 */
#ifndef KUMO_PROVIDER_FWD_H
#define KUMO_PROVIDER_FWD_H

#include <stdint.h>

#include <event2/event.h>

#include "core/core.h"

#define PD_FWD_ENTRY_MAX  256u
#define PD_FWD_TARGET_MAX 8u
#define PD_FWD_SOURCE_MAX 16u
#define PD_FWD_HOST_BYTES 64u
#define PD_FWD_SYNC_MS    200u
/* Bytes buffered towards a slow side before reading from the other pauses. */
#define PD_FWD_BUFFER_BYTES (256u * 1024u)

typedef struct pd_fwd_target {
    char host[PD_FWD_HOST_BYTES]; /* numeric IPv4/IPv6 address */
    uint16_t port;
} pd_fwd_target_t;

typedef struct pd_fwd_entry {
    char ip[PD_FWD_HOST_BYTES]; /* where to listen: numeric address */
    uint16_t port;
    pd_fwd_target_t targets[PD_FWD_TARGET_MAX];
    uint32_t target_count;
    /* Who may connect: numeric addresses of the source containers the port's rules allow.
     * A connection from any other address is closed at once (and counted). */
    char sources[PD_FWD_SOURCE_MAX][PD_FWD_HOST_BYTES];
    uint32_t source_count;
} pd_fwd_entry_t;

typedef struct pd_fwd pd_fwd_t;

KUMO_MUST_USE int pd_fwd_open(struct event_base *base, pd_fwd_t **out, kumo_err_ctx_t *err);
/* Replaces the table (at most PD_FWD_ENTRY_MAX entries; more are ignored). Any thread. */
void pd_fwd_set(pd_fwd_t *f, const pd_fwd_entry_t *entries, uint32_t count);
/* Listeners bound now and connections relayed so far (any thread). */
uint32_t pd_fwd_listening(pd_fwd_t *f);
uint64_t pd_fwd_relayed(pd_fwd_t *f);
uint64_t pd_fwd_refused(pd_fwd_t *f);
/* Call on the loop thread (or after it stopped). */
void pd_fwd_close(pd_fwd_t *f);

#endif
