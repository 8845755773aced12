/*
 * test_reconcile.c - the provider's reconcile (src/provider/work.c) against a fake runtime
 * and a fake node (pd_runtime_ops_t, pd_node_ops_t), with the runtime worker driven step by
 * step on this thread (pd_rtwork_step), so every pass is exact. One deployment (web: 2
 * instances, port 8080 global; db: port 7000 for web) leased in one group:
 *   - the first pass creates the network only (starts wait for its gateway); a stray
 *     container of ours that no lease wants is removed;
 *   - the next pass puts the network's isolation rules in force (its subnet closed, the
 *     forward port on its gateway open), and only then do containers start (a failing nft
 *     starts nothing);
 *   - the next pass starts every instance on that network: web publishes 8080 on a host port
 *     of the range, db publishes nothing; each reaches the others by name at the gateway;
 *   - a pass where everything runs confirms the lease with its version, once;
 *   - an exited instance is replaced (the old one removed first);
 *   - a new version keeps the containers whose own spec did not change (a lowered count
 *     removes the highest instance), and replaces the one whose spec changed;
 *   - a failed start (image missing) is retried, not confirmed;
 *   - the lease closing removes every container, then the lease is released and the
 *     deployment's network swept.
 * And a deployment with GPU units: each instance gets exactly its unit's GPUs of the lease's
 * hold (device entries and kumo.gpus), none without a hold, a reassigned GPU replaces only
 * the container it concerns.
 */
#include "helpers/testutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/daemon_int.h"
#include "sdl/sdl.h"
#include "wal/wal.h"

static char OWNER[KUMO_ADDRESS_TEXT_BYTES]; /* a valid address (setup) */
#define DSEQ 7u

/* ---- the fake runtime ---- */

#define FAKE_MAX 16u

typedef struct fake_container {
    bool used;
    kumo_runtime_container_t c;
    char network[KUMO_RUNTIME_NAME_BYTES_MAX];
    char hosts[8][96];
    uint32_t host_count;
    char ip[64];
    char devices[4][KUMO_RUNTIME_DEVICE_BYTES_MAX];
    uint32_t device_count;
} fake_container_t;

typedef struct fake_rt {
    fake_container_t cs[FAKE_MAX];
    char nets[FAKE_MAX][KUMO_RUNTIME_NAME_BYTES_MAX];
    uint32_t net_count;
    uint32_t runs, removes, net_creates, net_removes, next_id;
    bool image_missing; /* container_run fails as for an image not present */
} fake_rt_t;

static fake_rt_t fake;
static int fake_handle; /* what open hands out: never dereferenced */

static int f_open(const char *socket_path, kumo_runtime_t **out, kumo_err_ctx_t *err)
{
    (void)socket_path;
    (void)err;
    *out = (kumo_runtime_t *)(void *)&fake_handle;
    return 0;
}

static void f_close(kumo_runtime_t *rt)
{
    assert_ptr_equal(rt, (void *)&fake_handle);
}

static int f_ping(kumo_runtime_t *rt, kumo_err_ctx_t *err)
{
    (void)rt;
    (void)err;
    return 0;
}

static int f_list(kumo_runtime_t *rt,
                  const char *key,
                  const char *value,
                  kumo_runtime_container_t *out,
                  uint32_t cap,
                  uint32_t *count,
                  kumo_err_ctx_t *err)
{
    (void)rt;
    (void)err;
    assert_string_equal(key, "kumo.provider");
    (void)value;
    for (uint32_t i = 0; i < FAKE_MAX && *count < cap; i++) {
        if (fake.cs[i].used) {
            out[(*count)++] = fake.cs[i].c;
        }
    }
    return 0;
}

static fake_container_t *fake_find(const char *id_or_name)
{
    for (uint32_t i = 0; i < FAKE_MAX; i++) {
        if (fake.cs[i].used && (strcmp(fake.cs[i].c.id, id_or_name) == 0 ||
                                strcmp(fake.cs[i].c.name, id_or_name) == 0)) {
            return &fake.cs[i];
        }
    }
    return NULL;
}

static int f_inspect(kumo_runtime_t *rt,
                     const char *id_or_name,
                     kumo_runtime_inspect_t *out,
                     kumo_err_ctx_t *err)
{
    (void)rt;
    const fake_container_t *f = fake_find(id_or_name);
    if (f == NULL) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "no such container");
    }
    memset(out, 0, sizeof(*out));
    out->state = f->c.state;
    (void)snprintf(out->ip, sizeof(out->ip), "%s", f->ip);
    return 0;
}

