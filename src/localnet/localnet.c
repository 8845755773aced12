/*
 * localnet.c - genesis, block production (facilitator txs first) and commit over LMDB.
 */
#include "localnet/localnet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bank/bank.h"
#include "log/log.h"

struct kumo_localnet {
    kumo_store_t *store;
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint64_t height;
    uint8_t app_hash[KUMO_CHAIN_HASH_BYTES];
    const kumo_crypto_keypair_t *facilitator;
    uint32_t msgs_per_tx;
    kumo_buf_t fac_txs[KUMO_LOCALNET_FACILITATOR_TX_MAX];
};

static int
localnet_genesis_init(kumo_localnet_t *net, const Kumo__Genesis *genesis, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(genesis != NULL, err, KUMO_EINVAL, "a fresh store needs a genesis");
    kumo_kv_t kv;
    KUMO_GUARD(kumo_store_block_begin(net->store, &kv, err));
    int rc = kumo_chain_genesis_apply(&kv, genesis, net->app_hash, err);
    if (rc == 0) {
        rc = kumo_store_block_commit(net->store, 0, net->app_hash, err);
    }
    if (rc < 0) {
        kumo_store_block_abort(net->store);
    }
    return rc;
}

int kumo_localnet_open(const kumo_localnet_cfg_t *cfg,
                       const char *chain_id,
                       const Kumo__Genesis *genesis,
                       kumo_localnet_t **out,
                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && cfg->dir != NULL && chain_id != NULL && out != NULL);
    KUMO_ENSURE(strlen(chain_id) <= KUMO_CHAIN_ID_BYTES_MAX, err, KUMO_ELIMIT, "chain id");
    kumo_localnet_t *net = kumo_calloc(1, sizeof(*net));
    KUMO_ENSURE(net != NULL, err, KUMO_ENOMEM, "localnet");
    (void)snprintf(net->chain_id, sizeof(net->chain_id), "%s", chain_id);
    net->facilitator = cfg->facilitator;
    net->msgs_per_tx = cfg->msgs_per_tx != 0 ? cfg->msgs_per_tx : 256u;
    kumo_store_cfg_t scfg = {.no_sync = cfg->no_sync};
    int rc = kumo_store_open(cfg->dir, &scfg, &net->store, err);
    if (rc < 0) {
        kumo_free(net);
        return rc;
    }
    KUMO_GUARD_GOTO(kumo_store_meta_get(net->store, &net->height, net->app_hash, err), rc,
                    out_close);
    static const uint8_t zero[KUMO_CHAIN_HASH_BYTES] = {0};
    if (net->height == 0 && memcmp(net->app_hash, zero, sizeof(zero)) == 0) {
        KUMO_GUARD_GOTO(localnet_genesis_init(net, genesis, err), rc, out_close);
    }
    *out = net;
    return 0;

out_close:
    kumo_store_close(net->store);
    kumo_free(net);
    return rc;
}

void kumo_localnet_close(kumo_localnet_t *net)
{
    if (net == NULL) {
        return;
    }
    kumo_store_close(net->store);
    kumo_free(net);
}

