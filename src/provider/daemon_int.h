/*
 * daemon_int.h - the provider daemon's parts, private to the provider module:
 *   daemon.c   lifecycle, node HTTP, tx signing, bidding, the event stream (main thread);
 *   work.c     running leased workloads: reconcile containers, networks and forwards with
 *              the chain's leases and the stored manifests, confirmations, releases;
 *   backend.c  the HTTPS API's backend and its thread (own node and runtime handles);
 *   fwd.c      the TCP forwarder between workloads (on the API thread's loop);
 *   tunnels.c  the mTLS tunnels to and from other providers: the pass works out which
 *              (main thread), tunnels_loop.c runs them on the API thread's loop;
 *   volumes.c  the persistent volumes of leased workloads (names, mounts, removal);
 *   status.c   home/status.json and the Prometheus metrics (listener on the API thread);
 *   rtwork.c   the runtime worker: a thread running the container and network changes the
 *              reconcile pass queues (it shares only its job table, under its mutex).
 * The main and API threads share only files under home/deployments (written atomically), the
 * forwarder table (kumo_overlay_fwd_set), the tunnels' wanted state (pd_tun_commit, under its
 * mutex) and the atomic kick flag.
 */
#ifndef KUMO_PROVIDER_DAEMON_INT_H
#define KUMO_PROVIDER_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "client/client.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "overlay/overlay.h"
#include "provider/daemon.h"
#include "provider/provider.h"
#include "provider/provider_api.h"
#include "runtime/runtime.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define PD_HOLD_MAX      KUMO_PROVIDER_LEASE_COUNT_MAX
#define PD_PATH_BYTES    1200u
#define PD_HOME_BYTES    1000u /* leaves room for the file names under it */
#define PD_LEASE_MAX     KUMO_PROVIDER_LEASE_COUNT_MAX
#define PD_SENT_MAX      1024u
#define PD_NET_MAX       PD_LEASE_MAX /* one network per deployment, one lease at least each */
#define PD_IP_CACHE      64u
#define PD_ANSWER_MAX    (8u * 1024u * 1024u)
#define PD_CONTAINER_MAX KUMO_RUNTIME_LIST_COUNT_MAX
/* Blocks between two publications of the provider's offer (only sent when it changed). */
#define PD_OFFER_REFRESH_BLOCKS 20u
/* Manifests refused at load, remembered so each is logged once. */
#define PD_REFUSED_MAX 16u
/* Leases that cannot run (image missing, manifest breaking the lease) being retried before a
 * MsgRefuseLease, and refusals in flight. More wait for a free entry. */
#define PD_REFUSAL_MAX 64u

_Static_assert(KUMO_PROVIDER_INSTANCE_COUNT_MAX <= PD_CONTAINER_MAX,
               "every instance the daemon bids for is listed by the runtime");
_Static_assert(PD_HOLD_MAX >= PD_LEASE_MAX, "every lease held can be a hold");

typedef struct pd_hold {
    char order[KUMO_ID_TEXT_BYTES]; /* owner/dseq/gseq/oseq */
    kumo_provider_bid_t bid;
    bool lease; /* the bid won: held until the lease ends */
    /* A lease whose instances wait for a start: its manifest came and not all of them run,
     * or none came yet in its first blocks (set by the pass, pd_hold_waiting). An open bid
     * counts as waiting too (pd_start_backlog). */
    bool waiting;
} pd_hold_t;

/* A lease of this provider as the node lists it. */
typedef struct pd_lease {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    uint32_t gseq, oseq;
    bool active; /* else closing */
    uint64_t created_height;
    uint64_t last_confirmed_height;
    uint64_t price_ukumo_per_block; /* the lease's price_total */
    uint64_t total_paid_ukumo;
    /* Set by the pass: every instance runs the stored manifest of this version. */
    bool runs;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    /* Set by the creating round: why the lease cannot run (0: it can, as far as we know). */
    Kumo__RefuseReason cannot_run;
    char cannot_detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1];
} pd_lease_t;

/* A lease that cannot run: retried from first_height, refused once due (sent_height: the
 * refusal in flight, not sent again for 5 blocks). */
typedef struct pd_refusal {
    char order[KUMO_ID_TEXT_BYTES];
    uint64_t first_height;
    bool sent;
    uint64_t sent_height;
    Kumo__RefuseReason reason; /* as last seen */
    char detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1];
} pd_refusal_t;

/* A deployment network this daemon made (or found), and its gateway. */
typedef struct pd_net {
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    char gateway[64];
    char subnet[64];
    bool isolated; /* the isolation rules in force cover it: its containers may start */
} pd_net_t;

/* A container's network address, as inspected once. */
typedef struct pd_ip {
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    char ip[64];
} pd_ip_t;

/* A confirmation sent and not yet seen committed: not sent again for 5 blocks from the first
 * pass after it was sent (height 0 until then). */
typedef struct pd_sent {
    char order[KUMO_ID_TEXT_BYTES];
    uint64_t height;
} pd_sent_t;

/* A deployment's groups as the chain holds them (GET /groups), specs[gseq], closed ones
 * included. */
typedef struct pd_groups {
    ProtobufCMessage *msgs[KUMO_DEPLOYMENT_GROUP_LIFE_MAX];
    Kumo__GroupSpec *specs[KUMO_DEPLOYMENT_GROUP_LIFE_MAX];
    uint32_t count;
} pd_groups_t;

/* The container runtime as the reconcile (work.c), the runtime worker (rtwork.c) and the
 * volume sweep (volumes.c) call it: kumo_runtime_*'s contracts (runtime.h), and the host's
 * isolation rules around the containers (overlay.h). The daemon uses
 * pd_runtime_real; a unit test gives a fake (kumo_provider_daemon_t.rt), so the reconcile
 * logic runs deterministically without podman. */
typedef struct pd_runtime_ops {
    int (*open)(const char *socket_path, kumo_runtime_t **out, kumo_err_ctx_t *err);
    void (*close)(kumo_runtime_t *rt);
    int (*ping)(kumo_runtime_t *rt, kumo_err_ctx_t *err);
    int (*container_list)(kumo_runtime_t *rt,
                          const char *label_key,
                          const char *label_value,
                          kumo_runtime_container_t *out,
                          uint32_t cap,
                          uint32_t *count_out,
                          kumo_err_ctx_t *err);
    int (*container_inspect)(kumo_runtime_t *rt,
                             const char *id_or_name,
                             kumo_runtime_inspect_t *out,
                             kumo_err_ctx_t *err);
    int (*container_run)(kumo_runtime_t *rt,
                         const kumo_runtime_container_spec_t *spec,
                         char id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                         kumo_err_ctx_t *err);
    int (*container_remove)(kumo_runtime_t *rt, const char *id_or_name, kumo_err_ctx_t *err);
    int (*network_create)(kumo_runtime_t *rt,
                          const char *name,
                          const kumo_runtime_label_t *labels,
                          uint32_t label_count,
                          kumo_err_ctx_t *err);
    int (*network_addresses)(kumo_runtime_t *rt,
                             const char *name,
                             char gateway_out[64],
                             char subnet_out[64],
                             kumo_err_ctx_t *err);
    int (*network_list)(kumo_runtime_t *rt,
                        const char *label_key,
                        const char *label_value,
                        char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                        uint32_t cap,
                        uint32_t *count_out,
                        kumo_err_ctx_t *err);
    int (*network_remove)(kumo_runtime_t *rt, const char *name, kumo_err_ctx_t *err);
    int (*volume_list)(kumo_runtime_t *rt,
                       const char *label_key,
                       const char *label_value,
                       kumo_runtime_volume_t *out,
                       uint32_t cap,
                       uint32_t *count_out,
                       kumo_err_ctx_t *err);
    int (*volume_remove)(kumo_runtime_t *rt,
                         const char *dir,
                         const char *name,
                         kumo_err_ctx_t *err);
    /* The host's firewall around the containers: kumo_overlay_isolation_apply. */
    int (*isolation_apply)(kumo_bytes_t script, kumo_err_ctx_t *err);
} pd_runtime_ops_t;

/* The kumo_runtime_* functions. */
extern const pd_runtime_ops_t pd_runtime_real;

/* The node as the reconcile calls it: this provider's leases (into d->leases), a manifest
 * checked against its deployment's groups (pd_manifest_verify's contract) and transactions
 * (pd_tx_send's). The daemon uses pd_node_real; a unit test gives a fake (d->node). */
