/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the routing solver (control/routing.c, SPEC section 3).
 *
 * Configurations are built in memory as small YAML documents (the loader
 * then fills struct faii_config exactly as faiid would) or loaded from
 * configs/demo.yaml; the live node state the solver reads is set per test.
 * Every solved table goes through check_table(), which re-derives the
 * feasibility rules, the share constraints, the flags and the alias table
 * from the specification, and optimality is checked against the KKT
 * conditions of the key's quadratic programme (kkt_violation()), whose
 * checker is itself checked by perturbing optimal solutions.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faii/config.h"
#include "faii/protocol.h"
#include "faii/publish.h"
#include "faii/routing.h"
#include "pick.h"

#ifndef FAII_SOURCE_ROOT
#error "FAII_SOURCE_ROOT must name the repository root"
#endif

#define NAME      "routing.yaml"
#define SHARE_TOL 1e-6
#define CMAX      FAII_ROUTE_CANDIDATES_MAX

/* ------------------------------------------------------------------------ */
/* Deterministic randomness.                                                */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double urand(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

static unsigned urange(uint64_t *s, unsigned n)
{
	return (unsigned)(splitmix64(s) % n);
}

/* ------------------------------------------------------------------------ */
/* Building configurations.                                                 */

static const char world[] = "jurisdictions:\n"
                            "  - {country: CH, bloc: EFTA}\n"
                            "  - {country: DE, bloc: EU}\n"
                            "  - {country: FR, bloc: EU}\n"
                            "  - {country: US}\n"
                            "residency_classes:\n"
                            "  - {id: 1, name: any, allow: [any]}\n"
                            "  - {id: 2, name: CH-only, allow: [CH]}\n"
                            "  - {id: 3, name: EU-only, allow: [EU]}\n"
                            "regions:\n"
                            "  - {id: 1, name: zurich, lat: 47.37, lon: 8.54}\n"
                            "  - {id: 2, name: frankfurt, lat: 50.11, lon: 8.68}\n"
                            "  - {id: 3, name: paris, lat: 48.86, lon: 2.35}\n"
                            "  - {id: 4, name: virginia, lat: 38.95, lon: -77.45}\n";

enum { RC_ANY = 1, RC_CH = 2, RC_EU = 3 };
enum { REG_ZURICH = 1, REG_FRANKFURT = 2 };
enum { SLOT_ZURICH = 0, SLOT_FRANKFURT = 1 };

/* One node of a test document. */
struct nspec {
	const char *cls; /* micro, S, M, L, XL */
	const char *op;
	const char *country; /* CH, DE, FR, US */
	double capacity;
	const char *elig; /* YAML list body */
	double price;
	const char *mix; /* YAML mapping */
	double pue, etw, grid;
	double sigma; /* service_rate; 0: not given (the capacity) */
	bool v6;      /* an IPv6 address */
};

static struct nspec ns(const char *cls, const char *op, const char *country)
{
	struct nspec s = {cls, op,  country, 100.0, "all", 1.0, "{solar: 0.5, nonrenewable: 0.5}",
	                  1.2, 1.0, 0.3,     0.0,   false};
	return s;
}

static void place_of(const char *country, const char **region, double *lat, double *lon)
{
	if (strcmp(country, "DE") == 0) {
		*region = "frankfurt", *lat = 50.10, *lon = 8.70;
	} else if (strcmp(country, "FR") == 0) {
		*region = "paris", *lat = 48.85, *lon = 2.35;
	} else if (strcmp(country, "US") == 0) {
		*region = "virginia", *lat = 38.90, *lon = -77.40;
	} else {
		*region = "zurich", *lat = 47.40, *lon = 8.50;
	}
}

/* policy (YAML, may be NULL), the world above and the nodes; the caller frees. */
static char *doc_build(const char *policy, const struct nspec *nodes, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	fputs(policy ? policy : "", f);
	fputs(world, f);
	fputs("nodes:\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct nspec *s = &nodes[i];
		const char *region;
		double lat, lon;
		unsigned id = (unsigned)i + 1;
		place_of(s->country, &region, &lat, &lon);
		char sigma[64] = "";
		if (s->sigma > 0)
			snprintf(sigma, sizeof(sigma), "    service_rate: %.17g\n", s->sigma);
		fprintf(f,
		        "  - id: %u\n"
		        "    name: node-%u\n"
		        "    class: %s\n"
		        "    operator: %s\n"
		        "    asn: %u\n"
		        "    country: %s\n"
		        "    region: %s\n"
		        "    location: [%.2f, %.2f]\n"
		        "    address: \"%s:%u\"\n"
		        "    capacity: %.17g\n"
		        "%s"
		        "    eligibility: [%s]\n"
		        "    price: %.17g\n"
		        "    esg:\n"
		        "      mix: %s\n"
		        "      pue: %.17g\n"
		        "      energy_to_work: %.17g\n"
		        "      grid_stress: %.17g\n"
		        "    public_key: ",
		        id, id, s->cls, s->op, 64512 + id, s->country, region, lat, lon,
		        s->v6 ? "[2001:db8::1]" : "192.0.2.1", 1000 + id, s->capacity, sigma,
		        s->elig, s->price, s->mix, s->pue, s->etw, s->grid);
		for (int k = 0; k < 8; k++)
			fprintf(f, "%08x", id);
		fputc('\n', f);
	}
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static struct faii_config *load_doc(const char *policy, const struct nspec *nodes, size_t n)
{
	char *text = doc_build(policy, nodes, n);
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *c = NULL;
	int rc = faii_config_load_string(NAME, text, strlen(text), &c, err);
	cr_assert_eq(rc, 0, "test document does not load: %s\n%s", err, text);
	cr_assert_eq(c->node_count, n);
	free(text);
	return c;
}

static struct faii_config *load_demo(void)
{
	char err[FAII_CFG_ERR_LEN] = "";
	struct faii_config *c = NULL;
	int rc = faii_config_load(FAII_SOURCE_ROOT "/configs/demo.yaml", &c, err);
	cr_assert_eq(rc, 0, "demo.yaml: %s", err);
	return c;
}

/* Every node active, SLO success 0.99 in every tier, 10 ms from every region. */
static struct faii_route_node_state *state_new(const struct faii_config *c)
{
	struct faii_route_node_state *st = calloc(c->node_count + 1, sizeof(*st));
	cr_assert_not_null(st);
	for (uint32_t i = 0; i < c->node_count; i++) {
		st[i].status = FAII_NODE_ACTIVE;
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			st[i].slo_success[t] = 0.99;
		for (unsigned r = 0; r < FAII_CFG_REGIONS_MAX; r++)
			st[i].latency_us[r] = 10000.0;
	}
	return st;
}

/* The demonstration fleet with each node's configured status, the rest as
 * state_new(), and its fleet inputs. */
static struct faii_config *demo_with_state(struct faii_route_node_state **st,
                                           struct faii_route_fleet *fl)
{
	struct faii_config *c = load_demo();
	*st = state_new(c);
	for (uint32_t i = 0; i < c->node_count; i++)
		(*st)[i].status = c->nodes[i].status;
	faii_route_fleet_compute(c, *st, fl);
	return c;
}

static int slot_of(const struct faii_config *c, uint16_t region)
{
	for (uint32_t r = 0; r < c->region_count; r++) {
		if (c->regions[r].id == region)
			return (int)r;
	}
	return -1;
}

static struct faii_route_key mkkey(uint16_t region, uint8_t category, uint8_t rc, double rate)
{
	struct faii_route_key k = {region, category, rc, rate};
	return k;
}

static void solve(const struct faii_config *c, const struct faii_route_node_state *st,
                  const struct faii_route_fleet *fl, const struct faii_route_key *key,
                  struct faii_route_table *t, struct faii_route_explain *ex)
{
	int rc = faii_route_solve(c, st, fl, key, t, ex);
	cr_assert_eq(rc, 0, "solve of region %u category %u class %u: %d", key->region,
	             key->category, key->residency_class, rc);
}

/* The share of node index node in t, or -1 if it is not a candidate. */
static double share_of(const struct faii_route_table *t, uint32_t node)
{
	for (unsigned k = 0; k < t->count; k++) {
		if (t->node[k] == node)
			return t->share[k];
	}
	return -1.0;
}

static bool is_edge_class(uint8_t cls)
{
	return cls == FAII_CLASS_MICRO || cls == FAII_CLASS_SMALL;
}

static double edge_share_of(const struct faii_config *c, const struct faii_route_table *t)
{
	double e = 0;
	for (unsigned k = 0; k < t->count; k++)
		e += is_edge_class(c->nodes[t->node[k]].node_class) ? t->share[k] : 0.0;
	return e;
}

/* Operators (config index) with total share > eps. */
static unsigned operators_serving(const struct faii_config *c, const struct faii_route_table *t,
                                  double eps)
{
	static double tot[FAII_CFG_OPERATORS_MAX];
	unsigned n = 0;
	memset(tot, 0, sizeof(tot));
	for (unsigned k = 0; k < t->count; k++)
		tot[c->nodes[t->node[k]].operator_idx] += t->share[k];
	for (uint32_t o = 0; o < FAII_CFG_OPERATORS_MAX; o++)
		n += tot[o] > eps;
	return n;
}

/* ------------------------------------------------------------------------ */
/* The specification, re-derived: feasibility and table invariants.        */

/* SPEC 3.1 in docs/routing.md's order: the first rule a node fails. */
static enum faii_route_exclusion expected_exclusion(const struct faii_config *c,
                                                    const struct faii_route_node_state *st,
                                                    const struct faii_route_fleet *fl, uint32_t i,
                                                    const struct faii_route_key *key)
{
	const struct faii_cfg_node *n = &c->nodes[i];
	const struct faii_cfg_residency_class *rc =
	        faii_config_residency_class(c, key->residency_class);
	int slot = slot_of(c, key->region);
	double lo = fl->price_mean * (1.0 - c->policy.corridor_below);
	double hi = fl->price_mean * (1.0 + c->policy.corridor_above);
	if (st[i].status != FAII_NODE_ACTIVE)
		return FAII_ROUTE_EX_NOT_ACTIVE;
	if (!(n->eligibility & (1u << (key->category - 1))))
		return FAII_ROUTE_EX_NOT_ELIGIBLE;
	if (!((rc->allowed >> n->jurisdiction) & 1u))
		return FAII_ROUTE_EX_RESIDENCY;
	if (st[i].latency_us[slot] > (double)faii_category_latency_budget_us(key->category))
		return FAII_ROUTE_EX_LATENCY;
	if (n->price < lo || n->price > hi)
		return FAII_ROUTE_EX_PRICE_CORRIDOR;
	return FAII_ROUTE_EX_NONE;
}

/* The distribution the alias table draws, exactly (up to 2^-32). */
static void alias_distribution(const struct faii_route_table *t, double *p)
{
	unsigned n = t->count;
	for (unsigned i = 0; i < n; i++)
		p[i] = 0;
	for (unsigned i = 0; i < n; i++) {
		double keep = ((double)t->prob[i] + 1.0) / 4294967296.0;
		cr_assert_lt(t->alias[i], n, "alias[%u] = %u out of range (count %u)", i,
		             t->alias[i], n);
		p[i] += keep / n;
		p[t->alias[i]] += (1.0 - keep) / n;
	}
}

/* Everything SPEC 3 and docs/routing.md promise about a solved key. */
static void check_table(const struct faii_config *c, const struct faii_route_node_state *st,
                        const struct faii_route_fleet *fl, const struct faii_route_key *key,
                        const struct faii_route_table *t, const struct faii_route_explain *ex)
{
	static double optot[FAII_CFG_OPERATORS_MAX];
	static bool opedge[FAII_CFG_OPERATORS_MAX];
	const struct faii_tier_policy *tp = &c->policy.tier[faii_category_tier(key->category) - 1];
	const struct faii_cfg_residency_class *rc =
	        faii_config_residency_class(c, key->residency_class);
	int slot = slot_of(c, key->region);
	char what[64];
	snprintf(what, sizeof(what), "key (region %u, category %u, class %u)", key->region,
	         key->category, key->residency_class);
	cr_assert_not_null(rc);
	cr_assert_geq(slot, 0);

	cr_assert_eq(t->region, key->region, "%s", what);
	cr_assert_eq(t->category, key->category, "%s", what);
	cr_assert_eq(t->residency_class, key->residency_class, "%s", what);
	cr_assert_leq(t->count, CMAX, "%s", what);

	/* Explain: every node's reason is the first rule it fails. */
	uint32_t feasible = 0, not_in_top = 0;
	cr_assert_eq(ex->node_count, c->node_count, "%s", what);
	for (uint32_t i = 0; i < c->node_count; i++) {
		enum faii_route_exclusion want = expected_exclusion(c, st, fl, i, key);
		uint8_t got = ex->exclusion[i];
		if (want == FAII_ROUTE_EX_NONE) {
			feasible++;
			not_in_top += got == FAII_ROUTE_EX_NOT_IN_TOP;
			cr_assert(got == FAII_ROUTE_EX_NONE || got == FAII_ROUTE_EX_NOT_IN_TOP,
			          "%s: node %u feasible but explained as %s", what, i,
			          faii_route_exclusion_name(got));
			cr_assert_gt(ex->value[i], 0.0f, "%s: node %u", what, i);
		} else {
			cr_assert_eq(got, want, "%s: node %u explained as %s, expected %s", what, i,
			             faii_route_exclusion_name(got),
			             faii_route_exclusion_name(want));
			cr_assert_lt(share_of(t, i), 0.0, "%s: excluded node %u in the table", what,
			             i);
		}
	}
	cr_assert_eq(ex->feasible, feasible, "%s", what);
	cr_assert_eq(t->count, feasible < CMAX ? feasible : CMAX, "%s: %u candidates of %u", what,
	             t->count, feasible);
	cr_assert_eq(t->count + not_in_top, feasible, "%s", what);

	if (t->count == 0) {
		cr_assert_eq(t->flags, FAII_ROUTE_F_EMPTY, "%s: flags %#x", what, t->flags);
		cr_assert_eq(ex->operators, 0, "%s: %u operators of an empty key", what,
		             ex->operators);
		return;
	}
	cr_assert_eq(t->flags & FAII_ROUTE_F_EMPTY, 0, "%s", what);

	/* Candidates: feasible, distinct, the best by value. */
	float vmin = INFINITY;
	double sum = 0, edge = 0;
	memset(optot, 0, sizeof(optot));
	memset(opedge, 0, sizeof(opedge));
	for (unsigned k = 0; k < t->count; k++) {
		uint32_t i = t->node[k];
		const struct faii_cfg_node *n = &c->nodes[i];
		cr_assert_lt(i, c->node_count, "%s", what);
		for (unsigned m = 0; m < k; m++)
			cr_assert_neq(t->node[m], i, "%s: node %u twice", what, i);
		cr_assert_eq(ex->exclusion[i], FAII_ROUTE_EX_NONE, "%s: node %u", what, i);
		cr_assert_eq(t->value[k], ex->value[i], "%s: node %u", what, i);
		cr_assert_eq(t->latency_us[k], (uint32_t)st[i].latency_us[slot], "%s", what);
		cr_assert(isfinite(t->share[k]) && t->share[k] >= 0.0f, "%s: share[%u] = %g", what,
		          k, (double)t->share[k]);
		vmin = t->value[k] < vmin ? t->value[k] : vmin;
		sum += t->share[k];
		optot[n->operator_idx] += t->share[k];
		if (is_edge_class(n->node_class)) {
			edge += t->share[k];
			opedge[n->operator_idx] = true;
		}
	}
	for (uint32_t i = 0; i < c->node_count; i++) {
		if (ex->exclusion[i] == FAII_ROUTE_EX_NOT_IN_TOP)
			cr_assert_leq(ex->value[i], vmin,
			              "%s: node %u (value %g) left out for a worse one (%g)", what,
			              i, (double)ex->value[i], (double)vmin);
	}
	cr_assert_float_eq(sum, 1.0, SHARE_TOL, "%s: shares sum to %.9f", what, sum);

	/* Distinct operators among the candidates. */
	static bool seen[FAII_CFG_OPERATORS_MAX];
	memset(seen, 0, sizeof(seen));
	unsigned ops = 0, edge_ops = 0;
	for (unsigned k = 0; k < t->count; k++) {
		const struct faii_cfg_node *n = &c->nodes[t->node[k]];
		if (!seen[n->operator_idx]) {
			seen[n->operator_idx] = true;
			ops++;
			edge_ops += opedge[n->operator_idx];
		}
	}
	cr_assert_eq(ex->operators, ops, "%s", what);

	/* Operator caps (33), relaxed to 1/ops when they cannot all hold. */
	bool relaxed = ops * tp->operator_cap < 1.0;
	double beta = relaxed ? 1.0 / ops : tp->operator_cap;
	cr_assert_eq(!!(t->flags & FAII_ROUTE_F_CAPS_RELAXED), relaxed, "%s: flags %#x, %u ops",
	             what, t->flags, ops);
	for (uint32_t o = 0; o < FAII_CFG_OPERATORS_MAX; o++) {
		if (!seen[o])
			continue;
		if (relaxed)
			cr_assert_float_eq(optot[o], beta, SHARE_TOL,
			                   "%s: relaxed operator %u carries %.9f, expected 1/%u",
			                   what, o, optot[o], ops);
		else
			cr_assert_leq(optot[o], beta + SHARE_TOL,
			              "%s: operator %u carries %.9f over its cap %.3f", what, o,
			              optot[o], beta);
	}

	/* Dispersion (33). */
	cr_assert_eq(!!(t->flags & FAII_ROUTE_F_FEW_OPERATORS), ops < tp->operators_min,
	             "%s: flags %#x, %u ops, d = %u", what, t->flags, ops, tp->operators_min);
	if (ops >= tp->operators_min)
		cr_assert_geq(operators_serving(c, t, 1e-4), tp->operators_min,
		              "%s: %u operators carry work, d = %u", what,
		              operators_serving(c, t, 1e-4), tp->operators_min);

	/* Edge reserve (25): met, or flagged and as close as the caps allow. */
	double reachable = edge_ops * beta < 1.0 ? edge_ops * beta : 1.0;
	if (tp->edge_reserve <= 0) {
		cr_assert_eq(t->flags & FAII_ROUTE_F_EDGE_SHORT, 0, "%s", what);
	} else if (reachable < tp->edge_reserve - 1e-9) {
		cr_assert(t->flags & FAII_ROUTE_F_EDGE_SHORT,
		          "%s: micro+S can reach only %.3f < alpha %.3f, not flagged", what,
		          reachable, tp->edge_reserve);
		cr_assert_geq(edge, reachable - SHARE_TOL,
		              "%s: edge short, yet micro+S carry %.9f < the reachable %.9f", what,
		              edge, reachable);
	} else {
		cr_assert_eq(t->flags & FAII_ROUTE_F_EDGE_SHORT, 0, "%s: flags %#x", what,
		             t->flags);
		cr_assert_geq(edge, tp->edge_reserve - SHARE_TOL,
		              "%s: micro+S carry %.9f < alpha %.3f", what, edge, tp->edge_reserve);
	}

	/* The alias table draws the shares. */
	double p[CMAX];
	alias_distribution(t, p);
	for (unsigned k = 0; k < t->count; k++)
		cr_assert_float_eq(p[k], t->share[k], 1e-6,
		                   "%s: alias table draws candidate %u with %.9f, share %.9f", what,
		                   k, p[k], (double)t->share[k]);
}

/* ------------------------------------------------------------------------ */
/* Optimality: the KKT conditions of the key's quadratic programme.         */

/* The programme of docs/routing.md section 3 as the table states it. */
struct qp_view {
	unsigned n, ops;
	double a[CMAX], q[CMAX], phi[CMAX];
	unsigned op[CMAX];
	bool edge[CMAX];
	double beta, alpha;
};

static void qp_view_of(const struct faii_config *c, const struct faii_route_key *key,
                       const struct faii_route_table *t, struct qp_view *v)
{
	const struct faii_tier_policy *tp = &c->policy.tier[faii_category_tier(key->category) - 1];
	double lambda = key->arrival_rate > 1.0 ? key->arrival_rate : 1.0, amean = 0;
	static unsigned op_map[FAII_CFG_OPERATORS_MAX];
	memset(op_map, 0xFF, sizeof(op_map));
	memset(v, 0, sizeof(*v));
	v->n = t->count;
	for (unsigned i = 0; i < v->n; i++)
		amean += (double)t->value[i] / v->n;
	for (unsigned i = 0; i < v->n; i++) {
		const struct faii_cfg_node *node = &c->nodes[t->node[i]];
		/* The linear term is the value net of its class's price (33). */
		v->a[i] = (double)t->value[i] - (double)t->class_price[i];
		/* q_i = a_bar lambda / sigma_i + eta a_bar */
		v->q[i] = amean * lambda / node->service_rate_tasks_per_s +
		          c->policy.concentration_eta * amean;
		v->phi[i] = t->share[i];
		v->edge[i] = is_edge_class(node->node_class);
		if (op_map[node->operator_idx] == 0xFFFFFFFFu)
			op_map[node->operator_idx] = v->ops++;
		v->op[i] = op_map[node->operator_idx];
	}
	v->beta = v->ops * tp->operator_cap < 1.0 ? 1.0 / v->ops : tp->operator_cap;
	v->alpha = tp->edge_reserve;
}

static double objective(const struct qp_view *v, const double *phi)
{
	double j = 0;
	for (unsigned i = 0; i < v->n; i++)
		j += v->a[i] * phi[i] - v->q[i] * phi[i] * phi[i];
	return j;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

/*
 * Whether phi is optimal: primal feasibility, and multipliers nu (sum = 1),
 * mu_o >= 0 (caps) and kappa >= 0 (edge reserve, 0 unless it binds) such that
 * the marginal g_i = a_i - 2 q_i phi_i satisfies
 *   g_i + kappa [i edge] = nu + mu_o(i)   if phi_i > 0,   <= nu + mu_o(i) if 0,
 * with mu_o = 0 for operators below their cap. Eliminating mu_o leaves bounds
 * on nu of slope 0 or 1 in kappa, and bounds on kappa alone; feasibility of
 * that two-variable system is checked at its breakpoints. Returns NULL or
 * what is violated (in why).
 */
static const char *kkt_violation(const struct qp_view *v, const double *phi, char *why, size_t len)
{
	double optot[CMAX] = {0}, sum = 0, edge = 0, g[CMAX], scale = 0;
	for (unsigned i = 0; i < v->n; i++) {
		if (!(phi[i] >= 0)) {
			snprintf(why, len, "phi[%u] = %g < 0", i, phi[i]);
			return why;
		}
		sum += phi[i];
		optot[v->op[i]] += phi[i];
		edge += v->edge[i] ? phi[i] : 0;
		g[i] = v->a[i] - 2.0 * v->q[i] * phi[i];
		scale = dmax(scale, v->a[i] + 2.0 * v->q[i] * phi[i]);
	}
	if (fabs(sum - 1.0) > 1e-5) {
		snprintf(why, len, "shares sum to %.9f", sum);
		return why;
	}
	for (unsigned o = 0; o < v->ops; o++) {
		if (optot[o] > v->beta + 1e-6) {
			snprintf(why, len, "operator %u carries %.9f > beta %.6f", o, optot[o],
			         v->beta);
			return why;
		}
	}
	if (v->alpha > 0 && edge < v->alpha - 1e-6) {
		snprintf(why, len, "edge share %.9f < alpha %.3f", edge, v->alpha);
		return why;
	}

	const double tau = 1e-6 * scale;
	/* nu >= L0, nu >= L1 + kappa, nu <= U0, nu <= U1 + kappa, klo <= kappa <= khi */
	double L0 = -INFINITY, L1 = -INFINITY, U0 = INFINITY, U1 = INFINITY;
	double klo = 0, khi = v->alpha > 0 && edge <= v->alpha + 1e-6 ? INFINITY : 0;
	for (unsigned o = 0; o < v->ops; o++) {
		bool capped = optot[o] >= v->beta - 1e-6;
		for (unsigned i = 0; i < v->n; i++) {
			if (v->op[i] != o)
				continue;
			if (!capped) {
				/* nu = g_i + kappa e_i (phi_i > 0), nu >= g_i + kappa e_i (= 0) */
				if (v->edge[i])
					L1 = dmax(L1, g[i] - tau);
				else
					L0 = dmax(L0, g[i] - tau);
				if (phi[i] > 0) {
					if (v->edge[i])
						U1 = dmin(U1, g[i] + tau);
					else
						U0 = dmin(U0, g[i] + tau);
				}
				continue;
			}
			if (!(phi[i] > 0))
				continue;
			/* M_o = g_i + kappa e_i >= nu, and >= every h_k of the operator */
			if (v->edge[i])
				U1 = dmin(U1, g[i] + tau);
			else
				U0 = dmin(U0, g[i] + tau);
			for (unsigned k = 0; k < v->n; k++) {
				if (k == i || v->op[k] != o)
					continue;
				/* g_k + kappa e_k <= g_i + kappa e_i + 2 tau */
				int de = (int)v->edge[k] - (int)v->edge[i];
				double rhs = g[i] - g[k] + 2.0 * tau;
				if (de == 0 && rhs < 0) {
					snprintf(why, len,
					         "capped operator %u: candidate %u has marginal "
					         "%.9g above "
					         "%.9g of candidate %u, which carries %.9g",
					         o, k, g[k], g[i], i, phi[i]);
					return why;
				}
				if (de > 0)
					khi = dmin(khi, rhs);
				else if (de < 0)
					klo = dmax(klo, -rhs);
			}
		}
	}
	if (klo > khi) {
		snprintf(why, len, "no edge multiplier: %.9g > %.9g", klo, khi);
		return why;
	}
	double cand[8] = {klo, isfinite(khi) ? khi : klo, L0 - L1, U0 - U1, U0 - L1, L0 - U1, 0, 0};
	double span = 0;
	for (unsigned k = 2; k < 6; k++)
		span = isfinite(cand[k]) ? dmax(span, fabs(cand[k])) : span;
	cand[6] = isfinite(khi) ? khi : klo + 2.0 * span + 1.0;
	cand[7] = 0.5 * (klo + (isfinite(khi) ? khi : cand[6]));
	double best = -INFINITY, best_k = 0;
	for (unsigned k = 0; k < 8; k++) {
		if (!isfinite(cand[k]))
			continue;
		double kappa = dmin(dmax(cand[k], klo), khi);
		double f = dmin(U0, U1 + kappa) - dmax(L0, L1 + kappa);
		if (isnan(f))
			f = INFINITY;
		if (f > best)
			best = f, best_k = kappa;
	}
	if (best < -1e-12 * scale) {
		snprintf(why, len,
		         "no multipliers: water levels disagree by %.3g (tolerance %.3g) at kappa "
		         "%.6g; nu in [%.9g, %.9g] (non-edge) and [%.9g, %.9g] + kappa (edge)",
		         -best, tau, best_k, L0, U0, L1, U1);
		return why;
	}
	return NULL;
}

static bool perturbed_feasible(const struct qp_view *v, const double *phi)
{
	double optot[CMAX] = {0}, edge = 0;
	for (unsigned i = 0; i < v->n; i++) {
		if (phi[i] < 0)
			return false;
		optot[v->op[i]] += phi[i];
		edge += v->edge[i] ? phi[i] : 0;
	}
	for (unsigned o = 0; o < v->ops; o++) {
		if (optot[o] > v->beta + 1e-9)
			return false;
	}
	return !(v->alpha > 0 && edge < v->alpha - 1e-9);
}

/* An instance, for failure messages. */
static void describe(const struct qp_view *v, char *out, size_t len)
{
	int w = snprintf(out, len, "n %u ops %u beta %.4f alpha %.3f\n", v->n, v->ops, v->beta,
	                 v->alpha);
	for (unsigned i = 0; i < v->n && w > 0 && (size_t)w < len; i++)
		w += snprintf(out + w, len - (size_t)w,
		              "  [%u] a %.6f q %.6f op %u %s phi %.9f g %.9f\n", i, v->a[i],
		              v->q[i], v->op[i], v->edge[i] ? "edge" : "    ", v->phi[i],
		              v->a[i] - 2 * v->q[i] * v->phi[i]);
}

static void assert_optimal(const struct faii_config *c, const struct faii_route_key *key,
                           const struct faii_route_table *t, const char *what)
{
	static struct qp_view v;
	static char why[512], desc[8192];
	qp_view_of(c, key, t, &v);
	if (kkt_violation(&v, v.phi, why, sizeof(why)) != NULL) {
		describe(&v, desc, sizeof(desc));
		cr_assert_fail("%s: not optimal: %s\n%s", what, why, desc);
	}
}

/* ------------------------------------------------------------------------ */
/* Public helpers: budgets, names, corridor, latency prior, ESG.            */

Test(helpers, latency_budgets)
{
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_EDGE_INFERENCE), 50000);
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_STORAGE_SHARD), 150000);
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_DAG_VALIDATION), 1000000);
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_INTERACTIVE_INFERENCE), 200000);
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_BATCH_INFERENCE), 60000000);
	cr_expect_eq(faii_category_latency_budget_us(FAII_CAT_LEDGER_WORK), 1000000);
	cr_expect_eq(faii_category_latency_budget_us(0), 0);
	cr_expect_eq(faii_category_latency_budget_us(7), 0);
}

