/*
 * provider_api.h - the provider's HTTPS API (docs/provider-api.md), served by the provider
 * daemon on its libevent loop with TLS 1.3: the server certificate is issued by the
 * provider's root CA (the one on chain); clients authenticate with a self-signed Ed25519
 * certificate whose key is their account key (tenants). The API checks who the caller is and
 * the request's shape; what the provider knows about leases and workloads comes from the
 * daemon through kumo_provider_api_backend_t, whose blocking callbacks run on the API's worker
 * threads, so the loop never blocks on the node, the runtime or a peer.
 *
 * Connections are counted from accept: at most connection_max, connection_per_addr_max per
 * client address (IPv6 by /64); past a cap the oldest connection of that address (or of all)
 * still waiting for its request is closed for the new one, and the new one is closed when
 * every other is busy. A whole request (head and body) must arrive within request_timeout_ms
 * of the accept or of the previous answer, or the connection is closed. At most job_max
 * requests wait for (or hold) a worker, job_per_addr_max of them from one client address;
 * past either the answer is 503 KUMO_ELIMIT. Requests refused without asking the daemon
 * (no certificate, bad path, a shell not of the owner, no such route) are answered on the
 * loop; a caller that is not the owner on a route a grant may open waits for a worker, which
 * asks the node for its grants (backend grants).
 */
#ifndef KUMO_PROVIDER_PROVIDER_API_H
#define KUMO_PROVIDER_PROVIDER_API_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "core/core.h"
#include "crypto/crypto.h"

/* A manifest sent or served whole (PUT and GET .../manifest: the canonical Manifest bytes in
 * one body, held in memory by the API). Larger manifests, up to KUMO_SDL_MANIFEST_BYTES_MAX,
 * travel only in chunks (PUT and GET .../manifest-chunk), so a request never holds more than
 * a chunk and its proof. */
#define KUMO_PROVIDER_MANIFEST_BYTES_MAX (1024u * 1024u)
#define KUMO_PROVIDER_LOG_TAIL_MAX       10000u

/* A manifest-info answer: a few numbers and a hash. */
#define KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX 1024u

/* What the daemon knows about one deployment of a tenant on this provider. */
typedef struct kumo_provider_deployment_view {
    bool known;     /* the deployment exists on chain (as far as the daemon has seen) */
    bool has_lease; /* this provider holds an active lease in it */
    uint8_t version[KUMO_CRYPTO_HASH_BYTES]; /* its current on-chain manifest version */
} kumo_provider_deployment_view_t;

/* ---- shell sessions (docs/provider-api.md "shell") ---- */
#define KUMO_PROVIDER_SHELL_PROTOCOL "kumo-shell/1"
/* An exec id of the runtime. */
#define KUMO_PROVIDER_SHELL_EXEC_ID_BYTES 80u
/* Defaults of the caps on sessions (kumo_provider_api_cfg_t). */
#define KUMO_PROVIDER_SHELL_SESSION_DEFAULT           32u
#define KUMO_PROVIDER_SHELL_SESSION_PER_OWNER_DEFAULT 4u
#define KUMO_PROVIDER_SHELL_IDLE_MS_DEFAULT           (15u * 60u * 1000u)

struct kumo_provider_shell_request;

/* A process started in a container for a shell session: the runtime's stream (a connected
 * socket: input written to it, output read from it, raw with a tty, else multiplexed) and
 * the output that came with the start's answer. */
typedef struct kumo_provider_shell_stream {
    int fd;
    bool tty;
    char exec_id[KUMO_PROVIDER_SHELL_EXEC_ID_BYTES];
    kumo_buf_t early;
} kumo_provider_shell_stream_t;

/* ---- log lines (docs/provider-api.md "logs") ----
 * GET .../logs?stamped=1 answers lines "<workload>/<instance> <unix ns> <text>\n". */
typedef struct kumo_provider_log_line {
    char workload[KUMO_NAME_BYTES_MAX + 1];
    uint32_t instance;
    uint64_t time_ns;
    kumo_bytes_t text; /* borrowed from the input, without the line end */
} kumo_provider_log_line_t;

