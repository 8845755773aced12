/*
 * test_random_blocks.c - a seeded randomized run of >= 1000 blocks of mixed valid and invalid
 * txs (sends, deployments, updates, deposits, closes, bids, cancels, confirmations, releases,
 * garbage, bad signatures, wrong sequences) with the facilitator's txs first in every block.
 * Providers also refuse leases now and then and close running ones (MsgCloseLease: mostly their
 * own active leases, sometimes a closing one or another provider's, which must fail).
 * Besides the random mix, every block aims a few updates, deposits, confirmations and closes
 * at the deployments whose leases go stale or whose orders become matchable in the next blocks
 * (some re-ordering every group with bids in the same block), some deployments are funded for
 * only a few blocks, and every RB_WEDGE_PERIOD blocks a two-group deployment funded for one
 * block of both is leased and re-ordered, so settlements empty escrows while the deployment's
 * other re-order is due, and re-orders fall due at their old lease's stale height.
 * Tenants grant providers and one another deployment msgs with random limits (some grants
 * invalid), revoke them, and grantees run deployments, updates, deposits and closes through
 * MsgExec (sometimes naming a granter that granted nothing), so every grant rule is hit while
 * the supply and escrow invariants keep holding.
 * Staking runs in the same blocks: random CreateValidator, EditValidator, Delegate, Undelegate,
 * Redelegate, Unjail and WithdrawRewards msgs (valid and not) with inflation on; every block
 * carries a last commit of the previous height's set, in which validators that went offline
 * (each toggles now and then) do not sign, so they miss windows and are slashed and jailed;
 * now and then a block carries duplicate-vote evidence (sometimes the same again), which
 * slashes and tombstones once. max_validators is small, so joins and power shifts push
 * validators out of the active set and back, and the facilitator is whichever actor's
 * validator is active.
 *
 * Proves, after every block: the supply invariant and every counter invariant hold
 * (kumo_market_invariants_check) and staking's (kumo_staking_invariants_check), the supply moved
 * only by what was minted (interest, inflation) and burned (slashes), the consensus set that
 * signs two heights later is staking's active set with its bonded powers, no balance exceeds the
 * supply (nothing negative or wrapped),
 * and two independent LMDB stores fed the same block bytes have identical app hashes. Halfway,
 * both stores are closed and reopened; the run continues with the same hashes. And liveness:
 * no facilitator tx ever fails, and every item due at the start of a block (an order with bids
 * past its wait, a lease past its reconfirmation period, a closing deployment past its due
 * height) has reached its outcome (order no longer open, lease no longer active, deployment
 * closed) two blocks later at the latest; and over 1000 blocks the builder did leave out due
 * msgs that an earlier one invalidated (the interleaving was reached).
 *
 * Reproduce a failure with the seed it prints: KUMO_SIM_SEED=<seed> ctest -R random_blocks.
 * KUMO_SIM_BLOCKS sets the number of blocks (default 1000).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bank/bank.h"
#include "helpers/testrng.h"
#include "helpers/teststore.h"
#include "helpers/testutil.h"
#include "market/market_int.h"
#include "node/node_int.h"

#define RB_CHAIN_ID           "kumo-sim"
#define RB_TENANTS            4
#define RB_PROVIDERS          6
#define RB_ACTORS             (1 + RB_TENANTS + RB_PROVIDERS)
#define RB_TX_MAX             64
#define RB_FACILITATOR_TX_MAX 1024
#define RB_SEEN_MAX           200
#define RB_FEE                5u
#define RB_DUE_MAX            256      /* due items tracked per block */
#define RB_NEAR_MAX           16       /* items near their due height targeted per block */
#define RB_LIVE_LAG           2        /* blocks a due item may take to reach its outcome */
#define RB_WEDGE_PERIOD       8        /* blocks between scripted wedge attempts */
#define RB_STAKE_UNIT         1000000u /* ukumo per unit of power (power_reduction) */
#define RB_SET_MAX            5u       /* max_validators: joins push others out */

/* A due item: the index it came from and the object key it names (docs/design.md 3.1). */
typedef struct rb_item {
    uint8_t prefix; /* KUMO_MARKET_PREFIX_MATCH, _STALE or _CLOSING */
    uint8_t body[KUMO_MARKET_LEASE_BODY_BYTES];
    size_t body_len;
    uint64_t due_height;
} rb_item_t;

typedef struct rb_items {
    rb_item_t items[RB_DUE_MAX];
    size_t count;
    uint64_t height_min; /* items due in [height_min, height_max] */
    uint64_t height_max;
} rb_items_t;

