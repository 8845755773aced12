/*
 * node.c - the node's lifecycle and its small entry points: open (store, genesis, validator
 * key, counters, mempool, producer), close, status, tx submission, commit listeners and the
 * read side (blocks, results, tx locations from a snapshot). Block production is block.c.
 * Not pure: store, files, libevent. Loop thread unless a function says otherwise.
 */
#include "node/node.h"

#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "node/node_int.h"

/* ---- open ---- */

static int node_genesis_init(kumo_node_t *node, const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    kumo_kv_t kv;
    KUMO_GUARD(kumo_store_block_begin(node->store, &kv, err));
    int rc = kumo_chain_genesis_apply(&kv, g, node->app_hash, err);
    if (rc == 0) {
        rc = kumo_store_block_commit(node->store, 0, node->app_hash, err);
    } else {
        kumo_store_block_abort(node->store);
    }
    KUMO_GUARD(rc);
    KUMO_LOG_INFO("node", "genesis_applied", "chain_id=%s validators=%zu balances=%zu", g->chain_id,
                  g->n_validators, g->n_balances);
    return 0;
}

/* Chain id from genesis.json (which must agree with the config's), genesis applied when the
 * store is fresh. */
static int node_genesis_use(kumo_node_t *node, const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    int rc = 0;
    if (node->cfg.chain_id[0] == '\0') {
        (void)snprintf(node->cfg.chain_id, sizeof(node->cfg.chain_id), "%s", g->chain_id);
    } else if (strcmp(node->cfg.chain_id, g->chain_id) != 0) {
        rc = kumo_err_set(err, KUMO_ECHAINID,
                          "config chain_id '%s' differs from genesis.json's '%s'; fix config.yaml",
                          node->cfg.chain_id, g->chain_id);
    }
    node->genesis_validator_count = (uint32_t)g->n_validators;
    static const uint8_t zero[KUMO_CHAIN_HASH_BYTES] = {0};
    if (rc == 0 && node->height == 0 && memcmp(node->app_hash, zero, sizeof(zero)) == 0) {
        rc = node_genesis_init(node, g, err);
    }
    return rc;
}

/* home/genesis.json; a local node's given genesis, or none for its existing store. */
static int
node_genesis(kumo_node_t *node, bool local, const Kumo__Genesis *given, kumo_err_ctx_t *err)
{
    static const uint8_t zero[KUMO_CHAIN_HASH_BYTES] = {0};
    if (local && given != NULL) {
        return node_genesis_use(node, given, err);
    }
    if (local) {
        KUMO_ENSURE(node->height > 0 || memcmp(node->app_hash, zero, sizeof(zero)) != 0, err,
                    KUMO_EINVAL, "a fresh store needs a genesis");
        return 0;
    }
    Kumo__Genesis *g = NULL;
    KUMO_GUARD(kumo_node_genesis_load(node->cfg.home, &g, err));
    int rc = node_genesis_use(node, g, err);
    kumo_codec_free(&g->base);
    return rc;
}

static int node_validator_load(kumo_node_t *node, kumo_err_ctx_t *err)
{
    char dir[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(node->cfg.home, "keyring", dir, err));
    node->validator = sodium_malloc(sizeof(*node->validator));
    KUMO_ENSURE(node->validator != NULL, err, KUMO_ENOMEM, "validator key");
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(kumo_keyring_open(dir, &kr, err));
    int rc = kumo_keyring_load(kr, node->cfg.validator_key, NULL, node->validator, err);
    kumo_keyring_close(kr);
    KUMO_GUARD(rc);
    kumo_crypto_address_from_pubkey(node->validator->pubkey, node->validator_addr);
    return 0;
}

typedef struct node_count {
    uint64_t n;
} node_count_t;

static int node_count_cb(void *ctx, const ProtobufCMessage *obj)
{
    (void)obj;
    ((node_count_t *)ctx)->n++;
    return 0;
}

/* Counts objects of one kind in one state through the market's state index, page by page:
 * O(count) once at open; blocks then keep the counts from their events. */
