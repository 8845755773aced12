/*
 * slots.c - who may hold a connection (p2p.h, docs/design.md P2P): inbound admission against
 * the pending and stranger caps (decisions in admit.c), persistent peers exempt, strangers
 * dropped unless useful, penalties and bans, and the one summary log line per interval that
 * replaces a line per refused connection (a flood must not fill the disk through the log).
 * Loop thread only.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log/log.h"
#include "p2p/p2p_int.h"

bool p2p_conn_is_loud(const p2p_conn_t *c)
{
    return c->cls == P2P_PERSISTENT;
}

bool p2p_line_budget_take(kumo_p2p_t *p2p)
{
    uint64_t now = p2p_now_ms();
    if (now - p2p->lines_window_ms >= p2p->cfg.summary_interval_ms) {
        p2p->lines_window_ms = now;
        p2p->lines_in_window = 0;
    }
    if (p2p->lines_in_window < P2P_LINES_PER_INTERVAL) {
        p2p->lines_in_window++;
        return true;
    }
    p2p->stats.lines_suppressed++;
    p2p_summary_touch(p2p);
    return false;
}

int32_t p2p_persistent_find(const kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    for (uint32_t i = 0; i < p2p->persistent_count; i++) {
        if (memcmp(p2p->persistent[i].addr.id, id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

static bool p2p_host_is_persistent(const kumo_p2p_t *p2p, const kumo_p2p_host_t *host)
{
    for (uint32_t i = 0; i < p2p->persistent_count; i++) {
        if (kumo_p2p_host_is_equal(&p2p->persistent[i].host, host)) {
            return true;
        }
    }
    return false;
}

static kumo_p2p_limits_t p2p_limits(const kumo_p2p_t *p2p)
{
    KUMO_ASSERT(p2p->persistent_count <= KUMO_P2P_PEER_COUNT_MAX);
    uint32_t room = KUMO_P2P_PEER_COUNT_MAX - p2p->persistent_count;
    kumo_p2p_limits_t lim = {
        .pending_count_max = p2p->cfg.pending_count_max,
        .pending_per_host_max = p2p->cfg.pending_per_host_max,
        /* The peer table always keeps room for every persistent peer. */
        .inbound_count_max = p2p->cfg.inbound_count_max < room ? p2p->cfg.inbound_count_max : room,
        .inbound_per_host_max = p2p->cfg.inbound_per_host_max,
        .grace_ms = p2p->cfg.handshake_timeout_ms / 4u,
    };
    return lim;
}

/* ---- the summary line ---- */

void p2p_summary_touch(kumo_p2p_t *p2p)
{
    if (!evtimer_pending(p2p->summary, NULL)) {
        uint32_t ms = p2p->cfg.summary_interval_ms;
        struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
        (void)evtimer_add(p2p->summary, &tv);
    }
}

void p2p_summary_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    kumo_p2p_t *p2p = arg;
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(p2p, &st);
    p2p_logged_t now = {
        .refused_pending = st.refused_pending,
        .refused_banned = st.refused_banned,
        .refused_inbound = st.refused_inbound,
        .evicted_pending = st.evicted_pending,
        .dropped_idle = st.dropped_idle,
        .bans = st.bans,
        .accept_failures = st.accept_failures,
        .strangers_admitted = st.strangers_admitted,
        .lines_suppressed = st.lines_suppressed,
    };
    const p2p_logged_t *was = &p2p->logged;
    KUMO_LOG_INFO("p2p", "inbound_summary",
                  "interval_ms=%u refused_pending=%" PRIu64 " refused_banned=%" PRIu64
                  " refused_inbound=%" PRIu64 " evicted_pending=%" PRIu64 " dropped_idle=%" PRIu64
                  " bans=%" PRIu64 " accept_failures=%" PRIu64 " strangers_admitted=%" PRIu64
                  " lines_suppressed=%" PRIu64 " peers=%u strangers=%u pending=%u bans_active=%u",
                  p2p->cfg.summary_interval_ms, now.refused_pending - was->refused_pending,
                  now.refused_banned - was->refused_banned,
                  now.refused_inbound - was->refused_inbound,
                  now.evicted_pending - was->evicted_pending, now.dropped_idle - was->dropped_idle,
                  now.bans - was->bans, now.accept_failures - was->accept_failures,
                  now.strangers_admitted - was->strangers_admitted,
                  now.lines_suppressed - was->lines_suppressed, st.peers, st.strangers, st.pending,
                  kumo_p2p_bans_count(&p2p->bans, p2p_now_ms()));
    p2p->logged = now;
}

