/*
 * fuzz_consensus_msg.c - the consensus wire decoder: any input is rejected with a code or
 * decodes to a message that re-encodes to the same bytes; verification never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_consensus_msg_t m;
    if (kumo_consensus_msg_decode(kumo_bytes_make(data, size), &m, NULL) != 0) {
        return 0;
    }
    uint8_t *out = malloc(size);
    if (out == NULL) {
        return 0;
    }
    size_t len = 0;
    if (kumo_consensus_msg_encode(&m, out, size, &len) != 0 || len != size ||
        memcmp(out, data, size) != 0) {
        abort(); /* accepted input must re-encode to the same bytes */
    }
    free(out);
    kumo_consensus_valset_t vs;
    const uint64_t power = 1;
    if (kumo_consensus_valset_init(&vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])m.pubkey,
                                   &power, 1, NULL) == 0) {
        int rc = kumo_consensus_msg_verify(&m, &vs, "kumo-fuzz", NULL);
        if (rc != 0 && rc != KUMO_ESIG) {
            abort(); /* the signer is the only validator: only the signature can fail */
        }
    }
    return 0;
}
