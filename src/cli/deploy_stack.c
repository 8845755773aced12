/*
 * deploy_stack.c - the stack file of `kumo deploy` (read, validated by sdl into groups,
 * canonical manifest and version) and the small state file next to it that remembers which
 * deployment the stack became: "<dir>/.kumo-deploy-<file>.json", written 0600 by create,
 * read by update, status, logs and close, removed once the deployment is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/deploy_int.h"
#include "file/file.h"

int deploy_stack_file_read(const char *path, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    kumo_buf_init(out, KUMO_SDL_STACK_BYTES_MAX);
    int rc = kumo_file_read(path, out, err);
    if (rc < 0) {
        kumo_buf_free(out);
    }
    return rc;
}

int deploy_stack_akash_convert(const char *path,
                               kumo_bytes_t yaml,
                               const kumo_sdl_akash_opts_t *opts,
                               kumo_buf_t *text,
                               kumo_buf_t *notes,
                               kumo_err_ctx_t *err)
{
    kumo_buf_init(text, KUMO_SDL_STACK_BYTES_MAX);
    kumo_buf_init(notes, KUMO_SDL_AKASH_NOTES_BYTES_MAX);
    int rc = kumo_sdl_akash_convert(yaml, path, opts, text, notes, err);
    if (rc < 0) {
        kumo_buf_free(text);
        kumo_buf_free(notes);
    }
    return rc;
}

/* Reads a file's `source:` relative to the stack file's directory (ctx: that directory). */
static int stack_source_read(void *ctx, const char *source, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    const char *dir = ctx;
    char path[CLI_PATH_BYTES];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, source);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(path), err, KUMO_ELIMIT, "%s: path too long", source);
    kumo_err_ctx_t ferr = {0};
    int rc = kumo_file_read(path, out, &ferr);
    KUMO_ENSURE(rc == 0, err, rc, "%s", ferr.detail);
    return 0;
}

/* An Akash SDL file is converted first (its warnings go to stderr); a kumo stack as is, with
 * its files' sources read next to it. */
static int
stack_parse(const char *path, kumo_bytes_t yaml, kumo_sdl_stack_t **out, kumo_err_ctx_t *err)
{
    if (!kumo_sdl_akash_detect(yaml)) {
        char dir[CLI_PATH_BYTES];
        const char *slash = strrchr(path, '/');
        int dir_len = slash == NULL ? 1 : slash == path ? 1 : (int)(slash - path);
        int n = snprintf(dir, sizeof(dir), "%.*s", dir_len, slash == NULL ? "." : path);
        KUMO_ENSURE(n > 0 && (size_t)n < sizeof(dir), err, KUMO_ELIMIT, "path too long: %s", path);
        kumo_sdl_file_loader_t loader = {.ctx = dir, .read = stack_source_read};
        return kumo_sdl_stack_parse_with(yaml, path, &loader, out, err);
    }
    kumo_buf_t text;
    kumo_buf_t notes;
    int rc = deploy_stack_akash_convert(path, yaml, NULL, &text, &notes, err);
    if (rc == KUMO_EEMPTY && strstr(err->detail, "--region") != NULL) {
        size_t len = strlen(err->detail);
        (void)snprintf(err->detail + len, sizeof(err->detail) - len,
                       " to kumo stack convert (then deploy the kumo stack it writes)");
    }
    KUMO_GUARD(rc);
    if (notes.len > 0) {
        fprintf(stderr, "kumo: %s is Akash SDL; converted with warnings:\n%.*s", path,
                (int)notes.len, (const char *)notes.ptr);
    }
    char name[CLI_PATH_BYTES + 32u];
    (void)snprintf(name, sizeof(name), "%s (as kumo stack)", path);
    rc = kumo_sdl_stack_parse(kumo_buf_bytes(&text), name, out, err);
    kumo_buf_free(&text);
    kumo_buf_free(&notes);
    return rc;
}

/* "<dir>/.kumo-deploy-<file>.json" for the stack at path. */
int deploy_stack_state_path(const char *path, char *out, size_t cap, kumo_err_ctx_t *err)
{
    const char *slash = strrchr(path, '/');
    const char *file = slash != NULL ? slash + 1 : path;
    int dir_len = slash != NULL ? (int)(slash - path) : 1;
    const char *dir = slash != NULL ? path : ".";
    if (slash == path) {
        dir = "/";
        dir_len = 0;
    }
    int n = snprintf(out, cap, "%.*s/.kumo-deploy-%s.json", dir_len, dir, file);
    KUMO_ENSURE(n > 0 && (size_t)n < cap, err, KUMO_ELIMIT, "stack path too long: %s", path);
    return 0;
}

