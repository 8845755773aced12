/*
 * cli_args.c - option parsing, help and subcommand dispatch of the client commands (keys, tx,
 * query). One table describes every option; each subcommand names the options it accepts, so
 * an option a subcommand does not take is a usage error (exit 2), and --help is generated from
 * the same table with a one-line example.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

/* How an option's value is stored in cli_args_t. */
enum cli_opt_kind {
    CLI_KIND_STR = 0, /* const char * at off */
    CLI_KIND_FLAG,    /* bool at off */
    CLI_KIND_U64,     /* uint64_t at off; bool at set_off */
    CLI_KIND_AMOUNT,  /* uint64_t ukumo at off; bool at set_off */
    CLI_KIND_REPEAT,  /* const char *[CLI_REPEAT_MAX] at off; size_t count at set_off */
    CLI_KIND_OUTPUT,  /* cli_output_t at off */
};

typedef struct cli_opt_def {
    int id;
    const char *name;
    const char *metavar; /* NULL: a flag */
    const char *help;
    enum cli_opt_kind kind;
    size_t off;
    size_t set_off; /* SIZE_MAX: none */
} cli_opt_def_t;

#define OFF(field) offsetof(cli_args_t, field)
#define NOSET      SIZE_MAX

static const cli_opt_def_t cli_opt_defs[] = {
    {CLI_OPT_HOME, "home", "DIR", "home directory; keys in DIR/keyring (default ~/.kumo)",
     CLI_KIND_STR, OFF(home), NOSET},
    {CLI_OPT_NODE, "node", "URL", "node API (default $KUMO_NODE or " CLI_NODE_DEFAULT ")",
     CLI_KIND_STR, OFF(node), NOSET},
    {CLI_OPT_OUTPUT, "output", "FMT", "text (tables) or json (the API's JSON)", CLI_KIND_OUTPUT,
     OFF(output), NOSET},
    {CLI_OPT_CHAIN_ID, "chain-id", "ID", "chain id to sign for (default: the node's)", CLI_KIND_STR,
     OFF(chain_id), NOSET},
    {CLI_OPT_FEE, "fee", "AMOUNT", "tx fee (default: the chain's min_fee)", CLI_KIND_AMOUNT,
     OFF(fee_ukumo), OFF(fee_set)},
    {CLI_OPT_WAIT, "wait", NULL, "wait until the tx is committed; show its result and events",
     CLI_KIND_FLAG, OFF(wait), NOSET},
    {CLI_OPT_PASSPHRASE_FILE, "passphrase-file", "FILE",
     "passphrase of an encrypted key (else read from stdin when it is not a terminal)",
     CLI_KIND_STR, OFF(passphrase_file), NOSET},
    {CLI_OPT_HELP, "help", NULL, "show this help", CLI_KIND_FLAG, NOSET, NOSET},
    {CLI_OPT_FROM, "from", "KEY", "key (name in the keyring) that signs the tx", CLI_KIND_STR,
     OFF(from), NOSET},
    {CLI_OPT_MEMO, "memo", "TEXT", "tx memo", CLI_KIND_STR, OFF(memo), NOSET},
    {CLI_OPT_HOST_URI, "host-uri", "URI", "provider's public API URI", CLI_KIND_STR, OFF(host_uri),
     NOSET},
    {CLI_OPT_REGION, "region", "REGION", "provider's region (e.g. us-east)", CLI_KIND_STR,
     OFF(region), NOSET},
    {CLI_OPT_CERT_FILE, "cert-file", "PEM", "provider's root CA certificate (PEM file)",
     CLI_KIND_STR, OFF(cert_file), NOSET},
    {CLI_OPT_ATTR, "attr", "K=V", "provider attribute (repeatable)", CLI_KIND_REPEAT, OFF(attrs),
     OFF(attr_count)},
    {CLI_OPT_DSEQ, "dseq", "N", "deployment sequence (create: default the current height)",
     CLI_KIND_U64, OFF(dseq), OFF(dseq_set)},
    {CLI_OPT_GROUP, "group", "SPEC",
     "name=N,region=R,cpu=500m,memory=512Mi,storage=1Gi,count=2,price=40,collateral=5000"
     "[,persist] (repeatable)",
     CLI_KIND_REPEAT, OFF(groups), OFF(group_count)},
    {CLI_OPT_WAIT_BLOCKS, "wait-blocks", "N", "blocks to collect bids before matching",
     CLI_KIND_U64, OFF(wait_blocks), OFF(wait_blocks_set)},
    {CLI_OPT_DEPOSIT, "deposit", "AMOUNT", "escrow deposit (default: the chain's min_deposit)",
     CLI_KIND_AMOUNT, OFF(deposit_ukumo), OFF(deposit_set)},
    {CLI_OPT_VERSION_FILE, "version-file", "FILE", "manifest whose Merkle root is the version",
     CLI_KIND_STR, OFF(version_file), NOSET},
    {CLI_OPT_VERSION, "version", "HEX", "version as 64 hex digits", CLI_KIND_STR, OFF(version_hex),
     NOSET},
    {CLI_OPT_OWNER, "owner", "ADDR|KEY", "deployment owner", CLI_KIND_STR, OFF(owner), NOSET},
    {CLI_OPT_PRICE, "price", "AMOUNT",
     "bid price per unit per block, one per resource group (default: the order's)", CLI_KIND_REPEAT,
     OFF(prices), OFF(price_count)},
    {CLI_OPT_RELEASED, "released", NULL, "confirm that the lease's resources were released",
     CLI_KIND_FLAG, OFF(released), NOSET},
    {CLI_OPT_PROVIDER, "provider", "ADDR|KEY", "filter by provider", CLI_KIND_STR, OFF(provider),
     NOSET},
    {CLI_OPT_GRANTER, "granter", "ADDR|KEY", "the account that gave the grant", CLI_KIND_STR,
     OFF(granter), NOSET},
    {CLI_OPT_GRANTEE, "grantee", "ADDR|KEY", "the account the grant was given to", CLI_KIND_STR,
     OFF(grantee), NOSET},
    {CLI_OPT_STATE, "state", "STATE", "filter by state (e.g. active, open, closed)", CLI_KIND_STR,
     OFF(state), NOSET},
    {CLI_OPT_ORDER, "order", "ID", "filter by order id owner/dseq/gseq/oseq", CLI_KIND_STR,
     OFF(order), NOSET},
    {CLI_OPT_LIMIT, "limit", "N", "page size 1..1000", CLI_KIND_U64, OFF(limit), OFF(limit_set)},
    {CLI_OPT_PAGE, "page", "CURSOR", "page cursor printed by the previous page", CLI_KIND_STR,
     OFF(page), NOSET},
    {CLI_OPT_ALL, "all", NULL, "fetch every page", CLI_KIND_FLAG, OFF(all), NOSET},
    {CLI_OPT_ENCRYPT, "encrypt", NULL, "seal the key with a passphrase (see --passphrase-file)",
     CLI_KIND_FLAG, OFF(encrypt), NOSET},
    {CLI_OPT_UNSAFE_EXPORT_SEED, "unsafe-export-seed", NULL,
     "really print the secret seed (anyone who sees it owns the key)", CLI_KIND_FLAG,
     OFF(unsafe_export_seed), NOSET},
    {CLI_OPT_ADDRESS, "address", NULL, "print only the address", CLI_KIND_FLAG, OFF(address_only),
     NOSET},
    {CLI_OPT_TIMEOUT_MS, "timeout-ms", "MS", "with --wait: how long the node waits (max 60000)",
     CLI_KIND_U64, OFF(timeout_ms), NOSET},
    {CLI_OPT_REASON, "reason", "REASON",
     "why the manifest cannot run: image-missing, manifest-mismatch or other (default other)",
     CLI_KIND_STR, OFF(reason), NOSET},
    {CLI_OPT_DETAIL, "detail", "TEXT", "why, for the tenant (at most 256 bytes)", CLI_KIND_STR,
     OFF(detail), NOSET},
    {CLI_OPT_OFFER, "offer", "SPEC",
     "what the provider offers: price_cpu=40,price_memory=10,price_storage=1 (per core or GiB per "
     "block),cpu=8,memory=16Gi,storage=200Gi (free),collateral=1000kumo (budget left); alone it "
     "updates only the offer",
     CLI_KIND_STR, OFF(offer), NOSET},
    {CLI_OPT_ESCROW_WARN_BLOCKS, "escrow-warn-blocks", "N",
     "event deployment.escrow_low when the escrow covers fewer than N blocks (0: never; at "
     "create the default is 2 x reconfirmation_period; at most 10000000)",
     CLI_KIND_U64, OFF(escrow_warn_blocks), OFF(escrow_warn_set)},
    {CLI_OPT_FOLLOW, "follow", NULL, "keep following (reconnecting as needed) until interrupted",
     CLI_KIND_FLAG, OFF(follow), NOSET},
    {CLI_OPT_SINCE, "since", "TIME",
     "from TIME: RFC 3339 (2026-12-07T05:00:00Z), unix seconds, or ago (90s, 10m, 2h)",
     CLI_KIND_STR, OFF(since), NOSET},
    {CLI_OPT_TAIL, "tail", "N", "the last N lines of each instance (default 100)", CLI_KIND_U64,
     OFF(tail), OFF(tail_set)},
    {CLI_OPT_OUT, "out", "FILE", "write to FILE (also -o FILE) instead of stdout", CLI_KIND_STR,
     OFF(out), NOSET},
    {CLI_OPT_LISTEN, "listen", "HOST:PORT",
     "serve on this loopback address (default 127.0.0.1:0, a free port)", CLI_KIND_STR, OFF(listen),
     NOSET},
};

