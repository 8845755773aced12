/*
 * fuzz_rpc_ui.c - libFuzzer target for the dashboard's pure lookups (rpc_ui.c): which built-in
 * file a request path names, and the Content-Security-Policy for a connect origin.
 *
 * Input: byte 0 bit 0 picks the policy (else the path lookup); the rest is the text (cut at
 * the first NUL). A found file must be one of the table's, under a name without '/' or "..";
 * an accepted policy must start with default-src 'none' and carry no character an origin may
 * not (no quote beyond the policy's own, no ';' beyond its own directives). Deterministic, no
 * state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"

#define FUZZ_INPUT_BYTES_MAX 4096u

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += *s == c ? 1u : 0u;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_BYTES_MAX) {
        return 0;
    }
    char *text = malloc(size);
    if (text == NULL) {
        abort();
    }
    memcpy(text, data + 1, size - 1u);
    text[size - 1u] = '\0';
    if ((data[0] & 1u) == 0) {
        const kumo_rpc_ui_file_t *f = kumo_rpc_ui_file_find(text);
        if (f != NULL &&
            (f < kumo_rpc_ui_files || f >= kumo_rpc_ui_files + kumo_rpc_ui_file_count ||
             strchr(f->name, '/') != NULL || strstr(f->name, "..") != NULL)) {
            abort();
        }
    } else {
        char csp[KUMO_RPC_UI_CSP_BYTES_MAX];
        char empty[KUMO_RPC_UI_CSP_BYTES_MAX];
        kumo_err_ctx_t err = {0};
        if (kumo_rpc_ui_csp_format("", empty, sizeof(empty), &err) != 0) {
            abort();
        }
        if (kumo_rpc_ui_csp_format(text, csp, sizeof(csp), &err) == 0 &&
            (strncmp(csp, "default-src 'none';", 19) != 0 ||
             count_char(csp, '\'') != count_char(empty, '\'') ||
             count_char(csp, ';') != count_char(empty, ';') || strchr(csp, '\n') != NULL)) {
            abort();
        }
    }
    free(text);
    return 0;
}
