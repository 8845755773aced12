/*
 * volumes.c - the volumes of leased workloads: which runtime volume each instance mounts, the
 * directory of their images, and their removal when the lease ends. A persistent volume's
 * name is derived from everything that owns it (provider, lease, workload, instance, volume
 * name and size), so it is found again after a container restart, a manifest update or a
 * daemon restart, and no other lease or instance can ever name it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec.h"
#include "log/log.h"
#include "provider/daemon_int.h"
#include "sdl/sdl.h"

#define PD_VOLUME_LIST_MAX KUMO_RUNTIME_LIST_COUNT_MAX

_Static_assert(KUMO_SDL_VOLUME_COUNT_MAX <= KUMO_RUNTIME_VOLUME_COUNT_MAX,
               "every volume of a workload is a mount of its containers");
_Static_assert(KUMO_SDL_MOUNT_BYTES_MAX < KUMO_RUNTIME_MOUNT_BYTES_MAX,
               "every mount path fits the runtime's");

/* kumo-<provider 8>-<dseq>-<32 hex of SHA-256 over the owners, one per line>. */
static void pd_volume_name(const kumo_provider_daemon_t *d,
                           const char *owner,
                           uint64_t dseq,
                           const pd_lease_t *l,
                           const char *workload,
                           uint32_t instance,
                           const Kumo__ManifestVolume *v,
                           char out[KUMO_RUNTIME_NAME_BYTES_MAX])
{
    char text[512];
    int n = snprintf(text, sizeof(text), "%s\n%s\n%" PRIu64 "\n%u\n%u\n%s\n%u\n%s\n%" PRIu64 "\n",
                     d->addr, owner, dseq, l->gseq, l->oseq, workload, instance, v->name,
                     v->size_bytes);
    KUMO_ASSERT(n > 0 && (size_t)n < sizeof(text)); /* names are at most 63 bytes */
    uint8_t hash[KUMO_CRYPTO_HASH_BYTES];
    kumo_crypto_sha256(kumo_bytes_make(text, (size_t)n), hash);
    char hex[2 * KUMO_CRYPTO_HASH_BYTES + 1];
    int rc = kumo_codec_hex_encode(kumo_bytes_make(hash, sizeof(hash)), hex, sizeof(hex));
    KUMO_ASSERT(rc == 0); /* the buffer fits */
    n = snprintf(out, KUMO_RUNTIME_NAME_BYTES_MAX, "kumo-%.8s-%" PRIu64 "-%.32s", d->addr + 5, dseq,
                 hex);
    KUMO_ASSERT(n > 0 && n < (int)KUMO_RUNTIME_NAME_BYTES_MAX);
}

void pd_volumes_spec(const kumo_provider_daemon_t *d,
                     const char *owner,
                     uint64_t dseq,
                     const pd_lease_t *l,
                     const Kumo__ManifestWorkload *w,
                     uint32_t instance,
                     char (*names)[KUMO_RUNTIME_NAME_BYTES_MAX],
                     kumo_runtime_container_spec_t *spec)
{
    KUMO_ASSERT(w->n_volumes <= KUMO_RUNTIME_VOLUME_COUNT_MAX); /* kumo_sdl_manifest_check */
    spec->mount_count = 0;
    spec->volume_dir = d->volume_dir;
    for (size_t i = 0; i < w->n_volumes; i++) {
        const Kumo__ManifestVolume *v = w->volumes[i];
        names[i][0] = '\0';
        if (v->persistent) {
            pd_volume_name(d, owner, dseq, l, w->name, instance, v, names[i]);
        }
        spec->mounts[spec->mount_count++] = (kumo_runtime_mount_t){
            .volume = names[i],
            .path = v->mount,
            .size_bytes = v->size_bytes,
            .persistent = v->persistent != 0,
        };
    }
}

int pd_volumes_init(kumo_provider_daemon_t *d, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(d->home[0] != '\0');
    char dir[PD_PATH_BYTES];
    int n = snprintf(dir, sizeof(dir), "%s/volumes", d->home);
    KUMO_ENSURE(n > 0 && (size_t)n < sizeof(dir), err, KUMO_ELIMIT, "home path too long");
    KUMO_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST, err, KUMO_EIO, "mkdir %s: %s", dir,
                strerror(errno));
    char real[PATH_MAX];
    KUMO_ENSURE(realpath(dir, real) != NULL, err, KUMO_EIO, "realpath %s: %s", dir,
                strerror(errno));
    size_t len = strlen(real);
    KUMO_ENSURE(len < sizeof(d->volume_dir), err, KUMO_ELIMIT, "%s too long", real);
    memcpy(d->volume_dir, real, len + 1u);
    return 0;
}

static bool pd_volume_wanted(const kumo_provider_daemon_t *d, const kumo_runtime_volume_t *v)
{
    for (uint32_t i = 0; i < d->lease_count; i++) {
        const pd_lease_t *l = &d->leases[i];
        if (l->active && l->dseq == v->dseq && l->gseq == v->gseq && l->oseq == v->oseq &&
            strcmp(l->owner, v->owner) == 0) {
            return true;
        }
    }
    return false;
}

void pd_volumes_orphans_remove(kumo_provider_daemon_t *d, bool *ok)
{
    kumo_runtime_volume_t *vols = kumo_calloc(PD_VOLUME_LIST_MAX, sizeof(*vols));
    uint32_t n = 0;
    kumo_err_ctx_t err = {0};
    if (vols == NULL || pd_rt(d)->volume_list(d->runtime, "kumo.provider", d->addr, vols,
                                              PD_VOLUME_LIST_MAX, &n, &err) != 0) {
        KUMO_LOG_WARN("provider", "volume_list_failed", "detail=\"%s\"", err.detail);
        n = 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        const kumo_runtime_volume_t *v = &vols[i];
        if (pd_volume_wanted(d, v)) {
            continue;
        }
        /* Removed by the runtime worker (after the containers queued before it); the lease
         * is released once the volume is no longer listed. */
        pd_rtwork_remove(d, PD_RTJOB_VOLUME_REMOVE, v->name, "");
        for (uint32_t k = 0; k < d->lease_count; k++) {
            const pd_lease_t *l = &d->leases[k];
            ok[k] = ok[k] &&
                    !(l->dseq == v->dseq && l->gseq == v->gseq && strcmp(l->owner, v->owner) == 0);
        }
    }
    kumo_free(vols);
}
