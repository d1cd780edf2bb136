/* SPDX-License-Identifier: BSD-3-Clause */
/* What both settlement benchmarks share: the parameters they pay with (the
 * paper's calibrated tier factors 1, 2.221, 3.476, 4.333 and congestion on
 * every tier but the first), the thread's CPU clock and a small PRNG. */
#ifndef FAII_BENCH_SETTLE_H
#define FAII_BENCH_SETTLE_H

#include <stdint.h>
#include <time.h>

#include "faii/settle.h"

/* The thread's CPU time in ms: on a shared machine wall time measures the
 * neighbours; a single-threaded step's CPU time is its latency on an idle
 * core. */
static inline double bench_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A 64-bit LCG's high bits: inputs that are the same in every run. */
static inline uint64_t bench_next(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 11;
}

static inline struct faii_settle_params bench_settle_params(void)
{
	return (struct faii_settle_params){
	        .availability_rate = 1000,
	        .work_rate = 10,
	        .theta0_ppb = {1000000000, 2221000000, 3476000000, 4333000000},
	        .gamma_ppb = {0, 500000000, 300000000, 200000000},
	        .queue_ppb = {100000000, 200000000, 300000000, 400000000},
	        .slo_target_ppb = {900000000, 900000000, 950000000, 950000000},
	        .slo_alpha = {1, 2, 2, 3},
	        .slo_max_ppb = {1200000000, 1200000000, 1200000000, 1200000000},
	        .esg_xi_ppb = 500000000,
	        .esg_baseline_ppb = 300000000,
	        .esg_max_ppb = 1250000000,
	        .diversity_eta_ppb = 500000000,
	        .class_share_max_ppb = 400000000,
	        .energy_price = 2,
	        .opex_price = 1,
	        .penalty_price = 100,
	        .payout_cap = {1000000, 2000000, 4000000, 8000000, 16000000},
	};
}

#endif /* FAII_BENCH_SETTLE_H */
