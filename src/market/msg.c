/*
 * msg.c - stateless validation of every msg (validate_basic) and the dispatch of a msg to its
 * handler inside one state context (Global read once and written back on success). The error
 * code of each rule is listed in docs/design.md section 3. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "market/market_int.h"

/* ---- pieces --------------------------------------------------------------------------------- */

static int order_id_check(const Kumo__OrderId *id, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(id != NULL, err, KUMO_EEMPTY, "order id missing");
    KUMO_GUARD(kumo_bank_address_validate(id->owner, "order owner", err));
    KUMO_ENSURE(id->dseq != 0, err, KUMO_EINVAL, "order dseq is 0");
    KUMO_ENSURE(id->oseq != 0, err, KUMO_EINVAL, "order oseq is 0");
    return 0;
}

static bool gpu_equal(const Kumo__GpuSpec *a, const Kumo__GpuSpec *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return a->count == b->count && a->memory_bytes == b->memory_bytes &&
           strcmp(a->vendor, b->vendor) == 0 && strcmp(a->model, b->model) == 0;
}

bool kumo_market_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b)
{
    KUMO_ASSERT(a != NULL && b != NULL);
    return a->cpu_milli == b->cpu_milli && a->memory_bytes == b->memory_bytes &&
           a->storage_bytes == b->storage_bytes && gpu_equal(a->gpu, b->gpu);
}

/* A unit's GPUs: absent, or 1..KUMO_GPU_COUNT_MAX of a named vendor (a GpuSpec of count 0
 * would be a second encoding of none). */
static int gpu_check(const Kumo__GpuSpec *g, size_t i, kumo_err_ctx_t *err)
{
    if (g == NULL) {
        return 0;
    }
    KUMO_ENSURE(g->count > 0, err, KUMO_EINVAL, "resources[%zu]: gpu count is 0", i);
    KUMO_ENSURE(g->count <= KUMO_GPU_COUNT_MAX, err, KUMO_ELIMIT,
                "resources[%zu]: %" PRIu32 " GPUs exceed %u", i, g->count, KUMO_GPU_COUNT_MAX);
    KUMO_GUARD(
        kumo_market_text_check(g->vendor, KUMO_GPU_VENDOR_BYTES_MAX, false, "gpu vendor", err));
    return kumo_market_text_check(g->model, KUMO_GPU_MODEL_BYTES_MAX, true, "gpu model", err);
}

static int resource_check(const Kumo__ResourceGroup *r, size_t i, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(r != NULL, err, KUMO_EEMPTY, "resources[%zu] missing", i);
    KUMO_ENSURE(r->compute != NULL, err, KUMO_EEMPTY, "resources[%zu]: compute missing", i);
    KUMO_ENSURE(r->compute->cpu_milli > 0, err, KUMO_EINVAL, "resources[%zu]: cpu_milli is 0", i);
    KUMO_ENSURE(r->compute->memory_bytes > 0, err, KUMO_EINVAL, "resources[%zu]: memory_bytes is 0",
                i);
    KUMO_ENSURE(r->count > 0, err, KUMO_EINVAL, "resources[%zu]: count is 0", i);
    KUMO_ENSURE(r->count <= KUMO_RESOURCE_UNIT_COUNT_MAX, err, KUMO_ELIMIT,
                "resources[%zu]: count %" PRIu32 " exceeds %u", i, r->count,
                KUMO_RESOURCE_UNIT_COUNT_MAX);
    KUMO_ENSURE(r->price > 0, err, KUMO_EINVAL, "resources[%zu]: price is 0", i);
    return gpu_check(r->compute->gpu, i, err);
}

static int resources_check(Kumo__ResourceGroup *const *res, size_t count, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count > 0, err, KUMO_EEMPTY, "no resources");
    KUMO_ENSURE(count <= KUMO_RESOURCE_COUNT_MAX, err, KUMO_ELIMIT, "%zu resources exceed %u",
                count, KUMO_RESOURCE_COUNT_MAX);
    for (size_t i = 0; i < count; i++) {
        KUMO_GUARD(resource_check(res[i], i, err));
    }
    uint64_t price_total;
    uint64_t collateral_total;
    return kumo_market_resources_totals(res, count, &price_total, &collateral_total, err);
}

