/*
 * gpus.c - the GPUs a provider rents out (provider.h): which of its GPUs serve a unit's
 * GpuSpec, which ones a bid holds (assigned deterministically: the lowest-numbered free
 * matching GPU first, resource by resource, unit by unit), which of a lease's GPUs an
 * instance of a workload gets, and the record of the assignments the daemon keeps in
 * home/gpus (so a restarted daemon gives every lease the devices it had). Pure: no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider/provider.h"
#include "sdl/sdl.h"

bool kumo_provider_gpu_matches(const kumo_provider_gpu_t *g, const Kumo__GpuSpec *want)
{
    KUMO_ASSERT(g != NULL && want != NULL);
    return want->vendor != NULL && strcmp(g->vendor, want->vendor) == 0 &&
           (want->model == NULL || want->model[0] == '\0' || strcmp(g->model, want->model) == 0) &&
           g->memory_bytes >= want->memory_bytes;
}

/* GPUs the resources need in all; false past KUMO_PROVIDER_GPU_COUNT_MAX (no provider has
 * more, and it keeps the loops below bounded). */
static bool gpus_needed(Kumo__ResourceGroup *const *resources, size_t n, uint32_t *out)
{
    uint64_t need = 0;
    for (size_t i = 0; i < n; i++) {
        const Kumo__ComputeUnit *u = resources[i]->compute;
        if (u != NULL && u->gpu != NULL) {
            need += (uint64_t)resources[i]->count * u->gpu->count; /* u32 × u32, 16 of them */
        }
    }
    if (need > KUMO_PROVIDER_GPU_COUNT_MAX) {
        return false;
    }
    *out = (uint32_t)need;
    return true;
}

/* The lowest-numbered GPU in *mask that serves want, taken out of *mask; false if none. */
static bool gpu_take(const kumo_provider_cfg_t *cfg,
                     const Kumo__GpuSpec *want,
                     uint64_t *mask,
                     kumo_provider_bid_t *out)
{
    for (uint32_t i = 0; i < cfg->gpu_count; i++) {
        uint64_t bit = 1ull << i;
        if ((*mask & bit) != 0 && kumo_provider_gpu_matches(&cfg->gpus[i], want)) {
            KUMO_ASSERT(out->gpu_count < KUMO_PROVIDER_GPU_COUNT_MAX);
            *mask &= ~bit;
            out->gpus[out->gpu_count++] = (uint8_t)i;
            out->gpu_mask |= bit;
            return true;
        }
    }
    return false;
}

bool kumo_provider_gpus_assign(const kumo_provider_cfg_t *cfg,
                               Kumo__ResourceGroup *const *resources,
                               size_t n,
                               uint64_t free_mask,
                               kumo_provider_bid_t *out)
{
    KUMO_ASSERT(cfg->gpu_count <= KUMO_PROVIDER_GPU_COUNT_MAX);
    KUMO_ASSERT(out->gpu_count == 0 && out->gpu_mask == 0);
    uint32_t need = 0;
    if (!gpus_needed(resources, n, &need) || need > (uint32_t)__builtin_popcountll(free_mask) ||
        need > cfg->gpu_count) {
        return false;
    }
    uint64_t mask = free_mask;
    for (size_t i = 0; i < n; i++) {
        const Kumo__ComputeUnit *u = resources[i]->compute;
        uint32_t per_unit = u != NULL && u->gpu != NULL ? u->gpu->count : 0u;
        for (uint64_t k = 0; k < (uint64_t)resources[i]->count * per_unit; k++) {
            if (!gpu_take(cfg, u->gpu, &mask, out)) {
                out->gpu_count = 0;
                out->gpu_mask = 0;
                return false;
            }
        }
    }
    KUMO_ASSERT(out->gpu_count == need);
    return true;
}

bool kumo_provider_gpus_fit(const kumo_provider_cfg_t *cfg,
                            Kumo__ResourceGroup *const *resources,
                            size_t n,
                            const uint8_t *gpus,
                            uint32_t gpu_count,
                            uint64_t free_mask)
{
    uint32_t need = 0;
    if (!gpus_needed(resources, n, &need) || need != gpu_count) {
        return false;
    }
    uint64_t mask = free_mask;
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const Kumo__ComputeUnit *u = resources[i]->compute;
        uint32_t per_unit = u != NULL && u->gpu != NULL ? u->gpu->count : 0u;
        for (uint64_t k = 0; k < (uint64_t)resources[i]->count * per_unit; k++, at++) {
            KUMO_ASSERT(at < gpu_count);
            uint8_t g = gpus[at];
            if (g >= cfg->gpu_count || (mask & (1ull << g)) == 0 ||
                !kumo_provider_gpu_matches(&cfg->gpus[g], u->gpu)) {
                return false;
            }
            mask &= ~(1ull << g); /* each once */
        }
    }
    return at == gpu_count;
}

