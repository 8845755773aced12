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

#endif