static const char *label_of(const kumo_runtime_container_spec_t *s, const char *key)
{
    for (uint32_t i = 0; i < s->label_count; i++) {
        if (strcmp(s->labels[i].key, key) == 0) {
            return s->labels[i].value;
        }
    }
    fail_msg("label %s missing", key);
    return "";
}

static const char *label_find(const kumo_runtime_container_spec_t *s, const char *key)
{
    for (uint32_t i = 0; i < s->label_count; i++) {
        if (strcmp(s->labels[i].key, key) == 0) {
            return s->labels[i].value;
        }
    }
    return NULL;
}
static int f_run(kumo_runtime_t *rt,
                 const kumo_runtime_container_spec_t *s,
                 char id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                 kumo_err_ctx_t *err)
{
    (void)rt;
    fake.runs++;
    if (fake.image_missing) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "no such image: %s", s->image);
    }
    assert_null(fake_find(s->name));
    fake_container_t *f = NULL;
    for (uint32_t i = 0; i < FAKE_MAX && f == NULL; i++) {
        f = fake.cs[i].used ? NULL : &fake.cs[i];
    }
    assert_non_null(f);
    memset(f, 0, sizeof(*f));
    f->used = true;
    kumo_runtime_container_t *c = &f->c;
    (void)snprintf(c->id, sizeof(c->id), "id%u", ++fake.next_id);
    (void)snprintf(c->name, sizeof(c->name), "/%s", s->name); /* as the Docker API lists it */
    c->state = KUMO_RUNTIME_STATE_RUNNING;
    (void)snprintf(c->owner, sizeof(c->owner), "%s", label_of(s, "kumo.owner"));
    c->dseq = strtoull(label_of(s, "kumo.dseq"), NULL, 10);
    c->gseq = strtoull(label_of(s, "kumo.gseq"), NULL, 10);
    c->oseq = strtoull(label_of(s, "kumo.oseq"), NULL, 10);
    (void)snprintf(c->workload, sizeof(c->workload), "%s", label_of(s, "kumo.workload"));
    c->instance = (uint32_t)strtoul(label_of(s, "kumo.instance"), NULL, 10);
    (void)snprintf(c->version, sizeof(c->version), "%s", label_of(s, "kumo.version"));
    (void)snprintf(c->spec, sizeof(c->spec), "%s", label_of(s, "kumo.spec"));
    for (uint32_t i = 0; i < s->port_count; i++) {
        c->container_ports[i] = s->ports[i].container_port;
        c->host_ports[i] = s->ports[i].host_port;
    }
    c->port_count = s->port_count;
    (void)snprintf(f->network, sizeof(f->network), "%s", s->network != NULL ? s->network : "");
    for (uint32_t i = 0; s->extra_hosts != NULL && s->extra_hosts[i] != NULL && i < 8; i++) {
        (void)snprintf(f->hosts[f->host_count++], sizeof(f->hosts[0]), "%s", s->extra_hosts[i]);
    }
    (void)snprintf(f->ip, sizeof(f->ip), "10.89.0.%u", 10u + fake.next_id);
    const char *gpus = label_find(s, "kumo.gpus");
    (void)snprintf(c->gpus, sizeof(c->gpus), "%s", gpus != NULL ? gpus : "");
    assert_true(s->device_count <= 4u);
    for (uint32_t i = 0; i < s->device_count; i++) {
        (void)snprintf(f->devices[i], sizeof(f->devices[i]), "%s", s->devices[i]);
    }
    f->device_count = s->device_count;
    (void)snprintf(id_out, KUMO_RUNTIME_ID_BYTES_MAX, "%s", c->id);
    return 0;
}

static int f_remove(kumo_runtime_t *rt, const char *id_or_name, kumo_err_ctx_t *err)
{
    (void)rt;
    (void)err;
    fake_container_t *f = fake_find(id_or_name);
    if (f != NULL) {
        f->used = false;
        fake.removes++;
    }
    return 0;
}

static int f_net_create(kumo_runtime_t *rt,
                        const char *name,
                        const kumo_runtime_label_t *labels,
                        uint32_t label_count,
                        kumo_err_ctx_t *err)
{
    (void)rt;
    (void)labels;
    (void)err;
    assert_true(label_count > 0);
    assert_true(fake.net_count < FAKE_MAX);
    (void)snprintf(fake.nets[fake.net_count++], KUMO_RUNTIME_NAME_BYTES_MAX, "%s", name);
    fake.net_creates++;
    return 0;
}

static int f_net_addresses(
    kumo_runtime_t *rt, const char *name, char gateway[64], char subnet[64], kumo_err_ctx_t *err)
{
    (void)rt;
    for (uint32_t i = 0; i < fake.net_count; i++) {
        if (strcmp(fake.nets[i], name) == 0) {
            (void)snprintf(gateway, 64, "10.89.0.1");
            (void)snprintf(subnet, 64, "10.89.0.0/24");
            return 0;
        }
    }
    return kumo_err_set(err, KUMO_ENOTFOUND, "no such network");
}