bool kumo_provider_gpus_instance(const Kumo__GroupSpec *group,
                                 const Kumo__Manifest *m,
                                 const Kumo__ManifestWorkload *w,
                                 uint32_t instance,
                                 uint32_t *first,
                                 uint32_t *count)
{
    KUMO_ASSERT(group != NULL && m != NULL && w != NULL);
    KUMO_ASSERT(first != NULL && count != NULL);
    *first = 0;
    *count = 0;
    if (w->compute == NULL || instance >= w->count) {
        return false;
    }
    size_t ri = 0;
    uint64_t offset = 0; /* GPUs of the resources before ri */
    while (ri < group->n_resources &&
           (group->resources[ri]->compute == NULL ||
            !kumo_sdl_compute_equal(group->resources[ri]->compute, w->compute))) {
        const Kumo__ComputeUnit *u = group->resources[ri]->compute;
        offset += u != NULL && u->gpu != NULL
                      ? (uint64_t)group->resources[ri]->count * u->gpu->count
                      : 0u;
        ri++;
    }
    if (ri == group->n_resources) {
        return false;
    }
    /* The units of resource ri go to its workloads in manifest order, instance by instance. */
    uint64_t unit = instance;
    for (size_t i = 0; i < m->n_workloads && m->workloads[i] != w; i++) {
        const Kumo__ManifestWorkload *o = m->workloads[i];
        if (o->group != NULL && w->group != NULL && strcmp(o->group, w->group) == 0 &&
            o->compute != NULL && kumo_sdl_compute_equal(o->compute, w->compute)) {
            unit += o->count;
        }
    }
    if (unit >= group->resources[ri]->count) {
        return false;
    }
    uint32_t per_unit = w->compute->gpu != NULL ? w->compute->gpu->count : 0u;
    uint64_t at = offset + unit * per_unit;
    if (at + per_unit > KUMO_PROVIDER_GPU_COUNT_MAX) {
        return false;
    }
    *first = (uint32_t)at;
    *count = per_unit;
    return true;
}

/* ---- home/gpus: "<order> <i>,<i>,...\n" per hold with GPUs ---- */

/* One record's order id: 1..KUMO_ID_TEXT_BYTES-1 printable bytes without spaces. */
static bool record_order_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n >= KUMO_ID_TEXT_BYTES) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* "i,j,k" of one line: indexes under KUMO_PROVIDER_GPU_COUNT_MAX, each once in the line. */
static int record_gpus_parse(const uint8_t *p, size_t n, kumo_provider_gpu_record_t *r)
{
    size_t pos = 0;
    uint64_t seen = 0;
    while (pos < n) {
        uint32_t v = 0;
        size_t digits = 0;
        for (; pos < n && p[pos] >= '0' && p[pos] <= '9' && digits < 3; pos++, digits++) {
            v = v * 10u + (uint32_t)(p[pos] - '0');
        }
        if (digits == 0 || (digits > 1 && p[pos - digits] == '0') ||
            v >= KUMO_PROVIDER_GPU_COUNT_MAX || (seen & (1ull << v)) != 0 ||
            r->gpu_count == KUMO_PROVIDER_GPU_COUNT_MAX) {
            return KUMO_ECORRUPT;
        }
        seen |= 1ull << v;
        r->gpus[r->gpu_count++] = (uint8_t)v;
        if (pos < n && (p[pos] != ',' || pos + 1u == n)) {
            return KUMO_ECORRUPT;
        }
        pos += pos < n ? 1u : 0u;
    }
    return r->gpu_count > 0 ? 0 : KUMO_ECORRUPT;
}

int kumo_provider_gpu_records_parse(kumo_bytes_t text,
                                    kumo_provider_gpu_record_t *out,
                                    uint32_t *count,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL && count != NULL);
    *count = 0;
    size_t pos = 0;
    uint32_t line = 0;
    while (pos < text.len) {
        line++;
        const uint8_t *nl = memchr(text.ptr + pos, '\n', text.len - pos);
        KUMO_ENSURE(nl != NULL, err, KUMO_ECORRUPT, "gpus: line %u has no end", line);
        size_t end = (size_t)(nl - text.ptr);
        const uint8_t *sp = memchr(text.ptr + pos, ' ', end - pos);
        KUMO_ENSURE(*count < KUMO_PROVIDER_GPU_COUNT_MAX, err, KUMO_ECORRUPT,
                    "gpus: more than %u records", KUMO_PROVIDER_GPU_COUNT_MAX);
        kumo_provider_gpu_record_t *r = &out[*count];
        memset(r, 0, sizeof(*r));
        size_t order_len = sp != NULL ? (size_t)(sp - (text.ptr + pos)) : 0;
        KUMO_ENSURE(sp != NULL && record_order_ok(text.ptr + pos, order_len), err, KUMO_ECORRUPT,
                    "gpus: line %u: expected '<order> <gpu>,<gpu>...'", line);
        memcpy(r->order, text.ptr + pos, order_len);
        r->order[order_len] = '\0';
        KUMO_ENSURE(record_gpus_parse(sp + 1, (size_t)(nl - sp) - 1u, r) == 0, err, KUMO_ECORRUPT,
                    "gpus: line %u: bad GPU list", line);
        (*count)++;
        pos = end + 1u;
    }
    return 0;
}

int kumo_provider_gpu_records_render(const kumo_provider_gpu_record_t *records,
                                     uint32_t count,
                                     kumo_buf_t *out,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(count <= KUMO_PROVIDER_GPU_COUNT_MAX);
    for (uint32_t i = 0; i < count; i++) {
        const kumo_provider_gpu_record_t *r = &records[i];
        KUMO_ASSERT(r->gpu_count > 0 && r->gpu_count <= KUMO_PROVIDER_GPU_COUNT_MAX);
        KUMO_ENSURE(kumo_buf_append(out, r->order, strlen(r->order)) == 0, err, KUMO_ELIMIT,
                    "gpus");
        for (uint32_t k = 0; k < r->gpu_count; k++) {
            char num[8];
            int n = snprintf(num, sizeof(num), "%s%u", k == 0 ? " " : ",", r->gpus[k]);
            KUMO_ENSURE(n > 0 && kumo_buf_append(out, num, (size_t)n) == 0, err, KUMO_ELIMIT,
                        "gpus");
        }
        KUMO_ENSURE(kumo_buf_append(out, "\n", 1) == 0, err, KUMO_ELIMIT, "gpus");
    }
    return 0;
}
