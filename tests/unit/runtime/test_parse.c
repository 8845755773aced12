/*
 * test_parse.c - the Docker Engine API answer parsers without a socket (runtime_parse.h):
 * container lists with kumo.* labels and published ports, inspect (limits, state, address),
 * the multiplexed log stream; one negative case per rule (not JSON, wrong shape, too many
 * items or ports, oversized strings, bad label numbers, truncated frames, output bound).
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
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
    const char *json = "{\"Id\":\"4f2a\",\"State\":{\"Status\":\"exited\",\"ExitCode\":3},"
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
    assert_string_equal(in.id, "4f2a");
    /* Missing or negative fields are zero, no network is no address. */
    assert_int_equal(
        kumo_runtime_parse_inspect(text("{\"HostConfig\":{\"NanoCpus\":-1}}"), &in, NULL), 0);
    assert_int_equal(in.state, KUMO_RUNTIME_STATE_UNKNOWN);
    assert_int_equal(in.nano_cpus, 0);
    assert_string_equal(in.ip, "");
    assert_string_equal(in.id, "");
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

static void test_log_line(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        uint64_t ns;
        const char *text;
    } ok[] = {
        {"1970-01-01T00:00:00Z x", 0, "x"},
        {"2026-12-07T05:52:49Z hi\n", 1796622769000000000u, "hi"},
        {"2026-12-07T05:52:49.5Z half", 1796622769500000000u, "half"},
        {"2026-12-07T05:52:49.123456789Z ns\r\n", 1796622769123456789u, "ns"},
        {"2026-12-07T06:52:49+01:00 tz", 1796622769000000000u, "tz"},
        {"2026-12-07T04:22:49-01:30 tz", 1796622769000000000u, "tz"},
        {"2024-02-29T00:00:00Z leap", 1709164800000000000u, "leap"},
        {"2026-12-07T05:52:49Z ", 1796622769000000000u, ""},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t ns = 1;
        kumo_bytes_t text;
        kumo_err_ctx_t err = {0};
        if (kumo_runtime_log_line_parse(kumo_bytes_make(ok[i].line, strlen(ok[i].line)), &ns, &text,
                                        &err) != 0) {
            fail_msg("%s: %s", ok[i].line, err.detail);
        }
        assert_true(ns == ok[i].ns);
        assert_int_equal(text.len, strlen(ok[i].text));
        assert_memory_equal(text.ptr, ok[i].text, text.len);
    }
    static const char *const bad[] = {
        "",
        "hello",
        "2026-12-07T05:52:49Z",              /* no space, no text */
        "2026-12-07 05:52:49Z x",            /* no T */
        "2026-13-07T05:52:49Z x",            /* month 13 */
        "1969-12-31T23:59:59Z x",            /* before 1970 */
        "2501-01-01T00:00:00Z x",            /* past what 64-bit nanoseconds hold */
        "2026-12-07T05:52:49.Z x",           /* empty fraction */
        "2026-12-07T05:52:49.1234567891Z x", /* 10 fraction digits */
        "2026-12-07T05:52:49+1:00 x",        /* bad offset */
        "2026-12-07T05:52:49 x",             /* no zone */
        "1970-01-01T00:00:00+01:00 x",       /* before 1970 once the offset applies */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ns = 7;
        kumo_bytes_t text;
        if (kumo_runtime_log_line_parse(kumo_bytes_make(bad[i], strlen(bad[i])), &ns, &text,
                                        NULL) != KUMO_EDECODE) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
}

