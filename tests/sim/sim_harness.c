/* SPDX-License-Identifier: BSD-3-Clause */
/* The simulation harness: see sim_harness.h. */
#include "sim_harness.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faii/assert.h"
#include "sim_clock.h"
#include "sim_prng.h"

/* PRNG streams of the harness; the network's is SIM_NET_PRNG_STREAM (1). */
#define SIM_HARNESS_PRNG_STREAM_FAULTS 2u
#define SIM_HARNESS_PRNG_STREAM_SETUP  3u
#define SIM_HARNESS_PRNG_STREAM_SWARM  4u
#define SIM_HARNESS_PRNG_STREAM_CORE   0x100u /* + node, mixed with the boot count */

/* Draws before giving up on a random proper subset for a partition. */
#define SIM_HARNESS_PARTITION_DRAWS_MAX 8u

enum sim_event_kind {
	SIM_EVENT_NONE,
	SIM_EVENT_FAULTS_END,
	SIM_EVENT_HEAL,
	SIM_EVENT_RESTART,
	SIM_EVENT_FAULT_STEP,
	SIM_EVENT_DELIVERY,
	SIM_EVENT_TICK,
};

static const char *const sim_event_names[] = {
        [SIM_EVENT_NONE] = "none",        [SIM_EVENT_FAULTS_END] = "faults-end",
        [SIM_EVENT_HEAL] = "heal",        [SIM_EVENT_RESTART] = "restart",
        [SIM_EVENT_FAULT_STEP] = "fault", [SIM_EVENT_DELIVERY] = "deliver",
        [SIM_EVENT_TICK] = "tick",
};

struct sim_event {
	enum sim_event_kind kind;
	uint64_t at_ns;
	uint32_t node;
};

struct sim_node {
	struct sim_clock clock; /* must not move: the clock points at itself */
	void *state;            /* NULL while down */
	uint8_t *durable;
	uint64_t next_tick_ns;
	uint64_t restart_at_ns; /* while down */
	uint32_t boots;
	bool up;
};

struct sim_run {
	const struct sim_core *core;
	const struct sim_harness_options *options;
	struct sim_harness_result *result;
	uint64_t now_ns;
	uint64_t deadline_ns; /* faults_end_ns + liveness_ns_max */
	struct sim_net *net;
	struct sim_prng faults_prng;
	struct sim_prng setup_prng;
	struct sim_node nodes[SIM_HARNESS_NODES_MAX];
	struct sim_node_view views[SIM_HARNESS_NODES_MAX];
	uint8_t *durable_all;
	uint64_t next_fault_step_ns;
	uint64_t heal_at_ns;
	bool partition_active;
	bool faults_over;
	uint32_t crashed_count;
	bool failed;
	uint64_t trace_hash;
};

/*
 * A fatal signal during a run (a core's FAII_ASSERT, abort(), a crash)
 * must still name the seed. The note is formatted before the run, so the
 * handler only calls write(), which is async-signal-safe.
 */
static char sim_abort_note[512];
static volatile sig_atomic_t sim_abort_note_len;

static void sim_abort_handler(int signo)
{
	if (sim_abort_note_len > 0) {
		ssize_t written = write(STDERR_FILENO, sim_abort_note, (size_t)sim_abort_note_len);
		(void)written;
	}
	signal(signo, SIG_DFL);
	raise(signo);
}

static void sim_abort_note_arm(const struct sim_harness_options *options)
{
	static bool installed;
	if (!installed) {
		installed = true;
		const int signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
		for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
			struct sigaction old;
			/* Keep a sanitizer's handler: it reports better, then aborts. */
			if (sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
				signal(signals[i], sim_abort_handler);
		}
	}
	int len = snprintf(sim_abort_note, sizeof(sim_abort_note),
	                   "\nsim: died during a run\nFAII_SIM_SEED=%" PRIu64
	                   "\nsim: replay: FAII_SIM_SEED=%" PRIu64 " %s\n",
	                   options->seed, options->seed,
	                   options->replay_command ? options->replay_command : "<test>");
	FAII_ASSERT(len > 0);
	sim_abort_note_len =
	        len < (int)sizeof(sim_abort_note) ? len : (int)sizeof(sim_abort_note) - 1;
}

