/*
 * fuzz_chain_genesis.c - genesis JSON parsing on arbitrary bytes; an accepted genesis must
 * render to JSON and parse back to the same encoding.
 */
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Kumo__Genesis *g = NULL;
    if (kumo_chain_genesis_parse(kumo_bytes_make(data, size), &g, NULL) != 0) {
        return 0;
    }
    kumo_buf_t a;
    kumo_buf_t b;
    kumo_buf_init(&a, KUMO_GENESIS_BYTES_MAX);
    kumo_buf_init(&b, KUMO_GENESIS_BYTES_MAX);
    char *text = kumo_codec_json_dumps(&g->base, false);
    Kumo__Genesis *g2 = NULL;
    if (text == NULL ||
        kumo_chain_genesis_parse(kumo_bytes_make(text, strlen(text)), &g2, NULL) != 0 ||
        kumo_codec_pack(&g->base, &a, NULL) != 0 || kumo_codec_pack(&g2->base, &b, NULL) != 0 ||
        !kumo_bytes_equal(kumo_buf_bytes(&a), kumo_buf_bytes(&b))) {
        abort();
    }
    free(text);
    kumo_codec_free(&g2->base);
    kumo_codec_free(&g->base);
    kumo_buf_free(&a);
    kumo_buf_free(&b);
    return 0;
}
