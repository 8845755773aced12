/*
 * deploy_run.c - the provider side of `kumo deploy` (docs/provider-api.md): look up each
 * lease's provider on chain, upload the manifest to the first that accepts it and follow it
 * spreading to the others in chunks (a create and an update alike), poll each provider's status
 * until every workload runs (short pauses under the flow's deadline: this is the provider API, not
 * the chain), and report the endpoints and stage timings. The providers connect the groups
 * themselves, through their tunnels: nothing is sent them about each other.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/deploy_int.h"
#include "provider/provider_api.h"

/* Between two polls of a provider: short, the containers usually start in well under 1 s. */
#define DEPLOY_POLL_PAUSE_MS 200u
/* How long the providers may take to get the manifest from each other before we upload to
 * those that did not (they try every 2 blocks). */
#define DEPLOY_SPREAD_WAIT_MS 20000u
/* How long a provider may name another version than ours (it has not seen the update's block
 * yet) before we upload to it. */
#define DEPLOY_OTHER_VERSION_MS 3000u

static void run_pause(void)
{
    struct timespec ts = {0, (long)DEPLOY_POLL_PAUSE_MS * 1000000L};
    (void)nanosleep(&ts, NULL);
}

int deploy_run_peer_find(deploy_flow_t *f, const char *addr, size_t *index_out, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < f->peer_count; i++) {
        if (strcmp(f->peers[i].p.addr, addr) == 0) {
            *index_out = i;
            return 0;
        }
    }
    KUMO_ASSERT(f->peer_count < KUMO_ARRAY_COUNT(f->peers));
    deploy_peer_t *peer = &f->peers[f->peer_count];
    memset(peer, 0, sizeof(*peer));
    KUMO_GUARD(deploy_provider_lookup(f->a, addr, &peer->p, err));
    *index_out = f->peer_count++;
    return 0;
}

static int run_peers_resolve(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < f->group_count; i++) {
        deploy_group_t *g = &f->groups[i];
        KUMO_ENSURE(g->leased, err, KUMO_ENOTFOUND, "group %s has no active lease", g->name);
        KUMO_GUARD(deploy_run_peer_find(f, g->provider, &g->provider_index, err));
    }
    return 0;
}

static int
run_path(const deploy_flow_t *f, const char *leaf, char *out, size_t cap, kumo_err_ctx_t *err)
{
    int n = snprintf(out, cap, "/deployments/%s/%" PRIu64 "/%s", f->owner, f->dseq, leaf);
    KUMO_ENSURE(n > 0 && (size_t)n < cap, err, KUMO_ELIMIT, "path too long");
    return 0;
}

static bool run_deadline_passed(const deploy_flow_t *f)
{
    return deploy_now_ms() >= f->deadline_ms;
}

/* Chunk index of the manifest (leaves: every chunk's leaf hash) with its proof, as the body
 * of PUT .../manifest-chunk: the proof hashes, then the chunk's bytes. */
static int run_chunk_body(kumo_bytes_t manifest,
                          kumo_bytes_t leaves,
                          uint32_t count,
                          uint32_t index,
                          kumo_buf_t *out,
                          kumo_err_ctx_t *err)
{
    uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
    size_t proof_len = 0;
    KUMO_GUARD(kumo_crypto_merkle_proof_build(leaves, count, index, proof, &proof_len));
    size_t off = (size_t)index * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    KUMO_ASSERT(off <= manifest.len);
    size_t n = manifest.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? manifest.len - off
                                                                   : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
    kumo_buf_reset(out);
    KUMO_ENSURE(kumo_buf_append(out, proof, proof_len) == 0 &&
                    (n == 0 || kumo_buf_append(out, manifest.ptr + off, n) == 0),
                err, KUMO_ENOMEM, "chunk %" PRIu32, index);
    return 0;
}

/* The manifest in chunks (over KUMO_PROVIDER_MANIFEST_BYTES_MAX, the most a provider takes in
 * one body): each chunk with its proof, as peers serve them, so neither side holds more than
 * a chunk in a request. Progress about every tenth. *status as for one PUT. */
