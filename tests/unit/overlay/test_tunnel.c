/*
 * test_tunnel.c - the tunnels between datacenters (src/overlay/tunnel*.c) on loopback with
 * real sockets and real TLS: a tunnel server (the destination provider) with an echo server
 * as the target, a tunnel client (the source provider) with local listeners, each side with
 * a certificate issued by its provider's root for this tunnel. The event loop runs on its own
 * thread; the test calls into the tunnel objects only on the loop (on_loop) and talks to the
 * local listener with blocking sockets. Shown: bytes go both ways with half-close (also
 * 8 MiB, past the flow-control window), many streams share one tunnel, a stream that never
 * reads its replies does not hold up another on the same tunnel, a root signing a
 * certificate naming another provider's lease is refused, a certificate from a root nobody
 * pinned is refused, an expired certificate is refused (and a tunnel up closes when the
 * peer's certificate expires), wrong deployment, workload or lease
 * names are refused (table), an authenticated peer sending frames that break the protocol
 * loses its tunnel (table), revocation closes the streams, a stream to a port the callback
 * does not allow is reset, and a flood of connections that never handshake is bounded while
 * a real tunnel still comes up. The identity URIs and the frame codec are table-tested.
 * Every wait is on a condition with a 60 s deadline; nothing asserts on elapsed time.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "overlay/overlay.h"
#include "overlay/tunnel_wire.h"
#include "tls/tls.h"

#include <openssl/ssl.h>

#define T_PORT     5432u
#define T_PORT_BAD 9999u
#define T_WAIT_MS  60000u
/* Past the flow-control window: four of them. */
#define T_BIG       (4u * KUMO_OVERLAY_TUNNEL_WINDOW_BYTES)
#define T_STREAMS   40u
#define T_FLOOD_SRC 4u
#define T_FLOOD_PER 10u

typedef struct root {
    kumo_crypto_keypair_t kp;
    kumo_buf_t pem;
} root_t;

static struct event_base *base;
static pthread_t loop_thread;
static root_t root_a; /* prova: the destination (server) provider */
static root_t root_b; /* provb: the source (client) provider */
static root_t root_c; /* provc: nobody pins it */
static int echo_fd = -1;
static uint16_t echo_port;
static pthread_t echo_thread;
static volatile bool accept_allowed = true;

/* ---- the loop thread ---- */

static void *loop_run(void *arg)
{
    (void)arg;
    (void)event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

typedef struct call {
    void (*fn)(void *);
    void *arg;
    sem_t done;
} call_t;

static void call_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_t *c = arg;
    c->fn(c->arg);
    (void)sem_post(&c->done);
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void on_loop(void (*fn)(void *), void *arg)
{
    call_t c = {.fn = fn, .arg = arg};
    assert_int_equal(sem_init(&c.done, 0, 0), 0);
    struct timeval tv = {0, 0};
    assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, call_cb, &c, &tv), 0);
    while (sem_wait(&c.done) != 0) {
    }
    (void)sem_destroy(&c.done);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    (void)nanosleep(&ts, NULL);
}

/* ---- the echo target: every connection gets back what it sent, then EOF ---- */

static void *echo_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    static _Thread_local char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w <= 0) {
                (void)close(c);
                return NULL;
            }
            off += w;
        }
    }
    (void)close(c);
    return NULL;
}

static void *echo_run(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(echo_fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }
        pthread_t th;
        if (pthread_create(&th, NULL, echo_conn, (void *)(intptr_t)c) == 0) {
            (void)pthread_detach(th);
        } else {
            (void)close(c);
        }
    }
}

