/*
 * mempool.c - pending txs: checks on add, arrival-order selection, re-check after commits.
 *
 * Owns its entries (tx bytes copy plus the decoded, signature-checked tx), one record per
 * account with pending txs, and two hash tables (tx hash -> entry, address -> account) sized
 * once at open. Entries sit on two lists: the global arrival list, and their account's list in
 * sequence order (which is also their arrival order, since only the next free sequence is
 * accepted). Hash tables use SipHash with a per-process random key, so addresses ground to
 * collide cannot degrade lookups. Not pure (random key); loop thread only.
 */
#include "node/mempool.h"

#include <inttypes.h>
#include <string.h>

#include <sodium.h>

struct kumo_node_mempool_entry {
    uint8_t hash[KUMO_CHAIN_HASH_BYTES]; /* first: the hash table's key */
    kumo_chain_tx_t tx;
    uint8_t *bytes;
    size_t len;
    struct kumo_node_mempool_account *account;
    struct kumo_node_mempool_entry *arrival_prev;
    struct kumo_node_mempool_entry *arrival_next;
    struct kumo_node_mempool_entry *account_next; /* next sequence of the same account */
};

typedef struct kumo_node_mempool_account {
    uint8_t addr[KUMO_ADDRESS_BYTES]; /* first: the hash table's key */
    uint64_t sequence_base;           /* committed sequence at the last check */
    uint64_t balance;                 /* committed balance at the last check */
    uint64_t fee_pending;             /* sum of the pending txs' fees */
    uint32_t tx_count;
    kumo_node_mempool_entry_t *first;
    kumo_node_mempool_entry_t *last;
    struct kumo_node_mempool_account *list_prev; /* every account with pending txs */
    struct kumo_node_mempool_account *list_next;
} mp_account_t;

/* Open addressing with linear probing and backward-shift deletion; items start with their
 * key. Capacity is a power of two at least twice the item bound, so probes stay short. */
typedef struct mp_table {
    void **slots;
    size_t mask;
    size_t key_len;
    size_t count;
} mp_table_t;

struct kumo_node_mempool {
    kumo_node_mempool_cfg_t cfg;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    mp_table_t by_hash;
    mp_table_t by_addr;
    kumo_node_mempool_entry_t *arrival_first;
    kumo_node_mempool_entry_t *arrival_last;
    mp_account_t *accounts; /* list head: re-checks visit accounts, not table slots */
    uint64_t tx_count;
    uint64_t bytes;
};

/* ---- hash tables ---- */

static size_t table_hash(const kumo_node_mempool_t *mp, const uint8_t *key, size_t key_len)
{
    uint8_t out[crypto_shorthash_BYTES];
    (void)crypto_shorthash(out, key, key_len, mp->hash_key);
    uint64_t h = 0;
    memcpy(&h, out, sizeof(h));
    return (size_t)h;
}

static int table_init(mp_table_t *t, size_t item_max, size_t key_len, kumo_err_ctx_t *err)
{
    size_t cap = 16;
    while (cap < item_max * 2u) {
        cap *= 2u;
    }
    t->slots = kumo_calloc(cap, sizeof(*t->slots));
    KUMO_ENSURE(t->slots != NULL, err, KUMO_ENOMEM, "mempool table of %zu slots", cap);
    t->mask = cap - 1u;
    t->key_len = key_len;
    t->count = 0;
    return 0;
}

static void *table_get(const kumo_node_mempool_t *mp, const mp_table_t *t, const uint8_t *key)
{
    size_t i = table_hash(mp, key, t->key_len) & t->mask;
    while (t->slots[i] != NULL) {
        if (memcmp(t->slots[i], key, t->key_len) == 0) {
            return t->slots[i];
        }
        i = (i + 1u) & t->mask;
    }
    return NULL;
}

static void table_put(const kumo_node_mempool_t *mp, mp_table_t *t, void *item)
{
    /* The item bounds keep the load at most one half (asserted), so a free slot exists. */
    KUMO_ASSERT(t->count < (t->mask + 1u) / 2u);
    size_t i = table_hash(mp, item, t->key_len) & t->mask;
    while (t->slots[i] != NULL) {
        KUMO_ASSERT(memcmp(t->slots[i], item, t->key_len) != 0);
        i = (i + 1u) & t->mask;
    }
    t->slots[i] = item;
    t->count++;
}

