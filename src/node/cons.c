/*
 * cons.c - the consensus producer: the Tendermint engine driven by libevent timers and p2p
 * messages, proposing and validating blocks through block.c, gossiping txs. Not pure.
 * Loop thread only.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "file/file.h"
#include "node/cons_int.h"

uint64_t node_cons_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void node_cons_pending_drop(node_cons_t *nc)
{
    kumo_node_block_discard(nc->node, nc->pending);
    nc->pending = NULL;
}

void node_cons_send(node_cons_t *nc,
                    const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                    uint8_t channel,
                    kumo_bytes_t payload)
{
    if (kumo_p2p_send(nc->p2p, id, channel, payload, NULL) < 0) {
        KUMO_LOG_DEBUG("node", "p2p_send_dropped", "channel=%u bytes=%zu", channel, payload.len);
    }
}

/* ---- engine io ---- */

static uint64_t io_now_ms(void *ctx)
{
    (void)ctx;
    return node_cons_now_ms();
}

static int io_timer_set(void *ctx, uint32_t timer_id, uint64_t deadline_ms)
{
    node_cons_t *nc = ctx;
    KUMO_ASSERT(timer_id < KUMO_CONSENSUS_TIMER_COUNT);
    uint64_t now = node_cons_now_ms();
    uint64_t wait = deadline_ms > now ? deadline_ms - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(wait / 1000u),
                         .tv_usec = (suseconds_t)((wait % 1000u) * 1000u)};
    return evtimer_add(nc->timers[timer_id], &tv) == 0 ? 0 : KUMO_EIO;
}

/* io.wal_append: a message the engine keeps is durable before the engine acts on it (our
 * own: before it is sent). The engine calls it once per message it stores, never for the
 * ones it drops, so what peers send cannot grow the log beyond what consensus holds. */
static int io_wal_append(void *ctx, kumo_bytes_t msg)
{
    node_cons_t *nc = ctx;
    if (nc->wal == NULL) {
        return 0;
    }
    kumo_err_ctx_t err = {0};
    int rc = kumo_wal_append(nc->wal, NODE_WAL_MSG, msg, &err);
    if (rc == KUMO_ELIMIT) {
        /* Over the log's bound (only a height stuck for many rounds gets there): the
         * message is not acted on, and the sender is not at fault. */
        nc->wal_full = true;
        KUMO_LOG_WARN("node", "wal_full", "bytes=%zu detail=\"%s\"", msg.len, err.detail);
        return rc;
    }
    rc = rc == 0 ? kumo_wal_sync(nc->wal, &err) : rc;
    if (rc < 0) {
        KUMO_LOG_ERROR("node", "wal_write_failed", "detail=\"%s\"", err.detail);
        return rc;
    }
    return 0;
}

/* Messages the engine refused since the last line (rounds beyond its window, a proposer's
 * second value, next-height messages it does not buffer): one line per second at most, as
 * peers trigger them. */
static void cons_refusals_log(node_cons_t *nc)
{
    if (nc->engine == NULL) {
        return;
    }
    kumo_consensus_counters_t now;
    kumo_consensus_counters_get(nc->engine, &now);
    const kumo_consensus_counters_t *was = &nc->refused_logged;
    uint64_t window = now.round_window - was->round_window;
    uint64_t proposals = now.proposal_refused - was->proposal_refused;
    uint64_t future = now.future_dropped - was->future_dropped;
    uint64_t now_ms = node_cons_now_ms();
    if (window + proposals + future == 0 || now_ms < nc->refused_log_ms + 1000u) {
        return;
    }
    KUMO_LOG_INFO("node", "consensus_msgs_refused",
                  "height=%" PRIu64 " round=%u round_window=%" PRIu64 " proposal_refused=%" PRIu64
                  " future_dropped=%" PRIu64 " validated_total=%" PRIu64,
                  kumo_consensus_height(nc->engine), kumo_consensus_round(nc->engine), window,
                  proposals, future, now.validated);
    nc->refused_logged = now;
    nc->refused_log_ms = now_ms;
}

void node_cons_wal_height_done(node_cons_t *nc)
{
    kumo_err_ctx_t err = {0};
    if (nc->wal != NULL && kumo_wal_reset(nc->wal, &err) < 0) {
        KUMO_LOG_ERROR("node", "wal_reset_failed", "detail=\"%s\"", err.detail);
    }
}

#ifdef KUMO_TEST_HOOKS
/* Test builds: a validator named in $KUMO_TEST_EQUIVOCATE also prevotes nil whenever it
 * prevotes a value, signed with its key, so the others see a duplicate vote. */
static void cons_equivocate(node_cons_t *nc, kumo_bytes_t msg)
{
    kumo_consensus_msg_t m;
    if (!nc->equivocate || kumo_consensus_msg_decode(msg, &m, NULL) < 0 ||
        m.kind != KUMO_CONSENSUS_MSG_PREVOTE || !m.has_value) {
        return;
    }
    m.has_value = false;
    memset(m.value_id, 0, sizeof(m.value_id));
    uint8_t out[KUMO_CONSENSUS_VOTE_BYTES];
    size_t len = 0;
    if (kumo_consensus_msg_sign(&m, nc->node->cfg.chain_id, nc->node->validator) == 0 &&
        kumo_consensus_msg_encode(&m, out, sizeof(out), &len) == 0) {
        (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_CONSENSUS, kumo_bytes_make(out, len));
    }
}
#endif

static void cons_broadcast_frame(void *ctx, kumo_bytes_t frame)
{
    node_cons_t *nc = ctx;
    (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_CONSENSUS, frame);
}

typedef struct cons_send_to {
    node_cons_t *nc;
    const uint8_t *id;
} cons_send_to_t;

static void cons_send_frame(void *ctx, kumo_bytes_t frame)
{
    const cons_send_to_t *to = ctx;
    node_cons_send(to->nc, to->id, KUMO_P2P_CH_CONSENSUS, frame);
}

static int io_broadcast(void *ctx, kumo_bytes_t msg)
{
    node_cons_t *nc = ctx;
    if (node_parts_split(msg, node_parts_size(), cons_broadcast_frame, nc) < 0) {
        /* Out of memory: nothing sent, the engine rebroadcasts. */
        KUMO_LOG_WARN("node", "consensus_send_dropped", "bytes=%zu", msg.len);
    }
#ifdef KUMO_TEST_HOOKS
    cons_equivocate(nc, msg);
#endif
    return 0;
}

