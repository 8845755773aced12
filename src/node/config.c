/*
 * config.c - the node's config.yaml: defaults, a strict loader (libyaml; a flat mapping of
 * known keys to scalars, every error naming file:line:key) and the commented file kumo init
 * writes. Not pure: reads files.
 */
#include "node/node.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "file/file.h"
#include "node/node_int.h"
#include "p2p/p2p.h"

/* A config file is a screenful of keys; 64 KiB bounds the read. */
#define NODE_CFG_FILE_BYTES_MAX (64u * 1024u)

void kumo_node_cfg_default(kumo_node_cfg_t *cfg)
{
    KUMO_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof(*cfg));
    (void)snprintf(cfg->moniker, sizeof(cfg->moniker), "%s", "kumo-node");
    (void)snprintf(cfg->validator_key, sizeof(cfg->validator_key), "%s", "validator");
    (void)snprintf(cfg->rpc_listen, sizeof(cfg->rpc_listen), "%s", "127.0.0.1:26657");
    cfg->block_interval_ms = 1000;
    cfg->mempool_tx_count_max = 50000;
    cfg->mempool_bytes_max = 64ull * 1024ull * 1024ull;
    cfg->mempool_account_tx_max = 256;
    cfg->mempool_future_seq_max = 64;
    cfg->mempool_account_bytes_max = 4ull * 1024ull * 1024ull;
    cfg->mempool_lane_tx_count_max = 1000;
    cfg->mempool_lane_bytes_max = 1024ull * 1024ull;
    cfg->mempool_lane_account_tx_max = 8;
    cfg->block_tx_count_max = 10000;
    cfg->rpc_connection_max = 256;
    cfg->rpc_body_bytes_max = 1024u * 1024u;
    cfg->sse_client_max = 64;
    cfg->rpc_connection_per_addr_max = 64;
    cfg->rpc_request_timeout_ms = 10000;
    cfg->sse_output_bytes_max = 4u * 1024u * 1024u;
    cfg->sse_stall_timeout_ms = 60000;
    cfg->rpc_dashboard = 1;
    (void)snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", "info");
    cfg->timeout_propose_ms = 1000;
    cfg->timeout_vote_ms = 500;
    kumo_p2p_cfg_t p2p;
    kumo_p2p_cfg_default(&p2p);
    cfg->p2p_inbound_count_max = p2p.inbound_count_max;
    cfg->p2p_inbound_per_host_max = p2p.inbound_per_host_max;
    cfg->p2p_pending_count_max = p2p.pending_count_max;
    cfg->p2p_pending_per_host_max = p2p.pending_per_host_max;
    cfg->p2p_useful_timeout_ms = p2p.useful_timeout_ms;
    cfg->p2p_ban_ms = p2p.ban_ms;
}

/* ---- the fields: one table drives loading, validation and the written file ---- */

typedef enum cfg_kind {
    CFG_STR,
    CFG_U32,
    CFG_U64,
} cfg_kind_t;

typedef struct cfg_field {
    const char *key;
    cfg_kind_t kind;
    size_t offset;
    size_t str_cap; /* CFG_STR: the char array's size */
    uint64_t min;   /* numbers: range; strings: length range */
    uint64_t max;
    const char *doc;
} cfg_field_t;

#define CFG_STR_FIELD(name, lo, doc)                                                               \
    {                                                                                              \
#name, CFG_STR, offsetof(kumo_node_cfg_t, name), sizeof(((kumo_node_cfg_t *)0)->name), lo, \
            sizeof(((kumo_node_cfg_t *)0)->name) - 1u, doc                                         \
    }
#define CFG_NUM_FIELD(name, kind, lo, hi, doc)                       \
    {                                                                \
#name, kind, offsetof(kumo_node_cfg_t, name), 0, lo, hi, doc \
    }

