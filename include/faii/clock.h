/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time for everything off the packet path.
 *
 * Two readings: wall time (CLOCK_REALTIME) for what leaves the appliance
 * (time stamps, audit records, ages of signed signals) and monotonic time
 * for intervals and deadlines. The packet path reads the TSC instead
 * (dataplane/), converted against a wall-clock base taken at start.
 *
 * struct faii_clock is the seam of deterministic simulation: code that must
 * run under simulated time (the ledger, the consensus, settlement's callers)
 * takes a const struct faii_clock * and never calls clock_gettime() itself.
 * Production passes &faii_clock_system; tests/sim/ passes a clock that only
 * moves when the simulation advances it. The faii_realtime_ns() and
 * faii_monotonic_s() helpers read the system clock directly, for code that
 * is never simulated (the daemon's boot, tools, the exporter).
 *
 * Error convention: none; clocks cannot fail.
 */
#ifndef FAII_CLOCK_H
#define FAII_CLOCK_H

#include <stdint.h>
#include <time.h>

#define FAII_NS_PER_S  1000000000ull
#define FAII_NS_PER_MS 1000000ull
#define FAII_NS_PER_US 1000ull

struct faii_clock {
	/* Nanoseconds since the Unix epoch; may step (NTP, simulation). */
	uint64_t (*realtime_ns)(const struct faii_clock *clock);
	/* Nanoseconds since an arbitrary origin; never decreases. */
	uint64_t (*monotonic_ns)(const struct faii_clock *clock);
	void *ctx; /* the implementation's state */
};

/* The system's clocks (common/clock.c). */
extern const struct faii_clock faii_clock_system;

static inline uint64_t faii_clock_realtime_ns(const struct faii_clock *clock)
{
	return clock->realtime_ns(clock);
}

static inline uint64_t faii_clock_monotonic_ns(const struct faii_clock *clock)
{
	return clock->monotonic_ns(clock);
}

/* CLOCK_REALTIME in nanoseconds since the Unix epoch. */
static inline uint64_t faii_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * FAII_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t faii_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * FAII_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double faii_monotonic_s(void)
{
	return (double)faii_monotonic_ns() * 1e-9;
}

#endif /* FAII_CLOCK_H */
