/*
 * deployment.c - SubmitDeployment, UpdateDeployment, DepositDeployment, CloseDeployment and
 * DeploymentClosed, plus closing a group and a whole deployment (shared with the lease msgs,
 * which close a deployment whose escrow ran out). A deployment's live groups are found through
 * the state index (0x25 state 0x04 owner dseq), never by scanning its history. Pure.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "market/market_int.h"

/* A state-index key of a group: 0x25 state 0x04 owner dseq gseq. */
#define GROUP_STATE_KEY_BYTES (3u + KUMO_MARKET_GROUP_BODY_BYTES)
/* A state-index key of a lease: 0x25 state 0x07 lease body. */
#define LEASE_STATE_KEY_BYTES (3u + KUMO_MARKET_LEASE_BODY_BYTES)

typedef struct gseq_list {
    uint32_t gseq[KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX];
    size_t count;
    kumo_err_ctx_t *err;
} gseq_list_t;

static int gseq_collect_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    gseq_list_t *gl = cb_ctx;
    KUMO_ENSURE(key.len == GROUP_STATE_KEY_BYTES, gl->err, KUMO_ECORRUPT,
                "group state key of %zu bytes", key.len);
    KUMO_ENSURE(gl->count < KUMO_ARRAY_COUNT(gl->gseq), gl->err, KUMO_ECORRUPT,
                "more than %u groups in a deployment", KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX);
    gl->gseq[gl->count++] = kumo_be32_get(key.ptr + 3 + KUMO_MARKET_DEP_BODY_BYTES);
    return 0;
}

static int u32_compare(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The gseqs of a deployment's groups that are not closed, ascending. */
static int groups_live_collect(
    const kumo_kv_t *kv, const uint8_t *owner, uint64_t dseq, gseq_list_t *gl, kumo_err_ctx_t *err)
{
    gl->count = 0;
    gl->err = err;
    static const uint32_t live[] = {KUMO__GROUP_STATE__GROUP_OPEN, KUMO__GROUP_STATE__GROUP_ACTIVE};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(live); i++) {
        kumo_market_key_t prefix;
        kumo_market_key_state_dep_prefix(&prefix, live[i], KUMO_MARKET_PREFIX_GROUP, owner, dseq);
        KUMO_GUARD(kv->scan(kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                            gseq_collect_cb, gl, err));
    }
    qsort(gl->gseq, gl->count, sizeof(gl->gseq[0]), u32_compare);
    return 0;
}

static int group_load(const kumo_kv_t *kv,
                      const uint8_t *owner,
                      uint64_t dseq,
                      uint32_t gseq,
                      Kumo__Group **out,
                      kumo_err_ctx_t *err)
{
    int rc = kumo_market_group_get(kv, owner, dseq, gseq, out, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "indexed group %" PRIu32 " is missing", gseq);
    }
    return rc;
}

/* ---- exclusive groups ----------------------------------------------------------------------- */

int kumo_market_exclusive_check(const kumo_kv_t *kv,
                                const Kumo__Deployment *d,
                                uint32_t gseq,
                                const uint8_t *provider,
                                kumo_err_ctx_t *err)
{
    if (!d->exclusive_groups) {
        return 0;
    }
    gseq_list_t gl;
    KUMO_GUARD(groups_live_collect(kv, d->owner.data, d->dseq, &gl, err));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < gl.count; i++) {
        if (gl.gseq[i] == gseq) {
            continue;
        }
        Kumo__Group *g = NULL;
        KUMO_GUARD(group_load(kv, d->owner.data, d->dseq, gl.gseq[i], &g, err));
        const Kumo__PlacementRequirements *r = g->spec->requirements;
        if (r != NULL && r->exclusive && kumo_market_requirements_list(r, provider)) {
            rc = kumo_err_set(err, KUMO_EEXCLUSIVE, "the provider is reserved for group '%s'",
                              g->spec->name);
        }
        kumo_market_obj_free(g);
    }
    return rc;
}

