/*
 * pairs.c - which tunnels a provider needs for one deployment (overlay.h kumo_overlay_pairs):
 * every (source workload, destination workload) pair whose groups run at different
 * providers and whose destination has a forwarded port the policy lets the source reach. The
 * daemon turns the client side into tunnel clients and the server side into allowed
 * tunnels. Pure: no I/O, no clock, no allocation.
 */
#include <string.h>

#include "overlay/overlay.h"

/* Whether lease i is the first lease of its group in the list (the one that counts). */
static bool pairs_first_of_group(const kumo_overlay_deployment_t *dep, uint32_t i)
{
    for (uint32_t k = 0; k < i; k++) {
        if (strcmp(dep->leases[k].group, dep->leases[i].group) == 0) {
            return false;
        }
    }
    return true;
}

/* The ports of d that s (running under lease ls) may reach through a tunnel: forwarded (a
 * rule other than global: the source reaches it by name on its gateway) and allowed. */
static uint32_t pairs_ports(const kumo_overlay_deployment_t *dep,
                            const Kumo__ManifestWorkload *s,
                            const kumo_overlay_lease_t *ls,
                            const Kumo__ManifestWorkload *d,
                            uint16_t ports[KUMO_OVERLAY_TUNNEL_PORT_MAX])
{
    uint32_t n = 0;
    kumo_overlay_source_t src = {
        .from = KUMO_OVERLAY_FROM_WORKLOAD, .workload = s->name, .provider = ls->provider};
    for (size_t p = 0; p < d->n_ports && n < KUMO_OVERLAY_TUNNEL_PORT_MAX; p++) {
        const Kumo__ManifestPort *port = d->ports[p];
        if (port->port >= 1u && port->port <= 65535u && kumo_overlay_port_forwarded(port) &&
            kumo_overlay_verdict_allows(kumo_overlay_decide(dep, &src, d->name, port->port))) {
            ports[n++] = (uint16_t)port->port;
        }
    }
    KUMO_ASSERT(n <= KUMO_OVERLAY_TUNNEL_PORT_MAX);
    return n;
}

/* Appends the pairs of source lease i and destination lease j. */
static void pairs_of_leases(const kumo_overlay_deployment_t *dep,
                            uint32_t i,
                            uint32_t j,
                            kumo_overlay_pair_t *out,
                            uint32_t cap,
                            uint32_t *count,
                            uint32_t *dropped)
{
    const Kumo__Manifest *m = dep->manifest;
    for (size_t a = 0; a < m->n_workloads; a++) {
        const Kumo__ManifestWorkload *s = m->workloads[a];
        if (strcmp(s->group, dep->leases[i].group) != 0) {
            continue;
        }
        for (size_t b = 0; b < m->n_workloads; b++) {
            const Kumo__ManifestWorkload *d = m->workloads[b];
            kumo_overlay_pair_t pair = {
                .src = s->name, .dst = d->name, .src_lease = i, .dst_lease = j};
            if (strcmp(d->group, dep->leases[j].group) != 0 ||
                (pair.port_count = pairs_ports(dep, s, &dep->leases[i], d, pair.ports)) == 0) {
                continue;
            }
            if (*count < cap) {
                out[(*count)++] = pair;
            } else {
                (*dropped)++;
            }
        }
    }
}

uint32_t kumo_overlay_pairs(const kumo_overlay_deployment_t *dep,
                            const char *self,
                            kumo_overlay_side_t side,
                            kumo_overlay_pair_t *out,
                            uint32_t cap,
                            uint32_t *dropped)
{
    KUMO_ASSERT(dep != NULL && dep->manifest != NULL && self != NULL && dropped != NULL);
    KUMO_ASSERT(side == KUMO_OVERLAY_SIDE_CLIENT || side == KUMO_OVERLAY_SIDE_SERVER);
    KUMO_ASSERT(out != NULL || cap == 0);
    uint32_t count = 0;
    *dropped = 0;
    uint32_t leases =
        dep->lease_count < KUMO_OVERLAY_LEASE_MAX ? dep->lease_count : KUMO_OVERLAY_LEASE_MAX;
    for (uint32_t i = 0; i < leases; i++) {
        for (uint32_t j = 0; j < leases; j++) {
            const kumo_overlay_lease_t *ls = &dep->leases[i];
            const kumo_overlay_lease_t *ld = &dep->leases[j];
            /* Across providers only: a pair inside one datacenter goes through the forwarder. */
            bool mine = side == KUMO_OVERLAY_SIDE_CLIENT ? strcmp(ls->provider, self) == 0
                                                         : strcmp(ld->provider, self) == 0;
            if (!mine || strcmp(ls->provider, ld->provider) == 0 || !pairs_first_of_group(dep, i) ||
                !pairs_first_of_group(dep, j)) {
                continue;
            }
            pairs_of_leases(dep, i, j, out, cap, &count, dropped);
        }
    }
    KUMO_ASSERT(count <= cap);
    return count;
}
