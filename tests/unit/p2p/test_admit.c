/*
 * test_admit.c - the admission rules and the ban table (src/p2p/admit.c) from tables: every
 * cap at its limit and one past it, the per-host grace boundary, which pending connection the
 * total cap evicts (the heaviest host, ties by age) and when it refuses instead, stranger caps
 * in total and per host, bans by id and host (expiry, extension, a full table), scores that
 * outlive a connection (fading, a full table), and how
 * socket addresses become hosts (IPv4, IPv4-mapped, IPv6 by /64).
 */
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "p2p/p2p_admit.h"

static kumo_p2p_host_t host4(uint8_t last)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(0x7f000000u | last);
    kumo_p2p_host_t h;
    assert_true(kumo_p2p_host_from_sockaddr((struct sockaddr *)&sa, sizeof(sa), &h));
    return h;
}

static const kumo_p2p_limits_t lim = {
    .pending_count_max = 4,
    .pending_per_host_max = 2,
    .inbound_count_max = 3,
    .inbound_per_host_max = 2,
    .grace_ms = 100,
};

typedef struct pending_row {
    const char *name;
    uint8_t hosts[6]; /* host of each pending connection (127.0.0.x), 0 ends */
    uint64_t since[6];
    uint8_t newcomer;
    uint64_t now_ms;
    kumo_p2p_admit_t want;
    uint32_t victim;
} pending_row_t;

static void test_admit_pending(void **state)
{
    (void)state;
    static const pending_row_t rows[] = {
        {"nothing pending", {0}, {0}, 1, 1000, KUMO_P2P_ADMIT_ACCEPT, 0},
        {"host below its cap", {1, 2}, {10, 20}, 1, 1000, KUMO_P2P_ADMIT_ACCEPT, 0},
        {"one below the total cap", {1, 2, 3}, {0, 0, 0}, 4, 50, KUMO_P2P_ADMIT_ACCEPT, 0},
        {"host at its cap, all young", {2, 1, 1}, {0, 950, 960}, 1, 1000, KUMO_P2P_ADMIT_REFUSE, 0},
        {"host at its cap, oldest one ms short of grace",
         {1, 1},
         {901, 950},
         1,
         1000,
         KUMO_P2P_ADMIT_REFUSE,
         0},
        {"host at its cap, oldest exactly at grace",
         {1, 1},
         {950, 900},
         1,
         1000,
         KUMO_P2P_ADMIT_EVICT,
         1},
        {"total cap: the heaviest host loses its oldest",
         {3, 2, 2, 4},
         {5, 70, 60, 1},
         1,
         80,
         KUMO_P2P_ADMIT_EVICT,
         2},
        {"total cap: every host holds one, newcomer holds one too",
         {1, 2, 3, 4},
         {0, 1, 2, 3},
         1,
         10,
         KUMO_P2P_ADMIT_REFUSE,
         0},
        {"total cap: every host holds one, newcomer holds none: oldest of the tie",
         {1, 2, 3, 4},
         {7, 3, 9, 8},
         5,
         10,
         KUMO_P2P_ADMIT_EVICT,
         1},
        {"total cap: two heaviest, the one holding the oldest loses",
         {1, 2, 1, 2},
         {40, 30, 50, 60},
         3,
         70,
         KUMO_P2P_ADMIT_EVICT,
         1},
        {"full table, newcomer's host at its cap, young",
         {1, 2, 1, 2},
         {40, 30, 50, 60},
         2,
         70,
         KUMO_P2P_ADMIT_REFUSE,
         0},
        {"clock behind a connection (never negative)",
         {1, 1},
         {500, 600},
         1,
         10,
         KUMO_P2P_ADMIT_REFUSE,
         0},
    };
    for (size_t r = 0; r < KUMO_ARRAY_COUNT(rows); r++) {
        const pending_row_t *row = &rows[r];
        kumo_p2p_pending_view_t view[6];
        uint32_t n = 0;
        while (n < 6 && row->hosts[n] != 0) {
            view[n] = (kumo_p2p_pending_view_t){host4(row->hosts[n]), row->since[n]};
            n++;
        }
        kumo_p2p_host_t h = host4(row->newcomer);
        uint32_t victim = 99;
        kumo_p2p_admit_t got = kumo_p2p_admit_pending(&lim, view, n, &h, row->now_ms, &victim);
        if (got != row->want || (got == KUMO_P2P_ADMIT_EVICT && victim != row->victim)) {
            fail_msg("%s: got %d victim %u, want %d victim %u", row->name, (int)got, victim,
                     (int)row->want, row->victim);
        }
    }
}

