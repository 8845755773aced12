/*
 * fuzz_cli_offer.c - the --offer parser of `kumo tx provider update` (cli_offer_parse) on
 * arbitrary text: it must accept or refuse without crashing, and an accepted offer must hold
 * exactly its values (a second parse of the same text gives the same offer, GPUs included).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024) {
        return 0;
    }
    char text[1025];
    memcpy(text, data, size);
    text[size] = '\0';
    static cli_offer_t oa;
    static cli_offer_t ob;
    const Kumo__ProviderOffer *a = &oa.pb;
    const Kumo__ProviderOffer *b = &ob.pb;
    kumo_err_ctx_t err = {0};
    if (cli_offer_parse(text, &oa, &err) != 0) {
        return 0;
    }
    if (cli_offer_parse(text, &ob, NULL) != 0 || a->price_cpu_per_core != b->price_cpu_per_core ||
        a->free_cpu_milli != b->free_cpu_milli || a->free_collateral != b->free_collateral ||
        a->price_per_gpu != b->price_per_gpu || a->n_free_gpus != b->n_free_gpus ||
        a->n_free_gpus > KUMO_MARKET_OFFER_GPU_KIND_COUNT_MAX || a->height != 0) {
        abort();
    }
    for (size_t i = 0; i < a->n_free_gpus; i++) {
        if (a->free_gpus[i]->count == 0 || a->free_gpus[i]->count != b->free_gpus[i]->count ||
            strcmp(a->free_gpus[i]->vendor, b->free_gpus[i]->vendor) != 0 ||
            a->free_gpus[i]->memory_bytes != b->free_gpus[i]->memory_bytes) {
            abort();
        }
    }
    return 0;
}
