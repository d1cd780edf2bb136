/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Settlement on the simulated consensus (meson suite 'sim';
 * docs/simulation.md, "Settlement"; tests/sim/sim_settle.h):
 *
 *   test_sim_settle seeds FIRST COUNT NMIN NMAX       swarm seeds, n in
 *                                                     [NMIN, NMAX], all honest
 *   test_sim_settle byzantine FIRST COUNT NMIN NMAX   the same with f liars
 *   test_sim_settle determinism         one seed twice: the same trace and digest
 *   test_sim_settle broken misread      a validator that credits transactions to
 *                                       the wrong author must be caught
 *
 * Every seed: the honest validators' settlement digests agree at every
 * committed sequence, money is conserved, restarted validators rebuild the
 * same state from the first committed vertex, and after the faults the
 * settled epochs' payout roots become final. Over the seeds: every kind of
 * settlement transaction was applied, slashes were executed and dismissed,
 * a governance change adopted, certificates retired, validators crashed and
 * rebuilt, and (with liars) garbage and wrong roots refused.
 *
 * FAII_SIM_SEED=n replays one seed; FAII_SIM_SEEDS=N soaks N random seeds;
 * FAII_SIM_TRACE=1 prints every event. A failure prints its seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii/settle_state.h"
#include "faii/settle_tx.h"
#include "sim_dag_core.h"
#include "sim_harness.h"
#include "sim_settle.h"

#define TEST_SETTLE_MESSAGE_BYTES    16384u
#define TEST_SETTLE_IN_FLIGHT        65536u
#define TEST_SETTLE_FAULTS_END_NS    (3 * FAII_NS_PER_S) /* at most */
#define TEST_SETTLE_LIVENESS_NS      (30 * FAII_NS_PER_S)
#define TEST_SETTLE_STEPS_MAX        (20ull * 1000 * 1000)
#define TEST_SETTLE_REPLAY_BYTES     256u
#define TEST_SETTLE_DETERMINISM_SEED 2u
#define TEST_SETTLE_MISREAD_FROM     40u /* the committed sequence a validator starts misreading */

static char test_settle_replay[TEST_SETTLE_REPLAY_BYTES];

struct test_settle_totals {
	uint64_t seeds, steps, crashes, rebuilt, compared, committed, recovery_ns_max;
	uint64_t epochs_settled, epochs_final;
	uint64_t applied[FAII_SETTLE_TX_KIND_END];
	uint64_t refused[FAII_SETTLE_OUTCOME_COUNT];
	uint64_t submitted[FAII_SETTLE_TX_KIND_END];
	uint64_t lies, executed, dismissed, adopted, retired_wh, minted;
};

static uint64_t test_settle_env_seed(uint64_t fallback)
{
	const char *seed = getenv("FAII_SIM_SEED");
	return seed != NULL && seed[0] != '\0' ? strtoull(seed, NULL, 0) : fallback;
}

static FILE *test_settle_trace(void)
{
	const char *trace = getenv("FAII_SIM_TRACE");
	return trace != NULL && trace[0] != '\0' && strcmp(trace, "0") != 0 ? stdout : NULL;
}

static void test_settle_options(struct sim_harness_options *options, uint64_t seed,
                                uint32_t nodes_min, uint32_t nodes_max, bool byzantine)
{
	sim_harness_options_swarm(options, seed, nodes_min, nodes_max);
	options->net.message_bytes_max = TEST_SETTLE_MESSAGE_BYTES;
	if (options->net.in_flight_messages_max > 1024 || byzantine)
		options->net.in_flight_messages_max = TEST_SETTLE_IN_FLIGHT;
	if (options->faults.faults_end_ns > TEST_SETTLE_FAULTS_END_NS)
		options->faults.faults_end_ns = TEST_SETTLE_FAULTS_END_NS;
	options->faults.crashed_nodes_max = (options->node_count - 1) / 3;
	options->liveness_ns_max = TEST_SETTLE_LIVENESS_NS;
	options->steps_max = TEST_SETTLE_STEPS_MAX;
	options->replay_command = test_settle_replay;
	options->trace = test_settle_trace();
}

