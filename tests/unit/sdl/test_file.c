/*
 * test_file.c - files in stacks (src/sdl/file.c): `files:` of inline content and of sources
 * read through the caller's loader travel in the manifest, sorted by path, with their modes,
 * so the version covers their bytes; every rule of a file (path, mode, one of source and
 * content, no overlap with another file or a volume, the count, the manifest's size, the
 * loader's errors) is a row that fails with its code and names file, line and field.
 */
#include "helpers/testutil.h"

#include "codec/codec.h"
#include "sdl_fixture.h"

/* A loader over a few named files: "site/index.html", "conf.json"; "huge" asks for more
 * than the budget; anything else is missing. */
static int loader_read(void *ctx, const char *source, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    (void)ctx;
    if (strcmp(source, "site/index.html") == 0) {
        return kumo_buf_append(out, "<h1>hi</h1>\n", 12);
    }
    if (strcmp(source, "conf.json") == 0) {
        return kumo_buf_append(out, "{\"a\":1}", 7);
    }
    if (strcmp(source, "huge") == 0) {
        return kumo_buf_reserve(out, (size_t)KUMO_SDL_MANIFEST_BYTES_MAX + 1u);
    }
    return kumo_err_set(err, KUMO_ENOTFOUND, "%s: no such file", source);
}

static const kumo_sdl_file_loader_t loader = {.ctx = NULL, .read = loader_read};

/* The base stack with web's files block (lines from 19 on). */
static char *stack_with_files(const char *block)
{
    sdl_text_t t = {0};
    sdl_text_add(&t, "    count: 2\n    files:\n%s", block);
    char *out = sdl_text_replace(sdl_base_stack, "    count: 2\n", t.ptr);
    sdl_text_free(&t);
    return out;
}

static int parse_with(const char *text, kumo_sdl_stack_t **out, kumo_err_ctx_t *err)
{
    return kumo_sdl_stack_parse_with(kumo_bytes_make(text, strlen(text)), "stack.yml", &loader, out,
                                     err);
}

static const Kumo__ManifestWorkload *web_of(const kumo_sdl_stack_t *s)
{
    const Kumo__Manifest *m = kumo_sdl_stack_manifest(s);
    for (size_t i = 0; i < m->n_workloads; i++) {
        if (strcmp(m->workloads[i]->name, "web") == 0) {
            return m->workloads[i];
        }
    }
    fail_msg("no workload web");
    return NULL;
}

static void test_files_parse_sorted_with_modes(void **state)
{
    (void)state;
    char *text = stack_with_files("      - path: /srv/www/index.html\n"
                                  "        source: site/index.html\n"
                                  "      - path: /etc/app/config.json\n"
                                  "        source: conf.json\n"
                                  "        mode: \"0600\"\n"
                                  "      - path: /etc/app/motd\n"
                                  "        content: |\n"
                                  "          hello\n");
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    int rc = parse_with(text, &s, &err);
    if (rc != 0) {
        fail_msg("%s: %s", kumo_err_name(rc), err.detail);
    }
    /* The stack's decoded form keeps paths and modes; the bytes hold the contents. */
    assert_int_equal(web_of(s)->n_files, 3);
    assert_int_equal(web_of(s)->files[0]->content.len, 0);
    Kumo__Manifest *dm = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(kumo_sdl_stack_manifest_bytes(s), &dm, &err), 0);
    const Kumo__ManifestWorkload *w = NULL;
    for (size_t i = 0; i < dm->n_workloads; i++) {
        w = strcmp(dm->workloads[i]->name, "web") == 0 ? dm->workloads[i] : w;
    }
    assert_non_null(w);
    assert_int_equal(w->n_files, 3);
    assert_string_equal(w->files[0]->path, "/etc/app/config.json");
    assert_int_equal(w->files[0]->mode, 0600u);
    assert_int_equal(w->files[0]->content.len, 7);
    assert_memory_equal(w->files[0]->content.data, "{\"a\":1}", 7);
    assert_string_equal(w->files[1]->path, "/etc/app/motd");
    assert_int_equal(w->files[1]->mode, 0644u);
    assert_int_equal(w->files[1]->content.len, 6);
    assert_memory_equal(w->files[1]->content.data, "hello\n", 6);
    assert_string_equal(w->files[2]->path, "/srv/www/index.html");
    assert_int_equal(w->files[2]->content.len, 12);
    kumo_codec_free(&dm->base);
    /* The version covers the bytes: other content, another version. */
    kumo_buf_t a;
    kumo_buf_init(&a, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(s, &a, &err), 0);
    kumo_sdl_stack_free(s);
    char *other = sdl_text_replace(text, "hello", "hellp");
    assert_int_equal(parse_with(other, &s, &err), 0);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_SDL_MANIFEST_BYTES_MAX);
    assert_int_equal(kumo_sdl_manifest_encode(s, &b, &err), 0);
    assert_false(kumo_bytes_equal(kumo_buf_bytes(&a), kumo_buf_bytes(&b)));
    /* And what a provider receives passes its check. */
    Kumo__Manifest *m = NULL;
    assert_int_equal(kumo_sdl_manifest_decode(kumo_buf_bytes(&b), &m, &err), 0);
    Kumo__GroupSpec **groups = NULL;
    size_t group_count = 0;
    uint64_t wait_blocks = 0;
    uint64_t deposit = 0;
    kumo_sdl_stack_groups(s, &groups, &group_count, &wait_blocks, &deposit);
    assert_int_equal(kumo_sdl_manifest_check(m, groups, group_count, &err), 0);
    kumo_codec_free(&m->base);
    kumo_buf_free(&a);
    kumo_buf_free(&b);
    kumo_sdl_stack_free(s);
    free(other);
    free(text);
}

