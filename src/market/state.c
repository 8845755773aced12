/*
 * state.c - typed access to the market's state objects through kumo_kv_t: decode on get
 * (stored bytes that fail to decode or do not match their key are KUMO_ECORRUPT), pack on put,
 * and the secondary indexes (0x20..0x25) kept in step with every put. Owns the per-msg state
 * context (Global loaded once, written back on success). Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* ---- raw kv --------------------------------------------------------------------------------- */

int kumo_market_kv_get(const kumo_kv_t *kv,
                       const kumo_market_key_t *k,
                       kumo_bytes_t *val,
                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && k != NULL && val != NULL);
    return kv->get(kv->ctx, kumo_market_key_bytes(k), val, err);
}

int kumo_market_kv_put_empty(const kumo_kv_t *kv, const kumo_market_key_t *k, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && k != NULL);
    return kv->put(kv->ctx, kumo_market_key_bytes(k), kumo_bytes_make(NULL, 0), err);
}

int kumo_market_kv_del(const kumo_kv_t *kv, const kumo_market_key_t *k, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && k != NULL);
    return kv->del(kv->ctx, kumo_market_key_bytes(k), err);
}

int kumo_market_kv_has(const kumo_kv_t *kv,
                       const kumo_market_key_t *k,
                       bool *out,
                       kumo_err_ctx_t *err)
{
    kumo_bytes_t val;
    int rc = kumo_market_kv_get(kv, k, &val, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        *out = false;
        return 0;
    }
    KUMO_GUARD(rc);
    *out = true;
    return 0;
}

/* ---- generic objects ------------------------------------------------------------------------ */

int kumo_market_obj_decode(const ProtobufCMessageDescriptor *desc,
                           kumo_bytes_t val,
                           ProtobufCMessage **out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(desc != NULL && out != NULL);
    int rc = kumo_codec_unpack(desc, val, KUMO_STATE_OBJECT_BYTES_MAX, out, err);
    if (rc == KUMO_EDECODE || rc == KUMO_ELIMIT) {
        /* Our own stored bytes failing to decode is corruption, not bad input. */
        return kumo_err_set(err, KUMO_ECORRUPT, "stored %s does not decode (%s)", desc->name,
                            kumo_err_name(rc));
    }
    return rc;
}

int kumo_market_obj_get(const kumo_kv_t *kv,
                        const kumo_market_key_t *k,
                        const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage **out,
                        kumo_err_ctx_t *err)
{
    kumo_bytes_t val;
    int rc = kumo_market_kv_get(kv, k, &val, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "%s not found", desc->short_name);
    }
    KUMO_GUARD(rc);
    return kumo_market_obj_decode(desc, val, out, err);
}

int kumo_market_obj_put(const kumo_kv_t *kv,
                        kumo_buf_t *pack,
                        const kumo_market_key_t *k,
                        const ProtobufCMessage *obj,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && pack != NULL && obj != NULL);
    /* protobuf-c's own packer, not kumo_codec_pack: the codec's canonical check walks every
     * field on every write, and everything the market stores is already canonical (strings
     * checked as UTF-8 by validate_basic, enums and ids set by this module). Debug builds
     * prove it by decoding each write back through the codec. */
    size_t bytes = protobuf_c_message_get_packed_size(obj);
    kumo_buf_reset(pack);
    KUMO_GUARD(kumo_buf_reserve(pack, bytes));
    if (bytes > 0) {
        size_t wrote = protobuf_c_message_pack(obj, pack->ptr);
        KUMO_ASSERT(wrote == bytes);
    }
    pack->len = bytes;
    KUMO_ASSERT(pack->len <= KUMO_STATE_OBJECT_BYTES_MAX);
#ifdef KUMO_ASSERT_SLOW_ENABLED
    ProtobufCMessage *back = NULL;
    int back_rc = kumo_codec_unpack(obj->descriptor, kumo_buf_bytes(pack),
                                    KUMO_STATE_OBJECT_BYTES_MAX, &back, NULL);
    /* Out of memory (fault injection) proves nothing either way; anything else is a bug. */
    KUMO_ASSERT(back_rc == 0 || back_rc == KUMO_ENOMEM);
    kumo_codec_free(back);
#endif
    return kv->put(kv->ctx, kumo_market_key_bytes(k), kumo_buf_bytes(pack), err);
}

void kumo_market_obj_free(void *obj)
{
    if (obj != NULL) {
        kumo_codec_free((ProtobufCMessage *)obj);
    }
}

/* ---- the per-msg context -------------------------------------------------------------------- */

