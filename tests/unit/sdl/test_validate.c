/*
 * test_validate.c - proves every stack rule: each row breaks one thing in a valid stack
 * (itself asserted to parse) and expects one code and the exact message naming file, line and
 * field path. Every limit is tested at MAX (accepted) and MAX+1 (rejected) on generated stacks.
 */
#include "helpers/testutil.h"

#include "unit/sdl/sdl_fixture.h"

/* The base stack's resource list and workloads section, for rows that replace them whole. */
#define RESOURCES                                                                              \
    "    resources:\n      - cpu: 500m\n        memory: 512Mi\n        storage: 1Gi\n        " \
    "count: 3\n        price: 100\n        collateral: 5\n"
#define WORKLOADS                                                                               \
    "workloads:\n  web:\n    image: img:1\n    command: [serve, --port, \"80\"]\n    env: {A: " \
    "\"1\", B: two}\n    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count: 2\n    " \
    "group: g1\n    ports:\n      - port: 80\n        expose: [{global: true}, {workload: "     \
    "db}]\n  db:\n    image: db:1\n    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    " \
    "group: g1\n    ports:\n      - port: 6379\n        expose: [{workload: web}, {group: "     \
    "g1}]\n"

/* The db workload with a volumes section of the given entries (from line 26). */
#define VOL(entries) "    image: db:1\n    volumes:\n" entries

