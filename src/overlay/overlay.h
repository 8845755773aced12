/*
 * overlay.h - the overlay network of a provider's datacenter: who may reach whom, and the
 * data path that enforces it.
 *
 * Policy (policy.c, pure: no I/O, no clock): a workload accepts no connection unless a rule of
 * the port lists the source. kumo_overlay_decide answers, for one connection (a source: a
 * workload of the deployment, another provider's datacenter, or anyone outside; a destination
 * workload; a port), allow or deny with the reason, from the manifest alone and the
 * deployment's leases (which provider runs which group). The daemon asks it for every source
 * it lets through the forwarder; the forwarder itself only applies the table it was given.
 *
 * Addresses (addr.c, pure): where a forward may send at another provider.
 *
 * Forwarder (fwd.c, the data path): a TCP forwarder that listens on "ip:port" pairs and relays
 * every accepted connection to one of the entry's targets (round robin). A workload reaches
 * another workload of its deployment through it: the name of the target resolves (in
 * /etc/hosts) to the deployment network's gateway, where the daemon listens on the target's
 * port and forwards to the target's containers on this provider or to the local listener of
 * the tunnel to the target's provider, for the source containers the policy allows only.
 *
 * The forwarder lives on an event loop thread; the daemon's main thread replaces the whole
 * table with kumo_overlay_fwd_set (thread-safe) and the loop applies it within
 * KUMO_OVERLAY_FWD_SYNC_MS. A listener whose address cannot be bound yet (the bridge appears
 * with the network's first container) is retried on every sync. An entry without targets
 * accepts and closes.
 *
 * Caps (a workload must not take the daemon's descriptors, which the provider API and the
 * runtime need too): at most connection_per_source_max relayed connections at once per source
 * address (one container), connection_per_workload_max per source workload (all its
 * instances, by the tag the daemon gives each source) and connection_max in all (lowered at
 * open to fit the open-files limit: each relayed connection holds two descriptors). A
 * connection past a cap is closed at once and counted; running out of descriptors pauses
 * accepting for one sync period instead of spinning on the listening socket. A destination at
 * another provider is reached only through a tunnel (below): its target is the tunnel client's
 * listener on loopback, for the tunnel's source workload only.
 */
#ifndef KUMO_OVERLAY_OVERLAY_H
#define KUMO_OVERLAY_OVERLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <proto/kumo.pb-c.h>

#include "core/core.h"
#include "crypto/crypto.h"

/* ---- who may reach whom (pure) ---- */

/* At most this many leases describe one deployment (one per group). */
#define KUMO_OVERLAY_LEASE_MAX KUMO_GROUP_COUNT_MAX

/* An active lease of the deployment: group `group` runs at provider `provider` (its account
 * address). */
typedef struct kumo_overlay_lease {
    const char *group;
    const char *provider;
} kumo_overlay_lease_t;

/* What the policy decides on: the deployment's manifest (checked by kumo_sdl_manifest_check)
 * and its active leases (at most KUMO_OVERLAY_LEASE_MAX are looked at). */
typedef struct kumo_overlay_deployment {
    const Kumo__Manifest *manifest;
    const kumo_overlay_lease_t *leases;
    uint32_t lease_count;
} kumo_overlay_deployment_t;

typedef enum kumo_overlay_from {
    /* An instance of workload `workload` of the deployment; with `provider` (not NULL), the
     * connection comes from that provider's datacenter, which must hold the workload's
     * group. */
    KUMO_OVERLAY_FROM_WORKLOAD = 1,
    /* Provider `provider`'s datacenter, not naming a workload: allowed what any workload of
     * the groups it holds is allowed. */
    KUMO_OVERLAY_FROM_PEER = 2,
    /* Anyone else: the internet, other tenants, the provider's host. */
    KUMO_OVERLAY_FROM_OUTSIDE = 3,
} kumo_overlay_from_t;

typedef struct kumo_overlay_source {
    kumo_overlay_from_t from;
    const char *workload; /* FROM_WORKLOAD */
    const char *provider; /* FROM_PEER; FROM_WORKLOAD: NULL (here) or where it runs */
} kumo_overlay_source_t;