/* Builds the facilitator's due txs on the state the block starts from. */
static int localnet_facilitator_txs(kumo_localnet_t *net,
                                    const kumo_kv_t *kv,
                                    size_t *count,
                                    kumo_err_ctx_t *err)
{
    *count = 0;
    if (net->facilitator == NULL) {
        return 0;
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(net->facilitator->pubkey, addr);
    Kumo__Account *acct = NULL;
    KUMO_GUARD(kumo_bank_account_get(kv, addr, &acct, err));
    uint64_t seq = acct->sequence;
    kumo_codec_free(&acct->base);
    return kumo_chain_facilitator_txs_build(kv, net->chain_id, net->height + 1, net->facilitator,
                                            &seq, net->msgs_per_tx, net->fac_txs,
                                            KUMO_LOCALNET_FACILITATOR_TX_MAX, count, NULL, err);
}

static int localnet_block_apply(kumo_localnet_t *net,
                                const kumo_kv_t *kv,
                                const kumo_bytes_t *txs,
                                size_t tx_count,
                                kumo_chain_block_out_t *out,
                                size_t *fac_count,
                                kumo_err_ctx_t *err)
{
    KUMO_GUARD(localnet_facilitator_txs(net, kv, fac_count, err));
    size_t total = *fac_count + tx_count;
    kumo_bytes_t *all = kumo_calloc(total, sizeof(*all));
    int rc = 0;
    if (all == NULL) {
        rc = kumo_err_set(err, KUMO_ENOMEM, "block of %zu txs", total);
        goto out_free;
    }
    for (size_t i = 0; i < *fac_count; i++) {
        all[i] = kumo_buf_bytes(&net->fac_txs[i]);
    }
    for (size_t i = 0; i < tx_count; i++) {
        all[*fac_count + i] = txs[i];
    }
    kumo_chain_block_in_t in = {
        .chain_id = net->chain_id,
        .height = net->height + 1,
        .prev_app_hash = net->app_hash,
        .txs = all,
        .tx_count = total,
    };
    rc = kumo_chain_block_apply(kv, &in, out, err);

out_free:
    kumo_free(all);
    for (size_t i = 0; i < *fac_count; i++) {
        kumo_buf_free(&net->fac_txs[i]);
    }
    return rc;
}

int kumo_localnet_block_produce(kumo_localnet_t *net,
                                const kumo_bytes_t *txs,
                                size_t tx_count,
                                kumo_chain_block_out_t *out,
                                size_t *facilitator_tx_count_out,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(net != NULL && out != NULL);
    kumo_kv_t kv;
    KUMO_GUARD(kumo_store_block_begin(net->store, &kv, err));
    size_t fac_count = 0;
    int rc = localnet_block_apply(net, &kv, txs, tx_count, out, &fac_count, err);
    if (rc == 0) {
        rc = kumo_store_block_commit(net->store, net->height + 1, out->app_hash, err);
        if (rc < 0) {
            kumo_chain_block_out_free(out);
        }
    }
    if (rc < 0) {
        kumo_store_block_abort(net->store);
        return rc;
    }
    net->height++;
    memcpy(net->app_hash, out->app_hash, sizeof(net->app_hash));
    if (facilitator_tx_count_out != NULL) {
        *facilitator_tx_count_out = fac_count;
    }
    KUMO_LOG_DEBUG("localnet", "block_committed", "height=%" PRIu64 " txs=%zu", net->height,
                   out->result_count);
    return 0;
}

uint64_t kumo_localnet_height(const kumo_localnet_t *net)
{
    return net->height;
}

const uint8_t *kumo_localnet_app_hash(const kumo_localnet_t *net)
{
    return net->app_hash;
}

const char *kumo_localnet_chain_id(const kumo_localnet_t *net)
{
    return net->chain_id;
}

kumo_store_t *kumo_localnet_store(kumo_localnet_t *net)
{
    return net->store;
}

int kumo_localnet_read_begin(kumo_localnet_t *net,
                             kumo_store_read_t **read_out,
                             kumo_kv_t *kv_out,
                             kumo_err_ctx_t *err)
{
    return kumo_store_read_begin(net->store, read_out, kv_out, err);
}

int kumo_localnet_sequence_get(kumo_localnet_t *net,
                               const uint8_t *addr,
                               uint64_t *out,
                               kumo_err_ctx_t *err)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    KUMO_GUARD(kumo_store_read_begin(net->store, &read, &kv, err));
    Kumo__Account *acct = NULL;
    int rc = kumo_bank_account_get(&kv, addr, &acct, err);
    if (rc == 0) {
        *out = acct->sequence;
        kumo_codec_free(&acct->base);
    }
    kumo_store_read_end(read);
    return rc;
}
