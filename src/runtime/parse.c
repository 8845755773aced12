/*
 * parse.c - Docker Engine API answers into runtime structs (runtime_parse.h). Bounded: the
 * answers are capped by the transport, arrays by the caller's capacity, strings by the
 * struct fields (too long: KUMO_ELIMIT, never truncated silently).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "runtime/runtime_parse.h"

kumo_runtime_state_t kumo_runtime_state_parse(const char *text)
{
    if (text == NULL) {
        return KUMO_RUNTIME_STATE_UNKNOWN;
    }
    if (strcmp(text, "running") == 0) {
        return KUMO_RUNTIME_STATE_RUNNING;
    }
    if (strcmp(text, "created") == 0 || strcmp(text, "configured") == 0) {
        return KUMO_RUNTIME_STATE_CREATED;
    }
    if (strcmp(text, "exited") == 0 || strcmp(text, "stopped") == 0 || strcmp(text, "dead") == 0) {
        return KUMO_RUNTIME_STATE_EXITED;
    }
    return KUMO_RUNTIME_STATE_UNKNOWN;
}

static int copy_str(char *dst, size_t cap, const char *src, const char *what, kumo_err_ctx_t *err)
{
    if (src == NULL) {
        dst[0] = '\0';
        return 0;
    }
    size_t len = strlen(src);
    KUMO_ENSURE(len < cap, err, KUMO_ELIMIT, "%s of %zu bytes", what, len);
    memcpy(dst, src, len + 1u);
    return 0;
}

static int u64_label(const json_t *labels, const char *key, uint64_t *out)
{
    const char *s = json_string_value(json_object_get(labels, key));
    *out = 0;
    if (s == NULL) {
        return 0;
    }
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0') {
        return KUMO_EDECODE;
    }
    *out = v;
    return 0;
}

static int parse_labels(const json_t *labels, kumo_runtime_container_t *c, kumo_err_ctx_t *err)
{
    KUMO_GUARD(copy_str(c->owner, sizeof(c->owner),
                        json_string_value(json_object_get(labels, "kumo.owner")), "owner", err));
    KUMO_GUARD(copy_str(c->workload, sizeof(c->workload),
                        json_string_value(json_object_get(labels, "kumo.workload")), "workload",
                        err));
    KUMO_GUARD(copy_str(c->version, sizeof(c->version),
                        json_string_value(json_object_get(labels, "kumo.version")), "version",
                        err));
    KUMO_GUARD(copy_str(c->spec, sizeof(c->spec),
                        json_string_value(json_object_get(labels, "kumo.spec")), "spec", err));
    KUMO_GUARD(copy_str(c->gpus, sizeof(c->gpus),
                        json_string_value(json_object_get(labels, "kumo.gpus")), "gpus", err));
    uint64_t instance = 0;
    int rc = u64_label(labels, "kumo.dseq", &c->dseq);
    rc = rc == 0 ? u64_label(labels, "kumo.gseq", &c->gseq) : rc;
    rc = rc == 0 ? u64_label(labels, "kumo.oseq", &c->oseq) : rc;
    rc = rc == 0 ? u64_label(labels, "kumo.instance", &instance) : rc;
    KUMO_ENSURE(rc == 0 && instance <= UINT32_MAX, err, KUMO_EDECODE, "bad kumo.* label number");
    c->instance = (uint32_t)instance;
    return 0;
}

static int parse_ports(const json_t *ports, kumo_runtime_container_t *c, kumo_err_ctx_t *err)
{
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_int_t priv = json_integer_value(json_object_get(p, "PrivatePort"));
        json_int_t pub = json_integer_value(json_object_get(p, "PublicPort"));
        if (priv <= 0 || priv > 65535 || pub < 0 || pub > 65535) {
            continue;
        }
        KUMO_ENSURE(c->port_count < KUMO_RUNTIME_PORT_COUNT_MAX, err, KUMO_ELIMIT,
                    "more than %u ports", KUMO_RUNTIME_PORT_COUNT_MAX);
        c->container_ports[c->port_count] = (uint16_t)priv;
        c->host_ports[c->port_count] = (uint16_t)pub;
        c->port_count++;
    }
    return 0;
}

static int parse_one(const json_t *item, kumo_runtime_container_t *c, kumo_err_ctx_t *err)
{
    memset(c, 0, sizeof(*c));
    KUMO_ENSURE(json_is_object(item), err, KUMO_EDECODE, "container list item is not an object");
    KUMO_GUARD(copy_str(c->id, sizeof(c->id), json_string_value(json_object_get(item, "Id")),
                        "container id", err));
    const json_t *names = json_object_get(item, "Names");
    const char *name = json_string_value(json_array_get(names, 0));
    if (name != NULL && name[0] == '/') {
        name++;
    }
    KUMO_GUARD(copy_str(c->name, sizeof(c->name), name, "container name", err));
    c->state = kumo_runtime_state_parse(json_string_value(json_object_get(item, "State")));
    KUMO_GUARD(parse_labels(json_object_get(item, "Labels"), c, err));
    return parse_ports(json_object_get(item, "Ports"), c, err);
}

int kumo_runtime_parse_list(kumo_bytes_t json,
                            kumo_runtime_container_t *out,
                            uint32_t cap,
                            uint32_t *count_out,
                            kumo_err_ctx_t *err)
{
    *count_out = 0;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, &jerr);
    if (!json_is_array(root)) {
        int rc = kumo_err_set(err, KUMO_EDECODE, "container list: %s",
                              root == NULL ? jerr.text : "not an array");
        json_decref(root);
        return rc;
    }
    int rc = json_array_size(root) <= cap
                 ? 0
                 : kumo_err_set(err, KUMO_ELIMIT, "%zu containers", json_array_size(root));
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item)
    {
        if (rc == 0) {
            rc = parse_one(item, &out[i], err);
        }
    }
    *count_out = rc == 0 ? (uint32_t)json_array_size(root) : 0;
    json_decref(root);
    return rc;
}

static int volume_one(const json_t *item, kumo_runtime_volume_t *v, kumo_err_ctx_t *err)
{
    memset(v, 0, sizeof(*v));
    KUMO_ENSURE(json_is_object(item), err, KUMO_EDECODE, "volume is not an object");
    KUMO_GUARD(copy_str(v->name, sizeof(v->name), json_string_value(json_object_get(item, "Name")),
                        "volume name", err));
    KUMO_ENSURE(v->name[0] != '\0', err, KUMO_EDECODE, "volume without a name");
    const json_t *labels = json_object_get(item, "Labels");
    KUMO_GUARD(copy_str(v->owner, sizeof(v->owner),
                        json_string_value(json_object_get(labels, "kumo.owner")), "owner", err));
    int rc = u64_label(labels, "kumo.dseq", &v->dseq);
    rc = rc == 0 ? u64_label(labels, "kumo.gseq", &v->gseq) : rc;
    rc = rc == 0 ? u64_label(labels, "kumo.oseq", &v->oseq) : rc;
    rc = rc == 0 ? u64_label(labels, "kumo.size", &v->size_bytes) : rc;
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "volume %s: bad kumo.* label number", v->name);
    return 0;
}

int kumo_runtime_parse_volume(kumo_bytes_t json, kumo_runtime_volume_t *out, kumo_err_ctx_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, &jerr);
    int rc = root != NULL ? volume_one(root, out, err)
                          : kumo_err_set(err, KUMO_EDECODE, "volume: %s", jerr.text);
    json_decref(root);
    return rc;
}

int kumo_runtime_parse_volumes(kumo_bytes_t json,
                               kumo_runtime_volume_t *out,
                               uint32_t cap,
                               uint32_t *count_out,
                               kumo_err_ctx_t *err)
{
    *count_out = 0;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, &jerr);
    const json_t *vols = json_object_get(root, "Volumes");
    int rc = 0;
    if (root == NULL) {
        rc = kumo_err_set(err, KUMO_EDECODE, "volume list: %s", jerr.text);
    } else if (!json_is_array(vols) && !json_is_null(vols) && vols != NULL) {
        rc = kumo_err_set(err, KUMO_EDECODE, "volume list: Volumes is not a list");
    } else if (json_array_size(vols) > cap) {
        rc = kumo_err_set(err, KUMO_ELIMIT, "%zu volumes", json_array_size(vols));
    }
    size_t i;
    const json_t *item;
    json_array_foreach(vols, i, item)
    {
        rc = rc == 0 ? volume_one(item, &out[i], err) : rc;
    }
    *count_out = rc == 0 ? (uint32_t)json_array_size(vols) : 0;
    json_decref(root);
    return rc;
}

/* The size= of tmpfs options ("rw,size=64m,nosuid"): bytes, with an optional k/m/g suffix;
 * 0 when absent or malformed. */
