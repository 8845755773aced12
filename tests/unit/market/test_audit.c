/*
 * test_audit.c - proves provider audits and placement requirements (src/market/audit.c):
 * SignProviderAttributes merges what an auditor vouches for and DeleteProviderAttributes
 * withdraws keys or everything; a group's requirements are validated (canonical, bounded); a
 * bid is refused with KUMO_EATTRIBUTE when its provider lacks a required attribute and with
 * KUMO_ESIGNEDBY when a required auditor has not signed; a revoked signature stops new bids and
 * matches (the facilitator skips the bid, SubmitLease refuses it) while a lease already made
 * stays. Every rule is a table row that must fail with its own code and leave the kv
 * byte-identical. Runs on a real LMDB store (market_fixture.h).
 */
#include "unit/market/market_fixture.h"

/* The requirements of one group spec, with the storage they point at. */
typedef struct req_holder {
    Kumo__PlacementRequirements req;
    Kumo__SignedBy sb;
    Kumo__Attribute attr[KUMO_ATTRIBUTE_COUNT_MAX + 1];
    Kumo__Attribute *attr_ptrs[KUMO_ATTRIBUTE_COUNT_MAX + 1];
    char key[KUMO_ATTRIBUTE_COUNT_MAX + 1][16];
    char val[KUMO_ATTRIBUTE_COUNT_MAX + 1][16];
    ProtobufCBinaryData all_of[KUMO_SIGNED_BY_COUNT_MAX + 1];
    ProtobufCBinaryData any_of[KUMO_SIGNED_BY_COUNT_MAX + 1];
    uint8_t addrs[2 * (KUMO_SIGNED_BY_COUNT_MAX + 1)][KUMO_ADDRESS_BYTES];
    ProtobufCBinaryData providers[KUMO_PLACEMENT_PROVIDER_COUNT_MAX + 1];
    uint8_t provider_addrs[KUMO_PLACEMENT_PROVIDER_COUNT_MAX + 1][KUMO_ADDRESS_BYTES];
} req_holder_t;

static req_holder_t g_req;

static void req_attr_set(req_holder_t *h, size_t i, const char *key, const char *val)
{
    Kumo__Attribute init = KUMO__ATTRIBUTE__INIT;
    h->attr[i] = init;
    snprintf(h->key[i], sizeof(h->key[i]), "%s", key);
    snprintf(h->val[i], sizeof(h->val[i]), "%s", val);
    h->attr[i].key = h->key[i];
    h->attr[i].value = h->val[i];
    h->attr_ptrs[i] = &h->attr[i];
}

/* Requirements: key00=value00 (what every fixture provider declares), signed by all_of. */
static void req_init(req_holder_t *h, const uint8_t *all_of)
{
    memset(h, 0, sizeof(*h));
    Kumo__PlacementRequirements r = KUMO__PLACEMENT_REQUIREMENTS__INIT;
    Kumo__SignedBy s = KUMO__SIGNED_BY__INIT;
    h->req = r;
    h->sb = s;
    req_attr_set(h, 0, "key00", "value00");
    h->req.attributes = h->attr_ptrs;
    h->req.n_attributes = 1;
    if (all_of != NULL) {
        memcpy(h->addrs[0], all_of, KUMO_ADDRESS_BYTES);
        h->all_of[0].data = h->addrs[0];
        h->all_of[0].len = KUMO_ADDRESS_BYTES;
        h->sb.all_of = h->all_of;
        h->sb.n_all_of = 1;
        h->sb.any_of = h->any_of;
        h->req.signed_by = &h->sb;
    }
}

/* The auditor: tenant2 (any account may audit). */
static const uint8_t *auditor(fx_t *fx)
{
    return fx->tenant2;
}

/* tenant deploys dseq with one us-east group requiring key00=value00 signed by the auditor. */
static void deploy_req(fx_t *fx, uint64_t dseq, req_holder_t *h)
{
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, dseq, 1, 5, 100000);
    m->specs[0].spec.requirements = &h->req;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static void sign_msg(fx_msg_t *m, const uint8_t *signer, const uint8_t *provider, size_t n)
{
    static Kumo__MsgSignProviderAttributes s;
    Kumo__MsgSignProviderAttributes init = KUMO__MSG_SIGN_PROVIDER_ATTRIBUTES__INIT;
    s = init;
    fx_attrs_fill(m, n);
    memcpy(m->addr, provider, KUMO_ADDRESS_BYTES);
    s.provider.data = m->addr;
    s.provider.len = KUMO_ADDRESS_BYTES;
    s.attributes = m->attr_ptrs;
    s.n_attributes = n;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_SIGN_PROVIDER_ATTRIBUTES, &s);
}

