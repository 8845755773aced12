/*
 * secret.c - sealed secrets (docs/stack.md "Secrets", docs/design.md "Sealed secrets"): the
 * stack's `secrets:` (where the tenant's CLI reads each value, never the value), env values
 * {secret: NAME}, the rules that tie them to exclusive groups, sealing the values into the
 * manifest (ManifestSealedGroup: a fresh group key sealed to each listed provider, each value
 * under it), the manifest check's rules for them and opening them at a provider.
 * Pure: randomness comes in through kumo_crypto_rng_t, public keys through a callback.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "sdl/sdl_int.h"

_Static_assert(KUMO_SDL_SECRET_NAME_BYTES_MAX <= KUMO_SDL_ENV_KEY_BYTES_MAX,
               "a secret name is a variable name");
_Static_assert(KUMO_SDL_NAME_BYTES_MAX < 256u, "a group name's length is one byte of the AD");

bool sdl_secret_name_is_valid(const char *text)
{
    KUMO_ASSERT(text != NULL);
    size_t len = strnlen(text, KUMO_SDL_SECRET_NAME_BYTES_MAX + 1u);
    return len > 0 && len <= KUMO_SDL_SECRET_NAME_BYTES_MAX && sdl_env_key_is_valid(text);
}

void sdl_secrets_free(kumo_sdl_stack_t *s)
{
    for (size_t i = 0; i < s->secret_count; i++) {
        kumo_free(s->secrets[i].name);
        kumo_free(s->secrets[i].from_env);
        kumo_free(s->secrets[i].from_file);
    }
    kumo_free(s->secrets);
    s->secrets = NULL;
    s->secret_count = 0;
}

static int secret_compare(const void *a, const void *b)
{
    return strcmp(((const kumo_sdl_secret_t *)a)->name, ((const kumo_sdl_secret_t *)b)->name);
}

/* NAME: {from_env: VAR} or {from_file: PATH}. */
static int secret_entry_parse(const sdl_ctx_t *c, uint32_t key, kumo_sdl_secret_t *out)
{
    static const char *const keys[] = {"from_env", "from_file"};
    const char *name;
    KUMO_GUARD(sdl_scalar(c, key, "secrets", &name));
    char q[SDL_QUOTE_BYTES];
    sdl_quote(name, q);
    if (!sdl_secret_name_is_valid(name)) {
        return sdl_fail(c, KUMO_EINVAL, key, "secrets",
                        "\"%s\" is not a secret name (letters, digits and '_', not starting with "
                        "a digit, at most %u bytes)",
                        q, KUMO_SDL_SECRET_NAME_BYTES_MAX);
    }
    char path[SDL_PATH_BYTES];
    sdl_path_key(path, "secrets", name);
    out->name = sdl_strdup(name, strlen(name));
    if (out->name == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, key, path, "out of memory");
    }
    uint32_t node = sdl_node(c, key)->next;
    if (sdl_node(c, node)->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, path,
                        "expected {from_env: VAR} or {from_file: PATH} (a stack never holds a "
                        "secret's value)");
    }
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t env = sdl_map_get(c, node, "from_env");
    uint32_t file = sdl_map_get(c, node, "from_file");
    if ((env == SDL_NONE) == (file == SDL_NONE)) {
        return sdl_fail(c, env == SDL_NONE ? KUMO_EEMPTY : KUMO_EINVAL, node, path,
                        "give exactly one of from_env and from_file");
    }
    char p[SDL_PATH_BYTES];
    if (env != SDL_NONE) {
        sdl_path_key(p, path, "from_env");
        char *var = NULL;
        KUMO_GUARD(sdl_string(c, env, p, 1, KUMO_SDL_ENV_KEY_BYTES_MAX, &var));
        out->from_env = var;
        if (!sdl_env_key_is_valid(var)) {
            sdl_quote(var, q);
            return sdl_fail(c, KUMO_EINVAL, env, p, "\"%s\" is not a variable name", q);
        }
        return 0;
    }
    sdl_path_key(p, path, "from_file");
    char *f = NULL;
    KUMO_GUARD(sdl_string(c, file, p, 1, KUMO_SDL_SECRET_PATH_BYTES_MAX, &f));
    out->from_file = f;
    return 0;
}

