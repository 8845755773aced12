/*
 * api.c - kumo_sdl_stack_parse (the top level of a stack file), the canonical order (every
 * list that comes from a YAML mapping is sorted by name; rules and ports too) and the outputs:
 * GroupSpecs, manifest bytes and version. Pure: no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "sdl/sdl_int.h"

_Static_assert(KUMO_SDL_MANIFEST_BYTES_MAX % KUMO_CRYPTO_MERKLE_CHUNK_BYTES == 0,
               "the manifest limit is a whole number of Merkle chunks");

/* qsort comparators: names, keys and port numbers are unique (parse rejects repeats), so no
 * two elements compare equal and the order is total. */
static int group_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__GroupSpec *const *)a)->name, (*(Kumo__GroupSpec *const *)b)->name);
}

static int workload_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__ManifestWorkload *const *)a)->name,
                  (*(Kumo__ManifestWorkload *const *)b)->name);
}

static int env_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__ManifestEnv *const *)a)->key, (*(Kumo__ManifestEnv *const *)b)->key);
}

static int volume_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__ManifestVolume *const *)a)->name,
                  (*(Kumo__ManifestVolume *const *)b)->name);
}

static int file_compare(const void *a, const void *b)
{
    return strcmp((*(Kumo__ManifestFile *const *)a)->path, (*(Kumo__ManifestFile *const *)b)->path);
}

static int port_compare(const void *a, const void *b)
{
    uint32_t x = (*(Kumo__ManifestPort *const *)a)->port;
    uint32_t y = (*(Kumo__ManifestPort *const *)b)->port;
    return (x > y) - (x < y);
}

/* workload rules, then group rules, then global; by name within a kind. */
static int rule_rank(const Kumo__ManifestConnection *r)
{
    return r->workload[0] != '\0' ? 0 : (r->group[0] != '\0' ? 1 : 2);
}

static int rule_compare(const void *a, const void *b)
{
    const Kumo__ManifestConnection *x = *(Kumo__ManifestConnection *const *)a;
    const Kumo__ManifestConnection *y = *(Kumo__ManifestConnection *const *)b;
    int rx = rule_rank(x);
    int ry = rule_rank(y);
    if (rx != ry) {
        return rx - ry;
    }
    return rx == 0 ? strcmp(x->workload, y->workload) : strcmp(x->group, y->group);
}

static void stack_sort(kumo_sdl_stack_t *s)
{
    qsort(s->groups, s->group_count, sizeof(*s->groups), group_compare);
    Kumo__Manifest *m = s->manifest;
    qsort(m->workloads, m->n_workloads, sizeof(*m->workloads), workload_compare);
    for (size_t i = 0; i < m->n_workloads; i++) {
        Kumo__ManifestWorkload *w = m->workloads[i];
        if (w->n_env > 0) {
            qsort(w->env, w->n_env, sizeof(*w->env), env_compare);
        }
        if (w->n_volumes > 0) {
            qsort(w->volumes, w->n_volumes, sizeof(*w->volumes), volume_compare);
        }
        if (w->n_files > 0) {
            qsort(w->files, w->n_files, sizeof(*w->files), file_compare);
        }
        if (w->n_ports > 0) {
            qsort(w->ports, w->n_ports, sizeof(*w->ports), port_compare);
        }
        for (size_t j = 0; j < w->n_ports; j++) {
            if (w->ports[j]->n_expose > 0) {
                qsort(w->ports[j]->expose, w->ports[j]->n_expose, sizeof(*w->ports[j]->expose),
                      rule_compare);
            }
        }
    }
}

static int version_parse(const sdl_ctx_t *c, uint32_t root)
{
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, root, "", "version", &v));
    const char *text;
    KUMO_GUARD(sdl_scalar(c, v, "version", &text));
    if (strcmp(text, "1") != 0) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(text, q);
        return sdl_fail(c, KUMO_EINVAL, v, "version",
                        "\"%s\" is not a supported version (use \"1\")", q);
    }
    return 0;
}