static int io_send(void *ctx, uint32_t validator_index, kumo_bytes_t msg)
{
    node_cons_t *nc = ctx;
    /* The index names a validator of the engine's current height. */
    const kumo_consensus_valset_t *vs = kumo_consensus_valset(nc->engine);
    KUMO_ASSERT(validator_index < vs->count);
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(vs->v[validator_index].pubkey, id);
    /* Not connected or a full queue: the catch-up answer is repeated later if still needed. */
    cons_send_to_t to = {nc, id};
    if (node_parts_split(msg, node_parts_size(), cons_send_frame, &to) < 0) {
        KUMO_LOG_WARN("node", "consensus_send_dropped", "bytes=%zu", msg.len);
    }
    return 0;
}

static void cons_sign_retry_cb(evutil_socket_t fd, short what, void *arg);

/* A skipped step is not retried by the engine (alone, or with too few peers voting, it would
 * wait for ever), so the engine is restarted from the WAL a little later, exactly as after a
 * crash: nothing signed left the process, and the signer state on disk allows the step again. */
static void cons_sign_retry_arm(node_cons_t *nc)
{
    nc->sign_failed = true;
    if (nc->sign_retry == NULL) {
        nc->sign_retry = evtimer_new(nc->base, cons_sign_retry_cb, nc);
    }
    if (nc->sign_retry == NULL || evtimer_pending(nc->sign_retry, NULL)) {
        return;
    }
    nc->sign_retry_ms = nc->sign_retry_ms == 0        ? 1000u
                        : nc->sign_retry_ms >= 15000u ? 30000u
                                                      : nc->sign_retry_ms * 2u;
    struct timeval tv = {(time_t)(nc->sign_retry_ms / 1000u), 0};
    (void)evtimer_add(nc->sign_retry, &tv);
}

/* Signs only what the signer state allows; the new state is on disk before the signature
 * is returned (and so before it can leave the process). */
static int io_sign(void *ctx, kumo_bytes_t msg, uint8_t sig_out[KUMO_CRYPTO_SIG_BYTES])
{
    node_cons_t *nc = ctx;
    kumo_err_ctx_t err = {0};
    bool same = false;
    int rc = kumo_consensus_signer_check(&nc->signer, msg, &same, &err);
    if (rc < 0) {
        KUMO_LOG_WARN("node", "sign_refused", "detail=\"%s\"", err.detail);
        return rc;
    }
    if (same) {
        memcpy(sig_out, nc->signer.sig, KUMO_CRYPTO_SIG_BYTES);
        return 0;
    }
    kumo_crypto_sign(nc->node->validator, msg, sig_out);
    kumo_consensus_signer_state_t next = nc->signer;
    kumo_consensus_signer_update(&next, msg, sig_out);
    uint8_t enc[KUMO_CONSENSUS_SIGNER_STATE_BYTES];
    KUMO_GUARD(kumo_consensus_signer_encode(&next, enc));
    rc = kumo_file_write(nc->signer_path, kumo_bytes_make(enc, sizeof(enc)), 0600, &err);
    if (rc < 0 && nc->signer_spare_fd >= 0) {
        (void)close(nc->signer_spare_fd);
        rc = kumo_file_write(nc->signer_path, kumo_bytes_make(enc, sizeof(enc)), 0600, &err);
        nc->signer_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (rc < 0) {
        /* Never sign without the state on disk, and never stop over it: the engine skips this
         * step as if it were not ours (KUMO_EDOUBLESIGN) and the next step tries again. */
        KUMO_LOG_ERROR("node", "signer_state_write_failed", "action=skip_step detail=\"%s\"",
                       err.detail);
        memset(sig_out, 0, KUMO_CRYPTO_SIG_BYTES);
        cons_sign_retry_arm(nc);
        return KUMO_EDOUBLESIGN;
    }
    nc->sign_failed = false;
    nc->sign_retry_ms = 0;
    nc->signer = next;
    return 0;
}

/* The pooled evidence a block at height may carry (what every validator checks in a
 * proposal: of an earlier height, not too old): a duplicate vote of this very height waits
 * for the next block. Borrowed from the pool into nc->evidence_proposed. */
static size_t cons_evidence_for(node_cons_t *nc, uint64_t height)
{
    size_t n = 0;
    for (uint32_t i = 0; i < nc->evidence_count; i++) {
        if (node_cons_evidence_check(nc, nc->evidence_items[i], height, NULL) == 0) {
            nc->evidence_proposed[n++] = nc->evidence_items[i];
        }
    }
    KUMO_ASSERT(n <= KUMO_NODE_BLOCK_EVIDENCE_MAX);
    return n;
}

/* io.valset_get: the set of height (the next or the one after) from the head's state. */
static int io_valset_get(void *ctx, uint64_t height, kumo_consensus_valset_t *out)
{
    node_cons_t *nc = ctx;
    kumo_err_ctx_t err = {0};
    int rc = kumo_chain_valset_proposers_get(&nc->node->head_kv, nc->node->height + 1u, height, out,
                                             &err);
    if (rc < 0) {
        KUMO_LOG_ERROR("node", "valset_read_failed", "height=%" PRIu64 " code=%s detail=\"%s\"",
                       height, kumo_err_name(rc), err.detail);
    }
    return rc;
}

static int io_get_value(void *ctx, uint64_t height, kumo_buf_t *value_out)
{
    node_cons_t *nc = ctx;
    kumo_node_t *node = nc->node;
    KUMO_ASSERT(height == node->height + 1u);
    node_cons_pending_drop(nc);
    kumo_node_block_extra_t extra = {
        .last_commit = nc->last_commit,
        .evidence = nc->evidence_proposed,
        .evidence_count = cons_evidence_for(nc, height),
        .tx_bytes_max = KUMO_CONSENSUS_VALUE_BYTES_MAX - NODE_CONS_VALUE_MARGIN_BYTES,
    };
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_block_build(node, &extra, &nc->pending, &err);
    if (rc < 0) {
        KUMO_LOG_ERROR("node", "propose_failed", "height=%" PRIu64 " code=%s detail=\"%s\"", height,
                       kumo_err_name(rc), err.detail);
        return rc;
    }
    kumo_bytes_t v = kumo_node_block_bytes(nc->pending);
    kumo_crypto_sha256(v, nc->pending_id);
    return kumo_buf_append(value_out, v.ptr, v.len);
}

/* The local wall clock (ms since 1970) for the header's time bound. */
static uint64_t cons_wall_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool cons_is_validator(const node_cons_t *nc, ProtobufCBinaryData addr)
{
    for (uint32_t i = 0; i < nc->vs.count; i++) {
        if (addr.len == KUMO_ADDRESS_BYTES &&
            memcmp(addr.data, nc->vs.v[i].address, KUMO_ADDRESS_BYTES) == 0) {
            return true;
        }
    }
    return false;
}

/* The block's last commit is a valid commit of our head block (none at height 1). */
static int
cons_last_commit_check(const node_cons_t *nc, const Kumo__Block *blk, kumo_err_ctx_t *err)
{
    const kumo_node_t *node = nc->node;
    if (node->height == 0) {
        KUMO_ENSURE(blk->last_commit == NULL, err, KUMO_EINVAL, "last commit at height 1");
        return 0;
    }
    KUMO_ENSURE(blk->last_commit != NULL, err, KUMO_EINVAL, "block without the last commit");
    return node_cons_commit_verify(nc, blk->last_commit, node->height, node->last_value_id, err);
}

/* The parts of a proposed block that execution does not check: the header rules with the
 * proposer of the proposal's round (any validator for a re-proposed value) and the local
 * clock, and the last commit is a valid commit of our head block. */
static int
cons_block_check(node_cons_t *nc, kumo_bytes_t value, uint32_t proposer_index, kumo_err_ctx_t *err)
{
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__block__descriptor, value, KUMO_BLOCK_BYTES_MAX, &m, err));
    const Kumo__Block *blk = (const Kumo__Block *)m;
    kumo_node_t *node = nc->node;
    bool any = proposer_index == KUMO_CONSENSUS_PROPOSER_ANY;
    KUMO_ASSERT(any || proposer_index < nc->vs.count);
    const kumo_node_header_want_t want = {
        .chain_id = node->cfg.chain_id,
        .height = node->height + 1u,
        .parent_time_ms = node->block_time_ms,
        .proposer = any ? NULL : nc->vs.v[proposer_index].address,
        .now_ms = cons_wall_ms(),
    };
    int rc = kumo_node_block_header_check(blk->header, &want, err);
    if (rc == 0 && any && !cons_is_validator(nc, blk->header->proposer)) {
        rc = kumo_err_set(err, KUMO_EUNAUTH, "block proposer is not a validator");
    }
    rc = rc == 0 ? cons_last_commit_check(nc, blk, err) : rc;
    for (size_t i = 0; rc == 0 && i < blk->n_evidence; i++) {
        rc = node_cons_evidence_check(nc,
                                      kumo_bytes_make(blk->evidence[i].data, blk->evidence[i].len),
                                      node->height + 1u, err);
    }
    kumo_codec_free(m);
    return rc;
}

