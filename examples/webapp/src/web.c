/*
 * web.c - the webapp's web tier: an HTTP server on $PORT (default 8080). GET / counts the
 * visit in the counter database at $COUNTER_URL (http://host:port) or else at
 * $COUNTER_HOST:$COUNTER_PORT (default counter:7000; the workload's name on the network) and
 * answers "hello from kumo webapp: visit N"; GET /healthz answers "ok".
 */
#include "mini.h"

int main(void)
{
    char host[128];
    const char *h = getenv("COUNTER_HOST");
    snprintf(host, sizeof(host), "%s", h != NULL ? h : "counter");
    int cport = mini_port(getenv("COUNTER_PORT"), 7000);
    const char *url = getenv("COUNTER_URL");
    if (url != NULL && mini_parse_url(url, host, sizeof(host), &cport) != 0) {
        fprintf(stderr, "COUNTER_URL %s is not http://host:port\n", url);
        return 1;
    }
    int lfd = mini_listen("PORT", 8080);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        mini_timeouts(fd);
        char path[256];
        char count[64];
        char body[256];
        if (mini_read_path(fd, path, sizeof(path)) != 0) {
            mini_reply(fd, 400, "bad request\n");
        } else if (strcmp(path, "/healthz") == 0) {
            mini_reply(fd, 200, "ok\n");
        } else if (strcmp(path, "/") != 0) {
            mini_reply(fd, 404, "not found\n");
        } else if (mini_get(host, cport, "/incr", count, sizeof(count)) != 0) {
            snprintf(body, sizeof(body), "hello from kumo webapp: counter %s:%d unavailable\n",
                     host, cport);
            mini_reply(fd, 503, body);
        } else {
            snprintf(body, sizeof(body), "hello from kumo webapp: visit %s", count);
            mini_reply(fd, 200, body);
        }
        close(fd);
    }
}
