/*
 * block.c - producing one block: the proposer's own pending txs, its facilitator txs, then
 * the mempool by priority (lease confirmations first, then fee per byte); apply with the txs
 * prepared (decoded, signatures verified once at submit); the header, block, results and tx index
 * written into the same LMDB transaction as the state and meta; commit; then the head, counters,
 * mempool and commit listeners.
 *
 * Crash safety: everything a block produces is one kumo_store_block_commit, so a kill at any
 * point leaves the store at the previous block or this one, whole. Nothing outside the store
 * (head fields, counters, mempool) changes before the commit succeeded. Not pure: store,
 * clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bank/bank.h"
#include "node/node_int.h"

struct kumo_node_block {
    kumo_node_t *node;
    uint64_t height;
    kumo_kv_t kv;
    kumo_buf_t fac[KUMO_NODE_FACILITATOR_TX_MAX];
    size_t fac_count;
    const kumo_node_mempool_entry_t **picked;
    size_t picked_count;
    size_t own_count; /* leading picked txs signed by the proposer */
    kumo_bytes_t *txs;
    kumo_chain_tx_t *prepared;
    size_t tx_count;
    kumo_chain_block_out_t out;
    bool out_valid;
    uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES];
    kumo_buf_t block_enc;
    kumo_buf_t results_enc;
    uint8_t block_hash[KUMO_CHAIN_HASH_BYTES];
    uint64_t time_ms;
    int64_t open_orders_delta;
    int64_t active_leases_delta;
    bool *prep_owned; /* prepared[i] was decoded here (not borrowed from the mempool) */
    uint8_t proposer[KUMO_ADDRESS_BYTES];
    Kumo__Block *recv;               /* a received block being executed (owns its txs) */
    const Kumo__Commit *last_commit; /* borrowed: from recv or the caller of build */
    const kumo_bytes_t *evidence;    /* borrowed items */
    size_t evidence_count;
    kumo_node_block_info_t info; /* what consensus says about the block, for the chain */
    uint64_t t0_us;
    uint64_t bytes_max; /* of the txs: params max_block_bytes, or less (extra) */
    bool store_open;
    /* Given txs (kumo_node_block_produce_txs) instead of the mempool's; apply prepares. */
    const kumo_bytes_t *given;
    size_t given_count;
    bool txs_given;
};
typedef struct kumo_node_block node_block_t;

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    (void)clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t clock_us_monotonic(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t u64_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void block_free(node_block_t *b)
{
    for (size_t i = 0; i < KUMO_NODE_FACILITATOR_TX_MAX; i++) {
        kumo_buf_free(&b->fac[i]);
    }
    /* Txs prepared here are freed; mempool txs are borrowed copies. */
    if (b->prepared != NULL && b->prep_owned != NULL) {
        for (size_t i = 0; i < b->tx_count; i++) {
            if (b->prep_owned[i]) {
                kumo_chain_tx_free(&b->prepared[i]);
            }
        }
    }
    kumo_free(b->prep_owned);
    kumo_codec_free(b->recv != NULL ? &b->recv->base : NULL);
    kumo_free(b->picked);
    kumo_free(b->txs);
    kumo_free(b->prepared);
    kumo_free(b->hashes);
    if (b->out_valid) {
        kumo_chain_block_out_free(&b->out);
    }
    kumo_buf_free(&b->block_enc);
    kumo_buf_free(&b->results_enc);
}

/* Facilitator msgs per tx: as many as fit max_tx_bytes with room (a due msg encodes to well
 * under 256 bytes), at most KUMO_NODE_FACILITATOR_MSGS_MAX. */
static uint32_t block_fac_msgs_per_tx(const Kumo__Params *params)
{
    uint64_t n = params->max_tx_bytes / 256u;
    return (uint32_t)kumo_u64_min(u64_max(n, 1u), KUMO_NODE_FACILITATOR_MSGS_MAX);
}

/* The facilitator's due txs, tried on the head state (kv before any write): the builder keeps
 * only the due msgs that succeed in order there, so one item an earlier msg invalidated never
 * fails the others. Their sequences follow the proposer's own pending txs, which go first in
 * the block. */
static int block_facilitator(node_block_t *b, size_t tx_cap, kumo_err_ctx_t *err)
{
    kumo_node_t *node = b->node;
    if (!node->validator_is_operator || tx_cap == 0) {
        return 0;
    }
    Kumo__Account *acct = NULL;
    KUMO_GUARD(kumo_bank_account_get(&b->kv, node->validator_addr, &acct, err));
    uint64_t seq = acct->sequence;
    kumo_codec_free(&acct->base);
    seq += kumo_node_mempool_account_tx_count(node->mempool, node->validator_addr);
    kumo_chain_facilitator_stats_t stats = {0};
    KUMO_GUARD(kumo_chain_facilitator_txs_build(
        &b->kv, node->cfg.chain_id, b->height, node->validator, &seq,
        block_fac_msgs_per_tx(node->params), b->fac,
        kumo_u64_min(tx_cap, KUMO_NODE_FACILITATOR_TX_MAX), &b->fac_count, &stats, err));
    if (stats.dropped_count > 0) {
        KUMO_LOG_DEBUG("node", "facilitator_dropped",
                       "height=%" PRIu64 " due=%" PRIu32 " dropped=%" PRIu32, b->height,
                       stats.due_count, stats.dropped_count);
    }
    return 0;
}

/* Keeps the facilitator txs that fit max_block_bytes and returns their bytes. */
static uint64_t block_fac_trim(node_block_t *b)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < b->fac_count; i++) {
        if (b->fac[i].len > b->bytes_max - bytes) {
            b->fac_count = i;
            break;
        }
        bytes += b->fac[i].len;
    }
    return bytes;
}