static int f_net_list(kumo_runtime_t *rt,
                      const char *key,
                      const char *value,
                      char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                      uint32_t cap,
                      uint32_t *count,
                      kumo_err_ctx_t *err)
{
    (void)rt;
    (void)key;
    (void)value;
    (void)err;
    for (uint32_t i = 0; i < fake.net_count && *count < cap; i++) {
        (void)snprintf(names[(*count)++], KUMO_RUNTIME_NAME_BYTES_MAX, "%s", fake.nets[i]);
    }
    return 0;
}

static int f_net_remove(kumo_runtime_t *rt, const char *name, kumo_err_ctx_t *err)
{
    (void)rt;
    (void)err;
    for (uint32_t i = 0; i < fake.net_count; i++) {
        if (strcmp(fake.nets[i], name) == 0) {
            memcpy(fake.nets[i], fake.nets[--fake.net_count], sizeof(fake.nets[i]));
            fake.net_removes++;
            return 0;
        }
    }
    return 0;
}

static int f_vol_list(kumo_runtime_t *rt,
                      const char *key,
                      const char *value,
                      kumo_runtime_volume_t *out,
                      uint32_t cap,
                      uint32_t *count,
                      kumo_err_ctx_t *err)
{
    (void)rt;
    (void)key;
    (void)value;
    (void)out;
    (void)cap;
    (void)err;
    *count = 0;
    return 0;
}

static int f_vol_remove(kumo_runtime_t *rt, const char *dir, const char *name, kumo_err_ctx_t *err)
{
    (void)rt;
    (void)dir;
    (void)name;
    (void)err;
    return 0;
}

/* The isolation script applied last (what the host's firewall would hold). */
static char fake_rules[8192];
static uint32_t fake_applies;
static bool fake_nft_broken;

static int f_isolation(kumo_bytes_t script, kumo_err_ctx_t *err)
{
    if (fake_nft_broken) {
        return kumo_err_set(err, KUMO_EIO, "nft: cannot run it");
    }
    assert_true(script.len < sizeof(fake_rules));
    memcpy(fake_rules, script.ptr, script.len);
    fake_rules[script.len] = '\0';
    fake_applies++;
    return 0;
}

static const pd_runtime_ops_t fake_rt_ops = {
    .open = f_open,
    .close = f_close,
    .ping = f_ping,
    .container_list = f_list,
    .container_inspect = f_inspect,
    .container_run = f_run,
    .container_remove = f_remove,
    .network_create = f_net_create,
    .network_addresses = f_net_addresses,
    .network_list = f_net_list,
    .network_remove = f_net_remove,
    .volume_list = f_vol_list,
    .volume_remove = f_vol_remove,
    .isolation_apply = f_isolation,
};

/* ---- the fake node ---- */

static const char stack_yaml[] = "version: \"1\"\n"
                                 "wait_blocks: 3\n"
                                 "deposit: 5000000\n"
                                 "groups:\n"
                                 "  app:\n"
                                 "    region: us-east\n"
                                 "    resources:\n"
                                 "      - cpu: 100m\n"
                                 "        memory: 64Mi\n"
                                 "        storage: 64Mi\n"
                                 "        count: 3\n"
                                 "        price: 10\n"
                                 "        collateral: 100\n"
                                 "workloads:\n"
                                 "  web:\n"
                                 "    image: localhost/kumo-example:1\n"
                                 "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
                                 "    count: 2\n"
                                 "    group: app\n"
                                 "    ports:\n"
                                 "      - port: 8080\n"
                                 "        expose:\n"
                                 "          - global: true\n"
                                 "  db:\n"
                                 "    image: localhost/kumo-example:1\n"
                                 "    compute: {cpu: 100m, memory: 64Mi, storage: 64Mi}\n"
                                 "    group: app\n"
                                 "    ports:\n"
                                 "      - port: 7000\n"
                                 "        expose:\n"
                                 "          - workload: web\n";

