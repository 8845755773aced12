/*
 * work.c - the provider's leased workloads (main thread). Each pass is a reconcile from
 * scratch, so a restarted daemon (kill -9 included) picks up exactly where the last one was:
 *   - the leases: this provider's active and closing leases, read from the node;
 *   - the wanted containers: for every active lease whose deployment's manifest is stored
 *     (home/deployments/<owner>-<dseq>.manifest), every instance of every workload placed in
 *     the lease's group, named kumo-<provider>-<owner>-<dseq>-<workload>-<i> and labelled with
 *     the lease, the manifest version and the digest of its spec (keep.c);
 *   - the running containers: listed from the runtime by the kumo.provider label.
 * A wanted container that is missing, exited, or of another version and another spec digest is
 * (re)created (a new version keeps the containers whose own spec did not change); a
 * container no active lease wants is removed (closing leases, stale ones, old groups), and so
 * is a network no active lease uses. Workloads reach each other by name through the
 * overlay forwarder (overlay/overlay.h): every workload name is in each container's /etc/hosts as
 * the deployment network's gateway, where the daemon forwards the target's ports to its containers
 * here or to the tunnel to its provider (tunnels.c). Each pass has two
 * rounds: one that only looks and confirms the leases that run (before any slow container start),
 * one that creates and removes and then confirms what became healthy: active leases whose
 * containers all run (or whose manifest has not come yet: the provider stands ready), and
 * `released` for closing leases whose containers are gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codec/codec.h"
#include "file/file.h"
#include "log/log.h"
#include "provider/daemon_int.h"
#include "sdl/sdl.h"

#define PD_CONFIRM_BATCH_MAX 64u
#define PD_RESEND_BLOCKS     5u
/* A lease without its manifest asks the deployment's other providers every this many
 * blocks (the tenant usually uploads within a block of the lease). */
#define PD_FETCH_EVERY 2u
/* Blocks a new lease waits before its passes ask the peers for a missing manifest: until
 * then it comes on an announcement (the provider the tenant uploaded to tells every lease
 * holder, and holders tell a new one), and the passes of N new providers asking N - 1 peers
 * each that hold nothing yet would only delay it (TLS handshakes on every one of them). */
#define PD_FETCH_GRACE_BLOCKS 4u
/* A new lease without its manifest counts as waiting for a start this long (pd_hold_waiting):
 * `kumo deploy` uploads as soon as every group of the deployment is leased. */
#define PD_MANIFEST_GRACE_BLOCKS 5u
/* Networks no lease uses are looked for after a deployment ended and at least this often. */
#define PD_NET_SWEEP_EVERY 60u
/* Networks a pass may look up itself (a restarted daemon finds its networks again). */
#define PD_NET_INSPECT_MAX 16u
#define PD_NET_SWEEP_KEY   "networks"
/* The isolation script of every network (a few hundred bytes each). */
#define PD_ISOLATION_BYTES_MAX (4u * 1024u * 1024u)
_Static_assert(sizeof(((pd_spec_mem_t *)0)->workload) > KUMO_SDL_NAME_BYTES_MAX,
               "a workload name fits a job");

typedef char pd_name_t[KUMO_NAME_BYTES_MAX + 1];

/* What one pass learns about one deployment. */
typedef struct pd_dep {
    const char *owner;
    uint64_t dseq;
    Kumo__Manifest *m; /* NULL: no manifest stored yet */
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    char version_hex[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    bool mismatch; /* the stored manifest breaks the lease (detail says how) */
    char mismatch_detail[KUMO_REFUSE_DETAIL_BYTES_MAX + 1];
    pd_name_t groups[KUMO_DEPLOYMENT_GROUP_LIFE_MAX]; /* by gseq, closed ones included */
    uint32_t group_count;
    pd_groups_t *g; /* the groups as the node listed them (NULL: not read) */
    char network[KUMO_RUNTIME_NAME_BYTES_MAX];
    char gateway[64];
    bool isolated; /* the isolation rules cover its network: containers may start */
} pd_dep_t;

/* ---- paths and stored files ---- */

int pd_deployment_path(
    const char *home, const char *owner, uint64_t dseq, const char *ext, char out[PD_PATH_BYTES])
{
    int n =
        snprintf(out, PD_PATH_BYTES, "%s/deployments/%s-%" PRIu64 ".%s", home, owner, dseq, ext);
    return n > 0 && (size_t)n < PD_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

int pd_deployment_version_path(const char *home,
                               const char *owner,
                               uint64_t dseq,
                               const char *prefix,
                               const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                               char out[PD_PATH_BYTES])
{
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    KUMO_GUARD(
        kumo_codec_hex_encode(kumo_bytes_make(version, KUMO_CRYPTO_HASH_BYTES), hex, sizeof(hex)));
    char ext[PD_PATH_BYTES];
    int n = snprintf(ext, sizeof(ext), "%s%s", prefix, hex);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(ext));
    return pd_deployment_path(home, owner, dseq, ext, out);
}

int pd_deployment_store(const char *home,
                        const char *owner,
                        uint64_t dseq,
                        const char *ext,
                        kumo_bytes_t data,
                        kumo_err_ctx_t *err)
{
    char dir[PD_PATH_BYTES];
    char path[PD_PATH_BYTES];
    int n = snprintf(dir, sizeof(dir), "%s/deployments", home);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(dir) &&
                    pd_deployment_path(home, owner, dseq, ext, path) == 0,
                err, KUMO_ELIMIT, "path too long");
    KUMO_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir,
                strerror(errno));
    return kumo_file_write(path, data, 0600, err);
}

void pd_groups_free(pd_groups_t *g)
{
    KUMO_ASSERT(g->count <= KUMO_DEPLOYMENT_GROUP_LIFE_MAX);
    for (uint32_t i = 0; i < g->count; i++) {
        kumo_codec_free(g->msgs[i]);
    }
    memset(g, 0, sizeof(*g));
}

int pd_groups_load(
    kumo_client_t *c, const char *owner, uint64_t dseq, pd_groups_t *out, kumo_err_ctx_t *err)
{
    memset(out, 0, sizeof(*out));
    char path[256];
    (void)snprintf(path, sizeof(path), "/groups?owner=%s&dseq=%" PRIu64 "&limit=%u", owner, dseq,
                   KUMO_DEPLOYMENT_GROUP_LIFE_MAX);
    json_t *list = NULL;
    kumo_err_ctx_t nerr = {0};
    if (kumo_client_get(c, path, &list, &nerr) < 0) {
        return kumo_err_set(err, KUMO_EIO, "the deployment's groups: %s", nerr.detail);
    }
    const json_t *items = json_object_get(list, "items");
    int rc =
        json_array_size(items) <= KUMO_DEPLOYMENT_GROUP_LIFE_MAX
            ? 0
            : kumo_err_set(err, KUMO_EIO, "the node listed %zu groups", json_array_size(items));
    size_t i;
    const json_t *g;
    json_array_foreach(items, i, g)
    {
        if (rc != 0) {
            break;
        }
        /* The node lists a deployment's groups by gseq: position = gseq. */
        rc = pd_u64(g, "gseq") == i && kumo_codec_json_to_message(&kumo__group_spec__descriptor,
                                                                  json_object_get(g, "spec"),
                                                                  &out->msgs[i], &nerr) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_EIO, "group %zu from the node: %s", i, nerr.detail);
        if (rc == 0) {
            out->specs[i] = (Kumo__GroupSpec *)out->msgs[i];
            out->count++;
        }
    }
    json_decref(list);
    KUMO_ASSERT(out->count <= KUMO_DEPLOYMENT_GROUP_LIFE_MAX);
    return rc;
}

int pd_manifest_verify(kumo_client_t *c,
                       const char *owner,
                       uint64_t dseq,
                       const Kumo__Manifest *m,
                       pd_groups_t *groups,
                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL);
    KUMO_GUARD(pd_groups_load(c, owner, dseq, groups, err));
    return kumo_sdl_manifest_check(m, groups->specs, groups->count, err);
}

int pd_manifest_bytes_verify(
    kumo_client_t *c, const char *owner, uint64_t dseq, kumo_bytes_t bytes, kumo_err_ctx_t *err)
{
    pd_groups_t *g = kumo_calloc(1, sizeof(*g));
    KUMO_ENSURE(g != NULL, err, KUMO_ENOMEM, "groups");
    Kumo__Manifest *m = NULL;
    int rc = kumo_sdl_manifest_decode(bytes, &m, err);
    if (rc == 0) {
        rc = pd_manifest_verify(c, owner, dseq, m, g, err);
        kumo_codec_free(&m->base);
    }
    pd_groups_free(g);
    kumo_free(g);
    return rc;
}

int pd_group_names(kumo_client_t *c,
                   const char *owner,
                   uint64_t dseq,
                   char (*names)[KUMO_NAME_BYTES_MAX + 1],
                   uint32_t cap,
                   uint32_t *count,
                   kumo_err_ctx_t *err)
{
    pd_groups_t *g = kumo_calloc(1, sizeof(*g));
    KUMO_ENSURE(g != NULL, err, KUMO_ENOMEM, "groups");
    int rc = pd_groups_load(c, owner, dseq, g, err);
    *count = 0;
    for (uint32_t i = 0; rc == 0 && i < g->count && i < cap; i++) {
        (void)snprintf(names[i], KUMO_NAME_BYTES_MAX + 1, "%s", g->specs[i]->name);
        *count = i + 1u;
    }
    pd_groups_free(g);
    kumo_free(g);
    return rc;
}

/* ---- reading the chain and the runtime ---- */

static void pd_lease_add(kumo_provider_daemon_t *d, const json_t *l, bool active)
{
    const json_t *oid = json_object_get(json_object_get(l, "id"), "order");
    const char *owner = json_string_value(json_object_get(oid, "owner"));
    if (owner == NULL) {
        return;
    }
    if (d->lease_count >= PD_LEASE_MAX) {
        d->leases_partial = true; /* bidding never gets here; another daemon on our key may */
        return;
    }
    pd_lease_t *x = &d->leases[d->lease_count++];
    memset(x, 0, sizeof(*x));
    (void)snprintf(x->owner, sizeof(x->owner), "%s", owner);
    x->dseq = pd_u64(oid, "dseq");
    x->gseq = (uint32_t)pd_u64(oid, "gseq");
    x->oseq = (uint32_t)pd_u64(oid, "oseq");
    x->active = active;
    x->created_height = pd_u64(l, "created_height");
    x->last_confirmed_height = pd_u64(l, "last_confirmed_height");
    x->price_ukumo_per_block = pd_u64(l, "price_total");
    x->total_paid_ukumo = pd_u64(l, "total_paid");
}

