/*
 * runtime.h - a container runtime client: the Docker Engine API (v1.41) over a unix socket
 * with libcurl. Works against podman's API service (tests, this machine) and real Docker
 * (production). Blocking calls with bounded timeouts and bounded answers: callers run them
 * off the loop thread or accept short stalls (the API answers in milliseconds locally).
 *
 * Everything kumo creates carries labels, so state is rebuilt from the runtime after a
 * restart and cleanup is by label:
 *   kumo.managed=1, kumo.provider=<addr>, kumo.owner=<addr>, kumo.dseq=<n>, kumo.gseq=<n>,
 *   kumo.oseq=<n>, kumo.workload=<name>, kumo.instance=<i>, kumo.version=<hex manifest root>,
 *   kumo.spec=<hex digest of its spec: what a new version keeps>
 * Networks: one per deployment, named kumo-<provider8>-<owner8>-<dseq>, labelled like
 * containers (without workload/instance).
 *
 * Every container gets explicit ulimits (nofile, nproc 1024: required on this sandbox and
 * harmless on Docker), CPU (NanoCpus from millicpu) and memory limits from the lease.
 */
#ifndef KUMO_RUNTIME_RUNTIME_H
#define KUMO_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define KUMO_RUNTIME_LABEL_COUNT_MAX  16u
#define KUMO_RUNTIME_ENV_COUNT_MAX    64u
#define KUMO_RUNTIME_CMD_COUNT_MAX    64u
#define KUMO_RUNTIME_PORT_COUNT_MAX   16u
#define KUMO_RUNTIME_NAME_BYTES_MAX   128u
#define KUMO_RUNTIME_ID_BYTES_MAX     80u
#define KUMO_RUNTIME_ANSWER_BYTES_MAX (4u * 1024u * 1024u)
#define KUMO_RUNTIME_LIST_COUNT_MAX   1024u

/* Every container runs confined, whatever the image asks for: all capabilities dropped but
 * NET_BIND_SERVICE, no-new-privileges, at most KUMO_RUNTIME_PIDS_MAX processes, swap equal to
 * the memory limit (none beyond it), logs rotated at KUMO_RUNTIME_LOG_BYTES_MAX, a read-only
 * root filesystem with tmpfs scratch: /tmp of the leased storage (KUMO_RUNTIME_TMP_BYTES_DEFAULT
 * when none is given) and KUMO_RUNTIME_SCRATCH_BYTES each at /run and /var/tmp. tmpfs pages
 * count against the container's memory limit, so writes can never exceed what was leased. */
#define KUMO_RUNTIME_PIDS_MAX          512u
#define KUMO_RUNTIME_LOG_BYTES_MAX     (10u * 1024u * 1024u)
#define KUMO_RUNTIME_SCRATCH_BYTES     (16u * 1024u * 1024u)
#define KUMO_RUNTIME_TMP_BYTES_DEFAULT (64u * 1024u * 1024u)

/* Volumes a container mounts (the stack's limit) and the directory their images live in. */
#define KUMO_RUNTIME_VOLUME_COUNT_MAX 8u
#define KUMO_RUNTIME_MOUNT_BYTES_MAX  256u

/* Files bound read-only into a container (a workload's manifest files: the stack's limit),
 * and the length of a bind's host or container path (PATH_MAX). */
#define KUMO_RUNTIME_FILE_COUNT_MAX 64u
#define KUMO_RUNTIME_PATH_BYTES_MAX 4096u

/* Devices a container is given (a lease's GPUs: 8 per unit, a few device entries each) and
 * the length of one entry. */
#define KUMO_RUNTIME_DEVICE_COUNT_MAX 32u
#define KUMO_RUNTIME_DEVICE_BYTES_MAX 256u

typedef struct kumo_runtime kumo_runtime_t;