/* Two resources: train's units with one GPU each (2), web's without; train runs 2. */
static const char gpu_stack_yaml[] = "version: \"1\"\n"
                                     "wait_blocks: 3\n"
                                     "deposit: 5000000\n"
                                     "groups:\n"
                                     "  app:\n"
                                     "    region: us-east\n"
                                     "    resources:\n"
                                     "      - {cpu: 200m, memory: 64Mi, count: 1, price: 10}\n"
                                     "      - {cpu: 100m, memory: 64Mi, gpu: {count: 1, vendor: "
                                     "nvidia}, count: 2, price: 10}\n"
                                     "workloads:\n"
                                     "  web:\n"
                                     "    image: localhost/kumo-example:1\n"
                                     "    compute: {cpu: 200m, memory: 64Mi}\n"
                                     "    group: app\n"
                                     "  train:\n"
                                     "    image: localhost/kumo-example:1\n"
                                     "    compute: {cpu: 100m, memory: 64Mi, gpu: {count: 1, "
                                     "vendor: nvidia}}\n"
                                     "    count: 2\n"
                                     "    group: app\n";
static const char *stack_text = stack_yaml;
static size_t stack_len = sizeof(stack_yaml) - 1u;
static kumo_sdl_stack_t *stack;
static bool lease_active = true;
static uint32_t confirmations, releases, versions, refusals;

/* many_leases > 0: that many active leases with no manifest (dseq MANY_DSEQ + i), each
 * last confirmed at many_confirmed(i); tx_room: confirmation txs the node takes before it
 * answers KUMO_ELIMIT (its per-account room), and the dseqs they confirmed. */
#define MANY_DSEQ 1000u
static uint32_t many_leases;
static uint32_t tx_room = UINT32_MAX;
static uint32_t tx_refused;
static uint64_t confirmed_dseq[PD_LEASE_MAX];
static uint32_t confirmed_count;

static uint64_t many_confirmed(uint32_t i)
{
    return 20u + (i * 37u) % many_leases; /* distinct, in no table order */
}

static int n_leases(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    (void)err;
    if (many_leases > 0) {
        memset(d->leases, 0, many_leases * sizeof(d->leases[0]));
        for (uint32_t i = 0; i < many_leases; i++) {
            pd_lease_t *l = &d->leases[i];
            (void)snprintf(l->owner, sizeof(l->owner), "%s", OWNER);
            l->dseq = MANY_DSEQ + i;
            l->oseq = 1;
            l->active = true;
            l->last_confirmed_height = many_confirmed(i);
        }
        d->lease_count = many_leases;
        return 0;
    }
    memset(d->leases, 0, sizeof(d->leases[0]));
    pd_lease_t *l = &d->leases[0];
    (void)snprintf(l->owner, sizeof(l->owner), "%s", OWNER);
    l->dseq = DSEQ;
    l->gseq = 0;
    l->oseq = 1;
    l->active = lease_active;
    d->lease_count = 1;
    return 0;
}

static int n_verify(kumo_provider_daemon_t *d,
                    const char *owner,
                    uint64_t dseq,
                    const Kumo__Manifest *m,
                    pd_groups_t *g,
                    kumo_err_ctx_t *err)
{
    (void)d;
    assert_string_equal(owner, OWNER);
    assert_int_equal(dseq, DSEQ);
    Kumo__GroupSpec **groups = NULL;
    size_t count = 0;
    uint64_t wait = 0;
    uint64_t deposit = 0;
    kumo_sdl_stack_groups(stack, &groups, &count, &wait, &deposit);
    for (size_t i = 0; i < count; i++) {
        g->specs[g->count++] = groups[i]; /* borrowed: no msgs[i] to free */
    }
    return kumo_sdl_manifest_check(m, groups, count, err);
}

static int
n_tx(kumo_provider_daemon_t *d, Kumo__Msg *const *msgs, size_t count, kumo_err_ctx_t *err)
{
    (void)d;
    for (size_t i = 0; i < count; i++) {
        if (msgs[i]->sum_case == KUMO__MSG__SUM_REFUSE_LEASE) {
            assert_int_equal(msgs[i]->refuse_lease->reason,
                             KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING);
            refusals++;
            continue;
        }
        assert_int_equal(msgs[i]->sum_case, KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION);
        if (tx_room == 0) {
            tx_refused++;
            return kumo_err_set(err, KUMO_ELIMIT, "account has 8 pending lease confirmations");
        }
        tx_room--;
        const Kumo__MsgSubmitLeaseConfirmation *m = msgs[i]->submit_lease_confirmation;
        for (size_t k = 0; k < m->n_confirmations; k++) {
            confirmed_dseq[confirmed_count++] = m->confirmations[k]->order->dseq;
            confirmations++;
            releases += m->confirmations[k]->released ? 1u : 0u;
            versions += m->confirmations[k]->version.len > 0 ? 1u : 0u;
        }
    }
    return 0;
}

static const pd_node_ops_t fake_node_ops = {
    .leases_load = n_leases, .manifest_verify = n_verify, .tx_send = n_tx};

/* ---- the daemon ---- */

static char *home;

