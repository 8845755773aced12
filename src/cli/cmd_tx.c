/*
 * cmd_tx.c - `kumo tx ...`: builds one msg from the command line, signs it with --from and
 * submits it to the node (cli_tx_send): bank send, provider create|update|delete, deployment
 * create|update|deposit|close, grant create|revoke|exec, fulfillment create|cancel, lease
 * confirm|refuse|close, staking create-validator|edit-validator|delegate|undelegate|redelegate|
 * unjail|withdraw-rewards. Inputs are checked here first (sizes, amounts, ids) so a typo is a
 * usage error, not a failed tx.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "file/file.h"
#include "market/market.h"
#include "sdl/sdl.h"
#include "staking/staking.h"

#define TX_TX_OPTS                                                                 \
    CLI_OPT_FROM, CLI_OPT_CHAIN_ID, CLI_OPT_FEE, CLI_OPT_WAIT, CLI_OPT_TIMEOUT_MS, \
        CLI_OPT_PASSPHRASE_FILE, CLI_OPT_MEMO

static const int tx_plain_opts[] = {TX_TX_OPTS, CLI_OPT_END};
static const int tx_provider_opts[] = {TX_TX_OPTS,        CLI_OPT_HOST_URI, CLI_OPT_REGION,
                                       CLI_OPT_CERT_FILE, CLI_OPT_ATTR,     CLI_OPT_END};
static const int tx_provider_update_opts[] = {TX_TX_OPTS,        CLI_OPT_HOST_URI, CLI_OPT_REGION,
                                              CLI_OPT_CERT_FILE, CLI_OPT_ATTR,     CLI_OPT_OFFER,
                                              CLI_OPT_END};
static const int tx_deploy_create_opts[] = {
    TX_TX_OPTS,      CLI_OPT_DSEQ,         CLI_OPT_GROUP,   CLI_OPT_WAIT_BLOCKS,
    CLI_OPT_DEPOSIT, CLI_OPT_VERSION_FILE, CLI_OPT_VERSION, CLI_OPT_ESCROW_WARN_BLOCKS,
    CLI_OPT_END};
static const int tx_deploy_deposit_opts[] = {TX_TX_OPTS, CLI_OPT_ESCROW_WARN_BLOCKS, CLI_OPT_END};
static const int tx_deploy_update_opts[] = {TX_TX_OPTS, CLI_OPT_GROUP, CLI_OPT_VERSION_FILE,
                                            CLI_OPT_VERSION, CLI_OPT_END};
static const int tx_bid_opts[] = {TX_TX_OPTS, CLI_OPT_PRICE, CLI_OPT_END};
static const int tx_confirm_opts[] = {TX_TX_OPTS, CLI_OPT_RELEASED, CLI_OPT_END};
static const int tx_refuse_opts[] = {TX_TX_OPTS, CLI_OPT_REASON, CLI_OPT_DETAIL, CLI_OPT_END};
static const int tx_lease_close_opts[] = {TX_TX_OPTS, CLI_OPT_DETAIL, CLI_OPT_END};

/* The whole content of a small file (certificates, manifests), NUL-terminated. */
static int tx_file_read(const char *path, size_t max, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    kumo_buf_init(out, max + 1);
    int rc = kumo_file_read(path, out, err);
    if (rc == 0 && out->len > max) {
        rc = kumo_err_set(err, KUMO_ELIMIT, "%s is larger than %zu bytes", path, max);
    }
    if (rc == 0) {
        rc = kumo_buf_append(out, "", 1);
    }
    if (rc < 0) {
        kumo_buf_free(out);
    }
    return rc;
}

static Kumo__Msg tx_msg(Kumo__Msg__SumCase c, void *m)
{
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = c;
    msg.send = m; /* every member of the oneof shares this storage */
    return msg;
}

/* Set by `kumo tx grant exec --granter G`: the deployment command's msg is sent inside a
 * MsgExec for G (the signer being the grantee), exactly as the plain command builds it. */
static const char *tx_exec_granter;

static int tx_send1(cli_args_t *a, Kumo__Msg msg, const char *what)
{
    Kumo__Msg *msgs[1] = {&msg};
    if (tx_exec_granter == NULL) {
        return cli_tx_send(a, msgs, 1, what);
    }
    uint8_t granter[KUMO_ADDRESS_BYTES];
    kumo_err_ctx_t err = {0};
    if (cli_address_resolve(a, tx_exec_granter, granter, &err) < 0) {
        return cli_fail("granter", &err);
    }
    Kumo__MsgExec m;
    Kumo__Msg outer;
    cli_exec_wrap(granter, msgs, 1, &m, &outer);
    Kumo__Msg *outers[1] = {&outer};
    return cli_tx_send(a, outers, 1, what);
}

/* ---- bank ---- */

static int tx_bank_send_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t to[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], to, &err) < 0) {
        return cli_fail("recipient", &err);
    }
    Kumo__MsgSend m = KUMO__MSG_SEND__INIT;
    if (cli_amount_parse(a->pos[1], &m.amount, &err) < 0 || m.amount == 0) {
        return cli_usage_fail("tx bank send", "AMOUNT: %s",
                              err.code != 0 ? err.detail : "must be more than 0");
    }
    m.to.data = to;
    m.to.len = sizeof(to);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_SEND, &m), "bank send");
}

/* ---- provider ---- */