const char *sim_outcome_name(enum sim_outcome outcome)
{
	switch (outcome) {
	case SIM_OUTCOME_PASSED: return "passed";
	case SIM_OUTCOME_FAILED_SAFETY: return "safety";
	case SIM_OUTCOME_FAILED_LIVENESS: return "liveness";
	case SIM_OUTCOME_FAILED_STEPS: return "steps";
	}
	FAII_UNREACHABLE();
}

static void sim_fail(struct sim_run *run, enum sim_outcome outcome, const char *fmt, ...)
{
	FAII_ASSERT(outcome != SIM_OUTCOME_PASSED);
	FAII_ASSERT(!run->failed);
	run->failed = true;
	run->result->outcome = outcome;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run->result->reason, sizeof(run->result->reason), fmt, ap);
	va_end(ap);
}

static void sim_views_update(struct sim_run *run, uint32_t node)
{
	const struct sim_node *sim_node = &run->nodes[node];
	FAII_ASSERT(sim_node->up == (sim_node->state != NULL));
	run->views[node] = (struct sim_node_view){
	        .state = sim_node->state,
	        .durable = sim_node->durable,
	        .up = sim_node->up,
	};
}

static int sim_node_boot(struct sim_run *run, uint32_t node, bool restarted)
{
	struct sim_node *sim_node = &run->nodes[node];
	FAII_ASSERT(!sim_node->up && sim_node->state == NULL);
	uint64_t core_seed = sim_hash_mix(run->options->seed,
	                                  ((uint64_t)(SIM_HARNESS_PRNG_STREAM_CORE + node) << 32) |
	                                          sim_node->boots);
	const struct sim_core_env env = {
	        .node = node,
	        .node_count = run->options->node_count,
	        .transport = sim_net_transport(run->net, node),
	        .clock = sim_clock_of(&sim_node->clock),
	        .seed = core_seed,
	        .durable = sim_node->durable,
	        .durable_bytes = run->core->durable_bytes,
	        .restarted = restarted,
	        .ctx = run->core->ctx,
	};
	void *state = NULL;
	int rc = run->core->init(&env, &state);
	if (rc < 0)
		return rc;
	FAII_ASSERT_MSG(state != NULL, "core %s: init returned no state", run->core->name);
	sim_node->state = state;
	sim_node->up = true;
	sim_node->boots++;
	/* A random phase, so that nodes do not tick in lock step. */
	sim_node->next_tick_ns =
	        run->now_ns + sim_prng_between(&run->setup_prng, 1, run->core->tick_interval_ns);
	sim_views_update(run, node);
	return 0;
}

static void sim_node_crash(struct sim_run *run, uint32_t node)
{
	const struct sim_fault_options *faults = &run->options->faults;
	struct sim_node *sim_node = &run->nodes[node];
	FAII_ASSERT(sim_node->up && !run->faults_over);
	FAII_ASSERT(run->crashed_count < faults->crashed_nodes_max);
	run->core->fini(sim_node->state);
	sim_node->state = NULL;
	sim_node->up = false;
	sim_node->restart_at_ns =
	        run->now_ns +
	        sim_prng_between(&run->faults_prng, faults->down_ns_min, faults->down_ns_max);
	sim_net_node_crash(run->net, node);
	run->crashed_count++;
	run->result->crashes++;
	sim_views_update(run, node);
}

static void sim_node_restart(struct sim_run *run, uint32_t node)
{
	struct sim_node *sim_node = &run->nodes[node];
	FAII_ASSERT(!sim_node->up && run->crashed_count > 0);
	sim_net_node_restart(run->net, node);
	/* A new boot: CLOCK_MONOTONIC starts again from an arbitrary origin. */
	sim_clock_reboot(&sim_node->clock,
	                 sim_prng_between(&run->setup_prng, 0, 1000 * FAII_NS_PER_S));
	run->crashed_count--;
	int rc = sim_node_boot(run, node, true);
	if (rc < 0)
		sim_fail(run, SIM_OUTCOME_FAILED_SAFETY,
		         "node %u did not restart: init returned %d", node, rc);
}

