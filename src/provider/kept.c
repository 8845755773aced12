/*
 * kept.c - the bound on what the daemon keeps beside the containers: the logs of replaced
 * containers (home/logs/<container name>.log, each cut at KUMO_RUNTIME_KEPT_LOG_BYTES_MAX)
 * and the runtime journals of deployments (home/events/<owner>-<dseq>.events, each cut at
 * KUMO_RUNTIME_EVENTS_BYTES_MAX). A file nothing was written to for kept_hours holds only
 * older lines: it is removed (so are leftovers of an interrupted trim). Each file being
 * bounded, the directories hold at most what was written in the last kept_hours.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log.h"
#include "provider/daemon_int.h"

/* Whether name is one of the files the runtime keeps there (or its trim's leftover). */
static bool pd_kept_name_is_ours(const char *name)
{
    static const char *const exts[] = {".log", ".events", ".tmp"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t n = strlen(exts[i]);
        if (len > n && strcmp(name + len - n, exts[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Removes the files of dir untouched since before cutoff_s; returns how many. */
static uint32_t pd_kept_dir_prune(const char *dir, uint64_t cutoff_s)
{
    KUMO_ASSERT(dir != NULL);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0; /* not made yet */
    }
    uint32_t removed = 0;
    const struct dirent *e = NULL;
    while ((e = readdir(d)) != NULL) {
        char path[PD_PATH_BYTES + 300];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (!pd_kept_name_is_ours(e->d_name) || n < 0 || (size_t)n >= sizeof(path) ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime < 0 ||
            (uint64_t)st.st_mtime >= cutoff_s) {
            continue;
        }
        if (remove(path) == 0) {
            removed++;
        } else {
            KUMO_LOG_WARN("provider", "kept_remove_failed", "file=%s errno=%d", path, errno);
        }
    }
    (void)closedir(d);
    return removed;
}

uint32_t pd_kept_prune(const char *home, uint64_t now_s, uint32_t kept_hours)
{
    KUMO_ASSERT(home != NULL);
    KUMO_ASSERT(kept_hours > 0);
    uint64_t kept_s = (uint64_t)kept_hours * 3600u;
    if (now_s <= kept_s) {
        return 0;
    }
    static const char *const dirs[] = {"logs", "events"};
    uint32_t removed = 0;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char dir[PD_PATH_BYTES];
        int n = snprintf(dir, sizeof(dir), "%s/%s", home, dirs[i]);
        if (n > 0 && (size_t)n < sizeof(dir)) {
            removed += pd_kept_dir_prune(dir, now_s - kept_s);
        }
    }
    if (removed > 0) {
        KUMO_LOG_INFO("provider", "kept_pruned", "files=%u kept_hours=%u", removed, kept_hours);
    }
    return removed;
}
