/*
 * cmd_deploy.c - `kumo deploy create|update|deposit|status|logs|events|shell|close STACK.yml`: a
 * stack file to running endpoints (docs/stack.md, "kumo deploy"). create submits the deployment,
 * follows orders, bids and leases on the node's event stream, sends the manifest to every lease's
 * provider, waits until every workload runs and prints the endpoints; the deployment it made
 * is remembered next to the stack (.kumo-deploy-<file>.json, 0600) for the other
 * subcommands, which also take --dseq N. With --granter G every subcommand but shell acts for
 * G's deployment as G's grantee (--from, or $KUMO_KEY): its msgs in a MsgExec for G, G the
 * owner of paths, queries and events, the providers called with the grantee's certificate.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/deploy_int.h"
#include "market/market.h"

#define DEPLOY_TX_OPTS                                                                  \
    CLI_OPT_FROM, CLI_OPT_CHAIN_ID, CLI_OPT_FEE, CLI_OPT_PASSPHRASE_FILE, CLI_OPT_MEMO, \
        CLI_OPT_TIMEOUT_MS, CLI_OPT_DSEQ, CLI_OPT_GRANTER

static const int deploy_tx_opts[] = {DEPLOY_TX_OPTS, CLI_OPT_END};
static const int deploy_create_opts[] = {DEPLOY_TX_OPTS, CLI_OPT_ESCROW_WARN_BLOCKS, CLI_OPT_END};
static const int deploy_quote_opts[] = {CLI_OPT_END};
static const int deploy_deposit_opts[] = {DEPLOY_TX_OPTS, CLI_OPT_ESCROW_WARN_BLOCKS, CLI_OPT_END};
static const int deploy_read_opts[] = {CLI_OPT_FROM, CLI_OPT_PASSPHRASE_FILE, CLI_OPT_DSEQ,
                                       CLI_OPT_GRANTER, CLI_OPT_END};
/* No --granter: a shell is the owner's alone (no grant opens it at the provider). */
static const int deploy_shell_opts[] = {CLI_OPT_FROM, CLI_OPT_PASSPHRASE_FILE, CLI_OPT_DSEQ,
                                        CLI_OPT_END};
static const int deploy_ui_opts[] = {CLI_OPT_FROM,   CLI_OPT_PASSPHRASE_FILE, CLI_OPT_DSEQ,
                                     CLI_OPT_LISTEN, CLI_OPT_GRANTER,         CLI_OPT_END};
static const int deploy_events_opts[] = {CLI_OPT_FROM,   CLI_OPT_PASSPHRASE_FILE, CLI_OPT_DSEQ,
                                         CLI_OPT_FOLLOW, CLI_OPT_GRANTER,         CLI_OPT_END};
static const int deploy_logs_opts[] = {CLI_OPT_FROM,  CLI_OPT_PASSPHRASE_FILE, CLI_OPT_DSEQ,
                                       CLI_OPT_LIMIT, CLI_OPT_FOLLOW,          CLI_OPT_SINCE,
                                       CLI_OPT_TAIL,  CLI_OPT_GRANTER,         CLI_OPT_END};

static void deploy_groups_init(deploy_flow_t *f)
{
    f->group_count = f->stack.group_count;
    for (size_t i = 0; i < f->group_count; i++) {
        f->groups[i].name = f->stack.groups[i]->name;
        f->groups[i].gseq = (uint32_t)i;
    }
}

/* Loads the stack (clear errors; nothing is sent on failure) and the key. */
static int deploy_prepare(deploy_flow_t *f, cli_args_t *a, bool need_state, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_stack_load(a->pos[0], &f->stack, err));
    f->stack_loaded = true;
    deploy_groups_init(f);
    return deploy_flow_init(f, a, need_state, err);
}

static int deploy_fail(deploy_flow_t *f, const char *what, const kumo_err_ctx_t *err)
{
    int rc = err->code == KUMO_EINVAL && strstr(err->detail, "--from") != NULL
                 ? cli_usage_fail("deploy", "%s", err->detail)
                 : cli_fail(what, err);
    deploy_flow_free(f);
    free(f);
    return rc;
}

int deploy_height_get(const cli_args_t *a, uint64_t *out, kumo_err_ctx_t *err)
{
    kumo_client_t *c = NULL;
    KUMO_GUARD(cli_node_open(a, &c, err));
    kumo_client_status_t st;
    int rc = kumo_client_status_get(c, &st, err);
    kumo_client_close(c);
    KUMO_GUARD(rc);
    *out = st.height;
    return 0;
}

