/*
 * fwd.c - the provider's TCP forwarder (fwd.h): evconnlistener per entry, a pair of
 * bufferevents per relayed connection with backpressure (reading from one side pauses while
 * the other side has PD_FWD_BUFFER_BYTES queued, until it drained) and half-closes passed on
 * (an EOF from one side becomes a write shutdown of the other once its data is out; the pair
 * is freed when both directions are done, at once on an error).
 */
#include "provider/fwd.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log/log.h"

typedef struct fwd_listener {
    pd_fwd_t *f;
    pd_fwd_entry_t entry;
    struct evconnlistener *l; /* NULL until the address could be bound */
    uint32_t next;            /* round robin over the targets */
} fwd_listener_t;

struct pd_fwd {
    struct event_base *base;
    struct event *timer;
    pthread_mutex_t mu; /* guards want, want_count, want_gen */
    pd_fwd_entry_t want[PD_FWD_ENTRY_MAX];
    uint32_t want_count;
    uint64_t want_gen;
    uint64_t have_gen; /* loop thread only from here down */
    fwd_listener_t *ls[PD_FWD_ENTRY_MAX];
    uint32_t ls_count;
    pd_fwd_entry_t copy[PD_FWD_ENTRY_MAX];
    atomic_uint listening;
    atomic_ullong relayed;
    atomic_ullong refused;
};

/* ---- one relayed connection: two bufferevents and their half-closes ---- */

typedef struct fwd_pair {
    struct bufferevent *side[2]; /* 0: the accepted client, 1: the target */
    bool eof[2];                 /* the side sent EOF (its direction is done) */
    bool shut[2];                /* we shut the side's write half */
} fwd_pair_t;

static int fwd_index(const fwd_pair_t *p, const struct bufferevent *bev)
{
    return p->side[0] == bev ? 0 : 1;
}

static size_t fwd_out_len(const fwd_pair_t *p, int i)
{
    return evbuffer_get_length(bufferevent_get_output(p->side[i]));
}

