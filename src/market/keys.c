/*
 * keys.c - the market's store keys (docs/design.md section 3): one prefix byte, then
 * big-endian fields so byte order is numeric order, addresses as 20 raw bytes. Owns no state.
 * Pure: no I/O.
 */
#include <string.h>

#include "market/market_int.h"

void kumo_market_key_init(kumo_market_key_t *k, uint8_t prefix)
{
    KUMO_ASSERT(k != NULL);
    k->bytes[0] = prefix;
    k->len = 1;
}

void kumo_market_key_put_raw(kumo_market_key_t *k, const uint8_t *p, size_t len)
{
    KUMO_ASSERT(k->len <= sizeof(k->bytes));
    KUMO_ASSERT(len <= sizeof(k->bytes) - k->len);
    memcpy(k->bytes + k->len, p, len);
    k->len += (uint32_t)len;
}

void kumo_market_key_put_u8(kumo_market_key_t *k, uint8_t v)
{
    kumo_market_key_put_raw(k, &v, 1);
}

void kumo_market_key_put_u32(kumo_market_key_t *k, uint32_t v)
{
    uint8_t b[4];
    kumo_be32_put(b, v);
    kumo_market_key_put_raw(k, b, sizeof(b));
}

void kumo_market_key_put_u64(kumo_market_key_t *k, uint64_t v)
{
    uint8_t b[8];
    kumo_be64_put(b, v);
    kumo_market_key_put_raw(k, b, sizeof(b));
}

void kumo_market_key_put_addr(kumo_market_key_t *k, const uint8_t *addr)
{
    KUMO_ASSERT(addr != NULL);
    kumo_market_key_put_raw(k, addr, KUMO_ADDRESS_BYTES);
}

void kumo_market_key_put_order_body(kumo_market_key_t *k, const kumo_market_oid_t *oid)
{
    uint32_t start = k->len;
    kumo_market_key_put_addr(k, oid->owner);
    kumo_market_key_put_u64(k, oid->dseq);
    kumo_market_key_put_u32(k, oid->gseq);
    kumo_market_key_put_u32(k, oid->oseq);
    KUMO_ASSERT(k->len - start == KUMO_MARKET_ORDER_BODY_BYTES);
}

void kumo_market_key_account(kumo_market_key_t *k, const uint8_t *addr)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_ACCOUNT);
    kumo_market_key_put_addr(k, addr);
}

void kumo_market_key_provider(kumo_market_key_t *k, const uint8_t *addr)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_PROVIDER);
    kumo_market_key_put_addr(k, addr);
}

void kumo_market_key_validator(kumo_market_key_t *k, const uint8_t *addr)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_VALIDATOR);
    kumo_market_key_put_addr(k, addr);
}

void kumo_market_key_params(kumo_market_key_t *k)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_PARAMS);
}

void kumo_market_key_global(kumo_market_key_t *k)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_GLOBAL);
}

void kumo_market_key_deployment(kumo_market_key_t *k, const uint8_t *owner, uint64_t dseq)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_DEPLOYMENT);
    kumo_market_key_put_addr(k, owner);
    kumo_market_key_put_u64(k, dseq);
}

void kumo_market_key_group(kumo_market_key_t *k, const uint8_t *owner, uint64_t dseq, uint32_t gseq)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_GROUP);
    kumo_market_key_put_addr(k, owner);
    kumo_market_key_put_u64(k, dseq);
    kumo_market_key_put_u32(k, gseq);
}

void kumo_market_key_order(kumo_market_key_t *k, const kumo_market_oid_t *oid)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_ORDER);
    kumo_market_key_put_order_body(k, oid);
}

void kumo_market_key_fulfillment(kumo_market_key_t *k,
                                 const kumo_market_oid_t *oid,
                                 const uint8_t *provider)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_FULFILLMENT);
    kumo_market_key_put_order_body(k, oid);
    kumo_market_key_put_addr(k, provider);
}

void kumo_market_key_lease(kumo_market_key_t *k,
                           const kumo_market_oid_t *oid,
                           const uint8_t *provider)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_LEASE);
    kumo_market_key_put_order_body(k, oid);
    kumo_market_key_put_addr(k, provider);
}

void kumo_market_key_match(kumo_market_key_t *k,
                           uint64_t match_height,
                           const kumo_market_oid_t *oid)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_MATCH);
    kumo_market_key_put_u64(k, match_height);
    kumo_market_key_put_order_body(k, oid);
}