static uint64_t tmpfs_size(const char *opts)
{
    const char *p = opts != NULL ? strstr(opts, "size=") : NULL;
    if (p == NULL) {
        return 0;
    }
    uint64_t v = 0;
    for (p += 5; *p >= '0' && *p <= '9'; p++) {
        if (kumo_u64_mul(v, 10, &v) != 0 || kumo_u64_add(v, (uint64_t)(*p - '0'), &v) != 0) {
            return 0;
        }
    }
    uint64_t unit = *p == 'k' || *p == 'K'   ? 1024u
                    : *p == 'm' || *p == 'M' ? 1024u * 1024u
                    : *p == 'g' || *p == 'G' ? 1024u * 1024u * 1024u
                                             : 1u;
    return kumo_u64_mul(v, unit, &v) == 0 ? v : 0;
}

/* The confinement fields of an inspect answer's HostConfig. */
static void inspect_confinement(const json_t *hc, kumo_runtime_inspect_t *out)
{
    json_int_t swap = json_integer_value(json_object_get(hc, "MemorySwap"));
    json_int_t pids = json_integer_value(json_object_get(hc, "PidsLimit"));
    out->memory_swap_bytes = swap > 0 ? (uint64_t)swap : 0;
    out->pids_limit = pids > 0 ? (uint64_t)pids : 0;
    out->tmp_bytes =
        tmpfs_size(json_string_value(json_object_get(json_object_get(hc, "Tmpfs"), "/tmp")));
    size_t add = json_array_size(json_object_get(hc, "CapAdd"));
    size_t drop = json_array_size(json_object_get(hc, "CapDrop"));
    out->cap_add_count = add < UINT32_MAX ? (uint32_t)add : UINT32_MAX;
    out->cap_drop_count = drop < UINT32_MAX ? (uint32_t)drop : UINT32_MAX;
    out->readonly_rootfs = json_is_true(json_object_get(hc, "ReadonlyRootfs"));
    const json_t *sec = json_object_get(hc, "SecurityOpt");
    for (size_t i = 0; i < json_array_size(sec); i++) {
        const char *s = json_string_value(json_array_get(sec, i));
        out->no_new_privileges = out->no_new_privileges ||
                                 (s != NULL && strncmp(s, "no-new-privileges", 17) == 0 &&
                                  strcmp(s + 17, ":false") != 0 && strcmp(s + 17, "=false") != 0);
    }
}

