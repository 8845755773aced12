/*
 * test_tls.c - certificates and TLS 1.3 handshakes with Ed25519 keys: PEM round trips, node
 * ids, a CA issuing a server certificate that verifies against it and not against another
 * root, refusals of garbage, oversized and non-Ed25519 input, and real handshakes over a
 * socketpair in the pinned-key and root-checked modes (the server thread answers while the
 * test thread is the client).
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "helpers/testutil.h"
#include "tls/tls.h"

static void key_make(uint8_t tag, kumo_crypto_keypair_t *kp)
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, kp);
}

static kumo_bytes_t pem_of(const kumo_buf_t *b)
{
    return kumo_buf_bytes(b);
}

static void test_node_id(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kp;
    key_make(1, &kp);
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    kumo_tls_node_id(kp.pubkey, id);
    uint8_t h[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(kp.pubkey, sizeof(kp.pubkey)), h);
    assert_memory_equal(id, h, sizeof(id));
    char hex[KUMO_TLS_NODE_ID_HEX + 1];
    kumo_tls_node_id_hex(kp.pubkey, hex);
    assert_int_equal(strlen(hex), KUMO_TLS_NODE_ID_HEX);
    assert_int_equal(hex[0], "0123456789abcdef"[h[0] >> 4]);
}

static void test_key_pem_round_trip(void **state)
{
    (void)state;
    kumo_crypto_keypair_t kp;
    kumo_crypto_keypair_t back;
    key_make(2, &kp);
    kumo_buf_t pem;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_key_pem(&kp, &pem, NULL), 0);
    assert_non_null(strstr((const char *)pem.ptr, "BEGIN PRIVATE KEY"));
    assert_int_equal(kumo_tls_key_from_pem(pem_of(&pem), &back, NULL), 0);
    assert_memory_equal(kp.seckey, back.seckey, sizeof(kp.seckey));
    kumo_buf_free(&pem);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_tls_key_from_pem(kumo_bytes_make("garbage", 7), &back, &err),
                     KUMO_EDECODE);
}

/* An EC P-256 certificate (not Ed25519), self-signed, as PEM. */
static void ec_cert_pem(kumo_buf_t *out)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    X509 *c = X509_new();
    assert_non_null(c);
    assert_int_equal(X509_set_pubkey(c, k), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), 86400));
    assert_true(X509_sign(c, k, EVP_sha256()) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, c), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    assert_int_equal(kumo_buf_append(out, data, (size_t)len), 0);
    BIO_free(bio);
    X509_free(c);
    EVP_PKEY_free(k);
}

static void test_certificates(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t other;
    kumo_crypto_keypair_t leaf;
    key_make(3, &ca);
    key_make(4, &other);
    key_make(5, &leaf);
    kumo_buf_t root;
    kumo_buf_t root2;
    kumo_buf_t cert;
    kumo_buf_t self;
    kumo_buf_t ec;
    kumo_buf_init(&root, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&root2, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&self, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&ec, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &root, NULL), 0);
    assert_int_equal(kumo_tls_ca_create(&other, "other root", 3650, &root2, NULL), 0);
    assert_int_equal(
        kumo_tls_cert_issue(&ca, pem_of(&root), leaf.pubkey, "127.0.0.1", 30, &cert, NULL), 0);
    assert_int_equal(kumo_tls_cert_self_signed(&leaf, "kumo1tenant", 1, &self, NULL), 0);
    uint8_t pk[KUMO_CRYPTO_PUBKEY_BYTES];
    assert_int_equal(kumo_tls_cert_pubkey(pem_of(&cert), pk, NULL), 0);
    assert_memory_equal(pk, leaf.pubkey, sizeof(pk));
    assert_int_equal(kumo_tls_cert_verify(pem_of(&cert), pem_of(&root), NULL), 0);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_tls_cert_verify(pem_of(&cert), pem_of(&root2), &err), KUMO_EUNAUTH);
    /* A self-signed end-entity certificate is no root: nothing it "signs" verifies. */
    assert_int_equal(kumo_tls_cert_verify(pem_of(&self), pem_of(&root), &err), KUMO_EUNAUTH);
    assert_int_equal(kumo_tls_cert_pubkey(kumo_bytes_make("x", 1), pk, &err), KUMO_EDECODE);
    ec_cert_pem(&ec);
    assert_int_equal(kumo_tls_cert_pubkey(pem_of(&ec), pk, &err), KUMO_EDECODE);
    uint8_t big[KUMO_TLS_PEM_BYTES_MAX + 1];
    memset(big, 'A', sizeof(big));
    assert_int_equal(kumo_tls_cert_pubkey(kumo_bytes_make(big, sizeof(big)), pk, &err),
                     KUMO_EDECODE);
    /* Bad parameters. */
    assert_int_equal(kumo_tls_ca_create(&ca, "", 10, &root2, &err), KUMO_EINVAL);
    assert_int_equal(kumo_tls_cert_self_signed(&ca, "x", 0, &root2, &err), KUMO_EINVAL);
    kumo_buf_free(&root);
    kumo_buf_free(&root2);
    kumo_buf_free(&cert);
    kumo_buf_free(&self);
    kumo_buf_free(&ec);
}

