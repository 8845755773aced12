/*
 * cmd_tx_grant.c - `kumo tx grant create|revoke`: a tenant (the granter) lets another key (the
 * grantee) run some deployment msgs on its deployments within limits, or withdraws that
 * (docs/design.md 3.4, constrained delegation). `kumo tx grant exec` lives in cmd_tx.c, since
 * it wraps what the `kumo tx deployment ...` commands build. Lists are sent in the chain's
 * canonical order (msg types by number, regions sorted).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

/* The CLI names of the grantable msgs: the `kumo tx deployment` subcommand that sends each. */
static const struct {
    const char *name;
    uint32_t msg_type;
} grant_msg_names[] = {
    {"create", KUMO__MSG__SUM_SUBMIT_DEPLOYMENT},
    {"update", KUMO__MSG__SUM_UPDATE_DEPLOYMENT},
    {"deposit", KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT},
    {"close", KUMO__MSG__SUM_CLOSE_DEPLOYMENT},
};

#define GRANT_MSG_NAME_COUNT (sizeof(grant_msg_names) / sizeof(grant_msg_names[0]))
_Static_assert(GRANT_MSG_NAME_COUNT == KUMO_GRANT_MSG_TYPE_COUNT_MAX, "every grantable msg named");

typedef struct grant_args {
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    uint64_t dseq;
    uint32_t types[KUMO_GRANT_MSG_TYPE_COUNT_MAX];
    size_t type_count;
    char region_buf[KUMO_GRANT_REGION_COUNT_MAX][KUMO_REGION_BYTES_MAX + 1];
    char *regions[KUMO_GRANT_REGION_COUNT_MAX];
    size_t region_count;
    bool expiry_set;
    Kumo__MsgGrant m;
} grant_args_t;

static Kumo__Msg grant_msg(Kumo__Msg__SumCase c, void *m)
{
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = c;
    msg.send = m; /* every member of the oneof shares this storage */
    return msg;
}

static int grant_send(cli_args_t *a, Kumo__Msg msg, const char *what)
{
    Kumo__Msg *msgs[1] = {&msg};
    return cli_tx_send(a, msgs, 1, what);
}

/* GRANTEE and SCOPE (all, or a dseq): the two first positional arguments. */
static int grant_target_parse(const cli_args_t *a,
                              uint8_t grantee[KUMO_ADDRESS_BYTES],
                              uint64_t *dseq,
                              kumo_err_ctx_t *err)
{
    KUMO_GUARD(cli_address_resolve(a, a->pos[0], grantee, err));
    if (strcmp(a->pos[1], "all") == 0) {
        *dseq = 0;
        return 0;
    }
    KUMO_ENSURE(cli_u64_parse(a->pos[1], "SCOPE", dseq, err) == 0 && *dseq != 0, err, KUMO_EINVAL,
                "SCOPE: all, or the dseq of one deployment");
    return 0;
}

/* msgs=create,update,deposit,close in any order; sent by number. */
static int grant_msgs_parse(const char *list, grant_args_t *g, kumo_err_ctx_t *err)
{
    bool want[GRANT_MSG_NAME_COUNT] = {false};
    const char *p = list;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < GRANT_MSG_NAME_COUNT; i++) {
            if (strlen(grant_msg_names[i].name) == len &&
                strncmp(p, grant_msg_names[i].name, len) == 0) {
                want[i] = true;
                known = true;
            }
        }
        KUMO_ENSURE(known, err, KUMO_EINVAL, "msgs: '%.*s' is not create, update, deposit or close",
                    (int)len, p);
        p += len + (p[len] == ',' ? 1u : 0u);
    }
    g->type_count = 0;
    for (size_t i = 0; i < GRANT_MSG_NAME_COUNT; i++) {
        if (want[i]) {
            g->types[g->type_count++] = grant_msg_names[i].msg_type;
        }
    }
    KUMO_ENSURE(g->type_count > 0, err, KUMO_EINVAL, "msgs: name at least one");
    return 0;
}

static int region_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* regions=us-east,us-west: sorted, each once. */
static int grant_regions_parse(const char *list, grant_args_t *g, kumo_err_ctx_t *err)
{
    const char *p = list;
    g->region_count = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        KUMO_ENSURE(g->region_count < KUMO_GRANT_REGION_COUNT_MAX, err, KUMO_EINVAL,
                    "regions: at most %u", KUMO_GRANT_REGION_COUNT_MAX);
        KUMO_ENSURE(len > 0 && len <= KUMO_REGION_BYTES_MAX, err, KUMO_EINVAL,
                    "regions: each 1..%u bytes", KUMO_REGION_BYTES_MAX);
        char *r = g->region_buf[g->region_count];
        memcpy(r, p, len);
        r[len] = '\0';
        g->regions[g->region_count++] = r;
        p += len + (p[len] == ',' ? 1u : 0u);
    }
    qsort(g->regions, g->region_count, sizeof(g->regions[0]), region_compare);
    for (size_t i = 1; i < g->region_count; i++) {
        KUMO_ENSURE(strcmp(g->regions[i - 1], g->regions[i]) != 0, err, KUMO_EINVAL,
                    "regions: '%s' twice", g->regions[i]);
    }
    return 0;
}

