/*
 * json.c - JSON rendering and parsing of any schema message, generic over the protobuf-c
 * descriptor (fields in descriptor order, so output is deterministic).
 *
 * Rendering: uint64/int64 as decimal strings (JSON numbers lose precision past 2^53), other
 * integers as numbers, enums by name, 20-byte bytes as "kumo1..." addresses and other bytes as
 * lower-case hex, unset messages as null, only the selected member of a oneof.
 * Parsing builds the message in protobuf-c's own layout through kumo_alloc, so
 * kumo_codec_free releases it and a failure at any point frees a consistent partial message.
 * Input never drives unbounded recursion: the JSON tree's depth is checked against
 * KUMO_JSON_DEPTH_MAX before anything else. Integers only: a JSON real is a type error.
 * Pure: no I/O, no clock.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec_int.h"

/* The longest list any schema carries is the genesis balance list, so no JSON array may hold
 * more elements than that; this bounds what one array can make us allocate. */
#define CODEC_JSON_ARRAY_COUNT_MAX KUMO_GENESIS_ACCOUNT_COUNT_MAX
_Static_assert(CODEC_JSON_ARRAY_COUNT_MAX >= KUMO_GENESIS_VALIDATOR_COUNT_MAX,
               "genesis validators fit the JSON array bound");
_Static_assert(CODEC_JSON_ARRAY_COUNT_MAX >= KUMO_TX_MSG_COUNT_MAX, "tx msgs fit");
_Static_assert(CODEC_JSON_ARRAY_COUNT_MAX >= KUMO_CONFIRM_COUNT_MAX, "confirmations fit");

/* Longest decimal text of a 64-bit integer, with sign and NUL. */
#define CODEC_DECIMAL_TEXT_BYTES 24u

/* ---- message -> JSON ---------------------------------------------------------------------- */

static json_t *json_from_msg(const ProtobufCMessage *msg);

static void json_wipe_free(void *p)
{
    if (p != NULL) {
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

void kumo_codec_json_wipe_on_free(void)
{
    json_set_alloc_funcs(malloc, json_wipe_free);
}

static json_t *json_from_bytes(const ProtobufCBinaryData *bd)
{
    if (bd->len == KUMO_ADDRESS_BYTES) {
        char text[KUMO_ADDRESS_TEXT_BYTES];
        kumo_codec_address_encode(bd->data, text);
        return json_string(text);
    }
    if (bd->len > (SIZE_MAX - 1) / 2) {
        return NULL;
    }
    size_t cap = bd->len * 2 + 1;
    char *text = kumo_alloc(cap);
    if (text == NULL) {
        return NULL;
    }
    int rc = kumo_codec_hex_encode(kumo_bytes_make(bd->data, bd->len), text, cap);
    KUMO_ASSERT(rc == 0);
    json_t *j = json_stringn(text, cap - 1);
    kumo_free(text);
    return j;
}

static json_t *json_from_enum(const ProtobufCFieldDescriptor *field, int value)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(field->descriptor, value);
    /* codec_message_check ran first, so every value is named. */
    KUMO_ASSERT(ev != NULL);
    return json_string(ev->name);
}

static json_t *json_from_decimal_u64(uint64_t v)
{
    char text[CODEC_DECIMAL_TEXT_BYTES];
    int n = snprintf(text, sizeof(text), "%" PRIu64, v);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(text));
    return json_string(text);
}

static json_t *json_from_decimal_i64(int64_t v)
{
    char text[CODEC_DECIMAL_TEXT_BYTES];
    int n = snprintf(text, sizeof(text), "%" PRId64, v);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(text));
    return json_string(text);
}

