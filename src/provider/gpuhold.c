/*
 * gpuhold.c - the GPUs the daemon's holds own (main thread). A bid takes specific GPUs
 * (kumo_provider_gpus_assign) and its lease keeps them until it ends; the assignment is
 * written to home/gpus at every change, so a restarted daemon, which rebuilds its holds from
 * the chain, gives every lease the same devices its running containers have.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "file/file.h"
#include "log/log.h"
#include "provider/daemon_int.h"

/* The records file is small: 64 records of an order id and 64 numbers at most. */
#define PD_GPUS_FILE_BYTES_MAX (64u * 1024u)
_Static_assert(KUMO_PROVIDER_GPU_COUNT_MAX *(KUMO_ID_TEXT_BYTES + 4u * 64u) <=
                   PD_GPUS_FILE_BYTES_MAX,
               "every record fits the file");

static int pd_gpus_path(const kumo_provider_daemon_t *d, char out[PD_PATH_BYTES])
{
    int n = snprintf(out, PD_PATH_BYTES, "%s/gpus", d->home);
    return n > 0 && (size_t)n < PD_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

uint64_t pd_gpus_held(const kumo_provider_daemon_t *d)
{
    KUMO_ASSERT(d->hold_count <= PD_HOLD_MAX);
    uint64_t mask = 0;
    for (uint32_t i = 0; i < d->hold_count; i++) {
        KUMO_ASSERT((mask & d->holds[i].bid.gpu_mask) == 0); /* no GPU held twice */
        mask |= d->holds[i].bid.gpu_mask;
    }
    return mask;
}

void pd_gpus_save(kumo_provider_daemon_t *d)
{
    if (d->cfg.gpu_count == 0) {
        return;
    }
    kumo_provider_gpu_record_t *recs = kumo_calloc(KUMO_PROVIDER_GPU_COUNT_MAX, sizeof(*recs));
    char path[PD_PATH_BYTES];
    if (recs == NULL || pd_gpus_path(d, path) != 0) {
        kumo_free(recs);
        return;
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < d->hold_count && count < KUMO_PROVIDER_GPU_COUNT_MAX; i++) {
        const pd_hold_t *h = &d->holds[i];
        if (h->bid.gpu_count == 0) {
            continue;
        }
        kumo_provider_gpu_record_t *r = &recs[count++];
        (void)snprintf(r->order, sizeof(r->order), "%s", h->order);
        memcpy(r->gpus, h->bid.gpus, h->bid.gpu_count);
        r->gpu_count = h->bid.gpu_count;
    }
    kumo_buf_t text;
    kumo_buf_init(&text, PD_GPUS_FILE_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_provider_gpu_records_render(recs, count, &text, &err);
    rc = rc == 0 ? kumo_file_write(path, kumo_buf_bytes(&text), 0600, &err) : rc;
    if (rc < 0) {
        KUMO_LOG_WARN("provider", "gpus_save_failed", "detail=\"%s\"", err.detail);
    }
    kumo_buf_free(&text);
    kumo_free(recs);
}

void pd_gpus_load(kumo_provider_daemon_t *d)
{
    d->gpu_saved_count = 0;
    char path[PD_PATH_BYTES];
    if (d->cfg.gpu_count == 0 || pd_gpus_path(d, path) != 0) {
        return;
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, PD_GPUS_FILE_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_file_read(path, &buf, &err);
    rc = rc == 0 ? kumo_provider_gpu_records_parse(kumo_buf_bytes(&buf), d->gpu_saved,
                                                   &d->gpu_saved_count, &err)
                 : rc;
    if (rc < 0 && rc != KUMO_ENOTFOUND) {
        d->gpu_saved_count = 0;
        KUMO_LOG_ERROR("provider", "gpus_unreadable", "path=%s detail=\"%s\" (assigned afresh)",
                       path, err.detail);
    }
    kumo_buf_free(&buf);
}

static const kumo_provider_gpu_record_t *pd_gpus_saved_find(const kumo_provider_daemon_t *d,
                                                            const char *order)
{
    for (uint32_t i = 0; i < d->gpu_saved_count; i++) {
        if (strcmp(d->gpu_saved[i].order, order) == 0) {
            return &d->gpu_saved[i];
        }
    }
    return NULL;
}

/* The GPUs recorded for orders other than this one. */
static uint64_t pd_gpus_saved_others(const kumo_provider_daemon_t *d, const char *order)
{
    uint64_t mask = 0;
    for (uint32_t i = 0; i < d->gpu_saved_count; i++) {
        const kumo_provider_gpu_record_t *r = &d->gpu_saved[i];
        for (uint32_t k = 0; k < r->gpu_count && strcmp(r->order, order) != 0; k++) {
            mask |= 1ull << r->gpus[k];
        }
    }
    return mask;
}

void pd_gpus_restore(kumo_provider_daemon_t *d,
                     pd_hold_t *h,
                     Kumo__ResourceGroup *const *resources,
                     size_t n)
{
    KUMO_ASSERT(h->bid.gpu_count == 0 && h->bid.gpu_mask == 0);
    uint64_t all = d->cfg.gpu_count == 64u ? UINT64_MAX : (1ull << d->cfg.gpu_count) - 1u;
    uint64_t free_mask = all & ~pd_gpus_held(d); /* h is not counted yet: its mask is 0 */
    const kumo_provider_gpu_record_t *r = pd_gpus_saved_find(d, h->order);
    if (r != NULL &&
        kumo_provider_gpus_fit(&d->cfg, resources, n, r->gpus, r->gpu_count, free_mask)) {
        memcpy(h->bid.gpus, r->gpus, r->gpu_count);
        h->bid.gpu_count = r->gpu_count;
        for (uint32_t k = 0; k < r->gpu_count; k++) {
            h->bid.gpu_mask |= 1ull << r->gpus[k];
        }
        return;
    }
    if (kumo_provider_gpus_assign(&d->cfg, resources, n,
                                  free_mask & ~pd_gpus_saved_others(d, h->order), &h->bid)) {
        if (h->bid.gpu_count > 0) {
            KUMO_LOG_INFO("provider", "gpus_assigned", "order=%s count=%u (not recorded)", h->order,
                          h->bid.gpu_count);
        }
        return;
    }
    KUMO_LOG_ERROR("provider", "gpus_unassigned",
                   "order=%s (no free matching GPUs: its instances with GPUs do not start)",
                   h->order);
}

const pd_hold_t *pd_hold_of_lease(const kumo_provider_daemon_t *d, const pd_lease_t *l)
{
    char order[KUMO_ID_TEXT_BYTES];
    (void)snprintf(order, sizeof(order), "%s/%" PRIu64 "/%u/%u", l->owner, l->dseq, l->gseq,
                   l->oseq);
    for (uint32_t i = 0; i < d->hold_count; i++) {
        if (strcmp(d->holds[i].order, order) == 0) {
            return &d->holds[i];
        }
    }
    return NULL;
}
