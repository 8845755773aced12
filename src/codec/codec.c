/*
 * codec.c - canonical protobuf encoding: pack, strict unpack, the kumo_alloc-backed protobuf-c
 * allocator, and the descriptor walk that enforces what the wire format alone cannot.
 *
 * One object has exactly one encoding. protobuf-c accepts many encodings of the same value
 * (fields out of order, repeated scalars where the last wins, non-minimal varints, default values
 * written out, unknown fields, bools other than 0/1), so kumo_codec_unpack re-encodes what it
 * unpacked and rejects any difference, and rejects unknown fields, unnamed enum values and bad
 * strings by walking the descriptor. Pure: no I/O, no clock; allocates only via kumo_alloc.
 */
#include "codec/codec.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec_int.h"

/* ---- allocator ---------------------------------------------------------------------------- */

/* Per-call allocator state: lets unpack tell an allocation failure (KUMO_ENOMEM) from malformed
 * input, since protobuf_c_message_unpack returns NULL for both. */
typedef struct codec_alloc_ctx {
    bool failed;
} codec_alloc_ctx_t;

static void *codec_pb_alloc(void *allocator_data, size_t bytes)
{
    void *p = kumo_alloc(bytes);
    if (p == NULL && allocator_data != NULL) {
        ((codec_alloc_ctx_t *)allocator_data)->failed = true;
    }
    return p;
}

static void codec_pb_free(void *allocator_data, void *ptr)
{
    (void)allocator_data;
    kumo_free(ptr);
}

/* Never written after initialisation: a constant in all but type, because protobuf-c's API
 * takes a non-const pointer. */
static ProtobufCAllocator codec_allocator = {
    .alloc = codec_pb_alloc,
    .free = codec_pb_free,
    .allocator_data = NULL,
};

ProtobufCAllocator *kumo_codec_allocator(void)
{
    KUMO_ASSERT(codec_allocator.alloc == codec_pb_alloc);
    KUMO_ASSERT(codec_allocator.allocator_data == NULL);
    return &codec_allocator;
}

void kumo_codec_free(ProtobufCMessage *msg)
{
    if (msg == NULL) {
        return;
    }
    KUMO_ASSERT(msg->descriptor != NULL);
    protobuf_c_message_free_unpacked(msg, kumo_codec_allocator());
}

/* ---- field paths and UTF-8 ---------------------------------------------------------------- */

void codec_path_init(codec_path_t *path)
{
    path->text[0] = '\0';
    path->len = 0;
}

/* Records that snprintf wrote `wrote` bytes of at most `room`, truncating on overflow. */
static void codec_path_advance(codec_path_t *path, int wrote, size_t room)
{
    if (wrote < 0 || (size_t)wrote >= room) {
        /* Truncated: the path is only a human detail, keep what fits. */
        path->len = CODEC_PATH_BYTES - 1;
        path->text[path->len] = '\0';
    } else {
        path->len += (size_t)wrote;
    }
    KUMO_ASSERT(path->len < CODEC_PATH_BYTES);
}

size_t codec_path_push_field(codec_path_t *path, const char *name)
{
    KUMO_ASSERT(name != NULL);
    KUMO_ASSERT(path->len < CODEC_PATH_BYTES);
    size_t old_len = path->len;
    size_t room = CODEC_PATH_BYTES - path->len;
    int wrote = snprintf(path->text + path->len, room, "%s%s", path->len == 0 ? "" : ".", name);
    codec_path_advance(path, wrote, room);
    return old_len;
}

size_t codec_path_push_index(codec_path_t *path, size_t index)
{
    KUMO_ASSERT(path->len < CODEC_PATH_BYTES);
    size_t old_len = path->len;
    size_t room = CODEC_PATH_BYTES - path->len;
    int wrote = snprintf(path->text + path->len, room, "[%zu]", index);
    codec_path_advance(path, wrote, room);
    return old_len;
}