static char *g_keys[KUMO_ATTRIBUTE_COUNT_MAX + 1];
static char g_key_text[KUMO_ATTRIBUTE_COUNT_MAX + 1][KUMO_ATTRIBUTE_KEY_BYTES_MAX + 2];

static void revoke_msg(fx_msg_t *m, const uint8_t *signer, const uint8_t *provider, size_t nkeys)
{
    static Kumo__MsgDeleteProviderAttributes d;
    Kumo__MsgDeleteProviderAttributes init = KUMO__MSG_DELETE_PROVIDER_ATTRIBUTES__INIT;
    d = init;
    for (size_t i = 0; i < nkeys; i++) {
        snprintf(g_key_text[i], sizeof(g_key_text[i]), "key%02zu", i);
        g_keys[i] = g_key_text[i];
    }
    memcpy(m->addr, provider, KUMO_ADDRESS_BYTES);
    d.provider.data = m->addr;
    d.provider.len = KUMO_ADDRESS_BYTES;
    d.keys = nkeys > 0 ? g_keys : NULL;
    d.n_keys = nkeys;
    m->signer = signer;
    fx_msg_set(m, KUMO__MSG__SUM_DELETE_PROVIDER_ATTRIBUTES, &d);
}

static void fx_sign(fx_t *fx, const uint8_t *signer, const uint8_t *provider, size_t n)
{
    fx_msg_t *m = fx_msg_new();
    sign_msg(m, signer, provider, n);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static void fx_revoke(fx_t *fx, const uint8_t *signer, const uint8_t *provider, size_t nkeys)
{
    fx_msg_t *m = fx_msg_new();
    revoke_msg(m, signer, provider, nkeys);
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

static size_t audit_attr_count(fx_t *fx, const uint8_t *provider, const uint8_t *aud)
{
    Kumo__ProviderAudit *a = NULL;
    kumo_err_ctx_t err = {0};
    int rc = kumo_market_audit_get(&fx->ts.kv, provider, aud, &a, &err);
    if (rc == KUMO_ENOTFOUND) {
        return 0;
    }
    assert_int_equal(rc, 0);
    size_t n = a->n_attributes;
    kumo_codec_free(&a->base);
    return n;
}

static int test_count_cb(void *cb_ctx, const ProtobufCMessage *obj)
{
    assert_ptr_equal(obj->descriptor, &kumo__provider_audit__descriptor);
    (*(size_t *)cb_ctx)++;
    return 0;
}

/* ---- sign and revoke ------------------------------------------------------------------------ */

static void test_audit_sign_merges_and_revoke_removes(void **state)
{
    fx_t *fx = *state;
    fx_sign(fx, auditor(fx), fx->prov[0], 2);
    assert_int_equal(audit_attr_count(fx, fx->prov[0], auditor(fx)), 2);
    fx_sign(fx, auditor(fx), fx->prov[0], 3); /* key00..key02: one new key */
    assert_int_equal(audit_attr_count(fx, fx->prov[0], auditor(fx)), 3);
    assert_int_equal(fx_event_count(fx, "audit.signed"), 2);
    fx_revoke(fx, auditor(fx), fx->prov[0], 1); /* key00 */
    assert_int_equal(audit_attr_count(fx, fx->prov[0], auditor(fx)), 2);
    fx_revoke(fx, auditor(fx), fx->prov[0], 0); /* everything */
    assert_int_equal(audit_attr_count(fx, fx->prov[0], auditor(fx)), 0);
    assert_int_equal(fx_event_count(fx, "audit.revoked"), 2);

    /* The query lists a provider's auditors. */
    fx_sign(fx, auditor(fx), fx->prov[1], 1);
    fx_sign(fx, fx->stranger, fx->prov[1], 1);
    fx_sign(fx, fx->stranger, fx->prov[2], 1);
    kumo_market_query_t q = {.object = KUMO_MARKET_OBJ_AUDIT, .provider = fx->prov[1], .limit = 10};
    size_t count = 0;
    kumo_buf_t next;
    kumo_buf_init(&next, KUMO_KEY_BYTES_MAX);
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_query_run(&fx->ts.kv, &q, test_count_cb, &count, &next, &err), 0);
    assert_int_equal(count, 2);
    kumo_buf_free(&next);
}

static void sign_build(fx_t *fx, fx_msg_t *m)
{
    sign_msg(m, auditor(fx), fx->prov[0], 2);
}
static void s_provider_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->msg.sign_provider_attributes->provider.len = KUMO_ADDRESS_BYTES - 1;
}
static void s_provider_unknown(fx_t *fx, fx_msg_t *m)
{
    memcpy(m->addr, fx->stranger, KUMO_ADDRESS_BYTES);
}
static void s_no_attrs(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->msg.sign_provider_attributes->n_attributes = 0;
}
static void s_attrs_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_attrs_fill(m, KUMO_ATTRIBUTE_COUNT_MAX);
    m->msg.sign_provider_attributes->n_attributes = KUMO_ATTRIBUTE_COUNT_MAX;
}
static void s_attrs_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    fx_attrs_fill(m, KUMO_ATTRIBUTE_COUNT_MAX + 1);
    m->msg.sign_provider_attributes->n_attributes = KUMO_ATTRIBUTE_COUNT_MAX + 1;
}
static void s_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->attr_key[0], sizeof(m->attr_key[0]), "zzz");
}
static void s_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    snprintf(m->attr_key[1], sizeof(m->attr_key[1]), "key00");
}
static void s_key_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->attr_key[0][0] = '\0';
}
static void s_key_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->attr_key[1], 'k', KUMO_ATTRIBUTE_KEY_BYTES_MAX + 1);
    m->attr_key[1][KUMO_ATTRIBUTE_KEY_BYTES_MAX + 1] = '\0';
}
static void s_value_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    memset(m->attr_val[0], 'v', KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 1);
    m->attr_val[0][KUMO_ATTRIBUTE_VALUE_BYTES_MAX + 1] = '\0';
}
/* The auditor already signed 15 other keys: the merge would hold 17. */
static void s_merge_over(fx_t *fx, fx_msg_t *m)
{
    fx_msg_t *pre = fx_msg_new();
    sign_msg(pre, auditor(fx), fx->prov[0], KUMO_ATTRIBUTE_COUNT_MAX);
    for (size_t i = 0; i < KUMO_ATTRIBUTE_COUNT_MAX; i++) {
        snprintf(pre->attr_key[i], sizeof(pre->attr_key[i]), "a%02zu", i);
    }
    fx_ok(fx, pre->signer, &pre->msg);
    free(pre);
    sign_msg(m, auditor(fx), fx->prov[0], 2);
}

