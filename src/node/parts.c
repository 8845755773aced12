/*
 * parts.c - consensus messages travel in parts: a message longer than the part size (a
 * proposal carrying a big block) is sent as parts of at most that size, so votes interleave
 * with a proposal on the wire instead of waiting behind megabytes, and each frame stays small.
 *
 * Parts are tied to the signed proposal, so that no peer can evict or poison what an honest
 * validator sends (Tendermint's PartSetHeader, with the sender vouching for the root):
 * - The sender first sends a header: the proposal's signed fields (height, round, pol_round,
 *   proposer key, value id, signature; not the value), the message length, the part size and
 *   the Merkle root of the parts. Header: u8 0xfe || u64 height || u32 round || u32 pol_round
 *   || 32 proposer pubkey || 32 value id || 64 signature || u32 total bytes || u32 part bytes
 *   || 32 root.
 * - Then every part with its Merkle proof: u8 0xff || 32 root || u32 index || u8 proof count
 *   || proof hashes (32 each, leaf to root) || bytes. Leaves and inner nodes hash as in
 *   kumo_crypto_merkle_root (SHA-256 of 0x00 || part, of 0x01 || left || right; levels pair
 *   from the left and an odd last node moves up unchanged).
 * A receiver opens a slot only for a header that a validator sent over its own authenticated
 * connection, for the current or next height, naming a proposal a validator signed; each
 * sending validator has at most NODE_PARTS_SENDER_SLOTS slots and a new header replaces only
 * its own oldest. A part is stored only if its proof checks against an open slot's root, so a
 * bad part is blamed on the peer that sent it and never touches the slot; a part naming no
 * open root is dropped (the proposer rebroadcasts header and parts). A completed message must
 * be the proposal its header named, or the header's sender is blamed. Not pure (test builds
 * read the part size from the environment); loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "node/cons_int.h"

#define PARTS_HASH_BYTES KUMO_CRYPTO_HASH_BYTES
#define PARTS_HEADER_BYTES                                                                     \
    (1u + 8u + 4u + 4u + KUMO_CRYPTO_PUBKEY_BYTES + PARTS_HASH_BYTES + KUMO_CRYPTO_SIG_BYTES + \
     4u + 4u + PARTS_HASH_BYTES)
#define PARTS_PART_HEAD_BYTES    (1u + PARTS_HASH_BYTES + 4u + 1u)
#define PARTS_TREE_HASHES(count) (2u * (size_t)(count) + NODE_PARTS_PROOF_COUNT_MAX)

size_t node_parts_size(void)
{
    size_t size = NODE_PARTS_BYTES;
#ifdef KUMO_TEST_HOOKS
    /* Test builds can make every proposal travel in many parts. */
    const char *env = getenv("KUMO_TEST_PART_BYTES");
    unsigned long v = env != NULL ? strtoul(env, NULL, 10) : 0;
    if (v >= NODE_PARTS_BYTES_MIN && v <= NODE_PARTS_BYTES) {
        size = (size_t)v;
    }
#endif
    return size;
}

/* ---- the Merkle tree over parts ---- */

static uint32_t parts_level_up(uint32_t n)
{
    return n / 2u + n % 2u;
}

/* Hashes on the path of leaf index in a tree of count leaves (the odd last node of a level
 * has no sibling there). */
static uint32_t parts_proof_count(uint32_t index, uint32_t count)
{
    KUMO_ASSERT(index < count);
    uint32_t hashes = 0;
    for (uint32_t n = count; n > 1u; n = parts_level_up(n)) {
        hashes += (index ^ 1u) < n ? 1u : 0u;
        index /= 2u;
    }
    return hashes;
}

