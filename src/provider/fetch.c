/*
 * fetch.c - the chunk fetcher: a provider with an active lease and no manifest fetches the
 * chunks of the deployment's on-chain version it lacks from SEVERAL of the deployment's other
 * providers at once (docs/design.md §10, "Chunked delivery").
 *
 * 1. Ask the other lease holders (not penalized for this version; the one that announced it
 *    first) for GET .../manifest-info until enough answer; keep those that answer the chain's
 *    version with a length within PD_CHUNKS_BYTES_MAX (a larger declared length is refused
 *    before any chunk is asked for) and agree with the length most of them declare. For a
 *    large manifest, PD_FETCH_SPREAD_PEERS holders still fetching it are sources too, and
 *    the fetchers take their shares from the full peers (pd_fetch_spread, pd_fetch_shares).
 * 2. Ask them for the chunks not held yet, spread by fetch_plan.c, at most
 *    PD_FETCH_IN_FLIGHT_MAX open per peer, over one curl multi handle and one connection per
 *    peer (a share handle). Each chunk is checked
 *    against the version with its proof before it is stored (and so before it is ever served
 *    on); a chunk failing its proof is dropped, its peer is not asked again for this version
 *    for PD_FETCH_PENALTY_BLOCKS blocks, and the chunk goes to another peer.
 * 3. With every chunk held, the whole is assembled, its root compared with the version, and
 *    it must fit the lease (pd_manifest_bytes_verify) before it is stored as the manifest.
 * Runs on the main thread (on an announcement, or from a pass) and blocks it for at most
 * PD_FETCH_BUDGET_MS; what arrived stays on disk, so the next try goes on from there. Peers that
 * know no chunk route are asked for the whole manifest as before (pd_peer.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "log/log.h"
#include "provider/daemon_int.h"
#include "tls/tls.h"

/* One fetch's transfers at once. */
#define PD_FETCH_XFER_MAX (PD_FETCH_PEER_MAX * PD_FETCH_IN_FLIGHT_MAX)

typedef struct pd_fetch_xfer {
    CURL *h;
    uint32_t peer;
    uint32_t index;
    kumo_buf_t body;
} pd_fetch_xfer_t;

typedef struct pd_fetch {
    kumo_provider_daemon_t *d;
    const char *owner;
    uint64_t dseq;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    char version_text[2u * KUMO_CRYPTO_HASH_BYTES + 1u];
    pd_peer_target_t peer[PD_FETCH_PEER_MAX];
    uint64_t declared[PD_FETCH_PEER_MAX]; /* the length each peer declared */
    bool full[PD_FETCH_PEER_MAX];         /* it declared every chunk held */
    uint32_t peer_count;
    uint32_t answered;
    pd_chunks_t store;
    pd_fetch_plan_t plan;
    uint64_t bytes_max; /* the largest declared length taken */
    bool whole_only;    /* no lease check, no manifest stored: the whole into whole_out */
    kumo_buf_t *whole_out;
    CURLM *multi;
    CURLSH *share; /* one connection per peer for its info and its chunks (NULL: none) */
    pd_fetch_xfer_t xfer[PD_FETCH_XFER_MAX];
    uint32_t bad_chunks;
    /* Who else may serve chunks (lease holders, or the targets given): those holding none
     * yet are asked too for a large manifest, since they fetch it as well (pd_fetch_spread). */
    const pd_parts_entry_t *parts;
    const pd_peer_target_t *targets;
    uint32_t target_count;
    uint32_t speculative; /* peers taken without an info answer */
} pd_fetch_t;

/* ---- step 1: who answers the version, with what length ---- */