typedef struct tx_provider_fields {
    const char *host_uri;
    const char *region;
    kumo_buf_t cert;
    char attr_buf[KUMO_ATTRIBUTE_COUNT_MAX]
                 [KUMO_ATTRIBUTE_KEY_BYTES_MAX + KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 2];
    Kumo__Attribute attrs[KUMO_ATTRIBUTE_COUNT_MAX];
    Kumo__Attribute *attr_ptrs[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t attr_count;
    json_t *current; /* update: the provider as stored */
    bool has_offer;  /* update --offer */
    cli_offer_t offer;
} tx_provider_fields_t;

static int
tx_provider_attrs_parse(const cli_args_t *a, tx_provider_fields_t *pf, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(a->attr_count <= KUMO_ATTRIBUTE_COUNT_MAX, err, KUMO_EINVAL, "at most %u --attr",
                KUMO_ATTRIBUTE_COUNT_MAX);
    for (size_t i = 0; i < a->attr_count; i++) {
        const char *k = NULL;
        const char *v = NULL;
        KUMO_GUARD(
            cli_attr_parse(a->attrs[i], pf->attr_buf[i], sizeof(pf->attr_buf[i]), &k, &v, err));
        kumo__attribute__init(&pf->attrs[i]);
        pf->attrs[i].key = (char *)(uintptr_t)k;
        pf->attrs[i].value = (char *)(uintptr_t)v;
        pf->attr_ptrs[i] = &pf->attrs[i];
    }
    pf->attr_count = a->attr_count;
    cli_attrs_sort(pf->attr_ptrs, pf->attr_count);
    return 0;
}

/* Keeps the stored attributes when --attr is not given (update). */
static void tx_provider_attrs_keep(tx_provider_fields_t *pf)
{
    size_t i;
    const json_t *attr;
    json_array_foreach(json_object_get(pf->current, "attributes"), i, attr)
    {
        if (i >= KUMO_ATTRIBUTE_COUNT_MAX) {
            break;
        }
        kumo__attribute__init(&pf->attrs[i]);
        pf->attrs[i].key = (char *)(uintptr_t)cli_json_str(attr, "key");
        pf->attrs[i].value = (char *)(uintptr_t)cli_json_str(attr, "value");
        pf->attr_ptrs[i] = &pf->attrs[i];
        pf->attr_count = i + 1;
    }
}

/* Fills pf from the options, or for update from the stored provider where not given. */
static int tx_provider_fields_get(const cli_args_t *a,
                                  bool update,
                                  tx_provider_fields_t *pf,
                                  kumo_err_ctx_t *err)
{
    if (pf->has_offer) {
        if (a->host_uri == NULL && a->region == NULL && a->cert_file == NULL &&
            a->attr_count == 0) {
            /* Only the offer: every other field stays empty (an offer-only update). */
            pf->host_uri = "";
            pf->region = "";
            return kumo_buf_append(&pf->cert, "", 1);
        }
    }
    if (update) {
        uint8_t addr[KUMO_ADDRESS_BYTES];
        char addr_text[KUMO_ADDRESS_TEXT_BYTES];
        char path[96];
        KUMO_GUARD(cli_from_address(a, a->from, addr, err));
        kumo_codec_address_encode(addr, addr_text);
        (void)snprintf(path, sizeof(path), "/providers/%s", addr_text);
        KUMO_GUARD(cli_http_get(a, path, &pf->current, err));
    }
    pf->host_uri = a->host_uri != NULL ? a->host_uri : cli_json_str(pf->current, "host_uri");
    pf->region = a->region != NULL ? a->region : cli_json_str(pf->current, "region");
    if (a->cert_file != NULL) {
        KUMO_GUARD(tx_file_read(a->cert_file, KUMO_CERT_PEM_BYTES_MAX, &pf->cert, err));
    } else {
        const char *pem = cli_json_str(pf->current, "root_cert_pem");
        KUMO_GUARD(kumo_buf_append(&pf->cert, pem, strlen(pem) + 1));
    }
    if (a->attr_count > 0 || !update) {
        return tx_provider_attrs_parse(a, pf, err);
    }
    tx_provider_attrs_keep(pf);
    return 0;
}

static int tx_provider_run(cli_args_t *a, bool update)
{
    const char *what = update ? "provider update" : "provider create";
    if (!update && (a->host_uri == NULL || a->region == NULL || a->cert_file == NULL)) {
        return cli_usage_fail("tx provider create", "--host-uri, --region and --cert-file are "
                                                    "required");
    }
    if (!cli_from_given(a)) {
        return cli_usage_fail("tx", "%s needs --from KEY or $" CLI_KEY_ENV, what);
    }
    tx_provider_fields_t *pf = calloc(1, sizeof(*pf));
    if (pf == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_buf_init(&pf->cert, KUMO_CERT_PEM_BYTES_MAX + 1);
    kumo_err_ctx_t err = {0};
    int exit_code;
    pf->has_offer = a->offer != NULL;
    if (pf->has_offer && cli_offer_parse(a->offer, &pf->offer, &err) < 0) {
        exit_code = cli_usage_fail("tx provider update", "--offer: %s", err.detail);
    } else if (tx_provider_fields_get(a, update, pf, &err) < 0) {
        exit_code = cli_fail(what, &err);
    } else {
        /* Create and update carry the same fields (update also the offer). */
        Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
        Kumo__MsgUpdateProvider up = KUMO__MSG_UPDATE_PROVIDER__INIT;
        cp.host_uri = up.host_uri = (char *)(uintptr_t)pf->host_uri;
        cp.region = up.region = (char *)(uintptr_t)pf->region;
        cp.root_cert_pem = up.root_cert_pem = (char *)pf->cert.ptr;
        cp.n_attributes = up.n_attributes = pf->attr_count;
        cp.attributes = up.attributes = pf->attr_ptrs;
        if (update && pf->has_offer) {
            up.offer = &pf->offer.pb;
        }
        Kumo__Msg msg = update ? tx_msg(KUMO__MSG__SUM_UPDATE_PROVIDER, &up)
                               : tx_msg(KUMO__MSG__SUM_CREATE_PROVIDER, &cp);
        exit_code = tx_send1(a, msg, what);
    }
    json_decref(pf->current);
    kumo_buf_free(&pf->cert);
    free(pf);
    return exit_code;
}

static int tx_provider_create_run(cli_args_t *a)
{
    return tx_provider_run(a, false);
}

static int tx_provider_update_run(cli_args_t *a)
{
    return tx_provider_run(a, true);
}

static int tx_provider_delete_run(cli_args_t *a)
{
    Kumo__MsgDeleteProvider m = KUMO__MSG_DELETE_PROVIDER__INIT;
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_DELETE_PROVIDER, &m), "provider delete");
}

