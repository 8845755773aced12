/*
 * chain.c - whether the tunnels may stand, from how long ago the daemon last read the chain
 * (overlay.h kumo_overlay_chain_judge; docs/design.md "Fail closed when the chain is lost").
 * The daemon counts the passes; this decides. Pure: no I/O, no clock, no allocation.
 */
#include "overlay/overlay.h"

_Static_assert(KUMO_OVERLAY_CHAIN_GRACE_PASSES >= 2u,
               "one missed pass (a node restarting) must not close every tunnel");
_Static_assert(KUMO_OVERLAY_CHAIN_PASS_MS_MIN <= KUMO_OVERLAY_CHAIN_PASS_MS_MAX,
               "the clamp is a range");

uint64_t kumo_overlay_chain_passes_since(uint64_t since_read_ms, uint64_t pass_ms)
{
    uint64_t per = pass_ms;
    if (per < KUMO_OVERLAY_CHAIN_PASS_MS_MIN) {
        per = KUMO_OVERLAY_CHAIN_PASS_MS_MIN;
    }
    if (per > KUMO_OVERLAY_CHAIN_PASS_MS_MAX) {
        per = KUMO_OVERLAY_CHAIN_PASS_MS_MAX;
    }
    KUMO_ASSERT(per > 0u);
    uint64_t passes = since_read_ms / per;
    KUMO_ASSERT(passes <= since_read_ms);
    return passes;
}

kumo_overlay_chain_t kumo_overlay_chain_judge(uint64_t passes_since_read)
{
    if (passes_since_read == 0u) {
        return KUMO_OVERLAY_CHAIN_FRESH;
    }
    if (passes_since_read < KUMO_OVERLAY_CHAIN_GRACE_PASSES) {
        return KUMO_OVERLAY_CHAIN_GRACE;
    }
    KUMO_ASSERT(passes_since_read >= KUMO_OVERLAY_CHAIN_GRACE_PASSES);
    return KUMO_OVERLAY_CHAIN_LOST;
}