static void test_mux_and_exec(void **state)
{
    (void)state;
    static const uint8_t two[] = {1, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', 2, 0, 0, 0, 0, 0, 0, 1, '!'};
    uint8_t stream = 0;
    kumo_bytes_t payload;
    size_t used = 0;
    for (size_t cut = 0; cut < 10; cut++) { /* a partial chunk asks for more */
        assert_int_equal(
            kumo_runtime_mux_parse(kumo_bytes_make(two, cut), &stream, &payload, &used, NULL), 0);
        assert_int_equal(used, 0);
    }
    assert_int_equal(
        kumo_runtime_mux_parse(kumo_bytes_make(two, sizeof(two)), &stream, &payload, &used, NULL),
        0);
    assert_int_equal(used, 10);
    assert_int_equal(stream, 1);
    assert_int_equal(payload.len, 2);
    assert_int_equal(
        kumo_runtime_mux_parse(kumo_bytes_make(two + 10, 9), &stream, &payload, &used, NULL), 0);
    assert_int_equal(stream, 2);
    static const uint8_t badhdr[] = {3, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(
        kumo_runtime_mux_parse(kumo_bytes_make(badhdr, 8), &stream, &payload, &used, NULL),
        KUMO_EDECODE);
    uint8_t big[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    kumo_be32_put(big + 4, KUMO_RUNTIME_MUX_CHUNK_BYTES_MAX + 1u);
    assert_int_equal(
        kumo_runtime_mux_parse(kumo_bytes_make(big, 8), &stream, &payload, &used, NULL),
        KUMO_ELIMIT);
    bool running = true;
    int code = 0;
    static const char ex[] = "{\"Running\":false,\"ExitCode\":3}";
    assert_int_equal(
        kumo_runtime_parse_exec(kumo_bytes_make(ex, strlen(ex)), &running, &code, NULL), 0);
    assert_false(running);
    assert_int_equal(code, 3);
    static const char nocode[] = "{\"Running\":false,\"ExitCode\":256}";
    assert_int_equal(
        kumo_runtime_parse_exec(kumo_bytes_make(nocode, strlen(nocode)), &running, &code, NULL),
        KUMO_EDECODE);
    int status = 0;
    static const char head[] = "HTTP/1.1 101 UPGRADED\r\n\r\n";
    assert_int_equal(kumo_runtime_parse_head(kumo_bytes_make(head, strlen(head)), &status, NULL),
                     0);
    assert_int_equal(status, 101);
    static const char nothttp[] = "SSH-2.0-x 101\r\n\r\n";
    assert_int_equal(
        kumo_runtime_parse_head(kumo_bytes_make(nothttp, strlen(nothttp)), &status, NULL),
        KUMO_EDECODE);
}

/* A kept file: each container's lines after "@<id>"; the lines before a container's own. */
static void test_logs_kept_before(void **state)
{
    (void)state;
    static const char kept[] = "2026-12-07T05:52:49Z a\n"
                               "@c1\n"
                               "2026-12-07T05:52:50Z b\n"
                               "@c10\n"
                               "2026-12-07T05:52:51Z c\n";
    kumo_bytes_t k = kumo_bytes_make(kept, strlen(kept));
    assert_int_equal(kumo_runtime_logs_kept_before(k, "c1"), strlen("2026-12-07T05:52:49Z a\n"));
    assert_int_equal(kumo_runtime_logs_kept_before(k, "c10"),
                     strlen(kept) - strlen("@c10\n2026-12-07T05:52:51Z c\n"));
    assert_int_equal(kumo_runtime_logs_kept_before(k, "c"), k.len); /* a prefix is not it */
    assert_int_equal(kumo_runtime_logs_kept_before(k, ""), k.len);  /* no id: nothing cut */
    assert_int_equal(kumo_runtime_logs_kept_before(kumo_bytes_make(kept, 6), "c1"), 6);
    static const char nonl[] = "@c1"; /* a marker must be a whole line */
    assert_int_equal(kumo_runtime_logs_kept_before(kumo_bytes_make(nonl, 3), "c1"), 3);
}

/* A stats answer as podman gives it (GET /containers/{id}/stats?stream=false), trimmed. */
static const char stats_ok[] =
    "{\"read\":\"2026-12-07T12:42:05Z\",\"pids_stats\":{\"current\":3},"
    "\"blkio_stats\":{\"io_service_bytes_recursive\":[{\"major\":8,\"minor\":0,\"op\":\"read\","
    "\"value\":4096},{\"major\":8,\"minor\":0,\"op\":\"Write\",\"value\":8192},{\"major\":8,"
    "\"minor\":0,\"op\":\"total\",\"value\":12288}]},"
    "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":45752095},\"system_cpu_usage\":335083,"
    "\"online_cpus\":2},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0}},"
    "\"memory_stats\":{\"usage\":512000,\"limit\":536870912},"
    "\"networks\":{\"eth0\":{\"rx_bytes\":472,\"tx_bytes\":1096},\"eth1\":{\"rx_bytes\":28,"
    "\"tx_bytes\":4}}}";

static void test_stats_parses_podman_answer(void **state)
{
    (void)state;
    kumo_runtime_stats_t st;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_runtime_parse_stats(
                         kumo_bytes_make((const uint8_t *)stats_ok, strlen(stats_ok)), &st, &err),
                     0);
    assert_int_equal(st.cpu_ns, 45752095);
    assert_int_equal(st.memory_bytes, 512000);
    assert_int_equal(st.memory_limit_bytes, 536870912);
    assert_int_equal(st.net_rx_bytes, 500);
    assert_int_equal(st.net_tx_bytes, 1100);
    assert_int_equal(st.blk_read_bytes, 4096);
    assert_int_equal(st.blk_write_bytes, 8192);
    assert_int_equal(st.pids, 3);
    /* Absent sections read 0 (podman leaves blkio empty without a block device). */
    const char empty[] =
        "{\"blkio_stats\":{\"io_service_bytes_recursive\":null},\"networks\":null}";
    assert_int_equal(
        kumo_runtime_parse_stats(kumo_bytes_make((const uint8_t *)empty, strlen(empty)), &st, &err),
        0);
    assert_int_equal(st.cpu_ns, 0);
    assert_int_equal(st.net_rx_bytes, 0);
}

/* "{\"networks\":{\"n0\":{\"rx_bytes\":1},...}}" with count networks. */
static char *stats_networks_make(uint32_t count, const char *rx)
{
    size_t cap = 64u + (size_t)count * 48u;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "{\"networks\":{");
    for (uint32_t i = 0; i < count; i++) {
        len += (size_t)snprintf(s + len, cap - len, "%s\"n%u\":{\"rx_bytes\":%s}",
                                i == 0 ? "" : ",", i, rx);
    }
    (void)snprintf(s + len, cap - len, "}}");
    return s;
}

