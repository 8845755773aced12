/*
 * fuzz_provider_peer_tunnels.c - the "tunnels" of a peer provider's GET .../endpoints answer
 * over arbitrary bytes (kumo_provider_peer_tunnels_parse): refused, or only entries that keep
 * the rules - the peer's own host (here 203.0.113.7, allowed also 127.0.0.1 which the peer is
 * not), a tunnel workload name, a lease (oseq not 0), a port in range, bounded
 * certificates - never more than the room given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/overlay.h"
#include "provider/api_int.h"

#define ROOM 8u

static kumo_provider_peer_tunnel_t tunnels[ROOM];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    int rc = kumo_provider_peer_tunnels_parse(data, size, "203.0.113.7", "127.0.0.1", tunnels, ROOM,
                                              &count, NULL);
    if ((rc < 0 && count != 0) || rc > 1 || count > ROOM) {
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        const kumo_provider_peer_tunnel_t *t = &tunnels[i];
        size_t n = strnlen(t->workload, sizeof(t->workload));
        if (n == 0 || n >= sizeof(t->workload) || strcmp(t->host, "203.0.113.7") != 0 ||
            t->port == 0 || t->oseq == 0 ||
            t->certificate_count > KUMO_PROVIDER_PEER_CERT_COUNT_MAX) {
            abort();
        }
    }
    return 0;
}
