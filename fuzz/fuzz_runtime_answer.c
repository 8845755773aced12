/*
 * fuzz_runtime_answer.c - the Docker Engine API answer parsers (container list, inspect, the
 * multiplexed log and exec streams, exec inspect, an exec start's answer head, volume list
 * and volume, container stats) over arbitrary bytes: a code or a result, never a crash; parsed
 * containers never hold more ports than their arrays, nor an inspect's binds more paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    static kumo_runtime_volume_t vols[4];
    if (kumo_runtime_parse_volumes(in, vols, 4, &n, NULL) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            if (n > 4 || vols[i].name[0] == '\0') {
                abort();
            }
        }
    }
    if (kumo_runtime_parse_volume(in, &vols[0], NULL) == 0 && vols[0].name[0] == '\0') {
        abort();
    }
    static kumo_runtime_inspect_t ins;
    memset(&ins, 0, sizeof(ins));
    if (kumo_runtime_parse_inspect(in, &ins, NULL) == 0 && ins.state > KUMO_RUNTIME_STATE_EXITED) {
        abort();
    }
    for (uint32_t i = 0; i < ins.bind_count && i < KUMO_RUNTIME_FILE_COUNT_MAX; i++) {
        if (strnlen(ins.bind_paths[i], KUMO_RUNTIME_MOUNT_BYTES_MAX) >=
            KUMO_RUNTIME_MOUNT_BYTES_MAX) {
            abort(); /* every kept bind path is a C string within its array */
        }
    }
    kumo_buf_t out;
    kumo_buf_init(&out, 1u << 20);
    if (kumo_runtime_logs_demux(in, &out, NULL) == 0 && out.len > size) {
        abort(); /* demuxing only removes headers */
    }
    kumo_buf_free(&out);
    size_t pos = 0; /* the exec stream, chunk by chunk */
    while (pos < size) {
        uint8_t stream = 0;
        kumo_bytes_t payload;
        size_t used = 0;
        if (kumo_runtime_mux_parse(kumo_bytes_make(data + pos, size - pos), &stream, &payload,
                                   &used, NULL) < 0 ||
            used == 0) {
            break;
        }
        if (used > size - pos || used != payload.len + 8u || (stream != 1 && stream != 2)) {
            abort();
        }
        pos += used;
    }
    bool running = false;
    int code = 0;
    if (kumo_runtime_parse_exec(in, &running, &code, NULL) == 0 && (code < -1 || code > 255)) {
        abort();
    }
    int status = 0;
    if (kumo_runtime_parse_head(in, &status, NULL) == 0 && (status < 100 || status > 999)) {
        abort();
    }
    /* A refused stats answer leaves nothing behind. */
    kumo_runtime_stats_t st;
    if (kumo_runtime_parse_stats(in, &st, NULL) < 0 && (st.cpu_ns != 0 || st.net_rx_bytes != 0)) {
        abort();
    }
    return 0;
}
