/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-equilibrium's scenario: the JSON schema of docs/equilibrium.md
 * ("Scenario"), read with jansson, every field checked against its range
 * and refused by name; unknown fields are refused too (a typo must not
 * silently fall back to a default). The built-in scenario is JSON text read
 * by the same parser.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "faii/assert.h"
#include "faii_equilibrium_model.h"

#define PATH_BYTES 96u

/*
 * The built-in scenario. Schedule parameters are the papers' (SPEC.md
 * section 2a, FAII Table 1); the classes' costs and the investors are
 * illustrative (the papers give none): docs/equilibrium.md says where each
 * number comes from.
 */
const char eq_default_scenario_json[] =
        "{\n"
        "  \"name\": \"FAII five classes, illustrative costs\",\n"
        "  \"seed\": 1,\n"
        "  \"iterations\": 400,\n"
        "  \"revision_share\": 0.1,\n"
        "  \"initial\": \"random\",\n"
        "  \"tolerance\": 0.000001,\n"
        "  \"market\": {\n"
        "    \"demand\": [40000, 30000, 20000, 10000],\n"
        "    \"edge_reserve\": [0, 0, 0, 0],\n"
        "    \"congestion\": 0.05,\n"
        "    \"energy_price\": 0.3,\n"
        "    \"penalty_price\": 0.5,\n"
        "    \"amortisation\": 0.05,\n"
        "    \"outside_return\": 0\n"
        "  },\n"
        "  \"classes\": [\n"
        "    {\"name\": \"micro\", \"capacity\": 100, \"capex\": 1000, \"idle_kwh\": 15,\n"
        "     \"kwh_per_unit\": 0.30, \"pue\": 1.05, \"opex\": 10, \"availability\": 0.990,\n"
        "     \"success\": [0.995, 0.98, 0.93, 0], \"eligible\": [true, true, true, false],\n"
        "     \"revenue_cv\": 0.10, \"edge\": true},\n"
        "    {\"name\": \"S\", \"capacity\": 200, \"capex\": 1800, \"idle_kwh\": 25,\n"
        "     \"kwh_per_unit\": 0.28, \"pue\": 1.15, \"opex\": 15, \"availability\": 0.990,\n"
        "     \"success\": [0.99, 0.985, 0.95, 0.90], \"eligible\": [true, true, true, true],\n"
        "     \"revenue_cv\": 0.12, \"edge\": true},\n"
        "    {\"name\": \"M\", \"capacity\": 500, \"capex\": 4000, \"idle_kwh\": 60,\n"
        "     \"kwh_per_unit\": 0.25, \"pue\": 1.50, \"opex\": 30, \"availability\": 0.995,\n"
        "     \"success\": [0.98, 0.99, 0.98, 0.96], \"eligible\": [true, true, true, true],\n"
        "     \"revenue_cv\": 0.15},\n"
        "    {\"name\": \"L\", \"capacity\": 1000, \"capex\": 7000, \"idle_kwh\": 110,\n"
        "     \"kwh_per_unit\": 0.22, \"pue\": 1.35, \"opex\": 45, \"availability\": 0.999,\n"
        "     \"success\": [0.96, 0.995, 0.99, 0.985], \"eligible\": [true, true, true, true],\n"
        "     \"revenue_cv\": 0.20},\n"
        "    {\"name\": \"XL\", \"capacity\": 2000, \"capex\": 12500, \"idle_kwh\": 200,\n"
        "     \"kwh_per_unit\": 0.20, \"pue\": 1.25, \"opex\": 70, \"availability\": 0.999,\n"
        "     \"success\": [0.95, 0.995, 0.995, 0.995], \"eligible\": [true, true, true, true],\n"
        "     \"revenue_cv\": 0.25}\n"
        "  ],\n"
        "  \"investors\": [\n"
        "    {\"name\": \"renewable\", \"count\": 80, \"budget\": 50000, \"rho\": 0.00002,\n"
        "     \"energy_price_factor\": 0.6, \"renewable_share\": 0.9},\n"
        "    {\"name\": \"standard\", \"count\": 200, \"budget\": 15000, \"rho\": 0.0001,\n"
        "     \"energy_price_factor\": 1.0, \"renewable_share\": 0.3},\n"
        "    {\"name\": \"cautious\", \"count\": 300, \"budget\": 5000, \"rho\": 0.0005,\n"
        "     \"energy_price_factor\": 1.1, \"renewable_share\": 0.5}\n"
        "  ],\n"
        "  \"schedules\": [\n"
        "    {\"name\": \"flat\", \"work_rate\": 1},\n"
        "    {\"name\": \"performance\", \"work_rate\": 1,\n"
        "     \"tier_factors\": [1, 2, 3, 4], \"congestion_sensitivity\": [0.5, 0.5, 0.5, 0.5],\n"
        "     \"slo\": {\"target\": [0.990, 0.995, 0.995, 0.995], \"alpha\": [1, 1, 1, 1],\n"
        "             \"max\": [1.2, 1.2, 1.2, 1.2]},\n"
        "     \"esg\": {\"xi\": 0.5, \"baseline\": 0.3, \"max\": 1.25}},\n"
        "    {\"name\": \"hybrid\", \"availability_rate\": 0.1, \"work_rate\": 1,\n"
        "     \"tier_factors\": [1, 2, 3, 4], \"congestion_sensitivity\": [0.5, 0.5, 0.5, 0.5],\n"
        "     \"slo\": {\"target\": [0.990, 0.995, 0.995, 0.995], \"alpha\": [1, 1, 1, 1],\n"
        "             \"max\": [1.2, 1.2, 1.2, 1.2]},\n"
        "     \"esg\": {\"xi\": 0.5, \"baseline\": 0.3, \"max\": 1.25},\n"
        "     \"diversity\": {\"eta\": 0.5, \"class_share_max\": 0.4, \"routing_cap\": true}}\n"
        "  ]\n"
        "}\n";

