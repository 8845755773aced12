/*
 * rpc.h - the node's HTTP JSON API (docs/api.md) on the node's libevent loop: queries,
 * tx submission (optionally waiting for commit), Server-Sent Events with filters and resume,
 * Prometheus metrics. Bounded request sizes, connection and SSE client counts; every error is
 * a JSON {"error": {...}} with a KUMO_E* code. Not pure; loop thread only.
 *
 * Details beyond docs/api.md:
 * - POST /txs: a tx the node refuses is 422 with its code (KUMO_EDECODE for bytes that are not
 *   a tx, KUMO_ESIG, KUMO_ECHAINID, KUMO_ESEQUENCE, KUMO_EFEE, KUMO_EEXIST for a duplicate,
 *   KUMO_EUNKNOWNMSG, ...); KUMO_ELIMIT (mempool or account share full) is 503. A tx over
 *   KUMO_TX_BYTES_MAX is 400 KUMO_ELIMIT. wait=commit that times out is 504 KUMO_ENOTFOUND.
 * - Bodies over rpc_body_bytes_max get the JSON 413; past twice that libevent itself answers
 *   413 (plain text) without reading more. Headers are bounded by KUMO_RPC_HEADERS_BYTES_MAX.
 * - Connections are counted from accept (rpc_conn.c): at most rpc_connection_max (lowered to
 *   fit the open-files limit) and rpc_connection_per_addr_max per client address; at the cap
 *   the oldest connection still waiting for its request is closed for the new one, with none
 *   waiting accepting pauses; one refused gets a best-effort 503 KUMO_ELIMIT and is closed. A
 *   whole request must arrive within rpc_request_timeout_ms of accept (or of the previous
 *   answer). A parked request (wait=commit, a stream) whose peer goes away is released at
 *   once.
 * - GET /events: an event's id is "<height>:<tx_index>:<event_index>" (indexes into the
 *   block's results and the tx's events); a block's closing "block" event has the id
 *   "<height>". Last-Event-ID takes either form and resumes right after it (it wins over
 *   from_height). Without either the stream starts after the current head. Replay pauses
 *   while a client has KUMO_RPC_SSE_REPLAY_BYTES_SOFT unsent and resumes as it reads; a
 *   client with more than sse_output_bytes_max unsent, or that takes nothing for
 *   sse_stall_timeout_ms, is dropped (counted in kumo_sse_dropped_total; rpc_sse.c).
 * - GET /metrics also has kumo_rpc_connections, kumo_rpc_connections_refused_total,
 *   kumo_rpc_connections_evicted_total, kumo_rpc_request_timeouts_total,
 *   kumo_rpc_commit_waiters and kumo_sse_dropped_total.
 */
#ifndef KUMO_RPC_RPC_H
#define KUMO_RPC_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "core/core.h"
#include "node/node.h"

typedef struct kumo_rpc kumo_rpc_t;

/* Listens on cfg->rpc_listen ("host:port"; port 0 picks a free port) and serves node.
 * *out is closed with kumo_rpc_close before the node. */
KUMO_MUST_USE int kumo_rpc_open(struct event_base *base,
                                kumo_node_t *node,
                                const kumo_node_cfg_t *cfg,
                                kumo_rpc_t **out,
                                kumo_err_ctx_t *err);
/* The port actually bound (useful with port 0). */
uint16_t kumo_rpc_port(const kumo_rpc_t *rpc);
/* Closes every connection and SSE stream and stops listening. NULL is a no-op. */
void kumo_rpc_close(kumo_rpc_t *rpc);

/* ---- the dashboard (rpc_ui.c; docs/api.md "Dashboard") ---- */

/* One file of the dashboard (src/rpc/ui/), built into the binary by cmake/embed_ui.cmake. */
typedef struct kumo_rpc_ui_file {
    const char *name; /* "index.html", "app.js", ... */
    const uint8_t *data;
    size_t len;
} kumo_rpc_ui_file_t;

/* The generated table (sorted by name) and its length. */
extern const kumo_rpc_ui_file_t kumo_rpc_ui_files[];
extern const size_t kumo_rpc_ui_file_count;

/* The longest Content-Security-Policy kumo_rpc_ui_csp_format writes, NUL included. */
#define KUMO_RPC_UI_CSP_BYTES_MAX 512u

/* The dashboard file a request path names: "/ui/" is index.html, "/ui/NAME" the file NAME
 * (a query string is not part of path). NULL for any other path, a name with a '/' or "..",
 * or a name over 64 bytes. Pure. */
const kumo_rpc_ui_file_t *kumo_rpc_ui_file_find(const char *path);
/* The Content-Type of a dashboard file, by its extension (text/html, text/javascript,
 * text/css, application/json; application/octet-stream otherwise). Pure. */
const char *kumo_rpc_ui_content_type(const char *name);
/* Writes the dashboard's Content-Security-Policy: only its own scripts, styles and
 * connections (plus connect_origin, an "http://host:port" origin the page reads the node's API
 * from, or "" for none). KUMO_EINVAL for an origin with characters a header or a policy may
 * not carry, KUMO_ELIMIT when out_cap is too small. Pure. */
KUMO_MUST_USE int
kumo_rpc_ui_csp_format(const char *connect_origin, char *out, size_t out_cap, kumo_err_ctx_t *err);
/* Answers hreq with a dashboard file and its security headers (CSP as above, nosniff, no
 * framing, no referrer). Loop thread. */
void kumo_rpc_ui_file_send(struct evhttp_request *hreq,
                           const kumo_rpc_ui_file_t *file,
                           const char *connect_origin);

#endif
