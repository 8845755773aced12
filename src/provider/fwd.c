/*
 * fwd.c - the provider's TCP forwarder (fwd.h): evconnlistener per entry, a pair of
 * bufferevents per relayed connection with backpressure (reading from one side pauses while
 * the other side has PD_FWD_BUFFER_BYTES queued), half-closed connections flushed before they
 * are freed.
 */
#include "provider/fwd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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
};

/* ---- one relayed connection: two bufferevents that know each other ---- */

static void fwd_read_cb(struct bufferevent *bev, void *ctx);
static void fwd_event_cb(struct bufferevent *bev, short what, void *ctx);

/* The other side drained enough: read from this one again. */
static void fwd_drained_cb(struct bufferevent *dst, void *ctx)
{
    struct bufferevent *src = ctx;
    bufferevent_setcb(dst, fwd_read_cb, NULL, fwd_event_cb, src);
    bufferevent_setwatermark(dst, EV_WRITE, 0, 0);
    (void)bufferevent_enable(src, EV_READ);
}

static void fwd_read_cb(struct bufferevent *src, void *ctx)
{
    struct bufferevent *dst = ctx;
    if (dst == NULL) {
        return;
    }
    (void)evbuffer_add_buffer(bufferevent_get_output(dst), bufferevent_get_input(src));
    if (evbuffer_get_length(bufferevent_get_output(dst)) >= PD_FWD_BUFFER_BYTES) {
        bufferevent_setwatermark(dst, EV_WRITE, PD_FWD_BUFFER_BYTES / 2u, PD_FWD_BUFFER_BYTES);
        bufferevent_setcb(dst, fwd_read_cb, fwd_drained_cb, fwd_event_cb, src);
        (void)bufferevent_disable(src, EV_READ);
    }
}

static void fwd_close_when_flushed(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    bufferevent_free(bev);
}

static void fwd_event_cb(struct bufferevent *bev, short what, void *ctx)
{
    struct bufferevent *other = ctx;
    if ((what & BEV_EVENT_CONNECTED) != 0) {
        return;
    }
    if (other != NULL) {
        fwd_read_cb(bev, other); /* what was still read */
        bufferevent_setcb(other, NULL, NULL, fwd_event_cb, NULL);
        (void)bufferevent_disable(other, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(other)) > 0) {
            bufferevent_setcb(other, NULL, fwd_close_when_flushed, fwd_event_cb, NULL);
            bufferevent_setwatermark(other, EV_WRITE, 0, 0);
        } else {
            bufferevent_free(other);
        }
    }
    bufferevent_free(bev);
}

static void fwd_accept_cb(
    struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *ctx)
{
    (void)l;
    (void)sa;
    (void)salen;
    fwd_listener_t *fl = ctx;
    struct event_base *base = fl->f->base;
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
    struct bufferevent *in = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *out = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (in == NULL || out == NULL ||
        evutil_parse_sockaddr_port(where, (struct sockaddr *)&ss, &sslen) != 0 ||
        bufferevent_socket_connect(out, (struct sockaddr *)&ss, sslen) != 0) {
        if (in != NULL) {
            bufferevent_free(in);
        } else {
            evutil_closesocket(fd);
        }
        if (out != NULL) {
            bufferevent_free(out);
        }
        return;
    }
    bufferevent_setcb(in, fwd_read_cb, NULL, fwd_event_cb, out);
    bufferevent_setcb(out, fwd_read_cb, NULL, fwd_event_cb, in);
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
