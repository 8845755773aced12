/*
 * api_shell.c - shell sessions of the provider API (docs/provider-api.md "shell"), on the
 * API's loop thread. A session starts when a worker opened the process in the container
 * (backend shell_open): the tenant's TLS connection is taken from evhttp (its bufferevent
 * gets our callbacks, evhttp never sees another byte; the connection is freed through
 * evhttp at the end) and answered 101; from then on frames (provider_api.h) go between it
 * and the runtime's stream:
 *   - STDIN is written to the runtime, RESIZE asks the runtime to resize the tty, EOF shuts
 *     the runtime stream's write side once everything before it was written;
 *   - the runtime's output becomes STDOUT (and STDERR without a tty) frames;
 *   - when the runtime closes the stream the exit code is asked for (polled shortly while
 *     the runtime still says running), sent as EXIT, and the connection closed once written.
 * Backpressure: each side stops being read while the other side has more than
 * SHELL_PENDING_BYTES_MAX waiting to be written, and is read again once that drained below
 * SHELL_PENDING_BYTES_LOW, so a slow reader never makes the provider buffer without bound.
 * Slots are reserved before the request goes to a worker, so the caps on sessions (total and
 * per owner) hold while processes are being started. A session with no byte either way for
 * the idle timeout gets an ERROR frame and is closed.
 */
#include "provider/api_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log/log.h"
#include "runtime/runtime.h"

#define SHELL_PENDING_BYTES_MAX (256u * 1024u)
#define SHELL_PENDING_BYTES_LOW (64u * 1024u)
/* The exit code once the runtime closed the stream: asked every 100 ms, at most 50 times. */
#define SHELL_EXIT_POLL_MS    100
#define SHELL_EXIT_POLL_COUNT 50u
#define SHELL_COUNT_MAX       4096u

_Static_assert(SHELL_PENDING_BYTES_LOW < SHELL_PENDING_BYTES_MAX, "watermarks in order");
_Static_assert(KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX <= SHELL_PENDING_BYTES_LOW,
               "a frame fits below the low watermark");

typedef enum shell_state {
    SHELL_FREE = 0,
    SHELL_RESERVED = 1, /* its request is at a worker */
    SHELL_LIVE = 2,
    SHELL_CLOSING = 3, /* EXIT or ERROR sent: closed once written */
} shell_state_t;

typedef struct pd_shell {
    pd_shells_t *set;
    shell_state_t state;
    uint8_t owner[KUMO_ADDRESS_BYTES];
    struct evhttp_connection *evcon;
    struct bufferevent *client; /* the tenant's TLS connection (evcon's) */
    struct bufferevent *rt;     /* the runtime's stream (ours) */
    struct event *timer;        /* exit polls and the deferred close */
    bool tty;
    bool stdin_eof; /* shut the runtime's input once its buffer drained */
    bool rt_done;   /* the runtime closed the stream */
    bool close_now; /* the timer closes the session */
    uint32_t exit_polls;
    uint64_t active_ms;
    char exec_id[KUMO_PROVIDER_SHELL_EXEC_ID_BYTES];
} pd_shell_t;

struct pd_shells {
    struct event_base *base;
    const kumo_provider_api_backend_t *be;
    uint32_t max;
    uint32_t per_owner_max;
    uint32_t idle_ms;
    pd_shell_t *slots;
    uint64_t refused;
    uint64_t idle_closed;
};

static uint64_t shell_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pd_shell_stream_free(kumo_provider_shell_stream_t *stream)
{
    if (stream->fd >= 0) {
        (void)close(stream->fd);
        stream->fd = -1;
    }
    kumo_buf_free(&stream->early);
}

/* ---- frames out ---- */

/* Data as frames of type to the client (split at the frame maximum). */
static void shell_send(pd_shell_t *s, kumo_provider_shell_type_t type, const void *data, size_t len)
{
    KUMO_ASSERT(s->client != NULL);
    const uint8_t *p = data;
    struct evbuffer *out = bufferevent_get_output(s->client);
    do {
        size_t n =
            len < KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX ? len : KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX;
        uint8_t hdr[KUMO_PROVIDER_SHELL_HEADER_BYTES];
        kumo_provider_shell_header_put(type, (uint32_t)n, hdr);
        (void)evbuffer_add(out, hdr, sizeof(hdr));
        if (n > 0) {
            (void)evbuffer_add(out, p, n);
        }
        p += n;
        len -= n;
    } while (len > 0);
}