/* The root implied by leaf at index and its proof (proof_count hashes, leaf to root). */
static void parts_root_from_proof(const uint8_t leaf[PARTS_HASH_BYTES],
                                  uint32_t index,
                                  uint32_t count,
                                  const uint8_t *proof,
                                  uint8_t root_out[PARTS_HASH_BYTES])
{
    KUMO_ASSERT(index < count);
    memcpy(root_out, leaf, PARTS_HASH_BYTES);
    for (uint32_t n = count; n > 1u; n = parts_level_up(n)) {
        if ((index & 1u) == 1u) {
            kumo_crypto_merkle_node_hash(proof, root_out, root_out);
            proof += PARTS_HASH_BYTES;
        } else if (index + 1u < n) {
            kumo_crypto_merkle_node_hash(root_out, proof, root_out);
            proof += PARTS_HASH_BYTES;
        }
        index /= 2u;
    }
}

/* Every level of the tree over a message's parts, leaves first, in one array of at most
 * PARTS_TREE_HASHES(count) (a level of n nodes has ceil(n / 2) above it); level_at[l] is where
 * level l starts, the root is the last hash. */
typedef struct parts_tree {
    uint8_t (*hash)[PARTS_HASH_BYTES];
    uint32_t level_at[NODE_PARTS_PROOF_COUNT_MAX + 1u];
    uint32_t levels;
    uint32_t count;
    const uint8_t *root;
} parts_tree_t;

static void parts_tree_build(kumo_bytes_t msg, size_t part_bytes, parts_tree_t *t)
{
    KUMO_ASSERT(t->hash != NULL && t->count >= 2u);
    for (uint32_t i = 0; i < t->count; i++) {
        size_t off = (size_t)i * part_bytes;
        size_t n = msg.len - off < part_bytes ? msg.len - off : part_bytes;
        kumo_crypto_merkle_leaf_hash(kumo_bytes_make(msg.ptr + off, n), t->hash[i]);
    }
    uint32_t at = 0;
    t->levels = 1;
    t->level_at[0] = 0;
    for (uint32_t n = t->count; n > 1u; n = parts_level_up(n)) {
        KUMO_ASSERT(t->levels <= NODE_PARTS_PROOF_COUNT_MAX);
        uint32_t next = at + n;
        for (uint32_t j = 0; j < n; j += 2u) {
            if (j + 1u < n) {
                kumo_crypto_merkle_node_hash(t->hash[at + j], t->hash[at + j + 1u],
                                             t->hash[next + j / 2u]);
            } else {
                memcpy(t->hash[next + j / 2u], t->hash[at + j], PARTS_HASH_BYTES);
            }
        }
        at = next;
        t->level_at[t->levels++] = at;
    }
    KUMO_ASSERT(at < PARTS_TREE_HASHES(t->count));
    t->root = t->hash[at];
}

/* ---- sending ---- */

static int parts_header_encode(const kumo_consensus_msg_t *m,
                               uint32_t total_bytes,
                               uint32_t part_bytes,
                               const uint8_t root[PARTS_HASH_BYTES],
                               uint8_t out[PARTS_HEADER_BYTES])
{
    kumo_writer_t w;
    kumo_writer_init(&w, out, PARTS_HEADER_BYTES);
    KUMO_GUARD(kumo_writer_write_u8(&w, NODE_PARTS_TAG_HEADER));
    KUMO_GUARD(kumo_writer_write_u64(&w, m->height));
    KUMO_GUARD(kumo_writer_write_u32(&w, m->round));
    KUMO_GUARD(kumo_writer_write_u32(&w, m->pol_round));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(m->pubkey, KUMO_CRYPTO_PUBKEY_BYTES)));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(m->value_id, PARTS_HASH_BYTES)));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(m->sig, KUMO_CRYPTO_SIG_BYTES)));
    KUMO_GUARD(kumo_writer_write_u32(&w, total_bytes));
    KUMO_GUARD(kumo_writer_write_u32(&w, part_bytes));
    KUMO_GUARD(kumo_writer_write_bytes(&w, kumo_bytes_make(root, PARTS_HASH_BYTES)));
    KUMO_ASSERT(kumo_writer_bytes(&w).len == PARTS_HEADER_BYTES);
    return 0;
}