typedef struct pd_node_ops {
    int (*leases_load)(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
    int (*manifest_verify)(kumo_provider_daemon_t *d,
                           const char *owner,
                           uint64_t dseq,
                           const Kumo__Manifest *m,
                           pd_groups_t *groups,
                           kumo_err_ctx_t *err);
    int (*tx_send)(kumo_provider_daemon_t *d,
                   Kumo__Msg *const *msgs,
                   size_t count,
                   kumo_err_ctx_t *err);
} pd_node_ops_t;

extern const pd_node_ops_t pd_node_real;

/* A stored manifest that failed the check against its lease (logged once). */
typedef struct pd_refused {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
} pd_refused_t;

typedef struct pd_api pd_api_t;

/* ---- grants of the API's callers that are not owners (grants.c) ---- */

typedef struct pd_grant_cache pd_grant_cache_t;

KUMO_MUST_USE int pd_grant_cache_new(pd_grant_cache_t **out, kumo_err_ctx_t *err);
/* NULL is a no-op. */
void pd_grant_cache_free(pd_grant_cache_t *c);
/* The grants from owner to grantee that could cover deployment dseq (the one for dseq, the
 * one for all), with the node's head height (kumo_provider_api_backend_t.grants): asked of
 * the node through client (a worker's own handle), or from c when read at that same height.
 * The node's errors as they are (KUMO_EIO unreachable, KUMO_EDECODE a grant that breaks its
 * rules); KUMO_ELIMIT past 16 pages of the pair's grants. Blocks: never on an event loop. */
KUMO_MUST_USE int pd_grants_get(pd_grant_cache_t *c,
                                kumo_client_t *client,
                                const uint8_t owner[KUMO_ADDRESS_BYTES],
                                const uint8_t grantee[KUMO_ADDRESS_BYTES],
                                uint64_t dseq,
                                kumo_provider_grants_t *out,
                                kumo_err_ctx_t *err);
/* Lookups answered from the cache, and those that asked the node for the grants. */
void pd_grant_cache_counts(pd_grant_cache_t *c, uint64_t *hits, uint64_t *misses);
typedef struct pd_status pd_status_t;
typedef struct pd_tun pd_tun_t;

/* Deployments whose open orders are to be bid on: a new order's deployment (due at once) or
 * one whose bid tx the node refused (due after a backoff). More go to a full rescan. */
#define PD_BIDQ_MAX 256u
/* Blocks between two tries of the same deployment's bids at most (1, 2, 4, ... this). */
#define PD_BIDQ_BACKOFF_MAX 32u

typedef struct pd_bidq {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    uint64_t due_height;
    uint32_t failures; /* bid txs of it refused in a row */
    bool pending;      /* being bid on now: dropped unless its bid is refused again */
} pd_bidq_t;

/* ---- the runtime worker (rtwork.c) ---- */

/* Jobs queued or in flight on the runtime worker at once; more wait for a later pass. */
#define PD_RTJOB_MAX 256u
/* A removal is taken after at most this many starts while removals wait (starts of live
 * leases go first, removals are never starved). */
#define PD_RTJOB_REMOVE_EVERY 4u
/* Start failures remembered for the next creating round (image missing -> refusal). */
#define PD_RTFAIL_MAX 64u

typedef enum pd_rtjob_kind {
    PD_RTJOB_RUN = 1,           /* (replace and) create + start a container */
    PD_RTJOB_REMOVE = 2,        /* stop + remove a container */
    PD_RTJOB_NET_CREATE = 3,    /* create a deployment network and read its gateway */
    PD_RTJOB_NET_REMOVE = 4,    /* remove a network */
    PD_RTJOB_VOLUME_REMOVE = 5, /* remove a volume and its image */
    PD_RTJOB_NET_SWEEP = 6,     /* list the networks, remove those not kept */
} pd_rtjob_kind_t;

typedef enum pd_rtjob_state {
    PD_RTJOB_QUEUED = 1,
    PD_RTJOB_RUNNING = 2,
    PD_RTJOB_DONE = 3,
} pd_rtjob_state_t;

/* Everything a container spec points to, copied: a job outlives the pass that made it. */
typedef struct pd_spec_mem {
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    char dseq[24], gseq[16], oseq[16], inst[16];
    char image[KUMO_SDL_IMAGE_BYTES_MAX + 1];
    char network[KUMO_RUNTIME_NAME_BYTES_MAX];
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    char workload[KUMO_NAME_BYTES_MAX + 1];
    char version[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    char spec[2 * KUMO_CRYPTO_HASH_BYTES + 1]; /* label kumo.spec (pd_spec_digest) */
    const char *env[KUMO_RUNTIME_ENV_COUNT_MAX + 1];
    /* The env entries "KEY=value", one after the other (kumo_alloc; sealed secrets opened
     * into it, so it is wiped before it is freed), pointed to by env. */
    char *env_buf;
    size_t env_buf_bytes;
    const char *hosts[KUMO_RUNTIME_ENV_COUNT_MAX + 1];
    char host_text[KUMO_RUNTIME_ENV_COUNT_MAX][KUMO_NAME_BYTES_MAX + 70];
    const char *cmd[KUMO_RUNTIME_CMD_COUNT_MAX + 1];
    char *cmd_buf; /* the command's arguments, one after the other (kumo_alloc) */
    /* The workload's files: host path then container path of each, one after the other
     * (kumo_alloc; NULL when none), pointed to by the spec's files. */
    char *files_buf;
    char volumes[KUMO_RUNTIME_VOLUME_COUNT_MAX][KUMO_RUNTIME_NAME_BYTES_MAX];
    char mount_paths[KUMO_RUNTIME_VOLUME_COUNT_MAX][KUMO_RUNTIME_MOUNT_BYTES_MAX];
    /* The instance's GPUs: their device entries, and their numbers "0,3" (label kumo.gpus). */
    char devices[KUMO_RUNTIME_DEVICE_COUNT_MAX][KUMO_RUNTIME_DEVICE_BYTES_MAX];
    char gpus[sizeof(((kumo_runtime_container_t *)0)->gpus)];
} pd_spec_mem_t;
_Static_assert(KUMO_GPU_COUNT_MAX * 3u < sizeof(((kumo_runtime_container_t *)0)->gpus),
               "a unit's GPU numbers (\"63,\" each) fit the kumo.gpus label");
_Static_assert(KUMO_GPU_COUNT_MAX *KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX <=
                   KUMO_RUNTIME_DEVICE_COUNT_MAX,
               "every device entry of a unit's GPUs fits a container");
_Static_assert(KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX <= KUMO_RUNTIME_DEVICE_BYTES_MAX,
               "a GPU's device entry fits the runtime's");

/* One runtime mutation. The main thread fills it and hands it over (pd_rtwork_submit); the
 * worker only reads the inputs and writes the result; the main thread takes it back when
 * done (pd_rtwork_collect). key names the target (container or network name): one job per
 * target at a time. */
typedef struct pd_rtjob {
    pd_rtjob_kind_t kind;
    pd_rtjob_state_t state; /* under the worker's mutex */
    char key[KUMO_RUNTIME_NAME_BYTES_MAX];
    uint64_t seq;  /* submission order */
    uint64_t pass; /* the last pass that still wanted it (main thread) */
    /* PD_RTJOB_RUN */
    pd_spec_mem_t mem;
    kumo_runtime_container_spec_t spec;
    char old_id[KUMO_RUNTIME_ID_BYTES_MAX]; /* the container it replaces, "" if none */
    /* PD_RTJOB_REMOVE */
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    /* PD_RTJOB_NET_SWEEP: the networks to keep (kumo_alloc, keep_cap names), then the names
     * of those it removed (removed_count of them, after keep_count) */
    char (*keep)[KUMO_RUNTIME_NAME_BYTES_MAX];
    uint32_t keep_cap;
    uint32_t keep_count;
    uint32_t removed_count;
    /* PD_RTJOB_NET_CREATE: labels are provider, owner, dseq (mem.owner, mem.dseq) */
    /* result */
    int rc;
    char detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1];
    char gateway[64];
    char subnet[64];
    uint64_t elapsed_ms;
} pd_rtjob_t;

/* A start that failed, kept for the next creating round. */
typedef struct pd_rtfail {
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    int rc;
    char detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1];
} pd_rtfail_t;

typedef struct pd_rtwork {
    pthread_t thread;
    bool started; /* mu and cv made (pd_rtwork_init) */
    bool running; /* the thread runs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                      /* under mu */
    pd_rtjob_t *jobs[PD_RTJOB_MAX]; /* slots; NULL when free (under mu) */
    uint64_t seq_next;              /* main thread */
    uint32_t starts_since_removal;  /* worker */
    kumo_runtime_t *runtime;        /* the worker's own connection */
    uint64_t done_count;            /* jobs finished (under mu) */
} pd_rtwork_t;

