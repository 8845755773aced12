/*
 * keyring.h - named Ed25519 keys on disk, optionally sealed with a passphrase.
 *
 * A keyring is a directory (created 0700) holding one file per key, "<name>.key", created 0600
 * and written atomically (temp file, fsync, rename without replace, fsync of the directory).
 * Names match [a-z0-9_-]{1,64}. A key file is one small JSON object:
 *
 *   {"version":1,"name":"alice","address":"kumo1...","pubkey":"<hex32>","kdf":"none",
 *    "salt":"","opslimit":0,"memlimit":0,"nonce":"","secret":"<hex32 seed>"}
 *
 * With a passphrase, kdf is "argon2id": key = crypto_pwhash(passphrase, salt[16], opslimit,
 * memlimit, ARGON2ID13) and secret = crypto_secretbox_easy(seed, nonce[24], key) (48 bytes).
 *
 * Not pure: file I/O and the OS RNG. Seeds and derived keys live in sodium_malloc'd memory
 * (wiped when freed) and are never logged or printed. Single-threaded: one kumo_keyring_t must
 * not be used from two threads at once. Loading runs Argon2id (about 64 MiB and a fraction of a
 * second), so a daemon calls it at startup or on a worker, never on its event loop.
 */
#ifndef KUMO_KEYRING_KEYRING_H
#define KUMO_KEYRING_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"

/* Key names are short identifiers typed by people; 64 matches KUMO_NAME_BYTES_MAX. */
#define KUMO_KEYRING_NAME_BYTES_MAX 64u
/* A key file is under 1 KiB; 4 KiB leaves room for new fields while reads stay bounded. */
#define KUMO_KEYRING_FILE_BYTES_MAX 4096u
/* A passphrase longer than this is almost certainly a pasted file, not a passphrase. */
#define KUMO_KEYRING_PASSPHRASE_BYTES_MAX 1024u
/* Keys one listing reads: a keyring holds a handful of keys; this bounds list memory. */
#define KUMO_KEYRING_KEY_COUNT_MAX 1024u

_Static_assert(KUMO_KEYRING_NAME_BYTES_MAX == KUMO_NAME_BYTES_MAX, "key names are names");

typedef struct kumo_keyring kumo_keyring_t;

/* What a listing shows of one key; nothing secret. */
typedef struct kumo_keyring_entry {
    char name[KUMO_KEYRING_NAME_BYTES_MAX + 1];
    char address[KUMO_ADDRESS_TEXT_BYTES]; /* "kumo1..." */
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    bool is_encrypted; /* kdf is "argon2id": loading needs the passphrase */
} kumo_keyring_entry_t;

/* Called once per key by kumo_keyring_list. entry is valid only during the call. A negative
 * return stops the listing, and kumo_keyring_list returns that value. */
typedef int (*kumo_keyring_list_cb)(void *ctx, const kumo_keyring_entry_t *entry);

/* Opens the keyring in dir, creating the directory (mode 0700, parent must exist) if missing.
 * Also initialises libsodium. KUMO_EINVAL for an empty path, KUMO_ELIMIT past PATH_MAX,
 * KUMO_EIO if dir cannot be created or opened or is not a directory, KUMO_EUNAUTH if group or
 * others have any access to it (the detail says to chmod 700), KUMO_ENOMEM. Close with
 * kumo_keyring_close. */
KUMO_MUST_USE int kumo_keyring_open(const char *dir, kumo_keyring_t **out, kumo_err_ctx_t *err);
/* Closes kr; NULL is a no-op. */
void kumo_keyring_close(kumo_keyring_t *kr);

/* Generates a new key (OS RNG) and stores it as name, sealed with passphrase unless it is
 * NULL. kp_out (may be NULL) receives the keypair; the caller wipes it with
 * kumo_crypto_key_wipe. KUMO_EINVAL for a bad name or an empty passphrase, KUMO_ELIMIT for a
 * passphrase over KUMO_KEYRING_PASSPHRASE_BYTES_MAX, KUMO_EEXIST if name is taken, KUMO_EIO,
 * KUMO_ENOMEM. On failure nothing is written and kp_out is untouched. */
KUMO_MUST_USE int kumo_keyring_add(kumo_keyring_t *kr,
                                   const char *name,
                                   const char *passphrase,
                                   kumo_crypto_keypair_t *kp_out,
                                   kumo_err_ctx_t *err);

/* Like kumo_keyring_add, but stores the key derived from seed (which the caller wipes). */
KUMO_MUST_USE int kumo_keyring_import(kumo_keyring_t *kr,
                                      const char *name,
                                      const uint8_t seed[KUMO_CRYPTO_SEED_BYTES],
                                      const char *passphrase,
                                      kumo_crypto_keypair_t *kp_out,
                                      kumo_err_ctx_t *err);

/* Loads the key name into kp_out (the caller wipes it). passphrase is ignored for a key stored
 * without one. KUMO_EINVAL for a bad name, KUMO_ENOTFOUND if there is no such key,
 * KUMO_EPASSPHRASE for a wrong or missing passphrase or tampered ciphertext, KUMO_EUNAUTH if the
 * file is accessible to group or others (the detail says to chmod 600), KUMO_EIO if it cannot
 * be read (or is a symlink), KUMO_ECORRUPT if it is not a regular file, is over
 * KUMO_KEYRING_FILE_BYTES_MAX, is malformed, or its fields disagree (name, address, pubkey),
 * KUMO_ENOMEM. On failure kp_out is untouched. */
KUMO_MUST_USE int kumo_keyring_load(kumo_keyring_t *kr,
                                    const char *name,
                                    const char *passphrase,
                                    kumo_crypto_keypair_t *kp_out,
                                    kumo_err_ctx_t *err);

/* The 32-byte seed of key name (to back it up or move it); errors as kumo_keyring_load. The
 * caller wipes seed_out. */
KUMO_MUST_USE int kumo_keyring_export(kumo_keyring_t *kr,
                                      const char *name,
                                      const char *passphrase,
                                      uint8_t seed_out[KUMO_CRYPTO_SEED_BYTES],
                                      kumo_err_ctx_t *err);

/* The public view of key name without its passphrase; errors as kumo_keyring_load except
 * KUMO_EPASSPHRASE. */
KUMO_MUST_USE int kumo_keyring_entry_get(kumo_keyring_t *kr,
                                         const char *name,
                                         kumo_keyring_entry_t *entry_out,
                                         kumo_err_ctx_t *err);

/* Removes key name (and fsyncs the directory). KUMO_EINVAL, KUMO_ENOTFOUND, KUMO_EIO. */
KUMO_MUST_USE int kumo_keyring_delete(kumo_keyring_t *kr, const char *name, kumo_err_ctx_t *err);

/* Calls cb for every key in byte order of names, without passphrases. Files whose names are not
 * "<valid name>.key" are ignored. Every key file is read and checked before the first call, so
 * on failure (any kumo_keyring_load error but KUMO_EPASSPHRASE and KUMO_ENOTFOUND, or
 * KUMO_ELIMIT past KUMO_KEYRING_KEY_COUNT_MAX keys) cb has not run; otherwise it ran once per key
 * before the call returns, unless it stopped the listing. */
KUMO_MUST_USE int
kumo_keyring_list(kumo_keyring_t *kr, kumo_keyring_list_cb cb, void *cb_ctx, kumo_err_ctx_t *err);

#endif
