/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * splitmix64 for the unit tests' seeded runs: small, deterministic across
 * platforms, good enough for synthetic inputs. Each test seeds its own.
 */
#ifndef FAII_TEST_RNG_H
#define FAII_TEST_RNG_H

#include <stdint.h>

struct test_rng {
	uint64_t state;
};

static inline uint64_t test_rng_next(struct test_rng *rng)
{
	uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double test_rng_uniform(struct test_rng *rng, double lo, double hi)
{
	return lo + (hi - lo) * (double)(test_rng_next(rng) >> 11) / (double)(1ull << 53);
}

#endif /* FAII_TEST_RNG_H */