/* The decision with its reason: the ALLOW ones let the connection through. */
#define KUMO_OVERLAY_VERDICTS(X)                                                         \
    X(KUMO_OVERLAY_ALLOW_WORKLOAD, "allow_workload", "a rule names the source workload") \
    X(KUMO_OVERLAY_ALLOW_GROUP, "allow_group", "a rule names the source's group")        \
    X(KUMO_OVERLAY_ALLOW_GLOBAL, "allow_global", "the port is global")                   \
    X(KUMO_OVERLAY_DENY_DESTINATION, "deny_destination", "no such destination workload") \
    X(KUMO_OVERLAY_DENY_PORT, "deny_port", "the destination has no such port")           \
    X(KUMO_OVERLAY_DENY_SOURCE, "deny_source", "no such source workload or provider")    \
    X(KUMO_OVERLAY_DENY_PLACEMENT, "deny_placement",                                     \
      "the source provider holds no lease of the source's group")                        \
    X(KUMO_OVERLAY_DENY_RULE, "deny_rule", "no rule of the port lists the source")

typedef enum kumo_overlay_verdict {
#define KUMO_OVERLAY_VERDICT_ENUM(code, name, text) code,
    KUMO_OVERLAY_VERDICTS(KUMO_OVERLAY_VERDICT_ENUM)
#undef KUMO_OVERLAY_VERDICT_ENUM
    KUMO_OVERLAY_VERDICT_COUNT
} kumo_overlay_verdict_t;

/* Who may connect to port `port` of workload `dest` (in this order):
 *   - dest must be a workload of the manifest (DENY_DESTINATION), port one of its ports
 *     (DENY_PORT);
 *   - FROM_WORKLOAD: the workload must be one of the manifest (DENY_SOURCE); with a provider,
 *     a lease of its group must be held by that provider (DENY_PLACEMENT);
 *     FROM_PEER: the provider must hold a lease of the deployment (DENY_SOURCE);
 *   - then the port's rules: a `workload` rule naming the source workload (for a peer: a
 *     workload of a group it holds) allows (ALLOW_WORKLOAD), a `group` rule naming the
 *     source's group (a group the peer holds) allows (ALLOW_GROUP), a `global` rule allows
 *     anyone (ALLOW_GLOBAL); nothing else does (DENY_RULE). A workload is not allowed to its
 *     own port without a rule that lists it.
 * Pure and total: any input gives a verdict. */
kumo_overlay_verdict_t kumo_overlay_decide(const kumo_overlay_deployment_t *dep,
                                           const kumo_overlay_source_t *src,
                                           const char *dest,
                                           uint32_t port);
bool kumo_overlay_verdict_allows(kumo_overlay_verdict_t v);
/* "allow_workload", ...; "unknown" for a value out of range. */
const char *kumo_overlay_verdict_name(kumo_overlay_verdict_t v);

/* Whether a rule of port p is `global` (published on the provider's public address). */
bool kumo_overlay_port_global(const Kumo__ManifestPort *p);
/* Whether port p of workload w must be reachable from outside w's datacenter: a global rule,
 * or a rule naming a workload or group placed in another group than w's. */
bool kumo_overlay_port_published(const Kumo__Manifest *m,
                                 const Kumo__ManifestWorkload *w,
                                 const Kumo__ManifestPort *p);
/* Whether port p needs a forward for workloads of the deployment: a rule other than global. */
bool kumo_overlay_port_forwarded(const Kumo__ManifestPort *p);
/* The group workload `name` runs in, or NULL if the manifest has no such workload. */
const char *kumo_overlay_workload_group(const Kumo__Manifest *m, const char *name);

/* ---- where a forward may send (pure) ---- */

/* Whether a forward may send to host at another provider: a numeric IPv4 or IPv6 address that
 * is public unicast (not unspecified, loopback, link-local, private, shared 100.64/10,
 * benchmarking, multicast, reserved or broadcast; for IPv6 also not unique-local, and a mapped
 * or compatible IPv4 address is judged as IPv4), or one listed in allow (a comma-separated
 * list of numeric addresses, compared as addresses; NULL or "" allows none). Names are never
 * allowed. */
bool kumo_overlay_address_allowed(const char *host, const char *allow);
/* Whether allow is a well-formed list for kumo_overlay_address_allowed ("" included). */
bool kumo_overlay_allow_list_is_valid(const char *allow);
/* The tag counting a workload's connections together: never 0. */
uint64_t kumo_overlay_workload_tag(const char *owner, uint64_t dseq, const char *workload);

/* ---- isolation in the datacenter (isolation.c pure, nft.c applies) ----
 * Each deployment network on this host is closed by the provider's own nftables tables
 * (`inet <table>` and `bridge <table>`), replaced as a whole: from its subnet a container
 * reaches neither another container of its network (bridged frames dropped), nor another
 * network, a private, loopback, link-local or reserved address (routed packets dropped, unless
 * they go to a published port: DNAT), nor the provider host, except the forwarder's ports on
 * its own gateway; replies to connections others made to it pass. Public addresses stay
 * reachable (the workload's egress). Routed in from outside, its containers are reached only
 * on a published port (DNAT) or as an answer: a neighbour routing to a container's address
 * through this host is dropped. The operator may open private ranges of its own to every
 * workload (egress below: e.g. its chain node and provider APIs on a private network). */

