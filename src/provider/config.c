/*
 * config.c - the provider's config.yaml (provider.h): defaults, a strict loader over
 * libyaml's document tree (one flat mapping of known keys to scalars, errors naming
 * file:line: key) and the commented file `kumo provider init` writes.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "provider/provider.h"

#include "overlay/overlay.h"
#include "runtime/runtime.h"

#define GIB (1024ull * 1024ull * 1024ull)

void kumo_provider_cfg_default(kumo_provider_cfg_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    (void)snprintf(cfg->node_url, sizeof(cfg->node_url), "%s", "http://127.0.0.1:26657");
    (void)snprintf(cfg->key, sizeof(cfg->key), "%s", "provider");
    (void)snprintf(cfg->public_address, sizeof(cfg->public_address), "%s", "127.0.0.1");
    (void)snprintf(cfg->api_listen, sizeof(cfg->api_listen), "%s", "127.0.0.1:8443");
    (void)snprintf(cfg->runtime_socket, sizeof(cfg->runtime_socket), "%s",
                   "/run/podman/podman.sock");
    cfg->tunnel_port = 8444;
    cfg->port_range_min = 32000;
    cfg->port_range_max = 32999;
    cfg->capacity_cpu_milli = 8000;
    cfg->capacity_memory_bytes = 16ull * GIB;
    cfg->capacity_storage_bytes = 200ull * GIB;
    cfg->price_cpu_per_core = 40;
    cfg->price_memory_per_gib = 10;
    cfg->price_storage_per_gib = 1;
    cfg->price_per_gpu = 100;
    cfg->collateral_budget = 1000000000ull;
    cfg->confirm_margin_blocks = 5;
    cfg->refuse_after_blocks = 3;
    cfg->lease_count_max = KUMO_PROVIDER_LEASE_COUNT_MAX;
    cfg->forward_connection_max = KUMO_OVERLAY_FWD_CONNECTION_DEFAULT;
    cfg->forward_connection_per_source_max = KUMO_OVERLAY_FWD_CONNECTION_PER_SOURCE_DEFAULT;
    cfg->forward_connection_per_workload_max = KUMO_OVERLAY_FWD_CONNECTION_PER_WORKLOAD_DEFAULT;
    cfg->api_connection_max = 128;
    cfg->api_connection_per_addr_max = 16;
    cfg->api_request_timeout_ms = 10000;
    cfg->kept_hours = 168;
    cfg->usage_interval_ms = 30000;
}

typedef enum pf_kind {
    PF_STR,
    PF_U32,
    PF_U64
} pf_kind_t;

typedef struct pf_field {
    const char *key;
    pf_kind_t kind;
    size_t offset;
    size_t cap; /* strings: array size */
    uint64_t min;
    uint64_t max;
    const char *doc;
} pf_field_t;

#define PF_STR(name, lo, doc)                                    \
    {                                                            \
#name, PF_STR, offsetof(kumo_provider_cfg_t, name),      \
            sizeof(((kumo_provider_cfg_t *)0)->name), lo, 0, doc \
    }
#define PF_NUM(name, kind, lo, hi, doc)                                  \
    {                                                                    \
#name, kind, offsetof(kumo_provider_cfg_t, name), 0, lo, hi, doc \
    }

