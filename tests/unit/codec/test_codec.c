/*
 * test_codec.c - proves kumo_codec_pack/unpack round-trip every message type of
 * proto/kumo.proto (fully populated and all-default), that unpack rejects each non-canonical or
 * malformed encoding (one table row per rule), enforces bytes_max at MAX and MAX+1, that pack
 * refuses messages unpack would reject, and that an allocation failure at any point of unpack
 * leaves nothing allocated (run under ASan) and reports KUMO_ENOMEM.
 */
#include "helpers/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "unit/codec/codec_fixture.h"

/* Packs msg, unpacks the bytes, and checks the re-pack gives the same bytes. */
static void round_trip(const ProtobufCMessage *msg)
{
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_STATE_OBJECT_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_codec_pack(msg, &buf, &err);
    if (rc != 0) {
        fail_msg("%s: pack %s (%s)", msg->descriptor->name, kumo_err_name(rc), err.detail);
    }
    assert_int_equal(buf.len, protobuf_c_message_get_packed_size(msg));
    ProtobufCMessage *out = NULL;
    rc = kumo_codec_unpack(msg->descriptor, kumo_buf_bytes(&buf), buf.len, &out, &err);
    if (rc != 0) {
        fail_msg("%s: unpack %s (%s)", msg->descriptor->name, kumo_err_name(rc), err.detail);
    }
    kumo_buf_t again;
    kumo_buf_init(&again, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(out, &again, &err), 0);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&buf), kumo_buf_bytes(&again)));
    kumo_codec_free(out);
    kumo_buf_free(&again);
    kumo_buf_free(&buf);
}

static void test_every_message_type_round_trips_filled(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(fixture_descriptors); i++) {
        ProtobufCMessage *msg = fixture_fill(fixture_descriptors[i], (uint32_t)i, 0);
        round_trip(msg);
        kumo_codec_free(msg);
    }
}

static void test_every_msg_oneof_member_round_trips(void **state)
{
    (void)state;
    for (uint32_t pick = 0; pick < FIXTURE_MSG_ONEOF_COUNT; pick++) {
        ProtobufCMessage *msg = fixture_fill(&kumo__msg__descriptor, pick, pick);
        assert_int_equal(((Kumo__Msg *)msg)->sum_case, (int)pick + 1);
        round_trip(msg);
        kumo_codec_free(msg);
    }
}

static void test_every_message_type_round_trips_default(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(fixture_descriptors); i++) {
        const ProtobufCMessageDescriptor *desc = fixture_descriptors[i];
        ProtobufCMessage *msg = kumo_calloc(1, desc->sizeof_message);
        assert_non_null(msg);
        protobuf_c_message_init(desc, msg);
        /* proto3 writes no default value: an all-default message is zero bytes. */
        assert_int_equal(protobuf_c_message_get_packed_size(msg), 0);
        round_trip(msg);
        kumo_codec_free(msg);
    }
}

static void test_account_fields_survive(void **state)
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
    assert_int_equal(kumo_codec_pack(&acct.base, &buf, NULL), 0);
    static const uint8_t want_head[] = {0x0a, 0x14};
    assert_memory_equal(buf.ptr, want_head, sizeof(want_head));
    ProtobufCMessage *out = NULL;
    assert_int_equal(
        kumo_codec_unpack(&kumo__account__descriptor, kumo_buf_bytes(&buf), 1024, &out, NULL), 0);
    Kumo__Account *got = (Kumo__Account *)out;
    assert_true(got->balance == 1000);
    assert_true(got->sequence == 3);
    assert_int_equal(got->address.len, 20);
    assert_memory_equal(got->address.data, addr, 20);
    assert_int_equal(got->pubkey.len, 0);
    kumo_codec_free(out);
    kumo_buf_free(&buf);
}

static void test_empty_submessage_differs_from_unset(void **state)
{
    (void)state;
    /* proto3 message fields have presence: "0a 00" is a present, empty OrderId. */
    static const uint8_t present[] = {0x0a, 0x00};
    ProtobufCMessage *out = NULL;
    assert_int_equal(kumo_codec_unpack(&kumo__order__descriptor,
                                       kumo_bytes_make(present, sizeof(present)), 64, &out, NULL),
                     0);
    assert_non_null(((Kumo__Order *)out)->id);
    kumo_codec_free(out);
    assert_int_equal(
        kumo_codec_unpack(&kumo__order__descriptor, kumo_bytes_make(NULL, 0), 64, &out, NULL), 0);
    assert_null(((Kumo__Order *)out)->id);
    kumo_codec_free(out);
}

