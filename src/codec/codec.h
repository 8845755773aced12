/*
 * codec.h - canonical encoding of wire and state objects (protobuf-c, schemas in
 * proto/kumo.proto), bech32 addresses ("kumo1..."), hex, text ids, and JSON rendering/parsing
 * of any schema message. Pure: no I/O, no clock.
 *
 * Canonical rule: kumo_codec_unpack re-encodes what protobuf-c unpacked and rejects any
 * difference and any unknown field (at any depth), so one object has exactly one encoding.
 */
#ifndef KUMO_CODEC_CODEC_H
#define KUMO_CODEC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <proto/kumo.pb-c.h>

#include "core/core.h"

/* "kumo1" + 32 data chars + 6 checksum chars + NUL, rounded up. */
#define KUMO_ADDRESS_TEXT_BYTES 48u
#define KUMO_ADDRESS_HRP        "kumo"
/* Longest text id: address/dseq/gseq/oseq/address. */
#define KUMO_ID_TEXT_BYTES 160u

/* Appends the canonical encoding of msg to out (growing it through kumo_alloc).
 * KUMO_EINVAL (detail names the field) if msg breaks a rule unpack enforces (invalid UTF-8,
 * unnamed enum value, unknown fields, NULL repeated element or oneof member), so whatever is
 * packed also unpacks; KUMO_ELIMIT if out's cap_max would be exceeded; KUMO_ENOMEM. On failure
 * out is unchanged. */
KUMO_MUST_USE int
kumo_codec_pack(const ProtobufCMessage *msg, kumo_buf_t *out, kumo_err_ctx_t *err);

/* Decodes in (at most bytes_max bytes, else KUMO_ELIMIT) as desc. KUMO_EDECODE if malformed,
 * non-canonical (re-encoding gives different bytes: fields out of order or repeated, default
 * values written out, non-minimal varints, bools other than 0/1, ...), carrying unknown fields
 * at any depth, an enum value the schema does not name, or a string that is not UTF-8 or holds
 * a NUL. KUMO_ENOMEM if an allocation fails. On success *out owns the message, freed with
 * kumo_codec_free; on failure *out is NULL and nothing is left allocated. Allocates through
 * kumo_alloc. */
KUMO_MUST_USE int kumo_codec_unpack(const ProtobufCMessageDescriptor *desc,
                                    kumo_bytes_t in,
                                    size_t bytes_max,
                                    ProtobufCMessage **out,
                                    kumo_err_ctx_t *err);
/* Frees a message from kumo_codec_unpack or kumo_codec_json_to_message. NULL is a no-op. */
void kumo_codec_free(ProtobufCMessage *msg);

/* The protobuf-c allocator backed by kumo_alloc (for protobuf_c_message_unpack callers and
 * protobuf_c_message_free_unpacked). Never modify it. */
ProtobufCAllocator *kumo_codec_allocator(void);

/* Appends v as a protobuf base-128 varint (minimal, 1..10 bytes). KUMO_ELIMIT past out's cap. */
KUMO_MUST_USE int kumo_codec_varint_append(kumo_buf_t *out, uint64_t v);

/* ---- patching stored encodings (wire.c) ---- */

/* Reads top-level varint fields 1..15 of a protobuf encoding without decoding it: vals[n] gets
 * field n (0 when absent). KUMO_ECORRUPT when malformed. */
#define KUMO_CODEC_WIRE_FIELD_MAX 15u
KUMO_MUST_USE int kumo_codec_wire_varints(kumo_bytes_t val,
                                          uint64_t vals[KUMO_CODEC_WIRE_FIELD_MAX + 1],
                                          kumo_err_ctx_t *err);
/* Like kumo_codec_wire_varints; *present gets bit n set for each field n (any wire type). */
KUMO_MUST_USE int kumo_codec_wire_read(kumo_bytes_t val,
                                       uint64_t vals[KUMO_CODEC_WIRE_FIELD_MAX + 1],
                                       uint32_t *present,
                                       kumo_err_ctx_t *err);
