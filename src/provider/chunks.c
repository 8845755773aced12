/*
 * chunks.c - the chunk store: the 256 KiB chunks of a deployment's manifest (the leaves of
 * its on-chain version, kumo_crypto_merkle_root) that this provider holds, each with its
 * Merkle inclusion proof, so it can serve any chunk it has verified to the deployment's other
 * providers, also while it still fetches the rest (docs/design.md §10, "Chunked delivery").
 *
 * Layout: home/deployments/<owner>-<dseq>.chunks-<version hex>/ holds "total" (the manifest's
 * length, u64 big-endian, as declared by the peers or known from the upload) and one file
 * "<index>" per verified chunk: its proof hashes then its bytes. A directory per version, so
 * a reader on the API thread never mixes chunks of two versions while the main thread fetches
 * another; every file is written atomically but not fsync'd (kumo_file_write_cache: the store
 * is a cache), and a chunk is written only after its proof checked against the version, and
 * checked again when read (a file that fails, cut short by a crash, is removed and fetched
 * again; a broken "total" makes the store start again). The declared total
 * is only a hint (the chain holds the root, not the length): a wrong one makes chunks fail
 * their proofs or the whole fail its root, and the fetcher then drops the directory.
 * Directories of other versions are dropped when a version is fetched or uploaded, and those
 * of deployments without an active lease here by the work pass (pd_chunks_sweep). Any thread:
 * no daemon state is touched but through the arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/codec.h"
#include "file/file.h"
#include "provider/daemon_int.h"

#define PD_CHUNKS_EXT        "chunks-"
#define PD_CHUNKS_TOTAL_FILE "total"

_Static_assert(PD_CHUNK_FILE_BYTES_MAX ==
                   KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX + KUMO_CRYPTO_MERKLE_CHUNK_BYTES,
               "a chunk file is a proof and a chunk");

static int pd_chunks_dir(const char *home,
                         const char *owner,
                         uint64_t dseq,
                         const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                         char out[PD_PATH_BYTES])
{
    return pd_deployment_version_path(home, owner, dseq, PD_CHUNKS_EXT, version, out);
}

static void pd_chunks_rmdir(const char *dir);

static int pd_chunks_file(const pd_chunks_t *c, const char *name, char out[PD_PATH_BYTES])
{
    int n = snprintf(out, PD_PATH_BYTES, "%s/%s", c->dir, name);
    return n > 0 && (size_t)n < PD_PATH_BYTES ? 0 : KUMO_ELIMIT;
}

static int pd_chunks_index_file(const pd_chunks_t *c, uint32_t index, char out[PD_PATH_BYTES])
{
    char name[16];
    (void)snprintf(name, sizeof(name), "%" PRIu32, index);
    return pd_chunks_file(c, name, out);
}

/* Fills c for (version, total) under home; KUMO_ELIMIT when total is over bytes_max. */
static int pd_chunks_fill(const char *home,
                          const char *owner,
                          uint64_t dseq,
                          const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                          uint64_t total_bytes,
                          uint64_t bytes_max,
                          pd_chunks_t *c,
                          kumo_err_ctx_t *err)
{
    memset(c, 0, sizeof(*c));
    KUMO_ENSURE(total_bytes <= bytes_max, err, KUMO_ELIMIT,
                "manifest of %" PRIu64 " bytes over %" PRIu64, total_bytes, bytes_max);
    KUMO_ENSURE(pd_chunks_dir(home, owner, dseq, version, c->dir) == 0, err, KUMO_ELIMIT,
                "path too long");
    KUMO_GUARD(kumo_crypto_merkle_chunk_count(total_bytes, &c->count));
    memcpy(c->version, version, KUMO_CRYPTO_HASH_BYTES);
    c->total_bytes = total_bytes;
    return 0;
}

int pd_chunks_load(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                   uint64_t bytes_max,
                   pd_chunks_t *out,
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(home != NULL && owner != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    char dir[PD_PATH_BYTES];
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_chunks_dir(home, owner, dseq, version, dir) == 0 &&
                    snprintf(path, sizeof(path), "%s/%s", dir, PD_CHUNKS_TOTAL_FILE) <
                        (int)sizeof(path),
                err, KUMO_ELIMIT, "path too long");
    kumo_buf_t be;
    kumo_buf_init(&be, 8u);
    int rc = kumo_file_read(path, &be, err);
    if (rc == KUMO_ELIMIT || (rc == 0 && be.len != 8u)) {
        kumo_buf_free(&be);
        return kumo_err_set(err, KUMO_ECORRUPT, "%s: not 8 bytes", path);
    }
    uint64_t total = 0;
    for (size_t i = 0; rc == 0 && i < be.len; i++) {
        total = total << 8 | be.ptr[i];
    }
    kumo_buf_free(&be);
    KUMO_GUARD(rc);
    rc = pd_chunks_fill(home, owner, dseq, version, total, bytes_max, out, err);
    KUMO_ENSURE(rc == 0, err, KUMO_ECORRUPT, "%s: %s", path, err != NULL ? err->detail : "");
    return 0;
}