int sdl_secrets_parse(const sdl_ctx_t *c, uint32_t node)
{
    const sdl_node_t *m = sdl_node(c, node);
    if (m->kind != SDL_MAP) {
        return sdl_fail(c, KUMO_EDECODE, node, "secrets", "expected a mapping of secret names");
    }
    uint32_t n = m->child_count / 2u;
    if (n == 0) {
        return sdl_fail(c, KUMO_EEMPTY, node, "secrets", "no secrets (leave the key out)");
    }
    if (n > KUMO_SDL_SECRET_COUNT_MAX) {
        return sdl_fail(c, KUMO_ELIMIT, node, "secrets", "%u secrets exceed %u", n,
                        KUMO_SDL_SECRET_COUNT_MAX);
    }
    KUMO_GUARD(sdl_map_names(c, node, "secrets"));
    kumo_sdl_stack_t *s = c->stack;
    s->secrets = kumo_calloc(n, sizeof(*s->secrets));
    if (s->secrets == NULL) {
        return sdl_fail(c, KUMO_ENOMEM, node, "secrets", "out of memory");
    }
    for (uint32_t k = m->first; k != SDL_NONE; k = sdl_node(c, sdl_node(c, k)->next)->next) {
        KUMO_GUARD(secret_entry_parse(c, k, &s->secrets[s->secret_count++]));
    }
    qsort(s->secrets, s->secret_count, sizeof(*s->secrets), secret_compare);
    return 0;
}

static const kumo_sdl_secret_t *secret_find(const kumo_sdl_stack_t *s, const char *name)
{
    for (size_t i = 0; i < s->secret_count; i++) {
        if (strcmp(s->secrets[i].name, name) == 0) {
            return &s->secrets[i];
        }
    }
    return NULL;
}

int sdl_env_secret_parse(const sdl_ctx_t *c, uint32_t node, const char *path, char **out)
{
    static const char *const keys[] = {"secret"};
    KUMO_GUARD(sdl_map_check(c, node, path, keys, KUMO_ARRAY_COUNT(keys)));
    uint32_t v;
    KUMO_GUARD(sdl_map_need(c, node, path, "secret", &v));
    char p[SDL_PATH_BYTES];
    sdl_path_key(p, path, "secret");
    const char *name;
    KUMO_GUARD(sdl_scalar(c, v, p, &name));
    if (secret_find(c->stack, name) == NULL) {
        char q[SDL_QUOTE_BYTES];
        sdl_quote(name, q);
        return sdl_fail(c, KUMO_ENOTFOUND, v, p, "no secret \"%s\" (declare it under secrets:)", q);
    }
    *out = sdl_strdup(name, strlen(name));
    return *out != NULL ? 0 : sdl_fail(c, KUMO_ENOMEM, v, p, "out of memory");
}

static const Kumo__GroupSpec *stack_group(const kumo_sdl_stack_t *s, const char *name)
{
    for (size_t i = 0; i < s->group_count; i++) {
        if (strcmp(s->groups[i]->name, name) == 0) {
            return s->groups[i];
        }
    }
    return NULL;
}

static bool group_is_sealable(const Kumo__GroupSpec *g)
{
    return g != NULL && g->requirements != NULL && g->requirements->n_providers > 0 &&
           g->requirements->exclusive;
}

/* The line of workloads.W.env.KEY for an error (the secrets mapping if it cannot be told). */
static uint32_t
env_node(const sdl_ctx_t *c, uint32_t workloads, uint32_t fallback, const char *w, const char *key)
{
    uint32_t n = workloads != SDL_NONE ? sdl_map_get(c, workloads, w) : SDL_NONE;
    n = n != SDL_NONE && sdl_node(c, n)->kind == SDL_MAP ? sdl_map_get(c, n, "env") : SDL_NONE;
    n = n != SDL_NONE && sdl_node(c, n)->kind == SDL_MAP ? sdl_map_get(c, n, key) : SDL_NONE;
    return n != SDL_NONE ? n : fallback;
}