void codec_path_pop(codec_path_t *path, size_t old_len)
{
    KUMO_ASSERT(old_len <= path->len);
    KUMO_ASSERT(old_len < CODEC_PATH_BYTES);
    path->len = old_len;
    path->text[old_len] = '\0';
}

const char *codec_path_str(const codec_path_t *path)
{
    KUMO_ASSERT(path->len < CODEC_PATH_BYTES);
    return path->len == 0 ? "message" : path->text;
}

/* Length of the sequence a lead byte starts (0 if it cannot start one), and the smallest code
 * point that length may encode (to reject overlong forms). */
static size_t utf8_seq_len(uint8_t lead, uint32_t *cp_out, uint32_t *cp_min_out)
{
    if (lead >= 0xc2 && lead <= 0xdf) {
        *cp_out = lead & 0x1fu;
        *cp_min_out = 0x80;
        return 2;
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        *cp_out = lead & 0x0fu;
        *cp_min_out = 0x800;
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        *cp_out = lead & 0x07u;
        *cp_min_out = 0x10000;
        return 4;
    }
    return 0;
}

bool codec_utf8_is_valid(const uint8_t *text, size_t len)
{
    KUMO_ASSERT(text != NULL || len == 0);
    size_t i = 0;
    while (i < len) {
        uint8_t lead = text[i];
        if (lead == 0) {
            return false;
        }
        if (lead < 0x80) {
            i++;
            continue;
        }
        uint32_t cp = 0;
        uint32_t cp_min = 0;
        size_t n = utf8_seq_len(lead, &cp, &cp_min);
        if (n == 0 || n > len - i) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            uint8_t c = text[i + k];
            if ((c & 0xc0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (c & 0x3fu);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
        if (cp < cp_min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return false;
        }
        i += n;
    }
    KUMO_ASSERT(i == len);
    return true;
}

bool codec_decimal_parse(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    KUMO_ASSERT(text != NULL && out != NULL);
    if (len == 0 || (len > 1 && text[0] == '0')) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (v > (max - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    KUMO_ASSERT(v <= max);
    *out = v;
    return true;
}

size_t codec_field_elem_bytes(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        KUMO_UNREACHABLE();
    }
}

/* ---- the canonical-message walk ----------------------------------------------------------- */

typedef struct codec_check {
    codec_path_t path;
    int code;
    kumo_err_ctx_t *err;
} codec_check_t;

static int check_message(codec_check_t *c, const ProtobufCMessage *msg, uint32_t depth);

/* One value of a field (a singular member or one element of a repeated array). */
static int check_value(codec_check_t *c,
                       const ProtobufCFieldDescriptor *field,
                       const void *value,
                       uint32_t depth)
{
    switch (field->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)value;
        /* NULL packs like "" in protobuf-c; anything else must be UTF-8 text. Strings are
         * NUL-terminated, so an embedded NUL from the wire shortens the string and the re-pack
         * comparison in unpack catches it. */
        if (s != NULL && !codec_utf8_is_valid((const uint8_t *)s, strlen(s))) {
            return kumo_err_set(c->err, c->code, "%s: string is not valid UTF-8",
                                codec_path_str(&c->path));
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = value;
        KUMO_ENSURE(bd->len == 0 || bd->data != NULL, c->err, c->code, "%s: bytes without data",
                    codec_path_str(&c->path));
        return 0;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = field->descriptor;
        int v = *(const int *)value;
        KUMO_ENSURE(protobuf_c_enum_descriptor_get_value(ed, v) != NULL, c->err, c->code,
                    "%s: unknown %s value %d", codec_path_str(&c->path), ed->name, v);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)value;
        if (sub == NULL) {
            return 0;
        }
        KUMO_ENSURE(sub->descriptor == field->descriptor, c->err, c->code, "%s: wrong message type",
                    codec_path_str(&c->path));
        return check_message(c, sub, depth + 1);
    }
    default:
        /* Integers and bools: every value has exactly one encoding. */
        return 0;
    }
}

static int check_repeated(codec_check_t *c,
                          const ProtobufCMessage *msg,
                          const ProtobufCFieldDescriptor *field,
                          uint32_t depth)
{
    size_t n = codec_field_count(msg, field);
    const uint8_t *arr = *(const uint8_t *const *)codec_field_member(msg, field);
    KUMO_ENSURE(n == 0 || arr != NULL, c->err, c->code, "%s: repeated field without elements",
                codec_path_str(&c->path));
    size_t elem_bytes = codec_field_elem_bytes(field->type);
    for (size_t i = 0; i < n; i++) {
        const void *elem = arr + i * elem_bytes;
        size_t mark = codec_path_push_index(&c->path, i);
        if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
            KUMO_ENSURE(*(const ProtobufCMessage *const *)elem != NULL, c->err, c->code,
                        "%s: NULL element", codec_path_str(&c->path));
        }
        KUMO_GUARD(check_value(c, field, elem, depth));
        codec_path_pop(&c->path, mark);
    }
    return 0;
}

