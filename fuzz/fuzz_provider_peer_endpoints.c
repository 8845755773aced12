/*
 * fuzz_provider_peer_endpoints.c - a peer provider's GET .../endpoints answer over arbitrary
 * bytes (kumo_provider_peer_endpoints_parse): refused, or only links that keep the rules —
 * a wanted (workload, port), the peer's own host (here 203.0.113.7, allowed also 127.0.0.1
 * which the peer is not), ports in range, never more than the room given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/overlay.h"
#include "provider/api_int.h"

#define ROOM 8u

static kumo_provider_link_t links[ROOM];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const kumo_provider_link_t wanted[2] = {{.workload = "db", .port = 7000},
                                                   {.workload = "cache", .port = 6379}};
    size_t count = 0;
    int rc = kumo_provider_peer_endpoints_parse(data, size, "203.0.113.7", "127.0.0.1", wanted, 2,
                                                links, ROOM, &count, NULL);
    if ((rc < 0 && count != 0) || rc > 1 || count > ROOM) {
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        bool w = (strcmp(links[i].workload, "db") == 0 && links[i].port == 7000u) ||
                 (strcmp(links[i].workload, "cache") == 0 && links[i].port == 6379u);
        if (!w || strcmp(links[i].host, "203.0.113.7") != 0 || links[i].host_port == 0 ||
            links[i].host_port > 65535u) {
            abort();
        }
    }
    return 0;
}
