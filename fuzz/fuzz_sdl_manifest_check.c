/*
 * fuzz_sdl_manifest_check.c - libFuzzer target for kumo_sdl_manifest_check, the provider's
 * check of a received manifest against the deployment's on-chain groups. Input: a 2-byte
 * big-endian length L, L bytes of a MsgSubmitDeployment (only its groups are used: what the
 * chain holds), then the manifest bytes (what a tenant uploads or a peer serves). Both are
 * decoded canonically first, as the provider does. The check may refuse but must not crash,
 * leak or hang; when it accepts, every workload runs 1..units instances of a unit of its group
 * and no resource of a group holds more instances than its units, its volumes fit the
 * storage of its unit, and its files are at most KUMO_SDL_FILE_COUNT_MAX at valid paths with
 * valid modes, no two at one path; every secret a workload's env names has a sealed value in
 * its group, and every sealed group is an exclusive group with one envelope per provider it
 * lists. An accepted manifest's secrets are then opened with a fixed key (a listed provider's
 * path: envelopes and values from the input), which may refuse but must not crash.
 * Deterministic, no state.
 */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "sdl/sdl.h"

/* What an accepted workload's files promise, checked again the simple way. */
static void files_check(const Kumo__ManifestWorkload *w)
{
    KUMO_ASSERT(w->n_files <= KUMO_SDL_FILE_COUNT_MAX);
    for (size_t f = 0; f < w->n_files; f++) {
        const Kumo__ManifestFile *file = w->files[f];
        KUMO_ASSERT(kumo_sdl_file_path_is_valid(file->path));
        KUMO_ASSERT(kumo_sdl_file_mode_is_valid(file->mode));
        /* Never at or under /proc ("/procfs" is a path of its own), never through "..". */
        KUMO_ASSERT(strstr(file->path, "/../") == NULL && strcmp(file->path, "/proc") != 0 &&
                    strncmp(file->path, "/proc/", 6) != 0);
        for (size_t g = 0; g < f; g++) {
            KUMO_ASSERT(strcmp(w->files[g]->path, file->path) != 0);
        }
    }
}

/* What an accepted manifest's secrets promise: a reference has its sealed value; a sealed
 * group belongs to an exclusive group that lists exactly its envelopes' providers. */
static void secrets_check(const Kumo__Manifest *m, Kumo__GroupSpec *const *groups, size_t n)
{
    for (size_t i = 0; i < m->n_sealed; i++) {
        const Kumo__ManifestSealedGroup *sg = m->sealed[i];
        bool found = false;
        for (size_t g = 0; g < n; g++) {
            if (strcmp(groups[g]->name, sg->group) != 0) {
                continue;
            }
            found = true;
            const Kumo__PlacementRequirements *r = groups[g]->requirements;
            KUMO_ASSERT(r != NULL && r->exclusive && r->n_providers == sg->n_envelopes);
        }
        KUMO_ASSERT(found);
    }
    for (size_t i = 0; i < m->n_workloads; i++) {
        const Kumo__ManifestWorkload *w = m->workloads[i];
        for (size_t j = 0; j < w->n_env; j++) {
            if (w->env[j]->secret[0] == '\0') {
                continue;
            }
            bool found = false;
            for (size_t k = 0; k < m->n_sealed; k++) {
                for (size_t v = 0;
                     strcmp(m->sealed[k]->group, w->group) == 0 && v < m->sealed[k]->n_values;
                     v++) {
                    found = found || strcmp(m->sealed[k]->values[v]->name, w->env[j]->secret) == 0;
                }
            }
            KUMO_ASSERT(found && w->env[j]->value[0] == '\0');
        }
    }
}

/* What an accepted manifest promises: counted again the simple way. */
static void accepted_check(const Kumo__Manifest *m, Kumo__GroupSpec *const *groups, size_t n)
{
    KUMO_ASSERT(m->n_workloads >= 1u && m->n_workloads <= KUMO_SDL_WORKLOAD_COUNT_MAX);
    for (size_t g = 0; g < n; g++) {
        for (size_t r = 0; r < groups[g]->n_resources; r++) {
            const Kumo__ResourceGroup *res = groups[g]->resources[r];
            uint64_t used = 0;
            for (size_t i = 0; i < m->n_workloads; i++) {
                const Kumo__ManifestWorkload *w = m->workloads[i];
                KUMO_ASSERT(w->count >= 1u && w->compute != NULL);
                bool here = strcmp(w->group, groups[g]->name) == 0 && res->compute != NULL &&
                            w->compute->cpu_milli == res->compute->cpu_milli &&
                            w->compute->memory_bytes == res->compute->memory_bytes &&
                            w->compute->storage_bytes == res->compute->storage_bytes;
                used += here ? w->count : 0u;
                uint64_t volume_bytes = 0;
                for (size_t v = 0; v < w->n_volumes; v++) {
                    KUMO_ASSERT(w->volumes[v]->size_bytes >= KUMO_SDL_VOLUME_BYTES_MIN);
                    volume_bytes += w->volumes[v]->size_bytes; /* each <= storage: no wrap */
                    KUMO_ASSERT(volume_bytes <= w->compute->storage_bytes);
                }
                files_check(w);
            }
            KUMO_ASSERT(used <= res->count);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t len = (size_t)data[0] << 8 | data[1];
    if (len > size - 2u) {
        return 0;
    }
    ProtobufCMessage *dm = NULL;
    if (kumo_codec_unpack(&kumo__msg_submit_deployment__descriptor, kumo_bytes_make(data + 2, len),
                          KUMO_TX_BYTES_MAX, &dm, NULL) != 0) {
        return 0;
    }
    const Kumo__MsgSubmitDeployment *d = (const Kumo__MsgSubmitDeployment *)dm;
    Kumo__Manifest *m = NULL;
    if (kumo_sdl_manifest_decode(kumo_bytes_make(data + 2 + len, size - 2u - len), &m, NULL) == 0) {
        kumo_err_ctx_t err = {0};
        if (kumo_sdl_manifest_check(m, d->groups, d->n_groups, &err) == 0) {
            accepted_check(m, d->groups, d->n_groups);
            secrets_check(m, d->groups, d->n_groups);
            uint8_t seed[KUMO_CRYPTO_SEED_BYTES];
            memset(seed, 0x40, sizeof(seed)); /* the seeds' listed provider */
            kumo_crypto_keypair_t kp;
            kumo_crypto_key_from_seed(seed, &kp);
            static const uint8_t owner[KUMO_ADDRESS_BYTES] = {7, 7, 7};
            kumo_err_ctx_t oerr = {0};
            int rc = kumo_sdl_sealed_open_check(m, owner, 42, &kp, &oerr);
            KUMO_ASSERT(rc == 0 || (oerr.code < 0 && oerr.detail[0] != '\0'));
            kumo_crypto_key_wipe(&kp);
        } else {
            KUMO_ASSERT(err.code < 0 && err.detail[0] != '\0');
        }
        kumo_codec_free(&m->base);
    }
    kumo_codec_free(dm);
    return 0;
}