static const pf_field_t pf_fields[] = {
    PF_STR(node_url, 8, "the node's HTTP API (events, queries, txs)"),
    PF_STR(key, 1, "keyring name (home/keyring) of the provider's account key"),
    PF_STR(region, 1, "the region this datacenter serves; it bids only on orders there"),
    PF_STR(public_address, 1, "address tenants reach published ports on"),
    PF_STR(publish_address,
           0,
           "numeric address of this host published ports bind to; empty: public_address"),
    PF_STR(api_listen, 3, "provider API (HTTPS) host:port"),
    PF_NUM(tunnel_port,
           PF_U32,
           1,
           65535,
           "port of the tunnel server (mTLS tunnels from other providers' workloads), on "
           "publish_address; peers reach it at public_address"),
    PF_STR(runtime_socket, 1, "Docker Engine API unix socket (podman or Docker)"),
    PF_STR(metrics_listen,
           0,
           "Prometheus metrics (plain HTTP GET /metrics) host:port, e.g. 127.0.0.1:9464; empty: "
           "off"),
    PF_NUM(port_range_min, PF_U32, 1024, 65535, "lowest host port for published ports"),
    PF_NUM(port_range_max, PF_U32, 1024, 65535, "highest host port for published ports"),
    PF_NUM(capacity_cpu_milli, PF_U64, 1, 1000000000ull, "CPU to rent out, thousandths of a core"),
    PF_NUM(capacity_memory_bytes, PF_U64, 1, 1ull << 50, "memory to rent out, bytes"),
    PF_NUM(capacity_storage_bytes, PF_U64, 1, 1ull << 55, "storage to rent out, bytes"),
    PF_NUM(price_cpu_per_core, PF_U64, 0, 1000000000000ull, "ukumo per core per block"),
    PF_NUM(price_memory_per_gib, PF_U64, 0, 1000000000000ull, "ukumo per GiB of memory per block"),
    PF_NUM(
        price_storage_per_gib, PF_U64, 0, 1000000000000ull, "ukumo per GiB of storage per block"),
    PF_NUM(price_per_gpu, PF_U64, 0, 1000000000000ull, "ukumo per GPU per block"),
    PF_NUM(collateral_budget, PF_U64, 0, UINT64_MAX, "ukumo the provider may lock as collateral"),
    PF_NUM(confirm_margin_blocks, PF_U32, 1, 1000, "confirm leases this many blocks early"),
    PF_NUM(refuse_after_blocks,
           PF_U32,
           1,
           1000,
           "refuse a lease whose image is missing or whose manifest breaks it after retrying this "
           "many blocks (earlier when its confirmation falls due)"),
    PF_NUM(lease_count_max,
           PF_U32,
           1,
           KUMO_PROVIDER_LEASE_COUNT_MAX,
           "leases and open bids held at most (bidding stops there)"),
    PF_STR(peer_address_allow,
           0,
           "non-public peer addresses whose tunnels are followed, comma-separated (public ones "
           "only if empty)"),
    PF_STR(workload_egress_allow,
           0,
           "private IPv4 ranges (a.b.c.d/n, comma-separated, at most 16) every workload may reach, "
           "e.g. the chain node and provider APIs on a private network; empty: none (only public "
           "addresses and the forwarder)"),
    PF_NUM(forward_connection_max,
           PF_U32,
           1,
           1000000,
           "connections the forwarder relays at once (lowered to fit the open-files limit)"),
    PF_NUM(forward_connection_per_source_max,
           PF_U32,
           1,
           1000000,
           "connections the forwarder relays at once for one container"),
    PF_NUM(forward_connection_per_workload_max,
           PF_U32,
           1,
           1000000,
           "connections the forwarder relays at once for all instances of one workload"),
    PF_NUM(api_connection_max, PF_U32, 1, 100000, "provider API connections at once"),
    PF_NUM(api_connection_per_addr_max,
           PF_U32,
           1,
           100000,
           "provider API connections at once from one client address"),
    PF_NUM(api_request_timeout_ms,
           PF_U32,
           100,
           600000,
           "a provider API client sends each whole request within this many ms"),
    PF_NUM(kept_hours,
           PF_U32,
           1,
           87600,
           "logs and events of a deployment without a lease here are removed once untouched "
           "this many hours"),
    PF_NUM(usage_interval_ms,
           PF_U32,
           0,
           86400000,
           "sample each running container's usage (CPU, memory, network, block I/O) this often, "
           "in ms, for its owner (status and events); 0: off"),
};
#define PF_COUNT (sizeof(pf_fields) / sizeof(pf_fields[0]))

/* Printable ASCII without quotes and backslashes: what renders inside "..." unchanged. */
static bool pf_plain(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') {
            return false;
        }
    }
    return true;
}

/* "" (off), or host:port with a non-empty host and a port of 1..65535 in decimal. */
static bool pf_listen_is_valid(const char *listen)
{
    if (listen[0] == '\0') {
        return true;
    }
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0') {
        return false;
    }
    unsigned long port = 0;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || port > 65535u) {
            return false;
        }
        port = port * 10u + (unsigned long)(*p - '0');
    }
    return port >= 1u && port <= 65535u;
}

/* A name of 1..cap-1 bytes of lower case letters, digits, '.', '_' and '-' ("nvidia", "a100").
 * Upper case is refused: a unit's vendor is compared byte for byte. */