static int run_manifest_put_chunks(
    deploy_flow_t *f, deploy_peer_t *peer, const char *path, long *status, kumo_err_ctx_t *err)
{
    kumo_bytes_t m = f->stack.manifest;
    uint32_t count = 0;
    KUMO_GUARD(kumo_crypto_merkle_chunk_count(m.len, &count));
    uint8_t *leaves = kumo_calloc(count, KUMO_CRYPTO_HASH_BYTES);
    KUMO_ENSURE(leaves != NULL, err, KUMO_ENOMEM, "leaf hashes");
    for (uint32_t i = 0; i < count; i++) {
        size_t off = (size_t)i * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        size_t n = m.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES ? m.len - off
                                                                : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        kumo_crypto_merkle_leaf_hash(kumo_bytes_make(m.ptr + off, n),
                                     leaves + (size_t)i * KUMO_CRYPTO_HASH_BYTES);
    }
    kumo_buf_t body;
    kumo_buf_t ans;
    kumo_buf_init(&body, KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES);
    kumo_buf_init(&ans, DEPLOY_PROVIDER_ANSWER_BYTES_MAX);
    int rc = 0;
    uint32_t step = count / 10u > 0 ? count / 10u : 1u;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        char url[320];
        int n = snprintf(url, sizeof(url), "%s-chunk?total=%zu&index=%" PRIu32, path, m.len, i);
        rc = n > 0 && (size_t)n < sizeof(url) ? 0 : kumo_err_set(err, KUMO_ELIMIT, "path");
        rc =
            rc == 0
                ? run_chunk_body(m, kumo_bytes_make(leaves, (size_t)count * KUMO_CRYPTO_HASH_BYTES),
                                 count, i, &body, err)
                : rc;
        kumo_buf_reset(&ans);
        rc = rc == 0 ? deploy_provider_call(&f->tls, &peer->p, "PUT", url, kumo_buf_bytes(&body),
                                            status, &ans, err)
                     : rc;
        if (rc == 0 && ((i + 1u) % step == 0 || i + 1u == count)) {
            fprintf(f->out, "manifest %s: %" PRIu32 "/%" PRIu32 " chunks\n", peer->p.addr, i + 1u,
                    count);
        }
    }
    kumo_buf_free(&ans);
    kumo_buf_free(&body);
    kumo_free(leaves);
    return rc;
}

/* One PUT of the manifest (whole when it fits one body, else in chunks); *status 0 when the
 * provider did not answer. */
static int run_manifest_put_once(
    deploy_flow_t *f, deploy_peer_t *peer, const char *path, long *status, kumo_err_ctx_t *err)
{
    kumo_buf_t ans;
    kumo_buf_init(&ans, DEPLOY_PROVIDER_ANSWER_BYTES_MAX);
    *status = 0;
    int rc = f->stack.manifest.len > KUMO_PROVIDER_MANIFEST_BYTES_MAX
                 ? run_manifest_put_chunks(f, peer, path, status, err)
                 : deploy_provider_call(&f->tls, &peer->p, "PUT", path, f->stack.manifest, status,
                                        &ans, err);
    kumo_buf_free(&ans);
    if (rc == 0) {
        peer->manifest_accepted = true;
        peer->manifest_held = true;
        peer->via = "upload";
        fprintf(f->out, "manifest accepted by %s (%s)\n", peer->p.addr, peer->p.host_uri);
    }
    return rc;
}

/* Whether a failed PUT may be tried again: the provider has not seen its lease yet (404) or
 * did not answer (0). Other refusals are final. */
static bool run_put_retryable(long status)
{
    return status == 404 || status == 0;
}

/* PUT the manifest to one provider, again while retryable, until the deadline. */
static int run_manifest_put(deploy_flow_t *f, deploy_peer_t *peer, kumo_err_ctx_t *err)
{
    char path[256];
    KUMO_GUARD(run_path(f, "manifest", path, sizeof(path), err));
    for (;;) {
        long status = 0;
        int rc = run_manifest_put_once(f, peer, path, &status, err);
        if (rc == 0 || !run_put_retryable(status) || run_deadline_passed(f)) {
            return rc;
        }
        KUMO_GUARD(deploy_flow_drain(f, err));
        run_pause();
    }
}

