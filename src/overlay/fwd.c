/*
 * fwd.c - the overlay's TCP forwarder (overlay.h): evconnlistener per entry, a pair of
 * bufferevents per relayed connection with backpressure (reading from one side pauses while
 * the other side has KUMO_OVERLAY_FWD_BUFFER_BYTES queued, until it drained) and half-closes passed
 * on (an EOF from one side becomes a write shutdown of the other once its data is out; the pair is
 * freed when both directions are done, at once on an error). Live pairs are counted per source
 * address (a small table of the sources with connections open) and in all, against the caps of
 * overlay.h.
 */
#include "overlay/overlay.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log/log.h"
#include "overlay/tunnel_int.h"

/* Sources with relayed connections open: one slot per address while its count is above 0. The
 * table is as large as the total cap can fill with distinct addresses that one table of
 * entries can name. */
#define FWD_SOURCE_SLOTS (KUMO_OVERLAY_FWD_ENTRY_MAX * KUMO_OVERLAY_FWD_SOURCE_MAX)

typedef struct fwd_source {
    char ip[KUMO_OVERLAY_FWD_HOST_BYTES];
    uint32_t count;
} fwd_source_t;

/* Source workloads with relayed connections open, like the sources. */
typedef struct fwd_tag {
    uint64_t tag;
    uint32_t count;
} fwd_tag_t;

typedef struct fwd_listener {
    kumo_overlay_fwd_t *f;
    kumo_overlay_fwd_entry_t entry;
    struct evconnlistener *l; /* NULL until the address could be bound */
    uint32_t next;            /* round robin over the targets */
} fwd_listener_t;

struct kumo_overlay_fwd {
    struct event_base *base;
    struct event *timer;
    pthread_mutex_t mu; /* guards want, want_count, want_gen */
    kumo_overlay_fwd_entry_t want[KUMO_OVERLAY_FWD_ENTRY_MAX];
    uint32_t want_count;
    uint64_t want_gen;
    uint64_t have_gen; /* loop thread only from here down */
    fwd_listener_t *ls[KUMO_OVERLAY_FWD_ENTRY_MAX];
    uint32_t ls_count;
    kumo_overlay_fwd_entry_t copy[KUMO_OVERLAY_FWD_ENTRY_MAX];
    kumo_overlay_fwd_cfg_t cfg; /* caps in force */
    fwd_source_t *sources;      /* FWD_SOURCE_SLOTS */
    uint32_t source_count;      /* slots in use */
    fwd_tag_t *tags;            /* FWD_SOURCE_SLOTS */
    uint32_t tag_count;
    bool paused;            /* accepting paused: out of descriptors */
    struct fwd_pair *pairs; /* every live pair */
    atomic_uint listening;
    atomic_uint active;
    atomic_ullong relayed;
    atomic_ullong refused;
    atomic_ullong capped;
};

/* ---- one relayed connection: two bufferevents and their half-closes ---- */

typedef struct fwd_pair {
    kumo_overlay_fwd_t *f;
    char source[KUMO_OVERLAY_FWD_HOST_BYTES]; /* the client's address, counted in f->sources */
    uint64_t tag;                             /* its workload, counted in f->tags (0: none) */
    struct fwd_pair *prev, *next;             /* f->pairs: freed with the forwarder */
    struct bufferevent *side[2];              /* 0: the accepted client, 1: the target */
    bool eof[2];                              /* the side sent EOF (its direction is done) */
    bool shut[2];                             /* we shut the side's write half */
} fwd_pair_t;

static int fwd_index(const fwd_pair_t *p, const struct bufferevent *bev)
{
    return p->side[0] == bev ? 0 : 1;
}

static size_t fwd_out_len(const fwd_pair_t *p, int i)
{
    return evbuffer_get_length(bufferevent_get_output(p->side[i]));
}

/* ---- counting ---- */

static fwd_source_t *fwd_source_find(kumo_overlay_fwd_t *f, const char *ip)
{
    for (uint32_t i = 0; i < f->source_count; i++) {
        if (strcmp(f->sources[i].ip, ip) == 0) {
            return &f->sources[i];
        }
    }
    return NULL;
}

