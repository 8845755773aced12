/*
 * bench_util.h - shared helpers of the benchmarks: a monotonic clock, result lines in the
 * `name=value unit` form, the process RSS, temp dirs, deterministic keys and direct market
 * setup (msgs applied without txs, for building large states quickly).
 */
#ifndef KUMO_BENCH_UTIL_H
#define KUMO_BENCH_UTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain/chain.h"
#include "store/store.h"

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Prints `name=value unit`. */
static inline void bench_result(const char *name, uint64_t value, const char *unit)
{
    printf("%s=%" PRIu64 " %s\n", name, value, unit);
    fflush(stdout);
}

/* Prints a ratio as a fixed-point decimal with 3 places: `name=0.612 ratio`. */
static inline void bench_ratio(const char *name, uint64_t num, uint64_t den)
{
    uint64_t milli = den == 0 ? 0 : num * 1000 / den;
    printf("%s=%" PRIu64 ".%03" PRIu64 " ratio\n", name, milli / 1000, milli % 1000);
    fflush(stdout);
}

static inline uint64_t bench_rate(uint64_t count, uint64_t ns)
{
    return ns == 0 ? 0 : count * 1000000000ull / ns;
}

/* Resident set size in KiB (VmRSS) of process pid, or of this process when pid is 0. */
static inline uint64_t bench_rss_kib_of(int pid)
{
    char path[64];
    if (pid == 0) {
        snprintf(path, sizeof(path), "/proc/self/status");
    } else {
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
    }
    FILE *f = fopen(path, "r");
    char line[256];
    uint64_t kib = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib;
}

static inline uint64_t bench_rss_kib(void)
{
    return bench_rss_kib_of(0);
}

static inline void bench_die(const char *what, int rc, const kumo_err_ctx_t *err)
{
    fprintf(stderr, "bench: %s: %s %s\n", what, kumo_err_name(rc), err != NULL ? err->detail : "");
    exit(1);
}

#define BENCH_MUST(what, expr)                         \
    do {                                               \
        kumo_err_ctx_t bench_err_ = {0};               \
        int bench_rc_ = (expr);                        \
        if (bench_rc_ != 0) {                          \
            bench_die((what), bench_rc_, &bench_err_); \
        }                                              \
    } while (0)

static inline char *bench_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(512);
    if (path == NULL) {
        exit(1);
    }
    snprintf(path, 512, "%s/kumo-bench-%s-XXXXXX", base != NULL ? base : "/tmp", tag);
    if (mkdtemp(path) == NULL) {
        exit(1);
    }
    return path;
}

static inline void bench_rmdir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench: could not remove %s\n", dir);
    }
    free(dir);
}

/* Deterministic keypair number i of a family. */
static inline void
bench_key(uint32_t family, uint32_t i, kumo_crypto_keypair_t *kp, uint8_t addr[KUMO_ADDRESS_BYTES])
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
    kumo_be32_put(seed, family);
    kumo_be32_put(seed + 4, i);
    kumo_crypto_key_from_seed(seed, kp);
    kumo_crypto_address_from_pubkey(kp->pubkey, addr);
}

/* One resource group of one unit at price and collateral. */
typedef struct bench_group {
    Kumo__ComputeUnit cu;
    Kumo__ResourceGroup rg;
    Kumo__ResourceGroup *rg_ptr;
    Kumo__GroupSpec spec;
    Kumo__GroupSpec *spec_ptr;
} bench_group_t;

static inline void
bench_group_init(bench_group_t *g, const char *region, uint64_t price, uint64_t collateral)
{
    kumo__compute_unit__init(&g->cu);
    g->cu.cpu_milli = 1000;
    g->cu.memory_bytes = 1ull << 30;
    g->cu.storage_bytes = 1ull << 30;
    kumo__resource_group__init(&g->rg);
    g->rg.compute = &g->cu;
    g->rg.price = price;
    g->rg.collateral = collateral;
    g->rg.count = 1;
    g->rg_ptr = &g->rg;
    kumo__group_spec__init(&g->spec);
    g->spec.name = "g";
    g->spec.region = (char *)(uintptr_t)region;
    g->spec.n_resources = 1;
    g->spec.resources = &g->rg_ptr;
    g->spec_ptr = &g->spec;
}

/* A SubmitDeployment of one one-unit group in region r1 (price 100, deposit 1e6). */
typedef struct bench_deploy_msg {
    bench_group_t grp;
    uint8_t version[32];
    Kumo__MsgSubmitDeployment sd;
    Kumo__Msg msg;
} bench_deploy_msg_t;

static inline const Kumo__Msg *
bench_deploy_msg(bench_deploy_msg_t *m, uint64_t dseq, uint64_t wait_blocks, uint64_t collateral)
{
    bench_group_init(&m->grp, "r1", 100, collateral);
    memset(m->version, 1, sizeof(m->version));
    kumo__msg_submit_deployment__init(&m->sd);
    m->sd.dseq = dseq;
    m->sd.n_groups = 1;
    m->sd.groups = &m->grp.spec_ptr;
    m->sd.wait_blocks = wait_blocks;
    m->sd.version.data = m->version;
    m->sd.version.len = sizeof(m->version);
    m->sd.deposit = 1000000;
    kumo__msg__init(&m->msg);
    m->msg.sum_case = KUMO__MSG__SUM_SUBMIT_DEPLOYMENT;
    m->msg.submit_deployment = &m->sd;
    return &m->msg;
}

/* A SubmitFulfillment on order (owner, dseq, 0, 1) matching bench_deploy_msg's group. */
typedef struct bench_bid_msg {
    bench_group_t grp;
    Kumo__OrderId id;
    Kumo__MsgSubmitFulfillment sf;
    Kumo__Msg msg;
} bench_bid_msg_t;

static inline const Kumo__Msg *bench_bid_msg(
    bench_bid_msg_t *m, const uint8_t *owner, uint64_t dseq, uint64_t price, uint64_t collateral)
{
    kumo__order_id__init(&m->id);
    m->id.owner.data = (uint8_t *)(uintptr_t)owner;
    m->id.owner.len = KUMO_ADDRESS_BYTES;
    m->id.dseq = dseq;
    m->id.oseq = 1;
    bench_group_init(&m->grp, "r1", price, collateral);
    kumo__msg_submit_fulfillment__init(&m->sf);
    m->sf.order = &m->id;
    m->sf.n_resources = 1;
    m->sf.resources = &m->grp.rg_ptr;
    kumo__msg__init(&m->msg);
    m->msg.sum_case = KUMO__MSG__SUM_SUBMIT_FULFILLMENT;
    m->msg.submit_fulfillment = &m->sf;
    return &m->msg;
}

#endif
