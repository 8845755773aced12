/*
 * cli_sign.c - keys for commands (keyring under --home, passphrases from --passphrase-file or
 * piped stdin, never argv), address arguments that may be key names, and tx submission: the
 * chain id, fee and sequence come from the node unless given, the tx is signed locally
 * (kumo_chain_tx_build) and POSTed to /txs, optionally waiting for commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli_int.h"

int cli_keyring_open(const cli_args_t *a, kumo_keyring_t **out, kumo_err_ctx_t *err)
{
    char dir[CLI_PATH_BYTES];
    int n = snprintf(dir, sizeof(dir), "%s/keyring", a->home);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(dir), err, KUMO_ELIMIT, "--home path too long");
    /* The keyring's parent must exist; create the home (0700) on first use. */
    if (mkdir(a->home, 0700) != 0 && errno != EEXIST) {
        return kumo_err_set(err, KUMO_EIO, "cannot create home %s: %s", a->home, strerror(errno));
    }
    return kumo_keyring_open(dir, out, err);
}

/* Reads the first line of fd (at most cap-1 bytes) into out, without the newline. */
static int cli_line_read(int fd, const char *what, char *out, size_t cap, kumo_err_ctx_t *err)
{
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        KUMO_ENSURE(r >= 0, err, KUMO_EIO, "cannot read %s: %s", what, strerror(errno));
        if (r == 0 || c == '\n') {
            break;
        }
        KUMO_ENSURE(len + 1 < cap, err, KUMO_ELIMIT, "%s: line longer than %zu bytes", what,
                    cap - 1);
        out[len++] = c;
    }
    if (len > 0 && out[len - 1] == '\r') {
        len--;
    }
    out[len] = '\0';
    return 0;
}

int cli_passphrase_read(const cli_args_t *a, char *out, size_t out_cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out_cap > KUMO_KEYRING_PASSPHRASE_BYTES_MAX);
    /* Room for the longest passphrase and its NUL: a longer line is KUMO_ELIMIT. */
    out_cap = KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 1;
    int rc;
    if (a->passphrase_file != NULL) {
        int fd = open(a->passphrase_file, O_RDONLY | O_CLOEXEC);
        KUMO_ENSURE(fd >= 0, err, KUMO_EIO, "cannot open --passphrase-file %s: %s",
                    a->passphrase_file, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
            fprintf(stderr, "kumo: warning: %s is readable by others; chmod 600 it\n",
                    a->passphrase_file);
        }
        rc = cli_line_read(fd, "--passphrase-file", out, out_cap, err);
        (void)close(fd);
    } else {
        KUMO_ENSURE(!isatty(STDIN_FILENO), err, KUMO_EPASSPHRASE,
                    "the key needs a passphrase: give --passphrase-file FILE or pipe it on stdin "
                    "(never on the command line)");
        rc = cli_line_read(STDIN_FILENO, "the passphrase on stdin", out, out_cap, err);
    }
    if (rc == 0 && out[0] == '\0') {
        rc = kumo_err_set(err, KUMO_EPASSPHRASE, "the passphrase is empty");
    }
    return rc;
}

int cli_key_load(const cli_args_t *a,
                 const char *name,
                 kumo_crypto_keypair_t *kp_out,
                 kumo_err_ctx_t *err)
{
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(cli_keyring_open(a, &kr, err));
    kumo_keyring_entry_t entry;
    int rc = kumo_keyring_entry_get(kr, name, &entry, err);
    if (rc < 0) {
        goto out_close;
    }
    char pass[KUMO_KEYRING_PASSPHRASE_BYTES_MAX + 2];
    pass[0] = '\0';
    if (entry.is_encrypted) {
        rc = cli_passphrase_read(a, pass, sizeof(pass), err);
        if (rc < 0) {
            goto out_wipe;
        }
    }
    rc = kumo_keyring_load(kr, name, entry.is_encrypted ? pass : NULL, kp_out, err);
out_wipe:
    sodium_memzero(pass, sizeof(pass));
out_close:
    kumo_keyring_close(kr);
    return rc;
}