struct range {
	double lo, hi;
	bool lo_open; /* lo itself refused */
	bool integer;
};

static int bad(char error[EQ_ERROR_BYTES], const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bad(char error[EQ_ERROR_BYTES], const char *path, const char *fmt, ...)
{
	int n = snprintf(error, EQ_ERROR_BYTES, "%s: ", path);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < EQ_ERROR_BYTES)
		vsnprintf(error + n, EQ_ERROR_BYTES - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* path.key; field paths are short by construction, a long one is cut. */
static void join(char out[PATH_BYTES], const char *path, const char *key)
{
	int n = snprintf(out, PATH_BYTES, "%s%s%s", path, path[0] ? "." : "", key);
	FAII_ASSERT(n > 0);
}

static int known_keys(json_t *obj, const char *path, const char *const *known,
                      char error[EQ_ERROR_BYTES])
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value)
	{
		bool found = false;
		for (const char *const *k = known; *k != NULL && !found; k++)
			found = strcmp(*k, key) == 0;
		if (!found) {
			char at[PATH_BYTES];
			join(at, path, key);
			return bad(error, at, "unknown field");
		}
	}
	return 0;
}

static int check_number(json_t *v, const char *at, const struct range *r, double *out,
                        char error[EQ_ERROR_BYTES])
{
	if (!json_is_number(v))
		return bad(error, at, "must be a number");
	double x = json_number_value(v);
	bool ok = isfinite(x) && x <= r->hi && (r->lo_open ? x > r->lo : x >= r->lo);
	if (ok && r->integer)
		ok = json_is_integer(v);
	if (!ok)
		return bad(error, at, "must be %s in %c%g, %g]",
		           r->integer ? "an integer" : "a number", r->lo_open ? '(' : '[', r->lo,
		           r->hi);
	*out = x;
	return 0;
}

/* obj.key and its path in `at`: 1 present, 0 absent, -1 absent but required. */
static int lookup(json_t *obj, const char *path, const char *key, bool required,
                  char at[PATH_BYTES], json_t **v, char error[EQ_ERROR_BYTES])
{
	join(at, path, key);
	*v = json_object_get(obj, key);
	if (*v != NULL)
		return 1;
	return required ? bad(error, at, "missing") : 0;
}

/* obj.key as a number in range; absent: def, or an error when required. */
static int number(json_t *obj, const char *path, const char *key, const struct range *r,
                  bool required, double def, double *out, char error[EQ_ERROR_BYTES])
{
	char at[PATH_BYTES];
	json_t *v;
	*out = def;
	int rc = lookup(obj, path, key, required, at, &v, error);
	return rc <= 0 ? rc : check_number(v, at, r, out, error);
}

