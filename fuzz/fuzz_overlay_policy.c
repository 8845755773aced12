/*
 * fuzz_overlay_policy.c - the overlay policy (kumo_overlay_decide) over manifests, leases and
 * connections built from arbitrary bytes (small name sets, so names, groups and ports
 * collide). Checked for every connection: the verdict is a known one and the same when asked
 * again; anyone outside is allowed exactly the global ports; an allowing verdict has the rule
 * of its reason behind it; a placement only restricts; a peer is allowed what any workload of
 * the groups it holds is; and a connection allowed across groups other than by global is to
 * a port the provider publishes for other datacenters (kumo_overlay_port_published).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/overlay.h"

#define F_WORKLOADS 6u
#define F_PORTS     3u
#define F_RULES     3u
#define F_LEASES    4u

static char *const names[] = {"a", "b", "c", "d", "e", "f", "z"}; /* "z": no such workload */
static char *const groups[] = {"g0", "g1", "g2", "gz"};           /* "gz": no such group */
static const char *const providers[] = {"p0", "p1", "p2"};

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader_t;

static uint8_t take(reader_t *r)
{
    if (r->left == 0) {
        return 0;
    }
    r->left--;
    return *r->p++;
}

typedef struct fmanifest {
    Kumo__Manifest m;
    Kumo__ManifestWorkload w[F_WORKLOADS];
    Kumo__ManifestWorkload *wp[F_WORKLOADS];
    Kumo__ManifestPort p[F_WORKLOADS][F_PORTS];
    Kumo__ManifestPort *pp[F_WORKLOADS][F_PORTS];
    Kumo__ManifestConnection c[F_WORKLOADS][F_PORTS][F_RULES];
    Kumo__ManifestConnection *cp[F_WORKLOADS][F_PORTS][F_RULES];
    kumo_overlay_lease_t leases[F_LEASES];
} fmanifest_t;

static void build_port(fmanifest_t *f, reader_t *r, size_t i, size_t k)
{
    Kumo__ManifestPort *p = &f->p[i][k];
    kumo__manifest_port__init(p);
    p->port = 1u + take(r) % 4u;
    p->n_expose = take(r) % (F_RULES + 1u);
    p->expose = f->cp[i][k];
    for (size_t e = 0; e < p->n_expose; e++) {
        Kumo__ManifestConnection *c = &f->c[i][k][e];
        kumo__manifest_connection__init(c);
        uint8_t kind = take(r);
        uint8_t idx = take(r);
        if (kind % 3u == 0) {
            c->workload = names[idx % 7u];
        } else if (kind % 3u == 1) {
            c->group = groups[idx % 4u];
        } else {
            c->global = true;
        }
        f->cp[i][k][e] = c;
    }
    f->pp[i][k] = p;
}

static void build(fmanifest_t *f, reader_t *r, kumo_overlay_deployment_t *dep)
{
    kumo__manifest__init(&f->m);
    f->m.n_workloads = 1u + take(r) % F_WORKLOADS;
    f->m.workloads = f->wp;
    for (size_t i = 0; i < f->m.n_workloads; i++) {
        Kumo__ManifestWorkload *w = &f->w[i];
        kumo__manifest_workload__init(w);
        w->name = names[i];
        w->group = groups[take(r) % 3u];
        w->count = 1;
        w->n_ports = take(r) % (F_PORTS + 1u);
        w->ports = f->pp[i];
        for (size_t k = 0; k < w->n_ports; k++) {
            build_port(f, r, i, k);
        }
        f->wp[i] = w;
    }
    dep->manifest = &f->m;
    dep->leases = f->leases;
    dep->lease_count = take(r) % (F_LEASES + 1u);
    for (uint32_t i = 0; i < dep->lease_count; i++) {
        f->leases[i].group = groups[take(r) % 4u];
        f->leases[i].provider = providers[take(r) % 3u];
    }
}

static const Kumo__ManifestPort *
port_of(const Kumo__Manifest *m, const char *dest, uint32_t port, const Kumo__ManifestWorkload **w)
{
    for (size_t i = 0; i < m->n_workloads; i++) {
        for (size_t k = 0; strcmp(m->workloads[i]->name, dest) == 0 && k < m->workloads[i]->n_ports;
             k++) {
            if (m->workloads[i]->ports[k]->port == port) {
                *w = m->workloads[i];
                return m->workloads[i]->ports[k];
            }
        }
    }
    return NULL;
}

