/*
 * audit.c - provider attributes as the chain enforces them: the canonical attribute list
 * (sorted by key, bounded), placement requirements of a group (attributes and signed_by),
 * SignProviderAttributes / DeleteProviderAttributes (what an auditor vouches for about a
 * provider, one ProviderAudit per (provider, auditor)), and the match of a provider against
 * an order's requirements that SubmitFulfillment, SubmitLease and the facilitator share.
 * Any account may audit; tenants choose whose signatures count by naming auditors in their
 * groups (docs/design.md 3.4). Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

/* ---- canonical lists --------------------------------------------------------------------------
 */

int kumo_market_attrs_check(Kumo__Attribute *const *attrs,
                            size_t count,
                            const char *what,
                            kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count <= KUMO_ATTRIBUTE_COUNT_MAX, err, KUMO_ELIMIT, "%zu %s exceed %u", count,
                what, KUMO_ATTRIBUTE_COUNT_MAX);
    for (size_t i = 0; i < count; i++) {
        KUMO_ENSURE(attrs[i] != NULL, err, KUMO_EEMPTY, "%s[%zu] missing", what, i);
        KUMO_GUARD(kumo_market_text_check(attrs[i]->key, KUMO_ATTRIBUTE_KEY_BYTES_MAX, false,
                                          "attribute key", err));
        KUMO_GUARD(kumo_market_text_check(attrs[i]->value, KUMO_ATTRIBUTE_VALUE_BYTES_MAX, true,
                                          "attribute value", err));
        if (i == 0) {
            continue;
        }
        /* One canonical form: sorted by key (bytes), each key once. */
        int c = strcmp(attrs[i - 1]->key, attrs[i]->key);
        KUMO_ENSURE(c != 0, err, KUMO_EDUPLICATE, "%s: key '%s' repeats", what, attrs[i]->key);
        KUMO_ENSURE(c < 0, err, KUMO_EUNSORTED, "%s: key '%s' comes after '%s'", what,
                    attrs[i - 1]->key, attrs[i]->key);
    }
    return 0;
}

static int addrs_check(const ProtobufCBinaryData *addrs,
                       size_t count,
                       size_t max,
                       const char *what,
                       kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count <= max, err, KUMO_ELIMIT, "%zu %s exceed %zu", count, what, max);
    for (size_t i = 0; i < count; i++) {
        KUMO_GUARD(kumo_bank_address_validate(addrs[i], what, err));
        if (i == 0) {
            continue;
        }
        int c = memcmp(addrs[i - 1].data, addrs[i].data, KUMO_ADDRESS_BYTES);
        KUMO_ENSURE(c != 0, err, KUMO_EDUPLICATE, "%s[%zu] repeats", what, i);
        KUMO_ENSURE(c < 0, err, KUMO_EUNSORTED, "%s[%zu] is not sorted", what, i);
    }
    return 0;
}

int kumo_market_requirements_check(const Kumo__PlacementRequirements *r, kumo_err_ctx_t *err)
{
    if (r == NULL) {
        return 0;
    }
    KUMO_GUARD(kumo_market_attrs_check(r->attributes, r->n_attributes, "required attributes", err));
    const Kumo__SignedBy *s = r->signed_by;
    if (s != NULL) {
        /* Present means something: an empty signed_by would be a second encoding of none. */
        KUMO_ENSURE(s->n_all_of + s->n_any_of > 0, err, KUMO_EEMPTY, "signed_by is empty");
        KUMO_GUARD(
            addrs_check(s->all_of, s->n_all_of, KUMO_SIGNED_BY_COUNT_MAX, "signed_by.all_of", err));
        KUMO_GUARD(
            addrs_check(s->any_of, s->n_any_of, KUMO_SIGNED_BY_COUNT_MAX, "signed_by.any_of", err));
    }
    KUMO_GUARD(addrs_check(r->providers, r->n_providers, KUMO_PLACEMENT_PROVIDER_COUNT_MAX,
                           "providers", err));
    KUMO_ENSURE(!r->exclusive || r->n_providers > 0, err, KUMO_EINVAL,
                "exclusive without a list of providers");
    KUMO_ENSURE(r->n_attributes > 0 || s != NULL || r->n_providers > 0, err, KUMO_EEMPTY,
                "requirements are empty");
    return 0;
}

