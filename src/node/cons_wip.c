/*
 * cons_wip.c - placeholder until the p2p module lands: the consensus producer (cons.c) is
 * being integrated; a multi-validator genesis is refused for now.
 */
#include "node/node_int.h"

int kumo_node_producer_consensus_make(kumo_node_producer_t *out, kumo_err_ctx_t *err)
{
    (void)out;
    return kumo_err_set(err, KUMO_EINVAL, "multi-validator consensus is not in this build yet");
}