static void table_del(const kumo_node_mempool_t *mp, mp_table_t *t, const void *item)
{
    size_t i = table_hash(mp, item, t->key_len) & t->mask;
    while (t->slots[i] != item) {
        KUMO_ASSERT(t->slots[i] != NULL);
        i = (i + 1u) & t->mask;
    }
    t->slots[i] = NULL;
    t->count--;
    /* Backward shift: move later items of the probe run into the hole when their home slot
     * does not lie cyclically between the hole and their position. */
    size_t hole = i;
    for (size_t j = (i + 1u) & t->mask; t->slots[j] != NULL; j = (j + 1u) & t->mask) {
        size_t home = table_hash(mp, t->slots[j], t->key_len) & t->mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            t->slots[hole] = t->slots[j];
            t->slots[j] = NULL;
            hole = j;
        }
    }
}

/* ---- open, close, accessors ---- */

int kumo_node_mempool_open(const kumo_node_mempool_cfg_t *cfg,
                           kumo_node_mempool_t **out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && out != NULL);
    KUMO_ENSURE(cfg->tx_count_max >= 1 && cfg->tx_count_max <= KUMO_NODE_MEMPOOL_TX_COUNT_MAX, err,
                KUMO_EINVAL, "mempool tx_count_max %u not in 1..%u", cfg->tx_count_max,
                KUMO_NODE_MEMPOOL_TX_COUNT_MAX);
    KUMO_ENSURE(cfg->bytes_max >= 1 && cfg->account_tx_max >= 1 && cfg->future_seq_max >= 1, err,
                KUMO_EINVAL, "mempool bounds must be at least 1");
    KUMO_ENSURE(sodium_init() >= 0, err, KUMO_EIO, "sodium_init failed");
    kumo_node_mempool_t *mp = kumo_calloc(1, sizeof(*mp));
    KUMO_ENSURE(mp != NULL, err, KUMO_ENOMEM, "mempool");
    mp->cfg = *cfg;
    crypto_shorthash_keygen(mp->hash_key);
    int rc = table_init(&mp->by_hash, cfg->tx_count_max, KUMO_CHAIN_HASH_BYTES, err);
    if (rc == 0) {
        rc = table_init(&mp->by_addr, cfg->tx_count_max, KUMO_ADDRESS_BYTES, err);
    }
    if (rc < 0) {
        kumo_free(mp->by_hash.slots);
        kumo_free(mp);
        return rc;
    }
    *out = mp;
    return 0;
}

static void entry_free(kumo_node_mempool_entry_t *e)
{
    kumo_chain_tx_free(&e->tx);
    kumo_free(e->bytes);
    kumo_free(e);
}

void kumo_node_mempool_close(kumo_node_mempool_t *mp)
{
    if (mp == NULL) {
        return;
    }
    kumo_node_mempool_entry_t *e = mp->arrival_first;
    while (e != NULL) {
        kumo_node_mempool_entry_t *next = e->arrival_next;
        entry_free(e);
        e = next;
    }
    for (size_t i = 0; i <= mp->by_addr.mask; i++) {
        kumo_free(mp->by_addr.slots[i]);
    }
    kumo_free(mp->by_hash.slots);
    kumo_free(mp->by_addr.slots);
    sodium_memzero(mp->hash_key, sizeof(mp->hash_key));
    kumo_free(mp);
}

kumo_bytes_t kumo_node_mempool_entry_bytes(const kumo_node_mempool_entry_t *entry)
{
    KUMO_ASSERT(entry != NULL && entry->bytes != NULL);
    return kumo_bytes_make(entry->bytes, entry->len);
}

const kumo_chain_tx_t *kumo_node_mempool_entry_tx(const kumo_node_mempool_entry_t *entry)
{
    KUMO_ASSERT(entry != NULL && entry->tx.body != NULL);
    return &entry->tx;
}

