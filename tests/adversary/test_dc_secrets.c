/*
 * test_dc_secrets.c - a sealed secret that does not open fails closed. Real processes: one
 * validator (500 ms blocks), a private podman service and one provider daemon (east, us-east).
 * The tenant deploys with `kumo deploy create` a stack whose group g lists east (exclusive)
 * and whose workload takes a secret from the CLI's environment: east runs it with the value.
 * Then the tenant, now an attacker, puts on chain the version of the same manifest with the
 * last byte of its last sealed value flipped (the bytes stay canonical and pass the structural
 * check: only the value's tag fails) and uploads it over the real provider API. East stores it,
 * finds that a value sealed to it does not open, runs nothing of that version and refuses the
 * lease on chain (close reason manifest_refused), its log naming the group and secret, never
 * the value.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "sdl/sdl.h"

#define BLOCK_MS 500u
#define DSEQ     5151u
#define EAST_CFG "refuse_after_blocks: 1\n"
#define VALUE    "adversary-secret-value-7f3a9c"

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t east;
    kumo_crypto_keypair_t tenant;
    char tenant_addr[KUMO_ADDRESS_TEXT_BYTES];
    bool up;
} g_t;

static g_t g;

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The deployment's first lease (NULL when none yet). */
static json_t *lease_get(void)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/leases?owner=%s&dseq=%u", g.tenant_addr, DSEQ);
    json_t *j = kumo_test_net_get(&g.net, 0, path);
    json_t *l = json_incref(json_array_get(json_object_get(j, "items"), 0));
    json_decref(j);
    return l;
}

static void stack_write(char *path, size_t cap)
{
    (void)snprintf(path, cap, "%s/stack.yml", g.net.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "version: \"1\"\n"
            "groups:\n"
            "  g:\n"
            "    region: us-east\n"
            "    requirements: {providers: [%s], exclusive: true}\n"
            "    resources:\n"
            "      - {cpu: 100m, memory: 64Mi, storage: 64Mi, count: 1, price: 100, collateral: "
            "5000}\n"
            "secrets:\n"
            "  token: {from_env: KUMO_TEST_SECRET}\n"
            "workloads:\n"
            "  app:\n"
            "    image: localhost/kumo-test-busybox:1\n"
            "    command: [sleep, \"100000\"]\n"
            "    env: {TOKEN: {secret: token}}\n"
            "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
            "    group: g\n"
            "wait_blocks: 2\n"
            "deposit: 200000\n",
            g.east.addr);
    assert_int_equal(fclose(f), 0);
}

static void test_sealed_value_that_does_not_open_is_refused(void **state)
{
    (void)state;
    assert_true(g.up);
    char stack[PATH_MAX];
    stack_write(stack, sizeof(stack));
    assert_int_equal(setenv("KUMO_TEST_SECRET", VALUE, 1), 0);
    int code = 0;
    char *out = kumo_test_net_output(&g.net, &code,
                                     "deploy create %s --home %s/owner --from owner --node "
                                     "http://127.0.0.1:%u --dseq %u --timeout 240",
                                     stack, g.net.dir, kumo_test_net_rpc_port(&g.net, 0), DSEQ);
    assert_int_equal(unsetenv("KUMO_TEST_SECRET"), 0);
    if (code != 0 || strstr(out, VALUE) != NULL) {
        kumo_test_dc_log_print(&g.east);
        fail_msg("kumo deploy create (exit %d):\n%s", code, out);
    }
    free(out);
    json_t *l = lease_get();
    assert_non_null(l);
    assert_string_equal(str(l, "state"), "LEASE_ACTIVE");
    json_decref(l);

    /* The manifest east holds, its last sealed value's tag flipped, as a new version. */
    char route[256];
    (void)snprintf(route, sizeof(route), "/deployments/%s/%u/manifest", g.tenant_addr, DSEQ);
    kumo_buf_t m;
    kumo_buf_init(&m, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(
        kumo_test_dc_request(&g.east, &g.tenant, "GET", route, kumo_bytes_make(NULL, 0), &m), 200);
    assert_null(memmem(m.ptr, m.len, VALUE, strlen(VALUE)));
    Kumo__Manifest *dm = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(kumo_buf_bytes(&m), &dm, NULL), 0);
    assert_int_equal(dm->n_sealed, 1);
    kumo_codec_free(&dm->base);
    m.ptr[m.len - 1u] ^= 0x01u; /* ciphertext is the last field of the last value */
    assert_int_equal(kumo_sdl_manifest_decode(kumo_buf_bytes(&m), &dm, NULL), 0);
    kumo_codec_free(&dm->base);
    char path[PATH_MAX];
    (void)snprintf(path, sizeof(path), "%s/tampered.manifest", g.net.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m.ptr, 1, m.len, f), m.len);
    assert_int_equal(fclose(f), 0);
    kumo_test_net_tx_ok(&g.net, "owner", "owner", "deployment update %u --version-file %s --wait",
                        DSEQ, path);
    long status = kumo_test_dc_request(&g.east, &g.tenant, "PUT", route, kumo_buf_bytes(&m), NULL);
    assert_int_equal(status, 200); /* structurally sound: stored */
    kumo_buf_free(&m);

    /* East refuses the lease: the value sealed to it does not open. */
    uint64_t deadline = kumo_test_now_ms() + 2u * KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        l = lease_get();
        assert_non_null(l);
        if (strcmp(str(l, "state"), "LEASE_ACTIVE") != 0) {
            break;
        }
        json_decref(l);
        if (kumo_test_now_ms() > deadline) {
            kumo_test_dc_log_print(&g.east);
            fail_msg("the lease stayed active");
        }
        kumo_test_pause_ms(200);
    }
    assert_string_equal(str(l, "state"), "LEASE_CLOSED");
    assert_string_equal(str(l, "close_reason"), "CLOSE_REASON_MANIFEST_REFUSED");
    json_decref(l);
    assert_true(kumo_test_dc_wait_log(&g.east, "event=manifest_refused", 1, KUMO_TEST_NET_WAIT_MS));
    assert_true(kumo_test_dc_log_count(&g.east, "secret token fails its tag") >= 1);
    assert_int_equal(kumo_test_dc_log_count(&g.east, VALUE), 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    if (kumo_test_net_start(&g.net, 1, BLOCK_MS, "--providers 1") != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, EAST_CFG, &g.east) != 0) {
        return -1;
    }
    kumo_test_account_make(&g.net, "owner", 0x5c, 50000000u, &g.tenant, g.tenant_addr);
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_dc_remove(&g.east);
    kumo_test_net_stop(&g.net);
    kumo_test_podman_stop(&g.pm);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_value_that_does_not_open_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