/* What consensus adds to the next block (the same for both stores). */
typedef struct rb_cons {
    bool has_commit;
    Kumo__Commit commit;
    Kumo__CommitSig sigs[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    Kumo__CommitSig *sig_ptrs[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    kumo_chain_commit_signer_t signers[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    size_t signer_count;
    uint8_t zero[KUMO_CRYPTO_SIG_BYTES];
    kumo_bytes_t ev_items[1];
    kumo_chain_evidence_t ev[1];
    size_t ev_count;
} rb_cons_t;

static const char *const rb_regions[3] = {"r1", "r2", "r3"}; /* r3 has no provider */

typedef struct rb {
    kumo_test_rng_t rng;
    uint64_t seed;
    char *dir_a;
    char *dir_b;
    kumo_node_t *a; /* a local node: the node's own block path */
    kumo_store_t *b;
    uint8_t b_hash[KUMO_CHAIN_HASH_BYTES];
    uint64_t b_height;
    kumo_crypto_keypair_t keys[RB_ACTORS];
    kumo_crypto_keypair_t cons[RB_ACTORS]; /* consensus keys (actor 0: genesis's, its own) */
    uint8_t addr[RB_ACTORS][KUMO_ADDRESS_BYTES];
    uint64_t seq[RB_ACTORS];
    uint64_t next_dseq[RB_ACTORS];
    kumo_buf_t txs[RB_FACILITATOR_TX_MAX + RB_TX_MAX];
    size_t tx_count;
    size_t fac_count;                      /* leading facilitator txs */
    uint64_t wedge_dseq;                   /* deployment of the scripted wedge attempt */
    ProtobufCMessage *orders[RB_SEEN_MAX]; /* copies of open orders in the snapshot */
    size_t order_count;
    uint64_t stats_ok;
    uint64_t stats_failed;
    uint64_t stats_code[64];         /* failures by -code */
    uint64_t stats_event[9];         /* counts of rb_event_types */
    uint64_t stats_provider_closed;  /* lease.closed events with reason provider_closed */
    uint64_t stats_grant[3];         /* grant.created, grant.used, grant.revoked events */
    bool exec_on;                    /* rb_tx_add wraps its msg in a MsgExec: */
    int exec_grantee;                /*   signed by this actor */
    int exec_granter;                /*   for this one */
    uint64_t stats_due;              /* due items checked for liveness */
    uint64_t stats_targeted;         /* txs aimed at items near their due height */
    uint64_t stats_dropped;          /* due msgs the facilitator left out (invalidated in order) */
    rb_items_t due[RB_LIVE_LAG + 1]; /* due[h % (LAG+1)]: items due in block h */
    rb_items_t near;                 /* items due in the next few blocks */
    uint64_t genesis_supply;         /* balances + bonded stake at genesis */
    rb_cons_t cons_facts;            /* the next block's signers and evidence */
    uint32_t offline;                /* bit a: actor a's validator signs nothing */
    uint8_t ev_last[KUMO_CONSENSUS_EVIDENCE_BYTES];
    bool ev_last_valid;
    uint8_t tx_stk_op[RB_FACILITATOR_TX_MAX + RB_TX_MAX]; /* staking op + 1 of each tx */
    uint64_t stk_ok[7];                                   /* staking msgs that succeeded */
    uint64_t stk_set_changes;                             /* blocks that changed the set */
    uint64_t stk_removals;
    uint64_t stk_evidence;
    uint32_t stk_set_max;
    uint32_t stk_jailed_max;
    uint32_t stk_tombstoned;
} rb_t;
_Static_assert(RB_ACTORS <= 32, "offline bits");

static void rb_supply_check(rb_t *rb, const kumo_kv_t *kv);

/* Events whose occurrence proves the run reached every part of the lifecycle. */
static const char *const rb_event_types[9] = {
    "lease.created",      "lease.paid",        "lease.stale",
    "lease.released",     "deployment.closed", "fulfillment.evicted",
    "deployment.updated", "order.created",     "lease.refused",
};

static void rb_events_count(rb_t *rb, const kumo_chain_tx_result_t *res)
{
    kumo_reader_t r;
    kumo_reader_init(&r, kumo_buf_bytes(&res->events));
    for (uint32_t i = 0; i < res->event_count; i++) {
        kumo_bytes_t evb;
        ProtobufCMessage *m = NULL;
        assert_int_equal(kumo_reader_read_prefixed(&r, KUMO_TX_BYTES_MAX, &evb), 0);
        assert_int_equal(
            kumo_codec_unpack(&kumo__event__descriptor, evb, KUMO_TX_BYTES_MAX, &m, NULL), 0);
        const Kumo__Event *ev = (const Kumo__Event *)m;
        for (size_t t = 0; t < KUMO_ARRAY_COUNT(rb_event_types); t++) {
            if (strcmp(ev->type, rb_event_types[t]) == 0) {
                rb->stats_event[t]++;
            }
        }
        static const char *const grant_types[3] = {"grant.created", "grant.used", "grant.revoked"};
        for (size_t t = 0; t < 3; t++) {
            rb->stats_grant[t] += strcmp(ev->type, grant_types[t]) == 0 ? 1u : 0u;
        }
        for (size_t a = 0; strcmp(ev->type, "lease.closed") == 0 && a < ev->n_attrs; a++) {
            if (strcmp(ev->attrs[a]->key, "reason") == 0 &&
                strcmp(ev->attrs[a]->value, "provider_closed") == 0) {
                rb->stats_provider_closed++;
            }
        }
        kumo_codec_free(m);
    }
}

static int rb_provider(int i)
{
    return 1 + RB_TENANTS + i;
}

static int rb_tenant(int i)
{
    return 1 + i;
}

/* Node A's committed height. */
static uint64_t rb_height(const rb_t *rb)
{
    kumo_node_status_t st;
    kumo_node_status_get(rb->a, &st);
    return st.height;
}

static void rb_fail(rb_t *rb, const char *what, const kumo_err_ctx_t *err)
{
    fail_msg("seed %" PRIu64 " block %" PRIu64 ": %s: %s %s\n  replay: KUMO_SIM_SEED=%" PRIu64
             " ctest -R random_blocks",
             rb->seed, rb_height(rb), what, err != NULL ? kumo_err_name(err->code) : "",
             err != NULL ? err->detail : "", rb->seed);
}

static void rb_tx_add(rb_t *rb, int actor, const Kumo__Msg *msg, uint64_t fee)
{
    KUMO_ASSERT(rb->tx_count < KUMO_ARRAY_COUNT(rb->txs));
    kumo_buf_t *buf = &rb->txs[rb->tx_count++];
    kumo_buf_init(buf, KUMO_TX_BYTES_MAX);
    Kumo__Msg *msgs[1] = {(Kumo__Msg *)(uintptr_t)msg};
    /* Under rb_grant_exec: the same msg, run by the grantee for the granter. */
    Kumo__MsgExec exec = KUMO__MSG_EXEC__INIT;
    Kumo__Msg outer = KUMO__MSG__INIT;
    Kumo__Msg *inner[1] = {msgs[0]};
    if (rb->exec_on) {
        exec.granter.data = rb->addr[rb->exec_granter];
        exec.granter.len = KUMO_ADDRESS_BYTES;
        exec.n_msgs = 1;
        exec.msgs = inner;
        outer.sum_case = KUMO__MSG__SUM_EXEC;
        outer.exec = &exec;
        msgs[0] = &outer;
        actor = rb->exec_grantee;
    }
    assert_int_equal(kumo_chain_tx_build(RB_CHAIN_ID, &rb->keys[actor], rb->seq[actor], fee, "",
                                         msgs, 1, buf, NULL),
                     0);
    rb->seq[actor]++;
}

/* ---- random msgs ---- */

static void rb_send_from(rb_t *rb, int from)
{
    int to = (int)kumo_test_rng_below(&rb->rng, RB_ACTORS);
    Kumo__MsgSend send = KUMO__MSG_SEND__INIT;
    send.to.data = rb->addr[to];
    send.to.len = KUMO_ADDRESS_BYTES;
    send.amount = kumo_test_rng_below(&rb->rng, 10) == 0 ? UINT64_MAX - 3
                                                         : kumo_test_rng_below(&rb->rng, 40000);
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SEND;
    msg.send = &send;
    rb_tx_add(rb, from, &msg, RB_FEE);
}

static int rb_random_signer(rb_t *rb)
{
    return 1 + (int)kumo_test_rng_below(&rb->rng, RB_ACTORS - 1);
}

static void rb_group(rb_t *rb,
                     Kumo__GroupSpec *g,
                     Kumo__ResourceGroup *rg,
                     Kumo__ComputeUnit *cu,
                     Kumo__ResourceGroup **rg_ptr,
                     char *name,
                     size_t name_cap,
                     int index)
{
    kumo__compute_unit__init(cu);
    cu->cpu_milli = 100 + kumo_test_rng_below(&rb->rng, 2000);
    cu->memory_bytes = (1 + kumo_test_rng_below(&rb->rng, 8)) << 28;
    cu->storage_bytes = kumo_test_rng_below(&rb->rng, 4) << 30;
    kumo__resource_group__init(rg);
    rg->compute = cu;
    rg->price = 1 + kumo_test_rng_below(&rb->rng, 100);
    rg->collateral = kumo_test_rng_below(&rb->rng, 3000);
    rg->count = 1 + (uint32_t)kumo_test_rng_below(&rb->rng, 3);
    *rg_ptr = rg;
    kumo__group_spec__init(g);
    (void)snprintf(name, name_cap, "g%d", index);
    g->name = name;
    /* r3 has no provider: its orders stay open until closed, so it is rare. */
    uint64_t r = kumo_test_rng_below(&rb->rng, 20);
    g->region = (char *)(uintptr_t)rb_regions[r == 0 ? 2 : r % 2];
    g->persist = kumo_test_rng_below(&rb->rng, 2) == 0;
    g->n_resources = 1;
    g->resources = rg_ptr;
}

/* A new deployment, or an update of a random one; target_t >= 0 updates (target_t, dseq). */
static void rb_deploy_at(rb_t *rb, bool update, int target_t, uint64_t target_dseq)
{
    int t = target_t >= 0 ? target_t : rb_tenant((int)kumo_test_rng_below(&rb->rng, RB_TENANTS));
    Kumo__GroupSpec g[2];
    Kumo__GroupSpec *gp[2] = {&g[0], &g[1]};
    Kumo__ResourceGroup rg[2];
    Kumo__ResourceGroup *rgp[2];
    Kumo__ComputeUnit cu[2];
    char names[2][8];
    size_t n = 1 + kumo_test_rng_below(&rb->rng, 2);
    for (size_t i = 0; i < n; i++) {
        rb_group(rb, &g[i], &rg[i], &cu[i], &rgp[i], names[i], sizeof(names[i]), (int)i);
    }
    uint8_t version[32];
    memset(version, (int)kumo_test_rng_below(&rb->rng, 256), sizeof(version));
    Kumo__Msg msg = KUMO__MSG__INIT;
    Kumo__MsgSubmitDeployment sd = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    Kumo__MsgUpdateDeployment ud = KUMO__MSG_UPDATE_DEPLOYMENT__INIT;
    if (update) {
        ud.dseq =
            target_t >= 0 ? target_dseq : 1 + kumo_test_rng_below(&rb->rng, rb->next_dseq[t] + 1);
        ud.version.data = version;
        ud.version.len = sizeof(version);
        ud.n_groups = target_t < 0 && kumo_test_rng_below(&rb->rng, 2) == 0 ? 0 : n;
        ud.groups = gp;
        msg.sum_case = KUMO__MSG__SUM_UPDATE_DEPLOYMENT;
        msg.update_deployment = &ud;
    } else {
        sd.dseq = ++rb->next_dseq[t];
        sd.n_groups = n;
        sd.groups = gp;
        sd.wait_blocks = kumo_test_rng_below(&rb->rng, 4);
        sd.version.data = version;
        sd.version.len = sizeof(version);
        /* A third is funded for a few blocks only: their settlements empty the escrow. */
        sd.deposit = kumo_test_rng_below(&rb->rng, 3) == 0
                         ? 1000 + kumo_test_rng_below(&rb->rng, 2000)
                         : kumo_test_rng_below(&rb->rng, 60000);
        msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
        msg.submit_deployment = &sd;
    }
    rb_tx_add(rb, t, &msg, RB_FEE);
}

static void rb_deploy(rb_t *rb, bool update)
{
    rb_deploy_at(rb, update, -1, 0);
}

/* A close or a deposit of (t, dseq); t < 0 picks a random tenant and dseq. */
static void rb_close_or_deposit_at(rb_t *rb, bool close, int t, uint64_t dseq)
{
    if (t < 0) {
        t = rb_tenant((int)kumo_test_rng_below(&rb->rng, RB_TENANTS));
        dseq = 1 + kumo_test_rng_below(&rb->rng, rb->next_dseq[t] + 1);
    }
    Kumo__Msg msg = KUMO__MSG__INIT;
    Kumo__MsgCloseDeployment cd = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    Kumo__MsgDepositDeployment dd = KUMO__MSG_DEPOSIT_DEPLOYMENT__INIT;
    if (close) {
        cd.dseq = dseq;
        msg.sum_case = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
        msg.close_deployment = &cd;
    } else {
        dd.owner.data = rb->addr[t];
        dd.owner.len = KUMO_ADDRESS_BYTES;
        dd.dseq = dseq;
        dd.amount = kumo_test_rng_below(&rb->rng, 20000);
        msg.sum_case = KUMO__MSG__SUM_DEPOSIT_DEPLOYMENT;
        msg.deposit_deployment = &dd;
    }
    /* Anyone may deposit; sometimes a provider does. */
    int signer = close || kumo_test_rng_below(&rb->rng, 2) == 0
                     ? t
                     : rb_provider((int)kumo_test_rng_below(&rb->rng, RB_PROVIDERS));
    rb_tx_add(rb, signer, &msg, RB_FEE);
}

static void rb_close_or_deposit(rb_t *rb, bool close)
{
    rb_close_or_deposit_at(rb, close, -1, 0);
}

/* ---- grants ---- */

/* tenant t grants actor g some deployment msgs on one of its deployments or all, with random
 * limits (sometimes broken ones: the chain must refuse them). */
static void rb_grant(rb_t *rb, int t, int g)
{
    Kumo__MsgGrant m = KUMO__MSG_GRANT__INIT;
    m.grantee.data = rb->addr[g];
    m.grantee.len = KUMO_ADDRESS_BYTES;
    m.dseq = kumo_test_rng_below(&rb->rng, 2) == 0
                 ? 0
                 : 1 + kumo_test_rng_below(&rb->rng, rb->next_dseq[t] + 1);
    uint32_t types[4];
    size_t n = 0;
    for (uint32_t ty = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT; ty <= KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
         ty++) {
        bool submit_ok = ty != KUMO__MSG__SUM_SUBMIT_DEPLOYMENT || m.dseq == 0;
        if (submit_ok && kumo_test_rng_below(&rb->rng, 3) != 0) {
            types[n++] = ty;
        }
    }
    if (n == 0) {
        n = 1;
        types[0] = KUMO__MSG__SUM_SEND; /* refused: not grantable */
    } else if (kumo_test_rng_below(&rb->rng, 20) == 0) {
        types[0] = KUMO__MSG__SUM_SEND;
    }
    m.msg_types = types;
    m.n_msg_types = n;
    char *regions[2] = {(char *)(uintptr_t)rb_regions[0], (char *)(uintptr_t)rb_regions[1]};
    m.n_regions = kumo_test_rng_below(&rb->rng, 3);
    m.regions = regions;
    if (m.n_regions == 1 && kumo_test_rng_below(&rb->rng, 2) == 0) {
        regions[0] = (char *)(uintptr_t)rb_regions[1];
    }
    m.max_price_per_block = kumo_test_rng_below(&rb->rng, 400);
    m.max_count_per_group = (uint32_t)kumo_test_rng_below(&rb->rng, 5);
    m.spend_limit = kumo_test_rng_below(&rb->rng, 80000);
    m.expiry_height = rb_height(rb) + kumo_test_rng_below(&rb->rng, 300);
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_GRANT;
    msg.grant = &m;
    rb_tx_add(rb, t, &msg, RB_FEE);
}

static void rb_revoke(rb_t *rb, int t, int g)
{
    Kumo__MsgRevoke m = KUMO__MSG_REVOKE__INIT;
    m.grantee.data = rb->addr[g];
    m.grantee.len = KUMO_ADDRESS_BYTES;
    m.dseq = kumo_test_rng_below(&rb->rng, 2) == 0
                 ? 0
                 : 1 + kumo_test_rng_below(&rb->rng, rb->next_dseq[t] + 1);
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_REVOKE;
    msg.revoke = &m;
    rb_tx_add(rb, t, &msg, RB_FEE);
}

/* g runs one of t's deployment msgs under t's grants (or names another granter). */
static void rb_grant_exec(rb_t *rb, int t, int g)
{
    rb->exec_on = true;
    rb->exec_grantee = g;
    rb->exec_granter = kumo_test_rng_below(&rb->rng, 10) == 0
                           ? rb_tenant((int)kumo_test_rng_below(&rb->rng, RB_TENANTS))
                           : t;
    uint64_t dseq = 1 + kumo_test_rng_below(&rb->rng, rb->next_dseq[t] + 1);
    switch (kumo_test_rng_below(&rb->rng, 4)) {
    case 0:
        rb_deploy_at(rb, false, t, 0);
        break;
    case 1:
        rb_deploy_at(rb, true, t, dseq);
        break;
    case 2:
        rb_close_or_deposit_at(rb, true, t, dseq);
        break;
    default:
        rb_close_or_deposit_at(rb, false, t, dseq);
        break;
    }
    rb->exec_on = false;
}

static void rb_grant_op(rb_t *rb)
{
    int t = rb_tenant((int)kumo_test_rng_below(&rb->rng, RB_TENANTS));
    /* Mostly one of two fixed grantees per tenant, so grants meet their execs. */
    int g = kumo_test_rng_below(&rb->rng, 8) == 0
                ? rb_random_signer(rb)
                : rb_provider((t + (int)kumo_test_rng_below(&rb->rng, 2)) % RB_PROVIDERS);
    uint64_t r = kumo_test_rng_below(&rb->rng, 10);
    if (r < 3) {
        rb_grant(rb, t, g);
    } else if (r == 3) {
        rb_revoke(rb, t, g);
    } else {
        rb_grant_exec(rb, t, g);
    }
}

/* A bid (or its cancel) by provider pi on order o; prices mostly within the order's, or the
 * order's own when exact. */
static void rb_bid_by(rb_t *rb, const Kumo__Order *o, int pi, bool cancel, bool exact)
{
    Kumo__Msg msg = KUMO__MSG__INIT;
    Kumo__MsgCancelFulfillment cf = KUMO__MSG_CANCEL_FULFILLMENT__INIT;
    Kumo__MsgSubmitFulfillment sf = KUMO__MSG_SUBMIT_FULFILLMENT__INIT;
    Kumo__ResourceGroup rgs[KUMO_RESOURCE_COUNT_MAX];
    Kumo__ResourceGroup *rgp[KUMO_RESOURCE_COUNT_MAX];
    if (cancel) {
        cf.order = o->id;
        msg.sum_case = KUMO__MSG__SUM_CANCEL_FULFILLMENT;
        msg.cancel_fulfillment = &cf;
    } else {
        KUMO_ASSERT(o->n_resources <= KUMO_RESOURCE_COUNT_MAX);
        for (size_t i = 0; i < o->n_resources; i++) {
            rgs[i] = *o->resources[i];
            rgs[i].price = exact ? o->resources[i]->price
                                 : 1 + kumo_test_rng_below(&rb->rng, o->resources[i]->price + 5);
            rgp[i] = &rgs[i];
        }
        sf.order = o->id;
        sf.n_resources = o->n_resources;
        sf.resources = rgp;
        msg.sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
        msg.submit_fulfillment = &sf;
    }
    rb_tx_add(rb, rb_provider(pi), &msg, RB_FEE);
}

/* Region index served by providers pi with pi % 2 == index; -1 for r3 (nobody). */
static int rb_order_region(const Kumo__Order *o)
{
    return strcmp(o->region, "r1") == 0 ? 0 : strcmp(o->region, "r2") == 0 ? 1 : -1;
}

static void rb_bid_or_cancel(rb_t *rb, bool cancel)
{
    if (rb->order_count == 0) {
        return;
    }
    const Kumo__Order *o =
        (const Kumo__Order *)rb->orders[kumo_test_rng_below(&rb->rng, rb->order_count)];
    /* Mostly a provider of the order's region; sometimes any (EREGION). */
    int pi = (int)kumo_test_rng_below(&rb->rng, RB_PROVIDERS);
    int region = rb_order_region(o);
    if (region >= 0 && kumo_test_rng_below(&rb->rng, 5) != 0) {
        pi = region + 2 * (int)kumo_test_rng_below(&rb->rng, RB_PROVIDERS / 2);
    }
    rb_bid_by(rb, o, pi, cancel, false);
}

/* Every provider of the order's region bids on it: more bids than max_bids_per_order. */
static void rb_bid_storm(rb_t *rb)
{
    if (rb->order_count == 0) {
        return;
    }
    const Kumo__Order *o =
        (const Kumo__Order *)rb->orders[kumo_test_rng_below(&rb->rng, rb->order_count)];
    int region = rb_order_region(o);
    for (int pi = 0; region >= 0 && pi < RB_PROVIDERS; pi++) {
        if (pi % 2 == region) {
            rb_bid_by(rb, o, pi, false, false);
        }
    }
}

static void rb_garbage(rb_t *rb)
{
    KUMO_ASSERT(rb->tx_count < KUMO_ARRAY_COUNT(rb->txs));
    int kind = (int)kumo_test_rng_below(&rb->rng, 3);
    int from = rb_random_signer(rb);
    if (kind == 0) {
        kumo_buf_t *buf = &rb->txs[rb->tx_count++];
        kumo_buf_init(buf, 64);
        uint8_t junk[32];
        for (size_t i = 0; i < sizeof(junk); i++) {
            junk[i] = (uint8_t)kumo_test_rng_next(&rb->rng);
        }
        assert_int_equal(kumo_buf_append(buf, junk, 1 + kumo_test_rng_below(&rb->rng, 32)), 0);
    } else if (kind == 1) {
        rb_send_from(rb, from);
        rb->seq[from]--; /* a rejected tx does not use its sequence */
        kumo_buf_t *buf = &rb->txs[rb->tx_count - 1];
        buf->ptr[buf->len - 1 - kumo_test_rng_below(&rb->rng, 64)] ^= 0x10; /* bad signature */
    } else {
        uint64_t good = rb->seq[from];
        rb->seq[from] = good + 1 + kumo_test_rng_below(&rb->rng, 3);
        rb_send_from(rb, from);
        rb->seq[from] = good;
    }
}

/* ---- snapshot queries ---- */

static int rb_order_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    rb_t *rb = cb_ctx;
    if (rb->order_count >= RB_SEEN_MAX) {
        return 1;
    }
    kumo_buf_t tmp;
    kumo_buf_init(&tmp, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(obj, &tmp, NULL), 0);
    assert_int_equal(kumo_codec_unpack(&kumo__order__descriptor, kumo_buf_bytes(&tmp),
                                       KUMO_STATE_OBJECT_BYTES_MAX, &rb->orders[rb->order_count],
                                       NULL),
                     0);
    rb->order_count++;
    kumo_buf_free(&tmp);
    return 0;
}

typedef struct rb_confirm {
    rb_t *rb;
    uint64_t height;
    bool flaky;
    size_t count;
    uint8_t owner[32][KUMO_ADDRESS_BYTES];
    Kumo__OrderId ids[32];
    Kumo__LeaseConfirmation confs[32];
    Kumo__LeaseConfirmation *ptrs[32];
    size_t refuse_count; /* leases refused instead of confirmed (one tx each) */
    uint8_t refuse_owner[4][KUMO_ADDRESS_BYTES];
    Kumo__OrderId refuse_ids[4];
    size_t close_count; /* leases closed by the provider instead of confirmed (one tx each) */
    uint8_t close_owner[4][KUMO_ADDRESS_BYTES];
    Kumo__OrderId close_ids[4];
} rb_confirm_t;

/* Notes the lease for a MsgCloseLease instead of a confirmation. */
static void rb_close_note(rb_confirm_t *cc, const Kumo__Lease *l)
{
    KUMO_ASSERT(cc->close_count < 4);
    size_t k = cc->close_count++;
    memcpy(cc->close_owner[k], l->id->order->owner.data, KUMO_ADDRESS_BYTES);
    cc->close_ids[k] = *l->id->order;
    cc->close_ids[k].owner.data = cc->close_owner[k];
}

static int rb_lease_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    rb_confirm_t *cc = cb_ctx;
    const Kumo__Lease *l = (const Kumo__Lease *)obj;
    bool closing = l->state == KUMO__LEASE_STATE__LEASE_CLOSING;
    bool active = l->state == KUMO__LEASE_STATE__LEASE_ACTIVE;
    if ((!closing && !active) || cc->count >= 32) {
        return 0;
    }
    if (cc->flaky && kumo_test_rng_below(&cc->rb->rng, 10) < 7) {
        return 0;
    }
    if (active && cc->refuse_count < 4 && kumo_test_rng_below(&cc->rb->rng, 40) == 0) {
        /* Refuse instead (fails once its version was confirmed: then it is garbage). */
        size_t k = cc->refuse_count++;
        memcpy(cc->refuse_owner[k], l->id->order->owner.data, KUMO_ADDRESS_BYTES);
        cc->refuse_ids[k] = *l->id->order;
        cc->refuse_ids[k].owner.data = cc->refuse_owner[k];
        return 0;
    }
    if (cc->close_count < 4 && kumo_test_rng_below(&cc->rb->rng, active ? 60 : 30) == 0) {
        /* Close it (a closing lease cannot be: then it is garbage). */
        rb_close_note(cc, l);
        return 0;
    }
    if (active && kumo_test_rng_below(&cc->rb->rng, 3) != 0) {
        return 0; /* confirm roughly every third block */
    }
    size_t i = cc->count++;
    memcpy(cc->owner[i], l->id->order->owner.data, KUMO_ADDRESS_BYTES);
    cc->ids[i] = *l->id->order;
    cc->ids[i].owner.data = cc->owner[i];
    kumo__lease_confirmation__init(&cc->confs[i]);
    cc->confs[i].order = &cc->ids[i];
    /* Occasionally claim release of an active lease (rejected: the whole batch fails). */
    cc->confs[i].released = closing || kumo_test_rng_below(&cc->rb->rng, 50) == 0;
    if (!cc->confs[i].released && kumo_test_rng_below(&cc->rb->rng, 2) == 0) {
        /* A version that no deployment has: pays, records nothing. */
        static const uint8_t other[KUMO_VERSION_BYTES] = {1};
        cc->confs[i].version.data = (uint8_t *)(uintptr_t)other;
        cc->confs[i].version.len = KUMO_VERSION_BYTES;
    }
    cc->ptrs[i] = &cc->confs[i];
    return 0;
}

static void rb_confirm(rb_t *rb, const kumo_kv_t *kv, int pi)
{
    int p = rb_provider(pi);
    rb_confirm_t cc = {.rb = rb, .height = rb_height(rb) + 1, .flaky = pi == 3};
    kumo_market_query_t q = {
        .object = KUMO_MARKET_OBJ_LEASE, .provider = rb->addr[p], .limit = 100};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    assert_int_equal(kumo_market_query_run(kv, &q, rb_lease_cb, &cc, &next, NULL), 0);
    kumo_buf_free(&next);
    for (size_t k = 0; k < cc.refuse_count; k++) {
        Kumo__MsgRefuseLease rl = KUMO__MSG_REFUSE_LEASE__INIT;
        rl.order = &cc.refuse_ids[k];
        rl.reason = KUMO__REFUSE_REASON__REFUSE_REASON_IMAGE_MISSING;
        rl.detail = "no such image";
        Kumo__Msg rmsg = KUMO__MSG__INIT;
        rmsg.sum_case = KUMO__MSG__SUM_REFUSE_LEASE;
        rmsg.refuse_lease = &rl;
        rb_tx_add(rb, p, &rmsg, RB_FEE);
    }
    for (size_t k = 0; k < cc.close_count; k++) {
        Kumo__MsgCloseLease cl = KUMO__MSG_CLOSE_LEASE__INIT;
        cl.order = &cc.close_ids[k];
        cl.detail = k % 2 == 0 ? "" : "rack retired";
        Kumo__Msg cmsg = KUMO__MSG__INIT;
        cmsg.sum_case = KUMO__MSG__SUM_CLOSE_LEASE;
        cmsg.close_lease = &cl;
        /* Now and then another provider tries it: refused, its lease is not the signer's. */
        bool other = kumo_test_rng_below(&rb->rng, 5) == 0;
        rb_tx_add(rb, other ? rb_provider((pi + 1) % RB_PROVIDERS) : p, &cmsg, RB_FEE);
    }
    if (cc.count == 0) {
        return;
    }
    Kumo__MsgSubmitLeaseConfirmation lc = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    lc.n_confirmations = cc.count;
    lc.confirmations = cc.ptrs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &lc;
    rb_tx_add(rb, p, &msg, RB_FEE);
}

/* ---- items near or at their due height ---- */

typedef struct rb_scan {
    rb_items_t *out;
    size_t body_len;
    uint8_t prefix;
} rb_scan_t;

static int rb_item_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    (void)val;
    rb_scan_t *sc = cb_ctx;
    assert_int_equal(key.len, 1 + 8 + sc->body_len);
    uint64_t due = kumo_be64_get(key.ptr + 1);
    if (due > sc->out->height_max) {
        return 1; /* keys sort by due height */
    }
    if (due < sc->out->height_min || sc->out->count >= RB_DUE_MAX) {
        return 0;
    }
    rb_item_t *it = &sc->out->items[sc->out->count++];
    it->prefix = sc->prefix;
    it->due_height = due;
    it->body_len = sc->body_len;
    memcpy(it->body, key.ptr + 9, sc->body_len);
    return 0;
}