static void pd_lease_active_cb(void *ctx, const json_t *item)
{
    pd_lease_add(ctx, item, true);
}

static void pd_lease_closing_cb(void *ctx, const json_t *item)
{
    pd_lease_add(ctx, item, false);
}

static int pd_leases_load(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    d->lease_count = 0;
    d->leases_partial = false;
    char query[200];
    (void)snprintf(query, sizeof(query), "/leases?provider=%s&state=LEASE_ACTIVE", d->addr);
    KUMO_GUARD(
        pd_list_each(d->client, query, PD_LEASE_MAX / 100u + 1u, pd_lease_active_cb, NULL, d, err));
    (void)snprintf(query, sizeof(query), "/leases?provider=%s&state=LEASE_CLOSING", d->addr);
    return pd_list_each(d->client, query, PD_LEASE_MAX / 100u + 1u, pd_lease_closing_cb, NULL, d,
                        err);
}

static int pd_manifest_verify_node(kumo_provider_daemon_t *d,
                                   const char *owner,
                                   uint64_t dseq,
                                   const Kumo__Manifest *m,
                                   pd_groups_t *groups,
                                   kumo_err_ctx_t *err)
{
    return pd_manifest_verify(d->client, owner, dseq, m, groups, err);
}

const pd_node_ops_t pd_node_real = {
    .leases_load = pd_leases_load,
    .manifest_verify = pd_manifest_verify_node,
    .tx_send = pd_tx_send,
};

const pd_node_ops_t *pd_node(const kumo_provider_daemon_t *d)
{
    return d->node != NULL ? d->node : &pd_node_real;
}

const pd_runtime_ops_t pd_runtime_real = {
    .open = kumo_runtime_open,
    .close = kumo_runtime_close,
    .ping = kumo_runtime_ping,
    .container_list = kumo_runtime_container_list,
    .container_inspect = kumo_runtime_container_inspect,
    .container_run = kumo_runtime_container_run,
    .container_remove = kumo_runtime_container_remove,
    .network_create = kumo_runtime_network_create,
    .network_addresses = kumo_runtime_network_addresses,
    .network_list = kumo_runtime_network_list,
    .network_remove = kumo_runtime_network_remove,
    .volume_list = kumo_runtime_volume_list,
    .volume_remove = kumo_runtime_volume_remove,
    .isolation_apply = kumo_overlay_isolation_apply,
};

const pd_runtime_ops_t *pd_rt(const kumo_provider_daemon_t *d)
{
    return d->rt != NULL ? d->rt : &pd_runtime_real;
}

static void pd_names(const kumo_provider_daemon_t *d,
                     const char *owner,
                     uint64_t dseq,
                     const char *workload,
                     uint32_t instance,
                     char out[KUMO_RUNTIME_NAME_BYTES_MAX])
{
    /* kumo1 + 8 / 12 characters of the addresses: unique enough on one provider, and the
     * labels (not the names) say what a container belongs to. */
    int n = snprintf(out, KUMO_RUNTIME_NAME_BYTES_MAX, "kumo-%.8s-%.12s-%" PRIu64, d->addr + 5,
                     owner + 5, dseq);
    if (workload != NULL && n > 0) {
        (void)snprintf(out + n, KUMO_RUNTIME_NAME_BYTES_MAX - (size_t)n, "-%s-%u", workload,
                       instance);
    }
}

static const kumo_runtime_container_t *pd_container_find(const kumo_provider_daemon_t *d,
                                                         const char *name)
{
    for (uint32_t i = 0; i < d->container_count; i++) {
        const char *n = d->containers[i].name;
        if (strcmp(n[0] == '/' ? n + 1 : n, name) == 0) {
            return &d->containers[i];
        }
    }
    return NULL;
}

/* ---- one deployment ---- */

/* Whether a listed container, or a start still queued or running, publishes port. */
static bool pd_port_taken(kumo_provider_daemon_t *d, uint32_t port)
{
    for (uint32_t i = 0; i < d->container_count; i++) {
        for (uint32_t k = 0; k < d->containers[i].port_count; k++) {
            if (d->containers[i].host_ports[k] == port) {
                return true;
            }
        }
    }
    return pd_rtwork_port_taken(d, port);
}

/* A free host port of the range (round robin, so a port another process holds is not tried
 * again at once). 0 when none. */
static uint16_t pd_port_pick(kumo_provider_daemon_t *d)
{
    uint32_t span = d->cfg.port_range_max - d->cfg.port_range_min + 1u;
    for (uint32_t k = 0; k < span; k++) {
        uint32_t p = d->cfg.port_range_min + d->port_cursor++ % span;
        if (!pd_port_taken(d, p)) {
            return (uint16_t)p;
        }
    }
    return 0;
}

/* Where published ports bind: publish_address, else public_address when it is numeric (never
 * every address of the host unless neither is). */
const char *pd_publish_address(const kumo_provider_daemon_t *d)
{
    if (d->cfg.publish_address[0] != '\0') {
        return d->cfg.publish_address;
    }
    return kumo_overlay_allow_list_is_valid(d->cfg.public_address) &&
                   strchr(d->cfg.public_address, ',') == NULL
               ? d->cfg.public_address
               : "0.0.0.0";
}

/* A sealed secret's env entry "KEY=value" written at out (room for the key, '=', the largest
 * value and a NUL), opened with our account key (the manifest check and pd_dep_groups made sure
 * it opens); false when it does not open. The value exists only here, in the job's memory
 * (wiped with it) and in the container. */
static bool pd_spec_env_secret(const kumo_provider_daemon_t *d,
                               const pd_dep_t *dep,
                               const Kumo__ManifestWorkload *w,
                               const Kumo__ManifestEnv *e,
                               char *out,
                               size_t cap)
{
    uint8_t owner[KUMO_ADDRESS_BYTES];
    size_t key_len = strlen(e->key);
    KUMO_ASSERT(cap > key_len + 1u + KUMO_SDL_SECRET_VALUE_BYTES_MAX);
    memcpy(out, e->key, key_len);
    out[key_len] = '=';
    kumo_err_ctx_t err = {0};
    if (kumo_codec_address_decode(dep->owner, owner, &err) != 0 ||
        kumo_sdl_secret_open(dep->m, w->group, e->secret, owner, dep->dseq, &d->key,
                             out + key_len + 1u, cap - key_len - 1u, &err) != 0) {
        kumo_crypto_wipe(out, cap);
        KUMO_LOG_WARN("provider", "secret_open_failed",
                      "deployment=%s/%" PRIu64 " workload=%s env=%s detail=\"%s\"", dep->owner,
                      dep->dseq, w->name, e->key, err.detail);
        return false;
    }
    return true;
}

/* The env entries "KEY=value" copied one after the other into mem->env_buf (the job outlives
 * the manifest; secrets opened into it), then the extra hosts; false when out of memory or a
 * secret does not open. */
static bool pd_spec_env_hosts(const kumo_provider_daemon_t *d,
                              const pd_dep_t *dep,
                              const Kumo__ManifestWorkload *w,
                              pd_spec_mem_t *mem)
{
    size_t count = w->n_env < KUMO_RUNTIME_ENV_COUNT_MAX ? w->n_env : KUMO_RUNTIME_ENV_COUNT_MAX;
    size_t total = 1;
    for (size_t i = 0; i < count; i++) { /* each within the manifest's bounds */
        const Kumo__ManifestEnv *e = w->env[i];
        total += strlen(e->key) + 2u +
                 (e->secret[0] != '\0' ? KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1u : strlen(e->value));
    }
    mem->env_buf = kumo_calloc(1, total);
    if (mem->env_buf == NULL) {
        return false;
    }
    mem->env_buf_bytes = total;
    size_t pos = 0;
    size_t n = 0;
    for (size_t i = 0; i < count; i++, n++) {
        const Kumo__ManifestEnv *e = w->env[i];
        char *out = mem->env_buf + pos;
        size_t cap = total - pos;
        if (e->secret[0] != '\0') {
            if (!pd_spec_env_secret(d, dep, w, e, out, cap)) {
                return false;
            }
        } else {
            int len = snprintf(out, cap, "%s=%s", e->key, e->value);
            KUMO_ASSERT(len > 0 && (size_t)len < cap);
        }
        mem->env[n] = out;
        pos += strlen(out) + 1u;
        KUMO_ASSERT(pos <= total);
    }
    mem->env[n] = NULL;
    n = 0;
    for (size_t i = 0; i < dep->m->n_workloads && n < KUMO_RUNTIME_ENV_COUNT_MAX; i++) {
        if (strcmp(dep->m->workloads[i]->name, w->name) != 0 && dep->gateway[0] != '\0') {
            (void)snprintf(mem->host_text[n], sizeof(mem->host_text[n]), "%s:%s",
                           dep->m->workloads[i]->name, dep->gateway);
            mem->hosts[n] = mem->host_text[n];
            n++;
        }
    }
    mem->hosts[n] = NULL;
    return true;
}

bool pd_workload_digest(const kumo_provider_daemon_t *d,
                        const char *owner,
                        uint64_t dseq,
                        Kumo__Manifest *m,
                        const Kumo__ManifestWorkload *w,
                        uint32_t instance,
                        char out[PD_SPEC_DIGEST_TEXT_BYTES])
{
    pd_dep_t *dep = kumo_calloc(1, sizeof(*dep));
    pd_spec_mem_t *mem = kumo_calloc(1, sizeof(*mem));
    bool ok = dep != NULL && mem != NULL;
    if (ok) {
        dep->owner = owner;
        dep->dseq = dseq;
        dep->m = m;
        uint8_t key[KUMO_CRYPTO_HASH_BYTES];
        pd_spec_key(&d->key, key);
        ok = pd_spec_env_hosts(d, dep, w, mem) &&
             pd_spec_digest(key, m, w, instance, mem->env, out, NULL) == 0;
        kumo_crypto_wipe(key, sizeof(key));
    }
    if (mem != NULL && mem->env_buf != NULL) { /* sealed secrets */
        kumo_crypto_wipe(mem->env_buf, mem->env_buf_bytes);
        kumo_free(mem->env_buf);
    }
    kumo_free(mem);
    kumo_free(dep);
    return ok;
}