static const cfg_field_t cfg_fields[] = {
    CFG_STR_FIELD(chain_id, 0, "chain id; must match genesis.json (empty: take it from there)"),
    CFG_STR_FIELD(moniker, 1, "a human-readable name for this node"),
    CFG_STR_FIELD(validator_key, 1, "keyring name (home/keyring) of the validator operator key"),
    CFG_STR_FIELD(rpc_listen, 3, "HTTP API address, host:port (port 0 picks a free port)"),
    CFG_NUM_FIELD(block_interval_ms, CFG_U32, 1, 3600000, "one block every this many ms"),
    CFG_NUM_FIELD(mempool_tx_count_max,
                  CFG_U32,
                  1,
                  KUMO_NODE_MEMPOOL_TX_COUNT_MAX,
                  "txs the mempool holds at most"),
    CFG_NUM_FIELD(mempool_bytes_max,
                  CFG_U64,
                  1,
                  16ull * 1024ull * 1024ull * 1024ull,
                  "tx bytes the mempool holds at most"),
    CFG_NUM_FIELD(mempool_account_tx_max, CFG_U32, 1, 65536, "pending txs per account"),
    CFG_NUM_FIELD(mempool_future_seq_max,
                  CFG_U32,
                  1,
                  65536,
                  "how far past its committed sequence an account may pipeline txs"),
    CFG_NUM_FIELD(mempool_account_bytes_max,
                  CFG_U64,
                  1,
                  16ull * 1024ull * 1024ull * 1024ull,
                  "pending tx bytes per account"),
    CFG_NUM_FIELD(mempool_lane_tx_count_max,
                  CFG_U32,
                  1,
                  KUMO_NODE_MEMPOOL_TX_COUNT_MAX,
                  "lease confirmation txs the mempool holds beside the others (their own room)"),
    CFG_NUM_FIELD(mempool_lane_bytes_max,
                  CFG_U64,
                  1,
                  16ull * 1024ull * 1024ull * 1024ull,
                  "bytes of lease confirmation txs the mempool holds beside the others"),
    CFG_NUM_FIELD(mempool_lane_account_tx_max,
                  CFG_U32,
                  1,
                  65536,
                  "pending lease confirmation txs per provider"),
    CFG_NUM_FIELD(block_tx_count_max,
                  CFG_U32,
                  1,
                  KUMO_BLOCK_TX_COUNT_MAX,
                  "txs per block (facilitator txs included)"),
    CFG_NUM_FIELD(rpc_connection_max, CFG_U32, 1, 65536, "open HTTP connections"),
    CFG_NUM_FIELD(rpc_body_bytes_max,
                  CFG_U32,
                  1024,
                  64u * 1024u * 1024u,
                  "largest HTTP request body in bytes"),
    CFG_NUM_FIELD(sse_client_max, CFG_U32, 1, 4096, "concurrent /events subscribers"),
    CFG_NUM_FIELD(rpc_connection_per_addr_max,
                  CFG_U32,
                  1,
                  65536,
                  "open HTTP connections per client address (an IPv6 /64 is one address)"),
    CFG_NUM_FIELD(rpc_request_timeout_ms,
                  CFG_U32,
                  100,
                  600000,
                  "a request's head and body must arrive within this many ms of the "
                  "connection (or its previous answer)"),
    CFG_NUM_FIELD(sse_output_bytes_max,
                  CFG_U32,
                  4096,
                  1024u * 1024u * 1024u,
                  "an /events client with more unsent output than this is dropped"),
    CFG_NUM_FIELD(sse_stall_timeout_ms,
                  CFG_U32,
                  100,
                  3600000,
                  "an /events client that takes none of its pending output for this long "
                  "is dropped"),
    CFG_NUM_FIELD(rpc_dashboard,
                  CFG_U32,
                  0,
                  1,
                  "1: serve the read-only web dashboard at /ui/ on rpc_listen; 0: off"),
    CFG_STR_FIELD(log_level, 1, "trace, debug, info, warn, error or off"),
    CFG_STR_FIELD(p2p_listen,
                  0,
                  "peer-to-peer address host:port (TLS 1.3, node key = validator key); "
                  "empty: no p2p (single validator only)"),
    CFG_STR_FIELD(persistent_peers,
                  0,
                  "comma-separated peers id@host:port, dialed and redialed with backoff"),
    CFG_NUM_FIELD(timeout_propose_ms,
                  CFG_U32,
                  10,
                  600000,
                  "consensus: wait for a proposal in round 0 (+ half of it per round)"),
    CFG_NUM_FIELD(timeout_vote_ms,
                  CFG_U32,
                  10,
                  600000,
                  "consensus: wait for more prevotes/precommits in round 0 (+ half per round)"),
    CFG_NUM_FIELD(p2p_inbound_count_max,
                  CFG_U32,
                  0,
                  KUMO_P2P_PEER_COUNT_MAX,
                  "p2p: inbound peers that are not persistent peers (0: persistent only)"),
    CFG_NUM_FIELD(p2p_inbound_per_host_max,
                  CFG_U32,
                  1,
                  KUMO_P2P_PEER_COUNT_MAX,
                  "p2p: of those, from one IPv4 address or IPv6 /64"),
    CFG_NUM_FIELD(p2p_pending_count_max,
                  CFG_U32,
                  1,
                  KUMO_P2P_PENDING_COUNT_MAX,
                  "p2p: inbound connections still in the TLS handshake"),
    CFG_NUM_FIELD(p2p_pending_per_host_max,
                  CFG_U32,
                  1,
                  KUMO_P2P_PENDING_COUNT_MAX,
                  "p2p: of those, from one host (leave room for validators sharing one)"),
    CFG_NUM_FIELD(p2p_useful_timeout_ms,
                  CFG_U32,
                  1000,
                  86400000,
                  "p2p: a non-persistent peer that sends nothing useful for this long is dropped"),
    CFG_NUM_FIELD(p2p_ban_ms,
                  CFG_U32,
                  1000,
                  604800000,
                  "p2p: how long a misbehaving non-persistent peer's key and host are refused"),
};

