/*
 * test_keep.c - whether a new manifest version keeps a running container (src/provider/keep.c):
 * the spec digest of an instance changes with each field of its workload that reaches the
 * container (image, command, env, a secret's opened value, compute, group, ports and their
 * expose rules, volumes, a file's path, mode or content, its instance index, the names of the
 * workloads it may connect to) and not with its count, another workload's change, a workload
 * it cannot reach added, or a secret sealed again; it is keyed (another key, another digest); a
 * container is kept when it runs and is of the version or carries the digest; a lowered count
 * leaves the highest instances unwanted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provider/daemon_int.h"

typedef struct fixture {
    Kumo__Manifest m;
    Kumo__ManifestWorkload a, b, c;
    Kumo__ManifestWorkload *ws[3];
    Kumo__ManifestPort bport;
    Kumo__ManifestPort *bports[1];
    Kumo__ManifestConnection bconn;
    Kumo__ManifestConnection *bconns[1];
    Kumo__ManifestPort cport;
    Kumo__ManifestPort *cports[1];
    Kumo__ManifestConnection cconn;
    Kumo__ManifestConnection *cconns[1];
    char *cmd[2];
    Kumo__ManifestEnv env0, env1;
    Kumo__ManifestEnv *envs[2];
    Kumo__ComputeUnit cu;
    Kumo__ManifestPort port;
    Kumo__ManifestPort *ports[1];
    Kumo__ManifestConnection conn;
    Kumo__ManifestConnection *conns[1];
    Kumo__ManifestVolume vol;
    Kumo__ManifestVolume *vols[1];
    Kumo__ManifestFile file;
    Kumo__ManifestFile *files[1];
    uint8_t content[4];
    /* The env as the provider opens it: "KEY=value", the secret's value opened. */
    char env_text[2][64];
    const char *env_open[3];
} fixture_t;

static const uint8_t KEY[KUMO_CRYPTO_HASH_BYTES] = {1, 2, 3};

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    kumo__manifest__init(&f->m);
    kumo__manifest_workload__init(&f->a);
    kumo__manifest_workload__init(&f->b);
    kumo__manifest_workload__init(&f->c);
    kumo__manifest_port__init(&f->bport);
    kumo__manifest_connection__init(&f->bconn);
    kumo__manifest_port__init(&f->cport);
    kumo__manifest_connection__init(&f->cconn);
    kumo__manifest_env__init(&f->env0);
    kumo__manifest_env__init(&f->env1);
    kumo__compute_unit__init(&f->cu);
    kumo__manifest_port__init(&f->port);
    kumo__manifest_connection__init(&f->conn);
    kumo__manifest_volume__init(&f->vol);
    kumo__manifest_file__init(&f->file);
    f->cmd[0] = "serve";
    f->cmd[1] = "--fast";
    f->env0.key = "MODE";
    f->env0.value = "prod";
    f->env0.secret = "";
    f->env1.key = "TOKEN";
    f->env1.value = "";
    f->env1.secret = "token";
    f->envs[0] = &f->env0;
    f->envs[1] = &f->env1;
    f->cu.cpu_milli = 100;
    f->cu.memory_bytes = 64u << 20;
    f->cu.storage_bytes = 64u << 20;
    f->conn.workload = "b";
    f->conn.group = "";
    f->conns[0] = &f->conn;
    f->port.port = 8080;
    f->port.protocol = "tcp";
    f->port.n_expose = 1;
    f->port.expose = f->conns;
    f->ports[0] = &f->port;
    f->vol.name = "data";
    f->vol.size_bytes = 1u << 20;
    f->vol.mount = "/data";
    f->vols[0] = &f->vol;
    memcpy(f->content, "abcd", 4);
    f->file.path = "/etc/app.conf";
    f->file.mode = 0644;
    f->file.content = (ProtobufCBinaryData){.len = 4, .data = f->content};
    f->files[0] = &f->file;
    f->a.name = "a";
    f->a.image = "localhost/app:1";
    f->a.n_command = 2;
    f->a.command = f->cmd;
    f->a.n_env = 2;
    f->a.env = f->envs;
    f->a.compute = &f->cu;
    f->a.count = 3;
    f->a.group = "g1";
    f->a.n_ports = 1;
    f->a.ports = f->ports;
    f->a.n_volumes = 1;
    f->a.volumes = f->vols;
    f->a.n_files = 1;
    f->a.files = f->files;
    f->b.name = "b";
    f->b.image = "localhost/db:1";
    f->b.count = 1;
    f->b.group = "g2";
    f->bconn.workload = "a"; /* a reaches b by name */
    f->bconn.group = "";
    f->bconns[0] = &f->bconn;
    f->bport.port = 5432;
    f->bport.protocol = "tcp";
    f->bport.n_expose = 1;
    f->bport.expose = f->bconns;
    f->bports[0] = &f->bport;
    f->b.n_ports = 1;
    f->b.ports = f->bports;
    f->c.name = "c"; /* a workload only added by some rows */
    f->c.image = "localhost/c:1";
    f->c.count = 1;
    f->c.group = "g3";
    f->cconn.workload = "";
    f->cconn.group = "g1"; /* a's group */
    f->cconns[0] = &f->cconn;
    f->cport.port = 9000;
    f->cport.protocol = "tcp";
    f->cport.n_expose = 1;
    f->cport.expose = f->cconns;
    f->cports[0] = &f->cport;
    f->ws[0] = &f->a;
    f->ws[1] = &f->b;
    f->ws[2] = &f->c;
    f->m.n_workloads = 2;
    f->m.workloads = f->ws;
    (void)snprintf(f->env_text[0], sizeof(f->env_text[0]), "MODE=prod");
    (void)snprintf(f->env_text[1], sizeof(f->env_text[1]), "TOKEN=s3cret");
    f->env_open[0] = f->env_text[0];
    f->env_open[1] = f->env_text[1];
    f->env_open[2] = NULL;
}

