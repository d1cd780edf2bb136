/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Choosing a task's nodes from its key's table: see pick.h and
 * docs/routing.md section 4.
 */
#include "pick.h"

#include <stdatomic.h>

#include "faii/assert.h"

#define LOAD(obj) atomic_load_explicit((obj), memory_order_relaxed)

static inline bool excluded(const struct task_need *need, uint32_t node)
{
	for (unsigned i = 0; i < need->exclude_count; i++) {
		if (need->exclude[i] == node)
			return true;
	}
	return false;
}

/* The per-packet re-check: status, reputation, latency budget, family, load. */
static inline bool cand_feasible(const struct faii_node_live *live,
                                 const struct faii_route_dp_table *t, unsigned k,
                                 const struct task_need *need)
{
	const struct faii_route_cand *c = &t->cand[k];
	const struct faii_node_live *lv = &live[c->node];
	return LOAD(&lv->status) == FAII_NODE_ACTIVE &&
	       LOAD(&lv->reputation_milli) >= need->min_reputation &&
	       c->latency_us <= need->budget_us && c->addr_family == need->family &&
	       LOAD(&lv->outstanding) < LOAD(&lv->limit) && !((need->excluded_cands >> k) & 1) &&
	       !excluded(need, c->node);
}

/* a's load is below b's: outstanding / limit, compared without division. */
static inline bool less_loaded(const struct faii_node_live *live,
                               const struct faii_route_dp_table *t, unsigned a, unsigned b)
{
	const struct faii_node_live *la = &live[t->cand[a].node];
	const struct faii_node_live *lb = &live[t->cand[b].node];
	return (uint64_t)LOAD(&la->outstanding) * LOAD(&lb->limit) <
	       (uint64_t)LOAD(&lb->outstanding) * LOAD(&la->limit);
}

int faii_pick_one(const struct faii_node_live *live, const struct faii_route_dp_table *t,
                  const struct task_need *need, uint64_t rng[2])
{
	FAII_ASSERT(t->count >= 1 && t->count <= FAII_ROUTE_CANDIDATES_MAX);
	const struct faii_route_dp_family *f = &t->family[FAII_ROUTE_FAMILY(need->family)];
	int best = -1;
	for (int draw = 0; draw < 2 && f->count > 0; draw++) {
		uint64_t r = faii_pick_rng(rng);
		uint32_t i = (uint32_t)(((r >> 32) * t->count) >> 32);
		unsigned k = (uint32_t)r <= f->prob[i] ? i : f->alias[i];
		FAII_ASSERT(i < t->count && k < t->count); /* the alias table is closed */
		if (!cand_feasible(live, t, k, need))
			continue;
		if (best < 0 || less_loaded(live, t, k, (unsigned)best))
			best = (int)k;
	}
	if (best >= 0)
		return best;
	/* Bounded by the table: FAII_ROUTE_CANDIDATES_MAX. */
	for (unsigned k = 0; k < t->count; k++) {
		if (cand_feasible(live, t, k, need) &&
		    (best < 0 || less_loaded(live, t, k, (unsigned)best)))
			best = (int)k;
	}
	return best;
}

/* DePX diversity of candidate k against the chosen ones, in [0, 1]. */
static float diversity(const struct faii_route_dp_table *t, unsigned k, const uint16_t *chosen,
                       unsigned n)
{
	/* Two points more than 1000 km apart: chord > 2 sin(1000 / 2R). */
	static const float far_dot = 0.98770f; /* cos(1000 km / 6371 km) */
	const struct faii_route_cand *c = &t->cand[k];
	float sum = 0;
	for (unsigned j = 0; j < n; j++) {
		const struct faii_route_cand *o = &t->cand[chosen[j]];
		float d = 0;
		d += c->operator_idx != o->operator_idx ? 1.0f : 0.0f;
		d += c->asn != o->asn ? 0.5f : 0.0f;
		d += c->jurisdiction != o->jurisdiction ? 0.3f : 0.0f;
		d += c->node_class != o->node_class ? 0.2f : 0.0f;
		float dot =
		        c->unit[0] * o->unit[0] + c->unit[1] * o->unit[1] + c->unit[2] * o->unit[2];
		d += dot < far_dot ? 0.3f : 0.0f;
		sum += d;
	}
	return n > 0 ? sum / (2.3f * (float)n) : 0.0f;
}