/* After an update: whether a live group is exclusive (d->exclusive_groups), and no provider an
 * exclusive group lists holds the lease of another live group (KUMO_EEXCLUSIVE). Which groups
 * list whom was checked with the msg. */
static int exclusive_settle(const kumo_kv_t *kv, Kumo__Deployment *d, kumo_err_ctx_t *err)
{
    gseq_list_t gl;
    KUMO_GUARD(groups_live_collect(kv, d->owner.data, d->dseq, &gl, err));
    d->exclusive_groups = false;
    for (size_t i = 0; i < gl.count; i++) {
        Kumo__Group *g = NULL;
        KUMO_GUARD(group_load(kv, d->owner.data, d->dseq, gl.gseq[i], &g, err));
        const Kumo__PlacementRequirements *r = g->spec->requirements;
        d->exclusive_groups = d->exclusive_groups || (r != NULL && r->exclusive);
        kumo_market_obj_free(g);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < gl.count; i++) {
        Kumo__Group *g = NULL;
        KUMO_GUARD(group_load(kv, d->owner.data, d->dseq, gl.gseq[i], &g, err));
        if (g->lease_provider.len == KUMO_ADDRESS_BYTES) {
            rc = kumo_market_exclusive_check(kv, d, g->gseq, g->lease_provider.data, err);
        }
        kumo_market_obj_free(g);
    }
    return rc;
}

/* ---- closing -------------------------------------------------------------------------------- */

/* True when the group's latest order is open: an open group always has one; an active group
 * has one while a changed spec waits to be leased. */
static bool group_has_open_order(const Kumo__Group *g)
{
    return g->state == KUMO__GROUP_STATE__GROUP_OPEN ||
           (g->state == KUMO__GROUP_STATE__GROUP_ACTIVE && g->oseq != g->lease_oseq);
}

static void group_oid(const Kumo__Group *g, uint32_t oseq, kumo_market_oid_t *oid)
{
    KUMO_ASSERT(g->owner.len == KUMO_ADDRESS_BYTES);
    memcpy(oid->owner, g->owner.data, KUMO_ADDRESS_BYTES);
    oid->dseq = g->dseq;
    oid->gseq = g->gseq;
    oid->oseq = oseq;
}