static int top_parse(const sdl_ctx_t *c)
{
    static const char *const keys[] = {"version",     "groups",  "workloads",
                                       "wait_blocks", "deposit", "secrets"};
    const uint32_t root = 0;
    KUMO_GUARD(sdl_map_check(c, root, "stack", keys, KUMO_ARRAY_COUNT(keys)));
    KUMO_GUARD(version_parse(c, root));
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, root, "", "wait_blocks", &v));
    KUMO_GUARD(sdl_u64(c, v, "wait_blocks", &c->stack->wait_blocks));
    KUMO_GUARD(sdl_map_need(c, root, "", "deposit", &v));
    KUMO_GUARD(sdl_u64(c, v, "deposit", &c->stack->deposit_ukumo));
    if (c->stack->deposit_ukumo == 0) {
        return sdl_fail(c, KUMO_EINVAL, v, "deposit", "deposit is 0");
    }
    KUMO_GUARD(sdl_map_need(c, root, "", "groups", &v));
    KUMO_GUARD(sdl_groups_parse(c, v));
    uint32_t secrets = sdl_map_get(c, root, "secrets");
    if (secrets != SDL_NONE) {
        KUMO_GUARD(sdl_secrets_parse(c, secrets));
    }
    uint32_t w;
    KUMO_GUARD(sdl_map_need(c, root, "", "workloads", &w));
    sdl_ctx_t wc = *c;
    wc.workloads = w;
    KUMO_GUARD(sdl_workloads_parse(&wc, w));
    return secrets != SDL_NONE ? sdl_secrets_finish(c, secrets, w) : 0;
}

/* The files' contents are in the packed bytes: the decoded form keeps paths and modes only,
 * so a stack of large files is held once. */
static void stack_files_strip(Kumo__Manifest *m)
{
    for (size_t i = 0; i < m->n_workloads; i++) {
        for (size_t j = 0; j < m->workloads[i]->n_files; j++) {
            ProtobufCBinaryData *c = &m->workloads[i]->files[j]->content;
            kumo_free(c->data);
            c->data = NULL;
            c->len = 0;
        }
    }
}

static int stack_build(kumo_bytes_t yaml,
                       const char *file,
                       const kumo_sdl_file_loader_t *loader,
                       kumo_sdl_stack_t *s,
                       kumo_err_ctx_t *err)
{
    sdl_tree_t tree;
    int rc = sdl_tree_build(yaml, file, &tree, err);
    if (rc == 0) {
        sdl_ctx_t c = {.tree = &tree,
                       .file = file,
                       .err = err,
                       .stack = s,
                       .workloads = SDL_NONE,
                       .loader = loader};
        rc = top_parse(&c);
    }
    sdl_tree_free(&tree);
    KUMO_GUARD(rc);
    stack_sort(s);
    kumo_err_ctx_t perr = {0};
    rc = kumo_codec_pack(&s->manifest->base, &s->manifest_bytes, &perr);
    if (rc == KUMO_ELIMIT) {
        return kumo_err_set(err, rc, "%s:1: manifest: more than %u bytes", file,
                            KUMO_SDL_MANIFEST_BYTES_MAX);
    }
    KUMO_ENSURE(rc == 0, err, rc, "%s:1: manifest: %s", file, perr.detail);
    stack_files_strip(s->manifest);
    return 0;
}

int kumo_sdl_stack_parse(kumo_bytes_t yaml,
                         const char *file_name,
                         kumo_sdl_stack_t **out,
                         kumo_err_ctx_t *err)
{
    return kumo_sdl_stack_parse_with(yaml, file_name, NULL, out, err);
}

