/*
 * demo_int.h - the actors and steps of `kumo demo` (private to the cli module).
 */
#ifndef KUMO_CLI_DEMO_INT_H
#define KUMO_CLI_DEMO_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "chain/chain.h"
#include "node/node.h"

#define DEMO_WAIT_BLOCKS   2u
#define DEMO_TX_MAX        64u
#define DEMO_BID_MAX       64u
#define DEMO_BID_KEY_BYTES (KUMO_ID_TEXT_BYTES + 8u)
#define DEMO_CONFIRM_EVERY 3u
#define DEMO_CHAIN_ID      "kumo-demo"

/* Aborts the demo on an error that cannot happen with its fixed inputs. */
#define DEMO_MUST(expr) KUMO_ASSERT((expr) == 0)

enum demo_actor {
    DEMO_VALIDATOR = 0,
    DEMO_ALICE,
    DEMO_EAST_A,
    DEMO_EAST_B,
    DEMO_WEST_A,
    DEMO_WEST_B,
    DEMO_ACTOR_COUNT,
};

typedef struct demo {
    kumo_node_t *net; /* a local node (kumo_node_local_open) */
    char dir[512];
    bool keep;
    kumo_crypto_keypair_t keys[DEMO_ACTOR_COUNT];
    uint8_t addr[DEMO_ACTOR_COUNT][KUMO_ADDRESS_BYTES];
    char addr_text[DEMO_ACTOR_COUNT][KUMO_ADDRESS_TEXT_BYTES];
    uint64_t seq[DEMO_ACTOR_COUNT];
    bool down[DEMO_ACTOR_COUNT];
    kumo_buf_t txs[DEMO_TX_MAX];
    int tx_actor[DEMO_TX_MAX];
    size_t tx_count;
    char bids[DEMO_BID_MAX][DEMO_BID_KEY_BYTES]; /* "<provider index>:<order id>" placed */
    size_t bid_count;
    uint64_t height;
    bool closed;
} demo_t;

extern const char *const demo_actor_names[DEMO_ACTOR_COUNT];
/* Each datacenter's region and asking price (ukumo per unit per block). */
extern const char *const demo_regions[DEMO_ACTOR_COUNT];
extern const uint64_t demo_unit_price[DEMO_ACTOR_COUNT];

int demo_open(demo_t *d, const char *dir, bool keep);
void demo_close_all(demo_t *d);
/* Copies in to out with known addresses replaced by actor names. */
void demo_names_apply(const demo_t *d, const char *in, char *out, size_t out_cap);
void demo_tx_add(demo_t *d, int actor, const Kumo__Msg *msg);
void demo_block_begin(demo_t *d, const char *title);
void demo_block_end(demo_t *d);
void demo_providers_register(demo_t *d);
void demo_bid_on_open_orders(demo_t *d, int provider);
void demo_confirm_current_leases(demo_t *d, int provider, uint64_t height);
/* Prints balances and totals; 0 when the invariants hold and the deployment closed. */
int demo_summary(demo_t *d);

#endif
