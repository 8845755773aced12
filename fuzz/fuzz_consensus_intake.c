/*
 * fuzz_consensus_intake.c - the engine's message intake driven by a script: each 6-byte record
 * is a validly signed proposal or vote (any of 4 validators or an outsider, heights around the
 * current one, rounds up to past the last, valid, invalid or nil values) or a timer firing.
 * Whatever the order, the engine must never fail on its own, every message it keeps must have
 * gone through io.wal_append exactly once (appends == counters.stored), and values are
 * executed exactly when counted (validate calls == counters.validated). Deterministic: fixed
 * keys, Ed25519 signatures are deterministic, the clock is the record count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define FZ_VALIDATORS 4u
#define FZ_RECORD     6u
#define FZ_RECORD_MAX 256u
#define FZ_CHAIN      "kumo-fuzz"

typedef struct fz {
    kumo_crypto_keypair_t kps[FZ_VALIDATORS + 1u]; /* the last one is an outsider */
    kumo_consensus_valset_t vs;
    uint32_t self;
    uint64_t now_ms;
    uint64_t wal_count;
    uint64_t validate_count;
} fz_t;

static const kumo_crypto_keypair_t *fz_key_of(const fz_t *f, uint32_t vindex)
{
    for (uint32_t k = 0; k < FZ_VALIDATORS; k++) {
        if (memcmp(f->kps[k].pubkey, f->vs.v[vindex].pubkey, KUMO_CRYPTO_PUBKEY_BYTES) == 0) {
            return &f->kps[k];
        }
    }
    abort();
}

static uint64_t fz_now(void *ctx)
{
    return ((fz_t *)ctx)->now_ms;
}

static int fz_timer(void *ctx, uint32_t id, uint64_t deadline_ms)
{
    (void)ctx;
    (void)id;
    (void)deadline_ms;
    return 0;
}

static int fz_broadcast(void *ctx, kumo_bytes_t msg)
{
    (void)ctx;
    (void)msg;
    return 0;
}

static int fz_sign(void *ctx, kumo_bytes_t msg, uint8_t sig[KUMO_CRYPTO_SIG_BYTES])
{
    fz_t *f = ctx;
    kumo_crypto_sign(fz_key_of(f, f->self), msg, sig);
    return 0;
}

static int fz_value(void *ctx, uint64_t h, kumo_buf_t *out)
{
    (void)ctx;
    (void)h;
    return kumo_buf_append(out, "own", 3);
}

static bool fz_valid(void *ctx, uint64_t h, uint32_t proposer_index, kumo_bytes_t v)
{
    fz_t *f = ctx;
    (void)h;
    if (proposer_index != KUMO_CONSENSUS_PROPOSER_ANY && proposer_index >= FZ_VALIDATORS) {
        abort();
    }
    f->validate_count++;
    return v.len > 0 && v.ptr[0] != 'X';
}

static int fz_deliver(void *ctx, const kumo_consensus_decision_t *d)
{
    (void)ctx;
    (void)d;
    return 0;
}

static int fz_wal(void *ctx, kumo_bytes_t msg)
{
    fz_t *f = ctx;
    kumo_consensus_msg_t m;
    if (kumo_consensus_msg_decode(msg, &m, NULL) != 0) {
        abort(); /* only well-formed messages are kept */
    }
    f->wal_count++;
    return 0;
}

