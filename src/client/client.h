/*
 * client.h - the one client of the node's HTTP JSON API (docs/api.md): a handle for one node
 * (base URL, timeouts, a bound on every answer), GET and POST of JSON with the node's error
 * answers mapped to their KUMO_E* code, paginated lists, strict decoders of the answers
 * callers act on (status, tx answers, and any state object through the codec's JSON rules),
 * tx broadcast (optionally waiting for inclusion), and the event stream (Server-Sent Events)
 * resumed after a reconnect from the last event id seen. The CLI, `kumo deploy`, the provider
 * daemon and any small program that manages deployments link this module and nothing else to
 * talk to a node.
 *
 * Errors tell the three failures apart: the node could not be reached (KUMO_EIO, the detail
 * says "cannot reach the node at URL"), the node answered an error (its own KUMO_E* code and
 * detail; an error without a JSON body is KUMO_ENOTFOUND for 404, else KUMO_EIO naming the
 * HTTP status), and the node answered something that is not what the route promises
 * (KUMO_EDECODE, or KUMO_ELIMIT for an answer over the handle's bound).
 *
 * Threads: a handle (and a stream) is used by one thread at a time; each thread that talks to
 * the node makes its own handle. Every call blocks (libcurl easy or multi on the caller's
 * thread): never call one on an event loop. kumo_client_stream_wakeup may be called from any
 * thread.
 */
#ifndef KUMO_CLIENT_CLIENT_H
#define KUMO_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "core/core.h"

/* ---- limits ---- */

/* The largest answer a node gives: a page of 1000 objects with their attributes, or a block
 * with many results. Anything larger is a broken or hostile node. */
#define KUMO_CLIENT_ANSWER_BYTES_MAX (32u * 1024u * 1024u)
/* A node URL ("http://10.77.1.2:26657"). */
#define KUMO_CLIENT_URL_BYTES_MAX 256u
/* A path with its query ("/leases?owner=kumo1...&state=LEASE_ACTIVE&limit=100&page=..."). */
#define KUMO_CLIENT_PATH_BYTES_MAX 1024u
/* One SSE line: an Event as one-line JSON is well under 4 KiB; 64 KiB bounds a hostile
 * stream's memory. */
#define KUMO_CLIENT_SSE_LINE_BYTES_MAX (64u * 1024u)
/* One SSE message's data (several data lines joined by '\n'). */
#define KUMO_CLIENT_SSE_DATA_BYTES_MAX (256u * 1024u)
/* An event name ("lease.created") and an event id ("<height>:<tx>:<event>"). */
#define KUMO_CLIENT_SSE_EVENT_BYTES_MAX 127u
#define KUMO_CLIENT_SSE_ID_BYTES_MAX    63u
/* Events parsed but not yet taken: callers drain the queue as they go; a stream that
 * outruns its reader this far is dropped. */
#define KUMO_CLIENT_STREAM_QUEUE_MAX 100000u
/* Reconnects of a stream in a row that brought no byte before next() gives up (KUMO_EIO);
 * the n-th waits n seconds, so a node gets 15 s to come back (a restart takes a few). */
#define KUMO_CLIENT_STREAM_RESUME_MAX 5u
/* Pages one kumo_client_list_each walks when the caller gives no bound. */
#define KUMO_CLIENT_LIST_PAGE_MAX 1000u
/* Items asked per page (the node allows 1..1000). */
#define KUMO_CLIENT_LIST_LIMIT 100u
/* How long POST /txs?wait=commit may wait (the node's own maximum). */
#define KUMO_CLIENT_TX_WAIT_MS_MAX 60000u

/* ---- the handle ---- */

typedef struct kumo_client kumo_client_t;

typedef struct kumo_client_opts {
    /* 0 picks the default: 5 s to connect (a local or LAN node answers in milliseconds), 30 s
     * for a whole request (a query answers in well under a second). */
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms;
    /* 0: KUMO_CLIENT_ANSWER_BYTES_MAX. */
    size_t answer_bytes_max;
} kumo_client_opts_t;

/* A handle for the node at url ("http://host:port" or https; trailing slashes dropped). opts
 * may be NULL. KUMO_EINVAL for a URL that is not http(s) or over KUMO_CLIENT_URL_BYTES_MAX;
 * KUMO_ENOMEM. Reaches nothing yet. */
KUMO_MUST_USE int kumo_client_open(const char *url,
                                   const kumo_client_opts_t *opts,
                                   kumo_client_t **out,
                                   kumo_err_ctx_t *err);
/* NULL is a no-op. */
void kumo_client_close(kumo_client_t *c);
/* The node URL as given (without trailing slashes); lives as long as c. */
const char *kumo_client_url(const kumo_client_t *c);

/* GET path ("/status"; a query may follow): the 2xx answer as JSON in *out (the caller
 * decrefs). Errors as the file comment says. */