/* Writes to out (reset first) the canonical encoding `in` with the top-level varint fields
 * fields[i] (ascending) set to values[i] (a zero value removes the field, as proto3 does).
 * Keeps canonical form: in must list its fields in ascending order, as protobuf-c packs them.
 * Lets hot paths change a counter or a balance without decoding a whole object. */
KUMO_MUST_USE int kumo_codec_wire_set(kumo_bytes_t in,
                                      const uint32_t *fields,
                                      const uint64_t *values,
                                      size_t count,
                                      kumo_buf_t *out,
                                      kumo_err_ctx_t *err);

/* True when an encoding starts with field 1 holding exactly addr (accounts and providers
 * are keyed by that field, and protobuf-c packs it first): a cheap check that patched bytes
 * belong to their key. */
bool kumo_codec_wire_starts_with_addr(kumo_bytes_t val, const uint8_t *addr);

/* Generic bech32 (BIP-173, checksum constant 1). hrp must be 1..83 lower-case printable
 * characters (else KUMO_EINVAL); data is 8-bit bytes; the text must stay within 90 characters
 * (else KUMO_ELIMIT). out must hold the text and its NUL (else KUMO_EINVAL). */
KUMO_MUST_USE int kumo_codec_bech32_encode(
    const char *hrp, kumo_bytes_t data, char *out, size_t out_cap, kumo_err_ctx_t *err);
/* Decodes text (lower or upper case, not mixed, at most 90 chars) into hrp_out (lower case,
 * NUL-terminated) and data_out (8-bit bytes); *data_len_out is set. KUMO_EDECODE for any text
 * BIP-173 rejects (length, case, characters, checksum, padding); KUMO_ELIMIT when the hrp or
 * the data does not fit hrp_cap/data_cap. Outputs are unused on failure. */
KUMO_MUST_USE int kumo_codec_bech32_decode(const char *text,
                                           char *hrp_out,
                                           size_t hrp_cap,
                                           uint8_t *data_out,
                                           size_t data_cap,
                                           size_t *data_len_out,
                                           kumo_err_ctx_t *err);

/* 20-byte address <-> "kumo1..." (always 43 characters, lower case). Decode accepts an
 * all-upper-case text too; any unusable text (bad bech32, another hrp, another length) is
 * KUMO_EINVAL with the reason in the detail. */
void kumo_codec_address_encode(const uint8_t addr[KUMO_ADDRESS_BYTES],
                               char out[KUMO_ADDRESS_TEXT_BYTES]);
KUMO_MUST_USE int kumo_codec_address_decode(const char *text,
                                            uint8_t addr_out[KUMO_ADDRESS_BYTES],
                                            kumo_err_ctx_t *err);

/* Lower-case hex. encode needs out_cap >= 2*len+1 (else KUMO_EINVAL). decode accepts either
 * case and an even number of digits ("" is zero bytes): KUMO_EDECODE for an odd count or a
 * non-hex character, KUMO_ELIMIT for more than out_cap bytes. */
KUMO_MUST_USE int kumo_codec_hex_encode(kumo_bytes_t in, char *out, size_t out_cap);
KUMO_MUST_USE int kumo_codec_hex_decode(
    const char *text, uint8_t *out, size_t out_cap, size_t *out_len, kumo_err_ctx_t *err);

/* Text ids: "kumo1owner/dseq", "kumo1owner/dseq/gseq/oseq", ".../kumo1provider", numbers in
 * plain decimal. Format fails with KUMO_EINVAL only when an owner is not 20 bytes; provider and
 * owner pointers point at 20 bytes. */
KUMO_MUST_USE int kumo_codec_order_id_format(const Kumo__OrderId *id, char out[KUMO_ID_TEXT_BYTES]);
KUMO_MUST_USE int kumo_codec_lease_id_format(const Kumo__OrderId *order,
                                             const uint8_t *provider,
                                             char out[KUMO_ID_TEXT_BYTES]);