static void test_audit_sign_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"provider address short", s_provider_short, KUMO_EINVAL},
        {"provider unknown", s_provider_unknown, KUMO_ENOTFOUND},
        {"no attributes", s_no_attrs, KUMO_EEMPTY},
        {"attributes at max", s_attrs_max, 0},
        {"attributes over max", s_attrs_over, KUMO_ELIMIT},
        {"attributes unsorted", s_unsorted, KUMO_EUNSORTED},
        {"attribute key repeated", s_dup, KUMO_EDUPLICATE},
        {"attribute key empty", s_key_empty, KUMO_EEMPTY},
        {"attribute key over max", s_key_over, KUMO_ELIMIT},
        {"attribute value over max", s_value_over, KUMO_ELIMIT},
        {"merged over max", s_merge_over, KUMO_ELIMIT},
    };
    fx_cases_run(*state, sign_build, cases, KUMO_ARRAY_COUNT(cases));
}

static void revoke_build(fx_t *fx, fx_msg_t *m)
{
    fx_sign(fx, auditor(fx), fx->prov[0], 3);
    revoke_msg(m, auditor(fx), fx->prov[0], 2);
}
static void r_nothing_signed(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->stranger;
}
static void r_key_not_signed(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    snprintf(g_key_text[1], sizeof(g_key_text[1]), "key09");
}
static void r_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    snprintf(g_key_text[0], sizeof(g_key_text[0]), "key05");
}
static void r_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    snprintf(g_key_text[1], sizeof(g_key_text[1]), "key00");
}
static void r_keys_over(fx_t *fx, fx_msg_t *m)
{
    revoke_msg(m, auditor(fx), fx->prov[0], KUMO_ATTRIBUTE_COUNT_MAX + 1);
}
static void r_key_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_key_text[0][0] = '\0';
}
static void r_provider_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    m->msg.delete_provider_attributes->provider.len = 3;
}

