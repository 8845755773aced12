/*
 * test_check.c - proves every rule of kumo_sdl_manifest_check (a received manifest against
 * the deployment's on-chain groups): each row breaks one thing in a valid manifest (itself
 * asserted to pass) and expects one code; every limit is tested at MAX (accepted) and MAX+1
 * (refused). The manifests are built in static memory, so rows can point at anything; and a
 * manifest made by the stack parser passes against its own groups and fails against groups
 * with smaller units.
 */
#include <string.h>

#include "helpers/testutil.h"

#include "codec/codec.h"
#include "unit/sdl/sdl_fixture.h"

#define FX_WORKLOADS (KUMO_SDL_WORKLOAD_COUNT_MAX + 1u)
#define FX_PORTS     (KUMO_SDL_PORT_COUNT_MAX + 1u)
#define FX_RULES     (KUMO_SDL_RULE_COUNT_MAX + 1u)
#define FX_ENV       (KUMO_SDL_ENV_COUNT_MAX + 1u)
#define FX_COMMAND   (KUMO_SDL_COMMAND_COUNT_MAX + 1u)
#define FX_GROUPS    (KUMO_DEPLOYMENT_GROUP_LIFE_MAX + 1u)
#define FX_VOLUMES   (KUMO_SDL_VOLUME_COUNT_MAX + 1u)
#define FX_FILES     (KUMO_SDL_FILE_COUNT_MAX + 1u)

/* The valid base: group g1 (3 units of 500m/512Mi/1Gi), g2 (1 unit of 1/1Gi/10Gi); workload
 * web (2 instances in g1, port 80 global and 81 for db), db (1 in g2, port 7000 for web and
 * group g1). Rows change one thing. */
typedef struct fx {
    Kumo__ComputeUnit small, big, wsmall, wbig;
    Kumo__ResourceGroup res[2];
    Kumo__ResourceGroup *res_ptrs[2][1];
    Kumo__GroupSpec groups[FX_GROUPS];
    Kumo__GroupSpec *group_ptrs[FX_GROUPS];
    char group_names[FX_GROUPS][8];
    size_t group_count;
    Kumo__ManifestWorkload w[FX_WORKLOADS];
    Kumo__ManifestWorkload *w_ptrs[FX_WORKLOADS];
    char names[FX_WORKLOADS][8];
    Kumo__ManifestPort ports[FX_PORTS];
    Kumo__ManifestPort *port_ptrs[FX_PORTS];
    Kumo__ManifestPort db_port;
    Kumo__ManifestPort *db_port_ptrs[1];
    Kumo__ManifestConnection rules[FX_RULES];
    Kumo__ManifestConnection *rule_ptrs[FX_RULES];
    Kumo__ManifestConnection db_rules[2];
    Kumo__ManifestConnection *db_rule_ptrs[2];
    Kumo__ManifestEnv env[FX_ENV];
    Kumo__ManifestEnv *env_ptrs[FX_ENV];
    char env_keys[FX_ENV][8];
    char *command[FX_COMMAND];
    Kumo__ManifestVolume vol[FX_VOLUMES];
    Kumo__ManifestVolume *vol_ptrs[FX_VOLUMES];
    char vol_names[FX_VOLUMES][8];
    char vol_mounts[FX_VOLUMES][16];
    char mount[KUMO_SDL_MOUNT_BYTES_MAX + 2u];
    Kumo__ManifestFile file[FX_FILES];
    Kumo__ManifestFile *file_ptrs[FX_FILES];
    char file_paths[FX_FILES][24];
    uint8_t file_byte;
    char text[KUMO_SDL_ENV_VALUE_BYTES_MAX + 2u]; /* long strings: 'a' * n */
    Kumo__Manifest m;
} fx_t;

static fx_t fx;

static char *fx_text(size_t len)
{
    assert_true(len < sizeof(fx.text));
    memset(fx.text, 'a', len);
    fx.text[len] = '\0';
    return fx.text;
}