/* A listening TCP socket on ip, port chosen by the kernel. */
static int listen_on(const char *ip, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 256), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A blocking connection to 127.0.0.1:port from source ip (NULL: any), 60 s timeouts. */
static int connect_to(uint16_t port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (source != NULL) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, source, &src.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    struct timeval tv = {T_WAIT_MS / 1000u, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* ---- identities and certificates ---- */

static void root_make(root_t *r, const char *cn)
{
    assert_int_equal(kumo_crypto_key_generate(&r->kp), 0);
    kumo_buf_init(&r->pem, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&r->kp, cn, 365, &r->pem, NULL), 0);
}

static kumo_overlay_tunnel_id_t id_make(const char *provider, uint32_t gseq)
{
    kumo_overlay_tunnel_id_t id = {.dseq = 7, .gseq = gseq, .oseq = 1};
    (void)snprintf(id.owner, sizeof(id.owner), "kumo1owner");
    (void)snprintf(id.src, sizeof(id.src), "web");
    (void)snprintf(id.dst, sizeof(id.dst), "db");
    (void)snprintf(id.provider, sizeof(id.provider), "%s", provider);
    return id;
}

typedef struct side {
    kumo_overlay_tunnel_id_t id; /* what its certificate names */
    const root_t *issuer;
    int64_t start_offset_s;
    kumo_crypto_keypair_t kp;
    kumo_buf_t cert;
} side_t;

static void side_issue(side_t *s)
{
    assert_int_equal(kumo_crypto_key_generate(&s->kp), 0);
    kumo_buf_init(&s->cert, KUMO_TLS_PEM_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    int rc = kumo_overlay_tunnel_cert_issue(&s->issuer->kp, kumo_buf_bytes(&s->issuer->pem),
                                            s->kp.pubkey, &s->id, s->start_offset_s, 3600, &s->cert,
                                            &err);
    if (rc != 0) {
        fail_msg("issue: %s", err.detail);
    }
}

/* One tunnel: the server side (dst, at prova) and the client side (src, at provb). */
typedef struct env {
    side_t server;
    side_t client;
    kumo_overlay_tunnel_id_t client_expects; /* the server's names, as the client expects */
    kumo_overlay_tunnel_id_t server_expects; /* the client's names, as the server expects */
    const root_t *client_pins;               /* the root the client pins for prova */
    const root_t *server_pins;               /* the root the server pins for provb */
    kumo_overlay_tunnel_server_cfg_t server_cfg;
    kumo_overlay_tunnel_server_t *srv;
    kumo_overlay_tunnel_client_t *cli;
    uint16_t local_port;     /* client listener for T_PORT */
    uint16_t local_port_bad; /* client listener for T_PORT_BAD */
    int rc;
    kumo_err_ctx_t err;
} env_t;

static bool accept_cb(void *ctx,
                      const kumo_overlay_tunnel_id_t *peer,
                      kumo_overlay_tunnel_targets_t *targets_out)
{
    (void)ctx;
    (void)peer;
    kumo_overlay_tunnel_target_t *t = &targets_out->items[targets_out->count++];
    t->port = T_PORT;
    (void)snprintf(t->host, sizeof(t->host), "127.0.0.1");
    t->target_port = echo_port;
    return accept_allowed;
}

static void env_init(env_t *e)
{
    memset(e, 0, sizeof(*e));
    e->server.id = id_make("prova", 1);
    e->server.issuer = &root_a;
    e->server.start_offset_s = -60;
    e->client.id = id_make("provb", 0);
    e->client.issuer = &root_b;
    e->client.start_offset_s = -60;
    e->client_expects = e->server.id;
    e->server_expects = e->client.id;
    e->client_pins = &root_a;
    e->server_pins = &root_b;
    e->server_cfg.listen = "127.0.0.1";
    e->server_cfg.accept_cb = accept_cb;
    accept_allowed = true;
}

static void env_open_server(void *arg)
{
    env_t *e = arg;
    e->rc = kumo_overlay_tunnel_server_open(base, &e->server_cfg, &e->srv, &e->err);
    if (e->rc != 0) {
        return;
    }
    kumo_overlay_tunnel_allow_t allow = {.peer = e->server_expects,
                                         .peer_root_pem = kumo_buf_bytes(&e->server_pins->pem),
                                         .cert_pem = kumo_buf_bytes(&e->server.cert),
                                         .key = &e->server.kp};
    e->rc = kumo_overlay_tunnel_server_allow_set(e->srv, &allow, 1, &e->err);
}

static void env_open_client(void *arg)
{
    env_t *e = arg;
    char addr[64];
    (void)snprintf(addr, sizeof(addr), "127.0.0.1:%u", kumo_overlay_tunnel_server_port(e->srv));
    kumo_overlay_tunnel_client_cfg_t c = {.peer_address = addr,
                                          .peer = e->client_expects,
                                          .peer_root_pem = kumo_buf_bytes(&e->client_pins->pem),
                                          .cert_pem = kumo_buf_bytes(&e->client.cert),
                                          .key = &e->client.kp,
                                          .listener_count = 2};
    c.listeners[0].fd = listen_on("127.0.0.1", &e->local_port);
    c.listeners[0].port = T_PORT;
    c.listeners[1].fd = listen_on("127.0.0.1", &e->local_port_bad);
    c.listeners[1].port = T_PORT_BAD;
    e->rc = kumo_overlay_tunnel_client_open(base, &c, &e->cli, &e->err);
}

static void env_start_server(env_t *e)
{
    side_issue(&e->server);
    side_issue(&e->client);
    on_loop(env_open_server, e);
    if (e->rc != 0) {
        fail_msg("server: %s", e->err.detail);
    }
}

static void env_start_client(env_t *e)
{
    on_loop(env_open_client, e);
    if (e->rc != 0) {
        fail_msg("client: %s", e->err.detail);
    }
}

static void env_start(env_t *e)
{
    env_start_server(e);
    env_start_client(e);
}

static void env_close_cb(void *arg)
{
    env_t *e = arg;
    kumo_overlay_tunnel_client_close(e->cli);
    kumo_overlay_tunnel_server_close(e->srv);
}

static void env_stop(env_t *e)
{
    on_loop(env_close_cb, e);
    kumo_buf_free(&e->server.cert);
    kumo_buf_free(&e->client.cert);
}

typedef struct snap {
    env_t *e;
    bool up;
    kumo_overlay_tunnel_stats_t srv;
    kumo_overlay_tunnel_stats_t cli;
} snap_t;

static void snap_cb(void *arg)
{
    snap_t *s = arg;
    kumo_overlay_tunnel_server_stats(s->e->srv, &s->srv);
    if (s->e->cli != NULL) { /* a raw peer instead of a client */
        s->up = kumo_overlay_tunnel_client_is_up(s->e->cli);
        kumo_overlay_tunnel_client_stats(s->e->cli, &s->cli);
    }
}

static snap_t snap(env_t *e)
{
    snap_t s = {.e = e};
    on_loop(snap_cb, &s);
    return s;
}

/* Waits (60 s at most) until pred holds for a snapshot; returns the last snapshot. */
static snap_t wait_for(env_t *e, bool (*pred)(const snap_t *), const char *what)
{
    for (unsigned waited = 0;; waited += 10u) {
        snap_t s = snap(e);
        if (pred(&s)) {
            return s;
        }
        if (waited >= T_WAIT_MS) {
            fail_msg("timed out waiting for %s (server refused %llu, client refused %llu)", what,
                     (unsigned long long)s.srv.refused, (unsigned long long)s.cli.refused);
        }
        sleep_ms(10);
    }
}

static bool is_up(const snap_t *s)
{
    return s->up && s->srv.tunnels == 1;
}

static bool is_refused(const snap_t *s)
{
    return s->srv.refused + s->cli.refused >= 2;
}

/* ---- moving bytes ---- */

typedef struct writer {
    int fd;
    size_t len;
    uint8_t seed;
} writer_t;

static uint8_t pattern(size_t i, uint8_t seed)
{
    return (uint8_t)((i * 131u + seed) & 0xffu);
}

static void *writer_run(void *arg)
{
    writer_t *w = arg;
    uint8_t buf[8192];
    for (size_t off = 0; off < w->len;) {
        size_t n = w->len - off < sizeof(buf) ? w->len - off : sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            buf[i] = pattern(off + i, w->seed);
        }
        ssize_t k = write(w->fd, buf, n);
        if (k <= 0) {
            return NULL;
        }
        off += (size_t)k;
    }
    (void)shutdown(w->fd, SHUT_WR);
    return NULL;
}

/* Reads until EOF; returns how many bytes matched the pattern in order (stops at the first
 * mismatch). */
static size_t read_check(int fd, uint8_t seed)
{
    uint8_t buf[8192];
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != pattern(got, seed)) {
                return got;
            }
            got++;
        }
    }
    return got;
}