static kumo_provider_daemon_t *daemon_new(void)
{
    kumo_provider_daemon_t *d = kumo_calloc(1, sizeof(*d));
    assert_non_null(d);
    assert_int_equal(pthread_mutex_init(&d->wake_mu, NULL), 0);
    d->rt = &fake_rt_ops;
    d->node = &fake_node_ops;
    kumo_provider_cfg_default(&d->cfg);
    (void)snprintf(d->addr, sizeof(d->addr), "%s", "kumo1providerproviderproviderprovider00");
    (void)snprintf(d->home, sizeof(d->home), "%s", home);
    (void)snprintf(d->cfg.node_url, sizeof(d->cfg.node_url), "%s", "http://127.0.0.1:1");
    (void)snprintf(d->cfg.public_address, sizeof(d->cfg.public_address), "%s", "127.0.0.1");
    d->cfg.port_range_min = 30000;
    d->cfg.port_range_max = 30009;
    d->cfg.refuse_after_blocks = 1000;
    d->period = 30;
    d->height = 100;
    assert_int_equal(kumo_client_open(d->cfg.node_url, NULL, &d->client, NULL), 0);
    assert_int_equal(pd_rtwork_init(d, NULL), 0);
    return d;
}

static void daemon_free(kumo_provider_daemon_t *d)
{
    pd_rtwork_stop(d);
    if (d->runtime != NULL) {
        pd_rt(d)->close(d->runtime);
    }
    kumo_client_close(d->client);
    kumo_buf_free(&d->isolation);
    (void)pthread_mutex_destroy(&d->wake_mu);
    kumo_free(d);
}

/* One pass, then everything it queued run; the number of jobs run. */
static uint32_t pass(kumo_provider_daemon_t *d)
{
    pd_work(d);
    uint32_t n = 0;
    while (pd_rtwork_step(d)) {
        n++;
    }
    d->height++;
    return n;
}

static uint32_t running(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < FAKE_MAX; i++) {
        n += fake.cs[i].used && fake.cs[i].c.state == KUMO_RUNTIME_STATE_RUNNING ? 1u : 0u;
    }
    return n;
}

static const fake_container_t *fake_workload(const char *workload, uint32_t instance)
{
    for (uint32_t i = 0; i < FAKE_MAX; i++) {
        if (fake.cs[i].used && strcmp(fake.cs[i].c.workload, workload) == 0 &&
            fake.cs[i].c.instance == instance) {
            return &fake.cs[i];
        }
    }
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    lease_active = true;
    confirmations = releases = versions = refusals = 0;
    many_leases = 0;
    tx_room = UINT32_MAX;
    tx_refused = confirmed_count = 0;
    fake_applies = 0;
    fake_nft_broken = false;
    fake_rules[0] = '\0';
    home = kumo_test_tmpdir_make("reconcile");
    uint8_t raw[KUMO_ADDRESS_BYTES];
    memset(raw, 0x42, sizeof(raw));
    kumo_codec_address_encode(raw, OWNER);
    kumo_err_ctx_t err = {0};
    int rc = kumo_sdl_stack_parse(kumo_bytes_make((const uint8_t *)stack_text, stack_len),
                                  "stack.yml", &stack, &err);
    if (rc != 0) {
        fail_msg("stack: %s", err.detail);
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(stack, &buf, NULL), 0);
    assert_int_equal(
        pd_deployment_store(home, OWNER, DSEQ, "manifest", kumo_bytes_make(buf.ptr, buf.len), NULL),
        0);
    kumo_buf_free(&buf);
    return 0;
}

static int setup_gpu(void **state)
{
    stack_text = gpu_stack_yaml;
    stack_len = sizeof(gpu_stack_yaml) - 1u;
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    stack_text = stack_yaml;
    stack_len = sizeof(stack_yaml) - 1u;
    kumo_sdl_stack_free(stack);
    kumo_test_tmpdir_remove(home);
    return 0;
}

