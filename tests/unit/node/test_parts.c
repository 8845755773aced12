/*
 * test_parts.c - proves the proposal parts rules (src/node/parts.c): a proposal split at any
 * part size reassembles to the same bytes in any order with duplicates; every header rule
 * and limit has a row (MAX accepted, MAX+1 rejected; signatures by a non-validator or over
 * other fields rejected); every tampered part fails its proof and leaves the slot to complete
 * from the honest parts; parts naming no open header are dropped and counted; a validator's
 * headers for many fake proposals evict only its own slots; a header whose root names other
 * bytes is blamed on its sender; slots of past heights are freed.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include "node/cons_int.h"

#define PT_CHAIN      "kumo-test"
#define PT_HEIGHT     7u
#define PT_FRAMES_MAX 600u
#define PT_HDR_BYTES  185u

typedef struct pt_frames {
    uint8_t *frame[PT_FRAMES_MAX];
    size_t len[PT_FRAMES_MAX];
    uint32_t count;
} pt_frames_t;

typedef struct pt_fx {
    kumo_crypto_keypair_t key[3]; /* validators 0, 1; key 2 is not one */
    kumo_consensus_valset_t vs;
    node_parts_view_t view;
    node_parts_t parts;
    uint8_t *msg;
    size_t msg_len;
    pt_frames_t f;
} pt_fx_t;

static void pt_collect(void *ctx, kumo_bytes_t frame)
{
    pt_frames_t *f = ctx;
    assert_true(f->count < PT_FRAMES_MAX);
    f->frame[f->count] = test_malloc(frame.len);
    memcpy(f->frame[f->count], frame.ptr, frame.len);
    f->len[f->count] = frame.len;
    f->count++;
}

static void pt_frames_free(pt_frames_t *f)
{
    for (uint32_t i = 0; i < f->count; i++) {
        test_free(f->frame[i]);
    }
    memset(f, 0, sizeof(*f));
}

/* A signed proposal of value_bytes (bytes from fill) at height/round by key, encoded. */
static size_t pt_proposal(const kumo_crypto_keypair_t *key,
                          uint64_t height,
                          uint32_t round,
                          size_t value_bytes,
                          uint8_t fill,
                          uint8_t **out)
{
    uint8_t *value = test_malloc(value_bytes);
    for (size_t i = 0; i < value_bytes; i++) {
        value[i] = (uint8_t)(fill + i * 7u);
    }
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PROPOSAL,
                              .height = height,
                              .round = round,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                              .has_value = true,
                              .value = kumo_bytes_make(value, value_bytes)};
    kumo_crypto_sha256(m.value, m.value_id);
    assert_int_equal(kumo_consensus_msg_sign(&m, PT_CHAIN, key), 0);
    size_t cap = KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + value_bytes;
    *out = test_malloc(cap);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, *out, cap, &len), 0);
    test_free(value);
    return len;
}

