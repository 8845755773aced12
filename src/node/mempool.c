/*
 * mempool.c - pending txs: checks on add, room by fee-rate eviction, priority selection for
 * blocks, re-check after commits.
 *
 * Owns its entries (tx bytes copy plus the decoded, signature-checked tx), one record per
 * account with pending txs (its txs in sequence order, which is also their arrival order,
 * since only the next free sequence is accepted), two hash tables (tx hash -> entry, address ->
 * account) and three binary heaps of accounts, all sized once at open. The eviction heap of a
 * class orders accounts by the cheapest tx each may lose in that class, so the next victim is
 * at its root; the selection heap is scratch space rebuilt for every block. Hash tables use
 * SipHash with a per-process random key, so addresses ground to collide cannot degrade
 * lookups. Not pure (random key); loop thread only.
 *
 * Fee per byte is compared exactly, by cross-multiplying in 128 bits; ties go by arrival
 * (a counter), so every order here is total and the same inputs give the same choices.
 */
#include "node/mempool.h"

#include <inttypes.h>
#include <string.h>

#include <sodium.h>

#include "bank/bank.h"

#define MP_GENERAL KUMO_NODE_MEMPOOL_GENERAL
#define MP_LANE    KUMO_NODE_MEMPOOL_LANE
#define MP_CLASSES KUMO_NODE_MEMPOOL_CLASS_COUNT
/* The heap kind of the selection heap (the eviction heaps use their class). */
#define MP_HEAP_SELECT MP_CLASSES

struct kumo_node_mempool_entry {
    uint8_t hash[KUMO_CHAIN_HASH_BYTES]; /* first: the hash table's key */
    kumo_chain_tx_t tx;
    uint8_t *bytes;
    size_t len;
    uint64_t arrival; /* admission order: ties in fee per byte go by it */
    kumo_node_mempool_class_t cls;
    struct kumo_node_mempool_account *account;
    struct kumo_node_mempool_entry *account_next; /* next sequence of the same account */
};

typedef struct kumo_node_mempool_account {
    uint8_t addr[KUMO_ADDRESS_BYTES]; /* first: the hash table's key */
    uint64_t sequence_base;           /* committed sequence at the last check */
    uint64_t balance;                 /* committed balance at the last check */
    uint64_t fee_pending;             /* sum of the pending txs' fees */
    uint64_t bytes;                   /* sum of the pending txs' lengths */
    uint32_t tx_count;
    uint32_t lane_count; /* pending lane txs */
    kumo_node_mempool_entry_t *first;
    kumo_node_mempool_entry_t *last;
    struct kumo_node_mempool_account *list_prev; /* every account with pending txs */
    struct kumo_node_mempool_account *list_next;
    /* Per class, the tx this account loses first when room is needed (NULL: none), and
     * 1 + its index in that class's eviction heap (0: not in it). */
    kumo_node_mempool_entry_t *evict[MP_CLASSES];
    size_t heap_pos[MP_CLASSES];
    /* Selection scratch: the next tx to pick and the lane txs not yet picked. */
    const kumo_node_mempool_entry_t *sel_next;
    uint32_t sel_lane_left;
} mp_account_t;

/* Open addressing with linear probing and backward-shift deletion; items start with their
 * key. Capacity is a power of two at least twice the item bound, so probes stay short. */
typedef struct mp_table {
    void **slots;
    size_t mask;
    size_t key_len;
    size_t count;
} mp_table_t;

/* A binary heap of accounts; kind is a class (eviction: cheapest candidate at the root) or
 * MP_HEAP_SELECT (selection: most urgent head at the root). */
typedef struct mp_heap {
    mp_account_t **items;
    size_t count;
    size_t cap;
    uint32_t kind;
} mp_heap_t;

struct kumo_node_mempool {
    kumo_node_mempool_cfg_t cfg;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    mp_table_t by_hash;
    mp_table_t by_addr;
    mp_account_t *accounts; /* list head: re-checks visit accounts, not table slots */
    uint64_t class_tx_count[MP_CLASSES];
    uint64_t class_bytes[MP_CLASSES];
    uint64_t arrival_next;
    uint64_t evicted_total;
    mp_heap_t evict[MP_CLASSES];
    mp_heap_t select;
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

/* ---- order ---- */

/* Compares fee per byte exactly: < 0 when a pays less per byte than fee/len. */
static int rate_cmp(uint64_t fee_a, size_t len_a, uint64_t fee_b, size_t len_b)
{
    KUMO_ASSERT(len_a > 0 && len_b > 0);
    unsigned __int128 x = (unsigned __int128)fee_a * len_b;
    unsigned __int128 y = (unsigned __int128)fee_b * len_a;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Eviction order: the lower fee per byte first; at equal rates the later arrival first, so
 * what waited longest stays. Total: arrivals are unique. */
static bool entry_evicts_before(const kumo_node_mempool_entry_t *a,
                                const kumo_node_mempool_entry_t *b)
{
    int c = rate_cmp(a->tx.body->fee, a->len, b->tx.body->fee, b->len);
    if (c != 0) {
        return c < 0;
    }
    KUMO_ASSERT(a == b || a->arrival != b->arrival);
    return a->arrival > b->arrival;
}

/* Selection order of two accounts' next txs: an account with lane txs still to pick first;
 * then the higher fee per byte; then the earlier arrival. */
static bool select_before(const mp_account_t *a, const mp_account_t *b)
{
    bool urgent_a = a->sel_lane_left > 0;
    bool urgent_b = b->sel_lane_left > 0;
    if (urgent_a != urgent_b) {
        return urgent_a;
    }
    const kumo_node_mempool_entry_t *x = a->sel_next;
    const kumo_node_mempool_entry_t *y = b->sel_next;
    int c = rate_cmp(x->tx.body->fee, x->len, y->tx.body->fee, y->len);
    if (c != 0) {
        return c > 0;
    }
    return x->arrival < y->arrival;
}

/* ---- heaps ---- */

static bool heap_before(const mp_heap_t *h, const mp_account_t *a, const mp_account_t *b)
{
    if (h->kind == MP_HEAP_SELECT) {
        return select_before(a, b);
    }
    return entry_evicts_before(a->evict[h->kind], b->evict[h->kind]);
}

static void heap_set(mp_heap_t *h, size_t i, mp_account_t *a)
{
    h->items[i] = a;
    if (h->kind != MP_HEAP_SELECT) {
        a->heap_pos[h->kind] = i + 1u;
    }
}

static void heap_up(mp_heap_t *h, size_t i)
{
    mp_account_t *a = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1u) / 2u;
        if (!heap_before(h, a, h->items[parent])) {
            break;
        }
        heap_set(h, i, h->items[parent]);
        i = parent;
    }
    heap_set(h, i, a);
}