/* The command's arguments copied into mem->cmd_buf (the job outlives the manifest); false
 * when out of memory. */
static bool pd_spec_cmd(const Kumo__ManifestWorkload *w, pd_spec_mem_t *mem)
{
    size_t count = w->n_command < KUMO_RUNTIME_CMD_COUNT_MAX ? w->n_command : 0;
    size_t total = 1;
    for (size_t n = 0; n < count; n++) {
        total += strlen(w->command[n]) + 1u; /* each within the manifest's bound */
    }
    mem->cmd_buf = kumo_calloc(1, total);
    if (mem->cmd_buf == NULL) {
        return false;
    }
    size_t pos = 0;
    for (size_t n = 0; n < count; n++) {
        size_t len = strlen(w->command[n]);
        KUMO_ASSERT(pos + len + 1u <= total);
        memcpy(mem->cmd_buf + pos, w->command[n], len + 1u);
        mem->cmd[n] = mem->cmd_buf + pos;
        pos += len + 1u;
    }
    mem->cmd[count] = NULL;
    return true;
}

/* Which entries of its lease's GPU list (the hold's) instance `instance` of w gets; false
 * when that cannot be told (no hold, no groups, a unit the lease lacks). */
static bool pd_instance_gpus(const kumo_provider_daemon_t *d,
                             const pd_dep_t *dep,
                             const pd_lease_t *l,
                             const Kumo__ManifestWorkload *w,
                             uint32_t instance,
                             const pd_hold_t **h,
                             uint32_t *first,
                             uint32_t *count)
{
    *h = pd_hold_of_lease(d, l);
    return *h != NULL && dep->g != NULL && l->gseq < dep->g->count &&
           kumo_provider_gpus_instance(dep->g->specs[l->gseq], dep->m, w, instance, first, count) &&
           *first + *count <= (*h)->bid.gpu_count;
}

/* "0,3": the GPU numbers of entries [first, first + count) of the hold's list. */
static void pd_gpus_text(const pd_hold_t *h, uint32_t first, uint32_t count, char *out, size_t cap)
{
    KUMO_ASSERT(cap > 0 && first + count <= h->bid.gpu_count);
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t k = first; k < first + count; k++) {
        int n = snprintf(out + used, cap - used, "%s%u", k == first ? "" : ",", h->bid.gpus[k]);
        used += n > 0 && (size_t)n < cap - used ? (size_t)n : 0u;
    }
}

/* Whether a running container of an instance holds the GPUs it should: its kumo.gpus label
 * is the instance's GPUs now. Unknown (no hold yet right after a restart): it is left as it
 * runs. A container with other GPUs (its lease's were assigned afresh) is replaced. */
static bool pd_instance_gpus_match(const kumo_provider_daemon_t *d,
                                   const pd_dep_t *dep,
                                   const pd_lease_t *l,
                                   const Kumo__ManifestWorkload *w,
                                   uint32_t instance,
                                   const kumo_runtime_container_t *c)
{
    const pd_hold_t *h = NULL;
    uint32_t first = 0;
    uint32_t count = 0;
    if (w->compute == NULL || w->compute->gpu == NULL || dep->m == NULL ||
        !pd_instance_gpus(d, dep, l, w, instance, &h, &first, &count)) {
        return true;
    }
    char want[sizeof(c->gpus)];
    pd_gpus_text(h, first, count, want, sizeof(want));
    return strcmp(want, c->gpus) == 0;
}

/* The devices of instance `instance` of w: its unit's GPUs out of its lease's (the hold's
 * list, kumo_provider_gpus_instance), each GPU's device entries. False when the instance has
 * GPUs that cannot be told (no hold yet after a restart, no GPUs assigned, a unit the lease
 * does not have): it is then not started, never started without them. */
static bool pd_spec_gpus(const kumo_provider_daemon_t *d,
                         const pd_dep_t *dep,
                         const pd_lease_t *l,
                         const Kumo__ManifestWorkload *w,
                         uint32_t instance,
                         pd_spec_mem_t *mem,
                         kumo_runtime_container_spec_t *s)
{
    if (w->compute == NULL || w->compute->gpu == NULL) {
        return true;
    }
    const pd_hold_t *h = NULL;
    uint32_t first = 0;
    uint32_t count = 0;
    if (!pd_instance_gpus(d, dep, l, w, instance, &h, &first, &count)) {
        return false;
    }
    pd_gpus_text(h, first, count, mem->gpus, sizeof(mem->gpus));
    for (uint32_t k = first; k < first + count; k++) {
        const kumo_provider_gpu_t *gpu = &d->cfg.gpus[h->bid.gpus[k]];
        const char *p = gpu->device;
        while (*p != '\0' && s->device_count < KUMO_RUNTIME_DEVICE_COUNT_MAX) {
            size_t len = strcspn(p, ",");
            char *dst = mem->devices[s->device_count];
            (void)snprintf(dst, KUMO_RUNTIME_DEVICE_BYTES_MAX, "%.*s", (int)len, p);
            s->devices[s->device_count++] = dst;
            p += len + (p[len] == ',' ? 1u : 0u);
        }
    }
    return true;
}

/* The spec of instance `instance` of w, everything it points to in mem; false when out of
 * memory or when its GPUs cannot be told (pd_spec_gpus). */
static bool pd_spec_build(kumo_provider_daemon_t *d,
                          const pd_dep_t *dep,
                          const pd_lease_t *l,
                          const Kumo__ManifestWorkload *w,
                          uint32_t instance,
                          pd_spec_mem_t *mem,
                          kumo_runtime_container_spec_t *s)
{
    memset(s, 0, sizeof(*s));
    pd_names(d, dep->owner, dep->dseq, w->name, instance, mem->name);
    (void)snprintf(mem->dseq, sizeof(mem->dseq), "%" PRIu64, dep->dseq);
    (void)snprintf(mem->gseq, sizeof(mem->gseq), "%u", l->gseq);
    (void)snprintf(mem->oseq, sizeof(mem->oseq), "%u", l->oseq);
    (void)snprintf(mem->inst, sizeof(mem->inst), "%u", instance);
    (void)snprintf(mem->image, sizeof(mem->image), "%s", w->image);
    (void)snprintf(mem->network, sizeof(mem->network), "%s", dep->network);
    (void)snprintf(mem->owner, sizeof(mem->owner), "%s", dep->owner);
    (void)snprintf(mem->provider, sizeof(mem->provider), "%s", d->addr);
    (void)snprintf(mem->workload, sizeof(mem->workload), "%s", w->name);
    (void)snprintf(mem->version, sizeof(mem->version), "%s", dep->version_hex);
    if (!pd_spec_env_hosts(d, dep, w, mem) || !pd_spec_cmd(w, mem)) {
        return false;
    }
    uint8_t key[KUMO_CRYPTO_HASH_BYTES];
    pd_spec_key(&d->key, key);
    int drc = pd_spec_digest(key, dep->m, w, instance, mem->env, mem->spec, NULL);
    kumo_crypto_wipe(key, sizeof(key));
    if (drc != 0) {
        return false;
    }
    s->name = mem->name;
    s->image = mem->image;
    s->cmd = w->n_command > 0 ? mem->cmd : NULL;
    s->env = mem->env;
    s->network = mem->network;
    s->extra_hosts = mem->hosts[0] != NULL ? mem->hosts : NULL;
    s->millicpu = w->compute != NULL ? w->compute->cpu_milli : 0;
    s->memory_bytes = w->compute != NULL ? w->compute->memory_bytes : 0;
    s->storage_bytes = w->compute != NULL ? w->compute->storage_bytes : 0;
    for (size_t p = 0; p < w->n_ports && s->port_count < KUMO_RUNTIME_PORT_COUNT_MAX; p++) {
        kumo_runtime_port_t *rp = &s->ports[s->port_count++];
        rp->container_port = (uint16_t)w->ports[p]->port;
        /* Only global ports are published: other groups' workloads come through a tunnel. */
        rp->host_port = kumo_overlay_port_global(w->ports[p]) ? pd_port_pick(d) : 0;
        rp->host_ip = pd_publish_address(d);
    }
    const kumo_runtime_label_t labels[] = {
        {"kumo.managed", "1"},
        {"kumo.provider", mem->provider},
        {"kumo.owner", mem->owner},
        {"kumo.dseq", mem->dseq},
        {"kumo.gseq", mem->gseq},
        {"kumo.oseq", mem->oseq},
        {"kumo.workload", mem->workload},
        {"kumo.instance", mem->inst},
        {"kumo.version", mem->version},
        {"kumo.spec", mem->spec},
    };
    memcpy(s->labels, labels, sizeof(labels));
    s->label_count = sizeof(labels) / sizeof(labels[0]);
    if (!pd_spec_gpus(d, dep, l, w, instance, mem, s)) {
        return false;
    }
    if (s->device_count > 0) {
        s->labels[s->label_count].key = "kumo.gpus"; /* which GPUs, for operators */
        s->labels[s->label_count++].value = mem->gpus;
    }
    pd_volumes_spec(d, dep->owner, dep->dseq, l, w, instance, mem->volumes, s);
    if (!pd_files_spec(d->home, dep->owner, dep->dseq, dep->version, w, mem, s)) {
        return false;
    }
    for (uint32_t i = 0; i < s->mount_count; i++) { /* the manifest goes, the job stays */
        (void)snprintf(mem->mount_paths[i], sizeof(mem->mount_paths[i]), "%s", s->mounts[i].path);
        s->mounts[i].path = mem->mount_paths[i];
    }
    return true;
}

/* The containers of this provider as the runtime lists them now. */
static int pd_containers_load(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    d->container_count = 0;
    return pd_rt(d)->container_list(d->runtime, "kumo.provider", d->addr, d->containers,
                                    PD_CONTAINER_MAX, &d->container_count, err);
}

/* ---- networks: created once, their gateways remembered ---- */

static pd_net_t *pd_network_find(kumo_provider_daemon_t *d, const char *name)
{
    for (uint32_t i = 0; i < d->net_count; i++) {
        if (strcmp(d->nets[i].name, name) == 0) {
            return &d->nets[i];
        }
    }
    return NULL;
}

static void pd_network_forget(kumo_provider_daemon_t *d, const char *name)
{
    pd_net_t *n = pd_network_find(d, name);
    if (n != NULL) {
        *n = d->nets[--d->net_count];
    }
}

