/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/bench settlement: one epoch for N nodes x 4 tiers (default 100 000):
 * payouts (faii_settle_epoch), the payout leaves, the Merkle root and every
 * node's proof. Same-run baseline, the floor: hashing the same leaves with
 * BLAKE2b alone. Best of --reps, in the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID): on a shared machine wall time measures the
 * neighbours; the single-threaded epoch's CPU time is its latency on an idle
 * core.
 *
 *   bench_settlement [--nodes N] [--reps R]
 *
 * JSON lines: epoch_ms (against leaf_hash_ms), and the parts.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_settle.h"
#include "faii/settle.h"

#define BENCH_NODES_DEFAULT 100000u
#define BENCH_REPS_DEFAULT  5u
#define BENCH_REPS_MAX      100u

typedef uint8_t hash_t[FAII_SETTLE_HASH_BYTES];

static void make_inputs(struct faii_settle_params *params, struct faii_settle_node_input *nodes,
                        uint32_t count)
{
	*params = bench_settle_params();
	uint64_t state = 42;
	for (uint32_t j = 0; j < count; j++) {
		struct faii_settle_node_input *node = &nodes[j];
		memset(node, 0, sizeof(*node));
		node->node_id = j + 1;
		node->operator_id = (uint32_t)(bench_next(&state) % 5000) + 1;
		node->node_class = (uint8_t)(bench_next(&state) % FAII_SETTLE_CLASSES);
		node->availability_ppb = 900000000 + bench_next(&state) % 100000001;
		node->capacity_units = 1u << node->node_class;
		for (uint32_t t = 0; t < FAII_SETTLE_TIERS; t++) {
			node->work[t] = bench_next(&state) % 1000;
			node->slo_success_ppb[t] = 800000000 + bench_next(&state) % 200000001;
		}
		node->renewable_ppb = bench_next(&state) % 1000000001;
		node->energy_wh = bench_next(&state) % 10000;
		node->cumulative_before = bench_next(&state) % 1000000;
	}
}

struct bench_buffers {
	struct faii_settle_node_result *results;
	hash_t *leaves;
	hash_t *scratch;
	struct faii_settle_proof proof;
};

/* The whole epoch: payouts, leaves, root, and every proof. */
static double run_epoch(const struct faii_settle_params *params,
                        const struct faii_settle_node_input *nodes, uint32_t count,
                        struct bench_buffers *buffers, double *proofs_ms, hash_t root)
{
	double start = bench_cpu_ms();
	struct faii_settle_epoch_totals totals;
	if (faii_settle_epoch(params, nodes, count, buffers->results, &totals) != 0)
		abort();
	for (uint32_t j = 0; j < count; j++) {
		struct faii_settle_payout_leaf leaf = {
		        .epoch = 1,
		        .operator_id = nodes[j].operator_id,
		        .node_id = nodes[j].node_id,
		        .amount = buffers->results[j].paid,
		        .cumulative = nodes[j].cumulative_before + buffers->results[j].paid,
		};
		uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
		faii_settle_leaf_encode(&leaf, bytes);
		faii_settle_leaf_hash(bytes, buffers->leaves[j]);
	}
	faii_settle_merkle_tree((const hash_t *)buffers->leaves, count, buffers->scratch, root);
	double proofs_start = bench_cpu_ms();
	for (uint32_t j = 0; j < count; j++)
		if (faii_settle_merkle_tree_proof((const hash_t *)buffers->scratch, count, j,
		                                  &buffers->proof) != 0)
			abort();
	*proofs_ms = bench_cpu_ms() - proofs_start;
	return bench_cpu_ms() - start;
}

/* The floor: the same leaves hashed with BLAKE2b, nothing else. */
static double run_floor(const struct faii_settle_node_input *nodes, uint32_t count,
                        struct bench_buffers *buffers)
{
	double start = bench_cpu_ms();
	for (uint32_t j = 0; j < count; j++) {
		uint8_t bytes[FAII_SETTLE_LEAF_BYTES];
		memcpy(bytes, &nodes[j].node_id, 4);
		memcpy(bytes + 4, &nodes[j].cumulative_before, 8);
		memset(bytes + 12, 0, sizeof(bytes) - 12);
		crypto_generichash(buffers->leaves[j], FAII_SETTLE_HASH_BYTES, bytes, sizeof(bytes),
		                   NULL, 0);
	}
	return bench_cpu_ms() - start;
}

int main(int argc, char **argv)
{
	uint32_t count = BENCH_NODES_DEFAULT, reps = BENCH_REPS_DEFAULT;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--nodes") == 0)
			count = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0)
			reps = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (sodium_init() < 0 || count == 0 || count > FAII_SETTLE_NODES_MAX || reps == 0 ||
	    reps > BENCH_REPS_MAX) {
		fprintf(stderr, "usage: bench_settlement [--nodes 1..%u] [--reps 1..%u]\n",
		        FAII_SETTLE_NODES_MAX, BENCH_REPS_MAX);
		return 2;
	}
	static struct faii_settle_params params;
	struct faii_settle_node_input *nodes = calloc(count, sizeof(*nodes));
	struct bench_buffers buffers = {
	        .results = calloc(count, sizeof(*buffers.results)),
	        .leaves = calloc(count, sizeof(hash_t)),
	        .scratch = calloc(faii_settle_merkle_tree_hashes(count), sizeof(hash_t)),
	};
	if (!nodes || !buffers.results || !buffers.leaves || !buffers.scratch)
		return 1;
	make_inputs(&params, nodes, count);
	double best = 1e18, best_floor = 1e18, best_proofs = 1e18;
	hash_t root;
	for (uint32_t r = 0; r < reps; r++) {
		double proofs = 0;
		double epoch = run_epoch(&params, nodes, count, &buffers, &proofs, root);
		double floor = run_floor(nodes, count, &buffers);
		best = epoch < best ? epoch : best;
		best_proofs = proofs < best_proofs ? proofs : best_proofs;
		best_floor = floor < best_floor ? floor : best_floor;
	}
	char hex[2 * FAII_SETTLE_HASH_BYTES + 1];
	sodium_bin2hex(hex, sizeof(hex), root, sizeof(root));
	printf("{\"bench\": \"settlement\", \"case\": \"epoch_ms\", \"nodes\": %u, \"tiers\": %u, "
	       "\"value\": %.3f, \"unit\": \"cpu_ms\", \"baseline\": \"leaf_hash_ms\", "
	       "\"baseline_value\": %.3f, \"ratio\": %.3f, \"better\": \"lower\", \"reps\": %u, "
	       "\"proofs_ms\": %.3f, \"root\": \"%s\"}\n",
	       count, FAII_SETTLE_TIERS, best, best_floor, best / best_floor, reps, best_proofs,
	       hex);
	free(nodes);
	free(buffers.results);
	free(buffers.leaves);
	free(buffers.scratch);
	return 0;
}
