/*
 * keyring_format.c - the key-file format: building the JSON text of a key (sealing the seed
 * with Argon2id + secretbox when a passphrase is given), parsing and checking it, and opening
 * the sealed seed. No I/O here; keyring.c reads and writes the files.
 *
 * Secret hygiene: the file text lives in sodium_malloc'd scratch. The "secret" value is lifted
 * out of that text and replaced by '0's before jansson sees it, because jansson copies tokens
 * into its own heap buffers and frees them without wiping.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "keyring/keyring.h"
#include "keyring/keyring_int.h"

#define KDF_NONE     "none"
#define KDF_ARGON2ID "argon2id"
/* The fields of version 1; a file has exactly these. */
static const char *const file_keys[] = {"version", "name",     "address",  "pubkey", "kdf",
                                        "salt",    "opslimit", "memlimit", "nonce",  "secret"};
/* Argon2id costs a file may ask for. The floor keeps a tampered file from weakening new
 * derivations to nothing; the ceiling keeps it from asking for more memory than a laptop has. */
#define OPSLIMIT_MIN ((uint64_t)crypto_pwhash_OPSLIMIT_INTERACTIVE)
#define OPSLIMIT_MAX ((uint64_t)crypto_pwhash_OPSLIMIT_SENSITIVE)
#define MEMLIMIT_MIN ((uint64_t)crypto_pwhash_MEMLIMIT_INTERACTIVE)
#define MEMLIMIT_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

_Static_assert(KEYRING_SECRET_HEX_BYTES <= KUMO_KEYRING_FILE_BYTES_MAX, "secret fits a file");

