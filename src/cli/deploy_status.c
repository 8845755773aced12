/*
 * deploy_status.c - `kumo deploy status` (the deployment, its groups and leases on chain,
 * and each lease provider's view: workloads running and endpoints) and `kumo deploy logs`
 * (a workload's last lines from the provider that runs its group).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_int.h"

static int status_list(const deploy_flow_t *f, const char *what, json_t **out, kumo_err_ctx_t *err)
{
    char path[256];
    char dseq[24];
    (void)snprintf(path, sizeof(path), "/%s", what);
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, f->dseq);
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "owner", f->owner, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "dseq", dseq, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit", "1000", err));
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &j, err));
    *out = json_incref(json_object_get(j, "items"));
    json_decref(j);
    KUMO_ENSURE(json_is_array(*out), err, KUMO_EDECODE, "GET /%s: no items", what);
    return 0;
}

/* Each distinct provider of the active leases and what it says (status or error). */
static int
status_providers(deploy_flow_t *f, const json_t *leases, json_t *out, kumo_err_ctx_t *err)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/status", f->dep_id);
    size_t i;
    const json_t *l;
    json_array_foreach(leases, i, l)
    {
        const char *addr = cli_json_str(json_object_get(l, "id"), "provider");
        if (strcmp(cli_json_str(l, "state"), "LEASE_ACTIVE") != 0 ||
            json_object_get(out, addr) != NULL) {
            continue;
        }
        size_t idx = 0;
        kumo_err_ctx_t e = {0};
        json_t *st = NULL;
        long status = 0;
        if (deploy_run_peer_find(f, addr, &idx, &e) == 0 &&
            deploy_provider_json(&f->tls, &f->peers[idx].p, "GET", path, kumo_bytes_make(NULL, 0),
                                 &status, &st, &e) < 0) {
            st = NULL;
        }
        if (st == NULL) {
            st = json_pack("{s:{s:i, s:s}}", "error", "code", e.code, "detail", e.detail);
        }
        KUMO_ENSURE(st != NULL && json_object_set_new(out, addr, st) == 0, err, KUMO_ENOMEM,
                    "status");
    }
    return 0;
}

/* "  ended: tenant at 61" when the object has a close reason, else "". */
static void status_end_text(const json_t *obj, const char *height_key, char *out, size_t cap)
{
    char end[96];
    cli_end_format(obj, height_key, end, sizeof(end));
    (void)snprintf(out, cap, "%s%s",
                   strcmp(end, "-") == 0 ? "" : "  ended: ", strcmp(end, "-") == 0 ? "" : end);
}

/* The node's escrow_cover: what is left, the price, the blocks it covers, the warning. */
static void status_escrow_print(const json_t *d)
{
    const json_t *c = json_object_get(d, "escrow_cover");
    if (!json_is_object(c) || strcmp(cli_json_str(d, "state"), "DEPLOYMENT_ACTIVE") != 0) {
        return;
    }
    printf("escrow %s ukumo left at height %s (%s owed since the last payments), %s ukumo/block "
           "for %s active lease(s): ",
           cli_json_str(c, "escrow_left"), cli_json_str(c, "height"), cli_json_str(c, "owed"),
           cli_json_str(c, "price_per_block"), cli_json_str(c, "active_leases"));
    if (json_is_null(json_object_get(c, "blocks_covered"))) {
        printf("nothing to pay yet");
    } else {
        printf("covers %s blocks (runs out at height %s)", cli_json_str(c, "blocks_covered"),
               cli_json_str(c, "runs_out_at"));
    }
    uint64_t warn = cli_json_u64(c, "warn_blocks");
    if (warn == 0) {
        printf("; no escrow warning\n");
    } else {
        printf("; warning below %" PRIu64 " blocks%s\n", warn,
               json_is_true(json_object_get(d, "escrow_low"))
                   ? " (LOW: top it up with kumo deploy deposit STACK.yml AMOUNT)"
                   : "");
    }
}

