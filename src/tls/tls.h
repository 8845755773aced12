/*
 * tls.h - X.509 and TLS 1.3 on OpenSSL 3 for kumo's three uses of certificates:
 *   1. node identity (p2p): a self-signed Ed25519 certificate made from the node key; peers
 *      are pinned by node id = the first 20 bytes of SHA-256(Ed25519 public key), hex;
 *   2. a provider's root CA (its certificate is on chain, MsgCreateProvider.root_cert_pem) and
 *      the server certificates it issues for its HTTPS API;
 *   3. a tenant's client certificate made from its account key (no on-chain tenant cert): the
 *      provider reads the Ed25519 public key from it and derives the account address.
 * Every key is Ed25519. Only TLS 1.3 is offered. PEM text in and out; private keys in PEM are
 * PKCS#8 and are written 0600 by the callers. Not pure (OpenSSL, time for validity periods).
 */
#ifndef KUMO_TLS_TLS_H
#define KUMO_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "crypto/crypto.h"

/* A certificate or key in PEM: bounds every PEM input we parse. */
#define KUMO_TLS_PEM_BYTES_MAX 8192u
/* Node ids: 20 bytes, shown as 40 lowercase hex characters. */
#define KUMO_TLS_NODE_ID_BYTES 20u
#define KUMO_TLS_NODE_ID_HEX   (2u * KUMO_TLS_NODE_ID_BYTES)
/* Names in certificates (CN, one DNS or IP subjectAltName). */
#define KUMO_TLS_NAME_BYTES_MAX 253u

/* The node id of an Ed25519 public key: SHA-256(pubkey)[0..20). */
void kumo_tls_node_id(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                      uint8_t id_out[KUMO_TLS_NODE_ID_BYTES]);
/* The same as 40 hex characters plus NUL. */
void kumo_tls_node_id_hex(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                          char out[KUMO_TLS_NODE_ID_HEX + 1]);

/* The private key of kp as PKCS#8 PEM (appended to pem_out). */
KUMO_MUST_USE int
kumo_tls_key_pem(const kumo_crypto_keypair_t *kp, kumo_buf_t *pem_out, kumo_err_ctx_t *err);
/* Reads an Ed25519 PKCS#8 PEM private key into kp. KUMO_EDECODE for anything else. */
KUMO_MUST_USE int
kumo_tls_key_from_pem(kumo_bytes_t pem, kumo_crypto_keypair_t *kp, kumo_err_ctx_t *err);

/* A self-signed end-entity certificate for kp (node identity, tenant client cert): subject
 * CN = cn, serial random, valid from now - 1 h for days days, no CA flag. PEM appended. */
KUMO_MUST_USE int kumo_tls_cert_self_signed(const kumo_crypto_keypair_t *kp,
                                            const char *cn,
                                            uint32_t days,
                                            kumo_buf_t *pem_out,
                                            kumo_err_ctx_t *err);
/* A root CA certificate for ca (basicConstraints CA:TRUE critical, keyUsage keyCertSign and
 * cRLSign, subject CN = cn). PEM appended. */
KUMO_MUST_USE int kumo_tls_ca_create(const kumo_crypto_keypair_t *ca,
                                     const char *cn,
                                     uint32_t days,
                                     kumo_buf_t *pem_out,
                                     kumo_err_ctx_t *err);
/* A server certificate for the public key leaf_pubkey, issued by the CA (ca key + ca cert
 * PEM): CN = name, subjectAltName = name as IP address if it parses as one, else as DNS name;
 * extendedKeyUsage serverAuth and clientAuth. PEM appended. */
KUMO_MUST_USE int kumo_tls_cert_issue(const kumo_crypto_keypair_t *ca,
                                      kumo_bytes_t ca_cert_pem,
                                      const uint8_t leaf_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                      const char *name,
                                      uint32_t days,
                                      kumo_buf_t *pem_out,
                                      kumo_err_ctx_t *err);
