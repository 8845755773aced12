/*
 * deploy_shell.c - `kumo deploy shell STACK.yml WORKLOAD[/INSTANCE] [-- CMD...]`: a process
 * in a container of the tenant's deployment, through the provider API (docs/provider-api.md
 * "shell") over the tenant's TLS connection. With a terminal on stdin and no command it is an
 * interactive shell: the terminal in raw mode, its size sent at the start and again on every
 * SIGWINCH. Otherwise a one-shot command: stdin piped (end of input sent at its end), stdout
 * and stderr apart. The command exits with the process's exit code.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/deploy_int.h"
#include "provider/provider_api.h"

/* Exit code when the session ended without the process's (provider gone, refused). */
#define SHELL_EXIT_LOST 255

typedef struct shell_session {
    deploy_upgrade_t up;
    kumo_buf_t in; /* frames from the provider not yet whole */
    bool tty;
    bool done;
    int exit_code;
} shell_session_t;

static int shell_winch_pipe[2] = {-1, -1};

static void shell_winch_handler(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(shell_winch_pipe[1], "w", 1);
    errno = saved;
}

static void shell_out(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Bytes from the provider: whole frames handled, the rest kept. */
static int shell_recv_cb(void *ctx, const uint8_t *data, size_t len, kumo_err_ctx_t *err)
{
    shell_session_t *s = ctx;
    if (len == 0) {
        return 0;
    }
    KUMO_ENSURE(kumo_buf_append(&s->in, data, len) == 0, err, KUMO_ELIMIT,
                "provider: a frame over the limit");
    size_t pos = 0;
    while (!s->done && pos < s->in.len) {
        kumo_provider_shell_frame_t f;
        size_t used = 0;
        KUMO_GUARD(kumo_provider_shell_frame_parse(
            kumo_bytes_make(s->in.ptr + pos, s->in.len - pos), false, &f, &used, err));
        if (used == 0) {
            break;
        }
        if (f.type == KUMO_PROVIDER_SHELL_STDOUT || f.type == KUMO_PROVIDER_SHELL_STDERR) {
            shell_out(f.type == KUMO_PROVIDER_SHELL_STDOUT ? STDOUT_FILENO : STDERR_FILENO,
                      f.payload.ptr, f.payload.len);
        } else if (f.type == KUMO_PROVIDER_SHELL_EXIT) {
            s->exit_code = (int)f.exit_code;
            s->done = true;
        } else {
            KUMO_ASSERT(f.type == KUMO_PROVIDER_SHELL_ERROR);
            s->done = true;
            pos += used;
            return kumo_err_set(err, KUMO_EIO, "provider: %.*s", (int)f.payload.len,
                                (const char *)f.payload.ptr);
        }
        pos += used;
    }
    if (pos > 0) {
        memmove(s->in.ptr, s->in.ptr + pos, s->in.len - pos);
        s->in.len -= pos;
    }
    return 0;
}

static int shell_frame_send(shell_session_t *s,
                            kumo_provider_shell_type_t type,
                            const uint8_t *payload,
                            uint32_t len,
                            kumo_err_ctx_t *err)
{
    uint8_t frame[KUMO_PROVIDER_SHELL_HEADER_BYTES + KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX];
    KUMO_ASSERT(len <= KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX);
    kumo_provider_shell_header_put(type, len, frame);
    if (len > 0) {
        memcpy(frame + KUMO_PROVIDER_SHELL_HEADER_BYTES, payload, len);
    }
    return deploy_upgrade_send(&s->up, frame, KUMO_PROVIDER_SHELL_HEADER_BYTES + len, shell_recv_cb,
                               s, err);
}

/* The terminal's size (24x80 when it cannot be read). */
static void shell_window(uint16_t *rows, uint16_t *cols)
{
    struct winsize ws = {0};
    bool ok = ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0;
    *rows = ok && ws.ws_row <= KUMO_PROVIDER_SHELL_WINDOW_MAX ? ws.ws_row : 24u;
    *cols = ok && ws.ws_col <= KUMO_PROVIDER_SHELL_WINDOW_MAX ? ws.ws_col : 80u;
}

static int shell_resize_send(shell_session_t *s, kumo_err_ctx_t *err)
{
    uint16_t rows = 0;
    uint16_t cols = 0;
    shell_window(&rows, &cols);
    uint8_t p[4] = {(uint8_t)(rows >> 8), (uint8_t)rows, (uint8_t)(cols >> 8), (uint8_t)cols};
    return shell_frame_send(s, KUMO_PROVIDER_SHELL_RESIZE, p, sizeof(p), err);
}

/* Moves bytes both ways until the provider sends the exit code or closes. */
static int shell_pump(shell_session_t *s, kumo_err_ctx_t *err)
{
    bool stdin_open = true;
    KUMO_GUARD(shell_recv_cb(s, s->up.early.ptr, s->up.early.len, err));
    while (!s->done) {
        struct pollfd pfd[3] = {{.fd = s->up.fd, .events = POLLIN},
                                {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
                                {.fd = shell_winch_pipe[0], .events = POLLIN}};
        bool closed = false;
        KUMO_GUARD(deploy_upgrade_recv(&s->up, shell_recv_cb, s, &closed, err));
        KUMO_ENSURE(!closed || s->done, err, KUMO_EIO,
                    "the provider closed the session (its daemon restarted or stopped?)");
        if (s->done || poll(pfd, 3, -1) < 0) {
            KUMO_ENSURE(s->done || errno == EINTR, err, KUMO_EIO, "poll: %s", strerror(errno));
            continue;
        }
        if ((pfd[2].revents & POLLIN) != 0) {
            char drain[16];
            (void)!read(shell_winch_pipe[0], drain, sizeof(drain));
            KUMO_GUARD(shell_resize_send(s, err));
        }
        if ((pfd[1].revents & (POLLIN | POLLHUP)) != 0) {
            uint8_t buf[KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n > 0) {
                KUMO_GUARD(shell_frame_send(s, KUMO_PROVIDER_SHELL_STDIN, buf, (uint32_t)n, err));
            } else if (n == 0 || errno != EINTR) {
                stdin_open = false;
                KUMO_GUARD(shell_frame_send(s, KUMO_PROVIDER_SHELL_EOF, NULL, 0, err));
            }
        }
    }
    return 0;
}

/* The request body for the session. */
static char *shell_body(const char *workload, uint32_t instance, bool tty, cli_args_t *a)
{
    json_t *cmd = json_array();
    for (size_t i = 2; cmd != NULL && i < a->pos_count; i++) {
        (void)json_array_append_new(cmd, json_string(a->pos[i]));
    }
    json_t *j = json_pack("{s:s, s:I, s:b}", "workload", workload, "instance", (json_int_t)instance,
                          "tty", tty);
    if (j != NULL && json_array_size(cmd) > 0) {
        (void)json_object_set(j, "cmd", cmd);
    }
    if (j != NULL && tty) {
        uint16_t rows = 0;
        uint16_t cols = 0;
        shell_window(&rows, &cols);
        (void)json_object_set_new(j, "rows", json_integer(rows));
        (void)json_object_set_new(j, "cols", json_integer(cols));
    }
    json_decref(cmd);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

/* "web" or "web/1". */
static int shell_target_parse(
    const char *arg, char *workload, size_t cap, uint32_t *instance, kumo_err_ctx_t *err)
{
    const char *slash = strchr(arg, '/');
    size_t len = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
    KUMO_ENSURE(len > 0 && len < cap, err, KUMO_EINVAL, "'%s': expected WORKLOAD[/INSTANCE]", arg);
    memcpy(workload, arg, len);
    workload[len] = '\0';
    *instance = 0;
    if (slash != NULL) {
        uint64_t v = 0;
        KUMO_ENSURE(cli_u64_parse(slash + 1, "INSTANCE", &v, NULL) == 0 && v <= UINT32_MAX, err,
                    KUMO_EINVAL, "'%s': expected WORKLOAD[/INSTANCE]", arg);
        *instance = (uint32_t)v;
    }
    return 0;
}

/* The provider running the workload's group. */
static int shell_provider(deploy_flow_t *f, const char *workload, size_t *idx, kumo_err_ctx_t *err)
{
    int gseq = deploy_stack_workload_gseq(&f->stack, workload);
    KUMO_ENSURE(gseq >= 0, err, KUMO_ENOTFOUND, "%s has no workload '%s'", f->a->pos[0], workload);
    f->group_count = f->stack.group_count;
    KUMO_GUARD(deploy_flow_leases_read(f, err));
    const deploy_group_t *g = &f->groups[gseq];
    KUMO_ENSURE(g->leased, err, KUMO_ENOTFOUND, "group %s of workload %s has no active lease",
                f->stack.groups[gseq]->name, workload);
    return deploy_run_peer_find(f, g->provider, idx, err);
}

static int shell_open(deploy_flow_t *f, shell_session_t *s, kumo_err_ctx_t *err)
{
    char workload[KUMO_NAME_BYTES_MAX + 1];
    uint32_t instance = 0;
    KUMO_GUARD(shell_target_parse(f->a->pos[1], workload, sizeof(workload), &instance, err));
    size_t idx = 0;
    KUMO_GUARD(shell_provider(f, workload, &idx, err));
    char *body = shell_body(workload, instance, s->tty, f->a);
    KUMO_ENSURE(body != NULL, err, KUMO_ENOMEM, "shell request");
    char path[256];
    (void)snprintf(path, sizeof(path), "/deployments/%s/shell", f->dep_id);
    long status = 0;
    int rc = deploy_provider_upgrade(&f->tls, &f->peers[idx].p, path, KUMO_PROVIDER_SHELL_PROTOCOL,
                                     kumo_bytes_make(body, strlen(body)), &status, &s->up, err);
    free(body);
    return rc;
}

/* Raw mode for the session's time; the terminal as it was afterwards. */
static bool shell_raw(struct termios *saved)
{
    if (tcgetattr(STDIN_FILENO, saved) != 0) {
        return false;
    }
    struct termios raw = *saved;
    cfmakeraw(&raw);
    return tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

static int shell_session_run(deploy_flow_t *f, shell_session_t *s, kumo_err_ctx_t *err)
{
    KUMO_GUARD(shell_open(f, s, err));
    struct termios saved;
    bool raw = s->tty && shell_raw(&saved);
    struct sigaction sa = {.sa_handler = shell_winch_handler};
    struct sigaction old_sa;
    bool winch = s->tty && pipe(shell_winch_pipe) == 0;
    if (winch) {
        (void)sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGWINCH, &sa, &old_sa);
    }
    int rc = shell_pump(s, err);
    if (winch) {
        (void)sigaction(SIGWINCH, &old_sa, NULL);
        (void)close(shell_winch_pipe[0]);
        (void)close(shell_winch_pipe[1]);
        shell_winch_pipe[0] = shell_winch_pipe[1] = -1;
    }
    if (raw) {
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
    return rc;
}

int deploy_shell_run(cli_args_t *a)
{
    deploy_flow_t *f = calloc(1, sizeof(*f));
    shell_session_t *s = calloc(1, sizeof(*s));
    if (f == NULL || s == NULL) {
        free(f);
        free(s);
        fprintf(stderr, "kumo: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    s->up.fd = -1;
    s->exit_code = SHELL_EXIT_LOST;
    s->tty = isatty(STDIN_FILENO) == 1 && a->pos_count <= 2;
    kumo_buf_init(&s->in,
                  2u * (KUMO_PROVIDER_SHELL_HEADER_BYTES + KUMO_PROVIDER_SHELL_FRAME_BYTES_MAX));
    kumo_err_ctx_t err = {0};
    int rc = deploy_stack_load(a->pos[0], &f->stack, &err);
    f->stack_loaded = rc == 0;
    rc = rc == 0 ? deploy_flow_init(f, a, true, &err) : rc;
    bool opened = false;
    if (rc == 0) {
        rc = shell_session_run(f, s, &err);
        opened = s->up.curl != NULL;
    }
    int exit_code = s->exit_code;
    if (rc < 0) {
        if (s->tty && opened) {
            fprintf(stderr, "\r\n");
        }
        int fail = cli_fail("deploy shell", &err);
        exit_code = opened ? SHELL_EXIT_LOST : fail;
    }
    deploy_upgrade_close(&s->up);
    kumo_buf_free(&s->in);
    free(s);
    deploy_flow_free(f);
    free(f);
    return exit_code;
}