static void status_chain_print(const json_t *o)
{
    const json_t *d = json_object_get(o, "deployment");
    char end[128];
    status_end_text(d, "closing_height", end, sizeof(end));
    printf("deployment %s/%s  %s  escrow %s ukumo  paid %s ukumo  version %.16s…%s\n",
           cli_json_str(d, "owner"), cli_json_str(d, "dseq"), cli_json_str(d, "state"),
           cli_json_str(d, "escrow"), cli_json_str(d, "total_paid"), cli_json_str(d, "version"),
           end);
    status_escrow_print(d);
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(o, "groups"), i, g)
    {
        status_end_text(g, "closed_height", end, sizeof(end));
        printf("group %s (gseq %" PRIu64 ")  %s  order %" PRIu64 "%s\n",
               cli_json_str(json_object_get(g, "spec"), "name"), cli_json_u64(g, "gseq"),
               cli_json_str(g, "state"), cli_json_u64(g, "oseq"), end);
        if (json_object_get(g, "why_no_bids") != NULL) {
            printf("  no bids: %s\n", cli_json_str(g, "why_no_bids"));
        }
    }
    const json_t *l;
    json_array_foreach(json_object_get(o, "leases"), i, l)
    {
        const json_t *order = json_object_get(json_object_get(l, "id"), "order");
        bool closing = strcmp(cli_json_str(l, "state"), "LEASE_CLOSING") == 0;
        status_end_text(l, closing ? "closing_height" : "ended_height", end, sizeof(end));
        printf("lease gseq %" PRIu64 " oseq %" PRIu64 "  %s  %s  %s ukumo/block%s\n",
               cli_json_u64(order, "gseq"), cli_json_u64(order, "oseq"),
               cli_json_str(json_object_get(l, "id"), "provider"), cli_json_str(l, "state"),
               cli_json_str(l, "price_total"), end);
    }
}

/* One instance's latest usage sample (docs/provider-api.md, usage). */
static void status_usage_print(const json_t *u)
{
    const json_t *cpu = json_object_get(u, "cpu_milli");
    char cpu_text[32] = "-";
    if (json_is_integer(cpu)) {
        (void)snprintf(cpu_text, sizeof(cpu_text), "%" PRIu64 "m",
                       (uint64_t)json_integer_value(cpu));
    }
    printf("usage %s/%" PRIu64 "  cpu %s  memory %" PRIu64 "/%" PRIu64 " B  net rx %" PRIu64
           " tx %" PRIu64 " B  disk read %" PRIu64 " write %" PRIu64 " B\n",
           cli_json_str(u, "workload"), cli_json_u64(u, "instance"), cpu_text,
           cli_json_u64(u, "memory_bytes"), cli_json_u64(u, "memory_limit_bytes"),
           cli_json_u64(u, "net_rx_bytes"), cli_json_u64(u, "net_tx_bytes"),
           cli_json_u64(u, "blk_read_bytes"), cli_json_u64(u, "blk_write_bytes"));
}

static void status_text_print(const json_t *o)
{
    status_chain_print(o);
    size_t i;
    const json_t *sec;
    json_array_foreach(json_object_get(o, "secrets"), i, sec)
    {
        printf("secret %s of workload %s (group %s): %s=sealed\n", cli_json_str(sec, "secret"),
               cli_json_str(sec, "workload"), cli_json_str(sec, "group"), cli_json_str(sec, "env"));
    }
    const char *addr;
    const json_t *st;
    json_object_foreach((json_t *)(uintptr_t)json_object_get(o, "providers"), addr, st)
    {
        const json_t *e = json_object_get(st, "error");
        if (e != NULL) {
            printf("provider %s: unreachable or refused: %s\n", addr, cli_json_str(e, "detail"));
            continue;
        }
        const json_t *w;
        json_array_foreach(json_object_get(st, "workloads"), i, w)
        {
            printf("workload %s  %" PRIu64 "/%" PRIu64 " running  at %s\n", cli_json_str(w, "name"),
                   cli_json_u64(w, "running"), cli_json_u64(w, "count"), addr);
        }
        json_array_foreach(json_object_get(st, "endpoints"), i, w)
        {
            printf("endpoint %s:%" PRIu64 " → %s (%s)\n", cli_json_str(w, "workload"),
                   cli_json_u64(w, "port"), cli_json_str(w, "url"), cli_json_str(w, "scope"));
        }
        json_array_foreach(json_object_get(st, "usage"), i, w)
        {
            status_usage_print(w);
        }
    }
}

/* For each group whose latest order is open without a bid: why no provider bids, as
 * `kumo deploy quote` says it (deploy_quote.c), in the group's "why_no_bids". */