/* Every item of the three due indexes with a due height in [h_min, h_max]. */
static void rb_items_scan(const kumo_kv_t *kv, uint64_t h_min, uint64_t h_max, rb_items_t *out)
{
    static const struct {
        uint8_t prefix;
        size_t body_len;
    } indexes[] = {
        {KUMO_MARKET_PREFIX_STALE, KUMO_MARKET_LEASE_BODY_BYTES},
        {KUMO_MARKET_PREFIX_MATCH, KUMO_MARKET_ORDER_BODY_BYTES},
        {KUMO_MARKET_PREFIX_CLOSING, KUMO_MARKET_DEP_BODY_BYTES},
    };
    out->count = 0;
    out->height_min = h_min;
    out->height_max = h_max;
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(indexes); i++) {
        rb_scan_t sc = {.out = out, .body_len = indexes[i].body_len, .prefix = indexes[i].prefix};
        uint8_t prefix = indexes[i].prefix;
        assert_int_equal(kv->scan(kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(NULL, 0),
                                  rb_item_cb, &sc, NULL),
                         0);
    }
}

/* The actor with this address, or -1. */
static int rb_actor_of(const rb_t *rb, const uint8_t *addr)
{
    for (int i = 0; i < RB_ACTORS; i++) {
        if (memcmp(rb->addr[i], addr, KUMO_ADDRESS_BYTES) == 0) {
            return i;
        }
    }
    return -1;
}