/* Asks one peer for manifest-info; false unless it answered this version within the limit. */
static bool pd_fetch_info(pd_fetch_t *f, pd_peer_target_t *t, uint64_t *total, bool *full)
{
    kumo_buf_t body;
    kumo_buf_init(&body, KUMO_PROVIDER_CHUNK_INFO_BYTES_MAX);
    CURL *c = pd_peer_handle(f->d, t, f->owner, f->dseq, "manifest-info", &body);
    if (c != NULL && f->share != NULL) {
        (void)curl_easy_setopt(c, CURLOPT_SHARE, f->share);
    }
    long status = 0;
    CURLcode cc = c != NULL ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    kumo_provider_chunk_info_t info;
    kumo_err_ctx_t err = {0};
    bool ok = cc == CURLE_OK && status == 200 &&
              kumo_provider_chunk_info_parse(kumo_buf_bytes(&body), &info, &err) == 0 &&
              memcmp(info.version, f->version, sizeof(info.version)) == 0 && info.chunks_held > 0;
    kumo_buf_free(&body);
    if (ok && info.total_bytes > f->bytes_max) {
        /* Refused before any chunk is asked for, and not asked again for a while (so the log
         * line a peer can cause comes once per penalty). */
        KUMO_LOG_WARN("provider", "manifest_too_large",
                      "deployment=%s/%" PRIu64 " from=%s declared_bytes=%" PRIu64 " max=%" PRIu64,
                      f->owner, f->dseq, t->provider, info.total_bytes, f->bytes_max);
        pd_penalty_add(&f->d->penalties, t->provider, f->version,
                       f->d->height + PD_FETCH_PENALTY_BLOCKS);
        return false;
    }
    *total = ok ? info.total_bytes : 0;
    *full = ok && info.chunks_held == info.chunk_count;
    return ok;
}

/* Enough peers asked: one holds every chunk, and there are as many sources as chunks, up to
 * PD_FETCH_SOURCES_ENOUGH. Asking every lease holder costs a TLS handshake each, which for a
 * small manifest costs more than the transfer. */
static bool pd_fetch_enough(const pd_fetch_t *f)
{
    bool full = false;
    uint32_t count = 0;
    for (uint32_t i = 0; i < f->peer_count; i++) {
        full = full || f->full[i];
        uint32_t c = 0;
        count = kumo_crypto_merkle_chunk_count(f->declared[i], &c) == 0 && c > count ? c : count;
    }
    uint32_t want = count < PD_FETCH_SOURCES_ENOUGH ? count : PD_FETCH_SOURCES_ENOUGH;
    return full && f->peer_count >= want;
}

/* A place in 0..n-1 set by a name (FNV-1a), n > 0: where a provider starts in a list of
 * peers or of chunks, so fetchers do not all ask the same peer, or the same chunks, first. */
static uint32_t pd_fetch_place(const char *name, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    return n > 0 ? h % n : 0;
}

static size_t pd_fetch_start_of(const pd_fetch_t *f, size_t n)
{
    return pd_fetch_place(f->d->addr, (uint32_t)n);
}

/* Whether p is worth asking: a lease holder other than us, not asked yet, not penalized. */
static bool pd_fetch_peer_new(const pd_fetch_t *f, const char *p)
{
    bool known = false;
    for (uint32_t i = 0; i < f->peer_count; i++) {
        known = known || strcmp(f->peer[i].provider, p) == 0;
    }
    return !known && strcmp(p, f->d->addr) != 0 && f->peer_count < PD_FETCH_PEER_MAX &&
           !pd_penalty_is_active(&f->d->penalties, p, f->version, f->d->height);
}

/* Asks p for manifest-info; kept in f->peer when it answers the version. */
static void pd_fetch_peer_ask(pd_fetch_t *f, const char *p)
{
    pd_peer_target_t *t = &f->peer[f->peer_count];
    kumo_err_ctx_t err = {0};
    if (pd_parts_target_load(f->d->parts, f->d->client, p, t, &err) != 0) {
        return;
    }
    if (pd_fetch_info(f, t, &f->declared[f->peer_count], &f->full[f->peer_count])) {
        f->peer_count++;
    } else {
        pd_peer_target_free(t);
    }
}

/* The other lease holders that answer manifest-info for the version, into f->peer, until
 * enough of them (pd_fetch_enough): prefer first (the one that announced it), then from
 * this provider's place in the list. */
static void pd_fetch_peers(pd_fetch_t *f, const pd_parts_entry_t *parts, const char *prefer)
{
    if (prefer != NULL && prefer[0] != '\0' && pd_parts_holds(parts, prefer) &&
        pd_fetch_peer_new(f, prefer)) {
        pd_fetch_peer_ask(f, prefer);
    }
    size_t n = parts->holder_count;
    size_t start = pd_fetch_start_of(f, n);
    for (size_t k = 0; k < n && !pd_fetch_enough(f); k++) {
        const char *p = parts->holders[(start + k) % n];
        if (pd_fetch_peer_new(f, p)) {
            pd_fetch_peer_ask(f, p);
        }
    }
}