static void heap_down(mp_heap_t *h, size_t i)
{
    mp_account_t *a = h->items[i];
    for (;;) {
        size_t child = 2u * i + 1u;
        if (child >= h->count) {
            break;
        }
        if (child + 1u < h->count && heap_before(h, h->items[child + 1u], h->items[child])) {
            child++;
        }
        if (!heap_before(h, h->items[child], a)) {
            break;
        }
        heap_set(h, i, h->items[child]);
        i = child;
    }
    heap_set(h, i, a);
}

static void heap_push(mp_heap_t *h, mp_account_t *a)
{
    /* Every account holds a pending tx, and the heaps hold as many accounts as txs fit. */
    KUMO_ASSERT(h->count < h->cap);
    h->items[h->count] = a;
    h->count++;
    heap_up(h, h->count - 1u);
}

static void heap_remove_at(mp_heap_t *h, size_t i)
{
    KUMO_ASSERT(i < h->count);
    mp_account_t *gone = h->items[i];
    h->count--;
    if (i != h->count) {
        heap_set(h, i, h->items[h->count]);
        heap_down(h, i);
        heap_up(h, i);
    }
    if (h->kind != MP_HEAP_SELECT) {
        gone->heap_pos[h->kind] = 0;
    }
}

static void heap_heapify(mp_heap_t *h)
{
    for (size_t i = 0; i < h->count; i++) {
        heap_set(h, i, h->items[i]);
    }
    for (size_t i = h->count / 2u; i-- > 0;) {
        heap_down(h, i);
    }
}

static int heap_init(mp_heap_t *h, size_t cap, uint32_t kind, kumo_err_ctx_t *err)
{
    h->items = kumo_calloc(cap, sizeof(*h->items));
    KUMO_ENSURE(h->items != NULL, err, KUMO_ENOMEM, "mempool heap of %zu accounts", cap);
    h->cap = cap;
    h->count = 0;
    h->kind = kind;
    return 0;
}

/* ---- eviction candidates ---- */

/* Recomputes the account's candidates from its txs: per class the tx it loses first (see
 * entry_evicts_before). A general tx that a lane tx of the account waits behind is no
 * candidate: evicting it would drop the confirmation with it. */
static void account_keys_compute(mp_account_t *a)
{
    a->evict[MP_GENERAL] = NULL;
    a->evict[MP_LANE] = NULL;
    for (kumo_node_mempool_entry_t *e = a->first; e != NULL; e = e->account_next) {
        if (e->cls == MP_LANE) {
            a->evict[MP_GENERAL] = NULL;
        }
        if (a->evict[e->cls] == NULL || entry_evicts_before(e, a->evict[e->cls])) {
            a->evict[e->cls] = e;
        }
    }
}

/* Takes the account out of the eviction heaps (before its txs change). */
static void account_detach(kumo_node_mempool_t *mp, mp_account_t *a)
{
    for (uint32_t c = 0; c < MP_CLASSES; c++) {
        if (a->heap_pos[c] != 0) {
            heap_remove_at(&mp->evict[c], a->heap_pos[c] - 1u);
        }
        KUMO_ASSERT(a->heap_pos[c] == 0);
    }
}

/* Puts a detached account back with fresh candidates. */
static void account_attach(kumo_node_mempool_t *mp, mp_account_t *a)
{
    account_keys_compute(a);
    for (uint32_t c = 0; c < MP_CLASSES; c++) {
        KUMO_ASSERT(a->heap_pos[c] == 0);
        if (a->evict[c] != NULL) {
            heap_push(&mp->evict[c], a);
        }
    }
}

