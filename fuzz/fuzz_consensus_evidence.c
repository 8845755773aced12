/*
 * fuzz_consensus_evidence.c - evidence and signer-state decoders: any input is refused with
 * a code or, for evidence, verifies as two conflicting votes of a validator that re-encode to
 * the same bytes (decoded without verification: the same, less the signature check); a decoded
 * signer state re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_consensus_signer_state_t st;
    if (kumo_consensus_signer_decode(kumo_bytes_make(data, size), &st, NULL) == 0) {
        uint8_t enc[KUMO_CONSENSUS_SIGNER_STATE_BYTES];
        if (kumo_consensus_signer_encode(&st, enc) != 0 || size != sizeof(enc) ||
            memcmp(enc, data, size) != 0) {
            abort();
        }
    }
    bool same = false;
    if (kumo_consensus_signer_check(&st, kumo_bytes_make(data, size), &same, NULL) == 0 && same &&
        !st.has_signed) {
        abort(); /* "the same as last" needs a last */
    }
    /* Decoding alone accepts what verification would, less the signatures: the same votes. */
    kumo_consensus_evidence_t plain;
    if (kumo_consensus_evidence_decode(kumo_bytes_make(data, size), &plain, NULL) == 0) {
        uint8_t enc[KUMO_CONSENSUS_EVIDENCE_BYTES];
        if (kumo_consensus_evidence_encode(&plain, enc) != 0 || size != sizeof(enc) ||
            memcmp(enc, data, size) != 0 || plain.vote_a.height != plain.vote_b.height) {
            abort();
        }
    }
    if (size != KUMO_CONSENSUS_EVIDENCE_BYTES) {
        return 0;
    }
    /* The first vote's signer is made the only validator, so only content can fail. */
    kumo_consensus_msg_t m;
    if (kumo_consensus_msg_decode(kumo_bytes_make(data + 1, KUMO_CONSENSUS_VOTE_BYTES), &m, NULL) !=
        0) {
        return 0;
    }
    kumo_consensus_valset_t vs;
    const uint64_t power = 1;
    if (kumo_consensus_valset_init(&vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])m.pubkey,
                                   &power, 1, NULL) != 0) {
        return 0;
    }
    kumo_consensus_evidence_t ev;
    if (kumo_consensus_evidence_decode_verify(kumo_bytes_make(data, size), &vs, "kumo-fuzz", &ev,
                                              NULL) == 0) {
        uint8_t enc[KUMO_CONSENSUS_EVIDENCE_BYTES];
        if (kumo_consensus_evidence_encode(&ev, enc) != 0 || memcmp(enc, data, size) != 0) {
            abort();
        }
    }
    return 0;
}
