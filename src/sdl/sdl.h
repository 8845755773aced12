/*
 * sdl.h - stack files: the YAML a tenant writes (docs/stack.md) parsed and validated into the
 * infrastructure groups of MsgSubmitDeployment and the canonical manifest whose Merkle root is
 * the deployment's version (DESIGN.md section 8). Pure: no I/O, no clock; the caller reads the
 * file into memory. Same stack, same manifest bytes, same version.
 */
#ifndef KUMO_SDL_SDL_H
#define KUMO_SDL_SDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <proto/kumo.pb-c.h>

#include "core/core.h"
#include "crypto/crypto.h"

/* A stack file is written by a person: 256 KiB is far beyond any real one and bounds the
 * parser's memory (every YAML node needs at least two bytes of text). */
#define KUMO_SDL_STACK_BYTES_MAX (256u * 1024u)
/* YAML nesting: the deepest valid path (workloads.W.ports[i].expose[j].workload) is 7 levels;
 * 16 leaves room and stops input from driving deep structures. */
#define KUMO_SDL_DEPTH_MAX 16u
/* YAML nodes (scalars, sequences, mappings) in one file: bounds the tree's memory (about 2 MiB
 * at most) whatever the shape of the text. */
#define KUMO_SDL_NODE_COUNT_MAX 65536u
/* Workloads per stack: each becomes containers and tunnels on providers. */
#define KUMO_SDL_WORKLOAD_COUNT_MAX 64u
/* Workload and group names become container names and host names: a DNS label (RFC 1035). */
#define KUMO_SDL_NAME_BYTES_MAX 63u
/* A container image reference (registry/repository:tag or @sha256:...). */
#define KUMO_SDL_IMAGE_BYTES_MAX 512u
/* Command arguments and their length (the container's argv). */
#define KUMO_SDL_COMMAND_COUNT_MAX     64u
#define KUMO_SDL_COMMAND_ARG_BYTES_MAX 4096u
/* Environment variables per workload and their key and value lengths. */
#define KUMO_SDL_ENV_COUNT_MAX       64u
#define KUMO_SDL_ENV_KEY_BYTES_MAX   128u
#define KUMO_SDL_ENV_VALUE_BYTES_MAX 4096u
/* Ports per workload and connection rules per port: each rule is a firewall rule or tunnel. */
#define KUMO_SDL_PORT_COUNT_MAX 16u
#define KUMO_SDL_RULE_COUNT_MAX 16u
/* Volumes per workload: each is a mount and, when persistent, a filesystem image on the
 * provider's disk and a loop device while mounted. */
#define KUMO_SDL_VOLUME_COUNT_MAX 8u
/* A volume's mount path in the container (Linux PATH_MAX is 4096; real paths are short). */
#define KUMO_SDL_MOUNT_BYTES_MAX 255u
/* The smallest volume: a filesystem needs room for its own metadata (ext4 takes over a MiB of
 * a small image for its journal and tables), so a smaller one could hardly hold a file. */
#define KUMO_SDL_VOLUME_BYTES_MIN (4u * 1024u * 1024u)
/* Files a workload carries (stack `files:`): each is written by the provider and mounted
 * read-only, so the count bounds the mounts of a container. */
#define KUMO_SDL_FILE_COUNT_MAX 64u
/* A file's path in the container (as a volume's mount path). */
#define KUMO_SDL_FILE_PATH_BYTES_MAX KUMO_SDL_MOUNT_BYTES_MAX
/* The largest canonical manifest: 256 MiB, i.e. 1024 Merkle chunks of 256 KiB. What makes a
 * manifest large is the files it carries (a static site, a small model); everything else is
 * bounded far below (64 workloads of 64 env values and arguments of 4 KiB: under 33 MiB).
 * Providers take such a manifest only in chunks (PUT .../manifest-chunk) and keep it on disk,
 * never whole in a request; a client holds it in memory twice while it builds it. */
#define KUMO_SDL_MANIFEST_BYTES_MAX (256u * 1024u * 1024u)
/* A file's content: anything the manifest can carry. */
#define KUMO_SDL_FILE_BYTES_MAX KUMO_SDL_MANIFEST_BYTES_MAX