/* Provider p confirms its lease named by a lease body. */
static void rb_confirm_one(rb_t *rb, int p, const uint8_t *lease_body)
{
    Kumo__OrderId id = KUMO__ORDER_ID__INIT;
    id.owner.data = (uint8_t *)(uintptr_t)lease_body;
    id.owner.len = KUMO_ADDRESS_BYTES;
    id.dseq = kumo_be64_get(lease_body + KUMO_ADDRESS_BYTES);
    id.gseq = kumo_be32_get(lease_body + KUMO_MARKET_DEP_BODY_BYTES);
    id.oseq = kumo_be32_get(lease_body + KUMO_MARKET_GROUP_BODY_BYTES);
    Kumo__LeaseConfirmation conf = KUMO__LEASE_CONFIRMATION__INIT;
    conf.order = &id;
    Kumo__LeaseConfirmation *confs[1] = {&conf};
    Kumo__MsgSubmitLeaseConfirmation lc = KUMO__MSG_SUBMIT_LEASE_CONFIRMATION__INIT;
    lc.n_confirmations = 1;
    lc.confirmations = confs;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION;
    msg.submit_lease_confirmation = &lc;
    rb_tx_add(rb, p, &msg, RB_FEE);
}

/* A provider of each order's region bids on every open order of owner/dseq, so re-orders of
 * one update fall due in the same block. */
static void rb_bid_deployment(rb_t *rb, const uint8_t *owner, uint64_t dseq, int pi_fixed)
{
    for (size_t i = 0; i < rb->order_count && rb->tx_count + 4 < KUMO_ARRAY_COUNT(rb->txs); i++) {
        const Kumo__Order *o = (const Kumo__Order *)rb->orders[i];
        int region = rb_order_region(o);
        if (region < 0 || o->id->dseq != dseq ||
            memcmp(o->id->owner.data, owner, KUMO_ADDRESS_BYTES) != 0) {
            continue;
        }
        int pi = region + 2 * (int)kumo_test_rng_below(&rb->rng, RB_PROVIDERS / 2);
        rb_bid_by(rb, o, pi_fixed >= 0 ? pi_fixed : pi, false, pi_fixed >= 0);
    }
}

typedef struct rb_groups {
    ProtobufCMessage *groups[4]; /* owned copies of live groups */
    size_t count;
} rb_groups_t;

static int rb_group_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    rb_groups_t *gs = cb_ctx;
    const Kumo__Group *g = (const Kumo__Group *)obj;
    if (g->state == KUMO__GROUP_STATE__GROUP_CLOSED || gs->count >= KUMO_ARRAY_COUNT(gs->groups)) {
        return 0;
    }
    kumo_buf_t tmp;
    kumo_buf_init(&tmp, KUMO_STATE_OBJECT_BYTES_MAX);
    assert_int_equal(kumo_codec_pack(obj, &tmp, NULL), 0);
    assert_int_equal(kumo_codec_unpack(&kumo__group__descriptor, kumo_buf_bytes(&tmp),
                                       KUMO_STATE_OBJECT_BYTES_MAX, &gs->groups[gs->count], NULL),
                     0);
    gs->count++;
    kumo_buf_free(&tmp);
    return 0;
}

/* Re-orders every live group of (t, dseq) with one update (one more milli-cpu, nothing else
 * changed) and bids on each re-order in the same block, so they all fall due together: when
 * the first match settles an old lease on an escrow that ran dry, the deployment closes and
 * takes the other re-orders with it. */
