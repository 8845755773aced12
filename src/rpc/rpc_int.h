/*
 * rpc_int.h - internals of the HTTP API shared by its files, the unit tests and the fuzz target:
 * the parsed request (route, path arguments, query parameters, body), the SSE event filter and
 * resume position, error and number rendering. Everything declared here is pure (no I/O, no
 * clock) except the kumo_rpc_t server functions at the end.
 */
#ifndef KUMO_RPC_RPC_INT_H
#define KUMO_RPC_RPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chain/chain.h"
#include "codec/codec.h"
#include "core/core.h"

/* Query strings and paths longer than this are refused (400) before any parsing. */
#define KUMO_RPC_URI_BYTES_MAX 4096u
/* Request headers (all of them) a client may send; evhttp answers 431-style errors past it. */
#define KUMO_RPC_HEADERS_BYTES_MAX (16u * 1024u)
/* Query parameters one request may carry. */
#define KUMO_RPC_PARAM_COUNT_MAX 8u
/* SSE type patterns in one `types` parameter, and the length of one. */
#define KUMO_RPC_TYPE_COUNT_MAX 32u
#define KUMO_RPC_TYPE_BYTES_MAX 64u
/* Default and largest limit of a list page (the market's page bound). */
#define KUMO_RPC_LIMIT_DEFAULT 100u
/* wait=commit timeouts. */
#define KUMO_RPC_WAIT_TIMEOUT_MS_DEFAULT 10000u
#define KUMO_RPC_WAIT_TIMEOUT_MS_MAX     60000u
/* Base64 text of the largest tx: 4 * ceil(KUMO_TX_BYTES_MAX / 3). */
#define KUMO_RPC_TX_BASE64_BYTES_MAX (4u * ((KUMO_TX_BYTES_MAX + 2u) / 3u))
/* The default of sse_output_bytes_max: an SSE client whose unsent output exceeds it is dropped
 * (and the drop counted). */
#define KUMO_RPC_SSE_OUTPUT_BYTES_MAX (4u * 1024u * 1024u)
/* Replay stops queueing blocks for a client past this much unsent output (or a quarter of
 * sse_output_bytes_max, if smaller) and resumes when the client has read it, so a long replay
 * never holds more than this per client. */
#define KUMO_RPC_SSE_REPLAY_BYTES_SOFT (1024u * 1024u)
/* Seconds between `: keepalive` comments. */
#define KUMO_RPC_SSE_KEEPALIVE_S 15u
/* evhttp's own read/write inactivity timeout; a whole request must arrive much sooner
 * (rpc_request_timeout_ms), so in practice this bounds a stalled answer. */
#define KUMO_RPC_IDLE_TIMEOUT_S 30
/* Open files the HTTP API leaves to the rest of the node: stdio, the event loop, LMDB, the WAL,
 * the signer state and its temp file, the home lock, config and key reads, up to
 * KUMO_P2P_PEER_COUNT_MAX (64) peers plus as many handshakes, with room to spare. The
 * connection cap is lowered so that connections alone can never take these. */
#define KUMO_RPC_FD_RESERVE 256u
/* The housekeeping period: request deadlines, stalled streams and a paused accept are
 * checked this often (so a deadline may be overrun by up to this much). */
#define KUMO_RPC_TICK_MS 250u

_Static_assert(KUMO_RPC_LIMIT_DEFAULT <= KUMO_QUERY_PAGE_COUNT_MAX, "default page within max");
_Static_assert(KUMO_RPC_SSE_REPLAY_BYTES_SOFT < KUMO_RPC_SSE_OUTPUT_BYTES_MAX,
               "replay pauses before a client could be dropped");

typedef enum kumo_rpc_method {
    KUMO_RPC_METHOD_GET = 1,
    KUMO_RPC_METHOD_POST,
    KUMO_RPC_METHOD_OTHER,
} kumo_rpc_method_t;