/* ---- certificates made directly with OpenSSL (expired, EC) ---- */

static EVP_PKEY *evp_of(const kumo_crypto_keypair_t *kp)
{
    kumo_buf_t pem;
    kumo_buf_init(&pem, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_key_pem(kp, &pem, NULL), 0);
    BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    assert_non_null(k);
    BIO_free(bio);
    kumo_buf_free(&pem);
    return k;
}

static X509 *x509_of(const kumo_buf_t *pem)
{
    BIO *bio = BIO_new_mem_buf(pem->ptr, (int)pem->len);
    X509 *c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    assert_non_null(c);
    BIO_free(bio);
    return c;
}

static void x509_pem(X509 *c, kumo_buf_t *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, c), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    assert_int_equal(kumo_buf_append(out, data, (size_t)len), 0);
    BIO_free(bio);
}

/* A certificate for subject valid from now + from_s to now + to_s, issued by issuer (NULL:
 * self-signed with key), CA or not; PEM appended to out, X509 returned. */
static X509 *cert_raw(EVP_PKEY *subject,
                      X509 *issuer,
                      EVP_PKEY *key,
                      long from_s,
                      long to_s,
                      bool ca,
                      kumo_buf_t *out)
{
    X509 *c = X509_new();
    assert_non_null(c);
    assert_int_equal(X509_set_version(c, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(c), 7), 1);
    assert_int_equal(X509_set_pubkey(c, subject), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), from_s));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), to_s));
    X509_NAME *name = X509_get_subject_name(c);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)(ca ? "raw ca" : "raw"), -1,
                                                -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(c, X509_get_subject_name(issuer != NULL ? issuer : c)),
                     1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : c, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(c, ext, -1), 1);
    X509_EXTENSION_free(ext);
    bool ed = EVP_PKEY_id(key) == EVP_PKEY_ED25519;
    assert_true(X509_sign(c, key, ed ? NULL : EVP_sha256()) > 0);
    x509_pem(c, out);
    return c;
}

