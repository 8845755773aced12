/*
 * test_akash.c - Akash SDL import: real-world-shaped files in tests/vectors/akash convert byte
 * for byte into their golden kumo stacks and warnings, and those stacks parse; conversion is
 * deterministic; detection tells Akash SDL from kumo stacks; every construct kumo cannot run
 * fails with its own code and a message naming the file, line and field, leaving the outputs
 * unchanged; every dropped construct gives its own warning.
 */
#include "helpers/testutil.h"

#include "unit/sdl/sdl_fixture.h"

static char *vector_read(const char *name, size_t *len_out)
{
    const char *src = getenv("KUMO_SOURCE_DIR");
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/tests/vectors/akash/%s", src != NULL ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    char *text = calloc(1, KUMO_SDL_STACK_BYTES_MAX + 1u);
    assert_non_null(text);
    size_t n = fread(text, 1, KUMO_SDL_STACK_BYTES_MAX, f);
    fclose(f);
    *len_out = n;
    return text;
}

typedef struct golden_case {
    const char *sdl;
    const char *region;
    const char *stack;
    const char *notes;
} golden_case_t;

static const golden_case_t golden_cases[] = {
    {"web.yml", NULL, "web.kumo.yml", "web.notes"},
    {"db.yml", NULL, "db.kumo.yml", "db.notes"},
    {"multi.yml", "eu-central", "multi.kumo.yml", "multi.notes"},
    {"gpu.yml", NULL, "gpu.kumo.yml", "gpu.notes"},
};

static void golden_check(const golden_case_t *g)
{
    size_t sdl_len;
    size_t stack_len;
    size_t notes_len;
    char *sdl = vector_read(g->sdl, &sdl_len);
    char *want_stack = vector_read(g->stack, &stack_len);
    char *want_notes = vector_read(g->notes, &notes_len);
    kumo_sdl_akash_opts_t opts = {.region = g->region};
    kumo_bytes_t in = kumo_bytes_make(sdl, sdl_len);
    assert_true(kumo_sdl_akash_detect(in));
    for (int round = 0; round < 2; round++) { /* deterministic */
        kumo_buf_t out;
        kumo_buf_t notes;
        kumo_buf_init(&out, KUMO_SDL_STACK_BYTES_MAX);
        kumo_buf_init(&notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
        kumo_err_ctx_t err = {0};
        int rc = kumo_sdl_akash_convert(in, g->sdl, &opts, &out, &notes, &err);
        if (rc != 0) {
            fail_msg("%s: %s", g->sdl, err.detail);
        }
        assert_int_equal(out.len, stack_len);
        assert_memory_equal(out.ptr, want_stack, stack_len);
        assert_int_equal(notes.len, notes_len);
        assert_memory_equal(notes.ptr, want_notes, notes_len);
        kumo_sdl_stack_t *stack = NULL;
        rc = kumo_sdl_stack_parse(kumo_buf_bytes(&out), g->stack, &stack, &err);
        if (rc != 0) {
            fail_msg("%s: %s", g->stack, err.detail);
        }
        assert_false(kumo_sdl_akash_detect(kumo_buf_bytes(&out)));
        kumo_sdl_stack_free(stack);
        kumo_buf_free(&out);
        kumo_buf_free(&notes);
    }
    free(sdl);
    free(want_stack);
    free(want_notes);
}

static void test_golden_conversions(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(golden_cases); i++) {
        golden_check(&golden_cases[i]);
    }
}

static void test_detect(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool akash;
    } cases[] = {
        {"version: \"2.0\"\nservices: {}\n", true},
        {"services: {web: {image: a}}\n", true},
        {sdl_base_stack, false},
        {"", false},
        {"- a\n- b\n", false},
        {"? [a]\n: 1\n", false},
        {"services: [\n", false},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_bytes_t b = kumo_bytes_make(cases[i].text, strlen(cases[i].text));
        assert_int_equal(kumo_sdl_akash_detect(b), cases[i].akash);
    }
}

