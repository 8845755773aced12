/*
 * cmd_tx_grant.c - `kumo tx grant create|revoke`: a tenant (the granter) lets another key (the
 * grantee) run some deployment msgs on its deployments within limits, or withdraws that
 * (docs/design.md 3.4, constrained delegation). The terms are parsed by cli_grant.c; `kumo tx
 * grant exec` lives in cmd_tx.c, since it wraps what the `kumo tx deployment ...` commands build.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

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

int cli_tx_grant_create_run(cli_args_t *a)
{
    cli_grant_terms_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    uint8_t grantee[KUMO_ADDRESS_BYTES];
    uint64_t dseq = 0;
    kumo_err_ctx_t err = {0};
    int rc;
    if (grant_target_parse(a, grantee, &dseq, &err) < 0 ||
        cli_grant_terms_parse(a->pos + 2, a->pos_count - 2, t, &err) < 0) {
        rc = cli_usage_fail("tx grant create", "%s", err.detail);
    } else {
        t->pb.grantee.data = grantee;
        t->pb.grantee.len = sizeof(grantee);
        t->pb.dseq = dseq;
        rc = grant_send(a, grant_msg(KUMO__MSG__SUM_GRANT, &t->pb), "grant create");
    }
    free(t);
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