/* One such line (with or without its '\n'). KUMO_EDECODE for anything else. */
KUMO_MUST_USE int
kumo_provider_log_line_parse(kumo_bytes_t line, kumo_provider_log_line_t *out, kumo_err_ctx_t *err);

/* ---- runtime events (docs/provider-api.md "events") ----
 * GET .../events answers lines "<unix ns> <kind> <workload>/<instance> <detail>\n" (workload
 * "-" for the deployment as a whole). */
#define KUMO_PROVIDER_EVENT_KIND_BYTES_MAX 32u
#define KUMO_PROVIDER_EVENTS_BYTES_MAX     (512u * 1024u)

typedef struct kumo_provider_event_line {
    uint64_t time_ns;
    char kind[KUMO_PROVIDER_EVENT_KIND_BYTES_MAX + 1]; /* [a-z_]+ */
    char workload[KUMO_NAME_BYTES_MAX + 1];            /* a manifest name, or "-" */
    uint32_t instance;
    kumo_bytes_t detail; /* borrowed from the input, without the line end */
} kumo_provider_event_line_t;

/* One such line (with or without its '\n'). KUMO_EDECODE for anything else. */
KUMO_MUST_USE int kumo_provider_event_line_parse(kumo_bytes_t line,
                                                 kumo_provider_event_line_t *out,
                                                 kumo_err_ctx_t *err);

/* What a chunk upload stored (PUT .../manifest-chunk). */
typedef struct kumo_provider_chunk_put {
    uint32_t chunks_held; /* of the version's chunks, held and verified here now */
    uint32_t chunk_count;
    bool accepted; /* that chunk was the last: the manifest was checked and stored */
} kumo_provider_chunk_put_t;

/* What a provider holds of a deployment's manifest (GET .../manifest-info). */
typedef struct kumo_provider_chunk_info {
    uint8_t version[KUMO_CRYPTO_HASH_BYTES]; /* the current on-chain version */
    uint64_t total_bytes;                    /* the manifest's length (a hint: the root decides) */
    uint32_t chunk_count;                    /* 256 KiB chunks of total_bytes */
    uint32_t chunks_held;                    /* of them held and verified here */
    bool manifest;                           /* the whole manifest is stored here */
} kumo_provider_chunk_info_t;

/* The manifest-info answer as JSON text (new reference; NULL without memory). */
json_t *kumo_provider_chunk_info_json(const kumo_provider_chunk_info_t *info);
/* Parses a manifest-info answer (at most KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX): KUMO_ELIMIT
 * over it, KUMO_EDECODE for a malformed answer or fields out of range (chunk_count must be
 * the count of total_bytes, chunks_held at most chunk_count). Nothing is trusted but the
 * shape: the version must still be compared with the chain's. */
KUMO_MUST_USE int kumo_provider_chunk_info_parse(kumo_bytes_t body,
                                                 kumo_provider_chunk_info_t *out,
                                                 kumo_err_ctx_t *err);
/* Splits a manifest-chunk answer for chunk index of count into its proof and chunk:
 * KUMO_EDECODE when it is shorter than the proof or longer than a proof and a chunk. The
 * parts still have to pass kumo_crypto_merkle_proof_verify. */
KUMO_MUST_USE int kumo_provider_chunk_reply_split(kumo_bytes_t body,
                                                  uint32_t index,
                                                  uint32_t count,
                                                  kumo_bytes_t *proof_out,
                                                  kumo_bytes_t *chunk_out,
                                                  kumo_err_ctx_t *err);

/* ---- grantees (docs/provider-api.md "Grantees") ----
 * A caller that is not the deployment's owner is served when the chain holds a grant from the
 * owner to it that covers the deployment. The daemon asks the node for the grants that could
 * (the one for the deployment's dseq and the one for all of the owner's deployments) and the
 * node's height; the API decides (pd_api_grantee_allows). */
#define KUMO_PROVIDER_GRANT_COUNT_MAX 2u

