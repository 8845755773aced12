/*
 * mstore.c - the stored manifest of a deployment and what the passes read of it. A manifest
 * may be 256 MiB (KUMO_SDL_MANIFEST_BYTES_MAX), almost all of it the contents of its files, and
 * every pass (each block) and many API requests need the decoded manifest: reading, hashing
 * and decoding it each time would cost seconds and twice its size in memory per deployment.
 * So when a manifest is stored (or first loaded after a daemon upgrade or a crash), its files
 * are written out once and a spec is kept beside it:
 *
 *   home/deployments/<owner>-<dseq>.manifest            the canonical bytes (the version's)
 *   home/deployments/<owner>-<dseq>.spec                "kumospc2", the version, the
 *       manifest file's identity (size, inode, mtime s and ns, u64 big-endian), then the
 *       manifest re-encoded with every file's content replaced by its hash
 *   home/deployments/<owner>-<dseq>.files-<version hex>/<workload>.<index>
 *                                                       each file of the manifest, with its mode
 *
 * pd_manifest_load reads the spec while its identity is the manifest file's (an atomic rename
 * gives every stored manifest a new inode), so a pass decodes a few KiB whatever the size of
 * the files. Any other spec (none, cut short, of an older manifest) makes the load read the
 * whole manifest once, write the files and the spec again, and go on. The spec is ours and
 * only an index: the manifest stays the truth. The files of an older version go in the first
 * pass after a newer one is stored where no container binds them any more (a container a newer
 * version kept still does: docs/design.md §10), all of a deployment's when its last lease here
 * ended (pd_files_drop, each pass).
 * Any thread: concurrent writers of one file each write whole (kumo_file_write).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "file/file.h"
#include "log/log.h"
#include "provider/daemon_int.h"

#define PD_SPEC_MAGIC       "kumospc2"
#define PD_SPEC_MAGIC_BYTES 8u
#define PD_SPEC_HEAD_BYTES  (PD_SPEC_MAGIC_BYTES + KUMO_CRYPTO_HASH_BYTES + 4u * 8u)
#define PD_FILES_EXT        "files-"

/* The stored manifest's identity: what makes a spec stale. */
typedef struct pd_manifest_id {
    uint64_t size, ino, mtime_s, mtime_ns;
} pd_manifest_id_t;

static int pd_manifest_id_get(const char *path, pd_manifest_id_t *out, kumo_err_ctx_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return errno == ENOENT ? kumo_err_set(err, KUMO_ENOTFOUND, "no manifest stored")
                               : kumo_err_set(err, KUMO_EIO, "stat %s: %s", path, strerror(errno));
    }
    KUMO_ENSURE(st.st_size >= 0 && st.st_mtim.tv_sec >= 0 && st.st_mtim.tv_nsec >= 0, err, KUMO_EIO,
                "stat %s: odd size or time", path);
    out->size = (uint64_t)st.st_size;
    out->ino = (uint64_t)st.st_ino;
    out->mtime_s = (uint64_t)st.st_mtim.tv_sec;
    out->mtime_ns = (uint64_t)st.st_mtim.tv_nsec;
    return 0;
}

static void pd_be64_put(uint8_t *p, uint64_t v)
{
    for (size_t i = 0; i < 8u; i++) {
        p[i] = (uint8_t)(v >> (56u - 8u * i));
    }
}

static uint64_t pd_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8u; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

int pd_files_dir(const char *home,
                 const char *owner,
                 uint64_t dseq,
                 const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                 char out[PD_PATH_BYTES])
{
    return pd_deployment_version_path(home, owner, dseq, PD_FILES_EXT, version, out);
}

