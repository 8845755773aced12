/*
 * test_dpos.c - delegated proof of stake on a real testnet: 4 genesis validators (power 10
 * each, bonded by genesis) and node4, a full node with its own key and funds, 300 ms blocks,
 * short staking windows in the genesis (downtime judged over 20 blocks, jail 10 blocks,
 * unbonding 15 blocks). The cases run in order on the one testnet:
 *
 * 1. Genesis validators are bonded (tokens = power x power_reduction, none jailed).
 * 2. node4 joins: CreateValidator (20 kumo) from its own key and a tenant delegation (5 kumo);
 *    it opens its engine once the set names it, and its key is among a block's last-commit
 *    signers that signed, with power 25.
 * 3. node3 equivocates (test builds: $KUMO_TEST_EQUIVOCATE) until it is slashed (5 % once)
 *    and tombstoned; every evidence item is in exactly one block and one names node3.
 * 4. node1 is killed: after the downtime window it is jailed (and left out of the set) while
 *    the tenant undelegates from node4 (a power change); node1 restarts, block-syncs across
 *    the set changes, unjails after downtime_jail_blocks and signs again.
 * 5. The undelegated 5 kumo are back in the tenant's account after unbonding_blocks, and all
 *    live nodes hold the same blocks.
 */
#include "helpers/net/testnet.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "helpers/testutil.h"

#define DP_VALIDATORS  4u
#define DP_NODES       5u
#define DP_JOINER      4u
#define DP_EQUIVOCATOR 3u
#define DP_DOWN        1u
#define DP_BLOCK_MS    300u
#define DP_UNIT        1000000ull /* power_reduction: ukumo per unit of power */
#define DP_GENESIS                                                                       \
    "{\"staking_params\": {\"signed_blocks_window\": \"20\", \"downtime_jail_blocks\": " \
    "\"10\", \"unbonding_blocks\": \"15\", \"slash_fraction_downtime_ppm\": \"10000\"}}"

static kumo_test_net_t g;
static bool g_hooks;
static char g_node[64];
static char g_pubkey[DP_NODES][2u * KUMO_CRYPTO_PUBKEY_BYTES + 1u];
static char g_addr[DP_NODES][KUMO_ADDRESS_TEXT_BYTES];
static char g_tenant[KUMO_ADDRESS_TEXT_BYTES];
static uint64_t g_tenant_after_undelegate; /* balance once the undelegation is in */
static uint64_t g_unbond_height;           /* its completion height */

static void tx_ok(const char *home, const char *key, const char *fmt, ...) KUMO_PRINTF(3, 4);
static void tx_ok(const char *home, const char *key, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    if (kumo_test_net_kumo(&g, "tx %s --home %s/%s --node %s --from %s --wait", args, g.dir, home,
                           g_node, key) != 0) {
        kumo_test_net_logs_print(&g);
        fail_msg("kumo tx %s (as %s) failed", args, key);
    }
}

/* GET path (printf format) from node 0; NULL unless 200. */
static json_t *get(const char *fmt, ...) KUMO_PRINTF(1, 2);
static json_t *get(const char *fmt, ...)
{
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    return kumo_test_net_get(&g, 0, path);
}

static uint64_t balance(const char *addr)
{
    json_t *a = get("/accounts/%s", addr);
    assert_non_null(a);
    uint64_t b = kumo_test_json_u64(a, "balance");
    json_decref(a);
    return b;
}

/* Node i's staking validator (NULL if it operates none). */
static json_t *validator(uint32_t i)
{
    return get("/staking/validators/%s", g_addr[i]);
}

static bool validator_flag(uint32_t i, const char *flag)
{
    json_t *v = validator(i);
    bool set = v != NULL && json_is_true(json_object_get(v, flag));
    json_decref(v);
    return set;
}

/* Waits until node i's validator has flag set (jailed, tombstoned). */
static void wait_flag(uint32_t i, const char *flag)
{
    uint64_t deadline = kumo_test_now_ms() + 2u * KUMO_TEST_NET_WAIT_MS;
    while (!validator_flag(i, flag) && kumo_test_now_ms() < deadline) {
        kumo_test_pause_ms(200);
    }
    if (!validator_flag(i, flag)) {
        kumo_test_net_logs_print(&g);
        fail_msg("node%u's validator is not %s", i, flag);
    }
}

/* Whether block h (on node 0) lists node i among its last commit's signers that signed;
 * *power_out gets its listed power. */
static bool block_signed_by(uint64_t h, uint32_t i, uint64_t *power_out)
{
    json_t *b = get("/blocks/%" PRIu64, h);
    if (b == NULL) {
        return false;
    }
    const json_t *signers = json_object_get(b, "last_commit_signers");
    bool found = false;
    for (size_t k = 0; json_is_array(signers) && k < json_array_size(signers) && !found; k++) {
        const json_t *s = json_array_get(signers, k);
        const char *pk = json_string_value(json_object_get(s, "pubkey"));
        if (pk != NULL && strcmp(pk, g_pubkey[i]) == 0 &&
            json_is_true(json_object_get(s, "signed"))) {
            found = true;
            *power_out = kumo_test_json_u64(s, "power");
        }
    }
    json_decref(b);
    return found;
}