/* HostConfig.Devices (container paths) and the device ids of its CDI DeviceRequests. */
static void inspect_devices(const json_t *hc, kumo_runtime_inspect_t *out)
{
    const json_t *nodes = json_object_get(hc, "Devices");
    for (size_t i = 0; i < json_array_size(nodes) && out->device_count < UINT32_MAX; i++) {
        const char *p =
            json_string_value(json_object_get(json_array_get(nodes, i), "PathInContainer"));
        uint32_t k = out->device_count++;
        if (k < KUMO_RUNTIME_DEVICE_COUNT_MAX && p != NULL &&
            strlen(p) < KUMO_RUNTIME_DEVICE_BYTES_MAX) {
            (void)snprintf(out->device_paths[k], KUMO_RUNTIME_DEVICE_BYTES_MAX, "%s", p);
        }
    }
    const json_t *reqs = json_object_get(hc, "DeviceRequests");
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        const json_t *r = json_array_get(reqs, i);
        const char *driver = json_string_value(json_object_get(r, "Driver"));
        const json_t *ids = json_object_get(r, "DeviceIDs");
        for (size_t j = 0; driver != NULL && strcmp(driver, "cdi") == 0 &&
                           j < json_array_size(ids) && out->cdi_count < UINT32_MAX;
             j++) {
            const char *id = json_string_value(json_array_get(ids, j));
            uint32_t k = out->cdi_count++;
            if (k < KUMO_RUNTIME_DEVICE_COUNT_MAX && id != NULL &&
                strlen(id) < KUMO_RUNTIME_DEVICE_BYTES_MAX) {
                (void)snprintf(out->cdi_ids[k], KUMO_RUNTIME_DEVICE_BYTES_MAX, "%s", id);
            }
        }
    }
}

