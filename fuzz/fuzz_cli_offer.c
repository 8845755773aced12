/*
 * fuzz_cli_offer.c - the --offer parser of `kumo tx provider update` (cli_offer_parse) on
 * arbitrary text: it must accept or refuse without crashing, and an accepted offer must hold
 * exactly the seven values (a second parse of the same text gives the same offer).
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
    Kumo__ProviderOffer a;
    Kumo__ProviderOffer b;
    kumo_err_ctx_t err = {0};
    if (cli_offer_parse(text, &a, &err) != 0) {
        return 0;
    }
    if (cli_offer_parse(text, &b, NULL) != 0 || a.price_cpu_per_core != b.price_cpu_per_core ||
        a.free_cpu_milli != b.free_cpu_milli || a.free_collateral != b.free_collateral ||
        a.height != 0) {
        abort();
    }
    return 0;
}