uint64_t kumo_node_mempool_tx_count(const kumo_node_mempool_t *mp)
{
    KUMO_ASSERT(mp->tx_count == mp->by_hash.count);
    return mp->tx_count;
}

uint64_t kumo_node_mempool_bytes(const kumo_node_mempool_t *mp)
{
    KUMO_ASSERT(mp->tx_count > 0 || mp->bytes == 0);
    return mp->bytes;
}

bool kumo_node_mempool_has(const kumo_node_mempool_t *mp, const uint8_t hash[KUMO_CHAIN_HASH_BYTES])
{
    KUMO_ASSERT(mp != NULL && hash != NULL);
    return table_get(mp, &mp->by_hash, hash) != NULL;
}

const kumo_node_mempool_entry_t *kumo_node_mempool_find(const kumo_node_mempool_t *mp,
                                                        const uint8_t hash[KUMO_CHAIN_HASH_BYTES])
{
    KUMO_ASSERT(mp != NULL && hash != NULL);
    return table_get(mp, &mp->by_hash, hash);
}

uint32_t kumo_node_mempool_account_tx_count(const kumo_node_mempool_t *mp,
                                            const uint8_t addr[KUMO_ADDRESS_BYTES])
{
    KUMO_ASSERT(mp != NULL && addr != NULL);
    const mp_account_t *a = table_get(mp, &mp->by_addr, addr);
    return a != NULL ? a->tx_count : 0;
}

/* ---- add ---- */

/* The account's committed sequence and balance: from its record when it has pending txs
 * (refreshed at every update), else from the state. */
static int account_view(const kumo_node_mempool_t *mp,
                        const kumo_node_mempool_env_t *env,
                        const uint8_t *addr,
                        mp_account_t *view,
                        kumo_err_ctx_t *err)
{
    const mp_account_t *a = table_get(mp, &mp->by_addr, addr);
    if (a != NULL) {
        *view = *a;
        return 0;
    }
    memset(view, 0, sizeof(*view));
    memcpy(view->addr, addr, KUMO_ADDRESS_BYTES);
    Kumo__Account *acct = NULL;
    KUMO_GUARD(kumo_market_account_get(env->kv, addr, &acct, err));
    view->sequence_base = acct->sequence;
    view->balance = acct->balance;
    kumo_codec_free(&acct->base);
    return 0;
}

static int add_check_sequence(const kumo_node_mempool_t *mp,
                              const mp_account_t *view,
                              uint64_t sequence,
                              kumo_err_ctx_t *err)
{
    uint64_t next = view->sequence_base + view->tx_count;
    KUMO_ENSURE(sequence >= view->sequence_base, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " was already used; the account's next is %" PRIu64, sequence,
                next);
    KUMO_ENSURE(sequence >= next, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " is taken by a pending tx; expected sequence %" PRIu64,
                sequence, next);
    KUMO_ENSURE(sequence == next, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " leaves a gap; expected sequence %" PRIu64, sequence, next);
    KUMO_ENSURE(view->tx_count < mp->cfg.account_tx_max, err, KUMO_ELIMIT,
                "account has %u pending txs, limit %u", view->tx_count, mp->cfg.account_tx_max);
    KUMO_ENSURE(sequence - view->sequence_base < mp->cfg.future_seq_max, err, KUMO_ELIMIT,
                "sequence %" PRIu64 " is %" PRIu64 " past the committed %" PRIu64 ", limit %u",
                sequence, sequence - view->sequence_base, view->sequence_base,
                mp->cfg.future_seq_max);
    return 0;
}

static int add_check_fee(const kumo_node_mempool_env_t *env,
                         const mp_account_t *view,
                         const kumo_chain_tx_t *tx,
                         kumo_err_ctx_t *err)
{
    bool operator= false;
    KUMO_GUARD(kumo_market_validator_is_operator(env->kv, tx->signer, &operator, err));
    for (size_t i = 0; i < tx->body->n_msgs; i++) {
        KUMO_ENSURE(!kumo_market_msg_is_facilitator(tx->body->msgs[i]) || operator, err,
                    KUMO_EUNAUTH, "msg %zu: only validator operators facilitate", i);
    }
    bool exempt = tx->facilitator_only && operator;
    uint64_t fee = tx->body->fee;
    KUMO_ENSURE(exempt || fee >= env->params->min_fee, err, KUMO_EFEE,
                "fee %" PRIu64 " < min_fee %" PRIu64, fee, env->params->min_fee);
    uint64_t total = 0;
    KUMO_ENSURE(kumo_u64_add(view->fee_pending, fee, &total) == 0 && total <= view->balance, err,
                KUMO_EFUNDS,
                "fee %" PRIu64 " plus %" PRIu64 " pending exceeds the balance %" PRIu64, fee,
                view->fee_pending, view->balance);
    return 0;
}

