/* SPDX-License-Identifier: BSD-3-Clause */
/* Routing receipts as Merkle leaves: see include/faii/settle_receipt.h. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/protocol.h"
#include "faii/settle_receipt.h"

/* The tree's own domains (settle.h): the receipt leaf has one of its own. */
enum { DOMAIN_RECEIPT = 0x10 }; /* the payout tree's inner and root domains are merkle.c's */

_Static_assert(FAII_SETTLE_RECEIPT_NODES == FAII_REPLICAS_MAX, "a node per copy");
_Static_assert(FAII_SETTLE_RECEIPT_TIERS == FAII_TIER_COUNT, "the protocol's tiers");
_Static_assert(FAII_SETTLE_RECEIPT_HASH == FAII_HASH_SIZE, "the protocol's result hash");

enum {
	OFF_TASK = 0,
	OFF_CLIENT = 8,
	OFF_FINISHED = 16,
	OFF_LATENCY = 24,
	OFF_TIER = 28,
	OFF_VERDICT = 29,
	OFF_REPLICAS = 30,
	OFF_ANSWERED = 31,
	OFF_OK = 32,
	OFF_AGREED = 33,
	OFF_IN_SLO = 34,
	OFF_STATUS = 35,
	OFF_NODES = 36,
	OFF_HASH = 64,
	OFF_COPY_LATENCY = 96,
	OFF_RESERVED = 124,
};
_Static_assert(OFF_RESERVED + 4 == FAII_SETTLE_RECEIPT_BYTES, "the leaf is 128 bytes");

const char *faii_settle_receipt_refusal_name(enum faii_settle_receipt_refusal reason)
{
	static const char *const names[] = {
#define FAII_SETTLE_RECEIPT_REFUSAL_NAME(sym, name) name,
	        FAII_SETTLE_RECEIPT_REFUSALS(FAII_SETTLE_RECEIPT_REFUSAL_NAME)
#undef FAII_SETTLE_RECEIPT_REFUSAL_NAME
	};
	return (unsigned)reason < FAII_SETTLE_RECEIPT_REFUSAL_COUNT ? names[reason] : "unknown";
}

static bool is_zero(const uint8_t *bytes, size_t len)
{
	uint8_t any = 0;
	for (size_t i = 0; i < len; i++)
		any |= bytes[i];
	return any == 0;
}

/* The verdict against the vote masks it summarises. */
static bool verdict_consistent(const struct faii_settle_receipt *r)
{
	switch (r->verdict) {
	case FAII_SETTLE_VERDICT_SINGLE: return r->replicas == 1 && r->agreed == r->ok;
	case FAII_SETTLE_VERDICT_AGREED:
		return r->replicas > 1 && r->agreed != 0 && r->agreed == r->ok;
	case FAII_SETTLE_VERDICT_DISAGREED:
		return r->replicas > 1 && (r->agreed == 0 || r->agreed != r->ok);
	case FAII_SETTLE_VERDICT_EXPIRED: return r->agreed == 0;
	default: return false;
	}
}

enum faii_settle_receipt_refusal faii_settle_receipt_check(const struct faii_settle_receipt *r)
{
	if (r->tier < 1 || r->tier > FAII_SETTLE_RECEIPT_TIERS)
		return FAII_SETTLE_RECEIPT_REFUSED_TIER;
	if (r->replicas != 1 && r->replicas != 3 && r->replicas != FAII_SETTLE_RECEIPT_NODES)
		return FAII_SETTLE_RECEIPT_REFUSED_REPLICAS;
	const uint8_t full = (uint8_t)((1u << r->replicas) - 1);
	if ((r->answered & ~full) != 0 || (r->ok & ~r->answered) != 0 ||
	    (r->agreed & ~r->ok) != 0 || (r->in_slo & ~r->ok) != 0)
		return FAII_SETTLE_RECEIPT_REFUSED_MASKS;
	if (!verdict_consistent(r) || r->status > FAII_RESULT_STATUS_MAX)
		return FAII_SETTLE_RECEIPT_REFUSED_VERDICT;
	for (unsigned j = 0; j < FAII_SETTLE_RECEIPT_NODES; j++) {
		bool copy = j < r->replicas;
		if (copy != (r->node_id[j] != 0) || r->node_id[j] > FAII_NODE_ID_MAX)
			return FAII_SETTLE_RECEIPT_REFUSED_NODES;
		if (!((r->answered >> j) & 1) && r->copy_latency_us[j] != 0)
			return FAII_SETTLE_RECEIPT_REFUSED_LATENCY;
	}
	if (r->agreed == 0 && !is_zero(r->result_hash, sizeof(r->result_hash)))
		return FAII_SETTLE_RECEIPT_REFUSED_HASH; /* nobody's majority: zero */
	return FAII_SETTLE_RECEIPT_REFUSED_NONE;
}

void faii_settle_receipt_encode(const struct faii_settle_receipt *r,
                                uint8_t out[FAII_SETTLE_RECEIPT_BYTES])
{
	FAII_ASSERT(faii_settle_receipt_check(r) == FAII_SETTLE_RECEIPT_REFUSED_NONE);
	faii_put_le64(out + OFF_TASK, r->task_id);
	faii_put_le64(out + OFF_CLIENT, r->client_id);
	faii_put_le64(out + OFF_FINISHED, r->finished_ms);
	faii_put_le32(out + OFF_LATENCY, r->latency_us);
	out[OFF_TIER] = r->tier;
	out[OFF_VERDICT] = r->verdict;
	out[OFF_REPLICAS] = r->replicas;
	out[OFF_ANSWERED] = r->answered;
	out[OFF_OK] = r->ok;
	out[OFF_AGREED] = r->agreed;
	out[OFF_IN_SLO] = r->in_slo;
	out[OFF_STATUS] = r->status;
	for (unsigned j = 0; j < FAII_SETTLE_RECEIPT_NODES; j++) {
		faii_put_le32(out + OFF_NODES + 4 * j, r->node_id[j]);
		faii_put_le32(out + OFF_COPY_LATENCY + 4 * j, r->copy_latency_us[j]);
	}
	memcpy(out + OFF_HASH, r->result_hash, FAII_SETTLE_RECEIPT_HASH);
	faii_put_le32(out + OFF_RESERVED, 0);
}

