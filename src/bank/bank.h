/*
 * bank.h - accounts, balances, transfers, the supply and the fee pool: the money every other
 * state machine (market, staking) moves. Pure: reads and writes state only through kumo_kv_t;
 * no I/O, no clock, no randomness, no floats.
 *
 * State (docs/design.md section 3): 0x01 address -> Account (absent = zero; an emptied account
 * is deleted), 0x0b -> BankTotals (supply, fee pool). Modules that hold money for others
 * (staking's bonded pool, rewards) hold it in module accounts: ordinary accounts whose address
 * is derived from a name (kumo_bank_module_address), so "supply == every balance + the fee
 * pool + what the market holds in escrow and collateral" stays one sum.
 *
 * Failure contract: like the market's, a failing call may leave partial writes; callers run
 * inside a kv savepoint (the chain wraps every tx and block step).
 */
#ifndef KUMO_BANK_BANK_H
#define KUMO_BANK_BANK_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/core.h"

#define KUMO_BANK_PREFIX_ACCOUNT 0x01u
#define KUMO_BANK_PREFIX_TOTALS  0x0bu
/* An account key: prefix, 20-byte address. */
#define KUMO_BANK_ACCOUNT_KEY_BYTES (1u + KUMO_ADDRESS_BYTES)

/* Chain-wide money counters (stored as the BankTotals object). */
typedef struct kumo_bank_totals {
    uint64_t supply;   /* genesis balances + everything minted - everything burned */
    uint64_t fee_pool; /* fees collected and not yet paid out */
} kumo_bank_totals_t;

/* KUMO_EINVAL unless addr is exactly KUMO_ADDRESS_BYTES long; `what` names it in the detail. */
KUMO_MUST_USE int
kumo_bank_address_validate(ProtobufCBinaryData addr, const char *what, kumo_err_ctx_t *err);

/* The address of a module account: the first 20 bytes of SHA-256("kumo/module/" name). */
void kumo_bank_module_address(const char *name, uint8_t out[KUMO_ADDRESS_BYTES]);

/* Writes the account key of addr to key (KUMO_BANK_ACCOUNT_KEY_BYTES). */
void kumo_bank_account_key(const uint8_t *addr, uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES]);

/* *out is a fresh Account (free with kumo_codec_free). An absent account reads as zero balance
 * and sequence 0 with the address set, never KUMO_ENOTFOUND. Stored bytes that do not decode
 * or name another address: KUMO_ECORRUPT. */
KUMO_MUST_USE int kumo_bank_account_get(const kumo_kv_t *kv,
                                        const uint8_t *addr,
                                        Kumo__Account **out,
                                        kumo_err_ctx_t *err);
/* Writes acct; an account that holds nothing (zero balance, sequence 0, no pubkey) is deleted. */
KUMO_MUST_USE int
kumo_bank_account_put(const kumo_kv_t *kv, const Kumo__Account *acct, kumo_err_ctx_t *err);

/* The balance of addr (0 when absent). */
KUMO_MUST_USE int
kumo_bank_balance_get(const kumo_kv_t *kv, const uint8_t *addr, uint64_t *out, kumo_err_ctx_t *err);
/* Adds to / takes from addr's balance by patching the stored encoding (scratch: a buffer the
 * caller reuses). KUMO_EOVERFLOW / KUMO_EFUNDS (nothing written) when it cannot. */
KUMO_MUST_USE int kumo_bank_balance_add(const kumo_kv_t *kv,
                                        kumo_buf_t *scratch,
                                        const uint8_t *addr,
                                        uint64_t amount,
                                        kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_bank_balance_sub(const kumo_kv_t *kv,
                                        kumo_buf_t *scratch,
                                        const uint8_t *addr,
                                        uint64_t amount,
                                        kumo_err_ctx_t *err);
/* Moves amount from one balance to another (KUMO_EFUNDS when from is short). */
KUMO_MUST_USE int kumo_bank_transfer(const kumo_kv_t *kv,
                                     kumo_buf_t *scratch,
                                     const uint8_t *from,
                                     const uint8_t *to,
                                     uint64_t amount,
                                     kumo_err_ctx_t *err);

/* Reads / writes the totals. get: KUMO_ECORRUPT when absent (genesis not applied). */
KUMO_MUST_USE int
kumo_bank_totals_get(const kumo_kv_t *kv, kumo_bank_totals_t *out, kumo_err_ctx_t *err);
KUMO_MUST_USE int
kumo_bank_totals_put(const kumo_kv_t *kv, const kumo_bank_totals_t *t, kumo_err_ctx_t *err);

/* Creates amount new ukumo in addr's balance: supply grows by it. KUMO_EOVERFLOW past
 * KUMO_SUPPLY_MAX (nothing written). */
KUMO_MUST_USE int kumo_bank_mint(const kumo_kv_t *kv,
                                 kumo_buf_t *scratch,
                                 const uint8_t *addr,
                                 uint64_t amount,
                                 kumo_err_ctx_t *err);
/* Destroys amount of addr's balance: supply shrinks by it. KUMO_EFUNDS when addr is short. */
KUMO_MUST_USE int kumo_bank_burn(const kumo_kv_t *kv,
                                 kumo_buf_t *scratch,
                                 const uint8_t *addr,
                                 uint64_t amount,
                                 kumo_err_ctx_t *err);

/* Moves amount from addr's balance to the fee pool. KUMO_EFUNDS if short. */
KUMO_MUST_USE int kumo_bank_fee_collect(const kumo_kv_t *kv,
                                        const uint8_t *addr,
                                        uint64_t amount,
                                        kumo_err_ctx_t *err);
/* Empties the fee pool into addr's balance; *out gets the amount moved. */
KUMO_MUST_USE int kumo_bank_fee_pool_take(const kumo_kv_t *kv,
                                          kumo_buf_t *scratch,
                                          const uint8_t *addr,
                                          uint64_t *out,
                                          kumo_err_ctx_t *err);

#endif