/* ---- usage telemetry (usage.c) ---- */

/* The latest sample of one running container. */
typedef struct pd_usage_sample {
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    char owner[64];
    uint64_t dseq;
    char workload[64];
    uint32_t instance;
    uint64_t time_ns; /* wall clock, for the journal and the answer */
    uint64_t mono_ns; /* monotonic, for the CPU rate */
    kumo_runtime_stats_t stats;
    bool cpu_known; /* false for a container's first sample */
    uint64_t cpu_milli;
} pd_usage_sample_t;

typedef struct pd_usage {
    pthread_t thread;
    pthread_mutex_t mu; /* guards samples, count, rounds, stop */
    pthread_cond_t cv;
    bool started; /* mu, cv and the arrays made */
    bool running; /* thread started */
    bool stop;
    pd_usage_sample_t *samples;       /* the last round's, KUMO_PROVIDER_INSTANCE_COUNT_MAX */
    uint32_t count;                   /* */
    pd_usage_sample_t *next;          /* the round being taken (thread only) */
    kumo_runtime_container_t *listed; /* the round's container list (thread only) */
    kumo_runtime_t *runtime;          /* the thread's own connection */
    uint64_t rounds;
    uint64_t errors; /* stats or list calls that failed (thread only) */
} pd_usage_t;

/* ---- fetch_plan.c: the chunk fetcher's choices (pure) ---- */

/* Peers one fetch asks at once (a deployment's other lease holders). */
#define PD_FETCH_PEER_MAX 32u
/* Requests open to one peer at once: enough to hide a round trip, few enough that one
 * slow peer holds few chunks back. */
#define PD_FETCH_IN_FLIGHT_MAX 4u
/* Peers one fetch takes chunks from (when one of them holds every chunk): enough to spread
 * the load, few enough that a small manifest costs few TLS handshakes. */
#define PD_FETCH_SOURCES_ENOUGH 4u
/* Chunks from which a fetch also asks the lease holders that hold none yet (they fetch too):
 * below it, one more TLS handshake per holder costs more than the spread saves. */
#define PD_FETCH_SPREAD_CHUNKS_MIN 8u
/* Lease holders still fetching that one fetch also asks (each a connection and a handshake,
 * and requests for chunks it may not hold yet): every fetcher is asked by about as many. */
#define PD_FETCH_SPREAD_PEERS 8u
/* How long a chunk a peer said it lacks is not asked of it again (it may have it since). */
#define PD_FETCH_LACKS_FORGET_MS 250u
/* Failed transfers (not bad chunks) after which a peer is not asked again in this fetch. */
#define PD_FETCH_PEER_FAILS_MAX 2u
/* Chunks of the largest manifest a fetch takes (1 GiB of 256 KiB chunks). */
#define PD_FETCH_CHUNK_COUNT_MAX 4096u
/* Blocks a peer that sent a chunk failing its proof is not asked for that version. */
#define PD_FETCH_PENALTY_BLOCKS 100u
/* The longest one fetch blocks the main thread; what arrived is kept for the next. */
#define PD_FETCH_BUDGET_MS 20000u
/* Peers remembered for having sent a chunk that failed its proof. */
#define PD_PENALTY_MAX 64u

typedef enum pd_fetch_state {
    PD_FETCH_WANTED = 0,
    PD_FETCH_IN_FLIGHT,
    PD_FETCH_HELD,
} pd_fetch_state_t;

typedef enum pd_fetch_outcome {
    PD_FETCH_OK = 0, /* verified and stored */
    PD_FETCH_BAD,    /* the peer's chunk failed its proof: the peer lied */
    PD_FETCH_FAILED, /* no answer, an error status, a short body */
    PD_FETCH_ABSENT, /* the peer does not hold it (404: it is still fetching) */
} pd_fetch_outcome_t;

typedef struct pd_fetch_peer {
    uint32_t in_flight;
    uint32_t failures;
    /* A share of the chunks (share_hi > 0): chunks in [share_lo, share_hi) are asked of it as
     * of any peer; others only one at a time, once none of the share is wanted. So a peer
     * holding everything serves each fetcher its own share first, and the fetchers, which
     * serve each other, take the rest from one another. */
    uint32_t share_lo, share_hi;
    bool out; /* not asked again in this fetch */
    bool bad; /* sent a chunk that failed its proof */
} pd_fetch_peer_t;

typedef struct pd_fetch_plan {
    uint32_t count; /* chunks */
    /* The chunk each peer's requests begin at (pd_fetch_plan_init: peer k of n k/n of the way
     * in; a fetcher may set its own before the first request). */
    uint32_t start[PD_FETCH_PEER_MAX];
    uint8_t *state; /* pd_fetch_state_t of each chunk */
    uint8_t *lacks; /* [peer * count + chunk]: 1 when the peer answered it does not hold it */
    uint32_t held;
    uint32_t peer_count;
    pd_fetch_peer_t peer[PD_FETCH_PEER_MAX];
} pd_fetch_plan_t;

/* A plan for count chunks (1..PD_FETCH_CHUNK_COUNT_MAX) over peer_count peers (at most
 * PD_FETCH_PEER_MAX), every chunk wanted: KUMO_ELIMIT, KUMO_ENOMEM. */
KUMO_MUST_USE int
pd_fetch_plan_init(pd_fetch_plan_t *p, uint32_t count, uint32_t peer_count, kumo_err_ctx_t *err);
void pd_fetch_plan_free(pd_fetch_plan_t *p);
/* Marks a chunk already on disk. */
void pd_fetch_plan_held(pd_fetch_plan_t *p, uint32_t index);
/* Whether peer may be given one more request. */
bool pd_fetch_plan_peer_usable(const pd_fetch_plan_t *p, uint32_t peer);
/* The next wanted chunk for peer, now in flight; false if the peer is out, has its
 * PD_FETCH_IN_FLIGHT_MAX open or no chunk is wanted. */
bool pd_fetch_plan_next(pd_fetch_plan_t *p, uint32_t peer, uint32_t *index_out);
/* Forgets which chunks peers said they lack (they still fetch: they may hold them now). */
void pd_fetch_plan_lacks_forget(pd_fetch_plan_t *p);
/* A request of peer for chunk index ended (see pd_fetch_outcome_t). */
void pd_fetch_plan_done(pd_fetch_plan_t *p,
                        uint32_t peer,
                        uint32_t index,
                        pd_fetch_outcome_t outcome);
bool pd_fetch_plan_is_complete(const pd_fetch_plan_t *p);
/* Not complete, no request open, and no peer still in may be asked for a wanted chunk it
 * did not say it lacks. */
bool pd_fetch_plan_is_stuck(const pd_fetch_plan_t *p);

typedef struct pd_penalty {
    char peer[KUMO_ADDRESS_TEXT_BYTES];
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    uint64_t until_height; /* 0: a free slot */
} pd_penalty_t;

typedef struct pd_penalties {
    pd_penalty_t e[PD_PENALTY_MAX];
} pd_penalties_t;

/* peer is not asked for chunks of version before until_height (its slot is reused, else a
 * free one, else the one ending first). */
void pd_penalty_add(pd_penalties_t *t,
                    const char *peer,
                    const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                    uint64_t until_height);
bool pd_penalty_is_active(const pd_penalties_t *t,
                          const char *peer,
                          const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          uint64_t height);

/* ---- parts.c: a deployment's participants, cached per block height ---- */

/* Deployments whose participants are cached: more than a provider serves chunks of at once. */
#define PD_PARTS_MAX 64u
/* Lease holders listed per deployment (one page of the node's list); more are asked of the
 * node one by one. */
#define PD_PARTS_HOLDER_MAX 100u

typedef struct pd_parts_entry {
    bool used;
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    bool active; /* on chain, active, with a version */
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    bool complete; /* every active lease holder is listed */
    uint32_t holder_count;
    char holders[PD_PARTS_HOLDER_MAX][KUMO_ADDRESS_TEXT_BYTES];
} pd_parts_entry_t;

/* Providers' on-chain host_uri and root certificate, cached per block height like the
 * participants (a fetch or an announcement asks the node for none of them twice a block). */
#define PD_PARTS_TARGET_MAX 32u