Test(helpers, exclusion_names)
{
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_NONE), "feasible");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_NOT_ACTIVE), "not_active");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_NOT_ELIGIBLE), "not_eligible");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_RESIDENCY), "residency");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_LATENCY), "latency_over_budget");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_PRICE_CORRIDOR),
	                 "price_outside_corridor");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_NOT_IN_TOP),
	                 "not_among_best_candidates");
	cr_expect_str_eq(faii_route_exclusion_name(FAII_ROUTE_EX_COUNT), "invalid");
}

Test(helpers, price_corridor_bounds)
{
	struct faii_policy p;
	faii_policy_defaults(&p);
	/* Binary-exact corridor: p_bar 2, 25 % either side -> [1.5, 2.5]. */
	p.corridor_below = 0.25;
	p.corridor_above = 0.25;
	cr_expect(faii_price_in_corridor(&p, 1.5, 2.0));
	cr_expect(faii_price_in_corridor(&p, 2.5, 2.0));
	cr_expect(faii_price_in_corridor(&p, 2.0, 2.0));
	cr_expect_not(faii_price_in_corridor(&p, nextafter(1.5, 0), 2.0));
	cr_expect_not(faii_price_in_corridor(&p, nextafter(2.5, 3), 2.0));
	/* Asymmetric: below 0.5, above 0 -> [1, 2]. */
	p.corridor_below = 0.5;
	p.corridor_above = 0.0;
	cr_expect(faii_price_in_corridor(&p, 1.0, 2.0));
	cr_expect(faii_price_in_corridor(&p, 2.0, 2.0));
	cr_expect_not(faii_price_in_corridor(&p, 2.001, 2.0));
	cr_expect_not(faii_price_in_corridor(&p, 0.999, 2.0));
	/* Defaults (0.2, 0.2) around 1. */
	faii_policy_defaults(&p);
	cr_expect(faii_price_in_corridor(&p, 0.8 + 1e-12, 1.0));
	cr_expect(faii_price_in_corridor(&p, 1.2 - 1e-12, 1.0));
	cr_expect_not(faii_price_in_corridor(&p, 0.8 - 1e-9, 1.0));
	cr_expect_not(faii_price_in_corridor(&p, 1.2 + 1e-9, 1.0));
}

Test(helpers, latency_prior)
{
	struct faii_cfg_region r = {.id = 1, .lat_deg = 47.0, .lon_deg = 8.0};
	struct faii_cfg_node n;
	memset(&n, 0, sizeof(n));
	/* Same place: 1 ms. */
	n.lat_deg = 47.0, n.lon_deg = 8.0;
	cr_expect_float_eq(faii_route_latency_prior_us(&r, &n), 1000.0, 1e-6);
	/* One degree along a meridian is 2 pi 6371 / 360 km; 1.5 route factor, both ways,
	 * 200 km/ms. */
	double km = 2.0 * M_PI * 6371.0 / 360.0;
	n.lat_deg = 48.0;
	cr_expect_float_eq(faii_route_latency_prior_us(&r, &n), 1000.0 + 3.0 * km / 200.0 * 1000.0,
	                   1e-6);
	/* Symmetric in direction. */
	n.lat_deg = 46.0;
	cr_expect_float_eq(faii_route_latency_prior_us(&r, &n), 1000.0 + 3.0 * km / 200.0 * 1000.0,
	                   1e-6);
	/* Antipodes: half the circumference. */
	struct faii_cfg_region r0 = {.id = 1, .lat_deg = 0.0, .lon_deg = 0.0};
	n.lat_deg = 0.0, n.lon_deg = 180.0;
	cr_expect_float_eq(faii_route_latency_prior_us(&r0, &n),
	                   1000.0 + 3.0 * M_PI * 6371.0 / 200.0 * 1000.0, 1e-3);
	/* Zurich to Frankfurt is about 305 km. */
	struct faii_cfg_region zrh = {.id = 1, .lat_deg = 47.37, .lon_deg = 8.54};
	n.lat_deg = 50.11, n.lon_deg = 8.68;
	double us = faii_route_latency_prior_us(&zrh, &n);
	cr_expect(us > 1000.0 + 3.0 * 300.0 / 200.0 * 1000.0 &&
	                  us < 1000.0 + 3.0 * 310.0 / 200.0 * 1000.0,
	          "Zurich-Frankfurt prior %.0f us", us);
}