static void test_files_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *block;
        int want;
        const char *detail;
    } rows[] = {
        {"not a list", "        path: /etc/x\n", KUMO_EDECODE, "expected a list of files"},
        {"unknown key", "      - {path: /etc/x, content: a, owner: root}\n", KUMO_EDECODE, "owner"},
        {"no path", "      - {content: a}\n", KUMO_EEMPTY, "files[0].path"},
        {"relative path", "      - {path: etc/x, content: a}\n", KUMO_EINVAL, "not a file path"},
        {"path with ..", "      - {path: /etc/../x, content: a}\n", KUMO_EINVAL, "files[0].path"},
        {"path /", "      - {path: /, content: a}\n", KUMO_EINVAL, "not a file path"},
        {"path under /proc", "      - {path: /proc/x, content: a}\n", KUMO_EINVAL, "/proc"},
        {"path under /sys", "      - {path: /sys/x, content: a}\n", KUMO_EINVAL, "/sys"},
        {"path under /dev", "      - {path: /dev/x, content: a}\n", KUMO_EINVAL, "/dev"},
        {"path under /tmp", "      - {path: /tmp/x, content: a}\n", KUMO_EINVAL, "/tmp"},
        {"path with a space", "      - {path: \"/etc/a b\", content: a}\n", KUMO_EINVAL,
         "not a file path"},
        {"neither source nor content", "      - {path: /etc/x}\n", KUMO_EINVAL, "exactly one"},
        {"source and content", "      - {path: /etc/x, source: conf.json, content: a}\n",
         KUMO_EINVAL, "exactly one"},
        {"absolute source", "      - {path: /etc/x, source: /etc/passwd}\n", KUMO_EINVAL,
         "relative to the stack file"},
        {"missing source", "      - {path: /etc/x, source: nope}\n", KUMO_ENOTFOUND,
         "files[0].source: nope: no such file"},
        {"source over the manifest", "      - {path: /etc/x, source: huge}\n", KUMO_ELIMIT,
         "exceed"},
        {"mode 0666", "      - {path: /etc/x, content: a, mode: \"0666\"}\n", KUMO_EINVAL,
         "not a file mode"},
        {"mode setuid", "      - {path: /etc/x, content: a, mode: \"4755\"}\n", KUMO_EINVAL,
         "not a file mode"},
        {"mode unreadable", "      - {path: /etc/x, content: a, mode: \"0200\"}\n", KUMO_EINVAL,
         "not a file mode"},
        {"mode not octal", "      - {path: /etc/x, content: a, mode: \"0648\"}\n", KUMO_EINVAL,
         "not a file mode"},
        {"mode too long", "      - {path: /etc/x, content: a, mode: \"00644\"}\n", KUMO_EINVAL,
         "not a file mode"},
        {"path twice", "      - {path: /etc/x, content: a}\n      - {path: /etc/x, content: b}\n",
         KUMO_EDUPLICATE, "files[1].path"},
        {"file under a file",
         "      - {path: /etc/x, content: a}\n      - {path: /etc/x/y, content: b}\n",
         KUMO_EDUPLICATE, "overlaps file"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *text = stack_with_files(rows[i].block);
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = parse_with(text, &s, &err);
        if (rc != rows[i].want) {
            fail_msg("%s: got %s (%s)", rows[i].name, kumo_err_name(rc), err.detail);
        }
        if (strstr(err.detail, rows[i].detail) == NULL ||
            strncmp(err.detail, "stack.yml:", 10) != 0) {
            fail_msg("%s: detail \"%s\" lacks \"%s\"", rows[i].name, err.detail, rows[i].detail);
        }
        assert_null(s);
        free(text);
    }
}

