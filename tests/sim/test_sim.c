/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The harness's tests, on its self-test core (meson suite 'sim'):
 *
 *   test_sim seeds FIRST COUNT   COUNT swarm seeds from FIRST, every fault
 *                                kind on; also checks that together they
 *                                exercised every fault kind
 *   test_sim determinism         a seed run twice gives the same trace hash
 *   test_sim broken no-retransmit       the harness must report liveness
 *   test_sim broken deliver-duplicates  the harness must report safety
 *
 * Environment: FAII_SIM_SEED=n runs exactly seed n (a replay) in any mode;
 * FAII_SIM_SEEDS=N runs N random seeds (a soak; CI does not);
 * FAII_SIM_TRACE=1 prints every event of every run to stdout.
 * A failure prints FAII_SIM_SEED=<n> and the command that replays it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faii/assert.h"
#include "faii/clock.h"
#include "sim_harness.h"
#include "sim_selftest_core.h"

#define TEST_SIM_NODES_MIN         2u
#define TEST_SIM_NODES_MAX         8u
#define TEST_SIM_REPLAY_BYTES_MAX  512u
#define TEST_SIM_DETERMINISM_SEEDS 8u
#define TEST_SIM_BROKEN_SEEDS_MAX  16u /* a broken core must fail within this many */
#define TEST_SIM_BROKEN_FAULT_PPM  50000u
#define TEST_SIM_REPORT_BYTES_MAX  4096u

FAII_STATIC_ASSERT(TEST_SIM_NODES_MAX <= SIM_SELFTEST_NODES_MAX, "the core supports the swarm");

struct test_sim_totals {
	uint64_t seeds;
	uint64_t steps;
	uint64_t sim_ns;
	uint64_t crashes;
	uint64_t partitions;
	uint64_t recovery_ns_max; /* the slowest convergence after the faults ended */
	uint64_t recovery_ns_max_seed;
	struct sim_net_stats net;
};

static char test_sim_replay[TEST_SIM_REPLAY_BYTES_MAX];

static FILE *test_sim_trace(void)
{
	const char *trace = getenv("FAII_SIM_TRACE");
	return trace != NULL && trace[0] != '\0' && strcmp(trace, "0") != 0 ? stdout : NULL;
}

/* Forces a fault on for the broken variants: they must fail for a reason. */
static void test_sim_force(struct sim_harness_options *options, enum sim_selftest_bug bug)
{
	if (bug == SIM_SELFTEST_BUG_NO_RETRANSMIT &&
	    options->net.drop_ppm < TEST_SIM_BROKEN_FAULT_PPM)
		options->net.drop_ppm = TEST_SIM_BROKEN_FAULT_PPM;
	if (bug == SIM_SELFTEST_BUG_DELIVER_DUPLICATES &&
	    options->net.duplicate_ppm < TEST_SIM_BROKEN_FAULT_PPM)
		options->net.duplicate_ppm = TEST_SIM_BROKEN_FAULT_PPM;
}

static int test_sim_run_seed(uint64_t seed, enum sim_selftest_bug bug, FILE *report,
                             struct sim_harness_result *result)
{
	struct sim_harness_options options;
	sim_harness_options_swarm(&options, seed, TEST_SIM_NODES_MIN, TEST_SIM_NODES_MAX);
	options.net.message_bytes_max = SIM_SELFTEST_MESSAGE_BYTES_MAX;
	options.replay_command = test_sim_replay;
	options.report = report;
	options.trace = test_sim_trace();
	test_sim_force(&options, bug);
	struct sim_selftest selftest;
	sim_selftest_prepare(&selftest, seed, options.node_count, bug);
	struct sim_core core = sim_selftest_core(&selftest);
	int rc = sim_harness_run(&core, &options, result);
	FAII_ASSERT_MSG(rc == 0, "seed %" PRIu64 ": the harness could not run: %d", seed, rc);
	return rc;
}