/* A network made or found: its containers start once the isolation rules cover it. */
static void pd_network_remember(kumo_provider_daemon_t *d,
                                const char *name,
                                const char *gateway,
                                const char *subnet)
{
    pd_net_t *n = pd_network_find(d, name);
    n = n != NULL ? n : &d->nets[d->net_count < PD_NET_MAX ? d->net_count++ : PD_NET_MAX - 1u];
    (void)snprintf(n->name, sizeof(n->name), "%s", name);
    (void)snprintf(n->gateway, sizeof(n->gateway), "%s", gateway);
    (void)snprintf(n->subnet, sizeof(n->subnet), "%s", subnet);
    n->isolated = false;
}

/* Whether a listed container belongs to the deployment (so its network exists). */
static bool pd_dep_has_containers(const kumo_provider_daemon_t *d, const pd_dep_t *dep)
{
    for (uint32_t i = 0; i < d->container_count; i++) {
        if (d->containers[i].dseq == dep->dseq && strcmp(d->containers[i].owner, dep->owner) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether the deployment's network is known (dep->gateway set to its gateway). One the
 * runtime already has (a restarted daemon: containers of the deployment are listed) is read
 * at once, up to PD_NET_INSPECT_MAX a pass
 * (a read, so its forwards are back in the first pass); otherwise its creation is queued on
 * the runtime worker and the deployment's starts wait for it. A network is created and
 * inspected once: doing it every block costs the runtime real work. */
static bool pd_network_ensure(kumo_provider_daemon_t *d, pd_dep_t *dep)
{
    const pd_net_t *known = pd_network_find(d, dep->network);
    if (known != NULL) {
        (void)snprintf(dep->gateway, sizeof(dep->gateway), "%s", known->gateway);
        dep->isolated = known->isolated;
        return true;
    }
    if (d->pass_inspects < PD_NET_INSPECT_MAX && pd_dep_has_containers(d, dep) &&
        !pd_rtwork_has(d, dep->network)) {
        d->pass_inspects++;
        char subnet[64];
        if (pd_rt(d)->network_addresses(d->runtime, dep->network, dep->gateway, subnet, NULL) ==
            0) {
            pd_network_remember(d, dep->network, dep->gateway, subnet);
            return true;
        }
        dep->gateway[0] = '\0';
    } else if (pd_dep_has_containers(d, dep) && !pd_rtwork_has(d, dep->network)) {
        d->pass_nets_unknown = true; /* its containers run: their rules must not go */
    }
    pd_rtjob_t *job = pd_rtjob_new(PD_RTJOB_NET_CREATE, dep->network);
    if (job == NULL) {
        return false;
    }
    (void)snprintf(job->mem.provider, sizeof(job->mem.provider), "%s", d->addr);
    (void)snprintf(job->mem.owner, sizeof(job->mem.owner), "%s", dep->owner);
    (void)snprintf(job->mem.dseq, sizeof(job->mem.dseq), "%" PRIu64, dep->dseq);
    job->pass = d->pass_number;
    if (pd_rtwork_submit(d, job) != 0) {
        pd_rtjob_free(job); /* queued already, or the queue is full: next pass */
    }
    return false;
}

/* Whether a failed start says the image is not there (the runtime maps "no such image" and
 * "image not known" to KUMO_ENOTFOUND; a missing network is also a 404, and is made again). */
static bool pd_start_image_missing(int rc, const char *detail)
{
    return rc == KUMO_ENOTFOUND && strstr(detail, "image") != NULL;
}

/* A start of container name that failed since the last creating round: marks lease l as one
 * that cannot run if its image is missing (pd_refusals), and forgets it. */
static void pd_rtfail_take(kumo_provider_daemon_t *d, const char *name, pd_lease_t *l)
{
    for (uint32_t i = 0; i < PD_RTFAIL_MAX; i++) {
        pd_rtfail_t *f = &d->rtfails[i];
        if (f->name[0] == '\0' || strcmp(f->name, name) != 0) {
            continue;
        }
        if (pd_start_image_missing(f->rc, f->detail)) {
            l->cannot_run = KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING;
            (void)snprintf(l->cannot_detail, sizeof(l->cannot_detail), "%s", f->detail);
        }
        f->name[0] = '\0';
    }
}

/* Queues the (re)creation of an instance on the runtime worker (c: the container it
 * replaces, or NULL). One job per container: one queued or running already is only marked
 * as still wanted. A full queue leaves it for a later pass. */
static void pd_instance_start(kumo_provider_daemon_t *d,
                              const pd_dep_t *dep,
                              const pd_lease_t *l,
                              const Kumo__ManifestWorkload *w,
                              uint32_t instance,
                              const kumo_runtime_container_t *c)
{
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    pd_names(d, dep->owner, dep->dseq, w->name, instance, name);
    pd_rtjob_t *job = pd_rtjob_new(PD_RTJOB_RUN, name);
    if (job == NULL) {
        return;
    }
    job->pass = d->pass_number;
    if (pd_rtwork_has(d, name)) {
        int rc = pd_rtwork_submit(d, job); /* renews the mark of the one queued */
        KUMO_ASSERT(rc != 0);              /* only this thread submits */
        pd_rtjob_free(job);
        return;
    }
    if (!pd_spec_build(d, dep, l, w, instance, &job->mem, &job->spec)) {
        pd_rtjob_free(job);
        return;
    }
    if (c != NULL) {
        (void)snprintf(job->old_id, sizeof(job->old_id), "%s", c->id);
    }
    int rc = pd_rtwork_submit(d, job);
    if (rc != 0) {
        d->pass_deferred += rc == KUMO_ELIMIT ? 1u : 0u;
        pd_rtjob_free(job);
        return;
    }
    d->pass_starts++;
    if (c != NULL) {
        KUMO_LOG_INFO("provider", "container_replaced", "name=%s state=%d version=%.12s", name,
                      (int)c->state, c->version);
    }
}

/* Whether instance `instance` of w runs as wanted; with create, queues it if not (once its
 * deployment's network is there). */
static bool pd_instance_work(kumo_provider_daemon_t *d,
                             pd_dep_t *dep,
                             pd_lease_t *l,
                             const Kumo__ManifestWorkload *w,
                             uint32_t instance,
                             bool create)
{
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    pd_names(d, dep->owner, dep->dseq, w->name, instance, name);
    const kumo_runtime_container_t *c = pd_container_find(d, name);
    /* One of an older version is kept when its spec did not change (keep.c); its digest is
     * computed only then (it opens the workload's secrets). */
    char digest[PD_SPEC_DIGEST_TEXT_BYTES];
    bool digest_known = c != NULL && c->state == KUMO_RUNTIME_STATE_RUNNING &&
                        strcmp(c->version, dep->version_hex) != 0 && c->spec[0] != '\0' &&
                        pd_workload_digest(d, dep->owner, dep->dseq, dep->m, w, instance, digest);
    if (c != NULL && pd_container_keep(c, dep->version_hex, digest_known ? digest : NULL) &&
        c->oseq == l->oseq && pd_instance_gpus_match(d, dep, l, w, instance, c)) {
        return true;
    }
    if (create) {
        pd_rtfail_take(d, name, l);
    }
    if (create && dep->gateway[0] != '\0' && dep->isolated) {
        pd_instance_start(d, dep, l, w, instance, c);
    }
    return false;
}

/* Queues the removal of the containers of lease l's group that the manifest no longer wants:
 * an instance at or past its workload's count (a count lowered: the highest go), or of a
 * workload the group no longer has. Only with the manifest read (a deployment whose manifest
 * cannot be read keeps its containers). */
static void
pd_lease_extras_remove(kumo_provider_daemon_t *d, const pd_dep_t *dep, const pd_lease_t *l)
{
    for (uint32_t i = 0; i < d->container_count; i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        if (c->dseq != dep->dseq || c->gseq != l->gseq || strcmp(c->owner, dep->owner) != 0) {
            continue;
        }
        bool wanted = false;
        for (size_t k = 0; k < dep->m->n_workloads && !wanted; k++) {
            const Kumo__ManifestWorkload *w = dep->m->workloads[k];
            wanted = strcmp(w->name, c->workload) == 0 &&
                     strcmp(w->group, dep->groups[l->gseq]) == 0 && c->instance < w->count;
        }
        if (!wanted) {
            pd_rtwork_remove(d, PD_RTJOB_REMOVE, c->name[0] == '/' ? c->name + 1 : c->name, c->id);
        }
    }
}

/* Whether every instance of lease l runs; with create, queues those that do not on the
 * runtime worker (the pass never waits for a start). An image that is not there marks the
 * lease as one that cannot run (pd_refusals). */
static bool pd_lease_work(kumo_provider_daemon_t *d, pd_dep_t *dep, pd_lease_t *l, bool create)
{
    if (dep->m == NULL) {
        return true; /* ready: waiting for the tenant's manifest */
    }
    if (l->gseq >= dep->group_count) {
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < dep->m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = dep->m->workloads[i];
        /* w->count is within the lease's units (kumo_sdl_manifest_check at load). */
        for (uint32_t k = 0; strcmp(w->group, dep->groups[l->gseq]) == 0 && k < w->count; k++) {
            ok = pd_instance_work(d, dep, l, w, k, create) && ok;
        }
    }
    if (create) {
        pd_lease_extras_remove(d, dep, l);
    }
    return ok;
}

/* ---- forwards ---- */

const char *pd_container_ip(kumo_provider_daemon_t *d, const char *id)
{
    for (uint32_t i = 0; i < PD_IP_CACHE; i++) {
        if (strcmp(d->ips[i].id, id) == 0) {
            return d->ips[i].ip;
        }
    }
    kumo_runtime_inspect_t in;
    if (pd_rt(d)->container_inspect(d->runtime, id, &in, NULL) != 0 || in.ip[0] == '\0') {
        return NULL;
    }
    pd_ip_t *e = &d->ips[d->ip_next++ % PD_IP_CACHE];
    (void)snprintf(e->id, sizeof(e->id), "%s", id);
    (void)snprintf(e->ip, sizeof(e->ip), "%s", in.ip);
    return e->ip;
}

/* Where workload w's port p runs: its running containers here, else (at another provider)
 * the listeners of the tunnels to it, each for its own source workload. */
static void pd_forward_targets(kumo_provider_daemon_t *d,
                               const pd_dep_t *dep,
                               const Kumo__ManifestWorkload *w,
                               uint32_t port,
                               kumo_overlay_fwd_entry_t *e)
{
    for (uint32_t i = 0; i < d->container_count && e->target_count < KUMO_OVERLAY_FWD_TARGET_MAX;
         i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        const char *ip = NULL;
        if (c->state == KUMO_RUNTIME_STATE_RUNNING && c->dseq == dep->dseq &&
            strcmp(c->owner, dep->owner) == 0 && strcmp(c->workload, w->name) == 0 &&
            (ip = pd_container_ip(d, c->id)) != NULL) {
            kumo_overlay_fwd_target_t *t = &e->targets[e->target_count++];
            memset(t, 0, sizeof(*t));
            (void)snprintf(t->host, sizeof(t->host), "%s", ip);
            t->port = (uint16_t)port;
        }
    }
    if (e->target_count == 0) {
        (void)pd_tun_forward_targets(d, dep->owner, dep->dseq, w->name, (uint16_t)port, e);
    }
}

/* The deployment's leases this provider holds (the groups whose containers run here). */
static uint32_t pd_dep_leases(const kumo_provider_daemon_t *d,
                              const pd_dep_t *dep,
                              kumo_overlay_lease_t out[KUMO_OVERLAY_LEASE_MAX])
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->lease_count && n < KUMO_OVERLAY_LEASE_MAX; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->active && l->dseq == dep->dseq && strcmp(l->owner, dep->owner) == 0 &&
            l->gseq < dep->group_count) {
            out[n++] = (kumo_overlay_lease_t){.group = dep->groups[l->gseq], .provider = d->addr};
        }
    }
    return n;
}