bool kumo_keyring_name_is_valid(const char *name)
{
    KUMO_ASSERT(name != NULL);
    size_t len = strnlen(name, KUMO_KEYRING_NAME_BYTES_MAX + 1);
    if (len == 0 || len > KUMO_KEYRING_NAME_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Seals s->seed into s->secret under a key derived from passphrase; fills meta's kdf fields. */
static int
seed_seal(const char *passphrase, keyring_scratch_t *s, keyring_meta_t *meta, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(passphrase != NULL);
    KUMO_ASSERT(s != NULL && meta != NULL);
    randombytes_buf(meta->salt, sizeof(meta->salt));
    randombytes_buf(meta->nonce, sizeof(meta->nonce));
    meta->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    meta->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (crypto_pwhash(s->box_key, sizeof(s->box_key), passphrase, strlen(passphrase), meta->salt,
                      crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return kumo_err_set(err, KUMO_ENOMEM, "argon2id: cannot get %" PRIu64 " bytes",
                            meta->memlimit);
    }
    int rc = crypto_secretbox_easy(s->secret, s->seed, sizeof(s->seed), meta->nonce, s->box_key);
    KUMO_ASSERT(rc == 0);
    sodium_memzero(s->box_key, sizeof(s->box_key));
    s->secret_len = KEYRING_SEALED_BYTES;
    meta->entry.is_encrypted = true;
    return 0;
}

/* Hex of a fixed-size public field into out (which holds 2 * len + 1). */
static void hex_put(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
    int rc = kumo_codec_hex_encode(kumo_bytes_make(in, len), out, out_cap);
    KUMO_ASSERT(rc == 0);
    KUMO_ASSERT(strlen(out) == 2 * len);
}

int kumo_keyring_file_build(const char *name,
                            const char *passphrase,
                            keyring_scratch_t *s,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kumo_keyring_name_is_valid(name));
    KUMO_ASSERT(s != NULL);
    keyring_meta_t meta = {0};
    kumo_crypto_key_seed(&s->kp, s->seed);
    if (passphrase == NULL) {
        memcpy(s->secret, s->seed, sizeof(s->seed));
        s->secret_len = KUMO_CRYPTO_SEED_BYTES;
    } else {
        KUMO_GUARD(seed_seal(passphrase, s, &meta, err));
    }
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char address[KUMO_ADDRESS_TEXT_BYTES];
    char pubkey_hex[2 * KUMO_CRYPTO_PUBKEY_BYTES + 1];
    char salt_hex[2 * KEYRING_SALT_BYTES + 1] = "";
    char nonce_hex[2 * KEYRING_NONCE_BYTES + 1] = "";
    kumo_crypto_address_from_pubkey(s->kp.pubkey, addr);
    kumo_codec_address_encode(addr, address);
    hex_put(s->kp.pubkey, sizeof(s->kp.pubkey), pubkey_hex, sizeof(pubkey_hex));
    if (meta.entry.is_encrypted) {
        hex_put(meta.salt, sizeof(meta.salt), salt_hex, sizeof(salt_hex));
        hex_put(meta.nonce, sizeof(meta.nonce), nonce_hex, sizeof(nonce_hex));
    }
    hex_put(s->secret, s->secret_len, s->secret_hex, sizeof(s->secret_hex));
    /* Every value is a validated name, bech32, hex or a number: nothing needs JSON escaping. */
    int n = snprintf((char *)s->file, sizeof(s->file),
                     "{\"version\":%d,\"name\":\"%s\",\"address\":\"%s\",\"pubkey\":\"%s\","
                     "\"kdf\":\"%s\",\"salt\":\"%s\",\"opslimit\":%" PRIu64 ",\"memlimit\":%" PRIu64
                     ",\"nonce\":\"%s\",\"secret\":\"%s\"}\n",
                     KEYRING_FORMAT_VERSION, name, address, pubkey_hex,
                     meta.entry.is_encrypted ? KDF_ARGON2ID : KDF_NONE, salt_hex, meta.opslimit,
                     meta.memlimit, nonce_hex, s->secret_hex);
    sodium_memzero(s->secret_hex, sizeof(s->secret_hex));
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_KEYRING_FILE_BYTES_MAX);
    s->file_len = (size_t)n;
    return 0;
}

static size_t json_ws_skip(const keyring_scratch_t *s, size_t pos)
{
    while (pos < s->file_len && (s->file[pos] == ' ' || s->file[pos] == '\t' ||
                                 s->file[pos] == '\n' || s->file[pos] == '\r')) {
        pos++;
    }
    return pos;
}

static bool char_is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Moves the hex value of the one "secret" key from s->file into s->secret_hex and overwrites it
 * in the file text with '0's. meta_secret_check later confirms that jansson found exactly this
 * masked value under "secret". */
static int secret_lift(const char *path, keyring_scratch_t *s, kumo_err_ctx_t *err)
{
    static const char key[] = "\"secret\"";
    const size_t key_len = sizeof(key) - 1;
    const uint8_t *hit = memmem(s->file, s->file_len, key, key_len);
    KUMO_ENSURE(hit != NULL, err, KUMO_ECORRUPT, "%s: no \"secret\" field", path);
    KUMO_ASSERT(hit >= s->file);
    size_t at = (size_t)(hit - s->file);
    KUMO_ENSURE(memmem(hit + 1, s->file_len - at - 1, key, key_len) == NULL, err, KUMO_ECORRUPT,
                "%s: more than one \"secret\"", path);
    size_t pos = json_ws_skip(s, at + key_len);
    KUMO_ENSURE(pos < s->file_len && s->file[pos] == ':', err, KUMO_ECORRUPT,
                "%s: \"secret\" is not a key", path);
    pos = json_ws_skip(s, pos + 1);
    KUMO_ENSURE(pos < s->file_len && s->file[pos] == '"', err, KUMO_ECORRUPT,
                "%s: \"secret\" is not a string", path);
    size_t start = pos + 1;
    size_t end = start;
    while (end < s->file_len && end - start < KEYRING_SECRET_HEX_BYTES &&
           char_is_hex(s->file[end])) {
        end++;
    }
    KUMO_ENSURE(end < s->file_len && s->file[end] == '"' && end - start < KEYRING_SECRET_HEX_BYTES,
                err, KUMO_ECORRUPT, "%s: \"secret\" is not a short hex string", path);
    memcpy(s->secret_hex, s->file + start, end - start);
    s->secret_hex[end - start] = '\0';
    memset(s->file + start, '0', end - start);
    return 0;
}

static int
json_field(const char *path, const json_t *root, const char *key, json_t **out, kumo_err_ctx_t *err)
{
    json_t *v = json_object_get(root, key);
    KUMO_ENSURE(v != NULL, err, KUMO_ECORRUPT, "%s: missing \"%s\"", path, key);
    *out = v;
    return 0;
}

static int json_text(
    const char *path, const json_t *root, const char *key, const char **out, kumo_err_ctx_t *err)
{
    json_t *v = NULL;
    KUMO_GUARD(json_field(path, root, key, &v, err));
    KUMO_ENSURE(json_is_string(v), err, KUMO_ECORRUPT, "%s: \"%s\" is not a string", path, key);
    /* Key files hold ASCII only; an embedded NUL would make the C string lie about the value. */
    KUMO_ENSURE(strlen(json_string_value(v)) == json_string_length(v), err, KUMO_ECORRUPT,
                "%s: \"%s\" holds a NUL", path, key);
    *out = json_string_value(v);
    return 0;
}

static int
json_u64(const char *path, const json_t *root, const char *key, uint64_t *out, kumo_err_ctx_t *err)
{
    json_t *v = NULL;
    KUMO_GUARD(json_field(path, root, key, &v, err));
    KUMO_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, err, KUMO_ECORRUPT,
                "%s: \"%s\" is not a non-negative integer", path, key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Decodes the hex field key into exactly len bytes (len 0: the empty string). */
static int json_hex(const char *path,
                    const json_t *root,
                    const char *key,
                    uint8_t *out,
                    size_t len,
                    kumo_err_ctx_t *err)
{
    const char *text = NULL;
    KUMO_GUARD(json_text(path, root, key, &text, err));
    size_t got = 0;
    int rc = kumo_codec_hex_decode(text, out, len, &got, NULL);
    KUMO_ENSURE(rc == 0 && got == len, err, KUMO_ECORRUPT, "%s: \"%s\" is not %zu bytes of hex",
                path, key, len);
    return 0;
}

/* Exactly the version-1 keys, no more. */
static int json_keys_check(const char *path, const json_t *root, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(json_is_object(root), err, KUMO_ECORRUPT, "%s: not a JSON object", path);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(file_keys); i++) {
        KUMO_ENSURE(json_object_get(root, file_keys[i]) != NULL, err, KUMO_ECORRUPT,
                    "%s: missing \"%s\"", path, file_keys[i]);
    }
    KUMO_ENSURE(json_object_size(root) == KUMO_ARRAY_COUNT(file_keys), err, KUMO_ECORRUPT,
                "%s: unknown fields", path);
    uint64_t version = 0;
    KUMO_GUARD(json_u64(path, root, "version", &version, err));
    KUMO_ENSURE(version == KEYRING_FORMAT_VERSION, err, KUMO_ECORRUPT,
                "%s: version %" PRIu64 " is not %d", path, version, KEYRING_FORMAT_VERSION);
    return 0;
}

/* name, pubkey and address, which must agree with each other and with the file's name. */
static int meta_identity_parse(const char *path,
                               const char *expected_name,
                               const json_t *root,
                               keyring_meta_t *meta,
                               kumo_err_ctx_t *err)
{
    const char *name = NULL;
    KUMO_GUARD(json_text(path, root, "name", &name, err));
    KUMO_ENSURE(strcmp(name, expected_name) == 0, err, KUMO_ECORRUPT,
                "%s: holds a key with another name", path);
    KUMO_ASSERT(strlen(expected_name) < sizeof(meta->entry.name));
    memcpy(meta->entry.name, expected_name, strlen(expected_name) + 1);
    KUMO_GUARD(json_hex(path, root, "pubkey", meta->entry.pubkey, sizeof(meta->entry.pubkey), err));
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(meta->entry.pubkey, addr);
    kumo_codec_address_encode(addr, meta->entry.address);
    const char *address = NULL;
    KUMO_GUARD(json_text(path, root, "address", &address, err));
    KUMO_ENSURE(strcmp(address, meta->entry.address) == 0, err, KUMO_ECORRUPT,
                "%s: address does not match pubkey", path);
    return 0;
}

/* kdf, salt, costs and nonce; the kdf decides how long the secret must be. */
static int meta_kdf_parse(const char *path,
                          const json_t *root,
                          keyring_meta_t *meta,
                          size_t *secret_len,
                          kumo_err_ctx_t *err)
{
    const char *kdf = NULL;
    KUMO_GUARD(json_text(path, root, "kdf", &kdf, err));
    KUMO_GUARD(json_u64(path, root, "opslimit", &meta->opslimit, err));
    KUMO_GUARD(json_u64(path, root, "memlimit", &meta->memlimit, err));
    if (strcmp(kdf, KDF_NONE) == 0) {
        KUMO_GUARD(json_hex(path, root, "salt", meta->salt, 0, err));
        KUMO_GUARD(json_hex(path, root, "nonce", meta->nonce, 0, err));
        KUMO_ENSURE(meta->opslimit == 0 && meta->memlimit == 0, err, KUMO_ECORRUPT,
                    "%s: kdf none with Argon2id costs", path);
        meta->entry.is_encrypted = false;
        *secret_len = KUMO_CRYPTO_SEED_BYTES;
        return 0;
    }
    KUMO_ENSURE(strcmp(kdf, KDF_ARGON2ID) == 0, err, KUMO_ECORRUPT, "%s: unknown kdf", path);
    KUMO_GUARD(json_hex(path, root, "salt", meta->salt, sizeof(meta->salt), err));
    KUMO_GUARD(json_hex(path, root, "nonce", meta->nonce, sizeof(meta->nonce), err));
    KUMO_ENSURE(meta->opslimit >= OPSLIMIT_MIN && meta->opslimit <= OPSLIMIT_MAX, err,
                KUMO_ECORRUPT, "%s: opslimit %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", path,
                meta->opslimit, OPSLIMIT_MIN, OPSLIMIT_MAX);
    KUMO_ENSURE(meta->memlimit >= MEMLIMIT_MIN && meta->memlimit <= MEMLIMIT_MAX, err,
                KUMO_ECORRUPT, "%s: memlimit %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]", path,
                meta->memlimit, MEMLIMIT_MIN, MEMLIMIT_MAX);
    meta->entry.is_encrypted = true;
    *secret_len = KEYRING_SEALED_BYTES;
    return 0;
}

/* jansson must see the masked value under "secret"; then the lifted hex is decoded. */
static int meta_secret_check(const char *path,
                             const json_t *root,
                             size_t secret_len,
                             keyring_scratch_t *s,
                             kumo_err_ctx_t *err)
{
    const char *masked = NULL;
    KUMO_GUARD(json_text(path, root, "secret", &masked, err));
    size_t masked_len = strlen(masked);
    bool is_mask = masked_len == strlen(s->secret_hex);
    for (size_t i = 0; is_mask && i < masked_len; i++) {
        is_mask = masked[i] == '0';
    }
    KUMO_ENSURE(is_mask, err, KUMO_ECORRUPT, "%s: \"secret\" is ambiguous", path);
    size_t got = 0;
    int rc = kumo_codec_hex_decode(s->secret_hex, s->secret, secret_len, &got, NULL);
    KUMO_ENSURE(rc == 0 && got == secret_len, err, KUMO_ECORRUPT,
                "%s: \"secret\" is not %zu bytes of hex", path, secret_len);
    s->secret_len = got;
    return 0;
}

static int meta_from_json(const char *path,
                          const char *expected_name,
                          const json_t *root,
                          keyring_scratch_t *s,
                          keyring_meta_t *meta,
                          kumo_err_ctx_t *err)
{
    KUMO_GUARD(json_keys_check(path, root, err));
    KUMO_GUARD(meta_identity_parse(path, expected_name, root, meta, err));
    size_t secret_len = 0;
    KUMO_GUARD(meta_kdf_parse(path, root, meta, &secret_len, err));
    KUMO_GUARD(meta_secret_check(path, root, secret_len, s, err));
    KUMO_ASSERT(s->secret_len == KUMO_CRYPTO_SEED_BYTES || s->secret_len == KEYRING_SEALED_BYTES);
    return 0;
}

int kumo_keyring_file_parse(const char *path,
                            const char *expected_name,
                            keyring_scratch_t *s,
                            keyring_meta_t *meta,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && kumo_keyring_name_is_valid(expected_name));
    KUMO_ASSERT(s != NULL && meta != NULL);
    KUMO_ASSERT(s->file_len <= KUMO_KEYRING_FILE_BYTES_MAX);
    int rc = secret_lift(path, s, err);
    if (rc < 0) {
        return rc;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)s->file, s->file_len, JSON_REJECT_DUPLICATES, &jerr);
    KUMO_ENSURE(root != NULL, err, KUMO_ECORRUPT, "%s: not JSON: %s (line %d)", path, jerr.text,
                jerr.line);
    *meta = (keyring_meta_t){0};
    rc = meta_from_json(path, expected_name, root, s, meta, err);
    json_decref(root);
    sodium_memzero(s->secret_hex, sizeof(s->secret_hex));
    return rc;
}

