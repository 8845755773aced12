/*
 * grant.c - constrained delegation: MsgGrant, MsgRevoke and MsgExec (docs/design.md 3.4, 3.7).
 *
 * A granter (a deployment owner) lets a grantee run some deployment msgs on its deployments
 * (one dseq, or all of them present and future) until an expiry height, within limits on what
 * the deployment may become (price per block, units per group, regions) and on what the grantee
 * may move from the granter's balance into escrows (spend_limit, counted on the grant). The
 * grant lives at 0x0d granter grantee dseq (dseq 0: all deployments).
 *
 * MsgExec runs each inner msg with principal = granter (who owns the deployment and pays the
 * deposits) while the grantee signed the tx and pays its fee. The limits are checked on the
 * deployment the inner msg left behind, inside the tx's savepoint: whatever path a msg takes
 * through the handlers, the result is what must satisfy the grant, and a violation rolls the
 * whole tx back. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* ---- keys ----------------------------------------------------------------------------------- */

void kumo_market_key_grant(kumo_market_key_t *k,
                           const uint8_t *granter,
                           const uint8_t *grantee,
                           uint64_t dseq)
{
    KUMO_ASSERT(granter != NULL);
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_GRANT);
    kumo_market_key_put_addr(k, granter);
    if (grantee != NULL) {
        kumo_market_key_put_addr(k, grantee);
        kumo_market_key_put_u64(k, dseq);
    }
}

int kumo_market_grant_get(const kumo_kv_t *kv,
                          const uint8_t *granter,
                          const uint8_t *grantee,
                          uint64_t dseq,
                          Kumo__Grant **out,
                          kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_grant(&k, granter, grantee, dseq);
    int rc = kumo_market_obj_get(kv, &k, &kumo__grant__descriptor, (ProtobufCMessage **)out, err);
    if (rc == 0 &&
        ((*out)->granter.len != KUMO_ADDRESS_BYTES ||
         memcmp((*out)->granter.data, granter, KUMO_ADDRESS_BYTES) != 0 ||
         (*out)->grantee.len != KUMO_ADDRESS_BYTES ||
         memcmp((*out)->grantee.data, grantee, KUMO_ADDRESS_BYTES) != 0 || (*out)->dseq != dseq)) {
        kumo_market_obj_free(*out);
        *out = NULL;
        return kumo_err_set(err, KUMO_ECORRUPT, "grant does not match its key");
    }
    return rc;
}

/* ---- names ---------------------------------------------------------------------------------- */

const char *kumo_market_grant_msg_type_name(uint32_t msg_type)
{
    switch (msg_type) {
    case KUMO__MSG__SUM_SUBMIT_DEPLOYMENT:
        return "submit_deployment";
    case KUMO__MSG__SUM_UPDATE_DEPLOYMENT:
        return "update_deployment";
    case KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT:
        return "deposit_deployment";
    case KUMO__MSG__SUM_CLOSE_DEPLOYMENT:
        return "close_deployment";
    default:
        return NULL;
    }
}

/* ---- stateless checks ----------------------------------------------------------------------- */

static int msg_types_check(const uint32_t *types, size_t count, uint64_t dseq, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count > 0, err, KUMO_EEMPTY, "no msg types");
    KUMO_ENSURE(count <= KUMO_GRANT_MSG_TYPE_COUNT_MAX, err, KUMO_ELIMIT, "%zu msg types exceed %u",
                count, KUMO_GRANT_MSG_TYPE_COUNT_MAX);
    for (size_t i = 0; i < count; i++) {
        KUMO_ENSURE(kumo_market_grant_msg_type_name(types[i]) != NULL, err, KUMO_EGRANTMSG,
                    "msg type %" PRIu32 " cannot be granted", types[i]);
        /* A new deployment has no dseq yet that a grant could name. */
        KUMO_ENSURE(types[i] != KUMO__MSG__SUM_SUBMIT_DEPLOYMENT || dseq == 0, err, KUMO_EINVAL,
                    "submit_deployment needs a grant for all deployments (dseq 0)");
        if (i > 0) {
            KUMO_ENSURE(types[i] != types[i - 1], err, KUMO_EDUPLICATE,
                        "msg type %" PRIu32 " repeats", types[i]);
            KUMO_ENSURE(types[i] > types[i - 1], err, KUMO_EUNSORTED, "msg types not sorted");
        }
    }
    return 0;
}

