/*
 * test_limits.c - proves every stack limit at MAX (accepted) and MAX+1 (KUMO_ELIMIT): counts
 * of groups, resources, units, workloads, instances, command arguments, env entries, ports and
 * rules; byte lengths of names, regions, images, arguments, env keys and values; the file's
 * size, its nesting depth and its number of YAML nodes. Stacks are generated from a parameter
 * set whose defaults give a valid stack.
 */
#include "helpers/testutil.h"

#include "unit/sdl/sdl_fixture.h"

typedef struct gen {
    size_t group_count;
    size_t resource_count;
    size_t unit_count;
    size_t workload_count;
    size_t instance_count;
    size_t command_count;
    size_t arg_bytes;
    size_t env_count;
    size_t env_key_bytes;
    size_t env_value_bytes;
    size_t port_count;
    size_t rule_count;
    size_t name_bytes;
    size_t image_bytes;
    size_t region_bytes;
} gen_t;

static gen_t gen_default(void)
{
    gen_t g = {.group_count = 1,
               .resource_count = 1,
               .unit_count = 10000,
               .workload_count = 2,
               .instance_count = 1,
               .command_count = 1,
               .arg_bytes = 1,
               .env_count = 1,
               .env_key_bytes = 1,
               .env_value_bytes = 1,
               .port_count = 1,
               .rule_count = 1,
               .name_bytes = 2,
               .image_bytes = 1,
               .region_bytes = 1};
    return g;
}

static void gen_groups(const gen_t *g, sdl_text_t *t)
{
    sdl_text_add(t, "version: \"1\"\ngroups:\n");
    for (size_t i = 0; i < g->group_count; i++) {
        sdl_text_add(t, "  g%zu:\n    region: ", i);
        sdl_text_repeat(t, 'r', g->region_bytes);
        sdl_text_add(t, "\n    resources:\n");
        for (size_t r = 0; r < g->resource_count; r++) {
            sdl_text_add(t, "      - {cpu: %zum, memory: 1, count: %zu, price: 1}\n", r + 1u,
                         g->unit_count);
        }
    }
}

/* The first workload carries the long and many things; the others are minimal. */
static void gen_first_workload(const gen_t *g, sdl_text_t *t)
{
    sdl_text_add(t, "  w");
    sdl_text_repeat(t, 'a', g->name_bytes - 1u);
    sdl_text_add(t, ":\n    image: ");
    sdl_text_repeat(t, 'i', g->image_bytes);
    sdl_text_add(t, "\n    compute: {cpu: 1m, memory: 1}\n    count: %zu\n    group: g0\n",
                 g->instance_count);
    sdl_text_add(t, "    command:\n");
    for (size_t i = 0; i < g->command_count; i++) {
        sdl_text_add(t, "      - ");
        sdl_text_repeat(t, 'a', i == 0 ? g->arg_bytes : 1u);
        sdl_text_add(t, "\n");
    }
    sdl_text_add(t, "    env:\n");
    for (size_t i = 0; i < g->env_count; i++) {
        sdl_text_add(t, "      K");
        sdl_text_repeat(t, 'K', i == 0 ? g->env_key_bytes - 1u : 0u);
        sdl_text_add(t, "%zu: ", i);
        sdl_text_repeat(t, 'v', i == 0 ? g->env_value_bytes : 1u);
        sdl_text_add(t, "\n");
    }
    sdl_text_add(t, "    ports:\n");
    for (size_t i = 0; i < g->port_count; i++) {
        sdl_text_add(t, "      - port: %zu\n", i + 1u);
        if (i == 0 && g->rule_count > 0) {
            sdl_text_add(t, "        expose:\n");
            for (size_t r = 0; r < g->rule_count; r++) {
                sdl_text_add(t, "          - workload: w%zu\n", r + 1u);
            }
        }
    }
}

static char *gen_text(const gen_t *g)
{
    sdl_text_t t = {0};
    gen_groups(g, &t);
    sdl_text_add(&t, "workloads:\n");
    gen_first_workload(g, &t);
    for (size_t i = 1; i < g->workload_count; i++) {
        sdl_text_add(&t, "  w%zu: {image: i, compute: {cpu: 1m, memory: 1}, group: g0}\n", i);
    }
    sdl_text_add(&t, "wait_blocks: 0\ndeposit: 1\n");
    return t.ptr;
}

static int gen_parse(const gen_t *g, kumo_err_ctx_t *err)
{
    char *text = gen_text(g);
    kumo_sdl_stack_t *s = NULL;
    int rc = sdl_parse_text(text, &s, err);
    kumo_sdl_stack_free(s);
    free(text);
    return rc;
}

/* Parses g with the member at offset set to value. */
static void limit_check(const char *name, gen_t g, size_t offset, size_t value, int want)
{
    memcpy((char *)&g + offset, &value, sizeof(value));
    kumo_err_ctx_t err = {0};
    int rc = gen_parse(&g, &err);
    if (rc != want) {
        fail_msg("%s = %zu: got %s (%s), want %s", name, value, kumo_err_name(rc), err.detail,
                 kumo_err_name(want));
    }
}