static void fx_groups(void)
{
    kumo__compute_unit__init(&fx.small);
    fx.small = (Kumo__ComputeUnit){fx.small.base, 500, 512ull << 20, 1ull << 30, NULL};
    fx.big = (Kumo__ComputeUnit){fx.small.base, 1000, 1ull << 30, 10ull << 30, NULL};
    fx.wsmall = fx.small;
    fx.wbig = fx.big;
    for (size_t i = 0; i < 2; i++) {
        kumo__resource_group__init(&fx.res[i]);
        fx.res[i].compute = i == 0 ? &fx.small : &fx.big;
        fx.res[i].count = i == 0 ? 3u : 1u;
        fx.res[i].price = 1;
        fx.res_ptrs[i][0] = &fx.res[i];
    }
    for (size_t i = 0; i < FX_GROUPS; i++) {
        kumo__group_spec__init(&fx.groups[i]);
        (void)snprintf(fx.group_names[i], sizeof(fx.group_names[i]), "g%zu", i + 1u);
        fx.groups[i].name = fx.group_names[i];
        fx.groups[i].region = "us-east";
        fx.groups[i].n_resources = 1;
        fx.groups[i].resources = fx.res_ptrs[i == 0 ? 0 : 1];
        fx.group_ptrs[i] = &fx.groups[i];
    }
    fx.group_count = 2;
}

static void fx_workload(size_t i, const char *group, Kumo__ComputeUnit *cu, uint32_t count)
{
    Kumo__ManifestWorkload *w = &fx.w[i];
    kumo__manifest_workload__init(w);
    (void)snprintf(fx.names[i], sizeof(fx.names[i]), "w%zu", i);
    w->name = i == 0 ? "web" : i == 1 ? "db" : fx.names[i];
    w->image = "img:1";
    w->compute = cu;
    w->count = count;
    w->group = (char *)(uintptr_t)group;
    fx.w_ptrs[i] = w;
}

static void fx_reset(void)
{
    memset(&fx, 0, sizeof(fx));
    fx_groups();
    fx_workload(0, "g1", &fx.wsmall, 2);
    fx_workload(1, "g2", &fx.wbig, 1);
    for (size_t i = 0; i < FX_RULES; i++) {
        kumo__manifest_connection__init(&fx.rules[i]);
        fx.rule_ptrs[i] = &fx.rules[i];
    }
    fx.rules[0].global = 1;
    fx.rules[1].workload = "db";
    for (size_t i = 0; i < FX_PORTS; i++) {
        kumo__manifest_port__init(&fx.ports[i]);
        fx.ports[i].port = 80u + (uint32_t)i;
        fx.ports[i].protocol = "tcp";
        fx.ports[i].n_expose = 1;
        fx.ports[i].expose = &fx.rule_ptrs[i == 0 ? 0 : 1];
        fx.port_ptrs[i] = &fx.ports[i];
    }
    fx.w[0].n_ports = 2;
    fx.w[0].ports = fx.port_ptrs;
    for (size_t i = 0; i < FX_ENV; i++) {
        kumo__manifest_env__init(&fx.env[i]);
        (void)snprintf(fx.env_keys[i], sizeof(fx.env_keys[i]), "K%zu", i);
        fx.env[i].key = fx.env_keys[i];
        fx.env[i].value = "v";
        fx.env_ptrs[i] = &fx.env[i];
    }
    fx.w[0].n_env = 1;
    fx.w[0].env = fx.env_ptrs;
    for (size_t i = 0; i < FX_COMMAND; i++) {
        fx.command[i] = "sh";
    }
    fx.w[0].n_command = 1;
    fx.w[0].command = fx.command;
    kumo__manifest_connection__init(&fx.db_rules[0]);
    kumo__manifest_connection__init(&fx.db_rules[1]);
    fx.db_rules[0].workload = "web";
    fx.db_rules[1].group = "g1";
    fx.db_rule_ptrs[0] = &fx.db_rules[0];
    fx.db_rule_ptrs[1] = &fx.db_rules[1];
    kumo__manifest_port__init(&fx.db_port);
    fx.db_port = (Kumo__ManifestPort){fx.db_port.base, 7000, "tcp", 2, fx.db_rule_ptrs};
    fx.db_port_ptrs[0] = &fx.db_port;
    fx.w[1].n_ports = 1;
    fx.w[1].ports = fx.db_port_ptrs;
    for (size_t i = 0; i < FX_VOLUMES; i++) { /* v0 at /data0 ... of 64 MiB each, unused */
        kumo__manifest_volume__init(&fx.vol[i]);
        (void)snprintf(fx.vol_names[i], sizeof(fx.vol_names[i]), "v%zu", i);
        (void)snprintf(fx.vol_mounts[i], sizeof(fx.vol_mounts[i]), "/data%zu", i);
        fx.vol[i].name = fx.vol_names[i];
        fx.vol[i].mount = fx.vol_mounts[i];
        fx.vol[i].size_bytes = 64ull << 20;
        fx.vol[i].persistent = 1;
        fx.vol_ptrs[i] = &fx.vol[i];
    }
    fx.w[0].volumes = fx.vol_ptrs;
    for (size_t i = 0; i < FX_FILES; i++) { /* /etc/app/f0 ... 0644, one byte, unused */
        kumo__manifest_file__init(&fx.file[i]);
        (void)snprintf(fx.file_paths[i], sizeof(fx.file_paths[i]), "/etc/app/f%zu", i);
        fx.file[i].path = fx.file_paths[i];
        fx.file[i].mode = 0644u;
        fx.file[i].content.data = &fx.file_byte;
        fx.file[i].content.len = 1;
        fx.file_ptrs[i] = &fx.file[i];
    }
    fx.w[0].files = fx.file_ptrs;
    kumo__manifest__init(&fx.m);
    fx.m.n_workloads = 2;
    fx.m.workloads = fx.w_ptrs;
}

