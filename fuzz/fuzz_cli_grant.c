/*
 * fuzz_cli_grant.c - the terms parser of `kumo tx grant create` (cli_grant_terms_parse) on
 * arbitrary text, one term per line: it must accept or refuse without crashing, and accepted
 * terms must give the same grant twice, with the chain's canonical lists (1..4 grantable msg
 * types in increasing order, regions of 1..64 bytes strictly sorted), a nonzero expiry, and a
 * MsgGrant that the chain's stateless checks accept (or refuse only for text that is not
 * UTF-8). Deterministic, no state between inputs.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_grant.c"
#include "cli/cli_parse.c"
#include "market/market.h"

#define FUZZ_TEXT_BYTES_MAX 2048u

static void fuzz_terms_check(const cli_grant_terms_t *a, const cli_grant_terms_t *b)
{
    const Kumo__MsgGrant *m = &a->pb;
    if (m->n_msg_types == 0 || m->n_msg_types > KUMO_GRANT_MSG_TYPE_COUNT_MAX ||
        m->n_msg_types != b->pb.n_msg_types || m->expiry_height == 0 ||
        m->expiry_height != b->pb.expiry_height || m->spend_limit != b->pb.spend_limit ||
        m->max_price_per_block != b->pb.max_price_per_block ||
        m->max_count_per_group != b->pb.max_count_per_group || m->n_regions != b->pb.n_regions ||
        m->n_regions > KUMO_GRANT_REGION_COUNT_MAX) {
        abort();
    }
    for (size_t i = 0; i < m->n_msg_types; i++) {
        if (m->msg_types[i] < KUMO__MSG__SUM_SUBMIT_DEPLOYMENT ||
            m->msg_types[i] > KUMO__MSG__SUM_CLOSE_DEPLOYMENT ||
            (i > 0 && m->msg_types[i] <= m->msg_types[i - 1])) {
            abort();
        }
    }
    for (size_t i = 0; i < m->n_regions; i++) {
        size_t len = strlen(m->regions[i]);
        if (len == 0 || len > KUMO_REGION_BYTES_MAX ||
            strcmp(m->regions[i], b->pb.regions[i]) != 0 ||
            (i > 0 && strcmp(m->regions[i - 1], m->regions[i]) >= 0)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_TEXT_BYTES_MAX) {
        return 0;
    }
    char text[FUZZ_TEXT_BYTES_MAX + 1];
    memcpy(text, data, size);
    text[size] = '\0';
    char *terms[CLI_GRANT_TERM_COUNT_MAX + 2];
    size_t count = 0;
    for (char *p = text; count < KUMO_ARRAY_COUNT(terms);) {
        terms[count++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    static cli_grant_terms_t ta;
    static cli_grant_terms_t tb;
    if (cli_grant_terms_parse(terms, count, &ta, NULL) != 0) {
        return 0;
    }
    if (cli_grant_terms_parse(terms, count, &tb, NULL) != 0) {
        abort();
    }
    fuzz_terms_check(&ta, &tb);
    uint8_t grantee[KUMO_ADDRESS_BYTES] = {1};
    ta.pb.grantee.data = grantee;
    ta.pb.grantee.len = sizeof(grantee);
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_GRANT;
    msg.grant = &ta.pb;
    int rc = kumo_market_msg_validate_basic(&msg, NULL);
    if (rc != 0 && rc != KUMO_EINVAL) {
        abort();
    }
    return 0;
}