#define KUMO_OVERLAY_NET_MAX      1024u
#define KUMO_OVERLAY_NET_PORT_MAX 256u
#define KUMO_OVERLAY_TABLE_BYTES  33u /* [a-z0-9_], 1..32 characters */

/* One deployment network: its subnet "a.b.c.d/n" (IPv4, n in 8..30), its gateway (inside the
 * subnet) and the forwarder's ports listening there. */
typedef struct kumo_overlay_net {
    char subnet[64];
    char gateway[64];
    uint16_t ports[KUMO_OVERLAY_NET_PORT_MAX];
    uint32_t port_count;
} kumo_overlay_net_t;

/* The private destinations the operator lets its workloads reach (provider config
 * `workload_egress_allow`, default none: docs/design.md §10 "Management workloads"): IPv4
 * ranges, each its network address (host order) and prefix length. */
#define KUMO_OVERLAY_EGRESS_MAX 16u
typedef struct kumo_overlay_egress {
    uint32_t net[KUMO_OVERLAY_EGRESS_MAX];
    uint8_t bits[KUMO_OVERLAY_EGRESS_MAX];
    uint32_t count;
} kumo_overlay_egress_t;

/* Parses list: "" (none) or comma-separated entries "a.b.c.d/n" (n in 8..32) or "a.b.c.d" (a
 * /32), numeric, no spaces, host bits zero. KUMO_EINVAL naming the entry for anything else or
 * a range touching the unspecified 0/8, loopback 127/8, link-local 169.254/16 (cloud metadata),
 * multicast 224/4 or reserved 240/4; KUMO_ELIMIT past KUMO_OVERLAY_EGRESS_MAX entries (*out is
 * then empty). Pure. */
KUMO_MUST_USE int
kumo_overlay_egress_parse(const char *list, kumo_overlay_egress_t *out, kumo_err_ctx_t *err);

/* Appends to out the nft script (for `nft -f -`, one transaction) that replaces the tables
 * named table with the rules for nets; with no nets it only removes them. egress (NULL: none)
 * opens its ranges to every network's containers, routed and to this host's own addresses
 * there. KUMO_EINVAL for a bad table name, subnet, gateway (not numeric IPv4 or outside its
 * subnet), a port 0, or an egress range overlapping a deployment network (the provider's own
 * bridges stay closed whatever the operator lists), KUMO_ELIMIT past KUMO_OVERLAY_NET_MAX nets,
 * KUMO_OVERLAY_NET_PORT_MAX ports or KUMO_OVERLAY_EGRESS_MAX ranges, KUMO_ENOMEM (out is
 * unchanged but for what was appended before a failure: the caller resets it). Pure. */
KUMO_MUST_USE int kumo_overlay_isolation_render(const char *table,
                                                const kumo_overlay_net_t *nets,
                                                uint32_t count,
                                                const kumo_overlay_egress_t *egress,
                                                kumo_buf_t *out,
                                                kumo_err_ctx_t *err);
/* Runs `nft -f -` (found on PATH) with script on its standard input and waits for it; KUMO_EIO
 * naming nft's complaint when it fails or cannot run. The caller ignores SIGPIPE. */
KUMO_MUST_USE int kumo_overlay_isolation_apply(kumo_bytes_t script, kumo_err_ctx_t *err);

/* ---- the forwarder (the data path) ---- */

#define KUMO_OVERLAY_FWD_ENTRY_MAX  256u
#define KUMO_OVERLAY_FWD_TARGET_MAX 8u
#define KUMO_OVERLAY_FWD_SOURCE_MAX 16u
#define KUMO_OVERLAY_FWD_HOST_BYTES 64u
#define KUMO_OVERLAY_FWD_SYNC_MS    200u
/* Defaults of the caps (config.yaml forward_connection_max, forward_connection_per_source_max). */
#define KUMO_OVERLAY_FWD_CONNECTION_DEFAULT            4096u
#define KUMO_OVERLAY_FWD_CONNECTION_PER_SOURCE_DEFAULT 256u
/* config.yaml forward_connection_per_workload_max: all instances of one workload together. */
#define KUMO_OVERLAY_FWD_CONNECTION_PER_WORKLOAD_DEFAULT 1024u
/* Descriptors left to everything else of the daemon (API, node and runtime connections, files)
 * when the total cap is fitted to the open-files limit. */