/* One KEY=VALUE limit of `grant create`. */
static int grant_kv_apply(const char *key, const char *value, grant_args_t *g, kumo_err_ctx_t *err)
{
    Kumo__MsgGrant *m = &g->m;
    if (strcmp(key, "msgs") == 0) {
        return grant_msgs_parse(value, g, err);
    }
    if (strcmp(key, "regions") == 0) {
        return grant_regions_parse(value, g, err);
    }
    if (strcmp(key, "expiry") == 0) {
        g->expiry_set = true;
        return cli_u64_parse(value, "expiry", &m->expiry_height, err);
    }
    if (strcmp(key, "max_price") == 0) {
        return cli_amount_parse(value, &m->max_price_per_block, err);
    }
    if (strcmp(key, "spend_limit") == 0) {
        return cli_amount_parse(value, &m->spend_limit, err);
    }
    if (strcmp(key, "max_count") == 0) {
        uint64_t v = 0;
        KUMO_GUARD(cli_u64_parse(value, "max_count", &v, err));
        KUMO_ENSURE(v <= UINT32_MAX, err, KUMO_EINVAL, "max_count: at most %" PRIu32, UINT32_MAX);
        m->max_count_per_group = (uint32_t)v;
        return 0;
    }
    return kumo_err_set(err, KUMO_EINVAL,
                        "unknown '%s': want msgs, expiry, max_price, max_count, regions or "
                        "spend_limit",
                        key);
}

static int grant_create_parse(const cli_args_t *a, grant_args_t *g, kumo_err_ctx_t *err)
{
    Kumo__MsgGrant init = KUMO__MSG_GRANT__INIT;
    g->m = init;
    KUMO_GUARD(grant_target_parse(a, g->grantee, &g->dseq, err));
    for (size_t i = 2; i < a->pos_count; i++) {
        const char *eq = strchr(a->pos[i], '=');
        KUMO_ENSURE(eq != NULL && eq != a->pos[i], err, KUMO_EINVAL, "'%s': want KEY=VALUE",
                    a->pos[i]);
        char key[16];
        size_t key_len = (size_t)(eq - a->pos[i]);
        KUMO_ENSURE(key_len < sizeof(key), err, KUMO_EINVAL, "'%s': unknown key", a->pos[i]);
        memcpy(key, a->pos[i], key_len);
        key[key_len] = '\0';
        KUMO_GUARD(grant_kv_apply(key, eq + 1, g, err));
    }
    KUMO_ENSURE(g->type_count > 0, err, KUMO_EINVAL, "msgs=LIST is required");
    KUMO_ENSURE(g->expiry_set && g->m.expiry_height > 0, err, KUMO_EINVAL,
                "expiry=HEIGHT (the first height the grant no longer works) is required");
    return 0;
}

int cli_tx_grant_create_run(cli_args_t *a)
{
    grant_args_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    kumo_err_ctx_t err = {0};
    int rc;
    if (grant_create_parse(a, g, &err) < 0) {
        rc = cli_usage_fail("tx grant create", "%s", err.detail);
    } else {
        Kumo__MsgGrant *m = &g->m;
        m->grantee.data = g->grantee;
        m->grantee.len = KUMO_ADDRESS_BYTES;
        m->dseq = g->dseq;
        m->n_msg_types = g->type_count;
        m->msg_types = g->types;
        m->n_regions = g->region_count;
        m->regions = g->region_count > 0 ? g->regions : NULL;
        rc = grant_send(a, grant_msg(KUMO__MSG__SUM_GRANT, m), "grant create");
    }
    free(g);
    return rc;
}

int cli_tx_grant_revoke_run(cli_args_t *a)
{
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    Kumo__MsgRevoke m = KUMO__MSG_REVOKE__INIT;
    kumo_err_ctx_t err = {0};
    if (grant_target_parse(a, grantee, &m.dseq, &err) < 0) {
        return cli_usage_fail("tx grant revoke", "%s", err.detail);
    }
    m.grantee.data = grantee;
    m.grantee.len = sizeof(grantee);
    return grant_send(a, grant_msg(KUMO__MSG__SUM_REVOKE, &m), "grant revoke");
}
