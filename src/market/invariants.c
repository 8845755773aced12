/*
 * invariants.c - checks the whole market state against its own bookkeeping, for tests and
 * audits (O(n log n) in the state size; never called by msgs):
 *   supply == sum of balances + escrow_total + collateral_total + fee_pool;
 *   escrow_total, collateral_total, minted_interest equal the sums they summarise;
 *   bid_count, open_bid_count, live_lease_count, unreleased_lease_count and group_count equal
 *   what they count; objects reference each other consistently (an open order under an active
 *   deployment and a live group, an active lease as its group's lease, ...);
 *   every index (0x20..0x25) holds exactly the keys its objects imply.
 * Everything is loaded into sorted arrays by prefix scans (scan order is key order), then
 * joined by binary search. Violations are KUMO_ECORRUPT with a detail. Pure.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "market/market_int.h"

typedef unsigned __int128 u128_t;

/* Every row starts with its store key, so one comparator sorts and searches them all. */
typedef struct row_provider {
    kumo_market_key_t key;
    uint32_t open_bid_count;
    uint32_t live_lease_count;
    uint32_t bids_seen;
    uint32_t leases_seen;
} row_provider_t;

typedef struct row_deployment {
    kumo_market_key_t key;
    Kumo__DeploymentState state;
    uint64_t escrow;
    uint64_t closing_height;
    uint32_t group_count;
    uint32_t unreleased;
    uint32_t groups_seen;
    uint32_t unreleased_seen;
} row_deployment_t;

typedef struct row_group {
    kumo_market_key_t key;
    Kumo__GroupState state;
    uint32_t oseq;
    uint32_t lease_oseq;
    bool has_lease_provider;
    uint8_t lease_provider[KUMO_ADDRESS_BYTES];
} row_group_t;

typedef struct row_order {
    kumo_market_key_t key;
    Kumo__OrderState state;
    uint64_t match_height;
    uint32_t bid_count;
    uint32_t bids_seen;
} row_order_t;

typedef struct row_bid {
    kumo_market_key_t key;
    uint32_t state;
    uint64_t collateral;
    uint64_t bid_seq;
    uint64_t last_confirmed;
    uint64_t interest_paid;
} row_bid_t;

typedef struct table {
    void *rows;
    size_t count;
    size_t cap;
    size_t row_bytes;
} table_t;

typedef struct inv {
    const kumo_kv_t *kv;
    Kumo__Params *params;
    Kumo__Global *global;
    u128_t balances;
    table_t providers;
    table_t deployments;
    table_t groups;
    table_t orders;
    table_t fulfillments;
    table_t leases;
    table_t index_actual;   /* kumo_market_key_t rows: every key of 0x20..0x25 */
    table_t index_expected; /* the keys the objects imply */
    kumo_err_ctx_t *err;
} inv_t;

static void *table_push(table_t *t, kumo_err_ctx_t *err, int *rc)
{
    if (t->count == t->cap) {
        size_t cap = t->cap == 0 ? 64 : t->cap * 2;
        void *p = kumo_realloc(t->rows, cap * t->row_bytes);
        if (p == NULL) {
            *rc = kumo_err_set(err, KUMO_ENOMEM, "invariants: %zu rows", cap);
            return NULL;
        }
        t->rows = p;
        t->cap = cap;
    }
    void *row = (uint8_t *)t->rows + t->count * t->row_bytes;
    memset(row, 0, t->row_bytes);
    t->count++;
    *rc = 0;
    return row;
}

static void *table_at(const table_t *t, size_t i)
{
    KUMO_ASSERT(i < t->count);
    return (uint8_t *)t->rows + i * t->row_bytes;
}

static int key_row_compare(const void *a, const void *b)
{
    const kumo_market_key_t *x = a;
    const kumo_market_key_t *y = b;
    return kumo_bytes_compare(kumo_market_key_bytes(x), kumo_market_key_bytes(y));
}

static void *table_find(const table_t *t, const kumo_market_key_t *k)
{
    return t->count == 0 ? NULL : bsearch(k, t->rows, t->count, t->row_bytes, key_row_compare);
}