int kumo_market_group_close(kumo_market_st_t *st,
                            Kumo__Deployment *d,
                            Kumo__Group *g,
                            Kumo__CloseReason reason,
                            bool *short_out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(g->state != KUMO__GROUP_STATE__GROUP_CLOSED);
    KUMO_ASSERT(reason != KUMO__CLOSE_REASON__CLOSE_REASON_NONE);
    uint32_t prev = (uint32_t)g->state;
    kumo_market_oid_t oid;
    if (group_has_open_order(g)) {
        group_oid(g, g->oseq, &oid);
        KUMO_GUARD(kumo_market_order_close(st, &oid, reason, err));
    }
    if (g->state == KUMO__GROUP_STATE__GROUP_ACTIVE) {
        KUMO_ASSERT(g->lease_provider.len == KUMO_ADDRESS_BYTES);
        group_oid(g, g->lease_oseq, &oid);
        bool short_pay = false;
        KUMO_GUARD(
            kumo_market_lease_close(st, d, &oid, g->lease_provider.data, reason, &short_pay, err));
        *short_out = *short_out || short_pay;
    }
    g->state = KUMO__GROUP_STATE__GROUP_CLOSED;
    g->close_reason = reason;
    g->closed_height = st->height;
    /* A closed group holds no lease (the lease record keeps its history). Only the length is
     * cleared: the decoded bytes stay owned by g and are freed with it. */
    g->lease_provider.len = 0;
    g->lease_oseq = 0;
    KUMO_GUARD(kumo_market_group_put(st, g, prev, err));
    kumo_market_attr_t attrs[] = {{"reason", 0, kumo_market_close_reason_name(reason)}};
    return kumo_market_emit_group(st, "group.closed", g->owner.data, g->dseq, g->gseq, attrs,
                                  KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_deployment_close(kumo_market_st_t *st,
                                 Kumo__Deployment *d,
                                 Kumo__CloseReason reason,
                                 kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE);
    /* A deployment ends only by its tenant or by running out of escrow. */
    KUMO_ASSERT(reason == KUMO__CLOSE_REASON__CLOSE_REASON_TENANT ||
                reason == KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    kumo_market_attr_t attrs[] = {{"reason", 0, kumo_market_close_reason_name(reason)}};
    KUMO_GUARD(kumo_market_emit_deployment(st, "deployment.closing", d->owner.data, d->dseq, attrs,
                                           KUMO_ARRAY_COUNT(attrs), err));
    /* Every open order and active lease hangs off a live group: closing the groups settles
     * the leases up to this height (capped by the escrow) and refunds the open bids. */
    gseq_list_t gl;
    KUMO_GUARD(groups_live_collect(st->kv, d->owner.data, d->dseq, &gl, err));
    for (size_t i = 0; i < gl.count; i++) {
        Kumo__Group *g = NULL;
        KUMO_GUARD(group_load(st->kv, d->owner.data, d->dseq, gl.gseq[i], &g, err));
        bool short_pay = false;
        int rc = kumo_market_group_close(st, d, g, reason, &short_pay, err);
        kumo_market_obj_free(g);
        KUMO_GUARD(rc);
    }
    KUMO_ASSERT(d->unreleased_lease_count == prev_unreleased);
    d->state = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING;
    d->closing_height = st->height;
    d->close_reason = reason;
    return kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                      prev_unreleased, err);
}

/* ---- SubmitDeployment ----------------------------------------------------------------------- */

static int group_create(kumo_market_st_t *st,
                        const Kumo__Deployment *d,
                        uint32_t gseq,
                        const Kumo__GroupSpec *spec,
                        kumo_err_ctx_t *err)
{
    Kumo__Group g = KUMO__GROUP__INIT;
    g.owner = d->owner;
    g.dseq = d->dseq;
    g.gseq = gseq;
    g.spec = (Kumo__GroupSpec *)(uintptr_t)spec;
    g.state = KUMO__GROUP_STATE__GROUP_OPEN;
    g.oseq = 1;
    KUMO_GUARD(kumo_market_group_put(st, &g, 0, err));
    kumo_market_attr_t attrs[] = {{"name", 0, spec->name}, {"region", 0, spec->region}};
    KUMO_GUARD(kumo_market_emit_group(st, "group.created", d->owner.data, d->dseq, gseq, attrs,
                                      KUMO_ARRAY_COUNT(attrs), err));
    return kumo_market_order_open(st, &g, 1, d->wait_blocks, err);
}

int kumo_market_deployment_submit(kumo_market_st_t *st,
                                  const Kumo__MsgSubmitDeployment *m,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m->n_groups >= 1 && m->n_groups <= KUMO_GROUP_COUNT_MAX);
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, st->principal, m->dseq);
    bool exists = false;
    KUMO_GUARD(kumo_market_kv_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EEXIST, "deployment %" PRIu64 " exists", m->dseq);
    KUMO_ENSURE(m->wait_blocks <= st->params->max_wait_blocks, err, KUMO_ELIMIT,
                "wait_blocks %" PRIu64 " exceeds %" PRIu64, m->wait_blocks,
                st->params->max_wait_blocks);
    KUMO_ENSURE(m->deposit >= st->params->min_deposit, err, KUMO_EDEPOSIT,
                "deposit %" PRIu64 " < min_deposit %" PRIu64, m->deposit, st->params->min_deposit);
    KUMO_GUARD(kumo_bank_balance_sub(st->kv, &st->pack, st->principal, m->deposit, err));
    KUMO_GUARD(kumo_market_global_add(&st->global->escrow_total, m->deposit, err));

    Kumo__Deployment d = KUMO__DEPLOYMENT__INIT;
    d.owner.data = (uint8_t *)(uintptr_t)st->principal;
    d.owner.len = KUMO_ADDRESS_BYTES;
    d.dseq = m->dseq;
    d.state = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE;
    d.version = m->version;
    d.wait_blocks = m->wait_blocks;
    d.escrow = m->deposit;
    d.created_height = st->height;
    d.group_count = (uint32_t)m->n_groups;
    d.escrow_warn_blocks = m->escrow_warn_blocks != 0 ? m->escrow_warn_blocks
                                                      : kumo_market_escrow_warn_default(st->params);
    for (size_t i = 0; i < m->n_groups; i++) {
        const Kumo__PlacementRequirements *r = m->groups[i]->requirements;
        d.exclusive_groups = d.exclusive_groups || (r != NULL && r->exclusive);
    }
    KUMO_GUARD(kumo_market_deployment_put(st, &d, 0, 0, err));
    kumo_market_attr_t attrs[] = {{"deposit", m->deposit, NULL},
                                  {"groups", m->n_groups, NULL},
                                  {"escrow_warn_blocks", d.escrow_warn_blocks, NULL}};
    KUMO_GUARD(kumo_market_emit_deployment(st, "deployment.created", st->principal, m->dseq, attrs,
                                           KUMO_ARRAY_COUNT(attrs), err));
    for (size_t i = 0; i < m->n_groups; i++) {
        KUMO_GUARD(group_create(st, &d, (uint32_t)i, m->groups[i], err));
    }
    return 0;
}

