/*
 * deploy_quote.c - "why no bids", before and after ordering. For a group, every provider on
 * chain is judged with the providers' own bidding rule (kumo_provider_bid_decide) applied to
 * what it published (its region, and its offer: unit prices and what it has free). The answer
 * is who would bid and at what price, or why nobody would, in terms the tenant can act on: no
 * provider serves the region, none meets the group's placement requirements (the attribute or
 * auditor signature it lacks, judged by the chain's rule), every price is above the order's
 * maximum, not enough free
 * capacity, the collateral above what any provider can still lock. `kumo deploy quote` prints
 * it per group before anything is sent; `kumo deploy` prints it for a group whose order is
 * still without a bid a few blocks after it became matchable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_int.h"
#include "market/market.h"
#include "provider/provider.h"

/* Provider list pages read at most (of KUMO_QUERY_PAGE_COUNT_MAX each). */
#define QUOTE_PAGES_MAX 16u

static uint64_t sat_mul_add(uint64_t acc, uint64_t a, uint64_t b)
{
    uint64_t p;
    if (kumo_u64_mul(a, b, &p) < 0 || kumo_u64_add(acc, p, &p) < 0) {
        return UINT64_MAX;
    }
    return p;
}

/* Every item of a list route, page by page (at most QUOTE_PAGES_MAX pages). */
static int quote_list_get(const cli_args_t *a, const char *route, json_t **out, kumo_err_ctx_t *err)
{
    json_t *all = json_array();
    KUMO_ENSURE(all != NULL, err, KUMO_ENOMEM, "%s", route);
    char next[KUMO_KEY_BYTES_MAX * 2 + 1] = "";
    for (uint32_t page = 0; page < QUOTE_PAGES_MAX; page++) {
        char path[1024];
        (void)snprintf(path, sizeof(path), "%s", route);
        int rc = kumo_client_path_param_add(path, sizeof(path), "limit", "1000", err);
        rc = rc < 0 ? rc
                    : kumo_client_path_param_add(path, sizeof(path), "page", next[0] ? next : NULL,
                                                 err);
        json_t *j = NULL;
        rc = rc < 0 ? rc : cli_http_get(a, path, &j, err);
        if (rc < 0) {
            json_decref(all);
            return rc;
        }
        (void)json_array_extend(all, json_object_get(j, "items"));
        const char *n = json_string_value(json_object_get(j, "next"));
        (void)snprintf(next, sizeof(next), "%s", n != NULL ? n : "");
        json_decref(j);
        if (next[0] == '\0') {
            break;
        }
    }
    *out = all;
    return 0;
}

/* Hangs each audit on its provider's object (as "audits"). */
static void quote_audits_attach(json_t *providers, const json_t *audits)
{
    json_t *by_provider = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(providers, i, p)
    {
        json_t *list = json_array();
        (void)json_object_set_new(p, "audits", list);
        (void)json_object_set(by_provider, cli_json_str(p, "owner"), list);
    }
    const json_t *au;
    json_array_foreach(audits, i, au)
    {
        json_t *list = json_object_get(by_provider, cli_json_str(au, "provider"));
        if (list != NULL) {
            (void)json_array_append(list, (json_t *)(uintptr_t)au);
        }
    }
    json_decref(by_provider);
}

int deploy_quote_providers_get(const cli_args_t *a, json_t **out, kumo_err_ctx_t *err)
{
    json_t *providers = NULL;
    json_t *audits = NULL;
    KUMO_GUARD(quote_list_get(a, "/providers", &providers, err));
    int rc = quote_list_get(a, "/audits", &audits, err);
    if (rc < 0) {
        json_decref(providers);
        return rc;
    }
    quote_audits_attach(providers, audits);
    json_decref(audits);
    *out = providers;
    return 0;
}