/* Account: address(1, 20 bytes) balance(2)=1000 sequence(3)=3. */
#define ADDR20                                                                                \
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, \
        0x10, 0x11, 0x12, 0x13, 0x14

static const uint8_t acct_valid[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8, 0x07, 0x18, 0x03};
static const uint8_t acct_out_of_order[] = {0x10, 0xe8, 0x07, 0x0a, 0x14, ADDR20, 0x18, 0x03};
static const uint8_t acct_default_written[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8,
                                               0x07, 0x18, 0x03,   0x22, 0x00};
static const uint8_t acct_zero_written[] = {0x0a, 0x14, ADDR20, 0x10, 0x00, 0x18, 0x03};
static const uint8_t acct_unknown_field[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8,
                                             0x07, 0x18, 0x03,   0x28, 0x01};
static const uint8_t acct_unknown_len_field[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8, 0x07,
                                                 0x18, 0x03, 0x7a,   0x01, 0x00};
static const uint8_t acct_truncated[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8, 0x07, 0x18};
static const uint8_t acct_truncated_varint[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8};
static const uint8_t acct_truncated_bytes[] = {0x0a, 0x14, 0x01, 0x02};
static const uint8_t acct_trailing_zero[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8,
                                             0x07, 0x18, 0x03,   0x00};
static const uint8_t acct_trailing_ff[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8, 0x07, 0x18, 0x03, 0xff};
static const uint8_t acct_nonminimal_varint[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8,
                                                 0x87, 0x00, 0x18,   0x03};
static const uint8_t acct_nonminimal_one[] = {0x0a, 0x14, ADDR20, 0x10, 0xe8,
                                              0x07, 0x18, 0x83,   0x00};