static char *stats_blkio_make(uint32_t count)
{
    size_t cap = 64u + (size_t)count * 40u;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "{\"blkio_stats\":{\"io_service_bytes_recursive\":[");
    for (uint32_t i = 0; i < count; i++) {
        len += (size_t)snprintf(s + len, cap - len, "%s{\"op\":\"read\",\"value\":1}",
                                i == 0 ? "" : ",");
    }
    (void)snprintf(s + len, cap - len, "]}}");
    return s;
}

static void test_stats_refusals(void **state)
{
    (void)state;
    char *net_max = stats_networks_make(KUMO_RUNTIME_STATS_NETWORK_COUNT_MAX, "1");
    char *net_over = stats_networks_make(KUMO_RUNTIME_STATS_NETWORK_COUNT_MAX + 1u, "1");
    char *blk_max = stats_blkio_make(KUMO_RUNTIME_STATS_BLKIO_COUNT_MAX);
    char *blk_over = stats_blkio_make(KUMO_RUNTIME_STATS_BLKIO_COUNT_MAX + 1u);
    char *net_sum = stats_networks_make(3, "9223372036854775807");
    const struct {
        const char *name;
        const char *json;
        int want;
    } cases[] = {
        {"networks at max", net_max, 0},
        {"blkio entries at max", blk_max, 0},
        {"not JSON", "{", KUMO_EDECODE},
        {"not an object", "[1]", KUMO_EDECODE},
        {"negative counter", "{\"memory_stats\":{\"usage\":-1}}", KUMO_EDECODE},
        {"string counter", "{\"memory_stats\":{\"usage\":\"1\"}}", KUMO_EDECODE},
        {"real counter", "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":1.5}}}", KUMO_EDECODE},
        {"networks not an object", "{\"networks\":[1]}", KUMO_EDECODE},
        {"a network not an object", "{\"networks\":{\"eth0\":1}}", KUMO_EDECODE},
        {"blkio not an array", "{\"blkio_stats\":{\"io_service_bytes_recursive\":{}}}",
         KUMO_EDECODE},
        {"blkio entry without op", "{\"blkio_stats\":{\"io_service_bytes_recursive\":[{}]}}",
         KUMO_EDECODE},
        {"networks over max", net_over, KUMO_ELIMIT},
        {"blkio entries over max", blk_over, KUMO_ELIMIT},
        {"network sum overflows", net_sum, KUMO_EOVERFLOW},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kumo_runtime_stats_t st;
        kumo_err_ctx_t err = {0};
        int rc = kumo_runtime_parse_stats(
            kumo_bytes_make((const uint8_t *)cases[i].json, strlen(cases[i].json)), &st, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
        if (rc < 0) {
            assert_int_equal(st.net_rx_bytes, 0);
            assert_int_equal(st.memory_bytes, 0);
        }
    }
    free(net_max);
    free(net_over);
    free(blk_max);
    free(blk_over);
    free(net_sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parses_labels_and_ports),
        cmocka_unit_test(test_list_refusals),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_logs_demux),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_mux_and_exec),
        cmocka_unit_test(test_logs_kept_before),
        cmocka_unit_test(test_stats_parses_podman_answer),
        cmocka_unit_test(test_stats_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
