/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The investors' class-choice model (docs/equilibrium.md): routing and
 * utilisation (7)-(8), payouts through faii_settle_epoch() (20), (27)-(33),
 * returns (9), mean-variance utility (10), class choice with free entry
 * (12), and the best-response dynamics that look for its equilibrium.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii_equilibrium_model.h"

#define PPB             1e9
#define MILLI           1000.0 /* work and capacity go to settlement in thousandths */
#define UNITS_PER_MILLI 1e6    /* token base units per thousandth of a token */
#define QUEUE_MAX       10.0   /* a tier without capacity: its surge stops here */
#define MILLI_MAX       1e18   /* work in thousandths beyond this: -EOVERFLOW */
/* Settlement nodes per evaluation: the chosen class's representative node,
 * the rest of its class, and one aggregate per other class. */
#define SETTLE_NODES (EQ_CLASSES_MAX + 1)

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Work routed to each class, per node, from the fleet (7)-(8). */
struct flow {
	double capacity[EQ_CLASSES_MAX]; /* n_i c_i */
	double utilisation[EQ_CLASSES_MAX];
	double served[EQ_CLASSES_MAX][EQ_TIERS];   /* per node */
	double verified[EQ_CLASSES_MAX][EQ_TIERS]; /* per node */
	double queue[EQ_TIERS];                    /* q_t (32) */
};

/*
 * The class-share cap of (33) held by routing (SPEC section 3): no class
 * gets more than `cap` of the tier; the excess goes to the other classes
 * serving the tier, by capacity (water-filling). When every class serving
 * it is at the cap, the cap cannot hold and the rest is spread by capacity.
 */
static void cap_shares(const struct eq_scenario *sc, const struct flow *f, double cap,
                       double share[EQ_CLASSES_MAX])
{
	bool fixed[EQ_CLASSES_MAX] = {false};
	for (uint32_t pass = 0; pass < sc->class_count; pass++) {
		double excess = 0, room = 0, capped = 0;
		for (uint32_t i = 0; i < sc->class_count; i++)
			if (!fixed[i] && share[i] > cap) {
				excess += share[i] - cap;
				share[i] = cap;
				fixed[i] = true;
			}
		if (excess <= 0)
			return;
		for (uint32_t i = 0; i < sc->class_count; i++) {
			if (share[i] > 0 && !fixed[i])
				room += f->capacity[i];
			if (fixed[i])
				capped += f->capacity[i];
		}
		bool spill = room <= 0; /* nobody left below the cap */
		double over = spill ? capped : room;
		for (uint32_t i = 0; i < sc->class_count; i++)
			if (share[i] > 0 && fixed[i] == spill)
				share[i] += excess * f->capacity[i] / over;
		if (spill)
			return;
	}
}

/* Tier t's routing shares: size-agnostic, by capacity among eligible
 * classes, with the edge classes lifted to alpha_t when they hold less;
 * then the schedule's class-share cap, if it has one. */
static void route_tier(const struct eq_scenario *sc, const struct eq_schedule *sch,
                       const struct flow *f, uint32_t t, double share[EQ_CLASSES_MAX])
{
	double edge = 0, other = 0;
	for (uint32_t i = 0; i < sc->class_count; i++) {
		share[i] = 0;
		if (!sc->classes[i].eligible[t])
			continue;
		if (sc->classes[i].edge)
			edge += f->capacity[i];
		else
			other += f->capacity[i];
	}
	if (edge + other <= 0)
		return;
	double edge_share = edge / (edge + other);
	if (edge > 0 && other > 0 && edge_share < sc->edge_reserve[t])
		edge_share = sc->edge_reserve[t];
	for (uint32_t i = 0; i < sc->class_count; i++) {
		if (!sc->classes[i].eligible[t] || f->capacity[i] <= 0)
			continue;
		share[i] = sc->classes[i].edge ? edge_share * f->capacity[i] / edge
		                               : (1 - edge_share) * f->capacity[i] / other;
	}
	if (sch->routing_cap)
		cap_shares(sc, f, sch->class_share_max, share);
}