/* Whether the peer named p is in f->peer already. */
static bool pd_fetch_has_peer(const pd_fetch_t *f, const char *p)
{
    for (uint32_t i = 0; i < f->peer_count; i++) {
        if (strcmp(f->peer[i].provider, p) == 0) {
            return true;
        }
    }
    return false;
}

/* A large manifest: PD_FETCH_SPREAD_PEERS other candidates (from this provider's place in
 * the list) are sources too, without asking them first. Those
 * that hold nothing yet fetch the same manifest, each starting at its own place (its name's),
 * so they soon hold chunks the others lack: like BitTorrent, the fetchers serve each other and
 * the providers that hold everything serve a share each instead of every chunk to every one.
 * What they serve is proved like anything else; a chunk one lacks is asked of it again after
 * PD_FETCH_LACKS_FORGET_MS. */
static void pd_fetch_spread(pd_fetch_t *f, uint64_t total)
{
    uint32_t count = 0;
    if (kumo_crypto_merkle_chunk_count(total, &count) != 0 || count < PD_FETCH_SPREAD_CHUNKS_MIN) {
        return;
    }
    uint32_t n = f->parts != NULL ? f->parts->holder_count : f->target_count;
    uint32_t start = (uint32_t)pd_fetch_start_of(f, n);
    for (uint32_t k = 0;
         k < n && f->peer_count < PD_FETCH_PEER_MAX && f->speculative < PD_FETCH_SPREAD_PEERS;
         k++) {
        uint32_t i = (start + k) % n;
        pd_peer_target_t *t = &f->peer[f->peer_count];
        kumo_err_ctx_t err = {0};
        if (f->parts != NULL) {
            const char *p = f->parts->holders[i];
            if (!pd_fetch_peer_new(f, p) ||
                pd_parts_target_load(f->d->parts, f->d->client, p, t, &err) != 0) {
                continue;
            }
        } else {
            const pd_peer_target_t *c = &f->targets[i];
            if (pd_fetch_has_peer(f, c->provider)) {
                continue;
            }
            memset(t, 0, sizeof(*t));
            memcpy(t->provider, c->provider, sizeof(t->provider));
            memcpy(t->uri, c->uri, sizeof(t->uri));
            kumo_buf_init(&t->root_pem, KUMO_TLS_PEM_BYTES_MAX);
            if (kumo_buf_append(&t->root_pem, c->root_pem.ptr, c->root_pem.len) != 0) {
                pd_peer_target_free(t);
                continue;
            }
        }
        f->declared[f->peer_count] = total;
        f->full[f->peer_count] = false;
        f->peer_count++;
        f->speculative++;
    }
}

/* The length most peers declare (ties: the smaller); peers declaring another are dropped. */
static uint64_t pd_fetch_total_pick(pd_fetch_t *f)
{
    KUMO_ASSERT(f->peer_count > 0);
    uint64_t best = f->declared[0];
    uint32_t best_votes = 0;
    for (uint32_t i = 0; i < f->peer_count; i++) {
        uint32_t votes = 0;
        for (uint32_t k = 0; k < f->peer_count; k++) {
            votes += f->declared[k] == f->declared[i] ? 1u : 0u;
        }
        if (votes > best_votes || (votes == best_votes && f->declared[i] < best)) {
            best = f->declared[i];
            best_votes = votes;
        }
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < f->peer_count; i++) {
        if (f->declared[i] == best) {
            f->peer[kept] = f->peer[i];
            f->full[kept] = f->full[i];
            f->declared[kept++] = best;
        } else {
            pd_peer_target_free(&f->peer[i]);
        }
    }
    f->peer_count = kept;
    KUMO_ASSERT(kept == best_votes);
    return best;
}

/* ---- step 2: the chunks ---- */

static int pd_fetch_start(pd_fetch_t *f, pd_fetch_xfer_t *x, uint32_t peer, uint32_t index)
{
    char what[160];
    (void)snprintf(what, sizeof(what), "manifest-chunk?version=%s&index=%" PRIu32, f->version_text,
                   index);
    kumo_buf_init(&x->body, KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES);
    x->h = pd_peer_handle(f->d, &f->peer[peer], f->owner, f->dseq, what, &x->body);
    if (x->h != NULL && f->share != NULL) {
        (void)curl_easy_setopt(x->h, CURLOPT_SHARE, f->share);
    }
    if (x->h != NULL) {
        /* A chunk over a slow uplink shared by many fetchers takes longer than the peer
         * timeout allows a request: bounded by the fetch's budget and a stall instead. */
        (void)curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)PD_FETCH_BUDGET_MS);
        (void)curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        (void)curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_TIME, (long)(PD_PEER_TIMEOUT_MS / 1000L));
    }
    if (x->h == NULL || curl_multi_add_handle(f->multi, x->h) != CURLM_OK) {
        curl_easy_cleanup(x->h);
        x->h = NULL;
        kumo_buf_free(&x->body);
        return KUMO_ENOMEM;
    }
    x->peer = peer;
    x->index = index;
    return 0;
}