/* What the group asks for, from its spec. */
static void quote_asks(const Kumo__GroupSpec *g, deploy_quote_t *q)
{
    for (size_t i = 0; i < g->n_resources; i++) {
        const Kumo__ResourceGroup *r = g->resources[i];
        q->max_price_total = sat_mul_add(q->max_price_total, r->price, r->count);
        q->collateral_total = sat_mul_add(q->collateral_total, r->collateral, r->count);
        if (r->compute != NULL) {
            q->cpu_milli = sat_mul_add(q->cpu_milli, r->compute->cpu_milli, r->count);
            q->memory_bytes = sat_mul_add(q->memory_bytes, r->compute->memory_bytes, r->count);
            q->storage_bytes = sat_mul_add(q->storage_bytes, r->compute->storage_bytes, r->count);
        }
    }
}

static void quote_region_note(deploy_quote_t *q, const char *region)
{
    size_t len = strlen(region);
    const char *p = q->regions;
    while ((p = strstr(p, region)) != NULL) {
        bool starts = p == q->regions || p[-1] == ' ';
        if (starts && (p[len] == ',' || p[len] == '\0')) {
            return;
        }
        p += len;
    }
    size_t used = strlen(q->regions);
    (void)snprintf(q->regions + used, sizeof(q->regions) - used, "%s%s", used > 0 ? ", " : "",
                   region);
}

static void uptake(uint64_t *most, uint64_t v)
{
    *most = v > *most ? v : *most;
}

/* Audits of one provider judged at most (the rest are ignored: a quote, not the chain). */
#define QUOTE_AUDITS_MAX 64u

/* Whether provider p (JSON with its "audits") meets g's requirements, by the chain's rule;
 * the first failure's detail goes to q. */
static bool quote_meets(const json_t *p, const Kumo__GroupSpec *g, deploy_quote_t *q)
{
    Kumo__Attribute attrs[KUMO_ATTRIBUTE_COUNT_MAX];
    Kumo__Attribute *attr_ptrs[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t n = 0;
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(p, "attributes"), i, it)
    {
        if (n == KUMO_ATTRIBUTE_COUNT_MAX) {
            break;
        }
        kumo__attribute__init(&attrs[n]);
        attrs[n].key = (char *)(uintptr_t)cli_json_str(it, "key");
        attrs[n].value = (char *)(uintptr_t)cli_json_str(it, "value");
        attr_ptrs[n] = &attrs[n];
        n++;
    }
    Kumo__ProviderAudit *audits[QUOTE_AUDITS_MAX];
    size_t audit_count = 0;
    json_array_foreach(json_object_get(p, "audits"), i, it)
    {
        ProtobufCMessage *m = NULL;
        if (audit_count < QUOTE_AUDITS_MAX &&
            kumo_codec_json_to_message(&kumo__provider_audit__descriptor, it, &m, NULL) == 0) {
            audits[audit_count++] = (Kumo__ProviderAudit *)m;
        }
    }
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    const char *owner_text = cli_json_str(p, "owner");
    int rc = owner_text != NULL ? kumo_codec_address_decode(owner_text, owner, &err)
                                : kumo_err_set(&err, KUMO_EDECODE, "a provider without an owner");
    if (rc == 0) {
        rc = kumo_market_requirements_match_list(g->requirements, owner, attr_ptrs, n, audits,
                                                 audit_count, &err);
    }
    for (size_t k = 0; k < audit_count; k++) {
        kumo_codec_free(&audits[k]->base);
    }
    if (rc != 0 && q->requirements_detail[0] == '\0') {
        (void)snprintf(q->requirements_detail, sizeof(q->requirements_detail), "%s", err.detail);
    }
    return rc == 0;
}

/* The offer's free GPUs (count of each kind) as the GPUs of cfg, all free; past
 * KUMO_PROVIDER_GPU_COUNT_MAX the rest is left out (the chain allows no more). */
