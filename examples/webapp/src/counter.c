/*
 * counter.c - the webapp's tiny database: an HTTP counter on $PORT (default 7000).
 * GET /incr adds one and answers the new value, GET /get answers it, GET /healthz "ok".
 * One connection at a time; requests are bounded and time out after 2 s.
 */
#include "mini.h"

int main(void)
{
    int lfd = mini_listen("PORT", 7000);
    unsigned long long count = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        mini_timeouts(fd);
        char path[256];
        char body[64];
        if (mini_read_path(fd, path, sizeof(path)) != 0) {
            mini_reply(fd, 400, "bad request\n");
        } else if (strcmp(path, "/incr") == 0 || strcmp(path, "/get") == 0) {
            count += strcmp(path, "/incr") == 0 ? 1u : 0u;
            snprintf(body, sizeof(body), "%llu\n", count);
            mini_reply(fd, 200, body);
        } else if (strcmp(path, "/healthz") == 0) {
            mini_reply(fd, 200, "ok\n");
        } else {
            mini_reply(fd, 404, "not found\n");
        }
        close(fd);
    }
}
