/*
 * backend.c - the provider daemon's side of the HTTPS API (provider_api.h) and the thread it
 * runs on. The thread has its own libevent loop (the API and the forwarder), its own node
 * client (src/client; each API worker another) and its own runtime connection, so it never
 * waits for the main thread:
 *   - deployment view: asked of the node at once (a manifest may come right after its lease
 *     committed, before the main thread saw the event);
 *   - manifest accept: stored fsync'd in home/deployments, then the main thread is kicked to
 *     run it; links likewise;
 *   - status and logs: from the node (leases), the stored manifest and the runtime (labels).
 * The server certificate is issued at start for a fresh key by the provider's root CA
 * (home/ca.key, ca.crt) for the host of api_listen (public_address when that is a wildcard).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "codec/codec.h"
#include "file/file.h"
#include "log/log.h"
#include "provider/api_int.h"
#include "provider/daemon_int.h"
#include "provider/provider_api.h"
#include "sdl/sdl.h"
#include "tls/tls.h"

#define PD_CERT_DAYS 30u

/* The API thread's state; each API worker gets its own copy (workers[i]) with its own node
 * and runtime handles, which is what the backend callbacks see (all but info). */
struct pd_api {
    kumo_provider_daemon_t *d;
    struct event_base *base;
    kumo_provider_api_t *api;
    kumo_overlay_fwd_t *fwd;
    kumo_client_t *client;    /* the node, this thread's own handle */
    kumo_runtime_t *runtime;  /* NULL while the runtime does not answer */
    pd_grant_cache_t *grants; /* shared by the workers (the API thread's owns it) */
    pthread_t thread;
    bool started;
    atomic_int stop;
    struct pd_api *workers[KUMO_PROVIDER_API_WORKER_MAX];
};

/* ---- backend callbacks (API thread) ---- */

/* Whether provider holds an active lease in the deployment (asked of the node). */
static int pd_be_has_lease(pd_api_t *a,
                           const char *owner,
                           uint64_t dseq,
                           const char *provider,
                           bool *out,
                           kumo_err_ctx_t *err)
{
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%" PRIu64 "&provider=%s&state=LEASE_ACTIVE&limit=1",
                   owner, dseq, provider);
    json_t *l = NULL;
    KUMO_GUARD(kumo_client_get(a->client, path, &l, err));
    *out = json_array_size(json_object_get(l, "items")) > 0;
    json_decref(l);
    return 0;
}

/* Whether provider holds an active lease in e's deployment: from e when it lists every
 * holder, else asked of the node. */
static int pd_be_holds(
    pd_api_t *a, const pd_parts_entry_t *e, const char *provider, bool *out, kumo_err_ctx_t *err)
{
    *out = pd_parts_holds(e, provider);
    if (*out || e->complete) {
        return 0;
    }
    return pd_be_has_lease(a, e->owner, e->dseq, provider, out, err);
}

/* Whether e admits a request of caller (NULL: the owner, or no caller check): the deployment
 * active, a lease here, the caller the owner or a lease holder, version (may be NULL) the
 * current one. */
static int pd_be_admits(pd_api_t *a,
                        const pd_parts_entry_t *e,
                        const char *caller,
                        const uint8_t *version,
                        bool *out,
                        kumo_err_ctx_t *err)
{
    bool here = false;
    bool peer = caller == NULL;
    *out = false;
    if (!e->active ||
        (version != NULL && memcmp(version, e->version, KUMO_CRYPTO_HASH_BYTES) != 0)) {
        return 0;
    }
    KUMO_GUARD(pd_be_holds(a, e, a->d->addr, &here, err));
    if (here && !peer) {
        KUMO_GUARD(pd_be_holds(a, e, caller, &peer, err));
    }
    *out = here && peer;
    return 0;
}

/* The participants of (owner, dseq) if they admit the request (pd_be_admits), else
 * KUMO_ENOTFOUND. The cache only admits: a refusal from it is asked again of the node, so a
 * lease or version newer than the daemon's stream is never refused. */
static int pd_be_admit(pd_api_t *a,
                       const uint8_t caller[KUMO_ADDRESS_BYTES],
                       const uint8_t owner[KUMO_ADDRESS_BYTES],
                       uint64_t dseq,
                       const uint8_t *version,
                       pd_parts_entry_t *e,
                       kumo_err_ctx_t *err)
{
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    char caller_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    kumo_codec_address_encode(caller, caller_text);
    bool by_owner = memcmp(caller, owner, KUMO_ADDRESS_BYTES) == 0;
    for (int round = 0; round < 2; round++) {
        bool cached = false;
        bool ok = false;
        KUMO_GUARD(
            pd_parts_lookup(a->d->parts, a->client, owner_text, dseq, round == 1, e, &cached, err));
        KUMO_GUARD(pd_be_admits(a, e, by_owner ? NULL : caller_text, version, &ok, err));
        if (ok) {
            return 0;
        }
        if (!cached) {
            break;
        }
    }
    return kumo_err_set(err, KUMO_ENOTFOUND, "not a participant, or not the current version");
}

/* Always asked of the node (and cached on the way): an upload may come right after its
 * lease or its new version committed, before the main thread saw the block. */
static int pd_be_view(void *ctx,
                      const uint8_t owner[KUMO_ADDRESS_BYTES],
                      uint64_t dseq,
                      kumo_provider_deployment_view_t *view,
                      kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    memset(view, 0, sizeof(*view));
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "view");
    bool cached = false;
    int rc = pd_parts_lookup(a->d->parts, a->client, owner_text, dseq, true, e, &cached, err);
    rc = rc == 0 ? pd_be_holds(a, e, a->d->addr, &view->has_lease, err) : rc;
    view->known = e->active;
    memcpy(view->version, e->version, sizeof(view->version));
    kumo_free(e);
    return rc;
}

/* The manifest must fit the deployment's leases as the chain holds them (kumo_sdl_manifest_
 * check): the Merkle root only proves it is the version the tenant put on chain. A manifest
 * that breaks the lease is refused with the rule (the API answers 422) and nothing is stored,
 * so nothing of it ever runs. chunked: its chunk store is already whole (a chunked upload). */
