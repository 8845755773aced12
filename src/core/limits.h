/*
 * limits.h - every input limit, with why it has its value. Each is tested at MAX (accepted)
 * and MAX+1 (rejected). Relations between limits are _Static_asserts.
 */
#ifndef KUMO_CORE_LIMITS_H
#define KUMO_CORE_LIMITS_H

/* A tx carries at most a provider certificate plus a batch of confirmations; 64 KiB keeps a
 * block of 10k typical txs within KUMO_BLOCK_BYTES_MAX. Params may lower it (max_tx_bytes). */
#define KUMO_TX_BYTES_MAX (64u * 1024u)
/* Hard ceiling for a block's tx bytes; params may lower it (max_block_bytes). */
#define KUMO_BLOCK_BYTES_MAX (32u * 1024u * 1024u)
/* Txs per block: bounds per-block result and event arrays. */
#define KUMO_BLOCK_TX_COUNT_MAX 50000u
/* Msgs per tx: a facilitator batches matches; 1024 keeps a tx's work bounded. */
#define KUMO_TX_MSG_COUNT_MAX 1024u
/* Lease confirmations per msg: a provider confirms all its leases in a few txs. */
#define KUMO_CONFIRM_COUNT_MAX 1024u
/* Infrastructure groups per deployment (one datacenter each). */
#define KUMO_GROUP_COUNT_MAX 32u
/* Groups one deployment may ever hold, closed ones included (an UpdateDeployment that adds a
 * group gives it the next gseq; a gseq is used once): what a provider reads of a deployment,
 * by gseq, to check a manifest. */
#define KUMO_DEPLOYMENT_GROUP_LIFE_MAX 256u
/* Resource groups per infrastructure group. */
#define KUMO_RESOURCE_COUNT_MAX 16u
/* Compute units in one resource group. */
#define KUMO_RESOURCE_UNIT_COUNT_MAX 10000u
/* Names of groups and regions: short identifiers. */
#define KUMO_NAME_BYTES_MAX   64u
#define KUMO_REGION_BYTES_MAX 64u
/* Provider host URI. */
#define KUMO_URI_BYTES_MAX 256u
/* Provider attributes (key/value pairs). */
#define KUMO_ATTRIBUTE_COUNT_MAX       16u
#define KUMO_ATTRIBUTE_KEY_BYTES_MAX   64u
#define KUMO_ATTRIBUTE_VALUE_BYTES_MAX 128u
/* GPUs of one compute unit: the most one server holds (8 per board is the usual maximum). */
#define KUMO_GPU_COUNT_MAX 8u
/* A GPU vendor ("nvidia") and model ("a100", "rtx-4090") name. */
#define KUMO_GPU_VENDOR_BYTES_MAX 32u
#define KUMO_GPU_MODEL_BYTES_MAX  64u
/* Auditors one group may name in signed_by (all_of and any_of each): a handful of audit firms. */
#define KUMO_SIGNED_BY_COUNT_MAX 8u
/* Providers one group may list as the only ones that may bid on it. */
#define KUMO_PLACEMENT_PROVIDER_COUNT_MAX 32u
/* A PEM root certificate: an Ed25519 or P-256 CA fits in 2 KiB; 8 KiB leaves room for RSA. */
#define KUMO_CERT_PEM_BYTES_MAX (8u * 1024u)
/* The detail of a lease refusal (MsgRefuseLease): one line of a runtime's error, shown to the
 * tenant in the lease.refused event. */
#define KUMO_REFUSE_DETAIL_BYTES_MAX 256u
/* The detail of a provider's close of its lease (MsgCloseLease): one line for the tenant
 * ("hardware retired"), shown in the lease.closed event; as long as a refusal's. */
#define KUMO_CLOSE_DETAIL_BYTES_MAX KUMO_REFUSE_DETAIL_BYTES_MAX
/* Msg types one grant may allow: the four deployment msgs a tenant sends. */
#define KUMO_GRANT_MSG_TYPE_COUNT_MAX 4u
/* Regions one grant may allow: a handful of datacenters a tenant accepts. */
#define KUMO_GRANT_REGION_COUNT_MAX 16u
/* Msgs one MsgExec carries: a management workload's batch (a deposit per deployment), well
 * below what a tx may hold. */
#define KUMO_EXEC_MSG_COUNT_MAX 64u
/* Tx memo. */
#define KUMO_MEMO_BYTES_MAX 256u
/* Chain id. */
#define KUMO_CHAIN_ID_BYTES_MAX 64u
/* Genesis file: balances for many accounts, but bounded. */
#define KUMO_GENESIS_BYTES_MAX (16u * 1024u * 1024u)
/* Total supply (ukumo): what minting (collateral interest) may reach, and what a genesis may
 * hold. A genesis at most half the ceiling leaves at least as much again for minting, and no
 * balance or sum of amounts can overflow u64 below the ceiling. */
#define KUMO_SUPPLY_MAX         (UINT64_MAX / 2u)
#define KUMO_GENESIS_SUPPLY_MAX (KUMO_SUPPLY_MAX / 2u)
/* Entries in genesis lists. */
#define KUMO_GENESIS_ACCOUNT_COUNT_MAX   100000u
#define KUMO_GENESIS_VALIDATOR_COUNT_MAX 256u
/* Validators a block's last-commit signer list names: one validator set, which genesis
 * bounds (and consensus bounds lower). */
#define KUMO_BLOCK_SIGNER_COUNT_MAX KUMO_GENESIS_VALIDATOR_COUNT_MAX
/* Duplicate-vote evidence items one block carries: a few equivocators per block is already an
 * attack; the rest wait for the next blocks. */
#define KUMO_BLOCK_EVIDENCE_COUNT_MAX 32u
/* JSON nesting: input never drives unbounded recursion. */
#define KUMO_JSON_DEPTH_MAX 32u
/* A state object's stored bytes (a deployment with all groups is the largest). */
#define KUMO_STATE_OBJECT_BYTES_MAX (256u * 1024u)
/* A store key: prefix + owner + dseq + gseq + oseq + provider + slack. */
#define KUMO_KEY_BYTES_MAX 128u
/* Query page size. */
#define KUMO_QUERY_PAGE_COUNT_MAX 1000u
/* Address bytes (first 20 bytes of SHA-256(pubkey)). */
#define KUMO_ADDRESS_BYTES 20u
/* Deployment version: a Merkle root. */
#define KUMO_VERSION_BYTES 32u

_Static_assert(KUMO_TX_BYTES_MAX <= KUMO_BLOCK_BYTES_MAX, "a max-size tx fits in a block");
_Static_assert(KUMO_CERT_PEM_BYTES_MAX < KUMO_TX_BYTES_MAX, "a provider cert fits in a tx");
_Static_assert(KUMO_STATE_OBJECT_BYTES_MAX >= KUMO_TX_BYTES_MAX,
               "any object a tx can create fits the state object bound");

#endif