/* The per-tx arrays for b->tx_count txs (freed by block_free). */
static int block_arrays_alloc(node_block_t *b, kumo_err_ctx_t *err)
{
    size_t n = b->tx_count + 1u; /* never a zero-size allocation */
    b->txs = kumo_calloc(n, sizeof(*b->txs));
    b->prepared = kumo_calloc(n, sizeof(*b->prepared));
    b->hashes = kumo_calloc(n, sizeof(*b->hashes));
    b->prep_owned = kumo_calloc(n, sizeof(*b->prep_owned));
    KUMO_ENSURE(b->txs != NULL && b->prepared != NULL && b->hashes != NULL && b->prep_owned != NULL,
                err, KUMO_ENOMEM, "block of %zu txs", b->tx_count);
    return 0;
}

/* The facilitator's txs, then the given ones in order: apply decodes and verifies them all. */
static int block_given_layout(node_block_t *b, kumo_err_ctx_t *err)
{
    KUMO_GUARD(block_facilitator(b, KUMO_NODE_FACILITATOR_TX_MAX, err));
    (void)block_fac_trim(b);
    KUMO_ENSURE(b->given_count <= KUMO_BLOCK_TX_COUNT_MAX, err, KUMO_ELIMIT,
                "block of %zu txs, limit %u", b->given_count, KUMO_BLOCK_TX_COUNT_MAX);
    b->tx_count = b->fac_count + b->given_count;
    KUMO_GUARD(block_arrays_alloc(b, err));
    for (size_t i = 0; i < b->fac_count; i++) {
        b->txs[i] = kumo_buf_bytes(&b->fac[i]);
    }
    for (size_t i = 0; i < b->given_count; i++) {
        b->txs[b->fac_count + i] = b->given[i];
    }
    kumo_free(b->prepared);
    b->prepared = NULL; /* apply prepares every tx */
    return 0;
}

static int block_select(node_block_t *b, kumo_err_ctx_t *err)
{
    kumo_node_t *node = b->node;
    size_t count_max = node->cfg.block_tx_count_max;
    /* Facilitator txs take at most half of a block, so user txs always get room. */
    size_t fac_cap = node->validator_is_operator ? count_max / 2u : 0u;
    KUMO_GUARD(block_facilitator(b, fac_cap, err));
    uint64_t fac_bytes = block_fac_trim(b);
    KUMO_ASSERT(b->fac_count <= fac_cap && fac_bytes <= b->bytes_max);
    size_t pick_max = count_max - b->fac_count;
    b->picked = kumo_calloc(pick_max + 1u, sizeof(*b->picked));
    KUMO_ENSURE(b->picked != NULL, err, KUMO_ENOMEM, "block selection");
    b->picked_count = kumo_node_mempool_select(
        node->mempool, node->validator_is_operator ? node->validator_addr : NULL, pick_max,
        b->bytes_max - fac_bytes, b->picked);
    while (b->own_count < b->picked_count &&
           memcmp(kumo_node_mempool_entry_tx(b->picked[b->own_count])->signer, node->validator_addr,
                  KUMO_ADDRESS_BYTES) == 0) {
        b->own_count++;
    }
    return 0;
}

/* Lays the block out (own txs, facilitator txs, the rest) with every tx prepared. */
static int block_layout(node_block_t *b, kumo_err_ctx_t *err)
{
    b->tx_count = b->picked_count + b->fac_count;
    KUMO_GUARD(block_arrays_alloc(b, err));
    size_t k = 0;
    for (size_t i = 0; i < b->own_count; i++, k++) {
        b->txs[k] = kumo_node_mempool_entry_bytes(b->picked[i]);
        b->prepared[k] = *kumo_node_mempool_entry_tx(b->picked[i]);
    }
    for (size_t i = 0; i < b->fac_count; i++, k++) {
        b->txs[k] = kumo_buf_bytes(&b->fac[i]);
        /* Our own signature, but verified like any tx: apply relies on prepared txs. */
        KUMO_GUARD(kumo_chain_tx_prepare(b->txs[k], (size_t)b->node->params->max_tx_bytes,
                                         &b->prepared[k], err));
        b->prep_owned[k] = true;
    }
    for (size_t i = b->own_count; i < b->picked_count; i++, k++) {
        b->txs[k] = kumo_node_mempool_entry_bytes(b->picked[i]);
        b->prepared[k] = *kumo_node_mempool_entry_tx(b->picked[i]);
    }
    KUMO_ASSERT(k == b->tx_count);
    return 0;
}

/* Whether a lease.closed event ends an active lease: only a provider's close does (MsgCloseLease);
 * DeploymentClosed's lease.closed ends a closing or released one. */