int deploy_stack_load(const char *path, deploy_stack_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(path != NULL);
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    KUMO_GUARD(deploy_stack_state_path(path, out->state_path, sizeof(out->state_path), err));
    kumo_buf_t yaml;
    KUMO_GUARD(deploy_stack_file_read(path, &yaml, err));
    int rc = stack_parse(path, kumo_buf_bytes(&yaml), &out->sdl, err);
    kumo_buf_free(&yaml);
    KUMO_GUARD(rc);
    /* Borrowed, not copied: a manifest may be 256 MiB. */
    out->manifest = kumo_sdl_stack_manifest_bytes(out->sdl);
    rc = kumo_sdl_manifest_version(out->manifest, out->version);
    if (rc == 0) {
        rc = kumo_codec_hex_encode(kumo_bytes_make(out->version, sizeof(out->version)),
                                   out->version_hex, sizeof(out->version_hex));
    }
    if (rc < 0) {
        deploy_stack_free(out);
        return rc;
    }
    kumo_sdl_stack_groups(out->sdl, &out->groups, &out->group_count, &out->wait_blocks,
                          &out->deposit_ukumo);
    KUMO_ASSERT(out->group_count >= 1 && out->group_count <= KUMO_GROUP_COUNT_MAX);
    return 0;
}

void deploy_stack_free(deploy_stack_t *s)
{
    if (s == NULL) {
        return;
    }
    kumo_sdl_stack_free(s->sdl);
    s->sdl = NULL;
    s->manifest = kumo_bytes_make(NULL, 0);
    s->groups = NULL;
    s->group_count = 0;
}

int deploy_stack_workload_gseq(const deploy_stack_t *s, const char *workload)
{
    KUMO_ASSERT(s->sdl != NULL);
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(s->sdl);
    for (size_t i = 0; i < m->n_workloads; i++) {
        if (strcmp(m->workloads[i]->name, workload) != 0) {
            continue;
        }
        for (size_t g = 0; g < s->group_count; g++) {
            if (strcmp(s->groups[g]->name, m->workloads[i]->group) == 0) {
                return (int)g;
            }
        }
    }
    return -1;
}

/* ---- state file ---- */

int deploy_state_write(const char *path, const deploy_state_t *st, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(st->dseq > 0);
    char dseq[24];
    (void)snprintf(dseq, sizeof(dseq), "%" PRIu64, st->dseq);
    json_t *j = json_pack("{s:s, s:s, s:s}", "owner", st->owner, "dseq", dseq, "from", st->from);
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    KUMO_ENSURE(text != NULL, err, KUMO_ENOMEM, "state file");
    kumo_buf_t b;
    kumo_buf_init(&b, strlen(text) + 1u);
    int rc = kumo_buf_append(&b, text, strlen(text)) == 0 && kumo_buf_append(&b, "\n", 1) == 0
                 ? kumo_file_write(path, kumo_buf_bytes(&b), 0600, err)
                 : kumo_err_set(err, KUMO_ENOMEM, "state file");
    kumo_buf_free(&b);
    free(text);
    return rc;
}

int deploy_state_read(const char *path, deploy_state_t *st, kumo_err_ctx_t *err)
{
    memset(st, 0, sizeof(*st));
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        return kumo_err_set(err, KUMO_ENOTFOUND, "no %s", path);
    }
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    KUMO_ENSURE(j != NULL, err, KUMO_EDECODE, "%s: %s", path, jerr.text);
    const char *owner = cli_json_str(j, "owner");
    const char *from = cli_json_str(j, "from");
    int rc = cli_u64_parse(cli_json_str(j, "dseq"), "dseq", &st->dseq, err);
    if (rc == 0 &&
        (strlen(owner) >= sizeof(st->owner) || strlen(from) >= sizeof(st->from) || st->dseq == 0)) {
        rc = kumo_err_set(err, KUMO_EDECODE, "%s: bad owner, dseq or from", path);
    }
    if (rc == 0) {
        (void)snprintf(st->owner, sizeof(st->owner), "%s", owner);
        (void)snprintf(st->from, sizeof(st->from), "%s", from);
    }
    json_decref(j);
    return rc;
}
