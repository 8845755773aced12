/*
 * deploy_flow.c - the chain side of `kumo deploy`: the tenant's key, the deployment it
 * names, and progress followed from the node's event stream (orders, bids, leases, closing),
 * printed as lines a person can follow ("[height 12] order web/1 open ...") and turned into
 * stage marks (blocks and milliseconds).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/deploy_int.h"
#include "market/market.h"

int deploy_flow_init(deploy_flow_t *f, cli_args_t *a, bool need_state, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f != NULL && a != NULL);
    KUMO_ASSERT(a->pos_count >= 1);
    f->a = a;
    f->out = a->output == CLI_OUTPUT_JSON ? stderr : stdout;
    f->endpoints = json_array();
    KUMO_ENSURE(f->endpoints != NULL, err, KUMO_ENOMEM, "endpoints");
    uint64_t timeout_ms = a->timeout_ms > 0 ? a->timeout_ms : DEPLOY_TIMEOUT_MS_DEFAULT;
    f->deadline_ms = deploy_now_ms() + timeout_ms;
    deploy_state_t st;
    memset(&st, 0, sizeof(st));
    if (need_state && !a->dseq_set) {
        char path[CLI_PATH_BYTES];
        KUMO_GUARD(deploy_stack_state_path(a->pos[0], path, sizeof(path), err));
        int rc = deploy_state_read(path, &st, err);
        KUMO_ENSURE(rc != KUMO_ENOTFOUND, err, KUMO_ENOTFOUND,
                    "no deployment recorded for %s (%s is missing): give --dseq N", a->pos[0],
                    path);
        KUMO_GUARD(rc);
        f->dseq = st.dseq;
    } else {
        f->dseq = a->dseq;
    }
    /* --from, else $KUMO_KEY, else the key that created it (the state file). */
    const char *from = a->from != NULL      ? a->from
                       : cli_from_given(a)  ? NULL
                       : st.from[0] != '\0' ? st.from
                                            : NULL;
    KUMO_ENSURE(
        from != NULL || cli_from_given(a), err, KUMO_EINVAL,
        "--from KEY is required (the deployment's owner), or the key's seed in $" CLI_KEY_ENV);
    KUMO_GUARD(cli_from_load(a, from, &f->kp, err));
    f->key_loaded = true;
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(f->kp.pubkey, addr);
    kumo_codec_address_encode(addr, f->signer);
    kumo_codec_address_encode(addr, f->owner);
    if (a->granter != NULL) {
        KUMO_GUARD(cli_address_resolve(a, a->granter, f->granter, err));
        KUMO_ENSURE(memcmp(f->granter, addr, KUMO_ADDRESS_BYTES) != 0, err, KUMO_EINVAL,
                    "--granter names the --from key itself (%s): drop --granter", f->signer);
        f->exec = true;
        kumo_codec_address_encode(f->granter, f->owner);
    }
    KUMO_ENSURE(st.owner[0] == '\0' || strcmp(st.owner, f->owner) == 0, err, KUMO_EUNAUTH,
                "deployment %" PRIu64 " belongs to %s, not to %s %s (%s)", f->dseq, st.owner,
                f->exec ? "--granter" : "key",
                f->exec        ? a->granter
                : from != NULL ? from
                               : "$" CLI_KEY_ENV,
                f->owner);
    KUMO_GUARD(deploy_tls_make(&f->kp, f->signer, &f->tls, err));
    f->tls_made = true;
    (void)snprintf(f->dep_id, sizeof(f->dep_id), "%s/%" PRIu64, f->owner, f->dseq);
    return 0;
}

void deploy_flow_free(deploy_flow_t *f)
{
    deploy_stream_close(f->stream);
    f->stream = NULL;
    for (size_t i = 0; i < f->peer_count; i++) {
        deploy_provider_free(&f->peers[i].p);
        json_decref(f->peers[i].status);
    }
    f->peer_count = 0;
    if (f->tls_made) {
        deploy_tls_free(&f->tls);
    }
    if (f->key_loaded) {
        kumo_crypto_key_wipe(&f->kp);
    }
    if (f->stack_loaded) {
        deploy_stack_free(&f->stack);
    }
    json_decref(f->endpoints);
    f->endpoints = NULL;
    json_decref(f->chain_groups);
    f->chain_groups = NULL;
}