static void key_set(kumo_market_key_t *k, kumo_bytes_t b)
{
    KUMO_ASSERT(b.len <= sizeof(k->bytes));
    memcpy(k->bytes, b.ptr, b.len);
    k->len = (uint32_t)b.len;
}

static int expect(inv_t *inv, const kumo_market_key_t *k)
{
    int rc = 0;
    kumo_market_key_t *row = table_push(&inv->index_expected, inv->err, &rc);
    if (row != NULL) {
        *row = *k;
    }
    return rc;
}

static int expect_state(inv_t *inv, uint32_t state, const kumo_market_key_t *obj)
{
    KUMO_ENSURE(state > 0 && state <= UINT8_MAX, inv->err, KUMO_ECORRUPT, "object with state %u",
                state);
    kumo_market_key_t k;
    kumo_market_key_state(&k, state, obj);
    return expect(inv, &k);
}

/* ---- loading -------------------------------------------------------------------------------- */

typedef int (*load_row_fn)(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj);

typedef struct load_ctx {
    inv_t *inv;
    const ProtobufCMessageDescriptor *desc;
    load_row_fn fn;
} load_ctx_t;

static int load_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    load_ctx_t *lc = ctx;
    KUMO_ENSURE(key.len <= KUMO_MARKET_KEY_BYTES, lc->inv->err, KUMO_ECORRUPT, "key of %zu bytes",
                key.len);
    ProtobufCMessage *obj = NULL;
    KUMO_GUARD(kumo_market_obj_decode(lc->desc, val, &obj, lc->inv->err));
    int rc = lc->fn(lc->inv, key, obj);
    kumo_market_obj_free(obj);
    return rc;
}

static int load(inv_t *inv, uint8_t prefix, const ProtobufCMessageDescriptor *desc, load_row_fn fn)
{
    load_ctx_t lc = {.inv = inv, .desc = desc, .fn = fn};
    return inv->kv->scan(inv->kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0),
                         load_cb, &lc, inv->err);
}

static int load_account(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Account *a = (const Kumo__Account *)obj;
    kumo_market_key_t want;
    KUMO_ENSURE(a->address.len == KUMO_ADDRESS_BYTES, inv->err, KUMO_ECORRUPT,
                "account address length");
    kumo_market_key_account(&want, a->address.data);
    KUMO_ENSURE(kumo_bytes_equal(key, kumo_market_key_bytes(&want)), inv->err, KUMO_ECORRUPT,
                "account under a foreign key");
    inv->balances += a->balance;
    return 0;
}

/* A grant sits under its own granter, grantee and dseq, never grants to its granter, allows
 * 1..4 msg types and has moved no more than its limit. */
static int load_grant(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Grant *g = (const Kumo__Grant *)obj;
    KUMO_ENSURE(g->granter.len == KUMO_ADDRESS_BYTES && g->grantee.len == KUMO_ADDRESS_BYTES,
                inv->err, KUMO_ECORRUPT, "grant address length");
    kumo_market_key_t want;
    kumo_market_key_grant(&want, g->granter.data, g->grantee.data, g->dseq);
    KUMO_ENSURE(kumo_bytes_equal(key, kumo_market_key_bytes(&want)), inv->err, KUMO_ECORRUPT,
                "grant under a foreign key");
    KUMO_ENSURE(memcmp(g->granter.data, g->grantee.data, KUMO_ADDRESS_BYTES) != 0, inv->err,
                KUMO_ECORRUPT, "grant to its own granter");
    KUMO_ENSURE(g->n_msg_types >= 1 && g->n_msg_types <= KUMO_GRANT_MSG_TYPE_COUNT_MAX, inv->err,
                KUMO_ECORRUPT, "grant of %zu msg types", g->n_msg_types);
    KUMO_ENSURE(g->spend_used <= g->spend_limit, inv->err, KUMO_ECORRUPT,
                "grant spent %" PRIu64 " over its limit %" PRIu64, g->spend_used, g->spend_limit);
    return 0;
}

