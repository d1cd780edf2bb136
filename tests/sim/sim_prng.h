/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulation's only source of randomness: xoshiro256** seeded through
 * splitmix64 (both public-domain algorithms by Vigna and Blackman), written
 * here so that a seed means the same run on every libc and every machine.
 * libc's rand() is neither portable across implementations nor
 * independent between components.
 *
 * Each component (network, faults, each core) draws from a stream of its own
 * derived from the run's seed with sim_prng_stream(), so that a change in how
 * often one component draws does not shift every other component's numbers.
 *
 * Probabilities are integers in parts per million: no floating point in a
 * decision, so a seed's run does not depend on the FPU or the compiler.
 */
#ifndef FAII_SIM_PRNG_H
#define FAII_SIM_PRNG_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/assert.h"

#define SIM_PRNG_PPM_ONE 1000000u /* probability 1, in parts per million */

struct sim_prng {
	uint64_t s[4];
};

static inline uint64_t sim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void sim_prng_init(struct sim_prng *prng, uint64_t seed)
{
	uint64_t state = seed;
	for (int i = 0; i < 4; i++)
		prng->s[i] = sim_splitmix64(&state);
	/* xoshiro's one forbidden state; splitmix64 cannot produce four zeros. */
	FAII_ASSERT((prng->s[0] | prng->s[1] | prng->s[2] | prng->s[3]) != 0);
}

/* A stream for one component: the same seed and stream id, the same numbers. */
static inline void sim_prng_stream(struct sim_prng *prng, uint64_t seed, uint64_t stream_id)
{
	uint64_t state = seed ^ (stream_id * 0xd1342543de82ef95ull);
	sim_prng_init(prng, sim_splitmix64(&state));
}

static inline uint64_t sim_prng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_prng_u64(struct sim_prng *prng)
{
	uint64_t *s = prng->s;
	uint64_t result = sim_prng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim_prng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, bound): Lemire's multiply-shift with rejection, no bias. */
static inline uint64_t sim_prng_below(struct sim_prng *prng, uint64_t bound)
{
	FAII_ASSERT(bound > 0);
	uint64_t threshold = (0 - bound) % bound;
	for (;;) {
		unsigned __int128 m = (unsigned __int128)sim_prng_u64(prng) * bound;
		if ((uint64_t)m >= threshold)
			return (uint64_t)(m >> 64);
	}
}

/* Uniform in [low, high], both included. */
static inline uint64_t sim_prng_between(struct sim_prng *prng, uint64_t low, uint64_t high)
{
	FAII_ASSERT(low <= high);
	if (high - low == UINT64_MAX)
		return sim_prng_u64(prng);
	uint64_t value = low + sim_prng_below(prng, high - low + 1);
	FAII_ASSERT(value >= low && value <= high);
	return value;
}

/* True with probability chance_ppm / 1e6. */
static inline bool sim_prng_chance(struct sim_prng *prng, uint32_t chance_ppm)
{
	FAII_ASSERT(chance_ppm <= SIM_PRNG_PPM_ONE);
	return sim_prng_below(prng, SIM_PRNG_PPM_ONE) < chance_ppm;
}

/* A 64-bit mix for trace hashes and derived values (not for randomness). */
static inline uint64_t sim_hash_mix(uint64_t hash, uint64_t value)
{
	uint64_t state = hash ^ value;
	return sim_splitmix64(&state);
}

static inline uint64_t sim_hash_bytes(uint64_t hash, const uint8_t *bytes, uint32_t len)
{
	/* FNV-1a over the bytes, then mixed: cheap and order-sensitive. */
	uint64_t fnv = 0xcbf29ce484222325ull;
	for (uint32_t i = 0; i < len; i++)
		fnv = (fnv ^ bytes[i]) * 0x100000001b3ull;
	return sim_hash_mix(hash, fnv ^ len);
}

#endif /* FAII_SIM_PRNG_H */
