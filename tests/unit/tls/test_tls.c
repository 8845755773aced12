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

int main(void)
{
    assert_int_equal(kumo_crypto_init(), 0);
    (void)signal(SIGPIPE, SIG_IGN); /* a refused handshake writes to a closed socket */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_id),        cmocka_unit_test(test_key_pem_round_trip),
        cmocka_unit_test(test_certificates),   cmocka_unit_test(test_handshake_pinned),
        cmocka_unit_test(test_handshake_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