static const struct {
    const char *name;
    const char *old; /* NULL: new_text is the whole file */
    const char *new_text;
    int want;
    const char *want_detail; /* NULL: only "stack.yml:" is checked */
} cases[] = {
    {"empty file", NULL, "", KUMO_EEMPTY, "stack.yml:1: the stack is empty"},
    {"root is a list", NULL, "- a\n", KUMO_EDECODE,
     "stack.yml:1: stack: expected a mapping, got a list"},
    {"yaml syntax", "version: \"1\"", "version: \"1", KUMO_EDECODE, NULL},
    {"two documents", "deposit: 1000\n", "deposit: 1000\n---\nversion: \"1\"\n", KUMO_EDECODE,
     "stack.yml:32: only one document is allowed"},
    {"alias", "image: db:1", "image: *x", KUMO_EDECODE,
     "stack.yml:24: aliases (*name) are not supported"},
    {"unknown top key", "deposit: 1000\n", "deposit: 1000\nextra: 1\n", KUMO_EDECODE,
     "stack.yml:32: stack: unknown key \"extra\""},
    {"unknown workload key", "    image: db:1\n", "    image: db:1\n    imagee: x\n", KUMO_EDECODE,
     "stack.yml:25: workloads.db: unknown key \"imagee\""},
    {"duplicate key", "    image: db:1\n", "    image: db:1\n    image: db:2\n", KUMO_EDUPLICATE,
     "stack.yml:25: workloads.db: key \"image\" given twice"},
    {"version 2", "version: \"1\"", "version: \"2\"", KUMO_EINVAL,
     "stack.yml:1: version: \"2\" is not a supported version (use \"1\")"},
    {"version missing", "version: \"1\"\n", "", KUMO_EEMPTY,
     "stack.yml:1: version: required but missing"},
    {"deposit 0", "deposit: 1000", "deposit: 0", KUMO_EINVAL,
     "stack.yml:31: deposit: deposit is 0"},
    {"deposit negative", "deposit: 1000", "deposit: -1", KUMO_EINVAL,
     "stack.yml:31: deposit: \"-1\" is not a whole number"},
    {"deposit past 64 bits", "deposit: 1000", "deposit: 18446744073709551616", KUMO_EOVERFLOW,
     "stack.yml:31: deposit: \"18446744073709551616\" does not fit in 64 bits"},
    {"wait_blocks missing", "wait_blocks: 2\n", "", KUMO_EEMPTY,
     "stack.yml:1: wait_blocks: required but missing"},
    {"no groups", "groups:\n  g1:\n    region: us-east\n" RESOURCES, "groups: {}\n", KUMO_EEMPTY,
     "stack.yml:2: groups: no groups"},
    {"bad group name", "  g1:\n", "  G1:\n", KUMO_EINVAL,
     "stack.yml:3: groups: \"G1\" is not a name (a-z, 0-9 and '-', starting with a letter, not "
     "ending with '-')"},
    {"region missing", "    region: us-east\n", "", KUMO_EEMPTY,
     "stack.yml:4: groups.g1.region: required but missing"},
    {"region with a space", "region: us-east", "region: us east", KUMO_EINVAL,
     "stack.yml:4: groups.g1.region: \"us east\" is not a region (printable characters, no "
     "spaces)"},
    {"persist not a bool", "    region: us-east\n", "    region: us-east\n    persist: yes\n",
     KUMO_EINVAL, "stack.yml:5: groups.g1.persist: \"yes\" is not true or false"},
    {"resources empty", RESOURCES, "    resources: []\n", KUMO_EEMPTY,
     "stack.yml:5: groups.g1.resources: no resources"},
    {"resources not a list",
     "    resources:\n      - cpu: 500m\n        memory: 512Mi\n        "
     "storage: 1Gi\n        count: 3\n        price: 100\n        "
     "collateral: 5\n",
     "    resources: {}\n", KUMO_EDECODE,
     "stack.yml:5: groups.g1.resources: expected a list of resources"},
    {"resource count 0", "count: 3", "count: 0", KUMO_EINVAL,
     "stack.yml:9: groups.g1.resources[0].count: count is 0"},
    {"price 0", "price: 100", "price: 0", KUMO_EINVAL,
     "stack.yml:10: groups.g1.resources[0].price: price is 0"},
    {"price missing", "        price: 100\n", "", KUMO_EEMPTY,
     "stack.yml:6: groups.g1.resources[0].price: required but missing"},
    {"price times count overflows", "price: 100", "price: 18446744073709551615", KUMO_EOVERFLOW,
     "stack.yml:6: groups.g1.resources[0]: price or collateral times count overflows 64 bits"},
    {"duplicate resource unit", "collateral: 5\n",
     "collateral: 5\n      - {cpu: 500m, memory: 512Mi, storage: 1Gi, price: 1}\n", KUMO_EDUPLICATE,
     "stack.yml:12: groups.g1.resources[1]: same cpu, memory and storage as resources[0]"},
    {"cpu with 4 decimals", "cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count",
     "cpu: \"1.2345\", memory: 512Mi, storage: 1Gi}\n    count", KUMO_EINVAL,
     "stack.yml:17: workloads.web.compute.cpu: \"1.2345\" is not a cpu amount (use 500m, 0.5 or "
     "2)"},
    {"cpu 0", "cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count",
     "cpu: 0m, memory: 512Mi, storage: 1Gi}\n    count", KUMO_EINVAL,
     "stack.yml:17: workloads.web.compute.cpu: cpu is 0"},
    {"bad memory unit", "memory: 512Mi, storage: 1Gi}\n    count",
     "memory: 12XB, storage: 1Gi}\n    count", KUMO_EINVAL,
     "stack.yml:17: workloads.web.compute.memory: \"12XB\" is not a size (use Ki, Mi, Gi, Ti or "
     "bytes)"},
    {"memory 0", "memory: 512Mi, storage: 1Gi}\n    count", "memory: 0Mi, storage: 1Gi}\n    count",
     KUMO_EINVAL, "stack.yml:17: workloads.web.compute.memory: memory is 0"},
    {"size overflows", "memory: 512Mi\n", "memory: 99999999999Ti\n", KUMO_EOVERFLOW,
     "stack.yml:7: groups.g1.resources[0].memory: \"99999999999Ti\" does not fit in 64 bits"},
    {"compute key unknown", "storage: 1Gi}\n    count", "disk: 1Gi}\n    count", KUMO_EDECODE,
     "stack.yml:17: workloads.web.compute: unknown key \"disk\""},
    {"no workloads", WORKLOADS, "workloads: {}\n", KUMO_EEMPTY,
     "stack.yml:12: workloads: no workloads"},
    {"bad workload name", "  web:\n", "  Web:\n", KUMO_EINVAL,
     "stack.yml:13: workloads: \"Web\" is not a name (a-z, 0-9 and '-', starting with a letter, "
     "not ending with '-')"},
    {"image empty", "image: img:1", "image: \"\"", KUMO_EEMPTY,
     "stack.yml:14: workloads.web.image: is empty"},
    {"image null", "image: img:1", "image:", KUMO_EEMPTY,
     "stack.yml:14: workloads.web.image: is empty (null); write a string, quoted if need be"},
    {"image missing", "    image: img:1\n", "", KUMO_EEMPTY,
     "stack.yml:14: workloads.web.image: required but missing"},
    {"image with a space", "image: img:1", "image: \"img 1\"", KUMO_EINVAL,
     "stack.yml:14: workloads.web.image: an image reference has no spaces or controls"},
    {"command not a list", "command: [serve, --port, \"80\"]", "command: serve", KUMO_EDECODE,
     "stack.yml:15: workloads.web.command: expected a list of arguments"},
    {"command arg a list", "[serve, --port, \"80\"]", "[serve, [a]]", KUMO_EDECODE,
     "stack.yml:15: workloads.web.command[1]: expected a value, got a list"},
    {"env not a map", "env: {A: \"1\", B: two}", "env: [A]", KUMO_EDECODE,
     "stack.yml:16: workloads.web.env: expected a mapping of NAME: value"},
    {"env duplicate", "{A: \"1\", B: two}", "{A: \"1\", A: two}", KUMO_EDUPLICATE,
     "stack.yml:16: workloads.web.env: variable \"A\" given twice"},
    {"env bad name", "{A: \"1\", B: two}", "{A: \"1\", 1B: two}", KUMO_EINVAL,
     "stack.yml:16: workloads.web.env: \"1B\" is not a variable name (letters, digits and '_', "
     "not starting with a digit)"},
    {"env null value", "{A: \"1\", B: two}", "{A: \"1\", B: ~}", KUMO_EDECODE,
     "stack.yml:16: workloads.web.env.B: is empty (null); write a string, quoted if need be"},
    {"workload count 0", "    count: 2\n", "    count: 0\n", KUMO_EINVAL,
     "stack.yml:18: workloads.web.count: count is 0"},
    {"workload count a list", "    count: 2\n", "    count: [2]\n", KUMO_EDECODE,
     "stack.yml:18: workloads.web.count: expected a value, got a list"},
    {"unknown group", "group: g1\n    ports:\n      - port: 80",
     "group: g2\n    ports:\n      - port: 80", KUMO_ENOTFOUND,
     "stack.yml:19: workloads.web.group: no group named \"g2\""},
    {"group missing", "    group: g1\n    ports:\n      - port: 80", "    ports:\n      - port: 80",
     KUMO_EEMPTY, "stack.yml:14: workloads.web.group: required but missing"},
    {"over capacity", "    count: 2\n", "    count: 3\n", KUMO_EINVAL,
     "stack.yml:24: workloads.db.count: 1 instances bring groups.g1.resources[0] to 4 of its 3 "
     "units"},
    {"compute matches no resource",
     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    "
     "group: g1",
     "    compute: {cpu: 1, memory: 512Mi, storage: 1Gi}\n    group: g1", KUMO_EINVAL,
     "stack.yml:25: workloads.db.compute: matches no resource of group \"g1\" (cpu, memory, "
     "storage and gpu must equal one of its resources)"},
    {"ports not a list",
     "    ports:\n      - port: 6379\n        expose: [{workload: web}, "
     "{group: g1}]\n",
     "    ports: 6379\n", KUMO_EDECODE,
     "stack.yml:27: workloads.db.ports: expected a list of ports"},
    {"port 0", "port: 80", "port: 0", KUMO_EINVAL,
     "stack.yml:21: workloads.web.ports[0].port: 0 is outside 1..65535"},
    {"port 65536", "port: 80", "port: 65536", KUMO_EINVAL,
     "stack.yml:21: workloads.web.ports[0].port: 65536 is outside 1..65535"},
    {"port missing", "      - port: 80\n        expose", "      - expose", KUMO_EEMPTY,
     "stack.yml:21: workloads.web.ports[0].port: required but missing"},
    {"duplicate port", "      - port: 6379\n", "      - port: 6379\n      - port: 6379\n",
     KUMO_EDUPLICATE, "stack.yml:29: workloads.db.ports[1]: port 6379 given twice (ports[0])"},
    {"protocol udp", "      - port: 80\n", "      - port: 80\n        protocol: udp\n", KUMO_EINVAL,
     "stack.yml:22: workloads.web.ports[0].protocol: \"udp\" is not supported (use tcp)"},
    {"rule with two kinds", "{global: true},", "{global: true, group: g1},", KUMO_EINVAL,
     "stack.yml:22: workloads.web.ports[0].expose[0]: a rule names exactly one of workload, group "
     "or global"},
    {"rule empty", "{global: true},", "{},", KUMO_EINVAL,
     "stack.yml:22: workloads.web.ports[0].expose[0]: a rule names exactly one of workload, group "
     "or global"},
    {"rule global false", "{global: true}", "{global: false}", KUMO_EINVAL,
     "stack.yml:22: workloads.web.ports[0].expose[0].global: must be true (leave the rule out "
     "instead)"},
    {"rule unknown workload", "{workload: db}]", "{workload: dbx}]", KUMO_ENOTFOUND,
     "stack.yml:22: workloads.web.ports[0].expose[1].workload: no workload named \"dbx\""},
    {"rule unknown group", "{group: g1}]", "{group: g9}]", KUMO_ENOTFOUND,
     "stack.yml:29: workloads.db.ports[0].expose[1].group: no group named \"g9\""},
    {"rule unknown kind", "{group: g1}]", "{datacenter: g1}]", KUMO_EDECODE,
     "stack.yml:29: workloads.db.ports[0].expose[1]: unknown key \"datacenter\""},
    {"duplicate rule", "[{workload: web}, {group: g1}]", "[{workload: web}, {workload: web}]",
     KUMO_EDUPLICATE, "stack.yml:29: workloads.db.ports[0].expose[1]: same rule as expose[0]"},
    {"expose not a list", "[{workload: web}, {group: g1}]", "{workload: web}", KUMO_EDECODE,
     "stack.yml:29: workloads.db.ports[0].expose: expected a list of rules"},
    {"nul in a value", "image: img:1", "image: \"img\\0\"", KUMO_EDECODE,
     "stack.yml:14: a value holds a NUL byte"},
    {"groups not a mapping", "groups:\n  g1:\n    region: us-east\n" RESOURCES, "groups: [g1]\n",
     KUMO_EDECODE, "stack.yml:2: groups: expected a mapping of group names"},
    {"workloads not a mapping", WORKLOADS, "workloads: web\n", KUMO_EDECODE,
     "stack.yml:12: workloads: expected a mapping of workload names"},
    {"compute not a mapping", "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    group",
     "    compute: 500m\n    group", KUMO_EDECODE,
     "stack.yml:25: workloads.db.compute: expected a mapping, got a value"},
    {"duplicate workload", "  db:\n", "  web:\n", KUMO_EDUPLICATE,
     "stack.yml:23: workloads: workload \"web\" given twice"},
    {"key not a scalar", "deposit: 1000\n", "deposit: 1000\n? [a]\n: 1\n", KUMO_EDECODE,
     "stack.yml:32: stack: a key must be a plain name, not a list"},
    {"volumes not a mapping", "    image: db:1\n", "    image: db:1\n    volumes: [a]\n",
     KUMO_EDECODE, "stack.yml:25: workloads.db.volumes: expected a mapping of volume names"},
    {"volume name bad", "    image: db:1\n", VOL("      Data: {size: 8Mi, mount: /d}\n"),
     KUMO_EINVAL,
     "stack.yml:26: workloads.db.volumes: \"Data\" is not a name (a-z, 0-9 and '-', starting "
     "with a letter, not ending with '-')"},
    {"volume unknown key", "    image: db:1\n", VOL("      a: {size: 8Mi, mount: /d, owner: x}\n"),
     KUMO_EDECODE, "stack.yml:26: workloads.db.volumes.a: unknown key \"owner\""},
    {"volume size missing", "    image: db:1\n", VOL("      a: {mount: /d}\n"), KUMO_EEMPTY,
     "stack.yml:26: workloads.db.volumes.a.size: required but missing"},
    {"volume mount missing", "    image: db:1\n", VOL("      a: {size: 8Mi}\n"), KUMO_EEMPTY,
     "stack.yml:26: workloads.db.volumes.a.mount: required but missing"},
    {"volume size bad", "    image: db:1\n", VOL("      a: {size: 8MB, mount: /d}\n"), KUMO_EINVAL,
     "stack.yml:26: workloads.db.volumes.a.size: \"8MB\" is not a size (use Ki, Mi, Gi, Ti or "
     "bytes)"},
    {"volume below the minimum", "    image: db:1\n", VOL("      a: {size: 4194303, mount: /d}\n"),
     KUMO_EINVAL,
     "stack.yml:26: workloads.db.volumes.a.size: 4194303 bytes is less than the smallest volume "
     "(4Mi)"},
    {"volume mount under /tmp", "    image: db:1\n", VOL("      a: {size: 8Mi, mount: /tmp/d}\n"),
     KUMO_EINVAL,
     "stack.yml:26: workloads.db.volumes.a.mount: \"/tmp/d\" is not a mount path (absolute, of "
     "a-z A-Z 0-9 . _ -, not /, /etc, /dev, /proc, /sys, /tmp, /run or /var/tmp or under them)"},
    {"volume mount with ..", "    image: db:1\n", VOL("      a: {size: 8Mi, mount: /d/../etc}\n"),
     KUMO_EINVAL, NULL},
    {"volume persistent not a bool", "    image: db:1\n",
     VOL("      a: {size: 8Mi, mount: /d, persistent: yes}\n"), KUMO_EINVAL,
     "stack.yml:26: workloads.db.volumes.a.persistent: \"yes\" is not true or false"},
    {"volume name twice", "    image: db:1\n",
     VOL("      a: {size: 8Mi, mount: /d}\n      a: {size: 8Mi, mount: /e}\n"), KUMO_EDUPLICATE,
     "stack.yml:27: workloads.db.volumes: volume \"a\" given twice"},
    {"volume mounts overlap", "    image: db:1\n",
     VOL("      a: {size: 8Mi, mount: /d}\n      b: {size: 8Mi, mount: /d/e}\n"), KUMO_EDUPLICATE,
     "stack.yml:27: workloads.db.volumes.b.mount: \"/d/e\" overlaps volume \"a\" at \"/d\""},
    {"volumes over the storage", "    image: db:1\n",
     VOL("      a: {size: 1Gi, mount: /d}\n      b: {size: 4Mi, mount: /e}\n"), KUMO_ELIMIT,
     "stack.yml:26: workloads.db.volumes: volumes of 1077936128 bytes per instance exceed the "
     "unit's storage of 1073741824 bytes"},
    {"gpu count 0", "        count: 3\n",
     "        gpu: {count: 0, vendor: nvidia}\n        count: 3\n", KUMO_EINVAL, NULL},
    {"gpu count over max", "        count: 3\n",
     "        gpu: {count: 9, vendor: nvidia}\n        count: 3\n", KUMO_ELIMIT, NULL},
    {"gpu vendor missing", "        count: 3\n", "        gpu: {count: 1}\n        count: 3\n",
     KUMO_EEMPTY, "stack.yml:9: groups.g1.resources[0].gpu.vendor: required but missing"},
    {"gpu unknown key", "        count: 3\n",
     "        gpu: {count: 1, vendor: nvidia, kind: x}\n        count: 3\n", KUMO_EDECODE, NULL},
    {"a workload's gpu unit not in its group", "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}",
     "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi, gpu: {count: 1, vendor: nvidia}}",
     KUMO_EINVAL, NULL},
    {"requirements empty", "    region: us-east\n", "    region: us-east\n    requirements: {}\n",
     KUMO_EEMPTY, "stack.yml:5: groups.g1.requirements: no attributes, signed_by or providers"},
    {"providers empty", "    region: us-east\n",
     "    region: us-east\n    requirements: {providers: []}\n", KUMO_EEMPTY,
     "stack.yml:5: groups.g1.requirements.providers: an empty list of providers"},
    {"providers not a list", "    region: us-east\n",
     "    region: us-east\n    requirements: {providers: kumo1x}\n", KUMO_EDECODE,
     "stack.yml:5: groups.g1.requirements.providers: expected a list of addresses of providers"},
    {"provider not an address", "    region: us-east\n",
     "    region: us-east\n    requirements: {providers: [east]}\n", KUMO_EINVAL,
     "stack.yml:5: groups.g1.requirements.providers[0]: \"east\" is not an address (kumo1...)"},
    {"exclusive without providers", "    region: us-east\n",
     "    region: us-east\n    requirements: {attributes: {a: b}, exclusive: true}\n", KUMO_EINVAL,
     "stack.yml:5: groups.g1.requirements.exclusive: exclusive needs a list of providers"},
    {"exclusive not a boolean", "    region: us-east\n",
     "    region: us-east\n    requirements: {providers: "
     "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc], exclusive: 3}\n",
     KUMO_EINVAL, "stack.yml:5: groups.g1.requirements.exclusive: \"3\" is not true or false"},
    {"provider twice", "    region: us-east\n",
     "    region: us-east\n    requirements: {providers: "
     "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc, "
     "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]}\n",
     KUMO_EDUPLICATE, "stack.yml:5: groups.g1.requirements.providers: a provider is given twice"},
    {"requirements unknown key", "    region: us-east\n",
     "    region: us-east\n    requirements: {tier: gold}\n", KUMO_EDECODE,
     "stack.yml:5: groups.g1.requirements: unknown key \"tier\""},
    {"requirement value too long", "    region: us-east\n",
     "    region: us-east\n    requirements: {attributes: {t: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}\n",
     KUMO_ELIMIT, NULL},
    {"signed_by empty", "    region: us-east\n",
     "    region: us-east\n    requirements: {signed_by: {all_of: []}}\n", KUMO_EEMPTY,
     "stack.yml:5: groups.g1.requirements.signed_by: no auditors in all_of or any_of"},
    {"signed_by not an address", "    region: us-east\n",
     "    region: us-east\n    requirements: {signed_by: {any_of: [bob]}}\n", KUMO_EINVAL,
     "stack.yml:5: groups.g1.requirements.signed_by.any_of[0]: \"bob\" is not an address "
     "(kumo1...)"},
    {"signed_by auditor twice", "    region: us-east\n",
     "    region: us-east\n    requirements: {signed_by: {all_of: "
     "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc, "
     "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]}}\n",
     KUMO_EDUPLICATE,
     "stack.yml:5: groups.g1.requirements.signed_by.all_of: an auditor is given twice"},
    {"signed_by over max", "    region: us-east\n",
     "    region: us-east\n    requirements: {signed_by: {all_of: [a, b, c, d, e, f, g, h, i]}}\n",
     KUMO_ELIMIT, "stack.yml:5: groups.g1.requirements.signed_by.all_of: 9 auditors exceed 8"},
};