static int cfg_log_level_parse(const char *text, enum kumo_log_level *out)
{
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "off"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum kumo_log_level)i;
            return 0;
        }
    }
    return KUMO_EINVAL;
}

int kumo_node_cfg_log_level(const kumo_node_cfg_t *cfg, enum kumo_log_level *out)
{
    return cfg_log_level_parse(cfg->log_level, out);
}

static uint64_t cfg_num_get(const kumo_node_cfg_t *cfg, const cfg_field_t *f)
{
    const uint8_t *p = (const uint8_t *)cfg + f->offset;
    if (f->kind == CFG_U32) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int cfg_field_check(const kumo_node_cfg_t *cfg, const cfg_field_t *f, kumo_err_ctx_t *err)
{
    if (f->kind == CFG_STR) {
        const char *s = (const char *)cfg + f->offset;
        size_t len = strnlen(s, f->str_cap);
        KUMO_ENSURE(len >= f->min && len <= f->max, err, KUMO_EINVAL,
                    "%s: must be %" PRIu64 "..%" PRIu64 " characters", f->key, f->min, f->max);
        return 0;
    }
    uint64_t v = cfg_num_get(cfg, f);
    KUMO_ENSURE(v >= f->min && v <= f->max, err, KUMO_EINVAL,
                "%s: %" PRIu64 " is outside %" PRIu64 "..%" PRIu64, f->key, v, f->min, f->max);
    return 0;
}

/* Rules beyond ranges: the log level's name and the host:port shape. */
static int cfg_field_check_extra(const kumo_node_cfg_t *cfg, kumo_err_ctx_t *err)
{
    enum kumo_log_level level;
    KUMO_ENSURE(cfg_log_level_parse(cfg->log_level, &level) == 0, err, KUMO_EINVAL,
                "log_level: '%s' is not trace, debug, info, warn, error or off", cfg->log_level);
    KUMO_ENSURE(strrchr(cfg->rpc_listen, ':') != NULL, err, KUMO_EINVAL,
                "rpc_listen: '%s' is not host:port", cfg->rpc_listen);
    return 0;
}

int kumo_node_cfg_validate(const kumo_node_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL);
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cfg_fields); i++) {
        const cfg_field_t *f = &cfg_fields[i];
        /* 0 is the struct-only "no timer" setting (tests), not a file value. */
        if (strcmp(f->key, "block_interval_ms") == 0 && cfg->block_interval_ms == 0) {
            continue;
        }
        KUMO_GUARD(cfg_field_check(cfg, f, err));
    }
    return cfg_field_check_extra(cfg, err);
}