static bool pf_gpu_name_ok(const char *s, size_t cap, bool upper_ok)
{
    size_t len = strnlen(s, cap);
    if (len == 0 || len >= cap) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-' || (upper_ok && c >= 'A' && c <= 'Z');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* device: 1..KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX entries separated by commas, each valid for
 * the runtime. */
static bool pf_gpu_device_ok(const char *device)
{
    size_t len = strnlen(device, KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX);
    if (len == 0 || len >= KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX) {
        return false;
    }
    uint32_t count = 0;
    const char *p = device;
    while (true) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char entry[KUMO_PROVIDER_GPU_DEVICE_BYTES_MAX];
        (void)snprintf(entry, sizeof(entry), "%.*s", (int)n, p);
        if (++count > KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX || !kumo_runtime_device_is_valid(entry)) {
            return false;
        }
        if (comma == NULL) {
            return true;
        }
        p = comma + 1;
    }
}

/* Every GPU: a vendor and a model (names), memory, a device no other GPU has. */
static int pf_gpus_validate(const kumo_provider_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(cfg->gpu_count <= KUMO_PROVIDER_GPU_COUNT_MAX, err, KUMO_ELIMIT,
                "gpus: %u exceed %u", cfg->gpu_count, KUMO_PROVIDER_GPU_COUNT_MAX);
    for (uint32_t i = 0; i < cfg->gpu_count; i++) {
        const kumo_provider_gpu_t *g = &cfg->gpus[i];
        KUMO_ENSURE(pf_gpu_name_ok(g->vendor, sizeof(g->vendor), false), err, KUMO_EINVAL,
                    "gpus[%u].vendor: 1..%u lower case letters, digits, '.', '_' or '-'", i,
                    KUMO_GPU_VENDOR_BYTES_MAX);
        KUMO_ENSURE(pf_gpu_name_ok(g->model, sizeof(g->model), true), err, KUMO_EINVAL,
                    "gpus[%u].model: 1..%u letters, digits, '.', '_' or '-'", i,
                    KUMO_GPU_MODEL_BYTES_MAX);
        KUMO_ENSURE(g->memory_bytes >= 1u && g->memory_bytes <= (1ull << 50), err, KUMO_EINVAL,
                    "gpus[%u].memory_bytes: %" PRIu64 " is outside 1..%llu", i, g->memory_bytes,
                    1ull << 50);
        KUMO_ENSURE(pf_gpu_device_ok(g->device), err, KUMO_EINVAL,
                    "gpus[%u].device: 1..%u entries separated by commas, each a CDI name "
                    "(vendor.com/class=name) or an absolute device path (/host[:/container])",
                    i, KUMO_PROVIDER_GPU_DEVICE_COUNT_MAX);
        for (uint32_t j = 0; j < i; j++) {
            KUMO_ENSURE(strcmp(cfg->gpus[j].device, g->device) != 0, err, KUMO_EDUPLICATE,
                        "gpus[%u].device: %s is gpus[%u]'s too", i, g->device, j);
        }
    }
    return 0;
}

int kumo_provider_cfg_validate(const kumo_provider_cfg_t *cfg, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < PF_COUNT; i++) {
        const pf_field_t *f = &pf_fields[i];
        const char *base = (const char *)cfg + f->offset;
        if (f->kind == PF_STR) {
            KUMO_ENSURE(strnlen(base, f->cap) >= f->min && strnlen(base, f->cap) < f->cap, err,
                        KUMO_EINVAL, "%s: must be 1..%zu characters", f->key, f->cap - 1u);
            KUMO_ENSURE(pf_plain(base), err, KUMO_EINVAL,
                        "%s: printable ASCII without quotes or backslashes only", f->key);
            continue;
        }
        uint64_t v = f->kind == PF_U32 ? *(const uint32_t *)(const void *)base
                                       : *(const uint64_t *)(const void *)base;
        KUMO_ENSURE(v >= f->min && v <= f->max, err, KUMO_EINVAL,
                    "%s: %" PRIu64 " is outside %" PRIu64 "..%" PRIu64, f->key, v, f->min, f->max);
    }
    KUMO_ENSURE(cfg->port_range_min <= cfg->port_range_max, err, KUMO_EINVAL,
                "port_range_min is above port_range_max");
    /* A bounded rate: every container is asked at most once a second. */
    KUMO_ENSURE(cfg->usage_interval_ms == 0 || cfg->usage_interval_ms >= 1000, err, KUMO_EINVAL,
                "usage_interval_ms: 0 (off) or at least 1000");
    KUMO_ENSURE(kumo_overlay_allow_list_is_valid(cfg->peer_address_allow), err, KUMO_EINVAL,
                "peer_address_allow: expected numeric IP addresses separated by commas");
    kumo_overlay_egress_t egress;
    KUMO_GUARD(kumo_overlay_egress_parse(cfg->workload_egress_allow, &egress, err));
    KUMO_ENSURE(cfg->publish_address[0] == '\0' ||
                    (kumo_overlay_allow_list_is_valid(cfg->publish_address) &&
                     strchr(cfg->publish_address, ',') == NULL),
                err, KUMO_EINVAL, "publish_address: expected one numeric IP address or empty");
    KUMO_ENSURE(pf_listen_is_valid(cfg->metrics_listen), err, KUMO_EINVAL,
                "metrics_listen: expected host:port (port 1..65535) or empty");
    return pf_gpus_validate(cfg, err);
}

