/*
 * test_keyring.c - proves keys survive a store/load round trip with and without a passphrase,
 * files and the directory get exactly 0600/0700 (whatever the umask), a wrong, missing or
 * tampered passphrase/ciphertext is KUMO_EPASSPHRASE, every malformed or inconsistent file is
 * KUMO_ECORRUPT (table-driven, one broken thing per row, starting from a file that loads),
 * files open to others are refused with a chmod hint, bad names and limits are rejected, a
 * known seed gives its known address, and listings come in name order.
 *
 * Each test works in a fresh temp directory. Expected addresses were computed independently
 * (Python BIP-173 reference bech32 over SHA-256 of the RFC 8032 test public keys).
 */
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "keyring/keyring.h"

/* RFC 8032 7.1 TEST 1 and TEST 2 keys. */
#define SEED1_HEX   "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define PUBKEY1_HEX "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define ADDRESS1    "kumo1y8lrrhap2j3xzcntlp2qgm7jyudhhm2tmpgxna"
#define PUBKEY2_HEX "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define ADDRESS2    "kumo188m3859xgsjn7pzjjssmnagmnvyf08ggql8drs"
#define PASS        "correct horse battery staple"

typedef struct fixture {
    char *tmp;      /* temp dir (removed at teardown) */
    char dir[4096]; /* the keyring: tmp/keys (created by open) */
    kumo_keyring_t *kr;
} fixture_t;

static int fixture_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    f->tmp = kumo_test_tmpdir_make("keyring");
    if (f->tmp == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/keys", f->tmp);
    kumo_err_ctx_t err = {0};
    if (kumo_keyring_open(f->dir, &f->kr, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.detail);
        kumo_test_tmpdir_remove(f->tmp);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture_t *f = *state;
    kumo_keyring_close(f->kr);
    kumo_test_tmpdir_remove(f->tmp);
    free(f);
    return 0;
}

static void seed1(uint8_t seed[KUMO_CRYPTO_SEED_BYTES])
{
    assert_int_equal(sodium_hex2bin(seed, KUMO_CRYPTO_SEED_BYTES, SEED1_HEX, strlen(SEED1_HEX),
                                    NULL, NULL, NULL),
                     0);
}

static void key_path(const fixture_t *f, const char *name, char *out, size_t out_cap)
{
    int n = snprintf(out, out_cap, "%s/%s.key", f->dir, name);
    assert_true(n > 0 && (size_t)n < out_cap);
}

/* The text of a key file (NUL-terminated, malloc'd). */
static char *key_text_read(const fixture_t *f, const char *name)
{
    char path[4200];
    key_path(f, name, path, sizeof(path));
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *text = calloc(1, 8192);
    assert_non_null(text);
    size_t n = fread(text, 1, 8191, fp);
    fclose(fp);
    text[n] = '\0';
    return text;
}

/* Replaces key file name with len bytes of text, mode 0600. */
static void key_bytes_write(const fixture_t *f, const char *name, const char *text, size_t len)
{
    char path[4200];
    key_path(f, name, path, sizeof(path));
    (void)unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0600), 0);
    assert_true(write(fd, text, len) == (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void key_text_write(const fixture_t *f, const char *name, const char *text)
{
    key_bytes_write(f, name, text, strlen(text));
}

/* Replaces the first from in text (which has room to 8192) with to; the test fails if absent. */
static void text_replace(char *text, const char *from, const char *to)
{
    char *hit = strstr(text, from);
    if (hit == NULL) {
        fail_msg("'%s' not in key file", from);
    }
    size_t from_len = strlen(from);
    size_t to_len = strlen(to);
    assert_true(strlen(text) - from_len + to_len < 8192);
    memmove(hit + to_len, hit + from_len, strlen(hit + from_len) + 1);
    memcpy(hit, to, to_len);
}

/* Changes the first hex digit of the string value of "key". */
static void text_hex_flip(char *text, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
    char *hit = strstr(text, pattern);
    assert_non_null(hit);
    char *digit = hit + strlen(pattern);
    *digit = *digit == '0' ? '1' : '0';
}

static void assert_modes(const fixture_t *f, const char *name)
{
    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    char path[4200];
    key_path(f, name, path, sizeof(path));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
}

/* Only name.key files in the keyring: no temp file left behind. */
static size_t dir_file_count(const fixture_t *f)
{
    char cmd[4300];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    unsigned long n = 0;
    assert_int_equal(fscanf(p, "%lu", &n), 1);
    pclose(p);
    return (size_t)n;
}

static void test_plain_round_trip(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t added;
    kumo_crypto_keypair_t loaded;
    assert_int_equal(kumo_keyring_add(f->kr, "alice", NULL, &added, &err), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "alice", NULL, &loaded, &err), 0);
    assert_memory_equal(&added, &loaded, sizeof(added));
    /* A passphrase given for a key stored without one is ignored. */
    assert_int_equal(kumo_keyring_load(f->kr, "alice", "unused", &loaded, &err), 0);
    assert_memory_equal(&added, &loaded, sizeof(added));

    kumo_keyring_entry_t entry;
    assert_int_equal(kumo_keyring_entry_get(f->kr, "alice", &entry, &err), 0);
    assert_false(entry.is_encrypted);
    assert_string_equal(entry.name, "alice");
    assert_memory_equal(entry.pubkey, added.pubkey, sizeof(entry.pubkey));
    assert_modes(f, "alice");
    assert_int_equal(dir_file_count(f), 1);
    kumo_crypto_key_wipe(&added);
    kumo_crypto_key_wipe(&loaded);
}

static void test_encrypted_round_trip(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t added;
    kumo_crypto_keypair_t loaded;
    assert_int_equal(kumo_keyring_add(f->kr, "bob", PASS, &added, &err), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "bob", PASS, &loaded, &err), 0);
    assert_memory_equal(&added, &loaded, sizeof(added));

    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    uint8_t want[KUMO_CRYPTO_SEED_BYTES];
    assert_int_equal(kumo_keyring_export(f->kr, "bob", PASS, seed, &err), 0);
    kumo_crypto_key_seed(&added, want);
    assert_memory_equal(seed, want, sizeof(seed));

    /* The sealed file holds neither the seed nor the passphrase. */
    char seed_hex[2 * KUMO_CRYPTO_SEED_BYTES + 1];
    sodium_bin2hex(seed_hex, sizeof(seed_hex), seed, sizeof(seed));
    char *text = key_text_read(f, "bob");
    assert_null(strstr(text, seed_hex));
    assert_null(strstr(text, PASS));
    assert_non_null(strstr(text, "\"kdf\":\"argon2id\""));
    free(text);

    kumo_keyring_entry_t entry;
    assert_int_equal(kumo_keyring_entry_get(f->kr, "bob", &entry, &err), 0);
    assert_true(entry.is_encrypted);
    assert_modes(f, "bob");
    kumo_crypto_key_wipe(&added);
    kumo_crypto_key_wipe(&loaded);
    sodium_memzero(seed, sizeof(seed));
}

