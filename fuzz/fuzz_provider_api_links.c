/*
 * fuzz_provider_api_links.c - the provider API's links body parser over arbitrary bytes:
 * refused, or at most KUMO_PROVIDER_LINK_COUNT_MAX links with names, hosts and ports in
 * range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/api_int.h"

static kumo_provider_link_t links[KUMO_PROVIDER_LINK_COUNT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count = 0;
    int rc = kumo_provider_api_links_parse(data, size, links, &count, NULL);
    if ((rc != 0 && count != 0) || count > KUMO_PROVIDER_LINK_COUNT_MAX) {
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        if (links[i].port == 0 || links[i].port > 65535u || links[i].host_port == 0 ||
            links[i].host_port > 65535u || links[i].workload[0] == '\0' ||
            links[i].host[0] == '\0' || strlen(links[i].workload) > KUMO_NAME_BYTES_MAX ||
            strlen(links[i].host) > KUMO_PROVIDER_HOST_BYTES_MAX) {
            abort();
        }
    }
    return 0;
}
