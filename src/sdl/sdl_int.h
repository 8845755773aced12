/*
 * sdl_int.h - private to src/sdl: the YAML tree (tree.c), value parsers (units.c), the schema
 * walk (stack.c, workload.c) and the stack object. Pure.
 */
#ifndef KUMO_SDL_SDL_INT_H
#define KUMO_SDL_SDL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdl/sdl.h"

#define SDL_NONE        UINT32_MAX
#define SDL_PATH_BYTES  192u
#define SDL_QUOTE_BYTES 68u

typedef enum sdl_kind {
    SDL_SCALAR = 1,
    SDL_SEQ = 2,
    SDL_MAP = 3,
} sdl_kind_t;

/* One YAML node. Children are linked: first, then next; a map's children alternate key and
 * value. Scalar text is NUL-terminated and holds no NUL. */
typedef struct sdl_node {
    sdl_kind_t kind;
    uint32_t line; /* 1-based */
    bool plain;    /* scalar written without quotes or block style */
    uint32_t child_count;
    uint32_t first;
    uint32_t next;
    char *text;
    size_t len;
} sdl_node_t;

typedef struct sdl_tree {
    sdl_node_t *nodes;
    uint32_t count;
    uint32_t cap;
} sdl_tree_t;

/* Builds the tree of a YAML file (event API, one document, no aliases, depth and node count
 * bounded). Errors as kumo_sdl_stack_parse. The tree is freed with sdl_tree_free, also on
 * failure. */
int sdl_tree_build(kumo_bytes_t yaml, const char *file, sdl_tree_t *tree, kumo_err_ctx_t *err);
void sdl_tree_free(sdl_tree_t *tree);

struct kumo_sdl_stack {
    Kumo__GroupSpec **groups;
    size_t group_count;
    uint64_t wait_blocks;
    uint64_t deposit_ukumo;
    Kumo__Manifest *manifest;
    kumo_buf_t manifest_bytes;  /* packed once by parse, so every accepted stack encodes */
    uint64_t file_bytes;        /* the content of every file so far (parse) */
    kumo_sdl_secret_t *secrets; /* sorted by name; strings owned (kumo_free) */
    size_t secret_count;
    bool sealed; /* kumo_sdl_stack_seal ran */
};

/* The walk's context: errors name file, line and path. */
typedef struct sdl_ctx {
    const sdl_tree_t *tree;
    const char *file;
    kumo_err_ctx_t *err;
    kumo_sdl_stack_t *stack;
    uint32_t workloads;                   /* the workloads mapping, once its names are checked */
    const kumo_sdl_file_loader_t *loader; /* NULL: files with a source are refused */
} sdl_ctx_t;

int sdl_fail(const sdl_ctx_t *c, int code, uint32_t node, const char *path, const char *fmt, ...)
    KUMO_PRINTF(5, 6);
const sdl_node_t *sdl_node(const sdl_ctx_t *c, uint32_t index);
/* path = parent + "." + key (or key alone at the root). */
void sdl_path_key(char out[SDL_PATH_BYTES], const char *parent, const char *key);
/* path = parent + "[index]". */
void sdl_path_index(char out[SDL_PATH_BYTES], const char *parent, size_t index);

/* Checks node is a mapping whose keys are scalars among allowed (count n), each at most once. */
int sdl_map_check(
    const sdl_ctx_t *c, uint32_t node, const char *path, const char *const *allowed, size_t n);
/* Checks node is a mapping whose keys are scalars, each at most once, of any text. */
int sdl_map_names(const sdl_ctx_t *c, uint32_t node, const char *path);
/* The value of key in a checked mapping, or SDL_NONE. */
uint32_t sdl_map_get(const sdl_ctx_t *c, uint32_t map, const char *key);
/* The value of a required key: KUMO_EEMPTY naming the key when missing. */
int sdl_map_need(
    const sdl_ctx_t *c, uint32_t map, const char *path, const char *key, uint32_t *value_out);

/* Typed scalars; each error names path. */
int sdl_scalar(const sdl_ctx_t *c, uint32_t node, const char *path, const char **text_out);
int sdl_string(const sdl_ctx_t *c,
               uint32_t node,
               const char *path,
               size_t bytes_min,
               size_t bytes_max,
               char **out);
int sdl_name(const sdl_ctx_t *c, uint32_t node, const char *path, const char **name_out);
int sdl_u64(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *out);
int sdl_count(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t max, uint32_t *out);
int sdl_bool(const sdl_ctx_t *c, uint32_t node, const char *path, bool *out);
int sdl_cpu(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *milli_out);
int sdl_size(const sdl_ctx_t *c, uint32_t node, const char *path, uint64_t *bytes_out);