static Kumo__Msg deploy_msg(Kumo__Msg__SumCase c, void *m)
{
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = c;
    msg.send = m; /* every member of the oneof shares this storage */
    return msg;
}

/* ---- create ---- */

static int deploy_create_submit(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kumo_sdl_stack_is_sealed(f->stack.sdl)); /* no version of a half manifest */
    Kumo__MsgSubmitDeployment m = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    m.dseq = f->dseq;
    m.n_groups = f->stack.group_count;
    m.groups = f->stack.groups;
    m.wait_blocks = f->stack.wait_blocks;
    m.version.data = f->stack.version;
    m.version.len = sizeof(f->stack.version);
    m.deposit = f->stack.deposit_ukumo;
    m.escrow_warn_blocks = f->a->escrow_warn_blocks;
    fprintf(f->out,
            "submitting deployment %" PRIu64
            " of %s: %zu group(s), version %.16s…, deposit %" PRIu64 " ukumo, bids for %" PRIu64
            " blocks\n",
            f->dseq, f->a->pos[0], m.n_groups, f->stack.version_hex, m.deposit, m.wait_blocks);
    Kumo__Msg msg = deploy_msg(KUMO__MSG__SUM_SUBMIT_DEPLOYMENT, &m);
    json_t *ans = NULL;
    KUMO_GUARD(deploy_tx_commit(f->a, &f->kp, f->exec ? f->granter : NULL, &msg, &ans, err));
    uint64_t h = cli_json_u64(ans, "height");
    f->height = h > f->height ? h : f->height;
    json_decref(ans);
    deploy_flow_mark(f, DEPLOY_MARK_COMMITTED);
    deploy_state_t st;
    memset(&st, 0, sizeof(st));
    (void)snprintf(st.owner, sizeof(st.owner), "%s", f->owner);
    (void)snprintf(st.from, sizeof(st.from), "%s", f->a->from != NULL ? f->a->from : "");
    st.dseq = f->dseq;
    return deploy_state_write(f->stack.state_path, &st, err);
}

static int deploy_create_flow(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_height_get(f->a, &f->height, err));
    deploy_flow_mark(f, DEPLOY_MARK_START);
    if (!f->a->dseq_set) {
        f->dseq = f->height > 0 ? f->height : 1;
        (void)snprintf(f->dep_id, sizeof(f->dep_id), "%s/%" PRIu64, f->owner, f->dseq);
    }
    for (size_t i = 0; i < f->group_count; i++) {
        f->groups[i].need_lease = true;
    }
    KUMO_GUARD(deploy_secrets_seal(f, err));
    KUMO_GUARD(deploy_flow_stream_open(f, f->height, err));
    KUMO_GUARD(deploy_create_submit(f, err));
    KUMO_GUARD(deploy_flow_leases_wait(f, err));
    return deploy_run_to_running(f, err);
}

static int deploy_create_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    if (a->escrow_warn_set && a->escrow_warn_blocks > KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX) {
        free(f);
        return cli_usage_fail("deploy create", "--escrow-warn-blocks is at most %u",
                              KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    }
    if (deploy_prepare(f, a, false, &err) < 0) {
        return deploy_fail(f, "deploy create", &err);
    }
    if (deploy_create_flow(f, &err) < 0) {
        fprintf(stderr, "kumo: deploy create: deployment %" PRIu64 " is not running yet\n",
                f->dseq);
        return deploy_fail(f, "deploy create", &err);
    }
    deploy_run_report(f, "deploy create");
    deploy_flow_free(f);
    free(f);
    return CLI_EXIT_OK;
}

/* ---- update ---- */

/* Whether the stack's groups differ from the deployment's live groups on chain: a group added
 * (a name no live group has), removed (a live group the stack leaves out) or changed. A name
 * only a removed group had is refused: the providers tell a deployment's groups apart by name
 * and would see two groups of it. */
