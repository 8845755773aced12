/*
 * cmd_keys.c - `kumo keys add|list|show|export|import|delete`: named Ed25519 keys in
 * <home>/keyring (src/keyring). Secrets never come from argv: passphrases from
 * --passphrase-file or piped stdin, imported seeds from stdin. A seed is printed only with
 * --unsafe-export-seed, with a warning on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static const int keys_add_opts[] = {CLI_OPT_ENCRYPT, CLI_OPT_PASSPHRASE_FILE, CLI_OPT_END};
static const int keys_show_opts[] = {CLI_OPT_ADDRESS, CLI_OPT_END};
static const int keys_export_opts[] = {CLI_OPT_UNSAFE_EXPORT_SEED, CLI_OPT_PASSPHRASE_FILE,
                                       CLI_OPT_END};
static const int keys_none_opts[] = {CLI_OPT_END};

static json_t *keys_entry_json(const kumo_keyring_entry_t *e)
{
    char pub[2 * KUMO_CRYPTO_PUBKEY_BYTES + 1];
    KUMO_ASSERT(kumo_codec_hex_encode(kumo_bytes_make(e->pubkey, KUMO_CRYPTO_PUBKEY_BYTES), pub,
                                      sizeof(pub)) == 0);
    return json_pack("{s:s,s:s,s:s,s:b}", "name", e->name, "address", e->address, "pubkey", pub,
                     "encrypted", e->is_encrypted);
}

static int keys_entry_print(const cli_args_t *a, const kumo_keyring_entry_t *e)
{
    if (a->address_only) {
        printf("%s\n", e->address);
        return CLI_EXIT_OK;
    }
    json_t *j = keys_entry_json(e);
    if (j == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(j, stdout);
    } else {
        cli_object_print(j, stdout);
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

/* Stores a new key (seed NULL: generated) as name, sealed when --encrypt. */
static int keys_store(cli_args_t *a, const char *name, const uint8_t *seed, const char *what)
{
    kumo_err_ctx_t err = {0};
    char pass[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 2];
    pass[0] = '\0';
    int exit_code = CLI_EXIT_FAIL;
    kumo_keyring_t *kr = NULL;
    if (a->encrypt && cli_passphrase_read(a, pass, sizeof(pass), &err) < 0) {
        exit_code = cli_fail("reading the passphrase", &err);
        goto out;
    }
    if (cli_keyring_open(a, &kr, &err) < 0) {
        exit_code = cli_fail("opening the keyring", &err);
        goto out;
    }
    kumo_crypto_keypair_t kp;
    int rc = seed != NULL ? kumo_keyring_import(kr, name, seed, a->encrypt ? pass : NULL, &kp, &err)
                          : kumo_keyring_add(kr, name, a->encrypt ? pass : NULL, &kp, &err);
    if (rc < 0) {
        exit_code = cli_fail(what, &err);
        goto out;
    }
    kumo_crypto_key_wipe(&kp);
    kumo_keyring_entry_t entry;
    if (kumo_keyring_entry_get(kr, name, &entry, &err) < 0) {
        exit_code = cli_fail(what, &err);
        goto out;
    }
    exit_code = keys_entry_print(a, &entry);
out:
    sodium_memzero(pass, sizeof(pass));
    kumo_keyring_close(kr);
    return exit_code;
}

static int keys_add_run(cli_args_t *a)
{
    return keys_store(a, a->pos[0], NULL, "adding the key");
}

static int keys_import_run(cli_args_t *a)
{
    if (a->encrypt && a->passphrase_file == NULL) {
        return cli_usage_fail("keys import",
                              "--encrypt needs --passphrase-file FILE (stdin carries the seed)");
    }
    if (isatty(STDIN_FILENO)) {
        fprintf(stderr, "kumo: paste the seed (64 hex digits) and press enter:\n");
    }
    char line[CLI_LINE_BYTES_MAX];
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    size_t len = 0;
    kumo_err_ctx_t err = {0};
    int exit_code = CLI_EXIT_FAIL;
    if (fgets(line, sizeof(line), stdin) == NULL) {
        fprintf(stderr, "kumo: keys import: no seed on stdin (64 hex digits)\n");
        goto out;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (kumo_codec_hex_decode(line, seed, sizeof(seed), &len, &err) < 0 ||
        len != KUMO_CRYPTO_SEED_BYTES) {
        fprintf(stderr, "kumo: keys import: the seed must be %u hex digits\n",
                2 * KUMO_CRYPTO_SEED_BYTES);
        goto out;
    }
    exit_code = keys_store(a, a->pos[0], seed, "importing the key");
out:
    sodium_memzero(line, sizeof(line));
    sodium_memzero(seed, sizeof(seed));
    return exit_code;
}

typedef struct keys_list_ctx {
    cli_table_t table;
    json_t *arr;
} keys_list_ctx_t;

static int keys_list_cb(void *ctx, const kumo_keyring_entry_t *e)
{
    keys_list_ctx_t *lc = ctx;
    json_t *j = keys_entry_json(e);
    if (j == NULL || json_array_append_new(lc->arr, j) < 0) {
        return KUMO_ENOMEM;
    }
    char(*row)[CLI_TABLE_CELL_BYTES] = NULL;
    KUMO_GUARD(cli_table_row_add(&lc->table, &row));
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", e->name);
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "%s", e->address);
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "%s", e->is_encrypted ? "yes" : "no");
    return 0;
}