int sdl_secrets_finish(const sdl_ctx_t *c, uint32_t secrets_node, uint32_t workloads)
{
    const kumo_sdl_stack_t *s = c->stack;
    const Kumo__Manifest *m = s->manifest;
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t j = 0; j < w->n_env; j++) {
            if (w->env[j]->secret[0] == '\0' || group_is_sealable(stack_group(s, w->group))) {
                continue;
            }
            char wp[SDL_PATH_BYTES];
            char ep[SDL_PATH_BYTES];
            char p[SDL_PATH_BYTES];
            sdl_path_key(wp, "workloads", w->name);
            sdl_path_key(ep, wp, "env");
            sdl_path_key(p, ep, w->env[j]->key);
            return sdl_fail(c, KUMO_EINVAL,
                            env_node(c, workloads, secrets_node, w->name, w->env[j]->key), p,
                            "uses secret \"%s\" but its group \"%s\" does not list "
                            "requirements.providers with exclusive: true (only the providers "
                            "a group lists, and that run nothing else of it, may hold secrets)",
                            w->env[j]->secret, w->group);
        }
    }
    for (size_t k = 0; k < s->secret_count; k++) {
        bool used = false;
        for (size_t i = 0; !used && i < m->n_workloads; i++) {
            for (size_t j = 0; !used && j < m->workloads[i]->n_env; j++) {
                used = strcmp(m->workloads[i]->env[j]->secret, s->secrets[k].name) == 0;
            }
        }
        if (!used) {
            char p[SDL_PATH_BYTES];
            sdl_path_key(p, "secrets", s->secrets[k].name);
            return sdl_fail(c, KUMO_EINVAL, secrets_node, p,
                            "secret \"%s\" is not used by any workload's env", s->secrets[k].name);
        }
    }
    return 0;
}

size_t kumo_sdl_stack_secret_count(const kumo_sdl_stack_t *stack)
{
    KUMO_ASSERT(stack != NULL);
    return stack->secret_count;
}

const kumo_sdl_secret_t *kumo_sdl_stack_secret(const kumo_sdl_stack_t *stack, size_t index)
{
    KUMO_ASSERT(stack != NULL && index < stack->secret_count);
    return &stack->secrets[index];
}

bool kumo_sdl_stack_is_sealed(const kumo_sdl_stack_t *stack)
{
    KUMO_ASSERT(stack != NULL);
    return stack->secret_count == 0 || stack->sealed;
}

size_t kumo_sdl_secret_ad(const uint8_t owner[KUMO_ADDRESS_BYTES],
                          uint64_t dseq,
                          const char *group,
                          const char *name,
                          uint8_t *out)
{
    KUMO_ASSERT(owner != NULL && group != NULL && name != NULL && out != NULL);
    size_t glen = strnlen(group, KUMO_SDL_NAME_BYTES_MAX + 1u);
    size_t nlen = strnlen(name, KUMO_SDL_SECRET_NAME_BYTES_MAX + 1u);
    KUMO_ASSERT(glen <= KUMO_SDL_NAME_BYTES_MAX && nlen <= KUMO_SDL_SECRET_NAME_BYTES_MAX);
    size_t pos = 0;
    memcpy(out, owner, KUMO_ADDRESS_BYTES);
    pos += KUMO_ADDRESS_BYTES;
    for (int i = 7; i >= 0; i--) {
        out[pos++] = (uint8_t)(dseq >> (8 * i));
    }
    out[pos++] = (uint8_t)glen;
    memcpy(out + pos, group, glen);
    pos += glen;
    memcpy(out + pos, name, nlen);
    pos += nlen;
    KUMO_ASSERT(pos <= KUMO_SDL_SECRET_AD_BYTES_MAX);
    return pos;
}

/* ---- sealing ---- */

/* Whether a workload of group g uses secret name. */
static bool group_uses(const Kumo__Manifest *m, const char *group, const char *name)
{
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        if (strcmp(w->group, group) != 0) {
            continue;
        }
        for (size_t j = 0; j < w->n_env; j++) {
            if (strcmp(w->env[j]->secret, name) == 0) {
                return true;
            }
        }
    }
    return false;
}