/* ---- UpdateDeployment ----------------------------------------------------------------------- */

/* True when two specs ask for the same resources in the same region under the same placement
 * requirements (persist aside). */
static bool spec_resources_equal(const Kumo__GroupSpec *a, const Kumo__GroupSpec *b)
{
    if (strcmp(a->region, b->region) != 0 || a->n_resources != b->n_resources ||
        !kumo_market_requirements_equal(a->requirements, b->requirements)) {
        return false;
    }
    for (size_t i = 0; i < a->n_resources; i++) {
        const Kumo__ResourceGroup *x = a->resources[i];
        const Kumo__ResourceGroup *y = b->resources[i];
        if (!kumo_market_compute_equal(x->compute, y->compute) || x->price != y->price ||
            x->collateral != y->collateral || x->count != y->count) {
            return false;
        }
    }
    return true;
}

/* Applies a new spec to a live group of the same name. */
static int group_respec(kumo_market_st_t *st,
                        const Kumo__Deployment *d,
                        const Kumo__Group *g,
                        const Kumo__GroupSpec *spec,
                        kumo_err_ctx_t *err)
{
    bool same_resources = spec_resources_equal(g->spec, spec);
    if (same_resources && (bool)g->spec->persist == (bool)spec->persist) {
        return 0;
    }
    Kumo__Group ng = *g;
    ng.spec = (Kumo__GroupSpec *)(uintptr_t)spec;
    if (!same_resources) {
        /* A changed spec is a new order; the current lease, if any, keeps running until the
         * new order is leased (SubmitLease then closes it), so there is no downtime. */
        if (group_has_open_order(g)) {
            kumo_market_oid_t oid;
            group_oid(g, g->oseq, &oid);
            KUMO_GUARD(
                kumo_market_order_close(st, &oid, KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED, err));
        }
        KUMO_ENSURE(g->oseq < UINT32_MAX, err, KUMO_EOVERFLOW, "oseq overflows");
        ng.oseq = g->oseq + 1;
    }
    KUMO_GUARD(kumo_market_group_put(st, &ng, (uint32_t)g->state, err));
    kumo_market_attr_t attrs[] = {{"reorder", same_resources ? 0 : 1, NULL}};
    KUMO_GUARD(kumo_market_emit_group(st, "group.updated", d->owner.data, d->dseq, g->gseq, attrs,
                                      KUMO_ARRAY_COUNT(attrs), err));
    if (same_resources) {
        return 0;
    }
    return kumo_market_order_open(st, &ng, ng.oseq, d->wait_blocks, err);
}