#define CLI_OPT_DEF_COUNT (sizeof(cli_opt_defs) / sizeof(cli_opt_defs[0]))

/* Options every client subcommand takes. */
static const int cli_global_opts[] = {CLI_OPT_HOME, CLI_OPT_NODE, CLI_OPT_OUTPUT, CLI_OPT_HELP,
                                      CLI_OPT_END};

static const cli_opt_def_t *cli_opt_def_find(int id)
{
    for (size_t i = 0; i < CLI_OPT_DEF_COUNT; i++) {
        if (cli_opt_defs[i].id == id) {
            return &cli_opt_defs[i];
        }
    }
    KUMO_UNREACHABLE();
}

const char *cli_hint(int code)
{
    switch (code) {
    case KUMO_ESEQUENCE:
        return "another tx from this key is pending or was just committed; retry";
    case KUMO_EFEE:
        return "raise --fee to at least the chain's min_fee (kumo query params)";
    case KUMO_EFUNDS:
        return "fund the account first (kumo tx bank send) or lower the amount";
    case KUMO_ECHAINID:
        return "sign for the node's chain: drop --chain-id or check kumo query status";
    case KUMO_EPASSPHRASE:
        return "check the passphrase (--passphrase-file FILE or stdin)";
    case KUMO_EUNAUTH:
        return "use the key that owns the object (--from), or fix the file mode as the detail says";
    case KUMO_ENOTFOUND:
        return "check the name or id (kumo keys list, kumo query ...)";
    case KUMO_EGRANTNONE:
    case KUMO_EGRANTSCOPE:
    case KUMO_EGRANTEXPIRED:
    case KUMO_EGRANTMSG:
        return "check the grant: kumo query grants --granter GRANTER --grantee GRANTEE";
    case KUMO_EGRANTPRICE:
    case KUMO_EGRANTCOUNT:
    case KUMO_EGRANTREGION:
    case KUMO_EGRANTSPEND:
        return "the msg breaks a limit of the grant (kumo query grants); only a new grant create "
               "by the granter changes it";
    case KUMO_EIO:
        return "is the node running (kumo node start)? set --node URL or KUMO_NODE";
    case KUMO_ETOOEARLY:
        return "wait a few blocks and retry";
    case KUMO_EDEPOSIT:
        return "raise --deposit to the chain's min_deposit (kumo query params)";
    case KUMO_EPRICE:
        return "bid at most the order's price (kumo query orders)";
    case KUMO_EREGION:
        return "bid only on orders in the provider's region";
    case KUMO_ESTATE:
        return "check the object's current state (kumo query ...)";
    case KUMO_EEXIST:
        return "it already exists: pick another name or dseq, or update it instead (an identical "
               "pending tx is never sent twice; vary --memo to send another)";
    case KUMO_ELIMIT:
        return "the node is busy or the input too large; retry later or send less";
    default:
        return NULL;
    }
}