static int pd_be_accept_bytes(pd_api_t *a,
                              const uint8_t owner[KUMO_ADDRESS_BYTES],
                              uint64_t dseq,
                              kumo_bytes_t manifest,
                              bool chunked,
                              kumo_err_ctx_t *err)
{
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    int rc = pd_manifest_bytes_verify(a->client, owner_text, dseq, manifest, err);
    if (rc < 0) {
        KUMO_LOG_INFO("provider", "manifest_refused", "deployment=%s/%" PRIu64 " detail=\"%s\"",
                      owner_text, dseq, err != NULL ? err->detail : "");
        kumo_runtime_event_record(owner_text, dseq, 0, "manifest_refused", "-", 0,
                                  err != NULL ? err->detail : "");
        return rc;
    }
    KUMO_GUARD(pd_manifest_store(a->d->home, owner_text, dseq, manifest, err));
    KUMO_LOG_INFO("provider", "manifest_stored", "dseq=%" PRIu64 " bytes=%zu", dseq, manifest.len);
    /* Its chunks at once, so the other providers can fetch them from here; a failure here
     * only delays that (the chunk routes make them from the stored manifest). */
    pd_chunks_t c;
    kumo_err_ctx_t cerr = {0};
    if (chunked) {
        uint8_t version[KUMO_CRYPTO_HASH_BYTES];
        if (kumo_crypto_merkle_root(manifest, version) == 0) {
            pd_chunks_drop(a->d->home, owner_text, dseq, version, NULL, NULL);
        }
    } else if (pd_chunks_from_manifest(a->d->home, owner_text, dseq, manifest, PD_CHUNKS_BYTES_MAX,
                                       &c, &cerr) == 0) {
        pd_chunks_drop(a->d->home, owner_text, dseq, c.version, NULL, NULL);
    } else {
        KUMO_LOG_WARN("provider", "chunks_store_failed", "dseq=%" PRIu64 " detail=\"%s\"", dseq,
                      cerr.detail);
    }
    pd_wake(a->d);
    /* The one upload: the other lease holders are told at once (from this worker, before the
     * tenant's answer: the main thread may be in a long pass), and fetch from here. */
    pd_manifest_announce(a->d, a->client, owner_text, dseq, NULL);
    return 0;
}

static int pd_be_accept(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        kumo_bytes_t manifest,
                        kumo_err_ctx_t *err)
{
    return pd_be_accept_bytes(ctx, owner, dseq, manifest, false, err);
}

/* The chunk store of an upload of version for total bytes: one of another length (a peer's
 * lie, or the owner's earlier try) is dropped for the owner's. */
static int pd_be_upload_store(pd_api_t *a,
                              const char *owner,
                              uint64_t dseq,
                              const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                              uint64_t total_bytes,
                              pd_chunks_t *out,
                              kumo_err_ctx_t *err)
{
    int rc = pd_chunks_open(a->d->home, owner, dseq, version, total_bytes, PD_CHUNKS_BYTES_MAX, out,
                            err);
    if (rc == KUMO_EMISMATCH) {
        pd_chunks_drop(a->d->home, owner, dseq, NULL, NULL, NULL);
        rc = pd_chunks_open(a->d->home, owner, dseq, version, total_bytes, PD_CHUNKS_BYTES_MAX, out,
                            err);
    }
    return rc;
}

/* Every chunk held: the whole, its root, then the accept of a whole upload. The chunks' root
 * not being the version means the declared length was wrong (every chunk proved): the store
 * is dropped so the next try starts clean. Memory: the manifest once, here only. */
static int pd_be_upload_finish(pd_api_t *a,
                               const uint8_t owner[KUMO_ADDRESS_BYTES],
                               const char *owner_text,
                               uint64_t dseq,
                               const pd_chunks_t *c,
                               kumo_err_ctx_t *err)
{
    kumo_buf_t m;
    kumo_buf_init(&m, PD_CHUNKS_BYTES_MAX);
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_chunks_assemble(c, &m, err);
    if (rc == 0 && (kumo_crypto_merkle_root(kumo_buf_bytes(&m), root) != 0 ||
                    memcmp(root, c->version, sizeof(root)) != 0)) {
        rc = kumo_err_set(err, KUMO_EMISMATCH,
                          "the chunks' root is not the deployment's version (wrong total?)");
    }
    rc = rc == 0 ? pd_be_accept_bytes(a, owner, dseq, kumo_buf_bytes(&m), true, err) : rc;
    kumo_buf_free(&m);
    if (rc != 0 && rc != KUMO_EIO && rc != KUMO_ENOMEM) {
        /* Refused: nothing of it is kept, or served. */
        pd_chunks_drop(a->d->home, owner_text, dseq, NULL, NULL, NULL);
    }
    return rc;
}

static int pd_be_chunk_put(void *ctx,
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                           uint64_t total_bytes,
                           uint32_t index,
                           kumo_bytes_t proof,
                           kumo_bytes_t chunk,
                           kumo_provider_chunk_put_t *out,
                           kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    KUMO_ASSERT(total_bytes <= PD_CHUNKS_BYTES_MAX);
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    /* Proved before the store is even opened: a chunk that does not lead to the version leaves
     * nothing behind, not even an empty store. */
    uint32_t count = 0;
    KUMO_GUARD(kumo_crypto_merkle_chunk_count(total_bytes, &count));
    KUMO_GUARD(kumo_crypto_merkle_proof_verify(version, index, count, chunk, proof, err));
    pd_chunks_t c;
    KUMO_GUARD(pd_be_upload_store(a, owner_text, dseq, version, total_bytes, &c, err));
    KUMO_GUARD(pd_chunks_put(&c, index, proof, chunk, err));
    out->chunk_count = c.count;
    out->chunks_held = pd_chunks_held(&c);
    out->accepted = false;
    KUMO_ASSERT(out->chunks_held <= out->chunk_count);
    if (out->chunks_held < out->chunk_count) {
        return 0;
    }
    KUMO_GUARD(pd_be_upload_finish(a, owner, owner_text, dseq, &c, err));
    out->accepted = true;
    return 0;
}

static const char *pd_state_name(kumo_runtime_state_t s)
{
    switch (s) {
    case KUMO_RUNTIME_STATE_CREATED:
        return "created";
    case KUMO_RUNTIME_STATE_RUNNING:
        return "running";
    case KUMO_RUNTIME_STATE_EXITED:
        return "exited";
    default:
        return "pending";
    }
}

