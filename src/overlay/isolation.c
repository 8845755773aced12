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

/* Where an egress range may never reach, whatever the operator lists (host order). */
static const struct {
    uint32_t net;
    uint8_t bits;
    const char *what;
} iso_egress_deny[] = {
    {0x00000000u, 8, "the unspecified 0.0.0.0/8"},  {0x7f000000u, 8, "loopback 127.0.0.0/8"},
    {0xa9fe0000u, 16, "link-local 169.254.0.0/16"}, {0xe0000000u, 4, "multicast 224.0.0.0/4"},
    {0xf0000000u, 4, "reserved 240.0.0.0/4"},
};

static uint32_t iso_mask(uint32_t bits)
{
    KUMO_ASSERT(bits <= 32u);
    return bits == 0 ? 0 : 0xffffffffu << (32u - bits);
}

/* Whether a/abits and b/bbits share an address. */
static bool iso_overlap(uint32_t a, uint32_t abits, uint32_t b, uint32_t bbits)
{
    uint32_t m = iso_mask(abits < bbits ? abits : bbits);
    return (a & m) == (b & m);
}

/* One entry "a.b.c.d[/n]" of len bytes. */
static int
iso_egress_entry(const char *p, size_t len, uint32_t *net, uint8_t *bits, kumo_err_ctx_t *err)
{
    char text[32];
    KUMO_ENSURE(len > 0 && len < sizeof(text), err, KUMO_EINVAL,
                "workload_egress_allow: an empty or overlong entry \"%.*s\"",
                (int)(len < 40u ? len : 40u), p);
    memcpy(text, p, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    uint32_t n = 32;
    if (slash != NULL) {
        *slash = '\0';
        const char *q = slash + 1;
        n = 0;
        for (; *q >= '0' && *q <= '9' && n <= 32u; q++) {
            n = n * 10u + (uint32_t)(*q - '0');
        }
        KUMO_ENSURE(*q == '\0' && q != slash + 1 && q - slash <= 3 && n >= 8u && n <= 32u, err,
                    KUMO_EINVAL, "workload_egress_allow: \"%.*s\": expected a.b.c.d/n, n in 8..32",
                    (int)len, p);
    }
    uint32_t a = 0;
    KUMO_ENSURE(iso_v4(text, &a), err, KUMO_EINVAL,
                "workload_egress_allow: \"%.*s\": expected a numeric IPv4 address or a.b.c.d/n",
                (int)len, p);
    KUMO_ENSURE((a & ~iso_mask(n)) == 0, err, KUMO_EINVAL,
                "workload_egress_allow: \"%.*s\": host bits set", (int)len, p);
    for (size_t i = 0; i < sizeof(iso_egress_deny) / sizeof(iso_egress_deny[0]); i++) {
        KUMO_ENSURE(!iso_overlap(a, n, iso_egress_deny[i].net, iso_egress_deny[i].bits), err,
                    KUMO_EINVAL, "workload_egress_allow: \"%.*s\" touches %s (never reachable)",
                    (int)len, p, iso_egress_deny[i].what);
    }
    *net = a;
    *bits = (uint8_t)n;
    return 0;
}

int kumo_overlay_egress_parse(const char *list, kumo_overlay_egress_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(list != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    kumo_overlay_egress_t got = {0};
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        KUMO_ENSURE(got.count < KUMO_OVERLAY_EGRESS_MAX, err, KUMO_ELIMIT,
                    "workload_egress_allow: more than %u entries", KUMO_OVERLAY_EGRESS_MAX);
        KUMO_GUARD(iso_egress_entry(p, len, &got.net[got.count], &got.bits[got.count], err));
        got.count++;
        p += len;
        if (comma != NULL) {
            p++;
            KUMO_ENSURE(*p != '\0', err, KUMO_EINVAL, "workload_egress_allow: a trailing comma");
        }
    }
    KUMO_ASSERT(got.count <= KUMO_OVERLAY_EGRESS_MAX);
    *out = got;
    return 0;
}

/* net's subnet "a.b.c.d/n" (the network address itself, n in 8..30) and its gateway inside. */
static int iso_net_check(const kumo_overlay_net_t *net,
                         uint32_t *net_addr,
                         uint32_t *net_bits,
                         kumo_err_ctx_t *err)
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
    *net_addr = a;
    *net_bits = bits;
    return 0;
}

/* The egress ranges as an nft set "{ a.b.c.d/n, ... }" (each checked by the parser's rules
 * again: a caller may fill the struct itself). */