int pd_chunks_open(const char *home,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t version[KUMO_CRYPTO_HASH_BYTES],
                   uint64_t total_bytes,
                   uint64_t bytes_max,
                   pd_chunks_t *out,
                   kumo_err_ctx_t *err)
{
    pd_chunks_t had;
    int rc = pd_chunks_load(home, owner, dseq, version, bytes_max, &had, NULL);
    if (rc == 0) {
        KUMO_ENSURE(had.total_bytes == total_bytes, err, KUMO_EMISMATCH,
                    "held chunks are of a %" PRIu64 "-byte manifest, not %" PRIu64, had.total_bytes,
                    total_bytes);
        *out = had;
        return 0;
    }
    KUMO_GUARD(pd_chunks_fill(home, owner, dseq, version, total_bytes, bytes_max, out, err));
    char parent[PD_PATH_BYTES];
    int n = snprintf(parent, sizeof(parent), "%s/deployments", home);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(parent), err, KUMO_ELIMIT, "path too long");
    KUMO_ENSURE(mkdir(parent, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", parent,
                strerror(errno));
    KUMO_ENSURE(mkdir(out->dir, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s",
                out->dir, strerror(errno));
    uint8_t be[8];
    for (size_t i = 0; i < sizeof(be); i++) {
        be[i] = (uint8_t)(total_bytes >> (56u - 8u * i));
    }
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_chunks_file(out, PD_CHUNKS_TOTAL_FILE, path) == 0, err, KUMO_ELIMIT,
                "path too long");
    return kumo_file_write_cache(path, kumo_bytes_make(be, sizeof(be)), 0600, err);
}

int pd_chunks_put(const pd_chunks_t *c,
                  uint32_t index,
                  kumo_bytes_t proof,
                  kumo_bytes_t chunk,
                  kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL && c->count >= 1u);
    /* Nothing unproven is ever stored, so nothing unproven is ever served. */
    KUMO_GUARD(kumo_crypto_merkle_proof_verify(c->version, index, c->count, chunk, proof, err));
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_chunks_index_file(c, index, path) == 0, err, KUMO_ELIMIT, "path too long");
    KUMO_ASSERT(proof.len + chunk.len <= PD_CHUNK_FILE_BYTES_MAX);
    kumo_buf_t file;
    kumo_buf_init(&file, PD_CHUNK_FILE_BYTES_MAX);
    int rc = kumo_buf_append(&file, proof.ptr, proof.len) == 0 &&
                     kumo_buf_append(&file, chunk.ptr, chunk.len) == 0
                 ? 0
                 : kumo_err_set(err, KUMO_ENOMEM, "chunk");
    if (rc == 0) {
        rc = kumo_file_write_cache(path, kumo_buf_bytes(&file), 0600, err);
    }
    kumo_buf_free(&file);
    return rc;
}

bool pd_chunks_has(const pd_chunks_t *c, uint32_t index)
{
    KUMO_ASSERT(c != NULL);
    char path[PD_PATH_BYTES];
    struct stat st;
    return index < c->count && pd_chunks_index_file(c, index, path) == 0 && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

uint32_t pd_chunks_held(const pd_chunks_t *c)
{
    KUMO_ASSERT(c != NULL);
    uint32_t held = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        held += pd_chunks_has(c, i) ? 1u : 0u;
    }
    KUMO_ASSERT(held <= c->count);
    return held;
}

