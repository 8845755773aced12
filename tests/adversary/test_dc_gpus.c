/*
 * test_dc_gpus.c - a provider daemon renting out GPUs, with real processes: one validator
 * (400 ms blocks, reconfirmation period 400 blocks), a private podman service and one daemon
 * that declares two stand-in GPUs (this machine has none): character devices made with mknod
 * in a temp dir with the numbers of /dev/null and /dev/zero, passed to containers at
 * /dev/kumo-gpu0 and /dev/kumo-gpu1.
 *   - a tenant deploys a workload on a unit with one GPU: it is leased and its container holds
 *     exactly /dev/kumo-gpu0 (inspect, and `ls /dev` inside); a second tenant's one-GPU
 *     deployment gets the other one, /dev/kumo-gpu1;
 *   - once the daemon's offer lists no free GPU, a third tenant's one-GPU order gets no bid:
 *     the daemon logs reason=gpu and `kumo deploy create` names the cause (gpu);
 *   - the first deployment closes: its GPU is free again, and the third order gets its bid,
 *     its lease and GPU 0 (the daemon's status.json);
 *   - the daemon restarts (holds rebuilt from the chain, GPUs from home/gpus): every lease
 *     keeps its GPU and the running container is not replaced.
 * Against a daemon without GPUs it refuses every such unit (verdict gpu), so nothing here
 * gets a lease.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "helpers/net/dc.h"
#include "helpers/net/testnet.h"
#include "helpers/podman.h"
#include "helpers/testutil.h"
#include "runtime/runtime.h"
#include "wal/wal.h"

#define BLOCK_MS 400u
#define DSEQ_A   11u
#define DSEQ_B   12u
#define DSEQ_C   13u

typedef struct g {
    kumo_test_net_t net;
    kumo_test_podman_t pm;
    kumo_test_dc_t dc;
    char dev_dir[64];
    char node[64];
    kumo_crypto_keypair_t key_b, key_c;
    char tenant_a[KUMO_ADDRESS_TEXT_BYTES], tenant_b[KUMO_ADDRESS_TEXT_BYTES],
        tenant_c[KUMO_ADDRESS_TEXT_BYTES];
    bool up;
} g_t;

static g_t g;

static void fail_with_logs(const char *what)
{
    kumo_test_dc_log_print(&g.dc);
    fail_msg("%s", what);
}

/* A stack of one unit with one nvidia GPU, its workload sleeping in busybox. */
static void stack_path(char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/gpu.yml", g.net.dir);
    if (access(out, F_OK) == 0) {
        return;
    }
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    fprintf(f, "version: \"1\"\n"
               "groups:\n"
               "  ml:\n"
               "    region: us-east\n"
               "    resources:\n"
               "      - {cpu: 100m, memory: 64Mi, storage: 64Mi, gpu: {count: 1, vendor: nvidia},"
               " count: 1, price: 10000, collateral: 1000}\n"
               "workloads:\n"
               "  ml:\n"
               "    image: localhost/kumo-test-busybox:1\n"
               "    command: [sleep, \"100000\"]\n"
               "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi, gpu: {count: 1, vendor: "
               "nvidia}}\n"
               "    group: ml\n"
               "wait_blocks: 1\n"
               "deposit: 1000000\n");
    assert_int_equal(fclose(f), 0);
}

/* `kumo deploy create` of the GPU stack as home/key; its exit code and output (freed here). */
static int deploy(const char *home, uint64_t dseq, uint32_t timeout_s, const char *needle)
{
    char stack[PATH_MAX];
    stack_path(stack, sizeof(stack));
    int code = 0;
    char *out = kumo_test_net_output(&g.net, &code,
                                     "deploy create %s --from %s --home %s/%s --node %s --dseq "
                                     "%llu --timeout %u",
                                     stack, home, g.net.dir, home, g.node, (unsigned long long)dseq,
                                     timeout_s);
    print_message("deploy %s/%llu: exit %d\n%s", home, (unsigned long long)dseq, code, out);
    bool found = needle == NULL || strstr(out, needle) != NULL;
    free(out);
    return found ? code : -100;
}

/* The container of tenant's deployment dseq, running, inspected into in (waits). */
static void container_wait(const char *tenant, uint64_t dseq, kumo_runtime_inspect_t *in)
{
    kumo_runtime_t *rt = NULL;
    assert_int_equal(kumo_runtime_open(g.pm.socket, &rt, NULL), 0);
    kumo_runtime_container_t *list = calloc(64, sizeof(*list));
    assert_non_null(list);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_DC_START_WAIT_MS;
    for (bool found = false; !found;) {
        uint32_t n = 0;
        assert_int_equal(
            kumo_runtime_container_list(rt, "kumo.provider", g.dc.addr, list, 64, &n, NULL), 0);
        for (uint32_t i = 0; i < n && !found; i++) {
            found = list[i].dseq == dseq && strcmp(list[i].owner, tenant) == 0 &&
                    list[i].state == KUMO_RUNTIME_STATE_RUNNING &&
                    kumo_runtime_container_inspect(rt, list[i].id, in, NULL) == 0;
        }
        if (!found && kumo_test_now_ms() > deadline) {
            fail_with_logs("the GPU container did not run");
        }
        if (!found) {
            kumo_test_pause_ms(300);
        }
    }
    free(list);
    kumo_runtime_close(rt);
}