#define KUMO_OVERLAY_FWD_FD_RESERVE 512u
/* Bytes buffered towards a slow side before reading from the other pauses. */
#define KUMO_OVERLAY_FWD_BUFFER_BYTES (256u * 1024u)

typedef enum kumo_overlay_fwd_kind {
    /* A container of the destination workload on this host (its network address). */
    KUMO_OVERLAY_FWD_CONTAINER = 0,
    /* A tunnel client's local listener (loopback only): the destination runs at another
     * provider, and the tunnel carries the connection there. */
    KUMO_OVERLAY_FWD_TUNNEL = 1,
} kumo_overlay_fwd_kind_t;

typedef struct kumo_overlay_fwd_target {
    char host[KUMO_OVERLAY_FWD_HOST_BYTES]; /* numeric IPv4/IPv6 address */
    uint16_t port;
    kumo_overlay_fwd_kind_t kind; /* FWD_TUNNEL: host must be a loopback address */
    /* 0: any allowed source; else only sources of this kumo_overlay_workload_tag (a tunnel
     * belongs to one source workload). */
    uint64_t source_workload;
} kumo_overlay_fwd_target_t;

typedef struct kumo_overlay_fwd_entry {
    char ip[KUMO_OVERLAY_FWD_HOST_BYTES]; /* where to listen: numeric address */
    uint16_t port;
    kumo_overlay_fwd_target_t targets[KUMO_OVERLAY_FWD_TARGET_MAX];
    uint32_t target_count;
    /* Who may connect: numeric addresses of the source containers the port's rules allow.
     * A connection from any other address is closed at once (and counted). */
    char sources[KUMO_OVERLAY_FWD_SOURCE_MAX][KUMO_OVERLAY_FWD_HOST_BYTES];
    uint64_t source_workloads[KUMO_OVERLAY_FWD_SOURCE_MAX]; /* each source's
                                                               kumo_overlay_workload_tag; 0: none */
    uint32_t source_count;
} kumo_overlay_fwd_entry_t;

typedef struct kumo_overlay_fwd_cfg {
    uint32_t connection_max;              /* 0: KUMO_OVERLAY_FWD_CONNECTION_DEFAULT */
    uint32_t connection_per_source_max;   /* 0: KUMO_OVERLAY_FWD_CONNECTION_PER_SOURCE_DEFAULT */
    uint32_t connection_per_workload_max; /* 0: KUMO_OVERLAY_FWD_CONNECTION_PER_WORKLOAD_DEFAULT */
} kumo_overlay_fwd_cfg_t;

typedef struct kumo_overlay_fwd kumo_overlay_fwd_t;

/* cfg may be NULL (defaults). The total cap is lowered to (open-files limit -
 * KUMO_OVERLAY_FWD_FD_RESERVE) / 2 when that is smaller (at least 1). */
KUMO_MUST_USE int kumo_overlay_fwd_open(struct event_base *base,
                                        const kumo_overlay_fwd_cfg_t *cfg,
                                        kumo_overlay_fwd_t **out,
                                        kumo_err_ctx_t *err);
/* Replaces the table (at most KUMO_OVERLAY_FWD_ENTRY_MAX entries; more are ignored). Any thread. */
void kumo_overlay_fwd_set(kumo_overlay_fwd_t *f,
                          const kumo_overlay_fwd_entry_t *entries,
                          uint32_t count);
/* Listeners bound now and connections relayed so far (any thread). */
uint32_t kumo_overlay_fwd_listening(kumo_overlay_fwd_t *f);
uint64_t kumo_overlay_fwd_relayed(kumo_overlay_fwd_t *f);
uint64_t kumo_overlay_fwd_refused(kumo_overlay_fwd_t *f);
/* Connections closed at once for a cap (per source, total, or out of descriptors). */
uint64_t kumo_overlay_fwd_capped(kumo_overlay_fwd_t *f);
/* Relayed connections open now. */
uint32_t kumo_overlay_fwd_active(kumo_overlay_fwd_t *f);
/* The total cap in force (after fitting it to the open-files limit). */
uint32_t kumo_overlay_fwd_connection_max(const kumo_overlay_fwd_t *f);

/* Raises the soft open-files limit to the hard one (once at the daemon's start, before any
 * thread). Returns the soft limit in force afterwards. */
uint64_t kumo_overlay_nofile_raise(void);
/* Call on the loop thread (or after it stopped). */
void kumo_overlay_fwd_close(kumo_overlay_fwd_t *f);

