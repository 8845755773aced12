/*
 * provider.h - the datacenter side: the provider's configuration (home/config.yaml)
 * and its bidding decision. The daemon (`kumo provider start`: event stream, bids,
 * confirmations, containers, the HTTPS API of provider_api.h) builds on these.
 *
 * Home layout (`kumo provider init`): config.yaml, keyring/<key>.key (the provider's account
 * key, 0600), ca.key (the root CA's Ed25519 key, PKCS#8 PEM, 0600) and ca.crt (the root
 * certificate that goes on chain with MsgCreateProvider). Not pure (files).
 */
#ifndef KUMO_PROVIDER_PROVIDER_H
#define KUMO_PROVIDER_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include <proto/kumo.pb-c.h>

#include "codec/codec.h"
#include "core/core.h"

/* GPUs one provider declares at most (a bid's and a free set's GPUs are a 64-bit mask). */
#define KUMO_PROVIDER_GPU_COUNT_MAX 64u
/* Device entries of one GPU at most ("/dev/dri/renderD128,/dev/kfd"), and the text of all. */
#define KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX 4u
#define KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX 256u

/* One GPU the provider rents out (config.yaml `gpus:`): what a unit's GpuSpec is matched
 * against (vendor equal, model equal unless the unit asks any, memory at least the unit's)
 * and how the runtime reaches it: device, 1..KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX entries
 * separated by commas, each a CDI name ("nvidia.com/gpu=0") or a device node
 * ("/dev/nvidia0", "/host/path:/container/path"); see kumo_runtime_device_is_valid. */
typedef struct kumo_provider_gpu {
    char vendor[KUMO_GPU_VENDOR_BYTES_MAX + 1]; /* lower case: "nvidia", "amd", "intel" */
    char model[KUMO_GPU_MODEL_BYTES_MAX + 1];   /* "a100", "rtx-4090" */
    uint64_t memory_bytes;                      /* GPU memory */
    char device[KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX];
} kumo_provider_gpu_t;