/* ---- loading ---- */

/* Decimal only, no sign, no leading zeros but "0", within max. */
static int cfg_num_parse(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0')) {
        return KUMO_EINVAL;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return KUMO_EINVAL;
        }
        if (kumo_u64_mul(v, 10, &v) < 0 || kumo_u64_add(v, (uint64_t)(text[i] - '0'), &v) < 0) {
            return KUMO_EINVAL;
        }
    }
    *out = v;
    return 0;
}

static const cfg_field_t *cfg_field_find(const char *key)
{
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cfg_fields); i++) {
        if (strcmp(cfg_fields[i].key, key) == 0) {
            return &cfg_fields[i];
        }
    }
    return NULL;
}

typedef struct cfg_loader {
    const char *path;
    kumo_node_cfg_t *cfg;
    uint64_t seen; /* bit per field: duplicates are errors */
} cfg_loader_t;

_Static_assert(KUMO_ARRAY_COUNT(cfg_fields) <= 64, "seen bits");

static int cfg_value_set(cfg_loader_t *ld,
                         const yaml_event_t *key_ev,
                         const char *key,
                         const yaml_event_t *val_ev,
                         kumo_err_ctx_t *err)
{
    unsigned long line = (unsigned long)key_ev->start_mark.line + 1ul;
    const cfg_field_t *f = cfg_field_find(key);
    KUMO_ENSURE(f != NULL, err, KUMO_EDECODE, "%s:%lu:%s: unknown key", ld->path, line, key);
    uint64_t bit = 1ull << (uint64_t)(f - cfg_fields);
    KUMO_ENSURE((ld->seen & bit) == 0, err, KUMO_EDECODE, "%s:%lu:%s: key given twice", ld->path,
                line, key);
    ld->seen |= bit;
    KUMO_ENSURE(val_ev->type == YAML_SCALAR_EVENT, err, KUMO_EDECODE,
                "%s:%lu:%s: expected a plain value", ld->path, line, key);
    const char *text = (const char *)val_ev->data.scalar.value;
    KUMO_ENSURE(strlen(text) == val_ev->data.scalar.length, err, KUMO_EDECODE,
                "%s:%lu:%s: value holds a NUL", ld->path, line, key);
    uint8_t *p = (uint8_t *)ld->cfg + f->offset;
    if (f->kind == CFG_STR) {
        KUMO_ENSURE(strlen(text) < f->str_cap, err, KUMO_EDECODE,
                    "%s:%lu:%s: longer than %zu characters", ld->path, line, key, f->str_cap - 1u);
        memcpy(p, text, strlen(text) + 1u);
    } else {
        uint64_t v = 0;
        KUMO_ENSURE(cfg_num_parse(text, &v) == 0 && v >= f->min && v <= f->max, err, KUMO_EDECODE,
                    "%s:%lu:%s: '%s' is not a number in %" PRIu64 "..%" PRIu64, ld->path, line, key,
                    text, f->min, f->max);
        if (f->kind == CFG_U32) {
            uint32_t v32 = (uint32_t)v; /* max <= UINT32_MAX for every U32 field */
            memcpy(p, &v32, sizeof(v32));
        } else {
            memcpy(p, &v, sizeof(v));
        }
    }
    kumo_err_ctx_t verr = {0};
    KUMO_ENSURE(cfg_field_check(ld->cfg, f, &verr) == 0 &&
                    cfg_field_check_extra(ld->cfg, &verr) == 0,
                err, KUMO_EDECODE, "%s:%lu:%s: %s", ld->path, line, key, verr.detail);
    return 0;
}