int pd_file_path(const char *dir, const char *workload, uint32_t index, char out[PD_PATH_BYTES])
{
    int n = snprintf(out, PD_PATH_BYTES, "%s/%s.%" PRIu32, dir, workload, index);
    return n > 0 && (size_t)n < PD_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

/* Writes every file of m into its version's directory (made 0700: only the daemon and the
 * runtime, both root, reach it; the runtime binds each file read-only). */
static int pd_files_write(const char *home,
                          const char *owner,
                          uint64_t dseq,
                          const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          const Kumo__Manifest *m,
                          kumo_err_ctx_t *err)
{
    bool any = false;
    for (size_t i = 0; i < m->n_workloads; i++) {
        any = any || m->workloads[i]->n_files > 0;
    }
    if (!any) {
        return 0;
    }
    char dir[PD_PATH_BYTES];
    KUMO_ENSURE(pd_files_dir(home, owner, dseq, version, dir) == 0, err, KUMO_ELIMIT,
                "path too long");
    KUMO_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir,
                strerror(errno));
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        KUMO_ASSERT(w->n_files <= KUMO_SDL_FILE_COUNT_MAX);
        for (size_t j = 0; j < w->n_files; j++) {
            const Kumo__ManifestFile *f = w->files[j];
            char path[PD_PATH_BYTES];
            KUMO_ENSURE(pd_file_path(dir, w->name, (uint32_t)j, path) == 0, err, KUMO_ELIMIT,
                        "path too long");
            /* The check allowed only permission bits within 0755; asserted again, since these
             * bits reach the host's file system. */
            KUMO_ASSERT(kumo_sdl_file_mode_is_valid(f->mode));
            KUMO_GUARD(kumo_file_write(path, kumo_bytes_make(f->content.data, f->content.len),
                                       f->mode, err));
        }
    }
    return 0;
}

/* Leaves every file's content out of m (freed), keeping paths and modes, and the content's
 * hash (its Merkle root, 32 bytes) in its place: what tells whether a file changed
 * (pd_spec_digest). KUMO_ENOMEM. */
static int pd_manifest_strip(Kumo__Manifest *m, kumo_err_ctx_t *err)
{
    for (size_t i = 0; i < m->n_workloads; i++) {
        Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t j = 0; j < w->n_files; j++) {
            uint8_t *hash = kumo_alloc(KUMO_CRYPTO_HASH_BYTES);
            KUMO_ENSURE(hash != NULL, err, KUMO_ENOMEM, "file hash");
            ProtobufCBinaryData *c = &w->files[j]->content;
            if (kumo_crypto_merkle_root(kumo_bytes_make(c->data, c->len), hash) != 0) {
                kumo_free(hash);
                return kumo_err_set(err, KUMO_ENOMEM, "file hash");
            }
            kumo_free(c->data);
            c->data = hash;
            c->len = KUMO_CRYPTO_HASH_BYTES;
        }
    }
    return 0;
}

/* The spec of m (already stripped) for the manifest of identity id and version. */
static int pd_spec_write(const char *home,
                         const char *owner,
                         uint64_t dseq,
                         const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                         const pd_manifest_id_t *id,
                         const Kumo__Manifest *m,
                         kumo_err_ctx_t *err)
{
    kumo_buf_t b;
    kumo_buf_init(&b, PD_SPEC_HEAD_BYTES + KUMO_SDL_MANIFEST_BYTES_MAX);
    uint8_t head[PD_SPEC_HEAD_BYTES];
    memcpy(head, PD_SPEC_MAGIC, PD_SPEC_MAGIC_BYTES);
    memcpy(head + PD_SPEC_MAGIC_BYTES, version, KUMO_CRYPTO_HASH_BYTES);
    uint8_t *p = head + PD_SPEC_MAGIC_BYTES + KUMO_CRYPTO_HASH_BYTES;
    pd_be64_put(p, id->size);
    pd_be64_put(p + 8, id->ino);
    pd_be64_put(p + 16, id->mtime_s);
    pd_be64_put(p + 24, id->mtime_ns);
    int rc = kumo_buf_append(&b, head, sizeof(head)) == 0 ? kumo_codec_pack(&m->base, &b, err)
                                                          : kumo_err_set(err, KUMO_ENOMEM, "spec");
    rc = rc == 0 ? pd_deployment_store(home, owner, dseq, "spec", kumo_buf_bytes(&b), err) : rc;
    kumo_buf_free(&b);
    return rc;
}

/* Reads the spec; 0 with *out and version when it is of the manifest of identity id, else
 * KUMO_ENOTFOUND (none, or stale) or KUMO_ECORRUPT (ours, unreadable: rebuilt). */
