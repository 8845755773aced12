/*
 * test_valset.c - the validator set changes per height on a real 4-validator testnet
 * (`kumo testnet`, 300 ms blocks, equal powers of 10). Test builds record set updates from
 * $KUMO_TEST_VALSET as an end-block step would (src/node/block.c): block 3 removes node3 and
 * raises node0 to 25 (effective at height 5), block 8 brings node3 back with 10 (effective at
 * 10). node1 is killed before any change takes effect and restarted after all of them.
 *
 * Proves: the chain keeps committing across the changes with node1 down (each height's
 * quorum is of its own set: 35 of 45 at 5..9, 45 of 55 from 10); every block's
 * last_commit_signers lists exactly the set of the previous height (H + 2: unchanged at 3
 * and 4); node3, left out at 5..9, keeps deciding as an observer and signs again from 10;
 * node1 block-syncs across every change (each commit checked against the set of its own
 * height) and all four nodes end with the same blocks.
 */
#include "helpers/net/testnet.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "helpers/testutil.h"

#define VS_NODES    4u
#define VS_BLOCK_MS 300u
#define VS_TARGET   14

static kumo_test_net_t g_net;
static bool g_hooks;
static char g_pubkey_hex[VS_NODES][2u * KUMO_CRYPTO_PUBKEY_BYTES + 1u];

/* The set of height h as the test's updates make it: power of node i (0: not a member). */
static uint64_t vs_power(uint64_t h, uint32_t i)
{
    if (h >= 5 && h < 10 && i == 3) {
        return 0;
    }
    return h >= 5 && i == 0 ? 25u : 10u;
}

/* Block h's last_commit_signers must be the set of h - 1, with its powers. */
static void vs_signers_check(uint32_t node, uint64_t h, bool *node3_signed)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
    json_t *b = kumo_test_net_get(&g_net, node, path);
    assert_non_null(b);
    const json_t *signers = json_object_get(b, "last_commit_signers");
    assert_true(json_is_array(signers));
    uint32_t want = 0;
    for (uint32_t i = 0; i < VS_NODES; i++) {
        want += vs_power(h - 1u, i) > 0 ? 1u : 0u;
    }
    if (json_array_size(signers) != want) {
        fail_msg("block %" PRIu64 ": %zu signers listed, the set of %" PRIu64 " has %u", h,
                 json_array_size(signers), h - 1u, want);
    }
    for (size_t k = 0; k < json_array_size(signers); k++) {
        const json_t *s = json_array_get(signers, k);
        const char *pk = json_string_value(json_object_get(s, "pubkey"));
        assert_non_null(pk);
        uint32_t i = 0;
        while (i < VS_NODES && strcmp(pk, g_pubkey_hex[i]) != 0) {
            i++;
        }
        assert_true(i < VS_NODES);
        assert_int_equal(kumo_test_json_u64(s, "power"), vs_power(h - 1u, i));
        if (i == 3 && json_is_true(json_object_get(s, "signed"))) {
            *node3_signed = true;
        }
    }
    json_decref(b);
}

static void test_sets_change_and_a_node_syncs_across(void **state)
{
    (void)state;
    if (!g_hooks) {
        fprintf(stderr, "skipped: this kumo build has no test hooks (release)\n");
        skip();
    }
    const uint32_t up = 0x1u | 0x4u | 0x8u; /* nodes 0, 2, 3 */
    kumo_test_net_wait_height(&g_net, up, VS_TARGET);
    assert_true(kumo_test_net_log_count(&g_net, 0, "validator_set_changed") >= 2u);
    bool node3_signed_late = false;
    for (uint64_t h = 2; h <= VS_TARGET; h++) {
        bool node3_signed = false;
        vs_signers_check(0, h, &node3_signed);
        if (h - 1u >= 5 && h - 1u < 10) {
            assert_false(node3_signed); /* not a member: it never signs */
        }
        node3_signed_late = node3_signed_late || (h - 1u >= 10 && node3_signed);
    }
    assert_true(node3_signed_late);
    /* node3 decided the heights it was left out of, as an observer. */
    kumo_test_net_blocks_agree(&g_net, up, 1, VS_TARGET);
    /* node1 comes back and syncs across every change. */
    assert_int_equal(kumo_test_net_restart(&g_net), 0);
    int64_t top = kumo_test_net_height_max(&g_net, up);
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), top + 2);
    kumo_test_net_blocks_agree(&g_net, kumo_test_net_all(&g_net), 1, (uint64_t)top + 2u);
}

static int vs_setup(void **state)
{
    (void)state;
    assert_int_equal(kumo_crypto_init(), 0);
    assert_int_equal(setenv("KUMO_TEST_VALSET", "3:node3:0,3:node0:25,8:node3:10", 1), 0);
    if (kumo_test_net_start(&g_net, VS_NODES, VS_BLOCK_MS, NULL) != 0) {
        return -1;
    }
    char cmd[sizeof(g_net.kumo) + 64];
    (void)snprintf(cmd, sizeof(cmd), "'%s' version | grep -q 'test hooks: on'", g_net.kumo);
    g_hooks = system(cmd) == 0;
    for (uint32_t i = 0; i < VS_NODES; i++) {
        kumo_crypto_keypair_t kp;
        assert_int_equal(kumo_test_net_node_key(&g_net, i, &kp), 0);
        assert_int_equal(kumo_codec_hex_encode(kumo_bytes_make(kp.pubkey, KUMO_CRYPTO_PUBKEY_BYTES),
                                               g_pubkey_hex[i], sizeof(g_pubkey_hex[i])),
                         0);
    }
    /* node1 goes down before any change takes effect (height 5). */
    kumo_test_net_wait_height(&g_net, kumo_test_net_all(&g_net), 1);
    if (kumo_test_net_height_max(&g_net, kumo_test_net_all(&g_net)) >= 4) {
        fprintf(stderr, "test_valset: the chain was at height 4 before node1 went down\n");
    }
    kumo_test_net_kill9(&g_net, 1);
    return 0;
}

static int vs_teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g_net);
    (void)unsetenv("KUMO_TEST_VALSET");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_change_and_a_node_syncs_across),
    };
    return cmocka_run_group_tests(tests, vs_setup, vs_teardown);
}