static void test_reconcile_lifecycle(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    /* A container of ours no lease wants (an ended deployment). */
    fake_container_t *stray = &fake.cs[FAKE_MAX - 1u];
    stray->used = true;
    (void)snprintf(stray->c.id, sizeof(stray->c.id), "stray");
    (void)snprintf(stray->c.name, sizeof(stray->c.name), "/kumo-stray");
    (void)snprintf(stray->c.owner, sizeof(stray->c.owner), "%s", OWNER);
    stray->c.dseq = 3;
    stray->c.state = KUMO_RUNTIME_STATE_RUNNING;

    /* 1: the network first, no start; the stray goes. */
    assert_int_equal(pass(d), 2u);
    assert_int_equal(fake.net_creates, 1u);
    assert_int_equal(fake.runs, 0u);
    assert_int_equal(fake.removes, 1u);
    assert_int_equal(confirmations, 0u);

    /* 2: the network is known: its isolation rules go in force first, still no start (only
     * the sweep the stray's removal asked for, which keeps the network in use). */
    assert_int_equal(pass(d), 1u);
    assert_int_equal(fake.net_count, 1u);
    assert_int_equal(fake.runs, 0u);
    assert_int_equal(fake_applies, 2u); /* the first pass's: no network, tables removed */
    assert_non_null(strstr(fake_rules, "table inet kumo_provider"));
    assert_non_null(strstr(fake_rules, "ip saddr 10.89.0.0/24 drop"));
    assert_non_null(strstr(fake_rules, "ip daddr 10.89.0.0/24 drop")); /* bridged */
    /* db's port is the only one a rule lets a workload reach: open on the gateway only. */
    assert_non_null(strstr(fake_rules, "ip saddr 10.89.0.0/24 ip daddr 10.89.0.1 tcp dport { "
                                       "7000 } accept"));

    /* 3: every instance, on the network, reaching the others by name at the gateway. */
    assert_int_equal(pass(d), 3u);
    assert_int_equal(fake.runs, 3u);
    assert_int_equal(fake_applies, 2u); /* the same rules: not applied again */
    assert_int_equal(running(), 3u);
    const fake_container_t *web0 = fake_workload("web", 0);
    const fake_container_t *web1 = fake_workload("web", 1);
    const fake_container_t *db = fake_workload("db", 0);
    assert_non_null(web0);
    assert_non_null(web1);
    assert_non_null(db);
    assert_string_equal(web0->network, fake.nets[0]);
    assert_string_equal(db->network, fake.nets[0]);
    assert_int_equal(web0->c.port_count, 1u);
    assert_int_equal(web0->c.container_ports[0], 8080u);
    assert_true(web0->c.host_ports[0] >= 30000u && web0->c.host_ports[0] <= 30009u);
    assert_true(web1->c.host_ports[0] != web0->c.host_ports[0]);
    assert_int_equal(db->c.port_count, 1u);
    assert_int_equal(db->c.host_ports[0], 0u); /* only web may reach it: not published */
    assert_int_equal(web0->host_count, 1u);
    assert_string_equal(web0->hosts[0], "db:10.89.0.1");
    assert_int_equal(db->host_count, 1u);
    assert_string_equal(db->hosts[0], "web:10.89.0.1");
    assert_int_equal(confirmations, 0u); /* the pass queued them: not running yet */

    /* 4: everything runs: confirmed with the version, once. */
    assert_int_equal(pass(d), 0u);
    assert_int_equal(confirmations, 1u);
    assert_int_equal(versions, 1u);
    assert_int_equal(pass(d), 0u);
    assert_int_equal(fake.runs, 3u);
    assert_int_equal(confirmations, 1u);

    /* 5: db exits and is replaced (the old one removed first). */
    fake_container_t *dbm = (fake_container_t *)(uintptr_t)db;
    dbm->c.state = KUMO_RUNTIME_STATE_EXITED;
    assert_int_equal(pass(d), 1u);
    assert_int_equal(fake.runs, 4u);
    assert_int_equal(running(), 3u);
    assert_int_equal(fake.removes, 2u);

    /* 6: the lease closes: every container goes, then it is released, the network swept and
     * its rules gone with it. */
    lease_active = false;
    d->height += 10; /* past the resend window of the last confirmation */
    assert_int_equal(pass(d), 3u);
    assert_int_equal(running(), 0u);
    assert_int_equal(releases, 0u); /* its containers were still listed */
    (void)pass(d);
    assert_int_equal(releases, 1u);
    assert_int_equal(fake.net_count, 0u);
    assert_int_equal(fake.net_removes, 1u);
    (void)pass(d);
    assert_null(strstr(fake_rules, "10.89.0.0/24"));
    assert_non_null(strstr(fake_rules, "delete table inet kumo_provider"));
    daemon_free(d);
}

/* A start that fails (image missing) runs nothing and confirms nothing: the lease is refused
 * (its confirmation is due) and the start tried again; once the image is there it runs and
 * is confirmed. */
/* Stores, as the deployment's new manifest, the test stack with each `from` replaced by `to`. */
static void store_stack_edited(const char *from, const char *to)
{
    char text[sizeof(stack_yaml) + 64];
    const char *at = strstr(stack_yaml, from);
    assert_non_null(at);
    int n = snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - stack_yaml), stack_yaml, to,
                     at + strlen(from));
    assert_true(n > 0 && (size_t)n < sizeof(text));
    kumo_sdl_stack_t *st = NULL;
    kumo_err_ctx_t err = {0};
    if (kumo_sdl_stack_parse(kumo_bytes_make((const uint8_t *)text, (size_t)n), "stack.yml", &st,
                             &err) != 0) {
        fail_msg("stack: %s", err.detail);
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(st, &buf, NULL), 0);
    assert_int_equal(pd_manifest_store(home, OWNER, DSEQ, kumo_buf_bytes(&buf), NULL), 0);
    kumo_buf_free(&buf);
    kumo_sdl_stack_free(st);
}