static int pd_spec_read(const char *home,
                        const char *owner,
                        uint64_t dseq,
                        const pd_manifest_id_t *id,
                        Kumo__Manifest **out,
                        uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                        kumo_err_ctx_t *err)
{
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_deployment_path(home, owner, dseq, "spec", path) == 0, err, KUMO_ELIMIT,
                "path too long");
    kumo_buf_t b;
    kumo_buf_init(&b, PD_SPEC_HEAD_BYTES + KUMO_SDL_MANIFEST_BYTES_MAX);
    int rc = kumo_file_read(path, &b, err);
    if (rc == 0 && (b.len < PD_SPEC_HEAD_BYTES || memcmp(b.ptr, PD_SPEC_MAGIC, 8u) != 0)) {
        rc = kumo_err_set(err, KUMO_ECORRUPT, "%s: no spec header", path);
    }
    /* Only a read header is looked at (an empty read may have no buffer at all). */
    const uint8_t *p = rc == 0 ? b.ptr + PD_SPEC_MAGIC_BYTES + KUMO_CRYPTO_HASH_BYTES : NULL;
    if (p != NULL && (pd_be64_get(p) != id->size || pd_be64_get(p + 8) != id->ino ||
                      pd_be64_get(p + 16) != id->mtime_s || pd_be64_get(p + 24) != id->mtime_ns)) {
        rc = kumo_err_set(err, KUMO_ENOTFOUND, "%s: of another manifest", path);
    }
    if (rc == 0) {
        memcpy(version, b.ptr + PD_SPEC_MAGIC_BYTES, KUMO_CRYPTO_HASH_BYTES);
        rc = kumo_sdl_manifest_decode(
            pd_chunk_slice(kumo_buf_bytes(&b), PD_SPEC_HEAD_BYTES, b.len - PD_SPEC_HEAD_BYTES), out,
            err);
        rc = rc == KUMO_EDECODE || rc == KUMO_ELIMIT ? KUMO_ECORRUPT : rc;
    }
    kumo_buf_free(&b);
    return rc;
}

/* Decodes whole manifest bytes of identity id, writes its files and spec, and hands back the
 * stripped manifest and its version. */
static int pd_spec_build(const char *home,
                         const char *owner,
                         uint64_t dseq,
                         kumo_bytes_t bytes,
                         const pd_manifest_id_t *id,
                         Kumo__Manifest **out,
                         uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                         kumo_err_ctx_t *err)
{
    KUMO_ENSURE(kumo_sdl_manifest_version(bytes, version) == 0, err, KUMO_ENOMEM,
                "manifest version");
    Kumo__Manifest *m = NULL;
    KUMO_GUARD(kumo_sdl_manifest_decode(bytes, &m, err));
    /* A stored manifest passed the check when it came; its files' paths and modes are
     * checked again before anything reaches the disk (an older daemon may have stored it). */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n_workloads; i++) {
        rc = kumo_sdl_workload_files_check(m->workloads[i], err);
    }
    rc = rc == 0 ? pd_files_write(home, owner, dseq, version, m, err) : rc;
    rc = rc == 0 ? pd_manifest_strip(m, err) : rc;
    if (rc == 0) {
        kumo_err_ctx_t serr = {0};
        /* Without a spec the next load builds it again: slower, still right. */
        if (pd_spec_write(home, owner, dseq, version, id, m, &serr) != 0) {
            KUMO_LOG_WARN("provider", "manifest_spec_failed", "dseq=%" PRIu64 " detail=\"%s\"",
                          dseq, serr.detail);
        }
        *out = m;
        return 0;
    }
    kumo_codec_free(&m->base);
    return rc;
}