/* ---- tunnels between datacenters (tunnel*.c, the data path across providers) ----
 * Across datacenters every (source workload, destination workload) pair of a deployment gets
 * one persistent mutual-TLS tunnel (TLS 1.3, Ed25519) from the source's provider (client) to
 * the destination's provider (server); the source's TCP connections are streams inside it.
 * Each side presents a certificate made for this tunnel, issued by its provider's root (on
 * chain), naming the deployment, the two workloads and the lease its holder runs them under
 * (kumo_overlay_tunnel_cert_issue); each side verifies the other's against the root pinned for
 * the provider it expects (never any provider's root) and its names against the tunnel it
 * expects. Framing, flow control and limits: docs/design.md "Tunnels between datacenters".
 * Everything here runs on the loop thread of the event_base given at open; the process ignores
 * SIGPIPE (a local peer that went away must not kill the daemon). */

/* Owner and provider addresses and workload names in a tunnel identity: 1..64 characters of
 * [a-z0-9._-]. */
#define KUMO_OVERLAY_TUNNEL_TEXT_BYTES 65u
/* Ports one tunnel carries (client listeners, server targets). */
#define KUMO_OVERLAY_TUNNEL_PORT_MAX 16u
/* Targets of one tunnel on the server: each port to at most 8 containers. */
#define KUMO_OVERLAY_TUNNEL_TARGET_MAX (KUMO_OVERLAY_TUNNEL_PORT_MAX * KUMO_OVERLAY_FWD_TARGET_MAX)
/* Defaults and hard caps of the limits (a cfg field 0 means the default). */
#define KUMO_OVERLAY_TUNNEL_STREAM_DEFAULT               256u
#define KUMO_OVERLAY_TUNNEL_STREAM_MAX                   4096u
#define KUMO_OVERLAY_TUNNEL_TUNNEL_DEFAULT               1024u
#define KUMO_OVERLAY_TUNNEL_HANDSHAKE_DEFAULT            64u
#define KUMO_OVERLAY_TUNNEL_HANDSHAKE_MAX                256u
#define KUMO_OVERLAY_TUNNEL_TUNNEL_MAX                   65536u
#define KUMO_OVERLAY_TUNNEL_HANDSHAKE_PER_SOURCE_DEFAULT 8u
#define KUMO_OVERLAY_TUNNEL_HANDSHAKE_MS_DEFAULT         5000u
#define KUMO_OVERLAY_TUNNEL_KEEPALIVE_MS_DEFAULT         15000u
#define KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN               100u
#define KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MAX               30000u
/* Bytes one stream may have in flight in each direction (its flow-control window). */
#define KUMO_OVERLAY_TUNNEL_WINDOW_BYTES (2048u * 1024u)
/* The largest DATA payload of a frame. */
#define KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX 16384u
/* A tunnel certificate's validity: one day from an hour ago (clock skew). */
#define KUMO_OVERLAY_TUNNEL_CERT_LIFETIME_S (25u * 3600u)

/* Who holds a tunnel certificate: the deployment (owner, dseq), the tunnel's workloads (src
 * connects to dst), and the lease the holder runs its end under (owner/dseq/gseq/oseq at
 * provider): the source's group lease for the client, the destination's for the server. */
typedef struct kumo_overlay_tunnel_id {
    char owner[KUMO_OVERLAY_TUNNEL_TEXT_BYTES];
    uint64_t dseq;
    char src[KUMO_OVERLAY_TUNNEL_TEXT_BYTES];
    char dst[KUMO_OVERLAY_TUNNEL_TEXT_BYTES];
    uint32_t gseq;
    uint32_t oseq;
    char provider[KUMO_OVERLAY_TUNNEL_TEXT_BYTES];
} kumo_overlay_tunnel_id_t;

/* Whether every text of id is 1..64 characters of [a-z0-9._-] and dseq, oseq are not 0. */
bool kumo_overlay_tunnel_id_is_valid(const kumo_overlay_tunnel_id_t *id);
bool kumo_overlay_tunnel_id_equal(const kumo_overlay_tunnel_id_t *a,
                                  const kumo_overlay_tunnel_id_t *b);
/* The certificate URIs of id: "kumo:lease:<owner>/<dseq>/<gseq>/<oseq>/<provider>" and
 * "kumo:tunnel:<src>/<dst>". KUMO_EINVAL for an invalid id. Pure. */
#define KUMO_OVERLAY_TUNNEL_URI_COUNT 2u
#define KUMO_OVERLAY_TUNNEL_URI_BYTES 256u
KUMO_MUST_USE int
kumo_overlay_tunnel_id_uris(const kumo_overlay_tunnel_id_t *id,
                            char uris[KUMO_OVERLAY_TUNNEL_URI_COUNT][KUMO_OVERLAY_TUNNEL_URI_BYTES],
                            kumo_err_ctx_t *err);