/* Who may use the forward of workload w's port p: the running containers here whose
 * workload the overlay policy lets connect. */
static void pd_forward_sources(kumo_provider_daemon_t *d,
                               const pd_dep_t *dep,
                               const Kumo__ManifestWorkload *w,
                               const Kumo__ManifestPort *p,
                               kumo_overlay_fwd_entry_t *e)
{
    kumo_overlay_lease_t leases[KUMO_OVERLAY_LEASE_MAX];
    kumo_overlay_deployment_t od = {
        .manifest = dep->m, .leases = leases, .lease_count = pd_dep_leases(d, dep, leases)};
    for (uint32_t i = 0; i < d->container_count && e->source_count < KUMO_OVERLAY_FWD_SOURCE_MAX;
         i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        kumo_overlay_source_t src = {
            .from = KUMO_OVERLAY_FROM_WORKLOAD, .workload = c->workload, .provider = d->addr};
        const char *ip = NULL;
        if (c->state == KUMO_RUNTIME_STATE_RUNNING && c->dseq == dep->dseq &&
            strcmp(c->owner, dep->owner) == 0 &&
            kumo_overlay_verdict_allows(kumo_overlay_decide(&od, &src, w->name, p->port)) &&
            (ip = pd_container_ip(d, c->id)) != NULL) {
            e->source_workloads[e->source_count] =
                kumo_overlay_workload_tag(dep->owner, dep->dseq, c->workload);
            (void)snprintf(e->sources[e->source_count++], KUMO_OVERLAY_FWD_HOST_BYTES, "%s", ip);
        }
    }
}

/* A forward on the gateway for every port of every workload that a rule (other than global)
 * lets some workload reach (kumo_overlay_port_forwarded). */
static void pd_forwards_add(kumo_provider_daemon_t *d,
                            const pd_dep_t *dep,
                            kumo_overlay_fwd_entry_t *es,
                            uint32_t *count)
{
    for (size_t i = 0; i < dep->m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = dep->m->workloads[i];
        for (size_t p = 0; p < w->n_ports && *count < KUMO_OVERLAY_FWD_ENTRY_MAX; p++) {
            if (!kumo_overlay_port_forwarded(w->ports[p])) {
                continue;
            }
            kumo_overlay_fwd_entry_t *e = &es[(*count)++];
            memset(e, 0, sizeof(*e));
            (void)snprintf(e->ip, sizeof(e->ip), "%s", dep->gateway);
            e->port = (uint16_t)w->ports[p]->port;
            pd_forward_targets(d, dep, w, w->ports[p]->port, e);
            pd_forward_sources(d, dep, w, w->ports[p], e);
        }
    }
}

/* ---- isolation: the provider's nftables tables (overlay.h) ---- */

/* The isolation script for every known network: its subnet, its gateway and the forward ports
 * listening there (fwd: this pass's table). */
static int pd_isolation_render(kumo_provider_daemon_t *d,
                               const kumo_overlay_fwd_entry_t *fwd,
                               uint32_t fwd_count,
                               kumo_buf_t *out,
                               kumo_err_ctx_t *err)
{
    kumo_overlay_net_t *nets = kumo_calloc(PD_NET_MAX, sizeof(*nets));
    KUMO_ENSURE(nets != NULL, err, KUMO_ENOMEM, "isolation networks");
    uint32_t n = 0;
    for (uint32_t i = 0; i < d->net_count && n < KUMO_OVERLAY_NET_MAX; i++) {
        if (d->nets[i].subnet[0] == '\0') {
            continue;
        }
        kumo_overlay_net_t *net = &nets[n++];
        (void)snprintf(net->subnet, sizeof(net->subnet), "%s", d->nets[i].subnet);
        (void)snprintf(net->gateway, sizeof(net->gateway), "%s", d->nets[i].gateway);
        for (uint32_t k = 0; k < fwd_count && net->port_count < KUMO_OVERLAY_NET_PORT_MAX; k++) {
            bool seen = strcmp(fwd[k].ip, net->gateway) != 0;
            for (uint32_t p = 0; p < net->port_count && !seen; p++) {
                seen = net->ports[p] == fwd[k].port;
            }
            if (!seen) {
                net->ports[net->port_count++] = fwd[k].port;
            }
        }
    }
    char table[KUMO_OVERLAY_TABLE_BYTES];
    (void)snprintf(table, sizeof(table), "kumo_%.8s", d->addr + 5);
    /* Validated at start; were it refused here, nothing would start (fail closed). */
    kumo_overlay_egress_t egress;
    int rc = kumo_overlay_egress_parse(d->cfg.workload_egress_allow, &egress, err);
    if (rc == 0) {
        rc = kumo_overlay_isolation_render(table, nets, n, &egress, out, err);
    }
    kumo_free(nets);
    return rc;
}

/* Applies the isolation rules when they changed; once they are in force every known network is
 * isolated (its containers may start). A failure starts nothing new (logged once). */
static void
pd_isolation_sync(kumo_provider_daemon_t *d, const kumo_overlay_fwd_entry_t *fwd, uint32_t count)
{
    if (d->pass_nets_unknown) {
        return; /* a restarted daemon still looks for networks: the rules in force stay */
    }
    kumo_buf_t next;
    kumo_buf_init(&next, PD_ISOLATION_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = pd_isolation_render(d, fwd, count, &next, &err);
    bool same = rc == 0 && !d->isolation_failing &&
                kumo_bytes_equal(kumo_buf_bytes(&next), kumo_buf_bytes(&d->isolation));
    if (rc == 0 && !same) {
        rc = pd_rt(d)->isolation_apply(kumo_buf_bytes(&next), &err);
    }
    if (rc != 0) {
        if (!d->isolation_failing) {
            KUMO_LOG_ERROR("provider", "isolation_failed", "code=%s detail=\"%s\" (no starts)",
                           kumo_err_name(rc), err.detail);
        }
        d->isolation_failing = true;
        kumo_buf_free(&next);
        return;
    }
    if (!same) {
        KUMO_LOG_INFO("provider", "isolation_applied", "networks=%u bytes=%zu", d->net_count,
                      next.len);
    }
    d->isolation_failing = false;
    kumo_buf_free(&d->isolation);
    d->isolation = next;
    for (uint32_t i = 0; i < d->net_count; i++) {
        d->nets[i].isolated = d->nets[i].subnet[0] != '\0';
    }
}

/* ---- the pass ---- */

/* One pass over the leases: first without creating anything (what already runs is
 * confirmed before slow container starts can delay it past its period), then creating. */
typedef struct pd_pass {
    bool *ok; /* per d->leases index */
    kumo_overlay_fwd_entry_t *fwd;
    uint32_t fwd_count;
    bool create;
} pd_pass_t;

/* Forwards of a deployment, after the tunnels to and from its groups at other providers
 * (whose listeners the forwards to those groups target). */
static void pd_dep_forwards(kumo_provider_daemon_t *d, const pd_dep_t *dep, pd_pass_t *pass)
{
    pd_tun_dep(d, dep->owner, dep->dseq, dep->m,
               (const char(*)[KUMO_NAME_BYTES_MAX + 1]) dep->groups, dep->group_count);
    pd_forwards_add(d, dep, pass->fwd, &pass->fwd_count);
}

/* Whether a stored manifest was refused before (each is logged once, not every block). */
static bool pd_refused_seen(kumo_provider_daemon_t *d,
                            const pd_dep_t *dep,
                            const uint8_t version[KUMO_CRYPTO_HASH_BYTES])
{
    for (uint32_t i = 0; i < PD_REFUSED_MAX; i++) {
        const pd_refused_t *r = &d->refused[i];
        if (r->dseq == dep->dseq && strcmp(r->owner, dep->owner) == 0 &&
            memcmp(r->version, version, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return true;
        }
    }
    pd_refused_t *r = &d->refused[d->refused_next++ % PD_REFUSED_MAX];
    (void)snprintf(r->owner, sizeof(r->owner), "%s", dep->owner);
    r->dseq = dep->dseq;
    memcpy(r->version, version, KUMO_CRYPTO_HASH_BYTES);
    return false;
}

/* The deployment's groups and its manifest checked against them. A stored manifest that
 * breaks the lease (stored by an older daemon, or the groups changed) runs nothing: as if
 * none had come (the lease stands ready) until pd_refusals refuses the lease. */
static int pd_dep_groups(kumo_provider_daemon_t *d,
                         pd_dep_t *dep,
                         const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(dep->m != NULL);
    pd_groups_t *g = kumo_calloc(1, sizeof(*g));
    KUMO_ENSURE(g != NULL, err, KUMO_ENOMEM, "groups");
    int rc = pd_node(d)->manifest_verify(d, dep->owner, dep->dseq, dep->m, g, err);
    uint8_t owner[KUMO_ADDRESS_BYTES];
    if (rc == 0 && dep->m->n_sealed > 0) { /* secrets sealed to us must open: fail closed */
        rc = kumo_codec_address_decode(dep->owner, owner, err);
        rc = rc == 0 ? kumo_sdl_sealed_open_check(dep->m, owner, dep->dseq, &d->key, err) : rc;
    }
    for (uint32_t i = 0; i < g->count; i++) {
        (void)snprintf(dep->groups[i], sizeof(dep->groups[i]), "%s", g->specs[i]->name);
    }
    dep->group_count = g->count;
    dep->g = g; /* freed with dep (the GPUs of instances need the resources) */
    if (rc != 0 && rc != KUMO_EIO && rc != KUMO_ENOMEM) {
        dep->mismatch = true;
        (void)snprintf(dep->mismatch_detail, sizeof(dep->mismatch_detail), "%s", err->detail);
        if (!pd_refused_seen(d, dep, version)) {
            KUMO_LOG_WARN("provider", "manifest_refused",
                          "deployment=%s/%" PRIu64 " version=%.16s detail=\"%s\"", dep->owner,
                          dep->dseq, dep->version_hex, err->detail);
        }
        kumo_codec_free(&dep->m->base);
        dep->m = NULL;
        return KUMO_ENOTFOUND;
    }
    return rc;
}

/* dep's version changed on chain PD_FETCH_GRACE_BLOCKS ago or more (and this is a pass that
 * may ask the peers: every PD_FETCH_EVERY blocks). */
static bool pd_dep_update_due(const kumo_provider_daemon_t *d, const pd_dep_t *dep)
{
    if ((d->height + dep->dseq) % PD_FETCH_EVERY != 0) {
        return false;
    }
    for (uint32_t i = 0; i < PD_UPDATE_MAX; i++) {
        const pd_update_t *u = &d->updates[i];
        if (u->height != 0 && u->dseq == dep->dseq && strcmp(u->owner, dep->owner) == 0) {
            return d->height >= u->height + PD_FETCH_GRACE_BLOCKS;
        }
    }
    return false;
}

/* dep's new version is stored (fetched, or it was already): forgotten. */
static void pd_dep_update_done(kumo_provider_daemon_t *d, const pd_dep_t *dep, bool fetched)
{
    for (uint32_t i = 0; i < PD_UPDATE_MAX; i++) {
        pd_update_t *u = &d->updates[i];
        if (u->height != 0 && u->dseq == dep->dseq && strcmp(u->owner, dep->owner) == 0) {
            u->height = 0;
        }
    }
    if (fetched) {
        KUMO_LOG_INFO("provider", "manifest_update_fetched", "deployment=%s/%" PRIu64, dep->owner,
                      dep->dseq);
    }
}

/* Blocks since the youngest of this provider's leases in dep was created. */
static uint64_t pd_dep_lease_age(const kumo_provider_daemon_t *d, const pd_dep_t *dep)
{
    uint64_t youngest = 0;
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->dseq == dep->dseq && strcmp(l->owner, dep->owner) == 0 &&
            l->created_height > youngest) {
            youngest = l->created_height;
        }
    }
    return d->height > youngest ? d->height - youngest : 0;
}