static int pf_set(const char *path,
                  unsigned long line,
                  const pf_field_t *f,
                  const char *value,
                  kumo_provider_cfg_t *cfg,
                  kumo_err_ctx_t *err)
{
    char *base = (char *)cfg + f->offset;
    if (f->kind == PF_STR) {
        KUMO_ENSURE(strlen(value) < f->cap, err, KUMO_EDECODE, "%s:%lu: %s: longer than %zu", path,
                    line, f->key, f->cap - 1u);
        (void)snprintf(base, f->cap, "%s", value);
        return 0;
    }
    char *end = NULL;
    unsigned long long v = strtoull(value, &end, 10);
    KUMO_ENSURE(value[0] >= '0' && value[0] <= '9' && end != NULL && *end == '\0' &&
                    (value[0] != '0' || value[1] == '\0') && v >= f->min && v <= f->max,
                err, KUMO_EDECODE, "%s:%lu: %s: '%s' is not a number in %" PRIu64 "..%" PRIu64,
                path, line, f->key, value, f->min, f->max);
    if (f->kind == PF_U32) {
        *(uint32_t *)(void *)base = (uint32_t)v;
    } else {
        *(uint64_t *)(void *)base = v;
    }
    return 0;
}

/* The scalar text of a mapping value node, or NULL. */
static const char *pf_scalar(yaml_document_t *doc, int id)
{
    yaml_node_t *n = yaml_document_get_node(doc, id);
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* One field of gpus[index]; seen marks vendor, model, memory_bytes, device. */
static int pf_gpu_field(const char *path,
                        unsigned long line,
                        uint32_t index,
                        const char *key,
                        const char *value,
                        bool seen[4],
                        kumo_provider_gpu_t *g,
                        kumo_err_ctx_t *err)
{
    static const char *const keys[] = {"vendor", "model", "memory_bytes", "device"};
    size_t k = 0;
    while (k < 4u && strcmp(keys[k], key) != 0) {
        k++;
    }
    KUMO_ENSURE(k < 4u, err, KUMO_EDECODE, "%s:%lu: gpus[%u].%s: unknown key", path, line, index,
                key);
    KUMO_ENSURE(!seen[k], err, KUMO_EDECODE, "%s:%lu: gpus[%u].%s: given twice", path, line, index,
                key);
    seen[k] = true;
    char *const dst[] = {g->vendor, g->model, NULL, g->device};
    const size_t cap[] = {sizeof(g->vendor), sizeof(g->model), 0, sizeof(g->device)};
    if (dst[k] != NULL) {
        KUMO_ENSURE(strlen(value) < cap[k], err, KUMO_EDECODE,
                    "%s:%lu: gpus[%u].%s: longer than %zu", path, line, index, key, cap[k] - 1u);
        (void)snprintf(dst[k], cap[k], "%s", value);
        return 0;
    }
    char *end = NULL;
    unsigned long long v = strtoull(value, &end, 10);
    KUMO_ENSURE(value[0] >= '1' && value[0] <= '9' && end != NULL && *end == '\0' &&
                    v <= (1ull << 50),
                err, KUMO_EDECODE, "%s:%lu: gpus[%u].memory_bytes: '%s' is not a number in 1..%llu",
                path, line, index, value, 1ull << 50);
    g->memory_bytes = v;
    return 0;
}

/* gpus[index]: a mapping of its four keys, each once. */
static int pf_gpu(const char *path,
                  yaml_document_t *doc,
                  yaml_node_t *item,
                  uint32_t index,
                  kumo_provider_gpu_t *g,
                  kumo_err_ctx_t *err)
{
    unsigned long line = (unsigned long)item->start_mark.line + 1u;
    KUMO_ENSURE(item->type == YAML_MAPPING_NODE, err, KUMO_EDECODE,
                "%s:%lu: gpus[%u]: expected vendor, model, memory_bytes and device", path, line,
                index);
    bool seen[4] = {false, false, false, false};
    memset(g, 0, sizeof(*g));
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
         p++) {
        const char *k = pf_scalar(doc, p->key);
        const char *v = pf_scalar(doc, p->value);
        KUMO_ENSURE(k != NULL && v != NULL, err, KUMO_EDECODE,
                    "%s:%lu: gpus[%u]: expected key: value", path, line, index);
        KUMO_GUARD(pf_gpu_field(path, line, index, k, v, seen, g, err));
    }
    KUMO_ENSURE(seen[0] && seen[1] && seen[2] && seen[3], err, KUMO_EDECODE,
                "%s:%lu: gpus[%u]: vendor, model, memory_bytes and device are all required", path,
                line, index);
    return 0;
}