/* ---- deployment ---- */

typedef struct tx_groups {
    cli_group_t g[KUMO_GROUP_COUNT_MAX];
    cli_group_pb_t pb[KUMO_GROUP_COUNT_MAX];
    Kumo__GroupSpec *ptrs[KUMO_GROUP_COUNT_MAX];
    size_t count;
    uint8_t version[KUMO_VERSION_BYTES];
} tx_groups_t;

static int tx_groups_parse(const cli_args_t *a, tx_groups_t *gs, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(a->group_count <= KUMO_GROUP_COUNT_MAX, err, KUMO_EINVAL, "at most %u --group",
                KUMO_GROUP_COUNT_MAX);
    for (size_t i = 0; i < a->group_count; i++) {
        int rc = cli_group_parse(a->groups[i], &gs->g[i], err);
        if (rc < 0) {
            char detail[KUMO_ERR_DETAIL_BYTES];
            (void)snprintf(detail, sizeof(detail), "%s", err->detail);
            return kumo_err_set(err, rc, "--group #%zu: %s", i + 1, detail);
        }
        cli_group_to_pb(&gs->g[i], &gs->pb[i]);
        gs->ptrs[i] = &gs->pb[i].spec;
    }
    gs->count = a->group_count;
    return 0;
}

static int tx_version_get(const cli_args_t *a, tx_groups_t *gs, kumo_err_ctx_t *err)
{
    if (a->version_hex != NULL) {
        return cli_version_hex_parse(a->version_hex, gs->version, err);
    }
    KUMO_ENSURE(a->version_file != NULL, err, KUMO_EINVAL,
                "give --version-file MANIFEST (its Merkle root is the version) or --version HEX");
    /* Up to the largest manifest; the tx carries only the root. */
    kumo_buf_t buf;
    KUMO_GUARD(tx_file_read(a->version_file, KUMO_SDL_MANIFEST_BYTES_MAX, &buf, err));
    int rc = kumo_crypto_merkle_root(kumo_bytes_make(buf.ptr, buf.len - 1), gs->version);
    kumo_buf_free(&buf);
    return rc;
}

static int tx_chain_u64(
    const cli_args_t *a, const char *path, const char *key, uint64_t *out, kumo_err_ctx_t *err)
{
    json_t *j = NULL;
    KUMO_GUARD(cli_http_get(a, path, &j, err));
    *out = cli_json_u64(j, key);
    json_decref(j);
    return 0;
}

static int tx_deploy_create_prepare(cli_args_t *a, tx_groups_t *gs, kumo_err_ctx_t *err)
{
    KUMO_GUARD(tx_groups_parse(a, gs, err));
    KUMO_GUARD(tx_version_get(a, gs, err));
    if (!a->dseq_set) {
        KUMO_GUARD(tx_chain_u64(a, "/status", "height", &a->dseq, err));
        a->dseq = a->dseq == 0 ? 1 : a->dseq;
    }
    if (!a->deposit_set) {
        KUMO_GUARD(tx_chain_u64(a, "/params", "min_deposit", &a->deposit_ukumo, err));
    }
    return 0;
}

