/*
 * test_cli_sign.c - the key side of the CLI (src/cli/cli_sign.c) without a node: ids whose
 * owner is a key name, address arguments, passphrases from a file (first line, newline
 * stripped, empty refused, a warning when others can read the file), sealed keys loaded only
 * with their passphrase, and the "expected sequence N" the mempool's refusal names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_args.c"
#include "cli/cli_client.c"
#include "cli/cli_output.c"
#include "cli/cli_parse.c"
#include "cli/cli_sign.c"
#include "helpers/testutil.h"

typedef struct sign_fx {
    char *dir;
    cli_args_t a;
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    char pass_path[1024];
} sign_fx_t;

static void fx_file_write(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int fx_setup(void **state)
{
    sign_fx_t *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->dir = kumo_test_tmpdir_make("kumo-cli-sign");
    assert_non_null(fx->dir);
    fx->a.home = fx->dir;
    fx->a.node = "http://127.0.0.1:1";
    (void)snprintf(fx->pass_path, sizeof(fx->pass_path), "%s/pass", fx->dir);
    fx_file_write(fx->pass_path, "s3cret words\r\nsecond line\n", 0600);
    kumo_keyring_t *kr = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(cli_keyring_open(&fx->a, &kr, &err), 0);
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_keyring_add(kr, "tenant", NULL, &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
    assert_int_equal(kumo_keyring_add(kr, "sealed", "s3cret words", &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
    kumo_keyring_entry_t e;
    assert_int_equal(kumo_keyring_entry_get(kr, "tenant", &e, &err), 0);
    (void)snprintf(fx->addr, sizeof(fx->addr), "%s", e.address);
    kumo_keyring_close(kr);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    sign_fx_t *fx = *state;
    kumo_test_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void test_id_owner_may_be_a_key_name(void **state)
{
    sign_fx_t *fx = *state;
    char out[KUMO_ID_TEXT_BYTES];
    char want[KUMO_ID_TEXT_BYTES];
    kumo_err_ctx_t err = {0};
    assert_int_equal(cli_id_canonicalize(&fx->a, "tenant/7/0/1", out, sizeof(out), &err), 0);
    (void)snprintf(want, sizeof(want), "%s/7/0/1", fx->addr);
    assert_string_equal(out, want);
    /* An address stays as it is; the strict parser then checks the rest. */
    assert_int_equal(cli_id_canonicalize(&fx->a, want, out, sizeof(out), &err), 0);
    assert_string_equal(out, want);
    static const struct {
        const char *text;
        int want;
    } bad[] = {
        {"tenant", KUMO_EINVAL},       /* no '/' */
        {"/7", KUMO_EINVAL},           /* empty owner */
        {"nobody/7", KUMO_ENOTFOUND},  /* no such key */
        {"kumo1zzz/7", KUMO_EINVAL},   /* bad address */
        {"Bad Name/7", KUMO_ENOTFOUND} /* not a key name either */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cli_id_canonicalize(&fx->a, bad[i].text, out, sizeof(out), &err);
        if (rc != bad[i].want) {
            fail_msg("'%s': got %s (%s)", bad[i].text, kumo_err_name(rc), err.detail);
        }
    }
}

static void test_address_resolve(void **state)
{
    sign_fx_t *fx = *state;
    uint8_t a1[KUMO_ADDRESS_BYTES];
    uint8_t a2[KUMO_ADDRESS_BYTES];
    assert_int_equal(cli_address_resolve(&fx->a, "tenant", a1, NULL), 0);
    assert_int_equal(cli_address_resolve(&fx->a, fx->addr, a2, NULL), 0);
    assert_memory_equal(a1, a2, sizeof(a1));
    kumo_err_ctx_t err = {0};
    assert_int_equal(cli_address_resolve(&fx->a, "nobody", a1, &err), KUMO_ENOTFOUND);
    assert_non_null(strstr(err.detail, "neither"));
}

