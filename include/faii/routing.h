/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing: feasibility first, then preference, shares not scans (SPEC 3).
 *
 * The control plane solves, for every key (origin region, task category,
 * residency class), the routing shares phi of that key's candidate nodes and
 * publishes them as a compact table with an alias table for O(1) weighted
 * draws. The dataplane never scans the registry: it draws from the table,
 * corrects with live outstanding counts and re-checks budget and load.
 * docs/routing.md says what is solved and how.
 *
 * The category refines SPEC's tier (a category has exactly one tier) so that
 * per-category eligibility is exact.
 *
 * Error convention: the scoring functions cannot fail; faii_route_solve()
 * returns 0 or -EINVAL (a key the configuration does not know).
 */
#ifndef FAII_ROUTING_H
#define FAII_ROUTING_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/config.h"
#include "faii/multipliers.h"
#include "faii/protocol.h"

/* Alias-table probabilities in units of 2^-32. */
#define FAII_ROUTE_PROB_ONE 0xFFFFFFFFu

/* Why a node is not in a key's feasible set (route explain, counters). */
#define FAII_ROUTE_EXCLUSIONS(X)                                                                   \
	X(NONE, "feasible")                                                                        \
	X(NOT_ACTIVE, "not_active")                                                                \
	X(NOT_ELIGIBLE, "not_eligible")                                                            \
	X(RESIDENCY, "residency")                                                                  \
	X(LATENCY, "latency_over_budget")                                                          \
	X(PRICE_CORRIDOR, "price_outside_corridor")                                                \
	X(STALE, "heartbeat_stale")                                                                \
	X(NOT_IN_TOP, "not_among_best_candidates")

enum faii_route_exclusion {
#define FAII_ROUTE_EXCLUSION_ENUM(sym, name) FAII_ROUTE_EX_##sym,
	FAII_ROUTE_EXCLUSIONS(FAII_ROUTE_EXCLUSION_ENUM)
#undef FAII_ROUTE_EXCLUSION_ENUM
	        FAII_ROUTE_EX_COUNT
};
const char *faii_route_exclusion_name(enum faii_route_exclusion ex);

/* Flags of a solved key. */
enum {
	FAII_ROUTE_F_EMPTY = 1u << 0,         /* nothing feasible: answer "no feasible node" */
	FAII_ROUTE_F_CAPS_RELAXED = 1u << 1,  /* fewer than 1/beta operators: cap raised */
	FAII_ROUTE_F_FEW_OPERATORS = 1u << 2, /* fewer than d_t operators feasible */
	FAII_ROUTE_F_EDGE_SHORT = 1u << 3,    /* micro+S cannot reach alpha_t */
	/* A replica set of 3 (7) distinct nodes of the family cannot keep every
	 * operator within 3 (7) beta: too few nodes per operator. */
	FAII_ROUTE_F_SET3_CAPS_RELAXED = 1u << 4,
	FAII_ROUTE_F_SET7_CAPS_RELAXED = 1u << 5,
};

/* Live state of a node that routing reads (the registry's view). */
struct faii_route_node_state {
	uint8_t status;                          /* enum faii_node_status */
	bool stale_heartbeat;                    /* silent too long: excluded */
	bool stale_attest;                       /* ESG attestation too old: ESG at its floor */
	double slo_success[FAII_TIER_COUNT];     /* measured, [0, 1] */
	double latency_us[FAII_CFG_REGIONS_MAX]; /* measured RTT from each region (EWMA) */
};

/* Fleet-wide inputs computed once per solve. */
struct faii_route_fleet {
	double price_mean; /* p_bar over active nodes (46) */
	double pue_mean;   /* for rPUE (41) */
	/*
	 * Energy-to-work references (41), FAII 4.6 "normalised by task type and
	 * node class": per (category - 1, class) the harmonic mean of the
	 * energy-to-work of active nodes of the class eligible for the category,
	 * so that eps_i^-1 = ref / e_i, the node's work per kWh relative to its
	 * group's, averages exactly 1 in every group. 0: nobody in the group.
	 */
	double etw_ref[FAII_CATEGORY_COUNT][FAII_CLASS_COUNT];
	double etw_ref_class[FAII_CLASS_COUNT]; /* the same over every category (fallback) */
	double esg_mean[FAII_CATEGORY_COUNT];   /* mean ESG of active nodes eligible for it */
	/* pi_k, the class-share price (faii_class_price below): zero after
	 * faii_route_fleet_compute(); the caller sets it. */
	double class_price[FAII_CLASS_COUNT];
};