static bool block_event_is_provider_close(const Kumo__Event *ev)
{
    for (size_t i = 0; i < ev->n_attrs; i++) {
        if (strcmp(ev->attrs[i]->key, "reason") == 0) {
            return strcmp(ev->attrs[i]->value, "provider_closed") == 0;
        }
    }
    return false;
}

/* Tracks the open-order and active-lease counts from an event. */
static void block_count_event(node_block_t *b, const Kumo__Event *ev)
{
    const char *type = ev->type;
    if (strcmp(type, "order.created") == 0) {
        b->open_orders_delta++;
    } else if (strcmp(type, "order.matched") == 0 || strcmp(type, "order.closed") == 0) {
        b->open_orders_delta--;
    } else if (strcmp(type, "lease.created") == 0) {
        b->active_leases_delta++;
    } else if (strcmp(type, "lease.closing") == 0 || strcmp(type, "lease.stale") == 0 ||
               strcmp(type, "lease.refused") == 0 ||
               (strcmp(type, "lease.closed") == 0 && block_event_is_provider_close(ev))) {
        b->active_leases_delta--;
    }
}

/* Unpacks a result's u32-prefixed events into evs (res->event_count slots). */
static int block_events_unpack(node_block_t *b,
                               const kumo_chain_tx_result_t *res,
                               Kumo__Event **evs,
                               kumo_err_ctx_t *err)
{
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_buf_bytes(&res->events));
    for (uint32_t i = 0; i < res->event_count; i++) {
        kumo_bytes_t one;
        KUMO_GUARD(kumo_reader_read_prefixed(&r, KUMO_STORE_RECORD_BYTES_MAX, &one));
        ProtobufCMessage *m = NULL;
        KUMO_GUARD(kumo_codec_unpack(&kumo__event__descriptor, one, one.len, &m, err));
        evs[i] = (Kumo__Event *)m;
        block_count_event(b, evs[i]);
    }
    return kumo_reader_finish(&r);
}

/* Logs become ASCII: a detail may quote tx text cut mid-character, and a log that is not
 * UTF-8 would make the results unencodable. */
static void block_log_sanitize(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1u < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

typedef struct block_result_slot {
    Kumo__TxResult msg;
    Kumo__Event **events;
    size_t event_count;
    char log[KUMO_ERR_DETAIL_BYTES];
} block_result_slot_t;

static void block_slots_free(block_result_slot_t *slots, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < slots[i].event_count; j++) {
            kumo_codec_free(slots[i].events[j] != NULL ? &slots[i].events[j]->base : NULL);
        }
        kumo_free(slots[i].events);
    }
    kumo_free(slots);
}

static int block_slot_fill(node_block_t *b, size_t i, block_result_slot_t *s, kumo_err_ctx_t *err)
{
    kumo_chain_tx_result_t *res = &b->out.results[i];
    Kumo__TxResult init = KUMO__TX_RESULT__INIT;
    s->msg = init;
    memcpy(b->hashes[i], res->hash, KUMO_CHAIN_HASH_BYTES);
    s->msg.hash.data = b->hashes[i];
    s->msg.hash.len = KUMO_CHAIN_HASH_BYTES;
    s->msg.code = res->code;
    block_log_sanitize(res->log, s->log, sizeof(s->log));
    s->msg.log = s->log;
    s->msg.fee = res->fee;
    s->msg.msg_index = res->code != 0 ? res->msg_index : 0;
    s->events = kumo_calloc(res->event_count + 1u, sizeof(*s->events));
    KUMO_ENSURE(s->events != NULL, err, KUMO_ENOMEM, "events");
    s->event_count = res->event_count;
    KUMO_GUARD(block_events_unpack(b, res, s->events, err));
    s->msg.n_events = s->event_count;
    s->msg.events = s->events;
    return 0;
}

static int block_results_encode(node_block_t *b, kumo_err_ctx_t *err)
{
    size_t n = b->out.result_count;
    KUMO_ASSERT(n == b->tx_count);
    block_result_slot_t *slots = kumo_calloc(n + 1u, sizeof(*slots));
    KUMO_ENSURE(slots != NULL, err, KUMO_ENOMEM, "results");
    Kumo__TxResult **ptrs = kumo_calloc(n + 1u, sizeof(*ptrs));
    int rc = ptrs != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "results");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = block_slot_fill(b, i, &slots[i], err);
        ptrs[i] = &slots[i].msg;
    }
    if (rc == 0) {
        Kumo__BlockResults br = KUMO__BLOCK_RESULTS__INIT;
        br.height = b->height;
        br.n_results = n;
        br.results = ptrs;
        kumo_buf_init(&b->results_enc, KUMO_STORE_RECORD_BYTES_MAX);
        rc = kumo_codec_pack(&br.base, &b->results_enc, err);
    }
    kumo_free(ptrs);
    block_slots_free(slots, n);
    return rc;
}