static void quote_offer_gpus(const json_t *offer, kumo_provider_cfg_t *cfg)
{
    size_t i;
    const json_t *kind;
    json_array_foreach(json_object_get(offer, "free_gpus"), i, kind)
    {
        uint64_t count = cli_json_u64(kind, "count");
        for (uint64_t k = 0; k < count && cfg->gpu_count < KUMO_PROVIDER_GPU_COUNT_MAX; k++) {
            kumo_provider_gpu_t *gpu = &cfg->gpus[cfg->gpu_count++];
            (void)snprintf(gpu->vendor, sizeof(gpu->vendor), "%s", cli_json_str(kind, "vendor"));
            (void)snprintf(gpu->model, sizeof(gpu->model), "%s", cli_json_str(kind, "model"));
            gpu->memory_bytes = cli_json_u64(kind, "memory_bytes");
        }
    }
}

/* One provider in the group's region with an offer: what its bidding rule says. */
static void
quote_judge(const json_t *p, const json_t *offer, const Kumo__GroupSpec *g, deploy_quote_t *q)
{
    if (g->requirements != NULL && !quote_meets(p, g, q)) {
        q->verdicts[KUMO_PROVIDER_BID_REQUIREMENTS]++;
        return;
    }
    kumo_provider_cfg_t *cfg = kumo_calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        return;
    }
    (void)snprintf(cfg->region, sizeof(cfg->region), "%s", g->region);
    cfg->price_cpu_per_core = cli_json_u64(offer, "price_cpu_per_core");
    cfg->price_memory_per_gib = cli_json_u64(offer, "price_memory_per_gib");
    cfg->price_storage_per_gib = cli_json_u64(offer, "price_storage_per_gib");
    cfg->price_per_gpu = cli_json_u64(offer, "price_per_gpu");
    quote_offer_gpus(offer, cfg);
    kumo_provider_free_t fr = {
        .cpu_milli = cli_json_u64(offer, "free_cpu_milli"),
        .memory_bytes = cli_json_u64(offer, "free_memory_bytes"),
        .storage_bytes = cli_json_u64(offer, "free_storage_bytes"),
        .collateral = cli_json_u64(offer, "free_collateral"),
        .lease_slots = 1u,
        .instance_slots = UINT64_MAX,
        .gpu_free_mask = cfg->gpu_count == 64u ? UINT64_MAX : (1ull << cfg->gpu_count) - 1u,
        .start_slots = UINT64_MAX};
    uptake(&q->most_cpu_milli, fr.cpu_milli);
    uptake(&q->most_memory_bytes, fr.memory_bytes);
    uptake(&q->most_storage_bytes, fr.storage_bytes);
    uptake(&q->most_collateral, fr.collateral);
    kumo_provider_bid_t bid;
    kumo_provider_bid_decide(cfg, g, &fr, true, &bid);
    kumo_free(cfg);
    q->verdicts[bid.verdict < DEPLOY_QUOTE_VERDICTS ? bid.verdict : 0]++;
    if (bid.verdict == KUMO_PROVIDER_BID_PRICE) {
        q->cheapest_ask = bid.price_total < q->cheapest_ask ? bid.price_total : q->cheapest_ask;
    }
    if (bid.verdict != KUMO_PROVIDER_BID_OK) {
        return;
    }
    /* Kept cheapest first (at most DEPLOY_QUOTE_BIDS_MAX; the rest only counted). */
    size_t at = q->bid_count;
    while (at > 0 && q->bids[at - 1].price_total > bid.price_total) {
        at--;
    }
    if (at >= DEPLOY_QUOTE_BIDS_MAX) {
        q->bid_more++;
        return;
    }
    size_t keep = q->bid_count;
    if (keep == DEPLOY_QUOTE_BIDS_MAX) {
        keep--; /* the dearest drops out */
        q->bid_more++;
    }
    memmove(&q->bids[at + 1], &q->bids[at], (keep - at) * sizeof(q->bids[0]));
    (void)snprintf(q->bids[at].provider, sizeof(q->bids[at].provider), "%s",
                   cli_json_str(p, "owner"));
    q->bids[at].price_total = bid.price_total;
    q->bid_count = keep + 1;
}

