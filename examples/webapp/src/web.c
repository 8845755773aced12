/*
 * web.c - the webapp's web tier: an HTTP server on $PORT (default 8080). GET / counts the
 * visit in the counter database at $COUNTER_HOST:$COUNTER_PORT (default counter:7000) and
 * answers "hello from kumo webapp: visit N"; GET /healthz answers "ok".
 */
#include "mini.h"

int main(void)
{
    const char *host = getenv("COUNTER_HOST") != NULL ? getenv("COUNTER_HOST") : "counter";
    int cport = getenv("COUNTER_PORT") != NULL ? atoi(getenv("COUNTER_PORT")) : 7000;
    int lfd = mini_listen("PORT", 8080);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        mini_timeouts(fd);
        char path[256];
        char count[64];
        char body[160];
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