typedef enum kumo_rpc_route {
    KUMO_RPC_ROUTE_NONE = 0,
    KUMO_RPC_ROUTE_STATUS,
    KUMO_RPC_ROUTE_TX_SUBMIT,
    KUMO_RPC_ROUTE_TX_GET,
    KUMO_RPC_ROUTE_BLOCK_GET,
    KUMO_RPC_ROUTE_ACCOUNT_GET,
    KUMO_RPC_ROUTE_PROVIDER_LIST,
    KUMO_RPC_ROUTE_PROVIDER_GET,
    KUMO_RPC_ROUTE_DEPLOYMENT_LIST,
    KUMO_RPC_ROUTE_DEPLOYMENT_GET,
    KUMO_RPC_ROUTE_GROUP_LIST,
    KUMO_RPC_ROUTE_ORDER_LIST,
    KUMO_RPC_ROUTE_FULFILLMENT_LIST,
    KUMO_RPC_ROUTE_LEASE_LIST,
    KUMO_RPC_ROUTE_PARAMS,
    KUMO_RPC_ROUTE_VALIDATOR_LIST,
    KUMO_RPC_ROUTE_STAKING_VALIDATOR_LIST, /* /staking/validators */
    KUMO_RPC_ROUTE_STAKING_GET,            /* /staking/{validators|delegations|unbondings}/ADDR */
    KUMO_RPC_ROUTE_EVENTS,
    KUMO_RPC_ROUTE_METRICS,
    KUMO_RPC_ROUTE_AUDIT_LIST, /* /audits?provider= */
    KUMO_RPC_ROUTE_GRANT_LIST, /* /grants?granter=&grantee= */
} kumo_rpc_route_t;

/* SSE filter: an event passes when its type matches one pattern (exact, or a prefix when the
 * pattern ends in '.'; no patterns = every type) and its owner/provider equal the filter's when
 * those are set. */
typedef struct kumo_rpc_filter {
    char types[KUMO_RPC_TYPE_COUNT_MAX][KUMO_RPC_TYPE_BYTES_MAX + 1];
    uint32_t type_count;
    bool has_owner;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    bool has_provider;
    uint8_t provider[KUMO_ADDRESS_BYTES];
} kumo_rpc_filter_t;

/* A position in the event stream: everything at or before it has been seen. An event's
 * position is (height, tx_index, event_index); a block's closing "block" event is
 * (height, UINT32_MAX, UINT32_MAX), written as the id "<height>". */
typedef struct kumo_rpc_pos {
    uint64_t height;
    uint32_t tx_index;
    uint32_t event_index;
} kumo_rpc_pos_t;

/* A parsed request. On a parse failure status holds the HTTP status to answer with. */
typedef struct kumo_rpc_req {
    kumo_rpc_route_t route;
    int status;
    /* path arguments */
    uint8_t hash[KUMO_CHAIN_HASH_BYTES]; /* TX_GET */
    bool latest;                         /* BLOCK_GET */
    uint64_t height;                     /* BLOCK_GET */
    uint8_t addr[KUMO_ADDRESS_BYTES];    /* ACCOUNT_GET, PROVIDER_GET, STAKING_GET */
    char staking_kind;                   /* STAKING_GET: 'v'alidator, 'd'elegations, 'u'nbondings */
    /* query filters (lists) and path owner/dseq (DEPLOYMENT_GET) */
    bool has_owner;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    bool has_provider;
    uint8_t provider[KUMO_ADDRESS_BYTES];
    bool has_grantee; /* GRANT_LIST (the granter is the owner) */
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    bool has_order;
    Kumo__OrderId order; /* order.owner borrows order_owner */
    uint8_t order_owner[KUMO_ADDRESS_BYTES];
    uint32_t state;
    uint32_t limit;
    uint8_t page[KUMO_KEY_BYTES_MAX];
    size_t page_len;
    /* POST /txs */
    bool wait_commit;
    uint32_t timeout_ms;
    uint8_t tx[KUMO_TX_BYTES_MAX];
    size_t tx_len;
    /* GET /events */
    kumo_rpc_filter_t filter;
    bool has_from;
    uint64_t from_height;
    bool has_last_id; /* Last-Event-ID header: resume after this position */
    kumo_rpc_pos_t last_id;
} kumo_rpc_req_t;

