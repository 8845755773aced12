/*
 * cmd_query.c - `kumo query ...`: reads chain state from the node API (docs/api.md). Text
 * output is a table per list (ids and addresses in full, amounts with units) or aligned
 * key/value lines per object; --output json prints the API's JSON unchanged (with --all, one
 * {"items": [...], "next": null} of every page). Filters map to query parameters.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static const int q_none_opts[] = {CLI_OPT_END};
static const int q_owner_opts[] = {CLI_OPT_OWNER, CLI_OPT_END};
static const int q_providers_opts[] = {CLI_OPT_LIMIT, CLI_OPT_PAGE, CLI_OPT_ALL, CLI_OPT_END};
static const int q_deployments_opts[] = {CLI_OPT_OWNER, CLI_OPT_STATE, CLI_OPT_LIMIT,
                                         CLI_OPT_PAGE,  CLI_OPT_ALL,   CLI_OPT_END};
static const int q_orders_opts[] = {CLI_OPT_OWNER, CLI_OPT_DSEQ, CLI_OPT_STATE, CLI_OPT_LIMIT,
                                    CLI_OPT_PAGE,  CLI_OPT_ALL,  CLI_OPT_END};
static const int q_fulfillments_opts[] = {CLI_OPT_ORDER, CLI_OPT_PROVIDER, CLI_OPT_STATE,
                                          CLI_OPT_LIMIT, CLI_OPT_PAGE,     CLI_OPT_ALL,
                                          CLI_OPT_END};
static const int q_grants_opts[] = {CLI_OPT_GRANTER, CLI_OPT_GRANTEE, CLI_OPT_LIMIT,
                                    CLI_OPT_PAGE,    CLI_OPT_ALL,     CLI_OPT_END};
static const int q_leases_opts[] = {CLI_OPT_OWNER, CLI_OPT_PROVIDER, CLI_OPT_DSEQ,
                                    CLI_OPT_ORDER, CLI_OPT_STATE,    CLI_OPT_LIMIT,
                                    CLI_OPT_PAGE,  CLI_OPT_ALL,      CLI_OPT_END};

typedef char cli_row_t[CLI_TABLE_CELL_BYTES];

/* How one kind of object is listed. */
typedef struct q_kind {
    const char *path;         /* "/leases" */
    const char *state_prefix; /* "LEASE_", NULL: no state filter */
    const char *headers[CLI_TABLE_COLUMN_MAX];
    size_t column_count;
    void (*row_fill)(const json_t *item, cli_row_t *row);
} q_kind_t;

/* ---- cells ---- */

static void q_order_id_text(const json_t *oid, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/%" PRIu64 "/%" PRIu64 "/%" PRIu64, cli_json_str(oid, "owner"),
                   cli_json_u64(oid, "dseq"), cli_json_u64(oid, "gseq"), cli_json_u64(oid, "oseq"));
}

static void q_lease_id_text(const json_t *lid, char *out, size_t cap)
{
    char order[CLI_TABLE_CELL_BYTES];
    q_order_id_text(json_object_get(lid, "order"), order, sizeof(order));
    /* Ids are at most KUMO_ID_TEXT_BYTES, well within a cell; a cut id would still be marked
     * by its missing tail, so truncation needs no other handling. */
    int n = snprintf(out, cap, "%s/%s", order, cli_json_str(lid, "provider"));
    KUMO_ASSERT(n > 0);
}

static void q_amount_cell(const json_t *item, const char *key, char *out)
{
    cli_amount_format(cli_json_u64(item, key), out, CLI_TABLE_CELL_BYTES);
}

static void q_state_cell(const json_t *item, const char *prefix, char *out)
{
    const char *s = cli_json_str(item, "state");
    size_t n = strlen(prefix);
    (void)snprintf(out, CLI_TABLE_CELL_BYTES, "%s", strncmp(s, prefix, n) == 0 ? s + n : s);
}