/*
 * The class-share cap (33), s_k <= s_bar for every node class k, where s_k
 * is the class's share of verified work over all keys. It couples the keys,
 * which are solved one by one, so it is enforced through its dual variable:
 * a price pi_k >= 0 per class, subtracted from the value a_i of the class's
 * candidates in every key's programme, and raised by projected dual ascent
 * while the class's measured share exceeds s_bar:
 *   s_k <- (1 - w) s_k + w V_k / sum V        (smoothed measurement)
 *   pi_k <- clamp(pi_k + h (s_k - s_bar), 0, FAII_CLASS_PRICE_MAX)
 * docs/routing.md says why it converges and to what.
 */
#define FAII_CLASS_PRICE_STEP 0.2  /* h: preference units per unit of share excess */
#define FAII_CLASS_PRICE_MAX  10.0 /* far above any candidate's value: can exclude a class */
#define FAII_CLASS_SHARE_EWMA 0.3  /* w: weight of a new measurement */

struct faii_class_price {
	double share[FAII_CLASS_COUNT]; /* smoothed share of verified work, s_k */
	double price[FAII_CLASS_COUNT]; /* pi_k, preference units */
	uint64_t updates;
};

/*
 * One dual step from the verified work each class did since the last one
 * (any unit; nothing when their sum is 0). share_max is s_bar, in (0, 1).
 */
void faii_class_price_update(struct faii_class_price *cp, const double work[FAII_CLASS_COUNT],
                             double share_max);

/*
 * The ESG score (41)-(42) of an indicator vector, given the fleet's mean PUE
 * and the energy-to-work reference of the node's group (see above).
 */
double faii_esg_score(const struct faii_policy *p, const struct faii_cfg_esg *esg, double pue_mean,
                      double etw_ref);
/* The energy-to-work reference of a node's (category, class) group: the
 * group's, else its class's over every category, else 0. */
double faii_route_etw_ref(const struct faii_route_fleet *fleet, uint8_t category,
                          uint8_t node_class);
/* The ESG score of node n for work of category (1..FAII_CATEGORY_COUNT). */
double faii_route_node_esg(const struct faii_policy *p, const struct faii_route_fleet *fleet,
                           const struct faii_cfg_node *n, uint8_t category);

/* The terms of a node's preference for one category (docs/routing.md 2). */
struct faii_route_terms {
	double esg;         /* ESG_i,k (41); renewables and grid at their worst if stale */
	double esg_rel;     /* x_i = ESG_i,k / ESG_bar_k, (43)'s bias */
	double reward_mult; /* m_i (47) in [0, 1]: faii_mult_reward() */
	double reward;      /* R_i = m_i p_i (47), tokens per task unit */
	double energy_kwh;  /* e_i: energy_to_work x PUE, kWh per task unit at the site */
	double energy_cost; /* kappa_e e_i (13), tokens per task unit */
	double value;       /* a_i = (s x - kappa_e e / p_bar) p_bar / p, floored */
};
void faii_route_terms(const struct faii_config *cfg, const struct faii_route_node_state *st,
                      const struct faii_route_fleet *fleet, const struct faii_cfg_node *n,
                      uint8_t category, struct faii_route_terms *out);
/* Price corridor (46). */
bool faii_price_in_corridor(const struct faii_policy *p, double price, double price_mean);
/* SLO latency of a category's tier used to filter a key's table, us. */
uint32_t faii_category_latency_budget_us(uint8_t category);

/*
 * A round-trip estimate before any measurement: great-circle distance at
 * 200 km/ms (light in fibre), a 1.5 route factor, both ways, plus 1 ms.
 */
double faii_route_latency_prior_us(const struct faii_cfg_region *region,
                                   const struct faii_cfg_node *node);

void faii_route_fleet_compute(const struct faii_config *cfg,
                              const struct faii_route_node_state *state,
                              struct faii_route_fleet *fleet);

