/* SPDX-License-Identifier: BSD-3-Clause */
/* The system's clocks behind struct faii_clock: see include/faii/clock.h. */
#include "faii/clock.h"

static uint64_t system_realtime_ns(const struct faii_clock *clock)
{
	(void)clock;
	return faii_realtime_ns();
}

static uint64_t system_monotonic_ns(const struct faii_clock *clock)
{
	(void)clock;
	return faii_monotonic_ns();
}

const struct faii_clock faii_clock_system = {
        .realtime_ns = system_realtime_ns,
        .monotonic_ns = system_monotonic_ns,
        .ctx = NULL,
};