/* "2 x 500m cpu 512Mi mem 1Gi disk @ 40 ukumo" per resource group, joined by "; ". */
static void q_resources_cell(const json_t *resources, char *out)
{
    size_t used = 0;
    size_t i;
    const json_t *rg;
    out[0] = '\0';
    json_array_foreach(resources, i, rg)
    {
        const json_t *cu = json_object_get(rg, "compute");
        char cpu[32];
        char mem[32];
        char disk[32];
        cli_cpu_format(cli_json_u64(cu, "cpu_milli"), cpu, sizeof(cpu));
        cli_size_format(cli_json_u64(cu, "memory_bytes"), mem, sizeof(mem));
        cli_size_format(cli_json_u64(cu, "storage_bytes"), disk, sizeof(disk));
        int n =
            snprintf(out + used, CLI_TABLE_CELL_BYTES - used,
                     "%s%" PRIu64 " x %s cpu %s mem %s disk @ %" PRIu64 " ukumo", i > 0 ? "; " : "",
                     cli_json_u64(rg, "count"), cpu, mem, disk, cli_json_u64(rg, "price"));
        if (n < 0 || (size_t)n >= CLI_TABLE_CELL_BYTES - used) {
            return;
        }
        used += (size_t)n;
    }
}

static void q_provider_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "owner"));
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "region"));
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "host_uri"));
    (void)snprintf(row[3], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "open_bid_count"));
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "live_lease_count"));
}

static void q_deployment_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s/%" PRIu64, cli_json_str(it, "owner"),
                   cli_json_u64(it, "dseq"));
    q_state_cell(it, "DEPLOYMENT_", row[1]);
    q_amount_cell(it, "escrow", row[2]);
    q_amount_cell(it, "total_paid", row[3]);
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "group_count"));
    (void)snprintf(row[5], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "created_height"));
    cli_end_format(it, "closing_height", row[6], CLI_TABLE_CELL_BYTES);
}

static void q_group_row(const json_t *it, cli_row_t *row)
{
    const json_t *spec = json_object_get(it, "spec");
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s/%" PRIu64 "/%" PRIu64,
                   cli_json_str(it, "owner"), cli_json_u64(it, "dseq"), cli_json_u64(it, "gseq"));
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(spec, "name"));
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(spec, "region"));
    q_state_cell(it, "GROUP_", row[3]);
    const char *prov = cli_json_str(it, "lease_provider");
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%s", prov[0] != '\0' ? prov : "-");
    cli_end_format(it, "closed_height", row[5], CLI_TABLE_CELL_BYTES);
}

static void q_order_row(const json_t *it, cli_row_t *row)
{
    q_order_id_text(json_object_get(it, "id"), row[0], CLI_TABLE_CELL_BYTES);
    q_state_cell(it, "ORDER_", row[1]);
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "region"));
    q_resources_cell(json_object_get(it, "resources"), row[3]);
    q_amount_cell(it, "price_total", row[4]);
    (void)snprintf(row[5], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "bid_count"));
    cli_end_format(it, "closed_height", row[6], CLI_TABLE_CELL_BYTES);
}

static void q_fulfillment_row(const json_t *it, cli_row_t *row)
{
    q_lease_id_text(json_object_get(it, "id"), row[0], CLI_TABLE_CELL_BYTES);
    q_state_cell(it, "FULFILLMENT_", row[1]);
    q_amount_cell(it, "price_total", row[2]);
    q_amount_cell(it, "collateral_total", row[3]);
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "created_height"));
}

static void q_lease_row(const json_t *it, cli_row_t *row)
{
    q_lease_id_text(json_object_get(it, "id"), row[0], CLI_TABLE_CELL_BYTES);
    q_state_cell(it, "LEASE_", row[1]);
    q_amount_cell(it, "price_total", row[2]);
    q_amount_cell(it, "total_paid", row[3]);
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%" PRIu64,
                   cli_json_u64(it, "last_confirmed_height"));
    /* A closing lease has its reason but no end yet: it ends when released. */
    const char *height_key =
        strcmp(cli_json_str(it, "state"), "LEASE_CLOSING") == 0 ? "closing_height" : "ended_height";
    cli_end_format(it, height_key, row[5], CLI_TABLE_CELL_BYTES);
}

