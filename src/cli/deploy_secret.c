/*
 * deploy_secret.c - the sealed secrets of `kumo deploy create` and `update` (docs/stack.md
 * "Secrets"): each value read from the CLI's environment or a file, the public key of every
 * provider a group using secrets lists read from the chain, and the stack's manifest sealed
 * (kumo_sdl_stack_seal) before its version goes on chain. Values are wiped after sealing and
 * never printed or logged.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/deploy_int.h"
#include "file/file.h"

/* The chain's public key of a provider (its account's, set by its first signed tx). */
static int secret_pubkey_get(void *ctx,
                             const uint8_t addr[KUMO_ADDRESS_BYTES],
                             uint8_t out[32],
                             kumo_err_ctx_t *err)
{
    kumo_client_t *c = ctx;
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, text);
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", text);
    ProtobufCMessage *m = NULL;
    kumo_err_ctx_t gerr = {0};
    int rc = kumo_client_object_get(c, path, &kumo__account__descriptor, &m, &gerr);
    if (rc == KUMO_ENOTFOUND) {
        return kumo_err_set(err, KUMO_ENOTFOUND,
                            "provider %s has no account on chain, so no public key to seal its "
                            "group's secrets to",
                            text);
    }
    KUMO_ENSURE(rc == 0, err, rc, "provider %s: %s", text, gerr.detail);
    const Kumo__Account *acc = (const Kumo__Account *)m;
    rc = acc->pubkey.len == KUMO_CRYPTO_PUBKEY_BYTES
             ? 0
             : kumo_err_set(err, KUMO_ENOTFOUND,
                            "provider %s has no public key on chain yet (it never signed a "
                            "transaction): its group's secrets cannot be sealed to it",
                            text);
    if (rc == 0) {
        memcpy(out, acc->pubkey.data, KUMO_CRYPTO_PUBKEY_BYTES);
    }
    kumo_codec_free(m);
    return rc;
}

/* The value of secret s into out (at most KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1 bytes, so one
 * too long is caught by sealing): the variable, or the file relative to the stack's dir. */
static int secret_value_read(const char *stack_path,
                             const kumo_sdl_secret_t *s,
                             kumo_buf_t *out,
                             kumo_err_ctx_t *err)
{
    kumo_buf_init(out, KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1u);
    /* Reserved whole first: a value is never left behind in memory a realloc freed. */
    KUMO_ENSURE(kumo_buf_reserve(out, KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1u) == 0, err, KUMO_ENOMEM,
                "secret %s: out of memory", s->name);
    if (s->from_env != NULL) {
        const char *v = getenv(s->from_env);
        KUMO_ENSURE(v != NULL, err, KUMO_ENOTFOUND, "secret %s: environment variable %s is not set",
                    s->name, s->from_env);
        size_t len = strlen(v);
        KUMO_ENSURE(len <= KUMO_SDL_SECRET_VALUE_BYTES_MAX, err, KUMO_ELIMIT,
                    "secret %s: %s holds %zu bytes, more than %u", s->name, s->from_env, len,
                    KUMO_SDL_SECRET_VALUE_BYTES_MAX);
        return kumo_buf_append(out, v, len);
    }
    char path[CLI_PATH_BYTES];
    const char *slash = strrchr(stack_path, '/');
    int n = s->from_file[0] == '/' || slash == NULL
                ? snprintf(path, sizeof(path), "%s", s->from_file)
                : snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - stack_path), stack_path,
                           s->from_file);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "secret %s: path too long",
                s->name);
    kumo_err_ctx_t ferr = {0};
    int rc = kumo_file_read(path, out, &ferr);
    if (rc == KUMO_ELIMIT) {
        return kumo_err_set(err, rc, "secret %s: %s is more than %u bytes", s->name, path,
                            KUMO_SDL_SECRET_VALUE_BYTES_MAX);
    }
    KUMO_ENSURE(rc == 0, err, rc, "secret %s: %s", s->name, ferr.detail);
    return 0;
}

static void secret_values_free(kumo_buf_t *bufs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (bufs[i].ptr != NULL) {
            kumo_crypto_wipe(bufs[i].ptr, bufs[i].cap);
        }
        kumo_buf_free(&bufs[i]);
    }
}

int deploy_secrets_seal(deploy_flow_t *f, kumo_err_ctx_t *err)
{
    deploy_stack_t *st = &f->stack;
    size_t n = kumo_sdl_stack_secret_count(st->sdl);
    if (n == 0) {
        return 0;
    }
    KUMO_ASSERT(n <= KUMO_SDL_SECRET_COUNT_MAX);
    kumo_buf_t bufs[KUMO_SDL_SECRET_COUNT_MAX];
    kumo_bytes_t values[KUMO_SDL_SECRET_COUNT_MAX];
    memset(bufs, 0, sizeof(bufs));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = secret_value_read(f->a->pos[0], kumo_sdl_stack_secret(st->sdl, i), &bufs[i], err);
        values[i] = kumo_buf_bytes(&bufs[i]);
    }
    uint8_t owner[KUMO_ADDRESS_BYTES];
    if (rc == 0) {
        rc = kumo_codec_address_decode(f->owner, owner, err);
    }
    kumo_client_t *c = NULL;
    if (rc == 0) {
        rc = cli_node_open(f->a, &c, err);
    }
    if (rc == 0) {
        kumo_crypto_rng_t rng = {.ctx = NULL, .fill_cb = kumo_crypto_random_fill};
        kumo_sdl_seal_input_t in = {.owner = owner,
                                    .dseq = f->dseq,
                                    .values = values,
                                    .ctx = c,
                                    .pubkey_cb = secret_pubkey_get,
                                    .rng = &rng};
        rc = kumo_sdl_stack_seal(st->sdl, &in, err);
        kumo_client_close(c);
    }
    secret_values_free(bufs, n);
    KUMO_GUARD(rc);
    /* The manifest grew: its bytes moved and its version is new. */
    st->manifest = kumo_sdl_stack_manifest_bytes(st->sdl);
    KUMO_GUARD(kumo_sdl_manifest_version(st->manifest, st->version));
    KUMO_GUARD(kumo_codec_hex_encode(kumo_bytes_make(st->version, sizeof(st->version)),
                                     st->version_hex, sizeof(st->version_hex)));
    fprintf(f->out, "sealed %zu secret(s) for the providers their groups list\n", n);
    return 0;
}