/* A free transfer slot, or NULL. */
static pd_fetch_xfer_t *pd_fetch_slot(pd_fetch_t *f)
{
    for (uint32_t k = 0; k < PD_FETCH_XFER_MAX; k++) {
        if (f->xfer[k].h == NULL) {
            return &f->xfer[k];
        }
    }
    return NULL;
}

/* Gives the usable peers one request each per round, until a round gives none: every peer
 * that answered gets chunks before any gets a second one. */
static void pd_fetch_fill(pd_fetch_t *f)
{
    bool gave = true;
    while (gave) {
        gave = false;
        for (uint32_t p = 0; p < f->peer_count; p++) {
            pd_fetch_xfer_t *x = pd_fetch_slot(f);
            uint32_t index = 0;
            if (x == NULL || !pd_fetch_plan_next(&f->plan, p, &index)) {
                continue;
            }
            gave = true;
            if (pd_fetch_start(f, x, p, index) != 0) {
                pd_fetch_plan_done(&f->plan, p, index, PD_FETCH_FAILED);
            }
        }
    }
}

/* What one finished transfer brought: stored if its proof holds. */
static pd_fetch_outcome_t pd_fetch_take(pd_fetch_t *f, pd_fetch_xfer_t *x, CURLcode cc)
{
    long status = 0;
    (void)curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status == 404) {
        return PD_FETCH_ABSENT; /* a peer still fetching serves only what it holds */
    }
    if (cc != CURLE_OK || status != 200) {
        return PD_FETCH_FAILED;
    }
    kumo_bytes_t proof;
    kumo_bytes_t chunk;
    kumo_err_ctx_t err = {0};
    int rc = kumo_provider_chunk_reply_split(kumo_buf_bytes(&x->body), x->index, f->store.count,
                                             &proof, &chunk, &err);
    rc = rc == 0 ? pd_chunks_put(&f->store, x->index, proof, chunk, &err) : rc;
    if (rc == KUMO_EIO || rc == KUMO_ENOMEM || rc == KUMO_ELIMIT) {
        return PD_FETCH_FAILED; /* ours, not the peer's */
    }
    if (rc != 0) {
        /* An answer of the right peer for the right version that does not prove is a lie. */
        KUMO_LOG_WARN("provider", "chunk_refused",
                      "deployment=%s/%" PRIu64 " from=%s index=%" PRIu32 " detail=\"%s\"", f->owner,
                      f->dseq, f->peer[x->peer].provider, x->index, err.detail);
        f->bad_chunks++;
        pd_penalty_add(&f->d->penalties, f->peer[x->peer].provider, f->version,
                       f->d->height + PD_FETCH_PENALTY_BLOCKS);
        return PD_FETCH_BAD;
    }
    return PD_FETCH_OK;
}

static void pd_fetch_reap(pd_fetch_t *f)
{
    int left = 0;
    for (CURLMsg *msg = curl_multi_info_read(f->multi, &left); msg != NULL;
         msg = curl_multi_info_read(f->multi, &left)) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        for (uint32_t k = 0; k < PD_FETCH_XFER_MAX; k++) {
            pd_fetch_xfer_t *x = &f->xfer[k];
            if (x->h != msg->easy_handle) {
                continue;
            }
            pd_fetch_outcome_t o = pd_fetch_take(f, x, msg->data.result);
            pd_fetch_plan_done(&f->plan, x->peer, x->index, o);
            (void)curl_multi_remove_handle(f->multi, x->h);
            curl_easy_cleanup(x->h);
            x->h = NULL;
            kumo_buf_free(&x->body);
            break;
        }
    }
}

/* Transfers until every chunk is held, no peer is left, or the budget is spent. With peers
 * still fetching among the sources, what they said they lack is forgotten every
 * PD_FETCH_LACKS_FORGET_MS, and a plan stuck on them waits for that instead of ending. */