/* Waits for a block above from that node i signed; returns its listed power. */
static uint64_t wait_signed_by(uint32_t i, uint64_t from)
{
    uint64_t deadline = kumo_test_now_ms() + 2u * KUMO_TEST_NET_WAIT_MS;
    uint64_t h = from + 1u;
    while (kumo_test_now_ms() < deadline) {
        int64_t top = kumo_test_net_height(&g, 0);
        for (; top > 0 && h <= (uint64_t)top; h++) {
            uint64_t power = 0;
            if (block_signed_by(h, i, &power)) {
                return power;
            }
        }
        kumo_test_pause_ms(200);
    }
    kumo_test_net_logs_print(&g);
    fail_msg("no block after %" PRIu64 " signed by node%u", from, i);
    return 0;
}

static uint64_t height0(void)
{
    int64_t h = kumo_test_net_height(&g, 0);
    assert_true(h > 0);
    return (uint64_t)h;
}

static void test_genesis_validators_bonded(void **state)
{
    (void)state;
    json_t *list = get("/staking/validators");
    assert_non_null(list);
    const json_t *items = json_object_get(list, "items");
    assert_true(json_is_array(items));
    assert_int_equal(json_array_size(items), DP_VALIDATORS);
    for (uint32_t i = 0; i < DP_VALIDATORS; i++) {
        json_t *v = validator(i);
        assert_non_null(v);
        assert_int_equal(kumo_test_json_u64(v, "tokens"), 10u * DP_UNIT);
        assert_false(json_is_true(json_object_get(v, "jailed")));
        json_decref(v);
    }
    json_decref(list);
    assert_null(validator(DP_JOINER));
}

static void test_joiner_becomes_a_validator_and_signs(void **state)
{
    (void)state;
    uint64_t from = height0();
    char home[32];
    (void)snprintf(home, sizeof(home), "node%u", DP_JOINER);
    tx_ok(home, "validator", "staking create-validator %s 20kumo joiner", g_pubkey[DP_JOINER]);
    tx_ok("tenant", "tenant", "staking delegate %s 5kumo", g_addr[DP_JOINER]);
    json_t *v = validator(DP_JOINER);
    assert_non_null(v);
    assert_int_equal(kumo_test_json_u64(v, "tokens"), 25u * DP_UNIT);
    json_decref(v);
    /* Its power is in the set two heights after the delegation; it signs from then on. */
    uint64_t power = 0;
    do {
        power = wait_signed_by(DP_JOINER, from);
        from = height0() - 1u;
    } while (power != 25u);
    assert_true(kumo_test_net_log_count(&g, DP_JOINER, "validator_set_changed") >= 1u);
}

/* Every evidence item of blocks 1..top on node 0 in exactly one block; how many name node i. */
static uint32_t evidence_count(uint64_t top, uint32_t i)
{
    enum {
        EV_MAX = 64
    };
    char *seen[EV_MAX];
    uint32_t seen_count = 0;
    uint32_t naming = 0;
    for (uint64_t h = 1; h <= top; h++) {
        json_t *b = get("/blocks/%" PRIu64, h);
        assert_non_null(b);
        const json_t *ev = json_object_get(b, "evidence");
        for (size_t k = 0; json_is_array(ev) && k < json_array_size(ev); k++) {
            const json_t *e = json_array_get(ev, k);
            const char *bytes = json_string_value(json_object_get(e, "bytes"));
            assert_non_null(bytes);
            for (uint32_t s = 0; s < seen_count; s++) {
                if (strcmp(seen[s], bytes) == 0) {
                    fail_msg("evidence included twice (again at %" PRIu64 ")", h);
                }
            }
            assert_true(seen_count < EV_MAX);
            seen[seen_count++] = strdup(bytes);
            const char *pk = json_string_value(json_object_get(e, "pubkey"));
            naming += pk != NULL && strcmp(pk, g_pubkey[i]) == 0 ? 1u : 0u;
        }
        json_decref(b);
    }
    for (uint32_t s = 0; s < seen_count; s++) {
        free(seen[s]);
    }
    return naming;
}

static void test_equivocator_slashed_and_tombstoned_once(void **state)
{
    (void)state;
    if (!g_hooks) {
        fprintf(stderr, "skipped: this kumo build has no test hooks (release)\n");
        skip();
    }
    kumo_test_net_kill9(&g, DP_EQUIVOCATOR);
    assert_int_equal(setenv("KUMO_TEST_EQUIVOCATE", "node3", 1), 0);
    int rc = kumo_test_net_restart(&g);
    assert_int_equal(unsetenv("KUMO_TEST_EQUIVOCATE"), 0);
    assert_int_equal(rc, 0);
    wait_flag(DP_EQUIVOCATOR, "tombstoned");
    /* It keeps double-signing until it leaves the set (two heights later): then it stops. */
    kumo_test_net_kill9(&g, DP_EQUIVOCATOR);
    uint64_t top = height0() + 3u;
    kumo_test_net_wait_height(&g, 1u, (int64_t)top);
    assert_true(evidence_count(top, DP_EQUIVOCATOR) >= 1u);
    json_t *v = validator(DP_EQUIVOCATOR);
    assert_non_null(v);
    assert_true(json_is_true(json_object_get(v, "jailed")));
    assert_int_equal(kumo_test_json_u64(v, "tokens"), 10u * DP_UNIT - DP_UNIT / 2u); /* 5 % */
    json_decref(v);
}