/* The runtime stream goes away: the process sees its input end (hangup with a tty). */
static void shell_rt_drop(pd_shell_t *s)
{
    if (s->rt != NULL) {
        bufferevent_free(s->rt);
        s->rt = NULL;
    }
}

static void shell_close_soon(pd_shell_t *s)
{
    s->close_now = true;
    struct timeval now = {0, 0};
    (void)evtimer_add(s->timer, &now);
}

/* Sends a last frame and closes once it is written. */
static void shell_finish(pd_shell_t *s)
{
    s->state = SHELL_CLOSING;
    shell_rt_drop(s);
    bufferevent_disable(s->client, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(s->client)) == 0) {
        shell_close_soon(s);
    }
}

static void shell_fail(pd_shell_t *s, const char *why)
{
    size_t len = strlen(why);
    len = len < KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX ? len : KUMO_PROVIDER_SHELL_ERROR_BYTES_MAX;
    shell_send(s, KUMO_PROVIDER_SHELL_ERROR, why, len > 0 ? len : 1u);
    shell_finish(s);
}

static void shell_exit_send(pd_shell_t *s, int code)
{
    uint8_t payload[4];
    kumo_be32_put(payload, (uint32_t)(code >= 0 && code <= 255 ? code : 255));
    shell_send(s, KUMO_PROVIDER_SHELL_EXIT, payload, sizeof(payload));
    shell_finish(s);
}

/* Frees the session: the connection through evhttp (which frees the bufferevent). */
static void shell_close(pd_shell_t *s)
{
    KUMO_ASSERT(s->state == SHELL_LIVE || s->state == SHELL_CLOSING);
    shell_rt_drop(s);
    if (s->timer != NULL) {
        event_free(s->timer);
    }
    struct evhttp_connection *evcon = s->evcon;
    pd_shells_t *set = s->set;
    KUMO_LOG_DEBUG("provider", "shell_closed", "exec=%.12s", s->exec_id);
    memset(s, 0, sizeof(*s));
    s->set = set;
    if (evcon != NULL) {
        evhttp_connection_free(evcon);
    }
}

/* ---- the exit code ---- */

static void shell_exit_poll(pd_shell_t *s)
{
    bool running = false;
    int code = 255;
    kumo_err_ctx_t err = {0};
    int rc = s->set->be->shell_exit != NULL
                 ? s->set->be->shell_exit(s->set->be->ctx, s->exec_id, &running, &code, &err)
                 : KUMO_EINVAL;
    if (rc == 0 && running && ++s->exit_polls < SHELL_EXIT_POLL_COUNT) {
        struct timeval tv = {0, SHELL_EXIT_POLL_MS * 1000};
        (void)evtimer_add(s->timer, &tv);
        return;
    }
    shell_exit_send(s, rc == 0 && !running ? code : 255);
}

static void shell_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pd_shell_t *s = arg;
    if (s->close_now) {
        shell_close(s);
    } else if (s->state == SHELL_LIVE && s->rt_done) {
        shell_exit_poll(s);
    }
}

/* ---- the client's side ---- */

/* One frame from the client; false when the session ended. */
static bool shell_client_frame(pd_shell_t *s, const kumo_provider_shell_frame_t *f)
{
    kumo_err_ctx_t err = {0};
    switch (f->type) {
    case KUMO_PROVIDER_SHELL_STDIN:
        if (s->stdin_eof) {
            shell_fail(s, "input after end of input");
            return false;
        }
        if (s->rt != NULL) {
            (void)bufferevent_write(s->rt, f->payload.ptr, f->payload.len);
        }
        return true;
    case KUMO_PROVIDER_SHELL_RESIZE:
        if (s->tty && s->set->be->shell_resize != NULL &&
            s->set->be->shell_resize(s->set->be->ctx, s->exec_id, f->rows, f->cols, &err) < 0) {
            KUMO_LOG_DEBUG("provider", "shell_resize_failed", "detail=\"%s\"", err.detail);
        }
        return true;
    case KUMO_PROVIDER_SHELL_EOF:
        s->stdin_eof = true;
        if (s->rt != NULL && evbuffer_get_length(bufferevent_get_output(s->rt)) == 0) {
            (void)shutdown(bufferevent_getfd(s->rt), SHUT_WR);
        }
        return true;
    case KUMO_PROVIDER_SHELL_STDOUT:
    case KUMO_PROVIDER_SHELL_STDERR:
    case KUMO_PROVIDER_SHELL_EXIT:
    case KUMO_PROVIDER_SHELL_ERROR:
    default:
        KUMO_UNREACHABLE(); /* the parser refuses them from a client */
    }
}