/* Line numbers matter: the tables name them. */
static const char akash_base[] = "version: \"2.0\"\n"                       /* 1 */
                                 "services:\n"                              /* 2 */
                                 "  web:\n"                                 /* 3 */
                                 "    image: nginx:1\n"                     /* 4 */
                                 "    expose:\n"                            /* 5 */
                                 "      - port: 80\n"                       /* 6 */
                                 "        to:\n"                            /* 7 */
                                 "          - global: true\n"               /* 8 */
                                 "profiles:\n"                              /* 9 */
                                 "  compute:\n"                             /* 10 */
                                 "    web:\n"                               /* 11 */
                                 "      resources:\n"                       /* 12 */
                                 "        cpu: {units: 1}\n"                /* 13 */
                                 "        memory: {size: 1Gi}\n"            /* 14 */
                                 "        storage: {size: 1Gi}\n"           /* 15 */
                                 "  placement:\n"                           /* 16 */
                                 "    dc:\n"                                /* 17 */
                                 "      attributes: {region: us-east}\n"    /* 18 */
                                 "      pricing:\n"                         /* 19 */
                                 "        web: {denom: uakt, amount: 10}\n" /* 20 */
                                 "deployment:\n"                            /* 21 */
                                 "  web:\n"                                 /* 22 */
                                 "    dc: {profile: web, count: 1}\n";      /* 23 */

/* akash_base with the first occurrence of from replaced by to (from must occur). */
static char *base_with(const char *from, const char *to)
{
    const char *at = strstr(akash_base, from);
    assert_non_null(at);
    size_t head = (size_t)(at - akash_base);
    size_t len = sizeof(akash_base) - strlen(from) + strlen(to);
    char *out = calloc(1, len);
    assert_non_null(out);
    memcpy(out, akash_base, head);
    memcpy(out + head, to, strlen(to));
    strcpy(out + head + strlen(to), at + strlen(from));
    return out;
}

typedef struct neg_case {
    const char *from;
    const char *to;
    int code;
    const char *detail;
} neg_case_t;