static void pt_open(pt_fx_t *fx, size_t value_bytes, size_t part_bytes)
{
    memset(fx, 0, sizeof(*fx));
    uint8_t keys[2][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[2] = {10, 10};
    for (uint32_t i = 0; i < 3; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        memset(seed, (int)(0x31u + i), sizeof(seed));
        kumo_crypto_key_from_seed(seed, &fx->key[i]);
        if (i < 2) {
            memcpy(keys[i], fx->key[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        }
    }
    assert_int_equal(
        kumo_consensus_valset_init(&fx->vs, (const uint8_t(*)[32])keys, powers, 2, NULL), 0);
    fx->view = (node_parts_view_t){.height = PT_HEIGHT, .vs = &fx->vs, .chain_id = PT_CHAIN};
    fx->msg_len = pt_proposal(&fx->key[0], PT_HEIGHT, 0, value_bytes, 0x10, &fx->msg);
    assert_int_equal(
        node_parts_split(kumo_bytes_make(fx->msg, fx->msg_len), part_bytes, pt_collect, &fx->f), 0);
}

static void pt_close(pt_fx_t *fx)
{
    node_parts_free(&fx->parts);
    pt_frames_free(&fx->f);
    test_free(fx->msg);
}

/* Feeds one frame as validator sender would have sent it; whole gets a completed message. */
static int
pt_feed(pt_fx_t *fx, uint32_t sender, const uint8_t *frame, size_t len, kumo_buf_t *whole)
{
    kumo_err_ctx_t err = {0};
    kumo_bytes_t b = kumo_bytes_make(frame, len);
    if (frame[0] == NODE_PARTS_TAG_HEADER) {
        return node_parts_header_recv(&fx->parts, &fx->view, sender, b, &err);
    }
    uint32_t from = UINT32_MAX;
    int rc = node_parts_part_recv(&fx->parts, b, whole, &from, &err);
    if (rc == 0 && whole->len > 0) {
        assert_int_equal(from, sender);
    }
    return rc;
}

static void pt_assert_whole(const pt_fx_t *fx, const kumo_buf_t *whole)
{
    assert_int_equal(whole->len, fx->msg_len);
    assert_memory_equal(whole->ptr, fx->msg, fx->msg_len);
}

static void test_parts_roundtrip_sizes_and_orders(void **state)
{
    (void)state;
    static const struct {
        size_t value_bytes;
        size_t part_bytes;
    } rows[] = {
        {200, 256},
        {140, 256},
        {139, 256},
        {1000, 256},
        {5000, 300},
        {70000, 256},
        {200000, NODE_PARTS_BYTES},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        for (uint32_t order = 0; order < 2; order++) {
            pt_fx_t fx;
            pt_open(&fx, rows[r].value_bytes, rows[r].part_bytes);
            kumo_buf_t whole;
            kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
            if (fx.msg_len <= rows[r].part_bytes) {
                /* Fits one part: the message itself. */
                assert_int_equal(fx.f.count, 1);
                assert_int_equal(fx.f.len[0], fx.msg_len);
                pt_close(&fx);
                continue;
            }
            assert_int_equal(fx.f.frame[0][0], NODE_PARTS_TAG_HEADER);
            assert_int_equal(pt_feed(&fx, 0, fx.f.frame[0], fx.f.len[0], &whole), 0);
            uint32_t n = fx.f.count - 1u;
            for (uint32_t k = 0; k < n && whole.len == 0; k++) {
                /* order 1: last part first, every part twice. */
                uint32_t i = order == 0 ? 1u + k : fx.f.count - 1u - k;
                assert_int_equal(pt_feed(&fx, 0, fx.f.frame[i], fx.f.len[i], &whole), 0);
                if (whole.len == 0) {
                    assert_int_equal(pt_feed(&fx, 0, fx.f.frame[i], fx.f.len[i], &whole), 0);
                }
            }
            pt_assert_whole(&fx, &whole);
            kumo_buf_free(&whole);
            pt_close(&fx);
        }
    }
}

/* ---- headers ---- */

static void hdr_short(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)h;
    (void)fx;
    *len -= 1;
}
static void hdr_trailing(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)fx;
    h[(*len)++] = 0;
}
static void hdr_height_zero(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    kumo_be64_put(h + 1, 0);
}
static void hdr_pol_round_not_below(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    kumo_be32_put(h + 13, 0); /* round is 0 */
}
static void hdr_part_bytes(uint8_t *h, uint32_t v)
{
    kumo_be32_put(h + 1 + 8 + 4 + 4 + 32 + 32 + 64 + 4, v);
}
static void hdr_total_bytes(uint8_t *h, uint32_t v)
{
    kumo_be32_put(h + 1 + 8 + 4 + 4 + 32 + 32 + 64, v);
}
static void hdr_part_min_minus_one(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_part_bytes(h, NODE_PARTS_BYTES_MIN - 1u);
}
static void hdr_part_min(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_part_bytes(h, NODE_PARTS_BYTES_MIN);
}
static void hdr_part_max(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_part_bytes(h, NODE_PARTS_BYTES);
    hdr_total_bytes(h, NODE_PARTS_BYTES + 1u);
}
static void hdr_part_max_plus_one(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_part_bytes(h, NODE_PARTS_BYTES + 1u);
    hdr_total_bytes(h, NODE_PARTS_BYTES + 2u);
}
static void hdr_total_one_part(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_total_bytes(h, 256);
}
static void hdr_total_max(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_total_bytes(h, KUMO_CONSENSUS_MSG_BYTES_MAX);
}
static void hdr_total_max_plus_one(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    hdr_total_bytes(h, KUMO_CONSENSUS_MSG_BYTES_MAX + 1u);
}
static void hdr_sig_flipped(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    h[1 + 8 + 4 + 4 + 32 + 32] ^= 1u;
}
static void hdr_value_id_flipped(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    h[1 + 8 + 4 + 4 + 32] ^= 1u;
}
static void hdr_round_changed(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    kumo_be32_put(h + 9, 1);
}
static void hdr_signer_not_validator(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    memcpy(h + 17, fx->key[2].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
}
static void hdr_height_past(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    kumo_be64_put(h + 1, PT_HEIGHT - 1u);
}
static void hdr_height_far(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)len;
    (void)fx;
    kumo_be64_put(h + 1, PT_HEIGHT + 2u);
}
static void hdr_valid(uint8_t *h, size_t *len, pt_fx_t *fx)
{
    (void)h;
    (void)len;
    (void)fx;
}

static void test_parts_header_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(uint8_t *h, size_t *len, pt_fx_t *fx);
        int want;
        bool opens;
    } rows[] = {
        {"valid", hdr_valid, 0, true},
        {"short", hdr_short, KUMO_EDECODE, false},
        {"trailing byte", hdr_trailing, KUMO_EDECODE, false},
        {"height 0", hdr_height_zero, KUMO_EDECODE, false},
        {"pol_round not below round", hdr_pol_round_not_below, KUMO_EDECODE, false},
        {"part bytes MIN-1", hdr_part_min_minus_one, KUMO_ELIMIT, false},
        {"part bytes MIN", hdr_part_min, 0, true},
        {"part bytes MAX", hdr_part_max, 0, true},
        {"part bytes MAX+1", hdr_part_max_plus_one, KUMO_ELIMIT, false},
        {"total fits one part", hdr_total_one_part, KUMO_ELIMIT, false},
        {"total MAX", hdr_total_max, 0, true},
        {"total MAX+1", hdr_total_max_plus_one, KUMO_ELIMIT, false},
        {"signature flipped", hdr_sig_flipped, KUMO_ESIG, false},
        {"value id not the signed one", hdr_value_id_flipped, KUMO_ESIG, false},
        {"round not the signed one", hdr_round_changed, KUMO_ESIG, false},
        {"signer not a validator", hdr_signer_not_validator, KUMO_EUNAUTH, false},
        {"past height ignored", hdr_height_past, 0, false},
        {"height beyond next ignored", hdr_height_far, 0, false},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        pt_fx_t fx;
        pt_open(&fx, 1000, 256);
        uint8_t h[PT_HDR_BYTES + 1];
        size_t len = fx.f.len[0];
        assert_int_equal(len, PT_HDR_BYTES);
        memcpy(h, fx.f.frame[0], len);
        rows[r].mutate(h, &len, &fx);
        kumo_err_ctx_t err = {0};
        int rc = node_parts_header_recv(&fx.parts, &fx.view, 1, kumo_bytes_make(h, len), &err);
        if (rc != rows[r].want) {
            fail_msg("%s: got %s (%s)", rows[r].name, kumo_err_name(rc), err.detail);
        }
        bool opened = false;
        for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
            opened = opened || fx.parts.slots[i].used;
        }
        if (opened != rows[r].opens) {
            fail_msg("%s: slot opened %d", rows[r].name, opened);
        }
        pt_close(&fx);
    }
}

