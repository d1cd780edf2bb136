/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consensus under deterministic simulation (meson suite 'sim';
 * docs/consensus.md, "Tests"):
 *
 *   test_sim_dag seeds FIRST COUNT NMIN NMAX   swarm seeds, n in [NMIN, NMAX],
 *                                              every fault kind; all honest
 *   test_sim_dag byzantine FIRST COUNT NMIN NMAX   the same with f liars
 *   test_sim_dag determinism                   a seed twice: the same trace
 *
 * FAII_SIM_SEED=n replays one seed; FAII_SIM_SEEDS=N soaks N random seeds;
 * FAII_SIM_TRACE=1 prints every event. A failure prints its seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "sim_dag_core.h"
#include "sim_harness.h"

#define TEST_DAG_MESSAGE_BYTES     16384u
#define TEST_DAG_IN_FLIGHT         65536u
#define TEST_DAG_FAULTS_END_NS     (3 * FAII_NS_PER_S) /* at most */
#define TEST_DAG_LIVENESS_NS       (20 * FAII_NS_PER_S)
#define TEST_DAG_STEPS_MAX         (20ull * 1000 * 1000)
#define TEST_DAG_REPLAY_BYTES_MAX  256u
#define TEST_DAG_DETERMINISM_SEEDS 2u

static char test_dag_replay[TEST_DAG_REPLAY_BYTES_MAX];

struct test_dag_totals {
	uint64_t seeds;
	uint64_t steps;
	uint64_t crashes;
	uint64_t partitions;
	uint64_t committed;
	uint64_t equivocations;
	uint64_t recovery_ns_max;
	uint64_t refused[FAII_DAG_REFUSAL_COUNT];
};

static FILE *test_dag_trace(void)
{
	const char *trace = getenv("FAII_SIM_TRACE");
	return trace != NULL && trace[0] != '\0' && strcmp(trace, "0") != 0 ? stdout : NULL;
}

static void test_dag_options(struct sim_harness_options *options, uint64_t seed, uint32_t nodes_min,
                             uint32_t nodes_max)
{
	sim_harness_options_swarm(options, seed, nodes_min, nodes_max);
	options->net.message_bytes_max = TEST_DAG_MESSAGE_BYTES;
	if (options->net.in_flight_messages_max > 1024)
		options->net.in_flight_messages_max = TEST_DAG_IN_FLIGHT;
	if (options->faults.faults_end_ns > TEST_DAG_FAULTS_END_NS)
		options->faults.faults_end_ns = TEST_DAG_FAULTS_END_NS;
	uint32_t f = (options->node_count - 1) / 3;
	options->faults.crashed_nodes_max = f;
	options->liveness_ns_max = TEST_DAG_LIVENESS_NS;
	options->steps_max = TEST_DAG_STEPS_MAX;
	options->replay_command = test_dag_replay;
	options->trace = test_dag_trace();
}

/* The first f nodes lie, when asked to. */
static uint64_t test_dag_byzantine_mask(uint32_t node_count, bool byzantine)
{
	uint32_t f = (node_count - 1) / 3;
	return byzantine && f > 0 ? (1ull << f) - 1 : 0;
}

static int test_dag_run(uint64_t seed, uint32_t nodes_min, uint32_t nodes_max, bool byzantine,
                        struct sim_harness_result *result, struct test_dag_totals *totals)
{
	struct sim_harness_options options;
	test_dag_options(&options, seed, nodes_min, nodes_max);
	/* The simulated network's queue is shared by every link: a flooding liar
	 * would starve the honest links of it, which a real network's per-link
	 * buffers do not allow. Liars get the full queue. */
	if (byzantine)
		options.net.in_flight_messages_max = TEST_DAG_IN_FLIGHT;
	struct sim_dag_options dag_options;
	sim_dag_options_default(&dag_options, options.node_count);
	dag_options.byzantine_mask = test_dag_byzantine_mask(options.node_count, byzantine);
	struct sim_dag *sim = malloc(sizeof(*sim));
	FAII_ASSERT(sim != NULL);
	int rc = sim_dag_prepare(sim, &dag_options, options.node_count, seed);
	if (rc == 0) {
		struct sim_core core = sim_dag_core(sim);
		rc = sim_harness_run(&core, &options, result);
	}
	if (rc == 0 && result->outcome != SIM_OUTCOME_PASSED) {
		sim_harness_options_print(stderr, &options);
		fprintf(stderr, "dag: byzantine mask %#" PRIx64 ", committed %" PRIu64 "\n",
		        dag_options.byzantine_mask, sim->committed_max);
	}
	if (rc == 0 && totals != NULL) {
		totals->seeds++;
		totals->steps += result->steps;
		totals->crashes += result->crashes;
		totals->partitions += result->partitions;
		totals->committed += sim->committed_max;
		totals->equivocations += sim->equivocations;
		if (result->recovery_ns > totals->recovery_ns_max)
			totals->recovery_ns_max = result->recovery_ns;
		for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
			totals->refused[i] += sim->refused[i];
	}
	sim_dag_release(sim);
	free(sim);
	return rc;
}

