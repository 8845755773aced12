/*
 * provider.c - CreateProvider, UpdateProvider, DeleteProvider and the provider counters
 * (open_bid_count, live_lease_count) the other msgs keep. The signer is the provider.
 * Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

static int text_check(const char *s, size_t max, const char *what, kumo_err_ctx_t *err)
{
    return kumo_market_text_check(s, max, false, what, err);
}

static int pem_check(const char *pem, kumo_err_ctx_t *err)
{
    KUMO_GUARD(text_check(pem, KUMO_CERT_PEM_BYTES_MAX, "root_cert_pem", err));
    /* Only the shape: the chain cannot parse X.509; providers' peers verify the chain. */
    size_t begin_len = strlen(PEM_BEGIN);
    KUMO_ENSURE(strncmp(pem, PEM_BEGIN, begin_len) == 0, err, KUMO_EINVAL,
                "root_cert_pem does not start with " PEM_BEGIN);
    KUMO_ENSURE(strstr(pem + begin_len, PEM_END) != NULL, err, KUMO_EINVAL,
                "root_cert_pem has no " PEM_END);
    return 0;
}

int kumo_market_provider_fields_validate(const char *host_uri,
                                         const char *region,
                                         Kumo__Attribute *const *attrs,
                                         size_t attr_count,
                                         const char *root_cert_pem,
                                         kumo_err_ctx_t *err)
{
    KUMO_GUARD(text_check(host_uri, KUMO_URI_BYTES_MAX, "host_uri", err));
    KUMO_GUARD(text_check(region, KUMO_REGION_BYTES_MAX, "region", err));
    KUMO_GUARD(kumo_market_attrs_check(attrs, attr_count, "attributes", err));
    return pem_check(root_cert_pem, err);
}

/* The free GPUs of an offer: each kind a GPU of a named vendor (and model), 1..64 of them,
 * at most KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX kinds and KUMO_MARKET_OFFER_GPU_COUNT_MAX GPUs. */
static int offer_gpus_check(const Kumo__ProviderOffer *o, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(o->n_free_gpus <= KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX, err, KUMO_ELIMIT,
                "offer lists %zu GPU kinds, more than %u", o->n_free_gpus,
                KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX);
    uint64_t total = 0;
    for (size_t i = 0; i < o->n_free_gpus; i++) {
        const Kumo__GpuSpec *g = o->free_gpus[i];
        KUMO_ENSURE(g->count > 0, err, KUMO_EINVAL, "offer free_gpus[%zu]: count is 0", i);
        total += g->count; /* 16 u32s: no overflow */
        KUMO_ENSURE(total <= KUMO_MARKET_OFFER_GPU_COUNT_MAX, err, KUMO_ELIMIT,
                    "offer lists more than %u free GPUs", KUMO_MARKET_OFFER_GPU_COUNT_MAX);
        KUMO_GUARD(
            kumo_market_text_check(g->vendor, KUMO_GPU_VENDOR_BYTES_MAX, false, "gpu vendor", err));
        KUMO_GUARD(
            kumo_market_text_check(g->model, KUMO_GPU_MODEL_BYTES_MAX, true, "gpu model", err));
    }
    return 0;
}

