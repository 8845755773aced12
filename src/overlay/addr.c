/*
 * addr.c - where a forward may send at another provider (overlay.h): public unicast
 * addresses, or those the operator lists. Pure.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "overlay/overlay.h"

/* Public unicast IPv4 (a in network order). */
static bool addr_v4_is_public(const uint8_t a[4])
{
    static const struct {
        uint8_t net[4];
        uint8_t bits;
    } deny[] = {
        {{0, 0, 0, 0}, 8},      /* "this network", unspecified */
        {{10, 0, 0, 0}, 8},     /* private (podman's and many bridges) */
        {{100, 64, 0, 0}, 10},  /* shared address space (carrier NAT) */
        {{127, 0, 0, 0}, 8},    /* loopback */
        {{169, 254, 0, 0}, 16}, /* link-local (cloud metadata services) */
        {{172, 16, 0, 0}, 12},  /* private (Docker's bridges) */
        {{192, 0, 0, 0}, 24},   /* IETF protocol assignments */
        {{192, 168, 0, 0}, 16}, /* private */
        {{198, 18, 0, 0}, 15},  /* benchmarking */
        {{224, 0, 0, 0}, 4},    /* multicast */
        {{240, 0, 0, 0}, 4},    /* reserved, broadcast */
    };
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++) {
        uint32_t n = (uint32_t)deny[i].net[0] << 24 | (uint32_t)deny[i].net[1] << 16 |
                     (uint32_t)deny[i].net[2] << 8 | deny[i].net[3];
        uint32_t mask = 0xffffffffu << (32u - deny[i].bits);
        if ((v & mask) == n) {
            return false;
        }
    }
    return true;
}

/* Public unicast IPv6; mapped (::ffff:0:0/96) and compatible (::/96) IPv4 judged as IPv4. */
static bool addr_v6_is_public(const uint8_t a[16])
{
    static const uint8_t zero[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, zero, 12) == 0 || memcmp(a, mapped, 12) == 0) {
        return addr_v4_is_public(a + 12); /* :: and ::1 fall in 0/8 */
    }
    if ((a[0] & 0xfeu) == 0xfcu) { /* unique local fc00::/7 */
        return false;
    }
    if (a[0] == 0xfeu && (a[1] & 0xc0u) == 0x80u) { /* link-local fe80::/10 */
        return false;
    }
    if (a[0] == 0xfeu && (a[1] & 0xc0u) == 0xc0u) { /* site-local fec0::/10 (deprecated) */
        return false;
    }
    return a[0] != 0xffu; /* multicast ff00::/8 */
}

/* The address of numeric text s (IPv4 as 4 bytes, IPv6 as 16); 0 if it is not one. */
static size_t addr_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[KUMO_OVERLAY_FWD_HOST_BYTES];
    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        return 4;
    }
    return inet_pton(AF_INET6, buf, out) == 1 ? 16 : 0;
}

/* Calls each item of a comma-separated list; stops at the first for which cb returns true. */
static bool addr_allow_find(const char *allow, const uint8_t *addr, size_t addr_len, bool *valid)
{
    *valid = true;
    for (const char *p = allow != NULL ? allow : ""; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        uint8_t item[16];
        size_t n = addr_parse(p, len, item);
        if (n == 0) {
            *valid = false;
            return false;
        }
        if (addr != NULL && n == addr_len && memcmp(item, addr, n) == 0) {
            return true;
        }
        p += len + (end != NULL ? 1u : 0u);
        if (end != NULL && *p == '\0') {
            *valid = false; /* a trailing comma */
            return false;
        }
    }
    return false;
}

uint64_t kumo_overlay_workload_tag(const char *owner, uint64_t dseq, const char *workload)
{
    KUMO_ASSERT(owner != NULL && workload != NULL);
    uint64_t h = 14695981039346656037ull; /* FNV-1a: any spread will do, 0 is kept free */
    char text[256];
    int n = snprintf(text, sizeof(text), "%s/%" PRIu64 "/%s", owner, dseq, workload);
    KUMO_ASSERT(n > 0);
    for (size_t i = 0; i < (size_t)n && i < sizeof(text) - 1u; i++) {
        h = (h ^ (uint8_t)text[i]) * 1099511628211ull;
    }
    return h != 0 ? h : 1u;
}

bool kumo_overlay_allow_list_is_valid(const char *allow)
{
    bool valid = false;
    (void)addr_allow_find(allow, NULL, 0, &valid);
    return valid;
}

bool kumo_overlay_address_allowed(const char *host, const char *allow)
{
    KUMO_ASSERT(host != NULL);
    uint8_t a[16];
    size_t n = addr_parse(host, strlen(host), a);
    if (n == 0) {
        return false; /* names are never followed */
    }
    KUMO_ASSERT(n == 4 || n == 16);
    bool valid = false;
    if (addr_allow_find(allow, a, n, &valid)) {
        return true;
    }
    return n == 4 ? addr_v4_is_public(a) : addr_v6_is_public(a);
}
