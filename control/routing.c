/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing solver: see include/faii/routing.h and docs/routing.md.
 *
 * Per key: a feasibility filter, a preference value a_i per feasible node,
 * the best FAII_ROUTE_CANDIDATES_MAX of them, then a separable concave
 * quadratic programme over their shares solved exactly (to bisection
 * precision) by nested water-filling: an outer bisection on the edge-reserve
 * multiplier, a root water level over operators whose totals are capped at
 * beta_t, and a level per capped operator. Last, the alias table.
 */
#include "faii/routing.h"

#include "faii/assert.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#define BISECT_STEPS             60
#define ARRIVAL_FLOOR_PER_S      1.0
#define SHARE_EPSILON            1e-4
#define DISPERSION_FLOOR_DIVISOR 4.0 /* each of the d_t operators gets >= 1/(4 d_t) */
/*
 * Robustness to any finite input (the configuration's ranges keep real
 * fleets well inside these, docs/configuration.md): a ratio to a fleet mean
 * is clamped to [RATIO_MIN, RATIO_MAX], a preference to [0, PREFERENCE_MAX]
 * (a float, in the table), a quadratic coefficient to [Q_MIN, Q_MAX] after
 * the values are scaled to at most 1. A level bisection runs until the
 * interval stops shrinking, at most LEVEL_STEPS_MAX halvings (enough to
 * cross the whole double range to one ulp); the caps are re-imposed at the
 * end in at most one round per operator.
 */
#define RATIO_MIN       1e-12
#define RATIO_MAX       1e12
#define PREFERENCE_MAX  1e30
#define PREFERENCE_MIN  1e-9 /* a feasible node's value: never 0, never negative */
#define Q_MIN           1e-12
#define Q_MAX           1e30
#define LEVEL_STEPS_MAX 2200
#define CAP_SLACK       1e-12

/* PREFERENCE_MAX < FLT_MAX (3.4e38): a preference fits the table's float. */

const char *faii_route_exclusion_name(enum faii_route_exclusion ex)
{
	static const char *const names[FAII_ROUTE_EX_COUNT] = {
#define FAII_ROUTE_EXCLUSION_NAME(sym, name) [FAII_ROUTE_EX_##sym] = name,
	        FAII_ROUTE_EXCLUSIONS(FAII_ROUTE_EXCLUSION_NAME)
#undef FAII_ROUTE_EXCLUSION_NAME
	};
	return (unsigned)ex < FAII_ROUTE_EX_COUNT ? names[ex] : "invalid";
}

uint32_t faii_category_latency_budget_us(uint8_t category)
{
	/* SPEC 2: edge 50 ms, storage 150 ms, interactive 200 ms; DAG and ledger
	 * work are throughput SLOs (1 s per operation here); batch has a window. */
	static const uint32_t budget_us[FAII_CATEGORY_COUNT] = {50000,  150000,   1000000,
	                                                        200000, 60000000, 1000000};
	return category >= 1 && category <= FAII_CATEGORY_COUNT ? budget_us[category - 1] : 0;
}

/* x / mean for x > 0, clamped to [RATIO_MIN, RATIO_MAX] (NaN to RATIO_MAX). */
static double ratio_to_mean(double x, double mean)
{
	double r = x / (mean > 0 ? mean : 1.0);
	if (!(r >= RATIO_MIN))
		return r < RATIO_MIN ? RATIO_MIN : RATIO_MAX;
	return r <= RATIO_MAX ? r : RATIO_MAX;
}

double faii_esg_score(const struct faii_policy *p, const struct faii_cfg_esg *esg, double pue_mean,
                      double etw_ref)
{
	double renewables = 0; /* rho_adj (42): source-weighted renewable share */
	for (unsigned s = 0; s < FAII_SRC_RENEWABLE_COUNT; s++)
		renewables += p->source_weight[s] * esg->source_mix[s];
	double rpue = ratio_to_mean(esg->pue, pue_mean);
	double etw = ratio_to_mean(esg->energy_to_work, etw_ref);
	double score = p->esg_weight[0] * renewables + p->esg_weight[1] / rpue +
	               p->esg_weight[2] / etw + p->esg_weight[3] * (1.0 - esg->grid_stress);
	FAII_ASSERT_MSG(isfinite(score), "ESG score %g", score);
	return score;
}

double faii_route_etw_ref(const struct faii_route_fleet *fleet, uint8_t category,
                          uint8_t node_class)
{
	FAII_ASSERT(node_class < FAII_CLASS_COUNT);
	if (category >= 1 && category <= FAII_CATEGORY_COUNT &&
	    fleet->etw_ref[category - 1][node_class] > 0)
		return fleet->etw_ref[category - 1][node_class];
	return fleet->etw_ref_class[node_class];
}

double faii_route_node_esg(const struct faii_policy *p, const struct faii_route_fleet *fleet,
                           const struct faii_cfg_node *n, uint8_t category)
{
	return faii_esg_score(p, &n->esg, fleet->pue_mean,
	                      faii_route_etw_ref(fleet, category, n->node_class));
}

bool faii_price_in_corridor(const struct faii_policy *p, double price, double price_mean)
{
	return price >= price_mean * (1.0 - p->corridor_below) &&
	       price <= price_mean * (1.0 + p->corridor_above);
}