/* The container holds exactly /dev/<want>: the runtime says so, and `ls /dev` inside lists it
 * and not the other stand-in. */
static void
container_has_only(const kumo_runtime_inspect_t *in, const char *want, const char * not )
{
    assert_int_equal(in->device_count, 1);
    char path[64];
    (void)snprintf(path, sizeof(path), "/dev/%s", want);
    assert_string_equal(in->device_paths[0], path);
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd), "podman --runtime /usr/sbin/runc exec %s busybox ls /dev 2>&1",
                   in->id);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof(buf) - 1u, p);
    buf[len] = '\0';
    (void)pclose(p);
    if (strstr(buf, want) == NULL || strstr(buf, not ) != NULL) {
        fail_msg("ls /dev in the container: %s", buf);
    }
}

/* The provider's on-chain offer lists no free GPU (it publishes what pd_free says). */
static bool offer_gpus_none(void)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/providers/%s", g.dc.addr);
    json_t *p = kumo_test_net_get(&g.net, 0, path);
    const json_t *o = json_object_get(p, "offer");
    bool none = json_is_object(o) && json_array_size(json_object_get(o, "free_gpus")) == 0;
    json_decref(p);
    return none;
}

/* GPU index's state and holder in the daemon's status.json ("" when unreadable). */
static void gpu_status(uint32_t index, char *state, char *order, size_t cap)
{
    state[0] = '\0';
    order[0] = '\0';
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/status.json", g.dc.home);
    json_t *st = json_load_file(path, 0, NULL);
    const json_t *gj = json_array_get(json_object_get(st, "gpus"), index);
    const char *s = json_string_value(json_object_get(gj, "state"));
    const char *o = json_string_value(json_object_get(gj, "order"));
    (void)snprintf(state, cap, "%s", s != NULL ? s : "");
    (void)snprintf(order, cap, "%s", o != NULL ? o : "");
    json_decref(st);
}

/* Waits until the daemon's status.json says it passed height h. */
static void status_height_wait(uint64_t h)
{
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/status.json", g.dc.home);
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    for (;;) {
        json_t *st = json_load_file(path, 0, NULL);
        uint64_t at = kumo_test_json_u64(st, "height");
        json_decref(st);
        if (at >= h) {
            return;
        }
        if (kumo_test_now_ms() > deadline) {
            fail_with_logs("the daemon's passes did not reach the height");
        }
        kumo_test_pause_ms(300);
    }
}