static void p2p_count(kumo_p2p_t *p2p, uint64_t *counter)
{
    (*counter)++;
    p2p_summary_touch(p2p);
}

/* ---- inbound admission ---- */

/* Makes room for a pending connection from host, evicting one if the rules say so. */
static bool p2p_pending_admit(kumo_p2p_t *p2p, const kumo_p2p_host_t *host, uint64_t now_ms)
{
    kumo_p2p_pending_view_t view[P2P_CONN_MAX];
    p2p_conn_t *owner[P2P_CONN_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        p2p_conn_t *c = p2p->conns[i];
        if (c != NULL && c->cls == P2P_PENDING) {
            view[n] = (kumo_p2p_pending_view_t){c->host, c->since_ms};
            owner[n++] = c;
        }
    }
    KUMO_ASSERT(n <= 2u * KUMO_P2P_PENDING_COUNT_MAX);
    kumo_p2p_limits_t lim = p2p_limits(p2p);
    uint32_t victim = 0;
    switch (kumo_p2p_admit_pending(&lim, view, n, host, now_ms, &victim)) {
    case KUMO_P2P_ADMIT_ACCEPT:
        return true;
    case KUMO_P2P_ADMIT_EVICT:
        KUMO_ASSERT(victim < n);
        p2p_count(p2p, &p2p->stats.evicted_pending);
        p2p_drop(owner[victim], "evicted by a newer connection", false);
        return true;
    case KUMO_P2P_ADMIT_REFUSE:
        return false;
    default:
        KUMO_UNREACHABLE();
    }
}

static void p2p_refuse_fd(kumo_p2p_t *p2p, evutil_socket_t fd, uint64_t *counter)
{
    (void)close(fd);
    p2p_count(p2p, counter);
}

void p2p_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
    (void)l;
    kumo_p2p_t *p2p = arg;
    kumo_p2p_host_t host;
    if (socklen <= 0 || !kumo_p2p_host_from_sockaddr(sa, (socklen_t)socklen, &host)) {
        p2p_refuse_fd(p2p, fd, &p2p->stats.refused_pending);
        return;
    }
    uint64_t now = p2p_now_ms();
    /* A banned host is refused before TLS unless a persistent peer lives there: its
     * connections are judged by the key they show. */
    if (kumo_p2p_bans_has(&p2p->bans, KUMO_P2P_BAN_HOST, host.b, sizeof(host.b), now) &&
        !p2p_host_is_persistent(p2p, &host)) {
        p2p_refuse_fd(p2p, fd, &p2p->stats.refused_banned);
        return;
    }
    if (!p2p_pending_admit(p2p, &host, now)) {
        p2p_refuse_fd(p2p, fd, &p2p->stats.refused_pending);
        return;
    }
    p2p_conn_t *c = p2p_conn_new(p2p, fd, false);
    if (c == NULL) {
        p2p_count(p2p, &p2p->stats.refused_pending); /* out of memory; fd closed */
        return;
    }
    c->host = host;
}

void p2p_accept_error_cb(struct evconnlistener *l, void *arg)
{
    kumo_p2p_t *p2p = arg;
    /* Out of descriptors: counted in the summary, and a pause, not a busy loop. */
    p2p_count(p2p, &p2p->stats.accept_failures);
    (void)evconnlistener_disable(l);
    struct timeval one = {1, 0};
    (void)event_add(p2p->relisten, &one);
}

static void p2p_refuse_conn(p2p_conn_t *c, const char *reason, uint64_t *counter)
{
    p2p_count(c->p2p, counter);
    p2p_drop(c, reason, false);
}

