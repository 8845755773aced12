/*
 * test_parse.c - the Docker Engine API answer parsers without a socket (runtime_parse.h):
 * container lists with kumo.* labels and published ports, inspect (limits, state, address),
 * the multiplexed log stream; one negative case per rule (not JSON, wrong shape, too many
 * items or ports, oversized strings, bad label numbers, truncated frames, output bound).
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <string.h>

#include "runtime/runtime_parse.h"

static kumo_bytes_t text(const char *s)
{
    return kumo_bytes_make(s, strlen(s));
}

static void test_list_parses_labels_and_ports(void **state)
{
    (void)state;
    const char *json =
        "[{\"Id\":\"abc123\",\"Names\":[\"/kumo-web-0\"],\"State\":\"running\","
        "\"Labels\":{\"kumo.owner\":\"kumo1tenant\",\"kumo.dseq\":\"7\",\"kumo.gseq\":\"2\","
        "\"kumo.oseq\":\"1\",\"kumo.workload\":\"web\",\"kumo.instance\":\"3\","
        "\"kumo.version\":\"ab12\",\"other\":\"x\"},"
        "\"Ports\":[{\"PrivatePort\":8080,\"PublicPort\":18080,\"Type\":\"tcp\"},"
        "{\"PrivatePort\":9000},{\"PrivatePort\":70000,\"PublicPort\":1}]},"
        "{\"Id\":\"def\",\"Names\":[\"plain\"],\"State\":\"exited\"}]";
    kumo_runtime_container_t c[4];
    uint32_t n = 0;
    assert_int_equal(kumo_runtime_parse_list(text(json), c, 4, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].id, "abc123");
    assert_string_equal(c[0].name, "kumo-web-0");
    assert_int_equal(c[0].state, KUMO_RUNTIME_STATE_RUNNING);
    assert_string_equal(c[0].owner, "kumo1tenant");
    assert_int_equal(c[0].dseq, 7);
    assert_int_equal(c[0].gseq, 2);
    assert_int_equal(c[0].oseq, 1);
    assert_string_equal(c[0].workload, "web");
    assert_int_equal(c[0].instance, 3);
    assert_string_equal(c[0].version, "ab12");
    assert_int_equal(c[0].port_count, 2); /* the out-of-range port is skipped */
    assert_int_equal(c[0].container_ports[0], 8080);
    assert_int_equal(c[0].host_ports[0], 18080);
    assert_int_equal(c[0].container_ports[1], 9000);
    assert_int_equal(c[0].host_ports[1], 0);
    assert_string_equal(c[1].name, "plain");
    assert_int_equal(c[1].state, KUMO_RUNTIME_STATE_EXITED);
    assert_string_equal(c[1].owner, "");
    assert_int_equal(c[1].port_count, 0);
    assert_int_equal(kumo_runtime_parse_list(text("[]"), c, 4, &n, NULL), 0);
    assert_int_equal(n, 0);
}

typedef struct list_case {
    const char *what;
    const char *json;
    uint32_t cap;
    int code;
} list_case_t;

