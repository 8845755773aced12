/*
 * test_isolation.c - the nftables rules that close deployment networks (src/overlay/
 * isolation.c): the script for two networks (each rule there, ports only on their own
 * gateway), no networks (the tables removed only), and every input rule broken refused with
 * its code and nothing rendered; the operator's egress ranges in both chains, and every broken,
 * forbidden or overlapping list refused. As root with nft installed, the script (with egress
 * ranges) is applied to a table of this test's own (on a benchmarking subnet no host uses),
 * read back, and removed.
 */
#include "helpers/testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/overlay.h"

static kumo_overlay_net_t net_a(void)
{
    kumo_overlay_net_t n = {.subnet = "10.89.5.0/24", .gateway = "10.89.5.1"};
    n.ports[0] = 7000;
    n.ports[1] = 8080;
    n.port_count = 2;
    return n;
}

static char *render_open(const char *table,
                         const kumo_overlay_net_t *nets,
                         uint32_t count,
                         const kumo_overlay_egress_t *egress,
                         int *rc)
{
    kumo_buf_t b;
    kumo_buf_init(&b, 1u << 20);
    kumo_err_ctx_t err = {0};
    *rc = kumo_overlay_isolation_render(table, nets, count, egress, &b, &err);
    char *text = calloc(1, b.len + 1u);
    assert_non_null(text);
    if (b.len > 0) {
        memcpy(text, b.ptr, b.len);
    }
    kumo_buf_free(&b);
    return text;
}

static char *render(const char *table, const kumo_overlay_net_t *nets, uint32_t count, int *rc)
{
    return render_open(table, nets, count, NULL, rc);
}

static void test_render_two(void **state)
{
    (void)state;
    kumo_overlay_net_t nets[2] = {net_a(), {.subnet = "10.89.6.0/24", .gateway = "10.89.6.1"}};
    int rc = 0;
    char *t = render("kumo_abcdefgh", nets, 2, &rc);
    assert_int_equal(rc, 0);
    static const char *const want[] = {
        "table inet kumo_abcdefgh {}\ndelete table inet kumo_abcdefgh\n",
        "table bridge kumo_abcdefgh {}\ndelete table bridge kumo_abcdefgh\n",
        "type filter hook input priority -10; policy accept;",
        "ip saddr 10.89.5.0/24 ct state established,related accept",
        "ip saddr 10.89.5.0/24 ip daddr 10.89.5.1 tcp dport { 7000, 8080 } accept",
        "ip saddr 10.89.5.0/24 drop",
        "ip saddr 10.89.6.0/24 drop",
        "ip saddr 10.89.5.0/24 ct status dnat accept",
        "ip saddr 10.89.6.0/24 ip daddr { 0.0.0.0/8, 10.0.0.0/8,",
        "type filter hook forward priority -10; policy accept;",
        "ip daddr 10.89.6.0/24 drop",
        /* routed in: a published port or an answer, never a container's address directly */
        "ip daddr 10.89.5.0/24 ct status dnat accept\n"
        "    ip daddr 10.89.5.0/24 ct state established,related accept\n"
        "    ip daddr 10.89.5.0/24 drop\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(t, want[i]) == NULL) {
            fail_msg("missing \"%s\" in:\n%s", want[i], t);
        }
    }
    /* The second network has no forward: nothing of the host is open to it. */
    assert_null(strstr(t, "ip daddr 10.89.6.1 tcp dport"));
    free(t);
}