static int
iso_egress_set(const kumo_overlay_egress_t *egress, char *out, size_t cap, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(egress->count > 0 && cap > 0);
    KUMO_ENSURE(egress->count <= KUMO_OVERLAY_EGRESS_MAX, err, KUMO_ELIMIT,
                "%u egress ranges (at most %u)", egress->count, KUMO_OVERLAY_EGRESS_MAX);
    size_t used = 0;
    for (uint32_t i = 0; i < egress->count; i++) {
        uint32_t a = egress->net[i];
        uint32_t bits = egress->bits[i];
        KUMO_ENSURE(bits >= 8u && bits <= 32u && (a & ~iso_mask(bits)) == 0, err, KUMO_EINVAL,
                    "egress range %u: not a network address with a prefix of 8..32", i);
        for (size_t k = 0; k < sizeof(iso_egress_deny) / sizeof(iso_egress_deny[0]); k++) {
            KUMO_ENSURE(!iso_overlap(a, bits, iso_egress_deny[k].net, iso_egress_deny[k].bits), err,
                        KUMO_EINVAL, "egress range %u touches %s", i, iso_egress_deny[k].what);
        }
        int n = snprintf(out + used, cap - used, "%s%u.%u.%u.%u/%u", i == 0 ? "{ " : ", ", a >> 24,
                         (a >> 16) & 0xffu, (a >> 8) & 0xffu, a & 0xffu, bits);
        KUMO_ASSERT(n > 0 && (size_t)n < cap - used);
        used += (size_t)n;
    }
    KUMO_ASSERT(used + 3u < cap);
    memcpy(out + used, " }", 3);
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
                    const char *egress,
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
        if (egress != NULL) { /* the operator's own services on this host's addresses */
            KUMO_GUARD(
                iso_put(out, err, "    ip saddr %s ip daddr %s accept\n", nets[i].subnet, egress));
        }
        KUMO_GUARD(iso_put(out, err, "    ip saddr %s drop\n", nets[i].subnet));
    }
    KUMO_GUARD(iso_put(out, err,
                       "  }\n  chain forward {\n"
                       "    type filter hook forward priority -10; policy accept;\n"));
    for (uint32_t i = 0; i < count; i++) {
        const char *s = nets[i].subnet;
        KUMO_GUARD(iso_put(out, err,
                           "    ip saddr %s ct status dnat accept\n"
                           "    ip saddr %s ct state established,related accept\n",
                           s, s));
        if (egress != NULL) { /* what the operator opened (never a deployment network) */
            KUMO_GUARD(iso_put(out, err, "    ip saddr %s ip daddr %s accept\n", s, egress));
        }
        KUMO_GUARD(iso_put(out, err, "    ip saddr %s ip daddr %s drop\n", s, iso_private));
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
                                  const kumo_overlay_egress_t *egress,
                                  kumo_buf_t *out,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(table != NULL && out != NULL && (count == 0 || nets != NULL));
    KUMO_ENSURE(iso_table_ok(table), err, KUMO_EINVAL, "table name: expected [a-z0-9_]{1,32}");
    KUMO_ENSURE(count <= KUMO_OVERLAY_NET_MAX, err, KUMO_ELIMIT, "%u networks (at most %u)", count,
                KUMO_OVERLAY_NET_MAX);
    /* "{ " + 16 × "255.255.255.255/32, " + " }" */
    char set[KUMO_OVERLAY_EGRESS_MAX * 20u + 8u];
    bool open = egress != NULL && egress->count > 0;
    if (open) {
        KUMO_GUARD(iso_egress_set(egress, set, sizeof(set), err));
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t a = 0;
        uint32_t bits = 0;
        KUMO_GUARD(iso_net_check(&nets[i], &a, &bits, err));
        for (uint32_t k = 0; open && k < egress->count; k++) {
            KUMO_ENSURE(!iso_overlap(a, bits, egress->net[k], egress->bits[k]), err, KUMO_EINVAL,
                        "egress %u.%u.%u.%u/%u overlaps the deployment network %.63s (a "
                        "provider's own bridges are never opened)",
                        egress->net[k] >> 24, (egress->net[k] >> 16) & 0xffu,
                        (egress->net[k] >> 8) & 0xffu, egress->net[k] & 0xffu,
                        (unsigned)egress->bits[k], nets[i].subnet);
        }
    }
    /* Declaring then deleting makes the replace work whether the tables exist or not. */
    KUMO_GUARD(iso_put(out, err,
                       "table inet %s {}\ndelete table inet %s\n"
                       "table bridge %s {}\ndelete table bridge %s\n",
                       table, table, table, table));
    if (count == 0) {
        return 0;
    }
    KUMO_GUARD(iso_inet(table, nets, count, open ? set : NULL, out, err));
    return iso_bridge(table, nets, count, out, err);
}
