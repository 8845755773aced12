/*
 * id.c - text ids of deployments, orders and leases:
 *   "<owner bech32>/<dseq>"                                  deployment (and its groups' owner)
 *   "<owner bech32>/<dseq>/<gseq>/<oseq>"                    order
 *   "<owner bech32>/<dseq>/<gseq>/<oseq>/<provider bech32>"  lease (and fulfillment)
 * Numbers are plain decimal. Parsing is strict so one id has one text: no sign, no leading
 * zeros except "0" itself, no overflow, nothing after the last part. Pure: no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec_int.h"

int kumo_codec_deployment_id_format(const uint8_t *owner,
                                    uint64_t dseq,
                                    char out[KUMO_ID_TEXT_BYTES])
{
    KUMO_ASSERT(owner != NULL && out != NULL);
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(owner, owner_text);
    int n = snprintf(out, KUMO_ID_TEXT_BYTES, "%s/%" PRIu64, owner_text, dseq);
    /* 43 + 1 + 20 characters always fit. */
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_ID_TEXT_BYTES);
    return 0;
}

int kumo_codec_order_id_format(const Kumo__OrderId *id, char out[KUMO_ID_TEXT_BYTES])
{
    KUMO_ASSERT(id != NULL && out != NULL);
    if (id->owner.len != KUMO_ADDRESS_BYTES || id->owner.data == NULL) {
        return KUMO_EINVAL;
    }
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(id->owner.data, owner_text);
    int n = snprintf(out, KUMO_ID_TEXT_BYTES, "%s/%" PRIu64 "/%" PRIu32 "/%" PRIu32, owner_text,
                     id->dseq, id->gseq, id->oseq);
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_ID_TEXT_BYTES);
    return 0;
}

int kumo_codec_lease_id_format(const Kumo__OrderId *order,
                               const uint8_t *provider,
                               char out[KUMO_ID_TEXT_BYTES])
{
    KUMO_ASSERT(order != NULL && provider != NULL && out != NULL);
    char order_text[KUMO_ID_TEXT_BYTES];
    KUMO_GUARD(kumo_codec_order_id_format(order, order_text));
    char provider_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(provider, provider_text);
    int n = snprintf(out, KUMO_ID_TEXT_BYTES, "%s/%s", order_text, provider_text);
    /* Longest: 43 + 1 + 20 + 1 + 10 + 1 + 10 + 1 + 43 = 130 characters. */
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_ID_TEXT_BYTES);
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* The text split at '/' into at most 5 parts. */
typedef struct id_parts {
    char text[KUMO_ID_TEXT_BYTES];
    const char *part[5];
    size_t count;
} id_parts_t;

static int id_split(const char *text, id_parts_t *parts, kumo_err_ctx_t *err)
{
    size_t len = strnlen(text, KUMO_ID_TEXT_BYTES);
    KUMO_ENSURE(len < KUMO_ID_TEXT_BYTES, err, KUMO_EINVAL, "id: longer than %u characters",
                KUMO_ID_TEXT_BYTES - 1);
    memcpy(parts->text, text, len + 1);
    parts->count = 0;
    char *start = parts->text;
    for (;;) {
        KUMO_ENSURE(parts->count < KUMO_ARRAY_COUNT(parts->part), err, KUMO_EINVAL,
                    "id: too many '/'-separated parts");
        parts->part[parts->count++] = start;
        char *slash = strchr(start, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
        start = slash + 1;
    }
    KUMO_ASSERT(parts->count >= 1 && parts->count <= 5);
    return 0;
}

/* Strict decimal (see codec_decimal_parse), at most max. */
static int id_parse_decimal(
    const char *text, uint64_t max, const char *what, uint64_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(codec_decimal_parse(text, strlen(text), max, out), err, KUMO_EINVAL,
                "id: %s is not a decimal number of at most %" PRIu64
                " without sign or leading zeros",
                what, max);
    return 0;
}

static int id_parse_address(const char *text,
                            const char *what,
                            uint8_t out[KUMO_ADDRESS_BYTES],
                            kumo_err_ctx_t *err)
{
    int rc = kumo_codec_address_decode(text, out, err);
    if (rc < 0) {
        return kumo_err_set(err, KUMO_EINVAL, "id: %s is not a kumo address", what);
    }
    return 0;
}

/* Parses parts[0..3] (owner/dseq/gseq/oseq) into id with owner stored in owner_out. */
static int id_parse_order_parts(const id_parts_t *parts,
                                uint8_t owner_out[KUMO_ADDRESS_BYTES],
                                Kumo__OrderId *id_out,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(parts->count >= 4);
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    uint64_t gseq = 0;
    uint64_t oseq = 0;
    KUMO_GUARD(id_parse_address(parts->part[0], "owner", owner, err));
    KUMO_GUARD(id_parse_decimal(parts->part[1], UINT64_MAX, "dseq", &dseq, err));
    KUMO_GUARD(id_parse_decimal(parts->part[2], UINT32_MAX, "gseq", &gseq, err));
    KUMO_GUARD(id_parse_decimal(parts->part[3], UINT32_MAX, "oseq", &oseq, err));
    memcpy(owner_out, owner, sizeof(owner));
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = owner_out;
    id.owner.len = KUMO_ADDRESS_BYTES;
    id.dseq = dseq;
    id.gseq = (uint32_t)gseq; /* range-checked against UINT32_MAX above */
    id.oseq = (uint32_t)oseq;
    *id_out = id;
    return 0;
}

int kumo_codec_deployment_id_parse(const char *text,
                                   uint8_t owner_out[KUMO_ADDRESS_BYTES],
                                   uint64_t *dseq_out,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && owner_out != NULL && dseq_out != NULL);
    id_parts_t parts;
    KUMO_GUARD(id_split(text, &parts, err));
    KUMO_ENSURE(parts.count == 2, err, KUMO_EINVAL, "id: a deployment id is owner/dseq");
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    KUMO_GUARD(id_parse_address(parts.part[0], "owner", owner, err));
    KUMO_GUARD(id_parse_decimal(parts.part[1], UINT64_MAX, "dseq", &dseq, err));
    memcpy(owner_out, owner, sizeof(owner));
    *dseq_out = dseq;
    return 0;
}

int kumo_codec_order_id_parse(const char *text,
                              uint8_t owner_out[KUMO_ADDRESS_BYTES],
                              Kumo__OrderId *id_out,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && owner_out != NULL && id_out != NULL);
    id_parts_t parts;
    KUMO_GUARD(id_split(text, &parts, err));
    KUMO_ENSURE(parts.count == 4, err, KUMO_EINVAL, "id: an order id is owner/dseq/gseq/oseq");
    return id_parse_order_parts(&parts, owner_out, id_out, err);
}

int kumo_codec_lease_id_parse(const char *text,
                              uint8_t owner_out[KUMO_ADDRESS_BYTES],
                              Kumo__OrderId *order_out,
                              uint8_t provider_out[KUMO_ADDRESS_BYTES],
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && owner_out != NULL && order_out != NULL);
    KUMO_ASSERT(provider_out != NULL);
    id_parts_t parts;
    KUMO_GUARD(id_split(text, &parts, err));
    KUMO_ENSURE(parts.count == 5, err, KUMO_EINVAL,
                "id: a lease id is owner/dseq/gseq/oseq/provider");
    uint8_t provider[KUMO_ADDRESS_BYTES];
    KUMO_GUARD(id_parse_address(parts.part[4], "provider", provider, err));
    KUMO_GUARD(id_parse_order_parts(&parts, owner_out, order_out, err));
    memcpy(provider_out, provider, sizeof(provider));
    return 0;
}