int kumo_keyring_key_unseal(const char *path,
                            const keyring_meta_t *meta,
                            const char *passphrase,
                            keyring_scratch_t *s,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && meta != NULL && s != NULL);
    if (!meta->entry.is_encrypted) {
        KUMO_ASSERT(s->secret_len == KUMO_CRYPTO_SEED_BYTES);
        memcpy(s->seed, s->secret, KUMO_CRYPTO_SEED_BYTES);
    } else {
        KUMO_ASSERT(s->secret_len == KEYRING_SEALED_BYTES);
        KUMO_ENSURE(passphrase != NULL, err, KUMO_EPASSPHRASE,
                    "%s is sealed with a passphrase and none was given", path);
        /* The costs were range-checked when parsing, so these conversions are exact. */
        if (crypto_pwhash(s->box_key, sizeof(s->box_key), passphrase, strlen(passphrase),
                          meta->salt, (unsigned long long)meta->opslimit, (size_t)meta->memlimit,
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            return kumo_err_set(err, KUMO_ENOMEM, "argon2id: cannot get %" PRIu64 " bytes",
                                meta->memlimit);
        }
        int rc =
            crypto_secretbox_open_easy(s->seed, s->secret, s->secret_len, meta->nonce, s->box_key);
        sodium_memzero(s->box_key, sizeof(s->box_key));
        KUMO_ENSURE(rc == 0, err, KUMO_EPASSPHRASE, "%s: wrong passphrase, or the file was altered",
                    path);
    }
    kumo_crypto_key_from_seed(s->seed, &s->kp);
    KUMO_ENSURE(sodium_memcmp(s->kp.pubkey, meta->entry.pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0, err,
                KUMO_ECORRUPT, "%s: the secret does not derive the stored pubkey", path);
    return 0;
}