/* Parses a compute unit mapping {cpu, memory, storage} into *out (a fresh ComputeUnit). */
int sdl_compute(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ComputeUnit **out);
/* The same from a mapping whose keys were already checked (a resource: compute + more). */
int sdl_compute_fields(const sdl_ctx_t *c,
                       uint32_t node,
                       const char *path,
                       Kumo__ComputeUnit **out);
bool sdl_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b);

/* The rules shared by the stack parser and the manifest check (check.c): a name is a DNS
 * label of len bytes (a-z, 0-9 and '-', starting with a letter, not ending with '-'); an
 * environment variable name is letters, digits and '_', not starting with a digit; two rules
 * are the same when they name the same thing. */
bool sdl_name_is_valid(const char *text, size_t len);
bool sdl_env_key_is_valid(const char *key);
bool sdl_rule_equal(const Kumo__ManifestConnection *a, const Kumo__ManifestConnection *b);

/* The volumes of a workload (volume.c): the mapping NAME -> {size, mount, persistent} into
 * w->volumes; w->compute must be set (their sizes draw from its storage). */
int sdl_volumes_parse(const sdl_ctx_t *c,
                      uint32_t node,
                      const char *path,
                      Kumo__ManifestWorkload *w);
/* The volume rules both sides share (volume.c): two mounts overlap when they are equal or one
 * is a directory above the other; the volumes of w together fit its unit's storage (*total_out
 * gets their sum, UINT64_MAX if it overflows). */
bool sdl_mount_overlaps(const char *a, const char *b);
/* Whether b is a, or a path under a; whether each of the len bytes of an absolute path's
 * components (between '/') is non-empty, of a-z A-Z 0-9 '.', '_' and '-', and not "." or "..". */
bool sdl_path_within(const char *b, const char *a);
bool sdl_path_components_are_valid(const char *path, size_t len);
/* The files of a workload (file.c): a sequence of {path, source | content, mode} into
 * w->files, after its volumes (no file at or under a volume's mount); sources are read through
 * c->loader within what the manifest has left. */
int sdl_files_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__ManifestWorkload *w);
/* The file rules both sides share: w's files at valid, distinct, non-nested paths clear of its
 * volumes, with valid modes. KUMO_EINVAL, KUMO_EDUPLICATE or KUMO_ELIMIT, detail naming the
 * workload and file. */
int sdl_files_check(const Kumo__ManifestWorkload *w, kumo_err_ctx_t *err);
bool sdl_volumes_fit(const Kumo__ManifestWorkload *w, uint64_t *total_out);

/* A group's requirements mapping {attributes, signed_by} into g->requirements (placement.c). */
int sdl_requirements_parse(const sdl_ctx_t *c, uint32_t node, const char *path, Kumo__GroupSpec *g);

/* The groups and workloads sections (stack.c, workload.c). */
int sdl_groups_parse(const sdl_ctx_t *c, uint32_t node);
int sdl_workloads_parse(const sdl_ctx_t *c, uint32_t node);

/* The stack's `secrets:` mapping (secret.c), parsed before the workloads; an env value
 * {secret: NAME} (sdl_env_secret_parse, into e->secret); after the workloads, the rules that
 * need them all (every secret used; a group using one lists providers and is exclusive). */
int sdl_secrets_parse(const sdl_ctx_t *c, uint32_t node);
int sdl_env_secret_parse(const sdl_ctx_t *c, uint32_t node, const char *path, char **out);
int sdl_secrets_finish(const sdl_ctx_t *c, uint32_t secrets_node, uint32_t workloads);
void sdl_secrets_free(kumo_sdl_stack_t *s);
/* The sealed-secret rules of kumo_sdl_manifest_check (secret.c). */
int sdl_sealed_check(const Kumo__Manifest *m,
                     Kumo__GroupSpec *const *groups,
                     size_t group_count,
                     kumo_err_ctx_t *err);
/* Whether text is a secret name: an environment variable name of at most
 * KUMO_SDL_SECRET_NAME_BYTES_MAX bytes. */
bool sdl_secret_name_is_valid(const char *text);

/* Allocation helpers through kumo_alloc; the strings and arrays are freed by
 * protobuf_c_message_free_unpacked with kumo_codec_allocator. */
char *sdl_strdup(const char *s, size_t len);
/* text for a message: printable ASCII (others as '?'), at most 64 bytes then "...". */
void sdl_quote(const char *text, char out[SDL_QUOTE_BYTES]);

#endif
