/* SPDX-License-Identifier: BSD-3-Clause */
/* The payout tree and its proofs: see include/faii/settle.h. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/bytes.h"
#include "faii/settle.h"

enum { DOMAIN_LEAF = 0x00, DOMAIN_NODE = 0x01, DOMAIN_ROOT = 0x02 };

void faii_settle_leaf_encode(const struct faii_settle_payout_leaf *leaf,
                             uint8_t out[FAII_SETTLE_LEAF_BYTES])
{
	FAII_ASSERT(leaf->amount <= leaf->cumulative);
	faii_put_le64(out, leaf->epoch);
	faii_put_le32(out + 8, leaf->operator_id);
	faii_put_le32(out + 12, leaf->node_id);
	faii_put_le64(out + 16, leaf->amount);
	faii_put_le64(out + 24, leaf->cumulative);
}

static void hash_domain(uint8_t domain, const uint8_t *a, size_t a_len, const uint8_t *b,
                        size_t b_len, uint8_t out[FAII_SETTLE_HASH_BYTES])
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, NULL, 0, FAII_SETTLE_HASH_BYTES);
	crypto_generichash_update(&state, &domain, 1);
	if (a_len > 0)
		crypto_generichash_update(&state, a, a_len);
	if (b_len > 0)
		crypto_generichash_update(&state, b, b_len);
	crypto_generichash_final(&state, out, FAII_SETTLE_HASH_BYTES);
}

void faii_settle_leaf_hash(const uint8_t leaf[FAII_SETTLE_LEAF_BYTES],
                           uint8_t hash[FAII_SETTLE_HASH_BYTES])
{
	hash_domain(DOMAIN_LEAF, leaf, FAII_SETTLE_LEAF_BYTES, NULL, 0, hash);
}

void faii_settle_merkle_node(const uint8_t left[FAII_SETTLE_HASH_BYTES],
                             const uint8_t right[FAII_SETTLE_HASH_BYTES],
                             uint8_t out[FAII_SETTLE_HASH_BYTES])
{
	hash_domain(DOMAIN_NODE, left, FAII_SETTLE_HASH_BYTES, right, FAII_SETTLE_HASH_BYTES, out);
}

static void hash_node(const uint8_t *left, const uint8_t *right,
                      uint8_t out[FAII_SETTLE_HASH_BYTES])
{
	faii_settle_merkle_node(left, right, out);
}

/* One level up, in place: pairs hashed, an odd last hash promoted. */
static size_t reduce_level(uint8_t (*level)[FAII_SETTLE_HASH_BYTES], size_t count)
{
	FAII_ASSERT(count >= 2);
	for (size_t i = 0; i < count / 2; i++)
		hash_node(level[2 * i], level[2 * i + 1], level[i]);
	if (count % 2 == 1)
		memmove(level[count / 2], level[count - 1], FAII_SETTLE_HASH_BYTES);
	return (count + 1) / 2;
}

/* The root commits to the number of leaves: H(0x02 | count u64 | top). */
void faii_settle_merkle_seal(uint64_t count, const uint8_t *top,
                             uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	uint8_t count_bytes[8];
	faii_put_le64(count_bytes, count);
	hash_domain(DOMAIN_ROOT, count_bytes, sizeof(count_bytes), top,
	            top ? FAII_SETTLE_HASH_BYTES : 0, root);
}

int faii_settle_merkle_root(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                            uint8_t (*scratch)[FAII_SETTLE_HASH_BYTES],
                            uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	if (count > FAII_SETTLE_LEAVES_MAX)
		return -EINVAL;
	if (count == 0) {
		faii_settle_merkle_seal(0, NULL, root);
		return 0;
	}
	if ((const void *)scratch != (const void *)leaf_hashes)
		memcpy(scratch, leaf_hashes, count * FAII_SETTLE_HASH_BYTES);
	size_t level_count = count;
	while (level_count > 1)
		level_count = reduce_level(scratch, level_count);
	faii_settle_merkle_seal(count, scratch[0], root);
	return 0;
}

int faii_settle_merkle_proof(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                             size_t index, uint8_t (*scratch)[FAII_SETTLE_HASH_BYTES],
                             struct faii_settle_proof *proof)
{
	if (count == 0 || count > FAII_SETTLE_LEAVES_MAX || index >= count)
		return -EINVAL;
	memset(proof, 0, sizeof(*proof));
	proof->index = index;
	proof->count = count;
	if ((const void *)scratch != (const void *)leaf_hashes)
		memcpy(scratch, leaf_hashes, count * FAII_SETTLE_HASH_BYTES);
	for (size_t level_count = count, at = index; level_count > 1; at /= 2) {
		size_t sibling = at ^ 1;
		if (sibling < level_count) {
			FAII_ASSERT(proof->depth < FAII_SETTLE_PROOF_DEPTH_MAX);
			memcpy(proof->siblings[proof->depth++], scratch[sibling],
			       FAII_SETTLE_HASH_BYTES);
		}
		level_count = reduce_level(scratch, level_count);
	}
	return 0;
}

