/*
 * test_testnet.c - four validators as real processes on loopback (`kumo testnet`), driven
 * through kill -9 and restarts: blocks are agreed by every node (same header at every
 * height: no fork), one validator down leaves the rest committing, two down halt the chain,
 * restarting them resumes it, a validator whose store was wiped block-syncs back, and
 * validators restarted never sign twice (no duplicate vote is seen), and a validator built to
 * equivocate (test hooks) is caught: its duplicate vote ends up as evidence in a block; a
 * block's JSON shows its proposer, last-commit signers and decoded evidence; a
 * non-validator peer sending a signed vote, garbage or a malformed proposal part on the
 * consensus channel is dropped. Proposals travel in 256-byte parts here (test hooks).
 *
 * The network and the outsider peer come from the harness in tests/helpers/net/testnet.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "consensus/consensus.h"
#include "core/core.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "p2p/p2p.h"

#define TN_NODES              4u
#define TN_BLOCK_MS           200u
#define KUMO_TEST_NET_WAIT_MS 60000u

typedef struct tn {
    kumo_test_net_t net;
    kumo_test_podman_t pm; /* the container runtime the provider checks before bidding */
} tn_t;

static tn_t g;

static const uint32_t tn_all = (1u << TN_NODES) - 1u;

/* True when the array of validators (objects with "pubkey") names pubkey. */
static bool tn_names(const json_t *validators, const char *pubkey)
{
    for (size_t i = 0; i < json_array_size(validators); i++) {
        const char *pk =
            json_string_value(json_object_get(json_array_get(validators, i), "pubkey"));
        if (pk != NULL && strcmp(pk, pubkey) == 0) {
            return true;
        }
    }
    return false;
}

/* The block API on a committed block: the proposer is one of the validators, every validator
 * of the previous height is listed with its power and whether it signed (+2/3 did), and
 * evidence is a list. Height 1 has no last commit: no signers. */
static void tn_block_consensus_fields_check(uint32_t node, uint64_t height)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, height);
    json_t *b = kumo_test_net_get(&g.net, node, path);
    assert_non_null(b);
    const json_t *signers = json_object_get(b, "last_commit_signers");
    assert_true(json_is_array(signers));
    assert_true(json_is_array(json_object_get(b, "evidence")));
    const char *proposer =
        json_string_value(json_object_get(json_object_get(b, "proposer"), "pubkey"));
    assert_non_null(proposer);
    assert_int_equal(strlen(proposer), 2u * KUMO_CRYPTO_PUBKEY_BYTES);
    if (height == 1) {
        assert_int_equal(json_array_size(signers), 0);
        json_decref(b);
        return;
    }
    assert_int_equal(json_array_size(signers), TN_NODES);
    assert_true(tn_names(signers, proposer));
    size_t signed_count = 0;
    for (size_t i = 0; i < json_array_size(signers); i++) {
        const json_t *si = json_array_get(signers, i);
        assert_true(json_integer_value(json_object_get(si, "power")) > 0);
        signed_count += json_is_true(json_object_get(si, "signed")) ? 1u : 0u;
    }
    assert_true(signed_count * 3u > TN_NODES * 2u);
    json_decref(b);
}

static void test_blocks_agree(void **state)
{
    (void)state;
    kumo_test_net_wait_height(&g.net, tn_all, 4);
    kumo_test_net_blocks_agree(&g.net, tn_all, 1, 4);
    for (uint64_t h = 1; h <= 4; h++) {
        tn_block_consensus_fields_check(0, h);
    }
}

static void test_one_down_continues(void **state)
{
    (void)state;
    kumo_test_net_kill9(&g.net, 3);
    int64_t h = kumo_test_net_height_max(&g.net, 0x7u);
    kumo_test_net_wait_height(&g.net, 0x7u, h + 3);
    kumo_test_net_blocks_agree(&g.net, 0x7u, 1, (uint64_t)h + 3u);
}

static void test_two_down_halt_then_resume(void **state)
{
    (void)state;
    kumo_test_net_kill9(&g.net, 2);
    /* Let a block already decided land, then no more can: 2 of 4 is not +2/3. */
    kumo_test_pause_ms(1000);
    int64_t h = kumo_test_net_height_max(&g.net, 0x3u);
    kumo_test_pause_ms(3000);
    assert_true(kumo_test_net_height_max(&g.net, 0x3u) <= h + 1);
    assert_int_equal(kumo_test_net_restart(&g.net), 0);
    int64_t now = kumo_test_net_height_max(&g.net, tn_all);
    kumo_test_net_wait_height(&g.net, tn_all, now + 3);
    kumo_test_net_blocks_agree(&g.net, tn_all, 1, (uint64_t)now + 3u);
}

