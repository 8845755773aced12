/*
 * fuzz_client_decode.c - the node client's strict decoders (src/client/decode.c) over
 * arbitrary answers: the first byte picks the HTTP status, the rest is the body; an accepted
 * body then goes through the status, tx answer, uint64 and state-object decoders. A code or a
 * value, never a crash or leak; accepted values keep their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "codec/codec.h"

static const long statuses[] = {200, 201, 204, 302, 400, 404, 413, 422, 500, 503};

static void objects(const json_t *j)
{
    static const ProtobufCMessageDescriptor *const descs[] = {
        &kumo__account__descriptor, &kumo__deployment__descriptor,  &kumo__lease__descriptor,
        &kumo__order__descriptor,   &kumo__fulfillment__descriptor, &kumo__provider__descriptor,
        &kumo__grant__descriptor,   &kumo__params__descriptor,
    };
    for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
        ProtobufCMessage *m = NULL;
        if (kumo_client_object_decode(descs[i], j, &m, NULL) == 0) {
            if (m == NULL) {
                abort();
            }
            kumo_codec_free(m);
        } else if (m != NULL) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    json_t *j = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_client_answer_decode("http://fuzz", status, (kumo_bytes_t){data + 1, size - 1},
                                       &j, &err);
    if (rc < 0) {
        if (j != NULL || err.code != rc) {
            abort();
        }
        return 0;
    }
    kumo_client_status_t st;
    if (kumo_client_status_decode(j, &st, NULL) == 0 &&
        (st.chain_id[0] == '\0' || strlen(st.chain_id) > KUMO_CHAIN_ID_BYTES_MAX)) {
        abort();
    }
    kumo_client_tx_answer_t ans;
    if (kumo_client_tx_answer_decode(j, &ans, NULL) == 0 &&
        (strlen(ans.hash_hex) != 64 || ans.code > 0 || (!ans.committed && ans.height != 0))) {
        abort();
    }
    uint64_t v = 0;
    if (kumo_client_json_u64(j, "height", &v, NULL) < 0) {
        v = 0;
    }
    const char *text = NULL;
    if (kumo_client_json_text(j, "chain_id", 16, &text, NULL) == 0 && strlen(text) > 16) {
        abort();
    }
    objects(j);
    json_decref(j);
    return 0;
}