/* Part index of msg with its proof, into frame (PART_HEAD + proof + part_bytes). */
static size_t parts_part_encode(
    kumo_bytes_t msg, size_t part_bytes, const parts_tree_t *t, uint32_t index, uint8_t *frame)
{
    size_t off = (size_t)index * part_bytes;
    size_t n = msg.len - off < part_bytes ? msg.len - off : part_bytes;
    uint32_t proof_count = parts_proof_count(index, t->count);
    frame[0] = NODE_PARTS_TAG_PART;
    memcpy(frame + 1, t->root, PARTS_HASH_BYTES);
    kumo_be32_put(frame + 1 + PARTS_HASH_BYTES, index);
    frame[1 + PARTS_HASH_BYTES + 4] = (uint8_t)proof_count; /* <= PROOF_COUNT_MAX */
    size_t pos = PARTS_PART_HEAD_BYTES;
    uint32_t i = index;
    uint32_t level = 0;
    for (uint32_t w = t->count; w > 1u; w = parts_level_up(w)) {
        if ((i ^ 1u) < w) {
            memcpy(frame + pos, t->hash[t->level_at[level] + (i ^ 1u)], PARTS_HASH_BYTES);
            pos += PARTS_HASH_BYTES;
        }
        i /= 2u;
        level++;
    }
    KUMO_ASSERT(pos == PARTS_PART_HEAD_BYTES + (size_t)proof_count * PARTS_HASH_BYTES);
    memcpy(frame + pos, msg.ptr + off, n);
    return pos + n;
}

int node_parts_split(kumo_bytes_t msg,
                     size_t part_bytes,
                     void (*out)(void *ctx, kumo_bytes_t frame),
                     void *ctx)
{
    if (msg.len <= part_bytes) {
        out(ctx, msg);
        return 0;
    }
    KUMO_ASSERT(part_bytes >= NODE_PARTS_BYTES_MIN && part_bytes <= NODE_PARTS_BYTES);
    KUMO_ASSERT(msg.len <= KUMO_CONSENSUS_MSG_BYTES_MAX);
    /* Only a proposal outgrows a part, and the engine encoded it. */
    kumo_consensus_msg_t m;
    int rc = kumo_consensus_msg_decode(msg, &m, NULL);
    KUMO_ASSERT(rc == 0 && m.kind == KUMO_CONSENSUS_MSG_PROPOSAL);
    parts_tree_t t = {.count = (uint32_t)((msg.len + part_bytes - 1u) / part_bytes)};
    KUMO_ASSERT(t.count >= 2u && t.count <= NODE_PARTS_COUNT_MAX);
    t.hash = kumo_calloc(PARTS_TREE_HASHES(t.count), PARTS_HASH_BYTES);
    uint8_t *frame = kumo_alloc(PARTS_PART_HEAD_BYTES +
                                NODE_PARTS_PROOF_COUNT_MAX * PARTS_HASH_BYTES + part_bytes);
    if (t.hash == NULL || frame == NULL) {
        rc = KUMO_ENOMEM;
        goto free_tree;
    }
    parts_tree_build(msg, part_bytes, &t);
    uint8_t header[PARTS_HEADER_BYTES];
    rc = parts_header_encode(&m, (uint32_t)msg.len, (uint32_t)part_bytes, t.root, header);
    KUMO_ASSERT(rc == 0);
    out(ctx, kumo_bytes_make(header, sizeof(header)));
    for (uint32_t i = 0; i < t.count; i++) {
        out(ctx, kumo_bytes_make(frame, parts_part_encode(msg, part_bytes, &t, i, frame)));
    }
free_tree:
    kumo_free(frame);
    kumo_free(t.hash);
    return rc;
}

/* ---- receiving: headers ---- */

static void parts_slot_free(node_parts_slot_t *s)
{
    kumo_free(s->buf);
    kumo_free(s->seen);
    memset(s, 0, sizeof(*s));
}

void node_parts_free(node_parts_t *p)
{
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        parts_slot_free(&p->slots[i]);
    }
}

typedef struct parts_header {
    kumo_consensus_msg_t proposal;
    uint32_t total_bytes;
    uint32_t part_bytes;
    uint8_t root[PARTS_HASH_BYTES];
} parts_header_t;