static int deploy_groups_changed(deploy_flow_t *f, bool *changed, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_flow_groups_resolve(f, err));
    *changed = false;
    size_t live = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(f->chain_groups, i, c)
    {
        live += strcmp(cli_json_str(c, "state"), "GROUP_CLOSED") != 0 ? 1u : 0u;
    }
    for (size_t k = 0; k < f->group_count; k++) {
        const deploy_group_t *g = &f->groups[k];
        if (g->gseq == DEPLOY_GSEQ_NONE) {
            json_array_foreach(f->chain_groups, i, c)
            {
                KUMO_ENSURE(strcmp(cli_json_str(json_object_get(c, "spec"), "name"), g->name) != 0,
                            err, KUMO_EINVAL,
                            "group %s was removed from deployment %" PRIu64 " (gseq %" PRIu64
                            "): a removed group's name cannot come back; "
                            "give the group a new name",
                            g->name, f->dseq, cli_json_u64(c, "gseq"));
            }
            *changed = true; /* a new group */
            continue;
        }
        json_t *ours = kumo_codec_json_from_message(&f->stack.groups[k]->base);
        const json_t *theirs = NULL;
        json_array_foreach(f->chain_groups, i, c)
        {
            theirs = cli_json_u64(c, "gseq") == g->gseq ? json_object_get(c, "spec") : theirs;
        }
        *changed = *changed || ours == NULL || !json_equal(ours, theirs);
        json_decref(ours);
        live--; /* this live group stays */
    }
    *changed = *changed || live > 0; /* live groups the stack leaves out are removed */
    return 0;
}

/* After the update committed: groups whose order was re-opened need a new lease. */
static void deploy_update_reorders(deploy_flow_t *f, const json_t *ans)
{
    size_t i;
    const json_t *ev;
    json_array_foreach(json_object_get(ans, "events"), i, ev)
    {
        const char *id = cli_json_str(ev, "id");
        size_t n = strlen(f->dep_id);
        const json_t *attrs = json_object_get(ev, "attrs");
        const json_t *reorder = json_array_get(attrs, 0);
        if (strcmp(cli_json_str(ev, "type"), "group.updated") != 0 ||
            strncmp(id, f->dep_id, n) != 0 || id[n] != '/' ||
            strcmp(cli_json_str(reorder, "value"), "1") != 0) {
            continue;
        }
        unsigned long gseq = strtoul(id + n + 1, NULL, 10);
        deploy_group_t *g = gseq < UINT32_MAX ? deploy_flow_group(f, (uint32_t)gseq) : NULL;
        if (g != NULL) {
            g->need_lease = true;
            g->leased = false;
            fprintf(f->out, "group %s changed size: waiting for a new lease\n", g->name);
        }
    }
}

static int deploy_update_submit(deploy_flow_t *f, bool groups_changed, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kumo_sdl_stack_is_sealed(f->stack.sdl)); /* no version of a half manifest */
    Kumo__MsgUpdateDeployment m = KUMO__MSG_UPDATE_DEPLOYMENT__INIT;
    m.dseq = f->dseq;
    m.version.data = f->stack.version;
    m.version.len = sizeof(f->stack.version);
    if (groups_changed) {
        m.n_groups = f->stack.group_count;
        m.groups = f->stack.groups;
    }
    fprintf(f->out, "updating deployment %" PRIu64 " to version %.16s…%s\n", f->dseq,
            f->stack.version_hex, groups_changed ? " with new groups or group sizes" : "");
    Kumo__Msg msg = deploy_msg(KUMO__MSG__SUM_UPDATE_DEPLOYMENT, &m);
    json_t *ans = NULL;
    KUMO_GUARD(deploy_tx_commit(f->a, &f->kp, f->exec ? f->granter : NULL, &msg, &ans, err));
    uint64_t h = cli_json_u64(ans, "height");
    f->height = h > f->height ? h : f->height;
    fprintf(f->out,
            "[height %" PRIu64 "] deployment %" PRIu64 " updated to version %.16s… (tx %s)\n", h,
            f->dseq, f->stack.version_hex, cli_json_str(ans, "hash"));
    deploy_flow_mark(f, DEPLOY_MARK_COMMITTED);
    bool was_live[KUMO_GROUP_COUNT_MAX] = {false};
    for (size_t i = 0; i < f->group_count; i++) {
        was_live[i] = f->groups[i].gseq != DEPLOY_GSEQ_NONE;
    }
    /* The groups it added got their gseq; those it removed are gone from the chain's live. */
    int rc = deploy_flow_groups_resolve(f, err);
    for (size_t i = 0; rc == 0 && i < f->group_count; i++) {
        if (!was_live[i] && f->groups[i].gseq != DEPLOY_GSEQ_NONE) {
            f->groups[i].need_lease = true;
            fprintf(f->out, "group %s added: waiting for its lease\n", f->groups[i].name);
        }
    }
    if (rc == 0) {
        deploy_update_reorders(f, ans);
    }
    json_decref(ans);
    return rc;
}