bool cli_from_given(const cli_args_t *a)
{
    const char *env = getenv(CLI_KEY_ENV);
    return a->from != NULL || (env != NULL && env[0] != '\0');
}

/* The key in $KUMO_KEY: the seed as 64 hex digits (what `kumo keys export` prints). */
static int cli_env_key_load(kumo_crypto_keypair_t *kp_out, kumo_err_ctx_t *err)
{
    const char *env = getenv(CLI_KEY_ENV);
    KUMO_ASSERT(env != NULL);
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    size_t len = 0;
    int rc = strlen(env) == 2u * KUMO_CRYPTO_SEED_BYTES
                 ? kumo_codec_hex_decode(env, seed, sizeof(seed), &len, NULL)
                 : KUMO_EINVAL;
    if (rc == 0 && len == KUMO_CRYPTO_SEED_BYTES) {
        kumo_crypto_key_from_seed(seed, kp_out);
    } else {
        rc = kumo_err_set(err, KUMO_EINVAL,
                          "$" CLI_KEY_ENV " must be a key's seed, %u hex digits (kumo keys export)",
                          2u * KUMO_CRYPTO_SEED_BYTES);
    }
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

int cli_from_load(const cli_args_t *a,
                  const char *name,
                  kumo_crypto_keypair_t *kp_out,
                  kumo_err_ctx_t *err)
{
    if (name != NULL) {
        return cli_key_load(a, name, kp_out, err);
    }
    KUMO_ENSURE(cli_from_given(a), err, KUMO_EINVAL,
                "--from KEY is required (or the key's seed in $" CLI_KEY_ENV ")");
    return cli_env_key_load(kp_out, err);
}

int cli_from_address(const cli_args_t *a,
                     const char *name,
                     uint8_t addr_out[KUMO_ADDRESS_BYTES],
                     kumo_err_ctx_t *err)
{
    if (name != NULL) {
        return cli_address_resolve(a, name, addr_out, err);
    }
    kumo_crypto_keypair_t kp;
    KUMO_GUARD(cli_from_load(a, NULL, &kp, err));
    kumo_crypto_address_from_pubkey(kp.pubkey, addr_out);
    kumo_crypto_key_wipe(&kp);
    return 0;
}

void cli_exec_wrap(const uint8_t granter[KUMO_ADDRESS_BYTES],
                   Kumo__Msg **msgs,
                   size_t msg_count,
                   Kumo__MsgExec *exec,
                   Kumo__Msg *outer)
{
    KUMO_ASSERT(granter != NULL && msgs != NULL);
    KUMO_ASSERT(msg_count > 0 && msg_count <= KUMO_EXEC_MSG_COUNT_MAX);
    *exec = (Kumo__MsgExec)KUMO__MSG_EXEC__INIT;
    exec->granter.data = (uint8_t *)(uintptr_t)granter;
    exec->granter.len = KUMO_ADDRESS_BYTES;
    exec->n_msgs = msg_count;
    exec->msgs = msgs;
    *outer = (Kumo__Msg)KUMO__MSG__INIT;
    outer->sum_case = KUMO__MSG__SUM_EXEC;
    outer->exec = exec;
}

int cli_address_resolve(const cli_args_t *a,
                        const char *text,
                        uint8_t addr_out[KUMO_ADDRESS_BYTES],
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL);
    if (strncmp(text, KUMO_ADDRESS_HRP "1", strlen(KUMO_ADDRESS_HRP) + 1) == 0) {
        return kumo_codec_address_decode(text, addr_out, err);
    }
    kumo_keyring_t *kr = NULL;
    KUMO_GUARD(cli_keyring_open(a, &kr, err));
    kumo_keyring_entry_t entry;
    int rc = kumo_keyring_entry_get(kr, text, &entry, err);
    kumo_keyring_close(kr);
    if (rc == KUMO_ENOTFOUND || rc == KUMO_EINVAL) {
        return kumo_err_set(err, KUMO_ENOTFOUND,
                            "'%s' is neither a kumo1... address nor a key in %s/keyring", text,
                            a->home);
    }
    KUMO_GUARD(rc);
    return kumo_codec_address_decode(entry.address, addr_out, err);
}