static void test_modes_exact_under_any_umask(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    /* A umask that would strip the owner's write bit: the module must still set 0600/0700. */
    mode_t old = umask(0277);
    kumo_keyring_t *kr = NULL;
    char dir[sizeof(f->dir)];
    snprintf(dir, sizeof(dir), "%s/strict", f->tmp);
    int rc_open = kumo_keyring_open(dir, &kr, &err);
    int rc_add = rc_open == 0 ? kumo_keyring_add(kr, "k", NULL, NULL, &err) : rc_open;
    umask(old);
    assert_int_equal(rc_open, 0);
    assert_int_equal(rc_add, 0);
    fixture_t g = *f;
    snprintf(g.dir, sizeof(g.dir), "%s", dir);
    assert_modes(&g, "k");
    kumo_keyring_close(kr);
}

static void test_import_known_seed_gives_known_address(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, NULL, &kp, &err), 0);
    char pub_hex[2 * KUMO_CRYPTO_PUBKEY_BYTES + 1];
    sodium_bin2hex(pub_hex, sizeof(pub_hex), kp.pubkey, sizeof(kp.pubkey));
    assert_string_equal(pub_hex, PUBKEY1_HEX);

    kumo_keyring_entry_t entry;
    assert_int_equal(kumo_keyring_entry_get(f->kr, "k", &entry, &err), 0);
    assert_string_equal(entry.address, ADDRESS1);
    char *text = key_text_read(f, "k");
    assert_non_null(strstr(text, "\"address\":\"" ADDRESS1 "\""));
    assert_non_null(strstr(text, "\"secret\":\"" SEED1_HEX "\""));
    free(text);

    /* Sealed import of the same seed loads back to the same key. */
    assert_int_equal(kumo_keyring_import(f->kr, "k2", seed, PASS, NULL, &err), 0);
    kumo_crypto_keypair_t loaded;
    assert_int_equal(kumo_keyring_load(f->kr, "k2", PASS, &loaded, &err), 0);
    assert_memory_equal(&loaded, &kp, sizeof(kp));
    kumo_crypto_key_wipe(&kp);
    kumo_crypto_key_wipe(&loaded);
}