static bool io_validate(void *ctx, uint64_t height, uint32_t proposer_index, kumo_bytes_t value)
{
    node_cons_t *nc = ctx;
    kumo_node_t *node = nc->node;
    if (height != node->height + 1u) {
        return false;
    }
    uint8_t id[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(value, id);
    kumo_err_ctx_t err = {0};
    /* The header rules first (cheap, and they depend on who proposed it): the pending block
     * may have been executed for another round's proposal of the same value. */
    int rc = cons_block_check(nc, value, proposer_index, &err);
    if (rc == 0 && nc->pending != NULL && memcmp(id, nc->pending_id, sizeof(id)) == 0) {
        return true;
    }
    if (rc == 0) {
        node_cons_pending_drop(nc);
        rc = kumo_node_block_execute(node, value, nc->evidence_scratch, &nc->pending, &err);
    }
    if (rc < 0) {
        KUMO_LOG_WARN("node", "proposal_invalid", "height=%" PRIu64 " code=%s detail=\"%s\"",
                      height, kumo_err_name(rc), err.detail);
        return false;
    }
    memcpy(nc->pending_id, id, sizeof(id));
    return true;
}

/* The decision as an encoded Commit. */
static int
cons_commit_encode(const kumo_consensus_decision_t *d, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    Kumo__CommitSig *sigs = kumo_calloc(d->sig_count + 1u, sizeof(*sigs));
    Kumo__CommitSig **ptrs = kumo_calloc(d->sig_count + 1u, sizeof(*ptrs));
    int rc = sigs != NULL && ptrs != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "commit");
    for (uint32_t i = 0; rc == 0 && i < d->sig_count; i++) {
        Kumo__CommitSig init = KUMO__COMMIT_SIG__INIT;
        sigs[i] = init;
        sigs[i].validator_index = d->sigs[i].validator_index;
        sigs[i].signature =
            (ProtobufCBinaryData){KUMO_CRYPTO_SIG_BYTES, (uint8_t *)(uintptr_t)d->sigs[i].sig};
        ptrs[i] = &sigs[i];
    }
    if (rc == 0) {
        Kumo__Commit c = KUMO__COMMIT__INIT;
        c.height = d->height;
        c.round = d->round;
        c.value_id =
            (ProtobufCBinaryData){KUMO_CRYPTO_HASH_BYTES, (uint8_t *)(uintptr_t)d->value_id};
        c.n_sigs = d->sig_count;
        c.sigs = ptrs;
        rc = kumo_codec_pack(&c.base, out, err);
    }
    kumo_free(sigs);
    kumo_free(ptrs);
    return rc;
}