/* URIs in certificates (subjectAltName): how many we put in or read, and their length with
 * the NUL. Only [a-z0-9:/._-] is accepted, so a URI never needs quoting. */
#define KUMO_TLS_URI_COUNT_MAX 4u
#define KUMO_TLS_URI_BYTES_MAX 256u
/* The longest validity (and start offset) of a certificate issued with URIs: 30 days. */
#define KUMO_TLS_URI_LIFETIME_S_MAX (30 * 86400)

/* What kumo_tls_cert_issue_uris writes: CN, subjectAltName URIs, and the validity from now +
 * start_offset_s (negative: in the past) for lifetime_s seconds. */
typedef struct kumo_tls_uri_cert {
    const char *cn;
    const char *const *uris;
    size_t uri_count;
    int64_t start_offset_s;
    uint32_t lifetime_s;
} kumo_tls_uri_cert_t;

/* A leaf certificate for leaf_pubkey issued by the CA (ca key + ca cert PEM), naming
 * spec->uris as subjectAltName URIs; no CA flag, extendedKeyUsage serverAuth and clientAuth.
 * KUMO_ELIMIT for 0 or more than KUMO_TLS_URI_COUNT_MAX URIs, KUMO_EINVAL for a URI outside
 * the alphabet or a validity out of range (see above). PEM appended. */
KUMO_MUST_USE int kumo_tls_cert_issue_uris(const kumo_crypto_keypair_t *ca,
                                           kumo_bytes_t ca_cert_pem,
                                           const uint8_t leaf_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                           const kumo_tls_uri_cert_t *spec,
                                           kumo_buf_t *pem_out,
                                           kumo_err_ctx_t *err);
/* The Ed25519 public key of a certificate. KUMO_EDECODE for bad PEM or a non-Ed25519 key. */
KUMO_MUST_USE int kumo_tls_cert_pubkey(kumo_bytes_t cert_pem,
                                       uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES],
                                       kumo_err_ctx_t *err);
/* Verifies that cert_pem is signed by the root in root_pem, is valid now and, for a root,
 * that root_pem is a CA. KUMO_EUNAUTH when the chain does not verify, KUMO_EDECODE for bad
 * PEM. */
KUMO_MUST_USE int
kumo_tls_cert_verify(kumo_bytes_t cert_pem, kumo_bytes_t root_pem, kumo_err_ctx_t *err);

/* Checks that root_pem is one usable root CA certificate: exactly one PEM certificate
 * (nothing else in the text), an Ed25519 key, self-signed with a valid signature,
 * basicConstraints CA:TRUE, keyUsage keyCertSign when present, and valid now. KUMO_EDECODE for
 * anything that is not such a PEM certificate, KUMO_EINVAL naming the failed rule. */
KUMO_MUST_USE int kumo_tls_root_check(kumo_bytes_t root_pem, kumo_err_ctx_t *err);

/* ---- TLS contexts (SSL_CTX as void * so callers need not include OpenSSL) ---- */

/* How a context checks the other side's certificate. */
typedef enum kumo_tls_peer_check {
    /* No certificate requested or checked (a client of a public endpoint). */
    KUMO_TLS_PEER_NONE = 0,
    /* Any single self-signed Ed25519 certificate is accepted by OpenSSL; the caller MUST then
     * check the peer's public key (kumo_tls_peer_pubkey): pinning by node id, or deriving a
     * tenant's address. Servers require a client certificate in this mode. */
    KUMO_TLS_PEER_PUBKEY = 1,
    /* The peer's chain must verify against root_pem (a provider's on-chain root). */
    KUMO_TLS_PEER_ROOT = 2,
} kumo_tls_peer_check_t;