static bool bytes_dup(ProtobufCBinaryData *b, const uint8_t *p, size_t len)
{
    b->data = kumo_alloc(len > 0 ? len : 1u);
    if (b->data == NULL) {
        return false;
    }
    memcpy(b->data, p, len);
    b->len = len;
    return true;
}

/* The envelope of the key for provider addr (listed by group g): its public key from the
 * chain, checked against the address, and the key sealed to it. */
static int seal_envelope(const Kumo__GroupSpec *g,
                         const ProtobufCBinaryData *addr,
                         const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                         const kumo_sdl_seal_input_t *in,
                         Kumo__ManifestSealedGroup *sg,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(addr->len == KUMO_ADDRESS_BYTES);
    char text[KUMO_ADDRESS_TEXT_BYTES];
    kumo_codec_address_encode(addr->data, text);
    uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES];
    uint8_t check[KUMO_ADDRESS_BYTES];
    KUMO_GUARD(in->pubkey_cb(in->ctx, addr->data, pubkey, err));
    kumo_crypto_address_from_pubkey(pubkey, check);
    KUMO_ENSURE(memcmp(check, addr->data, KUMO_ADDRESS_BYTES) == 0, err, KUMO_EINVAL,
                "group %s: the public key given for provider %s is not its key", g->name, text);
    Kumo__ManifestEnvelope *e = kumo_alloc(sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "out of memory");
    kumo__manifest_envelope__init(e);
    sg->envelopes[sg->n_envelopes++] = e;
    uint8_t sealed[KUMO_CRYPTO_SEALED_KEY_BYTES];
    KUMO_ENSURE(kumo_crypto_seal_key_wrap(pubkey, key, in->rng, sealed) == 0, err, KUMO_EINVAL,
                "group %s: provider %s's public key has no X25519 form", g->name, text);
    KUMO_ENSURE(bytes_dup(&e->provider, addr->data, KUMO_ADDRESS_BYTES) &&
                    bytes_dup(&e->sealed_key, sealed, sizeof(sealed)),
                err, KUMO_ENOMEM, "out of memory");
    return 0;
}

/* Secret k's value (in->values[k]) of group g encrypted under key into sg. */
static int seal_value(const kumo_sdl_stack_t *s,
                      size_t k,
                      const Kumo__GroupSpec *g,
                      const uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES],
                      const kumo_sdl_seal_input_t *in,
                      Kumo__ManifestSealedGroup *sg,
                      kumo_err_ctx_t *err)
{
    const char *name = s->secrets[k].name;
    kumo_bytes_t v = in->values[k];
    KUMO_ASSERT(v.ptr != NULL || v.len == 0);
    KUMO_ENSURE(v.len <= KUMO_SDL_SECRET_VALUE_BYTES_MAX, err, KUMO_ELIMIT,
                "secret %s: %zu bytes, more than %u", name, v.len, KUMO_SDL_SECRET_VALUE_BYTES_MAX);
    KUMO_ENSURE(v.len == 0 || memchr(v.ptr, '\0', v.len) == NULL, err, KUMO_EINVAL,
                "secret %s: holds a NUL byte (an environment value cannot)", name);
    Kumo__ManifestSealedValue *sv = kumo_alloc(sizeof(*sv));
    uint8_t *ct = kumo_alloc(v.len + KUMO_CRYPTO_SEAL_TAG_BYTES);
    if (sv == NULL || ct == NULL) {
        kumo_free(sv);
        kumo_free(ct);
        return kumo_err_set(err, KUMO_ENOMEM, "out of memory");
    }
    kumo__manifest_sealed_value__init(sv);
    sg->values[sg->n_values++] = sv;
    sv->ciphertext.data = ct;
    sv->ciphertext.len = v.len + KUMO_CRYPTO_SEAL_TAG_BYTES;
    uint8_t nonce[KUMO_CRYPTO_SEAL_NONCE_BYTES];
    in->rng->fill_cb(in->rng->ctx, nonce, sizeof(nonce));
    uint8_t ad[KUMO_SDL_SECRET_AD_BYTES_MAX];
    size_t ad_len = kumo_sdl_secret_ad(in->owner, in->dseq, g->name, name, ad);
    kumo_crypto_seal_value_encrypt(key, nonce, kumo_bytes_make(ad, ad_len), v, ct);
    sv->name = sdl_strdup(name, strlen(name));
    KUMO_ENSURE(sv->name != NULL && bytes_dup(&sv->nonce, nonce, sizeof(nonce)), err, KUMO_ENOMEM,
                "out of memory");
    return 0;
}