static int io_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    node_cons_t *nc = ctx;
    kumo_node_t *node = nc->node;
    KUMO_ASSERT(d->height == node->height + 1u);
    kumo_err_ctx_t err = {0};
    int rc = 0;
    if (nc->pending == NULL || memcmp(nc->pending_id, d->value_id, KUMO_CRYPTO_HASH_BYTES) != 0) {
        node_cons_pending_drop(nc);
        rc = kumo_node_block_execute(node, d->value, nc->evidence_scratch, &nc->pending, &err);
    }
    kumo_buf_t commit;
    kumo_buf_init(&commit, KUMO_STORE_RECORD_BYTES_MAX);
    rc = rc == 0 ? cons_commit_encode(d, &commit, &err) : rc;
    if (rc == 0) {
        kumo_node_block_t *b = nc->pending;
        nc->pending = NULL;
        node_cons_evidence_prune(nc, b);
        rc = kumo_node_block_finish(node, b, kumo_buf_bytes(&commit), &err);
    }
    if (rc == 0) {
        memcpy(node->last_value_id, d->value_id, KUMO_CRYPTO_HASH_BYTES);
        rc = node_cons_last_commit_set(nc, kumo_buf_bytes(&commit), &err);
    }
    rc = rc == 0 ? node_cons_valset_refresh(nc, &err) : rc;
    kumo_buf_free(&commit);
    if (rc < 0) {
        /* +2/3 decided it, so only a broken store can refuse it: stop rather than fork. */
        KUMO_LOG_ERROR("node", "commit_failed", "height=%" PRIu64 " code=%s detail=\"%s\"",
                       d->height, kumo_err_name(rc), err.detail);
        node_cons_pending_drop(nc);
        return rc;
    }
    node_cons_wal_height_done(nc);
    KUMO_LOG_INFO("node", "block_decided", "height=%" PRIu64 " round=%u sigs=%u", d->height,
                  d->round, d->sig_count);
    return 0;
}

/* ---- evidence ---- */

int node_cons_evidence_check(const node_cons_t *nc,
                             kumo_bytes_t ev,
                             uint64_t height,
                             kumo_err_ctx_t *err)
{
    kumo_consensus_evidence_t e;
    KUMO_GUARD(kumo_consensus_evidence_decode(ev, &e, err));
    KUMO_ENSURE(e.vote_a.height < height && e.vote_a.height + NODE_EVIDENCE_AGE_MAX >= height, err,
                KUMO_EINVAL, "evidence of height %" PRIu64 " in a block at %" PRIu64,
                e.vote_a.height, height);
    /* Checked against the set of the votes' own height. */
    kumo_consensus_valset_t vs;
    KUMO_GUARD(kumo_node_valset_get(nc->node, &nc->node->head_kv, e.vote_a.height, &vs, err));
    return kumo_consensus_evidence_decode_verify(ev, &vs, nc->node->cfg.chain_id, &e, err);
}

/* Adds encoded evidence to the pool; false if it was there already (or the pool is full). */
static bool cons_evidence_add(node_cons_t *nc, kumo_bytes_t ev)
{
    KUMO_ASSERT(ev.len == KUMO_CONSENSUS_EVIDENCE_BYTES);
    for (uint32_t i = 0; i < nc->evidence_count; i++) {
        if (memcmp(nc->evidence[i], ev.ptr, ev.len) == 0) {
            return false;
        }
    }
    if (nc->evidence_count == KUMO_NODE_BLOCK_EVIDENCE_MAX) {
        return false;
    }
    memcpy(nc->evidence[nc->evidence_count], ev.ptr, ev.len);
    nc->evidence_items[nc->evidence_count] =
        kumo_bytes_make(nc->evidence[nc->evidence_count], KUMO_CONSENSUS_EVIDENCE_BYTES);
    nc->evidence_count++;
    return true;
}

void node_cons_evidence_prune(node_cons_t *nc, const kumo_node_block_t *b)
{
    const kumo_bytes_t *items = NULL;
    size_t n = kumo_node_block_evidence(b, &items);
    uint32_t keep = 0;
    for (uint32_t i = 0; i < nc->evidence_count; i++) {
        bool included = false;
        for (size_t k = 0; k < n && !included; k++) {
            included = items[k].len == KUMO_CONSENSUS_EVIDENCE_BYTES &&
                       memcmp(items[k].ptr, nc->evidence[i], KUMO_CONSENSUS_EVIDENCE_BYTES) == 0;
        }
        if (!included) {
            memmove(nc->evidence[keep], nc->evidence[i], KUMO_CONSENSUS_EVIDENCE_BYTES);
            nc->evidence_items[keep] =
                kumo_bytes_make(nc->evidence[keep], KUMO_CONSENSUS_EVIDENCE_BYTES);
            keep++;
        }
    }
    nc->evidence_count = keep;
}

static void io_evidence(void *ctx, const kumo_consensus_evidence_t *ev)
{
    node_cons_t *nc = ctx;
    KUMO_LOG_WARN("node", "duplicate_vote", "height=%" PRIu64 " round=%u validator=%u",
                  ev->vote_a.height, ev->vote_a.round, ev->validator_index);
    uint8_t enc[KUMO_CONSENSUS_EVIDENCE_BYTES];
    if (kumo_consensus_evidence_encode(ev, enc) == 0 &&
        cons_evidence_add(nc, kumo_bytes_make(enc, sizeof(enc)))) {
        (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_EVIDENCE, kumo_bytes_make(enc, sizeof(enc)));
    }
}

/* A protocol violation (what no honest peer sends): the peer is dropped and, a stranger,
 * banned (a validator: kept away until its next redial). */
static void
cons_peer_fault(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const char *reason)
{
    kumo_p2p_penalize(nc->p2p, id, KUMO_P2P_SCORE_BAN, reason);
    kumo_p2p_disconnect(nc->p2p, id, reason);
}

static void
cons_on_evidence(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t payload)
{
    kumo_err_ctx_t err = {0};
    int rc = node_cons_evidence_check(nc, payload, nc->node->height + 1u, &err);
    if (rc == KUMO_EINVAL && strstr(err.detail, "evidence of height") != NULL) {
        return; /* too old or too new for us: not the peer's fault */
    }
    if (rc < 0) {
        cons_peer_fault(nc, id, "invalid evidence");
        return;
    }
    if (cons_evidence_add(nc, payload)) {
        KUMO_LOG_INFO("node", "evidence_received", "bytes=%zu", payload.len);
        (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_EVIDENCE, payload);
    }
}

/* ---- engine lifecycle ---- */

static void cons_timer_cb(evutil_socket_t fd, short what, void *arg);