/* Every check of a decoded tx (see mempool.h), signature last because it costs most. */
static int add_check(const kumo_node_mempool_t *mp,
                     const kumo_node_mempool_env_t *env,
                     kumo_chain_tx_t *tx,
                     size_t len,
                     mp_account_t *view,
                     kumo_err_ctx_t *err)
{
    KUMO_ENSURE(table_get(mp, &mp->by_hash, tx->hash) == NULL, err, KUMO_EEXIST,
                "tx is already pending");
    KUMO_GUARD(kumo_chain_tx_check_basic(tx, env->chain_id, err));
    KUMO_ENSURE(mp->tx_count < mp->cfg.tx_count_max, err, KUMO_ELIMIT,
                "mempool holds %" PRIu64 " txs, limit %u", mp->tx_count, mp->cfg.tx_count_max);
    KUMO_ENSURE(len <= mp->cfg.bytes_max && mp->bytes <= mp->cfg.bytes_max - len, err, KUMO_ELIMIT,
                "mempool holds %" PRIu64 " bytes, limit %" PRIu64, mp->bytes, mp->cfg.bytes_max);
    KUMO_GUARD(account_view(mp, env, tx->signer, view, err));
    KUMO_GUARD(add_check_sequence(mp, view, tx->body->sequence, err));
    KUMO_GUARD(add_check_fee(env, view, tx, err));
    KUMO_ENSURE(kumo_chain_tx_sig_check(tx), err, KUMO_ESIG, "signature does not verify");
    return 0;
}

static void entry_link(kumo_node_mempool_t *mp, kumo_node_mempool_entry_t *e, mp_account_t *a)
{
    e->account = a;
    e->arrival_prev = mp->arrival_last;
    if (mp->arrival_last != NULL) {
        mp->arrival_last->arrival_next = e;
    } else {
        mp->arrival_first = e;
    }
    mp->arrival_last = e;
    if (a->last != NULL) {
        a->last->account_next = e;
    } else {
        a->first = e;
    }
    a->last = e;
    a->tx_count++;
    a->fee_pending += e->tx.body->fee; /* checked against the balance in add_check_fee */
    table_put(mp, &mp->by_hash, e);
    mp->tx_count++;
    mp->bytes += e->len;
}

static int add_insert(kumo_node_mempool_t *mp,
                      kumo_chain_tx_t *tx,
                      kumo_bytes_t bytes,
                      const mp_account_t *view,
                      kumo_err_ctx_t *err)
{
    kumo_node_mempool_entry_t *e = kumo_calloc(1, sizeof(*e));
    KUMO_ENSURE(e != NULL, err, KUMO_ENOMEM, "mempool entry");
    e->bytes = kumo_alloc(bytes.len);
    if (e->bytes == NULL) {
        kumo_free(e);
        return kumo_err_set(err, KUMO_ENOMEM, "mempool tx of %zu bytes", bytes.len);
    }
    mp_account_t *a = table_get(mp, &mp->by_addr, tx->signer);
    if (a == NULL) {
        a = kumo_alloc(sizeof(*a));
        if (a == NULL) {
            kumo_free(e->bytes);
            kumo_free(e);
            return kumo_err_set(err, KUMO_ENOMEM, "mempool account");
        }
        *a = *view;
        a->list_prev = NULL;
        a->list_next = mp->accounts;
        if (mp->accounts != NULL) {
            mp->accounts->list_prev = a;
        }
        mp->accounts = a;
        table_put(mp, &mp->by_addr, a);
    }
    memcpy(e->bytes, bytes.ptr, bytes.len);
    e->len = bytes.len;
    e->tx = *tx; /* the entry owns the decoded tx from here */
    memcpy(e->hash, tx->hash, sizeof(e->hash));
    entry_link(mp, e, a);
    return 0;
}