/* The sealed group of g (one of s's groups, sorted), for the secrets its workloads use; *out
 * NULL when they use none. */
static int seal_group(const kumo_sdl_stack_t *s,
                      const Kumo__GroupSpec *g,
                      const kumo_sdl_seal_input_t *in,
                      Kumo__ManifestSealedGroup **out,
                      kumo_err_ctx_t *err)
{
    *out = NULL;
    size_t used = 0;
    for (size_t k = 0; k < s->secret_count; k++) {
        used += group_uses(s->manifest, g->name, s->secrets[k].name) ? 1u : 0u;
    }
    if (used == 0) {
        return 0;
    }
    KUMO_ASSERT(group_is_sealable(g)); /* sdl_secrets_finish */
    Kumo__ManifestSealedGroup *sg = kumo_alloc(sizeof(*sg));
    KUMO_ENSURE(sg != NULL, err, KUMO_ENOMEM, "out of memory");
    kumo__manifest_sealed_group__init(sg);
    *out = sg; /* freed by the caller, also half built */
    size_t np = g->requirements->n_providers;
    sg->group = sdl_strdup(g->name, strlen(g->name));
    sg->envelopes = kumo_calloc(np, sizeof(*sg->envelopes));
    sg->values = kumo_calloc(used, sizeof(*sg->values));
    KUMO_ENSURE(sg->group != NULL && sg->envelopes != NULL && sg->values != NULL, err, KUMO_ENOMEM,
                "out of memory");
    uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES];
    in->rng->fill_cb(in->rng->ctx, key, sizeof(key));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        rc = seal_envelope(g, &g->requirements->providers[i], key, in, sg, err);
    }
    for (size_t k = 0; rc == 0 && k < s->secret_count; k++) {
        if (group_uses(s->manifest, g->name, s->secrets[k].name)) {
            rc = seal_value(s, k, g, key, in, sg, err);
        }
    }
    kumo_crypto_wipe(key, sizeof(key));
    return rc;
}

/* Appends field 2 (sealed) of Manifest holding sg: its tag, length and bytes, exactly as
 * packing the whole manifest writes it (fields in number order, after every workload). */
static int sealed_append(const Kumo__ManifestSealedGroup *sg, kumo_buf_t *out, kumo_err_ctx_t *err)
{
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_SDL_MANIFEST_BYTES_MAX);
    int rc = kumo_codec_pack(&sg->base, &b, err);
    if (rc == 0) {
        uint8_t head[1 + 10];
        size_t n = 0;
        head[n++] = (uint8_t)((2u << 3) | 2u);
        uint64_t len = b.len;
        do {
            uint8_t byte = (uint8_t)(len & 0x7fu);
            len >>= 7;
            head[n++] = (uint8_t)(byte | (len != 0 ? 0x80u : 0u));
        } while (len != 0);
        rc = kumo_buf_append(out, head, n);
        if (rc == 0) {
            rc = kumo_buf_append(out, b.ptr, b.len);
        }
        if (rc != 0) {
            rc = kumo_err_set(err, rc, "manifest: more than %u bytes with its secrets",
                              KUMO_SDL_MANIFEST_BYTES_MAX);
        }
    }
    kumo_buf_free(&b);
    return rc;
}