/* Sends len bytes through the tunnel, half-closes, and checks the echo up to EOF. */
static void xfer(env_t *e, size_t len, uint8_t seed)
{
    int fd = connect_to(e->local_port, NULL);
    writer_t w = {.fd = fd, .len = len, .seed = seed};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_run, &w), 0);
    size_t got = read_check(fd, seed);
    assert_int_equal(pthread_join(th, NULL), 0);
    (void)close(fd);
    assert_int_equal(got, len);
}

/* ---- tests ---- */

static void test_tunnel_streams_both_ways_with_half_close(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    xfer(&e, 5, 1);
    xfer(&e, 100000, 2);
    xfer(&e, T_BIG, 3); /* four windows: flow control must keep it moving */
    snap_t s = snap(&e);
    assert_int_equal(s.srv.tunnels_opened, 1);
    assert_int_equal(s.srv.refused, 0);
    assert_int_equal(s.srv.handshakes, 0); /* a tunnel up holds no handshake slot */
    assert_int_equal(s.cli.handshakes, 0);
    assert_true(s.srv.streams_opened >= 3);
    env_stop(&e);
}

static void test_tunnel_many_streams_share_one_tunnel(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    int fds[T_STREAMS];
    for (unsigned i = 0; i < T_STREAMS; i++) {
        fds[i] = connect_to(e.local_port, NULL);
        writer_t w = {.fd = fds[i], .len = 20000, .seed = (uint8_t)i};
        (void)writer_run(&w); /* fits the socket buffers: written before anything is read */
    }
    for (unsigned i = 0; i < T_STREAMS; i++) {
        assert_int_equal(read_check(fds[i], (uint8_t)i), 20000);
        (void)close(fds[i]);
    }
    snap_t s = snap(&e);
    assert_int_equal(s.srv.tunnels_opened, 1);
    assert_true(s.srv.streams_opened >= T_STREAMS);
    env_stop(&e);
}

static void rename_impersonate(env_t *e)
{
    /* provb's lease, signed by prova's root: prova impersonating provb. */
    e->client.issuer = &root_a;
}
static void rename_unpinned_server(env_t *e)
{
    e->server.issuer = &root_c; /* the client pins root_a for prova */
}
static void rename_unpinned_client(env_t *e)
{
    e->client.issuer = &root_c;
}
static void rename_expired_client(env_t *e)
{
    e->client.start_offset_s = -7200; /* valid for an hour, two hours ago */
}
static void rename_expired_server(env_t *e)
{
    e->server.start_offset_s = -7200;
}
static void rename_deployment(env_t *e)
{
    e->client.id.dseq = 8;
}
static void rename_owner(env_t *e)
{
    (void)snprintf(e->client.id.owner, sizeof(e->client.id.owner), "kumo1other");
}
static void rename_src(env_t *e)
{
    (void)snprintf(e->client.id.src, sizeof(e->client.id.src), "api");
}
static void rename_dst(env_t *e)
{
    (void)snprintf(e->client.id.dst, sizeof(e->client.id.dst), "cache");
}
static void rename_lease(env_t *e)
{
    e->client.id.oseq = 2;
}
static void rename_provider(env_t *e)
{
    (void)snprintf(e->client.id.provider, sizeof(e->client.id.provider), "prova");
}
static void rename_server_lease(env_t *e)
{
    e->client_expects.gseq = 2; /* the client expects another group's lease at prova */
}
static void rename_callback_refuses(env_t *e)
{
    (void)e;
    accept_allowed = false;
}

