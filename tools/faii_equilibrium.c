/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faii-equilibrium: best-response dynamics of investors' class choice,
 * FAII (9)-(12) with free entry, under each reward schedule of a scenario
 * (docs/equilibrium.md). Payouts come from settlement's faii_settle_epoch().
 *
 *   faii-equilibrium [--scenario FILE.json] [--json] [--svg DIR]
 *   faii-equilibrium --print-scenario
 *
 * Exit status: 0 ok, 1 a run failed (settlement refused its amounts, an
 * SVG could not be written), 2 usage error or bad scenario.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faii/assert.h"
#include "faii_equilibrium_model.h"
#include "faii_equilibrium_svg.h"

#define SCENARIO_BYTES_MAX (1u << 20) /* a scenario file larger than this is refused */
#define ACTIVE_SHARE_MIN   0.05       /* a class "holds" the fleet from 5 % of its capacity */

static const char *prog = "faii-equilibrium";

static void usage(FILE *f)
{
	fprintf(f,
	        "NAME\n"
	        "    faii-equilibrium - investors' class choice under FAII reward schedules\n"
	        "\n"
	        "SYNOPSIS\n"
	        "    faii-equilibrium [--scenario FILE.json] [--json] [--svg DIR]\n"
	        "    faii-equilibrium --print-scenario\n"
	        "\n"
	        "DESCRIPTION\n"
	        "    Investors choose a node class (micro, S, M, L, XL) or stay out, each\n"
	        "    maximising the mean-variance utility U = E[R] - rho Var(R) of FAII (10),\n"
	        "    R the net return (9) of the nodes their budget buys. Each round a seeded\n"
	        "    share of them re-chooses in a seeded order (best responses); entry goes\n"
	        "    on while it beats the outside option. The run stops at a Nash equilibrium\n"
	        "    (no investor gains by moving) or after the scenario's iterations.\n"
	        "    Payouts per node are settlement's own faii_settle_epoch(): availability\n"
	        "    floor (20), tier factors with congestion (32), m_SLO (29), m_ESG (30),\n"
	        "    m_DIV with the class-share target s_bar (31), caps (33). Every schedule\n"
	        "    of the scenario is run from the same seed.\n"
	        "\n"
	        "OPTIONS\n"
	        "    --scenario FILE   the scenario (JSON, schema in docs/equilibrium.md);\n"
	        "                      without it the built-in one (the papers' schedule\n"
	        "                      parameters, illustrative costs): flat, performance,\n"
	        "                      hybrid\n"
	        "    --json            one JSON object on stdout: per schedule the mix per\n"
	        "                      iteration, the final mix, per-class returns, whether\n"
	        "                      it converged and in how many iterations\n"
	        "    --svg DIR         writes DIR/equilibrium-SCHEDULE.svg per schedule: the\n"
	        "                      share of installed capacity by class per iteration\n"
	        "    --print-scenario  prints the built-in scenario (a start for your own)\n"
	        "    -h, --help        this help\n"
	        "\n"
	        "OUTPUT\n"
	        "    Per schedule: converged or not, iterations, then per class the nodes,\n"
	        "    share of capacity and of verified work, utilisation, m_DIV, payout,\n"
	        "    cost and net return per node and period, and the net return on capex.\n"
	        "    A class is active from %.0f %% of installed capacity. Returns are those\n"
	        "    of a reference investor (energy price factor 1, no renewable bonus);\n"
	        "    an empty class shows what one entering node would get.\n"
	        "\n"
	        "EXIT STATUS\n"
	        "    0 ok; 1 a run failed; 2 usage error or a scenario refused (the message\n"
	        "    names the file and the field).\n",
	        ACTIVE_SHARE_MIN * 100);
}