/* A new version keeps the containers whose own spec did not change: web's count lowered
 * keeps web/0 and db (the same containers) and removes web/1; then db's image changed (and
 * web's count back at 2) replaces db, starts web/1 and keeps web/0. */
static void test_reconcile_update_keeps_unchanged(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    (void)pass(d); /* the network */
    (void)pass(d); /* its rules */
    assert_int_equal(pass(d), 3u);
    assert_int_equal(running(), 3u);
    char web0_id[KUMO_RUNTIME_ID_BYTES_MAX];
    char db_id[KUMO_RUNTIME_ID_BYTES_MAX];
    (void)snprintf(web0_id, sizeof(web0_id), "%s", fake_workload("web", 0)->c.id);
    (void)snprintf(db_id, sizeof(db_id), "%s", fake_workload("db", 0)->c.id);
    assert_true(fake_workload("db", 0)->c.spec[0] != '\0');
    uint32_t runs = fake.runs;
    uint32_t removes = fake.removes;

    store_stack_edited("    count: 2\n", "    count: 1\n");
    (void)pass(d);
    (void)pass(d);
    assert_int_equal(fake.runs, runs); /* nothing started */
    assert_int_equal(fake.removes, removes + 1u);
    assert_null(fake_workload("web", 1));
    assert_string_equal(fake_workload("web", 0)->c.id, web0_id);
    assert_string_equal(fake_workload("db", 0)->c.id, db_id);

    store_stack_edited("  db:\n    image: localhost/kumo-example:1\n",
                       "  db:\n    image: localhost/kumo-example:2\n");
    (void)pass(d);
    (void)pass(d);
    /* db replaced, and web runs twice again (the first edit is gone): web/0 kept, web/1 new. */
    assert_int_equal(fake.runs, runs + 2u);
    assert_string_not_equal(fake_workload("db", 0)->c.id, db_id);
    assert_string_equal(fake_workload("web", 0)->c.id, web0_id);
    assert_non_null(fake_workload("web", 1));
    assert_int_equal(running(), 3u);
    daemon_free(d);
}

static void test_reconcile_image_missing(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    fake.image_missing = true;
    (void)pass(d);
    (void)pass(d);
    (void)pass(d);
    assert_int_equal(fake.runs, 3u);
    assert_int_equal(running(), 0u);
    (void)pass(d);
    assert_int_equal(fake.runs, 6u);
    assert_int_equal(confirmations, 0u);
    assert_int_equal(d->refusal_count, 1u);
    assert_int_equal(refusals, 1u); /* due at once, not sent again within the resend window */
    fake.image_missing = false;
    (void)pass(d);
    assert_int_equal(running(), 3u);
    (void)pass(d);
    assert_int_equal(confirmations, 1u);
    assert_int_equal(d->refusal_count, 0u); /* it runs: no longer refused */
    daemon_free(d);
}

/* With more leases due than the node has room for, the room goes to those confirmed longest
 * ago, the rest wait for the next pass (no tx sent once one is refused), and no lease
 * starves behind others that come first in the table. */
static void test_reconcile_confirm_urgent_first(void **state)
{
    (void)state;
    many_leases = 200; /* over three txs of PD_CONFIRM_BATCH_MAX */
    kumo_provider_daemon_t *d = daemon_new();
    d->height = 1000; /* every lease due */
    for (uint32_t round = 0; round < 3; round++) {
        tx_room = 1;
        tx_refused = 0;
        uint32_t before = confirmed_count;
        (void)pass(d);
        assert_int_equal(confirmed_count - before, 64u);
        /* one refused tx per confirming step of the pass (two), not one per batch */
        assert_true(tx_refused >= 1u && tx_refused <= 2u);
        /* exactly the next 64 by last confirmation: many_confirmed(i) is a permutation of
         * 20 .. 20 + many_leases - 1 */
        for (uint32_t k = before; k < confirmed_count; k++) {
            uint64_t at = many_confirmed((uint32_t)(confirmed_dseq[k] - MANY_DSEQ));
            assert_true(at >= 20u + before && at < 20u + before + 64u);
        }
    }
    daemon_free(d);
}