static int deploy_update_flow(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_height_get(f->a, &f->height, err));
    deploy_flow_mark(f, DEPLOY_MARK_START);
    KUMO_GUARD(deploy_secrets_seal(f, err));
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s", f->dep_id);
    json_t *d = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &d, err));
    bool active = strcmp(cli_json_str(d, "state"), "DEPLOYMENT_ACTIVE") == 0;
    bool same_version = strcmp(cli_json_str(d, "version"), f->stack.version_hex) == 0;
    json_decref(d);
    KUMO_ENSURE(active, err, KUMO_ESTATE, "deployment %" PRIu64 " is not active", f->dseq);
    bool changed = false;
    KUMO_GUARD(deploy_groups_changed(f, &changed, err));
    KUMO_GUARD(deploy_flow_leases_read(f, err));
    KUMO_GUARD(deploy_flow_stream_open(f, f->height, err));
    if (same_version && !changed) {
        fprintf(f->out, "deployment %" PRIu64 " already has this version: checking it runs\n",
                f->dseq);
    } else {
        KUMO_GUARD(deploy_update_submit(f, changed, err));
    }
    KUMO_GUARD(deploy_flow_leases_wait(f, err));
    /* One upload, as for a create: the providers holding the older version fetch the new one
     * from the provider that got it (it announces it to them). */
    return deploy_run_to_running(f, err);
}

static int deploy_update_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    if (deploy_prepare(f, a, true, &err) < 0 || deploy_update_flow(f, &err) < 0) {
        return deploy_fail(f, "deploy update", &err);
    }
    deploy_run_report(f, "deploy update");
    deploy_flow_free(f);
    free(f);
    return CLI_EXIT_OK;
}

/* ---- deposit ---- */

static int deploy_deposit_flow(deploy_flow_t *f, uint64_t amount, kumo_err_ctx_t *err)
{
    uint8_t owner[KUMO_ADDRESS_BYTES];
    KUMO_GUARD(kumo_codec_address_decode(f->owner, owner, err));
    Kumo__MsgDepositDeployment m = KUMO__MSG_DEPOSIT_DEPLOYMENT__INIT;
    m.owner.data = owner;
    m.owner.len = sizeof(owner);
    m.dseq = f->dseq;
    m.amount = amount;
    m.set_escrow_warn = f->a->escrow_warn_set;
    m.escrow_warn_blocks = f->a->escrow_warn_blocks;
    Kumo__Msg msg = deploy_msg(KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT, &m);
    json_t *ans = NULL;
    KUMO_GUARD(deploy_tx_commit(f->a, &f->kp, f->exec ? f->granter : NULL, &msg, &ans, err));
    fprintf(f->out, "[height %s] deployment %" PRIu64 ": %" PRIu64 " ukumo deposited%s\n",
            cli_json_str(ans, "height"), f->dseq, amount,
            m.set_escrow_warn ? ", escrow warning set" : "");
    json_decref(ans);
    return 0;
}

static int deploy_deposit_run(cli_args_t *a)
{
    uint64_t amount = 0;
    kumo_err_ctx_t err = {0};
    if (cli_amount_parse(a->pos[1], &amount, &err) < 0 || (amount == 0 && !a->escrow_warn_set)) {
        return cli_usage_fail(
            "deploy deposit", "AMOUNT: %s",
            err.code != 0 ? err.detail : "must be more than 0 (or 0 with --escrow-warn-blocks)");
    }
    if (a->escrow_warn_set && a->escrow_warn_blocks > KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX) {
        return cli_usage_fail("deploy deposit", "--escrow-warn-blocks is at most %u",
                              KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    }
    deploy_flow_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (deploy_flow_init(f, a, true, &err) < 0 || deploy_deposit_flow(f, amount, &err) < 0) {
        return deploy_fail(f, "deploy deposit", &err);
    }
    deploy_flow_free(f);
    free(f);
    /* What the escrow covers now, as deploy status shows it. */
    return deploy_status_run(a);
}

/* ---- close ---- */

static int deploy_close_flow(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_height_get(f->a, &f->height, err));
    /* The progress names the groups as the chain does (an update may have changed them). */
    KUMO_GUARD(deploy_flow_groups_resolve(f, err));
    KUMO_GUARD(deploy_flow_stream_open(f, f->height, err));
    Kumo__MsgCloseDeployment m = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    m.dseq = f->dseq;
    Kumo__Msg msg = deploy_msg(KUMO__MSG__SUM_CLOSE_DEPLOYMENT, &m);
    json_t *ans = NULL;
    fprintf(f->out, "closing deployment %" PRIu64 "\n", f->dseq);
    KUMO_GUARD(deploy_tx_commit(f->a, &f->kp, f->exec ? f->granter : NULL, &msg, &ans, err));
    json_decref(ans);
    return deploy_flow_closed_wait(f, err);
}