static void test_gpus_leased_exclusively_and_freed(void **state)
{
    (void)state;
    assert_true(g.up);
    if (deploy("tenant", DSEQ_A, 300, NULL) != 0) {
        fail_with_logs("the first GPU deployment failed");
    }
    kumo_runtime_inspect_t *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    container_wait(g.tenant_a, DSEQ_A, in);
    container_has_only(in, "kumo-gpu0", "kumo-gpu1");
    if (deploy("t2", DSEQ_B, 300, NULL) != 0) {
        fail_with_logs("the second GPU deployment failed");
    }
    container_wait(g.tenant_b, DSEQ_B, in);
    container_has_only(in, "kumo-gpu1", "kumo-gpu0");

    /* Both GPUs leased: the third order gets no bid, and the tenant is told why. */
    uint64_t deadline = kumo_test_now_ms() + KUMO_TEST_NET_WAIT_MS;
    while (!offer_gpus_none()) {
        if (kumo_test_now_ms() > deadline) {
            fail_with_logs("the offer still lists free GPUs");
        }
        kumo_test_pause_ms(300);
    }
    int rc = deploy("t3", DSEQ_C, 5, "gpu: 1 provider(s) in us-east have no free GPUs");
    if (rc != 1) {
        fail_with_logs("the third deployment did not fail naming gpu");
    }
    if (!kumo_test_dc_wait_log(&g.dc, "reason=gpu", 1, KUMO_TEST_NET_WAIT_MS)) {
        fail_with_logs("the daemon did not pass over the third order for gpu");
    }

    /* The first closes: GPU 0 is free again and the third order gets it. */
    char stack[PATH_MAX];
    stack_path(stack, sizeof(stack));
    assert_int_equal(kumo_test_net_kumo(&g.net,
                                        "deploy close %s --from tenant --home %s/tenant --node %s "
                                        "--dseq %u --timeout 60",
                                        stack, g.net.dir, g.node, DSEQ_A),
                     0);
    char want[KUMO_ID_TEXT_BYTES];
    (void)snprintf(want, sizeof(want), "%s/%u/0/1", g.tenant_c, DSEQ_C);
    deadline = kumo_test_now_ms() + KUMO_TEST_DC_START_WAIT_MS;
    for (;;) {
        char st[KUMO_ID_TEXT_BYTES];
        char order[KUMO_ID_TEXT_BYTES];
        gpu_status(0, st, order, sizeof(st));
        if (strcmp(st, "leased") == 0 && strcmp(order, want) == 0) {
            break;
        }
        if (kumo_test_now_ms() > deadline) {
            fail_with_logs("GPU 0 did not go to the third order");
        }
        kumo_test_pause_ms(300);
    }
    assert_true(kumo_test_dc_log_count(&g.dc, "event=hold_released") >= 1u);

    /* A restart (holds rebuilt from the chain) keeps every lease on its GPUs: B's container
     * is not replaced, and the status names the same holders once passes ran again. */
    container_wait(g.tenant_b, DSEQ_B, in);
    char b_id[KUMO_RUNTIME_ID_BYTES_MAX];
    (void)snprintf(b_id, sizeof(b_id), "%s", in->id);
    size_t restored = kumo_test_dc_log_count(&g.dc, "event=holds_restored");
    kumo_test_dc_stop(&g.dc);
    assert_int_equal(kumo_test_dc_start(&g.net, &g.dc), 0);
    if (!kumo_test_dc_wait_log(&g.dc, "event=holds_restored", restored + 1u,
                               KUMO_TEST_NET_WAIT_MS)) {
        fail_with_logs("the restarted daemon did not rebuild its holds");
    }
    status_height_wait((uint64_t)kumo_test_net_height(&g.net, 0) + 3u);
    char want_b[KUMO_ID_TEXT_BYTES];
    (void)snprintf(want_b, sizeof(want_b), "%s/%u/0/1", g.tenant_b, DSEQ_B);
    char st[KUMO_ID_TEXT_BYTES];
    char order[KUMO_ID_TEXT_BYTES];
    gpu_status(0, st, order, sizeof(st));
    assert_string_equal(order, want);
    gpu_status(1, st, order, sizeof(st));
    assert_string_equal(order, want_b);
    container_wait(g.tenant_b, DSEQ_B, in);
    assert_string_equal(in->id, b_id);
    container_has_only(in, "kumo-gpu1", "kumo-gpu0");
    assert_int_equal(kumo_test_dc_log_count(&g.dc, "event=gpus_assigned"), 0);
    free(in);
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    (void)snprintf(g.dev_dir, sizeof(g.dev_dir), "/tmp/kumo-gpus-XXXXXX");
    if (mkdtemp(g.dev_dir) == NULL) {
        return -1;
    }
    char g0[96];
    char g1[96];
    (void)snprintf(g0, sizeof(g0), "%s/g0", g.dev_dir);
    (void)snprintf(g1, sizeof(g1), "%s/g1", g.dev_dir);
    if (mknod(g0, S_IFCHR | 0666, makedev(1, 3)) != 0 ||
        mknod(g1, S_IFCHR | 0666, makedev(1, 5)) != 0) {
        perror("mknod");
        return -1;
    }
    if (!kumo_test_podman_start(&g.pm) || !kumo_test_podman_busybox_image()) {
        return -1;
    }
    char cfg[1024];
    (void)snprintf(cfg, sizeof(cfg),
                   "price_per_gpu: 10\n"
                   "gpus: [{vendor: nvidia, model: standin, memory_bytes: 1073741824, device: "
                   "\"%s:/dev/kumo-gpu0\"}, {vendor: nvidia, model: standin, memory_bytes: "
                   "1073741824, device: \"%s:/dev/kumo-gpu1\"}]\n",
                   g0, g1);
    /* A reconfirmation period of 400 blocks (160 s): a container start on a loaded machine
     * (a network took 60 s here under load) must not make a lease stale before it runs. */
    const kumo_test_net_opts_t o = {.validators = 1,
                                    .block_ms = BLOCK_MS,
                                    .init_extra = "--providers 1",
                                    .genesis =
                                        "{\"params\": {\"reconfirmation_period\": \"400\"}}"};
    if (kumo_test_net_start_opts(&g.net, &o) != 0 ||
        kumo_test_dc_add(&g.net, 0, "us-east", g.pm.socket, cfg, &g.dc) != 0) {
        return -1;
    }
    (void)snprintf(g.node, sizeof(g.node), "http://127.0.0.1:%u",
                   kumo_test_net_rpc_port(&g.net, 0));
    kumo_test_net_address(&g.net, "tenant", "tenant", g.tenant_a);
    kumo_test_account_make(&g.net, "t2", 0x21, 5000000u, &g.key_b, g.tenant_b);
    kumo_test_account_make(&g.net, "t3", 0x31, 5000000u, &g.key_c, g.tenant_c);
    g.up = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_dc_remove(&g.dc);
    kumo_test_net_stop(&g.net);
    kumo_test_podman_stop(&g.pm);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/g0", g.dev_dir);
    (void)remove(path);
    (void)snprintf(path, sizeof(path), "%s/g1", g.dev_dir);
    (void)remove(path);
    (void)rmdir(g.dev_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpus_leased_exclusively_and_freed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