static int regions_check(char *const *regions, size_t count, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count <= KUMO_GRANT_REGION_COUNT_MAX, err, KUMO_ELIMIT, "%zu regions exceed %u",
                count, KUMO_GRANT_REGION_COUNT_MAX);
    for (size_t i = 0; i < count; i++) {
        KUMO_GUARD(kumo_market_text_check(regions[i], KUMO_REGION_BYTES_MAX, false, "region", err));
        if (i > 0) {
            int c = strcmp(regions[i - 1], regions[i]);
            KUMO_ENSURE(c != 0, err, KUMO_EDUPLICATE, "region '%s' repeats", regions[i]);
            KUMO_ENSURE(c < 0, err, KUMO_EUNSORTED, "regions not sorted");
        }
    }
    return 0;
}

int kumo_market_grant_validate(const Kumo__MsgGrant *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    KUMO_GUARD(kumo_bank_address_validate(m->grantee, "grantee", err));
    KUMO_GUARD(msg_types_check(m->msg_types, m->n_msg_types, m->dseq, err));
    KUMO_GUARD(regions_check(m->regions, m->n_regions, err));
    KUMO_ENSURE(m->expiry_height > 0, err, KUMO_EINVAL, "expiry_height is 0");
    return 0;
}

int kumo_market_revoke_validate(const Kumo__MsgRevoke *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    return kumo_bank_address_validate(m->grantee, "grantee", err);
}

int kumo_market_exec_validate(const Kumo__MsgExec *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    KUMO_GUARD(kumo_bank_address_validate(m->granter, "granter", err));
    KUMO_ENSURE(m->n_msgs > 0, err, KUMO_EEMPTY, "exec has no msgs");
    KUMO_ENSURE(m->n_msgs <= KUMO_EXEC_MSG_COUNT_MAX, err, KUMO_ELIMIT,
                "exec has %zu msgs, limit %u", m->n_msgs, KUMO_EXEC_MSG_COUNT_MAX);
    for (size_t i = 0; i < m->n_msgs; i++) {
        const Kumo__Msg *inner = m->msgs[i];
        KUMO_ENSURE(inner != NULL, err, KUMO_EEMPTY, "exec msg %zu missing", i);
        /* Checked before the inner msg's own validation, so nesting never recurses. */
        KUMO_ENSURE(inner->sum_case != KUMO__MSG__SUM_EXEC, err, KUMO_EGRANTNESTED,
                    "exec msg %zu is an exec", i);
        KUMO_ENSURE(kumo_market_grant_msg_type_name((uint32_t)inner->sum_case) != NULL, err,
                    KUMO_EGRANTMSG, "exec msg %zu: type %d cannot be granted", i,
                    (int)inner->sum_case);
        KUMO_GUARD(kumo_market_msg_validate_basic(inner, err));
    }
    return 0;
}

/* ---- MsgGrant, MsgRevoke -------------------------------------------------------------------- */

static int grant_event(kumo_market_st_t *st,
                       const char *type,
                       const uint8_t *grantee,
                       uint64_t dseq,
                       uint64_t expiry_height,
                       kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char grantee_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(grantee, grantee_text);
    kumo_market_attr_t attrs[] = {
        {"grantee", 0, grantee_text}, {"dseq", dseq, NULL}, {"expiry_height", expiry_height, NULL}};
    return kumo_market_emit_account(st, type, st->principal, attrs, KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_grant_apply(kumo_market_st_t *st, const Kumo__MsgGrant *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m->grantee.len == KUMO_ADDRESS_BYTES);
    KUMO_ENSURE(memcmp(m->grantee.data, st->principal, KUMO_ADDRESS_BYTES) != 0, err, KUMO_EINVAL,
                "a granter cannot grant to itself");
    KUMO_ENSURE(m->expiry_height > st->height, err, KUMO_EINVAL,
                "expiry_height %" PRIu64 " is not above the height %" PRIu64, m->expiry_height,
                st->height);
    Kumo__Grant g = KUMO__GRANT__INIT;
    g.granter.data = (uint8_t *)(uintptr_t)st->principal;
    g.granter.len = KUMO_ADDRESS_BYTES;
    g.grantee = m->grantee;
    g.dseq = m->dseq;
    g.n_msg_types = m->n_msg_types;
    g.msg_types = m->msg_types;
    g.max_price_per_block = m->max_price_per_block;
    g.max_count_per_group = m->max_count_per_group;
    g.n_regions = m->n_regions;
    g.regions = m->regions;
    g.spend_limit = m->spend_limit;
    g.spend_used = 0; /* a replacing grant is a new budget */
    g.expiry_height = m->expiry_height;
    g.created_height = st->height;
    kumo_market_key_t k;
    kumo_market_key_grant(&k, st->principal, m->grantee.data, m->dseq);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &g.base, err));
    return grant_event(st, "grant.created", m->grantee.data, m->dseq, m->expiry_height, err);
}

