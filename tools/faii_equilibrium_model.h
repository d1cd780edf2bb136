/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The investors' class-choice model behind faii-equilibrium
 * (docs/equilibrium.md): FAII (7)-(12) with free entry, payouts per
 * (20), (27)-(33) computed by settlement's own faii_settle_epoch().
 *
 * Floating point is fine here: this is an analysis tool, not a consensus
 * result. Only the payouts go through settlement's integers, so that the
 * schedule studied is the schedule the ledger pays.
 *
 * Error convention: 0 or -1; on -1 the error buffer holds "FIELD: reason".
 */
#ifndef FAII_EQUILIBRIUM_MODEL_H
#define FAII_EQUILIBRIUM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faii/settle.h"

#define EQ_TIERS                  FAII_SETTLE_TIERS
#define EQ_CLASSES_MAX            FAII_SETTLE_CLASSES /* settlement's node classes */
#define EQ_GROUPS_MAX             16u                 /* investor groups in a scenario */
#define EQ_INVESTORS_MAX          100000u             /* investors over all groups */
#define EQ_NODES_PER_INVESTOR_MAX 10000u              /* so a fleet's count fits 32 bits */
#define EQ_SCHEDULES_MAX          8u
#define EQ_ITERATIONS_MAX         10000u /* best-response rounds one run may take */
#define EQ_NAME_BYTES             32u
#define EQ_ERROR_BYTES            256u
#define EQ_OUT                    (-1) /* an investor's choice: the outside option */

struct eq_class {
	char name[EQ_NAME_BYTES];
	double capacity;          /* c_i: work units per period at full utilisation */
	double capex;             /* tokens per node */
	double idle_kwh;          /* e_idle per period, at the chip */
	double kwh_per_unit;      /* e_dyn per unit of work served, at the chip */
	double pue;               /* facility energy / chip energy */
	double opex;              /* o_i: tokens per node per period */
	double availability;      /* a_i */
	double success[EQ_TIERS]; /* s_i,t at zero utilisation */
	bool eligible[EQ_TIERS];  /* chi_i,t */
	double revenue_cv;        /* sd / mean of the performance payout */
	bool edge;                /* served by the edge reserve (25) */
};

struct eq_group {
	char name[EQ_NAME_BYTES];
	uint32_t count;             /* identical investors */
	double budget;              /* capital: buys floor(budget / capex_i) nodes */
	double rho;                 /* absolute risk aversion (10), per token */
	double energy_price_factor; /* this group's energy price / kappa_e */
	double renewable_share;     /* RE, certified (30) */
};

struct eq_schedule {
	char name[EQ_NAME_BYTES];
	double availability_rate; /* p0 (20), per capacity unit per period */
	double work_rate;         /* p (27), per unit of verified work */
	double theta0[EQ_TIERS];  /* tier factors (32) */
	double gamma[EQ_TIERS];   /* congestion sensitivity (32) */
	bool slo;                 /* m_SLO (29) applied; else 1 */
	double slo_target[EQ_TIERS];
	uint32_t slo_alpha[EQ_TIERS];
	double slo_max[EQ_TIERS];
	double esg_xi, esg_baseline, esg_max;  /* (30); xi = 0: m_ESG = 1 */
	double diversity_eta, class_share_max; /* (31); eta = 0: m_DIV = 1 */
	bool routing_cap;                      /* routing holds s_i <= s_bar (33) */
	double payout_cap[EQ_CLASSES_MAX];     /* E_bar_i (33); 0: none */
};

struct eq_scenario {
	char name[64];
	uint64_t seed;
	uint32_t iterations;           /* most best-response rounds */
	double revision_share;         /* investors re-choosing in one round, (0, 1] */
	bool start_out;                /* every investor starts outside; else seeded random */
	double tolerance;              /* a move must gain more than this (tokens per period) */
	double demand[EQ_TIERS];       /* lambda_t: work units offered per period */
	double edge_reserve[EQ_TIERS]; /* alpha_t (25) */
	double congestion;             /* s = s0 (1 - congestion u^2) */
	double energy_price;           /* kappa_e: tokens per kWh */
	double penalty_price;          /* phi: tokens per unit of failed work */
	double amortisation;           /* delta: share of capex per period */
	double outside_return;         /* per period on unused capital */
	uint32_t class_count;
	struct eq_class classes[EQ_CLASSES_MAX];
	uint32_t group_count;
	struct eq_group groups[EQ_GROUPS_MAX];
	uint32_t schedule_count;
	struct eq_schedule schedules[EQ_SCHEDULES_MAX];
};

/* What a node of one class sees in a given fleet. */
struct eq_class_view {
	uint32_t nodes;
	double capacity_share, work_share, utilisation;
	double served, verified;  /* work per node per period */
	double base, performance; /* payout terms per node (20), (27) */
	double paid;              /* after the cap (33) */
	double diversity;         /* m_DIV (31) */
	double cost;              /* energy + opex + penalties + amortisation */
	double net;               /* R_i (9) */
	double sd;                /* sd of R_i: revenue_cv x performance */
};

/* One run of best responses under one schedule. */
struct eq_run {
	uint32_t iterations; /* rounds taken */
	bool converged;      /* no investor can gain by moving */
	uint32_t *mix;       /* (iterations + 1) x class_count node counts */
	uint32_t *out;       /* investors outside, per recorded round */
	int32_t *choice;     /* final choice per investor */
	uint32_t investors;
};

/* The built-in scenario (docs/equilibrium.md), as JSON text. */
extern const char eq_default_scenario_json[];

/* Parses and checks a scenario; errors name the field ("classes[2].capex"). */
int eq_scenario_parse(const char *text, struct eq_scenario *out, char error[EQ_ERROR_BYTES]);
uint32_t eq_scenario_investors(const struct eq_scenario *scenario);
/* Settlement's own check of a schedule's parameters (0, or -EINVAL and
 * the field settlement refused). */
int eq_schedule_check(const struct eq_schedule *schedule, const char **field);

/* The best-response dynamics under schedule `s`; eq_run_free() after. */
int eq_run(const struct eq_scenario *scenario, uint32_t s, struct eq_run *run,
           char error[EQ_ERROR_BYTES]);
void eq_run_free(struct eq_run *run);

/*
 * Every class as seen from the fleet `nodes` (a class without nodes is
 * seen by one entering node) by an investor with that energy price factor
 * and renewable share; the reference investor is (1, 0).
 */
int eq_class_views(const struct eq_scenario *scenario, uint32_t s, const uint32_t *nodes,
                   double energy_factor, double renewable, struct eq_class_view *views,
                   char error[EQ_ERROR_BYTES]);

#endif /* FAII_EQUILIBRIUM_MODEL_H */