/* A persistent peer's new inbound connection replaces its older ones still in the handshake,
 * so a peer holds at most one of those. */
static void p2p_persistent_inbound_dedup(p2p_conn_t *c)
{
    kumo_p2p_t *p2p = c->p2p;
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        p2p_conn_t *o = p2p->conns[i];
        if (o != NULL && o != c && !o->outbound && o->cls == P2P_PERSISTENT && o->state != P2P_UP &&
            memcmp(o->id, c->id, KUMO_TLS_NODE_ID_BYTES) == 0) {
            p2p_drop(o, "replaced by a newer connection", false);
        }
    }
}

static bool p2p_stranger_admit(p2p_conn_t *c)
{
    kumo_p2p_t *p2p = c->p2p;
    kumo_p2p_host_t hosts[P2P_CONN_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < P2P_CONN_MAX; i++) {
        const p2p_conn_t *o = p2p->conns[i];
        if (o != NULL && o != c && o->cls == P2P_STRANGER) {
            hosts[n++] = o->host;
        }
    }
    kumo_p2p_limits_t lim = p2p_limits(p2p);
    return kumo_p2p_admit_stranger(&lim, hosts, n, &c->host);
}

bool p2p_inbound_identified(p2p_conn_t *c)
{
    kumo_p2p_t *p2p = c->p2p;
    KUMO_ASSERT(!c->outbound && c->cls == P2P_PENDING);
    uint64_t now = p2p_now_ms();
    int32_t pi = p2p_persistent_find(p2p, c->id);
    if (pi >= 0) {
        if (p2p->persistent[pi].ban_until_ms > now) {
            p2p_refuse_conn(c, "banned for its score", &p2p->stats.refused_banned);
            return false;
        }
        c->cls = P2P_PERSISTENT; /* exempt from every cap on strangers */
        p2p_persistent_inbound_dedup(c);
        return true;
    }
    if (kumo_p2p_bans_has(&p2p->bans, KUMO_P2P_BAN_ID, c->id, KUMO_TLS_NODE_ID_BYTES, now) ||
        kumo_p2p_bans_has(&p2p->bans, KUMO_P2P_BAN_HOST, c->host.b, sizeof(c->host.b), now)) {
        p2p_refuse_conn(c, "banned", &p2p->stats.refused_banned);
        return false;
    }
    if (!p2p_stranger_admit(c)) {
        p2p_refuse_conn(c, "stranger limit", &p2p->stats.refused_inbound);
        return false;
    }
    c->cls = P2P_STRANGER;
    return true;
}

/* ---- usefulness ---- */

void p2p_score_restore(p2p_conn_t *c)
{
    KUMO_ASSERT(c->state == P2P_UP);
    uint32_t points = kumo_p2p_scores_take(&c->p2p->scores, c->id, p2p_now_ms());
    c->penalty = points > c->penalty ? points : c->penalty;
    KUMO_ASSERT(c->penalty < KUMO_P2P_SCORE_BAN);
}

void p2p_slot_up(p2p_conn_t *c)
{
    KUMO_ASSERT(c->state == P2P_UP);
    p2p_score_restore(c);
    if (c->cls != P2P_STRANGER) {
        return;
    }
    kumo_p2p_t *p2p = c->p2p;
    p2p_count(p2p, &p2p->stats.strangers_admitted);
    c->useful_ms = p2p_now_ms();
    p2p_timer_arm(c, p2p->cfg.useful_timeout_ms);
}

void p2p_useful_check(p2p_conn_t *c)
{
    KUMO_ASSERT(c->state == P2P_UP && c->cls == P2P_STRANGER);
    kumo_p2p_t *p2p = c->p2p;
    uint64_t now = p2p_now_ms();
    uint64_t idle_ms = now >= c->useful_ms ? now - c->useful_ms : 0;
    if (idle_ms >= p2p->cfg.useful_timeout_ms) {
        p2p_count(p2p, &p2p->stats.dropped_idle);
        p2p_drop(c, "not useful in time", false);
        return;
    }
    p2p_timer_arm(c, p2p->cfg.useful_timeout_ms - idle_ms);
}

