/*
 * testutil.c - temp directories for tests.
 */
#include "helpers/testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *kumo_test_tmpdir_make(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    size_t n = strlen(base) + strlen(tag) + 32;
    char *path = malloc(n);
    if (path == NULL) {
        return NULL;
    }
    snprintf(path, n, "%s/kumo-%s-XXXXXX", base, tag);
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static int tmpdir_remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void kumo_test_tmpdir_remove(char *path)
{
    if (path == NULL) {
        return;
    }
    (void)nftw(path, tmpdir_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}
