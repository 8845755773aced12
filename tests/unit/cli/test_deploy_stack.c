/*
 * test_deploy_stack.c - the stack file and state file of `kumo deploy`: where the state file
 * lives, written 0600 and read back, every malformed state file refused; a stack loads into
 * groups, manifest and a deterministic version; a file past the stack limit and a missing
 * file are refused; an Akash SDL file loads as the kumo stack it converts to (same groups and
 * version), and one kumo cannot run is refused with its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The cli is an executable: its sources are compiled into the test (as test_cli_parse.c). */
#include "cli/cli_output.c"
#include "cli/cli_parse.c"
#include "cli/deploy_stack.c"
#include "helpers/testutil.h"

static const char t_stack[] = "version: \"1\"\n"
                              "groups:\n"
                              "  web:\n"
                              "    region: us-east\n"
                              "    resources:\n"
                              "      - cpu: 500m\n"
                              "        memory: 512Mi\n"
                              "        count: 1\n"
                              "        price: 100\n"
                              "        collateral: 1000\n"
                              "  db:\n"
                              "    region: us-west\n"
                              "    resources:\n"
                              "      - cpu: 1\n"
                              "        memory: 1Gi\n"
                              "        count: 1\n"
                              "        price: 200\n"
                              "        collateral: 2000\n"
                              "workloads:\n"
                              "  web:\n"
                              "    image: web:1\n"
                              "    compute:\n"
                              "      cpu: 500m\n"
                              "      memory: 512Mi\n"
                              "    group: web\n"
                              "  db:\n"
                              "    image: db:1\n"
                              "    compute:\n"
                              "      cpu: 1\n"
                              "      memory: 1Gi\n"
                              "    group: db\n"
                              "wait_blocks: 2\n"
                              "deposit: 5000000\n";