int node_cons_engine_open(node_cons_t *nc, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(nc->engine == NULL);
    if (nc->self_index < 0) {
        return 0;
    }
    kumo_node_t *node = nc->node;
    kumo_consensus_io_t io = {
        .ctx = nc,
        .now_ms = io_now_ms,
        .timer_set = io_timer_set,
        .broadcast = io_broadcast,
        .send = io_send,
        .sign = io_sign,
        .get_value_to_propose = io_get_value,
        .validate_value = io_validate,
        .deliver_decided = io_deliver,
        .evidence = io_evidence,
        .wal_append = io_wal_append,
        .valset_get = io_valset_get,
    };
    nc->refused_logged = (kumo_consensus_counters_t){0};
    KUMO_GUARD(kumo_consensus_open(&nc->ccfg, &nc->vs, node->validator->pubkey, node->height + 1u,
                                   &io, &nc->engine, err));
    int rc = kumo_consensus_start(nc->engine, err);
    if (rc < 0) {
        node_cons_engine_close(nc);
        return rc;
    }
    KUMO_LOG_INFO("node", "consensus_started", "height=%" PRIu64 " validators=%u self=%d",
                  node->height + 1u, nc->vs.count, nc->self_index);
    return 0;
}

void node_cons_engine_close(node_cons_t *nc)
{
    for (uint32_t i = 0; i < KUMO_CONSENSUS_TIMER_COUNT; i++) {
        if (nc->timers[i] != NULL) {
            (void)evtimer_del(nc->timers[i]);
        }
    }
    kumo_consensus_close(nc->engine);
    nc->engine = NULL;
    node_cons_pending_drop(nc);
}

/* An engine error from a callback (store trouble) is not recoverable here. */
static void cons_engine_failed(node_cons_t *nc, int rc, const kumo_err_ctx_t *err)
{
    KUMO_LOG_ERROR("node", "consensus_failed", "code=%s detail=\"%s\"", kumo_err_name(rc),
                   err->detail);
    node_cons_engine_close(nc);
    (void)event_base_loopbreak(nc->base);
}

static void cons_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    const node_cons_timer_arg_t *ta = arg;
    node_cons_t *nc = ta->nc;
    if (nc->engine == NULL) {
        return;
    }
    kumo_err_ctx_t err = {0};
    int rc = kumo_consensus_on_timer(nc->engine, ta->id, &err);
    cons_refusals_log(nc);
    if (rc < 0) {
        cons_engine_failed(nc, rc, &err);
    }
}

/* ---- commits ---- */

int node_cons_commit_verify(const node_cons_t *nc,
                            const Kumo__Commit *commit,
                            uint64_t height,
                            const uint8_t value_id[KUMO_CRYPTO_HASH_BYTES],
                            kumo_err_ctx_t *err)
{
    /* The set of the commit's own height: a node that was away syncs across set changes. */
    kumo_consensus_valset_t set;
    KUMO_GUARD(kumo_node_valset_get(nc->node, &nc->node->head_kv, height, &set, err));
    const kumo_consensus_valset_t *vs = &set;
    KUMO_ENSURE(commit->height == height, err, KUMO_EINVAL,
                "commit of height %" PRIu64 ", expected %" PRIu64, commit->height, height);
    KUMO_ENSURE(commit->value_id.len == KUMO_CRYPTO_HASH_BYTES &&
                    memcmp(commit->value_id.data, value_id, KUMO_CRYPTO_HASH_BYTES) == 0,
                err, KUMO_EMISMATCH, "commit of height %" PRIu64 " is for another block", height);
    KUMO_ENSURE(commit->n_sigs <= vs->count, err, KUMO_ELIMIT, "commit with %zu signatures",
                commit->n_sigs);
    bool seen[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX] = {false};
    uint64_t power = 0;
    for (size_t i = 0; i < commit->n_sigs; i++) {
        const Kumo__CommitSig *cs = commit->sigs[i];
        KUMO_ENSURE(cs->validator_index < vs->count && !seen[cs->validator_index] &&
                        cs->signature.len == KUMO_CRYPTO_SIG_BYTES,
                    err, KUMO_EINVAL, "commit signature %zu: bad or repeated validator", i);
        seen[cs->validator_index] = true;
        kumo_consensus_msg_t m = {
            .kind = KUMO_CONSENSUS_MSG_PRECOMMIT,
            .height = height,
            .round = commit->round,
            .pol_round = KUMO_CONSENSUS_ROUND_NONE,
            .has_value = true,
        };
        memcpy(m.value_id, value_id, KUMO_CRYPTO_HASH_BYTES);
        memcpy(m.pubkey, vs->v[cs->validator_index].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        memcpy(m.sig, cs->signature.data, KUMO_CRYPTO_SIG_BYTES);
        KUMO_GUARD(kumo_consensus_msg_verify(&m, vs, nc->node->cfg.chain_id, err));
        power += vs->v[cs->validator_index].power;
    }
    KUMO_ENSURE(kumo_consensus_power_is_quorum(power, vs->power_total), err, KUMO_EUNAUTH,
                "commit of height %" PRIu64 " has %" PRIu64 " of %" PRIu64 " power", height, power,
                vs->power_total);
    return 0;
}

int node_cons_last_commit_set(node_cons_t *nc, kumo_bytes_t commit_enc, kumo_err_ctx_t *err)
{
    ProtobufCMessage *m = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__commit__descriptor, commit_enc, KUMO_STORE_RECORD_BYTES_MAX,
                                 &m, err));
    kumo_codec_free(nc->last_commit != NULL ? &nc->last_commit->base : NULL);
    nc->last_commit = (Kumo__Commit *)m;
    return 0;
}

/* The head's commit and value id from the store (a restart). */
static int cons_head_load(node_cons_t *nc, kumo_err_ctx_t *err)
{
    kumo_node_t *node = nc->node;
    if (node->height == 0) {
        return 0;
    }
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    KUMO_GUARD(kumo_node_read_begin(node, &read, &kv, err));
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_STORE_RECORD_BYTES_MAX);
    kumo_bytes_t commit = {0};
    int rc = kumo_node_block_get(read, node->height, &buf, err);
    if (rc == 0) {
        kumo_crypto_sha256(kumo_buf_bytes(&buf), node->last_value_id);
        uint8_t key[8];
        kumo_be64_put(key, node->height);
        rc = kumo_store_read_record_get(read, KUMO_STORE_TABLE_COMMITS,
                                        kumo_bytes_make(key, sizeof(key)), &commit, err);
    }
    rc = rc == 0 ? node_cons_last_commit_set(nc, commit, err) : rc;
    kumo_buf_free(&buf);
    kumo_store_read_end(read);
    return rc;
}