int kumo_node_mempool_add(kumo_node_mempool_t *mp,
                          const kumo_node_mempool_env_t *env,
                          kumo_bytes_t tx_bytes,
                          uint8_t hash_out[KUMO_CHAIN_HASH_BYTES],
                          kumo_err_ctx_t *err)
{
    KUMO_ASSERT(mp != NULL && env != NULL && env->kv != NULL && env->params != NULL);
    KUMO_ASSERT(env->chain_id != NULL);
    kumo_chain_tx_t tx = {0};
    KUMO_GUARD(kumo_chain_tx_decode(tx_bytes, (size_t)env->params->max_tx_bytes, &tx, err));
    if (hash_out != NULL) {
        memcpy(hash_out, tx.hash, KUMO_CHAIN_HASH_BYTES);
    }
    mp_account_t view;
    int rc = add_check(mp, env, &tx, tx_bytes.len, &view, err);
    if (rc == 0) {
        rc = add_insert(mp, &tx, tx_bytes, &view, err);
    }
    if (rc < 0) {
        kumo_chain_tx_free(&tx);
        return rc;
    }
    KUMO_ASSERT(mp->tx_count <= mp->cfg.tx_count_max && mp->bytes <= mp->cfg.bytes_max);
    return 0;
}

/* ---- select ---- */

typedef struct mp_pick {
    const kumo_node_mempool_entry_t **out;
    size_t count;
    size_t count_max;
    uint64_t bytes;
    uint64_t bytes_max;
    bool full;
} mp_pick_t;

static void pick_one(mp_pick_t *p, const kumo_node_mempool_entry_t *e)
{
    if (p->full || p->count == p->count_max || e->len > p->bytes_max - p->bytes) {
        p->full = true;
        return;
    }
    p->out[p->count++] = e;
    p->bytes += e->len;
}

size_t kumo_node_mempool_select(const kumo_node_mempool_t *mp,
                                const uint8_t *first_signer,
                                size_t count_max,
                                uint64_t bytes_max,
                                const kumo_node_mempool_entry_t **out)
{
    KUMO_ASSERT(mp != NULL);
    KUMO_ASSERT(out != NULL || count_max == 0);
    mp_pick_t p = {.out = out, .count_max = count_max, .bytes_max = bytes_max};
    const mp_account_t *first = NULL;
    if (first_signer != NULL) {
        first = table_get(mp, &mp->by_addr, first_signer);
    }
    for (const kumo_node_mempool_entry_t *e = first != NULL ? first->first : NULL;
         e != NULL && !p.full; e = e->account_next) {
        pick_one(&p, e);
    }
    for (const kumo_node_mempool_entry_t *e = mp->arrival_first; e != NULL && !p.full;
         e = e->arrival_next) {
        if (e->account != first) {
            pick_one(&p, e);
        }
    }
    KUMO_ASSERT(p.count <= count_max && p.bytes <= bytes_max);
    return p.count;
}

/* ---- update ---- */

/* Unlinks e from the arrival list, the hash table and the totals (not from its account). */
static void entry_unlink(kumo_node_mempool_t *mp, kumo_node_mempool_entry_t *e)
{
    if (e->arrival_prev != NULL) {
        e->arrival_prev->arrival_next = e->arrival_next;
    } else {
        mp->arrival_first = e->arrival_next;
    }
    if (e->arrival_next != NULL) {
        e->arrival_next->arrival_prev = e->arrival_prev;
    } else {
        mp->arrival_last = e->arrival_prev;
    }
    table_del(mp, &mp->by_hash, e);
    KUMO_ASSERT(mp->tx_count > 0 && mp->bytes >= e->len);
    mp->tx_count--;
    mp->bytes -= e->len;
}

/* Drops the account's txs from e on (e is on the account's list or NULL), keeping the ones
 * before prev (prev is e's predecessor on the account list, or NULL when e is first). */
