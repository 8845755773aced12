/*
 * fuzz_node_config.c - libFuzzer target for the node's config.yaml parser
 * (kumo_node_cfg_parse). The input is the file's text. Accepted text must give a config that
 * validates; when it renders (strings without quotes or backslashes), the rendered file must
 * parse back to a config that renders to the same text. Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <string.h>

#include "node/node_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_node_cfg_t cfg;
    kumo_node_cfg_default(&cfg);
    kumo_err_ctx_t err = {0};
    if (kumo_node_cfg_parse("fuzz.yaml", kumo_bytes_make(data, size), &cfg, &err) != 0) {
        return 0;
    }
    KUMO_ASSERT(kumo_node_cfg_validate(&cfg, &err) == 0);
    kumo_buf_t first;
    kumo_buf_init(&first, 64u * 1024u);
    if (kumo_node_cfg_render(&cfg, &first, &err) != 0) {
        kumo_buf_free(&first);
        return 0;
    }
    kumo_node_cfg_t again;
    kumo_node_cfg_default(&again);
    KUMO_ASSERT(kumo_node_cfg_parse("rendered.yaml", kumo_buf_bytes(&first), &again, &err) == 0);
    kumo_buf_t second;
    kumo_buf_init(&second, 64u * 1024u);
    KUMO_ASSERT(kumo_node_cfg_render(&again, &second, &err) == 0);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&first), kumo_buf_bytes(&second)));
    kumo_buf_free(&first);
    kumo_buf_free(&second);
    return 0;
}