/* One value of a field: a singular member or one element of a repeated array. */
static json_t *json_from_value(const ProtobufCFieldDescriptor *field, const void *value)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)value);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)value);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_from_decimal_i64(*(const int64_t *)value);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_from_decimal_u64(*(const uint64_t *)value);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)value);
    case PROTOBUF_C_TYPE_ENUM:
        return json_from_enum(field, *(const int *)value);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)value;
        return s == NULL ? json_string("") : json_stringn(s, strlen(s));
    }
    case PROTOBUF_C_TYPE_BYTES:
        return json_from_bytes(value);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)value;
        return sub == NULL ? json_null() : json_from_msg(sub);
    }
    default:
        /* float and double: the schemas have none and kumo computes no floating point. */
        return NULL;
    }
}

static json_t *json_from_repeated(const ProtobufCMessage *msg,
                                  const ProtobufCFieldDescriptor *field)
{
    json_t *arr = json_array();
    if (arr == NULL) {
        return NULL;
    }
    size_t n = codec_field_count(msg, field);
    const uint8_t *elems = *(const uint8_t *const *)codec_field_member(msg, field);
    size_t elem_bytes = codec_field_elem_bytes(field->type);
    for (size_t i = 0; i < n; i++) {
        /* json_array_append_new releases the value even when it fails. */
        json_t *v = json_from_value(field, elems + i * elem_bytes);
        if (v == NULL || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    KUMO_ASSERT(json_array_size(arr) == n);
    return arr;
}

static json_t *json_from_msg(const ProtobufCMessage *msg)
{
    KUMO_ASSERT(msg != NULL && msg->descriptor != NULL);
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    if (obj == NULL) {
        return NULL;
    }
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if (!codec_field_is_present_oneof(msg, field)) {
            continue;
        }
        json_t *v = field->label == PROTOBUF_C_LABEL_REPEATED
                        ? json_from_repeated(msg, field)
                        : json_from_value(field, codec_field_member(msg, field));
        if (v == NULL || json_object_set_new(obj, field->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *kumo_codec_json_from_message(const ProtobufCMessage *msg)
{
    KUMO_ASSERT(msg != NULL && msg->descriptor != NULL);
    KUMO_ASSERT(msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    /* Only canonical messages render: this also bounds the recursion below by the walk's depth
     * limit and guarantees valid UTF-8 and named enum values. */
    if (codec_message_check(msg, KUMO_EINVAL, NULL) < 0) {
        return NULL;
    }
    return json_from_msg(msg);
}

char *kumo_codec_json_dumps(const ProtobufCMessage *msg, bool pretty)
{
    json_t *j = kumo_codec_json_from_message(msg);
    if (j == NULL) {
        return NULL;
    }
    size_t flags = JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *text = json_dumps(j, flags);
    json_decref(j);
    return text;
}

/* ---- JSON -> message ---------------------------------------------------------------------- */

typedef struct json_parse {
    codec_path_t path;
    kumo_err_ctx_t *err;
} json_parse_t;

/* A parse error at the current path. */
static int json_fail(json_parse_t *p, int code, const char *what)
{
    return kumo_err_set(p->err, code, "%s: %s", codec_path_str(&p->path), what);
}

/* jansson's iterator API takes a non-const object although iterating does not modify it. */
static json_t *json_iterable(const json_t *json)
{
    return (json_t *)(uintptr_t)json;
}

/* Rejects any JSON tree nested deeper than KUMO_JSON_DEPTH_MAX containers (the top level is
 * depth 1), before anything is built. The recursion is bounded by the same limit. */
static int json_depth_check(json_parse_t *p, const json_t *json, uint32_t depth)
{
    if (!json_is_object(json) && !json_is_array(json)) {
        return 0;
    }
    if (depth > KUMO_JSON_DEPTH_MAX) {
        return kumo_err_set(p->err, KUMO_EDECODE, "%s: nested deeper than %u",
                            codec_path_str(&p->path), KUMO_JSON_DEPTH_MAX);
    }
    if (json_is_array(json)) {
        for (size_t i = 0; i < json_array_size(json); i++) {
            size_t mark = codec_path_push_index(&p->path, i);
            KUMO_GUARD(json_depth_check(p, json_array_get(json, i), depth + 1));
            codec_path_pop(&p->path, mark);
        }
        return 0;
    }
    json_t *obj = json_iterable(json);
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        size_t mark = codec_path_push_field(&p->path, json_object_iter_key(it));
        KUMO_GUARD(json_depth_check(p, json_object_iter_value(it), depth + 1));
        codec_path_pop(&p->path, mark);
    }
    return 0;
}

static int json_parse_u64(json_parse_t *p, const json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max) {
            return json_fail(p, KUMO_EDECODE, "expected unsigned integer in range");
        }
        *out = (uint64_t)i;
        return 0;
    }
    if (json_is_string(v) &&
        codec_decimal_parse(json_string_value(v), json_string_length(v), max, out)) {
        return 0;
    }
    return json_fail(p, KUMO_EDECODE, "expected unsigned integer");
}

/* A signed integer of at most 64 bits: an integer, or a decimal string with an optional '-'
 * (no "-0", no leading zeros). */
static int json_parse_i64(json_parse_t *p, const json_t *v, int64_t min, int64_t max, int64_t *out)
{
    int64_t value = 0;
    if (json_is_integer(v)) {
        value = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        size_t sign_len = len > 0 && s[0] == '-' ? 1 : 0;
        uint64_t mag = 0;
        uint64_t mag_max = (uint64_t)INT64_MAX + sign_len;
        if (!codec_decimal_parse(s + sign_len, len - sign_len, mag_max, &mag) ||
            (sign_len == 1 && mag == 0)) {
            return json_fail(p, KUMO_EDECODE, "expected integer");
        }
        /* mag fits int64 except -2^63, which has no positive counterpart. */
        if (sign_len == 0) {
            value = (int64_t)mag;
        } else {
            value = mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
        }
    } else {
        return json_fail(p, KUMO_EDECODE, "expected integer");
    }
    if (value < min || value > max) {
        return json_fail(p, KUMO_EDECODE, "integer out of range");
    }
    *out = value;
    return 0;
}

static int
json_parse_enum(json_parse_t *p, const ProtobufCFieldDescriptor *field, const json_t *v, int *out)
{
    if (!json_is_string(v)) {
        return json_fail(p, KUMO_EDECODE, "expected enum name");
    }
    const char *name = json_string_value(v);
    const ProtobufCEnumValue *ev =
        strlen(name) == json_string_length(v)
            ? protobuf_c_enum_descriptor_get_value_by_name(field->descriptor, name)
            : NULL;
    if (ev == NULL) {
        return kumo_err_set(p->err, KUMO_EDECODE, "%s: unknown %s name", codec_path_str(&p->path),
                            ((const ProtobufCEnumDescriptor *)field->descriptor)->name);
    }
    *out = ev->value;
    return 0;
}

static int json_parse_string(json_parse_t *p, const json_t *v, char **out)
{
    if (!json_is_string(v)) {
        return json_fail(p, KUMO_EDECODE, "expected string");
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!codec_utf8_is_valid((const uint8_t *)s, len)) {
        return json_fail(p, KUMO_EDECODE, "string is not UTF-8 text without NUL");
    }
    char *copy = kumo_alloc(len + 1);
    if (copy == NULL) {
        return json_fail(p, KUMO_ENOMEM, "out of memory");
    }
    memcpy(copy, s, len + 1);
    *out = copy;
    return 0;
}

static int json_parse_bytes(json_parse_t *p, const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v)) {
        return json_fail(p, KUMO_EDECODE, "expected address or hex string");
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* No hex text starts with "kumo1", so the two forms cannot be confused. */
    bool is_address = len >= 5 && memcmp(s, KUMO_ADDRESS_HRP "1", 5) == 0;
    size_t bytes = is_address ? KUMO_ADDRESS_BYTES : len / 2;
    uint8_t *data = bytes == 0 ? NULL : kumo_alloc(bytes);
    if (bytes != 0 && data == NULL) {
        return json_fail(p, KUMO_ENOMEM, "out of memory");
    }
    size_t got = KUMO_ADDRESS_BYTES;
    int rc = strlen(s) != len ? KUMO_EDECODE
             : is_address     ? kumo_codec_address_decode(s, data, NULL)
                              : kumo_codec_hex_decode(s, data, bytes, &got, NULL);
    if (rc < 0) {
        kumo_free(data);
        return json_fail(p, KUMO_EDECODE, is_address ? "bad bech32 address" : "bad hex");
    }
    KUMO_ASSERT(got == bytes);
    out->data = data;
    out->len = bytes;
    return 0;
}

static int json_build_message(json_parse_t *p,
                              const ProtobufCMessageDescriptor *desc,
                              const json_t *json,
                              ProtobufCMessage **out);

static int json_parse_submessage(json_parse_t *p,
                                 const ProtobufCFieldDescriptor *field,
                                 const json_t *v,
                                 bool null_ok,
                                 ProtobufCMessage **out)
{
    if (json_is_null(v) && null_ok) {
        *out = NULL;
        return 0;
    }
    if (!json_is_object(v)) {
        return json_fail(p, KUMO_EDECODE, "expected object");
    }
    return json_build_message(p, field->descriptor, v, out);
}

/* Parses v into value, one value of field. null_ok: an unset message may be given as null. */
static int json_parse_value(json_parse_t *p,
                            const ProtobufCFieldDescriptor *field,
                            const json_t *v,
                            void *value,
                            bool null_ok)
{
    uint64_t u = 0;
    int64_t i = 0;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        KUMO_GUARD(json_parse_i64(p, v, INT32_MIN, INT32_MAX, &i));
        *(int32_t *)value = (int32_t)i; /* range-checked above */
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!json_is_integer(v)) {
            return json_fail(p, KUMO_EDECODE, "expected unsigned integer");
        }
        KUMO_GUARD(json_parse_u64(p, v, UINT32_MAX, &u));
        *(uint32_t *)value = (uint32_t)u; /* range-checked above */
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_parse_i64(p, v, INT64_MIN, INT64_MAX, (int64_t *)value);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_parse_u64(p, v, UINT64_MAX, (uint64_t *)value);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            return json_fail(p, KUMO_EDECODE, "expected boolean");
        }
        *(protobuf_c_boolean *)value = json_is_true(v) ? 1 : 0;
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return json_parse_enum(p, field, v, (int *)value);
    case PROTOBUF_C_TYPE_STRING:
        return json_parse_string(p, v, (char **)value);
    case PROTOBUF_C_TYPE_BYTES:
        return json_parse_bytes(p, v, (ProtobufCBinaryData *)value);
    case PROTOBUF_C_TYPE_MESSAGE:
        return json_parse_submessage(p, field, v, null_ok, (ProtobufCMessage **)value);
    default:
        return json_fail(p, KUMO_EDECODE, "field type not supported in JSON");
    }
}