static int name_check(const char *s, size_t max, const char *what, kumo_err_ctx_t *err)
{
    return kumo_market_text_check(s, max, false, what, err);
}

static int group_spec_check(const Kumo__GroupSpec *g, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(g != NULL, err, KUMO_EEMPTY, "group missing");
    KUMO_GUARD(name_check(g->name, KUMO_NAME_BYTES_MAX, "group name", err));
    KUMO_GUARD(name_check(g->region, KUMO_REGION_BYTES_MAX, "group region", err));
    KUMO_GUARD(resources_check(g->resources, g->n_resources, err));
    return kumo_market_requirements_check(g->requirements, err);
}

/* A provider an exclusive group lists may not be listed by another group as well (it could
 * bid on that one too). */
static int
exclusive_disjoint_check(Kumo__GroupSpec *const *groups, size_t count, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < count; i++) {
        const Kumo__PlacementRequirements *r = groups[i]->requirements;
        if (r == NULL || !r->exclusive) {
            continue;
        }
        for (size_t j = 0; j < count; j++) {
            for (size_t k = 0; j != i && k < r->n_providers; k++) {
                KUMO_ENSURE(
                    !kumo_market_requirements_list(groups[j]->requirements, r->providers[k].data),
                    err, KUMO_EEXCLUSIVE,
                    "group '%s' is exclusive and group '%s' lists one of its providers",
                    groups[i]->name, groups[j]->name);
            }
        }
    }
    return 0;
}

static int
groups_check(Kumo__GroupSpec *const *groups, size_t count, bool allow_none, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count > 0 || allow_none, err, KUMO_EEMPTY, "no groups");
    KUMO_ENSURE(count <= KUMO_GROUP_COUNT_MAX, err, KUMO_ELIMIT, "%zu groups exceed %u", count,
                KUMO_GROUP_COUNT_MAX);
    for (size_t i = 0; i < count; i++) {
        KUMO_GUARD(group_spec_check(groups[i], err));
    }
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < i; j++) {
            KUMO_ENSURE(strcmp(groups[i]->name, groups[j]->name) != 0, err, KUMO_EDUPLICATE,
                        "group name '%s' repeats", groups[i]->name);
        }
    }
    return exclusive_disjoint_check(groups, count, err);
}

static int version_check(ProtobufCBinaryData v, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(v.len == KUMO_VERSION_BYTES && v.data != NULL, err, KUMO_EINVAL,
                "version of %zu bytes, want %u", v.len, KUMO_VERSION_BYTES);
    return 0;
}

static int dseq_check(uint64_t dseq, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(dseq != 0, err, KUMO_EINVAL, "dseq is 0");
    return 0;
}

static int order_id_compare(const void *a, const void *b)
{
    const Kumo__OrderId *x = (*(Kumo__LeaseConfirmation *const *)a)->order;
    const Kumo__OrderId *y = (*(Kumo__LeaseConfirmation *const *)b)->order;
    int c = memcmp(x->owner.data, y->owner.data, KUMO_ADDRESS_BYTES);
    if (c != 0) {
        return c;
    }
    if (x->dseq != y->dseq) {
        return x->dseq < y->dseq ? -1 : 1;
    }
    if (x->gseq != y->gseq) {
        return x->gseq < y->gseq ? -1 : 1;
    }
    return (x->oseq > y->oseq) - (x->oseq < y->oseq);
}

