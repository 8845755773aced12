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
#include "crypto/crypto.h"
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

/* Providers with known keys: seeds 0x40 and 0x41 (corpus secrets.yml lists their addresses). */
static int
pubkey_of(void *ctx, const uint8_t addr[KUMO_ADDRESS_BYTES], uint8_t out[32], kumo_err_ctx_t *err)
{
    (void)ctx;
    for (uint8_t i = 0; i < 2; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        memset(seed, 0x40 + i, sizeof(seed));
        kumo_crypto_keypair_t kp;
        kumo_crypto_key_from_seed(seed, &kp);
        uint8_t a[KUMO_ADDRESS_BYTES];
        kumo_crypto_address_from_pubkey(kp.pubkey, a);
        if (memcmp(a, addr, sizeof(a)) == 0) {
            memcpy(out, kp.pubkey, 32);
            return 0;
        }
    }
    return kumo_err_set(err, KUMO_ENOTFOUND, "no public key");
}

static void counter_fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *next = ctx;
    for (size_t i = 0; i < len; i++) {
        out[i] = (*next)++;
    }
}

/* A stack with secrets seals (when its providers' keys are known) into a manifest that passes
 * the provider's check against its own groups, and every listed provider opens the values. */
static void secrets_seal_check(kumo_sdl_stack_t *stack)
{
    size_t n = kumo_sdl_stack_secret_count(stack);
    KUMO_ASSERT(!kumo_sdl_stack_is_sealed(stack) || n == 0);
    if (n == 0) {
        return;
    }
    kumo_bytes_t values[KUMO_SDL_SECRET_COUNT_MAX];
    for (size_t i = 0; i < n; i++) {
        const kumo_sdl_secret_t *s = kumo_sdl_stack_secret(stack, i);
        KUMO_ASSERT((s->from_env == NULL) != (s->from_file == NULL));
        values[i] = kumo_bytes_make(s->name, strlen(s->name)); /* a value of its own */
    }
    static const uint8_t owner[KUMO_ADDRESS_BYTES] = {7, 7, 7};
    uint8_t next = 1;
    kumo_crypto_rng_t rng = {.ctx = &next, .fill_cb = counter_fill};
    kumo_sdl_seal_input_t in = {
        .owner = owner, .dseq = 42, .values = values, .pubkey_cb = pubkey_of, .rng = &rng};
    kumo_err_ctx_t err = {0};
    size_t before = kumo_sdl_stack_manifest_bytes(stack).len;
    if (kumo_sdl_stack_seal(stack, &in, &err) != 0) {
        KUMO_ASSERT(kumo_sdl_stack_manifest_bytes(stack).len == before);
        return;
    }
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(stack);
    Kumo__GroupSpec **groups;
    size_t group_count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(stack, &groups, &group_count, &wait_blocks, &deposit);
    KUMO_ASSERT(kumo_sdl_manifest_check(m, groups, group_count, &err) == 0);
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x40, sizeof(seed));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    KUMO_ASSERT(kumo_sdl_sealed_open_check(m, owner, 42, &kp, &err) == 0);
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
    secrets_seal_check(stack);
    manifest_check(stack);
    kumo_sdl_stack_free(stack);
    return 0;
}
