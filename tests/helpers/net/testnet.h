/*
 * testnet.h - a local network of real node processes for tests that attack it, and the
 * attacker's tools: `kumo testnet` homes in a temp dir, the nodes' HTTP API, their logs and
 * pids, and a raw peer (its own fresh key, TLS 1.3 + HELLO through src/p2p) that sends any
 * frame it is told to.
 *
 * The kumo binary is $KUMO_BIN or ./kumo (ctest runs in the build dir). Ports: a block of 50
 * from a pid-derived base below the kernel's ephemeral range. Every wait polls against a
 * deadline and fails the test (printing the nodes' logs) when it passes.
 *
 * KUMO_TEST_NET_NOFILE=N in the test's environment: every kumo process the harness starts
 * from then on (and so every node) runs with an open-files limit of N, soft and hard.
 */
#ifndef KUMO_TESTS_HELPERS_NET_TESTNET_H
#define KUMO_TESTS_HELPERS_NET_TESTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "p2p/p2p.h"

#define KUMO_TEST_NET_NODES_MAX 8u
#define KUMO_TEST_NET_WAIT_MS   60000u
#define KUMO_TEST_NET_CHAIN_ID  "kumo-testnet"

typedef struct kumo_test_net {
    char *dir;
    char kumo[4096];
    uint32_t base_port;
    uint32_t nodes;
} kumo_test_net_t;

/* Monotonic milliseconds, and a sleep. */
uint64_t kumo_test_now_ms(void);
void kumo_test_pause_ms(uint32_t ms);

/* The binary and a temp dir only (no nodes): for tests that run other kumo commands through
 * kumo_test_net_kumo. 0, or -1 after printing why. kumo_test_net_stop cleans up. */
int kumo_test_net_bare(kumo_test_net_t *tn);
/* `kumo testnet init` with `validators` validators (and one provider key) and block interval
 * block_ms, then `kumo testnet start`. Extra arguments for init (e.g. "--providers 2") may be
 * NULL. Environment variables the nodes should see are set by the caller before. Returns 0,
 * or -1 after printing why (no binary, init or start failed). */
int kumo_test_net_start(kumo_test_net_t *tn,
                        uint32_t validators,
                        uint32_t block_ms,
                        const char *init_extra);
/* Like kumo_test_net_start, with config settings for every node: cfg holds "key: value" lines
 * that replace the same keys in each node's config.yaml between init and start (NULL: none).
 * Settings a received block is checked against (block_tx_count_max) must match on all nodes,
 * which this gives. */
int kumo_test_net_start_cfg(kumo_test_net_t *tn,
                            uint32_t validators,
                            uint32_t block_ms,
                            const char *init_extra,
                            const char *cfg);
/* Everything kumo_test_net_start_opts sets up. */
typedef struct kumo_test_net_opts {
    uint32_t validators; /* genesis validators: nodes 0..validators-1 */
    uint32_t full_nodes; /* `--full-nodes`: nodes after them, funded, not in genesis's set */
    uint32_t block_ms;
    const char *init_extra; /* more init arguments, or NULL */
    const char *cfg;        /* as kumo_test_net_start_cfg, or NULL */
    const char *genesis;    /* a JSON object whose members replace genesis's, or NULL */
} kumo_test_net_opts_t;
/* kumo_test_net_start_cfg with full nodes and genesis members (e.g. "staking_params"),
 * written into every node's genesis.json between init and start. */
int kumo_test_net_start_opts(kumo_test_net_t *tn, const kumo_test_net_opts_t *o);
/* Replaces (or adds) the keys of cfg's "key: value" lines in the YAML config at path. */
void kumo_test_net_cfg_apply(const char *path, const char *cfg);
/* `kumo testnet stop` and removes the directory. Safe on a net that never started. */
void kumo_test_net_stop(kumo_test_net_t *tn);

/* Runs kumo with space-separated arguments (output appended to dir/cmd.log); exit code. */
int kumo_test_net_kumo(kumo_test_net_t *tn, const char *fmt, ...) KUMO_PRINTF(2, 3);

/* `kumo tx ARGS --home dir/HOME --node <node 0's API> --from KEY` (ARGS a printf format);
 * its exit code. _ok fails the test (printing the logs) unless it succeeds. */