/* The manifest (fetched from the peers if missing, when creating) checked against the
 * groups, group names, network. */
static int pd_dep_load(kumo_provider_daemon_t *d, pd_dep_t *dep, bool create, kumo_err_ctx_t *err)
{
    uint8_t version[KUMO_CRYPTO_HASH_BYTES] = {0};
    int rc = pd_manifest_load(d->home, dep->owner, dep->dseq, &dep->m, version, err);
    if (rc == KUMO_ENOTFOUND && create && (d->height + dep->dseq) % PD_FETCH_EVERY == 0 &&
        pd_dep_lease_age(d, dep) >= PD_FETCH_GRACE_BLOCKS &&
        pd_manifest_fetch(d, dep->owner, dep->dseq, NULL, err) == 0) {
        rc = pd_manifest_load(d->home, dep->owner, dep->dseq, &dep->m, version, err);
    }
    if (rc == 0 && create && pd_dep_update_due(d, dep)) {
        /* The version changed on chain and no announcement brought the new manifest: the
         * peers are asked (the old one runs meanwhile). */
        kumo_err_ctx_t ferr = {0};
        int frc = pd_manifest_fetch_due(d, dep->owner, dep->dseq, NULL, &ferr);
        if (frc == 0) {
            kumo_codec_free(&dep->m->base);
            dep->m = NULL;
            rc = pd_manifest_load(d->home, dep->owner, dep->dseq, &dep->m, version, err);
        }
        if (frc >= 0) {
            pd_dep_update_done(d, dep, frc == 0); /* else asked again at the next such pass */
        }
    }
    KUMO_GUARD(rc); /* KUMO_ENOTFOUND: none yet, the lease stands ready */
    memcpy(dep->version, version, sizeof(dep->version));
    KUMO_GUARD(kumo_codec_hex_encode(kumo_bytes_make(version, sizeof(version)), dep->version_hex,
                                     sizeof(dep->version_hex)));
    KUMO_GUARD(pd_dep_groups(d, dep, version, err));
    if (create && !pd_network_ensure(d, dep)) {
        dep->gateway[0] = '\0'; /* no starts, no forwards yet: the network is being made */
    }
    return 0;
}

static void
pd_dep_work(kumo_provider_daemon_t *d, const char *owner, uint64_t dseq, pd_pass_t *pass)
{
    pd_dep_t *dep = kumo_calloc(1, sizeof(*dep));
    if (dep == NULL) {
        return;
    }
    dep->owner = owner;
    dep->dseq = dseq;
    pd_names(d, owner, dseq, NULL, 0, dep->network);
    kumo_err_ctx_t err = {0};
    int rc = pd_dep_load(d, dep, pass->create, &err);
    if (rc != 0 && rc != KUMO_ENOTFOUND && pass->create) {
        KUMO_LOG_WARN("provider", "deployment_unreadable",
                      "deployment=%s/%" PRIu64 " detail=\"%s\"", owner, dseq, err.detail);
        pd_tun_keep(d, owner, dseq); /* its tunnels stay until it can be read again */
    }
    for (uint32_t i = 0; i < d->lease_count; i++) {
        pd_lease_t *l = &d->leases[i];
        if (l->active && l->dseq == dseq && strcmp(l->owner, owner) == 0) {
            pass->ok[i] =
                (rc == 0 || rc == KUMO_ENOTFOUND) && pd_lease_work(d, dep, l, pass->create);
            /* Confirmations name the version only when it really runs here. */
            l->runs = pass->ok[i] && dep->m != NULL;
            /* Waiting for starts: its manifest came and not all run, or none came yet in
             * its first blocks (a tenant that never sends one holds no bid back for long). */
            pd_hold_waiting(d, l,
                            dep->m != NULL
                                ? !l->runs
                                : d->height < l->created_height + PD_MANIFEST_GRACE_BLOCKS);
            memcpy(l->version, dep->version, sizeof(l->version));
            if (pass->create && dep->mismatch) {
                l->cannot_run = KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH;
                (void)snprintf(l->cannot_detail, sizeof(l->cannot_detail), "%s",
                               dep->mismatch_detail);
            }
        }
    }
    if (pass->create && dep->m != NULL && dep->gateway[0] != '\0') {
        pd_dep_forwards(d, dep, pass);
    }
    if (dep->m != NULL) {
        kumo_codec_free(&dep->m->base);
    }
    if (dep->g != NULL) {
        pd_groups_free(dep->g);
        kumo_free(dep->g);
    }
    kumo_free(dep);
}

static bool pd_lease_wants(const kumo_provider_daemon_t *d, const kumo_runtime_container_t *c)
{
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->active && l->dseq == c->dseq && l->gseq == c->gseq &&
            strcmp(l->owner, c->owner) == 0) {
            return true;
        }
    }
    return false;
}

/* The sweep after a deployment ended, and every PD_NET_SWEEP_EVERY blocks (what an earlier
 * daemon left): the runtime worker lists the networks and removes those of no active lease
 * and no listed container (the network list alone takes podman 10-30 s with a hundred
 * networks, so the pass never makes it). */
static void pd_networks_remove(kumo_provider_daemon_t *d, uint32_t orphans)
{
    bool periodic = d->height >= d->sweep_height + PD_NET_SWEEP_EVERY;
    /* After a deployment ended: once its containers are gone (a network in use stays). */
    if ((!d->sweep_due && !periodic) || orphans > 0 || pd_rtwork_has(d, PD_NET_SWEEP_KEY)) {
        return;
    }
    pd_rtjob_t *job = pd_rtjob_new(PD_RTJOB_NET_SWEEP, PD_NET_SWEEP_KEY);
    /* Room for what is kept and for every network the sweep may remove. */
    uint32_t cap = d->lease_count + d->container_count + PD_NET_MAX;
    job = job != NULL && (job->keep = kumo_calloc(cap, sizeof(*job->keep))) == NULL
              ? (pd_rtjob_free(job), NULL)
              : job;
    if (job == NULL) {
        return;
    }
    for (uint32_t i = 0; i < d->lease_count; i++) {
        if (d->leases[i].active) {
            pd_names(d, d->leases[i].owner, d->leases[i].dseq, NULL, 0,
                     job->keep[job->keep_count++]);
        }
    }
    for (uint32_t i = 0; i < d->container_count; i++) {
        pd_names(d, d->containers[i].owner, d->containers[i].dseq, NULL, 0,
                 job->keep[job->keep_count++]);
    }
    KUMO_ASSERT(job->keep_count <= cap);
    job->keep_cap = cap;
    job->pass = d->pass_number;
    if (pd_rtwork_submit(d, job) != 0) {
        pd_rtjob_free(job); /* the queue is full: next pass */
        return;
    }
    d->sweep_due = false;
    d->sweep_height = d->height;
}

/* Queues the removal of the containers, volumes and networks no active lease wants (the
 * pass does not wait for them); a closing lease whose containers or volumes are still listed
 * is not ok (not released yet). */
static void pd_orphans_remove(kumo_provider_daemon_t *d, bool *ok)
{
    uint32_t orphans = 0;
    for (uint32_t i = 0; i < d->container_count; i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        if (pd_lease_wants(d, c)) {
            continue;
        }
        for (uint32_t k = 0; k < d->lease_count; k++) {
            const pd_lease_t *l = &d->leases[k];
            ok[k] = ok[k] &&
                    !(l->dseq == c->dseq && l->gseq == c->gseq && strcmp(l->owner, c->owner) == 0);
        }
        pd_rtwork_remove(d, PD_RTJOB_REMOVE, c->name[0] == '/' ? c->name + 1 : c->name, c->id);
        d->sweep_due = true; /* its network goes once it is gone */
        orphans++;
    }
    pd_volumes_orphans_remove(d, ok);
    pd_networks_remove(d, orphans);
}