int kumo_market_st_begin(kumo_market_st_t *st,
                         const kumo_kv_t *kv,
                         const Kumo__Params *params,
                         uint64_t height,
                         const uint8_t *principal,
                         const kumo_market_ctx_t *ctx,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(st != NULL && kv != NULL);
    memset(st, 0, sizeof(*st));
    st->kv = kv;
    st->params = params;
    st->height = height;
    st->principal = principal;
    st->ctx = ctx;
    kumo_buf_init(&st->pack, KUMO_STATE_OBJECT_BYTES_MAX);
    kumo_market_key_t k;
    kumo_market_key_global(&k);
    int rc = kumo_market_obj_get(kv, &k, &kumo__global__descriptor,
                                 (ProtobufCMessage **)&st->global, err);
    if (rc == KUMO_ENOTFOUND) {
        rc = kumo_err_set(err, KUMO_ECORRUPT, "no Global in state (genesis not applied)");
    }
    if (rc < 0) {
        kumo_buf_free(&st->pack);
        st->global = NULL;
        return rc;
    }
    KUMO_ASSERT(st->global != NULL);
    return 0;
}

int kumo_market_st_finish(kumo_market_st_t *st, int rc, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(st != NULL && st->global != NULL);
    if (rc == 0) {
        kumo_market_key_t k;
        kumo_market_key_global(&k);
        rc = kumo_market_obj_put(st->kv, &st->pack, &k, &st->global->base, err);
    }
    kumo_market_obj_free(st->global);
    st->global = NULL;
    kumo_buf_free(&st->pack);
    return rc;
}

/* ---- small checks of decoded objects -------------------------------------------------------- */

static bool addr_is(ProtobufCBinaryData b, const uint8_t *addr)
{
    return b.len == KUMO_ADDRESS_BYTES && b.data != NULL &&
           memcmp(b.data, addr, KUMO_ADDRESS_BYTES) == 0;
}

static bool resources_are_whole(Kumo__ResourceGroup *const *res, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (res[i] == NULL || res[i]->compute == NULL) {
            return false;
        }
    }
    return true;
}

static bool oid_is(const Kumo__OrderId *id, const kumo_market_oid_t *oid)
{
    return id != NULL && addr_is(id->owner, oid->owner) && id->dseq == oid->dseq &&
           id->gseq == oid->gseq && id->oseq == oid->oseq;
}

static int corrupt_free(ProtobufCMessage *obj, const char *what, kumo_err_ctx_t *err)
{
    kumo_market_obj_free(obj);
    return kumo_err_set(err, KUMO_ECORRUPT, "stored %s does not match its key", what);
}

/* ---- typed objects -------------------------------------------------------------------------- */

int kumo_market_provider_get(const kumo_kv_t *kv,
                             const uint8_t *addr,
                             Kumo__Provider **out,
                             kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_provider(&k, addr);
    Kumo__Provider *p = NULL;
    KUMO_GUARD(
        kumo_market_obj_get(kv, &k, &kumo__provider__descriptor, (ProtobufCMessage **)&p, err));
    if (!addr_is(p->owner, addr)) {
        return corrupt_free(&p->base, "provider", err);
    }
    *out = p;
    return 0;
}

int kumo_market_provider_live_lease_count(const kumo_kv_t *kv,
                                          const uint8_t *addr,
                                          uint32_t *out,
                                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL && out != NULL);
    *out = 0;
    Kumo__Provider *p = NULL;
    kumo_err_ctx_t get_err = {0};
    int rc = kumo_market_provider_get(kv, addr, &p, &get_err);
    if (rc == KUMO_ENOTFOUND) {
        return 0;
    }
    KUMO_ENSURE(rc == 0, err, rc, "%s", get_err.detail);
    *out = p->live_lease_count;
    kumo_codec_free(&p->base);
    return 0;
}

int kumo_market_provider_put(kumo_market_st_t *st, const Kumo__Provider *p, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p->owner.len == KUMO_ADDRESS_BYTES);
    kumo_market_key_t k;
    kumo_market_key_provider(&k, p->owner.data);
    return kumo_market_obj_put(st->kv, &st->pack, &k, &p->base, err);
}

int kumo_market_deployment_get(const kumo_kv_t *kv,
                               const uint8_t *owner,
                               uint64_t dseq,
                               Kumo__Deployment **out,
                               kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, owner, dseq);
    Kumo__Deployment *d = NULL;
    KUMO_GUARD(
        kumo_market_obj_get(kv, &k, &kumo__deployment__descriptor, (ProtobufCMessage **)&d, err));
    if (!addr_is(d->owner, owner) || d->dseq != dseq) {
        return corrupt_free(&d->base, "deployment", err);
    }
    *out = d;
    return 0;
}

