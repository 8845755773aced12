/*
 * query.c - paginated reads of state objects with filters, always by a key-prefix scan of the
 * most selective key space, never a scan of everything:
 *   order given            object prefix + order body (fulfillments, leases, the order)
 *   provider given         0x24/0x23 provider [+ order body | owner [+ dseq]] (then state)
 *   state given            0x25 state + object prefix [+ order body | owner [+ dseq]]
 *   otherwise              object prefix [+ owner [+ dseq]]
 * The page key is the store key (in the scanned key space) to resume from; a page stops after
 * `limit` objects or after KUMO_MARKET_QUERY_SCAN_COUNT_MAX visited entries, so a residual
 * filter cannot make one call a long scan. The callback runs inside the scan and must not write
 * to the kv. Pure: no I/O beyond the kv.
 */
#include <string.h>

#include "market/market_int.h"

typedef enum index_kind {
    INDEX_NONE,     /* the scanned keys are the objects' own */
    INDEX_STATE,    /* 0x25 state object_key */
    INDEX_PROVIDER, /* 0x23/0x24 provider order_body */
} index_kind_t;

typedef struct query_plan {
    kumo_market_key_t prefix;
    index_kind_t index;
    uint8_t obj_prefix;
    uint32_t residual_state;         /* filter after decoding (provider index only) */
    const uint8_t *residual_grantee; /* grants by grantee without a granter */
    const ProtobufCMessageDescriptor *desc;
    bool empty; /* filters that cannot match anything */
} query_plan_t;

typedef struct query_run {
    const kumo_kv_t *kv;
    const query_plan_t *plan;
    uint32_t limit;
    uint32_t emitted;
    uint32_t visited;
    kumo_market_object_cb cb;
    void *cb_ctx;
    kumo_buf_t *next_key;
    kumo_err_ctx_t *err;
} query_run_t;

static const ProtobufCMessageDescriptor *object_desc(kumo_market_object_t obj, uint8_t *prefix)
{
    switch (obj) {
    case KUMO_MARKET_OBJ_ACCOUNT:
        *prefix = KUMO_MARKET_PREFIX_ACCOUNT;
        return &kumo__account__descriptor;
    case KUMO_MARKET_OBJ_PROVIDER:
        *prefix = KUMO_MARKET_PREFIX_PROVIDER;
        return &kumo__provider__descriptor;
    case KUMO_MARKET_OBJ_DEPLOYMENT:
        *prefix = KUMO_MARKET_PREFIX_DEPLOYMENT;
        return &kumo__deployment__descriptor;
    case KUMO_MARKET_OBJ_GROUP:
        *prefix = KUMO_MARKET_PREFIX_GROUP;
        return &kumo__group__descriptor;
    case KUMO_MARKET_OBJ_ORDER:
        *prefix = KUMO_MARKET_PREFIX_ORDER;
        return &kumo__order__descriptor;
    case KUMO_MARKET_OBJ_FULFILLMENT:
        *prefix = KUMO_MARKET_PREFIX_FULFILLMENT;
        return &kumo__fulfillment__descriptor;
    case KUMO_MARKET_OBJ_LEASE:
        *prefix = KUMO_MARKET_PREFIX_LEASE;
        return &kumo__lease__descriptor;
    case KUMO_MARKET_OBJ_VALIDATOR:
        *prefix = KUMO_MARKET_PREFIX_VALIDATOR;
        return &kumo__validator__descriptor;
    case KUMO_MARKET_OBJ_AUDIT:
        *prefix = KUMO_MARKET_PREFIX_AUDIT;
        return &kumo__provider_audit__descriptor;
    case KUMO_MARKET_OBJ_GRANT:
        *prefix = KUMO_MARKET_PREFIX_GRANT;
        return &kumo__grant__descriptor;
    default:
        return NULL;
    }
}

/* Which filters each object accepts. */
static int filters_check(const kumo_market_query_t *q, kumo_err_ctx_t *err)
{
    kumo_market_object_t o = q->object;
    bool has_state = o == KUMO_MARKET_OBJ_DEPLOYMENT || o == KUMO_MARKET_OBJ_GROUP ||
                     o == KUMO_MARKET_OBJ_ORDER || o == KUMO_MARKET_OBJ_FULFILLMENT ||
                     o == KUMO_MARKET_OBJ_LEASE;
    bool bid_like = o == KUMO_MARKET_OBJ_FULFILLMENT || o == KUMO_MARKET_OBJ_LEASE;
    bool has_owner = has_state || o == KUMO_MARKET_OBJ_ACCOUNT || o == KUMO_MARKET_OBJ_GRANT;
    KUMO_ENSURE(q->grantee == NULL || o == KUMO_MARKET_OBJ_GRANT, err, KUMO_EINVAL,
                "grantee filter not supported");
    KUMO_ENSURE(q->owner == NULL || has_owner, err, KUMO_EINVAL, "owner filter not supported");
    KUMO_ENSURE(q->dseq == 0 || (has_state && q->owner != NULL), err, KUMO_EINVAL,
                "dseq filter needs an owner");
    KUMO_ENSURE(q->state == 0 || has_state, err, KUMO_EINVAL, "state filter not supported");
    KUMO_ENSURE(q->state <= UINT8_MAX, err, KUMO_EINVAL, "state %u out of range", q->state);
    KUMO_ENSURE(q->provider == NULL || bid_like || o == KUMO_MARKET_OBJ_PROVIDER ||
                    o == KUMO_MARKET_OBJ_AUDIT,
                err, KUMO_EINVAL, "provider filter not supported");
    KUMO_ENSURE(q->order == NULL || bid_like || o == KUMO_MARKET_OBJ_ORDER, err, KUMO_EINVAL,
                "order filter not supported");
    if (q->order != NULL) {
        KUMO_GUARD(kumo_bank_address_validate(q->order->owner, "order filter", err));
    }
    return 0;
}