static void test_wiped_node_block_syncs(void **state)
{
    (void)state;
    kumo_test_net_kill9(&g.net, 3);
    char cmd[1300];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s/node3/data", g.net.dir);
    assert_int_equal(system(cmd), 0);
    int64_t h = kumo_test_net_height_max(&g.net, 0x7u);
    kumo_test_net_wait_height(&g.net, 0x7u, h + 5); /* the others move on */
    assert_int_equal(kumo_test_net_restart(&g.net), 0);
    int64_t target = kumo_test_net_height_max(&g.net, 0x7u);
    kumo_test_net_wait_height(&g.net, tn_all, target + 1);
    kumo_test_net_blocks_agree(&g.net, tn_all, 1, (uint64_t)target + 1u);
    assert_true(kumo_test_net_log_count(&g.net, 3, "block_sync_done") >= 1u);
}

/* A child that keeps sending txs to node0 (the tenant pays itself) until killed. */
static pid_t tn_load_start(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;) {
            (void)kumo_test_net_kumo(
                &g.net,
                "tx bank send --from tenant --home %s/tenant --node http://127.0.0.1:%u "
                "tenant 1",
                g.net.dir, g.net.base_port);
        }
    }
    return pid;
}

static void test_restart_no_double_sign(void **state)
{
    (void)state;
    pid_t load = tn_load_start();
    for (uint32_t round = 0; round < 3; round++) {
        uint32_t victim = round % TN_NODES;
        kumo_test_net_kill9(&g.net, victim);
        assert_int_equal(kumo_test_net_restart(&g.net), 0);
        kumo_test_net_wait_height(&g.net, tn_all, kumo_test_net_height_max(&g.net, tn_all) + 2);
    }
    (void)kill(load, SIGKILL);
    (void)waitpid(load, NULL, 0);
    for (uint32_t i = 0; i < TN_NODES; i++) {
        assert_int_equal(kumo_test_net_log_count(&g.net, i, "event=duplicate_vote"), 0);
    }
}

/* True when the kumo binary was built with KUMO_TEST_HOOKS (debug and ASan presets). */
static bool tn_has_test_hooks(void)
{
    char cmd[PATH_MAX + 64];
    (void)snprintf(cmd, sizeof(cmd), "'%s' version | grep -q 'test hooks: on'", g.net.kumo);
    return system(cmd) == 0;
}

/* The first height in [from, to] whose block on node carries evidence, or 0. */
static uint64_t tn_evidence_height(uint32_t node, uint64_t from, uint64_t to)
{
    for (uint64_t h = from; h <= to; h++) {
        char path[64];
        (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, h);
        json_t *b = kumo_test_net_get(&g.net, node, path);
        size_t n = json_array_size(json_object_get(b, "evidence"));
        json_decref(b);
        if (n > 0) {
            return h;
        }
    }
    return 0;
}

/* The evidence of the block at height, decoded on every node: a validator of the set (the
 * signers list names it), of an earlier height, with the encoded item beside it. */
static void tn_evidence_decoded_check(uint64_t height)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/blocks/%" PRIu64, height);
    for (uint32_t n = 0; n < TN_NODES; n++) {
        json_t *b = kumo_test_net_get(&g.net, n, path);
        const json_t *ev = json_object_get(b, "evidence");
        assert_true(json_array_size(ev) > 0);
        for (size_t i = 0; i < json_array_size(ev); i++) {
            const json_t *e = json_array_get(ev, i);
            const char *pk = json_string_value(json_object_get(e, "pubkey"));
            assert_non_null(pk);
            assert_true(tn_names(json_object_get(b, "last_commit_signers"), pk));
            assert_true((uint64_t)json_integer_value(json_object_get(e, "height")) < height);
            assert_true(json_is_integer(json_object_get(e, "round")));
            assert_int_equal(strlen(json_string_value(json_object_get(e, "bytes"))),
                             2u * KUMO_CONSENSUS_EVIDENCE_BYTES);
        }
        json_decref(b);
    }
}

/* A validator that prevotes both a value and nil: the others see the duplicate vote, gossip
 * the evidence and a proposer puts it in a block; the chain goes on. */
