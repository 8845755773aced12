/*
 * placement.c - whether this provider meets an order's placement requirements, before it bids:
 * its attributes and the audits of it as the chain holds them (GET /providers/{self} and
 * GET /audits?provider=self), read once per scan and only when an order has requirements,
 * judged with the chain's own rule (kumo_market_requirements_match_list). The daemon skips
 * what the chain would refuse, and logs which requirement it lacks.
 */
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "market/market.h"
#include "provider/daemon_int.h"

typedef struct placement_read {
    pd_placement_t *pl;
    bool overflow;
} placement_read_t;

static void placement_audit_item(void *ctx, const json_t *item)
{
    placement_read_t *rd = ctx;
    if (rd->pl->audit_count == PD_AUDIT_MAX) {
        rd->overflow = true;
        return;
    }
    ProtobufCMessage *m = NULL;
    kumo_err_ctx_t err = {0};
    if (kumo_codec_json_to_message(&kumo__provider_audit__descriptor, item, &m, &err) < 0) {
        KUMO_LOG_WARN("provider", "audit_unreadable", "detail=\"%s\"", err.detail);
        return;
    }
    rd->pl->audits[rd->pl->audit_count++] = (Kumo__ProviderAudit *)m;
}

static void placement_fetch(kumo_provider_daemon_t *d, pd_placement_t *pl)
{
    pl->fetched = true;
    char path[160];
    (void)snprintf(path, sizeof(path), "/providers/%s", d->addr);
    json_t *j = NULL;
    kumo_err_ctx_t err = {0};
    ProtobufCMessage *m = NULL;
    if (kumo_client_get(d->client, path, &j, &err) < 0 ||
        kumo_codec_json_to_message(&kumo__provider__descriptor, j, &m, &err) < 0) {
        KUMO_LOG_WARN("provider", "self_unreadable", "detail=\"%s\"", err.detail);
        json_decref(j);
        return;
    }
    json_decref(j);
    pl->self = (Kumo__Provider *)m;
    placement_read_t rd = {.pl = pl};
    (void)snprintf(path, sizeof(path), "/audits?provider=%s", d->addr);
    if (pd_list_each(d->client, path, PD_AUDIT_MAX / 100u + 1u, placement_audit_item, NULL, &rd,
                     &err) < 0) {
        KUMO_LOG_WARN("provider", "audits_unreadable", "detail=\"%s\"", err.detail);
    }
    if (rd.overflow) {
        KUMO_LOG_WARN("provider", "audits_truncated", "kept=%u", PD_AUDIT_MAX);
    }
}

bool pd_placement_meets(kumo_provider_daemon_t *d,
                        pd_placement_t *pl,
                        const Kumo__PlacementRequirements *r)
{
    KUMO_ASSERT(d != NULL && pl != NULL);
    KUMO_ASSERT(r != NULL);
    if (!pl->fetched) {
        placement_fetch(d, pl);
    }
    if (pl->self == NULL) {
        return false;
    }
    kumo_err_ctx_t err = {0};
    KUMO_ASSERT(pl->self->owner.len == KUMO_ADDRESS_BYTES);
    int rc = kumo_market_requirements_match_list(r, pl->self->owner.data, pl->self->attributes,
                                                 pl->self->n_attributes, pl->audits,
                                                 pl->audit_count, &err);
    if (rc != 0) {
        KUMO_LOG_INFO("provider", "requirements_unmet", "code=%s detail=\"%s\"", kumo_err_name(rc),
                      err.detail);
    }
    return rc == 0;
}

void pd_placement_free(pd_placement_t *pl)
{
    KUMO_ASSERT(pl != NULL);
    KUMO_ASSERT(pl->audit_count <= PD_AUDIT_MAX);
    for (uint32_t i = 0; i < pl->audit_count; i++) {
        kumo_codec_free(&pl->audits[i]->base);
    }
    if (pl->self != NULL) {
        kumo_codec_free(&pl->self->base);
    }
    memset(pl, 0, sizeof(*pl));
}