/* ---- parts ---- */

static const size_t pt_part_index_at = 1 + 32;
static const size_t pt_part_proof_at = 1 + 32 + 4 + 1;

static void part_data_flipped(uint8_t *p, size_t *len)
{
    p[*len - 1] ^= 1u;
}
static void part_proof_flipped(uint8_t *p, size_t *len)
{
    (void)len;
    p[pt_part_proof_at] ^= 1u;
}
static void part_index_changed(uint8_t *p, size_t *len)
{
    (void)len;
    kumo_be32_put(p + pt_part_index_at, 2);
}
static void part_index_out_of_tree(uint8_t *p, size_t *len)
{
    (void)len;
    kumo_be32_put(p + pt_part_index_at, 100);
}
static void part_index_max(uint8_t *p, size_t *len)
{
    (void)len;
    kumo_be32_put(p + pt_part_index_at, NODE_PARTS_COUNT_MAX);
}
static void part_proof_count_minus_one(uint8_t *p, size_t *len)
{
    p[pt_part_proof_at - 1] = (uint8_t)(p[pt_part_proof_at - 1] - 1u);
    (void)len;
}
static void part_proof_count_max_plus_one(uint8_t *p, size_t *len)
{
    (void)len;
    p[pt_part_proof_at - 1] = NODE_PARTS_PROOF_COUNT_MAX + 1u;
}
static void part_truncated(uint8_t *p, size_t *len)
{
    (void)p;
    *len -= 1;
}
static void part_extended(uint8_t *p, size_t *len)
{
    p[(*len)++] = 0;
}
static void part_no_data(uint8_t *p, size_t *len)
{
    (void)p;
    *len = pt_part_proof_at + 32u * p[pt_part_proof_at - 1];
}
static void part_short(uint8_t *p, size_t *len)
{
    (void)p;
    *len = 20;
}
static void part_other_root(uint8_t *p, size_t *len)
{
    (void)len;
    p[1] ^= 1u;
}

