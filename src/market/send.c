/*
 * send.c - the Send msg (a bank transfer with its event), Global totals arithmetic and reads
 * of Params, Global and validators. Balances themselves belong to the bank (src/bank). Pure: no I/O
 * beyond the kv.
 */
#include <inttypes.h>
#include <string.h>

#include "market/market_int.h"

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

int kumo_market_send_apply(kumo_market_st_t *st, const Kumo__MsgSend *m, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m->to.len == KUMO_ADDRESS_BYTES && m->amount > 0);
    KUMO_GUARD(kumo_bank_balance_sub(st->kv, &st->pack, st->principal, m->amount, err));
    KUMO_GUARD(kumo_bank_balance_add(st->kv, &st->pack, m->to.data, m->amount, err));
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char to_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(m->to.data, to_text);
    kumo_market_attr_t attrs[] = {{"to", 0, to_text}, {"amount", m->amount, NULL}};
    return kumo_market_emit_account(st, "account.transfer", st->principal, attrs,
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