double faii_route_latency_prior_us(const struct faii_cfg_region *region,
                                   const struct faii_cfg_node *node)
{
	const double rad = M_PI / 180.0, earth_km = 6371.0;
	double dlat = (node->lat_deg - region->lat_deg) * rad;
	double dlon = (node->lon_deg - region->lon_deg) * rad;
	double h = sin(dlat / 2) * sin(dlat / 2) + cos(region->lat_deg * rad) *
	                                                   cos(node->lat_deg * rad) *
	                                                   sin(dlon / 2) * sin(dlon / 2);
	double km = 2.0 * earth_km * asin(sqrt(h < 1.0 ? h : 1.0));
	return 1000.0 + 2.0 * 1.5 * km / 200.0 * 1000.0;
}

/* 1 / x, kept finite for any positive finite x. */
static double inverse(double x)
{
	double v = 1.0 / x;
	return v < RATIO_MAX ? v : RATIO_MAX;
}

void faii_route_fleet_compute(const struct faii_config *cfg,
                              const struct faii_route_node_state *state,
                              struct faii_route_fleet *fleet)
{
	/* Running means: a sum of large finite values would overflow. The
	 * energy-to-work references are harmonic means: running means of 1/e. */
	unsigned active = 0, in_group[FAII_CATEGORY_COUNT][FAII_CLASS_COUNT] = {{0}};
	unsigned in_class[FAII_CLASS_COUNT] = {0};
	memset(fleet, 0, sizeof(*fleet));
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		const struct faii_cfg_node *n = &cfg->nodes[i];
		if (state[i].status != FAII_NODE_ACTIVE)
			continue;
		FAII_ASSERT_MSG(isfinite(n->price) && n->price > 0 && isfinite(n->esg.pue) &&
		                        n->esg.pue > 0 && isfinite(n->esg.energy_to_work) &&
		                        n->esg.energy_to_work > 0 &&
		                        n->node_class < FAII_CLASS_COUNT,
		                "node %u: price %g, pue %g, energy_to_work %g, class %u", n->id,
		                n->price, n->esg.pue, n->esg.energy_to_work, n->node_class);
		active++;
		fleet->price_mean += (n->price - fleet->price_mean) / active;
		fleet->pue_mean += (n->esg.pue - fleet->pue_mean) / active;
		double inv = inverse(n->esg.energy_to_work);
		double *cls = &fleet->etw_ref_class[n->node_class];
		*cls += (inv - *cls) / ++in_class[n->node_class];
		for (unsigned c = 0; c < FAII_CATEGORY_COUNT; c++) {
			if (!((n->eligibility >> c) & 1))
				continue;
			double *g = &fleet->etw_ref[c][n->node_class];
			*g += (inv - *g) / ++in_group[c][n->node_class];
		}
	}
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		if (in_class[k] > 0)
			fleet->etw_ref_class[k] = inverse(fleet->etw_ref_class[k]);
		for (unsigned c = 0; c < FAII_CATEGORY_COUNT; c++) {
			if (in_group[c][k] > 0)
				fleet->etw_ref[c][k] = inverse(fleet->etw_ref[c][k]);
		}
	}
	unsigned in_cat[FAII_CATEGORY_COUNT] = {0};
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		const struct faii_cfg_node *n = &cfg->nodes[i];
		if (state[i].status != FAII_NODE_ACTIVE)
			continue;
		for (uint8_t c = 1; c <= FAII_CATEGORY_COUNT; c++) {
			if (!((n->eligibility >> (c - 1)) & 1))
				continue;
			double esg = faii_route_node_esg(&cfg->policy, fleet, n, c);
			fleet->esg_mean[c - 1] += (esg - fleet->esg_mean[c - 1]) / ++in_cat[c - 1];
		}
	}
	FAII_ASSERT(isfinite(fleet->price_mean) && isfinite(fleet->pue_mean));
	for (unsigned c = 0; c < FAII_CATEGORY_COUNT; c++)
		FAII_ASSERT(isfinite(fleet->esg_mean[c]));
}

void faii_class_price_update(struct faii_class_price *cp, const double work[FAII_CLASS_COUNT],
                             double share_max)
{
	FAII_ASSERT(share_max > 0 && share_max < 1);
	double total = 0;
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		FAII_ASSERT_MSG(isfinite(work[k]) && work[k] >= 0, "class %u work %g", k, work[k]);
		total += work[k];
	}
	if (!(total > 0) || !isfinite(total))
		return; /* nothing measured: no gradient */
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		double s = work[k] / total;
		cp->share[k] = cp->updates == 0 ? s
		                                : (1.0 - FAII_CLASS_SHARE_EWMA) * cp->share[k] +
		                                          FAII_CLASS_SHARE_EWMA * s;
		double pi = cp->price[k] + FAII_CLASS_PRICE_STEP * (cp->share[k] - share_max);
		cp->price[k] = pi < 0 ? 0 : pi > FAII_CLASS_PRICE_MAX ? FAII_CLASS_PRICE_MAX : pi;
		FAII_ASSERT(cp->price[k] >= 0 && cp->price[k] <= FAII_CLASS_PRICE_MAX);
	}
	cp->updates++;
}

/* ---- the quadratic programme over candidates ------------------------------ */

struct qp {
	unsigned n;
	double a[FAII_ROUTE_CANDIDATES_MAX];    /* linear value */
	double q[FAII_ROUTE_CANDIDATES_MAX];    /* quadratic coefficient, > 0 */
	unsigned op[FAII_ROUTE_CANDIDATES_MAX]; /* operator, renumbered 0..ops-1 */
	bool edge[FAII_ROUTE_CANDIDATES_MAX];
	unsigned ops;
	double beta; /* per-operator cap on the share */
	double phi[FAII_ROUTE_CANDIDATES_MAX];
};

