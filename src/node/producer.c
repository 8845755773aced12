/*
 * producer.c - the single-validator block producer: a libevent timer that produces a block
 * every interval. Consensus replaces it through kumo_node_producer_t (node.h). A block that
 * fails to commit is a store failure an operator must look at: the producer logs it, stops
 * and breaks the loop so the daemon exits instead of running without making blocks.
 */
#include <inttypes.h>

#include <event2/event.h>

#include "node/node_int.h"

typedef struct producer_timer {
    uint32_t interval_ms;
    kumo_node_t *node;
    struct event *ev;
} producer_timer_t;

static void producer_timer_fire(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    producer_timer_t *pt = arg;
    KUMO_ASSERT(pt != NULL && pt->node != NULL);
    kumo_err_ctx_t err = {0};
    int rc = kumo_node_block_produce(pt->node, &err);
    if (rc < 0) {
        KUMO_LOG_ERROR("node", "block_failed", "height=%" PRIu64 " code=%s detail=\"%s\"",
                       pt->node->height + 1u, kumo_err_name(rc), err.detail);
        (void)event_del(pt->ev);
        (void)event_base_loopbreak(pt->node->base);
    }
}

static int producer_timer_start(void *ctx, kumo_node_t *node, kumo_err_ctx_t *err)
{
    producer_timer_t *pt = ctx;
    KUMO_ASSERT(pt != NULL && node != NULL && pt->ev == NULL);
    pt->node = node;
    pt->ev = event_new(node->base, -1, EV_PERSIST, producer_timer_fire, pt);
    KUMO_ENSURE(pt->ev != NULL, err, KUMO_ENOMEM, "block timer");
    struct timeval tv = {
        .tv_sec = (time_t)(pt->interval_ms / 1000u),
        .tv_usec = (suseconds_t)((pt->interval_ms % 1000u) * 1000u),
    };
    if (event_add(pt->ev, &tv) != 0) {
        event_free(pt->ev);
        pt->ev = NULL;
        return kumo_err_set(err, KUMO_EIO, "event_add (block timer)");
    }
    return 0;
}

static void producer_timer_stop(void *ctx)
{
    producer_timer_t *pt = ctx;
    if (pt == NULL) {
        return;
    }
    if (pt->ev != NULL) {
        event_free(pt->ev); /* also removes it from the loop */
    }
    kumo_free(pt);
}

int kumo_node_producer_timer_make(uint32_t interval_ms,
                                  kumo_node_producer_t *out,
                                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    KUMO_ASSERT(interval_ms > 0);
    producer_timer_t *pt = kumo_calloc(1, sizeof(*pt));
    KUMO_ENSURE(pt != NULL, err, KUMO_ENOMEM, "producer");
    pt->interval_ms = interval_ms;
    out->ctx = pt;
    out->start = producer_timer_start;
    out->stop = producer_timer_stop;
    return 0;
}