static fwd_tag_t *fwd_tag_find(kumo_overlay_fwd_t *f, uint64_t tag)
{
    for (uint32_t i = 0; i < f->tag_count; i++) {
        if (f->tags[i].tag == tag) {
            return &f->tags[i];
        }
    }
    return NULL;
}

/* The slots of ip and tag (made if new, count 0); false when a table is full. */
static bool
fwd_slots(kumo_overlay_fwd_t *f, const char *ip, uint64_t tag, fwd_source_t **s, fwd_tag_t **t)
{
    *s = fwd_source_find(f, ip);
    if (*s == NULL && f->source_count < FWD_SOURCE_SLOTS) {
        *s = &f->sources[f->source_count++];
        (void)snprintf((*s)->ip, sizeof((*s)->ip), "%s", ip);
        (*s)->count = 0;
    }
    *t = tag != 0 ? fwd_tag_find(f, tag) : NULL;
    if (tag != 0 && *t == NULL && f->tag_count < FWD_SOURCE_SLOTS) {
        *t = &f->tags[f->tag_count++];
        (*t)->tag = tag;
        (*t)->count = 0;
    }
    return *s != NULL && (tag == 0 || *t != NULL);
}

/* Forgets the slots of ip and tag whose count is 0 (the last slot moves into the freed one). */
static void fwd_slots_trim(kumo_overlay_fwd_t *f, const char *ip, uint64_t tag)
{
    fwd_source_t *s = fwd_source_find(f, ip);
    if (s != NULL && s->count == 0) {
        *s = f->sources[--f->source_count];
    }
    fwd_tag_t *t = tag != 0 ? fwd_tag_find(f, tag) : NULL;
    if (t != NULL && t->count == 0) {
        *t = f->tags[--f->tag_count];
    }
}

/* Takes one connection of source ip (of workload tag) against the caps; false when a cap is
 * reached. */
static bool fwd_source_take(kumo_overlay_fwd_t *f, const char *ip, uint64_t tag)
{
    if (atomic_load(&f->active) >= f->cfg.connection_max) {
        return false;
    }
    fwd_source_t *s = NULL;
    fwd_tag_t *t = NULL;
    bool ok = fwd_slots(f, ip, tag, &s, &t) && s->count < f->cfg.connection_per_source_max &&
              (t == NULL || t->count < f->cfg.connection_per_workload_max);
    if (!ok) {
        fwd_slots_trim(f, ip, tag);
        return false;
    }
    s->count++;
    if (t != NULL) {
        t->count++;
    }
    atomic_fetch_add(&f->active, 1u);
    return true;
}

static void fwd_source_give(kumo_overlay_fwd_t *f, const char *ip, uint64_t tag)
{
    fwd_source_t *s = fwd_source_find(f, ip);
    fwd_tag_t *t = tag != 0 ? fwd_tag_find(f, tag) : NULL;
    KUMO_ASSERT(s != NULL && s->count > 0);
    KUMO_ASSERT(tag == 0 || (t != NULL && t->count > 0));
    KUMO_ASSERT(atomic_load(&f->active) > 0);
    atomic_fetch_sub(&f->active, 1u);
    s->count--;
    if (t != NULL) {
        t->count--;
    }
    fwd_slots_trim(f, ip, tag);
}

static void fwd_pair_free(fwd_pair_t *p)
{
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        p->f->pairs = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    bufferevent_free(p->side[0]);
    bufferevent_free(p->side[1]);
    fwd_source_give(p->f, p->source, p->tag);
    kumo_free(p);
}

/* After side o's output drained: pass on the other side's EOF, read it again, or end. */
static bool fwd_settle(fwd_pair_t *p, int o)
{
    int i = 1 - o;
    if (fwd_out_len(p, o) == 0) {
        if (p->eof[i] && !p->shut[o]) {
            (void)shutdown(bufferevent_getfd(p->side[o]), SHUT_WR);
            p->shut[o] = true;
        } else if (!p->eof[i]) {
            (void)bufferevent_enable(p->side[i], EV_READ);
        }
    }
    if (p->eof[0] && p->eof[1] && fwd_out_len(p, 0) == 0 && fwd_out_len(p, 1) == 0) {
        fwd_pair_free(p);
        return true;
    }
    return false;
}

