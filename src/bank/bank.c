/*
 * bank.c - accounts, balances, transfers, mint and burn, the fee pool. Every balance change
 * is checked arithmetic; an account that holds nothing (zero balance, sequence 0, no pubkey) is
 * not stored, and reads back as zero. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "bank/bank.h"
#include "crypto/crypto.h"

/* Account fields read and patched without decoding (proto/kumo.proto). */
#define ACCOUNT_FIELD_BALANCE  2u
#define ACCOUNT_FIELD_SEQUENCE 3u
#define ACCOUNT_FIELD_PUBKEY   4u

#define MODULE_NAME_BYTES_MAX 64u

int kumo_bank_address_validate(ProtobufCBinaryData addr, const char *what, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(addr.len == KUMO_ADDRESS_BYTES && addr.data != NULL, err, KUMO_EINVAL,
                "%s: address of %zu bytes, want %u", what, addr.len, KUMO_ADDRESS_BYTES);
    return 0;
}

void kumo_bank_module_address(const char *name, uint8_t out[KUMO_ADDRESS_BYTES])
{
    static const char tag[] = "kumo/module/";
    size_t len = strlen(name);
    KUMO_ASSERT(len > 0 && len <= MODULE_NAME_BYTES_MAX);
    kumo_bytes_t parts[2] = {kumo_bytes_make((const uint8_t *)tag, sizeof(tag) - 1u),
                             kumo_bytes_make((const uint8_t *)name, len)};
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(parts, 2, hash);
    memcpy(out, hash, KUMO_ADDRESS_BYTES);
}

void kumo_bank_account_key(const uint8_t *addr, uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES])
{
    key[0] = KUMO_BANK_PREFIX_ACCOUNT;
    memcpy(key + 1, addr, KUMO_ADDRESS_BYTES);
}

/* The stored encoding of addr's account, or (absent) the encoding of the zero account, which
 * is just the address field, written to zero_bytes. */
static int account_bytes(const kumo_kv_t *kv,
                         const uint8_t *key,
                         uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES],
                         kumo_bytes_t *val,
                         kumo_err_ctx_t *err)
{
    int rc = kv->get(kv->ctx, kumo_bytes_make(key, KUMO_BANK_ACCOUNT_KEY_BYTES), val, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        zero_bytes[0] = (1u << 3) | 2u;
        zero_bytes[1] = KUMO_ADDRESS_BYTES;
        memcpy(zero_bytes + 2, key + 1, KUMO_ADDRESS_BYTES);
        *val = kumo_bytes_make(zero_bytes, 2 + KUMO_ADDRESS_BYTES);
        return 0;
    }
    KUMO_GUARD(rc);
    KUMO_ENSURE(kumo_codec_wire_starts_with_addr(*val, key + 1), err, KUMO_ECORRUPT,
                "stored account does not match its key");
    return 0;
}

int kumo_bank_account_get(const kumo_kv_t *kv,
                          const uint8_t *addr,
                          Kumo__Account **out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL && out != NULL);
    uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES];
    kumo_bank_account_key(addr, key);
    uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES];
    kumo_bytes_t val;
    KUMO_GUARD(account_bytes(kv, key, zero_bytes, &val, err));
    ProtobufCMessage *m = NULL;
    int rc =
        kumo_codec_unpack(&kumo__account__descriptor, val, KUMO_STATE_OBJECT_BYTES_MAX, &m, err);
    if (rc == KUMO_EDECODE || rc == KUMO_ELIMIT) {
        return kumo_err_set(err, KUMO_ECORRUPT, "stored account does not decode (%s)",
                            kumo_err_name(rc));
    }
    KUMO_GUARD(rc);
    *out = (Kumo__Account *)m;
    return 0;
}

