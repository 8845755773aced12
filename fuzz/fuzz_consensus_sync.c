/*
 * fuzz_consensus_sync.c - block sync (src/consensus/sync.h) under arbitrary input, twice:
 * 1. The whole input as one block sync message (status, request, block with commit, no
 *    block): decoding never crashes, and accepted input re-encodes to the same bytes.
 * 2. The input as a script of events from four peers driving the policy (claims, ticks,
 *    answers verified or not, consensus deciding heights, disconnects): no assertion in the
 *    policy fires, consensus is stopped only to apply a block, started only after it was
 *    stopped, and every request is for the head + 1 of the moment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/sync.h"

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    kumo_consensus_sync_msg_t m;
    if (kumo_consensus_sync_msg_decode(kumo_bytes_make(data, size), &m, NULL) < 0) {
        return;
    }
    uint8_t *out = malloc(size);
    size_t len = 0;
    if (out == NULL || kumo_consensus_sync_msg_encode(&m, out, size, &len) != 0 || len != size ||
        memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
}

typedef struct fuzz_node {
    kumo_consensus_sync_t sync;
    uint64_t head;
    uint64_t now_ms;
    bool engine_running;
    bool apply_pending;
    uint8_t ids[4][KUMO_CONSENSUS_SYNC_PEER_ID_BYTES];
} fuzz_node_t;

static void fuzz_check(fuzz_node_t *n, const kumo_consensus_sync_action_t *a)
{
    if (a->engine_stop && (!a->apply || !n->engine_running)) {
        abort(); /* consensus stops only to apply a verified block */
    }
    if (a->engine_start && n->engine_running) {
        abort();
    }
    if (a->request && a->request_height != n->head + 1u) {
        abort();
    }
    n->engine_running = (n->engine_running && !a->engine_stop) || a->engine_start;
    n->apply_pending = a->apply;
    if (kumo_consensus_sync_is_syncing(&n->sync) == n->engine_running) {
        abort(); /* the policy and the engine agree on who is in charge */
    }
}

static void fuzz_answer(fuzz_node_t *n, const uint8_t *id, uint8_t arg)
{
    kumo_consensus_sync_action_t a;
    uint64_t height = n->sync.request_height;
    if (!kumo_consensus_sync_answer_is_expected(&n->sync, id, height)) {
        return;
    }
    if ((arg & 1u) != 0) {
        kumo_consensus_sync_on_no_block(&n->sync, n->head, n->now_ms, id, height, &a);
        fuzz_check(n, &a);
        return;
    }
    kumo_consensus_sync_on_block(&n->sync, n->head, n->now_ms, id, height, (arg & 2u) != 0, &a);
    fuzz_check(n, &a);
    if (n->apply_pending) {
        bool ok = (arg & 4u) != 0;
        n->head += ok ? 1u : 0u;
        kumo_consensus_sync_on_applied(&n->sync, n->head, n->now_ms, id, ok, &a);
        fuzz_check(n, &a);
    }
}

/* One event: op picks the peer (low 2 bits) and the event, arg its parameter. */
static void fuzz_event(fuzz_node_t *n, uint8_t op, uint8_t arg)
{
    const uint8_t *id = n->ids[op & 3u];
    kumo_consensus_sync_action_t a;
    switch ((op >> 2) % 6u) {
    case 0: /* a claim, near the head or far beyond */
        kumo_consensus_sync_on_status(&n->sync, n->head, n->now_ms, id,
                                      arg >= 250u ? UINT64_MAX - arg : n->head + arg % 8u, &a);
        fuzz_check(n, &a);
        break;
    case 1: /* time passes */
        n->now_ms += (uint64_t)arg * 50u;
        kumo_consensus_sync_on_tick(&n->sync, n->head, n->now_ms, &a);
        fuzz_check(n, &a);
        break;
    case 2:
        fuzz_answer(n, id, arg);
        break;
    case 3: /* consensus decides a height (only while it runs) */
        n->head += n->engine_running ? 1u : 0u;
        break;
    case 4:
        kumo_consensus_sync_peer_remove(&n->sync, id);
        break;
    default: /* an answer from a peer that was not asked: must not be expected */
        if (kumo_consensus_sync_answer_is_expected(&n->sync, id, n->head + 2u + arg)) {
            abort();
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_roundtrip(data, size);
    fuzz_node_t *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return 0;
    }
    n->head = size > 0 ? data[0] : 0;
    n->engine_running = true;
    kumo_consensus_sync_init(&n->sync, n->head);
    for (uint8_t i = 0; i < 4; i++) {
        memset(n->ids[i], 0xa0 + i, KUMO_CONSENSUS_SYNC_PEER_ID_BYTES);
    }
    for (size_t i = 1; i + 1 < size; i += 2) {
        fuzz_event(n, data[i], data[i + 1]);
    }
    free(n);
    return 0;
}
