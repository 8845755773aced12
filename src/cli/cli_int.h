/*
 * cli_int.h - shared machinery of the client commands (keys, tx, query), private to the cli
 * module: the option table and subcommand dispatch (cli_args.c), strict parsers for sizes,
 * amounts, group specs and attributes (cli_parse.c), the calls to the node API
 * (cli_client.c, over src/client), text tables and JSON output (cli_output.c), and keys,
 * passphrases and tx signing/submission (cli_sign.c).
 *
 * Errors: parsers and clients return 0 or a negative KUMO_E* with a detail for a person; the
 * command prints it on stderr with a hint and exits 1 (2 for usage errors).
 */
#ifndef KUMO_CLI_CLI_INT_H
#define KUMO_CLI_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "chain/chain.h"
#include "client/client.h"
#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "keyring/keyring.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_NODE_DEFAULT "http://127.0.0.1:26657"
#define CLI_PATH_BYTES   1024u
/* Repeatable options (--group, --attr, --price): bounded by what one msg may carry. */
#define CLI_REPEAT_MAX KUMO_GROUP_COUNT_MAX
/* Positional arguments (lease confirm takes many order ids). */
#define CLI_POSITIONAL_MAX 256u
/* A seed hex on stdin or a passphrase file: one short line. */
#define CLI_LINE_BYTES_MAX 4096u

_Static_assert(KUMO_ATTRIBUTE_COUNT_MAX <= CLI_REPEAT_MAX, "--attr fits the repeat array");
_Static_assert(KUMO_RESOURCE_COUNT_MAX <= CLI_REPEAT_MAX, "--price fits the repeat array");

/* Every option any client command takes; each subcommand lists the ones it accepts. */
enum cli_opt {
    CLI_OPT_END = 0,
    CLI_OPT_HOME = 256,
    CLI_OPT_NODE,
    CLI_OPT_OUTPUT,
    CLI_OPT_CHAIN_ID,
    CLI_OPT_FEE,
    CLI_OPT_WAIT,
    CLI_OPT_PASSPHRASE_FILE,
    CLI_OPT_HELP,
    CLI_OPT_FROM,
    CLI_OPT_MEMO,
    CLI_OPT_HOST_URI,
    CLI_OPT_REGION,
    CLI_OPT_CERT_FILE,
    CLI_OPT_ATTR,
    CLI_OPT_DSEQ,
    CLI_OPT_GROUP,
    CLI_OPT_WAIT_BLOCKS,
    CLI_OPT_DEPOSIT,
    CLI_OPT_VERSION_FILE,
    CLI_OPT_VERSION,
    CLI_OPT_OWNER,
    CLI_OPT_PRICE,
    CLI_OPT_RELEASED,
    CLI_OPT_PROVIDER,
    CLI_OPT_STATE,
    CLI_OPT_ORDER,
    CLI_OPT_LIMIT,
    CLI_OPT_PAGE,
    CLI_OPT_ALL,
    CLI_OPT_ENCRYPT,
    CLI_OPT_UNSAFE_EXPORT_SEED,
    CLI_OPT_ADDRESS,
    CLI_OPT_TIMEOUT_MS,
    CLI_OPT_REASON,
    CLI_OPT_DETAIL,
    CLI_OPT_ESCROW_WARN_BLOCKS,
    CLI_OPT_OFFER,
    CLI_OPT_FOLLOW,
    CLI_OPT_SINCE,
    CLI_OPT_TAIL,
    CLI_OPT_OUT,
    CLI_OPT_LISTEN,
    CLI_OPT_GRANTER,
    CLI_OPT_GRANTEE,
    CLI_OPT_LAST_, /* not an option: the count */
};

typedef enum cli_output {
    CLI_OUTPUT_TEXT = 0,
    CLI_OUTPUT_JSON,
} cli_output_t;

