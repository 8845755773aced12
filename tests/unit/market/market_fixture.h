/*
 * market_fixture.h - the market tests' world: a real LMDB store (tests/helpers/teststore.h)
 * with a genesis of two tenants, five providers (created by msgs), one validator operator and
 * small params; msg builders over one big holder (fx_msg_t) so a table row can break any field;
 * and the negative-case runner: build a valid msg, mutate one thing, apply it in a savepoint,
 * roll back, and require the exact code and an identical kv digest.
 *
 * Everything is static inline so each test file compiles it on its own.
 */
#ifndef KUMO_TESTS_UNIT_MARKET_MARKET_FIXTURE_H
#define KUMO_TESTS_UNIT_MARKET_MARKET_FIXTURE_H

#include "bank/bank.h"
#include "helpers/teststore.h"
#include "helpers/testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "market/market.h"
#include "market/market_int.h"

#define FX_BALANCE        1000000000000ull
#define FX_PERIOD         10u
#define FX_RELEASE        20u
#define FX_BIDS_MAX       4u
#define FX_MIN_DEPOSIT    1000u
#define FX_WAIT_MAX       100u
#define FX_RATE_PPB       1000u
#define FX_PROVIDERS      5u
#define FX_EVENTS_MAX     4096u
#define FX_EVENT_TYPE_MAX 40u

#define FX_PEM "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

typedef struct fx {
    kumo_test_store_t ts;
    Kumo__Params params;
    uint64_t height;
    uint8_t tenant[KUMO_ADDRESS_BYTES];
    uint8_t tenant2[KUMO_ADDRESS_BYTES];
    uint8_t val[KUMO_ADDRESS_BYTES];
    uint8_t stranger[KUMO_ADDRESS_BYTES]; /* no balance, no role */
    uint8_t prov[FX_PROVIDERS][KUMO_ADDRESS_BYTES];
    uint8_t val_pubkey[32];
    char events[FX_EVENTS_MAX][FX_EVENT_TYPE_MAX];
    char event_id[FX_EVENTS_MAX][KUMO_ID_TEXT_BYTES];
    uint64_t event_amount[FX_EVENTS_MAX];                /* attr "amount" when present */
    char event_reason[FX_EVENTS_MAX][FX_EVENT_TYPE_MAX]; /* attr "reason" when present */
    size_t event_count;
} fx_t;

/* ---- the msg holder ------------------------------------------------------------------------- */

typedef struct fx_rg {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
} fx_rg_t;

typedef struct fx_spec {
    Kumo__GroupSpec spec;
    fx_rg_t res[KUMO_RESOURCE_COUNT_MAX + 1];
    Kumo__ResourceGroup *res_ptrs[KUMO_RESOURCE_COUNT_MAX + 1];
    char name[KUMO_NAME_BYTES_MAX + 2];
    char region[KUMO_REGION_BYTES_MAX + 2];
} fx_spec_t;

typedef struct fx_msg {
    Kumo__Msg msg;
    const uint8_t *signer;
    /* bank */
    Kumo__MsgSend send;
    uint8_t addr[KUMO_ADDRESS_BYTES + 1];
    /* providers */
    Kumo__MsgCreateProvider cp;
    Kumo__MsgUpdateProvider up;
    Kumo__MsgDeleteProvider dp;
    Kumo__Attribute attr[KUMO_ATTRIBUTE_COUNT_MAX + 1];
    Kumo__Attribute *attr_ptrs[KUMO_ATTRIBUTE_COUNT_MAX + 1];
    char attr_key[KUMO_ATTRIBUTE_COUNT_MAX + 1][KUMO_ATTRIBUTE_KEY_BYTES_MAX + 2];
    char attr_val[KUMO_ATTRIBUTE_COUNT_MAX + 1][KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 2];
    char host[KUMO_URI_BYTES_MAX + 2];
    char region[KUMO_REGION_BYTES_MAX + 2];
    char pem[KUMO_CERT_PEM_BYTES_MAX + 64];
    /* deployments */
    Kumo__MsgSubmitDeployment sd;
    Kumo__MsgUpdateDeployment ud;
    Kumo__MsgDepositDeployment dd;
    Kumo__MsgCloseDeployment cd;
    Kumo__MsgDeploymentClosed dc;
    fx_spec_t specs[KUMO_GROUP_COUNT_MAX + 1];
    Kumo__GroupSpec *spec_ptrs[KUMO_GROUP_COUNT_MAX + 1];
    uint8_t version[KUMO_VERSION_BYTES + 1];
    /* bids and leases */
    Kumo__MsgSubmitFulfillment sf;
    Kumo__MsgCancelFulfillment cf;
    Kumo__MsgSubmitLease sl;
    Kumo__MsgSubmitStaleLease ssl;
    Kumo__OrderId oid;
    uint8_t owner[KUMO_ADDRESS_BYTES + 1];
    fx_rg_t res[KUMO_RESOURCE_COUNT_MAX + 1];
    Kumo__ResourceGroup *res_ptrs[KUMO_RESOURCE_COUNT_MAX + 1];
    /* confirmations */
    Kumo__MsgSubmitLeaseConfirmation lc;
    Kumo__LeaseConfirmation conf[KUMO_CONFIRM_COUNT_MAX + 1];
    Kumo__LeaseConfirmation *conf_ptrs[KUMO_CONFIRM_COUNT_MAX + 1];
    Kumo__OrderId conf_oid[KUMO_CONFIRM_COUNT_MAX + 1];
    uint8_t conf_version[KUMO_VERSION_BYTES + 1];
    /* refusals and provider closes (the detail is shared) */
    Kumo__MsgRefuseLease rl;
    Kumo__MsgCloseLease cl;
    char detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 2];
} fx_msg_t;