/* The status snapshot of one deployment (API thread). */
typedef struct pd_view {
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    uint64_t dseq;
    Kumo__Manifest *m;
    char version_hex[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    char groups[KUMO_DEPLOYMENT_GROUP_LIFE_MAX][KUMO_NAME_BYTES_MAX + 1];
    uint32_t group_count;
    bool local[KUMO_DEPLOYMENT_GROUP_LIFE_MAX];
    json_t *leases;
    kumo_runtime_container_t cs[256];
    uint32_t c_count;
} pd_view_t;

static int pd_view_load(pd_api_t *a, pd_view_t *v, kumo_err_ctx_t *err)
{
    char path[600];
    (void)snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%" PRIu64 "&provider=%s&limit=100",
                   v->owner, v->dseq, a->d->addr);
    json_t *list = NULL;
    KUMO_GUARD(kumo_client_get(a->client, path, &list, err));
    KUMO_GUARD(pd_group_names(a->client, v->owner, v->dseq, v->groups,
                              KUMO_DEPLOYMENT_GROUP_LIFE_MAX, &v->group_count, err));
    v->leases = json_array();
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(list, "items"), i, l)
    {
        const json_t *oid = json_object_get(json_object_get(l, "id"), "order");
        uint64_t gseq = pd_u64(oid, "gseq");
        const char *state = json_string_value(json_object_get(l, "state"));
        if (gseq < v->group_count && state != NULL && strcmp(state, "LEASE_ACTIVE") == 0) {
            v->local[gseq] = true;
        }
        (void)json_array_append_new(v->leases,
                                    json_pack("{s:I, s:I, s:s, s:s}", "gseq", (json_int_t)gseq,
                                              "oseq", (json_int_t)pd_u64(oid, "oseq"), "group",
                                              gseq < v->group_count ? v->groups[gseq] : "", "state",
                                              state != NULL ? state : ""));
    }
    json_decref(list);
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_manifest_load(a->d->home, v->owner, v->dseq, &v->m, version, err);
    if (rc == 0) {
        rc = kumo_codec_hex_encode(kumo_bytes_make(version, sizeof(version)), v->version_hex,
                                   sizeof(v->version_hex));
    }
    KUMO_GUARD(rc == KUMO_ENOTFOUND ? 0 : rc);
    if (a->runtime == NULL && kumo_runtime_open(a->d->cfg.runtime_socket, &a->runtime, NULL) < 0) {
        a->runtime = NULL; /* status shows every instance pending */
    }
    kumo_runtime_container_t *all = kumo_calloc(PD_CONTAINER_MAX, sizeof(*all));
    uint32_t n = 0;
    if (all != NULL && a->runtime != NULL &&
        kumo_runtime_container_list(a->runtime, "kumo.provider", a->d->addr, all, PD_CONTAINER_MAX,
                                    &n, NULL) == 0) {
        for (uint32_t k = 0; k < n && v->c_count < 256u; k++) {
            if (all[k].dseq == v->dseq && strcmp(all[k].owner, v->owner) == 0) {
                v->cs[v->c_count++] = all[k];
            }
        }
    }
    kumo_free(all);
    return 0;
}

static void pd_view_free(pd_view_t *v)
{
    if (v->m != NULL) {
        kumo_codec_free(&v->m->base);
    }
    json_decref(v->leases);
    kumo_free(v);
}

/* Whether listed container c is its instance of workload w as the deployment wants it now:
 * of the current version, or of an older one that it kept (keep.c). */
static bool pd_view_current(pd_api_t *a,
                            pd_view_t *v,
                            const Kumo__ManifestWorkload *w,
                            const kumo_runtime_container_t *c)
{
    if (strcmp(c->workload, w->name) != 0) {
        return false;
    }
    if (strcmp(c->version, v->version_hex) == 0) {
        return true;
    }
    char digest[PD_SPEC_DIGEST_TEXT_BYTES];
    return c->spec[0] != '\0' && c->instance < w->count &&
           pd_workload_digest(a->d, v->owner, v->dseq, v->m, w, c->instance, digest) &&
           strcmp(digest, c->spec) == 0;
}

/* One workload's instances, and its published ports as endpoints. */
static json_t *
pd_workload_json(pd_api_t *a, pd_view_t *v, const Kumo__ManifestWorkload *w, json_t *endpoints)
{
    json_t *inst = json_array();
    uint32_t running = 0;
    for (uint32_t i = 0; i < w->count; i++) {
        const kumo_runtime_container_t *c = NULL;
        for (uint32_t k = 0; k < v->c_count && c == NULL; k++) {
            c = v->cs[k].instance == i && pd_view_current(a, v, w, &v->cs[k]) ? &v->cs[k] : NULL;
        }
        running += c != NULL && c->state == KUMO_RUNTIME_STATE_RUNNING ? 1u : 0u;
        (void)json_array_append_new(inst,
                                    json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i, "state",
                                              pd_state_name(c != NULL ? c->state : 0), "container",
                                              c != NULL ? c->id : ""));
        for (uint32_t p = 0; c != NULL && p < c->port_count; p++) {
            const Kumo__ManifestPort *mp = NULL;
            for (size_t q = 0; q < w->n_ports && mp == NULL; q++) {
                mp = w->ports[q]->port == c->container_ports[p] ? w->ports[q] : NULL;
            }
            if (mp == NULL || c->host_ports[p] == 0) {
                continue;
            }
            char url[256];
            (void)snprintf(url, sizeof(url), "http://%s:%u", a->d->cfg.public_address,
                           c->host_ports[p]);
            (void)json_array_append_new(
                endpoints, json_pack("{s:s, s:I, s:I, s:s, s:I, s:s, s:s}", "workload", w->name,
                                     "instance", (json_int_t)i, "port", (json_int_t)mp->port,
                                     "host", a->d->cfg.public_address, "host_port",
                                     (json_int_t)c->host_ports[p], "url", url, "scope",
                                     kumo_overlay_port_global(mp) ? "global" : "deployment"));
        }
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", w->name, "group", w->group, "count",
                     (json_int_t)w->count, "running", (json_int_t)running, "instances", inst);
}