/* (41)-(42) by hand: one node, defaults, a given fleet. */
Test(esg, score_by_hand)
{
	struct faii_policy p;
	faii_policy_defaults(&p);
	struct faii_cfg_esg e;
	memset(&e, 0, sizeof(e));
	e.source_mix[FAII_SRC_SOLAR] = 0.20;
	e.source_mix[FAII_SRC_WIND] = 0.10;
	e.source_mix[FAII_SRC_HYDRO] = 0.10;
	e.source_mix[FAII_SRC_GEOTHERMAL] = 0.05;
	e.source_mix[FAII_SRC_BIOMASS] = 0.05;
	e.source_mix[FAII_SRC_HYDROGEN] = 0.10;
	e.source_mix[FAII_SRC_WASTE] = 0.10;
	e.source_mix[FAII_SRC_NONRENEWABLE] = 0.30;
	e.pue = 1.3;
	e.energy_to_work = 0.4;
	e.grid_stress = 0.25;
	const double pue_mean = 1.2, etw_ref = 0.5;
	/* rho_adj = 0.2*1 + 0.1*0.95 + 0.1*0.85 + 0.05*0.9 + 0.05*0.6 + 0.1*0.7 + 0.1*0.4 */
	double rho = 0.565;
	double rpue = 1.3 / 1.2, etw = 0.4 / 0.5;
	double want = 0.4 * rho + 0.2 / rpue + 0.2 / etw + 0.2 * (1.0 - 0.25);
	cr_expect_float_eq(want, 0.8106153846153846, 1e-12);
	cr_expect_float_eq(faii_esg_score(&p, &e, pue_mean, etw_ref), want, 1e-12, "got %.15f",
	                   faii_esg_score(&p, &e, pue_mean, etw_ref));

	/* Non-renewable energy earns nothing; each source its own lambda_s. */
	struct faii_cfg_esg z;
	memset(&z, 0, sizeof(z));
	z.pue = 1.2, z.energy_to_work = 0.5, z.grid_stress = 1.0;
	double base = faii_esg_score(&p, &z, pue_mean, etw_ref);
	cr_expect_float_eq(base, 0.2 + 0.2, 1e-12);
	z.source_mix[FAII_SRC_NONRENEWABLE] = 1.0;
	cr_expect_float_eq(faii_esg_score(&p, &z, pue_mean, etw_ref), base, 1e-12);
	static const double lambda[FAII_SRC_RENEWABLE_COUNT] = {1.00, 0.95, 0.85, 0.90,
	                                                        0.60, 0.70, 0.40};
	for (unsigned s = 0; s < FAII_SRC_RENEWABLE_COUNT; s++) {
		memset(z.source_mix, 0, sizeof(z.source_mix));
		z.source_mix[s] = 1.0;
		cr_expect_float_eq(faii_esg_score(&p, &z, pue_mean, etw_ref),
		                   base + 0.4 * lambda[s], 1e-12, "source %u", s);
	}
	/* Twice the fleet's PUE halves the rPUE term; half its energy-to-work doubles
	 * the etw term; grid stress 0 earns omega4. */
	memset(z.source_mix, 0, sizeof(z.source_mix));
	z.pue = 2.4, z.energy_to_work = 0.25, z.grid_stress = 0.0;
	cr_expect_float_eq(faii_esg_score(&p, &z, pue_mean, etw_ref), 0.2 * 0.5 + 0.2 * 2.0 + 0.2,
	                   1e-12);
	/* Weights are read from the policy. */
	p.esg_weight[0] = 1.0, p.esg_weight[1] = p.esg_weight[2] = p.esg_weight[3] = 0.0;
	cr_expect_float_eq(faii_esg_score(&p, &e, pue_mean, etw_ref), rho, 1e-12);
}

/* The same through a loaded document and faii_route_fleet_compute. */
Test(esg, fleet_means_and_loaded_nodes)
{
	struct nspec n[3] = {ns("M", "op-a", "CH"), ns("L", "op-b", "CH"), ns("S", "op-c", "CH")};
	n[0].price = 1.0, n[0].pue = 1.1, n[0].etw = 0.2, n[0].grid = 0.1;
	n[0].mix = "{solar: 0.5, wind: 0.2, nonrenewable: 0.3}";
	n[1].price = 1.2, n[1].pue = 1.3, n[1].etw = 0.6, n[1].grid = 0.5;
	n[1].mix = "{hydro: 0.4, waste: 0.1, nonrenewable: 0.5}";
	n[2].price = 3.0, n[2].pue = 1.9, n[2].etw = 5.0, n[2].grid = 0.9;
	struct faii_config *c = load_doc(NULL, n, 3);
	struct faii_route_node_state *st = state_new(c);
	st[2].status = FAII_NODE_DRAINING; /* only active nodes count */
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	cr_expect_float_eq(fl.price_mean, 1.1, 1e-12);
	cr_expect_float_eq(fl.pue_mean, 1.2, 1e-12);
	/* Energy-to-work is normalised per (category, class): M and L are each
	 * alone in their group (the S node is draining), so each earns omega3. */
	for (unsigned cat = 0; cat < FAII_CATEGORY_COUNT; cat++) {
		cr_expect_float_eq(fl.etw_ref[cat][FAII_CLASS_MEDIUM], 0.2, 1e-12);
		cr_expect_float_eq(fl.etw_ref[cat][FAII_CLASS_LARGE], 0.6, 1e-12);
		cr_expect_eq(fl.etw_ref[cat][FAII_CLASS_SMALL], 0.0);
	}
	double e0 = 0.4 * (0.5 + 0.2 * 0.95) + 0.2 * 1.2 / 1.1 + 0.2 * 1.0 + 0.2 * 0.9;
	double e1 = 0.4 * (0.4 * 0.85 + 0.1 * 0.4) + 0.2 * 1.2 / 1.3 + 0.2 * 1.0 + 0.2 * 0.5;
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
		cr_expect_float_eq(faii_route_node_esg(&c->policy, &fl, &c->nodes[0], cat), e0,
		                   1e-12);
		cr_expect_float_eq(faii_route_node_esg(&c->policy, &fl, &c->nodes[1], cat), e1,
		                   1e-12);
		cr_expect_float_eq(fl.esg_mean[cat - 1], (e0 + e1) / 2, 1e-12);
	}

	/* No active node: an all-zero fleet. */
	for (unsigned i = 0; i < 3; i++)
		st[i].status = FAII_NODE_SLASHED;
	memset(&fl, 0xA5, sizeof(fl));
	faii_route_fleet_compute(c, st, &fl);
	cr_expect_eq(fl.price_mean, 0.0);
	cr_expect_eq(fl.esg_mean[0], 0.0);
	free(st);
	faii_config_free(c);
}

/*
 * (30) for payouts on the certified renewable share against a baseline,
 * g = tanh: in [1, m_bar], 1 at or below the baseline, increasing, by hand
 * inside the clamp. The old multiplier took the composite ESG score
 * against the fleet mean and was routing's m_i.
 */
Test(esg, payout_multiplier_on_renewables)
{
	const double base = 0.5, xi = 0.5, cap = 1.25;
	double prev = 1.0;
	for (int k = 0; k <= 100; k++) {
		double re = k * 0.01;
		double m = faii_mult_esg_payout(re, base, xi, cap);
		cr_assert(m >= 1.0 && m <= cap, "m(%.2f) = %.6f", re, m);
		if (re <= base)
			cr_assert_eq(m, 1.0, "m(%.2f) = %.6f at or below the baseline", re, m);
		cr_assert_geq(m, prev, "m decreasing at %.2f", re);
		prev = m;
	}
	cr_expect_float_eq(faii_mult_esg_payout(0.7, base, xi, cap), 1.0 + 0.5 * tanh(0.2), 1e-12);
	cr_expect_float_eq(faii_mult_esg_payout(1.0, base, 0.9, 2.0), 1.0 + 0.9 * tanh(0.5), 1e-12);
	cr_expect_eq(faii_mult_esg_payout(1.0, 0.0, 0.9, 1.5), 1.5);
	cr_expect_eq(faii_mult_esg_payout(1.0, 0.0, 0.9, 1.0), 1.0); /* cap 1: never above */
	cr_expect_eq(faii_mult_esg_payout(NAN, base, xi, cap), 1.0);
	/* (47): routing's m_i in [0, 1], a discount below the mean only. */
	cr_expect_eq(faii_mult_reward(2.0, 1.0), 1.0);
	cr_expect_eq(faii_mult_reward(1.0, 1.0), 1.0);
	cr_expect_float_eq(faii_mult_reward(0.6, 1.2), 0.5, 1e-12);
	cr_expect_eq(faii_mult_reward(0.0, 1.0), 0.0);
	cr_expect_eq(faii_mult_reward(-1.0, 1.0), 0.0);
	cr_expect_eq(faii_mult_reward(0.5, 0.0), 1.0); /* no mean: no discount */
	cr_expect_eq(faii_mult_reward(NAN, 1.0), 0.0);
	/* (29) and (31), for settlement. */
	cr_expect_float_eq(faii_mult_slo(0.99, 0.99, 1.0, 1.2), 1.0, 1e-12);
	cr_expect_float_eq(faii_mult_slo(0.9, 0.99, 2.0, 1.2), pow(0.9 / 0.99, 2.0), 1e-12);
	cr_expect_eq(faii_mult_slo(1.0, 0.5, 1.0, 1.2), 1.2);
	cr_expect_eq(faii_mult_slo(0.0, 0.99, 1.0, 1.2), 0.0);
	cr_expect_eq(faii_mult_div(0.3, 0.4, 0.5), 1.0);
	cr_expect_float_eq(faii_mult_div(0.6, 0.4, 0.5), 0.9, 1e-12);
	cr_expect_eq(faii_mult_div(5.0, 0.4, 0.9), 0.0);
}

/*
 * FAII 4.6: energy-to-work is normalised by task type and node class. Five
 * classes whose energy-to-work differs 130 times from micro to XL but whose
 * source mix, PUE and grid stress are the same: the mean ESG of every class
 * is the same (normalised by the fleet mean, micro scored 10.7 and XL 0.62),
 * and within a class a greener or a more efficient node scores higher.
 */
Test(esg, class_neutral)
{
	static const char *const cls[FAII_CLASS_COUNT] = {"micro", "S", "M", "L", "XL"};
	static const double base[FAII_CLASS_COUNT] = {0.01, 0.05, 0.3, 0.8, 1.3};
	static const double spread[5] = {0.8, 0.9, 1.0, 1.1, 1.25};
	enum { PER = 5 };
	struct nspec n[FAII_CLASS_COUNT * PER];
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		for (unsigned j = 0; j < PER; j++) {
			struct nspec *s = &n[k * PER + j];
			*s = ns(cls[k], j % 2 ? "op-a" : "op-b", "CH");
			s->etw = base[k] * spread[j];
		}
		/* The node in the middle of each class is the greener twin of the
		 * one with the same energy-to-work... */
		n[k * PER + 2].mix = "{solar: 0.8, nonrenewable: 0.2}";
	}
	struct faii_config *c = load_doc(NULL, n, FAII_CLASS_COUNT * PER);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
		double mean[FAII_CLASS_COUNT] = {0};
		for (unsigned i = 0; i < c->node_count; i++)
			mean[i / PER] +=
			        faii_route_node_esg(&c->policy, &fl, &c->nodes[i], cat) / PER;
		for (unsigned k = 1; k < FAII_CLASS_COUNT; k++)
			cr_expect_float_eq(mean[k], mean[0], 0.01 * mean[0],
			                   "category %u: class %s mean ESG %.4f, micro %.4f", cat,
			                   cls[k], mean[k], mean[0]);
		for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
			const struct faii_cfg_node *nd = &c->nodes[k * PER];
			double e[PER];
			for (unsigned j = 0; j < PER; j++)
				e[j] = faii_route_node_esg(&c->policy, &fl, &nd[j], cat);
			/* ... so it scores higher than it would with its siblings' mix,
			 * and above every sibling; and less energy per task scores
			 * higher among the siblings of the same mix. */
			struct faii_cfg_node grey = nd[2];
			grey.esg.source_mix[FAII_SRC_SOLAR] = 0.5;
			grey.esg.source_mix[FAII_SRC_NONRENEWABLE] = 0.5;
			cr_expect_gt(e[2], faii_route_node_esg(&c->policy, &fl, &grey, cat),
			             "class %s", cls[k]);
			for (unsigned j = 0; j < PER; j++)
				cr_expect(j == 2 || e[2] > e[j],
				          "class %s: greener %.4f, node %u %.4f", cls[k], e[2], j,
				          e[j]);
			cr_expect(e[0] > e[1] && e[1] > e[3] && e[3] > e[4],
			          "class %s: %.4f %.4f %.4f %.4f", cls[k], e[0], e[1], e[3], e[4]);
		}
	}
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* 1. Feasibility, one rule at a time.                                      */

/*
 * Five nodes of five operators in CH, all eligible; node 0 is the one each
 * test excludes. Returns the config; *st and *fl are set up for it.
 */
static struct faii_config *five_nodes(const char *policy, struct faii_route_node_state **st,
                                      struct faii_route_fleet *fl)
{
	struct nspec n[5] = {ns("M", "op-t", "CH"), ns("M", "op-a", "CH"), ns("L", "op-b", "CH"),
	                     ns("S", "op-c", "CH"), ns("micro", "op-d", "CH")};
	struct faii_config *c = load_doc(policy, n, 5);
	*st = state_new(c);
	faii_route_fleet_compute(c, *st, fl);
	return c;
}

/* Solves and asserts that node 0 is excluded for reason want, and the rest is sound. */
static void expect_excluded(const struct faii_config *c, const struct faii_route_node_state *st,
                            const struct faii_route_fleet *fl, const struct faii_route_key *key,
                            enum faii_route_exclusion want)
{
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	solve(c, st, fl, key, &t, &ex);
	cr_assert_eq(ex.exclusion[0], want, "node 0: %s, expected %s",
	             faii_route_exclusion_name(ex.exclusion[0]), faii_route_exclusion_name(want));
	cr_assert_lt(share_of(&t, 0), 0.0, "node 0 is in the table");
	cr_assert_eq(ex.value[0], 0.0f);
	check_table(c, st, fl, key, &t, &ex);
	cr_assert_eq(t.count, 4);
}

static void expect_feasible(const struct faii_config *c, const struct faii_route_node_state *st,
                            const struct faii_route_fleet *fl, const struct faii_route_key *key)
{
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	solve(c, st, fl, key, &t, &ex);
	cr_assert_eq(ex.exclusion[0], FAII_ROUTE_EX_NONE, "node 0: %s",
	             faii_route_exclusion_name(ex.exclusion[0]));
	cr_assert_geq(share_of(&t, 0), 0.0, "node 0 is not in the table");
	check_table(c, st, fl, key, &t, &ex);
	cr_assert_eq(t.count, 5);
}

Test(feasibility, status_not_active)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	expect_feasible(c, st, &fl, &key);
	static const uint8_t bad[] = {FAII_NODE_DRAINING, FAII_NODE_QUARANTINED, FAII_NODE_SLASHED};
	for (unsigned k = 0; k < 3; k++) {
		st[0].status = bad[k];
		faii_route_fleet_compute(c, st, &fl);
		expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_NOT_ACTIVE);
	}
	/* The solver reads the live status, not the configured one. */
	st[0].status = FAII_NODE_ACTIVE;
	c->nodes[0].status = FAII_NODE_SLASHED;
	faii_route_fleet_compute(c, st, &fl);
	expect_feasible(c, st, &fl, &key);
	/* The first failing rule is reported: inactive and ineligible -> not_active. */
	st[0].status = FAII_NODE_DRAINING;
	c->nodes[0].eligibility = 0;
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_NOT_ACTIVE);
	free(st);
	faii_config_free(c);
}

Test(feasibility, eligibility_bit)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
		struct faii_route_key key = mkkey(REG_ZURICH, cat, RC_ANY, 10);
		c->nodes[0].eligibility = (uint8_t)(FAII_ELIGIBILITY_MASK & ~(1u << (cat - 1)));
		expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_NOT_ELIGIBLE);
		c->nodes[0].eligibility = (uint8_t)(1u << (cat - 1));
		expect_feasible(c, st, &fl, &key);
	}
	free(st);
	faii_config_free(c);
}

Test(feasibility, eligibility_from_yaml)
{
	struct nspec n[5] = {ns("M", "op-t", "CH"), ns("M", "op-a", "CH"), ns("L", "op-b", "CH"),
	                     ns("S", "op-c", "CH"), ns("micro", "op-d", "CH")};
	n[0].elig = "storage_shard, batch_inference";
	struct faii_config *c = load_doc(NULL, n, 5);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	struct faii_route_key edge = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	struct faii_route_key store = mkkey(REG_ZURICH, FAII_CAT_STORAGE_SHARD, RC_ANY, 10);
	struct faii_route_key dag = mkkey(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY, 10);
	struct faii_route_key batch = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 10);
	expect_excluded(c, st, &fl, &edge, FAII_ROUTE_EX_NOT_ELIGIBLE);
	expect_feasible(c, st, &fl, &store);
	/* Same tier as storage, not the same eligibility. */
	expect_excluded(c, st, &fl, &dag, FAII_ROUTE_EX_NOT_ELIGIBLE);
	expect_feasible(c, st, &fl, &batch);
	free(st);
	faii_config_free(c);
}