static void test_audit_revoke_rejects_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"signer signed nothing", r_nothing_signed, KUMO_ENOTFOUND},
        {"key not signed", r_key_not_signed, KUMO_ENOTFOUND},
        {"keys unsorted", r_unsorted, KUMO_EUNSORTED},
        {"key repeated", r_dup, KUMO_EDUPLICATE},
        {"keys over max", r_keys_over, KUMO_ELIMIT},
        {"key empty", r_key_empty, KUMO_EEMPTY},
        {"provider address short", r_provider_short, KUMO_EINVAL},
    };
    fx_cases_run(*state, revoke_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- requirements of a group ---------------------------------------------------------------- */

static void req_build(fx_t *fx, fx_msg_t *m)
{
    req_init(&g_req, auditor(fx));
    fx_msg_deploy(m, fx->tenant, 1, 1, 5, 100000);
    m->specs[0].spec.requirements = &g_req.req;
}
static void q_attrs_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    req_attr_set(&g_req, 1, "aaa", "x");
    g_req.req.n_attributes = 2;
}
static void q_attrs_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    req_attr_set(&g_req, 1, "key00", "x");
    g_req.req.n_attributes = 2;
}
static void q_attrs_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    for (size_t i = 0; i <= KUMO_ATTRIBUTE_COUNT_MAX; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%02zu", i);
        req_attr_set(&g_req, i, k, "v");
    }
    g_req.req.n_attributes = KUMO_ATTRIBUTE_COUNT_MAX + 1;
}
static void q_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.req.n_attributes = 0;
    g_req.req.signed_by = NULL;
}
static void q_signed_by_empty(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.sb.n_all_of = 0;
}
static void auditors_fill(ProtobufCBinaryData *list, size_t n, size_t slot0)
{
    for (size_t i = 0; i < n; i++) {
        fx_addr(g_req.addrs[slot0 + i], (uint8_t)(0x01 + i));
        list[i].data = g_req.addrs[slot0 + i];
        list[i].len = KUMO_ADDRESS_BYTES;
    }
}
static void q_all_of_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    auditors_fill(g_req.all_of, KUMO_SIGNED_BY_COUNT_MAX, 0);
    g_req.sb.n_all_of = KUMO_SIGNED_BY_COUNT_MAX;
}
static void q_all_of_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    auditors_fill(g_req.all_of, KUMO_SIGNED_BY_COUNT_MAX + 1, 0);
    g_req.sb.n_all_of = KUMO_SIGNED_BY_COUNT_MAX + 1;
}
static void q_any_of_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    auditors_fill(g_req.any_of, KUMO_SIGNED_BY_COUNT_MAX + 1, KUMO_SIGNED_BY_COUNT_MAX + 1);
    g_req.sb.n_any_of = KUMO_SIGNED_BY_COUNT_MAX + 1;
}
static void q_all_of_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.all_of[0].len = 19;
}
static void q_all_of_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    auditors_fill(g_req.all_of, 2, 0);
    g_req.all_of[0].data = g_req.addrs[1];
    g_req.all_of[1].data = g_req.addrs[0];
    g_req.sb.n_all_of = 2;
}
static void q_all_of_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.all_of[1] = g_req.all_of[0];
    g_req.sb.n_all_of = 2;
}
static void q_only_signed_by(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.req.n_attributes = 0;
}

/* n provider addresses 0x01.. (sorted) as the group's list. */
static void providers_fill(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fx_addr(g_req.provider_addrs[i], (uint8_t)(0x01 + i));
        g_req.providers[i].data = g_req.provider_addrs[i];
        g_req.providers[i].len = KUMO_ADDRESS_BYTES;
    }
    g_req.req.providers = g_req.providers;
    g_req.req.n_providers = n;
}
static void q_only_providers(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.req.n_attributes = 0;
    g_req.req.signed_by = NULL;
    providers_fill(1);
}
static void q_providers_max(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    providers_fill(KUMO_PLACEMENT_PROVIDER_COUNT_MAX);
}
static void q_providers_over(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    providers_fill(KUMO_PLACEMENT_PROVIDER_COUNT_MAX + 1);
}
static void q_providers_unsorted(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    providers_fill(2);
    g_req.providers[0].data = g_req.provider_addrs[1];
    g_req.providers[1].data = g_req.provider_addrs[0];
}
static void q_providers_dup(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    providers_fill(2);
    g_req.providers[1] = g_req.providers[0];
}
static void q_exclusive_without_providers(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    g_req.req.exclusive = true;
}
static void q_providers_short(fx_t *fx, fx_msg_t *m)
{
    (void)fx;
    (void)m;
    providers_fill(1);
    g_req.providers[0].len = 19;
}