static void digest_of(fixture_t *f, uint32_t instance, char out[PD_SPEC_DIGEST_TEXT_BYTES])
{
    assert_int_equal(pd_spec_digest(KEY, &f->m, &f->a, instance, f->env_open, out, NULL), 0);
    assert_int_equal(strlen(out), 2u * KUMO_CRYPTO_HASH_BYTES);
}

/* ---- one change to the fixture each ---- */

static void ch_image(fixture_t *f)
{
    f->a.image = "localhost/app:2";
}
static void ch_command(fixture_t *f)
{
    f->cmd[1] = "--slow";
}
static void ch_command_count(fixture_t *f)
{
    f->a.n_command = 1;
}
static void ch_env_value(fixture_t *f)
{
    (void)snprintf(f->env_text[0], 64, "MODE=dev");
}
static void ch_env_dropped(fixture_t *f)
{
    f->env_open[1] = NULL;
}
static void ch_secret_value(fixture_t *f)
{
    (void)snprintf(f->env_text[1], 64, "TOKEN=other");
}
static void ch_cpu(fixture_t *f)
{
    f->cu.cpu_milli = 200;
}
static void ch_memory(fixture_t *f)
{
    f->cu.memory_bytes = 128u << 20;
}
static void ch_storage(fixture_t *f)
{
    f->cu.storage_bytes = 128u << 20;
}
static void ch_group(fixture_t *f)
{
    f->a.group = "g3";
}
static void ch_port(fixture_t *f)
{
    f->port.port = 8081;
}
static void ch_expose(fixture_t *f)
{
    f->conn.global = true;
}
static void ch_expose_to(fixture_t *f)
{
    f->conn.workload = "c";
}
static void ch_volume_size(fixture_t *f)
{
    f->vol.size_bytes = 2u << 20;
}
static void ch_volume_mount(fixture_t *f)
{
    f->vol.mount = "/var/data";
}
static void ch_volume_persistent(fixture_t *f)
{
    f->vol.persistent = true;
}
static void ch_file_content(fixture_t *f)
{
    f->content[3] = 'e';
}
static void ch_file_mode(fixture_t *f)
{
    f->file.mode = 0600;
}
static void ch_file_path(fixture_t *f)
{
    f->file.path = "/etc/other.conf";
}
static void ch_other_name(fixture_t *f)
{
    f->b.name = "d";
}
static void ch_other_removed(fixture_t *f)
{
    f->m.n_workloads = 1;
}

