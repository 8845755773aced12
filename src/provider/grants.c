/*
 * grants.c - the grants a caller of the provider API acts under when it is not the
 * deployment's owner (docs/provider-api.md "Grantees"): asked of the node on an API worker
 * (GET /status for the head height, then GET /grants?granter=&grantee=) and kept per (owner,
 * grantee, dseq) only for the height they were read at, so a revoke or an expiry is seen at
 * the next block at the latest. The cache is shared by the API workers (one mutex); a node
 * that cannot be asked is an error, never a grant.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "provider/daemon_int.h"

/* Slots of the cache: a caller's (owner, grantee, dseq) hashes to one; another key there
 * replaces it. Bounds memory whatever callers ask. */
#define PD_GRANT_CACHE_SLOTS 256u
/* Pages of 100 grants of one (owner, grantee) pair looked through; past that the caller is
 * refused (503) rather than served on a partial read. */
#define PD_GRANT_PAGE_MAX 16u

typedef struct pd_grant_slot {
    bool used;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    kumo_provider_grants_t grants; /* as read at grants.height */
} pd_grant_slot_t;

struct pd_grant_cache {
    pthread_mutex_t mu;
    pd_grant_slot_t slots[PD_GRANT_CACHE_SLOTS];
    uint64_t hits, misses; /* for tests and logs */
};

int pd_grant_cache_new(pd_grant_cache_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    pd_grant_cache_t *c = kumo_calloc(1, sizeof(*c));
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "grant cache");
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        kumo_free(c);
        return kumo_err_set(err, KUMO_ENOMEM, "grant cache mutex");
    }
    *out = c;
    return 0;
}

void pd_grant_cache_free(pd_grant_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    (void)pthread_mutex_destroy(&c->mu);
    kumo_free(c);
}

static size_t pd_grant_slot_index(const uint8_t owner[KUMO_ADDRESS_BYTES],
                                  const uint8_t grantee[KUMO_ADDRESS_BYTES],
                                  uint64_t dseq)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < KUMO_ADDRESS_BYTES; i++) {
        h = (h ^ owner[i]) * 1099511628211ull;
        h = (h ^ grantee[i]) * 1099511628211ull;
    }
    for (size_t i = 0; i < 8; i++) {
        h = (h ^ ((dseq >> (8 * i)) & 0xffu)) * 1099511628211ull;
    }
    return (size_t)(h % PD_GRANT_CACHE_SLOTS);
}

/* The cached grants of the key when read at height. */
static bool pd_grant_cache_find(pd_grant_cache_t *c,
                                const uint8_t owner[KUMO_ADDRESS_BYTES],
                                const uint8_t grantee[KUMO_ADDRESS_BYTES],
                                uint64_t dseq,
                                uint64_t height,
                                kumo_provider_grants_t *out)
{
    size_t i = pd_grant_slot_index(owner, grantee, dseq);
    KUMO_ASSERT(i < PD_GRANT_CACHE_SLOTS);
    int lk = pthread_mutex_lock(&c->mu);
    KUMO_ASSERT(lk == 0);
    const pd_grant_slot_t *s = &c->slots[i];
    bool hit = s->used && s->dseq == dseq && s->grants.height == height &&
               memcmp(s->owner, owner, KUMO_ADDRESS_BYTES) == 0 &&
               memcmp(s->grantee, grantee, KUMO_ADDRESS_BYTES) == 0;
    if (hit) {
        *out = s->grants;
        c->hits++;
    } else {
        c->misses++;
    }
    lk = pthread_mutex_unlock(&c->mu);
    KUMO_ASSERT(lk == 0);
    return hit;
}

static void pd_grant_cache_put(pd_grant_cache_t *c,
                               const uint8_t owner[KUMO_ADDRESS_BYTES],
                               const uint8_t grantee[KUMO_ADDRESS_BYTES],
                               uint64_t dseq,
                               const kumo_provider_grants_t *grants)
{
    size_t i = pd_grant_slot_index(owner, grantee, dseq);
    KUMO_ASSERT(i < PD_GRANT_CACHE_SLOTS);
    int lk = pthread_mutex_lock(&c->mu);
    KUMO_ASSERT(lk == 0);
    pd_grant_slot_t *s = &c->slots[i];
    /* A slower worker must not put back an older height over a newer one. */
    if (!s->used || s->grants.height <= grants->height) {
        s->used = true;
        memcpy(s->owner, owner, KUMO_ADDRESS_BYTES);
        memcpy(s->grantee, grantee, KUMO_ADDRESS_BYTES);
        s->dseq = dseq;
        s->grants = *grants;
    }
    lk = pthread_mutex_unlock(&c->mu);
    KUMO_ASSERT(lk == 0);
}