static int pd_be_status(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        json_t **out,
                        kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    pd_view_t *v = kumo_calloc(1, sizeof(*v));
    KUMO_ENSURE(v != NULL, err, KUMO_ENOMEM, "status");
    kumo_codec_address_encode(owner, v->owner);
    v->dseq = dseq;
    int rc = pd_view_load(a, v, err);
    json_t *ws = json_array();
    json_t *eps = json_array();
    for (size_t i = 0; rc == 0 && v->m != NULL && i < v->m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = v->m->workloads[i];
        bool local = false;
        for (uint32_t g = 0; g < v->group_count && !local; g++) {
            local = v->local[g] && strcmp(v->groups[g], w->group) == 0;
        }
        if (local) {
            (void)json_array_append_new(ws, pd_workload_json(a, v, w, eps));
        }
    }
    char dseq_text[24];
    (void)snprintf(dseq_text, sizeof(dseq_text), "%" PRIu64, dseq);
    *out = rc == 0 ? json_pack("{s:s, s:s, s:s, s:b, s:O, s:o, s:o, s:o*}", "owner", v->owner,
                               "dseq", dseq_text, "version", v->version_hex, "manifest",
                               v->m != NULL, "leases", v->leases, "workloads", ws, "endpoints", eps,
                               "usage", pd_usage_json(a->d, v->owner, dseq))
                   : NULL;
    if (rc < 0) {
        json_decref(ws);
        json_decref(eps);
    }
    pd_view_free(v);
    return rc;
}

/* The caller is the owner or a provider with an active lease in the deployment. */
static int pd_be_peer_check(pd_api_t *a,
                            const uint8_t caller[KUMO_ADDRESS_BYTES],
                            const uint8_t owner[KUMO_ADDRESS_BYTES],
                            uint64_t dseq,
                            kumo_err_ctx_t *err)
{
    if (memcmp(caller, owner, KUMO_ADDRESS_BYTES) == 0) {
        return 0;
    }
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    char caller_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    kumo_codec_address_encode(caller, caller_text);
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "peer check");
    bool peer = false;
    int rc = 0;
    for (int round = 0; rc == 0 && !peer && round < 2; round++) {
        bool cached = false;
        rc = pd_parts_lookup(a->d->parts, a->client, owner_text, dseq, round == 1, e, &cached, err);
        rc = rc == 0 ? pd_be_holds(a, e, caller_text, &peer, err) : rc;
        round = cached ? round : 2;
    }
    kumo_free(e);
    KUMO_GUARD(rc);
    KUMO_ENSURE(peer, err, KUMO_ENOTFOUND, "not a provider of this deployment");
    return 0;
}

/* The answer to a peer's GET .../endpoints: {"tunnels": [...]}, the LeasedWorkload exchange
 * as the last pass wrote it (home/deployments/<owner>-<dseq>.tunnels; empty before that).
 * Nothing else of a deployment is published for peers: only global ports are, and those for
 * anyone. */
static int pd_be_endpoints(pd_api_t *a,
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           kumo_buf_t *out,
                           kumo_err_ctx_t *err)
{
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    char file[PD_PATH_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    json_t *stored = pd_deployment_path(a->d->home, owner_text, dseq, PD_TUNNELS_EXT, file) == 0
                         ? json_load_file(file, JSON_REJECT_DUPLICATES, NULL)
                         : NULL;
    json_t *list = json_object_get(stored, "tunnels");
    json_t *j =
        json_pack("{s:o}", "tunnels", json_is_array(list) ? json_incref(list) : json_array());
    json_decref(stored);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = text != NULL && kumo_buf_append(out, text, strlen(text)) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_ENOMEM, "endpoints");
    free(text);
    return rc;
}

static int pd_be_peer_get(void *ctx,
                          const uint8_t caller[KUMO_ADDRESS_BYTES],
                          const uint8_t owner[KUMO_ADDRESS_BYTES],
                          uint64_t dseq,
                          const char *what,
                          kumo_buf_t *out,
                          kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    KUMO_GUARD(pd_be_peer_check(a, caller, owner, dseq, err));
    if (strcmp(what, "endpoints") == 0) {
        return pd_be_endpoints(a, owner, dseq, out, err);
    }
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    char file[PD_PATH_BYTES];
    KUMO_ENSURE(pd_deployment_path(a->d->home, owner_text, dseq, "manifest", file) == 0, err,
                KUMO_ELIMIT, "path too long");
    return kumo_file_read(file, out, err); /* out's cap: the manifest bound */
}

/* Whether the stored manifest of (owner, dseq) is of version (from its spec: cheap). */
static bool pd_be_manifest_is(pd_api_t *a,
                              const char *owner,
                              uint64_t dseq,
                              const uint8_t version[KUMO_CRYPTO_HASH_BYTES])
{
    uint8_t stored[KUMO_CRYPTO_HASH_BYTES];
    return pd_manifest_stored_version(a->d->home, owner, dseq, stored, NULL) == 0 &&
           memcmp(stored, version, sizeof(stored)) == 0;
}

/* The chunk store of the deployment's current on-chain version, for a caller that is the
 * owner or a peer, while this provider holds a lease (pd_be_admit: no node query while the
 * participants are cached): made from the whole manifest when that is stored at this version
 * and no store is (an upload before chunks, a restart). version (may be NULL) must be the
 * current one. Anything else is KUMO_ENOTFOUND. manifest (may be NULL): whether the whole
 * manifest is stored here at that version (read and hashed only when asked or needed). */
static int pd_be_chunks_current(pd_api_t *a,
                                const uint8_t caller[KUMO_ADDRESS_BYTES],
                                const uint8_t owner[KUMO_ADDRESS_BYTES],
                                uint64_t dseq,
                                const uint8_t *version,
                                pd_chunks_t *out,
                                bool *manifest,
                                kumo_err_ctx_t *err)
{
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "chunks");
    uint8_t current[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_be_admit(a, caller, owner, dseq, version, e, err);
    memcpy(current, e->version, sizeof(current));
    kumo_free(e);
    KUMO_GUARD(rc);
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    rc = pd_chunks_load(a->d->home, owner_text, dseq, current, PD_CHUNKS_BYTES_MAX, out, err);
    /* No store, or one whose length file a crash cut short: made again from the whole. */
    bool missing = rc == KUMO_ENOTFOUND || rc == KUMO_ECORRUPT;
    if (!missing && manifest == NULL) {
        return rc;
    }
    bool whole = pd_be_manifest_is(a, owner_text, dseq, current);
    if (missing && whole) {
        kumo_buf_t m;
        kumo_buf_init(&m, PD_CHUNKS_BYTES_MAX);
        char file[PD_PATH_BYTES];
        rc = pd_deployment_path(a->d->home, owner_text, dseq, "manifest", file);
        rc = rc == 0 ? kumo_file_read(file, &m, err) : rc;
        rc = rc == 0 ? pd_chunks_from_manifest(a->d->home, owner_text, dseq, kumo_buf_bytes(&m),
                                               PD_CHUNKS_BYTES_MAX, out, err)
                     : rc;
        kumo_buf_free(&m);
    }
    if (manifest != NULL) {
        *manifest = whole;
    }
    return rc;
}