static void test_tunnel_refuses_wrong_certificates(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(env_t *e);
    } cases[] = {
        {"root A signs provider B's lease", rename_impersonate},
        {"server certificate from an unpinned root", rename_unpinned_server},
        {"client certificate from an unpinned root", rename_unpinned_client},
        {"client certificate expired", rename_expired_client},
        {"server certificate expired", rename_expired_server},
        {"other deployment (dseq)", rename_deployment},
        {"other deployment (owner)", rename_owner},
        {"other source workload", rename_src},
        {"other destination workload", rename_dst},
        {"other lease (oseq)", rename_lease},
        {"client names the server's provider", rename_provider},
        {"server names another lease", rename_server_lease},
        {"accept callback refuses", rename_callback_refuses},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_t e;
        env_init(&e);
        cases[i].mutate(&e);
        env_start(&e);
        snap_t s = wait_for(&e, is_refused, cases[i].name);
        /* The side that checks what is wrong refuses: never are both sides up. */
        if (s.srv.tunnels_opened != 0 && s.cli.tunnels_opened != 0) {
            fail_msg("%s: the tunnel came up", cases[i].name);
        }
        /* A refused tunnel never carries a stream to the target. */
        assert_int_equal(s.srv.streams_opened, 0);
        env_stop(&e);
    }
}

typedef struct revoke_arg {
    env_t *e;
    uint32_t closed;
    int rc;
} revoke_arg_t;

static void revoke_cb(void *arg)
{
    revoke_arg_t *r = arg;
    r->closed = kumo_overlay_tunnel_server_revoke(r->e->srv, &r->e->server_expects);
}

static void allow_none_cb(void *arg)
{
    revoke_arg_t *r = arg;
    r->rc = kumo_overlay_tunnel_server_allow_set(r->e->srv, NULL, 0, NULL);
}

/* A stream that echoed once; then it must end (EOF or reset) without either end closing. */
static int stream_live(env_t *e)
{
    int fd = connect_to(e->local_port, NULL);
    assert_int_equal(write(fd, "ping", 4), 4);
    char buf[4];
    assert_int_equal(read(fd, buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    return fd;
}

static void assert_stream_ended(int fd)
{
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf));
    assert_true(n <= 0);
    (void)close(fd);
}

static bool is_revoked_twice(const snap_t *s)
{
    return s->srv.revoked == 2 && s->srv.tunnels == 0;
}

static bool is_refused_after_revoke(const snap_t *s)
{
    return s->srv.refused >= 1 && s->srv.tunnels == 0;
}

static void test_tunnel_revocation_closes_streams(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    int fd = stream_live(&e);
    revoke_arg_t r = {.e = &e};
    on_loop(revoke_cb, &r);
    assert_int_equal(r.closed, 1);
    assert_stream_ended(fd);
    /* The entry is still allowed: the client dials again and comes back. */
    (void)wait_for(&e, is_up, "the tunnel again");
    fd = stream_live(&e);
    /* Replacing the allowed set with none closes it for good. */
    on_loop(allow_none_cb, &r);
    assert_int_equal(r.rc, 0);
    assert_stream_ended(fd);
    (void)wait_for(&e, is_revoked_twice, "the revocations");
    assert_int_equal(snap(&e).srv.tunnels_opened, 2);
    (void)wait_for(&e, is_refused_after_revoke, "a refused redial");
    env_stop(&e);
}

static void test_tunnel_stream_to_a_port_not_allowed_is_reset(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    int fd = connect_to(e.local_port_bad, NULL);
    assert_int_equal(write(fd, "x", 1), 1);
    assert_stream_ended(fd);
    snap_t s = snap(&e);
    assert_true(s.srv.streams_reset >= 1);
    xfer(&e, 1000, 9); /* the tunnel itself is still fine */
    env_stop(&e);
}

static void test_tunnel_streams_past_the_limit_are_reset(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    e.server_cfg.stream_max = 2;
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    int a = stream_live(&e);
    int b = stream_live(&e);
    int c = connect_to(e.local_port, NULL);
    assert_int_equal(write(c, "x", 1), 1);
    assert_stream_ended(c);
    (void)close(a);
    (void)close(b);
    snap_t s = snap(&e);
    assert_true(s.srv.streams_reset >= 1);
    env_stop(&e);
}

static bool is_flood_capped(const snap_t *s)
{
    return s->srv.capped >= T_FLOOD_SRC * T_FLOOD_PER - 8u;
}

static void test_tunnel_handshake_flood_is_bounded(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    e.server_cfg.handshake_max = 8;
    e.server_cfg.handshake_per_source_max = 4;
    e.server_cfg.handshake_timeout_ms = 120000; /* the flood stays in progress throughout */
    env_start_server(&e);
    /* Connections from four other loopback addresses that never say a word. */
    int flood[T_FLOOD_SRC * T_FLOOD_PER];
    uint16_t port = kumo_overlay_tunnel_server_port(e.srv);
    for (unsigned i = 0; i < T_FLOOD_SRC * T_FLOOD_PER; i++) {
        char src[32];
        (void)snprintf(src, sizeof(src), "127.0.0.%u", 2u + i / T_FLOOD_PER);
        flood[i] = connect_to(port, src);
    }
    /* Each source holds at most 4, all of them at most 8: the rest were closed at once. */
    on_loop(env_open_client, &e); /* opened after the flood: it needs a slot */
    snap_t s = wait_for(&e, is_flood_capped, "the flood to be capped");
    assert_true(s.srv.handshakes <= 8);
    (void)wait_for(&e, is_up, "the real tunnel through the flood");
    xfer(&e, 1000, 4);
    for (unsigned i = 0; i < T_FLOOD_SRC * T_FLOOD_PER; i++) {
        (void)close(flood[i]);
    }
    env_stop(&e);
}

static bool is_second_refused(const snap_t *s)
{
    return s->srv.refused >= 1;
}

static void client_close_cb(void *arg)
{
    kumo_overlay_tunnel_client_close(((env_t *)arg)->cli);
}

