/*
 * parts.c - who takes part in a deployment (its version and its active lease holders), cached
 * per block height, so that serving a peer a chunk costs no node query (docs/design.md §10,
 * "Chunked delivery").
 *
 * The API workers and the main thread share one table (its mutex). An entry is filled from two
 * node queries and is good only at the height and generation it was begun at: the main thread
 * moves the height on every block of its event stream and bumps the generation (dropping the
 * deployment's entries) on every event that ends a lease (closed, stale, released, refused),
 * so a provider whose lease ended is never let in from the cache, and a fill begun before such
 * an event is not stored. The cache only says yes: callers ask the node again before refusing
 * (a lease or version newer than the stream is never refused from a stale entry).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "provider/daemon_int.h"

int pd_parts_init(pd_parts_t *p, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p != NULL);
    memset(p, 0, sizeof(*p));
    KUMO_ENSURE(pthread_mutex_init(&p->mu, NULL) == 0, err, KUMO_ENOMEM, "parts mutex");
    p->ready = true;
    return 0;
}

void pd_parts_free(pd_parts_t *p)
{
    if (p != NULL && p->ready) {
        (void)pthread_mutex_destroy(&p->mu);
        p->ready = false;
    }
}

void pd_parts_height_set(pd_parts_t *p, uint64_t height)
{
    KUMO_ASSERT(p != NULL && p->ready);
    (void)pthread_mutex_lock(&p->mu);
    if (height != p->height) {
        p->height = height;
        for (uint32_t i = 0; i < PD_PARTS_MAX; i++) {
            p->e[i].used = false;
        }
        for (uint32_t i = 0; i < PD_PARTS_TARGET_MAX; i++) {
            p->t[i].used = false;
        }
    }
    (void)pthread_mutex_unlock(&p->mu);
}

void pd_parts_drop(pd_parts_t *p, const char *owner, uint64_t dseq)
{
    KUMO_ASSERT(p != NULL && p->ready);
    KUMO_ASSERT(owner != NULL);
    (void)pthread_mutex_lock(&p->mu);
    p->gen++;
    for (uint32_t i = 0; i < PD_PARTS_MAX; i++) {
        if (p->e[i].used && p->e[i].dseq == dseq && strcmp(p->e[i].owner, owner) == 0) {
            p->e[i].used = false;
        }
    }
    (void)pthread_mutex_unlock(&p->mu);
}

void pd_parts_begin(pd_parts_t *p, uint64_t *height, uint64_t *gen)
{
    KUMO_ASSERT(p != NULL && p->ready);
    (void)pthread_mutex_lock(&p->mu);
    *height = p->height;
    *gen = p->gen;
    (void)pthread_mutex_unlock(&p->mu);
}

bool pd_parts_put(pd_parts_t *p, const pd_parts_entry_t *e, uint64_t height, uint64_t gen)
{
    KUMO_ASSERT(p != NULL && p->ready && e != NULL);
    KUMO_ASSERT(e->holder_count <= PD_PARTS_HOLDER_MAX);
    (void)pthread_mutex_lock(&p->mu);
    bool fresh = height == p->height && gen == p->gen;
    if (fresh) {
        /* The deployment's own slot, else a free one, else the next in turn. */
        uint32_t at = PD_PARTS_MAX;
        for (uint32_t i = 0; i < PD_PARTS_MAX && at == PD_PARTS_MAX; i++) {
            const pd_parts_entry_t *s = &p->e[i];
            at = s->used && s->dseq == e->dseq && strcmp(s->owner, e->owner) == 0 ? i : at;
        }
        for (uint32_t i = 0; i < PD_PARTS_MAX && at == PD_PARTS_MAX; i++) {
            at = !p->e[i].used ? i : at;
        }
        if (at == PD_PARTS_MAX) {
            at = p->next;
            p->next = (p->next + 1u) % PD_PARTS_MAX;
        }
        p->e[at] = *e;
        p->e[at].used = true;
    }
    (void)pthread_mutex_unlock(&p->mu);
    return fresh;
}

bool pd_parts_get(pd_parts_t *p, const char *owner, uint64_t dseq, pd_parts_entry_t *out)
{
    KUMO_ASSERT(p != NULL && p->ready);
    KUMO_ASSERT(owner != NULL && out != NULL);
    bool hit = false;
    (void)pthread_mutex_lock(&p->mu);
    for (uint32_t i = 0; i < PD_PARTS_MAX && !hit; i++) {
        const pd_parts_entry_t *s = &p->e[i];
        if (s->used && s->dseq == dseq && strcmp(s->owner, owner) == 0) {
            *out = *s;
            hit = true;
        }
    }
    p->hits += hit ? 1u : 0u;
    p->misses += hit ? 0u : 1u;
    (void)pthread_mutex_unlock(&p->mu);
    return hit;
}

bool pd_parts_holds(const pd_parts_entry_t *e, const char *provider)
{
    KUMO_ASSERT(e != NULL && provider != NULL);
    KUMO_ASSERT(e->holder_count <= PD_PARTS_HOLDER_MAX);
    for (uint32_t i = 0; i < e->holder_count; i++) {
        if (strcmp(e->holders[i], provider) == 0) {
            return true;
        }
    }
    return false;
}

