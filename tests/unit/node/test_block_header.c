/*
 * test_block_header.c - the header rules of a received block (kumo_node_block_header_check):
 * chain id, height, time not before the parent's and, for a consensus proposal, not more than
 * KUMO_NODE_BLOCK_TIME_DRIFT_MS after the local clock, and the proposer is the round's. Block
 * sync gives neither a proposer nor a clock: an old block whose time is long past (or whose
 * proposer was another round's) still passes there, its commit vouches for it. Table-driven:
 * a valid header (asserted to pass), one field broken per row, one code expected.
 */
#include "helpers/testutil.h"

#include <string.h>

#include "node/node_int.h"

#define HC_CHAIN  "kumo-header"
#define HC_NOW_MS 1700000000000ull

static uint8_t g_proposer[KUMO_ADDRESS_BYTES];
static uint8_t g_other[KUMO_ADDRESS_BYTES];

typedef struct hc_case {
    Kumo__BlockHeader h;
    kumo_node_header_want_t want;
} hc_case_t;

/* A header for height 8 by g_proposer at the local clock, and what a proposal must be. */
static hc_case_t hc_valid(void)
{
    memset(g_proposer, 0xa1, sizeof(g_proposer));
    memset(g_other, 0xb2, sizeof(g_other));
    hc_case_t c;
    Kumo__BlockHeader init = KUMO__BLOCK_HEADER__INIT;
    c.h = init;
    c.h.chain_id = (char *)HC_CHAIN;
    c.h.height = 8;
    c.h.time_ms = HC_NOW_MS;
    c.h.proposer = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, g_proposer};
    c.want = (kumo_node_header_want_t){
        .chain_id = HC_CHAIN,
        .height = 8,
        .parent_time_ms = HC_NOW_MS - 1000u,
        .proposer = g_proposer,
        .now_ms = HC_NOW_MS,
    };
    return c;
}

static void hc_chain(hc_case_t *c)
{
    c->h.chain_id = (char *)"kumo-other";
}

static void hc_height(hc_case_t *c)
{
    c->h.height = 9;
}

static void hc_before_parent(hc_case_t *c)
{
    c->h.time_ms = c->want.parent_time_ms - 1u;
}

static void hc_at_parent(hc_case_t *c)
{
    c->h.time_ms = c->want.parent_time_ms;
}

static void hc_drift_max(hc_case_t *c)
{
    c->h.time_ms = HC_NOW_MS + KUMO_NODE_BLOCK_TIME_DRIFT_MS;
}

static void hc_drift_max_plus_one(hc_case_t *c)
{
    c->h.time_ms = HC_NOW_MS + KUMO_NODE_BLOCK_TIME_DRIFT_MS + 1u;
}

static void hc_far_future(hc_case_t *c)
{
    c->h.time_ms = HC_NOW_MS + 3600u * 1000u;
}

static void hc_proposer_other(hc_case_t *c)
{
    c->h.proposer.data = g_other;
}

static void hc_proposer_short(hc_case_t *c)
{
    c->h.proposer.len = KUMO_ADDRESS_BYTES - 1u;
}

static void hc_no_proposer_rule(hc_case_t *c)
{
    c->h.proposer.data = g_other;
    c->want.proposer = NULL; /* a re-proposed value: the caller checks it is a validator */
}

/* Block sync: an old block, minutes behind the clock and a day "ahead" of nothing. */
static void hc_sync_old_block(hc_case_t *c)
{
    c->h.time_ms = HC_NOW_MS + 24u * 3600u * 1000u;
    c->h.proposer.data = g_other;
    c->want.proposer = NULL;
    c->want.now_ms = 0;
}

static void hc_sync_before_parent(hc_case_t *c)
{
    hc_sync_old_block(c);
    c->h.time_ms = c->want.parent_time_ms - 1u;
}

static void test_block_header_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(hc_case_t *c);
        int want;
    } cases[] = {
        {"another chain", hc_chain, KUMO_ECHAINID},
        {"another height", hc_height, KUMO_EINVAL},
        {"time before the parent's", hc_before_parent, KUMO_EINVAL},
        {"time equal to the parent's", hc_at_parent, 0},
        {"time at the drift bound", hc_drift_max, 0},
        {"time one ms past the drift bound", hc_drift_max_plus_one, KUMO_EINVAL},
        {"time an hour ahead", hc_far_future, KUMO_EINVAL},
        {"proposer of another round", hc_proposer_other, KUMO_EUNAUTH},
        {"proposer address too short", hc_proposer_short, KUMO_EDECODE},
        {"re-proposed value: any proposer here", hc_no_proposer_rule, 0},
        {"block sync: time and proposer not checked", hc_sync_old_block, 0},
        {"block sync: time before the parent's", hc_sync_before_parent, KUMO_EINVAL},
    };
    hc_case_t ok = hc_valid();
    assert_int_equal(kumo_node_block_header_check(&ok.h, &ok.want, NULL), 0);
    assert_int_equal(kumo_node_block_header_check(NULL, &ok.want, NULL), KUMO_EDECODE);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        hc_case_t c = hc_valid();
        cases[i].mutate(&c);
        kumo_err_ctx_t err = {0};
        int rc = kumo_node_block_header_check(&c.h, &c.want, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_header_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