/* The exit time and the kumo.* labels of an inspect answer (best effort: absent is empty). */
/* Mounts of Type "bind": their container paths and whether they are writable. */
static void inspect_binds(const json_t *root, kumo_runtime_inspect_t *out)
{
    const json_t *mounts = json_object_get(root, "Mounts");
    for (size_t i = 0; i < json_array_size(mounts) && out->bind_count < UINT32_MAX; i++) {
        const json_t *m = json_array_get(mounts, i);
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *dst = json_string_value(json_object_get(m, "Destination"));
        if (type == NULL || strcmp(type, "bind") != 0) {
            continue;
        }
        uint32_t k = out->bind_count++;
        if (k < KUMO_RUNTIME_FILE_COUNT_MAX && dst != NULL &&
            strlen(dst) < KUMO_RUNTIME_MOUNT_BYTES_MAX) {
            (void)snprintf(out->bind_paths[k], sizeof(out->bind_paths[k]), "%s", dst);
            /* Anything but an explicit false counts as writable. */
            out->bind_rw[k] = !json_is_false(json_object_get(m, "RW"));
        }
    }
}

static void inspect_when_labels(const json_t *root, const json_t *st, kumo_runtime_inspect_t *out)
{
    const char *fin = json_string_value(json_object_get(st, "FinishedAt"));
    char line[80];
    uint64_t ns = 0;
    kumo_bytes_t text;
    int n = fin != NULL ? snprintf(line, sizeof(line), "%s x", fin) : -1;
    if (n > 0 && (size_t)n < sizeof(line) &&
        kumo_runtime_log_line_parse(kumo_bytes_make(line, (size_t)n), &ns, &text, NULL) == 0) {
        out->finished_ns = ns;
    }
    kumo_runtime_container_t c;
    memset(&c, 0, sizeof(c));
    const json_t *labels = json_object_get(json_object_get(root, "Config"), "Labels");
    if (json_is_object(labels) && parse_labels(labels, &c, NULL) == 0) {
        (void)snprintf(out->owner, sizeof(out->owner), "%s", c.owner);
        out->dseq = c.dseq;
        (void)snprintf(out->workload, sizeof(out->workload), "%s", c.workload);
        out->instance = c.instance;
    }
}

int kumo_runtime_parse_inspect(kumo_bytes_t json, kumo_runtime_inspect_t *out, kumo_err_ctx_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, &jerr);
    if (!json_is_object(root)) {
        int rc = kumo_err_set(err, KUMO_EDECODE, "inspect: %s",
                              root == NULL ? jerr.text : "not an object");
        json_decref(root);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    const json_t *st = json_object_get(root, "State");
    const json_t *hc = json_object_get(root, "HostConfig");
    out->state = kumo_runtime_state_parse(json_string_value(json_object_get(st, "Status")));
    out->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    json_int_t cpus = json_integer_value(json_object_get(hc, "NanoCpus"));
    json_int_t mem = json_integer_value(json_object_get(hc, "Memory"));
    out->nano_cpus = cpus > 0 ? (uint64_t)cpus : 0;
    out->memory_bytes = mem > 0 ? (uint64_t)mem : 0;
    inspect_confinement(hc, out);
    inspect_devices(hc, out);
    out->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
    inspect_when_labels(root, st, out);
    inspect_binds(root, out);
    const char *name = json_string_value(json_object_get(root, "Name"));
    name = name != NULL && name[0] == '/' ? name + 1 : name;
    if (name != NULL && strlen(name) < sizeof(out->name)) {
        (void)snprintf(out->name, sizeof(out->name), "%s", name);
    }
    const char *id = json_string_value(json_object_get(root, "Id"));
    if (id != NULL && strlen(id) < sizeof(out->id)) {
        (void)snprintf(out->id, sizeof(out->id), "%s", id);
    }
    json_t *nets = json_object_get(json_object_get(root, "NetworkSettings"), "Networks");
    const char *ip = json_string_value(
        json_object_get(json_object_iter_value(json_object_iter(nets)), "IPAddress"));
    int rc = copy_str(out->ip, sizeof(out->ip), ip, "container address", err);
    json_decref(root);
    return rc;
}