/* Workloads w2..w(n-1) in g1, one instance each, with enough units for all of them. */
static void fx_workloads(size_t n)
{
    fx.res[0].count = KUMO_RESOURCE_UNIT_COUNT_MAX;
    for (size_t i = 2; i < n; i++) {
        fx_workload(i, "g1", &fx.wsmall, 1);
    }
    fx.m.n_workloads = n;
}

/* ---- rows ---- */

static void m_file_one(void)
{
    fx.w[0].n_files = 1;
}
static void m_files_max(void)
{
    fx.w[0].n_files = KUMO_SDL_FILE_COUNT_MAX;
}
static void m_files_max_plus_one(void)
{
    fx.w[0].n_files = KUMO_SDL_FILE_COUNT_MAX + 1u;
}
static void m_file_path_relative(void)
{
    m_file_one();
    fx.file[0].path = "etc/app.conf";
}
static void m_file_path_missing(void)
{
    m_file_one();
    fx.file[0].path = NULL;
}
static void m_file_path_proc(void)
{
    m_file_one();
    fx.file[0].path = "/proc/self/environ";
}
static void m_file_path_sys(void)
{
    m_file_one();
    fx.file[0].path = "/sys/x";
}
static void m_file_path_dev(void)
{
    m_file_one();
    fx.file[0].path = "/dev/shm/x";
}
static void m_file_path_dotdot(void)
{
    m_file_one();
    fx.file[0].path = "/etc/../proc/x";
}
static void m_file_path_root(void)
{
    m_file_one();
    fx.file[0].path = "/";
}
static void m_file_path_trailing(void)
{
    m_file_one();
    fx.file[0].path = "/etc/app/";
}
static void m_file_mode_world_writable(void)
{
    m_file_one();
    fx.file[0].mode = 0666u;
}
static void m_file_mode_setuid(void)
{
    m_file_one();
    fx.file[0].mode = 04755u;
}
static void m_file_mode_unreadable(void)
{
    m_file_one();
    fx.file[0].mode = 0200u;
}
static void m_file_mode_owner_only(void)
{
    m_file_one();
    fx.file[0].mode = 0600u;
}
static void m_file_path_twice(void)
{
    fx.w[0].n_files = 2;
    fx.file[1].path = "/etc/app/f0";
}
static void m_file_path_nested(void)
{
    fx.w[0].n_files = 2;
    fx.file[1].path = "/etc/app/f0/inner";
}
static void m_file_under_volume(void)
{
    fx.w[0].n_volumes = 1;
    m_file_one();
    fx.file[0].path = "/data0/config";
}
static void m_file_above_volume(void)
{
    fx.w[0].n_volumes = 1;
    m_file_one();
    fx.file[0].path = "/data0";
}