KUMO_MUST_USE int
kumo_client_get(kumo_client_t *c, const char *path, json_t **out, kumo_err_ctx_t *err);
/* POST body as JSON to path; out may be NULL (the answer is checked, then dropped). */
KUMO_MUST_USE int kumo_client_post(
    kumo_client_t *c, const char *path, const json_t *body, json_t **out, kumo_err_ctx_t *err);

/* Called for every item of a list page, and after every page when not NULL. An error stops
 * the walk and is returned. */
typedef int (*kumo_client_item_cb)(void *ctx, const json_t *item, kumo_err_ctx_t *err);
typedef int (*kumo_client_page_cb)(void *ctx, kumo_err_ctx_t *err);

/* Walks a paginated list: query is "/route" or "/route?filters" (limit and page are added),
 * at most page_max pages (0: KUMO_CLIENT_LIST_PAGE_MAX). *more (may be NULL) says the list
 * went on past page_max. KUMO_EDECODE for a page without "items" or a bad "next". */
KUMO_MUST_USE int kumo_client_list_each(kumo_client_t *c,
                                        const char *query,
                                        uint32_t page_max,
                                        kumo_client_item_cb item,
                                        kumo_client_page_cb page_done,
                                        void *ctx,
                                        bool *more,
                                        kumo_err_ctx_t *err);

/* Appends "?key=value" (or "&key=value") to the NUL-terminated path in a buffer of cap
 * bytes, value percent-encoded; value NULL appends nothing. KUMO_ELIMIT when it does not fit
 * (path is then unchanged). */
KUMO_MUST_USE int kumo_client_path_param_add(
    char *path, size_t cap, const char *key, const char *value, kumo_err_ctx_t *err);

/* ---- strict decoding (pure: no I/O; fuzzed by fuzz_client_decode) ---- */

/* An HTTP answer (status, body) into *out: a 2xx body must be a JSON object or array
 * (KUMO_EDECODE); an error answer becomes the node's {"error": {"code", "detail"}} code and
 * detail, else KUMO_ENOTFOUND (404) or KUMO_EIO naming the status. url names the node in
 * details. */
KUMO_MUST_USE int kumo_client_answer_decode(
    const char *url, long status, kumo_bytes_t body, json_t **out, kumo_err_ctx_t *err);

/* obj[key] as a uint64: a decimal string without sign, spaces or leading zeros, or a
 * non-negative JSON integer. KUMO_EDECODE naming key otherwise (and when absent). */
KUMO_MUST_USE int
kumo_client_json_u64(const json_t *obj, const char *key, uint64_t *out, kumo_err_ctx_t *err);
/* obj[key] as a string of at most len_max bytes, borrowed from obj. KUMO_EDECODE naming key
 * when absent or not a string, KUMO_ELIMIT when longer. */
KUMO_MUST_USE int kumo_client_json_text(
    const json_t *obj, const char *key, size_t len_max, const char **out, kumo_err_ctx_t *err);

/* GET /status, the fields callers act on. */
typedef struct kumo_client_status {
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint64_t height;
} kumo_client_status_t;

