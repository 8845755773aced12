/*
 * api_int.h - private to the provider API: its path parser, exposed for the fuzz target.
 */
#ifndef KUMO_PROVIDER_API_INT_H
#define KUMO_PROVIDER_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* "/deployments/<owner>/<dseq>/<leaf>[?query]" into owner, dseq and leaf (bounded). */
bool kumo_provider_api_path_parse(const char *path,
                                  uint8_t owner[KUMO_ADDRESS_BYTES],
                                  uint64_t *dseq,
                                  char *leaf,
                                  size_t leaf_cap);

#endif