static void test_settle_add(struct test_settle_totals *totals,
                            const struct sim_harness_result *result, const struct sim_dag *dag,
                            const struct sim_settle *settle)
{
	const struct faii_settle_stats *stats = &settle->stats;
	totals->seeds++;
	totals->steps += result->steps;
	totals->crashes += result->crashes;
	if (result->recovery_ns > totals->recovery_ns_max)
		totals->recovery_ns_max = result->recovery_ns;
	totals->rebuilt += settle->rebuilt;
	totals->compared += settle->digests_compared;
	totals->committed += dag->committed_max;
	totals->epochs_settled += settle->epochs_settled;
	totals->epochs_final += settle->epochs_final;
	for (int k = 0; k < FAII_SETTLE_TX_KIND_END; k++) {
		totals->applied[k] += stats->applied[k];
		totals->submitted[k] += settle->submitted[k];
	}
	for (int o = 0; o < FAII_SETTLE_OUTCOME_COUNT; o++)
		totals->refused[o] += stats->refused[o];
	totals->lies += settle->lies;
	totals->executed += stats->slashes_executed;
	totals->dismissed += stats->slashes_dismissed;
	totals->adopted += settle->gov_adopted;
	totals->retired_wh += stats->carbon_retired_wh;
	totals->minted += stats->minted;
}

/* What a run must show beyond the harness's verdict: every settled epoch
 * became final before it left the kept records. */
static bool test_settle_verdict(uint64_t seed, const struct sim_settle *settle)
{
	if (settle->evicted_unfinal == 0)
		return true;
	fprintf(stderr,
	        "FAII_SIM_SEED=%" PRIu64 ": %" PRIu64
	        " settled epochs left the kept records before their roots were final\n",
	        seed, settle->evicted_unfinal);
	fprintf(stderr, "sim: replay: FAII_SIM_SEED=%" PRIu64 " %s\n", seed, test_settle_replay);
	return false;
}

/* One run's outcome, kept after its simulation is released. */
struct test_settle_outcome {
	struct sim_harness_result result;
	uint64_t last_sequence; /* the furthest committed sequence an honest validator applied */
	uint8_t last_digest[FAII_SETTLE_HASH_BYTES];
};

/* 0 when the run happened (its verdict in out->result), else its error. */
static int test_settle_run(uint64_t seed, uint32_t nodes_min, uint32_t nodes_max, bool byzantine,
                           uint64_t misread_from, FILE *report, struct test_settle_totals *totals,
                           struct test_settle_outcome *out)
{
	struct sim_harness_options options;
	test_settle_options(&options, seed, nodes_min, nodes_max, byzantine);
	options.report = report;
	struct sim_dag_options dag_options;
	sim_dag_options_default(&dag_options, options.node_count);
	uint32_t f = (options.node_count - 1) / 3;
	dag_options.byzantine_mask = byzantine && f > 0 ? (1ull << f) - 1 : 0;
	struct sim_dag *dag = malloc(sizeof(*dag));
	struct sim_settle *settle = malloc(sizeof(*settle));
	FAII_ASSERT(dag != NULL && settle != NULL);
	memset(out, 0, sizeof(*out));
	int rc = sim_dag_prepare(dag, &dag_options, options.node_count, seed);
	if (rc == 0)
		rc = sim_settle_prepare(settle, dag);
	if (rc == 0) {
		settle->misread_from = misread_from;
		struct sim_core core = sim_settle_core(settle);
		rc = sim_harness_run(&core, &options, &out->result);
	}
	if (rc != 0) {
		fprintf(stderr, "FAII_SIM_SEED=%" PRIu64 ": the run did not start (%d)\n", seed,
		        rc);
	} else if (out->result.outcome != SIM_OUTCOME_PASSED) {
		sim_harness_options_print(report != NULL ? report : stderr, &options);
		fprintf(report != NULL ? report : stderr,
		        "settle: byzantine mask %#" PRIx64 ", committed %" PRIu64
		        ", epochs settled %" PRIu64 ", final %" PRIu64 "\n",
		        dag_options.byzantine_mask, dag->committed_max, settle->epochs_settled,
		        settle->epochs_final);
	} else if (!test_settle_verdict(seed, settle)) {
		out->result.outcome = SIM_OUTCOME_FAILED_SAFETY;
	} else {
		out->last_sequence = settle->stats_sequence;
		if (out->last_sequence > 0)
			memcpy(out->last_digest, settle->digests[out->last_sequence - 1].digest,
			       sizeof(out->last_digest));
		if (totals != NULL)
			test_settle_add(totals, &out->result, dag, settle);
	}
	sim_settle_release(settle);
	sim_dag_release(dag);
	free(settle);
	free(dag);
	return rc;
}