static void test_sim_totals_add(struct test_sim_totals *totals, uint64_t seed,
                                const struct sim_harness_result *result)
{
	if (result->outcome == SIM_OUTCOME_PASSED &&
	    result->recovery_ns >= totals->recovery_ns_max) {
		totals->recovery_ns_max = result->recovery_ns;
		totals->recovery_ns_max_seed = seed;
	}
	totals->seeds++;
	totals->steps += result->steps;
	totals->sim_ns += result->sim_ns;
	totals->crashes += result->crashes;
	totals->partitions += result->partitions;
	totals->net.sent += result->net.sent;
	totals->net.duplicated += result->net.duplicated;
	totals->net.reordered += result->net.reordered;
	totals->net.dropped_loss += result->net.dropped_loss;
	totals->net.dropped_partition += result->net.dropped_partition;
	totals->net.dropped_node_down += result->net.dropped_node_down;
	totals->net.dropped_queue_full += result->net.dropped_queue_full;
}

/* CI's seeds must have exercised every fault kind, or they prove less than they claim. */
static int test_sim_coverage(const struct test_sim_totals *totals, bool replay)
{
	const struct sim_net_stats *net = &totals->net;
	if (replay)
		return 0;
	if (net->dropped_loss && net->duplicated && net->reordered && net->dropped_partition &&
	    net->dropped_node_down && net->dropped_queue_full && totals->crashes &&
	    totals->partitions)
		return 0;
	fprintf(stderr, "sim: these seeds left a fault kind unexercised; choose more seeds\n");
	return 1;
}

static int test_sim_seeds(uint64_t ci_first, uint64_t ci_count)
{
	struct sim_seed_plan plan;
	FAII_ASSERT(sim_seed_plan_from_env(&plan, ci_first, ci_count) == 0);
	struct test_sim_totals totals = {0};
	uint64_t wall_start_ns = faii_monotonic_ns();
	uint64_t failures = 0;
	if (plan.soak)
		printf("sim: soak of %" PRIu64 " seeds from %" PRIu64 "\n", plan.count, plan.first);
	for (uint64_t i = 0; i < plan.count; i++) {
		struct sim_harness_result result;
		test_sim_run_seed(plan.first + i, SIM_SELFTEST_BUG_NONE, NULL, &result);
		test_sim_totals_add(&totals, plan.first + i, &result);
		failures += result.outcome != SIM_OUTCOME_PASSED;
	}
	const struct sim_net_stats *net = &totals.net;
	printf("sim: selftest: %" PRIu64 " of %" PRIu64 " seeds passed from %" PRIu64 ": %" PRIu64
	       " steps, %" PRIu64 " s simulated, %.2f s wall; sent %" PRIu64 ", lost %" PRIu64
	       ", duplicated %" PRIu64 ", reordered %" PRIu64 ", partitioned %" PRIu64
	       ", to dead nodes %" PRIu64 ", queue full %" PRIu64 "; %" PRIu64
	       " partitions, %" PRIu64 " crashes; slowest recovery %.3f s (seed %" PRIu64 ")\n",
	       totals.seeds - failures, totals.seeds, plan.first, totals.steps,
	       (uint64_t)(totals.sim_ns / FAII_NS_PER_S),
	       (double)(faii_monotonic_ns() - wall_start_ns) * 1e-9, net->sent, net->dropped_loss,
	       net->duplicated, net->reordered, net->dropped_partition, net->dropped_node_down,
	       net->dropped_queue_full, totals.partitions, totals.crashes,
	       (double)totals.recovery_ns_max * 1e-9, totals.recovery_ns_max_seed);
	if (failures > 0)
		return 1;
	return test_sim_coverage(&totals, plan.replay || plan.soak);
}

static int test_sim_determinism(void)
{
	struct sim_seed_plan plan;
	FAII_ASSERT(sim_seed_plan_from_env(&plan, 1, TEST_SIM_DETERMINISM_SEEDS) == 0);
	uint64_t hashes[TEST_SIM_DETERMINISM_SEEDS];
	uint64_t runs =
	        plan.count < TEST_SIM_DETERMINISM_SEEDS ? plan.count : TEST_SIM_DETERMINISM_SEEDS;
	for (uint64_t i = 0; i < runs; i++) {
		uint64_t seed = plan.first + i;
		struct sim_harness_result first, second;
		test_sim_run_seed(seed, SIM_SELFTEST_BUG_NONE, NULL, &first);
		test_sim_run_seed(seed, SIM_SELFTEST_BUG_NONE, NULL, &second);
		printf("sim: seed %" PRIu64 ": trace %016" PRIx64 " then %016" PRIx64 " (%" PRIu64
		       " steps, %" PRIu64 " messages)\n",
		       seed, first.trace_hash, second.trace_hash, first.steps, first.net.sent);
		if (first.trace_hash != second.trace_hash || first.steps != second.steps ||
		    first.sim_ns != second.sim_ns ||
		    memcmp(&first.net, &second.net, sizeof(first.net)) != 0) {
			fprintf(stderr,
			        "sim: seed %" PRIu64 " is not deterministic\nFAII_SIM_SEED=%" PRIu64
			        "\nsim: replay: FAII_SIM_SEED=%" PRIu64 " %s\n",
			        seed, seed, seed, test_sim_replay);
			return 1;
		}
		hashes[i] = first.trace_hash;
		/* A hash that does not tell seeds apart would prove nothing. */
		for (uint64_t j = 0; j < i; j++)
			FAII_ASSERT_MSG(hashes[j] != hashes[i],
			                "seeds %" PRIu64 " and %" PRIu64 " have one trace hash",
			                plan.first + j, seed);
	}
	return 0;
}

