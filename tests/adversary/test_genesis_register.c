/*
 * test_genesis_register.c - what a user hands the CLI before anything reaches a chain:
 * `kumo genesis add-account` refuses balances whose total passes the genesis supply ceiling
 * (the room kept for collateral interest) and leaves genesis.json as it was; `kumo provider
 * register` refuses a root certificate that is no CA, is expired, is not valid yet, is signed
 * by another key or is not PEM at all, before it sends anything: a listener standing in for
 * the node sees no connection.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "helpers/net/testnet.h"
#include "helpers/testutil.h"
#include "tls/tls.h"

static kumo_test_net_t g;

static void file_read(const char *path, kumo_buf_t *out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(kumo_buf_append(out, chunk, n), 0);
    }
    (void)fclose(f);
}

static void file_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void address_of(uint8_t tag, char out[KUMO_ADDRESS_TEXT_BYTES])
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_keypair_t kp;
    kumo_crypto_key_from_seed(seed, &kp);
    uint8_t addr[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp.pubkey, addr);
    kumo_codec_address_encode(addr, out);
    kumo_crypto_key_wipe(&kp);
}

static void test_genesis_total_over_ceiling_refused(void **state)
{
    (void)state;
    char home[PATH_MAX];
    (void)snprintf(home, sizeof(home), "%s/node", g.dir);
    assert_int_equal(kumo_test_net_kumo(&g, "init --home %s --chain-id adv", home), 0);
    char a1[KUMO_ADDRESS_TEXT_BYTES];
    char a2[KUMO_ADDRESS_TEXT_BYTES];
    char a3[KUMO_ADDRESS_TEXT_BYTES];
    address_of(1, a1);
    address_of(2, a2);
    address_of(3, a3);
    uint64_t half = KUMO_GENESIS_SUPPLY_MAX / 2u;
    assert_int_equal(kumo_test_net_kumo(&g, "genesis add-account --home %s %s %llu", home, a1,
                                        (unsigned long long)half),
                     0);
    char path[PATH_MAX + 32];
    (void)snprintf(path, sizeof(path), "%s/genesis.json", home);
    kumo_buf_t before;
    kumo_buf_init(&before, 1u << 20);
    file_read(path, &before);
    /* Each amount fits u64 and is under the ceiling alone; the total is not. */
    assert_int_equal(kumo_test_net_kumo(&g, "genesis add-account --home %s %s %llu", home, a2,
                                        (unsigned long long)(KUMO_GENESIS_SUPPLY_MAX - 1u)),
                     1);
    assert_int_equal(kumo_test_net_kumo(&g, "genesis add-account --home %s %s %llu", home, a3,
                                        (unsigned long long)UINT64_MAX / 2u),
                     1);
    kumo_buf_t after;
    kumo_buf_init(&after, 1u << 20);
    file_read(path, &after);
    assert_true(kumo_bytes_equal(kumo_buf_bytes(&before), kumo_buf_bytes(&after)));
    kumo_buf_free(&before);
    kumo_buf_free(&after);
    /* Under the ceiling is fine. */
    assert_int_equal(kumo_test_net_kumo(&g, "genesis add-account --home %s %s %llu", home, a2,
                                        (unsigned long long)(half / 2u)),
                     0);
}

/* An Ed25519 certificate signed by signer (self-issued), valid [from_s, to_s] from now. */
static void cert_make(const kumo_crypto_keypair_t *subject,
                      const kumo_crypto_keypair_t *signer,
                      long from_s,
                      long to_s,
                      bool ca,
                      kumo_buf_t *out)
{
    EVP_PKEY *sk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, subject->pubkey, 32);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, signer->seckey, 32);
    assert_true(sk != NULL && k != NULL);
    X509 *c = X509_new();
    assert_non_null(c);
    assert_int_equal(X509_set_version(c, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(c), 9), 1);
    assert_int_equal(X509_set_pubkey(c, sk), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), from_s));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), to_s));
    X509_NAME *name = X509_get_subject_name(c);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"dc", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(c, name), 1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(c, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(c, k, NULL) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, c), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    assert_int_equal(kumo_buf_append(out, data, (size_t)len), 0);
    BIO_free(bio);
    X509_free(c);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(k);
}

/* A listener standing in for the node: returns its fd; its port in *port. */
static int listener_open(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_register_refuses_bad_roots(void **state)
{
    (void)state;
    unsigned port = 0;
    int lfd = listener_open(&port);
    char home[PATH_MAX];
    (void)snprintf(home, sizeof(home), "%s/dc", g.dir);
    assert_int_equal(kumo_test_net_kumo(&g,
                                        "provider init --home %s --region us-east --node "
                                        "http://127.0.0.1:%u --api-listen 127.0.0.1:0",
                                        home, port),
                     0);
    kumo_crypto_keypair_t ca;
    kumo_crypto_keypair_t other;
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, 0x31, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &ca);
    memset(seed, 0x32, sizeof(seed));
    kumo_crypto_key_from_seed(seed, &other);
    enum {
        NOT_CA,
        EXPIRED,
        FUTURE,
        FOREIGN,
        LEAF,
        COUNT
    };
    kumo_buf_t pems[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        kumo_buf_init(&pems[i], KUMO_TLS_PEM_BYTES_MAX);
    }
    cert_make(&ca, &ca, -3600, 86400, false, &pems[NOT_CA]);
    cert_make(&ca, &ca, -172800, -86400, true, &pems[EXPIRED]);
    cert_make(&ca, &ca, 86400, 172800, true, &pems[FUTURE]);
    cert_make(&ca, &other, -3600, 86400, true, &pems[FOREIGN]);
    assert_int_equal(kumo_tls_cert_self_signed(&ca, "leaf", 30, &pems[LEAF], NULL), 0);
    char path[PATH_MAX + 32];
    (void)snprintf(path, sizeof(path), "%s/ca.crt", home);
    for (size_t i = 0; i < COUNT; i++) {
        file_write(path, pems[i].ptr, pems[i].len);
        assert_int_equal(kumo_test_net_kumo(&g, "provider register --home %s", home), 1);
        kumo_buf_free(&pems[i]);
    }
    static const char garbage[] = "this is not a certificate\n";
    file_write(path, garbage, sizeof(garbage) - 1u);
    assert_int_equal(kumo_test_net_kumo(&g, "provider register --home %s", home), 1);
    /* Nothing was sent: the stand-in node never saw a connection. */
    int c = accept(lfd, NULL, NULL);
    assert_true(c < 0);
    (void)close(lfd);
    kumo_crypto_key_wipe(&ca);
    kumo_crypto_key_wipe(&other);
}

static int setup(void **state)
{
    (void)state;
    return kumo_test_net_bare(&g);
}

static int teardown(void **state)
{
    (void)state;
    kumo_test_net_stop(&g);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_genesis_total_over_ceiling_refused),
        cmocka_unit_test(test_register_refuses_bad_roots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
