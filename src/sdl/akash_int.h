/*
 * akash_int.h - private to the Akash SDL import (akash.c, akash_service.c, akash_emit.c): what
 * the walk of an Akash SDL v2 file collects before it writes the kumo stack. Pure.
 */
#ifndef KUMO_SDL_AKASH_INT_H
#define KUMO_SDL_AKASH_INT_H

#include "codec/codec.h"
#include "sdl/sdl_int.h"

/* Compared with memcmp: zero-initialised, text in fixed arrays. */
typedef struct akash_unit {
    uint64_t milli;
    uint64_t memory;
    uint64_t storage;
    uint32_t gpu_count; /* 0: no GPU */
    char gpu_vendor[KUMO_GPU_VENDOR_BYTES_MAX + 1];
    char gpu_model[KUMO_GPU_MODEL_BYTES_MAX + 1];
    uint64_t gpu_memory;
} akash_unit_t;

/* ", gpu: {...}" for a unit with GPUs, "" without (buffer of AKASH_GPU_TEXT_BYTES). */
#define AKASH_GPU_TEXT_BYTES 256u
void akash_gpu_format(const akash_unit_t *u, char out[AKASH_GPU_TEXT_BYTES]);

/* A named storage entry of a compute profile: a kumo volume when the service mounts it. */
typedef struct akash_volume {
    const char *name;
    uint64_t bytes;
    bool ram;
    uint32_t node;
} akash_volume_t;

typedef struct akash_resource {
    akash_unit_t unit;
    uint64_t count;
    uint64_t price;
} akash_resource_t;

typedef struct akash_group {
    const char *name;
    const char *region;
    akash_resource_t res[KUMO_RESOURCE_COUNT_MAX];
    size_t res_count;
    /* placement attributes other than region: the group's required attributes */
    const char *attr_keys[KUMO_ATTRIBUTE_COUNT_MAX];
    const char *attr_values[KUMO_ATTRIBUTE_COUNT_MAX];
    size_t attr_count;
    /* signedBy as kumo addresses (kumo1..., the same 20 bytes as the file's akash1...) */
    char all_of[KUMO_SIGNED_BY_COUNT_MAX][KUMO_ADDRESS_TEXT_BYTES];
    size_t all_of_count;
    char any_of[KUMO_SIGNED_BY_COUNT_MAX][KUMO_ADDRESS_TEXT_BYTES];
    size_t any_of_count;
} akash_group_t;

typedef struct akash_ctx {
    sdl_ctx_t c;
    const kumo_sdl_akash_opts_t *opts;
    kumo_buf_t *notes;
    kumo_buf_t wl; /* the workloads section, written as the deployment is walked */
    int out_rc;    /* first append failure of the stack text */
    uint32_t services;
    uint32_t compute;
    uint32_t placements;
    akash_group_t groups[KUMO_GROUP_COUNT_MAX];
    size_t group_count;
    const char *profile; /* the compute profile of the workload being walked */
    akash_unit_t unit;   /* its unit */
    akash_volume_t volumes[KUMO_SDL_VOLUME_COUNT_MAX];
    size_t volume_count;
} akash_ctx_t;

/* A warning line "<file>:<line>: <path>: <text>" appended to the notes. */
void akash_note(akash_ctx_t *a, uint32_t node, const char *path, const char *fmt, ...)
    KUMO_PRINTF(4, 5);
/* Appends text (printf) to buf; failures are kept in a->out_rc. */
void akash_put(akash_ctx_t *a, kumo_buf_t *buf, const char *fmt, ...) KUMO_PRINTF(3, 4);
/* Appends text as a YAML double-quoted string. */
void akash_put_quoted(akash_ctx_t *a, kumo_buf_t *buf, const char *text);
/* A size in bytes written with the largest binary suffix that divides it ("512Mi"). */
void akash_size_format(uint64_t bytes, char out[32]);

/* The service's workload (akash_service.c): image, command, env, ports and volumes of service
 * name (value node svc), written to a->wl with the unit and volumes of a. */
int akash_service_emit(
    akash_ctx_t *a, const char *name, uint32_t svc, const char *group, uint32_t count);

#endif
