/*
 * bench_hostile.h - hostile strangers for bench_node: a process holding `per_validator` p2p
 * peers (fresh Ed25519 keys, TLS 1.3 + HELLO) against every validator of a `kumo testnet`
 * directory, each one misbehaving its own way all the time, and coming back with a new key
 * (a new identity costs nothing) a second after it is dropped:
 *   0 claims a head far ahead of the chain on block sync and never serves a block;
 *   1 sends prevotes and precommits signed by its own (non-validator) key, near the head;
 *   2 sends proposal parts that belong to nothing;
 *   3 stays idle (holds a slot);
 *   4 sends garbage txs on the mempool channel;
 *   5 asks for old blocks (block sync requests) ten times a second;
 *   6 sends garbage block-sync answers;
 *   7 sends garbage evidence.
 * Runs until killed (the caller forks it and kills it with SIGKILL).
 */
#ifndef KUMO_BENCH_HOSTILE_H
#define KUMO_BENCH_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "consensus/consensus.h"
#include "node/cons_int.h"
#include "p2p/p2p.h"

#define BH_PEERS_MAX     256u
#define BH_BEHAVIOURS    8u
#define BH_TICK_MS       100u
#define BH_COMEBACK_MS   1000u
#define BH_AHEAD_HEIGHTS 1000000u

typedef struct bh_peer {
    struct bh *bh;
    uint32_t index;
    uint32_t behaviour;
    kumo_p2p_peer_addr_t target;
    kumo_p2p_t *p2p;
    bool up;
    uint64_t down_at_ms; /* 0 while connected or dialing */
} bh_peer_t;

typedef struct bh {
    struct event_base *base;
    const char *chain_id;
    bh_peer_t peers[BH_PEERS_MAX];
    uint32_t peer_count;
    uint32_t key_counter;
    uint64_t now_ms;
    uint64_t height; /* a guess of the head: the highest status a validator sent us */
    uint8_t scratch[4096];
} bh_t;

static void bh_up(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], const uint8_t pk[32])
{
    (void)id;
    (void)pk;
    ((bh_peer_t *)ctx)->up = true;
}

static void bh_down(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES])
{
    (void)id;
    bh_peer_t *p = ctx;
    p->up = false;
    p->down_at_ms = p->bh->now_ms;
}

static void bh_msg(void *ctx, const uint8_t id[KUMO_TLS_NODE_ID_BYTES], uint8_t ch, kumo_bytes_t m)
{
    (void)id;
    bh_peer_t *p = ctx;
    if (ch == KUMO_P2P_CH_BLOCKSYNC && m.len == 9 && m.ptr[0] == KUMO_CONSENSUS_SYNC_STATUS) {
        uint64_t h = kumo_be64_get(m.ptr + 1);
        p->bh->height = h > p->bh->height ? h : p->bh->height;
    }
}

/* (Re)dials peer p's validator with a fresh key. */
static void bh_dial(bh_peer_t *p)
{
    if (p->p2p != NULL) {
        kumo_p2p_close(p->p2p);
        p->p2p = NULL;
    }
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0xb4};
    uint32_t k = ++p->bh->key_counter;
    memcpy(seed + 1, &k, sizeof(k));
    memcpy(seed + 5, &p->index, sizeof(p->index));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    kumo_p2p_cfg_t cfg;
    kumo_p2p_cfg_default(&cfg);
    cfg.chain_id = p->bh->chain_id;
    cfg.node_key = &kp;
    cfg.redial_min_ms = 3600000u; /* comeback is ours, with a new key */
    cfg.redial_max_ms = 3600000u;
    cfg.persistent[0] = p->target;
    cfg.persistent_count = 1;
    kumo_p2p_callbacks_t cb = {.ctx = p, .peer_up = bh_up, .peer_down = bh_down, .on_msg = bh_msg};
    p->up = false;
    p->down_at_ms = 0;
    if (kumo_p2p_open(&cfg, p->bh->base, &cb, &p->p2p, NULL) != 0) {
        p->down_at_ms = p->bh->now_ms;
    }
    kumo_crypto_key_wipe(&kp);
}

static void bh_send(bh_peer_t *p, uint8_t channel, size_t len)
{
    int rc =
        kumo_p2p_send(p->p2p, p->target.id, channel, kumo_bytes_make(p->bh->scratch, len), NULL);
    (void)rc; /* a full queue or a dropped link: the next tick tries again */
}