static bool
attrs_equal(Kumo__Attribute *const *a, size_t a_count, Kumo__Attribute *const *b, size_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (size_t i = 0; i < a_count; i++) {
        if (strcmp(a[i]->key, b[i]->key) != 0 || strcmp(a[i]->value, b[i]->value) != 0) {
            return false;
        }
    }
    return true;
}

bool kumo_market_attrs_equal(Kumo__Attribute *const *a,
                             size_t a_count,
                             Kumo__Attribute *const *b,
                             size_t b_count)
{
    return attrs_equal(a, a_count, b, b_count);
}

static bool addrs_equal(const ProtobufCBinaryData *a,
                        size_t a_count,
                        const ProtobufCBinaryData *b,
                        size_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (size_t i = 0; i < a_count; i++) {
        if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len) != 0) {
            return false;
        }
    }
    return true;
}

bool kumo_market_requirements_equal(const Kumo__PlacementRequirements *a,
                                    const Kumo__PlacementRequirements *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (!attrs_equal(a->attributes, a->n_attributes, b->attributes, b->n_attributes) ||
        !addrs_equal(a->providers, a->n_providers, b->providers, b->n_providers) ||
        a->exclusive != b->exclusive) {
        return false;
    }
    const Kumo__SignedBy *x = a->signed_by;
    const Kumo__SignedBy *y = b->signed_by;
    if (x == NULL || y == NULL) {
        return x == y;
    }
    return addrs_equal(x->all_of, x->n_all_of, y->all_of, y->n_all_of) &&
           addrs_equal(x->any_of, x->n_any_of, y->any_of, y->n_any_of);
}

/* ---- matching ---------------------------------------------------------------------------------
 */

