/*
 * test_cli_output.c - what the CLI prints (src/cli/cli_output.c) and the query strings it
 * builds (src/cli/cli_client.c): amounts with units, exact sizes, CPU, table alignment (by
 * characters, so UTF-8 cells line up), objects as aligned key/value lines with units, JSON
 * number helpers, and URL parameters (escaped, joined, bounded). Output goes to memory streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_client.c"
#include "cli/cli_output.c"
#include "cli/cli_parse.c"
#include "helpers/testutil.h"

/* Runs print into a memory stream; returns the text (free it). */
#define CAPTURE(text_out, call)                                        \
    do {                                                               \
        size_t capture_len_ = 0;                                       \
        FILE *capture_f_ = open_memstream(&(text_out), &capture_len_); \
        assert_non_null(capture_f_);                                   \
        call;                                                          \
        assert_int_equal(fclose(capture_f_), 0);                       \
    } while (0)

static void test_formats(void **state)
{
    (void)state;
    char out[64];
    cli_amount_format(1000000, out, sizeof(out));
    assert_string_equal(out, "1000000 ukumo");
    static const struct {
        uint64_t bytes;
        const char *want;
    } sizes[] = {{512ull << 20, "512Mi"}, {1ull << 30, "1Gi"}, {1500, "1500"},           {0, "0"},
                 {3ull << 40, "3Ti"},     {1024, "1Ki"},       {1536ull << 20, "1536Mi"}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        cli_size_format(sizes[i].bytes, out, sizeof(out));
        assert_string_equal(out, sizes[i].want);
        /* What is printed parses back to the same number (except 0, which is not a size). */
        uint64_t back = 0;
        if (sizes[i].bytes != 0) {
            assert_int_equal(cli_size_parse(out, "size", &back, NULL), 0);
            assert_true(back == sizes[i].bytes);
        }
    }
    cli_cpu_format(500, out, sizeof(out));
    assert_string_equal(out, "500m");
    cli_cpu_format(2000, out, sizeof(out));
    assert_string_equal(out, "2");
    cli_cpu_format(1500, out, sizeof(out));
    assert_string_equal(out, "1500m");
}

static void test_table_aligns_columns(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "ADDRESS", "X"};
    cli_table_t t;
    cli_table_init(&t, headers, 3);
    char(*row)[CLI_TABLE_CELL_BYTES] = NULL;
    assert_int_equal(cli_table_row_add(&t, &row), 0);
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "alice");
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "kumo1abc");
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "yes");
    assert_int_equal(cli_table_row_add(&t, &row), 0);
    (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "bé");
    (void)snprintf(row[1], CLI_TABLE_CELL_BYTES, "k");
    (void)snprintf(row[2], CLI_TABLE_CELL_BYTES, "no");
    char *text = NULL;
    CAPTURE(text, cli_table_print(&t, capture_f_));
    assert_string_equal(text, "NAME   ADDRESS   X\n"
                              "alice  kumo1abc  yes\n"
                              "bé     k         no\n");
    free(text);
    cli_table_free(&t);
}

static void test_table_grows_past_first_chunk(void **state)
{
    (void)state;
    static const char *const headers[] = {"N"};
    cli_table_t t;
    cli_table_init(&t, headers, 1);
    for (int i = 0; i < 100; i++) {
        char(*row)[CLI_TABLE_CELL_BYTES] = NULL;
        assert_int_equal(cli_table_row_add(&t, &row), 0);
        (void)snprintf(row[0], CLI_TABLE_CELL_BYTES, "%d", i);
    }
    assert_int_equal(t.row_count, 100);
    assert_string_equal(t.cells[99][0], "99");
    cli_table_free(&t);
}

static void test_object_print_aligns_and_adds_units(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"address\":\"kumo1xyz\",\"balance\":\"250\",\"sequence\":\"3\","
                           "\"id\":{\"owner\":\"kumo1o\",\"dseq\":\"7\"},\"flag\":true,"
                           "\"attrs\":[{\"key\":\"a\",\"value\":\"b\"}],\"none\":null,"
                           "\"pem\":\"-----BEGIN X-----\\nAAAA\\n-----END X-----\\n\"}",
                           0, NULL);
    assert_non_null(j);
    char *text = NULL;
    CAPTURE(text, cli_object_print(j, capture_f_));
    assert_string_equal(text, "address         kumo1xyz\n"
                              "balance         250 ukumo\n"
                              "sequence        3\n"
                              "id.owner        kumo1o\n"
                              "id.dseq         7\n"
                              "flag            true\n"
                              "attrs[0].key    a\n"
                              "attrs[0].value  b\n"
                              "none            -\n"
                              "pem             -----BEGIN X----- ... (3 lines)\n");
    free(text);
    json_decref(j);
}

static void test_json_helpers(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"s\":\"18446744073709551615\",\"i\":42,\"neg\":-1,\"bad\":\"x1\","
                           "\"t\":\"text\"}",
                           0, NULL);
    assert_non_null(j);
    assert_true(cli_json_u64(j, "s") == UINT64_MAX);
    assert_int_equal(cli_json_u64(j, "i"), 42);
    assert_int_equal(cli_json_u64(j, "neg"), 0);
    assert_int_equal(cli_json_u64(j, "bad"), 0);
    assert_int_equal(cli_json_u64(j, "missing"), 0);
    assert_string_equal(cli_json_str(j, "t"), "text");
    assert_string_equal(cli_json_str(j, "i"), "");
    assert_string_equal(cli_json_str(NULL, "t"), "");
    json_decref(j);
}

static void test_path_params(void **state)
{
    (void)state;
    char path[64] = "/leases";
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "owner", "kumo1abc", NULL), 0);
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "skip", NULL, NULL), 0);
    assert_int_equal(kumo_client_path_param_add(path, sizeof(path), "order", "a/1 b&c", NULL), 0);
    assert_string_equal(path, "/leases?owner=kumo1abc&order=a/1%20b%26c");
    char small[16] = "/x";
    assert_int_equal(kumo_client_path_param_add(small, sizeof(small), "k", "0123456789", NULL),
                     KUMO_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_table_aligns_columns),
        cmocka_unit_test(test_table_grows_past_first_chunk),
        cmocka_unit_test(test_object_print_aligns_and_adds_units),
        cmocka_unit_test(test_json_helpers),
        cmocka_unit_test(test_path_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