static const uint8_t acct_nonminimal_len[] = {0x0a, 0x94, 0x00, ADDR20, 0x10, 0xe8, 0x07};
static const uint8_t acct_nonminimal_tag[] = {0x0a, 0x14, ADDR20, 0x90, 0x00, 0xe8, 0x07};
static const uint8_t acct_duplicate[] = {0x0a, 0x14, ADDR20, 0x10, 0x01, 0x10, 0xe8, 0x07};
static const uint8_t acct_wrong_wire_type[] = {0x0a, 0x14, ADDR20, 0x12, 0x01, 0x00};
static const uint8_t acct_len_past_end[] = {0x0a, 0x15, ADDR20};
static const uint8_t acct_group_wire_type[] = {0x13, 0x14};
static const uint8_t acct_field_zero[] = {0x00, 0x01};
static const uint8_t acct_varint_11_bytes[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
/* Provider: host_uri(2) strings. */
static const uint8_t prov_bad_utf8[] = {0x12, 0x02, 0xc3, 0x28};
static const uint8_t prov_overlong_utf8[] = {0x12, 0x02, 0xc0, 0xaf};
static const uint8_t prov_surrogate[] = {0x12, 0x03, 0xed, 0xa0, 0x80};
static const uint8_t prov_nul[] = {0x12, 0x03, 0x61, 0x00, 0x62};
static const uint8_t prov_valid_utf8[] = {0x12, 0x02, 0xc3, 0xa9};
/* Provider.attributes(4) holding an Attribute with an unknown field 3. */
static const uint8_t prov_nested_unknown[] = {0x22, 0x05, 0x0a, 0x01, 0x6b, 0x18, 0x01};
static const uint8_t prov_nested_valid[] = {0x22, 0x03, 0x0a, 0x01, 0x6b};
/* Provider.attributes: a nested string out of order (value before key). */
static const uint8_t prov_nested_out_of_order[] = {0x22, 0x06, 0x12, 0x01, 0x76, 0x0a, 0x01, 0x6b};
/* Deployment.state(3) = 7: no such DeploymentState. */
static const uint8_t dep_unknown_enum[] = {0x18, 0x07};
static const uint8_t dep_negative_enum[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0x01};
static const uint8_t dep_valid_enum[] = {0x18, 0x03};
/* GroupSpec.persist(3) = 2: bools are 0 or 1. */
static const uint8_t spec_bool_two[] = {0x18, 0x02};
static const uint8_t spec_bool_valid[] = {0x18, 0x01};
/* Msg: two oneof members (send, close_deployment). */
static const uint8_t msg_two_members[] = {0x0a, 0x00, 0x42, 0x00};
static const uint8_t msg_one_member[] = {0x42, 0x00};
/* Msg.submit_lease_confirmation.confirmations[0].order with an unknown field 5, three deep. */
static const uint8_t msg_deep_unknown[] = {0x5a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0x28, 0x01};

static void test_unpack_rejects_noncanonical(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const ProtobufCMessageDescriptor *desc;
        const uint8_t *bytes;
        size_t len;
        int want;
    } cases[] = {
#define ROW(name, d, arr, want) {name, &kumo__##d##__descriptor, arr, sizeof(arr), want}
        ROW("valid account", account, acct_valid, 0),
        ROW("field out of order", account, acct_out_of_order, KUMO_EDECODE),
        ROW("empty bytes written out", account, acct_default_written, KUMO_EDECODE),
        ROW("zero written out", account, acct_zero_written, KUMO_EDECODE),
        ROW("unknown varint field", account, acct_unknown_field, KUMO_EDECODE),
        ROW("unknown length field", account, acct_unknown_len_field, KUMO_EDECODE),
        ROW("truncated tag", account, acct_truncated, KUMO_EDECODE),
        ROW("truncated varint", account, acct_truncated_varint, KUMO_EDECODE),
        ROW("truncated bytes", account, acct_truncated_bytes, KUMO_EDECODE),
        ROW("trailing zero byte", account, acct_trailing_zero, KUMO_EDECODE),
        ROW("trailing 0xff", account, acct_trailing_ff, KUMO_EDECODE),
        ROW("non-minimal varint", account, acct_nonminimal_varint, KUMO_EDECODE),
        ROW("non-minimal small varint", account, acct_nonminimal_one, KUMO_EDECODE),
        ROW("non-minimal length", account, acct_nonminimal_len, KUMO_EDECODE),
        ROW("non-minimal tag", account, acct_nonminimal_tag, KUMO_EDECODE),
        ROW("duplicate scalar", account, acct_duplicate, KUMO_EDECODE),
        ROW("wrong wire type", account, acct_wrong_wire_type, KUMO_EDECODE),
        ROW("length past end", account, acct_len_past_end, KUMO_EDECODE),
        ROW("group wire type", account, acct_group_wire_type, KUMO_EDECODE),
        ROW("field number zero", account, acct_field_zero, KUMO_EDECODE),
        ROW("varint of 11 bytes", account, acct_varint_11_bytes, KUMO_EDECODE),
        ROW("valid utf8 string", provider, prov_valid_utf8, 0),
        ROW("invalid utf8", provider, prov_bad_utf8, KUMO_EDECODE),
        ROW("overlong utf8", provider, prov_overlong_utf8, KUMO_EDECODE),
        ROW("utf16 surrogate", provider, prov_surrogate, KUMO_EDECODE),
        ROW("nul in string", provider, prov_nul, KUMO_EDECODE),
        ROW("valid nested", provider, prov_nested_valid, 0),
        ROW("nested unknown field", provider, prov_nested_unknown, KUMO_EDECODE),
        ROW("nested out of order", provider, prov_nested_out_of_order, KUMO_EDECODE),
        ROW("valid enum", deployment, dep_valid_enum, 0),
        ROW("unknown enum value", deployment, dep_unknown_enum, KUMO_EDECODE),
        ROW("negative enum value", deployment, dep_negative_enum, KUMO_EDECODE),
        ROW("bool one", group_spec, spec_bool_valid, 0),
        ROW("bool two", group_spec, spec_bool_two, KUMO_EDECODE),
        ROW("one oneof member", msg, msg_one_member, 0),
        ROW("two oneof members", msg, msg_two_members, KUMO_EDECODE),
        ROW("unknown field three deep", msg, msg_deep_unknown, KUMO_EDECODE),
#undef ROW
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        ProtobufCMessage *out = (ProtobufCMessage *)1;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_unpack(cases[i].desc, kumo_bytes_make(cases[i].bytes, cases[i].len),
                                   KUMO_STATE_OBJECT_BYTES_MAX, &out, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        if (rc == 0) {
            assert_non_null(out);
            kumo_codec_free(out);
        } else {
            assert_null(out);
        }
    }
}

static void test_unpack_error_detail_names_the_field(void **state)
{
    (void)state;
    ProtobufCMessage *out = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_codec_unpack(&kumo__provider__descriptor,
                                       kumo_bytes_make(prov_bad_utf8, sizeof(prov_bad_utf8)), 64,
                                       &out, &err),
                     KUMO_EDECODE);
    assert_non_null(strstr(err.detail, "host_uri"));
    assert_int_equal(kumo_codec_unpack(&kumo__msg__descriptor,
                                       kumo_bytes_make(msg_deep_unknown, sizeof(msg_deep_unknown)),
                                       64, &out, &err),
                     KUMO_EDECODE);
    assert_non_null(strstr(err.detail, "submit_lease_confirmation.confirmations[0].order"));
}

