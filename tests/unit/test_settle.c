/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement's foundations (ledger/settle/): integer rates rounded down with
 * their remainders, proportional splits that conserve the total, and the
 * payout tree, against roots computed independently (Python's hashlib
 * BLAKE2b, the script in docs/settlement.md) and against forged proofs.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "faii/settle.h"

#define TEST_LEAVES_MAX 64u

static void test_leaf(uint32_t i, uint8_t out[FAII_SETTLE_LEAF_BYTES])
{
	struct faii_settle_payout_leaf leaf = {
	        .epoch = 7,
	        .operator_id = i % 3 + 1,
	        .node_id = 100 + i,
	        .amount = 1000ull * i,
	        .cumulative = 5000 + 1000ull * i,
	};
	faii_settle_leaf_encode(&leaf, out);
}

static void test_hashes(uint32_t count, uint8_t (*hashes)[FAII_SETTLE_HASH_BYTES])
{
	for (uint32_t i = 0; i < count; i++) {
		uint8_t leaf[FAII_SETTLE_LEAF_BYTES];
		test_leaf(i, leaf);
		faii_settle_leaf_hash(leaf, hashes[i]);
	}
}

static void test_root_hex(uint32_t count, char hex[2 * FAII_SETTLE_HASH_BYTES + 1])
{
	uint8_t hashes[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	uint8_t scratch[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	uint8_t root[FAII_SETTLE_HASH_BYTES];
	test_hashes(count, hashes);
	cr_assert_eq(faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes,
	                                     count, scratch, root),
	             0);
	sodium_bin2hex(hex, 2 * FAII_SETTLE_HASH_BYTES + 1, root, sizeof(root));
}

Test(settle, roots_match_an_independent_implementation)
{
	static const struct {
		uint32_t count;
		const char *root;
	} vectors[] = {
	        {0, "5c3cd7b696e23b2d800734e78972f333448955cdd73bedd7061bb3e8c6e4edd0"},
	        {1, "3642f6b811fc430a29b0aa4a46994a2dfee456ad6faf7456226792b0eee0ad03"},
	        {2, "af1a7382bc4d83158b2cec2c2cdb9e0545ff32e7e76e662cf98cdb015a367b34"},
	        {3, "a5c1e022a949863b498de75e092e68ab041bf4c27adcc79cc03030902a985d3d"},
	        {5, "0fef18f7ea7664aad717bc4120106e4138bfcfedc69afeaf0f8bc1a4548efda6"},
	        {8, "662fbbfd4fa841321be70d81a8306136eab235ab85e7ea9bd914d80cb30bc138"},
	        {13, "24d96a6f7fa4c94999aabfda514033f4908bdc75f43ac94fed5b9acad4684e26"},
	};
	cr_assert_eq(sodium_init() >= 0, true);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char hex[2 * FAII_SETTLE_HASH_BYTES + 1];
		test_root_hex(vectors[i].count, hex);
		cr_assert_str_eq(hex, vectors[i].root, "%u leaves", vectors[i].count);
	}
}

Test(settle, duplicating_the_odd_leaf_changes_the_root)
{
	/* Bitcoin's tree duplicates an odd last hash, so [a, b, c] and
	 * [a, b, c, c] share a root; promoting it does not. */
	uint8_t hashes[4][FAII_SETTLE_HASH_BYTES], scratch[4][FAII_SETTLE_HASH_BYTES];
	uint8_t three[FAII_SETTLE_HASH_BYTES], four[FAII_SETTLE_HASH_BYTES];
	test_hashes(3, hashes);
	memcpy(hashes[3], hashes[2], FAII_SETTLE_HASH_BYTES);
	faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, 3, scratch,
	                        three);
	faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, 4, scratch, four);
	cr_assert_neq(memcmp(three, four, sizeof(three)), 0);
}

Test(settle, every_proof_verifies_and_no_forgery_does)
{
	uint8_t hashes[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	uint8_t scratch[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	for (uint32_t count = 1; count <= 40; count++) {
		uint8_t root[FAII_SETTLE_HASH_BYTES];
		test_hashes(count, hashes);
		faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, count,
		                        scratch, root);
		for (uint32_t index = 0; index < count; index++) {
			struct faii_settle_proof proof;
			uint8_t leaf[FAII_SETTLE_LEAF_BYTES];
			test_leaf(index, leaf);
			cr_assert_eq(faii_settle_merkle_proof(
			                     (const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes,
			                     count, index, scratch, &proof),
			             0);
			cr_assert_eq(faii_settle_merkle_verify(leaf, &proof, root), 0, "%u of %u",
			             index, count);
			struct faii_settle_proof forged = proof;
			leaf[16] ^= 1; /* another amount */
			cr_assert_eq(faii_settle_merkle_verify(leaf, &forged, root), -EINVAL);
			leaf[16] ^= 1;
			if (proof.depth > 0) {
				forged.siblings[proof.depth - 1][0] ^= 1;
				cr_assert_eq(faii_settle_merkle_verify(leaf, &forged, root),
				             -EINVAL);
				forged = proof;
				forged.depth--;
				cr_assert_eq(faii_settle_merkle_verify(leaf, &forged, root),
				             -EINVAL);
			}
			forged = proof;
			forged.index = (index + 1) % count;
			if (count > 1)
				cr_assert_eq(faii_settle_merkle_verify(leaf, &forged, root),
				             -EINVAL);
			forged = proof;
			forged.count = count + 1;
			cr_assert_eq(faii_settle_merkle_verify(leaf, &forged, root), -EINVAL,
			             "a proof for %u leaves passed as one for %u", count,
			             count + 1);
		}
	}
}

Test(settle, rates_round_down_and_return_the_remainder)
{
	uint64_t result = 0, remainder = 0;
	/* 1001 units at 1/3 (333 333 333 ppb): 333.666... -> 333. */
	cr_assert_eq(faii_settle_mul_ppb(1001, 333333333, &result, &remainder), 0);
	cr_assert_eq(result, 333);
	cr_assert_eq(remainder, 1001ull * 333333333 - 333ull * FAII_SETTLE_PPB_ONE);
	cr_assert_eq(faii_settle_mul_ppb(UINT64_MAX, FAII_SETTLE_PPB_ONE, &result, NULL), 0);
	cr_assert_eq(result, UINT64_MAX);
	cr_assert_eq(faii_settle_mul_ppb(UINT64_MAX, 2 * FAII_SETTLE_PPB_ONE, &result, NULL),
	             -EOVERFLOW);
	cr_assert_eq(faii_settle_clamp(5, 10, 20), 10);
	cr_assert_eq(faii_settle_clamp(25, 10, 20), 20);
	cr_assert_eq(faii_settle_clamp(15, 10, 20), 15);
}

Test(settle, splits_conserve_the_total)
{
	uint64_t state = 42;
	for (int trial = 0; trial < 2000; trial++) {
		uint64_t weights[16], shares[16], remainder = 0;
		size_t count = 1 + (size_t)(trial % 16);
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t total = state >> 11;
		for (size_t i = 0; i < count; i++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			weights[i] = (state >> 20) % 1000000 + (i == 0);
		}
		cr_assert_eq(faii_settle_split(total, weights, count, shares, &remainder), 0);
		uint64_t sum = remainder;
		for (size_t i = 0; i < count; i++)
			sum += shares[i];
		cr_assert_eq(sum, total, "trial %d", trial);
		cr_assert_lt(remainder, count);
	}
	uint64_t zero = 0, share = 0, remainder = 0;
	cr_assert_eq(faii_settle_split(10, &zero, 1, &share, &remainder), -EINVAL);
}