static void test_verify_refusals(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t leaf;
    key_make(40, &ca);
    key_make(41, &leaf);
    EVP_PKEY *cak = evp_of(&ca);
    EVP_PKEY *leafk = evp_of(&leaf);
    kumo_buf_t root;
    kumo_buf_t expired_leaf;
    kumo_buf_t old_root;
    kumo_buf_t old_root_leaf;
    kumo_buf_t not_ca;
    kumo_buf_t not_ca_leaf;
    kumo_buf_t *bufs[] = {&root, &expired_leaf, &old_root, &old_root_leaf, &not_ca, &not_ca_leaf};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        kumo_buf_init(bufs[i], KUMO_TLS_PEM_BYTES_MAX);
    }
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &root, NULL), 0);
    X509 *rootc = x509_of(&root);
    kumo_err_ctx_t err = {0};
    /* A leaf that expired yesterday. */
    X509_free(cert_raw(leafk, rootc, cak, -172800, -86400, false, &expired_leaf));
    assert_int_equal(kumo_tls_cert_verify(pem_of(&expired_leaf), pem_of(&root), &err),
                     KUMO_EUNAUTH);
    assert_non_null(strstr(err.detail, "expired"));
    /* A valid leaf under a root that expired. */
    X509 *oldc = cert_raw(cak, NULL, cak, -172800, -86400, true, &old_root);
    X509_free(cert_raw(leafk, oldc, cak, -3600, 86400, false, &old_root_leaf));
    X509_free(oldc);
    assert_int_equal(kumo_tls_cert_verify(pem_of(&old_root_leaf), pem_of(&old_root), &err),
                     KUMO_EUNAUTH);
    /* A "root" that is no CA (CA:FALSE) cannot issue. */
    assert_int_equal(kumo_tls_cert_self_signed(&ca, "not a ca", 30, &not_ca, NULL), 0);
    assert_int_equal(kumo_tls_cert_issue(&ca, pem_of(&not_ca), leaf.pubkey, "example.org", 30,
                                         &not_ca_leaf, &err),
                     KUMO_EINVAL);
    assert_int_equal(kumo_tls_cert_issue(&leaf, pem_of(&root), leaf.pubkey, "example.org", 30,
                                         &not_ca_leaf, &err),
                     KUMO_EINVAL); /* the CA key is not the root's */
    X509 *not_ca_c = x509_of(&not_ca);
    X509_free(cert_raw(leafk, not_ca_c, cak, -3600, 86400, false, &not_ca_leaf));
    X509_free(not_ca_c);
    assert_int_equal(kumo_tls_cert_verify(pem_of(&not_ca_leaf), pem_of(&not_ca), &err),
                     KUMO_EUNAUTH);
    X509_free(rootc);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(leafk);
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        kumo_buf_free(bufs[i]);
    }
}

/* A root certificate for the chain: every rule of kumo_tls_root_check refuses on its own. */
static void test_root_check(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t other;
    key_make(50, &ca);
    key_make(51, &other);
    EVP_PKEY *cak = evp_of(&ca);
    EVP_PKEY *otherk = evp_of(&other);
    enum {
        ROOT,
        EXPIRED,
        FUTURE,
        NOT_CA,
        LEAF,
        FOREIGN,
        EC,
        TWO,
        TRAILING,
        COUNT
    };
    kumo_buf_t b[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        kumo_buf_init(&b[i], 2u * KUMO_TLS_PEM_BYTES_MAX);
    }
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &b[ROOT], NULL), 0);
    X509_free(cert_raw(cak, NULL, cak, -172800, -86400, true, &b[EXPIRED]));
    X509_free(cert_raw(cak, NULL, cak, 86400, 172800, true, &b[FUTURE]));
    X509_free(cert_raw(cak, NULL, cak, -3600, 86400, false, &b[NOT_CA]));
    assert_int_equal(kumo_tls_cert_self_signed(&ca, "leaf", 30, &b[LEAF], NULL), 0);
    X509_free(cert_raw(cak, NULL, otherk, -3600, 86400, true, &b[FOREIGN])); /* signed by other */
    ec_cert_pem(&b[EC]);
    assert_int_equal(kumo_buf_append(&b[TWO], b[ROOT].ptr, b[ROOT].len), 0);
    assert_int_equal(kumo_buf_append(&b[TWO], b[ROOT].ptr, b[ROOT].len), 0);
    assert_int_equal(kumo_buf_append(&b[TRAILING], b[ROOT].ptr, b[ROOT].len), 0);
    assert_int_equal(kumo_buf_append(&b[TRAILING], "\n  x\n", 5), 0);
    static const struct {
        int which;
        int rc;
        const char *detail;
    } cases[] = {
        {ROOT, 0, NULL},
        {EXPIRED, KUMO_EINVAL, "expired"},
        {FUTURE, KUMO_EINVAL, "not valid yet"},
        {NOT_CA, KUMO_EINVAL, "not a CA"},
        {LEAF, KUMO_EINVAL, "not a CA"},
        {FOREIGN, KUMO_EINVAL, "self-signed"},
        {EC, KUMO_EINVAL, "Ed25519"},
        {TWO, KUMO_EDECODE, "after the certificate"},
        {TRAILING, KUMO_EDECODE, "after the certificate"},
    };
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(cases); i++) {
        kumo_err_ctx_t err = {0};
        assert_int_equal(kumo_tls_root_check(pem_of(&b[cases[i].which]), &err), cases[i].rc);
        if (cases[i].detail != NULL) {
            assert_non_null(strstr(err.detail, cases[i].detail));
        }
    }
    static const char *const garbage[] = {"", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n"};
    for (size_t i = 0; i < KUMO_ARRAY_COUNT(garbage); i++) {
        assert_int_equal(kumo_tls_root_check(kumo_bytes_make(garbage[i], strlen(garbage[i])), NULL),
                         KUMO_EDECODE);
    }
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otherk);
    for (size_t i = 0; i < COUNT; i++) {
        kumo_buf_free(&b[i]);
    }
}