static void fz_setup(fz_t *f)
{
    memset(f, 0, sizeof(*f));
    uint8_t pubs[FZ_VALIDATORS][KUMO_CRYPTO_PUBKEY_BYTES];
    uint64_t powers[FZ_VALIDATORS];
    for (uint32_t i = 0; i <= FZ_VALIDATORS; i++) {
        uint8_t seed[KUMO_CRYPTO_SEED_BYTES] = {0};
        seed[0] = (uint8_t)(i + 1u);
        seed[1] = 0xf2;
        kumo_crypto_key_from_seed(seed, &f->kps[i]);
        if (i < FZ_VALIDATORS) {
            memcpy(pubs[i], f->kps[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
            powers[i] = 10;
        }
    }
    if (kumo_consensus_valset_init(&f->vs, (const uint8_t(*)[KUMO_CRYPTO_PUBKEY_BYTES])pubs, powers,
                                   FZ_VALIDATORS, NULL) != 0) {
        abort();
    }
    f->self = FZ_VALIDATORS - 1u;
}

/* One record: op, signer, height delta, round (2 bytes), value. */
static int fz_record(fz_t *f, kumo_consensus_t *c, const uint8_t *rec)
{
    uint32_t op = rec[0] % 4u;
    if (op == 3u) {
        f->now_ms += 1000u;
        return kumo_consensus_on_timer(c, rec[1] % KUMO_CONSENSUS_TIMER_COUNT, NULL);
    }
    kumo_consensus_msg_t m = {0};
    m.kind = (kumo_consensus_msg_kind_t)(op + 1u);
    uint64_t h = kumo_consensus_height(c);
    m.height = h + (rec[2] % 4u) - (h > 1u ? 1u : 0u);
    m.round = (uint32_t)((rec[3] << 8) | rec[4]) % 1100u;
    m.pol_round = KUMO_CONSENSUS_ROUND_NONE;
    char value[8];
    int n = snprintf(value, sizeof(value), "%c%u", (rec[5] & 1u) ? 'X' : 'v', rec[5] >> 1);
    m.has_value = rec[5] != 0 || m.kind == KUMO_CONSENSUS_MSG_PROPOSAL;
    m.value = kumo_bytes_make(value, (size_t)n);
    if (m.has_value) {
        kumo_crypto_sha256(m.value, m.value_id);
    }
    uint32_t signer = rec[1] % (FZ_VALIDATORS + 1u);
    const kumo_crypto_keypair_t *kp = &f->kps[FZ_VALIDATORS];
    if ((rec[1] & 0x80u) != 0 && m.round < KUMO_CONSENSUS_ROUND_COUNT_MAX) {
        kp = fz_key_of(f, kumo_consensus_proposer(c, m.round)); /* this height's proposer */
    } else if (signer < FZ_VALIDATORS) {
        kp = &f->kps[signer];
    }
    if (kumo_consensus_msg_sign(&m, FZ_CHAIN, kp) != 0) {
        abort();
    }
    uint8_t buf[KUMO_CONSENSUS_VOTE_BYTES + KUMO_CONSENSUS_PROPOSAL_BYTES_MIN + sizeof(value)];
    size_t len = 0;
    if (kumo_consensus_msg_encode(&m, buf, sizeof(buf), &len) != 0) {
        abort();
    }
    int rc = kumo_consensus_on_msg(c, kumo_bytes_make(buf, len), NULL);
    return rc == KUMO_EUNAUTH ? 0 : rc; /* an outsider or a non-proposer: refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f;
    fz_setup(&f);
    kumo_consensus_cfg_t cfg;
    kumo_consensus_cfg_default(&cfg);
    cfg.chain_id = FZ_CHAIN;
    kumo_consensus_io_t io = {.ctx = &f,
                              .now_ms = fz_now,
                              .timer_set = fz_timer,
                              .broadcast = fz_broadcast,
                              .sign = fz_sign,
                              .get_value_to_propose = fz_value,
                              .validate_value = fz_valid,
                              .deliver_decided = fz_deliver,
                              .wal_append = fz_wal};
    kumo_consensus_t *c = NULL;
    if (kumo_consensus_open(&cfg, &f.vs, f.vs.v[f.self].pubkey, 1, &io, &c, NULL) != 0 ||
        kumo_consensus_start(c, NULL) != 0) {
        abort();
    }
    size_t records = size / FZ_RECORD < FZ_RECORD_MAX ? size / FZ_RECORD : FZ_RECORD_MAX;
    for (size_t i = 0; i < records; i++) {
        if (fz_record(&f, c, data + i * FZ_RECORD) != 0) {
            abort(); /* the engine fails only through its io, which never fails here */
        }
        kumo_consensus_counters_t k;
        kumo_consensus_counters_get(c, &k);
        if (k.stored != f.wal_count || k.validated != f.validate_count ||
            kumo_consensus_round(c) >= KUMO_CONSENSUS_ROUND_COUNT_MAX) {
            abort();
        }
    }
    kumo_consensus_close(c);
    return 0;
}