Test(feasibility, residency)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	/* Node 0 moves to the US, then to Germany (EU, not CH). */
	c->nodes[0].jurisdiction = 3;
	cr_assert_str_eq(c->jurisdictions[3].country, "US");
	struct faii_route_key any = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	struct faii_route_key ch = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_CH, 10);
	struct faii_route_key eu = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_EU, 10);
	expect_feasible(c, st, &fl, &any);
	expect_excluded(c, st, &fl, &ch, FAII_ROUTE_EX_RESIDENCY);
	c->nodes[0].jurisdiction = 1;
	cr_assert_str_eq(c->jurisdictions[1].country, "DE");
	expect_excluded(c, st, &fl, &ch, FAII_ROUTE_EX_RESIDENCY);
	/* EU-only: node 0 is the only EU node; the CH ones are excluded. */
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	solve(c, st, &fl, &eu, &t, &ex);
	check_table(c, st, &fl, &eu, &t, &ex);
	cr_assert_eq(t.count, 1);
	cr_assert_eq(t.node[0], 0);
	for (uint32_t i = 1; i < 5; i++)
		cr_assert_eq(ex.exclusion[i], FAII_ROUTE_EX_RESIDENCY);
	free(st);
	faii_config_free(c);
}

Test(feasibility, latency_budget_per_category_and_region)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	struct faii_route_key edge = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	struct faii_route_key inter = mkkey(REG_ZURICH, FAII_CAT_INTERACTIVE_INFERENCE, RC_ANY, 10);
	/* Exactly the budget is within it. */
	st[0].latency_us[SLOT_ZURICH] = 50000.0;
	expect_feasible(c, st, &fl, &edge);
	st[0].latency_us[SLOT_ZURICH] = 50000.5;
	expect_excluded(c, st, &fl, &edge, FAII_ROUTE_EX_LATENCY);
	st[0].latency_us[SLOT_ZURICH] = 120000.0; /* over edge's 50 ms, inside 200 ms */
	expect_excluded(c, st, &fl, &edge, FAII_ROUTE_EX_LATENCY);
	expect_feasible(c, st, &fl, &inter);
	st[0].latency_us[SLOT_ZURICH] = 200000.0;
	expect_feasible(c, st, &fl, &inter);
	st[0].latency_us[SLOT_ZURICH] = 200001.0;
	expect_excluded(c, st, &fl, &inter, FAII_ROUTE_EX_LATENCY);
	/* The key's region picks the measurement: far from Frankfurt only. */
	st[0].latency_us[SLOT_ZURICH] = 5000.0;
	st[0].latency_us[SLOT_FRANKFURT] = 90000.0;
	struct faii_route_key fra = mkkey(REG_FRANKFURT, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	expect_feasible(c, st, &fl, &edge);
	expect_excluded(c, st, &fl, &fra, FAII_ROUTE_EX_LATENCY);
	free(st);
	faii_config_free(c);
}

Test(feasibility, price_corridor)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c =
	        five_nodes("policy: {price_corridor: {below: 0.25, above: 0.25}}\n", &st, &fl);
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 10);
	/* Fix p_bar at 2 (binary-exact corridor [1.5, 2.5]); the others at 2. */
	for (uint32_t i = 0; i < 5; i++)
		c->nodes[i].price = 2.0;
	fl.price_mean = 2.0;
	c->nodes[0].price = 1.5;
	expect_feasible(c, st, &fl, &key);
	c->nodes[0].price = 2.5;
	expect_feasible(c, st, &fl, &key);
	c->nodes[0].price = nextafter(1.5, 0.0);
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_PRICE_CORRIDOR);
	c->nodes[0].price = nextafter(2.5, 3.0);
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_PRICE_CORRIDOR);
	c->nodes[0].price = 1.0;
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_PRICE_CORRIDOR);
	c->nodes[0].price = 4.0;
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_PRICE_CORRIDOR);
	/* p_bar from the fleet: a node priced far above the others stays out. */
	c->nodes[0].price = 4.0;
	faii_route_fleet_compute(c, st, &fl);
	cr_assert_float_eq(fl.price_mean, 2.4, 1e-12);
	expect_excluded(c, st, &fl, &key, FAII_ROUTE_EX_PRICE_CORRIDOR);
	/* ... and comes back once the fleet's mean follows it. */
	for (uint32_t i = 1; i < 5; i++)
		c->nodes[i].price = 3.5;
	faii_route_fleet_compute(c, st, &fl);
	expect_feasible(c, st, &fl, &key);
	free(st);
	faii_config_free(c);
}

Test(feasibility, nothing_feasible)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	/* Fill the outputs with a previous, non-empty key first. */
	struct faii_route_key ok = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	solve(c, st, &fl, &ok, &t, &ex);
	cr_assert_eq(t.count, 5);
	struct faii_route_key eu = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_EU, 10);
	solve(c, st, &fl, &eu, &t, &ex);
	cr_assert_eq(t.count, 0);
	cr_assert_eq(t.flags, FAII_ROUTE_F_EMPTY);
	cr_assert_eq(ex.feasible, 0);
	for (unsigned k = 0; k < CMAX; k++)
		cr_assert(t.share[k] == 0.0f && t.node[k] == 0 && t.prob[k] == 0,
		          "stale entry %u after an empty solve", k);
	check_table(c, st, &fl, &eu, &t, &ex);
	/* Every node inactive. */
	for (uint32_t i = 0; i < 5; i++)
		st[i].status = FAII_NODE_QUARANTINED;
	faii_route_fleet_compute(c, st, &fl);
	solve(c, st, &fl, &ok, &t, &ex);
	cr_assert_eq(t.count, 0);
	cr_assert(t.flags & FAII_ROUTE_F_EMPTY);
	check_table(c, st, &fl, &ok, &t, &ex);
	/* explain may be NULL. */
	cr_assert_eq(faii_route_solve(c, st, &fl, &ok, &t, NULL), 0);
	cr_assert(t.flags & FAII_ROUTE_F_EMPTY);
	free(st);
	faii_config_free(c);
}

Test(feasibility, unknown_keys)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = five_nodes(NULL, &st, &fl);
	static struct faii_route_table t;
	struct faii_route_key k = mkkey(99, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	cr_expect_lt(faii_route_solve(c, st, &fl, &k, &t, NULL), 0, "unknown region");
	k = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, 9, 10);
	cr_expect_lt(faii_route_solve(c, st, &fl, &k, &t, NULL), 0, "unknown class");
	k = mkkey(REG_ZURICH, 0, RC_ANY, 10);
	cr_expect_lt(faii_route_solve(c, st, &fl, &k, &t, NULL), 0, "category 0");
	k = mkkey(REG_ZURICH, 7, RC_ANY, 10);
	cr_expect_lt(faii_route_solve(c, st, &fl, &k, &t, NULL), 0, "category 7");
	free(st);
	faii_config_free(c);
}

/* Over 64 feasible nodes: the best 64 by value, the rest not_among_best_candidates. */
Test(feasibility, best_candidates)
{
	enum { N = 70 };
	static struct nspec n[N];
	static char ops[N][16];
	for (unsigned i = 0; i < N; i++) {
		snprintf(ops[i], sizeof(ops[i]), "op-%u", i % 10);
		n[i] = ns(i % 3 == 0 ? "S" : "L", ops[i], "CH");
	}
	struct faii_config *c = load_doc(NULL, n, N);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	/* Distinct SLO successes, shuffled against the node order. */
	for (unsigned i = 0; i < N; i++)
		st[i].slo_success[0] = 0.5 + 0.005 * ((i * 37) % N);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(ex.feasible, N);
	cr_assert_eq(t.count, CMAX);
	unsigned out = 0;
	for (unsigned i = 0; i < N; i++) {
		bool worst6 = (i * 37) % N < N - CMAX;
		cr_assert_eq(ex.exclusion[i] == FAII_ROUTE_EX_NOT_IN_TOP, worst6,
		             "node %u (rank %u): %s", i, (i * 37) % N,
		             faii_route_exclusion_name(ex.exclusion[i]));
		out += worst6;
	}
	cr_assert_eq(out, N - CMAX);
	assert_optimal(c, &key, &t, "70 nodes");
	free(st);
	faii_config_free(c);
}

/* The value a_i of docs/routing.md section 2, from the public ESG functions. */
Test(feasibility, preference_value)
{
	struct nspec n[4] = {ns("M", "op-a", "CH"), ns("L", "op-b", "CH"), ns("S", "op-c", "CH"),
	                     ns("XL", "op-d", "CH")};
	n[0].price = 0.9, n[0].mix = "{solar: 0.9, nonrenewable: 0.1}", n[0].etw = 0.5;
	n[1].price = 1.1, n[1].mix = "{wind: 0.3, nonrenewable: 0.7}", n[1].pue = 1.6;
	n[2].price = 1.0, n[2].grid = 0.9, n[2].etw = 2.0;
	n[3].price = 1.05;
	struct faii_config *c = load_doc(NULL, n, 4);
	struct faii_route_node_state *st = state_new(c);
	for (uint32_t i = 0; i < 4; i++)
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			st[i].slo_success[t] = 0.5 + 0.1 * t + 0.02 * i;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
		struct faii_route_key key = mkkey(REG_ZURICH, cat, RC_ANY, 5);
		unsigned tier = faii_category_tier(cat);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		for (uint32_t i = 0; i < 4; i++) {
			double esg = faii_route_node_esg(&c->policy, &fl, &c->nodes[i], cat);
			double mean = fl.esg_mean[cat - 1];
			double a = st[i].slo_success[tier - 1] * (esg / mean) * fl.price_mean /
			           c->nodes[i].price;
			cr_assert_float_eq(ex.value[i], a, 1e-6 * a,
			                   "category %u node %u: %g vs %g", cat, i,
			                   (double)ex.value[i], a);
		}
	}
	free(st);
	faii_config_free(c);
}

/*
 * The energy term of (13): verified work net of kappa_e e_i, with e_i the
 * site's energy per task unit (energy_to_work x PUE) and kappa_e the
 * configured energy price. Two nodes of one operator whose ESG scores are
 * equal (each alone in its class, so each earns the full energy-to-work
 * term) but one uses ten times the energy: without an energy price they
 * split the key evenly; at 100 tokens per kWh the frugal one carries more,
 * and its value is (s x - kappa_e e / p_bar) p_bar / p by hand. Energy
 * entered routing only through the ESG score before.
 */
Test(preference, energy_term)
{
	struct nspec n[2] = {ns("M", "op-a", "CH"), ns("XL", "op-a", "CH")};
	n[0].etw = 0.5, n[1].etw = 5.0;
	struct faii_config *c = load_doc("policy:\n  energy_price: 100\n", n, 2);
	cr_assert_eq(c->policy.energy_price, 100.0);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 1);
	for (uint32_t i = 0; i < 2; i++) {
		struct faii_route_terms tm;
		faii_route_terms(c, &st[i], &fl, &c->nodes[i], key.category, &tm);
		double e = c->nodes[i].esg.energy_to_work * 1.2 / 1000.0;
		cr_expect_float_eq(tm.energy_kwh, e, 1e-15);
		cr_expect_float_eq(tm.energy_cost, 100.0 * e, 1e-12);
		cr_expect_float_eq(tm.esg_rel, 1.0, 1e-12);
		cr_expect_float_eq(tm.value,
		                   (0.99 - 100.0 * e / fl.price_mean) * fl.price_mean / 1.0, 1e-9);
		cr_expect_eq(tm.reward_mult, 1.0);
		cr_expect_eq(tm.reward, c->nodes[i].price);
	}
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "energy");
	cr_expect_gt(share_of(&t, 0), share_of(&t, 1) + 0.05, "frugal %.4f, heavy %.4f",
	             share_of(&t, 0), share_of(&t, 1));
	c->policy.energy_price = 0;
	solve(c, st, &fl, &key, &t, &ex);
	cr_expect_float_eq(share_of(&t, 0), 0.5, 1e-6);
	/* An energy price above what the work is worth: the floor, never below. */
	c->policy.energy_price = 1e6;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_expect_eq(ex.value[1], 1e-9f);
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* 2. Shares: caps, edge reserve, dispersion.                               */

Test(shares, caps_relaxed_with_two_operators)
{
	struct nspec n[3] = {ns("XL", "op-a", "CH"), ns("L", "op-a", "CH"), ns("M", "op-b", "CH")};
	n[2].price = 1.15; /* op-b is worse, but must carry half */
	struct faii_config *c = load_doc(NULL, n, 3);
	struct faii_route_node_state *st = state_new(c);
	st[2].slo_success[3] = 0.6;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 10);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(c->policy.tier[3].operator_cap, 0.25);
	cr_assert(t.flags & FAII_ROUTE_F_CAPS_RELAXED, "flags %#x", t.flags);
	cr_assert_eq(ex.operators, 2);
	cr_assert_float_eq(share_of(&t, 0) + share_of(&t, 1), 0.5, SHARE_TOL);
	cr_assert_float_eq(share_of(&t, 2), 0.5, SHARE_TOL);
	/* d_4 = 2: two operators are enough. */
	cr_assert_eq(t.flags & FAII_ROUTE_F_FEW_OPERATORS, 0);
	assert_optimal(c, &key, &t, "two operators");
	/* Tier 1 (d = 4) with the same two operators: too few. */
	key.category = FAII_CAT_EDGE_INFERENCE;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert(t.flags & FAII_ROUTE_F_FEW_OPERATORS);
	cr_assert(t.flags & FAII_ROUTE_F_CAPS_RELAXED);
	/* No micro or S candidate: the edge reserve cannot be met. */
	cr_assert(t.flags & FAII_ROUTE_F_EDGE_SHORT, "flags %#x", t.flags);
	cr_assert_eq(edge_share_of(c, &t), 0.0);
	free(st);
	faii_config_free(c);
}

/* Four operators exactly: the caps bind at 1/4 each, not relaxed. */
Test(shares, caps_exactly_fill)
{
	struct nspec n[6] = {ns("XL", "op-a", "CH"), ns("XL", "op-a", "CH"), ns("L", "op-b", "CH"),
	                     ns("M", "op-c", "CH"),  ns("S", "op-d", "CH"),  ns("S", "op-d", "CH")};
	struct faii_config *c = load_doc(NULL, n, 6);
	struct faii_route_node_state *st = state_new(c);
	st[0].slo_success[0] = 1.0, st[3].slo_success[0] = 0.3;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(t.flags & FAII_ROUTE_F_CAPS_RELAXED, 0, "flags %#x", t.flags);
	cr_assert_float_eq(share_of(&t, 0) + share_of(&t, 1), 0.25, SHARE_TOL);
	cr_assert_float_eq(share_of(&t, 2), 0.25, SHARE_TOL);
	cr_assert_float_eq(share_of(&t, 3), 0.25, SHARE_TOL);
	cr_assert_float_eq(share_of(&t, 4) + share_of(&t, 5), 0.25, SHARE_TOL);
	/* Only op-d has micro/S: 0.25 < alpha = 0.3 is the best it can do. */
	cr_assert(t.flags & FAII_ROUTE_F_EDGE_SHORT, "flags %#x", t.flags);
	free(st);
	faii_config_free(c);
}

/*
 * XL nodes of four operators are far better (more reliable, cheaper, greener):
 * without the reserve they take everything; with it micro+S carry exactly alpha.
 */
