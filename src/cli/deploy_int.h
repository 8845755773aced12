/*
 * deploy_int.h - the machinery of `kumo deploy`, private to the cli module: the stack file
 * and its deployment state file (deploy_stack.c), the node's event stream (deploy_stream.c,
 * over src/client), signing and committing one msg
 * (deploy_tx.c), the tenant's HTTPS client of the provider API with a client certificate made
 * from the account key (deploy_provider.c), and the create/update/close flows
 * (deploy_flow.c, cmd_deploy.c).
 */
#ifndef KUMO_CLI_DEPLOY_INT_H
#define KUMO_CLI_DEPLOY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "sdl/sdl.h"

/* An answer of a provider (status with its workloads and endpoints, or logs). */
#define DEPLOY_PROVIDER_ANSWER_BYTES_MAX (16u * 1024u * 1024u)
/* The state file kept next to the stack file. */
#define DEPLOY_STATE_BYTES_MAX (16u * 1024u)
/* Default deadline of a whole create/update/close when --timeout is not given. */
#define DEPLOY_TIMEOUT_MS_DEFAULT (300u * 1000u)

/* ---- the node's event stream (deploy_stream.c, over the node client's stream) ---- */

typedef struct deploy_stream deploy_stream_t;

/* GET node/events?owner=OWNER&from_height=H (owner may be NULL: every event). */
KUMO_MUST_USE int deploy_stream_open(const cli_args_t *a,
                                     const char *owner,
                                     uint64_t from_height,
                                     deploy_stream_t **out,
                                     kumo_err_ctx_t *err);
/* The next event as the node's Event JSON ("block" events as {"type": "block", "height"}),
 * waiting at most wait_ms; *out is NULL when none came in time. The stream resumes after the
 * node ends it (kumo_client_stream_next); KUMO_EIO when it cannot. */
KUMO_MUST_USE int
deploy_stream_next(deploy_stream_t *s, uint64_t wait_ms, json_t **out, kumo_err_ctx_t *err);
void deploy_stream_close(deploy_stream_t *s);

/* ---- stack and state file (deploy_stack.c) ---- */

typedef struct deploy_stack {
    kumo_sdl_stack_t *sdl;
    kumo_bytes_t manifest; /* canonical bytes, borrowed from sdl (valid while sdl is) */
    uint8_t version[KUMO_VERSION_BYTES];
    char version_hex[2 * KUMO_VERSION_BYTES + 1];
    Kumo__GroupSpec **groups; /* borrowed from sdl, sorted by name: gseq = index */
    size_t group_count;
    uint64_t wait_blocks;
    uint64_t deposit_ukumo;
    char state_path[CLI_PATH_BYTES];
} deploy_stack_t;

/* Reads and validates the stack file; the detail names file, line and field. */
/* Reads a stack file (at most KUMO_SDL_STACK_BYTES_MAX) into *out (freed by the caller). */
KUMO_MUST_USE int deploy_stack_file_read(const char *path, kumo_buf_t *out, kumo_err_ctx_t *err);
/* Converts Akash SDL bytes (kumo_sdl_akash_convert) into text and notes, both initialised here
 * and left empty and freed on failure. */
KUMO_MUST_USE int deploy_stack_akash_convert(const char *path,
                                             kumo_bytes_t yaml,
                                             const kumo_sdl_akash_opts_t *opts,
                                             kumo_buf_t *text,
                                             kumo_buf_t *notes,
                                             kumo_err_ctx_t *err);
/* Loads a stack file, kumo or Akash SDL (converted, warnings to stderr). */
KUMO_MUST_USE int deploy_stack_load(const char *path, deploy_stack_t *out, kumo_err_ctx_t *err);
void deploy_stack_free(deploy_stack_t *s);
/* "<dir>/.kumo-deploy-<file>.json" for the stack file at path. */
KUMO_MUST_USE int
deploy_stack_state_path(const char *path, char *out, size_t cap, kumo_err_ctx_t *err);
/* The group (gseq) a workload runs in, or -1. */
int deploy_stack_workload_gseq(const deploy_stack_t *s, const char *workload);

