/*
 * fuzz_wal_scan.c - the WAL record scanner over arbitrary file images: the valid prefix is
 * never longer than the image, and rescanning that prefix gives the same records.
 */
#include <stdint.h>
#include <stdlib.h>

#include "wal/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t valid = 0;
    uint64_t records = 0;
    kumo_wal_scan(kumo_bytes_make(data, size), &valid, &records);
    if (valid > size) {
        abort();
    }
    size_t again = 0;
    uint64_t records2 = 0;
    kumo_wal_scan(kumo_bytes_make(data, valid), &again, &records2);
    if (again != valid || records2 != records) {
        abort();
    }
    return 0;
}