/* ---- p2p ---- */

static void cons_peer_up(void *ctx,
                         const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                         const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES])
{
    (void)pubkey;
    node_bsync_peer_up(ctx, id);
}

static void cons_peer_down(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    node_bsync_peer_down(ctx, id);
}

static void
cons_on_whole(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t payload)
{
    kumo_err_ctx_t err = {0};
    /* Decoded and verified by the engine before anything is logged: only what it keeps
     * reaches the WAL (io_wal_append). */
    nc->wal_full = false;
    int rc = kumo_consensus_on_msg(nc->engine, payload, &err);
    cons_refusals_log(nc);
    if (rc == KUMO_ELIMIT && nc->wal_full) {
        return; /* dropped unlogged; not the sender's fault */
    }
    if (rc == 0) {
        kumo_p2p_mark_useful(nc->p2p, id); /* verified and taken by the engine */
    } else if (rc == KUMO_EDECODE || rc == KUMO_ESIG || rc == KUMO_EUNAUTH ||
               rc == KUMO_EUNKNOWNMSG || rc == KUMO_ELIMIT) {
        /* Honest peers only send what they or a validator signed: drop the sender. */
        cons_peer_fault(nc, id, kumo_err_name(rc));
    } else if (rc < 0) {
        cons_engine_failed(nc, rc, &err);
    }
}

/* The validator index of a connected peer, or -1 for a peer that is not a validator. */
static int32_t cons_peer_validator(const node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    for (uint32_t i = 0; i < nc->node_id_count; i++) {
        if (memcmp(nc->node_ids[i], id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

/* A parts header opens a slot only when a validator sent it over its own connection: a
 * stranger cannot make a node hold anything, and a validator only its own few slots. */
static void
cons_on_parts_header(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t frame)
{
    int32_t sender = cons_peer_validator(nc, id);
    if (sender < 0) {
        kumo_p2p_penalize(nc->p2p, id, NODE_PARTS_PENALTY,
                          "consensus part header from a non-validator");
        return;
    }
    node_parts_view_t view = {
        .height = kumo_consensus_height(nc->engine),
        .vs = kumo_consensus_valset(nc->engine),
        .next_vs = &nc->next_vs,
        .chain_id = nc->node->cfg.chain_id,
    };
    kumo_err_ctx_t err = {0};
    int rc = node_parts_header_recv(&nc->parts, &view, (uint32_t)sender, frame, &err);
    if (rc == KUMO_ENOMEM) {
        KUMO_LOG_WARN("node", "consensus_part_dropped", "detail=\"%s\"", err.detail);
    } else if (rc < 0) {
        cons_peer_fault(nc, id, err.detail);
    }
}

/* A part counts only if its Merkle proof checks against a root an open header named: a bad
 * one is the fault of the peer that sent it alone. */
static void
cons_on_part(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t frame)
{
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    uint32_t sender = 0;
    int rc = node_parts_part_recv(&nc->parts, frame, &whole, &sender, &err);
    if (rc == KUMO_EMISMATCH) {
        KUMO_ASSERT(sender < nc->node_id_count);
        cons_peer_fault(nc, nc->node_ids[sender], err.detail);
    } else if (rc == KUMO_ENOMEM) {
        KUMO_LOG_WARN("node", "consensus_part_dropped", "detail=\"%s\"", err.detail);
    } else if (rc < 0) {
        kumo_p2p_penalize(nc->p2p, id, NODE_PARTS_PENALTY, err.detail);
    } else if (whole.len > 0) {
        KUMO_ASSERT(sender < nc->node_id_count);
        /* The header's sender vouched for these bytes, whoever sent the last part. */
        cons_on_whole(nc, nc->node_ids[sender], kumo_buf_bytes(&whole));
    }
    kumo_buf_free(&whole);
}

static void
cons_on_consensus(node_cons_t *nc, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], kumo_bytes_t payload)
{
    if (nc->engine == NULL) {
        return;
    }
    if (payload.len > 0 && payload.ptr[0] == NODE_PARTS_TAG_HEADER) {
        cons_on_parts_header(nc, id, payload);
    } else if (payload.len > 0 && payload.ptr[0] == NODE_PARTS_TAG_PART) {
        cons_on_part(nc, id, payload);
    } else {
        cons_on_whole(nc, id, payload);
    }
}

static void cons_on_msg(void *ctx,
                        const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                        uint8_t channel,
                        kumo_bytes_t payload)
{
    node_cons_t *nc = ctx;
    switch (channel) {
    case KUMO_P2P_CH_CONSENSUS:
        cons_on_consensus(nc, id, payload);
        break;
    case KUMO_P2P_CH_MEMPOOL: {
        uint8_t hash[KUMO_CHAIN_HASH_BYTES];
        /* Accepted txs are gossiped on (kumo_node_tx_submit); refusals are normal. */
        if (kumo_node_tx_submit(nc->node, payload, hash, NULL) < 0) {
            break;
        }
        kumo_p2p_mark_useful(nc->p2p, id); /* a new valid tx */
        break;
    }
    case KUMO_P2P_CH_BLOCKSYNC:
        node_bsync_on_msg(nc, id, payload);
        break;
    case KUMO_P2P_CH_EVIDENCE:
        cons_on_evidence(nc, id, payload);
        break;
    default:
        break;
    }
}

static void cons_tx_gossip(void *ctx, kumo_bytes_t tx)
{
    node_cons_t *nc = ctx;
    (void)kumo_p2p_broadcast(nc->p2p, KUMO_P2P_CH_MEMPOOL, tx);
}

static void cons_status_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_bsync_tick(arg);
}

/* ---- the producer ---- */

/* Adds pubkey's p2p identity to the known validators unless it is there. */
static void cons_node_id_add(node_cons_t *nc, const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES])
{
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(pubkey, id);
    for (uint32_t i = 0; i < nc->node_id_count; i++) {
        if (memcmp(nc->node_ids[i], id, sizeof(id)) == 0) {
            return;
        }
    }
    KUMO_ASSERT(nc->node_id_count < NODE_VALIDATOR_IDS_MAX);
    memcpy(nc->node_ids[nc->node_id_count++], id, sizeof(id));
}

int node_cons_valset_refresh(node_cons_t *nc, kumo_err_ctx_t *err)
{
    kumo_node_t *node = nc->node;
    uint64_t next = node->height + 1u;
    kumo_consensus_valset_t prev = nc->vs;
    KUMO_GUARD(kumo_chain_valset_proposers_get(&node->head_kv, next, next, &nc->vs, err));
    if (prev.count > 0 && !kumo_consensus_valset_members_equal(&prev, &nc->vs)) {
        KUMO_LOG_INFO("node", "validator_set_changed",
                      "height=%" PRIu64 " validators=%u power=%" PRIu64, next, nc->vs.count,
                      nc->vs.power_total);
    }
    KUMO_GUARD(kumo_chain_valset_proposers_get(&node->head_kv, next, next + 1u, &nc->next_vs, err));
    uint8_t was[NODE_VALIDATOR_IDS_MAX][KUMO_TLS_NODE_ID_BYTES];
    uint32_t was_count = nc->node_id_count;
    memcpy(was, nc->node_ids, sizeof(was));
    nc->node_id_count = 0;
    for (uint32_t i = 0; i < nc->vs.count; i++) {
        cons_node_id_add(nc, nc->vs.v[i].pubkey);
    }
    for (uint32_t i = 0; i < nc->next_vs.count; i++) {
        cons_node_id_add(nc, nc->next_vs.v[i].pubkey);
    }
    if (was_count != nc->node_id_count ||
        memcmp(was, nc->node_ids, (size_t)was_count * KUMO_TLS_NODE_ID_BYTES) != 0) {
        /* Parts slots are keyed by index in this list: messages in assembly are dropped
         * (their senders rebroadcast them). */
        node_parts_free(&nc->parts);
    }
    nc->self_index = kumo_consensus_valset_find(&nc->vs, node->validator->pubkey);
    return 0;
}

/* "id@host:port,id@host:port" into cfg's persistent peers. */
static int cons_peers_parse(const char *text, kumo_p2p_cfg_t *cfg, kumo_err_ctx_t *err)
{
    const char *p = text;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char one[KUMO_TLS_NODE_ID_HEX + 1u + KUMO_P2P_ADDR_BYTES_MAX];
        KUMO_ENSURE(len < sizeof(one), err, KUMO_EDECODE, "persistent_peers: entry too long");
        KUMO_ENSURE(cfg->persistent_count < KUMO_P2P_PERSISTENT_PEER_MAX, err, KUMO_ELIMIT,
                    "persistent_peers: more than %u", KUMO_P2P_PERSISTENT_PEER_MAX);
        memcpy(one, p, len);
        one[len] = '\0';
        if (len > 0) {
            KUMO_GUARD(kumo_p2p_peer_addr_parse(one, &cfg->persistent[cfg->persistent_count], err));
            cfg->persistent_count++;
        }
        p += len + (end != NULL ? 1u : 0u);
    }
    return 0;
}