static void test_render_none(void **state)
{
    (void)state;
    int rc = 0;
    char *t = render("kumo_x", NULL, 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(t, "table inet kumo_x {}\ndelete table inet kumo_x\n"
                           "table bridge kumo_x {}\ndelete table bridge kumo_x\n");
    free(t);
}

typedef struct bad {
    const char *what;
    const char *table;
    const char *subnet;
    const char *gateway;
    uint16_t port;
    uint32_t port_count;
    int code;
    const char *detail;
} bad_t;

static void test_render_refused(void **state)
{
    (void)state;
    static const bad_t rows[] = {
        {"empty table", "", "10.89.5.0/24", "10.89.5.1", 1, 1, KUMO_EINVAL, "table name"},
        {"table with a space", "kumo x", "10.89.5.0/24", "10.89.5.1", 1, 1, KUMO_EINVAL,
         "table name"},
        {"table with a brace", "kumo}", "10.89.5.0/24", "10.89.5.1", 1, 1, KUMO_EINVAL,
         "table name"},
        {"long table", "kumo_0123456789012345678901234567", "10.89.5.0/24", "10.89.5.1", 1, 1,
         KUMO_EINVAL, "table name"},
        {"no prefix", "kumo_a", "10.89.5.0", "10.89.5.1", 1, 1, KUMO_EINVAL, "a.b.c.d/n"},
        {"empty prefix", "kumo_a", "10.89.5.0/", "10.89.5.1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"everything", "kumo_a", "0.0.0.0/0", "0.0.0.1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"a /7", "kumo_a", "10.0.0.0/7", "10.0.0.1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"a /31", "kumo_a", "10.89.5.0/31", "10.89.5.1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"a huge prefix", "kumo_a", "10.89.5.0/99999999999", "10.89.5.1", 1, 1, KUMO_EINVAL,
         "n in 8..30"},
        {"text after", "kumo_a", "10.89.5.0/24 accept", "10.89.5.1", 1, 1, KUMO_EINVAL,
         "n in 8..30"},
        {"a name", "kumo_a", "podman/24", "10.89.5.1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"IPv6", "kumo_a", "fd00::/64", "fd00::1", 1, 1, KUMO_EINVAL, "n in 8..30"},
        {"host bits", "kumo_a", "10.89.5.1/24", "10.89.5.1", 1, 1, KUMO_EINVAL, "host bits"},
        {"gateway outside", "kumo_a", "10.89.5.0/24", "10.89.6.1", 1, 1, KUMO_EINVAL,
         "not an address of"},
        {"gateway a name", "kumo_a", "10.89.5.0/24", "gw", 1, 1, KUMO_EINVAL, "not an address of"},
        {"gateway with a rule", "kumo_a", "10.89.5.0/24", "10.89.5.1 accept", 1, 1, KUMO_EINVAL,
         "not an address of"},
        {"port 0", "kumo_a", "10.89.5.0/24", "10.89.5.1", 0, 1, KUMO_EINVAL, "port 0"},
        {"too many ports", "kumo_a", "10.89.5.0/24", "10.89.5.1", 1, KUMO_OVERLAY_NET_PORT_MAX + 1u,
         KUMO_ELIMIT, "ports on"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const bad_t *r = &rows[i];
        kumo_overlay_net_t n = {0};
        (void)snprintf(n.subnet, sizeof(n.subnet), "%s", r->subnet);
        (void)snprintf(n.gateway, sizeof(n.gateway), "%s", r->gateway);
        n.ports[0] = r->port;
        n.port_count = r->port_count;
        kumo_buf_t b;
        kumo_buf_init(&b, 1u << 20);
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_isolation_render(r->table, &n, 1, NULL, &b, &err);
        if (rc != r->code || strstr(err.detail, r->detail) == NULL || b.len != 0) {
            fail_msg("row %zu (%s): rc %d detail \"%s\", %zu bytes", i, r->what, rc, err.detail,
                     b.len);
        }
        kumo_buf_free(&b);
    }
    static kumo_overlay_net_t many[KUMO_OVERLAY_NET_MAX + 1u];
    kumo_buf_t b;
    kumo_buf_init(&b, 1u << 20);
    assert_int_equal(
        kumo_overlay_isolation_render("kumo_a", many, KUMO_OVERLAY_NET_MAX + 1u, NULL, &b, NULL),
        KUMO_ELIMIT);
    assert_int_equal(b.len, 0u);
    kumo_buf_free(&b);
}

/* The operator's egress ranges: opened to every network, routed and to the host, after the
 * answers and before the private drop; none of it without a list. */
static void test_render_egress(void **state)
{
    (void)state;
    kumo_overlay_egress_t e;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_overlay_egress_parse("10.77.5.2/32,10.77.5.8/29,192.168.7.9", &e, &err),
                     0);
    assert_int_equal(e.count, 3u);
    assert_int_equal(e.bits[2], 32);
    kumo_overlay_net_t nets[2] = {net_a(), {.subnet = "10.89.6.0/24", .gateway = "10.89.6.1"}};
    int rc = 0;
    char *t = render_open("kumo_abcdefgh", nets, 2, &e, &rc);
    assert_int_equal(rc, 0);
    static const char set[] = "{ 10.77.5.2/32, 10.77.5.8/29, 192.168.7.9/32 }";
    char want[4096];
    for (uint32_t i = 0; i < 2; i++) {
        /* input: after the forwarder's ports, before the drop */
        (void)snprintf(want, sizeof(want), "ip saddr %s ip daddr %s accept\n    ip saddr %s drop\n",
                       nets[i].subnet, set, nets[i].subnet);
        if (strstr(t, want) == NULL) {
            fail_msg("missing \"%s\" in:\n%s", want, t);
        }
        /* forward: after the answers, before the private drop */
        (void)snprintf(want, sizeof(want),
                       "ip saddr %s ct state established,related accept\n"
                       "    ip saddr %s ip daddr %s accept\n"
                       "    ip saddr %s ip daddr { 0.0.0.0/8",
                       nets[i].subnet, nets[i].subnet, set, nets[i].subnet);
        if (strstr(t, want) == NULL) {
            fail_msg("missing \"%s\" in:\n%s", want, t);
        }
    }
    free(t);
    /* An empty list: the same script as none. */
    assert_int_equal(kumo_overlay_egress_parse("", &e, &err), 0);
    assert_int_equal(e.count, 0u);
    char *a = render_open("kumo_x", nets, 2, &e, &rc);
    char *b = render("kumo_x", nets, 2, &rc);
    assert_string_equal(a, b);
    assert_null(strstr(a, "10.77."));
    free(a);
    free(b);
    /* 16 entries is the most. */
    char list[512] = "";
    for (int i = 0; i < 16; i++) {
        size_t used = strlen(list);
        (void)snprintf(list + used, sizeof(list) - used, "%s10.77.5.%d", i > 0 ? "," : "", 100 + i);
    }
    assert_int_equal(kumo_overlay_egress_parse(list, &e, &err), 0);
    assert_int_equal(e.count, 16u);
    t = render_open("kumo_x", nets, 2, &e, &rc);
    assert_int_equal(rc, 0);
    free(t);
}

/* Every broken or forbidden list is refused naming what is wrong, and nothing is kept. */
static void test_egress_refused(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        int code;
        const char *detail;
    } rows[] = {
        {"10.77.5.2/32,", KUMO_EINVAL, "trailing comma"},
        {",10.77.5.2", KUMO_EINVAL, "empty"},
        {"10.77.5.2,,10.77.5.3", KUMO_EINVAL, "empty"},
        {"10.77.5.2 ", KUMO_EINVAL, "numeric IPv4"},
        {" 10.77.5.2", KUMO_EINVAL, "numeric IPv4"},
        {"node.example", KUMO_EINVAL, "numeric IPv4"},
        {"fd00::1", KUMO_EINVAL, "numeric IPv4"},
        {"10.77.5", KUMO_EINVAL, "numeric IPv4"},
        {"10.77.5.2/", KUMO_EINVAL, "n in 8..32"},
        {"10.77.5.2/33", KUMO_EINVAL, "n in 8..32"},
        {"10.0.0.0/7", KUMO_EINVAL, "n in 8..32"},
        {"0.0.0.0/0", KUMO_EINVAL, "n in 8..32"},
        {"10.77.5.2/999999999999", KUMO_EINVAL, "n in 8..32"},
        {"10.77.5.2/24", KUMO_EINVAL, "host bits"},
        {"10.77.5.0/24;accept", KUMO_EINVAL, "n in 8..32"},
        {"10.77.5.0/24 } accept", KUMO_EINVAL, "n in 8..32"},
        {"10.77.5.2/32/32/32/32/32/32/32/32/32/32", KUMO_EINVAL, "overlong"},
        {"127.0.0.1", KUMO_EINVAL, "loopback"},
        {"127.0.0.0/8", KUMO_EINVAL, "loopback"},
        {"169.254.169.254", KUMO_EINVAL, "link-local"},
        {"169.0.0.0/8", KUMO_EINVAL, "link-local"},
        {"0.1.2.3", KUMO_EINVAL, "unspecified"},
        {"224.0.0.1", KUMO_EINVAL, "multicast"},
        {"255.255.255.255", KUMO_EINVAL, "reserved"},
        {"10.1.1.1,10.1.1.2,10.1.1.3,10.1.1.4,10.1.1.5,10.1.1.6,10.1.1.7,10.1.1.8,10.1.1.9,"
         "10.1.1.10,10.1.1.11,10.1.1.12,10.1.1.13,10.1.1.14,10.1.1.15,10.1.1.16,10.1.1.17",
         KUMO_ELIMIT, "more than 16"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kumo_overlay_egress_t e;
        memset(&e, 0x5a, sizeof(e));
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_egress_parse(rows[i].list, &e, &err);
        if (rc != rows[i].code || strstr(err.detail, rows[i].detail) == NULL || e.count != 0) {
            fail_msg("row %zu \"%s\": rc %d detail \"%s\" count %u", i, rows[i].list, rc,
                     err.detail, e.count);
        }
    }
    /* A range over a deployment network (the provider's own bridges): refused at render,
     * nothing rendered; so is a struct filled by hand past the parser's rules. */
    kumo_overlay_net_t n = net_a();
    static const struct {
        uint32_t net;
        uint8_t bits;
        uint32_t count;
        int code;
        const char *detail;
    } opened[] = {
        {0x0a000000u, 8, 1, KUMO_EINVAL, "overlaps the deployment network 10.89.5.0/24"},
        {0x0a590500u, 28, 1, KUMO_EINVAL, "overlaps the deployment network"},
        {0x0a590501u, 32, 1, KUMO_EINVAL, "overlaps the deployment network"}, /* its gateway */
        {0x7f000001u, 32, 1, KUMO_EINVAL, "loopback"},
        {0x0a4d0500u, 16, 1, KUMO_EINVAL, "not a network address"},
        {0x0a4d0000u, 7, 1, KUMO_EINVAL, "not a network address"},
        {0x0a4d0502u, 32, KUMO_OVERLAY_EGRESS_MAX + 1u, KUMO_ELIMIT, "egress ranges"},
    };
    for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++) {
        kumo_overlay_egress_t e = {.count = opened[i].count};
        e.net[0] = opened[i].net;
        e.bits[0] = opened[i].bits;
        kumo_buf_t b;
        kumo_buf_init(&b, 1u << 20);
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_isolation_render("kumo_a", &n, 1, &e, &b, &err);
        if (rc != opened[i].code || strstr(err.detail, opened[i].detail) == NULL || b.len != 0) {
            fail_msg("opened row %zu: rc %d detail \"%s\", %zu bytes", i, rc, err.detail, b.len);
        }
        kumo_buf_free(&b);
    }
}

/* The script works on the real nftables (root and nft only: else skipped). */
static void test_apply(void **state)
{
    (void)state;
    if (geteuid() != 0 || system("command -v nft >/dev/null 2>&1") != 0) {
        skip();
    }
    char table[32];
    (void)snprintf(table, sizeof(table), "kumo_test_%d", (int)getpid());
    kumo_overlay_net_t n = {.subnet = "198.18.254.0/24", .gateway = "198.18.254.1"};
    n.ports[0] = 7000;
    n.port_count = 1;
    int rc = 0;
    kumo_err_ctx_t err = {0};
    kumo_overlay_egress_t e;
    assert_int_equal(kumo_overlay_egress_parse("198.18.253.0/24,198.18.252.7", &e, &err), 0);
    char *t = render_open(table, &n, 1, &e, &rc);
    assert_int_equal(rc, 0);
    rc = kumo_overlay_isolation_apply(kumo_bytes_make(t, strlen(t)), &err);
    if (rc != 0) {
        fail_msg("apply: %s", err.detail);
    }
    rc = kumo_overlay_isolation_apply(kumo_bytes_make(t, strlen(t)), &err); /* replaces */
    assert_int_equal(rc, 0);
    free(t);
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "nft list table inet %s | grep -q 'dport 7000 accept'", table);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd, sizeof(cmd),
                   "test $(nft list table inet %s | grep -c 'ip daddr { 198.18.252.7, "
                   "198.18.253.0/24 } accept') = 2",
                   table);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd, sizeof(cmd), "nft list table bridge %s | grep -q '198.18.254.0/24 drop'",
                   table);
    assert_int_equal(system(cmd), 0);
    t = render(table, NULL, 0, &rc);
    assert_int_equal(kumo_overlay_isolation_apply(kumo_bytes_make(t, strlen(t)), &err), 0);
    free(t);
    (void)snprintf(cmd, sizeof(cmd), "nft list table inet %s >/dev/null 2>&1", table);
    assert_true(system(cmd) != 0); /* gone */
    static const char broken[] = "table inet kumo_x { chain c { nonsense } }\n";
    assert_int_equal(
        kumo_overlay_isolation_apply(kumo_bytes_make(broken, sizeof(broken) - 1u), &err), KUMO_EIO);
    assert_non_null(strstr(err.detail, "nft -f -"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_two),     cmocka_unit_test(test_render_none),
        cmocka_unit_test(test_render_refused), cmocka_unit_test(test_render_egress),
        cmocka_unit_test(test_egress_refused), cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