/* A volume a container mounts at path. Persistent: the runtime volume of that name, created
 * first if missing (kumo_runtime_volume_create, with the container's labels), kept when the
 * container goes. Not persistent: a tmpfs of size_bytes that starts empty with each container
 * (its pages count against the memory limit). */
typedef struct kumo_runtime_mount {
    const char *volume; /* runtime volume name; unused when not persistent */
    const char *path;   /* absolute, in the container */
    uint64_t size_bytes;
    bool persistent;
} kumo_runtime_mount_t;

/* A host file bound read-only at path in the container (HostConfig.Binds "host:path:ro"). */
typedef struct kumo_runtime_file {
    const char *host_path; /* absolute, on the runtime's host */
    const char *path;      /* absolute, in the container */
} kumo_runtime_file_t;

typedef struct kumo_runtime_label {
    const char *key;
    const char *value;
} kumo_runtime_label_t;

typedef struct kumo_runtime_port {
    uint16_t container_port; /* tcp */
    uint16_t host_port;      /* 0: not published */
    const char *host_ip;     /* "127.0.0.1", "0.0.0.0"; NULL = "0.0.0.0" */
} kumo_runtime_port_t;

typedef struct kumo_runtime_container_spec {
    const char *name;           /* unique container name */
    const char *image;          /* must be present locally (no pulls) */
    const char *const *cmd;     /* NULL-terminated or NULL for the image default */
    const char *const *env;     /* "KEY=value", NULL-terminated or NULL */
    const char *network;        /* network to join, NULL for none */
    const char *const *aliases; /* network aliases (DNS names on the network), NULL-term. */
    /* "name:ip" entries for /etc/hosts (HostConfig.ExtraHosts), NULL-terminated or NULL: how
     * a workload reaches a workload of its deployment that runs at another provider (the
     * name resolves to the network gateway, where the provider forwards the port). */
    const char *const *extra_hosts;
    uint64_t millicpu;      /* 0: unlimited */
    uint64_t memory_bytes;  /* 0: unlimited */
    uint64_t storage_bytes; /* size of /tmp; 0: KUMO_RUNTIME_TMP_BYTES_DEFAULT */
    kumo_runtime_port_t ports[KUMO_RUNTIME_PORT_COUNT_MAX];
    uint32_t port_count;
    kumo_runtime_label_t labels[KUMO_RUNTIME_LABEL_COUNT_MAX];
    uint32_t label_count;
    kumo_runtime_mount_t mounts[KUMO_RUNTIME_VOLUME_COUNT_MAX];
    uint32_t mount_count;
    const char *volume_dir; /* where persistent volumes' images are made (see below) */
    /* Files bound read-only: the container can read them, never change them (each path is
     * checked: absolute, no ':' or ','; KUMO_EINVAL otherwise). */
    kumo_runtime_file_t files[KUMO_RUNTIME_FILE_COUNT_MAX];
    uint32_t file_count;
    /* The host devices the container gets, and no others (a lease's GPUs), each entry either
     * a CDI device name "vendor.com/class=name" (HostConfig.DeviceRequests, driver "cdi": the
     * runtime applies the vendor's CDI spec) or a device node "/host/path[:/container/path]"
     * (HostConfig.Devices, rwm; the container path defaults to the host path). A runtime that
     * does not record every device asked for (podman before 5.4 ignores CDI requests on its
     * Docker-compatible API) fails the run (KUMO_EMISMATCH, the container removed) instead of
     * starting it without them. Entries are checked: KUMO_EINVAL for a malformed one. */
    const char *devices[KUMO_RUNTIME_DEVICE_COUNT_MAX];
    uint32_t device_count;
} kumo_runtime_container_spec_t;

typedef enum kumo_runtime_state {
    KUMO_RUNTIME_STATE_UNKNOWN = 0,
    KUMO_RUNTIME_STATE_CREATED = 1,
    KUMO_RUNTIME_STATE_RUNNING = 2,
    KUMO_RUNTIME_STATE_EXITED = 3, /* also "stopped", "dead" */
} kumo_runtime_state_t;