int kumo_market_grant_revoke(kumo_market_st_t *st, const Kumo__MsgRevoke *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m->grantee.len == KUMO_ADDRESS_BYTES);
    Kumo__Grant *g = NULL;
    int rc = kumo_market_grant_get(st->kv, st->principal, m->grantee.data, m->dseq, &g, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "no grant to revoke for dseq %" PRIu64, m->dseq);
    }
    KUMO_GUARD(rc);
    uint64_t expiry_height = g->expiry_height;
    kumo_market_obj_free(g);
    kumo_market_key_t k;
    kumo_market_key_grant(&k, st->principal, m->grantee.data, m->dseq);
    KUMO_GUARD(kumo_market_kv_del(st->kv, &k, err));
    return grant_event(st, "grant.revoked", m->grantee.data, m->dseq, expiry_height, err);
}

/* ---- MsgExec: finding the grant ------------------------------------------------------------- */

/* What an inner msg touches and what it moves from the granter's balance. */
typedef struct exec_target {
    uint64_t dseq;
    uint64_t spend;
} exec_target_t;

static int
exec_target(const Kumo__Msg *inner, const uint8_t *granter, exec_target_t *out, kumo_err_ctx_t *err)
{
    memset(out, 0, sizeof(*out));
    switch (inner->sum_case) {
    case KUMO__MSG__SUM_SUBMIT_DEPLOYMENT:
        out->dseq = inner->submit_deployment->dseq;
        out->spend = inner->submit_deployment->deposit;
        return 0;
    case KUMO__MSG__SUM_UPDATE_DEPLOYMENT:
        out->dseq = inner->update_deployment->dseq;
        return 0;
    case KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT: {
        const Kumo__MsgDepositDeployment *d = inner->deposit_deployment;
        /* A grant covers the granter's deployments only. */
        KUMO_ENSURE(memcmp(d->owner.data, granter, KUMO_ADDRESS_BYTES) == 0, err, KUMO_EGRANTSCOPE,
                    "deposit names another owner's deployment");
        out->dseq = d->dseq;
        out->spend = d->amount;
        return 0;
    }
    case KUMO__MSG__SUM_CLOSE_DEPLOYMENT:
        out->dseq = inner->close_deployment->dseq;
        return 0;
    default:
        /* kumo_market_exec_validate admits only the grantable types. */
        KUMO_UNREACHABLE();
    }
}

static int grant_any_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)key;
    (void)val;
    *(bool *)ctx = true;
    return 1;
}

/* The grant covering dseq: the deployment's own grant, else the all-deployments grant. Neither:
 * KUMO_EGRANTSCOPE when the granter granted the grantee something else, KUMO_EGRANTNONE when
 * nothing at all. */
static int grant_find(const kumo_kv_t *kv,
                      const uint8_t *granter,
                      const uint8_t *grantee,
                      uint64_t dseq,
                      Kumo__Grant **out,
                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(dseq != 0);
    int rc = kumo_market_grant_get(kv, granter, grantee, dseq, out, err);
    if (rc != KUMO_ENOTFOUND) {
        return rc;
    }
    rc = kumo_market_grant_get(kv, granter, grantee, 0, out, err);
    if (rc != KUMO_ENOTFOUND) {
        return rc;
    }
    kumo_market_key_t prefix;
    kumo_market_key_grant(&prefix, granter, NULL, 0);
    kumo_market_key_put_addr(&prefix, grantee);
    bool any = false;
    KUMO_GUARD(kv->scan(kv->ctx, kumo_market_key_bytes(&prefix), kumo_bytes_make(NULL, 0),
                        grant_any_cb, &any, err));
    KUMO_ENSURE(!any, err, KUMO_EGRANTSCOPE, "no grant of the owner covers deployment %" PRIu64,
                dseq);
    return kumo_err_set(err, KUMO_EGRANTNONE, "the owner granted the signer nothing");
}