int cli_id_canonicalize(
    const cli_args_t *a, const char *text, char *out, size_t out_cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(text != NULL && out != NULL);
    const char *slash = strchr(text, '/');
    KUMO_ENSURE(slash != NULL, err, KUMO_EINVAL,
                "'%s' is not an id: expected OWNER/DSEQ[/GSEQ/OSEQ[/PROVIDER]]", text);
    char owner[KUMO_KEYRING_NAME_BYTES_MAX + KUMO_ADDRESS_TEXT_BYTES];
    size_t owner_len = (size_t)(slash - text);
    KUMO_ENSURE(owner_len > 0 && owner_len < sizeof(owner), err, KUMO_EINVAL,
                "'%s': the owner part is empty or too long", text);
    memcpy(owner, text, owner_len);
    owner[owner_len] = '\0';
    uint8_t addr[KUMO_ADDRESS_BYTES];
    KUMO_GUARD(cli_address_resolve(a, owner, addr, err));
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr, addr_text);
    int n = snprintf(out, out_cap, "%s%s", addr_text, slash);
    KUMO_ENSURE(n > 0 && (size_t)n < out_cap, err, KUMO_EINVAL, "id '%.40s...' is too long", text);
    return 0;
}

/* ---- tx submission ---- */

typedef struct cli_tx_env {
    char chain_id[KUMO_CHAIN_ID_BYTES_MAX + 1];
    uint64_t fee_ukumo;
    uint64_t sequence;
    char addr_text[KUMO_ADDRESS_TEXT_BYTES];
} cli_tx_env_t;

static int cli_tx_env_fetch(const cli_args_t *a, cli_tx_env_t *env, kumo_err_ctx_t *err)
{
    kumo_client_t *c = NULL;
    KUMO_GUARD(cli_node_open(a, &c, err));
    int rc = 0;
    if (a->chain_id != NULL) {
        (void)snprintf(env->chain_id, sizeof(env->chain_id), "%s", a->chain_id);
    } else {
        kumo_client_status_t st;
        KUMO_GUARD_GOTO(kumo_client_status_get(c, &st, err), rc, close_client);
        (void)snprintf(env->chain_id, sizeof(env->chain_id), "%s", st.chain_id);
    }
    env->fee_ukumo = a->fee_ukumo;
    ProtobufCMessage *m = NULL;
    if (!a->fee_set) {
        KUMO_GUARD_GOTO(kumo_client_object_get(c, "/params", &kumo__params__descriptor, &m, err),
                        rc, close_client);
        env->fee_ukumo = ((const Kumo__Params *)m)->min_fee;
        kumo_codec_free(m);
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/accounts/%s", env->addr_text);
    KUMO_GUARD_GOTO(kumo_client_object_get(c, path, &kumo__account__descriptor, &m, err), rc,
                    close_client);
    env->sequence = ((const Kumo__Account *)m)->sequence;
    kumo_codec_free(m);
close_client:
    kumo_client_close(c);
    return rc;
}

static void cli_events_print(const json_t *events, FILE *out)
{
    static const char *const headers[] = {"EVENT", "ID", "ATTRIBUTES"};
    cli_table_t t;
    cli_table_init(&t, headers, 3);
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char(*row)[CLI_TABLE_CELL_BYTES] = NULL;
        if (cli_table_row_add(&t, &row) < 0) {
            break;
        }
        (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(ev, "type"));
        (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "%s", cli_json_str(ev, "id"));
        size_t k;
        const json_t *attr;
        size_t used = 0;
        json_array_foreach(json_object_get(ev, "attrs"), k, attr)
        {
            int n =
                snprintf(row[2] + used, CLI_TABLE_CELL_BYTES - used, "%s%s=%s", k > 0 ? " " : "",
                         cli_json_str(attr, "key"), cli_json_str(attr, "value"));
            if (n < 0 || (size_t)n >= CLI_TABLE_CELL_BYTES - used) {
                break;
            }
            used += (size_t)n;
        }
    }
    if (t.row_count > 0) {
        fputc('\n', out);
        cli_table_print(&t, out);
    }
    cli_table_free(&t);
}

