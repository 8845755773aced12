/*
 * file.h - small files read whole, files replaced so that a crash never leaves half of one,
 * and the lock that keeps two processes off one home directory. Every process that keeps
 * state in files (node, provider daemon, CLI) uses these; nothing else writes a file in
 * place. Not pure (I/O).
 */
#ifndef KUMO_FILE_FILE_H
#define KUMO_FILE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Appends the whole of path to out; out's cap_max bounds what is read (KUMO_ELIMIT past
 * it). KUMO_ENOTFOUND when path does not exist, KUMO_EIO when it cannot be read, KUMO_ENOMEM.
 * On failure out may hold part of the file. */
KUMO_MUST_USE int kumo_file_read(const char *path, kumo_buf_t *out, kumo_err_ctx_t *err);

/* Replaces path with data atomically: a temp file of its own beside it (created 0600, then
 * given mode), written, fsync'd, renamed over path, then the directory fsync'd. A crash
 * leaves the old or the new content, never a mix; of concurrent writers of one path the
 * last rename wins whole. KUMO_EIO (the temp file removed), KUMO_ELIMIT for a path too long. */
KUMO_MUST_USE int
kumo_file_write(const char *path, kumo_bytes_t data, unsigned int mode, kumo_err_ctx_t *err);
/* kumo_file_write without the fsyncs, for caches whose every read checks the content (a file
 * cut short by a crash fails that check and is fetched again): readers still see the old or
 * the new content whole, but after a crash the file may be empty or missing. */
KUMO_MUST_USE int
kumo_file_write_cache(const char *path, kumo_bytes_t data, unsigned int mode, kumo_err_ctx_t *err);

/* Takes the exclusive lock of path (created 0600 when missing; an flock, so it is released
 * when the process ends, kill -9 included) and writes the holder's pid in it. KUMO_EBUSY when
 * another process holds it, its message naming `what` and the holder's pid; KUMO_ENOTFOUND
 * when the directory does not exist; KUMO_EIO. *fd_out is the lock's descriptor: keep it
 * open while the lock is needed, release with kumo_file_unlock. */
KUMO_MUST_USE int
kumo_file_lock(const char *path, const char *what, int *fd_out, kumo_err_ctx_t *err);
/* Releases a lock from kumo_file_lock (fd < 0: nothing). */
void kumo_file_unlock(int fd);

#endif