int pd_chunks_get(const pd_chunks_t *c, uint32_t index, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL && out != NULL);
    KUMO_ENSURE(index < c->count, err, KUMO_ENOTFOUND, "no chunk %" PRIu32, index);
    char path[PD_PATH_BYTES];
    KUMO_ENSURE(pd_chunks_index_file(c, index, path) == 0, err, KUMO_ELIMIT, "path too long");
    size_t before = out->len;
    int rc = kumo_file_read(path, out, err);
    size_t len = out->len - before;
    size_t proof_len =
        (size_t)kumo_crypto_merkle_proof_count(index, c->count) * KUMO_CRYPTO_HASH_BYTES;
    kumo_err_ctx_t verr = {0};
    if (rc == 0) {
        /* The empty manifest's one chunk is an empty file: out may still have no storage. */
        kumo_bytes_t file = pd_chunk_slice(kumo_buf_bytes(out), before, len);
        rc = len >= proof_len
                 ? kumo_crypto_merkle_proof_verify(c->version, index, c->count,
                                                   pd_chunk_slice(file, proof_len, len - proof_len),
                                                   pd_chunk_slice(file, 0, proof_len), &verr)
                 : KUMO_EDECODE;
        /* Our own file failing its proof is corruption (a write a crash cut short, or the
         * disk): reported, never served, and removed so the chunk is fetched again. */
        if (rc != 0) {
            (void)unlink(path);
            rc = kumo_err_set(err, KUMO_ECORRUPT, "%s: %s", path, verr.detail);
        }
    }
    if (rc != 0) {
        out->len = before; /* nothing of a failed read is handed on */
    }
    return rc;
}

int pd_chunks_assemble(const pd_chunks_t *c, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(c != NULL && out != NULL);
    kumo_buf_t one;
    kumo_buf_init(&one, PD_CHUNK_FILE_BYTES_MAX);
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < c->count; i++) {
        kumo_buf_reset(&one);
        rc = pd_chunks_get(c, i, &one, err);
        size_t proof_len =
            (size_t)kumo_crypto_merkle_proof_count(i, c->count) * KUMO_CRYPTO_HASH_BYTES;
        kumo_bytes_t chunk =
            rc == 0 ? pd_chunk_slice(kumo_buf_bytes(&one), proof_len, one.len - proof_len)
                    : kumo_bytes_make(NULL, 0);
        if (rc == 0 && kumo_buf_append(out, chunk.ptr, chunk.len) != 0) {
            rc = kumo_err_set(err, KUMO_ELIMIT, "manifest over %zu bytes", out->cap_max);
        }
    }
    kumo_buf_free(&one);
    KUMO_GUARD(rc);
    KUMO_ENSURE(out->len == c->total_bytes, err, KUMO_EMISMATCH,
                "chunks hold %zu bytes, %" PRIu64 " declared", out->len, c->total_bytes);
    return 0;
}

int pd_chunks_from_manifest(const char *home,
                            const char *owner,
                            uint64_t dseq,
                            kumo_bytes_t manifest,
                            uint64_t bytes_max,
                            pd_chunks_t *out,
                            kumo_err_ctx_t *err)
{
    uint8_t version[KUMO_CRYPTO_HASH_BYTES];
    KUMO_GUARD(kumo_crypto_merkle_root(manifest, version));
    int orc = pd_chunks_open(home, owner, dseq, version, manifest.len, bytes_max, out, err);
    if (orc == KUMO_EMISMATCH) {
        /* A store of this version under a length a peer lied about: the whole manifest is
         * the truth (its root is the version), so the store starts again from it. */
        char dir[PD_PATH_BYTES];
        if (pd_chunks_dir(home, owner, dseq, version, dir) == 0) {
            pd_chunks_rmdir(dir);
        }
        orc = pd_chunks_open(home, owner, dseq, version, manifest.len, bytes_max, out, err);
    }
    KUMO_GUARD(orc);
    uint8_t *leaves = kumo_calloc(out->count, KUMO_CRYPTO_HASH_BYTES);
    KUMO_ENSURE(leaves != NULL, err, KUMO_ENOMEM, "leaf hashes");
    for (uint32_t i = 0; i < out->count; i++) {
        size_t off = (size_t)i * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        size_t n = manifest.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES
                       ? manifest.len - off
                       : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        kumo_crypto_merkle_leaf_hash(pd_chunk_slice(manifest, off, n),
                                     leaves + (size_t)i * KUMO_CRYPTO_HASH_BYTES);
    }
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < out->count; i++) {
        if (pd_chunks_has(out, i)) {
            continue;
        }
        uint8_t proof[KUMO_CRYPTO_MERKLE_PROOF_BYTES_MAX];
        size_t proof_len = 0;
        size_t off = (size_t)i * KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        size_t n = manifest.len - off < KUMO_CRYPTO_MERKLE_CHUNK_BYTES
                       ? manifest.len - off
                       : KUMO_CRYPTO_MERKLE_CHUNK_BYTES;
        rc = kumo_crypto_merkle_proof_build(
            kumo_bytes_make(leaves, (size_t)out->count * KUMO_CRYPTO_HASH_BYTES), out->count, i,
            proof, &proof_len);
        rc = rc == 0 ? pd_chunks_put(out, i, kumo_bytes_make(proof, proof_len),
                                     pd_chunk_slice(manifest, off, n), err)
                     : rc;
    }
    kumo_free(leaves);
    return rc;
}