static int keys_list_run(cli_args_t *a)
{
    static const char *const headers[] = {"NAME", "ADDRESS", "ENCRYPTED"};
    kumo_err_ctx_t err = {0};
    kumo_keyring_t *kr = NULL;
    if (cli_keyring_open(a, &kr, &err) < 0) {
        return cli_fail("opening the keyring", &err);
    }
    keys_list_ctx_t lc = {.arr = json_array()};
    cli_table_init(&lc.table, headers, 3);
    int exit_code = CLI_EXIT_OK;
    if (lc.arr == NULL || kumo_keyring_list(kr, keys_list_cb, &lc, &err) < 0) {
        exit_code = cli_fail("listing keys", &err);
    } else if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(lc.arr, stdout);
    } else if (lc.table.row_count == 0) {
        printf("no keys in %s/keyring; add one with: kumo keys add NAME\n", a->home);
    } else {
        cli_table_print(&lc.table, stdout);
    }
    cli_table_free(&lc.table);
    json_decref(lc.arr);
    kumo_keyring_close(kr);
    return exit_code;
}

static int keys_show_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    kumo_keyring_t *kr = NULL;
    if (cli_keyring_open(a, &kr, &err) < 0) {
        return cli_fail("opening the keyring", &err);
    }
    kumo_keyring_entry_t e;
    int exit_code = kumo_keyring_entry_get(kr, a->pos[0], &e, &err) < 0
                        ? cli_fail("showing the key", &err)
                        : keys_entry_print(a, &e);
    kumo_keyring_close(kr);
    return exit_code;
}

static int keys_export_run(cli_args_t *a)
{
    if (!a->unsafe_export_seed) {
        return cli_usage_fail("keys export",
                              "printing a secret seed needs --unsafe-export-seed (anyone who "
                              "sees the seed controls the key)");
    }
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t kp;
    if (cli_key_load(a, a->pos[0], &kp, &err) < 0) {
        return cli_fail("exporting the key", &err);
    }
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    kumo_crypto_key_seed(&kp, seed);
    kumo_crypto_key_wipe(&kp);
    char hex[2 * KUMO_CRYPTO_SEED_BYTES + 1];
    KUMO_ASSERT(kumo_codec_hex_encode(kumo_bytes_make(seed, sizeof(seed)), hex, sizeof(hex)) == 0);
    fprintf(stderr,
            "kumo: WARNING: this is the secret seed of key '%s'; whoever sees it owns "
            "the key. Store it offline.\n",
            a->pos[0]);
    printf("%s\n", hex);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(hex, sizeof(hex));
    return CLI_EXIT_OK;
}

static int keys_delete_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    kumo_keyring_t *kr = NULL;
    if (cli_keyring_open(a, &kr, &err) < 0) {
        return cli_fail("opening the keyring", &err);
    }
    int exit_code = CLI_EXIT_OK;
    if (kumo_keyring_delete(kr, a->pos[0], &err) < 0) {
        exit_code = cli_fail("deleting the key", &err);
    } else if (a->output == CLI_OUTPUT_JSON) {
        printf("{\"deleted\": \"%s\"}\n", a->pos[0]);
    } else {
        printf("deleted key %s\n", a->pos[0]);
    }
    kumo_keyring_close(kr);
    return exit_code;
}

static const cli_sub_t keys_subs[] = {
    {NULL, "add", "NAME", "generate a new key and store it (optionally sealed)",
     "kumo keys add alice --encrypt --passphrase-file ~/.alice-pass", keys_add_opts, 1, 1,
     keys_add_run},
    {NULL, "list", "", "list keys: name, address, whether encrypted", "kumo keys list",
     keys_none_opts, 0, 0, keys_list_run},
    {NULL, "show", "NAME", "show a key's address and public key", "kumo keys show alice --address",
     keys_show_opts, 1, 1, keys_show_run},
    {NULL, "export", "NAME --unsafe-export-seed", "print the key's secret seed (hex) to back it up",
     "kumo keys export alice --unsafe-export-seed > alice.seed", keys_export_opts, 1, 1,
     keys_export_run},
    {NULL, "import", "NAME", "store a key from a seed (64 hex digits) read on stdin",
     "kumo keys import alice2 < alice.seed", keys_add_opts, 1, 1, keys_import_run},
    {NULL, "delete", "NAME", "remove a key from the keyring", "kumo keys delete alice",
     keys_none_opts, 1, 1, keys_delete_run},
};

int kumo_cli_keys_main(int argc, char **argv)
{
    return cli_dispatch("keys", "Manage named Ed25519 keys in <home>/keyring.", keys_subs,
                        sizeof(keys_subs) / sizeof(keys_subs[0]), argc, argv);
}