_Static_assert(KUMO_SDL_NAME_BYTES_MAX <= KUMO_NAME_BYTES_MAX, "an sdl name is a chain name");
_Static_assert(KUMO_SDL_DEPTH_MAX >= 7u, "the deepest valid stack path fits");
_Static_assert(KUMO_SDL_MANIFEST_BYTES_MAX > 4u * KUMO_SDL_STACK_BYTES_MAX,
               "a stack's own text, with framing, always fits a manifest");

typedef struct kumo_sdl_stack kumo_sdl_stack_t;

/* Parses and validates a stack file. yaml is the file's bytes (borrowed for the call only);
 * file_name only labels errors. On success *out owns the stack (kumo_sdl_stack_free). Every
 * error's detail reads "<file>:<line>: <field path>: <problem>", e.g.
 * 'stack.yml:14: workloads.web.compute.memory: "12XB" is not a size (use Ki, Mi, Gi, Ti or
 * bytes)'. Codes: KUMO_EDECODE (YAML syntax, unknown key, wrong type, aliases, more than one
 * document), KUMO_EINVAL (a bad value or unit, zero counts, capacity), KUMO_ELIMIT (a limit
 * above), KUMO_EEMPTY (a required field missing or empty), KUMO_EDUPLICATE (a key, port or
 * rule given twice), KUMO_ENOTFOUND (a group or workload name that does not exist),
 * KUMO_EOVERFLOW (price or size arithmetic), KUMO_ENOMEM. On failure *out is NULL and nothing
 * is left allocated. Allocates through kumo_alloc. */
KUMO_MUST_USE int kumo_sdl_stack_parse(kumo_bytes_t yaml,
                                       const char *file_name,
                                       kumo_sdl_stack_t **out,
                                       kumo_err_ctx_t *err);

/* Where the `source:` of a stack's files is read from: the caller's file system, relative to
 * the stack file (the sdl module does no I/O). read appends the bytes of source (a relative
 * path, checked by the parser) to out, whose cap_max is what the manifest has left (KUMO_ELIMIT
 * past it); other errors as the caller's I/O (KUMO_ENOTFOUND, KUMO_EIO), detail naming why. */
typedef struct kumo_sdl_file_loader {
    void *ctx;
    int (*read)(void *ctx, const char *source, kumo_buf_t *out, kumo_err_ctx_t *err);
} kumo_sdl_file_loader_t;

/* kumo_sdl_stack_parse with a loader for files' `source:` (NULL: a file with a source is
 * refused, KUMO_EINVAL; inline `content:` always works). A file's read error is reported as
 * "<file>:<line>: workloads.W.files[i].source: <detail>" with the loader's code. */
KUMO_MUST_USE int kumo_sdl_stack_parse_with(kumo_bytes_t yaml,
                                            const char *file_name,
                                            const kumo_sdl_file_loader_t *loader,
                                            kumo_sdl_stack_t **out,
                                            kumo_err_ctx_t *err);

/* Frees a stack; NULL is a no-op. */
void kumo_sdl_stack_free(kumo_sdl_stack_t *stack);

/* The infrastructure for MsgSubmitDeployment: the groups sorted by name (gseq = index), the
 * wait in blocks and the deposit in ukumo. The groups are borrowed from the stack (valid until
 * kumo_sdl_stack_free) and must not be modified; they pass the market's stateless checks. */
void kumo_sdl_stack_groups(const kumo_sdl_stack_t *stack,
                           Kumo__GroupSpec ***groups_out,
                           size_t *group_count_out,
                           uint64_t *wait_blocks_out,
                           uint64_t *deposit_ukumo_out);

/* The manifest (borrowed, valid until kumo_sdl_stack_free, not to be modified), its files'
 * contents left out: they are in the encoded bytes only, so a large stack is held once. */
const Kumo__Manifest *kumo_sdl_stack_manifest(const kumo_sdl_stack_t *stack);
/* The canonical manifest bytes (borrowed, valid until kumo_sdl_stack_free). */
kumo_bytes_t kumo_sdl_stack_manifest_bytes(const kumo_sdl_stack_t *stack);

/* Appends the canonical manifest bytes (kumo_codec_pack of the Manifest message, as parse
 * made them) to out. KUMO_ELIMIT past out's cap_max, KUMO_ENOMEM; out unchanged on failure. */
