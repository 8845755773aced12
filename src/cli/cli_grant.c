/*
 * cli_grant.c - the terms of `kumo tx grant create` (msgs=, expiry=, max_price=, max_count=,
 * regions=, spend_limit=) into a MsgGrant, with the lists in the chain's canonical order (msg
 * types by number, regions sorted). Every rejection names the term. No I/O, so
 * fuzz/fuzz_cli_grant.c drives it directly.
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

/* msgs=create,update,deposit,close in any order; sent by number. */
static int grant_msgs_parse(const char *list, cli_grant_terms_t *t, kumo_err_ctx_t *err)
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
    size_t n = 0;
    for (size_t i = 0; i < GRANT_MSG_NAME_COUNT; i++) {
        if (want[i]) {
            t->types[n++] = grant_msg_names[i].msg_type;
        }
    }
    KUMO_ENSURE(n > 0, err, KUMO_EINVAL, "msgs: name at least one");
    t->pb.msg_types = t->types;
    t->pb.n_msg_types = n;
    return 0;
}

static int region_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* regions=us-east,us-west: sorted, each once. */
static int grant_regions_parse(const char *list, cli_grant_terms_t *t, kumo_err_ctx_t *err)
{
    const char *p = list;
    size_t n = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        KUMO_ENSURE(n < KUMO_GRANT_REGION_COUNT_MAX, err, KUMO_EINVAL, "regions: at most %u",
                    KUMO_GRANT_REGION_COUNT_MAX);
        KUMO_ENSURE(len > 0 && len <= KUMO_REGION_BYTES_MAX, err, KUMO_EINVAL,
                    "regions: each 1..%u bytes", KUMO_REGION_BYTES_MAX);
        memcpy(t->region_buf[n], p, len);
        t->region_buf[n][len] = '\0';
        t->regions[n] = t->region_buf[n];
        n++;
        p += len + (p[len] == ',' ? 1u : 0u);
    }
    qsort(t->regions, n, sizeof(t->regions[0]), region_compare);
    for (size_t i = 1; i < n; i++) {
        KUMO_ENSURE(strcmp(t->regions[i - 1], t->regions[i]) != 0, err, KUMO_EINVAL,
                    "regions: '%s' twice", t->regions[i]);
    }
    t->pb.regions = n > 0 ? t->regions : NULL;
    t->pb.n_regions = n;
    return 0;
}

/* One KEY=VALUE term. */
static int
grant_term_apply(const char *key, const char *value, cli_grant_terms_t *t, kumo_err_ctx_t *err)
{
    Kumo__MsgGrant *m = &t->pb;
    if (strcmp(key, "msgs") == 0) {
        return grant_msgs_parse(value, t, err);
    }
    if (strcmp(key, "regions") == 0) {
        return grant_regions_parse(value, t, err);
    }
    if (strcmp(key, "expiry") == 0) {
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

int cli_grant_terms_parse(char *const *terms,
                          size_t count,
                          cli_grant_terms_t *out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(count == 0 || terms != NULL);
    memset(out, 0, sizeof(*out));
    Kumo__MsgGrant init = KUMO__MSG_GRANT__INIT;
    out->pb = init;
    KUMO_ENSURE(count <= CLI_GRANT_TERM_COUNT_MAX, err, KUMO_EINVAL, "at most %u terms",
                CLI_GRANT_TERM_COUNT_MAX);
    bool seen[CLI_GRANT_TERM_COUNT_MAX] = {false};
    static const char *const keys[CLI_GRANT_TERM_COUNT_MAX] = {
        "msgs", "expiry", "max_price", "max_count", "regions", "spend_limit"};
    for (size_t i = 0; i < count; i++) {
        const char *eq = strchr(terms[i], '=');
        KUMO_ENSURE(eq != NULL && eq != terms[i], err, KUMO_EINVAL, "'%s': want KEY=VALUE",
                    terms[i]);
        char key[16];
        size_t key_len = (size_t)(eq - terms[i]);
        KUMO_ENSURE(key_len < sizeof(key), err, KUMO_EINVAL, "'%s': unknown key", terms[i]);
        memcpy(key, terms[i], key_len);
        key[key_len] = '\0';
        for (size_t k = 0; k < CLI_GRANT_TERM_COUNT_MAX; k++) {
            KUMO_ENSURE(strcmp(key, keys[k]) != 0 || !seen[k], err, KUMO_EINVAL, "%s given twice",
                        key);
            seen[k] = seen[k] || strcmp(key, keys[k]) == 0;
        }
        KUMO_GUARD(grant_term_apply(key, eq + 1, out, err));
    }
    KUMO_ENSURE(out->pb.n_msg_types > 0, err, KUMO_EINVAL, "msgs=LIST is required");
    KUMO_ENSURE(out->pb.expiry_height > 0, err, KUMO_EINVAL,
                "expiry=HEIGHT (the first height the grant no longer works) is required");
    return 0;
}
