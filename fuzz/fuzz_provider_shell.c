/*
 * fuzz_provider_shell.c - the shell session's frame parser (both directions, over a stream
 * fed in pieces as a connection would) and its request body parser: a code or a frame, never
 * a crash; a frame never claims more bytes than it was given or a payload past the maximum.
 */
#include <stdint.h>
#include <stdlib.h>

#include "provider/provider_api.h"

static void fuzz_stream(const uint8_t *data, size_t size, bool from_client)
{
    size_t pos = 0;
    while (pos < size) {
        kumo_provider_shell_frame_t f;
        size_t used = 0;
        if (kumo_provider_shell_frame_parse(kumo_bytes_make(data + pos, size - pos), from_client,
                                            &f, &used, NULL) < 0 ||
            used == 0) {
            return;
        }
        if (used > size - pos || f.payload.len > KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX ||
            used != f.payload.len + KUMO_PROVIDER_SHELL_HEADER_BYTES) {
            abort();
        }
        pos += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(data, size, true);
    fuzz_stream(data, size, false);
    static kumo_provider_shell_request_t r;
    if (kumo_provider_shell_request_parse(kumo_bytes_make(data, size), &r, NULL) == 0 &&
        (r.argc > KUMO_PROVIDER_SHELL_ARG_COUNT_MAX || r.argv[r.argc] != NULL ||
         (r.tty && (r.rows == 0 || r.cols == 0)))) {
        abort();
    }
    return 0;
}
