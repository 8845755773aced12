/*
 * bid.c - whether and how a provider bids on an order (provider.h). Pure: the daemon feeds
 * it the order's group, what is free and whether its runtime answers.
 */
#include <string.h>

#include "provider/provider.h"

#define GIB (1024ull * 1024ull * 1024ull)

const char *kumo_provider_bid_verdict_name(kumo_provider_bid_verdict_t v)
{
    static const char *const names[] = {"ok",      "region", "capacity",     "price", "budget",
                                        "runtime", "full",   "requirements", "gpu",   "busy"};
    return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

/* ceil(a * b / d) in 128-bit math; false if it does not fit 64 bits. */
static bool mul_div_ceil(uint64_t a, uint64_t b, uint64_t d, uint64_t *out)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    unsigned __int128 q = (p + d - 1u) / d;
    if (q > UINT64_MAX) {
        return false;
    }
    *out = (uint64_t)q;
    return true;
}

/* Our cost of one unit per block. */
static bool unit_cost(const kumo_provider_cfg_t *cfg, const Kumo__ComputeUnit *u, uint64_t *out)
{
    uint64_t cpu = 0;
    uint64_t mem = 0;
    uint64_t sto = 0;
    uint64_t gpu = 0;
    return mul_div_ceil(u->cpu_milli, cfg->price_cpu_per_core, 1000u, &cpu) &&
           mul_div_ceil(u->memory_bytes, cfg->price_memory_per_gib, GIB, &mem) &&
           mul_div_ceil(u->storage_bytes, cfg->price_storage_per_gib, GIB, &sto) &&
           kumo_u64_mul(u->gpu != NULL ? u->gpu->count : 0u, cfg->price_per_gpu, &gpu) == 0 &&
           kumo_u64_add(cpu, mem, out) == 0 && kumo_u64_add(*out, sto, out) == 0 &&
           kumo_u64_add(*out, gpu, out) == 0;
}

/* Adds count × x to *acc; false on overflow. */
static bool acc_add(uint64_t *acc, uint64_t count, uint64_t x)
{
    uint64_t t = 0;
    return kumo_u64_mul(count, x, &t) == 0 && kumo_u64_add(*acc, t, acc) == 0;
}

static kumo_provider_bid_verdict_t
bid_sum(const kumo_provider_cfg_t *cfg, const Kumo__GroupSpec *group, kumo_provider_bid_t *out)
{
    if (group->n_resources > sizeof(out->prices) / sizeof(out->prices[0])) {
        return KUMO_PROVIDER_BID_CAPACITY;
    }
    bool over_price = false;
    for (size_t i = 0; i < group->n_resources; i++) {
        const Kumo__ResourceGroup *r = group->resources[i];
        uint64_t cost = 0;
        if (r->compute == NULL || !unit_cost(cfg, r->compute, &cost) ||
            !acc_add(&out->cpu_milli, r->count, r->compute->cpu_milli) ||
            !acc_add(&out->memory_bytes, r->count, r->compute->memory_bytes) ||
            !acc_add(&out->storage_bytes, r->count, r->compute->storage_bytes) ||
            !acc_add(&out->collateral, r->count, r->collateral) ||
            !acc_add(&out->price_total, r->count, cost) ||
            !acc_add(&out->unit_count, r->count, 1u)) {
            return KUMO_PROVIDER_BID_CAPACITY;
        }
        over_price = over_price || cost > r->price;
        out->prices[i] = cost;
    }
    out->count = (uint32_t)group->n_resources;
    return over_price ? KUMO_PROVIDER_BID_PRICE : KUMO_PROVIDER_BID_OK;
}

void kumo_provider_bid_decide(const kumo_provider_cfg_t *cfg,
                              const Kumo__GroupSpec *group,
                              const kumo_provider_free_t *free_res,
                              bool runtime_ok,
                              kumo_provider_bid_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!runtime_ok) {
        out->verdict = KUMO_PROVIDER_BID_RUNTIME;
        return;
    }
    if (group->region == NULL || strcmp(group->region, cfg->region) != 0) {
        out->verdict = KUMO_PROVIDER_BID_REGION;
        return;
    }
    out->verdict = bid_sum(cfg, group, out);
    if (out->verdict == KUMO_PROVIDER_BID_CAPACITY) {
        return;
    }
    if (!kumo_provider_gpus_assign(cfg, group->resources, group->n_resources,
                                   free_res->gpu_free_mask, out)) {
        out->gpu_count = 0;
        out->gpu_mask = 0;
        out->verdict = KUMO_PROVIDER_BID_GPU;
        return;
    }
    /* Bidding past the tables would win leases the daemon cannot hold or run. */
    if (free_res->lease_slots == 0 || out->unit_count > free_res->instance_slots) {
        out->verdict = KUMO_PROVIDER_BID_FULL;
    } else if (out->cpu_milli > free_res->cpu_milli || out->memory_bytes > free_res->memory_bytes ||
               out->storage_bytes > free_res->storage_bytes) {
        out->verdict = KUMO_PROVIDER_BID_CAPACITY;
    } else if (out->verdict == KUMO_PROVIDER_BID_OK && out->collateral > free_res->collateral) {
        out->verdict = KUMO_PROVIDER_BID_BUDGET;
    } else if (out->verdict == KUMO_PROVIDER_BID_OK && out->unit_count > free_res->start_slots) {
        /* A lease it could not start in time would go stale and cost its collateral. */
        out->verdict = KUMO_PROVIDER_BID_BUSY;
    }
}

uint64_t kumo_provider_start_slots(const kumo_provider_pace_t *pace, uint64_t backlog)
{
    if (backlog == 0) {
        return UINT64_MAX;
    }
    uint64_t blocks = pace->period_blocks > (uint64_t)pace->margin_blocks + 1u
                          ? pace->period_blocks - pace->margin_blocks - 1u
                          : 1u;
    uint64_t window_ms = 0;
    if (kumo_u64_mul(blocks, pace->block_ms, &window_ms) < 0) {
        window_ms = UINT64_MAX;
    }
    uint64_t slots = window_ms / 2u / (pace->start_ms > 0 ? pace->start_ms : 1u);
    return slots > backlog ? slots - backlog : 0u;
}