static int json_parse_repeated(json_parse_t *p,
                               ProtobufCMessage *msg,
                               const ProtobufCFieldDescriptor *field,
                               const json_t *v)
{
    if (!json_is_array(v)) {
        return json_fail(p, KUMO_EDECODE, "expected array");
    }
    size_t n = json_array_size(v);
    if (n > CODEC_JSON_ARRAY_COUNT_MAX) {
        return kumo_err_set(p->err, KUMO_EDECODE, "%s: more than %u elements",
                            codec_path_str(&p->path), CODEC_JSON_ARRAY_COUNT_MAX);
    }
    if (n == 0) {
        return 0;
    }
    size_t elem_bytes = codec_field_elem_bytes(field->type);
    uint8_t *arr = kumo_calloc(n, elem_bytes);
    if (arr == NULL) {
        return json_fail(p, KUMO_ENOMEM, "out of memory");
    }
    /* Attach the zeroed array first: on a later failure kumo_codec_free releases the elements
     * parsed so far and skips the NULL ones. */
    *(uint8_t **)codec_field_member_mut(msg, field) = arr;
    *(size_t *)(void *)((uint8_t *)msg + field->quantifier_offset) = n;
    for (size_t i = 0; i < n; i++) {
        size_t mark = codec_path_push_index(&p->path, i);
        KUMO_GUARD(json_parse_value(p, field, json_array_get(v, i), arr + i * elem_bytes, false));
        codec_path_pop(&p->path, mark);
    }
    return 0;
}