/* PUT the manifest to the first provider that accepts it, in turn, until the deadline: a
 * provider that is down or has not seen its lease yet does not hold the others back. */
static int run_manifest_put_first(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    char path[256];
    KUMO_GUARD(run_path(f, "manifest", path, sizeof(path), err));
    for (;;) {
        int rc = 0;
        for (size_t i = 0; i < f->peer_count; i++) {
            long status = 0;
            rc = run_manifest_put_once(f, &f->peers[i], path, &status, err);
            if (rc == 0 || !run_put_retryable(status)) {
                return rc;
            }
        }
        if (run_deadline_passed(f)) {
            return rc;
        }
        KUMO_GUARD(deploy_flow_drain(f, err));
        run_pause();
    }
}

/* Asks one provider what it holds of the manifest (404: nothing yet); prints a change.
 * False when it names another version than ours (it sees another on chain). */
static bool run_spread_poll(deploy_flow_t *f, deploy_peer_t *peer, const char *path)
{
    kumo_buf_t ans;
    kumo_buf_init(&ans, KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX);
    long status = 0;
    kumo_err_ctx_t err = {0};
    kumo_provider_chunk_info_t info;
    memset(&info, 0, sizeof(info));
    bool ok = deploy_provider_call(&f->tls, &peer->p, "GET", path, kumo_bytes_make(NULL, 0),
                                   &status, &ans, &err) == 0 &&
              kumo_provider_chunk_info_parse(kumo_buf_bytes(&ans), &info, &err) == 0;
    kumo_buf_free(&ans);
    if (ok && memcmp(info.version, f->stack.version, sizeof(info.version)) != 0) {
        uint64_t now_ms = deploy_now_ms();
        peer->other_version_since_ms =
            peer->other_version_since_ms == 0 ? now_ms : peer->other_version_since_ms;
        return now_ms - peer->other_version_since_ms < DEPLOY_OTHER_VERSION_MS;
    }
    peer->other_version_since_ms = 0;
    if (!ok || (info.chunks_held == peer->chunks_held && info.manifest == peer->manifest_held)) {
        return true;
    }
    peer->chunks_held = info.chunks_held;
    peer->chunk_count = info.chunk_count;
    if (info.manifest && !peer->manifest_held) {
        peer->manifest_held = true;
        peer->via = "peers";
    }
    fprintf(f->out, "manifest at %s: %" PRIu32 "/%" PRIu32 " chunks%s\n", peer->p.addr,
            info.chunks_held, info.chunk_count, info.manifest ? ", held" : "");
    return true;
}

/* Waits until every provider holds the manifest (they fetch it from each other in chunks),
 * showing each one's progress; after DEPLOY_SPREAD_WAIT_MS, uploads to those that do not, and
 * to one that names another version for DEPLOY_OTHER_VERSION_MS (its answer says why). */
static int run_manifest_spread(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    char path[256];
    KUMO_GUARD(run_path(f, "manifest-info", path, sizeof(path), err));
    uint64_t until_ms = deploy_now_ms() + DEPLOY_SPREAD_WAIT_MS;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < f->peer_count; i++) {
            if (!f->peers[i].manifest_held && !run_spread_poll(f, &f->peers[i], path)) {
                KUMO_GUARD(run_manifest_put(f, &f->peers[i], err));
            }
            all = all && f->peers[i].manifest_held;
        }
        if (all) {
            return 0;
        }
        if (deploy_now_ms() >= until_ms || run_deadline_passed(f)) {
            break;
        }
        KUMO_GUARD(deploy_flow_drain(f, err));
        run_pause();
    }
    for (size_t i = 0; i < f->peer_count; i++) {
        if (!f->peers[i].manifest_held) {
            fprintf(f->out, "%s did not get the manifest from its peers: uploading to it\n",
                    f->peers[i].p.addr);
            KUMO_GUARD(run_manifest_put(f, &f->peers[i], err));
        }
    }
    return 0;
}