int kumo_runtime_logs_demux(kumo_bytes_t in, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    /* Multiplexed frames start with a stream byte 0..2 and three zero bytes. */
    bool mux = in.len >= 8 && in.ptr[0] <= 2 && in.ptr[1] == 0 && in.ptr[2] == 0 && in.ptr[3] == 0;
    if (!mux) {
        KUMO_ENSURE(kumo_buf_append(out, in.ptr, in.len) == 0, err, KUMO_ELIMIT, "logs too long");
        return 0;
    }
    kumo_reader_t r;
    kumo_reader_init(&r, in);
    while (kumo_reader_remaining(&r) > 0) {
        kumo_bytes_t hdr;
        kumo_bytes_t body;
        uint32_t len = 0;
        KUMO_ENSURE(kumo_reader_read_fixed(&r, 4, &hdr) == 0 &&
                        kumo_reader_read_u32(&r, &len) == 0 &&
                        kumo_reader_read_fixed(&r, len, &body) == 0,
                    err, KUMO_EDECODE, "truncated log frame");
        KUMO_ENSURE(kumo_buf_append(out, body.ptr, body.len) == 0, err, KUMO_ELIMIT,
                    "logs too long");
    }
    return 0;
}

int kumo_runtime_mux_parse(
    kumo_bytes_t in, uint8_t *stream, kumo_bytes_t *payload, size_t *consumed, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(stream != NULL && payload != NULL && consumed != NULL);
    KUMO_ASSERT(in.ptr != NULL || in.len == 0);
    *consumed = 0;
    *payload = kumo_bytes_make(NULL, 0);
    if (in.len < 8) {
        return 0;
    }
    KUMO_ENSURE(in.ptr[0] <= 2 && in.ptr[1] == 0 && in.ptr[2] == 0 && in.ptr[3] == 0, err,
                KUMO_EDECODE, "multiplexed stream: bad header");
    uint32_t len = kumo_be32_get(in.ptr + 4);
    KUMO_ENSURE(len <= KUMO_RUNTIME_MUX_CHUNK_BYTES_MAX, err, KUMO_ELIMIT,
                "multiplexed stream: chunk of %u bytes", len);
    if (in.len - 8u < len) {
        return 0;
    }
    *stream = in.ptr[0] == 2 ? 2 : 1;
    *payload = kumo_bytes_make(in.ptr + 8, len);
    *consumed = 8u + (size_t)len;
    KUMO_ASSERT(*consumed <= in.len);
    return 0;
}

int kumo_runtime_parse_exec(kumo_bytes_t json,
                            bool *running_out,
                            int *exit_code_out,
                            kumo_err_ctx_t *err)
{
    KUMO_ASSERT(running_out != NULL && exit_code_out != NULL);
    KUMO_ASSERT(json.ptr != NULL || json.len == 0);
    KUMO_ENSURE(json.len <= KUMO_RUNTIME_ANSWER_BYTES_MAX, err, KUMO_ELIMIT,
                "exec answer too long");
    json_t *j = json.len > 0 ? json_loadb((const char *)json.ptr, json.len, 0, NULL) : NULL;
    const json_t *running = json_object_get(j, "Running");
    const json_t *code = json_object_get(j, "ExitCode");
    int rc = 0;
    if (!json_is_boolean(running) || !json_is_integer(code) || json_integer_value(code) < -1 ||
        json_integer_value(code) > 255) {
        rc = kumo_err_set(err, KUMO_EDECODE, "exec inspect: expected Running and ExitCode -1..255");
    } else {
        *running_out = json_is_true(running);
        *exit_code_out = (int)json_integer_value(code);
    }
    json_decref(j);
    return rc;
}

int kumo_runtime_parse_head(kumo_bytes_t head, int *status_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(status_out != NULL);
    KUMO_ASSERT(head.ptr != NULL || head.len == 0);
    static const char http[] = "HTTP/1.";
    KUMO_ENSURE(head.len >= 12 && head.len <= KUMO_RUNTIME_EXEC_HEAD_BYTES_MAX &&
                    memcmp(head.ptr, http, sizeof(http) - 1u) == 0 &&
                    (head.ptr[7] == '0' || head.ptr[7] == '1') && head.ptr[8] == ' ',
                err, KUMO_EDECODE, "exec start: not an HTTP answer");
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        KUMO_ENSURE(head.ptr[i] >= '0' && head.ptr[i] <= '9', err, KUMO_EDECODE,
                    "exec start: bad status line");
        status = status * 10 + (head.ptr[i] - '0');
    }
    KUMO_ENSURE(status >= 100, err, KUMO_EDECODE, "exec start: status %d", status);
    *status_out = status;
    return 0;
}