static uint64_t sim_partition_side(struct sim_run *run)
{
	uint32_t node_count = run->options->node_count;
	uint64_t all_mask = node_count == 64 ? UINT64_MAX : (1ull << node_count) - 1;
	FAII_ASSERT(node_count >= 2);
	/* Half the time one node alone (the common failure), else any split. */
	if (sim_prng_chance(&run->faults_prng, SIM_PRNG_PPM_ONE / 2))
		return 1ull << sim_prng_below(&run->faults_prng, node_count);
	for (uint32_t draw = 0; draw < SIM_HARNESS_PARTITION_DRAWS_MAX; draw++) {
		uint64_t side = sim_prng_u64(&run->faults_prng) & all_mask;
		if (side != 0 && side != all_mask)
			return side;
	}
	return 1ull << sim_prng_below(&run->faults_prng, node_count);
}

static void sim_fault_step(struct sim_run *run)
{
	const struct sim_fault_options *faults = &run->options->faults;
	FAII_ASSERT(!run->faults_over && run->next_fault_step_ns == run->now_ns);
	if (!run->partition_active && run->options->node_count >= 2 &&
	    sim_prng_chance(&run->faults_prng, faults->partition_ppm)) {
		uint64_t side = sim_partition_side(run);
		bool one_way = sim_prng_chance(&run->faults_prng, faults->partition_one_way_ppm);
		sim_net_partition(run->net, side, one_way);
		run->partition_active = true;
		run->heal_at_ns =
		        run->now_ns + sim_prng_between(&run->faults_prng, faults->partition_ns_min,
		                                       faults->partition_ns_max);
		run->result->partitions++;
	}
	if (run->crashed_count < faults->crashed_nodes_max &&
	    sim_prng_chance(&run->faults_prng, faults->crash_ppm)) {
		uint32_t up_count = run->options->node_count - run->crashed_count;
		uint64_t victim_rank = sim_prng_below(&run->faults_prng, up_count);
		for (uint32_t node = 0; node < run->options->node_count; node++) {
			if (run->nodes[node].up && victim_rank-- == 0) {
				sim_node_crash(run, node);
				break;
			}
		}
	}
	run->next_fault_step_ns += faults->fault_step_ns;
}

static void sim_faults_end(struct sim_run *run)
{
	FAII_ASSERT(!run->faults_over);
	run->faults_over = true;
	if (run->partition_active) {
		sim_net_heal(run->net);
		run->partition_active = false;
	}
	for (uint32_t node = 0; node < run->options->node_count && !run->failed; node++) {
		if (!run->nodes[node].up)
			sim_node_restart(run, node);
	}
	FAII_ASSERT(run->failed || run->crashed_count == 0);
}

static void sim_deliver(struct sim_run *run)
{
	struct sim_net_delivery delivery;
	if (!sim_net_pop(run->net, &delivery))
		return; /* dropped on arrival: the step is the drop */
	struct sim_node *receiver = &run->nodes[delivery.to];
	FAII_ASSERT(receiver->up && delivery.from != delivery.to);
	FAII_ASSERT(delivery.len > 0 && delivery.len <= run->options->net.message_bytes_max);
	run->core->on_message(receiver->state, delivery.from, delivery.bytes, delivery.len);
	sim_net_release(run->net);
}

static void sim_tick(struct sim_run *run, uint32_t node)
{
	struct sim_node *sim_node = &run->nodes[node];
	FAII_ASSERT(sim_node->up && sim_node->next_tick_ns == run->now_ns);
	uint64_t monotonic_ns = faii_clock_monotonic_ns(sim_clock_of(&sim_node->clock));
	run->core->on_tick(sim_node->state, monotonic_ns);
	sim_node->next_tick_ns += run->core->tick_interval_ns;
	run->result->ticks++;
}

static void sim_event_consider(struct sim_event *best, enum sim_event_kind kind, uint64_t at_ns,
                               uint32_t node)
{
	/* Strictly earlier only: among equal times the first considered wins. */
	if (best->kind == SIM_EVENT_NONE || at_ns < best->at_ns)
		*best = (struct sim_event){.kind = kind, .at_ns = at_ns, .node = node};
}