/* Prints the POST /txs answer; returns the exit code (1 when the committed tx failed). */
static int cli_tx_answer_print(const cli_args_t *a, const char *what, const json_t *ans)
{
    if (a->output == CLI_OUTPUT_JSON) {
        cli_json_print(ans, stdout);
    }
    const json_t *code = json_object_get(ans, "code");
    int c = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    bool committed = strcmp(cli_json_str(ans, "status"), "committed") == 0;
    if (committed && c != 0) {
        kumo_err_ctx_t e = {.code = c};
        (void)snprintf(e.detail, sizeof(e.detail), "%s", cli_json_str(ans, "log"));
        fprintf(stderr, "kumo: %s: tx %s was committed at height %s but failed\n", what,
                cli_json_str(ans, "hash"), cli_json_str(ans, "height"));
        return cli_fail(what, &e);
    }
    if (a->output == CLI_OUTPUT_JSON) {
        return CLI_EXIT_OK;
    }
    if (committed) {
        printf("%s: committed at height %s (tx %s)\n", what, cli_json_str(ans, "height"),
               cli_json_str(ans, "hash"));
        cli_events_print(json_object_get(ans, "events"), stdout);
    } else {
        printf("%s: submitted, pending (tx %s)\n", what, cli_json_str(ans, "hash"));
        printf("  check with: kumo query tx %s\n", cli_json_str(ans, "hash"));
    }
    return CLI_EXIT_OK;
}

/* How long the node waits for a commit when --timeout is not given (its default). */
#define CLI_TX_WAIT_MS_DEFAULT 10000u

static int cli_tx_post(const cli_args_t *a, const kumo_buf_t *tx, json_t **ans, kumo_err_ctx_t *err)
{
    uint32_t wait_ms = 0;
    if (a->wait) {
        KUMO_ENSURE(a->timeout_ms <= KUMO_CLIENT_TX_WAIT_MS_MAX, err, KUMO_EINVAL,
                    "--timeout %" PRIu64 " ms is over the node's %u", a->timeout_ms,
                    KUMO_CLIENT_TX_WAIT_MS_MAX);
        wait_ms = a->timeout_ms > 0 ? (uint32_t)a->timeout_ms : CLI_TX_WAIT_MS_DEFAULT;
    }
    kumo_client_t *c = NULL;
    KUMO_GUARD(cli_node_open(a, &c, err));
    int rc = kumo_client_tx_broadcast(c, kumo_buf_bytes(tx), wait_ms, NULL, ans, err);
    kumo_client_close(c);
    return rc;
}

/* Retries after the mempool names the sequence it expects (another tx of this key is still
 * pending, or was committed since the account query, so the sequence it gave is taken). */
#define CLI_SEQUENCE_RETRY_MAX 8u

/* The sequence a KUMO_ESEQUENCE detail says the mempool expects ("... expected sequence N"). */
static bool cli_expected_sequence(const char *detail, uint64_t *out)
{
    static const char key[] = "expected sequence ";
    const char *p = strstr(detail, key);
    if (p == NULL) {
        return false;
    }
    p += sizeof(key) - 1;
    size_t len = strspn(p, "0123456789");
    char num[24];
    if (len == 0 || len >= sizeof(num)) {
        return false;
    }
    memcpy(num, p, len);
    num[len] = '\0';
    return cli_u64_parse(num, "sequence", out, NULL) == 0;
}

/* Signs at env->sequence and submits; on a sequence taken by a pending tx of the same key,
 * signs again at the sequence the node expects. hash_hex gets the last tx's hash. */