static int tx_deploy_create_run(cli_args_t *a)
{
    if (a->escrow_warn_set && a->escrow_warn_blocks > KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX) {
        return cli_usage_fail("tx deployment create", "--escrow-warn-blocks is at most %u",
                              KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    }
    if (a->group_count == 0) {
        return cli_usage_fail("tx deployment create", "at least one --group SPEC is required");
    }
    if (!cli_from_given(a)) {
        return cli_usage_fail("tx deployment create",
                              "--from KEY (or $" CLI_KEY_ENV ") is required");
    }
    tx_groups_t *gs = calloc(1, sizeof(*gs));
    if (gs == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    int exit_code;
    if (tx_deploy_create_prepare(a, gs, &err) < 0) {
        exit_code = err.code == KUMO_EINVAL
                        ? cli_usage_fail("tx deployment create", "%s", err.detail)
                        : cli_fail("deployment create", &err);
    } else {
        Kumo__MsgSubmitDeployment m = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
        m.dseq = a->dseq;
        m.n_groups = gs->count;
        m.groups = gs->ptrs;
        m.wait_blocks = a->wait_blocks_set ? a->wait_blocks : 5;
        m.version.data = gs->version;
        m.version.len = sizeof(gs->version);
        m.deposit = a->deposit_ukumo;
        m.escrow_warn_blocks = a->escrow_warn_blocks;
        if (a->output == CLI_OUTPUT_TEXT) {
            printf("deployment dseq %" PRIu64 ": %zu group(s), deposit %" PRIu64
                   " ukumo, matched after %" PRIu64 " blocks\n",
                   m.dseq, m.n_groups, m.deposit, m.wait_blocks);
        }
        exit_code = tx_send1(a, tx_msg(KUMO__MSG__SUM_SUBMIT_DEPLOYMENT, &m), "deployment create");
    }
    free(gs);
    return exit_code;
}

static int tx_dseq_arg(const char *cmd, const char *text, uint64_t *out)
{
    kumo_err_ctx_t err = {0};
    if (cli_u64_parse(text, "DSEQ", out, &err) < 0 || *out == 0) {
        return cli_usage_fail(cmd, "DSEQ must be a deployment sequence number, not '%s'", text);
    }
    return 0;
}

static int tx_deploy_update_run(cli_args_t *a)
{
    Kumo__MsgUpdateDeployment m = KUMO__MSG_UPDATE_DEPLOYMENT__INIT;
    int rc = tx_dseq_arg("tx deployment update", a->pos[0], &m.dseq);
    if (rc != 0) {
        return rc;
    }
    tx_groups_t *gs = calloc(1, sizeof(*gs));
    if (gs == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    if (tx_groups_parse(a, gs, &err) < 0 || tx_version_get(a, gs, &err) < 0) {
        rc = err.code == KUMO_EINVAL ? cli_usage_fail("tx deployment update", "%s", err.detail)
                                     : cli_fail("deployment update", &err);
    } else {
        m.version.data = gs->version;
        m.version.len = sizeof(gs->version);
        m.n_groups = gs->count;
        m.groups = gs->ptrs;
        rc = tx_send1(a, tx_msg(KUMO__MSG__SUM_UPDATE_DEPLOYMENT, &m), "deployment update");
    }
    free(gs);
    return rc;
}

static int tx_deploy_deposit_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    Kumo__MsgDepositDeployment m = KUMO__MSG_DEPOSIT_DEPLOYMENT__INIT;
    /* "owner/dseq", or a bare dseq of the signer's own deployment (under grant exec: the
     * granter's). */
    if (strchr(a->pos[0], '/') != NULL) {
        char id[KUMO_ID_TEXT_BYTES];
        if (cli_id_canonicalize(a, a->pos[0], id, sizeof(id), &err) < 0 ||
            kumo_codec_deployment_id_parse(id, owner, &m.dseq, &err) < 0) {
            return cli_usage_fail("tx deployment deposit", "%s", err.detail);
        }
    } else {
        int rc = tx_dseq_arg("tx deployment deposit", a->pos[0], &m.dseq);
        if (rc != 0) {
            return rc;
        }
        int rc2 = !cli_from_given(a)        ? KUMO_EINVAL
                  : tx_exec_granter != NULL ? cli_address_resolve(a, tx_exec_granter, owner, &err)
                                            : cli_from_address(a, a->from, owner, &err);
        if (rc2 < 0) {
            return !cli_from_given(a)
                       ? cli_usage_fail("tx deployment deposit", "--from is required")
                       : cli_fail("deployment deposit", &err);
        }
    }
    if (cli_amount_parse(a->pos[1], &m.amount, &err) < 0 ||
        (m.amount == 0 && !a->escrow_warn_set)) {
        return cli_usage_fail(
            "tx deployment deposit", "AMOUNT: %s",
            err.code != 0 ? err.detail : "must be more than 0 (or 0 with --escrow-warn-blocks)");
    }
    if (a->escrow_warn_set && a->escrow_warn_blocks > KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX) {
        return cli_usage_fail("tx deployment deposit", "--escrow-warn-blocks is at most %u",
                              KUMO_MARKET_ESCROW_WARN_BLOCKS_MAX);
    }
    m.set_escrow_warn = a->escrow_warn_set;
    m.escrow_warn_blocks = a->escrow_warn_blocks;
    m.owner.data = owner;
    m.owner.len = sizeof(owner);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT, &m), "deployment deposit");
}

static int tx_deploy_close_run(cli_args_t *a)
{
    Kumo__MsgCloseDeployment m = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    int rc = tx_dseq_arg("tx deployment close", a->pos[0], &m.dseq);
    if (rc != 0) {
        return rc;
    }
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_CLOSE_DEPLOYMENT, &m), "deployment close");
}

/* ---- fulfillment and lease ---- */

/* An order id, or a lease id whose order part is taken; the owner may be a key name.
 * owner_out backs id_out->owner. */
static int tx_order_arg(const cli_args_t *a,
                        const char *text,
                        uint8_t owner_out[KUMO_ADDRESS_BYTES],
                        Kumo__OrderId *id_out,
                        kumo_err_ctx_t *err)
{
    kumo__order_id__init(id_out);
    char id[KUMO_ID_TEXT_BYTES];
    if (cli_id_canonicalize(a, text, id, sizeof(id), err) == 0) {
        if (kumo_codec_order_id_parse(id, owner_out, id_out, err) == 0) {
            return 0;
        }
        uint8_t provider[KUMO_ADDRESS_BYTES];
        if (kumo_codec_lease_id_parse(id, owner_out, id_out, provider, NULL) == 0) {
            return 0;
        }
    }
    return kumo_err_set(err, KUMO_EINVAL,
                        "'%s' is not an order id (OWNER/DSEQ/GSEQ/OSEQ, OWNER an address or a "
                        "key); list them with kumo query orders",
                        text);
}

/* Finds the order id among GET /orders?owner=&dseq= pages; *out is a Kumo__Order. */
static int
tx_order_fetch(const cli_args_t *a, const Kumo__OrderId *id, Kumo__Order **out, kumo_err_ctx_t *err)
{
    char owner[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(id->owner.data, owner);
    char cursor[KUMO_KEY_BYTES_MAX * 2 + 1] = "";
    for (;;) {
        char path[512];
        char dseq[24];
        (void)snprintf(path, sizeof(path), "/orders");
        (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, id->dseq);
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "owner", owner, err));
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "dseq", dseq, err));
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "limit", "1000", err));
        KUMO_GUARD(kumo_client_path_param_add(path, sizeof(path), "page",
                                              cursor[0] != '\0' ? cursor : NULL, err));
        json_t *page = NULL;
        KUMO_GUARD(cli_http_get(a, path, &page, err));
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(page, "items"), i, item)
        {
            const json_t *oid = json_object_get(item, "id");
            if (cli_json_u64(oid, "gseq") == id->gseq && cli_json_u64(oid, "oseq") == id->oseq) {
                int rc = kumo_codec_json_to_message(&kumo__order__descriptor, item,
                                                    (ProtobufCMessage **)out, err);
                json_decref(page);
                return rc;
            }
        }
        const char *next = json_string_value(json_object_get(page, "next"));
        (void)snprintf(cursor, sizeof(cursor), "%s", next != NULL ? next : "");
        json_decref(page);
        KUMO_ENSURE(cursor[0] != '\0', err, KUMO_ENOTFOUND,
                    "no order %s/%" PRIu64 "/%" PRIu32 "/%" PRIu32 " on the node", owner, id->dseq,
                    id->gseq, id->oseq);
    }
}