static bool grant_allows(const Kumo__Grant *g, uint32_t msg_type)
{
    for (size_t i = 0; i < g->n_msg_types; i++) {
        if (g->msg_types[i] == msg_type) {
            return true;
        }
    }
    return false;
}

/* The checks that need no run of the msg: expiry, type, spend. *spend_after_out is what the
 * grant's spend_used becomes. */
static int grant_admit(const Kumo__Grant *g,
                       uint64_t height,
                       uint32_t msg_type,
                       uint64_t spend,
                       uint64_t *spend_after_out,
                       kumo_err_ctx_t *err)
{
    KUMO_ENSURE(height < g->expiry_height, err, KUMO_EGRANTEXPIRED,
                "the grant expired at height %" PRIu64, g->expiry_height);
    KUMO_ENSURE(grant_allows(g, msg_type), err, KUMO_EGRANTMSG, "the grant does not allow %s",
                kumo_market_grant_msg_type_name(msg_type));
    uint64_t after = 0;
    KUMO_ENSURE(kumo_u64_add(g->spend_used, spend, &after) == 0 && after <= g->spend_limit, err,
                KUMO_EGRANTSPEND,
                "spend %" PRIu64 " after %" PRIu64 " used exceeds the limit %" PRIu64, spend,
                g->spend_used, g->spend_limit);
    *spend_after_out = after;
    return 0;
}

/* ---- MsgExec: the deployment after the msg -------------------------------------------------- */

static bool region_allowed(const Kumo__Grant *g, const char *region)
{
    if (g->n_regions == 0) {
        return true;
    }
    for (size_t i = 0; i < g->n_regions; i++) {
        if (strcmp(g->regions[i], region) == 0) {
            return true;
        }
    }
    return false;
}

/* One live group against the grant; adds its price per block (price x count, as orders and
 * leases count it) to *price_total. */
static int group_check(const Kumo__Grant *g,
                       const Kumo__Group *grp,
                       uint64_t *price_total,
                       kumo_err_ctx_t *err)
{
    const Kumo__GroupSpec *spec = grp->spec;
    KUMO_ENSURE(spec != NULL, err, KUMO_ECORRUPT, "group %" PRIu32 " has no spec", grp->gseq);
    KUMO_ENSURE(region_allowed(g, spec->region), err, KUMO_EGRANTREGION,
                "group '%s' is in region '%s'", spec->name, spec->region);
    uint64_t units = 0;
    for (size_t i = 0; i < spec->n_resources; i++) {
        KUMO_GUARD(kumo_u64_add(units, spec->resources[i]->count, &units));
    }
    KUMO_ENSURE(g->max_count_per_group == 0 || units <= g->max_count_per_group, err,
                KUMO_EGRANTCOUNT, "group '%s' has %" PRIu64 " units, the grant allows %" PRIu32,
                spec->name, units, g->max_count_per_group);
    uint64_t price = 0;
    uint64_t collateral = 0;
    KUMO_GUARD(
        kumo_market_resources_totals(spec->resources, spec->n_resources, &price, &collateral, err));
    return kumo_u64_add(*price_total, price, price_total) == 0
               ? 0
               : kumo_err_set(err, KUMO_EGRANTPRICE, "deployment price overflows");
}

/* The deployment granter/dseq as the msg left it must meet the grant: every live group in an
 * allowed region with at most max_count_per_group units, and the price per block of them all
 * at most max_price_per_block. A deployment that is gone or no longer active asks for nothing. */
static int
deployment_check(const kumo_kv_t *kv, const Kumo__Grant *g, uint64_t dseq, kumo_err_ctx_t *err)
{
    Kumo__Deployment *d = NULL;
    int rc = kumo_market_deployment_get(kv, g->granter.data, dseq, &d, err);
    if (rc == KUMO_ENOTFOUND) {
        return 0;
    }
    KUMO_GUARD(rc);
    bool active = d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE;
    uint32_t group_count = d->group_count;
    kumo_market_obj_free(d);
    uint64_t price_total = 0;
    for (uint32_t gseq = 0; active && rc == 0 && gseq < group_count; gseq++) {
        Kumo__Group *grp = NULL;
        rc = kumo_market_group_get(kv, g->granter.data, dseq, gseq, &grp, err);
        if (rc == KUMO_ENOTFOUND) {
            rc = kumo_err_set(err, KUMO_ECORRUPT, "group %" PRIu32 " missing", gseq);
        }
        if (rc == 0 && grp->state != KUMO__GROUP_STATE__GROUP_CLOSED) {
            rc = group_check(g, grp, &price_total, err);
        }
        kumo_market_obj_free(grp);
    }
    KUMO_GUARD(rc);
    KUMO_ENSURE(g->max_price_per_block == 0 || price_total <= g->max_price_per_block, err,
                KUMO_EGRANTPRICE, "deployment price %" PRIu64 " per block exceeds %" PRIu64,
                price_total, g->max_price_per_block);
    return 0;
}

