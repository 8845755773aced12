/*
 * test_secret.c - sealed secrets (src/sdl/secret.c): a stack's `secrets:` parse into
 * references, sealing puts a group key per group sealed to each listed provider and each value
 * under it in the manifest (canonical bytes, stable for the same randomness, never the value),
 * the listed providers open it and nobody else; a tampered ciphertext, nonce, envelope or
 * associated data is refused; every stack rule and manifest-check rule is a row that fails.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "sdl/sdl.h"

#define PW "s3cret-db-password"

typedef struct keys {
    kumo_crypto_keypair_t kp[3]; /* west, west2 (both listed by db), east (not listed) */
    uint8_t addr[3][KUMO_ADDRESS_BYTES];
    char text[3][KUMO_ADDRESS_TEXT_BYTES];
} keys_t;

static keys_t K;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(kumo_crypto_init(), 0);
    for (int i = 0; i < 3; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        memset(seed, 0x40 + i, sizeof(seed));
        kumo_crypto_key_from_seed(seed, &K.kp[i]);
        kumo_crypto_address_from_pubkey(K.kp[i].pubkey, K.addr[i]);
        kumo_codec_address_encode(K.addr[i], K.text[i]);
    }
    return 0;
}

/* The webapp: group db (exclusive, listing west and west2) runs db with the password; group
 * web runs web. extra is spliced into db's group requirements, env the db's env value. */
static char *stack_text(const char *requirements, const char *secrets, const char *db_env)
{
    char *t = NULL;
    int n = asprintf(&t,
                     "version: \"1\"\n"
                     "groups:\n"
                     "  db:\n"
                     "    region: us-east\n"
                     "    requirements: %s\n"
                     "    resources:\n"
                     "      - {cpu: 500m, memory: 512Mi, storage: 1Gi, price: 100}\n"
                     "  web:\n"
                     "    region: us-east\n"
                     "    resources:\n"
                     "      - {cpu: 500m, memory: 512Mi, storage: 1Gi, price: 100}\n"
                     "%s"
                     "workloads:\n"
                     "  db:\n"
                     "    image: db:1\n"
                     "    env: %s\n"
                     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n"
                     "    group: db\n"
                     "  web:\n"
                     "    image: web:1\n"
                     "    env: {MODE: prod}\n"
                     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n"
                     "    group: web\n"
                     "wait_blocks: 2\n"
                     "deposit: 1000\n",
                     requirements, secrets, db_env);
    assert_true(n > 0);
    return t;
}

static char *good_requirements(void)
{
    char *r = NULL;
    assert_true(asprintf(&r, "{providers: [%s, %s], exclusive: true}", K.text[0], K.text[1]) > 0);
    return r;
}

static const char good_secrets[] = "secrets:\n"
                                   "  db_password: {from_env: DB_PW}\n"
                                   "  db_user: {from_file: secrets/user}\n";
static const char good_env[] = "{PGPASSWORD: {secret: db_password}, PGUSER: {secret: db_user}, "
                               "PGDATA: /data}";

static int parse(
    const char *req, const char *sec, const char *env, kumo_sdl_stack_t **out, kumo_err_ctx_t *err)
{
    char *r = req != NULL ? NULL : good_requirements();
    char *text = stack_text(req != NULL ? req : r, sec, env);
    int rc = kumo_sdl_stack_parse(kumo_bytes_make(text, strlen(text)), "stack.yml", out, err);
    free(text);
    free(r);
    return rc;
}

static void counter_fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *next = ctx;
    for (size_t i = 0; i < len; i++) {
        out[i] = (*next)++;
    }
}

