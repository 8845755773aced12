/*
 * fuzz_node_parts.c - proposal part reassembly (src/node/parts.c) over arbitrary frame
 * sequences. A fixed signed proposal is split into its header and parts; the input is a list
 * of operations: deliver an honest frame, deliver an honest frame with one byte changed, or
 * deliver raw input bytes as a header or part, each as sent by validator 0 or 1. Whatever
 * the order, a completed message is always exactly the honest proposal (no lie gets past a
 * Merkle proof or a header signature) and never exceeds the consensus message bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/cons_int.h"

#define FZ_CHAIN      "kumo-fuzz"
#define FZ_HEIGHT     9u
#define FZ_FRAMES_MAX 16u
#define FZ_VALUE      1500u

typedef struct fz_proposal {
    kumo_consensus_valset_t vs;
    uint8_t msg[KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + FZ_VALUE];
    size_t msg_len;
    uint8_t frame[FZ_FRAMES_MAX][512];
    size_t frame_len[FZ_FRAMES_MAX];
    uint32_t frame_count;
} fz_proposal_t;

static void fz_collect(void *ctx, kumo_bytes_t frame)
{
    fz_proposal_t *p = ctx;
    if (p->frame_count >= FZ_FRAMES_MAX || frame.len > sizeof(p->frame[0])) {
        abort();
    }
    memcpy(p->frame[p->frame_count], frame.ptr, frame.len);
    p->frame_len[p->frame_count++] = frame.len;
}

/* The same constant proposal for every input (built once: it is data, not state). */
static const fz_proposal_t *fz_proposal(void)
{
    static fz_proposal_t p;
    static bool built;
    if (built) {
        return &p;
    }
    kumo_crypto_keypair_t kp[2];
    uint8_t keys[2][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[2] = {1, 1};
    for (uint32_t i = 0; i < 2; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        memset(seed, (int)(0x42u + i), sizeof(seed));
        kumo_crypto_key_from_seed(seed, &kp[i]);
        memcpy(keys[i], kp[i].pubkey, sizeof(keys[i]));
    }
    if (kumo_consensus_valset_init(&p.vs, (const uint8_t(*)[32])keys, powers, 2, NULL) != 0) {
        abort();
    }
    uint8_t value[FZ_VALUE];
    for (size_t i = 0; i < sizeof(value); i++) {
        value[i] = (uint8_t)(i * 13u);
    }
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = FZ_HEIGHT,
                              .round = 2,
                              .pol_round = 1,
                              .has_value = true,
                              .value = kumo_bytes_make(value, sizeof(value))};
    kumo_crypto_sha256(m.value, m.value_id);
    if (kumo_consensus_msg_sign(&m, FZ_CHAIN, &kp[0]) != 0 ||
        kumo_consensus_msg_encode(&m, p.msg, sizeof(p.msg), &p.msg_len) != 0 ||
        node_parts_split(kumo_bytes_make(p.msg, p.msg_len), 256, fz_collect, &p) != 0) {
        abort();
    }
    kumo_crypto_key_wipe(&kp[0]);
    kumo_crypto_key_wipe(&kp[1]);
    built = true;
    return &p;
}

static void
fz_deliver(node_parts_t *parts, const fz_proposal_t *p, uint32_t sender, kumo_bytes_t frame)
{
    if (frame.len == 0) {
        return;
    }
    node_parts_view_t view = {.height = FZ_HEIGHT, .vs = &p->vs, .chain_id = FZ_CHAIN};
    if (frame.ptr[0] == NODE_PARTS_TAG_HEADER) {
        if (node_parts_header_recv(parts, &view, sender, frame, NULL) < 0) {
            return; /* rejected: nothing opened */
        }
        return;
    }
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    uint32_t from = UINT32_MAX;
    int rc = node_parts_part_recv(parts, frame, &whole, &from, NULL);
    if (rc == 0 && whole.len > 0 &&
        (whole.len != p->msg_len || memcmp(whole.ptr, p->msg, p->msg_len) != 0 || from > 1u)) {
        abort();
    }
    if ((rc == KUMO_EMISMATCH && from > 1u) || whole.len > KUMO_CONSENSUS_MSG_BYTES_MAX) {
        abort();
    }
    kumo_buf_free(&whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fz_proposal_t *p = fz_proposal();
    node_parts_t *parts = kumo_calloc(1, sizeof(*parts));
    if (parts == NULL) {
        return 0;
    }
    uint8_t buf[512];
    size_t off = 0;
    while (off + 2u <= size) {
        uint8_t op = data[off++];
        uint8_t arg = data[off++];
        uint32_t sender = (op >> 7) & 1u;
        const uint8_t *f = p->frame[arg % p->frame_count];
        size_t f_len = p->frame_len[arg % p->frame_count];
        switch (op % 3u) {
        case 0:
            fz_deliver(parts, p, sender, kumo_bytes_make(f, f_len));
            break;
        case 1:
            if (off + 3u > size) {
                off = size;
                break;
            }
            memcpy(buf, f, f_len);
            buf[((size_t)data[off] << 8 | data[off + 1]) % f_len] ^= data[off + 2];
            off += 3u;
            fz_deliver(parts, p, sender, kumo_bytes_make(buf, f_len));
            break;
        default: {
            size_t len = (size_t)arg * 2u < size - off ? (size_t)arg * 2u : size - off;
            fz_deliver(parts, p, sender, kumo_bytes_make(data + off, len));
            off += len;
            break;
        }
        }
    }
    node_parts_free(parts);
    kumo_free(parts);
    return 0;
}
