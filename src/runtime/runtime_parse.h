/*
 * runtime_parse.h - private to runtime: the bounded parsers of Docker Engine API answers,
 * separate from the transport so that fuzz/fuzz_runtime_answer.c drives them directly.
 */
#ifndef KUMO_RUNTIME_RUNTIME_PARSE_H
#define KUMO_RUNTIME_RUNTIME_PARSE_H

#include "runtime/runtime.h"

/* GET /containers/json: an array of containers into out (up to cap; more is KUMO_ELIMIT). */
KUMO_MUST_USE int kumo_runtime_parse_list(kumo_bytes_t json,
                                          kumo_runtime_container_t *out,
                                          uint32_t cap,
                                          uint32_t *count_out,
                                          kumo_err_ctx_t *err);
/* GET /containers/{id}/json. */
KUMO_MUST_USE int
kumo_runtime_parse_inspect(kumo_bytes_t json, kumo_runtime_inspect_t *out, kumo_err_ctx_t *err);
/* "running", "exited", ... as a state. */
kumo_runtime_state_t kumo_runtime_state_parse(const char *text);
/* GET /volumes: {"Volumes": [...]} into out (up to cap; more is KUMO_ELIMIT). */
KUMO_MUST_USE int kumo_runtime_parse_volumes(kumo_bytes_t json,
                                             kumo_runtime_volume_t *out,
                                             uint32_t cap,
                                             uint32_t *count_out,
                                             kumo_err_ctx_t *err);
/* GET /volumes/{name}: one volume object. */
KUMO_MUST_USE int
kumo_runtime_parse_volume(kumo_bytes_t json, kumo_runtime_volume_t *out, kumo_err_ctx_t *err);

/* The multiplexed log stream (8-byte headers: stream, 0, 0, 0, u32 length) into plain text;
 * input that is not multiplexed (a TTY container) is copied as is. */
KUMO_MUST_USE int kumo_runtime_logs_demux(kumo_bytes_t in, kumo_buf_t *out, kumo_err_ctx_t *err);
/* GET /exec/{id}/json: Running and ExitCode. */
KUMO_MUST_USE int kumo_runtime_parse_exec(kumo_bytes_t json,
                                          bool *running_out,
                                          int *exit_code_out,
                                          kumo_err_ctx_t *err);
/* The head of the answer to POST /exec/{id}/start: the status line's code (the head is
 * everything up to and including the blank line). KUMO_EDECODE when it is not an HTTP/1.x
 * answer head. */
KUMO_MUST_USE int kumo_runtime_parse_head(kumo_bytes_t head, int *status_out, kumo_err_ctx_t *err);

/* GET /containers/{id}/stats?stream=false: the counters of kumo_runtime_stats_t. Absent
 * counters read 0; a counter that is present must be a non-negative integer (else
 * KUMO_EDECODE); more than KUMO_RUNTIME_STATS_NETWORK_COUNT_MAX networks or
 * KUMO_RUNTIME_STATS_BLKIO_COUNT_MAX block-device entries is KUMO_ELIMIT, and sums that
 * overflow are KUMO_EOVERFLOW. */
KUMO_MUST_USE int
kumo_runtime_parse_stats(kumo_bytes_t json, kumo_runtime_stats_t *out, kumo_err_ctx_t *err);

#endif
