/*
 * tls.c - X.509 certificates and TLS 1.3 contexts with Ed25519 keys on OpenSSL 3 (tls.h).
 * Not pure: OpenSSL, the clock (validity periods), randomness (serials).
 */
#include "tls/tls.h"

#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void kumo_tls_node_id(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                      uint8_t id_out[KUMO_TLS_NODE_ID_BYTES])
{
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(pubkey, KUMO_CRYPTO_PUBKEY_BYTES), h);
    memcpy(id_out, h, KUMO_TLS_NODE_ID_BYTES);
}

void kumo_tls_node_id_hex(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                          char out[KUMO_TLS_NODE_ID_HEX + 1])
{
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(pubkey, id);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < KUMO_TLS_NODE_ID_BYTES; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15u];
    }
    out[KUMO_TLS_NODE_ID_HEX] = '\0';
}

int kumo_tls_err(kumo_err_ctx_t *err, int code, const char *what)
{
    char buf[160] = "";
    unsigned long e = ERR_get_error();
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
    }
    ERR_clear_error();
    return kumo_err_set(err, code, "%s%s%s", what, buf[0] != '\0' ? ": " : "", buf);
}

/* ---- keys ---- */

static EVP_PKEY *tls_pkey(const kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    kumo_crypto_key_seed(kp, seed);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    OPENSSL_cleanse(seed, sizeof(seed));
    return k;
}

static EVP_PKEY *tls_pubkey(const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES])
{
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
}

/* Appends what a memory BIO holds to out. */
static int tls_bio_drain(BIO *bio, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    KUMO_ENSURE(len > 0, err, KUMO_EIO, "empty PEM output");
    KUMO_GUARD(kumo_buf_append(out, data, (size_t)len));
    return 0;
}

int kumo_tls_key_pem(const kumo_crypto_keypair_t *kp, kumo_buf_t *pem_out, kumo_err_ctx_t *err)
{
    EVP_PKEY *k = tls_pkey(kp);
    BIO *bio = BIO_new(BIO_s_secmem()); /* cleansed when freed */
    int rc = k != NULL && bio != NULL ? 0 : kumo_tls_err(err, KUMO_ENOMEM, "key");
    if (rc == 0 && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1) {
        rc = kumo_tls_err(err, KUMO_EIO, "PEM_write_bio_PrivateKey");
    }
    rc = rc == 0 ? tls_bio_drain(bio, pem_out, err) : rc;
    BIO_free(bio);
    EVP_PKEY_free(k);
    return rc;
}

static BIO *tls_bio_in(kumo_bytes_t pem, kumo_err_ctx_t *err)
{
    if (pem.len == 0 || pem.len > KUMO_TLS_PEM_BYTES_MAX) {
        (void)kumo_err_set(err, KUMO_EDECODE, "PEM of %zu bytes (1..%u)", pem.len,
                           KUMO_TLS_PEM_BYTES_MAX);
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    if (bio == NULL) {
        (void)kumo_tls_err(err, KUMO_ENOMEM, "BIO");
    }
    return bio;
}

int kumo_tls_key_from_pem(kumo_bytes_t pem, kumo_crypto_keypair_t *kp, kumo_err_ctx_t *err)
{
    BIO *bio = tls_bio_in(pem, err);
    if (bio == NULL) {
        return KUMO_EDECODE;
    }
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    size_t len = sizeof(seed);
    int rc = k != NULL && EVP_PKEY_id(k) == EVP_PKEY_ED25519 &&
                     EVP_PKEY_get_raw_private_key(k, seed, &len) == 1 && len == sizeof(seed)
                 ? 0
                 : kumo_tls_err(err, KUMO_EDECODE, "not an Ed25519 PKCS#8 private key");
    if (rc == 0) {
        kumo_crypto_key_from_seed(seed, kp);
    }
    OPENSSL_cleanse(seed, sizeof(seed));
    EVP_PKEY_free(k);
    return rc;
}

/* ---- certificates ---- */

/* The longest validity we issue (100 years). */
#define TLS_DAYS_MAX 36500u

static int tls_name_set(X509_NAME *name, const char *cn, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(cn != NULL && cn[0] != '\0' && strlen(cn) <= KUMO_TLS_NAME_BYTES_MAX, err,
                KUMO_EINVAL, "certificate name must be 1..%u characters", KUMO_TLS_NAME_BYTES_MAX);
    KUMO_ENSURE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                           -1, 0) == 1,
                err, KUMO_EINVAL, "certificate name '%s'", cn);
    return 0;
}