static int confirmations_check(const Kumo__MsgSubmitLeaseConfirmation *m, kumo_err_ctx_t *err)
{
    size_t n = m->n_confirmations;
    KUMO_ENSURE(n > 0, err, KUMO_EEMPTY, "no confirmations");
    KUMO_ENSURE(n <= KUMO_CONFIRM_COUNT_MAX, err, KUMO_ELIMIT, "%zu confirmations exceed %u", n,
                KUMO_CONFIRM_COUNT_MAX);
    for (size_t i = 0; i < n; i++) {
        const Kumo__LeaseConfirmation *c = m->confirmations[i];
        KUMO_ENSURE(c != NULL, err, KUMO_EEMPTY, "confirmations[%zu] missing", i);
        KUMO_GUARD(order_id_check(c->order, err));
        /* A version says what runs; a release says nothing runs any more. */
        KUMO_ENSURE(c->version.len == 0 || (!c->released && c->version.len == KUMO_VERSION_BYTES &&
                                            c->version.data != NULL),
                    err, KUMO_EINVAL, "confirmations[%zu]: version of %zu bytes%s", i,
                    c->version.len, c->released ? " on a release" : "");
    }
    /* Sorted copy: one lease twice in a batch would be paid once and then fail confusingly. */
    Kumo__LeaseConfirmation *sorted[KUMO_CONFIRM_COUNT_MAX];
    memcpy(sorted, m->confirmations, n * sizeof(sorted[0]));
    qsort(sorted, n, sizeof(sorted[0]), order_id_compare);
    for (size_t i = 1; i < n; i++) {
        KUMO_ENSURE(order_id_compare(&sorted[i - 1], &sorted[i]) != 0, err, KUMO_EDUPLICATE,
                    "a lease is confirmed twice in one msg");
    }
    return 0;
}

/* ---- per msg -------------------------------------------------------------------------------- */

static int basic_send(const Kumo__MsgSend *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_address_validate(m->to, "send to", err));
    KUMO_ENSURE(m->amount > 0, err, KUMO_EINVAL, "amount is 0");
    return 0;
}

static int basic_submit_deployment(const Kumo__MsgSubmitDeployment *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(dseq_check(m->dseq, err));
    KUMO_GUARD(groups_check(m->groups, m->n_groups, false, err));
    KUMO_ENSURE(m->escrow_warn_blocks <= KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX, err, KUMO_ELIMIT,
                "escrow_warn_blocks %" PRIu64 " exceeds %u", m->escrow_warn_blocks,
                KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    return version_check(m->version, err);
}

static int basic_update_deployment(const Kumo__MsgUpdateDeployment *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(dseq_check(m->dseq, err));
    KUMO_GUARD(version_check(m->version, err));
    return groups_check(m->groups, m->n_groups, true, err);
}

static int basic_deposit(const Kumo__MsgDepositDeployment *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_address_validate(m->owner, "deployment owner", err));
    KUMO_GUARD(dseq_check(m->dseq, err));
    KUMO_ENSURE(m->amount > 0 || m->set_escrow_warn, err, KUMO_EINVAL,
                "amount is 0 and no escrow warning is set");
    KUMO_ENSURE(m->set_escrow_warn || m->escrow_warn_blocks == 0, err, KUMO_EINVAL,
                "escrow_warn_blocks without set_escrow_warn");
    KUMO_ENSURE(m->escrow_warn_blocks <= KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX, err, KUMO_ELIMIT,
                "escrow_warn_blocks %" PRIu64 " exceeds %u", m->escrow_warn_blocks,
                KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    return 0;
}

static int basic_submit_fulfillment(const Kumo__MsgSubmitFulfillment *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(order_id_check(m->order, err));
    return resources_check(m->resources, m->n_resources, err);
}

static int
basic_lease_ref(const Kumo__OrderId *order, ProtobufCBinaryData provider, kumo_err_ctx_t *err)
{
    KUMO_GUARD(order_id_check(order, err));
    return kumo_bank_address_validate(provider, "provider", err);
}

static int basic_refuse_lease(const Kumo__MsgRefuseLease *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(order_id_check(m->order, err));
    bool known = m->reason == KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING ||
                 m->reason == KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH ||
                 m->reason == KUMO__REFUSE_REASON__REFUSE_REASON_OTHER;
    KUMO_ENSURE(known, err, KUMO_EINVAL, "refuse reason %d", (int)m->reason);
    return kumo_market_text_check(m->detail, KUMO_REFUSE_DETAIL_BYTES_MAX, true, "refuse detail",
                                  err);
}

static int basic_close_lease(const Kumo__MsgCloseLease *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(order_id_check(m->order, err));
    return kumo_market_text_check(m->detail, KUMO_CLOSE_DETAIL_BYTES_MAX, true, "close detail",
                                  err);
}

static int basic_deployment_closed(const Kumo__MsgDeploymentClosed *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_address_validate(m->owner, "deployment owner", err));
    return dseq_check(m->dseq, err);
}