/* Parsed command line of one subcommand. Strings borrow argv. */
typedef struct cli_args {
    const char *home; /* default $HOME/.kumo */
    char home_buf[CLI_PATH_BYTES];
    const char *node; /* default $KUMO_NODE or CLI_NODE_DEFAULT */
    cli_output_t output;
    const char *chain_id; /* NULL: from GET /status */
    bool fee_set;         /* else the chain's min_fee */
    uint64_t fee_ukumo;   /* --fee */
    bool wait;            /* --wait */
    const char *passphrase_file;
    const char *from; /* --from KEY */
    const char *memo;
    const char *host_uri;
    const char *region;
    const char *cert_file;
    const char *attrs[CLI_REPEAT_MAX];
    size_t attr_count;
    const char *groups[CLI_REPEAT_MAX];
    size_t group_count;
    const char *prices[CLI_REPEAT_MAX];
    size_t price_count;
    bool dseq_set;
    uint64_t dseq;
    bool wait_blocks_set;
    uint64_t wait_blocks;
    bool deposit_set;
    uint64_t deposit_ukumo;
    const char *version_file;
    const char *version_hex;
    const char *owner;
    const char *provider;
    const char *granter;
    const char *grantee;
    const char *state;
    const char *order;
    bool limit_set;
    uint64_t limit; /* 0: the node's default */
    const char *page;
    bool all;
    bool released;
    bool encrypt;
    bool unsafe_export_seed;
    bool address_only;
    uint64_t timeout_ms; /* --wait timeout; 0: the node's default */
    const char *reason;  /* tx lease refuse */
    const char *detail;
    const char *offer;    /* tx provider update --offer */
    bool escrow_warn_set; /* --escrow-warn-blocks */
    uint64_t escrow_warn_blocks;
    bool follow;       /* deploy logs|events: keep following */
    const char *since; /* deploy logs: RFC 3339 time, unix seconds or a duration ago */
    bool tail_set;
    uint64_t tail;      /* deploy logs: the last N lines of each instance */
    const char *out;    /* stack convert: the file to write */
    const char *listen; /* deploy ui: host:port to serve on */
    char *pos[CLI_POSITIONAL_MAX];
    size_t pos_count;
} cli_args_t;

typedef int (*cli_run_fn)(cli_args_t *a);

/* One subcommand: "kumo <cmd> [<group>] <name> <usage>". */
typedef struct cli_sub {
    const char *group; /* "bank" for "tx bank send"; NULL for one-level commands */
    const char *name;
    const char *usage;   /* positional arguments and the required options */
    const char *summary; /* one line */
    const char *example; /* one line */
    const int *opts;     /* accepted options, ended by CLI_OPT_END (globals are added) */
    size_t pos_min;
    size_t pos_max;
    cli_run_fn run;
} cli_sub_t;

/* Dispatches argv ("<cmd> [<group>] <name> ...") over subs; prints help for "--help", "help"
 * or no subcommand. Returns the exit code. */
int cli_dispatch(const char *cmd,
                 const char *cmd_summary,
                 const cli_sub_t *subs,
                 size_t sub_count,
                 int argc,
                 char **argv);

/* Prints "kumo: <what>: <detail>" and a hint for err's code to stderr; returns
 * CLI_EXIT_FAIL. */
int cli_fail(const char *what, const kumo_err_ctx_t *err);
/* Prints a usage error with a pointer to --help; returns CLI_EXIT_USAGE. */
int cli_usage_fail(const char *cmd, const char *fmt, ...) KUMO_PRINTF(2, 3);
/* What to do about a failure with this code, or NULL. */
const char *cli_hint(int code);

/* ---- parsers (cli_parse.c) ---- */

/* Decimal uint64: digits only, no sign, no leading zeros except "0", within range.
 * KUMO_EINVAL naming what. */
KUMO_MUST_USE int
cli_u64_parse(const char *text, const char *what, uint64_t *out, kumo_err_ctx_t *err);
/* An amount: "250", "250ukumo", "1.5kumo" (1 kumo = 10^6 ukumo, at most 6 decimals). */
KUMO_MUST_USE int cli_amount_parse(const char *text, uint64_t *out_ukumo, kumo_err_ctx_t *err);
/* CPU: "500m" (milli), "2" (whole vCPUs), "0.5" (at most 3 decimals). Nonzero. */
KUMO_MUST_USE int cli_cpu_parse(const char *text, uint64_t *out_milli, kumo_err_ctx_t *err);
/* Bytes: a number with an optional suffix Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T
 * (powers of 1000); no fractions. Nonzero. what names the field in errors. */