static void shell_client_read_cb(struct bufferevent *bev, void *arg)
{
    pd_shell_t *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (s->state == SHELL_LIVE && evbuffer_get_length(in) > 0) {
        if (s->rt != NULL &&
            evbuffer_get_length(bufferevent_get_output(s->rt)) > SHELL_PENDING_BYTES_MAX) {
            bufferevent_disable(bev, EV_READ); /* read again once the runtime took it */
            return;
        }
        size_t want = evbuffer_get_length(in);
        size_t whole = KUMO_PROVIDER_SHELL_HEADER_BYTES + KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX;
        want = want < whole ? want : whole;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)want);
        kumo_provider_shell_frame_t f;
        size_t used = 0;
        kumo_err_ctx_t err = {0};
        if (p == NULL ||
            kumo_provider_shell_frame_parse(kumo_bytes_make(p, want), true, &f, &used, &err) < 0) {
            shell_fail(s, p == NULL ? "out of memory" : err.detail);
            return;
        }
        if (used == 0) {
            return; /* the rest of the frame is still to come */
        }
        s->active_ms = shell_now_ms();
        bool go_on = shell_client_frame(s, &f);
        (void)evbuffer_drain(in, used);
        if (!go_on) {
            return;
        }
    }
}

/* The client took output: read the runtime again; a closing session ends once all is out. */
static void shell_client_write_cb(struct bufferevent *bev, void *arg)
{
    pd_shell_t *s = arg;
    if (s->state == SHELL_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            shell_close_soon(s);
        }
        return;
    }
    if (s->rt != NULL) {
        bufferevent_enable(s->rt, EV_READ);
    }
}

static void shell_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    pd_shell_t *s = arg;
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0) {
        shell_close_soon(s); /* the tenant left: the process sees its input end */
        shell_rt_drop(s);
        bufferevent_disable(bev, EV_READ | EV_WRITE);
    }
}

/* ---- the runtime's side ---- */

/* Output of the runtime as frames; false on a malformed multiplexed stream. */
static bool shell_rt_output(pd_shell_t *s, struct evbuffer *in)
{
    while (evbuffer_get_length(in) > 0) {
        size_t avail = evbuffer_get_length(in);
        if (s->tty) {
            size_t n = avail < KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX
                           ? avail
                           : KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX;
            const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)n);
            KUMO_ASSERT(p != NULL);
            shell_send(s, KUMO_PROVIDER_SHELL_STDOUT, p, n);
            (void)evbuffer_drain(in, n);
            continue;
        }
        size_t whole = 8u + KUMO_RUNTIME_MUX_CHUNK_BYTES_MAX;
        size_t want = avail < whole ? avail : whole;
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)want);
        uint8_t stream = 0;
        kumo_bytes_t payload;
        size_t used = 0;
        if (p == NULL ||
            kumo_runtime_mux_parse(kumo_bytes_make(p, want), &stream, &payload, &used, NULL) < 0) {
            return false;
        }
        if (used == 0) {
            return true;
        }
        if (payload.len > 0) {
            shell_send(s, stream == 2 ? KUMO_PROVIDER_SHELL_STDERR : KUMO_PROVIDER_SHELL_STDOUT,
                       payload.ptr, payload.len);
        }
        (void)evbuffer_drain(in, used);
    }
    return true;
}

static void shell_rt_read_cb(struct bufferevent *bev, void *arg)
{
    pd_shell_t *s = arg;
    if (s->state != SHELL_LIVE) {
        return;
    }
    s->active_ms = shell_now_ms();
    if (!shell_rt_output(s, bufferevent_get_input(bev))) {
        shell_fail(s, "the container runtime sent a malformed stream");
        return;
    }
    if (evbuffer_get_length(bufferevent_get_output(s->client)) > SHELL_PENDING_BYTES_MAX) {
        bufferevent_disable(bev, EV_READ); /* read again once the client took it */
    }
}