/* Sets each resource's bid price from --price (one per resource group) or keeps the order's. */
static int tx_bid_prices_set(const cli_args_t *a, Kumo__Order *order, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(a->price_count == 0 || a->price_count == order->n_resources, err, KUMO_EINVAL,
                "the order has %zu resource group(s); give that many --price (or none to bid "
                "the order's price)",
                order->n_resources);
    for (size_t i = 0; i < a->price_count; i++) {
        uint64_t p = 0;
        KUMO_GUARD(cli_amount_parse(a->prices[i], &p, err));
        KUMO_ENSURE(p > 0, err, KUMO_EINVAL, "--price must be more than 0");
        order->resources[i]->price = p;
    }
    return 0;
}

static int tx_bid_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    Kumo__OrderId id;
    if (tx_order_arg(a, a->pos[0], owner, &id, &err) < 0) {
        return cli_usage_fail("tx fulfillment create", "%s", err.detail);
    }
    Kumo__Order *order = NULL;
    if (tx_order_fetch(a, &id, &order, &err) < 0) {
        return cli_fail("fetching the order", &err);
    }
    int rc;
    if (tx_bid_prices_set(a, order, &err) < 0) {
        rc = cli_usage_fail("tx fulfillment create", "%s", err.detail);
    } else {
        Kumo__MsgSubmitFulfillment m = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
        m.order = &id;
        m.n_resources = order->n_resources;
        m.resources = order->resources;
        rc = tx_send1(a, tx_msg(KUMO__MSG__SUM_SUBMIT_FULFILLMENT, &m), "fulfillment create");
    }
    kumo_codec_free(&order->base);
    return rc;
}

static int tx_bid_cancel_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    Kumo__OrderId id;
    if (tx_order_arg(a, a->pos[0], owner, &id, &err) < 0) {
        return cli_usage_fail("tx fulfillment cancel", "%s", err.detail);
    }
    Kumo__MsgCancelFulfillment m = KUMO__MSG_CANCEL_FULFILLMENT__INIT;
    m.order = &id;
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_CANCEL_FULFILLMENT, &m), "fulfillment cancel");
}

typedef struct tx_confirms {
    uint8_t owner[CLI_POSITIONAL_MAX][KUMO_ADDRESS_BYTES];
    Kumo__OrderId ids[CLI_POSITIONAL_MAX];
    Kumo__LeaseConfirmation confs[CLI_POSITIONAL_MAX];
    Kumo__LeaseConfirmation *ptrs[CLI_POSITIONAL_MAX];
} tx_confirms_t;

_Static_assert(CLI_POSITIONAL_MAX <= KUMO_CONFIRM_COUNT_MAX, "one msg confirms every argument");

static int tx_confirm_run(cli_args_t *a)
{
    tx_confirms_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc = 0;
    for (size_t i = 0; i < a->pos_count && rc == 0; i++) {
        kumo_err_ctx_t err = {0};
        if (tx_order_arg(a, a->pos[i], c->owner[i], &c->ids[i], &err) < 0) {
            rc = cli_usage_fail("tx lease confirm", "%s", err.detail);
        }
        kumo__lease_confirmation__init(&c->confs[i]);
        c->confs[i].order = &c->ids[i];
        c->confs[i].released = a->released;
        c->ptrs[i] = &c->confs[i];
    }
    if (rc == 0) {
        Kumo__MsgSubmitLeaseConfirmation m = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
        m.n_confirmations = a->pos_count;
        m.confirmations = c->ptrs;
        rc = tx_send1(a, tx_msg(KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION, &m),
                      a->released ? "lease confirm --released" : "lease confirm");
    }
    free(c);
    return rc;
}

static int tx_refuse_reason_parse(const char *text, Kumo__RefuseReason *out, kumo_err_ctx_t *err)
{
    static const struct {
        const char *name;
        Kumo__RefuseReason reason;
    } names[] = {
        {"image-missing", KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING},
        {"manifest-mismatch", KUMO__REFUSE_REASON__REFUSE_REASON_MANIFEST_MISMATCH},
        {"other", KUMO__REFUSE_REASON__REFUSE_REASON_OTHER},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].reason;
            return 0;
        }
    }
    return kumo_err_set(err, KUMO_EINVAL,
                        "--reason %s: want image-missing, manifest-mismatch or other", text);
}

/* The provider refuses its lease's manifest: no-fault end (docs/design.md, refusals). */
static int tx_refuse_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    Kumo__OrderId id;
    Kumo__RefuseReason reason = KUMO__REFUSE_REASON__REFUSE_REASON_OTHER;
    if (tx_order_arg(a, a->pos[0], owner, &id, &err) < 0 ||
        (a->reason != NULL && tx_refuse_reason_parse(a->reason, &reason, &err) < 0)) {
        return cli_usage_fail("tx lease refuse", "%s", err.detail);
    }
    const char *detail = a->detail != NULL ? a->detail : "";
    if (strlen(detail) > KUMO_REFUSE_DETAIL_BYTES_MAX) {
        return cli_usage_fail("tx lease refuse", "--detail is longer than %u bytes",
                              KUMO_REFUSE_DETAIL_BYTES_MAX);
    }
    Kumo__MsgRefuseLease m = KUMO__MSG_REFUSE_LEASE__INIT;
    m.order = &id;
    m.reason = reason;
    m.detail = (char *)(uintptr_t)detail;
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_REFUSE_LEASE, &m), "lease refuse");
}

/* The provider closes its running lease: paid up to now, its collateral to the tenant
 * (docs/design.md, a provider's close). */