/* Each tampered copy of part 1 is rejected (or dropped when it names no open root) and the
 * honest parts then complete the slot untouched. */
static void test_parts_tampered_parts_fail_their_proof(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(uint8_t *p, size_t *len);
        int want;
    } rows[] = {
        {"data byte flipped", part_data_flipped, KUMO_EDECODE},
        {"proof byte flipped", part_proof_flipped, KUMO_EDECODE},
        {"index of another part", part_index_changed, KUMO_EDECODE},
        {"index outside the tree", part_index_out_of_tree, KUMO_EDECODE},
        {"index COUNT_MAX", part_index_max, KUMO_EDECODE},
        {"proof one hash short", part_proof_count_minus_one, KUMO_EDECODE},
        {"proof count MAX+1", part_proof_count_max_plus_one, KUMO_EDECODE},
        {"data one byte short", part_truncated, KUMO_EDECODE},
        {"data one byte long", part_extended, KUMO_EDECODE},
        {"no data", part_no_data, KUMO_EDECODE},
        {"shorter than its head", part_short, KUMO_EDECODE},
        {"root of no open header", part_other_root, 0},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        pt_fx_t fx;
        pt_open(&fx, 1000, 256);
        kumo_buf_t whole;
        kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
        assert_int_equal(pt_feed(&fx, 0, fx.f.frame[0], fx.f.len[0], &whole), 0);
        uint8_t p[1024];
        size_t len = fx.f.len[2];
        assert_true(len < sizeof(p) - 1u);
        memcpy(p, fx.f.frame[2], len);
        rows[r].mutate(p, &len);
        kumo_err_ctx_t err = {0};
        uint32_t from = 0;
        int rc = node_parts_part_recv(&fx.parts, kumo_bytes_make(p, len), &whole, &from, &err);
        if (rc != rows[r].want || whole.len != 0) {
            fail_msg("%s: got %s (%s)", rows[r].name, kumo_err_name(rc), err.detail);
        }
        if (rc == 0) {
            assert_int_equal(fx.parts.unknown_count, 1);
        }
        for (uint32_t i = 1; i < fx.f.count; i++) {
            assert_int_equal(pt_feed(&fx, 0, fx.f.frame[i], fx.f.len[i], &whole), 0);
        }
        pt_assert_whole(&fx, &whole);
        kumo_buf_free(&whole);
        pt_close(&fx);
    }
}

/* Parts before their header are dropped (counted), not kept. */
static void test_parts_before_header_dropped(void **state)
{
    (void)state;
    pt_fx_t fx;
    pt_open(&fx, 1000, 256);
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    for (uint32_t i = 1; i < fx.f.count; i++) {
        assert_int_equal(pt_feed(&fx, 0, fx.f.frame[i], fx.f.len[i], &whole), 0);
    }
    assert_int_equal(whole.len, 0);
    assert_int_equal(fx.parts.unknown_count, fx.f.count - 1u);
    kumo_buf_free(&whole);
    pt_close(&fx);
}

/* Validator 1 sends headers of many fake proposals (its own signed ones, other roots): it
 * only ever holds NODE_PARTS_SENDER_SLOTS slots, and validator 0's proposal completes. */
