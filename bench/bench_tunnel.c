/*
 * bench_tunnel.c - the tunnels between datacenters (src/overlay/tunnel*.c) on loopback
 * against raw TCP to the same targets, measured in the same run. For bytes the tunnel server
 * and client run each on its own event loop thread (as two providers would on their own
 * machines; here they share the machine's cores with the measuring threads); the measuring
 * side uses blocking sockets, for the raw path and the tunnel alike:
 *   - tunnel_bulk_mib_per_s / raw_bulk_mib_per_s and bulk_ratio: one stream, one way, to a
 *     sink that reads until EOF (the writer waits for the sink's EOF);
 *   - rtt64_{raw,tunnel}_p50_us / _p99_us and rtt64_added_p50_us / _p99_us: 64-byte request,
 *     64-byte echo, on one open connection;
 *   - stream_open_{raw,tunnel}_p50_us / _p99_us: connect plus the first 1-byte round trip (a
 *     new stream on an open tunnel against a new TCP connection to the target);
 *   - handshake_cold_p50_us / _p99_us and handshakes_per_s: a new client (context, key,
 *     certificate) dialling until the tunnel is up and verified on both sides, one after the
 *     other, both ends on ONE loop thread: both ends' crypto runs on the same core, so the
 *     rate per core of one side alone is higher; handshakes_server_per_s: rounds of 64
 *     clients dialling at once from the client loop, the server's loop (one core) answering
 *     and verifying them all.
 * BENCH_TUNNEL_ONE_LOOP=1 runs both ends of the bytes tunnel on one loop thread instead.
 * tunnel_bulk_cpu_pct_of_one_core and tunnel_bulk_context_switches tell whether the bulk run
 * was bound by CPU or by threads waiting on each other.
 * Usage: bench_tunnel [scale] (default 1: 256 MiB bulk, 5,000 round trips, 500 streams, 200
 * handshakes).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "bench_util.h"
#include "log/log.h"
#include "overlay/overlay.h"
#include "tls/tls.h"

#define BT_PORT_ECHO 1u
#define BT_PORT_SINK 2u
/* Clients handshaking at once against the server's loop in the rate measurement. */
#define BT_CONCURRENT 64u

typedef struct bt_root {
    kumo_crypto_keypair_t kp;
    kumo_buf_t pem;
} bt_root_t;

static struct event_base *base;   /* handshakes: both ends on one loop */
static struct event_base *base_s; /* bytes: the server side on its own loop (thread) */
static struct event_base *base_c; /* bytes: the client side on its own loop (thread) */
static bt_root_t root_a;
static bt_root_t root_b;
static kumo_overlay_tunnel_id_t id_server;
static kumo_overlay_tunnel_id_t id_client;
static kumo_crypto_keypair_t key_server;
static kumo_crypto_keypair_t key_client;
static kumo_buf_t cert_server;
static kumo_buf_t cert_client;
static kumo_overlay_tunnel_server_t *srv;
static kumo_overlay_tunnel_server_t *srv_bytes;
static uint16_t echo_port;
static uint16_t sink_port;

/* ---- targets: echo and sink, a thread per connection ---- */

static void *bt_echo_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    int one = 1;
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    static _Thread_local char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, (size_t)(n - off));
            if (w <= 0) {
                break;
            }
            off += w;
        }
    }
    (void)close(c);
    return NULL;
}

static void *bt_sink_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    static _Thread_local char buf[262144];
    while (read(c, buf, sizeof(buf)) > 0) {
    }
    (void)close(c);
    return NULL;
}

typedef struct bt_server {
    int fd;
    void *(*conn)(void *);
} bt_server_t;

static void *bt_accept_run(void *arg)
{
    bt_server_t *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }
        pthread_t th;
        if (pthread_create(&th, NULL, s->conn, (void *)(intptr_t)c) == 0) {
            (void)pthread_detach(th);
        } else {
            (void)close(c);
        }
    }
}