static int pd_be_chunk_info(void *ctx,
                            const uint8_t caller[KUMO_ADDRESS_BYTES],
                            const uint8_t owner[KUMO_ADDRESS_BYTES],
                            uint64_t dseq,
                            kumo_provider_chunk_info_t *out,
                            kumo_err_ctx_t *err)
{
    pd_chunks_t c;
    bool manifest = false;
    KUMO_GUARD(pd_be_chunks_current(ctx, caller, owner, dseq, NULL, &c, &manifest, err));
    memcpy(out->version, c.version, sizeof(out->version));
    out->total_bytes = c.total_bytes;
    out->chunk_count = c.count;
    out->chunks_held = pd_chunks_held(&c);
    out->manifest = manifest;
    /* A store opened by a fetch that got nothing yet holds nothing to serve. */
    KUMO_ENSURE(out->chunks_held > 0 || manifest, err, KUMO_ENOTFOUND, "no chunk held yet");
    return 0;
}

static int pd_be_chunk_get(void *ctx,
                           const uint8_t caller[KUMO_ADDRESS_BYTES],
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                           uint32_t index,
                           kumo_buf_t *out,
                           kumo_err_ctx_t *err)
{
    pd_chunks_t c;
    /* Only the current version is served: a stale one is refused like anything unknown. */
    KUMO_GUARD(pd_be_chunks_current(ctx, caller, owner, dseq, version, &c, NULL, err));
    KUMO_ASSERT(memcmp(version, c.version, KUMO_CRYPTO_HASH_BYTES) == 0);
    KUMO_ENSURE(pd_chunks_has(&c, index), err, KUMO_ENOTFOUND, "chunk not held");
    int rc = pd_chunks_get(&c, index, out, err);
    if (rc == KUMO_ECORRUPT) {
        KUMO_LOG_ERROR("provider", "chunk_corrupt",
                       "dseq=%" PRIu64 " index=%" PRIu32 " detail=\"%s\"", dseq, index,
                       err != NULL ? err->detail : "");
    }
    return rc;
}

static int pd_be_manifest_have(void *ctx,
                               const uint8_t caller[KUMO_ADDRESS_BYTES],
                               const uint8_t owner[KUMO_ADDRESS_BYTES],
                               uint64_t dseq,
                               const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                               kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    pd_parts_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "have");
    int rc = pd_be_admit(a, caller, owner, dseq, version, e, err);
    kumo_free(e);
    KUMO_GUARD(rc);
    pd_mq_item_t item;
    memset(&item, 0, sizeof(item));
    kumo_codec_address_encode(owner, item.owner);
    item.dseq = dseq;
    if (memcmp(caller, owner, KUMO_ADDRESS_BYTES) != 0) {
        kumo_codec_address_encode(caller, item.peer);
    }
    if (!pd_be_manifest_is(a, item.owner, dseq, version)) {
        pd_mq_add(a->d, &item); /* the main thread checks again and fetches */
    }
    return 0;
}

static int pd_be_logs(void *ctx,
                      const uint8_t owner[KUMO_ADDRESS_BYTES],
                      uint64_t dseq,
                      const char *workload,
                      uint32_t tail,
                      kumo_buf_t *out,
                      kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    pd_view_t *v = kumo_calloc(1, sizeof(*v));
    KUMO_ENSURE(v != NULL, err, KUMO_ENOMEM, "logs");
    kumo_codec_address_encode(owner, v->owner);
    v->dseq = dseq;
    int rc = pd_view_load(a, v, err);
    bool found = false;
    for (uint32_t k = 0; rc == 0 && k < v->c_count; k++) {
        if (strcmp(v->cs[k].workload, workload) == 0) {
            found = true;
            rc = kumo_runtime_container_logs(a->runtime, v->cs[k].id, tail, out, err);
        }
    }
    pd_view_free(v);
    KUMO_GUARD(rc);
    KUMO_ENSURE(found, err, KUMO_ENOTFOUND, "no instance of workload %s runs here", workload);
    return 0;
}

/* ---- stamped log lines ---- */

/* Appends the lines of raw (runtime log lines) written at or after since_ns to out as
 * "<prefix> <ns> <text>": the last tail, then the first limit (0: no cut). */
static int pd_lines_emit(kumo_bytes_t raw,
                         const char *prefix,
                         uint64_t since_ns,
                         uint32_t tail,
                         uint32_t limit,
                         kumo_buf_t *out)
{
    uint64_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t skip = pass == 1 && tail > 0 && count > tail ? count - tail : 0;
        uint64_t index = 0;
        uint64_t emitted = 0;
        uint64_t last_ns = 0;
        size_t pos = 0;
        while (pos < raw.len) {
            const uint8_t *nl = memchr(raw.ptr + pos, '\n', raw.len - pos);
            size_t end = nl != NULL ? (size_t)(nl - raw.ptr) + 1u : raw.len;
            uint64_t ns = 0;
            kumo_bytes_t text;
            bool ok = kumo_runtime_log_line_parse(kumo_bytes_make(raw.ptr + pos, end - pos), &ns,
                                                  &text, NULL) == 0 &&
                      ns >= since_ns && ns >= last_ns;
            pos = end;
            if (!ok) {
                continue;
            }
            last_ns = ns;
            if (pass == 0) {
                count++;
                continue;
            }
            if (index++ < skip || (limit > 0 && emitted >= limit)) {
                continue;
            }
            char head[KUMO_NAME_BYTES_MAX + 48];
            int n = snprintf(head, sizeof(head), "%s %" PRIu64 " ", prefix, ns);
            KUMO_GUARD(kumo_buf_append(out, head, (size_t)n));
            KUMO_GUARD(kumo_buf_append(out, text.ptr, text.len));
            KUMO_GUARD(kumo_buf_append(out, "\n", 1));
            emitted++;
        }
    }
    return 0;
}