static int tx_lease_close_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t owner[KUMO_ADDRESS_BYTES];
    Kumo__OrderId id;
    if (tx_order_arg(a, a->pos[0], owner, &id, &err) < 0) {
        return cli_usage_fail("tx lease close", "%s", err.detail);
    }
    const char *detail = a->detail != NULL ? a->detail : "";
    if (strlen(detail) > KUMO_CLOSE_DETAIL_BYTES_MAX) {
        return cli_usage_fail("tx lease close", "--detail is longer than %u bytes",
                              KUMO_CLOSE_DETAIL_BYTES_MAX);
    }
    Kumo__MsgCloseLease m = KUMO__MSG_CLOSE_LEASE__INIT;
    m.order = &id;
    m.detail = (char *)(uintptr_t)detail;
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_CLOSE_LEASE, &m), "lease close");
}

/* ---- staking ---- */

static int tx_ppm_parse(const char *text, const char *what, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v > KUMO_STAKING_PPM) {
        return cli_usage_fail("tx staking", "%s: parts per million, 0..%u", what, KUMO_STAKING_PPM);
    }
    *out = (uint64_t)v;
    return 0;
}

static int tx_stake_amount(const char *text, uint64_t *out)
{
    kumo_err_ctx_t err = {0};
    if (cli_amount_parse(text, out, &err) < 0 || *out == 0) {
        return cli_usage_fail("tx staking", "AMOUNT: %s",
                              err.code != 0 ? err.detail : "must be more than 0");
    }
    return 0;
}

static int tx_create_validator_run(cli_args_t *a)
{
    uint8_t key[KUMO_CRYPTO_PUBKEY_BYTES];
    size_t key_len = 0;
    kumo_err_ctx_t err = {0};
    if (kumo_codec_hex_decode(a->pos[0], key, sizeof(key), &key_len, &err) < 0 ||
        key_len != sizeof(key)) {
        return cli_usage_fail("tx staking create-validator",
                              "CONSENSUS_KEY: the node's validator pubkey, 64 hex digits");
    }
    Kumo__MsgCreateValidator m = KUMO__MSG_CREATE_VALIDATOR__INIT;
    m.consensus_pubkey.data = key;
    m.consensus_pubkey.len = sizeof(key);
    m.moniker = (char *)(uintptr_t)a->pos[2];
    m.commission_rate_ppm = 100000;
    m.commission_max_rate_ppm = 200000;
    m.commission_max_change_ppm = 10000;
    if (tx_stake_amount(a->pos[1], &m.self_stake) != 0 ||
        (a->pos_count > 3 && tx_ppm_parse(a->pos[3], "RATE", &m.commission_rate_ppm) != 0) ||
        (a->pos_count > 4 &&
         tx_ppm_parse(a->pos[4], "MAX_RATE", &m.commission_max_rate_ppm) != 0) ||
        (a->pos_count > 5 &&
         tx_ppm_parse(a->pos[5], "MAX_CHANGE", &m.commission_max_change_ppm) != 0)) {
        return CLI_EXIT_USAGE;
    }
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_CREATE_VALIDATOR, &m), "staking create-validator");
}

static int tx_edit_validator_run(cli_args_t *a)
{
    Kumo__MsgEditValidator m = KUMO__MSG_EDIT_VALIDATOR__INIT;
    if (strcmp(a->pos[0], "-") != 0) {
        m.set_commission = true;
        if (tx_ppm_parse(a->pos[0], "RATE", &m.commission_rate_ppm) != 0) {
            return CLI_EXIT_USAGE;
        }
    }
    m.moniker = a->pos_count > 1 ? (char *)(uintptr_t)a->pos[1] : (char *)(uintptr_t) "";
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_EDIT_VALIDATOR, &m), "staking edit-validator");
}

static int tx_validator_resolve(cli_args_t *a, const char *text, uint8_t out[KUMO_ADDRESS_BYTES])
{
    kumo_err_ctx_t err = {0};
    if (cli_address_resolve(a, text, out, &err) < 0) {
        return cli_fail("validator", &err);
    }
    return 0;
}

static int tx_delegate_run(cli_args_t *a)
{
    uint8_t val[KUMO_ADDRESS_BYTES];
    Kumo__MsgDelegate m = KUMO__MSG_DELEGATE__INIT;
    int rc = tx_validator_resolve(a, a->pos[0], val);
    if (rc != 0) {
        return rc;
    }
    if (tx_stake_amount(a->pos[1], &m.amount) != 0) {
        return CLI_EXIT_USAGE;
    }
    m.validator.data = val;
    m.validator.len = sizeof(val);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_DELEGATE, &m), "staking delegate");
}

static int tx_undelegate_run(cli_args_t *a)
{
    uint8_t val[KUMO_ADDRESS_BYTES];
    Kumo__MsgUndelegate m = KUMO__MSG_UNDELEGATE__INIT;
    int rc = tx_validator_resolve(a, a->pos[0], val);
    if (rc != 0) {
        return rc;
    }
    if (tx_stake_amount(a->pos[1], &m.amount) != 0) {
        return CLI_EXIT_USAGE;
    }
    m.validator.data = val;
    m.validator.len = sizeof(val);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_UNDELEGATE, &m), "staking undelegate");
}

static int tx_redelegate_run(cli_args_t *a)
{
    uint8_t src[KUMO_ADDRESS_BYTES];
    uint8_t dst[KUMO_ADDRESS_BYTES];
    Kumo__MsgRedelegate m = KUMO__MSG_REDELEGATE__INIT;
    int rc = tx_validator_resolve(a, a->pos[0], src);
    rc = rc == 0 ? tx_validator_resolve(a, a->pos[1], dst) : rc;
    if (rc != 0) {
        return rc;
    }
    if (tx_stake_amount(a->pos[2], &m.amount) != 0) {
        return CLI_EXIT_USAGE;
    }
    m.src_validator.data = src;
    m.src_validator.len = sizeof(src);
    m.dst_validator.data = dst;
    m.dst_validator.len = sizeof(dst);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_REDELEGATE, &m), "staking redelegate");
}

static int tx_unjail_run(cli_args_t *a)
{
    Kumo__MsgUnjail m = KUMO__MSG_UNJAIL__INIT;
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_UNJAIL, &m), "staking unjail");
}