int kumo_market_deployment_due_height(const Kumo__Deployment *d,
                                      uint64_t release_timeout,
                                      uint64_t *out)
{
    KUMO_ASSERT(d->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING);
    /* With every lease released the deployment may close at once; otherwise it waits for the
     * providers until release_timeout has passed. */
    if (d->unreleased_lease_count == 0) {
        *out = d->closing_height;
        return 0;
    }
    return kumo_u64_add(d->closing_height, release_timeout, out);
}

/* Moves a state index entry (0x25) from prev_state to state; prev_state 0: new object. */
static int state_index_move(kumo_market_st_t *st,
                            const kumo_market_key_t *obj,
                            uint32_t prev_state,
                            uint32_t state,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(state != 0);
    if (prev_state == state) {
        return 0;
    }
    kumo_market_key_t k;
    if (prev_state != 0) {
        kumo_market_key_state(&k, prev_state, obj);
        KUMO_GUARD(kumo_market_kv_del(st->kv, &k, err));
    }
    kumo_market_key_state(&k, state, obj);
    return kumo_market_kv_put_empty(st->kv, &k, err);
}

/* Replaces index key old_key (if has_old) by new_key (if has_new), skipping equal keys. */
static int index_replace(kumo_market_st_t *st,
                         bool has_old,
                         const kumo_market_key_t *old_key,
                         bool has_new,
                         const kumo_market_key_t *new_key,
                         kumo_err_ctx_t *err)
{
    if (has_old && has_new &&
        kumo_bytes_equal(kumo_market_key_bytes(old_key), kumo_market_key_bytes(new_key))) {
        return 0;
    }
    if (has_old) {
        KUMO_GUARD(kumo_market_kv_del(st->kv, old_key, err));
    }
    if (has_new) {
        KUMO_GUARD(kumo_market_kv_put_empty(st->kv, new_key, err));
    }
    return 0;
}

int kumo_market_deployment_put(kumo_market_st_t *st,
                               const Kumo__Deployment *d,
                               uint32_t prev_state,
                               uint32_t prev_unreleased,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d->owner.len == KUMO_ADDRESS_BYTES);
    KUMO_ASSERT(d->state != KUMO__DEPLOYMENT_STATE__DEPLOYMENT_STATE_UNSPECIFIED);
    kumo_market_key_t k;
    kumo_market_key_deployment(&k, d->owner.data, d->dseq);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &d->base, err));
    KUMO_GUARD(state_index_move(st, &k, prev_state, (uint32_t)d->state, err));

    const uint32_t closing = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING;
    uint64_t rt = st->params->release_timeout;
    kumo_market_key_t old_key;
    kumo_market_key_t new_key;
    bool has_old = prev_state == closing;
    bool has_new = (uint32_t)d->state == closing;
    if (has_old) {
        Kumo__Deployment prev = *d;
        prev.state = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING;
        prev.unreleased_lease_count = prev_unreleased;
        uint64_t due;
        KUMO_GUARD(kumo_market_deployment_due_height(&prev, rt, &due));
        kumo_market_key_closing(&old_key, due, d->owner.data, d->dseq);
    }
    if (has_new) {
        uint64_t due;
        KUMO_GUARD(kumo_market_deployment_due_height(d, rt, &due));
        kumo_market_key_closing(&new_key, due, d->owner.data, d->dseq);
    }
    return index_replace(st, has_old, &old_key, has_new, &new_key, err);
}

int kumo_market_group_get(const kumo_kv_t *kv,
                          const uint8_t *owner,
                          uint64_t dseq,
                          uint32_t gseq,
                          Kumo__Group **out,
                          kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_group(&k, owner, dseq, gseq);
    Kumo__Group *g = NULL;
    KUMO_GUARD(kumo_market_obj_get(kv, &k, &kumo__group__descriptor, (ProtobufCMessage **)&g, err));
    if (!addr_is(g->owner, owner) || g->dseq != dseq || g->gseq != gseq || g->spec == NULL ||
        !resources_are_whole(g->spec->resources, g->spec->n_resources)) {
        return corrupt_free(&g->base, "group", err);
    }
    *out = g;
    return 0;
}