void deploy_quote_group(const json_t *providers, const Kumo__GroupSpec *g, deploy_quote_t *q)
{
    memset(q, 0, sizeof(*q));
    q->cheapest_ask = UINT64_MAX;
    quote_asks(g, q);
    size_t i;
    const json_t *p;
    json_array_foreach(providers, i, p)
    {
        const char *region = cli_json_str(p, "region");
        q->provider_count++;
        quote_region_note(q, region);
        if (strcmp(region, g->region) != 0) {
            continue;
        }
        q->in_region++;
        const json_t *offer = json_object_get(p, "offer");
        if (!json_is_object(offer)) {
            q->no_offer++;
            continue;
        }
        quote_judge(p, offer, g, q);
    }
}

/* The sentence for one reason no provider in the region would bid. */
static void quote_reason(const deploy_quote_t *q,
                         const Kumo__GroupSpec *g,
                         kumo_provider_bid_verdict_t v,
                         char *out,
                         size_t cap)
{
    size_t n = q->verdicts[v];
    switch (v) {
    case KUMO_PROVIDER_BID_PRICE:
        (void)snprintf(out, cap,
                       "price: %zu provider(s) in %s ask more than your maximum of %" PRIu64
                       " ukumo/block for this group (the cheapest asks %" PRIu64
                       "): raise the price in the stack",
                       n, g->region, q->max_price_total, q->cheapest_ask);
        return;
    case KUMO_PROVIDER_BID_CAPACITY:
        (void)snprintf(
            out, cap,
            "capacity: %zu provider(s) in %s lack the free capacity (you ask cpu %" PRIu64
            "m, memory %" PRIu64 " B, storage %" PRIu64 " B; the most free is cpu %" PRIu64
            "m, memory %" PRIu64 " B, storage %" PRIu64 " B): ask for fewer or smaller units",
            n, g->region, q->cpu_milli, q->memory_bytes, q->storage_bytes, q->most_cpu_milli,
            q->most_memory_bytes, q->most_storage_bytes);
        return;
    case KUMO_PROVIDER_BID_BUDGET:
        (void)snprintf(out, cap,
                       "collateral: the group's collateral of %" PRIu64
                       " ukumo is more than %zu provider(s) in %s can still lock (the most is "
                       "%" PRIu64 "): lower the collateral in the stack",
                       q->collateral_total, n, g->region, q->most_collateral);
        return;
    case KUMO_PROVIDER_BID_GPU:
        (void)snprintf(out, cap,
                       "gpu: %zu provider(s) in %s have no free GPUs like the group's (vendor, "
                       "model, memory per GPU, count per unit): ask for another kind or fewer, "
                       "or wait for one to come free",
                       n, g->region);
        return;
    case KUMO_PROVIDER_BID_REQUIREMENTS:
        (void)snprintf(out, cap,
                       "requirements: %zu provider(s) in %s do not meet the group's placement "
                       "requirements (%s): require fewer attributes or auditors, or ask the "
                       "auditors to sign",
                       n, g->region, q->requirements_detail);
        return;
    default:
        (void)snprintf(out, cap, "%s: %zu provider(s) in %s", kumo_provider_bid_verdict_name(v), n,
                       g->region);
        return;
    }
}

int deploy_quote_why(const deploy_quote_t *q, const Kumo__GroupSpec *g, char *out, size_t cap)
{
    KUMO_ASSERT(cap > 0);
    out[0] = '\0';
    if (q->bid_count > 0) {
        return 0;
    }
    if (q->in_region == 0) {
        (void)snprintf(out, cap, "region: no provider serves region %s (%s%s)", g->region,
                       q->provider_count > 0 ? "regions served: " : "no provider is registered",
                       q->regions);
        return 1;
    }
    int reasons = 0;
    size_t used = 0;
    static const kumo_provider_bid_verdict_t order[] = {
        KUMO_PROVIDER_BID_REQUIREMENTS, KUMO_PROVIDER_BID_GPU,    KUMO_PROVIDER_BID_PRICE,
        KUMO_PROVIDER_BID_CAPACITY,     KUMO_PROVIDER_BID_BUDGET, KUMO_PROVIDER_BID_FULL,
        KUMO_PROVIDER_BID_RUNTIME};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(order); i++) {
        if (q->verdicts[order[i]] == 0 || used + 1 >= cap) {
            continue;
        }
        char line[512];
        quote_reason(q, g, order[i], line, sizeof(line));
        int w = snprintf(out + used, cap - used, "%s%s", reasons > 0 ? "; " : "", line);
        used += w > 0 ? (size_t)w : 0u;
        used = used < cap ? used : cap - 1;
        reasons++;
    }
    if (q->no_offer > 0 && used + 1 < cap) {
        (void)snprintf(out + used, cap - used,
                       "%s%zu provider(s) in %s publish no offer, so cannot be judged",
                       reasons > 0 ? "; " : "unknown: ", q->no_offer, g->region);
    }
    return 1;
}