int cli_fail(const char *what, const kumo_err_ctx_t *err)
{
    KUMO_ASSERT(what != NULL);
    KUMO_ASSERT(err != NULL);
    fprintf(stderr, "kumo: %s: %s", what, kumo_err_msg(err->code));
    if (err->detail[0] != '\0') {
        fprintf(stderr, ": %s", err->detail);
    }
    fprintf(stderr, " (%s)\n", kumo_err_name(err->code));
    const char *hint = cli_hint(err->code);
    if (hint != NULL) {
        fprintf(stderr, "  hint: %s\n", hint);
    }
    return CLI_EXIT_FAIL;
}

int cli_usage_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kumo %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'kumo %s --help' for usage.\n", cmd);
    return CLI_EXIT_USAGE;
}

static void cli_opt_line_print(FILE *out, const cli_opt_def_t *d)
{
    char left[64];
    int n = snprintf(left, sizeof(left), "--%s%s%s", d->name, d->metavar != NULL ? " " : "",
                     d->metavar != NULL ? d->metavar : "");
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(left));
    fprintf(out, "  %-26s %s\n", left, d->help);
}

static void cli_sub_help(FILE *out, const char *cmd, const cli_sub_t *s)
{
    fprintf(out, "usage: kumo %s %s%s%s %s\n\n%s\n\noptions:\n", cmd, s->group ? s->group : "",
            s->group ? " " : "", s->name, s->usage, s->summary);
    for (size_t i = 0; s->opts[i] != CLI_OPT_END; i++) {
        cli_opt_line_print(out, cli_opt_def_find(s->opts[i]));
    }
    fprintf(out, "\nglobal options:\n");
    for (size_t i = 0; cli_global_opts[i] != CLI_OPT_END; i++) {
        cli_opt_line_print(out, cli_opt_def_find(cli_global_opts[i]));
    }
    fprintf(out, "\nexample:\n  %s\n", s->example);
}