/* Records the spend on the grant and emits grant.used, in a state context of the granter. */
static int grant_record(kumo_market_ctx_t *ctx,
                        Kumo__Grant *g,
                        uint32_t msg_type,
                        uint64_t dseq,
                        uint64_t spend,
                        uint64_t spend_after,
                        kumo_err_ctx_t *err)
{
    kumo_market_st_t st;
    KUMO_GUARD(
        kumo_market_st_begin(&st, ctx->kv, ctx->params, ctx->height, g->granter.data, ctx, err));
    int rc = 0;
    if (spend > 0) {
        g->spend_used = spend_after;
        kumo_market_key_t k;
        kumo_market_key_grant(&k, g->granter.data, g->grantee.data, g->dseq);
        rc = kumo_market_obj_put(st.kv, &st.pack, &k, &g->base, err);
    }
    if (rc == 0) {
        kumo_market_attr_t attrs[] = {{"msg", 0, kumo_market_grant_msg_type_name(msg_type)},
                                      {"grant_dseq", g->dseq, NULL},
                                      {"spend", spend, NULL},
                                      {"spend_used", g->spend_used, NULL}};
        rc = kumo_market_emit_deployment(&st, "grant.used", g->granter.data, dseq, attrs,
                                         KUMO_ARRAY_COUNT(attrs), err);
    }
    return kumo_market_st_finish(&st, rc, err);
}

static int exec_one(kumo_market_ctx_t *ctx,
                    const uint8_t *granter,
                    const Kumo__Msg *inner,
                    kumo_err_ctx_t *err)
{
    uint32_t msg_type = (uint32_t)inner->sum_case;
    exec_target_t t;
    KUMO_GUARD(exec_target(inner, granter, &t, err));
    Kumo__Grant *g = NULL;
    KUMO_GUARD(grant_find(ctx->kv, granter, ctx->signer, t.dseq, &g, err));
    uint64_t spend_after = 0;
    int rc = grant_admit(g, ctx->height, msg_type, t.spend, &spend_after, err);
    if (rc == 0) {
        kumo_market_ctx_t inner_ctx = *ctx;
        inner_ctx.principal = granter;
        rc = kumo_market_msg_apply(&inner_ctx, inner, err);
    }
    if (rc == 0) {
        rc = deployment_check(ctx->kv, g, t.dseq, err);
    }
    if (rc == 0) {
        rc = grant_record(ctx, g, msg_type, t.dseq, t.spend, spend_after, err);
    }
    kumo_market_obj_free(g);
    return rc;
}

int kumo_market_grant_exec(kumo_market_ctx_t *ctx, const Kumo__MsgExec *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL && m != NULL);
    KUMO_ASSERT(m->granter.len == KUMO_ADDRESS_BYTES && m->n_msgs <= KUMO_EXEC_MSG_COUNT_MAX);
    /* An exec acts for one granter: the signer acting for itself needs no grant. */
    KUMO_ENSURE(ctx->principal == NULL ||
                    memcmp(ctx->principal, ctx->signer, KUMO_ADDRESS_BYTES) == 0,
                err, KUMO_EGRANTNESTED, "an exec runs only for its signer");
    for (size_t i = 0; i < m->n_msgs; i++) {
        int rc = exec_one(ctx, m->granter.data, m->msgs[i], err);
        if (rc < 0 && err != NULL) {
            char detail[KUMO_ERR_DETAIL_BYTES];
            memcpy(detail, err->detail, sizeof(detail));
            detail[sizeof(detail) - 1] = '\0';
            return kumo_err_set(err, rc, "exec msg %zu: %.200s", i, detail);
        }
        KUMO_GUARD(rc);
    }
    return 0;
}