/* SHA-256 over the evidence items' own SHA-256 hashes. */
static void block_evidence_hash(const node_block_t *b, uint8_t out[KUMO_CHAIN_HASH_BYTES])
{
    uint8_t h[KUMO_NODE_BLOCK_EVIDENCE_MAX][KUMO_CHAIN_HASH_BYTES];
    KUMO_ASSERT(b->evidence_count <= KUMO_NODE_BLOCK_EVIDENCE_MAX);
    for (size_t i = 0; i < b->evidence_count; i++) {
        kumo_crypto_sha256(b->evidence[i], h[i]);
    }
    kumo_crypto_sha256(kumo_bytes_make(h, b->evidence_count * KUMO_CHAIN_HASH_BYTES), out);
}

/* The consensus parts of a header: hashes of the last commit and the evidence. */
static int block_header_consensus(node_block_t *b,
                                  Kumo__BlockHeader *h,
                                  uint8_t commit_hash[KUMO_CHAIN_HASH_BYTES],
                                  uint8_t evidence_hash[KUMO_CHAIN_HASH_BYTES],
                                  kumo_err_ctx_t *err)
{
    if (b->last_commit != NULL) {
        kumo_buf_t enc;
        kumo_buf_init(&enc, KUMO_STORE_RECORD_BYTES_MAX);
        int rc = kumo_codec_pack(&b->last_commit->base, &enc, err);
        if (rc == 0) {
            kumo_crypto_sha256(kumo_buf_bytes(&enc), commit_hash);
            h->last_commit_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, commit_hash};
        }
        kumo_buf_free(&enc);
        KUMO_GUARD(rc);
    }
    if (b->evidence_count > 0) {
        block_evidence_hash(b, evidence_hash);
        h->evidence_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, evidence_hash};
    }
    return 0;
}

/* Header hashes as proto/kumo.proto documents them; the block hash is SHA-256 of the
 * header's encoding. */
static int block_encode(node_block_t *b, kumo_err_ctx_t *err)
{
    kumo_node_t *node = b->node;
    uint8_t data_hash[KUMO_CHAIN_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(b->hashes, b->tx_count * KUMO_CHAIN_HASH_BYTES), data_hash);
    uint8_t results_hash[KUMO_CHAIN_HASH_BYTES];
    kumo_crypto_sha256(kumo_buf_bytes(&b->results_enc), results_hash);
    uint8_t commit_hash[KUMO_CHAIN_HASH_BYTES];
    uint8_t evidence_hash[KUMO_CHAIN_HASH_BYTES];
    Kumo__BlockHeader h = KUMO__BLOCK_HEADER__INIT;
    h.chain_id = node->cfg.chain_id;
    h.height = b->height;
    h.time_ms = b->time_ms;
    h.last_block_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, node->block_hash};
    h.data_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, data_hash};
    h.prev_app_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, node->app_hash};
    h.app_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, b->out.app_hash};
    h.results_hash = (ProtobufCBinaryData){KUMO_CHAIN_HASH_BYTES, results_hash};
    h.proposer = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, b->proposer};
    KUMO_GUARD(block_header_consensus(b, &h, commit_hash, evidence_hash, err));
    kumo_buf_t header_enc;
    kumo_buf_init(&header_enc, KUMO_STORE_RECORD_BYTES_MAX);
    KUMO_GUARD(kumo_codec_pack(&h.base, &header_enc, err));
    kumo_crypto_sha256(kumo_buf_bytes(&header_enc), b->block_hash);
    kumo_buf_free(&header_enc);
    size_t n = b->tx_count + b->evidence_count + 1u;
    ProtobufCBinaryData *items = kumo_calloc(n, sizeof(*items));
    KUMO_ENSURE(items != NULL, err, KUMO_ENOMEM, "block txs");
    for (size_t i = 0; i < b->tx_count; i++) {
        items[i].data = (uint8_t *)(uintptr_t)b->txs[i].ptr; /* packing only reads */
        items[i].len = b->txs[i].len;
    }
    ProtobufCBinaryData *ev = items + b->tx_count;
    for (size_t i = 0; i < b->evidence_count; i++) {
        ev[i].data = (uint8_t *)(uintptr_t)b->evidence[i].ptr;
        ev[i].len = b->evidence[i].len;
    }
    Kumo__Block blk = KUMO__BLOCK__INIT;
    blk.header = &h;
    blk.n_txs = b->tx_count;
    blk.txs = items;
    blk.last_commit = (Kumo__Commit *)(uintptr_t)b->last_commit; /* packing only reads */
    blk.n_evidence = b->evidence_count;
    blk.evidence = ev;
    kumo_buf_init(&b->block_enc, KUMO_STORE_RECORD_BYTES_MAX);
    int rc = kumo_codec_pack(&blk.base, &b->block_enc, err);
    kumo_free(items);
    return rc;
}

