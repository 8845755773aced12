/*
 * fuzz_provider_gpus.c - the provider daemon's GPU records (home/gpus) over arbitrary bytes:
 * refused as corrupt, or accepted as records that render back to exactly the same bytes
 * (the format has one spelling) with every GPU number in range and none twice in a record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kumo_provider_gpu_record_t recs[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t count = 0;
    if (kumo_provider_gpu_records_parse(kumo_bytes_make(data, size), recs, &count, NULL) != 0) {
        return 0;
    }
    if (count > KUMO_PROVIDER_GPU_COUNT_MAX) {
        abort();
    }
    for (uint32_t i = 0; i < count; i++) {
        uint64_t seen = 0;
        for (uint32_t k = 0; k < recs[i].gpu_count; k++) {
            if (recs[i].gpus[k] >= KUMO_PROVIDER_GPU_COUNT_MAX ||
                (seen & (1ull << recs[i].gpus[k])) != 0) {
                abort();
            }
            seen |= 1ull << recs[i].gpus[k];
        }
    }
    kumo_buf_t text;
    kumo_buf_init(&text, 1024u * 1024u);
    if (kumo_provider_gpu_records_render(recs, count, &text, NULL) != 0 || text.len != size ||
        (size > 0 && memcmp(text.ptr, data, size) != 0)) {
        abort(); /* accepted bytes are the canonical spelling */
    }
    kumo_buf_free(&text);
    return 0;
}