static double node_share(const struct qp *p, unsigned i, double level, double kappa)
{
	double v = (p->a[i] + (p->edge[i] ? kappa : 0.0) - level) / (2.0 * p->q[i]);
	return v > 0 ? v : 0;
}

static double op_sum(const struct qp *p, unsigned op, double level, double kappa)
{
	double s = 0;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->op[i] == op)
			s += node_share(p, i, level, kappa);
	}
	return s;
}

/* Sum over operators of min(beta, their sum) at a root level. */
static double capped_total(const struct qp *p, double level, double kappa)
{
	double op_total[FAII_ROUTE_CANDIDATES_MAX] = {0};
	for (unsigned i = 0; i < p->n; i++)
		op_total[p->op[i]] += node_share(p, i, level, kappa);
	double x = 0;
	for (unsigned o = 0; o < p->ops; o++)
		x += op_total[o] < p->beta ? op_total[o] : p->beta;
	return x;
}

/* A level where f (decreasing in the level) equals target, by bisection. */
static double find_level(const struct qp *p, double kappa, double target, int op)
{
	double hi = -INFINITY, lo = INFINITY, qmax = 0;
	for (unsigned i = 0; i < p->n; i++) {
		double ai = p->a[i] + (p->edge[i] ? kappa : 0.0);
		hi = ai > hi ? ai : hi;
		lo = ai < lo ? ai : lo;
		qmax = p->q[i] > qmax ? p->q[i] : qmax;
	}
	lo -= 2.0 * qmax * (1.0 + target); /* every node then holds >= 1 + target */
	FAII_ASSERT(isfinite(lo) && isfinite(hi) && lo <= hi);
	for (int step = 0; step < LEVEL_STEPS_MAX; step++) {
		double mid = lo + 0.5 * (hi - lo);
		if (mid <= lo || mid >= hi)
			break; /* adjacent doubles: as precise as it gets */
		double f =
		        op < 0 ? capped_total(p, mid, kappa) : op_sum(p, (unsigned)op, mid, kappa);
		if (f > target)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

/*
 * Divides the shares by their total. A total that is not a usable positive
 * number (no input should give one) falls back to an equal split over the
 * operators, one node each, which every cap allows (ops * beta >= 1).
 */
static void normalise(struct qp *p, double total)
{
	if (total > 0 && isfinite(total)) {
		for (unsigned i = 0; i < p->n; i++)
			p->phi[i] /= total;
		return;
	}
	bool given[FAII_ROUTE_CANDIDATES_MAX] = {false};
	for (unsigned i = 0; i < p->n; i++) {
		p->phi[i] = given[p->op[i]] ? 0.0 : 1.0 / p->ops;
		given[p->op[i]] = true;
	}
}

/* Shares for a given edge multiplier kappa: root level, then capped operators. */
static void solve_for_kappa(struct qp *p, double kappa)
{
	double level = find_level(p, kappa, 1.0, -1);
	double op_level[FAII_ROUTE_CANDIDATES_MAX];
	for (unsigned o = 0; o < p->ops; o++)
		op_level[o] = op_sum(p, o, level, kappa) > p->beta
		                      ? find_level(p, kappa, p->beta, (int)o)
		                      : level;
	double total = 0;
	for (unsigned i = 0; i < p->n; i++) {
		p->phi[i] = node_share(p, i, op_level[p->op[i]], kappa);
		total += p->phi[i];
	}
	/* Remove the bisection's last rounding so the shares sum to exactly 1. */
	normalise(p, total);
}

static double edge_share(const struct qp *p)
{
	double e = 0;
	for (unsigned i = 0; i < p->n; i++)
		e += p->edge[i] ? p->phi[i] : 0.0;
	return e;
}

/*
 * The edge reserve (25): raise the value of micro and S candidates by kappa
 * until their share reaches alpha. Their share grows with kappa, so bisect.
 */
static bool solve_with_edge_reserve(struct qp *p, double alpha)
{
	solve_for_kappa(p, 0.0);
	if (alpha <= 0 || edge_share(p) >= alpha - 1e-9)
		return true;
	double lo = 0, hi = 1.0;
	for (unsigned i = 0; i < p->n; i++)
		hi += p->a[i] + 2.0 * p->q[i];
	solve_for_kappa(p, hi);
	if (edge_share(p) < alpha - 1e-6)
		return false; /* the edge candidates cannot carry alpha (caps) */
	for (int step = 0; step < BISECT_STEPS; step++) {
		double mid = 0.5 * (lo + hi);
		solve_for_kappa(p, mid);
		if (edge_share(p) < alpha)
			lo = mid;
		else
			hi = mid;
	}
	solve_for_kappa(p, hi);
	return true;
}

/*
 * Dispersion (33): at least d operators carry work. If fewer do, mix in an
 * equal split over the d best operators, just enough that each carries at
 * least 1 / (4 d). The mix keeps operator caps when beta >= 1/d.
 */
static void ensure_dispersion(struct qp *p, unsigned d)
{
	double op_total[FAII_ROUTE_CANDIDATES_MAX] = {0}, op_best[FAII_ROUTE_CANDIDATES_MAX];
	unsigned op_best_node[FAII_ROUTE_CANDIDATES_MAX], serving = 0;
	for (unsigned o = 0; o < p->ops; o++)
		op_best[o] = -INFINITY;
	/* Every operator has a node: its first one until a better is seen, so
	 * that no index depends on how a value compares. */
	for (unsigned i = p->n; i-- > 0;)
		op_best_node[p->op[i]] = i;
	for (unsigned i = 0; i < p->n; i++) {
		FAII_ASSERT(p->op[i] < p->ops);
		op_total[p->op[i]] += p->phi[i];
		if (p->a[i] > op_best[p->op[i]]) {
			op_best[p->op[i]] = p->a[i];
			op_best_node[p->op[i]] = i;
		}
	}
	for (unsigned o = 0; o < p->ops; o++)
		serving += op_total[o] > SHARE_EPSILON;
	if (serving >= d || p->ops < d)
		return;
	bool chosen[FAII_ROUTE_CANDIDATES_MAX] = {false};
	for (unsigned k = 0; k < d; k++) {
		int best = -1;
		for (unsigned o = 0; o < p->ops; o++) {
			if (!chosen[o] && (best < 0 || op_best[o] > op_best[best]))
				best = (int)o;
		}
		FAII_ASSERT(best >= 0 && (unsigned)best < p->ops);
		chosen[best] = true;
	}
	double floor = 1.0 / (DISPERSION_FLOOR_DIVISOR * d), theta = 0;
	for (unsigned o = 0; o < p->ops; o++) {
		if (chosen[o] && op_total[o] < floor) {
			double t = (floor - op_total[o]) / (1.0 / d - op_total[o]);
			theta = t > theta ? t : theta;
		}
	}
	for (unsigned i = 0; i < p->n; i++)
		p->phi[i] *= 1.0 - theta;
	for (unsigned o = 0; o < p->ops; o++) {
		if (chosen[o]) {
			FAII_ASSERT(op_best_node[o] < p->n);
			p->phi[op_best_node[o]] += theta / d;
		}
	}
}

/* Largest operator total, to check caps after a correction. */
static double max_operator_share(const struct qp *p)
{
	double op_total[FAII_ROUTE_CANDIDATES_MAX] = {0}, m = 0;
	for (unsigned i = 0; i < p->n; i++)
		op_total[p->op[i]] += p->phi[i];
	for (unsigned o = 0; o < p->ops; o++)
		m = op_total[o] > m ? op_total[o] : m;
	return m;
}

/*
 * The dispersion mix scales every share, micro+S included. If that took the
 * edge share below alpha, scale edge and other shares back to alpha and
 * 1 - alpha; keep the result only if no operator cap breaks. false: the
 * reserve could not be restored.
 */
static bool restore_edge_reserve(struct qp *p, double alpha)
{
	double e = edge_share(p);
	if (alpha <= 0 || e >= alpha - 1e-9)
		return true;
	if (e <= 0 || e >= 1)
		return false;
	double saved[FAII_ROUTE_CANDIDATES_MAX];
	memcpy(saved, p->phi, sizeof(saved));
	for (unsigned i = 0; i < p->n; i++)
		p->phi[i] *= p->edge[i] ? alpha / e : (1.0 - alpha) / (1.0 - e);
	if (max_operator_share(p) <= p->beta + 1e-9)
		return true;
	memcpy(p->phi, saved, sizeof(saved));
	return false;
}

/*
 * The caps, re-imposed whatever rounding the steps above left: an operator
 * over beta is scaled down to it and the excess goes to the operators below
 * it, in proportion to their shares (equally when they hold none). Each
 * round caps at least one more operator, so at most ops rounds.
 */
static void enforce_caps(struct qp *p)
{
	bool capped[FAII_ROUTE_CANDIDATES_MAX] = {false};
	for (unsigned round = 0; round <= p->ops; round++) {
		double tot[FAII_ROUTE_CANDIDATES_MAX] = {0}, excess = 0, room = 0;
		unsigned open_ops = 0;
		for (unsigned i = 0; i < p->n; i++)
			tot[p->op[i]] += p->phi[i];
		for (unsigned o = 0; o < p->ops; o++) {
			if (tot[o] > p->beta + CAP_SLACK) {
				excess += tot[o] - p->beta;
				capped[o] = true;
			}
			if (!capped[o]) {
				room += tot[o];
				open_ops++;
			}
		}
		if (excess == 0)
			return;
		FAII_ASSERT_MSG(open_ops > 0, "%u operators cannot carry the excess %g at cap %g",
		                p->ops, excess, p->beta);
		bool given[FAII_ROUTE_CANDIDATES_MAX] = {false};
		for (unsigned i = 0; i < p->n; i++) {
			unsigned o = p->op[i];
			if (capped[o] && tot[o] > p->beta)
				p->phi[i] *= p->beta / tot[o];
			else if (!capped[o] && room > 0)
				p->phi[i] *= 1.0 + excess / room;
			else if (!capped[o] && !given[o])
				p->phi[i] += excess / open_ops;
			given[o] = true;
		}
	}
	FAII_UNREACHABLE();
}

/* ---- alias table (Vose) --------------------------------------------------------- */

void faii_route_alias_build(const float *share, unsigned n, uint32_t *prob, uint16_t *alias)
{
	FAII_ASSERT(n <= FAII_ROUTE_CANDIDATES_MAX);
	unsigned small[FAII_ROUTE_CANDIDATES_MAX], large[FAII_ROUTE_CANDIDATES_MAX];
	unsigned ns = 0, nl = 0;
	double scaled[FAII_ROUTE_CANDIDATES_MAX];
	for (unsigned i = 0; i < n; i++) {
		scaled[i] = (double)share[i] * n;
		alias[i] = (uint16_t)i;
		if (scaled[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0) {
		unsigned sm = small[--ns], l = large[--nl];
		prob[sm] = (uint32_t)(scaled[sm] * FAII_ROUTE_PROB_ONE);
		alias[sm] = (uint16_t)l;
		scaled[l] -= 1.0 - scaled[sm];
		if (scaled[l] < 1.0)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	while (nl > 0)
		prob[large[--nl]] = FAII_ROUTE_PROB_ONE;
	while (ns > 0) /* rounding leftovers: keep themselves */
		prob[small[--ns]] = FAII_ROUTE_PROB_ONE;
}

static void build_alias(struct faii_route_table *t)
{
	faii_route_alias_build(t->share, t->count, t->prob, t->alias);
}

/* Postconditions of a solved table: a distribution over its candidates that
 * the alias arrays reproduce, within the operator cap the solver settled on. */
static void check_solution(const struct faii_route_table *t, const struct qp *p)
{
	FAII_ASSERT(t->count >= 1 && t->count <= FAII_ROUTE_CANDIDATES_MAX && p->n == t->count);
	double sum = 0;
	for (unsigned k = 0; k < t->count; k++) {
		FAII_ASSERT_MSG(p->phi[k] >= -1e-9 && p->phi[k] <= 1 + 1e-9, "share %u = %g", k,
		                p->phi[k]);
		FAII_ASSERT(t->alias[k] < t->count);
		sum += p->phi[k];
	}
	FAII_ASSERT_MSG(fabs(sum - 1.0) < 1e-6, "shares sum to %.9f", sum);
	FAII_ASSERT_MSG(max_operator_share(p) <= p->beta + 1e-6, "operator share %g above cap %g",
	                max_operator_share(p), p->beta);
}

/* ---- replica sets ------------------------------------------------------------------ */

/*
 * Proportional capping: out_i = min(cap_i, c w_i) over the items with
 * w_i > 0, c such that the outs sum to total; what they cannot hold goes
 * to the zero-weight items in proportion to their caps. Each round fixes
 * at least one more item at its cap (c only grows as items are fixed), so
 * at most m + 1 rounds per phase. Returns what could not be placed.
 */
static double proportional_fill(const double *w, const double *cap, unsigned m, double total,
                                double *out)
{
	bool fixed[FAII_ROUTE_CANDIDATES_MAX] = {false};
	FAII_ASSERT(m <= FAII_ROUTE_CANDIDATES_MAX && total >= 0);
	for (unsigned i = 0; i < m; i++)
		out[i] = 0;
	for (int phase = 0; phase < 2 && total > 1e-12; phase++) {
		for (unsigned round = 0; round <= m; round++) {
			/* Caps fixed in one round may overshoot total by rounding:
			 * what is left is then nothing, never a negative share. */
			if (total <= 1e-12) {
				total = 0;
				break;
			}
			double weight = 0;
			for (unsigned i = 0; i < m; i++) {
				double wi = phase == 0 ? w[i] : (w[i] > 0 ? 0 : cap[i]);
				weight += fixed[i] ? 0 : wi;
			}
			if (!(weight > 0))
				break;
			double c = total / weight;
			bool any = false;
			for (unsigned i = 0; i < m; i++) {
				double wi = phase == 0 ? w[i] : (w[i] > 0 ? 0 : cap[i]);
				if (!fixed[i] && wi > 0 && c * wi >= cap[i]) {
					out[i] = cap[i];
					fixed[i] = any = true;
					total -= cap[i];
				}
			}
			if (any)
				continue;
			for (unsigned i = 0; i < m; i++) {
				double wi = phase == 0 ? w[i] : (w[i] > 0 ? 0 : cap[i]);
				if (!fixed[i] && wi > 0) {
					out[i] = c * wi;
					fixed[i] = true;
				}
			}
			total = 0;
			break;
		}
	}
	return total > 1e-12 ? total : 0;
}

unsigned faii_route_inclusion(const struct faii_config *cfg, const struct faii_route_table *t,
                              unsigned family, unsigned n, float incl[FAII_ROUTE_CANDIDATES_MAX],
                              bool *relaxed)
{
	*relaxed = false;
	FAII_ASSERT(family < FAII_ROUTE_FAMILIES && n >= 1 && n <= FAII_REPLICAS_MAX);
	unsigned op_of[FAII_ROUTE_CANDIDATES_MAX], ops = 0, members = 0;
	uint16_t op_id[FAII_ROUTE_CANDIDATES_MAX];
	double mass[FAII_ROUTE_CANDIDATES_MAX] = {0}, nodes[FAII_ROUTE_CANDIDATES_MAX] = {0};
	double positive[FAII_ROUTE_CANDIDATES_MAX] = {0};
	for (unsigned k = 0; k < t->count; k++) {
		incl[k] = 0;
		if (FAII_ROUTE_FAMILY(cfg->nodes[t->node[k]].addr_family) != family)
			continue;
		uint16_t op = cfg->nodes[t->node[k]].operator_idx;
		unsigned o = 0;
		while (o < ops && op_id[o] != op)
			o++;
		if (o == ops)
			op_id[ops++] = op;
		op_of[k] = o;
		mass[o] += n * (double)t->family_share[family][k];
		nodes[o] += 1.0;
		positive[o] += t->family_share[family][k] > 0;
		members++;
	}
	if (members < n)
		return 0; /* no set of n distinct nodes: the dataplane refuses */
	/* Operators first: each at most n beta copies and one per node, on
	 * nodes with a share if they suffice, else on any of the family's. */
	double cap[FAII_ROUTE_CANDIDATES_MAX] = {0}, total[FAII_ROUTE_CANDIDATES_MAX] = {0};
	double beta_copies = n * (double)t->family_beta[family];
	for (unsigned o = 0; o < ops; o++)
		cap[o] = positive[o] < beta_copies ? positive[o] : beta_copies;
	if (proportional_fill(mass, cap, ops, n, total) > 0) {
		for (unsigned o = 0; o < ops; o++)
			cap[o] = nodes[o] < beta_copies ? nodes[o] : beta_copies;
		if (proportional_fill(mass, cap, ops, n, total) > 0) { /* caps cannot all hold */
			*relaxed = true;
			FAII_ASSERT(proportional_fill(mass, nodes, ops, n, total) == 0);
		}
	}
	/* Then each operator's nodes: at most one copy each. */
	double top = 0;
	for (unsigned o = 0; o < ops; o++) {
		double w[FAII_ROUTE_CANDIDATES_MAX], one[FAII_ROUTE_CANDIDATES_MAX],
		        out[FAII_ROUTE_CANDIDATES_MAX];
		unsigned idx[FAII_ROUTE_CANDIDATES_MAX], m = 0;
		for (unsigned k = 0; k < t->count; k++) {
			if (FAII_ROUTE_FAMILY(cfg->nodes[t->node[k]].addr_family) == family &&
			    op_of[k] == o) {
				idx[m] = k;
				w[m] = t->family_share[family][k];
				one[m++] = 1.0;
			}
		}
		FAII_ASSERT(proportional_fill(w, one, m, total[o], out) == 0);
		for (unsigned j = 0; j < m; j++)
			incl[idx[j]] = (float)out[j];
		top = total[o] > top ? total[o] : top;
	}
	unsigned most = (unsigned)ceil(top - 1e-6);
	FAII_ASSERT(most >= 1 && most <= n);
	return most;
}

/* ---- one key ------------------------------------------------------------------------ */

static enum faii_route_exclusion
check_node(const struct faii_config *cfg, const struct faii_route_node_state *st,
           const struct faii_route_fleet *fleet, const struct faii_cfg_node *n,
           const struct faii_cfg_residency_class *rc, unsigned region_slot, uint8_t category)
{
	if (st->status != FAII_NODE_ACTIVE)
		return FAII_ROUTE_EX_NOT_ACTIVE;
	if (st->stale_heartbeat)
		return FAII_ROUTE_EX_STALE;
	if (!(n->eligibility & (1u << (category - 1))))
		return FAII_ROUTE_EX_NOT_ELIGIBLE;
	if (!(rc->allowed & (1ull << n->jurisdiction)))
		return FAII_ROUTE_EX_RESIDENCY;
	if (st->latency_us[region_slot] > faii_category_latency_budget_us(category))
		return FAII_ROUTE_EX_LATENCY;
	if (!faii_price_in_corridor(&cfg->policy, n->price, fleet->price_mean))
		return FAII_ROUTE_EX_PRICE_CORRIDOR;
	return FAII_ROUTE_EX_NONE;
}

void faii_route_terms(const struct faii_config *cfg, const struct faii_route_node_state *st,
                      const struct faii_route_fleet *fleet, const struct faii_cfg_node *n,
                      uint8_t category, struct faii_route_terms *out)
{
	FAII_ASSERT(category >= 1 && category <= FAII_CATEGORY_COUNT);
	const struct faii_policy *p = &cfg->policy;
	unsigned tier = faii_category_tier(category);
	double etw_ref = faii_route_etw_ref(fleet, category, n->node_class);
	double esg_mean = fleet->esg_mean[category - 1];
	/* A stale attestation proves nothing: score the node as if it drew all
	 * its power from the grid at its worst (no renewables, full grid
	 * stress), which also discounts its reward. */
	out->esg =
	        st->stale_attest
	                ? p->esg_weight[1] / ratio_to_mean(n->esg.pue, fleet->pue_mean) +
	                          p->esg_weight[2] / ratio_to_mean(n->esg.energy_to_work, etw_ref)
	                : faii_esg_score(p, &n->esg, fleet->pue_mean, etw_ref);
	out->esg_rel = esg_mean > 0 && out->esg > 0 ? ratio_to_mean(out->esg, esg_mean)
	               : esg_mean > 0               ? 0.0
	                                            : 1.0;
	out->reward_mult = faii_mult_reward(out->esg, esg_mean);
	out->reward = out->reward_mult * n->price;
	/* Wh per task unit at the servers, times PUE: the site's energy. */
	out->energy_kwh = n->esg.energy_to_work * n->esg.pue / 1000.0;
	out->energy_cost = p->energy_price * out->energy_kwh;
	/* Verified work net of energy (13), per unit of the posted price
	 * relative to the fleet's: (s x p_bar - kappa_e e) / p. A node whose
	 * energy costs more than its work is worth keeps the floor: a
	 * candidate of last resort, never a negative value. */
	double p_bar = fleet->price_mean > 0 ? fleet->price_mean : 1.0;
	double v = (st->slo_success[tier - 1] * out->esg_rel - out->energy_cost / p_bar) /
	           ratio_to_mean(n->price, p_bar);
	out->value =
	        v > PREFERENCE_MIN ? (v < PREFERENCE_MAX ? v : PREFERENCE_MAX) : PREFERENCE_MIN;
	FAII_ASSERT(out->reward_mult >= 0 && out->reward_mult <= 1);
}

/*
 * Preference (SPEC 3.2): expected verified work per unit of share, weighted
 * by ESG relative to the category's mean (43), net of its energy (13), per
 * unit of the posted price relative to the fleet's mean (46).
 */
static double preference(const struct faii_config *cfg, const struct faii_route_node_state *st,
                         const struct faii_route_fleet *fleet, const struct faii_cfg_node *n,
                         uint8_t category)
{
	struct faii_route_terms terms;
	faii_route_terms(cfg, st, fleet, n, category, &terms);
	return terms.value;
}

static int region_slot(const struct faii_config *cfg, uint16_t region)
{
	for (uint32_t r = 0; r < cfg->region_count; r++) {
		if (cfg->regions[r].id == region)
			return (int)r;
	}
	return -1;
}

/* Keeps the best FAII_ROUTE_CANDIDATES_MAX feasible nodes by value. */
static unsigned select_candidates(const float *value, const uint8_t *ex, uint32_t count,
                                  uint32_t *out)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (ex[i] != FAII_ROUTE_EX_NONE)
			continue;
		if (n < FAII_ROUTE_CANDIDATES_MAX) {
			out[n++] = i;
			continue;
		}
		unsigned worst = 0;
		for (unsigned k = 1; k < n; k++) {
			if (value[out[k]] < value[out[worst]])
				worst = k;
		}
		if (value[i] > value[out[worst]])
			out[worst] = i;
	}
	return n;
}

static void setup_qp(const struct faii_config *cfg, const struct faii_route_key *key,
                     const struct faii_route_table *t, struct qp *p)
{
	const struct faii_tier_policy *tp =
	        &cfg->policy.tier[faii_category_tier(key->category) - 1];
	FAII_ASSERT_MSG(isfinite(key->arrival_rate), "arrival rate %g", key->arrival_rate);
	double lambda =
	        key->arrival_rate > ARRIVAL_FLOOR_PER_S ? key->arrival_rate : ARRIVAL_FLOOR_PER_S;
	double a_mean = 0, a_max = 0;
	unsigned op_map[FAII_CFG_OPERATORS_MAX];
	memset(op_map, 0xFF, sizeof(op_map));
	memset(p, 0, sizeof(*p));
	p->n = t->count;
	for (unsigned i = 0; i < p->n; i++)
		a_max = t->value[i] > a_max ? t->value[i] : a_max;
	/* The programme is homogeneous in a (q scales with the mean of a), so
	 * values scaled to at most 1 give the same shares, well conditioned. */
	/* The class-share price is charged on the linear term only: the
	 * congestion and concentration terms keep the scale of the values. */
	for (unsigned i = 0; i < p->n; i++) {
		FAII_ASSERT_MSG(isfinite(t->value[i]) && t->value[i] >= 0, "value %g", t->value[i]);
		FAII_ASSERT(t->class_price[i] >= 0 && t->class_price[i] <= FAII_CLASS_PRICE_MAX);
		a_mean += (a_max > 0 ? t->value[i] / a_max : 0.0) / p->n;
		p->a[i] = a_max > 0 ? (t->value[i] - t->class_price[i]) / a_max : 0.0;
	}
	for (unsigned i = 0; i < p->n; i++) {
		const struct faii_cfg_node *node = &cfg->nodes[t->node[i]];
		/* Congestion (7),(15): success falls with utilisation
		 * phi lambda / sigma_i (lambda in node slots per second, sigma_i
		 * the service rate, the capacity unless configured), priced at
		 * the key's mean value so that a better node is never charged
		 * more for the same load (shares stay monotone in a_i). */
		p->q[i] = a_mean * lambda / node->service_rate_tasks_per_s +
		          cfg->policy.concentration_eta * a_mean;
		if (!(p->q[i] >= Q_MIN)) /* NaN too */
			p->q[i] = p->q[i] < Q_MIN ? Q_MIN : Q_MAX;
		if (p->q[i] > Q_MAX)
			p->q[i] = Q_MAX;
		p->edge[i] = node->node_class == FAII_CLASS_MICRO ||
		             node->node_class == FAII_CLASS_SMALL;
		if (op_map[node->operator_idx] == 0xFFFFFFFFu)
			op_map[node->operator_idx] = p->ops++;
		p->op[i] = op_map[node->operator_idx];
	}
	p->beta = tp->operator_cap;
}

/*
 * Candidates grouped by operator (then by slot): a replica set drawn by
 * systematic sampling over this order spreads over operators as evenly as
 * its inclusion probabilities allow (faii_route_inclusion).
 */
static void order_by_operator(const struct faii_config *cfg, uint32_t *chosen, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t x = chosen[i];
		uint16_t op = cfg->nodes[x].operator_idx;
		unsigned j = i;
		while (j > 0 &&
		       (cfg->nodes[chosen[j - 1]].operator_idx > op ||
		        (cfg->nodes[chosen[j - 1]].operator_idx == op && chosen[j - 1] > x))) {
			chosen[j] = chosen[j - 1];
			j--;
		}
		chosen[j] = x;
	}
}

/*
 * The shares of t's candidates (sections 3 and 3a of docs/routing.md):
 * fills share, beta, flags and the alias table. Returns the operators.
 */
static unsigned solve_candidates(const struct faii_config *cfg, const struct faii_route_key *key,
                                 struct faii_route_table *t)
{
	const struct faii_tier_policy *tp =
	        &cfg->policy.tier[faii_category_tier(key->category) - 1];
	if (t->count == 0) {
		t->flags |= FAII_ROUTE_F_EMPTY;
		return 0;
	}
	struct qp p;
	setup_qp(cfg, key, t, &p);
	if (p.ops * p.beta < 1.0) {
		p.beta = 1.0 / p.ops; /* caps cannot all hold: the best possible spread */
		t->flags |= FAII_ROUTE_F_CAPS_RELAXED;
	}
	if (p.ops < tp->operators_min)
		t->flags |= FAII_ROUTE_F_FEW_OPERATORS;
	bool edge_ok = solve_with_edge_reserve(&p, tp->edge_reserve);
	ensure_dispersion(&p, tp->operators_min);
	if (!edge_ok || !restore_edge_reserve(&p, tp->edge_reserve))
		t->flags |= FAII_ROUTE_F_EDGE_SHORT;
	enforce_caps(&p);
	for (unsigned k = 0; k < t->count; k++)
		t->share[k] = (float)p.phi[k];
	t->beta = (float)p.beta;
	build_alias(t);
	check_solution(t, &p);
	return p.ops;
}

/*
 * The same per address family: a task is served only by nodes of its own
 * family, so the caps must hold among them. A family holding every
 * candidate takes the key's solution as it is.
 */
static void solve_families(const struct faii_config *cfg, const struct faii_route_key *key,
                           struct faii_route_table *t)
{
	static _Thread_local struct faii_route_table sub;
	for (unsigned f = 0; f < FAII_ROUTE_FAMILIES; f++) {
		unsigned map[FAII_ROUTE_CANDIDATES_MAX], n = 0;
		memset(&sub, 0, offsetof(struct faii_route_table, node));
		for (unsigned k = 0; k < t->count; k++) {
			if (FAII_ROUTE_FAMILY(cfg->nodes[t->node[k]].addr_family) != f)
				continue;
			map[n] = k;
			sub.node[n] = t->node[k];
			sub.value[n] = t->value[k];
			sub.class_price[n] = t->class_price[k];
			n++;
		}
		sub.count = (uint16_t)n;
		if (n == t->count) {
			memcpy(t->family_share[f], t->share, sizeof(t->share));
			t->family_beta[f] = t->beta;
			t->family_flags[f] = t->flags;
			continue;
		}
		solve_candidates(cfg, key, &sub);
		t->family_beta[f] = sub.beta;
		t->family_flags[f] = sub.flags;
		for (unsigned j = 0; j < n; j++)
			t->family_share[f][map[j]] = sub.share[j];
	}
}

int faii_route_solve(const struct faii_config *cfg, const struct faii_route_node_state *state,
                     const struct faii_route_fleet *fleet, const struct faii_route_key *key,
                     struct faii_route_table *t, struct faii_route_explain *explain)
{
	const struct faii_cfg_residency_class *rc =
	        faii_config_residency_class(cfg, key->residency_class);
	int slot = region_slot(cfg, key->region);
	if (rc == NULL || slot < 0 || faii_category_tier(key->category) == 0)
		return -EINVAL;
	static _Thread_local uint8_t ex[FAII_CFG_NODES_MAX];
	static _Thread_local float value[FAII_CFG_NODES_MAX];
	uint32_t feasible = 0;
	for (uint32_t i = 0; i < cfg->node_count; i++) {
		ex[i] = (uint8_t)check_node(cfg, &state[i], fleet, &cfg->nodes[i], rc,
		                            (unsigned)slot, key->category);
		value[i] = ex[i] == FAII_ROUTE_EX_NONE
		                   ? (float)preference(cfg, &state[i], fleet, &cfg->nodes[i],
		                                       key->category)
		                   : 0.0f;
		feasible += ex[i] == FAII_ROUTE_EX_NONE;
	}

	memset(t, 0, sizeof(*t));
	t->region = key->region;
	t->category = key->category;
	t->residency_class = key->residency_class;
	uint32_t chosen[FAII_ROUTE_CANDIDATES_MAX];
	t->count = (uint16_t)select_candidates(value, ex, cfg->node_count, chosen);
	order_by_operator(cfg, chosen, t->count);
	for (unsigned k = 0; k < t->count; k++) {
		t->node[k] = chosen[k];
		t->value[k] = value[chosen[k]];
		double pi = fleet->class_price[cfg->nodes[chosen[k]].node_class];
		FAII_ASSERT_MSG(pi >= 0 && pi <= FAII_CLASS_PRICE_MAX, "class price %g", pi);
		t->class_price[k] = (float)pi;
		double lat = state[chosen[k]].latency_us[slot];
		t->latency_us[k] = (uint32_t)(lat < UINT32_MAX ? lat : UINT32_MAX);
	}
	unsigned ops = solve_candidates(cfg, key, t);
	solve_families(cfg, key, t);
	if (explain)
		explain->operators = ops;
	if (explain) {
		explain->node_count = cfg->node_count;
		explain->feasible = feasible;
		memcpy(explain->exclusion, ex, cfg->node_count);
		memcpy(explain->value, value, cfg->node_count * sizeof(float));
		for (uint32_t i = 0; i < cfg->node_count; i++) {
			if (ex[i] == FAII_ROUTE_EX_NONE)
				explain->exclusion[i] = FAII_ROUTE_EX_NOT_IN_TOP;
		}
		for (unsigned k = 0; k < t->count; k++)
			explain->exclusion[t->node[k]] = FAII_ROUTE_EX_NONE;
	}
	return 0;
}