static int json_parse_oneof(json_parse_t *p,
                            ProtobufCMessage *msg,
                            const ProtobufCFieldDescriptor *field,
                            const json_t *v)
{
    uint32_t *which = (uint32_t *)(void *)((uint8_t *)msg + field->quantifier_offset);
    if (*which != 0) {
        const ProtobufCFieldDescriptor *other =
            protobuf_c_message_descriptor_get_field(msg->descriptor, *which);
        KUMO_ASSERT(other != NULL);
        return kumo_err_set(p->err, KUMO_EDECODE, "%s: oneof already has member %s",
                            codec_path_str(&p->path), other->name);
    }
    /* Select first: kumo_codec_free releases only the selected member, so a member parsed
     * half-way must already be selected. The member is still zero, which frees cleanly. A
     * selected member must be a value: null would select a member that packs to nothing. */
    *which = field->id;
    return json_parse_value(p, field, v, codec_field_member_mut(msg, field), false);
}

/* Every key of the object must name a field; keys with an embedded NUL never do. */
static int
json_check_keys(json_parse_t *p, const ProtobufCMessageDescriptor *desc, const json_t *json)
{
    json_t *obj = json_iterable(json);
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        if (strlen(key) != json_object_iter_key_len(it) ||
            protobuf_c_message_descriptor_get_field_by_name(desc, key) == NULL) {
            size_t mark = codec_path_push_field(&p->path, key);
            int rc = json_fail(p, KUMO_EDECODE, "unknown field");
            codec_path_pop(&p->path, mark);
            return rc;
        }
    }
    return 0;
}

