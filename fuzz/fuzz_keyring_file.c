/*
 * fuzz_keyring_file.c - libFuzzer target for the key-file parser (kumo_keyring_file_parse) of
 * a key named "fuzz": a keyring directory is something a user may copy from anywhere. Any
 * input either fails cleanly or gives consistent metadata; a plain (unencrypted) key that
 * parses must unseal to a key matching its public key or fail as corrupt. Encrypted keys are
 * not unsealed (Argon2id at the smallest allowed cost is still too slow for fuzzing).
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "keyring/keyring_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > KUMO_KEYRING_FILE_BYTES_MAX) {
        return 0;
    }
    KUMO_ASSERT(sodium_init() >= 0);
    keyring_scratch_t *s = sodium_malloc(sizeof(*s));
    KUMO_ASSERT(s != NULL);
    memset(s, 0, sizeof(*s));
    memcpy(s->file, data, size);
    s->file_len = size;
    keyring_meta_t meta;
    memset(&meta, 0, sizeof(meta));
    kumo_err_ctx_t err = {0};
    if (kumo_keyring_file_parse("fuzz.key", "fuzz", s, &meta, &err) == 0) {
        KUMO_ASSERT(strcmp(meta.entry.name, "fuzz") == 0);
        KUMO_ASSERT(s->secret_len ==
                    (meta.entry.is_encrypted ? KEYRING_SEALED_BYTES : KUMO_CRYPTO_SEED_BYTES));
        if (!meta.entry.is_encrypted) {
            int rc = kumo_keyring_key_unseal("fuzz.key", &meta, NULL, s, &err);
            KUMO_ASSERT(rc == 0 || rc == KUMO_ECORRUPT);
        }
    }
    sodium_free(s);
    return 0;
}
