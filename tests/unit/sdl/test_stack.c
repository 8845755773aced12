/*
 * test_stack.c - proves that the webapp example parses into the groups and manifest the seed
 * describes and that its version is pinned; that the manifest is canonical (reordering any
 * mapping, env entries or rules keeps the version; changing any value changes it); that the
 * manifest bytes decode back to the same bytes; and that an allocation failure at any point of
 * parsing fails cleanly with KUMO_ENOMEM and leaks nothing (run under ASan).
 */
#include "helpers/testutil.h"

#include "codec/codec.h"
#include "unit/sdl/sdl_fixture.h"

/* Two auditor addresses (20 bytes of 0x01 and of 0x02). */
#define A1 "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc"
#define A2 "kumo1qgpqyqszqgpqyqszqgpqyqszqgpqyqszqgctfw"

static char *example_read(void)
{
    const char *src = getenv("KUMO_SOURCE_DIR");
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/examples/webapp/stack.yml", src != NULL ? src : ".");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    char *text = calloc(1, KUMO_SDL_STACK_BYTES_MAX + 1u);
    assert_non_null(text);
    size_t n = fread(text, 1, KUMO_SDL_STACK_BYTES_MAX, f);
    fclose(f);
    assert_true(n > 0);
    return text;
}

static void hex_of(const uint8_t *v, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        (void)snprintf(out + 2 * i, 3, "%02x", v[i]);
    }
}