/* ---- confirmations ---- */

static bool pd_sent_recently(kumo_provider_daemon_t *d, const char *order)
{
    for (uint32_t i = 0; i < d->sent_count;) {
        if (d->sent[i].height != 0 && d->sent[i].height + PD_RESEND_BLOCKS <= d->height) {
            d->sent[i] = d->sent[--d->sent_count]; /* expired */
            continue;
        }
        if (strcmp(d->sent[i].order, order) == 0) {
            return true;
        }
        i++;
    }
    return false;
}

static bool pd_confirm_due(const kumo_provider_daemon_t *d, const pd_lease_t *l)
{
    uint64_t third = d->period / 3u; /* two more chances before the period ends */
    uint64_t margin =
        d->period > d->cfg.confirm_margin_blocks ? d->period - d->cfg.confirm_margin_blocks : 1u;
    uint64_t every = third < margin ? third : margin;
    every = every > 0 ? every : 1u;
    return !l->active || d->height >= l->last_confirmed_height + every;
}

typedef struct pd_confirm_batch {
    uint8_t owners[PD_CONFIRM_BATCH_MAX][KUMO_ADDRESS_BYTES];
    Kumo__OrderId ids[PD_CONFIRM_BATCH_MAX];
    Kumo__LeaseConfirmation lc[PD_CONFIRM_BATCH_MAX];
    Kumo__LeaseConfirmation *ptrs[PD_CONFIRM_BATCH_MAX];
    char orders[PD_CONFIRM_BATCH_MAX][KUMO_ID_TEXT_BYTES];
    uint8_t versions[PD_CONFIRM_BATCH_MAX][KUMO_CRYPTO_HASH_BYTES];
    size_t count;
} pd_confirm_batch_t;

/* Sends the batch as one tx; the tx's result. */
static int pd_confirm_flush(kumo_provider_daemon_t *d, pd_confirm_batch_t *b)
{
    if (b->count == 0) {
        return 0;
    }
    Kumo__MsgSubmitLeaseConfirmation m = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    m.n_confirmations = b->count;
    m.confirmations = b->ptrs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &m;
    Kumo__Msg *ptr = &msg;
    kumo_err_ctx_t err = {0};
    int rc = pd_node(d)->tx_send(d, &ptr, 1, &err);
    for (size_t i = 0; i < b->count; i++) {
        if (rc == 0 && d->sent_count < PD_SENT_MAX) {
            pd_sent_t *s = &d->sent[d->sent_count++];
            (void)snprintf(s->order, sizeof(s->order), "%s", b->orders[i]);
            s->height = 0; /* the window starts at the next pass's height (d->height may lag) */
            d->confirmations_sent++;
        }
        KUMO_LOG_INFO("provider", rc == 0 ? "lease_confirmed" : "confirm_failed",
                      "order=%s released=%d code=%s", b->orders[i], b->lc[i].released,
                      kumo_err_name(rc));
    }
    if (rc < 0) {
        KUMO_LOG_WARN("provider", "confirm_failed", "detail=\"%s\"", err.detail);
    }
    b->count = 0;
    return rc;
}

