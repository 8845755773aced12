/*
 * cmd_tx_audit.c - `kumo tx audit sign|revoke`: an auditor (any key) vouches for a provider's
 * attributes, or withdraws what it vouched for (docs/design.md 3.4, provider audits). The
 * attributes and keys are sent sorted, the chain's canonical order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

typedef struct audit_attrs {
    char buf[KUMO_ATTRIBUTE_COUNT_MAX]
            [KUMO_ATTRIBUTE_KEY_BYTES_MAX + KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 2];
    Kumo__Attribute attrs[KUMO_ATTRIBUTE_COUNT_MAX];
    Kumo__Attribute *ptrs[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t count;
} audit_attrs_t;

static int attr_ptr_compare(const void *a, const void *b)
{
    const Kumo__Attribute *x = *(Kumo__Attribute *const *)a;
    const Kumo__Attribute *y = *(Kumo__Attribute *const *)b;
    return strcmp(x->key, y->key);
}

void cli_attrs_sort(Kumo__Attribute **attrs, size_t count)
{
    if (count > 1) {
        qsort(attrs, count, sizeof(attrs[0]), attr_ptr_compare);
    }
}

static int str_ptr_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static Kumo__Msg audit_msg(Kumo__Msg__SumCase c, void *m)
{
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = c;
    msg.send = m; /* every member of the oneof shares this storage */
    return msg;
}

static int audit_send(cli_args_t *a, Kumo__Msg msg, const char *what)
{
    Kumo__Msg *msgs[1] = {&msg};
    return cli_tx_send(a, msgs, 1, what);
}

static int audit_attrs_parse(const cli_args_t *a, audit_attrs_t *at, kumo_err_ctx_t *err)
{
    size_t n = a->pos_count - 1;
    KUMO_ENSURE(n <= KUMO_ATTRIBUTE_COUNT_MAX, err, KUMO_EINVAL, "at most %u attributes",
                KUMO_ATTRIBUTE_COUNT_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *k = NULL;
        const char *v = NULL;
        KUMO_GUARD(cli_attr_parse(a->pos[i + 1], at->buf[i], sizeof(at->buf[i]), &k, &v, err));
        kumo__attribute__init(&at->attrs[i]);
        at->attrs[i].key = (char *)(uintptr_t)k;
        at->attrs[i].value = (char *)(uintptr_t)v;
        at->ptrs[i] = &at->attrs[i];
    }
    at->count = n;
    cli_attrs_sort(at->ptrs, n);
    return 0;
}

int cli_tx_audit_sign_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t provider[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], provider, &err) < 0) {
        return cli_fail("provider", &err);
    }
    audit_attrs_t *at = calloc(1, sizeof(*at));
    if (at == NULL) {
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int rc;
    if (audit_attrs_parse(a, at, &err) < 0) {
        rc = cli_usage_fail("tx audit sign", "%s", err.detail);
    } else {
        Kumo__MsgSignProviderAttributes m = KUMO__MSG_SIGN_PROVIDER_ATTRIBUTES__INIT;
        m.provider.data = provider;
        m.provider.len = sizeof(provider);
        m.attributes = at->ptrs;
        m.n_attributes = at->count;
        rc = audit_send(a, audit_msg(KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES, &m), "audit sign");
    }
    free(at);
    return rc;
}

int cli_tx_audit_revoke_run(cli_args_t *a)
{
    kumo_err_ctx_t err = {0};
    uint8_t provider[KUMO_ADDRESS_BYTES];
    if (cli_address_resolve(a, a->pos[0], provider, &err) < 0) {
        return cli_fail("provider", &err);
    }
    size_t n = a->pos_count - 1;
    if (n > KUMO_ATTRIBUTE_COUNT_MAX) {
        return cli_usage_fail("tx audit revoke", "at most %u keys", KUMO_ATTRIBUTE_COUNT_MAX);
    }
    char *keys[KUMO_ATTRIBUTE_COUNT_MAX];
    for (size_t i = 0; i < n; i++) {
        keys[i] = (char *)(uintptr_t)a->pos[i + 1];
    }
    if (n > 1) {
        qsort(keys, n, sizeof(keys[0]), str_ptr_compare);
    }
    Kumo__MsgDeleteProviderAttributes m = KUMO__MSG_DELETE_PROVIDER_ATTRIBUTES__INIT;
    m.provider.data = provider;
    m.provider.len = sizeof(provider);
    m.keys = keys;
    m.n_keys = n;
    return audit_send(a, audit_msg(KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES, &m), "audit revoke");
}