static struct sim_event sim_next_event(const struct sim_run *run)
{
	struct sim_event best = {.kind = SIM_EVENT_NONE};
	uint32_t node_count = run->options->node_count;
	if (!run->faults_over)
		sim_event_consider(&best, SIM_EVENT_FAULTS_END, run->options->faults.faults_end_ns,
		                   0);
	if (run->partition_active)
		sim_event_consider(&best, SIM_EVENT_HEAL, run->heal_at_ns, 0);
	for (uint32_t node = 0; node < node_count; node++) {
		if (!run->nodes[node].up)
			sim_event_consider(&best, SIM_EVENT_RESTART, run->nodes[node].restart_at_ns,
			                   node);
	}
	if (!run->faults_over && run->next_fault_step_ns < run->options->faults.faults_end_ns)
		sim_event_consider(&best, SIM_EVENT_FAULT_STEP, run->next_fault_step_ns, 0);
	uint64_t deliver_at_ns;
	if (sim_net_next_delivery_ns(run->net, &deliver_at_ns))
		sim_event_consider(&best, SIM_EVENT_DELIVERY, deliver_at_ns, 0);
	for (uint32_t node = 0; node < node_count; node++) {
		if (run->nodes[node].up)
			sim_event_consider(&best, SIM_EVENT_TICK, run->nodes[node].next_tick_ns,
			                   node);
	}
	return best;
}

static void sim_event_run(struct sim_run *run, const struct sim_event *event)
{
	switch (event->kind) {
	case SIM_EVENT_FAULTS_END: sim_faults_end(run); break;
	case SIM_EVENT_HEAL:
		FAII_ASSERT(run->partition_active);
		sim_net_heal(run->net);
		run->partition_active = false;
		break;
	case SIM_EVENT_RESTART: sim_node_restart(run, event->node); break;
	case SIM_EVENT_FAULT_STEP: sim_fault_step(run); break;
	case SIM_EVENT_DELIVERY: sim_deliver(run); break;
	case SIM_EVENT_TICK: sim_tick(run, event->node); break;
	case SIM_EVENT_NONE: FAII_UNREACHABLE();
	}
}

static void sim_event_trace(struct sim_run *run, const struct sim_event *event)
{
	run->trace_hash = sim_hash_mix(run->trace_hash, ((uint64_t)event->kind << 56) |
	                                                        ((uint64_t)event->node << 48));
	run->trace_hash = sim_hash_mix(run->trace_hash, event->at_ns);
	if (run->options->trace != NULL)
		fprintf(run->options->trace, "%12" PRIu64 " step %-10s node %2u\n", event->at_ns,
		        sim_event_names[event->kind], event->node);
}

static void sim_check(struct sim_run *run)
{
	char reason[SIM_HARNESS_REASON_BYTES_MAX] = "";
	if (!run->core->check(run->core->ctx, run->views, run->options->node_count, reason,
	                      sizeof(reason)))
		sim_fail(run, SIM_OUTCOME_FAILED_SAFETY, "%s", reason[0] ? reason : "(no reason)");
}

/* One event: pick, advance time, run, check. False when the run is over. */
static bool sim_step(struct sim_run *run)
{
	struct sim_harness_result *result = run->result;
	if (result->steps >= run->options->steps_max) {
		sim_fail(run, SIM_OUTCOME_FAILED_STEPS, "%" PRIu64 " steps without converging",
		         result->steps);
		return false;
	}
	struct sim_event event = sim_next_event(run);
	FAII_ASSERT_MSG(event.kind != SIM_EVENT_NONE, "no event: no node is up");
	FAII_ASSERT(event.at_ns >= run->now_ns);
	if (event.at_ns > run->deadline_ns) {
		sim_fail(run, SIM_OUTCOME_FAILED_LIVENESS,
		         "not converged %" PRIu64 " ms after the faults ended",
		         (uint64_t)(run->options->liveness_ns_max / FAII_NS_PER_MS));
		return false;
	}
	run->now_ns = event.at_ns;
	sim_event_trace(run, &event);
	sim_event_run(run, &event);
	result->steps++;
	if (!run->failed)
		sim_check(run);
	if (run->failed)
		return false;
	if (run->faults_over &&
	    run->core->converged(run->core->ctx, run->views, run->options->node_count)) {
		result->converged_ns = run->now_ns;
		result->recovery_ns = run->now_ns - run->options->faults.faults_end_ns;
		FAII_ASSERT(result->recovery_ns <= run->options->liveness_ns_max);
		return false;
	}
	return true;
}