/* The harness must catch a broken core, report why, and name the seed. */
static int test_sim_broken(enum sim_selftest_bug bug, enum sim_outcome expected)
{
	struct sim_seed_plan plan;
	FAII_ASSERT(sim_seed_plan_from_env(&plan, 1, TEST_SIM_BROKEN_SEEDS_MAX) == 0);
	for (uint64_t i = 0; i < plan.count; i++) {
		uint64_t seed = plan.first + i;
		char *report = NULL;
		size_t report_bytes = 0;
		FILE *report_file = open_memstream(&report, &report_bytes);
		FAII_ASSERT(report_file != NULL);
		struct sim_harness_result result;
		test_sim_run_seed(seed, bug, report_file, &result);
		FAII_ASSERT(fclose(report_file) == 0);
		if (result.outcome == SIM_OUTCOME_PASSED) {
			free(report);
			continue; /* this seed did not trigger the bug; try the next */
		}
		char seed_line[64], replay_line[TEST_SIM_REPLAY_BYTES_MAX + 64];
		snprintf(seed_line, sizeof(seed_line), "\nFAII_SIM_SEED=%" PRIu64 "\n", seed);
		snprintf(replay_line, sizeof(replay_line), "replay: FAII_SIM_SEED=%" PRIu64 " %s\n",
		         seed, test_sim_replay);
		bool named =
		        strstr(report, seed_line) != NULL && strstr(report, replay_line) != NULL;
		printf("sim: the harness's report on the broken core (expected):\n%s", report);
		free(report);
		if (result.outcome != expected || !named) {
			fprintf(stderr,
			        "sim: expected a %s failure naming seed %" PRIu64 ", got %s%s\n",
			        sim_outcome_name(expected), seed, sim_outcome_name(result.outcome),
			        named ? "" : " without the seed and replay lines");
			return 1;
		}
		printf("sim: caught at seed %" PRIu64 " (%s)\n", seed, sim_outcome_name(expected));
		return 0;
	}
	fprintf(stderr,
	        "sim: the harness missed the broken core in %" PRIu64 " seeds from %" PRIu64 "\n",
	        plan.count, plan.first);
	return 1;
}

static int test_sim_usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s seeds FIRST COUNT | determinism | broken "
	        "no-retransmit|deliver-duplicates\n",
	        argv0);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return test_sim_usage(argv[0]);
	/* The replay command is this very command line. */
	size_t used = 0;
	for (int i = 0; i < argc && used < sizeof(test_sim_replay); i++)
		used += (size_t)snprintf(test_sim_replay + used, sizeof(test_sim_replay) - used,
		                         "%s%s", i ? " " : "", argv[i]);
	if (strcmp(argv[1], "seeds") == 0 && argc == 4)
		return test_sim_seeds(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	if (strcmp(argv[1], "determinism") == 0 && argc == 2)
		return test_sim_determinism();
	if (strcmp(argv[1], "broken") == 0 && argc == 3) {
		if (strcmp(argv[2], "no-retransmit") == 0)
			return test_sim_broken(SIM_SELFTEST_BUG_NO_RETRANSMIT,
			                       SIM_OUTCOME_FAILED_LIVENESS);
		if (strcmp(argv[2], "deliver-duplicates") == 0)
			return test_sim_broken(SIM_SELFTEST_BUG_DELIVER_DUPLICATES,
			                       SIM_OUTCOME_FAILED_SAFETY);
	}
	return test_sim_usage(argv[0]);
}