static void test_tunnel_tunnels_past_the_limit_are_refused(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    e.server_cfg.tunnel_max = 1;
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    /* A second client for the same tunnel: tunnel_max + 1 is refused. */
    env_t second = e;
    on_loop(env_open_client, &second);
    assert_int_equal(second.rc, 0);
    (void)wait_for(&e, is_second_refused, "the second tunnel refused");
    on_loop(client_close_cb, &second);
    snap_t s = snap(&e);
    assert_int_equal(s.srv.tunnels_opened, 1);
    xfer(&e, 1000, 8); /* the first is untouched */
    env_stop(&e);
}

static bool is_expired(const snap_t *s)
{
    return s->srv.expired >= 1 && s->srv.tunnels == 0;
}

static void test_tunnel_closes_when_the_peer_certificate_expires(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    e.client.start_offset_s = -3598; /* valid for an hour: two seconds are left */
    e.server_cfg.keepalive_ms = 200;
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    int fd = stream_live(&e);
    (void)wait_for(&e, is_expired, "the tunnel to close at the certificate's expiry");
    assert_stream_ended(fd);
    env_stop(&e);
}

static void *writer_until_error(void *arg)
{
    writer_t *w = arg;
    (void)writer_run(w); /* blocks once the tunnel's window is full; ends when fd closes */
    return NULL;
}

static void test_tunnel_slow_stream_does_not_block_others(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    /* Stream A sends far more than a window and never reads its echo: the echo target stops
     * reading once its replies back up, and A's window runs dry. */
    int a = connect_to(e.local_port, NULL);
    writer_t w = {.fd = a, .len = 16u * T_BIG, .seed = 5};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_until_error, &w), 0);
    /* Meanwhile stream B, on the same tunnel, moves more than a window both ways. */
    xfer(&e, T_BIG, 6);
    xfer(&e, 1000, 7);
    (void)shutdown(a, SHUT_RDWR);
    assert_int_equal(pthread_join(th, NULL), 0);
    (void)close(a);
    env_stop(&e);
}

/* ---- a peer that breaks the protocol (raw TLS with a valid certificate) ---- */

static void sni_tag(const kumo_overlay_tunnel_id_t *id, char out[34])
{
    uint8_t dseq[8];
    kumo_be64_put(dseq, id->dseq);
    static const char domain[] = "kumo-tunnel";
    const kumo_bytes_t parts[] = {
        kumo_bytes_make(domain, sizeof(domain)),
        kumo_bytes_make(id->owner, strlen(id->owner) + 1u),
        kumo_bytes_make(dseq, sizeof(dseq)),
        kumo_bytes_make(id->src, strlen(id->src) + 1u),
        kumo_bytes_make(id->dst, strlen(id->dst) + 1u),
    };
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), h);
    out[0] = 't';
    for (size_t i = 0; i < 16u; i++) {
        (void)snprintf(out + 1 + 2 * i, 3, "%02x", h[i]);
    }
}

static size_t frame_put(uint8_t *out, uint8_t type, uint32_t id, const uint8_t *p, size_t len);

static bool has_protocol_error(const snap_t *s)
{
    return s->srv.protocol_errors >= 1 && s->srv.tunnels == 0;
}

/* Sends bytes as an authenticated client and checks the server closes the tunnel for them. */
static void raw_peer_breaks(env_t *e, const uint8_t *bytes, size_t len, const char *name)
{
    void *ctx = NULL;
    kumo_tls_ctx_cfg_t tc = {.cert_pem = kumo_buf_bytes(&e->client.cert),
                             .key = &e->client.kp,
                             .peer_check = KUMO_TLS_PEER_PUBKEY};
    assert_int_equal(kumo_tls_ctx_new(&tc, &ctx, NULL), 0);
    int fd = connect_to(kumo_overlay_tunnel_server_port(e->srv), NULL);
    SSL *ssl = SSL_new(ctx);
    char tag[34];
    sni_tag(&e->server.id, tag);
    assert_int_equal(SSL_set_tlsext_host_name(ssl, tag), 1);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    assert_int_equal(SSL_connect(ssl), 1);
    assert_int_equal(SSL_write(ssl, bytes, (int)len), (int)len);
    char buf[64];
    while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
    }
    snap_t s = wait_for(e, has_protocol_error, name);
    assert_int_equal(s.srv.tunnels, 0);
    SSL_free(ssl);
    (void)close(fd);
    kumo_tls_ctx_free(ctx);
}