static int deploy_close_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    /* The stack (when it still reads) only names the groups in the progress lines. */
    if (a->pos_count > 0 && deploy_stack_load(a->pos[0], &f->stack, &err) == 0) {
        f->stack_loaded = true;
        deploy_groups_init(f);
    }
    err = (kumo_err_ctx_t){0};
    if (deploy_flow_init(f, a, true, &err) < 0 || deploy_close_flow(f, &err) < 0) {
        return deploy_fail(f, "deploy close", &err);
    }
    char state_path[CLI_PATH_BYTES];
    if (!a->dseq_set &&
        deploy_stack_state_path(a->pos[0], state_path, sizeof(state_path), NULL) == 0) {
        (void)unlink(state_path);
    }
    if (a->output == CLI_OUTPUT_JSON) {
        json_t *o = json_pack("{s:s, s:I, s:I}", "owner", f->owner, "dseq", (json_int_t)f->dseq,
                              "refund_ukumo", (json_int_t)f->refund_ukumo);
        cli_json_print(o, stdout);
        json_decref(o);
    } else {
        printf("deploy close: deployment %" PRIu64 " closed; escrow returned: %" PRIu64 " ukumo\n",
               f->dseq, f->refund_ukumo);
    }
    deploy_flow_free(f);
    free(f);
    return CLI_EXIT_OK;
}