static void test_parts_sender_evicts_only_its_own(void **state)
{
    (void)state;
    pt_fx_t fx;
    pt_open(&fx, 1000, 256);
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    assert_int_equal(pt_feed(&fx, 0, fx.f.frame[0], fx.f.len[0], &whole), 0);
    assert_int_equal(pt_feed(&fx, 0, fx.f.frame[1], fx.f.len[1], &whole), 0);
    for (uint32_t k = 0; k < 3u * NODE_PARTS_SLOT_COUNT; k++) {
        uint8_t h[PT_HDR_BYTES];
        memcpy(h, fx.f.frame[0], PT_HDR_BYTES);
        kumo_be32_put(h + PT_HDR_BYTES - 4u, k); /* another root */
        assert_int_equal(pt_feed(&fx, 1, h, sizeof(h), &whole), 0);
        uint32_t mine = 0;
        for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
            mine += fx.parts.slots[i].used && fx.parts.slots[i].sender_index == 1u ? 1u : 0u;
        }
        assert_true(mine <= NODE_PARTS_SENDER_SLOTS);
    }
    for (uint32_t i = 2; i < fx.f.count; i++) {
        assert_int_equal(pt_feed(&fx, 0, fx.f.frame[i], fx.f.len[i], &whole), 0);
    }
    pt_assert_whole(&fx, &whole);
    kumo_buf_free(&whole);
    pt_close(&fx);
}

/* A header whose signed proposal is A but whose root is that of other bytes B: B's parts
 * fit the root, and the completed message is blamed on the header's sender. */
static void test_parts_header_root_lie_blamed_on_sender(void **state)
{
    (void)state;
    pt_fx_t fx;
    pt_open(&fx, 1000, 256);
    uint8_t *other = NULL;
    size_t other_len = pt_proposal(&fx.key[0], PT_HEIGHT, 0, 1000, 0x99, &other);
    pt_frames_t g = {0};
    assert_int_equal(node_parts_split(kumo_bytes_make(other, other_len), 256, pt_collect, &g), 0);
    uint8_t h[PT_HDR_BYTES];
    memcpy(h, fx.f.frame[0], PT_HDR_BYTES);
    memcpy(h + PT_HDR_BYTES - 32u, g.frame[0] + PT_HDR_BYTES - 32u, 32);
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    assert_int_equal(pt_feed(&fx, 1, h, sizeof(h), &whole), 0);
    int rc = 0;
    uint32_t from = 0;
    for (uint32_t i = 1; i < g.count; i++) {
        kumo_err_ctx_t err = {0};
        rc = node_parts_part_recv(&fx.parts, kumo_bytes_make(g.frame[i], g.len[i]), &whole, &from,
                                  &err);
    }
    assert_int_equal(rc, KUMO_EMISMATCH);
    assert_int_equal(from, 1);
    assert_int_equal(whole.len, 0);
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        assert_false(fx.parts.slots[i].used);
    }
    pt_frames_free(&g);
    test_free(other);
    kumo_buf_free(&whole);
    pt_close(&fx);
}

/* The next height's header frees the slots of heights below the view. */
static void test_parts_past_heights_freed(void **state)
{
    (void)state;
    pt_fx_t fx;
    pt_open(&fx, 1000, 256);
    kumo_buf_t whole;
    kumo_buf_init(&whole, KUMO_CONSENSUS_MSG_BYTES_MAX);
    assert_int_equal(pt_feed(&fx, 0, fx.f.frame[0], fx.f.len[0], &whole), 0);
    uint8_t *next = NULL;
    size_t next_len = pt_proposal(&fx.key[1], PT_HEIGHT + 1u, 0, 1000, 0x55, &next);
    pt_frames_t g = {0};
    assert_int_equal(node_parts_split(kumo_bytes_make(next, next_len), 256, pt_collect, &g), 0);
    fx.view.height = PT_HEIGHT + 1u;
    assert_int_equal(pt_feed(&fx, 1, g.frame[0], g.len[0], &whole), 0);
    uint32_t used = 0;
    for (uint32_t i = 0; i < NODE_PARTS_SLOT_COUNT; i++) {
        used += fx.parts.slots[i].used ? 1u : 0u;
    }
    assert_int_equal(used, 1);
    pt_frames_free(&g);
    test_free(next);
    kumo_buf_free(&whole);
    pt_close(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_roundtrip_sizes_and_orders),
        cmocka_unit_test(test_parts_header_rules),
        cmocka_unit_test(test_parts_tampered_parts_fail_their_proof),
        cmocka_unit_test(test_parts_before_header_dropped),
        cmocka_unit_test(test_parts_sender_evicts_only_its_own),
        cmocka_unit_test(test_parts_header_root_lie_blamed_on_sender),
        cmocka_unit_test(test_parts_past_heights_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