_Static_assert(KUMO_CLOSE_DETAIL_BYTES_MAX <= KUMO_REFUSE_DETAIL_BYTES_MAX,
               "a close's detail fits the shared buffer");

static inline fx_msg_t *fx_msg_new(void)
{
    fx_msg_t *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    return m;
}

static inline void fx_msg_set(fx_msg_t *m, Kumo__Msg__SumCase c, void *body)
{
    Kumo__Msg init = KUMO__MSG__INIT;
    m->msg = init;
    m->msg.sum_case = c;
    /* Every member of the oneof union is a pointer at the same place. */
    m->msg.send = body;
}

/* ---- world ---------------------------------------------------------------------------------- */

static inline void fx_addr(uint8_t out[KUMO_ADDRESS_BYTES], uint8_t tag)
{
    for (size_t i = 0; i < KUMO_ADDRESS_BYTES; i++) {
        out[i] = (uint8_t)(tag + i);
    }
}

static inline int fx_event_cb(void *ctx, const Kumo__Event *ev, kumo_err_ctx_t *err)
{
    (void)err;
    fx_t *fx = ctx;
    if (fx->event_count < FX_EVENTS_MAX) {
        snprintf(fx->events[fx->event_count], FX_EVENT_TYPE_MAX, "%s", ev->type);
        snprintf(fx->event_id[fx->event_count], KUMO_ID_TEXT_BYTES, "%s", ev->id);
        fx->event_amount[fx->event_count] = UINT64_MAX;
        fx->event_reason[fx->event_count][0] = '\0';
        for (size_t i = 0; i < ev->n_attrs; i++) {
            if (strcmp(ev->attrs[i]->key, "amount") == 0) {
                fx->event_amount[fx->event_count] = strtoull(ev->attrs[i]->value, NULL, 10);
            }
            if (strcmp(ev->attrs[i]->key, "reason") == 0) {
                snprintf(fx->event_reason[fx->event_count], FX_EVENT_TYPE_MAX, "%s",
                         ev->attrs[i]->value);
            }
        }
        fx->event_count++;
    }
    assert_true(ev->id != NULL && ev->id[0] != '\0');
    return 0;
}

static inline int
fx_apply_at(fx_t *fx, const uint8_t *signer, const Kumo__Msg *msg, kumo_err_ctx_t *err)
{
    kumo_market_ctx_t ctx = {
        .kv = &fx->ts.kv,
        .params = &fx->params,
        .height = fx->height,
        .signer = signer,
        .events = {.ctx = fx, .emit_cb = fx_event_cb},
    };
    return kumo_market_msg_apply(&ctx, msg, err);
}

static inline void fx_check(fx_t *fx)
{
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_invariants_check(&fx->ts.kv, &err);
    if (rc != 0) {
        fail_msg("invariants: %s (%s)", kumo_err_name(rc), err.detail);
    }
}

/* Applies a msg that must succeed, then checks every invariant. */
static inline void fx_ok(fx_t *fx, const uint8_t *signer, const Kumo__Msg *msg)
{
    kumo_err_ctx_t err = {0};
    int rc = fx_apply_at(fx, signer, msg, &err);
    if (rc != 0) {
        fail_msg("msg %d at height %" PRIu64 ": %s (%s)", (int)msg->sum_case, fx->height,
                 kumo_err_name(rc), err.detail);
    }
    fx_check(fx);
}

static inline int fx_apply(fx_t *fx, const uint8_t *signer, const Kumo__Msg *msg)
{
    kumo_err_ctx_t err = {0};
    return fx_apply_at(fx, signer, msg, &err);
}

static inline uint64_t fx_balance(fx_t *fx, const uint8_t *addr)
{
    Kumo__Account *a = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_bank_account_get(&fx->ts.kv, addr, &a, &err), 0);
    uint64_t b = a->balance;
    kumo_codec_free(&a->base);
    return b;
}

static inline Kumo__Global fx_global(fx_t *fx)
{
    Kumo__Global *g = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_global_get(&fx->ts.kv, &g, &err), 0);
    Kumo__Global copy = *g;
    kumo_codec_free(&g->base);
    return copy;
}

static inline kumo_bank_totals_t fx_totals(fx_t *fx)
{
    kumo_bank_totals_t t;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_bank_totals_get(&fx->ts.kv, &t, &err), 0);
    return t;
}

static inline void fx_digest(fx_t *fx, uint8_t out[KUMO_TEST_KV_DIGEST_BYTES])
{
    assert_int_equal(kumo_test_kv_digest(&fx->ts.kv, out), 0);
}

static inline void fx_sp_begin(fx_t *fx)
{
    assert_int_equal(fx->ts.kv.savepoint_begin(fx->ts.kv.ctx, NULL), 0);
}