static int sim_options_check(const struct sim_core *core, const struct sim_harness_options *options)
{
	const struct sim_fault_options *faults = &options->faults;
	FAII_ASSERT(core->init && core->on_message && core->on_tick && core->fini);
	FAII_ASSERT(core->check && core->converged && core->name);
	if (core->durable_bytes > SIM_HARNESS_DURABLE_BYTES_MAX ||
	    core->tick_interval_ns < SIM_HARNESS_TICK_NS_MIN)
		return -EINVAL;
	if (options->node_count == 0 || options->node_count > SIM_HARNESS_NODES_MAX ||
	    options->node_count != options->net.node_count)
		return -EINVAL;
	if (options->steps_max == 0 || options->steps_max > SIM_HARNESS_STEPS_MAX)
		return -EINVAL;
	if (faults->faults_end_ns > SIM_HARNESS_TIME_NS_MAX ||
	    options->liveness_ns_max > SIM_HARNESS_TIME_NS_MAX - faults->faults_end_ns)
		return -EINVAL;
	if (faults->fault_step_ns == 0 || faults->partition_ns_min > faults->partition_ns_max ||
	    faults->down_ns_min > faults->down_ns_max ||
	    faults->crashed_nodes_max > options->node_count)
		return -EINVAL;
	if (faults->partition_ppm > SIM_PRNG_PPM_ONE || faults->crash_ppm > SIM_PRNG_PPM_ONE ||
	    faults->partition_one_way_ppm > SIM_PRNG_PPM_ONE)
		return -EINVAL;
	return 0;
}

static int sim_run_setup(struct sim_run *run)
{
	const struct sim_harness_options *options = run->options;
	int rc = sim_net_create(&run->net, &options->net, options->seed, &run->now_ns);
	if (rc < 0)
		return rc;
	sim_net_set_trace(run->net, options->trace);
	sim_prng_stream(&run->faults_prng, options->seed, SIM_HARNESS_PRNG_STREAM_FAULTS);
	sim_prng_stream(&run->setup_prng, options->seed, SIM_HARNESS_PRNG_STREAM_SETUP);
	size_t durable_bytes = run->core->durable_bytes;
	run->durable_all = calloc(options->node_count, durable_bytes > 0 ? durable_bytes : 1);
	if (run->durable_all == NULL)
		return -ENOMEM;
	for (uint32_t node = 0; node < options->node_count; node++) {
		struct sim_node *sim_node = &run->nodes[node];
		sim_node->durable = run->durable_all + (size_t)node * durable_bytes;
		int64_t skew_ns =
		        (int64_t)sim_prng_between(&run->setup_prng, 0, 2 * SIM_CLOCK_SKEW_NS_MAX) -
		        (int64_t)SIM_CLOCK_SKEW_NS_MAX;
		sim_clock_init(&sim_node->clock, &run->now_ns,
		               sim_prng_between(&run->setup_prng, 0, 1000 * FAII_NS_PER_S),
		               skew_ns);
		sim_views_update(run, node);
	}
	for (uint32_t node = 0; node < options->node_count; node++) {
		rc = sim_node_boot(run, node, false);
		if (rc < 0)
			return rc;
	}
	run->next_fault_step_ns = options->faults.fault_step_ns;
	run->deadline_ns = options->faults.faults_end_ns + options->liveness_ns_max;
	run->trace_hash = options->seed;
	return 0;
}

static void sim_run_teardown(struct sim_run *run)
{
	for (uint32_t node = 0; node < run->options->node_count; node++) {
		if (run->nodes[node].up)
			run->core->fini(run->nodes[node].state);
		run->nodes[node].state = NULL;
		run->nodes[node].up = false;
	}
	sim_net_destroy(run->net);
	free(run->durable_all);
}