Test(shares, edge_reserve_binds)
{
	struct nspec n[8];
	const char *xlops[4] = {"op-a", "op-b", "op-c", "op-d"};
	for (unsigned i = 0; i < 4; i++) {
		n[i] = ns("XL", xlops[i], "CH");
		n[i].price = 0.9, n[i].mix = "{solar: 1}", n[i].pue = 1.05, n[i].grid = 0.0;
		n[i].capacity = 1000;
	}
	for (unsigned i = 4; i < 8; i++) {
		n[i] = ns(i % 2 ? "micro" : "S", i < 6 ? "op-e" : "op-f", "CH");
		n[i].price = 1.1, n[i].mix = "{nonrenewable: 1}", n[i].pue = 1.5, n[i].grid = 0.8;
		n[i].capacity = 50;
	}
	struct faii_config *c = load_doc(NULL, n, 8);
	struct faii_route_node_state *st = state_new(c);
	for (uint32_t i = 0; i < 8; i++)
		st[i].slo_success[0] = i < 4 ? 0.999 : 0.8;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	cr_assert_float_eq(fl.price_mean, 1.0, 1e-12);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 10);
	for (uint32_t i = 4; i < 8; i++)
		cr_assert_lt(faii_route_node_esg(&c->policy, &fl, &c->nodes[i], 1),
		             faii_route_node_esg(&c->policy, &fl, &c->nodes[0], 1));

	/* Without the reserve: the XL operators fill their caps, micro+S get nothing. */
	c->policy.tier[0].edge_reserve = 0;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "no reserve");
	double unreserved = edge_share_of(c, &t);
	cr_assert_lt(unreserved, 0.3 - 0.01, "edge share %.6f without the reserve", unreserved);

	c->policy.tier[0].edge_reserve = 0.3;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "reserve 0.3");
	double e = edge_share_of(c, &t);
	cr_assert_geq(e, 0.3 - SHARE_TOL, "edge share %.9f", e);
	cr_assert_leq(e, 0.3 + 1e-5, "a binding reserve is met exactly, got %.9f", e);
	cr_assert_eq(t.flags, 0, "flags %#x", t.flags);

	/* A reserve the edge cannot reach (one edge operator, cap 0.25). */
	st[6].status = st[7].status = FAII_NODE_DRAINING;
	faii_route_fleet_compute(c, st, &fl);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(t.count, 6);
	cr_assert(t.flags & FAII_ROUTE_F_EDGE_SHORT);
	cr_assert_float_eq(edge_share_of(c, &t), 0.25, SHARE_TOL, "edge share %.9f, flags %#x",
	                   edge_share_of(c, &t), t.flags);

	/* No micro/S at all. */
	for (uint32_t i = 4; i < 8; i++)
		st[i].status = FAII_NODE_DRAINING;
	faii_route_fleet_compute(c, st, &fl);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert(t.flags & FAII_ROUTE_F_EDGE_SHORT);
	cr_assert_eq(edge_share_of(c, &t), 0.0);
	/* The reserve is tier 1's: interactive inference has none. */
	key.category = FAII_CAT_INTERACTIVE_INFERENCE;
	solve(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(t.flags & FAII_ROUTE_F_EDGE_SHORT, 0);
	free(st);
	faii_config_free(c);
}

/* One operator far better than the rest, a weak concentration penalty and a
 * loose cap: the optimum concentrates; the dispersion floor spreads it. */
static struct faii_config *concentrated(struct faii_route_node_state **stp,
                                        struct faii_route_fleet *fl)
{
	struct nspec n[6] = {ns("XL", "op-a", "CH"), ns("L", "op-b", "CH"), ns("M", "op-c", "CH"),
	                     ns("M", "op-d", "CH"),  ns("M", "op-e", "CH"), ns("L", "op-a", "CH")};
	n[0].price = 0.85, n[0].mix = "{solar: 1}", n[0].capacity = 5000;
	n[5].price = 0.9, n[5].capacity = 5000;
	for (unsigned i = 1; i < 5; i++)
		n[i].price = 1.1, n[i].capacity = 5000;
	struct faii_config *c = load_doc("policy:\n"
	                                 "  concentration_eta: 0.01\n"
	                                 "  tiers:\n"
	                                 "    3: {operator_cap: 0.95}\n",
	                                 n, 6);
	struct faii_route_node_state *st = state_new(c);
	st[0].slo_success[2] = 1.0;
	st[1].slo_success[2] = 0.9;
	st[2].slo_success[2] = st[3].slo_success[2] = st[4].slo_success[2] = 0.5;
	faii_route_fleet_compute(c, st, fl);
	*stp = st;
	return c;
}

Test(shares, dispersion_floor)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = concentrated(&st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_INTERACTIVE_INFERENCE, RC_ANY, 1);
	cr_assert_eq(c->policy.tier[2].operators_min, 3);

	/* d = 1: the optimum itself leaves fewer than 3 operators with work. */
	c->policy.tier[2].operators_min = 1;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "d = 1");
	cr_assert_lt(operators_serving(c, &t, 1e-4), 3, "%u operators serve at the optimum",
	             operators_serving(c, &t, 1e-4));
	cr_assert_gt(share_of(&t, 0) + share_of(&t, 5), 0.9);

	c->policy.tier[2].operators_min = 3;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex); /* >= 3 serve, caps hold, sum 1 */
	cr_assert_geq(operators_serving(c, &t, 1e-4), 3);
	cr_assert_geq(operators_serving(c, &t, 1.0 / 12 - 1e-6), 3,
	              "each of the d operators gets at least 1/(4d)");
	cr_assert_eq(t.flags, 0, "flags %#x", t.flags);
	/* Five operators and d = 6: flagged, nothing mixed in. */
	c->policy.tier[2].operators_min = 6;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert(t.flags & FAII_ROUTE_F_FEW_OPERATORS);
	assert_optimal(c, &key, &t, "few operators");
	free(st);
	faii_config_free(c);
}

/*
 * The dispersion mix and the edge reserve together (tier 1, cap 0.95): with
 * the defaults (beta <= 1/d) the mix cannot fire; with a loose cap it does,
 * scaling every share, micro+S included, and the reserve must be restored
 * after it (it would be 0.225 instead of 0.3).
 */
Test(shares, dispersion_keeps_edge_reserve)
{
	struct nspec n[6] = {ns("XL", "op-a", "CH"), ns("micro", "op-e", "CH"),
	                     ns("M", "op-c", "CH"),  ns("M", "op-d", "CH"),
	                     ns("M", "op-f", "CH"),  ns("S", "op-e", "CH")};
	for (unsigned i = 0; i < 6; i++)
		n[i].capacity = 5000;
	struct faii_config *c = load_doc("policy:\n"
	                                 "  concentration_eta: 0.01\n"
	                                 "  tiers:\n"
	                                 "    1: {operator_cap: 0.95}\n",
	                                 n, 6);
	struct faii_route_node_state *st = state_new(c);
	st[0].slo_success[0] = 1.0;
	st[1].slo_success[0] = st[5].slo_success[0] = 0.5;
	st[2].slo_success[0] = st[3].slo_success[0] = st[4].slo_success[0] = 0.6;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_EDGE_INFERENCE, RC_ANY, 1);
	solve(c, st, &fl, &key, &t, &ex);
	cr_assert_geq(operators_serving(c, &t, 1e-4), 4);
	cr_assert_geq(edge_share_of(c, &t), 0.3 - SHARE_TOL, "edge share %.6f after the mix",
	              edge_share_of(c, &t));
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Random instances: a base of 12 nodes, one operator each, reshaped per    */
/* instance in memory (operators, classes, capacities, SLO, policy).        */

static struct faii_config *random_base(struct faii_route_node_state **st)
{
	static struct nspec n[12];
	static char ops[12][8];
	for (unsigned i = 0; i < 12; i++) {
		snprintf(ops[i], sizeof(ops[i]), "op-%u", i);
		n[i] = ns("M", ops[i], "CH");
	}
	struct faii_config *c = load_doc(NULL, n, 12);
	cr_assert_eq(c->operator_count, 12);
	*st = state_new(c);
	return c;
}

struct regime {
	double cap_lo, cap_hi; /* capacities, tasks/s */
	const double *rates;   /* arrival rates to draw from */
	unsigned rate_count;
	double eta_lo, eta_hi;
	const double *betas;
	unsigned beta_count;
	const double *alphas;
	unsigned alpha_count;
};

/* Reshapes the base into a random instance; returns its key. */
static struct faii_route_key random_instance(struct faii_config *c,
                                             struct faii_route_node_state *st, uint64_t *rng,
                                             const struct regime *r)
{
	unsigned n = 3 + urange(rng, 10), ops = 1 + urange(rng, n);
	uint8_t cat = urange(rng, 2) ? FAII_CAT_EDGE_INFERENCE : FAII_CAT_BATCH_INFERENCE;
	unsigned tier = faii_category_tier(cat);
	for (uint32_t i = 0; i < c->node_count; i++) {
		struct faii_cfg_node *node = &c->nodes[i];
		st[i].status = i < n ? FAII_NODE_ACTIVE : FAII_NODE_DRAINING;
		node->operator_idx = (uint16_t)urange(rng, ops);
		node->node_class = (uint8_t)urange(rng, FAII_CLASS_COUNT);
		node->capacity_tasks_per_s = r->cap_lo + (r->cap_hi - r->cap_lo) * urand(rng);
		node->service_rate_tasks_per_s = node->capacity_tasks_per_s;
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			st[i].slo_success[t] = 0.3 + 0.7 * urand(rng);
	}
	c->policy.concentration_eta = r->eta_lo + (r->eta_hi - r->eta_lo) * urand(rng);
	struct faii_tier_policy *tp = &c->policy.tier[tier - 1];
	tp->operator_cap = r->betas[urange(rng, r->beta_count)];
	tp->operators_min = 1; /* the dispersion mix is a heuristic: off */
	tp->edge_reserve = r->alphas[urange(rng, r->alpha_count)];
	return mkkey(REG_ZURICH, cat, RC_ANY, r->rates[urange(rng, r->rate_count)]);
}

/* 4. Optimality against the KKT conditions, and the checker against perturbations. */
Test(optimality, kkt_random_instances)
{
	static const double rates[] = {0.5, 1, 10, 100};
	static const double betas[] = {0.2, 0.25, 0.3, 0.5, 0.75, 0.95};
	static const double alphas[] = {0, 0.1, 0.3, 0.6};
	const struct regime r = {1, 200, rates, 4, 0, 0.95, betas, 6, alphas, 4};
	struct faii_route_node_state *st;
	struct faii_config *c = random_base(&st);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	static struct qp_view v;
	static char why[512], desc[8192];
	uint64_t rng = 0x5EED0001;
	unsigned checked = 0, short_edge = 0, relaxed = 0, binding_edge = 0, capped = 0,
	         rejected = 0;
	for (unsigned inst = 0; inst < 1500; inst++) {
		struct faii_route_key key = random_instance(c, st, &rng, &r);
		struct faii_route_fleet fl;
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		if (t.flags & FAII_ROUTE_F_EDGE_SHORT) {
			short_edge++;
			continue;
		}
		qp_view_of(c, &key, &t, &v);
		if (kkt_violation(&v, v.phi, why, sizeof(why)) != NULL) {
			describe(&v, desc, sizeof(desc));
			cr_assert_fail("instance %u (category %u, lambda %g, eta %.3f): %s\n%s",
			               inst, key.category, key.arrival_rate,
			               c->policy.concentration_eta, why, desc);
		}
		checked++;
		relaxed += !!(t.flags & FAII_ROUTE_F_CAPS_RELAXED);
		binding_edge += v.alpha > 0 && fabs(edge_share_of(c, &t) - v.alpha) < 1e-6;
		double optot[CMAX] = {0};
		for (unsigned i = 0; i < v.n; i++)
			optot[v.op[i]] += v.phi[i];
		for (unsigned o = 0; o < v.ops; o++)
			capped +=
			        optot[o] > v.beta - 1e-6 && !(t.flags & FAII_ROUTE_F_CAPS_RELAXED);

		/* The checker rejects any other point: move delta from i to j. */
		unsigned i = urange(&rng, v.n), j = urange(&rng, v.n);
		for (unsigned k = 0; k < v.n && v.phi[i] < 0.05; k++)
			i = (i + 1) % v.n;
		if (i == j)
			j = (j + 1) % v.n;
		double delta = v.phi[i] / 2;
		double tau = 1e-6 * (v.a[i] + v.a[j] + 2 * v.q[i] + 2 * v.q[j]);
		if (v.phi[i] < 0.05 || delta * (v.q[i] < v.q[j] ? v.q[i] : v.q[j]) < 1e3 * tau)
			continue;
		double phi[CMAX];
		memcpy(phi, v.phi, sizeof(phi));
		phi[i] -= delta, phi[j] += delta;
		cr_assert_not_null(kkt_violation(&v, phi, why, sizeof(why)),
		                   "instance %u: moving %.4f from %u to %u is accepted", inst,
		                   delta, i, j);
		/* ... and the solver's point is the better one where both are feasible. */
		if (perturbed_feasible(&v, phi))
			cr_assert_gt(objective(&v, v.phi), objective(&v, phi),
			             "instance %u: moving %.4f from %u to %u improves J", inst,
			             delta, i, j);
		rejected++;
	}
	cr_log_info("KKT: %u instances checked (%u relaxed, %u with a binding reserve, %u capped "
	            "operators), %u edge-short, %u perturbations rejected",
	            checked, relaxed, binding_edge, capped, short_edge, rejected);
	cr_assert_gt(checked, 1000);
	cr_assert_gt(relaxed, 50);
	cr_assert_gt(binding_edge, 50);
	cr_assert_gt(capped, 200);
	cr_assert_gt(short_edge, 20);
	cr_assert_gt(rejected, 500);
	free(st);
	faii_config_free(c);
}

/* The defaults (d = 4, 3, 3, 2 with beta 0.25) on random instances: all invariants. */
Test(optimality, defaults_random_instances)
{
	static const double rates[] = {1, 20};
	static const double betas[] = {0.25};
	static const double alphas[] = {0.3};
	const struct regime r = {2, 100, rates, 2, 0.5, 0.5, betas, 1, alphas, 1};
	struct faii_route_node_state *st;
	struct faii_config *c = random_base(&st);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	uint64_t rng = 0x5EED0002;
	for (unsigned inst = 0; inst < 400; inst++) {
		struct faii_route_key key = random_instance(c, st, &rng, &r);
		faii_policy_defaults(&c->policy);
		struct faii_route_fleet fl;
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		/* With beta = 1/4 <= 1/d the caps spread work: the mix never fires. */
		if (!(t.flags & FAII_ROUTE_F_EDGE_SHORT))
			assert_optimal(c, &key, &t, "defaults");
	}
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* 3. Preference monotonicity (uncongested: lambda / c <= 0.05).            */

static void expect_not_lower(double before, double after, const char *what, unsigned inst,
                             uint32_t node)
{
	cr_assert_geq(after, before - SHARE_TOL,
	              "instance %u: %s lowered node %u's share from %.9f to %.9f", inst, what, node,
	              before, after);
}

Test(preference, monotone_random)
{
	static const double rates[] = {0.5, 1};
	static const double betas[] = {0.25, 0.4, 0.95};
	static const double alphas[] = {0, 0.3};
	const struct regime r = {20, 500, rates, 2, 0.05, 0.9, betas, 3, alphas, 2};
	struct faii_route_node_state *st;
	struct faii_config *c = random_base(&st);
	static struct faii_route_table t0, t1;
	static struct faii_route_explain ex;
	uint64_t rng = 0x5EED0003;
	unsigned moved = 0;
	for (unsigned inst = 0; inst < 300; inst++) {
		struct faii_route_key key = random_instance(c, st, &rng, &r);
		unsigned tier = faii_category_tier(key.category);
		struct faii_route_fleet fl;
		faii_route_fleet_compute(c, st, &fl);
		uint32_t n = 0;
		while (n < c->node_count && st[n].status == FAII_NODE_ACTIVE)
			n++;
		uint32_t i = urange(&rng, n);
		solve(c, st, &fl, &key, &t0, &ex);
		double s0 = share_of(&t0, i);
		cr_assert_geq(s0, 0.0);

		/* Higher SLO success. */
		double slo = st[i].slo_success[tier - 1];
		st[i].slo_success[tier - 1] = slo + (1.0 - slo) * (0.1 + 0.9 * urand(&rng));
		solve(c, st, &fl, &key, &t1, &ex);
		expect_not_lower(s0, share_of(&t1, i), "a higher SLO success", inst, i);
		moved += share_of(&t1, i) > s0 + 1e-6;
		st[i].slo_success[tier - 1] = slo;

		/* Greener: 30 % of the mix from non-renewable to solar (fleet held). */
		struct faii_cfg_esg esg = c->nodes[i].esg;
		c->nodes[i].esg.source_mix[FAII_SRC_SOLAR] += 0.3;
		c->nodes[i].esg.source_mix[FAII_SRC_NONRENEWABLE] -= 0.3;
		solve(c, st, &fl, &key, &t1, &ex);
		expect_not_lower(s0, share_of(&t1, i), "a greener mix", inst, i);
		c->nodes[i].esg = esg;

		/* Cheaper, inside the corridor [0.8, 1.2]. */
		c->nodes[i].price = 0.9 - 0.09 * urand(&rng);
		solve(c, st, &fl, &key, &t1, &ex);
		cr_assert_eq(ex.exclusion[i], FAII_ROUTE_EX_NONE);
		expect_not_lower(s0, share_of(&t1, i), "a lower price", inst, i);
		c->nodes[i].price = 1.0;

		/* A twin of node i with twice its service rate gets at least its share. */
		uint32_t j = (i + 1) % n;
		struct faii_cfg_node saved = c->nodes[j];
		struct faii_route_node_state saved_st = st[j];
		c->nodes[j].operator_idx = c->nodes[i].operator_idx;
		c->nodes[j].node_class = c->nodes[i].node_class;
		c->nodes[j].service_rate_tasks_per_s = 2.0 * c->nodes[i].service_rate_tasks_per_s;
		st[j] = st[i];
		solve(c, st, &fl, &key, &t1, &ex);
		cr_assert_geq(
		        share_of(&t1, j), share_of(&t1, i) - SHARE_TOL,
		        "instance %u: node %u (service rate %.1f) gets %.9f < %.9f of its twin %u "
		        "(service rate %.1f)",
		        inst, j, c->nodes[j].service_rate_tasks_per_s, share_of(&t1, j),
		        share_of(&t1, i), i, c->nodes[i].service_rate_tasks_per_s);
		c->nodes[j] = saved;
		st[j] = saved_st;
	}
	cr_assert_gt(moved, 100, "SLO changes moved shares in only %u instances", moved);
	free(st);
	faii_config_free(c);
}

/* The same properties on one hand-made key, fleet recomputed after each change. */
Test(preference, monotone_fleet_recomputed)
{
	struct nspec n[6] = {ns("M", "op-a", "CH"), ns("L", "op-b", "CH"),  ns("S", "op-c", "CH"),
	                     ns("M", "op-d", "CH"), ns("XL", "op-e", "CH"), ns("M", "op-a", "CH")};
	struct faii_config *c = load_doc(NULL, n, 6);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_STORAGE_SHARD, RC_ANY, 1);
	double prev = -1;
	/* SLO success of node 0 from 0.5 to 1. */
	for (int k = 0; k <= 10; k++) {
		st[0].slo_success[1] = 0.5 + 0.05 * k;
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		expect_not_lower(prev, share_of(&t, 0), "a higher SLO success", (unsigned)k, 0);
		prev = share_of(&t, 0);
	}
	st[0].slo_success[1] = 0.99;
	/* Price of node 0 from 1.15 down to 0.85 (corridor follows p_bar). */
	prev = -1;
	for (int k = 0; k <= 10; k++) {
		c->nodes[0].price = 1.15 - 0.03 * k;
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		cr_assert_eq(ex.exclusion[0], FAII_ROUTE_EX_NONE);
		expect_not_lower(prev, share_of(&t, 0), "a lower price", (unsigned)k, 0);
		prev = share_of(&t, 0);
	}
	c->nodes[0].price = 1.0;
	/* Renewables of node 0 from 0 to 100 %. */
	prev = -1;
	for (int k = 0; k <= 10; k++) {
		c->nodes[0].esg.source_mix[FAII_SRC_SOLAR] = 0.1 * k;
		c->nodes[0].esg.source_mix[FAII_SRC_NONRENEWABLE] = 1.0 - 0.1 * k;
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		expect_not_lower(prev, share_of(&t, 0), "a greener mix", (unsigned)k, 0);
		prev = share_of(&t, 0);
	}
	/* Service rate: nodes 0 and 5 are twins of op-a; 5 serves faster. */
	c->nodes[5] = c->nodes[0];
	st[5] = st[0];
	for (int k = 1; k <= 10; k++) {
		c->nodes[5].service_rate_tasks_per_s =
		        c->nodes[0].service_rate_tasks_per_s * (1 + 0.5 * k);
		key.arrival_rate = 50; /* congested enough for capacity to matter */
		faii_route_fleet_compute(c, st, &fl);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		cr_assert_gt(share_of(&t, 5), share_of(&t, 0), "service rate x%.1f: %.9f vs %.9f",
		             1 + 0.5 * k, share_of(&t, 5), share_of(&t, 0));
	}
	free(st);
	faii_config_free(c);
}