/* The sub-msg pointer of the set case (NULL when a hand-built msg lacks it). */
static const void *msg_body(const Kumo__Msg *msg)
{
    switch (msg->sum_case) {
    case KUMO__MSG__SUM_SEND:
        return msg->send;
    case KUMO__MSG__SUM_CREATE_PROVIDER:
        return msg->create_provider;
    case KUMO__MSG__SUM_UPDATE_PROVIDER:
        return msg->update_provider;
    case KUMO__MSG__SUM_DELETE_PROVIDER:
        return msg->delete_provider;
    case KUMO__MSG__SUM_SUBMIT_DEPLOYMENT:
        return msg->submit_deployment;
    case KUMO__MSG__SUM_UPDATE_DEPLOYMENT:
        return msg->update_deployment;
    case KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT:
        return msg->deposit_deployment;
    case KUMO__MSG__SUM_CLOSE_DEPLOYMENT:
        return msg->close_deployment;
    case KUMO__MSG__SUM_SUBMIT_FULFILLMENT:
        return msg->submit_fulfillment;
    case KUMO__MSG__SUM_CANCEL_FULFILLMENT:
        return msg->cancel_fulfillment;
    case KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION:
        return msg->submit_lease_confirmation;
    case KUMO__MSG__SUM_SUBMIT_LEASE:
        return msg->submit_lease;
    case KUMO__MSG__SUM_SUBMIT_STALE_LEASE:
        return msg->submit_stale_lease;
    case KUMO__MSG__SUM_DEPLOYMENT_CLOSED:
        return msg->deployment_closed;
    case KUMO__MSG__SUM_REFUSE_LEASE:
        return msg->refuse_lease;
    case KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES:
        return msg->sign_provider_attributes;
    case KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES:
        return msg->delete_provider_attributes;
    case KUMO__MSG__SUM_CLOSE_LEASE:
        return msg->close_lease;
    case KUMO__MSG__SUM_GRANT:
        return msg->grant;
    case KUMO__MSG__SUM_REVOKE:
        return msg->revoke;
    case KUMO__MSG__SUM_EXEC:
        return msg->exec;
    case KUMO__MSG__SUM__NOT_SET:
    case _KUMO__MSG__SUM__CASE_IS_INT_SIZE:
    default:
        return NULL;
    }
}