static int
cfg_parse_next(yaml_parser_t *parser, yaml_event_t *ev, const char *path, kumo_err_ctx_t *err)
{
    if (yaml_parser_parse(parser, ev)) {
        return 0;
    }
    return kumo_err_set(err, KUMO_EDECODE, "%s:%lu: %s", path,
                        (unsigned long)parser->problem_mark.line + 1ul,
                        parser->problem != NULL ? parser->problem : "YAML syntax error");
}

/* The document: stream-start, document-start, mapping of scalar: scalar, ends. */
static int cfg_parse_mapping(yaml_parser_t *parser, cfg_loader_t *ld, kumo_err_ctx_t *err)
{
    for (;;) {
        yaml_event_t key_ev;
        KUMO_GUARD(cfg_parse_next(parser, &key_ev, ld->path, err));
        if (key_ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key_ev);
            return 0;
        }
        int rc = 0;
        if (key_ev.type != YAML_SCALAR_EVENT) {
            rc = kumo_err_set(err, KUMO_EDECODE, "%s:%lu: expected a key", ld->path,
                              (unsigned long)key_ev.start_mark.line + 1ul);
            yaml_event_delete(&key_ev);
            return rc;
        }
        yaml_event_t val_ev;
        rc = cfg_parse_next(parser, &val_ev, ld->path, err);
        if (rc == 0) {
            rc = cfg_value_set(ld, &key_ev, (const char *)key_ev.data.scalar.value, &val_ev, err);
            yaml_event_delete(&val_ev);
        }
        yaml_event_delete(&key_ev);
        KUMO_GUARD(rc);
    }
}

static int cfg_parse(yaml_parser_t *parser, cfg_loader_t *ld, kumo_err_ctx_t *err)
{
    /* stream start, then document start or stream end (an empty file: all defaults) */
    yaml_event_type_t want[] = {YAML_STREAM_START_EVENT, YAML_DOCUMENT_START_EVENT,
                                YAML_MAPPING_START_EVENT};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(want); i++) {
        yaml_event_t ev;
        KUMO_GUARD(cfg_parse_next(parser, &ev, ld->path, err));
        yaml_event_type_t type = ev.type;
        unsigned long line = (unsigned long)ev.start_mark.line + 1ul;
        yaml_event_delete(&ev);
        if (i == 1 && type == YAML_STREAM_END_EVENT) {
            return 0;
        }
        KUMO_ENSURE(type == want[i], err, KUMO_EDECODE,
                    "%s:%lu: expected a mapping of key: value lines", ld->path, line);
    }
    KUMO_GUARD(cfg_parse_mapping(parser, ld, err));
    yaml_event_t ev;
    KUMO_GUARD(cfg_parse_next(parser, &ev, ld->path, err));
    yaml_event_type_t type = ev.type;
    unsigned long line = (unsigned long)ev.start_mark.line + 1ul;
    yaml_event_delete(&ev);
    KUMO_ENSURE(type == YAML_DOCUMENT_END_EVENT, err, KUMO_EDECODE,
                "%s:%lu: only one document is allowed", ld->path, line);
    KUMO_GUARD(cfg_parse_next(parser, &ev, ld->path, err));
    type = ev.type;
    line = (unsigned long)ev.start_mark.line + 1ul;
    yaml_event_delete(&ev);
    KUMO_ENSURE(type == YAML_STREAM_END_EVENT, err, KUMO_EDECODE,
                "%s:%lu: only one document is allowed", ld->path, line);
    return 0;
}

