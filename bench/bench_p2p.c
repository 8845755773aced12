/*
 * bench_p2p.c - p2p link speed between two nodes on loopback (TLS 1.3, frames, bounded
 * queues) against a raw TCP pair carrying the same 5-byte-header frames through plain
 * libevent bufferevents, both ends of each on one event loop (one core) in the same run:
 *   - throughput of 1 KiB and 64 KiB frames, one way: <p2p|tcp>_<1k|64k>_mib_per_s and
 *     _frames_per_s, and p2p/tcp ratios;
 *   - 64-byte round trips (send, the other side echoes): <p2p|tcp>_rtt64_p50_us / _p99_us.
 * Usage: bench_p2p [scale] (default 1: 100,000 x 1 KiB, 2,000 x 64 KiB, 5,000 round trips).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench_util.h"
#include "log/log.h"
#include "p2p/p2p.h"

#define BP_CHAIN     "bench-p2p"
#define BP_QUEUE_MAX (4u * 1024u * 1024u)
#define BP_HDR       5u

typedef struct bp {
    struct event_base *base;
    uint64_t received; /* frames that reached the receiving side */
    uint64_t echoed;   /* round trips completed */
    bool echo;         /* the receiver echoes every frame back */
    /* p2p */
    kumo_p2p_t *node[2];
    uint8_t id[2][KUMO_TLS_NODE_ID_BYTES];
    uint32_t up;
    /* raw tcp */
    struct bufferevent *bev[2];
} bp_t;

typedef struct bp_side {
    bp_t *bp;
    uint32_t index;
} bp_side_t;

/* ---- p2p ---- */

static void bp_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    (void)id;
    (void)pk;
    ((bp_side_t *)ctx)->bp->up++;
}

static void bp_msg(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint8_t ch, kumo_bytes_t p)
{
    bp_side_t *s = ctx;
    bp_t *bp = s->bp;
    if (s->index == 1) {
        bp->received++;
        if (bp->echo) {
            if (kumo_p2p_send(bp->node[1], id, ch, p, NULL) != 0) {
                fprintf(stderr, "echo refused\n");
                exit(1);
            }
        }
    } else {
        bp->echoed++;
    }
}

static void bp_loop_until(bp_t *bp, const uint64_t *counter, uint64_t want)
{
    while (*counter < want) {
        (void)event_base_loop(bp->base, EVLOOP_ONCE);
    }
}

static void bp_p2p_open(bp_t *bp, bp_side_t sides[2])
{
    kumo_crypto_keypair_t kp[2];
    for (uint32_t i = 0; i < 2; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
        memset(seed, (int)(i + 1u), sizeof(seed));
        kumo_crypto_key_from_seed(seed, &kp[i]);
        kumo_tls_node_id(kp[i].pubkey, bp->id[i]);
        sides[i] = (bp_side_t){.bp = bp, .index = i};
        kumo_p2p_cfg_t cfg;
        kumo_p2p_cfg_default(&cfg);
        cfg.chain_id = BP_CHAIN;
        cfg.node_key = &kp[i];
        cfg.listen = i == 0 ? "127.0.0.1:0" : NULL;
        cfg.send_queue_bytes_max = BP_QUEUE_MAX;
        if (i == 1) {
            memcpy(cfg.persistent[0].id, bp->id[0], KUMO_TLS_NODE_ID_BYTES);
            (void)snprintf(cfg.persistent[0].host_port, sizeof(cfg.persistent[0].host_port), "%s",
                           kumo_p2p_listen_addr(bp->node[0]));
            cfg.persistent_count = 1;
        }
        kumo_p2p_callbacks_t cb = {.ctx = &sides[i], .peer_up = bp_up, .on_msg = bp_msg};
        if (kumo_p2p_open(&cfg, bp->base, &cb, &bp->node[i], NULL) != 0) {
            fprintf(stderr, "p2p open failed\n");
            exit(1);
        }
    }
    while (bp->up < 2) {
        (void)event_base_loop(bp->base, EVLOOP_ONCE);
    }
}