static void fwd_read_cb(struct bufferevent *bev, void *ctx)
{
    fwd_pair_t *p = ctx;
    int i = fwd_index(p, bev);
    int o = 1 - i;
    size_t queued = fwd_out_len(p, o);
    if (evbuffer_get_length(bufferevent_get_input(bev)) >= TN_LIBEVENT_READ_BYTES &&
        queued < KUMO_OVERLAY_FWD_BUFFER_BYTES) { /* a bulk sender: take more per turn */
        (void)tn_bev_fill(bev, KUMO_OVERLAY_FWD_BUFFER_BYTES - queued);
    }
    (void)evbuffer_add_buffer(bufferevent_get_output(p->side[o]), bufferevent_get_input(bev));
    if (fwd_out_len(p, o) >= KUMO_OVERLAY_FWD_BUFFER_BYTES) {
        (void)bufferevent_disable(bev, EV_READ); /* until the other side drained */
    }
}

static void fwd_write_cb(struct bufferevent *bev, void *ctx)
{
    fwd_pair_t *p = ctx;
    (void)fwd_settle(p, fwd_index(p, bev));
}

static void fwd_event_cb(struct bufferevent *bev, short what, void *ctx)
{
    fwd_pair_t *p = ctx;
    int i = fwd_index(p, bev);
    if ((what & BEV_EVENT_CONNECTED) != 0) {
        return;
    }
    if ((what & BEV_EVENT_EOF) == 0) { /* an error: both sides go */
        fwd_pair_free(p);
        return;
    }
    fwd_read_cb(bev, p); /* what was still read */
    p->eof[i] = true;
    (void)bufferevent_disable(bev, EV_READ);
    (void)fwd_settle(p, 1 - i);
}