int kumo_test_net_tx(kumo_test_net_t *tn, const char *home, const char *key, const char *fmt, ...)
    KUMO_PRINTF(4, 5);
void kumo_test_net_tx_ok(
    kumo_test_net_t *tn, const char *home, const char *key, const char *fmt, ...) KUMO_PRINTF(4, 5);
/* Runs kumo with ARGS (after the binary, a printf format): its stdout and stderr (free it;
 * the first MiB, the rest read and dropped), its exit code in *code. */
char *kumo_test_net_output(const kumo_test_net_t *tn, int *code, const char *fmt, ...)
    KUMO_PRINTF(3, 4);
/* The address of key name in dir/HOME's keyring. */
void kumo_test_net_address(const kumo_test_net_t *tn,
                           const char *home,
                           const char *name,
                           char out[KUMO_ADDRESS_TEXT_BYTES]);
/* Registers key KEY of dir/HOME as a provider in region r1 (host https://dc.example:8443)
 * with a CA root made from a seed of seed_byte, written to dir/ca.pem. */
void kumo_test_net_provider_create(kumo_test_net_t *tn,
                                   const char *home,
                                   const char *key,
                                   uint8_t seed_byte);

/* Ports of node i. */
uint32_t kumo_test_net_rpc_port(const kumo_test_net_t *tn, uint32_t node);
/* "id@host:port" of node i's p2p listener (from testnet.json). */
void kumo_test_net_peer_addr(const kumo_test_net_t *tn, uint32_t node, char *out, size_t cap);
/* Path of a file in node i's home: dir/node<i>/<name>. */
void kumo_test_net_node_path(
    const kumo_test_net_t *tn, uint32_t node, const char *name, char *out, size_t cap);

/* GET http://127.0.0.1:<rpc port of node><path> parsed as JSON, or NULL unless 200. */
json_t *kumo_test_net_get(const kumo_test_net_t *tn, uint32_t node, const char *path);
/* POST http://127.0.0.1:<rpc port of node><path> with a JSON body; *status_out gets the HTTP
 * status (0 when the node did not answer) and the answer parsed as JSON is returned (NULL if
 * none). */
json_t *kumo_test_net_post(
    const kumo_test_net_t *tn, uint32_t node, const char *path, const char *body, long *status_out);
/* POST /txs of tx bytes (base64 in {"tx": ...}); as kumo_test_net_post. */
json_t *
kumo_test_net_tx_post(const kumo_test_net_t *tn, uint32_t node, kumo_bytes_t tx, long *status_out);
/* The value of metric name (a plain counter or gauge, no labels) in node i's GET /metrics;
 * false when the node does not answer or has no such metric. */
bool kumo_test_net_metric(const kumo_test_net_t *tn,
                          uint32_t node,
                          const char *name,
                          uint64_t *value_out);
/* A JSON number or decimal string member as u64 (0 when absent). */
uint64_t kumo_test_json_u64(const json_t *obj, const char *key);
/* The node's height, or -1 when it does not answer. */
int64_t kumo_test_net_height(const kumo_test_net_t *tn, uint32_t node);
/* The highest height among the nodes in mask (bit i = node i). */
int64_t kumo_test_net_height_max(const kumo_test_net_t *tn, uint32_t mask);
/* Waits (KUMO_TEST_NET_WAIT_MS) until every node in mask is at height >= h; fails the test
 * otherwise. */
void kumo_test_net_wait_height(const kumo_test_net_t *tn, uint32_t mask, int64_t h);
/* Like wait_height with a deadline of its own; false when it passed (no test failure). */
bool kumo_test_net_reach_height(const kumo_test_net_t *tn,
                                uint32_t mask,
                                int64_t h,
                                uint32_t timeout_ms);
/* Every node in mask has the same header at every height in [from, to]; fails otherwise. */
void kumo_test_net_blocks_agree(const kumo_test_net_t *tn,
                                uint32_t mask,
                                uint64_t from,
                                uint64_t to);
/* Mask of all nodes. */
uint32_t kumo_test_net_all(const kumo_test_net_t *tn);

/* The pid of node i (from its pid file; 0 if none), kill -9 and wait for it to be gone, and
 * a restart of one node in the background (`kumo testnet start` starts what is not running). */