static int status_no_bids(deploy_flow_t *f, json_t *groups, kumo_err_ctx_t *err)
{
    json_t *orders = NULL;
    KUMO_GUARD(status_list(f, "orders", &orders, err));
    json_t *providers = NULL;
    kumo_err_ctx_t pe = {0};
    /* Without the providers' list the status still shows the rest. */
    int rc = deploy_quote_providers_get(f->a, &providers, &pe);
    deploy_quote_t *q = calloc(1, sizeof(*q));
    size_t i;
    const json_t *o;
    json_array_foreach(orders, i, o)
    {
        const json_t *id = json_object_get(o, "id");
        json_t *g = NULL;
        for (size_t k = 0; (g = json_array_get(groups, k)) != NULL; k++) {
            if (cli_json_u64(g, "gseq") == cli_json_u64(id, "gseq")) {
                break;
            }
        }
        ProtobufCMessage *m = NULL;
        kumo_err_ctx_t e = {0};
        if (rc < 0 || q == NULL || g == NULL || cli_json_u64(o, "bid_count") > 0 ||
            strcmp(cli_json_str(o, "state"), "ORDER_OPEN") != 0 ||
            kumo_codec_json_to_message(&kumo__group_spec__descriptor, json_object_get(g, "spec"),
                                       &m, &e) < 0) {
            continue;
        }
        const Kumo__GroupSpec *spec = (const Kumo__GroupSpec *)m;
        deploy_quote_group(providers, spec, q);
        char why[2048];
        if (deploy_quote_why(q, spec, why, sizeof(why)) == 0) {
            (void)snprintf(why, sizeof(why), "none yet, though %zu provider(s) should bid",
                           q->bid_count + q->bid_more);
        }
        (void)json_object_set_new(g, "why_no_bids", json_string(why));
        kumo_codec_free(m);
    }
    free(q);
    json_decref(providers);
    json_decref(orders);
    return 0;
}

/* The stack's secret env entries, each shown as "sealed": never a value (the CLI holds none
 * after a deploy; the providers running them do). */
static void status_secrets(const deploy_flow_t *f, json_t *o)
{
    if (!f->stack_loaded || kumo_sdl_stack_secret_count(f->stack.sdl) == 0) {
        return;
    }
    json_t *arr = json_array();
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(f->stack.sdl);
    for (size_t i = 0; arr != NULL && i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t j = 0; j < w->n_env; j++) {
            if (w->env[j]->secret[0] != '\0') {
                (void)json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "workload",
                                                           w->name, "group", w->group, "env",
                                                           w->env[j]->key, "secret",
                                                           w->env[j]->secret, "value", "sealed"));
            }
        }
    }
    (void)json_object_set_new(o, "secrets", arr);
}

int deploy_status_collect(deploy_flow_t *f, json_t *o, kumo_err_ctx_t *err)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s", f->dep_id);
    json_t *d = NULL;
    json_t *groups = NULL;
    json_t *leases = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &d, err));
    (void)json_object_set_new(o, "deployment", d);
    KUMO_GUARD(status_list(f, "groups", &groups, err));
    (void)json_object_set_new(o, "groups", groups);
    KUMO_GUARD(status_no_bids(f, groups, err));
    KUMO_GUARD(status_list(f, "leases", &leases, err));
    (void)json_object_set_new(o, "leases", leases);
    status_secrets(f, o);
    json_t *providers = json_object();
    KUMO_ENSURE(providers != NULL, err, KUMO_ENOMEM, "status");
    (void)json_object_set_new(o, "providers", providers);
    return status_providers(f, leases, providers, err);
}

int deploy_status_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    json_t *o = json_object();
    if (f == NULL || o == NULL) {
        free(f);
        json_decref(o);
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    /* The stack names its secret env entries (shown sealed); status works without it. */
    kumo_err_ctx_t serr = {0};
    f->stack_loaded = deploy_stack_load(a->pos[0], &f->stack, &serr) == 0;
    int rc = deploy_flow_init(f, a, true, &err);
    rc = rc == 0 ? deploy_status_collect(f, o, &err) : rc;
    if (rc < 0) {
        rc = cli_fail("deploy status", &err);
    } else if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(o, stdout);
    } else {
        status_text_print(o);
    }
    json_decref(o);
    deploy_flow_free(f);
    free(f);
    return rc;
}