/* The chain's keys of west and west2 (not east's: it is not listed, never asked). */
static int
pubkey_of(void *ctx, const uint8_t addr[KUMO_ADDRESS_BYTES], uint8_t out[32], kumo_err_ctx_t *err)
{
    int *mode = ctx;
    for (int i = 0; i < 2; i++) {
        if (memcmp(addr, K.addr[i], KUMO_ADDRESS_BYTES) == 0) {
            if (*mode == 1 && i == 1) {
                return kumo_err_set(err, KUMO_ENOTFOUND, "no public key on chain for %s",
                                    K.text[i]);
            }
            memcpy(out, K.kp[*mode == 2 ? 2 : i].pubkey, 32); /* mode 2: someone else's key */
            return 0;
        }
    }
    fail_msg("asked for a provider the group does not list");
    return KUMO_EINVAL;
}

static const uint8_t OWNER[KUMO_ADDRESS_BYTES] = {7, 7, 7};

static int seal(kumo_sdl_stack_t *s, int mode, const char *pw, uint8_t start, kumo_err_ctx_t *err)
{
    assert_int_equal(kumo_sdl_stack_secret_count(s), 2);
    /* Sorted by name: db_password, db_user. */
    kumo_bytes_t values[2] = {kumo_bytes_make(pw, strlen(pw)), kumo_bytes_make("admin", 5)};
    uint8_t next = start;
    kumo_crypto_rng_t rng = {.ctx = &next, .fill_cb = counter_fill};
    kumo_sdl_seal_input_t in = {.owner = OWNER,
                                .dseq = 42,
                                .values = values,
                                .ctx = &mode,
                                .pubkey_cb = pubkey_of,
                                .rng = &rng};
    return kumo_sdl_stack_seal(s, &in, err);
}

static kumo_sdl_stack_t *sealed_stack(uint8_t start)
{
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = parse(NULL, good_secrets, good_env, &s, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    assert_false(kumo_sdl_stack_is_sealed(s));
    rc = seal(s, 0, PW, start, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    assert_true(kumo_sdl_stack_is_sealed(s));
    return s;
}

static void test_secret_seal_open_round_trip(void **state)
{
    (void)state;
    kumo_sdl_stack_t *s = sealed_stack(1);
    const kumo_sdl_secret_t *sec = kumo_sdl_stack_secret(s, 0);
    assert_string_equal(sec->name, "db_password");
    assert_string_equal(sec->from_env, "DB_PW");
    assert_null(sec->from_file);
    assert_string_equal(kumo_sdl_stack_secret(s, 1)->from_file, "secrets/user");
    kumo_bytes_t bytes = kumo_sdl_stack_manifest_bytes(s);
    assert_null(memmem(bytes.ptr, bytes.len, PW, strlen(PW)));
    /* The bytes are canonical and pass the check against the groups as the chain holds them. */
    Kumo__Manifest *m = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_sdl_manifest_decode(bytes, &m, &err), 0);
    Kumo__GroupSpec **groups = NULL;
    size_t group_count = 0;
    uint64_t wait = 0;
    uint64_t deposit = 0;
    kumo_sdl_stack_groups(s, &groups, &group_count, &wait, &deposit);
    int rc = kumo_sdl_manifest_check(m, groups, group_count, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(m->n_sealed, 1);
    assert_string_equal(m->sealed[0]->group, "db");
    assert_int_equal(m->sealed[0]->n_envelopes, 2);
    assert_int_equal(m->sealed[0]->n_values, 2);
    const Kumo__ManifestWorkload *db = m->workloads[0];
    assert_string_equal(db->name, "db");
    assert_string_equal(db->env[1]->key, "PGPASSWORD");
    assert_string_equal(db->env[1]->secret, "db_password");
    assert_string_equal(db->env[1]->value, "");
    /* Both listed providers open it; east does not. */
    char out[KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[i], out,
                                              sizeof(out), &err),
                         0);
        assert_string_equal(out, PW);
        assert_int_equal(
            kumo_sdl_secret_open(m, "db", "db_user", OWNER, 42, &K.kp[i], out, sizeof(out), &err),
            0);
        assert_string_equal(out, "admin");
        assert_int_equal(kumo_sdl_sealed_open_check(m, OWNER, 42, &K.kp[i], &err), 0);
    }
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[2], out, sizeof(out), &err),
        KUMO_ENOTFOUND);
    assert_true(out[0] == '\0');
    assert_int_equal(
        kumo_sdl_secret_open(m, "web", "db_password", OWNER, 42, &K.kp[0], out, sizeof(out), &err),
        KUMO_ENOTFOUND);
    /* Moved to another deployment or owner: the associated data differs. */
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 43, &K.kp[0], out, sizeof(out), &err),
        KUMO_EMISMATCH);
    /* Tampered ciphertext, nonce, envelope: refused; the open check says so too. */
    Kumo__ManifestSealedValue *v = m->sealed[0]->values[0];
    v->ciphertext.data[0] ^= 1u;
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[0], out, sizeof(out), &err),
        KUMO_EMISMATCH);
    assert_int_equal(kumo_sdl_sealed_open_check(m, OWNER, 42, &K.kp[0], &err), KUMO_EMISMATCH);
    v->ciphertext.data[0] ^= 1u;
    v->nonce.data[5] ^= 1u;
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[0], out, sizeof(out), &err),
        KUMO_EMISMATCH);
    v->nonce.data[5] ^= 1u;
    for (size_t e = 0; e < 2; e++) {
        m->sealed[0]->envelopes[e]->sealed_key.data[40] ^= 1u;
    }
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[0], out, sizeof(out), &err),
        KUMO_EMISMATCH);
    /* The value of one name under another's: swapping the two values fails both. */
    for (size_t e = 0; e < 2; e++) {
        m->sealed[0]->envelopes[e]->sealed_key.data[40] ^= 1u;
    }
    Kumo__ManifestSealedValue *tmp = m->sealed[0]->values[0];
    char *n0 = tmp->name;
    tmp->name = m->sealed[0]->values[1]->name;
    m->sealed[0]->values[1]->name = n0;
    assert_int_equal(
        kumo_sdl_secret_open(m, "db", "db_password", OWNER, 42, &K.kp[0], out, sizeof(out), &err),
        KUMO_EMISMATCH);
    m->sealed[0]->values[1]->name = tmp->name;
    tmp->name = n0;
    kumo_codec_free(&m->base);
    kumo_sdl_stack_free(s);
}