static int block_records_put(node_block_t *b, kumo_err_ctx_t *err)
{
    kumo_store_t *store = b->node->store;
    uint8_t key[8];
    kumo_be64_put(key, b->height);
    kumo_bytes_t k = kumo_bytes_make(key, sizeof(key));
    KUMO_GUARD(kumo_store_block_record_put(store, KUMO_STORE_TABLE_BLOCKS, k,
                                           kumo_buf_bytes(&b->block_enc), err));
    KUMO_GUARD(kumo_store_block_record_put(store, KUMO_STORE_TABLE_RESULTS, k,
                                           kumo_buf_bytes(&b->results_enc), err));
    for (size_t i = 0; i < b->tx_count; i++) {
        Kumo__TxLocation loc = KUMO__TX_LOCATION__INIT;
        loc.height = b->height;
        loc.index = (uint32_t)i; /* i < KUMO_BLOCK_TX_COUNT_MAX */
        uint8_t buf[32];
        kumo_buf_t enc = {.ptr = buf, .cap = sizeof(buf), .cap_max = sizeof(buf)};
        size_t len = protobuf_c_message_get_packed_size(&loc.base);
        KUMO_ASSERT(len <= sizeof(buf));
        enc.len = protobuf_c_message_pack(&loc.base, buf);
        KUMO_ASSERT(enc.len == len);
        /* The first location of a hash wins: a replayed tx (the same bytes again, failing on
         * its used sequence) must not hide where the tx really committed. */
        int rc = kumo_store_block_record_add(store, KUMO_STORE_TABLE_TX_INDEX,
                                             kumo_bytes_make(b->hashes[i], KUMO_CHAIN_HASH_BYTES),
                                             kumo_buf_bytes(&enc), err);
        if (rc < 0 && rc != KUMO_EEXIST) {
            return rc;
        }
    }
    return 0;
}

#ifdef KUMO_TEST_HOOKS
#define BLOCK_TEST_VALSET_MAX 8u
/* What $KUMO_TEST_VALSET asks of one block: its updates, and every key the variable names at
 * any height (staking never sets those: kumo_chain_block_in_t.valset_caller_keys). */
typedef struct block_test_valset {
    kumo_chain_valset_update_t updates[BLOCK_TEST_VALSET_MAX];
    uint32_t update_count;
    uint8_t keys[BLOCK_TEST_VALSET_MAX][KUMO_CRYPTO_PUBKEY_BYTES];
    uint32_t key_count;
} block_test_valset_t;

static void block_test_valset_key_add(block_test_valset_t *t, const uint8_t *pubkey)
{
    for (uint32_t i = 0; i < t->key_count; i++) {
        if (memcmp(t->keys[i], pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return;
        }
    }
    if (t->key_count == BLOCK_TEST_VALSET_MAX) {
        return; /* a test's own variable: more keys than it may name are ignored */
    }
    memcpy(t->keys[t->key_count++], pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
}

/* Test builds: $KUMO_TEST_VALSET ("height:moniker:power,...", the same on every node) records
 * validator set updates at those heights as an end-block step would (the genesis validator of
 * that moniker gets that power; 0 removes it), so real-process tests see the chain change its
 * set. Staking leaves the keys it names alone (it could otherwise remove one of them too, say
 * by jailing a validator the variable took out, and stop the chain). */
static void block_test_valset(const kumo_node_t *node, uint64_t height, block_test_valset_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = getenv("KUMO_TEST_VALSET");
    Kumo__Genesis *g = NULL;
    if (p == NULL || kumo_node_genesis_load(node->cfg.home, &g, NULL) < 0) {
        return;
    }
    uint32_t entries = 0;
    while (*p != '\0' && entries < BLOCK_TEST_VALSET_MAX) {
        char moniker[64] = {0};
        unsigned long long h = 0;
        unsigned long long power = 0;
        int used = 0;
        if (sscanf(p, "%llu:%63[^:]:%llu%n", &h, moniker, &power, &used) != 3) {
            break;
        }
        entries++;
        for (size_t i = 0; i < g->n_validators; i++) {
            const Kumo__Validator *v = g->validators[i];
            if (strcmp(v->moniker, moniker) != 0 || v->pubkey.len != KUMO_CRYPTO_PUBKEY_BYTES) {
                continue;
            }
            block_test_valset_key_add(out, v->pubkey.data);
            if (h == height && out->update_count < BLOCK_TEST_VALSET_MAX) {
                memcpy(out->updates[out->update_count].pubkey, v->pubkey.data,
                       KUMO_CRYPTO_PUBKEY_BYTES);
                out->updates[out->update_count++].power = power;
            }
        }
        p += used;
        p += *p == ',' ? 1 : 0;
    }
    kumo_codec_free(&g->base);
}
#endif

/* Applies the laid-out txs with the block's consensus facts and encodes results and block. */
static int block_apply(node_block_t *b, kumo_err_ctx_t *err)
{
    const kumo_node_block_facts_t facts = {
        .height = b->height,
        .proposer_addr = kumo_bytes_make(b->proposer, KUMO_ADDRESS_BYTES),
        .last_commit = b->last_commit,
        .evidence = b->evidence,
        .evidence_count = b->evidence_count,
    };
    KUMO_GUARD(kumo_node_block_info_derive(b->node, &b->kv, &facts, &b->info, err));
    kumo_chain_block_in_t in = {
        .chain_id = b->node->cfg.chain_id,
        .height = b->height,
        .prev_app_hash = b->node->app_hash,
        .txs = b->txs,
        .tx_count = b->tx_count,
        .prepared = b->prepared,
        .proposer = b->info.has_proposer ? b->info.proposer : NULL,
        .last_commit_signers = b->info.signer_count > 0 ? b->info.signers : NULL,
        .last_commit_signer_count = b->info.signer_count,
        .evidence = b->info.evidence_count > 0 ? b->info.evidence : NULL,
        .evidence_count = b->info.evidence_count,
    };
#ifdef KUMO_TEST_HOOKS
    block_test_valset_t test_valset;
    block_test_valset(b->node, b->height, &test_valset);
    in.valset_update_count = test_valset.update_count;
    in.valset_updates = test_valset.update_count > 0 ? test_valset.updates : NULL;
    in.valset_caller_key_count = test_valset.key_count;
    in.valset_caller_keys = test_valset.key_count > 0 ? test_valset.keys : NULL;
#endif
    KUMO_GUARD(kumo_chain_block_apply(&b->kv, &in, &b->out, err));
    b->out_valid = true;
    KUMO_GUARD(block_results_encode(b, err));
    return block_encode(b, err);
}

/* Opens the store block for the next height; b is zeroed first. */
static int block_open(kumo_node_t *node, node_block_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(!node->producing && !kumo_store_block_is_open(node->store));
    node_block_t *b = kumo_calloc(1, sizeof(*b));
    KUMO_ENSURE(b != NULL, err, KUMO_ENOMEM, "block");
    b->node = node;
    b->height = node->height + 1u;
    b->t0_us = clock_us_monotonic();
    memcpy(b->proposer, node->validator_addr, KUMO_ADDRESS_BYTES);
    int rc = kumo_store_block_begin(node->store, &b->kv, err);
    if (rc < 0) {
        kumo_free(b);
        return rc;
    }
    b->store_open = true;
    node->producing = true;
    *out = b;
    return 0;
}

void kumo_node_block_discard(kumo_node_t *node, kumo_node_block_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->store_open) {
        kumo_store_block_abort(node->store);
    }
    block_free(b);
    kumo_free(b);
    node->producing = false;
}

int kumo_node_block_build(kumo_node_t *node,
                          const kumo_node_block_extra_t *extra,
                          kumo_node_block_t **out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && out != NULL);
    node_block_t *b = NULL;
    KUMO_GUARD(block_open(node, &b, err));
    /* Header time: the wall clock, never earlier than the previous block's. */
    b->time_ms = u64_max(clock_ms(CLOCK_REALTIME), node->block_time_ms);
    b->bytes_max = node->params->max_block_bytes;
    if (extra != NULL) {
        b->bytes_max = kumo_u64_min(b->bytes_max, extra->tx_bytes_max);
        KUMO_ASSERT(extra->evidence_count <= KUMO_NODE_BLOCK_EVIDENCE_MAX);
        b->last_commit = extra->last_commit;
        b->evidence = extra->evidence;
        b->evidence_count = extra->evidence_count;
        b->txs_given = extra->txs_given;
        b->given = extra->txs;
        b->given_count = extra->tx_count;
    }
    int rc = 0;
    if (b->txs_given) {
        rc = block_given_layout(b, err);
    } else {
        rc = block_select(b, err);
        rc = rc == 0 ? block_layout(b, err) : rc;
    }
    rc = rc == 0 ? block_apply(b, err) : rc;
    if (rc < 0) {
        kumo_node_block_discard(node, b);
        return rc;
    }
    *out = b;
    return 0;
}