/* obj.key as an array of `count` numbers in range; absent: all def. */
static int numbers(json_t *obj, const char *path, const char *key, uint32_t count,
                   const struct range *r, bool required, double def, double *out,
                   char error[EQ_ERROR_BYTES])
{
	char at[PATH_BYTES];
	json_t *v;
	for (uint32_t i = 0; i < count; i++)
		out[i] = def;
	int rc = lookup(obj, path, key, required, at, &v, error);
	if (rc <= 0)
		return rc;
	if (!json_is_array(v) || json_array_size(v) != count)
		return bad(error, at, "must be an array of %u numbers", count);
	for (uint32_t i = 0; i < count; i++) {
		char item[PATH_BYTES];
		int n = snprintf(item, sizeof(item), "%s[%u]", at, i);
		FAII_ASSERT(n > 0);
		if (check_number(json_array_get(v, i), item, r, &out[i], error) != 0)
			return -1;
	}
	return 0;
}

static int flag(json_t *obj, const char *path, const char *key, bool def, bool *out,
                char error[EQ_ERROR_BYTES])
{
	char at[PATH_BYTES];
	json_t *v;
	*out = def;
	if (lookup(obj, path, key, false, at, &v, error) == 0)
		return 0;
	if (!json_is_boolean(v))
		return bad(error, at, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int name(json_t *obj, const char *path, char out[EQ_NAME_BYTES], char error[EQ_ERROR_BYTES])
{
	char at[PATH_BYTES];
	join(at, path, "name");
	json_t *v = json_object_get(obj, "name");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= EQ_NAME_BYTES)
		return bad(error, at, "must be a string of 1 to %u characters", EQ_NAME_BYTES - 1);
	snprintf(out, EQ_NAME_BYTES, "%s", json_string_value(v));
	return 0;
}

/* obj.key as an array of 1..max objects; *array_out and its size. */
static int objects(json_t *obj, const char *key, size_t max, json_t **array_out,
                   char error[EQ_ERROR_BYTES])
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max)
		return bad(error, key, "must be an array of 1 to %zu objects", max);
	for (size_t i = 0; i < json_array_size(v); i++)
		if (!json_is_object(json_array_get(v, i))) {
			char at[PATH_BYTES];
			snprintf(at, sizeof(at), "%s[%zu]", key, i);
			return bad(error, at, "must be an object");
		}
	*array_out = v;
	return 0;
}

static const struct range ANY_NONNEG = {0, 1e12, false, false};
static const struct range POSITIVE = {0, 1e12, true, false};
static const struct range UNIT = {0, 1, false, false};

static int parse_class(json_t *o, const char *path, uint32_t k, struct eq_scenario *sc,
                       char error[EQ_ERROR_BYTES])
{
	struct eq_class *c = &sc->classes[k];
	static const char *const known[] = {
	        "name",         "capacity", "capex",    "idle_kwh",   "kwh_per_unit", "pue", "opex",
	        "availability", "success",  "eligible", "revenue_cv", "edge",         NULL};
	const struct range capacity = {0, 1e6, true, false}, pue = {1, 10, false, false},
	                   cv = {0, 10, false, false};
	if (known_keys(o, path, known, error) != 0 || name(o, path, c->name, error) != 0 ||
	    number(o, path, "capacity", &capacity, true, 0, &c->capacity, error) != 0 ||
	    number(o, path, "capex", &POSITIVE, true, 0, &c->capex, error) != 0 ||
	    number(o, path, "idle_kwh", &ANY_NONNEG, false, 0, &c->idle_kwh, error) != 0 ||
	    number(o, path, "kwh_per_unit", &ANY_NONNEG, false, 0, &c->kwh_per_unit, error) != 0 ||
	    number(o, path, "pue", &pue, false, 1, &c->pue, error) != 0 ||
	    number(o, path, "opex", &ANY_NONNEG, false, 0, &c->opex, error) != 0 ||
	    number(o, path, "availability", &UNIT, false, 1, &c->availability, error) != 0 ||
	    numbers(o, path, "success", EQ_TIERS, &UNIT, true, 0, c->success, error) != 0 ||
	    number(o, path, "revenue_cv", &cv, false, 0, &c->revenue_cv, error) != 0 ||
	    flag(o, path, "edge", false, &c->edge, error) != 0)
		return -1;
	char at[PATH_BYTES];
	join(at, path, "eligible");
	json_t *e = json_object_get(o, "eligible");
	bool any = e == NULL;
	for (uint32_t t = 0; t < EQ_TIERS; t++)
		c->eligible[t] = true;
	if (e != NULL && (!json_is_array(e) || json_array_size(e) != EQ_TIERS))
		return bad(error, at, "must be an array of %u booleans", EQ_TIERS);
	for (uint32_t t = 0; e != NULL && t < EQ_TIERS; t++) {
		json_t *b = json_array_get(e, t);
		if (!json_is_boolean(b))
			return bad(error, at, "must be an array of %u booleans", EQ_TIERS);
		c->eligible[t] = json_is_true(b);
		any = any || c->eligible[t];
	}
	if (!any)
		return bad(error, at, "a class must be eligible for at least one tier");
	return 0;
}