static int cons_p2p_open(node_cons_t *nc, kumo_err_ctx_t *err)
{
    kumo_node_t *node = nc->node;
    kumo_p2p_cfg_t *pc = kumo_calloc(1, sizeof(*pc));
    KUMO_ENSURE(pc != NULL, err, KUMO_ENOMEM, "p2p config");
    kumo_p2p_cfg_default(pc);
    pc->chain_id = node->cfg.chain_id;
    pc->node_key = node->validator;
    pc->listen = node->cfg.p2p_listen[0] != '\0' ? node->cfg.p2p_listen : NULL;
    pc->inbound_count_max = node->cfg.p2p_inbound_count_max;
    pc->inbound_per_host_max = node->cfg.p2p_inbound_per_host_max;
    pc->pending_count_max = node->cfg.p2p_pending_count_max;
    pc->pending_per_host_max = node->cfg.p2p_pending_per_host_max;
    pc->useful_timeout_ms = node->cfg.p2p_useful_timeout_ms;
    pc->ban_ms = node->cfg.p2p_ban_ms;
    int rc = cons_peers_parse(node->cfg.persistent_peers, pc, err);
    kumo_p2p_callbacks_t cb = {
        .ctx = nc, .peer_up = cons_peer_up, .peer_down = cons_peer_down, .on_msg = cons_on_msg};
    rc = rc == 0 ? kumo_p2p_open(pc, nc->base, &cb, &nc->p2p, err) : rc;
    kumo_free(pc);
    KUMO_GUARD(rc);
    char self[KUMO_TLS_NODE_ID_HEX + 1];
    kumo_tls_node_id_hex(node->validator->pubkey, self);
    KUMO_LOG_INFO("node", "p2p_started", "id=%s p2p=%s peers=%s", self,
                  nc->p2p != NULL ? kumo_p2p_listen_addr(nc->p2p) : "", node->cfg.persistent_peers);
    return 0;
}

static int cons_timers_make(node_cons_t *nc, kumo_err_ctx_t *err)
{
    for (uint32_t i = 0; i < KUMO_CONSENSUS_TIMER_COUNT; i++) {
        nc->timer_args[i] = (node_cons_timer_arg_t){nc, i};
        nc->timers[i] = evtimer_new(nc->base, cons_timer_cb, &nc->timer_args[i]);
        KUMO_ENSURE(nc->timers[i] != NULL, err, KUMO_ENOMEM, "consensus timer");
    }
    nc->status_timer = event_new(nc->base, -1, EV_PERSIST, cons_status_cb, nc);
    KUMO_ENSURE(nc->status_timer != NULL, err, KUMO_ENOMEM, "status timer");
    struct timeval tv = {.tv_sec = NODE_BSYNC_STATUS_MS / 1000u,
                         .tv_usec = (NODE_BSYNC_STATUS_MS % 1000u) * 1000u};
    KUMO_ENSURE(event_add(nc->status_timer, &tv) == 0, err, KUMO_EIO, "status timer");
    return 0;
}