static const neg_case_t neg_cases[] = {
    {"      pricing:\n", "      signedBy: {allOf: [bob]}\n      pricing:\n", KUMO_EINVAL,
     "a.yml:19: profiles.placement.dc.signedBy.allOf[0]: \"bob\" is not an account address"},
    {"      pricing:\n", "      signedBy: {oneOf: []}\n      pricing:\n", KUMO_EDECODE,
     "a.yml:19: profiles.placement.dc.signedBy: unknown key \"oneOf\""},
    {"memory: {size: 1Gi}\n", "memory: {size: 1Gi}\n        gpu: {units: 1}\n", KUMO_EEMPTY,
     "a.yml:15: profiles.compute.web.resources.gpu: GPUs without a vendor: add attributes: "
     "{vendor: {nvidia: }}"},
    {"memory: {size: 1Gi}\n",
     "memory: {size: 1Gi}\n        gpu: {units: 1, attributes: {vendor: {nvidia: [], amd: "
     "[]}}}\n",
     KUMO_EINVAL,
     "a.yml:15: profiles.compute.web.resources.gpu.attributes.vendor: kumo takes one GPU vendor "
     "per unit"},
    {"memory: {size: 1Gi}\n",
     "memory: {size: 1Gi}\n        gpu: {units: 1, attributes: {vendor: {nvidia: [{model: a}, "
     "{model: b}]}}}\n",
     KUMO_EINVAL,
     "a.yml:15: profiles.compute.web.resources.gpu.attributes.vendor.nvidia: kumo takes one GPU "
     "model per unit (write one profile per model)"},
    {"memory: {size: 1Gi}\n",
     "memory: {size: 1Gi}\n        gpu: {units: 9, attributes: {vendor: {nvidia: }}}\n",
     KUMO_ELIMIT, "a.yml:15: profiles.compute.web.resources.gpu.units: 9 exceeds 8"},
    {"- port: 80\n", "- port: 80\n        proto: udp\n", KUMO_EINVAL,
     "a.yml:7: services.web.expose[0].proto: \"udp\" is not supported by kumo (tcp only)"},
    {"- global: true", "- ip: myip", KUMO_EINVAL,
     "a.yml:8: services.web.expose[0].to[0].ip: IP endpoints are not supported by kumo yet"},
    {"    image: nginx:1\n", "    image: nginx:1\n    credentials: {host: r, username: u}\n",
     KUMO_EINVAL,
     "a.yml:5: services.web.credentials: registry credentials are not supported by kumo yet (use "
     "a public image)"},
    {"    dc: {profile: web, count: 1}\n",
     "    dc: {profile: web, count: 1}\n    dc2: {profile: web, count: 1}\n", KUMO_EINVAL,
     "a.yml:23: deployment.web: 2 placements: kumo runs a workload in one group (write one "
     "service per placement)"},
    {"attributes: {region: us-east}", "attributes: {host: akash}", KUMO_EEMPTY,
     "a.yml:18: profiles.placement.dc: no region: add attributes: {region: REGION} or pass "
     "--region"},
    {"denom: uakt", "denom: ibc/usdc", KUMO_EINVAL,
     "a.yml:20: profiles.placement.dc.pricing.web.denom: \"ibc/usdc\" has no kumo price: pass "
     "--price"},
    {"  web:\n    dc:", "  api:\n    dc:", KUMO_ENOTFOUND,
     "a.yml:22: deployment.api: no service named \"api\""},
    {"profile: web,", "profile: big,", KUMO_ENOTFOUND,
     "a.yml:23: deployment.web.dc.profile: no compute profile named \"big\""},
    {"    dc: {profile", "    eu: {profile", KUMO_ENOTFOUND,
     "a.yml:23: deployment.web.eu: no placement named \"eu\""},
    {"\"2.0\"", "\"3.0\"", KUMO_EINVAL,
     "a.yml:1: version: \"3.0\" is not a supported Akash SDL version (use \"2.0\" or \"2.1\")"},
    {"    image: nginx:1\n", "    image: nginx:1\n    env: [NOVALUE]\n", KUMO_EINVAL,
     "a.yml:5: services.web.env: \"NOVALUE\" is not KEY=value"},
    {"size: 1Gi}\n        storage", "size: 12XB}\n        storage", KUMO_EINVAL,
     "a.yml:14: profiles.compute.web.resources.memory.size: \"12XB\" is not a size (use Ki, Mi, "
     "Gi, M, G or bytes)"},
    {"    image: nginx:1\n", "    image: nginx:1\n    params: {storage: {data: {mount: /data}}}\n",
     KUMO_ENOTFOUND,
     "a.yml:5: services.web.params.storage.data: the service's compute profile has no storage "
     "named \"data\""},
    {"    image: nginx:1\n", "    image: nginx:1\n    replicas: 2\n", KUMO_EDECODE,
     "a.yml:5: services.web: unknown key \"replicas\""},
    {"        web: {denom", "        other: {denom", KUMO_EEMPTY,
     "a.yml:20: profiles.placement.dc.pricing.web: required but missing"},
    {"storage: {size: 1Gi}",
     "storage: [{size: 1Gi}, {name: d, size: 64Mi, attributes: {class: ram, persistent: true}}]",
     KUMO_EINVAL,
     "a.yml:15: profiles.compute.web.resources.storage[1].attributes.persistent: a ram volume "
     "cannot be persistent"},
    {"cpu: {units: 1}", "cpu: {units: 0}", KUMO_EINVAL,
     "a.yml:13: profiles.compute.web.resources.cpu.units: cpu is 0"},
    {"deployment:\n  web:\n    dc: {profile: web, count: 1}\n", "deployment: {}\n", KUMO_EEMPTY,
     "a.yml:21: deployment: no service is deployed"},
};

static void test_unmapped_constructs_fail_with_their_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(neg_cases); i++) {
        const neg_case_t *n = &neg_cases[i];
        char *text = base_with(n->from, n->to);
        kumo_buf_t out;
        kumo_buf_t notes;
        kumo_buf_init(&out, KUMO_SDL_STACK_BYTES_MAX);
        kumo_buf_init(&notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
        kumo_err_ctx_t err = {0};
        int rc = kumo_sdl_akash_convert(kumo_bytes_make(text, strlen(text)), "a.yml", NULL, &out,
                                        &notes, &err);
        if (rc != n->code || strcmp(err.detail, n->detail) != 0) {
            fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, kumo_err_name(rc), err.detail,
                     kumo_err_name(n->code), n->detail);
        }
        assert_int_equal(out.len, 0); /* nothing is written on failure */
        assert_int_equal(notes.len, 0);
        kumo_buf_free(&out);
        kumo_buf_free(&notes);
        free(text);
    }
}