static void rb_reorder_with_bids(rb_t *rb, const kumo_kv_t *kv, int t, uint64_t dseq, int pi_fixed)
{
    rb_groups_t gs = {0};
    kumo_market_query_t q = {
        .object = KUMO_MARKET_OBJ_GROUP, .owner = rb->addr[t], .dseq = dseq, .limit = 100};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    assert_int_equal(kumo_market_query_run(kv, &q, rb_group_cb, &gs, &next, NULL), 0);
    kumo_buf_free(&next);
    Kumo__GroupSpec *specs[KUMO_ARRAY_COUNT(gs.groups)];
    for (size_t i = 0; i < gs.count; i++) {
        Kumo__Group *g = (Kumo__Group *)gs.groups[i];
        g->spec->resources[0]->compute->cpu_milli++;
        specs[i] = g->spec;
    }
    if (gs.count > 0 && rb->tx_count + 2 + gs.count < KUMO_ARRAY_COUNT(rb->txs)) {
        uint8_t version[32];
        memset(version, 0x77, sizeof(version));
        Kumo__MsgUpdateDeployment ud = KUMO__MSG_UPDATE_DEPLOYMENT__INIT;
        ud.dseq = dseq;
        ud.version = (ProtobufCBinaryData){sizeof(version), version};
        ud.n_groups = gs.count;
        ud.groups = specs;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_UPDATE_DEPLOYMENT;
        msg.update_deployment = &ud;
        rb_tx_add(rb, t, &msg, RB_FEE);
        for (size_t i = 0; i < gs.count; i++) {
            const Kumo__Group *g = (const Kumo__Group *)gs.groups[i];
            Kumo__OrderId id = KUMO__ORDER_ID__INIT;
            id.owner = (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, rb->addr[t]};
            id.dseq = dseq;
            id.gseq = g->gseq;
            id.oseq = g->oseq + 1;
            Kumo__Order o = KUMO__ORDER__INIT;
            o.id = &id;
            o.region = g->spec->region;
            o.n_resources = g->spec->n_resources;
            o.resources = g->spec->resources;
            int region = rb_order_region(&o);
            int pi = region + 2 * (int)kumo_test_rng_below(&rb->rng, RB_PROVIDERS / 2);
            if (region >= 0) {
                rb_bid_by(rb, &o, pi_fixed >= 0 ? pi_fixed : pi, false, pi_fixed >= 0);
            }
        }
    }
    for (size_t i = 0; i < gs.count; i++) {
        kumo_codec_free(gs.groups[i]);
    }
}

/* A few txs aimed at deployments whose items fall due in the next blocks: a re-ordering
 * update (its order may fall due with the old lease's stale height), a deposit, a close, or
 * a last-moment confirmation of the lease. */
static void rb_around_due(rb_t *rb, const kumo_kv_t *kv)
{
    uint64_t n = rb->near.count == 0 ? 0 : kumo_test_rng_below(&rb->rng, 4);
    for (uint64_t i = 0; i < n && rb->tx_count + 4 < KUMO_ARRAY_COUNT(rb->txs); i++) {
        const rb_item_t *it = &rb->near.items[kumo_test_rng_below(&rb->rng, rb->near.count)];
        int t = rb_actor_of(rb, it->body);
        uint64_t dseq = kumo_be64_get(it->body + KUMO_ADDRESS_BYTES);
        if (t < 0) {
            continue;
        }
        rb->stats_targeted++;
        uint64_t action = kumo_test_rng_below(&rb->rng, 10);
        if (action < 3) {
            rb_deploy_at(rb, true, t, dseq);
        } else if (action < 5) {
            rb_close_or_deposit_at(rb, false, t, dseq);
        } else if (action == 5) {
            rb_close_or_deposit_at(rb, kumo_test_rng_below(&rb->rng, 3) == 0, t, dseq);
        } else if (action == 6) {
            rb_bid_deployment(rb, it->body, dseq, -1);
        } else if (action == 7) {
            rb_reorder_with_bids(rb, kv, t, dseq, -1);
        } else if (it->prefix == KUMO_MARKET_PREFIX_STALE) {
            int p = rb_actor_of(rb, it->body + KUMO_MARKET_ORDER_BODY_BYTES);
            KUMO_ASSERT(p > 0);
            rb_confirm_one(rb, p, it->body);
        }
    }
}

/* Every RB_WEDGE_PERIOD blocks, the interleaving that wedged a facilitator packing every due
 * msg from one state: a deployment of two groups whose escrow covers one block of both, leased
 * by the provider that seldom confirms, then both groups re-ordered with bids in one block.
 * When the re-orders fall due, the first match settles its old lease short and closes the
 * deployment, which closes the second re-order: that SubmitLease must be left out. The
 * random txs around it (closes, deposits, updates, confirmations) may change the outcome. */
static void rb_wedge_script(rb_t *rb, const kumo_kv_t *kv, uint64_t h)
{
    int t = rb_tenant(RB_TENANTS - 1);
    int pi = 3; /* region r2, confirms rarely */
    switch (h % RB_WEDGE_PERIOD) {
    case 1: {
        Kumo__GroupSpec g[2];
        Kumo__GroupSpec *gp[2] = {&g[0], &g[1]};
        Kumo__ResourceGroup rg[2];
        Kumo__ResourceGroup *rgp[2];
        Kumo__ComputeUnit cu[2];
        char names[2][8];
        for (size_t i = 0; i < 2; i++) {
            rb_group(rb, &g[i], &rg[i], &cu[i], &rgp[i], names[i], sizeof(names[i]), (int)i);
            g[i].region = (char *)(uintptr_t)rb_regions[1];
            rg[i].price = 600;
            rg[i].count = 1;
        }
        uint8_t version[32];
        memset(version, 0x55, sizeof(version));
        Kumo__MsgSubmitDeployment sd = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
        sd.dseq = ++rb->next_dseq[t];
        sd.n_groups = 2;
        sd.groups = gp;
        sd.version = (ProtobufCBinaryData){sizeof(version), version};
        sd.deposit = 1000;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
        msg.submit_deployment = &sd;
        rb_tx_add(rb, t, &msg, RB_FEE);
        rb->wedge_dseq = sd.dseq;
        break;
    }
    case 2:
        rb_bid_deployment(rb, rb->addr[t], rb->wedge_dseq, pi); /* leased in block 3 */
        break;
    case 4:
        rb_reorder_with_bids(rb, kv, t, rb->wedge_dseq, pi); /* due in block 5 */
        break;
    default:
        break;
    }
}

/* Whether an item has reached its outcome: the order is no longer open, the lease no longer
 * active, the deployment closed. */
static bool rb_item_done(const kumo_kv_t *kv, const rb_item_t *it)
{
    static const struct {
        uint8_t due_prefix;
        uint8_t obj_prefix;
        const ProtobufCMessageDescriptor *desc;
    } kinds[] = {
        {KUMO_MARKET_PREFIX_MATCH, KUMO_MARKET_PREFIX_ORDER, &kumo__order__descriptor},
        {KUMO_MARKET_PREFIX_STALE, KUMO_MARKET_PREFIX_LEASE, &kumo__lease__descriptor},
        {KUMO_MARKET_PREFIX_CLOSING, KUMO_MARKET_PREFIX_DEPLOYMENT, &kumo__deployment__descriptor},
    };
    size_t k = 0;
    while (kinds[k].due_prefix != it->prefix) {
        k++;
        KUMO_ASSERT(k < KUMO_ARRAY_COUNT(kinds));
    }
    uint8_t key[1 + KUMO_MARKET_LEASE_BODY_BYTES];
    key[0] = kinds[k].obj_prefix;
    memcpy(key + 1, it->body, it->body_len);
    kumo_bytes_t val;
    assert_int_equal(kv->get(kv->ctx, kumo_bytes_make(key, 1 + it->body_len), &val, NULL), 0);
    ProtobufCMessage *m = NULL;
    assert_int_equal(kumo_codec_unpack(kinds[k].desc, val, KUMO_STATE_OBJECT_BYTES_MAX, &m, NULL),
                     0);
    bool done = false;
    if (it->prefix == KUMO_MARKET_PREFIX_MATCH) {
        done = ((const Kumo__Order *)m)->state != KUMO__ORDER_STATE__ORDER_OPEN;
    } else if (it->prefix == KUMO_MARKET_PREFIX_STALE) {
        done = ((const Kumo__Lease *)m)->state != KUMO__LEASE_STATE__LEASE_ACTIVE;
    } else {
        done = ((const Kumo__Deployment *)m)->state == KUMO__DEPLOYMENT_STATE__DEPLOYMENT_CLOSED;
    }
    kumo_codec_free(m);
    return done;
}

/* Liveness: the items due in block h - RB_LIVE_LAG + 1 are all done after block h. */
static void rb_liveness_check(rb_t *rb, const kumo_kv_t *kv, uint64_t h)
{
    if (h < RB_LIVE_LAG) {
        return;
    }
    const rb_items_t *due = &rb->due[(h - RB_LIVE_LAG + 1) % (RB_LIVE_LAG + 1)];
    for (size_t i = 0; i < due->count; i++) {
        const rb_item_t *it = &due->items[i];
        if (!rb_item_done(kv, it)) {
            char what[160];
            (void)snprintf(what, sizeof(what),
                           "liveness: item of index 0x%02x due at %" PRIu64
                           " still pending after block %" PRIu64,
                           it->prefix, it->due_height, h);
            rb_fail(rb, what, NULL);
        }
    }
    rb->stats_due += due->count;
}

/* ---- blocks ---- */

static void rb_providers_register(rb_t *rb);

/* The facilitator's txs for the next block, built on store B's open block (the same state
 * as A's head): they go first in the block. */
/* The facilitator is the first actor that operates a validator of the active set (the
 * genesis validator until staking's set leaves it out). */
static void rb_facilitator(rb_t *rb, const kumo_kv_t *kv_b)
{
    int fac = 0;
    bool active = false;
    for (int i = 0; i < RB_ACTORS && !active; i++) {
        assert_int_equal(kumo_staking_operator_is_active(kv_b, rb->addr[i], &active, NULL), 0);
        fac = i;
    }
    assert_true(active);
    uint64_t fac_seq = rb->seq[fac];
    size_t fac_count = 0;
    kumo_chain_facilitator_stats_t stats = {0};
    kumo_err_ctx_t err = {0};
    if (kumo_chain_facilitator_txs_build(kv_b, RB_CHAIN_ID, rb_height(rb) + 1, &rb->keys[fac],
                                         &fac_seq, 64, rb->txs, RB_FACILITATOR_TX_MAX, &fac_count,
                                         &stats, &err) != 0) {
        rb_fail(rb, "facilitator", &err);
    }
    rb->seq[fac] = fac_seq;
    rb->stats_dropped += stats.dropped_count;
    rb->tx_count = fac_count;
    rb->fac_count = fac_count;
}

