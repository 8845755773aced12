/*
 * test_json.c - proves JSON rendering is exact and deterministic, that every message type and
 * every Msg member round-trips through JSON to the same canonical bytes, that parsing rejects
 * each malformed input with KUMO_EDECODE and the field path in the detail (one table row per
 * rule, limits at MAX and MAX+1), and that an allocation failure at any point of parsing
 * leaves nothing allocated (run under ASan).
 */
#include "helpers/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "unit/codec/codec_fixture.h"

static void pack_into(const ProtobufCMessage *msg, kumo_buf_t *buf)
{
    kumo_buf_init(buf, KUMO_STATE_OBJECT_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_codec_pack(msg, buf, &err);
    if (rc != 0) {
        fail_msg("%s: pack %s (%s)", msg->descriptor->name, kumo_err_name(rc), err.detail);
    }
}

/* msg -> JSON text -> JSON -> message must pack to the bytes msg packs to. */
static void json_round_trip(const ProtobufCMessage *msg)
{
    char *text = kumo_codec_json_dumps(msg, false);
    assert_non_null(text);
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(j);
    ProtobufCMessage *back = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_codec_json_to_message(msg->descriptor, j, &back, &err);
    if (rc != 0) {
        fail_msg("%s: %s (%s) in %s", msg->descriptor->name, kumo_err_name(rc), err.detail, text);
    }
    kumo_buf_t want;
    kumo_buf_t got;
    pack_into(msg, &want);
    pack_into(back, &got);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&want), kumo_buf_bytes(&got)));
    /* Rendering again gives the same text: output is deterministic. */
    char *again = kumo_codec_json_dumps(back, false);
    assert_non_null(again);
    assert_string_equal(again, text);
    free(again);
    kumo_buf_free(&got);
    kumo_buf_free(&want);
    kumo_codec_free(back);
    json_decref(j);
    free(text);
}

static void test_every_message_type_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(fixture_descriptors); i++) {
        ProtobufCMessage *msg = fixture_fill(fixture_descriptors[i], (uint32_t)i, 0);
        json_round_trip(msg);
        kumo_codec_free(msg);
        const ProtobufCMessageDescriptor *desc = fixture_descriptors[i];
        ProtobufCMessage *empty = kumo_calloc(1, desc->sizeof_message);
        assert_non_null(empty);
        protobuf_c_message_init(desc, empty);
        json_round_trip(empty);
        kumo_codec_free(empty);
    }
}

static void test_every_msg_member_round_trips(void **state)
{
    (void)state;
    for (uint32_t pick = 0; pick < FIXTURE_MSG_ONEOF_COUNT; pick++) {
        ProtobufCMessage *msg = fixture_fill(&kumo__msg__descriptor, pick, pick);
        json_round_trip(msg);
        kumo_codec_free(msg);
    }
}

static void test_render_is_exact(void **state)
{
    (void)state;
    uint8_t addr[KUMO_ADDRESS_BYTES] = {0};
    uint8_t key[3] = {0x01, 0xab, 0xff};
    Kumo__Account acct = KUMO__ACCOUNT__INIT;
    acct.address.data = addr;
    acct.address.len = sizeof(addr);
    acct.balance = UINT64_MAX;
    acct.pubkey.data = key;
    acct.pubkey.len = sizeof(key);
    char *text = kumo_codec_json_dumps(&acct.base, false);
    assert_non_null(text);
    assert_string_equal(text, "{\"address\":\"kumo1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsul0ge\","
                              "\"balance\":\"18446744073709551615\",\"sequence\":\"0\","
                              "\"pubkey\":\"01abff\"}");
    free(text);

    Kumo__Deployment dep = KUMO__DEPLOYMENT__INIT;
    dep.state = KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSING;
    dep.group_count = 4294967295u;
    json_t *j = kumo_codec_json_from_message(&dep.base);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "DEPLOYMENT_CLOSING");
    assert_true(json_integer_value(json_object_get(j, "group_count")) == 4294967295LL);
    assert_string_equal(json_string_value(json_object_get(j, "close_reason")), "CLOSE_REASON_NONE");
    assert_string_equal(json_string_value(json_object_get(j, "version")), "");
    json_decref(j);

    Kumo__TxResult res;
    kumo__tx_result__init(&res);
    res.code = -27;
    j = kumo_codec_json_from_message(&res.base);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(j, "code")) == -27);
    assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
    json_decref(j);
}