static void test_passphrase_file_first_line(void **state)
{
    sign_fx_t *fx = *state;
    char pass[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 2];
    fx->a.passphrase_file = fx->pass_path;
    assert_int_equal(cli_passphrase_read(&fx->a, pass, sizeof(pass), NULL), 0);
    assert_string_equal(pass, "s3cret words");
    char path[1100];
    (void)snprintf(path, sizeof(path), "%s/empty", fx->dir);
    fx_file_write(path, "\n", 0600);
    fx->a.passphrase_file = path;
    assert_int_equal(cli_passphrase_read(&fx->a, pass, sizeof(pass), NULL), KUMO_EPASSPHRASE);
    (void)snprintf(path, sizeof(path), "%s/missing", fx->dir);
    assert_int_equal(cli_passphrase_read(&fx->a, pass, sizeof(pass), NULL), KUMO_EIO);
    /* A line longer than a passphrase may be is refused, one at the limit accepted. */
    char *long_line = malloc(KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 3);
    assert_non_null(long_line);
    memset(long_line, 'p', KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1);
    long_line[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1] = '\0';
    (void)snprintf(path, sizeof(path), "%s/long", fx->dir);
    fx_file_write(path, long_line, 0600);
    fx->a.passphrase_file = path;
    assert_int_equal(cli_passphrase_read(&fx->a, pass, sizeof(pass), NULL), KUMO_ELIMIT);
    long_line[KUMO_KEYRING_PASSPHRASE_BYTES_MAX] = '\0';
    fx_file_write(path, long_line, 0644); /* readable by others: a warning, still read */
    assert_int_equal(cli_passphrase_read(&fx->a, pass, sizeof(pass), NULL), 0);
    assert_int_equal(strlen(pass), KUMO_KEYRING_PASSPHRASE_BYTES_MAX);
    free(long_line);
    fx->a.passphrase_file = NULL;
}

static void test_sealed_key_needs_its_passphrase(void **state)
{
    sign_fx_t *fx = *state;
    kumo_crypto_keypair_t kp;
    kumo_err_ctx_t err = {0};
    /* The plain key loads without asking. */
    assert_int_equal(cli_key_load(&fx->a, "tenant", &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
    char wrong[1100];
    (void)snprintf(wrong, sizeof(wrong), "%s/wrong", fx->dir);
    fx_file_write(wrong, "not it\n", 0600);
    fx->a.passphrase_file = wrong;
    assert_int_equal(cli_key_load(&fx->a, "sealed", &kp, &err), KUMO_EPASSPHRASE);
    fx->a.passphrase_file = fx->pass_path;
    assert_int_equal(cli_key_load(&fx->a, "sealed", &kp, &err), 0);
    kumo_crypto_key_wipe(&kp);
    assert_int_equal(cli_key_load(&fx->a, "nobody", &kp, &err), KUMO_ENOTFOUND);
    fx->a.passphrase_file = NULL;
}

static void test_expected_sequence_from_refusal(void **state)
{
    (void)state;
    uint64_t n = 0;
    assert_true(
        cli_expected_sequence("sequence 3 is taken by a pending tx; expected sequence 5", &n));
    assert_int_equal(n, 5);
    assert_false(cli_expected_sequence("sequence 3 was already used", &n));
    assert_false(cli_expected_sequence("expected sequence ", &n));
    assert_false(cli_expected_sequence("expected sequence 99999999999999999999999", &n));
}

static void test_tx_without_node_fails_with_hint(void **state)
{
    sign_fx_t *fx = *state;
    Kumo__MsgDeleteProvider m = KUMO__MSG_DELETE_PROVIDER__INIT;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_DELETE_PROVIDER;
    msg.delete_provider = &m;
    Kumo__Msg *msgs[1] = {&msg};
    fx->a.from = "tenant";
    assert_int_equal(cli_tx_send(&fx->a, msgs, 1, "provider delete"), CLI_EXIT_FAIL);
    fx->a.from = NULL;
    assert_int_equal(cli_tx_send(&fx->a, msgs, 1, "provider delete"), CLI_EXIT_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_id_owner_may_be_a_key_name, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_address_resolve, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_file_first_line, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sealed_key_needs_its_passphrase, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_expected_sequence_from_refusal),
        cmocka_unit_test_setup_teardown(test_tx_without_node_fails_with_hint, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