int kumo_node_cfg_parse(const char *path,
                        kumo_bytes_t text,
                        kumo_node_cfg_t *cfg,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL && cfg != NULL);
    KUMO_ENSURE(text.len <= NODE_CFG_FILE_BYTES_MAX, err, KUMO_ELIMIT, "%s: over %u bytes", path,
                NODE_CFG_FILE_BYTES_MAX);
    yaml_parser_t parser;
    KUMO_ENSURE(yaml_parser_initialize(&parser) != 0, err, KUMO_ENOMEM, "yaml parser");
    static const uint8_t empty[1] = {0};
    /* libyaml asserts on a NULL input even when its length is 0 (an empty file). */
    yaml_parser_set_input_string(&parser, text.ptr != NULL ? text.ptr : empty, text.len);
    kumo_node_cfg_t tmp = *cfg;
    cfg_loader_t ld = {.path = path, .cfg = &tmp};
    int rc = cfg_parse(&parser, &ld, err);
    yaml_parser_delete(&parser);
    if (rc == 0) {
        *cfg = tmp;
    }
    return rc;
}

int kumo_node_cfg_load(const char *home, kumo_node_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && cfg != NULL);
    char path[KUMO_NODE_PATH_BYTES];
    KUMO_GUARD(kumo_node_path(home, "config.yaml", path, err));
    kumo_buf_t text;
    kumo_buf_init(&text, NODE_CFG_FILE_BYTES_MAX);
    KUMO_GUARD(kumo_file_read(path, &text, err));
    kumo_node_cfg_t tmp;
    kumo_node_cfg_default(&tmp);
    int rc = kumo_node_cfg_parse(path, kumo_buf_bytes(&text), &tmp, err);
    kumo_buf_free(&text);
    KUMO_GUARD(rc);
    KUMO_ENSURE(strlen(home) < sizeof(tmp.home), err, KUMO_ELIMIT, "home path too long");
    (void)snprintf(tmp.home, sizeof(tmp.home), "%s", home);
    *cfg = tmp;
    return 0;
}

/* ---- writing (kumo init) ---- */

static int cfg_line_append(kumo_buf_t *out, const char *fmt, ...) KUMO_PRINTF(2, 3);
static int cfg_line_append(kumo_buf_t *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return KUMO_ELIMIT;
    }
    return kumo_buf_append(out, line, (size_t)n);
}

int kumo_node_cfg_render(const kumo_node_cfg_t *cfg, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && out != NULL);
    int rc = cfg_line_append(out, "# kumo node configuration (written by kumo init).\n"
                                  "# Every key is optional; a missing key takes the default "
                                  "shown. Unknown keys are errors.\n");
    for (size_t i = 0; rc == 0 && i < KUMO_ARRAY_COUNT(cfg_fields); i++) {
        const cfg_field_t *f = &cfg_fields[i];
        rc = cfg_line_append(out, "\n# %s\n", f->doc);
        if (rc != 0) {
            break;
        }
        if (f->kind == CFG_STR) {
            const char *v = (const char *)cfg + f->offset;
            KUMO_ENSURE(kumo_node_text_is_plain(v), err, KUMO_EINVAL,
                        "%s: only printable characters without quotes or backslashes", f->key);
            rc = cfg_line_append(out, "%s: \"%s\"\n", f->key, v);
        } else {
            rc = cfg_line_append(out, "# range %" PRIu64 "..%" PRIu64 "\n%s: %" PRIu64 "\n", f->min,
                                 f->max, f->key, cfg_num_get(cfg, f));
        }
    }
    KUMO_ENSURE(rc == 0, err, rc, "rendering config.yaml");
    return 0;
}