static int update_one_group(kumo_market_st_t *st,
                            Kumo__Deployment *d,
                            Kumo__Group *g,
                            const Kumo__MsgUpdateDeployment *m,
                            bool *matched,
                            bool *short_out,
                            kumo_err_ctx_t *err)
{
    for (size_t j = 0; j < m->n_groups; j++) {
        if (strcmp(m->groups[j]->name, g->spec->name) == 0) {
            matched[j] = true;
            return group_respec(st, d, g, m->groups[j], err);
        }
    }
    /* A live group whose name is absent is removed. */
    return kumo_market_group_close(st, d, g, KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED,
                                   short_out, err);
}

static int update_groups(kumo_market_st_t *st,
                         Kumo__Deployment *d,
                         const Kumo__MsgUpdateDeployment *m,
                         bool *short_out,
                         kumo_err_ctx_t *err)
{
    bool matched[KUMO_GROUP_COUNT_MAX] = {false};
    KUMO_ASSERT(m->n_groups <= KUMO_GROUP_COUNT_MAX);
    gseq_list_t gl;
    KUMO_GUARD(groups_live_collect(st->kv, d->owner.data, d->dseq, &gl, err));
    for (size_t i = 0; i < gl.count; i++) {
        Kumo__Group *g = NULL;
        KUMO_GUARD(group_load(st->kv, d->owner.data, d->dseq, gl.gseq[i], &g, err));
        int rc = update_one_group(st, d, g, m, matched, short_out, err);
        kumo_market_obj_free(g);
        KUMO_GUARD(rc);
    }
    for (size_t j = 0; j < m->n_groups; j++) {
        if (matched[j]) {
            continue;
        }
        KUMO_ENSURE(d->group_count < KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX, err, KUMO_ELIMIT,
                    "deployment would exceed %u groups ever",
                    KUMO_MARKET_DEPLOYMENT_GROUP_COUNT_MAX);
        uint32_t gseq = d->group_count++;
        KUMO_GUARD(group_create(st, d, gseq, m->groups[j], err));
    }
    return 0;
}

int kumo_market_deployment_update(kumo_market_st_t *st,
                                  const Kumo__MsgUpdateDeployment *m,
                                  kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(st->kv, st->principal, m->dseq, &d, err));
    int rc = 0;
    bool short_pay = false;
    uint32_t prev_unreleased = d->unreleased_lease_count;
    if (d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE) {
        rc = kumo_err_set(err, KUMO_ESTATE, "deployment is not active");
        goto out_free;
    }
    KUMO_ASSERT(d->version.len == KUMO_VERSION_BYTES && m->version.len == KUMO_VERSION_BYTES);
    memcpy(d->version.data, m->version.data, KUMO_VERSION_BYTES);
    rc =
        kumo_market_emit_deployment(st, "deployment.updated", d->owner.data, d->dseq, NULL, 0, err);
    if (rc == 0 && m->n_groups > 0) {
        rc = update_groups(st, d, m, &short_pay, err);
        rc = rc == 0 && !short_pay ? exclusive_settle(st->kv, d, err) : rc;
    }
    if (rc < 0) {
        goto out_free;
    }
    if (short_pay) {
        /* Settling a removed group's lease found the escrow empty. */
        rc = kumo_market_deployment_close(st, d,
                                          KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS, err);
    } else {
        /* Removed groups lower the price, settled leases the escrow. */
        rc = kumo_market_escrow_watch(st, d, err);
        rc = rc < 0 ? rc
                    : kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                                                 prev_unreleased, err);
    }

out_free:
    kumo_market_obj_free(d);
    return rc;
}

/* ---- DepositDeployment, CloseDeployment ----------------------------------------------------- */

