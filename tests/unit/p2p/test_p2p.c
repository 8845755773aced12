/*
 * test_p2p.c - real TLS links on loopback, one event_base driven until a condition holds or a
 * deadline passes: a mesh exchanges frames on every channel; a pinned id that does not match
 * the peer's key, another chain, garbage bytes, an oversized frame and an unknown channel all
 * drop the peer (counted) and leave the others up; send errors; a restarted peer is redialed;
 * two nodes dialing each other end with one connection.
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
} tnode_t;

static struct event_base *base;

static void on_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    (void)id;
    (void)pk;
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
    n->msgs[ch]++;
    n->last_len = p.len;
}

static void key_make(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static void peer_of(const tnode_t *n, kumo_p2p_peer_addr_t *out)
{
    kumo_tls_node_id(n->kp.pubkey, out->id);
    (void)snprintf(out->host_port, sizeof(out->host_port), "%s", kumo_p2p_listen_addr(n->p));
}

/* A node keyed by tag, listening on listen, dialing peers. */
static void node_open(tnode_t *n,
                      uint8_t tag,
                      const char *chain,
                      const char *listen,
                      const tnode_t *const *peers,
                      uint32_t peer_count,
                      uint64_t queue_max)
{
    memset(n, 0, sizeof(*n));
    key_make(tag, &n->kp);
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = chain;
    cfg.node_key = &n->kp;
    cfg.listen = listen;
    cfg.redial_min_ms = 20;
    cfg.redial_max_ms = 200;
    cfg.handshake_timeout_ms = 2000;
    if (queue_max > 0) {
        cfg.send_queue_bytes_max = queue_max;
    }
    for (uint32_t i = 0; i < peer_count; i++) {
        peer_of(peers[i], &cfg.persistent[cfg.persistent_count++]);
    }
    kumo_p2p_callbacks_t cb = {.ctx = n, .peer_up = on_up, .peer_down = on_down, .on_msg = on_msg};
    assert_int_equal(kumo_p2p_open(&cfg, base, &cb, &n->p, NULL), 0);
}

static uint32_t peers_of(const tnode_t *n)
{
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(n->p, &st);
    return st.peers;
}