/* What the API needs of one grant (a Kumo__Grant on chain). */
typedef struct kumo_provider_grant {
    uint8_t granter[KUMO_ADDRESS_BYTES];
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    uint64_t dseq; /* 0: every deployment of the granter */
    uint64_t expiry_height;
    uint32_t msg_types[KUMO_GRANT_MSG_TYPE_COUNT_MAX]; /* Msg field numbers */
    uint32_t msg_type_count;
} kumo_provider_grant_t;

typedef struct kumo_provider_grants {
    uint64_t height; /* the node's height when they were read */
    kumo_provider_grant_t grants[KUMO_PROVIDER_GRANT_COUNT_MAX];
    uint32_t count;
} kumo_provider_grants_t;

typedef struct kumo_provider_api_backend {
    void *ctx;
    /* The daemon's view of deployment (owner, dseq). Fills view (known=false if unknown). */
    int (*deployment_view)(void *ctx,
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           kumo_provider_deployment_view_t *view,
                           kumo_err_ctx_t *err);
    /* A manifest whose root equals view.version from the owner: check it against the
     * deployment's leases, store it (durably) and start running its workloads for this
     * provider's leases. Called only after every check of the API. A manifest that breaks the
     * lease fails with the rule's code (answered 422); KUMO_EIO or KUMO_ENOMEM is answered
     * 500. */
    int (*manifest_accept)(void *ctx,
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           kumo_bytes_t manifest,
                           kumo_err_ctx_t *err);
    /* Status of the deployment here as JSON (docs/provider-api.md: leases, workloads with
     * instances and states, endpoints). *out is a new reference. */
    int (*status)(void *ctx,
                  const uint8_t owner[KUMO_ADDRESS_BYTES],
                  uint64_t dseq,
                  json_t **out,
                  kumo_err_ctx_t *err);
    /* The last tail lines of a workload's logs (all instances), appended to out. */
    int (*logs)(void *ctx,
                const uint8_t owner[KUMO_ADDRESS_BYTES],
                uint64_t dseq,
                const char *workload,
                uint32_t tail,
                kumo_buf_t *out,
                kumo_err_ctx_t *err);
    /* GET .../logs?stamped=1: the log lines of the deployment's instances here (of workload,
     * or of all when it is ""), written at or after since_ns; of each instance the last tail
     * (0: no cut), then at most the first limit (0: no cut); each instance's in order and
     * continued across its replaced containers; appended to out as kumo_provider_log_line_t
     * lines. May be NULL: 501. */
    int (*log_lines)(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     const char *workload,
                     uint64_t since_ns,
                     uint32_t tail,
                     uint32_t limit,
                     kumo_buf_t *out,
                     kumo_err_ctx_t *err);
    /* GET .../events: the journal of the deployment's containers here (started, restarted,
     * exited, oom_killed, image_missing, start_failed, removed, manifest_refused, usage) from
     * since_ns on, as kumo_provider_event_line_t lines appended to out (at most
     * KUMO_PROVIDER_EVENTS_BYTES_MAX). May be NULL: 501. */
    int (*events)(void *ctx,
                  const uint8_t owner[KUMO_ADDRESS_BYTES],
                  uint64_t dseq,
                  uint64_t since_ns,
                  kumo_buf_t *out,
                  kumo_err_ctx_t *err);
    /* Public provider info for GET /status (address, region, leases): new reference. Runs on
     * the loop thread with ctx: must not block. */
    int (*info)(void *ctx, json_t **out, kumo_err_ctx_t *err);
    /* What the providers of one deployment share (peer-to-peer delivery; the owner may read
     * it too), appended to out:
     *   "manifest"   GET .../manifest: the stored manifest bytes, so a provider that won a
     *                re-ordered group fetches it from the others;
     *   "endpoints"  GET .../endpoints: JSON {"endpoints": [...]} of the ports this provider
     *                publishes for workloads of other groups, so providers wire the
     *                deployment's cross-provider connections without the tenant.
     * The caller is the owner or a provider holding an active lease in the deployment. Any
     * refusal is KUMO_ENOTFOUND (answered 404 like a missing manifest, so nothing leaks).
     * May be NULL: both routes then answer 404. */
    int (*peer_get)(void *ctx,
                    const uint8_t caller[KUMO_ADDRESS_BYTES],
                    const uint8_t owner[KUMO_ADDRESS_BYTES],
                    uint64_t dseq,
                    const char *what,
                    kumo_buf_t *out,
                    kumo_err_ctx_t *err);
    /* GET .../manifest-info: what this provider holds of the deployment's manifest at its
     * current on-chain version (its chunk store, made from the whole manifest if needed).
     * GET .../manifest-chunk: chunk index of version with its proof (the proof hashes, then
     * the chunk's bytes) appended to out; only for the current on-chain version and a chunk
     * held and verified here. The caller is the owner or a provider holding an active lease
     * in the deployment, and this provider holds one too. Any refusal is KUMO_ENOTFOUND
     * (answered 404 like a missing manifest, so nothing leaks); KUMO_EIO when the node does
     * not answer. May be NULL: both routes then answer 404. */
    int (*chunk_info)(void *ctx,
                      const uint8_t caller[KUMO_ADDRESS_BYTES],
                      const uint8_t owner[KUMO_ADDRESS_BYTES],
                      uint64_t dseq,
                      kumo_provider_chunk_info_t *out,
                      kumo_err_ctx_t *err);
    int (*chunk_get)(void *ctx,
                     const uint8_t caller[KUMO_ADDRESS_BYTES],
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                     uint32_t index,
                     kumo_buf_t *out,
                     kumo_err_ctx_t *err);
    /* PUT .../shell from the owner, after the checks of the route (the request well-formed,
     * the deployment known with a lease here): start rq's command (rq->argv, or /bin/sh) in
     * the running container of instance rq->instance of workload rq->workload of this
     * deployment here, and hand back its stream (*out; the caller owns fd and early).
     * KUMO_ENOTFOUND (404) when no such instance runs here. May be NULL: 501. */
    int (*shell_open)(void *ctx,
                      const uint8_t owner[KUMO_ADDRESS_BYTES],
                      uint64_t dseq,
                      const struct kumo_provider_shell_request *rq,
                      kumo_provider_shell_stream_t *out,
                      kumo_err_ctx_t *err);
    /* A session's window changed (tty only). Runs on the loop thread with ctx: must answer
     * in milliseconds (the local runtime). */
    int (*shell_resize)(
        void *ctx, const char *exec_id, uint16_t rows, uint16_t cols, kumo_err_ctx_t *err);
    /* Whether a session's process still runs, and its exit code once it ended. Loop thread,
     * ctx, like shell_resize. */
    int (*shell_exit)(
        void *ctx, const char *exec_id, bool *running, int *exit_code, kumo_err_ctx_t *err);
    /* Optional: the ctx every callback but info gets on API worker i (0..worker_count-1), so
     * each worker has its own handles (node, runtime); called once per worker at open. NULL:
     * they get ctx, from several worker threads at once. */
    void *(*worker_ctx)(void *ctx, uint32_t worker_index);
    /* PUT .../manifest-chunk from the owner, after the checks of the route (total_bytes
     * within KUMO_SDL_MANIFEST_BYTES_MAX, the body split into proof and chunk for index of
     * total_bytes' chunks, the deployment known with a lease here and version its on-chain
     * version): store the chunk only if its proof leads to version (the proof's codes,
     * answered 422, nothing stored); once every chunk is held, assemble them, check the
     * root (KUMO_EMISMATCH, 409: the store is dropped) and accept the whole as
     * manifest_accept does (its codes). out says what is held. May be NULL: 501. */
    int (*chunk_put)(void *ctx,
                     const uint8_t owner[KUMO_ADDRESS_BYTES],
                     uint64_t dseq,
                     const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                     uint64_t total_bytes,
                     uint32_t index,
                     kumo_bytes_t proof,
                     kumo_bytes_t chunk,
                     kumo_provider_chunk_put_t *out,
                     kumo_err_ctx_t *err);
    /* For a caller that is not owner, on a route a grant may open (status, logs, events,
     * manifest upload): the grants from owner to grantee for dseq and for all deployments,
     * as the node holds them at out->height (its head; read again at the next height at the
     * latest). KUMO_EIO when the node cannot be asked: the API answers 503 and serves
     * nothing. May be NULL: only owners are served. */
    int (*grants)(void *ctx,
                  const uint8_t owner[KUMO_ADDRESS_BYTES],
                  const uint8_t grantee[KUMO_ADDRESS_BYTES],
                  uint64_t dseq,
                  kumo_provider_grants_t *out,
                  kumo_err_ctx_t *err);
    /* PUT .../manifest-have?version=<hex> from a provider of the deployment: it holds the
     * manifest at version, the current on-chain one. A hint only (what is fetched is checked
     * as always): if this provider holds a lease and not that version, it fetches it at once
     * (asking the caller first). The caller is the owner or a provider holding an active
     * lease in the deployment, this provider holds one too, and version is the current one;
     * any refusal is KUMO_ENOTFOUND (answered 404 like a missing manifest). May be NULL:
     * 404. */
    int (*manifest_have)(void *ctx,
                         const uint8_t caller[KUMO_ADDRESS_BYTES],
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                         kumo_err_ctx_t *err);
} kumo_provider_api_backend_t;