/* True when every attribute of want is in have (same key and value). */
static bool attrs_subset(Kumo__Attribute *const *want,
                         size_t want_count,
                         Kumo__Attribute *const *have,
                         size_t have_count)
{
    for (size_t i = 0; i < want_count; i++) {
        bool found = false;
        for (size_t j = 0; j < have_count && !found; j++) {
            found = strcmp(want[i]->key, have[j]->key) == 0 &&
                    strcmp(want[i]->value, have[j]->value) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* Where the audits of one provider come from: the store (the chain) or a list (a provider
 * daemon's copy of what the chain holds). vouches_cb sets *out when auditor signed every
 * required attribute of r. */
typedef int (*vouches_cb)(const void *ctx,
                          const Kumo__PlacementRequirements *r,
                          const uint8_t *auditor,
                          bool *out,
                          kumo_err_ctx_t *err);

typedef struct kv_audits {
    const kumo_kv_t *kv;
    const uint8_t *provider;
} kv_audits_t;

static int kv_vouches(const void *ctx,
                      const Kumo__PlacementRequirements *r,
                      const uint8_t *auditor,
                      bool *out,
                      kumo_err_ctx_t *err)
{
    const kv_audits_t *ka = ctx;
    Kumo__ProviderAudit *a = NULL;
    int rc = kumo_market_audit_get(ka->kv, ka->provider, auditor, &a, err);
    *out = false;
    if (rc == KUMO_ENOTFOUND) {
        return 0;
    }
    KUMO_GUARD(rc);
    *out = attrs_subset(r->attributes, r->n_attributes, a->attributes, a->n_attributes);
    kumo_market_obj_free(a);
    return 0;
}

typedef struct list_audits {
    Kumo__ProviderAudit *const *audits;
    size_t count;
} list_audits_t;

static int list_vouches(const void *ctx,
                        const Kumo__PlacementRequirements *r,
                        const uint8_t *auditor,
                        bool *out,
                        kumo_err_ctx_t *err)
{
    (void)err;
    const list_audits_t *la = ctx;
    *out = false;
    for (size_t i = 0; i < la->count && !*out; i++) {
        const Kumo__ProviderAudit *a = la->audits[i];
        if (a->auditor.len == KUMO_ADDRESS_BYTES &&
            memcmp(a->auditor.data, auditor, KUMO_ADDRESS_BYTES) == 0) {
            *out = attrs_subset(r->attributes, r->n_attributes, a->attributes, a->n_attributes);
        }
    }
    return 0;
}

static int signed_by_match(vouches_cb vouches,
                           const void *ctx,
                           const Kumo__PlacementRequirements *r,
                           kumo_err_ctx_t *err)
{
    const Kumo__SignedBy *s = r->signed_by;
    for (size_t i = 0; i < s->n_all_of; i++) {
        bool ok = false;
        KUMO_GUARD(vouches(ctx, r, s->all_of[i].data, &ok, err));
        if (!ok) {
            char auditor[KUMO_ADDRESS_TEXT_BYTES];
            kumo_codec_address_encode(s->all_of[i].data, auditor);
            return kumo_err_set(err, KUMO_ESIGNEDBY,
                                "auditor %s (signed_by.all_of) has not signed %s", auditor,
                                r->n_attributes > 0 ? "the required attributes" : "the provider");
        }
    }
    bool any = s->n_any_of == 0;
    for (size_t i = 0; i < s->n_any_of && !any; i++) {
        KUMO_GUARD(vouches(ctx, r, s->any_of[i].data, &any, err));
    }
    KUMO_ENSURE(any, err, KUMO_ESIGNEDBY, "none of the %zu signed_by.any_of auditors has signed %s",
                s->n_any_of, r->n_attributes > 0 ? "the required attributes" : "the provider");
    return 0;
}

bool kumo_market_requirements_list(const Kumo__PlacementRequirements *r, const uint8_t *provider)
{
    for (size_t i = 0; r != NULL && i < r->n_providers; i++) {
        if (memcmp(r->providers[i].data, provider, KUMO_ADDRESS_BYTES) == 0) {
            return true;
        }
    }
    return false;
}

/* The rule, whatever the audits' source, for the provider at address provider. */
static int requirements_meet(const Kumo__PlacementRequirements *r,
                             const uint8_t *provider,
                             Kumo__Attribute *const *attrs,
                             size_t attr_count,
                             vouches_cb vouches,
                             const void *ctx,
                             kumo_err_ctx_t *err)
{
    if (r == NULL) {
        return 0;
    }
    if (r->n_providers > 0 && !kumo_market_requirements_list(r, provider)) {
        char text[KUMO_ADDRESS_TEXT_BYTES];
        kumo_codec_address_encode(provider, text);
        return kumo_err_set(err, KUMO_ENOTLISTED,
                            "provider %s is not among the %zu the order lists", text,
                            r->n_providers);
    }
    for (size_t i = 0; i < r->n_attributes; i++) {
        const Kumo__Attribute *want = r->attributes[i];
        KUMO_ENSURE(attrs_subset(&r->attributes[i], 1, attrs, attr_count), err, KUMO_EATTRIBUTE,
                    "provider lacks attribute %s=%s", want->key, want->value);
    }
    if (r->signed_by == NULL) {
        return 0;
    }
    return signed_by_match(vouches, ctx, r, err);
}

int kumo_market_requirements_match(const kumo_kv_t *kv,
                                   const Kumo__PlacementRequirements *r,
                                   const Kumo__Provider *p,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && p != NULL);
    KUMO_ASSERT(p->owner.len == KUMO_ADDRESS_BYTES);
    kv_audits_t ka = {.kv = kv, .provider = p->owner.data};
    return requirements_meet(r, p->owner.data, p->attributes, p->n_attributes, kv_vouches, &ka,
                             err);
}

int kumo_market_requirements_match_list(const Kumo__PlacementRequirements *r,
                                        const uint8_t *provider,
                                        Kumo__Attribute *const *attrs,
                                        size_t attr_count,
                                        Kumo__ProviderAudit *const *audits,
                                        size_t audit_count,
                                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(provider != NULL);
    KUMO_ASSERT(attrs != NULL || attr_count == 0);
    KUMO_ASSERT(audits != NULL || audit_count == 0);
    list_audits_t la = {.audits = audits, .count = audit_count};
    return requirements_meet(r, provider, attrs, attr_count, list_vouches, &la, err);
}

int kumo_market_requirements_match_addr(const kumo_kv_t *kv,
                                        const Kumo__PlacementRequirements *r,
                                        const uint8_t *provider,
                                        kumo_err_ctx_t *err)
{
    if (r == NULL) {
        return 0;
    }
    Kumo__Provider *p = NULL;
    int rc = kumo_market_provider_get(kv, provider, &p, err);
    if (rc == KUMO_ENOTFOUND) {
        /* A provider cannot be deleted while it has bids. */
        return kumo_err_set(err, KUMO_ECORRUPT, "provider of a bid is missing");
    }
    KUMO_GUARD(rc);
    rc = kumo_market_requirements_match(kv, r, p, err);
    kumo_market_obj_free(p);
    return rc;
}

/* ---- state ------------------------------------------------------------------------------------
 */

void kumo_market_key_audit(kumo_market_key_t *k, const uint8_t *provider, const uint8_t *auditor)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_AUDIT);
    kumo_market_key_put_addr(k, provider);
    if (auditor != NULL) {
        kumo_market_key_put_addr(k, auditor);
    }
}

int kumo_market_audit_get(const kumo_kv_t *kv,
                          const uint8_t *provider,
                          const uint8_t *auditor,
                          Kumo__ProviderAudit **out,
                          kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_audit(&k, provider, auditor);
    Kumo__ProviderAudit *a = NULL;
    KUMO_GUARD(kumo_market_obj_get(kv, &k, &kumo__provider_audit__descriptor,
                                   (ProtobufCMessage **)&a, err));
    bool ok = a->provider.len == KUMO_ADDRESS_BYTES && a->auditor.len == KUMO_ADDRESS_BYTES &&
              memcmp(a->provider.data, provider, KUMO_ADDRESS_BYTES) == 0 &&
              memcmp(a->auditor.data, auditor, KUMO_ADDRESS_BYTES) == 0;
    if (!ok) {
        kumo_market_obj_free(a);
        return kumo_err_set(err, KUMO_ECORRUPT, "stored audit does not match its key");
    }
    *out = a;
    return 0;
}

/* ---- msgs -------------------------------------------------------------------------------------
 */

int kumo_market_audit_sign_validate(const Kumo__MsgSignProviderAttributes *m, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_address_validate(m->provider, "provider", err));
    KUMO_ENSURE(m->n_attributes > 0, err, KUMO_EEMPTY, "no attributes to sign");
    return kumo_market_attrs_check(m->attributes, m->n_attributes, "attributes", err);
}

