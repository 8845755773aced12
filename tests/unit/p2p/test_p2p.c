/*
 * test_p2p.c - real TLS links on loopback (port 0), one event_base per test driven with
 * EVLOOP_ONCE until a condition holds or a deadline passes (never a fixed sleep): a mesh
 * exchanges frames on every channel and by broadcast; a pinned id that does not match the
 * peer's key, another chain, another protocol version, garbage bytes, an oversized frame, an
 * unknown channel, a frame before the HELLO, a second HELLO, an empty frame and a silent
 * client all drop that peer (counted) and leave the others up; a node at its peer limit closes
 * new connections at once; a full send queue refuses with KUMO_ELIMIT; a restarted peer is
 * redialed; two nodes dialing each other at once end with one connection; peer addresses
 * parse strictly.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "p2p/p2p.h"
#include "p2p/p2p_wire.h"

#define CHAIN "kumo-p2p-test"

typedef struct tnode {
    kumo_p2p_t *p;
    kumo_crypto_keypair_t kp;
    uint32_t ups;
    uint32_t downs;
    uint32_t msgs[KUMO_P2P_CH_COUNT];
    size_t last_len;
    uint8_t last_byte;
} tnode_t;

static struct event_base *base;
static struct event *tick; /* wakes EVLOOP_ONCE at least every 10 ms */

static void on_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    uint8_t want[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(pk, want);
    assert_memory_equal(id, want, sizeof(want));
    ((tnode_t *)ctx)->ups++;
}

static void on_down(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    (void)id;
    ((tnode_t *)ctx)->downs++;
}

static void on_msg(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint8_t ch, kumo_bytes_t p)
{
    (void)id;
    tnode_t *n = ctx;
    assert_true(ch >= KUMO_P2P_CH_CONSENSUS && ch < KUMO_P2P_CH_COUNT);
    n->msgs[ch]++;
    n->last_len = p.len;
    n->last_byte = p.len > 0 ? p.ptr[0] : 0;
}

static void key_make(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static void id_of(const tnode_t *n, uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    kumo_tls_node_id(n->kp.pubkey, id);
}

static void peer_of(const tnode_t *n, kumo_p2p_peer_addr_t *out)
{
    id_of(n, out->id);
    (void)snprintf(out->host_port, sizeof(out->host_port), "%s", kumo_p2p_listen_addr(n->p));
}

typedef struct topts {
    const char *chain;
    const char *listen;
    const char *source; /* dial from this host */
    uint64_t queue_max;
    uint32_t handshake_ms;
    void (*tweak)(kumo_p2p_cfg_t *cfg); /* more settings */
} topts_t;

/* A node keyed by tag, dialing peers. */
static void node_open_opts(
    tnode_t *n, uint8_t tag, const topts_t *o, const tnode_t *const *peers, uint32_t peer_count)
{
    memset(n, 0, sizeof(*n));
    key_make(tag, &n->kp);
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = o->chain != NULL ? o->chain : CHAIN;
    cfg.node_key = &n->kp;
    cfg.listen = o->listen;
    cfg.redial_min_ms = 20;
    cfg.redial_max_ms = 200;
    cfg.handshake_timeout_ms = o->handshake_ms > 0 ? o->handshake_ms : 2000;
    cfg.dial_source = o->source;
    if (o->tweak != NULL) {
        o->tweak(&cfg);
    }
    if (o->queue_max > 0) {
        cfg.send_queue_bytes_max = o->queue_max;
    }
    for (uint32_t i = 0; i < peer_count; i++) {
        peer_of(peers[i], &cfg.persistent[cfg.persistent_count++]);
    }
    kumo_p2p_callbacks_t cb = {.ctx = n, .peer_up = on_up, .peer_down = on_down, .on_msg = on_msg};
    assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &n->p, NULL), 0);
}

static void node_open(
    tnode_t *n, uint8_t tag, const char *listen, const tnode_t *const *peers, uint32_t peer_count)
{
    topts_t o = {.listen = listen};
    node_open_opts(n, tag, &o, peers, peer_count);
}

static kumo_p2p_stats_t stats_of(const tnode_t *n)
{
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(n->p, &st);
    return st;
}

static uint32_t peers_of(const tnode_t *n)
{
    return stats_of(n).peers;
}

static uint64_t bad_of(const tnode_t *n)
{
    return stats_of(n).disconnects_bad;
}