static void test_requirements_reject_each_rule(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"signed_by without attributes", q_only_signed_by, 0},
        {"attributes unsorted", q_attrs_unsorted, KUMO_EUNSORTED},
        {"attribute key repeated", q_attrs_dup, KUMO_EDUPLICATE},
        {"attributes over max", q_attrs_over, KUMO_ELIMIT},
        {"requirements empty", q_empty, KUMO_EEMPTY},
        {"signed_by empty", q_signed_by_empty, KUMO_EEMPTY},
        {"all_of at max", q_all_of_max, 0},
        {"all_of over max", q_all_of_over, KUMO_ELIMIT},
        {"any_of over max", q_any_of_over, KUMO_ELIMIT},
        {"all_of address short", q_all_of_short, KUMO_EINVAL},
        {"all_of unsorted", q_all_of_unsorted, KUMO_EUNSORTED},
        {"all_of repeated", q_all_of_dup, KUMO_EDUPLICATE},
        {"providers alone", q_only_providers, 0},
        {"providers at max", q_providers_max, 0},
        {"providers over max", q_providers_over, KUMO_ELIMIT},
        {"providers unsorted", q_providers_unsorted, KUMO_EUNSORTED},
        {"provider repeated", q_providers_dup, KUMO_EDUPLICATE},
        {"provider address short", q_providers_short, KUMO_EINVAL},
        {"exclusive without providers", q_exclusive_without_providers, KUMO_EINVAL},
    };
    fx_cases_run(*state, req_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- bids under requirements ---------------------------------------------------------------- */

/* prov[0] bids on tenant/1 whose group needs key00=value00 signed by the auditor, which signed. */
static void bid_build(fx_t *fx, fx_msg_t *m)
{
    req_init(&g_req, auditor(fx));
    deploy_req(fx, 1, &g_req);
    fx_sign(fx, auditor(fx), fx->prov[0], 1);
    fx_spec_set(&m->specs[0], "x", "x", 1, 10, 100, 2);
    fx_msg_bid(m, fx->prov[0], fx->tenant, 1, 0, 1, &m->specs[0], 10);
}
static void b_not_signed(fx_t *fx, fx_msg_t *m)
{
    m->signer = fx->prov[1];
}
static void b_revoked(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_revoke(fx, auditor(fx), fx->prov[0], 0);
}
static void b_signed_other_value(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    fx_msg_t *s = fx_msg_new();
    sign_msg(s, auditor(fx), fx->prov[1], 1);
    snprintf(s->attr_val[0], sizeof(s->attr_val[0]), "other");
    fx_ok(fx, s->signer, &s->msg);
    free(s);
    m->signer = fx->prov[1];
}
static void b_lacks_attribute(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    /* The order was opened with the requirements as deployed: a provider that declares
     * tier=gold is needed, and prov[0] does not. */
    fx_msg_t *d = fx_msg_new();
    req_attr_set(&g_req, 1, "tier", "gold");
    g_req.req.n_attributes = 2;
    fx_msg_deploy(d, fx->tenant, 2, 1, 5, 100000);
    d->specs[0].spec.requirements = &g_req.req;
    fx_ok(fx, d->signer, &d->msg);
    free(d);
    fx_oid_set(&m->oid, m->owner, fx->tenant, 2, 0, 1);
}
static void b_any_of_none(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    req_init(&g_req, NULL);
    g_req.req.signed_by = &g_req.sb;
    g_req.sb.any_of = g_req.any_of;
    g_req.any_of[0].data = fx->stranger;
    g_req.any_of[0].len = KUMO_ADDRESS_BYTES;
    g_req.sb.n_any_of = 1;
    deploy_req(fx, 2, &g_req);
    fx_oid_set(&m->oid, m->owner, fx->tenant, 2, 0, 1);
}
static void b_any_of_one(fx_t *fx, fx_msg_t *m)
{
    b_any_of_none(fx, m);
    fx_sign(fx, fx->stranger, fx->prov[0], 1);
}

/* The group lists the providers that may bid: prov[1] alone, or prov[0] among others. */
static void b_listed_other(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    req_init(&g_req, NULL);
    memcpy(g_req.provider_addrs[0], fx->prov[1], KUMO_ADDRESS_BYTES);
    g_req.providers[0].data = g_req.provider_addrs[0];
    g_req.providers[0].len = KUMO_ADDRESS_BYTES;
    g_req.req.providers = g_req.providers;
    g_req.req.n_providers = 1;
    deploy_req(fx, 2, &g_req);
    fx_oid_set(&m->oid, m->owner, fx->tenant, 2, 0, 1);
}
static void b_listed(fx_t *fx, fx_msg_t *m)
{
    (void)m;
    req_init(&g_req, NULL);
    const uint8_t *a = fx->prov[0];
    const uint8_t *b = fx->prov[1];
    if (memcmp(a, b, KUMO_ADDRESS_BYTES) > 0) {
        a = fx->prov[1];
        b = fx->prov[0];
    }
    memcpy(g_req.provider_addrs[0], a, KUMO_ADDRESS_BYTES);
    memcpy(g_req.provider_addrs[1], b, KUMO_ADDRESS_BYTES);
    for (size_t i = 0; i < 2; i++) {
        g_req.providers[i].data = g_req.provider_addrs[i];
        g_req.providers[i].len = KUMO_ADDRESS_BYTES;
    }
    g_req.req.providers = g_req.providers;
    g_req.req.n_providers = 2;
    deploy_req(fx, 2, &g_req);
    fx_oid_set(&m->oid, m->owner, fx->tenant, 2, 0, 1);
}

static void test_bid_rejects_unmet_requirements(void **state)
{
    static const fx_case_t cases[] = {
        {"valid", fx_case_none, 0},
        {"provider not signed by the auditor", b_not_signed, KUMO_ESIGNEDBY},
        {"signature revoked", b_revoked, KUMO_ESIGNEDBY},
        {"auditor signed another value", b_signed_other_value, KUMO_ESIGNEDBY},
        {"provider lacks an attribute", b_lacks_attribute, KUMO_EATTRIBUTE},
        {"no any_of auditor signed", b_any_of_none, KUMO_ESIGNEDBY},
        {"one any_of auditor signed", b_any_of_one, 0},
        {"the group lists another provider", b_listed_other, KUMO_ENOTLISTED},
        {"the group lists this provider", b_listed, 0},
    };
    fx_cases_run(*state, bid_build, cases, KUMO_ARRAY_COUNT(cases));
}

/* ---- revocation after the bid --------------------------------------------------------------- */

static void test_revoked_bid_is_never_matched(void **state)
{
    fx_t *fx = *state;
    req_init(&g_req, auditor(fx));
    deploy_req(fx, 1, &g_req);
    fx_sign(fx, auditor(fx), fx->prov[0], 1);
    fx_sign(fx, auditor(fx), fx->prov[1], 1);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 5); /* cheaper */
    fx_bid(fx, fx->prov[1], fx->tenant, 1, 0, 1, 9);
    fx_revoke(fx, auditor(fx), fx->prov[0], 0);
    fx->height += 5;

    fx_msg_t *m = fx_msg_new();
    fx_msg_lease(m, fx->val, fx->tenant, 1, 0, 1, fx->prov[0]);
    fx_expect(fx, m->signer, &m->msg, KUMO_ESIGNEDBY, "lease for the revoked provider");
    free(m);

    fx_collected_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    fx_collect(fx, FX_COLLECT_MAX, c);
    assert_int_equal(c->count, 1);
    assert_memory_equal(c->msgs[0].provider, fx->prov[1], KUMO_ADDRESS_BYTES);
    fx_fac_apply(fx, &c->msgs[0]);
    free(c);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);

    /* A lease already made stays when its provider's signature goes. */
    fx_revoke(fx, auditor(fx), fx->prov[1], 0);
    fx->height += 1;
    fx_confirm1(fx, fx->prov[1], fx->tenant, 1, 0, 1, false);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 1, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
}