/* gpus: a sequence of GPUs (an empty one: none). */
static int pf_gpus(const char *path,
                   yaml_document_t *doc,
                   yaml_node_t *v,
                   unsigned long line,
                   kumo_provider_cfg_t *cfg,
                   kumo_err_ctx_t *err)
{
    KUMO_ENSURE(v->type == YAML_SEQUENCE_NODE, err, KUMO_EDECODE,
                "%s:%lu: gpus: expected a list of GPUs", path, line);
    cfg->gpu_count = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        KUMO_ENSURE(cfg->gpu_count < KUMO_PROVIDER_GPU_COUNT_MAX, err, KUMO_ELIMIT,
                    "%s:%lu: gpus: more than %u", path, line, KUMO_PROVIDER_GPU_COUNT_MAX);
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        KUMO_ENSURE(item != NULL, err, KUMO_EDECODE, "%s:%lu: gpus: bad item", path, line);
        KUMO_GUARD(pf_gpu(path, doc, item, cfg->gpu_count, &cfg->gpus[cfg->gpu_count], err));
        cfg->gpu_count++;
    }
    return 0;
}

static int pf_pair(const char *path,
                   yaml_document_t *doc,
                   const yaml_node_pair_t *pair,
                   bool *seen,
                   kumo_provider_cfg_t *cfg,
                   kumo_err_ctx_t *err)
{
    yaml_node_t *k = yaml_document_get_node(doc, pair->key);
    yaml_node_t *v = yaml_document_get_node(doc, pair->value);
    unsigned long line = k != NULL ? (unsigned long)k->start_mark.line + 1u : 0;
    KUMO_ENSURE(k != NULL && v != NULL && k->type == YAML_SCALAR_NODE, err, KUMO_EDECODE,
                "%s:%lu: expected key: value", path, line);
    const char *key = (const char *)k->data.scalar.value;
    if (strcmp(key, "gpus") == 0) {
        KUMO_ENSURE(!seen[PF_COUNT], err, KUMO_EDECODE, "%s:%lu: gpus: given twice", path, line);
        seen[PF_COUNT] = true;
        return pf_gpus(path, doc, v, line, cfg, err);
    }
    KUMO_ENSURE(v->type == YAML_SCALAR_NODE, err, KUMO_EDECODE, "%s:%lu: %s: expected a value",
                path, line, key);
    for (size_t i = 0; i < PF_COUNT; i++) {
        if (strcmp(pf_fields[i].key, key) == 0) {
            KUMO_ENSURE(!seen[i], err, KUMO_EDECODE, "%s:%lu: %s: given twice", path, line, key);
            seen[i] = true;
            return pf_set(path, line, &pf_fields[i], (const char *)v->data.scalar.value, cfg, err);
        }
    }
    return kumo_err_set(err, KUMO_EDECODE, "%s:%lu: %s: unknown key", path, line, key);
}

