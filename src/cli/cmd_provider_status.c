/*
 * cmd_provider_status.c - `kumo provider status --home DIR [--output json]`: what a
 * provider's daemon last saw of its datacenter, from DIR/status.json (written atomically by
 * the daemon after every pass, src/provider/status.c): its leases with their containers,
 * price, payments and last confirmation; capacity (GPUs included) used by leases and held by
 * open bids; each GPU and who holds it;
 * earnings; counters. No daemon needed to read it: the file says how old it is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli_int.h"
#include "file/file.h"

#define PS_STATUS_BYTES_MAX (4u * 1024u * 1024u)
/* A status older than this says the daemon is not running (it writes one every block). */
#define PS_STALE_MS 60000u

static uint64_t ps_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0u;
}

static void ps_capacity(const json_t *cap)
{
    static const char *const names[] = {"cpu_milli", "memory_bytes", "storage_bytes", "gpus"};
    printf("capacity        %20s %20s %20s\n", "total", "leased", "held by bids");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const json_t *r = json_object_get(cap, names[i]);
        printf("  %-13s %20" PRIu64 " %20" PRIu64 " %20" PRIu64 "\n", names[i], ps_u64(r, "total"),
               ps_u64(r, "leased"), ps_u64(r, "bid"));
    }
}

/* Each GPU: its number, kind, device and who holds it. */
static void ps_gpus(const json_t *gpus)
{
    if (json_array_size(gpus) == 0) {
        return;
    }
    printf("gpus (%zu)\n", json_array_size(gpus));
    size_t i;
    const json_t *g;
    json_array_foreach(gpus, i, g)
    {
        const char *order = json_string_value(json_object_get(g, "order"));
        printf("  %-3" PRIu64 " %s %s %" PRIu64 " B  %-24s %-6s %s\n", ps_u64(g, "index"),
               cli_json_str(g, "vendor"), cli_json_str(g, "model"), ps_u64(g, "memory_bytes"),
               cli_json_str(g, "device"), cli_json_str(g, "state"), order != NULL ? order : "");
    }
}

static void ps_leases(const json_t *leases)
{
    printf("leases (%zu)\n", json_array_size(leases));
    if (json_array_size(leases) == 0) {
        return;
    }
    printf("  %-60s %-8s %-10s %12s %12s %14s\n", "order", "state", "containers", "price/block",
           "paid", "last confirmed");
    size_t i;
    const json_t *l;
    json_array_foreach(leases, i, l)
    {
        char containers[48];
        (void)snprintf(containers, sizeof(containers), "%" PRIu64 "/%" PRIu64,
                       ps_u64(l, "containers_running"), ps_u64(l, "containers"));
        const char *order = json_string_value(json_object_get(l, "order"));
        const char *state = json_string_value(json_object_get(l, "state"));
        printf("  %-60s %-8s %-10s %12" PRIu64 " %12" PRIu64 " %14" PRIu64 "\n",
               order != NULL ? order : "?", state != NULL ? state : "?", containers,
               ps_u64(l, "price_ukumo_per_block"), ps_u64(l, "paid_ukumo"),
               ps_u64(l, "last_confirmed_height"));
    }
}

static void ps_text(const json_t *st, uint64_t age_ms)
{
    const char *addr = json_string_value(json_object_get(st, "address"));
    const char *region = json_string_value(json_object_get(st, "region"));
    printf("provider %s (%s) at height %" PRIu64 ", runtime %s, status %" PRIu64 " ms old%s\n",
           addr != NULL ? addr : "?", region != NULL ? region : "?", ps_u64(st, "height"),
           json_is_true(json_object_get(st, "runtime_up")) ? "up" : "DOWN", age_ms,
           age_ms > PS_STALE_MS ? " (is the daemon running?)" : "");
    ps_leases(json_object_get(st, "leases"));
    const json_t *c = json_object_get(st, "containers");
    printf("containers      %" PRIu64 " running of %" PRIu64 "\n", ps_u64(c, "running"),
           ps_u64(c, "total"));
    ps_capacity(json_object_get(st, "capacity"));
    ps_gpus(json_object_get(st, "gpus"));
    printf("earnings        %" PRIu64 " ukumo paid on the leases held\n",
           ps_u64(st, "earnings_ukumo"));
    const json_t *k = json_object_get(st, "counters");
    printf("counters        bids %" PRIu64 ", confirmations %" PRIu64 " sent / %" PRIu64
           " landed, refusals %" PRIu64 ", runtime errors %" PRIu64 ", passes %" PRIu64
           " (last %" PRIu64 " ms)\n",
           ps_u64(k, "bids_sent"), ps_u64(k, "confirmations_sent"),
           ps_u64(k, "confirmations_landed"), ps_u64(k, "refusals_sent"),
           ps_u64(k, "runtime_errors"), ps_u64(k, "passes"), ps_u64(k, "pass_ms_last"));
    const json_t *p = json_object_get(st, "pace");
    printf("pace            a container start %" PRIu64 " ms, a block %" PRIu64 " ms, %" PRIu64
           " instance(s) waiting for a start\n",
           ps_u64(p, "start_ms"), ps_u64(p, "block_ms"), ps_u64(p, "start_backlog"));
}

int cli_provider_status(const char *home, bool json)
{
    char path[1024];
    kumo_err_ctx_t err = {0};
    int n = snprintf(path, sizeof(path), "%s/status.json", home);
    if (n <= 0 || (size_t)n >= sizeof(path)) {
        (void)kumo_err_set(&err, KUMO_ELIMIT, "home path too long");
        return cli_fail("provider status", &err);
    }
    kumo_buf_t text;
    kumo_buf_init(&text, PS_STATUS_BYTES_MAX);
    int rc = kumo_file_read(path, &text, &err);
    if (rc == KUMO_ENOTFOUND) {
        (void)kumo_err_set(&err, rc, "%s: no status yet (start the daemon: kumo provider start)",
                           path);
    }
    json_error_t jerr;
    json_t *st = rc == 0 ? json_loadb((const char *)text.ptr, text.len, 0, &jerr) : NULL;
    kumo_buf_free(&text);
    if (rc == 0 && !json_is_object(st)) {
        rc = kumo_err_set(&err, KUMO_EDECODE, "%s: %s", path,
                          st == NULL ? jerr.text : "not an object");
    }
    if (rc != 0) {
        json_decref(st);
        return cli_fail("provider status", &err);
    }
    struct timespec now;
    (void)clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    uint64_t updated = ps_u64(st, "updated_unix_ms");
    uint64_t age_ms = now_ms > updated ? now_ms - updated : 0u;
    if (json) {
        (void)json_object_set_new(st, "age_ms", json_integer((json_int_t)age_ms));
        char *out = json_dumps(st, JSON_INDENT(2));
        if (out != NULL) {
            printf("%s\n", out);
            free(out);
        }
    } else {
        ps_text(st, age_ms);
    }
    json_decref(st);
    return 0;
}