/* ---- staking: msgs, last-commit signers, evidence (docs/design.md section 3a) ---- */

enum {
    RB_STK_CREATE,
    RB_STK_DELEGATE,
    RB_STK_UNDELEGATE,
    RB_STK_REDELEGATE,
    RB_STK_UNJAIL,
    RB_STK_WITHDRAW,
    RB_STK_EDIT,
    RB_STK_OPS,
};
static const char *const rb_stk_names[RB_STK_OPS] = {
    "create_validator", "delegate", "undelegate", "redelegate", "unjail", "withdraw", "edit",
};

static const Kumo__StakingParams *rb_stk_params(void);

/* The operator address of a random actor (most are not validators: failed msgs). */
static ProtobufCBinaryData rb_stk_operator(rb_t *rb)
{
    int op = (int)kumo_test_rng_below(&rb->rng, RB_ACTORS);
    return (ProtobufCBinaryData){KUMO_ADDRESS_BYTES, rb->addr[op]};
}

/* Up to 4 kumo, now and then more than anyone has. */
static uint64_t rb_stk_amount(rb_t *rb)
{
    if (kumo_test_rng_below(&rb->rng, 20) == 0) {
        return UINT64_MAX - 7;
    }
    return 1 + kumo_test_rng_below(&rb->rng, 4u * RB_STAKE_UNIT);
}

static void rb_stk_tx(rb_t *rb, int actor, int op, const Kumo__Msg *msg)
{
    rb->tx_stk_op[rb->tx_count] = (uint8_t)(op + 1);
    rb_tx_add(rb, actor, msg, RB_FEE);
}

/* One random staking msg (valid or not) from a random actor with its own consensus key. */
static void rb_staking(rb_t *rb)
{
    int a = rb_random_signer(rb);
    int op = (int)kumo_test_rng_below(&rb->rng, RB_STK_OPS);
    Kumo__MsgCreateValidator cv = KUMO__MSG_CREATE_VALIDATOR__INIT;
    Kumo__MsgDelegate d = KUMO__MSG_DELEGATE__INIT;
    Kumo__MsgUndelegate u = KUMO__MSG_UNDELEGATE__INIT;
    Kumo__MsgRedelegate r = KUMO__MSG_REDELEGATE__INIT;
    Kumo__MsgUnjail uj = KUMO__MSG_UNJAIL__INIT;
    Kumo__MsgWithdrawRewards w = KUMO__MSG_WITHDRAW_REWARDS__INIT;
    Kumo__MsgEditValidator e = KUMO__MSG_EDIT_VALIDATOR__INIT;
    Kumo__Msg msg = KUMO__MSG__INIT;
    switch (op) {
    case RB_STK_CREATE:
        cv.consensus_pubkey = (ProtobufCBinaryData){KUMO_CRYPTO_PUBKEY_BYTES, rb->cons[a].pubkey};
        cv.moniker = (char *)(uintptr_t) "sim";
        /* Below min_self_stake now and then. */
        cv.self_stake = RB_STAKE_UNIT / 2u + kumo_test_rng_below(&rb->rng, 4u * RB_STAKE_UNIT);
        cv.commission_rate_ppm = kumo_test_rng_below(&rb->rng, 100000);
        cv.commission_max_rate_ppm = 200000;
        cv.commission_max_change_ppm = 10000;
        msg.sum_case = KUMO__MSG__SUM_CREATE_VALIDATOR;
        msg.create_validator = &cv;
        break;
    case RB_STK_DELEGATE:
        d.validator = rb_stk_operator(rb);
        d.amount = rb_stk_amount(rb);
        msg.sum_case = KUMO__MSG__SUM_DELEGATE;
        msg.delegate = &d;
        break;
    case RB_STK_UNDELEGATE:
        u.validator = rb_stk_operator(rb);
        u.amount = rb_stk_amount(rb);
        msg.sum_case = KUMO__MSG__SUM_UNDELEGATE;
        msg.undelegate = &u;
        break;
    case RB_STK_REDELEGATE:
        r.src_validator = rb_stk_operator(rb);
        r.dst_validator = rb_stk_operator(rb);
        r.amount = rb_stk_amount(rb);
        msg.sum_case = KUMO__MSG__SUM_REDELEGATE;
        msg.redelegate = &r;
        break;
    case RB_STK_UNJAIL:
        msg.sum_case = KUMO__MSG__SUM_UNJAIL;
        msg.unjail = &uj;
        break;
    case RB_STK_WITHDRAW:
        w.validator = rb_stk_operator(rb);
        msg.sum_case = KUMO__MSG__SUM_WITHDRAW_REWARDS;
        msg.withdraw_rewards = &w;
        break;
    default:
        e.set_commission = true;
        e.commission_rate_ppm = kumo_test_rng_below(&rb->rng, 120000);
        msg.sum_case = KUMO__MSG__SUM_EDIT_VALIDATOR;
        msg.edit_validator = &e;
        break;
    }
    rb_stk_tx(rb, a, op, &msg);
}

/* The actor whose consensus key is pubkey, or -1. */
static int rb_stk_actor(const rb_t *rb, const uint8_t *pubkey)
{
    for (int i = 0; i < RB_ACTORS; i++) {
        if (memcmp(rb->cons[i].pubkey, pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return i;
        }
    }
    return -1;
}

/* Duplicate prevotes of the validator whose key is pubkey at height h. */
static void rb_stk_evidence_make(rb_t *rb, const uint8_t *pubkey, uint64_t h)
{
    int a = rb_stk_actor(rb, pubkey);
    assert_true(a >= 0);
    kumo_consensus_evidence_t ev = {0};
    kumo_consensus_msg_t *votes[2] = {&ev.vote_a, &ev.vote_b};
    for (int i = 0; i < 2; i++) {
        *votes[i] = (kumo_consensus_msg_t){.kind = KUMO_CONSENSUS_MSG_PREVOTE,
                                           .height = h,
                                           .pol_round = KUMO_CONSENSUS_ROUND_NONE,
                                           .has_value = true};
        memset(votes[i]->value_id, i + 1, sizeof(votes[i]->value_id));
        assert_int_equal(kumo_consensus_msg_sign(votes[i], RB_CHAIN_ID, &rb->cons[a]), 0);
    }
    assert_int_equal(kumo_consensus_evidence_encode(&ev, rb->ev_last), 0);
    rb->ev_last_valid = true;
}

/* The consensus facts of block h: the set of h - 1 signs its last commit except the actors
 * that are offline (each toggles now and then, long enough to miss a window), and now and
 * then duplicate-vote evidence against a member (sometimes the last evidence again). */
static void rb_stk_facts(rb_t *rb, uint64_t h)
{
    rb_cons_t *c = &rb->cons_facts;
    c->has_commit = false;
    c->ev_count = 0;
    if (kumo_test_rng_below(&rb->rng, 8) == 0) {
        rb->offline ^= 1u << kumo_test_rng_below(&rb->rng, RB_ACTORS);
    }
    if (h < 2) {
        return;
    }
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(rb->a, &read, &kv, NULL), 0);
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_chain_valset_get(&kv, h - 1u, &vs, NULL), 0);
    kumo_store_read_end(read);
    kumo__commit__init(&c->commit);
    c->commit.height = h - 1u;
    c->commit.value_id = (ProtobufCBinaryData){KUMO_CRYPTO_HASH_BYTES, c->zero};
    size_t n = 0;
    for (uint32_t i = 0; i < vs.count; i++) {
        int a = rb_stk_actor(rb, vs.v[i].pubkey);
        assert_true(a >= 0);
        memcpy(c->signers[i].pubkey, vs.v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        c->signers[i].power = vs.v[i].power;
        c->signers[i].signed_block = (rb->offline & (1u << a)) == 0;
        if (c->signers[i].signed_block) {
            kumo__commit_sig__init(&c->sigs[n]);
            c->sigs[n].validator_index = i;
            c->sigs[n].signature = (ProtobufCBinaryData){KUMO_CRYPTO_SIG_BYTES, c->zero};
            c->sig_ptrs[n] = &c->sigs[n];
            n++;
        }
    }
    c->commit.n_sigs = n;
    c->commit.sigs = c->sig_ptrs;
    c->signer_count = vs.count;
    c->has_commit = true;
    if (kumo_test_rng_below(&rb->rng, 120) == 0) {
        uint32_t i = (uint32_t)kumo_test_rng_below(&rb->rng, vs.count);
        if (!rb->ev_last_valid || kumo_test_rng_below(&rb->rng, 3) != 0) {
            rb_stk_evidence_make(rb, vs.v[i].pubkey, h - 1u);
        }
        kumo_consensus_evidence_t ev;
        assert_int_equal(kumo_consensus_evidence_decode(
                             kumo_bytes_make(rb->ev_last, sizeof(rb->ev_last)), &ev, NULL),
                         0);
        memcpy(c->ev[0].pubkey, ev.vote_a.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        c->ev[0].height = ev.vote_a.height;
        c->ev[0].round = ev.vote_a.round;
        c->ev_items[0] = kumo_bytes_make(rb->ev_last, sizeof(rb->ev_last));
        c->ev_count = 1;
        rb->stk_evidence++;
    }
}

typedef struct rb_stk_scan {
    const kumo_kv_t *kv;
    const kumo_consensus_valset_t *vs;
    uint32_t active;
    uint32_t jailed;
    uint32_t tombstoned;
    const char *bad;
} rb_stk_scan_t;

static int rb_stk_scan_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    rb_stk_scan_t *s = cb_ctx;
    const Kumo__StakingValidator *v = (const Kumo__StakingValidator *)obj;
    s->tombstoned += v->tombstoned ? 1u : 0u;
    s->jailed += v->jailed && !v->tombstoned ? 1u : 0u;
    bool active = false;
    assert_int_equal(kumo_staking_operator_is_active(s->kv, v->address.data, &active, NULL), 0);
    if (!active) {
        return 0;
    }
    s->active++;
    int i = kumo_consensus_valset_find(s->vs, v->consensus_pubkey.data);
    if (i < 0) {
        s->bad = "an active validator is not in the consensus set";
    } else if (!v->jailed && s->vs->v[i].power != v->tokens / rb_stk_params()->power_reduction) {
        s->bad = "a consensus power is not the bonded power";
    }
    return 0;
}