int kumo_node_state_count(const kumo_kv_t *kv,
                          kumo_market_object_t object,
                          uint32_t state,
                          uint64_t *out,
                          kumo_err_ctx_t *err)
{
    node_count_t c = {0};
    uint8_t page[KUMO_KEY_BYTES_MAX];
    size_t page_len = 0;
    for (;;) {
        kumo_market_query_t q = {
            .object = object,
            .state = state,
            .limit = KUMO_QUERY_PAGE_COUNT_MAX,
            .page_key = kumo_bytes_make(page, page_len),
        };
        kumo_buf_t next;
        kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
        int rc = kumo_market_query_run(kv, &q, node_count_cb, &c, &next, err);
        page_len = next.len;
        if (rc == 0 && page_len > 0) {
            memcpy(page, next.ptr, page_len);
        }
        kumo_buf_free(&next);
        KUMO_GUARD(rc);
        if (page_len == 0) {
            break;
        }
    }
    *out = c.n;
    return 0;
}

void kumo_node_head_refresh(kumo_node_t *node)
{
    kumo_store_read_end(node->head_read);
    node->head_read = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_store_read_begin(node->store, &node->head_read, &node->head_kv, &err);
    if (rc < 0) {
        node->head_read = NULL;
        KUMO_LOG_ERROR("node", "head_snapshot_failed", "code=%s detail=\"%s\"", kumo_err_name(rc),
                       err.detail);
    }
}

/* Reads the head: height, app hash, last block hash and time, params, counts. */
static int
node_head_load(kumo_node_t *node, bool local, const Kumo__Genesis *genesis, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_store_meta_get(node->store, &node->height, node->app_hash, err));
    KUMO_GUARD(node_genesis(node, local, genesis, err));
    KUMO_GUARD(kumo_store_read_begin(node->store, &node->head_read, &node->head_kv, err));
    KUMO_GUARD(kumo_market_params_get(&node->head_kv, &node->params, err));
    KUMO_GUARD(kumo_staking_operator_is_active(&node->head_kv, node->validator_addr,
                                               &node->validator_is_operator, err));
    KUMO_GUARD(kumo_node_state_count(&node->head_kv, KUMO_MARKET_OBJ_ORDER,
                                     KUMO__ORDER_STATE__ORDER_OPEN, &node->open_orders, err));
    KUMO_GUARD(kumo_node_state_count(&node->head_kv, KUMO_MARKET_OBJ_LEASE,
                                     KUMO__LEASE_STATE__LEASE_ACTIVE, &node->active_leases, err));
    if (node->height == 0) {
        return 0; /* genesis: no block, last block hash zeros */
    }
    kumo_buf_t blk;
    kumo_buf_init(&blk, KUMO_STORE_RECORD_BYTES_MAX);
    int rc = kumo_node_block_get(node->head_read, node->height, &blk, err);
    ProtobufCMessage *m = NULL;
    if (rc == 0) {
        rc = kumo_codec_unpack(&kumo__block__descriptor, kumo_buf_bytes(&blk), blk.len, &m, err);
    }
    kumo_buf_free(&blk);
    if (rc != 0) {
        /* Copied first: the detail is both the source and the destination of the message. */
        char why[KUMO_ERR_DETAIL_BYTES];
        (void)snprintf(why, sizeof(why), "%s", err != NULL ? err->detail : "");
        return kumo_err_set(err, KUMO_ECORRUPT, "head block %" PRIu64 " unreadable: %s",
                            node->height, why);
    }
    Kumo__Block *b = (Kumo__Block *)m;
    kumo_buf_t hdr;
    kumo_buf_init(&hdr, KUMO_STORE_RECORD_BYTES_MAX);
    rc = b->header != NULL ? kumo_codec_pack(&b->header->base, &hdr, err) : KUMO_ECORRUPT;
    if (rc == 0) {
        kumo_crypto_sha256(kumo_buf_bytes(&hdr), node->block_hash);
        node->block_time_ms = b->header->time_ms;
        /* The stored header must name the state the meta record holds. */
        if (b->header->height != node->height || b->header->app_hash.len != KUMO_CHAIN_HASH_BYTES ||
            memcmp(b->header->app_hash.data, node->app_hash, KUMO_CHAIN_HASH_BYTES) != 0) {
            rc = kumo_err_set(err, KUMO_ECORRUPT, "head block %" PRIu64 " disagrees with meta",
                              node->height);
        }
    }
    kumo_buf_free(&hdr);
    kumo_codec_free(m);
    return rc;
}

