/*
 * test_peer.c - a peer request is bounded on the thread that makes it (src/provider/peer.c
 * pd_peer_perform_within): against a peer that accepts the connection and never answers (a
 * listening socket nobody reads: the kernel completes the handshake), the request ends with a
 * timeout instead of holding the caller, also with a budget under the connect timeout; a
 * budget of 0 performs nothing. The test's own deadline (ctest's) is what would catch a hang;
 * nothing here asserts on elapsed time.
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "provider/daemon_int.h"

/* A listening socket on loopback that never accepts nor answers; its port in *port. */
static int silent_peer(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static CURL *request_to(uint16_t port)
{
    char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/deployments/x/1/endpoints",
                   (unsigned)port);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static void test_peer_silent_times_out_within_budget(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = silent_peer(&port);
    static const uint64_t budgets_ms[] = {300, 1, PD_PEER_CONNECT_MS / 4u};
    for (size_t i = 0; i < sizeof(budgets_ms) / sizeof(budgets_ms[0]); i++) {
        CURL *c = request_to(port);
        uint64_t spent_ms = 0;
        CURLcode cc = pd_peer_perform_within(c, budgets_ms[i], &spent_ms);
        curl_easy_cleanup(c);
        if (cc != CURLE_OPERATION_TIMEDOUT) {
            fail_msg("budget %llu ms: got %s", (unsigned long long)budgets_ms[i],
                     curl_easy_strerror(cc));
        }
    }
    (void)close(fd);
}

static void test_peer_budget_zero_asks_nothing(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = silent_peer(&port);
    CURL *c = request_to(port);
    uint64_t spent_ms = 99;
    assert_int_equal(pd_peer_perform_within(c, 0, &spent_ms), CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(spent_ms, 0);
    curl_easy_cleanup(c);
    (void)close(fd);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_silent_times_out_within_budget),
        cmocka_unit_test(test_peer_budget_zero_asks_nothing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