static inline void fx_sp_rollback(fx_t *fx)
{
    fx->ts.kv.savepoint_rollback(fx->ts.kv.ctx);
}

/* Applies msg in a savepoint and rolls it back: the code must be want and the whole kv must be
 * byte-identical afterwards. */
static inline void
fx_expect(fx_t *fx, const uint8_t *signer, const Kumo__Msg *msg, int want, const char *name)
{
    uint8_t before[KUMO_TEST_KV_DIGEST_BYTES];
    uint8_t after[KUMO_TEST_KV_DIGEST_BYTES];
    fx_digest(fx, before);
    fx_sp_begin(fx);
    kumo_err_ctx_t err = {0};
    int rc = fx_apply_at(fx, signer, msg, &err);
    fx_sp_rollback(fx);
    fx_digest(fx, after);
    if (rc != want) {
        fail_msg("%s: got %s (%s), want %s", name, kumo_err_name(rc), err.detail,
                 kumo_err_name(want));
    }
    if (memcmp(before, after, sizeof(before)) != 0) {
        fail_msg("%s: state changed", name);
    }
}

/* One row of a negative table: break one thing of a valid msg (or of the state). */
typedef struct fx_case {
    const char *name;
    void (*mutate)(fx_t *fx, fx_msg_t *m);
    int want;
} fx_case_t;

static inline void fx_case_none(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
}

/* Runs each row from a freshly built valid msg; state changes a row makes for its setup are
 * undone by an outer savepoint. The first row should be {"valid", fx_case_none, 0}. */
static inline void
fx_cases_run(fx_t *fx, void (*build)(fx_t *fx, fx_msg_t *m), const fx_case_t *cases, size_t count)
{
    fx_msg_t *m = fx_msg_new();
    uint64_t height = fx->height;
    for (size_t i = 0; i < count; i++) {
        memset(m, 0, sizeof(*m));
        fx_sp_begin(fx);
        build(fx, m);
        cases[i].mutate(fx, m);
        fx_expect(fx, m->signer, &m->msg, cases[i].want, cases[i].name);
        fx_sp_rollback(fx);
        fx->height = height;
    }
    free(m);
}

/* ---- builders ------------------------------------------------------------------------------- */

static inline void
fx_rg_set(fx_rg_t *r, uint32_t i, uint64_t price, uint64_t collateral, uint32_t count)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    Kumo__ResourceGroup rg = KUMO__RESOURCE_GROUP__INIT;
    r->cu = cu;
    r->rg = rg;
    r->cu.cpu_milli = 500u * (i + 1u);
    r->cu.memory_bytes = 1ull << 30;
    r->cu.storage_bytes = 10ull << 30;
    r->rg.compute = &r->cu;
    r->rg.price = price;
    r->rg.collateral = collateral;
    r->rg.count = count;
}

/* A group spec with nres resource groups, each at price/collateral per unit and count units. */
static inline void fx_spec_set(fx_spec_t *s,
                               const char *name,
                               const char *region,
                               uint32_t nres,
                               uint64_t price,
                               uint64_t collateral,
                               uint32_t count)
{
    Kumo__GroupSpec init = KUMO__GROUP_SPEC__INIT;
    s->spec = init;
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->region, sizeof(s->region), "%s", region);
    s->spec.name = s->name;
    s->spec.region = s->region;
    for (uint32_t i = 0; i < nres; i++) {
        fx_rg_set(&s->res[i], i, price, collateral, count);
        s->res_ptrs[i] = &s->res[i].rg;
    }
    s->spec.n_resources = nres;
    s->spec.resources = s->res_ptrs;
}

static inline void fx_msg_send(fx_msg_t *m, const uint8_t *from, const uint8_t *to, uint64_t amount)
{
    Kumo__MsgSend init = KUMO__MSG_SEND__INIT;
    m->send = init;
    memcpy(m->addr, to, KUMO_ADDRESS_BYTES);
    m->send.to.data = m->addr;
    m->send.to.len = KUMO_ADDRESS_BYTES;
    m->send.amount = amount;
    m->signer = from;
    fx_msg_set(m, KUMO__MSG__SUM_SEND, &m->send);
}

static inline void fx_attrs_fill(fx_msg_t *m, size_t nattrs)
{
    for (size_t i = 0; i < nattrs; i++) {
        Kumo__Attribute a = KUMO__ATTRIBUTE__INIT;
        m->attr[i] = a;
        snprintf(m->attr_key[i], sizeof(m->attr_key[i]), "key%02zu", i);
        snprintf(m->attr_val[i], sizeof(m->attr_val[i]), "value%02zu", i);
        m->attr[i].key = m->attr_key[i];
        m->attr[i].value = m->attr_val[i];
        m->attr_ptrs[i] = &m->attr[i];
    }
}

static inline void fx_provider_fields(fx_msg_t *m, const char *region, size_t nattrs)
{
    snprintf(m->host, sizeof(m->host), "https://provider.example:8443");
    snprintf(m->region, sizeof(m->region), "%s", region);
    snprintf(m->pem, sizeof(m->pem), "%s", FX_PEM);
    fx_attrs_fill(m, nattrs);
}