/* A grant's msg types (Msg field numbers) by their CLI names. */
static void q_grant_msgs_cell(const json_t *types, char *cell)
{
    static const char *const names[] = {"", "", "", "", "", "create", "update", "deposit", "close"};
    size_t pos = 0;
    size_t i;
    const json_t *t;
    cell[0] = '\0';
    json_array_foreach(types, i, t)
    {
        json_int_t v = json_integer_value(t);
        const char *name = v >= 5 && v <= 8 ? names[v] : "?";
        int n = snprintf(cell + pos, CLI_TABLE_CELL_BYTES - pos, "%s%s", i > 0 ? "," : "", name);
        if (n < 0 || (size_t)n >= CLI_TABLE_CELL_BYTES - pos) {
            return;
        }
        pos += (size_t)n;
    }
}

static void q_grant_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "granter"));
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "grantee"));
    uint64_t dseq = cli_json_u64(it, "dseq");
    if (dseq == 0) {
        (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "all");
    } else {
        (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%" PRIu64, dseq);
    }
    q_grant_msgs_cell(json_object_get(it, "msg_types"), row[3]);
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%" PRIu64 "/%" PRIu64 " ukumo",
                   cli_json_u64(it, "spend_used"), cli_json_u64(it, "spend_limit"));
    (void)snprintf(row[5], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "expiry_height"));
}

static const q_kind_t q_grants = {
    "/grants",
    NULL,
    {"GRANTER", "GRANTEE", "SCOPE", "MSGS", "SPENT/LIMIT", "EXPIRES AT"},
    6,
    q_grant_row};
static const q_kind_t q_providers = {"/providers",
                                     NULL,
                                     {"OWNER", "REGION", "HOST URI", "OPEN BIDS", "LIVE LEASES"},
                                     5,
                                     q_provider_row};
static const q_kind_t q_deployments = {
    "/deployments",
    "DEPLOYMENT_",
    {"DEPLOYMENT", "STATE", "ESCROW", "PAID", "GROUPS", "CREATED AT", "ENDED (why at)"},
    7,
    q_deployment_row};
static const q_kind_t q_groups = {
    "/groups",
    "GROUP_",
    {"GROUP", "NAME", "REGION", "STATE", "LEASED TO", "CLOSED (why at)"},
    6,
    q_group_row};
static const q_kind_t q_orders = {"/orders",
                                  "ORDER_",
                                  {"ORDER", "STATE", "REGION",
                                   "RESOURCES (count x unit @ max price/unit/block)",
                                   "MAX PRICE/BLOCK", "BIDS", "CLOSED (why at)"},
                                  7,
                                  q_order_row};
static const q_kind_t q_fulfillments = {
    "/fulfillments",
    "FULFILLMENT_",
    {"FULFILLMENT (order/provider)", "STATE", "PRICE/BLOCK", "COLLATERAL", "CREATED AT"},
    5,
    q_fulfillment_row};
static const q_kind_t q_leases = {
    "/leases",
    "LEASE_",
    {"LEASE (order/provider)", "STATE", "PRICE/BLOCK", "PAID", "CONFIRMED AT", "ENDED (why at)"},
    6,
    q_lease_row};
static void q_staking_validator_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "address"));
    q_amount_cell(it, "tokens", row[1]);
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%" PRIu64 " ppm",
                   cli_json_u64(it, "commission_rate_ppm"));
    bool jailed = json_is_true(json_object_get(it, "jailed"));
    bool tomb = json_is_true(json_object_get(it, "tombstoned"));
    (void)snprintf(row[3], CLI_TABLE_CELL_BYTES, "%s",
                   tomb     ? "tombstoned"
                   : jailed ? "jailed"
                            : "bonded");
    (void)snprintf(row[4], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "moniker"));
}