static const cli_sub_t deploy_subs[] = {
    {NULL, "create", "STACK.yml --from KEY [--timeout S] [--dseq N] [--granter ADDR]",
     "submit the stack's deployment, follow orders, bids and leases, send the manifest to each "
     "lease's provider, wait until every workload runs and print the endpoints; the deployment "
     "is remembered in .kumo-deploy-<file>.json next to the stack (0600) for the other "
     "subcommands (or give them --dseq N)",
     "kumo deploy create examples/webapp/stack.yml --from alice", deploy_create_opts, 1, 1,
     deploy_create_run},
    {NULL, "update", "STACK.yml [--from KEY] [--timeout S] [--dseq N] [--granter ADDR]",
     "send the stack's new version (and group sizes if they changed), upload the new manifest "
     "to every lease's provider and wait until it runs; with --granter, as that owner's "
     "grantee (--from or $KUMO_KEY), under its grant",
     "kumo deploy update examples/webapp/stack.yml", deploy_tx_opts, 1, 1, deploy_update_run},
    {NULL, "quote", "STACK.yml",
     "before anything is sent: for each group, which providers would bid and at what price, or "
     "why none would (no provider in the region, prices above the maximum, not enough free "
     "capacity, collateral above what they can lock), from what providers publish on chain",
     "kumo deploy quote examples/webapp/stack.yml", deploy_quote_opts, 1, 1, deploy_quote_run},
    {NULL, "deposit",
     "STACK.yml AMOUNT [--escrow-warn-blocks N] [--from KEY] [--dseq N] [--granter ADDR]",
     "top up the escrow of the stack's deployment (your own) and/or change the blocks of escrow "
     "left below which the chain emits deployment.escrow_low (0: never); then show its status",
     "kumo deploy deposit examples/webapp/stack.yml 500000 --escrow-warn-blocks 600",
     deploy_deposit_opts, 2, 2, deploy_deposit_run},
    {NULL, "status", "STACK.yml [--from KEY] [--dseq N] [--granter ADDR]",
     "the deployment on chain (why anything ended, escrow left, blocks it covers at the current "
     "price, warning threshold; groups, leases) and at each provider (workloads, endpoints)",
     "kumo deploy status examples/webapp/stack.yml", deploy_read_opts, 1, 1, deploy_status_run},
    {NULL, "logs",
     "STACK.yml [WORKLOAD] [--follow] [--since TIME|--tail N] [--from KEY] [--dseq N] [--granter "
     "ADDR]",
     "the log lines of every instance (of one workload, or all), each prefixed with "
     "WORKLOAD/INSTANCE, from the providers: the last N (default 100) of each instance, or "
     "those since TIME; --follow keeps printing new lines, across replaced containers and "
     "provider restarts, without losing or repeating any (--limit N is --tail N)",
     "kumo deploy logs examples/webapp/stack.yml web --follow --since 10m", deploy_logs_opts, 1, 2,
     deploy_logs_run},
    {NULL, "events", "STACK.yml [--follow] [--from KEY] [--dseq N] [--granter ADDR]",
     "what happened to the deployment, in time order: the chain's events (orders, bids, "
     "leases, refusals with their reasons) merged with each provider's container events "
     "(started, restarted, exited with code, OOM-killed, image missing, manifest refused); "
     "--follow keeps printing them, reconnecting as needed",
     "kumo deploy events examples/webapp/stack.yml --follow", deploy_events_opts, 1, 1,
     deploy_events_run},
    {NULL, "ui", "STACK.yml [--listen HOST:PORT] [--from KEY] [--dseq N] [--granter ADDR]",
     "serve the node's dashboard on this machine (loopback only) with the deployment's own "
     "view filled in from its providers, asked with your key: workloads, endpoints and usage; "
     "prints the URL and serves until interrupted",
     "kumo deploy ui examples/webapp/stack.yml --listen 127.0.0.1:8090", deploy_ui_opts, 1, 1,
     deploy_ui_run},
    {NULL, "shell", "STACK.yml WORKLOAD[/INSTANCE] [--from KEY] [--dseq N] [-- CMD...]",
     "a shell in a container of the deployment (instance 0 unless given), through its "
     "provider: interactive (raw terminal, resized with yours) when stdin is a terminal and no "
     "command is given, else the command with stdin piped; exits with the process's exit code",
     "kumo deploy shell examples/webapp/stack.yml web/1 -- cat /etc/hosts", deploy_shell_opts, 2,
     CLI_POSITIONAL_MAX, deploy_shell_run},
    {NULL, "close", "STACK.yml [--from KEY] [--timeout S] [--dseq N] [--granter ADDR]",
     "close the deployment, wait until every provider released its lease and the deployment is "
     "closed, print the escrow returned",
     "kumo deploy close examples/webapp/stack.yml", deploy_tx_opts, 1, 1, deploy_close_run},
};

/* "--timeout S" (or --timeout=S) is spelled --timeout-ms by the shared option table. */
static int deploy_argv_rewrite(int argc, char **argv, char **out, char *buf, size_t buf_cap)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            v = argv[++i];
        } else if (strncmp(argv[i], "--timeout=", 10) == 0) {
            v = argv[i] + 10;
        }
        if (v == NULL) {
            out[n++] = argv[i];
            continue;
        }
        uint64_t s = 0;
        if (cli_u64_parse(v, "--timeout", &s, NULL) < 0 || s == 0 || s > 86400u) {
            return cli_usage_fail("deploy", "--timeout takes whole seconds 1..86400, not '%s'", v);
        }
        int w = snprintf(buf, buf_cap, "%" PRIu64 "000", s);
        KUMO_ASSERT(w > 0 && (size_t)w < buf_cap);
        out[n++] = (char *)(uintptr_t) "--timeout-ms";
        out[n++] = buf;
    }
    out[n] = NULL;
    return -n;
}

int kumo_cli_deploy_main(int argc, char **argv)
{
    char **args = calloc((size_t)argc + 2u, sizeof(char *));
    if (args == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    char timeout_buf[32];
    int n = deploy_argv_rewrite(argc, argv, args, timeout_buf, sizeof(timeout_buf));
    int rc = n > 0
                 ? n
                 : cli_dispatch("deploy", "deploy a stack file and follow it to running endpoints",
                                deploy_subs, KUMO_ARRAY_COUNT(deploy_subs), -n, args);
    free(args);
    return rc;
}