typedef struct kumo_provider_api_cfg {
    const char *listen;           /* "host:port"; port 0 picks one */
    kumo_bytes_t server_cert_pem; /* issued by the provider root (chain: leaf then root) */
    const kumo_crypto_keypair_t *server_key;
    uint32_t connection_max;              /* 0: 128 */
    uint32_t connection_per_addr_max;     /* 0: 16 */
    uint32_t request_timeout_ms;          /* 0: 10000 */
    uint32_t worker_count;                /* 0: 2 (at most KUMO_PROVIDER_API_WORKER_MAX) */
    uint32_t job_max;                     /* requests waiting for a worker; 0: 64 */
    uint32_t job_per_addr_max;            /* of them from one client address; 0: 8 */
    uint32_t shell_session_max;           /* open shell sessions; 0: 32 */
    uint32_t shell_session_per_owner_max; /* of them of one tenant; 0: 4 */
    uint32_t shell_idle_ms;               /* a session with no byte either way; 0: 15 min */
} kumo_provider_api_cfg_t;

#define KUMO_PROVIDER_API_WORKER_MAX 16u

/* ---- shell frames ----
 * PUT /deployments/<owner>/<dseq>/shell with "Connection: Upgrade", "Upgrade: kumo-shell/1"
 * and a JSON body (kumo_provider_shell_request_parse) is answered "101 Switching Protocols";
 * the TLS connection then carries frames both ways: a 5-byte header (type u8, payload length
 * u32 big-endian) and the payload. */