static void
cli_cmd_help(FILE *out, const char *cmd, const char *summary, const cli_sub_t *subs, size_t n)
{
    fprintf(out, "usage: kumo %s <subcommand> [options]\n\n%s\n\nsubcommands:\n", cmd, summary);
    for (size_t i = 0; i < n; i++) {
        char left[64];
        int w = snprintf(left, sizeof(left), "%s%s%s", subs[i].group ? subs[i].group : "",
                         subs[i].group ? " " : "", subs[i].name);
        KUMO_ASSERT(w > 0 && (size_t)w < sizeof(left));
        fprintf(out, "  %-22s %s\n", left, subs[i].summary);
    }
    fprintf(out, "\nRun 'kumo %s <subcommand> --help' for its options and an example.\n", cmd);
}

static void cli_args_defaults(cli_args_t *a)
{
    memset(a, 0, sizeof(*a));
    const char *env_node = getenv("KUMO_NODE");
    a->node = env_node != NULL && env_node[0] != '\0' ? env_node : CLI_NODE_DEFAULT;
    const char *home = getenv("HOME");
    int n = snprintf(a->home_buf, sizeof(a->home_buf), "%s/.kumo",
                     home != NULL && home[0] != '\0' ? home : ".");
    KUMO_ASSERT(n > 0);
    a->home = (size_t)n < sizeof(a->home_buf) ? a->home_buf : ".kumo";
}