/* The reverse: exactly those two URIs, in any order, each once. KUMO_EDECODE otherwise (a
 * malformed number, an empty or bad name, an unknown or repeated URI). Pure. */
KUMO_MUST_USE int
kumo_overlay_tunnel_id_from_uris(const char (*uris)[KUMO_OVERLAY_TUNNEL_URI_BYTES],
                                 size_t count,
                                 kumo_overlay_tunnel_id_t *out,
                                 kumo_err_ctx_t *err);

/* Issues a tunnel certificate for pubkey, naming id, signed by the provider's root (key root,
 * certificate root_pem), valid from now + start_offset_s for lifetime_s seconds (the daemon
 * uses -3600 and KUMO_OVERLAY_TUNNEL_CERT_LIFETIME_S). PEM appended to pem_out. */
KUMO_MUST_USE int kumo_overlay_tunnel_cert_issue(const kumo_crypto_keypair_t *root,
                                                 kumo_bytes_t root_pem,
                                                 const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                                 const kumo_overlay_tunnel_id_t *id,
                                                 int64_t start_offset_s,
                                                 uint32_t lifetime_s,
                                                 kumo_buf_t *pem_out,
                                                 kumo_err_ctx_t *err);

/* Which tunnels a provider needs for one deployment (pairs.c, pure). A workload runs where
 * the first lease of its group in dep->leases is held. */
typedef enum kumo_overlay_side {
    KUMO_OVERLAY_SIDE_CLIENT = 1, /* sources here, destinations at other providers */
    KUMO_OVERLAY_SIDE_SERVER = 2, /* sources at other providers, destinations here */
} kumo_overlay_side_t;

typedef struct kumo_overlay_pair {
    const char *src;    /* the source workload (points into the manifest) */
    const char *dst;    /* the destination workload */
    uint32_t src_lease; /* index into dep->leases: the lease the source runs under */
    uint32_t dst_lease; /* and the destination */
    uint16_t ports[KUMO_OVERLAY_TUNNEL_PORT_MAX]; /* the destination's ports it carries */
    uint32_t port_count;                          /* 1.. */
} kumo_overlay_pair_t;

/* The pairs provider self is one end of, for one side: every (source workload, destination
 * workload) whose groups' leases are held by different providers, self holding the source's
 * (CLIENT) or the destination's (SERVER), with the destination's ports that have a rule other
 * than global (kumo_overlay_port_forwarded: reached by name through the gateway) and that
 * kumo_overlay_decide lets the source, placed at its lease's provider, reach (at most
 * KUMO_OVERLAY_TUNNEL_PORT_MAX: the manifest check allows no more per workload). A pair with
 * no such port is not listed. At most cap pairs go to out, in lease then manifest order; the
 * rest are counted in *dropped. Pure. */
uint32_t kumo_overlay_pairs(const kumo_overlay_deployment_t *dep,
                            const char *self,
                            kumo_overlay_side_t side,
                            kumo_overlay_pair_t *out,
                            uint32_t cap,
                            uint32_t *dropped);

/* ---- the chain's word on the tunnels (chain.c, pure) ----
 * A tunnel may exist only while the chain says so: each pass of the daemon that read the
 * chain renews that permission. A daemon that cannot read the chain cannot see a lease end
 * or a rule go, so once it has gone KUMO_OVERLAY_CHAIN_GRACE_PASSES passes' worth of time
 * without a read, every tunnel closes (fail closed) until a pass reads the chain again. */

/* Passes without a read before the tunnels close. Three, so that one or two missed reads (a
 * node restarting, a slow answer) cut no connection, while a lost chain leaves revoked access
 * open for at most three passes (with KUMO_OVERLAY_CHAIN_PASS_MS_MAX, 30 s). */
#define KUMO_OVERLAY_CHAIN_GRACE_PASSES 3u
/* The pass time the daemon's block time is clamped to: a fast test chain (blocks of 100 ms)
 * still grants a node a few seconds to come back; a slow one bounds the open window. */
#define KUMO_OVERLAY_CHAIN_PASS_MS_MIN 1000u
#define KUMO_OVERLAY_CHAIN_PASS_MS_MAX 10000u

typedef enum kumo_overlay_chain {
    KUMO_OVERLAY_CHAIN_FRESH, /* read in the last pass */
    KUMO_OVERLAY_CHAIN_GRACE, /* reads missed, fewer than the grace: tunnels stay as last read */
    KUMO_OVERLAY_CHAIN_LOST,  /* the grace is over: no tunnel, no stream, none opens */
} kumo_overlay_chain_t;

