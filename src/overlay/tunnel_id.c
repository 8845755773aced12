/*
 * tunnel_id.c - who holds a tunnel certificate (overlay.h kumo_overlay_tunnel_id_t): the
 * certificate's URIs both ways, and issuing the certificate from a provider's root. The URI
 * codec is pure; issuing uses the tls module (OpenSSL, the clock for validity).
 */
#include "overlay/overlay.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tls/tls.h"

_Static_assert(KUMO_OVERLAY_TUNNEL_URI_BYTES == KUMO_TLS_URI_BYTES_MAX, "one URI bound");
_Static_assert(KUMO_OVERLAY_TUNNEL_URI_COUNT <= KUMO_TLS_URI_COUNT_MAX, "URIs fit a certificate");
/* The longest lease URI: the prefix, three numbers, four separators and three names fit. */
_Static_assert(12u + 3u * (KUMO_OVERLAY_TUNNEL_TEXT_BYTES - 1u) + 20u + 10u + 10u + 4u <
                   KUMO_OVERLAY_TUNNEL_URI_BYTES,
               "a lease URI fits");

#define TUNNEL_URI_LEASE  "kumo:lease:"
#define TUNNEL_URI_TUNNEL "kumo:tunnel:"

static bool tunnel_text_is_valid(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == 0 || len >= cap) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-')) {
            return false;
        }
    }
    return true;
}

bool kumo_overlay_tunnel_id_is_valid(const kumo_overlay_tunnel_id_t *id)
{
    KUMO_ASSERT(id != NULL);
    return tunnel_text_is_valid(id->owner, sizeof(id->owner)) &&
           tunnel_text_is_valid(id->src, sizeof(id->src)) &&
           tunnel_text_is_valid(id->dst, sizeof(id->dst)) &&
           tunnel_text_is_valid(id->provider, sizeof(id->provider)) && id->dseq != 0 &&
           id->oseq != 0;
}

bool kumo_overlay_tunnel_id_equal(const kumo_overlay_tunnel_id_t *a,
                                  const kumo_overlay_tunnel_id_t *b)
{
    KUMO_ASSERT(a != NULL && b != NULL);
    return strcmp(a->owner, b->owner) == 0 && a->dseq == b->dseq && strcmp(a->src, b->src) == 0 &&
           strcmp(a->dst, b->dst) == 0 && a->gseq == b->gseq && a->oseq == b->oseq &&
           strcmp(a->provider, b->provider) == 0;
}

int kumo_overlay_tunnel_id_uris(
    const kumo_overlay_tunnel_id_t *id,
    char uris[KUMO_OVERLAY_TUNNEL_URI_COUNT][KUMO_OVERLAY_TUNNEL_URI_BYTES],
    kumo_err_ctx_t *err)
{
    KUMO_ENSURE(kumo_overlay_tunnel_id_is_valid(id), err, KUMO_EINVAL,
                "tunnel identity: names must be 1..64 of [a-z0-9._-], dseq and oseq not 0");
    int n = snprintf(uris[0], KUMO_OVERLAY_TUNNEL_URI_BYTES,
                     TUNNEL_URI_LEASE "%s/%" PRIu64 "/%" PRIu32 "/%" PRIu32 "/%s", id->owner,
                     id->dseq, id->gseq, id->oseq, id->provider);
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_OVERLAY_TUNNEL_URI_BYTES);
    n = snprintf(uris[1], KUMO_OVERLAY_TUNNEL_URI_BYTES, TUNNEL_URI_TUNNEL "%s/%s", id->src,
                 id->dst);
    KUMO_ASSERT(n > 0 && (size_t)n < KUMO_OVERLAY_TUNNEL_URI_BYTES);
    return 0;
}

/* Copies the text up to the next '/' (or the end when last) of *p into out; advances *p. */
static bool tunnel_part_text(const char **p, bool last, char *out, size_t cap)
{
    const char *end = last ? *p + strlen(*p) : strchr(*p, '/');
    if (end == NULL || end == *p || (size_t)(end - *p) >= cap) {
        return false;
    }
    size_t len = (size_t)(end - *p);
    memcpy(out, *p, len);
    out[len] = '\0';
    *p = last ? end : end + 1;
    return tunnel_text_is_valid(out, cap);
}

