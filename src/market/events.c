/*
 * events.c - builds Kumo__Event on the stack and hands it to the ctx's emit_cb (borrowed for
 * the call). Nothing is formatted when no callback is set, so event-less runs (benchmarks,
 * the facilitator's dry runs) pay nothing. Pure: no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "market/market_int.h"

#define EVENT_VALUE_BYTES 24u

const char *kumo_market_close_reason_name(Kumo__CloseReason reason)
{
    switch (reason) {
    case KUMO__CLOSE_REASON__CLOSE_REASON_NONE:
        return "none";
    case KUMO__CLOSE_REASON__CLOSE_REASON_TENANT:
        return "tenant";
    case KUMO__CLOSE_REASON__CLOSE_REASON_INSUFFICIENT_FUNDS:
        return "insufficient_funds";
    case KUMO__CLOSE_REASON__CLOSE_REASON_MANIFEST_REFUSED:
        return "manifest_refused";
    case KUMO__CLOSE_REASON__CLOSE_REASON_STALE:
        return "stale";
    case KUMO__CLOSE_REASON__CLOSE_REASON_GROUP_REMOVED:
        return "group_removed";
    case KUMO__CLOSE_REASON__CLOSE_REASON_REPLACED:
        return "replaced";
    case KUMO__CLOSE_REASON__CLOSE_REASON_PROVIDER_CLOSED:
        return "provider_closed";
    case _KUMO__CLOSE_REASON_IS_INT_SIZE:
    default:
        return "unknown";
    }
}

bool kumo_market_events_on(const kumo_market_st_t *st)
{
    return st->ctx != NULL && st->ctx->events.emit_cb != NULL;
}

static char *unconst_str(const char *s)
{
    /* protobuf-c fields are not const; the event is only read by the callback. */
    return (char *)(uintptr_t)s;
}

static uint8_t *unconst_bytes(const uint8_t *p)
{
    return (uint8_t *)(uintptr_t)p;
}

static int emit(kumo_market_st_t *st,
                const char *type,
                const uint8_t *owner,
                const uint8_t *provider,
                const char *id,
                const kumo_market_attr_t *attrs,
                size_t attr_count,
                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kumo_market_events_on(st));
    KUMO_ASSERT(attr_count <= KUMO_MARKET_EVENT_ATTR_COUNT_MAX);
    Kumo__Attribute attr[KUMO_MARKET_EVENT_ATTR_COUNT_MAX];
    Kumo__Attribute *attr_ptrs[KUMO_MARKET_EVENT_ATTR_COUNT_MAX];
    char values[KUMO_MARKET_EVENT_ATTR_COUNT_MAX][EVENT_VALUE_BYTES];
    for (size_t i = 0; i < attr_count; i++) {
        Kumo__Attribute init = KUMO__ATTRIBUTE__INIT;
        attr[i] = init;
        attr[i].key = unconst_str(attrs[i].key);
        if (attrs[i].text != NULL) {
            attr[i].value = unconst_str(attrs[i].text);
        } else {
            int n = snprintf(values[i], sizeof(values[i]), "%" PRIu64, attrs[i].value);
            KUMO_ASSERT(n > 0 && (size_t)n < sizeof(values[i]));
            attr[i].value = values[i];
        }
        attr_ptrs[i] = &attr[i];
    }
    Kumo__Event ev = KUMO__EVENT__INIT;
    ev.type = unconst_str(type);
    ev.height = st->height;
    ev.tx_index = st->ctx->tx_index;
    ev.msg_index = st->ctx->msg_index;
    if (owner != NULL) {
        ev.owner.data = unconst_bytes(owner);
        ev.owner.len = KUMO_ADDRESS_BYTES;
    }
    if (provider != NULL) {
        ev.provider.data = unconst_bytes(provider);
        ev.provider.len = KUMO_ADDRESS_BYTES;
    }
    ev.id = unconst_str(id);
    ev.n_attrs = attr_count;
    ev.attrs = attr_count > 0 ? attr_ptrs : NULL;
    return st->ctx->events.emit_cb(st->ctx->events.ctx, &ev, err);
}