size_t kumo_node_block_evidence(const kumo_node_block_t *b, const kumo_bytes_t **items)
{
    *items = b->evidence;
    return b->evidence_count;
}

kumo_bytes_t kumo_node_block_bytes(const kumo_node_block_t *b)
{
    return kumo_buf_bytes(&b->block_enc);
}

/* Lays out a received block's txs: pending ones borrow the mempool's prepared copy (their
 * signature was verified at admission), others are decoded and verified here. */
static int block_recv_layout(node_block_t *b, kumo_err_ctx_t *err)
{
    const Kumo__Block *blk = b->recv;
    b->tx_count = blk->n_txs;
    size_t n = b->tx_count + 1u;
    b->txs = kumo_calloc(n, sizeof(*b->txs));
    b->prepared = kumo_calloc(n, sizeof(*b->prepared));
    b->hashes = kumo_calloc(n, sizeof(*b->hashes));
    b->prep_owned = kumo_calloc(n, sizeof(*b->prep_owned));
    KUMO_ENSURE(b->txs != NULL && b->prepared != NULL && b->hashes != NULL && b->prep_owned != NULL,
                err, KUMO_ENOMEM, "block of %zu txs", b->tx_count);
    for (size_t i = 0; i < b->tx_count; i++) {
        b->txs[i] = kumo_bytes_make(blk->txs[i].data, blk->txs[i].len);
        uint8_t hash[KUMO_CHAIN_HASH_BYTES];
        kumo_crypto_sha256(b->txs[i], hash);
        const kumo_node_mempool_entry_t *e = kumo_node_mempool_find(b->node->mempool, hash);
        if (e != NULL) {
            b->prepared[i] = *kumo_node_mempool_entry_tx(e);
            continue;
        }
        KUMO_GUARD(kumo_chain_tx_prepare(b->txs[i], (size_t)b->node->params->max_tx_bytes,
                                         &b->prepared[i], err));
        b->prep_owned[i] = true;
    }
    return 0;
}