typedef struct warn_case {
    const char *from;
    const char *to;
    const char *note;
} warn_case_t;

static const warn_case_t warn_cases[] = {
    {"- port: 80\n", "- port: 80\n        as: 8080\n",
     "a.yml:7: services.web.expose[0].as: ignored (the provider chooses the public port of 80)\n"},
    {"- port: 80\n", "- port: 80\n        accept: [a.example]\n",
     "a.yml:7: services.web.expose[0].accept: ignored (kumo forwards plain TCP, no HTTP "
     "ingress)\n"},
    {"- port: 80\n", "- port: 80\n        http_options: {max_body_size: 10}\n",
     "a.yml:7: services.web.expose[0].http_options: ignored (kumo forwards plain TCP, no HTTP "
     "ingress)\n"},
    {"      pricing:\n",
     "      signedBy: {anyOf: [akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63]}\n      pricing:\n",
     "a.yml:19: profiles.placement.dc.signedBy.anyOf[0]: auditor taken as "
     "kumo1365yvmc4s7awdyj3n2sav7xfx76adc6dald3v0 (the same account bytes on kumo)\n"},
    {"    image: nginx:1\n", "    image: nginx:1\n    depends_on: [db]\n",
     "a.yml:5: services.web.depends_on: ignored (workloads start together)\n"},
    {"    image: nginx:1\n", "    image: nginx:1\n    command: [sh]\n",
     "a.yml:5: services.web.command: runs as the image's CMD (after its ENTRYPOINT, if it has "
     "one)\n"},
    {"profiles:\n", "  extra:\n    image: x:1\nprofiles:\n",
     "a.yml:9: services.extra: not in deployment: dropped\n"},
    {"memory: {size: 1Gi}\n", "memory: {size: 1Gi}\n        gpu: {units: 0}\n",
     "a.yml:15: profiles.compute.web.resources.gpu: 0 GPUs: dropped\n"},
    {"cpu: {units: 1}", "cpu: {units: 1, attributes: {arch: amd64}}",
     "a.yml:13: profiles.compute.web.resources.cpu.attributes: ignored (kumo units have no "
     "attributes)\n"},
    {"deployment:\n", "endpoints: {myip: {kind: ip}}\ndeployment:\n",
     "a.yml:21: endpoints: IP endpoints are not supported by kumo yet: dropped\n"},
    {"storage: {size: 1Gi}", "storage: [{size: 1Gi}, {name: d, size: 64Mi}]",
     "a.yml:15: profiles.compute.web.resources.storage: volume \"d\" is not mounted: counted in "
     "the unit's storage only\n"},
    {"    image: nginx:1\n", "    image: nginx:1\n    params: {permissions: {read: [logs]}}\n",
     "a.yml:5: services.web.params.permissions: ignored\n"},
};

static void test_dropped_constructs_warn(void **state)
{
    (void)state;
    kumo_sdl_akash_opts_t opts = {.price_ukumo = 7}; /* no pricing note */
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(warn_cases); i++) {
        const warn_case_t *w = &warn_cases[i];
        char *text = base_with(w->from, w->to);
        kumo_buf_t out;
        kumo_buf_t notes;
        kumo_buf_init(&out, KUMO_SDL_STACK_BYTES_MAX);
        kumo_buf_init(&notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
        kumo_err_ctx_t err = {0};
        int rc = kumo_sdl_akash_convert(kumo_bytes_make(text, strlen(text)), "a.yml", &opts, &out,
                                        &notes, &err);
        if (rc != 0) {
            fail_msg("case %zu: %s", i, err.detail);
        }
        if (notes.len != strlen(w->note) || memcmp(notes.ptr, w->note, notes.len) != 0) {
            fail_msg("case %zu: got \"%.*s\", want \"%s\"", i, (int)notes.len,
                     (const char *)notes.ptr, w->note);
        }
        kumo_sdl_stack_t *stack = NULL;
        if (kumo_sdl_stack_parse(kumo_buf_bytes(&out), "a.kumo.yml", &stack, &err) != 0) {
            fail_msg("case %zu: %s", i, err.detail);
        }
        kumo_sdl_stack_free(stack);
        kumo_buf_free(&out);
        kumo_buf_free(&notes);
        free(text);
    }
}