static inline void fx_msg_create_provider(fx_msg_t *m, const uint8_t *signer, const char *region)
{
    Kumo__MsgCreateProvider init = KUMO__MSG_CREATE_PROVIDER__INIT;
    m->cp = init;
    fx_provider_fields(m, region, 2);
    m->cp.host_uri = m->host;
    m->cp.region = m->region;
    m->cp.root_cert_pem = m->pem;
    m->cp.n_attributes = 2;
    m->cp.attributes = m->attr_ptrs;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_CREATE_PROVIDER, &m->cp);
}

static inline void fx_msg_update_provider(fx_msg_t *m, const uint8_t *signer, const char *region)
{
    Kumo__MsgUpdateProvider init = KUMO__MSG_UPDATE_PROVIDER__INIT;
    m->up = init;
    fx_provider_fields(m, region, 2);
    m->up.host_uri = m->host;
    m->up.region = m->region;
    m->up.root_cert_pem = m->pem;
    m->up.n_attributes = 2;
    m->up.attributes = m->attr_ptrs;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_UPDATE_PROVIDER, &m->up);
}

static inline void fx_msg_delete_provider(fx_msg_t *m, const uint8_t *signer)
{
    Kumo__MsgDeleteProvider init = KUMO__MSG_DELETE_PROVIDER__INIT;
    m->dp = init;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_DELETE_PROVIDER, &m->dp);
}

static inline void fx_version_fill(fx_msg_t *m, uint8_t tag)
{
    memset(m->version, tag, KUMO_VERSION_BYTES);
}

/* SubmitDeployment from signer with ngroups groups "g<i>": even groups in us-east, odd in
 * us-west, one resource group each (price 10, collateral 100, count 2). */
static inline void fx_msg_deploy(fx_msg_t *m,
                                 const uint8_t *signer,
                                 uint64_t dseq,
                                 size_t ngroups,
                                 uint64_t wait_blocks,
                                 uint64_t deposit)
{
    Kumo__MsgSubmitDeployment init = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    m->sd = init;
    for (size_t i = 0; i < ngroups; i++) {
        char name[16];
        snprintf(name, sizeof(name), "g%zu", i);
        fx_spec_set(&m->specs[i], name, i % 2 == 0 ? "us-east" : "us-west", 1, 10, 100, 2);
        m->spec_ptrs[i] = &m->specs[i].spec;
    }
    fx_version_fill(m, 0xab);
    m->sd.dseq = dseq;
    m->sd.n_groups = ngroups;
    m->sd.groups = m->spec_ptrs;
    m->sd.wait_blocks = wait_blocks;
    m->sd.version.data = m->version;
    m->sd.version.len = KUMO_VERSION_BYTES;
    m->sd.deposit = deposit;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SUBMIT_DEPLOYMENT, &m->sd);
}

/* UpdateDeployment with ngroups specs (fill m->specs[i] after calling). */
static inline void fx_msg_update(fx_msg_t *m, const uint8_t *signer, uint64_t dseq, size_t ngroups)
{
    Kumo__MsgUpdateDeployment init = KUMO__MSG_UPDATE_DEPLOYMENT__INIT;
    m->ud = init;
    for (size_t i = 0; i < ngroups; i++) {
        m->spec_ptrs[i] = &m->specs[i].spec;
    }
    fx_version_fill(m, 0xcd);
    m->ud.dseq = dseq;
    m->ud.version.data = m->version;
    m->ud.version.len = KUMO_VERSION_BYTES;
    m->ud.n_groups = ngroups;
    m->ud.groups = ngroups > 0 ? m->spec_ptrs : NULL;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_UPDATE_DEPLOYMENT, &m->ud);
}

static inline void fx_msg_deposit(
    fx_msg_t *m, const uint8_t *signer, const uint8_t *owner, uint64_t dseq, uint64_t amount)
{
    Kumo__MsgDepositDeployment init = KUMO__MSG_DEPOSIT_DEPLOYMENT__INIT;
    m->dd = init;
    memcpy(m->owner, owner, KUMO_ADDRESS_BYTES);
    m->dd.owner.data = m->owner;
    m->dd.owner.len = KUMO_ADDRESS_BYTES;
    m->dd.dseq = dseq;
    m->dd.amount = amount;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT, &m->dd);
}

static inline void fx_msg_close(fx_msg_t *m, const uint8_t *signer, uint64_t dseq)
{
    Kumo__MsgCloseDeployment init = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    m->cd = init;
    m->cd.dseq = dseq;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_CLOSE_DEPLOYMENT, &m->cd);
}

static inline void
fx_msg_closed(fx_msg_t *m, const uint8_t *signer, const uint8_t *owner, uint64_t dseq)
{
    Kumo__MsgDeploymentClosed init = KUMO__MSG_DEPLOYMENT_CLOSED__INIT;
    m->dc = init;
    memcpy(m->owner, owner, KUMO_ADDRESS_BYTES);
    m->dc.owner.data = m->owner;
    m->dc.owner.len = KUMO_ADDRESS_BYTES;
    m->dc.dseq = dseq;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_DEPLOYMENT_CLOSED, &m->dc);
}

static inline void fx_oid_set(Kumo__OrderId *id,
                              uint8_t *owner_buf,
                              const uint8_t *owner,
                              uint64_t dseq,
                              uint32_t gseq,
                              uint32_t oseq)
{
    Kumo__OrderId init = KUMO__ORDER_ID__INIT;
    *id = init;
    memcpy(owner_buf, owner, KUMO_ADDRESS_BYTES);
    id->owner.data = owner_buf;
    id->owner.len = KUMO_ADDRESS_BYTES;
    id->dseq = dseq;
    id->gseq = gseq;
    id->oseq = oseq;
}