static void bh_header(bh_peer_t *p, uint8_t type, uint64_t height)
{
    p->bh->scratch[0] = type;
    kumo_be64_put(p->bh->scratch + 1, height);
    bh_send(p, KUMO_P2P_CH_BLOCKSYNC, 9);
}

static void bh_vote(bh_peer_t *p, kumo_consensus_msg_kind_t kind)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0xb5};
    memcpy(seed + 1, &p->index, sizeof(p->index));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    kumo_consensus_msg_t m = {.kind = kind,
                              .height = p->bh->height + 1u,
                              .round = (uint32_t)(p->bh->now_ms / 1000u % 4u),
                              .pol_round = KUMO_CONSENSUS_ROUND_NONE};
    size_t len = 0;
    if (kumo_consensus_msg_sign(&m, p->bh->chain_id, &kp) == 0 &&
        kumo_consensus_msg_encode(&m, p->bh->scratch, sizeof(p->bh->scratch), &len) == 0) {
        bh_send(p, KUMO_P2P_CH_CONSENSUS, len);
    }
    kumo_crypto_key_wipe(&kp);
}

static void bh_garbage(bh_peer_t *p, uint8_t channel, uint8_t first, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        p->bh->scratch[i] = (uint8_t)(i * 31u + p->bh->now_ms);
    }
    p->bh->scratch[0] = first;
    bh_send(p, channel, len);
}

/* One tick of peer p's misbehaviour. */
static void bh_act(bh_peer_t *p)
{
    switch (p->behaviour) {
    case 0:
        bh_header(p, KUMO_CONSENSUS_SYNC_STATUS, p->bh->height + BH_AHEAD_HEIGHTS);
        break;
    case 1:
        bh_vote(p, KUMO_CONSENSUS_MSG_PREVOTE);
        bh_vote(p, KUMO_CONSENSUS_MSG_PRECOMMIT);
        break;
    case 2:
        bh_garbage(p, KUMO_P2P_CH_CONSENSUS, 0xff, 300);
        break;
    case 4:
        bh_garbage(p, KUMO_P2P_CH_MEMPOOL, 0x0a, 200);
        break;
    case 5:
        bh_header(p, KUMO_CONSENSUS_SYNC_REQUEST, 1u + p->bh->now_ms % (p->bh->height + 1u));
        break;
    case 6:
        bh_garbage(p, KUMO_P2P_CH_BLOCKSYNC, KUMO_CONSENSUS_SYNC_BLOCK, 1000);
        break;
    case 7:
        bh_garbage(p, KUMO_P2P_CH_EVIDENCE, 'E', 400);
        break;
    default: /* 3: idle */
        break;
    }
}

static void bh_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bh_t *bh = arg;
    bh->now_ms += BH_TICK_MS;
    for (uint32_t i = 0; i < bh->peer_count; i++) {
        bh_peer_t *p = &bh->peers[i];
        if (p->up) {
            bh_act(p);
        } else if (p->down_at_ms != 0 && bh->now_ms - p->down_at_ms >= BH_COMEBACK_MS) {
            bh_dial(p);
        }
    }
}

/* The child's body: never returns. */
static void bh_run(const char *testnet_dir, const char *chain_id, uint32_t per_validator)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/testnet.json", testnet_dir);
    json_t *desc = json_load_file(path, 0, NULL);
    const json_t *vals = json_object_get(desc, "validators");
    static bh_t bh;
    bh.base = event_base_new();
    bh.chain_id = chain_id;
    for (size_t v = 0; v < json_array_size(vals); v++) {
        const json_t *val = json_array_get(vals, v);
        char addr[256];
        snprintf(addr, sizeof(addr), "%s@%s", json_string_value(json_object_get(val, "node_id")),
                 json_string_value(json_object_get(val, "p2p")));
        for (uint32_t k = 0; k < per_validator && bh.peer_count < BH_PEERS_MAX; k++) {
            bh_peer_t *p = &bh.peers[bh.peer_count];
            p->bh = &bh;
            p->index = bh.peer_count++;
            p->behaviour = k % BH_BEHAVIOURS;
            if (kumo_p2p_peer_addr_parse(addr, &p->target, NULL) != 0) {
                _exit(1);
            }
            bh_dial(p);
        }
    }
    json_decref(desc);
    struct event *tick = event_new(bh.base, -1, EV_PERSIST, bh_tick, &bh);
    struct timeval tv = {0, BH_TICK_MS * 1000};
    (void)event_add(tick, &tv);
    (void)event_base_dispatch(bh.base);
    _exit(0);
}

#endif