static void test_render_oneof_and_null_message(void **state)
{
    (void)state;
    Kumo__MsgCloseDeployment close = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    close.dseq = 9;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    msg.close_deployment = &close;
    char *text = kumo_codec_json_dumps(&msg.base, false);
    assert_non_null(text);
    assert_string_equal(text, "{\"close_deployment\":{\"dseq\":\"9\"}}");
    free(text);
    Kumo__Msg none = KUMO__MSG__INIT;
    text = kumo_codec_json_dumps(&none.base, false);
    assert_string_equal(text, "{}");
    free(text);
    Kumo__LeaseId lid = KUMO__LEASE_ID__INIT;
    text = kumo_codec_json_dumps(&lid.base, false);
    assert_string_equal(text, "{\"order\":null,\"provider\":\"\"}");
    free(text);
    text = kumo_codec_json_dumps(&lid.base, true);
    assert_string_equal(text, "{\n  \"order\": null,\n  \"provider\": \"\"\n}");
    free(text);
}

static void test_render_refuses_noncanonical_message(void **state)
{
    (void)state;
    Kumo__Deployment dep = KUMO__DEPLOYMENT__INIT;
    dep.state = (Kumo__DeploymentState)42;
    assert_null(kumo_codec_json_from_message(&dep.base));
    assert_null(kumo_codec_json_dumps(&dep.base, false));
}

static void test_parse_accepts_alternative_forms(void **state)
{
    (void)state;
    /* uint64 as a JSON integer, an address as upper-case hex, missing keys default. */
    json_error_t jerr;
    json_t *j = json_loads("{\"address\":\"000102030405060708090A0B0C0D0E0F10111213\","
                           "\"balance\":1000}",
                           0, &jerr);
    assert_non_null(j);
    ProtobufCMessage *out = NULL;
    assert_int_equal(kumo_codec_json_to_message(&kumo__account__descriptor, j, &out, NULL), 0);
    Kumo__Account *acct = (Kumo__Account *)out;
    assert_true(acct->balance == 1000);
    assert_true(acct->sequence == 0);
    assert_int_equal(acct->address.len, 20);
    assert_int_equal(acct->address.data[10], 0x0a);
    assert_int_equal(acct->pubkey.len, 0);
    kumo_codec_free(out);
    json_decref(j);
}

static void test_parse_integer_limits(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int want;
    } cases[] = {
        {"{\"balance\":\"18446744073709551615\"}", 0},
        {"{\"balance\":\"18446744073709551616\"}", KUMO_EDECODE},
        {"{\"balance\":9223372036854775807}", 0},
        {"{\"balance\":0}", 0},
        {"{\"balance\":\"0\"}", 0},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        json_error_t jerr;
        json_t *j = json_loads(cases[i].json, 0, &jerr);
        assert_non_null(j);
        ProtobufCMessage *out = NULL;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_json_to_message(&kumo__account__descriptor, j, &out, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].json, kumo_err_name(rc), err.detail);
        }
        kumo_codec_free(out);
        json_decref(j);
    }
}

/* Builds {"chain_id": [[...["x"]...]]} with depth containers in all (the object counts). */
static json_t *nested_json(unsigned depth)
{
    json_t *inner = json_string("x");
    for (unsigned d = 1; d < depth; d++) {
        json_t *arr = json_array();
        assert_int_equal(json_array_append_new(arr, inner), 0);
        inner = arr;
    }
    json_t *obj = json_object();
    assert_int_equal(json_object_set_new(obj, "chain_id", inner), 0);
    return obj;
}