/* Whole passes in since_read_ms (the time since the last pass that read the chain) at one
 * pass per pass_ms (the daemon's block time), pass_ms clamped to [KUMO_OVERLAY_CHAIN_PASS_MS_MIN,
 * KUMO_OVERLAY_CHAIN_PASS_MS_MAX]. Pure. */
uint64_t kumo_overlay_chain_passes_since(uint64_t since_read_ms, uint64_t pass_ms);

/* What the tunnels may do passes_since_read passes after the last read of the chain: 0 is
 * FRESH, below the grace GRACE, from it on LOST. Pure. */
kumo_overlay_chain_t kumo_overlay_chain_judge(uint64_t passes_since_read);

/* Counters of a tunnel server or client. */
typedef struct kumo_overlay_tunnel_stats {
    uint32_t tunnels;         /* tunnels up now */
    uint32_t handshakes;      /* handshakes in progress now */
    uint32_t streams;         /* streams open now */
    uint64_t tunnels_opened;  /* tunnels that came up */
    uint64_t refused;         /* handshakes failed or peers refused (names, root, callback) */
    uint64_t capped;          /* connections closed at once for a limit */
    uint64_t streams_opened;  /* streams opened */
    uint64_t streams_reset;   /* streams reset (refused port, target down, limit) */
    uint64_t revoked;         /* tunnels closed by revocation */
    uint64_t protocol_errors; /* tunnels closed for a frame breaking the protocol */
    uint64_t expired;         /* tunnels closed because the peer's certificate expired */
} kumo_overlay_tunnel_stats_t;

/* Where a server sends the streams for one port: the local target host:target_port. */
typedef struct kumo_overlay_tunnel_target {
    uint16_t port;
    char host[KUMO_OVERLAY_FWD_HOST_BYTES]; /* numeric address */
    uint16_t target_port;
} kumo_overlay_tunnel_target_t;

/* A port may be listed several times (one item per container of a destination with more
 * than one instance): its streams go to them in turn. */
typedef struct kumo_overlay_tunnel_targets {
    kumo_overlay_tunnel_target_t items[KUMO_OVERLAY_TUNNEL_TARGET_MAX];
    uint32_t count;
} kumo_overlay_tunnel_targets_t;

/* After a client's certificate verified against its provider's pinned root and named the
 * tunnel an allowed entry expects: whether the tunnel is allowed now and where its streams go
 * (targets_out starts empty; a stream to a port not listed is reset). Runs on the loop,
 * synchronously; it must not call back into the server. */
typedef bool (*kumo_overlay_tunnel_accept_cb)(void *ctx,
                                              const kumo_overlay_tunnel_id_t *peer,
                                              kumo_overlay_tunnel_targets_t *targets_out);

/* One tunnel the server accepts: the client must name peer exactly and be issued by
 * peer_root_pem (the on-chain root of peer.provider); the server answers with cert_pem/key. */
typedef struct kumo_overlay_tunnel_allow {
    kumo_overlay_tunnel_id_t peer;
    kumo_bytes_t peer_root_pem;
    kumo_bytes_t cert_pem;
    const kumo_crypto_keypair_t *key;
} kumo_overlay_tunnel_allow_t;

typedef struct kumo_overlay_tunnel_server_cfg {
    const char *listen;                /* "ip:port" (port 0: any free port) */
    uint32_t tunnel_max;               /* 0: KUMO_OVERLAY_TUNNEL_TUNNEL_DEFAULT */
    uint32_t stream_max;               /* per tunnel; 0: KUMO_OVERLAY_TUNNEL_STREAM_DEFAULT */
    uint32_t handshake_max;            /* in all; 0: KUMO_OVERLAY_TUNNEL_HANDSHAKE_DEFAULT */
    uint32_t handshake_per_source_max; /* per source address; 0: ..._PER_SOURCE_DEFAULT */
    uint32_t handshake_timeout_ms;     /* 0: KUMO_OVERLAY_TUNNEL_HANDSHAKE_MS_DEFAULT */
    uint32_t keepalive_ms;             /* 0: KUMO_OVERLAY_TUNNEL_KEEPALIVE_MS_DEFAULT */
    kumo_overlay_tunnel_accept_cb accept_cb;
    void *accept_ctx;
} kumo_overlay_tunnel_server_cfg_t;

typedef struct kumo_overlay_tunnel_server kumo_overlay_tunnel_server_t;

/* Listens on cfg->listen. KUMO_EINVAL for a bad address or missing callback, KUMO_ELIMIT for
 * a limit over its hard cap, KUMO_EIO when it cannot listen. */