/*
 * In the demonstration fleet ESG scores are of order 2-4 (mean 2.3). With
 * m(ESG) = 1 + xi tanh(ESG - mean), a = ESG / (ESG_bar m) fell with ESG just
 * above the mean, so a greener mix lowered 10 of 115 nodes' shares; the
 * multiplier now takes the relative distance to the mean, which keeps a
 * increasing in ESG.
 */
Test(preference, greener_demo_fleet)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = demo_with_state(&st, &fl);
	static struct faii_route_table t0, t1;
	static struct faii_route_explain ex;
	for (uint32_t i = 0; i < c->node_count; i++) {
		struct faii_cfg_esg *e = &c->nodes[i].esg;
		if (st[i].status != FAII_NODE_ACTIVE || e->source_mix[FAII_SRC_NONRENEWABLE] < 0.05)
			continue;
		struct faii_route_key key =
		        mkkey(c->nodes[i].region_id, FAII_CAT_INTERACTIVE_INFERENCE, 1, 100);
		solve(c, st, &fl, &key, &t0, &ex);
		struct faii_cfg_esg saved = *e;
		double etw_ref = faii_route_etw_ref(&fl, FAII_CAT_INTERACTIVE_INFERENCE,
		                                    c->nodes[i].node_class);
		e->source_mix[FAII_SRC_SOLAR] += e->source_mix[FAII_SRC_NONRENEWABLE];
		e->source_mix[FAII_SRC_NONRENEWABLE] = 0;
		solve(c, st, &fl, &key, &t1, &ex);
		cr_expect_geq(share_of(&t1, i), share_of(&t0, i) - SHARE_TOL,
		              "node %u (%s): greener (ESG %.3f -> %.3f, mean %.3f), share %.6f -> "
		              "%.6f",
		              c->nodes[i].id, c->nodes[i].name,
		              faii_esg_score(&c->policy, &saved, fl.pue_mean, etw_ref),
		              faii_esg_score(&c->policy, e, fl.pue_mean, etw_ref),
		              fl.esg_mean[FAII_CAT_INTERACTIVE_INFERENCE - 1], share_of(&t0, i),
		              share_of(&t1, i));
		*e = saved;
	}
	free(st);
	faii_config_free(c);
}

/*
 * The congestion term (7),(15) uses the service rate sigma_i where the
 * configuration gives one, not the capacity c_i (sigma was parsed and never
 * used): two twins of one capacity, one serving four times faster, on a
 * congested key. The faster one carries more; without service rates given,
 * the twins split evenly. A REGISTER's capacity moves sigma only when none
 * was configured (registry, tested in the dataplane suite).
 */
/* Two M nodes of op-a with capacity 10; the second's service rate sigma1
 * (0: not given). */
static struct faii_config *twins(double sigma1, struct faii_route_node_state **st,
                                 struct faii_route_fleet *fl)
{
	struct nspec n[2] = {ns("M", "op-a", "CH"), ns("M", "op-a", "CH")};
	n[0].capacity = n[1].capacity = 10;
	n[1].sigma = sigma1;
	struct faii_config *c = load_doc(NULL, n, 2);
	*st = state_new(c);
	faii_route_fleet_compute(c, *st, fl);
	return c;
}

Test(shares, service_rate_drives_congestion)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = twins(40, &st, &fl);
	cr_assert(!c->nodes[0].service_rate_configured && c->nodes[1].service_rate_configured);
	cr_assert_eq(c->nodes[0].service_rate_tasks_per_s, 10.0);
	cr_assert_eq(c->nodes[1].service_rate_tasks_per_s, 40.0);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_STORAGE_SHARD, RC_ANY, 20);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "sigma");
	cr_expect_gt(share_of(&t, 1), 0.6, "sigma 40 vs 10: shares %.4f / %.4f", share_of(&t, 0),
	             share_of(&t, 1));
	c->nodes[1].service_rate_tasks_per_s = 10;
	solve(c, st, &fl, &key, &t, &ex);
	cr_expect_float_eq(share_of(&t, 1), 0.5, 1e-6);
	free(st);
	faii_config_free(c);
}

/*
 * Overloaded keys (lambda / c_i >> 1): with congestion priced at the node's
 * own value (a_i lambda / c_i phi_i^2), raising a node's SLO success from
 * 0.99 to 1 lowered its share (0.5 -> 0.4978) between two twins at
 * lambda / c = 10. Congestion is now priced at the key's mean value, so a
 * better node never gets less.
 */
Test(preference, monotone_when_overloaded)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = twins(0, &st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 100);
	solve(c, st, &fl, &key, &t, &ex);
	double s0 = share_of(&t, 0);
	st[0].slo_success[3] = 1.0;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	assert_optimal(c, &key, &t, "overloaded");
	cr_expect_geq(share_of(&t, 0), s0 - SHARE_TOL, "share %.6f -> %.6f", s0, share_of(&t, 0));
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* 5. Alias table.                                                          */

Test(alias, draws_follow_shares)
{
	struct faii_config *c = load_demo();
	struct faii_route_node_state *st = state_new(c);
	for (uint32_t i = 0; i < c->node_count; i++) {
		st[i].status = c->nodes[i].status;
		for (uint32_t r = 0; r < c->region_count; r++)
			st[i].latency_us[r] =
			        faii_route_latency_prior_us(&c->regions[r], &c->nodes[i]);
	}
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	/* Zurich, interactive inference, CH+EU: 64 candidates, some with share 0. */
	struct faii_route_key key = mkkey(1, FAII_CAT_INTERACTIVE_INFERENCE, 3, 100);
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	unsigned zero = 0;
	for (unsigned k = 0; k < t.count; k++)
		zero += t.share[k] == 0.0f;
	cr_assert_eq(t.count, CMAX);
	cr_assert_gt(zero, 0, "expected candidates with share 0 in this key");

	enum { DRAWS = 4000000 };
	static uint32_t hits[CMAX];
	memset(hits, 0, sizeof(hits));
	uint64_t rng = 0xA11A5;
	for (unsigned d = 0; d < DRAWS; d++) {
		uint32_t k = faii_route_draw(&t, splitmix64(&rng));
		cr_assert_lt(k, t.count);
		hits[k]++;
	}
	for (unsigned k = 0; k < t.count; k++) {
		double p = t.share[k], mean = p * DRAWS, sd = sqrt(DRAWS * p * (1 - p));
		if (p == 0.0)
			cr_assert_leq(hits[k], 1, "candidate %u with share 0 drawn %u times", k,
			              hits[k]);
		else
			cr_assert_leq(
			        fabs(hits[k] - mean), 5 * sd + 1,
			        "candidate %u: share %.6f, drawn %u of %u (expected %.0f +- %.0f)",
			        k, p, hits[k], DRAWS, mean, sd);
	}
	free(st);
	faii_config_free(c);
}

/* Edges of the draw: one candidate; two with a tiny share; r = 0 and r = max. */
Test(alias, small_tables)
{
	struct faii_route_table t;
	memset(&t, 0, sizeof(t));
	t.count = 1, t.prob[0] = FAII_ROUTE_PROB_ONE;
	cr_expect_eq(faii_route_draw(&t, 0), 0);
	cr_expect_eq(faii_route_draw(&t, UINT64_MAX), 0);

	struct nspec n[2] = {ns("M", "op-a", "CH"), ns("M", "op-b", "CH")};
	struct faii_config *c = load_doc(NULL, n, 2);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_explain ex;
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_BATCH_INFERENCE, RC_ANY, 1);
	st[1].status = FAII_NODE_DRAINING;
	solve(c, st, &fl, &key, &t, &ex);
	check_table(c, st, &fl, &key, &t, &ex);
	cr_assert_eq(t.count, 1);
	cr_assert_float_eq(t.share[0], 1.0, 1e-7);
	uint64_t rng = 7;
	for (int d = 0; d < 1000; d++)
		cr_assert_eq(faii_route_draw(&t, splitmix64(&rng)), 0);
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* 6. The demonstration configuration, every key.                           */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every key of a configuration (region x category x residency class). */
static unsigned all_keys(const struct faii_config *c, double rate, struct faii_route_key *keys,
                         unsigned max)
{
	unsigned n = 0;
	for (uint32_t r = 0; r < c->region_count; r++) {
		for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++) {
			for (uint32_t k = 0; k < c->residency_class_count; k++) {
				cr_assert_lt(n, max);
				keys[n++] = mkkey(c->regions[r].id, cat,
				                  (uint8_t)c->residency_classes[k].id, rate);
			}
		}
	}
	return n;
}

/* ------------------------------------------------------------------------ */
/* The class-share cap (33), through its dual prices.                       */

/*
 * Expected verified work per class and tier with every key solved under
 * fl: key k's demand times sum_i phi_i s_i,t.
 */
static void expected_work(const struct faii_config *c, const struct faii_route_node_state *st,
                          const struct faii_route_fleet *fl, const struct faii_route_key *keys,
                          unsigned nkeys, double work[FAII_TIER_COUNT][FAII_CLASS_COUNT])
{
	static struct faii_route_table t;
	memset(work, 0, sizeof(double) * FAII_TIER_COUNT * FAII_CLASS_COUNT);
	for (unsigned k = 0; k < nkeys; k++) {
		unsigned tier = faii_category_tier(keys[k].category);
		cr_assert_eq(faii_route_solve(c, st, fl, &keys[k], &t, NULL), 0);
		for (unsigned j = 0; j < t.count; j++) {
			uint32_t i = t.node[j];
			work[tier - 1][c->nodes[i].node_class] +=
			        keys[k].arrival_rate * t.share[j] * st[i].slo_success[tier - 1];
		}
	}
}

/* Class shares of verified work over every tier. */
static void class_shares(double work[FAII_TIER_COUNT][FAII_CLASS_COUNT],
                         double share[FAII_CLASS_COUNT])
{
	double total = 0;
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		share[k] = 0;
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			share[k] += work[t][k];
		total += share[k];
	}
	cr_assert_gt(total, 0.0);
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++)
		share[k] /= total;
}

/*
 * Runs the control loop (solve every key, measure, one dual step) rounds
 * times from zero prices; fl's prices are left at the last step's.
 */
static void run_class_prices(const struct faii_config *c, const struct faii_route_node_state *st,
                             struct faii_route_fleet *fl, const struct faii_route_key *keys,
                             unsigned nkeys, unsigned rounds, struct faii_class_price *cp)
{
	static double work[FAII_TIER_COUNT][FAII_CLASS_COUNT];
	memset(cp, 0, sizeof(*cp));
	for (unsigned r = 0; r < rounds; r++) {
		memcpy(fl->class_price, cp->price, sizeof(fl->class_price));
		expected_work(c, st, fl, keys, nkeys, work);
		double per_class[FAII_CLASS_COUNT] = {0};
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			for (unsigned k = 0; k < FAII_CLASS_COUNT; k++)
				per_class[k] += work[t][k];
		faii_class_price_update(cp, per_class, c->policy.class_share_max);
	}
	memcpy(fl->class_price, cp->price, sizeof(fl->class_price));
}

/* The tolerance stated in docs/routing.md for s_k <= s_bar at the fixed point. */
#define CLASS_SHARE_TOL 0.01

/*
 * A simulated fleet where micro nodes are the cheapest and greenest: left
 * alone routing gives micro more than s_bar = 0.4 of the verified work
 * (class_share_max was parsed and only printed). With the dual prices the
 * share falls to s_bar within the tolerance, only a class at the cap pays
 * a price (complementary slackness), and every key stays feasible and
 * optimal for its prices.
 */
Test(class_share, cap_holds_on_a_simulated_fleet)
{
	static const char *const cls[FAII_CLASS_COUNT] = {"micro", "S", "M", "L", "XL"};
	static const unsigned count[FAII_CLASS_COUNT] = {12, 4, 4, 4, 4};
	static const char *const ops[8] = {"op-a", "op-b", "op-c", "op-d",
	                                   "op-e", "op-f", "op-g", "op-h"};
	struct nspec n[28];
	unsigned m = 0;
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		for (unsigned j = 0; j < count[k]; j++, m++) {
			n[m] = ns(cls[k], ops[m % 8], "CH");
			n[m].price = k == 0 ? 0.85 : 1.05;
			if (k == 0)
				n[m].mix = "{solar: 0.9, nonrenewable: 0.1}";
		}
	}
	struct faii_config *c = load_doc(NULL, n, m);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	struct faii_route_key keys[FAII_CATEGORY_COUNT];
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++)
		keys[cat - 1] = mkkey(REG_ZURICH, cat, RC_ANY, 10);
	static double work[FAII_TIER_COUNT][FAII_CLASS_COUNT];
	double share[FAII_CLASS_COUNT];
	expected_work(c, st, &fl, keys, FAII_CATEGORY_COUNT, work);
	class_shares(work, share);
	cr_assert_gt(share[FAII_CLASS_MICRO], c->policy.class_share_max + 0.05,
	             "the fleet must load micro past s_bar without prices: %.3f", share[0]);

	double micro_before = share[FAII_CLASS_MICRO];
	struct faii_class_price cp;
	run_class_prices(c, st, &fl, keys, FAII_CATEGORY_COUNT, 300, &cp);
	expected_work(c, st, &fl, keys, FAII_CATEGORY_COUNT, work);
	class_shares(work, share);
	fprintf(stderr,
	        "simulated fleet: micro share %.4f without prices, %.4f with (price %.4f)\n",
	        micro_before, share[FAII_CLASS_MICRO], cp.price[FAII_CLASS_MICRO]);
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		cr_expect_leq(share[k], c->policy.class_share_max + CLASS_SHARE_TOL,
		              "class %s: share %.4f, price %.4f", cls[k], share[k], cp.price[k]);
		if (cp.price[k] > 1e-3)
			cr_expect_geq(share[k], c->policy.class_share_max - CLASS_SHARE_TOL,
			              "class %s pays %.4f below the cap (%.4f)", cls[k],
			              cp.price[k], share[k]);
	}
	cr_expect_gt(cp.price[FAII_CLASS_MICRO], 0.0);
	static struct faii_route_table t;
	static struct faii_route_explain ex;
	for (unsigned k = 0; k < FAII_CATEGORY_COUNT; k++) {
		solve(c, st, &fl, &keys[k], &t, &ex);
		check_table(c, st, &fl, &keys[k], &t, &ex);
		assert_optimal(c, &keys[k], &t, "priced");
	}
	free(st);
	faii_config_free(c);
}