static void route(const struct eq_scenario *sc, const struct eq_schedule *sch,
                  const double nodes[EQ_CLASSES_MAX], struct flow *f)
{
	memset(f, 0, sizeof(*f));
	double load[EQ_CLASSES_MAX][EQ_TIERS] = {{0}};
	for (uint32_t i = 0; i < sc->class_count; i++)
		f->capacity[i] = nodes[i] * sc->classes[i].capacity;
	for (uint32_t t = 0; t < EQ_TIERS; t++) {
		double share[EQ_CLASSES_MAX], eligible = 0;
		route_tier(sc, sch, f, t, share);
		for (uint32_t i = 0; i < sc->class_count; i++) {
			load[i][t] = share[i] * sc->demand[t];
			if (sc->classes[i].eligible[t])
				eligible += f->capacity[i];
		}
		f->queue[t] = eligible > 0 ? fmin(sc->demand[t] / eligible, QUEUE_MAX) : QUEUE_MAX;
	}
	for (uint32_t i = 0; i < sc->class_count; i++) {
		if (nodes[i] <= 0)
			continue;
		double total = 0;
		for (uint32_t t = 0; t < EQ_TIERS; t++)
			total += load[i][t];
		double u = total / f->capacity[i];
		/* Beyond capacity the class serves what it can; the rest is lost. */
		double served_share = u > 1 ? 1 / u : 1;
		double u_served = fmin(u, 1);
		f->utilisation[i] = u_served;
		for (uint32_t t = 0; t < EQ_TIERS; t++) {
			double s = sc->classes[i].success[t] *
			           (1 - sc->congestion * u_served * u_served);
			f->served[i][t] = load[i][t] * served_share / nodes[i];
			f->verified[i][t] = f->served[i][t] * s;
		}
	}
}

static uint64_t to_ppb(double x)
{
	return (uint64_t)llround(x * PPB);
}

static uint64_t to_milli(double x)
{
	return (uint64_t)llround(x * MILLI);
}

/* The schedule as settlement's parameters; the queues come per fleet. */
static void settle_params(const struct eq_schedule *sch, const struct flow *f,
                          struct faii_settle_params *p)
{
	memset(p, 0, sizeof(*p));
	p->availability_rate = (uint64_t)llround(sch->availability_rate * UNITS_PER_MILLI);
	p->work_rate = (uint64_t)llround(sch->work_rate * UNITS_PER_MILLI);
	for (uint32_t t = 0; t < EQ_TIERS; t++) {
		p->theta0_ppb[t] = to_ppb(sch->theta0[t]);
		p->gamma_ppb[t] = to_ppb(sch->gamma[t]);
		p->queue_ppb[t] = f != NULL ? to_ppb(f->queue[t]) : 0;
		p->slo_target_ppb[t] = sch->slo ? to_ppb(sch->slo_target[t]) : (uint64_t)PPB;
		p->slo_alpha[t] = sch->slo ? sch->slo_alpha[t] : 1;
		p->slo_max_ppb[t] = sch->slo ? to_ppb(sch->slo_max[t]) : (uint64_t)PPB;
	}
	p->esg_xi_ppb = to_ppb(sch->esg_xi);
	p->esg_baseline_ppb = to_ppb(sch->esg_baseline);
	p->esg_max_ppb = sch->esg_max >= 1 ? to_ppb(sch->esg_max) : (uint64_t)PPB;
	p->diversity_eta_ppb = to_ppb(sch->diversity_eta);
	p->class_share_max_ppb =
	        sch->class_share_max > 0 ? to_ppb(sch->class_share_max) : (uint64_t)(PPB / 2);
	for (uint32_t i = 0; i < EQ_CLASSES_MAX; i++)
		p->payout_cap[i] = sch->payout_cap[i] > 0
		                           ? (uint64_t)llround(sch->payout_cap[i] * PPB)
		                           : UINT64_MAX;
}

/* Settlement's node for `count` nodes of class i doing the fleet's work. */
static void settle_node(const struct eq_schedule *sch, const struct flow *f, uint32_t i,
                        double count, struct faii_settle_node_input *node)
{
	memset(node, 0, sizeof(*node));
	node->node_class = (uint8_t)i;
	for (uint32_t t = 0; t < EQ_TIERS; t++) {
		node->work[t] = to_milli(count * f->verified[i][t]);
		/* Without m_SLO the success sits at its target: a factor of 1. */
		double served = f->served[i][t];
		double s = sch->slo && served > 0 ? f->verified[i][t] / served : 1;
		node->slo_success_ppb[t] = sch->slo ? to_ppb(fmin(s, 1)) : (uint64_t)PPB;
	}
}