#define LIMIT(gen, member, max_value)                                                  \
    do {                                                                               \
        limit_check(#member, (gen), offsetof(gen_t, member), (max_value), 0);          \
        limit_check(#member, (gen), offsetof(gen_t, member), (size_t)(max_value) + 1u, \
                    KUMO_ELIMIT);                                                      \
    } while (0)

static void test_counts_and_lengths_at_max_and_max_plus_one(void **state)
{
    (void)state;
    gen_t g = gen_default();
    assert_int_equal(gen_parse(&g, NULL), 0);
    LIMIT(g, group_count, KUMO_GROUP_COUNT_MAX);
    LIMIT(g, resource_count, KUMO_RESOURCE_COUNT_MAX);
    LIMIT(g, unit_count, KUMO_RESOURCE_UNIT_COUNT_MAX);
    LIMIT(g, workload_count, KUMO_SDL_WORKLOAD_COUNT_MAX);
    LIMIT(g, command_count, KUMO_SDL_COMMAND_COUNT_MAX);
    LIMIT(g, arg_bytes, KUMO_SDL_COMMAND_ARG_BYTES_MAX);
    LIMIT(g, env_count, KUMO_SDL_ENV_COUNT_MAX);
    LIMIT(g, env_key_bytes, KUMO_SDL_ENV_KEY_BYTES_MAX - 1u); /* + the digit suffix */
    LIMIT(g, env_value_bytes, KUMO_SDL_ENV_VALUE_BYTES_MAX);
    LIMIT(g, port_count, KUMO_SDL_PORT_COUNT_MAX);
    LIMIT(g, name_bytes, KUMO_SDL_NAME_BYTES_MAX);
    LIMIT(g, image_bytes, KUMO_SDL_IMAGE_BYTES_MAX);
    LIMIT(g, region_bytes, KUMO_REGION_BYTES_MAX);
    gen_t one = gen_default();
    one.workload_count = 1;
    one.rule_count = 0;
    LIMIT(one, instance_count, KUMO_RESOURCE_UNIT_COUNT_MAX);
    gen_t many = gen_default();
    many.workload_count = KUMO_SDL_RULE_COUNT_MAX + 2u;
    LIMIT(many, rule_count, KUMO_SDL_RULE_COUNT_MAX);
}

/* The valid base stack padded with a comment to exactly bytes. */
static char *padded(size_t bytes)
{
    size_t base = strlen(sdl_base_stack);
    char *text = malloc(bytes + 1u);
    assert_non_null(text);
    memcpy(text, sdl_base_stack, base);
    text[base] = '#';
    memset(text + base + 1u, 'x', bytes - base - 2u);
    text[bytes - 1u] = '\n';
    text[bytes] = '\0';
    return text;
}

static void test_file_bytes_at_max_and_max_plus_one(void **state)
{
    (void)state;
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    char *text = padded(KUMO_SDL_STACK_BYTES_MAX);
    assert_int_equal(sdl_parse_text(text, &s, &err), 0);
    kumo_sdl_stack_free(s);
    free(text);
    text = padded(KUMO_SDL_STACK_BYTES_MAX + 1u);
    assert_int_equal(sdl_parse_text(text, &s, &err), KUMO_ELIMIT);
    assert_string_equal(err.detail, "stack.yml: 262145 bytes, more than 262144");
    assert_null(s);
    free(text);
}

/* "x: " then depth-1 nested lists: the root mapping is the first level. */
static int nested_parse(size_t depth, kumo_err_ctx_t *err)
{
    sdl_text_t t = {0};
    sdl_text_add(&t, "x: ");
    sdl_text_repeat(&t, '[', depth - 1u);
    sdl_text_repeat(&t, ']', depth - 1u);
    sdl_text_add(&t, "\n");
    kumo_sdl_stack_t *s = NULL;
    int rc = sdl_parse_text(t.ptr, &s, err);
    assert_null(s);
    sdl_text_free(&t);
    return rc;
}

static void test_depth_at_max_and_max_plus_one(void **state)
{
    (void)state;
    kumo_err_ctx_t err = {0};
    /* At the limit the tree builds and the schema rejects the key. */
    assert_int_equal(nested_parse(KUMO_SDL_DEPTH_MAX, &err), KUMO_EDECODE);
    assert_string_equal(err.detail, "stack.yml:1: stack: unknown key \"x\"");
    assert_int_equal(nested_parse(KUMO_SDL_DEPTH_MAX + 1u, &err), KUMO_ELIMIT);
    assert_string_equal(err.detail, "stack.yml:1: nesting deeper than 16 levels");
}

/* The root mapping, the key x, its list and scalars: 3 + scalars nodes. */
static int nodes_parse(size_t nodes, kumo_err_ctx_t *err)
{
    sdl_text_t t = {0};
    sdl_text_add(&t, "x: [");
    for (size_t i = 0; i + 3u < nodes; i++) {
        sdl_text_add(&t, "%s", i == 0 ? "1" : ",1");
    }
    sdl_text_add(&t, "]\n");
    kumo_sdl_stack_t *s = NULL;
    int rc = sdl_parse_text(t.ptr, &s, err);
    assert_null(s);
    sdl_text_free(&t);
    return rc;
}

static void test_node_count_at_max_and_max_plus_one(void **state)
{
    (void)state;
    kumo_err_ctx_t err = {0};
    assert_int_equal(nodes_parse(KUMO_SDL_NODE_COUNT_MAX, &err), KUMO_EDECODE);
    assert_string_equal(err.detail, "stack.yml:1: stack: unknown key \"x\"");
    assert_int_equal(nodes_parse(KUMO_SDL_NODE_COUNT_MAX + 1u, &err), KUMO_ELIMIT);
    assert_string_equal(err.detail, "stack.yml:1: more than 65536 YAML nodes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_lengths_at_max_and_max_plus_one),
        cmocka_unit_test(test_file_bytes_at_max_and_max_plus_one),
        cmocka_unit_test(test_depth_at_max_and_max_plus_one),
        cmocka_unit_test(test_node_count_at_max_and_max_plus_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