static int tls_ext_add(X509 *cert, X509 *issuer, int nid, const char *value, kumo_err_ctx_t *err)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok ? 0 : kumo_tls_err(err, KUMO_EINVAL, value);
}

/* A certificate for subject_key's public key with subject cn, validity from an hour ago for
 * days, a random 128-bit serial. issuer NULL: self-issued. */
static int tls_cert_new(EVP_PKEY *subject_key,
                        const char *cn,
                        X509 *issuer,
                        long before_s,
                        long after_s,
                        X509 **out,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(before_s < after_s);
    X509 *c = X509_new();
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "certificate");
    uint8_t serial[16];
    int rc = RAND_bytes(serial, sizeof(serial)) == 1 ? 0 : kumo_tls_err(err, KUMO_EIO, "serial");
    serial[0] &= 0x7fu; /* positive */
    BIGNUM *bn = rc == 0 ? BN_bin2bn(serial, sizeof(serial), NULL) : NULL;
    if (rc == 0 &&
        (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) == NULL ||
         X509_set_version(c, 2) != 1 || X509_gmtime_adj(X509_getm_notBefore(c), before_s) == NULL ||
         X509_gmtime_adj(X509_getm_notAfter(c), after_s) == NULL ||
         X509_set_pubkey(c, subject_key) != 1)) {
        rc = kumo_tls_err(err, KUMO_ENOMEM, "certificate fields");
    }
    BN_free(bn);
    rc = rc == 0 ? tls_name_set(X509_get_subject_name(c), cn, err) : rc;
    if (rc == 0 &&
        X509_set_issuer_name(c, X509_get_subject_name(issuer != NULL ? issuer : c)) != 1) {
        rc = kumo_tls_err(err, KUMO_ENOMEM, "issuer");
    }
    if (rc < 0) {
        X509_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Signs c with key (Ed25519: no digest) and appends its PEM. */
static int tls_cert_finish(X509 *c, EVP_PKEY *key, kumo_buf_t *pem_out, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(X509_sign(c, key, NULL) > 0, err, KUMO_EIO, "X509_sign");
    BIO *bio = BIO_new(BIO_s_mem());
    int rc =
        bio != NULL && PEM_write_bio_X509(bio, c) == 1 ? 0 : kumo_tls_err(err, KUMO_EIO, "PEM");
    rc = rc == 0 ? tls_bio_drain(bio, pem_out, err) : rc;
    BIO_free(bio);
    return rc;
}

/* A self-issued certificate for kp with the given extensions (nid, value pairs). */
static int tls_cert_self(const kumo_crypto_keypair_t *kp,
                         const char *cn,
                         uint32_t days,
                         const int *nids,
                         const char *const *values,
                         size_t ext_count,
                         kumo_buf_t *pem_out,
                         kumo_err_ctx_t *err)
{
    KUMO_ENSURE(days >= 1 && days <= TLS_DAYS_MAX, err, KUMO_EINVAL, "validity of %u days", days);
    EVP_PKEY *k = tls_pkey(kp);
    KUMO_ENSURE(k != NULL, err, KUMO_ENOMEM, "key");
    X509 *c = NULL;
    int rc = tls_cert_new(k, cn, NULL, -3600L, (long)days * 86400L, &c, err);
    for (size_t i = 0; rc == 0 && i < ext_count; i++) {
        rc = tls_ext_add(c, c, nids[i], values[i], err);
    }
    rc = rc == 0 ? tls_cert_finish(c, k, pem_out, err) : rc;
    X509_free(c);
    EVP_PKEY_free(k);
    return rc;
}

int kumo_tls_cert_self_signed(const kumo_crypto_keypair_t *kp,
                              const char *cn,
                              uint32_t days,
                              kumo_buf_t *pem_out,
                              kumo_err_ctx_t *err)
{
    static const int nids[] = {NID_basic_constraints, NID_ext_key_usage};
    static const char *const values[] = {"critical,CA:FALSE", "serverAuth,clientAuth"};
    return tls_cert_self(kp, cn, days, nids, values, 2, pem_out, err);
}

int kumo_tls_ca_create(const kumo_crypto_keypair_t *ca,
                       const char *cn,
                       uint32_t days,
                       kumo_buf_t *pem_out,
                       kumo_err_ctx_t *err)
{
    static const int nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier};
    static const char *const values[] = {"critical,CA:TRUE", "critical,keyCertSign,cRLSign",
                                         "hash"};
    return tls_cert_self(ca, cn, days, nids, values, 3, pem_out, err);
}

