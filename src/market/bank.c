/*
 * bank.c - accounts, balances, the fee pool, Send, and reads of Params/Global/validators.
 * Every balance change is checked arithmetic; an account that holds nothing (zero balance,
 * sequence 0, no pubkey) is not stored, and reads back as zero. Pure: no I/O beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

int kumo_market_address_validate(ProtobufCBinaryData addr, const char *what, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(addr.len == KUMO_ADDRESS_BYTES && addr.data != NULL, err, KUMO_EINVAL,
                "%s: address of %zu bytes, want %u", what, addr.len, KUMO_ADDRESS_BYTES);
    return 0;
}

int kumo_market_account_get(const kumo_kv_t *kv,
                            const uint8_t *addr,
                            Kumo__Account **out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL && out != NULL);
    kumo_market_key_t k;
    kumo_market_key_account(&k, addr);
    kumo_bytes_t val;
    int rc = kumo_market_kv_get(kv, &k, &val, err);
    uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES];
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        /* An absent account is the zero account: its encoding is just the address field. */
        zero_bytes[0] = (1u << 3) | 2u;
        zero_bytes[1] = KUMO_ADDRESS_BYTES;
        memcpy(zero_bytes + 2, addr, KUMO_ADDRESS_BYTES);
        val = kumo_bytes_make(zero_bytes, sizeof(zero_bytes));
    } else if (rc < 0) {
        return rc;
    }
    Kumo__Account *a = NULL;
    KUMO_GUARD(
        kumo_market_obj_decode(&kumo__account__descriptor, val, (ProtobufCMessage **)&a, err));
    if (a->address.len != KUMO_ADDRESS_BYTES ||
        memcmp(a->address.data, addr, KUMO_ADDRESS_BYTES) != 0) {
        kumo_market_obj_free(a);
        return kumo_err_set(err, KUMO_ECORRUPT, "stored account does not match its key");
    }
    *out = a;
    return 0;
}

static int
account_write(const kumo_kv_t *kv, kumo_buf_t *pack, const Kumo__Account *acct, kumo_err_ctx_t *err)
{
    KUMO_GUARD(kumo_market_address_validate(acct->address, "account", err));
    kumo_market_key_t k;
    kumo_market_key_account(&k, acct->address.data);
    if (acct->balance == 0 && acct->sequence == 0 && acct->pubkey.len == 0) {
        return kumo_market_kv_del(kv, &k, err);
    }
    return kumo_market_obj_put(kv, pack, &k, &acct->base, err);
}

int kumo_market_account_put(const kumo_kv_t *kv, const Kumo__Account *acct, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && acct != NULL);
    kumo_buf_t pack;
    kumo_buf_init(&pack, KUMO_STATE_OBJECT_BYTES_MAX);
    int rc = account_write(kv, &pack, acct, err);
    kumo_buf_free(&pack);
    return rc;
}

int kumo_market_global_add(uint64_t *total, uint64_t amount, kumo_err_ctx_t *err)
{
    int rc = kumo_u64_add(*total, amount, total);
    KUMO_ENSURE(rc == 0, err, KUMO_EOVERFLOW, "global total overflows");
    return 0;
}

int kumo_market_global_sub(uint64_t *total, uint64_t amount, kumo_err_ctx_t *err)
{
    /* Every amount taken from a total was added to it before: a shortfall is our bug. */
    KUMO_ASSERT(*total >= amount);
    *total -= amount;
    (void)err;
    return 0;
}

/* Account fields read and patched without decoding (proto/kumo.proto). */
#define ACCOUNT_FIELD_BALANCE  2u
#define ACCOUNT_FIELD_SEQUENCE 3u
#define ACCOUNT_FIELD_PUBKEY   4u

/* Adds (sub false) or takes (sub true) amount from addr's balance by patching the stored
 * encoding: balances change on every payment and refund, so this path avoids a decode and a
 * re-pack of the account. */