typedef struct kumo_tls_ctx_cfg {
    bool server;                      /* server (accepts) or client (connects) side */
    kumo_bytes_t cert_pem;            /* our certificate (chain), may be empty for a client */
    const kumo_crypto_keypair_t *key; /* our key; NULL when cert_pem is empty */
    kumo_tls_peer_check_t peer_check;
    kumo_bytes_t root_pem; /* for KUMO_TLS_PEER_ROOT */
    /* Servers in PUBKEY or ROOT mode: accept clients without a certificate too (the app
     * then finds none with kumo_tls_peer_pubkey and limits what they may do). */
    bool client_cert_optional;
    /* Servers: no certificate in the context; each connection gets its own with
     * kumo_tls_ssl_cred_use (from a certificate callback) before the handshake needs it. */
    bool cert_per_connection;
} kumo_tls_ctx_cfg_t;

/* A TLS 1.3-only SSL_CTX (returned as void *, free with kumo_tls_ctx_free). */
KUMO_MUST_USE int
kumo_tls_ctx_new(const kumo_tls_ctx_cfg_t *cfg, void **ctx_out, kumo_err_ctx_t *err);
void kumo_tls_ctx_free(void *ssl_ctx);
/* The Ed25519 public key of the peer certificate of an established SSL * (as void *).
 * KUMO_EUNAUTH when the peer sent none or not an Ed25519 key. */
KUMO_MUST_USE int
kumo_tls_peer_pubkey(void *ssl, uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES], kumo_err_ctx_t *err);
/* A certificate with its key, parsed once and set on many connections (parsing PEM costs
 * more than a handshake's own cryptography). KUMO_EDECODE for bad PEM, KUMO_EINVAL when the
 * key is not the certificate's, KUMO_ENOMEM. */
typedef struct kumo_tls_cred kumo_tls_cred_t;
KUMO_MUST_USE int kumo_tls_cred_new(kumo_bytes_t cert_pem,
                                    const kumo_crypto_keypair_t *key,
                                    kumo_tls_cred_t **out,
                                    kumo_err_ctx_t *err);
void kumo_tls_cred_free(kumo_tls_cred_t *cred);
/* Sets cred on one connection (SSL * as void *), e.g. from a server's certificate callback
 * choosing by the name the client asked for. */
KUMO_MUST_USE int
kumo_tls_ssl_cred_use(void *ssl, const kumo_tls_cred_t *cred, kumo_err_ctx_t *err);

/* The root pinned for a peer, parsed once. KUMO_EDECODE for bad PEM, KUMO_ENOMEM. */
typedef struct kumo_tls_root kumo_tls_root_t;
KUMO_MUST_USE int
kumo_tls_root_new(kumo_bytes_t root_pem, kumo_tls_root_t **out, kumo_err_ctx_t *err);
void kumo_tls_root_free(kumo_tls_root_t *root);
/* After the handshake: verifies the peer's certificate against root ALONE (the root we pinned
 * for the peer we expect): the leaf must be signed by that root directly (no chain the peer
 * sent is used), be valid now, and the root be a CA. KUMO_EUNAUTH when it does not verify or
 * there is no peer certificate. */
KUMO_MUST_USE int kumo_tls_peer_verify(void *ssl, const kumo_tls_root_t *root, kumo_err_ctx_t *err);
/* The subjectAltName URIs of the peer's certificate, in order, NUL-terminated, at most cap
 * (KUMO_ELIMIT past it). KUMO_EUNAUTH without a certificate or subjectAltName, KUMO_EDECODE
 * for a URI outside [a-z0-9:/._-]. Check kumo_tls_peer_verify first. */
KUMO_MUST_USE int kumo_tls_peer_uris(void *ssl,
                                     char (*uris)[KUMO_TLS_URI_BYTES_MAX],
                                     size_t cap,
                                     size_t *count,
                                     kumo_err_ctx_t *err);
/* How long the peer's certificate stays valid from now, in ms (0 once expired). KUMO_EUNAUTH
 * without a certificate. */
KUMO_MUST_USE int kumo_tls_peer_valid_ms(void *ssl, uint64_t *ms_out, kumo_err_ctx_t *err);
/* OpenSSL's error queue as one line into err (and cleared); returns code. */
int kumo_tls_err(kumo_err_ctx_t *err, int code, const char *what);

#endif