int kumo_node_block_header_check(const Kumo__BlockHeader *h,
                                 const kumo_node_header_want_t *want,
                                 kumo_err_ctx_t *err)
{
    KUMO_ASSERT(want != NULL && want->chain_id != NULL);
    KUMO_ENSURE(h != NULL, err, KUMO_EDECODE, "block without a header");
    KUMO_ENSURE(h->chain_id != NULL && strcmp(h->chain_id, want->chain_id) == 0, err, KUMO_ECHAINID,
                "block of chain %s", h->chain_id != NULL ? h->chain_id : "");
    KUMO_ENSURE(h->height == want->height, err, KUMO_EINVAL,
                "block height %" PRIu64 ", expected %" PRIu64, h->height, want->height);
    KUMO_ENSURE(h->time_ms >= want->parent_time_ms, err, KUMO_EINVAL,
                "block time %" PRIu64 " before its parent's %" PRIu64, h->time_ms,
                want->parent_time_ms);
    /* now_ms is a wall clock in ms since 1970: adding the drift cannot overflow. */
    KUMO_ENSURE(want->now_ms == 0 || h->time_ms <= want->now_ms + KUMO_NODE_BLOCK_TIME_DRIFT_MS,
                err, KUMO_EINVAL,
                "block time %" PRIu64 " more than %u ms after the local clock %" PRIu64, h->time_ms,
                KUMO_NODE_BLOCK_TIME_DRIFT_MS, want->now_ms);
    KUMO_ENSURE(h->proposer.len == KUMO_ADDRESS_BYTES, err, KUMO_EDECODE, "block proposer");
    KUMO_ENSURE(want->proposer == NULL ||
                    memcmp(h->proposer.data, want->proposer, KUMO_ADDRESS_BYTES) == 0,
                err, KUMO_EUNAUTH, "block proposer is not the round's proposer");
    return 0;
}

/* What a received block must be before it is executed. */
static int block_recv_check(node_block_t *b, kumo_err_ctx_t *err)
{
    const Kumo__Block *blk = b->recv;
    const Kumo__BlockHeader *h = blk->header;
    kumo_node_t *node = b->node;
    const kumo_node_header_want_t want = {
        .chain_id = node->cfg.chain_id,
        .height = b->height,
        .parent_time_ms = node->block_time_ms,
    };
    KUMO_GUARD(kumo_node_block_header_check(h, &want, err));
    KUMO_ENSURE(blk->n_txs <= node->cfg.block_tx_count_max, err, KUMO_ELIMIT, "block of %zu txs",
                blk->n_txs);
    KUMO_ENSURE(blk->n_evidence <= KUMO_NODE_BLOCK_EVIDENCE_MAX, err, KUMO_ELIMIT,
                "block with %zu evidence items", blk->n_evidence);
    memcpy(b->proposer, h->proposer.data, KUMO_ADDRESS_BYTES);
    b->time_ms = h->time_ms;
    b->last_commit = blk->last_commit;
    return 0;
}

int kumo_node_block_execute(kumo_node_t *node,
                            kumo_bytes_t value,
                            kumo_bytes_t *evidence_scratch,
                            kumo_node_block_t **out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && out != NULL && evidence_scratch != NULL);
    node_block_t *b = NULL;
    KUMO_GUARD(block_open(node, &b, err));
    ProtobufCMessage *m = NULL;
    int rc = kumo_codec_unpack(&kumo__block__descriptor, value, KUMO_BLOCK_BYTES_MAX, &m, err);
    b->recv = (Kumo__Block *)m;
    rc = rc == 0 ? block_recv_check(b, err) : rc;
    if (rc == 0) {
        for (size_t i = 0; i < b->recv->n_evidence; i++) {
            evidence_scratch[i] =
                kumo_bytes_make(b->recv->evidence[i].data, b->recv->evidence[i].len);
        }
        b->evidence = evidence_scratch;
        b->evidence_count = b->recv->n_evidence;
    }
    rc = rc == 0 ? block_recv_layout(b, err) : rc;
    rc = rc == 0 ? block_apply(b, err) : rc;
    /* Executing it here must give exactly the proposed bytes: header hashes included. */
    if (rc == 0 &&
        (b->block_enc.len != value.len || memcmp(b->block_enc.ptr, value.ptr, value.len) != 0)) {
        rc = kumo_err_set(err, KUMO_EMISMATCH,
                          "block %" PRIu64 " does not match its execution here", b->height);
    }
    if (rc < 0) {
        kumo_node_block_discard(node, b);
        return rc;
    }
    *out = b;
    return 0;
}

static uint64_t counter_apply(uint64_t v, int64_t delta)
{
    /* The counts were taken from the state at open and every change is an event, so they
     * cannot go below zero. */
    if (delta < 0) {
        KUMO_ASSERT(v >= (uint64_t)(-delta));
        return v - (uint64_t)(-delta);
    }
    return v + (uint64_t)delta;
}

/* Debug builds recount what the events moved (O(n) per block, so slow-assert builds only). */
static void block_counts_check(kumo_node_t *node)
{
#ifdef KUMO_ASSERT_SLOW_ENABLED
    if (node->head_read == NULL) {
        return;
    }
    uint64_t orders = 0;
    uint64_t leases = 0;
    KUMO_ASSERT(kumo_node_state_count(&node->head_kv, KUMO_MARKET_OBJ_ORDER,
                                      KUMO__ORDER_STATE__ORDER_OPEN, &orders, NULL) == 0);
    KUMO_ASSERT(kumo_node_state_count(&node->head_kv, KUMO_MARKET_OBJ_LEASE,
                                      KUMO__LEASE_STATE__LEASE_ACTIVE, &leases, NULL) == 0);
    KUMO_ASSERT(orders == node->open_orders);
    KUMO_ASSERT(leases == node->active_leases);
#else
    (void)node;
#endif
}