static int node_start(kumo_node_t *node, kumo_err_ctx_t *err)
{
    kumo_node_mempool_cfg_t mcfg = {
        .tx_count_max = node->cfg.mempool_tx_count_max,
        .bytes_max = node->cfg.mempool_bytes_max,
        .account_tx_max = node->cfg.mempool_account_tx_max,
        .future_seq_max = node->cfg.mempool_future_seq_max,
        .account_bytes_max = node->cfg.mempool_account_bytes_max,
        .lane_tx_count_max = node->cfg.mempool_lane_tx_count_max,
        .lane_bytes_max = node->cfg.mempool_lane_bytes_max,
        .lane_account_tx_max = node->cfg.mempool_lane_account_tx_max,
    };
    KUMO_GUARD(kumo_node_mempool_open(&mcfg, &node->mempool, err));
    if (node->cfg.block_interval_ms == 0) {
        return 0;
    }
    if (node->genesis_validator_count > 1u || node->cfg.p2p_listen[0] != '\0') {
        KUMO_GUARD(kumo_node_producer_consensus_make(&node->producer, err));
    } else {
        KUMO_GUARD(
            kumo_node_producer_timer_make(node->cfg.block_interval_ms, &node->producer, err));
    }
    KUMO_GUARD(node->producer.start(node->producer.ctx, node, err));
    node->producer_started = true;
    return 0;
}

int kumo_node_open(const kumo_node_cfg_t *cfg,
                   struct event_base *base,
                   kumo_node_t **out,
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && base != NULL && out != NULL);
    KUMO_GUARD(kumo_node_cfg_validate(cfg, err));
    KUMO_ENSURE(cfg->home[0] != '\0', err, KUMO_EINVAL, "no home directory given");
    KUMO_GUARD(kumo_crypto_init());
    kumo_node_t *node = kumo_calloc(1, sizeof(*node));
    KUMO_ENSURE(node != NULL, err, KUMO_ENOMEM, "node");
    node->cfg = *cfg;
    node->base = base;
    node->listener_id_next = 1;
    char dir[KUMO_NODE_PATH_BYTES];
    int rc = kumo_node_path(cfg->home, "data", dir, err);
    if (rc == 0) {
        rc = node_validator_load(node, err);
    }
    if (rc == 0) {
        rc = kumo_store_open(dir, NULL, &node->store, err);
    }
    if (rc == 0) {
        rc = node_head_load(node, false, NULL, err);
    }
    if (rc == 0) {
        rc = node_start(node, err);
    }
    if (rc < 0) {
        kumo_node_close(node);
        return rc;
    }
    if (!node->validator_is_operator) {
        KUMO_LOG_WARN("node", "not_a_validator", "key=%s: no facilitator txs from this node",
                      cfg->validator_key);
    }
    KUMO_LOG_INFO("node", "node_opened",
                  "chain_id=%s height=%" PRIu64 " open_orders=%" PRIu64 " active_leases=%" PRIu64,
                  node->cfg.chain_id, node->height, node->open_orders, node->active_leases);
    *out = node;
    return 0;
}

int kumo_node_local_open(const kumo_node_local_cfg_t *lcfg,
                         const Kumo__Genesis *genesis,
                         kumo_node_t **out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(lcfg != NULL && lcfg->dir != NULL && lcfg->chain_id != NULL && out != NULL);
    KUMO_ENSURE(strlen(lcfg->chain_id) <= KUMO_CHAIN_ID_BYTES_MAX, err, KUMO_ELIMIT, "chain id");
    KUMO_ENSURE(genesis == NULL || strcmp(genesis->chain_id, lcfg->chain_id) == 0, err,
                KUMO_ECHAINID, "genesis of chain %s", genesis != NULL ? genesis->chain_id : "");
    KUMO_GUARD(kumo_crypto_init());
    kumo_node_t *node = kumo_calloc(1, sizeof(*node));
    KUMO_ENSURE(node != NULL, err, KUMO_ENOMEM, "node");
    kumo_node_cfg_default(&node->cfg);
    (void)snprintf(node->cfg.chain_id, sizeof(node->cfg.chain_id), "%s", lcfg->chain_id);
    node->cfg.block_interval_ms = 0; /* no producer: the caller produces */
    node->listener_id_next = 1;
    int rc = 0;
    if (lcfg->validator != NULL) {
        node->validator = sodium_malloc(sizeof(*node->validator));
        rc = node->validator != NULL ? 0 : kumo_err_set(err, KUMO_ENOMEM, "validator key");
    }
    if (node->validator != NULL) {
        *node->validator = *lcfg->validator;
        kumo_crypto_address_from_pubkey(node->validator->pubkey, node->validator_addr);
    }
    kumo_store_cfg_t scfg = {.no_sync = lcfg->no_sync};
    rc = rc == 0 ? kumo_store_open(lcfg->dir, &scfg, &node->store, err) : rc;
    rc = rc == 0 ? node_head_load(node, true, genesis, err) : rc;
    rc = rc == 0 ? node_start(node, err) : rc;
    if (rc < 0) {
        kumo_node_close(node);
        return rc;
    }
    KUMO_ASSERT(!node->producer_started);
    *out = node;
    return 0;
}