int pd_manifest_load(const char *home,
                     const char *owner,
                     uint64_t dseq,
                     Kumo__Manifest **out,
                     uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                     kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && owner != NULL);
    KUMO_ASSERT(out != NULL && version != NULL);
    *out = NULL;
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_deployment_path(home, owner, dseq, "manifest", path) == 0, err, KUMO_ELIMIT,
                "path too long");
    pd_manifest_id_t id;
    KUMO_GUARD(pd_manifest_id_get(path, &id, err));
    if (pd_spec_read(home, owner, dseq, &id, out, version, NULL) == 0) {
        return 0;
    }
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_SDL_MANIFEST_BYTES_MAX);
    int rc = kumo_file_read(path, &buf, err);
    /* The identity of what was read: a manifest replaced in between is read again next time. */
    rc = rc == 0 ? pd_spec_build(home, owner, dseq, kumo_buf_bytes(&buf), &id, out, version, err)
                 : rc;
    kumo_buf_free(&buf);
    return rc;
}

int pd_manifest_store(
    const char *home, const char *owner, uint64_t dseq, kumo_bytes_t bytes, kumo_err_ctx_t *err)
{
    KUMO_GUARD(pd_deployment_store(home, owner, dseq, "manifest", bytes, err));
    char path[PD_PATH_BYTES];
    pd_manifest_id_t id;
    KUMO_ENSURE(pd_deployment_path(home, owner, dseq, "manifest", path) == 0, err, KUMO_ELIMIT,
                "path too long");
    KUMO_GUARD(pd_manifest_id_get(path, &id, err));
    Kumo__Manifest *m = NULL;
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    KUMO_GUARD(pd_spec_build(home, owner, dseq, bytes, &id, &m, version, err));
    kumo_codec_free(&m->base);
    /* The files of older versions go in the next pass that sees no container bind them. */
    return 0;
}

int pd_manifest_stored_version(const char *home,
                               const char *owner,
                               uint64_t dseq,
                               uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                               kumo_err_ctx_t *err)
{
    Kumo__Manifest *m = NULL;
    KUMO_GUARD(pd_manifest_load(home, owner, dseq, &m, version, err));
    kumo_codec_free(&m->base);
    return 0;
}

void pd_files_drop(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                   pd_chunks_keep_fn keep,
                   void *keep_ctx)
{
    pd_store_drop(home, PD_FILES_EXT, owner, dseq, keep_version, keep, keep_ctx);
}

bool pd_files_spec(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                   const Kumo__ManifestWorkload *w,
                   pd_spec_mem_t *mem,
                   kumo_runtime_container_spec_t *spec)
{
    KUMO_ASSERT(w->n_files <= KUMO_RUNTIME_FILE_COUNT_MAX); /* kumo_sdl_manifest_check */
    spec->file_count = 0;
    mem->files_buf = NULL;
    if (w->n_files == 0) {
        return true;
    }
    char rel[PD_PATH_BYTES];
    char dir[PATH_MAX];
    /* The runtime needs an absolute host path, and home may be relative. */
    if (pd_files_dir(home, owner, dseq, version, rel) != 0 || realpath(rel, dir) == NULL ||
        strlen(dir) >= PD_PATH_BYTES) {
        return false;
    }
    /* Each entry: a host path (< PD_PATH_BYTES) and a container path (checked by the manifest
     * check to fit KUMO_SDL_FILE_PATH_BYTES_MAX), both NUL-ended. */
    size_t total = w->n_files * (PD_PATH_BYTES + KUMO_SDL_FILE_PATH_BYTES_MAX + 1u);
    mem->files_buf = kumo_calloc(1, total);
    if (mem->files_buf == NULL) {
        return false;
    }
    size_t pos = 0;
    for (size_t i = 0; i < w->n_files; i++) {
        char *host = mem->files_buf + pos;
        if (pd_file_path(dir, w->name, (uint32_t)i, host) != 0) {
            return false; /* files_buf is freed with the job */
        }
        pos += strlen(host) + 1u;
        size_t len = strnlen(w->files[i]->path, KUMO_SDL_FILE_PATH_BYTES_MAX + 1u);
        KUMO_ASSERT(len <= KUMO_SDL_FILE_PATH_BYTES_MAX && pos + len + 1u <= total);
        char *path = mem->files_buf + pos;
        memcpy(path, w->files[i]->path, len);
        path[len] = '\0';
        pos += len + 1u;
        spec->files[spec->file_count++] = (kumo_runtime_file_t){.host_path = host, .path = path};
    }
    return true;
}
