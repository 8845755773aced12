/*
 * test_bytes.c - proves the reader fails closed, rejects trailing bytes and oversized length
 * prefixes, the writer refuses to overrun, and buffers honour their hard cap.
 */
#include "helpers/testutil.h"

#include <string.h>

#include "core/core.h"

static void test_reader_reads_schema_in_order(void **state)
{
    (void)state;
    uint8_t mem[64];
    kumo_writer_t w;
    kumo_writer_init(&w, mem, sizeof(mem));
    assert_int_equal(kumo_writer_write_u8(&w, 7), 0);
    assert_int_equal(kumo_writer_write_u32(&w, 0x01020304u), 0);
    assert_int_equal(kumo_writer_write_u64(&w, 0x0102030405060708ull), 0);
    assert_int_equal(kumo_writer_write_prefixed(&w, kumo_bytes_make("abc", 3)), 0);

    kumo_reader_t r;
    kumo_reader_init(&r, kumo_writer_bytes(&w));
    uint8_t a;
    uint32_t b;
    uint64_t c;
    kumo_bytes_t d;
    assert_int_equal(kumo_reader_read_u8(&r, &a), 0);
    assert_int_equal(kumo_reader_read_u32(&r, &b), 0);
    assert_int_equal(kumo_reader_read_u64(&r, &c), 0);
    assert_int_equal(kumo_reader_read_prefixed(&r, 3, &d), 0);
    assert_int_equal(kumo_reader_finish(&r), 0);
    assert_int_equal(a, 7);
    assert_int_equal(b, 0x01020304u);
    assert_true(c == 0x0102030405060708ull);
    assert_true(kumo_bytes_equal(d, kumo_bytes_make("abc", 3)));
}

static void test_reader_fails_closed_after_short_read(void **state)
{
    (void)state;
    uint8_t mem[5] = {1, 2, 3, 4, 5};
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_bytes_make(mem, sizeof(mem)));
    uint64_t v;
    uint8_t u;
    assert_int_equal(kumo_reader_read_u64(&r, &v), KUMO_EDECODE);
    /* A later read that would fit still fails. */
    assert_int_equal(kumo_reader_read_u8(&r, &u), KUMO_EDECODE);
    assert_int_equal(kumo_reader_finish(&r), KUMO_EDECODE);
}

static void test_reader_rejects_trailing_bytes(void **state)
{
    (void)state;
    uint8_t mem[2] = {1, 2};
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_bytes_make(mem, sizeof(mem)));
    uint8_t u;
    assert_int_equal(kumo_reader_read_u8(&r, &u), 0);
    assert_int_equal(kumo_reader_finish(&r), KUMO_EDECODE);
}

static void test_reader_prefix_limit_max_and_max_plus_one(void **state)
{
    (void)state;
    uint8_t mem[16];
    kumo_writer_t w;
    kumo_writer_init(&w, mem, sizeof(mem));
    assert_int_equal(kumo_writer_write_prefixed(&w, kumo_bytes_make("abcd", 4)), 0);
    kumo_reader_t r;
    kumo_bytes_t out;
    kumo_reader_init(&r, kumo_writer_bytes(&w));
    assert_int_equal(kumo_reader_read_prefixed(&r, 4, &out), 0);
    kumo_reader_init(&r, kumo_writer_bytes(&w));
    assert_int_equal(kumo_reader_read_prefixed(&r, 3, &out), KUMO_ELIMIT);
}

static void test_writer_refuses_overrun(void **state)
{
    (void)state;
    uint8_t mem[3];
    kumo_writer_t w;
    kumo_writer_init(&w, mem, sizeof(mem));
    assert_int_equal(kumo_writer_write_u32(&w, 1), KUMO_ELIMIT);
    assert_int_equal(kumo_writer_write_u8(&w, 1), KUMO_ELIMIT);
    assert_int_equal(kumo_writer_bytes(&w).len, 0);
}

static void test_buf_hard_cap(void **state)
{
    (void)state;
    kumo_buf_t b;
    kumo_buf_init(&b, 100);
    uint8_t chunk[100] = {0};
    assert_int_equal(kumo_buf_append(&b, chunk, 100), 0);
    assert_int_equal(kumo_buf_append(&b, chunk, 1), KUMO_ELIMIT);
    assert_int_equal(b.len, 100);
    kumo_buf_free(&b);
}

static void test_buf_alloc_failure_leaves_buffer_intact(void **state)
{
    (void)state;
    kumo_buf_t b;
    kumo_buf_init(&b, 1 << 20);
    kumo_alloc_fail_at(1);
    assert_int_equal(kumo_buf_append(&b, "x", 1), KUMO_ENOMEM);
    kumo_alloc_fail_at(0);
    assert_int_equal(b.len, 0);
    assert_int_equal(kumo_buf_append(&b, "x", 1), 0);
    kumo_buf_free(&b);
}

static void test_checked_math(void **state)
{
    (void)state;
    uint64_t out = 5;
    assert_int_equal(kumo_u64_add(UINT64_MAX, 1, &out), KUMO_EOVERFLOW);
    assert_int_equal(out, 5);
    assert_int_equal(kumo_u64_sub(1, 2, &out), KUMO_EOVERFLOW);
    assert_int_equal(kumo_u64_mul(UINT64_MAX, 2, &out), KUMO_EOVERFLOW);
    assert_int_equal(kumo_u64_mul_div_floor(UINT64_MAX, UINT64_MAX, UINT64_MAX, &out), 0);
    assert_true(out == UINT64_MAX);
    assert_int_equal(kumo_u64_mul_div_floor(10, 3, 4, &out), 0);
    assert_int_equal(out, 7);
    assert_int_equal(kumo_u64_mul_div_floor(1, 1, 0, &out), KUMO_EINVAL);
    assert_int_equal(kumo_u64_mul_div_floor(UINT64_MAX, 2, 1, &out), KUMO_EOVERFLOW);
}

static void test_err_table_names_and_messages(void **state)
{
    (void)state;
    assert_string_equal(kumo_err_name(KUMO_EFUNDS), "KUMO_EFUNDS");
    assert_string_equal(kumo_err_msg(KUMO_EFUNDS), "insufficient funds");
    assert_string_equal(kumo_err_name(-9999), "KUMO_EUNKNOWN");
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_err_set(&err, KUMO_EINVAL, "bad %d", 3), KUMO_EINVAL);
    assert_string_equal(err.detail, "bad 3");
    assert_int_equal(kumo_err_set(NULL, KUMO_EIO, "x"), KUMO_EIO);
}

static void test_be_keys_sort_numerically(void **state)
{
    (void)state;
    uint8_t a[8];
    uint8_t b[8];
    kumo_be64_put(a, 255);
    kumo_be64_put(b, 256);
    assert_true(kumo_bytes_compare(kumo_bytes_make(a, 8), kumo_bytes_make(b, 8)) < 0);
    assert_true(kumo_be64_get(b) == 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_reads_schema_in_order),
        cmocka_unit_test(test_reader_fails_closed_after_short_read),
        cmocka_unit_test(test_reader_rejects_trailing_bytes),
        cmocka_unit_test(test_reader_prefix_limit_max_and_max_plus_one),
        cmocka_unit_test(test_writer_refuses_overrun),
        cmocka_unit_test(test_buf_hard_cap),
        cmocka_unit_test(test_buf_alloc_failure_leaves_buffer_intact),
        cmocka_unit_test(test_checked_math),
        cmocka_unit_test(test_err_table_names_and_messages),
        cmocka_unit_test(test_be_keys_sort_numerically),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