/* One container as listed; labels are the kumo.* ones copied out. */
typedef struct kumo_runtime_container {
    char id[KUMO_RUNTIME_ID_BYTES_MAX];
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    kumo_runtime_state_t state;
    char owner[64];
    uint64_t dseq, gseq, oseq;
    char workload[64];
    uint32_t instance;
    char version[65];
    char spec[65]; /* kumo.spec: the digest of its spec (provider), "" if none */
    char gpus[32]; /* kumo.gpus: the provider's GPU numbers it was given ("0,3"), "" if none */
    uint16_t host_ports[KUMO_RUNTIME_PORT_COUNT_MAX]; /* published, in container-port order */
    uint16_t container_ports[KUMO_RUNTIME_PORT_COUNT_MAX];
    uint32_t port_count;
} kumo_runtime_container_t;

/* Connects to the API at socket_path (e.g. /run/podman/podman.sock) and checks GET
 * /version. KUMO_EIO naming the socket if it does not answer. */
KUMO_MUST_USE int
kumo_runtime_open(const char *socket_path, kumo_runtime_t **out, kumo_err_ctx_t *err);
void kumo_runtime_close(kumo_runtime_t *rt);
/* GET /_ping: 0 when the runtime answers (the provider does not bid otherwise). */
KUMO_MUST_USE int kumo_runtime_ping(kumo_runtime_t *rt, kumo_err_ctx_t *err);

/* Creates a bridge network with labels; an existing network of that name is success. */
KUMO_MUST_USE int kumo_runtime_network_create(kumo_runtime_t *rt,
                                              const char *name,
                                              const kumo_runtime_label_t *labels,
                                              uint32_t label_count,
                                              kumo_err_ctx_t *err);
/* The gateway IPv4 address of a network (its bridge's address on the host), e.g. "10.89.0.1".
 * KUMO_ENOTFOUND for an unknown network. */
KUMO_MUST_USE int kumo_runtime_network_gateway(kumo_runtime_t *rt,
                                               const char *name,
                                               char gateway_out[64],
                                               kumo_err_ctx_t *err);
/* The gateway and the subnet ("10.89.0.0/24") of a network, both from its first IPAM entry;
 * subnet_out may be NULL. KUMO_ENOTFOUND for an unknown network, KUMO_EDECODE when either is
 * missing. */
KUMO_MUST_USE int kumo_runtime_network_addresses(kumo_runtime_t *rt,
                                                 const char *name,
                                                 char gateway_out[64],
                                                 char subnet_out[64],
                                                 kumo_err_ctx_t *err);
/* Removes a network; a missing one is success. */
KUMO_MUST_USE int
kumo_runtime_network_remove(kumo_runtime_t *rt, const char *name, kumo_err_ctx_t *err);
/* Names of networks with label key=value (appended to names, up to cap). */
KUMO_MUST_USE int kumo_runtime_network_list(kumo_runtime_t *rt,
                                            const char *label_key,
                                            const char *label_value,
                                            char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                                            uint32_t cap,
                                            uint32_t *count_out,
                                            kumo_err_ctx_t *err);

/* ---- volumes ----
 * A persistent volume's size is enforced by the filesystem it is: an ext4 image of exactly
 * size_bytes in the volume directory (<dir>/<name>.img, sparse, formatted with mkfs.ext4 -m 0),
 * which the runtime loop-mounts (local driver, type=ext4, o=loop) while a container uses it.
 * Writing past it fails with ENOSPC in the container; the filesystem's own metadata takes a
 * few percent of it. Needs a runtime on this host (the image path is the runtime's too) that
 * may loop-mount (rootful podman or Docker). */

/* One volume as listed; the kumo.* labels copied out (kumo.size: its size in bytes). */
typedef struct kumo_runtime_volume {
    char name[KUMO_RUNTIME_NAME_BYTES_MAX];
    char owner[64];
    uint64_t dseq, gseq, oseq;
    uint64_t size_bytes;
} kumo_runtime_volume_t;