/* A bid matching spec (the group's resources) at price_each per unit. */
static inline void fx_msg_bid(fx_msg_t *m,
                              const uint8_t *signer,
                              const uint8_t *owner,
                              uint64_t dseq,
                              uint32_t gseq,
                              uint32_t oseq,
                              const fx_spec_t *spec,
                              uint64_t price_each)
{
    Kumo__MsgSubmitFulfillment init = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
    m->sf = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    for (size_t i = 0; i < spec->spec.n_resources; i++) {
        const Kumo__ResourceGroup *src = spec->spec.resources[i];
        m->res[i].cu = *src->compute;
        m->res[i].rg = *src;
        m->res[i].rg.compute = &m->res[i].cu;
        m->res[i].rg.price = price_each;
        m->res_ptrs[i] = &m->res[i].rg;
    }
    m->sf.order = &m->oid;
    m->sf.n_resources = spec->spec.n_resources;
    m->sf.resources = m->res_ptrs;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SUBMIT_FULFILLMENT, &m->sf);
}

static inline void fx_msg_cancel(fx_msg_t *m,
                                 const uint8_t *signer,
                                 const uint8_t *owner,
                                 uint64_t dseq,
                                 uint32_t gseq,
                                 uint32_t oseq)
{
    Kumo__MsgCancelFulfillment init = KUMO__MSG_CANCEL_FULFILLMENT__INIT;
    m->cf = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    m->cf.order = &m->oid;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_CANCEL_FULFILLMENT, &m->cf);
}

static inline void fx_msg_lease(fx_msg_t *m,
                                const uint8_t *signer,
                                const uint8_t *owner,
                                uint64_t dseq,
                                uint32_t gseq,
                                uint32_t oseq,
                                const uint8_t *provider)
{
    Kumo__MsgSubmitLease init = KUMO__MSG_SUBMIT_LEASE__INIT;
    m->sl = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    memcpy(m->addr, provider, KUMO_ADDRESS_BYTES);
    m->sl.order = &m->oid;
    m->sl.provider.data = m->addr;
    m->sl.provider.len = KUMO_ADDRESS_BYTES;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SUBMIT_LEASE, &m->sl);
}

static inline void fx_msg_stale(fx_msg_t *m,
                                const uint8_t *signer,
                                const uint8_t *owner,
                                uint64_t dseq,
                                uint32_t gseq,
                                uint32_t oseq,
                                const uint8_t *provider)
{
    Kumo__MsgSubmitStaleLease init = KUMO__MSG_SUBMIT_STALE_LEASE__INIT;
    m->ssl = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    memcpy(m->addr, provider, KUMO_ADDRESS_BYTES);
    m->ssl.order = &m->oid;
    m->ssl.provider.data = m->addr;
    m->ssl.provider.len = KUMO_ADDRESS_BYTES;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SUBMIT_STALE_LEASE, &m->ssl);
}

static inline void fx_msg_confirm(fx_msg_t *m, const uint8_t *signer)
{
    Kumo__MsgSubmitLeaseConfirmation init = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    m->lc = init;
    m->lc.confirmations = m->conf_ptrs;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION, &m->lc);
}

static inline void fx_confirm_add(
    fx_msg_t *m, const uint8_t *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq, bool released)
{
    size_t i = m->lc.n_confirmations;
    assert_true(i <= KUMO_CONFIRM_COUNT_MAX);
    Kumo__LeaseConfirmation init = KUMO__LEASE_CONFIRMATION__INIT;
    m->conf[i] = init;
    Kumo__OrderId oid = KUMO__ORDER_ID__INIT;
    m->conf_oid[i] = oid;
    /* The owner bytes are borrowed from the caller, which keeps them alive. */
    m->conf_oid[i].owner.data = (uint8_t *)(uintptr_t)owner;
    m->conf_oid[i].owner.len = KUMO_ADDRESS_BYTES;
    m->conf_oid[i].dseq = dseq;
    m->conf_oid[i].gseq = gseq;
    m->conf_oid[i].oseq = oseq;
    m->conf[i].order = &m->conf_oid[i];
    m->conf[i].released = released;
    m->conf_ptrs[i] = &m->conf[i];
    m->lc.n_confirmations = i + 1;
}

/* Makes confirmation i name the version whose every byte is tag (0xab: a deployment's first,
 * 0xcd: after fx_msg_update). */
static inline void fx_confirm_version(fx_msg_t *m, size_t i, uint8_t tag)
{
    memset(m->conf_version, tag, KUMO_VERSION_BYTES);
    m->conf[i].version.data = m->conf_version;
    m->conf[i].version.len = KUMO_VERSION_BYTES;
}

/* RefuseLease of (owner, dseq, gseq, oseq) by signer: image missing, a short detail. */
static inline void fx_msg_refuse(fx_msg_t *m,
                                 const uint8_t *signer,
                                 const uint8_t *owner,
                                 uint64_t dseq,
                                 uint32_t gseq,
                                 uint32_t oseq)
{
    Kumo__MsgRefuseLease init = KUMO__MSG_REFUSE_LEASE__INIT;
    m->rl = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    snprintf(m->detail, sizeof(m->detail), "%s", "no such image: ghost:1");
    m->rl.order = &m->oid;
    m->rl.reason = KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING;
    m->rl.detail = m->detail;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_REFUSE_LEASE, &m->rl);
}