/* Sends count frames of size bytes from node 0 to node 1; returns the elapsed ns. */
static uint64_t bp_p2p_stream(bp_t *bp, size_t size, uint64_t count)
{
    uint8_t *buf = calloc(1, size);
    uint64_t sent = 0;
    bp->received = 0;
    bp->echo = false;
    uint8_t ch = size > 1024u * 1024u ? KUMO_P2P_CH_BLOCKSYNC : KUMO_P2P_CH_MEMPOOL;
    uint64_t t0 = bench_now_ns();
    while (bp->received < count) {
        while (sent < count &&
               kumo_p2p_send(bp->node[0], bp->id[1], ch, kumo_bytes_make(buf, size), NULL) == 0) {
            sent++;
        }
        (void)event_base_loop(bp->base, EVLOOP_ONCE);
    }
    uint64_t ns = bench_now_ns() - t0;
    free(buf);
    return ns;
}

/* ---- raw TCP with the same framing ---- */

static void bp_raw_read(struct bufferevent *bev, void *arg)
{
    bp_side_t *s = arg;
    bp_t *bp = s->bp;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t hdr[BP_HDR];
    while (evbuffer_copyout(in, hdr, BP_HDR) == (ev_ssize_t)BP_HDR) {
        size_t len = kumo_be32_get(hdr) - 1u;
        if (evbuffer_get_length(in) < BP_HDR + len) {
            return;
        }
        if (s->index == 1 && bp->echo) {
            (void)evbuffer_remove_buffer(in, bufferevent_get_output(bev), BP_HDR + len);
        } else {
            (void)evbuffer_drain(in, BP_HDR + len);
        }
        if (s->index == 1) {
            bp->received++;
        } else {
            bp->echoed++;
        }
    }
}

static void bp_raw_frame(struct bufferevent *bev, const uint8_t *payload, size_t size)
{
    uint8_t hdr[BP_HDR];
    kumo_be32_put(hdr, (uint32_t)size + 1u);
    hdr[4] = KUMO_P2P_CH_MEMPOOL;
    struct evbuffer *out = bufferevent_get_output(bev);
    (void)evbuffer_add(out, hdr, BP_HDR);
    (void)evbuffer_add(out, payload, size);
}

/* A connected loopback TCP pair as two bufferevents (set up with blocking calls: a bench). */
static void bp_raw_open(bp_t *bp, bp_side_t sides[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fds[2];
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || fds[0] < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&sa, &len) != 0 ||
        connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        (fds[1] = accept(l, NULL, NULL)) < 0) {
        fprintf(stderr, "tcp pair: %s\n", strerror(errno));
        exit(1);
    }
    close(l);
    for (uint32_t i = 0; i < 2; i++) {
        int one = 1;
        (void)setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void)evutil_make_socket_nonblocking(fds[i]);
        sides[i] = (bp_side_t){.bp = bp, .index = i};
        bp->bev[i] = bufferevent_socket_new(bp->base, fds[i],
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        bufferevent_setcb(bp->bev[i], bp_raw_read, NULL, NULL, &sides[i]);
        (void)bufferevent_enable(bp->bev[i], EV_READ | EV_WRITE);
    }
}

static uint64_t bp_raw_stream(bp_t *bp, size_t size, uint64_t count)
{
    uint8_t *buf = calloc(1, size);
    uint64_t sent = 0;
    bp->received = 0;
    bp->echo = false;
    struct evbuffer *out = bufferevent_get_output(bp->bev[0]);
    uint64_t t0 = bench_now_ns();
    while (bp->received < count) {
        while (sent < count && evbuffer_get_length(out) + size + BP_HDR <= BP_QUEUE_MAX) {
            bp_raw_frame(bp->bev[0], buf, size);
            sent++;
        }
        (void)event_base_loop(bp->base, EVLOOP_ONCE);
    }
    uint64_t ns = bench_now_ns() - t0;
    free(buf);
    return ns;
}