/* The runtime took input: read the client again; end of input once all was written. */
static void shell_rt_write_cb(struct bufferevent *bev, void *arg)
{
    pd_shell_t *s = arg;
    if (s->state != SHELL_LIVE) {
        return;
    }
    if (s->stdin_eof && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        (void)shutdown(bufferevent_getfd(bev), SHUT_WR);
    }
    bufferevent_enable(s->client, EV_READ);
    shell_client_read_cb(s->client, s); /* frames that waited in its buffer */
}

static void shell_rt_event_cb(struct bufferevent *bev, short what, void *arg)
{
    pd_shell_t *s = arg;
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0 || s->state != SHELL_LIVE) {
        return;
    }
    (void)shell_rt_output(s, bufferevent_get_input(bev));
    s->rt_done = true;
    shell_rt_drop(s);
    shell_exit_poll(s);
}

/* ---- the table ---- */

int pd_shells_new(struct event_base *base,
                  const kumo_provider_api_backend_t *be,
                  const kumo_provider_api_cfg_t *cfg,
                  pd_shells_t **out,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(base != NULL && be != NULL && cfg != NULL);
    KUMO_ASSERT(out != NULL);
    pd_shells_t *set = kumo_calloc(1, sizeof(*set));
    KUMO_ENSURE(set != NULL, err, KUMO_ENOMEM, "shell sessions");
    set->base = base;
    set->be = be;
    set->max =
        cfg->shell_session_max > 0 ? cfg->shell_session_max : KUMO_PROVIDER_SHELL_SESSION_DEFAULT;
    set->max = set->max < SHELL_COUNT_MAX ? set->max : SHELL_COUNT_MAX;
    set->per_owner_max = cfg->shell_session_per_owner_max > 0
                             ? cfg->shell_session_per_owner_max
                             : KUMO_PROVIDER_SHELL_SESSION_PER_OWNER_DEFAULT;
    set->idle_ms =
        cfg->shell_idle_ms > 0 ? cfg->shell_idle_ms : KUMO_PROVIDER_SHELL_IDLE_MS_DEFAULT;
    set->slots = kumo_calloc(set->max, sizeof(*set->slots));
    if (set->slots == NULL) {
        kumo_free(set);
        return kumo_err_set(err, KUMO_ENOMEM, "shell sessions");
    }
    for (uint32_t i = 0; i < set->max; i++) {
        set->slots[i].set = set;
    }
    *out = set;
    return 0;
}

void pd_shells_free(pd_shells_t *set)
{
    if (set == NULL) {
        return;
    }
    for (uint32_t i = 0; i < set->max; i++) {
        pd_shell_t *s = &set->slots[i];
        if (s->state == SHELL_LIVE || s->state == SHELL_CLOSING) {
            shell_rt_drop(s);
            if (s->timer != NULL) {
                event_free(s->timer);
            }
            bufferevent_setcb(s->client, NULL, NULL, NULL, NULL);
        }
    }
    kumo_free(set->slots);
    kumo_free(set);
}

int pd_shells_reserve(pd_shells_t *set, const uint8_t owner[KUMO_ADDRESS_BYTES])
{
    uint32_t mine = 0;
    int free_slot = -1;
    for (uint32_t i = 0; i < set->max; i++) {
        const pd_shell_t *s = &set->slots[i];
        if (s->state == SHELL_FREE) {
            free_slot = free_slot < 0 ? (int)i : free_slot;
        } else if (memcmp(s->owner, owner, KUMO_ADDRESS_BYTES) == 0) {
            mine++;
        }
    }
    if (free_slot < 0 || mine >= set->per_owner_max) {
        set->refused++;
        return KUMO_ELIMIT;
    }
    pd_shell_t *s = &set->slots[free_slot];
    s->state = SHELL_RESERVED;
    memcpy(s->owner, owner, KUMO_ADDRESS_BYTES);
    return free_slot;
}