static int parse_group(json_t *o, const char *path, uint32_t k, struct eq_scenario *sc,
                       char error[EQ_ERROR_BYTES])
{
	struct eq_group *g = &sc->groups[k];
	static const char *const known[] = {
	        "name", "count", "budget", "rho", "energy_price_factor", "renewable_share", NULL};
	const struct range count = {1, EQ_INVESTORS_MAX, false, true},
	                   factor = {0, 100, false, false};
	double n = 0;
	if (known_keys(o, path, known, error) != 0 || name(o, path, g->name, error) != 0 ||
	    number(o, path, "count", &count, true, 0, &n, error) != 0 ||
	    number(o, path, "budget", &POSITIVE, true, 0, &g->budget, error) != 0 ||
	    number(o, path, "rho", &ANY_NONNEG, false, 0, &g->rho, error) != 0 ||
	    number(o, path, "energy_price_factor", &factor, false, 1, &g->energy_price_factor,
	           error) != 0 ||
	    number(o, path, "renewable_share", &UNIT, false, 0, &g->renewable_share, error) != 0)
		return -1;
	g->count = (uint32_t)n;
	return 0;
}

static int parse_slo(json_t *o, const char *path, struct eq_schedule *s, char error[EQ_ERROR_BYTES])
{
	static const char *const known[] = {"target", "alpha", "max", NULL};
	const struct range target = {0, 1, true, false},
	                   alpha = {1, FAII_SETTLE_ALPHA_MAX, false, true},
	                   max = {0, 100, false, false};
	double a[EQ_TIERS];
	if (!json_is_object(o))
		return bad(error, path, "must be an object");
	if (known_keys(o, path, known, error) != 0 ||
	    numbers(o, path, "target", EQ_TIERS, &target, true, 0, s->slo_target, error) != 0 ||
	    numbers(o, path, "alpha", EQ_TIERS, &alpha, false, 1, a, error) != 0 ||
	    numbers(o, path, "max", EQ_TIERS, &max, true, 0, s->slo_max, error) != 0)
		return -1;
	for (uint32_t t = 0; t < EQ_TIERS; t++)
		s->slo_alpha[t] = (uint32_t)a[t];
	s->slo = true;
	return 0;
}

static int parse_multipliers(json_t *o, const char *path, struct eq_schedule *s,
                             char error[EQ_ERROR_BYTES])
{
	static const char *const esg_known[] = {"xi", "baseline", "max", NULL};
	static const char *const div_known[] = {"eta", "class_share_max", "routing_cap", NULL};
	const struct range below_one = {0, 0.999999999, false, false},
	                   esg_max = {1, 100, false, false},
	                   share_max = {0, 0.999999999, true, false};
	char at[PATH_BYTES];
	json_t *esg = json_object_get(o, "esg"), *div = json_object_get(o, "diversity");
	s->esg_max = 1;
	join(at, path, "esg");
	if (esg != NULL && !json_is_object(esg))
		return bad(error, at, "must be an object");
	if (esg != NULL &&
	    (known_keys(esg, at, esg_known, error) != 0 ||
	     number(esg, at, "xi", &below_one, true, 0, &s->esg_xi, error) != 0 ||
	     number(esg, at, "baseline", &UNIT, true, 0, &s->esg_baseline, error) != 0 ||
	     number(esg, at, "max", &esg_max, true, 1, &s->esg_max, error) != 0))
		return -1;
	join(at, path, "diversity");
	if (div != NULL && !json_is_object(div))
		return bad(error, at, "must be an object");
	if (div != NULL &&
	    (known_keys(div, at, div_known, error) != 0 ||
	     number(div, at, "eta", &below_one, true, 0, &s->diversity_eta, error) != 0 ||
	     number(div, at, "class_share_max", &share_max, true, 0, &s->class_share_max, error) !=
	             0 ||
	     flag(div, at, "routing_cap", false, &s->routing_cap, error) != 0))
		return -1;
	return 0;
}

