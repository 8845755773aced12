/*
 * fuzz_chain_valset.c - the stored validator set decoder: any input is refused with
 * KUMO_EDECODE or decodes to a valid set that re-encodes to the same bytes; the next height's
 * priorities from it (to itself and to the set with its first member removed) stay bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_consensus_valset_t vs;
    int rc = kumo_chain_valset_decode(kumo_bytes_make(data, size), &vs, NULL);
    if (rc != 0) {
        if (rc != KUMO_EDECODE) {
            abort();
        }
        return 0;
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_CHAIN_VALSET_BYTES_MAX);
    if (kumo_chain_valset_encode(&vs, &buf) != 0 || buf.len != size ||
        memcmp(buf.ptr, data, size) != 0) {
        abort();
    }
    kumo_buf_free(&buf);
    /* Stored priorities come from kumo_consensus_valset_next, so they lie within a few
     * totals; only such sets are stepped. */
    int64_t bound = 4 * (int64_t)vs.power_total;
    for (uint32_t i = 0; i < vs.count; i++) {
        if (vs.v[i].priority > bound || vs.v[i].priority < -bound) {
            return 0;
        }
    }
    kumo_consensus_valset_t next;
    kumo_consensus_valset_next(&vs, &vs, &next);
    if (vs.count > 1) {
        kumo_consensus_valset_t fewer = vs;
        fewer.power_total -= fewer.v[0].power;
        memmove(&fewer.v[0], &fewer.v[1], (fewer.count - 1u) * sizeof(fewer.v[0]));
        fewer.count--;
        kumo_consensus_valset_next(&vs, &fewer, &next);
        int64_t nb = 2 * (int64_t)next.power_total + 1;
        for (uint32_t i = 0; i < next.count; i++) {
            if (next.v[i].priority > nb || next.v[i].priority < -nb) {
                abort();
            }
        }
    }
    return 0;
}
