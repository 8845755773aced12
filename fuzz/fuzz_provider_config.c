/*
 * fuzz_provider_config.c - the provider's config.yaml parser over arbitrary text: refused
 * with a code or accepted as a valid config that renders and parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_provider_cfg_t cfg;
    kumo_provider_cfg_default(&cfg);
    if (kumo_provider_cfg_parse("fuzz.yaml", kumo_bytes_make(data, size), &cfg, NULL) != 0) {
        return 0;
    }
    kumo_buf_t text;
    kumo_buf_init(&text, 64u * 1024u);
    kumo_provider_cfg_t back;
    kumo_provider_cfg_default(&back);
    if (kumo_provider_cfg_render(&cfg, &text, NULL) != 0 ||
        kumo_provider_cfg_parse("fuzz.yaml", kumo_buf_bytes(&text), &back, NULL) != 0 ||
        memcmp(&back, &cfg, sizeof(cfg)) != 0) {
        abort(); /* a valid config must survive its own rendering */
    }
    kumo_buf_free(&text);
    return 0;
}