/* ---- no change to the container ---- */

static void same_count_up(fixture_t *f)
{
    f->a.count = 5;
}
static void same_count_down(fixture_t *f)
{
    f->a.count = 1;
}
static void same_other_image(fixture_t *f)
{
    f->b.image = "localhost/db:2";
}
static void same_other_count(fixture_t *f)
{
    f->b.count = 4;
}
static void same_other_group(fixture_t *f)
{
    f->b.group = "g4";
}
static void same_secret_resealed(fixture_t *f)
{
    f->env1.secret = "token";
} /* sealed anew */

static void ch_other_unreachable(fixture_t *f)
{
    f->bconn.workload = "z";
}

static void ch_reachable_added(fixture_t *f)
{
    f->m.n_workloads = 3;
    f->c.n_ports = 1;
    f->c.ports = f->bports; /* its rule names workload a */
}

static void ch_reachable_by_group_added(fixture_t *f)
{
    f->m.n_workloads = 3;
    f->c.n_ports = 1;
    f->c.ports = f->cports; /* its rule names a's group */
}

static void same_unreachable_added(fixture_t *f)
{
    f->m.n_workloads = 3;
}

static void same_global_added(fixture_t *f)
{
    f->m.n_workloads = 3;
    f->cconn.group = "";
    f->cconn.global = true; /* reached at the public address, not by name */
    f->c.n_ports = 1;
    f->c.ports = f->cports;
}

typedef struct row {
    const char *what;
    void (*change)(fixture_t *f);
    bool kept;
} row_t;

static const row_t rows[] = {
    {"image", ch_image, false},
    {"command argument", ch_command, false},
    {"command length", ch_command_count, false},
    {"env value", ch_env_value, false},
    {"env entry removed", ch_env_dropped, false},
    {"secret's opened value", ch_secret_value, false},
    {"cpu", ch_cpu, false},
    {"memory", ch_memory, false},
    {"storage", ch_storage, false},
    {"group", ch_group, false},
    {"port", ch_port, false},
    {"expose rule", ch_expose, false},
    {"expose rule's workload", ch_expose_to, false},
    {"volume size", ch_volume_size, false},
    {"volume mount", ch_volume_mount, false},
    {"volume persistence", ch_volume_persistent, false},
    {"file content", ch_file_content, false},
    {"file mode", ch_file_mode, false},
    {"file path", ch_file_path, false},
    {"a workload it reaches renamed (its hosts entry)", ch_other_name, false},
    {"a workload it reaches removed (its hosts entry)", ch_other_removed, false},
    {"a workload it reaches no longer reachable", ch_other_unreachable, false},
    {"a workload it reaches added", ch_reachable_added, false},
    {"a workload its group reaches added", ch_reachable_by_group_added, false},
    {"its count raised", same_count_up, true},
    {"its count lowered", same_count_down, true},
    {"another workload's image", same_other_image, true},
    {"another workload's count", same_other_count, true},
    {"another workload's group", same_other_group, true},
    {"a secret sealed again", same_secret_resealed, true},
    {"a workload it cannot reach added", same_unreachable_added, true},
    {"a workload with only a global port added", same_global_added, true},
};

static void test_keep_table(void **state)
{
    (void)state;
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char before[PD_SPEC_DIGEST_TEXT_BYTES];
    char after[PD_SPEC_DIGEST_TEXT_BYTES];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fixture_init(f);
        digest_of(f, 0, before);
        rows[i].change(f);
        digest_of(f, 0, after);
        kumo_runtime_container_t c = {.state = KUMO_RUNTIME_STATE_RUNNING};
        (void)snprintf(c.version, sizeof(c.version), "%064d", 1);
        (void)snprintf(c.spec, sizeof(c.spec), "%s", before);
        char version[65];
        (void)snprintf(version, sizeof(version), "%064d", 2);
        bool kept = pd_container_keep(&c, version, after);
        if (kept != rows[i].kept) {
            fail_msg("%s: kept=%d, want %d", rows[i].what, kept, rows[i].kept);
        }
    }
    free(f);
}