int kumo_sdl_stack_seal(kumo_sdl_stack_t *stack,
                        const kumo_sdl_seal_input_t *in,
                        kumo_err_ctx_t *err)
{
    KUMO_ASSERT(stack != NULL && in != NULL);
    KUMO_ENSURE(!stack->sealed, err, KUMO_ESTATE, "the stack's secrets are already sealed");
    if (stack->secret_count == 0) {
        return 0;
    }
    KUMO_ASSERT(in->owner != NULL && in->values != NULL && in->pubkey_cb != NULL);
    KUMO_ASSERT(in->rng != NULL && in->rng->fill_cb != NULL);
    Kumo__Manifest *m = stack->manifest;
    KUMO_ASSERT(m->n_sealed == 0);
    Kumo__ManifestSealedGroup **groups = kumo_calloc(stack->group_count, sizeof(*groups));
    KUMO_ENSURE(groups != NULL, err, KUMO_ENOMEM, "out of memory");
    size_t count = 0;
    size_t len_before = stack->manifest_bytes.len;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < stack->group_count; i++) { /* groups are sorted */
        Kumo__ManifestSealedGroup *sg = NULL;
        rc = seal_group(stack, stack->groups[i], in, &sg, err);
        if (sg != NULL) {
            groups[count++] = sg;
        }
        if (rc == 0 && sg != NULL) {
            rc = sealed_append(sg, &stack->manifest_bytes, err);
        }
    }
    if (rc != 0) {
        for (size_t i = 0; i < count; i++) {
            protobuf_c_message_free_unpacked(&groups[i]->base, kumo_codec_allocator());
        }
        kumo_free(groups);
        stack->manifest_bytes.len = len_before;
        return rc;
    }
    KUMO_ASSERT(count > 0);
    m->sealed = groups;
    m->n_sealed = count;
    stack->sealed = true;
    KUMO_ASSERT_SLOW(kumo_sdl_manifest_check(m, stack->groups, stack->group_count, NULL) == 0);
    return 0;
}

/* ---- the manifest check ---- */

static const Kumo__ManifestSealedGroup *sealed_find(const Kumo__Manifest *m, const char *group)
{
    for (size_t i = 0; i < m->n_sealed; i++) {
        if (strcmp(m->sealed[i]->group, group) == 0) {
            return m->sealed[i];
        }
    }
    return NULL;
}

static const Kumo__ManifestSealedValue *value_find(const Kumo__ManifestSealedGroup *sg,
                                                   const char *name)
{
    for (size_t i = 0; sg != NULL && i < sg->n_values; i++) {
        if (strcmp(sg->values[i]->name, name) == 0) {
            return sg->values[i];
        }
    }
    return NULL;
}

static const Kumo__GroupSpec *
groups_find(Kumo__GroupSpec *const *groups, size_t group_count, const char *name)
{
    for (size_t i = 0; i < group_count; i++) {
        if (strcmp(groups[i]->name, name) == 0) {
            return groups[i];
        }
    }
    return NULL;
}

static int sealed_group_check(const Kumo__Manifest *m,
                              const Kumo__ManifestSealedGroup *sg,
                              const Kumo__GroupSpec *g,
                              kumo_err_ctx_t *err)
{
    KUMO_ENSURE(group_is_sealable(g), err, KUMO_EINVAL,
                "sealed secrets of group \"%s\": the group does not list providers with "
                "exclusive set",
                sg->group);
    const Kumo__PlacementRequirements *r = g->requirements;
    KUMO_ENSURE(sg->n_envelopes == r->n_providers, err, KUMO_EINVAL,
                "sealed secrets of group \"%s\": %zu envelopes for %zu listed providers", sg->group,
                sg->n_envelopes, r->n_providers);
    for (size_t i = 0; i < sg->n_envelopes; i++) {
        const Kumo__ManifestEnvelope *e = sg->envelopes[i];
        KUMO_ENSURE(e->provider.len == KUMO_ADDRESS_BYTES &&
                        r->providers[i].len == KUMO_ADDRESS_BYTES &&
                        memcmp(e->provider.data, r->providers[i].data, KUMO_ADDRESS_BYTES) == 0,
                    err, KUMO_EINVAL,
                    "sealed secrets of group \"%s\": envelope %zu is not for the provider the "
                    "group lists there",
                    sg->group, i);
        KUMO_ENSURE(e->sealed_key.len == KUMO_CRYPTO_SEALED_KEY_BYTES, err, KUMO_EINVAL,
                    "sealed secrets of group \"%s\": envelope %zu is not %u bytes", sg->group, i,
                    KUMO_CRYPTO_SEALED_KEY_BYTES);
    }
    KUMO_ENSURE(sg->n_values >= 1u && sg->n_values <= KUMO_SDL_SECRET_COUNT_MAX, err, KUMO_ELIMIT,
                "sealed secrets of group \"%s\": %zu values (1..%u)", sg->group, sg->n_values,
                KUMO_SDL_SECRET_COUNT_MAX);
    for (size_t i = 0; i < sg->n_values; i++) {
        const Kumo__ManifestSealedValue *v = sg->values[i];
        KUMO_ENSURE(sdl_secret_name_is_valid(v->name), err, KUMO_EINVAL,
                    "sealed secrets of group \"%s\": value %zu has no valid name", sg->group, i);
        KUMO_ENSURE(i == 0 || strcmp(sg->values[i - 1u]->name, v->name) < 0, err, KUMO_EDUPLICATE,
                    "sealed secrets of group \"%s\": values not sorted by name, or \"%s\" twice",
                    sg->group, v->name);
        KUMO_ENSURE(v->nonce.len == KUMO_CRYPTO_SEAL_NONCE_BYTES &&
                        v->ciphertext.len >= KUMO_CRYPTO_SEAL_TAG_BYTES &&
                        v->ciphertext.len <=
                            KUMO_SDL_SECRET_VALUE_BYTES_MAX + KUMO_CRYPTO_SEAL_TAG_BYTES,
                    err, KUMO_ELIMIT,
                    "sealed secrets of group \"%s\": value \"%s\" has a bad nonce or length",
                    sg->group, v->name);
        KUMO_ENSURE(group_uses(m, sg->group, v->name), err, KUMO_EINVAL,
                    "sealed secrets of group \"%s\": value \"%s\" is used by none of its "
                    "workloads",
                    sg->group, v->name);
    }
    return 0;
}