static unsigned operator_copies(const struct faii_route_dp_table *t, const uint16_t *chosen,
                                unsigned n, uint16_t op)
{
	unsigned c = 0;
	for (unsigned j = 0; j < n; j++)
		c += t->cand[chosen[j]].operator_idx == op;
	return c;
}

/*
 * A replacement member: the feasible candidate maximising 0.6 diversity +
 * 0.4 performance (its share relative to the family's largest) among those
 * whose operator holds fewer than op_max copies of the set. -1: none.
 */
static int replacement(const struct faii_node_live *live, const struct faii_route_dp_table *t,
                       const struct task_need *need, const uint16_t *chosen, unsigned n,
                       unsigned op_max)
{
	const struct faii_route_dp_family *f = &t->family[FAII_ROUTE_FAMILY(need->family)];
	int best = -1;
	float best_score = -1;
	for (unsigned k = 0; k < t->count; k++) {
		if (!cand_feasible(live, t, k, need) ||
		    operator_copies(t, chosen, n, t->cand[k].operator_idx) >= op_max)
			continue;
		float perf = f->share_max > 0 ? f->share[k] / f->share_max : 0.0f;
		float s = 0.6f * diversity(t, k, chosen, n) + 0.4f * perf;
		if (s > best_score) {
			best_score = s;
			best = (int)k;
		}
	}
	return best;
}

/* Systematic sampling: one uniform start, then every unit step of the
 * inclusion probabilities' running sum selects the candidate it lands in. */
static unsigned draw_set(const struct faii_route_dp_family *f, unsigned count, unsigned level,
                         unsigned want, uint64_t rng[2], uint16_t *drawn)
{
	double next = (double)(faii_pick_rng(rng) >> 11) * 0x1.0p-53, sum = 0;
	unsigned n = 0;
	for (unsigned k = 0; k < count && n < want; k++) {
		sum += f->incl[level][k];
		if (next < sum) {
			drawn[n++] = (uint16_t)k;
			next += 1.0;
		}
	}
	return n;
}

unsigned faii_pick_set(const struct faii_node_live *live, const struct faii_route_dp_table *t,
                       struct task_need *need, unsigned want, uint16_t *chosen, uint64_t rng[2])
{
	FAII_ASSERT(want == 1 || want == 3 || want == FAII_REPLICAS_MAX);
	if (want == 1) {
		int k = faii_pick_one(live, t, need, rng);
		if (k < 0)
			return 0;
		chosen[0] = (uint16_t)k;
		need->excluded_cands |= 1ull << k;
		return 1;
	}
	const struct faii_route_dp_family *f = &t->family[FAII_ROUTE_FAMILY(need->family)];
	unsigned level = FAII_REPLICA_LEVEL(want), n = 0;
	unsigned op_max = f->operator_copies_max[level] ? f->operator_copies_max[level] : want;
	uint16_t drawn[FAII_REPLICAS_MAX];
	unsigned got = f->count >= want ? draw_set(f, t->count, level, want, rng, drawn) : 0;
	for (unsigned j = 0; j < got; j++) {
		if (!cand_feasible(live, t, drawn[j], need))
			continue;
		chosen[n++] = drawn[j];
		need->excluded_cands |= 1ull << drawn[j];
	}
	while (n < want) {
		int k = replacement(live, t, need, chosen, n, op_max);
		if (k < 0)
			k = replacement(live, t, need, chosen, n,
			                want); /* overflow beats refusing */
		if (k < 0)
			break;
		chosen[n++] = (uint16_t)k;
		need->excluded_cands |= 1ull << k;
	}
	FAII_ASSERT(n <= want);
	return n;
}