void deploy_flow_mark(deploy_flow_t *f, enum deploy_mark_id id)
{
    KUMO_ASSERT(id < DEPLOY_MARK_COUNT_);
    if (!f->marks[id].set) {
        f->marks[id].height = f->height;
        f->marks[id].ms = deploy_now_ms();
        f->marks[id].set = true;
    }
}

int deploy_flow_stream_open(deploy_flow_t *f, uint64_t from_height, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f->stream == NULL);
    return deploy_stream_open(f->a, f->owner, from_height, &f->stream, err);
}

/* ---- events ---- */

/* The attribute key of an event, or "". */
static const char *ev_attr(const json_t *ev, const char *key)
{
    size_t i;
    const json_t *at;
    json_array_foreach(json_object_get(ev, "attrs"), i, at)
    {
        if (strcmp(cli_json_str(at, "key"), key) == 0) {
            return cli_json_str(at, "value");
        }
    }
    return "";
}

static uint64_t ev_attr_u64(const json_t *ev, const char *key)
{
    uint64_t v = 0;
    return cli_u64_parse(ev_attr(ev, key), key, &v, NULL) == 0 ? v : 0;
}

/* " (reason: tenant)" when the event carries a reason, else "". */
static const char *ev_reason(const json_t *ev, char *buf, size_t cap)
{
    const char *r = ev_attr(ev, "reason");
    if (r[0] == '\0') {
        return "";
    }
    (void)snprintf(buf, cap, " (reason: %s)", r);
    return buf;
}

/* The parts of an event id "owner/dseq[/gseq/oseq[/provider]]" of this deployment: how many
 * parts after owner/dseq (0, 1 for a group, 3 for a bid or lease), or -1 for another
 * deployment's. */
static int ev_id_parts(const deploy_flow_t *f,
                       const json_t *ev,
                       uint32_t *gseq,
                       uint32_t *oseq,
                       char provider[KUMO_ADDRESS_TEXT_BYTES])
{
    const char *id = cli_json_str(ev, "id");
    size_t n = strlen(f->dep_id);
    if (strncmp(id, f->dep_id, n) != 0 || (id[n] != '\0' && id[n] != '/')) {
        return -1;
    }
    if (id[n] == '\0') {
        return 0;
    }
    char *end = NULL;
    unsigned long g = strtoul(id + n + 1, &end, 10);
    *gseq = (uint32_t)g;
    if (end == NULL || *end != '/' || g >= KUMO_GROUP_COUNT_MAX) {
        return g < KUMO_GROUP_COUNT_MAX && end != NULL && *end == '\0' ? 1 : -1;
    }
    unsigned long o = strtoul(end + 1, &end, 10);
    *oseq = (uint32_t)o;
    if (end == NULL || (*end != '/' && *end != '\0') || o > UINT32_MAX) {
        return -1;
    }
    provider[0] = '\0';
    if (*end == '/') {
        (void)snprintf(provider, KUMO_ADDRESS_TEXT_BYTES, "%s", end + 1);
    }
    return 3;
}

deploy_group_t *deploy_flow_group(deploy_flow_t *f, uint32_t gseq)
{
    for (size_t i = 0; gseq != DEPLOY_GSEQ_NONE && i < f->group_count; i++) {
        if (f->groups[i].gseq == gseq) {
            return &f->groups[i];
        }
    }
    return NULL;
}