/* Appends the owner/dseq or order part of a key under a deployment-scoped prefix. */
static void plan_scope(query_plan_t *p, const kumo_market_query_t *q)
{
    if (q->order != NULL) {
        kumo_market_oid_t oid;
        kumo_market_oid_from_msg(q->order, &oid);
        kumo_market_key_put_order_body(&p->prefix, &oid);
        return;
    }
    if (q->owner != NULL) {
        kumo_market_key_put_addr(&p->prefix, q->owner);
        if (q->dseq != 0) {
            kumo_market_key_put_u64(&p->prefix, q->dseq);
        }
    }
}

static uint32_t object_state(const ProtobufCMessage *obj);

/* Grants live at granter ‖ grantee ‖ dseq: a grantee alone is filtered while scanning. */
static void plan_grants(query_plan_t *p, const kumo_market_query_t *q)
{
    if (q->owner == NULL) {
        p->residual_grantee = q->grantee;
        return;
    }
    kumo_market_key_put_addr(&p->prefix, q->owner);
    if (q->grantee != NULL) {
        kumo_market_key_put_addr(&p->prefix, q->grantee);
    }
}

static bool object_passes(const query_plan_t *p, const ProtobufCMessage *obj)
{
    if (p->residual_grantee != NULL) {
        const Kumo__Grant *g = (const Kumo__Grant *)obj;
        return g->grantee.len == KUMO_ADDRESS_BYTES &&
               memcmp(g->grantee.data, p->residual_grantee, KUMO_ADDRESS_BYTES) == 0;
    }
    return p->residual_state == 0 || object_state(obj) == p->residual_state;
}

static void plan_make(query_plan_t *p, const kumo_market_query_t *q)
{
    memset(p, 0, sizeof(*p));
    p->desc = object_desc(q->object, &p->obj_prefix);
    KUMO_ASSERT(p->desc != NULL);
    if (q->order != NULL &&
        ((q->owner != NULL && memcmp(q->owner, q->order->owner.data, KUMO_ADDRESS_BYTES) != 0) ||
         (q->dseq != 0 && q->dseq != q->order->dseq))) {
        p->empty = true;
    }
    bool bid_like = q->object == KUMO_MARKET_OBJ_FULFILLMENT || q->object == KUMO_MARKET_OBJ_LEASE;
    if (bid_like && q->provider != NULL) {
        p->index = INDEX_PROVIDER;
        kumo_market_key_init(&p->prefix, q->object == KUMO_MARKET_OBJ_LEASE
                                             ? KUMO_MARKET_PREFIX_LEASE_BY_PROV
                                             : KUMO_MARKET_PREFIX_BID_BY_PROV);
        kumo_market_key_put_addr(&p->prefix, q->provider);
        plan_scope(p, q);
        p->residual_state = q->state;
        return;
    }
    if (q->state != 0) {
        p->index = INDEX_STATE;
        kumo_market_key_init(&p->prefix, KUMO_MARKET_PREFIX_STATE);
        kumo_market_key_put_u8(&p->prefix, (uint8_t)q->state);
        kumo_market_key_put_u8(&p->prefix, p->obj_prefix);
        plan_scope(p, q);
        return;
    }
    p->index = INDEX_NONE;
    kumo_market_key_init(&p->prefix, p->obj_prefix);
    if (q->object == KUMO_MARKET_OBJ_GRANT) {
        plan_grants(p, q);
        return;
    }
    bool by_provider = q->object == KUMO_MARKET_OBJ_PROVIDER || q->object == KUMO_MARKET_OBJ_AUDIT;
    if (by_provider && q->provider != NULL) {
        kumo_market_key_put_addr(&p->prefix, q->provider);
    } else if (q->object != KUMO_MARKET_OBJ_VALIDATOR && q->object != KUMO_MARKET_OBJ_AUDIT) {
        plan_scope(p, q);
    }
}