KUMO_MUST_USE int
kumo_sdl_manifest_encode(const kumo_sdl_stack_t *stack, kumo_buf_t *out, kumo_err_ctx_t *err);

/* The deployment version of manifest bytes: kumo_crypto_merkle_root. KUMO_ENOMEM. */
KUMO_MUST_USE int kumo_sdl_manifest_version(kumo_bytes_t manifest,
                                            uint8_t version_out[KUMO_VERSION_BYTES]);

/* Decodes canonical manifest bytes (at most KUMO_SDL_MANIFEST_BYTES_MAX, else KUMO_ELIMIT;
 * KUMO_EDECODE if malformed or non-canonical), for providers receiving one. Structure only:
 * the stack rules are not re-checked. *out is freed with kumo_codec_free. */
KUMO_MUST_USE int
kumo_sdl_manifest_decode(kumo_bytes_t manifest, Kumo__Manifest **out, kumo_err_ctx_t *err);

/* Whether mount is a path a volume may be mounted at: absolute, at most
 * KUMO_SDL_MOUNT_BYTES_MAX bytes, components of a-z A-Z 0-9 '.', '_' and '-' (not "." or
 * ".."), no empty component and no trailing '/', not "/" itself, and neither at nor under a
 * path the runtime owns (/proc, /sys, /dev, /tmp, /run, /var/tmp, /etc). Pure. */
bool kumo_sdl_mount_is_valid(const char *mount);
/* Whether path is a path a file may be written at in a container: absolute, at most
 * KUMO_SDL_FILE_PATH_BYTES_MAX bytes, components of a-z A-Z 0-9 '.', '_' and '-' (not "." or
 * ".."), no empty component and no trailing '/', not "/" itself, and neither at nor under a
 * path the runtime owns or mounts itself (/proc, /sys, /dev, /tmp, /run, /var/tmp). Unlike a
 * volume, a file may go under /etc. Pure. */
bool kumo_sdl_file_path_is_valid(const char *path);
/* Whether mode is a file mode a stack may give: permission bits only, the owner may read, and
 * nothing beyond 0755 (no setuid, setgid, sticky or write for others). Pure. */
bool kumo_sdl_file_mode_is_valid(uint32_t mode);
/* The file rules of kumo_sdl_manifest_check for one workload alone (its name valid, its files'
 * count, paths, modes and overlaps), for a provider about to write a stored manifest's files
 * to disk. Its codes. Pure. */
KUMO_MUST_USE int kumo_sdl_workload_files_check(const Kumo__ManifestWorkload *w,
                                                kumo_err_ctx_t *err);
/* Whether two compute units are the same unit (cpu, memory, storage and GPUs equal): how a
 * manifest workload's compute names one of its group's resources. */
bool kumo_sdl_compute_equal(const Kumo__ComputeUnit *a, const Kumo__ComputeUnit *b);

/* Checks a received manifest (from kumo_sdl_manifest_decode: a tenant's upload or a peer
 * provider's copy) against the deployment's groups as the chain holds them (groups[gseq]),
 * before a provider runs anything of it. The rules the stack parser applies, again, since
 * the bytes may come from anyone: 1..KUMO_SDL_WORKLOAD_COUNT_MAX workloads with unique names;
 * each placed in a group of the deployment (KUMO_ENOTFOUND), its compute exactly one of that
 * group's resource units (KUMO_EMISMATCH), count at least 1 (KUMO_EINVAL) and the instances
 * placed on one resource at most its units (KUMO_ELIMIT); image, command, env, ports and rules
 * within the stack limits (KUMO_ELIMIT, KUMO_EEMPTY, KUMO_EINVAL, KUMO_EDUPLICATE), rules
 * naming an existing workload or group (KUMO_ENOTFOUND); at most KUMO_SDL_VOLUME_COUNT_MAX
 * volumes (KUMO_ELIMIT), each named (KUMO_EINVAL), unique by name and by mount
 * (KUMO_EDUPLICATE), mounted at a valid path not nested in another volume's
 * (kumo_sdl_mount_is_valid, KUMO_EINVAL), of at least KUMO_SDL_VOLUME_BYTES_MIN (KUMO_EINVAL),
 * and together at most the unit's storage_bytes (KUMO_ELIMIT: a manifest never takes more
 * disk than was leased); at most KUMO_SDL_FILE_COUNT_MAX files (KUMO_ELIMIT), each at a valid
 * path (kumo_sdl_file_path_is_valid, KUMO_EINVAL) with a valid mode (KUMO_EINVAL), no two at
 * overlapping paths and none at or under a volume's mount (KUMO_EDUPLICATE). detail names the
 * workload and the
 * rule broken. A manifest kumo_sdl_stack_parse made passes against its own groups. Pure. */