static void pd_fetch_run(pd_fetch_t *f)
{
    uint64_t deadline_ms = pd_now_ms() + PD_FETCH_BUDGET_MS;
    uint64_t forgot_ms = pd_now_ms();
    pd_fetch_fill(f);
    int running = 1;
    while (!pd_fetch_plan_is_complete(&f->plan) && pd_now_ms() < deadline_ms && !*f->d->stop) {
        uint64_t now_ms = pd_now_ms();
        bool forgot = false;
        if (f->speculative > 0 && now_ms - forgot_ms >= PD_FETCH_LACKS_FORGET_MS) {
            pd_fetch_plan_lacks_forget(&f->plan);
            forgot_ms = now_ms;
            forgot = true;
            pd_fetch_fill(f);
        }
        if (pd_fetch_plan_is_stuck(&f->plan)) {
            if (f->speculative == 0 || forgot) {
                break; /* nothing to ask, even of peers that may have fetched more */
            }
            uint64_t wait_ms = forgot_ms + PD_FETCH_LACKS_FORGET_MS - now_ms;
            (void)curl_multi_poll(f->multi, NULL, 0, (int)(wait_ms < 200u ? wait_ms : 200u), NULL);
            continue;
        }
        if (curl_multi_perform(f->multi, &running) != CURLM_OK) {
            break;
        }
        pd_fetch_reap(f);
        pd_fetch_fill(f);
        if (running > 0) {
            (void)curl_multi_poll(f->multi, NULL, 0, 200, NULL);
        }
    }
    for (uint32_t k = 0; k < PD_FETCH_XFER_MAX; k++) {
        if (f->xfer[k].h != NULL) {
            (void)curl_multi_remove_handle(f->multi, f->xfer[k].h);
            curl_easy_cleanup(f->xfer[k].h);
            f->xfer[k].h = NULL;
            kumo_buf_free(&f->xfer[k].body);
        }
    }
}

/* ---- step 3: the whole ---- */

/* The whole, assembled from the held chunks, is not the version: every chunk proved, so the
 * length the chosen peers declared was a lie. They are penalized and the store dropped. */
static void pd_fetch_length_lied(pd_fetch_t *f)
{
    for (uint32_t i = 0; i < f->peer_count; i++) {
        KUMO_LOG_WARN("provider", "chunk_length_refused",
                      "deployment=%s/%" PRIu64 " from=%s declared_bytes=%" PRIu64, f->owner,
                      f->dseq, f->peer[i].provider, f->store.total_bytes);
        pd_penalty_add(&f->d->penalties, f->peer[i].provider, f->version,
                       f->d->height + PD_FETCH_PENALTY_BLOCKS);
    }
    pd_chunks_drop(f->d->home, f->owner, f->dseq, NULL, NULL, NULL);
}

static int pd_fetch_finish(pd_fetch_t *f, kumo_err_ctx_t *err)
{
    kumo_buf_t m;
    kumo_buf_init(&m, f->bytes_max);
    uint8_t root[KUMO_CRYPTO_HASH_BYTES];
    int rc = pd_chunks_assemble(&f->store, &m, err);
    if (rc == 0 && (kumo_crypto_merkle_root(kumo_buf_bytes(&m), root) != 0 ||
                    memcmp(root, f->version, sizeof(root)) != 0)) {
        rc = kumo_err_set(err, KUMO_EMISMATCH, "the chunks do not make the version");
    }
    if (rc == KUMO_EMISMATCH) {
        pd_fetch_length_lied(f);
    }
    if (rc == 0 && f->whole_only) {
        kumo_buf_free(f->whole_out);
        *f->whole_out = m; /* moved */
        return 0;
    }
    if (rc == 0) {
        kumo_err_ctx_t cerr = {0};
        rc = pd_manifest_bytes_verify(f->d->client, f->owner, f->dseq, kumo_buf_bytes(&m), &cerr);
        if (rc != 0) {
            (void)kumo_err_set(err, rc, "the manifest breaks the lease: %s", cerr.detail);
        }
    }
    rc = rc == 0 ? pd_manifest_store(f->d->home, f->owner, f->dseq, kumo_buf_bytes(&m), err) : rc;
    if (rc == 0) {
        KUMO_LOG_INFO("provider", "manifest_fetched",
                      "deployment=%s/%" PRIu64 " bytes=%zu chunks=%" PRIu32 " peers=%" PRIu32,
                      f->owner, f->dseq, m.len, f->store.count, f->peer_count);
    }
    kumo_buf_free(&m);
    return rc;
}

