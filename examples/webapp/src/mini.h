/*
 * mini.h - the little HTTP plumbing the two example workloads share: a listening socket, a
 * bounded request read with a timeout, a reply, and a client GET that resolves names through
 * /etc/hosts (the provider writes workload names there; static binaries have no NSS).
 */
#ifndef KUMO_EXAMPLE_MINI_H
#define KUMO_EXAMPLE_MINI_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MINI_REQUEST_MAX 4096

static inline int mini_listen(const char *env_name, int default_port)
{
    const char *p = getenv(env_name);
    int port = p != NULL ? atoi(p) : default_port;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
        perror("listen");
        exit(1);
    }
    printf("listening on port %d\n", port);
    fflush(stdout);
    return fd;
}

static inline void mini_timeouts(int fd)
{
    struct timeval tv = {2, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Reads until the end of the headers (or the bound); returns the path of "GET <path> ". */
static inline int mini_read_path(int fd, char *path, size_t cap)
{
    char req[MINI_REQUEST_MAX + 1];
    size_t len = 0;
    while (len < MINI_REQUEST_MAX) {
        ssize_t n = recv(fd, req + len, MINI_REQUEST_MAX - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL) {
            break;
        }
    }
    req[len] = '\0';
    if (strncmp(req, "GET ", 4) != 0) {
        return -1;
    }
    const char *p = req + 4;
    size_t n = strcspn(p, " \r\n");
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(path, p, n);
    path[n] = '\0';
    return 0;
}

static inline void mini_reply(int fd, int status, const char *body)
{
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", strlen(body));
    if (n > 0 && send(fd, head, (size_t)n, MSG_NOSIGNAL) == n) {
        (void)send(fd, body, strlen(body), MSG_NOSIGNAL);
    }
}

/* name -> IPv4 from a numeric address or /etc/hosts. */
static inline int mini_resolve(const char *name, struct in_addr *out)
{
    if (inet_pton(AF_INET, name, out) == 1) {
        return 0;
    }
    FILE *f = fopen("/etc/hosts", "r");
    char line[512];
    int rc = -1;
    while (rc != 0 && f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL;
        char *addr = strtok_r(line, " \t\r\n", &save);
        if (addr == NULL || addr[0] == '#') {
            continue;
        }
        for (char *h = strtok_r(NULL, " \t\r\n", &save); h != NULL;
             h = strtok_r(NULL, " \t\r\n", &save)) {
            if (strcmp(h, name) == 0 && inet_pton(AF_INET, addr, out) == 1) {
                rc = 0;
                break;
            }
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

/* GET http://host:port/path; the response body into out. */
static inline int mini_get(const char *host, int port, const char *path, char *out, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (mini_resolve(host, &sa.sin_addr) != 0) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    mini_timeouts(fd);
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
    char resp[MINI_REQUEST_MAX + 1];
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && n > 0 &&
        send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        ssize_t r;
        while (len < MINI_REQUEST_MAX &&
               (r = recv(fd, resp + len, MINI_REQUEST_MAX - len, 0)) > 0) {
            len += (size_t)r;
        }
    }
    close(fd);
    resp[len] = '\0';
    const char *body = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.0 200", 12) != 0 || body == NULL) {
        return -1;
    }
    snprintf(out, cap, "%s", body + 4);
    return 0;
}

#endif
