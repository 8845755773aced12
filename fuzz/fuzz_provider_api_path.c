/*
 * fuzz_provider_api_path.c - the provider API's path parser over arbitrary text: refused,
 * or an owner, a sequence and a leaf that fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    size_t n = size < sizeof(path) - 1u ? size : sizeof(path) - 1u;
    memcpy(path, data, n);
    path[n] = '\0';
    uint8_t owner[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    char leaf[32];
    if (kumo_provider_api_path_parse(path, owner, &dseq, leaf, sizeof(leaf)) &&
        strlen(leaf) >= sizeof(leaf)) {
        abort();
    }
    return 0;
}