/* The stack's name of group gseq, else the chain's (a group the stack left out), else "?". */
static const char *group_name(deploy_flow_t *f, uint32_t gseq)
{
    const deploy_group_t *g = deploy_flow_group(f, gseq);
    if (g != NULL && g->name != NULL) {
        return g->name;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(f->chain_groups, i, c)
    {
        if (cli_json_u64(c, "gseq") == gseq) {
            const char *name = cli_json_str(json_object_get(c, "spec"), "name");
            return name[0] != '\0' ? name : "?";
        }
    }
    return "?";
}

static void ev_lease_created(
    deploy_flow_t *f, const json_t *ev, uint32_t gseq, uint32_t oseq, const char *provider)
{
    uint64_t price = ev_attr_u64(ev, "price_total");
    fprintf(f->out, "[height %" PRIu64 "] lease %s → %s at %" PRIu64 " ukumo/block\n", f->height,
            group_name(f, gseq), provider, price);
    deploy_group_t *g = deploy_flow_group(f, gseq);
    if (g == NULL) {
        return;
    }
    g->leased = true;
    g->oseq = oseq;
    g->price_ukumo = price;
    (void)snprintf(g->provider, sizeof(g->provider), "%s", provider);
}

/* A lease closed: at DeploymentClosed, or by its provider while it ran (the group lost it). */
static void ev_lease_closed(deploy_flow_t *f, const json_t *ev, uint32_t gseq, const char *provider)
{
    char why[96];
    if (strcmp(ev_attr(ev, "reason"), "provider_closed") != 0) {
        fprintf(f->out,
                "[height %" PRIu64 "] lease %s at %s closed (collateral to you: %s ukumo)%s\n",
                f->height, group_name(f, gseq), provider, ev_attr(ev, "collateral_to_tenant"),
                ev_reason(ev, why, sizeof(why)));
        return;
    }
    const char *detail = ev_attr(ev, "detail");
    fprintf(f->out,
            "[height %" PRIu64 "] lease %s at %s closed by its provider%s%s (collateral to you: "
            "%s ukumo; the group is re-ordered if it persists)\n",
            f->height, group_name(f, gseq), provider, detail[0] != '\0' ? ": " : "", detail,
            ev_attr(ev, "collateral_to_tenant"));
    deploy_group_t *g = deploy_flow_group(f, gseq);
    if (g != NULL && strcmp(g->provider, provider) == 0) {
        g->leased = false;
    }
}

/* One event of a bid or lease (owner/dseq/gseq/oseq/provider). */
static void ev_bid(deploy_flow_t *f,
                   const char *type,
                   const json_t *ev,
                   uint32_t gseq,
                   uint32_t oseq,
                   const char *provider)
{
    char why[96];
    deploy_group_t *g = deploy_flow_group(f, gseq);
    if (strcmp(type, "fulfillment.created") == 0) {
        if (g != NULL) {
            g->bid_seen = true;
        }
        fprintf(f->out,
                "[height %" PRIu64 "] bid from %s on %s/%" PRIu32 ": %" PRIu64 " ukumo/block\n",
                f->height, provider, group_name(f, gseq), oseq, ev_attr_u64(ev, "price_total"));
    } else if (strcmp(type, "lease.created") == 0) {
        ev_lease_created(f, ev, gseq, oseq, provider);
    } else if (strcmp(type, "lease.closed") == 0) {
        ev_lease_closed(f, ev, gseq, provider);
    } else if (strcmp(type, "lease.refused") == 0) {
        fprintf(f->out,
                "[height %" PRIu64 "] lease %s at %s refused your manifest (%s: %s): fix it and "
                "update the deployment (the group is closed, not re-ordered)\n",
                f->height, group_name(f, gseq), provider, ev_attr(ev, "reason"),
                ev_attr(ev, "detail"));
        if (g != NULL && strcmp(g->provider, provider) == 0) {
            g->leased = false;
        }
    } else if (strcmp(type, "lease.paid") != 0 && strcmp(type, "lease.confirmed") != 0) {
        fprintf(f->out, "[height %" PRIu64 "] %s: lease %s at %s%s\n", f->height, type,
                group_name(f, gseq), provider, ev_reason(ev, why, sizeof(why)));
        if (strcmp(type, "lease.stale") == 0 && g != NULL && strcmp(g->provider, provider) == 0) {
            g->leased = false;
        }
    }
}

static void
ev_order(deploy_flow_t *f, const char *type, const json_t *ev, uint32_t gseq, uint32_t oseq)
{
    if (strcmp(type, "order.created") == 0) {
        uint64_t match = ev_attr_u64(ev, "match_height");
        f->match_height = match > f->match_height ? match : f->match_height;
        fprintf(f->out,
                "[height %" PRIu64 "] order %s/%" PRIu32 " open in %s (bids until height %" PRIu64
                ")\n",
                f->height, group_name(f, gseq), oseq, ev_attr(ev, "region"), match);
        deploy_group_t *g = deploy_flow_group(f, gseq);
        if (g != NULL && oseq > g->oseq) {
            g->oseq = oseq;
            g->bid_seen = false;
        }
    } else if (strcmp(type, "order.matched") != 0) {
        char why[96];
        fprintf(f->out, "[height %" PRIu64 "] %s: order %s/%" PRIu32 "%s\n", f->height, type,
                group_name(f, gseq), oseq, ev_reason(ev, why, sizeof(why)));
    }
}

static void ev_deployment(deploy_flow_t *f, const char *type, const json_t *ev)
{
    if (strcmp(type, "deployment.created") == 0) {
        fprintf(f->out,
                "[height %" PRIu64 "] deployment %" PRIu64
                " created: %s group(s), deposit %s ukumo\n",
                f->height, f->dseq, ev_attr(ev, "groups"), ev_attr(ev, "deposit"));
    } else if (strcmp(type, "deployment.closed") == 0) {
        f->closed = true;
        f->refund_ukumo = ev_attr_u64(ev, "refund");
        fprintf(f->out,
                "[height %" PRIu64 "] deployment %" PRIu64
                " closed: %s ukumo back to you, %s ukumo paid (reason: %s)\n",
                f->height, f->dseq, ev_attr(ev, "refund"), ev_attr(ev, "total_paid"),
                ev_attr(ev, "reason"));
    } else if (strcmp(type, "deployment.updated") == 0) {
        return; /* printed from the tx's answer */
    } else {
        fprintf(f->out, "[height %" PRIu64 "] %s", f->height, type);
        size_t i;
        const json_t *at;
        json_array_foreach(json_object_get(ev, "attrs"), i, at)
        {
            fprintf(f->out, " %s=%s", cli_json_str(at, "key"), cli_json_str(at, "value"));
        }
        fputc('\n', f->out);
    }
}

/* Blocks past the match height after which a group still without a bid is explained. */
#define DEPLOY_NO_BID_BLOCKS 3u

/* Why no provider bids on the groups still waiting without a bid, from what the providers
 * publish (deploy_quote.c); once per command. */
static void flow_no_bid_explain(deploy_flow_t *f)
{
    f->no_bid_told = true;
    json_t *providers = NULL;
    kumo_err_ctx_t err = {0};
    if (!f->stack_loaded || deploy_quote_providers_get(f->a, &providers, &err) < 0) {
        return;
    }
    deploy_quote_t *q = calloc(1, sizeof(*q));
    for (size_t i = 0; q != NULL && i < f->group_count && i < f->stack.group_count; i++) {
        const deploy_group_t *g = &f->groups[i];
        if (!g->need_lease || g->leased || g->bid_seen) {
            continue;
        }
        const Kumo__GroupSpec *spec = f->stack.groups[i];
        deploy_quote_group(providers, spec, q);
        char why[2048];
        if (deploy_quote_why(q, spec, why, sizeof(why)) != 0) {
            fprintf(f->out, "[height %" PRIu64 "] no bid on %s yet: %s\n", f->height, g->name, why);
        } else {
            fprintf(f->out,
                    "[height %" PRIu64 "] no bid on %s yet, though %zu provider(s) should bid "
                    "(their daemons may be down or busy)\n",
                    f->height, g->name, q->bid_count + q->bid_more);
        }
    }
    free(q);
    json_decref(providers);
}

static void ev_handle(deploy_flow_t *f, const json_t *ev)
{
    const char *type = cli_json_str(ev, "type");
    uint64_t h = cli_json_u64(ev, "height");
    f->height = h > f->height ? h : f->height;
    if (strcmp(type, "block") == 0) {
        if (f->match_height > 0 && f->height >= f->match_height) {
            deploy_flow_mark(f, DEPLOY_MARK_MATCHABLE);
        }
        if (f->match_height > 0 && f->height >= f->match_height + DEPLOY_NO_BID_BLOCKS &&
            !f->no_bid_told) {
            flow_no_bid_explain(f);
        }
        return;
    }
    uint32_t gseq = 0;
    uint32_t oseq = 0;
    char provider[KUMO_ADDRESS_TEXT_BYTES] = "";
    int parts = ev_id_parts(f, ev, &gseq, &oseq, provider);
    if (parts == 0) {
        ev_deployment(f, type, ev);
    } else if (parts == 3 && provider[0] != '\0') {
        ev_bid(f, type, ev, gseq, oseq, provider);
    } else if (parts == 3) {
        ev_order(f, type, ev, gseq, oseq);
    } else if (parts == 1 && strcmp(type, "group.created") != 0) {
        char why[96];
        fprintf(f->out, "[height %" PRIu64 "] %s: group %s%s\n", f->height, type,
                group_name(f, gseq), ev_reason(ev, why, sizeof(why)));
    }
}

int deploy_flow_drain(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    if (f->stream == NULL) {
        return 0;
    }
    for (;;) {
        json_t *ev = NULL;
        KUMO_GUARD(deploy_stream_next(f->stream, 0, &ev, err));
        if (ev == NULL) {
            return 0;
        }
        ev_handle(f, ev);
        json_decref(ev);
    }
}

/* Waits for events until done(f) or the deadline. */
static int flow_follow(deploy_flow_t *f,
                       bool (*done)(const deploy_flow_t *f),
                       const char *what,
                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f->stream != NULL);
    while (!done(f)) {
        uint64_t now = deploy_now_ms();
        KUMO_ENSURE(now < f->deadline_ms, err, KUMO_EBUSY,
                    "timed out at height %" PRIu64 " waiting for %s (raise --timeout)", f->height,
                    what);
        json_t *ev = NULL;
        KUMO_GUARD(deploy_stream_next(f->stream, f->deadline_ms - now, &ev, err));
        if (ev != NULL) {
            ev_handle(f, ev);
            json_decref(ev);
        }
        KUMO_ENSURE(!f->closed || done(f), err, KUMO_ESTATE,
                    "deployment %" PRIu64 " was closed while waiting for %s", f->dseq, what);
    }
    return 0;
}