static void test_pem_refusals(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t leaf;
    key_make(48, &ca);
    key_make(49, &leaf);
    kumo_buf_t root;
    kumo_buf_t cert;
    kumo_buf_init(&root, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&cert, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &root, NULL), 0);
    assert_int_equal(kumo_tls_cert_issue(&ca, pem_of(&root), leaf.pubkey, "::1", 30, &cert, NULL),
                     0);
    kumo_err_ctx_t err = {0};
    /* Garbage, empty and oversized PEM, on either side. */
    uint8_t big[KUMO_TLS_PEM_BYTES_MAX + 1];
    memset(big, 'A', sizeof(big));
    const kumo_bytes_t bad[] = {kumo_bytes_make("-----BEGIN CERTIFICATE-----\nxx\n", 31),
                                kumo_bytes_make(NULL, 0), kumo_bytes_make(big, sizeof(big))};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kumo_tls_cert_verify(bad[i], pem_of(&root), &err), KUMO_EDECODE);
        assert_int_equal(kumo_tls_cert_verify(pem_of(&cert), bad[i], &err), KUMO_EDECODE);
        assert_int_equal(kumo_tls_cert_issue(&ca, bad[i], leaf.pubkey, "x", 1, &cert, NULL),
                         KUMO_EDECODE); /* err NULL is fine */
        kumo_crypto_keypair_t kp;
        assert_int_equal(kumo_tls_key_from_pem(bad[i], &kp, NULL), KUMO_EDECODE);
    }
    /* A certificate is not a key; nor is an EC key an Ed25519 one. */
    kumo_crypto_keypair_t kp;
    assert_int_equal(kumo_tls_key_from_pem(pem_of(&root), &kp, &err), KUMO_EDECODE);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    assert_int_equal(kumo_tls_key_from_pem(kumo_bytes_make(data, (size_t)len), &kp, &err),
                     KUMO_EDECODE);
    BIO_free(bio);
    EVP_PKEY_free(ec);
    kumo_buf_free(&root);
    kumo_buf_free(&cert);
}

/* ---- handshakes ---- */

typedef struct hs_side {
    void *ctx;
    int fd;
    int ok; /* 1 handshake done, 0 failed */
    uint8_t peer[KUMO_CRYPTO_PUBKEY_BYTES];
    bool has_peer;
} hs_side_t;

static void *hs_server(void *arg)
{
    hs_side_t *s = arg;
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, s->fd);
    s->ok = SSL_accept(ssl) == 1;
    if (s->ok) {
        s->has_peer = kumo_tls_peer_pubkey(ssl, s->peer, NULL) == 0;
        char b;
        (void)SSL_read(ssl, &b, 1); /* wait for the client's byte (session established) */
    }
    SSL_free(ssl);
    (void)close(s->fd);
    return NULL;
}