/* Every open bid revoked: the order waits, nothing is matched. */
static void test_order_without_eligible_bid_waits(void **state)
{
    fx_t *fx = *state;
    req_init(&g_req, auditor(fx));
    deploy_req(fx, 1, &g_req);
    fx_sign(fx, auditor(fx), fx->prov[0], 1);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 5);
    fx_revoke(fx, auditor(fx), fx->prov[0], 0);
    fx->height += 5;
    assert_int_equal(fx_facilitate(fx), 0);
    /* Signed again, it is matched. */
    fx_sign(fx, auditor(fx), fx->prov[0], 1);
    assert_int_equal(fx_facilitate(fx), 1);
}

/* A provider may not change its attributes while it has open bids (it could otherwise bid as
 * one thing and be matched as another); without bids it may. */
static void test_attribute_change_with_open_bids_is_busy(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 5, 100000);
    fx_bid(fx, fx->prov[0], fx->tenant, 1, 0, 1, 10);
    fx_msg_t *m = fx_msg_new();
    fx_msg_update_provider(m, fx->prov[0], "us-east");
    snprintf(m->attr_val[0], sizeof(m->attr_val[0]), "changed");
    fx_expect(fx, m->signer, &m->msg, KUMO_EBUSY, "attribute change with a bid");
    fx_msg_update_provider(m, fx->prov[1], "us-east");
    snprintf(m->attr_val[0], sizeof(m->attr_val[0]), "changed");
    fx_ok(fx, m->signer, &m->msg);
    free(m);
}

