/*
 * test_parts.c - the participants cache (src/provider/parts.c): an entry is good only at the
 * height it was filled at; a lease ending drops its deployment's entries (not others') and a
 * fill begun before the end is not stored; a fill begun before a block is not stored either;
 * the table replaces entries in turn when full; holders are matched exactly; providers'
 * targets are cached for one height only.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/daemon_int.h"

static void entry_make(pd_parts_entry_t *e, const char *owner, uint64_t dseq, const char *holder)
{
    memset(e, 0, sizeof(*e));
    (void)snprintf(e->owner, sizeof(e->owner), "%s", owner);
    e->dseq = dseq;
    e->active = true;
    memset(e->version, 0x5a, sizeof(e->version));
    e->complete = true;
    (void)snprintf(e->holders[0], sizeof(e->holders[0]), "%s", holder);
    e->holder_count = 1;
}

static pd_parts_t *parts_new(uint64_t height)
{
    pd_parts_t *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    assert_int_equal(pd_parts_init(p, NULL), 0);
    pd_parts_height_set(p, height);
    return p;
}

static void parts_end(pd_parts_t *p)
{
    pd_parts_free(p);
    free(p);
}

/* Fills (owner, dseq) at the current height and generation. */
static void fill(pd_parts_t *p, const char *owner, uint64_t dseq, const char *holder)
{
    pd_parts_entry_t e;
    entry_make(&e, owner, dseq, holder);
    uint64_t h = 0;
    uint64_t g = 0;
    pd_parts_begin(p, &h, &g);
    assert_true(pd_parts_put(p, &e, h, g));
}

static void test_parts_good_only_at_its_height(void **state)
{
    (void)state;
    pd_parts_t *p = parts_new(10);
    pd_parts_entry_t out;
    assert_false(pd_parts_get(p, "kumo1owner", 7, &out));
    fill(p, "kumo1owner", 7, "kumo1east");
    assert_true(pd_parts_get(p, "kumo1owner", 7, &out));
    assert_true(pd_parts_holds(&out, "kumo1east"));
    assert_false(pd_parts_holds(&out, "kumo1eas"));
    assert_false(pd_parts_holds(&out, "kumo1eastt"));
    assert_false(pd_parts_get(p, "kumo1owner", 8, &out));
    assert_false(pd_parts_get(p, "kumo1other", 7, &out));
    pd_parts_height_set(p, 10); /* the same block again changes nothing */
    assert_true(pd_parts_get(p, "kumo1owner", 7, &out));
    pd_parts_height_set(p, 11);
    assert_false(pd_parts_get(p, "kumo1owner", 7, &out));
    parts_end(p);
}

static void test_parts_lease_end_drops_its_deployment(void **state)
{
    (void)state;
    pd_parts_t *p = parts_new(10);
    fill(p, "kumo1owner", 7, "kumo1east");
    fill(p, "kumo1owner", 8, "kumo1east");
    fill(p, "kumo1other", 7, "kumo1east");
    pd_parts_drop(p, "kumo1owner", 7);
    pd_parts_entry_t out;
    assert_false(pd_parts_get(p, "kumo1owner", 7, &out));
    assert_true(pd_parts_get(p, "kumo1owner", 8, &out));
    assert_true(pd_parts_get(p, "kumo1other", 7, &out));
    parts_end(p);
}