/* Settled: no connection in handshake. */
static bool settled(const tnode_t *n)
{
    return stats_of(n).pending == 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop one turn at a time until cond or a 4 s deadline (a hang, not a timing). */
#define RUN_UNTIL(cond)                                  \
    do {                                                 \
        uint64_t deadline_ = now_ms() + 4000u;           \
        while (!(cond) && now_ms() < deadline_) {        \
            (void)event_base_loop(base, EVLOOP_ONCE);    \
        }                                                \
        if (!(cond)) {                                   \
            fail_msg("timed out waiting for %s", #cond); \
        }                                                \
    } while (0)

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int setup(void **state)
{
    (void)state;
    base = event_base_new();
    tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = {0, 10000};
    return base != NULL && tick != NULL && event_add(tick, &tv) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    event_free(tick);
    event_base_free(base);
    return 0;
}

/* ---- happy paths ---- */

static void test_mesh_exchange(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    tnode_t c;
    node_open(&a, 1, "127.0.0.1:0", NULL, 0);
    const tnode_t *to_a[] = {&a};
    node_open(&b, 2, "127.0.0.1:0", to_a, 1);
    const tnode_t *to_ab[] = {&a, &b};
    node_open(&c, 3, "localhost:0", to_ab, 2);
    RUN_UNTIL(peers_of(&a) == 2 && peers_of(&b) == 2 && peers_of(&c) == 2);
    assert_int_equal(a.ups + b.ups + c.ups, 6);
    assert_int_equal(kumo_p2p_broadcast(a.p, KUMO_P2P_CH_CONSENSUS, kumo_bytes_make("vote", 4)), 2);
    uint8_t cid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&c, cid);
    for (uint8_t ch = KUMO_P2P_CH_CONSENSUS; ch < KUMO_P2P_CH_COUNT; ch++) {
        assert_int_equal(kumo_p2p_send(b.p, cid, ch, kumo_bytes_make("x", 1), NULL), 0);
    }
    /* The largest frame of a channel passes whole. */
    static uint8_t evidence[64u * 1024u];
    memset(evidence, 'e', sizeof(evidence));
    assert_int_equal(kumo_p2p_send(a.p, cid, KUMO_P2P_CH_EVIDENCE,
                                   kumo_bytes_make(evidence, sizeof(evidence)), NULL),
                     0);
    RUN_UNTIL(b.msgs[KUMO_P2P_CH_CONSENSUS] == 1 && c.msgs[KUMO_P2P_CH_CONSENSUS] == 2 &&
              c.msgs[KUMO_P2P_CH_EVIDENCE] == 2);
    assert_int_equal(c.msgs[KUMO_P2P_CH_MEMPOOL], 1);
    assert_int_equal(c.msgs[KUMO_P2P_CH_BLOCKSYNC], 1);
    assert_int_equal(bad_of(&a) + bad_of(&b) + bad_of(&c), 0);
    uint8_t ids[4][KUMO_TLS_NODE_ID_BYTES];
    assert_int_equal(kumo_p2p_peers(c.p, ids, 4), 2);
    assert_int_equal(kumo_p2p_peers(c.p, ids, 1), 1);
    kumo_p2p_stats_t st = stats_of(&c);
    assert_true(st.frames_in >= 6 && st.bytes_in >= sizeof(evidence));
    /* Send errors: bad channel, too big, unknown peer. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_p2p_send(b.p, cid, 0, kumo_bytes_make("x", 1), &err), KUMO_EINVAL);
    assert_int_equal(kumo_p2p_send(b.p, cid, 9, kumo_bytes_make("x", 1), &err), KUMO_EINVAL);
    static uint8_t big[1024u * 1024u + 1u];
    assert_int_equal(
        kumo_p2p_send(b.p, cid, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make(big, sizeof(big)), &err),
        KUMO_ELIMIT);
    uint8_t nobody[KUMO_TLS_NODE_ID_BYTES] = {0};
    assert_int_equal(kumo_p2p_send(b.p, nobody, 1, kumo_bytes_make("x", 1), &err), KUMO_ENOTFOUND);
    assert_int_equal(kumo_p2p_broadcast(b.p, 0, kumo_bytes_make("x", 1)), 0);
    kumo_p2p_close(c.p);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_ipv6_loopback(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    memset(&a, 0, sizeof(a));
    key_make(61, &a.kp);
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    cfg.node_key = &a.kp;
    cfg.listen = "[::1]:0";
    kumo_p2p_callbacks_t cb = {.ctx = &a, .peer_up = on_up, .peer_down = on_down, .on_msg = on_msg};
    if (kumo_p2p_open(&cfg, base, &cb, &a.p, NULL) != 0) {
        skip(); /* no IPv6 on this machine */
    }
    assert_int_equal(strncmp(kumo_p2p_listen_addr(a.p), "[::1]:", 6), 0);
    const tnode_t *to_a[] = {&a};
    node_open(&b, 62, NULL, to_a, 1);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- peers that are refused ---- */

static void test_pinned_id_and_chain(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    tnode_t impostor;
    tnode_t other_chain;
    node_open(&a, 11, "127.0.0.1:0", NULL, 0);
    node_open(&b, 14, NULL, (const tnode_t *const[]){&a}, 1);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    /* Dial a's address expecting someone else's key. */
    tnode_t fake = a;
    key_make(99, &fake.kp);
    node_open(&impostor, 12, NULL, (const tnode_t *const[]){&fake}, 1);
    RUN_UNTIL(bad_of(&impostor) >= 1);
    topts_t o = {.chain = "another-chain"};
    node_open_opts(&other_chain, 13, &o, (const tnode_t *const[]){&a}, 1);
    RUN_UNTIL(bad_of(&a) >= 1 && bad_of(&other_chain) >= 1);
    assert_int_equal(impostor.ups + other_chain.ups, 0);
    assert_int_equal(a.ups, 1); /* only b */
    assert_int_equal(peers_of(&a), 1);
    kumo_p2p_close(other_chain.p);
    kumo_p2p_close(impostor.p);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- a raw peer (plain TCP, or TLS with its own HELLO) that misbehaves ---- */

typedef enum raw_mode {
    RAW_GARBAGE = 0, /* plain text instead of TLS */
    RAW_SILENT_TCP,  /* connects, sends nothing */
    RAW_TLS,         /* TLS, then `first` (a HELLO unless given), then `after` */
} raw_mode_t;

typedef struct raw_peer {
    char addr[64];
    const char *src; /* bind to this source host (NULL: 127.0.0.1) */
    uint8_t tag;
    raw_mode_t mode;
    uint8_t version; /* of the HELLO; 0: ours */
    const uint8_t *first;
    size_t first_len;
    const uint8_t *after;
    size_t after_len;
    int done; /* set (atomically) once the thread saw the connection close */
} raw_peer_t;

static int raw_connect(const char *addr, const char *src)
{
    char host[64];
    (void)snprintf(host, sizeof(host), "%s", addr);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    (void)inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    (void)inet_pton(AF_INET, src != NULL ? src : "127.0.0.1", &from.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        abort(); /* not a cmocka assert: this is another thread */
    }
    return fd;
}

static void raw_tls(raw_peer_t *rp, int fd)
{
    kumo_crypto_keypair_t kp;
    key_make(rp->tag, &kp);
    kumo_buf_t cert;
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
    kumo_tls_ctx_cfg_t tc = {
        .cert_pem = kumo_bytes_make(NULL, 0), .key = &kp, .peer_check = KUMO_TLS_PEER_PUBKEY};
    void *ctx = NULL;
    if (kumo_tls_cert_self_signed(&kp, "raw", 1, &cert, NULL) != 0 ||
        (tc.cert_pem = kumo_buf_bytes(&cert), kumo_tls_ctx_new(&tc, &ctx, NULL)) != 0) {
        abort();
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        uint8_t frame[KUMO_P2P_FRAME_HEADER + KUMO_P2P_HELLO_BYTES_MAX];
        kumo_p2p_hello_t h = {.version = rp->version != 0 ? rp->version
                                                          : (uint8_t)KUMO_P2P_PROTOCOL_VERSION};
        (void)snprintf(h.chain_id, sizeof(h.chain_id), "%s", CHAIN);
        kumo_tls_node_id(kp.pubkey, h.id);
        size_t len = 0;
        if (kumo_p2p_hello_encode(&h, frame + 5, sizeof(frame) - 5, &len) != 0) {
            abort();
        }
        kumo_be32_put(frame, (uint32_t)len + 1u);
        frame[4] = KUMO_P2P_CH_HELLO;
        if (rp->first != NULL) {
            (void)SSL_write(ssl, rp->first, (int)rp->first_len);
        } else {
            (void)SSL_write(ssl, frame, (int)(len + 5));
        }
        if (rp->after_len > 0) {
            (void)SSL_write(ssl, rp->after, (int)rp->after_len);
        }
        char b[256];
        while (SSL_read(ssl, b, sizeof(b)) > 0) {
        }
    }
    SSL_free(ssl);
    kumo_tls_ctx_free(ctx);
    kumo_buf_free(&cert);
}

static void *raw_peer_run(void *arg)
{
    raw_peer_t *rp = arg;
    int fd = raw_connect(rp->addr, rp->src);
    if (rp->mode == RAW_TLS) {
        raw_tls(rp, fd);
    } else {
        if (rp->mode == RAW_GARBAGE) {
            (void)send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL);
        }
        char b[64];
        while (recv(fd, b, sizeof(b), 0) > 0) {
        }
    }
    (void)close(fd);
    __atomic_store_n(&rp->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Runs one raw peer against a (which has b as its honest peer): it must be dropped and
 * counted, and the a-b link must stay up. */
static void raw_case(tnode_t *a, tnode_t *b, raw_peer_t rp)
{
    (void)snprintf(rp.addr, sizeof(rp.addr), "%s", kumo_p2p_listen_addr(a->p));
    uint64_t bad0 = bad_of(a);
    uint32_t ups0 = a->ups;
    uint32_t downs0 = a->downs;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_peer_run, &rp), 0);
    RUN_UNTIL(bad_of(a) == bad0 + 1u && __atomic_load_n(&rp.done, __ATOMIC_SEQ_CST) == 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    RUN_UNTIL(settled(a));
    assert_int_equal(peers_of(a), 1);
    assert_int_equal(peers_of(b), 1);
    /* After a valid HELLO the raw peer was up until its bad frame; otherwise never. */
    uint32_t up = rp.mode == RAW_TLS && rp.first == NULL && rp.version == 0 ? 1u : 0u;
    assert_int_equal(a->ups, ups0 + up);
    assert_int_equal(a->downs, downs0 + up);
}

static const uint8_t oversized[] = {0x00, 0x90, 0x00, 0x00, KUMO_P2P_CH_MEMPOOL};
static const uint8_t unknown_channel[] = {0x00, 0x00, 0x00, 0x02, 0x09, 0x00};
static const uint8_t hello_again[] = {0x00, 0x00, 0x00, 0x02, KUMO_P2P_CH_HELLO, 0x01};
static const uint8_t empty_frame[] = {0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t data_frame[] = {0x00, 0x00, 0x00, 0x02, KUMO_P2P_CH_MEMPOOL, 0x01};
static const uint8_t bad_hello[] = {0x00, 0x00, 0x00, 0x03, KUMO_P2P_CH_HELLO, 0x01, 0x00};

static void test_bad_frames_drop_only_the_sender(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 21, "127.0.0.1:0", NULL, 0);
    node_open(&b, 22, "127.0.0.1:0", (const tnode_t *const[]){&a}, 1);
    kumo_p2p_peer_addr_t pb;
    peer_of(&b, &pb);
    assert_int_equal(kumo_p2p_dial(a.p, &pb, NULL), 0); /* b is a persistent peer of a */
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1 && settled(&a) && settled(&b));
    /* Each violation bans the stranger's host: every case comes from a host of its own. */
    const raw_peer_t cases[] = {
        {.tag = 31, .src = "127.0.0.31", .mode = RAW_GARBAGE},
        {.tag = 32,
         .src = "127.0.0.32",
         .mode = RAW_TLS,
         .after = oversized,
         .after_len = sizeof(oversized)},
        {.tag = 33,
         .src = "127.0.0.33",
         .mode = RAW_TLS,
         .after = unknown_channel,
         .after_len = sizeof(unknown_channel)},
        {.tag = 34,
         .src = "127.0.0.34",
         .mode = RAW_TLS,
         .after = hello_again,
         .after_len = sizeof(hello_again)},
        {.tag = 35,
         .src = "127.0.0.35",
         .mode = RAW_TLS,
         .after = empty_frame,
         .after_len = sizeof(empty_frame)},
        {.tag = 36,
         .src = "127.0.0.36",
         .mode = RAW_TLS,
         .first = data_frame,
         .first_len = sizeof(data_frame)},
        {.tag = 37,
         .src = "127.0.0.37",
         .mode = RAW_TLS,
         .first = bad_hello,
         .first_len = sizeof(bad_hello)},
        {.tag = 38, .src = "127.0.0.38", .mode = RAW_TLS, .version = 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw_case(&a, &b, cases[i]);
    }
    /* A banned host's next connection is refused before TLS, counted, not logged per line. */
    uint64_t refused0 = stats_of(&a).refused_banned;
    raw_peer_t again = {.tag = 39, .src = "127.0.0.32", .mode = RAW_SILENT_TCP};
    (void)snprintf(again.addr, sizeof(again.addr), "%s", kumo_p2p_listen_addr(a.p));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_peer_run, &again), 0);
    RUN_UNTIL(__atomic_load_n(&again.done, __ATOMIC_SEQ_CST) == 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(stats_of(&a).refused_banned, refused0 + 1u);
    assert_int_equal(stats_of(&a).bans, 7);
    /* The app can drop a peer too (a bad consensus message): a persistent peer is only kept
     * away until its redial, so a and b reconnect. */
    uint8_t bid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&b, bid);
    uint64_t bad0 = bad_of(&a);
    uint32_t downs0 = a.downs;
    kumo_p2p_disconnect(a.p, bid, "test");
    assert_int_equal(bad_of(&a), bad0 + 1u);
    RUN_UNTIL(a.downs == downs0 + 1u && peers_of(&a) == 1 && peers_of(&b) == 1);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_handshake_timeout(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    topts_t o = {.listen = "127.0.0.1:0", .handshake_ms = 100};
    node_open_opts(&a, 71, &o, NULL, 0);
    node_open(&b, 72, NULL, (const tnode_t *const[]){&a}, 1);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    /* Silent over TCP; then TLS without a HELLO (an incomplete header instead). */
    static const uint8_t partial[] = {0x00, 0x00};
    raw_case(&a, &b, (raw_peer_t){.tag = 73, .mode = RAW_SILENT_TCP});
    raw_case(&a, &b, (raw_peer_t){.tag = 74, .mode = RAW_TLS, .first = partial, .first_len = 2});
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- slots: caps, usefulness, penalties (the rules are in admit.c, tables in test_admit.c) */

static uint64_t pending_of(const tnode_t *n)
{
    return stats_of(n).pending;
}

/* A silent TCP client from src, run on its own thread until a closes it. */
static void silent_start(const tnode_t *a, raw_peer_t *rp, const char *src, pthread_t *t)
{
    memset(rp, 0, sizeof(*rp));
    rp->mode = RAW_SILENT_TCP;
    rp->src = src;
    (void)snprintf(rp->addr, sizeof(rp->addr), "%s", kumo_p2p_listen_addr(a->p));
    assert_int_equal(pthread_create(t, NULL, raw_peer_run, rp), 0);
}

/* A stranger dialing a from src (a does not know it). */
static void stranger_open(tnode_t *s, uint8_t tag, const char *src, const tnode_t *a)
{
    topts_t o = {.source = src};
    node_open_opts(s, tag, &o, (const tnode_t *const[]){a}, 1);
}

/* Makes the node with id_of(p) a persistent peer of a at an address where nothing listens, so
 * only p's own dials connect them (inbound at a). */
static void persistent_unreachable(tnode_t *a, const tnode_t *p)
{
    kumo_p2p_peer_addr_t pa;
    id_of(p, pa.id);
    (void)snprintf(pa.host_port, sizeof(pa.host_port), "127.0.0.1:1");
    assert_int_equal(kumo_p2p_dial(a->p, &pa, NULL), 0);
}

static void caps_strangers(kumo_p2p_cfg_t *cfg)
{
    cfg->inbound_count_max = 2;
    cfg->inbound_per_host_max = 1;
}

static void test_stranger_caps(void **state)
{
    (void)state;
    tnode_t a;
    topts_t o = {.listen = "127.0.0.1:0", .tweak = caps_strangers};
    node_open_opts(&a, 100, &o, NULL, 0);
    tnode_t s[4];
    stranger_open(&s[0], 101, "127.0.0.2", &a);
    RUN_UNTIL(s[0].ups == 1 && stats_of(&a).strangers == 1);
    /* Over the per-host cap: refused after TLS (the key is only known then), counted. */
    stranger_open(&s[1], 102, "127.0.0.2", &a);
    RUN_UNTIL(stats_of(&a).refused_inbound >= 1);
    kumo_p2p_close(s[1].p);
    stranger_open(&s[2], 103, "127.0.0.3", &a);
    RUN_UNTIL(s[2].ups == 1 && stats_of(&a).strangers == 2);
    /* Over the total cap. */
    stranger_open(&s[3], 104, "127.0.0.4", &a);
    RUN_UNTIL(stats_of(&a).refused_inbound >= 2);
    kumo_p2p_close(s[3].p);
    assert_int_equal(s[1].ups + s[3].ups, 0);
    /* A persistent peer is not a stranger: it gets in from a host at its cap, past the total. */
    tnode_t p;
    memset(&p, 0, sizeof(p));
    key_make(105, &p.kp);
    persistent_unreachable(&a, &p);
    stranger_open(&p, 105, "127.0.0.2", &a);
    RUN_UNTIL(p.ups == 1 && peers_of(&a) == 3);
    assert_int_equal(stats_of(&a).strangers, 2);
    assert_int_equal(bad_of(&a), 0);
    kumo_p2p_close(p.p);
    kumo_p2p_close(s[2].p);
    kumo_p2p_close(s[0].p);
    kumo_p2p_close(a.p);
}

static uint32_t done_count(raw_peer_t *rp, uint32_t n)
{
    uint32_t done = 0;
    for (uint32_t i = 0; i < n; i++) {
        done += __atomic_load_n(&rp[i].done, __ATOMIC_SEQ_CST) == 1 ? 1u : 0u;
    }
    return done;
}

static void caps_pending(kumo_p2p_cfg_t *cfg)
{
    cfg->pending_count_max = 3;
    cfg->pending_per_host_max = 2;
    cfg->inbound_count_max = 0; /* only persistent peers */
}

static void test_pending_caps(void **state)
{
    (void)state;
    tnode_t a;
    /* A long handshake deadline: no silent client is stale (evictable by its own host). */
    topts_t o = {.listen = "127.0.0.1:0", .handshake_ms = 60000, .tweak = caps_pending};
    node_open_opts(&a, 110, &o, NULL, 0);
    raw_peer_t rp[6];
    pthread_t t[6];
    silent_start(&a, &rp[0], "127.0.0.2", &t[0]);
    RUN_UNTIL(pending_of(&a) == 1);
    silent_start(&a, &rp[1], "127.0.0.2", &t[1]);
    RUN_UNTIL(pending_of(&a) == 2);
    /* Host at its cap, nothing stale: refused at once, not counted as misbehaviour. */
    silent_start(&a, &rp[2], "127.0.0.2", &t[2]);
    RUN_UNTIL(__atomic_load_n(&rp[2].done, __ATOMIC_SEQ_CST) == 1);
    assert_int_equal(stats_of(&a).refused_pending, 1);
    silent_start(&a, &rp[3], "127.0.0.3", &t[3]);
    RUN_UNTIL(pending_of(&a) == 3);
    /* Total cap: the host holding the most pending connections loses its oldest. */
    silent_start(&a, &rp[4], "127.0.0.4", &t[4]);
    RUN_UNTIL(done_count(rp, 2) == 1 && stats_of(&a).evicted_pending == 1 && pending_of(&a) == 3);
    /* Every host holds one now: a host that already holds its share is refused. */
    silent_start(&a, &rp[5], "127.0.0.3", &t[5]);
    RUN_UNTIL(__atomic_load_n(&rp[5].done, __ATOMIC_SEQ_CST) == 1);
    assert_int_equal(stats_of(&a).refused_pending, 2);
    /* A persistent peer from a host holding none gets in, and past inbound_count_max 0. */
    tnode_t p;
    memset(&p, 0, sizeof(p));
    key_make(111, &p.kp);
    persistent_unreachable(&a, &p);
    stranger_open(&p, 111, "127.0.0.1", &a);
    RUN_UNTIL(p.ups == 1 && peers_of(&a) == 1);
    assert_int_equal(stats_of(&a).evicted_pending, 2);
    assert_int_equal(bad_of(&a), 0);
    kumo_p2p_close(p.p);
    kumo_p2p_close(a.p); /* its sockets close on the next loop turns: the clients end */
    RUN_UNTIL(done_count(rp, 6) == 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
}

static void useful_short(kumo_p2p_cfg_t *cfg)
{
    cfg->useful_timeout_ms = 2000;
}

static void test_useful_timeout(void **state)
{
    (void)state;
    tnode_t a;
    topts_t o = {.listen = "127.0.0.1:0", .tweak = useful_short};
    node_open_opts(&a, 120, &o, NULL, 0);
    tnode_t idle;
    tnode_t busy;
    tnode_t p;
    stranger_open(&idle, 121, "127.0.0.2", &a);
    stranger_open(&busy, 122, "127.0.0.3", &a);
    node_open(&p, 123, "127.0.0.1:0", (const tnode_t *const[]){&a}, 1);
    kumo_p2p_peer_addr_t pp;
    peer_of(&p, &pp);
    assert_int_equal(kumo_p2p_dial(a.p, &pp, NULL), 0);
    RUN_UNTIL(idle.ups == 1 && busy.ups == 1 && peers_of(&a) == 3);
    uint8_t busy_id[KUMO_TLS_NODE_ID_BYTES];
    id_of(&busy, busy_id);
    /* busy is useful on every loop turn; idle never is; p is persistent and never needs to be. */
    uint64_t deadline = now_ms() + 30000u;
    while (stats_of(&a).dropped_idle == 0 && now_ms() < deadline) {
        kumo_p2p_mark_useful(a.p, busy_id);
        (void)event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(stats_of(&a).dropped_idle, 1);
    RUN_UNTIL(idle.downs == 1);
    assert_int_equal(busy.downs, 0);
    assert_int_equal(p.downs, 0);
    assert_int_equal(bad_of(&a), 0);
    kumo_p2p_close(idle.p);
    /* The same key again (a newer connection replaces the older): the clock goes on, and the
     * stranger is still dropped when nothing it sends is useful. */
    tnode_t first;
    tnode_t second;
    stranger_open(&first, 124, "127.0.0.4", &a);
    RUN_UNTIL(first.ups == 1);
    stranger_open(&second, 124, "127.0.0.5", &a);
    RUN_UNTIL(second.ups >= 1);
    kumo_p2p_close(first.p);
    deadline = now_ms() + 30000u;
    while (stats_of(&a).dropped_idle < 2 && now_ms() < deadline) {
        kumo_p2p_mark_useful(a.p, busy_id);
        (void)event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(stats_of(&a).dropped_idle, 2);
    assert_int_equal(busy.downs, 0);
    kumo_p2p_close(second.p);
    kumo_p2p_close(busy.p);
    kumo_p2p_close(p.p);
    kumo_p2p_close(a.p);
}

static void test_penalize_and_ban(void **state)
{
    (void)state;
    tnode_t a;
    node_open(&a, 130, "127.0.0.1:0", NULL, 0);
    tnode_t s;
    tnode_t b;
    stranger_open(&s, 131, "127.0.0.2", &a);
    node_open(&b, 132, "127.0.0.1:0", (const tnode_t *const[]){&a}, 1);
    kumo_p2p_peer_addr_t pb;
    peer_of(&b, &pb);
    assert_int_equal(kumo_p2p_dial(a.p, &pb, NULL), 0);
    RUN_UNTIL(s.ups == 1 && b.ups == 1 && peers_of(&a) == 2 && settled(&a));
    uint8_t sid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&s, sid);
    /* Points add up; the threshold bans the id and the host. */
    kumo_p2p_penalize(a.p, sid, KUMO_P2P_SCORE_BAN - 1u, "slow");
    assert_int_equal(peers_of(&a), 2);
    kumo_p2p_penalize(a.p, sid, 1, "useless answer");
    assert_int_equal(stats_of(&a).bans, 1);
    assert_int_equal(bad_of(&a), 1);
    RUN_UNTIL(s.downs == 1);
    /* s redials from its banned host: refused before TLS; so is a fresh key from that host. */
    tnode_t fresh;
    stranger_open(&fresh, 133, "127.0.0.2", &a);
    RUN_UNTIL(stats_of(&a).refused_banned >= 2);
    kumo_p2p_close(fresh.p);
    kumo_p2p_close(s.p);
    assert_int_equal(s.ups + fresh.ups, 1);
    /* Another host is not affected. */
    tnode_t other;
    stranger_open(&other, 134, "127.0.0.3", &a);
    RUN_UNTIL(other.ups == 1 && peers_of(&a) == 2);
    /* A stranger on the host of a persistent peer (b, 127.0.0.1) is banned by id only: a fresh
     * key from there gets in. */
    tnode_t near;
    tnode_t near2;
    stranger_open(&near, 135, "127.0.0.1", &a);
    RUN_UNTIL(near.ups == 1 && peers_of(&a) == 3);
    uint8_t near_id[KUMO_TLS_NODE_ID_BYTES];
    id_of(&near, near_id);
    kumo_p2p_penalize(a.p, near_id, KUMO_P2P_SCORE_BAN, "invalid vote");
    RUN_UNTIL(near.downs == 1 && stats_of(&a).refused_banned >= 3); /* its redial, by id */
    kumo_p2p_close(near.p);
    stranger_open(&near2, 136, "127.0.0.1", &a);
    RUN_UNTIL(near2.ups == 1 && peers_of(&a) == 3);
    kumo_p2p_close(near2.p);
    RUN_UNTIL(peers_of(&a) == 2);
    /* A persistent peer at the threshold is dropped, then back after its redial backoff. */
    uint8_t bid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&b, bid);
    kumo_p2p_penalize(a.p, bid, KUMO_P2P_SCORE_BAN, "invalid block");
    assert_int_equal(stats_of(&a).bans, 3);
    RUN_UNTIL(b.downs >= 1 && b.ups >= 2 && peers_of(&a) == 2 && peers_of(&b) == 1);
    /* A score outlives the connection: points, a drop, the reconnection, points again. */
    tnode_t back;
    stranger_open(&back, 137, "127.0.0.6", &a);
    RUN_UNTIL(back.ups == 1 && peers_of(&a) == 3);
    uint8_t back_id[KUMO_TLS_NODE_ID_BYTES];
    id_of(&back, back_id);
    kumo_p2p_penalize(a.p, back_id, 60, "slow");
    kumo_p2p_disconnect(a.p, back_id, "no answer"); /* drops, adds nothing, bans nothing */
    assert_int_equal(stats_of(&a).bans, 3);
    RUN_UNTIL(back.ups == 2 && peers_of(&a) == 3); /* it redials and gets in */
    kumo_p2p_penalize(a.p, back_id, 40, "slow again");
    assert_int_equal(stats_of(&a).bans, 4);
    kumo_p2p_close(back.p);
    /* Nor does a second connection with the same key, replacing the first. */
    tnode_t twin1;
    tnode_t twin2;
    stranger_open(&twin1, 138, "127.0.0.7", &a);
    RUN_UNTIL(twin1.ups == 1 && peers_of(&a) == 3);
    uint8_t twin_id[KUMO_TLS_NODE_ID_BYTES];
    id_of(&twin1, twin_id);
    kumo_p2p_penalize(a.p, twin_id, 60, "slow");
    stranger_open(&twin2, 138, "127.0.0.8", &a);
    RUN_UNTIL(twin2.ups >= 1);
    kumo_p2p_close(twin1.p);
    RUN_UNTIL(twin2.ups > twin2.downs && peers_of(&a) == 3 && settled(&a));
    kumo_p2p_penalize(a.p, twin_id, 40, "slow again");
    assert_int_equal(stats_of(&a).bans, 5);
    kumo_p2p_close(twin2.p);
    /* Unknown peers: no effect. */
    uint8_t nobody[KUMO_TLS_NODE_ID_BYTES] = {0};
    kumo_p2p_penalize(a.p, nobody, KUMO_P2P_SCORE_BAN, "gone");
    kumo_p2p_mark_useful(a.p, nobody);
    kumo_p2p_disconnect(a.p, nobody, "gone");
    assert_int_equal(stats_of(&a).bans, 5);
    kumo_p2p_close(other.p);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- queues ---- */

static void test_queue_full(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    tnode_t c;
    topts_t o = {.listen = "127.0.0.1:0", .queue_max = 64u * 1024u};
    node_open_opts(&a, 41, &o, NULL, 0);
    node_open(&b, 42, NULL, (const tnode_t *const[]){&a}, 1);
    node_open(&c, 43, NULL, (const tnode_t *const[]){&a}, 1);
    RUN_UNTIL(peers_of(&a) == 2 && peers_of(&b) == 1 && peers_of(&c) == 1);
    uint8_t bid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&b, bid);
    static uint8_t chunk[40u * 1024u];
    memset(chunk, 'q', sizeof(chunk));
    kumo_bytes_t p = kumo_bytes_make(chunk, sizeof(chunk));
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_p2p_send(a.p, bid, KUMO_P2P_CH_MEMPOOL, p, &err), 0);
    assert_int_equal(kumo_p2p_send(a.p, bid, KUMO_P2P_CH_MEMPOOL, p, &err), KUMO_ELIMIT);
    assert_int_equal(stats_of(&a).dropped_send, 1);
    /* A broadcast skips (and counts) the full queue, reaches the other peer. */
    assert_int_equal(kumo_p2p_broadcast(a.p, KUMO_P2P_CH_MEMPOOL, p), 1);
    assert_int_equal(stats_of(&a).dropped_send, 2);
    RUN_UNTIL(b.msgs[KUMO_P2P_CH_MEMPOOL] == 1 && c.msgs[KUMO_P2P_CH_MEMPOOL] == 1);
    assert_int_equal(b.last_len, sizeof(chunk));
    assert_int_equal(b.last_byte, 'q');
    /* Drained: the queue takes frames again. */
    assert_int_equal(kumo_p2p_send(a.p, bid, KUMO_P2P_CH_MEMPOOL, p, &err), 0);
    RUN_UNTIL(b.msgs[KUMO_P2P_CH_MEMPOOL] == 2);
    assert_int_equal(bad_of(&a) + bad_of(&b) + bad_of(&c), 0);
    kumo_p2p_close(c.p);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- redial and one connection per peer ---- */

static void test_redial_after_restart(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 51, "127.0.0.1:0", NULL, 0);
    char addr[KUMO_P2P_ADDR_BYTES_MAX];
    (void)snprintf(addr, sizeof(addr), "%s", kumo_p2p_listen_addr(a.p));
    node_open(&b, 52, "127.0.0.1:0", (const tnode_t *const[]){&a}, 1);
    RUN_UNTIL(peers_of(&b) == 1);
    kumo_p2p_close(a.p); /* a goes away, then comes back on the same address */
    RUN_UNTIL(b.downs == 1);
    node_open(&a, 51, addr, (const tnode_t *const[]){&b}, 1); /* and now both dial */
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1 && b.ups == 2 && settled(&a) && settled(&b));
    assert_int_equal(a.ups - a.downs, 1);
    assert_int_equal(b.ups - b.downs, 1);
    uint8_t aid[KUMO_TLS_NODE_ID_BYTES];
    id_of(&a, aid);
    assert_int_equal(kumo_p2p_send(b.p, aid, KUMO_P2P_CH_CONSENSUS, kumo_bytes_make("r", 1), NULL),
                     0);
    RUN_UNTIL(a.msgs[KUMO_P2P_CH_CONSENSUS] == 1);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_simultaneous_dial(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 81, "127.0.0.1:0", NULL, 0);
    node_open(&b, 82, "127.0.0.1:0", NULL, 0);
    kumo_p2p_peer_addr_t pa;
    kumo_p2p_peer_addr_t pb;
    peer_of(&a, &pa);
    peer_of(&b, &pb);
    /* Both dial on the same loop turn. */
    assert_int_equal(kumo_p2p_dial(a.p, &pb, NULL), 0);
    assert_int_equal(kumo_p2p_dial(b.p, &pa, NULL), 0);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1 && settled(&a) && settled(&b));
    assert_int_equal(a.ups - a.downs, 1);
    assert_int_equal(b.ups - b.downs, 1);
    assert_int_equal(bad_of(&a) + bad_of(&b), 0);
    /* The kept connection carries frames both ways. */
    assert_int_equal(kumo_p2p_send(a.p, pb.id, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make("1", 1), NULL),
                     0);
    assert_int_equal(kumo_p2p_send(b.p, pa.id, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make("2", 1), NULL),
                     0);
    RUN_UNTIL(a.msgs[KUMO_P2P_CH_MEMPOOL] == 1 && b.msgs[KUMO_P2P_CH_MEMPOOL] == 1);
    /* Dial refusals: ourselves, a known peer, too many. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_p2p_dial(a.p, &pa, &err), KUMO_EINVAL);
    assert_int_equal(kumo_p2p_dial(a.p, &pb, &err), KUMO_EEXIST);
    kumo_p2p_peer_addr_t x = pb;
    (void)snprintf(x.host_port, sizeof(x.host_port), "127.0.0.1:1");
    for (uint32_t i = 1; i < KUMO_P2P_PERSISTENT_PEER_MAX; i++) {
        x.id[0] = (uint8_t)i;
        x.id[1] = (uint8_t)(pb.id[1] + 1u);
        assert_int_equal(kumo_p2p_dial(a.p, &x, &err), 0);
    }
    x.id[0] = 0xff;
    assert_int_equal(kumo_p2p_dial(a.p, &x, &err), KUMO_ELIMIT);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

/* ---- addresses and config ---- */

static void test_peer_addr_parse(void **state)
{
    (void)state;
    const char *id = "0123456789abcdef0123456789abcdef01234567";
    char text[256];
    kumo_p2p_peer_addr_t pa;
    const char *good[] = {"127.0.0.1:26656", "localhost:1", "[::1]:26656", "10.0.0.7:0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        (void)snprintf(text, sizeof(text), "%s@%s", id, good[i]);
        assert_int_equal(kumo_p2p_peer_addr_parse(text, &pa, NULL), 0);
        assert_string_equal(pa.host_port, good[i]);
        assert_int_equal(pa.id[0], 0x01);
    }
    const char *bad[] = {
        "127.0.0.1:26656",                                            /* no id */
        "0123@127.0.0.1:1",                                           /* short id */
        "zz23456789abcdef0123456789abcdef01234567@127.0.0.1:1",       /* not hex */
        "0123456789abcdef0123456789abcdef01234567",                   /* no @ */
        "0123456789abcdef0123456789abcdef01234567@127.0.0.1",         /* no port */
        "0123456789abcdef0123456789abcdef01234567@127.0.0.1:",        /* empty port */
        "0123456789abcdef0123456789abcdef01234567@127.0.0.1:65536",   /* port range */
        "0123456789abcdef0123456789abcdef01234567@127.0.0.1:12ab",    /* port digits */
        "0123456789abcdef0123456789abcdef01234567@example.com:26656", /* no DNS */
        "0123456789abcdef0123456789abcdef01234567@999.0.0.1:26656",   /* not an address */
    };
    kumo_err_ctx_t err = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kumo_p2p_peer_addr_parse(bad[i], &pa, &err), KUMO_EDECODE);
        assert_true(err.detail[0] != '\0');
    }
    char longer[KUMO_P2P_ADDR_BYTES_MAX + 64];
    memset(longer, '1', sizeof(longer));
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, id, 40);
    longer[40] = '@';
    assert_int_equal(kumo_p2p_peer_addr_parse(longer, &pa, &err), KUMO_EDECODE);
}