static void test_example_webapp_parses(void **state)
{
    (void)state;
    char *text = example_read();
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(text, &s, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    Kumo__GroupSpec **groups;
    size_t count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(s, &groups, &count, &wait_blocks, &deposit);
    assert_int_equal(count, 2);
    assert_int_equal(wait_blocks, 3);
    assert_int_equal(deposit, 5000000);
    /* sorted by name: db, web */
    assert_string_equal(groups[0]->name, "db");
    assert_string_equal(groups[0]->region, "us-west");
    assert_true(groups[0]->persist);
    assert_int_equal(groups[0]->n_resources, 1);
    assert_int_equal(groups[0]->resources[0]->compute->cpu_milli, 1000);
    assert_int_equal(groups[0]->resources[0]->compute->memory_bytes, 1ull << 30);
    assert_int_equal(groups[0]->resources[0]->compute->storage_bytes, 10ull << 30);
    assert_int_equal(groups[0]->resources[0]->count, 1);
    assert_string_equal(groups[1]->name, "web");
    assert_string_equal(groups[1]->region, "us-east");
    assert_true(groups[1]->persist);
    assert_int_equal(groups[1]->resources[0]->compute->cpu_milli, 500);
    assert_int_equal(groups[1]->resources[0]->compute->memory_bytes, 512ull << 20);
    assert_int_equal(groups[1]->resources[0]->compute->storage_bytes, 1ull << 30);
    assert_int_equal(groups[1]->resources[0]->count, 2);
    assert_int_equal(groups[1]->resources[0]->price, 100);
    assert_int_equal(groups[1]->resources[0]->collateral, 10000);

    const Kumo__Manifest *m = kumo_sdl_stack_manifest(s);
    assert_int_equal(m->n_workloads, 2);
    const Kumo__ManifestWorkload *db = m->workloads[0];
    const Kumo__ManifestWorkload *web = m->workloads[1];
    assert_string_equal(db->name, "db");
    assert_string_equal(db->image, "localhost/kumo-webapp-counter:1");
    assert_string_equal(db->group, "db");
    assert_int_equal(db->count, 1);
    assert_int_equal(db->n_ports, 1);
    assert_int_equal(db->ports[0]->port, 7000);
    assert_string_equal(db->ports[0]->protocol, "tcp");
    assert_int_equal(db->ports[0]->n_expose, 1);
    assert_string_equal(db->ports[0]->expose[0]->workload, "web");
    assert_string_equal(web->name, "web");
    assert_string_equal(web->image, "localhost/kumo-webapp-web:1");
    assert_int_equal(web->count, 2);
    assert_string_equal(web->group, "web");
    assert_int_equal(web->ports[0]->port, 8080);
    assert_true(web->ports[0]->expose[0]->global);
    assert_int_equal(web->n_env, 2);
    assert_string_equal(web->env[0]->key, "COUNTER_HOST");
    assert_string_equal(web->env[1]->value, "7000");
    kumo_sdl_stack_free(s);

    /* The version is pinned: a change here changes every deployed webapp's version. */
    uint8_t v1[KUMO_VERSION_BYTES];
    uint8_t v2[KUMO_VERSION_BYTES];
    sdl_version_of(text, v1);
    sdl_version_of(text, v2);
    assert_memory_equal(v1, v2, sizeof(v1));
    char hex[2 * KUMO_VERSION_BYTES + 1];
    hex_of(v1, sizeof(v1), hex);
    assert_string_equal(hex, "443df7f56b2ca16c901655b48110895fada37911a6012df5b28f26376febc456");
    free(text);
}

/* Each variant writes the base stack differently without changing its meaning. */
static const struct {
    const char *name;
    const char *old;
    const char *new_text;
} same_cases[] = {
    {"env reordered", "env: {A: \"1\", B: two}", "env: {B: two, A: \"1\"}"},
    {"rules reordered", "[{global: true}, {workload: db}]", "[{workload: db}, {global: true}]"},
    {"compute keys reordered", "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count",
     "compute: {storage: 1Gi, memory: 512Mi, cpu: 500m}\n    count"},
    {"cpu as a fraction", "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count",
     "compute: {cpu: \"0.5\", memory: 536870912, storage: 1Gi}\n    count"},
    {"default protocol written", "- port: 80\n", "- port: 80\n        protocol: tcp\n"},
    {"top keys reordered", "wait_blocks: 2\ndeposit: 1000\n", "deposit: 1000\nwait_blocks: 2\n"},
    {"workload keys reordered",
     "    image: db:1\n    compute: {cpu: 500m, memory: 512Mi, storage: "
     "1Gi}\n",
     "    compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}\n    image: db:1\n"},
    {"count 1 written", "    group: g1\n    ports:\n      - port: 6379",
     "    group: g1\n    count: 1\n    ports:\n      - port: 6379"},
    {"group of resources changes nothing in the manifest", "collateral: 5", "collateral: 6"},
};

static const struct {
    const char *name;
    const char *old;
    const char *new_text;
} diff_cases[] = {
    {"image", "image: img:1", "image: img:2"},
    {"command", "[serve, --port, \"80\"]", "[serve, \"80\", --port]"},
    {"env value", "B: two", "B: three"},
    {"env key", "B: two", "C: two"},
    {"compute", "collateral: 5\n",
     "collateral: 5\n      - cpu: 1\n        memory: 512Mi\n        count: 2\n        price: 1\n"},
    {"count", "    count: 2\n", "    count: 1\n"},
    {"port", "- port: 80\n", "- port: 81\n"},
    {"rule", "{workload: db}]", "{group: g1}]"},
    {"group name", "  g1:\n", "  g2:\n"},
};

static void test_manifest_is_canonical(void **state)
{
    (void)state;
    uint8_t base[KUMO_VERSION_BYTES];
    sdl_version_of(sdl_base_stack, base);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(same_cases); i++) {
        char *text = sdl_text_replace(sdl_base_stack, same_cases[i].old, same_cases[i].new_text);
        uint8_t v[KUMO_VERSION_BYTES];
        sdl_version_of(text, v);
        if (memcmp(v, base, sizeof(v)) != 0) {
            fail_msg("%s: the version changed", same_cases[i].name);
        }
        free(text);
    }
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(diff_cases); i++) {
        char *text = sdl_text_replace(sdl_base_stack, diff_cases[i].old, diff_cases[i].new_text);
        if (strcmp(diff_cases[i].name, "compute") == 0) {
            /* web moves to the new 1-cpu unit */
            char *t2 = sdl_text_replace(text, "{cpu: 500m, memory: 512Mi, storage: 1Gi}\n    count",
                                        "{cpu: 1, memory: 512Mi}\n    count");
            free(text);
            text = t2;
        }
        if (strcmp(diff_cases[i].name, "group name") == 0) {
            char *t2 = sdl_text_replace(text, "group: g1\n    ports:\n      - port: 80",
                                        "group: g2\n    ports:\n      - port: 80");
            char *t3 = sdl_text_replace(t2, "group: g1\n    ports", "group: g2\n    ports");
            char *t4 = sdl_text_replace(t3, "{group: g1}", "{group: g2}");
            free(text);
            free(t2);
            free(t3);
            text = t4;
        }
        uint8_t v[KUMO_VERSION_BYTES];
        sdl_version_of(text, v);
        if (memcmp(v, base, sizeof(v)) == 0) {
            fail_msg("%s: the version did not change", diff_cases[i].name);
        }
        free(text);
    }
}