static void test_settle_print(const struct test_settle_totals *totals)
{
	printf("settle sim: %" PRIu64 " seeds, %" PRIu64 " steps, %" PRIu64 " crashes (%" PRIu64
	       " settlements rebuilt from the first vertex), %" PRIu64
	       " vertices committed, %" PRIu64 " digests compared, %" PRIu64
	       " epochs settled, %" PRIu64 " final, slowest recovery %.3f s\n",
	       totals->seeds, totals->steps, totals->crashes, totals->rebuilt, totals->committed,
	       totals->compared, totals->epochs_settled, totals->epochs_final,
	       (double)totals->recovery_ns_max / 1e9);
	printf("settle sim: minted %" PRIu64 ", slashes executed %" PRIu64 " dismissed %" PRIu64
	       ", governance changes adopted %" PRIu64 ", certificates retired %" PRIu64
	       " Wh, lies submitted %" PRIu64 "\n",
	       totals->minted, totals->executed, totals->dismissed, totals->adopted,
	       totals->retired_wh, totals->lies);
	printf("settle sim applied (submitted by honest appliances):");
	for (int k = 1; k < FAII_SETTLE_TX_KIND_END; k++)
		printf(" %s=%" PRIu64 "(%" PRIu64 ")", faii_settle_tx_kind_name(k),
		       totals->applied[k], totals->submitted[k]);
	printf("\nsettle sim refused:");
	for (int o = 1; o < FAII_SETTLE_OUTCOME_COUNT; o++)
		printf(" %s=%" PRIu64, faii_settle_outcome_name(o), totals->refused[o]);
	printf("\n");
}

/* Over the seeds, the simulation exercised what it claims to. */
static int test_settle_coverage(const struct test_settle_totals *totals, bool byzantine)
{
	static const enum faii_settle_tx_kind kinds[] = {
	        FAII_SETTLE_TX_NODE_REGISTER, FAII_SETTLE_TX_WORK_SUMMARY,
	        FAII_SETTLE_TX_METER_READING, FAII_SETTLE_TX_SLASH_PROPOSAL,
	        FAII_SETTLE_TX_DISPUTE,       FAII_SETTLE_TX_DISPUTE_VOTE,
	        FAII_SETTLE_TX_GOV_PROPOSAL,  FAII_SETTLE_TX_GOV_VOTE,
	        FAII_SETTLE_TX_PAYOUT_ROOT,
	};
	const char *missing = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (totals->applied[kinds[i]] == 0)
			missing = faii_settle_tx_kind_name(kinds[i]);
	if (totals->crashes == 0 || totals->rebuilt == 0)
		missing = "a validator crashed and rebuilt its settlement";
	if (totals->executed == 0 || totals->dismissed == 0)
		missing = "a slash executed and one dismissed";
	if (totals->adopted == 0)
		missing = "an adopted governance change";
	if (totals->retired_wh == 0)
		missing = "certificates retired at settlement";
	if (totals->epochs_final == 0 || totals->compared == 0)
		missing = "final roots and compared digests";
	if (byzantine && (totals->refused[FAII_SETTLE_REFUSED_MALFORMED] == 0 ||
	                  totals->refused[FAII_SETTLE_REFUSED_ROOT_MISMATCH] == 0))
		missing = "the liars' garbage and wrong roots refused";
	if (missing == NULL)
		return 0;
	fprintf(stderr, "the seeds did not exercise: %s\n", missing);
	return 1;
}