void pd_shells_release(pd_shells_t *set, int slot)
{
    KUMO_ASSERT(slot >= 0 && (uint32_t)slot < set->max);
    pd_shell_t *s = &set->slots[slot];
    KUMO_ASSERT(s->state == SHELL_RESERVED);
    memset(s, 0, sizeof(*s));
    s->set = set;
}

static const char shell_101[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                "Upgrade: " KUMO_PROVIDER_SHELL_PROTOCOL "\r\n\r\n";

void pd_shells_start(pd_shells_t *set,
                     int slot,
                     struct evhttp_connection *evcon,
                     kumo_provider_shell_stream_t *stream)
{
    KUMO_ASSERT(slot >= 0 && (uint32_t)slot < set->max);
    KUMO_ASSERT(stream->fd >= 0);
    pd_shell_t *s = &set->slots[slot];
    KUMO_ASSERT(s->state == SHELL_RESERVED);
    s->timer = evtimer_new(set->base, shell_timer_cb, s);
    (void)evutil_make_socket_nonblocking(stream->fd);
    s->rt = s->timer != NULL ? bufferevent_socket_new(set->base, stream->fd, BEV_OPT_CLOSE_ON_FREE)
                             : NULL;
    if (s->rt == NULL) {
        if (s->timer != NULL) {
            event_free(s->timer);
        }
        pd_shell_stream_free(stream);
        pd_shells_release(set, slot);
        evhttp_connection_free(evcon);
        return;
    }
    s->evcon = evcon;
    s->client = evhttp_connection_get_bufferevent(evcon);
    s->state = SHELL_LIVE;
    stream->fd = -1; /* the bufferevent's now */
    s->tty = stream->tty;
    s->active_ms = shell_now_ms();
    (void)snprintf(s->exec_id, sizeof(s->exec_id), "%s", stream->exec_id);
    bufferevent_set_timeouts(s->client, NULL, NULL); /* evhttp's; the idle timeout is ours */
    bufferevent_setcb(s->client, shell_client_read_cb, shell_client_write_cb, shell_client_event_cb,
                      s);
    bufferevent_setwatermark(s->client, EV_WRITE, SHELL_PENDING_BYTES_LOW, 0);
    bufferevent_setcb(s->rt, shell_rt_read_cb, shell_rt_write_cb, shell_rt_event_cb, s);
    bufferevent_setwatermark(s->rt, EV_WRITE, SHELL_PENDING_BYTES_LOW, 0);
    (void)evbuffer_add(bufferevent_get_output(s->client), shell_101, sizeof(shell_101) - 1u);
    if (stream->early.len > 0) {
        (void)evbuffer_add(bufferevent_get_input(s->rt), stream->early.ptr, stream->early.len);
    }
    kumo_buf_free(&stream->early);
    (void)bufferevent_enable(s->client, EV_READ | EV_WRITE);
    (void)bufferevent_enable(s->rt, EV_READ | EV_WRITE);
    KUMO_LOG_INFO("provider", "shell_opened", "exec=%.12s tty=%d", s->exec_id, s->tty ? 1 : 0);
    shell_rt_read_cb(s->rt, s);         /* output that came with the answer */
    shell_client_read_cb(s->client, s); /* frames sent right after the request */
}

void pd_shells_tick(pd_shells_t *set, uint64_t now_ms)
{
    if (set == NULL) {
        return; /* the API is being opened or closed */
    }
    for (uint32_t i = 0; i < set->max; i++) {
        pd_shell_t *s = &set->slots[i];
        if (s->state == SHELL_LIVE && now_ms > s->active_ms + set->idle_ms) {
            set->idle_closed++;
            char why[96];
            (void)snprintf(why, sizeof(why), "no input or output for %u s: session closed",
                           set->idle_ms / 1000u);
            shell_fail(s, why);
        }
    }
}

void pd_shells_stats(const pd_shells_t *set, uint32_t *open, uint64_t *refused, uint64_t *idle)
{
    uint32_t n = 0;
    *open = 0;
    *refused = 0;
    *idle = 0;
    if (set == NULL) {
        return;
    }
    for (uint32_t i = 0; i < set->max; i++) {
        n += set->slots[i].state == SHELL_LIVE || set->slots[i].state == SHELL_CLOSING ? 1u : 0u;
    }
    *open = n;
    *refused = set->refused;
    *idle = set->idle_closed;
}