static char *read_file(const char *path, char error[EQ_ERROR_BYTES])
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(error, EQ_ERROR_BYTES, "%s", strerror(errno));
		return NULL;
	}
	char *text = malloc(SCENARIO_BYTES_MAX + 1);
	size_t n = text ? fread(text, 1, SCENARIO_BYTES_MAX + 1, f) : 0;
	bool too_big = n > SCENARIO_BYTES_MAX, failed = text == NULL || ferror(f);
	fclose(f);
	if (too_big || failed) {
		snprintf(error, EQ_ERROR_BYTES, "%s",
		         too_big ? "larger than 1 MiB" : "cannot be read");
		free(text);
		return NULL;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		snprintf(error, EQ_ERROR_BYTES, "contains a NUL byte");
		free(text);
		return NULL;
	}
	return text;
}

/* Shares of installed capacity in one recorded round. */
static void capacity_shares(const struct eq_scenario *sc, const uint32_t *nodes, double *share)
{
	double total = 0;
	for (uint32_t i = 0; i < sc->class_count; i++)
		total += nodes[i] * sc->classes[i].capacity;
	for (uint32_t i = 0; i < sc->class_count; i++)
		share[i] = total > 0 ? nodes[i] * sc->classes[i].capacity / total : 0;
}

/* Group g's investors per class; returns how many stay out. Investors
 * are numbered group after group, as the scenario lists them. */
static uint32_t group_choices(const struct eq_scenario *sc, const struct eq_run *run, uint32_t g,
                              uint32_t in[EQ_CLASSES_MAX])
{
	uint32_t first = 0, out = 0;
	for (uint32_t h = 0; h < g; h++)
		first += sc->groups[h].count;
	memset(in, 0, EQ_CLASSES_MAX * sizeof(in[0]));
	for (uint32_t k = first; k < first + sc->groups[g].count; k++)
		if (run->choice[k] >= 0)
			in[run->choice[k]]++;
		else
			out++;
	return out;
}

/* The investors' own view: net per node, averaged over the nodes each
 * group holds in the class (NAN for an empty class). */
static int holders_net(const struct eq_scenario *sc, uint32_t s, const struct eq_run *run,
                       double net[EQ_CLASSES_MAX], char error[EQ_ERROR_BYTES])
{
	const uint32_t *last = &run->mix[run->iterations * sc->class_count];
	double sum[EQ_CLASSES_MAX] = {0}, weight[EQ_CLASSES_MAX] = {0};
	for (uint32_t g = 0; g < sc->group_count; g++) {
		uint32_t in[EQ_CLASSES_MAX];
		group_choices(sc, run, g, in);
		struct eq_class_view views[EQ_CLASSES_MAX];
		const struct eq_group *grp = &sc->groups[g];
		if (eq_class_views(sc, s, last, grp->energy_price_factor, grp->renewable_share,
		                   views, error) != 0)
			return -1;
		for (uint32_t i = 0; i < sc->class_count; i++) {
			double nodes = in[i] * floor(grp->budget / sc->classes[i].capex);
			sum[i] += nodes * views[i].net;
			weight[i] += nodes;
		}
	}
	for (uint32_t i = 0; i < sc->class_count; i++)
		net[i] = weight[i] > 0 ? sum[i] / weight[i] : NAN;
	return 0;
}

struct summary {
	uint32_t investors[EQ_CLASSES_MAX];
	double share[EQ_CLASSES_MAX];
	uint32_t active;
	double largest, hhi;
};

static void summarise(const struct eq_scenario *sc, const struct eq_run *run, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	const uint32_t *last = &run->mix[run->iterations * sc->class_count];
	capacity_shares(sc, last, s->share);
	for (uint32_t k = 0; k < run->investors; k++)
		if (run->choice[k] >= 0)
			s->investors[run->choice[k]]++;
	for (uint32_t i = 0; i < sc->class_count; i++) {
		s->active += s->share[i] >= ACTIVE_SHARE_MIN;
		s->largest = s->share[i] > s->largest ? s->share[i] : s->largest;
		s->hhi += s->share[i] * s->share[i];
	}
}

static json_t *json_reals(const double *v, uint32_t n)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