/* Without isolation rules in force no container starts (fail closed); once they apply, all do. */
static void test_reconcile_isolation_fails_closed(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    fake_nft_broken = true;
    for (int i = 0; i < 4; i++) {
        (void)pass(d);
    }
    assert_int_equal(fake.net_creates, 1u);
    assert_int_equal(fake.runs, 0u);
    assert_int_equal(confirmations, 0u);
    fake_nft_broken = false;
    (void)pass(d); /* the rules go in force */
    assert_int_equal(fake.runs, 0u);
    (void)pass(d);
    assert_int_equal(running(), 3u);
    daemon_free(d);
}

/* Three GPUs of the daemon: a device node, a node at another container path, a CDI name. */
static void gpu_cfg(kumo_provider_daemon_t *d)
{
    static const char *const devices[3] = {"/dev/g0", "/dev/g1:/dev/kumo-gpu1", "nvidia.com/gpu=2"};
    for (uint32_t i = 0; i < 3; i++) {
        kumo_provider_gpu_t *g = &d->cfg.gpus[i];
        (void)snprintf(g->vendor, sizeof(g->vendor), "nvidia");
        (void)snprintf(g->model, sizeof(g->model), "t4");
        g->memory_bytes = 1u << 30;
        (void)snprintf(g->device, sizeof(g->device), "%s", devices[i]);
    }
    d->cfg.gpu_count = 3;
}

/* The lease's hold, owning GPUs a then b (in that order: unit 0's, unit 1's). */
static void gpu_hold(kumo_provider_daemon_t *d, uint8_t a, uint8_t b)
{
    pd_hold_t *h = &d->holds[0];
    memset(h, 0, sizeof(*h));
    (void)snprintf(h->order, sizeof(h->order), "%s/%u/0/1", OWNER, DSEQ);
    h->lease = true;
    h->bid.gpus[0] = a;
    h->bid.gpus[1] = b;
    h->bid.gpu_count = 2;
    h->bid.gpu_mask = (1ull << a) | (1ull << b);
    d->hold_count = 1;
}

/* Each instance on a GPU unit gets exactly its unit's GPU of the lease's list: train/0 the
 * first, train/1 the second (its device entries, and kumo.gpus); web none. Without the hold
 * (right after a restart) no GPU instance starts and running ones are left alone; a
 * reassigned GPU replaces only the container it concerns. */
static void test_reconcile_gpus(void **state)
{
    (void)state;
    kumo_provider_daemon_t *d = daemon_new();
    gpu_cfg(d);
    (void)pass(d); /* the network */
    (void)pass(d); /* its rules */
    (void)pass(d);
    assert_int_equal(fake.runs, 1u); /* web only: the GPU instances have no hold yet */
    assert_non_null(fake_workload("web", 0));
    assert_null(fake_workload("train", 0));
    assert_int_equal(fake_workload("web", 0)->device_count, 0u);
    assert_int_equal(confirmations, 0u);

    gpu_hold(d, 2, 0);
    (void)pass(d);
    assert_int_equal(fake.runs, 3u);
    const fake_container_t *t0 = fake_workload("train", 0);
    const fake_container_t *t1 = fake_workload("train", 1);
    assert_non_null(t0);
    assert_non_null(t1);
    assert_int_equal(t0->device_count, 1u);
    assert_string_equal(t0->devices[0], "nvidia.com/gpu=2");
    assert_string_equal(t0->c.gpus, "2");
    assert_int_equal(t1->device_count, 1u);
    assert_string_equal(t1->devices[0], "/dev/g0");
    assert_string_equal(t1->c.gpus, "0");
    (void)pass(d);
    assert_int_equal(confirmations, 1u);
    assert_int_equal(fake.runs, 3u);
    char t1_id[KUMO_RUNTIME_ID_BYTES_MAX];
    (void)snprintf(t1_id, sizeof(t1_id), "%s", t1->c.id);

    /* Unit 0's GPU reassigned (home/gpus lost): train/0 is replaced, train/1 stays. */
    gpu_hold(d, 1, 0);
    (void)pass(d);
    assert_int_equal(fake.runs, 4u);
    t0 = fake_workload("train", 0);
    t1 = fake_workload("train", 1);
    assert_string_equal(t0->devices[0], "/dev/g1:/dev/kumo-gpu1");
    assert_string_equal(t0->c.gpus, "1");
    assert_string_equal(t1->c.id, t1_id);

    /* No hold (a restart before the holds are rebuilt): nothing is replaced. */
    d->hold_count = 0;
    (void)pass(d);
    (void)pass(d);
    assert_int_equal(fake.runs, 4u);
    assert_int_equal(running(), 3u);
    daemon_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconcile_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_update_keeps_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_image_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_confirm_urgent_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_isolation_fails_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_gpus, setup_gpu, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