static bool has_rule(const Kumo__ManifestPort *p, bool by_workload)
{
    for (size_t e = 0; e < p->n_expose; e++) {
        if (!p->expose[e]->global && (p->expose[e]->workload[0] != '\0') == by_workload) {
            return true;
        }
    }
    return false;
}

static bool holds(const kumo_overlay_deployment_t *dep, const char *provider, const char *group)
{
    for (uint32_t i = 0; i < dep->lease_count; i++) {
        if (strcmp(dep->leases[i].provider, provider) == 0 &&
            strcmp(dep->leases[i].group, group) == 0) {
            return true;
        }
    }
    return false;
}

static void check(const kumo_overlay_deployment_t *dep,
                  const char *src,
                  const char *prov,
                  const char *dest,
                  uint32_t port)
{
    const Kumo__ManifestWorkload *w = NULL;
    const Kumo__ManifestPort *p = port_of(dep->manifest, dest, port, &w);
    kumo_overlay_source_t out = {KUMO_OVERLAY_FROM_OUTSIDE, NULL, NULL};
    kumo_overlay_source_t here = {KUMO_OVERLAY_FROM_WORKLOAD, src, NULL};
    kumo_overlay_source_t placed = {KUMO_OVERLAY_FROM_WORKLOAD, src, prov};
    kumo_overlay_source_t peer = {KUMO_OVERLAY_FROM_PEER, NULL, prov};
    kumo_overlay_verdict_t vo = kumo_overlay_decide(dep, &out, dest, port);
    kumo_overlay_verdict_t vh = kumo_overlay_decide(dep, &here, dest, port);
    kumo_overlay_verdict_t vp = kumo_overlay_decide(dep, &placed, dest, port);
    kumo_overlay_verdict_t vr = kumo_overlay_decide(dep, &peer, dest, port);
    if (vo >= KUMO_OVERLAY_VERDICT_COUNT || vh >= KUMO_OVERLAY_VERDICT_COUNT ||
        vp >= KUMO_OVERLAY_VERDICT_COUNT || vr >= KUMO_OVERLAY_VERDICT_COUNT ||
        vh != kumo_overlay_decide(dep, &here, dest, port)) {
        abort();
    }
    if (kumo_overlay_verdict_allows(vo) != (p != NULL && kumo_overlay_port_global(p))) {
        abort();
    }
    const kumo_overlay_verdict_t vs[] = {vh, vp, vr};
    for (size_t i = 0; i < 3; i++) {
        if ((vs[i] == KUMO_OVERLAY_ALLOW_WORKLOAD && !has_rule(p, true)) ||
            (vs[i] == KUMO_OVERLAY_ALLOW_GROUP && !has_rule(p, false)) ||
            (vs[i] == KUMO_OVERLAY_ALLOW_GLOBAL && !kumo_overlay_port_global(p))) {
            abort();
        }
    }
    if (kumo_overlay_verdict_allows(vp) && vp != vh) {
        abort(); /* a placement only restricts */
    }
    const char *sg = kumo_overlay_workload_group(dep->manifest, src);
    if (kumo_overlay_verdict_allows(vh) && sg != NULL && holds(dep, prov, sg) &&
        !kumo_overlay_verdict_allows(vr)) {
        abort(); /* a peer holding the source's group may what the source may */
    }
    if ((vh == KUMO_OVERLAY_ALLOW_WORKLOAD || vh == KUMO_OVERLAY_ALLOW_GROUP) &&
        strcmp(sg, w->group) != 0 && !kumo_overlay_port_published(dep->manifest, w, p)) {
        abort(); /* across groups only through a published port */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fmanifest_t f;
    memset(&f, 0, sizeof(f));
    reader_t r = {data, size};
    kumo_overlay_deployment_t dep;
    build(&f, &r, &dep);
    for (int q = 0; q < 64 && r.left > 0; q++) {
        const char *src = names[take(&r) % 7u];
        const char *prov = providers[take(&r) % 3u];
        const char *dest = names[take(&r) % 7u];
        check(&dep, src, prov, dest, 1u + take(&r) % 5u);
    }
    return 0;
}