/* The account's candidates after e joined at its end: O(log accounts). */
static void
account_keys_append(kumo_node_mempool_t *mp, mp_account_t *a, kumo_node_mempool_entry_t *e)
{
    if (e->cls == MP_LANE) {
        if (a->heap_pos[MP_GENERAL] != 0) {
            heap_remove_at(&mp->evict[MP_GENERAL], a->heap_pos[MP_GENERAL] - 1u);
        }
        a->evict[MP_GENERAL] = NULL; /* every general tx of a now precedes a lane tx */
    }
    kumo_node_mempool_entry_t *cur = a->evict[e->cls];
    if (cur != NULL && !entry_evicts_before(e, cur)) {
        return;
    }
    a->evict[e->cls] = e;
    mp_heap_t *h = &mp->evict[e->cls];
    if (a->heap_pos[e->cls] != 0) {
        heap_up(h, a->heap_pos[e->cls] - 1u); /* a became an earlier victim */
    } else {
        heap_push(h, a);
    }
}

/* ---- open, close, accessors ---- */

static int mempool_cfg_check(const kumo_node_mempool_cfg_t *cfg, kumo_err_ctx_t *err)
{
    KUMO_ENSURE(cfg->tx_count_max >= 1 && cfg->tx_count_max <= KUMO_NODE_MEMPOOL_TX_COUNT_MAX, err,
                KUMO_EINVAL, "mempool tx_count_max %u not in 1..%u", cfg->tx_count_max,
                KUMO_NODE_MEMPOOL_TX_COUNT_MAX);
    KUMO_ENSURE(cfg->lane_tx_count_max >= 1 &&
                    cfg->lane_tx_count_max <= KUMO_NODE_MEMPOOL_TX_COUNT_MAX,
                err, KUMO_EINVAL, "mempool lane_tx_count_max %u not in 1..%u",
                cfg->lane_tx_count_max, KUMO_NODE_MEMPOOL_TX_COUNT_MAX);
    KUMO_ENSURE(cfg->bytes_max >= 1 && cfg->account_tx_max >= 1 && cfg->future_seq_max >= 1 &&
                    cfg->account_bytes_max >= 1 && cfg->lane_bytes_max >= 1 &&
                    cfg->lane_account_tx_max >= 1,
                err, KUMO_EINVAL, "mempool bounds must be at least 1");
    return 0;
}

static int mempool_alloc(kumo_node_mempool_t *mp, kumo_err_ctx_t *err)
{
    /* Every pending tx is in one class, and every account holds at least one tx. */
    size_t item_max = (size_t)mp->cfg.tx_count_max + mp->cfg.lane_tx_count_max;
    KUMO_GUARD(table_init(&mp->by_hash, item_max, KUMO_CHAIN_HASH_BYTES, err));
    KUMO_GUARD(table_init(&mp->by_addr, item_max, KUMO_ADDRESS_BYTES, err));
    KUMO_GUARD(heap_init(&mp->evict[MP_GENERAL], item_max, MP_GENERAL, err));
    KUMO_GUARD(heap_init(&mp->evict[MP_LANE], item_max, MP_LANE, err));
    return heap_init(&mp->select, item_max, MP_HEAP_SELECT, err);
}

static void mempool_free(kumo_node_mempool_t *mp)
{
    kumo_free(mp->by_hash.slots);
    kumo_free(mp->by_addr.slots);
    for (uint32_t c = 0; c < MP_CLASSES; c++) {
        kumo_free(mp->evict[c].items);
    }
    kumo_free(mp->select.items);
    sodium_memzero(mp->hash_key, sizeof(mp->hash_key));
    kumo_free(mp);
}