/* Reads n decimal digits at p into *out. */
static bool rt_digits(const uint8_t *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10u + (uint32_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), y >= 1970. */
static uint64_t rt_days(uint32_t y, uint32_t m, uint32_t d)
{
    uint32_t yy = m <= 2 ? y - 1u : y;
    uint32_t era = yy / 400u;
    uint32_t yoe = yy - era * 400u;
    uint32_t mp = m > 2 ? m - 3u : m + 9u;
    uint32_t doy = (153u * mp + 2u) / 5u + d - 1u;
    uint32_t doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return (uint64_t)era * 146097u + doe - 719468u;
}

/* "YYYY-MM-DDTHH:MM:SS" at p (19 bytes) into unix seconds. */
static bool rt_time_base(const uint8_t *p, uint64_t *secs)
{
    uint32_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!rt_digits(p, 4, &y) || p[4] != '-' || !rt_digits(p + 5, 2, &mo) || p[7] != '-' ||
        !rt_digits(p + 8, 2, &d) || p[10] != 'T' || !rt_digits(p + 11, 2, &h) || p[13] != ':' ||
        !rt_digits(p + 14, 2, &mi) || p[16] != ':' || !rt_digits(p + 17, 2, &s)) {
        return false;
    }
    if (y < 1970 || y > 2500 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60) {
        return false;
    }
    *secs = rt_days(y, mo, d) * 86400u + h * 3600u + mi * 60u + s;
    return true;
}

int kumo_runtime_log_line_parse(kumo_bytes_t line,
                                uint64_t *time_ns,
                                kumo_bytes_t *text,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(time_ns != NULL && text != NULL);
    KUMO_ASSERT(line.ptr != NULL || line.len == 0);
    const uint8_t *p = line.ptr;
    uint64_t secs = 0;
    KUMO_ENSURE(line.len >= 20 && rt_time_base(p, &secs), err, KUMO_EDECODE,
                "log line: no RFC 3339 time");
    size_t i = 19;
    uint64_t frac = 0;
    if (p[i] == '.') {
        size_t digits = 0;
        for (i++; i < line.len && p[i] >= '0' && p[i] <= '9'; i++) {
            KUMO_ENSURE(++digits <= 9, err, KUMO_EDECODE, "log line: over 9 fraction digits");
            frac = frac * 10u + (uint64_t)(p[i] - '0');
        }
        KUMO_ENSURE(digits > 0, err, KUMO_EDECODE, "log line: empty fraction");
        for (; digits < 9; digits++) {
            frac *= 10u;
        }
    }
    int64_t offset_s = 0;
    if (i < line.len && p[i] == 'Z') {
        i++;
    } else {
        uint32_t oh = 0;
        uint32_t om = 0;
        KUMO_ENSURE(i + 6 <= line.len && (p[i] == '+' || p[i] == '-') &&
                        rt_digits(p + i + 1, 2, &oh) && p[i + 3] == ':' &&
                        rt_digits(p + i + 4, 2, &om) && oh <= 23 && om <= 59,
                    err, KUMO_EDECODE, "log line: bad time zone");
        offset_s = (int64_t)(oh * 3600u + om * 60u) * (p[i] == '+' ? 1 : -1);
        i += 6;
    }
    KUMO_ENSURE(i < line.len && p[i] == ' ', err, KUMO_EDECODE,
                "log line: no space after the time");
    KUMO_ENSURE(offset_s <= 0 || (uint64_t)offset_s <= secs, err, KUMO_EDECODE,
                "log line: before 1970");
    secs = offset_s >= 0 ? secs - (uint64_t)offset_s : secs + (uint64_t)(-offset_s);
    *time_ns = secs * 1000000000u + frac;
    size_t end = line.len;
    while (end > i + 1 && (p[end - 1] == '\n' || p[end - 1] == '\r')) {
        end--;
    }
    *text = kumo_bytes_make(p + i + 1, end - i - 1);
    return 0;
}

