/*
 * fuzz_chain_tx.c - the tx decoder and the full check path on arbitrary bytes: decode, the
 * signature, the stateless checks and each msg's validate_basic, then the stateful checks
 * and a whole block apply against a small genesis in a real LMDB store opened once per
 * process (each input runs in its own block that is aborted, so inputs share no state).
 * Accepted txs must re-encode to the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/chain.h"
#include "store/store.h"

static kumo_store_t *fz_store;
static uint8_t fz_app_hash[KUMO_CHAIN_HASH_BYTES];
static char fz_dir[] = "/tmp/kumo-fuzz-tx-XXXXXX";

static void fz_cleanup(void)
{
    char path[sizeof(fz_dir) + 16];
    kumo_store_close(fz_store);
    (void)snprintf(path, sizeof(path), "%s/data.mdb", fz_dir);
    (void)unlink(path);
    (void)snprintf(path, sizeof(path), "%s/lock.mdb", fz_dir);
    (void)unlink(path);
    (void)rmdir(fz_dir);
}

static void fz_init(void)
{
    if (kumo_crypto_init() != 0 || mkdtemp(fz_dir) == NULL) {
        abort();
    }
    (void)atexit(fz_cleanup);
    kumo_store_cfg_t cfg = {.no_sync = true, .map_bytes = 1ull << 30};
    if (kumo_store_open(fz_dir, &cfg, &fz_store, NULL) != 0) {
        abort();
    }
    static const char genesis[] = "{\"chain_id\":\"kumo-fuzz\",\"params\":{\"min_fee\":\"0\"}}";
    Kumo__Genesis *g = NULL;
    kumo_kv_t kv;
    if (kumo_chain_genesis_parse(kumo_bytes_make(genesis, sizeof(genesis) - 1), &g, NULL) != 0 ||
        kumo_store_block_begin(fz_store, &kv, NULL) != 0 ||
        kumo_chain_genesis_apply(&kv, g, fz_app_hash, NULL) != 0 ||
        kumo_store_block_commit(fz_store, 0, fz_app_hash, NULL) != 0) {
        abort();
    }
    kumo_codec_free(&g->base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_store == NULL) {
        fz_init();
    }
    kumo_bytes_t in = kumo_bytes_make(data, size);
    kumo_chain_tx_t tx;
    if (kumo_chain_tx_prepare(in, KUMO_TX_BYTES_MAX, &tx, NULL) == 0) {
        kumo_buf_t re;
        kumo_buf_init(&re, KUMO_TX_BYTES_MAX);
        if (kumo_codec_pack(&tx.tx->base, &re, NULL) != 0 || re.len != size ||
            memcmp(re.ptr, data, size) != 0) {
            abort(); /* accepted input must be canonical */
        }
        kumo_buf_free(&re);
        int basic_rc = kumo_chain_tx_check_basic(&tx, "kumo-fuzz", NULL);
        (void)basic_rc; /* any verdict is fine; it must not crash */
        kumo_chain_tx_free(&tx);
    }
    kumo_kv_t kv;
    if (kumo_store_block_begin(fz_store, &kv, NULL) != 0) {
        abort();
    }
    kumo_chain_block_in_t bin = {
        .chain_id = "kumo-fuzz",
        .height = 1,
        .prev_app_hash = fz_app_hash,
        .txs = &in,
        .tx_count = 1,
    };
    kumo_chain_block_out_t out;
    if (kumo_chain_block_apply(&kv, &bin, &out, NULL) == 0) {
        kumo_chain_block_out_free(&out);
    }
    kumo_store_block_abort(fz_store);
    return 0;
}