static void sim_report_failure(const struct sim_run *run)
{
	const struct sim_harness_options *options = run->options;
	const struct sim_harness_result *result = run->result;
	FILE *out = options->report != NULL ? options->report : stderr;
	fprintf(out,
	        "sim: core %s FAILED (%s) at step %" PRIu64 ", %" PRIu64 ".%09" PRIu64
	        " s simulated: %s\n",
	        run->core->name, sim_outcome_name(result->outcome), result->steps,
	        (uint64_t)(result->sim_ns / FAII_NS_PER_S),
	        (uint64_t)(result->sim_ns % FAII_NS_PER_S), result->reason);
	sim_harness_options_print(out, options);
	const struct sim_net_stats *net = &result->net;
	fprintf(out,
	        "sim: net: sent %" PRIu64 " delivered %" PRIu64 " duplicated %" PRIu64
	        " reordered %" PRIu64 " dropped loss %" PRIu64 " partition %" PRIu64
	        " node-down %" PRIu64 " queue-full %" PRIu64 "; crashes %" PRIu64
	        " partitions %" PRIu64 "\n",
	        net->sent, net->delivered, net->duplicated, net->reordered, net->dropped_loss,
	        net->dropped_partition, net->dropped_node_down, net->dropped_queue_full,
	        result->crashes, result->partitions);
	fprintf(out, "FAII_SIM_SEED=%" PRIu64 "\n", options->seed);
	fprintf(out, "sim: replay: FAII_SIM_SEED=%" PRIu64 " %s\n", options->seed,
	        options->replay_command != NULL ? options->replay_command : "<this test>");
	fflush(out);
}

int sim_harness_run(const struct sim_core *core, const struct sim_harness_options *options,
                    struct sim_harness_result *result)
{
	FAII_ASSERT(core != NULL && options != NULL && result != NULL);
	int rc = sim_options_check(core, options);
	if (rc < 0)
		return rc;
	struct sim_run *run = calloc(1, sizeof(*run));
	if (run == NULL)
		return -ENOMEM;
	*result = (struct sim_harness_result){.outcome = SIM_OUTCOME_PASSED};
	*run = (struct sim_run){.core = core, .options = options, .result = result};
	sim_abort_note_arm(options);
	rc = sim_run_setup(run);
	if (rc == 0) {
		sim_check(run);
		while (!run->failed && sim_step(run)) {
		}
		FAII_ASSERT(run->failed == (result->outcome != SIM_OUTCOME_PASSED));
		FAII_ASSERT(run->failed || result->converged_ns >= options->faults.faults_end_ns);
		result->sim_ns = run->now_ns;
		result->net = *sim_net_stats(run->net);
		result->trace_hash = sim_hash_mix(run->trace_hash, sim_net_trace_hash(run->net));
		if (run->failed)
			sim_report_failure(run);
	}
	sim_run_teardown(run);
	free(run);
	sim_abort_note_len = 0;
	return rc;
}

/* Durations for people; integer division in uint64_t, printed with PRIu64. */
static uint64_t sim_us(uint64_t ns)
{
	return ns / FAII_NS_PER_US;
}

static uint64_t sim_ms(uint64_t ns)
{
	return ns / FAII_NS_PER_MS;
}

void sim_harness_options_print(FILE *out, const struct sim_harness_options *options)
{
	const struct sim_net_options *net = &options->net;
	const struct sim_fault_options *faults = &options->faults;
	fprintf(out,
	        "sim: nodes %u; latency min %" PRIu64 " us mean %" PRIu64 " us jitter %" PRIu64
	        " us; drop %u ppm dup %u ppm reorder %u ppm (+%" PRIu64
	        " ms); queue %u; partition %u ppm one-way %u ppm (%" PRIu64 "..%" PRIu64
	        " ms); crash %u ppm max %u down (%" PRIu64 "..%" PRIu64 " ms); faults end %" PRIu64
	        " ms; liveness %" PRIu64 " ms\n",
	        options->node_count, sim_us(net->latency_min_ns), sim_us(net->latency_mean_ns),
	        sim_us(net->latency_jitter_ns), net->drop_ppm, net->duplicate_ppm, net->reorder_ppm,
	        sim_ms(net->reorder_delay_ns_max), net->in_flight_messages_max,
	        faults->partition_ppm, faults->partition_one_way_ppm,
	        sim_ms(faults->partition_ns_min), sim_ms(faults->partition_ns_max),
	        faults->crash_ppm, faults->crashed_nodes_max, sim_ms(faults->down_ns_min),
	        sim_ms(faults->down_ns_max), sim_ms(faults->faults_end_ns),
	        sim_ms(options->liveness_ns_max));
}