typedef struct pd_grant_walk {
    uint64_t dseq;
    kumo_provider_grants_t *out;
} pd_grant_walk_t;

/* One item of GET /grants: kept when it is for the deployment's dseq or for all. */
static int pd_grant_item(void *ctx, const json_t *item, kumo_err_ctx_t *err)
{
    pd_grant_walk_t *w = ctx;
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_client_object_decode(&kumo__grant__descriptor, item, &m, err));
    const Kumo__Grant *g = (const Kumo__Grant *)m;
    int rc = 0;
    if (g->granter.len != KUMO_ADDRESS_BYTES || g->grantee.len != KUMO_ADDRESS_BYTES ||
        g->n_msg_types > KUMO_GRANT_MSG_TYPE_COUNT_MAX) {
        rc = kumo_err_set(err, KUMO_EDECODE, "a grant from the node breaks its rules");
    } else if ((g->dseq == w->dseq || g->dseq == 0) &&
               w->out->count < KUMO_PROVIDER_GRANT_COUNT_MAX) {
        kumo_provider_grant_t *o = &w->out->grants[w->out->count++];
        memcpy(o->granter, g->granter.data, KUMO_ADDRESS_BYTES);
        memcpy(o->grantee, g->grantee.data, KUMO_ADDRESS_BYTES);
        o->dseq = g->dseq;
        o->expiry_height = g->expiry_height;
        o->msg_type_count = (uint32_t)g->n_msg_types;
        memcpy(o->msg_types, g->msg_types, g->n_msg_types * sizeof(uint32_t));
    }
    kumo_codec_free(m);
    return rc;
}

int pd_grants_get(pd_grant_cache_t *c,
                  kumo_client_t *client,
                  const uint8_t owner[KUMO_ADDRESS_BYTES],
                  const uint8_t grantee[KUMO_ADDRESS_BYTES],
                  uint64_t dseq,
                  kumo_provider_grants_t *out,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL && client != NULL && out != NULL);
    KUMO_ASSERT(memcmp(owner, grantee, KUMO_ADDRESS_BYTES) != 0);
    memset(out, 0, sizeof(*out));
    kumo_client_status_t st;
    KUMO_GUARD(kumo_client_status_get(client, &st, err));
    if (pd_grant_cache_find(c, owner, grantee, dseq, st.height, out)) {
        return 0;
    }
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    char grantee_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    kumo_codec_address_encode(grantee, grantee_text);
    char path[256];
    (void)snprintf(path, sizeof(path), "/grants?granter=%s&grantee=%s", owner_text, grantee_text);
    pd_grant_walk_t w = {.dseq = dseq, .out = out};
    bool more = false;
    KUMO_GUARD(kumo_client_list_each(client, path, PD_GRANT_PAGE_MAX, pd_grant_item, NULL, &w,
                                     &more, err));
    KUMO_ENSURE(!more, err, KUMO_ELIMIT, "over %u pages of grants from %s to %s", PD_GRANT_PAGE_MAX,
                owner_text, grantee_text);
    /* Read after the height was: a revoke committed between the two is already seen, and
     * the grants are no older than st.height. */
    out->height = st.height;
    pd_grant_cache_put(c, owner, grantee, dseq, out);
    return 0;
}

void pd_grant_cache_counts(pd_grant_cache_t *c, uint64_t *hits, uint64_t *misses)
{
    KUMO_ASSERT(c != NULL);
    int lk = pthread_mutex_lock(&c->mu);
    KUMO_ASSERT(lk == 0);
    *hits = c->hits;
    *misses = c->misses;
    lk = pthread_mutex_unlock(&c->mu);
    KUMO_ASSERT(lk == 0);
}
