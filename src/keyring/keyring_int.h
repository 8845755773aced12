/*
 * keyring_int.h - private to the keyring module: the key-file format (keyring_format.c) as used
 * by the directory and file handling (keyring.c).
 */
#ifndef KUMO_KEYRING_KEYRING_INT_H
#define KUMO_KEYRING_KEYRING_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "keyring/keyring.h"

#define KEYRING_FORMAT_VERSION 1
#define KEYRING_SALT_BYTES     crypto_pwhash_SALTBYTES
#define KEYRING_NONCE_BYTES    crypto_secretbox_NONCEBYTES
#define KEYRING_BOX_KEY_BYTES  crypto_secretbox_KEYBYTES
/* The sealed seed: the seed plus the secretbox MAC. */
#define KEYRING_SEALED_BYTES (KUMO_CRYPTO_SEED_BYTES + crypto_secretbox_MACBYTES)
/* The longest "secret" hex value and its NUL. */
#define KEYRING_SECRET_HEX_BYTES (2u * KEYRING_SEALED_BYTES + 1u)
/* "<name>.key" and its NUL. */
#define KEYRING_FILE_NAME_BYTES (KUMO_KEYRING_NAME_BYTES_MAX + sizeof(".key"))

_Static_assert(KEYRING_BOX_KEY_BYTES == 32u, "a secretbox key is 32 bytes");
_Static_assert(KEYRING_SEALED_BYTES == 48u, "a sealed seed is 48 bytes");

/* Every secret a keyring operation touches, in one sodium_malloc'd block (guard pages, and
 * sodium_free wipes it), so no path can forget to wipe one of them. */
typedef struct keyring_scratch {
    uint8_t file[KUMO_KEYRING_FILE_BYTES_MAX + 1]; /* file text (the plain seed in hex) */
    size_t file_len;
    char secret_hex[KEYRING_SECRET_HEX_BYTES]; /* the "secret" value, lifted out of file */
    uint8_t secret[KEYRING_SEALED_BYTES];      /* the seed, or the sealed seed */
    size_t secret_len;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    uint8_t box_key[KEYRING_BOX_KEY_BYTES];
    kumo_crypto_keypair_t kp;
} keyring_scratch_t;

/* The non-secret fields of a key file. */
typedef struct keyring_meta {
    kumo_keyring_entry_t entry;
    uint8_t salt[KEYRING_SALT_BYTES];
    uint8_t nonce[KEYRING_NONCE_BYTES];
    uint64_t opslimit;
    uint64_t memlimit;
} keyring_meta_t;

/* True for a name matching [a-z0-9_-]{1,64}. */
bool kumo_keyring_name_is_valid(const char *name);

/* Writes the key file text for s->kp under name into s->file (s->file_len), sealing the seed
 * with passphrase unless it is NULL. KUMO_ENOMEM if Argon2id cannot get its memory. */
KUMO_MUST_USE int kumo_keyring_file_build(const char *name,
                                          const char *passphrase,
                                          keyring_scratch_t *s,
                                          kumo_err_ctx_t *err);

/* Parses s->file (s->file_len bytes) of the key expected_name into meta and s->secret.
 * KUMO_ECORRUPT for anything malformed or inconsistent; path names the file in details. */
KUMO_MUST_USE int kumo_keyring_file_parse(const char *path,
                                          const char *expected_name,
                                          keyring_scratch_t *s,
                                          keyring_meta_t *meta,
                                          kumo_err_ctx_t *err);

/* Recovers s->kp from a parsed file: opens the sealed seed with passphrase if needed and checks
 * it derives meta's pubkey. KUMO_EPASSPHRASE, KUMO_ECORRUPT, KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_keyring_key_unseal(const char *path,
                                          const keyring_meta_t *meta,
                                          const char *passphrase,
                                          keyring_scratch_t *s,
                                          kumo_err_ctx_t *err);

#endif