/* Creates volume name of size_bytes (at least 1 MiB) with labels (plus kumo.size), its image
 * in dir (absolute, must exist; the provider uses <home>/volumes). An existing volume of that
 * name is success if its kumo.size is size_bytes (KUMO_EMISMATCH if not): a volume is never
 * resized or made again, so its data stays. KUMO_EIO if the image cannot be made (detail
 * quotes the failure). */
KUMO_MUST_USE int kumo_runtime_volume_create(kumo_runtime_t *rt,
                                             const char *dir,
                                             const char *name,
                                             uint64_t size_bytes,
                                             const kumo_runtime_label_t *labels,
                                             uint32_t label_count,
                                             kumo_err_ctx_t *err);
/* Removes a volume and its image in dir (NULL: the runtime volume only); a missing one is
 * success. A volume a container still uses is not removed (KUMO_EEXIST: the runtime answers
 * 409): remove the container first. */
KUMO_MUST_USE int kumo_runtime_volume_remove(kumo_runtime_t *rt,
                                             const char *dir,
                                             const char *name,
                                             kumo_err_ctx_t *err);
/* One volume by name; KUMO_ENOTFOUND if there is none. */
KUMO_MUST_USE int kumo_runtime_volume_inspect(kumo_runtime_t *rt,
                                              const char *name,
                                              kumo_runtime_volume_t *out,
                                              kumo_err_ctx_t *err);
/* Volumes with label key=value (up to cap; more is KUMO_ELIMIT). */
KUMO_MUST_USE int kumo_runtime_volume_list(kumo_runtime_t *rt,
                                           const char *label_key,
                                           const char *label_value,
                                           kumo_runtime_volume_t *out,
                                           uint32_t cap,
                                           uint32_t *count_out,
                                           kumo_err_ctx_t *err);

/* Whether a device entry of a spec is well formed: a CDI name "vendor.com/class=name" or
 * "/host/path[:/container/path]" (absolute, printable, no comma, quote or ".." segment), under
 * KUMO_RUNTIME_DEVICE_BYTES_MAX bytes. A CDI name is any entry not starting with '/'. */
bool kumo_runtime_device_is_valid(const char *entry);
bool kumo_runtime_device_is_cdi(const char *entry);
/* The JSON body of POST /containers/create for spec, appended to out (tests read it). */
KUMO_MUST_USE int kumo_runtime_container_body(const kumo_runtime_container_spec_t *spec,
                                              kumo_buf_t *out,
                                              kumo_err_ctx_t *err);

/* Creates and starts a container, creating its persistent volumes first (labelled like the
 * container) and checking its devices before the start (kumo_runtime_devices_check: the
 * container is removed and KUMO_EMISMATCH returned when the runtime left one out). id_out
 * gets its id. KUMO_EEXIST if the name is taken,
 * KUMO_ENOTFOUND if the image is not present. */
KUMO_MUST_USE int kumo_runtime_container_run(kumo_runtime_t *rt,
                                             const kumo_runtime_container_spec_t *spec,
                                             char id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                                             kumo_err_ctx_t *err);
/* Stops (timeout 1 s) and removes a container by id or name; a missing one is success. */
KUMO_MUST_USE int
kumo_runtime_container_remove(kumo_runtime_t *rt, const char *id_or_name, kumo_err_ctx_t *err);
/* Containers (running or not) with label key=value (e.g. kumo.provider=<addr>). */
KUMO_MUST_USE int kumo_runtime_container_list(kumo_runtime_t *rt,
                                              const char *label_key,
                                              const char *label_value,
                                              kumo_runtime_container_t *out,
                                              uint32_t cap,
                                              uint32_t *count_out,
                                              kumo_err_ctx_t *err);