/* What `kumo deploy create` remembers next to the stack (docs/stack.md). */
typedef struct deploy_state {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    char from[KUMO_NAME_BYTES_MAX + 1];
} deploy_state_t;

/* Writes the state file 0600 (atomically: a temp file renamed over it). */
KUMO_MUST_USE int
deploy_state_write(const char *path, const deploy_state_t *st, kumo_err_ctx_t *err);
/* KUMO_ENOTFOUND when there is none. */
KUMO_MUST_USE int deploy_state_read(const char *path, deploy_state_t *st, kumo_err_ctx_t *err);

/* ---- one msg signed and committed (deploy_tx.c) ---- */

/* Signs msg with kp (sequence, chain id and fee from the node unless given), submits it and
 * waits for commit; with granter (not NULL) msg goes in a MsgExec for it (cli_exec_wrap), kp
 * being its grantee's. *ans is the committed answer (height, events); a tx that committed with
 * a failure code is that code with its log (KUMO_EGRANT* when the grant refused it). */
KUMO_MUST_USE int deploy_tx_commit(const cli_args_t *a,
                                   const kumo_crypto_keypair_t *kp,
                                   const uint8_t *granter,
                                   Kumo__Msg *msg,
                                   json_t **ans,
                                   kumo_err_ctx_t *err);

/* ---- provider API client (deploy_provider.c) ---- */

/* The tenant's client certificate: self-signed from the account key, CN = the address. */
typedef struct deploy_tls {
    kumo_buf_t cert_pem;
    kumo_buf_t key_pem;
} deploy_tls_t;

KUMO_MUST_USE int deploy_tls_make(const kumo_crypto_keypair_t *kp,
                                  const char *addr_text,
                                  deploy_tls_t *out,
                                  kumo_err_ctx_t *err);
void deploy_tls_free(deploy_tls_t *t);

/* A provider as the chain knows it. */
typedef struct deploy_provider {
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    char host_uri[KUMO_URI_BYTES_MAX + 1];
    kumo_buf_t root_pem;
} deploy_provider_t;

/* GET /providers/{addr} from the node: host_uri and root certificate. */
KUMO_MUST_USE int deploy_provider_lookup(const cli_args_t *a,
                                         const char *addr,
                                         deploy_provider_t *out,
                                         kumo_err_ctx_t *err);
void deploy_provider_free(deploy_provider_t *p);

/* One HTTPS request to the provider (verified against its on-chain root, with the client
 * certificate). *status gets the HTTP status (0 when it could not be reached: KUMO_EIO); out
 * the body. A non-2xx answer with a JSON error becomes its code and detail (the status is
 * still set). */
KUMO_MUST_USE int deploy_provider_call(const deploy_tls_t *tls,
                                       const deploy_provider_t *p,
                                       const char *method,
                                       const char *path,
                                       kumo_bytes_t body,
                                       long *status,
                                       kumo_buf_t *out,
                                       kumo_err_ctx_t *err);
/* As deploy_provider_call, the 2xx answer parsed as JSON. */
KUMO_MUST_USE int deploy_provider_json(const deploy_tls_t *tls,
                                       const deploy_provider_t *p,
                                       const char *method,
                                       const char *path,
                                       kumo_bytes_t body,
                                       long *status,
                                       json_t **out,
                                       kumo_err_ctx_t *err);

/* An upgraded connection to the provider (the shell session): TLS as for
 * deploy_provider_call, over libcurl's connect-only mode. */
typedef struct deploy_upgrade {
    void *curl;       /* CURL * */
    int fd;           /* its socket, for poll */
    kumo_buf_t early; /* bytes of the stream that came with the answer's head */
} deploy_upgrade_t;

/* PUT path with a JSON body, "Connection: Upgrade" and "Upgrade: protocol": 0 when the
 * provider answered 101 (out is then the stream). A refusal is its JSON error's code and
 * detail (*status set), KUMO_EIO when the provider cannot be reached. */