int kumo_market_offer_validate(const Kumo__ProviderOffer *o, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(o->height == 0, err, KUMO_EINVAL, "offer height is set by the chain, not sent");
    const struct {
        uint64_t v;
        uint64_t max;
        const char *what;
    } f[] = {
        {o->price_cpu_per_core, KUMO_MARKET_OFFER_PRICE_MAX, "price_cpu_per_core"},
        {o->price_memory_per_gib, KUMO_MARKET_OFFER_PRICE_MAX, "price_memory_per_gib"},
        {o->price_storage_per_gib, KUMO_MARKET_OFFER_PRICE_MAX, "price_storage_per_gib"},
        {o->free_cpu_milli, KUMO_MARKET_OFFER_AMOUNT_MAX, "free_cpu_milli"},
        {o->free_memory_bytes, KUMO_MARKET_OFFER_AMOUNT_MAX, "free_memory_bytes"},
        {o->free_storage_bytes, KUMO_MARKET_OFFER_AMOUNT_MAX, "free_storage_bytes"},
        {o->free_collateral, KUMO_MARKET_OFFER_AMOUNT_MAX, "free_collateral"},
        {o->price_per_gpu, KUMO_MARKET_OFFER_PRICE_MAX, "price_per_gpu"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(f); i++) {
        KUMO_ENSURE(f[i].v <= f[i].max, err, KUMO_ELIMIT, "offer %s %" PRIu64 " exceeds %" PRIu64,
                    f[i].what, f[i].v, (uint64_t)f[i].max);
    }
    return offer_gpus_check(o, err);
}

bool kumo_market_provider_update_is_offer_only(const Kumo__MsgUpdateProvider *m)
{
    return m->offer != NULL && kumo_market_str_len(m->host_uri, 1) == 0 &&
           kumo_market_str_len(m->region, 1) == 0 && m->n_attributes == 0 &&
           kumo_market_str_len(m->root_cert_pem, 1) == 0;
}

static char *unconst(const char *s)
{
    return (char *)(uintptr_t)s;
}

int kumo_market_provider_create(kumo_market_st_t *st,
                                const Kumo__MsgCreateProvider *m,
                                kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_provider(&k, st->principal);
    bool exists = false;
    KUMO_GUARD(kumo_market_kv_has(st->kv, &k, &exists, err));
    KUMO_ENSURE(!exists, err, KUMO_EEXIST, "signer is already a provider");
    Kumo__Provider p = KUMO__PROVIDER__INIT;
    p.owner.data = (uint8_t *)(uintptr_t)st->principal;
    p.owner.len = KUMO_ADDRESS_BYTES;
    p.host_uri = unconst(m->host_uri);
    p.region = unconst(m->region);
    p.n_attributes = m->n_attributes;
    p.attributes = m->attributes;
    p.root_cert_pem = unconst(m->root_cert_pem);
    p.created_height = st->height;
    KUMO_GUARD(kumo_market_provider_put(st, &p, err));
    kumo_market_attr_t attrs[] = {{"region", 0, m->region}};
    return kumo_market_emit_provider(st, "provider.created", st->principal, attrs,
                                     KUMO_ARRAY_COUNT(attrs), err);
}

/* The offer part of an update (the only part of an offer-only one). */
static int provider_offer_update(kumo_market_st_t *st,
                                 const Kumo__Provider *old,
                                 const Kumo__MsgUpdateProvider *m,
                                 kumo_err_ctx_t *err)
{
    Kumo__Provider p = *old;
    Kumo__ProviderOffer o = *m->offer;
    o.height = st->height;
    p.offer = &o;
    KUMO_GUARD(kumo_market_provider_put(st, &p, err));
    kumo_market_attr_t attrs[] = {{"free_cpu_milli", o.free_cpu_milli, NULL},
                                  {"free_collateral", o.free_collateral, NULL}};
    return kumo_market_emit_provider(st, "provider.offer", st->principal, attrs,
                                     KUMO_ARRAY_COUNT(attrs), err);
}

static int provider_update(kumo_market_st_t *st,
                           const Kumo__Provider *old,
                           const Kumo__MsgUpdateProvider *m,
                           kumo_err_ctx_t *err)
{
    if (kumo_market_provider_update_is_offer_only(m)) {
        return provider_offer_update(st, old, m, err);
    }
    /* Open bids were placed for orders of the old region; moving would break the rule that a
     * bid's provider is in the order's region. Leases are already matched and may stay. */
    KUMO_ENSURE(strcmp(old->region, m->region) == 0 || old->open_bid_count == 0, err, KUMO_EBUSY,
                "region change with %u open bids", old->open_bid_count);
    /* The same for attributes: a bid met its order's required attributes when it was placed,
     * and only an auditor's revocation (which the provider does not control) may change that
     * before the match. */
    bool same_attrs =
        kumo_market_attrs_equal(old->attributes, old->n_attributes, m->attributes, m->n_attributes);
    KUMO_ENSURE(same_attrs || old->open_bid_count == 0, err, KUMO_EBUSY,
                "attribute change with %u open bids", old->open_bid_count);
    Kumo__Provider p = *old;
    p.host_uri = unconst(m->host_uri);
    p.region = unconst(m->region);
    p.n_attributes = m->n_attributes;
    p.attributes = m->attributes;
    p.root_cert_pem = unconst(m->root_cert_pem);
    Kumo__ProviderOffer o = KUMO__PROVIDER_OFFER__INIT;
    if (m->offer != NULL) {
        o = *m->offer;
        o.height = st->height;
        p.offer = &o;
    }
    KUMO_GUARD(kumo_market_provider_put(st, &p, err));
    kumo_market_attr_t attrs[] = {{"region", 0, m->region}};
    return kumo_market_emit_provider(st, "provider.updated", st->principal, attrs,
                                     KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_provider_update(kumo_market_st_t *st,
                                const Kumo__MsgUpdateProvider *m,
                                kumo_err_ctx_t *err)
{
    Kumo__Provider *old = NULL;
    KUMO_GUARD(kumo_market_provider_get(st->kv, st->principal, &old, err));
    int rc = provider_update(st, old, m, err);
    kumo_market_obj_free(old);
    return rc;
}

int kumo_market_provider_delete(kumo_market_st_t *st, kumo_err_ctx_t *err)
{
    Kumo__Provider *p = NULL;
    KUMO_GUARD(kumo_market_provider_get(st->kv, st->principal, &p, err));
    uint32_t bids = p->open_bid_count;
    uint32_t leases = p->live_lease_count;
    kumo_market_obj_free(p);
    KUMO_ENSURE(bids == 0 && leases == 0, err, KUMO_EBUSY,
                "provider has %u open bids and %u live leases", bids, leases);
    kumo_market_key_t k;
    kumo_market_key_provider(&k, st->principal);
    KUMO_GUARD(kumo_market_kv_del(st->kv, &k, err));
    return kumo_market_emit_provider(st, "provider.deleted", st->principal, NULL, 0, err);
}

/* Provider counter fields patched without decoding (proto/kumo.proto). */
#define PROVIDER_FIELD_OPEN_BIDS   7u
#define PROVIDER_FIELD_LIVE_LEASES 8u
#define PROVIDER_FIELD_REFUSED     9u

static int count_apply(uint64_t *count, int delta, const char *what, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(*count <= UINT32_MAX, err, KUMO_ECORRUPT, "stored %s out of range", what);
    if (delta < 0) {
        /* The counters count objects that exist: going below zero is our bug. */
        KUMO_ASSERT(*count >= (uint64_t)-delta);
        *count -= (uint64_t)-delta;
        return 0;
    }
    KUMO_ENSURE(*count + (uint64_t)delta <= UINT32_MAX, err, KUMO_EOVERFLOW, "%s overflows", what);
    *count += (uint64_t)delta;
    return 0;
}

/* The stored encoding of a provider that a bid or lease names (*val borrowed from the kv
 * until the next write) and its varint fields. */
static int provider_wire_get(kumo_market_st_t *st,
                             const uint8_t *provider,
                             kumo_market_key_t *k,
                             kumo_bytes_t *val,
                             uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1],
                             kumo_err_ctx_t *err)
{
    kumo_market_key_provider(k, provider);
    int rc = kumo_market_kv_get(st->kv, k, val, err);
    if (rc == KUMO_ENOTFOUND) {
        /* A provider cannot be deleted while it has bids or live leases. */
        return kumo_err_set(err, KUMO_ECORRUPT, "provider of a bid or lease is missing");
    }
    KUMO_GUARD(rc);
    KUMO_ENSURE(kumo_codec_wire_starts_with_addr(*val, provider), err, KUMO_ECORRUPT,
                "stored provider does not match its key");
    return kumo_codec_wire_varints(*val, f, err);
}

int kumo_market_provider_count_add(kumo_market_st_t *st,
                                   const uint8_t *provider,
                                   int bids_delta,
                                   int leases_delta,
                                   kumo_err_ctx_t *err)
{
    /* Every bid, refund and lease touches a provider whose record carries its certificate;
     * patching the two counters in the stored encoding avoids decoding and re-packing it. */
    kumo_market_key_t k;
    kumo_bytes_t val;
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(provider_wire_get(st, provider, &k, &val, f, err));
    uint64_t counts[2] = {f[PROVIDER_FIELD_OPEN_BIDS], f[PROVIDER_FIELD_LIVE_LEASES]};
    KUMO_GUARD(count_apply(&counts[0], bids_delta, "open_bid_count", err));
    KUMO_GUARD(count_apply(&counts[1], leases_delta, "live_lease_count", err));
    static const uint32_t fields[2] = {PROVIDER_FIELD_OPEN_BIDS, PROVIDER_FIELD_LIVE_LEASES};
    KUMO_GUARD(kumo_codec_wire_set(val, fields, counts, 2, &st->pack, err));
    return st->kv->put(st->kv->ctx, kumo_market_key_bytes(&k), kumo_buf_bytes(&st->pack), err);
}

int kumo_market_provider_lease_refused(kumo_market_st_t *st,
                                       const uint8_t *provider,
                                       kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_bytes_t val;
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(provider_wire_get(st, provider, &k, &val, f, err));
    uint64_t counts[2] = {f[PROVIDER_FIELD_LIVE_LEASES], 0};
    KUMO_GUARD(count_apply(&counts[0], -1, "live_lease_count", err));
    KUMO_ENSURE(kumo_u64_add(f[PROVIDER_FIELD_REFUSED], 1, &counts[1]) == 0, err, KUMO_EOVERFLOW,
                "refused_lease_count overflows");
    static const uint32_t fields[2] = {PROVIDER_FIELD_LIVE_LEASES, PROVIDER_FIELD_REFUSED};
    KUMO_GUARD(kumo_codec_wire_set(val, fields, counts, 2, &st->pack, err));
    return st->kv->put(st->kv->ctx, kumo_market_key_bytes(&k), kumo_buf_bytes(&st->pack), err);
}