/* Inspects one container: state, limits and its address (for tests and status). */
typedef struct kumo_runtime_inspect {
    kumo_runtime_state_t state;
    int exit_code;
    uint64_t nano_cpus;
    uint64_t memory_bytes;
    /* The confinement (see KUMO_RUNTIME_PIDS_MAX): what the runtime reports it applied. */
    uint64_t memory_swap_bytes; /* memory + swap; equal to memory_bytes: no swap */
    uint64_t pids_limit;
    uint64_t tmp_bytes;      /* size of the /tmp tmpfs, 0 if none */
    uint32_t cap_add_count;  /* capabilities added beyond the runtime's defaults */
    uint32_t cap_drop_count; /* capabilities dropped (the runtime lists them one by one) */
    bool readonly_rootfs;
    bool no_new_privileges;
    /* IPv4 address on its (first) network, "" if none: what other workloads of the
     * deployment put in their extra_hosts where the network has no DNS (podman with CNI and
     * no dnsname plugin, as on the test machine). */
    char ip[64];
    char name[KUMO_RUNTIME_NAME_BYTES_MAX]; /* without a leading '/' */
    char id[KUMO_RUNTIME_ID_BYTES_MAX];     /* "" if the runtime gave none */
    bool oom_killed;                        /* its last exit was the kernel's OOM killer */
    uint64_t finished_ns;                   /* when it last exited (unix ns), 0 if unknown */
    /* Its kumo.* labels ("" and 0 when it has none). */
    char owner[64];
    uint64_t dseq;
    char workload[64];
    uint32_t instance;
    /* Devices the runtime recorded: HostConfig.Devices (their container paths) and the device
     * ids of HostConfig.DeviceRequests of driver "cdi"; at most KUMO_RUNTIME_DEVICE_COUNT_MAX
     * of each are kept, the counts are of all. */
    uint32_t device_count;
    char device_paths[KUMO_RUNTIME_DEVICE_COUNT_MAX][KUMO_RUNTIME_DEVICE_BYTES_MAX];
    uint32_t cdi_count;
    char cdi_ids[KUMO_RUNTIME_DEVICE_COUNT_MAX][KUMO_RUNTIME_DEVICE_BYTES_MAX];
    /* Its bind mounts of host paths (Mounts of Type "bind"): where each is in the container
     * and whether it is writable; at most KUMO_RUNTIME_FILE_COUNT_MAX kept, the count is of
     * all. */
    uint32_t bind_count;
    char bind_paths[KUMO_RUNTIME_FILE_COUNT_MAX][KUMO_RUNTIME_MOUNT_BYTES_MAX];
    bool bind_rw[KUMO_RUNTIME_FILE_COUNT_MAX];
} kumo_runtime_inspect_t;
KUMO_MUST_USE int kumo_runtime_container_inspect(kumo_runtime_t *rt,
                                                 const char *id_or_name,
                                                 kumo_runtime_inspect_t *out,
                                                 kumo_err_ctx_t *err);
/* Whether an inspected container holds exactly spec's devices: every entry recorded (a CDI
 * id, a node's container path) and none beyond them; KUMO_EMISMATCH naming the first missing. */
KUMO_MUST_USE int kumo_runtime_devices_check(const kumo_runtime_container_spec_t *spec,
                                             const kumo_runtime_inspect_t *in,
                                             kumo_err_ctx_t *err);
/* The last tail lines of stdout+stderr as text (the multiplexed stream decoded). */
KUMO_MUST_USE int kumo_runtime_container_logs(kumo_runtime_t *rt,
                                              const char *id_or_name,
                                              uint32_t tail,
                                              kumo_buf_t *out,
                                              kumo_err_ctx_t *err);

/* The log lines of a container written at or after since_s (unix seconds; 0: from the
 * start), the last tail of them (0: all), each as "<RFC 3339 time> <text>\n" (stdout and
 * stderr demultiplexed, in the order written), appended to out. */
