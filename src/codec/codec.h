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
#define KUMO_ADDRESS_HRP "kumo"
/* Longest text id: address/dseq/gseq/oseq/address. */
#define KUMO_ID_TEXT_BYTES 160u

/* Appends the canonical encoding of msg to out. KUMO_ELIMIT if out's cap is exceeded. */
KUMO_MUST_USE int kumo_codec_pack(const ProtobufCMessage *msg, kumo_buf_t *out,
                                  kumo_err_ctx_t *err);

/* Decodes in (at most bytes_max bytes, else KUMO_ELIMIT) as desc; KUMO_EDECODE if malformed,
 * non-canonical or carrying unknown fields. *out is freed with kumo_codec_free. Allocates
 * through kumo_alloc. */
KUMO_MUST_USE int kumo_codec_unpack(const ProtobufCMessageDescriptor *desc, kumo_bytes_t in,
                                    size_t bytes_max, ProtobufCMessage **out,
                                    kumo_err_ctx_t *err);
void kumo_codec_free(ProtobufCMessage *msg);

/* The protobuf-c allocator backed by kumo_alloc (for protobuf_c_message_unpack callers). */
ProtobufCAllocator *kumo_codec_allocator(void);

/* Generic bech32 (BIP-173). data is 8-bit bytes; out must hold the text and its NUL. */
KUMO_MUST_USE int kumo_codec_bech32_encode(const char *hrp, kumo_bytes_t data, char *out,
                                           size_t out_cap, kumo_err_ctx_t *err);
/* Decodes text (lower or upper case, not mixed, at most 90 chars) into hrp_out (NUL-terminated)
 * and data_out (8-bit bytes); *data_len_out is set. */
KUMO_MUST_USE int kumo_codec_bech32_decode(const char *text, char *hrp_out, size_t hrp_cap,
                                           uint8_t *data_out, size_t data_cap,
                                           size_t *data_len_out, kumo_err_ctx_t *err);

/* 20-byte address <-> "kumo1...". Decode rejects another hrp or length (KUMO_EINVAL). */
void kumo_codec_address_encode(const uint8_t addr[KUMO_ADDRESS_BYTES],
                               char out[KUMO_ADDRESS_TEXT_BYTES]);
KUMO_MUST_USE int kumo_codec_address_decode(const char *text, uint8_t addr_out[KUMO_ADDRESS_BYTES],
                                            kumo_err_ctx_t *err);

/* Lower-case hex. encode needs out_cap >= 2*len+1. decode accepts either case, even length. */
KUMO_MUST_USE int kumo_codec_hex_encode(kumo_bytes_t in, char *out, size_t out_cap);
KUMO_MUST_USE int kumo_codec_hex_decode(const char *text, uint8_t *out, size_t out_cap,
                                        size_t *out_len, kumo_err_ctx_t *err);

/* Text ids: "kumo1owner/dseq", "kumo1owner/dseq/gseq/oseq", ".../kumo1provider". */
KUMO_MUST_USE int kumo_codec_order_id_format(const Kumo__OrderId *id,
                                             char out[KUMO_ID_TEXT_BYTES]);
KUMO_MUST_USE int kumo_codec_lease_id_format(const Kumo__OrderId *order, const uint8_t *provider,
                                             char out[KUMO_ID_TEXT_BYTES]);
KUMO_MUST_USE int kumo_codec_deployment_id_format(const uint8_t *owner, uint64_t dseq,
                                                  char out[KUMO_ID_TEXT_BYTES]);

/* JSON rendering of any schema message. Rules: field names as in the .proto; uint64/int64 as
 * decimal strings (JSON numbers lose precision past 2^53); other integers as numbers; bools;
 * enums by value name; 20-byte bytes fields as bech32 addresses, other bytes as hex; nested
 * messages as objects; repeated as arrays; default values are included. New reference. */
json_t *kumo_codec_json_from_message(const ProtobufCMessage *msg);

/* The inverse: builds a message of desc from JSON (uint64 as string or non-negative number;
 * bytes as "kumo1..." address or hex; enums by name). Unknown keys, wrong types, depth over
 * KUMO_JSON_DEPTH_MAX -> KUMO_EDECODE with the field path in the detail. Free with
 * kumo_codec_free. */
KUMO_MUST_USE int kumo_codec_json_to_message(const ProtobufCMessageDescriptor *desc,
                                             const json_t *json, ProtobufCMessage **out,
                                             kumo_err_ctx_t *err);

#endif
