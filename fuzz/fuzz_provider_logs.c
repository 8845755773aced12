/*
 * fuzz_provider_logs.c - the log and event line parsers: the runtime's time-stamped line
 * (RFC 3339 and text), the provider's stamped line (workload/instance, unix ns, text) and its
 * event line (unix ns, kind, workload/instance, detail), line by line over
 * arbitrary bytes: a code or a line, never a crash; text always inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider/provider_api.h"
#include "runtime/runtime.h"

static void inside(kumo_bytes_t text, const uint8_t *data, size_t size)
{
    if (text.len > 0 && (text.ptr < data || text.ptr + text.len > data + size)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl != NULL ? (size_t)(nl - data) + 1u : size;
        kumo_bytes_t line = kumo_bytes_make(data + pos, end - pos);
        uint64_t ns = 0;
        kumo_bytes_t text;
        if (kumo_runtime_log_line_parse(line, &ns, &text, NULL) == 0) {
            inside(text, data, size);
        }
        kumo_provider_log_line_t l;
        if (kumo_provider_log_line_parse(line, &l, NULL) == 0) {
            inside(l.text, data, size);
            if (l.workload[0] == '\0' || strlen(l.workload) > KUMO_NAME_BYTES_MAX) {
                abort();
            }
        }
        kumo_provider_event_line_t ev;
        if (kumo_provider_event_line_parse(line, &ev, NULL) == 0) {
            inside(ev.detail, data, size);
            if (ev.kind[0] == '\0' || ev.workload[0] == '\0') {
                abort();
            }
        }
        pos = end;
    }
    return 0;
}