static int tx_withdraw_run(cli_args_t *a)
{
    uint8_t val[KUMO_ADDRESS_BYTES];
    Kumo__MsgWithdrawRewards m = KUMO__MSG_WITHDRAW_REWARDS__INIT;
    int rc = tx_validator_resolve(a, a->pos[0], val);
    if (rc != 0) {
        return rc;
    }
    m.validator.data = val;
    m.validator.len = sizeof(val);
    return tx_send1(a, tx_msg(KUMO__MSG__SUM_WITHDRAW_REWARDS, &m), "staking withdraw-rewards");
}

/* Listed for help; kumo_cli_tx_main runs `grant exec` itself (its arguments are a command's). */
static int tx_grant_exec_usage(cli_args_t *a)
{
    (void)a;
    return cli_usage_fail("tx grant exec", "--granter ADDR|KEY comes first");
}

static const cli_sub_t tx_subs[] = {
    {"bank", "send", "--from KEY TO AMOUNT", "send ukumo (or kumo: 1.5kumo) to an address or key",
     "kumo tx bank send --from alice bob 250000 --wait", tx_plain_opts, 2, 2, tx_bank_send_run},
    {"provider", "create", "--from KEY --host-uri URI --region REGION --cert-file PEM",
     "register the signer as a provider",
     "kumo tx provider create --from dc1 --host-uri https://dc1.example:8443 --region us-east "
     "--cert-file ca.pem --attr tier=gold --wait",
     tx_provider_opts, 0, 0, tx_provider_create_run},
    {"provider", "update",
     "--from KEY [--host-uri URI --region R --cert-file PEM --attr K=V] [--offer SPEC]",
     "change a provider's fields (others are kept), or publish what it offers (--offer alone)",
     "kumo tx provider update --from dc1 --offer price_cpu=40,price_memory=10,price_storage=1,"
     "cpu=8,memory=16Gi,storage=200Gi,collateral=1000kumo,price_gpu=2000,gpu=2:nvidia:a100:80Gi",
     tx_provider_update_opts, 0, 0, tx_provider_update_run},
    {"provider", "delete", "--from KEY", "unregister (no open bids or live leases)",
     "kumo tx provider delete --from dc1 --wait", tx_plain_opts, 0, 0, tx_provider_delete_run},
    {"audit", "sign", "--from KEY PROVIDER K=V...",
     "vouch, as an auditor, for attributes of a provider (merged into what the signer signed)",
     "kumo tx audit sign --from auditor kumo1... region=us-east tier=gold --wait", tx_plain_opts, 2,
     1 + KUMO_ATTRIBUTE_COUNT_MAX, cli_tx_audit_sign_run},
    {"audit", "revoke", "--from KEY PROVIDER [KEY...]",
     "withdraw what the signer vouched for about a provider: the given keys, or everything",
     "kumo tx audit revoke --from auditor kumo1... tier --wait", tx_plain_opts, 1,
     1 + KUMO_ATTRIBUTE_COUNT_MAX, cli_tx_audit_revoke_run},
    {"grant", "create",
     "--from KEY GRANTEE all|DSEQ msgs=create,update,deposit,close expiry=HEIGHT "
     "[max_price=AMOUNT] [max_count=N] [regions=R1,R2] [spend_limit=AMOUNT]",
     "let GRANTEE run the listed deployment msgs on the signer's deployments (all, or one DSEQ) "
     "below HEIGHT within limits (0: none; spend_limit 0: no deposits); replaces its grant",
     "kumo tx grant create --from alice ops all msgs=deposit,update expiry=500000 max_price=400 "
     "max_count=4 regions=us-east spend_limit=5kumo --wait",
     tx_plain_opts, 3, 8, cli_tx_grant_create_run},
    {"grant", "revoke", "--from KEY GRANTEE all|DSEQ", "withdraw the grant GRANTEE has for a scope",
     "kumo tx grant revoke --from alice ops all --wait", tx_plain_opts, 2, 2,
     cli_tx_grant_revoke_run},
    {"grant", "exec", "--granter ADDR|KEY deployment create|update|deposit|close ...",
     "run a deployment command for the granter under its grant: the command's msg, as the plain "
     "command builds it, goes in a MsgExec signed by --from (the grantee, who pays the fee; "
     "the granter pays deposits)",
     "kumo tx grant exec --granter alice deployment deposit --from ops 42 100000 --wait",
     tx_plain_opts, 0, CLI_POSITIONAL_MAX, tx_grant_exec_usage},
    {"deployment", "create", "--from KEY --group SPEC... (--version-file F | --version HEX)",
     "submit a deployment: one order per group, escrow from --deposit",
     "kumo tx deployment create --from alice --group name=web,region=us-east,cpu=500m,"
     "memory=512Mi,storage=1Gi,count=2,price=40,collateral=5000,persist --version-file app.txt "
     "--wait",
     tx_deploy_create_opts, 0, 0, tx_deploy_create_run},
    {"deployment", "update", "--from KEY DSEQ (--version-file F | --version HEX) [--group SPEC...]",
     "new version; changed or added groups get new orders",
     "kumo tx deployment update --from alice 42 --version-file app-v2.txt", tx_deploy_update_opts,
     1, 1, tx_deploy_update_run},
    {"deployment", "deposit", "--from KEY DSEQ|OWNER/DSEQ AMOUNT [--escrow-warn-blocks N]",
     "top up a deployment's escrow (anyone); its owner may also set the escrow warning",
     "kumo tx deployment deposit --from alice 42 100000 --escrow-warn-blocks 600",
     tx_deploy_deposit_opts, 2, 2, tx_deploy_deposit_run},
    {"deployment", "close", "--from KEY DSEQ", "close a deployment (leases stop billing)",
     "kumo tx deployment close --from alice 42 --wait", tx_plain_opts, 1, 1, tx_deploy_close_run},
    {"fulfillment", "create", "--from KEY ORDER_ID [--price AMOUNT...]",
     "bid on an open order (resources copied from the order)",
     "kumo tx fulfillment create --from dc1 kumo1.../42/0/1 --price 35", tx_bid_opts, 1, 1,
     tx_bid_run},
    {"fulfillment", "cancel", "--from KEY ORDER_ID", "withdraw an unmatched bid",
     "kumo tx fulfillment cancel --from dc1 kumo1.../42/0/1", tx_plain_opts, 1, 1,
     tx_bid_cancel_run},
    {"lease", "confirm", "--from KEY ORDER_ID... [--released]",
     "confirm leases (pays the provider) or their release after close",
     "kumo tx lease confirm --from dc1 kumo1.../42/0/1 kumo1.../42/1/1 --wait", tx_confirm_opts, 1,
     CLI_POSITIONAL_MAX, tx_confirm_run},
    {"lease", "refuse", "--from KEY ORDER_ID [--reason R] [--detail TEXT]",
     "refuse a lease whose manifest cannot run (collateral back, no pay, group closed)",
     "kumo tx lease refuse --from dc1 kumo1.../42/0/1 --reason image-missing --detail \"no such "
     "image: app:1\" --wait",
     tx_refuse_opts, 1, 1, tx_refuse_run},
    {"lease", "close", "--from KEY ORDER_ID [--detail TEXT]",
     "close a running lease as its provider (paid up to now, collateral to the tenant, "
     "group re-ordered if it persists)",
     "kumo tx lease close --from dc1 kumo1.../42/0/1 --detail \"rack retired\" --wait",
     tx_lease_close_opts, 1, 1, tx_lease_close_run},
    {"staking", "create-validator",
     "--from KEY CONSENSUS_KEY SELF_STAKE MONIKER [RATE MAX_RATE MAX_CHANGE]",
     "make the signer a validator operator: CONSENSUS_KEY is the node's validator pubkey (hex), "
     "rates in ppm (default 100000 200000 10000)",
     "kumo tx staking create-validator --from op 3b6a...e1 5kumo my-node --wait", tx_plain_opts, 3,
     6, tx_create_validator_run},
    {"staking", "edit-validator", "--from KEY RATE|- [MONIKER]",
     "change the commission rate (ppm; - keeps it) and/or the moniker",
     "kumo tx staking edit-validator --from op 120000", tx_plain_opts, 1, 2, tx_edit_validator_run},
    {"staking", "delegate", "--from KEY VALIDATOR AMOUNT", "bond stake to a validator",
     "kumo tx staking delegate --from alice kumo1... 2kumo --wait", tx_plain_opts, 2, 2,
     tx_delegate_run},
    {"staking", "undelegate", "--from KEY VALIDATOR AMOUNT",
     "unbond stake: it returns after unbonding_blocks, slashable until then",
     "kumo tx staking undelegate --from alice kumo1... 1kumo", tx_plain_opts, 2, 2,
     tx_undelegate_run},
    {"staking", "redelegate", "--from KEY SRC_VALIDATOR DST_VALIDATOR AMOUNT",
     "move stake to another validator at once",
     "kumo tx staking redelegate --from alice "
     "kumo1src... kumo1dst... 1kumo",
     tx_plain_opts, 3, 3, tx_redelegate_run},
    {"staking", "unjail", "--from KEY", "bring the signer's jailed validator back (not tombstoned)",
     "kumo tx staking unjail --from op --wait", tx_plain_opts, 0, 0, tx_unjail_run},
    {"staking", "withdraw-rewards", "--from KEY VALIDATOR",
     "take the rewards of a delegation (and the commission, for the operator)",
     "kumo tx staking withdraw-rewards --from alice kumo1...", tx_plain_opts, 1, 1,
     tx_withdraw_run},
};