static void test_parts_fill_racing_an_end_or_a_block_is_dropped(void **state)
{
    (void)state;
    pd_parts_t *p = parts_new(10);
    pd_parts_entry_t e;
    pd_parts_entry_t out;
    entry_make(&e, "kumo1owner", 7, "kumo1mallory");
    uint64_t h = 0;
    uint64_t g = 0;
    /* A worker asks the node; meanwhile mallory's lease ends on the stream. */
    pd_parts_begin(p, &h, &g);
    pd_parts_drop(p, "kumo1owner", 7);
    assert_false(pd_parts_put(p, &e, h, g));
    assert_false(pd_parts_get(p, "kumo1owner", 7, &out));
    /* Likewise with a block between the question and the answer. */
    pd_parts_begin(p, &h, &g);
    pd_parts_height_set(p, 11);
    assert_false(pd_parts_put(p, &e, h, g));
    assert_false(pd_parts_get(p, "kumo1owner", 7, &out));
    /* Begun after both: stored. */
    pd_parts_begin(p, &h, &g);
    assert_true(pd_parts_put(p, &e, h, g));
    assert_true(pd_parts_get(p, "kumo1owner", 7, &out));
    parts_end(p);
}

static void test_parts_full_table_and_refill(void **state)
{
    (void)state;
    pd_parts_t *p = parts_new(3);
    for (uint64_t i = 0; i < PD_PARTS_MAX + 5u; i++) {
        fill(p, "kumo1owner", 100u + i, "kumo1east");
    }
    uint32_t held = 0;
    pd_parts_entry_t out;
    for (uint64_t i = 0; i < PD_PARTS_MAX + 5u; i++) {
        held += pd_parts_get(p, "kumo1owner", 100u + i, &out) ? 1u : 0u;
    }
    assert_int_equal(held, PD_PARTS_MAX);
    assert_true(pd_parts_get(p, "kumo1owner", 100u + PD_PARTS_MAX + 4u, &out));
    /* Filling a deployment again replaces its own slot, never a second one. */
    fill(p, "kumo1owner", 100u + PD_PARTS_MAX + 4u, "kumo1west");
    uint32_t slots = 0;
    for (uint32_t i = 0; i < PD_PARTS_MAX; i++) {
        slots += p->e[i].used && p->e[i].dseq == 100u + PD_PARTS_MAX + 4u ? 1u : 0u;
    }
    assert_int_equal(slots, 1);
    assert_true(pd_parts_get(p, "kumo1owner", 100u + PD_PARTS_MAX + 4u, &out));
    assert_true(pd_parts_holds(&out, "kumo1west"));
    assert_false(pd_parts_holds(&out, "kumo1east"));
    parts_end(p);
}

/* A provider's target comes from the cache at its height and never after a block (then the
 * node is asked: here one that does not answer, so the load fails). */
static void test_parts_targets_good_only_at_their_height(void **state)
{
    (void)state;
    pd_parts_t *p = parts_new(10);
    kumo_client_t *node = NULL;
    assert_int_equal(kumo_client_open("http://127.0.0.1:1", NULL, &node, NULL), 0);
    pd_parts_target_t *c = &p->t[3];
    c->used = true;
    (void)snprintf(c->provider, sizeof(c->provider), "%s", "kumo1east");
    (void)snprintf(c->uri, sizeof(c->uri), "%s", "https://east.example:8443");
    memcpy(c->root_pem, "PEM", 3);
    c->root_len = 3;
    pd_peer_target_t t;
    assert_int_equal(pd_parts_target_load(p, node, "kumo1east", &t, NULL), 0);
    assert_string_equal(t.uri, "https://east.example:8443");
    assert_int_equal(t.root_pem.len, 3);
    pd_peer_target_free(&t);
    assert_int_not_equal(pd_parts_target_load(p, node, "kumo1west", &t, NULL), 0);
    pd_parts_height_set(p, 11);
    assert_false(p->t[3].used);
    assert_int_not_equal(pd_parts_target_load(p, node, "kumo1east", &t, NULL), 0);
    kumo_client_close(node);
    parts_end(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_good_only_at_its_height),
        cmocka_unit_test(test_parts_lease_end_drops_its_deployment),
        cmocka_unit_test(test_parts_fill_racing_an_end_or_a_block_is_dropped),
        cmocka_unit_test(test_parts_full_table_and_refill),
        cmocka_unit_test(test_parts_targets_good_only_at_their_height),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