static int test_settle_seeds(uint64_t first, uint64_t count, uint32_t nodes_min, uint32_t nodes_max,
                             bool byzantine)
{
	struct sim_seed_plan plan;
	if (sim_seed_plan_from_env(&plan, first, count) != 0) {
		fprintf(stderr, "FAII_SIM_SEED or FAII_SIM_SEEDS is not a number\n");
		return 2;
	}
	snprintf(test_settle_replay, sizeof(test_settle_replay),
	         "build/tests/sim/test_sim_settle %s 1 1 %u %u", byzantine ? "byzantine" : "seeds",
	         nodes_min, nodes_max);
	struct test_settle_totals totals = {0};
	for (uint64_t i = 0; i < plan.count; i++) {
		struct test_settle_outcome out;
		if (test_settle_run(plan.first + i, nodes_min, nodes_max, byzantine, 0, NULL,
		                    &totals, &out) != 0 ||
		    out.result.outcome != SIM_OUTCOME_PASSED)
			return 1; /* the seed and its replay command are printed */
	}
	test_settle_print(&totals);
	return plan.replay ? 0 : test_settle_coverage(&totals, byzantine);
}

/* One seed twice: the same trace, steps and settlement digest. */
static int test_settle_determinism(uint64_t seed)
{
	snprintf(test_settle_replay, sizeof(test_settle_replay),
	         "build/tests/sim/test_sim_settle determinism");
	struct test_settle_outcome first, second;
	if (test_settle_run(seed, 4, 7, true, 0, NULL, NULL, &first) != 0 ||
	    test_settle_run(seed, 4, 7, true, 0, NULL, NULL, &second) != 0 ||
	    first.result.outcome != SIM_OUTCOME_PASSED ||
	    second.result.outcome != SIM_OUTCOME_PASSED)
		return 1;
	if (first.result.trace_hash != second.result.trace_hash ||
	    first.result.steps != second.result.steps ||
	    first.last_sequence != second.last_sequence ||
	    memcmp(first.last_digest, second.last_digest, sizeof(first.last_digest)) != 0) {
		fprintf(stderr, "FAII_SIM_SEED=%" PRIu64 ": two runs differ\n", seed);
		return 1;
	}
	printf("settle sim: seed %" PRIu64 " replayed identically (%" PRIu64
	       " steps, the same digest at sequence %" PRIu64 ")\n",
	       seed, first.result.steps, first.last_sequence);
	return 0;
}

/*
 * The checker's own test: a validator that credits transactions to the
 * wrong author must be reported as a safety failure (its digest differs).
 */
static int test_settle_catches_misread(uint64_t seed)
{
	snprintf(test_settle_replay, sizeof(test_settle_replay),
	         "build/tests/sim/test_sim_settle broken misread");
	FILE *report = tmpfile();
	FAII_ASSERT(report != NULL);
	struct test_settle_outcome out;
	int rc = test_settle_run(seed, 4, 7, true, TEST_SETTLE_MISREAD_FROM, report, NULL, &out);
	fclose(report);
	if (rc != 0)
		return 1;
	if (out.result.outcome != SIM_OUTCOME_FAILED_SAFETY ||
	    strstr(out.result.reason, "differs") == NULL) {
		fprintf(stderr,
		        "FAII_SIM_SEED=%" PRIu64 ": a misreading validator was not caught (%s)\n",
		        seed, sim_outcome_name(out.result.outcome));
		return 1;
	}
	printf("settle sim caught it: %s\n", out.result.reason);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "determinism") == 0)
		return test_settle_determinism(test_settle_env_seed(TEST_SETTLE_DETERMINISM_SEED));
	if (argc == 3 && strcmp(argv[1], "broken") == 0 && strcmp(argv[2], "misread") == 0)
		return test_settle_catches_misread(
		        test_settle_env_seed(TEST_SETTLE_DETERMINISM_SEED));
	if (argc == 6 && (strcmp(argv[1], "seeds") == 0 || strcmp(argv[1], "byzantine") == 0))
		return test_settle_seeds(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
		                         (uint32_t)strtoul(argv[4], NULL, 0),
		                         (uint32_t)strtoul(argv[5], NULL, 0),
		                         strcmp(argv[1], "byzantine") == 0);
	fprintf(stderr,
	        "usage: test_sim_settle seeds|byzantine FIRST COUNT NMIN NMAX | determinism | "
	        "broken misread\n");
	return 2;
}