static void test_wrong_or_missing_passphrase_is_refused(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_keyring_add(f->kr, "k", PASS, NULL, &err), 0);
    kumo_crypto_keypair_t kp;
    memset(&kp, 0xa5, sizeof(kp));
    static const struct {
        const char *name;
        const char *passphrase;
    } cases[] = {
        {"wrong", "correct horse battery stapler"},
        {"missing", NULL},
        {"empty", ""},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        int rc = kumo_keyring_load(f->kr, "k", cases[i].passphrase, &kp, &err);
        if (rc != KUMO_EPASSPHRASE) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        rc = kumo_keyring_export(f->kr, "k", cases[i].passphrase, seed, &err);
        assert_int_equal(rc, KUMO_EPASSPHRASE);
    }
    /* A failed load leaves its output untouched. */
    for (size_t i = 0; i < sizeof(kp); i++) {
        assert_int_equal(((const uint8_t *)&kp)[i], 0xa5);
    }
}

/* ---- malformed files: one broken thing per row, from a file that loads ---- */

/* With KUMO_TEST_VERBOSE set, shows why each row was refused (to check it is the row's own
 * reason, not an earlier check). */
static void case_show(const char *name, int rc, const kumo_err_ctx_t *err)
{
    if (getenv("KUMO_TEST_VERBOSE") != NULL) {
        print_message("%-34s %-16s %s\n", name, kumo_err_name(rc), err->detail);
    }
}

typedef struct file_case {
    const char *name;
    void (*mutate)(char *text);
    int want;
} file_case_t;

static void m_version_2(char *t)
{
    text_replace(t, "\"version\":1", "\"version\":2");
}
static void m_version_string(char *t)
{
    text_replace(t, "\"version\":1", "\"version\":\"1\"");
}
static void m_name_other(char *t)
{
    text_replace(t, "\"name\":\"k\"", "\"name\":\"other\"");
}
static void m_name_nul(char *t)
{
    text_replace(t, "\"name\":\"k\"", "\"name\":\"k\\u0000\"");
}
static void m_address_other(char *t)
{
    text_replace(t, ADDRESS1, ADDRESS2);
}
static void m_pubkey_other(char *t)
{
    text_replace(t, PUBKEY1_HEX, PUBKEY2_HEX);
}
static void m_pubkey_and_address_other(char *t)
{
    text_replace(t, PUBKEY1_HEX, PUBKEY2_HEX);
    text_replace(t, ADDRESS1, ADDRESS2);
}
static void m_kdf_unknown(char *t)
{
    text_replace(t, "\"kdf\":\"none\"", "\"kdf\":\"scrypt\"");
}
static void m_field_extra(char *t)
{
    text_replace(t, "{\"version\"", "{\"extra\":1,\"version\"");
}
static void m_field_missing(char *t)
{
    text_replace(t, "\"nonce\":\"\",", "");
}
static void m_field_duplicate(char *t)
{
    text_replace(t, "\"version\":1,", "\"version\":1,\"version\":1,");
}
static void m_secret_short(char *t)
{
    text_replace(t, "7f60\"", "7f\"");
}
static void m_secret_long(char *t)
{
    text_replace(t, "7f60\"", "7f6000\"");
}
static void m_secret_not_hex(char *t)
{
    text_replace(t, "\"secret\":\"9d", "\"secret\":\"zd");
}
static void m_secret_number(char *t)
{
    text_replace(t, "\"secret\":\"" SEED1_HEX "\"", "\"secret\":7");
}
static void m_secret_twice(char *t)
{
    text_replace(t, "\"}", "\",\"x\":\"\\\"secret\":\"00\"}");
}
static void m_secret_key_escaped(char *t)
{
    text_replace(t, "\"secret\":", "\"secre\\u0074\":");
}
static void m_secret_other_seed(char *t)
{
    text_replace(t, "\"secret\":\"9d", "\"secret\":\"9e");
}
static void m_salt_with_kdf_none(char *t)
{
    text_replace(t, "\"salt\":\"\"", "\"salt\":\"00\"");
}
static void m_costs_with_kdf_none(char *t)
{
    text_replace(t, "\"opslimit\":0", "\"opslimit\":2");
}
static void m_memlimit_negative(char *t)
{
    text_replace(t, "\"memlimit\":0", "\"memlimit\":-1");
}
static void m_not_object(char *t)
{
    static const char text[] = "[\"secret\",\"00\"]";
    memcpy(t, text, sizeof(text));
}
static void m_garbage(char *t)
{
    static const char text[] = "\x01\x02 not json at all \"secret\":\"00\" }{";
    memcpy(t, text, sizeof(text));
}
static void m_truncated(char *t)
{
    t[strlen(t) / 2] = '\0';
}
static void m_truncated_after_secret(char *t)
{
    text_replace(t, "\"}", "\"");
}
static void m_empty(char *t)
{
    t[0] = '\0';
}