/* Urgency: the active lease confirmed longest ago first; releases after every active one. */
static int pd_confirm_cmp(const void *a, const void *b, void *ctx)
{
    const kumo_provider_daemon_t *d = ctx;
    const pd_lease_t *x = &d->leases[*(const uint32_t *)a];
    const pd_lease_t *y = &d->leases[*(const uint32_t *)b];
    if (x->active != y->active) {
        return x->active ? -1 : 1;
    }
    if (x->last_confirmed_height != y->last_confirmed_height) {
        return x->last_confirmed_height < y->last_confirmed_height ? -1 : 1;
    }
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* The leases due a confirmation, most urgent first, in txs of PD_CONFIRM_BATCH_MAX. When the
 * node has no room for another tx of ours (KUMO_ELIMIT: the lane's per-account cap), the rest
 * wait for the next pass, so the room goes to the leases nearest their deadline and none
 * starves behind others that come first in the table. */
static void pd_confirm(kumo_provider_daemon_t *d, const bool *ok)
{
    pd_confirm_batch_t *b = kumo_calloc(1, sizeof(*b));
    uint32_t *due = kumo_calloc(PD_LEASE_MAX, sizeof(*due));
    uint32_t due_count = 0;
    int rc = 0;
    if (b == NULL || due == NULL) {
        goto cleanup;
    }
    for (uint32_t i = 0; i < d->lease_count; i++) {
        if (ok[i] && pd_confirm_due(d, &d->leases[i])) {
            due[due_count++] = i;
        }
    }
    qsort_r(due, due_count, sizeof(*due), pd_confirm_cmp, d);
    for (uint32_t n = 0; rc != KUMO_ELIMIT && n < due_count; n++) {
        uint32_t i = due[n];
        const pd_lease_t *l = &d->leases[i];
        char *order = b->orders[b->count];
        (void)snprintf(order, KUMO_ID_TEXT_BYTES, "%s/%" PRIu64 "/%u/%u", l->owner, l->dseq,
                       l->gseq, l->oseq);
        if (pd_sent_recently(d, order) ||
            kumo_codec_address_decode(l->owner, b->owners[b->count], NULL) != 0) {
            continue;
        }
        size_t k = b->count++;
        Kumo__OrderId id = KUMO__ORDER_ID__INIT;
        b->ids[k] = id;
        b->ids[k].owner.data = b->owners[k];
        b->ids[k].owner.len = KUMO_ADDRESS_BYTES;
        b->ids[k].dseq = l->dseq;
        b->ids[k].gseq = l->gseq;
        b->ids[k].oseq = l->oseq;
        Kumo__LeaseConfirmation lc = KUMO__LEASE_CONFIRMATION__INIT;
        b->lc[k] = lc;
        b->lc[k].order = &b->ids[k];
        b->lc[k].released = !l->active;
        if (l->active && l->runs) {
            /* The version runs: we accept it and can no longer refuse it (docs/design.md). */
            memcpy(b->versions[k], l->version, KUMO_CRYPTO_HASH_BYTES);
            b->lc[k].version.data = b->versions[k];
            b->lc[k].version.len = KUMO_CRYPTO_HASH_BYTES;
        }
        b->ptrs[k] = &b->lc[k];
        if (b->count == PD_CONFIRM_BATCH_MAX) {
            rc = pd_confirm_flush(d, b);
        }
    }
    if (rc != KUMO_ELIMIT) {
        (void)pd_confirm_flush(d, b);
    }
cleanup:
    kumo_free(due);
    kumo_free(b);
}

/* ---- refusals ---- */

static void pd_order_text(const pd_lease_t *l, char out[KUMO_ID_TEXT_BYTES])
{
    (void)snprintf(out, KUMO_ID_TEXT_BYTES, "%s/%" PRIu64 "/%u/%u", l->owner, l->dseq, l->gseq,
                   l->oseq);
}

/* The active lease an order text names, or the lease count when none. */
static uint32_t pd_lease_index(const kumo_provider_daemon_t *d, const char *order)
{
    for (uint32_t i = 0; i < d->lease_count; i++) {
        char text[KUMO_ID_TEXT_BYTES];
        pd_order_text(&d->leases[i], text);
        if (d->leases[i].active && strcmp(text, order) == 0) {
            return i;
        }
    }
    return d->lease_count;
}

static const char *pd_reason_name(Kumo__RefuseReason reason)
{
    return reason == KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING       ? "image_missing"
           : reason == KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH ? "manifest_mismatch"
                                                                            : "other";
}

static void pd_refuse_send(kumo_provider_daemon_t *d, const pd_lease_t *l, pd_refusal_t *r)
{
    uint8_t owner[KUMO_ADDRESS_BYTES];
    if (kumo_codec_address_decode(l->owner, owner, NULL) != 0) {
        return;
    }
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = owner;
    id.owner.len = KUMO_ADDRESS_BYTES;
    id.dseq = l->dseq;
    id.gseq = l->gseq;
    id.oseq = l->oseq;
    Kumo__MsgRefuseLease m = KUMO__MSG_REFUSE_LEASE__INIT;
    m.order = &id;
    m.reason = r->reason;
    m.detail = r->detail;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_REFUSE_LEASE;
    msg.refuse_lease = &m;
    Kumo__Msg *ptr = &msg;
    kumo_err_ctx_t err = {0};
    int rc = pd_node(d)->tx_send(d, &ptr, 1, &err);
    r->sent = rc == 0;
    r->sent_height = d->height;
    d->refusals_sent += rc == 0 ? 1u : 0u;
    if (rc == 0) {
        KUMO_LOG_WARN("provider", "lease_refused",
                      "order=%s reason=%s since=%" PRIu64 " detail=\"%s\"", r->order,
                      pd_reason_name(r->reason), r->first_height, r->detail);
    } else {
        KUMO_LOG_WARN("provider", "refuse_failed", "order=%s code=%s detail=\"%s\"", r->order,
                      kumo_err_name(rc), err.detail);
    }
}

/* Remembers every active lease the creating round found unable to run; forgets those that
 * run again or are gone. */
static void pd_refusals_track(kumo_provider_daemon_t *d, const bool *ok)
{
    for (uint32_t k = 0; k < d->refusal_count;) {
        uint32_t i = pd_lease_index(d, d->refusals[k].order);
        if (i == d->lease_count || (ok[i] && d->leases[i].cannot_run == 0)) {
            d->refusals[k] = d->refusals[--d->refusal_count];
            continue;
        }
        k++;
    }
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (!l->active || l->cannot_run == 0) {
            continue;
        }
        char order[KUMO_ID_TEXT_BYTES];
        pd_order_text(l, order);
        pd_refusal_t *r = NULL;
        for (uint32_t k = 0; k < d->refusal_count && r == NULL; k++) {
            r = strcmp(d->refusals[k].order, order) == 0 ? &d->refusals[k] : NULL;
        }
        if (r == NULL && d->refusal_count < PD_REFUSAL_MAX) {
            r = &d->refusals[d->refusal_count++];
            memset(r, 0, sizeof(*r));
            (void)snprintf(r->order, sizeof(r->order), "%s", order);
            r->first_height = d->height;
            KUMO_LOG_WARN("provider", "lease_cannot_run", "order=%s reason=%s detail=\"%s\"", order,
                          pd_reason_name(l->cannot_run), l->cannot_detail);
        }
        if (r != NULL) {
            r->reason = l->cannot_run;
            (void)snprintf(r->detail, sizeof(r->detail), "%s", l->cannot_detail);
        }
    }
}

/* A lease that cannot run is retried for refuse_after_blocks, then refused; one that is not
 * confirmed (its instances do not run) is refused at the latest when its confirmation falls
 * due, so it never goes stale: the tenant's broken manifest must not cost us the collateral.
 * A refusal in flight is not sent again for PD_RESEND_BLOCKS. */
static void pd_refusals(kumo_provider_daemon_t *d, const bool *ok)
{
    pd_refusals_track(d, ok);
    for (uint32_t k = 0; k < d->refusal_count; k++) {
        pd_refusal_t *r = &d->refusals[k];
        uint32_t i = pd_lease_index(d, r->order);
        KUMO_ASSERT(i < d->lease_count); /* pd_refusals_track kept only listed leases */
        bool due = d->height >= r->first_height + d->cfg.refuse_after_blocks ||
                   (!ok[i] && pd_confirm_due(d, &d->leases[i]));
        bool in_flight = r->sent && d->height < r->sent_height + PD_RESEND_BLOCKS;
        if (due && !in_flight) {
            pd_refuse_send(d, &d->leases[i], r);
        }
    }
}

/* A job the runtime worker finished: a network's gateway is remembered, a failed start kept
 * for the next creating round (and its network made again, in case it went away). */
static void pd_rtjob_done(void *ctx, const pd_rtjob_t *job)
{
    kumo_provider_daemon_t *d = ctx;
    if (job->kind == PD_RTJOB_NET_CREATE && job->rc == 0) {
        pd_network_remember(d, job->key, job->gateway, job->subnet);
        KUMO_LOG_INFO("provider", "network_created", "name=%s gateway=%s ms=%" PRIu64, job->key,
                      job->gateway, job->elapsed_ms);
    }
    for (uint32_t i = 0; job->kind == PD_RTJOB_NET_SWEEP && i < job->removed_count; i++) {
        pd_network_forget(d, job->keep[job->keep_count + i]); /* made again if wanted again */
    }
    /* The pace: the worker's time per container start, all its work included (the network
     * a new deployment needs, removals, failed starts). */
    d->pace_busy_ms += job->elapsed_ms;
    if (job->kind == PD_RTJOB_RUN && job->rc == 0) {
        pd_pace_start(d, d->pace_busy_ms);
        d->pace_busy_ms = 0;
    }
    if (job->kind == PD_RTJOB_RUN && job->rc != 0) {
        d->runtime_errors++;
        pd_rtfail_t *f = &d->rtfails[d->rtfail_next++ % PD_RTFAIL_MAX];
        (void)snprintf(f->name, sizeof(f->name), "%s", job->key);
        f->rc = job->rc;
        (void)snprintf(f->detail, sizeof(f->detail), "%s", job->detail);
        if (!pd_start_image_missing(job->rc, job->detail)) {
            pd_network_forget(d, job->mem.network);
        }
    }
}

/* Every deployment with an active lease of ours, once. */
static void pd_pass_run(kumo_provider_daemon_t *d, pd_pass_t *pass)
{
    if (pass->create) {
        pd_tun_pass_begin(d); /* the tunnels are wanted afresh, as the forwards */
    }
    for (uint32_t i = 0; i < d->lease_count; i++) {
        /* A closing lease is released once its containers are gone (after the creating round). */
        pass->ok[i] = !d->leases[i].active && pass->create;
    }
    /* The creating round starts at a lease that turns every pass, so deployments take turns
     * at the start budget. */
    uint32_t start = pass->create && d->lease_count > 0 ? d->work_cursor++ % d->lease_count : 0;
    for (uint32_t n = 0; n < d->lease_count; n++) {
        uint32_t i = (start + n) % d->lease_count;
        const pd_lease_t *l = &d->leases[i];
        bool first = l->active;
        for (uint32_t k = 0; k < i && first; k++) {
            first = !(d->leases[k].active && d->leases[k].dseq == l->dseq &&
                      strcmp(d->leases[k].owner, l->owner) == 0);
        }
        if (first) {
            pd_mq_run(d); /* an announced manifest is not held back by this pass */
            pd_dep_work(d, l->owner, l->dseq, pass);
        }
    }
}

/* Whether this provider holds an active lease of (owner, dseq): its chunks are kept. */
static bool pd_chunks_keep(void *ctx, const char *owner, uint64_t dseq, const char *tail)
{
    (void)tail;
    const kumo_provider_daemon_t *d = ctx;
    for (uint32_t i = 0; i < d->lease_count; i++) {
        if (d->leases[i].active && d->leases[i].dseq == dseq &&
            strcmp(d->leases[i].owner, owner) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether the files of version tail of (owner, dseq) are kept: a lease here is active, and
 * it is the stored manifest's version or a listed container of the deployment still binds
 * them (one a newer version kept: docs/design.md §10). */
static bool pd_files_keep(void *ctx, const char *owner, uint64_t dseq, const char *tail)
{
    kumo_provider_daemon_t *d = ctx;
    if (!pd_chunks_keep(ctx, owner, dseq, tail)) {
        return false;
    }
    for (uint32_t i = 0; i < d->container_count; i++) {
        const kumo_runtime_container_t *c = &d->containers[i];
        if (c->dseq == dseq && strcmp(c->owner, owner) == 0 && strcmp(c->version, tail) == 0) {
            return true;
        }
    }
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    char hex[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    /* Not told (no manifest readable right now), or a start still queued or running (it may
     * bind them, and is listed only once made): kept, dropped by a later pass. */
    return pd_rtwork_pending(d) > 0 ||
           pd_manifest_stored_version(d->home, owner, dseq, version, NULL) != 0 ||
           kumo_codec_hex_encode(kumo_bytes_make(version, sizeof(version)), hex, sizeof(hex)) !=
               0 ||
           strcmp(hex, tail) == 0;
}

/* What is kept on disk per deployment goes when its last lease here ended: its chunks, the
 * files of its manifests (of a version no container uses, once a newer one is stored), the
 * tunnels it told its peers. */
static void pd_deployment_stores_drop(kumo_provider_daemon_t *d)
{
    pd_chunks_drop(d->home, NULL, 0, NULL, pd_chunks_keep, d);
    pd_files_drop(d->home, NULL, 0, NULL, pd_files_keep, d);
    pd_tunnels_drop(d->home, NULL, 0, pd_chunks_keep, d);
}

/* The kept logs and journals are pruned at the first pass and every PD_KEPT_PRUNE_EVERY_S. */
static void pd_kept_prune_due(kumo_provider_daemon_t *d)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_s = ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
    if (d->kept_pruned_s == 0 || now_s >= d->kept_pruned_s + PD_KEPT_PRUNE_EVERY_S ||
        now_s < d->kept_pruned_s) {
        d->kept_pruned_s = now_s;
        (void)pd_kept_prune(d->home, now_s, d->cfg.kept_hours);
    }
}

void pd_work(kumo_provider_daemon_t *d)
{
    atomic_store(&d->kick, 0);
    kumo_err_ctx_t err = {0};
    if (d->runtime == NULL && pd_rt(d)->open(d->cfg.runtime_socket, &d->runtime, &err) < 0) {
        pd_runtime_seen(d, false);
        return; /* nothing can be served, so nothing is confirmed */
    }
    pd_runtime_seen(d, pd_rt(d)->ping(d->runtime, &err) == 0);
    if (!d->runtime_up) {
        return;
    }
    d->pass_number++;
    d->pass_inspects = 0;
    d->pass_nets_unknown = false;
    pd_rtwork_collect(d, pd_rtjob_done, d);
    for (uint32_t i = 0; i < d->sent_count; i++) {
        d->sent[i].height = d->sent[i].height == 0 ? d->height : d->sent[i].height;
    }
    if (pd_node(d)->leases_load(d, &err) < 0 || pd_containers_load(d, &err) < 0) {
        KUMO_LOG_WARN("provider", "work_skipped", "code=%s detail=\"%s\"", kumo_err_name(err.code),
                      err.detail);
        return;
    }
    pd_pass_t pass = {
        .ok = kumo_calloc(PD_LEASE_MAX, sizeof(bool)),
        .fwd = kumo_calloc(KUMO_OVERLAY_FWD_ENTRY_MAX, sizeof(kumo_overlay_fwd_entry_t))};
    if (pass.ok == NULL || pass.fwd == NULL) {
        kumo_free(pass.ok);
        kumo_free(pass.fwd);
        return;
    }
    d->pass_starts = 0;
    d->pass_deferred = 0;
    for (int round = 0; round < 2; round++) {
        pass.create = round == 1;
        pass.fwd_count = 0;
        pd_pass_run(d, &pass);
        if (!pass.create) {
            pd_confirm(d, pass.ok); /* what already runs, before any peer is asked */
        }
    }
    /* Starts queued by an earlier pass that this one no longer wants (the lease ended, the
     * version changed) are dropped before they run. */
    uint32_t dropped = pd_rtwork_cancel_stale(d, d->pass_number);
    if (d->pass_deferred > 0 || dropped > 0) {
        KUMO_LOG_INFO("provider", "starts_deferred", "queued=%u left=%u dropped=%u pending=%u",
                      d->pass_starts, d->pass_deferred, dropped, pd_rtwork_pending(d));
    }
    if (d->leases_partial) {
        /* Containers of a lease we could not list are kept: removing them would lose it. */
        KUMO_LOG_ERROR("provider", "lease_table_full", "listed_max=%u (nothing removed)",
                       PD_LEASE_MAX);
    } else {
        pd_orphans_remove(d, pass.ok);
        pd_deployment_stores_drop(d);
    }
    pd_tun_pass_end(d); /* the tunnels' permission renewed by this read of the chain */
    pd_api_forwards(d, pass.fwd, pass.fwd_count);
    pd_isolation_sync(d, pass.fwd, pass.fwd_count);
    pd_kept_prune_due(d);
    pd_confirm(d, pass.ok);
    if (!d->leases_partial) {
        pd_refusals(d, pass.ok);
    }
    d->worked_height = d->height;
    kumo_free(pass.ok);
    kumo_free(pass.fwd);
}