/* One node of class j as settlement pays it in the fleet `nodes`. */
static int settle_view(const struct eq_scenario *sc, uint32_t s, const double *nodes,
                       const struct flow *f, uint32_t j, double renewable, struct eq_class_view *v)
{
	const struct eq_schedule *sch = &sc->schedules[s];
	struct faii_settle_params params;
	struct faii_settle_node_input in[SETTLE_NODES];
	struct faii_settle_node_result out[SETTLE_NODES];
	struct faii_settle_epoch_totals totals;
	settle_params(sch, f, &params);
	double work = 0;
	for (uint32_t i = 0; i < sc->class_count; i++)
		for (uint32_t t = 0; t < EQ_TIERS; t++)
			work += nodes[i] * f->verified[i][t];
	if (work * MILLI > MILLI_MAX)
		return -EOVERFLOW; /* before a conversion to integers could wrap */
	size_t count = 0;
	settle_node(sch, f, j, 1, &in[count]);
	in[count].availability_ppb = to_ppb(sc->classes[j].availability);
	in[count].capacity_units = to_milli(sc->classes[j].capacity);
	in[count].renewable_ppb = to_ppb(renewable);
	count++;
	if (nodes[j] > 1)
		settle_node(sch, f, j, nodes[j] - 1, &in[count++]);
	for (uint32_t i = 0; i < sc->class_count; i++)
		if (i != j && nodes[i] > 0)
			settle_node(sch, f, i, nodes[i], &in[count++]);
	FAII_ASSERT(count <= SETTLE_NODES);
	int rc = faii_settle_epoch(&params, in, count, out, &totals);
	if (rc != 0)
		return rc;
	v->base = (double)out[0].base / PPB;
	v->performance = (double)out[0].performance / PPB;
	v->paid = (double)out[0].paid / PPB;
	v->diversity = (double)out[0].diversity_ppb / PPB;
	v->work_share = (double)totals.class_share_ppb[j] / PPB;
	return 0;
}

/* Class j from the fleet `nodes` (already holding the node(s) looked at). */
static int class_view(const struct eq_scenario *sc, uint32_t s, const double *nodes, uint32_t j,
                      double energy_factor, double renewable, struct eq_class_view *v)
{
	struct flow f;
	const struct eq_class *c = &sc->classes[j];
	FAII_ASSERT(nodes[j] >= 1);
	route(sc, &sc->schedules[s], nodes, &f);
	memset(v, 0, sizeof(*v));
	int rc = settle_view(sc, s, nodes, &f, j, renewable, v);
	if (rc != 0)
		return rc;
	double total_capacity = 0;
	for (uint32_t i = 0; i < sc->class_count; i++)
		total_capacity += f.capacity[i];
	v->nodes = (uint32_t)nodes[j];
	v->capacity_share = f.capacity[j] / total_capacity;
	v->utilisation = f.utilisation[j];
	for (uint32_t t = 0; t < EQ_TIERS; t++) {
		v->served += f.served[j][t];
		v->verified += f.verified[j][t];
	}
	double kwh = c->pue * (c->idle_kwh + c->kwh_per_unit * v->served);
	v->cost = sc->energy_price * energy_factor * kwh + c->opex +
	          sc->penalty_price * (v->served - v->verified) + sc->amortisation * c->capex;
	v->net = v->paid - v->cost;
	v->sd = c->revenue_cv * v->performance;
	return 0;
}

static uint32_t nodes_bought(const struct eq_scenario *sc, const struct eq_group *g, int32_t j)
{
	if (j == EQ_OUT)
		return 0;
	double n = floor(g->budget / sc->classes[j].capex);
	FAII_ASSERT(n <= EQ_NODES_PER_INVESTOR_MAX); /* the scenario's check */
	return (uint32_t)n;
}

/* U (10) of group g's investor choosing j, the fleet holding the others. */
static int utility(const struct eq_scenario *sc, uint32_t s, const double *others,
                   const struct eq_group *g, int32_t j, double *u)
{
	double spare = g->budget;
	*u = 0;
	if (j != EQ_OUT) {
		uint32_t m = nodes_bought(sc, g, j);
		if (m == 0)
			return 1; /* cannot afford one node */
		double nodes[EQ_CLASSES_MAX];
		memcpy(nodes, others, sizeof(nodes));
		nodes[j] += m;
		struct eq_class_view v;
		int rc = class_view(sc, s, nodes, (uint32_t)j, g->energy_price_factor,
		                    g->renewable_share, &v);
		if (rc != 0)
			return rc;
		/* The investor's m nodes share a site and a market: their
		 * returns move together, so the variance grows with m^2. */
		*u = m * v.net - g->rho * (double)m * m * v.sd * v.sd;
		spare -= m * sc->classes[j].capex;
	}
	*u += sc->outside_return * spare;
	return 0;
}