static int load_provider(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Provider *p = (const Kumo__Provider *)obj;
    int rc = 0;
    row_provider_t *row = table_push(&inv->providers, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(&row->key, key);
    row->open_bid_count = p->open_bid_count;
    row->live_lease_count = p->live_lease_count;
    return 0;
}

static int load_deployment(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Deployment *d = (const Kumo__Deployment *)obj;
    int rc = 0;
    row_deployment_t *row = table_push(&inv->deployments, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(&row->key, key);
    row->state = d->state;
    row->escrow = d->escrow;
    row->closing_height = d->closing_height;
    row->group_count = d->group_count;
    row->unreleased = d->unreleased_lease_count;
    KUMO_GUARD(expect_state(inv, (uint32_t)d->state, &row->key));
    if (d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING) {
        uint64_t due;
        KUMO_ENSURE(kumo_market_deployment_due_height(d, inv->params->release_timeout, &due) == 0,
                    inv->err, KUMO_ECORRUPT, "closing due height overflows");
        kumo_market_key_t k;
        kumo_market_key_closing(&k, due, d->owner.data, d->dseq);
        KUMO_GUARD(expect(inv, &k));
    }
    KUMO_ENSURE(d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED || d->escrow == 0, inv->err,
                KUMO_ECORRUPT, "closed deployment holds escrow");
    /* An ending deployment says why (its tenant or its escrow) and since when. */
    bool active = d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE;
    bool reason_ok = active
                         ? d->close_reason == KUMO__CLOSE_REASON__CLOSE_REASON_NONE
                         : (d->close_reason == KUMO__CLOSE_REASON__CLOSE_REASON_TENANT ||
                            d->close_reason == KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS);
    KUMO_ENSURE(d->escrow_warn_blocks <= KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX &&
                    (!d->escrow_low || d->escrow_warn_blocks > 0),
                inv->err, KUMO_ECORRUPT, "escrow warning %" PRIu64 " (low %d)",
                d->escrow_warn_blocks, (int)d->escrow_low);
    KUMO_ENSURE(reason_ok && active == (d->closing_height == 0), inv->err, KUMO_ECORRUPT,
                "deployment close reason %d at %" PRIu64 " in state %d", (int)d->close_reason,
                d->closing_height, (int)d->state);
    return 0;
}

static int load_group(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Group *g = (const Kumo__Group *)obj;
    int rc = 0;
    row_group_t *row = table_push(&inv->groups, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(&row->key, key);
    row->state = g->state;
    row->oseq = g->oseq;
    row->lease_oseq = g->lease_oseq;
    row->has_lease_provider = g->lease_provider.len == KUMO_ADDRESS_BYTES;
    /* A closed group says why and when; a live one has neither. */
    bool closed = g->state == KUMO__GROUP_STATE__GROUP_CLOSED;
    KUMO_ENSURE(closed == (g->close_reason != KUMO__CLOSE_REASON__CLOSE_REASON_NONE) &&
                    closed == (g->closed_height != 0),
                inv->err, KUMO_ECORRUPT, "group close reason %d at %" PRIu64 " in state %d",
                (int)g->close_reason, g->closed_height, (int)g->state);
    if (row->has_lease_provider) {
        memcpy(row->lease_provider, g->lease_provider.data, KUMO_ADDRESS_BYTES);
    }
    return expect_state(inv, (uint32_t)g->state, &row->key);
}

static int load_order(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Order *o = (const Kumo__Order *)obj;
    int rc = 0;
    row_order_t *row = table_push(&inv->orders, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(&row->key, key);
    row->state = o->state;
    row->match_height = o->match_height;
    row->bid_count = o->bid_count;
    KUMO_GUARD(expect_state(inv, (uint32_t)o->state, &row->key));
    /* A closed order says why and when; an open or matched one has neither. */
    bool closed = o->state == KUMO__ORDER_STATE__ORDER_CLOSED;
    KUMO_ENSURE(closed == (o->close_reason != KUMO__CLOSE_REASON__CLOSE_REASON_NONE) &&
                    closed == (o->closed_height != 0),
                inv->err, KUMO_ECORRUPT, "order close reason %d at %" PRIu64 " in state %d",
                (int)o->close_reason, o->closed_height, (int)o->state);
    if (o->state == KUMO__ORDER_STATE__ORDER_OPEN && o->bid_count > 0) {
        KUMO_ENSURE(key.len == 1 + KUMO_MARKET_ORDER_BODY_BYTES, inv->err, KUMO_ECORRUPT,
                    "order key length");
        kumo_market_oid_t oid;
        kumo_market_oid_from_body(key.ptr + 1, &oid);
        kumo_market_key_t k;
        kumo_market_key_match(&k, o->match_height, &oid);
        KUMO_GUARD(expect(inv, &k));
    }
    return 0;
}

/* Fulfillments and leases: key = prefix, order body, provider. */
static int
bid_row_push(inv_t *inv, table_t *t, kumo_bytes_t key, uint8_t by_provider_prefix, row_bid_t **out)
{
    KUMO_ENSURE(key.len == 1 + KUMO_MARKET_LEASE_BODY_BYTES, inv->err, KUMO_ECORRUPT,
                "bid/lease key length");
    int rc = 0;
    row_bid_t *row = table_push(t, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(&row->key, key);
    kumo_market_oid_t oid;
    kumo_market_oid_from_body(key.ptr + 1, &oid);
    kumo_market_key_t k;
    kumo_market_key_init(&k, by_provider_prefix);
    kumo_market_key_put_addr(&k, key.ptr + 1 + KUMO_MARKET_ORDER_BODY_BYTES);
    kumo_market_key_put_order_body(&k, &oid);
    KUMO_GUARD(expect(inv, &k));
    *out = row;
    return 0;
}

static int load_fulfillment(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Fulfillment *f = (const Kumo__Fulfillment *)obj;
    row_bid_t *row = NULL;
    KUMO_GUARD(bid_row_push(inv, &inv->fulfillments, key, KUMO_MARKET_PREFIX_BID_BY_PROV, &row));
    row->state = (uint32_t)f->state;
    row->collateral = f->collateral_total;
    row->bid_seq = f->bid_seq;
    KUMO_ENSURE(f->bid_seq < inv->global->next_bid_seq, inv->err, KUMO_ECORRUPT,
                "bid_seq %" PRIu64 " not below next_bid_seq", f->bid_seq);
    return expect_state(inv, row->state, &row->key);
}

static int load_lease(inv_t *inv, kumo_bytes_t key, const ProtobufCMessage *obj)
{
    const Kumo__Lease *l = (const Kumo__Lease *)obj;
    row_bid_t *row = NULL;
    KUMO_GUARD(bid_row_push(inv, &inv->leases, key, KUMO_MARKET_PREFIX_LEASE_BY_PROV, &row));
    row->state = (uint32_t)l->state;
    row->collateral = l->collateral_total;
    row->last_confirmed = l->last_confirmed_height;
    row->interest_paid = l->interest_paid;
    KUMO_GUARD(expect_state(inv, row->state, &row->key));
    KUMO_ENSURE(l->confirmed_version.len == 0 || l->confirmed_version.len == KUMO_VERSION_BYTES,
                inv->err, KUMO_ECORRUPT, "lease confirmed_version of %zu bytes",
                l->confirmed_version.len);
    /* Every lease that is no longer active says why; an active one does not. Only a stale
     * lease is stale, and a refusal, a provider's close or staleness ends a lease at once. */
    bool active = l->state == KUMO__LEASE_STATE__LEASE_ACTIVE;
    bool stale = l->state == KUMO__LEASE_STATE__LEASE_STALE;
    Kumo__CloseReason why = l->close_reason;
    KUMO_ENSURE(active == (why == KUMO__CLOSE_REASON__CLOSE_REASON_NONE) &&
                    stale == (why == KUMO__CLOSE_REASON__CLOSE_REASON_STALE) &&
                    (why != KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED ||
                     l->state == KUMO__LEASE_STATE__LEASE_CLOSED) &&
                    (why != KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED ||
                     l->state == KUMO__LEASE_STATE__LEASE_CLOSED),
                inv->err, KUMO_ECORRUPT, "lease close reason %d in state %d", (int)why,
                (int)l->state);
    if (l->state == KUMO__LEASE_STATE__LEASE_ACTIVE) {
        uint64_t h;
        KUMO_ENSURE(kumo_market_lease_stale_height(l, inv->params->reconfirmation_period, &h) == 0,
                    inv->err, KUMO_ECORRUPT, "stale height overflows");
        kumo_market_oid_t oid;
        kumo_market_oid_from_body(key.ptr + 1, &oid);
        kumo_market_key_t k;
        kumo_market_key_stale(&k, h, &oid, key.ptr + 1 + KUMO_MARKET_ORDER_BODY_BYTES);
        KUMO_GUARD(expect(inv, &k));
    }
    return 0;
}

static int index_cb(void *ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    inv_t *inv = ctx;
    KUMO_ENSURE(val.len == 0, inv->err, KUMO_ECORRUPT, "index entry with a value");
    KUMO_ENSURE(key.len <= KUMO_MARKET_KEY_BYTES, inv->err, KUMO_ECORRUPT, "index key of %zu bytes",
                key.len);
    int rc = 0;
    kumo_market_key_t *row = table_push(&inv->index_actual, inv->err, &rc);
    KUMO_GUARD(rc);
    key_set(row, key);
    return 0;
}

static int load_all(inv_t *inv)
{
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_ACCOUNT, &kumo__account__descriptor, load_account));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_PROVIDER, &kumo__provider__descriptor, load_provider));
    KUMO_GUARD(
        load(inv, KUMO_MARKET_PREFIX_DEPLOYMENT, &kumo__deployment__descriptor, load_deployment));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_GROUP, &kumo__group__descriptor, load_group));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_ORDER, &kumo__order__descriptor, load_order));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_FULFILLMENT, &kumo__fulfillment__descriptor,
                    load_fulfillment));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_LEASE, &kumo__lease__descriptor, load_lease));
    KUMO_GUARD(load(inv, KUMO_MARKET_PREFIX_GRANT, &kumo__grant__descriptor, load_grant));
    for (uint8_t p = KUMO_MARKET_PREFIX_MATCH; p <= KUMO_MARKET_PREFIX_STATE; p++) {
        KUMO_GUARD(inv->kv->scan(inv->kv->ctx, kumo_bytes_make(&p, 1), kumo_bytes_make(NULL, 0),
                                 index_cb, inv, inv->err));
    }
    return 0;
}

