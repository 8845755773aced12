/*
 * mini.h - the little HTTP plumbing the two example workloads share: a listening socket, a
 * bounded request read with a timeout, a reply, and a client GET that resolves names through
 * /etc/hosts (ExtraHosts) and then a DNS query of its own (static binaries have no NSS).
 */
#ifndef KUMO_EXAMPLE_MINI_H
#define KUMO_EXAMPLE_MINI_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MINI_REQUEST_MAX 4096

/* A port number from text; fallback when it is not one. */
static inline int mini_port(const char *text, int fallback)
{
    char *end = NULL;
    long v = text != NULL ? strtol(text, &end, 10) : 0;
    return text != NULL && end != text && *end == '\0' && v > 0 && v < 65536 ? (int)v : fallback;
}

/* "http://host:port" (a trailing "/" allowed) into host and port. */
static inline int mini_parse_url(const char *url, char *host, size_t cap, int *port)
{
    if (strncmp(url, "http://", 7) != 0) {
        return -1;
    }
    const char *h = url + 7;
    size_t n = strcspn(h, ":/");
    if (n == 0 || n >= cap) {
        return -1;
    }
    char digits[8] = {0};
    if (h[n] == ':') {
        size_t d = strcspn(h + n + 1, "/");
        if (d == 0 || d >= sizeof(digits) ||
            (h[n + 1 + d] != '\0' && strcmp(h + n + 1 + d, "/") != 0)) {
            return -1;
        }
        memcpy(digits, h + n + 1, d);
    } else if (h[n] != '\0' && strcmp(h + n, "/") != 0) {
        return -1;
    }
    int p = digits[0] != '\0' ? mini_port(digits, -1) : 80;
    if (p < 0) {
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = p;
    return 0;
}

/* As PID 1 of its container the program has no default SIGTERM action: exit on it, so that
 * stopping the container is immediate instead of waiting for the kill after the grace. */
static inline void mini_on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static inline int mini_listen(const char *env_name, int default_port)
{
    int port = mini_port(getenv(env_name), default_port);
    (void)signal(SIGTERM, mini_on_term);
    (void)signal(SIGINT, mini_on_term);
    (void)signal(SIGPIPE, SIG_IGN);
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

/* name -> IPv4 from /etc/hosts. */
static inline int mini_hosts(const char *name, struct in_addr *out)
{
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

/* The first "nameserver" of /etc/resolv.conf. */
static inline int mini_nameserver(struct in_addr *out)
{
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[256];
    int rc = -1;
    while (rc != 0 && f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char addr[64];
        if (sscanf(line, "nameserver %63s", addr) == 1 && inet_pton(AF_INET, addr, out) == 1) {
            rc = 0;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

/* Skips a (possibly compressed) DNS name at msg[*at]; -1 past the end. */
static inline int mini_dns_skip_name(const unsigned char *msg, size_t len, size_t *at)
{
    while (*at < len) {
        unsigned char l = msg[*at];
        if ((l & 0xC0u) == 0xC0u) {
            *at += 2;
            return *at <= len ? 0 : -1;
        }
        *at += 1u + l;
        if (l == 0) {
            return 0;
        }
    }
    return -1;
}

/* The first A record of a DNS answer to query id. */
static inline int
mini_dns_answer(const unsigned char *msg, size_t len, unsigned id, struct in_addr *out)
{
    if (len < 12 || ((unsigned)msg[0] << 8 | msg[1]) != id || (msg[3] & 0x0Fu) != 0) {
        return -1;
    }
    unsigned answers = (unsigned)msg[6] << 8 | msg[7];
    size_t at = 12;
    if (mini_dns_skip_name(msg, len, &at) != 0 || at + 4 > len) {
        return -1;
    }
    at += 4; /* qtype, qclass */
    for (unsigned i = 0; i < answers; i++) {
        if (mini_dns_skip_name(msg, len, &at) != 0 || at + 10 > len) {
            return -1;
        }
        unsigned type = (unsigned)msg[at] << 8 | msg[at + 1];
        size_t rdlen = (size_t)msg[at + 8] << 8 | msg[at + 9];
        at += 10;
        if (at + rdlen > len) {
            return -1;
        }
        if (type == 1 && rdlen == 4) {
            memcpy(&out->s_addr, msg + at, 4);
            return 0;
        }
        at += rdlen;
    }
    return -1;
}

/* name -> IPv4 by one DNS query (UDP, 2 s) to the resolv.conf nameserver: Docker's embedded
 * DNS or podman's network DNS answer workload names there. */
static inline int mini_dns(const char *name, struct in_addr *out)
{
    struct sockaddr_in ns = {.sin_family = AF_INET, .sin_port = htons(53)};
    size_t nlen = strlen(name);
    if (mini_nameserver(&ns.sin_addr) != 0 || nlen == 0 || nlen > 200) {
        return -1;
    }
    unsigned char q[256] = {0};
    unsigned id = (unsigned)getpid() & 0xFFFFu;
    q[0] = (unsigned char)(id >> 8);
    q[1] = (unsigned char)id;
    q[2] = 0x01; /* recursion desired */
    q[5] = 1;    /* one question */
    size_t at = 12;
    for (const char *label = name; *label != '\0';) {
        size_t l = strcspn(label, ".");
        if (l == 0 || l > 63) {
            return -1;
        }
        q[at++] = (unsigned char)l;
        memcpy(q + at, label, l);
        at += l;
        label += l + (label[l] == '.' ? 1u : 0u);
    }
    at += 1;       /* root */
    q[at + 1] = 1; /* type A */
    q[at + 3] = 1; /* class IN */
    at += 4;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    mini_timeouts(fd);
    unsigned char r[512];
    ssize_t n = -1;
    if (sendto(fd, q, at, 0, (struct sockaddr *)&ns, sizeof(ns)) == (ssize_t)at) {
        n = recv(fd, r, sizeof(r), 0);
    }
    close(fd);
    return n > 0 ? mini_dns_answer(r, (size_t)n, id, out) : -1;
}

/* name -> IPv4: a numeric address, /etc/hosts (ExtraHosts), then DNS. */
static inline int mini_resolve(const char *name, struct in_addr *out)
{
    if (inet_pton(AF_INET, name, out) == 1) {
        return 0;
    }
    return mini_hosts(name, out) == 0 || mini_dns(name, out) == 0 ? 0 : -1;
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