static void test_base_stack_is_valid(void **state)
{
    (void)state;
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(sdl_base_stack, &s, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    kumo_sdl_stack_free(s);
}

/* Edges that are valid: each row must parse. */
static const struct {
    const char *name;
    const char *old;
    const char *new_text;
} valid_cases[] = {
    {"a rule naming its own workload", "{workload: web}, {group: g1}", "{workload: db}"},
    {"a port without rules", "        expose: [{workload: web}, {group: g1}]\n", ""},
    {"spare units in a group", "collateral: 5\n",
     "collateral: 5\n      - {cpu: 9, memory: 1Ti, price: 1}\n"},
    {"an empty command and env",
     "    command: [serve, --port, \"80\"]\n    env: {A: \"1\", B: two}\n",
     "    command: []\n    env: {}\n"},
    {"an empty argument and value", "[serve, --port, \"80\"]", "[\"\"]"},
    {"version as a plain number", "version: \"1\"", "version: 1"},
    {"port 65535 and 1", "port: 80", "port: 65535\n      - port: 1"},
    {"a workload on no ports",
     "    ports:\n      - port: 6379\n        expose: [{workload: web}, {group: g1}]\n", ""},
    {"wait_blocks at 2^64-1", "wait_blocks: 2", "wait_blocks: 18446744073709551615"},
    {"a volume", "    image: db:1\n", VOL("      data: {size: 512Mi, mount: /var/lib/db}\n")},
    {"volumes filling the storage, one not persistent", "    image: db:1\n",
     VOL("      a: {size: 1020Mi, mount: /a}\n      b: {size: 4Mi, mount: /b, persistent: "
         "false}\n")},
    {"no volumes", "    image: db:1\n", "    image: db:1\n    volumes: {}\n"},
    {"requirements", "    region: us-east\n",
     "    region: us-east\n    requirements:\n      attributes: {tier: gold, hw: ssd}\n"
     "      signed_by: {all_of: [kumo1qgpqyqszqgpqyqszqgpqyqszqgpqyqszqgctfw, "
     "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc], any_of: "
     "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]}\n"},
    {"only attributes", "    region: us-east\n",
     "    region: us-east\n    requirements: {attributes: {tier: gold}}\n"},
};

static void test_valid_edges_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(valid_cases); i++) {
        char *text = sdl_text_replace(sdl_base_stack, valid_cases[i].old, valid_cases[i].new_text);
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = sdl_parse_text(text, &s, &err);
        if (rc != 0) {
            fail_msg("%s: %s (%s)", valid_cases[i].name, kumo_err_name(rc), err.detail);
        }
        kumo_sdl_stack_free(s);
        free(text);
    }
}