/* Options: --price replaces every price, --deposit and --wait-blocks the defaults, --region
 * fills placements without a region attribute (an attribute wins). */
/* Placement attributes other than region become the group's required attributes, signedBy its
 * signed_by; the stack parses with them. */
static void test_placement_requirements_map(void **state)
{
    (void)state;
    char *text = base_with("attributes: {region: us-east}",
                           "attributes: {region: us-east, tier: gold}\n      signedBy: {allOf: "
                           "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]}");
    kumo_buf_t out;
    kumo_buf_t notes;
    kumo_buf_init(&out, KUMO_SDL_STACK_BYTES_MAX);
    kumo_buf_init(&notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_sdl_akash_convert(kumo_bytes_make(text, strlen(text)), "a.yml", NULL, &out,
                                    &notes, &err);
    if (rc != 0) {
        fail_msg("%s (%s)", kumo_err_name(rc), err.detail);
    }
    assert_int_equal(kumo_buf_append(&out, "", 1), 0);
    const char *want = "    requirements:\n      attributes:\n        \"tier\": \"gold\"\n"
                       "      signed_by:\n        all_of: "
                       "[kumo1qyqszqgpqyqszqgpqyqszqgpqyqszqgp3v7wzc]\n";
    if (strstr((const char *)out.ptr, want) == NULL) {
        fail_msg("no requirements in:\n%s", (const char *)out.ptr);
    }
    assert_int_equal(kumo_buf_append(&notes, "", 1), 0);
    assert_null(strstr((const char *)notes.ptr, "auditor")); /* a kumo auditor needs no warning */
    kumo_sdl_stack_t *stack = NULL;
    assert_int_equal(sdl_parse_text((const char *)out.ptr, &stack, &err), 0);
    kumo_sdl_stack_free(stack);
    kumo_buf_free(&out);
    kumo_buf_free(&notes);
    free(text);
}

static void test_options(void **state)
{
    (void)state;
    char *text = base_with("attributes: {region: us-east}", "attributes: {}");
    kumo_sdl_akash_opts_t opts = {.region = "ap-south",
                                  .price_ukumo = 42,
                                  .deposit_ukumo = 9000000,
                                  .wait_blocks = 0,
                                  .wait_blocks_set = true};
    kumo_buf_t out;
    kumo_buf_t notes;
    kumo_buf_init(&out, KUMO_SDL_STACK_BYTES_MAX);
    kumo_buf_init(&notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_sdl_akash_convert(kumo_bytes_make(text, strlen(text)), "a.yml", &opts,
                                            &out, &notes, &err),
                     0);
    kumo_sdl_stack_t *stack = NULL;
    assert_int_equal(kumo_sdl_stack_parse(kumo_buf_bytes(&out), "a.kumo.yml", &stack, &err), 0);
    Kumo__GroupSpec **groups;
    size_t group_count;
    uint64_t wait_blocks;
    uint64_t deposit;
    kumo_sdl_stack_groups(stack, &groups, &group_count, &wait_blocks, &deposit);
    assert_int_equal(group_count, 1);
    assert_string_equal(groups[0]->region, "ap-south");
    assert_int_equal(groups[0]->resources[0]->price, 42);
    assert_int_equal(wait_blocks, 0);
    assert_int_equal(deposit, 9000000);
    assert_int_equal(notes.len, 0);
    kumo_sdl_stack_free(stack);
    kumo_buf_free(&out);
    kumo_buf_free(&notes);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_conversions),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_unmapped_constructs_fail_with_their_message),
        cmocka_unit_test(test_dropped_constructs_warn),
        cmocka_unit_test(test_placement_requirements_map),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