KUMO_MUST_USE int kumo_sdl_manifest_check(const Kumo__Manifest *m,
                                          Kumo__GroupSpec *const *groups,
                                          size_t group_count,
                                          kumo_err_ctx_t *err);

/* Akash SDL import (docs/stack.md "Akash SDL files"). A file is Akash SDL when its top level is
 * a mapping with a "services" key (Akash's version "2.0" or "2.1"); kumo stacks have none. */
#define KUMO_SDL_AKASH_DEPOSIT_DEFAULT     5000000u /* 5 kumo, Akash's usual 5 AKT deposit */
#define KUMO_SDL_AKASH_WAIT_BLOCKS_DEFAULT 3u
/* The warnings of one conversion: a line per dropped construct. */
#define KUMO_SDL_AKASH_NOTES_BYTES_MAX (64u * 1024u)

typedef struct kumo_sdl_akash_opts {
    const char *region;     /* region of placements without a "region" attribute; NULL: error */
    uint64_t price_ukumo;   /* 0: each profile's pricing, 1 uakt taken as 1 ukumo */
    uint64_t deposit_ukumo; /* 0: KUMO_SDL_AKASH_DEPOSIT_DEFAULT */
    uint64_t wait_blocks;
    bool wait_blocks_set; /* false: KUMO_SDL_AKASH_WAIT_BLOCKS_DEFAULT */
} kumo_sdl_akash_opts_t;

/* Whether yaml looks like an Akash SDL file (a YAML mapping with a "services" key). Pure. */
bool kumo_sdl_akash_detect(kumo_bytes_t yaml);

/* Converts an Akash SDL v2 file into the text of the kumo stack it maps to (appended to
 * stack_out, at most KUMO_SDL_STACK_BYTES_MAX), deterministic: the same file and options give
 * the same bytes. Constructs that are dropped append one warning line each to notes_out
 * ("<file>:<line>: <path>: <text>\n"); one that makes the stack impossible (a GPU, UDP, IP
 * endpoints, a service in two placements, no region or price) fails with "<file>:<line>:
 * <path>: <problem>" and codes as kumo_sdl_stack_parse (KUMO_EINVAL for what kumo does not
 * support). The text still goes through kumo_sdl_stack_parse. opts may be NULL. */
KUMO_MUST_USE int kumo_sdl_akash_convert(kumo_bytes_t yaml,
                                         const char *file_name,
                                         const kumo_sdl_akash_opts_t *opts,
                                         kumo_buf_t *stack_out,
                                         kumo_buf_t *notes_out,
                                         kumo_err_ctx_t *err);

/* ---- sealed secrets (docs/stack.md "Secrets", docs/design.md "Sealed secrets") ---- */

/* Secrets per stack, a secret's name and its value's length. */
#define KUMO_SDL_SECRET_COUNT_MAX       32u
#define KUMO_SDL_SECRET_NAME_BYTES_MAX  63u
#define KUMO_SDL_SECRET_VALUE_BYTES_MAX 4096u
/* Where a secret's value comes from: a path to read (relative to the stack file). */
#define KUMO_SDL_SECRET_PATH_BYTES_MAX 1024u
/* Associated data of a sealed value: owner, dseq, group length and name, secret name. */
#define KUMO_SDL_SECRET_AD_BYTES_MAX \
    (KUMO_ADDRESS_BYTES + 8u + 1u + KUMO_SDL_NAME_BYTES_MAX + KUMO_SDL_SECRET_NAME_BYTES_MAX)

/* One entry of a stack's `secrets:` (borrowed from the stack): exactly one of from_env (an
 * environment variable of the tenant's CLI) and from_file (a path, relative to the stack
 * file unless absolute) is set. Sorted by name. */
typedef struct kumo_sdl_secret {
    char *name; /* owned by the stack, not to be modified */
    char *from_env;
    char *from_file;
} kumo_sdl_secret_t;