/* One instance's lines: those kept from its replaced containers, then its container's. */
static int pd_instance_lines(pd_api_t *a,
                             const kumo_runtime_container_t *c,
                             uint64_t since_ns,
                             uint32_t tail,
                             uint32_t limit,
                             kumo_buf_t *out,
                             kumo_err_ctx_t *err)
{
    kumo_buf_t raw;
    kumo_buf_init(&raw, KUMO_RUNTIME_KEPT_LOG_BYTES_MAX + KUMO_RUNTIME_ANSWER_BYTES_MAX);
    char path[PD_PATH_BYTES];
    FILE *f = kumo_runtime_logs_kept_path(c->name, path, sizeof(path)) ? fopen(path, "rb") : NULL;
    int rc = 0;
    if (f != NULL) {
        uint8_t buf[8192];
        size_t n = 0;
        while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
            rc = kumo_buf_append(&raw, buf, n);
        }
        (void)fclose(f);
    }
    /* kept just before its removal, c's lines are also its own: taken from it alone */
    raw.len = kumo_runtime_logs_kept_before(kumo_buf_bytes(&raw), c->id);
    rc = rc == 0 ? kumo_runtime_container_logs_since(a->runtime, c->id, since_ns / 1000000000u,
                                                     tail, &raw, err)
                 : rc;
    char prefix[KUMO_NAME_BYTES_MAX + 16];
    (void)snprintf(prefix, sizeof(prefix), "%s/%u", c->workload, c->instance);
    rc = rc == 0 ? pd_lines_emit(kumo_buf_bytes(&raw), prefix, since_ns, tail, limit, out) : rc;
    kumo_buf_free(&raw);
    KUMO_ENSURE(rc != KUMO_ELIMIT, err, KUMO_ELIMIT, "logs over the answer's limit: ask for less");
    return rc;
}

static int pd_be_log_lines(void *ctx,
                           const uint8_t owner[KUMO_ADDRESS_BYTES],
                           uint64_t dseq,
                           const char *workload,
                           uint64_t since_ns,
                           uint32_t tail,
                           uint32_t limit,
                           kumo_buf_t *out,
                           kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    pd_view_t *v = kumo_calloc(1, sizeof(*v));
    KUMO_ENSURE(v != NULL, err, KUMO_ENOMEM, "logs");
    kumo_codec_address_encode(owner, v->owner);
    v->dseq = dseq;
    int rc = pd_view_load(a, v, err);
    rc = rc == 0 && a->runtime == NULL ? kumo_err_set(err, KUMO_EIO, "the runtime does not answer")
                                       : rc;
    bool found = false;
    for (uint32_t k = 0; rc == 0 && k < v->c_count; k++) {
        if (workload[0] == '\0' || strcmp(v->cs[k].workload, workload) == 0) {
            found = true;
            rc = pd_instance_lines(a, &v->cs[k], since_ns, tail, limit, out, err);
        }
    }
    pd_view_free(v);
    KUMO_GUARD(rc);
    KUMO_ENSURE(found || workload[0] == '\0', err, KUMO_ENOTFOUND,
                "no instance of workload %s runs here", workload);
    return 0;
}

/* ---- the runtime's journal ---- */

static int pd_be_events(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        uint64_t since_ns,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    (void)ctx;
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    char path[PD_PATH_BYTES];
    FILE *f =
        kumo_runtime_events_path(owner_text, dseq, path, sizeof(path)) ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        return 0; /* nothing happened here yet */
    }
    char line[KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX + 256];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        kumo_provider_event_line_t ev;
        if (kumo_provider_event_line_parse(kumo_bytes_make(line, strlen(line)), &ev, NULL) == 0 &&
            ev.time_ns >= since_ns) {
            rc = kumo_buf_append(out, line, strlen(line));
        }
    }
    (void)fclose(f);
    KUMO_ENSURE(rc == 0, err, KUMO_ELIMIT, "events over the answer's limit: ask from later");
    return 0;
}

/* ---- shell sessions ---- */

_Static_assert(KUMO_PROVIDER_SHELL_EXEC_ID_BYTES == KUMO_RUNTIME_ID_BYTES_MAX,
               "an exec id of the runtime fits the stream's");

/* The running container of an instance of a workload of the deployment here (current
 * version), into id. KUMO_ENOTFOUND when there is none, KUMO_EINVAL when it does not run. */
static int pd_be_shell_container(pd_api_t *a,
                                 const uint8_t owner[KUMO_ADDRESS_BYTES],
                                 uint64_t dseq,
                                 const kumo_provider_shell_request_t *rq,
                                 char id[KUMO_RUNTIME_ID_BYTES_MAX],
                                 kumo_err_ctx_t *err)
{
    pd_view_t *v = kumo_calloc(1, sizeof(*v));
    KUMO_ENSURE(v != NULL, err, KUMO_ENOMEM, "shell");
    kumo_codec_address_encode(owner, v->owner);
    v->dseq = dseq;
    int rc = pd_view_load(a, v, err);
    const kumo_runtime_container_t *c = NULL;
    const Kumo__ManifestWorkload *w = NULL;
    for (size_t k = 0; rc == 0 && v->m != NULL && k < v->m->n_workloads && w == NULL; k++) {
        w = strcmp(v->m->workloads[k]->name, rq->workload) == 0 ? v->m->workloads[k] : NULL;
    }
    for (uint32_t k = 0; rc == 0 && w != NULL && k < v->c_count && c == NULL; k++) {
        c = v->cs[k].instance == rq->instance && pd_view_current(a, v, w, &v->cs[k]) ? &v->cs[k]
                                                                                     : NULL;
    }
    if (rc == 0 && c == NULL) {
        rc = kumo_err_set(err, KUMO_ENOTFOUND,
                          "no instance %u of workload '%s' of this deployment runs here",
                          rq->instance, rq->workload);
    } else if (rc == 0 && c->state != KUMO_RUNTIME_STATE_RUNNING) {
        rc = kumo_err_set(err, KUMO_EINVAL, "instance %u of workload '%s' is %s, not running",
                          rq->instance, rq->workload, pd_state_name(c->state));
    } else if (rc == 0) {
        (void)snprintf(id, KUMO_RUNTIME_ID_BYTES_MAX, "%s", c->id);
    }
    pd_view_free(v);
    return rc;
}

static int pd_be_runtime(pd_api_t *a, kumo_err_ctx_t *err)
{
    if (a->runtime == NULL) {
        KUMO_GUARD(kumo_runtime_open(a->d->cfg.runtime_socket, &a->runtime, err));
    }
    return 0;
}

