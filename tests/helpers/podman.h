/*
 * podman.h - test helpers for the container runtime: a private podman API service (runc,
 * on a socket in a temp dir), a tiny busybox image built offline, and cleanup of everything
 * carrying a test's unique label. Tests must not touch containers they did not create.
 */
#ifndef KUMO_TESTS_HELPERS_PODMAN_H
#define KUMO_TESTS_HELPERS_PODMAN_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct kumo_test_podman {
    pid_t pid;
    char dir[64];
    char socket[96]; /* fits sockaddr_un.sun_path (108) */
} kumo_test_podman_t;

/* Starts `podman system service` on dir/podman.sock and waits (deadline 30 s) until the
 * socket accepts. Returns false (with the reason on stderr) when podman cannot run here. */
bool kumo_test_podman_start(kumo_test_podman_t *p);
void kumo_test_podman_stop(kumo_test_podman_t *p);
/* A runtime outage: the API service stops (its socket goes away, running containers stay),
 * then starts again on the same socket (waits 30 s until it accepts; false if it did not). */
void kumo_test_podman_pause(kumo_test_podman_t *p);
bool kumo_test_podman_resume(kumo_test_podman_t *p);
/* localhost/kumo-test-busybox:1 (busybox with sh, httpd, echo, sleep and /www/index.html
 * saying "hello from kumo"), imported once. */
bool kumo_test_podman_busybox_image(void);
/* Removes every container and network labelled key=value (podman CLI). */
void kumo_test_podman_cleanup(const char *key, const char *value);
/* A free TCP port on 127.0.0.1 (bound and released). */
unsigned kumo_test_free_port(void);

#endif