static json_t *quote_json(const deploy_quote_t *q, const Kumo__GroupSpec *g, const char *why)
{
    json_t *bids = json_array();
    for (size_t i = 0; bids != NULL && i < q->bid_count; i++) {
        (void)json_array_append_new(bids, json_pack("{s:s, s:I}", "provider", q->bids[i].provider,
                                                    "price_per_block",
                                                    (json_int_t)q->bids[i].price_total));
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:o, s:s?}", "group", g->name, "region", g->region,
                     "max_price_per_block", (json_int_t)q->max_price_total, "collateral",
                     (json_int_t)q->collateral_total, "bids", bids != NULL ? bids : json_array(),
                     "why_none", why[0] != '\0' ? why : NULL);
}

void deploy_quote_print(FILE *out, const deploy_quote_t *q, const Kumo__GroupSpec *g)
{
    char why[2048];
    if (deploy_quote_why(q, g, why, sizeof(why)) != 0) {
        fprintf(out, "group %s (%s): no provider would bid: %s\n", g->name, g->region, why);
        return;
    }
    fprintf(out,
            "group %s (%s): %zu provider(s) would bid, your maximum %" PRIu64 " ukumo/block:\n",
            g->name, g->region, q->bid_count + q->bid_more, q->max_price_total);
    for (size_t i = 0; i < q->bid_count; i++) {
        fprintf(out, "  %s at %" PRIu64 " ukumo/block\n", q->bids[i].provider,
                q->bids[i].price_total);
    }
    if (q->bid_more > 0) {
        fprintf(out, "  and %zu more\n", q->bid_more);
    }
}

int deploy_quote_run(cli_args_t *a)
{
    deploy_stack_t *stack = calloc(1, sizeof(*stack));
    if (stack == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    json_t *providers = NULL;
    int rc = deploy_stack_load(a->pos[0], stack, &err);
    bool loaded = rc == 0;
    rc = rc == 0 ? deploy_quote_providers_get(a, &providers, &err) : rc;
    json_t *groups = json_array();
    deploy_quote_t *q = calloc(1, sizeof(*q));
    if (rc == 0 && (groups == NULL || q == NULL)) {
        rc = kumo_err_set(&err, KUMO_ENOMEM, "quote");
    }
    for (size_t i = 0; rc == 0 && i < stack->group_count; i++) {
        const Kumo__GroupSpec *g = stack->groups[i];
        deploy_quote_group(providers, g, q);
        char why[2048];
        (void)deploy_quote_why(q, g, why, sizeof(why));
        (void)json_array_append_new(groups, quote_json(q, g, why));
        if (a->output != CLI_OUTPUT_JSON) {
            deploy_quote_print(stdout, q, g);
        }
    }
    int exit_code = rc < 0 ? cli_fail("deploy quote", &err) : CLI_EXIT_OK;
    if (rc == 0 && a->output == CLI_OUTPUT_JSON) {
        json_t *o = json_pack("{s:O}", "groups", groups);
        cli_json_print(o, stdout);
        json_decref(o);
    }
    free(q);
    json_decref(groups);
    json_decref(providers);
    if (loaded) {
        deploy_stack_free(stack);
    }
    free(stack);
    return exit_code;
}