/* ---- stats ---------------------------------------------------------------------------------- */

/* A counter at key of o: absent or null reads 0; otherwise a non-negative integer. */
static int stats_u64(const json_t *o, const char *key, uint64_t *out, kumo_err_ctx_t *err)
{
    const json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    KUMO_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0, err, KUMO_EDECODE,
                "stats: %s is not a non-negative integer", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int stats_add(uint64_t *sum, const json_t *o, const char *key, kumo_err_ctx_t *err)
{
    uint64_t v = 0;
    KUMO_GUARD(stats_u64(o, key, &v, err));
    KUMO_ENSURE(kumo_u64_add(*sum, v, sum) == 0, err, KUMO_EOVERFLOW, "stats: %s sum", key);
    return 0;
}

static int stats_networks(const json_t *nets, kumo_runtime_stats_t *out, kumo_err_ctx_t *err)
{
    if (nets == NULL || json_is_null(nets)) {
        return 0;
    }
    KUMO_ENSURE(json_is_object(nets), err, KUMO_EDECODE, "stats: networks is not an object");
    KUMO_ENSURE(json_object_size(nets) <= KUMO_RUNTIME_STATS_NETWORK_COUNT_MAX, err, KUMO_ELIMIT,
                "stats: %zu networks", json_object_size(nets));
    const char *name;
    const json_t *n;
    json_object_foreach((json_t *)(uintptr_t)nets, name, n)
    {
        KUMO_ENSURE(json_is_object(n), err, KUMO_EDECODE, "stats: network %.64s", name);
        KUMO_GUARD(stats_add(&out->net_rx_bytes, n, "rx_bytes", err));
        KUMO_GUARD(stats_add(&out->net_tx_bytes, n, "tx_bytes", err));
    }
    return 0;
}

static int stats_blkio(const json_t *blkio, kumo_runtime_stats_t *out, kumo_err_ctx_t *err)
{
    const json_t *a = json_object_get(blkio, "io_service_bytes_recursive");
    if (a == NULL || json_is_null(a)) {
        return 0;
    }
    KUMO_ENSURE(json_is_array(a), err, KUMO_EDECODE, "stats: io_service_bytes_recursive");
    KUMO_ENSURE(json_array_size(a) <= KUMO_RUNTIME_STATS_BLKIO_COUNT_MAX, err, KUMO_ELIMIT,
                "stats: %zu block-device entries", json_array_size(a));
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        const char *op = json_string_value(json_object_get(e, "op"));
        KUMO_ENSURE(json_is_object(e) && op != NULL, err, KUMO_EDECODE, "stats: blkio entry");
        if (strcasecmp(op, "read") == 0) {
            KUMO_GUARD(stats_add(&out->blk_read_bytes, e, "value", err));
        } else if (strcasecmp(op, "write") == 0) {
            KUMO_GUARD(stats_add(&out->blk_write_bytes, e, "value", err));
        }
    }
    return 0;
}

static int stats_fields(const json_t *root, kumo_runtime_stats_t *out, kumo_err_ctx_t *err)
{
    const json_t *cpu = json_object_get(json_object_get(root, "cpu_stats"), "cpu_usage");
    const json_t *mem = json_object_get(root, "memory_stats");
    KUMO_GUARD(stats_u64(cpu, "total_usage", &out->cpu_ns, err));
    KUMO_GUARD(stats_u64(mem, "usage", &out->memory_bytes, err));
    KUMO_GUARD(stats_u64(mem, "limit", &out->memory_limit_bytes, err));
    KUMO_GUARD(stats_u64(json_object_get(root, "pids_stats"), "current", &out->pids, err));
    KUMO_GUARD(stats_networks(json_object_get(root, "networks"), out, err));
    return stats_blkio(json_object_get(root, "blkio_stats"), out, err);
}

int kumo_runtime_parse_stats(kumo_bytes_t json, kumo_runtime_stats_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb((const char *)json.ptr, json.len, 0, &jerr);
    if (!json_is_object(root)) {
        int rc = kumo_err_set(err, KUMO_EDECODE, "stats: %s",
                              root == NULL ? jerr.text : "not an object");
        json_decref(root);
        return rc;
    }
    int rc = stats_fields(root, out, err);
    json_decref(root);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