static void test_down_validator_jailed_unjails_and_signs(void **state)
{
    (void)state;
    kumo_test_net_kill9(&g, DP_DOWN);
    /* While node1 is away: the tenant takes 5 kumo back from node4 (its power drops). */
    tx_ok("tenant", "tenant", "staking undelegate %s 5kumo", g_addr[DP_JOINER]);
    g_tenant_after_undelegate = balance(g_tenant);
    json_t *u = get("/staking/unbondings/%s", g_tenant);
    assert_non_null(u);
    const json_t *items = json_object_get(u, "items");
    assert_int_equal(json_array_size(items), 1u);
    g_unbond_height = kumo_test_json_u64(json_array_get(items, 0), "completion_height");
    assert_int_equal(kumo_test_json_u64(json_array_get(items, 0), "balance"), 5u * DP_UNIT);
    json_decref(u);
    wait_flag(DP_DOWN, "jailed");
    json_t *v = validator(DP_DOWN);
    assert_non_null(v);
    uint64_t until = kumo_test_json_u64(v, "jailed_until");
    assert_true(kumo_test_json_u64(v, "tokens") < 10u * DP_UNIT); /* slashed for downtime */
    json_decref(v);
    /* node1 comes back: it block-syncs across the set changes it missed. */
    assert_int_equal(kumo_test_net_restart(&g), 0);
    kumo_test_net_wait_height(&g, 1u << DP_DOWN, (int64_t)until + 1);
    tx_ok("node1", "validator", "staking unjail");
    assert_false(validator_flag(DP_DOWN, "jailed"));
    (void)wait_signed_by(DP_DOWN, height0());
}

static void test_unbonded_stake_returns(void **state)
{
    (void)state;
    kumo_test_net_wait_height(&g, 1u, (int64_t)g_unbond_height + 1);
    assert_int_equal(balance(g_tenant), g_tenant_after_undelegate + 5u * DP_UNIT);
    uint32_t live = kumo_test_net_all(&g) & ~(1u << DP_EQUIVOCATOR);
    int64_t top = kumo_test_net_height_max(&g, live);
    kumo_test_net_wait_height(&g, live, top);
    kumo_test_net_blocks_agree(&g, live, 1, (uint64_t)top);
}

static int dp_setup(void **state)
{
    (void)state;
    assert_int_equal(kumo_crypto_init(), 0);
    const kumo_test_net_opts_t o = {.validators = DP_VALIDATORS,
                                    .full_nodes = DP_NODES - DP_VALIDATORS,
                                    .block_ms = DP_BLOCK_MS,
                                    .genesis = DP_GENESIS};
    if (kumo_test_net_start_opts(&g, &o) != 0) {
        return -1;
    }
    char cmd[sizeof(g.kumo) + 64];
    (void)snprintf(cmd, sizeof(cmd), "'%s' version | grep -q 'test hooks: on'", g.kumo);
    g_hooks = system(cmd) == 0;
    (void)snprintf(g_node, sizeof(g_node), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g, 0));
    for (uint32_t i = 0; i < DP_NODES; i++) {
        kumo_crypto_keypair_t kp;
        assert_int_equal(kumo_test_net_node_key(&g, i, &kp), 0);
        assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES),
                                               g_pubkey[i], sizeof(g_pubkey[i])),
                         0);
        uint8_t addr[KUMO_ADDRESS_BYTES];
        kumo_crypto_address_from_pubkey(kp.pubkey, addr);
        kumo_codec_address_encode(addr, g_addr[i]);
        kumo_crypto_key_wipe(&kp);
    }
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/testnet.json", g.dir);
    json_t *desc = json_load_file(path, 0, NULL);
    assert_non_null(desc);
    const char *tenant =
        json_string_value(json_object_get(json_object_get(desc, "tenant"), "address"));
    assert_non_null(tenant);
    (void)snprintf(g_tenant, sizeof(g_tenant), "%s", tenant);
    json_decref(desc);
    return 0;
}

static int dp_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis_validators_bonded),
        cmocka_unit_test(test_joiner_becomes_a_validator_and_signs),
        cmocka_unit_test(test_equivocator_slashed_and_tombstoned_once),
        cmocka_unit_test(test_down_validator_jailed_unjails_and_signs),
        cmocka_unit_test(test_unbonded_stake_returns),
    };
    return cmocka_run_group_tests(tests, dp_setup, dp_teardown);
}