static void test_list_refusals(void **state)
{
    (void)state;
    static char long_id[200];
    static char many_ports[2048];
    memset(long_id, 0, sizeof(long_id));
    (void)snprintf(long_id, sizeof(long_id), "[{\"Id\":\"%0100d\"}]", 0);
    size_t at = (size_t)snprintf(many_ports, sizeof(many_ports), "[{\"Id\":\"a\",\"Ports\":[");
    for (uint32_t i = 0; i <= KUMO_RUNTIME_PORT_COUNT_MAX; i++) {
        at += (size_t)snprintf(many_ports + at, sizeof(many_ports) - at, "%s{\"PrivatePort\":%u}",
                               i == 0 ? "" : ",", 1000u + i);
    }
    (void)snprintf(many_ports + at, sizeof(many_ports) - at, "]}]");
    const list_case_t cases[] = {
        {"not JSON", "[{", 4, KUMO_EDECODE},
        {"empty", "", 4, KUMO_EDECODE},
        {"an object", "{\"Id\":\"a\"}", 4, KUMO_EDECODE},
        {"item not an object", "[1]", 4, KUMO_EDECODE},
        {"more than cap", "[{\"Id\":\"a\"},{\"Id\":\"b\"}]", 1, KUMO_ELIMIT},
        {"id too long", long_id, 4, KUMO_ELIMIT},
        {"dseq not a number", "[{\"Id\":\"a\",\"Labels\":{\"kumo.dseq\":\"x\"}}]", 4, KUMO_EDECODE},
        {"dseq trailing text", "[{\"Id\":\"a\",\"Labels\":{\"kumo.dseq\":\"7x\"}}]", 4,
         KUMO_EDECODE},
        {"instance over u32", "[{\"Id\":\"a\",\"Labels\":{\"kumo.instance\":\"4294967296\"}}]", 4,
         KUMO_EDECODE},
        {"owner too long",
         "[{\"Id\":\"a\",\"Labels\":{\"kumo.owner\":"
         "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}]",
         4, KUMO_ELIMIT},
        {"too many ports", many_ports, 4, KUMO_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_runtime_container_t c[4];
        uint32_t n = 99;
        kumo_err_ctx_t err = {0};
        int rc = kumo_runtime_parse_list(text(cases[i].json), c, cases[i].cap, &n, &err);
        if (rc != cases[i].code) {
            fail_msg("%s: got %d (%s), want %d", cases[i].what, rc, err.detail, cases[i].code);
        }
        assert_int_equal(n, 0);
    }
}

static void test_states(void **state)
{
    (void)state;
    const struct {
        const char *text;
        kumo_runtime_state_t want;
    } cases[] = {
        {"running", KUMO_RUNTIME_STATE_RUNNING},    {"created", KUMO_RUNTIME_STATE_CREATED},
        {"configured", KUMO_RUNTIME_STATE_CREATED}, {"exited", KUMO_RUNTIME_STATE_EXITED},
        {"stopped", KUMO_RUNTIME_STATE_EXITED},     {"dead", KUMO_RUNTIME_STATE_EXITED},
        {"paused", KUMO_RUNTIME_STATE_UNKNOWN},     {"", KUMO_RUNTIME_STATE_UNKNOWN},
        {NULL, KUMO_RUNTIME_STATE_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kumo_runtime_state_parse(cases[i].text), cases[i].want);
    }
}

static void test_inspect(void **state)
{
    (void)state;
    const char *json = "{\"State\":{\"Status\":\"exited\",\"ExitCode\":3},"
                       "\"HostConfig\":{\"NanoCpus\":500000000,\"Memory\":67108864},"
                       "\"NetworkSettings\":{\"Networks\":{\"kumo-net\":{\"IPAddress\":"
                       "\"10.89.0.7\"}}}}";
    kumo_runtime_inspect_t in;
    assert_int_equal(kumo_runtime_parse_inspect(text(json), &in, NULL), 0);
    assert_int_equal(in.state, KUMO_RUNTIME_STATE_EXITED);
    assert_int_equal(in.exit_code, 3);
    assert_int_equal(in.nano_cpus, 500000000u);
    assert_int_equal(in.memory_bytes, 67108864u);
    assert_string_equal(in.ip, "10.89.0.7");
    /* Missing or negative fields are zero, no network is no address. */
    assert_int_equal(
        kumo_runtime_parse_inspect(text("{\"HostConfig\":{\"NanoCpus\":-1}}"), &in, NULL), 0);
    assert_int_equal(in.state, KUMO_RUNTIME_STATE_UNKNOWN);
    assert_int_equal(in.nano_cpus, 0);
    assert_string_equal(in.ip, "");
    const struct {
        const char *what;
        const char *json;
        int code;
    } bad[] = {
        {"not JSON", "{", KUMO_EDECODE},
        {"an array", "[]", KUMO_EDECODE},
        {"address too long",
         "{\"NetworkSettings\":{\"Networks\":{\"n\":{\"IPAddress\":"
         "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}}}",
         KUMO_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kumo_err_ctx_t err = {0};
        int rc = kumo_runtime_parse_inspect(text(bad[i].json), &in, &err);
        if (rc != bad[i].code) {
            fail_msg("%s: got %d (%s), want %d", bad[i].what, rc, err.detail, bad[i].code);
        }
    }
}

static void test_logs_demux(void **state)
{
    (void)state;
    static const uint8_t mux[] = {1, 0, 0, 0, 0,   0,   0,   4,    'o', 'u', 't', '\n', 2, 0, 0, 0,
                                  0, 0, 0, 4, 'e', 'r', 'r', '\n', 1,   0,   0,   0,    0, 0, 0, 0};
    kumo_buf_t out;
    kumo_buf_init(&out, 64);
    assert_int_equal(kumo_runtime_logs_demux(kumo_bytes_make(mux, sizeof(mux)), &out, NULL), 0);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.ptr, "out\nerr\n", 8);
    /* A TTY container's logs are plain text, copied as they are. */
    kumo_buf_reset(&out);
    assert_int_equal(kumo_runtime_logs_demux(text("plain text\n"), &out, NULL), 0);
    assert_int_equal(out.len, 11);
    kumo_buf_reset(&out);
    assert_int_equal(kumo_runtime_logs_demux(text(""), &out, NULL), 0);
    assert_int_equal(out.len, 0);
    /* A frame header cut short, a body shorter than its length, more than the bound. */
    static const uint8_t short_hdr[] = {1, 0, 0, 0, 0, 0, 0, 1, 'x', 1, 0, 0};
    static const uint8_t short_body[] = {1, 0, 0, 0, 0, 0, 0, 9, 'x', 'y'};
    kumo_buf_reset(&out);
    assert_int_equal(
        kumo_runtime_logs_demux(kumo_bytes_make(short_hdr, sizeof(short_hdr)), &out, NULL),
        KUMO_EDECODE);
    kumo_buf_reset(&out);
    assert_int_equal(
        kumo_runtime_logs_demux(kumo_bytes_make(short_body, sizeof(short_body)), &out, NULL),
        KUMO_EDECODE);
    kumo_buf_t small;
    kumo_buf_init(&small, 4);
    assert_int_equal(kumo_runtime_logs_demux(kumo_bytes_make(mux, sizeof(mux)), &small, NULL),
                     KUMO_ELIMIT);
    kumo_buf_reset(&small);
    assert_int_equal(kumo_runtime_logs_demux(text("plain text\n"), &small, NULL), KUMO_ELIMIT);
    kumo_buf_free(&small);
    kumo_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parses_labels_and_ports),
        cmocka_unit_test(test_list_refusals),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_logs_demux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