kumo_store_t *kumo_node_store(kumo_node_t *node)
{
    KUMO_ASSERT(node != NULL && node->store != NULL);
    return node->store;
}

void kumo_node_close(kumo_node_t *node)
{
    if (node == NULL) {
        return;
    }
    KUMO_ASSERT(!node->producing);
    if (node->producer.stop != NULL) {
        node->producer.stop(node->producer.ctx);
    }
    kumo_node_mempool_close(node->mempool);
    kumo_codec_free(node->params != NULL ? &node->params->base : NULL);
    kumo_store_read_end(node->head_read);
    /* An uncommitted block cannot exist here: production is synchronous on the loop. */
    kumo_store_close(node->store);
    if (node->validator != NULL) {
        sodium_free(node->validator);
    }
    kumo_free(node);
}

/* ---- status, submission, listeners ---- */

void kumo_node_status_get(const kumo_node_t *node, kumo_node_status_t *out)
{
    KUMO_ASSERT(node != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    (void)snprintf(out->chain_id, sizeof(out->chain_id), "%s", node->cfg.chain_id);
    (void)snprintf(out->moniker, sizeof(out->moniker), "%s", node->cfg.moniker);
    out->height = node->height;
    memcpy(out->app_hash, node->app_hash, sizeof(out->app_hash));
    memcpy(out->block_hash, node->block_hash, sizeof(out->block_hash));
    out->block_time_ms = node->block_time_ms;
    out->block_duration_us = node->block_duration_us;
    out->mempool_tx_count = kumo_node_mempool_tx_count(node->mempool);
    out->mempool_bytes = kumo_node_mempool_bytes(node->mempool);
    out->mempool_lane_tx_count =
        kumo_node_mempool_class_tx_count(node->mempool, KUMO_NODE_MEMPOOL_LANE);
    out->mempool_evicted_total = kumo_node_mempool_evicted_total(node->mempool);
    out->txs_committed_total = node->txs_committed_total;
    out->txs_rejected_total = node->txs_rejected_total;
    out->open_orders = node->open_orders;
    out->active_leases = node->active_leases;
    memcpy(out->validator_address, node->validator_addr, sizeof(out->validator_address));
    if (node->p2p != NULL) {
        kumo_p2p_stats_t ps;
        kumo_p2p_stats_get(node->p2p, &ps);
        out->p2p_peers = ps.peers;
        out->p2p_strangers = ps.strangers;
        out->p2p_pending = ps.pending;
        out->p2p_refused_total = ps.refused_pending + ps.refused_banned + ps.refused_inbound;
        out->p2p_evicted_total = ps.evicted_pending;
        out->p2p_idle_dropped_total = ps.dropped_idle;
        out->p2p_bans_total = ps.bans;
        out->p2p_disconnects_bad_total = ps.disconnects_bad;
    }
}

int kumo_node_tx_submit(kumo_node_t *node,
                        kumo_bytes_t tx,
                        uint8_t hash_out[KUMO_CHAIN_HASH_BYTES],
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL);
    KUMO_ASSERT(tx.ptr != NULL || tx.len == 0);
    kumo_node_mempool_env_t env = {&node->head_kv, node->params, node->cfg.chain_id};
    if (node->head_read == NULL) {
        kumo_node_head_refresh(node);
        KUMO_ENSURE(node->head_read != NULL, err, KUMO_EIO, "no snapshot of the head state");
    }
    if (node->mempool_stale) {
        (void)kumo_node_mempool_update(node->mempool, &env, NULL, 0);
        node->mempool_stale = false;
    }
    int rc = kumo_node_mempool_add(node->mempool, &env, tx, hash_out, err);
    if (rc < 0) {
        node->txs_rejected_total++;
    } else if (node->tx_gossip != NULL) {
        node->tx_gossip(node->tx_gossip_ctx, tx);
    }
    return rc;
}