/* `kumo tx grant exec --granter G deployment SUB ARGS...`: SUB's own table entry runs, its
 * msg wrapped by tx_send1. Only the deployment commands: those are what a grant may allow. */
static int tx_grant_exec_main(int argc, char **argv)
{
    const char *help = "kumo tx grant exec --granter ADDR|KEY deployment "
                       "create|update|deposit|close [the command's options and arguments]";
    if (argc < 4 || strcmp(argv[3], "--help") == 0 || strcmp(argv[3], "-h") == 0) {
        printf("usage: %s\n(see kumo tx deployment --help)\n", help);
        return argc < 4 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    int skip = 5;
    if (strncmp(argv[3], "--granter=", 10) == 0) {
        tx_exec_granter = argv[3] + 10;
        skip = 4;
    } else if (strcmp(argv[3], "--granter") == 0 && argc > 4) {
        tx_exec_granter = argv[4];
    } else {
        return cli_usage_fail("tx grant exec", "--granter ADDR|KEY comes first: %s", help);
    }
    if (argc <= skip || strcmp(argv[skip], "deployment") != 0) {
        return cli_usage_fail("tx grant exec", "a grant covers deployment commands: %s", help);
    }
    size_t first = 0;
    while (first < KUMO_ARRAY_COUNT(tx_subs) && strcmp(tx_subs[first].group, "deployment") != 0) {
        first++;
    }
    size_t count = 0;
    while (first + count < KUMO_ARRAY_COUNT(tx_subs) &&
           strcmp(tx_subs[first + count].group, "deployment") == 0) {
        count++;
    }
    KUMO_ASSERT(count > 0);
    /* argv[skip - 1] stands in for the command name cli_dispatch skips. */
    return cli_dispatch("tx grant exec", "Run a deployment command under a grant.", &tx_subs[first],
                        count, argc - skip + 1, argv + skip - 1);
}

int kumo_cli_tx_main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "grant") == 0 && strcmp(argv[2], "exec") == 0) {
        return tx_grant_exec_main(argc, argv);
    }
    return cli_dispatch("tx", "Sign a tx with a key of the keyring and send it to the node.",
                        tx_subs, sizeof(tx_subs) / sizeof(tx_subs[0]), argc, argv);
}