static void m_none(void)
{
}
static void m_count_zero(void)
{
    fx.w[0].count = 0;
}
static void m_count_u32_max(void)
{
    fx.w[0].count = UINT32_MAX;
}
static void m_count_units(void)
{
    fx.w[0].count = 3; /* all 3 units of g1 */
}
static void m_count_units_plus_one(void)
{
    fx.w[0].count = 4;
}
static void m_two_share_units(void)
{
    fx_workload(2, "g1", &fx.wsmall, 2); /* 2 + 2 > 3 */
    fx.m.n_workloads = 3;
}
static void m_cpu_bigger(void)
{
    fx.wsmall.cpu_milli = 501;
}
static void m_memory_bigger(void)
{
    fx.wsmall.memory_bytes++;
}
static void m_storage_bigger(void)
{
    fx.wbig.storage_bytes = UINT64_MAX;
}
static void m_other_groups_unit(void)
{
    fx.w[0].compute = &fx.wbig; /* g2's unit, placed in g1 */
}
static void m_no_compute(void)
{
    fx.w[0].compute = NULL;
}
static void m_unknown_group(void)
{
    fx.w[1].group = "g3";
}
static void m_empty_group(void)
{
    fx.w[1].group = "";
}
static void m_rule_unknown_workload(void)
{
    fx.rules[1].workload = "cache";
}
static void m_rule_unknown_group(void)
{
    fx.db_rules[1].group = "g9";
}
static void m_rule_empty(void)
{
    fx.rules[0].global = 0;
}
static void m_rule_two_kinds(void)
{
    fx.rules[1].global = 1;
}
static void m_rule_twice(void)
{
    fx.db_rules[1] = fx.db_rules[0];
}
static void m_port_zero(void)
{
    fx.ports[0].port = 0;
}
static void m_port_over(void)
{
    fx.ports[0].port = 65536;
}
static void m_port_udp(void)
{
    fx.ports[1].protocol = "udp";
}
static void m_port_twice(void)
{
    fx.ports[1].port = 80;
}
static void m_name_upper(void)
{
    fx.w[1].name = "Db";
}
static void m_name_empty(void)
{
    fx.w[1].name = "";
}
static void m_name_dash_end(void)
{
    fx.w[1].name = "db-";
}
static void m_name_max(void)
{
    fx.w[1].name = fx_text(KUMO_SDL_NAME_BYTES_MAX);
    fx.rules[1].workload = fx.w[1].name;
}
static void m_name_max_plus_one(void)
{
    fx.w[1].name = fx_text(KUMO_SDL_NAME_BYTES_MAX + 1u);
}
static void m_name_twice(void)
{
    fx.w[1].name = "web";
}
static void m_image_empty(void)
{
    fx.w[0].image = "";
}
static void m_image_space(void)
{
    fx.w[0].image = "img :1";
}
static void m_image_max(void)
{
    fx.w[0].image = fx_text(KUMO_SDL_IMAGE_BYTES_MAX);
}
static void m_image_max_plus_one(void)
{
    fx.w[0].image = fx_text(KUMO_SDL_IMAGE_BYTES_MAX + 1u);
}
static void m_command_max(void)
{
    fx.w[0].n_command = KUMO_SDL_COMMAND_COUNT_MAX;
}
static void m_command_max_plus_one(void)
{
    fx.w[0].n_command = KUMO_SDL_COMMAND_COUNT_MAX + 1u;
}
static void m_arg_max(void)
{
    fx.command[0] = fx_text(KUMO_SDL_COMMAND_ARG_BYTES_MAX);
}
static void m_arg_max_plus_one(void)
{
    fx.command[0] = fx_text(KUMO_SDL_COMMAND_ARG_BYTES_MAX + 1u);
}
static void m_env_max(void)
{
    fx.w[0].n_env = KUMO_SDL_ENV_COUNT_MAX;
}
static void m_env_max_plus_one(void)
{
    fx.w[0].n_env = KUMO_SDL_ENV_COUNT_MAX + 1u;
}
static void m_env_key_digit(void)
{
    fx.env[0].key = "1A";
}
static void m_env_key_empty(void)
{
    fx.env[0].key = "";
}
static void m_env_key_max_plus_one(void)
{
    fx.env[0].key = fx_text(KUMO_SDL_ENV_KEY_BYTES_MAX + 1u);
}
static void m_env_value_max(void)
{
    fx.env[0].value = fx_text(KUMO_SDL_ENV_VALUE_BYTES_MAX);
}
static void m_env_value_max_plus_one(void)
{
    fx.env[0].value = fx_text(KUMO_SDL_ENV_VALUE_BYTES_MAX + 1u);
}
static void m_env_twice(void)
{
    fx.w[0].n_env = 2;
    fx.env[1].key = fx.env[0].key;
}
static void m_ports_max(void)
{
    fx.w[0].n_ports = KUMO_SDL_PORT_COUNT_MAX;
}
static void m_ports_max_plus_one(void)
{
    fx.w[0].n_ports = KUMO_SDL_PORT_COUNT_MAX + 1u;
}
static void m_rules_max(void)
{
    fx.ports[0].expose = fx.rule_ptrs;
    fx.ports[0].n_expose = KUMO_SDL_RULE_COUNT_MAX;
    for (size_t i = 1; i < FX_RULES; i++) { /* distinct: db, g1, then w2.. */
        fx.rules[i].workload = i == 1 ? "db" : fx.names[i];
        fx.rules[i].group = "";
    }
    fx_workloads(KUMO_SDL_RULE_COUNT_MAX + 1u);
}
static void m_rules_max_plus_one(void)
{
    m_rules_max();
    fx.ports[0].n_expose = KUMO_SDL_RULE_COUNT_MAX + 1u;
    fx_workloads(KUMO_SDL_RULE_COUNT_MAX + 2u);
}
static void m_no_workloads(void)
{
    fx.m.n_workloads = 0;
}
static void m_workloads_max(void)
{
    fx_workloads(KUMO_SDL_WORKLOAD_COUNT_MAX);
}
static void m_workloads_max_plus_one(void)
{
    fx_workloads(KUMO_SDL_WORKLOAD_COUNT_MAX + 1u);
}
static void m_no_groups(void)
{
    fx.group_count = 0;
}
static void m_groups_max(void) /* every group a deployment may ever have had */
{
    fx.group_count = KUMO_DEPLOYMENT_GROUP_LIFE_MAX;
}
static void m_groups_max_plus_one(void)
{
    fx.group_count = KUMO_DEPLOYMENT_GROUP_LIFE_MAX + 1u;
}
/* Groups added and removed over the deployment's life: db runs in the group of the last gseq
 * (g256 in the chain's list of 256), its unit counted there. */