int kumo_node_commit_listen(
    kumo_node_t *node, kumo_node_commit_cb cb, void *ctx, uint32_t *id_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && cb != NULL && id_out != NULL);
    for (size_t i = 0; i < KUMO_NODE_LISTENER_MAX; i++) {
        kumo_node_listener_t *l = &node->listeners[i];
        if (l->id == 0) {
            l->cb = cb;
            l->ctx = ctx;
            l->id = node->listener_id_next++;
            if (node->listener_id_next == 0) {
                node->listener_id_next = 1; /* 0 marks a free slot */
            }
            *id_out = l->id;
            return 0;
        }
    }
    return kumo_err_set(err, KUMO_ELIMIT, "%u commit listeners already", KUMO_NODE_LISTENER_MAX);
}

void kumo_node_commit_unlisten(kumo_node_t *node, uint32_t id)
{
    KUMO_ASSERT(node != NULL);
    if (id == 0) {
        return;
    }
    for (size_t i = 0; i < KUMO_NODE_LISTENER_MAX; i++) {
        if (node->listeners[i].id == id) {
            memset(&node->listeners[i], 0, sizeof(node->listeners[i]));
        }
    }
}

void kumo_node_listeners_call(kumo_node_t *node, uint64_t height)
{
    /* A listener may unlisten itself or others during the call: slots are re-read each
     * time. */
    for (size_t i = 0; i < KUMO_NODE_LISTENER_MAX; i++) {
        kumo_node_listener_t l = node->listeners[i];
        if (l.id != 0) {
            l.cb(l.ctx, height);
        }
    }
}

bool kumo_node_tx_is_pending(const kumo_node_t *node, const uint8_t hash[KUMO_CHAIN_HASH_BYTES])
{
    KUMO_ASSERT(node != NULL && hash != NULL);
    return kumo_node_mempool_has(node->mempool, hash);
}

/* ---- the read side (any thread, with a snapshot) ---- */

int kumo_node_read_begin(kumo_node_t *node,
                         kumo_store_read_t **read_out,
                         kumo_kv_t *state_kv_out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL);
    return kumo_store_read_begin(node->store, read_out, state_kv_out, err);
}

static int node_record_get(kumo_store_read_t *read,
                           kumo_store_table_t table,
                           uint64_t height,
                           kumo_buf_t *out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(read != NULL && out != NULL);
    uint8_t key[8];
    kumo_be64_put(key, height);
    kumo_bytes_t v;
    KUMO_GUARD(kumo_store_read_record_get(read, table, kumo_bytes_make(key, sizeof(key)), &v, err));
    return kumo_buf_append(out, v.ptr, v.len);
}

int kumo_node_block_get(kumo_store_read_t *read,
                        uint64_t height,
                        kumo_buf_t *out,
                        kumo_err_ctx_t *err)
{
    return node_record_get(read, KUMO_STORE_TABLE_BLOCKS, height, out, err);
}

int kumo_node_results_get(kumo_store_read_t *read,
                          uint64_t height,
                          kumo_buf_t *out,
                          kumo_err_ctx_t *err)
{
    return node_record_get(read, KUMO_STORE_TABLE_RESULTS, height, out, err);
}

int kumo_node_tx_locate(kumo_store_read_t *read,
                        const uint8_t hash[KUMO_CHAIN_HASH_BYTES],
                        uint64_t *height_out,
                        uint32_t *index_out,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(read != NULL && hash != NULL);
    kumo_bytes_t v;
    KUMO_GUARD(kumo_store_read_record_get(read, KUMO_STORE_TABLE_TX_INDEX,
                                          kumo_bytes_make(hash, KUMO_CHAIN_HASH_BYTES), &v, err));
    ProtobufCMessage *m = NULL;
    int rc = kumo_codec_unpack(&kumo__tx_location__descriptor, v, v.len, &m, err);
    KUMO_ENSURE(rc == 0, err, KUMO_ECORRUPT, "tx index entry does not decode");
    const Kumo__TxLocation *loc = (const Kumo__TxLocation *)m;
    if (height_out != NULL) {
        *height_out = loc->height;
    }
    if (index_out != NULL) {
        *index_out = loc->index;
    }
    kumo_codec_free(m);
    return 0;
}