static void test_tunnel_peer_breaking_the_protocol_loses_the_tunnel(void **state)
{
    (void)state;
    static const uint8_t port[2] = {(uint8_t)(T_PORT >> 8), (uint8_t)(T_PORT & 0xffu)};
    static const uint8_t ping[8] = {0};
    static const uint8_t one[1] = {'x'};
    uint8_t buf[64];
    static const struct {
        const char *name;
        unsigned rows;
        uint8_t type[3];
        uint32_t id[3];
    } cases[] = {
        {"unknown frame type", 1, {9}, {1}},
        {"PING on a stream", 1, {0}, {1}},
        {"OPEN reusing a stream id", 2, {2, 2}, {1, 1}},
        {"DATA after FIN", 3, {2, 4, 3}, {1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        env_t e;
        env_init(&e);
        env_start_server(&e);
        size_t len = 0;
        for (unsigned r = 0; r < cases[i].rows; r++) {
            uint8_t t = cases[i].type[r];
            const uint8_t *p = t == 2 ? port : t == 3 ? one : t == 0 ? ping : NULL;
            size_t plen = t == 2 ? 2u : t == 3 ? 1u : t == 0 ? 8u : 0u;
            len += frame_put(buf + len, t, cases[i].id[r], p, plen);
        }
        raw_peer_breaks(&e, buf, len, cases[i].name);
        on_loop(env_close_cb, &e);
        kumo_buf_free(&e.server.cert);
        kumo_buf_free(&e.client.cert);
    }
}

/* ---- a peer that restarts ---- */

typedef struct client_probe {
    env_t *e;
    bool up;
    kumo_overlay_tunnel_stats_t stats;
} client_probe_t;

static void client_probe_cb(void *arg)
{
    client_probe_t *p = arg;
    p->up = kumo_overlay_tunnel_client_is_up(p->e->cli);
    kumo_overlay_tunnel_client_stats(p->e->cli, &p->stats);
}

static void server_close_cb(void *arg)
{
    env_t *e = arg;
    kumo_overlay_tunnel_server_close(e->srv);
    e->srv = NULL;
}

static client_probe_t client_down_wait(env_t *e)
{
    client_probe_t p = {.e = e};
    for (unsigned waited = 0;; waited += 10u) {
        on_loop(client_probe_cb, &p);
        if (!p.up) {
            return p;
        }
        assert_true(waited < T_WAIT_MS);
        sleep_ms(10);
    }
}

/* The server's process goes away and comes back on the same port: a connection made while
 * it is away waits (not closed at once) and goes through once it answers, although the
 * client's backoff had grown past the time it was away; with no server it is closed after
 * the hold time. */
static void test_tunnel_connection_waits_for_a_restarted_peer(void **state)
{
    (void)state;
    env_t e;
    env_init(&e);
    env_start(&e);
    (void)wait_for(&e, is_up, "the tunnel");
    (void)close(stream_live(&e));
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%u", kumo_overlay_tunnel_server_port(e.srv));
    on_loop(server_close_cb, &e);
    (void)client_down_wait(&e);
    /* Nobody answers: held, then closed and counted. */
    int fd = connect_to(e.local_port, NULL);
    assert_int_equal(write(fd, "ping", 4), 4);
    char buf[4];
    assert_true(read(fd, buf, sizeof(buf)) <= 0);
    (void)close(fd);
    client_probe_t p = client_down_wait(&e);
    assert_true(p.stats.capped >= 1);
    /* By now the backoff is past a second; the server comes back, a connection is waiting. */
    fd = connect_to(e.local_port, NULL);
    assert_int_equal(write(fd, "ping", 4), 4);
    e.server_cfg.listen = listen;
    on_loop(env_open_server, &e);
    if (e.rc != 0) {
        fail_msg("server again: %s", e.err.detail);
    }
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    (void)close(fd);
    env_stop(&e);
}

/* ---- configuration rules ---- */

static void cfg_ok(kumo_overlay_tunnel_server_cfg_t *c)
{
    (void)c;
}
static void cfg_no_callback(kumo_overlay_tunnel_server_cfg_t *c)
{
    c->accept_cb = NULL;
}
static void cfg_bad_address(kumo_overlay_tunnel_server_cfg_t *c)
{
    c->listen = "localhost:1";
}
static void cfg_streams_max(kumo_overlay_tunnel_server_cfg_t *c)
{
    c->stream_max = KUMO_OVERLAY_TUNNEL_STREAM_MAX;
}
static void cfg_streams_over(kumo_overlay_tunnel_server_cfg_t *c)
{
    c->stream_max = KUMO_OVERLAY_TUNNEL_STREAM_MAX + 1u;
}

typedef struct cfg_case {
    kumo_overlay_tunnel_server_cfg_t cfg;
    kumo_overlay_tunnel_allow_t allow[3];
    uint32_t allow_count;
    int rc;
    int allow_rc;
} cfg_case_t;

static void cfg_open_cb(void *arg)
{
    cfg_case_t *c = arg;
    kumo_overlay_tunnel_server_t *s = NULL;
    c->rc = kumo_overlay_tunnel_server_open(base, &c->cfg, &s, NULL);
    if (c->rc == 0) {
        c->allow_rc = kumo_overlay_tunnel_server_allow_set(s, c->allow, c->allow_count, NULL);
        kumo_overlay_tunnel_server_close(s);
    }
}

static void test_tunnel_config_rejects_each_rule(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        void (*mutate)(kumo_overlay_tunnel_server_cfg_t *c);
        int want;
    } cases[] = {
        {"valid", cfg_ok, 0},
        {"no accept callback", cfg_no_callback, KUMO_EINVAL},
        {"a name, not an address", cfg_bad_address, KUMO_EINVAL},
        {"stream_max at the cap", cfg_streams_max, 0},
        {"stream_max over the cap", cfg_streams_over, KUMO_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg_case_t c = {.cfg = {.listen = "127.0.0.1", .accept_cb = accept_cb}};
        cases[i].mutate(&c.cfg);
        on_loop(cfg_open_cb, &c);
        if (c.rc != cases[i].want) {
            fail_msg("%s: got %s", cases[i].name, kumo_err_name(c.rc));
        }
    }
    /* The allowed set: valid, then one rule broken per row (the set is left unchanged). */
    env_t e;
    env_init(&e);
    side_issue(&e.server);
    kumo_overlay_tunnel_allow_t ok = {.peer = e.client.id,
                                      .peer_root_pem = kumo_buf_bytes(&root_b.pem),
                                      .cert_pem = kumo_buf_bytes(&e.server.cert),
                                      .key = &e.server.kp};
    cfg_case_t c = {.cfg = {.listen = "127.0.0.1", .accept_cb = accept_cb, .tunnel_max = 2},
                    .allow = {ok},
                    .allow_count = 1};
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, 0);
    c.allow[1] = ok;
    c.allow_count = 2;
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_EDUPLICATE);
    c.allow[1].peer.dseq = 0;
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_EINVAL);
    c.allow[1] = ok;
    (void)snprintf(c.allow[1].peer.src, sizeof(c.allow[1].peer.src), "api");
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, 0); /* tunnel_max entries */
    c.allow[2] = ok;
    c.allow_count = 3;
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_ELIMIT); /* tunnel_max + 1 */
    /* Certificates and roots are parsed when allowed, not at the first handshake. */
    static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64\n";
    c.allow_count = 2;
    c.allow[1] = ok;
    c.allow[1].peer.dseq++;
    c.allow[1].peer_root_pem = kumo_bytes_make(garbage, sizeof(garbage) - 1u);
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_EDECODE); /* the root */
    c.allow[1].peer_root_pem = ok.peer_root_pem;
    c.allow[1].cert_pem = kumo_bytes_make(garbage, sizeof(garbage) - 1u);
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_EDECODE); /* our certificate */
    c.allow[1].cert_pem = ok.cert_pem;
    kumo_crypto_keypair_t other;
    assert_int_equal(kumo_crypto_key_generate(&other), 0);
    c.allow[1].key = &other;
    on_loop(cfg_open_cb, &c);
    assert_int_equal(c.allow_rc, KUMO_EINVAL); /* a key that is not the certificate's */
    kumo_buf_free(&e.server.cert);
}