int kumo_provider_cfg_parse(const char *path,
                            kumo_bytes_t text,
                            kumo_provider_cfg_t *cfg,
                            kumo_err_ctx_t *err)
{
    KUMO_ENSURE(text.len <= 64u * 1024u, err, KUMO_ELIMIT, "%s: over 64 KiB", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    KUMO_ENSURE(yaml_parser_initialize(&parser) == 1, err, KUMO_ENOMEM, "yaml parser");
    yaml_parser_set_input_string(&parser, text.ptr, text.len);
    int rc = 0;
    if (yaml_parser_load(&parser, &doc) != 1) {
        rc = kumo_err_set(err, KUMO_EDECODE, "%s:%lu: %s", path,
                          (unsigned long)parser.problem_mark.line + 1u,
                          parser.problem != NULL ? parser.problem : "bad YAML");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    bool seen[PF_COUNT + 1u] = {false}; /* the fields, then gpus */
    if (root != NULL && root->type != YAML_MAPPING_NODE) {
        rc = kumo_err_set(err, KUMO_EDECODE, "%s: expected a mapping of settings", path);
    }
    for (yaml_node_pair_t *p = root != NULL && rc == 0 ? root->data.mapping.pairs.start : NULL;
         p != NULL && p < root->data.mapping.pairs.top && rc == 0; p++) {
        rc = pf_pair(path, &doc, p, seen, cfg, err);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc == 0 ? kumo_provider_cfg_validate(cfg, err) : rc;
}

static const char pf_gpus_doc[] =
    "\n# GPUs to rent out (default none), at most 64: vendor (lower case, as orders name it),\n"
    "# model, memory_bytes (GPU memory) and device: how the runtime reaches it, up to 4 entries\n"
    "# separated by commas, each a CDI name (nvidia.com/gpu=0, from `nvidia-ctk cdi generate`;\n"
    "# needs podman 5.4+ or Docker 25+) or a device node (/dev/dri/renderD128,/dev/kfd).\n"
    "# gpus:\n"
    "#   - {vendor: nvidia, model: a100, memory_bytes: 85899345920, device: "
    "\"nvidia.com/gpu=0\"}\n";

/* The gpus list (commented out when there are none). */
static int pf_gpus_render(const kumo_provider_cfg_t *cfg, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(kumo_buf_append(out, pf_gpus_doc, sizeof(pf_gpus_doc) - 1u) == 0, err, KUMO_ELIMIT,
                "config");
    if (cfg->gpu_count == 0) {
        return 0;
    }
    KUMO_ENSURE(kumo_buf_append(out, "gpus:\n", 6) == 0, err, KUMO_ELIMIT, "config");
    for (uint32_t i = 0; i < cfg->gpu_count; i++) {
        const kumo_provider_gpu_t *g = &cfg->gpus[i];
        char line[640];
        int n = snprintf(line, sizeof(line),
                         "  - {vendor: \"%s\", model: \"%s\", memory_bytes: %" PRIu64
                         ", device: \"%s\"}\n",
                         g->vendor, g->model, g->memory_bytes, g->device);
        KUMO_ENSURE(n > 0 && (size_t)n < sizeof(line) && kumo_buf_append(out, line, (size_t)n) == 0,
                    err, KUMO_ELIMIT, "config");
    }
    return 0;
}

int kumo_provider_cfg_render(const kumo_provider_cfg_t *cfg, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    kumo_provider_cfg_t def;
    kumo_provider_cfg_default(&def);
    static const char head[] = "# kumo provider configuration (kumo provider init). Every key is "
                               "optional but region;\n# a missing key keeps the default shown.\n";
    KUMO_ENSURE(kumo_buf_append(out, head, sizeof(head) - 1u) == 0, err, KUMO_ELIMIT, "config");
    for (size_t i = 0; i < PF_COUNT; i++) {
        const pf_field_t *f = &pf_fields[i];
        const char *base = (const char *)cfg + f->offset;
        const char *dbase = (const char *)&def + f->offset;
        char line[640];
        int n = 0;
        if (f->kind == PF_STR) {
            n = snprintf(line, sizeof(line), "\n# %s (default \"%s\")\n%s: \"%s\"\n", f->doc, dbase,
                         f->key, base);
        } else {
            uint64_t v = f->kind == PF_U32 ? *(const uint32_t *)(const void *)base
                                           : *(const uint64_t *)(const void *)base;
            uint64_t d = f->kind == PF_U32 ? *(const uint32_t *)(const void *)dbase
                                           : *(const uint64_t *)(const void *)dbase;
            n = snprintf(line, sizeof(line),
                         "\n# %s; %" PRIu64 "..%" PRIu64 " (default %" PRIu64 ")\n%s: %" PRIu64
                         "\n",
                         f->doc, f->min, f->max, d, f->key, v);
        }
        KUMO_ENSURE(n > 0 && (size_t)n < sizeof(line) && kumo_buf_append(out, line, (size_t)n) == 0,
                    err, KUMO_ELIMIT, "config");
    }
    return pf_gpus_render(cfg, out, err);
}
