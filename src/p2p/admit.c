/*
 * admit.c - connection admission and the ban table (p2p_admit.h). No clock, no I/O: time and
 * the connection snapshot come from p2p.c. Tables are small (<= a few hundred rows), so
 * every decision is a linear scan.
 */
#include "p2p/p2p_admit.h"

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

bool kumo_p2p_host_from_sockaddr(const struct sockaddr *sa, socklen_t len, kumo_p2p_host_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        out->b[10] = 0xff;
        out->b[11] = 0xff;
        memcpy(&out->b[12], &v4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *a = v6->sin6_addr.s6_addr;
        bool mapped = a[10] == 0xff && a[11] == 0xff;
        for (size_t i = 0; i < 10 && mapped; i++) {
            mapped = a[i] == 0;
        }
        /* An IPv4-mapped address is that IPv4 host; any other is counted by its /64. */
        memcpy(out->b, a, mapped ? KUMO_P2P_HOST_BYTES : 8u);
        return true;
    }
    return false;
}

void kumo_p2p_host_format(const kumo_p2p_host_t *host, char out[KUMO_P2P_HOST_TEXT_BYTES])
{
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = "?";
    bool v4 = memcmp(host->b, v4_prefix, sizeof(v4_prefix)) == 0;
    (void)inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? &host->b[12] : host->b, text, sizeof(text));
    (void)snprintf(out, KUMO_P2P_HOST_TEXT_BYTES, "%s%s", text, v4 ? "" : "/64");
}

bool kumo_p2p_host_is_equal(const kumo_p2p_host_t *a, const kumo_p2p_host_t *b)
{
    return memcmp(a->b, b->b, KUMO_P2P_HOST_BYTES) == 0;
}

/* ---- admission ---- */

static uint32_t host_count(const kumo_p2p_pending_view_t *pending,
                           uint32_t count,
                           const kumo_p2p_host_t *host,
                           uint32_t *oldest_out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!kumo_p2p_host_is_equal(&pending[i].host, host)) {
            continue;
        }
        if (n == 0 || pending[i].since_ms < pending[*oldest_out].since_ms) {
            *oldest_out = i;
        }
        n++;
    }
    return n;
}

/* The host holding the most pending connections (ties: the one holding the oldest); its
 * count, and its oldest connection in *oldest_out. */
static uint32_t
heaviest_host(const kumo_p2p_pending_view_t *pending, uint32_t count, uint32_t *oldest_out)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t oldest = i;
        uint32_t n = host_count(pending, count, &pending[i].host, &oldest);
        KUMO_ASSERT(n >= 1);
        if (n > best || (n == best && pending[oldest].since_ms < pending[*oldest_out].since_ms)) {
            best = n;
            *oldest_out = oldest;
        }
    }
    return best;
}

kumo_p2p_admit_t kumo_p2p_admit_pending(const kumo_p2p_limits_t *lim,
                                        const kumo_p2p_pending_view_t *pending,
                                        uint32_t count,
                                        const kumo_p2p_host_t *host,
                                        uint64_t now_ms,
                                        uint32_t *victim_out)
{
    KUMO_ASSERT(lim->pending_count_max >= 1 && lim->pending_per_host_max >= 1);
    KUMO_ASSERT(count <= 2u * KUMO_P2P_PENDING_COUNT_MAX);
    uint32_t oldest = 0;
    uint32_t mine = host_count(pending, count, host, &oldest);
    if (mine >= lim->pending_per_host_max) {
        /* The host's own flood may displace only its stale handshakes. */
        uint64_t age_ms =
            now_ms >= pending[oldest].since_ms ? now_ms - pending[oldest].since_ms : 0;
        if (age_ms < lim->grace_ms) {
            return KUMO_P2P_ADMIT_REFUSE;
        }
        *victim_out = oldest;
        return KUMO_P2P_ADMIT_EVICT;
    }
    if (count < lim->pending_count_max) {
        return KUMO_P2P_ADMIT_ACCEPT;
    }
    uint32_t victim = 0;
    uint32_t heaviest = heaviest_host(pending, count, &victim);
    if (heaviest <= mine) {
        return KUMO_P2P_ADMIT_REFUSE; /* the newcomer's host already holds its share */
    }
    *victim_out = victim;
    return KUMO_P2P_ADMIT_EVICT;
}

bool kumo_p2p_admit_stranger(const kumo_p2p_limits_t *lim,
                             const kumo_p2p_host_t *strangers,
                             uint32_t count,
                             const kumo_p2p_host_t *host)
{
    if (count >= lim->inbound_count_max) {
        return false;
    }
    uint32_t mine = 0;
    for (uint32_t i = 0; i < count; i++) {
        mine += kumo_p2p_host_is_equal(&strangers[i], host) ? 1u : 0u;
    }
    return mine < lim->inbound_per_host_max;
}