static void test_groups_sorted_and_reordering_keeps_them(void **state)
{
    (void)state;
    const char *two = "version: \"1\"\n"
                      "groups:\n"
                      "  zeta: {region: a, resources: [{cpu: 1, memory: 1Gi, price: 1}]}\n"
                      "  alpha: {region: b, persist: false, resources: [{cpu: 1, memory: 1Gi, "
                      "price: 2}]}\n"
                      "workloads:\n"
                      "  w: {image: i, compute: {cpu: 1000m, memory: 1024Mi}, group: zeta}\n"
                      "wait_blocks: 0\n"
                      "deposit: 1\n";
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(two, &s, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    Kumo__GroupSpec **groups;
    size_t count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(s, &groups, &count, &wait_blocks, &deposit);
    assert_int_equal(count, 2);
    assert_string_equal(groups[0]->name, "alpha");
    assert_false(groups[0]->persist);
    assert_int_equal(groups[0]->resources[0]->count, 1); /* default */
    assert_int_equal(groups[0]->resources[0]->collateral, 0);
    assert_int_equal(groups[0]->resources[0]->compute->storage_bytes, 0);
    assert_string_equal(groups[1]->name, "zeta");
    assert_int_equal(wait_blocks, 0);
    assert_int_equal(deposit, 1);
    kumo_sdl_stack_free(s);
}

static void test_manifest_decodes_to_the_same_bytes(void **state)
{
    (void)state;
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(sdl_parse_text(sdl_base_stack, &s, &err), 0);
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(s, &buf, &err), 0);
    Kumo__Manifest *m = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(kumo_buf_bytes(&buf), &m, &err), 0);
    kumo_buf_t again;
    kumo_buf_init(&again, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(&m->base, &again, &err), 0);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&buf), kumo_buf_bytes(&again)));
    assert_int_equal(m->n_workloads, 2);
    assert_string_equal(m->workloads[0]->name, "db");
    assert_string_equal(m->workloads[1]->command[2], "80");
    kumo_codec_free(&m->base);
    /* A small out buffer is KUMO_ELIMIT and stays unchanged. */
    kumo_buf_t small;
    kumo_buf_init(&small, 8);
    assert_int_equal(kumo_sdl_manifest_encode(s, &small, &err), KUMO_ELIMIT);
    assert_int_equal(small.len, 0);
    /* Garbage does not decode. */
    static const uint8_t junk[] = {0x0a, 0x05, 0x01};
    assert_int_equal(kumo_sdl_manifest_decode(kumo_bytes_make(junk, sizeof(junk)), &m, &err),
                     KUMO_EDECODE);
    kumo_buf_free(&small);
    kumo_buf_free(&again);
    kumo_buf_free(&buf);
    kumo_sdl_stack_free(s);
}

static void parse_allocation_failures(const char *text)
{
    for (uint64_t nth = 1;; nth++) {
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        kumo_alloc_fail_at(nth);
        int rc = sdl_parse_text(text, &s, &err);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            assert_true(nth > 10);
            kumo_sdl_stack_free(s);
            break;
        }
        if (rc != KUMO_ENOMEM) {
            fail_msg("allocation %llu: %s (%s)", (unsigned long long)nth, kumo_err_name(rc),
                     err.detail);
        }
        assert_null(s);
    }
}

