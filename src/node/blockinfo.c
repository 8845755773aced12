/*
 * blockinfo.c - what consensus says about a block, in the chain's terms (docs/design.md, "The
 * block API"): the proposer's consensus key (the header names its address; the validator set
 * of the block's height maps it), the validators of height - 1's set with their power and
 * whether each signed the block's last commit, and the block's duplicate-vote evidence
 * decoded (validator key, height, round). Block execution hands these to the chain; the block
 * JSON shows them. Both derive them here, the same way.
 */
#include <inttypes.h>
#include <string.h>

#include "node/node_int.h"

int kumo_node_valset_get(const kumo_node_t *node,
                         const kumo_kv_t *kv,
                         uint64_t height,
                         kumo_consensus_valset_t *out,
                         kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && kv != NULL && out != NULL);
    KUMO_ENSURE(height > 0, err, KUMO_EINVAL, "no validator set at height 0");
    int rc = kumo_chain_valset_get(kv, height, out, err);
    if (rc == KUMO_ENOTFOUND) {
        memset(out, 0, sizeof(*out)); /* a genesis without validators */
        return 0;
    }
    KUMO_ASSERT(rc < 0 || out->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    return rc;
}

/* The proposer's key: the header's address in the set of the block's height (none when the
 * address is not in it, e.g. a timer block of a node whose key is not genesis's). */
static void
info_proposer(const kumo_consensus_valset_t *vs, kumo_bytes_t addr, kumo_node_block_info_t *out)
{
    out->has_proposer = false;
    if (addr.len != KUMO_ADDRESS_BYTES) {
        return;
    }
    for (uint32_t i = 0; i < vs->count; i++) {
        if (memcmp(vs->v[i].address, addr.ptr, KUMO_ADDRESS_BYTES) == 0) {
            memcpy(out->proposer, vs->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
            out->has_proposer = true;
            return;
        }
    }
}

/* Every validator of vs (height - 1's set) and whether the commit holds its precommit. */
static int info_signers(const kumo_consensus_valset_t *vs,
                        const Kumo__Commit *commit,
                        uint64_t height,
                        kumo_node_block_info_t *out,
                        kumo_err_ctx_t *err)
{
    _Static_assert(KUMO_CONSENSUS_VALIDATOR_COUNT_MAX <= KUMO_BLOCK_SIGNER_COUNT_MAX,
                   "a validator set fits the block's signer list");
    KUMO_ASSERT(vs->count <= KUMO_CONSENSUS_VALIDATOR_COUNT_MAX);
    KUMO_ENSURE(commit->height + 1u == height, err, KUMO_EINVAL,
                "last commit of height %" PRIu64 " in a block at %" PRIu64, commit->height, height);
    for (uint32_t i = 0; i < vs->count; i++) {
        memcpy(out->signers[i].pubkey, vs->v[i].pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        out->signers[i].power = vs->v[i].power;
        out->signers[i].signed_block = false;
    }
    for (size_t i = 0; i < commit->n_sigs; i++) {
        uint32_t index = commit->sigs[i]->validator_index;
        KUMO_ENSURE(index < vs->count, err, KUMO_EINVAL,
                    "last commit names validator %" PRIu32 " of %" PRIu32, index, vs->count);
        out->signers[index].signed_block = true;
    }
    out->signer_count = vs->count;
    return 0;
}

static int info_evidence(const kumo_bytes_t *items,
                         size_t count,
                         kumo_node_block_info_t *out,
                         kumo_err_ctx_t *err)
{
    KUMO_ENSURE(count <= KUMO_BLOCK_EVIDENCE_COUNT_MAX, err, KUMO_ELIMIT,
                "block with %zu evidence items", count);
    for (size_t i = 0; i < count; i++) {
        kumo_consensus_evidence_t ev;
        KUMO_GUARD(kumo_consensus_evidence_decode(items[i], &ev, err));
        memcpy(out->evidence[i].pubkey, ev.vote_a.pubkey, KUMO_CRYPTO_PUBKEY_BYTES);
        out->evidence[i].height = ev.vote_a.height;
        out->evidence[i].round = ev.vote_a.round;
    }
    out->evidence_count = count;
    return 0;
}

int kumo_node_block_info_derive(const kumo_node_t *node,
                                const kumo_kv_t *kv,
                                const kumo_node_block_facts_t *facts,
                                kumo_node_block_info_t *out,
                                kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && facts != NULL && out != NULL);
    KUMO_ASSERT(facts->height > 0);
    memset(out, 0, sizeof(*out));
    kumo_consensus_valset_t vs;
    KUMO_GUARD(kumo_node_valset_get(node, kv, facts->height, &vs, err));
    info_proposer(&vs, facts->proposer_addr, out);
    if (facts->last_commit != NULL) {
        KUMO_ENSURE(facts->height > 1u, err, KUMO_EINVAL, "last commit at height 1");
        KUMO_GUARD(kumo_node_valset_get(node, kv, facts->height - 1u, &vs, err));
        KUMO_GUARD(info_signers(&vs, facts->last_commit, facts->height, out, err));
    }
    return info_evidence(facts->evidence, facts->evidence_count, out, err);
}

int kumo_node_block_info_get(const kumo_node_t *node,
                             const kumo_kv_t *state_kv,
                             const Kumo__Block *blk,
                             kumo_node_block_info_t *out,
                             kumo_err_ctx_t *err)
{
    KUMO_ASSERT(node != NULL && state_kv != NULL && blk != NULL && out != NULL);
    KUMO_ENSURE(blk->header != NULL && blk->header->height > 0, err, KUMO_EDECODE,
                "block without a header");
    KUMO_ENSURE(blk->n_evidence <= KUMO_BLOCK_EVIDENCE_COUNT_MAX, err, KUMO_ELIMIT,
                "block with %zu evidence items", blk->n_evidence);
    kumo_bytes_t items[KUMO_BLOCK_EVIDENCE_COUNT_MAX];
    for (size_t i = 0; i < blk->n_evidence; i++) {
        items[i] = kumo_bytes_make(blk->evidence[i].data, blk->evidence[i].len);
    }
    const kumo_node_block_facts_t facts = {
        .height = blk->header->height,
        .proposer_addr = kumo_bytes_make(blk->header->proposer.data, blk->header->proposer.len),
        .last_commit = blk->last_commit,
        .evidence = items,
        .evidence_count = blk->n_evidence,
    };
    return kumo_node_block_info_derive(node, state_kv, &facts, out, err);
}
