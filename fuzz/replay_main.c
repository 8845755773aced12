/*
 * replay_main.c - runs a fuzz target over every file of the corpus directories given as
 * arguments (and tests/vectors/<target> crash reproducers), so the unit run replays corpora
 * without libFuzzer. Exit 0 when every input ran without crashing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    uint8_t *buf = malloc(1u << 20);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, 1u << 20, f);
    fclose(f);
    (void)LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: no corpus at %s (nothing to replay)\n", dir);
        return 0;
    }
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        int len = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof(path)) {
            continue;
        }
        if (replay_file(path) == 0) {
            count++;
        }
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        total += replay_dir(argv[i]);
    }
    /* Fixed edge inputs every target must survive. */
    static const uint8_t edge[] = {0x00, 0xff, 0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    for (size_t n = 0; n <= sizeof(edge); n++) {
        (void)LLVMFuzzerTestOneInput(edge, n);
    }
    printf("replayed %d corpus inputs\n", total);
    return 0;
}