typedef struct stranger_row {
    const char *name;
    uint8_t hosts[4];
    uint8_t newcomer;
    bool want;
} stranger_row_t;

static void test_admit_stranger(void **state)
{
    (void)state;
    static const stranger_row_t rows[] = {
        {"none yet", {0}, 1, true},
        {"host one below its cap", {1, 2}, 1, true},
        {"host at its cap", {1, 1}, 1, false},
        {"total one below the cap", {1, 2}, 3, true},
        {"total at the cap", {1, 2, 3}, 4, false},
    };
    for (size_t r = 0; r < KUMO_ARRAY_COUNT(rows); r++) {
        kumo_p2p_host_t hosts[4];
        uint32_t n = 0;
        while (n < 4 && rows[r].hosts[n] != 0) {
            hosts[n] = host4(rows[r].hosts[n]);
            n++;
        }
        kumo_p2p_host_t h = host4(rows[r].newcomer);
        if (kumo_p2p_admit_stranger(&lim, hosts, n, &h) != rows[r].want) {
            fail_msg("%s: want %d", rows[r].name, rows[r].want);
        }
    }
    /* inbound_count_max 0: only persistent peers. */
    kumo_p2p_limits_t none = lim;
    none.inbound_count_max = 0;
    kumo_p2p_host_t h = host4(1);
    assert_false(kumo_p2p_admit_stranger(&none, NULL, 0, &h));
}

static void test_bans(void **state)
{
    (void)state;
    static kumo_p2p_bans_t bans;
    memset(&bans, 0, sizeof(bans));
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    memset(id, 7, sizeof(id));
    kumo_p2p_host_t h = host4(9);
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 1000, 0);
    assert_true(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 999));
    assert_false(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 1000)); /* expired */
    /* Kinds are apart: the same bytes as a host are not banned. */
    assert_false(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_HOST, id, KUMO_P2P_HOST_BYTES, 0));
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_HOST, h.b, sizeof(h.b), 500, 0);
    assert_true(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_HOST, h.b, sizeof(h.b), 499));
    /* Extended, never shortened. */
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 2000, 10);
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 1500, 10);
    assert_true(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 1999));
    assert_int_equal(kumo_p2p_bans_count(&bans, 10), 2);
    assert_int_equal(kumo_p2p_bans_count(&bans, 600), 1);
    /* Fill the table: at KUMO_P2P_BAN_COUNT_MAX every ban is kept; one more replaces the ban
     * that ends soonest (h's, at 500), counted. */
    for (uint32_t i = 0; kumo_p2p_bans_count(&bans, 10) < KUMO_P2P_BAN_COUNT_MAX; i++) {
        uint8_t other[KUMO_TLS_NODE_ID_BYTES] = {0};
        memcpy(other, &i, sizeof(i));
        kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_ID, other, sizeof(other), 3000 + i, 10);
    }
    assert_int_equal(bans.replaced, 0);
    uint8_t last[KUMO_TLS_NODE_ID_BYTES];
    memset(last, 0xee, sizeof(last));
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_ID, last, sizeof(last), 9000, 10);
    assert_int_equal(bans.replaced, 1);
    assert_int_equal(kumo_p2p_bans_count(&bans, 10), KUMO_P2P_BAN_COUNT_MAX);
    assert_false(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_HOST, h.b, sizeof(h.b), 10));
    assert_true(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_ID, last, sizeof(last), 10));
    assert_true(kumo_p2p_bans_has(&bans, KUMO_P2P_BAN_ID, id, sizeof(id), 10));
    /* Once bans expire, their slots are reused without replacing anything. */
    kumo_p2p_bans_add(&bans, KUMO_P2P_BAN_HOST, h.b, sizeof(h.b), 99999, 5000);
    assert_int_equal(bans.replaced, 1);
    assert_int_equal(kumo_p2p_bans_count(&bans, 5000), 2);
}