static void m_group_late_gseq(void)
{
    fx.group_count = KUMO_DEPLOYMENT_GROUP_LIFE_MAX;
    fx.w[1].group = fx.group_names[KUMO_DEPLOYMENT_GROUP_LIFE_MAX - 1u];
}
static void m_units_max(void)
{
    fx.res[0].count = KUMO_RESOURCE_UNIT_COUNT_MAX;
    fx.w[0].count = KUMO_RESOURCE_UNIT_COUNT_MAX;
}
static void m_groups_same_name(void)
{
    fx.groups[1].name = "g1";
}
static void m_group_unit_missing(void)
{
    fx.res[1].compute = NULL; /* a group the node sent without a unit: nothing matches */
}

static void m_vol_one(void)
{
    fx.w[0].n_volumes = 1;
}
static void m_vols_max(void) /* 8 x 128 MiB: exactly the unit's 1 GiB */
{
    fx.w[0].n_volumes = KUMO_SDL_VOLUME_COUNT_MAX;
    for (size_t i = 0; i < KUMO_SDL_VOLUME_COUNT_MAX; i++) {
        fx.vol[i].size_bytes = (1ull << 30) / KUMO_SDL_VOLUME_COUNT_MAX;
    }
}
static void m_vols_max_plus_one(void)
{
    fx.w[0].n_volumes = KUMO_SDL_VOLUME_COUNT_MAX + 1u;
}
static void m_vols_over_storage(void)
{
    m_vols_max();
    fx.vol[0].size_bytes++;
}
static void m_vols_sum_overflows(void)
{
    fx.w[0].n_volumes = 2;
    fx.vol[0].size_bytes = UINT64_MAX;
    fx.vol[1].size_bytes = UINT64_MAX;
}
static void m_vol_at_min(void)
{
    m_vol_one();
    fx.vol[0].size_bytes = KUMO_SDL_VOLUME_BYTES_MIN;
}
static void m_vol_below_min(void)
{
    m_vol_one();
    fx.vol[0].size_bytes = KUMO_SDL_VOLUME_BYTES_MIN - 1u;
}
static void m_vol_name_bad(void)
{
    m_vol_one();
    fx.vol[0].name = "Data";
}
static void m_vol_name_empty(void)
{
    m_vol_one();
    fx.vol[0].name = "";
}
static void m_vol_name_twice(void)
{
    fx.w[0].n_volumes = 2;
    fx.vol[1].name = "v0";
}
static void m_vol_mount_twice(void)
{
    fx.w[0].n_volumes = 2;
    fx.vol[1].mount = "/data0";
}
static void m_vol_mount_nested(void)
{
    fx.w[0].n_volumes = 2;
    fx.vol[1].mount = "/data0/sub";
}
static void m_vol_mount_sibling_prefix(void) /* /data0 and /data01 do not overlap */
{
    fx.w[0].n_volumes = 2;
    fx.vol[1].mount = "/data01";
}
static void m_vol_mount_missing(void)
{
    m_vol_one();
    fx.vol[0].mount = NULL;
}
static void m_vol_mount_max(void)
{
    m_vol_one();
    memset(fx.mount, 'a', KUMO_SDL_MOUNT_BYTES_MAX);
    fx.mount[0] = '/';
    fx.mount[KUMO_SDL_MOUNT_BYTES_MAX] = '\0';
    fx.vol[0].mount = fx.mount;
}
static void m_vol_mount_max_plus_one(void)
{
    m_vol_one();
    memset(fx.mount, 'a', KUMO_SDL_MOUNT_BYTES_MAX + 1u);
    fx.mount[0] = '/';
    fx.mount[KUMO_SDL_MOUNT_BYTES_MAX + 1u] = '\0';
    fx.vol[0].mount = fx.mount;
}
#define M_MOUNT(fn, path)       \
    static void fn(void)        \
    {                           \
        m_vol_one();            \
        fx.vol[0].mount = path; \
    }