static uint64_t bad_of(const tnode_t *n)
{
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(n->p, &st);
    return st.disconnects_bad;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop in 10 ms slices until cond() or 5 s. */
#define RUN_UNTIL(cond)                                  \
    do {                                                 \
        uint64_t deadline_ = now_ms() + 5000u;           \
        while (!(cond) && now_ms() < deadline_) {        \
            struct timeval tv_ = {0, 10000};             \
            (void)event_base_loopexit(base, &tv_);       \
            (void)event_base_dispatch(base);             \
        }                                                \
        if (!(cond)) {                                   \
            fail_msg("timed out waiting for %s", #cond); \
        }                                                \
    } while (0)

static void run_ms(uint32_t ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        struct timeval tv = {0, 10000};
        (void)event_base_loopexit(base, &tv);
        (void)event_base_dispatch(base);
    }
}

static void test_mesh_exchange(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    tnode_t c;
    node_open(&a, 1, CHAIN, "127.0.0.1:0", NULL, 0, 0);
    const tnode_t *to_a[] = {&a};
    node_open(&b, 2, CHAIN, "127.0.0.1:0", to_a, 1, 0);
    const tnode_t *to_ab[] = {&a, &b};
    node_open(&c, 3, CHAIN, "127.0.0.1:0", to_ab, 2, 0);
    RUN_UNTIL(peers_of(&a) == 2 && peers_of(&b) == 2 && peers_of(&c) == 2);
    assert_int_equal(kumo_p2p_broadcast(a.p, KUMO_P2P_CH_CONSENSUS, kumo_bytes_make("vote", 4)), 2);
    uint8_t cid[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(c.kp.pubkey, cid);
    for (uint8_t ch = KUMO_P2P_CH_CONSENSUS; ch < KUMO_P2P_CH_COUNT; ch++) {
        assert_int_equal(kumo_p2p_send(b.p, cid, ch, kumo_bytes_make("x", 1), NULL), 0);
    }
    RUN_UNTIL(b.msgs[KUMO_P2P_CH_CONSENSUS] == 1 && c.msgs[KUMO_P2P_CH_CONSENSUS] == 2 &&
              c.msgs[KUMO_P2P_CH_EVIDENCE] == 1);
    assert_int_equal(c.msgs[KUMO_P2P_CH_MEMPOOL], 1);
    assert_int_equal(c.msgs[KUMO_P2P_CH_BLOCKSYNC], 1);
    assert_int_equal(bad_of(&a) + bad_of(&b) + bad_of(&c), 0);
    /* Send errors: bad channel, too big, unknown peer. */
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_p2p_send(b.p, cid, 0, kumo_bytes_make("x", 1), &err), KUMO_EINVAL);
    static uint8_t big[1024u * 1024u + 1u];
    assert_int_equal(
        kumo_p2p_send(b.p, cid, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make(big, sizeof(big)), &err),
        KUMO_ELIMIT);
    uint8_t nobody[KUMO_TLS_NODE_ID_BYTES] = {0};
    assert_int_equal(kumo_p2p_send(b.p, nobody, 1, kumo_bytes_make("x", 1), &err), KUMO_ENOTFOUND);
    kumo_p2p_close(c.p);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_pinned_id_and_chain(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t impostor;
    tnode_t other_chain;
    node_open(&a, 11, CHAIN, "127.0.0.1:0", NULL, 0, 0);
    /* Dial a's address expecting someone else's key. */
    tnode_t fake = a;
    key_make(99, &fake.kp);
    const tnode_t *to_fake[] = {&fake};
    node_open(&impostor, 12, CHAIN, NULL, to_fake, 1, 0);
    const tnode_t *to_a[] = {&a};
    node_open(&other_chain, 13, "another-chain", NULL, to_a, 1, 0);
    RUN_UNTIL(bad_of(&impostor) >= 1 && bad_of(&a) + bad_of(&other_chain) >= 1);
    assert_int_equal(a.ups + impostor.ups + other_chain.ups, 0);
    kumo_p2p_close(other_chain.p);
    kumo_p2p_close(impostor.p);
    kumo_p2p_close(a.p);
}

/* ---- a raw TLS peer that speaks the handshake and then misbehaves ---- */

typedef struct raw_peer {
    char addr[64];
    uint8_t tag;
    const uint8_t *after_hello; /* bytes sent after a valid HELLO (NULL: garbage first) */
    size_t after_len;
    volatile int done; /* set by the thread when it has seen the connection close */
} raw_peer_t;

static void *raw_peer_body(raw_peer_t *rp);

static void *raw_peer_run(void *arg)
{
    raw_peer_t *rp = arg;
    void *r = raw_peer_body(rp);
    __atomic_store_n(&rp->done, 1, __ATOMIC_SEQ_CST);
    return r;
}

static void *raw_peer_body(raw_peer_t *rp)
{
    kumo_crypto_keypair_t kp;
    key_make(rp->tag, &kp);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    (void)snprintf(host, sizeof(host), "%s", rp->addr);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    (void)inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        (void)close(fd);
        return NULL;
    }
    if (rp->after_hello == NULL) {
        (void)send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL); /* not TLS at all */
        char b[16];
        (void)recv(fd, b, sizeof(b), 0);
        (void)close(fd);
        return NULL;
    }
    kumo_buf_t cert;
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
    if (kumo_tls_cert_self_signed(&kp, "raw", 1, &cert, NULL) != 0) {
        abort(); /* not a cmocka assert: this is another thread */
    }
    kumo_tls_ctx_cfg_t tc = {
        .cert_pem = kumo_buf_bytes(&cert), .key = &kp, .peer_check = KUMO_TLS_PEER_PUBKEY};
    void *ctx = NULL;
    if (kumo_tls_ctx_new(&tc, &ctx, NULL) != 0) {
        abort();
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        kumo_p2p_hello_t h = {.version = KUMO_P2P_PROTOCOL_VERSION};
        (void)snprintf(h.chain_id, sizeof(h.chain_id), "%s", CHAIN);
        kumo_tls_node_id(kp.pubkey, h.id);
        uint8_t frame[KUMO_P2P_FRAME_HEADER + KUMO_P2P_HELLO_BYTES_MAX];
        size_t len = 0;
        if (kumo_p2p_hello_encode(&h, frame + 5, sizeof(frame) - 5, &len) != 0) {
            abort();
        }
        kumo_be32_put(frame, (uint32_t)len + 1u);
        frame[4] = 0;
        (void)SSL_write(ssl, frame, (int)(len + 5));
        (void)SSL_write(ssl, rp->after_hello, (int)rp->after_len);
        char b[256];
        while (SSL_read(ssl, b, sizeof(b)) > 0) {
        }
    }
    SSL_free(ssl);
    kumo_tls_ctx_free(ctx);
    kumo_buf_free(&cert);
    (void)close(fd);
    return NULL;
}