static void q_delegation_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "validator"));
    q_amount_cell(it, "tokens", row[1]);
    q_amount_cell(it, "rewards", row[2]);
}

static void q_unbonding_row(const json_t *it, cli_row_t *row)
{
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(it, "validator"));
    q_amount_cell(it, "balance", row[1]);
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%" PRIu64, cli_json_u64(it, "completion_height"));
}

static const q_kind_t q_validators = {"/staking/validators",
                                      NULL,
                                      {"OPERATOR", "BONDED", "COMMISSION", "STATUS", "MONIKER"},
                                      5,
                                      q_staking_validator_row};
static const q_kind_t q_delegations = {
    "/staking/delegations", NULL, {"VALIDATOR", "BONDED", "REWARDS"}, 3, q_delegation_row};
static const q_kind_t q_unbondings = {
    "/staking/unbondings", NULL, {"VALIDATOR", "BALANCE", "RETURNS AT"}, 3, q_unbonding_row};

/* ---- fetching ---- */

static int q_addr_param(const cli_args_t *a,
                        char *path,
                        size_t cap,
                        const char *key,
                        const char *text,
                        kumo_err_ctx_t *err)
{
    if (text == NULL) {
        return 0;
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
    KUMO_GUARD(cli_address_resolve(a, text, addr, err));
    kumo_codec_address_encode(addr, addr_text);
    return kumo_client_path_param_add(path, cap, key, addr_text, err);
}

/* The list path with every filter the options give. */
static int
q_list_path(const cli_args_t *a, const q_kind_t *k, char *path, size_t cap, kumo_err_ctx_t *err)
{
    (void)snprintf(path, cap, "%s", k->path);
    KUMO_GUARD(q_addr_param(a, path, cap, "owner", a->owner, err));
    KUMO_GUARD(q_addr_param(a, path, cap, "provider", a->provider, err));
    KUMO_GUARD(q_addr_param(a, path, cap, "granter", a->granter, err));
    KUMO_GUARD(q_addr_param(a, path, cap, "grantee", a->grantee, err));
    char num[24];
    (void)snprintf(num, sizeof(num), "%" PRIu64, a->dseq);
    KUMO_GUARD(kumo_client_path_param_add(path, cap, "dseq", a->dseq_set ? num : NULL, err));
    if (a->order != NULL) {
        char order[KUMO_ID_TEXT_BYTES];
        uint8_t owner[KUMO_ADDRESS_BYTES];
        Kumo__OrderId id = KUMO__ORDER_ID__INIT;
        KUMO_GUARD(cli_id_canonicalize(a, a->order, order, sizeof(order), err));
        KUMO_GUARD(kumo_codec_order_id_parse(order, owner, &id, err));
        KUMO_GUARD(kumo_client_path_param_add(path, cap, "order", order, err));
    }
    if (a->state != NULL) {
        char state[80];
        KUMO_ASSERT(k->state_prefix != NULL);
        KUMO_GUARD(cli_state_normalize(a->state, k->state_prefix, state, sizeof(state), err));
        KUMO_GUARD(kumo_client_path_param_add(path, cap, "state", state, err));
    }
    (void)snprintf(num, sizeof(num), "%" PRIu64, a->limit);
    return kumo_client_path_param_add(path, cap, "limit", a->limit_set ? num : NULL, err);
}

/* Fetches one page (or every page with --all) into *items; *next gets the cursor or "". */
static int q_pages_fetch(const cli_args_t *a,
                         const char *base,
                         json_t *items,
                         char *next,
                         size_t next_cap,
                         kumo_err_ctx_t *err)
{
    (void)snprintf(next, next_cap, "%s", a->page != NULL ? a->page : "");
    for (;;) {
        char path[1024];
        (void)snprintf(path, sizeof(path), "%s", base);
        KUMO_GUARD(
            kumo_client_path_param_add(path, sizeof(path), "page", next[0] ? next : NULL, err));
        json_t *page = NULL;
        KUMO_GUARD(cli_http_get(a, path, &page, err));
        int rc = json_array_extend(items, json_object_get(page, "items")) == 0
                     ? 0
                     : kumo_err_set(err, KUMO_EDECODE, "GET %s: no items array", path);
        const char *n = json_string_value(json_object_get(page, "next"));
        (void)snprintf(next, next_cap, "%s", n != NULL ? n : "");
        json_decref(page);
        KUMO_GUARD(rc);
        if (!a->all || next[0] == '\0') {
            return 0;
        }
    }
}

static int
q_list_print(const cli_args_t *a, const q_kind_t *k, const json_t *items, const char *next)
{
    if (a->output == CLI_OUTPUT_JSON) {
        json_t *out = json_pack("{s:O,s:s?}", "items", items, "next", next[0] ? next : NULL);
        cli_json_print(out, stdout);
        json_decref(out);
        return CLI_EXIT_OK;
    }
    cli_table_t t;
    cli_table_init(&t, k->headers, k->column_count);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        char(*row)[CLI_TABLE_CELL_BYTES] = NULL;
        if (cli_table_row_add(&t, &row) < 0) {
            cli_table_free(&t);
            fprintf(stderr, "kumo: out of memory\n");
            return CLI_EXIT_FAIL;
        }
        k->row_fill(it, row);
    }
    if (t.row_count == 0) {
        printf("(none)\n");
    } else {
        cli_table_print(&t, stdout);
    }
    cli_table_free(&t);
    if (next[0] != '\0') {
        fprintf(stderr, "more: add --page %s (or --all)\n", next);
    }
    return CLI_EXIT_OK;
}

