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
#include "settle_test_params.h"

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

/* ---- one epoch's payouts, (27)-(33) ---- */

/* A (micro), B and C (XL); the values below are worked by hand in
 * docs/settlement.md ("A worked epoch"). */
static void test_nodes(struct faii_settle_node_input nodes[3])
{
	memset(nodes, 0, 3 * sizeof(nodes[0]));
	nodes[0] = (struct faii_settle_node_input){
	        .node_id = 1,
	        .operator_id = 1,
	        .node_class = 0,
	        .availability_ppb = P(0.99),
	        .capacity_units = 1,
	        .work = {100, 0, 0, 0},
	        .slo_success_ppb = {P(0.95), P(0.95), P(0.95), P(0.95)},
	        .renewable_ppb = P(0.8),
	        .energy_wh = 50,
	        .opex_units = 10};
	nodes[1] =
	        (struct faii_settle_node_input){.node_id = 2,
	                                        .operator_id = 2,
	                                        .node_class = 4,
	                                        .availability_ppb = P(1.0),
	                                        .capacity_units = 20,
	                                        .work = {0, 500, 300, 0},
	                                        .slo_success_ppb = {P(0.9), P(0.9), P(0.9), P(0.9)},
	                                        .renewable_ppb = P(0.2),
	                                        .energy_wh = 2000,
	                                        .opex_units = 500,
	                                        .penalty_points = 1};
	nodes[2] = (struct faii_settle_node_input){
	        .node_id = 3,
	        .operator_id = 2,
	        .node_class = 4,
	        .availability_ppb = P(0.5),
	        .capacity_units = 20,
	        .work = {0, 0, 0, 1000},
	        .slo_success_ppb = {P(0.99), P(0.99), P(0.99), P(0.99)},
	        .renewable_ppb = P(0.9),
	        .energy_wh = 100};
}

Test(settle, a_worked_epoch_matches_the_hand_computation)
{
	struct faii_settle_params params = test_params();
	struct faii_settle_node_input nodes[3];
	struct faii_settle_node_result results[3];
	struct faii_settle_epoch_totals totals;
	test_nodes(nodes);
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, results, &totals), 0);
	cr_assert_eq(totals.theta_ppb[1], 2200000000ull);
	cr_assert_eq(totals.class_share_ppb[0], 52631578ull);
	cr_assert_eq(totals.class_share_ppb[4], 947368421ull);
	cr_assert_eq(totals.class_diversity_ppb[4], 726315790ull);
	cr_assert_eq(totals.class_diversity_ppb[0], 1000000000ull);
	/* A: base 990, ESG clamped at 1.25, SLO 1.055555555, perf 1319, Phi 110. */
	cr_assert_eq(results[0].base, 990);
	cr_assert_eq(results[0].esg_ppb, 1250000000ull);
	cr_assert_eq(results[0].slo_ppb[0], 1055555555ull);
	cr_assert_eq(results[0].performance, 1319);
	cr_assert_eq(results[0].deduction, 110);
	cr_assert_eq(results[0].paid, 2199);
	/* B: below the ESG baseline (1.0), SLO exactly 1, diversity cut. */
	cr_assert_eq(results[1].base, 20000);
	cr_assert_eq(results[1].esg_ppb, 1000000000ull);
	cr_assert_eq(results[1].performance, 7989 + 6536);
	cr_assert_eq(results[1].deduction, 4600);
	cr_assert_eq(results[1].paid, 29925);
	/* C: ESG 1.3 clamped to 1.25, SLO 1.1, over the XL cap of 40 000. */
	cr_assert_eq(results[2].performance, 39947);
	cr_assert_eq(results[2].paid, 40000);
	cr_assert_eq(results[2].withheld, 9747);
	cr_assert_eq(totals.paid, 72124);
	cr_assert_eq(totals.base + totals.performance,
	             totals.paid + totals.deduction + totals.withheld);
}

Test(settle, the_flat_schedule_is_the_special_case)
{
	/* xi = eta = gamma = 0 and success at target: every multiplier is 1, so a
	 * node is paid p0 a c + p sum theta_t V_t - Phi. */
	struct faii_settle_params params = test_params();
	params.esg_xi_ppb = 0;
	params.diversity_eta_ppb = 0;
	memset(params.gamma_ppb, 0, sizeof(params.gamma_ppb));
	struct faii_settle_node_input nodes[3];
	struct faii_settle_node_result results[3];
	struct faii_settle_epoch_totals totals;
	test_nodes(nodes);
	for (int j = 0; j < 3; j++)
		for (int t = 0; t < 4; t++)
			nodes[j].slo_success_ppb[t] = params.slo_target_ppb[t];
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, results, &totals), 0);
	cr_assert_eq(results[1].performance, 10 * (500 * 2 + 300 * 3));
	cr_assert_eq(results[2].performance, 10 * 1000 * 4);
	cr_assert_eq(results[0].performance, 10 * 100);
}