static int validate_body(const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    switch (msg->sum_case) {
    case KUMO__MSG__SUM_SEND:
        return basic_send(msg->send, err);
    case KUMO__MSG__SUM_CREATE_PROVIDER: {
        const Kumo__MsgCreateProvider *m = msg->create_provider;
        return kumo_market_provider_fields_validate(m->host_uri, m->region, m->attributes,
                                                    m->n_attributes, m->root_cert_pem, err);
    }
    case KUMO__MSG__SUM_UPDATE_PROVIDER: {
        const Kumo__MsgUpdateProvider *m = msg->update_provider;
        if (m->offer != NULL) {
            KUMO_GUARD(kumo_market_offer_validate(m->offer, err));
        }
        if (kumo_market_provider_update_is_offer_only(m)) {
            return 0;
        }
        return kumo_market_provider_fields_validate(m->host_uri, m->region, m->attributes,
                                                    m->n_attributes, m->root_cert_pem, err);
    }
    case KUMO__MSG__SUM_DELETE_PROVIDER:
        return 0;
    case KUMO__MSG__SUM_SUBMIT_DEPLOYMENT:
        return basic_submit_deployment(msg->submit_deployment, err);
    case KUMO__MSG__SUM_UPDATE_DEPLOYMENT:
        return basic_update_deployment(msg->update_deployment, err);
    case KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT:
        return basic_deposit(msg->deposit_deployment, err);
    case KUMO__MSG__SUM_CLOSE_DEPLOYMENT:
        return dseq_check(msg->close_deployment->dseq, err);
    case KUMO__MSG__SUM_SUBMIT_FULFILLMENT:
        return basic_submit_fulfillment(msg->submit_fulfillment, err);
    case KUMO__MSG__SUM_CANCEL_FULFILLMENT:
        return order_id_check(msg->cancel_fulfillment->order, err);
    case KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION:
        return confirmations_check(msg->submit_lease_confirmation, err);
    case KUMO__MSG__SUM_SUBMIT_LEASE:
        return basic_lease_ref(msg->submit_lease->order, msg->submit_lease->provider, err);
    case KUMO__MSG__SUM_SUBMIT_STALE_LEASE:
        return basic_lease_ref(msg->submit_stale_lease->order, msg->submit_stale_lease->provider,
                               err);
    case KUMO__MSG__SUM_DEPLOYMENT_CLOSED:
        return basic_deployment_closed(msg->deployment_closed, err);
    case KUMO__MSG__SUM_REFUSE_LEASE:
        return basic_refuse_lease(msg->refuse_lease, err);
    case KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES:
        return kumo_market_audit_sign_validate(msg->sign_provider_attributes, err);
    case KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES:
        return kumo_market_audit_delete_validate(msg->delete_provider_attributes, err);
    case KUMO__MSG__SUM_CLOSE_LEASE:
        return basic_close_lease(msg->close_lease, err);
    case KUMO__MSG__SUM_GRANT:
        return kumo_market_grant_validate(msg->grant, err);
    case KUMO__MSG__SUM_REVOKE:
        return kumo_market_revoke_validate(msg->revoke, err);
    case KUMO__MSG__SUM_EXEC:
        return kumo_market_exec_validate(msg->exec, err);
    case KUMO__MSG__SUM__NOT_SET:
    case _KUMO__MSG__SUM__CASE_IS_INT_SIZE:
    default:
        return kumo_err_set(err, KUMO_EUNKNOWNMSG, "msg type %d", (int)msg->sum_case);
    }
}

int kumo_market_msg_validate_basic(const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(msg != NULL);
    bool known =
        (msg->sum_case >= KUMO__MSG__SUM_SEND && msg->sum_case <= KUMO__MSG__SUM_REFUSE_LEASE) ||
        msg->sum_case == KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES ||
        msg->sum_case == KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES ||
        msg->sum_case == KUMO__MSG__SUM_CLOSE_LEASE || msg->sum_case == KUMO__MSG__SUM_GRANT ||
        msg->sum_case == KUMO__MSG__SUM_REVOKE || msg->sum_case == KUMO__MSG__SUM_EXEC;
    KUMO_ENSURE(known, err, KUMO_EUNKNOWNMSG, "msg type %d", (int)msg->sum_case);
    KUMO_ENSURE(msg_body(msg) != NULL, err, KUMO_EEMPTY, "msg body missing");
    return validate_body(msg, err);
}

/* ---- apply ---------------------------------------------------------------------------------- */

