/*
 * fuzz_runtime_answer.c - the Docker Engine API answer parsers (container list, inspect, the
 * multiplexed log stream) over arbitrary bytes: a code or a result, never a crash; parsed
 * containers never hold more ports than their arrays.
 */
#include <stdint.h>
#include <stdlib.h>

#include "runtime/runtime_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_bytes_t in = kumo_bytes_make(data, size);
    static kumo_runtime_container_t list[8];
    uint32_t n = 0;
    if (kumo_runtime_parse_list(in, list, 8, &n, NULL) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            if (n > 8 || list[i].port_count > KUMO_RUNTIME_PORT_COUNT_MAX) {
                abort();
            }
        }
    }
    kumo_runtime_inspect_t ins;
    if (kumo_runtime_parse_inspect(in, &ins, NULL) == 0 && ins.state > KUMO_RUNTIME_STATE_EXITED) {
        abort();
    }
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    if (kumo_runtime_logs_demux(in, &out, NULL) == 0 && out.len > size) {
        abort(); /* demuxing only removes headers */
    }
    kumo_buf_free(&out);
    return 0;
}