static int pd_be_shell_open(void *ctx,
                            const uint8_t owner[KUMO_ADDRESS_BYTES],
                            uint64_t dseq,
                            const kumo_provider_shell_request_t *rq,
                            kumo_provider_shell_stream_t *out,
                            kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    static const char *const sh[] = {"/bin/sh", NULL};
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    KUMO_GUARD(pd_be_shell_container(a, owner, dseq, rq, id, err));
    KUMO_GUARD(pd_be_runtime(a, err));
    const char *const *argv = rq->argc > 0 ? rq->argv : sh;
    KUMO_GUARD(kumo_runtime_exec_create(a->runtime, id, argv, rq->tty, out->exec_id, err));
    kumo_buf_init(&out->early, KUMO_RUNTIME_EXEC_HEAD_BYTES_MAX);
    out->tty = rq->tty;
    int rc = kumo_runtime_exec_start(a->runtime, out->exec_id, rq->tty, &out->fd, &out->early, err);
    if (rc < 0) {
        kumo_buf_free(&out->early);
        out->fd = -1;
        return rc;
    }
    if (rq->tty &&
        kumo_runtime_exec_resize(a->runtime, out->exec_id, rq->rows, rq->cols, NULL) < 0) {
        KUMO_LOG_DEBUG("provider", "shell_resize_failed", "exec=%.12s", out->exec_id);
    }
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    KUMO_LOG_INFO("provider", "shell_started",
                  "deployment=%s/%" PRIu64 " workload=%s instance=%u tty=%d exec=%.12s", owner_text,
                  dseq, rq->workload, rq->instance, rq->tty ? 1 : 0, out->exec_id);
    return 0;
}

static int pd_be_shell_resize(
    void *ctx, const char *exec_id, uint16_t rows, uint16_t cols, kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    KUMO_GUARD(pd_be_runtime(a, err));
    return kumo_runtime_exec_resize(a->runtime, exec_id, rows, cols, err);
}

static int
pd_be_shell_exit(void *ctx, const char *exec_id, bool *running, int *exit_code, kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    KUMO_GUARD(pd_be_runtime(a, err));
    return kumo_runtime_exec_inspect(a->runtime, exec_id, running, exit_code, err);
}

static int pd_be_info(void *ctx, json_t **out, kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    *out = json_pack("{s:s, s:s, s:s, s:I}", "provider", a->d->addr, "region", a->d->cfg.region,
                     "public_address", a->d->cfg.public_address, "forwards",
                     (json_int_t)kumo_overlay_fwd_listening(a->fwd));
    KUMO_ENSURE(*out != NULL, err, KUMO_ENOMEM, "info");
    return 0;
}

static int pd_be_grants(void *ctx,
                        const uint8_t owner[KUMO_ADDRESS_BYTES],
                        const uint8_t grantee[KUMO_ADDRESS_BYTES],
                        uint64_t dseq,
                        kumo_provider_grants_t *out,
                        kumo_err_ctx_t *err)
{
    pd_api_t *a = ctx;
    KUMO_ASSERT(a->grants != NULL);
    int rc = pd_grants_get(a->grants, a->client, owner, grantee, dseq, out, err);
    if (rc < 0) {
        KUMO_LOG_WARN("provider", "grants_unknown", "dseq=%" PRIu64 " code=%s detail=%s", dseq,
                      kumo_err_name(rc), err != NULL ? err->detail : "");
    }
    return rc;
}

/* Worker i's copy of the API state: the same daemon, its own node handle (the runtime is
 * opened at its first use). NULL when it cannot be made: the worker then answers 500s. */
static void *pd_be_worker_ctx(void *ctx, uint32_t worker_index)
{
    pd_api_t *a = ctx;
    KUMO_ASSERT(worker_index < KUMO_PROVIDER_API_WORKER_MAX);
    KUMO_ASSERT(a->workers[worker_index] == NULL);
    pd_api_t *w = kumo_calloc(1, sizeof(*w));
    if (w == NULL) {
        return a; /* serialised by nothing: only when out of memory at start */
    }
    w->d = a->d;
    w->fwd = a->fwd;
    w->grants = a->grants;
    if (kumo_client_open(a->d->cfg.node_url, NULL, &w->client, NULL) < 0) {
        kumo_free(w);
        return a; /* as out of memory: the URL itself was checked when the daemon opened */
    }
    a->workers[worker_index] = w;
    return w;
}

static void pd_be_workers_free(pd_api_t *a)
{
    for (uint32_t i = 0; i < KUMO_PROVIDER_API_WORKER_MAX; i++) {
        pd_api_t *w = a->workers[i];
        if (w != NULL) {
            kumo_runtime_close(w->runtime);
            kumo_client_close(w->client);
            kumo_free(w);
            a->workers[i] = NULL;
        }
    }
}

/* ---- the thread ---- */

static void *pd_api_loop(void *arg)
{
    pd_api_t *a = arg;
    while (atomic_load(&a->stop) == 0) {
        pd_tun_loop_turn(a->d); /* the tunnels the last pass wants */
        struct timeval tv = {0, 100000};
        (void)event_base_loopexit(a->base, &tv);
        (void)event_base_dispatch(a->base);
    }
    return NULL;
}

/* The server certificate chain (leaf, root) for a fresh key, issued by home/ca.key. */
static int pd_api_cert(kumo_provider_daemon_t *d,
                       kumo_crypto_keypair_t *srv,
                       kumo_buf_t *chain,
                       kumo_err_ctx_t *err)
{
    char path[PD_PATH_BYTES];
    kumo_buf_t pem;
    kumo_buf_t crt;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&crt, KUMO_TLS_PEM_BYTES_MAX);
    kumo_crypto_keypair_t ca;
    char host[128];
    (void)snprintf(host, sizeof(host), "%s", d->cfg.api_listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL) {
        *colon = '\0';
    }
    const char *name =
        host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ? d->cfg.public_address : host;
    (void)snprintf(path, sizeof(path), "%s/ca.key", d->home);
    int rc = kumo_file_read(path, &pem, err);
    rc = rc == 0 ? kumo_tls_key_from_pem(kumo_buf_bytes(&pem), &ca, err) : rc;
    (void)snprintf(path, sizeof(path), "%s/ca.crt", d->home);
    rc = rc == 0 ? kumo_file_read(path, &crt, err) : rc;
    rc = rc == 0 ? kumo_crypto_key_generate(srv) : rc;
    rc = rc == 0 ? kumo_tls_cert_issue(&ca, kumo_buf_bytes(&crt), srv->pubkey, name, PD_CERT_DAYS,
                                       chain, err)
                 : rc;
    rc = rc == 0 ? kumo_buf_append(chain, crt.ptr, crt.len) : rc;
    if (pem.ptr != NULL) {
        sodium_memzero(pem.ptr, pem.len);
    }
    kumo_buf_free(&pem);
    kumo_buf_free(&crt);
    kumo_crypto_key_wipe(&ca);
    return rc;
}