static X509 *tls_x509_read(kumo_bytes_t pem, kumo_err_ctx_t *err)
{
    BIO *bio = tls_bio_in(pem, err);
    if (bio == NULL) {
        return NULL;
    }
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (c == NULL) {
        (void)kumo_tls_err(err, KUMO_EDECODE, "not a PEM certificate");
    }
    return c;
}

/* What a leaf issued by a CA says: subject CN, subjectAltName (OpenSSL's "DNS:…,URI:…" text)
 * and its validity as offsets from now in seconds. */
typedef struct tls_leaf {
    const char *cn;
    const char *san;
    long before_s;
    long after_s;
} tls_leaf_t;

/* A leaf for leaf_pubkey issued by the CA (key ca, certificate ca_cert_pem), PEM appended. */
static int tls_leaf_issue(const kumo_crypto_keypair_t *ca,
                          kumo_bytes_t ca_cert_pem,
                          const uint8_t leaf_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                          const tls_leaf_t *leaf,
                          kumo_buf_t *pem_out,
                          kumo_err_ctx_t *err)
{
    X509 *issuer = tls_x509_read(ca_cert_pem, err);
    if (issuer == NULL) {
        return KUMO_EDECODE; /* err says why */
    }
    EVP_PKEY *cak = tls_pkey(ca);
    EVP_PKEY *leafk = tls_pubkey(leaf_pubkey);
    X509 *c = NULL;
    int rc = cak != NULL && leafk != NULL ? 0 : kumo_tls_err(err, KUMO_ENOMEM, "keys");
    if (rc == 0 && X509_check_ca(issuer) != 1) {
        rc = kumo_err_set(err, KUMO_EINVAL, "the issuer certificate is not a CA");
    }
    if (rc == 0 && X509_check_private_key(issuer, cak) != 1) {
        rc = kumo_tls_err(err, KUMO_EINVAL, "the CA key is not the issuer certificate's");
    }
    rc = rc == 0 ? tls_cert_new(leafk, leaf->cn, issuer, leaf->before_s, leaf->after_s, &c, err)
                 : rc;
    rc = rc == 0 ? tls_ext_add(c, issuer, NID_basic_constraints, "critical,CA:FALSE", err) : rc;
    rc = rc == 0 ? tls_ext_add(c, issuer, NID_subject_alt_name, leaf->san, err) : rc;
    rc = rc == 0 ? tls_ext_add(c, issuer, NID_ext_key_usage, "serverAuth,clientAuth", err) : rc;
    rc = rc == 0 ? tls_ext_add(c, issuer, NID_authority_key_identifier, "keyid", err) : rc;
    rc = rc == 0 ? tls_cert_finish(c, cak, pem_out, err) : rc;
    X509_free(c);
    X509_free(issuer);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(leafk);
    return rc;
}