int kumo_bank_account_put(const kumo_kv_t *kv, const Kumo__Account *acct, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && acct != NULL);
    KUMO_GUARD(kumo_bank_address_validate(acct->address, "account", err));
    uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES];
    kumo_bank_account_key(acct->address.data, key);
    kumo_bytes_t k = kumo_bytes_make(key, sizeof(key));
    if (acct->balance == 0 && acct->sequence == 0 && acct->pubkey.len == 0) {
        return kv->del(kv->ctx, k, err);
    }
    kumo_buf_t pack;
    kumo_buf_init(&pack, KUMO_STATE_OBJECT_BYTES_MAX);
    int rc = kumo_codec_pack(&acct->base, &pack, err);
    if (rc == 0) {
        rc = kv->put(kv->ctx, k, kumo_buf_bytes(&pack), err);
    }
    kumo_buf_free(&pack);
    return rc;
}

int kumo_bank_balance_get(const kumo_kv_t *kv,
                          const uint8_t *addr,
                          uint64_t *out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL && out != NULL);
    uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES];
    kumo_bank_account_key(addr, key);
    uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES];
    kumo_bytes_t val;
    KUMO_GUARD(account_bytes(kv, key, zero_bytes, &val, err));
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(kumo_codec_wire_varints(val, f, err));
    *out = f[ACCOUNT_FIELD_BALANCE];
    return 0;
}

/* Adds (sub false) or takes (sub true) amount from addr's balance by patching the stored
 * encoding: balances change on every payment and refund, so this path avoids a decode and a
 * re-pack of the account. */
static int balance_change(const kumo_kv_t *kv,
                          kumo_buf_t *scratch,
                          const uint8_t *addr,
                          uint64_t amount,
                          bool sub,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && scratch != NULL && addr != NULL);
    if (amount == 0) {
        return 0;
    }
    uint8_t key[KUMO_BANK_ACCOUNT_KEY_BYTES];
    kumo_bank_account_key(addr, key);
    uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES];
    kumo_bytes_t val;
    KUMO_GUARD(account_bytes(kv, key, zero_bytes, &val, err));
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    uint32_t present = 0;
    KUMO_GUARD(kumo_codec_wire_read(val, f, &present, err));
    uint64_t balance = f[ACCOUNT_FIELD_BALANCE];
    if (sub) {
        KUMO_ENSURE(balance >= amount, err, KUMO_EFUNDS, "balance %" PRIu64 " < %" PRIu64 " ukumo",
                    balance, amount);
        balance -= amount;
    } else {
        KUMO_ENSURE(kumo_u64_add(balance, amount, &balance) == 0, err, KUMO_EOVERFLOW,
                    "balance overflows");
    }
    kumo_bytes_t k = kumo_bytes_make(key, sizeof(key));
    if (balance == 0 && f[ACCOUNT_FIELD_SEQUENCE] == 0 &&
        (present & (1u << ACCOUNT_FIELD_PUBKEY)) == 0) {
        return kv->del(kv->ctx, k, err);
    }
    const uint32_t field = ACCOUNT_FIELD_BALANCE;
    KUMO_GUARD(kumo_codec_wire_set(val, &field, &balance, 1, scratch, err));
    return kv->put(kv->ctx, k, kumo_buf_bytes(scratch), err);
}

int kumo_bank_balance_add(const kumo_kv_t *kv,
                          kumo_buf_t *scratch,
                          const uint8_t *addr,
                          uint64_t amount,
                          kumo_err_ctx_t *err)
{
    return balance_change(kv, scratch, addr, amount, false, err);
}

int kumo_bank_balance_sub(const kumo_kv_t *kv,
                          kumo_buf_t *scratch,
                          const uint8_t *addr,
                          uint64_t amount,
                          kumo_err_ctx_t *err)
{
    return balance_change(kv, scratch, addr, amount, true, err);
}

int kumo_bank_transfer(const kumo_kv_t *kv,
                       kumo_buf_t *scratch,
                       const uint8_t *from,
                       const uint8_t *to,
                       uint64_t amount,
                       kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_bank_balance_sub(kv, scratch, from, amount, err));
    return kumo_bank_balance_add(kv, scratch, to, amount, err);
}

/* ---- totals --------------------------------------------------------------------------------- */

static const uint8_t totals_key[1] = {KUMO_BANK_PREFIX_TOTALS};