KUMO_MUST_USE int kumo_overlay_tunnel_server_open(struct event_base *base,
                                                  const kumo_overlay_tunnel_server_cfg_t *cfg,
                                                  kumo_overlay_tunnel_server_t **out,
                                                  kumo_err_ctx_t *err);
/* The port it listens on. */
uint16_t kumo_overlay_tunnel_server_port(const kumo_overlay_tunnel_server_t *s);
/* Replaces the set of allowed tunnels (copied; at most tunnel_max entries, each id valid and
 * once). Tunnels up whose entry is gone or changed are closed with their streams at once; the
 * others are asked the accept callback again (refused: closed; else their targets replaced).
 * Certificates and roots are parsed here, once, not at every handshake. KUMO_EINVAL (also: a
 * key that is not its certificate's), KUMO_EDECODE (a PEM that does not parse),
 * KUMO_EDUPLICATE and KUMO_ELIMIT leave the set unchanged. */
KUMO_MUST_USE int kumo_overlay_tunnel_server_allow_set(kumo_overlay_tunnel_server_t *s,
                                                       const kumo_overlay_tunnel_allow_t *entries,
                                                       uint32_t count,
                                                       kumo_err_ctx_t *err);
/* Closes at once every tunnel up or in handshake whose client named peer (and its streams);
 * the entry stays allowed (remove it with allow_set). Returns how many were closed. */
uint32_t kumo_overlay_tunnel_server_revoke(kumo_overlay_tunnel_server_t *s,
                                           const kumo_overlay_tunnel_id_t *peer);
void kumo_overlay_tunnel_server_stats(const kumo_overlay_tunnel_server_t *s,
                                      kumo_overlay_tunnel_stats_t *out);
void kumo_overlay_tunnel_server_close(kumo_overlay_tunnel_server_t *s);

/* A local listener of a client: connections accepted on fd (listening, owned by the client
 * from open on) become streams to port at the destination. */
typedef struct kumo_overlay_tunnel_listener {
    int fd;
    uint16_t port;
} kumo_overlay_tunnel_listener_t;

typedef struct kumo_overlay_tunnel_client_cfg {
    const char *peer_address;      /* "ip:port" of the peer provider's tunnel server */
    kumo_overlay_tunnel_id_t peer; /* what the server's certificate must name */
    kumo_bytes_t peer_root_pem;    /* the on-chain root of peer.provider */
    kumo_bytes_t cert_pem;         /* ours for this tunnel */
    const kumo_crypto_keypair_t *key;
    kumo_overlay_tunnel_listener_t listeners[KUMO_OVERLAY_TUNNEL_PORT_MAX];
    uint32_t listener_count;
    uint32_t stream_max;           /* 0: KUMO_OVERLAY_TUNNEL_STREAM_DEFAULT */
    uint32_t handshake_timeout_ms; /* 0: KUMO_OVERLAY_TUNNEL_HANDSHAKE_MS_DEFAULT */
    uint32_t keepalive_ms;         /* 0: KUMO_OVERLAY_TUNNEL_KEEPALIVE_MS_DEFAULT */
} kumo_overlay_tunnel_client_cfg_t;

typedef struct kumo_overlay_tunnel_client kumo_overlay_tunnel_client_t;

/* Dials the peer (now, and again with backoff from KUMO_OVERLAY_TUNNEL_BACKOFF_MS_MIN doubling
 * to ..._MAX whenever the tunnel is down) and carries the listeners' connections as streams
 * while it is up (a connection accepted while it is down waits for it, up to 3 s, and asks
 * for a dial now instead of at the end of the backoff). Everything in
 * cfg is parsed or copied (nothing of it is used after open); the listeners' fds belong to
 * the client even when open fails. KUMO_EINVAL for a bad address, id or listener (or a key
 * that is not its certificate's), KUMO_EDECODE for a PEM that does not parse, KUMO_ELIMIT for
 * a limit over its cap. */
KUMO_MUST_USE int kumo_overlay_tunnel_client_open(struct event_base *base,
                                                  const kumo_overlay_tunnel_client_cfg_t *cfg,
                                                  kumo_overlay_tunnel_client_t **out,
                                                  kumo_err_ctx_t *err);
/* Whether the tunnel is up (handshake done, server verified). */
bool kumo_overlay_tunnel_client_is_up(const kumo_overlay_tunnel_client_t *c);
void kumo_overlay_tunnel_client_stats(const kumo_overlay_tunnel_client_t *c,
                                      kumo_overlay_tunnel_stats_t *out);
/* Closes the tunnel, its streams and the listeners (revocation on the source side). */
void kumo_overlay_tunnel_client_close(kumo_overlay_tunnel_client_t *c);

#endif