M_MOUNT(m_mount_relative, "data")
M_MOUNT(m_mount_root, "/")
M_MOUNT(m_mount_tmp, "/tmp")
M_MOUNT(m_mount_under_tmp, "/tmp/x")
M_MOUNT(m_mount_proc, "/proc/self")
M_MOUNT(m_mount_etc, "/etc")
M_MOUNT(m_mount_dotdot, "/data/../etc")
M_MOUNT(m_mount_dot, "/data/./x")
M_MOUNT(m_mount_empty_part, "/data//x")
M_MOUNT(m_mount_trailing, "/data/")
M_MOUNT(m_mount_space, "/my data")
M_MOUNT(m_mount_ok, "/var/lib/db_1.x-y")
M_MOUNT(m_mount_tmpdir_prefix, "/tmpdata")

static const struct {
    const char *name;
    void (*mutate)(void);
    int want;
    const char *want_detail; /* a part of the detail, or NULL */
} cases[] = {
    {"valid", m_none, 0, NULL},
    {"count 0", m_count_zero, KUMO_EINVAL, "workload \"web\": count 0"},
    {"count 2^32-1", m_count_u32_max, KUMO_ELIMIT, "4294967295 instances"},
    {"count = units", m_count_units, 0, NULL},
    {"count = units + 1", m_count_units_plus_one, KUMO_ELIMIT, "4 of its 3 leased units"},
    {"two workloads over the units", m_two_share_units, KUMO_ELIMIT, "workload \"w2\""},
    {"cpu bigger than the unit", m_cpu_bigger, KUMO_EMISMATCH, "no resource unit of group \"g1\""},
    {"memory bigger", m_memory_bigger, KUMO_EMISMATCH, NULL},
    {"storage bigger", m_storage_bigger, KUMO_EMISMATCH, NULL},
    {"another group's unit", m_other_groups_unit, KUMO_EMISMATCH, NULL},
    {"no compute", m_no_compute, KUMO_EEMPTY, NULL},
    {"unknown group", m_unknown_group, KUMO_ENOTFOUND, "named \"g3\""},
    {"empty group", m_empty_group, KUMO_ENOTFOUND, NULL},
    {"rule names an unknown workload", m_rule_unknown_workload, KUMO_ENOTFOUND, "port 81"},
    {"rule names an unknown group", m_rule_unknown_group, KUMO_ENOTFOUND, "no group of the lease"},
    {"rule names nothing", m_rule_empty, KUMO_EINVAL, "exactly one"},
    {"rule names two things", m_rule_two_kinds, KUMO_EINVAL, "exactly one"},
    {"rule twice", m_rule_twice, KUMO_EDUPLICATE, NULL},
    {"port 0", m_port_zero, KUMO_EINVAL, NULL},
    {"port 65536", m_port_over, KUMO_EINVAL, NULL},
    {"udp", m_port_udp, KUMO_EINVAL, NULL},
    {"port twice", m_port_twice, KUMO_EDUPLICATE, NULL},
    {"name with a capital", m_name_upper, KUMO_EINVAL, NULL},
    {"empty name", m_name_empty, KUMO_EINVAL, NULL},
    {"name ending with -", m_name_dash_end, KUMO_EINVAL, NULL},
    {"name at max", m_name_max, 0, NULL},
    {"name over max", m_name_max_plus_one, KUMO_EINVAL, NULL},
    {"name twice", m_name_twice, KUMO_EDUPLICATE, NULL},
    {"no image", m_image_empty, KUMO_EEMPTY, NULL},
    {"image with a space", m_image_space, KUMO_EINVAL, NULL},
    {"image at max", m_image_max, 0, NULL},
    {"image over max", m_image_max_plus_one, KUMO_ELIMIT, NULL},
    {"command at max", m_command_max, 0, NULL},
    {"command over max", m_command_max_plus_one, KUMO_ELIMIT, NULL},
    {"argument at max", m_arg_max, 0, NULL},
    {"argument over max", m_arg_max_plus_one, KUMO_ELIMIT, NULL},
    {"env at max", m_env_max, 0, NULL},
    {"env over max", m_env_max_plus_one, KUMO_ELIMIT, NULL},
    {"env key starting with a digit", m_env_key_digit, KUMO_EINVAL, NULL},
    {"env key empty", m_env_key_empty, KUMO_EINVAL, NULL},
    {"env key over max", m_env_key_max_plus_one, KUMO_ELIMIT, NULL},
    {"env value at max", m_env_value_max, 0, NULL},
    {"env value over max", m_env_value_max_plus_one, KUMO_ELIMIT, NULL},
    {"env key twice", m_env_twice, KUMO_EDUPLICATE, NULL},
    {"ports at max", m_ports_max, 0, NULL},
    {"ports over max", m_ports_max_plus_one, KUMO_ELIMIT, NULL},
    {"rules at max", m_rules_max, 0, NULL},
    {"rules over max", m_rules_max_plus_one, KUMO_ELIMIT, NULL},
    {"no workloads", m_no_workloads, KUMO_EEMPTY, NULL},
    {"workloads at max", m_workloads_max, 0, NULL},
    {"workloads over max", m_workloads_max_plus_one, KUMO_ELIMIT, NULL},
    {"no groups", m_no_groups, KUMO_EINVAL, NULL},
    {"groups at max", m_groups_max, 0, NULL},
    {"groups over max", m_groups_max_plus_one, KUMO_EINVAL, NULL},
    {"a workload in a group of the last gseq", m_group_late_gseq, 0, NULL},
    {"instances at the unit count max", m_units_max, 0, NULL},
    {"two groups of one name", m_groups_same_name, KUMO_EINVAL, "same name"},
    {"a group without its unit", m_group_unit_missing, KUMO_EMISMATCH, NULL},
    {"one volume", m_vol_one, 0, NULL},
    {"volumes at max, exactly the storage", m_vols_max, 0, NULL},
    {"volumes over max", m_vols_max_plus_one, KUMO_ELIMIT, "9 volumes exceed 8"},
    {"volumes over the storage", m_vols_over_storage, KUMO_ELIMIT,
     "volumes of 1073741825 bytes per instance exceed the 1073741824 bytes"},
    {"volume sizes overflow", m_vols_sum_overflows, KUMO_ELIMIT, "exceed"},
    {"volume at the minimum", m_vol_at_min, 0, NULL},
    {"volume below the minimum", m_vol_below_min, KUMO_EINVAL, "less than the smallest"},
    {"volume name with a capital", m_vol_name_bad, KUMO_EINVAL, "volumes[0] is not a name"},
    {"volume name empty", m_vol_name_empty, KUMO_EINVAL, NULL},
    {"volume name twice", m_vol_name_twice, KUMO_EDUPLICATE, "given twice"},
    {"volume mount twice", m_vol_mount_twice, KUMO_EDUPLICATE, "overlaps"},
    {"volume mount nested", m_vol_mount_nested, KUMO_EDUPLICATE, "overlaps"},
    {"volume mounts sharing a prefix", m_vol_mount_sibling_prefix, 0, NULL},
    {"volume without a mount", m_vol_mount_missing, KUMO_EINVAL, "mount path"},
    {"mount at max", m_vol_mount_max, 0, NULL},
    {"mount over max", m_vol_mount_max_plus_one, KUMO_EINVAL, NULL},
    {"mount relative", m_mount_relative, KUMO_EINVAL, NULL},
    {"mount /", m_mount_root, KUMO_EINVAL, NULL},
    {"mount /tmp", m_mount_tmp, KUMO_EINVAL, NULL},
    {"mount under /tmp", m_mount_under_tmp, KUMO_EINVAL, NULL},
    {"mount under /proc", m_mount_proc, KUMO_EINVAL, NULL},
    {"mount /etc", m_mount_etc, KUMO_EINVAL, NULL},
    {"mount with ..", m_mount_dotdot, KUMO_EINVAL, NULL},
    {"mount with .", m_mount_dot, KUMO_EINVAL, NULL},
    {"mount with //", m_mount_empty_part, KUMO_EINVAL, NULL},
    {"mount ending with /", m_mount_trailing, KUMO_EINVAL, NULL},
    {"mount with a space", m_mount_space, KUMO_EINVAL, NULL},
    {"mount with . _ -", m_mount_ok, 0, NULL},
    {"mount /tmpdata", m_mount_tmpdir_prefix, 0, NULL},
    {"one file", m_file_one, 0, NULL},
    {"files at max", m_files_max, 0, NULL},
    {"files over max", m_files_max_plus_one, KUMO_ELIMIT, "65 files exceed 64"},
    {"file path relative", m_file_path_relative, KUMO_EINVAL, "files[0] has no valid path"},
    {"file path missing", m_file_path_missing, KUMO_EINVAL, "no valid path"},
    {"file under /proc", m_file_path_proc, KUMO_EINVAL, "no valid path"},
    {"file under /sys", m_file_path_sys, KUMO_EINVAL, "no valid path"},
    {"file under /dev", m_file_path_dev, KUMO_EINVAL, "no valid path"},
    {"file path with ..", m_file_path_dotdot, KUMO_EINVAL, "no valid path"},
    {"file path /", m_file_path_root, KUMO_EINVAL, "no valid path"},
    {"file path ending with /", m_file_path_trailing, KUMO_EINVAL, "no valid path"},
    {"file mode 0666", m_file_mode_world_writable, KUMO_EINVAL, "mode 0666"},
    {"file mode setuid", m_file_mode_setuid, KUMO_EINVAL, "mode 4755"},
    {"file mode unreadable", m_file_mode_unreadable, KUMO_EINVAL, "mode 0200"},
    {"file mode 0600", m_file_mode_owner_only, 0, NULL},
    {"file path twice", m_file_path_twice, KUMO_EDUPLICATE, "overlaps file"},
    {"file under a file", m_file_path_nested, KUMO_EDUPLICATE, "overlaps file"},
    {"file under a volume", m_file_under_volume, KUMO_EDUPLICATE, "overlaps volume \"v0\""},
    {"file at a volume's mount", m_file_above_volume, KUMO_EDUPLICATE, "overlaps volume"},
};