static json_t *json_counts(const uint32_t *v, uint32_t n)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* A schedule's final fleet as the reference investor and as its holders see it. */
struct outcome {
	struct eq_class_view views[EQ_CLASSES_MAX]; /* the reference investor */
	double holders_net[EQ_CLASSES_MAX];         /* NAN: nobody holds the class */
};

static json_t *json_returns(const struct eq_scenario *sc, const struct outcome *o)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < sc->class_count; i++) {
		const struct eq_class_view *v = &o->views[i];
		double held = o->holders_net[i];
		json_array_append_new(
		        a, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
		                     "s:f, s:o}",
		                     "class", sc->classes[i].name, "nodes", (int)v->nodes,
		                     "work_share", v->work_share, "utilisation", v->utilisation,
		                     "diversity", v->diversity, "base", v->base, "performance",
		                     v->performance, "paid", v->paid, "cost", v->cost, "net",
		                     v->net, "sd", v->sd, "return_on_capex",
		                     v->net / sc->classes[i].capex, "verified_work", v->verified,
		                     "holders_net", isnan(held) ? json_null() : json_real(held)));
	}
	return a;
}

static json_t *json_schedule(const struct eq_scenario *sc, uint32_t s, const struct eq_run *run,
                             const struct outcome *o)
{
	struct summary sum;
	summarise(sc, run, &sum);
	json_t *mix = json_array();
	for (uint32_t r = 0; r <= run->iterations; r++) {
		const uint32_t *nodes = &run->mix[r * sc->class_count];
		double share[EQ_CLASSES_MAX];
		capacity_shares(sc, nodes, share);
		json_array_append_new(mix, json_pack("{s:i, s:o, s:o, s:i}", "iteration", (int)r,
		                                     "nodes", json_counts(nodes, sc->class_count),
		                                     "capacity_share",
		                                     json_reals(share, sc->class_count), "out",
		                                     (int)run->out[r]));
	}
	json_t *groups = json_array();
	for (uint32_t g = 0; g < sc->group_count; g++) {
		uint32_t in[EQ_CLASSES_MAX], out = group_choices(sc, run, g, in);
		json_array_append_new(
		        groups, json_pack("{s:s, s:o, s:i}", "group", sc->groups[g].name, "classes",
		                          json_counts(in, sc->class_count), "out", (int)out));
	}
	json_t *final = json_pack(
	        "{s:o, s:o, s:o, s:o, s:i, s:i, s:f, s:f}", "nodes",
	        json_counts(&run->mix[run->iterations * sc->class_count], sc->class_count),
	        "capacity_share", json_reals(sum.share, sc->class_count), "investors",
	        json_counts(sum.investors, sc->class_count), "investors_by_group", groups, "out",
	        (int)run->out[run->iterations], "classes_active", (int)sum.active,
	        "largest_capacity_share", sum.largest, "hhi", sum.hhi);
	return json_pack("{s:s, s:b, s:i, s:o, s:o, s:o}", "name", sc->schedules[s].name,
	                 "converged", run->converged, "iterations", (int)run->iterations, "final",
	                 final, "returns", json_returns(sc, o), "mix", mix);
}