/* The ranges that swarm options are drawn from. */
#define SIM_SWARM_MESSAGE_BYTES_MAX        1024u
#define SIM_SWARM_IN_FLIGHT_MESSAGES       4096u
#define SIM_SWARM_IN_FLIGHT_MESSAGES_SMALL 128u /* sometimes: to exercise a full queue */
#define SIM_SWARM_LATENCY_MIN_NS_MAX       (2 * FAII_NS_PER_MS)
#define SIM_SWARM_LATENCY_SPREAD_NS_MAX    (20 * FAII_NS_PER_MS) /* mean - min */
#define SIM_SWARM_JITTER_NS_MAX            (10 * FAII_NS_PER_MS)
#define SIM_SWARM_DROP_PPM_MAX             200000u
#define SIM_SWARM_DUPLICATE_PPM_MAX        100000u
#define SIM_SWARM_REORDER_PPM_MAX          200000u
#define SIM_SWARM_REORDER_DELAY_NS_MAX     (500 * FAII_NS_PER_MS)
#define SIM_SWARM_FAULT_STEP_NS            (100 * FAII_NS_PER_MS)
#define SIM_SWARM_FAULTS_END_NS_MIN        (1 * FAII_NS_PER_S)
#define SIM_SWARM_FAULTS_END_NS_MAX        (10 * FAII_NS_PER_S)
#define SIM_SWARM_PARTITION_PPM_MAX        300000u
#define SIM_SWARM_PARTITION_NS_MIN         (50 * FAII_NS_PER_MS)
#define SIM_SWARM_PARTITION_NS_MAX         (3 * FAII_NS_PER_S)
#define SIM_SWARM_CRASH_PPM_MAX            100000u
#define SIM_SWARM_DOWN_NS_MIN              (50 * FAII_NS_PER_MS)
#define SIM_SWARM_DOWN_NS_MAX              (3 * FAII_NS_PER_S)
#define SIM_SWARM_LIVENESS_NS              (30 * FAII_NS_PER_S)
#define SIM_SWARM_STEPS_MAX                (10ull * 1000 * 1000)

FAII_STATIC_ASSERT(SIM_SWARM_LATENCY_MIN_NS_MAX + 2 * SIM_SWARM_LATENCY_SPREAD_NS_MAX +
                                   SIM_SWARM_JITTER_NS_MAX + SIM_SWARM_REORDER_DELAY_NS_MAX <=
                           SIM_NET_LATENCY_NS_MAX,
                   "every swarm latency is a valid sim_net latency");
FAII_STATIC_ASSERT(SIM_SWARM_FAULTS_END_NS_MAX + SIM_SWARM_LIVENESS_NS <= SIM_HARNESS_TIME_NS_MAX,
                   "a swarm run fits the harness's time bound");

/* A fault kind is off in one run out of four, so quiet runs are tested too. */
static uint32_t sim_swarm_ppm(struct sim_prng *prng, uint32_t ppm_max)
{
	if (sim_prng_chance(prng, SIM_PRNG_PPM_ONE / 4))
		return 0;
	return (uint32_t)sim_prng_between(prng, 0, ppm_max);
}

static void sim_swarm_net(struct sim_net_options *net, struct sim_prng *prng)
{
	net->in_flight_messages_max = sim_prng_chance(prng, SIM_PRNG_PPM_ONE / 10)
	                                      ? SIM_SWARM_IN_FLIGHT_MESSAGES_SMALL
	                                      : SIM_SWARM_IN_FLIGHT_MESSAGES;
	net->message_bytes_max = SIM_SWARM_MESSAGE_BYTES_MAX;
	net->latency_min_ns = sim_prng_between(prng, FAII_NS_PER_US, SIM_SWARM_LATENCY_MIN_NS_MAX);
	net->latency_mean_ns =
	        net->latency_min_ns + sim_prng_between(prng, 0, SIM_SWARM_LATENCY_SPREAD_NS_MAX);
	net->latency_jitter_ns = sim_prng_between(prng, 0, SIM_SWARM_JITTER_NS_MAX);
	net->drop_ppm = sim_swarm_ppm(prng, SIM_SWARM_DROP_PPM_MAX);
	net->duplicate_ppm = sim_swarm_ppm(prng, SIM_SWARM_DUPLICATE_PPM_MAX);
	net->reorder_ppm = sim_swarm_ppm(prng, SIM_SWARM_REORDER_PPM_MAX);
	net->reorder_delay_ns_max = sim_prng_between(prng, 0, SIM_SWARM_REORDER_DELAY_NS_MAX);
}