/* ---- joins ---------------------------------------------------------------------------------- */

static row_deployment_t *deployment_of(const inv_t *inv, const uint8_t *body)
{
    kumo_market_key_t k;
    kumo_market_key_init(&k, KUMO_MARKET_PREFIX_DEPLOYMENT);
    kumo_market_key_put_raw(&k, body, KUMO_MARKET_DEP_BODY_BYTES);
    return table_find(&inv->deployments, &k);
}

static row_group_t *group_of(const inv_t *inv, const uint8_t *body)
{
    kumo_market_key_t k;
    kumo_market_key_init(&k, KUMO_MARKET_PREFIX_GROUP);
    kumo_market_key_put_raw(&k, body, KUMO_MARKET_GROUP_BODY_BYTES);
    return table_find(&inv->groups, &k);
}

static row_order_t *order_of(const inv_t *inv, const uint8_t *body)
{
    kumo_market_key_t k;
    kumo_market_key_init(&k, KUMO_MARKET_PREFIX_ORDER);
    kumo_market_key_put_raw(&k, body, KUMO_MARKET_ORDER_BODY_BYTES);
    return table_find(&inv->orders, &k);
}

static row_provider_t *provider_of(const inv_t *inv, const uint8_t *addr)
{
    kumo_market_key_t k;
    kumo_market_key_provider(&k, addr);
    return table_find(&inv->providers, &k);
}