int kumo_market_group_put(kumo_market_st_t *st,
                          const Kumo__Group *g,
                          uint32_t prev_state,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(g->owner.len == KUMO_ADDRESS_BYTES && g->spec != NULL);
    KUMO_ASSERT(g->state != KUMO__GROUP_STATE__GROUP_STATE_UNSPECIFIED);
    kumo_market_key_t k;
    kumo_market_key_group(&k, g->owner.data, g->dseq, g->gseq);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &g->base, err));
    return state_index_move(st, &k, prev_state, (uint32_t)g->state, err);
}

int kumo_market_order_get(const kumo_kv_t *kv,
                          const kumo_market_oid_t *oid,
                          Kumo__Order **out,
                          kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_order(&k, oid);
    Kumo__Order *o = NULL;
    KUMO_GUARD(kumo_market_obj_get(kv, &k, &kumo__order__descriptor, (ProtobufCMessage **)&o, err));
    if (!oid_is(o->id, oid) || !resources_are_whole(o->resources, o->n_resources)) {
        return corrupt_free(&o->base, "order", err);
    }
    *out = o;
    return 0;
}

int kumo_market_order_put(kumo_market_st_t *st,
                          const Kumo__Order *o,
                          uint32_t prev_state,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(o->id != NULL && o->state != KUMO__ORDER_STATE__ORDER_STATE_UNSPECIFIED);
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(o->id, &oid);
    kumo_market_key_t k;
    kumo_market_key_order(&k, &oid);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &o->base, err));
    KUMO_GUARD(state_index_move(st, &k, prev_state, (uint32_t)o->state, err));
    /* Only open orders with at least one bid are in the match index: an order without bids
     * cannot be matched, and keeping it out makes the facilitator's work per block follow the
     * matchable orders, not every open order (which anyone can create many of). match_height
     * never changes, so the entry is written or removed in place; removing an absent key is
     * not an error. */
    kumo_market_key_t mk;
    kumo_market_key_match(&mk, o->match_height, &oid);
    if ((uint32_t)o->state == KUMO__ORDER_STATE__ORDER_OPEN && o->bid_count > 0) {
        return kumo_market_kv_put_empty(st->kv, &mk, err);
    }
    return kumo_market_kv_del(st->kv, &mk, err);
}

int kumo_market_fulfillment_get(const kumo_kv_t *kv,
                                const kumo_market_oid_t *oid,
                                const uint8_t *provider,
                                Kumo__Fulfillment **out,
                                kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_fulfillment(&k, oid, provider);
    Kumo__Fulfillment *f = NULL;
    KUMO_GUARD(
        kumo_market_obj_get(kv, &k, &kumo__fulfillment__descriptor, (ProtobufCMessage **)&f, err));
    if (f->id == NULL || !oid_is(f->id->order, oid) || !addr_is(f->id->provider, provider) ||
        !resources_are_whole(f->resources, f->n_resources)) {
        return corrupt_free(&f->base, "fulfillment", err);
    }
    *out = f;
    return 0;
}

int kumo_market_fulfillment_put(kumo_market_st_t *st,
                                const Kumo__Fulfillment *f,
                                uint32_t prev_state,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f->id != NULL && f->id->order != NULL);
    KUMO_ASSERT(f->id->provider.len == KUMO_ADDRESS_BYTES);
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(f->id->order, &oid);
    kumo_market_key_t k;
    kumo_market_key_fulfillment(&k, &oid, f->id->provider.data);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &f->base, err));
    if (prev_state == 0) {
        kumo_market_key_t pk;
        kumo_market_key_bid_by_provider(&pk, f->id->provider.data, &oid);
        KUMO_GUARD(kumo_market_kv_put_empty(st->kv, &pk, err));
    }
    return state_index_move(st, &k, prev_state, (uint32_t)f->state, err);
}

int kumo_market_fulfillment_del(kumo_market_st_t *st,
                                const kumo_market_oid_t *oid,
                                const uint8_t *provider,
                                uint32_t state,
                                kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_fulfillment(&k, oid, provider);
    KUMO_GUARD(kumo_market_kv_del(st->kv, &k, err));
    kumo_market_key_t sk;
    kumo_market_key_state(&sk, state, &k);
    KUMO_GUARD(kumo_market_kv_del(st->kv, &sk, err));
    kumo_market_key_bid_by_provider(&k, provider, oid);
    return kumo_market_kv_del(st->kv, &k, err);
}

int kumo_market_lease_get(const kumo_kv_t *kv,
                          const kumo_market_oid_t *oid,
                          const uint8_t *provider,
                          Kumo__Lease **out,
                          kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_lease(&k, oid, provider);
    Kumo__Lease *l = NULL;
    KUMO_GUARD(kumo_market_obj_get(kv, &k, &kumo__lease__descriptor, (ProtobufCMessage **)&l, err));
    if (l->id == NULL || !oid_is(l->id->order, oid) || !addr_is(l->id->provider, provider)) {
        return corrupt_free(&l->base, "lease", err);
    }
    *out = l;
    return 0;
}