int kumo_tls_cert_issue(const kumo_crypto_keypair_t *ca,
                        kumo_bytes_t ca_cert_pem,
                        const uint8_t leaf_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                        const char *name,
                        uint32_t days,
                        kumo_buf_t *pem_out,
                        kumo_err_ctx_t *err)
{
    KUMO_ENSURE(days >= 1 && days <= TLS_DAYS_MAX, err, KUMO_EINVAL, "validity of %u days", days);
    KUMO_ENSURE(name != NULL, err, KUMO_EINVAL, "certificate name missing");
    char san[KUMO_TLS_NAME_BYTES_MAX + 8];
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    (void)snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", name);
    tls_leaf_t leaf = {.cn = name, .san = san, .before_s = -3600L, .after_s = (long)days * 86400L};
    return tls_leaf_issue(ca, ca_cert_pem, leaf_pubkey, &leaf, pem_out, err);
}

/* A URI we put in or read from a certificate: [a-z0-9:/._-], 1..KUMO_TLS_URI_BYTES_MAX - 1. */
static bool tls_uri_is_valid(const char *uri, size_t len)
{
    if (len == 0 || len >= KUMO_TLS_URI_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = uri[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == ':' || ch == '/' ||
                  ch == '.' || ch == '_' || ch == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int kumo_tls_cert_issue_uris(const kumo_crypto_keypair_t *ca,
                             kumo_bytes_t ca_cert_pem,
                             const uint8_t leaf_pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                             const kumo_tls_uri_cert_t *spec,
                             kumo_buf_t *pem_out,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(spec != NULL && pem_out != NULL);
    KUMO_ENSURE(spec->uri_count >= 1 && spec->uri_count <= KUMO_TLS_URI_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu URIs (1..%u)", spec->uri_count, KUMO_TLS_URI_COUNT_MAX);
    KUMO_ENSURE(spec->lifetime_s >= 1 && spec->lifetime_s <= KUMO_TLS_URI_LIFETIME_S_MAX, err,
                KUMO_EINVAL, "lifetime of %u s", spec->lifetime_s);
    KUMO_ENSURE(spec->start_offset_s >= -KUMO_TLS_URI_LIFETIME_S_MAX &&
                    spec->start_offset_s <= KUMO_TLS_URI_LIFETIME_S_MAX,
                err, KUMO_EINVAL, "start offset of %lld s", (long long)spec->start_offset_s);
    char san[KUMO_TLS_URI_COUNT_MAX * (KUMO_TLS_URI_BYTES_MAX + 8)];
    size_t pos = 0;
    for (size_t i = 0; i < spec->uri_count; i++) {
        const char *u = spec->uris[i];
        KUMO_ENSURE(u != NULL && tls_uri_is_valid(u, strnlen(u, KUMO_TLS_URI_BYTES_MAX)), err,
                    KUMO_EINVAL, "URI %zu is not 1..%u characters of [a-z0-9:/._-]", i,
                    KUMO_TLS_URI_BYTES_MAX - 1);
        int n = snprintf(san + pos, sizeof(san) - pos, "%sURI:%s", i > 0 ? "," : "", u);
        KUMO_ASSERT(n > 0 && (size_t)n < sizeof(san) - pos);
        pos += (size_t)n;
    }
    tls_leaf_t leaf = {.cn = spec->cn,
                       .san = san,
                       .before_s = (long)spec->start_offset_s,
                       .after_s = (long)spec->start_offset_s + (long)spec->lifetime_s};
    return tls_leaf_issue(ca, ca_cert_pem, leaf_pubkey, &leaf, pem_out, err);
}

static int tls_x509_pubkey(X509 *c, uint8_t out[KUMO_CRYPTO_PUBKEY_BYTES], kumo_err_ctx_t *err)
{
    EVP_PKEY *k = X509_get0_pubkey(c);
    size_t len = KUMO_CRYPTO_PUBKEY_BYTES;
    KUMO_ENSURE(k != NULL && EVP_PKEY_id(k) == EVP_PKEY_ED25519 &&
                    EVP_PKEY_get_raw_public_key(k, out, &len) == 1 &&
                    len == KUMO_CRYPTO_PUBKEY_BYTES,
                err, KUMO_EDECODE, "certificate key is not Ed25519");
    return 0;
}

int kumo_tls_cert_pubkey(kumo_bytes_t cert_pem,
                         uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES],
                         kumo_err_ctx_t *err)
{
    X509 *c = tls_x509_read(cert_pem, err);
    if (c == NULL) {
        return KUMO_EDECODE; /* err says why */
    }
    int rc = tls_x509_pubkey(c, pubkey_out, err);
    X509_free(c);
    return rc;
}

int kumo_tls_cert_verify(kumo_bytes_t cert_pem, kumo_bytes_t root_pem, kumo_err_ctx_t *err)
{
    X509 *leaf = tls_x509_read(cert_pem, err);
    X509 *root = leaf != NULL ? tls_x509_read(root_pem, err) : NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = leaf != NULL && root != NULL ? 0 : KUMO_EDECODE;
    if (rc == 0 && (store == NULL || ctx == NULL || X509_STORE_add_cert(store, root) != 1 ||
                    X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1)) {
        rc = kumo_tls_err(err, KUMO_ENOMEM, "X509 store");
    }
    if (rc == 0 && X509_verify_cert(ctx) != 1) {
        rc = kumo_err_set(err, KUMO_EUNAUTH, "certificate does not verify against the root: %s",
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(root);
    X509_free(leaf);
    return rc;
}

/* The rules of kumo_tls_root_check on a parsed certificate. */
static int tls_root_rules(X509 *c, kumo_err_ctx_t *err)
{
    EVP_PKEY *k = X509_get0_pubkey(c);
    KUMO_ENSURE(k != NULL && EVP_PKEY_id(k) == EVP_PKEY_ED25519, err, KUMO_EINVAL,
                "root certificate: the key is not Ed25519");
    KUMO_ENSURE(X509_check_ca(c) >= 1 && (X509_get_extension_flags(c) & EXFLAG_CA) != 0, err,
                KUMO_EINVAL, "root certificate: not a CA (basicConstraints CA:TRUE missing)");
    KUMO_ENSURE((X509_get_extension_flags(c) & EXFLAG_KUSAGE) == 0 ||
                    (X509_get_key_usage(c) & KU_KEY_CERT_SIGN) != 0,
                err, KUMO_EINVAL, "root certificate: keyUsage lacks keyCertSign");
    KUMO_ENSURE(X509_check_issued(c, c) == X509_V_OK && X509_verify(c, k) == 1, err, KUMO_EINVAL,
                "root certificate: not self-signed by its own key");
    KUMO_ENSURE(X509_cmp_current_time(X509_get0_notBefore(c)) < 0, err, KUMO_EINVAL,
                "root certificate: not valid yet");
    KUMO_ENSURE(X509_cmp_current_time(X509_get0_notAfter(c)) > 0, err, KUMO_EINVAL,
                "root certificate: expired");
    return 0;
}

int kumo_tls_root_check(kumo_bytes_t root_pem, kumo_err_ctx_t *err)
{
    BIO *bio = tls_bio_in(root_pem, err);
    if (bio == NULL) {
        return KUMO_EDECODE; /* err says why */
    }
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    int rc =
        c != NULL ? 0 : kumo_tls_err(err, KUMO_EDECODE, "root certificate: not a PEM certificate");
    if (rc == 0) {
        /* Only whitespace may follow the one certificate. */
        char ch = 0;
        while (rc == 0 && BIO_read(bio, &ch, 1) == 1) {
            rc = ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t'
                     ? 0
                     : kumo_err_set(err, KUMO_EDECODE,
                                    "root certificate: text after the certificate");
        }
    }
    rc = rc == 0 ? tls_root_rules(c, err) : rc;
    X509_free(c);
    BIO_free(bio);
    return rc;
}

/* ---- TLS contexts ---- */

/* PUBKEY mode: the peer presents one certificate (self-signed, or a leaf whose issuer we do
 * not have) with an Ed25519 key; OpenSSL would reject it as untrusted, the caller pins its key
 * after the handshake instead. A longer chain, another key type, an expired certificate or a
 * bad signature fail the handshake. */
static int tls_verify_pubkey_cb(int preverify_ok, X509_STORE_CTX *ctx)
{
    (void)preverify_ok;
    int e = X509_STORE_CTX_get_error(ctx);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    bool single = chain == NULL || sk_X509_num(chain) <= 1;
    X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
    EVP_PKEY *k = cert != NULL ? X509_get0_pubkey(cert) : NULL;
    bool ed25519 = k != NULL && EVP_PKEY_id(k) == EVP_PKEY_ED25519;
    return single && ed25519 &&
                   (e == X509_V_OK || e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                    e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
                    e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                    e == X509_V_ERR_CERT_UNTRUSTED)
               ? 1
               : 0;
}

static int tls_ctx_own_cert(SSL_CTX *ctx, const kumo_tls_ctx_cfg_t *cfg, kumo_err_ctx_t *err)
{
    if (cfg->cert_pem.len == 0) {
        KUMO_ENSURE(!cfg->server || cfg->cert_per_connection, err, KUMO_EINVAL,
                    "a TLS server needs a certificate");
        return 0;
    }
    KUMO_ENSURE(cfg->key != NULL, err, KUMO_EINVAL, "certificate without a key");
    BIO *bio = tls_bio_in(cfg->cert_pem, err);
    if (bio == NULL) {
        return KUMO_EDECODE; /* err says why */
    }
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    int rc = leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1
                 ? 0
                 : kumo_tls_err(err, KUMO_EDECODE, "certificate");
    /* Further certificates in the PEM form the chain sent to the peer (the provider root). */
    for (X509 *extra = NULL;
         rc == 0 && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL;) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            rc = kumo_tls_err(err, KUMO_EDECODE, "certificate chain");
        }
    }
    ERR_clear_error(); /* the loop ends on "no start line" */
    X509_free(leaf);
    BIO_free(bio);
    EVP_PKEY *k = rc == 0 ? tls_pkey(cfg->key) : NULL;
    if (rc == 0 &&
        (k == NULL || SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
        rc = kumo_tls_err(err, KUMO_EINVAL, "key does not match the certificate");
    }
    EVP_PKEY_free(k);
    return rc;
}

static int tls_ctx_root(SSL_CTX *ctx, kumo_bytes_t root_pem, kumo_err_ctx_t *err)
{
    X509 *root = tls_x509_read(root_pem, err);
    if (root == NULL) {
        return KUMO_EDECODE; /* err says why */
    }
    int rc = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root) == 1
                 ? 0
                 : kumo_tls_err(err, KUMO_EINVAL, "root certificate");
    X509_free(root);
    return rc;
}

int kumo_tls_ctx_new(const kumo_tls_ctx_cfg_t *cfg, void **ctx_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && ctx_out != NULL);
    SSL_CTX *ctx = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method());
    KUMO_ENSURE(ctx != NULL, err, KUMO_ENOMEM, "SSL_CTX");
    int rc = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
                     SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1
                 ? 0
                 : kumo_tls_err(err, KUMO_EINVAL, "TLS 1.3");
    (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    (void)SSL_CTX_set_num_tickets(ctx, 0);
    rc = rc == 0 ? tls_ctx_own_cert(ctx, cfg, err) : rc;
    int require = cfg->server && !cfg->client_cert_optional ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0;
    if (rc == 0 && cfg->peer_check == KUMO_TLS_PEER_PUBKEY) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | require, tls_verify_pubkey_cb);
    } else if (rc == 0 && cfg->peer_check == KUMO_TLS_PEER_ROOT) {
        rc = tls_ctx_root(ctx, cfg->root_pem, err);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | require, NULL);
    } else if (rc == 0) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *ctx_out = ctx;
    return 0;
}