/* Changing a group's requirements is a new order, like changing its resources. */
static void test_requirements_change_reorders(void **state)
{
    fx_t *fx = *state;
    fx_deploy(fx, fx->tenant, 1, 1, 5, 100000);
    fx_msg_t *m = fx_msg_new();
    fx_msg_update(m, fx->tenant, 1, 1);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 2);
    req_init(&g_req, NULL);
    m->specs[0].spec.requirements = &g_req.req;
    fx_ok(fx, m->signer, &m->msg);
    free(m);
    Kumo__Order *o = fx_order(fx, fx->tenant, 1, 0, 2);
    assert_non_null(o->requirements);
    assert_int_equal(o->requirements->n_attributes, 1);
    kumo_codec_free(&o->base);
}

/* The same rule over copies (a daemon's or a quote's): kumo_market_requirements_match_list. */
static void test_match_list_applies_the_chain_rule(void **state)
{
    fx_t *fx = *state;
    req_init(&g_req, auditor(fx));
    Kumo__Attribute have = KUMO__ATTRIBUTE__INIT;
    have.key = "key00";
    have.value = "value00";
    Kumo__Attribute *have_ptr = &have;
    Kumo__ProviderAudit au = KUMO__PROVIDER_AUDIT__INIT;
    au.auditor.data = (uint8_t *)(uintptr_t)auditor(fx);
    au.auditor.len = KUMO_ADDRESS_BYTES;
    au.attributes = &have_ptr;
    au.n_attributes = 1;
    Kumo__ProviderAudit *au_ptr = &au;
    kumo_err_ctx_t err = {0};
    assert_int_equal(kumo_market_requirements_match_list(NULL, fx->prov[0], NULL, 0, NULL, 0, &err),
                     0);
    assert_int_equal(kumo_market_requirements_match_list(&g_req.req, fx->prov[0], &have_ptr, 1,
                                                         &au_ptr, 1, &err),
                     0);
    assert_int_equal(
        kumo_market_requirements_match_list(&g_req.req, fx->prov[0], NULL, 0, &au_ptr, 1, &err),
        KUMO_EATTRIBUTE);
    assert_int_equal(
        kumo_market_requirements_match_list(&g_req.req, fx->prov[0], &have_ptr, 1, NULL, 0, &err),
        KUMO_ESIGNEDBY);
    au.auditor.data = fx->stranger; /* another auditor's audit does not count */
    assert_int_equal(kumo_market_requirements_match_list(&g_req.req, fx->prov[0], &have_ptr, 1,
                                                         &au_ptr, 1, &err),
                     KUMO_ESIGNEDBY);
    g_req.sb.n_all_of = 0;
    g_req.sb.any_of[0].data = fx->stranger;
    g_req.sb.any_of[0].len = KUMO_ADDRESS_BYTES;
    g_req.sb.n_any_of = 1;
    assert_int_equal(kumo_market_requirements_match_list(&g_req.req, fx->prov[0], &have_ptr, 1,
                                                         &au_ptr, 1, &err),
                     0);
    /* A list of providers names who may bid, before anything else is judged. */
    g_req.providers[0].data = (uint8_t *)(uintptr_t)fx->prov[1];
    g_req.providers[0].len = KUMO_ADDRESS_BYTES;
    g_req.req.providers = g_req.providers;
    g_req.req.n_providers = 1;
    assert_int_equal(kumo_market_requirements_match_list(&g_req.req, fx->prov[0], &have_ptr, 1,
                                                         &au_ptr, 1, &err),
                     KUMO_ENOTLISTED);
    assert_non_null(strstr(err.detail, "not among the 1"));
}

/* Requirements listing only the providers a and b (b may be NULL), sorted, exclusive or not. */
static void req_providers(req_holder_t *h, const uint8_t *a, const uint8_t *b, bool exclusive)
{
    req_init(h, NULL);
    h->req.n_attributes = 0;
    if (b != NULL && memcmp(a, b, KUMO_ADDRESS_BYTES) > 0) {
        const uint8_t *t = a;
        a = b;
        b = t;
    }
    memcpy(h->provider_addrs[0], a, KUMO_ADDRESS_BYTES);
    if (b != NULL) {
        memcpy(h->provider_addrs[1], b, KUMO_ADDRESS_BYTES);
    }
    for (size_t i = 0; i < 2; i++) {
        h->providers[i].data = h->provider_addrs[i];
        h->providers[i].len = KUMO_ADDRESS_BYTES;
    }
    h->req.providers = h->providers;
    h->req.n_providers = b != NULL ? 2 : 1;
    h->req.exclusive = exclusive;
}

