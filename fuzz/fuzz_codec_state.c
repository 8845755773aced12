/*
 * fuzz_codec_state.c - libFuzzer target for kumo_codec_unpack of state objects. The first byte
 * selects the descriptor (Account, Provider, Deployment, Group, Order, Fulfillment, Lease,
 * Params, Validator, Global, Event, TxResult, Genesis, BankTotals, the staking objects and
 * ProviderAudit); the rest is decoded. Accepted input must pack to exactly the input bytes, and
 * render to JSON and parse back to a message that packs to them too. Deterministic, no state
 * between inputs.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/codec.h"

static const ProtobufCMessageDescriptor *const fuzz_state_descs[] = {
    &kumo__account__descriptor,
    &kumo__provider__descriptor,
    &kumo__deployment__descriptor,
    &kumo__group__descriptor,
    &kumo__order__descriptor,
    &kumo__fulfillment__descriptor,
    &kumo__lease__descriptor,
    &kumo__params__descriptor,
    &kumo__validator__descriptor,
    &kumo__global__descriptor,
    &kumo__event__descriptor,
    &kumo__tx_result__descriptor,
    &kumo__genesis__descriptor,
    &kumo__bank_totals__descriptor,
    &kumo__staking_params__descriptor,
    &kumo__staking_validator__descriptor,
    &kumo__delegation__descriptor,
    &kumo__unbonding_entry__descriptor,
    &kumo__redelegation_entry__descriptor,
    &kumo__active_validator__descriptor,
    &kumo__staking_global__descriptor,
    &kumo__provider_audit__descriptor,
};

static void fuzz_assert_packs_to(const ProtobufCMessage *msg, kumo_bytes_t want)
{
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_STATE_OBJECT_BYTES_MAX);
    int rc = kumo_codec_pack(msg, &buf, NULL);
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&buf), want));
    kumo_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const ProtobufCMessageDescriptor *desc =
        fuzz_state_descs[data[0] % KUMO_ARRAY_COUNT(fuzz_state_descs)];
    kumo_bytes_t in = kumo_bytes_make(data + 1, size - 1);
    ProtobufCMessage *msg = NULL;
    if (kumo_codec_unpack(desc, in, KUMO_STATE_OBJECT_BYTES_MAX, &msg, NULL) != 0) {
        KUMO_ASSERT(msg == NULL);
        return 0;
    }
    fuzz_assert_packs_to(msg, in);

    json_t *j = kumo_codec_json_from_message(msg);
    KUMO_ASSERT(j != NULL);
    ProtobufCMessage *back = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_codec_json_to_message(desc, j, &back, &err);
    KUMO_ASSERT(rc == 0);
    fuzz_assert_packs_to(back, in);
    kumo_codec_free(back);
    json_decref(j);
    kumo_codec_free(msg);
    return 0;
}