/* The object key an index entry points at. */
static int index_target(const query_run_t *qr, kumo_bytes_t key, kumo_market_key_t *obj)
{
    const query_plan_t *p = qr->plan;
    if (p->index == INDEX_STATE) {
        KUMO_ENSURE(key.len > 2 && key.len - 2 <= KUMO_MARKET_KEY_BYTES, qr->err, KUMO_ECORRUPT,
                    "state index key of %zu bytes", key.len);
        obj->len = 0;
        kumo_market_key_put_raw(obj, key.ptr + 2, key.len - 2);
        return 0;
    }
    KUMO_ASSERT(p->index == INDEX_PROVIDER);
    KUMO_ENSURE(key.len == 1 + KUMO_MARKET_LEASE_BODY_BYTES, qr->err, KUMO_ECORRUPT,
                "provider index key of %zu bytes", key.len);
    kumo_market_key_init(obj, p->obj_prefix);
    kumo_market_key_put_raw(obj, key.ptr + 1 + KUMO_ADDRESS_BYTES, KUMO_MARKET_ORDER_BODY_BYTES);
    kumo_market_key_put_raw(obj, key.ptr + 1, KUMO_ADDRESS_BYTES);
    return 0;
}

static uint32_t object_state(const ProtobufCMessage *obj)
{
    if (obj->descriptor == &kumo__fulfillment__descriptor) {
        return (uint32_t)((const Kumo__Fulfillment *)obj)->state;
    }
    KUMO_ASSERT(obj->descriptor == &kumo__lease__descriptor);
    return (uint32_t)((const Kumo__Lease *)obj)->state;
}

static int next_key_set(query_run_t *qr, kumo_bytes_t key, bool successor)
{
    kumo_buf_reset(qr->next_key);
    KUMO_GUARD(kumo_buf_append(qr->next_key, key.ptr, key.len));
    if (successor) {
        /* key || 0x00 is the smallest key after key. */
        uint8_t zero = 0;
        KUMO_GUARD(kumo_buf_append(qr->next_key, &zero, 1));
    }
    return 0;
}

static int query_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    query_run_t *qr = ctx;
    if (qr->emitted == qr->limit || qr->visited == KUMO_MARKET_QUERY_SCAN_COUNT_MAX) {
        KUMO_GUARD(next_key_set(qr, key, false));
        return 1;
    }
    qr->visited++;
    kumo_bytes_t bytes = val;
    if (qr->plan->index != INDEX_NONE) {
        kumo_market_key_t obj;
        KUMO_GUARD(index_target(qr, key, &obj));
        int rc = kumo_market_kv_get(qr->kv, &obj, &bytes, qr->err);
        if (rc == KUMO_ENOTFOUND) {
            return kumo_err_set(qr->err, KUMO_ECORRUPT, "index entry without its object");
        }
        KUMO_GUARD(rc);
    }
    ProtobufCMessage *obj = NULL;
    KUMO_GUARD(kumo_market_obj_decode(qr->plan->desc, bytes, &obj, qr->err));
    int rc = 0;
    if (object_passes(qr->plan, obj)) {
        rc = qr->cb(qr->cb_ctx, obj);
        qr->emitted++;
    }
    kumo_market_obj_free(obj);
    if (rc < 0) {
        return kumo_err_set(qr->err, rc, "query callback failed");
    }
    if (rc > 0) {
        KUMO_GUARD(next_key_set(qr, key, true));
        return 1;
    }
    return 0;
}

int kumo_market_query_run(const kumo_kv_t *kv,
                          const kumo_market_query_t *q,
                          kumo_market_object_cb cb,
                          void *cb_ctx,
                          kumo_buf_t *next_key_out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && q != NULL && cb != NULL && next_key_out != NULL);
    uint8_t obj_prefix;
    KUMO_ENSURE(object_desc(q->object, &obj_prefix) != NULL, err, KUMO_EINVAL, "unknown object %d",
                (int)q->object);
    KUMO_ENSURE(q->limit > 0, err, KUMO_EINVAL, "limit is 0");
    KUMO_ENSURE(q->limit <= KUMO_QUERY_PAGE_COUNT_MAX, err, KUMO_ELIMIT, "limit %u exceeds %u",
                q->limit, KUMO_QUERY_PAGE_COUNT_MAX);
    KUMO_GUARD(filters_check(q, err));
    query_plan_t plan;
    plan_make(&plan, q);
    kumo_bytes_t prefix = kumo_market_key_bytes(&plan.prefix);
    KUMO_ENSURE(q->page_key.len <= KUMO_KEY_BYTES_MAX, err, KUMO_EINVAL, "page key of %zu bytes",
                q->page_key.len);
    KUMO_ENSURE(q->page_key.len == 0 || kumo_bytes_has_prefix(q->page_key, prefix), err,
                KUMO_EINVAL, "page key is not from this query");
    kumo_buf_reset(next_key_out);
    if (plan.empty) {
        return 0;
    }
    query_run_t qr = {
        .kv = kv,
        .plan = &plan,
        .limit = q->limit,
        .cb = cb,
        .cb_ctx = cb_ctx,
        .next_key = next_key_out,
        .err = err,
    };
    return kv->scan(kv->ctx, prefix, q->page_key, query_cb, &qr, err);
}