/* An update of deployment dseq with g0 under r and g1 as deployed (both in us-east). */
static void exclusive_update(fx_msg_t *m, fx_t *fx, uint64_t dseq, req_holder_t *r)
{
    fx_msg_update(m, fx->tenant, dseq, 2);
    fx_spec_set(&m->specs[0], "g0", "us-east", 1, 10, 100, 2);
    fx_spec_set(&m->specs[1], "g1", "us-east", 1, 10, 100, 2);
    m->specs[0].spec.requirements = &r->req;
}

/* An exclusive group reserves the providers it lists: they may lease no other group of the
 * deployment. Refused at the bid, skipped at the match (a bid placed before an update made a
 * group exclusive), refused in an update that reserves a provider holding another group's
 * lease, and two groups may not list one reserved provider. */
static void test_exclusive_group_reserves_its_providers(void **state)
{
    fx_t *fx = *state;
    static req_holder_t other;
    fx_msg_t *m = fx_msg_new();
    fx_msg_deploy(m, fx->tenant, 3, 2, 5, 100000);
    fx_spec_set(&m->specs[1], "g1", "us-east", 1, 10, 100, 2);
    req_providers(&g_req, fx->prov[1], NULL, true); /* g0: prov[1] only, exclusive */
    m->specs[0].spec.requirements = &g_req.req;
    fx_ok(fx, m->signer, &m->msg);
    fx_msg_t *b = fx_msg_new();
    fx_spec_set(&b->specs[0], "x", "x", 1, 10, 100, 2);
    fx_msg_bid(b, fx->prov[1], fx->tenant, 3, 1, 1, &b->specs[0], 10);
    fx_expect(fx, b->signer, &b->msg, KUMO_EEXCLUSIVE, "a reserved provider bids on g1");
    fx_bid(fx, fx->prov[0], fx->tenant, 3, 1, 1, 10);
    fx_bid(fx, fx->prov[1], fx->tenant, 3, 0, 1, 10);
    fx->height += 5;
    assert_int_equal(fx_facilitate(fx), 2);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 3, 0, 1, fx->prov[1]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 3, 1, 1, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    /* Reserving prov[0], which holds g1's lease, is refused; so is g1 listing prov[1]. */
    fx_msg_t *u = fx_msg_new();
    req_providers(&other, fx->prov[0], fx->prov[1], true);
    exclusive_update(u, fx, 3, &other);
    fx_expect(fx, u->signer, &u->msg, KUMO_EEXCLUSIVE, "reserving a lease holder of g1");
    exclusive_update(u, fx, 3, &g_req);
    static req_holder_t g1_req;
    req_providers(&g1_req, fx->prov[1], NULL, false);
    u->specs[1].spec.requirements = &g1_req.req;
    fx_expect(fx, u->signer, &u->msg, KUMO_EEXCLUSIVE, "g1 lists a provider g0 reserves");

    /* dseq 4: prov[1] bids on g1 first (cheapest), then g0 becomes exclusive to prov[1]; at the
     * match g1 goes to prov[0], the next bid. */
    fx_msg_deploy(m, fx->tenant, 4, 2, 5, 100000);
    fx_spec_set(&m->specs[1], "g1", "us-east", 1, 10, 100, 2);
    fx_ok(fx, m->signer, &m->msg);
    fx_bid(fx, fx->prov[1], fx->tenant, 4, 1, 1, 5);
    fx_bid(fx, fx->prov[0], fx->tenant, 4, 1, 1, 10);
    fx_msg_update(u, fx->tenant, 4, 2);
    fx_spec_set(&u->specs[0], "g0", "us-east", 1, 10, 100, 2);
    u->specs[1] = m->specs[1];
    u->spec_ptrs[1] = &u->specs[1].spec;
    req_providers(&other, fx->prov[1], NULL, true);
    u->specs[0].spec.requirements = &other.req;
    fx_ok(fx, u->signer, &u->msg);
    fx->height += 5;
    (void)fx_facilitate(fx);
    assert_int_equal(fx_lease_state(fx, fx->tenant, 4, 1, 1, fx->prov[0]),
                     KUMO__LEASE_STATE__LEASE_ACTIVE);
    free(u);
    free(b);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_sign_merges_and_revoke_removes, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_sign_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_revoke_rejects_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_requirements_reject_each_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bid_rejects_unmet_requirements, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_bid_is_never_matched, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_order_without_eligible_bid_waits, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_attribute_change_with_open_bids_is_busy, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_requirements_change_reorders, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_group_reserves_its_providers, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_match_list_applies_the_chain_rule, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
