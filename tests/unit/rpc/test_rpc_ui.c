/*
 * test_rpc_ui.c - the pure parts of the dashboard (rpc_ui.c): which path names which built-in
 * file (traversal, unknown and over-long names refused), content types by extension, and the
 * Content-Security-Policy (an origin that could widen or break it refused; a buffer too small
 * refused).
 */
#include <string.h>

#include "helpers/testutil.h"
#include "rpc/rpc.h"

static void test_rpc_ui_file_find_names_the_built_in_files(void **state)
{
    (void)state;
    assert_true(kumo_rpc_ui_file_count >= 3);
    static const struct {
        const char *path;
        const char *want; /* NULL: no file */
    } cases[] = {
        {"/ui/", "index.html"},
        {"/ui/index.html", "index.html"},
        {"/ui/app.js", "app.js"},
        {"/ui/app.css", "app.css"},
        {"/", NULL},
        {"/ui", NULL},
        {"/uiapp.js", NULL},
        {"/ui/../app.js", NULL},
        {"/ui/..", NULL},
        {"/ui/x/app.js", NULL},
        {"/ui/nope.js", NULL},
        {"/status", NULL},
        {"/ui/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL},
        {NULL, NULL},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        const kumo_rpc_ui_file_t *f = kumo_rpc_ui_file_find(cases[i].path);
        if (cases[i].want == NULL && f != NULL) {
            fail_msg("%s: found %s", cases[i].path, f->name);
        }
        if (cases[i].want != NULL && (f == NULL || strcmp(f->name, cases[i].want) != 0)) {
            fail_msg("%s: want %s", cases[i].path, cases[i].want);
        }
        if (f != NULL) {
            assert_true(f->len > 0);
        }
    }
}

static void test_rpc_ui_content_type_by_extension(void **state)
{
    (void)state;
    assert_string_equal(kumo_rpc_ui_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(kumo_rpc_ui_content_type("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(kumo_rpc_ui_content_type("app.css"), "text/css; charset=utf-8");
    assert_string_equal(kumo_rpc_ui_content_type("config.json"), "application/json");
    assert_string_equal(kumo_rpc_ui_content_type("js"), "application/octet-stream");
    assert_string_equal(kumo_rpc_ui_content_type("x.png"), "application/octet-stream");
}

static void test_rpc_ui_csp_is_strict(void **state)
{
    (void)state;
    char csp[KUMO_RPC_UI_CSP_BYTES_MAX];
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_rpc_ui_csp_format("", csp, sizeof(csp), &err), 0);
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(csp, "script-src 'self';"));
    assert_non_null(strstr(csp, "connect-src 'self';"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_null(strstr(csp, "unsafe"));
    assert_int_equal(kumo_rpc_ui_csp_format("http://127.0.0.1:26657", csp, sizeof(csp), &err), 0);
    assert_non_null(strstr(csp, "connect-src 'self' http://127.0.0.1:26657;"));
    assert_int_equal(kumo_rpc_ui_csp_format("https://[::1]:443", csp, sizeof(csp), &err), 0);
    char longest[201] = "http://";
    memset(longest + 7, 'a', 193);
    longest[200] = '\0';
    assert_int_equal(kumo_rpc_ui_csp_format(longest, csp, sizeof(csp), &err), 0);
}

static void test_rpc_ui_csp_refuses_bad_origins(void **state)
{
    (void)state;
    char over[202] = "http://";
    memset(over + 7, 'a', 194);
    over[201] = '\0';
    static const char *const bad[] = {
        "127.0.0.1:26657",           /* no scheme */
        "ftp://x",                   /* another scheme */
        "http://x; script-src *",    /* would add a directive */
        "http://x 'unsafe-inline'",  /* would add a source */
        "http://x\r\nSet-Cookie: a", /* would end the header */
        "http://x,y",
        "http://x'",
    };
    char csp[KUMO_RPC_UI_CSP_BYTES_MAX];
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(bad); i++) {
        kumo_err_ctx_t err = {0};
        if (kumo_rpc_ui_csp_format(bad[i], csp, sizeof(csp), &err) != KUMO_EINVAL) {
            fail_msg("origin %s accepted", bad[i]);
        }
    }
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_rpc_ui_csp_format(over, csp, sizeof(csp), &err), KUMO_EINVAL);
    assert_int_equal(kumo_rpc_ui_csp_format("", csp, 40, &err), KUMO_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_ui_file_find_names_the_built_in_files),
        cmocka_unit_test(test_rpc_ui_content_type_by_extension),
        cmocka_unit_test(test_rpc_ui_csp_is_strict),
        cmocka_unit_test(test_rpc_ui_csp_refuses_bad_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