KUMO_MUST_USE int kumo_runtime_container_logs_since(kumo_runtime_t *rt,
                                                    const char *id_or_name,
                                                    uint64_t since_s,
                                                    uint32_t tail,
                                                    kumo_buf_t *out,
                                                    kumo_err_ctx_t *err);
/* One line of those: its time as unix nanoseconds (RFC 3339 with up to 9 fraction digits and
 * Z or a +hh:mm/-hh:mm offset, years 1970..2500: nanoseconds fit 64 bits) and its text (after the
 * one space, without the line end). KUMO_EDECODE for anything else. */
KUMO_MUST_USE int kumo_runtime_log_line_parse(kumo_bytes_t line,
                                              uint64_t *time_ns,
                                              kumo_bytes_t *text,
                                              kumo_err_ctx_t *err);

/* Process-wide, set by the provider daemon at start (the first call holds; later ones are
 * ignored):
 * kumo_runtime_container_remove then first appends the container's log lines (with their
 * times) to dir/<container name>.log, keeping its last
 * KUMO_RUNTIME_KEPT_LOG_BYTES_MAX, so the logs of an instance continue across a container
 * that was replaced (crashed, updated). Best effort: a failure is logged, the removal goes on. */
#define KUMO_RUNTIME_KEPT_LOG_BYTES_MAX (1024u * 1024u)
void kumo_runtime_logs_keep_dir_set(const char *dir);
/* In a kept file the lines of each container follow a line "@<container id>", so the lines of
 * a container that still exists (kept just before its removal) can be told apart: the length
 * of kept before the lines of container id (kept.len if it has none). */
size_t kumo_runtime_logs_kept_before(kumo_bytes_t kept, const char *id);
/* The file the logs of container name are kept in (dir/<name>.log); false if none is set or
 * it does not fit. */
bool kumo_runtime_logs_kept_path(const char *name, char *out, size_t cap);

/* ---- usage (GET /containers/{id}/stats?stream=false) ---- */

/* Networks and block-device entries one stats answer may list. */
#define KUMO_RUNTIME_STATS_NETWORK_COUNT_MAX 64u
#define KUMO_RUNTIME_STATS_BLKIO_COUNT_MAX   256u

/* One container's counters as the runtime reports them: cumulative since it started (CPU
 * time, network, block I/O) or current (memory, processes). */
typedef struct kumo_runtime_stats {
    uint64_t cpu_ns;             /* cpu_stats.cpu_usage.total_usage */
    uint64_t memory_bytes;       /* memory_stats.usage */
    uint64_t memory_limit_bytes; /* memory_stats.limit */
    uint64_t net_rx_bytes;       /* summed over networks */
    uint64_t net_tx_bytes;
    uint64_t blk_read_bytes; /* blkio_stats.io_service_bytes_recursive, op read */
    uint64_t blk_write_bytes;
    uint64_t pids; /* pids_stats.current */
} kumo_runtime_stats_t;

/* One sample of the container's counters (no streaming; the runtime answers at once).
 * KUMO_ENOTFOUND if it does not exist; KUMO_EDECODE for an answer that is not the stats
 * object, KUMO_ELIMIT past the network or block-device caps. Blocking: not on a loop. */
KUMO_MUST_USE int kumo_runtime_container_stats(kumo_runtime_t *rt,
                                               const char *id_or_name,
                                               kumo_runtime_stats_t *out,
                                               kumo_err_ctx_t *err);

/* ---- the journal of a deployment's containers (kumo deploy events) ----
 * Process-wide like the kept logs: when set, the runtime client appends one line per event of
 * a kumo container to dir/<owner>-<dseq>.events: "<unix ns> <kind> <workload>/<instance>
 * <detail>\n", kinds
 *   started, restarted (a container of that instance was removed before), image_missing,
 *   start_failed (container_run); exited (detail code=N, when the removal saw it), oom_killed,
 *   removed (container_remove); the provider daemon adds usage (its usage samples).
 * Each file keeps about its last KUMO_RUNTIME_EVENTS_BYTES_MAX. Best effort. */