static int bt_listen(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        bench_die("listen", KUMO_EIO, NULL);
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void bt_target_start(uint16_t *port, void *(*conn)(void *))
{
    static bt_server_t servers[2];
    static unsigned n;
    bt_server_t *s = &servers[n++];
    s->fd = bt_listen(port);
    s->conn = conn;
    pthread_t th;
    if (pthread_create(&th, NULL, bt_accept_run, s) != 0) {
        bench_die("thread", KUMO_EIO, NULL);
    }
    (void)pthread_detach(th);
}

static int bt_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        bench_die("connect", KUMO_EIO, NULL);
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* ---- tunnel setup ---- */

static bool
bt_accept_cb(void *ctx, const kumo_overlay_tunnel_id_t *peer, kumo_overlay_tunnel_targets_t *out)
{
    (void)ctx;
    (void)peer;
    out->items[0] = (kumo_overlay_tunnel_target_t){.port = BT_PORT_ECHO, .target_port = echo_port};
    out->items[1] = (kumo_overlay_tunnel_target_t){.port = BT_PORT_SINK, .target_port = sink_port};
    (void)snprintf(out->items[0].host, sizeof(out->items[0].host), "127.0.0.1");
    (void)snprintf(out->items[1].host, sizeof(out->items[1].host), "127.0.0.1");
    out->count = 2;
    return true;
}

static kumo_overlay_tunnel_id_t bt_id(const char *provider, uint32_t gseq)
{
    kumo_overlay_tunnel_id_t id = {.dseq = 1, .gseq = gseq, .oseq = 1};
    (void)snprintf(id.owner, sizeof(id.owner), "kumo1benchowner");
    (void)snprintf(id.src, sizeof(id.src), "web");
    (void)snprintf(id.dst, sizeof(id.dst), "db");
    (void)snprintf(id.provider, sizeof(id.provider), "%s", provider);
    return id;
}

static void bt_issue(const bt_root_t *r,
                     const kumo_overlay_tunnel_id_t *id,
                     kumo_crypto_keypair_t *kp,
                     kumo_buf_t *pem)
{
    kumo_err_ctx_t err = {0};
    BENCH_MUST("key", kumo_crypto_key_generate(kp));
    kumo_buf_init(pem, KUMO_TLS_PEM_BYTES_MAX);
    int rc = kumo_overlay_tunnel_cert_issue(&r->kp, kumo_buf_bytes(&r->pem), kp->pubkey, id, -3600,
                                            KUMO_OVERLAY_TUNNEL_CERT_LIFETIME_S, pem, &err);
    if (rc != 0) {
        bench_die("issue", rc, &err);
    }
}

static void bt_setup(void)
{
    kumo_err_ctx_t err = {0};
    bt_root_t *roots[2] = {&root_a, &root_b};
    for (unsigned i = 0; i < 2; i++) {
        BENCH_MUST("root key", kumo_crypto_key_generate(&roots[i]->kp));
        kumo_buf_init(&roots[i]->pem, KUMO_TLS_PEM_BYTES_MAX);
        BENCH_MUST("root",
                   kumo_tls_ca_create(&roots[i]->kp, "bench root", 30, &roots[i]->pem, &err));
    }
    id_server = bt_id("prova", 1);
    id_client = bt_id("provb", 0);
    bt_issue(&root_a, &id_server, &key_server, &cert_server);
    bt_issue(&root_b, &id_client, &key_client, &cert_client);
}

static kumo_overlay_tunnel_server_t *bt_server(struct event_base *b)
{
    kumo_err_ctx_t err = {0};
    kumo_overlay_tunnel_server_t *s = NULL;
    /* Every client dials from 127.0.0.1: let the concurrent handshakes of the rate
     * measurement all in. */
    kumo_overlay_tunnel_server_cfg_t cfg = {.listen = "127.0.0.1",
                                            .accept_cb = bt_accept_cb,
                                            .handshake_max = BT_CONCURRENT,
                                            .handshake_per_source_max = BT_CONCURRENT};
    BENCH_MUST("server", kumo_overlay_tunnel_server_open(b, &cfg, &s, &err));
    kumo_overlay_tunnel_allow_t allow = {.peer = id_client,
                                         .peer_root_pem = kumo_buf_bytes(&root_b.pem),
                                         .cert_pem = kumo_buf_bytes(&cert_server),
                                         .key = &key_server};
    BENCH_MUST("allow", kumo_overlay_tunnel_server_allow_set(s, &allow, 1, &err));
    return s;
}

/* A client with listeners for the echo and sink ports (listen_fd < 0: none). */
static kumo_overlay_tunnel_client_t *
bt_client(struct event_base *b, const kumo_overlay_tunnel_server_t *to, int echo_fd, int sink_fd)
{
    char addr[64];
    (void)snprintf(addr, sizeof(addr), "127.0.0.1:%u", kumo_overlay_tunnel_server_port(to));
    kumo_overlay_tunnel_client_cfg_t c = {.peer_address = addr,
                                          .peer = id_server,
                                          .peer_root_pem = kumo_buf_bytes(&root_a.pem),
                                          .cert_pem = kumo_buf_bytes(&cert_client),
                                          .key = &key_client};
    if (echo_fd >= 0) {
        c.listeners[0] = (kumo_overlay_tunnel_listener_t){.fd = echo_fd, .port = BT_PORT_ECHO};
        c.listeners[1] = (kumo_overlay_tunnel_listener_t){.fd = sink_fd, .port = BT_PORT_SINK};
        c.listener_count = 2;
    }
    kumo_overlay_tunnel_client_t *cli = NULL;
    kumo_err_ctx_t err = {0};
    BENCH_MUST("client", kumo_overlay_tunnel_client_open(b, &c, &cli, &err));
    return cli;
}

/* ---- the handshake, on this thread's loop ---- */

static int bt_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static uint64_t bt_pct(uint64_t *v, size_t n, unsigned pct)
{
    qsort(v, n, sizeof(*v), bt_u64_cmp);
    size_t i = n * pct / 100u;
    return v[i < n ? i : n - 1u];
}

static void bt_handshakes(unsigned count)
{
    uint64_t *ns = calloc(count, sizeof(*ns));
    uint64_t total = 0;
    for (unsigned i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        kumo_overlay_tunnel_client_t *cli = bt_client(base, srv, -1, -1);
        kumo_overlay_tunnel_stats_t st = {0};
        while (!kumo_overlay_tunnel_client_is_up(cli) || st.tunnels == 0) {
            (void)event_base_loop(base, EVLOOP_ONCE);
            kumo_overlay_tunnel_server_stats(srv, &st);
        }
        ns[i] = bench_now_ns() - t0;
        total += ns[i];
        kumo_overlay_tunnel_client_close(cli);
        while (st.tunnels != 0) { /* the server sees it go before the next one */
            (void)event_base_loop(base, EVLOOP_ONCE);
            kumo_overlay_tunnel_server_stats(srv, &st);
        }
    }
    bench_result("handshakes_per_s", bench_rate(count, total), "1/s");
    bench_result("handshake_cold_p50_us", bt_pct(ns, count, 50) / 1000u, "us");
    bench_result("handshake_cold_p99_us", bt_pct(ns, count, 99) / 1000u, "us");
    free(ns);
}

/* ---- bytes, with the loop on its own thread ---- */

static void *bt_loop_run(void *arg)
{
    (void)event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

typedef struct bt_writer {
    int fd;
    size_t bytes;
} bt_writer_t;

static void *bt_writer_run(void *arg)
{
    bt_writer_t *w = arg;
    static char buf[262144];
    for (size_t off = 0; off < w->bytes;) {
        size_t n = w->bytes - off < sizeof(buf) ? w->bytes - off : sizeof(buf);
        ssize_t k = write(w->fd, buf, n);
        if (k <= 0) {
            bench_die("bulk write", KUMO_EIO, NULL);
        }
        off += (size_t)k;
    }
    (void)shutdown(w->fd, SHUT_WR);
    return NULL;
}

/* ---- the server's handshake rate: many clients at once on the other loop ---- */

typedef struct bt_call {
    void (*fn)(void *);
    void *arg;
    sem_t done;
} bt_call_t;

static void bt_call_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bt_call_t *c = arg;
    c->fn(c->arg);
    (void)sem_post(&c->done);
}

/* Runs fn(arg) on the thread of loop b and waits for it. */
static void bt_on_loop(struct event_base *b, void (*fn)(void *), void *arg)
{
    bt_call_t c = {.fn = fn, .arg = arg};
    struct timeval tv = {0, 0};
    if (sem_init(&c.done, 0, 0) != 0 ||
        event_base_once(b, -1, EV_TIMEOUT, bt_call_cb, &c, &tv) != 0) {
        bench_die("event_base_once", KUMO_EIO, NULL);
    }
    while (sem_wait(&c.done) != 0) {
    }
    (void)sem_destroy(&c.done);
}

typedef struct bt_many {
    kumo_overlay_tunnel_client_t *cli[BT_CONCURRENT];
    unsigned count;
    unsigned up;
} bt_many_t;

static void bt_many_open(void *arg)
{
    bt_many_t *m = arg;
    for (unsigned i = 0; i < m->count; i++) {
        m->cli[i] = bt_client(base_c, srv_bytes, -1, -1);
    }
}

static void bt_many_count(void *arg)
{
    bt_many_t *m = arg;
    kumo_overlay_tunnel_stats_t st;
    kumo_overlay_tunnel_server_stats(srv_bytes, &st);
    m->up = st.tunnels;
}

static void bt_many_close(void *arg)
{
    bt_many_t *m = arg;
    for (unsigned i = 0; i < m->count; i++) {
        kumo_overlay_tunnel_client_close(m->cli[i]);
    }
}

/* Rounds of BT_CONCURRENT clients dialling at once; the server's loop (one core) verifies
 * them all: its handshakes per second. */
static void bt_handshake_rate(unsigned rounds)
{
    uint64_t ns = 0;
    uint64_t done = 0;
    for (unsigned r = 0; r < rounds; r++) {
        bt_many_t m = {.count = BT_CONCURRENT};
        uint64_t t0 = bench_now_ns();
        bt_on_loop(base_c, bt_many_open, &m);
        while (m.up < m.count + 1u) {            /* + the bytes tunnel */
            struct timespec pause = {0, 200000}; /* polls must not load the server's loop */
            (void)nanosleep(&pause, NULL);
            bt_on_loop(base_s, bt_many_count, &m);
        }
        ns += bench_now_ns() - t0;
        done += m.count;
        bt_on_loop(base_c, bt_many_close, &m);
        while (m.up != 1u) {
            bt_on_loop(base_s, bt_many_count, &m);
        }
    }
    bench_result("handshakes_server_per_s", bench_rate(done, ns), "1/s");
}

/* MiB/s of bytes written to port and read by the sink (until its EOF comes back). */
static uint64_t bt_bulk(uint16_t port, size_t bytes)
{
    int fd = bt_connect(port);
    bt_writer_t w = {.fd = fd, .bytes = bytes};
    uint64_t t0 = bench_now_ns();
    bt_writer_run(&w);
    char c;
    while (read(fd, &c, 1) > 0) {
    }
    uint64_t ns = bench_now_ns() - t0;
    (void)close(fd);
    return bench_rate(bytes / (1024u * 1024u), ns);
}

static void bt_rtt(uint16_t port, unsigned count, uint64_t *p50, uint64_t *p99)
{
    uint64_t *ns = calloc(count, sizeof(*ns));
    int fd = bt_connect(port);
    char buf[64] = {0};
    for (unsigned i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            bench_die("rtt write", KUMO_EIO, NULL);
        }
        for (size_t got = 0; got < sizeof(buf);) {
            ssize_t n = read(fd, buf + got, sizeof(buf) - got);
            if (n <= 0) {
                bench_die("rtt read", KUMO_EIO, NULL);
            }
            got += (size_t)n;
        }
        ns[i] = bench_now_ns() - t0;
    }
    (void)close(fd);
    *p50 = bt_pct(ns, count, 50) / 1000u;
    *p99 = bt_pct(ns, count, 99) / 1000u;
    free(ns);
}