/* The dual step by hand: smoothing, the sign of the step, the clamps. */
Test(class_share, price_update_rule)
{
	struct faii_class_price cp;
	memset(&cp, 0, sizeof(cp));
	const double work[FAII_CLASS_COUNT] = {6, 1, 1, 1, 1};
	faii_class_price_update(&cp, work, 0.4);
	cr_expect_float_eq(cp.share[0], 0.6, 1e-12); /* the first measure is taken whole */
	cr_expect_float_eq(cp.price[0], FAII_CLASS_PRICE_STEP * 0.2, 1e-12);
	for (unsigned k = 1; k < FAII_CLASS_COUNT; k++)
		cr_expect_eq(cp.price[k], 0.0, "below the cap: never negative");
	const double even[FAII_CLASS_COUNT] = {1, 1, 1, 1, 1};
	faii_class_price_update(&cp, even, 0.4);
	double s = (1 - FAII_CLASS_SHARE_EWMA) * 0.6 + FAII_CLASS_SHARE_EWMA * 0.2;
	cr_expect_float_eq(cp.share[0], s, 1e-12);
	cr_expect_float_eq(cp.price[0], FAII_CLASS_PRICE_STEP * (0.2 + s - 0.4), 1e-12);
	const double none[FAII_CLASS_COUNT] = {0};
	struct faii_class_price before = cp;
	faii_class_price_update(&cp, none, 0.4); /* nothing measured: no step */
	cr_expect_eq(memcmp(&before, &cp, sizeof(cp)), 0);
	const double all[FAII_CLASS_COUNT] = {1, 0, 0, 0, 0};
	for (unsigned r = 0; r < 10000; r++)
		faii_class_price_update(&cp, all, 0.4);
	cr_expect_eq(cp.price[0], FAII_CLASS_PRICE_MAX);
	cr_expect_eq(cp.updates, 10002u);
}

/*
 * The demonstration fleet, every key at the same demand: without prices
 * the classes' shares of verified work, with prices after 200 steps (20 s
 * of control at 10 Hz), each under s_bar within the tolerance; the shares
 * per class and tier are printed (docs/routing.md quotes them).
 */
Test(class_share, demo_fleet)
{
	static const char *const cls[FAII_CLASS_COUNT] = {"micro", "S", "M", "L", "XL"};
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = demo_with_state(&st, &fl);
	static struct faii_route_key keys[FAII_ROUTE_KEYS_MAX];
	unsigned nkeys = all_keys(c, 10, keys, FAII_ROUTE_KEYS_MAX);
	static double work[FAII_TIER_COUNT][FAII_CLASS_COUNT];
	double before[FAII_CLASS_COUNT], after[FAII_CLASS_COUNT];
	expected_work(c, st, &fl, keys, nkeys, work);
	class_shares(work, before);
	struct faii_class_price cp;
	run_class_prices(c, st, &fl, keys, nkeys, 200, &cp);
	expected_work(c, st, &fl, keys, nkeys, work);
	class_shares(work, after);
	fprintf(stderr, "demo fleet, class shares of verified work (s_bar %.2f):\n",
	        c->policy.class_share_max);
	for (unsigned k = 0; k < FAII_CLASS_COUNT; k++) {
		fprintf(stderr,
		        "  %-5s no prices %.3f, with prices %.3f (price %.3f); by tier:", cls[k],
		        before[k], after[k], cp.price[k]);
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++) {
			double tot = 0;
			for (unsigned j = 0; j < FAII_CLASS_COUNT; j++)
				tot += work[t][j];
			fprintf(stderr, " %.3f", tot > 0 ? work[t][k] / tot : 0.0);
		}
		fprintf(stderr, "\n");
		cr_expect_leq(after[k], c->policy.class_share_max + CLASS_SHARE_TOL,
		              "class %s: %.4f", cls[k], after[k]);
	}
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Caps in the realised copies: the published tables and the dataplane's    */
/* own choice of nodes (dataplane/pick.c), replicas and families included.  */

#define REALISED_TASKS 1000000u
#define REALISED_MIXES 4u

/* Per (key, family): tasks, refusals and copies per candidate. */
struct realised {
	uint64_t tasks, refused, total;
	uint64_t copies[CMAX];
};

/* eventual, session, strong: fractions of the tasks. */
static const double mixes[REALISED_MIXES][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {0.5, 0.3, 0.2}};

/* Every key's published table, compiled as faiid publishes it. */
static unsigned compile_keys(const struct faii_config *c, const struct faii_route_node_state *st,
                             const struct faii_route_fleet *fl, const struct faii_route_key *keys,
                             unsigned nkeys, struct faii_route_dp_table *tabs)
{
	static struct faii_route_table t;
	for (unsigned k = 0; k < nkeys; k++) {
		cr_assert_eq(faii_route_solve(c, st, fl, &keys[k], &t, NULL), 0);
		faii_route_compile(c, &t, &tabs[k]);
	}
	return nkeys;
}

/*
 * tasks tasks of the mix over the tables (key and family uniform among
 * those the table serves), nodes idle and active: the choice the
 * dataplane makes per TASK, counted per (table, family).
 */
static void simulate(const struct faii_config *c, const struct faii_route_dp_table *tabs,
                     unsigned ntabs, const double *mix, unsigned tasks, uint64_t seed,
                     struct realised (*out)[FAII_ROUTE_FAMILIES])
{
	struct faii_node_live *live = calloc(c->node_count, sizeof(*live));
	cr_assert_not_null(live);
	for (uint32_t i = 0; i < c->node_count; i++) {
		atomic_init(&live[i].status, FAII_NODE_ACTIVE);
		atomic_init(&live[i].limit, 1u << 30);
		atomic_init(&live[i].reputation_milli, FAII_PERMILLE);
	}
	memset(out, 0, sizeof(*out) * ntabs);
	uint64_t rng[2] = {seed, seed ^ 0x9E3779B97F4A7C15ull}, pick_rng[2] = {~seed, seed + 1};
	for (unsigned n = 0; n < tasks; n++) {
		unsigned k = urange(rng, ntabs);
		const struct faii_route_dp_table *t = &tabs[k];
		bool v4 = t->family[0].count > 0, v6 = t->family[1].count > 0;
		if (!v4 && !v6)
			continue;
		unsigned f = v4 && v6 ? urange(rng, 2) : v6;
		double u = urand(rng);
		unsigned want = u < mix[0] ? 1 : u < mix[0] + mix[1] ? 3 : 7;
		struct task_need need = {.budget_us = UINT32_MAX,
		                         .family = f ? FAII_ADDR_IPV6 : FAII_ADDR_IPV4};
		uint16_t chosen[FAII_REPLICAS_MAX];
		struct realised *r = &out[k][f];
		r->tasks++;
		unsigned got = faii_pick_set(live, t, &need, want, chosen, pick_rng);
		if (got < want) {
			r->refused++;
			continue;
		}
		for (unsigned j = 0; j < got; j++) {
			cr_assert_eq(t->cand[chosen[j]].addr_family, need.family);
			r->copies[chosen[j]]++;
		}
		r->total += got;
	}
	free(live);
}

/* Operators among a family's candidates. */
static unsigned ops_of(const struct faii_route_dp_table *t, unsigned f)
{
	bool seen[FAII_CFG_OPERATORS_MAX] = {false};
	unsigned ops = 0;
	for (unsigned k = 0; k < t->count; k++) {
		if (FAII_ROUTE_FAMILY(t->cand[k].addr_family) == f &&
		    !seen[t->cand[k].operator_idx]) {
			seen[t->cand[k].operator_idx] = true;
			ops++;
		}
	}
	return ops;
}

/*
 * The published inclusion probabilities by themselves (exactly, no draw):
 * n in all, none above 1, operators within n beta, micro+S at least n alpha
 * unless the family is flagged short, nothing to a zero-share candidate
 * unless the family has fewer than n others.
 */
static void check_inclusion(const struct faii_config *c, const struct faii_route_dp_table *t,
                            const char *what)
{
	static const unsigned sizes[FAII_REPLICA_LEVELS] = {3, 7};
	const struct faii_tier_policy *tp = &c->policy.tier[faii_category_tier(t->category) - 1];
	for (unsigned f = 0; f < FAII_ROUTE_FAMILIES; f++) {
		const struct faii_route_dp_family *fm = &t->family[f];
		for (unsigned l = 0; l < FAII_REPLICA_LEVELS; l++) {
			unsigned n = sizes[l];
			if (fm->count < n) {
				cr_assert_eq(fm->operator_copies_max[l], 0, "%s family %u", what,
				             f);
				continue;
			}
			double cap = n * (fm->flags & FAII_ROUTE_F_CAPS_RELAXED ? 1.0 / ops_of(t, f)
			                                                        : tp->operator_cap);
			/* Zero-share nodes only when those with a share cannot hold n. */
			double pos[FAII_CFG_OPERATORS_MAX] = {0}, room_pos = 0;
			for (unsigned k = 0; k < t->count; k++)
				pos[t->cand[k].operator_idx] += fm->share[k] > 0;
			for (unsigned o = 0; o < FAII_CFG_OPERATORS_MAX; o++)
				room_pos += pos[o] < cap ? pos[o] : cap;
			double sum = 0, edge = 0, op[FAII_CFG_OPERATORS_MAX] = {0};
			for (unsigned k = 0; k < t->count; k++) {
				double p = fm->incl[l][k];
				cr_assert(p >= 0 && p <= 1 + 1e-6, "%s: incl %g", what, p);
				cr_assert(p == 0 || room_pos < n - 1e-9 || fm->share[k] > 0,
				          "%s family %u: zero-share candidate %u drawn with %g",
				          what, f, k, p);
				sum += p;
				op[t->cand[k].operator_idx] += p;
				edge += is_edge_class(t->cand[k].node_class) ? p : 0;
			}
			cr_assert_float_eq(sum, n, 1e-4, "%s family %u, n %u", what, f, n);
			/* Feasible: enough nodes per operator for n distinct ones. */
			double room = 0, nodes[FAII_CFG_OPERATORS_MAX] = {0};
			for (unsigned k = 0; k < t->count; k++)
				nodes[t->cand[k].operator_idx] +=
				        FAII_ROUTE_FAMILY(t->cand[k].addr_family) == f;
			for (unsigned o = 0; o < FAII_CFG_OPERATORS_MAX; o++)
				room += nodes[o] < cap ? nodes[o] : cap;
			unsigned flag = l == 0 ? FAII_ROUTE_F_SET3_CAPS_RELAXED
			                       : FAII_ROUTE_F_SET7_CAPS_RELAXED;
			cr_assert_eq(!!(fm->flags & flag), room < n - 1e-9,
			             "%s family %u, n %u: flags %#x, room %.3f", what, f, n,
			             fm->flags, room);
			for (unsigned o = 0; o < FAII_CFG_OPERATORS_MAX; o++)
				cr_assert_leq(op[o], (fm->flags & flag ? nodes[o] : cap) + 1e-4,
				              "%s family %u, n %u: operator %u takes %.4f copies",
				              what, f, n, o, op[o]);
			if (tp->edge_reserve > 0 && !(fm->flags & FAII_ROUTE_F_EDGE_SHORT))
				cr_assert_geq(edge, n * tp->edge_reserve - 1e-4,
				              "%s family %u, n %u: micro+S %.4f copies", what, f, n,
				              edge);
		}
	}
}

/* 5 standard deviations of a fraction p estimated from n draws, and a floor. */
static double five_sigma(double p, double n)
{
	return 5.0 * sqrt((p > 0.01 ? p : 0.01) / (n > 1 ? n : 1)) + 1e-3;
}

/* The realised copies of one (table, family) against the caps and the
 * published distribution, for the mix. */
static void check_realised(const struct faii_config *c, const struct faii_route_dp_table *t,
                           unsigned f, const struct realised *r, const double *mix,
                           const char *what)
{
	const struct faii_tier_policy *tp = &c->policy.tier[faii_category_tier(t->category) - 1];
	const struct faii_route_dp_family *fm = &t->family[f];
	/* Sets larger than the family are refused (no_feasible_node). */
	double w1 = mix[0], w3 = fm->count >= 3 ? mix[1] : 0, w7 = fm->count >= 7 ? mix[2] : 0;
	if (w3 == mix[1] && w7 == mix[2])
		cr_assert_eq(r->refused, 0, "%s family %u: %lu of %lu refused", what, f,
		             (unsigned long)r->refused, (unsigned long)r->tasks);
	if (r->total < 1000)
		return;
	double op[FAII_CFG_OPERATORS_MAX] = {0}, edge = 0, weight = w1 + 3 * w3 + 7 * w7;
	bool serves[FAII_CFG_OPERATORS_MAX] = {false};
	unsigned serving = 0;
	for (unsigned k = 0; k < t->count; k++) {
		double got = (double)r->copies[k] / (double)r->total;
		double want =
		        (w1 * fm->share[k] + w3 * fm->incl[0][k] + w7 * fm->incl[1][k]) / weight;
		cr_assert_leq(fabs(got - want), five_sigma(want, (double)r->total),
		              "%s family %u: candidate %u gets %.5f of the copies, published %.5f",
		              what, f, k, got, want);
		op[t->cand[k].operator_idx] += got;
		edge += is_edge_class(t->cand[k].node_class) ? got : 0;
		if (r->copies[k] > 0 && !serves[t->cand[k].operator_idx]) {
			serves[t->cand[k].operator_idx] = true;
			serving++;
		}
	}
	unsigned relaxed_sets = (mix[1] > 0 ? FAII_ROUTE_F_SET3_CAPS_RELAXED : 0) |
	                        (mix[2] > 0 ? FAII_ROUTE_F_SET7_CAPS_RELAXED : 0);
	if (!(fm->flags & (FAII_ROUTE_F_CAPS_RELAXED | relaxed_sets))) {
		for (unsigned o = 0; o < FAII_CFG_OPERATORS_MAX; o++)
			cr_assert_leq(
			        op[o],
			        tp->operator_cap + five_sigma(tp->operator_cap, (double)r->tasks),
			        "%s family %u: operator %u took %.4f of the copies (beta %.2f)",
			        what, f, o, op[o], tp->operator_cap);
	}
	if (tp->edge_reserve > 0 && !(fm->flags & FAII_ROUTE_F_EDGE_SHORT))
		cr_assert_geq(edge,
		              tp->edge_reserve - five_sigma(tp->edge_reserve, (double)r->tasks),
		              "%s family %u: micro+S took %.4f (alpha %.2f)", what, f, edge,
		              tp->edge_reserve);
	if (!(fm->flags & FAII_ROUTE_F_FEW_OPERATORS))
		cr_assert_geq(serving, tp->operators_min, "%s family %u: %u operators served", what,
		              f, serving);
}

/* Every mix over the keys: the inclusion probabilities, then 1 M tasks each. */
static void realised_caps(const struct faii_config *c, const struct faii_route_node_state *st,
                          const struct faii_route_key *keys, unsigned nkeys)
{
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	struct faii_route_dp_table *tabs = aligned_alloc(64, nkeys * sizeof(*tabs));
	struct realised(*out)[FAII_ROUTE_FAMILIES] = calloc(nkeys, sizeof(*out));
	cr_assert(tabs != NULL && out != NULL);
	compile_keys(c, st, &fl, keys, nkeys, tabs);
	char what[96];
	for (unsigned k = 0; k < nkeys; k++) {
		snprintf(what, sizeof(what), "key (region %u, category %u, class %u)",
		         keys[k].region, keys[k].category, keys[k].residency_class);
		check_inclusion(c, &tabs[k], what);
	}
	for (unsigned m = 0; m < REALISED_MIXES; m++) {
		simulate(c, tabs, nkeys, mixes[m], REALISED_TASKS, 0xCAFE0000u + m, out);
		for (unsigned k = 0; k < nkeys; k++) {
			snprintf(what, sizeof(what),
			         "mix %u, key (region %u, category %u, class %u)", m,
			         keys[k].region, keys[k].category, keys[k].residency_class);
			for (unsigned f = 0; f < FAII_ROUTE_FAMILIES; f++)
				check_realised(c, &tabs[k], f, &out[k][f], mixes[m], what);
		}
	}
	free(out);
	free(tabs);
}

/*
 * Five operators per family, op-a the cheapest: replica members chosen by
 * diversity alone gave op-a 2 copies of every strong set (28.6 % against
 * beta 0.25); IPv6 nodes of some operators only, so the families' caps
 * must hold separately.
 */