/* A canonical decimal (no sign, no leading zero, at most max) up to the next '/'. */
static bool tunnel_part_u64(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (n >= 20 || v > (max - d) / 10u) {
            return false;
        }
        v = v * 10u + d;
    }
    if (n == 0 || s[n] != '/' || (n > 1 && s[0] == '0')) {
        return false;
    }
    *out = v;
    *p = s + n + 1;
    return true;
}

static bool tunnel_lease_parse(const char *p, kumo_overlay_tunnel_id_t *id)
{
    uint64_t dseq = 0;
    uint64_t gseq = 0;
    uint64_t oseq = 0;
    bool ok = tunnel_part_text(&p, false, id->owner, sizeof(id->owner)) &&
              tunnel_part_u64(&p, UINT64_MAX, &dseq) && tunnel_part_u64(&p, UINT32_MAX, &gseq) &&
              tunnel_part_u64(&p, UINT32_MAX, &oseq) &&
              tunnel_part_text(&p, true, id->provider, sizeof(id->provider));
    id->dseq = dseq;
    id->gseq = (uint32_t)gseq;
    id->oseq = (uint32_t)oseq;
    return ok;
}

static bool tunnel_pair_parse(const char *p, kumo_overlay_tunnel_id_t *id)
{
    return tunnel_part_text(&p, false, id->src, sizeof(id->src)) &&
           tunnel_part_text(&p, true, id->dst, sizeof(id->dst));
}

int kumo_overlay_tunnel_id_from_uris(const char (*uris)[KUMO_OVERLAY_TUNNEL_URI_BYTES],
                                     size_t count,
                                     kumo_overlay_tunnel_id_t *out,
                                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ENSURE(count == KUMO_OVERLAY_TUNNEL_URI_COUNT, err, KUMO_EDECODE,
                "a tunnel certificate names %u URIs, not %zu", KUMO_OVERLAY_TUNNEL_URI_COUNT,
                count);
    kumo_overlay_tunnel_id_t id = {0};
    bool lease = false;
    bool pair = false;
    for (size_t i = 0; i < count; i++) {
        const char *u = uris[i];
        KUMO_ENSURE(memchr(u, '\0', KUMO_OVERLAY_TUNNEL_URI_BYTES) != NULL, err, KUMO_EDECODE,
                    "URI %zu too long", i);
        if (strncmp(u, TUNNEL_URI_LEASE, strlen(TUNNEL_URI_LEASE)) == 0 && !lease) {
            lease = true;
            KUMO_ENSURE(tunnel_lease_parse(u + strlen(TUNNEL_URI_LEASE), &id), err, KUMO_EDECODE,
                        "malformed lease URI");
        } else if (strncmp(u, TUNNEL_URI_TUNNEL, strlen(TUNNEL_URI_TUNNEL)) == 0 && !pair) {
            pair = true;
            KUMO_ENSURE(tunnel_pair_parse(u + strlen(TUNNEL_URI_TUNNEL), &id), err, KUMO_EDECODE,
                        "malformed tunnel URI");
        } else {
            return kumo_err_set(err, KUMO_EDECODE, "unexpected or repeated URI %zu", i);
        }
    }
    KUMO_ASSERT(lease && pair);
    KUMO_ENSURE(kumo_overlay_tunnel_id_is_valid(&id), err, KUMO_EDECODE,
                "tunnel identity with dseq or oseq 0");
    *out = id;
    return 0;
}

int kumo_overlay_tunnel_cert_issue(const kumo_crypto_keypair_t *root,
                                   kumo_bytes_t root_pem,
                                   const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                   const kumo_overlay_tunnel_id_t *id,
                                   int64_t start_offset_s,
                                   uint32_t lifetime_s,
                                   kumo_buf_t *pem_out,
                                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(root != NULL && id != NULL && pem_out != NULL);
    char uris[KUMO_OVERLAY_TUNNEL_URI_COUNT][KUMO_OVERLAY_TUNNEL_URI_BYTES];
    KUMO_GUARD(kumo_overlay_tunnel_id_uris(id, uris, err));
    const char *list[KUMO_OVERLAY_TUNNEL_URI_COUNT] = {uris[0], uris[1]};
    kumo_tls_uri_cert_t spec = {.cn = "kumo tunnel",
                                .uris = list,
                                .uri_count = KUMO_OVERLAY_TUNNEL_URI_COUNT,
                                .start_offset_s = start_offset_s,
                                .lifetime_s = lifetime_s};
    return kumo_tls_cert_issue_uris(root, root_pem, pubkey, &spec, pem_out, err);
}