typedef struct kumo_provider_cfg {
    char node_url[256];       /* "http://127.0.0.1:26657" */
    char key[64];             /* keyring name of the provider account key: "provider" */
    char region[64];          /* required */
    char public_address[128]; /* where published ports answer: "127.0.0.1" */
    /* The numeric address published ports bind to on this host: "" (default) is
     * public_address when that is numeric (a name, or a NAT: set it to the host's own). */
    char publish_address[64];
    char api_listen[128]; /* provider API (HTTPS): "127.0.0.1:8443" */
    /* The tunnel server's port (mTLS tunnels from other providers' workloads to ours): it
     * listens on publish_address (as published ports) and peers reach it at
     * public_address:tunnel_port. 8444. */
    uint32_t tunnel_port;
    char runtime_socket[256];        /* Docker Engine API socket: "/run/podman/podman.sock" */
    uint32_t port_range_min;         /* 32000 */
    uint32_t port_range_max;         /* 32999 */
    uint64_t capacity_cpu_milli;     /* 8000 */
    uint64_t capacity_memory_bytes;  /* 16 GiB */
    uint64_t capacity_storage_bytes; /* 200 GiB */
    /* Cost of one unit per block: cpu_milli × price_cpu_per_core / 1000 + memory GiB ×
     * price_memory_per_gib + storage GiB × price_storage_per_gib, rounded up, + GPUs ×
     * price_per_gpu (ukumo). */
    uint64_t price_cpu_per_core;    /* 40 */
    uint64_t price_memory_per_gib;  /* 10 */
    uint64_t price_storage_per_gib; /* 1 */
    uint64_t price_per_gpu;         /* ukumo per GPU per block, added to a unit's cost: 100 */
    uint64_t collateral_budget;     /* ukumo the provider may lock in bids and leases: 10^9 */
    uint32_t confirm_margin_blocks; /* confirm this many blocks before the period ends: 5 */
    /* A lease whose workload cannot start (image missing) or whose stored manifest breaks it
     * is refused after this many blocks of retrying, or earlier when its confirmation falls
     * due: 3 */
    uint32_t refuse_after_blocks;
    /* Leases (active or closing) plus open bids the daemon holds at most: it stops bidding
     * when they reach it, and never drops a lease it holds. 1..KUMO_PROVIDER_LEASE_COUNT_MAX. */
    uint32_t lease_count_max; /* KUMO_PROVIDER_LEASE_COUNT_MAX */
    /* Network surfaces (docs/design.md §10: the forwarder, API connections, links). */
    char peer_address_allow[256]; /* non-public peer tunnel addresses followed: "" (none) */
    /* Private ranges every workload may reach (its chain node, provider APIs on a private
     * network), comma-separated a.b.c.d/n: "" (none; kumo_overlay_egress_parse's rules). */
    char workload_egress_allow[384];
    uint32_t forward_connection_max;              /* relayed at once, all workloads: 4096 */
    uint32_t forward_connection_per_source_max;   /* relayed at once per container: 256 */
    uint32_t forward_connection_per_workload_max; /* per workload, all instances: 1024 */
    uint32_t api_connection_max;                  /* provider API connections: 128 */
    uint32_t api_connection_per_addr_max;         /* per client address: 16 */
    uint32_t api_request_timeout_ms; /* a whole request within this of accept/answer: 10000 */
    /* Prometheus metrics (plain HTTP GET /metrics) host:port: "" (off). Meant for loopback or
     * a monitoring network: it tells what the datacenter runs, not whose. */
    char metrics_listen[128];
    /* The logs of replaced containers (home/logs) and the runtime journals (home/events) of a
     * deployment without a lease here any more are removed once untouched this long: 168. */
    uint32_t kept_hours;
    /* Usage telemetry: each running container's CPU, memory, network and block I/O sampled
     * this often (GET .../status "usage", `usage` journal lines); 0: off. 30000. */
    uint32_t usage_interval_ms;
    /* The GPUs it rents out, in config order (index = the GPU's number): none by default. */
    kumo_provider_gpu_t gpus[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t gpu_count;
} kumo_provider_cfg_t;

/* The daemon's lease table: every lease of this provider the node lists fits, so none is ever
 * dropped (lease_count_max may only lower what it bids for). */
#define KUMO_PROVIDER_LEASE_COUNT_MAX 1024u
/* Instances (containers) the daemon runs at most: what one runtime list answers. It bids only
 * while the units of its leases and open bids, one container each at most, fit. */
#define KUMO_PROVIDER_INSTANCE_COUNT_MAX 1024u

/* Defaults for every field (region empty: the caller must set it). */
void kumo_provider_cfg_default(kumo_provider_cfg_t *cfg);
/* Every field's range: KUMO_EINVAL naming the field. */
KUMO_MUST_USE int kumo_provider_cfg_validate(const kumo_provider_cfg_t *cfg, kumo_err_ctx_t *err);
/* Parses config.yaml text (a flat mapping of the keys above) over *cfg; path names the file in
 * errors, which read "path:line: key: what is wrong" (KUMO_EDECODE). Unknown keys, repeats,
 * non-scalars and out-of-range numbers are refused. The one key that is not a scalar is
 * `gpus`: a sequence (at most KUMO_PROVIDER_GPU_COUNT_MAX) of mappings with vendor, model,
 * memory_bytes and device, each required once; errors read "path:line: gpus[i].key: ...". */
KUMO_MUST_USE int kumo_provider_cfg_parse(const char *path,
                                          kumo_bytes_t text,
                                          kumo_provider_cfg_t *cfg,
                                          kumo_err_ctx_t *err);
/* The commented config.yaml for cfg (every key with its meaning, default and range). */
KUMO_MUST_USE int
kumo_provider_cfg_render(const kumo_provider_cfg_t *cfg, kumo_buf_t *out, kumo_err_ctx_t *err);

/* What the provider has free for new bids: capacity minus running leases minus pending bids. */
typedef struct kumo_provider_free {
    uint64_t cpu_milli;
    uint64_t memory_bytes;
    uint64_t storage_bytes;
    uint64_t collateral;     /* of the budget */
    uint32_t lease_slots;    /* leases or open bids it may still hold (lease_count_max) */
    uint64_t instance_slots; /* resource units (instances) its container table still holds */
    uint64_t gpu_free_mask;  /* bit i: cfg->gpus[i] is held by no lease or open bid */
    /* instances its runtime can still start in time behind those waiting for a start
     * (kumo_provider_start_slots); UINT64_MAX: no limit */
    uint64_t start_slots;
} kumo_provider_free_t;
_Static_assert(KUMO_PROVIDER_GPU_COUNT_MAX <= 64u, "a GPU set is a 64-bit mask");

/* Why a provider does not bid (KUMO_PROVIDER_BID_OK: it does). */
typedef enum kumo_provider_bid_verdict {
    KUMO_PROVIDER_BID_OK = 0,
    KUMO_PROVIDER_BID_REGION = 1,   /* the order is for another region */
    KUMO_PROVIDER_BID_CAPACITY = 2, /* the resources do not fit what is free */
    KUMO_PROVIDER_BID_PRICE = 3,    /* our cost is above the order's maximum price */
    KUMO_PROVIDER_BID_BUDGET = 4,   /* the collateral does not fit the budget left */
    KUMO_PROVIDER_BID_RUNTIME = 5,  /* the container runtime does not answer */
    KUMO_PROVIDER_BID_FULL = 6,     /* the lease or instance table is full */
    /* the order requires attributes the provider does not declare, or auditor signatures of
     * them it does not have (placement requirements; the chain would refuse the bid) */
    KUMO_PROVIDER_BID_REQUIREMENTS = 7,
    /* a unit asks for GPUs the provider has no free matching ones of (none declared, none
     * like them, or all of them held by leases and open bids) */
    KUMO_PROVIDER_BID_GPU = 8,
    /* its runtime could not start the units in time behind those already waiting */
    KUMO_PROVIDER_BID_BUSY = 9,
} kumo_provider_bid_verdict_t;

/* The bid for a group's resources: per resource group the offered price (our cost, which is
 * at most the order's price) and the collateral to lock; totals for bookkeeping; the GPUs it
 * would hold, taken from free_res->gpu_free_mask (GPU when they do not suffice). Pure:
 * decides from its inputs only. Arithmetic is checked (an overflowing order is CAPACITY).
 * Verdicts in order: runtime, region, capacity (overflow), gpu, full, capacity, price,
 * budget. */
typedef struct kumo_provider_bid {
    kumo_provider_bid_verdict_t verdict;
    uint64_t prices[16]; /* per resource group, ukumo per unit per block */
    uint32_t count;
    uint64_t cpu_milli, memory_bytes, storage_bytes; /* reserved while the bid is open */
    uint64_t collateral;
    uint64_t price_total; /* per block */
    uint64_t unit_count;  /* resource units: at most one instance runs on each */
    /* The GPUs the bid holds (cfg->gpus indexes), in the order of the group's resources, then
     * their units, then the unit's GPUs: the lowest-numbered free matching GPU first. Unit u of
     * resource r owns the gpu->count entries after those of the units before it. */
    uint8_t gpus[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t gpu_count;
    uint64_t gpu_mask; /* the same as a set */
} kumo_provider_bid_t;

void kumo_provider_bid_decide(const kumo_provider_cfg_t *cfg,
                              const Kumo__GroupSpec *group,
                              const kumo_provider_free_t *free_res,
                              bool runtime_ok,
                              kumo_provider_bid_t *out);
/* The daemon's measured pace: a block and a container start, as moving averages. */
typedef struct kumo_provider_pace {
    uint64_t period_blocks; /* reconfirmation_period */
    uint32_t margin_blocks; /* confirm_margin_blocks */
    uint64_t block_ms;
    uint64_t start_ms;
} kumo_provider_pace_t;

/* How many more instances the runtime can start, one after the other, in time for a new
 * lease's first confirmation with its manifest running: half of (period − margin − 1)
 * blocks (the other half absorbs the spread of start times and a late manifest), divided by
 * the start time, minus the backlog (instances already waiting for a start). UINT64_MAX when
 * nothing waits: an idle provider bids on whatever fits its capacity. Pure. */
uint64_t kumo_provider_start_slots(const kumo_provider_pace_t *pace, uint64_t backlog);

/* "region", "capacity", ... for logs and CLI output. */
const char *kumo_provider_bid_verdict_name(kumo_provider_bid_verdict_t v);

/* ---- GPUs (gpus.c, pure) ---- */

/* Whether GPU g serves one GPU of want: the same vendor, the same model unless want names
 * none, and at least want's memory (0: any). */
bool kumo_provider_gpu_matches(const kumo_provider_gpu_t *g, const Kumo__GpuSpec *want);
/* The GPUs of every unit of resources[0..n) from free_mask into out->gpus/gpu_count/gpu_mask
 * (which must be empty), in the order kumo_provider_bid_t.gpus describes: for each GPU, the
 * lowest-numbered free GPU that serves the unit's GpuSpec. False (out left empty) when they
 * do not suffice; more than KUMO_PROVIDER_GPU_COUNT_MAX in all fails at once. Greedy: a unit
 * asking any model may take the one GPU a later unit needs; providers list their scarcer GPUs
 * last. */
bool kumo_provider_gpus_assign(const kumo_provider_cfg_t *cfg,
                               Kumo__ResourceGroup *const *resources,
                               size_t n,
                               uint64_t free_mask,
                               kumo_provider_bid_t *out);
/* Whether a recorded assignment gpus[0..gpu_count) still serves resources[0..n) in that
 * order: the right number, each a GPU of cfg in free_mask, each once, each matching its unit. */
bool kumo_provider_gpus_fit(const kumo_provider_cfg_t *cfg,
                            Kumo__ResourceGroup *const *resources,
                            size_t n,
                            const uint8_t *gpus,
                            uint32_t gpu_count,
                            uint64_t free_mask);
/* Which of its lease's GPUs instance `instance` of workload w (of manifest m, in group) gets:
 * entries [*first, *first + *count) of the lease's list (kumo_provider_bid_t.gpus). The
 * workload's compute names the resource (the first equal one, as kumo_sdl_manifest_check
 * places it); that resource's units go to its workloads in manifest order, instance by
 * instance, and each unit has its GpuSpec's count of GPUs. False when w has no such resource
 * or unit (a manifest that breaks the lease). *count is 0 for a unit without GPUs. */
bool kumo_provider_gpus_instance(const Kumo__GroupSpec *group,
                                 const Kumo__Manifest *m,
                                 const Kumo__ManifestWorkload *w,
                                 uint32_t instance,
                                 uint32_t *first,
                                 uint32_t *count);

/* One lease's or open bid's GPUs as the daemon records them (home/gpus). */
typedef struct kumo_provider_gpu_record {
    char order[KUMO_ID_TEXT_BYTES]; /* owner/dseq/gseq/oseq */
    uint8_t gpus[KUMO_PROVIDER_GPU_COUNT_MAX];
    uint32_t gpu_count;
} kumo_provider_gpu_record_t;
/* The records file: lines "<order> <gpu>,<gpu>,...\n", at most KUMO_PROVIDER_GPU_COUNT_MAX
 * lines (records never share a GPU), GPU numbers 0..63 in decimal without leading zeros, each
 * once per line. Anything else is KUMO_ECORRUPT naming the line. out holds
 * KUMO_PROVIDER_GPU_COUNT_MAX records. Fuzzed (fuzz_provider_gpus). */
KUMO_MUST_USE int kumo_provider_gpu_records_parse(kumo_bytes_t text,
                                                  kumo_provider_gpu_record_t *out,
                                                  uint32_t *count,
                                                  kumo_err_ctx_t *err);
/* The file text for records (appended to out). */
KUMO_MUST_USE int kumo_provider_gpu_records_render(const kumo_provider_gpu_record_t *records,
                                                   uint32_t count,
                                                   kumo_buf_t *out,
                                                   kumo_err_ctx_t *err);

#endif