static int pd_fetch_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The fetchers of a spread (every candidate but the full peers, and us) split the chunks in
 * shares by the order of their names: a full peer gives us our share first (and the rest one
 * chunk at a time, once it is done), and a peer still fetching is asked first for its share,
 * which it gets first. Each chunk then leaves the full peers about once and travels on
 * between the fetchers, as pieces do in BitTorrent. */
static void pd_fetch_shares(pd_fetch_t *f)
{
    const char **names = kumo_calloc(PD_PARTS_HOLDER_MAX + 1u, sizeof(*names));
    if (names == NULL) {
        return; /* no shares: every peer is asked for anything, as below 8 chunks */
    }
    uint32_t m = 0;
    uint32_t n = f->parts != NULL ? f->parts->holder_count : f->target_count;
    for (uint32_t i = 0; i < n && m < PD_PARTS_HOLDER_MAX; i++) {
        const char *name = f->parts != NULL ? f->parts->holders[i] : f->targets[i].provider;
        bool full = strcmp(name, f->d->addr) == 0; /* we are added below */
        for (uint32_t k = 0; k < f->peer_count && !full; k++) {
            full = f->full[k] && strcmp(f->peer[k].provider, name) == 0;
        }
        if (!full) {
            names[m++] = name;
        }
    }
    names[m++] = f->d->addr;
    qsort(names, m, sizeof(names[0]), pd_fetch_name_cmp);
    uint32_t count = f->store.count;
    for (uint32_t k = 0; k <= f->peer_count; k++) {
        const char *name = k < f->peer_count && !f->full[k] ? f->peer[k].provider : f->d->addr;
        uint32_t rank = 0;
        while (rank < m && strcmp(names[rank], name) != 0) {
            rank++;
        }
        uint32_t lo = (uint32_t)(((uint64_t)rank * count) / m);
        uint32_t hi = (uint32_t)(((uint64_t)(rank + 1u) * count) / m);
        for (uint32_t j = 0; k == f->peer_count && j < f->peer_count; j++) {
            if (f->full[j] && rank < m && hi > lo) {
                f->plan.peer[j].share_lo = lo; /* our share, from every full peer */
                f->plan.peer[j].share_hi = hi;
                f->plan.start[j] = lo;
            }
        }
        if (k < f->peer_count && !f->full[k]) {
            f->plan.start[k] = rank < m ? lo : pd_fetch_place(name, count);
        }
    }
    kumo_free(names);
}

/* Opens the store for total, starting again if one of another length was left. */
static int pd_fetch_open(pd_fetch_t *f, uint64_t total, kumo_err_ctx_t *err)
{
    int rc = pd_chunks_open(f->d->home, f->owner, f->dseq, f->version, total, f->bytes_max,
                            &f->store, err);
    if (rc == KUMO_EMISMATCH) {
        pd_chunks_drop(f->d->home, f->owner, f->dseq, NULL, NULL, NULL);
        rc = pd_chunks_open(f->d->home, f->owner, f->dseq, f->version, total, f->bytes_max,
                            &f->store, err);
    }
    KUMO_GUARD(rc);
    pd_chunks_drop(f->d->home, f->owner, f->dseq, f->version, NULL, NULL);
    KUMO_GUARD(pd_fetch_plan_init(&f->plan, f->store.count, f->peer_count, err));
    if (f->speculative > 0) {
        pd_fetch_shares(f);
    }
    for (uint32_t i = 0; i < f->store.count; i++) {
        if (pd_chunks_has(&f->store, i)) {
            pd_fetch_plan_held(&f->plan, i);
        }
    }
    f->multi = curl_multi_init();
    KUMO_ENSURE(f->multi != NULL, err, KUMO_ENOMEM, "curl multi");
    return 0;
}

