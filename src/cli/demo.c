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

static void demo_deploy(demo_t *d)
{
    static const char manifest[] =
        "web: image=localhost/kumo-web:1 port=80 global=true count=2\n"
        "db: image=localhost/kumo-counter:1 port=6379 from=web count=1\n";
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    DEMO_MUST(kumo_crypto_merkle_root(kumo_bytes_make(manifest, sizeof(manifest) - 1), version));

    Kumo__ComputeUnit web_cu = KUMO__COMPUTE_UNIT__INIT;
    web_cu.cpu_milli = 500;
    web_cu.memory_bytes = 512ull << 20;
    web_cu.storage_bytes = 1ull << 30;
    Kumo__ResourceGroup web_rg = KUMO__RESOURCE_GROUP__INIT;
    web_rg.compute = &web_cu;
    web_rg.price = 40;
    web_rg.collateral = 5000;
    web_rg.count = 2;
    Kumo__ResourceGroup *web_res[] = {&web_rg};
    Kumo__GroupSpec web = KUMO__GROUP_SPEC__INIT;
    web.name = "web";
    web.region = "us-east";
    web.persist = true;
    web.n_resources = 1;
    web.resources = web_res;

    Kumo__ComputeUnit db_cu = KUMO__COMPUTE_UNIT__INIT;
    db_cu.cpu_milli = 1000;
    db_cu.memory_bytes = 1ull << 30;
    db_cu.storage_bytes = 10ull << 30;
    Kumo__ResourceGroup db_rg = KUMO__RESOURCE_GROUP__INIT;
    db_rg.compute = &db_cu;
    db_rg.price = 60;
    db_rg.collateral = 10000;
    db_rg.count = 1;
    Kumo__ResourceGroup *db_res[] = {&db_rg};
    Kumo__GroupSpec db = KUMO__GROUP_SPEC__INIT;
    db.name = "db";
    db.region = "us-west";
    db.persist = true;
    db.n_resources = 1;
    db.resources = db_res;

    Kumo__GroupSpec *groups[] = {&web, &db};
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