static bool flow_leases_done(const deploy_flow_t *f)
{
    for (size_t i = 0; i < f->group_count; i++) {
        if (f->groups[i].need_lease && !f->groups[i].leased) {
            return false;
        }
    }
    return true;
}

static bool flow_closed_done(const deploy_flow_t *f)
{
    return f->closed;
}

int deploy_flow_leases_wait(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(
        flow_follow(f, flow_leases_done, "leases (is a provider bidding in every region?)", err));
    deploy_flow_mark(f, DEPLOY_MARK_MATCHABLE);
    deploy_flow_mark(f, DEPLOY_MARK_LEASED);
    return 0;
}

int deploy_flow_closed_wait(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    return flow_follow(f, flow_closed_done, "the providers to release the leases", err);
}

int deploy_flow_groups_resolve(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    char path[256] = "/groups";
    char dseq[24];
    char limit[16];
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, f->dseq);
    (void)snprintf(limit, sizeof(limit), "%u", KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX);
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "owner", f->owner, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "dseq", dseq, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit", limit, err));
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &j, err));
    json_t *items = json_object_get(j, "items");
    KUMO_ENSURE(json_is_array(items), err, KUMO_EIO, "the node's groups: no list");
    json_decref(f->chain_groups);
    f->chain_groups = json_incref(items);
    json_decref(j);
    for (size_t i = 0; i < f->group_count; i++) {
        f->groups[i].gseq = DEPLOY_GSEQ_NONE;
        if (f->stack_loaded && i < f->stack.group_count) {
            f->groups[i].name = f->stack.groups[i]->name;
        }
        size_t k;
        const json_t *c;
        json_array_foreach(f->chain_groups, k, c)
        {
            const char *name = cli_json_str(json_object_get(c, "spec"), "name");
            if (f->groups[i].name != NULL && strcmp(name, f->groups[i].name) == 0 &&
                strcmp(cli_json_str(c, "state"), "GROUP_CLOSED") != 0) {
                f->groups[i].gseq = (uint32_t)cli_json_u64(c, "gseq");
            }
        }
    }
    return 0;
}

int deploy_flow_leases_read(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(deploy_flow_groups_resolve(f, err));
    char path[256] = "/leases";
    char dseq[24];
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, f->dseq);
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "owner", f->owner, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "dseq", dseq, err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "state", "LEASE_ACTIVE", err));
    KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit", "1000", err));
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(f->a, path, &j, err));
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(j, "items"), i, l)
    {
        const json_t *id = json_object_get(l, "id");
        const json_t *order = json_object_get(id, "order");
        uint64_t gseq = cli_json_u64(order, "gseq");
        deploy_group_t *g = gseq < UINT32_MAX ? deploy_flow_group(f, (uint32_t)gseq) : NULL;
        if (g == NULL) {
            continue;
        }
        g->leased = true;
        g->oseq = (uint32_t)cli_json_u64(order, "oseq");
        g->price_ukumo = cli_json_u64(l, "price_total");
        (void)snprintf(g->provider, sizeof(g->provider), "%s", cli_json_str(id, "provider"));
    }
    json_decref(j);
    return 0;
}