void kumo_tls_ctx_free(void *ssl_ctx)
{
    SSL_CTX_free(ssl_ctx);
}

int kumo_tls_peer_pubkey(void *ssl,
                         uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES],
                         kumo_err_ctx_t *err)
{
    X509 *c = SSL_get1_peer_certificate(ssl);
    KUMO_ENSURE(c != NULL, err, KUMO_EUNAUTH, "the peer sent no certificate");
    int rc = tls_x509_pubkey(c, pubkey_out, err);
    X509_free(c);
    return rc == 0 ? 0 : kumo_err_set(err, KUMO_EUNAUTH, "peer certificate key is not Ed25519");
}

/* ---- one connection's certificates ---- */

struct kumo_tls_cred {
    X509 *cert;
    EVP_PKEY *key;
};

int kumo_tls_cred_new(kumo_bytes_t cert_pem,
                      const kumo_crypto_keypair_t *key,
                      kumo_tls_cred_t **out,
                      kumo_err_ctx_t *err)
{
    KUMO_ASSERT(key != NULL && out != NULL);
    *out = NULL;
    kumo_tls_cred_t *c = kumo_calloc(1, sizeof(*c));
    KUMO_ENSURE(c != NULL, err, KUMO_ENOMEM, "credentials");
    c->cert = tls_x509_read(cert_pem, err);
    int rc = c->cert != NULL ? 0 : KUMO_EDECODE; /* err says why */
    c->key = rc == 0 ? tls_pkey(key) : NULL;
    if (rc == 0 && (c->key == NULL || X509_check_private_key(c->cert, c->key) != 1)) {
        rc = kumo_tls_err(err, KUMO_EINVAL, "the key is not the certificate's");
    }
    if (rc < 0) {
        kumo_tls_cred_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void kumo_tls_cred_free(kumo_tls_cred_t *cred)
{
    if (cred != NULL) {
        X509_free(cred->cert);
        EVP_PKEY_free(cred->key);
        kumo_free(cred);
    }
}

int kumo_tls_ssl_cred_use(void *ssl, const kumo_tls_cred_t *cred, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ssl != NULL && cred != NULL);
    /* Both take a reference of their own. */
    if (SSL_use_certificate(ssl, cred->cert) != 1 || SSL_use_PrivateKey(ssl, cred->key) != 1) {
        return kumo_tls_err(err, KUMO_EINVAL, "certificate and key for the connection");
    }
    return 0;
}

struct kumo_tls_root {
    X509 *cert;
    X509_STORE *store; /* this root alone */
    bool is_ca;
};

int kumo_tls_root_new(kumo_bytes_t root_pem, kumo_tls_root_t **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    *out = NULL;
    kumo_tls_root_t *r = kumo_calloc(1, sizeof(*r));
    KUMO_ENSURE(r != NULL, err, KUMO_ENOMEM, "root");
    r->cert = tls_x509_read(root_pem, err);
    int rc = r->cert != NULL ? 0 : KUMO_EDECODE; /* err says why */
    r->store = rc == 0 ? X509_STORE_new() : NULL;
    if (rc == 0 && (r->store == NULL || X509_STORE_add_cert(r->store, r->cert) != 1)) {
        rc = kumo_tls_err(err, KUMO_ENOMEM, "X509 store");
    }
    if (rc < 0) {
        kumo_tls_root_free(r);
        return rc;
    }
    r->is_ca = X509_check_ca(r->cert) == 1;
    ERR_clear_error();
    *out = r;
    return 0;
}

void kumo_tls_root_free(kumo_tls_root_t *root)
{
    if (root != NULL) {
        X509_STORE_free(root->store);
        X509_free(root->cert);
        kumo_free(root);
    }
}

int kumo_tls_peer_verify(void *ssl, const kumo_tls_root_t *root, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ssl != NULL && root != NULL);
    KUMO_ENSURE(root->is_ca, err, KUMO_EUNAUTH, "the pinned root is not a CA");
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    KUMO_ENSURE(leaf != NULL, err, KUMO_EUNAUTH, "the peer sent no certificate");
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = 0;
    /* Only the pinned root is trusted and no intermediate is offered: whatever chain the
     * peer sent, its leaf must be signed by this root itself. */
    if (ctx == NULL || X509_STORE_CTX_init(ctx, root->store, leaf, NULL) != 1) {
        rc = kumo_tls_err(err, KUMO_ENOMEM, "X509 store");
    }
    if (rc == 0 && X509_verify_cert(ctx) != 1) {
        rc = kumo_err_set(err, KUMO_EUNAUTH, "peer certificate does not verify: %s",
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
    return rc;
}

/* Copies the URI entries of names into uris (at most cap), counting them in *count. */
static int tls_uris_copy(const GENERAL_NAMES *names,
                         char (*uris)[KUMO_TLS_URI_BYTES_MAX],
                         size_t cap,
                         size_t *count,
                         kumo_err_ctx_t *err)
{
    int n = sk_GENERAL_NAME_num(names);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI) {
            continue;
        }
        const ASN1_IA5STRING *s = g->d.uniformResourceIdentifier;
        const char *data = (const char *)ASN1_STRING_get0_data(s);
        int len = ASN1_STRING_length(s);
        KUMO_ENSURE(*count < cap, err, KUMO_ELIMIT, "more than %zu URIs", cap);
        KUMO_ENSURE(len > 0 && tls_uri_is_valid(data, (size_t)len), err, KUMO_EDECODE,
                    "a URI that is not 1..%u characters of [a-z0-9:/._-]",
                    KUMO_TLS_URI_BYTES_MAX - 1);
        memcpy(uris[*count], data, (size_t)len);
        uris[*count][len] = '\0';
        (*count)++;
    }
    return 0;
}