/* The threshold part of a deposit: only the owner may set it, only while Active. */
static int deposit_warn_set(kumo_market_st_t *st,
                            Kumo__Deployment *d,
                            const Kumo__MsgDepositDeployment *m,
                            kumo_err_ctx_t *err)
{
    if (!m->set_escrow_warn) {
        return 0;
    }
    KUMO_ENSURE(memcmp(st->principal, d->owner.data, KUMO_ADDRESS_BYTES) == 0, err, KUMO_EUNAUTH,
                "only the deployment's owner may set its escrow warning");
    KUMO_ENSURE(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE, err, KUMO_ESTATE,
                "the escrow warning of a deployment that is not active cannot change");
    d->escrow_warn_blocks = m->escrow_warn_blocks;
    return 0;
}

static int deposit_apply(kumo_market_st_t *st,
                         Kumo__Deployment *d,
                         const Kumo__MsgDepositDeployment *m,
                         kumo_err_ctx_t *err)
{
    uint32_t state = (uint32_t)d->state;
    KUMO_ENSURE(d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED, err, KUMO_ESTATE,
                "deployment is closed");
    KUMO_GUARD(deposit_warn_set(st, d, m, err));
    if (m->amount > 0) {
        KUMO_GUARD(kumo_bank_balance_sub(st->kv, &st->pack, st->principal, m->amount, err));
        KUMO_ENSURE(kumo_u64_add(d->escrow, m->amount, &d->escrow) == 0, err, KUMO_EOVERFLOW,
                    "escrow overflows");
        KUMO_GUARD(kumo_market_global_add(&st->global->escrow_total, m->amount, err));
    }
    KUMO_GUARD(kumo_market_escrow_watch(st, d, err));
    KUMO_GUARD(kumo_market_deployment_put(st, d, state, d->unreleased_lease_count, err));
    kumo_market_attr_t attrs[] = {{"amount", m->amount, NULL},
                                  {"escrow", d->escrow, NULL},
                                  {"escrow_warn_blocks", d->escrow_warn_blocks, NULL}};
    return kumo_market_emit_deployment(st, "deployment.deposited", m->owner.data, m->dseq, attrs,
                                       KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_deployment_deposit(kumo_market_st_t *st,
                                   const Kumo__MsgDepositDeployment *m,
                                   kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(st->kv, m->owner.data, m->dseq, &d, err));
    int rc = deposit_apply(st, d, m, err);
    kumo_market_obj_free(d);
    return rc;
}

int kumo_market_deployment_close_apply(kumo_market_st_t *st,
                                       const Kumo__MsgCloseDeployment *m,
                                       kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(st->kv, st->principal, m->dseq, &d, err));
    int rc = 0;
    if (d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE) {
        rc = kumo_err_set(err, KUMO_ESTATE, "deployment is not active");
    } else {
        rc = kumo_market_deployment_close(st, d, KUMO__CLOSE_REASON__CLOSE_REASON_TENANT, err);
    }
    kumo_market_obj_free(d);
    return rc;
}

/* ---- DeploymentClosed ----------------------------------------------------------------------- */

/* Ends every lease of d in state from (closing or released): closing leases give their
 * collateral to the tenant (the provider never released them). */