/* Inputs of a request as they came off the wire. query and content_type and last_event_id may
 * be NULL (absent). path is the raw (still percent-encoded) path. */
typedef struct kumo_rpc_raw {
    kumo_rpc_method_t method;
    const char *path;
    const char *query;
    const char *content_type;
    const char *last_event_id;
    kumo_bytes_t body;
    size_t body_bytes_max;
} kumo_rpc_raw_t;

/* Parses raw into out (zeroed first). Returns 0, or a code with out->status and err set:
 * unknown route 404 KUMO_ENOTFOUND; wrong method 405 KUMO_EINVAL; bad path argument or query
 * parameter (unknown, repeated, malformed) 400 KUMO_EINVAL; body over body_bytes_max 413
 * KUMO_ELIMIT; POST without application/json 415 KUMO_EINVAL; bad JSON or base64 400
 * KUMO_EDECODE; a tx over KUMO_TX_BYTES_MAX 400 KUMO_ELIMIT. */
KUMO_MUST_USE int
kumo_rpc_req_parse(const kumo_rpc_raw_t *raw, kumo_rpc_req_t *out, kumo_err_ctx_t *err);

/* True when the event passes the filter. */
bool kumo_rpc_filter_match(const kumo_rpc_filter_t *f, const Kumo__Event *ev);
/* Parses an SSE id: "<h>:<tx>:<ev>" or "<h>" (a block event). KUMO_EINVAL otherwise. */
KUMO_MUST_USE int kumo_rpc_pos_parse(const char *text, kumo_rpc_pos_t *out, kumo_err_ctx_t *err);
/* -1, 0, 1 as a is before, at, after b. */
int kumo_rpc_pos_compare(kumo_rpc_pos_t a, kumo_rpc_pos_t b);

/* Strict decimal: no sign, no leading zeros (except "0"), within max. KUMO_EINVAL otherwise. */
KUMO_MUST_USE int kumo_rpc_u64_parse(const char *text, uint64_t max, uint64_t *out);

/* {"error": {"code", "name", "message", "detail"}} as a compact NUL-terminated string released
 * with free(), or NULL when jansson runs out of memory. */
char *kumo_rpc_error_json(int code, const char *detail);

/* Writes "<us / 10^6>.<us % 10^6 as 6 digits>" (seconds with fixed-point micro-seconds) into
 * out; returns false when out_cap is too small. */
bool kumo_rpc_seconds_format(uint64_t us, char *out, size_t out_cap);

/* Status for a code returned by kumo_node_tx_submit: 503 for KUMO_ELIMIT (mempool full), 422
 * for everything else. */
int kumo_rpc_submit_status(int code);

/* The connection cap for a configured maximum under an open-files limit: cfg_max, lowered to
 * nofile - KUMO_RPC_FD_RESERVE; 0 when the limit leaves no room at all. */
uint32_t kumo_rpc_conn_max_for(uint32_t cfg_max, uint64_t nofile);

/* The per-address key of a client: an IPv4 address (or an IPv4-mapped IPv6 one) as
 * ::ffff:a.b.c.d, an IPv6 address by its /64 prefix (the rest zero: one subscriber usually
 * holds a whole /64). False for other families or a short sa_len. */
bool kumo_rpc_addr_key(const void *sa, size_t sa_len, uint8_t out[16]);

/* Test hooks (tests only): the unsent-output bound past which an SSE client is dropped, the
 * unsent output at which replay pauses, and the keepalive period. */
typedef struct kumo_rpc kumo_rpc_t;
void kumo_rpc_test_sse_output_max_set(kumo_rpc_t *rpc, size_t bytes);
void kumo_rpc_test_sse_replay_soft_set(kumo_rpc_t *rpc, size_t bytes);
void kumo_rpc_test_keepalive_ms_set(kumo_rpc_t *rpc, uint32_t ms);

#endif