int sdl_sealed_check(const Kumo__Manifest *m,
                     Kumo__GroupSpec *const *groups,
                     size_t group_count,
                     kumo_err_ctx_t *err)
{
    KUMO_ENSURE(m->n_sealed <= group_count, err, KUMO_ELIMIT, "%zu sealed groups for %zu groups",
                m->n_sealed, group_count);
    for (size_t i = 0; i < m->n_sealed; i++) {
        const Kumo__ManifestSealedGroup *sg = m->sealed[i];
        const Kumo__GroupSpec *g = groups_find(groups, group_count, sg->group);
        KUMO_ENSURE(g != NULL, err, KUMO_ENOTFOUND, "sealed secrets of group \"%s\": no such group",
                    sg->group);
        KUMO_ENSURE(i == 0 || strcmp(m->sealed[i - 1u]->group, sg->group) < 0, err, KUMO_EDUPLICATE,
                    "sealed groups not sorted, or \"%s\" twice", sg->group);
        KUMO_GUARD(sealed_group_check(m, sg, g, err));
    }
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t j = 0; j < w->n_env; j++) {
            const Kumo__ManifestEnv *e = w->env[j];
            if (e->secret[0] == '\0') {
                continue;
            }
            KUMO_ENSURE(sdl_secret_name_is_valid(e->secret) && e->value[0] == '\0', err,
                        KUMO_EINVAL,
                        "workload \"%s\": variable \"%s\" names no valid secret, or has a value "
                        "too",
                        w->name, e->key);
            KUMO_ENSURE(value_find(sealed_find(m, w->group), e->secret) != NULL, err,
                        KUMO_ENOTFOUND,
                        "workload \"%s\": variable \"%s\": no sealed value \"%s\" in group \"%s\"",
                        w->name, e->key, e->secret, w->group);
        }
    }
    return 0;
}

/* ---- opening, at a provider ---- */