/* The bech32 text of addr, from the msg's small cache when it was formatted before. */
static const char *addr_text(kumo_market_st_t *st, const uint8_t *addr)
{
    for (size_t i = 0; i < KUMO_MARKET_ADDR_CACHE_COUNT; i++) {
        kumo_market_addr_text_t *c = &st->addr_cache[i];
        if (c->used && memcmp(c->addr, addr, KUMO_ADDRESS_BYTES) == 0) {
            return c->text;
        }
    }
    kumo_market_addr_text_t *c =
        &st->addr_cache[st->addr_cache_next++ % KUMO_MARKET_ADDR_CACHE_COUNT];
    c->used = true;
    memcpy(c->addr, addr, KUMO_ADDRESS_BYTES);
    kumo_codec_address_encode(addr, c->text);
    return c->text;
}

/* Text ids, in the codec's format (src/codec/id.c): "owner/dseq[/gseq[/oseq[/provider]]]". */
static void id_check(int n)
{
    /* Two addresses of 43 characters and three decimal numbers always fit. */
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_ID_TEXT_BYTES);
}

int kumo_market_emit_account(kumo_market_st_t *st,
                             const char *type,
                             const uint8_t *addr,
                             const kumo_market_attr_t *attrs,
                             size_t attr_count,
                             kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    return emit(st, type, addr, NULL, addr_text(st, addr), attrs, attr_count, err);
}

int kumo_market_emit_provider(kumo_market_st_t *st,
                              const char *type,
                              const uint8_t *provider,
                              const kumo_market_attr_t *attrs,
                              size_t attr_count,
                              kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    return emit(st, type, NULL, provider, addr_text(st, provider), attrs, attr_count, err);
}

int kumo_market_emit_deployment(kumo_market_st_t *st,
                                const char *type,
                                const uint8_t *owner,
                                uint64_t dseq,
                                const kumo_market_attr_t *attrs,
                                size_t attr_count,
                                kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char id[KUMO_ID_TEXT_BYTES];
    id_check(snprintf(id, sizeof(id), "%s/%" PRIu64, addr_text(st, owner), dseq));
    return emit(st, type, owner, NULL, id, attrs, attr_count, err);
}

int kumo_market_emit_group(kumo_market_st_t *st,
                           const char *type,
                           const uint8_t *owner,
                           uint64_t dseq,
                           uint32_t gseq,
                           const kumo_market_attr_t *attrs,
                           size_t attr_count,
                           kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char id[KUMO_ID_TEXT_BYTES];
    id_check(snprintf(id, sizeof(id), "%s/%" PRIu64 "/%" PRIu32, addr_text(st, owner), dseq, gseq));
    return emit(st, type, owner, NULL, id, attrs, attr_count, err);
}

int kumo_market_emit_order(kumo_market_st_t *st,
                           const char *type,
                           const kumo_market_oid_t *oid,
                           const kumo_market_attr_t *attrs,
                           size_t attr_count,
                           kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char id[KUMO_ID_TEXT_BYTES];
    id_check(snprintf(id, sizeof(id), "%s/%" PRIu64 "/%" PRIu32 "/%" PRIu32,
                      addr_text(st, oid->owner), oid->dseq, oid->gseq, oid->oseq));
    return emit(st, type, oid->owner, NULL, id, attrs, attr_count, err);
}

int kumo_market_emit_bid(kumo_market_st_t *st,
                         const char *type,
                         const kumo_market_oid_t *oid,
                         const uint8_t *provider,
                         const kumo_market_attr_t *attrs,
                         size_t attr_count,
                         kumo_err_ctx_t *err)
{
    if (!kumo_market_events_on(st)) {
        return 0;
    }
    char id[KUMO_ID_TEXT_BYTES];
    /* Copied: formatting the provider may reuse the cache slot of the owner. */
    char owner_text[KUMO_ADDRESS_TEXT_BYTES];
    memcpy(owner_text, addr_text(st, oid->owner), sizeof(owner_text));
    const char *provider_text = addr_text(st, provider);
    id_check(snprintf(id, sizeof(id), "%s/%" PRIu64 "/%" PRIu32 "/%" PRIu32 "/%s", owner_text,
                      oid->dseq, oid->gseq, oid->oseq, provider_text));
    return emit(st, type, oid->owner, provider, id, attrs, attr_count, err);
}