static void test_dag_print_totals(const struct test_dag_totals *totals)
{
	printf("dag sim: %" PRIu64 " seeds, %" PRIu64 " steps, %" PRIu64 " crashes, %" PRIu64
	       " partitions, %" PRIu64 " vertices committed (longest per seed, summed), %" PRIu64
	       " equivocation proofs, slowest recovery %.3f s\n",
	       totals->seeds, totals->steps, totals->crashes, totals->partitions, totals->committed,
	       totals->equivocations, (double)totals->recovery_ns_max / 1e9);
	printf("dag sim refusals:");
	for (int i = 0; i < FAII_DAG_REFUSAL_COUNT; i++)
		printf(" %s=%" PRIu64, faii_dag_refusal_name(i), totals->refused[i]);
	printf("\n");
}

static int test_dag_seeds(uint64_t first, uint64_t count, uint32_t nodes_min, uint32_t nodes_max,
                          bool byzantine)
{
	struct sim_seed_plan plan;
	if (sim_seed_plan_from_env(&plan, first, count) != 0) {
		fprintf(stderr, "FAII_SIM_SEED or FAII_SIM_SEEDS is not a number\n");
		return 2;
	}
	struct test_dag_totals totals = {0};
	for (uint64_t i = 0; i < plan.count; i++) {
		uint64_t seed = plan.first + i;
		snprintf(test_dag_replay, sizeof(test_dag_replay),
		         "build/tests/sim/test_sim_dag %s 1 1 %u %u",
		         byzantine ? "byzantine" : "seeds", nodes_min, nodes_max);
		struct sim_harness_result result;
		int rc = test_dag_run(seed, nodes_min, nodes_max, byzantine, &result, &totals);
		if (rc != 0) {
			fprintf(stderr, "FAII_SIM_SEED=%" PRIu64 ": the run did not start (%d)\n",
			        seed, rc);
			return 1;
		}
		if (result.outcome != SIM_OUTCOME_PASSED)
			return 1; /* the harness printed the verdict and the replay command */
	}
	test_dag_print_totals(&totals);
	if (!plan.replay && totals.crashes == 0) {
		fprintf(stderr, "no seed crashed a validator: the faults are not exercised\n");
		return 1;
	}
	if (byzantine && !plan.replay && totals.equivocations == 0) {
		fprintf(stderr, "no equivocation was proven: the liars are not exercised\n");
		return 1;
	}
	return 0;
}

static int test_dag_determinism(void)
{
	for (uint64_t seed = 1; seed <= TEST_DAG_DETERMINISM_SEEDS; seed++) {
		struct sim_harness_result first, second;
		if (test_dag_run(seed, 4, 7, true, &first, NULL) != 0 ||
		    test_dag_run(seed, 4, 7, true, &second, NULL) != 0)
			return 1;
		if (first.trace_hash != second.trace_hash || first.steps != second.steps) {
			fprintf(stderr,
			        "FAII_SIM_SEED=%" PRIu64 ": two runs differ (%" PRIx64 " %" PRIx64
			        ")\n",
			        seed, first.trace_hash, second.trace_hash);
			return 1;
		}
	}
	printf("dag sim: %u seeds replayed identically\n", TEST_DAG_DETERMINISM_SEEDS);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && (strcmp(argv[1], "seeds") == 0 || strcmp(argv[1], "byzantine") == 0))
		return test_dag_seeds(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
		                      (uint32_t)strtoul(argv[4], NULL, 0),
		                      (uint32_t)strtoul(argv[5], NULL, 0),
		                      strcmp(argv[1], "byzantine") == 0);
	if (argc == 2 && strcmp(argv[1], "determinism") == 0)
		return test_dag_determinism();
	fprintf(stderr,
	        "usage: test_sim_dag seeds|byzantine FIRST COUNT NMIN NMAX | determinism\n");
	return 2;
}