/* After block h: the consensus set of h + 2 is staking's active set with its powers (a set
 * nobody qualifies for keeps the last one, jailed members included). */
static void rb_stk_check(rb_t *rb, const kumo_kv_t *kv, uint64_t h)
{
    kumo_consensus_valset_t vs;
    assert_int_equal(kumo_chain_valset_get(kv, h + KUMO_CHAIN_VALSET_DELAY, &vs, NULL), 0);
    rb_stk_scan_t s = {.kv = kv, .vs = &vs};
    assert_int_equal(kumo_staking_validators_list(kv, rb_stk_scan_cb, &s, NULL), 0);
    if (s.bad == NULL && s.active != vs.count) {
        s.bad = "the consensus set has members staking's active set lacks";
    }
    if (s.bad != NULL) {
        rb_fail(rb, s.bad, NULL);
    }
    rb->stk_jailed_max = s.jailed > rb->stk_jailed_max ? s.jailed : rb->stk_jailed_max;
    rb->stk_tombstoned = s.tombstoned;
    rb->stk_set_max = vs.count > rb->stk_set_max ? vs.count : rb->stk_set_max;
}

static void rb_stk_results(rb_t *rb, const kumo_chain_block_out_t *out)
{
    for (size_t i = 0; i < out->result_count; i++) {
        int op = rb->tx_stk_op[i];
        if (op > 0 && out->results[i].code == 0) {
            rb->stk_ok[op - 1]++;
        }
    }
    memset(rb->tx_stk_op, 0, sizeof(rb->tx_stk_op));
    rb->stk_set_changes += out->valset_update_count > 0 ? 1u : 0u;
    for (uint32_t i = 0; i < out->valset_update_count; i++) {
        rb->stk_removals += out->valset_updates[i].power == 0 ? 1u : 0u;
    }
}

static void rb_stk_report(const rb_t *rb, const kumo_kv_t *kv, uint64_t blocks)
{
    Kumo__StakingGlobal *sg = NULL;
    assert_int_equal(kumo_staking_global_get(kv, &sg, NULL), 0);
    printf("random_blocks:   staking: set changes %" PRIu64 " (removals %" PRIu64
           "), largest set %u, jailed at once %u, tombstoned %u, evidence items %" PRIu64
           ", minted %" PRIu64 ", burned %" PRIu64 "\n",
           rb->stk_set_changes, rb->stk_removals, rb->stk_set_max, rb->stk_jailed_max,
           rb->stk_tombstoned, rb->stk_evidence, sg->minted_total, sg->burned_total);
    for (int op = 0; op < RB_STK_OPS; op++) {
        printf("random_blocks:   staking %-16s ok %" PRIu64 "\n", rb_stk_names[op], rb->stk_ok[op]);
    }
    if (blocks >= 1000) {
        for (int op = 0; op < RB_STK_OPS; op++) {
            assert_true(rb->stk_ok[op] > 0);
        }
        assert_true(rb->stk_set_changes > 0 && rb->stk_removals > 0 && rb->stk_set_max > 1);
        assert_true(rb->stk_jailed_max > 0 && rb->stk_tombstoned > 0);
        assert_true(sg->minted_total > 0 && sg->burned_total > 0);
    }
    kumo_codec_free(&sg->base);
}

static void rb_txs_generate(rb_t *rb)
{
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(rb->a, &read, &kv, NULL), 0);
    uint64_t h = rb_height(rb) + 1;
    if (h == 1) {
        rb_providers_register(rb);
    }
    rb_items_scan(&kv, 0, h, &rb->due[h % (RB_LIVE_LAG + 1)]);
    rb_items_scan(&kv, h, h + 3, &rb->near);
    kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_ORDER,
                             .state = KUMO__ORDER_STATE__ORDER_OPEN,
                             .limit = RB_SEEN_MAX};
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    assert_int_equal(kumo_market_query_run(&kv, &q, rb_order_cb, rb, &next, NULL), 0);
    kumo_buf_free(&next);
    for (int pi = 0; pi < RB_PROVIDERS; pi++) {
        rb_confirm(rb, &kv, pi);
    }
    rb_wedge_script(rb, &kv, h);
    rb_around_due(rb, &kv);
    kumo_store_read_end(read);
    uint64_t n = kumo_test_rng_below(&rb->rng, 24);
    for (uint64_t i = 0; i < n && rb->tx_count + 4 < KUMO_ARRAY_COUNT(rb->txs); i++) {
        switch (kumo_test_rng_below(&rb->rng, 12)) {
        case 0:
            rb_send_from(rb, rb_random_signer(rb));
            break;
        case 9:
            rb_staking(rb);
            break;
        case 1:
        case 2:
            rb_deploy(rb, false);
            break;
        case 3:
            rb_deploy(rb, true);
            break;
        case 4:
            rb_close_or_deposit(rb, kumo_test_rng_below(&rb->rng, 3) == 0);
            break;
        case 5:
        case 6:
            rb_bid_or_cancel(rb, kumo_test_rng_below(&rb->rng, 8) == 0);
            break;
        case 7:
            rb_bid_storm(rb);
            break;
        case 11:
            rb_grant_op(rb);
            break;
        default:
            rb_garbage(rb);
            break;
        }
    }
}

static void rb_store_b_apply(rb_t *rb, const kumo_kv_t *kv, const kumo_bytes_t *txs, size_t n)
{
    kumo_err_ctx_t err = {0};
    kumo_chain_block_in_t in = {
        .chain_id = RB_CHAIN_ID,
        .height = rb->b_height + 1,
        .prev_app_hash = rb->b_hash,
        .txs = txs,
        .tx_count = n,
        .last_commit_signers = rb->cons_facts.has_commit ? rb->cons_facts.signers : NULL,
        .last_commit_signer_count = rb->cons_facts.has_commit ? rb->cons_facts.signer_count : 0,
        .evidence = rb->cons_facts.ev_count > 0 ? rb->cons_facts.ev : NULL,
        .evidence_count = rb->cons_facts.ev_count,
    };
    kumo_chain_block_out_t out;
    if (kumo_chain_block_apply(kv, &in, &out, &err) != 0) {
        rb_fail(rb, "store B apply", &err);
    }
    rb->b_height++;
    memcpy(rb->b_hash, out.app_hash, sizeof(rb->b_hash));
    assert_int_equal(kumo_store_block_commit(rb->b, rb->b_height, rb->b_hash, &err), 0);
    kumo_chain_block_out_free(&out);
}

static void rb_check(rb_t *rb)
{
    kumo_node_status_t st;
    kumo_node_status_get(rb->a, &st);
    if (memcmp(rb->b_hash, st.app_hash, KUMO_CHAIN_HASH_BYTES) != 0) {
        rb_fail(rb, "app hashes of the two stores differ", NULL);
    }
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_node_read_begin(rb->a, &read, &kv, NULL), 0);
    if (kumo_market_invariants_check(&kv, &err) != 0) {
        rb_fail(rb, "invariants", &err);
    }
    if (kumo_staking_invariants_check(&kv, &err) != 0) {
        rb_fail(rb, "staking invariants", &err);
    }
    rb_supply_check(rb, &kv);
    rb_stk_check(rb, &kv, rb_height(rb));
    rb_liveness_check(rb, &kv, rb_height(rb));
    kumo_bank_totals_t totals;
    assert_int_equal(kumo_bank_totals_get(&kv, &totals, NULL), 0);
    for (int i = 0; i < RB_ACTORS; i++) {
        Kumo__Account *acct = NULL;
        assert_int_equal(kumo_bank_account_get(&kv, rb->addr[i], &acct, NULL), 0);
        if (acct->balance > totals.supply) {
            rb_fail(rb, "a balance exceeds the supply (wrapped)", NULL);
        }
        rb->seq[i] = acct->sequence;
        kumo_codec_free(&acct->base);
    }
    kumo_store_read_end(read);
}

/* Counts results and fails on a facilitator tx that failed: the builder keeps only msgs that
 * succeed in order, and its txs go first, so none may fail. */
static void rb_results(rb_t *rb, const kumo_chain_block_out_t *out)
{
    rb->stats_ok += out->tx_ok_count;
    rb->stats_failed += out->tx_failed_count;
    for (size_t i = 0; i < out->result_count; i++) {
        int code = out->results[i].code;
        rb->stats_code[code < 0 && code > -64 ? -code : 0]++;
        rb_events_count(rb, &out->results[i]);
        if (i < rb->fac_count && code != 0) {
            kumo_err_ctx_t err = {.code = code};
            (void)snprintf(err.detail, sizeof(err.detail), "%s", out->results[i].log);
            rb_fail(rb, "a facilitator tx failed", &err);
        }
    }
}

static void rb_block(rb_t *rb)
{
    kumo_kv_t kv_b;
    assert_int_equal(kumo_store_block_begin(rb->b, &kv_b, NULL), 0);
    rb_facilitator(rb, &kv_b);
    rb_txs_generate(rb);
    rb_stk_facts(rb, rb_height(rb) + 1u);
    kumo_bytes_t txs[KUMO_ARRAY_COUNT(rb->txs)];
    for (size_t i = 0; i < rb->tx_count; i++) {
        txs[i] = kumo_buf_bytes(&rb->txs[i]);
    }
    rb_store_b_apply(rb, &kv_b, txs, rb->tx_count);
    kumo_chain_block_out_t out;
    kumo_err_ctx_t err = {0};
    const kumo_node_block_extra_t extra = {
        .last_commit = rb->cons_facts.has_commit ? &rb->cons_facts.commit : NULL,
        .evidence = rb->cons_facts.ev_items,
        .evidence_count = rb->cons_facts.ev_count,
        .tx_bytes_max = UINT64_MAX,
        .txs_given = true,
        .txs = txs,
        .tx_count = rb->tx_count,
    };
    if (kumo_node_block_produce_given(rb->a, &extra, &out, NULL, &err) != 0) {
        rb_fail(rb, "store A produce", &err);
    }
    rb_results(rb, &out);
    rb_stk_results(rb, &out);
    kumo_chain_block_out_free(&out);
    for (size_t i = 0; i < rb->tx_count; i++) {
        kumo_buf_free(&rb->txs[i]);
    }
    for (size_t i = 0; i < rb->order_count; i++) {
        kumo_codec_free(rb->orders[i]);
    }
    rb->order_count = 0;
    rb->tx_count = 0;
    rb->fac_count = 0;
    rb_check(rb);
}

