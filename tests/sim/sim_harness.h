/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulation harness: N appliance cores in one process, one thread,
 * one seed.
 *
 * A core is the event-driven heart of an appliance that must agree with
 * the others (the ledger's consensus in production; the harness's self-test
 * core in tests/sim/sim_selftest_core.c). It sees the world only through
 * struct sim_core_env: a struct faii_transport to its peers, a struct
 * faii_clock, and a durable region that survives its crashes. The harness
 * owns everything else:
 *
 *   loop, at most steps_max times:
 *     take the earliest event: a fault (partition, heal, crash, restart),
 *       a message delivery (sim_net.h), or a node's tick; ties go in that
 *       order, then by node index, so the order is total;
 *     advance simulated time to it (time never moves otherwise);
 *     run it: the node's on_message(from, bytes, len) or on_tick(now);
 *     check(): the core's safety invariants over every node; a violation
 *       ends the run at once;
 *     after the faults end (faults.faults_end_ns: partitions healed, every
 *       node restarted, no new faults; loss, duplication and reordering go
 *       on), converged() must become true within liveness_ns_max, or the
 *       run fails for liveness.
 *
 * A crash calls fini() on the node's state (the process died: fini frees
 * memory and does nothing else) and loses its messages in flight; a restart
 * calls init() again with env.restarted set and the same durable bytes.
 * Crashes happen between steps, so a durable write is never torn here; the
 * simulated disk (tests/sim/sim_disk.*) is where torn and lost writes live.
 *
 * Determinism: everything random comes from the seed through sim_prng.h
 * streams, nothing reads the host's clock, no decision depends on a pointer
 * value. The trace hash folds in every event and every network decision;
 * the same seed gives the same hash, and a failing seed replays exactly.
 *
 * Error convention: sim_harness_run() returns 0 when the run happened (its
 * verdict is in the result) or a negative errno when it could not start
 * (-EINVAL options, -ENOMEM, or the core's init error).
 */
#ifndef FAII_SIM_HARNESS_H
#define FAII_SIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "faii/clock.h"
#include "faii/transport.h"
#include "sim_net.h"

#define SIM_HARNESS_NODES_MAX         FAII_VALIDATORS_MAX
#define SIM_HARNESS_STEPS_MAX         (100ull * 1000 * 1000)    /* bound on options.steps_max */
#define SIM_HARNESS_TIME_NS_MAX       (3600ull * FAII_NS_PER_S) /* simulated, per run */
#define SIM_HARNESS_DURABLE_BYTES_MAX (64u << 20)               /* per node */
#define SIM_HARNESS_REASON_BYTES_MAX  256u
#define SIM_HARNESS_TICK_NS_MIN       FAII_NS_PER_US /* a core ticks at most this often */

/* What a node's core is given at init; valid until its fini. */
struct sim_core_env {
	uint32_t node;       /* its validator index */
	uint32_t node_count; /* the committee's size */
	struct faii_transport *transport;
	const struct faii_clock *clock;
	uint64_t seed;        /* for the core's own randomness: differs per node and boot */
	uint8_t *durable;     /* durable_bytes that survive crashes; all zero at first boot */
	size_t durable_bytes; /* the core's durable_bytes */
	bool restarted;       /* false at first boot, true after a crash */
	void *ctx;            /* struct sim_core.ctx, shared by every node */
};

/* One node as check() and converged() see it. */
struct sim_node_view {
	const void *state;      /* NULL while the node is down */
	const uint8_t *durable; /* always there */
	bool up;
};

/*
 * A core plugs into the harness through this table. The consensus core
 * provides one with on_message and on_tick as its own entry points, so
 * that the code under simulation is the code in production.
 */
struct sim_core {
	const char *name;
	size_t durable_bytes;      /* <= SIM_HARNESS_DURABLE_BYTES_MAX */
	uint64_t tick_interval_ns; /* >= SIM_HARNESS_TICK_NS_MIN */
	void *ctx;                 /* configuration and checker state of the test */

	/* 0 and *state_out set, or a negative errno (the run does not start). */
	int (*init)(const struct sim_core_env *env, void **state_out);
	faii_transport_receive_fn *on_message; /* receiver = the node's state */
	void (*on_tick)(void *state, uint64_t now_monotonic_ns);
	/* The node died: free its state, send and write nothing. */
	void (*fini)(void *state);

	/*
	 * Safety, after every step, across every node: true when the
	 * invariants hold; otherwise false with the first violation in
	 * `reason`. May keep incremental state in ctx.
	 */
	bool (*check)(void *ctx, const struct sim_node_view *nodes, uint32_t node_count,
	              char *reason, size_t reason_bytes);
	/* Liveness: the run's goal is reached (e.g. every entry everywhere). */
	bool (*converged)(void *ctx, const struct sim_node_view *nodes, uint32_t node_count);
};

/* The fault schedule. Chances are drawn once per fault_step_ns. */
struct sim_fault_options {
	uint64_t fault_step_ns;
	uint64_t faults_end_ns; /* then: heal, restart all, no new partitions or crashes */
	uint32_t partition_ppm; /* a partition starts (when none is active) */
	uint32_t partition_one_way_ppm;
	uint64_t partition_ns_min;
	uint64_t partition_ns_max;
	uint32_t crash_ppm;         /* one up node crashes */
	uint32_t crashed_nodes_max; /* down at once; f for a BFT core */
	uint64_t down_ns_min;
	uint64_t down_ns_max;
};

struct sim_harness_options {
	uint64_t seed;
	uint32_t node_count; /* 1..SIM_HARNESS_NODES_MAX, equal to net.node_count */
	struct sim_net_options net;
	struct sim_fault_options faults;
	uint64_t liveness_ns_max; /* after faults_end_ns */
	uint64_t steps_max;       /* <= SIM_HARNESS_STEPS_MAX */
	FILE *report;             /* the verdict of a failed run; NULL: stderr */
	FILE *trace;              /* every event; NULL: none */
	/* Printed after FAII_SIM_SEED=<seed> as the replay command. */
	const char *replay_command;
};

enum sim_outcome {
	SIM_OUTCOME_PASSED,
	SIM_OUTCOME_FAILED_SAFETY,   /* check() returned false */
	SIM_OUTCOME_FAILED_LIVENESS, /* not converged liveness_ns_max after the faults */
	SIM_OUTCOME_FAILED_STEPS,    /* steps_max reached first: a livelock or a bound too low */
};

struct sim_harness_result {
	enum sim_outcome outcome;
	uint64_t steps;
	uint64_t sim_ns;       /* simulated time at the end */
	uint64_t converged_ns; /* when converged() first held after the faults */
	uint64_t recovery_ns;  /* converged_ns - faults_end_ns: what liveness_ns_max bounds */
	uint64_t trace_hash;
	uint64_t crashes;
	uint64_t partitions;
	uint64_t ticks;
	struct sim_net_stats net;
	char reason[SIM_HARNESS_REASON_BYTES_MAX];
};

/*
 * Options drawn from the seed ("swarm testing"): node count in
 * [nodes_min, nodes_max], latencies, every fault kind with its own chance
 * (each sometimes off, so quiet networks are tested too), fault horizon.
 * The same seed always gives the same options: a replay needs the seed only.
 */
void sim_harness_options_swarm(struct sim_harness_options *options, uint64_t seed,
                               uint32_t nodes_min, uint32_t nodes_max);

int sim_harness_run(const struct sim_core *core, const struct sim_harness_options *options,
                    struct sim_harness_result *result);

const char *sim_outcome_name(enum sim_outcome outcome);

/* One line: nodes, network and fault options, for reports. */
void sim_harness_options_print(FILE *out, const struct sim_harness_options *options);

/*
 * Which seeds a test runs:
 *   FAII_SIM_SEED=n   exactly n (a replay);
 *   FAII_SIM_SEEDS=N  N seeds from a random base, printed (a soak, not CI);
 *   neither           ci_count seeds from ci_first (CI: fixed and bounded).
 * Returns 0 or -EINVAL for an unparsable variable.
 */
struct sim_seed_plan {
	uint64_t first;
	uint64_t count;
	bool replay; /* FAII_SIM_SEED was set */
	bool soak;   /* FAII_SIM_SEEDS was set */
};

int sim_seed_plan_from_env(struct sim_seed_plan *plan, uint64_t ci_first, uint64_t ci_count);

#endif /* FAII_SIM_HARNESS_H */