static int check_groups(inv_t *inv)
{
    for (size_t i = 0; i < inv->groups.count; i++) {
        row_group_t *g = table_at(&inv->groups, i);
        const uint8_t *body = g->key.bytes + 1;
        row_deployment_t *d = deployment_of(inv, body);
        KUMO_ENSURE(d != NULL, inv->err, KUMO_ECORRUPT, "group without deployment");
        d->groups_seen++;
        KUMO_ENSURE(g->state == KUMO__GROUP_STATE__GROUP_CLOSED ||
                        d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE,
                    inv->err, KUMO_ECORRUPT, "live group in a deployment that is not active");
        kumo_market_key_t ok;
        kumo_market_key_init(&ok, KUMO_MARKET_PREFIX_ORDER);
        kumo_market_key_put_raw(&ok, body, KUMO_MARKET_GROUP_BODY_BYTES);
        kumo_market_key_put_u32(&ok, g->oseq);
        row_order_t *o = table_find(&inv->orders, &ok);
        KUMO_ENSURE(o != NULL, inv->err, KUMO_ECORRUPT, "group's latest order missing");
        bool open_wanted =
            g->state == KUMO__GROUP_STATE__GROUP_OPEN ||
            (g->state == KUMO__GROUP_STATE__GROUP_ACTIVE && g->oseq != g->lease_oseq);
        KUMO_ENSURE(open_wanted == (o->state == KUMO__ORDER_STATE__ORDER_OPEN), inv->err,
                    KUMO_ECORRUPT, "group state %d disagrees with its latest order state %d",
                    (int)g->state, (int)o->state);
        KUMO_ENSURE((g->state == KUMO__GROUP_STATE__GROUP_ACTIVE) == g->has_lease_provider,
                    inv->err, KUMO_ECORRUPT, "group lease provider disagrees with its state");
    }
    return 0;
}