KUMO_MUST_USE int
kumo_client_status_decode(const json_t *j, kumo_client_status_t *out, kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_client_status_get(kumo_client_t *c, kumo_client_status_t *out, kumo_err_ctx_t *err);

/* A state object rendered by the node (kumo_codec_json_from_message) back into its message:
 * unknown keys, wrong types and bad numbers are KUMO_EDECODE with the field path. Keys the
 * node computes beside the stored object (a deployment's "escrow_cover", a provider offer's
 * "height") are left out before decoding. *out is freed with kumo_codec_free. */
KUMO_MUST_USE int kumo_client_object_decode(const ProtobufCMessageDescriptor *desc,
                                            const json_t *j,
                                            ProtobufCMessage **out,
                                            kumo_err_ctx_t *err);
/* GET path and decode the answer as desc (GET /accounts/{addr} as Kumo__Account, GET
 * /leases/... items as Kumo__Lease, GET /params as Kumo__Params, ...). */
KUMO_MUST_USE int kumo_client_object_get(kumo_client_t *c,
                                         const char *path,
                                         const ProtobufCMessageDescriptor *desc,
                                         ProtobufCMessage **out,
                                         kumo_err_ctx_t *err);

/* ---- txs ---- */

/* The answer to POST /txs: pending (wait 0), or committed with its result. */
typedef struct kumo_client_tx_answer {
    char hash_hex[65];
    bool committed;
    uint64_t height; /* committed only */
    int code;        /* committed only: 0, or the KUMO_E* the tx failed with */
    char log[KUMO_ERR_DETAIL_BYTES];
} kumo_client_tx_answer_t;

KUMO_MUST_USE int
kumo_client_tx_answer_decode(const json_t *j, kumo_client_tx_answer_t *out, kumo_err_ctx_t *err);
/* POST /txs with the signed tx bytes; wait_ms > 0 waits (at most KUMO_CLIENT_TX_WAIT_MS_MAX)
 * for the commit (POST /txs?wait=commit&timeout_ms=wait_ms). ans and json (the whole answer,
 * with events; the caller decrefs) may be NULL. A tx the mempool refused is its code (e.g.
 * KUMO_ESEQUENCE) with the node's detail; a committed tx that failed is success here, with
 * ans->code set. */
KUMO_MUST_USE int kumo_client_tx_broadcast(kumo_client_t *c,
                                           kumo_bytes_t tx,
                                           uint32_t wait_ms,
                                           kumo_client_tx_answer_t *ans,
                                           json_t **json,
                                           kumo_err_ctx_t *err);

/* ---- Server-Sent Events parser (pure; fuzzed by fuzz_client_sse) ---- */

/* Called for every complete message: event is "message" when the stream named none; id is
 * the last id the stream set ("" if none, as the SSE spec's last event id). */
typedef int (*kumo_client_sse_cb)(void *ctx,
                                  const char *event,
                                  const char *id,
                                  const char *data,
                                  size_t data_len,
                                  kumo_err_ctx_t *err);

typedef struct kumo_client_sse {
    char line[KUMO_CLIENT_SSE_LINE_BYTES_MAX];
    size_t line_len;
    bool last_was_cr; /* a "\r\n" is one line end */
    char event[KUMO_CLIENT_SSE_EVENT_BYTES_MAX + 1];
    char id[KUMO_CLIENT_SSE_ID_BYTES_MAX + 1];
    kumo_buf_t data;
    bool has_data;
    kumo_client_sse_cb cb;
    void *ctx;
} kumo_client_sse_t;

/* Lines end in "\n", "\r\n" or "\r"; "field: value" (one optional space); an empty line ends
 * a message; ':' starts a comment; "id" is kept for the messages after it; "retry" and
 * unknown fields are ignored. The struct is large (its line buffer): allocate it. */
void kumo_client_sse_init(kumo_client_sse_t *p, kumo_client_sse_cb cb, void *ctx);
/* Feeds bytes of the stream. KUMO_ELIMIT for a line, event name, id or message data past its
 * limit, or the callback's error; the parser is unusable after an error. */
KUMO_MUST_USE int
kumo_client_sse_feed(kumo_client_sse_t *p, const char *bytes, size_t len, kumo_err_ctx_t *err);
void kumo_client_sse_free(kumo_client_sse_t *p);

/* ---- the event stream ---- */

/* One event: type ("lease.created", or "block" for the node's per-block marker), the height
 * of its block, and its data (the Event JSON, or {"height"} for a block; owned). */
typedef struct kumo_client_event {
    char type[KUMO_CLIENT_SSE_EVENT_BYTES_MAX + 1];
    char id[KUMO_CLIENT_SSE_ID_BYTES_MAX + 1];
    uint64_t height;
    json_t *data;
} kumo_client_event_t;

/* Releases ev->data; ev is then empty. */
void kumo_client_event_clear(kumo_client_event_t *ev);
/* The block height of an event id ("H" or "H:t:e"); KUMO_EDECODE for anything else. */
KUMO_MUST_USE int kumo_client_event_id_height(const char *id, uint64_t *out, kumo_err_ctx_t *err);

typedef struct kumo_client_stream kumo_client_stream_t;

/* GET /events?<filters>&from_height=H on c's node (filters: "types=...&owner=..." already
 * encoded, or NULL; from_height 0: from the head). The stream borrows c's URL and timeouts,
 * not its connection (c stays usable for queries meanwhile). Connects in the background. */
KUMO_MUST_USE int kumo_client_stream_open(kumo_client_t *c,
                                          const char *filters,
                                          uint64_t from_height,
                                          kumo_client_stream_t **out,
                                          kumo_err_ctx_t *err);
/* The next event, waiting at most wait_ms (0: only what is there); ev->data is NULL when none
 * came in time or a kumo_client_stream_wakeup cut the wait. When the node ends the stream, it
 * reconnects sending Last-Event-ID (the last id seen, else the first from_height), so nothing
 * is lost or repeated; KUMO_EIO after KUMO_CLIENT_STREAM_RESUME_MAX reconnects in a row that
 * brought nothing (the waits between them count against wait_ms), or an HTTP error answer;
 * KUMO_ELIMIT/KUMO_EDECODE for a stream that breaks the parser's limits or sends data that is not
 * JSON (the stream is then done). */
KUMO_MUST_USE int kumo_client_stream_next(kumo_client_stream_t *s,
                                          uint32_t wait_ms,
                                          kumo_client_event_t *ev,
                                          kumo_err_ctx_t *err);
/* Cuts a wait of kumo_client_stream_next short; safe from any thread while s is open. */
void kumo_client_stream_wakeup(kumo_client_stream_t *s);
/* The height of the last block event taken (0 before any). */
uint64_t kumo_client_stream_height(const kumo_client_stream_t *s);
/* Reconnects made so far (for logs and tests). */
uint32_t kumo_client_stream_resumes(const kumo_client_stream_t *s);
/* NULL is a no-op. */
void kumo_client_stream_close(kumo_client_stream_t *s);

#endif