int kumo_market_lease_stale_height(const Kumo__Lease *l, uint64_t period, uint64_t *out)
{
    /* Stale once height > last_confirmed + period: the first stale height is one more. */
    uint64_t h;
    KUMO_GUARD(kumo_u64_add(l->last_confirmed_height, period, &h));
    return kumo_u64_add(h, 1, out);
}

int kumo_market_lease_put(kumo_market_st_t *st,
                          const Kumo__Lease *l,
                          uint32_t prev_state,
                          uint64_t prev_last_confirmed,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(l->id != NULL && l->id->order != NULL);
    KUMO_ASSERT(l->id->provider.len == KUMO_ADDRESS_BYTES);
    kumo_market_oid_t oid;
    kumo_market_oid_from_msg(l->id->order, &oid);
    const uint8_t *provider = l->id->provider.data;
    kumo_market_key_t k;
    kumo_market_key_lease(&k, &oid, provider);
    KUMO_GUARD(kumo_market_obj_put(st->kv, &st->pack, &k, &l->base, err));
    if (prev_state == 0) {
        kumo_market_key_t pk;
        kumo_market_key_lease_by_provider(&pk, provider, &oid);
        KUMO_GUARD(kumo_market_kv_put_empty(st->kv, &pk, err));
    }
    KUMO_GUARD(state_index_move(st, &k, prev_state, (uint32_t)l->state, err));

    const uint32_t active = KUMO__LEASE_STATE__LEASE_ACTIVE;
    uint64_t period = st->params->reconfirmation_period;
    kumo_market_key_t old_key;
    kumo_market_key_t new_key;
    bool has_old = prev_state == active;
    bool has_new = (uint32_t)l->state == active;
    if (has_old) {
        Kumo__Lease prev = *l;
        prev.last_confirmed_height = prev_last_confirmed;
        uint64_t h;
        KUMO_GUARD(kumo_market_lease_stale_height(&prev, period, &h));
        kumo_market_key_stale(&old_key, h, &oid, provider);
    }
    if (has_new) {
        uint64_t h;
        KUMO_GUARD(kumo_market_lease_stale_height(l, period, &h));
        kumo_market_key_stale(&new_key, h, &oid, provider);
    }
    return index_replace(st, has_old, &old_key, has_new, &new_key, err);
}

/* ---- key collection ------------------------------------------------------------------------- */

typedef struct keys_collect_ctx {
    kumo_market_key_t *keys;
    size_t count;
    size_t cap;
    size_t count_max;
    kumo_err_ctx_t *err;
} keys_collect_ctx_t;

static int keys_collect_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    keys_collect_ctx_t *kc = cb_ctx;
    KUMO_ENSURE(key.len <= KUMO_MARKET_KEY_BYTES, kc->err, KUMO_ECORRUPT,
                "stored key of %zu bytes exceeds %u", key.len, KUMO_MARKET_KEY_BYTES);
    KUMO_ENSURE(kc->count < kc->count_max, kc->err, KUMO_ELIMIT, "more than %zu keys to visit",
                kc->count_max);
    if (kc->count == kc->cap) {
        size_t cap = kc->cap == 0 ? 16 : kc->cap * 2;
        kumo_market_key_t *p = kumo_realloc(kc->keys, cap * sizeof(*p));
        KUMO_ENSURE(p != NULL, kc->err, KUMO_ENOMEM, "%zu keys", cap);
        kc->keys = p;
        kc->cap = cap;
    }
    kumo_market_key_t *k = &kc->keys[kc->count++];
    memcpy(k->bytes, key.ptr, key.len);
    k->len = (uint32_t)key.len;
    return 0;
}

int kumo_market_keys_collect(const kumo_kv_t *kv,
                             kumo_bytes_t prefix,
                             size_t count_max,
                             kumo_market_key_t **keys_out,
                             size_t *count_out,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(keys_out != NULL && count_out != NULL);
    keys_collect_ctx_t kc = {.count_max = count_max, .err = err};
    int rc = kv->scan(kv->ctx, prefix, kumo_bytes_make(NULL, 0), keys_collect_cb, &kc, err);
    if (rc < 0) {
        kumo_free(kc.keys);
        return rc;
    }
    *keys_out = kc.keys;
    *count_out = kc.count;
    return 0;
}