pid_t kumo_test_net_pid(const kumo_test_net_t *tn, uint32_t node);
void kumo_test_net_kill9(const kumo_test_net_t *tn, uint32_t node);
int kumo_test_net_restart(kumo_test_net_t *tn);

/* Lines of node i's log containing needle; the last lines of every log to stderr. */
size_t kumo_test_net_log_count(const kumo_test_net_t *tn, uint32_t node, const char *needle);
void kumo_test_net_logs_print(const kumo_test_net_t *tn);

/* ---- a raw peer: the attacker on the p2p port ---- */

typedef struct kumo_test_peer {
    struct event_base *base;
    kumo_p2p_t *p2p;
    kumo_crypto_keypair_t key;
    kumo_p2p_peer_addr_t target;
    uint64_t ups;                       /* handshakes completed */
    uint64_t downs;                     /* disconnects */
    uint64_t frames[KUMO_P2P_CH_COUNT]; /* frames received per channel */
    /* Optional hook for each received frame (set before kumo_test_peer_open). */
    void (*on_frame)(struct kumo_test_peer *peer, uint8_t channel, kumo_bytes_t payload);
    void *user;
    bool base_shared; /* base belongs to the caller (kumo_test_peer_open_from) */
} kumo_test_peer_t;

/* Zero-initialize *peer (then set on_frame/user if wanted) before this. Dials node i as a stranger
 * whose node key comes from a seed of key_tag bytes (distinct tags, distinct peers); the peer is
 * not redialed once dropped. Does not wait for the handshake. */
void kumo_test_peer_open(kumo_test_peer_t *peer,
                         const kumo_test_net_t *tn,
                         uint32_t node,
                         uint8_t key_tag);
/* Like kumo_test_peer_open, but the peer dials from source_host (a numeric address such as
 * "127.0.0.2": all of 127.0.0.0/8 is loopback, so each looks like another host; NULL: any) and
 * runs on base (NULL: a base of its own). Peers sharing a base run together: running one runs
 * all, and kumo_test_peer_close leaves a shared base to its owner. */
void kumo_test_peer_open_from(kumo_test_peer_t *peer,
                              const kumo_test_net_t *tn,
                              uint32_t node,
                              uint8_t key_tag,
                              struct event_base *base,
                              const char *source_host);
/* Whether the peer is done connecting: up, or refused (it does not redial). */
bool kumo_test_peer_is_settled(const kumo_test_peer_t *peer);
/* A plain TCP connection (non-blocking, possibly still connecting) to node i's p2p port from
 * source_host (NULL: any). The fd, or -1 if the connect failed at once. */
int kumo_test_net_tcp_connect(const kumo_test_net_t *tn, uint32_t node, const char *source_host);
/* Like kumo_test_peer_open with a given node key (copied): e.g. a validator's own key, read
 * with kumo_test_net_node_key after killing that validator, to act as it (byzantine). */
void kumo_test_peer_open_key(kumo_test_peer_t *peer,
                             const kumo_test_net_t *tn,
                             uint32_t node,
                             const kumo_crypto_keypair_t *key);
/* Node i's validator key (its keyring's "validator", which is also its p2p node key); 0 or
 * the keyring's error after printing it. */
int kumo_test_net_node_key(const kumo_test_net_t *tn, uint32_t node, kumo_crypto_keypair_t *out);
/* Runs the peer's loop until *counter >= want or timeout_ms passed; returns whether reached. */
bool kumo_test_peer_run_until(kumo_test_peer_t *peer,
                              const uint64_t *counter,
                              uint64_t want,
                              uint32_t timeout_ms);
/* Runs the loop for ms (callbacks fire). */
void kumo_test_peer_run_ms(kumo_test_peer_t *peer, uint32_t ms);
/* Waits until connected (TLS + HELLO done), default deadline 10 s; fails the test otherwise. */
void kumo_test_peer_wait_up(kumo_test_peer_t *peer);
/* Sends one frame to the node; the p2p layer's result (0, KUMO_ENOTFOUND when not connected). */
int kumo_test_peer_send(kumo_test_peer_t *peer, uint8_t channel, kumo_bytes_t payload);
void kumo_test_peer_close(kumo_test_peer_t *peer);

#endif