static void bt_stream_open(uint16_t port, unsigned count, uint64_t *p50, uint64_t *p99)
{
    uint64_t *ns = calloc(count, sizeof(*ns));
    for (unsigned i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        int fd = bt_connect(port);
        char c = 'x';
        if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
            bench_die("stream", KUMO_EIO, NULL);
        }
        ns[i] = bench_now_ns() - t0;
        (void)close(fd);
    }
    *p50 = bt_pct(ns, count, 50) / 1000u;
    *p99 = bt_pct(ns, count, 99) / 1000u;
    free(ns);
}

static uint64_t bt_tv_us(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

static void bt_bytes(unsigned scale)
{
    uint16_t local_echo = 0;
    uint16_t local_sink = 0;
    int echo_fd = bt_listen(&local_echo);
    int sink_fd = bt_listen(&local_sink);
    if (getenv("BENCH_TUNNEL_ONE_LOOP") != NULL) {
        base_c = base_s; /* both ends on one loop thread */
    }
    srv_bytes = bt_server(base_s);
    kumo_overlay_tunnel_client_t *cli = bt_client(base_c, srv_bytes, echo_fd, sink_fd);
    kumo_overlay_tunnel_stats_t st = {0};
    while (!kumo_overlay_tunnel_client_is_up(cli) || st.tunnels == 0) {
        (void)event_base_loop(base_c, EVLOOP_NONBLOCK);
        (void)event_base_loop(base_s, EVLOOP_NONBLOCK);
        kumo_overlay_tunnel_server_stats(srv_bytes, &st);
    }
    pthread_t loop_s;
    pthread_t loop_c;
    if (pthread_create(&loop_s, NULL, bt_loop_run, base_s) != 0 ||
        (base_c != base_s && pthread_create(&loop_c, NULL, bt_loop_run, base_c) != 0)) {
        bench_die("thread", KUMO_EIO, NULL);
    }
    size_t bulk = (size_t)256u * 1024u * 1024u * scale;
    uint64_t raw = bt_bulk(sink_port, bulk);
    struct rusage ru0;
    struct rusage ru1;
    (void)getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = bench_now_ns();
    uint64_t tun = bt_bulk(local_sink, bulk);
    uint64_t wall_us = (bench_now_ns() - t0) / 1000u;
    (void)getrusage(RUSAGE_SELF, &ru1);
    bench_result("raw_bulk_mib_per_s", raw, "MiB/s");
    bench_result("tunnel_bulk_mib_per_s", tun, "MiB/s");
    bench_ratio("bulk_ratio", tun, raw);
    /* Whether the tunnel's bulk run was bound by CPU or by threads waiting on each other. */
    uint64_t cpu_us = bt_tv_us(&ru1.ru_utime) + bt_tv_us(&ru1.ru_stime) - bt_tv_us(&ru0.ru_utime) -
                      bt_tv_us(&ru0.ru_stime);
    bench_result("tunnel_bulk_cpu_pct_of_one_core", wall_us == 0 ? 0 : cpu_us * 100u / wall_us,
                 "%");
    bench_result("tunnel_bulk_context_switches",
                 (uint64_t)(ru1.ru_nvcsw - ru0.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nivcsw), "1");
    uint64_t r50 = 0;
    uint64_t r99 = 0;
    uint64_t t50 = 0;
    uint64_t t99 = 0;
    bt_rtt(echo_port, 5000u * scale, &r50, &r99);
    bt_rtt(local_echo, 5000u * scale, &t50, &t99);
    bench_result("rtt64_raw_p50_us", r50, "us");
    bench_result("rtt64_raw_p99_us", r99, "us");
    bench_result("rtt64_tunnel_p50_us", t50, "us");
    bench_result("rtt64_tunnel_p99_us", t99, "us");
    bench_result("rtt64_added_p50_us", t50 > r50 ? t50 - r50 : 0, "us");
    bench_result("rtt64_added_p99_us", t99 > r99 ? t99 - r99 : 0, "us");
    bt_stream_open(echo_port, 500u * scale, &r50, &r99);
    bt_stream_open(local_echo, 500u * scale, &t50, &t99);
    bench_result("stream_open_raw_p50_us", r50, "us");
    bench_result("stream_open_raw_p99_us", r99, "us");
    bench_result("stream_open_tunnel_p50_us", t50, "us");
    bench_result("stream_open_tunnel_p99_us", t99, "us");
    bt_handshake_rate(5u * scale);
    (void)event_base_loopbreak(base_s);
    (void)event_base_loopbreak(base_c);
    (void)pthread_join(loop_s, NULL);
    if (base_c != base_s) {
        (void)pthread_join(loop_c, NULL);
    }
    kumo_overlay_tunnel_client_close(cli);
    kumo_overlay_tunnel_server_close(srv_bytes);
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1u;
    scale = scale == 0 ? 1u : scale;
    kumo_log_level_set(KUMO_LOG_LEVEL_WARN);
    BENCH_MUST("crypto", kumo_crypto_init());
    (void)signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        bench_die("evthread", KUMO_EIO, NULL);
    }
    base = event_base_new();
    base_s = event_base_new();
    base_c = event_base_new();
    if (base == NULL || base_s == NULL || base_c == NULL) {
        bench_die("event_base", KUMO_ENOMEM, NULL);
    }
    bt_target_start(&echo_port, bt_echo_conn);
    bt_target_start(&sink_port, bt_sink_conn);
    bt_setup();
    srv = bt_server(base);
    bt_handshakes(200u * scale);
    bt_bytes(scale);
    kumo_overlay_tunnel_server_close(srv);
    event_base_free(base);
    event_base_free(base_s);
    event_base_free(base_c);
    return 0;
}
