/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The two clocks of the slow path: wall time for what leaves the appliance
 * (time stamps, audit records, ages of signals) and monotonic time for
 * intervals. The packet path uses the TSC instead (dataplane/pipeline.c).
 */
#ifndef FAII_CLOCK_H
#define FAII_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME in nanoseconds since the Unix epoch. */
static inline uint64_t faii_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double faii_monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* FAII_CLOCK_H */