static int check_field(codec_check_t *c,
                       const ProtobufCMessage *msg,
                       const ProtobufCFieldDescriptor *field,
                       uint32_t depth)
{
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        return check_repeated(c, msg, field, depth);
    }
    const void *member = codec_field_member(msg, field);
    if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        field->type == PROTOBUF_C_TYPE_MESSAGE) {
        /* protobuf-c packs nothing for a selected member that is NULL, which would silently
         * drop the selection. */
        KUMO_ENSURE(*(const ProtobufCMessage *const *)member != NULL, c->err, c->code,
                    "%s: oneof member selected but NULL", codec_path_str(&c->path));
    }
    return check_value(c, field, member, depth);
}

static int check_oneof_cases(codec_check_t *c, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0) {
            continue;
        }
        uint32_t which =
            *(const uint32_t *)(const void *)((const uint8_t *)msg + field->quantifier_offset);
        const ProtobufCFieldDescriptor *sel =
            which == 0 ? NULL : protobuf_c_message_descriptor_get_field(desc, which);
        bool same_oneof = sel != NULL && (sel->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
                          sel->quantifier_offset == field->quantifier_offset;
        KUMO_ENSURE(which == 0 || same_oneof, c->err, c->code, "%s: invalid oneof case %u",
                    codec_path_str(&c->path), which);
    }
    return 0;
}

static int check_message(codec_check_t *c, const ProtobufCMessage *msg, uint32_t depth)
{
    KUMO_ASSERT(msg != NULL && msg->descriptor != NULL);
    KUMO_ASSERT(msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    KUMO_ENSURE(depth <= CODEC_WALK_DEPTH_MAX, c->err, c->code, "%s: nested too deeply",
                codec_path_str(&c->path));
    KUMO_ENSURE(msg->n_unknown_fields == 0, c->err, c->code, "%s: unknown field (tag %u)",
                codec_path_str(&c->path), msg->unknown_fields[0].tag);
    KUMO_GUARD(check_oneof_cases(c, msg));
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if (!codec_field_is_present_oneof(msg, field)) {
            continue;
        }
        size_t mark = codec_path_push_field(&c->path, field->name);
        KUMO_GUARD(check_field(c, msg, field, depth));
        codec_path_pop(&c->path, mark);
    }
    return 0;
}

int codec_message_check(const ProtobufCMessage *msg, int code, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(msg != NULL);
    KUMO_ASSERT(code < 0);
    codec_check_t c = {.code = code, .err = err};
    codec_path_init(&c.path);
    return check_message(&c, msg, 0);
}

/* ---- pack / unpack ------------------------------------------------------------------------ */