kumo_bytes_t pd_chunk_slice(kumo_bytes_t data, size_t off, size_t len)
{
    KUMO_ASSERT(off <= data.len && len <= data.len - off);
    /* Empty data may be a NULL slice, and NULL + 0 is undefined behaviour. */
    return kumo_bytes_make(len == 0 ? data.ptr : data.ptr + off, len);
}

/* Removes a chunk directory and its files (only plain files are ever put there). */
static void pd_chunks_rmdir(const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL && errno == ENOTDIR) {
        (void)unlink(dir); /* a store kept in one file (a deployment's .tunnels) */
        return;
    }
    if (dh == NULL) {
        return;
    }
    for (struct dirent *e = readdir(dh); e != NULL; e = readdir(dh)) {
        char path[PD_PATH_BYTES];
        if (e->d_name[0] != '.' &&
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path)) {
            (void)unlink(path);
        }
    }
    (void)closedir(dh);
    (void)rmdir(dir);
}

/* Whether name is "<owner>-<dseq>.<ext><hex>"; *owner_len is the owner's length. */
static bool
pd_store_name_parse(const char *name, const char *ext, size_t *owner_len, uint64_t *dseq)
{
    const char *dash = strrchr(name, '.');
    const char *sep = NULL;
    for (const char *p = name; dash != NULL && p < dash; p++) {
        sep = *p == '-' ? p : sep;
    }
    if (dash == NULL || sep == NULL || strncmp(dash + 1, ext, strlen(ext)) != 0) {
        return false;
    }
    char *end = NULL;
    *dseq = strtoull(sep + 1, &end, 10);
    *owner_len = (size_t)(sep - name);
    return end == dash && *owner_len < KUMO_ADDRESS_TEXT_BYTES;
}

void pd_store_drop(const char *home,
                   const char *ext,
                   const char *owner,
                   uint64_t dseq,
                   const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                   pd_chunks_keep_fn keep,
                   void *keep_ctx)
{
    char parent[PD_PATH_BYTES];
    char keep_dir[PD_PATH_BYTES] = {0};
    char keep_ext[32 + 2u * KUMO_CRYPTO_HASH_BYTES];
    KUMO_ASSERT(strlen(ext) < 32u);
    if (keep_version != NULL) {
        (void)snprintf(keep_ext, sizeof(keep_ext), "%s", ext);
        size_t n = strlen(keep_ext);
        if (kumo_codec_hex_encode(kumo_bytes_make(keep_version, KUMO_CRYPTO_HASH_BYTES),
                                  keep_ext + n, sizeof(keep_ext) - n) != 0 ||
            pd_deployment_path(home, owner, dseq, keep_ext, keep_dir) != 0) {
            return;
        }
    }
    if (snprintf(parent, sizeof(parent), "%s/deployments", home) >= (int)sizeof(parent)) {
        return;
    }
    DIR *dh = opendir(parent);
    if (dh == NULL) {
        return;
    }
    for (struct dirent *e = readdir(dh); e != NULL; e = readdir(dh)) {
        size_t owner_len = 0;
        uint64_t e_dseq = 0;
        char path[PD_PATH_BYTES];
        if (!pd_store_name_parse(e->d_name, ext, &owner_len, &e_dseq) ||
            snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) >= (int)sizeof(path)) {
            continue;
        }
        char e_owner[KUMO_ADDRESS_TEXT_BYTES];
        memcpy(e_owner, e->d_name, owner_len);
        e_owner[owner_len] = '\0';
        bool mine = owner == NULL || (e_dseq == dseq && strcmp(e_owner, owner) == 0);
        bool kept = strcmp(path, keep_dir) == 0 ||
                    (keep != NULL &&
                     keep(keep_ctx, e_owner, e_dseq, strrchr(e->d_name, '.') + 1u + strlen(ext)));
        if (mine && !kept) {
            pd_chunks_rmdir(path);
        }
    }
    (void)closedir(dh);
}

void pd_tunnels_drop(
    const char *home, const char *owner, uint64_t dseq, pd_chunks_keep_fn keep, void *keep_ctx)
{
    pd_store_drop(home, PD_TUNNELS_EXT, owner, dseq, NULL, keep, keep_ctx);
}

void pd_chunks_drop(const char *home,
                    const char *owner,
                    uint64_t dseq,
                    const uint8_t keep_version[KUMO_CRYPTO_HASH_BYTES],
                    pd_chunks_keep_fn keep,
                    void *keep_ctx)
{
    pd_store_drop(home, PD_CHUNKS_EXT, owner, dseq, keep_version, keep, keep_ctx);
}
