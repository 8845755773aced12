/*
 * nft.c - applies the isolation rules (overlay.h): `nft -f -` with the script on its standard
 * input, its complaint (standard error) kept for the caller's error.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "overlay/overlay.h"

extern char **environ;

/* Writes all of data to fd (a pipe); false on a write error. */
static bool nft_write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads what fd gives until its end (the first sizeof-1 bytes kept, NUL-terminated). */
static void nft_read_all(int fd, char *out, size_t cap)
{
    size_t have = 0;
    for (;;) {
        char chunk[256];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        size_t take = (size_t)n < cap - 1u - have ? (size_t)n : cap - 1u - have;
        memcpy(out + have, chunk, take);
        have += take;
    }
    out[have] = '\0';
    for (size_t i = 0; i < have; i++) {
        out[i] = out[i] == '\n' || out[i] == '"' ? ' ' : out[i];
    }
}

static int nft_spawn(int in[2], int errp[2], pid_t *pid, kumo_err_ctx_t *err)
{
    posix_spawn_file_actions_t fa;
    KUMO_ENSURE(posix_spawn_file_actions_init(&fa) == 0, err, KUMO_ENOMEM, "nft actions");
    int rc = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    rc = rc == 0 ? posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO) : rc;
    rc = rc == 0 ? posix_spawn_file_actions_adddup2(&fa, errp[1], STDOUT_FILENO) : rc;
    rc = rc == 0 ? posix_spawn_file_actions_addclose(&fa, in[1]) : rc;
    rc = rc == 0 ? posix_spawn_file_actions_addclose(&fa, errp[0]) : rc;
    char *const argv[] = {(char *)(uintptr_t) "nft", (char *)(uintptr_t) "-f",
                          (char *)(uintptr_t) "-", NULL};
    rc = rc == 0 ? posix_spawnp(pid, "nft", &fa, NULL, argv, environ) : rc;
    (void)posix_spawn_file_actions_destroy(&fa);
    KUMO_ENSURE(rc == 0, err, KUMO_EIO, "nft: cannot run it: %s", strerror(rc));
    return 0;
}

int kumo_overlay_isolation_apply(kumo_bytes_t script, kumo_err_ctx_t *err)
{
    int in[2] = {-1, -1};
    int errp[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            (void)(in[i] >= 0 ? close(in[i]) : 0);
            (void)(errp[i] >= 0 ? close(errp[i]) : 0);
        }
        return kumo_err_set(err, KUMO_EIO, "nft pipes: %s", strerror(e));
    }
    pid_t pid = -1;
    int rc = nft_spawn(in, errp, &pid, err);
    (void)close(in[0]);
    (void)close(errp[1]);
    /* The daemon ignores SIGPIPE: a dead nft makes the write fail, nothing more. */
    bool wrote = rc == 0 && nft_write_all(in[1], script.ptr, script.len);
    (void)close(in[1]);
    char complaint[512];
    nft_read_all(errp[0], complaint, sizeof(complaint));
    (void)close(errp[0]);
    int status = 0;
    while (rc == 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc == 0 && (!wrote || !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        rc = kumo_err_set(err, KUMO_EIO, "nft -f -: status %d: %s", status, complaint);
    }
    return rc;
}