static void test_malformed_plain_files_are_corrupt(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, NULL, NULL, &err), 0);
    char *valid = key_text_read(f, "k");
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_load(f->kr, "k", NULL, &kp, &err), 0);

    static const file_case_t cases[] = {
        {"version 2", m_version_2, KUMO_ECORRUPT},
        {"version as string", m_version_string, KUMO_ECORRUPT},
        {"name of another key", m_name_other, KUMO_ECORRUPT},
        {"NUL in name", m_name_nul, KUMO_ECORRUPT},
        {"address of another key", m_address_other, KUMO_ECORRUPT},
        {"pubkey of another key", m_pubkey_other, KUMO_ECORRUPT},
        {"pubkey+address of another key", m_pubkey_and_address_other, KUMO_ECORRUPT},
        {"unknown kdf", m_kdf_unknown, KUMO_ECORRUPT},
        {"extra field", m_field_extra, KUMO_ECORRUPT},
        {"missing field", m_field_missing, KUMO_ECORRUPT},
        {"duplicate field", m_field_duplicate, KUMO_ECORRUPT},
        {"secret one byte short", m_secret_short, KUMO_ECORRUPT},
        {"secret one byte long", m_secret_long, KUMO_ECORRUPT},
        {"secret not hex", m_secret_not_hex, KUMO_ECORRUPT},
        {"secret a number", m_secret_number, KUMO_ECORRUPT},
        {"\"secret\" twice", m_secret_twice, KUMO_ECORRUPT},
        {"secret key escaped", m_secret_key_escaped, KUMO_ECORRUPT},
        {"secret of another key", m_secret_other_seed, KUMO_ECORRUPT},
        {"salt with kdf none", m_salt_with_kdf_none, KUMO_ECORRUPT},
        {"costs with kdf none", m_costs_with_kdf_none, KUMO_ECORRUPT},
        {"negative memlimit", m_memlimit_negative, KUMO_ECORRUPT},
        {"array", m_not_object, KUMO_ECORRUPT},
        {"garbage", m_garbage, KUMO_ECORRUPT},
        {"truncated", m_truncated, KUMO_ECORRUPT},
        {"truncated after secret", m_truncated_after_secret, KUMO_ECORRUPT},
        {"empty", m_empty, KUMO_ECORRUPT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char text[8192];
        snprintf(text, sizeof(text), "%s", valid);
        cases[i].mutate(text);
        key_text_write(f, "k", text);
        memset(&err, 0, sizeof(err));
        int rc = kumo_keyring_load(f->kr, "k", NULL, &kp, &err);
        case_show(cases[i].name, rc, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        /* The seed never appears in a detail. */
        assert_null(strstr(err.detail, SEED1_HEX));
    }
    /* The untouched text still loads: each row broke only its own thing. */
    key_text_write(f, "k", valid);
    assert_int_equal(kumo_keyring_load(f->kr, "k", NULL, &kp, &err), 0);
    free(valid);
    kumo_crypto_key_wipe(&kp);
}

static void m_flip_secret(char *t)
{
    text_hex_flip(t, "secret");
}
static void m_flip_nonce(char *t)
{
    text_hex_flip(t, "nonce");
}
static void m_flip_salt(char *t)
{
    text_hex_flip(t, "salt");
}
static void m_opslimit_other(char *t)
{
    text_replace(t, "\"opslimit\":2", "\"opslimit\":3");
}
static void m_opslimit_zero(char *t)
{
    text_replace(t, "\"opslimit\":2", "\"opslimit\":0");
}
static void m_memlimit_huge(char *t)
{
    text_replace(t, "\"memlimit\":67108864", "\"memlimit\":1099511627776");
}
static void m_memlimit_small(char *t)
{
    text_replace(t, "\"memlimit\":67108864", "\"memlimit\":8192");
}
static void m_salt_short(char *t)
{
    char *hit = strstr(t, "\"salt\":\"");
    assert_non_null(hit);
    char *value = hit + strlen("\"salt\":\"");
    memmove(value, value + 2, strlen(value + 2) + 1);
}
static void m_secret_plain_length(char *t)
{
    char *hit = strstr(t, "\"secret\":\"");
    assert_non_null(hit);
    hit[strlen("\"secret\":\"") + 64] = '"';
    hit[strlen("\"secret\":\"") + 65] = '}';
    hit[strlen("\"secret\":\"") + 66] = '\0';
}
static void m_kdf_none_on_sealed(char *t)
{
    text_replace(t, "\"kdf\":\"argon2id\"", "\"kdf\":\"none\"");
}

static void test_tampered_sealed_files_are_refused(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, PASS, NULL, &err), 0);
    char *valid = key_text_read(f, "k");
    assert_non_null(strstr(valid, "\"opslimit\":2,\"memlimit\":67108864"));

    static const file_case_t cases[] = {
        {"ciphertext bit", m_flip_secret, KUMO_EPASSPHRASE},
        {"nonce bit", m_flip_nonce, KUMO_EPASSPHRASE},
        {"salt bit", m_flip_salt, KUMO_EPASSPHRASE},
        {"opslimit changed", m_opslimit_other, KUMO_EPASSPHRASE},
        {"pubkey of another key", m_pubkey_and_address_other, KUMO_ECORRUPT},
        {"opslimit below the floor", m_opslimit_zero, KUMO_ECORRUPT},
        {"memlimit above the ceiling", m_memlimit_huge, KUMO_ECORRUPT},
        {"memlimit below the floor", m_memlimit_small, KUMO_ECORRUPT},
        {"salt too short", m_salt_short, KUMO_ECORRUPT},
        {"sealed secret cut to seed length", m_secret_plain_length, KUMO_ECORRUPT},
        {"kdf none on a sealed secret", m_kdf_none_on_sealed, KUMO_ECORRUPT},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char text[8192];
        snprintf(text, sizeof(text), "%s", valid);
        cases[i].mutate(text);
        key_text_write(f, "k", text);
        memset(&err, 0, sizeof(err));
        kumo_crypto_keypair_t kp;
        int rc = kumo_keyring_load(f->kr, "k", PASS, &kp, &err);
        case_show(cases[i].name, rc, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    key_text_write(f, "k", valid);
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_load(f->kr, "k", PASS, &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
    free(valid);
}

/* Exactly KUMO_KEYRING_FILE_BYTES_MAX bytes loads; one more is corrupt. */
static void test_file_size_limit(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, NULL, NULL, &err), 0);
    char *valid = key_text_read(f, "k");
    size_t len = strlen(valid);
    char *big = malloc(KUMO_KEYRING_FILE_BYTES_MAX + 2);
    assert_non_null(big);
    memcpy(big, valid, len);
    /* Trailing whitespace is valid JSON. */
    memset(big + len, ' ', KUMO_KEYRING_FILE_BYTES_MAX + 1 - len);

    kumo_crypto_keypair_t kp;
    key_bytes_write(f, "k", big, KUMO_KEYRING_FILE_BYTES_MAX);
    assert_int_equal(kumo_keyring_load(f->kr, "k", NULL, &kp, &err), 0);
    key_bytes_write(f, "k", big, KUMO_KEYRING_FILE_BYTES_MAX + 1);
    assert_int_equal(kumo_keyring_load(f->kr, "k", NULL, &kp, &err), KUMO_ECORRUPT);
    free(big);
    free(valid);
    kumo_crypto_key_wipe(&kp);
}

