/*
 * api_int.h - private to the provider API: the routes as functions of a copied request (run on
 * the API's worker threads, api_route.c), and the parsers exposed for their fuzz targets.
 */
#ifndef KUMO_PROVIDER_API_INT_H
#define KUMO_PROVIDER_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>

#include "core/core.h"
#include "overlay/overlay.h"
#include "provider/provider_api.h"

/* What a worker sees of a request: copies only, no libevent object. */
typedef struct pd_api_rq {
    bool put; /* else GET */
    bool has_caller;
    uint8_t caller[KUMO_ADDRESS_BYTES]; /* from the client certificate */
    char path[256];                     /* the decoded path */
    char query[512];                    /* after '?', empty if none or longer */
    bool path_ok;                       /* path parsed into owner, dseq, leaf */
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    char leaf[32];
    kumo_bytes_t body;
    bool upgrade; /* "Connection: Upgrade" and "Upgrade: kumo-shell/1" */
} pd_api_rq_t;

/* A reply: status, a static content type, the body (bounded by its buffer's cap). */
typedef struct pd_api_reply {
    int status;
    const char *content_type;
    kumo_buf_t body;
    bool shell; /* status 101: stream is a started shell session's, the reply's to hand on */
    kumo_provider_shell_stream_t stream;
} pd_api_reply_t;

/* A chunk upload's body: the chunk's proof hashes, then at most a chunk. */
#define PD_CHUNK_UPLOAD_BYTES_MAX \
    (KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES)
_Static_assert(PD_CHUNK_UPLOAD_BYTES_MAX <= KUMO_PROVIDER_MANIFEST_BYTES_MAX,
               "a chunk upload fits the body the API reads");

/* The backend as one worker calls it. */
typedef struct pd_api_ctx {
    const kumo_provider_api_backend_t *be;
    void *ctx;
} pd_api_ctx_t;

/* What a request is, in the documented order of checks. */
typedef enum pd_api_kind {
    PD_API_UNAUTH = 0,       /* no client certificate: 401 */
    PD_API_BAD_PATH = 1,     /* 400 */
    PD_API_NOT_OWNER = 3,    /* the owner's alone (a shell) by someone else: 403 */
    PD_API_MANIFEST_PUT = 4, /* the owner, or a grantee (pd_api_grantee_allows) */
    PD_API_PEER_GET = 5,     /* GET manifest or endpoints: the owner or a peer */
    PD_API_STATUS = 6,       /* the owner, or a grantee */
    PD_API_LOGS = 7,         /* likewise */
    PD_API_NO_ROUTE = 9,     /* 404 */
    PD_API_SHELL = 10,       /* PUT .../shell by the owner */
    PD_API_EVENTS = 11,      /* GET .../events: the owner, or a grantee */
    PD_API_CHUNK_INFO = 12,  /* GET .../manifest-info: the owner or a peer */
    PD_API_CHUNK_GET = 13,   /* GET .../manifest-chunk?version=&index=: the owner or a peer */
    PD_API_CHUNK_PUT = 14,   /* PUT .../manifest-chunk?total=&index=: the owner, or a grantee */
    PD_API_CHUNK_HAVE = 15,  /* PUT .../manifest-have?version=: the owner or a peer */
} pd_api_kind_t;

pd_api_kind_t pd_api_rq_kind(const pd_api_rq_t *rq);
/* Whether a caller that is not the owner may be served route k under a grant: the reading
 * routes (status, logs, events) and the manifest uploads. Never a shell. */
bool pd_api_kind_is_grantable(pd_api_kind_t k);
/* Whether the grants let caller (not the owner) have route k on deployment (owner, dseq) at
 * grants->height. The grant that decides is the owner's to the caller for dseq, else the one
 * for all deployments (the chain's rule for MsgExec); it must not be expired (height <
 * expiry_height). Reading routes: any such grant. Uploads: one that allows UpdateDeployment
 * (or SubmitDeployment, in a grant for all deployments). Anything else: no. Pure. */
bool pd_api_grantee_allows(const kumo_provider_grants_t *grants,
                           const uint8_t caller[KUMO_ADDRESS_BYTES],
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           pd_api_kind_t k);
/* Whether answering it asks the daemon (so a worker must): the others are answered on the
 * loop, so strangers' requests that are refused anyway never wait for or hold a worker. */
bool pd_api_kind_needs_backend(pd_api_kind_t k);

/* Parses rq->path into path_ok, owner, dseq, leaf. */
bool pd_api_rq_parse(pd_api_rq_t *rq);
/* Answers a /deployments/... request (docs/provider-api.md, checks in the documented order).
 * Calls the backend (may block): a worker thread, or the loop for answers that need none
 * (no certificate, bad path). */