static int q_list_run(const cli_args_t *a, const q_kind_t *k)
{
    kumo_err_ctx_t err = {0};
    char base[768];
    if (q_list_path(a, k, base, sizeof(base), &err) < 0) {
        char cmd[32];
        (void)snprintf(cmd, sizeof(cmd), "query %s", k->path + 1);
        return err.code == KUMO_EINVAL ? cli_usage_fail(cmd, "%s", err.detail)
                                       : cli_fail(cmd, &err);
    }
    json_t *items = json_array();
    char next[KUMO_KEY_BYTES_MAX * 2 + 1];
    int rc;
    if (items == NULL) {
        rc = CLI_EXIT_FAIL;
    } else if (q_pages_fetch(a, base, items, next, sizeof(next), &err) < 0) {
        rc = cli_fail(k->path + 1, &err);
    } else {
        rc = q_list_print(a, k, items, next);
    }
    json_decref(items);
    return rc;
}

static int q_object_run(const cli_args_t *a, const char *path, const char *what)
{
    kumo_err_ctx_t err = {0};
    json_t *j = NULL;
    if (cli_http_get(a, path, &j, &err) < 0) {
        return cli_fail(what, &err);
    }
    if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(j, stdout);
    } else {
        cli_object_print(j, stdout);
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

/* GET <prefix>/<address of pos[0]>. */
static int q_by_address_run(const cli_args_t *a, const char *prefix, const char *what)
{
    kumo_err_ctx_t err = {0};
    uint8_t addr[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], addr, &err) < 0) {
        return cli_fail(what, &err);
    }
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, text);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/%s", prefix, text);
    return q_object_run(a, path, what);
}

/* ---- subcommands ---- */

static int q_account_run(cli_args_t *a)
{
    return q_by_address_run(a, "/accounts", "account");
}

/* The provider with its audits ("audits": what each auditor signed, from GET /audits). */
static int q_provider_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t addr[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], addr, &err) < 0) {
        return cli_fail("provider", &err);
    }
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, text);
    char path[160];
    (void)snprintf(path, sizeof(path), "/providers/%s", text);
    json_t *p = NULL;
    json_t *audits = NULL;
    if (cli_http_get(a, path, &p, &err) < 0) {
        return cli_fail("provider", &err);
    }
    (void)snprintf(path, sizeof(path), "/audits?provider=%s&limit=%u", text,
                   KUMO_QUERY_PAGE_COUNT_MAX);
    if (cli_http_get(a, path, &audits, &err) < 0) {
        json_decref(p);
        return cli_fail("provider audits", &err);
    }
    json_object_set(p, "audits", json_object_get(audits, "items"));
    json_decref(audits);
    if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(p, stdout);
    } else {
        cli_object_print(p, stdout);
    }
    json_decref(p);
    return CLI_EXIT_OK;
}