static void test_file_open_to_others_is_refused(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_keyring_add(f->kr, "k", NULL, NULL, &err), 0);
    char path[4200];
    key_path(f, "k", path, sizeof(path));
    static const struct {
        mode_t mode;
        int want;
    } cases[] = {
        {0644, KUMO_EUNAUTH},
        {0640, KUMO_EUNAUTH},
        {0604, KUMO_EUNAUTH},
        {0620, KUMO_EUNAUTH},
        {0602, KUMO_EUNAUTH},
        {0610, KUMO_EUNAUTH},
        {0400, 0},
        {0600, 0},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        assert_int_equal(chmod(path, cases[i].mode), 0);
        memset(&err, 0, sizeof(err));
        kumo_crypto_keypair_t kp;
        int rc = kumo_keyring_load(f->kr, "k", NULL, &kp, &err);
        if (rc != cases[i].want) {
            fail_msg("mode %04o: got %s (%s)", (unsigned)cases[i].mode, kumo_err_name(rc),
                     err.detail);
        }
        if (rc == KUMO_EUNAUTH) {
            assert_non_null(strstr(err.detail, "chmod 600"));
            kumo_keyring_entry_t entry;
            assert_int_equal(kumo_keyring_entry_get(f->kr, "k", &entry, NULL), KUMO_EUNAUTH);
        }
    }
}

