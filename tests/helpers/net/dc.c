/*
 * dc.c - provider daemons and the tenant's side of the provider API for adversary tests
 * (dc.h).
 */
#include "helpers/net/dc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "helpers/podman.h"

#include "codec/codec.h"
#include "helpers/testutil.h"
#include "tls/tls.h"

#define DC_LOG_LINES 60u

/* The commands' output (init, register) on a failure: the net's dir goes at teardown. */
static void dc_cmd_log_print(const kumo_test_net_t *tn)
{
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/cmd.log", tn->dir);
    FILE *f = fopen(path, "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        fputs(line, stderr);
    }
    if (f != NULL) {
        (void)fclose(f);
    }
}

static uint32_t dc_api_port(const kumo_test_net_t *tn, uint32_t index)
{
    return tn->base_port + 20u + index;
}

int kumo_test_dc_start(kumo_test_net_t *tn, kumo_test_dc_t *dc)
{
    size_t before = kumo_test_dc_log_count(dc, "event=api_listening");
    dc->pid = fork();
    assert_true(dc->pid >= 0);
    if (dc->pid == 0) {
        int fd = open(dc->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execl(tn->kumo, "kumo", "provider", "start", "--home", dc->home, (char *)NULL);
        _exit(127);
    }
    if (!kumo_test_dc_wait_log(dc, "event=api_listening", before + 1u, KUMO_TEST_NET_WAIT_MS)) {
        kumo_test_dc_log_print(dc);
        return -1;
    }
    return 0;
}

void kumo_test_dc_stop(kumo_test_dc_t *dc)
{
    if (dc->pid <= 0) {
        return;
    }
    (void)kill(dc->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(dc->pid, NULL, WNOHANG) == dc->pid) {
            dc->pid = 0;
            return;
        }
        kumo_test_pause_ms(100);
    }
    (void)kill(dc->pid, SIGKILL);
    (void)waitpid(dc->pid, NULL, 0);
    dc->pid = 0;
}

void kumo_test_dc_remove(kumo_test_dc_t *dc)
{
    kumo_test_dc_stop(dc);
    if (dc->addr[0] != '\0') {
        kumo_test_podman_cleanup("kumo.provider", dc->addr);
    }
}

int kumo_test_dc_add(kumo_test_net_t *tn,
                     uint32_t index,
                     const char *region,
                     const char *socket,
                     const char *cfg,
                     kumo_test_dc_t *dc)
{
    assert_true(index < KUMO_TEST_DC_MAX);
    memset(dc, 0, sizeof(*dc));
    dc->index = index;
    (void)snprintf(dc->home, sizeof(dc->home), "%s/provider%u", tn->dir, index);
    (void)snprintf(dc->log, sizeof(dc->log), "%s/dc%u.log", tn->dir, index);
    (void)snprintf(dc->api, sizeof(dc->api), "127.0.0.1:%u", dc_api_port(tn, index));
    if (kumo_test_net_kumo(tn,
                           "provider init --home %s --region %s --node http://127.0.0.1:%u "
                           "--api-listen %s --runtime-socket %s",
                           dc->home, region, kumo_test_net_rpc_port(tn, 0), dc->api, socket) != 0) {
        fprintf(stderr, "provider init of %s failed:\n", dc->home);
        dc_cmd_log_print(tn);
        return -1;
    }
    char path[PATH_MAX + 16];
    (void)snprintf(path, sizeof(path), "%s/config.yaml", dc->home);
    char ports[160];
    uint32_t first = tn->base_port + 30u + 4u * index;
    /* The tunnel server's port: one nothing else uses (providers share 127.0.0.1 here). */
    (void)snprintf(ports, sizeof(ports),
                   "port_range_min: %u\nport_range_max: %u\ntunnel_port: %u\n", first, first + 3u,
                   kumo_test_free_port());
    kumo_test_net_cfg_apply(path, ports);
    if (cfg != NULL) {
        kumo_test_net_cfg_apply(path, cfg);
    }
    if (kumo_test_net_kumo(tn, "provider register --home %s --host-uri https://%s", dc->home,
                           dc->api) != 0) {
        fprintf(stderr, "provider register of %s failed:\n", dc->home);
        dc_cmd_log_print(tn);
        kumo_test_net_logs_print(tn);
        return -1;
    }
    char cmd[PATH_MAX * 3];
    (void)snprintf(cmd, sizeof(cmd), "'%s' keys show provider --address --home '%s'", tn->kumo,
                   dc->home);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(dc->addr, sizeof(dc->addr), p));
    (void)pclose(p);
    dc->addr[strcspn(dc->addr, "\r\n")] = '\0';
    return kumo_test_dc_start(tn, dc);
}