/* The same input gives the same digest (a restarted daemon finds its containers kept); each
 * instance has its own; another key gives another; the secret's value is not in the text. */
static void test_keep_digest_stable_keyed(void **state)
{
    (void)state;
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_init(f);
    char d0[PD_SPEC_DIGEST_TEXT_BYTES];
    char d0b[PD_SPEC_DIGEST_TEXT_BYTES];
    char d1[PD_SPEC_DIGEST_TEXT_BYTES];
    char other[PD_SPEC_DIGEST_TEXT_BYTES];
    digest_of(f, 0, d0);
    digest_of(f, 0, d0b);
    digest_of(f, 1, d1);
    assert_string_equal(d0, d0b);
    assert_string_not_equal(d0, d1);
    const uint8_t key2[KUMO_CRYPTO_HASH_BYTES] = {9};
    assert_int_equal(pd_spec_digest(key2, &f->m, &f->a, 0, f->env_open, other, NULL), 0);
    assert_string_not_equal(d0, other);
    assert_null(strstr(d0, "s3cret"));
    /* The key comes from the account key: one key, one digest key. */
    kumo_crypto_keypair_t kp1;
    kumo_crypto_keypair_t kp2;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {7};
    kumo_crypto_key_from_seed(seed, &kp1);
    seed[0] = 8;
    kumo_crypto_key_from_seed(seed, &kp2);
    uint8_t k1[KUMO_CRYPTO_HASH_BYTES];
    uint8_t k1b[KUMO_CRYPTO_HASH_BYTES];
    uint8_t k2[KUMO_CRYPTO_HASH_BYTES];
    pd_spec_key(&kp1, k1);
    pd_spec_key(&kp1, k1b);
    pd_spec_key(&kp2, k2);
    assert_memory_equal(k1, k1b, sizeof(k1));
    assert_memory_not_equal(k1, k2, sizeof(k1));
    free(f);
}

/* Kept: running and of the version, or running and carrying the digest. Replaced: exited, a
 * digest of another spec, no digest label (a container of an older daemon), none computed. */
static void test_keep_container(void **state)
{
    (void)state;
    char v1[65];
    char v2[65];
    (void)snprintf(v1, sizeof(v1), "%064d", 1);
    (void)snprintf(v2, sizeof(v2), "%064d", 2);
    kumo_runtime_container_t c = {.state = KUMO_RUNTIME_STATE_RUNNING};
    (void)snprintf(c.version, sizeof(c.version), "%s", v1);
    (void)snprintf(c.spec, sizeof(c.spec), "%s", "ab");
    assert_true(pd_container_keep(&c, v1, NULL));
    assert_true(pd_container_keep(&c, v2, "ab"));
    assert_false(pd_container_keep(&c, v2, "cd"));
    assert_false(pd_container_keep(&c, v2, NULL));
    c.spec[0] = '\0';
    assert_false(pd_container_keep(&c, v2, ""));
    (void)snprintf(c.spec, sizeof(c.spec), "%s", "ab");
    c.state = KUMO_RUNTIME_STATE_EXITED;
    assert_false(pd_container_keep(&c, v1, NULL));
    assert_false(pd_container_keep(&c, v2, "ab"));
}

/* A count lowered from 3 to 1: instance 0 keeps its digest (kept), instances 1 and 2 are no
 * longer wanted (the pass wants instances below the count only, and removes the rest). */
static void test_keep_count_lowered(void **state)
{
    (void)state;
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    fixture_init(f);
    char before[3][PD_SPEC_DIGEST_TEXT_BYTES];
    for (uint32_t i = 0; i < 3; i++) {
        digest_of(f, i, before[i]);
    }
    f->a.count = 1;
    char after[PD_SPEC_DIGEST_TEXT_BYTES];
    digest_of(f, 0, after);
    assert_string_equal(before[0], after);
    for (uint32_t i = 1; i < 3; i++) {
        assert_false(i < f->a.count); /* not wanted: removed */
    }
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_table),
        cmocka_unit_test(test_keep_digest_stable_keyed),
        cmocka_unit_test(test_keep_container),
        cmocka_unit_test(test_keep_count_lowered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