/* A frame's payload: one read of a terminal or a pipe fits; bounds what a peer makes us
 * buffer before a frame is whole. */
#define KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX 16384u
#define KUMO_PROVIDER_SHELL_HEADER_BYTES    5u
/* An ERROR frame's text. */
#define KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX 1024u
/* Terminal rows and columns: 1..this (a 4K screen of 1-pixel glyphs fits). */
#define KUMO_PROVIDER_SHELL_WINDOW_MAX 4096u
/* The request body, its command's arguments and their bytes. */
#define KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX 16384u
#define KUMO_PROVIDER_SHELL_ARG_COUNT_MAX     64u
_Static_assert(KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX <= KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX,
               "an error frame is a frame");

typedef enum kumo_provider_shell_type {
    KUMO_PROVIDER_SHELL_STDIN = 1,  /* client to provider: bytes for the process, 1..MAX */
    KUMO_PROVIDER_SHELL_STDOUT = 2, /* provider to client: 1..MAX bytes */
    KUMO_PROVIDER_SHELL_STDERR = 3, /* provider to client (no tty only): 1..MAX bytes */
    KUMO_PROVIDER_SHELL_RESIZE = 4, /* client to provider: rows u16, cols u16 (big-endian) */
    KUMO_PROVIDER_SHELL_EOF = 5,    /* client to provider: end of input, empty */
    KUMO_PROVIDER_SHELL_EXIT = 6,   /* provider to client: exit code u32 0..255, then close */
    KUMO_PROVIDER_SHELL_ERROR = 7,  /* provider to client: why the session ends, 1..1024 text */
} kumo_provider_shell_type_t;