/* Without a loader (kumo_sdl_stack_parse), a source is refused; inline content works. */
static void test_source_needs_a_loader(void **state)
{
    (void)state;
    char *text = stack_with_files("      - {path: /etc/x, source: conf.json}\n");
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(sdl_parse_text(text, &s, &err), KUMO_EINVAL);
    assert_non_null(strstr(err.detail, "files[0].source"));
    free(text);
    text = stack_with_files("      - {path: /etc/x, content: inline}\n");
    assert_int_equal(sdl_parse_text(text, &s, &err), 0);
    kumo_sdl_stack_free(s);
    free(text);
}

/* A file at or under a volume's mount is refused; next to it is fine. */
static void test_file_over_a_volume_refused(void **state)
{
    (void)state;
    char *with_vol = sdl_text_replace(sdl_base_stack, "    count: 2\n",
                                      "    count: 2\n"
                                      "    volumes: {data: {size: 8Mi, mount: /data}}\n"
                                      "    files:\n"
                                      "      - {path: /data/config, content: a}\n");
    kumo_sdl_stack_t *s = NULL;
    kumo_err_ctx_t err = {0};
    assert_int_equal(parse_with(with_vol, &s, &err), KUMO_EDUPLICATE);
    assert_non_null(strstr(err.detail, "overlaps volume \"data\""));
    char *next = sdl_text_replace(with_vol, "/data/config", "/data-config");
    assert_int_equal(parse_with(next, &s, &err), 0);
    kumo_sdl_stack_free(s);
    free(next);
    free(with_vol);
}

/* KUMO_SDL_FILE_COUNT_MAX files per workload are taken, one more is refused. */
static void test_file_count_limit(void **state)
{
    (void)state;
    for (uint32_t n = KUMO_SDL_FILE_COUNT_MAX; n <= KUMO_SDL_FILE_COUNT_MAX + 1u; n++) {
        sdl_text_t block = {0};
        for (uint32_t i = 0; i < n; i++) {
            sdl_text_add(&block, "      - {path: /etc/app/f%u, content: x}\n", i);
        }
        char *text = stack_with_files(block.ptr);
        kumo_sdl_stack_t *s = NULL;
        kumo_err_ctx_t err = {0};
        int rc = parse_with(text, &s, &err);
        assert_int_equal(rc, n == KUMO_SDL_FILE_COUNT_MAX ? 0 : KUMO_ELIMIT);
        if (rc == 0) {
            assert_int_equal(web_of(s)->n_files, n);
        } else {
            assert_non_null(strstr(err.detail, "65 files exceed 64"));
        }
        kumo_sdl_stack_free(s);
        free(text);
        sdl_text_free(&block);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_parse_sorted_with_modes),
        cmocka_unit_test(test_files_rejected),
        cmocka_unit_test(test_source_needs_a_loader),
        cmocka_unit_test(test_file_over_a_volume_refused),
        cmocka_unit_test(test_file_count_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
