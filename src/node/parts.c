/*
 * parts.c - consensus messages travel in parts: a message longer than the part size (a
 * proposal carrying a big block) is sent as parts of at most that size, so votes interleave
 * with a proposal on the wire instead of waiting behind megabytes, and each frame stays
 * small. Part: u8 0xff || 32 SHA-256 of the whole message || u32 total length || u32 offset ||
 * bytes. A receiver keeps a few messages being assembled (the oldest is evicted) and hands a
 * message to consensus only when every part arrived and its hash matches. Not pure.
 */
#include <stdlib.h>
#include <string.h>

#include "node/cons_int.h"

#define PART_TAG  0xffu
#define PART_HEAD (1u + KUMO_CRYPTO_HASH_BYTES + 4u + 4u)

size_t node_parts_size(void)
{
    size_t size = NODE_PARTS_BYTES;
#ifdef KUMO_TEST_HOOKS
    /* Test builds can make every proposal travel in many parts. */
    const char *env = getenv("KUMO_TEST_PART_BYTES");
    unsigned long v = env != NULL ? strtoul(env, NULL, 10) : 0;
    if (v >= 64 && v <= NODE_PARTS_BYTES) {
        size = (size_t)v;
    }
#endif
    return size;
}

/* Calls out for each frame of msg (the message itself when it fits one part). */
void node_parts_split(kumo_bytes_t msg, void (*out)(void *ctx, kumo_bytes_t frame), void *ctx)
{
    size_t part = node_parts_size();
    if (msg.len <= part) {
        out(ctx, msg);
        return;
    }
    uint8_t *frame = kumo_calloc(PART_HEAD + part, 1);
    if (frame == NULL) {
        return; /* the engine rebroadcasts */
    }
    frame[0] = PART_TAG;
    kumo_crypto_sha256(msg, frame + 1);
    kumo_be32_put(frame + 1 + KUMO_CRYPTO_HASH_BYTES, (uint32_t)msg.len);
    for (size_t off = 0; off < msg.len; off += part) {
        size_t n = msg.len - off < part ? msg.len - off : part;
        kumo_be32_put(frame + 1 + KUMO_CRYPTO_HASH_BYTES + 4, (uint32_t)off);
        memcpy(frame + PART_HEAD, msg.ptr + off, n);
        out(ctx, kumo_bytes_make(frame, PART_HEAD + n));
    }
    kumo_free(frame);
}

static node_parts_slot_t *parts_slot(node_cons_t *nc, const uint8_t *hash, uint32_t total)
{
    node_parts_slot_t *oldest = &nc->parts[0];
    for (uint32_t i = 0; i < NODE_PARTS_SLOTS; i++) {
        node_parts_slot_t *s = &nc->parts[i];
        if (s->buf != NULL && memcmp(s->hash, hash, KUMO_CRYPTO_HASH_BYTES) == 0) {
            return s->total == total ? s : NULL;
        }
        if (s->buf == NULL || s->stamp < oldest->stamp) {
            oldest = s;
        }
    }
    kumo_free(oldest->buf);
    memset(oldest, 0, sizeof(*oldest));
    oldest->buf = kumo_calloc(total, 1);
    oldest->seen = kumo_calloc(total / node_parts_size() + 1u, 1);
    if (oldest->buf == NULL || oldest->seen == NULL) {
        kumo_free(oldest->buf);
        kumo_free(oldest->seen);
        memset(oldest, 0, sizeof(*oldest));
        return NULL;
    }
    memcpy(oldest->hash, hash, KUMO_CRYPTO_HASH_BYTES);
    oldest->total = total;
    oldest->stamp = ++nc->parts_stamp;
    return oldest;
}

void node_parts_free(node_cons_t *nc)
{
    for (uint32_t i = 0; i < NODE_PARTS_SLOTS; i++) {
        kumo_free(nc->parts[i].buf);
        kumo_free(nc->parts[i].seen);
        memset(&nc->parts[i], 0, sizeof(nc->parts[i]));
    }
}

int node_parts_recv(node_cons_t *nc, kumo_bytes_t frame, kumo_buf_t *whole, kumo_err_ctx_t *err)
{
    size_t part = node_parts_size();
    KUMO_ENSURE(frame.len > PART_HEAD && frame.ptr[0] == PART_TAG, err, KUMO_EDECODE,
                "consensus part: short");
    const uint8_t *hash = frame.ptr + 1;
    uint32_t total = kumo_be32_get(frame.ptr + 1 + KUMO_CRYPTO_HASH_BYTES);
    uint32_t off = kumo_be32_get(frame.ptr + 1 + KUMO_CRYPTO_HASH_BYTES + 4);
    size_t n = frame.len - PART_HEAD;
    KUMO_ENSURE(total > part && total <= KUMO_CONSENSUS_MSG_BYTES_MAX && off % part == 0 &&
                    off < total && n == (total - off < part ? total - off : part),
                err, KUMO_EDECODE, "consensus part: bad offset or length");
    node_parts_slot_t *s = parts_slot(nc, hash, total);
    KUMO_ENSURE(s != NULL, err, KUMO_EDECODE, "consensus part: conflicting length");
    size_t index = off / part;
    if (s->seen[index] == 0) {
        memcpy(s->buf + off, frame.ptr + PART_HEAD, n);
        s->seen[index] = 1;
        s->have += (uint32_t)n; /* n <= part <= total */
    }
    if (s->have < s->total) {
        return 0; /* more to come */
    }
    uint8_t check[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(s->buf, s->total), check);
    int rc = memcmp(check, s->hash, sizeof(check)) == 0
                 ? kumo_buf_append(whole, s->buf, s->total)
                 : kumo_err_set(err, KUMO_EDECODE, "consensus parts do not hash to the message");
    kumo_free(s->buf);
    kumo_free(s->seen);
    memset(s, 0, sizeof(*s));
    return rc;
}
