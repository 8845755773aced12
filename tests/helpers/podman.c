/*
 * podman.c - the podman test helpers (podman.h).
 */
#include "helpers/podman.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PODMAN "podman --runtime /usr/sbin/runc"

static bool socket_accepts(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path)) {
        return false;
    }
    memcpy(sa.sun_path, path, len + 1u);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        (void)close(fd);
    }
    return ok;
}

static bool podman_serve(kumo_test_podman_t *p);

bool kumo_test_podman_start(kumo_test_podman_t *p)
{
    memset(p, 0, sizeof(*p));
    if (system("command -v podman >/dev/null 2>&1 && test -x /usr/sbin/runc") != 0) {
        fprintf(stderr, "podman or runc is not installed (tools/deps.sh installs them)\n");
        return false;
    }
    (void)snprintf(p->dir, sizeof(p->dir), "/tmp/kumo-podman-XXXXXX");
    if (mkdtemp(p->dir) == NULL) {
        return false;
    }
    (void)snprintf(p->socket, sizeof(p->socket), "%s/podman.sock", p->dir);
    return podman_serve(p);
}

void kumo_test_podman_pause(kumo_test_podman_t *p)
{
    if (p->pid > 0) {
        (void)kill(p->pid, SIGTERM);
        (void)waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    (void)unlink(p->socket);
}

bool kumo_test_podman_resume(kumo_test_podman_t *p)
{
    return p->pid == 0 && podman_serve(p);
}

/* `podman system service` on p->socket, waited for (30 s). */
static bool podman_serve(kumo_test_podman_t *p)
{
    char uri[400];
    (void)snprintf(uri, sizeof(uri), "unix://%s", p->socket);
    p->pid = fork();
    if (p->pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            (void)dup2(null, 0);
            (void)dup2(null, 1);
            (void)dup2(null, 2);
        }
        execlp("podman", "podman", "--runtime", "/usr/sbin/runc", "system", "service", "--time",
               "0", uri, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        if (socket_accepts(p->socket)) {
            return true;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    fprintf(stderr, "podman system service did not open %s within 30 s\n", p->socket);
    kumo_test_podman_stop(p);
    return false;
}

void kumo_test_podman_stop(kumo_test_podman_t *p)
{
    if (p->pid > 0) {
        (void)kill(p->pid, SIGTERM);
        (void)waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->dir[0] != '\0') {
        char cmd[400];
        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", p->dir);
        }
        p->dir[0] = '\0';
    }
}

bool kumo_test_podman_busybox_image(void)
{
    if (system(PODMAN " image exists localhost/kumo-test-busybox:1") == 0) {
        return true;
    }
    const char *script =
        "set -e; d=$(mktemp -d); mkdir -p $d/rootfs/bin $d/rootfs/www; "
        "cp /bin/busybox $d/rootfs/bin/; "
        "for c in sh httpd echo sleep cat; do ln -sf busybox $d/rootfs/bin/$c; done; "
        "echo 'hello from kumo' > $d/rootfs/www/index.html; "
        "tar -C $d/rootfs -cf $d/img.tar .; " PODMAN
        " import --change ENV=PATH=/bin $d/img.tar localhost/kumo-test-busybox:1 >/dev/null; rm "
        "-rf $d";
    return system(script) == 0; /* system() runs it with sh -c */
}

void kumo_test_podman_cleanup(const char *key, const char *value)
{
    char cmd[1000];
    (void)snprintf(cmd, sizeof(cmd),
                   PODMAN " ps -aq --filter label=%s=%s | xargs -r " PODMAN
                          " rm -f -t 1 >/dev/null 2>&1; " PODMAN
                          " network ls -q --filter label=%s=%s | xargs -r " PODMAN
                          " network rm -f >/dev/null 2>&1; " PODMAN
                          " volume ls -q --filter label=%s=%s | xargs -r " PODMAN
                          " volume rm -f >/dev/null 2>&1",
                   key, value, key, value, key, value);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of label %s=%s failed\n", key, value);
    }
    if (strcmp(key, "kumo.provider") == 0 && strlen(value) > 5) {
        /* The provider's isolation tables (kumo_ and 8 characters of its address) stay after
         * it stops, for its containers: they go with them. */
        (void)snprintf(cmd, sizeof(cmd),
                       "nft delete table inet kumo_%.8s >/dev/null 2>&1; "
                       "nft delete table bridge kumo_%.8s >/dev/null 2>&1; true",
                       value + 5, value + 5);
        int rc = system(cmd);
        (void)rc;
    }
}

unsigned kumo_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return port;
}
