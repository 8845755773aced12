/*
 * codec_int.h - private helpers shared by the codec's .c files: field paths for error details,
 * UTF-8 validation and descriptor walking. Not for other modules. Pure.
 */
#ifndef KUMO_CODEC_CODEC_INT_H
#define KUMO_CODEC_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "core/core.h"

/* Room for a dotted field path such as "msgs[1023].submit_deployment.groups[31].name". The
 * schema nests at most a handful of levels; a longer path is truncated (it is only a detail). */
#define CODEC_PATH_BYTES 160u
/* Nesting bound for descriptor walks. Our schemas are not recursive (the deepest is about 5
 * levels), so this only guards against a future recursive schema. */
#define CODEC_WALK_DEPTH_MAX 32u

typedef struct codec_path {
    char text[CODEC_PATH_BYTES];
    size_t len;
} codec_path_t;

/* An empty path (renders as "message" in details). */
void codec_path_init(codec_path_t *path);
/* Appends ".name" (or "name" at the root); returns the old length for codec_path_pop. */
size_t codec_path_push_field(codec_path_t *path, const char *name);
/* Appends "[index]"; returns the old length. */
size_t codec_path_push_index(codec_path_t *path, size_t index);
void codec_path_pop(codec_path_t *path, size_t old_len);
/* The path text, or "message" when empty. */
const char *codec_path_str(const codec_path_t *path);

/* True when text[0..len) is well-formed UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF) and contains no NUL byte. */
bool codec_utf8_is_valid(const uint8_t *text, size_t len);

/* Checks every rule of a canonical message that the wire format alone cannot: no unknown fields
 * at any depth, every string valid UTF-8 without NUL, every enum value named in its descriptor,
 * no NULL repeated elements or set oneof members, bytes with data when len > 0. Fails with code
 * and the field path in err. */
KUMO_MUST_USE int codec_message_check(const ProtobufCMessage *msg, int code, kumo_err_ctx_t *err);

/* The element count and array of a repeated field, or the member address of a singular one. */
static inline size_t codec_field_count(const ProtobufCMessage *msg,
                                       const ProtobufCFieldDescriptor *field)
{
    return *(const size_t *)(const void *)((const uint8_t *)msg + field->quantifier_offset);
}

static inline const void *codec_field_member(const ProtobufCMessage *msg,
                                             const ProtobufCFieldDescriptor *field)
{
    return (const uint8_t *)msg + field->offset;
}

static inline void *codec_field_member_mut(ProtobufCMessage *msg,
                                           const ProtobufCFieldDescriptor *field)
{
    return (uint8_t *)msg + field->offset;
}

/* For a field in a oneof: true when it is the selected member. Other fields: always true. */
static inline bool codec_field_is_present_oneof(const ProtobufCMessage *msg,
                                                const ProtobufCFieldDescriptor *field)
{
    if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0) {
        return true;
    }
    uint32_t which =
        *(const uint32_t *)(const void *)((const uint8_t *)msg + field->quantifier_offset);
    return which == field->id;
}

/* Strict decimal: text[0..len) is 1+ ASCII digits, no sign, no leading zero unless the whole
 * number is "0", and the value is at most max. */
bool codec_decimal_parse(const char *text, size_t len, uint64_t max, uint64_t *out);

/* Size of one element of a repeated field of this type (as protobuf-c lays arrays out). */
size_t codec_field_elem_bytes(ProtobufCType type);

#endif