static void test_secret_canonical_bytes_stable(void **state)
{
    (void)state;
    kumo_sdl_stack_t *a = sealed_stack(9);
    kumo_sdl_stack_t *b = sealed_stack(9);
    kumo_sdl_stack_t *c = sealed_stack(10);
    kumo_bytes_t ab = kumo_sdl_stack_manifest_bytes(a);
    kumo_bytes_t bb = kumo_sdl_stack_manifest_bytes(b);
    kumo_bytes_t cb = kumo_sdl_stack_manifest_bytes(c);
    assert_int_equal(ab.len, bb.len);
    assert_memory_equal(ab.ptr, bb.ptr, ab.len);
    assert_true(ab.len != cb.len || memcmp(ab.ptr, cb.ptr, ab.len) != 0);
    /* Re-packing the decoded manifest gives the same bytes: what a provider stores hashes to
     * the version the tenant put on chain. */
    Kumo__Manifest *m = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(ab, &m, NULL), 0);
    kumo_buf_t again;
    kumo_buf_init(&again, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m->base, &again, NULL), 0);
    assert_int_equal(again.len, ab.len);
    assert_memory_equal(again.ptr, ab.ptr, ab.len);
    kumo_buf_free(&again);
    kumo_codec_free(&m->base);
    /* Sealing twice is refused. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(seal(a, 0, PW, 1, &err), KUMO_ESTATE);
    kumo_sdl_stack_free(a);
    kumo_sdl_stack_free(b);
    kumo_sdl_stack_free(c);
}

static void test_secret_seal_failures_change_nothing(void **state)
{
    (void)state;
    static const struct {
        int mode;
        size_t pw_len;
        int code;
        const char *detail;
    } rows[] = {
        {1, 8, KUMO_ENOTFOUND, "no public key on chain"},
        {2, 8, KUMO_EINVAL, "is not its key"},
        {0, KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1u, KUMO_ELIMIT, "more than 4096"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        assert_int_equal(parse(NULL, good_secrets, good_env, &s, &err), 0);
        kumo_bytes_t before = kumo_sdl_stack_manifest_bytes(s);
        size_t len = before.len;
        char *pw = malloc(rows[i].pw_len + 1u);
        assert_non_null(pw);
        memset(pw, 'x', rows[i].pw_len);
        pw[rows[i].pw_len] = '\0';
        assert_int_equal(seal(s, rows[i].mode, pw, 1, &err), rows[i].code);
        assert_non_null(strstr(err.detail, rows[i].detail));
        assert_int_equal(kumo_sdl_stack_manifest_bytes(s).len, len);
        assert_false(kumo_sdl_stack_is_sealed(s));
        free(pw);
        kumo_sdl_stack_free(s);
    }
}

static void test_secret_stack_rules(void **state)
{
    (void)state;
    char *good = good_requirements();
    char *not_exclusive = NULL;
    assert_true(asprintf(&not_exclusive, "{providers: [%s]}", K.text[0]) > 0);
    char many[4096] = "secrets:\n";
    for (int i = 0; i < 33; i++) {
        size_t n = strlen(many);
        (void)snprintf(many + n, sizeof(many) - n, "  s%d: {from_env: V}\n", i);
    }
    const struct {
        const char *req;
        const char *sec;
        const char *env;
        int code;
        const char *detail;
    } rows[] = {
        {good, good_secrets, "{A: {secret: nope}, B: {secret: db_password}, C: {secret: db_user}}",
         KUMO_ENOTFOUND, "stack.yml:18: workloads.db.env.A.secret: no secret \"nope\""},
        {good, good_secrets, "{PGPASSWORD: {secret: db_password}}", KUMO_EINVAL,
         "secrets.db_user: secret \"db_user\" is not used"},
        {not_exclusive, good_secrets, good_env, KUMO_EINVAL,
         "stack.yml:18: workloads.db.env.PGPASSWORD: uses secret \"db_password\" but its group "
         "\"db\" does not list requirements.providers with exclusive: true"},
        {"{attributes: {a: b}}", good_secrets, good_env, KUMO_EINVAL, "exclusive: true"},
        {good, many, good_env, KUMO_ELIMIT, "33 secrets exceed 32"},
        {good, "secrets:\n  pw: hunter2\n", "{A: {secret: pw}}", KUMO_EDECODE,
         "never holds a secret's value"},
        {good, "secrets:\n  pw: {from_env: A, from_file: b}\n", "{A: {secret: pw}}", KUMO_EINVAL,
         "exactly one of from_env and from_file"},
        {good, "secrets:\n  pw: {}\n", "{A: {secret: pw}}", KUMO_EEMPTY, "exactly one"},
        {good, "secrets:\n  pw: {from_env: 9X}\n", "{A: {secret: pw}}", KUMO_EINVAL,
         "not a variable name"},
        {good, "secrets:\n  bad-name: {from_env: X}\n", "{A: {secret: bad-name}}", KUMO_EINVAL,
         "not a secret name"},
        {good, "secrets:\n  pw: {value: x}\n", "{A: {secret: pw}}", KUMO_EDECODE, "value"},
        {good, "secrets: {}\n", "{A: b}", KUMO_EEMPTY, "no secrets"},
        {good, "secrets:\n  pw: {from_env: X}\n", "{A: {secret: pw, other: 1}}", KUMO_EDECODE,
         "other"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = parse(rows[i].req, rows[i].sec, rows[i].env, &s, &err);
        if (rc != rows[i].code || strstr(err.detail, rows[i].detail) == NULL) {
            fail_msg("row %zu: %s: %s", i, kumo_err_name(rc), err.detail);
        }
        assert_null(s);
    }
    free(not_exclusive);
    free(good);
}

/* Each manifest-check rule: a sealed manifest changed one way, checked against the groups. */
static void test_secret_manifest_check_rules(void **state)
{
    (void)state;
    static const struct {
        int change;
        int code;
        const char *detail;
    } rows[] = {
        {0, KUMO_EINVAL, "envelope 0 is not for the provider the group lists"},
        {1, KUMO_EINVAL, "2 envelopes for 1 listed providers"},
        {2, KUMO_ENOTFOUND, "no sealed value \"db_password\" in group \"db\""},
        {3, KUMO_EINVAL, "does not list providers with exclusive set"},
        {4, KUMO_ENOTFOUND, "no such group"},
        {5, KUMO_ELIMIT, "bad nonce or length"},
        {6, KUMO_EINVAL, "has a value too"},
        {7, KUMO_EDUPLICATE, "values not sorted"},
        {8, KUMO_EINVAL, "is not 80 bytes"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_sdl_stack_t *s = sealed_stack(3);
        Kumo__Manifest *m = NULL;
        assert_int_equal(kumo_sdl_manifest_decode(kumo_sdl_stack_manifest_bytes(s), &m, NULL), 0);
        Kumo__GroupSpec **groups = NULL;
        size_t gc = 0;
        uint64_t wait = 0;
        uint64_t deposit = 0;
        kumo_sdl_stack_groups(s, &groups, &gc, &wait, &deposit);
        Kumo__ManifestSealedGroup *sg = m->sealed[0];
        Kumo__ManifestSealedValue *saved_v0 = sg->values[0];
        Kumo__PlacementRequirements *r = groups[0]->requirements;
        size_t saved_np = r->n_providers;
        bool saved_ex = r->exclusive;
        char *saved_group = sg->group;
        char *saved_value = m->workloads[0]->env[1]->value;
        char *saved_name = sg->values[0]->name;
        size_t saved_len = sg->envelopes[0]->sealed_key.len;
        switch (rows[i].change) {
        case 0:
            sg->envelopes[0]->provider.data[0] ^= 1u; /* an envelope for someone unlisted */
            break;
        case 1:
            r->n_providers = 1; /* the chain lists fewer */
            break;
        case 2:
            sg->values[0] = sg->values[1]; /* db_password's value missing: db_user left */
            sg->n_values = 1;
            break;
        case 3:
            r->exclusive = false;
            break;
        case 4:
            sg->group = (char *)"nope";
            break;
        case 5:
            sg->values[0]->nonce.len = 12;
            break;
        case 6:
            m->workloads[0]->env[1]->value = (char *)"plain";
            break;
        case 7:
            sg->values[0]->name = (char *)"db_user";
            break;
        case 8:
            sg->envelopes[0]->sealed_key.len = 79;
            break;
        default:
            fail();
        }
        kumo_err_ctx_t err = {0};
        int rc = kumo_sdl_manifest_check(m, groups, gc, &err);
        if (rc != rows[i].code || strstr(err.detail, rows[i].detail) == NULL) {
            fail_msg("row %zu: %s: %s", i, kumo_err_name(rc), err.detail);
        }
        r->n_providers = saved_np;
        r->exclusive = saved_ex;
        sg->group = saved_group;
        m->workloads[0]->env[1]->value = saved_value;
        sg->envelopes[0]->sealed_key.len = saved_len;
        sg->values[0] = saved_v0;
        sg->n_values = 2;
        sg->values[0]->name = saved_name;
        kumo_codec_free(&m->base);
        kumo_sdl_stack_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_seal_open_round_trip),
        cmocka_unit_test(test_secret_canonical_bytes_stable),
        cmocka_unit_test(test_secret_seal_failures_change_nothing),
        cmocka_unit_test(test_secret_stack_rules),
        cmocka_unit_test(test_secret_manifest_check_rules),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
