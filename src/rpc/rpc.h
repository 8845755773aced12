/*
 * rpc.h - the node's HTTP JSON API (docs/api.md) on the node's libevent loop: queries,
 * tx submission (optionally waiting for commit), Server-Sent Events with filters and resume,
 * Prometheus metrics. Bounded request sizes, connection and SSE client counts; every error is
 * a JSON {"error": {...}} with a KUMO_E* code. Not pure; loop thread only.
 */
#ifndef KUMO_RPC_RPC_H
#define KUMO_RPC_RPC_H

#include <stdint.h>

#include <event2/event.h>

#include "core/core.h"
#include "node/node.h"

typedef struct kumo_rpc kumo_rpc_t;

/* Listens on cfg->rpc_listen ("host:port"; port 0 picks a free port) and serves node.
 * *out is closed with kumo_rpc_close before the node. */
KUMO_MUST_USE int kumo_rpc_open(struct event_base *base,
                                kumo_node_t *node,
                                const kumo_node_cfg_t *cfg,
                                kumo_rpc_t **out,
                                kumo_err_ctx_t *err);
/* The port actually bound (useful with port 0). */
uint16_t kumo_rpc_port(const kumo_rpc_t *rpc);
/* Closes every connection and SSE stream and stops listening. NULL is a no-op. */
void kumo_rpc_close(kumo_rpc_t *rpc);

#endif