size_t kumo_test_dc_log_count(const kumo_test_dc_t *dc, const char *needle)
{
    FILE *f = fopen(dc->log, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL ? 1u : 0u;
    }
    (void)fclose(f);
    return n;
}

bool kumo_test_dc_wait_log(const kumo_test_dc_t *dc,
                           const char *needle,
                           size_t count,
                           uint32_t timeout_ms)
{
    uint64_t deadline = kumo_test_now_ms() + timeout_ms;
    while (kumo_test_dc_log_count(dc, needle) < count) {
        if (kumo_test_now_ms() > deadline) {
            return false;
        }
        kumo_test_pause_ms(100);
    }
    return true;
}

void kumo_test_dc_log_print(const kumo_test_dc_t *dc)
{
    FILE *f = fopen(dc->log, "r");
    if (f == NULL) {
        return;
    }
    fprintf(stderr, "---- %s (last %u lines) ----\n", dc->log, DC_LOG_LINES);
    static char lines[DC_LOG_LINES][512];
    size_t n = 0;
    while (fgets(lines[n % DC_LOG_LINES], sizeof(lines[0]), f) != NULL) {
        n++;
    }
    for (size_t k = n > DC_LOG_LINES ? n - DC_LOG_LINES : 0; k < n; k++) {
        fputs(lines[k % DC_LOG_LINES], stderr);
    }
    (void)fclose(f);
}

static size_t dc_write_cb(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    kumo_buf_t *out = ctx;
    return out == NULL || kumo_buf_append(out, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* Client certificate and key PEM for key (self-signed, CN = its address). */
static void dc_client_pem(const kumo_crypto_keypair_t *key, kumo_buf_t *cert, kumo_buf_t *pem)
{
    uint8_t addr[KUMO_ADDRESS_BYTES];
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_crypto_address_from_pubkey(key->pubkey, addr);
    kumo_codec_address_encode(addr, text);
    assert_int_equal(kumo_tls_cert_self_signed(key, text, 1, cert, NULL), 0);
    assert_int_equal(kumo_tls_key_pem(key, pem, NULL), 0);
}

long kumo_test_dc_request(const kumo_test_dc_t *dc,
                          const kumo_crypto_keypair_t *key,
                          const char *method,
                          const char *path,
                          kumo_bytes_t body,
                          kumo_buf_t *out)
{
    char url[512];
    char ca[PATH_MAX + 16];
    (void)snprintf(url, sizeof(url), "https://%s%s", dc->api, path);
    (void)snprintf(ca, sizeof(ca), "%s/ca.crt", dc->home);
    kumo_buf_t cert;
    kumo_buf_t pem;
    kumo_buf_init(&cert, 16384);
    kumo_buf_init(&pem, 16384);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_blob cb = {0};
    struct curl_blob kb = {0};
    if (key != NULL) {
        dc_client_pem(key, &cert, &pem);
        cb = (struct curl_blob){cert.ptr, cert.len, CURL_BLOB_COPY};
        kb = (struct curl_blob){pem.ptr, pem.len, CURL_BLOB_COPY};
        (void)curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
        (void)curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
    }
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (body.len > 0 || strcmp(method, "PUT") == 0) {
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                               body.ptr != NULL ? (const char *)body.ptr : "");
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
    }
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dc_write_cb);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    kumo_buf_free(&cert);
    if (pem.ptr != NULL) {
        memset(pem.ptr, 0, pem.cap);
    }
    kumo_buf_free(&pem);
    return status;
}

void kumo_test_account_make(kumo_test_net_t *tn,
                            const char *name,
                            uint8_t tag,
                            uint64_t amount,
                            kumo_crypto_keypair_t *key,
                            char addr[KUMO_ADDRESS_TEXT_BYTES])
{
    uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
    memset(seed, tag, sizeof(seed));
    kumo_crypto_key_from_seed(seed, key);
    uint8_t raw[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(key->pubkey, raw);
    kumo_codec_address_encode(raw, addr);
    char path[PATH_MAX + 64];
    (void)snprintf(path, sizeof(path), "%s/%s.seed", tn->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof(seed); i++) {
        fprintf(f, "%02x", seed[i]);
    }
    fprintf(f, "\n");
    assert_int_equal(fclose(f), 0);
    char cmd[PATH_MAX * 3];
    (void)snprintf(cmd, sizeof(cmd), "'%s' keys import %s --home '%s/%s' < '%s' >/dev/null 2>&1",
                   tn->kumo, name, tn->dir, name, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(kumo_test_net_kumo(tn,
                                        "tx bank send --from tenant --home %s/tenant --node "
                                        "http://127.0.0.1:%u %s %llu --wait",
                                        tn->dir, kumo_test_net_rpc_port(tn, 0), addr,
                                        (unsigned long long)amount),
                     0);
}