static int balance_change(
    kumo_market_st_t *st, const uint8_t *addr, uint64_t amount, bool sub, kumo_err_ctx_t *err)
{
    if (amount == 0) {
        return 0;
    }
    kumo_market_key_t k;
    kumo_market_key_account(&k, addr);
    kumo_bytes_t val;
    uint8_t zero_bytes[2 + KUMO_ADDRESS_BYTES];
    int rc = kumo_market_kv_get(st->kv, &k, &val, err);
    if (rc == KUMO_ENOTFOUND) {
        kumo_err_clear(err);
        zero_bytes[0] = (1u << 3) | 2u;
        zero_bytes[1] = KUMO_ADDRESS_BYTES;
        memcpy(zero_bytes + 2, addr, KUMO_ADDRESS_BYTES);
        val = kumo_bytes_make(zero_bytes, sizeof(zero_bytes));
    } else if (rc < 0) {
        return rc;
    }
    KUMO_ENSURE(kumo_market_wire_starts_with_addr(val, addr), err, KUMO_ECORRUPT,
                "stored account does not match its key");
    uint64_t f[KUMO_MARKET_WIRE_FIELD_MAX + 1];
    uint32_t present = 0;
    KUMO_GUARD(kumo_market_wire_read(val, f, &present, err));
    uint64_t balance = f[ACCOUNT_FIELD_BALANCE];
    if (sub) {
        KUMO_ENSURE(balance >= amount, err, KUMO_EFUNDS, "balance %" PRIu64 " < %" PRIu64 " ukumo",
                    balance, amount);
        balance -= amount;
    } else {
        KUMO_ENSURE(kumo_u64_add(balance, amount, &balance) == 0, err, KUMO_EOVERFLOW,
                    "balance overflows");
    }
    if (balance == 0 && f[ACCOUNT_FIELD_SEQUENCE] == 0 &&
        (present & (1u << ACCOUNT_FIELD_PUBKEY)) == 0) {
        return kumo_market_kv_del(st->kv, &k, err);
    }
    const uint32_t field = ACCOUNT_FIELD_BALANCE;
    KUMO_GUARD(kumo_market_wire_set(val, &field, &balance, 1, &st->pack, err));
    return st->kv->put(st->kv->ctx, kumo_market_key_bytes(&k), kumo_buf_bytes(&st->pack), err);
}

int kumo_market_balance_add(kumo_market_st_t *st,
                            const uint8_t *addr,
                            uint64_t amount,
                            kumo_err_ctx_t *err)
{
    return balance_change(st, addr, amount, false, err);
}

int kumo_market_balance_sub(kumo_market_st_t *st,
                            const uint8_t *addr,
                            uint64_t amount,
                            kumo_err_ctx_t *err)
{
    return balance_change(st, addr, amount, true, err);
}

int kumo_market_fee_collect(const kumo_kv_t *kv,
                            const uint8_t *addr,
                            uint64_t amount,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL);
    kumo_market_st_t st;
    KUMO_GUARD(kumo_market_st_begin(&st, kv, NULL, 0, addr, NULL, err));
    int rc = kumo_market_balance_sub(&st, addr, amount, err);
    if (rc == 0) {
        rc = kumo_market_global_add(&st.global->fee_pool, amount, err);
    }
    return kumo_market_st_finish(&st, rc, err);
}

int kumo_market_send_apply(kumo_market_st_t *st, const Kumo__MsgSend *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m->to.len == KUMO_ADDRESS_BYTES && m->amount > 0);
    KUMO_GUARD(kumo_market_balance_sub(st, st->signer, m->amount, err));
    KUMO_GUARD(kumo_market_balance_add(st, m->to.data, m->amount, err));
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char to_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(m->to.data, to_text);
    kumo_market_attr_t attrs[] = {{"to", 0, to_text}, {"amount", m->amount, NULL}};
    return kumo_market_emit_account(st, "account.transfer", st->signer, attrs,
                                    KUMO_ARRAY_COUNT(attrs), err);
}

int kumo_market_params_get(const kumo_kv_t *kv, Kumo__Params **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL);
    kumo_market_key_t k;
    kumo_market_key_params(&k);
    return kumo_market_obj_get(kv, &k, &kumo__params__descriptor, (ProtobufCMessage **)out, err);
}

int kumo_market_global_get(const kumo_kv_t *kv, Kumo__Global **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL);
    kumo_market_key_t k;
    kumo_market_key_global(&k);
    return kumo_market_obj_get(kv, &k, &kumo__global__descriptor, (ProtobufCMessage **)out, err);
}

int kumo_market_validator_is_operator(const kumo_kv_t *kv,
                                      const uint8_t *addr,
                                      bool *out,
                                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && addr != NULL && out != NULL);
    kumo_market_key_t k;
    kumo_market_key_validator(&k, addr);
    return kumo_market_kv_has(kv, &k, out, err);
}