/* The best choice for an investor, staying put unless a move gains more
 * than the tolerance. */
static int best_response(const struct eq_scenario *sc, uint32_t s, const double *others,
                         const struct eq_group *g, int32_t current, int32_t *best)
{
	double u_current = 0, u_best = -INFINITY;
	int rc = utility(sc, s, others, g, current, &u_current);
	if (rc < 0)
		return rc;
	if (rc > 0)
		u_current = -INFINITY;
	*best = current;
	for (int32_t j = EQ_OUT; j < (int32_t)sc->class_count; j++) {
		double u;
		rc = utility(sc, s, others, g, j, &u);
		if (rc < 0)
			return rc;
		if (rc == 0 && u > u_best) {
			u_best = u;
			if (u > u_current + sc->tolerance)
				*best = j;
		}
	}
	return 0;
}

int eq_schedule_check(const struct eq_schedule *schedule, const char **field)
{
	struct faii_settle_params params;
	settle_params(schedule, NULL, &params);
	return faii_settle_params_check(&params, field);
}

uint32_t eq_scenario_investors(const struct eq_scenario *scenario)
{
	uint32_t n = 0;
	for (uint32_t g = 0; g < scenario->group_count; g++)
		n += scenario->groups[g].count;
	return n;
}

struct state {
	const struct eq_scenario *sc;
	uint32_t s;
	uint32_t investors;
	uint32_t *group; /* per investor */
	int32_t *choice; /* per investor */
	double nodes[EQ_CLASSES_MAX];
};

static void move(struct state *st, uint32_t k, int32_t to)
{
	const struct eq_group *g = &st->sc->groups[st->group[k]];
	int32_t from = st->choice[k];
	if (from != EQ_OUT)
		st->nodes[from] -= nodes_bought(st->sc, g, from);
	if (to != EQ_OUT)
		st->nodes[to] += nodes_bought(st->sc, g, to);
	st->choice[k] = to;
	FAII_ASSERT(from == EQ_OUT || st->nodes[from] >= 0);
}

/* Investor k's best response against everyone else; 1 when it moved. */
static int revise(struct state *st, uint32_t k, bool apply)
{
	const struct eq_group *g = &st->sc->groups[st->group[k]];
	double others[EQ_CLASSES_MAX];
	memcpy(others, st->nodes, sizeof(others));
	int32_t current = st->choice[k];
	if (current != EQ_OUT)
		others[current] -= nodes_bought(st->sc, g, current);
	int32_t best;
	int rc = best_response(st->sc, st->s, others, g, current, &best);
	if (rc < 0)
		return rc;
	if (best == current)
		return 0;
	if (apply)
		move(st, k, best);
	return 1;
}

/* Nash check: does any investor gain by moving? Investors of one group
 * making the same choice see the same options: one check each. */
static int anyone_moves(struct state *st)
{
	const uint32_t slots = EQ_CLASSES_MAX + 1;
	int8_t checked[EQ_GROUPS_MAX][EQ_CLASSES_MAX + 1];
	memset(checked, -1, sizeof(checked));
	for (uint32_t k = 0; k < st->investors; k++) {
		uint32_t slot = (uint32_t)(st->choice[k] + 1);
		FAII_ASSERT(slot < slots);
		int8_t *seen = &checked[st->group[k]][slot];
		if (*seen < 0) {
			int rc = revise(st, k, false);
			if (rc < 0)
				return rc;
			*seen = (int8_t)rc;
		}
		if (*seen > 0)
			return 1;
	}
	return 0;
}

static void record(const struct state *st, struct eq_run *run, uint32_t round)
{
	uint32_t out = 0;
	for (uint32_t k = 0; k < st->investors; k++)
		out += st->choice[k] == EQ_OUT;
	for (uint32_t i = 0; i < st->sc->class_count; i++)
		run->mix[round * st->sc->class_count + i] = (uint32_t)st->nodes[i];
	run->out[round] = out;
}