static int cli_num_opt(const char *cmd, const cli_opt_def_t *d, const char *text, uint64_t *out)
{
    kumo_err_ctx_t err = {0};
    int rc = d->kind == CLI_KIND_AMOUNT ? cli_amount_parse(text, out, &err)
                                        : cli_u64_parse(text, d->name, out, &err);
    if (rc < 0) {
        return cli_usage_fail(cmd, "--%s: %s", d->name, err.detail);
    }
    return 0;
}

/* Stores one parsed option; returns 0 or an exit code. */
static int cli_opt_store(cli_args_t *a, const char *cmd, const cli_opt_def_t *d, const char *v)
{
    KUMO_ASSERT(d->off != NOSET);
    KUMO_ASSERT(d->off < sizeof(*a));
    char *base = (char *)a;
    switch (d->kind) {
    case CLI_KIND_STR:
        memcpy(base + d->off, &v, sizeof(v));
        return 0;
    case CLI_KIND_FLAG:
        *(bool *)(void *)(base + d->off) = true;
        return 0;
    case CLI_KIND_U64:
    case CLI_KIND_AMOUNT:
        if (d->set_off != NOSET) {
            *(bool *)(void *)(base + d->set_off) = true;
        }
        return cli_num_opt(cmd, d, v, (uint64_t *)(void *)(base + d->off));
    case CLI_KIND_REPEAT: {
        size_t *count = (size_t *)(void *)(base + d->set_off);
        if (*count >= CLI_REPEAT_MAX) {
            return cli_usage_fail(cmd, "--%s given more than %u times", d->name, CLI_REPEAT_MAX);
        }
        const char **arr = (const char **)(void *)(base + d->off);
        arr[(*count)++] = v;
        return 0;
    }
    case CLI_KIND_OUTPUT:
        if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0) {
            return cli_usage_fail(cmd, "--output must be text or json, not '%s'", v);
        }
        a->output = strcmp(v, "json") == 0 ? CLI_OUTPUT_JSON : CLI_OUTPUT_TEXT;
        return 0;
    default:
        KUMO_UNREACHABLE();
    }
}

/* Checks relations between options after parsing; returns 0 or an exit code. */
static int cli_args_check(const cli_args_t *a, const char *cmd)
{
    if (a->limit_set && (a->limit == 0 || a->limit > KUMO_QUERY_PAGE_COUNT_MAX)) {
        return cli_usage_fail(cmd, "--limit must be 1..%u", KUMO_QUERY_PAGE_COUNT_MAX);
    }
    if (a->version_file != NULL && a->version_hex != NULL) {
        return cli_usage_fail(cmd, "give --version-file or --version, not both");
    }
    return 0;
}

/* Builds the getopt table from the subcommand's and the global options. */
static size_t cli_longopts_build(const cli_sub_t *s, struct option *lo, size_t cap)
{
    size_t n = 0;
    const int *lists[2] = {s->opts, cli_global_opts};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l][i] != CLI_OPT_END; i++) {
            KUMO_ASSERT(n + 1 < cap);
            const cli_opt_def_t *d = cli_opt_def_find(lists[l][i]);
            lo[n].name = d->name;
            lo[n].has_arg = d->metavar != NULL ? required_argument : no_argument;
            lo[n].flag = NULL;
            lo[n].val = d->id;
            n++;
        }
    }
    memset(&lo[n], 0, sizeof(lo[n]));
    return n;
}