int kumo_market_audit_delete_validate(const Kumo__MsgDeleteProviderAttributes *m,
                                      kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_address_validate(m->provider, "provider", err));
    KUMO_ENSURE(m->n_keys <= KUMO_ATTRIBUTE_COUNT_MAX, err, KUMO_ELIMIT, "%zu keys exceed %u",
                m->n_keys, KUMO_ATTRIBUTE_COUNT_MAX);
    for (size_t i = 0; i < m->n_keys; i++) {
        KUMO_GUARD(
            kumo_market_text_check(m->keys[i], KUMO_ATTRIBUTE_KEY_BYTES_MAX, false, "key", err));
        if (i > 0) {
            int c = strcmp(m->keys[i - 1], m->keys[i]);
            KUMO_ENSURE(c != 0, err, KUMO_EDUPLICATE, "key '%s' repeats", m->keys[i]);
            KUMO_ENSURE(c < 0, err, KUMO_EUNSORTED, "key '%s' comes after '%s'", m->keys[i - 1],
                        m->keys[i]);
        }
    }
    return 0;
}

/* Merges two sorted attribute lists into out (b wins on equal keys); KUMO_ELIMIT past the
 * count limit. */
static int attrs_merge(Kumo__Attribute *const *a,
                       size_t a_count,
                       Kumo__Attribute *const *b,
                       size_t b_count,
                       Kumo__Attribute **out,
                       size_t *out_count,
                       kumo_err_ctx_t *err)
{
    size_t i = 0;
    size_t j = 0;
    size_t n = 0;
    while (i < a_count || j < b_count) {
        int c = i == a_count ? 1 : j == b_count ? -1 : strcmp(a[i]->key, b[j]->key);
        KUMO_ENSURE(n < KUMO_ATTRIBUTE_COUNT_MAX, err, KUMO_ELIMIT,
                    "the auditor would sign more than %u attributes", KUMO_ATTRIBUTE_COUNT_MAX);
        if (c < 0) {
            out[n++] = a[i++];
            continue;
        }
        i += c == 0 ? 1u : 0u;
        out[n++] = b[j++];
    }
    *out_count = n;
    return 0;
}

static int audit_put(kumo_market_st_t *st,
                     const uint8_t *provider,
                     Kumo__Attribute **attrs,
                     size_t count,
                     kumo_err_ctx_t *err)
{
    kumo_market_key_t k;
    kumo_market_key_audit(&k, provider, st->principal);
    if (count == 0) {
        return kumo_market_kv_del(st->kv, &k, err);
    }
    Kumo__ProviderAudit a = KUMO__PROVIDER_AUDIT__INIT;
    a.provider.data = (uint8_t *)(uintptr_t)provider;
    a.provider.len = KUMO_ADDRESS_BYTES;
    a.auditor.data = (uint8_t *)(uintptr_t)st->principal;
    a.auditor.len = KUMO_ADDRESS_BYTES;
    a.attributes = attrs;
    a.n_attributes = count;
    a.height = st->height;
    return kumo_market_obj_put(st->kv, &st->pack, &k, &a.base, err);
}