static void test_unpack_bytes_max_at_max_and_max_plus_one(void **state)
{
    (void)state;
    /* A Provider whose only field is a root_cert_pem (tag 0x2a, 3-byte length) sized so the
     * encoding is exactly KUMO_STATE_OBJECT_BYTES_MAX bytes. */
    size_t total = KUMO_STATE_OBJECT_BYTES_MAX;
    size_t text_len = total - 4;
    char *pem = malloc(text_len + 1);
    assert_non_null(pem);
    memset(pem, 'A', text_len);
    pem[text_len] = '\0';
    Kumo__Provider prov;
    kumo__provider__init(&prov);
    prov.root_cert_pem = pem;
    kumo_buf_t buf;
    kumo_buf_init(&buf, total + 1);
    assert_int_equal(kumo_codec_pack(&prov.base, &buf, NULL), 0);
    assert_int_equal(buf.len, total);
    ProtobufCMessage *out = NULL;
    assert_int_equal(kumo_codec_unpack(&kumo__provider__descriptor, kumo_buf_bytes(&buf),
                                       KUMO_STATE_OBJECT_BYTES_MAX, &out, NULL),
                     0);
    kumo_codec_free(out);
    /* One byte more (a longer string) is over the limit before anything is decoded. */
    free(pem);
    pem = malloc(text_len + 2);
    assert_non_null(pem);
    memset(pem, 'A', text_len + 1);
    pem[text_len + 1] = '\0';
    prov.root_cert_pem = pem;
    kumo_buf_reset(&buf);
    assert_int_equal(kumo_codec_pack(&prov.base, &buf, NULL), 0);
    assert_int_equal(buf.len, total + 1);
    kumo_err_ctx_t err = {0};
    out = (ProtobufCMessage *)1;
    assert_int_equal(kumo_codec_unpack(&kumo__provider__descriptor, kumo_buf_bytes(&buf),
                                       KUMO_STATE_OBJECT_BYTES_MAX, &out, &err),
                     KUMO_ELIMIT);
    assert_null(out);
    free(pem);
    kumo_buf_free(&buf);
}

static void test_pack_respects_buffer_cap(void **state)
{
    (void)state;
    Kumo__Account acct = KUMO__ACCOUNT__INIT;
    acct.balance = 1000; /* 3 bytes: 10 e8 07 */
    kumo_buf_t buf;
    kumo_buf_init(&buf, 5);
    assert_int_equal(kumo_buf_append(&buf, "xy", 2), 0);
    /* 2 + 3 = 5 fits exactly; a second copy does not, and leaves the buffer as it was. */
    assert_int_equal(kumo_codec_pack(&acct.base, &buf, NULL), 0);
    assert_int_equal(buf.len, 5);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_codec_pack(&acct.base, &buf, &err), KUMO_ELIMIT);
    assert_int_equal(buf.len, 5);
    static const uint8_t want[] = {'x', 'y', 0x10, 0xe8, 0x07};
    assert_memory_equal(buf.ptr, want, sizeof(want));
    kumo_buf_free(&buf);
}