KUMO_MUST_USE int
kumo_codec_deployment_id_format(const uint8_t *owner, uint64_t dseq, char out[KUMO_ID_TEXT_BYTES]);

/* The inverses of the format functions. Strict, so one id has one text: exactly the right
 * number of '/'-separated parts, kumo addresses, decimal numbers without sign or leading zeros
 * (except "0"), dseq within uint64 and gseq/oseq within uint32, shorter than
 * KUMO_ID_TEXT_BYTES. Any violation is KUMO_EINVAL. Order ids are written to *id_out with
 * id_out->owner borrowing owner_out (20 bytes). Outputs are unused on failure. */
KUMO_MUST_USE int kumo_codec_deployment_id_parse(const char *text,
                                                 uint8_t owner_out[KUMO_ADDRESS_BYTES],
                                                 uint64_t *dseq_out,
                                                 kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_codec_order_id_parse(const char *text,
                                            uint8_t owner_out[KUMO_ADDRESS_BYTES],
                                            Kumo__OrderId *id_out,
                                            kumo_err_ctx_t *err);
KUMO_MUST_USE int kumo_codec_lease_id_parse(const char *text,
                                            uint8_t owner_out[KUMO_ADDRESS_BYTES],
                                            Kumo__OrderId *order_out,
                                            uint8_t provider_out[KUMO_ADDRESS_BYTES],
                                            kumo_err_ctx_t *err);

/* JSON rendering of any schema message. Rules: keys are the field names of the .proto, in
 * descriptor order (output is deterministic); uint64/int64 as decimal strings (JSON numbers
 * lose precision past 2^53); other integers as numbers; bools; enums by value name; 20-byte
 * bytes fields as bech32 addresses, other bytes as lower-case hex; nested messages as objects
 * (an unset message field as null); repeated as arrays; of a oneof only the set member appears;
 * default values are included. New reference, or NULL if jansson runs out of memory or msg
 * breaks a canonical rule (see kumo_codec_pack). */
json_t *kumo_codec_json_from_message(const ProtobufCMessage *msg);

/* The inverse: builds a message of desc from a JSON object. Missing keys keep their default;
 * uint64/int64 as a decimal string or an integer (uint64: non-negative); uint32/int32 as an
 * integer in range; bytes as a "kumo1..." address or hex; enums by name; messages as an object
 * or null (unset); at most one member of a oneof (never null). Unknown keys, wrong types, bad
 * numbers, bad hex or bech32, invalid UTF-8 or NUL in strings, arrays over
 * KUMO_GENESIS_ACCOUNT_COUNT_MAX elements, and nesting deeper than KUMO_JSON_DEPTH_MAX are
 * KUMO_EDECODE with the field path in the detail ("params.min_fee: expected unsigned
 * integer"); KUMO_ENOMEM. On success *out is freed with kumo_codec_free; on failure *out is
 * NULL and nothing is left allocated. Allocates through kumo_alloc. */
KUMO_MUST_USE int kumo_codec_json_to_message(const ProtobufCMessageDescriptor *desc,
                                             const json_t *json,
                                             ProtobufCMessage **out,
                                             kumo_err_ctx_t *err);

/* msg rendered by kumo_codec_json_from_message and dumped with JSON_PRESERVE_ORDER, indented
 * by 2 when pretty, else compact; for the CLI. Returns a string to release with free() (it
 * comes from jansson's allocator), or NULL as json_from_message does. */
char *kumo_codec_json_dumps(const ProtobufCMessage *msg, bool pretty);

/* From now on every block jansson frees in this process is zeroed first (its string copies,
 * the buffers json_dumps grows: a container's environment may hold opened secrets). Blocks
 * still come from malloc, so free() stays right for what json_dumps returns. Call once, at
 * the start of main, before any JSON exists and before threads start. */
void kumo_codec_json_wipe_on_free(void);

#endif