/* ---- identities and frames (pure) ---- */

static void test_tunnel_id_uris_round_trip_and_reject(void **state)
{
    (void)state;
    kumo_overlay_tunnel_id_t id = id_make("kumo1provider", 3);
    char uris[KUMO_OVERLAY_TUNNEL_URI_COUNT][KUMO_OVERLAY_TUNNEL_URI_BYTES];
    assert_int_equal(kumo_overlay_tunnel_id_uris(&id, uris, NULL), 0);
    assert_string_equal(uris[0], "kumo:lease:kumo1owner/7/3/1/kumo1provider");
    assert_string_equal(uris[1], "kumo:tunnel:web/db");
    kumo_overlay_tunnel_id_t back;
    assert_int_equal(kumo_overlay_tunnel_id_from_uris((const char(*)[256])uris, 2, &back, NULL), 0);
    assert_true(kumo_overlay_tunnel_id_equal(&id, &back));
    static const struct {
        const char *name;
        const char *lease;
        const char *pair;
        int want;
    } cases[] = {
        {"valid", "kumo:lease:o/1/0/1/p", "kumo:tunnel:a/b", 0},
        {"dseq 0", "kumo:lease:o/0/0/1/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"oseq 0", "kumo:lease:o/1/0/0/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"leading zero", "kumo:lease:o/01/0/1/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"gseq over u32", "kumo:lease:o/1/4294967296/1/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"dseq over u64", "kumo:lease:o/18446744073709551616/0/1/p", "kumo:tunnel:a/b",
         KUMO_EDECODE},
        {"empty owner", "kumo:lease:/1/0/1/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"empty provider", "kumo:lease:o/1/0/1/", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"extra part", "kumo:lease:o/1/0/1/p/q", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"upper case", "kumo:lease:O/1/0/1/p", "kumo:tunnel:a/b", KUMO_EDECODE},
        {"missing dst", "kumo:lease:o/1/0/1/p", "kumo:tunnel:a", KUMO_EDECODE},
        {"three workloads", "kumo:lease:o/1/0/1/p", "kumo:tunnel:a/b/c", KUMO_EDECODE},
        {"two leases", "kumo:lease:o/1/0/1/p", "kumo:lease:o/1/0/1/p", KUMO_EDECODE},
        {"unknown URI", "kumo:lease:o/1/0/1/p", "kumo:workload:a", KUMO_EDECODE},
        {"name of 65", "kumo:lease:o/1/0/1/p",
         "kumo:tunnel:a/"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         KUMO_EDECODE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char in[2][KUMO_OVERLAY_TUNNEL_URI_BYTES];
        (void)snprintf(in[0], sizeof(in[0]), "%s", cases[i].lease);
        (void)snprintf(in[1], sizeof(in[1]), "%s", cases[i].pair);
        kumo_overlay_tunnel_id_t out;
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_tunnel_id_from_uris((const char(*)[256])in, 2, &out, &err);
        if (rc != cases[i].want) {
            fail_msg("%s: got %s (%s)", cases[i].name, kumo_err_name(rc), err.detail);
        }
    }
    /* A 64-character name is the longest accepted. */
    memset(id.src, 'a', 64);
    id.src[64] = '\0';
    assert_int_equal(kumo_overlay_tunnel_id_uris(&id, uris, NULL), 0);
    id.dseq = 0;
    assert_int_equal(kumo_overlay_tunnel_id_uris(&id, uris, NULL), KUMO_EINVAL);
}

static size_t frame_put(uint8_t *out, uint8_t type, uint32_t id, const uint8_t *p, size_t len)
{
    out[0] = type;
    kumo_be32_put(out + 1, id);
    out[5] = (uint8_t)(len >> 8);
    out[6] = (uint8_t)(len & 0xffu);
    if (len > 0) {
        memcpy(out + 7, p, len);
    }
    return 7u + len;
}

static void test_tunnel_frame_codec_rejects_each_rule(void **state)
{
    (void)state;
    static uint8_t big[KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX + 1u];
    static const uint8_t port0[2] = {0, 0};
    static const uint8_t port1[2] = {0, 1};
    static const uint8_t win0[4] = {0, 0, 0, 0};
    _Static_assert(KUMO_OVERLAY_TUNNEL_WINDOW_BYTES == 0x200000u, "the rows below spell it");
    static const uint8_t win_max[4] = {0, 0x20, 0, 0};
    static const uint8_t win_over[4] = {0, 0x20, 0, 1};
    static const uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const struct {
        const char *name;
        uint8_t type;
        uint32_t id;
        const uint8_t *p;
        size_t len;
        int want;
    } cases[] = {
        {"ping", 0, 0, ping, 8, 0},
        {"pong", 1, 0, ping, 8, 0},
        {"open", 2, 1, port1, 2, 0},
        {"data max", 3, 1, big, KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX, 0},
        {"fin", 4, 1, NULL, 0, 0},
        {"reset", 5, 1, NULL, 0, 0},
        {"window max", 6, 1, win_max, 4, 0},
        {"unknown type", 7, 1, NULL, 0, KUMO_EDECODE},
        {"ping on a stream", 0, 1, ping, 8, KUMO_EDECODE},
        {"ping short", 0, 0, ping, 7, KUMO_EDECODE},
        {"data on stream 0", 3, 0, big, 1, KUMO_EDECODE},
        {"data empty", 3, 1, NULL, 0, KUMO_EDECODE},
        {"data max + 1", 3, 1, big, KUMO_OVERLAY_TUNNEL_FRAME_DATA_MAX + 1u, KUMO_ELIMIT},
        {"open port 0", 2, 1, port0, 2, KUMO_EDECODE},
        {"fin with bytes", 4, 1, ping, 1, KUMO_EDECODE},
        {"window 0", 6, 1, win0, 4, KUMO_EDECODE},
        {"window max + 1", 6, 1, win_over, 4, KUMO_EDECODE},
    };
    static uint8_t buf[KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX + 8u];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = frame_put(buf, cases[i].type, cases[i].id, cases[i].p, cases[i].len);
        kumo_overlay_tunnel_frame_t f;
        size_t used = 0;
        kumo_err_ctx_t err = {0};
        int rc = kumo_overlay_tunnel_frame_decode(kumo_bytes_make(buf, len), &f, &used, &err);
        if (rc != cases[i].want || (rc == 0 && used != len)) {
            fail_msg("%s: got %s used %zu (%s)", cases[i].name, kumo_err_name(rc), used,
                     err.detail);
        }
        if (rc == 0) {
            uint8_t out[KUMO_OVERLAY_TUNNEL_FRAME_BYTES_MAX];
            size_t out_len = 0;
            assert_int_equal(kumo_overlay_tunnel_frame_encode(&f, out, sizeof(out), &out_len), 0);
            assert_int_equal(out_len, len);
            assert_memory_equal(out, buf, len);
            /* Every proper prefix asks for more. */
            assert_int_equal(
                kumo_overlay_tunnel_frame_decode(kumo_bytes_make(buf, len - 1u), &f, &used, NULL),
                0);
            assert_int_equal(used, 0);
        }
    }
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN);
    assert_int_equal(evthread_use_pthreads(), 0);
    base = event_base_new();
    assert_non_null(base);
    assert_int_equal(pthread_create(&loop_thread, NULL, loop_run, NULL), 0);
    root_make(&root_a, "prova root");
    root_make(&root_b, "provb root");
    root_make(&root_c, "provc root");
    echo_fd = listen_on("127.0.0.1", &echo_port);
    assert_int_equal(pthread_create(&echo_thread, NULL, echo_run, NULL), 0);
    return 0;
}

