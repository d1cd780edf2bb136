/* SPDX-License-Identifier: BSD-3-Clause */
/* Simulated time behind struct faii_clock: see sim_clock.h. */
#include "sim_clock.h"

#include "faii/assert.h"

static uint64_t sim_clock_monotonic_ns(const struct faii_clock *clock)
{
	struct sim_clock *sim_clock = clock->ctx;
	FAII_ASSERT(&sim_clock->clock == clock);
	uint64_t now_ns = *sim_clock->sim_now_ns;
	FAII_ASSERT_MSG(now_ns >= sim_clock->boot_sim_ns, "simulated time went back: %llu < %llu",
	                (unsigned long long)now_ns, (unsigned long long)sim_clock->boot_sim_ns);
	uint64_t monotonic_ns = sim_clock->boot_monotonic_ns + (now_ns - sim_clock->boot_sim_ns);
	/* CLOCK_MONOTONIC's one promise, kept within a boot. */
	FAII_ASSERT(monotonic_ns >= sim_clock->monotonic_last_ns);
	sim_clock->monotonic_last_ns = monotonic_ns;
	return monotonic_ns;
}

static uint64_t sim_clock_realtime_ns(const struct faii_clock *clock)
{
	const struct sim_clock *sim_clock = clock->ctx;
	FAII_ASSERT(&sim_clock->clock == clock);
	uint64_t now_ns = SIM_CLOCK_EPOCH_BASE_NS + *sim_clock->sim_now_ns;
	/* The base is decades past 0 and the skew is bounded: no wrap either way. */
	FAII_ASSERT(sim_clock->realtime_skew_ns <= (int64_t)SIM_CLOCK_SKEW_NS_MAX);
	FAII_ASSERT(sim_clock->realtime_skew_ns >= -(int64_t)SIM_CLOCK_SKEW_NS_MAX);
	return now_ns + (uint64_t)sim_clock->realtime_skew_ns;
}

void sim_clock_init(struct sim_clock *sim_clock, const uint64_t *sim_now_ns,
                    uint64_t boot_monotonic_ns, int64_t realtime_skew_ns)
{
	FAII_ASSERT(sim_clock != NULL && sim_now_ns != NULL);
	FAII_ASSERT(realtime_skew_ns <= (int64_t)SIM_CLOCK_SKEW_NS_MAX);
	FAII_ASSERT(realtime_skew_ns >= -(int64_t)SIM_CLOCK_SKEW_NS_MAX);
	*sim_clock = (struct sim_clock){
	        .clock =
	                {
	                        .realtime_ns = sim_clock_realtime_ns,
	                        .monotonic_ns = sim_clock_monotonic_ns,
	                        .ctx = sim_clock,
	                },
	        .sim_now_ns = sim_now_ns,
	        .boot_sim_ns = *sim_now_ns,
	        .boot_monotonic_ns = boot_monotonic_ns,
	        .realtime_skew_ns = realtime_skew_ns,
	        .monotonic_last_ns = boot_monotonic_ns,
	};
}

void sim_clock_reboot(struct sim_clock *sim_clock, uint64_t boot_monotonic_ns)
{
	FAII_ASSERT(sim_clock->clock.ctx == sim_clock);
	FAII_ASSERT(*sim_clock->sim_now_ns >= sim_clock->boot_sim_ns);
	sim_clock->boot_sim_ns = *sim_clock->sim_now_ns;
	sim_clock->boot_monotonic_ns = boot_monotonic_ns;
	sim_clock->monotonic_last_ns = boot_monotonic_ns;
}
