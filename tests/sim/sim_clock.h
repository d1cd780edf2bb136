/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A struct faii_clock whose time moves only when the simulation moves it.
 *
 * The simulation keeps one time, sim_now_ns: nanoseconds since the run
 * began, advanced by the harness from event to event and never by a read.
 * Each node sees that time through its own sim_clock:
 *
 *   monotonic = boot origin + sim_now_ns - boot time of the node
 *               (a restarted node's monotonic clock starts again from a new
 *               origin, as CLOCK_MONOTONIC does after a reboot)
 *   realtime  = SIM_CLOCK_EPOCH_BASE_NS + sim_now_ns + skew of the node
 *               (nodes disagree on wall time by a fixed skew drawn from the
 *               seed, as NTP-disciplined machines do by milliseconds)
 *
 * Single-threaded, like all of tests/sim/. Reading never fails.
 */
#ifndef FAII_SIM_CLOCK_H
#define FAII_SIM_CLOCK_H

#include <stdint.h>

#include "faii/clock.h"

/* Simulated runs start at 2026-01-01T00:00:00Z: a fixed, plausible wall time
 * so that time stamps in a replay are the same as in the failing run. */
#define SIM_CLOCK_EPOCH_BASE_NS (1767225600ull * FAII_NS_PER_S)

/* The largest wall-clock skew between a node and the simulation's time. */
#define SIM_CLOCK_SKEW_NS_MAX (10ull * FAII_NS_PER_S)

struct sim_clock {
	struct faii_clock clock;    /* what code under test receives */
	const uint64_t *sim_now_ns; /* the simulation's time, owned by the harness */
	uint64_t boot_sim_ns;       /* sim_now_ns when the node last (re)started */
	uint64_t boot_monotonic_ns; /* its monotonic reading at that moment */
	int64_t realtime_skew_ns;   /* |skew| <= SIM_CLOCK_SKEW_NS_MAX */
	uint64_t monotonic_last_ns; /* the last reading, to assert it never goes back */
};

void sim_clock_init(struct sim_clock *sim_clock, const uint64_t *sim_now_ns,
                    uint64_t boot_monotonic_ns, int64_t realtime_skew_ns);

/* The node restarted now: its monotonic clock restarts from a new origin. */
void sim_clock_reboot(struct sim_clock *sim_clock, uint64_t boot_monotonic_ns);

static inline const struct faii_clock *sim_clock_of(const struct sim_clock *sim_clock)
{
	return &sim_clock->clock;
}

#endif /* FAII_SIM_CLOCK_H */