static void file_put(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_state_path(void **state)
{
    (void)state;
    const struct {
        const char *stack;
        const char *want;
    } rows[] = {
        {"a/b/stack.yml", "a/b/.kumo-deploy-stack.yml.json"},
        {"stack.yml", "./.kumo-deploy-stack.yml.json"},
        {"/stack.yml", "/.kumo-deploy-stack.yml.json"},
        {"/srv/app/web.yaml", "/srv/app/.kumo-deploy-web.yaml.json"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[CLI_PATH_BYTES];
        assert_int_equal(deploy_stack_state_path(rows[i].stack, out, sizeof(out), NULL), 0);
        assert_string_equal(out, rows[i].want);
    }
    char small[16];
    assert_int_equal(deploy_stack_state_path("a/b/stack.yml", small, sizeof(small), NULL),
                     KUMO_ELIMIT);
}

static void test_state_roundtrip_and_refusals(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("deploy-state");
    assert_non_null(dir);
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/.kumo-deploy-stack.yml.json", dir);
    deploy_state_t st = {.dseq = 42};
    (void)snprintf(st.owner, sizeof(st.owner), "kumo1owner");
    (void)snprintf(st.from, sizeof(st.from), "alice");
    deploy_state_t back;
    assert_int_equal(deploy_state_read(path, &back, NULL), KUMO_ENOTFOUND);
    assert_int_equal(deploy_state_write(path, &st, NULL), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(deploy_state_read(path, &back, NULL), 0);
    assert_int_equal(back.dseq, 42);
    assert_string_equal(back.owner, "kumo1owner");
    assert_string_equal(back.from, "alice");
    static const char *const bad[] = {
        "not json",
        "{\"owner\": \"kumo1x\", \"dseq\": \"0\", \"from\": \"a\"}",
        "{\"owner\": \"kumo1x\", \"dseq\": \"-1\", \"from\": \"a\"}",
        "{\"owner\": \"kumo1x\", \"from\": \"a\"}",
        "{\"owner\": \"kumo1x\", \"dseq\": \"1\", \"dseq\": \"2\", \"from\": \"a\"}",
        ("{\"owner\": \"kumo1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", "
         "\"dseq\": \"1\", \"from\": \"a\"}"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        file_put(path, bad[i], strlen(bad[i]));
        kumo_err_ctx_t err = {0};
        int rc = deploy_state_read(path, &back, &err);
        if (rc != KUMO_EDECODE && rc != KUMO_EINVAL) {
            fail_msg("state file #%zu: rc %d", i, rc);
        }
    }
    kumo_test_tmpdir_remove(dir);
}

static void test_stack_load(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("deploy-stack");
    assert_non_null(dir);
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/stack.yml", dir);
    file_put(path, t_stack, strlen(t_stack));
    deploy_stack_t a;
    deploy_stack_t b;
    assert_int_equal(deploy_stack_load(path, &a, NULL), 0);
    assert_int_equal(deploy_stack_load(path, &b, NULL), 0);
    assert_int_equal(a.group_count, 2);
    assert_string_equal(a.groups[0]->name, "db"); /* sorted by name: gseq = index */
    assert_int_equal(a.wait_blocks, 2);
    assert_int_equal(a.deposit_ukumo, 5000000);
    assert_memory_equal(a.version, b.version, sizeof(a.version));
    assert_int_equal(strlen(a.version_hex), 64);
    assert_int_equal(deploy_stack_workload_gseq(&a, "db"), 0);
    assert_int_equal(deploy_stack_workload_gseq(&a, "web"), 1);
    assert_int_equal(deploy_stack_workload_gseq(&a, "nope"), -1);
    deploy_stack_free(&a);
    deploy_stack_free(&b);
    /* Past the stack limit (a comment pads it): refused before parsing. */
    size_t big_len = KUMO_SDL_STACK_BYTES_MAX + 1u;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, '#', big_len);
    file_put(path, big, big_len);
    free(big);
    kumo_err_ctx_t err = {0};
    assert_int_equal(deploy_stack_load(path, &a, &err), KUMO_ELIMIT);
    assert_non_null(strstr(err.detail, "stack.yml"));
    (void)snprintf(path, sizeof(path), "%s/missing.yml", dir);
    assert_int_equal(deploy_stack_load(path, &a, &err), KUMO_ENOTFOUND);
    assert_non_null(strstr(err.detail, "missing.yml"));
    kumo_test_tmpdir_remove(dir);
}

static void vector_copy(const char *name, const char *dst)
{
    const char *src = getenv("KUMO_SOURCE_DIR");
    char path[2048];
    (void)snprintf(path, sizeof(path), "%s/tests/vectors/akash/%s", src != NULL ? src : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[64u * 1024u];
    size_t n = fread(buf, 1, sizeof(buf), f);
    (void)fclose(f);
    file_put(dst, buf, n);
}

static void test_akash_stack_load(void **state)
{
    (void)state;
    char *dir = kumo_test_tmpdir_make("deploy-akash");
    assert_non_null(dir);
    char sdl[1024];
    char kumo[1024];
    (void)snprintf(sdl, sizeof(sdl), "%s/deploy.yml", dir);
    (void)snprintf(kumo, sizeof(kumo), "%s/stack.yml", dir);
    vector_copy("web.yml", sdl);
    vector_copy("web.kumo.yml", kumo);
    deploy_stack_t a;
    deploy_stack_t b;
    assert_int_equal(deploy_stack_load(sdl, &a, NULL), 0);
    assert_int_equal(deploy_stack_load(kumo, &b, NULL), 0);
    assert_int_equal(a.group_count, 1);
    assert_string_equal(a.groups[0]->region, "us-east");
    assert_int_equal(a.deposit_ukumo, KUMO_SDL_AKASH_DEPOSIT_DEFAULT);
    assert_memory_equal(a.version, b.version, sizeof(a.version));
    deploy_stack_free(&a);
    deploy_stack_free(&b);
    kumo_err_ctx_t err = {0};
    vector_copy("gpu.yml", sdl); /* GPUs map to the unit's GpuSpec */
    assert_int_equal(deploy_stack_load(sdl, &a, &err), 0);
    assert_non_null(a.groups[0]->resources[0]->compute->gpu);
    assert_int_equal(a.groups[0]->resources[0]->compute->gpu->count, 1);
    deploy_stack_free(&a);
    vector_copy("multi.yml", sdl); /* no region attribute: kumo stack convert --region */
    assert_int_equal(deploy_stack_load(sdl, &a, &err), KUMO_EEMPTY);
    assert_non_null(strstr(err.detail, "--region to kumo stack convert"));
    kumo_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_path),
        cmocka_unit_test(test_state_roundtrip_and_refusals),
        cmocka_unit_test(test_stack_load),
        cmocka_unit_test(test_akash_stack_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