static int q_deployment_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    if (strchr(a->pos[0], '/') != NULL) {
        char id[KUMO_ID_TEXT_BYTES];
        if (cli_id_canonicalize(a, a->pos[0], id, sizeof(id), &err) < 0 ||
            kumo_codec_deployment_id_parse(id, owner, &dseq, &err) < 0) {
            return cli_usage_fail("query deployment", "%s", err.detail);
        }
    } else if (a->owner == NULL || cli_u64_parse(a->pos[0], "DSEQ", &dseq, &err) < 0) {
        return cli_usage_fail("query deployment", "give OWNER/DSEQ, or DSEQ with --owner");
    } else if (cli_address_resolve(a, a->owner, owner, &err) < 0) {
        return cli_fail("deployment", &err);
    }
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, text);
    char path[128];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, text, dseq);
    return q_object_run(a, path, "deployment");
}

static int q_providers_run(cli_args_t *a)
{
    return q_list_run(a, &q_providers);
}

static int q_deployments_run(cli_args_t *a)
{
    return q_list_run(a, &q_deployments);
}

static int q_groups_run(cli_args_t *a)
{
    return q_list_run(a, &q_groups);
}

static int q_orders_run(cli_args_t *a)
{
    return q_list_run(a, &q_orders);
}

static int q_fulfillments_run(cli_args_t *a)
{
    return q_list_run(a, &q_fulfillments);
}

static int q_leases_run(cli_args_t *a)
{
    return q_list_run(a, &q_leases);
}

static int q_grants_run(cli_args_t *a)
{
    return q_list_run(a, &q_grants);
}

static int q_validators_run(cli_args_t *a)
{
    return q_list_run(a, &q_validators);
}

static int q_validator_run(cli_args_t *a)
{
    return q_by_address_run(a, "/staking/validators", "validator");
}

/* A delegator's staking list (delegations, unbondings): GET <k->path>/<address>. */
static int q_staking_list_run(const cli_args_t *a, const q_kind_t *k, const char *what)
{
    kumo_err_ctx_t err = {0};
    uint8_t addr[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], addr, &err) < 0) {
        return cli_fail(what, &err);
    }
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, text);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/%s", k->path, text);
    json_t *j = NULL;
    if (cli_http_get(a, path, &j, &err) < 0) {
        return cli_fail(what, &err);
    }
    int rc = q_list_print(a, k, json_object_get(j, "items"), "");
    json_decref(j);
    return rc;
}

static int q_delegations_run(cli_args_t *a)
{
    return q_staking_list_run(a, &q_delegations, "delegations");
}

static int q_unbondings_run(cli_args_t *a)
{
    return q_staking_list_run(a, &q_unbondings, "unbondings");
}

static int q_params_run(cli_args_t *a)
{
    return q_object_run(a, "/params", "params");
}

static int q_status_run(cli_args_t *a)
{
    return q_object_run(a, "/status", "status");
}