Test(realised, caps_hold_for_replicas_and_families, .timeout = 600)
{
	struct nspec n[18] = {/* IPv4: five operators of two nodes. */
	                      ns("XL", "op-a", "CH"), ns("L", "op-a", "CH"), ns("L", "op-b", "CH"),
	                      ns("M", "op-b", "CH"), ns("M", "op-c", "CH"), ns("M", "op-c", "CH"),
	                      ns("S", "op-d", "CH"), ns("micro", "op-d", "CH"),
	                      ns("micro", "op-e", "CH"), ns("S", "op-e", "CH"),
	                      /* IPv6: eight nodes of five operators, op-c among them. */
	                      ns("M", "op-c", "CH"), ns("L", "op-f", "CH"), ns("M", "op-f", "CH"),
	                      ns("S", "op-g", "CH"), ns("micro", "op-g", "CH"),
	                      ns("M", "op-h", "CH"), ns("L", "op-h", "CH"),
	                      ns("micro", "op-i", "CH")};
	n[0].price = n[1].price = n[11].price = n[12].price = 0.85;
	for (unsigned i = 10; i < 18; i++)
		n[i].v6 = true;
	struct faii_config *c = load_doc(NULL, n, 18);
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_key keys[FAII_CATEGORY_COUNT];
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++)
		keys[cat - 1] = mkkey(REG_ZURICH, cat, RC_ANY, 10);
	realised_caps(c, st, keys, FAII_CATEGORY_COUNT);
	free(st);
	faii_config_free(c);
}

/* The demonstration fleet (24 IPv6 nodes): every key of Zurich. */
Test(realised, demo_keys_of_zurich, .timeout = 600)
{
	struct faii_route_node_state *st;
	struct faii_route_fleet fl;
	struct faii_config *c = demo_with_state(&st, &fl);
	static struct faii_route_key keys[FAII_CATEGORY_COUNT * FAII_RESIDENCY_CLASS_MAX];
	unsigned n = 0;
	for (uint8_t cat = 1; cat <= FAII_CATEGORY_COUNT; cat++)
		for (uint32_t k = 0; k < c->residency_class_count; k++)
			keys[n++] = mkkey(1, cat, (uint8_t)c->residency_classes[k].id, 10);
	realised_caps(c, st, keys, n);
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Boundaries: exactly the latency budget, exactly the corridor bounds.     */

/*
 * The per-packet check at exactly the budget: a task whose budget equals
 * the candidates' estimated round trip is served, by one copy and by sets
 * of 3 and 7; one microsecond less and nothing is. One node 2 ms further:
 * reached at exactly its round trip, never one microsecond under.
 */
Test(boundary, task_budget_exactly_the_round_trip)
{
	static const char *const ops[5] = {"op-a", "op-b", "op-c", "op-d", "op-e"};
	struct nspec n[10];
	for (unsigned i = 0; i < 10; i++)
		n[i] = ns("M", ops[i % 5], "CH");
	struct faii_config *c = load_doc(NULL, n, 10);
	struct faii_route_node_state *st = state_new(c); /* 10 ms from everywhere */
	st[9].latency_us[SLOT_ZURICH] = 12000.0;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_DAG_VALIDATION, RC_ANY, 10);
	static struct faii_route_dp_table tab;
	compile_keys(c, st, &fl, &key, 1, &tab);
	struct faii_node_live *live = calloc(c->node_count, sizeof(*live));
	cr_assert_not_null(live);
	for (uint32_t i = 0; i < c->node_count; i++) {
		atomic_init(&live[i].status, FAII_NODE_ACTIVE);
		atomic_init(&live[i].limit, 1000u);
	}
	uint64_t rng[2] = {1, 2};
	static const unsigned sizes[3] = {1, 3, 7};
	unsigned far_at_budget = 0;
	for (unsigned round = 0; round < 2000; round++) {
		for (unsigned s = 0; s < 3; s++) {
			uint16_t chosen[FAII_REPLICAS_MAX];
			struct task_need at = {.budget_us = 10000, .family = FAII_ADDR_IPV4};
			cr_assert_eq(faii_pick_set(live, &tab, &at, sizes[s], chosen, rng),
			             sizes[s]);
			for (unsigned j = 0; j < sizes[s]; j++)
				cr_assert_eq(tab.cand[chosen[j]].latency_us, 10000u);
			struct task_need under = {.budget_us = 9999, .family = FAII_ADDR_IPV4};
			cr_assert_eq(faii_pick_set(live, &tab, &under, sizes[s], chosen, rng), 0);
			struct task_need far = {.budget_us = 12000, .family = FAII_ADDR_IPV4};
			cr_assert_eq(faii_pick_set(live, &tab, &far, sizes[s], chosen, rng),
			             sizes[s]);
			for (unsigned j = 0; j < sizes[s]; j++)
				far_at_budget += tab.cand[chosen[j]].node == 9;
			struct task_need near = {.budget_us = 11999, .family = FAII_ADDR_IPV4};
			cr_assert_eq(faii_pick_set(live, &tab, &near, sizes[s], chosen, rng),
			             sizes[s]);
			for (unsigned j = 0; j < sizes[s]; j++)
				cr_assert_neq(tab.cand[chosen[j]].node, 9u, "under budget by 1 us");
		}
	}
	cr_expect_gt(far_at_budget, 0u, "the node at exactly its budget was never chosen");
	free(live);
	free(st);
	faii_config_free(c);
}

/*
 * Through the solve, with the fleet's own mean price: nodes priced exactly
 * at p_bar (1 - delta-) and p_bar (1 + delta+) are feasible, one ulp
 * outside is not; binary-exact corridors (0.25) and the default (0.2).
 */
static void corridor_case(const char *policy, double below, double above)
{
	/* 16 nodes: prices lo and hi, one balancing them, the rest 1: p_bar 1. */
	struct nspec n[16];
	for (unsigned i = 0; i < 16; i++)
		n[i] = ns("M", i % 2 ? "op-a" : "op-b", "CH");
	double lo = 1.0 * (1.0 - below), hi = 1.0 * (1.0 + above);
	n[2].price = 3.0 - lo - hi;
	for (int outside = 0; outside <= 1; outside++) {
		n[0].price = outside ? nextafter(lo, 0) : lo;
		n[1].price = outside ? nextafter(hi, 2) : hi;
		struct faii_config *c = load_doc(policy, n, 16);
		cr_assert_eq(c->nodes[0].price, n[0].price, "the price survives the file");
		struct faii_route_node_state *st = state_new(c);
		struct faii_route_fleet fl;
		faii_route_fleet_compute(c, st, &fl);
		/* Inside: the bounds are exactly the prices; outside: one ulp
		 * beyond (p_bar may move by an ulp too: the corridor decides). */
		if (!outside)
			cr_assert(fl.price_mean == 1.0 &&
			                  fl.price_mean * (1.0 - c->policy.corridor_below) == lo &&
			                  fl.price_mean * (1.0 + c->policy.corridor_above) == hi,
			          "p_bar %.17g", fl.price_mean);
		for (unsigned i = 0; i < 2; i++)
			cr_assert_eq(faii_price_in_corridor(&c->policy, c->nodes[i].price,
			                                    fl.price_mean),
			             !outside, "node %u at %.17g, p_bar %.17g", i,
			             c->nodes[i].price, fl.price_mean);
		static struct faii_route_table t;
		static struct faii_route_explain ex;
		struct faii_route_key key = mkkey(REG_ZURICH, FAII_CAT_STORAGE_SHARD, RC_ANY, 10);
		solve(c, st, &fl, &key, &t, &ex);
		check_table(c, st, &fl, &key, &t, &ex);
		for (unsigned i = 0; i < 2; i++)
			cr_expect_eq(ex.exclusion[i],
			             outside ? FAII_ROUTE_EX_PRICE_CORRIDOR : FAII_ROUTE_EX_NONE,
			             "node %u at %.17g (corridor %g, %g): %s", i, c->nodes[i].price,
			             below, above, faii_route_exclusion_name(ex.exclusion[i]));
		free(st);
		faii_config_free(c);
	}
}

Test(boundary, price_exactly_at_the_corridor_bounds)
{
	corridor_case("policy:\n  price_corridor: {below: 0.25, above: 0.25}\n", 0.25, 0.25);
	corridor_case(NULL, 0.2, 0.2);
	corridor_case("policy:\n  price_corridor: {below: 0.5, above: 0}\n", 0.5, 0.0);
}

/* No node of a CH-only table is outside Switzerland. */
static void expect_swiss(const struct faii_config *c, const struct faii_route_table *t)
{
	for (unsigned m = 0; m < t->count; m++) {
		const struct faii_cfg_node *n = &c->nodes[t->node[m]];
		const char *country = c->jurisdictions[n->jurisdiction].country;
		cr_assert_str_eq(country, "CH", "CH-only key (region %u, category %u) routes to %s",
		                 t->region, t->category, n->name);
	}
}

Test(demo, every_key)
{
	struct faii_config *c = load_demo();
	struct faii_route_node_state *st = state_new(c);
	uint64_t rng = 0xDE30;
	for (uint32_t i = 0; i < c->node_count; i++) {
		st[i].status = c->nodes[i].status;
		for (unsigned t = 0; t < FAII_TIER_COUNT; t++)
			st[i].slo_success[t] = 0.9 + 0.1 * urand(&rng);
		for (uint32_t r = 0; r < c->region_count; r++)
			st[i].latency_us[r] =
			        faii_route_latency_prior_us(&c->regions[r], &c->nodes[i]);
	}
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	int ch_only = -1;
	for (uint32_t k = 0; k < c->residency_class_count; k++) {
		if (strcmp(c->residency_classes[k].name, "CH-only") == 0)
			ch_only = c->residency_classes[k].id;
	}
	cr_assert_geq(ch_only, 1);

	enum { KEYS_MAX = 1024 };
	static struct faii_route_key keys[KEYS_MAX];
	static struct faii_route_table tables[KEYS_MAX], t;
	static struct faii_route_explain ex;
	static const double rates[] = {1, 100};
	for (unsigned ri = 0; ri < 2; ri++) {
		unsigned n = all_keys(c, rates[ri], keys, KEYS_MAX), empty = 0, ch_keys = 0;
		cr_assert_eq(n, c->region_count * FAII_CATEGORY_COUNT * c->residency_class_count);
		double t0 = now_s();
		for (unsigned k = 0; k < n; k++)
			solve(c, st, &fl, &keys[k], &tables[k], NULL);
		double elapsed = now_s() - t0;
		cr_assert_lt(elapsed, 1.0, "%u keys in %.3f s", n, elapsed);
		cr_log_info("demo: %u keys in %.1f ms (lambda %g)", n, elapsed * 1e3, rates[ri]);

		/* Again with explain, checking each key completely. */
		for (unsigned k = 0; k < n; k++) {
			solve(c, st, &fl, &keys[k], &t, &ex);
			cr_assert_eq(memcmp(&t, &tables[k], sizeof(t)), 0,
			             "explain changes the table");
			check_table(c, st, &fl, &keys[k], &t, &ex);
			cr_assert_leq(t.count, CMAX);
			empty += t.count == 0;
			if (keys[k].residency_class == ch_only) {
				expect_swiss(c, &t);
				ch_keys++;
			}
			/* beta = 1/4 <= 1/d: the dispersion mix cannot fire, the optimum is exact.
			 */
			if (t.count > 0 && !(t.flags & FAII_ROUTE_F_EDGE_SHORT))
				assert_optimal(c, &keys[k], &t, "demo key");
		}
		cr_assert_gt(ch_keys, 0);
		cr_assert_lt(empty, n / 4, "%u of %u keys empty", empty, n);
	}
	free(st);
	faii_config_free(c);
}

/* Solving is a pure function of its inputs. */
Test(demo, deterministic)
{
	struct faii_config *c = load_demo();
	struct faii_route_node_state *st = state_new(c);
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	static struct faii_route_table a, b;
	static struct faii_route_explain ea, eb;
	struct faii_route_key key = mkkey(6, FAII_CAT_STORAGE_SHARD, 1, 30);
	solve(c, st, &fl, &key, &a, &ea);
	struct faii_route_key other = mkkey(1, FAII_CAT_LEDGER_WORK, 2, 3);
	solve(c, st, &fl, &other, &b, &eb);
	solve(c, st, &fl, &key, &b, &eb);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
	cr_assert_eq(memcmp(ea.exclusion, eb.exclusion, c->node_count), 0);
	free(st);
	faii_config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Robustness: any finite input, not only what the configuration allows.   */

/* Shares a distribution within the operator cap (relaxed as the solver does). */
static void expect_distribution(const struct faii_config *c, const struct faii_route_table *t,
                                const char *what)
{
	static double tot[FAII_CFG_OPERATORS_MAX];
	static bool seen[FAII_CFG_OPERATORS_MAX];
	double sum = 0, beta = c->policy.tier[faii_category_tier(t->category) - 1].operator_cap;
	unsigned ops = 0;
	memset(tot, 0, sizeof(tot));
	memset(seen, 0, sizeof(seen));
	for (unsigned k = 0; k < t->count; k++) {
		uint16_t op = c->nodes[t->node[k]].operator_idx;
		cr_assert(isfinite(t->share[k]) && t->share[k] >= 0, "%s: share %g", what,
		          t->share[k]);
		cr_assert(isfinite(t->value[k]), "%s: value %g", what, t->value[k]);
		ops += !seen[op];
		seen[op] = true;
		tot[op] += t->share[k];
		sum += t->share[k];
	}
	if (t->count == 0)
		return;
	if (ops * beta < 1.0)
		beta = 1.0 / ops;
	cr_assert_float_eq(sum, 1.0, 1e-5, "%s: shares sum to %.9f", what, sum);
	for (uint32_t o = 0; o < c->operator_count; o++)
		cr_assert_leq(tot[o], beta + 1e-5, "%s: operator %u holds %g, cap %g", what, o,
		              tot[o], beta);
}

static void solve_every_key(const struct faii_config *c, const struct faii_route_node_state *st,
                            double rate, const char *what)
{
	enum { KEYS_MAX = 256 };
	static struct faii_route_key keys[KEYS_MAX];
	static struct faii_route_table t;
	struct faii_route_fleet fl;
	faii_route_fleet_compute(c, st, &fl);
	unsigned n = all_keys(c, rate, keys, KEYS_MAX);
	for (unsigned k = 0; k < n; k++) {
		solve(c, st, &fl, &keys[k], &t, NULL);
		expect_distribution(c, &t, what);
	}
}

/* energy_to_work 1e308 (node.add took it) wrote out of bounds in the
 * dispersion step: the fleet mean overflowed, the values became NaN and no
 * operator had a best node. 1e300 passed. */
Test(robustness, energy_to_work_1e308)
{
	struct nspec nodes[8];
	static const char *const ops[] = {"op-a", "op-b", "op-c", "op-d"};
	for (unsigned i = 0; i < 8; i++)
		nodes[i] = ns(i % 2 ? "M" : "S", ops[i % 4], "CH");
	struct faii_config *c = load_doc(NULL, nodes, 8);
	struct faii_route_node_state *st = state_new(c);
	c->nodes[3].esg.energy_to_work = 1e308; /* past the schema, as node.add allowed */
	c->nodes[5].esg.energy_to_work = 1e308;
	solve_every_key(c, st, 1.0, "energy_to_work 1e308");
	free(st);
	faii_config_free(c);
}

/* Every numeric input at the ends of the finite doubles. */
Test(robustness, extreme_finite_values)
{
	static const double extremes[] = {DBL_MAX, 1e308,  1e300,   1e30,    1.0,
	                                  1e-30,   1e-300, DBL_MIN, 4.9e-324};
	enum { N = 12, E = sizeof(extremes) / sizeof(extremes[0]) };
	static const char *const ops[] = {"op-a", "op-b", "op-c", "op-d", "op-e"};
	static const char *const cls[] = {"micro", "S", "M", "L", "XL"};
	struct nspec nodes[N];
	for (unsigned i = 0; i < N; i++)
		nodes[i] = ns(cls[i % 5], ops[i % 5], i % 3 ? "CH" : "DE");
	struct faii_config *c = load_doc(NULL, nodes, N);
	struct faii_route_node_state *st = state_new(c);
	uint64_t rng = 0xE47;
	for (unsigned round = 0; round < 200; round++) {
		for (unsigned i = 0; i < N; i++) {
			struct faii_cfg_node *n = &c->nodes[i];
			n->price = extremes[urange(&rng, E)];
			n->capacity_tasks_per_s = extremes[urange(&rng, E)];
			n->service_rate_tasks_per_s = extremes[urange(&rng, E)];
			n->esg.pue = extremes[urange(&rng, E)];
			n->esg.energy_to_work = extremes[urange(&rng, E)];
			st[i].slo_success[0] = urand(&rng);
		}
		c->policy.concentration_eta = urand(&rng) < 0.5 ? 0.0 : 0.999;
		c->policy.esg_multiplier_max = urand(&rng) < 0.5 ? 1.0 : DBL_MAX;
		c->policy.corridor_below = 1.0;
		c->policy.corridor_above = urand(&rng) < 0.5 ? 1.0 : 1e300;
		solve_every_key(c, st, extremes[urange(&rng, E)], "extreme values");
	}
	free(st);
	faii_config_free(c);
}