typedef struct kumo_provider_shell_frame {
    kumo_provider_shell_type_t type;
    kumo_bytes_t payload; /* borrowed from the input */
    uint16_t rows, cols;  /* RESIZE */
    uint32_t exit_code;   /* EXIT */
} kumo_provider_shell_frame_t;

/* The first frame of in, as sent by the client (from_client) or by the provider. 0 with
 * *consumed 0 when in holds no whole frame yet (read more); 0 with *consumed > 0 and out
 * filled (its payload points into in); KUMO_ELIMIT for a payload past
 * KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX (known from the header alone), KUMO_EDECODE for an
 * unknown type, a type of the other direction or a payload of the wrong size or value. */
KUMO_MUST_USE int kumo_provider_shell_frame_parse(kumo_bytes_t in,
                                                  bool from_client,
                                                  kumo_provider_shell_frame_t *out,
                                                  size_t *consumed,
                                                  kumo_err_ctx_t *err);
/* The header of a frame of type with a payload of len bytes (len <= the frame maximum). */
void kumo_provider_shell_header_put(kumo_provider_shell_type_t type,
                                    uint32_t len,
                                    uint8_t out[KUMO_PROVIDER_SHELL_HEADER_BYTES]);

/* What a shell request asks for. */
typedef struct kumo_provider_shell_request {
    char workload[KUMO_NAME_BYTES_MAX + 1];
    uint32_t instance;
    bool tty;
    uint16_t rows, cols;                                     /* tty only, else 0 */
    const char *argv[KUMO_PROVIDER_SHELL_ARG_COUNT_MAX + 1]; /* into arg_bytes, NULL-ended */
    uint32_t argc;                                           /* 0: the image's /bin/sh */
    char arg_bytes[KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX];
} kumo_provider_shell_request_t;

/* The body {"workload": NAME, "instance": N, "tty": BOOL, "rows": R, "cols": C, "cmd":
 * [ARG...]}: workload required (a manifest name), instance default 0, tty default false,
 * rows and cols 1..KUMO_PROVIDER_SHELL_WINDOW_MAX required with tty and absent without, cmd
 * at most KUMO_PROVIDER_SHELL_ARG_COUNT_MAX non-empty strings without NUL; no other key.
 * KUMO_ELIMIT past KUMO_PROVIDER_SHELL_REQUEST_BYTES_MAX or the argument count,
 * KUMO_EDECODE for anything else malformed. */
KUMO_MUST_USE int kumo_provider_shell_request_parse(kumo_bytes_t body,
                                                    kumo_provider_shell_request_t *out,
                                                    kumo_err_ctx_t *err);

typedef struct kumo_provider_api kumo_provider_api_t;

KUMO_MUST_USE int kumo_provider_api_open(const kumo_provider_api_cfg_t *cfg,
                                         struct event_base *base,
                                         const kumo_provider_api_backend_t *backend,
                                         kumo_provider_api_t **out,
                                         kumo_err_ctx_t *err);
void kumo_provider_api_close(kumo_provider_api_t *api);
/* The bound "host:port" (after port 0 was resolved). */
const char *kumo_provider_api_listen_addr(const kumo_provider_api_t *api);

/* Counters (loop thread): connections open now, closed past a cap, closed by the request
 * deadline. */
typedef struct kumo_provider_api_stats {
    uint32_t connections;
    uint64_t connections_refused;
    uint64_t request_timeouts;
    uint64_t jobs_refused;
    uint32_t shell_sessions; /* open now */
    uint64_t shell_refused;  /* past a session cap */
    uint64_t shell_idle_closed;
} kumo_provider_api_stats_t;
void kumo_provider_api_stats(const kumo_provider_api_t *api, kumo_provider_api_stats_t *out);

#endif