static int parts_header_decode(kumo_bytes_t frame, parts_header_t *h, kumo_err_ctx_t *err)
{
    memset(h, 0, sizeof(*h));
    kumo_consensus_msg_t *m = &h->proposal;
    m->kind = KUMO_CONSENSUS_MSG_PROPOSAL;
    m->has_value = true;
    kumo_reader_t r;
    kumo_reader_init(&r, frame);
    uint8_t tag = 0;
    kumo_bytes_t pk = {0};
    kumo_bytes_t id = {0};
    kumo_bytes_t sig = {0};
    kumo_bytes_t root = {0};
    int rc = kumo_reader_read_u8(&r, &tag);
    rc = rc == 0 ? kumo_reader_read_u64(&r, &m->height) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &m->round) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &m->pol_round) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, KUMO_CRYPTO_PUBKEY_BYTES, &pk) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, PARTS_HASH_BYTES, &id) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, KUMO_CRYPTO_SIG_BYTES, &sig) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &h->total_bytes) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &h->part_bytes) : rc;
    rc = rc == 0 ? kumo_reader_read_fixed(&r, PARTS_HASH_BYTES, &root) : rc;
    KUMO_ENSURE(rc == 0 && kumo_reader_finish(&r) == 0 && tag == NODE_PARTS_TAG_HEADER, err,
                KUMO_EDECODE, "consensus part header: %zu bytes, not %u", frame.len,
                PARTS_HEADER_BYTES);
    memcpy(m->pubkey, pk.ptr, KUMO_CRYPTO_PUBKEY_BYTES);
    memcpy(m->value_id, id.ptr, PARTS_HASH_BYTES);
    memcpy(m->sig, sig.ptr, KUMO_CRYPTO_SIG_BYTES);
    memcpy(h->root, root.ptr, PARTS_HASH_BYTES);
    /* The same rules as a whole proposal (msg.c), so the header cannot name one that could
     * never decode. */
    KUMO_ENSURE(m->height > 0 && m->round < KUMO_CONSENSUS_ROUND_NONE &&
                    (m->pol_round == KUMO_CONSENSUS_ROUND_NONE || m->pol_round < m->round),
                err, KUMO_EDECODE, "consensus part header: bad height, round or pol_round");
    KUMO_ENSURE(h->part_bytes >= NODE_PARTS_BYTES_MIN && h->part_bytes <= NODE_PARTS_BYTES &&
                    h->total_bytes > h->part_bytes &&
                    h->total_bytes <= KUMO_CONSENSUS_MSG_BYTES_MAX,
                err, KUMO_ELIMIT, "consensus part header: %u bytes in parts of %u", h->total_bytes,
                h->part_bytes);
    return 0;
}

static bool
parts_slot_is_header(const node_parts_slot_t *s, uint32_t sender_index, const parts_header_t *h)
{
    return s->used && s->sender_index == sender_index && s->total_bytes == h->total_bytes &&
           s->part_bytes == h->part_bytes && s->proposal.height == h->proposal.height &&
           s->proposal.round == h->proposal.round &&
           memcmp(s->root, h->root, PARTS_HASH_BYTES) == 0 &&
           memcmp(s->proposal.value_id, h->proposal.value_id, PARTS_HASH_BYTES) == 0;
}

/* A free slot for sender: slots of past heights are freed first; at the sender's limit its
 * own oldest goes. Another sender's slot is never taken. */
static node_parts_slot_t *parts_slot_take(node_parts_t *p, uint64_t height, uint32_t sender_index)
{
    node_parts_slot_t *free_slot = NULL;
    node_parts_slot_t *oldest = NULL;
    uint32_t mine = 0;
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        node_parts_slot_t *s = &p->slots[i];
        if (s->used && s->proposal.height < height) {
            parts_slot_free(s);
        }
        if (!s->used) {
            free_slot = free_slot != NULL ? free_slot : s;
            continue;
        }
        if (s->sender_index == sender_index) {
            mine++;
            oldest = oldest == NULL || s->stamp < oldest->stamp ? s : oldest;
        }
    }
    if (mine >= NODE_PARTS_SENDER_SLOTS) {
        KUMO_ASSERT(oldest != NULL);
        parts_slot_free(oldest);
        return oldest;
    }
    /* Each of at most VALIDATOR_COUNT_MAX senders holds fewer than SENDER_SLOTS here. */
    KUMO_ASSERT(free_slot != NULL);
    return free_slot;
}