static size_t account_truncate(kumo_node_mempool_t *mp,
                               mp_account_t *a,
                               kumo_node_mempool_entry_t *prev,
                               kumo_node_mempool_entry_t *e)
{
    size_t dropped = 0;
    while (e != NULL) {
        kumo_node_mempool_entry_t *next = e->account_next;
        entry_unlink(mp, e);
        a->tx_count--;
        a->fee_pending -= e->tx.body->fee;
        entry_free(e);
        dropped++;
        e = next;
    }
    if (prev != NULL) {
        prev->account_next = NULL;
    } else {
        a->first = NULL;
    }
    a->last = prev;
    return dropped;
}

/* Removes an entry the block carried. Blocks this node builds take each account's txs from
 * its first (lowest sequence) on; a block from elsewhere may carry a later one alone (it
 * fails there on its sequence), and then it goes with every later tx of its account, which
 * could no longer apply either. */
static void account_pop_included(kumo_node_mempool_t *mp, kumo_node_mempool_entry_t *e)
{
    mp_account_t *a = e->account;
    if (a->first != e) {
        kumo_node_mempool_entry_t *prev = a->first;
        while (prev->account_next != e) {
            prev = prev->account_next;
            KUMO_ASSERT(prev != NULL);
        }
        (void)account_truncate(mp, a, prev, e);
        return;
    }
    a->first = e->account_next;
    if (a->first == NULL) {
        a->last = NULL;
    }
    entry_unlink(mp, e);
    a->tx_count--;
    a->fee_pending -= e->tx.body->fee;
    entry_free(e);
}

/* Re-reads the account and keeps the longest run of txs that still applies. */
static size_t
account_recheck(kumo_node_mempool_t *mp, const kumo_node_mempool_env_t *env, mp_account_t *a)
{
    Kumo__Account *acct = NULL;
    if (kumo_market_account_get(env->kv, a->addr, &acct, NULL) < 0) {
        return account_truncate(mp, a, NULL, a->first);
    }
    a->sequence_base = acct->sequence;
    a->balance = acct->balance;
    kumo_codec_free(&acct->base);
    uint64_t want = a->sequence_base;
    uint64_t fees = 0;
    kumo_node_mempool_entry_t *prev = NULL;
    for (kumo_node_mempool_entry_t *e = a->first; e != NULL; e = e->account_next) {
        uint64_t sum = 0;
        if (e->tx.body->sequence != want || kumo_u64_add(fees, e->tx.body->fee, &sum) < 0 ||
            sum > a->balance) {
            return account_truncate(mp, a, prev, e);
        }
        fees = sum;
        want++;
        prev = e;
    }
    return 0;
}

static void account_free_if_empty(kumo_node_mempool_t *mp, mp_account_t *a)
{
    if (a->tx_count > 0) {
        return;
    }
    KUMO_ASSERT(a->first == NULL && a->last == NULL && a->fee_pending == 0);
    if (a->list_prev != NULL) {
        a->list_prev->list_next = a->list_next;
    } else {
        mp->accounts = a->list_next;
    }
    if (a->list_next != NULL) {
        a->list_next->list_prev = a->list_prev;
    }
    table_del(mp, &mp->by_addr, a);
    kumo_free(a);
}

size_t kumo_node_mempool_update(kumo_node_mempool_t *mp,
                                const kumo_node_mempool_env_t *env,
                                const uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES],
                                size_t hash_count)
{
    KUMO_ASSERT(mp != NULL);
    KUMO_ASSERT(hashes != NULL || hash_count == 0);
    for (size_t i = 0; i < hash_count; i++) {
        kumo_node_mempool_entry_t *e = table_get(mp, &mp->by_hash, hashes[i]);
        if (e != NULL) {
            account_pop_included(mp, e);
        }
    }
    if (env == NULL) {
        return 0;
    }
    size_t dropped = 0;
    mp_account_t *next = NULL;
    for (mp_account_t *a = mp->accounts; a != NULL; a = next) {
        next = a->list_next; /* a may be freed below */
        dropped += account_recheck(mp, env, a);
        account_free_if_empty(mp, a);
    }
    return dropped;
}