KUMO_MUST_USE int
cli_size_parse(const char *text, const char *what, uint64_t *out_bytes, kumo_err_ctx_t *err);

/* One --group spec: comma-separated key=value with keys name, region, cpu, memory, storage,
 * count, price, collateral and the flag persist. All but storage (default 0) and persist are
 * required; each key at most once; unknown keys are errors. */
typedef struct cli_group {
    char name[KUMO_NAME_BYTES_MAX + 1];
    char region[KUMO_REGION_BYTES_MAX + 1];
    bool persist;
    uint64_t cpu_milli;
    uint64_t memory_bytes;
    uint64_t storage_bytes;
    uint64_t count;
    uint64_t price_ukumo;
    uint64_t collateral_ukumo;
} cli_group_t;
KUMO_MUST_USE int cli_group_parse(const char *text, cli_group_t *out, kumo_err_ctx_t *err);

/* Protobuf storage for one parsed group (points into itself; do not copy after fill). */
typedef struct cli_group_pb {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
    Kumo__ResourceGroup *rg_ptr;
    Kumo__GroupSpec spec;
} cli_group_pb_t;
/* Fills pb from g (which must outlive pb). */
void cli_group_to_pb(const cli_group_t *g, cli_group_pb_t *pb);

/* A provider's offer (--offer): comma-separated price_cpu=AMOUNT (per core per block),
 * price_memory=AMOUNT (per GiB), price_storage=AMOUNT (per GiB), cpu=500m, memory=16Gi,
 * storage=200Gi (what is free) and collateral=AMOUNT (budget left), every one once and
 * required (a free amount may be 0); optionally price_gpu=AMOUNT (per GPU per block) and, once
 * per kind of free GPU, gpu=COUNT:VENDOR:MODEL[:MEMORY]. KUMO_EINVAL naming the key. pb points
 * into the struct (text, gpus): keep it while pb is used. */
typedef struct cli_offer {
    Kumo__ProviderOffer pb;
    Kumo__GpuSpec gpus[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX];
    Kumo__GpuSpec *gpu_ptrs[KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX];
    char text[1024];
} cli_offer_t;
KUMO_MUST_USE int cli_offer_parse(const char *text, cli_offer_t *out, kumo_err_ctx_t *err);

/* The terms of `kumo tx grant create`, KEY=VALUE each: msgs=create,update,deposit,close (any
 * order, sent by Msg field number; required), expiry=HEIGHT (required, nonzero),
 * max_price=AMOUNT, max_count=N (u32), regions=R1,R2 (1..64 bytes each, at most
 * KUMO_GRANT_REGION_COUNT_MAX, sent sorted, none twice), spend_limit=AMOUNT; at most
 * CLI_GRANT_TERM_COUNT_MAX terms. KUMO_EINVAL naming the term. pb's lists point into the
 * struct; grantee and dseq are the caller's. No I/O. */
#define CLI_GRANT_TERM_COUNT_MAX 6u
typedef struct cli_grant_terms {
    Kumo__MsgGrant pb;
    uint32_t types[KUMO_GRANT_MSG_TYPE_COUNT_MAX];
    char region_buf[KUMO_GRANT_REGION_COUNT_MAX][KUMO_REGION_BYTES_MAX + 1];
    char *regions[KUMO_GRANT_REGION_COUNT_MAX];
} cli_grant_terms_t;
KUMO_MUST_USE int cli_grant_terms_parse(char *const *terms,
                                        size_t count,
                                        cli_grant_terms_t *out,
                                        kumo_err_ctx_t *err);

/* "key=value" with a non-empty key; key_out/value_out borrow a copy in buf. */
KUMO_MUST_USE int cli_attr_parse(const char *text,
                                 char *buf,
                                 size_t buf_cap,
                                 const char **key_out,
                                 const char **value_out,
                                 kumo_err_ctx_t *err);

/* Sorts attributes by key (the chain's canonical order). */
void cli_attrs_sort(Kumo__Attribute **attrs, size_t count);

/* `kumo tx audit sign --from KEY PROVIDER K=V...` and `revoke --from KEY PROVIDER [K...]`
 * (cmd_tx_audit.c). */