static int q_tx_run(cli_args_t *a)
{
    const char *h = a->pos[0];
    size_t len = strlen(h);
    if (len != 2 * KUMO_CHAIN_HASH_BYTES || strspn(h, "0123456789abcdefABCDEF") != len) {
        return cli_usage_fail("query tx", "HASH must be %u hex digits", 2 * KUMO_CHAIN_HASH_BYTES);
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/txs/%s", h);
    return q_object_run(a, path, "tx");
}

static int q_block_run(cli_args_t *a)
{
    const char *h = a->pos_count > 0 ? a->pos[0] : "latest";
    uint64_t height = 0;
    kumo_err_ctx_t err = {0};
    if (strcmp(h, "latest") != 0 && cli_u64_parse(h, "HEIGHT", &height, &err) < 0) {
        return cli_usage_fail("query block", "HEIGHT must be a number or latest");
    }
    char path[64];
    (void)snprintf(path, sizeof(path), "/blocks/%s", h);
    return q_object_run(a, path, "block");
}

static const cli_sub_t q_subs[] = {
    {NULL, "status", "", "the node: chain id, height, app hash, mempool", "kumo query status",
     q_none_opts, 0, 0, q_status_run},
    {NULL, "account", "ADDR|KEY", "balance and sequence of an account", "kumo query account alice",
     q_none_opts, 1, 1, q_account_run},
    {NULL, "provider", "ADDR|KEY", "one provider, its attributes and what auditors signed for it",
     "kumo query provider dc1", q_none_opts, 1, 1, q_provider_run},
    {NULL, "providers", "", "every provider", "kumo query providers --limit 50", q_providers_opts,
     0, 0, q_providers_run},
    {NULL, "deployment", "OWNER/DSEQ | DSEQ --owner ADDR|KEY", "one deployment",
     "kumo query deployment 42 --owner alice", q_owner_opts, 1, 1, q_deployment_run},
    {NULL, "deployments", "", "deployments, by owner and state",
     "kumo query deployments --owner alice --state active", q_deployments_opts, 0, 0,
     q_deployments_run},
    {NULL, "groups", "", "deployment groups, by owner and dseq",
     "kumo query groups --owner alice --dseq 42", q_orders_opts, 0, 0, q_groups_run},
    {NULL, "orders", "", "orders, by owner, dseq and state", "kumo query orders --state open",
     q_orders_opts, 0, 0, q_orders_run},
    {NULL, "fulfillments", "", "bids, by order, provider and state",
     "kumo query fulfillments --provider dc1 --state open", q_fulfillments_opts, 0, 0,
     q_fulfillments_run},
    {NULL, "leases", "", "leases, by owner, provider, dseq, order and state",
     "kumo query leases --owner alice --state active", q_leases_opts, 0, 0, q_leases_run},
    {NULL, "grants", "", "grants, by granter and grantee: what a grantee may do for a granter",
     "kumo query grants --granter alice --grantee ops", q_grants_opts, 0, 0, q_grants_run},
    {NULL, "params", "", "the chain's market parameters", "kumo query params", q_none_opts, 0, 0,
     q_params_run},
    {NULL, "validators", "", "every validator: bonded stake, commission, jailed or not",
     "kumo query validators", q_none_opts, 0, 0, q_validators_run},
    {NULL, "validator", "ADDR|KEY", "one validator (by operator)", "kumo query validator op",
     q_none_opts, 1, 1, q_validator_run},
    {NULL, "delegations", "ADDR|KEY", "a delegator's stake per validator, with its rewards",
     "kumo query delegations alice", q_none_opts, 1, 1, q_delegations_run},
    {NULL, "rewards", "ADDR|KEY", "the rewards a delegator can withdraw (per validator)",
     "kumo query rewards alice", q_none_opts, 1, 1, q_delegations_run},
    {NULL, "unbondings", "ADDR|KEY", "a delegator's unbonding stake and when it returns",
     "kumo query unbondings alice", q_none_opts, 1, 1, q_unbondings_run},
    {NULL, "tx", "HASH", "a tx: committed result and events, or pending", "kumo query tx 5f3a...",
     q_none_opts, 1, 1, q_tx_run},
    {NULL, "block", "[HEIGHT|latest]", "a block header, its txs and results",
     "kumo query block latest", q_none_opts, 0, 1, q_block_run},
};

int kumo_cli_query_main(int argc, char **argv)
{
    return cli_dispatch("query", "Read chain state from a node (--node URL).", q_subs,
                        sizeof(q_subs) / sizeof(q_subs[0]), argc, argv);
}