static void test_equivocator_evidence_in_block(void **state)
{
    (void)state;
    if (!tn_has_test_hooks()) {
        fprintf(stderr, "skipped: this kumo build has no test hooks (release)\n");
        skip();
    }
    kumo_test_net_kill9(&g.net, 3);
    assert_int_equal(setenv("KUMO_TEST_EQUIVOCATE", "node3", 1), 0);
    int rc = kumo_test_net_restart(&g.net);
    assert_int_equal(unsetenv("KUMO_TEST_EQUIVOCATE"), 0);
    assert_int_equal(rc, 0);
    int64_t from = kumo_test_net_height_max(&g.net, tn_all);
    uint64_t found = 0;
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (found == 0 && kumo_test_now_ms() < deadline) {
        int64_t h = kumo_test_net_height(&g.net, 0);
        found = h > from ? tn_evidence_height(0, (uint64_t)from + 1u, (uint64_t)h) : 0;
        if (found == 0) {
            kumo_test_pause_ms(200);
        }
    }
    if (found == 0) {
        kumo_test_net_logs_print(&g.net);
        fail_msg("no block with evidence after height %" PRId64, from);
    }
    kumo_test_net_wait_height(&g.net, tn_all, (int64_t)found + 2);
    kumo_test_net_blocks_agree(&g.net, tn_all, (uint64_t)from, found + 2u);
    tn_evidence_decoded_check(found);
    /* Back to an honest node3 for whatever runs next. */
    kumo_test_net_kill9(&g.net, 3);
    assert_int_equal(kumo_test_net_restart(&g.net), 0);
}

/* ---- a peer that is not a validator ---- */

/* Dials node0 as a non-validator, sends it payload on the consensus channel and expects to
 * be disconnected for it. */
static void
tn_outsider_sends(uint8_t key_tag,
                  kumo_bytes_t (*make)(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp))
{
    kumo_test_peer_t peer = {0};
    kumo_test_peer_open(&peer, &g.net, 0, key_tag);
    kumo_test_peer_wait_up(&peer);
    uint8_t buf[512];
    kumo_bytes_t payload = make(buf, sizeof(buf), &peer.key);
    assert_int_equal(kumo_test_peer_send(&peer, KUMO_P2P_CH_CONSENSUS, payload), 0);
    assert_true(kumo_test_peer_run_until(&peer, &peer.downs, 1, 10000u));
    kumo_test_peer_close(&peer);
}

static kumo_bytes_t tn_outsider_vote(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    kumo_consensus_msg_t m = {.kind = KUMO_CONSENSUS_MSG_PREVOTE,
                              .height = (uint64_t)kumo_test_net_height(&g.net, 0) + 1u,
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE};
    assert_int_equal(kumo_consensus_msg_sign(&m, "kumo-testnet", kp), 0);
    size_t len = 0;
    assert_int_equal(kumo_consensus_msg_encode(&m, buf, cap, &len), 0);
    return kumo_bytes_make(buf, len);
}

static kumo_bytes_t tn_garbage(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    (void)kp;
    memset(buf, 0x7f, cap);
    return kumo_bytes_make(buf, 40);
}

/* A proposal part (tag 0xff) whose offset and length do not fit the part size. */
static kumo_bytes_t tn_bad_part(uint8_t *buf, size_t cap, const kumo_crypto_keypair_t *kp)
{
    (void)kp;
    memset(buf, 0x11, cap);
    buf[0] = 0xff;
    return kumo_bytes_make(buf, 100);
}

/* Bad peers: a vote signed by a non-validator, a garbage consensus frame and a malformed
 * proposal part each get the sender disconnected, and the chain goes on. */
static void test_bad_peers_dropped(void **state)
{
    (void)state;
    /* Each call waits until the node has dropped the sender. */
    tn_outsider_sends(0x61, tn_outsider_vote);
    tn_outsider_sends(0x62, tn_garbage);
    tn_outsider_sends(0x63, tn_bad_part);
    int64_t h = kumo_test_net_height_max(&g.net, tn_all);
    kumo_test_net_wait_height(&g.net, tn_all, h + 2);
    kumo_test_net_blocks_agree(&g.net, tn_all, (uint64_t)h, (uint64_t)h + 2u);
}

/* A datacenter's home and its registration through the testnet: config, key, root CA (key
 * 0600), MsgCreateProvider with the root certificate; a second init refuses. */