/* CloseLease of (owner, dseq, gseq, oseq) by signer, with a short detail. */
static inline void fx_msg_close_lease(fx_msg_t *m,
                                      const uint8_t *signer,
                                      const uint8_t *owner,
                                      uint64_t dseq,
                                      uint32_t gseq,
                                      uint32_t oseq)
{
    Kumo__MsgCloseLease init = KUMO__MSG_CLOSE_LEASE__INIT;
    m->cl = init;
    fx_oid_set(&m->oid, m->owner, owner, dseq, gseq, oseq);
    snprintf(m->detail, sizeof(m->detail), "%s", "rack retired");
    m->cl.order = &m->oid;
    m->cl.detail = m->detail;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_CLOSE_LEASE, &m->cl);
}

/* ---- setup ---------------------------------------------------------------------------------- */

static inline void fx_params(Kumo__Params *p)
{
    kumo_market_params_default(p);
    p->reconfirmation_period = FX_PERIOD;
    p->release_timeout = FX_RELEASE;
    p->max_bids_per_order = FX_BIDS_MAX;
    p->min_deposit = FX_MIN_DEPOSIT;
    p->max_wait_blocks = FX_WAIT_MAX;
    p->collateral_interest_rate = FX_RATE_PPB;
}

static inline const char *fx_provider_region(size_t i)
{
    static const char *regions[FX_PROVIDERS] = {"us-east", "us-east", "us-west", "us-west",
                                                "us-east"};
    return regions[i];
}

/* Opens the store, applies genesis at height 0 and creates the providers at height 1:
 * p0, p1, p4 in us-east; p2, p3 in us-west. */
static inline void fx_open(fx_t *fx)
{
    memset(fx, 0, sizeof(*fx));
    assert_int_equal(kumo_test_store_open(&fx->ts), 0);
    fx_addr(fx->tenant, 0x10);
    fx_addr(fx->tenant2, 0x30);
    fx_addr(fx->val, 0x50);
    fx_addr(fx->stranger, 0x70);
    for (size_t i = 0; i < FX_PROVIDERS; i++) {
        fx_addr(fx->prov[i], (uint8_t)(0x90 + 0x10 * i));
    }
    memset(fx->val_pubkey, 7, sizeof(fx->val_pubkey));
    fx_params(&fx->params);
    Kumo__GenesisBalance bal[2 + FX_PROVIDERS];
    Kumo__GenesisBalance *bal_ptrs[2 + FX_PROVIDERS];
    const uint8_t *who[2 + FX_PROVIDERS] = {fx->tenant, fx->tenant2};
    for (size_t i = 0; i < FX_PROVIDERS; i++) {
        who[2 + i] = fx->prov[i];
    }
    for (size_t i = 0; i < 2 + FX_PROVIDERS; i++) {
        Kumo__GenesisBalance b = KUMO__GENESIS_BALANCE__INIT;
        bal[i] = b;
        bal[i].address.data = (uint8_t *)(uintptr_t)who[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = FX_BALANCE;
        bal_ptrs[i] = &bal[i];
    }
    Kumo__Validator v = KUMO__VALIDATOR__INIT;
    Kumo__Validator *v_ptr = &v;
    v.address.data = fx->val;
    v.address.len = KUMO_ADDRESS_BYTES;
    v.pubkey.data = fx->val_pubkey;
    v.pubkey.len = sizeof(fx->val_pubkey);
    v.power = 10;
    v.moniker = "val";
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    g.chain_id = "kumo-test";
    g.params = &fx->params;
    g.n_balances = 2 + FX_PROVIDERS;
    g.balances = bal_ptrs;
    g.n_validators = 1;
    g.validators = &v_ptr;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_genesis_apply(&fx->ts.kv, &g, &err);
    if (rc != 0) {
        fail_msg("genesis: %s (%s)", kumo_err_name(rc), err.detail);
    }
    fx->height = 1;
    fx_msg_t *m = fx_msg_new();
    for (size_t i = 0; i < FX_PROVIDERS; i++) {
        fx_msg_create_provider(m, fx->prov[i], fx_provider_region(i));
        fx_ok(fx, m->signer, &m->msg);
    }
    free(m);
    fx->event_count = 0;
}

static inline void fx_close(fx_t *fx)
{
    kumo_test_store_close(&fx->ts);
}

/* cmocka setup/teardown wrappers. */
static inline int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return -1;
    }
    fx_open(fx);
    *state = fx;
    return 0;
}

static inline int fx_teardown(void **state)
{
    fx_t *fx = *state;
    fx_close(fx);
    free(fx);
    return 0;
}

/* ---- common steps --------------------------------------------------------------------------- */

/* tenant submits dseq with ngroups default groups (wait, deposit). */
static inline void fx_deploy(fx_t *fx,
                             const uint8_t *tenant,
                             uint64_t dseq,
                             size_t ngroups,
                             uint64_t wait_blocks,
                             uint64_t deposit)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, tenant, dseq, ngroups, wait_blocks, deposit);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* provider bids on (owner, dseq, gseq, oseq) for the default spec at price_each. */