void pd_api_route(const pd_api_ctx_t *c, const pd_api_rq_t *rq, pd_api_reply_t *out);
/* The JSON error answer {"error": {...}}. */
void pd_api_reply_error(pd_api_reply_t *out, int status, int code, const char *detail);

/* ---- shell sessions on the loop thread (api_shell.c) ---- */

typedef struct pd_shells pd_shells_t;

/* The session table: at most cfg->shell_session_max sessions, shell_session_per_owner_max of
 * one tenant; be's shell_resize and shell_exit are called with be->ctx. */
KUMO_MUST_USE int pd_shells_new(struct event_base *base,
                                const kumo_provider_api_backend_t *be,
                                const kumo_provider_api_cfg_t *cfg,
                                pd_shells_t **out,
                                kumo_err_ctx_t *err);
/* Ends every session (their connections are freed by evhttp after). */
void pd_shells_free(pd_shells_t *set);
/* A slot for a session of owner, taken before its request goes to a worker: its index, or
 * KUMO_ELIMIT past a cap (counted in *refused). */
int pd_shells_reserve(pd_shells_t *set, const uint8_t owner[KUMO_ADDRESS_BYTES]);
/* A reserved slot whose session will not start (its request failed or its client left). */
void pd_shells_release(pd_shells_t *set, int slot);
/* Starts the session in a reserved slot: answers 101 on evcon's connection and from then on
 * carries frames between it and stream (taken: fd and early are the session's). */
void pd_shells_start(pd_shells_t *set,
                     int slot,
                     struct evhttp_connection *evcon,
                     kumo_provider_shell_stream_t *stream);
/* Closes sessions idle past the idle timeout. */
void pd_shells_tick(pd_shells_t *set, uint64_t now_ms);
/* Open sessions, refusals past a cap, sessions closed for idling. */
void pd_shells_stats(const pd_shells_t *set, uint32_t *open, uint64_t *refused, uint64_t *idle);
/* A stream's resources (fd, early bytes), when its session never starts. */
void pd_shell_stream_free(kumo_provider_shell_stream_t *stream);

/* "/deployments/<owner>/<dseq>/<leaf>[?query]" into owner, dseq and leaf (bounded). */
bool kumo_provider_api_path_parse(const char *path,
                                  uint8_t owner[KUMO_ADDRESS_BYTES],
                                  uint64_t *dseq,
                                  char *leaf,
                                  size_t leaf_cap);

/* The answer of GET .../endpoints (the whole of it, "endpoints" and "tunnels") is at most
 * this many bytes: the tunnel certificates it carries (about 700 bytes each) fit with room. */
#define KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX (512u * 1024u)
/* Entries of its "tunnels" (one per workload the peer runs) looked at, and certificates per
 * entry. */
#define KUMO_PROVIDER_PEER_TUNNEL_COUNT_MAX 64u
#define KUMO_PROVIDER_PEER_CERT_COUNT_MAX   64u

/* Where a peer provider ends the tunnels to one of its workloads: the workload, the lease it
 * runs under there (gseq, oseq) and the tunnel server's address. */
typedef struct kumo_provider_peer_tunnel {
    char workload[KUMO_OVERLAY_TUNNEL_TEXT_BYTES];
    uint32_t gseq;
    uint32_t oseq;
    char host[KUMO_OVERLAY_FWD_HOST_BYTES];
    uint16_t port;
    uint32_t certificate_count; /* certificates it says it will present (not used to trust) */
} kumo_provider_peer_tunnel_t;

/* The "tunnels" of a peer provider's GET .../endpoints answer ({"tunnels": [{"workload",
 * "gseq", "oseq", "address": "host:port" ("[v6]:port"), "certificates": [PEM...]}...]}) into
 * out (at most cap), keeping only entries that follow the rules: a workload name of 1..64
 * [a-z0-9._-], gseq 0..2^32-1 and oseq 1..2^32-1, an address whose host is exactly peer_host (the
 * host of its on-chain host_uri) and allowed by kumo_overlay_address_allowed(host, allow), a port
 * 1..65535, at most KUMO_PROVIDER_PEER_CERT_COUNT_MAX certificates, each a string of at most
 * KUMO_TLS_PEM_BYTES_MAX bytes; at most KUMO_PROVIDER_PEER_TUNNEL_COUNT_MAX entries are
 * looked at. An answer without "tunnels" (an older peer) has none. 0 when every entry was
 * kept, 1 when some were dropped, KUMO_EDECODE when the answer is not a JSON object,
 * KUMO_ELIMIT past KUMO_PROVIDER_PEER_ANSWER_BYTES_MAX. */
KUMO_MUST_USE int kumo_provider_peer_tunnels_parse(const uint8_t *body,
                                                   size_t len,
                                                   const char *peer_host,
                                                   const char *allow,
                                                   kumo_provider_peer_tunnel_t *out,
                                                   size_t cap,
                                                   size_t *count,
                                                   kumo_err_ctx_t *err);

#endif