/* The deployment's state and version, then its active leases (one page), from the node. */
static int pd_parts_load(
    kumo_client_t *node, const char *owner, uint64_t dseq, pd_parts_entry_t *e, kumo_err_ctx_t *err)
{
    memset(e, 0, sizeof(*e));
    KUMO_ENSURE(strlen(owner) < sizeof(e->owner), err, KUMO_EINVAL, "owner too long");
    memcpy(e->owner, owner, strlen(owner) + 1u);
    e->dseq = dseq;
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%" PRIu64, owner, dseq);
    json_t *dep = NULL;
    int rc = kumo_client_get(node, path, &dep, err);
    if (rc == KUMO_ENOTFOUND) {
        return 0; /* unknown: no version, no holder */
    }
    KUMO_GUARD(rc);
    const char *state = json_string_value(json_object_get(dep, "state"));
    const char *hex = json_string_value(json_object_get(dep, "version"));
    size_t len = 0;
    e->active = state != NULL && strcmp(state, "DEPLOYMENT_ACTIVE") == 0 && hex != NULL &&
                kumo_codec_hex_decode(hex, e->version, sizeof(e->version), &len, NULL) == 0 &&
                len == sizeof(e->version);
    json_decref(dep);
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&state=LEASE_ACTIVE&limit=%u", owner, dseq,
                   PD_PARTS_HOLDER_MAX);
    json_t *list = NULL;
    KUMO_GUARD(kumo_client_get(node, path, &list, err));
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(list, "items"), i, l)
    {
        const char *p = json_string_value(json_object_get(json_object_get(l, "id"), "provider"));
        if (p != NULL && strlen(p) < KUMO_ADDRESS_TEXT_BYTES && !pd_parts_holds(e, p) &&
            e->holder_count < PD_PARTS_HOLDER_MAX) {
            memcpy(e->holders[e->holder_count++], p, strlen(p) + 1u);
        }
    }
    /* A full page may hide more holders: those are asked of the node one by one. */
    e->complete = json_array_size(json_object_get(list, "items")) < PD_PARTS_HOLDER_MAX;
    json_decref(list);
    KUMO_ASSERT(e->holder_count <= PD_PARTS_HOLDER_MAX);
    return 0;
}

int pd_parts_lookup(pd_parts_t *p,
                    kumo_client_t *node,
                    const char *owner,
                    uint64_t dseq,
                    bool fresh,
                    pd_parts_entry_t *out,
                    bool *cached,
                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL);
    KUMO_ASSERT(out != NULL && cached != NULL);
    *cached = p != NULL && !fresh && pd_parts_get(p, owner, dseq, out);
    if (*cached) {
        return 0;
    }
    if (p == NULL) {
        return pd_parts_load(node, owner, dseq, out, err);
    }
    uint64_t height = 0;
    uint64_t gen = 0;
    pd_parts_begin(p, &height, &gen); /* before the node is asked: a later end wins */
    KUMO_GUARD(pd_parts_load(node, owner, dseq, out, err));
    (void)pd_parts_put(p, out, height, gen);
    return 0;
}

int pd_parts_target_load(pd_parts_t *p,
                         kumo_client_t *node,
                         const char *provider,
                         pd_peer_target_t *t,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && provider != NULL && t != NULL);
    if (p == NULL) {
        return pd_peer_target_load(node, provider, t, NULL, err);
    }
    KUMO_ASSERT(p->ready);
    bool hit = false;
    (void)pthread_mutex_lock(&p->mu);
    uint64_t height = p->height;
    for (uint32_t i = 0; i < PD_PARTS_TARGET_MAX && !hit; i++) {
        const pd_parts_target_t *c = &p->t[i];
        if (c->used && strcmp(c->provider, provider) == 0) {
            memset(t, 0, sizeof(*t));
            memcpy(t->provider, c->provider, sizeof(t->provider));
            memcpy(t->uri, c->uri, sizeof(t->uri));
            kumo_buf_init(&t->root_pem, KUMO_TLS_PEM_BYTES_MAX);
            hit = kumo_buf_append(&t->root_pem, c->root_pem, c->root_len) == 0;
            if (!hit) {
                kumo_buf_free(&t->root_pem);
            }
        }
    }
    (void)pthread_mutex_unlock(&p->mu);
    if (hit) {
        return 0;
    }
    KUMO_GUARD(pd_peer_target_load(node, provider, t, NULL, err));
    KUMO_ASSERT(t->root_pem.len <= KUMO_TLS_PEM_BYTES_MAX);
    (void)pthread_mutex_lock(&p->mu);
    if (height == p->height) {
        uint32_t at = PD_PARTS_TARGET_MAX;
        for (uint32_t i = 0; i < PD_PARTS_TARGET_MAX && at == PD_PARTS_TARGET_MAX; i++) {
            at = !p->t[i].used || strcmp(p->t[i].provider, provider) == 0 ? i : at;
        }
        if (at == PD_PARTS_TARGET_MAX) {
            at = p->t_next;
            p->t_next = (p->t_next + 1u) % PD_PARTS_TARGET_MAX;
        }
        pd_parts_target_t *c = &p->t[at];
        memcpy(c->provider, t->provider, sizeof(c->provider));
        memcpy(c->uri, t->uri, sizeof(c->uri));
        memcpy(c->root_pem, t->root_pem.ptr, t->root_pem.len);
        c->root_len = t->root_pem.len;
        c->used = true;
    }
    (void)pthread_mutex_unlock(&p->mu);
    return 0;
}