static int leases_end(kumo_market_st_t *st, Kumo__Deployment *d, uint32_t from, kumo_err_ctx_t *err)
{
    kumo_market_key_t prefix;
    kumo_market_key_state_dep_prefix(&prefix, from, KUMO_MARKET_PREFIX_LEASE, d->owner.data,
                                     d->dseq);
    kumo_market_key_t *keys = NULL;
    size_t count = 0;
    KUMO_GUARD(kumo_market_keys_collect(st->kv, kumo_market_key_bytes(&prefix), SIZE_MAX, &keys,
                                        &count, err));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (keys[i].len != LEASE_STATE_KEY_BYTES) {
            rc = kumo_err_set(err, KUMO_ECORRUPT, "lease state key of %u bytes", keys[i].len);
            break;
        }
        kumo_market_oid_t oid;
        kumo_market_oid_from_body(keys[i].bytes + 3, &oid);
        const uint8_t *provider = keys[i].bytes + 3 + KUMO_MARKET_ORDER_BODY_BYTES;
        Kumo__Lease *l = NULL;
        rc = kumo_market_lease_get(st->kv, &oid, provider, &l, err);
        if (rc < 0) {
            break;
        }
        KUMO_ASSERT((uint32_t)l->state == from);
        Kumo__CloseReason reason = l->close_reason;
        uint64_t to_tenant = 0;
        if (from == KUMO__LEASE_STATE__LEASE_CLOSING) {
            to_tenant = l->collateral_total;
            rc = kumo_bank_balance_add(st->kv, &st->pack, d->owner.data, to_tenant, err);
            rc =
                rc < 0 ? rc : kumo_market_global_sub(&st->global->collateral_total, to_tenant, err);
            rc = rc < 0 ? rc : kumo_market_provider_count_add(st, provider, 0, -1, err);
            KUMO_ASSERT(d->unreleased_lease_count > 0);
            d->unreleased_lease_count--;
            l->ended_height = st->height;
        }
        l->state = KUMO__LEASE_STATE__LEASE_CLOSED;
        rc = rc < 0 ? rc : kumo_market_lease_put(st, l, from, l->last_confirmed_height, err);
        kumo_market_obj_free(l);
        kumo_market_attr_t attrs[] = {{"collateral_to_tenant", to_tenant, NULL},
                                      {"reason", 0, kumo_market_close_reason_name(reason)}};
        rc = rc < 0 ? rc
                    : kumo_market_emit_bid(st, "lease.closed", &oid, provider, attrs,
                                           KUMO_ARRAY_COUNT(attrs), err);
    }
    kumo_free(keys);
    return rc;
}

static int deployment_closed(kumo_market_st_t *st, Kumo__Deployment *d, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING, err, KUMO_ESTATE,
                "deployment is not closing");
    uint64_t timeout_height;
    KUMO_ENSURE(kumo_u64_add(d->closing_height, st->params->release_timeout, &timeout_height) == 0,
                err, KUMO_EOVERFLOW, "release timeout height overflows");
    KUMO_ENSURE(d->unreleased_lease_count == 0 || st->height >= timeout_height, err, KUMO_ENOTDUE,
                "%u leases unreleased until height %" PRIu64, d->unreleased_lease_count,
                timeout_height);
    uint32_t prev_unreleased = d->unreleased_lease_count;
    KUMO_GUARD(leases_end(st, d, KUMO__LEASE_STATE__LEASE_CLOSING, err));
    KUMO_GUARD(leases_end(st, d, KUMO__LEASE_STATE__LEASE_RELEASED, err));
    KUMO_ASSERT(d->unreleased_lease_count == 0);
    uint64_t refund = d->escrow;
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, d->owner.data, refund, err));
    KUMO_GUARD(kumo_market_global_sub(&st->global->escrow_total, refund, err));
    d->escrow = 0;
    d->state = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED;
    d->closed_height = st->height;
    KUMO_GUARD(kumo_market_deployment_put(st, d, KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING,
                                          prev_unreleased, err));
    kumo_market_attr_t attrs[] = {{"refund", refund, NULL},
                                  {"total_paid", d->total_paid, NULL},
                                  {"reason", 0, kumo_market_close_reason_name(d->close_reason)}};
    return kumo_market_emit_deployment(st, "deployment.closed", d->owner.data, d->dseq, attrs,
                                       KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_deployment_closed_apply(kumo_market_st_t *st,
                                        const Kumo__MsgDeploymentClosed *m,
                                        kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(kumo_market_deployment_get(st->kv, m->owner.data, m->dseq, &d, err));
    int rc = deployment_closed(st, d, err);
    kumo_market_obj_free(d);
    return rc;
}