/* One handshake between a server and a client context; returns whether both succeeded. */
static bool hs_run(void *server_ctx, void *client_ctx, hs_side_t *srv, hs_side_t *cli)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    *srv = (hs_side_t){.ctx = server_ctx, .fd = fds[0]};
    *cli = (hs_side_t){.ctx = client_ctx, .fd = fds[1]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hs_server, srv), 0);
    SSL *ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, fds[1]);
    cli->ok = SSL_connect(ssl) == 1;
    if (cli->ok) {
        cli->has_peer = kumo_tls_peer_pubkey(ssl, cli->peer, NULL) == 0;
        cli->ok = SSL_write(ssl, "x", 1) == 1;
        assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
    }
    SSL_free(ssl);
    (void)close(fds[1]);
    assert_int_equal(pthread_join(t, NULL), 0);
    return srv->ok && cli->ok;
}

static void *ctx_make(bool server,
                      const kumo_buf_t *cert,
                      const kumo_crypto_keypair_t *key,
                      kumo_tls_peer_check_t check,
                      const kumo_buf_t *root)
{
    kumo_tls_ctx_cfg_t cfg = {
        .server = server,
        .cert_pem = cert != NULL ? pem_of(cert) : kumo_bytes_make(NULL, 0),
        .key = key,
        .peer_check = check,
        .root_pem = root != NULL ? pem_of(root) : kumo_bytes_make(NULL, 0),
    };
    void *ctx = NULL;
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, NULL), 0);
    return ctx;
}

static void test_handshake_pinned(void **state)
{
    (void)state;
    kumo_crypto_keypair_t a;
    kumo_crypto_keypair_t b;
    key_make(6, &a);
    key_make(7, &b);
    kumo_buf_t ca;
    kumo_buf_t cb;
    kumo_buf_init(&ca, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&cb, KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_self_signed(&a, "node a", 365, &ca, NULL), 0);
    assert_int_equal(kumo_tls_cert_self_signed(&b, "node b", 365, &cb, NULL), 0);
    void *srv_ctx = ctx_make(true, &ca, &a, KUMO_TLS_PEER_PUBKEY, NULL);
    void *cli_ctx = ctx_make(false, &cb, &b, KUMO_TLS_PEER_PUBKEY, NULL);
    hs_side_t s;
    hs_side_t c;
    assert_true(hs_run(srv_ctx, cli_ctx, &s, &c));
    assert_true(s.has_peer && c.has_peer);
    assert_memory_equal(s.peer, b.pubkey, sizeof(s.peer));
    assert_memory_equal(c.peer, a.pubkey, sizeof(c.peer));
    /* A client without a certificate is refused by a PUBKEY server. */
    void *anon = ctx_make(false, NULL, NULL, KUMO_TLS_PEER_PUBKEY, NULL);
    assert_false(hs_run(srv_ctx, anon, &s, &c));
    kumo_tls_ctx_free(anon);
    kumo_tls_ctx_free(srv_ctx);
    kumo_tls_ctx_free(cli_ctx);
    kumo_buf_free(&ca);
    kumo_buf_free(&cb);
}

