/*
 * valset.c - the validator set in state, per height (docs/design.md section 7).
 *
 * Sets are written only when they change: key VALSET_PREFIX || be64(UINT64_MAX - h) holds the
 * members (keys and powers) effective from height h, so an ascending scan from a height's key
 * meets first the set of that height (the greatest effective height <= h) in one step, however
 * long the chain. Updates recorded while a block at height H is applied (power 0 removes a
 * key) take effect at H + KUMO_CHAIN_VALSET_DELAY (Tendermint's rule), so a node running height
 * H + 1 already knows the set of H + 2. A second record holds the round-0 proposer priorities
 * of the height after the last applied block; each block advances it by one step into the
 * next height's members (kumo_consensus_valset_next), so no node replays priorities from
 * height 1. A record is rewritten only when its bytes change. Pure: kv only.
 */
#include <string.h>

#include "chain/chain_int.h"

#define VALSET_PREFIX      0x40u
#define VALSET_PRIO_KEY    0x41u
#define VALSET_KEY_BYTES   9u
#define VALSET_ENTRY_BYTES (KUMO_CRYPTO_PUBKEY_BYTES + 8u + 8u)
_Static_assert(KUMO_CHAIN_VALSET_BYTES_MAX ==
                   4u + KUMO_CONSENSUS_VALIDATOR_COUNT_MAX * VALSET_ENTRY_BYTES,
               "valset record size");

static void valset_key(uint8_t key[VALSET_KEY_BYTES], uint64_t height)
{
    key[0] = VALSET_PREFIX;
    kumo_be64_put(key + 1, UINT64_MAX - height);
}