int node_parts_header_recv(node_parts_t *p,
                           const node_parts_view_t *view,
                           uint32_t sender_index,
                           kumo_bytes_t frame,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p != NULL && view != NULL && view->vs != NULL);
    KUMO_ASSERT(sender_index < NODE_VALIDATOR_IDS_MAX);
    parts_header_t h;
    KUMO_GUARD(parts_header_decode(frame, &h, err));
    if (h.proposal.height < view->height || h.proposal.height > view->height + 1u) {
        return 0; /* another height: not needed, and not a lie */
    }
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        if (parts_slot_is_header(&p->slots[i], sender_index, &h)) {
            return 0; /* a rebroadcast of an open header */
        }
    }
    /* Signed by a validator of the proposal's own height. */
    const kumo_consensus_valset_t *vs =
        h.proposal.height > view->height && view->next_vs != NULL ? view->next_vs : view->vs;
    KUMO_GUARD(kumo_consensus_msg_verify(&h.proposal, vs, view->chain_id, err));
    node_parts_slot_t *s = parts_slot_take(p, view->height, sender_index);
    uint32_t count = (h.total_bytes + h.part_bytes - 1u) / h.part_bytes;
    KUMO_ASSERT(count >= 2u && count <= NODE_PARTS_COUNT_MAX);
    s->buf = kumo_alloc(h.total_bytes);
    s->seen = kumo_calloc(count, 1);
    if (s->buf == NULL || s->seen == NULL) {
        parts_slot_free(s);
        return kumo_err_set(err, KUMO_ENOMEM, "consensus part buffer of %u bytes", h.total_bytes);
    }
    s->used = true;
    s->sender_index = sender_index;
    s->proposal = h.proposal;
    memcpy(s->root, h.root, PARTS_HASH_BYTES);
    s->total_bytes = h.total_bytes;
    s->part_bytes = h.part_bytes;
    s->part_count = count;
    s->have_count = 0;
    s->stamp = ++p->stamp;
    return 0;
}

/* ---- receiving: parts ---- */

typedef struct parts_part {
    const uint8_t *root;
    uint32_t index;
    uint32_t proof_count;
    const uint8_t *proof;
    kumo_bytes_t data;
    uint8_t leaf[PARTS_HASH_BYTES];
} parts_part_t;

static int parts_part_decode(kumo_bytes_t frame, parts_part_t *part, kumo_err_ctx_t *err)
{
    memset(part, 0, sizeof(*part));
    kumo_reader_t r;
    kumo_reader_init(&r, frame);
    uint8_t tag = 0;
    uint8_t proof_count = 0;
    kumo_bytes_t root = {0};
    kumo_bytes_t proof = {0};
    int rc = kumo_reader_read_u8(&r, &tag);
    rc = rc == 0 ? kumo_reader_read_fixed(&r, PARTS_HASH_BYTES, &root) : rc;
    rc = rc == 0 ? kumo_reader_read_u32(&r, &part->index) : rc;
    rc = rc == 0 ? kumo_reader_read_u8(&r, &proof_count) : rc;
    KUMO_ENSURE(rc == 0 && tag == NODE_PARTS_TAG_PART, err, KUMO_EDECODE, "consensus part: short");
    KUMO_ENSURE(proof_count <= NODE_PARTS_PROOF_COUNT_MAX && part->index < NODE_PARTS_COUNT_MAX,
                err, KUMO_EDECODE, "consensus part: index %u or proof of %u out of range",
                part->index, proof_count);
    rc = kumo_reader_read_fixed(&r, (size_t)proof_count * PARTS_HASH_BYTES, &proof);
    rc = rc == 0 ? kumo_reader_read_fixed(&r, kumo_reader_remaining(&r), &part->data) : rc;
    KUMO_ENSURE(rc == 0 && part->data.len > 0 && part->data.len <= NODE_PARTS_BYTES, err,
                KUMO_EDECODE, "consensus part: short proof or bad length");
    part->root = root.ptr;
    part->proof_count = proof_count;
    part->proof = proof.ptr;
    kumo_crypto_merkle_leaf_hash(part->data, part->leaf);
    return 0;
}

