/*
 * codec_fixture.h - test fixtures shared by the codec tests: a generic filler that gives every
 * field of any schema message a non-default value (so round trips cover every field of every
 * type), and the table of schema descriptors to run it over. Messages are built in protobuf-c's
 * layout through kumo_alloc, so kumo_codec_free releases them.
 */
#ifndef KUMO_TESTS_UNIT_CODEC_FIXTURE_H
#define KUMO_TESTS_UNIT_CODEC_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"

/* Elements put in each repeated field. */
#define FIXTURE_REPEATED_COUNT 2u

/* Fields holding addresses get 20 bytes (rendered as bech32 in JSON); other bytes get 32. */
static inline size_t fixture_bytes_len(const char *name)
{
    static const char *const address_fields[] = {"owner", "address", "provider", "to",
                                                 "lease_provider"};
    for (size_t i = 0; i < sizeof(address_fields) / sizeof(address_fields[0]); i++) {
        if (strcmp(name, address_fields[i]) == 0) {
            return KUMO_ADDRESS_BYTES;
        }
    }
    return 32;
}

static inline ProtobufCMessage *
fixture_fill(const ProtobufCMessageDescriptor *desc, uint32_t seed, uint32_t oneof_pick);

static inline void
fixture_fill_value(const ProtobufCFieldDescriptor *field, void *value, uint32_t seed)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
        *(int32_t *)value = -(int32_t)(seed + 4);
        break;
    case PROTOBUF_C_TYPE_UINT32:
        *(uint32_t *)value = UINT32_MAX - seed;
        break;
    case PROTOBUF_C_TYPE_UINT64:
        /* Past 2^53, where JSON numbers would lose precision. */
        *(uint64_t *)value = UINT64_MAX - seed * 1000003u;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)value = 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = field->descriptor;
        *(int *)value = ed->values[1 + seed % (ed->n_values - 1)].value;
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char text[64];
        /* Non-ASCII UTF-8 and JSON-escaped characters on purpose. */
        int n = snprintf(text, sizeof(text), "%s-%u \xc3\xa9\xe2\x82\xac\"\\", field->name, seed);
        char *s = kumo_alloc((size_t)n + 1);
        KUMO_ASSERT(s != NULL);
        memcpy(s, text, (size_t)n + 1);
        *(char **)value = s;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = value;
        bd->len = fixture_bytes_len(field->name);
        bd->data = kumo_alloc(bd->len);
        KUMO_ASSERT(bd->data != NULL);
        for (size_t i = 0; i < bd->len; i++) {
            bd->data[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)value = fixture_fill(field->descriptor, seed + 1, seed);
        break;
    default:
        KUMO_UNREACHABLE();
    }
}

/* A message of desc with every field set. Of each oneof, the member at index
 * oneof_pick % members is selected. */
static inline ProtobufCMessage *
fixture_fill(const ProtobufCMessageDescriptor *desc, uint32_t seed, uint32_t oneof_pick)
{
    ProtobufCMessage *msg = kumo_calloc(1, desc->sizeof_message);
    KUMO_ASSERT(msg != NULL);
    protobuf_c_message_init(desc, msg);
    unsigned oneof_members = 0;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        oneof_members += (desc->fields[f].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
    }
    unsigned oneof_index = 0;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        uint8_t *member = (uint8_t *)msg + field->offset;
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
            if (oneof_index++ != oneof_pick % oneof_members) {
                continue;
            }
            *(uint32_t *)(void *)((uint8_t *)msg + field->quantifier_offset) = field->id;
            fixture_fill_value(field, member, seed + f);
            continue;
        }
        if (field->label != PROTOBUF_C_LABEL_REPEATED) {
            fixture_fill_value(field, member, seed + f);
            continue;
        }
        /* Repeated messages, strings (pointers), bytes (ProtobufCBinaryData) and uint32s. */
        KUMO_ASSERT(field->type == PROTOBUF_C_TYPE_MESSAGE ||
                    field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_BYTES ||
                    field->type == PROTOBUF_C_TYPE_UINT32);
        size_t elem = field->type == PROTOBUF_C_TYPE_BYTES    ? sizeof(ProtobufCBinaryData)
                      : field->type == PROTOBUF_C_TYPE_UINT32 ? sizeof(uint32_t)
                                                              : sizeof(void *);
        uint8_t *arr = kumo_calloc(FIXTURE_REPEATED_COUNT, elem);
        KUMO_ASSERT(arr != NULL);
        for (uint32_t i = 0; i < FIXTURE_REPEATED_COUNT; i++) {
            fixture_fill_value(field, arr + i * elem, seed + f + i * 100u);
        }
        *(uint8_t **)(void *)member = arr;
        *(size_t *)(void *)((uint8_t *)msg + field->quantifier_offset) = FIXTURE_REPEATED_COUNT;
    }
    return msg;
}

/* Every message type of proto/kumo.proto. */
static const ProtobufCMessageDescriptor *const fixture_descriptors[] = {
    &kumo__compute_unit__descriptor,
    &kumo__resource_group__descriptor,
    &kumo__group_spec__descriptor,
    &kumo__order_id__descriptor,
    &kumo__lease_id__descriptor,
    &kumo__attribute__descriptor,
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
    &kumo__msg_send__descriptor,
    &kumo__msg_create_provider__descriptor,
    &kumo__msg_update_provider__descriptor,
    &kumo__msg_delete_provider__descriptor,
    &kumo__msg_submit_deployment__descriptor,
    &kumo__msg_update_deployment__descriptor,
    &kumo__msg_deposit_deployment__descriptor,
    &kumo__msg_close_deployment__descriptor,
    &kumo__msg_submit_fulfillment__descriptor,
    &kumo__msg_cancel_fulfillment__descriptor,
    &kumo__lease_confirmation__descriptor,
    &kumo__msg_submit_lease_confirmation__descriptor,
    &kumo__msg_submit_lease__descriptor,
    &kumo__msg_submit_stale_lease__descriptor,
    &kumo__msg_deployment_closed__descriptor,
    &kumo__msg__descriptor,
    &kumo__tx_body__descriptor,
    &kumo__tx__descriptor,
    &kumo__event__descriptor,
    &kumo__tx_result__descriptor,
    &kumo__genesis_balance__descriptor,
    &kumo__genesis__descriptor,
    &kumo__signed_by__descriptor,
    &kumo__placement_requirements__descriptor,
    &kumo__provider_audit__descriptor,
    &kumo__msg_sign_provider_attributes__descriptor,
    &kumo__msg_delete_provider_attributes__descriptor,
    &kumo__msg_close_lease__descriptor,
    &kumo__grant__descriptor,
    &kumo__msg_grant__descriptor,
    &kumo__msg_revoke__descriptor,
};

/* Members of the Msg oneof (one per msg type). */
#define FIXTURE_MSG_ONEOF_COUNT 14u

#endif
