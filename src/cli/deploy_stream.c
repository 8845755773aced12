/*
 * deploy_stream.c - the node's event stream (docs/api.md, GET /events) for `kumo deploy`,
 * over the node client's stream (src/client/stream.c: the SSE parser, the bounded queue, the
 * resume after a reconnect): events come out as the node's Event JSON, block markers as
 * {"type": "block", "height"}, so the flows read one shape.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/deploy_int.h"

uint64_t deploy_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct deploy_stream {
    kumo_client_t *node;
    kumo_client_stream_t *s;
};

int deploy_stream_open(const cli_args_t *a,
                       const char *owner,
                       uint64_t from_height,
                       deploy_stream_t **out,
                       kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    char filters[256] = "";
    if (owner != NULL) {
        KUMO_GUARD(kumo_client_path_param_add(filters, sizeof(filters), "owner", owner, err));
    }
    deploy_stream_t *d = calloc(1, sizeof(*d));
    KUMO_ENSURE(d != NULL, err, KUMO_ENOMEM, "event stream");
    int rc = cli_node_open(a, &d->node, err);
    /* kumo_client_path_param_add starts with '?': the stream takes the filters without it. */
    rc = rc == 0 ? kumo_client_stream_open(d->node, filters[0] == '?' ? filters + 1 : filters,
                                           from_height > 0 ? from_height : 1u, &d->s, err)
                 : rc;
    if (rc < 0) {
        deploy_stream_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

int deploy_stream_next(deploy_stream_t *d, uint64_t wait_ms, json_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d != NULL);
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    kumo_client_event_t ev;
    KUMO_GUARD(kumo_client_stream_next(d->s, wait_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)wait_ms,
                                       &ev, err));
    if (ev.data == NULL) {
        return 0;
    }
    if (strcmp(ev.type, "block") == 0 &&
        json_object_set_new(ev.data, "type", json_string("block")) != 0) {
        kumo_client_event_clear(&ev);
        return kumo_err_set(err, KUMO_ENOMEM, "event");
    }
    *out = ev.data;
    ev.data = NULL;
    return 0;
}

void deploy_stream_close(deploy_stream_t *d)
{
    if (d == NULL) {
        return;
    }
    kumo_client_stream_close(d->s);
    kumo_client_close(d->node);
    free(d);
}