int faii_settle_receipt_decode(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                               struct faii_settle_receipt *r,
                               enum faii_settle_receipt_refusal *reason)
{
	memset(r, 0, sizeof(*r));
	r->task_id = faii_get_le64(leaf + OFF_TASK);
	r->client_id = faii_get_le64(leaf + OFF_CLIENT);
	r->finished_ms = faii_get_le64(leaf + OFF_FINISHED);
	r->latency_us = faii_get_le32(leaf + OFF_LATENCY);
	r->tier = leaf[OFF_TIER];
	r->verdict = leaf[OFF_VERDICT];
	r->replicas = leaf[OFF_REPLICAS];
	r->answered = leaf[OFF_ANSWERED];
	r->ok = leaf[OFF_OK];
	r->agreed = leaf[OFF_AGREED];
	r->in_slo = leaf[OFF_IN_SLO];
	r->status = leaf[OFF_STATUS];
	for (unsigned j = 0; j < FAII_SETTLE_RECEIPT_NODES; j++) {
		r->node_id[j] = faii_get_le32(leaf + OFF_NODES + 4 * j);
		r->copy_latency_us[j] = faii_get_le32(leaf + OFF_COPY_LATENCY + 4 * j);
	}
	memcpy(r->result_hash, leaf + OFF_HASH, FAII_SETTLE_RECEIPT_HASH);
	*reason = faii_get_le32(leaf + OFF_RESERVED) != 0 ? FAII_SETTLE_RECEIPT_REFUSED_RESERVED
	                                                  : faii_settle_receipt_check(r);
	return *reason == FAII_SETTLE_RECEIPT_REFUSED_NONE ? 0 : -EINVAL;
}

void faii_settle_receipt_hash(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                              uint8_t hash[FAII_SETTLE_HASH_BYTES])
{
	crypto_generichash_state state;
	const uint8_t domain = DOMAIN_RECEIPT;
	crypto_generichash_init(&state, NULL, 0, FAII_SETTLE_HASH_BYTES);
	crypto_generichash_update(&state, &domain, 1);
	crypto_generichash_update(&state, leaf, FAII_SETTLE_RECEIPT_BYTES);
	crypto_generichash_final(&state, hash, FAII_SETTLE_HASH_BYTES);
}

void faii_settle_receipt_acc_init(struct faii_settle_receipt_acc *acc)
{
	memset(acc, 0, sizeof(*acc));
}

int faii_settle_receipt_acc_add(struct faii_settle_receipt_acc *acc,
                                const uint8_t leaf_hash[FAII_SETTLE_HASH_BYTES])
{
	if (acc->count >= FAII_SETTLE_LEAVES_MAX)
		return -ENOSPC;
	uint8_t carry[FAII_SETTLE_HASH_BYTES];
	memcpy(carry, leaf_hash, sizeof(carry));
	unsigned level = 0;
	/* Binary addition: each full level pairs with the carry. */
	while ((acc->count >> level) & 1) {
		FAII_ASSERT(level < FAII_SETTLE_PROOF_DEPTH_MAX);
		faii_settle_merkle_node(acc->stack[level], carry, carry);
		level++;
	}
	memcpy(acc->stack[level], carry, sizeof(carry));
	acc->count++;
	return 0;
}

void faii_settle_receipt_acc_root(const struct faii_settle_receipt_acc *acc,
                                  uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	if (acc->count == 0) {
		faii_settle_merkle_seal(0, NULL, root);
		return;
	}
	uint8_t top[FAII_SETTLE_HASH_BYTES];
	bool have = false;
	for (unsigned level = 0; level <= FAII_SETTLE_PROOF_DEPTH_MAX; level++) {
		if (!((acc->count >> level) & 1))
			continue;
		if (have)
			faii_settle_merkle_node(acc->stack[level], top,
			                        top); /* the bigger subtree is on the left */
		else
			memcpy(top, acc->stack[level], sizeof(top));
		have = true;
	}
	faii_settle_merkle_seal(acc->count, top, root);
}

/* A receipt leaf with its proof: the payout tree's walk from its own hash. */
int faii_settle_receipt_verify(const uint8_t leaf[FAII_SETTLE_RECEIPT_BYTES],
                               const struct faii_settle_proof *proof,
                               const uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	struct faii_settle_receipt decoded;
	enum faii_settle_receipt_refusal reason;
	if (faii_settle_receipt_decode(leaf, &decoded, &reason) != 0 || proof->count == 0 ||
	    proof->count > FAII_SETTLE_LEAVES_MAX || proof->index >= proof->count ||
	    proof->depth > FAII_SETTLE_PROOF_DEPTH_MAX)
		return -EINVAL;
	uint8_t hash[FAII_SETTLE_HASH_BYTES];
	faii_settle_receipt_hash(leaf, hash);
	return faii_settle_merkle_verify_hash(hash, proof, root);
}
