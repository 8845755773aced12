/*
 * chain_int.h - private helpers of the chain module.
 */
#ifndef KUMO_CHAIN_CHAIN_INT_H
#define KUMO_CHAIN_CHAIN_INT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "chain/chain.h"

/* protobuf-c message structs hold non-const pointers even for packing, which only reads them.
 * This drops const for that purpose only (through uintptr_t, so -Wcast-qual stays useful). */
#define CHAIN_UNCONST(type, p) ((type)(uintptr_t)(p))

/* Store failures and out-of-memory: never recorded as a tx or msg result, since that would
 * make the outcome depend on the machine; the caller aborts the block instead. */
static inline bool chain_rc_is_fatal(int rc)
{
    return rc == KUMO_EIO || rc == KUMO_ECORRUPT || rc == KUMO_ENOMEM;
}

/* Signs body bytes with kp and appends the encoded Tx{body, signature} to out. */
int chain_tx_seal(const kumo_crypto_keypair_t *kp,
                  kumo_bytes_t body,
                  kumo_buf_t *out,
                  kumo_err_ctx_t *err);

/* valset.c: the genesis set (effective at height 1, priorities zero), and the end of a
 * block's apply: its recorded updates into the set of height + DELAY, the priorities one step
 * into the next height's members. */
int chain_valset_genesis_write(const kumo_kv_t *kv, const Kumo__Genesis *g, kumo_err_ctx_t *err);
int chain_valset_block_end(const kumo_kv_t *kv,
                           uint64_t height,
                           const kumo_chain_block_out_t *out,
                           kumo_err_ctx_t *err);

#endif