static void start(struct state *st, uint64_t *rng)
{
	uint32_t k = 0;
	for (uint32_t g = 0; g < st->sc->group_count; g++)
		for (uint32_t n = 0; n < st->sc->groups[g].count; n++)
			st->group[k++] = g;
	for (k = 0; k < st->investors; k++) {
		st->choice[k] = EQ_OUT;
		if (st->sc->start_out)
			continue;
		/* Uniform over staying out and the classes it can afford. */
		int32_t options[EQ_CLASSES_MAX + 1], count = 0;
		options[count++] = EQ_OUT;
		for (uint32_t i = 0; i < st->sc->class_count; i++)
			if (nodes_bought(st->sc, &st->sc->groups[st->group[k]], (int32_t)i) > 0)
				options[count++] = (int32_t)i;
		move(st, k, options[splitmix64(rng) % (uint64_t)count]);
	}
}

/* One round: a seeded share of the investors, in a seeded order, each
 * best-responding to the fleet the previous ones left. */
static int round_of_revisions(struct state *st, uint32_t *order, uint64_t *rng)
{
	uint32_t n = st->investors;
	uint32_t revisers = (uint32_t)ceil(st->sc->revision_share * n);
	for (uint32_t k = n - 1; k > 0; k--) {
		uint32_t r = (uint32_t)(splitmix64(rng) % (uint64_t)(k + 1));
		uint32_t tmp = order[k];
		order[k] = order[r];
		order[r] = tmp;
	}
	for (uint32_t k = 0; k < revisers && k < n; k++) {
		int rc = revise(st, order[k], true);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int settle_error(int rc, char error[EQ_ERROR_BYTES])
{
	snprintf(error, EQ_ERROR_BYTES, "%s",
	         rc == -EOVERFLOW ? "payouts exceed settlement's 64-bit amounts: scale the "
	                            "work, capacities or rates down"
	                          : "settlement refused the schedule's parameters");
	return -1;
}

int eq_run(const struct eq_scenario *sc, uint32_t s, struct eq_run *run, char error[EQ_ERROR_BYTES])
{
	FAII_ASSERT(s < sc->schedule_count);
	memset(run, 0, sizeof(*run));
	struct state st = {.sc = sc, .s = s, .investors = eq_scenario_investors(sc)};
	run->investors = st.investors;
	run->mix = calloc((size_t)(sc->iterations + 1) * sc->class_count, sizeof(uint32_t));
	run->out = calloc(sc->iterations + 1, sizeof(uint32_t));
	run->choice = calloc(st.investors, sizeof(int32_t));
	st.group = calloc(st.investors, sizeof(uint32_t));
	uint32_t *order = calloc(st.investors, sizeof(uint32_t));
	if (!run->mix || !run->out || !run->choice || !st.group || !order) {
		snprintf(error, EQ_ERROR_BYTES, "out of memory");
		free(st.group);
		free(order);
		eq_run_free(run);
		return -1;
	}
	st.choice = run->choice;
	uint64_t rng = sc->seed;
	for (uint32_t k = 0; k < st.investors; k++)
		order[k] = k;
	start(&st, &rng);
	record(&st, run, 0);
	int rc = 0;
	for (uint32_t round = 1; round <= sc->iterations; round++) {
		rc = round_of_revisions(&st, order, &rng);
		if (rc < 0)
			break;
		record(&st, run, round);
		run->iterations = round;
		rc = anyone_moves(&st);
		if (rc < 0)
			break;
		if (rc == 0) {
			run->converged = true;
			break;
		}
		rc = 0;
	}
	free(st.group);
	free(order);
	if (rc < 0) {
		eq_run_free(run);
		return settle_error(rc, error);
	}
	return 0;
}

void eq_run_free(struct eq_run *run)
{
	free(run->mix);
	free(run->out);
	free(run->choice);
	memset(run, 0, sizeof(*run));
}

int eq_class_views(const struct eq_scenario *scenario, uint32_t s, const uint32_t *nodes,
                   double energy_factor, double renewable, struct eq_class_view *views,
                   char error[EQ_ERROR_BYTES])
{
	for (uint32_t j = 0; j < scenario->class_count; j++) {
		double fleet[EQ_CLASSES_MAX] = {0};
		for (uint32_t i = 0; i < scenario->class_count; i++)
			fleet[i] = nodes[i];
		bool empty = fleet[j] < 1;
		if (empty)
			fleet[j] = 1; /* what one entering node would see */
		int rc = class_view(scenario, s, fleet, j, energy_factor, renewable, &views[j]);
		if (rc != 0)
			return settle_error(rc, error);
		if (empty)
			views[j].nodes = 0;
	}
	return 0;
}