/* Logs of replaced containers are kept in home/logs (kumo_runtime_logs_keep_dir_set), so an
 * instance's logs continue across a crash or an update. */
static void pd_logs_keep_start(const kumo_provider_daemon_t *d)
{
    char dir[PD_PATH_BYTES];
    int n = snprintf(dir, sizeof(dir), "%s/logs", d->home);
    if (n > 0 && (size_t)n < 512u && (mkdir(dir, 0700) == 0 || errno == EEXIST)) {
        kumo_runtime_logs_keep_dir_set(dir);
    } else {
        KUMO_LOG_WARN("provider", "logs_keep_off", "dir=%s", dir);
    }
    n = snprintf(dir, sizeof(dir), "%s/events", d->home);
    if (n > 0 && (size_t)n < 512u && (mkdir(dir, 0700) == 0 || errno == EEXIST)) {
        kumo_runtime_events_dir_set(dir);
    } else {
        KUMO_LOG_WARN("provider", "events_off", "dir=%s", dir);
    }
}

int pd_api_start(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    pd_api_t *a = kumo_calloc(1, sizeof(*a));
    KUMO_ENSURE(a != NULL, err, KUMO_ENOMEM, "api");
    d->api = a;
    a->d = d;
    a->base = event_base_new();
    KUMO_ENSURE(a->base != NULL, err, KUMO_ENOMEM, "api loop");
    KUMO_GUARD(kumo_client_open(d->cfg.node_url, NULL, &a->client, err));
    KUMO_GUARD(pd_grant_cache_new(&a->grants, err));
    if (kumo_runtime_open(d->cfg.runtime_socket, &a->runtime, NULL) < 0) {
        a->runtime = NULL; /* tried again at the first status */
    }
    pd_logs_keep_start(d);
    kumo_crypto_keypair_t srv;
    kumo_buf_t chain;
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    int rc = pd_api_cert(d, &srv, &chain, err);
    kumo_provider_api_backend_t be = {.ctx = a,
                                      .deployment_view = pd_be_view,
                                      .manifest_accept = pd_be_accept,
                                      .status = pd_be_status,
                                      .logs = pd_be_logs,
                                      .log_lines = pd_be_log_lines,
                                      .events = pd_be_events,
                                      .info = pd_be_info,
                                      .peer_get = pd_be_peer_get,
                                      .chunk_info = pd_be_chunk_info,
                                      .chunk_get = pd_be_chunk_get,
                                      .manifest_have = pd_be_manifest_have,
                                      .shell_open = pd_be_shell_open,
                                      .shell_resize = pd_be_shell_resize,
                                      .shell_exit = pd_be_shell_exit,
                                      .worker_ctx = pd_be_worker_ctx,
                                      .chunk_put = pd_be_chunk_put,
                                      .grants = pd_be_grants};
    kumo_provider_api_cfg_t cfg = {.listen = d->cfg.api_listen,
                                   .server_cert_pem = kumo_buf_bytes(&chain),
                                   .server_key = &srv,
                                   .connection_max = d->cfg.api_connection_max,
                                   .connection_per_addr_max = d->cfg.api_connection_per_addr_max,
                                   .request_timeout_ms = d->cfg.api_request_timeout_ms};
    uint64_t nofile = kumo_overlay_nofile_raise();
    kumo_overlay_fwd_cfg_t fc = {
        .connection_max = d->cfg.forward_connection_max,
        .connection_per_source_max = d->cfg.forward_connection_per_source_max,
        .connection_per_workload_max = d->cfg.forward_connection_per_workload_max};
    rc = rc == 0 ? pd_peer_tls(d, err) : rc;
    rc = rc == 0 ? kumo_overlay_fwd_open(a->base, &fc, &a->fwd, err) : rc;
    rc = rc == 0 ? pd_tun_start(d, a->base, err) : rc;
    rc = rc == 0 ? kumo_provider_api_open(&cfg, a->base, &be, &a->api, err) : rc;
    rc = rc == 0 ? pd_metrics_open(d, a->base, a->fwd, err) : rc;
    kumo_crypto_key_wipe(&srv);
    kumo_buf_free(&chain);
    KUMO_GUARD(rc);
    KUMO_ENSURE(pthread_create(&a->thread, NULL, pd_api_loop, a) == 0, err, KUMO_ENOMEM,
                "api thread");
    a->started = true;
    KUMO_LOG_INFO("provider", "api_listening",
                  "at=%s nofile=%" PRIu64 " forward_connection_max=%u per_source_max=%u",
                  kumo_provider_api_listen_addr(a->api), nofile,
                  kumo_overlay_fwd_connection_max(a->fwd),
                  d->cfg.forward_connection_per_source_max);
    return 0;
}

void pd_api_forwards(kumo_provider_daemon_t *d, const kumo_overlay_fwd_entry_t *e, uint32_t count)
{
    if (d->api != NULL && d->api->fwd != NULL) {
        kumo_overlay_fwd_set(d->api->fwd, e, count);
    }
}

void pd_api_stop(kumo_provider_daemon_t *d)
{
    pd_api_t *a = d->api;
    if (a == NULL) {
        return;
    }
    if (a->started) {
        atomic_store(&a->stop, 1);
        (void)pthread_join(a->thread, NULL);
    }
    pd_metrics_close(d);
    pd_tun_stop(d);                  /* the loop is stopped: its tunnels close here */
    kumo_provider_api_close(a->api); /* joins its workers */
    pd_be_workers_free(a);
    kumo_overlay_fwd_close(a->fwd);
    kumo_runtime_close(a->runtime);
    kumo_client_close(a->client);
    pd_grant_cache_free(a->grants);
    if (a->base != NULL) {
        event_base_free(a->base);
    }
    kumo_free(a);
    d->api = NULL;
}