static void test_parse_allocation_failure_leaks_nothing(void **state)
{
    (void)state;
    parse_allocation_failures(sdl_base_stack);
    char *text = sdl_text_replace(sdl_base_stack, "    region: us-east\n",
                                  "    region: us-east\n    requirements:\n"
                                  "      attributes: {tier: gold, hw: ssd}\n"
                                  "      signed_by: {any_of: [" A2 ", " A1 "]}\n");
    parse_allocation_failures(text);
    free(text);
}

/* Requirements come out sorted (attributes by key, auditors and providers by address), whatever
 * the file's
 * order, so the group spec (and the order the chain opens) has one encoding. */
static void test_requirements_are_canonical(void **state)
{
    (void)state;
    char *text =
        sdl_text_replace(sdl_base_stack, "    region: us-east\n",
                         "    region: us-east\n    requirements:\n"
                         "      attributes: {tier: gold, hw: ssd}\n"
                         "      signed_by: {all_of: [kumo1qgpqyqszqgpqyqszqgpqyqszqgpqyqszqgctfw, "
                         "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]}\n"
                         "      providers: [kumo1qgpqyqszqgpqyqszqgpqyqszqgpqyqszqgctfw, "
                         "kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]\n"
                         "      exclusive: true\n");
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(text, &s, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    Kumo__GroupSpec **groups;
    size_t count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(s, &groups, &count, &wait_blocks, &deposit);
    const Kumo__PlacementRequirements *r = groups[0]->requirements;
    assert_non_null(r);
    assert_int_equal(r->n_attributes, 2);
    assert_string_equal(r->attributes[0]->key, "hw");
    assert_string_equal(r->attributes[1]->value, "gold");
    assert_non_null(r->signed_by);
    assert_int_equal(r->signed_by->n_all_of, 2);
    assert_int_equal(r->signed_by->all_of[0].data[0], 1);
    assert_int_equal(r->signed_by->all_of[1].data[0], 2);
    assert_int_equal(r->signed_by->n_any_of, 0);
    assert_int_equal(r->n_providers, 2);
    assert_int_equal(r->providers[0].data[0], 1);
    assert_int_equal(r->providers[1].data[0], 2);
    assert_true(r->exclusive);
    kumo_sdl_stack_free(s);
    free(text);
}

/* GPUs in a unit: the group's resource and the workload's compute carry the same GpuSpec. */
static void test_gpu_units_parse(void **state)
{
    (void)state;
    char *t1 = sdl_text_replace(sdl_base_stack, "        count: 3\n",
                                "        gpu: {count: 2, vendor: nvidia, model: a100, memory: "
                                "40Gi}\n        count: 3\n");
    const char *unit = "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi}";
    const char *gpu_unit = "compute: {cpu: 500m, memory: 512Mi, storage: 1Gi, gpu: {count: 2, "
                           "vendor: nvidia, model: a100, memory: 40Gi}}";
    char *t2 = sdl_text_replace(t1, unit, gpu_unit);
    char *text = sdl_text_replace(t2, unit, gpu_unit);
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = sdl_parse_text(text, &s, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    Kumo__GroupSpec **groups;
    size_t count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(s, &groups, &count, &wait_blocks, &deposit);
    const Kumo__GpuSpec *g = groups[0]->resources[0]->compute->gpu;
    assert_non_null(g);
    assert_int_equal(g->count, 2);
    assert_string_equal(g->vendor, "nvidia");
    assert_string_equal(g->model, "a100");
    assert_int_equal(g->memory_bytes, 40ull << 30);
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(s);
    assert_non_null(m->workloads[0]->compute->gpu);
    kumo_sdl_stack_free(s);
    free(text);
    free(t2);
    free(t1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_webapp_parses),
        cmocka_unit_test(test_requirements_are_canonical),
        cmocka_unit_test(test_gpu_units_parse),
        cmocka_unit_test(test_manifest_is_canonical),
        cmocka_unit_test(test_groups_sorted_and_reordering_keeps_them),
        cmocka_unit_test(test_manifest_decodes_to_the_same_bytes),
        cmocka_unit_test(test_parse_allocation_failure_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