static int cli_tx_sign_submit(const cli_args_t *a,
                              const kumo_crypto_keypair_t *kp,
                              cli_tx_env_t *env,
                              Kumo__Msg *const *msgs,
                              size_t msg_count,
                              json_t **ans,
                              char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1],
                              kumo_err_ctx_t *err)
{
    for (unsigned attempt = 0;; attempt++) {
        kumo_buf_t tx;
        kumo_buf_init(&tx, KUMO_TX_BYTES_MAX);
        int rc = kumo_chain_tx_build(env->chain_id, kp, env->sequence, env->fee_ukumo,
                                     a->memo != NULL ? a->memo : "", msgs, msg_count, &tx, err);
        if (rc == 0) {
            uint8_t hash[KUMO_CHAIN_HASH_BYTES];
            kumo_crypto_sha256(kumo_buf_bytes(&tx), hash);
            KUMO_ASSERT(kumo_codec_hex_encode(kumo_bytes_make(hash, sizeof(hash)), hash_hex,
                                              2 * KUMO_CHAIN_HASH_BYTES + 1) == 0);
            rc = cli_tx_post(a, &tx, ans, err);
        }
        kumo_buf_free(&tx);
        uint64_t next = 0;
        if (rc != KUMO_ESEQUENCE || attempt >= CLI_SEQUENCE_RETRY_MAX ||
            !cli_expected_sequence(err->detail, &next) || next <= env->sequence) {
            return rc;
        }
        env->sequence = next;
    }
}

int cli_tx_submit(const cli_args_t *a,
                  const kumo_crypto_keypair_t *kp,
                  Kumo__Msg *const *msgs,
                  size_t msg_count,
                  json_t **ans,
                  char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1],
                  kumo_err_ctx_t *err)
{
    cli_tx_env_t env;
    memset(&env, 0, sizeof(env));
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, addr);
    kumo_codec_address_encode(addr, env.addr_text);
    KUMO_GUARD(cli_tx_env_fetch(a, &env, err));
    return cli_tx_sign_submit(a, kp, &env, msgs, msg_count, ans, hash_hex, err);
}

int cli_tx_send(cli_args_t *a, Kumo__Msg *const *msgs, size_t msg_count, const char *what)
{
    KUMO_ASSERT(msgs != NULL && msg_count > 0);
    KUMO_ASSERT(what != NULL);
    if (!cli_from_given(a)) {
        return cli_usage_fail("tx", "%s needs --from KEY (the key that signs) or $" CLI_KEY_ENV,
                              what);
    }
    kumo_err_ctx_t err = {0};
    kumo_crypto_keypair_t kp;
    if (cli_from_load(a, a->from, &kp, &err) < 0) {
        return cli_fail("loading the --from key", &err);
    }
    cli_tx_env_t env;
    memset(&env, 0, sizeof(env));
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp.pubkey, addr);
    kumo_codec_address_encode(addr, env.addr_text);
    int exit_code;
    json_t *ans = NULL;
    char hash_hex[2 * KUMO_CHAIN_HASH_BYTES + 1] = "";
    if (cli_tx_env_fetch(a, &env, &err) < 0) {
        exit_code = cli_fail("asking the node for chain id, fee and sequence", &err);
    } else if (cli_tx_sign_submit(a, &kp, &env, msgs, msg_count, &ans, hash_hex, &err) < 0) {
        if (err.code == KUMO_ENOTFOUND && a->wait && strstr(err.detail, "may still commit")) {
            /* 504: the wait for commit ran out while the tx sits in the mempool. */
            fprintf(stderr, "kumo: %s: %s\n  hint: check later with: kumo query tx %s\n", what,
                    err.detail, hash_hex);
            exit_code = CLI_EXIT_FAIL;
        } else {
            exit_code = cli_fail(what, &err);
        }
    } else {
        exit_code = cli_tx_answer_print(a, what, ans);
    }
    json_decref(ans);
    kumo_crypto_key_wipe(&kp);
    return exit_code;
}
