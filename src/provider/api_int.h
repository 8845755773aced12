/*
 * api_int.h - private to the provider API: its path parser, exposed for the fuzz target.
 */
#ifndef KUMO_PROVIDER_API_INT_H
#define KUMO_PROVIDER_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "provider/provider_api.h"

/* "/deployments/<owner>/<dseq>/<leaf>[?query]" into owner, dseq and leaf (bounded). */
bool kumo_provider_api_path_parse(const char *path,
                                  uint8_t owner[KUMO_ADDRESS_BYTES],
                                  uint64_t *dseq,
                                  char *leaf,
                                  size_t leaf_cap);

/* The body of PUT .../links: {"links": [{"workload", "port", "host", "host_port"}...]}, no
 * other keys. KUMO_EDECODE for anything malformed, KUMO_ELIMIT past
 * KUMO_PROVIDER_LINK_COUNT_MAX links. out holds KUMO_PROVIDER_LINK_COUNT_MAX. */
KUMO_MUST_USE int kumo_provider_api_links_parse(const uint8_t *body,
                                                size_t len,
                                                kumo_provider_link_t *out,
                                                size_t *count_out,
                                                kumo_err_ctx_t *err);

#endif
