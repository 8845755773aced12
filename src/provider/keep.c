/*
 * keep.c - whether a new manifest version keeps a running container (docs/design.md §10).
 * Every container carries the label kumo.spec: a digest of what makes it the container it is
 * (its workload's image, command, env with sealed secrets opened, compute, group, ports and
 * their expose rules, volumes, files with their contents' hashes, its instance index, and the
 * names of the other workloads whose rules let it connect: the /etc/hosts entries it needs;
 * a workload it may not reach, added or removed, changes nothing it can do). The digest is
 * keyed with a key the daemon derives from its account key, so the label reveals nothing of a
 * secret value, and a restarted daemon computes the same one. A container whose label is the
 * digest of its instance in the new version is kept; any other is replaced. Pure.
 */
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "provider/daemon_int.h"

#define PD_SPEC_KEY_TAG "kumo.spec.key.1"

void pd_spec_key(const kumo_crypto_keypair_t *kp, uint8_t out[KUMO_CRYPTO_HASH_BYTES])
{
    const kumo_bytes_t parts[] = {
        kumo_bytes_make(PD_SPEC_KEY_TAG, sizeof(PD_SPEC_KEY_TAG)),
        kumo_bytes_make(kp->seckey, KUMO_CRYPTO_SEED_BYTES),
    };
    kumo_crypto_sha256_parts(parts, sizeof(parts) / sizeof(parts[0]), out);
}

/* A length (4 bytes, big-endian) then the bytes: no two field lists encode alike. */
static int pd_spec_put(kumo_buf_t *b, const char *s)
{
    size_t len = strlen(s);
    KUMO_ASSERT(len <= UINT32_MAX);
    const uint8_t head[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                             (uint8_t)len};
    KUMO_GUARD(kumo_buf_append(b, head, sizeof(head)));
    return kumo_buf_append(b, s, len);
}

/* Whether a rule of a port of x lets w connect by name (through the gateway: a rule that
 * names w or its group); such an x's name is an /etc/hosts entry w needs. Global ports are
 * reached at the provider's public address, never by name. */
static bool pd_spec_reaches(const Kumo__ManifestWorkload *w, const Kumo__ManifestWorkload *x)
{
    for (size_t p = 0; p < x->n_ports; p++) {
        for (size_t r = 0; r < x->ports[p]->n_expose; r++) {
            const Kumo__ManifestConnection *c = x->ports[p]->expose[r];
            if ((c->workload != NULL && strcmp(c->workload, w->name) == 0) ||
                (c->group != NULL && c->group[0] != '\0' && strcmp(c->group, w->group) == 0)) {
                return true;
            }
        }
    }
    return false;
}

int pd_spec_digest(const uint8_t key[KUMO_CRYPTO_HASH_BYTES],
                   const Kumo__Manifest *m,
                   const Kumo__ManifestWorkload *w,
                   uint32_t instance,
                   const char *const *env,
                   char out[PD_SPEC_DIGEST_TEXT_BYTES],
                   kumo_err_ctx_t *err)
{
    KUMO_ASSERT(key != NULL && m != NULL && w != NULL && env != NULL && out != NULL);
    kumo_buf_t b;
    kumo_buf_init(&b, KUMO_SDL_MANIFEST_BYTES_MAX);
    /* The workload without its count (other instances come and go) and its env (sealed
     * values differ at every seal: the opened values count, below). */
    Kumo__ManifestWorkload copy = *w;
    copy.count = 0;
    copy.n_env = 0;
    copy.env = NULL;
    int rc = kumo_codec_pack(&copy.base, &b, err);
    char inst[16];
    (void)snprintf(inst, sizeof(inst), "%u", instance);
    rc = rc == 0 ? pd_spec_put(&b, inst) : rc;
    for (size_t i = 0; rc == 0 && env[i] != NULL; i++) {
        rc = pd_spec_put(&b, env[i]);
    }
    rc = rc == 0 ? pd_spec_put(&b, "") : rc; /* the env ends */
    for (size_t i = 0; rc == 0 && i < m->n_workloads; i++) {
        if (m->workloads[i] != w && strcmp(m->workloads[i]->name, w->name) != 0 &&
            pd_spec_reaches(w, m->workloads[i])) {
            rc = pd_spec_put(&b, m->workloads[i]->name);
        }
    }
    if (rc != 0) {
        kumo_buf_free(&b); /* wiped: it held opened secrets */
        return rc == KUMO_ENOMEM || rc == KUMO_ELIMIT ? kumo_err_set(err, rc, "spec digest") : rc;
    }
    const kumo_bytes_t parts[] = {kumo_bytes_make(key, KUMO_CRYPTO_HASH_BYTES), kumo_buf_bytes(&b)};
    uint8_t digest[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256_parts(parts, 2, digest);
    kumo_buf_free(&b);
    return kumo_codec_hex_encode(kumo_bytes_make(digest, sizeof(digest)), out,
                                 PD_SPEC_DIGEST_TEXT_BYTES);
}

bool pd_container_keep(const kumo_runtime_container_t *c,
                       const char *version_hex,
                       const char *digest_hex)
{
    if (c->state != KUMO_RUNTIME_STATE_RUNNING) {
        return false;
    }
    if (strcmp(c->version, version_hex) == 0) {
        return true; /* the same manifest: the same spec */
    }
    return digest_hex != NULL && c->spec[0] != '\0' && strcmp(c->spec, digest_hex) == 0;
}