/* The numeric text of the peer address sa into ip; false if it has none. */
static bool fwd_peer_ip(const struct sockaddr *sa, char ip[KUMO_OVERLAY_FWD_HOST_BYTES])
{
    const void *addr =
        sa->sa_family == AF_INET6
            ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
            : (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    ip[0] = '\0';
    return (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
           evutil_inet_ntop(sa->sa_family, addr, ip, KUMO_OVERLAY_FWD_HOST_BYTES) != NULL;
}

/* Whether ip is one of the entry's sources; *tag gets its workload's tag. */
static bool fwd_source_allowed(const kumo_overlay_fwd_entry_t *e, const char *ip, uint64_t *tag)
{
    for (uint32_t i = 0; i < e->source_count && i < KUMO_OVERLAY_FWD_SOURCE_MAX; i++) {
        if (strcmp(e->sources[i], ip) == 0) {
            *tag = e->source_workloads[i];
            return true;
        }
    }
    return false;
}

/* Connects a new pair for the accepted fd to target t; false (fd closed) when it cannot. */
static bool fwd_pair_open(kumo_overlay_fwd_t *f,
                          evutil_socket_t fd,
                          const char *ip,
                          uint64_t tag,
                          const kumo_overlay_fwd_target_t *t)
{
    char where[KUMO_OVERLAY_FWD_HOST_BYTES + 16];
    (void)snprintf(where, sizeof(where), strchr(t->host, ':') != NULL ? "[%s]:%u" : "%s:%u",
                   t->host, t->port);
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    fwd_pair_t *p = kumo_calloc(1, sizeof(*p));
    struct bufferevent *in =
        p != NULL ? bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    struct bufferevent *out =
        in != NULL ? bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (out == NULL || evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen) != 0 ||
        bufferevent_socket_connect(out, (struct sockaddr *)&ss, sslen) != 0) {
        if (in == NULL) {
            evutil_closesocket(fd);
        } else {
            bufferevent_free(in);
        }
        if (out != NULL) {
            bufferevent_free(out);
        }
        kumo_free(p);
        return false;
    }
    p->f = f;
    (void)snprintf(p->source, sizeof(p->source), "%s", ip);
    p->tag = tag;
    p->side[0] = in;
    p->side[1] = out;
    p->next = f->pairs;
    if (f->pairs != NULL) {
        f->pairs->prev = p;
    }
    f->pairs = p;
    bufferevent_setcb(in, fwd_read_cb, fwd_write_cb, fwd_event_cb, p);
    bufferevent_setcb(out, fwd_read_cb, fwd_write_cb, fwd_event_cb, p);
    (void)bufferevent_enable(in, EV_READ | EV_WRITE);
    (void)bufferevent_enable(out, EV_READ | EV_WRITE);
    return true;
}

/* Whether host is a loopback address (where a tunnel client listens, never anywhere else). */
static bool fwd_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (evutil_inet_pton(AF_INET, host, &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127u;
    }
    return evutil_inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/* The next usable target of the listener for a source of workload tag (round robin); NULL
 * when none is. A tunnel's listener serves its own source workload only. */
static const kumo_overlay_fwd_target_t *fwd_target_next(fwd_listener_t *fl, uint64_t tag)
{
    for (uint32_t k = 0; k < fl->entry.target_count; k++) {
        const kumo_overlay_fwd_target_t *t =
            &fl->entry.targets[fl->next++ % fl->entry.target_count];
        if ((t->source_workload == 0 || t->source_workload == tag) &&
            (t->kind == KUMO_OVERLAY_FWD_CONTAINER || fwd_loopback(t->host))) {
            return t;
        }
    }
    return NULL;
}

static void fwd_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *ctx)
{
    (void)l;
    (void)salen;
    fwd_listener_t *fl = ctx;
    kumo_overlay_fwd_t *f = fl->f;
    char ip[KUMO_OVERLAY_FWD_HOST_BYTES];
    uint64_t tag = 0;
    if (!fwd_peer_ip(sa, ip) || !fwd_source_allowed(&fl->entry, ip, &tag)) {
        atomic_fetch_add(&f->refused, 1u); /* before the close the client sees */
        evutil_closesocket(fd);
        return;
    }
    const kumo_overlay_fwd_target_t *t = fwd_target_next(fl, tag);
    if (t == NULL) {
        evutil_closesocket(fd); /* no container runs, or the tunnel is not known yet */
        return;
    }
    if (!fwd_source_take(f, ip, tag)) {
        atomic_fetch_add(&f->capped, 1u);
        evutil_closesocket(fd);
        return;
    }
    if (!fwd_pair_open(f, fd, ip, tag, t)) {
        fwd_source_give(f, ip, tag);
        return;
    }
    atomic_fetch_add(&f->relayed, 1u);
}

/* accept() failed: out of descriptors (or another error). Accepting pauses until the next
 * sync instead of spinning on a listening socket that stays readable. */
static void fwd_accept_error_cb(struct evconnlistener *l, void *ctx)
{
    fwd_listener_t *fl = ctx;
    int e = EVUTIL_SOCKET_ERROR();
    (void)evconnlistener_disable(l);
    if (!fl->f->paused) {
        KUMO_LOG_WARN("overlay", "forward_accept_failed", "errno=%d active=%u", e,
                      atomic_load(&fl->f->active));
    }
    fl->f->paused = true;
    atomic_fetch_add(&fl->f->capped, 1u);
}

/* ---- the table ---- */

static void fwd_listener_bind(fwd_listener_t *fl)
{
    char where[KUMO_OVERLAY_FWD_HOST_BYTES + 16];
    (void)snprintf(where, sizeof(where), strchr(fl->entry.ip, ':') != NULL ? "[%s]:%u" : "%s:%u",
                   fl->entry.ip, fl->entry.port);
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    if (evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen) != 0) {
        return;
    }
    fl->l = evconnlistener_new_bind(fl->f->base, fwd_accept_cb, fl,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                    (struct sockaddr *)&ss, sslen);
    if (fl->l != NULL) {
        evconnlistener_set_error_cb(fl->l, fwd_accept_error_cb);
        atomic_fetch_add(&fl->f->listening, 1u);
        KUMO_LOG_INFO("overlay", "forward_listening", "at=%s targets=%u", where,
                      fl->entry.target_count);
    }
}