int kumo_sdl_secret_open(const Kumo__Manifest *m,
                         const char *group,
                         const char *name,
                         const uint8_t owner[KUMO_ADDRESS_BYTES],
                         uint64_t dseq,
                         const kumo_crypto_keypair_t *kp,
                         char *out,
                         size_t cap,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL && group != NULL && name != NULL && owner != NULL && kp != NULL);
    KUMO_ASSERT(out != NULL && cap > KUMO_SDL_SECRET_VALUE_BYTES_MAX);
    memset(out, 0, cap);
    const Kumo__ManifestSealedGroup *sg = sealed_find(m, group);
    const Kumo__ManifestSealedValue *v = value_find(sg, name);
    KUMO_ENSURE(v != NULL, err, KUMO_ENOTFOUND, "group %s: no sealed secret %s", group, name);
    uint8_t self[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, self);
    const Kumo__ManifestEnvelope *e = NULL;
    for (size_t i = 0; e == NULL && i < sg->n_envelopes; i++) {
        if (sg->envelopes[i]->provider.len == KUMO_ADDRESS_BYTES &&
            memcmp(sg->envelopes[i]->provider.data, self, KUMO_ADDRESS_BYTES) == 0) {
            e = sg->envelopes[i];
        }
    }
    KUMO_ENSURE(e != NULL, err, KUMO_ENOTFOUND,
                "group %s: its secrets are not sealed for this provider", group);
    KUMO_ENSURE(e->sealed_key.len == KUMO_CRYPTO_SEALED_KEY_BYTES &&
                    v->nonce.len == KUMO_CRYPTO_SEAL_NONCE_BYTES &&
                    v->ciphertext.len >= KUMO_CRYPTO_SEAL_TAG_BYTES &&
                    v->ciphertext.len - KUMO_CRYPTO_SEAL_TAG_BYTES < cap,
                err, KUMO_EINVAL, "group %s: secret %s is malformed", group, name);
    uint8_t key[KUMO_CRYPTO_SEAL_KEY_BYTES];
    int rc = kumo_crypto_seal_key_open(kp, e->sealed_key.data, key);
    if (rc != 0) {
        return kumo_err_set(err, KUMO_EMISMATCH,
                            "group %s: the envelope for this provider does not open", group);
    }
    uint8_t ad[KUMO_SDL_SECRET_AD_BYTES_MAX];
    size_t ad_len = kumo_sdl_secret_ad(owner, dseq, group, name, ad);
    size_t len = v->ciphertext.len - KUMO_CRYPTO_SEAL_TAG_BYTES;
    rc = kumo_crypto_seal_value_open(key, v->nonce.data, kumo_bytes_make(ad, ad_len),
                                     kumo_bytes_make(v->ciphertext.data, v->ciphertext.len),
                                     len > 0 ? (uint8_t *)out : NULL);
    kumo_crypto_wipe(key, sizeof(key));
    if (rc != 0) {
        return kumo_err_set(err, KUMO_EMISMATCH,
                            "group %s: secret %s fails its tag (altered, or sealed for another "
                            "deployment, group or name)",
                            group, name);
    }
    if (memchr(out, '\0', len) != NULL) {
        kumo_crypto_wipe(out, cap);
        return kumo_err_set(err, KUMO_EINVAL, "group %s: secret %s holds a NUL byte", group, name);
    }
    out[len] = '\0';
    return 0;
}

int kumo_sdl_sealed_open_check(const Kumo__Manifest *m,
                               const uint8_t owner[KUMO_ADDRESS_BYTES],
                               uint64_t dseq,
                               const kumo_crypto_keypair_t *kp,
                               kumo_err_ctx_t *err)
{
    KUMO_ASSERT(m != NULL && owner != NULL && kp != NULL);
    uint8_t self[KUMO_ADDRESS_BYTES];
    kumo_crypto_address_from_pubkey(kp->pubkey, self);
    char value[KUMO_SDL_SECRET_VALUE_BYTES_MAX + 1u];
    for (size_t i = 0; i < m->n_sealed; i++) {
        const Kumo__ManifestSealedGroup *sg = m->sealed[i];
        bool mine = false;
        for (size_t j = 0; !mine && j < sg->n_envelopes; j++) {
            mine = sg->envelopes[j]->provider.len == KUMO_ADDRESS_BYTES &&
                   memcmp(sg->envelopes[j]->provider.data, self, KUMO_ADDRESS_BYTES) == 0;
        }
        for (size_t j = 0; mine && j < sg->n_values; j++) {
            int rc = kumo_sdl_secret_open(m, sg->group, sg->values[j]->name, owner, dseq, kp, value,
                                          sizeof(value), err);
            kumo_crypto_wipe(value, sizeof(value));
            KUMO_GUARD(rc);
        }
    }
    return 0;
}
