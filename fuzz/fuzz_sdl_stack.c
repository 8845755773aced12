/*
 * fuzz_sdl_stack.c - libFuzzer target for stack files (kumo_sdl_stack_parse_with). The input is
 * the file's text; a file's `source:` is read by a loader that answers with the source's own
 * name as content, or fails for a source starting with 'x' (deterministic). Parsing may reject it
 * but must not crash, leak or hang. An accepted stack must encode its manifest to the same bytes
 * twice (so the same version), those bytes must decode and re-encode unchanged, and its groups must
 * be non-empty and sorted by name. Deterministic, no state between inputs.
 */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "sdl/sdl.h"

static void manifest_check(const kumo_sdl_stack_t *stack)
{
    kumo_err_ctx_t err = {0};
    kumo_buf_t a;
    kumo_buf_t b;
    kumo_buf_init(&a, KUMO_SDL_MANIFEST_BYTES_MAX);
    kumo_buf_init(&b, KUMO_SDL_MANIFEST_BYTES_MAX);
    KUMO_ASSERT(kumo_sdl_manifest_encode(stack, &a, &err) == 0);
    KUMO_ASSERT(kumo_sdl_manifest_encode(stack, &b, &err) == 0);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&a), kumo_buf_bytes(&b)));
    uint8_t va[KUMO_VERSION_BYTES];
    uint8_t vb[KUMO_VERSION_BYTES];
    KUMO_ASSERT(kumo_sdl_manifest_version(kumo_buf_bytes(&a), va) == 0);
    KUMO_ASSERT(kumo_sdl_manifest_version(kumo_buf_bytes(&b), vb) == 0);
    KUMO_ASSERT(memcmp(va, vb, sizeof(va)) == 0);
    Kumo__Manifest *m = NULL;
    KUMO_ASSERT(kumo_sdl_manifest_decode(kumo_buf_bytes(&a), &m, &err) == 0);
    kumo_buf_reset(&b);
    KUMO_ASSERT(kumo_codec_pack(&m->base, &b, &err) == 0);
    KUMO_ASSERT(kumo_bytes_equal(kumo_buf_bytes(&a), kumo_buf_bytes(&b)));
    kumo_codec_free(&m->base);
    kumo_buf_free(&a);
    kumo_buf_free(&b);
}

static int source_read(void *ctx, const char *source, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    (void)ctx;
    if (source[0] == 'x') {
        return kumo_err_set(err, KUMO_ENOTFOUND, "%s: no such file", source);
    }
    return kumo_buf_append(out, source, strlen(source));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_sdl_stack_t *stack = NULL;
    kumo_err_ctx_t err = {0};
    const kumo_sdl_file_loader_t loader = {.ctx = NULL, .read = source_read};
    if (kumo_sdl_stack_parse_with(kumo_bytes_make(data, size), "fuzz.yml", &loader, &stack, &err) !=
        0) {
        KUMO_ASSERT(stack == NULL);
        KUMO_ASSERT(strncmp(err.detail, "fuzz.yml:", 9) == 0);
        return 0;
    }
    Kumo__GroupSpec **groups;
    size_t group_count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(stack, &groups, &group_count, &wait_blocks, &deposit);
    KUMO_ASSERT(group_count > 0 && group_count <= KUMO_GROUP_COUNT_MAX);
    KUMO_ASSERT(deposit > 0);
    for (size_t i = 1; i < group_count; i++) {
        KUMO_ASSERT(strcmp(groups[i - 1]->name, groups[i]->name) < 0);
    }
    manifest_check(stack);
    kumo_sdl_stack_free(stack);
    return 0;
}