static void test_open_refuses_bad_directories(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    kumo_keyring_t *kr = NULL;
    char path[4200];

    assert_int_equal(chmod(f->dir, 0750), 0);
    assert_int_equal(kumo_keyring_open(f->dir, &kr, &err), KUMO_EUNAUTH);
    assert_non_null(strstr(err.detail, "chmod 700"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(kumo_keyring_open(f->dir, &kr, &err), 0);
    kumo_keyring_close(kr);

    snprintf(path, sizeof(path), "%s/plainfile", f->tmp);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(kumo_keyring_open(path, &kr, &err), KUMO_EIO);
    snprintf(path, sizeof(path), "%s/no/such/parent", f->tmp);
    assert_int_equal(kumo_keyring_open(path, &kr, &err), KUMO_EIO);
    assert_int_equal(kumo_keyring_open("", &kr, &err), KUMO_EINVAL);
    assert_int_equal(kumo_keyring_open(NULL, &kr, &err), KUMO_EINVAL);
    kumo_keyring_close(NULL);
}

static void test_open_fails_cleanly_without_memory(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    for (uint64_t nth = 1; nth <= 2; nth++) {
        kumo_keyring_t *kr = NULL;
        kumo_alloc_fail_at(nth);
        int rc = kumo_keyring_open(f->dir, &kr, &err);
        kumo_alloc_fail_at(0);
        assert_int_equal(rc, KUMO_ENOMEM);
        assert_null(kr);
    }
    /* A key add that cannot get its scratch memory writes nothing. The scratch comes from
     * sodium_malloc, which fault injection cannot reach, so this only proves the happy path
     * is untouched by a pending injected failure. */
    assert_int_equal(kumo_keyring_add(f->kr, "k", NULL, NULL, &err), 0);
    assert_int_equal(dir_file_count(f), 1);
}

static void test_special_files_are_refused(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_add(f->kr, "real", NULL, NULL, &err), 0);
    char target[4200];
    char path[4200];
    key_path(f, "real", target, sizeof(target));

    key_path(f, "link", path, sizeof(path));
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "link", NULL, &kp, &err), KUMO_EIO);
    assert_non_null(strstr(err.detail, "symlink"));

    key_path(f, "dir", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "dir", NULL, &kp, &err), KUMO_ECORRUPT);

    key_path(f, "fifo", path, sizeof(path));
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "fifo", NULL, &kp, &err), KUMO_ECORRUPT);

    /* Adding over any of them is refused, and the symlink's target is untouched. */
    assert_int_equal(kumo_keyring_add(f->kr, "link", NULL, NULL, &err), KUMO_EEXIST);
    assert_int_equal(kumo_keyring_add(f->kr, "fifo", NULL, NULL, &err), KUMO_EEXIST);
    assert_int_equal(kumo_keyring_load(f->kr, "real", NULL, &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
}

static void test_duplicate_name_is_refused(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    kumo_crypto_keypair_t first;
    assert_int_equal(kumo_keyring_add(f->kr, "k", NULL, &first, &err), 0);
    char *before = key_text_read(f, "k");
    kumo_crypto_keypair_t kp;
    memset(&kp, 0x5a, sizeof(kp));
    assert_int_equal(kumo_keyring_add(f->kr, "k", NULL, &kp, &err), KUMO_EEXIST);
    assert_int_equal(kumo_keyring_add(f->kr, "k", PASS, &kp, &err), KUMO_EEXIST);
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, NULL, &kp, &err), KUMO_EEXIST);
    assert_int_equal(((const uint8_t *)&kp)[0], 0x5a);
    char *after = key_text_read(f, "k");
    assert_string_equal(before, after);
    assert_int_equal(dir_file_count(f), 1);
    free(before);
    free(after);
    kumo_crypto_key_wipe(&first);
}