static int check_orders(inv_t *inv)
{
    for (size_t i = 0; i < inv->orders.count; i++) {
        row_order_t *o = table_at(&inv->orders, i);
        row_group_t *g = group_of(inv, o->key.bytes + 1);
        KUMO_ENSURE(g != NULL, inv->err, KUMO_ECORRUPT, "order without group");
        uint32_t oseq = kumo_be32_get(o->key.bytes + 1 + KUMO_MARKET_GROUP_BODY_BYTES);
        KUMO_ENSURE(oseq >= 1 && oseq <= g->oseq, inv->err, KUMO_ECORRUPT,
                    "order oseq beyond its group's");
        KUMO_ENSURE(o->state != KUMO__ORDER_STATE__ORDER_OPEN || oseq == g->oseq, inv->err,
                    KUMO_ECORRUPT, "open order is not its group's latest");
    }
    return 0;
}

static int check_fulfillments(inv_t *inv, u128_t *collateral)
{
    for (size_t i = 0; i < inv->fulfillments.count; i++) {
        row_bid_t *f = table_at(&inv->fulfillments, i);
        const uint8_t *provider = f->key.bytes + 1 + KUMO_MARKET_ORDER_BODY_BYTES;
        row_order_t *o = order_of(inv, f->key.bytes + 1);
        KUMO_ENSURE(o != NULL, inv->err, KUMO_ECORRUPT, "fulfillment without order");
        if (f->state == KUMO__FULFILLMENT_STATE__FULFILLMENT_OPEN) {
            KUMO_ENSURE(o->state == KUMO__ORDER_STATE__ORDER_OPEN, inv->err, KUMO_ECORRUPT,
                        "open bid on an order that is not open");
            o->bids_seen++;
            row_provider_t *p = provider_of(inv, provider);
            KUMO_ENSURE(p != NULL, inv->err, KUMO_ECORRUPT, "open bid without provider");
            p->bids_seen++;
            *collateral += f->collateral;
            continue;
        }
        KUMO_ENSURE(f->state == KUMO__FULFILLMENT_STATE__FULFILLMENT_MATCHED, inv->err,
                    KUMO_ECORRUPT, "fulfillment state %u", f->state);
        KUMO_ENSURE(o->state == KUMO__ORDER_STATE__ORDER_MATCHED ||
                        o->state == KUMO__ORDER_STATE__ORDER_CLOSED,
                    inv->err, KUMO_ECORRUPT, "matched bid on an open order");
        kumo_market_key_t lk = f->key;
        lk.bytes[0] = KUMO_MARKET_PREFIX_LEASE;
        KUMO_ENSURE(table_find(&inv->leases, &lk) != NULL, inv->err, KUMO_ECORRUPT,
                    "matched bid without lease");
    }
    return 0;
}