static void raw_case(tnode_t *a, tnode_t *b, uint8_t tag, const uint8_t *after, size_t after_len)
{
    raw_peer_t rp = {.tag = tag, .after_hello = after, .after_len = after_len};
    (void)snprintf(rp.addr, sizeof(rp.addr), "%s", kumo_p2p_listen_addr(a->p));
    uint64_t bad0 = bad_of(a);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, raw_peer_run, &rp), 0);
    RUN_UNTIL(bad_of(a) > bad0);
    RUN_UNTIL(__atomic_load_n(&rp.done, __ATOMIC_SEQ_CST) == 1); /* the close reaches it */
    assert_int_equal(pthread_join(t, NULL), 0);
    /* The honest link is untouched. */
    assert_int_equal(peers_of(a), 1);
    assert_int_equal(peers_of(b), 1);
}

static void test_bad_frames_drop_only_the_sender(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 21, CHAIN, "127.0.0.1:0", NULL, 0, 0);
    const tnode_t *to_a[] = {&a};
    node_open(&b, 22, CHAIN, NULL, to_a, 1, 0);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    raw_case(&a, &b, 31, NULL, 0); /* garbage instead of TLS */
    static const uint8_t oversized[] = {0x00, 0x90, 0x00, 0x00, KUMO_P2P_CH_MEMPOOL};
    raw_case(&a, &b, 32, oversized, sizeof(oversized));
    static const uint8_t unknown_channel[] = {0x00, 0x00, 0x00, 0x02, 0x09, 0x00};
    raw_case(&a, &b, 33, unknown_channel, sizeof(unknown_channel));
    static const uint8_t second_hello[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x01};
    raw_case(&a, &b, 34, second_hello, sizeof(second_hello));
    static const uint8_t empty_frame[] = {0x00, 0x00, 0x00, 0x00, 0x01};
    raw_case(&a, &b, 35, empty_frame, sizeof(empty_frame));
    /* The app can drop a peer too (a bad consensus message). */
    uint8_t bid[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(b.kp.pubkey, bid);
    uint64_t bad0 = bad_of(&a);
    kumo_p2p_disconnect(a.p, bid, "test");
    assert_int_equal(bad_of(&a), bad0 + 1u);
    RUN_UNTIL(a.downs >= 1 && peers_of(&a) == 1 && peers_of(&b) == 1); /* b redials */
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_queue_full(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 41, CHAIN, "127.0.0.1:0", NULL, 0, 64u * 1024u);
    const tnode_t *to_a[] = {&a};
    node_open(&b, 42, CHAIN, NULL, to_a, 1, 0);
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1);
    uint8_t bid[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(b.kp.pubkey, bid);
    static uint8_t chunk[40u * 1024u];
    kumo_err_ctx_t err = {0};
    assert_int_equal(
        kumo_p2p_send(a.p, bid, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make(chunk, sizeof(chunk)), &err),
        0);
    assert_int_equal(
        kumo_p2p_send(a.p, bid, KUMO_P2P_CH_MEMPOOL, kumo_bytes_make(chunk, sizeof(chunk)), &err),
        KUMO_ELIMIT);
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(a.p, &st);
    assert_int_equal(st.dropped_send, 1);
    RUN_UNTIL(b.msgs[KUMO_P2P_CH_MEMPOOL] == 1 && b.last_len == sizeof(chunk));
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

static void test_redial_and_one_connection(void **state)
{
    (void)state;
    tnode_t a;
    tnode_t b;
    node_open(&a, 51, CHAIN, "127.0.0.1:0", NULL, 0, 0);
    char addr[KUMO_P2P_ADDR_BYTES_MAX];
    (void)snprintf(addr, sizeof(addr), "%s", kumo_p2p_listen_addr(a.p));
    const tnode_t *to_a[] = {&a};
    node_open(&b, 52, CHAIN, "127.0.0.1:0", to_a, 1, 0);
    RUN_UNTIL(peers_of(&b) == 1);
    kumo_p2p_close(a.p); /* a goes away, then comes back on the same address */
    RUN_UNTIL(b.downs == 1);
    const tnode_t *to_b[] = {&b};
    node_open(&a, 51, CHAIN, addr, to_b, 1, 0); /* and now both dial each other */
    RUN_UNTIL(peers_of(&a) == 1 && peers_of(&b) == 1 && b.ups == 2);
    run_ms(300); /* both dials land; exactly one connection stays */
    assert_int_equal(peers_of(&a), 1);
    assert_int_equal(peers_of(&b), 1);
    assert_int_equal(a.ups - a.downs, 1);
    assert_int_equal(b.ups - b.downs, 1);
    kumo_p2p_close(b.p);
    kumo_p2p_close(a.p);
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mesh_exchange),
        cmocka_unit_test(test_pinned_id_and_chain),
        cmocka_unit_test(test_bad_frames_drop_only_the_sender),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_redial_and_one_connection),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    event_base_free(base);
    return rc;
}