static void test_pack_rejects_what_unpack_would(void **state)
{
    (void)state;
    kumo_buf_t buf;
    kumo_buf_init(&buf, 1024);
    kumo_err_ctx_t err = {0};

    Kumo__Provider prov;
    kumo__provider__init(&prov);
    char bad_text[] = "bad \xff utf8";
    prov.host_uri = bad_text;
    assert_int_equal(kumo_codec_pack(&prov.base, &buf, &err), KUMO_EINVAL);
    assert_non_null(strstr(err.detail, "host_uri"));

    Kumo__Deployment dep = KUMO__DEPLOYMENT__INIT;
    dep.state = (Kumo__DeploymentState)9;
    assert_int_equal(kumo_codec_pack(&dep.base, &buf, &err), KUMO_EINVAL);

    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = NULL;
    assert_int_equal(kumo_codec_pack(&msg.base, &buf, &err), KUMO_EINVAL);

    Kumo__GroupSpec spec;
    kumo__group_spec__init(&spec);
    Kumo__ResourceGroup *groups[1] = {NULL};
    spec.n_resources = 1;
    spec.resources = groups;
    assert_int_equal(kumo_codec_pack(&spec.base, &buf, &err), KUMO_EINVAL);

    Kumo__Account acct = KUMO__ACCOUNT__INIT;
    acct.address.len = 3;
    acct.address.data = NULL;
    assert_int_equal(kumo_codec_pack(&acct.base, &buf, &err), KUMO_EINVAL);

    assert_int_equal(buf.len, 0);
    kumo_buf_free(&buf);
}

/* Fails the nth allocation of an unpack of a filled message for n = 1.. until it succeeds. */
static void unpack_with_fault_injection(const ProtobufCMessageDescriptor *desc, uint32_t pick)
{
    ProtobufCMessage *msg = fixture_fill(desc, 1, pick);
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(msg, &buf, NULL), 0);
    kumo_codec_free(msg);
    uint64_t n = 1;
    for (;; n++) {
        ProtobufCMessage *out = (ProtobufCMessage *)1;
        kumo_err_ctx_t err = {0};
        kumo_alloc_fail_at(n);
        int rc = kumo_codec_unpack(desc, kumo_buf_bytes(&buf), buf.len, &out, &err);
        kumo_alloc_fail_at(0);
        if (rc == 0) {
            kumo_codec_free(out);
            break;
        }
        if (rc != KUMO_ENOMEM) {
            fail_msg("%s: failing allocation %llu gave %s (%s)", desc->name, (unsigned long long)n,
                     kumo_err_name(rc), err.detail);
        }
        assert_null(out);
    }
    /* A filled message needs more than one allocation, so failures were really injected. */
    assert_true(n > 2);
    kumo_buf_free(&buf);
}

static void test_unpack_allocation_failure_leaks_nothing(void **state)
{
    (void)state;
    unpack_with_fault_injection(&kumo__genesis__descriptor, 0);
    unpack_with_fault_injection(&kumo__fulfillment__descriptor, 0);
    unpack_with_fault_injection(&kumo__tx_result__descriptor, 0);
    unpack_with_fault_injection(&kumo__msg__descriptor, 4);
    unpack_with_fault_injection(&kumo__msg__descriptor, 10);
}

static void test_allocator_is_kumo_alloc(void **state)
{
    (void)state;
    ProtobufCAllocator *a = kumo_codec_allocator();
    assert_non_null(a);
    assert_ptr_equal(a, kumo_codec_allocator());
    kumo_alloc_fail_at(1);
    void *p = a->alloc(a->allocator_data, 16);
    kumo_alloc_fail_at(0);
    assert_null(p);
    p = a->alloc(a->allocator_data, 16);
    assert_non_null(p);
    a->free(a->allocator_data, p);
    kumo_codec_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_type_round_trips_filled),
        cmocka_unit_test(test_every_msg_oneof_member_round_trips),
        cmocka_unit_test(test_every_message_type_round_trips_default),
        cmocka_unit_test(test_account_fields_survive),
        cmocka_unit_test(test_empty_submessage_differs_from_unset),
        cmocka_unit_test(test_unpack_rejects_noncanonical),
        cmocka_unit_test(test_unpack_error_detail_names_the_field),
        cmocka_unit_test(test_unpack_bytes_max_at_max_and_max_plus_one),
        cmocka_unit_test(test_pack_respects_buffer_cap),
        cmocka_unit_test(test_pack_rejects_what_unpack_would),
        cmocka_unit_test(test_unpack_allocation_failure_leaks_nothing),
        cmocka_unit_test(test_allocator_is_kumo_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