static int check_live_lease(inv_t *inv, const row_bid_t *l, row_deployment_t *d)
{
    const uint8_t *provider = l->key.bytes + 1 + KUMO_MARKET_ORDER_BODY_BYTES;
    d->unreleased_seen++;
    row_provider_t *p = provider_of(inv, provider);
    KUMO_ENSURE(p != NULL, inv->err, KUMO_ECORRUPT, "live lease without provider");
    p->leases_seen++;
    if (l->state == KUMO__LEASE_STATE__LEASE_CLOSING) {
        KUMO_ENSURE(d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED, inv->err, KUMO_ECORRUPT,
                    "closing lease in a closed deployment");
        return 0;
    }
    KUMO_ENSURE(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_ACTIVE, inv->err, KUMO_ECORRUPT,
                "active lease in a deployment that is not active");
    row_group_t *g = group_of(inv, l->key.bytes + 1);
    uint32_t oseq = kumo_be32_get(l->key.bytes + 1 + KUMO_MARKET_GROUP_BODY_BYTES);
    KUMO_ENSURE(g != NULL && g->state == KUMO__GROUP_STATE__GROUP_ACTIVE && g->lease_oseq == oseq &&
                    memcmp(g->lease_provider, provider, KUMO_ADDRESS_BYTES) == 0,
                inv->err, KUMO_ECORRUPT, "active lease is not its group's lease");
    return 0;
}

static int check_leases(inv_t *inv, u128_t *collateral, u128_t *interest)
{
    for (size_t i = 0; i < inv->leases.count; i++) {
        row_bid_t *l = table_at(&inv->leases, i);
        *interest += l->interest_paid;
        row_order_t *o = order_of(inv, l->key.bytes + 1);
        KUMO_ENSURE(o != NULL && o->state != KUMO__ORDER_STATE__ORDER_OPEN, inv->err, KUMO_ECORRUPT,
                    "lease without a matched order");
        row_deployment_t *d = deployment_of(inv, l->key.bytes + 1);
        KUMO_ENSURE(d != NULL, inv->err, KUMO_ECORRUPT, "lease without deployment");
        kumo_market_key_t fk = l->key;
        fk.bytes[0] = KUMO_MARKET_PREFIX_FULFILLMENT;
        row_bid_t *f = table_find(&inv->fulfillments, &fk);
        KUMO_ENSURE(f != NULL && f->state == KUMO__FULFILLMENT_STATE__FULFILLMENT_MATCHED, inv->err,
                    KUMO_ECORRUPT, "lease without its matched fulfillment");
        if (l->state == KUMO__LEASE_STATE__LEASE_ACTIVE ||
            l->state == KUMO__LEASE_STATE__LEASE_CLOSING) {
            *collateral += l->collateral;
            KUMO_GUARD(check_live_lease(inv, l, d));
        }
    }
    return 0;
}

static int check_counters(inv_t *inv)
{
    for (size_t i = 0; i < inv->orders.count; i++) {
        row_order_t *o = table_at(&inv->orders, i);
        KUMO_ENSURE(o->bid_count == o->bids_seen, inv->err, KUMO_ECORRUPT,
                    "order bid_count %u, open bids %u", o->bid_count, o->bids_seen);
    }
    for (size_t i = 0; i < inv->providers.count; i++) {
        row_provider_t *p = table_at(&inv->providers, i);
        KUMO_ENSURE(p->open_bid_count == p->bids_seen, inv->err, KUMO_ECORRUPT,
                    "provider open_bid_count %u, open bids %u", p->open_bid_count, p->bids_seen);
        KUMO_ENSURE(p->live_lease_count == p->leases_seen, inv->err, KUMO_ECORRUPT,
                    "provider live_lease_count %u, live leases %u", p->live_lease_count,
                    p->leases_seen);
    }
    for (size_t i = 0; i < inv->deployments.count; i++) {
        row_deployment_t *d = table_at(&inv->deployments, i);
        KUMO_ENSURE(d->group_count == d->groups_seen, inv->err, KUMO_ECORRUPT,
                    "deployment group_count %u, groups %u", d->group_count, d->groups_seen);
        KUMO_ENSURE(d->unreleased == d->unreleased_seen, inv->err, KUMO_ECORRUPT,
                    "deployment unreleased_lease_count %u, live leases %u", d->unreleased,
                    d->unreleased_seen);
    }
    return 0;
}