static inline void fx_bid(fx_t *fx,
                          const uint8_t *provider,
                          const uint8_t *owner,
                          uint64_t dseq,
                          uint32_t gseq,
                          uint32_t oseq,
                          uint64_t price_each)
{
    fx_msg_t *m = fx_msg_new();
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 2);
    fx_msg_bid(m, provider, owner, dseq, gseq, oseq, &m->specs[0], price_each);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static inline void fx_lease(fx_t *fx,
                            const uint8_t *owner,
                            uint64_t dseq,
                            uint32_t gseq,
                            uint32_t oseq,
                            const uint8_t *provider)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_lease(m, fx->val, owner, dseq, gseq, oseq, provider);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static inline void fx_confirm1(fx_t *fx,
                               const uint8_t *provider,
                               const uint8_t *owner,
                               uint64_t dseq,
                               uint32_t gseq,
                               uint32_t oseq,
                               bool released)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_confirm(m, provider);
    fx_confirm_add(m, owner, dseq, gseq, oseq, released);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static inline void fx_refuse(fx_t *fx,
                             const uint8_t *provider,
                             const uint8_t *owner,
                             uint64_t dseq,
                             uint32_t gseq,
                             uint32_t oseq)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_refuse(m, provider, owner, dseq, gseq, oseq);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static inline void fx_close_lease(fx_t *fx,
                                  const uint8_t *provider,
                                  const uint8_t *owner,
                                  uint64_t dseq,
                                  uint32_t gseq,
                                  uint32_t oseq)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_close_lease(m, provider, owner, dseq, gseq, oseq);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static inline void fx_close_dep(fx_t *fx, const uint8_t *owner, uint64_t dseq)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_close(m, owner, dseq);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* Reads of state objects through the module's own getters (white-box); free with
 * kumo_codec_free. */
static inline Kumo__Deployment *fx_dep(fx_t *fx, const uint8_t *owner, uint64_t dseq)
{
    Kumo__Deployment *d = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_deployment_get(&fx->ts.kv, owner, dseq, &d, &err), 0);
    return d;
}

static inline Kumo__Group *fx_group(fx_t *fx, const uint8_t *owner, uint64_t dseq, uint32_t gseq)
{
    Kumo__Group *g = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_group_get(&fx->ts.kv, owner, dseq, gseq, &g, &err), 0);
    return g;
}

static inline kumo_market_oid_t
fx_oid(const uint8_t *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    kumo_market_oid_t oid;
    memcpy(oid.owner, owner, KUMO_ADDRESS_BYTES);
    oid.dseq = dseq;
    oid.gseq = gseq;
    oid.oseq = oseq;
    return oid;
}

static inline Kumo__Order *
fx_order(fx_t *fx, const uint8_t *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    kumo_market_oid_t oid = fx_oid(owner, dseq, gseq, oseq);
    Kumo__Order *o = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_order_get(&fx->ts.kv, &oid, &o, &err), 0);
    return o;
}

/* NULL when absent. */
static inline Kumo__Fulfillment *fx_ful(fx_t *fx,
                                        const uint8_t *owner,
                                        uint64_t dseq,
                                        uint32_t gseq,
                                        uint32_t oseq,
                                        const uint8_t *provider)
{
    kumo_market_oid_t oid = fx_oid(owner, dseq, gseq, oseq);
    Kumo__Fulfillment *f = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_fulfillment_get(&fx->ts.kv, &oid, provider, &f, &err);
    assert_true(rc == 0 || rc == KUMO_ENOTFOUND);
    return f;
}

/* NULL when absent. */
static inline Kumo__Lease *fx_lease_get(fx_t *fx,
                                        const uint8_t *owner,
                                        uint64_t dseq,
                                        uint32_t gseq,
                                        uint32_t oseq,
                                        const uint8_t *provider)
{
    kumo_market_oid_t oid = fx_oid(owner, dseq, gseq, oseq);
    Kumo__Lease *l = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_lease_get(&fx->ts.kv, &oid, provider, &l, &err);
    assert_true(rc == 0 || rc == KUMO_ENOTFOUND);
    return l;
}

static inline Kumo__Provider *fx_provider(fx_t *fx, const uint8_t *addr)
{
    Kumo__Provider *p = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_provider_get(&fx->ts.kv, addr, &p, &err), 0);
    return p;
}

static inline uint32_t fx_lease_state(fx_t *fx,
                                      const uint8_t *owner,
                                      uint64_t dseq,
                                      uint32_t gseq,
                                      uint32_t oseq,
                                      const uint8_t *provider)
{
    Kumo__Lease *l = fx_lease_get(fx, owner, dseq, gseq, oseq, provider);
    assert_non_null(l);
    uint32_t s = (uint32_t)l->state;
    kumo_codec_free(&l->base);
    return s;
}

static inline uint32_t fx_dep_state(fx_t *fx, const uint8_t *owner, uint64_t dseq)
{
    Kumo__Deployment *d = fx_dep(fx, owner, dseq);
    uint32_t s = (uint32_t)d->state;
    kumo_codec_free(&d->base);
    return s;
}