/* The supply moves only by what was minted (collateral interest, inflation) and burned
 * (slashes): genesis balances + genesis stake + minted - burned. */
static void rb_supply_check(rb_t *rb, const kumo_kv_t *kv)
{
    kumo_bank_totals_t t;
    assert_int_equal(kumo_bank_totals_get(kv, &t, NULL), 0);
    Kumo__Global *g = NULL;
    assert_int_equal(kumo_market_global_get(kv, &g, NULL), 0);
    Kumo__StakingGlobal *sg = NULL;
    assert_int_equal(kumo_staking_global_get(kv, &sg, NULL), 0);
    if (t.supply + sg->burned_total != rb->genesis_supply + g->minted_interest + sg->minted_total) {
        rb_fail(rb, "supply moved by more than minting and burning", NULL);
    }
    kumo_codec_free(&sg->base);
    kumo_codec_free(&g->base);
}

static Kumo__StakingParams rb_sp;

static const Kumo__StakingParams *rb_stk_params(void)
{
    return &rb_sp;
}

static void rb_genesis(rb_t *rb, Kumo__Genesis *g, Kumo__Params *params)
{
    static Kumo__GenesisBalance bal[RB_ACTORS];
    static Kumo__GenesisBalance *bal_ptrs[RB_ACTORS];
    static Kumo__Validator val;
    static Kumo__Validator *val_ptrs[1];
    kumo_market_params_default(params);
    params->min_fee = RB_FEE;
    params->reconfirmation_period = 6;
    params->release_timeout = 8;
    params->max_bids_per_order = 2; /* 3 providers per region: exercises eviction */
    params->min_deposit = 1000;
    params->collateral_interest_rate = 5000;
    for (int i = 0; i < RB_ACTORS; i++) {
        kumo__genesis_balance__init(&bal[i]);
        bal[i].address.data = rb->addr[i];
        bal[i].address.len = KUMO_ADDRESS_BYTES;
        bal[i].amount = 50000000;
        bal_ptrs[i] = &bal[i];
    }
    kumo__validator__init(&val);
    val.address.data = rb->addr[0];
    val.address.len = KUMO_ADDRESS_BYTES;
    val.pubkey.data = rb->keys[0].pubkey;
    val.pubkey.len = KUMO_CRYPTO_PUBKEY_BYTES;
    val.power = 1;
    val_ptrs[0] = &val;
    g->chain_id = RB_CHAIN_ID;
    g->params = params;
    g->n_balances = RB_ACTORS;
    g->balances = bal_ptrs;
    g->n_validators = 1;
    g->validators = val_ptrs;
    /* Inflation on (rewards every block), collateral interest within staking's yield, and
     * short windows so that offline validators are jailed, unjail and unbond in the run. */
    Kumo__StakingParams *sp = &rb_sp;
    kumo_staking_params_default(sp);
    sp->blocks_per_year = 10000;
    sp->inflation_ppm = 100000;
    sp->max_validators = RB_SET_MAX;
    sp->unbonding_blocks = 30;
    sp->signed_blocks_window = 20;
    sp->downtime_jail_blocks = 10;
    sp->slash_fraction_downtime_ppm = 10000;
    sp->commission_change_blocks = 5;
    sp->power_reduction = RB_STAKE_UNIT;
    g->staking_params = sp;
}

static void rb_open_stores(rb_t *rb, const Kumo__Genesis *g)
{
    kumo_node_local_cfg_t cfg = {.dir = rb->dir_a, .chain_id = RB_CHAIN_ID, .no_sync = true};
    kumo_err_ctx_t err = {0};
    if (kumo_node_local_open(&cfg, g, &rb->a, &err) != 0) {
        rb_fail(rb, "open A", &err);
    }
    kumo_store_cfg_t scfg = {.no_sync = true};
    assert_int_equal(kumo_store_open(rb->dir_b, &scfg, &rb->b, &err), 0);
    assert_int_equal(kumo_store_meta_get(rb->b, &rb->b_height, rb->b_hash, &err), 0);
    if (g != NULL) {
        kumo_kv_t kv;
        assert_int_equal(kumo_store_block_begin(rb->b, &kv, &err), 0);
        assert_int_equal(kumo_chain_genesis_apply(&kv, g, rb->b_hash, &err), 0);
        kumo_bank_totals_t t;
        assert_int_equal(kumo_bank_totals_get(&kv, &t, &err), 0);
        rb->genesis_supply = t.supply;
        assert_int_equal(kumo_store_block_commit(rb->b, 0, rb->b_hash, &err), 0);
    }
}

static void rb_providers_register(rb_t *rb)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    for (int pi = 0; pi < RB_PROVIDERS; pi++) {
        Kumo__MsgCreateProvider cp = KUMO__MSG_CREATE_PROVIDER__INIT;
        cp.host_uri = "https://provider.example:8443";
        cp.region = (char *)(uintptr_t)rb_regions[pi % 2];
        cp.root_cert_pem = (char *)(uintptr_t)pem;
        Kumo__Msg msg = KUMO__MSG__INIT;
        msg.sum_case = KUMO__MSG__SUM_CREATE_PROVIDER;
        msg.create_provider = &cp;
        rb_tx_add(rb, rb_provider(pi), &msg, RB_FEE);
    }
}

static void test_random_blocks(void **state)
{
    (void)state;
    static rb_t rb;
    memset(&rb, 0, sizeof(rb));
    rb.seed = kumo_test_rng_seed_from_env(0x6b756d6f);
    const char *blocks_env = getenv("KUMO_SIM_BLOCKS");
    uint64_t blocks = blocks_env != NULL ? strtoull(blocks_env, NULL, 0) : 1000;
    printf("random_blocks: seed %" PRIu64 ", %" PRIu64 " blocks\n", rb.seed, blocks);
    kumo_test_rng_seed(&rb.rng, rb.seed);
    assert_int_equal(kumo_crypto_init(), 0);
    for (int i = 0; i < RB_ACTORS; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
        seed[0] = (uint8_t)(i + 1);
        seed[1] = 0x5a;
        kumo_crypto_key_from_seed(seed, &rb.keys[i]);
        kumo_crypto_address_from_pubkey(rb.keys[i].pubkey, rb.addr[i]);
        seed[1] = 0xc5;
        kumo_crypto_key_from_seed(seed, &rb.cons[i]);
    }
    rb.cons[0] = rb.keys[0]; /* the genesis validator signs with its account key */
    rb.dir_a = kumo_test_tmpdir_make("rb-a");
    rb.dir_b = kumo_test_tmpdir_make("rb-b");
    Kumo__Genesis g = KUMO__GENESIS__INIT;
    Kumo__Params params = KUMO__PARAMS__INIT;
    rb_genesis(&rb, &g, &params);
    rb_open_stores(&rb, &g);
    for (uint64_t b = 0; b < blocks; b++) {
        if (b == blocks / 2) {
            /* Close and reopen both environments: the run must go on identically. */
            kumo_node_close(rb.a);
            kumo_store_close(rb.b);
            rb_open_stores(&rb, NULL);
            rb_check(&rb);
        }
        rb_block(&rb);
    }
    printf("random_blocks: %" PRIu64 " blocks, %" PRIu64 " txs ok, %" PRIu64 " txs failed\n",
           blocks, rb.stats_ok, rb.stats_failed);
    for (int c = 1; c < 64; c++) {
        if (rb.stats_code[c] > 0) {
            printf("random_blocks:   %-18s %" PRIu64 "\n", kumo_err_name(-c), rb.stats_code[c]);
        }
    }
    for (size_t t = 0; t < KUMO_ARRAY_COUNT(rb_event_types); t++) {
        printf("random_blocks:   event %-20s %" PRIu64 "\n", rb_event_types[t], rb.stats_event[t]);
        if (blocks >= 1000) {
            assert_true(rb.stats_event[t] > 0);
        }
    }
    printf("random_blocks:   leases closed by their provider %" PRIu64 "\n",
           rb.stats_provider_closed);
    if (blocks >= 1000) {
        assert_true(rb.stats_provider_closed > 0);
    }
    printf("random_blocks:   grants created %" PRIu64 ", used %" PRIu64 ", revoked %" PRIu64 "\n",
           rb.stats_grant[0], rb.stats_grant[1], rb.stats_grant[2]);
    if (blocks >= 1000) {
        assert_true(rb.stats_grant[0] > 0 && rb.stats_grant[1] > 0 && rb.stats_grant[2] > 0);
    }
    printf("random_blocks:   due items checked %" PRIu64 ", txs aimed near due %" PRIu64
           ", due msgs left out %" PRIu64 "\n",
           rb.stats_due, rb.stats_targeted, rb.stats_dropped);
    if (blocks >= 1000) {
        assert_true(rb.stats_dropped > 0); /* the interleavings that wedged were reached */
    }
    assert_true(rb.stats_ok > blocks);
    assert_true(rb.stats_failed > blocks / 4);
    kumo_store_read_t *read = NULL;
    kumo_kv_t kv;
    assert_int_equal(kumo_node_read_begin(rb.a, &read, &kv, NULL), 0);
    rb_stk_report(&rb, &kv, blocks);
    kumo_store_read_end(read);
    kumo_node_close(rb.a);
    kumo_store_close(rb.b);
    kumo_test_tmpdir_remove(rb.dir_a);
    kumo_test_tmpdir_remove(rb.dir_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