static int json_build_message(json_parse_t *p,
                              const ProtobufCMessageDescriptor *desc,
                              const json_t *json,
                              ProtobufCMessage **out)
{
    KUMO_ASSERT(desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (!json_is_object(json)) {
        return json_fail(p, KUMO_EDECODE, "expected object");
    }
    KUMO_GUARD(json_check_keys(p, desc, json));
    ProtobufCMessage *msg = kumo_calloc(1, desc->sizeof_message);
    if (msg == NULL) {
        return json_fail(p, KUMO_ENOMEM, "out of memory");
    }
    protobuf_c_message_init(desc, msg);
    /* Owned by the caller from here: it is consistent after every step. */
    *out = msg;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        const json_t *v = json_object_get(json, field->name);
        if (v == NULL) {
            continue;
        }
        size_t mark = codec_path_push_field(&p->path, field->name);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            KUMO_GUARD(json_parse_repeated(p, msg, field, v));
        } else if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
            KUMO_GUARD(json_parse_oneof(p, msg, field, v));
        } else {
            KUMO_GUARD(json_parse_value(p, field, v, codec_field_member_mut(msg, field), true));
        }
        codec_path_pop(&p->path, mark);
    }
    return 0;
}

int kumo_codec_json_to_message(const ProtobufCMessageDescriptor *desc,
                               const json_t *json,
                               ProtobufCMessage **out,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(desc != NULL && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    KUMO_ASSERT(json != NULL && out != NULL);
    *out = NULL;
    json_parse_t p = {.err = err};
    codec_path_init(&p.path);
    KUMO_GUARD(json_depth_check(&p, json, 1));
    ProtobufCMessage *msg = NULL;
    int rc = json_build_message(&p, desc, json, &msg);
    if (rc < 0) {
        kumo_codec_free(msg);
        return rc;
    }
    KUMO_ASSERT(msg != NULL);
    /* Everything built here obeys the canonical rules, so it packs and unpacks again. */
    KUMO_ASSERT_SLOW(codec_message_check(msg, KUMO_EINVAL, NULL) == 0);
    *out = msg;
    return 0;
}