/* The part belongs at its index of s: right length, right proof length, proof to s->root. */
static bool parts_part_fits(const node_parts_slot_t *s, const parts_part_t *part)
{
    if (part->index >= s->part_count) {
        return false;
    }
    size_t off = (size_t)part->index * s->part_bytes;
    size_t want = s->total_bytes - off < s->part_bytes ? s->total_bytes - off : s->part_bytes;
    if (part->data.len != want ||
        part->proof_count != parts_proof_count(part->index, s->part_count)) {
        return false;
    }
    uint8_t root[PARTS_HASH_BYTES];
    parts_root_from_proof(part->leaf, part->index, s->part_count, part->proof, root);
    return memcmp(root, s->root, PARTS_HASH_BYTES) == 0;
}

/* s is complete: hands its message up if it is the proposal the header named, and frees it
 * and every other slot holding the same message. */
static int parts_complete(node_parts_t *p,
                          node_parts_slot_t *s,
                          kumo_buf_t *whole,
                          uint32_t *sender_out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(s->have_count == s->part_count);
    *sender_out = s->sender_index;
    kumo_consensus_msg_t m;
    int rc = kumo_consensus_msg_decode(kumo_bytes_make(s->buf, s->total_bytes), &m, NULL);
    bool same = rc == 0 && m.kind == KUMO_CONSENSUS_MSG_PROPOSAL &&
                m.height == s->proposal.height && m.round == s->proposal.round &&
                m.pol_round == s->proposal.pol_round &&
                memcmp(m.value_id, s->proposal.value_id, PARTS_HASH_BYTES) == 0 &&
                memcmp(m.pubkey, s->proposal.pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0 &&
                memcmp(m.sig, s->proposal.sig, KUMO_CRYPTO_SIG_BYTES) == 0;
    rc = same ? kumo_buf_append(whole, s->buf, s->total_bytes)
              : kumo_err_set(err, KUMO_EMISMATCH, "consensus parts are not the proposal named");
    uint8_t root[PARTS_HASH_BYTES];
    memcpy(root, s->root, sizeof(root));
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        if (p->slots[i].used && memcmp(p->slots[i].root, root, sizeof(root)) == 0) {
            parts_slot_free(&p->slots[i]);
        }
    }
    return rc;
}

int node_parts_part_recv(node_parts_t *p,
                         kumo_bytes_t frame,
                         kumo_buf_t *whole,
                         uint32_t *sender_out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(p != NULL && whole != NULL && sender_out != NULL);
    parts_part_t part;
    KUMO_GUARD(parts_part_decode(frame, &part, err));
    bool named = false;
    bool fits = false;
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        node_parts_slot_t *s = &p->slots[i];
        if (!s->used || memcmp(s->root, part.root, PARTS_HASH_BYTES) != 0) {
            continue;
        }
        named = true;
        if (!parts_part_fits(s, &part)) {
            continue;
        }
        fits = true;
        if (s->seen[part.index] == 0) {
            memcpy(s->buf + (size_t)part.index * s->part_bytes, part.data.ptr, part.data.len);
            s->seen[part.index] = 1;
            s->have_count++;
        }
        if (s->have_count == s->part_count) {
            return parts_complete(p, s, whole, sender_out, err);
        }
    }
    if (!named) {
        p->unknown_count++;
        return 0;
    }
    KUMO_ENSURE(fits, err, KUMO_EDECODE, "consensus part %u fails its proof", part.index);
    return 0;
}
