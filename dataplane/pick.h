/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Choosing the nodes of one task from its key's published table
 * (include/faii/fleet.h): one copy by the better of two weighted draws,
 * replica sets by systematic sampling of the table's inclusion
 * probabilities, every member re-checked against the live node state. No
 * DPDK here: the workers call it per TASK (dataplane/task.c), the tests
 * drive it directly over millions of simulated tasks.
 *
 * Error convention: a candidate index or -1, a count of members chosen.
 */
#ifndef FAII_DP_PICK_H
#define FAII_DP_PICK_H

#include <stdbool.h>
#include <stdint.h>

#include "faii/fleet.h"

/* What a task asks of each node it goes to. */
struct task_need {
	uint32_t budget_us;
	uint16_t min_reputation;
	uint8_t family; /* FAII_ADDR_IPV4 / FAII_ADDR_IPV6: copies go to this family only */
	/* Candidates of this table already chosen or refused for the task
	 * (bit k: cand[k]; a table has at most 64), and the registry slots the
	 * task already used (a re-dispatch avoids them; at most 7). */
	uint64_t excluded_cands;
	const uint32_t *exclude;
	unsigned exclude_count;
};

/* xorshift128+ over state s: routing draws only, never a secret. */
static inline uint64_t faii_pick_rng(uint64_t s[2])
{
	uint64_t s1 = s[0];
	const uint64_t s0 = s[1];
	s[0] = s0;
	s1 ^= s1 << 23;
	s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return s[1] + s0;
}

/*
 * One node for a copy: the better (less loaded by R_i / L_i) of two draws
 * from the alias table of the task's family, or, when neither passes the
 * per-packet check, the least loaded feasible candidate of the table (at
 * most 64 to look at). The candidate index, or -1.
 */
int faii_pick_one(const struct faii_node_live *live, const struct faii_route_dp_table *t,
                  const struct task_need *need, uint64_t rng[2]);

/*
 * A set of want (1, 3 or 7) distinct nodes into chosen[], each marked in
 * need->excluded_cands. Sets of 3 and 7 are drawn by systematic sampling
 * over the family's inclusion probabilities; a member that fails the
 * per-packet check is replaced by the feasible candidate maximising
 * 0.6 diversity + 0.4 performance among operators below the family's
 * copies-per-operator bound (any operator, when none is). Returns the
 * number chosen (want on success).
 */
unsigned faii_pick_set(const struct faii_node_live *live, const struct faii_route_dp_table *t,
                       struct task_need *need, unsigned want, uint16_t *chosen, uint64_t rng[2]);

#endif /* FAII_DP_PICK_H */