static int parse_schedule(json_t *o, const char *path, uint32_t k, struct eq_scenario *sc,
                          char error[EQ_ERROR_BYTES])
{
	struct eq_schedule *s = &sc->schedules[k];
	static const char *const known[] = {"name",
	                                    "availability_rate",
	                                    "work_rate",
	                                    "tier_factors",
	                                    "congestion_sensitivity",
	                                    "slo",
	                                    "esg",
	                                    "diversity",
	                                    "payout_cap",
	                                    NULL};
	const struct range theta = {0, 1000, true, false}, gamma = {0, 100, false, false},
	                   rate = {0, 1e6, false, false},
	                   cap = {0, 1e9, false, false}; /* tokens: 10^18 units at most */
	memset(s, 0, sizeof(*s));
	if (known_keys(o, path, known, error) != 0 || name(o, path, s->name, error) != 0 ||
	    number(o, path, "availability_rate", &rate, false, 0, &s->availability_rate, error) !=
	            0 ||
	    number(o, path, "work_rate", &rate, true, 0, &s->work_rate, error) != 0 ||
	    numbers(o, path, "tier_factors", EQ_TIERS, &theta, false, 1, s->theta0, error) != 0 ||
	    numbers(o, path, "congestion_sensitivity", EQ_TIERS, &gamma, false, 0, s->gamma,
	            error) != 0 ||
	    numbers(o, path, "payout_cap", sc->class_count, &cap, false, 0, s->payout_cap, error) !=
	            0 ||
	    parse_multipliers(o, path, s, error) != 0)
		return -1;
	json_t *slo = json_object_get(o, "slo");
	char at[PATH_BYTES];
	join(at, path, "slo");
	if (slo != NULL && parse_slo(slo, at, s, error) != 0)
		return -1;
	const char *field = "?";
	if (eq_schedule_check(s, &field) != 0)
		return bad(error, path, "settlement refuses its %s", field);
	return 0;
}

static int parse_market(json_t *root, struct eq_scenario *sc, char error[EQ_ERROR_BYTES])
{
	static const char *const known[] = {
	        "demand",        "edge_reserve", "congestion",     "energy_price",
	        "penalty_price", "amortisation", "outside_return", NULL};
	json_t *m = json_object_get(root, "market");
	if (!json_is_object(m))
		return bad(error, "market", "must be an object");
	if (known_keys(m, "market", known, error) != 0 ||
	    numbers(m, "market", "demand", EQ_TIERS, &ANY_NONNEG, true, 0, sc->demand, error) !=
	            0 ||
	    numbers(m, "market", "edge_reserve", EQ_TIERS, &UNIT, false, 0, sc->edge_reserve,
	            error) != 0 ||
	    number(m, "market", "congestion", &UNIT, false, 0, &sc->congestion, error) != 0 ||
	    number(m, "market", "energy_price", &ANY_NONNEG, true, 0, &sc->energy_price, error) !=
	            0 ||
	    number(m, "market", "penalty_price", &ANY_NONNEG, false, 0, &sc->penalty_price,
	           error) != 0 ||
	    number(m, "market", "amortisation", &UNIT, true, 0, &sc->amortisation, error) != 0 ||
	    number(m, "market", "outside_return", &UNIT, false, 0, &sc->outside_return, error) != 0)
		return -1;
	if (sc->demand[0] + sc->demand[1] + sc->demand[2] + sc->demand[3] <= 0)
		return bad(error, "market.demand", "some tier must have demand");
	return 0;
}

