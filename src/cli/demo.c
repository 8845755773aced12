/*
 * demo.c - `kumo demo`: a scripted market lifecycle through the real state machine on a real
 * LMDB store, printed step by step. The seed's web application (a web tier in us-east and a
 * database in us-west) is deployed; four datacenters bid; the facilitator leases the lowest
 * bids; confirmations pay the providers; one datacenter fails, its lease goes stale, the
 * tenant receives its collateral and the persistent group is re-ordered and won by another
 * datacenter; the tenant closes; providers release; the deployment closes and the escrow rest
 * returns to the tenant. The node daemon issue replaces this with a live network.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/demo_int.h"

static void demo_usage(FILE *out)
{
    fprintf(out, "usage: kumo demo [--dir DIR] [--keep]\n\n"
                 "Runs the market lifecycle of the seed's web application on a real LMDB store\n"
                 "and prints every block's events.\n\n"
                 "  --dir DIR   store directory (default: a new temp dir, removed afterwards)\n"
                 "  --keep      keep the store directory\n\n"
                 "example:\n  kumo demo --dir /tmp/kumo-demo --keep\n");
}

/* ---- the scenario ---- */

/* One infrastructure group of count units of one compute size (persistent). */
typedef struct demo_group {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
    Kumo__ResourceGroup *rg_ptr;
    Kumo__GroupSpec spec;
} demo_group_t;

static void demo_group_init(demo_group_t *g,
                            const char *name,
                            const char *region,
                            uint64_t cpu_milli,
                            uint64_t memory_bytes,
                            uint64_t storage_bytes,
                            uint64_t price,
                            uint64_t collateral,
                            uint32_t count)
{
    kumo__compute_unit__init(&g->cu);
    g->cu.cpu_milli = cpu_milli;
    g->cu.memory_bytes = memory_bytes;
    g->cu.storage_bytes = storage_bytes;
    kumo__resource_group__init(&g->rg);
    g->rg.compute = &g->cu;
    g->rg.price = price;
    g->rg.collateral = collateral;
    g->rg.count = count;
    g->rg_ptr = &g->rg;
    kumo__group_spec__init(&g->spec);
    g->spec.name = (char *)(uintptr_t)name;
    g->spec.region = (char *)(uintptr_t)region;
    g->spec.persist = true;
    g->spec.n_resources = 1;
    g->spec.resources = &g->rg_ptr;
}

static void demo_deploy(demo_t *d)
{
    static const char manifest[] =
        "web: image=localhost/kumo-web:1 port=80 global=true count=2\n"
        "db: image=localhost/kumo-counter:1 port=6379 from=web count=1\n";
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    DEMO_MUST(kumo_crypto_merkle_root(kumo_bytes_make(manifest, sizeof(manifest) - 1), version));

    demo_group_t web;
    demo_group_t db;
    demo_group_init(&web, "web", "us-east", 500, 512ull << 20, 1ull << 30, 40, 5000, 2);
    demo_group_init(&db, "db", "us-west", 1000, 1ull << 30, 10ull << 30, 60, 10000, 1);
    Kumo__GroupSpec *groups[] = {&web.spec, &db.spec};
    Kumo__MsgSubmitDeployment sd = KUMO__MSG_SUBMIT_DEPLOYMENT__INIT;
    sd.dseq = 1;
    sd.n_groups = 2;
    sd.groups = groups;
    sd.wait_blocks = DEMO_WAIT_BLOCKS;
    sd.version.data = version;
    sd.version.len = sizeof(version);
    sd.deposit = 200000;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    msg.submit_deployment = &sd;
    demo_tx_add(d, DEMO_ALICE, &msg);
    printf("  alice submits deployment 1: web (2 x 0.5 cpu, us-east, max 40/unit/block) and\n"
           "  db (1 x 1 cpu, us-west, max 60/unit/block), wait %u blocks, deposit 200000 "
           "ukumo\n",
           DEMO_WAIT_BLOCKS);
}

static void demo_close(demo_t *d)
{
    Kumo__MsgCloseDeployment cd = KUMO__MSG_CLOSE_DEPLOYMENT__INIT;
    cd.dseq = 1;
    Kumo__Msg msg = KUMO__MSG__INIT;
    msg.sum_case = KUMO__MSG__SUM_CLOSE_DEPLOYMENT;
    msg.close_deployment = &cd;
    demo_tx_add(d, DEMO_ALICE, &msg);
    printf("  alice closes deployment 1\n");
}

/* Every datacenter runs BidOnOpenOrders and ConfirmCurrentLeases each block. */
static void demo_datacenters_run(demo_t *d, uint64_t height)
{
    for (int p = DEMO_EAST_A; p <= DEMO_WEST_B; p++) {
        if (d->down[p]) {
            continue;
        }
        demo_bid_on_open_orders(d, p);
        demo_confirm_current_leases(d, p, height);
    }
}

static int demo_scenario(demo_t *d)
{
    demo_block_begin(d, "datacenters register as providers");
    demo_providers_register(d);
    demo_block_end(d);

    demo_block_begin(d, "the tenant submits the web application");
    demo_deploy(d);
    demo_block_end(d);

    uint64_t fail_at = 9;
    uint64_t close_at = 26;
    while (!d->closed && d->height < 60) {
        uint64_t next = d->height + 1;
        const char *title = "providers bid and confirm; the facilitator matches";
        if (next == fail_at) {
            title = "dc-west-a fails: it stops confirming";
            d->down[DEMO_WEST_A] = true;
        } else if (next == close_at) {
            title = "the tenant closes the deployment";
        }
        demo_block_begin(d, title);
        if (next == close_at) {
            demo_close(d);
        }
        demo_datacenters_run(d, next);
        demo_block_end(d);
    }
    return demo_summary(d);
}

int kumo_cli_demo_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    bool keep = false;
    int c;
    while ((c = getopt_long(argc, argv, "d:kh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'k':
            keep = true;
            break;
        case 'h':
            demo_usage(stdout);
            return 0;
        default:
            demo_usage(stderr);
            return 2;
        }
    }
    demo_t d;
    if (demo_open(&d, dir, keep) < 0) {
        return 1;
    }
    int rc = demo_scenario(&d);
    demo_close_all(&d);
    return rc;
}
