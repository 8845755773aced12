/*
 * test_grantee_api.c - who may act at the provider API for a deployment's owner, with real
 * processes and no containers: one validator (`kumo testnet`), a provider daemon whose runtime
 * socket leads nowhere (it bids on nothing; the provider's key bids by the CLI, and a long
 * reconfirmation period keeps the lease active unconfirmed), the owner alice and three other
 * accounts calling the daemon's API over TLS with certificates made from their own keys:
 *   - eve, a stranger, and bob, who holds an update grant for another of alice's deployments,
 *     get the same 403 as always for status, events, manifest uploads (whole and chunked);
 *   - ops, with a grant to deposit on the deployment, reads its status and events but cannot
 *     upload: nothing is stored;
 *   - ops, with a grant to update it, uploads the manifest: the daemon stores exactly it; a
 *     shell stays the owner's alone;
 *   - a grant that expires: refused from the expiry height on; a revoked grant: refused as
 *     soon as the revoke committed;
 *   - the node gone: ops (and eve) get 503, never an answer served without the chain's word.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec.h"
#include "file/file.h"
#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"
#include "sdl/sdl.h"

#define BLOCK_MS 300u
#define DSEQ     1u
#define GROUP_ARG \
    "name=a,region=us-east,cpu=100m,memory=64Mi,storage=64Mi,count=1,price=100,collateral=1000"

static struct {
    kumo_test_net_t net;
    kumo_test_dc_t dc;
    bool up;
    kumo_crypto_keypair_t alice, ops, bob, eve;
    char alice_addr[KUMO_ADDRESS_TEXT_BYTES];
    char ops_addr[KUMO_ADDRESS_TEXT_BYTES];
    char bob_addr[KUMO_ADDRESS_TEXT_BYTES];
    char eve_addr[KUMO_ADDRESS_TEXT_BYTES];
    kumo_buf_t manifest;
} g;

static void manifest_make(kumo_buf_t *out)
{
    Kumo__ComputeUnit cu = KUMO__COMPUTE_UNIT__INIT;
    cu.cpu_milli = 100;
    cu.memory_bytes = 64u << 20;
    cu.storage_bytes = 64u << 20;
    Kumo__ManifestWorkload w = KUMO__MANIFEST_WORKLOAD__INIT;
    w.name = "a";
    w.group = "a";
    w.image = "localhost/kumo-test-busybox:1";
    w.compute = &cu;
    w.count = 1;
    Kumo__ManifestWorkload *wp[1] = {&w};
    Kumo__Manifest m = KUMO__MANIFEST__INIT;
    m.n_workloads = 1;
    m.workloads = wp;
    kumo_buf_init(out, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m.base, out, NULL), 0);
}

static const char *node_url(void)
{
    static char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u", kumo_test_net_rpc_port(&g.net, 0));
    return url;
}

/* `kumo tx ARGS --wait` signed by account name (its home is dir/name). */
static void tx_ok(const char *name, const char *args)
{
    assert_int_equal(kumo_test_net_kumo(&g.net, "tx %s --home %s/%s --from %s --node %s --wait",
                                        args, g.net.dir, name, name, node_url()),
                     0);
}

static bool lease_is_active(void)
{
    char path[512];
    (void)snprintf(path, sizeof(path),
                   "/leases?owner=%s&dseq=%u&provider=%s&state=LEASE_ACTIVE&limit=1", g.alice_addr,
                   DSEQ, g.dc.addr);
    json_t *l = kumo_test_net_get(&g.net, 0, path);
    bool active = json_array_size(json_object_get(l, "items")) > 0;
    json_decref(l);
    return active;
}