static void test_bad_names_are_invalid(void **state)
{
    fixture_t *f = *state;
    char name_max[KUMO_KEYRING_NAME_BYTES_MAX + 1];
    char name_over[KUMO_KEYRING_NAME_BYTES_MAX + 2];
    memset(name_max, 'a', KUMO_KEYRING_NAME_BYTES_MAX);
    name_max[KUMO_KEYRING_NAME_BYTES_MAX] = '\0';
    memset(name_over, 'a', KUMO_KEYRING_NAME_BYTES_MAX + 1);
    name_over[KUMO_KEYRING_NAME_BYTES_MAX + 1] = '\0';
    const char *bad[] = {"",   name_over, "../x", "A",   "a.b",   "a/b",
                         " a", "a ",      "é",    "a\n", "x.key", NULL};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(bad); i++) {
        kumo_err_ctx_t err = {0};
        kumo_crypto_keypair_t kp;
        kumo_keyring_entry_t entry;
        const char *n = bad[i];
        const char *shown = n == NULL ? "(null)" : n;
        int rcs[] = {
            kumo_keyring_add(f->kr, n, NULL, &kp, &err),
            kumo_keyring_import(f->kr, n, seed, NULL, &kp, &err),
            kumo_keyring_load(f->kr, n, NULL, &kp, &err),
            kumo_keyring_export(f->kr, n, NULL, seed, &err),
            kumo_keyring_entry_get(f->kr, n, &entry, &err),
            kumo_keyring_delete(f->kr, n, &err),
        };
        for (size_t j = 0; j < KUMO_ARRAY_COUNT(rcs); j++) {
            if (rcs[j] != KUMO_EINVAL) {
                fail_msg("name '%s' call %zu: got %s", shown, j, kumo_err_name(rcs[j]));
            }
        }
    }
    /* Nothing escaped the directory or was created. */
    assert_int_equal(dir_file_count(f), 0);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_keyring_add(f->kr, name_max, NULL, NULL, &err), 0);
    assert_int_equal(kumo_keyring_add(f->kr, "a-b_0", NULL, NULL, &err), 0);
    assert_int_equal(dir_file_count(f), 2);
}

static void test_passphrase_limits(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    char pass_max[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1];
    char pass_over[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 2];
    memset(pass_max, 'p', KUMO_KEYRING_PASSPHRASE_BYTES_MAX);
    pass_max[KUMO_KEYRING_PASSPHRASE_BYTES_MAX] = '\0';
    memset(pass_over, 'p', KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1);
    pass_over[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1] = '\0';

    assert_int_equal(kumo_keyring_add(f->kr, "k", pass_over, NULL, &err), KUMO_ELIMIT);
    assert_int_equal(kumo_keyring_add(f->kr, "k", "", NULL, &err), KUMO_EINVAL);
    assert_int_equal(dir_file_count(f), 0);
    kumo_crypto_keypair_t added;
    kumo_crypto_keypair_t loaded;
    assert_int_equal(kumo_keyring_add(f->kr, "k", pass_max, &added, &err), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "k", pass_over, &loaded, &err), KUMO_ELIMIT);
    assert_int_equal(kumo_keyring_load(f->kr, "k", pass_max, &loaded, &err), 0);
    assert_memory_equal(&added, &loaded, sizeof(added));
    kumo_crypto_key_wipe(&added);
    kumo_crypto_key_wipe(&loaded);
}

static void test_delete_then_load_is_not_found(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_load(f->kr, "ghost", NULL, &kp, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_keyring_delete(f->kr, "ghost", &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_keyring_add(f->kr, "k", PASS, NULL, &err), 0);
    assert_int_equal(kumo_keyring_delete(f->kr, "k", &err), 0);
    assert_int_equal(kumo_keyring_load(f->kr, "k", PASS, &kp, &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_keyring_delete(f->kr, "k", &err), KUMO_ENOTFOUND);
    assert_int_equal(dir_file_count(f), 0);
    /* The name is free again. */
    assert_int_equal(kumo_keyring_add(f->kr, "k", NULL, NULL, &err), 0);
}

typedef struct list_seen {
    size_t count;
    size_t stop_after;
    kumo_keyring_entry_t entries[8];
} list_seen_t;

static int list_collect_cb(void *ctx, const kumo_keyring_entry_t *entry)
{
    list_seen_t *seen = ctx;
    if (seen->count == seen->stop_after) {
        return KUMO_ESTATE;
    }
    assert_true(seen->count < KUMO_ARRAY_COUNT(seen->entries));
    seen->entries[seen->count++] = *entry;
    return 0;
}

static void test_list_in_name_order(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    list_seen_t seen = {.stop_after = SIZE_MAX};
    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &seen, &err), 0);
    assert_int_equal(seen.count, 0);

    assert_int_equal(kumo_keyring_add(f->kr, "b", NULL, NULL, &err), 0);
    assert_int_equal(kumo_keyring_import(f->kr, "a-1", seed, PASS, NULL, &err), 0);
    assert_int_equal(kumo_keyring_add(f->kr, "_z", NULL, NULL, &err), 0);
    assert_int_equal(kumo_keyring_add(f->kr, "0", NULL, NULL, &err), 0);
    /* Files that are not "<valid name>.key" are not keys. */
    key_text_write(f, "UPPER", "{}");
    char path[4200];
    snprintf(path, sizeof(path), "%s/README", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/.k.key.0123.tmp", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);

    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &seen, &err), 0);
    const char *want[] = {"0", "_z", "a-1", "b"};
    assert_int_equal(seen.count, KUMO_ARRAY_COUNT(want));
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(want); i++) {
        assert_string_equal(seen.entries[i].name, want[i]);
        assert_int_equal(seen.entries[i].is_encrypted, strcmp(want[i], "a-1") == 0);
        assert_int_equal(strncmp(seen.entries[i].address, "kumo1", 5), 0);
    }
    assert_string_equal(seen.entries[2].address, ADDRESS1);
    char pub_hex[2 * KUMO_CRYPTO_PUBKEY_BYTES + 1];
    sodium_bin2hex(pub_hex, sizeof(pub_hex), seen.entries[2].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    assert_string_equal(pub_hex, PUBKEY1_HEX);

    /* A negative return from the callback stops the listing and is passed up. */
    list_seen_t stop = {.stop_after = 2};
    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &stop, &err), KUMO_ESTATE);
    assert_int_equal(stop.count, 2);
}

