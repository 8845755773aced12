/*
 * fuzz_tls_root.c - libFuzzer target for the root-certificate check of `kumo provider
 * register` (kumo_tls_root_check) and the certificate public-key reader: any bytes either
 * fail cleanly or pass every rule; a root that passes has an Ed25519 key.
 */
#include <stdint.h>

#include "tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kumo_bytes_t pem = kumo_bytes_make(data, size);
    int rc = kumo_tls_root_check(pem, NULL);
    KUMO_ASSERT(rc == 0 || rc == KUMO_EDECODE || rc == KUMO_EINVAL || rc == KUMO_ENOMEM);
    uint8_t pk[KUMO_CRYPTO_PUBKEY_BYTES];
    int pk_rc = kumo_tls_cert_pubkey(pem, pk, NULL);
    KUMO_ASSERT(rc != 0 || pk_rc == 0);
    return 0;
}