typedef struct pd_parts_target {
    bool used;
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    char uri[512];
    size_t root_len;
    char root_pem[KUMO_TLS_PEM_BYTES_MAX];
} pd_parts_target_t;

typedef struct pd_parts {
    pthread_mutex_t mu; /* guards everything below */
    bool ready;
    uint64_t height; /* the entries' height: the last block of the main thread's stream */
    uint64_t gen;    /* bumped by every event that ends a lease */
    uint32_t next;   /* the slot replaced next when none is free */
    uint64_t hits;
    uint64_t misses;
    pd_parts_entry_t e[PD_PARTS_MAX];
    pd_parts_target_t t[PD_PARTS_TARGET_MAX];
    uint32_t t_next; /* the target slot replaced next when none is free */
} pd_parts_t;

KUMO_MUST_USE int pd_parts_init(pd_parts_t *p, kumo_err_ctx_t *err);
void pd_parts_free(pd_parts_t *p);
/* A block arrived (main thread): entries of other heights are dropped. */
void pd_parts_height_set(pd_parts_t *p, uint64_t height);
/* A lease of (owner, dseq) ended (closed, stale, released, refused) or its version changed:
 * its entries are dropped and fills begun before are not stored. */
void pd_parts_drop(pd_parts_t *p, const char *owner, uint64_t dseq);
/* The height and generation a fill starts at (before it asks the node). */
void pd_parts_begin(pd_parts_t *p, uint64_t *height, uint64_t *gen);
/* Stores e unless the height or generation moved since pd_parts_begin; whether stored. */
bool pd_parts_put(pd_parts_t *p, const pd_parts_entry_t *e, uint64_t height, uint64_t gen);
/* A copy of the cached entry of (owner, dseq); false when none is good. */
bool pd_parts_get(pd_parts_t *p, const char *owner, uint64_t dseq, pd_parts_entry_t *out);
/* Whether provider is among e's lease holders. */
bool pd_parts_holds(const pd_parts_entry_t *e, const char *provider);
/* The entry of (owner, dseq): the cached one unless fresh, else asked of the node (two
 * queries) and cached. *cached: it came from the cache (a refusal should ask again, fresh). */
KUMO_MUST_USE int pd_parts_lookup(pd_parts_t *p,
                                  kumo_client_t *node,
                                  const char *owner,
                                  uint64_t dseq,
                                  bool fresh,
                                  pd_parts_entry_t *out,
                                  bool *cached,
                                  kumo_err_ctx_t *err);

/* ---- daemon.c: manifest work done at once, between the events (not at the next pass) ---- */

/* Requests queued for the main thread (from the API's workers and the events); more are
 * dropped and counted (the passes still fetch every PD_FETCH_EVERY blocks). */
#define PD_MQ_MAX 64u

typedef struct pd_mq_item {
    bool announce; /* tell peers we hold the version; else fetch it */
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    /* announce: the one provider to tell ("": every other lease holder); fetch: the provider
     * that announced it, asked first ("": none) */
    char peer[KUMO_ADDRESS_TEXT_BYTES];
} pd_mq_item_t;

/* Queues item (any thread; the same request queued twice is one) and wakes the main thread. */
void pd_mq_add(kumo_provider_daemon_t *d, const pd_mq_item_t *item);
/* Deployments whose version changed on chain (deployment.updated), remembered until their
 * passes see the new manifest stored (or PD_UPDATE_KEEP_BLOCKS pass): the announcement of
 * the provider the tenant uploaded to brings it at once; after PD_FETCH_GRACE_BLOCKS a pass
 * asks the peers itself. More are dropped (counted). */
#define PD_UPDATE_MAX         64u
#define PD_UPDATE_KEEP_BLOCKS 100u

typedef struct pd_update {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    uint64_t height; /* 0: a free slot */
} pd_update_t;

/* Runs the queued items (main thread): between the events, and between the deployments of a
 * pass, so a long pass does not hold an announced manifest back. */
void pd_mq_run(kumo_provider_daemon_t *d);