static void test_scores(void **state)
{
    (void)state;
    static kumo_p2p_scores_t scores;
    memset(&scores, 0, sizeof(scores));
    scores.fade_ms = 10; /* one point per 10 ms */
    uint8_t id[KUMO_TLS_NODE_ID_BYTES];
    memset(id, 1, sizeof(id));
    kumo_p2p_scores_put(&scores, id, 50, 1000);
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 1000 + 199), 31); /* 19 faded */
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 1000), 0);        /* taken */
    kumo_p2p_scores_put(&scores, id, 5, 0);
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 50), 0); /* faded out */
    kumo_p2p_scores_put(&scores, id, 0, 0);
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 0), 0);
    /* A second put replaces the first; a clock behind does not add points. */
    kumo_p2p_scores_put(&scores, id, 10, 500);
    kumo_p2p_scores_put(&scores, id, 20, 500);
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 400), 20);
    /* Full: at KUMO_P2P_SCORE_COUNT_MAX every score is kept; one more replaces the lowest. */
    for (uint32_t i = 0; i < KUMO_P2P_SCORE_COUNT_MAX; i++) {
        uint8_t other[KUMO_TLS_NODE_ID_BYTES] = {0};
        memcpy(other, &i, sizeof(i));
        kumo_p2p_scores_put(&scores, other, i == 7 ? 3u : 90u, 0);
    }
    kumo_p2p_scores_put(&scores, id, 60, 0);
    uint8_t low[KUMO_TLS_NODE_ID_BYTES] = {0};
    uint32_t seven = 7;
    memcpy(low, &seven, sizeof(seven));
    assert_int_equal(kumo_p2p_scores_take(&scores, low, 0), 0);
    assert_int_equal(kumo_p2p_scores_take(&scores, id, 0), 60);
    uint8_t kept[KUMO_TLS_NODE_ID_BYTES] = {0};
    assert_int_equal(kumo_p2p_scores_take(&scores, kept, 0), 90);
}

static void test_hosts(void **state)
{
    (void)state;
    char text[KUMO_P2P_HOST_TEXT_BYTES];
    kumo_p2p_host_t v4 = host4(2);
    kumo_p2p_host_format(&v4, text);
    assert_string_equal(text, "127.0.0.2");
    /* An IPv4-mapped IPv6 address is that IPv4 host. */
    struct sockaddr_in6 m = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.2", &m.sin6_addr), 1);
    kumo_p2p_host_t mapped;
    assert_true(kumo_p2p_host_from_sockaddr((struct sockaddr *)&m, sizeof(m), &mapped));
    assert_true(kumo_p2p_host_is_equal(&mapped, &v4));
    /* IPv6 hosts are their /64. */
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    struct sockaddr_in6 b = {.sin6_family = AF_INET6};
    struct sockaddr_in6 c = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::1", &a.sin6_addr), 1);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b.sin6_addr), 1);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:3::1", &c.sin6_addr), 1);
    kumo_p2p_host_t ha;
    kumo_p2p_host_t hb;
    kumo_p2p_host_t hc;
    assert_true(kumo_p2p_host_from_sockaddr((struct sockaddr *)&a, sizeof(a), &ha));
    assert_true(kumo_p2p_host_from_sockaddr((struct sockaddr *)&b, sizeof(b), &hb));
    assert_true(kumo_p2p_host_from_sockaddr((struct sockaddr *)&c, sizeof(c), &hc));
    assert_true(kumo_p2p_host_is_equal(&ha, &hb));
    assert_false(kumo_p2p_host_is_equal(&ha, &hc));
    kumo_p2p_host_format(&ha, text);
    assert_string_equal(text, "2001:db8:1:2::/64");
    /* Other families and short lengths are not hosts. */
    struct sockaddr_in short4 = {.sin_family = AF_INET};
    kumo_p2p_host_t x;
    assert_false(kumo_p2p_host_from_sockaddr((struct sockaddr *)&short4, 4, &x));
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_false(kumo_p2p_host_from_sockaddr(&un, sizeof(un), &x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_pending), cmocka_unit_test(test_admit_stranger),
        cmocka_unit_test(test_bans),          cmocka_unit_test(test_scores),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