int kumo_sdl_stack_parse_with(kumo_bytes_t yaml,
                              const char *file_name,
                              const kumo_sdl_file_loader_t *loader,
                              kumo_sdl_stack_t **out,
                              kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL && file_name != NULL);
    KUMO_ASSERT(yaml.ptr != NULL || yaml.len == 0);
    *out = NULL;
    KUMO_ENSURE(yaml.len <= KUMO_SDL_STACK_BYTES_MAX, err, KUMO_ELIMIT,
                "%s: %zu bytes, more than %u", file_name, yaml.len, KUMO_SDL_STACK_BYTES_MAX);
    kumo_sdl_stack_t *s = kumo_calloc(1, sizeof(*s));
    KUMO_ENSURE(s != NULL, err, KUMO_ENOMEM, "%s: out of memory", file_name);
    kumo_buf_init(&s->manifest_bytes, KUMO_SDL_MANIFEST_BYTES_MAX);
    s->manifest = kumo_alloc(sizeof(*s->manifest));
    if (s->manifest == NULL) {
        kumo_free(s);
        return kumo_err_set(err, KUMO_ENOMEM, "%s: out of memory", file_name);
    }
    kumo__manifest__init(s->manifest);
    int rc = stack_build(yaml, file_name, loader, s, err);
    if (rc != 0) {
        kumo_sdl_stack_free(s);
        return rc;
    }
    KUMO_ASSERT(s->group_count > 0 && s->manifest->n_workloads > 0);
    /* What providers check a received manifest against holds for every stack we accept (once
     * its secrets are sealed: kumo_sdl_stack_seal checks it then). */
    KUMO_ASSERT_SLOW(s->secret_count > 0 ||
                     kumo_sdl_manifest_check(s->manifest, s->groups, s->group_count, NULL) == 0);
    *out = s;
    return 0;
}

void kumo_sdl_stack_groups(const kumo_sdl_stack_t *stack,
                           Kumo__GroupSpec ***groups_out,
                           size_t *group_count_out,
                           uint64_t *wait_blocks_out,
                           uint64_t *deposit_ukumo_out)
{
    KUMO_ASSERT(stack != NULL && groups_out != NULL && group_count_out != NULL);
    KUMO_ASSERT(wait_blocks_out != NULL && deposit_ukumo_out != NULL);
    *groups_out = stack->groups;
    *group_count_out = stack->group_count;
    *wait_blocks_out = stack->wait_blocks;
    *deposit_ukumo_out = stack->deposit_ukumo;
}

const Kumo__Manifest *kumo_sdl_stack_manifest(const kumo_sdl_stack_t *stack)
{
    KUMO_ASSERT(stack != NULL && stack->manifest != NULL);
    return stack->manifest;
}

kumo_bytes_t kumo_sdl_stack_manifest_bytes(const kumo_sdl_stack_t *stack)
{
    KUMO_ASSERT(stack != NULL && stack->manifest_bytes.len > 0);
    return kumo_buf_bytes(&stack->manifest_bytes);
}

int kumo_sdl_manifest_encode(const kumo_sdl_stack_t *stack, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(stack != NULL && out != NULL);
    size_t before = out->len;
    int rc = kumo_buf_append(out, stack->manifest_bytes.ptr, stack->manifest_bytes.len);
    KUMO_ENSURE(rc == 0, err, rc, "manifest of %zu bytes", stack->manifest_bytes.len);
    KUMO_ASSERT(out->len - before == stack->manifest_bytes.len);
    return 0;
}

int kumo_sdl_manifest_version(kumo_bytes_t manifest, uint8_t version_out[KUMO_VERSION_BYTES])
{
    _Static_assert(KUMO_VERSION_BYTES == KUMO_CRYPTO_HASH_BYTES, "a version is a Merkle root");
    KUMO_ASSERT(version_out != NULL);
    return kumo_crypto_merkle_root(manifest, version_out);
}

int kumo_sdl_manifest_decode(kumo_bytes_t manifest, Kumo__Manifest **out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    ProtobufCMessage *msg = NULL;
    KUMO_GUARD(kumo_codec_unpack(&kumo__manifest__descriptor, manifest, KUMO_SDL_MANIFEST_BYTES_MAX,
                                 &msg, err));
    *out = (Kumo__Manifest *)msg;
    return 0;
}