static void fwd_listener_free(fwd_listener_t *fl)
{
    if (fl->l != NULL) {
        evconnlistener_free(fl->l);
        atomic_fetch_sub(&fl->f->listening, 1u);
    }
    kumo_free(fl);
}

static const kumo_overlay_fwd_entry_t *
fwd_find(const kumo_overlay_fwd_entry_t *es, uint32_t n, const kumo_overlay_fwd_entry_t *e)
{
    for (uint32_t i = 0; i < n; i++) {
        if (es[i].port == e->port && strcmp(es[i].ip, e->ip) == 0) {
            return &es[i];
        }
    }
    return NULL;
}

static void fwd_apply(kumo_overlay_fwd_t *f, uint32_t n)
{
    for (uint32_t i = 0; i < f->ls_count;) { /* drop or update */
        const kumo_overlay_fwd_entry_t *w = fwd_find(f->copy, n, &f->ls[i]->entry);
        if (w == NULL) {
            fwd_listener_free(f->ls[i]);
            f->ls[i] = f->ls[--f->ls_count];
            continue;
        }
        f->ls[i]->entry = *w;
        i++;
    }
    for (uint32_t i = 0; i < n && f->ls_count < KUMO_OVERLAY_FWD_ENTRY_MAX; i++) { /* add */
        bool have = false;
        for (uint32_t k = 0; k < f->ls_count && !have; k++) {
            have = f->ls[k]->entry.port == f->copy[i].port &&
                   strcmp(f->ls[k]->entry.ip, f->copy[i].ip) == 0;
        }
        fwd_listener_t *fl = have ? NULL : kumo_calloc(1, sizeof(*fl));
        if (fl != NULL) {
            fl->f = f;
            fl->entry = f->copy[i];
            f->ls[f->ls_count++] = fl;
        }
    }
}

static void fwd_sync_cb(evutil_socket_t fd, short what, void *ctx)
{
    (void)fd;
    (void)what;
    kumo_overlay_fwd_t *f = ctx;
    (void)pthread_mutex_lock(&f->mu);
    bool changed = f->want_gen != f->have_gen;
    uint32_t n = f->want_count;
    if (changed) {
        memcpy(f->copy, f->want, n * sizeof(f->copy[0]));
        f->have_gen = f->want_gen;
    }
    (void)pthread_mutex_unlock(&f->mu);
    if (changed) {
        fwd_apply(f, n);
    }
    bool resume = f->paused;
    f->paused = false;
    for (uint32_t i = 0; i < f->ls_count; i++) {
        if (f->ls[i]->l == NULL) {
            fwd_listener_bind(f->ls[i]);
        } else if (resume) {
            (void)evconnlistener_enable(f->ls[i]->l);
        }
    }
}

/* The total cap fitted to the open-files limit: two descriptors per relayed connection,
 * KUMO_OVERLAY_FWD_FD_RESERVE left to the rest of the daemon. */
static uint32_t fwd_total_fit(uint32_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return want;
    }
    uint64_t room = rl.rlim_cur > KUMO_OVERLAY_FWD_FD_RESERVE + 2u
                        ? (rl.rlim_cur - KUMO_OVERLAY_FWD_FD_RESERVE) / 2u
                        : 1u;
    return room < want ? (uint32_t)room : want;
}