/* Alice's deployment with the manifest's version, bid on by the provider's key, leased. */
static void deployment_leased(void)
{
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/m.manifest", g.net.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(g.manifest.ptr, 1, g.manifest.len, f), g.manifest.len);
    assert_int_equal(fclose(f), 0);
    char args[PATH_MAX + 512];
    (void)snprintf(args, sizeof(args),
                   "deployment create --dseq %u --wait-blocks 1 --deposit 200000 --version-file "
                   "%s --group " GROUP_ARG,
                   DSEQ, path);
    tx_ok("alice", args);
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "tx fulfillment create --home %s --from provider --node "
                                        "%s %s/%u/0/1 --wait",
                                        g.dc.home, node_url(), g.alice_addr, DSEQ),
                     0);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (!lease_is_active()) {
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.dc);
            fail_msg("no lease of deployment %u", DSEQ);
        }
        kumo_test_pause_ms(200);
    }
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    manifest_make(&g.manifest);
    /* Nothing confirms the lease (no runtime): it must outlive the test unconfirmed. */
    const kumo_test_net_opts_t o = {.validators = 1,
                                    .block_ms = BLOCK_MS,
                                    .init_extra = "--providers 1",
                                    .genesis =
                                        "{\"params\": {\"reconfirmation_period\": \"100000\"}}"};
    char socket[PATH_MAX];
    if (kumo_test_net_start_opts(&g.net, &o) != 0) {
        return -1;
    }
    (void)snprintf(socket, sizeof(socket), "%s/no-runtime.sock", g.net.dir);
    if (kumo_test_dc_add(&g.net, 0, "us-east", socket, "refuse_after_blocks: 1000\n", &g.dc) != 0) {
        return -1;
    }
    kumo_test_account_make(&g.net, "alice", 0x61, 50000000u, &g.alice, g.alice_addr);
    kumo_test_account_make(&g.net, "ops", 0x62, 5000000u, &g.ops, g.ops_addr);
    kumo_test_account_make(&g.net, "bob", 0x63, 5000000u, &g.bob, g.bob_addr);
    kumo_test_account_make(&g.net, "eve", 0x64, 5000000u, &g.eve, g.eve_addr);
    deployment_leased();
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!g.up) {
        kumo_test_dc_log_print(&g.dc);
    }
    kumo_test_dc_stop(&g.dc);
    kumo_test_net_stop(&g.net);
    kumo_buf_free(&g.manifest);
    return 0;
}

/* One request to the daemon as key; the HTTP status. */
static long api(const kumo_crypto_keypair_t *key, const char *method, const char *leaf)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "/deployments/%s/%u/%s", g.alice_addr, DSEQ, leaf);
    kumo_bytes_t body =
        strcmp(method, "PUT") == 0 ? kumo_buf_bytes(&g.manifest) : kumo_bytes_make(NULL, 0);
    return kumo_test_dc_request(&g.dc, key, method, path, body, NULL);
}

static const char *chunk_leaf(void)
{
    static char leaf[128];
    (void)snprintf(leaf, sizeof(leaf), "manifest-chunk?total=%zu&index=0", g.manifest.len);
    return leaf;
}

static bool manifest_stored(void)
{
    char path[PATH_MAX + 128];
    (void)snprintf(path, sizeof(path), "%s/deployments/%s-%u.manifest", g.dc.home, g.alice_addr,
                   DSEQ);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_SDL_MANIFEST_BYTES_MAX);
    bool same = kumo_file_read(path, &b, NULL) == 0 && b.len == g.manifest.len &&
                memcmp(b.ptr, g.manifest.ptr, b.len) == 0;
    kumo_buf_free(&b);
    return same;
}

/* Every route a grant may open, refused with the stranger's 403. */
static void all_refused(const kumo_crypto_keypair_t *key, const char *who)
{
    const char *const gets[] = {"status", "events", "logs?stamped=1"};
    for (size_t i = 0; i < 3; i++) {
        long st = api(key, "GET", gets[i]);
        if (st != 403) {
            fail_msg("%s GET %s: HTTP %ld, want 403", who, gets[i], st);
        }
    }
    long st = api(key, "PUT", "manifest");
    long st2 = api(key, "PUT", chunk_leaf());
    if (st != 403 || st2 != 403) {
        fail_msg("%s uploads: HTTP %ld and %ld, want 403", who, st, st2);
    }
}

static void grant(const char *grantee_addr, const char *scope, const char *terms)
{
    char args[512];
    (void)snprintf(args, sizeof(args), "grant create %s %s %s", grantee_addr, scope, terms);
    tx_ok("alice", args);
}