void kumo_p2p_mark_useful(kumo_p2p_t *p2p, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    p2p_conn_t *c = p2p_find_up(p2p, id);
    if (c != NULL && c->cls == P2P_STRANGER) {
        c->useful_ms = p2p_now_ms();
    }
}

/* ---- penalties and bans ---- */

/* A persistent peer is only kept away until its next redial: the ban doubles per offence up
 * to redial_max_ms, and starts over after a clean stretch of ten times that. */
static void p2p_ban_persistent(p2p_conn_t *c, p2p_persistent_t *pp, uint64_t now)
{
    kumo_p2p_t *p2p = c->p2p;
    uint64_t clean_ms = 10u * (uint64_t)p2p->cfg.redial_max_ms;
    uint32_t last = pp->ban_backoff_ms;
    if (last == 0 || now > pp->ban_until_ms + clean_ms) {
        pp->ban_backoff_ms = p2p->cfg.redial_min_ms;
    } else {
        pp->ban_backoff_ms =
            last >= p2p->cfg.redial_max_ms / 2u ? p2p->cfg.redial_max_ms : last * 2u;
    }
    KUMO_ASSERT(pp->ban_backoff_ms <= p2p->cfg.redial_max_ms);
    pp->ban_until_ms = now + pp->ban_backoff_ms;
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(c->id, hex);
    KUMO_LOG_INFO("p2p", "peer_banned", "id=%s persistent=1 ms=%u", hex, pp->ban_backoff_ms);
}

static void p2p_ban(p2p_conn_t *c, const char *reason)
{
    kumo_p2p_t *p2p = c->p2p;
    uint64_t now = p2p_now_ms();
    int32_t pi = p2p_persistent_find(p2p, c->id);
    if (pi >= 0) {
        p2p_ban_persistent(c, &p2p->persistent[pi], now);
    } else {
        uint64_t until = now + p2p->cfg.ban_ms;
        kumo_p2p_bans_add(&p2p->bans, KUMO_P2P_BAN_ID, c->id, KUMO_TLS_NODE_ID_BYTES, until, now);
        /* A host where a persistent peer lives is not banned: its strangers are banned by id
         * (a fresh key costs a TLS handshake within the caps). */
        if (!c->outbound && !p2p_host_is_persistent(p2p, &c->host)) {
            kumo_p2p_bans_add(&p2p->bans, KUMO_P2P_BAN_HOST, c->host.b, sizeof(c->host.b), until,
                              now);
        }
    }
    p2p_count(p2p, &p2p->stats.bans);
    p2p_drop(c, reason, true);
}

void p2p_penalty_add(p2p_conn_t *c, uint32_t points, const char *reason)
{
    if (c->closing) {
        return;
    }
    KUMO_ASSERT(c->penalty <= KUMO_P2P_SCORE_BAN);
    uint32_t room = KUMO_P2P_SCORE_BAN - c->penalty;
    c->penalty = points >= room ? KUMO_P2P_SCORE_BAN : c->penalty + points;
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    p2p_id_hex(c->id, hex);
    KUMO_LOG_DEBUG("p2p", "peer_penalized", "id=%s points=%u penalty=%u reason=\"%s\"", hex, points,
                   c->penalty, reason);
    if (c->penalty >= KUMO_P2P_SCORE_BAN) {
        p2p_ban(c, reason);
    }
}

void kumo_p2p_penalize(kumo_p2p_t *p2p,
                       const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                       uint32_t points,
                       const char *reason)
{
    p2p_conn_t *c = p2p_find_up(p2p, id);
    if (c != NULL) {
        p2p_penalty_add(c, points, reason);
    }
}

void kumo_p2p_disconnect(kumo_p2p_t *p2p,
                         const uint8_t id[KUMO_TLS_NODE_ID_BYTES],
                         const char *reason)
{
    p2p_conn_t *c = p2p_find_up(p2p, id);
    if (c != NULL) {
        p2p_drop(c, reason, true);
    }
}