int kumo_codec_pack(const ProtobufCMessage *msg, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(msg != NULL && msg->descriptor != NULL);
    KUMO_ASSERT(out != NULL && out->len <= out->cap);
    /* Only canonical messages are packed, so whatever we write, we also accept. */
    KUMO_GUARD(codec_message_check(msg, KUMO_EINVAL, err));
    size_t bytes = protobuf_c_message_get_packed_size(msg);
    int rc = kumo_buf_reserve(out, bytes);
    if (rc < 0) {
        return kumo_err_set(err, rc, "%s: %zu bytes do not fit the buffer (%zu of %zu used)",
                            msg->descriptor->name, bytes, out->len, out->cap_max);
    }
    if (bytes == 0) {
        /* An all-default message; out may still have no storage at all. */
        return 0;
    }
    size_t wrote = protobuf_c_message_pack(msg, out->ptr + out->len);
    KUMO_ASSERT(wrote == bytes);
    out->len += wrote;
    KUMO_ASSERT(out->len <= out->cap);
    return 0;
}

/* A ProtobufCBuffer that compares what protobuf-c would write against the input instead of
 * storing it, so the re-pack check allocates nothing. */
typedef struct codec_cmp_buffer {
    ProtobufCBuffer base;
    const uint8_t *want;
    size_t want_len;
    size_t pos;
    bool differs;
} codec_cmp_buffer_t;

static void codec_cmp_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    codec_cmp_buffer_t *cmp = (codec_cmp_buffer_t *)(void *)buffer;
    if (cmp->differs || len > cmp->want_len - cmp->pos ||
        (len > 0 && memcmp(cmp->want + cmp->pos, data, len) != 0)) {
        cmp->differs = true;
        return;
    }
    cmp->pos += len;
}

static bool codec_repack_equals(const ProtobufCMessage *msg, kumo_bytes_t in)
{
    if (protobuf_c_message_get_packed_size(msg) != in.len) {
        return false;
    }
    codec_cmp_buffer_t cmp = {
        .base = {.append = codec_cmp_append},
        .want = in.ptr,
        .want_len = in.len,
    };
    size_t wrote = protobuf_c_message_pack_to_buffer(msg, &cmp.base);
    KUMO_ASSERT(cmp.differs || cmp.pos == wrote);
    return !cmp.differs && cmp.pos == in.len;
}

int kumo_codec_unpack(const ProtobufCMessageDescriptor *desc,
                      kumo_bytes_t in,
                      size_t bytes_max,
                      ProtobufCMessage **out,
                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(desc != NULL && desc->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(in.ptr != NULL || in.len == 0);
    *out = NULL;
    KUMO_ENSURE(in.len <= bytes_max, err, KUMO_ELIMIT, "%s: %zu bytes over the limit of %zu",
                desc->name, in.len, bytes_max);
    codec_alloc_ctx_t actx = {.failed = false};
    ProtobufCAllocator allocator = {
        .alloc = codec_pb_alloc,
        .free = codec_pb_free,
        .allocator_data = &actx,
    };
    /* protobuf-c reads nothing for len 0 but wants a non-NULL pointer. */
    static const uint8_t empty[1] = {0};
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, &allocator, in.len, in.len == 0 ? empty : in.ptr);
    if (msg == NULL) {
        if (actx.failed) {
            return kumo_err_set(err, KUMO_ENOMEM, "%s: out of memory while decoding", desc->name);
        }
        return kumo_err_set(err, KUMO_EDECODE, "%s: malformed protobuf", desc->name);
    }
    int rc = codec_message_check(msg, KUMO_EDECODE, err);
    if (rc < 0) {
        goto out_free_msg;
    }
    if (!codec_repack_equals(msg, in)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "%s: non-canonical encoding", desc->name);
        goto out_free_msg;
    }
    *out = msg;
    return 0;

out_free_msg:
    /* The message was allocated through the per-call allocator; its free is kumo_free too. */
    kumo_codec_free(msg);
    return rc;
}

int kumo_codec_varint_append(kumo_buf_t *out, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v & 0x7fu);
        v >>= 7;
        tmp[n++] = (uint8_t)(b | (v != 0 ? 0x80u : 0u));
    } while (v != 0);
    KUMO_ASSERT(n <= sizeof(tmp));
    return kumo_buf_append(out, tmp, n);
}