/* Parses argv (argv[0] is the subcommand name) into a; returns -1 to go on, else an exit
 * code (help printed or usage error). */
static int cli_args_parse(const char *cmd, const cli_sub_t *s, int argc, char **argv, cli_args_t *a)
{
    struct option lo[CLI_OPT_LAST_ - CLI_OPT_HOME + 2];
    (void)cli_longopts_build(s, lo, sizeof(lo) / sizeof(lo[0]));
    cli_args_defaults(a);
    char full[96];
    (void)snprintf(full, sizeof(full), "%s %s%s%s", cmd, s->group ? s->group : "",
                   s->group ? " " : "", s->name);
    optind = 1;
    opterr = 0;
    while (optind < argc) {
        const char *arg = argv[optind];
        /* Options and positional arguments may come in any order. */
        if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0) {
            bool rest = strcmp(arg, "--") == 0;
            optind += rest ? 1 : 0;
            int end = rest ? argc : optind + 1;
            for (; optind < end; optind++) {
                if (a->pos_count >= CLI_POSITIONAL_MAX) {
                    return cli_usage_fail(full, "more than %u arguments", CLI_POSITIONAL_MAX);
                }
                a->pos[a->pos_count++] = argv[optind];
            }
            continue;
        }
        int c = getopt_long(argc, argv, "+:h", lo, NULL);
        if (c == -1) {
            break;
        }
        if (c == 'h' || c == CLI_OPT_HELP) {
            cli_sub_help(stdout, cmd, s);
            return CLI_EXIT_OK;
        }
        if (c == '?') {
            return cli_usage_fail(full, "unknown option '%s'", arg);
        }
        if (c == ':') {
            return cli_usage_fail(full, "option '%s' needs a value", arg);
        }
        int rc = cli_opt_store(a, full, cli_opt_def_find(c), optarg);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = cli_args_check(a, full);
    if (rc != 0) {
        return rc;
    }
    if (a->pos_count < s->pos_min || a->pos_count > s->pos_max) {
        return cli_usage_fail(full, "expected %s", s->usage);
    }
    return -1;
}

int cli_dispatch(const char *cmd,
                 const char *cmd_summary,
                 const cli_sub_t *subs,
                 size_t sub_count,
                 int argc,
                 char **argv)
{
    KUMO_ASSERT(argc >= 1);
    KUMO_ASSERT(sub_count > 0);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_cmd_help(argc < 2 ? stderr : stdout, cmd, cmd_summary, subs, sub_count);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    bool group_known = false;
    for (size_t i = 0; i < sub_count; i++) {
        const cli_sub_t *s = &subs[i];
        int skip = 1;
        if (s->group != NULL) {
            if (strcmp(argv[1], s->group) != 0) {
                continue;
            }
            group_known = true;
            if (argc < 3) {
                continue;
            }
            skip = 2;
        }
        if (strcmp(argv[skip], s->name) != 0) {
            continue;
        }
        cli_args_t *a = calloc(1, sizeof(*a));
        if (a == NULL) {
            fprintf(stderr, "kumo: out of memory\n");
            return CLI_EXIT_FAIL;
        }
        int rc = cli_args_parse(cmd, s, argc - skip, argv + skip, a);
        if (rc < 0) {
            rc = s->run(a);
        }
        free(a);
        return rc;
    }
    if (group_known && (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0 ||
                        strcmp(argv[2], "help") == 0)) {
        cli_cmd_help(argc < 3 ? stderr : stdout, cmd, cmd_summary, subs, sub_count);
        return argc < 3 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    fprintf(stderr, "kumo %s: unknown subcommand '%s%s%s'\n\n", cmd, argv[1],
            group_known ? " " : "", group_known ? argv[2] : "");
    cli_cmd_help(stderr, cmd, cmd_summary, subs, sub_count);
    return CLI_EXIT_USAGE;
}