/* The manifest to every provider: to one, then spread by them. */
static int run_manifest_deliver(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_GUARD(run_manifest_put_first(f, err));
    return run_manifest_spread(f, err);
}

/* The workloads of group gseq's manifest, and how many of them run at the provider. */
static bool run_peer_running(deploy_flow_t *f, size_t peer_index, int counts[])
{
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(f->stack.sdl);
    const json_t *ws = json_object_get(f->peers[peer_index].status, "workloads");
    bool all = true;
    for (size_t i = 0; i < m->n_workloads; i++) {
        int g = deploy_stack_workload_gseq(&f->stack, m->workloads[i]->name);
        if (g < 0 || f->groups[g].provider_index != peer_index) {
            continue;
        }
        uint64_t running = 0;
        size_t k;
        const json_t *w;
        json_array_foreach(ws, k, w)
        {
            if (strcmp(cli_json_str(w, "name"), m->workloads[i]->name) == 0) {
                running = cli_json_u64(w, "running");
            }
        }
        if ((int)running != counts[i]) {
            counts[i] = (int)running;
            fprintf(f->out, "%s %" PRIu64 "/%" PRIu32 " running at %s\n", m->workloads[i]->name,
                    running, m->workloads[i]->count, f->peers[peer_index].p.addr);
        }
        all = all && running >= m->workloads[i]->count;
    }
    return all;
}

static int run_running_wait(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    char path[256];
    KUMO_GUARD(run_path(f, "status", path, sizeof(path), err));
    int counts[KUMO_SDL_WORKLOAD_COUNT_MAX];
    for (size_t i = 0; i < KUMO_SDL_WORKLOAD_COUNT_MAX; i++) {
        counts[i] = -1;
    }
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < f->peer_count; i++) {
            long status = 0;
            json_t *st = NULL;
            KUMO_GUARD(deploy_provider_json(&f->tls, &f->peers[i].p, "GET", path,
                                            kumo_bytes_make(NULL, 0), &status, &st, err));
            json_decref(f->peers[i].status);
            f->peers[i].status = st;
            all = run_peer_running(f, i, counts) && all;
        }
        if (all) {
            return 0;
        }
        KUMO_ENSURE(!run_deadline_passed(f), err, KUMO_EBUSY,
                    "timed out waiting for the workloads to run (raise --timeout; see kumo deploy "
                    "status and kumo deploy logs)");
        KUMO_GUARD(deploy_flow_drain(f, err));
        run_pause();
    }
}

static int run_endpoints_collect(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    json_array_clear(f->endpoints);
    for (size_t i = 0; i < f->peer_count; i++) {
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(f->peers[i].status, "endpoints"), k, e)
        {
            KUMO_ENSURE(json_is_object(e), err, KUMO_EDECODE, "provider %s: bad endpoint",
                        f->peers[i].p.addr);
            json_t *copy = json_deep_copy(e);
            KUMO_ENSURE(copy != NULL, err, KUMO_ENOMEM, "endpoints");
            (void)json_object_set_new(copy, "provider", json_string(f->peers[i].p.addr));
            KUMO_ENSURE(json_array_append_new(f->endpoints, copy) == 0, err, KUMO_ENOMEM,
                        "endpoints");
        }
    }
    return 0;
}

int deploy_run_to_running(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(f->stack_loaded);
    KUMO_GUARD(run_peers_resolve(f, err));
    KUMO_GUARD(run_manifest_deliver(f, err));
    KUMO_GUARD(deploy_flow_drain(f, err));
    deploy_flow_mark(f, DEPLOY_MARK_MANIFEST);
    KUMO_GUARD(run_running_wait(f, err));
    KUMO_GUARD(deploy_flow_drain(f, err));
    deploy_flow_mark(f, DEPLOY_MARK_RUNNING);
    return run_endpoints_collect(f, err);
}