static void cons_stop(void *ctx)
{
    node_cons_t *nc = ctx;
    if (nc == NULL) {
        return;
    }
    nc->stopping = true;
    if (nc->node != NULL) {
        nc->node->tx_gossip = NULL;
        nc->node->p2p = NULL;
    }
    node_cons_engine_close(nc);
    for (uint32_t i = 0; i < KUMO_CONSENSUS_TIMER_COUNT; i++) {
        if (nc->timers[i] != NULL) {
            event_free(nc->timers[i]);
        }
    }
    if (nc->status_timer != NULL) {
        event_free(nc->status_timer);
    }
    if (nc->serve_timer != NULL) {
        event_free(nc->serve_timer);
    }
    kumo_p2p_close(nc->p2p);
    kumo_wal_close(nc->wal);
    if (nc->signer_spare_fd >= 0) {
        (void)close(nc->signer_spare_fd);
    }
    if (nc->sign_retry != NULL) {
        event_free(nc->sign_retry);
    }
    node_parts_free(&nc->parts);
    kumo_codec_free(nc->last_commit != NULL ? &nc->last_commit->base : NULL);
    kumo_free(nc);
}

/* The signer state (home/signer_state: kept when data/ is wiped) and the WAL. */
static int cons_crash_state_open(node_cons_t *nc, kumo_err_ctx_t *err)
{
    kumo_node_t *node = nc->node;
    KUMO_GUARD(kumo_node_path(node->cfg.home, "signer_state", nc->signer_path, err));
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_CONSENSUS_SIGNER_STATE_BYTES);
    int rc = kumo_file_read(nc->signer_path, &buf, err);
    if (rc == 0) {
        rc = kumo_consensus_signer_decode(kumo_buf_bytes(&buf), &nc->signer, err);
    }
    kumo_buf_free(&buf);
    if (rc < 0 && rc != KUMO_ENOTFOUND) {
        return rc;
    }
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(node->cfg.home, "data/consensus.wal", path, err));
    uint64_t records = 0;
    KUMO_GUARD(kumo_wal_open(path, &nc->wal, &records, err));
    KUMO_LOG_INFO("node", "consensus_state_loaded",
                  "wal_records=%" PRIu64 " signed_height=%" PRIu64 " signed_round=%u", records,
                  nc->signer.height, nc->signer.round);
    return 0;
}

/* Replays the WAL into the engine: it re-derives its round, lock and valid value, and
 * whatever it would sign again is what the signer state allows. */
static int cons_wal_replay_cb(void *ctx, uint8_t kind, kumo_bytes_t payload)
{
    node_cons_t *nc = ctx;
    if (kind != NODE_WAL_MSG || nc->engine == NULL) {
        return 0;
    }
    kumo_err_ctx_t err = {0};
    int rc = kumo_consensus_replay(nc->engine, payload, &err);
    /* Old heights and bad records are ignored as on the wire; io failures are fatal. */
    return rc == KUMO_EIO || rc == KUMO_ECORRUPT || rc == KUMO_ENOMEM ? rc : 0;
}

static int cons_start(void *ctx, kumo_node_t *node, kumo_err_ctx_t *err)
{
    node_cons_t *nc = ctx;
    nc->node = node;
    nc->base = node->base;
    kumo_consensus_cfg_default(&nc->ccfg);
    nc->ccfg.chain_id = node->cfg.chain_id;
    nc->ccfg.timeout_propose_ms = node->cfg.timeout_propose_ms;
    nc->ccfg.timeout_propose_delta_ms = node->cfg.timeout_propose_ms / 2u;
    nc->ccfg.timeout_prevote_ms = node->cfg.timeout_vote_ms;
    nc->ccfg.timeout_prevote_delta_ms = node->cfg.timeout_vote_ms / 2u;
    nc->ccfg.timeout_precommit_ms = node->cfg.timeout_vote_ms;
    nc->ccfg.timeout_precommit_delta_ms = node->cfg.timeout_vote_ms / 2u;
    nc->ccfg.timeout_commit_ms = node->cfg.block_interval_ms;
    KUMO_GUARD(node_cons_valset_refresh(nc, err));
    KUMO_GUARD(cons_head_load(nc, err));
    KUMO_GUARD(cons_crash_state_open(nc, err));
    KUMO_GUARD(cons_timers_make(nc, err));
    KUMO_GUARD(cons_p2p_open(nc, err));
    node->tx_gossip = cons_tx_gossip;
    node->tx_gossip_ctx = nc;
    node->p2p = nc->p2p;
#ifdef KUMO_TEST_HOOKS
    const char *eq = getenv("KUMO_TEST_EQUIVOCATE");
    nc->equivocate = eq != NULL && strcmp(eq, node->cfg.moniker) == 0;
    if (nc->equivocate) {
        KUMO_LOG_WARN("node", "test_equivocating", "moniker=%s", node->cfg.moniker);
    }
#endif
    /* Consensus starts at once; only a verified block from a peer ahead hands over to block
     * sync (bsync.c). */
    KUMO_GUARD(node_cons_engine_open(nc, err));
    return kumo_wal_replay(nc->wal, cons_wal_replay_cb, nc, err);
}

static void cons_sign_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_cons_t *nc = arg;
    if (!nc->sign_failed || nc->engine == NULL || nc->stopping) {
        return; /* a later step signed, or block sync has the engine stopped */
    }
    nc->sign_failed = false;
    KUMO_LOG_WARN("node", "consensus_restarting",
                  "reason=signer_state_write_failed height=%" PRIu64, nc->node->height + 1u);
    node_cons_engine_close(nc);
    kumo_err_ctx_t err = {0};
    int rc = node_cons_engine_open(nc, &err);
    if (rc == 0) {
        rc = kumo_wal_replay(nc->wal, cons_wal_replay_cb, nc, &err);
    }
    if (rc < 0) {
        cons_engine_failed(nc, rc, &err);
    }
}

int kumo_node_producer_consensus_make(kumo_node_producer_t *out, kumo_err_ctx_t *err)
{
    node_cons_t *nc = kumo_calloc(1, sizeof(*nc));
    KUMO_ENSURE(nc != NULL, err, KUMO_ENOMEM, "consensus producer");
    nc->self_index = -1;
    nc->signer_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    out->ctx = nc;
    out->start = cons_start;
    out->stop = cons_stop;
    return 0;
}