int kumo_overlay_fwd_open(struct event_base *base,
                          const kumo_overlay_fwd_cfg_t *cfg,
                          kumo_overlay_fwd_t **out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(base != NULL && out != NULL);
    kumo_overlay_fwd_t *f = kumo_calloc(1, sizeof(*f));
    KUMO_ENSURE(f != NULL, err, KUMO_ENOMEM, "forwarder");
    f->sources = kumo_calloc(FWD_SOURCE_SLOTS, sizeof(*f->sources));
    f->tags = kumo_calloc(FWD_SOURCE_SLOTS, sizeof(*f->tags));
    if (f->sources == NULL || f->tags == NULL) {
        kumo_free(f->sources);
        kumo_free(f->tags);
        kumo_free(f);
        return kumo_err_set(err, KUMO_ENOMEM, "forwarder sources");
    }
    if (cfg != NULL) {
        f->cfg = *cfg;
    }
    f->cfg.connection_max = fwd_total_fit(
        f->cfg.connection_max > 0 ? f->cfg.connection_max : KUMO_OVERLAY_FWD_CONNECTION_DEFAULT);
    f->cfg.connection_per_source_max = f->cfg.connection_per_source_max > 0
                                           ? f->cfg.connection_per_source_max
                                           : KUMO_OVERLAY_FWD_CONNECTION_PER_SOURCE_DEFAULT;
    f->cfg.connection_per_workload_max = f->cfg.connection_per_workload_max > 0
                                             ? f->cfg.connection_per_workload_max
                                             : KUMO_OVERLAY_FWD_CONNECTION_PER_WORKLOAD_DEFAULT;
    KUMO_ASSERT(f->cfg.connection_max > 0);
    f->base = base;
    (void)pthread_mutex_init(&f->mu, NULL);
    f->timer = event_new(base, -1, EV_PERSIST, fwd_sync_cb, f);
    struct timeval tv = {0, (long)KUMO_OVERLAY_FWD_SYNC_MS * 1000L};
    if (f->timer == NULL || event_add(f->timer, &tv) != 0) {
        kumo_overlay_fwd_close(f);
        return kumo_err_set(err, KUMO_ENOMEM, "forwarder timer");
    }
    *out = f;
    return 0;
}

void kumo_overlay_fwd_set(kumo_overlay_fwd_t *f,
                          const kumo_overlay_fwd_entry_t *entries,
                          uint32_t count)
{
    uint32_t n = count < KUMO_OVERLAY_FWD_ENTRY_MAX ? count : KUMO_OVERLAY_FWD_ENTRY_MAX;
    (void)pthread_mutex_lock(&f->mu);
    if (n != f->want_count || memcmp(f->want, entries, n * sizeof(entries[0])) != 0) {
        memcpy(f->want, entries, n * sizeof(entries[0]));
        f->want_count = n;
        f->want_gen++;
    }
    (void)pthread_mutex_unlock(&f->mu);
}

uint32_t kumo_overlay_fwd_listening(kumo_overlay_fwd_t *f)
{
    return atomic_load(&f->listening);
}

uint64_t kumo_overlay_fwd_relayed(kumo_overlay_fwd_t *f)
{
    return atomic_load(&f->relayed);
}

uint64_t kumo_overlay_fwd_refused(kumo_overlay_fwd_t *f)
{
    return atomic_load(&f->refused);
}

uint64_t kumo_overlay_fwd_capped(kumo_overlay_fwd_t *f)
{
    return atomic_load(&f->capped);
}

uint32_t kumo_overlay_fwd_active(kumo_overlay_fwd_t *f)
{
    return atomic_load(&f->active);
}

uint32_t kumo_overlay_fwd_connection_max(const kumo_overlay_fwd_t *f)
{
    return f->cfg.connection_max;
}

uint64_t kumo_overlay_nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t from = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            KUMO_LOG_WARN("overlay", "nofile_raise_failed",
                          "soft=%" PRIu64 " hard=%" PRIu64 " errno=%d", (uint64_t)from,
                          (uint64_t)rl.rlim_max, errno);
            rl.rlim_cur = from;
        }
    }
    return (uint64_t)rl.rlim_cur;
}

void kumo_overlay_fwd_close(kumo_overlay_fwd_t *f)
{
    if (f == NULL) {
        return;
    }
    for (uint32_t i = 0; i < f->ls_count; i++) {
        fwd_listener_free(f->ls[i]);
    }
    while (f->pairs != NULL) {
        fwd_pair_free(f->pairs);
    }
    KUMO_ASSERT(atomic_load(&f->active) == 0);
    if (f->timer != NULL) {
        event_free(f->timer);
    }
    (void)pthread_mutex_destroy(&f->mu);
    kumo_free(f->sources);
    kumo_free(f->tags);
    kumo_free(f);
}