/* Strangers and the grantee of another deployment get nothing; a grant to deposit reads but
 * does not upload; a grant to update uploads; a shell is never granted. */
static void test_grants_decide_who_is_served(void **state)
{
    (void)state;
    assert_int_equal(api(&g.alice, "GET", "status"), 200);
    all_refused(&g.eve, "a stranger");
    all_refused(&g.ops, "ops before any grant");
    grant(g.bob_addr, "2", "msgs=update,deposit expiry=100000000");
    all_refused(&g.bob, "the grantee of another deployment");
    grant(g.ops_addr, "1", "msgs=deposit expiry=100000000");
    assert_int_equal(api(&g.ops, "GET", "status"), 200);
    assert_int_equal(api(&g.ops, "GET", "events"), 200);
    assert_int_equal(api(&g.ops, "PUT", "manifest"), 403);
    assert_int_equal(api(&g.ops, "PUT", chunk_leaf()), 403);
    assert_false(manifest_stored());
    all_refused(&g.eve, "a stranger beside a grantee");
    grant(g.ops_addr, "1", "msgs=update expiry=100000000");
    assert_int_equal(api(&g.ops, "PUT", "manifest"), 200);
    assert_true(manifest_stored());
    assert_int_equal(api(&g.ops, "PUT", chunk_leaf()), 200);
    assert_int_equal(api(&g.ops, "PUT", "shell"), 403);
    all_refused(&g.bob, "the grantee of another deployment, after");
}

/* A grant ends at its expiry height and at its revoke, at once. */
static void test_expired_and_revoked_grants_refused(void **state)
{
    (void)state;
    int64_t h = kumo_test_net_height(&g.net, 0);
    assert_true(h > 0);
    uint64_t expiry = (uint64_t)h + 20u;
    char terms[128];
    (void)snprintf(terms, sizeof(terms), "msgs=update expiry=%" PRIu64, expiry);
    grant(g.ops_addr, "1", terms);
    /* Served below the expiry height (unless the chain got there first). */
    long st = api(&g.ops, "GET", "status");
    int64_t after = kumo_test_net_height(&g.net, 0);
    if (st != 200 && !(st == 403 && after >= (int64_t)expiry)) {
        fail_msg("before expiry: HTTP %ld at height %" PRId64 " (expiry %" PRIu64 ")", st, after,
                 expiry);
    }
    kumo_test_net_wait_height(&g.net, 1u, (int64_t)expiry);
    all_refused(&g.ops, "an expired grant");
    grant(g.ops_addr, "all", "msgs=update expiry=100000000");
    /* The grant for the deployment, expired, still decides over the one for all. */
    all_refused(&g.ops, "an expired grant beside one for all");
    char args[256];
    (void)snprintf(args, sizeof(args), "grant revoke %s 1", g.ops_addr);
    tx_ok("alice", args);
    assert_int_equal(api(&g.ops, "GET", "status"), 200); /* now the one for all decides */
    assert_int_equal(api(&g.ops, "PUT", "manifest"), 200);
    (void)snprintf(args, sizeof(args), "grant revoke %s all", g.ops_addr);
    tx_ok("alice", args);
    all_refused(&g.ops, "a revoked grant");
    assert_int_equal(api(&g.alice, "GET", "status"), 200);
}

/* The node gone: the daemon cannot ask for grants, and serves nothing on a guess. */
static void test_node_unreachable_fails_closed(void **state)
{
    (void)state;
    grant(g.ops_addr, "1", "msgs=update expiry=100000000");
    assert_int_equal(api(&g.ops, "GET", "status"), 200);
    kumo_test_net_kill9(&g.net, 0);
    assert_int_equal(api(&g.ops, "GET", "status"), 503);
    assert_int_equal(api(&g.ops, "PUT", "manifest"), 503);
    assert_int_equal(api(&g.eve, "GET", "status"), 503);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grants_decide_who_is_served),
        cmocka_unit_test(test_expired_and_revoked_grants_refused),
        cmocka_unit_test(test_node_unreachable_fails_closed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