static void test_config_refusals(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kp;
    key_make(91, &kp);
    kumo_p2p_callbacks_t cb = {0};
    kumo_p2p_t *p = NULL;
    kumo_err_ctx_t err = {0};
    kumo_p2p_cfg_t cfg;
    for (int i = 0; i < 14; i++) {
        kumo_p2p_cfg_default(&cfg);
        cfg.chain_id = CHAIN;
        cfg.node_key = &kp;
        switch (i) {
        case 6:
            cfg.pending_count_max = KUMO_P2P_PENDING_COUNT_MAX + 1u;
            break;
        case 7:
            cfg.pending_count_max = 0;
            break;
        case 8:
            cfg.pending_per_host_max = 0;
            break;
        case 9:
            cfg.inbound_per_host_max = 0;
            break;
        case 10:
            cfg.useful_timeout_ms = 0;
            break;
        case 11:
            cfg.ban_ms = 0;
            break;
        case 12:
            cfg.summary_interval_ms = 0;
            break;
        case 13:
            cfg.dial_source = "example.com";
            break;
        case 0:
            cfg.chain_id = NULL;
            break;
        case 1:
            cfg.node_key = NULL;
            break;
        case 2:
            cfg.inbound_count_max = KUMO_P2P_PEER_COUNT_MAX + 1u;
            break;
        case 3:
            cfg.redial_max_ms = cfg.redial_min_ms - 1u;
            break;
        case 4:
            cfg.listen = "example.com:0";
            break;
        default:
            cfg.listen = "127.0.0.1";
            break;
        }
        assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &p, &err), KUMO_EINVAL);
    }
    /* Every cap at its maximum opens. */
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    cfg.node_key = &kp;
    cfg.inbound_count_max = KUMO_P2P_PEER_COUNT_MAX;
    cfg.pending_count_max = KUMO_P2P_PENDING_COUNT_MAX;
    cfg.dial_source = "::1";
    assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &p, &err), 0);
    kumo_p2p_close(p);
    /* A persistent list naming this node skips it. */
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = CHAIN;
    cfg.node_key = &kp;
    kumo_tls_node_id(kp.pubkey, cfg.persistent[0].id);
    (void)snprintf(cfg.persistent[0].host_port, sizeof(cfg.persistent[0].host_port), "127.0.0.1:1");
    cfg.persistent_count = 1;
    assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &p, &err), 0);
    uint8_t self[KUMO_TLS_NODE_ID_BYTES];
    kumo_p2p_self_id(p, self);
    assert_memory_equal(self, cfg.persistent[0].id, sizeof(self));
    (void)event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(p, &st);
    assert_int_equal(st.pending + st.peers, 0);
    kumo_p2p_close(p);
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mesh_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_id_and_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames_drop_only_the_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stranger_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_useful_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_penalize_and_ban, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redial_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_dial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_addr_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