static void test_handshake_root(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t other;
    kumo_crypto_keypair_t srv;
    key_make(8, &ca);
    key_make(9, &other);
    key_make(10, &srv);
    kumo_buf_t root;
    kumo_buf_t root2;
    kumo_buf_t chain;
    kumo_buf_init(&root, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&root2, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&chain, 2u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &root, NULL), 0);
    assert_int_equal(kumo_tls_ca_create(&other, "other", 3650, &root2, NULL), 0);
    assert_int_equal(
        kumo_tls_cert_issue(&ca, pem_of(&root), srv.pubkey, "127.0.0.1", 30, &chain, NULL), 0);
    assert_int_equal(kumo_buf_append(&chain, root.ptr, root.len), 0); /* leaf then root */
    void *srv_ctx = ctx_make(true, &chain, &srv, KUMO_TLS_PEER_NONE, NULL);
    void *good = ctx_make(false, NULL, NULL, KUMO_TLS_PEER_ROOT, &root);
    void *bad = ctx_make(false, NULL, NULL, KUMO_TLS_PEER_ROOT, &root2);
    hs_side_t s;
    hs_side_t c;
    assert_true(hs_run(srv_ctx, good, &s, &c));
    assert_true(c.has_peer);
    assert_memory_equal(c.peer, srv.pubkey, sizeof(c.peer));
    assert_false(hs_run(srv_ctx, bad, &s, &c));
    kumo_tls_ctx_free(srv_ctx);
    kumo_tls_ctx_free(good);
    kumo_tls_ctx_free(bad);
    /* A server needs a certificate; a certificate needs its key. */
    kumo_tls_ctx_cfg_t cfg = {.server = true};
    void *ctx = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, &err), KUMO_EINVAL);
    cfg = (kumo_tls_ctx_cfg_t){.server = true, .cert_pem = pem_of(&chain), .key = &other};
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, &err), KUMO_EINVAL);
    kumo_buf_free(&root);
    kumo_buf_free(&root2);
    kumo_buf_free(&chain);
}

/* A context with any key and certificate (not made by kumo_tls_ctx_new); verifies nothing. */
static void *raw_ctx(bool server, EVP_PKEY *k, X509 *c)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, c), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, k), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

static void test_handshake_pubkey_refusals(void **state)
{
    (void)state;
    kumo_crypto_keypair_t a;
    kumo_crypto_keypair_t b;
    key_make(42, &a);
    key_make(43, &b);
    kumo_buf_t ca;
    kumo_buf_t tmp;
    kumo_buf_init(&ca, KUMO_TLS_PEM_BYTES_MAX);
    kumo_buf_init(&tmp, 4u * KUMO_TLS_PEM_BYTES_MAX);
    assert_int_equal(kumo_tls_cert_self_signed(&a, "node a", 365, &ca, NULL), 0);
    void *srv = ctx_make(true, &ca, &a, KUMO_TLS_PEER_PUBKEY, NULL);
    hs_side_t s;
    hs_side_t c;
    /* A client certificate with an EC key. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    X509 *ecc = cert_raw(ec, NULL, ec, -3600, 86400, false, &tmp);
    void *ec_cli = raw_ctx(false, ec, ecc);
    assert_false(hs_run(srv, ec_cli, &s, &c));
    /* An expired self-signed Ed25519 client certificate. */
    EVP_PKEY *bk = evp_of(&b);
    X509 *old = cert_raw(bk, NULL, bk, -172800, -86400, false, &tmp);
    void *old_cli = raw_ctx(false, bk, old);
    assert_false(hs_run(srv, old_cli, &s, &c));
    /* A client in PUBKEY mode refuses a server with an EC key. */
    void *anon = ctx_make(false, NULL, NULL, KUMO_TLS_PEER_PUBKEY, NULL);
    void *ec_srv = raw_ctx(true, ec, ecc);
    assert_false(hs_run(ec_srv, anon, &s, &c));
    /* client_cert_optional: an anonymous client gets in, and the server sees no key. */
    kumo_tls_ctx_cfg_t cfg = {.server = true,
                              .cert_pem = pem_of(&ca),
                              .key = &a,
                              .peer_check = KUMO_TLS_PEER_PUBKEY,
                              .client_cert_optional = true};
    void *opt = NULL;
    assert_int_equal(kumo_tls_ctx_new(&cfg, &opt, NULL), 0);
    assert_true(hs_run(opt, anon, &s, &c));
    assert_false(s.has_peer);
    assert_true(c.has_peer);
    assert_memory_equal(c.peer, a.pubkey, sizeof(c.peer));
    kumo_tls_ctx_free(opt);
    kumo_tls_ctx_free(ec_srv);
    kumo_tls_ctx_free(anon);
    kumo_tls_ctx_free(old_cli);
    kumo_tls_ctx_free(ec_cli);
    kumo_tls_ctx_free(srv);
    X509_free(old);
    X509_free(ecc);
    EVP_PKEY_free(bk);
    EVP_PKEY_free(ec);
    kumo_buf_free(&tmp);
    kumo_buf_free(&ca);
}