int kumo_tls_peer_uris(
    void *ssl, char (*uris)[KUMO_TLS_URI_BYTES_MAX], size_t cap, size_t *count, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ssl != NULL && count != NULL);
    *count = 0;
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    KUMO_ENSURE(leaf != NULL, err, KUMO_EUNAUTH, "the peer sent no certificate");
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    int rc = names != NULL ? tls_uris_copy(names, uris, cap, count, err)
                           : kumo_err_set(err, KUMO_EUNAUTH, "no subjectAltName");
    GENERAL_NAMES_free(names);
    X509_free(leaf);
    ERR_clear_error();
    if (rc < 0) {
        *count = 0;
    }
    return rc;
}

int kumo_tls_peer_valid_ms(void *ssl, uint64_t *ms_out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(ssl != NULL && ms_out != NULL);
    X509 *c = SSL_get1_peer_certificate(ssl);
    KUMO_ENSURE(c != NULL, err, KUMO_EUNAUTH, "the peer sent no certificate");
    int days = 0;
    int secs = 0;
    /* From now (NULL) to notAfter: negative once it expired. */
    int ok = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(c));
    X509_free(c);
    if (ok != 1) {
        return kumo_tls_err(err, KUMO_EDECODE, "peer certificate validity");
    }
    int64_t total_s = (int64_t)days * 86400 + secs;
    *ms_out = total_s > 0 ? (uint64_t)total_s * 1000u : 0u;
    return 0;
}