int kumo_chain_valset_encode(const kumo_consensus_valset_t *vs, kumo_buf_t *out)
{
    KUMO_ASSERT(vs->count > 0 && vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    uint8_t count_be[4];
    kumo_be32_put(count_be, vs->count);
    KUMO_GUARD(kumo_buf_append(out, count_be, sizeof(count_be)));
    for (uint32_t i = 0; i < vs->count; i++) {
        uint8_t e[VALSET_ENTRY_BYTES];
        memcpy(e, vs->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        kumo_be64_put(e + KUMO_CRYPTO_PUBKEY_BYTES, vs->v[i].power);
        kumo_be64_put(e + KUMO_CRYPTO_PUBKEY_BYTES + 8u, (uint64_t)vs->v[i].priority);
        KUMO_GUARD(kumo_buf_append(out, e, sizeof(e)));
    }
    return 0;
}

int kumo_chain_valset_decode(kumo_bytes_t in, kumo_consensus_valset_t *out, kumo_err_ctx_t *err)
{
    KUMO_ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    KUMO_ENSURE(in.len >= 4u && in.len <= KUMO_CHAIN_VALSET_BYTES_MAX, err, KUMO_EDECODE,
                "validator set of %zu bytes", in.len);
    uint32_t count = kumo_be32_get(in.ptr);
    KUMO_ENSURE(count >= 1u && count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX &&
                    in.len == 4u + (size_t)count * VALSET_ENTRY_BYTES,
                err, KUMO_EDECODE, "validator set: %u entries in %zu bytes", count, in.len);
    uint8_t keys[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    const uint8_t *p = in.ptr + 4u;
    for (uint32_t i = 0; i < count; i++, p += VALSET_ENTRY_BYTES) {
        memcpy(keys[i], p, KUMO_CRYPTO_PUBKEY_BYTES);
        powers[i] = kumo_be64_get(p + KUMO_CRYPTO_PUBKEY_BYTES);
    }
    int rc = kumo_consensus_valset_init(out, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys,
                                        powers, count, err);
    KUMO_ENSURE(rc == 0, err, KUMO_EDECODE, "validator set: %s", kumo_err_name(rc));
    p = in.ptr + 4u;
    for (uint32_t i = 0; i < count; i++, p += VALSET_ENTRY_BYTES) {
        /* Canonical: entries in the set's own (address) order. */
        if (memcmp(out->v[i].pubkey, p, KUMO_CRYPTO_PUBKEY_BYTES) != 0) {
            memset(out, 0, sizeof(*out));
            return kumo_err_set(err, KUMO_EDECODE, "validator set not in address order");
        }
        out->v[i].priority = (int64_t)kumo_be64_get(p + KUMO_CRYPTO_PUBKEY_BYTES + 8u);
    }
    return 0;
}

/* Writes vs at key unless the same bytes are there. */
static int valset_put(const kumo_kv_t *kv,
                      kumo_bytes_t key,
                      const kumo_consensus_valset_t *vs,
                      kumo_err_ctx_t *err)
{
    kumo_buf_t buf;
    kumo_buf_init(&buf, KUMO_CHAIN_VALSET_BYTES_MAX);
    int rc = kumo_chain_valset_encode(vs, &buf);
    if (rc < 0) {
        kumo_buf_free(&buf);
        return kumo_err_set(err, rc, "validator set encoding");
    }
    kumo_bytes_t old = {0};
    rc = kv->get(kv->ctx, key, &old, err);
    if (rc == KUMO_ENOTFOUND || (rc == 0 && !kumo_bytes_equal(old, kumo_buf_bytes(&buf)))) {
        rc = kv->put(kv->ctx, key, kumo_buf_bytes(&buf), err);
    }
    kumo_buf_free(&buf);
    return rc;
}

/* A stored set that fails to decode is corrupt state, not bad input. */
static int valset_stored_decode(kumo_bytes_t val, kumo_consensus_valset_t *out, kumo_err_ctx_t *err)
{
    int rc = kumo_chain_valset_decode(val, out, err);
    KUMO_ENSURE(rc == 0, err, KUMO_ECORRUPT, "stored validator set: %s", err->detail);
    return 0;
}

typedef struct valset_scan {
    kumo_consensus_valset_t *out;
    kumo_err_ctx_t *err;
    bool found;
} valset_scan_t;

static int valset_scan_cb(void *cb_ctx, kumo_bytes_t key, kumo_bytes_t val)
{
    valset_scan_t *s = cb_ctx;
    KUMO_ASSERT(key.len == VALSET_KEY_BYTES);
    KUMO_GUARD(valset_stored_decode(val, s->out, s->err));
    s->found = true;
    return 1;
}

int kumo_chain_valset_get(const kumo_kv_t *kv,
                          uint64_t height,
                          kumo_consensus_valset_t *out,
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL);
    uint8_t prefix = VALSET_PREFIX;
    uint8_t start[VALSET_KEY_BYTES];
    valset_key(start, height);
    valset_scan_t s = {.out = out, .err = err};
    KUMO_GUARD(kv->scan(kv->ctx, kumo_bytes_make(&prefix, 1), kumo_bytes_make(start, sizeof(start)),
                        valset_scan_cb, &s, err));
    KUMO_ENSURE(s.found, err, KUMO_ENOTFOUND, "no validator set for height %" PRIu64, height);
    for (uint32_t i = 0; i < out->count; i++) {
        out->v[i].priority = 0;
    }
    return 0;
}

/* The priorities record: the set of the height after the last applied block. */
static int valset_prio_get(const kumo_kv_t *kv, kumo_consensus_valset_t *out, kumo_err_ctx_t *err)
{
    uint8_t key = VALSET_PRIO_KEY;
    kumo_bytes_t val = {0};
    int rc = kv->get(kv->ctx, kumo_bytes_make(&key, 1), &val, err);
    KUMO_ENSURE(rc != KUMO_ENOTFOUND, err, KUMO_ENOTFOUND, "no validator set in state");
    KUMO_GUARD(rc);
    return valset_stored_decode(val, out, err);
}

int kumo_chain_valset_proposers_get(const kumo_kv_t *kv,
                                    uint64_t next_height,
                                    uint64_t height,
                                    kumo_consensus_valset_t *out,
                                    kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL);
    KUMO_ENSURE(next_height >= 1u && (height == next_height || height - 1u == next_height), err,
                KUMO_EINVAL, "priorities of height %" PRIu64 " are not known after height %" PRIu64,
                height, next_height - 1u);
    KUMO_GUARD(valset_prio_get(kv, out, err));
    if (height == next_height) {
        return 0;
    }
    kumo_consensus_valset_t members;
    KUMO_GUARD(kumo_chain_valset_get(kv, height, &members, err));
    kumo_consensus_valset_t cur = *out;
    kumo_consensus_valset_next(&cur, &members, out);
    return 0;
}

int chain_valset_genesis_write(const kumo_kv_t *kv, const Kumo__Genesis *g, kumo_err_ctx_t *err)
{
    if (g->n_validators == 0) {
        return 0; /* no set: nothing to run consensus with (market-only tests) */
    }
    KUMO_ENSURE(g->n_validators <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX, err, KUMO_ELIMIT,
                "%zu genesis validators, limit %u", g->n_validators,
                KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    uint8_t keys[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[KUMO_CONSENSUS_VALIDATOR_COUNT_MAX];
    for (size_t i = 0; i < g->n_validators; i++) {
        const Kumo__Validator *v = g->validators[i];
        KUMO_ENSURE(v != NULL && v->pubkey.len == KUMO_CRYPTO_PUBKEY_BYTES, err, KUMO_EINVAL,
                    "validators[%zu]: no consensus key", i);
        memcpy(keys[i], v->pubkey.data, KUMO_CRYPTO_PUBKEY_BYTES);
        powers[i] = v->power;
    }
    kumo_consensus_valset_t vs;
    KUMO_GUARD(kumo_consensus_valset_init(&vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys,
                                          powers, (uint32_t)g->n_validators, err));
    uint8_t key[VALSET_KEY_BYTES];
    valset_key(key, 1);
    KUMO_GUARD(valset_put(kv, kumo_bytes_make(key, sizeof(key)), &vs, err));
    uint8_t prio_key = VALSET_PRIO_KEY;
    return valset_put(kv, kumo_bytes_make(&prio_key, 1), &vs, err);
}

/* The members of the latest set written (the greatest effective height); count 0 if none. */
static int valset_latest_get(const kumo_kv_t *kv, kumo_consensus_valset_t *out, kumo_err_ctx_t *err)
{
    int rc = kumo_chain_valset_get(kv, UINT64_MAX, out, err);
    if (rc == KUMO_ENOTFOUND) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    return rc;
}

/* base with updates applied, as a valid set: KUMO_ENOTFOUND for removing a key that is not a
 * member, and valset_init's codes for the result (KUMO_EEMPTY: no power left, KUMO_ELIMIT:
 * too many members or too much power). */
static int valset_updates_apply(const kumo_consensus_valset_t *base,
                                const kumo_chain_valset_update_t *updates,
                                uint32_t update_count,
                                kumo_consensus_valset_t *out,
                                kumo_err_ctx_t *err)
{
    enum {
        CAP = KUMO_CONSENSUS_VALIDATOR_COUNT_MAX + KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX
    };
    KUMO_ASSERT(base->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX &&
                update_count <= KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX);
    uint8_t keys[CAP][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[CAP];
    uint32_t n = base->count;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(keys[i], base->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        powers[i] = base->v[i].power;
    }
    for (uint32_t u = 0; u < update_count; u++) {
        uint32_t at = n;
        for (uint32_t i = 0; i < n && at == n; i++) {
            at = memcmp(keys[i], updates[u].pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0 ? i : n;
        }
        if (updates[u].power == 0) {
            KUMO_ENSURE(at < n, err, KUMO_ENOTFOUND,
                        "update %u removes a key that is not a "
                        "validator",
                        u);
            n--;
            memmove(keys[at], keys[n], KUMO_CRYPTO_PUBKEY_BYTES);
            powers[at] = powers[n];
            continue;
        }
        if (at == n) {
            KUMO_ASSERT(n < CAP);
            memcpy(keys[n], updates[u].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
            n++;
        }
        powers[at] = updates[u].power;
    }
    return kumo_consensus_valset_init(out, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])keys, powers,
                                      n, err);
}

int kumo_chain_valset_update_add(const kumo_kv_t *kv,
                                 kumo_chain_block_out_t *out,
                                 const uint8_t pubkey[KUMO_CRYPTO_PUBKEY_BYTES],
                                 uint64_t power,
                                 kumo_err_ctx_t *err)
{
    KUMO_ASSERT(kv != NULL && out != NULL && pubkey != NULL);
    KUMO_ENSURE(out->valset_update_count < KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX, err, KUMO_ELIMIT,
                "more than %u validator updates in a block", KUMO_CHAIN_VALSET_UPDATE_COUNT_MAX);
    KUMO_ENSURE(power <= (uint64_t)KUMO_CONSENSUS_POWER_TOTAL_MAX, err, KUMO_ELIMIT,
                "validator power %" PRIu64 " over %" PRId64, power, KUMO_CONSENSUS_POWER_TOTAL_MAX);
    for (uint32_t i = 0; i < out->valset_update_count; i++) {
        KUMO_ENSURE(memcmp(out->valset_updates[i].pubkey, pubkey, KUMO_CRYPTO_PUBKEY_BYTES) != 0,
                    err, KUMO_EDUPLICATE, "validator key updated twice in one block");
    }
    kumo_consensus_valset_t base;
    KUMO_GUARD(valset_latest_get(kv, &base, err));
    kumo_chain_valset_update_t *u = &out->valset_updates[out->valset_update_count];
    memcpy(u->pubkey, pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
    u->power = power;
    kumo_consensus_valset_t result;
    int rc = valset_updates_apply(&base, out->valset_updates, out->valset_update_count + 1u,
                                  &result, err);
    if (rc < 0) {
        memset(u, 0, sizeof(*u));
        return rc;
    }
    out->valset_update_count++;
    return 0;
}

int chain_valset_block_end(const kumo_kv_t *kv,
                           uint64_t height,
                           const kumo_chain_block_out_t *out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(height >= 1u && height <= UINT64_MAX - KUMO_CHAIN_VALSET_DELAY);
    if (out->valset_update_count > 0) {
        kumo_consensus_valset_t base;
        kumo_consensus_valset_t result;
        KUMO_GUARD(valset_latest_get(kv, &base, err));
        KUMO_GUARD(valset_updates_apply(&base, out->valset_updates, out->valset_update_count,
                                        &result, err));
        uint8_t key[VALSET_KEY_BYTES];
        valset_key(key, height + KUMO_CHAIN_VALSET_DELAY);
        KUMO_GUARD(valset_put(kv, kumo_bytes_make(key, sizeof(key)), &result, err));
    }
    kumo_consensus_valset_t cur;
    int rc = valset_prio_get(kv, &cur, err);
    if (rc == KUMO_ENOTFOUND) {
        return 0; /* a chain without validators (market-only tests) */
    }
    KUMO_GUARD(rc);
    kumo_consensus_valset_t members;
    kumo_consensus_valset_t next;
    KUMO_GUARD(kumo_chain_valset_get(kv, height + 1u, &members, err));
    kumo_consensus_valset_next(&cur, &members, &next);
    uint8_t prio_key = VALSET_PRIO_KEY;
    return valset_put(kv, kumo_bytes_make(&prio_key, 1), &next, err);
}