int kumo_node_mempool_open(const kumo_node_mempool_cfg_t *cfg,
                           kumo_node_mempool_t **out,
                           kumo_err_ctx_t *err)
{
    KUMO_ASSERT(cfg != NULL && out != NULL);
    KUMO_GUARD(mempool_cfg_check(cfg, err));
    KUMO_ENSURE(sodium_init() >= 0, err, KUMO_EIO, "sodium_init failed");
    kumo_node_mempool_t *mp = kumo_calloc(1, sizeof(*mp));
    KUMO_ENSURE(mp != NULL, err, KUMO_ENOMEM, "mempool");
    mp->cfg = *cfg;
    crypto_shorthash_keygen(mp->hash_key);
    int rc = mempool_alloc(mp, err);
    if (rc < 0) {
        mempool_free(mp);
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
    mp_account_t *a = mp->accounts;
    while (a != NULL) {
        mp_account_t *next = a->list_next;
        kumo_node_mempool_entry_t *e = a->first;
        while (e != NULL) {
            kumo_node_mempool_entry_t *e_next = e->account_next;
            entry_free(e);
            e = e_next;
        }
        kumo_free(a);
        a = next;
    }
    mempool_free(mp);
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

kumo_node_mempool_class_t kumo_node_mempool_entry_class(const kumo_node_mempool_entry_t *entry)
{
    KUMO_ASSERT(entry != NULL);
    KUMO_ASSERT(entry->cls == MP_GENERAL || entry->cls == MP_LANE);
    return entry->cls;
}

uint64_t kumo_node_mempool_tx_count(const kumo_node_mempool_t *mp)
{
    uint64_t n = mp->class_tx_count[MP_GENERAL] + mp->class_tx_count[MP_LANE];
    KUMO_ASSERT(n == mp->by_hash.count);
    return n;
}

uint64_t kumo_node_mempool_bytes(const kumo_node_mempool_t *mp)
{
    uint64_t n = mp->class_bytes[MP_GENERAL] + mp->class_bytes[MP_LANE];
    KUMO_ASSERT(mp->by_hash.count > 0 || n == 0);
    return n;
}

uint64_t kumo_node_mempool_class_tx_count(const kumo_node_mempool_t *mp,
                                          kumo_node_mempool_class_t cls)
{
    KUMO_ASSERT(mp != NULL);
    KUMO_ASSERT(cls == MP_GENERAL || cls == MP_LANE);
    return mp->class_tx_count[cls];
}

uint64_t kumo_node_mempool_evicted_total(const kumo_node_mempool_t *mp)
{
    KUMO_ASSERT(mp != NULL);
    return mp->evicted_total;
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

/* ---- removal ---- */

/* Unlinks e from the hash table, its account's counters and the class totals, and frees it
 * (the caller fixes the account's list). The account must be out of the eviction heaps. */
static void entry_remove(kumo_node_mempool_t *mp, kumo_node_mempool_entry_t *e)
{
    mp_account_t *a = e->account;
    KUMO_ASSERT(a->heap_pos[MP_GENERAL] == 0 && a->heap_pos[MP_LANE] == 0);
    table_del(mp, &mp->by_hash, e);
    KUMO_ASSERT(mp->class_tx_count[e->cls] > 0 && mp->class_bytes[e->cls] >= e->len);
    mp->class_tx_count[e->cls]--;
    mp->class_bytes[e->cls] -= e->len;
    KUMO_ASSERT(a->tx_count > 0 && a->bytes >= e->len && a->fee_pending >= e->tx.body->fee);
    a->tx_count--;
    a->bytes -= e->len;
    a->fee_pending -= e->tx.body->fee;
    if (e->cls == MP_LANE) {
        KUMO_ASSERT(a->lane_count > 0);
        a->lane_count--;
    }
    entry_free(e);
}

/* Drops the account's txs from e on (e is on the account's list or NULL), keeping the ones
 * up to prev (e's predecessor on the account list, or NULL when e is first). */
static size_t account_truncate(kumo_node_mempool_t *mp,
                               mp_account_t *a,
                               kumo_node_mempool_entry_t *prev,
                               kumo_node_mempool_entry_t *e)
{
    size_t dropped = 0;
    while (e != NULL) {
        kumo_node_mempool_entry_t *next = e->account_next;
        entry_remove(mp, e);
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

static void account_free(kumo_node_mempool_t *mp, mp_account_t *a)
{
    KUMO_ASSERT(a->tx_count == 0 && a->first == NULL && a->last == NULL);
    KUMO_ASSERT(a->fee_pending == 0 && a->bytes == 0 && a->lane_count == 0);
    KUMO_ASSERT(a->heap_pos[MP_GENERAL] == 0 && a->heap_pos[MP_LANE] == 0);
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

/* Evicts the account's candidate of class cls with the account's later txs. */
static void account_evict(kumo_node_mempool_t *mp, mp_account_t *a, uint32_t cls)
{
    kumo_node_mempool_entry_t *victim = a->evict[cls];
    KUMO_ASSERT(victim != NULL && victim->account == a);
    account_detach(mp, a);
    kumo_node_mempool_entry_t *prev = NULL;
    for (kumo_node_mempool_entry_t *e = a->first; e != victim; e = e->account_next) {
        prev = e;
    }
    mp->evicted_total += account_truncate(mp, a, prev, victim);
    if (a->tx_count == 0) {
        account_free(mp, a);
    } else {
        account_attach(mp, a);
    }
}

/* ---- consistency (slow-assert builds) ---- */

/* Every heap holds its items in order with their positions recorded; an account is in a
 * class's eviction heap exactly when it has a candidate there, and that candidate is what
 * account_keys_compute finds. */
static bool heap_is_valid(const mp_heap_t *h)
{
    for (size_t i = 0; i < h->count; i++) {
        const mp_account_t *a = h->items[i];
        if (i > 0 && heap_before(h, a, h->items[(i - 1u) / 2u])) {
            return false;
        }
        if (h->kind != MP_HEAP_SELECT &&
            (a->heap_pos[h->kind] != i + 1u || a->evict[h->kind] == NULL)) {
            return false;
        }
    }
    return true;
}

/* Counts and sums of one account against its list, and its candidates. */
static bool account_is_valid(const mp_account_t *a)
{
    uint64_t bytes = 0;
    uint64_t fees = 0;
    uint32_t count = 0;
    uint32_t lane = 0;
    const kumo_node_mempool_entry_t *last = NULL;
    for (const kumo_node_mempool_entry_t *e = a->first; e != NULL; e = e->account_next) {
        if (e->account != a || e->tx.body->sequence != a->sequence_base + count) {
            return false;
        }
        bytes += e->len;
        fees += e->tx.body->fee;
        count++;
        lane += e->cls == MP_LANE ? 1u : 0u;
        last = e;
    }
    mp_account_t copy = *a;
    account_keys_compute(&copy);
    return count > 0 && count == a->tx_count && lane == a->lane_count && bytes == a->bytes &&
           fees == a->fee_pending && last == a->last &&
           copy.evict[MP_GENERAL] == a->evict[MP_GENERAL] &&
           copy.evict[MP_LANE] == a->evict[MP_LANE] &&
           (a->evict[MP_GENERAL] != NULL) == (a->heap_pos[MP_GENERAL] != 0) &&
           (a->evict[MP_LANE] != NULL) == (a->heap_pos[MP_LANE] != 0);
}

/* O(txs): the whole pool against its totals, tables and heaps. */
static bool mempool_is_valid(const kumo_node_mempool_t *mp)
{
    uint64_t count[MP_CLASSES] = {0};
    uint64_t bytes[MP_CLASSES] = {0};
    size_t accounts = 0;
    for (const mp_account_t *a = mp->accounts; a != NULL; a = a->list_next) {
        if (!account_is_valid(a) || table_get(mp, &mp->by_addr, a->addr) != a) {
            return false;
        }
        for (const kumo_node_mempool_entry_t *e = a->first; e != NULL; e = e->account_next) {
            count[e->cls]++;
            bytes[e->cls] += e->len;
        }
        accounts++;
    }
    return accounts == mp->by_addr.count &&
           count[MP_GENERAL] + count[MP_LANE] == mp->by_hash.count &&
           count[MP_GENERAL] == mp->class_tx_count[MP_GENERAL] &&
           count[MP_LANE] == mp->class_tx_count[MP_LANE] &&
           bytes[MP_GENERAL] == mp->class_bytes[MP_GENERAL] &&
           bytes[MP_LANE] == mp->class_bytes[MP_LANE] && heap_is_valid(&mp->evict[MP_GENERAL]) &&
           heap_is_valid(&mp->evict[MP_LANE]);
}

/* ---- add ---- */

/* What an add found out before it changes anything: the tx's class and the accounts to
 * evict from (each loses its candidate of that class and the txs after it). */
typedef struct mp_plan {
    kumo_node_mempool_class_t cls;
    size_t victim_count;
    mp_account_t *victims[KUMO_NODE_MEMPOOL_EVICT_ACCOUNT_MAX];
} mp_plan_t;

/* The account's committed sequence and balance and its pending totals: from its record when
 * it has pending txs (refreshed at every update), else from the state. */
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
    KUMO_GUARD(kumo_bank_account_get(env->kv, addr, &acct, err));
    view->sequence_base = acct->sequence;
    view->balance = acct->balance;
    kumo_codec_free(&acct->base);
    return 0;
}

static int add_check_sequence(const kumo_node_mempool_t *mp,
                              const mp_account_t *view,
                              uint64_t sequence,
                              size_t len,
                              kumo_err_ctx_t *err)
{
    uint64_t next = view->sequence_base + view->tx_count;
    KUMO_ENSURE(sequence >= view->sequence_base, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " was already used; expected sequence %" PRIu64, sequence,
                next);
    KUMO_ENSURE(sequence >= next, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " is taken by a pending tx; expected sequence %" PRIu64,
                sequence, next);
    KUMO_ENSURE(sequence == next, err, KUMO_ESEQUENCE,
                "sequence %" PRIu64 " leaves a gap; expected sequence %" PRIu64, sequence, next);
    KUMO_ENSURE(view->tx_count < mp->cfg.account_tx_max, err, KUMO_ELIMIT,
                "account has %u pending txs, limit %u", view->tx_count, mp->cfg.account_tx_max);
    KUMO_ENSURE(len <= mp->cfg.account_bytes_max && view->bytes <= mp->cfg.account_bytes_max - len,
                err, KUMO_ELIMIT,
                "account has %" PRIu64 " pending bytes, this tx %zu, limit %" PRIu64, view->bytes,
                len, mp->cfg.account_bytes_max);
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
    KUMO_GUARD(kumo_staking_operator_is_active(env->kv, tx->signer, &operator, err));
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

/* The lane takes a tx whose every msg is a SubmitLeaseConfirmation or a RefuseLease from a
 * provider that has live leases: the msgs that keep leases from going stale (a refusal ends a
 * lease whose manifest cannot run before it would). One point read of the provider. */
static int add_classify(const kumo_node_mempool_t *mp,
                        const kumo_node_mempool_env_t *env,
                        const kumo_chain_tx_t *tx,
                        const mp_account_t *view,
                        kumo_node_mempool_class_t *cls,
                        kumo_err_ctx_t *err)
{
    *cls = MP_GENERAL;
    KUMO_ASSERT(tx->body->n_msgs > 0); /* kumo_chain_tx_check_basic */
    for (size_t i = 0; i < tx->body->n_msgs; i++) {
        Kumo__Msg__SumCase c = tx->body->msgs[i]->sum_case;
        if (c != KUMO__MSG__SUM_SUBMIT_LEASE_CONFIRMATION && c != KUMO__MSG__SUM_REFUSE_LEASE) {
            return 0;
        }
    }
    uint32_t live = 0;
    KUMO_GUARD(kumo_market_provider_live_lease_count(env->kv, tx->signer, &live, err));
    if (live == 0) {
        return 0;
    }
    KUMO_ENSURE(view->lane_count < mp->cfg.lane_account_tx_max, err, KUMO_ELIMIT,
                "account has %u pending lease confirmations, limit %u", view->lane_count,
                mp->cfg.lane_account_tx_max);
    *cls = MP_LANE;
    return 0;
}

/* Count and bytes of class cls in the account's txs from e on. */
static void
suffix_size(const kumo_node_mempool_entry_t *e, uint32_t cls, uint64_t *count, uint64_t *bytes)
{
    *count = 0;
    *bytes = 0;
    for (; e != NULL; e = e->account_next) {
        if (e->cls == cls) {
            (*count)++;
            *bytes += e->len;
        }
    }
}

/* A read-only walk of an eviction heap in its order: a small heap of item indexes that
 * starts with the root and takes in the children of each index it gives out. */
typedef struct mp_walk {
    const mp_heap_t *h;
    size_t idx[2u * KUMO_NODE_MEMPOOL_EVICT_ACCOUNT_MAX + 8u];
    size_t count;
    size_t given;
} mp_walk_t;

static bool walk_before(const mp_walk_t *w, size_t x, size_t y)
{
    return heap_before(w->h, w->h->items[w->idx[x]], w->h->items[w->idx[y]]);
}

static void walk_push(mp_walk_t *w, size_t item)
{
    if (item >= w->h->count) {
        return;
    }
    KUMO_ASSERT(w->count < KUMO_ARRAY_COUNT(w->idx));
    size_t i = w->count++;
    w->idx[i] = item;
    while (i > 0 && walk_before(w, i, (i - 1u) / 2u)) {
        size_t p = (i - 1u) / 2u;
        size_t t = w->idx[p];
        w->idx[p] = w->idx[i];
        w->idx[i] = t;
        i = p;
    }
}

/* The next account in heap order, or NULL after the last or after max_given accounts. */
static mp_account_t *walk_next(mp_walk_t *w, size_t max_given)
{
    if (w->count == 0 || w->given == max_given) {
        return NULL;
    }
    size_t top = w->idx[0];
    w->idx[0] = w->idx[--w->count];
    for (size_t i = 0;;) {
        size_t c = 2u * i + 1u;
        if (c >= w->count) {
            break;
        }
        if (c + 1u < w->count && walk_before(w, c + 1u, c)) {
            c++;
        }
        if (!walk_before(w, c, i)) {
            break;
        }
        size_t t = w->idx[c];
        w->idx[c] = w->idx[i];
        w->idx[i] = t;
        i = c;
    }
    w->given++;
    walk_push(w, 2u * top + 1u);
    walk_push(w, 2u * top + 2u);
    return w->h->items[top];
}

/* The error when the class is full and eviction cannot make room for tx. */
static int room_refuse(const kumo_node_mempool_entry_t *cheapest,
                       const kumo_chain_tx_t *tx,
                       size_t len,
                       uint32_t cls,
                       kumo_err_ctx_t *err)
{
    const char *name = cls == MP_LANE ? "lease confirmation lane" : "mempool";
    if (cheapest != NULL &&
        rate_cmp(cheapest->tx.body->fee, cheapest->len, tx->body->fee, len) >= 0) {
        uint64_t need = UINT64_MAX;
        if (kumo_u64_mul_div_floor(cheapest->tx.body->fee, len, cheapest->len, &need) == 0 &&
            need < UINT64_MAX) {
            need++;
        }
        return kumo_err_set(err, KUMO_EFEE,
                            "%s full: fee %" PRIu64 " for %zu bytes does not beat the cheapest "
                            "pending tx; a fee of %" PRIu64 " would",
                            name, tx->body->fee, len, need);
    }
    return kumo_err_set(err, KUMO_ELIMIT, "%s full: no pending tx that pays less can make room",
                        name);
}

/* Plans room for tx in its class: nothing when it fits, else the cheapest candidates (never
 * of the tx's own account) that pay strictly less per byte, until it fits. */
static int add_plan_room(const kumo_node_mempool_t *mp,
                         const kumo_chain_tx_t *tx,
                         size_t len,
                         mp_plan_t *plan,
                         kumo_err_ctx_t *err)
{
    uint32_t cls = plan->cls;
    uint64_t count_max = cls == MP_LANE ? mp->cfg.lane_tx_count_max : mp->cfg.tx_count_max;
    uint64_t bytes_max = cls == MP_LANE ? mp->cfg.lane_bytes_max : mp->cfg.bytes_max;
    KUMO_ENSURE(len <= bytes_max, err, KUMO_ELIMIT, "tx of %zu bytes over the class's %" PRIu64,
                len, bytes_max);
    uint64_t count = mp->class_tx_count[cls];
    uint64_t bytes = mp->class_bytes[cls];
    mp_walk_t w = {.h = &mp->evict[cls]};
    walk_push(&w, 0);
    const mp_account_t *own = table_get(mp, &mp->by_addr, tx->signer);
    const kumo_node_mempool_entry_t *cheapest = NULL;
    plan->victim_count = 0;
    while (count >= count_max || bytes > bytes_max - len) {
        mp_account_t *a = walk_next(&w, KUMO_NODE_MEMPOOL_EVICT_ACCOUNT_MAX + 1u);
        if (a == NULL || plan->victim_count == KUMO_NODE_MEMPOOL_EVICT_ACCOUNT_MAX) {
            plan->victim_count = 0;
            return room_refuse(cheapest, tx, len, cls, err);
        }
        const kumo_node_mempool_entry_t *v = a->evict[cls];
        if (a == own) {
            continue; /* the tx continues its own account's txs */
        }
        cheapest = cheapest != NULL ? cheapest : v;
        if (rate_cmp(v->tx.body->fee, v->len, tx->body->fee, len) >= 0) {
            plan->victim_count = 0; /* the rest pay at least as much: heap order */
            return room_refuse(cheapest, tx, len, cls, err);
        }
        uint64_t n = 0;
        uint64_t b = 0;
        suffix_size(v, cls, &n, &b);
        KUMO_ASSERT(n >= 1 && n <= count && b <= bytes);
        count -= n;
        bytes -= b;
        plan->victims[plan->victim_count++] = a;
    }
    return 0;
}

/* Every check of a decoded tx (see mempool.h), signature last because it costs most. */
static int add_check(const kumo_node_mempool_t *mp,
                     const kumo_node_mempool_env_t *env,
                     kumo_chain_tx_t *tx,
                     size_t len,
                     mp_account_t *view,
                     mp_plan_t *plan,
                     kumo_err_ctx_t *err)
{
    KUMO_ENSURE(table_get(mp, &mp->by_hash, tx->hash) == NULL, err, KUMO_EEXIST,
                "tx is already pending");
    KUMO_GUARD(kumo_chain_tx_check_basic(tx, env->chain_id, err));
    KUMO_GUARD(account_view(mp, env, tx->signer, view, err));
    KUMO_GUARD(add_check_sequence(mp, view, tx->body->sequence, len, err));
    KUMO_GUARD(add_check_fee(env, view, tx, err));
    KUMO_GUARD(add_classify(mp, env, tx, view, &plan->cls, err));
    KUMO_GUARD(add_plan_room(mp, tx, len, plan, err));
    KUMO_ENSURE(kumo_chain_tx_sig_check(tx), err, KUMO_ESIG, "signature does not verify");
    return 0;
}

static void entry_link(kumo_node_mempool_t *mp, kumo_node_mempool_entry_t *e, mp_account_t *a)
{
    e->account = a;
    e->arrival = mp->arrival_next++;
    if (a->last != NULL) {
        a->last->account_next = e;
    } else {
        a->first = e;
    }
    a->last = e;
    a->tx_count++;
    a->bytes += e->len;                /* checked against account_bytes_max */
    a->fee_pending += e->tx.body->fee; /* checked against the balance in add_check_fee */
    a->lane_count += e->cls == MP_LANE ? 1u : 0u;
    table_put(mp, &mp->by_hash, e);
    mp->class_tx_count[e->cls]++;
    mp->class_bytes[e->cls] += e->len;
    account_keys_append(mp, a, e);
}

/* Links a new account record (a copy of the view) into the list and the table. */
static void account_link(kumo_node_mempool_t *mp, mp_account_t *a, const mp_account_t *view)
{
    *a = *view;
    a->list_prev = NULL;
    a->list_next = mp->accounts;
    if (mp->accounts != NULL) {
        mp->accounts->list_prev = a;
    }
    mp->accounts = a;
    table_put(mp, &mp->by_addr, a);
}

/* Allocates everything first, so a failure changes nothing; then evicts and links. */
static int add_insert(kumo_node_mempool_t *mp,
                      kumo_chain_tx_t *tx,
                      kumo_bytes_t bytes,
                      const mp_account_t *view,
                      const mp_plan_t *plan,
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
    mp_account_t *fresh = NULL;
    if (a == NULL) {
        fresh = kumo_alloc(sizeof(*fresh));
        if (fresh == NULL) {
            kumo_free(e->bytes);
            kumo_free(e);
            return kumo_err_set(err, KUMO_ENOMEM, "mempool account");
        }
    }
    /* Evict before the new account joins the table: a full pool may hold as many accounts
     * as the tables are sized for. */
    for (size_t i = 0; i < plan->victim_count; i++) {
        KUMO_ASSERT(plan->victims[i] != a);
        account_evict(mp, plan->victims[i], plan->cls);
    }
    if (fresh != NULL) {
        account_link(mp, fresh, view);
        a = fresh;
    }
    memcpy(e->bytes, bytes.ptr, bytes.len);
    e->len = bytes.len;
    e->cls = plan->cls;
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
    mp_plan_t plan; /* add_check fills it; the two fields set here keep -O2 flow analysis sure */
    plan.cls = MP_GENERAL;
    plan.victim_count = 0;
    int rc = add_check(mp, env, &tx, tx_bytes.len, &view, &plan, err);
    if (rc == 0) {
        rc = add_insert(mp, &tx, tx_bytes, &view, &plan, err);
    }
    if (rc < 0) {
        kumo_chain_tx_free(&tx);
        return rc;
    }
    KUMO_ASSERT(mp->class_tx_count[MP_GENERAL] <= mp->cfg.tx_count_max);
    KUMO_ASSERT(mp->class_tx_count[MP_LANE] <= mp->cfg.lane_tx_count_max);
    KUMO_ASSERT(mp->class_bytes[MP_GENERAL] <= mp->cfg.bytes_max);
    KUMO_ASSERT(mp->class_bytes[MP_LANE] <= mp->cfg.lane_bytes_max);
    KUMO_ASSERT_SLOW(mempool_is_valid(mp));
    return 0;
}

/* ---- select ---- */

typedef struct mp_pick {
    const kumo_node_mempool_entry_t **out;
    size_t count;
    size_t count_max;
    uint64_t bytes;
    uint64_t bytes_max;
} mp_pick_t;

static bool pick_fits(const mp_pick_t *p, const kumo_node_mempool_entry_t *e)
{
    return p->count < p->count_max && e->len <= p->bytes_max - p->bytes;
}

static void pick_one(mp_pick_t *p, const kumo_node_mempool_entry_t *e)
{
    KUMO_ASSERT(pick_fits(p, e));
    p->out[p->count++] = e;
    p->bytes += e->len;
}

/* Fills the selection heap with every account but skip, each at its first tx. */
static void select_heap_fill(kumo_node_mempool_t *mp, const mp_account_t *skip)
{
    mp_heap_t *h = &mp->select;
    h->count = 0;
    for (mp_account_t *a = mp->accounts; a != NULL; a = a->list_next) {
        if (a == skip) {
            continue;
        }
        KUMO_ASSERT(a->first != NULL && h->count < h->cap);
        a->sel_next = a->first;
        a->sel_lane_left = a->lane_count;
        h->items[h->count++] = a;
    }
    heap_heapify(h);
}

size_t kumo_node_mempool_select(kumo_node_mempool_t *mp,
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
         e != NULL && pick_fits(&p, e); e = e->account_next) {
        pick_one(&p, e);
    }
    select_heap_fill(mp, first);
    mp_heap_t *h = &mp->select;
    while (h->count > 0 && p.count < count_max) {
        mp_account_t *a = h->items[0];
        const kumo_node_mempool_entry_t *e = a->sel_next;
        if (!pick_fits(&p, e)) {
            heap_remove_at(h, 0); /* its later txs cannot go without it */
            continue;
        }
        pick_one(&p, e);
        if (e->cls == MP_LANE) {
            KUMO_ASSERT(a->sel_lane_left > 0);
            a->sel_lane_left--;
        }
        a->sel_next = e->account_next;
        if (a->sel_next == NULL) {
            heap_remove_at(h, 0);
        } else {
            heap_down(h, 0); /* only the root's key changed */
        }
    }
    h->count = 0;
    KUMO_ASSERT(p.count <= count_max && p.bytes <= bytes_max);
    return p.count;
}

/* ---- update ---- */

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
    /* The block consumed the head's sequence: the account's txs still start at its committed
     * sequence, also when no re-check follows (update without env). */
    KUMO_ASSERT(e->tx.body->sequence == a->sequence_base);
    a->sequence_base++;
    entry_remove(mp, e);
}

/* Re-reads the account and keeps the longest run of txs that still applies. */
static size_t
account_recheck(kumo_node_mempool_t *mp, const kumo_node_mempool_env_t *env, mp_account_t *a)
{
    Kumo__Account *acct = NULL;
    if (kumo_bank_account_get(env->kv, a->addr, &acct, NULL) < 0) {
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

/* Empties both eviction heaps: the accounts' txs are about to change. */
static void evict_heaps_clear(kumo_node_mempool_t *mp)
{
    for (uint32_t c = 0; c < MP_CLASSES; c++) {
        mp_heap_t *h = &mp->evict[c];
        for (size_t i = 0; i < h->count; i++) {
            h->items[i]->heap_pos[c] = 0;
        }
        h->count = 0;
    }
}

/* Frees emptied accounts and puts the others back into the eviction heaps. O(txs). */
static void evict_heaps_rebuild(kumo_node_mempool_t *mp)
{
    mp_account_t *next = NULL;
    for (mp_account_t *a = mp->accounts; a != NULL; a = next) {
        next = a->list_next; /* a may be freed below */
        if (a->tx_count == 0) {
            account_free(mp, a);
            continue;
        }
        account_keys_compute(a);
        for (uint32_t c = 0; c < MP_CLASSES; c++) {
            if (a->evict[c] != NULL) {
                mp_heap_t *h = &mp->evict[c];
                KUMO_ASSERT(h->count < h->cap);
                h->items[h->count++] = a;
            }
        }
    }
    for (uint32_t c = 0; c < MP_CLASSES; c++) {
        heap_heapify(&mp->evict[c]);
    }
}

size_t kumo_node_mempool_update(kumo_node_mempool_t *mp,
                                const kumo_node_mempool_env_t *env,
                                const uint8_t (*hashes)[KUMO_CHAIN_HASH_BYTES],
                                size_t hash_count)
{
    KUMO_ASSERT(mp != NULL);
    KUMO_ASSERT(hashes != NULL || hash_count == 0);
    evict_heaps_clear(mp);
    for (size_t i = 0; i < hash_count; i++) {
        kumo_node_mempool_entry_t *e = table_get(mp, &mp->by_hash, hashes[i]);
        if (e != NULL) {
            account_pop_included(mp, e);
        }
    }
    size_t dropped = 0;
    if (env != NULL) {
        for (mp_account_t *a = mp->accounts; a != NULL; a = a->list_next) {
            dropped += account_recheck(mp, env, a);
        }
    }
    evict_heaps_rebuild(mp);
    KUMO_ASSERT_SLOW(mempool_is_valid(mp));
    return dropped;
}