/* One key's solved table, as the dataplane reads it. */
struct faii_route_table {
	uint16_t region;
	uint8_t category;
	uint8_t residency_class;
	uint16_t count; /* candidates; 0 with FAII_ROUTE_F_EMPTY */
	uint16_t flags;
	uint32_t node[FAII_ROUTE_CANDIDATES_MAX];       /* index into faii_config.nodes */
	uint32_t latency_us[FAII_ROUTE_CANDIDATES_MAX]; /* estimated RTT from the region */
	uint32_t prob[FAII_ROUTE_CANDIDATES_MAX];       /* alias method: keep i with prob */
	uint16_t alias[FAII_ROUTE_CANDIDATES_MAX];      /*   else take alias[i] */
	float share[FAII_ROUTE_CANDIDATES_MAX];         /* phi_i, sums to 1 */
	/* The same solved among the candidates of one address family
	 * (FAII_ROUTE_FAMILY()), with the cap and flags of that solve. */
	float family_share[FAII_ROUTE_FAMILIES][FAII_ROUTE_CANDIDATES_MAX];
	float family_beta[FAII_ROUTE_FAMILIES];
	uint16_t family_flags[FAII_ROUTE_FAMILIES];
	float beta; /* the operator cap the solve settled on (raised: CAPS_RELAXED) */
	float value[FAII_ROUTE_CANDIDATES_MAX];       /* a_i, the preference */
	float class_price[FAII_ROUTE_CANDIDATES_MAX]; /* pi of its class, charged on a_i (33) */
};

/* What the solver saw for a key: per node, exclusion or candidate. */
struct faii_route_explain {
	uint32_t node_count;
	uint8_t exclusion[FAII_CFG_NODES_MAX]; /* enum faii_route_exclusion */
	float value[FAII_CFG_NODES_MAX];       /* a_i of feasible nodes */
	uint32_t feasible;
	uint32_t operators;
};

/* Per-key demand the congestion term uses (tasks/s; a floor applies). */
struct faii_route_key {
	uint16_t region;
	uint8_t category;
	uint8_t residency_class;
	double arrival_rate;
};

/*
 * Solves one key: feasibility, preference a_i, then the shares maximising
 *   sum (a_i - pi_k(i)) phi_i - sum (a_bar lambda / sigma_i) phi_i^2
 *     - eta a_bar sum phi_i^2
 * subject to sum phi = 1, phi >= 0, per-operator share <= beta_t, micro+S
 * share >= alpha_t, and a dispersion floor over d_t operators. explain may
 * be NULL. Returns 0, or -EINVAL for a key the configuration does not know.
 */
int faii_route_solve(const struct faii_config *cfg, const struct faii_route_node_state *state,
                     const struct faii_route_fleet *fleet, const struct faii_route_key *key,
                     struct faii_route_table *table, struct faii_route_explain *explain);

/*
 * Replica sets (n = 3 or 7) of a family of t: each candidate's inclusion
 * probability, so that a set drawn by systematic sampling over candidates
 * in table order (grouped by operator) gives it share of the copies: n phi
 * capped at 1 (a node takes at most one copy of a task), the excess
 * redistributed in proportion to share, first within operators up to their
 * cap n beta, never to a zero-share node unless nothing else can take it.
 * Returns the most copies of one operator per set (ceil of the largest
 * operator total); 0 when the family has fewer than n candidates.
 * *relaxed: the operators cannot all stay within n beta with n distinct
 * nodes (then each is kept to its node count).
 */
unsigned faii_route_inclusion(const struct faii_config *cfg, const struct faii_route_table *t,
                              unsigned family, unsigned n, float incl[FAII_ROUTE_CANDIDATES_MAX],
                              bool *relaxed);

/* Vose's alias table of share[0..n-1] (summing to 1). */
void faii_route_alias_build(const float *share, unsigned n, uint32_t *prob, uint16_t *alias);

/*
 * The candidate index a uniform 64-bit random number selects (alias method).
 * The table must not be empty (FAII_ROUTE_F_EMPTY: answer "no feasible node").
 */
static inline uint32_t faii_route_draw(const struct faii_route_table *t, uint64_t r)
{
	assert(t->count > 0);
	uint32_t i = (uint32_t)(((r >> 32) * t->count) >> 32);
	return (uint32_t)r <= t->prob[i] ? i : t->alias[i];
}

#endif /* FAII_ROUTING_H */