static void test_each_broken_stack_names_file_line_and_field(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        char *text = cases[i].old == NULL
                         ? strdup(cases[i].new_text)
                         : sdl_text_replace(sdl_base_stack, cases[i].old, cases[i].new_text);
        assert_non_null(text);
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = sdl_parse_text(text, &s, &err);
        bool detail_ok = cases[i].want_detail == NULL
                             ? strncmp(err.detail, "stack.yml:", 10) == 0
                             : strcmp(err.detail, cases[i].want_detail) == 0;
        if (rc != cases[i].want || !detail_ok || s != NULL) {
            print_error("%s: got %s (%s), want %s (%s)\n", cases[i].name, kumo_err_name(rc),
                        err.detail, kumo_err_name(cases[i].want),
                        cases[i].want_detail != NULL ? cases[i].want_detail : "stack.yml:...");
            failures++;
        }
        kumo_sdl_stack_free(s);
        free(text);
    }
    assert_int_equal(failures, 0);
}

/* KUMO_SDL_VOLUME_COUNT_MAX volumes parse, one more is refused. */
static void test_volume_count_limit(void **state)
{
    (void)state;
    for (uint32_t n = KUMO_SDL_VOLUME_COUNT_MAX; n <= KUMO_SDL_VOLUME_COUNT_MAX + 1u; n++) {
        sdl_text_t vols = {0};
        sdl_text_add(&vols, "    image: db:1\n    volumes:\n");
        for (uint32_t i = 0; i < n; i++) {
            sdl_text_add(&vols, "      v%u: {size: 4Mi, mount: /v%u}\n", i, i);
        }
        char *text = sdl_text_replace(sdl_base_stack, "    image: db:1\n", vols.ptr);
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = sdl_parse_text(text, &s, &err);
        assert_int_equal(rc, n <= KUMO_SDL_VOLUME_COUNT_MAX ? 0 : KUMO_ELIMIT);
        if (rc != 0) {
            assert_string_equal(err.detail,
                                "stack.yml:26: workloads.db.volumes: 9 volumes exceed 8");
        }
        kumo_sdl_stack_free(s);
        free(text);
        sdl_text_free(&vols);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_stack_is_valid),
        cmocka_unit_test(test_valid_edges_parse),
        cmocka_unit_test(test_each_broken_stack_names_file_line_and_field),
        cmocka_unit_test(test_volume_count_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