static inline uint64_t fx_dep_escrow(fx_t *fx, const uint8_t *owner, uint64_t dseq)
{
    Kumo__Deployment *d = fx_dep(fx, owner, dseq);
    uint64_t e = d->escrow;
    kumo_codec_free(&d->base);
    return e;
}

static inline uint32_t
fx_order_state(fx_t *fx, const uint8_t *owner, uint64_t dseq, uint32_t gseq, uint32_t oseq)
{
    Kumo__Order *o = fx_order(fx, owner, dseq, gseq, oseq);
    uint32_t s = (uint32_t)o->state;
    kumo_codec_free(&o->base);
    return s;
}

static inline uint32_t fx_group_state(fx_t *fx, const uint8_t *owner, uint64_t dseq, uint32_t gseq)
{
    Kumo__Group *g = fx_group(fx, owner, dseq, gseq);
    uint32_t s = (uint32_t)g->state;
    kumo_codec_free(&g->base);
    return s;
}

/* The id of the first event of type since the last reset (NULL when none). */
static inline const char *fx_event_id(const fx_t *fx, const char *type)
{
    for (size_t i = 0; i < fx->event_count; i++) {
        if (strcmp(fx->events[i], type) == 0) {
            return fx->event_id[i];
        }
    }
    return NULL;
}

/* True when the event log since the last reset holds type (count of them). */
static inline size_t fx_event_count(const fx_t *fx, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->event_count; i++) {
        if (strcmp(fx->events[i], type) == 0) {
            n++;
        }
    }
    return n;
}

/* ---- facilitator ---------------------------------------------------------------------------- */

#define FX_COLLECT_MAX 256u

/* A collected facilitator msg, copied out of the borrowed callback argument. */
typedef struct fx_fac {
    Kumo__Msg__SumCase kind;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    uint32_t gseq;
    uint32_t oseq;
    uint8_t provider[KUMO_ADDRESS_BYTES];
} fx_fac_t;

typedef struct fx_collected {
    fx_fac_t msgs[FX_COLLECT_MAX];
    size_t count;
    size_t stop_after; /* 0: never stop */
} fx_collected_t;

static inline int fx_collect_cb(void *cb_ctx, const Kumo__Msg *msg)
{
    fx_collected_t *c = cb_ctx;
    assert_true(c->count < FX_COLLECT_MAX);
    assert_true(kumo_market_msg_is_facilitator(msg));
    assert_int_equal(kumo_market_msg_validate_basic(msg, NULL), 0);
    fx_fac_t *f = &c->msgs[c->count++];
    memset(f, 0, sizeof(*f));
    f->kind = msg->sum_case;
    const Kumo__OrderId *oid = NULL;
    if (msg->sum_case == KUMO__MSG__SUM_SUBMIT_LEASE) {
        oid = msg->submit_lease->order;
        memcpy(f->provider, msg->submit_lease->provider.data, KUMO_ADDRESS_BYTES);
    } else if (msg->sum_case == KUMO__MSG__SUM_SUBMIT_STALE_LEASE) {
        oid = msg->submit_stale_lease->order;
        memcpy(f->provider, msg->submit_stale_lease->provider.data, KUMO_ADDRESS_BYTES);
    } else {
        memcpy(f->owner, msg->deployment_closed->owner.data, KUMO_ADDRESS_BYTES);
        f->dseq = msg->deployment_closed->dseq;
    }
    if (oid != NULL) {
        memcpy(f->owner, oid->owner.data, KUMO_ADDRESS_BYTES);
        f->dseq = oid->dseq;
        f->gseq = oid->gseq;
        f->oseq = oid->oseq;
    }
    return c->stop_after != 0 && c->count >= c->stop_after ? 1 : 0;
}

/* Collects the facilitator msgs due at fx->height. */
static inline void fx_collect(fx_t *fx, uint32_t max, fx_collected_t *out)
{
    size_t stop = out->stop_after;
    memset(out, 0, sizeof(*out));
    out->stop_after = stop;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_facilitator_collect(&fx->ts.kv, fx->height, max, fx_collect_cb, out, &err);
    if (rc != 0) {
        fail_msg("collect: %s (%s)", kumo_err_name(rc), err.detail);
    }
}

/* Rebuilds a collected msg and applies it as the validator (must succeed). */
static inline void fx_fac_apply(fx_t *fx, const fx_fac_t *f)
{
    fx_msg_t *m = fx_msg_new();
    switch (f->kind) {
    case KUMO__MSG__SUM_SUBMIT_LEASE:
        fx_msg_lease(m, fx->val, f->owner, f->dseq, f->gseq, f->oseq, f->provider);
        break;
    case KUMO__MSG__SUM_SUBMIT_STALE_LEASE:
        fx_msg_stale(m, fx->val, f->owner, f->dseq, f->gseq, f->oseq, f->provider);
        break;
    default:
        fx_msg_closed(m, fx->val, f->owner, f->dseq);
        break;
    }
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* Collects and applies everything due at fx->height; returns how many msgs ran. */
static inline size_t fx_facilitate(fx_t *fx)
{
    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    fx_collect(fx, FX_COLLECT_MAX, c);
    for (size_t i = 0; i < c->count; i++) {
        fx_fac_apply(fx, &c->msgs[i]);
    }
    size_t n = c->count;
    free(c);
    return n;
}

#endif