KUMO_MUST_USE int deploy_provider_upgrade(const deploy_tls_t *tls,
                                          const deploy_provider_t *p,
                                          const char *path,
                                          const char *protocol,
                                          kumo_bytes_t body,
                                          long *status,
                                          deploy_upgrade_t *out,
                                          kumo_err_ctx_t *err);
/* Sends all of data, waiting for the socket as needed; while it waits, bytes that arrive are
 * handed to on_recv (so neither side can block the other). */
typedef int (*deploy_upgrade_recv_cb)(void *ctx,
                                      const uint8_t *data,
                                      size_t len,
                                      kumo_err_ctx_t *err);
KUMO_MUST_USE int deploy_upgrade_send(deploy_upgrade_t *u,
                                      const uint8_t *data,
                                      size_t len,
                                      deploy_upgrade_recv_cb on_recv,
                                      void *ctx,
                                      kumo_err_ctx_t *err);
/* Reads what is there without waiting: hands it to on_recv; *closed when the provider closed
 * the connection. */
KUMO_MUST_USE int deploy_upgrade_recv(deploy_upgrade_t *u,
                                      deploy_upgrade_recv_cb on_recv,
                                      void *ctx,
                                      bool *closed,
                                      kumo_err_ctx_t *err);
void deploy_upgrade_close(deploy_upgrade_t *u);

/* `kumo deploy events` (deploy_events.c). */
int deploy_events_run(cli_args_t *a);

/* `kumo deploy shell` (deploy_shell.c). */
int deploy_shell_run(cli_args_t *a);

/* ---- flows (deploy_flow.c: events and leases; deploy_run.c: providers) ---- */

/* Milliseconds of a monotonic clock (deploy_stream.c). */
uint64_t deploy_now_ms(void);
/* The node's head height (GET /status). */
KUMO_MUST_USE int deploy_height_get(const cli_args_t *a, uint64_t *out, kumo_err_ctx_t *err);

/* A stack group that is no live group of the deployment on chain (yet). */
#define DEPLOY_GSEQ_NONE UINT32_MAX