static void test_list_fails_before_any_callback(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_keyring_add(f->kr, "a", NULL, NULL, &err), 0);
    assert_int_equal(kumo_keyring_add(f->kr, "z", NULL, NULL, &err), 0);

    key_text_write(f, "z", "{\"version\":1}");
    list_seen_t seen = {.stop_after = SIZE_MAX};
    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &seen, &err), KUMO_ECORRUPT);
    assert_int_equal(seen.count, 0);

    assert_int_equal(kumo_keyring_delete(f->kr, "z", &err), 0);
    char path[4200];
    key_path(f, "a", path, sizeof(path));
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &seen, &err), KUMO_EUNAUTH);
    assert_int_equal(seen.count, 0);
    assert_int_equal(chmod(path, 0600), 0);

    kumo_alloc_fail_at(1);
    int rc = kumo_keyring_list(f->kr, list_collect_cb, &seen, &err);
    kumo_alloc_fail_at(0);
    assert_int_equal(rc, KUMO_ENOMEM);
    assert_int_equal(seen.count, 0);
    assert_int_equal(kumo_keyring_list(f->kr, list_collect_cb, &seen, &err), 0);
    assert_int_equal(seen.count, 1);
}

static int list_count_cb(void *ctx, const kumo_keyring_entry_t *entry)
{
    (void)entry;
    (*(size_t *)ctx)++;
    return 0;
}

/* KUMO_KEYRING_KEY_COUNT_MAX keys list; one more is KUMO_ELIMIT. */
static void test_list_key_count_limit(void **state)
{
    fixture_t *f = *state;
    kumo_err_ctx_t err = {0};
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    seed1(seed);
    assert_int_equal(kumo_keyring_import(f->kr, "k", seed, NULL, NULL, &err), 0);
    char *valid = key_text_read(f, "k");
    assert_int_equal(kumo_keyring_delete(f->kr, "k", &err), 0);
    for (unsigned i = 0; i <= KUMO_KEYRING_KEY_COUNT_MAX; i++) {
        char name[16];
        char name_field[32];
        char text[8192];
        snprintf(name, sizeof(name), "k%04u", i);
        snprintf(name_field, sizeof(name_field), "\"name\":\"%s\"", name);
        snprintf(text, sizeof(text), "%s", valid);
        text_replace(text, "\"name\":\"k\"", name_field);
        key_text_write(f, name, text);
        if (i == KUMO_KEYRING_KEY_COUNT_MAX - 1) {
            size_t count = 0;
            assert_int_equal(kumo_keyring_list(f->kr, list_count_cb, &count, &err), 0);
            assert_int_equal(count, KUMO_KEYRING_KEY_COUNT_MAX);
        }
    }
    size_t count = 0;
    assert_int_equal(kumo_keyring_list(f->kr, list_count_cb, &count, &err), KUMO_ELIMIT);
    assert_int_equal(count, 0);
    free(valid);
}

int main(void)
{
    if (kumo_crypto_init() != 0) {
        return 1;
    }
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_plain_round_trip),
        T(test_encrypted_round_trip),
        T(test_modes_exact_under_any_umask),
        T(test_import_known_seed_gives_known_address),
        T(test_wrong_or_missing_passphrase_is_refused),
        T(test_malformed_plain_files_are_corrupt),
        T(test_tampered_sealed_files_are_refused),
        T(test_file_size_limit),
        T(test_file_open_to_others_is_refused),
        T(test_open_refuses_bad_directories),
        T(test_open_fails_cleanly_without_memory),
        T(test_special_files_are_refused),
        T(test_duplicate_name_is_refused),
        T(test_bad_names_are_invalid),
        T(test_passphrase_limits),
        T(test_delete_then_load_is_not_found),
        T(test_list_in_name_order),
        T(test_list_fails_before_any_callback),
        T(test_list_key_count_limit),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