static void test_handshake_root_client_certs(void **state)
{
    (void)state;
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t other;
    kumo_crypto_keypair_t srv;
    kumo_crypto_keypair_t cli;
    key_make(44, &ca);
    key_make(45, &other);
    key_make(46, &srv);
    key_make(47, &cli);
    kumo_buf_t root;
    kumo_buf_t root2;
    kumo_buf_t srv_cert;
    kumo_buf_t cli_cert;
    kumo_buf_t cli_other;
    kumo_buf_t *bufs[] = {&root, &root2, &srv_cert, &cli_cert, &cli_other};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        kumo_buf_init(bufs[i], KUMO_TLS_PEM_BYTES_MAX);
    }
    assert_int_equal(kumo_tls_ca_create(&ca, "dc root", 3650, &root, NULL), 0);
    assert_int_equal(kumo_tls_ca_create(&other, "other", 3650, &root2, NULL), 0);
    assert_int_equal(
        kumo_tls_cert_issue(&ca, pem_of(&root), srv.pubkey, "localhost", 30, &srv_cert, NULL), 0);
    assert_int_equal(
        kumo_tls_cert_issue(&ca, pem_of(&root), cli.pubkey, "peer.example", 30, &cli_cert, NULL),
        0);
    assert_int_equal(kumo_tls_cert_issue(&other, pem_of(&root2), cli.pubkey, "peer.example", 30,
                                         &cli_other, NULL),
                     0);
    void *srv_ctx = ctx_make(true, &srv_cert, &srv, KUMO_TLS_PEER_ROOT, &root);
    void *good = ctx_make(false, &cli_cert, &cli, KUMO_TLS_PEER_ROOT, &root);
    void *foreign = ctx_make(false, &cli_other, &cli, KUMO_TLS_PEER_ROOT, &root);
    void *anon = ctx_make(false, NULL, NULL, KUMO_TLS_PEER_ROOT, &root);
    hs_side_t s;
    hs_side_t c;
    assert_true(hs_run(srv_ctx, good, &s, &c));
    assert_true(s.has_peer && c.has_peer);
    assert_memory_equal(s.peer, cli.pubkey, sizeof(s.peer));
    assert_memory_equal(c.peer, srv.pubkey, sizeof(c.peer));
    assert_false(hs_run(srv_ctx, foreign, &s, &c)); /* client cert from another CA */
    assert_false(hs_run(srv_ctx, anon, &s, &c));    /* no client cert */
    /* Bad PEM in a context. */
    kumo_tls_ctx_cfg_t cfg = {
        .server = false, .peer_check = KUMO_TLS_PEER_ROOT, .root_pem = kumo_bytes_make("junk", 4)};
    void *ctx = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, &err), KUMO_EDECODE);
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, NULL), KUMO_EDECODE);
    cfg = (kumo_tls_ctx_cfg_t){.server = true, .cert_pem = kumo_bytes_make("junk", 4), .key = &srv};
    assert_int_equal(kumo_tls_ctx_new(&cfg, &ctx, NULL), KUMO_EDECODE);
    kumo_tls_ctx_free(anon);
    kumo_tls_ctx_free(foreign);
    kumo_tls_ctx_free(good);
    kumo_tls_ctx_free(srv_ctx);
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
        kumo_buf_free(bufs[i]);
    }
}

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN); /* a refused handshake writes to a closed socket */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_id),
        cmocka_unit_test(test_key_pem_round_trip),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_handshake_pinned),
        cmocka_unit_test(test_handshake_root),
        cmocka_unit_test(test_verify_refusals),
        cmocka_unit_test(test_pem_refusals),
        cmocka_unit_test(test_root_check),
        cmocka_unit_test(test_handshake_pubkey_refusals),
        cmocka_unit_test(test_handshake_root_client_certs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