int cli_tx_audit_sign_run(cli_args_t *a);
int cli_tx_audit_revoke_run(cli_args_t *a);
/* `kumo tx grant create|revoke` (cmd_tx_grant.c). */
int cli_tx_grant_create_run(cli_args_t *a);
int cli_tx_grant_revoke_run(cli_args_t *a);

/* --state value for an object kind: "active" or "LEASE_ACTIVE" both give "LEASE_ACTIVE" for
 * prefix "LEASE_". Only letters and '_'. */
KUMO_MUST_USE int cli_state_normalize(
    const char *text, const char *prefix, char *out, size_t out_cap, kumo_err_ctx_t *err);

/* A 32-byte version as 64 hex digits. */
KUMO_MUST_USE int
cli_version_hex_parse(const char *text, uint8_t out[KUMO_VERSION_BYTES], kumo_err_ctx_t *err);

/* ---- output (cli_output.c) ---- */

/* True once standard output is gone (its reader closed the pipe: `kumo … | head`), after
 * flushing it. kumo ignores SIGPIPE (a provider or node closing a connection must be an error
 * the command reports, not its death), so commands that print until interrupted ask this. */
bool cli_stdout_gone(void);

/* Formats an amount: "1000000 ukumo". */
void cli_amount_format(uint64_t ukumo, char *out, size_t out_cap);
/* Formats bytes exactly with the largest binary suffix that divides them ("512Mi", "1Gi",
 * "1500"). */
void cli_size_format(uint64_t bytes, char *out, size_t out_cap);
/* Formats milli-CPU: "500m", "2". */
void cli_cpu_format(uint64_t milli, char *out, size_t out_cap);

#define CLI_TABLE_COLUMN_MAX 10u
#define CLI_TABLE_CELL_BYTES 192u

/* A text table: rows of cells, columns padded to their widest cell (UTF-8 aware). */
typedef struct cli_table {
    size_t column_count;
    const char *headers[CLI_TABLE_COLUMN_MAX];
    char (*cells)[CLI_TABLE_COLUMN_MAX][CLI_TABLE_CELL_BYTES];
    size_t row_count;
    size_t row_cap;
} cli_table_t;
void cli_table_init(cli_table_t *t, const char *const *headers, size_t column_count);
/* Adds a row; returns its cells to fill with snprintf (empty by default). KUMO_ENOMEM. */
KUMO_MUST_USE int cli_table_row_add(cli_table_t *t, char (**row_out)[CLI_TABLE_CELL_BYTES]);
void cli_table_print(const cli_table_t *t, FILE *out);
void cli_table_free(cli_table_t *t);

/* Prints a JSON object as aligned "key  value" lines, nested objects as dotted keys, amount
 * fields with their unit. */
void cli_object_print(const json_t *obj, FILE *out);
/* Prints json (pretty, keys in order) and a newline. */
void cli_json_print(const json_t *json, FILE *out);

/* A string member of obj, or "" (uint64s arrive as strings). */
const char *cli_json_str(const json_t *obj, const char *key);
/* A uint64 member (decimal string or integer); 0 if absent or malformed. */
uint64_t cli_json_u64(const json_t *obj, const char *key);
/* Why and when an object of the node's JSON ended: "tenant at 61" from its close_reason
 * ("CLOSE_REASON_TENANT") and the height member height_key; "-" when it has no reason. */
void cli_end_format(const json_t *obj, const char *height_key, char *out, size_t out_cap);

/* ---- node client (cli_client.c) ---- */

/* A node client for --node (kumo_client_open; the caller closes it). */
KUMO_MUST_USE int cli_node_open(const cli_args_t *a, kumo_client_t **out, kumo_err_ctx_t *err);
/* GET node+path (kumo_client_get on a handle of its own); *out gets the parsed JSON answer
 * (json_decref it). A JSON error answer becomes its code and detail; transport failures are
 * KUMO_EIO naming the node URL. */
KUMO_MUST_USE int
cli_http_get(const cli_args_t *a, const char *path, json_t **out, kumo_err_ctx_t *err);
/* POST body (JSON) to node+path; as cli_http_get. */
KUMO_MUST_USE int cli_http_post(
    const cli_args_t *a, const char *path, const json_t *body, json_t **out, kumo_err_ctx_t *err);