static void print_schedule(const struct eq_scenario *sc, uint32_t s, const struct eq_run *run,
                           const struct outcome *o)
{
	struct summary sum;
	summarise(sc, run, &sum);
	printf("schedule %s: %s after %u iterations; active classes %u, largest %.1f %%, "
	       "HHI %.3f, investors out %u\n",
	       sc->schedules[s].name, run->converged ? "equilibrium" : "NOT converged",
	       run->iterations, sum.active, sum.largest * 100, sum.hhi, run->out[run->iterations]);
	printf("  %-8s %6s %9s %8s %7s %6s %7s %9s %9s %9s %9s %9s\n", "class", "nodes",
	       "investors", "capacity", "work", "util", "m_DIV", "paid", "cost", "net", "net/capex",
	       "holders");
	for (uint32_t i = 0; i < sc->class_count; i++) {
		const struct eq_class_view *v = &o->views[i];
		printf("  %-8s %6u %9u %7.1f%% %6.1f%% %6.3f %7.3f %9.2f %9.2f %9.2f %8.2f%% ",
		       sc->classes[i].name, v->nodes, sum.investors[i], sum.share[i] * 100,
		       v->work_share * 100, v->utilisation, v->diversity, v->paid, v->cost, v->net,
		       v->net / sc->classes[i].capex * 100);
		if (isnan(o->holders_net[i]))
			printf("%9s\n", "-");
		else
			printf("%9.2f\n", o->holders_net[i]);
	}
	for (uint32_t g = 0; g < sc->group_count; g++) {
		uint32_t in[EQ_CLASSES_MAX], out = group_choices(sc, run, g, in);
		printf("  investors %s:", sc->groups[g].name);
		for (uint32_t i = 0; i < sc->class_count; i++)
			if (in[i] > 0)
				printf(" %s %u,", sc->classes[i].name, in[i]);
		printf(" out %u\n", out);
	}
}

static int run_all(const struct eq_scenario *sc, bool json, const char *svg_dir)
{
	json_t *schedules = json_array();
	char error[EQ_ERROR_BYTES];
	int status = 0;
	for (uint32_t s = 0; s < sc->schedule_count && status == 0; s++) {
		struct eq_run run;
		struct outcome o;
		if (eq_run(sc, s, &run, error) != 0) {
			fprintf(stderr, "%s: schedule %s: %s\n", prog, sc->schedules[s].name,
			        error);
			status = 1;
			break;
		}
		const uint32_t *last = &run.mix[run.iterations * sc->class_count];
		if (eq_class_views(sc, s, last, 1.0, 0.0, o.views, error) != 0 ||
		    holders_net(sc, s, &run, o.holders_net, error) != 0) {
			fprintf(stderr, "%s: schedule %s: %s\n", prog, sc->schedules[s].name,
			        error);
			status = 1;
		} else if (svg_dir != NULL && eq_svg_write(sc, s, &run, svg_dir, error) != 0) {
			fprintf(stderr, "%s: %s\n", prog, error);
			status = 1;
		} else if (json) {
			json_array_append_new(schedules, json_schedule(sc, s, &run, &o));
		} else {
			print_schedule(sc, s, &run, &o);
		}
		eq_run_free(&run);
	}
	if (status == 0 && json) {
		json_t *classes = json_array();
		for (uint32_t i = 0; i < sc->class_count; i++)
			json_array_append_new(classes, json_string(sc->classes[i].name));
		json_t *root =
		        json_pack("{s:s, s:I, s:i, s:o, s:o}", "scenario", sc->name, "seed",
		                  (json_int_t)sc->seed, "investors", (int)eq_scenario_investors(sc),
		                  "classes", classes, "schedules", json_incref(schedules));
		json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
		fputc('\n', stdout);
		json_decref(root);
	}
	json_decref(schedules);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	        {"scenario", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"svg", required_argument, NULL, 'g'},
	        {"print-scenario", no_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *scenario_path = NULL, *svg_dir = NULL;
	bool json = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's': scenario_path = optarg; break;
		case 'j': json = true; break;
		case 'g': svg_dir = optarg; break;
		case 'p': fputs(eq_default_scenario_json, stdout); return 0;
		case 'h': usage(stdout); return 0;
		default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", prog,
		        argv[optind], prog);
		return 2;
	}
	char error[EQ_ERROR_BYTES];
	char *text = scenario_path ? read_file(scenario_path, error) : NULL;
	if (scenario_path != NULL && text == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, scenario_path, error);
		return 2;
	}
	static struct eq_scenario scenario;
	int rc = eq_scenario_parse(text ? text : eq_default_scenario_json, &scenario, error);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, scenario_path ? scenario_path : "(built-in)",
		        error);
		return 2;
	}
	return run_all(&scenario, json, svg_dir);
}
