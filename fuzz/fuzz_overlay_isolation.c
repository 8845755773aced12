/*
 * fuzz_overlay_isolation.c - the isolation rules (kumo_overlay_isolation_render) over a table
 * name and networks taken from arbitrary bytes (NUL-separated fields: table, then subnet,
 * gateway, a port list per network). Refused with nothing written, or a script whose every
 * field went through the checks: the table name of [a-z0-9_], subnets and gateways of digits,
 * dots and a slash only (nothing that could end a rule or start another), each network's drop
 * rule present, and the two tables replaced first.
 */
#include <stdint.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kumo_overlay_net_t nets[F_NETS];
    memset(nets, 0, sizeof(nets));
    char table[64];
    field(&data, &size, table, sizeof(table));
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
    int rc = kumo_overlay_isolation_render(table, nets, n, &out, NULL);
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
    }
    free(text);
    kumo_buf_free(&out);
    return 0;
}