static int check_totals(inv_t *inv, u128_t collateral, u128_t interest)
{
    const Kumo__Global *g = inv->global;
    u128_t escrow = 0;
    for (size_t i = 0; i < inv->deployments.count; i++) {
        escrow += ((row_deployment_t *)table_at(&inv->deployments, i))->escrow;
    }
    KUMO_ENSURE(escrow == g->escrow_total, inv->err, KUMO_ECORRUPT,
                "escrow_total %" PRIu64 " != sum of escrows", g->escrow_total);
    KUMO_ENSURE(collateral == g->collateral_total, inv->err, KUMO_ECORRUPT,
                "collateral_total %" PRIu64 " != locked collateral", g->collateral_total);
    KUMO_ENSURE(interest == g->minted_interest, inv->err, KUMO_ECORRUPT,
                "minted_interest %" PRIu64 " != interest paid on leases", g->minted_interest);
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(inv->kv, &t, inv->err));
    u128_t held = inv->balances + g->escrow_total + g->collateral_total + t.fee_pool;
    KUMO_ENSURE(t.supply <= KUMO_SUPPLY_MAX, inv->err, KUMO_ECORRUPT,
                "supply %" PRIu64 " over its ceiling", t.supply);
    KUMO_ENSURE(held == t.supply, inv->err, KUMO_ECORRUPT,
                "supply %" PRIu64 " != balances + escrow + collateral + fee pool (%" PRIu64 ")",
                t.supply, (uint64_t)held);
    return 0;
}

static int check_indexes(inv_t *inv)
{
    table_t *want = &inv->index_expected;
    table_t *have = &inv->index_actual;
    if (want->count > 1) {
        qsort(want->rows, want->count, want->row_bytes, key_row_compare);
    }
    size_t n = want->count < have->count ? want->count : have->count;
    for (size_t i = 0; i < n; i++) {
        const kumo_market_key_t *w = table_at(want, i);
        const kumo_market_key_t *h = table_at(have, i);
        KUMO_ENSURE(key_row_compare(w, h) == 0, inv->err, KUMO_ECORRUPT,
                    "index entry %zu: prefix 0x%02x expected, 0x%02x stored (len %u vs %u)", i,
                    w->bytes[0], h->bytes[0], w->len, h->len);
    }
    KUMO_ENSURE(want->count == have->count, inv->err, KUMO_ECORRUPT,
                "%zu index entries expected, %zu stored", want->count, have->count);
    return 0;
}

static int check_all(inv_t *inv)
{
    KUMO_GUARD(load_all(inv));
    u128_t collateral = 0;
    u128_t interest = 0;
    KUMO_GUARD(check_groups(inv));
    KUMO_GUARD(check_orders(inv));
    KUMO_GUARD(check_fulfillments(inv, &collateral));
    KUMO_GUARD(check_leases(inv, &collateral, &interest));
    KUMO_GUARD(check_counters(inv));
    KUMO_GUARD(check_totals(inv, collateral, interest));
    return check_indexes(inv);
}

int kumo_market_invariants_check(const kumo_kv_t *kv, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL);
    inv_t inv = {
        .kv = kv,
        .providers = {.row_bytes = sizeof(row_provider_t)},
        .deployments = {.row_bytes = sizeof(row_deployment_t)},
        .groups = {.row_bytes = sizeof(row_group_t)},
        .orders = {.row_bytes = sizeof(row_order_t)},
        .fulfillments = {.row_bytes = sizeof(row_bid_t)},
        .leases = {.row_bytes = sizeof(row_bid_t)},
        .index_actual = {.row_bytes = sizeof(kumo_market_key_t)},
        .index_expected = {.row_bytes = sizeof(kumo_market_key_t)},
        .err = err,
    };
    int rc = kumo_market_params_get(kv, &inv.params, err);
    if (rc == 0) {
        rc = kumo_market_global_get(kv, &inv.global, err);
    }
    if (rc == 0) {
        rc = check_all(&inv);
    }
    kumo_market_obj_free(inv.params);
    kumo_market_obj_free(inv.global);
    table_t *tables[] = {&inv.providers,    &inv.deployments,   &inv.groups,
                         &inv.orders,       &inv.fulfillments,  &inv.leases,
                         &inv.index_actual, &inv.index_expected};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(tables); i++) {
        kumo_free(tables[i]->rows);
    }
    return rc;
}