static void test_parse_depth_at_max_and_max_plus_one(void **state)
{
    (void)state;
    kumo_err_ctx_t err = {0};
    ProtobufCMessage *out = NULL;
    json_t *j = nested_json(KUMO_JSON_DEPTH_MAX);
    /* At the limit the depth check passes and the schema check reports the wrong type. */
    assert_int_equal(kumo_codec_json_to_message(&kumo__genesis__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    assert_string_equal(err.detail, "chain_id: expected string");
    json_decref(j);
    j = nested_json(KUMO_JSON_DEPTH_MAX + 1);
    assert_int_equal(kumo_codec_json_to_message(&kumo__genesis__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    assert_non_null(strstr(err.detail, "nested deeper than 32"));
    assert_null(out);
    json_decref(j);
}

/* {"balances":[{},{},...]} with count empty objects. */
static json_t *balances_json(size_t count)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(json_array_append_new(arr, json_object()), 0);
    }
    json_t *obj = json_object();
    assert_int_equal(json_object_set_new(obj, "balances", arr), 0);
    return obj;
}

static void test_parse_array_count_at_max_and_max_plus_one(void **state)
{
    (void)state;
    ProtobufCMessage *out = NULL;
    kumo_err_ctx_t err = {0};
    json_t *j = balances_json(KUMO_GENESIS_ACCOUNT_COUNT_MAX);
    assert_int_equal(kumo_codec_json_to_message(&kumo__genesis__descriptor, j, &out, &err), 0);
    assert_int_equal(((Kumo__Genesis *)out)->n_balances, KUMO_GENESIS_ACCOUNT_COUNT_MAX);
    kumo_codec_free(out);
    assert_int_equal(json_array_append_new(json_object_get(j, "balances"), json_object()), 0);
    assert_int_equal(kumo_codec_json_to_message(&kumo__genesis__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    assert_non_null(strstr(err.detail, "balances: more than 100000 elements"));
    json_decref(j);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const ProtobufCMessageDescriptor *desc;
        const char *json;
        const char *detail; /* expected exactly */
    } cases[] = {
        {"unknown key", &kumo__account__descriptor, "{\"balanse\":\"1\"}",
         "balanse: unknown field"},
        {"nested unknown key", &kumo__genesis__descriptor, "{\"params\":{\"fee\":\"1\"}}",
         "params.fee: unknown field"},
        {"top level not object", &kumo__account__descriptor, "[]", "message: expected object"},
        {"uint64 wrong type", &kumo__genesis__descriptor, "{\"params\":{\"min_fee\":true}}",
         "params.min_fee: expected unsigned integer"},
        {"uint64 negative number", &kumo__account__descriptor, "{\"balance\":-1}",
         "balance: expected unsigned integer in range"},
        {"uint64 negative string", &kumo__account__descriptor, "{\"balance\":\"-1\"}",
         "balance: expected unsigned integer"},
        {"uint64 overflow", &kumo__account__descriptor, "{\"balance\":\"18446744073709551616\"}",
         "balance: expected unsigned integer"},
        {"uint64 leading zero", &kumo__account__descriptor, "{\"balance\":\"01\"}",
         "balance: expected unsigned integer"},
        {"uint64 plus sign", &kumo__account__descriptor, "{\"balance\":\"+1\"}",
         "balance: expected unsigned integer"},
        {"uint64 empty string", &kumo__account__descriptor, "{\"balance\":\"\"}",
         "balance: expected unsigned integer"},
        {"uint64 real", &kumo__account__descriptor, "{\"balance\":1.5}",
         "balance: expected unsigned integer"},
        {"uint64 exponent", &kumo__account__descriptor, "{\"balance\":1e3}",
         "balance: expected unsigned integer"},
        {"uint64 null", &kumo__account__descriptor, "{\"balance\":null}",
         "balance: expected unsigned integer"},
        {"uint32 as string", &kumo__deployment__descriptor, "{\"group_count\":\"1\"}",
         "group_count: expected unsigned integer"},
        {"uint32 max plus one", &kumo__deployment__descriptor, "{\"group_count\":4294967296}",
         "group_count: expected unsigned integer in range"},
        {"uint32 negative", &kumo__deployment__descriptor, "{\"group_count\":-1}",
         "group_count: expected unsigned integer in range"},
        {"int32 max plus one", &kumo__tx_result__descriptor, "{\"code\":2147483648}",
         "code: integer out of range"},
        {"int32 min minus one", &kumo__tx_result__descriptor, "{\"code\":-2147483649}",
         "code: integer out of range"},
        {"int32 wrong type", &kumo__tx_result__descriptor, "{\"code\":\"x\"}",
         "code: expected integer"},
        {"bool as number", &kumo__group_spec__descriptor, "{\"persist\":1}",
         "persist: expected boolean"},
        {"string as number", &kumo__group_spec__descriptor, "{\"name\":1}",
         "name: expected string"},
        {"enum unknown name", &kumo__deployment__descriptor, "{\"state\":\"DEPLOYMENT_OPEN\"}",
         "state: unknown kumo.DeploymentState name"},
        {"enum as number", &kumo__deployment__descriptor, "{\"state\":1}",
         "state: expected enum name"},
        {"bad hex", &kumo__deployment__descriptor, "{\"version\":\"zz\"}", "version: bad hex"},
        {"odd hex", &kumo__deployment__descriptor, "{\"version\":\"abc\"}", "version: bad hex"},
        {"bytes as number", &kumo__deployment__descriptor, "{\"version\":1}",
         "version: expected address or hex string"},
        {"bad bech32 checksum", &kumo__account__descriptor,
         "{\"address\":\"kumo1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsul0gq\"}",
         "address: bad bech32 address"},
        {"bech32 too short", &kumo__account__descriptor, "{\"address\":\"kumo1qqq\"}",
         "address: bad bech32 address"},
        {"bech32 mixed case", &kumo__account__descriptor,
         "{\"address\":\"kumo1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQSUL0GE\"}",
         "address: bad bech32 address"},
        {"bech32 other hrp", &kumo__account__descriptor,
         "{\"address\":\"cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnrql8a\"}", "address: bad hex"},
        {"message as array", &kumo__genesis__descriptor, "{\"params\":[]}",
         "params: expected object"},
        {"repeated as object", &kumo__genesis__descriptor, "{\"balances\":{}}",
         "balances: expected array"},
        {"repeated element null", &kumo__genesis__descriptor, "{\"balances\":[{},null]}",
         "balances[1]: expected object"},
        {"error inside repeated", &kumo__genesis__descriptor,
         "{\"balances\":[{\"amount\":\"1\"},{\"amount\":\"x\"}]}",
         "balances[1].amount: expected unsigned integer"},
        {"two oneof members", &kumo__msg__descriptor, "{\"send\":{},\"close_deployment\":{}}",
         "close_deployment: oneof already has member send"},
        {"oneof member null", &kumo__msg__descriptor, "{\"send\":null}", "send: expected object"},
        {"deep error path", &kumo__msg__descriptor,
         "{\"submit_lease_confirmation\":{\"confirmations\":[{\"order\":{\"gseq\":\"1\"}}]}}",
         "submit_lease_confirmation.confirmations[0].order.gseq: expected unsigned integer"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        json_error_t jerr;
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
        if (j == NULL) {
            fail_msg("%s: test JSON does not load: %s", cases[i].name, jerr.text);
        }
        ProtobufCMessage *out = (ProtobufCMessage *)1;
        kumo_err_ctx_t err = {0};
        int rc = kumo_codec_json_to_message(cases[i].desc, j, &out, &err);
        if (rc != KUMO_EDECODE || strcmp(err.detail, cases[i].detail) != 0) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        assert_null(out);
        json_decref(j);
    }
}

static void test_parse_rejects_nul_in_strings_and_keys(void **state)
{
    (void)state;
    ProtobufCMessage *out = NULL;
    kumo_err_ctx_t err = {0};
    json_t *j = json_object();
    assert_int_equal(json_object_set_new(j, "name", json_stringn("a\0b", 3)), 0);
    assert_int_equal(kumo_codec_json_to_message(&kumo__group_spec__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    assert_string_equal(err.detail, "name: string is not UTF-8 text without NUL");
    json_decref(j);

    j = json_object();
    assert_int_equal(json_object_setn_new(j, "name\0x", 6, json_string("a")), 0);
    assert_int_equal(kumo_codec_json_to_message(&kumo__group_spec__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    assert_string_equal(err.detail, "name: unknown field");
    json_decref(j);

    j = json_object();
    assert_int_equal(json_object_set_new(j, "version", json_stringn("ab\0", 3)), 0);
    assert_int_equal(kumo_codec_json_to_message(&kumo__deployment__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    json_decref(j);

    j = json_object();
    assert_int_equal(json_object_set_new(j, "state", json_stringn("DEPLOYMENT_ACTIVE\0", 18)), 0);
    assert_int_equal(kumo_codec_json_to_message(&kumo__deployment__descriptor, j, &out, &err),
                     KUMO_EDECODE);
    json_decref(j);
    assert_null(out);
}

/* Fails the nth allocation of parsing a filled message's JSON for n = 1.. until it succeeds. */
static void parse_with_fault_injection(const ProtobufCMessageDescriptor *desc, uint32_t pick)
{
    ProtobufCMessage *msg = fixture_fill(desc, 3, pick);
    json_t *j = kumo_codec_json_from_message(msg);
    assert_non_null(j);
    kumo_codec_free(msg);
    uint64_t n = 1;
    for (;; n++) {
        ProtobufCMessage *out = (ProtobufCMessage *)1;
        kumo_err_ctx_t err = {0};
        kumo_alloc_fail_at(n);
        int rc = kumo_codec_json_to_message(desc, j, &out, &err);
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
    assert_true(n > 2);
    json_decref(j);
}

static void test_parse_allocation_failure_leaks_nothing(void **state)
{
    (void)state;
    parse_with_fault_injection(&kumo__genesis__descriptor, 0);
    parse_with_fault_injection(&kumo__fulfillment__descriptor, 0);
    parse_with_fault_injection(&kumo__tx_body__descriptor, 4);
    parse_with_fault_injection(&kumo__msg__descriptor, 4);
}

/* Once installed, jansson frees through the wiping function (not plain free) and everything
 * built, dumped, parsed and released still works, the dump freed with free(). */
static void test_wipe_on_free_keeps_json_working(void **state)
{
    (void)state;
    kumo_codec_json_wipe_on_free();
    json_malloc_t m = NULL;
    json_free_t f = NULL;
    json_get_alloc_funcs(&m, &f);
    assert_ptr_equal(m, malloc);
    assert_non_null(f);
    assert_ptr_not_equal(f, free);
    json_t *o = json_pack("{s:[s,s]}", "Env", "PASSWORD=hunter2", "A=b");
    assert_non_null(o);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_string_equal(text, "{\"Env\":[\"PASSWORD=hunter2\",\"A=b\"]}");
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    assert_string_equal(json_string_value(json_array_get(json_object_get(back, "Env"), 0)),
                        "PASSWORD=hunter2");
    json_decref(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_type_round_trips),
        cmocka_unit_test(test_every_msg_member_round_trips),
        cmocka_unit_test(test_render_is_exact),
        cmocka_unit_test(test_render_oneof_and_null_message),
        cmocka_unit_test(test_render_refuses_noncanonical_message),
        cmocka_unit_test(test_parse_accepts_alternative_forms),
        cmocka_unit_test(test_parse_integer_limits),
        cmocka_unit_test(test_parse_depth_at_max_and_max_plus_one),
        cmocka_unit_test(test_parse_array_count_at_max_and_max_plus_one),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_rejects_nul_in_strings_and_keys),
        cmocka_unit_test(test_parse_allocation_failure_leaks_nothing),
        cmocka_unit_test(test_wipe_on_free_keeps_json_working),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