static int parse_run(json_t *root, struct eq_scenario *sc, char error[EQ_ERROR_BYTES])
{
	const struct range seed = {0, 9007199254740992.0, false, true},
	                   iterations = {1, EQ_ITERATIONS_MAX, false, true},
	                   share = {0, 1, true, false};
	double seed_value = 0, rounds = 0;
	json_t *v = json_object_get(root, "name");
	snprintf(sc->name, sizeof(sc->name), "%s", json_is_string(v) ? json_string_value(v) : "");
	if (v != NULL && !json_is_string(v))
		return bad(error, "name", "must be a string");
	if (number(root, "", "seed", &seed, false, 1, &seed_value, error) != 0 ||
	    number(root, "", "iterations", &iterations, false, 200, &rounds, error) != 0 ||
	    number(root, "", "revision_share", &share, false, 0.1, &sc->revision_share, error) !=
	            0 ||
	    number(root, "", "tolerance", &ANY_NONNEG, false, 1e-6, &sc->tolerance, error) != 0)
		return -1;
	sc->seed = (uint64_t)seed_value;
	sc->iterations = (uint32_t)rounds;
	v = json_object_get(root, "initial");
	sc->start_out = json_is_string(v) && strcmp(json_string_value(v), "out") == 0;
	if (v != NULL && !sc->start_out &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "random") == 0))
		return bad(error, "initial", "must be \"random\" or \"out\"");
	return 0;
}

typedef int (*item_parser)(json_t *o, const char *path, uint32_t k, struct eq_scenario *sc,
                           char error[EQ_ERROR_BYTES]);

/* root.key: an array of 1..max objects, each read by `parse`. */
static int parse_each(json_t *root, const char *key, size_t max, item_parser parse, uint32_t *count,
                      struct eq_scenario *sc, char error[EQ_ERROR_BYTES])
{
	json_t *list = NULL;
	if (objects(root, key, max, &list, error) != 0)
		return -1;
	*count = (uint32_t)json_array_size(list);
	for (uint32_t k = 0; k < *count; k++) {
		char at[PATH_BYTES];
		int n = snprintf(at, sizeof(at), "%s[%u]", key, k);
		FAII_ASSERT(n > 0);
		if (parse(json_array_get(list, k), at, k, sc, error) != 0)
			return -1;
	}
	return 0;
}

static int parse_lists(json_t *root, struct eq_scenario *sc, char error[EQ_ERROR_BYTES])
{
	if (parse_each(root, "classes", EQ_CLASSES_MAX, parse_class, &sc->class_count, sc, error) !=
	            0 ||
	    parse_each(root, "investors", EQ_GROUPS_MAX, parse_group, &sc->group_count, sc,
	               error) != 0)
		return -1;
	if (eq_scenario_investors(sc) > EQ_INVESTORS_MAX)
		return bad(error, "investors", "more than %u investors in all", EQ_INVESTORS_MAX);
	for (uint32_t g = 0; g < sc->group_count; g++)
		for (uint32_t i = 0; i < sc->class_count; i++)
			if (sc->groups[g].budget / sc->classes[i].capex >
			    EQ_NODES_PER_INVESTOR_MAX) {
				char at[PATH_BYTES];
				int n = snprintf(at, sizeof(at), "investors[%u].budget", g);
				FAII_ASSERT(n > 0);
				return bad(error, at, "buys more than %u nodes of %s",
				           EQ_NODES_PER_INVESTOR_MAX, sc->classes[i].name);
			}
	/* Schedules last: a payout cap has one entry per class. */
	return parse_each(root, "schedules", EQ_SCHEDULES_MAX, parse_schedule, &sc->schedule_count,
	                  sc, error);
}

int eq_scenario_parse(const char *text, struct eq_scenario *out, char error[EQ_ERROR_BYTES])
{
	static const char *const known[] = {
	        "name",   "seed",    "iterations", "revision_share", "initial", "tolerance",
	        "market", "classes", "investors",  "schedules",      NULL};
	json_error_t jerr;
	memset(out, 0, sizeof(*out));
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(error, EQ_ERROR_BYTES, "line %d, column %d: %s", jerr.line, jerr.column,
		         jerr.text);
		return -1;
	}
	int rc = -1;
	if (!json_is_object(root))
		bad(error, "(top level)", "must be an object");
	else if (known_keys(root, "", known, error) == 0 && parse_run(root, out, error) == 0 &&
	         parse_market(root, out, error) == 0 && parse_lists(root, out, error) == 0)
		rc = 0;
	json_decref(root);
	return rc;
}