static void fwd_pair_free(fwd_pair_t *p)
{
    bufferevent_free(p->side[0]);
    bufferevent_free(p->side[1]);
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
    (void)evbuffer_add_buffer(bufferevent_get_output(p->side[o]), bufferevent_get_input(bev));
    if (fwd_out_len(p, o) >= PD_FWD_BUFFER_BYTES) {
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

/* Whether the peer address sa is one of the entry's sources. */
static bool fwd_source_allowed(const pd_fwd_entry_t *e, const struct sockaddr *sa)
{
    char ip[PD_FWD_HOST_BYTES] = "";
    const void *addr =
        sa->sa_family == AF_INET6
            ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
            : (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (evutil_inet_ntop(sa->sa_family, addr, ip, sizeof(ip)) == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < e->source_count && i < PD_FWD_SOURCE_MAX; i++) {
        if (strcmp(e->sources[i], ip) == 0) {
            return true;
        }
    }
    return false;
}

static void fwd_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *ctx)
{
    (void)l;
    (void)sa;
    (void)salen;
    fwd_listener_t *fl = ctx;
    struct event_base *base = fl->f->base;
    if (!fwd_source_allowed(&fl->entry, sa)) {
        atomic_fetch_add(&fl->f->refused, 1u); /* before the close the client sees */
        evutil_closesocket(fd);
        return;
    }
    if (fl->entry.target_count == 0) {
        evutil_closesocket(fd); /* the target's endpoint is not known yet */
        return;
    }
    const pd_fwd_target_t *t = &fl->entry.targets[fl->next++ % fl->entry.target_count];
    char where[PD_FWD_HOST_BYTES + 16];
    (void)snprintf(where, sizeof(where), strchr(t->host, ':') != NULL ? "[%s]:%u" : "%s:%u",
                   t->host, t->port);
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    fwd_pair_t *p = kumo_calloc(1, sizeof(*p));
    struct bufferevent *in =
        p != NULL ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    struct bufferevent *out =
        in != NULL ? bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
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
        return;
    }
    p->side[0] = in;
    p->side[1] = out;
    bufferevent_setcb(in, fwd_read_cb, fwd_write_cb, fwd_event_cb, p);
    bufferevent_setcb(out, fwd_read_cb, fwd_write_cb, fwd_event_cb, p);
    (void)bufferevent_enable(in, EV_READ | EV_WRITE);
    (void)bufferevent_enable(out, EV_READ | EV_WRITE);
    atomic_fetch_add(&fl->f->relayed, 1u);
}

/* ---- the table ---- */

static void fwd_listener_bind(fwd_listener_t *fl)
{
    char where[PD_FWD_HOST_BYTES + 16];
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
        atomic_fetch_add(&fl->f->listening, 1u);
        KUMO_LOG_INFO("provider", "forward_listening", "at=%s targets=%u", where,
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

static const pd_fwd_entry_t *fwd_find(const pd_fwd_entry_t *es, uint32_t n, const pd_fwd_entry_t *e)
{
    for (uint32_t i = 0; i < n; i++) {
        if (es[i].port == e->port && strcmp(es[i].ip, e->ip) == 0) {
            return &es[i];
        }
    }
    return NULL;
}

static void fwd_apply(pd_fwd_t *f, uint32_t n)
{
    for (uint32_t i = 0; i < f->ls_count;) { /* drop or update */
        const pd_fwd_entry_t *w = fwd_find(f->copy, n, &f->ls[i]->entry);
        if (w == NULL) {
            fwd_listener_free(f->ls[i]);
            f->ls[i] = f->ls[--f->ls_count];
            continue;
        }
        f->ls[i]->entry = *w;
        i++;
    }
    for (uint32_t i = 0; i < n && f->ls_count < PD_FWD_ENTRY_MAX; i++) { /* add */
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
    pd_fwd_t *f = ctx;
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
    for (uint32_t i = 0; i < f->ls_count; i++) {
        if (f->ls[i]->l == NULL) {
            fwd_listener_bind(f->ls[i]);
        }
    }
}

int pd_fwd_open(struct event_base *base, pd_fwd_t **out, kumo_err_ctx_t *err)
{
    pd_fwd_t *f = kumo_calloc(1, sizeof(*f));
    KUMO_ENSURE(f != NULL, err, KUMO_ENOMEM, "forwarder");
    f->base = base;
    (void)pthread_mutex_init(&f->mu, NULL);
    f->timer = event_new(base, -1, EV_PERSIST, fwd_sync_cb, f);
    struct timeval tv = {0, (long)PD_FWD_SYNC_MS * 1000L};
    if (f->timer == NULL || event_add(f->timer, &tv) != 0) {
        pd_fwd_close(f);
        return kumo_err_set(err, KUMO_ENOMEM, "forwarder timer");
    }
    *out = f;
    return 0;
}

void pd_fwd_set(pd_fwd_t *f, const pd_fwd_entry_t *entries, uint32_t count)
{
    uint32_t n = count < PD_FWD_ENTRY_MAX ? count : PD_FWD_ENTRY_MAX;
    (void)pthread_mutex_lock(&f->mu);
    if (n != f->want_count || memcmp(f->want, entries, n * sizeof(entries[0])) != 0) {
        memcpy(f->want, entries, n * sizeof(entries[0]));
        f->want_count = n;
        f->want_gen++;
    }
    (void)pthread_mutex_unlock(&f->mu);
}

uint32_t pd_fwd_listening(pd_fwd_t *f)
{
    return atomic_load(&f->listening);
}

uint64_t pd_fwd_relayed(pd_fwd_t *f)
{
    return atomic_load(&f->relayed);
}

uint64_t pd_fwd_refused(pd_fwd_t *f)
{
    return atomic_load(&f->refused);
}

void pd_fwd_close(pd_fwd_t *f)
{
    if (f == NULL) {
        return;
    }
    for (uint32_t i = 0; i < f->ls_count; i++) {
        fwd_listener_free(f->ls[i]);
    }
    if (f->timer != NULL) {
        event_free(f->timer);
    }
    (void)pthread_mutex_destroy(&f->mu);
    kumo_free(f);
}