#define KUMO_RUNTIME_EVENTS_BYTES_MAX       (256u * 1024u)
#define KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX 256u
void kumo_runtime_events_dir_set(const char *dir);
/* The journal file of a deployment; false if none is set or it does not fit. */
bool kumo_runtime_events_path(const char *owner, uint64_t dseq, char *out, size_t cap);
/* Appends an event (time now unless time_ns > 0; workload "-" for the deployment as a whole;
 * detail on one line, cut at KUMO_RUNTIME_EVENT_DETAIL_BYTES_MAX). */
void kumo_runtime_event_record(const char *owner,
                               uint64_t dseq,
                               uint64_t time_ns,
                               const char *kind,
                               const char *workload,
                               uint32_t instance,
                               const char *detail);

/* ---- exec: a process started in a running container (kumo deploy shell) ---- */

/* An answer head of POST /exec/{id}/start, before the stream. */
#define KUMO_RUNTIME_EXEC_HEAD_BYTES_MAX 8192u
/* One multiplexed stream chunk (non-tty): bounds what a runtime makes us buffer. */
#define KUMO_RUNTIME_MUX_CHUNK_BYTES_MAX (1024u * 1024u)

/* POST /containers/{id}/exec: argv (NULL-terminated, at least one) with stdin, stdout and
 * stderr attached, a tty when tty (TERM=xterm then). exec_id_out gets its id. KUMO_ENOTFOUND
 * for a missing container, KUMO_EIO for one that does not run. */
KUMO_MUST_USE int kumo_runtime_exec_create(kumo_runtime_t *rt,
                                           const char *container_id,
                                           const char *const *argv,
                                           bool tty,
                                           char exec_id_out[KUMO_RUNTIME_ID_BYTES_MAX],
                                           kumo_err_ctx_t *err);
/* POST /exec/{id}/start with the connection hijacked ("Upgrade: tcp"): *fd_out is the
 * connected, blocking unix socket that now carries the process's stdin (write; shutdown
 * SHUT_WR for end of input) and its output: raw with a tty, else multiplexed
 * (kumo_runtime_mux_parse). Output bytes read with the answer's head are appended to early.
 * The head must arrive within the runtime's timeout. */
KUMO_MUST_USE int kumo_runtime_exec_start(kumo_runtime_t *rt,
                                          const char *exec_id,
                                          bool tty,
                                          int *fd_out,
                                          kumo_buf_t *early,
                                          kumo_err_ctx_t *err);
/* POST /exec/{id}/resize?h=rows&w=cols (tty only). */
KUMO_MUST_USE int kumo_runtime_exec_resize(
    kumo_runtime_t *rt, const char *exec_id, uint32_t rows, uint32_t cols, kumo_err_ctx_t *err);
/* GET /exec/{id}/json: whether it still runs, and its exit code once it ended. */
KUMO_MUST_USE int kumo_runtime_exec_inspect(kumo_runtime_t *rt,
                                            const char *exec_id,
                                            bool *running_out,
                                            int *exit_code_out,
                                            kumo_err_ctx_t *err);

/* The first chunk of a multiplexed stream (8-byte header: stream 0..2, 0, 0, 0, u32
 * big-endian length). 0 with *consumed 0 when in holds no whole chunk yet; else *stream (1
 * stdout, 2 stderr; 0 stdin is taken as stdout) and *payload (into in). KUMO_EDECODE for a
 * bad header, KUMO_ELIMIT for a chunk past KUMO_RUNTIME_MUX_CHUNK_BYTES_MAX. */
KUMO_MUST_USE int kumo_runtime_mux_parse(
    kumo_bytes_t in, uint8_t *stream, kumo_bytes_t *payload, size_t *consumed, kumo_err_ctx_t *err);

#endif