/* ---- report ---- */

static const char *const run_stage_names[] = {"wait_blocks", "lease", "manifest", "containers"};

static json_t *run_stages_json(const deploy_flow_t *f)
{
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < KUMO_ARRAY_COUNT(run_stage_names); i++) {
        const deploy_mark_t *from = &f->marks[i == 0 ? DEPLOY_MARK_START : i + 1];
        const deploy_mark_t *to = &f->marks[i + 2];
        if (!from->set || !to->set) {
            continue;
        }
        (void)json_object_set_new(o, run_stage_names[i],
                                  json_pack("{s:I, s:I}", "blocks",
                                            (json_int_t)(to->height - from->height), "ms",
                                            (json_int_t)(to->ms - from->ms)));
    }
    const deploy_mark_t *s = &f->marks[DEPLOY_MARK_START];
    const deploy_mark_t *e = &f->marks[DEPLOY_MARK_RUNNING];
    if (o != NULL && s->set && e->set) {
        (void)json_object_set_new(o, "total",
                                  json_pack("{s:I, s:I}", "blocks",
                                            (json_int_t)(e->height - s->height), "ms",
                                            (json_int_t)(e->ms - s->ms)));
    }
    return o;
}

static json_t *run_leases_json(const deploy_flow_t *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < f->group_count; i++) {
        const deploy_group_t *g = &f->groups[i];
        char price[24];
        (void)snprintf(price, sizeof(price), "%" PRIu64, g->price_ukumo);
        (void)json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s, s:s}", "group", g->name,
                                                   "gseq", (json_int_t)g->gseq, "oseq",
                                                   (json_int_t)g->oseq, "provider", g->provider,
                                                   "price_ukumo_per_block", price));
    }
    return arr;
}

/* How each provider got the manifest: [{"provider", "via", "chunks_held", "chunk_count"}]. */
static json_t *run_spread_json(const deploy_flow_t *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < f->peer_count; i++) {
        const deploy_peer_t *p = &f->peers[i];
        (void)json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "provider", p->p.addr,
                                                   "via", p->via != NULL ? p->via : "",
                                                   "chunks_held", (json_int_t)p->chunks_held,
                                                   "chunk_count", (json_int_t)p->chunk_count));
    }
    return arr;
}

void deploy_run_report(const deploy_flow_t *f, const char *what)
{
    if (f->a->output == CLI_OUTPUT_JSON) {
        char dseq[24];
        (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, f->dseq);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:o}", "command", what, "owner", f->owner,
                      "dseq", dseq, "version", f->stack.version_hex, "leases", run_leases_json(f),
                      "endpoints", f->endpoints, "stages", run_stages_json(f));
        if (o != NULL) {
            (void)json_object_set_new(o, "manifest_delivery", run_spread_json(f));
            cli_json_print(o, stdout);
        }
        json_decref(o);
        return;
    }
    json_t *st = run_stages_json(f);
    const char *key;
    json_t *v;
    json_object_foreach(st, key, v)
    {
        printf("stage %-12s %3" PRIu64 " blocks %7" PRIu64 " ms\n", key, cli_json_u64(v, "blocks"),
               cli_json_u64(v, "ms"));
    }
    json_decref(st);
    for (size_t k = 0; k < f->peer_count; k++) {
        const deploy_peer_t *p = &f->peers[k];
        printf("manifest at %s: %s\n", p->p.addr,
               p->via == NULL                 ? "held"
               : strcmp(p->via, "peers") == 0 ? "from its peers"
                                              : "uploaded");
    }
    size_t i;
    const json_t *e;
    json_array_foreach(f->endpoints, i, e)
    {
        if (strcmp(cli_json_str(e, "scope"), "deployment") == 0) {
            continue;
        }
        printf("endpoint %s:%" PRIu64 " → %s\n", cli_json_str(e, "workload"),
               cli_json_u64(e, "port"), cli_json_str(e, "url"));
    }
    printf("%s: deployment %" PRIu64 " running (kumo deploy status|logs|close)\n", what, f->dseq);
}