static void loop_stop_cb(void *arg)
{
    (void)arg;
    (void)event_base_loopbreak(base);
}

static int group_teardown(void **state)
{
    (void)state;
    on_loop(loop_stop_cb, NULL);
    (void)pthread_join(loop_thread, NULL);
    event_base_free(base);
    (void)shutdown(echo_fd, SHUT_RDWR);
    (void)close(echo_fd);
    (void)pthread_join(echo_thread, NULL);
    kumo_buf_free(&root_a.pem);
    kumo_buf_free(&root_b.pem);
    kumo_buf_free(&root_c.pem);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tunnel_id_uris_round_trip_and_reject),
        cmocka_unit_test(test_tunnel_frame_codec_rejects_each_rule),
        cmocka_unit_test(test_tunnel_connection_waits_for_a_restarted_peer),
        cmocka_unit_test(test_tunnel_config_rejects_each_rule),
        cmocka_unit_test(test_tunnel_streams_both_ways_with_half_close),
        cmocka_unit_test(test_tunnel_many_streams_share_one_tunnel),
        cmocka_unit_test(test_tunnel_refuses_wrong_certificates),
        cmocka_unit_test(test_tunnel_revocation_closes_streams),
        cmocka_unit_test(test_tunnel_stream_to_a_port_not_allowed_is_reset),
        cmocka_unit_test(test_tunnel_streams_past_the_limit_are_reset),
        cmocka_unit_test(test_tunnel_tunnels_past_the_limit_are_refused),
        cmocka_unit_test(test_tunnel_closes_when_the_peer_certificate_expires),
        cmocka_unit_test(test_tunnel_slow_stream_does_not_block_others),
        cmocka_unit_test(test_tunnel_peer_breaking_the_protocol_loses_the_tunnel),
        cmocka_unit_test(test_tunnel_handshake_flood_is_bounded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