static void test_check_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_reset();
        cases[i].mutate();
        kumo_err_ctx_t err = {0};
        int rc = kumo_sdl_manifest_check(&fx.m, fx.group_ptrs, fx.group_count, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        if (cases[i].want_detail != NULL && strstr(err.detail, cases[i].want_detail) == NULL) {
            fail_msg("%s: detail \"%s\" lacks \"%s\"", cases[i].name, err.detail,
                     cases[i].want_detail);
        }
    }
}

/* A manifest the parser made, decoded as a provider receives it, passes against the stack's
 * groups, and not against groups whose units are smaller or fewer. */
static void test_check_parsed_manifest(void **state)
{
    (void)state;
    kumo_sdl_stack_t *stack = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_sdl_stack_parse(kumo_bytes_make((const uint8_t *)sdl_base_stack,
                                                          sizeof(sdl_base_stack) - 1u),
                                          "stack.yml", &stack, &err),
                     0);
    kumo_buf_t bytes;
    kumo_buf_init(&bytes, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(stack, &bytes, &err), 0);
    Kumo__Manifest *m = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(kumo_buf_bytes(&bytes), &m, &err), 0);
    Kumo__GroupSpec **groups = NULL;
    size_t group_count = 0;
    uint64_t wait_blocks = 0;
    uint64_t deposit = 0;
    kumo_sdl_stack_groups(stack, &groups, &group_count, &wait_blocks, &deposit);
    assert_int_equal(kumo_sdl_manifest_check(m, groups, group_count, &err), 0);
    uint32_t count = groups[0]->resources[0]->count;
    groups[0]->resources[0]->count = 1; /* the groups of another deployment */
    assert_int_equal(kumo_sdl_manifest_check(m, groups, group_count, &err), KUMO_ELIMIT);
    groups[0]->resources[0]->count = count;
    groups[0]->resources[0]->compute->cpu_milli--;
    assert_int_equal(kumo_sdl_manifest_check(m, groups, group_count, &err), KUMO_EMISMATCH);
    groups[0]->resources[0]->compute->cpu_milli++;
    kumo_codec_free(&m->base);
    kumo_buf_free(&bytes);
    kumo_sdl_stack_free(stack);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_rules),
        cmocka_unit_test(test_check_parsed_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
