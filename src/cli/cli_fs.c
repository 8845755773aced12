/*
 * cli_fs.c - directories for commands: prepare (given or temp) and remove.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

int cli_dir_prepare(const char *dir, const char *tag, char *out, size_t out_cap)
{
    if (dir != NULL) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "kumo: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
        int n = snprintf(out, out_cap, "%s", dir);
        if (n < 0 || (size_t)n >= out_cap) {
            fprintf(stderr, "kumo: path too long: %s\n", dir);
            return -1;
        }
        return 0;
    }
    const char *base = getenv("TMPDIR");
    int n = snprintf(out, out_cap, "%s/%s-XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp",
                     tag);
    if (n < 0 || (size_t)n >= out_cap || mkdtemp(out) == NULL) {
        fprintf(stderr, "kumo: cannot create a temp dir: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int cli_dir_remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cli_dir_remove(const char *dir)
{
    (void)nftw(dir, cli_dir_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}