/* A fetch of version of (owner, dseq) for d, peers still to be found. */
static pd_fetch_t *pd_fetch_new(kumo_provider_daemon_t *d,
                                const char *owner,
                                uint64_t dseq,
                                const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                                uint64_t bytes_max)
{
    pd_fetch_t *f = kumo_calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->d = d;
    f->owner = owner;
    f->dseq = dseq;
    f->bytes_max = bytes_max;
    memcpy(f->version, version, sizeof(f->version));
    if (kumo_codec_hex_encode(kumo_bytes_make(version, KUMO_CRYPTO_HASH_BYTES), f->version_text,
                              sizeof(f->version_text)) != 0) {
        kumo_free(f);
        return NULL;
    }
    /* The TLS handshake costs more than a small manifest's transfer: a peer's info and chunk
     * requests go over one connection (and resume its TLS session). Without it, one each. */
    f->share = curl_share_init();
    if (f->share != NULL &&
        (curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
         curl_share_setopt(f->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
        (void)curl_share_cleanup(f->share);
        f->share = NULL;
    }
    return f;
}

/* Steps 2 and 3 over the peers found, then frees f. */
static int pd_fetch_go(pd_fetch_t *f, kumo_err_ctx_t *err)
{
    int rc = 0;
    if (f->peer_count == 0) {
        rc = kumo_err_set(err, KUMO_ENOTFOUND, "no peer serves chunks of the version");
    } else {
        uint64_t total = pd_fetch_total_pick(f);
        pd_fetch_spread(f, total);
        rc = pd_fetch_open(f, total, err);
    }
    if (rc == 0) {
        pd_fetch_run(f);
        rc = pd_fetch_plan_is_complete(&f->plan)
                 ? pd_fetch_finish(f, err)
                 : kumo_err_set(err, KUMO_ENOTFOUND,
                                "%" PRIu32 " of %" PRIu32 " chunks held, %" PRIu32 " refused",
                                f->plan.held, f->plan.count, f->bad_chunks);
    }
    if (f->multi != NULL) {
        (void)curl_multi_cleanup(f->multi);
    }
    if (f->share != NULL) {
        (void)curl_share_cleanup(f->share); /* after every handle that used it */
    }
    if (rc != 0 && f->peer_count > 0) {
        KUMO_LOG_INFO("provider", "manifest_fetch_failed",
                      "deployment=%s/%" PRIu64 " peers=%" PRIu32 " detail=\"%s\"", f->owner,
                      f->dseq, f->peer_count, err != NULL ? err->detail : "");
    }
    pd_fetch_plan_free(&f->plan);
    for (uint32_t i = 0; i < f->peer_count; i++) {
        pd_peer_target_free(&f->peer[i]);
    }
    kumo_free(f);
    return rc;
}

int pd_chunks_fetch(kumo_provider_daemon_t *d,
                    const pd_parts_entry_t *parts,
                    const char *prefer,
                    bool *tried,
                    kumo_err_ctx_t *err)
{
    *tried = false;
    pd_fetch_t *f = pd_fetch_new(d, parts->owner, parts->dseq, parts->version, PD_CHUNKS_BYTES_MAX);
    KUMO_ENSURE(f != NULL, err, KUMO_ENOMEM, "fetch");
    f->parts = parts;
    pd_fetch_peers(f, parts, prefer);
    *tried = f->peer_count > 0;
    return pd_fetch_go(f, err);
}

int pd_chunks_fetch_whole(kumo_provider_daemon_t *d,
                          const char *owner,
                          uint64_t dseq,
                          const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          const pd_peer_target_t *targets,
                          uint32_t target_count,
                          uint64_t bytes_max,
                          kumo_buf_t *whole_out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(target_count <= PD_FETCH_PEER_MAX);
    pd_fetch_t *f = pd_fetch_new(d, owner, dseq, version, bytes_max);
    KUMO_ENSURE(f != NULL, err, KUMO_ENOMEM, "fetch");
    f->whole_only = true;
    f->whole_out = whole_out;
    f->targets = targets;
    f->target_count = target_count;
    size_t start = pd_fetch_start_of(f, target_count);
    for (uint32_t k = 0; k < target_count && !pd_fetch_enough(f); k++) {
        uint32_t i = (uint32_t)((start + k) % target_count);
        pd_peer_target_t *t = &f->peer[f->peer_count];
        memset(t, 0, sizeof(*t));
        memcpy(t->provider, targets[i].provider, sizeof(t->provider));
        memcpy(t->uri, targets[i].uri, sizeof(t->uri));
        kumo_buf_init(&t->root_pem, KUMO_TLS_PEM_BYTES_MAX);
        if (kumo_buf_append(&t->root_pem, targets[i].root_pem.ptr, targets[i].root_pem.len) != 0 ||
            !pd_fetch_info(f, t, &f->declared[f->peer_count], &f->full[f->peer_count])) {
            pd_peer_target_free(t);
            continue;
        }
        f->peer_count++;
    }
    return pd_fetch_go(f, err);
}