/* ---- bans ---- */

static bool
ban_matches(const kumo_p2p_ban_t *b, kumo_p2p_ban_kind_t kind, const uint8_t *key, size_t key_len)
{
    return b->kind == (uint8_t)kind && memcmp(b->key, key, key_len) == 0;
}

void kumo_p2p_bans_add(kumo_p2p_bans_t *bans,
                       kumo_p2p_ban_kind_t kind,
                       const uint8_t *key,
                       size_t key_len,
                       uint64_t until_ms,
                       uint64_t now_ms)
{
    KUMO_ASSERT(key_len >= 1 && key_len <= KUMO_P2P_BAN_KEY_BYTES);
    KUMO_ASSERT(kind == KUMO_P2P_BAN_ID || kind == KUMO_P2P_BAN_HOST);
    kumo_p2p_ban_t *slot = NULL;
    for (uint32_t i = 0; i < KUMO_P2P_BAN_COUNT_MAX; i++) {
        kumo_p2p_ban_t *b = &bans->v[i];
        if (b->kind != 0 && ban_matches(b, kind, key, key_len)) {
            b->until_ms = until_ms > b->until_ms ? until_ms : b->until_ms;
            return;
        }
        bool free_slot = b->kind == 0 || b->until_ms <= now_ms;
        /* Prefer a free or expired slot; else the ban that ends soonest. */
        if (slot == NULL || (free_slot && slot->kind != 0 && slot->until_ms > now_ms) ||
            (!free_slot && slot->kind != 0 && slot->until_ms > now_ms &&
             b->until_ms < slot->until_ms)) {
            slot = b;
        }
    }
    KUMO_ASSERT(slot != NULL);
    if (slot->kind != 0 && slot->until_ms > now_ms) {
        bans->replaced++;
    }
    memset(slot, 0, sizeof(*slot));
    slot->kind = (uint8_t)kind;
    memcpy(slot->key, key, key_len);
    slot->until_ms = until_ms;
}

bool kumo_p2p_bans_has(const kumo_p2p_bans_t *bans,
                       kumo_p2p_ban_kind_t kind,
                       const uint8_t *key,
                       size_t key_len,
                       uint64_t now_ms)
{
    KUMO_ASSERT(key_len >= 1 && key_len <= KUMO_P2P_BAN_KEY_BYTES);
    for (uint32_t i = 0; i < KUMO_P2P_BAN_COUNT_MAX; i++) {
        const kumo_p2p_ban_t *b = &bans->v[i];
        if (b->kind != 0 && b->until_ms > now_ms && ban_matches(b, kind, key, key_len)) {
            return true;
        }
    }
    return false;
}

/* ---- scores ---- */

static uint32_t
score_faded(const kumo_p2p_scores_t *scores, const kumo_p2p_score_t *s, uint64_t now_ms)
{
    KUMO_ASSERT(scores->fade_ms >= 1);
    uint64_t gone = now_ms > s->at_ms ? (now_ms - s->at_ms) / scores->fade_ms : 0;
    return gone >= s->points ? 0 : s->points - (uint32_t)gone;
}

void kumo_p2p_scores_put(kumo_p2p_scores_t *scores,
                         const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                         uint32_t points,
                         uint64_t now_ms)
{
    (void)kumo_p2p_scores_take(scores, id, now_ms);
    if (points == 0) {
        return;
    }
    kumo_p2p_score_t *slot = &scores->v[0];
    uint32_t slot_points = score_faded(scores, slot, now_ms);
    for (uint32_t i = 1; i < KUMO_P2P_SCORE_COUNT_MAX && slot_points > 0; i++) {
        uint32_t p = score_faded(scores, &scores->v[i], now_ms);
        if (p < slot_points) {
            slot = &scores->v[i];
            slot_points = p;
        }
    }
    memcpy(slot->id, id, KUMO_TLS_NODE_ID_BYTES);
    slot->points = points;
    slot->at_ms = now_ms;
}

uint32_t kumo_p2p_scores_take(kumo_p2p_scores_t *scores,
                              const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                              uint64_t now_ms)
{
    for (uint32_t i = 0; i < KUMO_P2P_SCORE_COUNT_MAX; i++) {
        kumo_p2p_score_t *s = &scores->v[i];
        if (s->points > 0 && memcmp(s->id, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            uint32_t p = score_faded(scores, s, now_ms);
            memset(s, 0, sizeof(*s));
            return p;
        }
    }
    return 0;
}

uint32_t kumo_p2p_bans_count(const kumo_p2p_bans_t *bans, uint64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < KUMO_P2P_BAN_COUNT_MAX; i++) {
        n += bans->v[i].kind != 0 && bans->v[i].until_ms > now_ms ? 1u : 0u;
    }
    return n;
}