/* After the commit: the node's view moves to the new block. */
static void block_committed(node_block_t *b, uint64_t t0_us)
{
    kumo_node_t *node = b->node;
    node->height = b->height;
    memcpy(node->app_hash, b->out.app_hash, KUMO_CHAIN_HASH_BYTES);
    memcpy(node->block_hash, b->block_hash, KUMO_CHAIN_HASH_BYTES);
    node->block_time_ms = b->time_ms;
    node->txs_committed_total += b->tx_count;
    node->open_orders = counter_apply(node->open_orders, b->open_orders_delta);
    node->active_leases = counter_apply(node->active_leases, b->active_leases_delta);
    kumo_node_head_refresh(node);
    block_counts_check(node);
    /* Without a snapshot of the new state the block's txs still leave the pool; the re-check
     * waits for the next snapshot (kumo_node_tx_submit or the next block). */
    kumo_node_mempool_env_t env = {&node->head_kv, node->params, node->cfg.chain_id};
    size_t dropped =
        kumo_node_mempool_update(node->mempool, node->head_read != NULL ? &env : NULL,
                                 (const uint8_t(*)[KUMO_CHAIN_HASH_BYTES])b->hashes, b->tx_count);
    node->mempool_stale = node->head_read == NULL;
    if (dropped > 0) {
        KUMO_LOG_DEBUG("node", "mempool_rechecked", "height=%" PRIu64 " dropped=%zu", b->height,
                       dropped);
    }
    node->block_duration_us = clock_us_monotonic() - t0_us;
    KUMO_LOG_DEBUG(
        "node", "block_committed",
        "height=%" PRIu64 " txs=%zu facilitator_txs=%zu ok=%" PRIu64 " duration_us=%" PRIu64,
        b->height, b->tx_count, b->fac_count, b->out.tx_ok_count, node->block_duration_us);
}

int kumo_node_block_finish(kumo_node_t *node,
                           kumo_node_block_t *b,
                           kumo_bytes_t commit_enc,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && b != NULL && b->store_open);
    int rc = block_records_put(b, err);
    if (rc == 0 && commit_enc.len > 0) {
        uint8_t key[8];
        kumo_be64_put(key, b->height);
        rc = kumo_store_block_record_put(node->store, KUMO_STORE_TABLE_COMMITS,
                                         kumo_bytes_make(key, sizeof(key)), commit_enc, err);
    }
    rc = rc == 0 ? kumo_store_block_commit(node->store, b->height, b->out.app_hash, err) : rc;
    if (rc < 0) {
        kumo_node_block_discard(node, b);
        return rc;
    }
    b->store_open = false;
    block_committed(b, b->t0_us);
    uint64_t height = b->height;
    kumo_node_block_discard(node, b); /* frees; the store block is closed */
    kumo_node_listeners_call(node, height);
    KUMO_ASSERT(!kumo_store_block_is_open(node->store));
    return 0;
}

int kumo_node_block_produce(kumo_node_t *node, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL);
    kumo_node_block_t *b = NULL;
    KUMO_GUARD(kumo_node_block_build(node, NULL, &b, err));
    return kumo_node_block_finish(node, b, kumo_bytes_make(NULL, 0), err);
}

int kumo_node_block_produce_txs(kumo_node_t *node,
                                const kumo_bytes_t *txs,
                                size_t tx_count,
                                kumo_chain_block_out_t *out,
                                size_t *facilitator_tx_count_out,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && out != NULL);
    KUMO_ASSERT(tx_count == 0 || txs != NULL);
    const kumo_node_block_extra_t extra = {
        .tx_bytes_max = UINT64_MAX,
        .txs_given = true,
        .txs = txs,
        .tx_count = tx_count,
    };
    return kumo_node_block_produce_given(node, &extra, out, facilitator_tx_count_out, err);
}

int kumo_node_block_produce_given(kumo_node_t *node,
                                  const kumo_node_block_extra_t *extra,
                                  kumo_chain_block_out_t *out,
                                  size_t *facilitator_tx_count_out,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && extra != NULL && out != NULL);
    KUMO_ASSERT(extra->txs_given && (extra->tx_count == 0 || extra->txs != NULL));
    kumo_node_block_t *b = NULL;
    KUMO_GUARD(kumo_node_block_build(node, extra, &b, err));
    size_t fac_count = b->fac_count;
    /* The results go to the caller; the block keeps reading its copy of the other fields. */
    *out = b->out;
    b->out_valid = false;
    int rc = kumo_node_block_finish(node, b, kumo_bytes_make(NULL, 0), err);
    if (rc < 0) {
        kumo_chain_block_out_free(out);
        return rc;
    }
    if (facilitator_tx_count_out != NULL) {
        *facilitator_tx_count_out = fac_count;
    }
    return 0;
}