struct kumo_provider_daemon {
    kumo_provider_cfg_t cfg;
    char home[PD_HOME_BYTES];
    int home_lock_fd;               /* kumo_file_lock of home/provider.lock: one daemon per home */
    char volume_dir[PD_PATH_BYTES]; /* home/volumes, absolute; "" if it could not be made */
    kumo_crypto_keypair_t key;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint64_t min_fee;
    uint64_t period; /* reconfirmation_period */
    uint64_t sequence;
    uint64_t height;       /* last block seen on the stream */
    kumo_client_t *client; /* the node: queries and txs of the main thread */
    kumo_runtime_t *runtime;
    const pd_runtime_ops_t *rt; /* NULL: pd_runtime_real (pd_rt) */
    const pd_node_ops_t *node;  /* NULL: pd_node_real (pd_node) */
    /* The isolation rules in force (the nft script last applied; empty: none yet). */
    kumo_buf_t isolation;
    bool isolation_failing; /* the last apply failed (logged once until it works) */
    pd_hold_t holds[PD_HOLD_MAX];
    uint32_t hold_count;
    /* home/gpus as last read (pd_gpus_load at the holds' rebuild): which GPUs each lease had */
    kumo_provider_gpu_record_t gpu_saved[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t gpu_saved_count;
    volatile int *stop;
    uint64_t bids_sent;
    bool runtime_up; /* the runtime answered at the last pass or scan */
    bool missed;     /* an order was passed over for a reason that may pass */
    bool rescan_due; /* bid on the open orders again (runtime back, a hold freed) */
    pd_bidq_t bidq[PD_BIDQ_MAX];
    uint32_t bidq_count;
    uint64_t bid_held_until; /* a bid tx was refused: no other is sent below this height */
    uint64_t bids_refused;   /* bids whose tx the node refused (retried) */
    uint64_t rescan_height;  /* height of the last full scan of open orders */
    /* The pace (kumo_provider_pace_t): moving averages of a container start (the runtime
     * worker's busy time from one start that worked to the next: the networks, removals and
     * failed starts between them included) and of a block (one block
     * after the other on the stream, wall time). */
    uint64_t start_ms;
    uint64_t start_samples;
    uint64_t pace_busy_ms; /* worker time since the last start that worked */
    uint64_t block_ms;
    uint64_t block_seen_ms; /* when block block_seen_height arrived */
    uint64_t block_seen_height;
    /* work.c */
    pd_lease_t leases[PD_LEASE_MAX];
    uint32_t lease_count;
    bool leases_partial; /* the node listed more leases than the table: remove nothing */
    kumo_runtime_container_t containers[PD_CONTAINER_MAX];
    uint32_t container_count;
    pd_sent_t sent[PD_SENT_MAX];
    uint32_t sent_count;
    pd_net_t nets[PD_NET_MAX];
    uint32_t net_count;
    pd_ip_t ips[PD_IP_CACHE];
    uint32_t ip_next;
    uint32_t port_cursor;   /* round robin over the host port range */
    uint32_t work_cursor;   /* the lease the creating round starts at (turns) */
    uint32_t pass_starts;   /* container (re)creations queued in this pass */
    uint32_t pass_deferred; /* instances left for a later pass (the queue was full) */
    uint64_t pass_number;   /* passes run (marks the jobs a pass still wants) */
    uint32_t pass_inspects; /* networks looked up by this pass (pd_network_ensure) */
    bool pass_nets_unknown; /* a network with containers was left for a later pass */
    bool sweep_due;         /* a deployment ended: its network is to be removed */
    uint64_t sweep_height;  /* height of the last network sweep queued */
    uint64_t kept_pruned_s; /* unix seconds of the last pd_kept_prune (0: none yet) */
    pd_rtwork_t rtwork;     /* runtime mutations, off the main thread */
    pd_usage_t usage;       /* usage telemetry, its own thread (usage.c) */
    pd_rtfail_t rtfails[PD_RTFAIL_MAX];
    uint32_t rtfail_next;
    pd_refused_t refused[PD_REFUSED_MAX];
    uint32_t refused_next;
    pd_refusal_t refusals[PD_REFUSAL_MAX];
    uint32_t refusal_count;
    uint64_t refusals_sent;
    uint64_t worked_height; /* height of the last reconcile */
    /* The offer last published on chain (MsgUpdateProvider.offer) and when it was tried. */
    Kumo__ProviderOffer offer_sent; /* without its free GPUs: */
    uint64_t offer_gpu_mask;        /* the free GPUs it listed */
    uint64_t offer_height;
    uint64_t tx_height; /* height at which the last tx was sent (pd_tx_send) */
    uint64_t offers_sent;
    bool work_due; /* a block came since the last reconcile */
    uint64_t confirmations_sent;
    uint64_t runtime_errors;      /* runtime calls of the passes that failed */
    pd_status_t *status;          /* status.c */
    atomic_int kick;              /* the API stored a manifest or links: reconcile now */
    pthread_mutex_t wake_mu;      /* guards stream against the API thread's pd_wake */
    kumo_client_stream_t *stream; /* the node's event stream while it runs */
    /* backend.c */
    pd_api_t *api;
    /* tunnels.c: the tunnels between datacenters (its own rules on which thread reads what) */
    pd_tun_t *tun;
    /* peer.c: our client certificate (self-signed from the account key) */
    kumo_buf_t peer_cert_pem;
    kumo_buf_t peer_key_pem;
    /* fetch.c: peers that sent a chunk failing its proof (main thread) */
    pd_penalties_t penalties;
    /* parts.c: the participants of deployments (API workers and main thread); NULL until
     * the daemon opened it (then every lookup asks the node) */
    pd_parts_t *parts;
    /* daemon.c: the manifest work queued for the main thread (under wake_mu) */
    pd_mq_item_t mq[PD_MQ_MAX];
    uint32_t mq_count;
    uint64_t mq_dropped;
    bool mq_running;                    /* main thread: pd_mq_run is running */
    pd_update_t updates[PD_UPDATE_MAX]; /* main thread */
    uint64_t updates_dropped;
};

/* ---- placement.c: what the chain says this provider has, for orders' requirements ---- */

/* Audits of this provider read at most (pages of 100 from GET /audits). */
#define PD_AUDIT_MAX 256u

typedef struct pd_placement {
    bool fetched;         /* read (or tried) in this scan */
    Kumo__Provider *self; /* as the chain holds it; NULL when it could not be read */
    Kumo__ProviderAudit *audits[PD_AUDIT_MAX];
    uint32_t audit_count;
} pd_placement_t;

/* Whether this provider meets an order's requirements by the chain's rule
 * (kumo_market_requirements_match_list), reading its provider record and audits from the node
 * on first use in pl (a scan's copy; the node's answer may be a block old, and the chain has
 * the last word). Unreadable: false (no bid the chain could refuse). Logs why not. */
bool pd_placement_meets(kumo_provider_daemon_t *d,
                        pd_placement_t *pl,
                        const Kumo__PlacementRequirements *r);
void pd_placement_free(pd_placement_t *pl);

/* ---- gpuhold.c: the GPUs of holds, kept across restarts ---- */

/* The GPUs the holds own (their bids' gpu_mask together). */
uint64_t pd_gpus_held(const kumo_provider_daemon_t *d);
/* Writes home/gpus from the holds (atomically; a failure is logged and tried at the next
 * change). */
void pd_gpus_save(kumo_provider_daemon_t *d);
/* Reads home/gpus into d->gpu_saved (none when missing; a corrupt file is logged at error and
 * ignored: every lease is assigned afresh). */
void pd_gpus_load(kumo_provider_daemon_t *d);
/* Gives a hold restored from the chain its GPUs (resources: its fulfillment's): the ones
 * home/gpus recorded for its order if they still serve it and no restored hold has them,
 * else the lowest free matching ones that no recorded lease has either. None: logged
 * (gpus_unassigned), the hold keeps no GPU and its instances with GPUs do not start. */
void pd_gpus_restore(kumo_provider_daemon_t *d,
                     pd_hold_t *h,
                     Kumo__ResourceGroup *const *resources,
                     size_t n);
/* The hold of lease l (its bid's GPUs), or NULL. */
const pd_hold_t *pd_hold_of_lease(const kumo_provider_daemon_t *d, const pd_lease_t *l);

/* ---- daemon.c ---- */

/* Kicks the main thread out of its wait on the stream (any thread). */
void pd_wake(kumo_provider_daemon_t *d);
typedef void (*pd_item_cb)(void *ctx, const json_t *item);
typedef void (*pd_page_cb)(void *ctx);
/* Every item of a paginated node list: query is "/route?filters" (limit and page are added),
 * at most page_max pages of 100; page_done (may be NULL) after each page. */
KUMO_MUST_USE int pd_list_each(kumo_client_t *c,
                               const char *query,
                               uint32_t page_max,
                               pd_item_cb item,
                               pd_page_cb page_done,
                               void *ctx,
                               kumo_err_ctx_t *err);
/* u64 fields come as strings or numbers. */
uint64_t pd_u64(const json_t *o, const char *key);
/* Signs msgs with the provider key at the next sequence and submits them. */
KUMO_MUST_USE int
pd_tx_send(kumo_provider_daemon_t *d, Kumo__Msg *const *msgs, size_t count, kumo_err_ctx_t *err);

/* The runtime and node the daemon calls: d->rt / d->node, or the real ones when unset. */
const pd_runtime_ops_t *pd_rt(const kumo_provider_daemon_t *d);
const pd_node_ops_t *pd_node(const kumo_provider_daemon_t *d);

/* Records whether the runtime answered (bidding or a pass asked it): when it answers again
 * after an outage, the orders passed over meanwhile are scanned again. */
void pd_runtime_seen(kumo_provider_daemon_t *d, bool up);
/* Monotonic milliseconds. */
uint64_t pd_now_ms(void);
/* Marks the hold of lease l as waiting for a start or not (nothing if it has none). */
void pd_hold_waiting(kumo_provider_daemon_t *d, const pd_lease_t *l, bool waiting);
/* Instances of open bids and of leases waiting for a start (pd_hold_t.waiting), outside
 * the deployment of order ("owner/dseq/..."; "": all). */
uint64_t pd_start_backlog(const kumo_provider_daemon_t *d, const char *order);
/* A container start that worked took the worker busy_ms since the one before (the pace). */
void pd_pace_start(kumo_provider_daemon_t *d, uint64_t busy_ms);

/* ---- work.c ---- */

/* Brings containers, networks and forwards in line with the chain and the stored manifests,
 * then sends the confirmations due (main thread, on every block and when kicked). */
void pd_work(kumo_provider_daemon_t *d);
/* home/deployments/<owner>-<dseq>.<ext> */
KUMO_MUST_USE int pd_deployment_path(
    const char *home, const char *owner, uint64_t dseq, const char *ext, char out[PD_PATH_BYTES]);
/* home/deployments/<owner>-<dseq>.<prefix><version hex>: what is kept per version. */
KUMO_MUST_USE int pd_deployment_version_path(const char *home,
                                             const char *owner,
                                             uint64_t dseq,
                                             const char *prefix,
                                             const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                             char out[PD_PATH_BYTES]);
/* Writes home/deployments/<owner>-<dseq>.<ext> atomically (the directory created 0700). */
KUMO_MUST_USE int pd_deployment_store(const char *home,
                                      const char *owner,
                                      uint64_t dseq,
                                      const char *ext,
                                      kumo_bytes_t data,
                                      kumo_err_ctx_t *err);
/* ---- mstore.c: the stored manifest, its spec and its files ---- */

/* The read-only binds of w's files of version (their host files pd_manifest_load wrote) into
 * spec->files, their paths in mem->files_buf; false without memory or for a path too long. */
bool pd_files_spec(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                   const Kumo__ManifestWorkload *w,
                   pd_spec_mem_t *mem,
                   kumo_runtime_container_spec_t *spec);

/* The stored manifest of a deployment, decoded WITHOUT its files' contents (paths and modes
 * kept; the contents are in pd_files_dir), and its version; from the spec when it is of the
 * stored manifest, else read whole once and the spec and files written again. KUMO_ENOTFOUND
 * when none; KUMO_EDECODE for a manifest that does not decode. Any thread. */
KUMO_MUST_USE int pd_manifest_load(const char *home,
                                   const char *owner,
                                   uint64_t dseq,
                                   Kumo__Manifest **out,
                                   uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                   kumo_err_ctx_t *err);
/* Stores manifest bytes (checked by the caller: the version's, fitting the lease) durably as
 * the deployment's manifest, writes its files and spec, and drops the files of other
 * versions. Any thread. */
KUMO_MUST_USE int pd_manifest_store(
    const char *home, const char *owner, uint64_t dseq, kumo_bytes_t bytes, kumo_err_ctx_t *err);
/* The version of the stored manifest (cheap: from its spec). KUMO_ENOTFOUND when none. */
KUMO_MUST_USE int pd_manifest_stored_version(const char *home,
                                             const char *owner,
                                             uint64_t dseq,
                                             uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                             kumo_err_ctx_t *err);
/* home/deployments/<owner>-<dseq>.files-<version hex>: the files of that version. */
KUMO_MUST_USE int pd_files_dir(const char *home,
                               const char *owner,
                               uint64_t dseq,
                               const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                               char out[PD_PATH_BYTES]);
/* <dir>/<workload>.<index>: file index of workload. */
KUMO_MUST_USE int
pd_file_path(const char *dir, const char *workload, uint32_t index, char out[PD_PATH_BYTES]);
/* The deployment's groups from the node (GET /groups, gseq order, at most
 * KUMO_DEPLOYMENT_GROUP_LIFE_MAX); any failure of the node or its answer is KUMO_EIO. Freed with
 * pd_groups_free (also after a failure). */
KUMO_MUST_USE int pd_groups_load(
    kumo_client_t *c, const char *owner, uint64_t dseq, pd_groups_t *out, kumo_err_ctx_t *err);
void pd_groups_free(pd_groups_t *g);
/* Whether manifest m fits the deployment's leases: loads its groups (into *groups, which the
 * caller frees with pd_groups_free) and runs kumo_sdl_manifest_check. KUMO_EIO when the node
 * cannot tell; the check's codes (KUMO_EINVAL, KUMO_ELIMIT, KUMO_EMISMATCH, KUMO_ENOTFOUND,
 * ...) with the rule broken in err when the manifest breaks the lease. */
KUMO_MUST_USE int pd_manifest_verify(kumo_client_t *c,
                                     const char *owner,
                                     uint64_t dseq,
                                     const Kumo__Manifest *m,
                                     pd_groups_t *groups,
                                     kumo_err_ctx_t *err);
/* pd_manifest_verify of manifest bytes (decoded first: KUMO_EDECODE, KUMO_ELIMIT). */
KUMO_MUST_USE int pd_manifest_bytes_verify(
    kumo_client_t *c, const char *owner, uint64_t dseq, kumo_bytes_t bytes, kumo_err_ctx_t *err);
/* Group names of a deployment by gseq (from GET /groups), up to cap; *count set. */
KUMO_MUST_USE int pd_group_names(kumo_client_t *c,
                                 const char *owner,
                                 uint64_t dseq,
                                 char (*names)[KUMO_NAME_BYTES_MAX + 1],
                                 uint32_t cap,
                                 uint32_t *count,
                                 kumo_err_ctx_t *err);

/* ---- tunnels.c: mTLS tunnels between datacenters ---- */

/* Loads the root (home/ca.key, ca.crt), makes the tunnels' key and opens the tunnel server on
 * base (the API thread's loop, before that thread runs) at publish_address:tunnel_port; a
 * server that cannot listen is logged (tunnel_listen_failed, error) and the rest goes on. */
KUMO_MUST_USE int
pd_tun_start(kumo_provider_daemon_t *d, struct event_base *base, kumo_err_ctx_t *err);
/* Closes every tunnel and frees it all: after the loop thread stopped. */
void pd_tun_stop(kumo_provider_daemon_t *d);
/* Main thread, the creating round: starts the wanted state afresh. */
void pd_tun_pass_begin(kumo_provider_daemon_t *d);
/* Main thread: the tunnels of one deployment (manifest m, the node's group names by gseq):
 * clients for pairs with their source here, allowed tunnels for pairs with their destination
 * here, and the exchange file peers are served. Asks the node for the deployment's leases
 * (and peers for their tunnel addresses when due) unless every group runs here. */
void pd_tun_dep(kumo_provider_daemon_t *d,
                const char *owner,
                uint64_t dseq,
                const Kumo__Manifest *m,
                const char (*groups)[KUMO_NAME_BYTES_MAX + 1],
                uint32_t group_count);
/* Main thread: keeps the last pass's tunnels of a deployment this pass could not read (its
 * leases or manifest unreadable for now: a node hiccup must not cut its connections). */
void pd_tun_keep(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq);
/* Main thread: adds to e the listeners of this pass's tunnels to workload dst's port (each
 * for its source workload only); returns how many. */
uint32_t pd_tun_forward_targets(const kumo_provider_daemon_t *d,
                                const char *owner,
                                uint64_t dseq,
                                const char *dst,
                                uint16_t port,
                                kumo_overlay_fwd_entry_t *e);
/* Main thread, after the pass: drops what it no longer wants and hands the state to the loop. */
void pd_tun_commit(kumo_provider_daemon_t *d);
/* Main thread, at the end of a pass that read the chain (the active leases): the tunnels'
 * permission is renewed now (not when the leases were read, so a long pass is not taken for
 * a lost chain) and, closed for a lost chain, they may open again; then pd_tun_commit. */
void pd_tun_pass_end(kumo_provider_daemon_t *d);
/* Main thread, after a pass (also one that failed to read the chain) and between passes: when the
 * chain has not been read for KUMO_OVERLAY_CHAIN_GRACE_PASSES passes (at the block time), closes
 * every tunnel and stream and opens none until pd_tun_chain_read (logged tunnels_chain_lost). */
void pd_tun_chain_check(kumo_provider_daemon_t *d);
/* Main thread: whether the chain is unread long enough that a pass should try it now (a
 * stalled chain whose node answers brings no block, so no pass, by itself). */
bool pd_tun_chain_due(const kumo_provider_daemon_t *d);
/* The API thread's loop, every turn: applies a state handed over. */
void pd_tun_loop_turn(kumo_provider_daemon_t *d);
/* The loop thread: the server's counters and the clients' summed. */
void pd_tun_stats(kumo_provider_daemon_t *d,
                  kumo_overlay_tunnel_stats_t *server,
                  kumo_overlay_tunnel_stats_t *clients);
/* work.c: where published ports (and the tunnel server) bind; a container's network address
 * (cached), NULL when it has none. */
const char *pd_publish_address(const kumo_provider_daemon_t *d);
const char *pd_container_ip(kumo_provider_daemon_t *d, const char *id);
/* peer.c: the deployment's active leases as the node lists them (every provider's). */
KUMO_MUST_USE int pd_peer_leases(kumo_provider_daemon_t *d,
                                 kumo_client_t *node,
                                 const char *owner,
                                 uint64_t dseq,
                                 json_t **list,
                                 kumo_err_ctx_t *err);

/* ---- usage.c ---- */

/* Starts the usage thread (nothing when usage_interval_ms is 0). */
KUMO_MUST_USE int pd_usage_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
/* Stops it and frees the samples; idempotent. */
void pd_usage_stop(kumo_provider_daemon_t *d);
/* The latest samples of deployment (owner, dseq) as a JSON array (new reference; empty when
 * usage is off or none was taken yet; NULL without memory). Any thread. */
json_t *pd_usage_json(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq);

/* ---- rtwork.c: the runtime worker ---- */

/* Makes the queue (no thread: jobs wait until one is started; for tests). */
KUMO_MUST_USE int pd_rtwork_init(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
/* Makes the queue and starts the worker thread (its runtime connection is opened on first
 * use, at d->cfg.runtime_socket). */
KUMO_MUST_USE int pd_rtwork_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
/* Without the thread (pd_rtwork_init): runs the job the worker would pick next on the calling
 * thread; false when none is queued. For tests that drive the queue step by step. */
bool pd_rtwork_step(kumo_provider_daemon_t *d);
/* Stops it after the job in flight (if any) and frees every job. Safe when not started. */
void pd_rtwork_stop(kumo_provider_daemon_t *d);
/* A new job (zeroed, kumo_alloc) for key; NULL when out of memory. */
pd_rtjob_t *pd_rtjob_new(pd_rtjob_kind_t kind, const char *key);
void pd_rtjob_free(pd_rtjob_t *job);
/* Hands job to the worker (main thread). 0: the worker owns it until collected;
 * KUMO_EEXIST: a job for its key is queued, running or not collected yet (that one's pass
 * mark is renewed); KUMO_ELIMIT: the queue is full. On failure the caller still owns job. */
KUMO_MUST_USE int pd_rtwork_submit(kumo_provider_daemon_t *d, pd_rtjob_t *job);
/* Queues a removal (PD_RTJOB_REMOVE of container id, PD_RTJOB_NET_REMOVE,
 * PD_RTJOB_VOLUME_REMOVE) of key unless a job for key is there already; a full queue leaves it
 * for a later pass (main thread). */
void pd_rtwork_remove(kumo_provider_daemon_t *d,
                      pd_rtjob_kind_t kind,
                      const char *key,
                      const char *id);
/* Whether a job for key is queued, running or done and not collected (main thread). */
bool pd_rtwork_has(kumo_provider_daemon_t *d, const char *key);
/* Whether a queued or running start publishes host port (main thread). */
bool pd_rtwork_port_taken(kumo_provider_daemon_t *d, uint32_t port);
/* Drops the queued (not yet running) starts and network creations that no pass wanted since
 * pass `before` (their lease ended or changed: a slow runtime must not spend itself on them). */
uint32_t pd_rtwork_cancel_stale(kumo_provider_daemon_t *d, uint64_t before);
typedef void (*pd_rtjob_cb)(void *ctx, const pd_rtjob_t *job);
/* Calls done for every finished job and frees it (main thread). */
void pd_rtwork_collect(kumo_provider_daemon_t *d, pd_rtjob_cb done, void *ctx);
/* Jobs queued or running now. */
uint32_t pd_rtwork_pending(kumo_provider_daemon_t *d);
/* The next job the worker takes (the caller holds w->mu, or no thread runs): the oldest start
 * or network creation, or the oldest removal when none waits or PD_RTJOB_REMOVE_EVERY starts
 * were taken since the last removal. NULL when nothing is queued. Does not change the job. */
pd_rtjob_t *pd_rtwork_pick(pd_rtwork_t *w);

/* ---- fetch.c ---- */

/* Fetches the chunks of the version of parts' deployment it lacks from the other lease holders
 * parts lists (prefer, when not NULL, asked first) that serve them, several at once,
 * each checked with its proof; stores the manifest once every chunk is held, the whole has
 * the version as its root and fits the lease. *tried: some peer served chunks of the version
 * (false: none did, so the caller may ask for whole manifests). KUMO_ENOTFOUND while chunks
 * are missing (what arrived is kept). Main thread; blocks for up to PD_FETCH_BUDGET_MS. */
KUMO_MUST_USE int pd_chunks_fetch(kumo_provider_daemon_t *d,
                                  const pd_parts_entry_t *parts,
                                  const char *prefer,
                                  bool *tried,
                                  kumo_err_ctx_t *err);

/* ---- peer.c ---- */

/* Peer-to-peer manifest delivery: asks the other providers with an active lease in the
 * deployment for its manifest (mTLS: our account key's certificate, theirs checked against
 * their on-chain root), keeps the first whose Merkle root is the on-chain version. 0 when
 * stored, KUMO_ENOTFOUND when no peer had it. */
KUMO_MUST_USE int pd_manifest_fetch(kumo_provider_daemon_t *d,
                                    const char *owner,
                                    uint64_t dseq,
                                    const char *prefer,
                                    kumo_err_ctx_t *err);
/* The manifest of (owner, dseq) is stored here at the on-chain version: tells the other lease
 * holders (only, when not NULL or "": that one) with PUT .../manifest-have, so they fetch it
 * at once instead of at their next pass. All at once, each bounded by the peer timeouts;
 * failures only delay them. Any thread, with its own node handle (the API worker that took
 * an upload announces it before answering; the main thread announces to a new lease). */
void pd_manifest_announce(kumo_provider_daemon_t *d,
                          kumo_client_t *node,
                          const char *owner,
                          uint64_t dseq,
                          const char *only);
/* Fetches the manifest of (owner, dseq) now if this provider holds a lease in it and not the
 * manifest at the on-chain version, asking prefer (may be NULL) first: 0 when it was stored
 * (the pass should run), 1 when nothing needed doing, else why nothing came (KUMO_ENOTFOUND:
 * no peer had it yet). */
KUMO_MUST_USE int pd_manifest_fetch_due(kumo_provider_daemon_t *d,
                                        const char *owner,
                                        uint64_t dseq,
                                        const char *prefer,
                                        kumo_err_ctx_t *err);
/* Connecting to a peer provider, and the whole of one request to it. */
#define PD_PEER_CONNECT_MS 2000L
#define PD_PEER_TIMEOUT_MS 5000L

/* Where a peer provider answers: its on-chain host_uri and root certificate. */
typedef struct pd_peer_target {
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    char uri[512];
    kumo_buf_t root_pem;
} pd_peer_target_t;

/* Looks provider up on the node (node: the caller's handle) into t (freed with
 * pd_peer_target_free on success); host (cap KUMO_OVERLAY_FWD_HOST_BYTES, may be NULL) gets
 * the host of its host_uri. KUMO_EINVAL when it has no usable host_uri or root. */
KUMO_MUST_USE int pd_peer_target_load(kumo_client_t *node,
                                      const char *provider,
                                      pd_peer_target_t *t,
                                      char *host,
                                      kumo_err_ctx_t *err);
void pd_peer_target_free(pd_peer_target_t *t);
/* pd_peer_target_load through the cache of p (NULL: straight from the node). */
KUMO_MUST_USE int pd_parts_target_load(pd_parts_t *p,
                                       kumo_client_t *node,
                                       const char *provider,
                                       pd_peer_target_t *t,
                                       kumo_err_ctx_t *err);
/* pd_chunks_fetch without the chain, for benchmarks: from targets (copied), chunks kept in
 * d->home's store of version, with declared lengths up to bytes_max, no lease check and no
 * manifest stored: once every chunk is held and the whole has the version as its root, the
 * whole into whole_out (replaced; the caller frees it). KUMO_ENOTFOUND while chunks are
 * missing. Uses d's home, peer certificate, penalties, height and stop flag only. */
KUMO_MUST_USE int pd_chunks_fetch_whole(kumo_provider_daemon_t *d,
                                        const char *owner,
                                        uint64_t dseq,
                                        const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                        const pd_peer_target_t *targets,
                                        uint32_t target_count,
                                        uint64_t bytes_max,
                                        kumo_buf_t *whole_out,
                                        kumo_err_ctx_t *err);

/* An easy handle for GET <uri>/deployments/<owner>/<dseq>/<what> at t (mTLS with our peer
 * certificate, t's root as the only CA, TLS 1.3, short timeouts), writing the body to out
 * (bounded by its cap_max); NULL when the URL is too long or without memory. */
CURL *pd_peer_handle(kumo_provider_daemon_t *d,
                     const pd_peer_target_t *t,
                     const char *owner,
                     uint64_t dseq,
                     const char *what,
                     kumo_buf_t *out);
/* Performs c (a peer request: pd_peer_handle) on the calling thread within budget_ms: its
 * connect and whole-request timeouts are cut to the budget (and never past
 * PD_PEER_CONNECT_MS, PD_PEER_TIMEOUT_MS), so a peer that accepts and never answers holds the
 * caller at most budget_ms. *spent_ms gets the time it took. A budget of 0 performs nothing
 * (CURLE_OPERATION_TIMEDOUT). */
CURLcode pd_peer_perform_within(CURL *c, uint64_t budget_ms, uint64_t *spent_ms);
/* The host of an on-chain host_uri "https://host[:port][/...]" into out (cap bytes). */
bool pd_uri_host(const char *uri, char *out, size_t cap);
/* Our client certificate for peers (made once, before the API thread starts). */
KUMO_MUST_USE int pd_peer_tls(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);

/* ---- volumes.c ---- */

/* The volume mounts of one instance of workload w of lease l (owner, dseq, gseq, oseq) into
 * spec->mounts; names[i] holds the name of w->volumes[i] (persistent ones: a runtime volume
 * named for the provider, the lease, the workload, the instance, the volume and its size, so
 * no other lease, instance or size can ever mount it). */
void pd_volumes_spec(const kumo_provider_daemon_t *d,
                     const char *owner,
                     uint64_t dseq,
                     const pd_lease_t *l,
                     const Kumo__ManifestWorkload *w,
                     uint32_t instance,
                     char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                     kumo_runtime_container_spec_t *spec);
/* Makes home/volumes (the images of persistent volumes) and sets d->volume_dir. */
KUMO_MUST_USE int pd_volumes_init(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
/* Queues on the runtime worker the removal of the volumes of this provider whose lease
 * (owner, dseq, gseq, oseq) is not active; a closing lease with a volume still listed is not
 * ok (not released yet). Containers are queued first (pd_orphans_remove): a volume in use is
 * not removed, and is tried again at a later pass. */
void pd_volumes_orphans_remove(kumo_provider_daemon_t *d, bool *ok);

/* ---- keep.c: whether a new manifest version keeps a running container ---- */

#define PD_SPEC_DIGEST_TEXT_BYTES (2u * KUMO_CRYPTO_HASH_BYTES + 1u)

/* The key of the spec digests, derived from the daemon's account key (the same after a
 * restart, unknown to anyone else). */
void pd_spec_key(const kumo_crypto_keypair_t *kp, uint8_t out[KUMO_CRYPTO_HASH_BYTES]);
/* The keyed digest (hex) of instance `instance` of workload w of m whose env entries
 * "KEY=value" (secrets opened, NULL-ended) are env: everything that makes the container what
 * it is, never its count nor the sealed form of a secret. KUMO_ENOMEM, KUMO_EINVAL. Pure. */
KUMO_MUST_USE int pd_spec_digest(const uint8_t key[KUMO_CRYPTO_HASH_BYTES],
                                 const Kumo__Manifest *m,
                                 const Kumo__ManifestWorkload *w,
                                 uint32_t instance,
                                 const char *const *env,
                                 char out[PD_SPEC_DIGEST_TEXT_BYTES],
                                 kumo_err_ctx_t *err);
/* pd_spec_digest of instance `instance` of w of (owner, dseq)'s manifest m, its sealed
 * secrets opened with d's key into memory wiped after; false when a secret does not open or
 * memory runs out. Any thread (reads only d's key). */
bool pd_workload_digest(const kumo_provider_daemon_t *d,
                        const char *owner,
                        uint64_t dseq,
                        Kumo__Manifest *m,
                        const Kumo__ManifestWorkload *w,
                        uint32_t instance,
                        char out[PD_SPEC_DIGEST_TEXT_BYTES]);
/* Whether listed container c stays as the instance it is of a deployment now at version_hex
 * whose instance's digest is digest_hex (NULL: not computed): it runs, and it is of that
 * version or carries that digest. Pure. */
bool pd_container_keep(const kumo_runtime_container_t *c,
                       const char *version_hex,
                       const char *digest_hex);

/* ---- kept.c ---- */

/* Removes the files under home/logs and home/events that nothing was written to in the
 * last kept_hours before now_s (unix seconds); returns how many. Run by the passes every
 * PD_KEPT_PRUNE_EVERY_S. */
#define PD_KEPT_PRUNE_EVERY_S 600u
uint32_t pd_kept_prune(const char *home, uint64_t now_s, uint32_t kept_hours);

/* ---- status.c ---- */

/* The status file and metrics text's state (pd_status_open at daemon open, before the API
 * thread starts). */
KUMO_MUST_USE int pd_status_open(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
void pd_status_close(kumo_provider_daemon_t *d);
/* After each pass (main thread), pass_ms its length: writes home/status.json and renders the
 * metrics text. */
void pd_status_update(kumo_provider_daemon_t *d, uint64_t pass_ms);
/* Appends the metrics text of the last pass to out (any thread). */
void pd_status_metrics(kumo_provider_daemon_t *d, kumo_buf_t *out);
/* The metrics listener on metrics_listen (nothing when it is empty), on the API thread's
 * base, adding fwd's gauges; closed before that base is freed. */
KUMO_MUST_USE int pd_metrics_open(kumo_provider_daemon_t *d,
                                  struct event_base *base,
                                  kumo_overlay_fwd_t *fwd,
                                  kumo_err_ctx_t *err);
void pd_metrics_close(kumo_provider_daemon_t *d);

/* ---- backend.c ---- */

/* Issues the API's server certificate from home/ca.key, starts the API thread (its loop
 * serves the HTTPS API and the forwarder). */
KUMO_MUST_USE int pd_api_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err);
void pd_api_stop(kumo_provider_daemon_t *d);
/* Replaces the forwarder table (main thread). */
void pd_api_forwards(kumo_provider_daemon_t *d, const kumo_overlay_fwd_entry_t *e, uint32_t count);

/* ---- chunks.c: the chunk store ---- */

/* The largest manifest the chunk store, the chunk upload and the fetcher take. */
#define PD_CHUNKS_BYTES_MAX KUMO_SDL_MANIFEST_BYTES_MAX
/* A chunk file: the chunk's proof hashes, then its bytes. */
#define PD_CHUNK_FILE_BYTES_MAX \
    (KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES)

/* The chunks of one version of a deployment's manifest held here. */
typedef struct pd_chunks {
    char dir[PD_PATH_BYTES]; /* home/deployments/<owner>-<dseq>.chunks-<version hex> */
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    uint64_t total_bytes; /* the manifest's length (declared; the root decides) */
    uint32_t count;       /* chunks of total_bytes */
} pd_chunks_t;

/* Whether the chunks of (owner, dseq) are to be kept (pd_chunks_drop). */
/* tail: what follows the store's extension in its name (a version's hex, or ""). */
typedef bool (*pd_chunks_keep_fn)(void *ctx, const char *owner, uint64_t dseq, const char *tail);

/* The store of version of (owner, dseq) if one was opened: KUMO_ENOTFOUND if not,
 * KUMO_ECORRUPT if its length file is broken or over bytes_max. */
KUMO_MUST_USE int pd_chunks_load(const char *home,
                                 const char *owner,
                                 uint64_t dseq,
                                 const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                 uint64_t bytes_max,
                                 pd_chunks_t *out,
                                 kumo_err_ctx_t *err);
/* Opens (creating it if needed) the store of version for a manifest of total_bytes:
 * KUMO_ELIMIT over bytes_max (nothing created), KUMO_EMISMATCH when the store exists for
 * another length (the caller drops it to start again), KUMO_EIO. */
KUMO_MUST_USE int pd_chunks_open(const char *home,
                                 const char *owner,
                                 uint64_t dseq,
                                 const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                 uint64_t total_bytes,
                                 uint64_t bytes_max,
                                 pd_chunks_t *out,
                                 kumo_err_ctx_t *err);
/* Stores chunk index with its proof, atomically, only if the proof leads to the store's
 * version (kumo_crypto_merkle_proof_verify's codes; nothing written then). */
KUMO_MUST_USE int pd_chunks_put(const pd_chunks_t *c,
                                uint32_t index,
                                kumo_bytes_t proof,
                                kumo_bytes_t chunk,
                                kumo_err_ctx_t *err);
bool pd_chunks_has(const pd_chunks_t *c, uint32_t index);
/* Chunks held (verified) of the c->count. */
uint32_t pd_chunks_held(const pd_chunks_t *c);
/* Appends chunk index's proof then bytes (what GET .../manifest-chunk answers) to out, checked
 * again first: KUMO_ENOTFOUND when not held, KUMO_ECORRUPT when the file fails its proof. */
KUMO_MUST_USE int
pd_chunks_get(const pd_chunks_t *c, uint32_t index, kumo_buf_t *out, kumo_err_ctx_t *err);
/* Appends the bytes of every chunk in order to out (within out's cap_max: KUMO_ELIMIT);
 * KUMO_EMISMATCH when they are not total_bytes long. The caller checks the root. */
KUMO_MUST_USE int pd_chunks_assemble(const pd_chunks_t *c, kumo_buf_t *out, kumo_err_ctx_t *err);
/* Splits a whole manifest into its store (version: its root), building every proof. */
KUMO_MUST_USE int pd_chunks_from_manifest(const char *home,
                                          const char *owner,
                                          uint64_t dseq,
                                          kumo_bytes_t manifest,
                                          uint64_t bytes_max,
                                          pd_chunks_t *out,
                                          kumo_err_ctx_t *err);
/* data[off, off + len), never NULL + 0. */
kumo_bytes_t pd_chunk_slice(kumo_bytes_t data, size_t off, size_t len);
/* Removes the directories home/deployments/<owner>-<dseq>.<ext><version hex> (chunk stores,
 * files), or files of that name (a deployment's .tunnels, ext "tunnels", no version), of
 * (owner, dseq) but keep_version's (owner NULL: of every deployment), except those keep (may
 * be NULL) says to keep. */
void pd_store_drop(const char *home,
                   const char *ext,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                   pd_chunks_keep_fn keep,
                   void *keep_ctx);
/* pd_store_drop of the files a deployment's tunnels are told to its peers in (tunnels.c). */
#define PD_TUNNELS_EXT "tunnels"
void pd_tunnels_drop(
    const char *home, const char *owner, uint64_t dseq, pd_chunks_keep_fn keep, void *keep_ctx);
/* pd_store_drop of chunk stores. */
void pd_chunks_drop(const char *home,
                    const char *owner,
                    uint64_t dseq,
                    const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                    pd_chunks_keep_fn keep,
                    void *keep_ctx);
/* pd_store_drop of the files of manifests (mstore.c). */
void pd_files_drop(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                   pd_chunks_keep_fn keep,
                   void *keep_ctx);

#endif