size_t faii_settle_merkle_tree_hashes(size_t count)
{
	size_t total = count;
	for (size_t level = count; level > 1; level = (level + 1) / 2)
		total += (level + 1) / 2;
	return total;
}

int faii_settle_merkle_tree(const uint8_t (*leaf_hashes)[FAII_SETTLE_HASH_BYTES], size_t count,
                            uint8_t (*levels)[FAII_SETTLE_HASH_BYTES],
                            uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	if (count == 0 || count > FAII_SETTLE_LEAVES_MAX)
		return count == 0 ? faii_settle_merkle_root(leaf_hashes, 0, levels, root) : -EINVAL;
	memcpy(levels, leaf_hashes, count * FAII_SETTLE_HASH_BYTES);
	size_t at = 0;
	for (size_t level = count; level > 1; level = (level + 1) / 2) {
		uint8_t(*below)[FAII_SETTLE_HASH_BYTES] = levels + at;
		uint8_t(*above)[FAII_SETTLE_HASH_BYTES] = levels + at + level;
		for (size_t i = 0; i < level / 2; i++)
			hash_node(below[2 * i], below[2 * i + 1], above[i]);
		if (level % 2 == 1)
			memcpy(above[level / 2], below[level - 1], FAII_SETTLE_HASH_BYTES);
		at += level;
	}
	FAII_ASSERT(at + 1 == faii_settle_merkle_tree_hashes(count));
	faii_settle_merkle_seal(count, levels[at], root);
	return 0;
}

int faii_settle_merkle_tree_proof(const uint8_t (*levels)[FAII_SETTLE_HASH_BYTES], size_t count,
                                  size_t index, struct faii_settle_proof *proof)
{
	if (count == 0 || count > FAII_SETTLE_LEAVES_MAX || index >= count)
		return -EINVAL;
	memset(proof, 0, sizeof(*proof));
	proof->index = index;
	proof->count = count;
	size_t at = 0;
	for (size_t level = count, position = index; level > 1;
	     at += level, level = (level + 1) / 2, position /= 2) {
		size_t sibling = position ^ 1;
		if (sibling >= level)
			continue;
		FAII_ASSERT(proof->depth < FAII_SETTLE_PROOF_DEPTH_MAX);
		memcpy(proof->siblings[proof->depth++], levels[at + sibling],
		       FAII_SETTLE_HASH_BYTES);
	}
	return 0;
}

int faii_settle_merkle_verify_hash(const uint8_t leaf_hash[FAII_SETTLE_HASH_BYTES],
                                   const struct faii_settle_proof *proof,
                                   const uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	if (proof->count == 0 || proof->count > FAII_SETTLE_LEAVES_MAX ||
	    proof->index >= proof->count || proof->depth > FAII_SETTLE_PROOF_DEPTH_MAX)
		return -EINVAL;
	uint8_t current[FAII_SETTLE_HASH_BYTES];
	memcpy(current, leaf_hash, sizeof(current));
	uint32_t used = 0;
	for (uint64_t count = proof->count, at = proof->index; count > 1;
	     at /= 2, count = (count + 1) / 2) {
		if ((at ^ 1) >= count)
			continue; /* promoted: no sibling at this level */
		if (used == proof->depth)
			return -EINVAL;
		const uint8_t *sibling = proof->siblings[used++];
		if (at % 2 == 0)
			hash_node(current, sibling, current);
		else
			hash_node(sibling, current, current);
	}
	uint8_t expected[FAII_SETTLE_HASH_BYTES];
	faii_settle_merkle_seal(proof->count, current, expected);
	if (used != proof->depth || sodium_memcmp(expected, root, FAII_SETTLE_HASH_BYTES) != 0)
		return -EINVAL;
	return 0;
}

int faii_settle_merkle_verify(const uint8_t leaf[FAII_SETTLE_LEAF_BYTES],
                              const struct faii_settle_proof *proof,
                              const uint8_t root[FAII_SETTLE_HASH_BYTES])
{
	uint8_t hash[FAII_SETTLE_HASH_BYTES];
	faii_settle_leaf_hash(leaf, hash);
	return faii_settle_merkle_verify_hash(hash, proof, root);
}