/* ---- round trips ---- */

static int bp_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* count round trips of 64 bytes; p50 and p99 in µs. */
static void bp_rtt(bp_t *bp, bool p2p, uint64_t count, const char *prefix)
{
    uint64_t *lat = calloc(count, sizeof(uint64_t));
    uint8_t msg[64] = {0};
    bp->echo = true;
    bp->echoed = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t t0 = bench_now_ns();
        if (p2p) {
            if (kumo_p2p_send(bp->node[0], bp->id[1], KUMO_P2P_CH_CONSENSUS,
                              kumo_bytes_make(msg, sizeof(msg)), NULL) != 0) {
                fprintf(stderr, "send refused\n");
                exit(1);
            }
        } else {
            bp_raw_frame(bp->bev[0], msg, sizeof(msg));
        }
        bp_loop_until(bp, &bp->echoed, i + 1u);
        lat[i] = bench_now_ns() - t0;
    }
    qsort(lat, count, sizeof(uint64_t), bp_cmp_u64);
    char name[64];
    (void)snprintf(name, sizeof(name), "%s_rtt64_p50_us", prefix);
    bench_result(name, lat[count / 2u] / 1000u, "us");
    (void)snprintf(name, sizeof(name), "%s_rtt64_p99_us", prefix);
    bench_result(name, lat[count * 99u / 100u] / 1000u, "us");
    free(lat);
}

static void
bp_report(const char *prefix, const char *size_name, size_t size, uint64_t count, uint64_t ns)
{
    char name[64];
    (void)snprintf(name, sizeof(name), "%s_%s_mib_per_s", prefix, size_name);
    bench_result(name, bench_rate(count * size, ns) / (1024u * 1024u), "MiB/s");
    (void)snprintf(name, sizeof(name), "%s_%s_frames_per_s", prefix, size_name);
    bench_result(name, bench_rate(count, ns), "frames/s");
}

int main(int argc, char **argv)
{
    uint64_t scale = argc > 1 ? strtoull(argv[1], NULL, 10) : 1u;
    scale = scale == 0 ? 1u : scale;
    if (kumo_crypto_init() != 0) {
        return 1;
    }
    kumo_log_level_set(KUMO_LOG_LEVEL_WARN);
    bp_t bp = {.base = event_base_new()};
    bp_side_t p2p_sides[2];
    bp_side_t raw_sides[2];
    bp_p2p_open(&bp, p2p_sides);
    bp_raw_open(&bp, raw_sides);
    const struct {
        const char *name;
        size_t size;
        uint64_t count;
    } runs[] = {{"1k", 1024u, 100000u * scale}, {"64k", 64u * 1024u, 2000u * scale}};
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        (void)bp_p2p_stream(&bp, runs[r].size, runs[r].count / 10u); /* warm up */
        uint64_t p2p_ns = bp_p2p_stream(&bp, runs[r].size, runs[r].count);
        uint64_t raw_ns = bp_raw_stream(&bp, runs[r].size, runs[r].count);
        bp_report("p2p", runs[r].name, runs[r].size, runs[r].count, p2p_ns);
        bp_report("tcp", runs[r].name, runs[r].size, runs[r].count, raw_ns);
        char name[64];
        (void)snprintf(name, sizeof(name), "p2p_vs_tcp_%s_throughput", runs[r].name);
        bench_ratio(name, raw_ns, p2p_ns);
    }
    bp_rtt(&bp, true, 5000u * scale, "p2p");
    bp_rtt(&bp, false, 5000u * scale, "tcp");
    kumo_p2p_stats_t st;
    kumo_p2p_stats_get(bp.node[0], &st);
    bench_result("p2p_sender_queue_full_retries", st.dropped_send, "frames");
    bufferevent_free(bp.bev[0]);
    bufferevent_free(bp.bev[1]);
    kumo_p2p_close(bp.node[1]);
    kumo_p2p_close(bp.node[0]);
    event_base_free(bp.base);
    return 0;
}