static void test_provider_init_register(void **state)
{
    (void)state;
    char home[1200];
    (void)snprintf(home, sizeof(home), "%s/provider0", g.net.dir);
    assert_true(kumo_test_podman_start(&g.pm));
    assert_int_equal(
        kumo_test_net_kumo(&g.net,
                           "provider init --home %s --region us-east --node "
                           "http://127.0.0.1:%u --runtime-socket %s --api-listen 127.0.0.1:0",
                           home, g.net.base_port, g.pm.socket),
        0);
    char path[1300];
    (void)snprintf(path, sizeof(path), "%s/ca.key", home);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kumo_test_net_kumo(&g.net, "provider init --home %s --region us-east", home),
                     1);
    assert_int_equal(kumo_test_net_kumo(&g.net, "provider register --home %s", home), 0);
    json_t *list = kumo_test_net_get(&g.net, 1, "/providers");
    const json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 1);
    const json_t *p = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(p, "region")), "us-east");
    assert_non_null(
        strstr(json_string_value(json_object_get(p, "root_cert_pem")), "BEGIN CERTIFICATE"));
    json_decref(list);
}

/* Lines of the file at path containing needle. */
static size_t tn_log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t n = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL ? 1u : 0u;
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    return n;
}

/* The provider daemon follows the event stream and bids on a tenant's order in its region;
 * the facilitator leases its bid; SIGTERM stops it cleanly. */
static void test_provider_bids_and_wins(void **state)
{
    (void)state;
    char home[1200];
    char log[1300];
    (void)snprintf(home, sizeof(home), "%s/provider0", g.net.dir);
    (void)snprintf(log, sizeof(log), "%s/provider.log", g.net.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execl(g.net.kumo, "kumo", "provider", "start", "--home", home, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(
        kumo_test_net_kumo(
            &g.net,
            "tx deployment create --home %s/tenant --from tenant --node http://127.0.0.1:%u "
            "--dseq 1 --wait-blocks 2 --deposit 200000 --version "
            "1111111111111111111111111111111111111111111111111111111111111111 --group "
            "name=web,region=us-east,cpu=500m,memory=512Mi,storage=1Gi,count=2,price=40,"
            "collateral=5000 --wait",
            g.net.dir, g.net.base_port + 10u),
        0);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    size_t leases = 0;
    while (leases == 0 && kumo_test_now_ms() < deadline) {
        json_t *l = kumo_test_net_get(&g.net, 2, "/leases?state=LEASE_ACTIVE");
        leases = json_array_size(json_object_get(l, "items"));
        json_decref(l);
        kumo_test_pause_ms(100);
    }
    /* The daemon learns of its lease from the event stream, maybe a little after the node. */
    while (leases > 0 && kumo_test_now_ms() < deadline && tn_log_has(log, "event=lease_won") == 0) {
        kumo_test_pause_ms(100);
    }
    (void)kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(log, "r");
    char line[1024];
    size_t bids = 0;
    size_t won = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        bids += strstr(line, "event=bid_sent") != NULL ? 1u : 0u;
        won += strstr(line, "event=lease_won") != NULL ? 1u : 0u;
        if (leases == 0) {
            fputs(line, stderr);
        }
    }
    if (f != NULL) {
        (void)fclose(f);
    }
    assert_int_equal(leases, 1);
    assert_int_equal(bids, 1);
    assert_int_equal(won, 1);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int tn_setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    /* Test builds send every proposal over 256 bytes in parts (production: 64 KiB). */
    assert_int_equal(setenv("KUMO_TEST_PART_BYTES", "256", 1), 0);
    return kumo_test_net_start(&g.net, TN_NODES, TN_BLOCK_MS, NULL);
}

static int tn_teardown(void **state)
{
    (void)state;
    kumo_test_podman_stop(&g.pm);
    kumo_test_net_stop(&g.net);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_agree),
        cmocka_unit_test(test_bad_peers_dropped),
        cmocka_unit_test(test_provider_init_register),
        cmocka_unit_test(test_provider_bids_and_wins),
        cmocka_unit_test(test_one_down_continues),
        cmocka_unit_test(test_two_down_halt_then_resume),
        cmocka_unit_test(test_wiped_node_block_syncs),
        cmocka_unit_test(test_restart_no_double_sign),
        cmocka_unit_test(test_equivocator_evidence_in_block),
    };
    return cmocka_run_group_tests(tests, tn_setup, tn_teardown);
}