/* The stack's secrets (count and each, sorted by name); 0 when it has none. */
size_t kumo_sdl_stack_secret_count(const kumo_sdl_stack_t *stack);
const kumo_sdl_secret_t *kumo_sdl_stack_secret(const kumo_sdl_stack_t *stack, size_t index);

/* What sealing needs beyond the stack: the deployment (owner, dseq), each secret's value
 * (values[i] for kumo_sdl_stack_secret(stack, i)), the Ed25519 public key of a provider
 * (pubkey_cb: KUMO_ENOTFOUND with a detail when the chain has none) and randomness. */
typedef struct kumo_sdl_seal_input {
    const uint8_t *owner; /* KUMO_ADDRESS_BYTES */
    uint64_t dseq;
    const kumo_bytes_t *values;
    void *ctx;
    int (*pubkey_cb)(void *ctx,
                     const uint8_t provider[KUMO_ADDRESS_BYTES],
                     uint8_t pubkey_out[KUMO_CRYPTO_PUBKEY_BYTES],
                     kumo_err_ctx_t *err);
    const kumo_crypto_rng_t *rng;
} kumo_sdl_seal_input_t;

/* Seals the stack's secrets into its manifest: for each group whose workloads use secrets a
 * fresh group key (from rng), sealed to every provider the group lists, and each value it
 * uses encrypted under it (ManifestSealedGroup). The manifest bytes grow by the sealed
 * groups; its version changes. Once per stack (KUMO_ESTATE after); a stack without secrets
 * is left as it is. Codes: KUMO_ELIMIT (a value over KUMO_SDL_SECRET_VALUE_BYTES_MAX, or the
 * manifest over its limit), KUMO_EINVAL (a value holding a NUL byte, a public key that is not
 * the provider's or has no X25519 form), pubkey_cb's (KUMO_ENOTFOUND). Nothing changes on
 * failure; key material is wiped. Pure apart from rng. */
KUMO_MUST_USE int
kumo_sdl_stack_seal(kumo_sdl_stack_t *stack, const kumo_sdl_seal_input_t *in, kumo_err_ctx_t *err);
/* Whether the stack's manifest is complete: it has no secrets or they are sealed. */
bool kumo_sdl_stack_is_sealed(const kumo_sdl_stack_t *stack);

/* The associated data of secret name of group in deployment owner/dseq (docs/design.md):
 * writes it to out (KUMO_SDL_SECRET_AD_BYTES_MAX bytes) and returns its length. group and
 * name within their limits. Pure. */
size_t kumo_sdl_secret_ad(const uint8_t owner[KUMO_ADDRESS_BYTES],
                          uint64_t dseq,
                          const char *group,
                          const char *name,
                          uint8_t *out);

/* Opens secret name of group in a checked manifest (kumo_sdl_manifest_check) as the provider
 * whose account keypair is kp: its envelope, then the value, written to out with a NUL (cap
 * at least KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1). Codes: KUMO_ENOTFOUND (no such sealed value,
 * or no envelope for kp's address), KUMO_EMISMATCH (the envelope does not open or the value
 * fails its tag: altered, or sealed for another deployment, group or name), KUMO_EINVAL (a
 * value with a NUL byte). out is zeroed on failure, the group key always. Pure. */
KUMO_MUST_USE int kumo_sdl_secret_open(const Kumo__Manifest *m,
                                       const char *group,
                                       const char *name,
                                       const uint8_t owner[KUMO_ADDRESS_BYTES],
                                       uint64_t dseq,
                                       const kumo_crypto_keypair_t *kp,
                                       char *out,
                                       size_t cap,
                                       kumo_err_ctx_t *err);
/* Whether every value of every sealed group in m whose envelopes name kp's address opens
 * (kumo_sdl_secret_open on each, values wiped): what a provider checks before it runs such a
 * group. Its codes, detail naming the group and secret. Pure. */
KUMO_MUST_USE int kumo_sdl_sealed_open_check(const Kumo__Manifest *m,
                                             const uint8_t owner[KUMO_ADDRESS_BYTES],
                                             uint64_t dseq,
                                             const kumo_crypto_keypair_t *kp,
                                             kumo_err_ctx_t *err);

#endif