/* ---- keys and signing (cli_sign.c) ---- */

/* Opens home/keyring. */
KUMO_MUST_USE int cli_keyring_open(const cli_args_t *a, kumo_keyring_t **out, kumo_err_ctx_t *err);
/* Reads a passphrase from --passphrase-file or, when stdin is not a terminal, stdin (first
 * line, newline stripped). out must hold KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1 bytes; the
 * caller wipes it. */
KUMO_MUST_USE int
cli_passphrase_read(const cli_args_t *a, char *out, size_t out_cap, kumo_err_ctx_t *err);
/* Loads key name (asking for the passphrase only when it is encrypted). */
KUMO_MUST_USE int cli_key_load(const cli_args_t *a,
                               const char *name,
                               kumo_crypto_keypair_t *kp_out,
                               kumo_err_ctx_t *err);
/* The signing key without a keyring: the environment variable holding a key's seed (64 hex
 * digits, as `kumo keys export --unsafe-export-seed` prints it), used when --from is not
 * given (a management workload gets its key this way, never on disk). */
#define CLI_KEY_ENV "KUMO_KEY"
/* Whether a signing key is given: --from, or a non-empty $KUMO_KEY. */
bool cli_from_given(const cli_args_t *a);
/* The signing key: key name in the keyring (cli_key_load) when name is not NULL, else the
 * seed in $KUMO_KEY (KUMO_EINVAL when it is malformed or absent, naming --from). */
KUMO_MUST_USE int cli_from_load(const cli_args_t *a,
                                const char *name,
                                kumo_crypto_keypair_t *kp_out,
                                kumo_err_ctx_t *err);
/* The address of that key (name: an address or a key name, as cli_address_resolve). */
KUMO_MUST_USE int cli_from_address(const cli_args_t *a,
                                   const char *name,
                                   uint8_t addr_out[KUMO_ADDRESS_BYTES],
                                   kumo_err_ctx_t *err);
/* msgs (deployment msgs, as the plain commands build them) wrapped in one MsgExec for
 * granter: the one way a grantee sends under a grant (`kumo tx grant exec`, `kumo deploy
 * --granter`). *exec and *outer are filled and borrow granter and msgs; send outer. */
void cli_exec_wrap(const uint8_t granter[KUMO_ADDRESS_BYTES],
                   Kumo__Msg **msgs,
                   size_t msg_count,
                   Kumo__MsgExec *exec,
                   Kumo__Msg *outer);
/* An address from "kumo1..." or a key name in the keyring. */
KUMO_MUST_USE int cli_address_resolve(const cli_args_t *a,
                                      const char *text,
                                      uint8_t addr_out[KUMO_ADDRESS_BYTES],
                                      kumo_err_ctx_t *err);

/* An id whose owner part may be a key name ("tenant/7/0/1") rewritten with the owner's
 * address ("kumo1.../7/0/1"); the rest is copied for the strict id parsers. */
KUMO_MUST_USE int cli_id_canonicalize(
    const cli_args_t *a, const char *text, char *out, size_t out_cap, kumo_err_ctx_t *err);

/* Signs msgs as --from with the account's sequence, the chain id and the fee (defaults from
 * the node), submits, and prints the result (waiting for commit with --wait). Returns the
 * exit code. */
int cli_tx_send(cli_args_t *a, Kumo__Msg *const *msgs, size_t msg_count, const char *what);
/* Signs msgs with kp (chain id, fee and sequence from the node unless --chain-id/--fee) and
 * POSTs them (with a->wait: waiting for the commit); a sequence taken by a pending tx of the
 * same key is retried at the one the node names. *ans is the node's answer; hash_hex the
 * last tx's hash ("" when nothing was signed). */
KUMO_MUST_USE int cli_tx_submit(const cli_args_t *a,
                                const kumo_crypto_keypair_t *kp,
                                Kumo__Msg *const *msgs,
                                size_t msg_count,
                                json_t **ans,
                                char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1],
                                kumo_err_ctx_t *err);

/* `kumo provider status --home DIR [--output json]` (cmd_provider_status.c): prints what the
 * daemon last wrote to DIR/status.json. Exit code. */
int cli_provider_status(const char *home, bool json);

#endif