typedef struct deploy_group {
    const char *name; /* the stack's group name (borrowed) */
    uint32_t gseq;    /* its live group on chain, or DEPLOY_GSEQ_NONE */
    uint32_t oseq;    /* latest order seen */
    bool need_lease;  /* wait for a (new) lease of this group */
    bool leased;
    char provider[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t price_ukumo; /* per block */
    size_t provider_index;
    bool bid_seen; /* a bid on its latest order */
} deploy_group_t;

typedef struct deploy_peer {
    deploy_provider_t p;
    json_t *status; /* last status answer */
    bool manifest_accepted;
    /* Distribution (GET .../manifest-info): chunks of the version it holds, and how it got
     * the manifest ("upload": from us, "peers": from the other providers, "": not yet). */
    uint32_t chunks_held;
    uint32_t chunk_count;
    bool manifest_held;
    const char *via;
    /* When it first named another version than ours (0: it names ours): a provider that has
     * not seen an update's block yet does for a moment; one that still does after
     * DEPLOY_OTHER_VERSION_MS is uploaded to (its refusal says why). */
    uint64_t other_version_since_ms;
} deploy_peer_t;

/* A point of the flow: for stage timings in blocks and milliseconds. */
typedef struct deploy_mark {
    uint64_t height;
    uint64_t ms;
    bool set;
} deploy_mark_t;

enum deploy_mark_id {
    DEPLOY_MARK_START = 0,
    DEPLOY_MARK_COMMITTED,
    DEPLOY_MARK_MATCHABLE,
    DEPLOY_MARK_LEASED,
    DEPLOY_MARK_MANIFEST,
    DEPLOY_MARK_RUNNING,
    DEPLOY_MARK_COUNT_,
};

typedef struct deploy_flow {
    cli_args_t *a;
    FILE *out; /* progress: stdout, or stderr with --output json */
    deploy_stack_t stack;
    bool stack_loaded;
    kumo_crypto_keypair_t kp;
    bool key_loaded;
    char owner[KUMO_ADDRESS_TEXT_BYTES];  /* the deployment's: the signer's, or --granter's */
    char signer[KUMO_ADDRESS_TEXT_BYTES]; /* kp's address */
    /* --granter: every msg goes in a MsgExec for this owner, signed by its grantee (kp). */
    bool exec;
    uint8_t granter[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    char dep_id[KUMO_ID_TEXT_BYTES]; /* "owner/dseq" */
    deploy_tls_t tls;
    bool tls_made;
    deploy_stream_t *stream;
    deploy_group_t groups[KUMO_GROUP_COUNT_MAX]; /* in the stack's order */
    size_t group_count;
    json_t *chain_groups; /* the deployment's groups on chain, by gseq (closed ones too) */
    deploy_peer_t peers[KUMO_GROUP_COUNT_MAX];
    size_t peer_count;
    uint64_t height;       /* last block seen */
    uint64_t match_height; /* orders may be matched from this height */
    uint64_t deadline_ms;
    deploy_mark_t marks[DEPLOY_MARK_COUNT_];
    json_t *endpoints; /* every endpoint of every provider */
    uint64_t refund_ukumo;
    bool closed;
    bool no_bid_told; /* why no bids was printed */
} deploy_flow_t;

/* Seals the stack's secrets (deploy_secret.c) for deployment f->dseq of f->owner: values
 * read from the environment or files, providers' public keys from the chain; the stack's
 * manifest and version are then the sealed ones. Nothing to do for a stack without secrets. */
KUMO_MUST_USE int deploy_secrets_seal(deploy_flow_t *f, kumo_err_ctx_t *err);

/* Loads the key (--from, else $KUMO_KEY, else the state file's), the owner address (the key's,
 * or --granter's: the key is then its grantee's) and the client certificate (of the key);
 * reads the state file when need_state (dseq, unless --dseq). */
KUMO_MUST_USE int
deploy_flow_init(deploy_flow_t *f, cli_args_t *a, bool need_state, kumo_err_ctx_t *err);
void deploy_flow_free(deploy_flow_t *f);
/* Notes a mark at the current height and time. */
void deploy_flow_mark(deploy_flow_t *f, enum deploy_mark_id id);
/* Opens the event stream of the owner from height. */
KUMO_MUST_USE int
deploy_flow_stream_open(deploy_flow_t *f, uint64_t from_height, kumo_err_ctx_t *err);
/* Follows events until every group with need_lease has a lease. */
KUMO_MUST_USE int deploy_flow_leases_wait(deploy_flow_t *f, kumo_err_ctx_t *err);
/* Follows events until the deployment is closed (refund_ukumo set). */
KUMO_MUST_USE int deploy_flow_closed_wait(deploy_flow_t *f, kumo_err_ctx_t *err);
/* The stack group that is live group gseq on chain, or NULL. */
deploy_group_t *deploy_flow_group(deploy_flow_t *f, uint32_t gseq);
/* Reads the deployment's groups on chain (GET /groups, into chain_groups) and gives each stack
 * group the gseq of the live group of its name (DEPLOY_GSEQ_NONE: none). A group keeps its
 * name on chain for life, so after an update added or removed groups the stack's order is no
 * longer the gseq order. */
KUMO_MUST_USE int deploy_flow_groups_resolve(deploy_flow_t *f, kumo_err_ctx_t *err);
/* Reads the active leases from the node into the groups (leased, provider, price), after
 * deploy_flow_groups_resolve. */
KUMO_MUST_USE int deploy_flow_leases_read(deploy_flow_t *f, kumo_err_ctx_t *err);
/* Handles the events waiting now (height tracking) without blocking. */
KUMO_MUST_USE int deploy_flow_drain(deploy_flow_t *f, kumo_err_ctx_t *err);

/* Looks up every lease provider, uploads the manifest (to the first provider that accepts it,
 * then shows it spreading to the others in chunks until each holds it, uploading to any that
 * does not after DEPLOY_SPREAD_WAIT_MS: a create and an update alike), waits until every workload
 * runs and collects the endpoints (deploy_run.c). */
KUMO_MUST_USE int deploy_run_to_running(deploy_flow_t *f, kumo_err_ctx_t *err);
/* Prints the endpoints (text) or the final JSON object of create/update. */
void deploy_run_report(const deploy_flow_t *f, const char *what);
/* The provider of a deployment-scope peer index for a group's provider address. */
KUMO_MUST_USE int
deploy_run_peer_find(deploy_flow_t *f, const char *addr, size_t *index_out, kumo_err_ctx_t *err);

/* ---- why no bids (deploy_quote.c) ---- */

#define DEPLOY_QUOTE_BIDS_MAX 8u
#define DEPLOY_QUOTE_VERDICTS 9u /* kumo_provider_bid_verdict_t values */

/* What the providers on chain would do for one group, judged from what they publish. */
typedef struct deploy_quote {
    /* what the group asks */
    uint64_t max_price_total; /* ukumo per block */
    uint64_t collateral_total;
    uint64_t cpu_milli, memory_bytes, storage_bytes;
    /* the providers */
    size_t provider_count;                  /* on chain */
    size_t in_region;                       /* of them in the group's region */
    size_t no_offer;                        /* of those, without a published offer */
    size_t verdicts[DEPLOY_QUOTE_VERDICTS]; /* of those with an offer, by verdict */
    char regions[512];                      /* regions served, ", "-separated */
    uint64_t cheapest_ask;                  /* lowest total of those above the price */
    uint64_t most_cpu_milli, most_memory_bytes, most_storage_bytes, most_collateral;
    char requirements_detail[KUMO_ERR_DETAIL_BYTES]; /* what the first unmet provider lacks */
    struct {
        char provider[KUMO_ADDRESS_TEXT_BYTES];
        uint64_t price_total;
    } bids[DEPLOY_QUOTE_BIDS_MAX]; /* who would bid, cheapest first */
    size_t bid_count;
    size_t bid_more; /* would bid too, not listed */
} deploy_quote_t;

/* Every provider on chain (GET /providers, every page up to a bound) into *out (an array),
 * each with "audits": the ProviderAudits of it (GET /audits, every page up to a bound). */
KUMO_MUST_USE int
deploy_quote_providers_get(const cli_args_t *a, json_t **out, kumo_err_ctx_t *err);
/* Judges each provider for group g (region, the group's placement requirements by the chain's
 * rule, then kumo_provider_bid_decide on its offer). */
void deploy_quote_group(const json_t *providers, const Kumo__GroupSpec *g, deploy_quote_t *q);
/* Why no provider would bid (1, text in out: one "cause: what to do" per cause, "; "-joined,
 * causes region, requirements, price, capacity, collateral), or 0 when some would. */
int deploy_quote_why(const deploy_quote_t *q, const Kumo__GroupSpec *g, char *out, size_t cap);
/* The group's bidders with prices, or why none. */
void deploy_quote_print(FILE *out, const deploy_quote_t *q, const Kumo__GroupSpec *g);
/* `kumo deploy quote STACK.yml`. */
int deploy_quote_run(cli_args_t *a);

/* `kumo deploy status` and `kumo deploy logs` (deploy_status.c). */
int deploy_status_run(cli_args_t *a);
/* Fills o with the deployment on chain ("deployment", "groups", "leases") and each active
 * lease provider's answer to GET .../status ("providers": address -> status or {"error"}), as
 * `kumo deploy status --output json` prints it. Blocks on the node and the providers. */
KUMO_MUST_USE int deploy_status_collect(deploy_flow_t *f, json_t *o, kumo_err_ctx_t *err);
/* kumo deploy ui (deploy_ui.c). */
int deploy_ui_run(cli_args_t *a);
int deploy_logs_run(cli_args_t *a);

#endif
