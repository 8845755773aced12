/*
 * daemon.h - the provider daemon (`kumo provider start`): bidding from the node's event
 * stream, the leased workloads in containers, confirmations and releases, and the HTTPS API
 * (daemon_int.h names the parts).
 */
#ifndef KUMO_PROVIDER_DAEMON_H
#define KUMO_PROVIDER_DAEMON_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "provider/provider.h"

typedef struct kumo_provider_daemon kumo_provider_daemon_t;

/* Reads the chain id, params and the account sequence from the node in cfg, connects to the
 * runtime (a runtime that does not answer is logged: the daemon then does not bid) and starts
 * the API on cfg->api_listen with a server certificate issued by home/ca.key. Manifests and
 * links are kept under home/deployments. key is copied (and wiped on close). */
KUMO_MUST_USE int kumo_provider_daemon_open(const kumo_provider_cfg_t *cfg,
                                            const char *home,
                                            const kumo_crypto_keypair_t *key,
                                            kumo_provider_daemon_t **out,
                                            kumo_err_ctx_t *err);
/* Bids on the open orders, then follows the event stream (reconnecting and resuming) until
 * *stop becomes non-zero (a signal handler sets it). */
void kumo_provider_daemon_run(kumo_provider_daemon_t *d, volatile int *stop);
void kumo_provider_daemon_close(kumo_provider_daemon_t *d);
uint64_t kumo_provider_daemon_bids(const kumo_provider_daemon_t *d);

#endif