static void sim_swarm_faults(struct sim_fault_options *faults, uint32_t node_count,
                             struct sim_prng *prng)
{
	faults->fault_step_ns = SIM_SWARM_FAULT_STEP_NS;
	faults->faults_end_ns =
	        sim_prng_between(prng, SIM_SWARM_FAULTS_END_NS_MIN, SIM_SWARM_FAULTS_END_NS_MAX);
	faults->partition_ppm = sim_swarm_ppm(prng, SIM_SWARM_PARTITION_PPM_MAX);
	faults->partition_one_way_ppm = SIM_PRNG_PPM_ONE / 2;
	faults->partition_ns_min = SIM_SWARM_PARTITION_NS_MIN;
	faults->partition_ns_max =
	        sim_prng_between(prng, SIM_SWARM_PARTITION_NS_MIN, SIM_SWARM_PARTITION_NS_MAX);
	faults->crash_ppm = sim_swarm_ppm(prng, SIM_SWARM_CRASH_PPM_MAX);
	/* f of n = 3f + 1, at least one when there is someone else to carry on. */
	uint32_t f = (node_count - 1) / 3;
	faults->crashed_nodes_max = node_count >= 2 && f == 0 ? 1 : f;
	faults->down_ns_min = SIM_SWARM_DOWN_NS_MIN;
	faults->down_ns_max = sim_prng_between(prng, SIM_SWARM_DOWN_NS_MIN, SIM_SWARM_DOWN_NS_MAX);
}

void sim_harness_options_swarm(struct sim_harness_options *options, uint64_t seed,
                               uint32_t nodes_min, uint32_t nodes_max)
{
	FAII_ASSERT(nodes_min >= 1 && nodes_min <= nodes_max);
	FAII_ASSERT(nodes_max <= SIM_HARNESS_NODES_MAX);
	struct sim_prng prng;
	sim_prng_stream(&prng, seed, SIM_HARNESS_PRNG_STREAM_SWARM);
	*options = (struct sim_harness_options){
	        .seed = seed,
	        .node_count = (uint32_t)sim_prng_between(&prng, nodes_min, nodes_max),
	        .liveness_ns_max = SIM_SWARM_LIVENESS_NS,
	        .steps_max = SIM_SWARM_STEPS_MAX,
	};
	options->net.node_count = options->node_count;
	sim_swarm_net(&options->net, &prng);
	sim_swarm_faults(&options->faults, options->node_count, &prng);
	FAII_ASSERT(options->faults.crashed_nodes_max < options->node_count ||
	            options->node_count == 1);
}

static int sim_env_u64(const char *name, uint64_t *value, bool *present)
{
	const char *text = getenv(name);
	*present = text != NULL && text[0] != '\0';
	if (!*present)
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long long parsed = strtoull(text, &end, 0);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
		return -EINVAL;
	*value = parsed;
	return 0;
}

int sim_seed_plan_from_env(struct sim_seed_plan *plan, uint64_t ci_first, uint64_t ci_count)
{
	FAII_ASSERT(plan != NULL && ci_count > 0);
	*plan = (struct sim_seed_plan){.first = ci_first, .count = ci_count};
	uint64_t value = 0;
	bool present = false;
	if (sim_env_u64("FAII_SIM_SEED", &value, &present) < 0)
		return -EINVAL;
	if (present) {
		*plan = (struct sim_seed_plan){.first = value, .count = 1, .replay = true};
		return 0;
	}
	if (sim_env_u64("FAII_SIM_SEEDS", &value, &present) < 0 || (present && value == 0))
		return -EINVAL;
	if (present) {
		/* A soak explores: its base comes from the host, and every failure
		 * prints its own seed, so it replays like any other. */
		uint64_t base = faii_realtime_ns() ^ ((uint64_t)getpid() << 32);
		uint64_t state = base;
		*plan = (struct sim_seed_plan){
		        .first = sim_splitmix64(&state), .count = value, .soak = true};
	}
	return 0;
}
