/*
 * fuzz_overlay_isolation.c - the isolation rules (kumo_overlay_isolation_render) over a table
 * name, the operator's egress list (kumo_overlay_egress_parse) and networks taken from
 * arbitrary bytes (NUL-separated fields: table, egress list, then subnet, gateway, a port list
 * per network). A list is parsed to at most KUMO_OVERLAY_EGRESS_MAX ranges, none touching
 * loopback, link-local, 0/8, multicast or reserved, or refused with nothing kept. A render is
 * refused with nothing written, or a script whose every field went through the checks: the
 * table name of [a-z0-9_], subnets and gateways of digits, dots and a slash only (nothing that
 * could end a rule or start another), each network's drop rule present, no egress range
 * overlapping a network, and the two tables replaced first.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/overlay.h"

#define F_NETS 4u

/* The next NUL-terminated field of at most cap-1 bytes (cut there). */
static void field(const uint8_t **p, size_t *left, char *out, size_t cap)
{
    size_t n = 0;
    while (*left > 0 && **p != 0) {
        if (n + 1u < cap) {
            out[n++] = (char)**p;
        }
        (*p)++;
        (*left)--;
    }
    if (*left > 0) {
        (*p)++;
        (*left)--;
    }
    out[n] = '\0';
}

static bool only(const char *s, const char *allowed)
{
    return strspn(s, allowed) == strlen(s);
}

/* Whether a/abits and b/bbits share an address (host order). */
static bool overlaps(uint32_t a, uint32_t abits, uint32_t b, uint32_t bbits)
{
    uint32_t bits = abits < bbits ? abits : bbits;
    uint32_t m = bits == 0 ? 0 : 0xffffffffu << (32u - bits);
    return (a & m) == (b & m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kumo_overlay_net_t nets[F_NETS];
    memset(nets, 0, sizeof(nets));
    char table[64];
    field(&data, &size, table, sizeof(table));
    char list[512];
    field(&data, &size, list, sizeof(list));
    kumo_overlay_egress_t egress;
    if (kumo_overlay_egress_parse(list, &egress, NULL) != 0) {
        if (egress.count != 0) {
            abort();
        }
    }
    if (egress.count > KUMO_OVERLAY_EGRESS_MAX) {
        abort();
    }
    static const uint32_t never[][2] = {
        {0x00000000u, 8}, {0x7f000000u, 8}, {0xa9fe0000u, 16}, {0xe0000000u, 4}, {0xf0000000u, 4}};
    for (uint32_t i = 0; i < egress.count; i++) {
        uint32_t bits = egress.bits[i];
        if (bits < 8u || bits > 32u || (egress.net[i] & ~(0xffffffffu << (32u - bits))) != 0) {
            abort();
        }
        for (size_t k = 0; k < sizeof(never) / sizeof(never[0]); k++) {
            if (overlaps(egress.net[i], bits, never[k][0], never[k][1])) {
                abort();
            }
        }
    }
    uint32_t n = 0;
    while (size > 0 && n < F_NETS) {
        kumo_overlay_net_t *net = &nets[n++];
        field(&data, &size, net->subnet, sizeof(net->subnet));
        field(&data, &size, net->gateway, sizeof(net->gateway));
        uint8_t ports = size > 0 ? *data : 0;
        for (uint32_t i = 0; i < ports % 4u && size >= 2; i++) {
            net->ports[net->port_count++] = (uint16_t)(data[0] << 8 | data[1]);
            data += 2;
            size -= 2;
        }
    }
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    int rc = kumo_overlay_isolation_render(table, nets, n, &egress, &out, NULL);
    if (rc != 0) {
        if (out.len != 0) {
            abort();
        }
        kumo_buf_free(&out);
        return 0;
    }
    char *text = calloc(1, out.len + 1u);
    if (text == NULL) {
        kumo_buf_free(&out);
        return 0;
    }
    memcpy(text, out.ptr, out.len);
    char head[256];
    (void)snprintf(head, sizeof(head), "table inet %s {}\ndelete table inet %s\n", table, table);
    if (!only(table, "abcdefghijklmnopqrstuvwxyz0123456789_") ||
        strncmp(text, head, strlen(head)) != 0) {
        abort();
    }
    for (uint32_t i = 0; i < n; i++) {
        char rule[4096];    /* as large as gcc reckons a subnet might be */
        char in_rule[4096]; /* routed in: nothing but a published port or an answer */
        (void)snprintf(rule, sizeof(rule), "ip saddr %s drop\n", nets[i].subnet);
        (void)snprintf(in_rule, sizeof(in_rule), "ip daddr %s drop\n", nets[i].subnet);
        if (!only(nets[i].subnet, "0123456789./") || !only(nets[i].gateway, "0123456789.") ||
            strstr(text, rule) == NULL || strstr(text, in_rule) == NULL) {
            abort();
        }
        /* no range opened over a network: its network address is outside every range */
        struct in_addr sa;
        char addr[64];
        (void)snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(nets[i].subnet, "/"),
                       nets[i].subnet);
        if (inet_pton(AF_INET, addr, &sa) != 1) {
            abort();
        }
        uint32_t v = ntohl(sa.s_addr);
        for (uint32_t k = 0; k < egress.count; k++) {
            if (overlaps(v, 32, egress.net[k], egress.bits[k])) {
                abort();
            }
        }
    }
    free(text);
    kumo_buf_free(&out);
    return 0;
}