static int dispatch(kumo_market_st_t *st, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    switch (msg->sum_case) {
    case KUMO__MSG__SUM_SEND:
        return kumo_market_send_apply(st, msg->send, err);
    case KUMO__MSG__SUM_CREATE_PROVIDER:
        return kumo_market_provider_create(st, msg->create_provider, err);
    case KUMO__MSG__SUM_UPDATE_PROVIDER:
        return kumo_market_provider_update(st, msg->update_provider, err);
    case KUMO__MSG__SUM_DELETE_PROVIDER:
        return kumo_market_provider_delete(st, err);
    case KUMO__MSG__SUM_SUBMIT_DEPLOYMENT:
        return kumo_market_deployment_submit(st, msg->submit_deployment, err);
    case KUMO__MSG__SUM_UPDATE_DEPLOYMENT:
        return kumo_market_deployment_update(st, msg->update_deployment, err);
    case KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT:
        return kumo_market_deployment_deposit(st, msg->deposit_deployment, err);
    case KUMO__MSG__SUM_CLOSE_DEPLOYMENT:
        return kumo_market_deployment_close_apply(st, msg->close_deployment, err);
    case KUMO__MSG__SUM_SUBMIT_FULFILLMENT:
        return kumo_market_fulfillment_submit(st, msg->submit_fulfillment, err);
    case KUMO__MSG__SUM_CANCEL_FULFILLMENT:
        return kumo_market_fulfillment_cancel(st, msg->cancel_fulfillment, err);
    case KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION:
        return kumo_market_lease_confirm(st, msg->submit_lease_confirmation, err);
    case KUMO__MSG__SUM_SUBMIT_LEASE:
        return kumo_market_lease_submit(st, msg->submit_lease, err);
    case KUMO__MSG__SUM_SUBMIT_STALE_LEASE:
        return kumo_market_lease_stale(st, msg->submit_stale_lease, err);
    case KUMO__MSG__SUM_DEPLOYMENT_CLOSED:
        return kumo_market_deployment_closed_apply(st, msg->deployment_closed, err);
    case KUMO__MSG__SUM_REFUSE_LEASE:
        return kumo_market_lease_refuse(st, msg->refuse_lease, err);
    case KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES:
        return kumo_market_audit_sign(st, msg->sign_provider_attributes, err);
    case KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES:
        return kumo_market_audit_delete(st, msg->delete_provider_attributes, err);
    case KUMO__MSG__SUM_CLOSE_LEASE:
        return kumo_market_lease_provider_close(st, msg->close_lease, err);
    case KUMO__MSG__SUM_GRANT:
        return kumo_market_grant_apply(st, msg->grant, err);
    case KUMO__MSG__SUM_REVOKE:
        return kumo_market_grant_revoke(st, msg->revoke, err);
    case KUMO__MSG__SUM_EXEC: /* kumo_market_msg_apply runs it outside any state context */
    case KUMO__MSG__SUM__NOT_SET:
    case _KUMO__MSG__SUM__CASE_IS_INT_SIZE:
    default:
        /* validate_basic rejected every other case. */
        KUMO_UNREACHABLE();
    }
}

int kumo_market_msg_apply(kumo_market_ctx_t *ctx, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ctx != NULL && ctx->kv != NULL && ctx->params != NULL);
    KUMO_ASSERT(ctx->signer != NULL && msg != NULL);
    KUMO_GUARD(kumo_market_msg_validate_basic(msg, err));
    if (kumo_market_msg_is_facilitator(msg) && !ctx->facilitator_authorized) {
        bool is_operator = false;
        KUMO_GUARD(kumo_market_validator_is_operator(ctx->kv, ctx->signer, &is_operator, err));
        KUMO_ENSURE(is_operator, err, KUMO_EUNAUTH, "signer is not a validator operator");
    }
    if (msg->sum_case == KUMO__MSG__SUM_EXEC) {
        /* Each inner msg runs in its own state context, for the granter. */
        return kumo_market_grant_exec(ctx, msg->exec, err);
    }
    const uint8_t *principal = ctx->principal != NULL ? ctx->principal : ctx->signer;
    kumo_market_st_t st;
    KUMO_GUARD(kumo_market_st_begin(&st, ctx->kv, ctx->params, ctx->height, principal, ctx, err));
    int rc = dispatch(&st, msg, err);
    return kumo_market_st_finish(&st, rc, err);
}