Test(settle, more_work_or_availability_never_pays_less)
{
	struct faii_settle_params params = test_params();
	struct faii_settle_node_input nodes[3];
	struct faii_settle_node_result before[3], after[3];
	struct faii_settle_epoch_totals totals;
	test_nodes(nodes);
	nodes[2].work[3] = 10; /* keep C under its cap */
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, before, &totals), 0);
	nodes[0].availability_ppb = P(1.0);
	nodes[0].work[0] += 1;
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, after, &totals), 0);
	cr_assert_geq(after[0].paid, before[0].paid);
	cr_assert_gt(after[0].base, before[0].base);
}

Test(settle, bad_parameters_and_overflow_are_refused)
{
	struct faii_settle_params params = test_params();
	const char *field = NULL;
	params.esg_xi_ppb = P(1.0);
	cr_assert_eq(faii_settle_params_check(&params, &field), -EINVAL);
	cr_assert_str_eq(field, "esg_xi");
	params = test_params();
	params.slo_alpha[2] = 0;
	cr_assert_eq(faii_settle_params_check(&params, &field), -EINVAL);
	cr_assert_str_eq(field, "slo_alpha");
	params = test_params();
	params.slo_target_ppb[0] = 0;
	cr_assert_eq(faii_settle_params_check(&params, &field), -EINVAL);
	params = test_params();
	struct faii_settle_node_input nodes[3];
	struct faii_settle_node_result results[3];
	struct faii_settle_epoch_totals totals;
	test_nodes(nodes);
	nodes[1].availability_ppb = P(1.5);
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, results, &totals), -EINVAL);
	test_nodes(nodes);
	nodes[1].work[1] = UINT64_MAX / 2;
	cr_assert_eq(faii_settle_epoch(&params, nodes, 3, results, &totals), -EOVERFLOW);
}

Test(settle, proofs_read_from_the_built_tree_are_the_same)
{
	uint8_t hashes[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	uint8_t scratch[TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	static uint8_t levels[2 * TEST_LEAVES_MAX][FAII_SETTLE_HASH_BYTES];
	for (uint32_t count = 1; count <= 40; count++) {
		uint8_t root[FAII_SETTLE_HASH_BYTES], tree_root[FAII_SETTLE_HASH_BYTES];
		test_hashes(count, hashes);
		cr_assert_leq(faii_settle_merkle_tree_hashes(count), 2 * TEST_LEAVES_MAX);
		faii_settle_merkle_root((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes, count,
		                        scratch, root);
		cr_assert_eq(
		        faii_settle_merkle_tree((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes,
		                                count, levels, tree_root),
		        0);
		cr_assert_eq(memcmp(root, tree_root, sizeof(root)), 0, "%u leaves", count);
		for (uint32_t index = 0; index < count; index++) {
			struct faii_settle_proof walked, read;
			faii_settle_merkle_proof((const uint8_t(*)[FAII_SETTLE_HASH_BYTES])hashes,
			                         count, index, scratch, &walked);
			cr_assert_eq(faii_settle_merkle_tree_proof(
			                     (const uint8_t(*)[FAII_SETTLE_HASH_BYTES])levels,
			                     count, index, &read),
			             0);
			cr_assert_eq(memcmp(&walked, &read, sizeof(walked)), 0, "%u of %u", index,
			             count);
		}
	}
}

/* Found by faii-settle's checks: each node's amounts fit 64 bits, but the
 * fleet's deductions and withheld amounts summed past them and the
 * conservation assertion aborted instead of refusing. */
Test(settle, totals_beyond_64_bits_are_refused_not_asserted)
{
	struct faii_settle_params params = test_params();
	params.availability_rate = 4000000000000000000ull;
	params.work_rate = 4000000000000000000ull;
	params.gamma_ppb[1] = 0;
	params.diversity_eta_ppb = 0;
	memset(params.payout_cap, 0, sizeof(params.payout_cap));
	struct faii_settle_node_input nodes[2] = {
	        {.node_id = 1,
	         .node_class = 2,
	         .availability_ppb = P(1),
	         .capacity_units = 3,
	         .slo_success_ppb = {P(0.9), P(0.9), P(0.9), P(0.9)}},
	        {.node_id = 2,
	         .node_class = 2,
	         .work = {3, 0, 0, 0},
	         .slo_success_ppb = {P(0.9), P(0.9), P(0.9), P(0.9)}}};
	struct faii_settle_node_result results[2];
	struct faii_settle_epoch_totals totals;
	cr_assert_eq(faii_settle_epoch(&params, nodes, 2, results, &totals), -EOVERFLOW);
}