void kumo_market_key_stale(kumo_market_key_t *k,
                           uint64_t stale_height,
                           const kumo_market_oid_t *oid,
                           const uint8_t *provider)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_STALE);
    kumo_market_key_put_u64(k, stale_height);
    kumo_market_key_put_order_body(k, oid);
    kumo_market_key_put_addr(k, provider);
}

void kumo_market_key_closing(kumo_market_key_t *k,
                             uint64_t due_height,
                             const uint8_t *owner,
                             uint64_t dseq)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_CLOSING);
    kumo_market_key_put_u64(k, due_height);
    kumo_market_key_put_addr(k, owner);
    kumo_market_key_put_u64(k, dseq);
}

void kumo_market_key_lease_by_provider(kumo_market_key_t *k,
                                       const uint8_t *provider,
                                       const kumo_market_oid_t *oid)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_LEASE_BY_PROV);
    kumo_market_key_put_addr(k, provider);
    kumo_market_key_put_order_body(k, oid);
}

void kumo_market_key_bid_by_provider(kumo_market_key_t *k,
                                     const uint8_t *provider,
                                     const kumo_market_oid_t *oid)
{
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_BID_BY_PROV);
    kumo_market_key_put_addr(k, provider);
    kumo_market_key_put_order_body(k, oid);
}

void kumo_market_key_state(kumo_market_key_t *k, uint32_t state, const kumo_market_key_t *obj)
{
    /* States are small enum values; one byte keeps the index compact. */
    KUMO_ASSERT(state > 0 && state <= UINT8_MAX);
    KUMO_ASSERT(obj->len > 1);
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_STATE);
    kumo_market_key_put_u8(k, (uint8_t)state);
    kumo_market_key_put_raw(k, obj->bytes, obj->len);
}

void kumo_market_key_state_dep_prefix(
    kumo_market_key_t *k, uint32_t state, uint8_t obj_prefix, const uint8_t *owner, uint64_t dseq)
{
    KUMO_ASSERT(state > 0 && state <= UINT8_MAX);
    kumo_market_key_init(k, KUMO_MARKET_PREFIX_STATE);
    kumo_market_key_put_u8(k, (uint8_t)state);
    kumo_market_key_put_u8(k, obj_prefix);
    kumo_market_key_put_addr(k, owner);
    kumo_market_key_put_u64(k, dseq);
}

void kumo_market_oid_from_body(const uint8_t *body, kumo_market_oid_t *oid)
{
    KUMO_ASSERT(body != NULL && oid != NULL);
    memcpy(oid->owner, body, KUMO_ADDRESS_BYTES);
    oid->dseq = kumo_be64_get(body + KUMO_ADDRESS_BYTES);
    oid->gseq = kumo_be32_get(body + KUMO_MARKET_DEP_BODY_BYTES);
    oid->oseq = kumo_be32_get(body + KUMO_MARKET_GROUP_BODY_BYTES);
}

void kumo_market_oid_from_msg(const Kumo__OrderId *id, kumo_market_oid_t *oid)
{
    KUMO_ASSERT(id != NULL && oid != NULL);
    KUMO_ASSERT(id->owner.len == KUMO_ADDRESS_BYTES && id->owner.data != NULL);
    memcpy(oid->owner, id->owner.data, KUMO_ADDRESS_BYTES);
    oid->dseq = id->dseq;
    oid->gseq = id->gseq;
    oid->oseq = id->oseq;
}

void kumo_market_oid_to_msg(const kumo_market_oid_t *oid, Kumo__OrderId *out)
{
    KUMO_ASSERT(oid != NULL && out != NULL);
    Kumo__OrderId init = KUMO__ORDER_ID__INIT;
    *out = init;
    /* protobuf-c's field is not const; the view is only read (packed or printed). */
    out->owner.data = (uint8_t *)(uintptr_t)oid->owner;
    out->owner.len = KUMO_ADDRESS_BYTES;
    out->dseq = oid->dseq;
    out->gseq = oid->gseq;
    out->oseq = oid->oseq;
}

bool kumo_market_oid_equal(const kumo_market_oid_t *a, const kumo_market_oid_t *b)
{
    return memcmp(a->owner, b->owner, KUMO_ADDRESS_BYTES) == 0 && a->dseq == b->dseq &&
           a->gseq == b->gseq && a->oseq == b->oseq;
}
