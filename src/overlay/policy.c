/*
 * policy.c - who may reach whom in a deployment (overlay.h): the port's rules against the
 * source, the manifest and the leases. Pure: no I/O, no clock, no allocation.
 */
#include <string.h>

#include "overlay/overlay.h"

static const struct {
    const char *name;
} overlay_verdicts[] = {
#define OVERLAY_VERDICT_ROW(code, name, text) {name},
    KUMO_OVERLAY_VERDICTS(OVERLAY_VERDICT_ROW)
#undef OVERLAY_VERDICT_ROW
};

bool kumo_overlay_verdict_allows(kumo_overlay_verdict_t v)
{
    return v == KUMO_OVERLAY_ALLOW_WORKLOAD || v == KUMO_OVERLAY_ALLOW_GROUP ||
           v == KUMO_OVERLAY_ALLOW_GLOBAL;
}

const char *kumo_overlay_verdict_name(kumo_overlay_verdict_t v)
{
    return (unsigned)v < KUMO_OVERLAY_VERDICT_COUNT ? overlay_verdicts[v].name : "unknown";
}

/* Equal names; NULL equals nothing. */
static bool overlay_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const Kumo__ManifestWorkload *overlay_workload(const Kumo__Manifest *m, const char *name)
{
    for (size_t i = 0; name != NULL && i < m->n_workloads; i++) {
        if (overlay_same(m->workloads[i]->name, name)) {
            return m->workloads[i];
        }
    }
    return NULL;
}

const char *kumo_overlay_workload_group(const Kumo__Manifest *m, const char *name)
{
    KUMO_ASSERT(m != NULL);
    const Kumo__ManifestWorkload *w = overlay_workload(m, name);
    return w != NULL ? w->group : NULL;
}

static const Kumo__ManifestPort *overlay_port(const Kumo__ManifestWorkload *w, uint32_t port)
{
    for (size_t i = 0; i < w->n_ports; i++) {
        if (w->ports[i]->port == port) {
            return w->ports[i];
        }
    }
    return NULL;
}

bool kumo_overlay_port_global(const Kumo__ManifestPort *p)
{
    KUMO_ASSERT(p != NULL);
    for (size_t r = 0; r < p->n_expose; r++) {
        if (p->expose[r]->global) {
            return true;
        }
    }
    return false;
}

bool kumo_overlay_port_forwarded(const Kumo__ManifestPort *p)
{
    KUMO_ASSERT(p != NULL);
    for (size_t r = 0; r < p->n_expose; r++) {
        if (!p->expose[r]->global) {
            return true;
        }
    }
    return false;
}

bool kumo_overlay_port_published(const Kumo__Manifest *m,
                                 const Kumo__ManifestWorkload *w,
                                 const Kumo__ManifestPort *p)
{
    KUMO_ASSERT(m != NULL && w != NULL && p != NULL);
    for (size_t r = 0; r < p->n_expose; r++) {
        const Kumo__ManifestConnection *c = p->expose[r];
        const char *g = c->global             ? NULL
                        : c->group[0] != '\0' ? c->group
                                              : kumo_overlay_workload_group(m, c->workload);
        if (c->global || (g != NULL && !overlay_same(g, w->group))) {
            return true;
        }
    }
    return false;
}

/* Whether provider holds a lease of group (the first KUMO_OVERLAY_LEASE_MAX leases count). */
static bool
overlay_holds(const kumo_overlay_deployment_t *dep, const char *provider, const char *group)
{
    for (uint32_t i = 0; i < dep->lease_count && i < KUMO_OVERLAY_LEASE_MAX; i++) {
        if (overlay_same(dep->leases[i].provider, provider) &&
            (group == NULL || overlay_same(dep->leases[i].group, group))) {
            return true;
        }
    }
    return false;
}

/* Whether rule c lists the source; *by_group: through a group rule. A peer is listed when a
 * group it holds is (or holds a named workload's group). */
static bool overlay_rule_lists(const kumo_overlay_deployment_t *dep,
                               const Kumo__ManifestConnection *c,
                               const kumo_overlay_source_t *src,
                               bool *by_group)
{
    *by_group = c->workload[0] == '\0';
    if (c->global) {
        return false;
    }
    if (src->from == KUMO_OVERLAY_FROM_WORKLOAD) {
        return c->workload[0] != '\0'
                   ? overlay_same(c->workload, src->workload)
                   : overlay_same(c->group,
                                  kumo_overlay_workload_group(dep->manifest, src->workload));
    }
    if (src->from != KUMO_OVERLAY_FROM_PEER) {
        return false;
    }
    const char *group =
        c->workload[0] != '\0' ? kumo_overlay_workload_group(dep->manifest, c->workload) : c->group;
    return group != NULL && group[0] != '\0' && overlay_holds(dep, src->provider, group);
}

/* The source itself: a workload of the manifest (placed where it says), or a peer holding a
 * lease of the deployment; 0 when it is fine. */
static kumo_overlay_verdict_t overlay_source_check(const kumo_overlay_deployment_t *dep,
                                                   const kumo_overlay_source_t *src)
{
    if (src->from == KUMO_OVERLAY_FROM_WORKLOAD) {
        const char *group = kumo_overlay_workload_group(dep->manifest, src->workload);
        if (group == NULL) {
            return KUMO_OVERLAY_DENY_SOURCE;
        }
        if (src->provider != NULL && !overlay_holds(dep, src->provider, group)) {
            return KUMO_OVERLAY_DENY_PLACEMENT;
        }
    } else if (src->from == KUMO_OVERLAY_FROM_PEER) {
        if (src->provider == NULL || !overlay_holds(dep, src->provider, NULL)) {
            return KUMO_OVERLAY_DENY_SOURCE;
        }
    } else if (src->from != KUMO_OVERLAY_FROM_OUTSIDE) {
        return KUMO_OVERLAY_DENY_SOURCE;
    }
    return KUMO_OVERLAY_VERDICT_COUNT;
}

kumo_overlay_verdict_t kumo_overlay_decide(const kumo_overlay_deployment_t *dep,
                                           const kumo_overlay_source_t *src,
                                           const char *dest,
                                           uint32_t port)
{
    KUMO_ASSERT(dep != NULL && dep->manifest != NULL && src != NULL);
    KUMO_ASSERT(dep->lease_count == 0 || dep->leases != NULL);
    const Kumo__ManifestWorkload *w = overlay_workload(dep->manifest, dest);
    if (w == NULL) {
        return KUMO_OVERLAY_DENY_DESTINATION;
    }
    const Kumo__ManifestPort *p = overlay_port(w, port);
    if (p == NULL) {
        return KUMO_OVERLAY_DENY_PORT;
    }
    kumo_overlay_verdict_t v = overlay_source_check(dep, src);
    if (v != KUMO_OVERLAY_VERDICT_COUNT) {
        return v;
    }
    /* The most specific rule that lists the source gives the reason. */
    bool group_rule = false;
    bool workload_rule = false;
    for (size_t r = 0; r < p->n_expose; r++) {
        bool by_group = false;
        if (overlay_rule_lists(dep, p->expose[r], src, &by_group)) {
            group_rule = group_rule || by_group;
            workload_rule = workload_rule || !by_group;
        }
    }
    if (workload_rule) {
        return KUMO_OVERLAY_ALLOW_WORKLOAD;
    }
    if (group_rule) {
        return KUMO_OVERLAY_ALLOW_GROUP;
    }
    return kumo_overlay_port_global(p) ? KUMO_OVERLAY_ALLOW_GLOBAL : KUMO_OVERLAY_DENY_RULE;
}