static int audit_emit(kumo_market_st_t *st,
                      const char *type,
                      const uint8_t *provider,
                      size_t count,
                      kumo_err_ctx_t *err)
{
    char auditor[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(st->principal, auditor);
    kumo_market_attr_t attrs[] = {{"auditor", 0, auditor}, {"attribute_count", count, NULL}};
    return kumo_market_emit_provider(st, type, provider, attrs, KUMO_ARRAY_COUNT(attrs), err);
}

/* The signer's current audit of provider, or NULL (*out) when it has none. */
static int audit_get_opt(kumo_market_st_t *st,
                         const uint8_t *provider,
                         Kumo__ProviderAudit **out,
                         kumo_err_ctx_t *err)
{
    *out = NULL;
    int rc = kumo_market_audit_get(st->kv, provider, st->principal, out, err);
    return rc == KUMO_ENOTFOUND ? 0 : rc;
}

int kumo_market_audit_sign(kumo_market_st_t *st,
                           const Kumo__MsgSignProviderAttributes *m,
                           kumo_err_ctx_t *err)
{
    const uint8_t *provider = m->provider.data;
    kumo_market_key_t pk;
    kumo_market_key_provider(&pk, provider);
    bool exists = false;
    KUMO_GUARD(kumo_market_kv_has(st->kv, &pk, &exists, err));
    KUMO_ENSURE(exists, err, KUMO_ENOTFOUND, "no such provider");
    Kumo__ProviderAudit *old = NULL;
    KUMO_GUARD(audit_get_opt(st, provider, &old, err));
    Kumo__Attribute *merged[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t n = 0;
    int rc = attrs_merge(old != NULL ? old->attributes : NULL, old != NULL ? old->n_attributes : 0,
                         m->attributes, m->n_attributes, merged, &n, err);
    if (rc == 0) {
        rc = audit_put(st, provider, merged, n, err);
    }
    kumo_market_obj_free(old);
    KUMO_GUARD(rc);
    return audit_emit(st, "audit.signed", provider, n, err);
}

static bool keys_has(char *const *keys, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(keys[i], key) == 0) {
            return true;
        }
    }
    return false;
}

/* old's attributes without the keys of m (every key must be signed: KUMO_ENOTFOUND). */
static int audit_remove(const Kumo__ProviderAudit *old,
                        const Kumo__MsgDeleteProviderAttributes *m,
                        Kumo__Attribute **out,
                        size_t *out_count,
                        kumo_err_ctx_t *err)
{
    size_t n = 0;
    size_t removed = 0;
    for (size_t i = 0; i < old->n_attributes; i++) {
        if (keys_has(m->keys, m->n_keys, old->attributes[i]->key)) {
            removed++;
            continue;
        }
        KUMO_ASSERT(n < KUMO_ATTRIBUTE_COUNT_MAX);
        out[n++] = old->attributes[i];
    }
    KUMO_ENSURE(removed == m->n_keys, err, KUMO_ENOTFOUND,
                "%zu of the %zu keys were not signed by the signer", m->n_keys - removed,
                m->n_keys);
    *out_count = n;
    return 0;
}

int kumo_market_audit_delete(kumo_market_st_t *st,
                             const Kumo__MsgDeleteProviderAttributes *m,
                             kumo_err_ctx_t *err)
{
    const uint8_t *provider = m->provider.data;
    Kumo__ProviderAudit *old = NULL;
    int rc = kumo_market_audit_get(st->kv, provider, st->principal, &old, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "the signer has signed nothing for the provider");
    }
    KUMO_GUARD(rc);
    Kumo__Attribute *left[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t n = 0;
    if (m->n_keys > 0) {
        rc = audit_remove(old, m, left, &n, err);
    }
    if (rc == 0) {
        rc = audit_put(st, provider, left, n, err);
    }
    kumo_market_obj_free(old);
    KUMO_GUARD(rc);
    return audit_emit(st, "audit.revoked", provider, n, err);
}
