/*
 * dc.h - datacenters for adversary tests: provider daemons (`kumo provider init|register|
 * start`) as real processes on a testnet of the harness (testnet.h) and a private podman
 * service (podman.h), and the tenant's side of the provider API: HTTPS with a client
 * certificate made from an account key, the server checked against the provider's root.
 *
 * Ports, inside the net's block of 50: provider j's API at base + 20 + j, its host ports
 * base + 30 + 4j .. + 3 (j < 5). Logs: <net dir>/dc<j>.log. Every wait polls against a
 * deadline.
 */
#ifndef KUMO_TESTS_HELPERS_NET_DC_H
#define KUMO_TESTS_HELPERS_NET_DC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec/codec.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "helpers/net/testnet.h"

#define KUMO_TEST_DC_MAX 5u
/* Waits on containers the daemon starts: a start under a sanitizer, beside another test's
 * bursts on the same two cores, can take a minute by itself. */
#define KUMO_TEST_DC_START_WAIT_MS (3u * KUMO_TEST_NET_WAIT_MS)

typedef struct kumo_test_dc {
    uint32_t index; /* provider<index> of `kumo testnet init --providers N` */
    char home[PATH_MAX];
    char log[PATH_MAX];
    char addr[KUMO_ADDRESS_TEXT_BYTES];
    char api[64]; /* "127.0.0.1:port" */
    pid_t pid;
} kumo_test_dc_t;

/* Makes provider<index> of the net a datacenter in region, its runtime at socket: `kumo
 * provider init`, the "key: value" lines of cfg (may be NULL) applied to its config.yaml,
 * `kumo provider register`, then its daemon started (waits for its API). 0, or -1 after
 * printing why. */
int kumo_test_dc_add(kumo_test_net_t *tn,
                     uint32_t index,
                     const char *region,
                     const char *socket,
                     const char *cfg,
                     kumo_test_dc_t *dc);
/* (Re)starts the daemon (log appended) and waits until its API listens again. */
int kumo_test_dc_start(kumo_test_net_t *tn, kumo_test_dc_t *dc);
/* SIGTERM and waits (SIGKILL after 20 s). Safe when not running. */
void kumo_test_dc_stop(kumo_test_dc_t *dc);
/* Stops the daemon and removes every container and network labelled with its provider
 * address (none when the datacenter was never made: an empty address would match all). */
void kumo_test_dc_remove(kumo_test_dc_t *dc);
/* Lines of the daemon's log containing needle; waits (timeout_ms) until there are at least
 * count of them. */
size_t kumo_test_dc_log_count(const kumo_test_dc_t *dc, const char *needle);
bool kumo_test_dc_wait_log(const kumo_test_dc_t *dc,
                           const char *needle,
                           size_t count,
                           uint32_t timeout_ms);
/* The last lines of the daemon's log to stderr. */
void kumo_test_dc_log_print(const kumo_test_dc_t *dc);

/* A request to the provider's API as the holder of key (NULL: no client certificate), the
 * server verified against the provider's ca.crt. Returns the HTTP status (0 when there was no
 * answer); the body is appended to out (may be NULL). */
long kumo_test_dc_request(const kumo_test_dc_t *dc,
                          const kumo_crypto_keypair_t *key,
                          const char *method,
                          const char *path,
                          kumo_bytes_t body,
                          kumo_buf_t *out);

/* The key of an account made for a test: seed bytes all equal to tag, imported as name into
 * <net dir>/<name>/keyring (for the CLI's --home), funded with amount ukumo by the testnet's
 * tenant. Fills key and its address. */
void kumo_test_account_make(kumo_test_net_t *tn,
                            const char *name,
                            uint8_t tag,
                            uint64_t amount,
                            kumo_crypto_keypair_t *key,
                            char addr[KUMO_ADDRESS_TEXT_BYTES]);

#endif
