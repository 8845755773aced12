/*
 * fuzz_sdl_akash.c - libFuzzer target for the Akash SDL import (kumo_sdl_akash_detect and
 * kumo_sdl_akash_convert). The input is the file's text. Converting may fail but must not
 * crash, leak or hang; on failure both outputs are left empty. A conversion that succeeds is
 * deterministic (the same bytes and warnings twice) and its text is a kumo stack, not Akash
 * SDL, that kumo_sdl_stack_parse reads without crashing. Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <string.h>

#include "sdl/sdl.h"

static int convert(kumo_bytes_t in, kumo_buf_t *out, kumo_buf_t *notes)
{
    static const kumo_sdl_akash_opts_t opts = {.region = "us-east"};
    kumo_buf_init(out, KUMO_SDL_STACK_BYTES_MAX);
    kumo_buf_init(notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_sdl_akash_convert(in, "fuzz.yml", &opts, out, notes, &err);
    KUMO_ASSERT(rc != 0 || out->len > 0);
    KUMO_ASSERT(rc == 0 || (out->len == 0 && notes->len == 0));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > KUMO_SDL_STACK_BYTES_MAX) {
        return 0;
    }
    kumo_bytes_t in = kumo_bytes_make(data, size);
    (void)kumo_sdl_akash_detect(in);
    kumo_buf_t a;
    kumo_buf_t an;
    kumo_buf_t b;
    kumo_buf_t bn;
    int rc = convert(in, &a, &an);
    int rc2 = convert(in, &b, &bn);
    KUMO_ASSERT(rc == rc2);
    if (rc == 0) {
        KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&a), kumo_buf_bytes(&b)));
        KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&an), kumo_buf_bytes(&bn)));
        KUMO_ASSERT(!kumo_sdl_akash_detect(kumo_buf_bytes(&a)));
        kumo_sdl_stack_t *stack = NULL;
        kumo_err_ctx_t err = {0};
        if (kumo_sdl_stack_parse(kumo_buf_bytes(&a), "fuzz.kumo.yml", &stack, &err) == 0) {
            kumo_sdl_stack_free(stack);
        }
    }
    kumo_buf_free(&a);
    kumo_buf_free(&an);
    kumo_buf_free(&b);
    kumo_buf_free(&bn);
    return 0;
}
