/*
 * isolation.c - the nftables rules that close a provider's deployment networks (overlay.h):
 * checked input, one text out. Pure: no I/O (nft.c runs the script).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "overlay/overlay.h"

/* Where a container never goes by routing (but to a published port): every non-public IPv4
 * range of addr.c's rule. */
static const char iso_private[] =
    "{ 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, "
    "192.0.0.0/24, 192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4, 240.0.0.0/4 }";

static int iso_put(kumo_buf_t *out, kumo_err_ctx_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int iso_put(kumo_buf_t *out, kumo_err_ctx_t *err, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(line), err, KUMO_ELIMIT, "isolation line too long");
    KUMO_ENSURE(kumo_buf_append(out, line, (size_t)n) == 0, err, KUMO_ENOMEM, "isolation rules");
    return 0;
}

static bool iso_table_ok(const char *t)
{
    size_t n = strnlen(t, KUMO_OVERLAY_TABLE_BYTES);
    if (n == 0 || n >= KUMO_OVERLAY_TABLE_BYTES) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_')) {
            return false;
        }
    }
    return true;
}

/* A numeric IPv4 address (host order in *v). */
static bool iso_v4(const char *s, uint32_t *v)
{
    struct in_addr a;
    if (strnlen(s, 64) >= 16 || inet_pton(AF_INET, s, &a) != 1) {
        return false;
    }
    *v = ntohl(a.s_addr);
    return true;
}

/* net's subnet "a.b.c.d/n" (the network address itself, n in 8..30) and its gateway inside. */
static int iso_net_check(const kumo_overlay_net_t *net, kumo_err_ctx_t *err)
{
    char addr[64];
    const char *slash = memchr(net->subnet, '/', strnlen(net->subnet, sizeof(net->subnet)));
    KUMO_ENSURE(slash != NULL && (size_t)(slash - net->subnet) < sizeof(addr), err, KUMO_EINVAL,
                "subnet \"%.63s\": expected a.b.c.d/n", net->subnet);
    memcpy(addr, net->subnet, (size_t)(slash - net->subnet));
    addr[slash - net->subnet] = '\0';
    uint32_t bits = 0;
    const char *p = slash + 1;
    for (; *p >= '0' && *p <= '9' && bits <= 32u; p++) {
        bits = bits * 10u + (uint32_t)(*p - '0');
    }
    uint32_t a = 0;
    uint32_t gw = 0;
    KUMO_ENSURE(iso_v4(addr, &a) && *p == '\0' && p != slash + 1 && bits >= 8u && bits <= 30u, err,
                KUMO_EINVAL, "subnet \"%.63s\": expected a.b.c.d/n with n in 8..30", net->subnet);
    uint32_t mask = 0xffffffffu << (32u - bits);
    KUMO_ENSURE((a & ~mask) == 0, err, KUMO_EINVAL, "subnet \"%.63s\": host bits set", net->subnet);
    KUMO_ENSURE(iso_v4(net->gateway, &gw) && (gw & mask) == a, err, KUMO_EINVAL,
                "gateway \"%.63s\": not an address of %.63s", net->gateway, net->subnet);
    KUMO_ENSURE(net->port_count <= KUMO_OVERLAY_NET_PORT_MAX, err, KUMO_ELIMIT,
                "%u ports on %.63s (at most %u)", net->port_count, net->subnet,
                KUMO_OVERLAY_NET_PORT_MAX);
    for (uint32_t i = 0; i < net->port_count; i++) {
        KUMO_ENSURE(net->ports[i] != 0, err, KUMO_EINVAL, "port 0 on %.63s", net->subnet);
    }
    return 0;
}

static int iso_ports(const kumo_overlay_net_t *net, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    if (net->port_count == 0) {
        return 0;
    }
    KUMO_GUARD(
        iso_put(out, err, "    ip saddr %s ip daddr %s tcp dport { ", net->subnet, net->gateway));
    for (uint32_t i = 0; i < net->port_count; i++) {
        KUMO_GUARD(iso_put(out, err, "%s%u", i > 0 ? ", " : "", net->ports[i]));
    }
    return iso_put(out, err, " } accept\n");
}

static int iso_inet(const char *table,
                    const kumo_overlay_net_t *nets,
                    uint32_t count,
                    kumo_buf_t *out,
                    kumo_err_ctx_t *err)
{
    KUMO_GUARD(iso_put(out, err,
                       "table inet %s {\n  chain input {\n"
                       "    type filter hook input priority -10; policy accept;\n",
                       table));
    for (uint32_t i = 0; i < count; i++) {
        KUMO_GUARD(iso_put(out, err, "    ip saddr %s ct state established,related accept\n",
                           nets[i].subnet));
        KUMO_GUARD(iso_ports(&nets[i], out, err));
        KUMO_GUARD(iso_put(out, err, "    ip saddr %s drop\n", nets[i].subnet));
    }
    KUMO_GUARD(iso_put(out, err,
                       "  }\n  chain forward {\n"
                       "    type filter hook forward priority -10; policy accept;\n"));
    for (uint32_t i = 0; i < count; i++) {
        const char *s = nets[i].subnet;
        KUMO_GUARD(iso_put(out, err,
                           "    ip saddr %s ct status dnat accept\n"
                           "    ip saddr %s ct state established,related accept\n"
                           "    ip saddr %s ip daddr %s drop\n",
                           s, s, s, iso_private));
        /* Routed in from outside: only to a published port (DNAT) or as an answer; a
         * neighbour routing through this host to a container's address is dropped. */
        KUMO_GUARD(iso_put(out, err,
                           "    ip daddr %s ct status dnat accept\n"
                           "    ip daddr %s ct state established,related accept\n"
                           "    ip daddr %s drop\n",
                           s, s, s));
    }
    return iso_put(out, err, "  }\n}\n");
}

static int iso_bridge(const char *table,
                      const kumo_overlay_net_t *nets,
                      uint32_t count,
                      kumo_buf_t *out,
                      kumo_err_ctx_t *err)
{
    KUMO_GUARD(iso_put(out, err,
                       "table bridge %s {\n  chain forward {\n"
                       "    type filter hook forward priority -10; policy accept;\n",
                       table));
    for (uint32_t i = 0; i < count; i++) {
        KUMO_GUARD(iso_put(out, err, "    ip saddr %s drop\n    ip daddr %s drop\n", nets[i].subnet,
                           nets[i].subnet));
    }
    return iso_put(out, err, "  }\n}\n");
}

int kumo_overlay_isolation_render(const char *table,
                                  const kumo_overlay_net_t *nets,
                                  uint32_t count,
                                  kumo_buf_t *out,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(table != NULL && out != NULL && (count == 0 || nets != NULL));
    KUMO_ENSURE(iso_table_ok(table), err, KUMO_EINVAL, "table name: expected [a-z0-9_]{1,32}");
    KUMO_ENSURE(count <= KUMO_OVERLAY_NET_MAX, err, KUMO_ELIMIT, "%u networks (at most %u)", count,
                KUMO_OVERLAY_NET_MAX);
    for (uint32_t i = 0; i < count; i++) {
        KUMO_GUARD(iso_net_check(&nets[i], err));
    }
    /* Declaring then deleting makes the replace work whether the tables exist or not. */
    KUMO_GUARD(iso_put(out, err,
                       "table inet %s {}\ndelete table inet %s\n"
                       "table bridge %s {}\ndelete table bridge %s\n",
                       table, table, table, table));
    if (count == 0) {
        return 0;
    }
    KUMO_GUARD(iso_inet(table, nets, count, out, err));
    return iso_bridge(table, nets, count, out, err);
}