int kumo_bank_totals_get(const kumo_kv_t *kv, kumo_bank_totals_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL);
    kumo_bytes_t val;
    int rc = kv->get(kv->ctx, kumo_bytes_make(totals_key, sizeof(totals_key)), &val, err);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ECORRUPT, "no bank totals in state (genesis not applied)");
    }
    KUMO_GUARD(rc);
    uint64_t f[KUMO_CODEC_WIRE_FIELD_MAX + 1];
    KUMO_GUARD(kumo_codec_wire_varints(val, f, err));
    out->supply = f[1];
    out->fee_pool = f[2];
    return 0;
}

int kumo_bank_totals_put(const kumo_kv_t *kv, const kumo_bank_totals_t *t, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && t != NULL);
    KUMO_ASSERT(t->supply <= KUMO_SUPPLY_MAX && t->fee_pool <= t->supply);
    Kumo__BankTotals m = KUMO__BANK_TOTALS__INIT;
    m.supply = t->supply;
    m.fee_pool = t->fee_pool;
    uint8_t buf[32];
    size_t bytes = protobuf_c_message_get_packed_size(&m.base);
    KUMO_ASSERT(bytes <= sizeof(buf));
    size_t wrote = protobuf_c_message_pack(&m.base, buf);
    KUMO_ASSERT(wrote == bytes);
    return kv->put(kv->ctx, kumo_bytes_make(totals_key, sizeof(totals_key)),
                   kumo_bytes_make(buf, bytes), err);
}

int kumo_bank_mint(const kumo_kv_t *kv,
                   kumo_buf_t *scratch,
                   const uint8_t *addr,
                   uint64_t amount,
                   kumo_err_ctx_t *err)
{
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(kv, &t, err));
    KUMO_ENSURE(kumo_u64_add(t.supply, amount, &t.supply) == 0 && t.supply <= KUMO_SUPPLY_MAX, err,
                KUMO_EOVERFLOW, "supply would pass %" PRIu64 " ukumo", KUMO_SUPPLY_MAX);
    KUMO_GUARD(kumo_bank_balance_add(kv, scratch, addr, amount, err));
    return kumo_bank_totals_put(kv, &t, err);
}

int kumo_bank_burn(const kumo_kv_t *kv,
                   kumo_buf_t *scratch,
                   const uint8_t *addr,
                   uint64_t amount,
                   kumo_err_ctx_t *err)
{
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(kv, &t, err));
    KUMO_GUARD(kumo_bank_balance_sub(kv, scratch, addr, amount, err));
    /* The burnt ukumo were part of the supply: a shortfall is corruption of the totals. */
    KUMO_ENSURE(t.supply - t.fee_pool >= amount, err, KUMO_ECORRUPT,
                "burning %" PRIu64 " from a supply of %" PRIu64, amount, t.supply);
    t.supply -= amount;
    return kumo_bank_totals_put(kv, &t, err);
}

int kumo_bank_fee_collect(const kumo_kv_t *kv,
                          const uint8_t *addr,
                          uint64_t amount,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL);
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(kv, &t, err));
    kumo_buf_t scratch;
    kumo_buf_init(&scratch, KUMO_STATE_OBJECT_BYTES_MAX);
    int rc = kumo_bank_balance_sub(kv, &scratch, addr, amount, err);
    kumo_buf_free(&scratch);
    KUMO_GUARD(rc);
    /* The fee pool is part of the supply, so it cannot pass it. */
    KUMO_ENSURE(kumo_u64_add(t.fee_pool, amount, &t.fee_pool) == 0 && t.fee_pool <= t.supply, err,
                KUMO_ECORRUPT, "fee pool would pass the supply");
    return kumo_bank_totals_put(kv, &t, err);
}

int kumo_bank_fee_pool_take(const kumo_kv_t *kv,
                            kumo_buf_t *scratch,
                            const uint8_t *addr,
                            uint64_t *out,
                            kumo_err_ctx_t *err)
{
    kumo_bank_totals_t t;
    KUMO_GUARD(kumo_bank_totals_get(kv, &t, err));
    *out = t.fee_pool;
    if (t.fee_pool == 0) {
        return 0;
    }
    KUMO_GUARD(kumo_bank_balance_add(kv, scratch, addr, t.fee_pool, err));
    t.fee_pool = 0;
    return kumo_bank_totals_put(kv, &t, err);
}
